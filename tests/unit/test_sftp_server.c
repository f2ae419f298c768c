/*
 * Unit tests for the SFTP v3 server and the per-role views: packets are
 * built here and pushed through sftp_server_input() against a temporary
 * state directory; every test checks the status codes AND the file system
 * (and queue, audit trail) afterwards.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "gateway/gateway.h"
#include "gateway/sftp_internal.h"

/* ---- fixture: a state directory, contracts, an audit log -------------- */

static char tmpdir[256], state[300], outside[300];
static struct config_dir cfg;
static struct contract c1, c2, *cs[2];
static char *c1_people[] = { "acme-ana" }, *c2_people[] = { "beta-bo" };
static char *c1_approvers[] = { "iam-jo", "staff-ben" };
static char *c2_approvers[] = { "iam-sam" };
static struct audit *aud;

static void
mkfile(const char *rel, const char *content)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", state, rel);
	assert_non_null(f = fopen(p, "w"));
	fputs(content, f);
	fclose(f);
}

static void
mkd(const char *rel)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", state, rel);
	assert_int_equal(dir_make(p, 0700), 0);
}

static int
exists(const char *rel)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", state, rel);
	return lstat(p, &st) == 0;
}

static char *
slurp(const char *rel, size_t *len)
{
	char p[1024], *data = NULL;

	snprintf(p, sizeof(p), "%s/%s", state, rel);
	if (file_read_small(&data, len, p, 1 << 24, NULL) != 0)
		return NULL;
	return data;
}

static int
setup(void **st)
{
	struct diag d;

	(void)st;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rg-sftp-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
	assert_int_equal(mkdir(state, 0700), 0);
	assert_int_equal(mkdir(outside, 0700), 0);
	mkd("requests");
	mkd("releases/DEMO-1");
	mkd("releases/DEMO-2");
	mkd("audit-export");
	mkd("queue");
	mkfile("releases/gateway.asc", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n");
	mkfile("releases/DEMO-2/DEMO-2-001.tar.zst.gpg", "beta secret");
	mkfile("audit-export/2026-11-25.jsonl", "{\"seq\":1}\n");
	mkfile("audit-export/.tmp.x", "hidden");
	/* approvals: R-1 by ann on DEMO-1, R-2 by ben (own), R-3 DEMO-2 */
	mkd("requests/R-1");
	mkd("requests/R-2");
	mkd("requests/R-3");
	mkfile("requests/R-1/meta.json", "{\"submitter\": \"staff-ann\", "
	    "\"folder\": \"q3\", \"contract\": \"DEMO-1\", \"files\": [\"a\"]}");
	mkfile("requests/R-1/report.txt", "rows.max pass\n");
	mkfile("requests/R-1/status.json", "{\"state\": \"awaiting_approval\"}");
	mkfile("requests/R-1/request.yaml", "contract: DEMO-1\n");
	mkfile("requests/R-1/stage.tar.zst", "staged");
	/* the extract, as the worker links it; a leftover temporary */
	mkd("requests/R-1/files");
	mkfile("requests/R-1/files/data.csv", "person_id,region\nA1,North\n");
	mkfile("requests/R-1/files/.tmp.data.csv", "half");
	mkd("requests/R-2/files");
	mkfile("requests/R-2/files/own.csv", "ben's own\n");
	mkfile("requests/R-2/meta.json", "{\"submitter\": \"staff-ben\", "
	    "\"contract\": \"DEMO-1\"}");
	mkfile("requests/R-2/report.txt", "x");
	mkfile("requests/R-3/meta.json", "{\"submitter\": \"staff-ann\", "
	    "\"contract\": \"DEMO-2\"}");

	memset(&cfg, 0, sizeof(cfg));
	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	c1.id = "DEMO-1";
	c1.people = c1_people;
	c1.n_people = 1;
	c1.approvers = c1_approvers;
	c1.n_approvers = 2;
	c2.id = "DEMO-2";
	c2.people = c2_people;
	c2.n_people = 1;
	c2.approvers = c2_approvers;
	c2.n_approvers = 1;
	cs[0] = &c1;
	cs[1] = &c2;
	cfg.contracts = cs;
	cfg.n_contracts = 2;
	diag_clear(&d);
	assert_int_equal(audit_open(&aud, state, &d), 0);
	view_force_walk(0);
	return 0;
}

static int
rm_cb(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int
teardown(void **st)
{
	(void)st;
	audit_close(aud);
	aud = NULL;
	rm_cb(tmpdir);
	return 0;
}

/* ---- a tiny client ---------------------------------------------------- */

struct cli {
	struct sftp_server *s;
	struct sftp_session_info info;
	struct buf out;
	uint32_t id;
	int rc;			/* last sftp_server_input() result */
	/* last reply */
	uint8_t type;
	uint32_t rid;
	uint32_t status;
	char	msg[600];
	unsigned char handle[256];
	size_t	hlen;
	unsigned char *data;	/* DATA / NAME payload (in out) */
	size_t	dlen;
	struct sftp_attrs attrs;
	unsigned char rest[1 << 19];
	size_t	restlen;
};

static struct cli *
cli_new(const char *user, unsigned roles)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct diag d;

	assert_non_null(c);
	c->info.user = user;
	c->info.roles = roles;
	c->info.source = "127.0.0.1:5555 test";
	c->info.state_dir = state;
	c->info.config = &cfg;
	c->info.audit = aud;
	buf_init(&c->out, 64u << 20);
	assert_int_equal(sftp_server_new(&c->s, &c->info, &d), 0);
	return c;
}

static void
cli_free(struct cli *c)
{
	sftp_server_free(c->s);
	buf_free(&c->out);
	free(c);
}

/* Parse the first reply in out into the cli fields, then drop it. */
static void
take_reply(struct cli *c)
{
	struct sftp_rd r;
	const unsigned char *p;
	size_t n, plen;

	assert_true(c->out.len >= 5);
	plen = sftp_load_u32(c->out.data);
	assert_true(c->out.len >= 4 + plen);
	sftp_rd_init(&r, c->out.data + 4, plen);
	assert_int_equal(sftp_get_u8(&r, &c->type), 0);
	c->status = 0xffff;
	c->msg[0] = '\0';
	if (c->type != SSH_FXP_VERSION)
		assert_int_equal(sftp_get_u32(&r, &c->rid), 0);
	switch (c->type) {
	case SSH_FXP_STATUS:
		assert_int_equal(sftp_get_u32(&r, &c->status), 0);
		assert_int_equal(sftp_get_string(&r, &p, &n), 0);
		assert_true(n < sizeof(c->msg));
		memcpy(c->msg, p, n);
		c->msg[n] = '\0';
		/* every message is printable text (clients decode it) */
		for (size_t k = 0; k < n; k++)
			assert_true(p[k] >= 0x20 && p[k] < 0x7f);
		assert_true(n > 0);
		break;
	case SSH_FXP_HANDLE:
		assert_int_equal(sftp_get_string(&r, &p, &n), 0);
		memcpy(c->handle, p, n);
		c->hlen = n;
		break;
	case SSH_FXP_ATTRS:
		assert_int_equal(sftp_get_attrs(&r, &c->attrs), 0);
		break;
	default:
		break;
	}
	c->restlen = sftp_rd_left(&r);
	assert_true(c->restlen <= sizeof(c->rest));
	memcpy(c->rest, r.p + r.off, c->restlen);
	memmove(c->out.data, c->out.data + 4 + plen, c->out.len - 4 - plen);
	c->out.len -= 4 + plen;
}

/* Send one packet built from type + (id) + body. */
static void
send_raw(struct cli *c, const void *p, size_t n)
{
	c->rc = sftp_server_input(c->s, p, n, &c->out);
}

static void
send_pkt(struct cli *c, uint8_t type, const struct buf *body)
{
	struct buf b;
	size_t mark;

	buf_init(&b, 1 << 20);
	sftp_packet_begin(&b, type, &mark);
	if (type != SSH_FXP_INIT)
		sftp_put_u32(&b, ++c->id);
	if (body != NULL)
		buf_append(&b, body->data, body->len);
	sftp_packet_end(&b, mark);
	send_raw(c, b.data, b.len);
	buf_free(&b);
	assert_int_equal(c->rc, 0);
	take_reply(c);
	if (type != SSH_FXP_INIT)
		assert_int_equal(c->rid, c->id);
	assert_int_equal(c->out.len, 0);
}

static void
cli_init(struct cli *c)
{
	struct buf b;

	buf_init(&b, 64);
	sftp_put_u32(&b, 3);
	send_pkt(c, SSH_FXP_INIT, &b);
	buf_free(&b);
	assert_int_equal(c->type, SSH_FXP_VERSION);
}

static struct cli *
login(const char *user, unsigned roles)
{
	struct cli *c = cli_new(user, roles);

	cli_init(c);
	return c;
}

/* One-path requests: STAT, LSTAT, REMOVE, RMDIR, OPENDIR, REALPATH. */
static uint32_t
path_op(struct cli *c, uint8_t type, const char *path)
{
	struct buf b;

	buf_init(&b, 8192);
	sftp_put_cstring(&b, path);
	if (type == SSH_FXP_MKDIR)
		sftp_put_u32(&b, 0);
	send_pkt(c, type, &b);
	buf_free(&b);
	return c->type == SSH_FXP_STATUS ? c->status : SSH_FX_OK;
}

static uint32_t
do_open(struct cli *c, const char *path, size_t plen, uint32_t flags)
{
	struct buf b;

	buf_init(&b, 8192);
	sftp_put_string(&b, path, plen);
	sftp_put_u32(&b, flags);
	sftp_put_u32(&b, SSH_FILEXFER_ATTR_PERMISSIONS);
	sftp_put_u32(&b, 0100777);	/* curl-style mode bits */
	send_pkt(c, SSH_FXP_OPEN, &b);
	buf_free(&b);
	if (c->type == SSH_FXP_HANDLE)
		return SSH_FX_OK;
	assert_int_equal(c->type, SSH_FXP_STATUS);
	return c->status;
}

static uint32_t
open_p(struct cli *c, const char *path, uint32_t flags)
{
	return do_open(c, path, strlen(path), flags);
}

static uint32_t
hop(struct cli *c, uint8_t type, const unsigned char *h, size_t hlen)
{
	struct buf b;

	buf_init(&b, 512);
	sftp_put_string(&b, h, hlen);
	send_pkt(c, type, &b);
	buf_free(&b);
	return c->type == SSH_FXP_STATUS ? c->status : SSH_FX_OK;
}

static uint32_t
write_at(struct cli *c, const unsigned char *h, size_t hlen, uint64_t off,
    const void *data, size_t len)
{
	struct buf b;

	buf_init(&b, len + 512);
	sftp_put_string(&b, h, hlen);
	sftp_put_u64(&b, off);
	sftp_put_string(&b, data, len);
	send_pkt(c, SSH_FXP_WRITE, &b);
	buf_free(&b);
	assert_int_equal(c->type, SSH_FXP_STATUS);
	return c->status;
}

/* READ: returns status; DATA bytes into c->rest (after the length). */
static uint32_t
read_at(struct cli *c, const unsigned char *h, size_t hlen, uint64_t off,
    uint32_t len)
{
	struct buf b;

	buf_init(&b, 512);
	sftp_put_string(&b, h, hlen);
	sftp_put_u64(&b, off);
	sftp_put_u32(&b, len);
	send_pkt(c, SSH_FXP_READ, &b);
	buf_free(&b);
	if (c->type == SSH_FXP_DATA) {
		c->dlen = sftp_load_u32(c->rest);
		assert_int_equal(c->dlen + 4, c->restlen);
		return SSH_FX_OK;
	}
	return c->status;
}

/* put: OPEN WRITE|CREAT|TRUNC, WRITEs of 32 KiB, CLOSE. Close status. */
static uint32_t
put(struct cli *c, const char *path, const void *data, size_t len)
{
	unsigned char h[8];
	uint32_t st;
	size_t off = 0, n;

	st = open_p(c, path, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC);
	if (st != SSH_FX_OK)
		return st;
	assert_int_equal(c->hlen, 8);
	memcpy(h, c->handle, 8);
	while (off < len) {
		n = len - off > 32768 ? 32768 : len - off;
		assert_int_equal(write_at(c, h, 8, off, (const char *)data +
		    off, n), SSH_FX_OK);
		off += n;
	}
	return hop(c, SSH_FXP_CLOSE, h, 8);
}

/* get: whole file into a malloc'd buffer. */
static uint32_t
get(struct cli *c, const char *path, char **data, size_t *len)
{
	unsigned char h[8];
	uint32_t st;

	*data = NULL;
	*len = 0;
	if ((st = open_p(c, path, SSH_FXF_READ)) != SSH_FX_OK)
		return st;
	memcpy(h, c->handle, 8);
	for (;;) {
		st = read_at(c, h, 8, *len, 65536);
		if (st != SSH_FX_OK)
			break;
		*data = realloc(*data, *len + c->dlen + 1);
		memcpy(*data + *len, c->rest + 4, c->dlen);
		*len += c->dlen;
		(*data)[*len] = '\0';
	}
	assert_int_equal(st, SSH_FX_EOF);
	return hop(c, SSH_FXP_CLOSE, h, 8);
}

/* Names of a folder, "\n"-joined, into out. Status of OPENDIR. */
static uint32_t
list(struct cli *c, const char *path, char *out, size_t outlen)
{
	unsigned char h[8];
	struct sftp_rd r;
	const unsigned char *p, *q;
	size_t n, m;
	uint32_t count, i, st;
	struct sftp_attrs a;

	out[0] = '\0';
	if ((st = path_op(c, SSH_FXP_OPENDIR, path)) != SSH_FX_OK)
		return st;
	assert_int_equal(c->type, SSH_FXP_HANDLE);
	memcpy(h, c->handle, 8);
	for (;;) {
		if (hop(c, SSH_FXP_READDIR, h, 8) != SSH_FX_OK)
			break;
		assert_int_equal(c->type, SSH_FXP_NAME);
		sftp_rd_init(&r, c->rest, c->restlen);
		assert_int_equal(sftp_get_u32(&r, &count), 0);
		for (i = 0; i < count; i++) {
			assert_int_equal(sftp_get_string(&r, &p, &n), 0);
			assert_int_equal(sftp_get_string(&r, &q, &m), 0);
			assert_int_equal(sftp_get_attrs(&r, &a), 0);
			strncat(out, (const char *)p, n < 200 ? n : 200);
			strncat(out, "\n", outlen - strlen(out) - 1);
		}
	}
	assert_int_equal(c->status, SSH_FX_EOF);
	/* lftp reads once more after EOF */
	assert_int_equal(hop(c, SSH_FXP_READDIR, h, 8), SSH_FX_EOF);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, h, 8), SSH_FX_OK);
	return SSH_FX_OK;
}

static uint32_t
rename_op(struct cli *c, const char *a, const char *b2, int posix)
{
	struct buf b;

	buf_init(&b, 8192);
	if (posix)
		sftp_put_cstring(&b, "posix-rename@openssh.com");
	sftp_put_cstring(&b, a);
	sftp_put_cstring(&b, b2);
	send_pkt(c, posix ? SSH_FXP_EXTENDED : SSH_FXP_RENAME, &b);
	buf_free(&b);
	return c->status;
}

/* Audit records of a type (and path when given). */
struct acount {
	const char *path;
	const char *detail;
	int	n;
	int64_t	bytes;
	char	sha[80];
};

static int
acount_cb(const struct audit_record *r, void *ctx)
{
	struct acount *a = ctx;

	if (a->path != NULL && (r->path == NULL || strcmp(a->path, r->path)))
		return 0;
	if (a->detail != NULL && (r->detail == NULL ||
	    strstr(r->detail, a->detail) == NULL))
		return 0;
	a->n++;
	a->bytes = r->bytes;
	rg_strlcpy(a->sha, r->sha256 ? r->sha256 : "", sizeof(a->sha));
	return 0;
}

static int
audited(const char *type, const char *path, const char *detail,
    struct acount *out)
{
	struct audit_filter f;
	struct acount a;
	struct diag d;

	memset(&f, 0, sizeof(f));
	memset(&a, 0, sizeof(a));
	f.type = type;
	a.path = path;
	a.detail = detail;
	assert_int_equal(audit_query(aud, &f, acount_cb, &a, &d), 0);
	if (out != NULL)
		*out = a;
	return a.n;
}

static size_t
queued(enum queue_kind kind, struct queue_entry *last)
{
	struct queue_entry *e = NULL;
	struct diag d;
	size_t n = 0, i, k = 0;

	assert_int_equal(queue_list(&e, &n, state, &d), 0);
	for (i = 0; i < n; i++)
		if (e[i].kind == kind) {
			k++;
			if (last != NULL)
				*last = e[i];
		}
	free(e);
	return k;
}

/* ---- protocol --------------------------------------------------------- */

static void
test_init_and_framing(void **st)
{
	struct cli *c = cli_new("staff-ann", ROLE_STAFF);
	unsigned char pkt[64];
	struct buf b;
	char names[2048];
	size_t i;
	const unsigned char *p;
	size_t n;
	struct sftp_rd r;
	uint32_t v;

	(void)st;
	/* anything before INIT closes the session */
	sftp_store_u32(pkt, 5);
	pkt[4] = SSH_FXP_STAT;
	sftp_store_u32(pkt + 5, 1);
	send_raw(c, pkt, 9);
	assert_true(c->rc < 0);
	cli_free(c);

	c = cli_new("staff-ann", ROLE_STAFF);
	/* lftp's INIT 6, answered with 3 and our extensions */
	buf_init(&b, 64);
	sftp_put_u32(&b, 6);
	send_pkt(c, SSH_FXP_INIT, &b);
	assert_int_equal(c->type, SSH_FXP_VERSION);
	sftp_rd_init(&r, c->rest, c->restlen);
	names[0] = '\0';
	/* the version was read into rid by take_reply? no: VERSION has none */
	memcpy(pkt, c->rest, 4);
	assert_int_equal(sftp_get_u32(&r, &v), 0);
	assert_int_equal(v, 3);
	while (sftp_rd_left(&r) > 0) {
		assert_int_equal(sftp_get_string(&r, &p, &n), 0);
		strncat(names, (const char *)p, n);
		strcat(names, " ");
		assert_int_equal(sftp_get_string(&r, &p, &n), 0);
	}
	assert_non_null(strstr(names, "limits@openssh.com"));
	assert_non_null(strstr(names, "posix-rename@openssh.com"));
	assert_non_null(strstr(names, "statvfs@openssh.com"));
	assert_non_null(strstr(names, "fsync@openssh.com"));
	assert_null(strstr(names, "hardlink"));
	assert_null(strstr(names, "symlink"));
	/* repeated INIT: answered again, session goes on */
	send_pkt(c, SSH_FXP_INIT, &b);
	assert_int_equal(c->type, SSH_FXP_VERSION);
	assert_int_equal(path_op(c, SSH_FXP_REALPATH, "."), SSH_FX_OK);
	assert_int_equal(c->type, SSH_FXP_NAME);
	buf_free(&b);

	/* a packet fed one byte at a time */
	buf_init(&b, 256);
	{
		size_t mark;

		sftp_packet_begin(&b, SSH_FXP_REALPATH, &mark);
		sftp_put_u32(&b, 77);
		sftp_put_cstring(&b, "/requests/../requests/./");
		sftp_packet_end(&b, mark);
	}
	for (i = 0; i < b.len; i++) {
		send_raw(c, b.data + i, 1);
		assert_int_equal(c->rc, 0);
	}
	take_reply(c);
	assert_int_equal(c->type, SSH_FXP_NAME);
	assert_int_equal(c->rid, 77);
	assert_int_equal(sftp_load_u32(c->rest), 1);
	assert_int_equal(sftp_load_u32(c->rest + 4), 9);
	assert_memory_equal(c->rest + 8, "/requests", 9);
	/* two packets and a half in one call */
	{
		unsigned char three[1024];
		size_t l = b.len;

		memcpy(three, b.data, l);
		memcpy(three + l, b.data, l);
		memcpy(three + 2 * l, b.data, 7);
		send_raw(c, three, 2 * l + 7);
		assert_int_equal(c->rc, 0);
		take_reply(c);
		take_reply(c);
		assert_int_equal(c->out.len, 0);
		send_raw(c, b.data + 7, l - 7);
		take_reply(c);
		assert_int_equal(c->rid, 77);
	}
	buf_free(&b);

	/* unknown request type: OP_UNSUPPORTED, session goes on */
	send_pkt(c, 77, NULL);
	assert_int_equal(c->status, SSH_FX_OP_UNSUPPORTED);
	/* truncated arguments: BAD_MESSAGE */
	send_pkt(c, SSH_FXP_STAT, NULL);
	assert_int_equal(c->status, SSH_FX_BAD_MESSAGE);
	/* READLINK / SYMLINK refused */
	assert_int_equal(path_op(c, SSH_FXP_READLINK, "/requests"),
	    SSH_FX_OP_UNSUPPORTED);
	buf_init(&b, 256);
	sftp_put_cstring(&b, "/requests/q/l");
	sftp_put_cstring(&b, "/etc/passwd");
	send_pkt(c, SSH_FXP_SYMLINK, &b);
	assert_int_equal(c->status, SSH_FX_PERMISSION_DENIED);
	buf_free(&b);
	/* unknown or refused extensions */
	buf_init(&b, 256);
	sftp_put_cstring(&b, "hardlink@openssh.com");
	sftp_put_cstring(&b, "/requests/a");
	sftp_put_cstring(&b, "/requests/b");
	send_pkt(c, SSH_FXP_EXTENDED, &b);
	assert_int_equal(c->status, SSH_FX_OP_UNSUPPORTED);
	buf_free(&b);

	/* a 256 MiB length prefix: protocol error, nothing allocated */
	sftp_store_u32(pkt, 256u << 20);
	pkt[4] = SSH_FXP_WRITE;
	send_raw(c, pkt, 5);
	assert_true(c->rc < 0);
	cli_free(c);
	/* an empty packet: protocol error */
	c = login("staff-ann", ROLE_STAFF);
	sftp_store_u32(pkt, 0);
	send_raw(c, pkt, 4);
	assert_true(c->rc < 0);
	cli_free(c);
	/* just over the maximum */
	c = login("staff-ann", ROLE_STAFF);
	sftp_store_u32(pkt, SFTP_MAX_PACKET + 1);
	send_raw(c, pkt, 4);
	assert_true(c->rc < 0);
	cli_free(c);
}

static void
test_limits_statvfs(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	struct buf b;
	struct sftp_rd r;
	uint64_t v;

	(void)st;
	buf_init(&b, 256);
	sftp_put_cstring(&b, "limits@openssh.com");
	send_pkt(c, SSH_FXP_EXTENDED, &b);
	assert_int_equal(c->type, SSH_FXP_EXTENDED_REPLY);
	sftp_rd_init(&r, c->rest, c->restlen);
	assert_int_equal(sftp_get_u64(&r, &v), 0);
	assert_true(v == 256 * 1024 + 1024);
	assert_int_equal(sftp_get_u64(&r, &v), 0);
	assert_true(v == 256 * 1024);
	assert_int_equal(sftp_get_u64(&r, &v), 0);
	assert_true(v == 256 * 1024);
	assert_int_equal(sftp_get_u64(&r, &v), 0);
	assert_true(v == SFTP_MAX_HANDLES);
	buf_reset(&b);
	sftp_put_cstring(&b, "statvfs@openssh.com");
	sftp_put_cstring(&b, "/requests");
	send_pkt(c, SSH_FXP_EXTENDED, &b);
	assert_int_equal(c->type, SSH_FXP_EXTENDED_REPLY);
	assert_int_equal(c->restlen, 11 * 8);
	sftp_rd_init(&r, c->rest, c->restlen);
	assert_int_equal(sftp_get_u64(&r, &v), 0);
	assert_true(v > 0);		/* block size */
	buf_reset(&b);
	sftp_put_cstring(&b, "expand-path@openssh.com");
	sftp_put_cstring(&b, "~/requests/../requests/x");
	send_pkt(c, SSH_FXP_EXTENDED, &b);
	assert_int_equal(c->type, SSH_FXP_NAME);
	assert_int_equal(sftp_load_u32(c->rest + 4), 11);
	assert_memory_equal(c->rest + 8, "/requests/x", 11);
	assert_int_equal(path_op(c, SSH_FXP_OPENDIR, "/requests"), SSH_FX_OK);
	{
		unsigned char h[8];

		memcpy(h, c->handle, 8);
		buf_reset(&b);
		sftp_put_cstring(&b, "fstatvfs@openssh.com");
		sftp_put_string(&b, h, 8);
		send_pkt(c, SSH_FXP_EXTENDED, &b);
		assert_int_equal(c->type, SSH_FXP_EXTENDED_REPLY);
		assert_int_equal(c->restlen, 11 * 8);
		/* FSETSTAT on a folder handle: accepted, nothing changes */
		buf_reset(&b);
		sftp_put_string(&b, h, 8);
		sftp_put_u32(&b, SSH_FILEXFER_ATTR_PERMISSIONS);
		sftp_put_u32(&b, 0777);
		send_pkt(c, SSH_FXP_FSETSTAT, &b);
		assert_int_equal(c->status, SSH_FX_OK);
		assert_int_equal(hop(c, SSH_FXP_FSTAT, h, 8), SSH_FX_OK);
		assert_true(S_ISDIR(c->attrs.perm));
		assert_int_equal(c->attrs.perm & 077, 0);
	}
	buf_reset(&b);
	sftp_put_cstring(&b, "statvfs@openssh.com");
	sftp_put_cstring(&b, "/nope");
	send_pkt(c, SSH_FXP_EXTENDED, &b);
	assert_int_equal(c->status, SSH_FX_NO_SUCH_FILE);
	buf_free(&b);
	cli_free(c);
}

/* ---- staff ------------------------------------------------------------ */

static const char csv[] = "person_id,age_band\nabc,16-24\n";
static const char good_req[] = "contract: DEMO-1\ndataset: benefit_claims\n"
    "files: [data.csv]\nnote: q3\n";

static void
test_staff_upload_and_submit(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	struct acount a;
	struct queue_entry qe;
	struct stat sb;
	char *data, names[4096], p[1024];
	size_t len;

	(void)st;
	/* REALPATH "." works and is "/" */
	assert_int_equal(path_op(c, SSH_FXP_REALPATH, "."), SSH_FX_OK);
	assert_int_equal(sftp_load_u32(c->rest + 4), 1);
	assert_int_equal(c->rest[8], '/');
	assert_int_equal(list(c, "/", names, sizeof(names)), SSH_FX_OK);
	assert_string_equal(names, "requests\n");
	/* only into a request folder */
	assert_int_equal(put(c, "/requests/x.csv", csv, sizeof(csv) - 1),
	    SSH_FX_PERMISSION_DENIED);
	assert_false(exists("spool/staff/staff-ann/x.csv"));
	assert_true(audited("access.denied", "/requests/x.csv", NULL, NULL)
	    >= 1);
	assert_int_equal(put(c, "/x.csv", csv, 3), SSH_FX_PERMISSION_DENIED);
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/q3"), SSH_FX_OK);
	snprintf(p, sizeof(p), "%s/spool/staff/staff-ann/q3", state);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/q3"),
	    SSH_FX_FAILURE);
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/q3/sub"),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/.hidden"),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/elsewhere"),
	    SSH_FX_PERMISSION_DENIED);
	/* upload: bytes on disk, mode never wider than 0600 */
	assert_int_equal(put(c, "/requests/q3/data.csv", csv, sizeof(csv) - 1),
	    SSH_FX_OK);
	data = slurp("spool/staff/staff-ann/q3/data.csv", &len);
	assert_non_null(data);
	assert_int_equal(len, sizeof(csv) - 1);
	assert_memory_equal(data, csv, len);
	free(data);
	snprintf(p, sizeof(p), "%s/spool/staff/staff-ann/q3/data.csv", state);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* paramiko: STAT right after close gives the final size */
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/requests/q3/data.csv"),
	    SSH_FX_OK);
	assert_int_equal(c->type, SSH_FXP_ATTRS);
	assert_int_equal(c->attrs.size, sizeof(csv) - 1);
	/* audited with its bytes; a data file's SHA-256 is the check
	 * pass's to record */
	assert_int_equal(audited("file.upload", "/requests/q3/data.csv", NULL,
	    &a), 1);
	assert_int_equal(a.bytes, sizeof(csv) - 1);
	assert_string_equal(a.sha, "");
	assert_int_equal(put(c, "/requests/q3/status.json", "{}", 2),
	    SSH_FX_PERMISSION_DENIED);
	assert_false(exists("spool/staff/staff-ann/q3/status.json"));

	/* a bad request.yaml: FAILURE with the parse error, nothing queued */
	assert_int_equal(put(c, "/requests/q3/request.yaml", "contract: [",
	    11), SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "request.yaml"));
	assert_false(exists("spool/staff/staff-ann/q3/.relgate-request"));
	assert_int_equal(queued(QUEUE_SUBMIT, NULL), 0);
	/* listing a file that is not there */
	assert_int_equal(put(c, "/requests/q3/request.yaml",
	    "contract: DEMO-1\nfiles: [missing.csv]\n", 38), SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "missing.csv"));
	assert_int_equal(queued(QUEUE_SUBMIT, NULL), 0);
	/* listing a path outside the folder */
	assert_int_equal(put(c, "/requests/q3/request.yaml",
	    "contract: DEMO-1\nfiles: [../q3/data.csv]\n", 41),
	    SSH_FX_FAILURE);
	assert_int_equal(queued(QUEUE_SUBMIT, NULL), 0);
	/* each refusal is audited request.invalid with its reason, which
	 * status.json ("invalid") and report.txt of the folder carry too */
	assert_int_equal(audited("request.invalid",
	    "/requests/q3/request.yaml", "not submitted", NULL), 3);
	assert_int_equal(audited("request.invalid",
	    "/requests/q3/request.yaml", "'../q3/data.csv' is not a file "
	    "name", NULL), 1);
	assert_int_equal(get(c, "/requests/q3/status.json", &data, &len),
	    SSH_FX_OK);
	assert_non_null(strstr(data, "\"state\": \"invalid\""));
	assert_non_null(strstr(data, "\"request\": null"));
	assert_non_null(strstr(data, "'../q3/data.csv' is not a file name"));
	free(data);
	assert_int_equal(get(c, "/requests/q3/report.txt", &data, &len),
	    SSH_FX_OK);
	assert_non_null(strstr(data, "State:     invalid\n"));
	assert_non_null(strstr(data, "request.yaml was refused: request.yaml:"));
	assert_non_null(strstr(data, "'../q3/data.csv' is not a file name"));
	free(data);
	/* still relgate's own: not writable by staff */
	assert_int_equal(put(c, "/requests/q3/status.json", "{}", 2),
	    SSH_FX_PERMISSION_DENIED);
	/* an unknown key (a typo): the reason names it */
	assert_int_equal(put(c, "/requests/q3/request.yaml",
	    "contract: DEMO-1\nfiles: [data.csv]\nnotes: x\n", 44),
	    SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "unknown key 'notes'"));
	assert_int_equal(audited("request.invalid",
	    "/requests/q3/request.yaml", "unknown key 'notes'", NULL), 1);
	data = slurp("spool/staff/staff-ann/q3/status.json", &len);
	assert_non_null(data);
	assert_non_null(strstr(data, "unknown key 'notes'"));
	free(data);
	/* an extract cannot take a name relgate writes beside it */
	assert_int_equal(put(c, "/requests/q3/request.yaml",
	    "contract: DEMO-1\nfiles: [decision.error]\n", 41),
	    SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "a name relgate writes itself"));
	assert_int_equal(queued(QUEUE_SUBMIT, NULL), 0);
	assert_int_equal(audited("request.submitted", NULL, NULL, NULL), 0);
	/* the good one submits */
	assert_int_equal(put(c, "/requests/q3/request.yaml", good_req,
	    sizeof(good_req) - 1), SSH_FX_OK);
	assert_true(exists("spool/staff/staff-ann/q3/.relgate-request"));
	/* the refusal's status files are gone: the worker writes its own */
	assert_false(exists("spool/staff/staff-ann/q3/status.json"));
	assert_false(exists("spool/staff/staff-ann/q3/report.txt"));
	assert_int_equal(queued(QUEUE_SUBMIT, &qe), 1);
	assert_string_equal(qe.user, "staff-ann");
	assert_string_equal(qe.folder, "q3");
	assert_int_equal(audited("request.submitted", NULL, NULL, NULL), 1);
	/* request.yaml's upload record has the SHA-256 of what was read */
	assert_int_equal(audited("file.upload", "/requests/q3/request.yaml",
	    NULL, &a), 6);
	{
		unsigned char md[32];
		char hex[65];

		EVP_Digest(good_req, sizeof(good_req) - 1, md, NULL,
		    EVP_sha256(), NULL);
		hex_encode(hex, md, 32);
		assert_string_equal(a.sha, hex);
	}
	/* the marker is hidden */
	assert_int_equal(list(c, "/requests/q3", names, sizeof(names)),
	    SSH_FX_OK);
	assert_null(strstr(names, ".relgate"));
	assert_non_null(strstr(names, "data.csv\n"));
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/requests/q3/.relgate-request"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/requests/q3/.relgate-request/x"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(open_p(c, "/requests/q3/.relgate-request",
	    SSH_FXF_READ), SSH_FX_NO_SUCH_FILE);
	/* now read-only, for every write */
	assert_int_equal(put(c, "/requests/q3/data.csv", "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(put(c, "/requests/q3/new.csv", "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	assert_false(exists("spool/staff/staff-ann/q3/new.csv"));
	assert_int_equal(path_op(c, SSH_FXP_REMOVE, "/requests/q3/data.csv"),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(rename_op(c, "/requests/q3/data.csv",
	    "/requests/q3/d2.csv", 1), SSH_FX_PERMISSION_DENIED);
	assert_int_equal(path_op(c, SSH_FXP_RMDIR, "/requests/q3"),
	    SSH_FX_PERMISSION_DENIED);
	data = slurp("spool/staff/staff-ann/q3/data.csv", &len);
	assert_int_equal(len, sizeof(csv) - 1);
	free(data);
	/* rclone: SETSTAT mtime after CLOSE of a submitted file: accepted,
	 * nothing changes; a size is refused */
	{
		struct buf b;
		struct stat sb1, sb2;

		snprintf(p, sizeof(p), "%s/spool/staff/staff-ann/q3/"
		    "request.yaml", state);
		assert_int_equal(stat(p, &sb1), 0);
		buf_init(&b, 256);
		sftp_put_cstring(&b, "/requests/q3/request.yaml");
		sftp_put_u32(&b, SSH_FILEXFER_ATTR_ACMODTIME);
		sftp_put_u32(&b, 1000);
		sftp_put_u32(&b, 1000);
		send_pkt(c, SSH_FXP_SETSTAT, &b);
		assert_int_equal(c->status, SSH_FX_OK);
		assert_int_equal(stat(p, &sb2), 0);
		assert_int_equal(sb1.st_mtime, sb2.st_mtime);
		buf_reset(&b);
		sftp_put_cstring(&b, "/requests/q3/request.yaml");
		sftp_put_u32(&b, SSH_FILEXFER_ATTR_SIZE);
		sftp_put_u64(&b, 0);
		send_pkt(c, SSH_FXP_SETSTAT, &b);
		assert_int_equal(c->status, SSH_FX_PERMISSION_DENIED);
		assert_int_equal(stat(p, &sb2), 0);
		assert_int_equal(sb2.st_size, sizeof(good_req) - 1);
		buf_free(&b);
	}
	/* reading is fine */
	assert_int_equal(get(c, "/requests/q3/request.yaml", &data, &len),
	    SSH_FX_OK);
	assert_int_equal(len, sizeof(good_req) - 1);
	free(data);
	/* withdrawal: REMOVE request.yaml */
	assert_int_equal(path_op(c, SSH_FXP_REMOVE,
	    "/requests/q3/request.yaml"), SSH_FX_OK);
	assert_int_equal(queued(QUEUE_WITHDRAW, &qe), 1);
	assert_string_equal(qe.folder, "q3");
	assert_int_equal(audited("request.withdrawn", NULL, NULL, NULL), 1);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/requests/q3/request.yaml"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE,
	    "/requests/q3/request.yaml"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(queued(QUEUE_WITHDRAW, NULL), 1);
	cli_free(c);
}

static void
test_staff_withdraw_after_approval(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);

	(void)st;
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/q4"), SSH_FX_OK);
	assert_int_equal(put(c, "/requests/q4/data.csv", csv, 5), SSH_FX_OK);
	assert_int_equal(put(c, "/requests/q4/request.yaml", good_req,
	    sizeof(good_req) - 1), SSH_FX_OK);
	mkfile("spool/staff/staff-ann/q4/status.json",
	    "{\"request\": \"R-9\", \"state\": \"approved\"}");
	assert_int_equal(path_op(c, SSH_FXP_REMOVE,
	    "/requests/q4/request.yaml"), SSH_FX_PERMISSION_DENIED);
	assert_int_equal(queued(QUEUE_WITHDRAW, NULL), 0);
	assert_true(exists("spool/staff/staff-ann/q4/request.yaml"));
	cli_free(c);
}

static void
test_staff_filepart_rename(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);

	(void)st;
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/w"), SSH_FX_OK);
	/* WinSCP: delete the target first (missing: NO_SUCH_FILE) */
	assert_int_equal(path_op(c, SSH_FXP_REMOVE, "/requests/w/data.csv"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(put(c, "/requests/w/data.csv.filepart", csv, 10),
	    SSH_FX_OK);
	assert_int_equal(rename_op(c, "/requests/w/data.csv.filepart",
	    "/requests/w/data.csv", 0), SSH_FX_OK);
	assert_true(exists("spool/staff/staff-ann/w/data.csv"));
	assert_false(exists("spool/staff/staff-ann/w/data.csv.filepart"));
	/* legacy RENAME does not replace; posix-rename does */
	assert_int_equal(put(c, "/requests/w/b.csv", "b", 1), SSH_FX_OK);
	assert_int_equal(rename_op(c, "/requests/w/b.csv",
	    "/requests/w/data.csv", 0), SSH_FX_FAILURE);
	assert_true(exists("spool/staff/staff-ann/w/b.csv"));
	assert_int_equal(rename_op(c, "/requests/w/b.csv",
	    "/requests/w/c.csv", 1), SSH_FX_OK);
	assert_true(exists("spool/staff/staff-ann/w/c.csv"));
	/* renaming onto request.yaml submits (after the same checks) */
	assert_int_equal(put(c, "/requests/w/request.yaml.filepart",
	    "contract: DEMO-1\nfiles: [nope.csv]\n", 35), SSH_FX_OK);
	assert_int_equal(rename_op(c, "/requests/w/request.yaml.filepart",
	    "/requests/w/request.yaml", 0), SSH_FX_FAILURE);
	assert_false(exists("spool/staff/staff-ann/w/request.yaml"));
	assert_int_equal(queued(QUEUE_SUBMIT, NULL), 0);
	assert_int_equal(put(c, "/requests/w/request.yaml.filepart",
	    good_req, sizeof(good_req) - 1), SSH_FX_OK);
	assert_int_equal(rename_op(c, "/requests/w/request.yaml.filepart",
	    "/requests/w/request.yaml", 0), SSH_FX_OK);
	assert_true(exists("spool/staff/staff-ann/w/request.yaml"));
	assert_true(exists("spool/staff/staff-ann/w/.relgate-request"));
	assert_int_equal(queued(QUEUE_SUBMIT, NULL), 1);
	/* remove and rmdir in an unsubmitted folder */
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/tmp"), SSH_FX_OK);
	assert_int_equal(put(c, "/requests/tmp/a", "a", 1), SSH_FX_OK);
	assert_int_equal(path_op(c, SSH_FXP_RMDIR, "/requests/tmp"),
	    SSH_FX_FAILURE);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE, "/requests/tmp/a"),
	    SSH_FX_OK);
	assert_false(exists("spool/staff/staff-ann/tmp/a"));
	assert_int_equal(path_op(c, SSH_FXP_RMDIR, "/requests/tmp"), SSH_FX_OK);
	assert_false(exists("spool/staff/staff-ann/tmp"));
	assert_int_equal(path_op(c, SSH_FXP_RMDIR, "/requests/tmp"),
	    SSH_FX_NO_SUCH_FILE);
	cli_free(c);
}

static void
test_open_for_write_blocks_submission(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	unsigned char h[8];

	(void)st;
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/o"), SSH_FX_OK);
	assert_int_equal(open_p(c, "/requests/o/data.csv", SSH_FXF_WRITE |
	    SSH_FXF_CREAT), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	assert_int_equal(write_at(c, h, 8, 0, "abc", 3), SSH_FX_OK);
	assert_int_equal(put(c, "/requests/o/request.yaml", good_req,
	    sizeof(good_req) - 1), SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "still being uploaded"));
	assert_int_equal(queued(QUEUE_SUBMIT, NULL), 0);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, h, 8), SSH_FX_OK);

	/* a second session submits while this one still writes another
	 * file of the folder: the open handle becomes read-only too */
	{
		struct cli *other = login("staff-ann", ROLE_STAFF);

		assert_int_equal(open_p(c, "/requests/o/extra.csv",
		    SSH_FXF_WRITE | SSH_FXF_CREAT), SSH_FX_OK);
		memcpy(h, c->handle, 8);
		assert_int_equal(write_at(c, h, 8, 0, "abc", 3), SSH_FX_OK);
		assert_int_equal(put(other, "/requests/o/request.yaml",
		    "contract: DEMO-1\nfiles: [data.csv]\n", 35), SSH_FX_OK);
		assert_int_equal(write_at(c, h, 8, 3, "def", 3),
		    SSH_FX_PERMISSION_DENIED);
		assert_int_equal(hop(c, SSH_FXP_CLOSE, h, 8), SSH_FX_OK);
		cli_free(other);
	}
	{
		size_t len;
		char *data = slurp("spool/staff/staff-ann/o/extra.csv", &len);

		assert_int_equal(len, 3);
		free(data);
	}
	cli_free(c);
}

static void
test_upload_broken_off(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	unsigned char h[8];
	struct acount a;

	(void)st;
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/k"), SSH_FX_OK);
	assert_int_equal(open_p(c, "/requests/k/request.yaml", SSH_FXF_WRITE |
	    SSH_FXF_CREAT | SSH_FXF_TRUNC), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	assert_int_equal(write_at(c, h, 8, 0, good_req, 10), SSH_FX_OK);
	cli_free(c);		/* the channel goes away before CLOSE */
	assert_int_equal(audited("file.upload", "/requests/k/request.yaml",
	    "broken off", &a), 1);
	assert_int_equal(a.bytes, 10);
	/* no CLOSE, no submission */
	assert_false(exists("spool/staff/staff-ann/k/.relgate-request"));
	assert_int_equal(queued(QUEUE_SUBMIT, NULL), 0);
}

static void
test_setstat(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	unsigned char h[8];
	struct buf b;
	struct stat sb;
	char p[1024];

	(void)st;
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/s"), SSH_FX_OK);
	/* lftp: FSETSTAT size+mtime before CLOSE */
	assert_int_equal(open_p(c, "/requests/s/f.csv", SSH_FXF_WRITE |
	    SSH_FXF_CREAT | SSH_FXF_TRUNC), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	assert_int_equal(write_at(c, h, 8, 0, "hello", 5), SSH_FX_OK);
	buf_init(&b, 256);
	sftp_put_string(&b, h, 8);
	sftp_put_u32(&b, SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_ACMODTIME);
	sftp_put_u64(&b, 5);
	sftp_put_u32(&b, 1600000000);
	sftp_put_u32(&b, 1600000000);
	send_pkt(c, SSH_FXP_FSETSTAT, &b);
	assert_int_equal(c->status, SSH_FX_OK);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, h, 8), SSH_FX_OK);
	snprintf(p, sizeof(p), "%s/spool/staff/staff-ann/s/f.csv", state);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 5);
	assert_int_equal(sb.st_mtime, 1600000000);
	/* SETSTAT permissions 0777 and a uid: accepted, nothing widened */
	buf_reset(&b);
	sftp_put_cstring(&b, "/requests/s/f.csv");
	sftp_put_u32(&b, SSH_FILEXFER_ATTR_PERMISSIONS |
	    SSH_FILEXFER_ATTR_UIDGID);
	sftp_put_u32(&b, 0);
	sftp_put_u32(&b, 0);
	sftp_put_u32(&b, 04777);
	send_pkt(c, SSH_FXP_SETSTAT, &b);
	assert_int_equal(c->status, SSH_FX_OK);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* SETSTAT mtime (rclone) */
	buf_reset(&b);
	sftp_put_cstring(&b, "/requests/s/f.csv");
	sftp_put_u32(&b, SSH_FILEXFER_ATTR_ACMODTIME);
	sftp_put_u32(&b, 1500000000);
	sftp_put_u32(&b, 1500000000);
	send_pkt(c, SSH_FXP_SETSTAT, &b);
	assert_int_equal(c->status, SSH_FX_OK);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mtime, 1500000000);
	/* SETSTAT on a missing file */
	buf_reset(&b);
	sftp_put_cstring(&b, "/requests/s/none");
	sftp_put_u32(&b, SSH_FILEXFER_ATTR_ACMODTIME);
	sftp_put_u32(&b, 1);
	sftp_put_u32(&b, 1);
	send_pkt(c, SSH_FXP_SETSTAT, &b);
	assert_int_equal(c->status, SSH_FX_NO_SUCH_FILE);
	buf_free(&b);
	cli_free(c);
}

/* ---- paths ------------------------------------------------------------ */

static void
test_traversal(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	char *data, longname[400], p[1024], names[4096];
	size_t len;

	(void)st;
	mkd("spool/staff/staff-zed/secret");
	mkfile("spool/staff/staff-zed/secret/x.csv", "zed's");
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/t"), SSH_FX_OK);
	assert_int_equal(put(c, "/requests/t/a.csv", "a", 1), SSH_FX_OK);
	/* other users' files do not exist */
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/requests/../../spool/staff/staff-zed/secret/x.csv"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/../staff-zed/secret"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/requests/../../../../../../etc/passwd"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(open_p(c, "../../../etc/passwd", SSH_FXF_READ),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/etc/passwd"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(put(c, "/requests/t/../../../../outside/p.csv", "x",
	    1), SSH_FX_PERMISSION_DENIED);
	/* ".." never climbs above "/": lands in the view */
	assert_int_equal(get(c, "/../../requests/t/../t/a.csv", &data, &len),
	    SSH_FX_OK);
	assert_int_equal(len, 1);
	free(data);
	/* "//", relative paths */
	assert_int_equal(get(c, "//requests//t///a.csv", &data, &len),
	    SSH_FX_OK);
	free(data);
	assert_int_equal(get(c, "requests/t/a.csv", &data, &len), SSH_FX_OK);
	free(data);
	/* backslashes are ordinary name bytes */
	assert_int_equal(put(c, "/requests/t/a\\..\\..\\b.csv", "b", 1),
	    SSH_FX_OK);
	assert_true(exists("spool/staff/staff-ann/t/a\\..\\..\\b.csv"));
	assert_false(exists("spool/b.csv"));
	/* NUL and control characters refused */
	assert_int_equal(do_open(c, "/requests/t/a.csv\0x", 19, SSH_FXF_WRITE |
	    SSH_FXF_CREAT), SSH_FX_FAILURE);
	assert_int_equal(put(c, "/requests/t/a\nb.csv", "x", 1),
	    SSH_FX_FAILURE);
	assert_int_equal(list(c, "/requests/t", names, sizeof(names)),
	    SSH_FX_OK);
	assert_null(strstr(names, "a\nb"));
	/* long names */
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "/requests/t/", 12);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(put(c, longname, "x", 1), SSH_FX_FAILURE);
	/* nothing appeared outside the spool */
	snprintf(p, sizeof(p), "%s/p.csv", outside);
	assert_int_equal(access(p, F_OK), -1);
	assert_false(exists("b.csv"));
	data = slurp("spool/staff/staff-zed/secret/x.csv", &len);
	assert_string_equal(data, "zed's");
	free(data);
	cli_free(c);
}

static void
symlinks_never_followed(void)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	char p[1024], t[1024], names[4096], *data;
	size_t len;

	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/l"), SSH_FX_OK);
	snprintf(t, sizeof(t), "%s/secret.txt", outside);
	{
		FILE *f = fopen(t, "w");

		fputs("outside secret", f);
		fclose(f);
	}
#define PLANT(target, name) do { \
	snprintf(p, sizeof(p), "%s/spool/staff/staff-ann/l/%s", state, name); \
	assert_int_equal(symlink(target, p), 0); \
} while (0)
	PLANT(t, "abs");
	PLANT("../../../../outside/secret.txt", "rel");
	snprintf(t, sizeof(t), "%s/created-by-dangling", outside);
	PLANT(t, "dangling");
	PLANT(outside, "sub");		/* intermediate folder */
	PLANT("/etc/passwd", "etc");
	/* the request folder itself replaced by a link */
	snprintf(p, sizeof(p), "%s/spool/staff/staff-ann/lnk", state);
	assert_int_equal(symlink(outside, p), 0);
#undef PLANT
	static const char *const names_[] = { "abs", "rel", "dangling",
	    "etc" };
	size_t i;

	for (i = 0; i < RG_ARRAY_LEN(names_); i++) {
		snprintf(p, sizeof(p), "/requests/l/%s", names_[i]);
		assert_int_equal(path_op(c, SSH_FXP_STAT, p),
		    SSH_FX_NO_SUCH_FILE);
		assert_int_equal(path_op(c, SSH_FXP_LSTAT, p),
		    SSH_FX_NO_SUCH_FILE);
		assert_int_equal(open_p(c, p, SSH_FXF_READ),
		    SSH_FX_NO_SUCH_FILE);
		assert_int_not_equal(put(c, p, "pwned", 5), SSH_FX_OK);
		assert_int_equal(path_op(c, SSH_FXP_OPENDIR, p) == SSH_FX_OK,
		    0);
		assert_int_equal(path_op(c, SSH_FXP_REMOVE, p),
		    SSH_FX_NO_SUCH_FILE);
		assert_int_equal(path_op(c, SSH_FXP_RMDIR, p),
		    SSH_FX_NO_SUCH_FILE);
		/* the link is still there, pointing where it did */
		snprintf(t, sizeof(t), "%s/spool/staff/staff-ann/l/%s", state,
		    names_[i]);
		assert_int_equal(access(t, F_OK) == 0 || errno == ENOENT, 1);
		{
			struct stat sb;

			assert_int_equal(lstat(t, &sb), 0);
			assert_true(S_ISLNK(sb.st_mode));
		}
	}
	/* intermediate link: read, write, mkdir, list through it */
	assert_int_equal(open_p(c, "/requests/l/sub/secret.txt",
	    SSH_FXF_READ), SSH_FX_NO_SUCH_FILE);
	assert_int_not_equal(put(c, "/requests/l/sub/new.txt", "x", 1),
	    SSH_FX_OK);
	assert_int_not_equal(path_op(c, SSH_FXP_OPENDIR, "/requests/l/sub"),
	    SSH_FX_OK);
	assert_int_not_equal(put(c, "/requests/lnk/new.txt", "x", 1),
	    SSH_FX_OK);
	assert_int_not_equal(path_op(c, SSH_FXP_OPENDIR, "/requests/lnk"),
	    SSH_FX_OK);
	assert_int_not_equal(rename_op(c, "/requests/l/abs", "/requests/l/x",
	    1), SSH_FX_OK);
	/* listings do not show links */
	assert_int_equal(list(c, "/requests/l", names, sizeof(names)),
	    SSH_FX_OK);
	assert_string_equal(names, "");
	assert_int_equal(list(c, "/requests", names, sizeof(names)),
	    SSH_FX_OK);
	assert_null(strstr(names, "lnk"));
	/* nothing written outside; the secret untouched */
	snprintf(p, sizeof(p), "%s/created-by-dangling", outside);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/new.txt", outside);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/secret.txt", outside);
	assert_int_equal(file_read_small(&data, &len, p, 1024, NULL), 0);
	assert_string_equal(data, "outside secret");
	free(data);
	cli_free(c);
}

static void
test_symlinks_openat2(void **st)
{
	(void)st;
	view_force_walk(0);
	symlinks_never_followed();
}

static void
test_symlinks_walk(void **st)
{
	(void)st;
	view_force_walk(1);
	symlinks_never_followed();
	view_force_walk(0);
}

static void
on_alarm(int sig)
{
	(void)sig;
	fail_msg("the server hung on a FIFO");
}

static void
test_fifo(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	char p[1024], names[1024];

	(void)st;
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/f"), SSH_FX_OK);
	snprintf(p, sizeof(p), "%s/spool/staff/staff-ann/f/pipe", state);
	assert_int_equal(mkfifo(p, 0600), 0);
	signal(SIGALRM, on_alarm);
	alarm(10);
	assert_int_equal(open_p(c, "/requests/f/pipe", SSH_FXF_READ),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_not_equal(open_p(c, "/requests/f/pipe", SSH_FXF_WRITE),
	    SSH_FX_OK);
	assert_int_not_equal(put(c, "/requests/f/pipe", "x", 1), SSH_FX_OK);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/requests/f/pipe"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE, "/requests/f/pipe"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_RMDIR, "/requests/f/pipe"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_not_equal(path_op(c, SSH_FXP_OPENDIR, "/requests/f/pipe"),
	    SSH_FX_OK);
	assert_int_equal(list(c, "/requests/f", names, sizeof(names)),
	    SSH_FX_OK);
	assert_string_equal(names, "");
	alarm(0);
	cli_free(c);
}

/* ---- handles ---------------------------------------------------------- */

static void
test_handles(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	unsigned char first[8], h[8], bogus[8] = { 0, 0, 0, 1, 0, 0, 0, 1 };
	int i;

	(void)st;
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/h"), SSH_FX_OK);
	assert_int_equal(put(c, "/requests/h/a", "abc", 3), SSH_FX_OK);
	for (i = 0; i < SFTP_MAX_HANDLES; i++) {
		assert_int_equal(open_p(c, "/requests/h/a", SSH_FXF_READ),
		    SSH_FX_OK);
		if (i == 0)
			memcpy(first, c->handle, 8);
	}
	assert_int_equal(open_p(c, "/requests/h/a", SSH_FXF_READ),
	    SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "handles"));
	assert_int_equal(path_op(c, SSH_FXP_OPENDIR, "/requests"),
	    SSH_FX_FAILURE);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, first, 8), SSH_FX_OK);
	/* the old handle is dead even when its slot is reused */
	assert_int_equal(open_p(c, "/requests/h/a", SSH_FXF_READ), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	assert_int_not_equal(memcmp(h, first, 8), 0);
	assert_int_equal(read_at(c, first, 8, 0, 10), SSH_FX_FAILURE);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, first, 8), SSH_FX_FAILURE);
	assert_int_equal(read_at(c, h, 8, 0, 10), SSH_FX_OK);
	/* bogus, short, long, out-of-range handles */
	assert_int_equal(read_at(c, bogus, 8, 0, 10), SSH_FX_FAILURE);
	assert_int_equal(read_at(c, h, 4, 0, 10), SSH_FX_FAILURE);
	memset(bogus, 0xff, 8);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, bogus, 8), SSH_FX_FAILURE);
	assert_int_equal(write_at(c, bogus, 8, 0, "x", 1), SSH_FX_FAILURE);
	/* a file handle is not a folder handle */
	assert_int_equal(hop(c, SSH_FXP_READDIR, h, 8), SSH_FX_FAILURE);
	/* writing through a read handle */
	assert_int_equal(write_at(c, h, 8, 0, "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	cli_free(c);	/* frees 128 open handles */
}

static void
test_read_write_bounds(void **st)
{
	struct cli *c = login("staff-ann", ROLE_STAFF);
	unsigned char h[8];
	char *big, *data;
	size_t n = 300 * 1024, len;
	struct acount a;

	(void)st;
	assert_non_null(big = malloc(n));
	for (len = 0; len < n; len++)
		big[len] = (char)(len * 7 + 3);
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests/b"), SSH_FX_OK);
	assert_int_equal(put(c, "/requests/b/big", big, n), SSH_FX_OK);
	assert_int_equal(audited("file.upload", "/requests/b/big", NULL, &a),
	    1);
	assert_int_equal(a.bytes, n);
	assert_int_equal(open_p(c, "/requests/b/big", SSH_FXF_READ), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	/* READ 0xFFFFFFFF: clamped to 256 KiB */
	assert_int_equal(read_at(c, h, 8, 0, 0xffffffffu), SSH_FX_OK);
	assert_int_equal(c->dlen, 256 * 1024);
	assert_memory_equal(c->rest + 4, big, c->dlen);
	/* reads past EOF, and at huge offsets */
	assert_int_equal(read_at(c, h, 8, n, 10), SSH_FX_EOF);
	assert_int_equal(read_at(c, h, 8, n + 1000, 10), SSH_FX_EOF);
	assert_int_equal(read_at(c, h, 8, UINT64_MAX, 10), SSH_FX_EOF);
	assert_int_equal(read_at(c, h, 8, (uint64_t)INT64_MAX, 0xffffffffu),
	    SSH_FX_EOF);
	/* a reply that does not fit the caller's buffer: fatal, and no
	 * half-built reply is left behind */
	{
		struct buf b;
		size_t mark, cap = c->out.cap;

		buf_init(&b, 256);
		sftp_packet_begin(&b, SSH_FXP_READ, &mark);
		sftp_put_u32(&b, 99);
		sftp_put_string(&b, h, 8);
		sftp_put_u64(&b, 0);
		sftp_put_u32(&b, 65536);
		sftp_packet_end(&b, mark);
		c->out.cap = 1000;
		send_raw(c, b.data, b.len);
		assert_true(c->rc < 0);
		assert_int_equal(c->out.len, 0);
		c->out.cap = cap;
		buf_free(&b);
	}
	assert_int_equal(hop(c, SSH_FXP_CLOSE, h, 8), SSH_FX_OK);
	/* WRITE at an offset that would overflow */
	assert_int_equal(open_p(c, "/requests/b/o", SSH_FXF_WRITE |
	    SSH_FXF_CREAT), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	assert_int_equal(write_at(c, h, 8, UINT64_MAX - 2, "abcdef", 6),
	    SSH_FX_FAILURE);
	assert_int_equal(write_at(c, h, 8, (uint64_t)INT64_MAX, "a", 1),
	    SSH_FX_FAILURE);
	/* out-of-order writes: the file is right, the hash is left out */
	assert_int_equal(write_at(c, h, 8, 3, "def", 3), SSH_FX_OK);
	assert_int_equal(write_at(c, h, 8, 0, "abc", 3), SSH_FX_OK);
	{
		struct buf b;

		buf_init(&b, 64);
		sftp_put_cstring(&b, "fsync@openssh.com");
		sftp_put_string(&b, h, 8);
		send_pkt(c, SSH_FXP_EXTENDED, &b);
		assert_int_equal(c->status, SSH_FX_OK);
		buf_free(&b);
	}
	/* FSTAT */
	assert_int_equal(hop(c, SSH_FXP_FSTAT, h, 8), SSH_FX_OK);
	assert_int_equal(c->attrs.size, 6);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, h, 8), SSH_FX_OK);
	data = slurp("spool/staff/staff-ann/b/o", &len);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "abcdef", 6);
	free(data);
	assert_int_equal(audited("file.upload", "/requests/b/o", NULL, &a), 1);
	assert_string_equal(a.sha, "");
	/* EXCL on an existing file */
	assert_int_equal(open_p(c, "/requests/b/o", SSH_FXF_WRITE |
	    SSH_FXF_CREAT | SSH_FXF_EXCL), SSH_FX_FAILURE);
	/* APPEND */
	assert_int_equal(open_p(c, "/requests/b/o", SSH_FXF_WRITE |
	    SSH_FXF_APPEND), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	assert_int_equal(write_at(c, h, 8, 0, "g", 1), SSH_FX_OK);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, h, 8), SSH_FX_OK);
	data = slurp("spool/staff/staff-ann/b/o", &len);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "abcdefg", 7);
	free(data);
	free(big);
	cli_free(c);
}

/* ---- approver --------------------------------------------------------- */

static void
test_approver(void **st)
{
	struct cli *c = login("staff-ben", ROLE_STAFF | ROLE_APPROVER);
	char names[4096], *data;
	size_t len;
	struct queue_entry qe;
	static const char dec[] = "decision: approve\nreason: Checked.\n";

	(void)st;
	assert_int_equal(list(c, "/", names, sizeof(names)), SSH_FX_OK);
	assert_string_equal(names, "requests\napprovals\n");
	assert_int_equal(list(c, "/approvals", names, sizeof(names)),
	    SSH_FX_OK);
	assert_string_equal(names, "R-1\n");	/* not own R-2, not R-3 */
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/approvals/R-2"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/approvals/R-2/report.txt"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/approvals/R-3"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(put(c, "/approvals/R-2/decision.yaml", dec,
	    sizeof(dec) - 1), SSH_FX_PERMISSION_DENIED);
	assert_false(exists("requests/R-2/decisions"));
	assert_int_equal(list(c, "/approvals/R-1", names, sizeof(names)),
	    SSH_FX_OK);
	assert_string_equal(names, "report.txt\nstatus.json\nrequest.yaml\n"
	    "data.csv\n");
	assert_int_equal(get(c, "/approvals/R-1/report.txt", &data, &len),
	    SSH_FX_OK);
	assert_string_equal(data, "rows.max pass\n");
	free(data);
	/* the extract file: read-only, its download audited */
	assert_int_equal(get(c, "/approvals/R-1/data.csv", &data, &len),
	    SSH_FX_OK);
	assert_string_equal(data, "person_id,region\nA1,North\n");
	free(data);
	{
		struct acount au;

		assert_int_equal(audited("file.download",
		    "/approvals/R-1/data.csv", "complete", &au), 1);
		assert_int_equal(au.bytes, 26);
	}
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/approvals/R-1/data.csv"),
	    SSH_FX_OK);
	assert_int_equal(c->attrs.perm & 0222, 0);
	assert_int_equal(put(c, "/approvals/R-1/data.csv", "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE, "/approvals/R-1/data.csv"),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(rename_op(c, "/approvals/R-1/data.csv",
	    "/approvals/R-1/d2.csv", 1), SSH_FX_PERMISSION_DENIED);
	assert_int_equal(rename_op(c, "/approvals/R-1/data.csv",
	    "/requests/stolen.csv", 1), SSH_FX_PERMISSION_DENIED);
	data = slurp("requests/R-1/files/data.csv", &len);
	assert_string_equal(data, "person_id,region\nA1,North\n");
	free(data);
	/* nothing else of the record: not files/ itself, not a temporary,
	 * not the submitter's own request's files */
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/approvals/R-1/files"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/approvals/R-1/files/data.csv"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/approvals/R-1/.tmp.data.csv"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/approvals/R-1/decisions"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/approvals/R-1/decision.error"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(open_p(c, "/approvals/R-2/own.csv", SSH_FXF_READ),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/approvals/R-1/stage.tar.zst"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/approvals/R-1/meta.json"),
	    SSH_FX_NO_SUCH_FILE);
	/* read-only files */
	assert_int_equal(put(c, "/approvals/R-1/report.txt", "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	data = slurp("requests/R-1/report.txt", &len);
	assert_string_equal(data, "rows.max pass\n");
	free(data);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE,
	    "/approvals/R-1/report.txt"), SSH_FX_PERMISSION_DENIED);
	assert_true(exists("requests/R-1/report.txt"));
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/approvals/R-1/x"),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(put(c, "/approvals/R-1/other.yaml", "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	/* a malformed decision: FAILURE, nothing stored or queued */
	assert_int_equal(put(c, "/approvals/R-1/decision.yaml",
	    "decision: maybe\n", 16), SSH_FX_FAILURE);
	assert_false(exists("requests/R-1/decisions/staff-ben.yaml"));
	assert_false(exists("requests/R-1/decisions/staff-ben.yaml.new"));
	assert_int_equal(queued(QUEUE_DECISION, NULL), 0);
	/* note: instead of reason: the reason is in decision.error, for
	 * this approver, and audited approval.invalid */
	assert_int_equal(put(c, "/approvals/R-1/decision.yaml",
	    "decision: reject\nnote: Wrong quarter.\n", 38), SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "unknown key 'note'"));
	assert_false(exists("requests/R-1/decisions/staff-ben.yaml"));
	assert_int_equal(queued(QUEUE_DECISION, NULL), 0);
	assert_int_equal(list(c, "/approvals/R-1", names, sizeof(names)),
	    SSH_FX_OK);
	assert_non_null(strstr(names, "decision.error\n"));
	assert_null(strstr(names, "decision.yaml"));
	assert_int_equal(get(c, "/approvals/R-1/decision.error", &data, &len),
	    SSH_FX_OK);
	assert_non_null(strstr(data, "was not taken"));
	assert_non_null(strstr(data, "unknown key 'note'"));
	assert_non_null(strstr(data, "decision not recorded"));
	free(data);
	assert_int_equal(audited("approval.invalid",
	    "/approvals/R-1/decision.yaml", "unknown key 'note'", NULL), 1);
	assert_int_equal(audited("approval.invalid",
	    "/approvals/R-1/decision.yaml", "maybe", NULL), 1);
	/* a rejection without a reason */
	assert_int_equal(put(c, "/approvals/R-1/decision.yaml",
	    "decision: reject\n", 17), SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "needs a 'reason'"));
	assert_int_equal(get(c, "/approvals/R-1/decision.error", &data, &len),
	    SSH_FX_OK);
	assert_non_null(strstr(data, "needs a 'reason'"));
	assert_null(strstr(data, "note"));	/* the latest reason only */
	free(data);
	assert_int_equal(audited("approval.invalid", NULL, NULL, NULL), 3);
	/* decision.error is relgate's: read-only, stays */
	assert_int_equal(put(c, "/approvals/R-1/decision.error", "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE,
	    "/approvals/R-1/decision.error"), SSH_FX_PERMISSION_DENIED);
	assert_true(exists("requests/R-1/decisions/staff-ben.error"));
	/* the real one */
	assert_int_equal(put(c, "/approvals/R-1/decision.yaml", dec,
	    sizeof(dec) - 1), SSH_FX_OK);
	data = slurp("requests/R-1/decisions/staff-ben.yaml", &len);
	assert_non_null(data);
	assert_string_equal(data, dec);
	free(data);
	assert_false(exists("requests/R-1/decisions/staff-ben.yaml.new"));
	/* a decision taken clears the earlier refusal */
	assert_false(exists("requests/R-1/decisions/staff-ben.error"));
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/approvals/R-1/decision.error"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(queued(QUEUE_DECISION, &qe), 1);
	assert_string_equal(qe.request, "R-1");
	assert_string_equal(qe.user, "staff-ben");
	/* recorded with the SHA-256 of the decision as stored */
	{
		struct acount au;
		unsigned char md[32];
		char hex[65];

		assert_int_equal(audited("file.upload",
		    "/approvals/R-1/decision.yaml", "approve", &au), 1);
		EVP_Digest(dec, sizeof(dec) - 1, md, NULL, EVP_sha256(), NULL);
		hex_encode(hex, md, 32);
		assert_string_equal(au.sha, hex);
	}
	assert_int_equal(list(c, "/approvals/R-1", names, sizeof(names)),
	    SSH_FX_OK);
	assert_non_null(strstr(names, "decision.yaml\n"));
	assert_int_equal(path_op(c, SSH_FXP_REMOVE,
	    "/approvals/R-1/decision.yaml"), SSH_FX_PERMISSION_DENIED);
	assert_true(exists("requests/R-1/decisions/staff-ben.yaml"));

	/* planted links in the request record are not followed */
	{
		char l[1024], t[1024];

		snprintf(t, sizeof(t), "%s/secret.txt", outside);
		assert_int_equal(file_write_atomic(t, "outside", 7, 0600,
		    NULL), 0);
		snprintf(l, sizeof(l), "%s/requests/R-1/status.json", state);
		assert_int_equal(unlink(l), 0);
		assert_int_equal(symlink(t, l), 0);
		snprintf(l, sizeof(l), "%s/requests/R-9", state);
		assert_int_equal(symlink(outside, l), 0);	/* a record */
		assert_int_equal(path_op(c, SSH_FXP_STAT,
		    "/approvals/R-1/status.json"), SSH_FX_NO_SUCH_FILE);
		assert_int_equal(open_p(c, "/approvals/R-1/status.json",
		    SSH_FXF_READ), SSH_FX_NO_SUCH_FILE);
		assert_int_equal(path_op(c, SSH_FXP_STAT, "/approvals/R-9"),
		    SSH_FX_NO_SUCH_FILE);
		assert_int_equal(list(c, "/approvals/R-1", names,
		    sizeof(names)), SSH_FX_OK);
		assert_null(strstr(names, "status.json"));
	}
	cli_free(c);

	/* a decision upload broken off leaves nothing behind */
	c = login("staff-ben", ROLE_STAFF | ROLE_APPROVER);
	assert_int_equal(open_p(c, "/approvals/R-1/decision.yaml",
	    SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC), SSH_FX_OK);
	{
		unsigned char h[8];

		memcpy(h, c->handle, 8);
		assert_int_equal(write_at(c, h, 8, 0, "decision: rej", 13),
		    SSH_FX_OK);
	}
	assert_true(exists("requests/R-1/decisions/staff-ben.yaml.new"));
	cli_free(c);
	assert_false(exists("requests/R-1/decisions/staff-ben.yaml.new"));
	data = slurp("requests/R-1/decisions/staff-ben.yaml", &len);
	assert_string_equal(data, dec);		/* the stored one stays */
	free(data);
	assert_int_equal(queued(QUEUE_DECISION, NULL), 1);
	assert_int_equal(audited("file.upload",
	    "/approvals/R-1/decision.yaml", "broken off", NULL), 1);

	/* iam-jo, approver only: no /requests; sees */
	c = login("iam-jo", ROLE_APPROVER);
	assert_int_equal(list(c, "/", names, sizeof(names)), SSH_FX_OK);
	assert_string_equal(names, "approvals\n");
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/requests"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/requests"),
	    SSH_FX_PERMISSION_DENIED);
	assert_false(exists("spool/staff/iam-jo"));
	assert_int_equal(list(c, "/approvals", names, sizeof(names)),
	    SSH_FX_OK);
	assert_non_null(strstr(names, "R-1\n"));
	assert_non_null(strstr(names, "R-2\n"));
	assert_null(strstr(names, "R-3"));
	/* staff-ben's decision is not iam-jo's */
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/approvals/R-1/decision.yaml"), SSH_FX_NO_SUCH_FILE);
	/* a request already decided, or not yet checked: refused at CLOSE,
	 * with the reason in iam-jo's own decision.error */
	{
		char l[1024];

		snprintf(l, sizeof(l), "%s/requests/R-1/status.json", state);
		assert_int_equal(unlink(l), 0);	/* the planted link */
	}
	mkfile("requests/R-1/status.json", "{\"request\": \"R-1\", "
	    "\"state\": \"rejected\"}");
	assert_int_equal(put(c, "/approvals/R-1/decision.yaml", dec,
	    sizeof(dec) - 1), SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "already rejected"));
	assert_false(exists("requests/R-1/decisions/iam-jo.yaml"));
	assert_false(exists("requests/R-1/decisions/iam-jo.yaml.new"));
	assert_int_equal(queued(QUEUE_DECISION, NULL), 1);
	assert_int_equal(get(c, "/approvals/R-1/decision.error", &data, &len),
	    SSH_FX_OK);
	assert_non_null(strstr(data, "already rejected"));
	free(data);
	assert_int_equal(audited("approval.invalid", NULL, "already rejected",
	    NULL), 1);
	mkfile("requests/R-1/status.json", "{\"request\": \"R-1\", "
	    "\"state\": \"checking\"}");
	assert_int_equal(put(c, "/approvals/R-1/decision.yaml", dec,
	    sizeof(dec) - 1), SSH_FX_FAILURE);
	assert_non_null(strstr(c->msg, "still being checked"));
	assert_int_equal(queued(QUEUE_DECISION, NULL), 1);
	/* the extract is iam-jo's to read too */
	assert_int_equal(get(c, "/approvals/R-1/data.csv", &data, &len),
	    SSH_FX_OK);
	free(data);
	cli_free(c);

	/* each approver sees their own decision.error only */
	c = login("staff-ben", ROLE_STAFF | ROLE_APPROVER);
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/approvals/R-1/decision.error"), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(list(c, "/approvals/R-1", names, sizeof(names)),
	    SSH_FX_OK);
	assert_null(strstr(names, "decision.error"));
	cli_free(c);
}

/* ---- contractor, officer ---------------------------------------------- */

static void
test_contractor(void **st)
{
	struct cli *c;
	char names[4096], *data, *gpg;
	size_t len, n = 100000;
	unsigned char h[8];
	struct queue_entry qe;
	struct acount a;
	char p[1024];

	(void)st;
	assert_non_null(gpg = malloc(n));
	memset(gpg, 'G', n);
	snprintf(p, sizeof(p), "%s/releases/DEMO-1/DEMO-1-001.tar.zst.gpg",
	    state);
	assert_int_equal(file_write_atomic(p, gpg, n, 0600, NULL), 0);
	mkfile("releases/DEMO-1/DEMO-1-001.tar.zst.gpg.sha256", "abc\n");
	mkfile("releases/DEMO-1/.tmp.DEMO-1-002", "partial");
	c = login("acme-ana", ROLE_CONTRACTOR);
	assert_int_equal(list(c, "/", names, sizeof(names)), SSH_FX_OK);
	assert_string_equal(names, "releases\n");
	assert_int_equal(list(c, "/releases", names, sizeof(names)),
	    SSH_FX_OK);
	assert_string_equal(names, "gateway.asc\nDEMO-1\n");
	assert_int_equal(list(c, "/releases/DEMO-1", names, sizeof(names)),
	    SSH_FX_OK);
	assert_non_null(strstr(names, "DEMO-1-001.tar.zst.gpg\n"));
	assert_null(strstr(names, ".tmp"));
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/releases/DEMO-2"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(open_p(c, "/releases/DEMO-2/DEMO-2-001.tar.zst.gpg",
	    SSH_FXF_READ), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(get(c, "/releases/gateway.asc", &data, &len),
	    SSH_FX_OK);
	free(data);
	/* read-only everywhere */
	assert_int_equal(put(c, "/releases/DEMO-1/x", "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	assert_false(exists("releases/DEMO-1/x"));
	assert_int_equal(path_op(c, SSH_FXP_MKDIR, "/releases/DEMO-1/d"),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE,
	    "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg"),
	    SSH_FX_PERMISSION_DENIED);
	assert_true(exists("releases/DEMO-1/DEMO-1-001.tar.zst.gpg"));
	assert_int_equal(rename_op(c, "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg",
	    "/releases/DEMO-1/y", 1), SSH_FX_PERMISSION_DENIED);
	assert_true(audited("access.denied", "/releases/DEMO-1/x", NULL,
	    NULL) >= 1);
	/* FSTAT of a read handle shows no write bits */
	assert_int_equal(open_p(c, "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg",
	    SSH_FXF_READ), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	assert_int_equal(hop(c, SSH_FXP_FSTAT, h, 8), SSH_FX_OK);
	assert_int_equal(c->attrs.perm & 0222, 0);
	/* a partial download: audited as broken off, not counted */
	assert_int_equal(read_at(c, h, 8, 0, 1000), SSH_FX_OK);
	assert_int_equal(hop(c, SSH_FXP_CLOSE, h, 8), SSH_FX_OK);
	assert_int_equal(queued(QUEUE_DOWNLOAD, NULL), 0);
	assert_int_equal(audited("file.download", NULL, "broken off", &a), 1);
	assert_int_equal(a.bytes, 1000);
	assert_int_equal(audited("download.started",
	    "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg", NULL, NULL), 1);
	/* a whole one: counted */
	assert_int_equal(get(c, "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg",
	    &data, &len), SSH_FX_OK);
	assert_int_equal(len, n);
	assert_memory_equal(data, gpg, n);
	free(data);
	assert_int_equal(queued(QUEUE_DOWNLOAD, &qe), 1);
	assert_string_equal(qe.contract, "DEMO-1");
	assert_string_equal(qe.release, "DEMO-1-001");
	assert_string_equal(qe.user, "acme-ana");
	assert_int_equal(audited("file.download",
	    "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg", "complete", &a), 1);
	assert_int_equal(a.bytes, n);
	/* the .sha256 sidecar is not a download of the release */
	assert_int_equal(get(c, "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg."
	    "sha256", &data, &len), SSH_FX_OK);
	free(data);
	assert_int_equal(queued(QUEUE_DOWNLOAD, NULL), 1);
	/* a broken-off channel with a handle open */
	assert_int_equal(open_p(c, "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg",
	    SSH_FXF_READ), SSH_FX_OK);
	memcpy(h, c->handle, 8);
	assert_int_equal(read_at(c, h, 8, 0, 10), SSH_FX_OK);
	cli_free(c);
	assert_int_equal(audited("file.download", NULL, "broken off", NULL),
	    2);
	assert_int_equal(queued(QUEUE_DOWNLOAD, NULL), 1);
	free(gpg);

	/* planted links among the releases are not followed */
	c = login("acme-ana", ROLE_CONTRACTOR);
	snprintf(p, sizeof(p), "%s/releases/DEMO-1/DEMO-1-009.tar.zst.gpg",
	    state);
	assert_int_equal(symlink("../DEMO-2/DEMO-2-001.tar.zst.gpg", p), 0);
	snprintf(p, sizeof(p), "%s/releases/DEMO-1/up", state);
	assert_int_equal(symlink("../DEMO-2", p), 0);
	assert_int_equal(open_p(c, "/releases/DEMO-1/DEMO-1-009.tar.zst.gpg",
	    SSH_FXF_READ), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(open_p(c, "/releases/DEMO-1/up/DEMO-2-001.tar.zst.gpg",
	    SSH_FXF_READ), SSH_FX_NO_SUCH_FILE);
	assert_int_equal(list(c, "/releases/DEMO-1", names, sizeof(names)),
	    SSH_FX_OK);
	assert_null(strstr(names, "009"));
	assert_null(strstr(names, "up\n"));
	cli_free(c);

	/* beta-bo sees DEMO-2 only */
	c = login("beta-bo", ROLE_CONTRACTOR);
	assert_int_equal(list(c, "/releases", names, sizeof(names)),
	    SSH_FX_OK);
	assert_string_equal(names, "gateway.asc\nDEMO-2\n");
	assert_int_equal(path_op(c, SSH_FXP_STAT,
	    "/releases/DEMO-1/DEMO-1-001.tar.zst.gpg"), SSH_FX_NO_SUCH_FILE);
	cli_free(c);
}

static void
test_officer(void **st)
{
	struct cli *c = login("sec-oli", ROLE_OFFICER);
	char names[4096], *data;
	size_t len;

	(void)st;
	assert_int_equal(list(c, "/", names, sizeof(names)), SSH_FX_OK);
	assert_string_equal(names, "audit\n");
	assert_int_equal(list(c, "/audit", names, sizeof(names)), SSH_FX_OK);
	assert_string_equal(names, "2026-11-25.jsonl\n");
	assert_int_equal(get(c, "/audit/2026-11-25.jsonl", &data, &len),
	    SSH_FX_OK);
	assert_string_equal(data, "{\"seq\":1}\n");
	free(data);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/audit/.tmp.x"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(put(c, "/audit/2026-11-25.jsonl", "x", 1),
	    SSH_FX_PERMISSION_DENIED);
	data = slurp("audit-export/2026-11-25.jsonl", &len);
	assert_string_equal(data, "{\"seq\":1}\n");
	free(data);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE, "/audit/2026-11-25.jsonl"),
	    SSH_FX_PERMISSION_DENIED);
	assert_int_equal(path_op(c, SSH_FXP_REMOVE, "/audit/missing"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/requests"),
	    SSH_FX_NO_SUCH_FILE);
	assert_int_equal(path_op(c, SSH_FXP_STAT, "/releases"),
	    SSH_FX_NO_SUCH_FILE);
	assert_true(exists("audit-export/2026-11-25.jsonl"));
	cli_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_and_framing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limits_statvfs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_staff_upload_and_submit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_staff_withdraw_after_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staff_filepart_rename,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_open_for_write_blocks_submission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_broken_off, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_setstat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traversal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_openat2, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_walk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_bounds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_approver, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_contractor, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_officer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
