/*
 * keys/ssh_keys.c — SSH keys: the gateway's host keys (made on first
 * start, owner-only) and matching an offered public key against a user's
 * authorized_keys lines. libssh types stay behind keys.h's opaque
 * struct ssh_key_struct.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <openssl/evp.h>

#include "keys/keys.h"

#define AUTH_LINE_MAX	16384
#define SK_BLOB_MAX	8192

/* Write the private key (OpenSSH format) and NAME.pub (pubmode) durably. */
static int
key_write_pair(ssh_key key, const char *path, const char *comment,
    mode_t pubmode, char *line, size_t linelen, struct diag *d)
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
		rc = file_write_atomic(pubpath, b.data, b.len, pubmode, d);
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
	char pub[1024];
	ssh_key key = NULL;
	int rc;

	if (access(path, F_OK) == 0) {
		if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key)
		    != SSH_OK)
			return diag_set(d, RG_ECRYPTO, path, 0, 0,
			    "host key exists but cannot be read");
		ssh_key_free(key);
		/* keep it owner-only even if someone loosened it (the .pub
		 * too: an earlier relgate made it 0644) */
		if (chmod(path, 0600) == -1)
			return diag_set(d, RG_EIO, path, 0, 0, "chmod: %s",
			    strerror(errno));
		if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", path) <
		    sizeof(pub) && chmod(pub, 0600) == -1 && errno != ENOENT)
			return diag_set(d, RG_EIO, pub, 0, 0, "chmod: %s",
			    strerror(errno));
		return RG_OK;
	}
	if (ssh_pki_generate(type, bits, &key) != SSH_OK)
		return diag_set(d, RG_ECRYPTO, path, 0, 0,
		    "cannot generate a host key");
	/* under the state directory: owner-only, the .pub too */
	rc = key_write_pair(key, path, "relgated", 0600, NULL, 0, d);
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

/* The key types of authorized_keys lines relgate accepts; sk: a FIDO key. */
static const struct {
	const char	*name;
	int		 sk;
} line_types[] = {
	{ "ssh-ed25519", 0 },
	{ "ssh-rsa", 0 },
	{ "ecdsa-sha2-nistp256", 0 },
	{ "ecdsa-sha2-nistp384", 0 },
	{ "ecdsa-sha2-nistp521", 0 },
	{ "sk-ssh-ed25519@openssh.com", 1 },
	{ "sk-ecdsa-sha2-nistp256@openssh.com", 1 },
	{ NULL, 0 }
};

static const struct {
	const char	*name;
	unsigned	 bit;
} line_opts[] = {
	{ "verify-required", SSHKEY_OPT_VERIFY_REQUIRED },
	{ "no-touch-required", SSHKEY_OPT_NO_TOUCH_REQUIRED },
	{ NULL, 0 }
};

#define OPTS_UNDERSTOOD	"relgate understands only verify-required and " \
	"no-touch-required, on security keys (sk-ssh-ed25519@openssh.com, " \
	"sk-ecdsa-sha2-nistp256@openssh.com)"

/* Index into line_types of the type s[0..len), or -1. */
static int
line_type(const char *s, size_t len)
{
	int i;

	for (i = 0; line_types[i].name != NULL; i++)
		if (strlen(line_types[i].name) == len &&
		    memcmp(line_types[i].name, s, len) == 0)
			return i;
	return -1;
}

/* Length of the options field: up to the first blank outside quotes
 * (OpenSSH allows from="a b" and \" inside quotes). */
static size_t
opts_span(const char *s)
{
	size_t i;
	int q = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (!q && (s[i] == ' ' || s[i] == '\t'))
			break;
		if (q && s[i] == '\\' && s[i + 1] == '"')
			i++;
		else if (s[i] == '"')
			q = !q;
	}
	return i;
}

/* Length of one option in s[0..len): up to a comma outside quotes. */
static size_t
opt_item_span(const char *s, size_t len)
{
	size_t i;
	int q = 0;

	for (i = 0; i < len; i++) {
		if (!q && s[i] == ',')
			break;
		if (q && s[i] == '\\' && i + 1 < len && s[i + 1] == '"')
			i++;
		else if (s[i] == '"')
			q = !q;
	}
	return i;
}

/*
 * Read the options field of an authorized_keys line, if it has one (see
 * keys.h). The first field is the key type when it names one; otherwise
 * it is options when a key type follows it (as sshd reads the line).
 */
int
ssh_line_options(const char *line, unsigned *opts, size_t *key_off,
    char *why, size_t whylen)
{
	const char *p = line, *o, *t;
	size_t olen, tlen, i, ilen, nlen;
	unsigned bits = 0;
	int ti, j;

	p += strspn(p, " \t");
	tlen = strcspn(p, " \t");
	if (line_type(p, tlen) >= 0) {
		*opts = 0;
		*key_off = (size_t)(p - line);
		return RG_OK;
	}
	o = p;
	olen = opts_span(o);
	t = o + olen;
	t += strspn(t, " \t");
	tlen = strcspn(t, " \t");
	if (olen == 0 || (ti = line_type(t, tlen)) < 0) {
		tlen = strcspn(p, " \t");
		snprintf(why, whylen, "not an SSH public key line (unknown "
		    "key type '%.*s')", (int)(tlen > 40 ? 40 : tlen), p);
		return RG_EINVAL;
	}
	for (i = 0; i <= olen; i += ilen + 1) {
		ilen = opt_item_span(o + i, olen - i);
		nlen = strcspn(o + i, "=,\" \t");
		if (nlen > ilen)
			nlen = ilen;
		for (j = 0; line_opts[j].name != NULL; j++)
			if (nlen == ilen &&
			    strlen(line_opts[j].name) == nlen &&
			    strncasecmp(line_opts[j].name, o + i, nlen) == 0)
				break;
		if (line_opts[j].name == NULL) {
			snprintf(why, whylen, "key option '%.*s' is not "
			    "supported: %s", (int)(ilen > 40 ? 40 : ilen),
			    o + i, OPTS_UNDERSTOOD);
			return RG_EINVAL;
		}
		if (bits & line_opts[j].bit) {
			snprintf(why, whylen, "key option '%s' is given "
			    "twice", line_opts[j].name);
			return RG_EINVAL;
		}
		bits |= line_opts[j].bit;
		if (!line_types[ti].sk) {
			snprintf(why, whylen, "key option '%s' applies only "
			    "to security keys (sk-ssh-ed25519@openssh.com, "
			    "sk-ecdsa-sha2-nistp256@openssh.com), not to this "
			    "%s key", line_opts[j].name, line_types[ti].name);
			return RG_EINVAL;
		}
	}
	*opts = bits;
	*key_off = (size_t)(t - line);
	return RG_OK;
}

/*
 * Split an authorized_keys line (without its options) into its type and
 * base64 fields (borrowed from the copy in work). Certificates refused.
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
		    "unknown key type \"%.40s\"", t);
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

/* Import the public key of one authorized_keys line into *out, its
 * options into *opts. */
static int
auth_line_import(const char *line, ssh_key *out, unsigned *opts,
    struct diag *d)
{
	char *work, *type = NULL, *b64 = NULL, why[300];
	size_t len, off;
	int rc;

	len = strnlen(line, AUTH_LINE_MAX);
	if (len == AUTH_LINE_MAX)
		return diag_set(d, RG_ETOOBIG, NULL, 0, 0, "key line too long");
	if (ssh_line_options(line, opts, &off, why, sizeof(why)) != RG_OK)
		return diag_set(d, RG_EPARSE, NULL, 0, 0, "%s", why);
	if ((work = strdup(line + off)) == NULL)
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

/*
 * Index of the first line whose key equals key (public parts compared,
 * for sk keys the application too), its options into *opts; -1 if none.
 */
int
ssh_key_match(struct ssh_key_struct *key, char *const *lines, size_t n,
    unsigned *opts)
{
	char *want = NULL, *got;
	size_t i;
	int found = -1;

	if (key == NULL || lines == NULL)
		return -1;
	/*
	 * libssh 0.10's ssh_key_cmp() leaves out an sk key's application:
	 * the whole public blobs are compared too.
	 */
	if (ssh_pki_export_pubkey_base64(key, &want) != SSH_OK ||
	    want == NULL)
		return -1;
	for (i = 0; i < n && i < (size_t)INT_MAX && found < 0; i++) {
		ssh_key k = NULL;
		unsigned o = 0;
		int same;

		if (lines[i] == NULL ||
		    auth_line_import(lines[i], &k, &o, NULL) != RG_OK)
			continue;
		same = ssh_key_cmp(k, key, SSH_KEY_CMP_PUBLIC) == 0;
		got = NULL;
		if (same && (ssh_pki_export_pubkey_base64(k, &got) != SSH_OK ||
		    got == NULL || strcmp(got, want) != 0))
			same = 0;
		ssh_string_free_char(got);
		ssh_key_free(k);
		if (same) {
			if (opts != NULL)
				*opts = o;
			found = (int)i;
		}
	}
	ssh_string_free_char(want);
	return found;
}

/* 1 when key matches one of the lines (public parts compared). */
int
ssh_key_authorized(struct ssh_key_struct *key, char *const *lines, size_t n)
{
	return ssh_key_match(key, lines, n, NULL) >= 0;
}

/* Check that one authorized_keys line parses (its options too). */
int
ssh_authorized_line_check(const char *line, struct diag *d)
{
	ssh_key k = NULL;
	unsigned opts = 0;
	int rc;

	if (line == NULL)
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "no key line");
	rc = auth_line_import(line, &k, &opts, d);
	ssh_key_free(k);
	return rc;
}

/* 1 for a FIDO security key (sk-ed25519, sk-ecdsa), 0 otherwise. */
int
ssh_key_is_security_key(struct ssh_key_struct *key)
{
	enum ssh_keytypes_e t;

	if (key == NULL)
		return 0;
	t = ssh_key_type(key);
	return t == SSH_KEYTYPE_SK_ED25519 || t == SSH_KEYTYPE_SK_ECDSA;
}

/* One SSH wire "string" (uint32 length, bytes) at *p; advances *p. */
static int
blob_string(const unsigned char **p, const unsigned char *end,
    const unsigned char **s, size_t *len)
{
	uint32_t l;

	if (end - *p < 4)
		return -1;
	l = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
	    (uint32_t)(*p)[2] << 8 | (*p)[3];
	*p += 4;
	if ((size_t)(end - *p) < l)
		return -1;
	*s = *p;
	*len = l;
	*p += l;
	return 0;
}

/* 1 when s[0..len) is the text want. */
static int
blob_is(const unsigned char *s, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(s, want, len) == 0;
}

/*
 * SHA-256 of the application string of the sk key on line (PROTOCOL.u2f:
 * sk-ed25519 is string type, string key, string application; sk-ecdsa is
 * string type, string curve, string Q, string application).
 */
int
ssh_line_sk_app_hash(const char *line, unsigned char out[32])
{
	unsigned char blob[SK_BLOB_MAX];
	const unsigned char *p, *end, *s, *app;
	const char *t, *b;
	char why[300], b64[(SK_BLOB_MAX / 3) * 4 + 1];
	size_t off, tlen, blen, len, applen, pad;
	unsigned opts;
	unsigned int mdlen = 0;
	int n, ti;

	if (line == NULL ||
	    ssh_line_options(line, &opts, &off, why, sizeof(why)) != RG_OK)
		return RG_EINVAL;
	t = line + off;
	tlen = strcspn(t, " \t");
	if ((ti = line_type(t, tlen)) < 0 || !line_types[ti].sk)
		return RG_EINVAL;
	b = t + tlen;
	b += strspn(b, " \t");
	blen = strcspn(b, " \t\r\n");
	if (blen == 0 || blen % 4 != 0 || blen >= sizeof(b64))
		return RG_EINVAL;
	memcpy(b64, b, blen);
	b64[blen] = '\0';
	if ((n = EVP_DecodeBlock(blob, (unsigned char *)b64, (int)blen)) < 0)
		return RG_EINVAL;
	/* EVP_DecodeBlock counts the bytes of '=' padding too */
	pad = (b64[blen - 1] == '=') + (b64[blen - 2] == '=');
	p = blob;
	end = blob + (size_t)n - pad;
	if (blob_string(&p, end, &s, &len) != 0 ||
	    !blob_is(s, len, line_types[ti].name))
		return RG_EINVAL;
	if (strcmp(line_types[ti].name, "sk-ssh-ed25519@openssh.com") == 0) {
		if (blob_string(&p, end, &s, &len) != 0 || len != 32)
			return RG_EINVAL;
	} else {
		if (blob_string(&p, end, &s, &len) != 0 ||
		    !blob_is(s, len, "nistp256") ||
		    blob_string(&p, end, &s, &len) != 0 || len != 65)
			return RG_EINVAL;
	}
	if (blob_string(&p, end, &app, &applen) != 0 || applen == 0 ||
	    p != end)
		return RG_EINVAL;
	if (EVP_Digest(app, applen, out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return RG_ECRYPTO;
	return RG_OK;
}

/* "SHA256:base64" fingerprint of key (as ssh-keygen -l prints it). */
int
ssh_key_fingerprint(struct ssh_key_struct *key, char *out, size_t len)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp;
	int rc;

	if (key == NULL || ssh_get_publickey_hash(key,
	    SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != SSH_OK)
		return RG_ECRYPTO;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	if (fp == NULL)
		return RG_ECRYPTO;
	rc = rg_strlcpy(out, fp, len) >= len ? RG_ETOOBIG : RG_OK;
	ssh_string_free_char(fp);
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
	rc = key_write_pair(key, path, comment, 0644, line, linelen, d);
	ssh_key_free(key);
	return rc;
}
