/*
 * Per-contract masking keys (STATE_DIR/keys/masking/ID.key) and HMAC-SHA256
 * pseudonyms under them (OpenSSL EVP_MAC, one context reused per token).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SHA256_Init() and friends: see struct masker below. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#include "keys/keys.h"

static int
read_key(unsigned char key[MASK_KEY_LEN], const char *path, struct diag *d)
{
	return file_read_private(key, MASK_KEY_LEN, MASK_KEY_LEN, NULL, path,
	    "masking key", d);
}

/*
 * When root makes a key in a state directory that belongs to the service
 * user (`relgate mask` run by root on the host), hand the new folders and
 * the key to that user, or relgated could not read it.
 */
static void
give_to_state_owner(const char *state_dir, const char *maskdir,
    const char *keyfile)
{
	char keys[PATH_MAX];
	const char *paths[3];
	struct stat st, pst;
	size_t i;

	if (geteuid() != 0 || stat(state_dir, &st) == -1 || st.st_uid == 0)
		return;
	if ((size_t)snprintf(keys, sizeof(keys), "%s/keys", state_dir) >=
	    sizeof(keys))
		return;
	paths[0] = keys;
	paths[1] = maskdir;
	paths[2] = keyfile;
	for (i = 0; i < RG_ARRAY_LEN(paths); i++)
		if (lstat(paths[i], &pst) == 0 && pst.st_uid == 0)
			if (lchown(paths[i], st.st_uid, st.st_gid) == -1)
				continue;	/* best effort: the load reports */
}

/*
 * Load (or, with create, make) the masking key of a contract. A new key is
 * written durably to a private temporary name (file_write_atomic: 0600,
 * fsync, rename, fsync folder) and then link()ed to ID.key, which never
 * replaces an existing file: when two processes race, both end up with the
 * key that got there first.
 */
int
mask_key_load(unsigned char key[MASK_KEY_LEN], const char *state_dir,
    const char *contract_id, int create, struct diag *d)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	unsigned char fresh[MASK_KEY_LEN], nonce[8];
	struct stat st;
	char nhex[17];
	int rc;

	if (!name_is_safe(contract_id, 64))
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "not a valid contract id");
	if (rg_random(nonce, sizeof(nonce)) != RG_OK)
		return diag_set(d, RG_EIO, NULL, 0, 0,
		    "no randomness from the kernel");
	hex_encode(nhex, nonce, sizeof(nonce));
	if ((size_t)snprintf(dir, sizeof(dir), "%s/keys/masking", state_dir) >=
	    sizeof(dir) || (size_t)snprintf(path, sizeof(path), "%s/%s.key",
	    dir, contract_id) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.key.%s", dir,
	    contract_id, nhex) >= sizeof(tmp))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0,
		    "path too long");
	rc = read_key(key, path, d);
	if (rc != RG_ENOENT)
		return rc;
	if (!create)
		return diag_set(d, RG_ENOENT, path, 0, 0,
		    "no masking key for contract %s", contract_id);
	if (dir_make(dir, 0700) != RG_OK)
		return diag_set(d, RG_EIO, dir, 0, 0, "cannot make folder: %s",
		    strerror(errno));
	if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 077) != 0)
		(void)chmod(dir, 0700);
	if (rg_random(fresh, sizeof(fresh)) != RG_OK)
		return diag_set(d, RG_EIO, NULL, 0, 0,
		    "no randomness from the kernel");
	rc = file_write_atomic(tmp, fresh, sizeof(fresh), 0600, d);
	rg_wipe(fresh, sizeof(fresh));
	if (rc != RG_OK) {
		unlink(tmp);
		return rc;
	}
	give_to_state_owner(state_dir, dir, tmp);
	if (link(tmp, path) == -1 && errno != EEXIST) {
		rc = diag_set(d, RG_EIO, path, 0, 0, "link: %s",
		    strerror(errno));
		unlink(tmp);
		return rc;
	}
	unlink(tmp);
	if (dir_fsync(dir) != RG_OK)
		return diag_set(d, RG_EIO, dir, 0, 0, "fsync: %s",
		    strerror(errno));
	return read_key(key, path, d);
}

/*
 * HMAC-SHA256 (RFC 2104) with the inner and outer hash states of the key
 * computed once: a token then costs two SHA-256 compressions plus the
 * value, with no allocation. OpenSSL 3 marks the low-level SHA256_*
 * functions deprecated; its EVP_MAC re-initialisation allocates and copies
 * a provider context per call, several times slower on short values. The
 * result is checked against EVP_MAC-compatible vectors in the unit test.
 */
struct masker {
	SHA256_CTX inner, outer;
};

/* A reusable HMAC-SHA256 context for key. *out is the caller's. */
int
masker_new(struct masker **out, const unsigned char key[MASK_KEY_LEN])
{
	unsigned char pad[SHA256_CBLOCK];
	struct masker *m;
	size_t i;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return RG_ENOMEM;
	/* The key is shorter than a block: zero-padded, never hashed. */
	memset(pad, 0x36, sizeof(pad));
	for (i = 0; i < MASK_KEY_LEN; i++)
		pad[i] ^= key[i];
	if (!SHA256_Init(&m->inner) ||
	    !SHA256_Update(&m->inner, pad, sizeof(pad)))
		goto fail;
	memset(pad, 0x5c, sizeof(pad));
	for (i = 0; i < MASK_KEY_LEN; i++)
		pad[i] ^= key[i];
	if (!SHA256_Init(&m->outer) ||
	    !SHA256_Update(&m->outer, pad, sizeof(pad)))
		goto fail;
	rg_wipe(pad, sizeof(pad));
	*out = m;
	return RG_OK;
fail:
	rg_wipe(pad, sizeof(pad));
	masker_free(m);
	return RG_ECRYPTO;
}

/* The token of value[0..len): 64 lowercase hex digits and a NUL. */
int
masker_token(struct masker *m, const char *value, size_t len,
    char out[MASK_TOKEN_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	c = m->inner;
	SHA256_Update(&c, value, len);
	SHA256_Final(md, &c);
	c = m->outer;
	SHA256_Update(&c, md, sizeof(md));
	SHA256_Final(md, &c);
	hex_encode(out, md, sizeof(md));
	rg_wipe(&c, sizeof(c));
	return RG_OK;
}

/* Wipe and free; NULL-safe. */
void
masker_free(struct masker *m)
{
	if (m == NULL)
		return;
	rg_wipe(m, sizeof(*m));
	free(m);
}
