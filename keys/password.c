/*
 * Password hashes for `password_hash:` in user files: yescrypt through
 * libxcrypt (crypt_gensalt_rn with libxcrypt's default cost, crypt_r).
 * Only "$y$" hashes are made or accepted: an older scheme in a user file
 * (DES, MD5, SHA-crypt) is refused rather than checked.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keys/keys.h"

#define PW_PREFIX	"$y$"
#define PW_MAX		1024	/* longer input is not a password */

/* crypt_r's work area is 32 KiB: on the heap, wiped before free. */
static struct crypt_data *
cd_new(void)
{
	return calloc(1, sizeof(struct crypt_data));
}

static void
cd_free(struct crypt_data *cd)
{
	if (cd == NULL)
		return;
	rg_wipe(cd, sizeof(*cd));
	free(cd);
}

/*
 * Hash pw with yescrypt under a fresh salt from the kernel into out
 * ("$y$..."). RG_EINVAL for an empty or over-long pw, RG_ETOOBIG when out
 * is short, RG_ECRYPTO when libxcrypt fails; detail in d.
 */
int
password_hash_make(const char *pw, char *out, size_t outlen, struct diag *d)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	size_t n;
	int rc = RG_OK;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (pw == NULL || pw[0] == '\0')
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "empty password");
	if (strlen(pw) > PW_MAX)
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "password longer "
		    "than %d bytes", PW_MAX);
	/* rbytes NULL: libxcrypt takes the salt from the kernel; count 0:
	 * its default cost for yescrypt. */
	errno = 0;
	if (crypt_gensalt_rn(PW_PREFIX, 0, NULL, 0, salt, sizeof(salt)) ==
	    NULL || salt[0] == '*')
		return diag_set(d, RG_ECRYPTO, NULL, 0, 0, "crypt_gensalt: %s",
		    errno ? strerror(errno) : "yescrypt not supported");
	if ((cd = cd_new()) == NULL)
		return diag_set(d, RG_ENOMEM, NULL, 0, 0, "out of memory");
	h = crypt_r(pw, salt, cd);
	if (h == NULL || h[0] == '*' || strncmp(h, PW_PREFIX, 3) != 0)
		rc = diag_set(d, RG_ECRYPTO, NULL, 0, 0, "crypt: yescrypt "
		    "failed");
	else if ((n = strlen(h)) >= outlen || out == NULL)
		rc = diag_set(d, RG_ETOOBIG, NULL, 0, 0, "hash longer than "
		    "%zu bytes", outlen);
	else
		memcpy(out, h, n + 1);
	cd_free(cd);
	return rc;
}

/*
 * 1 when pw hashes to hash under hash's own salt and cost (crypt_r, then
 * a constant-time compare of the whole output); 0 otherwise, also for a
 * hash that is not a well-formed yescrypt hash and for an empty pw.
 */
int
password_verify(const char *pw, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	size_t n;
	int ok = 0;

	if (pw == NULL || pw[0] == '\0' || hash == NULL ||
	    strlen(pw) > PW_MAX ||
	    strncmp(hash, PW_PREFIX, 3) != 0)
		return 0;
	n = strlen(hash);
	if (n >= CRYPT_OUTPUT_SIZE)
		return 0;
	if ((cd = cd_new()) == NULL)
		return 0;
	h = crypt_r(pw, hash, cd);
	if (h != NULL && h[0] != '*' && strlen(h) == n)
		ok = CRYPTO_memcmp(h, hash, n) == 0;
	cd_free(cd);
	return ok;
}
