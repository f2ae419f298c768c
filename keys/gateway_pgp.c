/*
 * keys/gateway_pgp.c — the gateway's own OpenPGP key in STATE_DIR/gnupg
 * (owner-only), through GPGME: an Ed25519 signing key without passphrase,
 * made on first use; detached armoured signatures with it; verification of
 * such signatures; export of the public key.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gpgme.h>

#include "keys/keys.h"

#define PGP_UID		"relgate gateway <relgate-gateway@localhost>"
#define SIG_MAX		(64 * 1024)

static int
gnupg_home(char *out, size_t len, const char *state_dir)
{
	int n = snprintf(out, len, "%s/gnupg", state_dir);

	return n < 0 || (size_t)n >= len ? RG_EINVAL : RG_OK;
}

/* A GPGME context on STATE_DIR/gnupg with loopback pinentry. */
static int
ctx_new(gpgme_ctx_t *ctx, const char *state_dir, int create, struct diag *d)
{
	char home[4096];
	struct stat st;
	gpgme_error_t e;

	*ctx = NULL;
	if (gnupg_home(home, sizeof(home), state_dir) != 0)
		return diag_set(d, RG_EINVAL, state_dir, 0, 0, "path too long");
	if (create) {
		if (dir_make(home, 0700) != 0)
			return diag_set(d, RG_EIO, home, 0, 0, "mkdir: %s",
			    strerror(errno));
		if (chmod(home, 0700) != 0)
			return diag_set(d, RG_EIO, home, 0, 0, "chmod: %s",
			    strerror(errno));
	} else if (stat(home, &st) != 0) {
		return diag_set(d, RG_ENOENT, home, 0, 0,
		    "no gateway key (GnuPG home missing)");
	}
	gpgme_check_version(NULL);
	if ((e = gpgme_new(ctx)) != 0)
		goto err;
	if ((e = gpgme_ctx_set_engine_info(*ctx, GPGME_PROTOCOL_OpenPGP, NULL,
	    home)) != 0)
		goto err;
	gpgme_set_armor(*ctx, 1);
	if ((e = gpgme_set_pinentry_mode(*ctx,
	    GPGME_PINENTRY_MODE_LOOPBACK)) != 0)
		goto err;
	return RG_OK;
err:
	gpgme_release(*ctx);
	*ctx = NULL;
	return diag_set(d, RG_ECRYPTO, home, 0, 0, "gpgme: %s",
	    gpgme_strerror(e));
}

/* The first usable secret signing key of the home; *key is the caller's
 * (gpgme_key_unref). RG_ENOENT when there is none. */
static int
find_key(gpgme_ctx_t ctx, gpgme_key_t *key, struct diag *d)
{
	gpgme_key_t k = NULL;
	gpgme_error_t e;

	*key = NULL;
	if ((e = gpgme_op_keylist_start(ctx, NULL, 1)) != 0)
		return diag_set(d, RG_ECRYPTO, "", 0, 0, "keylist: %s",
		    gpgme_strerror(e));
	while (gpgme_op_keylist_next(ctx, &k) == 0) {
		if (*key == NULL && k->can_sign && !k->revoked &&
		    !k->expired && !k->disabled && k->fpr != NULL) {
			*key = k;
			continue;
		}
		gpgme_key_unref(k);
	}
	gpgme_op_keylist_end(ctx);
	return *key ? RG_OK : RG_ENOENT;
}

int
gateway_pgp_ensure(const char *state_dir, char fpr[41], struct diag *d)
{
	char home[4096], lock[4200];
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t key = NULL;
	gpgme_error_t e;
	int rc, fd = -1;

	if ((rc = ctx_new(&ctx, state_dir, 1, d)) != 0)
		return rc;
	/* Two processes starting at once make one key, not two. */
	gnupg_home(home, sizeof(home), state_dir);
	snprintf(lock, sizeof(lock), "%s/.relgate.lock", home);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1 || flock(fd, LOCK_EX) != 0) {
		rc = diag_set(d, RG_EIO, lock, 0, 0, "lock: %s",
		    strerror(errno));
		goto out;
	}
	rc = find_key(ctx, &key, d);
	if (rc == RG_ENOENT) {
		e = gpgme_op_createkey(ctx, PGP_UID, "ed25519", 0, 0, NULL,
		    GPGME_CREATE_SIGN | GPGME_CREATE_NOPASSWD |
		    GPGME_CREATE_NOEXPIRE | GPGME_CREATE_FORCE);
		if (e != 0) {
			rc = diag_set(d, RG_ECRYPTO, home, 0, 0,
			    "make gateway key: %s", gpgme_strerror(e));
			goto out;
		}
		rc = find_key(ctx, &key, d);
	}
	if (rc != 0)
		goto out;
	rg_strlcpy(fpr, key->fpr, 41);
out:
	gpgme_key_unref(key);
	gpgme_release(ctx);
	if (fd != -1)
		close(fd);
	return rc;
}

static int
data_to_buf(gpgme_data_t data, struct buf *out)
{
	char tmp[4096];
	ssize_t n;
	int rc;

	if (gpgme_data_seek(data, 0, SEEK_SET) != 0)
		return RG_EIO;
	while ((n = gpgme_data_read(data, tmp, sizeof(tmp))) > 0)
		if ((rc = buf_append(out, tmp, (size_t)n)) != 0)
			return rc;
	return n < 0 ? RG_EIO : RG_OK;
}

int
gateway_pgp_sign(const char *state_dir, const void *data, size_t len,
    struct buf *sig, struct diag *d)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t e;
	int rc;

	if ((rc = ctx_new(&ctx, state_dir, 0, d)) != 0)
		return rc;
	/* No signer named: gpg takes the home's only secret key, the
	 * gateway's; that saves a key listing (one gpg run) per signature. */
	if ((e = gpgme_data_new_from_mem(&in, data, len, 0)) != 0 ||
	    (e = gpgme_data_new(&out)) != 0 ||
	    (e = gpgme_op_sign(ctx, in, out, GPGME_SIG_MODE_DETACH)) != 0) {
		rc = diag_set(d, gpg_err_code(e) == GPG_ERR_UNUSABLE_SECKEY ||
		    gpg_err_code(e) == GPG_ERR_NO_SECKEY ? RG_ENOENT :
		    RG_ECRYPTO, state_dir, 0, 0, "sign: %s",
		    gpgme_strerror(e));
		goto out;
	}
	rc = data_to_buf(out, sig);
out:
	gpgme_data_release(in);
	gpgme_data_release(out);
	gpgme_release(ctx);
	return rc;
}

/* Does fpr name the key or one of its subkeys? */
static int
key_has_fpr(gpgme_key_t key, const char *fpr)
{
	gpgme_subkey_t sk;

	for (sk = key->subkeys; sk != NULL; sk = sk->next)
		if (sk->fpr != NULL && strcasecmp(sk->fpr, fpr) == 0)
			return 1;
	return 0;
}

int
gateway_pgp_verify(const char *state_dir, const void *data, size_t len,
    const void *sig, size_t siglen, struct diag *d)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t key = NULL;
	gpgme_data_t dsig = NULL, dtext = NULL;
	gpgme_verify_result_t res;
	gpgme_signature_t s;
	gpgme_error_t e;
	int rc;

	if ((rc = ctx_new(&ctx, state_dir, 0, d)) != 0)
		return rc;
	if ((rc = find_key(ctx, &key, d)) != 0)
		goto out;
	if ((e = gpgme_data_new_from_mem(&dsig, sig, siglen, 0)) != 0 ||
	    (e = gpgme_data_new_from_mem(&dtext, data, len, 0)) != 0) {
		rc = diag_set(d, RG_ENOMEM, "", 0, 0, "gpgme: %s",
		    gpgme_strerror(e));
		goto out;
	}
	rc = RG_EINTEGRITY;
	if (gpgme_op_verify(ctx, dsig, dtext, NULL) != 0 ||
	    (res = gpgme_op_verify_result(ctx)) == NULL ||
	    res->signatures == NULL) {
		diag_set(d, rc, "", 0, 0, "not a signature");
		goto out;
	}
	/* Every signature must be good and made by the gateway key. */
	for (s = res->signatures; s != NULL; s = s->next) {
		if (gpg_err_code(s->status) != GPG_ERR_NO_ERROR ||
		    s->fpr == NULL || !key_has_fpr(key, s->fpr)) {
			diag_set(d, rc, "", 0, 0, "bad signature");
			goto out;
		}
	}
	rc = RG_OK;
out:
	gpgme_data_release(dsig);
	gpgme_data_release(dtext);
	gpgme_key_unref(key);
	gpgme_release(ctx);
	return rc;
}

int
gateway_pgp_export(const char *state_dir, struct buf *out, struct diag *d)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t key = NULL;
	gpgme_data_t data = NULL;
	gpgme_error_t e;
	int rc;

	if ((rc = ctx_new(&ctx, state_dir, 0, d)) != 0)
		return rc;
	if ((rc = find_key(ctx, &key, d)) != 0)
		goto out;
	if ((e = gpgme_data_new(&data)) != 0 ||
	    (e = gpgme_op_export(ctx, key->fpr, 0, data)) != 0) {
		rc = diag_set(d, RG_ECRYPTO, "", 0, 0, "export: %s",
		    gpgme_strerror(e));
		goto out;
	}
	rc = data_to_buf(data, out);
out:
	gpgme_data_release(data);
	gpgme_key_unref(key);
	gpgme_release(ctx);
	return rc;
}
