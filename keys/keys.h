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
#include <time.h>

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


/* ---- SSH keys (keys/ssh_keys.c): host keys and authorized keys ------- */

struct ssh_key_struct;		/* libssh's key; only gateway/ holds one */

#define SSH_HOSTKEY_ED25519	"ssh_host_ed25519_key"
#define SSH_HOSTKEY_ECDSA	"ssh_host_ecdsa_key"

/*
 * Make STATE_DIR/ssh/ (0700) and, where missing, an Ed25519 and an ECDSA
 * P-256 host key in it (private key 0600 in OpenSSH format, and NAME.pub).
 * Existing keys are kept. Writes the two private key paths into ed_path and
 * ec_path (each pathlen bytes).
 */
int	ssh_hostkeys_ensure(const char *state_dir, char *ed_path,
	    char *ec_path, size_t pathlen, struct diag *d);
/*
 * 1 when the public key `key` equals the key of one of the n
 * authorized_keys lines (ssh_key_match() >= 0); 0 otherwise. Lines with
 * other options (from=, command=, ...), certificates and lines that do not
 * parse never match.
 */
int	ssh_key_authorized(struct ssh_key_struct *key, char *const *lines,
	    size_t n);
/* Check one authorized_keys line: RG_OK, or RG_EPARSE with why in d. */
int	ssh_authorized_line_check(const char *line, struct diag *d);

/* authorized_keys options relgate understands, only on security keys. */
#define SSHKEY_OPT_VERIFY_REQUIRED	(1u << 0)
#define SSHKEY_OPT_NO_TOUCH_REQUIRED	(1u << 1)

/*
 * Index of the first authorized_keys line whose key equals `key` (public
 * parts; options allowed: only verify-required and no-touch-required, only
 * on sk keys), its SSHKEY_OPT_* bits into *opts (may be NULL); -1 when
 * none, *opts untouched. Lines that do not parse never match.
 */
int	ssh_key_match(struct ssh_key_struct *key, char *const *lines,
	    size_t n, unsigned *opts);
/* 1 for sk-ssh-ed25519@openssh.com / sk-ecdsa-sha2-nistp256@openssh.com
 * keys (FIDO security keys); 0 otherwise. */
int	ssh_key_is_security_key(struct ssh_key_struct *key);
/*
 * SHA-256 of the FIDO application string ("ssh:" usually) inside the sk
 * key of an authorized_keys line (options allowed) into out; RG_EINVAL
 * when the line is not a well-formed sk key.
 */
int	ssh_line_sk_app_hash(const char *line, unsigned char out[32]);
/* "SHA256:base64" fingerprint of key into out[len]; RG_ETOOBIG when short,
 * RG_ECRYPTO when libssh fails. */
int	ssh_key_fingerprint(struct ssh_key_struct *key, char *out, size_t len);
/*
 * Read the options field that may start an authorized_keys line: the
 * SSHKEY_OPT_* bits into *opts and the offset of the key type into
 * *key_off. RG_OK (also for a line without options), or RG_EINVAL with a
 * reason in why[whylen]: an unknown key type, an option other than
 * verify-required / no-touch-required, or one on a key that is not a
 * security key. Checks nothing after the key type.
 */
int	ssh_line_options(const char *line, unsigned *opts, size_t *key_off,
	    char *why, size_t whylen);
/*
 * Make a new Ed25519 user key: private key at path (0600, OpenSSH format,
 * no passphrase) and its authorized_keys line ("ssh-ed25519 B64 comment")
 * at path.pub; the line also into line[linelen] when line is not NULL.
 */
int	ssh_userkey_generate(const char *path, const char *comment,
	    char *line, size_t linelen, struct diag *d);

/* ---- signing and encrypting releases (keys/pgp_encrypt.c) ------------- */

/* Plaintext source: up to len bytes into buf; bytes given, 0 at the end,
 * -1 on error. */
typedef long (*pgp_read_fn)(void *arg, void *buf, size_t len);
/* Ciphertext sink: all len bytes or -1. */
typedef long (*pgp_write_fn)(void *arg, const void *buf, size_t len);

/*
 * Sign with the gateway key (STATE_DIR/gnupg, made on first use) and
 * encrypt to every recipient fingerprint, streaming: plaintext is pulled
 * through rd, the binary OpenPGP message pushed through wr. No OpenPGP
 * compression (the payload is compressed already). Recipients' public keys
 * are imported from pgp_dir (CONFIG/keys/pgp) into the gateway keyring when
 * missing. RG_ENOENT when a recipient key is missing, RG_ECRYPTO when GnuPG
 * fails; detail in d.
 */
int	pgp_encrypt_sign(const char *state_dir, const char *pgp_dir,
	    char *const *recipients, size_t n_recipients, pgp_read_fn rd,
	    void *rd_arg, pgp_write_fn wr, void *wr_arg, struct diag *d);
/*
 * As pgp_encrypt_sign, the plaintext being head[0..head_len) followed by
 * the whole file fd (read from offset 0 with pread/splice; its file offset
 * is left alone).
 */
int	pgp_encrypt_sign_fd(const char *state_dir, const char *pgp_dir,
	    char *const *recipients, size_t n_recipients, const void *head,
	    size_t head_len, int fd, pgp_write_fn wr, void *wr_arg,
	    struct diag *d);
/* Import every *.asc of pgp_dir (CONFIG/keys/pgp) into the gateway
 * keyring, new keys and updates of known ones (pgp_encrypt_sign imports
 * by itself too when it meets a recipient it does not know). */
int	pgp_import_keys(const char *state_dir, const char *pgp_dir,
	    struct diag *d);
/* The gateway key's fingerprint (gateway_pgp_ensure, made on first use),
 * remembered for the process. */
int	pgp_signer_fpr(const char *state_dir, char fpr[41], struct diag *d);

/* ---- second factors (keys/totp.c, keys/password.c, keys/auth_store.c) - */

#define TOTP_SECRET_BYTES	20	/* 160 bits, product.md */

/* RFC 4648 base32, upper case, no padding; RG_ETOOBIG when out is short
 * (it needs (len * 8 + 4) / 5 + 1 bytes). */
int	base32_encode(char *out, size_t outlen, const unsigned char *in,
	    size_t len);
/* Decode base32 (either case; '=' padding and spaces ignored) into out;
 * the number of bytes, or -1 for bad input or an out that is too short. */
long	base32_decode(unsigned char *out, size_t outlen, const char *in);
/* HOTP/TOTP value of one time step: HMAC-SHA1, RFC 4226 dynamic
 * truncation, modulo 10^digits (digits 1..9; 0 otherwise). */
uint32_t totp_code(const unsigned char *secret, size_t len, uint64_t step,
	    int digits);
/*
 * 1 when code (exactly `digits` ASCII digits, 6..8) matches a step in
 * [now/period - skew, now/period + skew]; every candidate is compared in
 * constant time (CRYPTO_memcmp); *step_out (may be NULL) = the matching
 * step, the latest should two match. 0 otherwise.
 */
int	totp_match(const unsigned char *secret, size_t len, const char *code,
	    time_t now, int period, int digits, int skew, uint64_t *step_out);
/* otpauth://totp/ISSUER:USER?secret=B32&issuer=ISSUER&algorithm=SHA1&
 * digits=D&period=P, names percent-encoded; RG_ETOOBIG, RG_EINVAL. */
int	totp_uri(char *out, size_t outlen, const char *issuer,
	    const char *user, const char *secret_b32, int digits, int period);
/* yescrypt hash ("$y$...") of pw under a fresh salt at libxcrypt's
 * default cost into out; RG_EINVAL for an empty pw. */
int	password_hash_make(const char *pw, char *out, size_t outlen,
	    struct diag *d);
/* 1 when pw matches hash (crypt_r, then CRYPTO_memcmp of the whole
 * output); 0 otherwise, also for an empty pw or a hash that is not a
 * well-formed "$y$" hash. */
int	password_verify(const char *pw, const char *hash);

/*
 * STATE_DIR/auth/ (0700, files 0600, every write durable); for the master
 * and the CLI, never a session. User names must be safe names (a '/',
 * "." or ".." is refused with RG_EINVAL).
 *
 * Make a new 160-bit TOTP secret for user, keep it in
 * STATE_DIR/auth/totp/USER.secret; its base32 text into b32 (33 bytes or
 * more). RG_EEXIST when enrolled already and !force. Removes the user's
 * replay record too.
 */
int	auth_totp_enroll(const char *state_dir, const char *user, int force,
	    char *b32, size_t b32len, struct diag *d);
/* Remove the secret and the replay record; RG_ENOENT when not enrolled. */
int	auth_totp_reset(const char *state_dir, const char *user,
	    struct diag *d);
/* Read the secret into secret[cap], its length into *len; RG_ENOENT when
 * not enrolled, RG_EPERM when the file is open to others. */
int	auth_totp_secret(const char *state_dir, const char *user,
	    unsigned char *secret, size_t cap, size_t *len, struct diag *d);
/* The replay guard: RG_OK when step is later than every step accepted for
 * user before, after recording it durably; RG_EEXIST when not (a code
 * used again, or an older one). */
int	auth_totp_use_step(const char *state_dir, const char *user,
	    uint64_t step, struct diag *d);
/*
 * Security-key signature counter of (user, key_id), key_id being the key's
 * "SHA256:..." fingerprint. RG_OK when acceptable, recorded durably: no
 * record yet, counter > stored, or stored == 0 && counter == 0 (a token
 * without a counter). RG_EINTEGRITY when it did not grow.
 */
int	auth_sk_counter(const char *state_dir, const char *user,
	    const char *key_id, uint32_t counter, struct diag *d);

#endif /* RG_KEYS_H */
