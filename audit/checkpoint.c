/*
 * audit/checkpoint.c — signed checkpoints. A checkpoint is a log.checkpoint
 * record in the chain whose own hash (and so every record before it) is
 * signed with the gateway's OpenPGP key. The signature goes into the
 * checkpoints table and, for the latest one, into
 * STATE_DIR/audit/checkpoint.asc, outside the database, so cutting records
 * off the end of the log (and the checkpoints table with them) still shows.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "keys/keys.h"

#define STATEMENT_HEAD	"relgate audit checkpoint v1\n"

int
audit_checkpoint_statement(uint64_t seq, const char *hash, struct buf *out)
{
	return buf_printf(out, STATEMENT_HEAD "seq %llu\nhash %s\n",
	    (unsigned long long)seq, hash);
}

int
audit_checkpoint_sign(struct audit_store *s, const char *state_dir,
    uint64_t seq, const char *hash, struct diag *d)
{
	struct buf st, sig, head;
	char path[4096];
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
	if ((rc = s->ops->sig_put(s, seq, hash, (char *)sig.data, d)) != 0)
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

/* Read and verify the latest signed checkpoint (see audit_int.h). */
int
audit_head_read(const char *state_dir, uint64_t *seq,
    char hash[AUDIT_HASH_HEX + 1], struct diag *d)
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
	rc = RG_EINTEGRITY;
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
	if (gateway_pgp_verify(state_dir, text, stlen, text + stlen,
	    len - stlen, d) != 0)
		goto bad;
	*seq = s;
	free(text);
	return RG_OK;
bad:
	free(text);
	return diag_set(d, rc, path, 0, 0, "latest checkpoint does not verify");
}
