/*
 * audit/verify.c — check the whole audit log of a state directory and name
 * the first bad record:
 *   - the sequence starts at 1 and has no gap (a deleted record),
 *   - each record's prev is its predecessor's hash (removed or moved),
 *   - each record's hash is the hash of its contents (edited, reordered),
 *   - each signed checkpoint matches its log.checkpoint record and its
 *     OpenPGP signature verifies with the gateway key,
 *   - no checkpoint record before the last signed one lacks a signature,
 *   - the log reaches the latest signed checkpoint, also the one kept in
 *     STATE_DIR/audit/checkpoint.asc outside the database (truncation).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "keys/keys.h"

struct cp {
	uint64_t seq;
	char	hash[AUDIT_HASH_HEX + 1];
	int	signed_ok;
};

struct vstate {
	struct audit_verify_result *res;
	uint64_t expect;
	char	prev[AUDIT_HASH_HEX + 1];
	struct cp *cps;
	size_t	ncp, cpcap;
	const char *state_dir;
	int	err;		/* a non-integrity error (memory, crypto) */
	struct diag *d;
	struct pgp_verifier *pv;
	int	pv_tried;
};

/* A checkpoint signature: natively when the key allows (fast), else by
 * GnuPG. */
static int
sig_ok(struct vstate *v, const void *data, size_t len, const char *sig,
    size_t siglen)
{
	int rc;

	if (!v->pv_tried) {
		v->pv_tried = 1;
		if (audit_pgp_verifier_new(&v->pv, v->state_dir, NULL) != 0)
			v->pv = NULL;
	}
	if (v->pv != NULL) {
		rc = audit_pgp_verify(v->pv, data, len, sig, siglen);
		if (rc != RG_EUNSUPPORTED)
			return rc == 0;
	}
	return gateway_pgp_verify(v->state_dir, data, len, sig, siglen,
	    NULL) == 0;
}

/* Keep the lowest bad seq and its reason. */
static void
bad(struct vstate *v, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
bad(struct vstate *v, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	if (!v->res->ok && v->res->bad_seq <= seq)
		return;
	v->res->ok = 0;
	v->res->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->res->reason, sizeof(v->res->reason), fmt, ap);
	va_end(ap);
}

static int
on_record(const struct audit_record *r, void *ctx)
{
	struct vstate *v = ctx;
	char h[AUDIT_HASH_HEX + 1];

	if (r->seq != v->expect) {
		bad(v, v->expect, "record %llu is missing (deleted); the next "
		    "record is %llu", (unsigned long long)v->expect,
		    (unsigned long long)r->seq);
		return 1;
	}
	if (strcmp(r->prev, v->prev) != 0) {
		bad(v, r->seq, "prev does not match the hash of record %llu "
		    "(a record was removed, replaced or moved)",
		    (unsigned long long)(r->seq - 1));
		return 1;
	}
	if (audit_record_hash(r, h) != 0 || strcmp(h, r->hash) != 0) {
		bad(v, r->seq, "hash does not match the record's contents "
		    "(record edited or moved)");
		return 1;
	}
	if (r->type && strcmp(r->type, "log.checkpoint") == 0) {
		if (v->ncp == v->cpcap) {
			size_t nc = v->cpcap ? v->cpcap * 2 : 64;
			struct cp *p = realloc(v->cps, nc * sizeof(*p));

			if (p == NULL) {
				v->err = RG_ENOMEM;
				return 1;
			}
			v->cps = p;
			v->cpcap = nc;
		}
		v->cps[v->ncp].seq = r->seq;
		memcpy(v->cps[v->ncp].hash, r->hash, sizeof(r->hash));
		v->cps[v->ncp].signed_ok = 0;
		v->ncp++;
	}
	memcpy(v->prev, r->hash, sizeof(v->prev));
	v->res->records++;
	v->res->last_seq = r->seq;
	v->expect = r->seq + 1;
	return 0;
}

static struct cp *
cp_find(struct vstate *v, uint64_t seq)
{
	size_t lo = 0, hi = v->ncp;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->cps[mid].seq == seq)
			return &v->cps[mid];
		if (v->cps[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Is seq past the records that were read and found good? */
static int
beyond(struct vstate *v, uint64_t seq)
{
	return seq > v->res->last_seq;
}

static int
on_sig(uint64_t seq, const char *hash, const char *sig, void *ctx)
{
	struct vstate *v = ctx;
	struct cp *c;
	struct buf st;
	int rc;

	if (!v->res->ok && seq >= v->res->bad_seq)
		return 1;
	if (beyond(v, seq)) {
		bad(v, v->res->last_seq + 1, "the log ends at record %llu but "
		    "a signed checkpoint covers record %llu (records cut off)",
		    (unsigned long long)v->res->last_seq,
		    (unsigned long long)seq);
		return 1;
	}
	if ((c = cp_find(v, seq)) == NULL || strcmp(c->hash, hash) != 0) {
		bad(v, seq, "signed checkpoint does not match record %llu",
		    (unsigned long long)seq);
		return 1;
	}
	buf_init(&st, 512);
	rc = audit_checkpoint_statement(seq, hash, &st);
	if (rc == 0 && !sig_ok(v, st.data, st.len, sig, strlen(sig)))
		rc = RG_EINTEGRITY;
	buf_free(&st);
	if (rc != 0) {
		bad(v, seq, "checkpoint signature does not verify");
		return 1;
	}
	c->signed_ok = 1;
	v->res->checkpoints++;
	v->res->last_checkpoint = seq;
	return 0;
}

static void
check_head(struct vstate *v)
{
	char hash[AUDIT_HASH_HEX + 1];
	struct buf st, sig;
	struct cp *c;
	uint64_t seq;
	int rc;

	buf_init(&st, 4096);
	buf_init(&sig, 128 * 1024);
	rc = audit_head_read(v->state_dir, &seq, hash, &st, &sig, NULL);
	if (rc == 0 && !sig_ok(v, st.data, st.len, (char *)sig.data, sig.len))
		rc = RG_EINTEGRITY;
	buf_free(&st);
	buf_free(&sig);
	if (rc == RG_ENOENT) {
		if (v->res->checkpoints > 0)
			bad(v, v->res->last_checkpoint, "the latest checkpoint "
			    "file audit/" AUDIT_HEAD_NAME " is missing");
		return;
	}
	if (rc != 0) {
		bad(v, v->res->last_checkpoint ? v->res->last_checkpoint : 1,
		    "the latest checkpoint file audit/" AUDIT_HEAD_NAME
		    " does not verify");
		return;
	}
	if (beyond(v, seq) && v->res->ok) {
		bad(v, v->res->last_seq + 1, "the log ends at record %llu but "
		    "the latest signed checkpoint is record %llu (records cut "
		    "off)", (unsigned long long)v->res->last_seq,
		    (unsigned long long)seq);
		return;
	}
	if (!beyond(v, seq) && ((c = cp_find(v, seq)) == NULL ||
	    strcmp(c->hash, hash) != 0))
		bad(v, seq, "record %llu does not match the latest signed "
		    "checkpoint", (unsigned long long)seq);
	if (seq < v->res->last_checkpoint)
		bad(v, v->res->last_checkpoint, "the latest checkpoint file "
		    "is older than checkpoint %llu (replaced)",
		    (unsigned long long)v->res->last_checkpoint);
}

/*
 * Two cores: one thread reads the log (SQLite, copying each record into a
 * batch), the caller's thread checks and hashes. Batches are a fixed 1 MiB
 * arena each (a record is at most ~100 KiB), so pointers stay put.
 */
#define BATCH_RECS	512
#define BATCH_ARENA	(1u << 20)
#define BATCHES		4

struct batch {
	struct audit_record r[BATCH_RECS];
	size_t	n;
	char	*arena;
	size_t	used;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch b[BATCHES];
	size_t	head, count;	/* ring of full batches */
	int	done, stop, rc;
	struct audit_store *s;
	struct diag rd;		/* the reader's diagnostic */
	struct batch *fill;
};

static char *
arena_dup(struct batch *b, const char *str)
{
	size_t n;
	char *p;

	if (str == NULL)
		return NULL;
	n = strlen(str) + 1;
	p = b->arena + b->used;
	memcpy(p, str, n);
	b->used += n;
	return p;
}

/* Hand the batch being filled to the checker; take the next empty one. */
static int
pipe_push(struct pipe *pp)
{
	pthread_mutex_lock(&pp->mu);
	pp->count++;
	pthread_cond_broadcast(&pp->cv);
	while (pp->count == BATCHES && !pp->stop)
		pthread_cond_wait(&pp->cv, &pp->mu);
	pp->fill = &pp->b[(pp->head + pp->count) % BATCHES];
	pp->fill->n = 0;
	pp->fill->used = 0;
	pthread_mutex_unlock(&pp->mu);
	return pp->stop;
}

static size_t
rec_size(const struct audit_record *r)
{
	const char *f[] = { r->type, r->outcome, r->user, r->role, r->source,
	    r->contract, r->request, r->release, r->path, r->sha256,
	    r->detail };
	size_t i, n = 0;

	for (i = 0; i < RG_ARRAY_LEN(f); i++)
		n += f[i] ? strlen(f[i]) + 1 : 0;
	return n;
}

static int
on_read(const struct audit_record *r, void *ctx)
{
	struct pipe *pp = ctx;
	struct batch *b = pp->fill;
	struct audit_record *c;

	if (b->n == BATCH_RECS || b->used + rec_size(r) > BATCH_ARENA) {
		if (pipe_push(pp))
			return 1;
		b = pp->fill;
	}
	c = &b->r[b->n++];
	*c = *r;
	c->type = arena_dup(b, r->type);
	c->outcome = arena_dup(b, r->outcome);
	c->user = arena_dup(b, r->user);
	c->role = arena_dup(b, r->role);
	c->source = arena_dup(b, r->source);
	c->contract = arena_dup(b, r->contract);
	c->request = arena_dup(b, r->request);
	c->release = arena_dup(b, r->release);
	c->path = arena_dup(b, r->path);
	c->sha256 = arena_dup(b, r->sha256);
	c->detail = arena_dup(b, r->detail);
	return 0;
}

static void *
reader_main(void *arg)
{
	struct pipe *pp = arg;
	int rc;

	rc = pp->s->ops->query(pp->s, NULL, on_read, pp, &pp->rd);
	pthread_mutex_lock(&pp->mu);
	if (!pp->stop && pp->fill->n > 0)
		pp->count++;		/* the last, partly filled batch */
	pp->done = 1;
	pp->rc = rc < 0 ? rc : 0;
	pthread_cond_broadcast(&pp->cv);
	pthread_mutex_unlock(&pp->mu);
	return NULL;
}

/* Read and check every record; returns < 0 when reading failed. */
static int
check_records(struct audit_store *s, struct vstate *v, struct diag *d)
{
	struct pipe *pp;
	pthread_t th;
	struct batch *b;
	size_t i, k;
	int stop = 0, rc;

	if ((pp = calloc(1, sizeof(*pp))) == NULL)
		return RG_ENOMEM;
	for (k = 0; k < BATCHES; k++)
		if ((pp->b[k].arena = malloc(BATCH_ARENA)) == NULL) {
			rc = RG_ENOMEM;
			goto out;
		}
	pthread_mutex_init(&pp->mu, NULL);
	pthread_cond_init(&pp->cv, NULL);
	pp->s = s;
	pp->fill = &pp->b[0];
	if (pthread_create(&th, NULL, reader_main, pp) != 0) {
		/* No second thread: do it in this one. */
		rc = s->ops->query(s, NULL, on_record, v, d);
		goto out_sync;
	}
	for (;;) {
		pthread_mutex_lock(&pp->mu);
		while (pp->count == 0 && !pp->done)
			pthread_cond_wait(&pp->cv, &pp->mu);
		if (pp->count == 0) {
			pthread_mutex_unlock(&pp->mu);
			break;
		}
		b = &pp->b[pp->head];
		pthread_mutex_unlock(&pp->mu);
		for (i = 0; i < b->n && !stop; i++)
			stop = on_record(&b->r[i], v);
		pthread_mutex_lock(&pp->mu);
		pp->head = (pp->head + 1) % BATCHES;
		pp->count--;
		if (stop)
			pp->stop = 1;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
		if (stop)
			break;
	}
	pthread_join(th, NULL);
	rc = pp->rc;
	if (rc < 0 && d != NULL)
		*d = pp->rd;
out_sync:
	pthread_mutex_destroy(&pp->mu);
	pthread_cond_destroy(&pp->cv);
out:
	for (k = 0; k < BATCHES; k++)
		free(pp->b[k].arena);
	free(pp);
	return rc;
}

int
audit_verify(const char *state_dir, struct audit_verify_result *res,
    struct diag *d)
{
	struct audit_store *s = NULL;
	struct vstate v;
	size_t i;
	int rc;

	memset(res, 0, sizeof(*res));
	res->ok = 1;
	time_rfc3339_now(res->time, sizeof(res->time));
	if ((rc = audit_store_sqlite_open(&s, state_dir, 0, 1, d)) != 0)
		return rc;
	memset(&v, 0, sizeof(v));
	v.res = res;
	v.expect = 1;
	v.state_dir = state_dir;
	v.d = d;
	rg_strlcpy(v.prev, AUDIT_GENESIS, sizeof(v.prev));
	rc = check_records(s, &v, d);
	if (rc < 0)
		goto out;
	if (v.err) {
		rc = v.err;
		goto out;
	}
	rc = s->ops->sig_scan(s, on_sig, &v, d);
	if (rc < 0)
		goto out;
	/* An unsigned checkpoint before a signed one had its signature
	 * removed; after the last signed one it is still pending. */
	for (i = 0; i < v.ncp; i++) {
		if (v.cps[i].signed_ok)
			continue;
		if (v.cps[i].seq < res->last_checkpoint)
			bad(&v, v.cps[i].seq, "checkpoint signature missing");
		else
			res->pending++;
	}
	check_head(&v);
	memcpy(res->last_hash, v.prev, sizeof(res->last_hash));
	rc = RG_OK;
out:
	audit_pgp_verifier_free(v.pv);
	free(v.cps);
	s->ops->close(s);
	return rc;
}

int
audit_verify_text(const struct audit_verify_result *res, struct buf *out)
{
	if (!res->ok)
		return buf_printf(out,
		    "relgate audit verify: FAILED\n"
		    "first bad record: %llu\n"
		    "reason: %s\n"
		    "records verified before it: %llu\n"
		    "verified at: %s\n",
		    (unsigned long long)res->bad_seq, res->reason,
		    (unsigned long long)res->records, res->time);
	return buf_printf(out,
	    "relgate audit verify: OK\n"
	    "records: %llu\n"
	    "last record: %llu\n"
	    "last hash: %s\n"
	    "signed checkpoints: %llu (last at record %llu)\n"
	    "checkpoints awaiting signature: %llu\n"
	    "verified at: %s\n",
	    (unsigned long long)res->records,
	    (unsigned long long)res->last_seq,
	    res->records ? res->last_hash : "-",
	    (unsigned long long)res->checkpoints,
	    (unsigned long long)res->last_checkpoint,
	    (unsigned long long)res->pending, res->time);
}
