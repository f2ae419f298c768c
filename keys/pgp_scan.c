/*
 * Contractors' OpenPGP public keys in the config directory (keys/pgp/ *.asc),
 * read with GPGME's "show-only" key listing from data, in a throwaway GnuPG
 * home, so nothing is imported into any keyring the gateway uses.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gpgme.h>

#include "keys/keys.h"

#define PGP_SCAN_MAX_FILE	(1024 * 1024)
#define PGP_SCAN_MAX_KEYS	10000

extern char **environ;

/* Remove a temporary GnuPG home (two levels at most). */
static void
rm_tree(const char *dir, int depth)
{
	struct dirent *de;
	char path[PATH_MAX];
	struct stat st;
	DIR *dp;

	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
			    depth < 3)
				rm_tree(path, depth + 1);
			else
				unlink(path);
		}
		closedir(dp);
	}
	rmdir(dir);
}

/* If gpg started an agent in home after all, stop it. */
static void
kill_agent(const char *home)
{
	char sock[PATH_MAX];
	char *argv[] = { "gpgconf", "--homedir", (char *)home, "--kill", "all",
	    NULL };
	struct stat st;
	pid_t pid;
	int status;

	if ((size_t)snprintf(sock, sizeof(sock), "%s/S.gpg-agent", home) >=
	    sizeof(sock) || lstat(sock, &st) == -1)
		return;
	if (posix_spawnp(&pid, "gpgconf", NULL, NULL, argv, environ) == 0)
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
}

static long
days_of(long secs)
{
	return secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
}

static void
fill_info(struct pgp_keyinfo *ki, gpgme_key_t key, const char *file)
{
	gpgme_subkey_t sk;

	memset(ki, 0, sizeof(*ki));
	ki->expires = DATE_UNSET;
	if (key->subkeys != NULL && key->subkeys->fpr != NULL)
		rg_strlcpy(ki->fpr, key->subkeys->fpr, sizeof(ki->fpr));
	if (key->subkeys != NULL && key->subkeys->expires > 0)
		ki->expires = days_of((long)key->subkeys->expires);
	ki->revoked = key->revoked ? 1 : 0;
	for (sk = key->subkeys; sk != NULL; sk = sk->next) {
		if (sk != key->subkeys && sk->fpr != NULL &&
		    ki->n_subkeys < RG_ARRAY_LEN(ki->subkey_fprs))
			rg_strlcpy(ki->subkey_fprs[ki->n_subkeys++], sk->fpr,
			    sizeof(ki->subkey_fprs[0]));
		if (sk->can_encrypt && !sk->revoked && !sk->expired &&
		    !sk->disabled && !sk->invalid)
			ki->can_encrypt = 1;
	}
	if (key->revoked || key->expired || key->disabled || key->invalid)
		ki->can_encrypt = 0;
	rg_strlcpy(ki->file, file, sizeof(ki->file));
}

struct scan {
	struct pgp_keyinfo *keys;
	size_t	n, size;
	struct diag *bad;
	size_t	n_bad;
};

static int
add_bad(struct scan *s, int want, const char *path, const char *why,
    const char *arg)
{
	char msg[300];

	struct diag *nb;

	if (!want)
		return RG_OK;
	if ((nb = realloc(s->bad, (s->n_bad + 1) * sizeof(*nb))) == NULL)
		return RG_ENOMEM;
	s->bad = nb;
	snprintf(msg, sizeof(msg), "%s%s", why, arg);
	diag_set(&s->bad[s->n_bad++], RG_EINVAL, path, 0, 0, "%s", msg);
	return RG_OK;
}

static int
scan_file(struct scan *s, gpgme_ctx_t ctx, const char *path,
    const char *base, int want_bad)
{
	gpgme_data_t data = NULL;
	gpgme_key_t key;
	gpgme_error_t err;
	char *buf = NULL;
	size_t len, found = 0;
	int rc;

	rc = file_read_small(&buf, &len, path, PGP_SCAN_MAX_FILE, NULL);
	if (rc == RG_ENOMEM)
		return rc;
	if (rc != RG_OK)
		return add_bad(s, want_bad, path, "cannot read key file: ",
		    rg_strerror(rc));
	if (strstr(buf, "PRIVATE KEY BLOCK") != NULL) {
		free(buf);
		return add_bad(s, want_bad, path, "holds a secret key: "
		    "only public keys belong in keys/pgp", "");
	}
	if (gpgme_data_new_from_mem(&data, buf, len, 0) != 0) {
		free(buf);
		return RG_ENOMEM;
	}
	err = gpgme_op_keylist_from_data_start(ctx, data, 0);
	while (err == 0) {
		err = gpgme_op_keylist_next(ctx, &key);
		if (err != 0)
			break;
		if (s->n >= PGP_SCAN_MAX_KEYS) {
			gpgme_key_unref(key);
			break;
		}
		if (s->n == s->size) {
			size_t ns = s->size ? s->size * 2 : 16;
			struct pgp_keyinfo *nk = realloc(s->keys,
			    ns * sizeof(*nk));
			if (nk == NULL) {
				gpgme_key_unref(key);
				gpgme_op_keylist_end(ctx);
				gpgme_data_release(data);
				free(buf);
				return RG_ENOMEM;
			}
			s->keys = nk;
			s->size = ns;
		}
		fill_info(&s->keys[s->n++], key, base);
		found++;
		gpgme_key_unref(key);
	}
	gpgme_op_keylist_end(ctx);
	gpgme_data_release(data);
	free(buf);
	if (found == 0 && gpgme_err_code(err) != GPG_ERR_EOF)
		return add_bad(s, want_bad, path,
		    "GnuPG could not read it: ", gpgme_strerror(err));
	if (found == 0)
		return add_bad(s, want_bad, path,
		    "holds no OpenPGP public key", "");
	return RG_OK;
}

/* Scan dir's *.asc files in a throwaway GnuPG home (see keys.h). */
int
pgp_dir_scan_ex(struct pgp_keyinfo **out, size_t *n, struct diag **bad,
    size_t *n_bad, const char *dir, struct diag *d)
{
	char home[PATH_MAX];
	char path[PATH_MAX];
	const char *tmp = secure_getenv("TMPDIR");
	struct scan s;
	struct dirent *de;
	gpgme_ctx_t ctx = NULL;
	DIR *dp;
	int rc = RG_OK;

	*out = NULL;
	*n = 0;
	if (bad) {
		*bad = NULL;
		*n_bad = 0;
	}
	memset(&s, 0, sizeof(s));
	if ((dp = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return RG_OK;
		return diag_set(d, RG_EIO, dir, 0, 0, "cannot read: %s",
		    strerror(errno));
	}
	gpgme_check_version(NULL);
	/* The throwaway GnuPG home: in $TMPDIR when that is an absolute path
	 * short enough for gpg's socket names, else /tmp. */
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(home, sizeof(home), "%s/relgate-pgpscan.XXXXXX", tmp);
	if (mkdtemp(home) == NULL) {
		closedir(dp);
		return diag_set(d, RG_EIO, home, 0, 0, "mkdtemp: %s",
		    strerror(errno));
	}
	if (gpgme_new(&ctx) != 0 ||
	    gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP) != 0 ||
	    gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL,
	    home) != 0) {
		rc = diag_set(d, RG_ECRYPTO, dir, 0, 0,
		    "cannot start GnuPG (GPGME)");
		goto out;
	}
	gpgme_set_offline(ctx, 1);
	while ((de = readdir(dp)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 4 ||
		    strcmp(de->d_name + len - 4, ".asc") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rc = scan_file(&s, ctx, path, de->d_name, bad != NULL);
		if (rc != RG_OK) {
			diag_set(d, rc, path, 0, 0, "%s", rg_strerror(rc));
			goto out;
		}
	}
out:
	closedir(dp);
	if (ctx != NULL)
		gpgme_release(ctx);
	kill_agent(home);
	rm_tree(home, 0);
	if (rc != RG_OK) {
		free(s.keys);
		free(s.bad);
		return rc;
	}
	*out = s.keys;
	*n = s.n;
	if (bad) {
		*bad = s.bad;
		*n_bad = s.n_bad;
	}
	return RG_OK;
}

/*
 * Read every *.asc in dir (see keys.h). Files that hold no usable key are
 * skipped silently; use pgp_dir_scan_ex() to hear about them.
 */
int
pgp_dir_scan(struct pgp_keyinfo **out, size_t *n, const char *dir,
    struct diag *d)
{
	return pgp_dir_scan_ex(out, n, NULL, NULL, dir, d);
}
