/*
 * audit/record.c — one audit record: its canonical encoding and SHA-256
 * chain hash, JSON and CSV renderings, and the client ⇄ writer wire format.
 *
 * Canonical encoding (what the hash covers), all integers big-endian:
 *   "relgate-audit-v1\n" || prev (64 hex) || u64 seq || time (u32 len +
 *   bytes) || for each of type, outcome, user, role, source, contract,
 *   request, release, path, bytes, sha256, rows, detail in that order:
 *   0x00 when absent, else 0x01 then u32 len + bytes (strings) or i64.
 * Every field is length-prefixed, so no two records encode alike.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/audit_int.h"

#define ENC_MAGIC	"relgate-audit-v1\n"

void
audit_event_init(struct audit_event *ev, const char *type, const char *outcome)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->outcome = outcome;
	ev->bytes = -1;
	ev->rows = -1;
}

void
audit_record_clear(struct audit_record *r)
{
	if (r == NULL)
		return;
	free(r->type);
	free(r->outcome);
	free(r->user);
	free(r->role);
	free(r->source);
	free(r->contract);
	free(r->request);
	free(r->release);
	free(r->path);
	free(r->sha256);
	free(r->detail);
	memset(r, 0, sizeof(*r));
	r->bytes = -1;
	r->rows = -1;
}

static int
dup_field(char **dst, const char *src, size_t cap)
{
	size_t n;

	*dst = NULL;
	if (src == NULL)
		return RG_OK;
	n = strlen(src);
	if (n > cap)
		return RG_ETOOBIG;
	if ((*dst = malloc(n + 1)) == NULL)
		return RG_ENOMEM;
	memcpy(*dst, src, n + 1);
	return RG_OK;
}

int
audit_event_check(const struct audit_event *ev, struct diag *d)
{
	const char *s[] = { ev->user, ev->role, ev->source, ev->contract,
	    ev->request, ev->release, ev->path, ev->sha256 };
	size_t i;

	if (ev->type == NULL || ev->type[0] == '\0' || ev->outcome == NULL)
		return diag_set(d, RG_EINVAL, "", 0, 0,
		    "audit event without type or outcome");
	if (strcmp(ev->outcome, "ok") != 0 &&
	    strcmp(ev->outcome, "denied") != 0 &&
	    strcmp(ev->outcome, "failed") != 0)
		return diag_set(d, RG_EINVAL, "", 0, 0,
		    "audit outcome '%s' is not ok, denied or failed",
		    ev->outcome);
	if (strlen(ev->type) > 64 ||
	    strspn(ev->type, "abcdefghijklmnopqrstuvwxyz0123456789._") !=
	    strlen(ev->type))
		return diag_set(d, RG_EINVAL, "", 0, 0,
		    "audit type '%.64s' is not a stable name", ev->type);
	/* Checkpoints are made by the log itself (audit_checkpoint()), never
	 * appended as events: an unsigned one would fail verification. */
	if (strcmp(ev->type, "log.checkpoint") == 0)
		return diag_set(d, RG_EPERM, "", 0, 0,
		    "log.checkpoint is written by the audit log only");
	for (i = 0; i < RG_ARRAY_LEN(s); i++)
		if (s[i] != NULL && strlen(s[i]) > AUDIT_FIELD_MAX)
			return diag_set(d, RG_ETOOBIG, "", 0, 0,
			    "audit field too long");
	if (ev->detail != NULL && strlen(ev->detail) > AUDIT_DETAIL_MAX)
		return diag_set(d, RG_ETOOBIG, "", 0, 0,
		    "audit detail too long");
	return RG_OK;
}

int
audit_record_from_event(struct audit_record *r, const struct audit_event *ev)
{
	int rc = 0;

	memset(r, 0, sizeof(*r));
	rc |= dup_field(&r->type, ev->type, 64);
	rc |= dup_field(&r->outcome, ev->outcome, 16);
	rc |= dup_field(&r->user, ev->user, AUDIT_FIELD_MAX);
	rc |= dup_field(&r->role, ev->role, AUDIT_FIELD_MAX);
	rc |= dup_field(&r->source, ev->source, AUDIT_FIELD_MAX);
	rc |= dup_field(&r->contract, ev->contract, AUDIT_FIELD_MAX);
	rc |= dup_field(&r->request, ev->request, AUDIT_FIELD_MAX);
	rc |= dup_field(&r->release, ev->release, AUDIT_FIELD_MAX);
	rc |= dup_field(&r->path, ev->path, AUDIT_FIELD_MAX);
	rc |= dup_field(&r->sha256, ev->sha256, AUDIT_FIELD_MAX);
	rc |= dup_field(&r->detail, ev->detail, AUDIT_DETAIL_MAX);
	r->bytes = ev->bytes < 0 ? -1 : ev->bytes;
	r->rows = ev->rows < 0 ? -1 : ev->rows;
	if (rc != 0) {
		audit_record_clear(r);
		return RG_EINVAL;
	}
	return RG_OK;
}

/* ---- canonical encoding ------------------------------------------------ */

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static int
enc_str(struct buf *b, const char *s)
{
	unsigned char h[5];
	size_t n;
	int rc;

	if (s == NULL)
		return buf_append(b, "\0", 1);
	n = strlen(s);
	h[0] = 1;
	put_u32(h + 1, (uint32_t)n);
	if ((rc = buf_append(b, h, 5)) != 0)
		return rc;
	return buf_append(b, s, n);
}

static int
enc_num(struct buf *b, int64_t v)
{
	unsigned char h[9];

	if (v < 0)
		return buf_append(b, "\0", 1);
	h[0] = 1;
	put_u64(h + 1, (uint64_t)v);
	return buf_append(b, h, 9);
}

static int
record_encode(const struct audit_record *r, struct buf *b)
{
	unsigned char h[8];
	int rc = 0;

	rc = buf_append(b, ENC_MAGIC, strlen(ENC_MAGIC));
	if (rc == 0)
		rc = buf_append(b, r->prev, AUDIT_HASH_HEX);
	put_u64(h, r->seq);
	if (rc == 0)
		rc = buf_append(b, h, 8);
	if (rc == 0) {
		unsigned char l[4];
		size_t n = strlen(r->time);

		put_u32(l, (uint32_t)n);
		rc = buf_append(b, l, 4);
		if (rc == 0)
			rc = buf_append(b, r->time, n);
	}
	if (rc == 0) rc = enc_str(b, r->type);
	if (rc == 0) rc = enc_str(b, r->outcome);
	if (rc == 0) rc = enc_str(b, r->user);
	if (rc == 0) rc = enc_str(b, r->role);
	if (rc == 0) rc = enc_str(b, r->source);
	if (rc == 0) rc = enc_str(b, r->contract);
	if (rc == 0) rc = enc_str(b, r->request);
	if (rc == 0) rc = enc_str(b, r->release);
	if (rc == 0) rc = enc_str(b, r->path);
	if (rc == 0) rc = enc_num(b, r->bytes);
	if (rc == 0) rc = enc_str(b, r->sha256);
	if (rc == 0) rc = enc_num(b, r->rows);
	if (rc == 0) rc = enc_str(b, r->detail);
	return rc;
}

/* One SHA-256 implementation fetched once: OpenSSL 3 looks the algorithm
 * up on every EVP_Digest() otherwise, which costs more than the hash of a
 * small record. Each thread keeps a digest context and an encoding buffer
 * (freed when the thread ends): verification hashes a million records. */
struct hasher {
	EVP_MD_CTX *ctx;
	struct buf b;
};

static EVP_MD *sha256_md;
static pthread_key_t hasher_key;
static pthread_once_t hasher_once = PTHREAD_ONCE_INIT;
static int hasher_ok;

static void
hasher_free(void *p)
{
	struct hasher *h = p;

	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	buf_free(&h->b);
	free(h);
}

static void
hasher_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	hasher_ok = sha256_md != NULL &&
	    pthread_key_create(&hasher_key, hasher_free) == 0;
}

static struct hasher *
hasher_get(void)
{
	struct hasher *h;

	pthread_once(&hasher_once, hasher_init);
	if (!hasher_ok)
		return NULL;
	if ((h = pthread_getspecific(hasher_key)) != NULL)
		return h;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	buf_init(&h->b, 20 * AUDIT_FIELD_MAX + AUDIT_DETAIL_MAX + 1024);
	if ((h->ctx = EVP_MD_CTX_new()) == NULL ||
	    pthread_setspecific(hasher_key, h) != 0) {
		hasher_free(h);
		return NULL;
	}
	return h;
}

int
audit_record_hash(const struct audit_record *r, char out[AUDIT_HASH_HEX + 1])
{
	struct hasher *h;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int rc;

	if (strlen(r->prev) != AUDIT_HASH_HEX)
		return RG_EINVAL;
	if ((h = hasher_get()) == NULL)
		return RG_ECRYPTO;
	buf_reset(&h->b);
	if ((rc = record_encode(r, &h->b)) != 0)
		return rc;
	if (EVP_DigestInit_ex(h->ctx, sha256_md, NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, h->b.data, h->b.len) != 1 ||
	    EVP_DigestFinal_ex(h->ctx, md, &mdlen) != 1)
		return RG_ECRYPTO;
	hex_encode(out, md, 32);
	return RG_OK;
}

int
audit_chain_fill(struct audit_record *recs, size_t n, uint64_t seq,
    const char *hash)
{
	char now[32];
	size_t i;
	int rc;

	time_rfc3339_now(now, sizeof(now));
	for (i = 0; i < n; i++) {
		recs[i].seq = seq + 1 + i;
		/* Only rg-audit-tool's bulk loader presets a time: neither
		 * the wire format nor audit_event carries one. */
		if (recs[i].time[0] == '\0')
			rg_strlcpy(recs[i].time, now, sizeof(recs[i].time));
		rg_strlcpy(recs[i].prev, i == 0 ? hash : recs[i - 1].hash,
		    sizeof(recs[i].prev));
		if ((rc = audit_record_hash(&recs[i], recs[i].hash)) != 0)
			return rc;
	}
	return RG_OK;
}

/* ---- renderings -------------------------------------------------------- */

static int
json_field(struct buf *b, const char *name, const char *v)
{
	int rc;

	if ((rc = buf_printf(b, ",\"%s\":", name)) != 0)
		return rc;
	if (v == NULL)
		return buf_append(b, "null", 4);
	return json_append_string(b, v);
}

static int
json_num(struct buf *b, const char *name, int64_t v)
{
	if (v < 0)
		return buf_printf(b, ",\"%s\":null", name);
	return buf_printf(b, ",\"%s\":%lld", name, (long long)v);
}

int
audit_record_json(const struct audit_record *r, struct buf *b)
{
	int rc;

	rc = buf_printf(b, "{\"seq\":%llu", (unsigned long long)r->seq);
	if (rc == 0) rc = json_field(b, "time", r->time);
	if (rc == 0) rc = json_field(b, "type", r->type);
	if (rc == 0) rc = json_field(b, "outcome", r->outcome);
	if (rc == 0) rc = json_field(b, "user", r->user);
	if (rc == 0) rc = json_field(b, "role", r->role);
	if (rc == 0) rc = json_field(b, "source", r->source);
	if (rc == 0) rc = json_field(b, "contract", r->contract);
	if (rc == 0) rc = json_field(b, "request", r->request);
	if (rc == 0) rc = json_field(b, "release", r->release);
	if (rc == 0) rc = json_field(b, "path", r->path);
	if (rc == 0) rc = json_num(b, "bytes", r->bytes);
	if (rc == 0) rc = json_field(b, "sha256", r->sha256);
	if (rc == 0) rc = json_num(b, "rows", r->rows);
	if (rc == 0) rc = json_field(b, "detail", r->detail);
	if (rc == 0) rc = json_field(b, "prev", r->prev);
	if (rc == 0) rc = json_field(b, "hash", r->hash);
	if (rc == 0) rc = buf_append(b, "}", 1);
	return rc;
}

static int
csv_cell(struct buf *b, const char *v, int first)
{
	int rc = 0;

	if (!first && (rc = buf_append(b, ",", 1)) != 0)
		return rc;
	if (v == NULL)
		return RG_OK;
	/* Quote always: fields are free text; double inner quotes. Cells
	 * that a spreadsheet would run as a formula get a leading quote. */
	if ((rc = buf_append(b, "\"", 1)) != 0)
		return rc;
	if (strchr("=+-@", v[0]) != NULL && v[0] != '\0' &&
	    (rc = buf_append(b, "'", 1)) != 0)
		return rc;
	for (; *v && rc == 0; v++)
		rc = *v == '"' ? buf_append(b, "\"\"", 2) : buf_append(b, v, 1);
	if (rc == 0)
		rc = buf_append(b, "\"", 1);
	return rc;
}

static int
csv_num(struct buf *b, int64_t v)
{
	if (v < 0)
		return buf_append(b, ",", 1);
	return buf_printf(b, ",%lld", (long long)v);
}

int
audit_csv_header(struct buf *b)
{
	return buf_printf(b, "seq,time,type,outcome,user,role,source,contract,"
	    "request,release,path,bytes,sha256,rows,detail,prev,hash\r\n");
}

int
audit_record_csv(const struct audit_record *r, struct buf *b)
{
	int rc;

	rc = buf_printf(b, "%llu", (unsigned long long)r->seq);
	if (rc == 0) rc = csv_cell(b, r->time, 0);
	if (rc == 0) rc = csv_cell(b, r->type, 0);
	if (rc == 0) rc = csv_cell(b, r->outcome, 0);
	if (rc == 0) rc = csv_cell(b, r->user, 0);
	if (rc == 0) rc = csv_cell(b, r->role, 0);
	if (rc == 0) rc = csv_cell(b, r->source, 0);
	if (rc == 0) rc = csv_cell(b, r->contract, 0);
	if (rc == 0) rc = csv_cell(b, r->request, 0);
	if (rc == 0) rc = csv_cell(b, r->release, 0);
	if (rc == 0) rc = csv_cell(b, r->path, 0);
	if (rc == 0) rc = csv_num(b, r->bytes);
	if (rc == 0) rc = csv_cell(b, r->sha256, 0);
	if (rc == 0) rc = csv_num(b, r->rows);
	if (rc == 0) rc = csv_cell(b, r->detail, 0);
	if (rc == 0) rc = csv_cell(b, r->prev, 0);
	if (rc == 0) rc = csv_cell(b, r->hash, 0);
	if (rc == 0) rc = buf_append(b, "\r\n", 2);
	return rc;
}

/* ---- wire format -------------------------------------------------------- */

int
audit_wire_encode(const struct audit_event *ev, struct buf *out)
{
	unsigned char h[4];
	size_t start = out->len;
	int rc;

	if ((rc = buf_append(out, "\0\0\0\0", 4)) != 0)
		return rc;
	if (rc == 0) rc = enc_str(out, ev->type);
	if (rc == 0) rc = enc_str(out, ev->outcome);
	if (rc == 0) rc = enc_str(out, ev->user);
	if (rc == 0) rc = enc_str(out, ev->role);
	if (rc == 0) rc = enc_str(out, ev->source);
	if (rc == 0) rc = enc_str(out, ev->contract);
	if (rc == 0) rc = enc_str(out, ev->request);
	if (rc == 0) rc = enc_str(out, ev->release);
	if (rc == 0) rc = enc_str(out, ev->path);
	if (rc == 0) rc = enc_num(out, ev->bytes);
	if (rc == 0) rc = enc_str(out, ev->sha256);
	if (rc == 0) rc = enc_num(out, ev->rows);
	if (rc == 0) rc = enc_str(out, ev->detail);
	if (rc != 0)
		return rc;
	if (out->len - start - 4 > AUDIT_MSG_MAX)
		return RG_ETOOBIG;
	put_u32(h, (uint32_t)(out->len - start - 4));
	memcpy(out->data + start, h, 4);
	return RG_OK;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
dec_str(const unsigned char **p, const unsigned char *end, char **out,
    size_t cap)
{
	uint32_t n;

	*out = NULL;
	if (*p >= end)
		return RG_EPROTO;
	if (**p == 0) {
		(*p)++;
		return RG_OK;
	}
	if (**p != 1 || end - *p < 5)
		return RG_EPROTO;
	n = get_u32(*p + 1);
	*p += 5;
	if (n > cap || (size_t)(end - *p) < n)
		return RG_EPROTO;
	if (memchr(*p, '\0', n) != NULL)
		return RG_EPROTO;
	if ((*out = malloc((size_t)n + 1)) == NULL)
		return RG_ENOMEM;
	memcpy(*out, *p, n);
	(*out)[n] = '\0';
	*p += n;
	return RG_OK;
}

static int
dec_num(const unsigned char **p, const unsigned char *end, int64_t *v)
{
	uint64_t u;

	*v = -1;
	if (*p >= end)
		return RG_EPROTO;
	if (**p == 0) {
		(*p)++;
		return RG_OK;
	}
	if (**p != 1 || end - *p < 9)
		return RG_EPROTO;
	u = (uint64_t)get_u32(*p + 1) << 32 | get_u32(*p + 5);
	if (u > INT64_MAX)
		return RG_EPROTO;
	*v = (int64_t)u;
	*p += 9;
	return RG_OK;
}

int
audit_wire_decode(const unsigned char *p, size_t len, struct audit_record *r)
{
	const unsigned char *end = p + len;
	struct audit_event ev;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = dec_str(&p, end, &r->type, 64);
	if (rc == 0) rc = dec_str(&p, end, &r->outcome, 16);
	if (rc == 0) rc = dec_str(&p, end, &r->user, AUDIT_FIELD_MAX);
	if (rc == 0) rc = dec_str(&p, end, &r->role, AUDIT_FIELD_MAX);
	if (rc == 0) rc = dec_str(&p, end, &r->source, AUDIT_FIELD_MAX);
	if (rc == 0) rc = dec_str(&p, end, &r->contract, AUDIT_FIELD_MAX);
	if (rc == 0) rc = dec_str(&p, end, &r->request, AUDIT_FIELD_MAX);
	if (rc == 0) rc = dec_str(&p, end, &r->release, AUDIT_FIELD_MAX);
	if (rc == 0) rc = dec_str(&p, end, &r->path, AUDIT_FIELD_MAX);
	if (rc == 0) rc = dec_num(&p, end, &r->bytes);
	if (rc == 0) rc = dec_str(&p, end, &r->sha256, AUDIT_FIELD_MAX);
	if (rc == 0) rc = dec_num(&p, end, &r->rows);
	if (rc == 0) rc = dec_str(&p, end, &r->detail, AUDIT_DETAIL_MAX);
	if (rc == 0 && p != end)
		rc = RG_EPROTO;
	if (rc == 0) {
		/* The writer trusts no client: the same checks as direct. */
		audit_event_init(&ev, r->type, r->outcome);
		ev.user = r->user;
		ev.detail = r->detail;
		if (audit_event_check(&ev, NULL) != 0)
			rc = RG_EPROTO;
	}
	if (rc != 0)
		audit_record_clear(r);
	return rc;
}

int
audit_path(char *out, size_t len, const char *state_dir, const char *name)
{
	int n;

	n = snprintf(out, len, "%s/audit%s%s", state_dir, name ? "/" : "",
	    name ? name : "");
	if (n < 0 || (size_t)n >= len)
		return RG_EINVAL;
	return RG_OK;
}
