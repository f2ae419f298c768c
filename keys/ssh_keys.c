/*
 * keys/ssh_keys.c — SSH keys: the gateway's host keys (made on first
 * start, owner-only) and matching an offered public key against a user's
 * authorized_keys lines. libssh types stay behind keys.h's opaque
 * struct ssh_key_struct.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "keys/keys.h"

#define AUTH_LINE_MAX	16384

/* Write the private key (OpenSSH format) and NAME.pub durably. */
static int
key_write_pair(ssh_key key, const char *path, const char *comment,
    char *line, size_t linelen, struct diag *d)
{
	char *priv = NULL, *pub = NULL, pubpath[1024];
	struct buf b;
	int rc;

	if ((size_t)snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >=
	    sizeof(pubpath))
		return diag_set(d, RG_EINVAL, path, 0, 0, "path too long");
	if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &priv) !=
	    SSH_OK || priv == NULL)
		return diag_set(d, RG_ECRYPTO, path, 0, 0,
		    "cannot encode the private key");
	rc = file_write_atomic(path, priv, strlen(priv), 0600, d);
	rg_wipe(priv, strlen(priv));
	ssh_string_free_char(priv);
	if (rc != RG_OK)
		return rc;
	if (ssh_pki_export_pubkey_base64(key, &pub) != SSH_OK || pub == NULL)
		return diag_set(d, RG_ECRYPTO, path, 0, 0,
		    "cannot encode the public key");
	buf_init(&b, AUTH_LINE_MAX);
	rc = buf_printf(&b, "%s %s %s\n",
	    ssh_key_type_to_char(ssh_key_type(key)), pub,
	    comment != NULL ? comment : "");
	ssh_string_free_char(pub);
	if (rc == RG_OK)
		rc = file_write_atomic(pubpath, b.data, b.len, 0644, d);
	if (rc == RG_OK && line != NULL) {
		if (b.len >= linelen)
			rc = diag_set(d, RG_ETOOBIG, pubpath, 0, 0,
			    "key line too long");
		else {
			memcpy(line, b.data, b.len - 1);	/* no newline */
			line[b.len - 1] = '\0';
		}
	}
	buf_free(&b);
	return rc;
}

/* Make one host key at path unless a readable one is there. */
static int
hostkey_ensure(const char *path, enum ssh_keytypes_e type, int bits,
    struct diag *d)
{
	ssh_key key = NULL;
	int rc;

	if (access(path, F_OK) == 0) {
		if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key)
		    != SSH_OK)
			return diag_set(d, RG_ECRYPTO, path, 0, 0,
			    "host key exists but cannot be read");
		ssh_key_free(key);
		/* keep it owner-only even if someone loosened it */
		if (chmod(path, 0600) == -1)
			return diag_set(d, RG_EIO, path, 0, 0, "chmod: %s",
			    strerror(errno));
		return RG_OK;
	}
	if (ssh_pki_generate(type, bits, &key) != SSH_OK)
		return diag_set(d, RG_ECRYPTO, path, 0, 0,
		    "cannot generate a host key");
	rc = key_write_pair(key, path, "relgated", NULL, 0, d);
	ssh_key_free(key);
	return rc;
}

/*
 * Make STATE_DIR/ssh/ and its Ed25519 and ECDSA P-256 host keys if missing.
 * Returns RG_OK and both private key paths, or a negative code.
 */
int
ssh_hostkeys_ensure(const char *state_dir, char *ed_path, char *ec_path,
    size_t pathlen, struct diag *d)
{
	char dir[1024];
	int rc;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/ssh", state_dir) >=
	    sizeof(dir))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0,
		    "state directory path too long");
	if (dir_make(dir, 0700) != RG_OK)
		return diag_set(d, RG_EIO, dir, 0, 0, "cannot make: %s",
		    strerror(errno));
	if (chmod(dir, 0700) == -1)
		return diag_set(d, RG_EIO, dir, 0, 0, "chmod: %s",
		    strerror(errno));
	if ((size_t)snprintf(ed_path, pathlen, "%s/%s", dir,
	    SSH_HOSTKEY_ED25519) >= pathlen ||
	    (size_t)snprintf(ec_path, pathlen, "%s/%s", dir,
	    SSH_HOSTKEY_ECDSA) >= pathlen)
		return diag_set(d, RG_EINVAL, dir, 0, 0, "path too long");
	if ((rc = hostkey_ensure(ed_path, SSH_KEYTYPE_ED25519, 0, d)) != RG_OK)
		return rc;
	return hostkey_ensure(ec_path, SSH_KEYTYPE_ECDSA_P256, 256, d);
}

/*
 * Split an authorized_keys line into its type and base64 fields (borrowed
 * from the copy in work). Lines with options or certificate types refused.
 */
static int
auth_line_split(char *work, char **type, char **b64, struct diag *d)
{
	char *save = NULL, *t, *k;
	enum ssh_keytypes_e kt;

	t = strtok_r(work, " \t", &save);
	if (t == NULL)
		return diag_set(d, RG_EPARSE, NULL, 0, 0, "empty key line");
	kt = ssh_key_type_from_name(t);
	if (kt == SSH_KEYTYPE_UNKNOWN)
		return diag_set(d, RG_EPARSE, NULL, 0, 0,
		    "unknown key type or options before the key "
		    "(options are not supported): \"%.40s\"", t);
	switch (kt) {
	case SSH_KEYTYPE_ED25519:
	case SSH_KEYTYPE_ECDSA_P256:
	case SSH_KEYTYPE_ECDSA_P384:
	case SSH_KEYTYPE_ECDSA_P521:
	case SSH_KEYTYPE_RSA:
	case SSH_KEYTYPE_SK_ED25519:
	case SSH_KEYTYPE_SK_ECDSA:
		break;
	default:
		return diag_set(d, RG_EPARSE, NULL, 0, 0,
		    "key type %s is not accepted", t);
	}
	k = strtok_r(NULL, " \t", &save);
	if (k == NULL)
		return diag_set(d, RG_EPARSE, NULL, 0, 0,
		    "key line has no key data");
	*type = t;
	*b64 = k;
	return RG_OK;
}

/* Import the public key of one authorized_keys line into *out. */
static int
auth_line_import(const char *line, ssh_key *out, struct diag *d)
{
	char *work, *type = NULL, *b64 = NULL;
	size_t len;
	int rc;

	len = strnlen(line, AUTH_LINE_MAX);
	if (len == AUTH_LINE_MAX)
		return diag_set(d, RG_ETOOBIG, NULL, 0, 0, "key line too long");
	if ((work = strdup(line)) == NULL)
		return RG_ENOMEM;
	rc = auth_line_split(work, &type, &b64, d);
	if (rc == RG_OK) {
		if (ssh_pki_import_pubkey_base64(b64,
		    ssh_key_type_from_name(type), out) != SSH_OK) {
			*out = NULL;
			rc = diag_set(d, RG_EPARSE, NULL, 0, 0,
			    "key data does not decode as %s", type);
		} else {
			/*
			 * libssh ignores the type named inside the blob: make
			 * sure the blob re-encodes to exactly what was written.
			 */
			char *again = NULL;

			if (ssh_pki_export_pubkey_base64(*out, &again) !=
			    SSH_OK || again == NULL || strcmp(again, b64) != 0) {
				ssh_key_free(*out);
				*out = NULL;
				rc = diag_set(d, RG_EPARSE, NULL, 0, 0,
				    "key data is not a well-formed %s key",
				    type);
			}
			ssh_string_free_char(again);
		}
	}
	free(work);
	return rc;
}

/* 1 when key matches one of the lines (public parts compared). */
int
ssh_key_authorized(struct ssh_key_struct *key, char *const *lines, size_t n)
{
	size_t i;

	if (key == NULL || lines == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		ssh_key k = NULL;
		int same;

		if (lines[i] == NULL ||
		    auth_line_import(lines[i], &k, NULL) != RG_OK)
			continue;
		same = ssh_key_cmp(k, key, SSH_KEY_CMP_PUBLIC) == 0;
		ssh_key_free(k);
		if (same)
			return 1;
	}
	return 0;
}

/* Check that one authorized_keys line parses. */
int
ssh_authorized_line_check(const char *line, struct diag *d)
{
	ssh_key k = NULL;
	int rc;

	if (line == NULL)
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "no key line");
	rc = auth_line_import(line, &k, d);
	ssh_key_free(k);
	return rc;
}

/* Make an Ed25519 user key pair at path and path.pub. */
int
ssh_userkey_generate(const char *path, const char *comment, char *line,
    size_t linelen, struct diag *d)
{
	ssh_key key = NULL;
	int rc;

	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
		return diag_set(d, RG_ECRYPTO, path, 0, 0,
		    "cannot generate a key");
	rc = key_write_pair(key, path, comment, line, linelen, d);
	ssh_key_free(key);
	return rc;
}
