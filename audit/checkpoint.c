/*
 * audit/checkpoint.c — signed checkpoints. A checkpoint is a log.checkpoint
 * record in the chain whose own hash (and so every record before it) is
 * signed with the gateway's OpenPGP key. The signature goes into the
 * checkpoints table and, for the latest one, into
 * STATE_DIR/audit/checkpoint.asc, outside the database, so cutting records
 * off the end of the log (and the checkpoints table with them) still shows.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "keys/keys.h"

#define STATEMENT_HEAD	"relgate audit checkpoint v1\n"

int
audit_checkpoint_statement(uint64_t seq, const char *hash, struct buf *out)
{
	return buf_printf(out, STATEMENT_HEAD "seq %llu\nhash %s\n",
	    (unsigned long long)seq, hash);
}

/* Serialise signers across processes, so the latest-checkpoint file only
 * ever moves forward. */
static int
sign_lock(const char *state_dir, struct diag *d)
{
	char path[4096];
	int fd;

	if (audit_path(path, sizeof(path), state_dir, "checkpoint.lock") != 0)
		return diag_set(d, RG_EINVAL, state_dir, 0, 0, "path too long");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return diag_set(d, RG_EIO, path, 0, 0, "open: %s",
		    strerror(errno));
	if (flock(fd, LOCK_EX) != 0) {
		close(fd);
		return diag_set(d, RG_EIO, path, 0, 0, "lock: %s",
		    strerror(errno));
	}
	return fd;
}

static int
sign_one(struct audit_store *s, const char *state_dir, uint64_t seq,
    const char *hash, audit_sig_put_fn put, void *ctx, struct diag *d)
{
	char path[4096], oldhash[AUDIT_HASH_HEX + 1];
	struct buf st, sig, head;
	uint64_t oldseq = 0;
	int rc;

	buf_init(&st, 512);
	buf_init(&sig, 64 * 1024);
	buf_init(&head, 80 * 1024);
	if ((rc = audit_checkpoint_statement(seq, hash, &st)) != 0)
		goto out;
	if ((rc = gateway_pgp_sign(state_dir, st.data, st.len, &sig, d)) != 0)
		goto out;
	if ((rc = buf_cstr(&sig)) != 0)
		goto out;
	rc = put ? put(seq, hash, (char *)sig.data, ctx) :
	    s->ops->sig_put(s, seq, hash, (char *)sig.data, d);
	if (rc != 0)
		goto out;
	if (audit_head_read(state_dir, &oldseq, oldhash, NULL, NULL,
	    NULL) == 0 &&
	    oldseq >= seq)
		goto out;
	if ((rc = buf_append(&head, st.data, st.len)) != 0 ||
	    (rc = buf_append(&head, sig.data, sig.len)) != 0)
		goto out;
	if ((rc = audit_path(path, sizeof(path), state_dir,
	    AUDIT_HEAD_NAME)) != 0)
		goto out;
	rc = file_write_atomic(path, head.data, head.len, 0600, d);
out:
	buf_free(&st);
	buf_free(&sig);
	buf_free(&head);
	return rc;
}

struct pending {
	uint64_t seq[64];
	char	hash[64][AUDIT_HASH_HEX + 1];
	size_t	n;
	uint64_t last_signed;
};

static int
on_signed(uint64_t seq, const char *hash, const char *sig, void *ctx)
{
	struct pending *p = ctx;

	(void)hash;
	(void)sig;
	if (seq > p->last_signed)
		p->last_signed = seq;
	return 0;
}

static int
on_unsigned(const struct audit_record *r, void *ctx)
{
	struct pending *p = ctx;

	if (p->n == RG_ARRAY_LEN(p->seq))
		return 1;
	p->seq[p->n] = r->seq;
	memcpy(p->hash[p->n], r->hash, sizeof(r->hash));
	p->n++;
	return 0;
}

int
audit_checkpoint_sign(struct audit_store *s, const char *state_dir,
    uint64_t seq, const char *hash, struct diag *d)
{
	return audit_checkpoint_sign_ex(s, state_dir, seq, hash, 0, NULL, NULL,
	    d);
}

int
audit_checkpoint_sign_ex(struct audit_store *s, const char *state_dir,
    uint64_t seq, const char *hash, uint64_t after, audit_sig_put_fn put,
    void *ctx, struct diag *d)
{
	struct audit_filter f;
	struct pending p;
	size_t i;
	int fd, rc;

	if ((fd = sign_lock(state_dir, d)) < 0)
		return fd;
	/* First the checkpoints left unsigned (a writer killed between
	 * commit and signature), so no signed one follows an unsigned one. */
	memset(&p, 0, sizeof(p));
	rc = s->ops->sig_scan(s, on_signed, &p, d);
	memset(&f, 0, sizeof(f));
	f.type = "log.checkpoint";
	f.after_seq = p.last_signed > after ? p.last_signed : after;
	/* In batches of RG_ARRAY_LEN(p.seq): a writer killed while far
	 * behind leaves more than one batch, and signing only the first
	 * before `seq` would leave a gap that verify reports. */
	while (rc >= 0) {
		p.n = 0;
		rc = s->ops->query(s, &f, on_unsigned, &p, d);
		for (i = 0; rc >= 0 && i < p.n; i++)
			if (p.seq[i] != seq)
				rc = sign_one(s, state_dir, p.seq[i],
				    p.hash[i], put, ctx, d);
		if (p.n < RG_ARRAY_LEN(p.seq))
			break;
		f.after_seq = p.seq[p.n - 1];
	}
	if (rc >= 0 && seq > 0)
		rc = sign_one(s, state_dir, seq, hash, put, ctx, d);
	close(fd);
	return rc < 0 ? rc : RG_OK;
}

/* Parse the latest signed checkpoint file (see audit_int.h). */
int
audit_head_read(const char *state_dir, uint64_t *seq,
    char hash[AUDIT_HASH_HEX + 1], struct buf *stmt, struct buf *sig,
    struct diag *d)
{
	char path[4096], *text = NULL, *p, *end;
	unsigned long long s;
	size_t len, stlen;
	int rc;

	if ((rc = audit_path(path, sizeof(path), state_dir,
	    AUDIT_HEAD_NAME)) != 0)
		return rc;
	if ((rc = file_read_small(&text, &len, path, 128 * 1024, d)) != 0)
		return rc;
	if (strncmp(text, STATEMENT_HEAD, strlen(STATEMENT_HEAD)) != 0)
		goto bad;
	p = text + strlen(STATEMENT_HEAD);
	if (strncmp(p, "seq ", 4) != 0)
		goto bad;
	s = strtoull(p + 4, &end, 10);
	if (*end != '\n' || strncmp(end + 1, "hash ", 5) != 0)
		goto bad;
	p = end + 6;
	if (strlen(p) < AUDIT_HASH_HEX + 1 || p[AUDIT_HASH_HEX] != '\n')
		goto bad;
	memcpy(hash, p, AUDIT_HASH_HEX);
	hash[AUDIT_HASH_HEX] = '\0';
	stlen = (size_t)(p + AUDIT_HASH_HEX + 1 - text);
	rc = RG_OK;
	if (stmt != NULL)
		rc = buf_append(stmt, text, stlen);
	if (rc == 0 && sig != NULL) {
		rc = buf_append(sig, text + stlen, len - stlen);
		if (rc == 0)
			rc = buf_cstr(sig);
	}
	*seq = s;
	free(text);
	return rc;
bad:
	free(text);
	return diag_set(d, RG_EINTEGRITY, path, 0, 0,
	    "latest checkpoint file is malformed");
}
