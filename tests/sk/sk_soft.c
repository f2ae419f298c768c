/*
 * tests/sk/sk_soft.c — a software FIDO2 authenticator for the test suite:
 * OpenSSH's security-key middleware (sk-api, see sk_api.h), loaded by
 * ssh -o SecurityKeyProvider=, ssh-keygen -w and SSH_SK_PROVIDER, inside
 * /usr/lib/openssh/ssh-sk-helper, which inherits their environment.
 *
 * TEST ONLY, NEVER FOR REAL USE: the key handle, which OpenSSH keeps in
 * the private key file, carries the private key itself, unencrypted.
 * Whoever reads the key file holds the key; there is no device, no touch
 * and nothing kept anywhere else.
 *
 * Keys: ECDSA P-256 (sk-ecdsa-sha2-nistp256@openssh.com) and Ed25519
 * (sk-ssh-ed25519@openssh.com). A signature is made, as a FIDO token makes
 * it, over the authenticator data and the client data hash:
 *	SHA256(application) || flags || counter || SHA256(data)
 * (flags one byte, counter a big-endian u32). Ed25519 signs those 69
 * bytes; ECDSA signs their SHA-256.
 *
 * What the tests control, through the environment:
 *  SK_SOFT_FLAGS	the flags byte of every signature, decimal or 0x hex
 *			(default 0x05: user present 0x01 + user verified 0x04)
 *  SK_SOFT_COUNTER	the counter of every signature (0..4294967295)
 *  SK_SOFT_COUNTER_FILE  when SK_SOFT_COUNTER is not set: a file holding a
 *			number N (none or empty: 0); the signature gets N+1,
 *			written back under a lock. When neither is set the
 *			counter is the current Unix time.
 *  SK_SOFT_PIN		the authenticator has this PIN: enrolment needs it
 *			(as on a FIDO2 token with a PIN set), a signature
 *			needs it when the key is verify-required; a missing
 *			or wrong PIN is SSH_SK_ERR_PIN_REQUIRED, on which
 *			OpenSSH asks for one (askpass without a terminal).
 *  SK_SOFT_LOG		append one line per call to that file:
 *			op=sign alg=ed25519 app=ssh: keyflags=0x01 flags=0x05
 *			counter=1700000000 result=ok exe=ssh-sk-helper
 *			(keyflags: the key's, from enrolment; flags and
 *			counter: the signature's; result: ok, pin-required,
 *			unsupported-*, error-*; exe: the program that loaded
 *			the provider)
 * A malformed value fails the operation (result=error-... in the log).
 * Resident keys are not supported: enrolment of one fails as
 * unsupported, and there are never resident keys to load.
 *
 * Nothing is printed: ssh-sk-helper's standard output is its socket.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "tests/sk/sk_api.h"

/* key handle: magic, version, alg, SHA256(application), PKCS#8 DER key */
#define HANDLE_MAGIC "sksoft"
#define HANDLE_MAGIC_LEN 6
#define HANDLE_VERSION 1
#define HANDLE_HDR_LEN (HANDLE_MAGIC_LEN + 2 + SHA256_DIGEST_LENGTH)
#define HANDLE_MAX 1024

#define DEFAULT_FLAGS                                                          \
	(SSH_SK_USER_PRESENCE_REQD | SSH_SK_USER_VERIFICATION_REQD)
#define P256_POINT_LEN 65 /* 0x04 || x || y */
#define ED25519_PK_LEN 32
#define ED25519_SIG_LEN 64
/* authenticator data (32 + 1 + 4) and the client data hash */
#define SIGNED_LEN (SHA256_DIGEST_LENGTH + 1 + 4 + SHA256_DIGEST_LENGTH)

static const char *
alg_name(uint32_t alg)
{
	switch (alg) {
	case SSH_SK_ECDSA:
		return "ecdsa";
	case SSH_SK_ED25519:
		return "ed25519";
	default:
		return "unknown";
	}
}

/* One line appended to $SK_SOFT_LOG, in a single write so that lines of
 * helpers running at once do not mix. */
static void
soft_log(const char *fmt, ...)
{
	const char *path = getenv("SK_SOFT_LOG");
	char line[512], exe[256], *base;
	va_list ap;
	ssize_t el;
	int fd, n, m;

	if (path == NULL || *path == '\0')
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	/* which program loaded us: ssh-sk-helper when OpenSSH did */
	if ((el = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) == -1)
		el = 0;
	exe[el] = '\0';
	base = strrchr(exe, '/') != NULL ? strrchr(exe, '/') + 1 : exe;
	m = snprintf(line + n, sizeof(line) - (size_t)n, " exe=%s\n",
	    *base != '\0' ? base : "-");
	if (m < 0 || (size_t)m >= sizeof(line) - (size_t)n)
		return;
	n += m;
	if ((fd = open(
		 path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return;
	if (write(fd, line, (size_t)n) != n) {
		/* a test reading the log will notice the missing line */
	}
	close(fd);
}

/* Decimal, or hex after 0x; no sign, no trailing text, at most max. */
static int
parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	/* strtoull would take a sign or spaces */
	if (base == 10 ? !isdigit((unsigned char)*s)
		       : !isxdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Options OpenSSH passes: "device" and "user" mean nothing here; any
 * other option that is required fails, as PROTOCOL.u2f asks. */
static int
check_options(struct sk_option **options)
{
	size_t i;

	for (i = 0; options != NULL && options[i] != NULL; i++) {
		if (strcmp(options[i]->name, "device") == 0 ||
		    strcmp(options[i]->name, "user") == 0)
			continue;
		if (options[i]->required)
			return SSH_SK_ERR_UNSUPPORTED;
	}
	return 0;
}

/* 0 when the authenticator has no PIN or `pin` is its PIN. */
static int
check_pin(const char *pin)
{
	const char *want = getenv("SK_SOFT_PIN");
	size_t len;

	if (want == NULL || *want == '\0')
		return 0;
	len = strlen(want);
	if (pin == NULL || strlen(pin) != len ||
	    CRYPTO_memcmp(pin, want, len) != 0)
		return SSH_SK_ERR_PIN_REQUIRED;
	return 0;
}

/* Next value of the counter in `path`, under an exclusive lock: read N,
 * store and return N+1. */
static int
counter_file_next(const char *path, uint32_t *out)
{
	struct flock lk;
	char buf[32];
	uint32_t n = 0;
	ssize_t got;
	int fd, len, ret = -1;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -1;
	memset(&lk, 0, sizeof(lk));
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLKW, &lk) == -1)
		if (errno != EINTR)
			goto out;
	if ((got = pread(fd, buf, sizeof(buf) - 1, 0)) == -1)
		goto out;
	buf[got] = '\0';
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
	if (got > 0 && parse_u32(buf, UINT32_MAX - 1, &n) != 0)
		goto out;
	n++;
	len = snprintf(buf, sizeof(buf), "%" PRIu32 "\n", n);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != len ||
	    fsync(fd) == -1)
		goto out;
	*out = n;
	ret = 0;
out:
	close(fd); /* drops the lock */
	return ret;
}

static int
next_counter(uint32_t *out)
{
	const char *s;

	if ((s = getenv("SK_SOFT_COUNTER")) != NULL && *s != '\0')
		return parse_u32(s, UINT32_MAX, out);
	if ((s = getenv("SK_SOFT_COUNTER_FILE")) != NULL && *s != '\0')
		return counter_file_next(s, out);
	*out = (uint32_t)time(NULL);
	return 0;
}

static int
next_flags(uint8_t *out)
{
	const char *s = getenv("SK_SOFT_FLAGS");
	uint32_t v;

	if (s == NULL || *s == '\0') {
		*out = DEFAULT_FLAGS;
		return 0;
	}
	if (parse_u32(s, 0xff, &v) != 0)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

static EVP_PKEY *
key_generate(uint32_t alg)
{
	if (alg == SSH_SK_ECDSA)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

/* The public key as OpenSSH wants it in the enrolment response. */
static int
key_public(EVP_PKEY *pkey, uint32_t alg, uint8_t **out, size_t *outlen)
{
	size_t len = alg == SSH_SK_ECDSA ? P256_POINT_LEN : ED25519_PK_LEN;
	uint8_t *p;
	size_t got = len;
	int ok;

	if ((p = calloc(1, len)) == NULL)
		return -1;
	if (alg == SSH_SK_ECDSA)
		ok = EVP_PKEY_get_octet_string_param(
		    pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, p, len, &got);
	else
		ok = EVP_PKEY_get_raw_public_key(pkey, p, &got);
	/* an EC point must be uncompressed (0x04 || x || y) */
	if (ok != 1 || got != len || (alg == SSH_SK_ECDSA && p[0] != 0x04))
		ok = 0;
	if (!ok) {
		free(p);
		return -1;
	}
	*out = p;
	*outlen = len;
	return 0;
}

/* The key handle: the private key bound to its algorithm and to the
 * application it was made for (a token refuses a handle of another
 * relying party). */
static int
handle_make(EVP_PKEY *pkey, uint32_t alg, const uint8_t apphash[32],
    uint8_t **out, size_t *outlen)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	uint8_t *h = NULL;
	int derlen = -1, ret = -1;

	if ((p8 = EVP_PKEY2PKCS8(pkey)) == NULL ||
	    (derlen = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0 ||
	    HANDLE_HDR_LEN + (size_t)derlen > HANDLE_MAX)
		goto out;
	if ((h = malloc(HANDLE_HDR_LEN + (size_t)derlen)) == NULL)
		goto out;
	memcpy(h, HANDLE_MAGIC, HANDLE_MAGIC_LEN);
	h[HANDLE_MAGIC_LEN] = HANDLE_VERSION;
	h[HANDLE_MAGIC_LEN + 1] = (uint8_t)alg;
	memcpy(h + HANDLE_MAGIC_LEN + 2, apphash, SHA256_DIGEST_LENGTH);
	memcpy(h + HANDLE_HDR_LEN, der, (size_t)derlen);
	*out = h;
	*outlen = HANDLE_HDR_LEN + (size_t)derlen;
	ret = 0;
out:
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)derlen);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return ret;
}

/* The private key in a handle made by handle_make() for this algorithm
 * and application; NULL for any other handle. */
static EVP_PKEY *
handle_open(
    const uint8_t *h, size_t len, uint32_t alg, const uint8_t apphash[32])
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	const unsigned char *p;

	if (h == NULL || len <= HANDLE_HDR_LEN || len > HANDLE_MAX ||
	    memcmp(h, HANDLE_MAGIC, HANDLE_MAGIC_LEN) != 0 ||
	    h[HANDLE_MAGIC_LEN] != HANDLE_VERSION ||
	    h[HANDLE_MAGIC_LEN + 1] != alg ||
	    CRYPTO_memcmp(
		h + HANDLE_MAGIC_LEN + 2, apphash, SHA256_DIGEST_LENGTH) != 0)
		return NULL;
	p = h + HANDLE_HDR_LEN;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(
		 NULL, &p, (long)(len - HANDLE_HDR_LEN))) == NULL)
		return NULL;
	pkey = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (pkey != NULL &&
	    !EVP_PKEY_is_a(pkey, alg == SSH_SK_ECDSA ? "EC" : "ED25519")) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

/* Ed25519 over the signed bytes; the 64-byte signature goes in sig_r. */
static int
sign_ed25519(EVP_PKEY *pkey, const uint8_t *msg, size_t len,
    struct sk_sign_response *resp)
{
	EVP_MD_CTX *ctx;
	size_t siglen = ED25519_SIG_LEN;
	int ret = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if ((resp->sig_r = calloc(1, ED25519_SIG_LEN)) == NULL)
		goto out;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, resp->sig_r, &siglen, msg, len) != 1 ||
	    siglen != ED25519_SIG_LEN)
		goto out;
	resp->sig_r_len = siglen;
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

static int
bn_export(const BIGNUM *bn, uint8_t **out, size_t *outlen)
{
	int len = BN_num_bytes(bn);

	if (len <= 0 || (*out = calloc(1, (size_t)len)) == NULL)
		return -1;
	if (BN_bn2bin(bn, *out) != len)
		return -1;
	*outlen = (size_t)len;
	return 0;
}

/* ECDSA with SHA-256 over the signed bytes; r and s as big-endian
 * integers (OpenSSH encodes them as mpints). */
static int
sign_ecdsa(EVP_PKEY *pkey, const uint8_t *msg, size_t len,
    struct sk_sign_response *resp)
{
	EVP_MD_CTX *ctx;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	unsigned char der[80];
	const unsigned char *p = der;
	size_t derlen = sizeof(der);
	int ret = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, der, &derlen, msg, len) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (bn_export(r, &resp->sig_r, &resp->sig_r_len) != 0 ||
	    bn_export(s, &resp->sig_s, &resp->sig_s_len) != 0)
		goto out;
	ret = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	return ret;
}

static void
enroll_response_free(struct sk_enroll_response *r)
{
	if (r == NULL)
		return;
	free(r->public_key);
	if (r->key_handle != NULL)
		OPENSSL_clear_free(r->key_handle, r->key_handle_len);
	free(r);
}

static void
sign_response_free(struct sk_sign_response *r)
{
	if (r == NULL)
		return;
	free(r->sig_r);
	free(r->sig_s);
	free(r);
}

/* The API version this provider implements (OpenSSH checks the major). */
uint32_t
sk_api_version(void)
{
	return SSH_SK_VERSION_MAJOR;
}

/*
 * Make a new key for `application`. The response's flags are the key's
 * flags as asked (user presence, verification), kept by OpenSSH in the
 * key file and passed back to sk_sign(). No attestation is returned.
 */
int
sk_enroll(uint32_t alg, const uint8_t *challenge, size_t challenge_len,
    const char *application, uint8_t flags, const char *pin,
    struct sk_option **options, struct sk_enroll_response **enroll_response)
{
	struct sk_enroll_response *resp = NULL;
	uint8_t apphash[SHA256_DIGEST_LENGTH];
	EVP_PKEY *pkey = NULL;
	const char *why = "error";
	int ret = SSH_SK_ERR_GENERAL;

	/* a token signs the challenge in its attestation; none here */
	(void)challenge;
	(void)challenge_len;
	if (enroll_response == NULL || application == NULL)
		goto out;
	*enroll_response = NULL;
	if (alg != SSH_SK_ECDSA && alg != SSH_SK_ED25519) {
		ret = SSH_SK_ERR_UNSUPPORTED;
		why = "unsupported-alg";
		goto out;
	}
	if ((flags & SSH_SK_RESIDENT_KEY) != 0) {
		ret = SSH_SK_ERR_UNSUPPORTED;
		why = "unsupported-resident";
		goto out;
	}
	if ((ret = check_options(options)) != 0) {
		why = "unsupported-option";
		goto out;
	}
	if ((ret = check_pin(pin)) != 0) {
		why = "pin-required";
		goto out;
	}
	ret = SSH_SK_ERR_GENERAL;
	SHA256(
	    (const unsigned char *)application, strlen(application), apphash);
	if ((resp = calloc(1, sizeof(*resp))) == NULL ||
	    (pkey = key_generate(alg)) == NULL)
		goto out;
	if (key_public(pkey, alg, &resp->public_key, &resp->public_key_len))
		goto out;
	if (handle_make(
		pkey, alg, apphash, &resp->key_handle, &resp->key_handle_len))
		goto out;
	resp->flags = flags;
	*enroll_response = resp;
	resp = NULL;
	why = "ok";
	ret = 0;
out:
	soft_log("op=enroll alg=%s app=%s keyflags=0x%02x result=%s",
	    alg_name(alg), application != NULL ? application : "-",
	    (unsigned)flags, why);
	EVP_PKEY_free(pkey);
	enroll_response_free(resp);
	return ret;
}

/*
 * Sign `data` (the SSH session's or sshsig's message) with the key in
 * `key_handle`, with the flags byte and counter the environment asks for.
 * `flags` are the key's flags from enrolment.
 */
int
sk_sign(uint32_t alg, const uint8_t *data, size_t data_len,
    const char *application, const uint8_t *key_handle, size_t key_handle_len,
    uint8_t flags, const char *pin, struct sk_option **options,
    struct sk_sign_response **sign_response)
{
	struct sk_sign_response *resp = NULL;
	uint8_t msg[SIGNED_LEN], *p = msg;
	EVP_PKEY *pkey = NULL;
	uint32_t counter = 0;
	uint8_t sigflags = 0;
	const char *why = "error";
	int ret = SSH_SK_ERR_GENERAL;

	if (sign_response == NULL || application == NULL ||
	    (data == NULL && data_len != 0))
		goto out;
	*sign_response = NULL;
	if (alg != SSH_SK_ECDSA && alg != SSH_SK_ED25519) {
		ret = SSH_SK_ERR_UNSUPPORTED;
		why = "unsupported-alg";
		goto out;
	}
	if ((ret = check_options(options)) != 0) {
		why = "unsupported-option";
		goto out;
	}
	if ((flags & SSH_SK_USER_VERIFICATION_REQD) != 0 &&
	    (ret = check_pin(pin)) != 0) {
		why = "pin-required";
		goto out;
	}
	ret = SSH_SK_ERR_GENERAL;
	if (next_flags(&sigflags) != 0) {
		why = "error-bad-SK_SOFT_FLAGS";
		goto out;
	}
	SHA256((const unsigned char *)application, strlen(application), p);
	if ((pkey = handle_open(key_handle, key_handle_len, alg, p)) == NULL) {
		why = "error-unknown-key-handle";
		goto out;
	}
	if (next_counter(&counter) != 0) {
		why = "error-bad-counter";
		goto out;
	}
	p += SHA256_DIGEST_LENGTH;
	*p++ = sigflags;
	*p++ = (uint8_t)(counter >> 24);
	*p++ = (uint8_t)(counter >> 16);
	*p++ = (uint8_t)(counter >> 8);
	*p++ = (uint8_t)counter;
	SHA256(data, data_len, p);
	if ((resp = calloc(1, sizeof(*resp))) == NULL)
		goto out;
	if (alg == SSH_SK_ED25519)
		ret = sign_ed25519(pkey, msg, sizeof(msg), resp);
	else
		ret = sign_ecdsa(pkey, msg, sizeof(msg), resp);
	if (ret != 0) {
		ret = SSH_SK_ERR_GENERAL;
		goto out;
	}
	resp->flags = sigflags;
	resp->counter = counter;
	*sign_response = resp;
	resp = NULL;
	why = "ok";
	ret = 0;
out:
	soft_log("op=sign alg=%s app=%s keyflags=0x%02x flags=0x%02x "
		 "counter=%" PRIu32 " result=%s",
	    alg_name(alg), application != NULL ? application : "-",
	    (unsigned)flags, (unsigned)sigflags, counter, why);
	EVP_PKEY_free(pkey);
	sign_response_free(resp);
	return ret;
}

/* There are never resident keys on this authenticator. */
int
sk_load_resident_keys(const char *pin, struct sk_option **options,
    struct sk_resident_key ***rks, size_t *nrks)
{
	int ret;

	(void)pin;
	if (rks == NULL || nrks == NULL)
		return SSH_SK_ERR_GENERAL;
	*rks = NULL;
	*nrks = 0;
	ret = check_options(options);
	soft_log("op=load_resident result=%s",
	    ret == 0 ? "none" : "unsupported-option");
	return ret;
}
