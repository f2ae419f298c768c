/*
 * gateway/session_sk.c — what a FIDO security key signed, seen as libssh
 * verifies it.
 *
 * A security-key (sk-*) signature covers SHA-256(application) || flags ||
 * counter || SHA-256(message) (OpenSSH's PROTOCOL.u2f): the flags say
 * whether the user touched the token (0x01) and proved the PIN (0x04); the
 * counter grows with every signature of a genuine token. libssh 0.10
 * builds exactly those 69 bytes and verifies them, but neither checks nor
 * exposes flags and counter, and it exports no packet hook. With Debian's
 * OpenSSL build of libssh, that verification is one call to OpenSSL's
 * EVP_DigestVerify. relgated defines EVP_DigestVerify itself: the dynamic
 * linker binds libssh's call to the executable's definition first. The
 * definition calls OpenSSL's own and, when a 69-byte message verifies,
 * keeps it. The publickey callback, which libssh calls next for the same
 * packet, takes it (sk_signed_take) and judges flags and counter.
 *
 * Fail closed: a valid sk signature with no record here (another libssh
 * flavour, another version that verifies differently) is refused by the
 * caller, never let through unchecked. tests/integration/ssh_sk.sh proves
 * both refusals and acceptance with OpenSSH's client.
 */
#include "config.h"

#include <dlfcn.h>
#include <string.h>

#include <openssl/evp.h>

#include "gateway/session_internal.h"

#define SK_SIGNED_LEN	(32 + 1 + 4 + 32)

typedef int (*digest_verify_fn)(EVP_MD_CTX *, const unsigned char *, size_t,
    const unsigned char *, size_t);

static digest_verify_fn real_verify;
static struct {
	int	set;
	unsigned char msg[SK_SIGNED_LEN];
} last;

/* OpenSSL's EVP_DigestVerify, found once. */
int
sk_signed_init(void)
{
	if (real_verify == NULL)
		real_verify = (digest_verify_fn)dlvsym(RTLD_NEXT,
		    "EVP_DigestVerify", "OPENSSL_3.0.0");
	if (real_verify == NULL)
		real_verify = (digest_verify_fn)dlsym(RTLD_NEXT,
		    "EVP_DigestVerify");
	return real_verify != NULL ? RG_OK : RG_EUNSUPPORTED;
}

int	EVP_DigestVerify(EVP_MD_CTX *, const unsigned char *, size_t,
	    const unsigned char *, size_t);

int
EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sig, size_t siglen,
    const unsigned char *tbs, size_t tbslen)
{
	int ok;

	last.set = 0;
	if (real_verify == NULL && sk_signed_init() != RG_OK)
		return -1;
	ok = real_verify(ctx, sig, siglen, tbs, tbslen);
	if (ok == 1 && tbslen == SK_SIGNED_LEN && tbs != NULL) {
		memcpy(last.msg, tbs, SK_SIGNED_LEN);
		last.set = 1;
	}
	return ok;
}

int
sk_signed_take(const unsigned char app_hash[32], unsigned *flags,
    uint32_t *counter)
{
	int found = last.set && memcmp(last.msg, app_hash, 32) == 0;

	if (found) {
		*flags = last.msg[32];
		*counter = (uint32_t)last.msg[33] << 24 |
		    (uint32_t)last.msg[34] << 16 |
		    (uint32_t)last.msg[35] << 8 | last.msg[36];
	}
	memset(&last, 0, sizeof(last));
	return found;
}
