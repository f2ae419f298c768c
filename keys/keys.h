/*
 * keys/ — every key the gateway handles: per-contract masking keys and
 * HMAC-SHA256 pseudonyms (OpenSSL), the contractors' OpenPGP public keys in
 * the config directory, the gateway's own OpenPGP key (GPGME) and SSH keys.
 *
 * A library: never exits, never prints. Secrets are wiped before free.
 */
#ifndef RG_KEYS_H
#define RG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#ifndef DATE_UNSET
#define DATE_UNSET	(-1000000L)
#endif

/* ---- masking --------------------------------------------------------- */

#define MASK_KEY_LEN	32
#define MASK_TOKEN_LEN	64	/* lowercase hex digits, without NUL */

/*
 * Load the masking key of contract `contract_id` from
 * STATE_DIR/keys/masking/ID.key; when it does not exist and create is set,
 * make one with the kernel CSPRNG and store it owner-only (0600, folder
 * 0700), durably. RG_ENOENT when missing and create is 0.
 */
int	mask_key_load(unsigned char key[MASK_KEY_LEN], const char *state_dir,
	    const char *contract_id, int create, struct diag *d);

struct masker;

/* A reusable HMAC-SHA256 context for one key. *out is the caller's. */
int	masker_new(struct masker **out, const unsigned char key[MASK_KEY_LEN]);
/* Write the 64-hex token of value[0..len) and a NUL into out[65]. */
int	masker_token(struct masker *m, const char *value, size_t len,
	    char out[MASK_TOKEN_LEN + 1]);
/* Wipe and free; NULL-safe. */
void	masker_free(struct masker *m);

/* ---- contractors' OpenPGP keys (config DIR/keys/pgp/ *.asc) ----------- */

struct pgp_keyinfo {
	char	fpr[41];		/* primary key fingerprint, upper hex */
	char	subkey_fprs[8][41];	/* subkeys (a recipient may name one) */
	size_t	n_subkeys;
	long	expires;		/* days since epoch; DATE_UNSET never */
	int	can_encrypt;		/* has a usable encryption (sub)key */
	int	revoked;
	char	file[256];		/* the .asc it came from */
};

/*
 * Read every *.asc in dir without importing into any keyring the gateway
 * uses. *out (free()) holds *n keys. A file that cannot be read is reported
 * through problems (may be NULL) and skipped.
 */
int	pgp_dir_scan(struct pgp_keyinfo **out, size_t *n, const char *dir,
	    struct diag *d);
/*
 * As pgp_dir_scan(), and also hand back one diag per *.asc file that could
 * not be read or holds no usable key (*bad, free(); may be NULL). A
 * missing dir is an empty scan, not an error.
 */
int	pgp_dir_scan_ex(struct pgp_keyinfo **out, size_t *n,
	    struct diag **bad, size_t *n_bad, const char *dir,
	    struct diag *d);

/* ---- the gateway's own OpenPGP key (STATE_DIR/gnupg) ------------------- */

/* Make the gateway's Ed25519 signing key on first use; write its
 * fingerprint into fpr[41]. The GnuPG home is owner-only. */
int	gateway_pgp_ensure(const char *state_dir, char fpr[41],
	    struct diag *d);
/* Detached, armoured signature of data by the gateway key into sig. */
int	gateway_pgp_sign(const char *state_dir, const void *data, size_t len,
	    struct buf *sig, struct diag *d);
/* Verify a detached signature made by the gateway key; RG_EINTEGRITY when
 * it does not verify. */
int	gateway_pgp_verify(const char *state_dir, const void *data, size_t len,
	    const void *sig, size_t siglen, struct diag *d);
/* The gateway's public key, armoured, into out. */
int	gateway_pgp_export(const char *state_dir, struct buf *out,
	    struct diag *d);

#endif /* RG_KEYS_H */
