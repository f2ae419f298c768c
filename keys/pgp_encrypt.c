/*
 * keys/pgp_encrypt.c — sign and encrypt a release package with GPGME in one
 * streaming pass: signed by the gateway key (STATE_DIR/gnupg), encrypted to
 * every recipient of the contract, binary (no armour), no OpenPGP
 * compression (GPGME_ENCRYPT_NO_COMPRESS: the payload is zstd already).
 * Recipients' public keys come from the config directory's keys/pgp/ and are
 * imported into the gateway keyring when missing; trust is the contract's
 * pinned fingerprint, so keys are used with ALWAYS_TRUST.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gpgme.h>

#include "keys/keys.h"

#define PGP_RECIPIENTS_MAX	64
#define PGP_ASC_MAX		(1u << 20)
#define PGP_IO_BUFFER		"65536"

struct rd_ctx {
	pgp_read_fn fn;
	void	*arg;
};

struct wr_ctx {
	pgp_write_fn fn;
	void	*arg;
};

static ssize_t
cb_read(void *handle, void *buffer, size_t size)
{
	struct rd_ctx *r = handle;
	long n = r->fn(r->arg, buffer, size);

	if (n < 0) {
		gpgme_err_set_errno(EIO);
		return -1;
	}
	return (ssize_t)n;
}

static ssize_t
cb_write(void *handle, const void *buffer, size_t size)
{
	struct wr_ctx *w = handle;

	if (w->fn(w->arg, buffer, size) < 0) {
		gpgme_err_set_errno(EIO);
		return -1;
	}
	return (ssize_t)size;
}

/* Import every *.asc of dir into the context's keyring. */
static int
import_dir(gpgme_ctx_t ctx, const char *dir, struct diag *d)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return diag_set(d, RG_ENOENT, dir, 0, 0, "opendir: %s",
		    strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		size_t len = strlen(de->d_name), n;
		gpgme_data_t kd = NULL;
		char *text = NULL;
		int w;

		if (len < 5 || strcmp(de->d_name + len - 4, ".asc") != 0 ||
		    de->d_name[0] == '.')
			continue;
		w = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (w < 0 || (size_t)w >= sizeof(path))
			continue;
		if (file_read_small(&text, &n, path, PGP_ASC_MAX, NULL) != 0)
			continue;	/* lint reports unreadable keys */
		if (gpgme_data_new_from_mem(&kd, text, n, 0) == 0) {
			(void)gpgme_op_import(ctx, kd);
			gpgme_data_release(kd);
		}
		free(text);
	}
	closedir(dp);
	return RG_OK;
}

/* Look up the public key of each recipient, importing pgp_dir once when
 * one is missing. keys[] gets n references, NULL-terminated. */
static int
find_recipients(gpgme_ctx_t ctx, const char *pgp_dir,
    char *const *recipients, size_t n, gpgme_key_t *keys, struct diag *d)
{
	int imported = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		gpgme_error_t e;

		for (;;) {
			e = gpgme_get_key(ctx, recipients[i], &keys[i], 0);
			if (e == 0 || imported)
				break;
			import_dir(ctx, pgp_dir, d);
			imported = 1;
		}
		if (e != 0) {
			keys[i] = NULL;
			return diag_set(d, RG_ENOENT, pgp_dir, 0, 0,
			    "no OpenPGP key for recipient %s", recipients[i]);
		}
	}
	keys[n] = NULL;
	return RG_OK;
}

/* Sign with the gateway key and encrypt to the recipients, streaming. */
int
pgp_encrypt_sign(const char *state_dir, const char *pgp_dir,
    char *const *recipients, size_t n_recipients, pgp_read_fn rd,
    void *rd_arg, pgp_write_fn wr, void *wr_arg, struct diag *d)
{
	gpgme_key_t keys[PGP_RECIPIENTS_MAX + 1] = { NULL };
	struct gpgme_data_cbs rcbs = { cb_read, NULL, NULL, NULL };
	struct gpgme_data_cbs wcbs = { NULL, cb_write, NULL, NULL };
	struct rd_ctx rc_ = { rd, rd_arg };
	struct wr_ctx wc_ = { wr, wr_arg };
	gpgme_data_t in = NULL, out = NULL;
	gpgme_key_t signer = NULL;
	gpgme_ctx_t ctx = NULL;
	gpgme_encrypt_result_t er;
	gpgme_sign_result_t sr;
	char home[PATH_MAX], fpr[41];
	gpgme_error_t e;
	size_t i;
	int rc, w;

	if (n_recipients == 0 || n_recipients > PGP_RECIPIENTS_MAX)
		return diag_set(d, RG_EINVAL, "", 0, 0,
		    "a release needs 1 to %d recipients", PGP_RECIPIENTS_MAX);
	w = snprintf(home, sizeof(home), "%s/gnupg", state_dir);
	if (w < 0 || (size_t)w >= sizeof(home))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0, "path too long");
	/* Makes the gateway key on first use. */
	if ((rc = gateway_pgp_ensure(state_dir, fpr, d)) != RG_OK)
		return rc;

	setlocale(LC_CTYPE, "");
	gpgme_check_version(NULL);
	if ((e = gpgme_new(&ctx)) != 0 ||
	    (e = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL,
	    home)) != 0 ||
	    (e = gpgme_set_pinentry_mode(ctx,
	    GPGME_PINENTRY_MODE_LOOPBACK)) != 0)
		goto gpgerr;
	gpgme_set_armor(ctx, 0);
	gpgme_set_textmode(ctx, 0);

	if ((rc = find_recipients(ctx, pgp_dir, recipients, n_recipients,
	    keys, d)) != RG_OK)
		goto out;
	if ((e = gpgme_get_key(ctx, fpr, &signer, 1)) != 0) {
		rc = diag_set(d, RG_ENOENT, home, 0, 0,
		    "gateway signing key %s: %s", fpr, gpgme_strerror(e));
		goto out;
	}
	gpgme_signers_clear(ctx);
	if ((e = gpgme_signers_add(ctx, signer)) != 0)
		goto gpgerr;

	if ((e = gpgme_data_new_from_cbs(&in, &rcbs, &rc_)) != 0 ||
	    (e = gpgme_data_new_from_cbs(&out, &wcbs, &wc_)) != 0)
		goto gpgerr;
	gpgme_data_set_encoding(in, GPGME_DATA_ENCODING_BINARY);
	/* 64 KiB pipe transfers (a pipe holds 64 KiB; larger is slower). */
	(void)gpgme_data_set_flag(in, "io-buffer-size", PGP_IO_BUFFER);
	(void)gpgme_data_set_flag(out, "io-buffer-size", PGP_IO_BUFFER);
	e = gpgme_op_encrypt_sign(ctx, keys, GPGME_ENCRYPT_ALWAYS_TRUST |
	    GPGME_ENCRYPT_NO_ENCRYPT_TO | GPGME_ENCRYPT_NO_COMPRESS, in, out);
	if (e != 0)
		goto gpgerr;
	er = gpgme_op_encrypt_result(ctx);
	if (er != NULL && er->invalid_recipients != NULL) {
		rc = diag_set(d, RG_ECRYPTO, "", 0, 0,
		    "recipient %s refused: %s", er->invalid_recipients->fpr ?
		    er->invalid_recipients->fpr : "?",
		    gpgme_strerror(er->invalid_recipients->reason));
		goto out;
	}
	sr = gpgme_op_sign_result(ctx);
	if (sr == NULL || sr->signatures == NULL || sr->invalid_signers) {
		rc = diag_set(d, RG_ECRYPTO, home, 0, 0,
		    "the package was not signed");
		goto out;
	}
	rc = RG_OK;
	goto out;
gpgerr:
	rc = diag_set(d, RG_ECRYPTO, home, 0, 0, "gpgme: %s",
	    gpgme_strerror(e));
out:
	gpgme_data_release(in);
	gpgme_data_release(out);
	for (i = 0; i < n_recipients; i++)
		if (keys[i] != NULL)
			gpgme_key_unref(keys[i]);
	if (signer != NULL)
		gpgme_key_unref(signer);
	gpgme_release(ctx);
	return rc;
}
