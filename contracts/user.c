/* users/NAME.yaml: one user's roles, organisation, SSH keys and password
 * hash. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "contracts/ytree.h"
#include "keys/keys.h"

#define USER_MAX_KEYS		32
#define SSH_KEY_MAX_LINE	16384
#define PASSWORD_HASH_MAX	255

static const char *const role_names[] = {
	"staff", "approver", "contractor", "officer", NULL
};

/* Static name of one role bit, or NULL. */
const char *
role_name(unsigned role)
{
	switch (role) {
	case ROLE_STAFF:
		return "staff";
	case ROLE_APPROVER:
		return "approver";
	case ROLE_CONTRACTOR:
		return "contractor";
	case ROLE_OFFICER:
		return "officer";
	}
	return NULL;
}

/* Free a user; NULL-safe. */
void
user_free(struct user *u)
{
	if (u == NULL)
		return;
	free(u->name);
	free(u->organisation);
	strlist_free(u->ssh_keys, u->n_ssh_keys);
	free(u->ssh_keys_pos);
	free(u->ssh_key_opts);
	if (u->password_hash != NULL)
		rg_wipe(u->password_hash, strlen(u->password_hash));
	free(u->password_hash);
	free(u->email);
	free(u->path);
	free(u);
}

static int
atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A plausible addr-spec: dot-atom local part, a host name as domain. */
int
mail_addr_ok(const char *s, char *why, size_t whylen)
{
	const char *at = NULL, *p;
	size_t len = strlen(s), label = 0;

	for (p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f) {
			snprintf(why, whylen, "an e-mail address cannot hold "
			    "a control byte (0x%02x): a mail header could be "
			    "injected through it", c);
			return 0;
		}
		if (c == ' ' || c >= 0x80) {
			snprintf(why, whylen, "an e-mail address is ASCII "
			    "without spaces");
			return 0;
		}
		if (c == '@') {
			if (at != NULL) {
				snprintf(why, whylen, "an e-mail address has "
				    "one '@'");
				return 0;
			}
			at = p;
		}
	}
	if (at == NULL || at == s || at[1] == '\0' || len > 254 ||
	    at - s > 64) {
		snprintf(why, whylen, "not an e-mail address (local@domain)");
		return 0;
	}
	for (p = s; p < at; p++)
		if (!(atext((unsigned char)*p) || (*p == '.' && p != s &&
		    p + 1 != at && p[1] != '.'))) {
			snprintf(why, whylen, "the part before '@' may hold "
			    "letters, digits, dots (not first, last or twice) "
			    "and !#$%%&'*+-/=?^_`{|}~");
			return 0;
		}
	for (p = at + 1; ; p++) {
		int c = (unsigned char)*p;

		if (c == '.' || c == '\0') {
			if (label == 0 || p[-1] == '-') {
				snprintf(why, whylen, "the domain after '@' is "
				    "not a host name");
				return 0;
			}
			label = 0;
			if (c == '\0')
				break;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c == '-' && label > 0)) ||
		    ++label > 63) {
			snprintf(why, whylen, "the domain after '@' is not a "
			    "host name");
			return 0;
		}
	}
	return 1;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict base64 (padding required) of s[0..len) into out; -1 on error. */
static long
b64_decode(unsigned char *out, size_t outlen, const char *s, size_t len)
{
	size_t i, o = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		int a = b64val(s[i]), b = b64val(s[i + 1]);
		int c = s[i + 2] == '=' ? -2 : b64val(s[i + 2]);
		int e = s[i + 3] == '=' ? -2 : b64val(s[i + 3]);
		uint32_t v;

		if (a < 0 || b < 0 || c == -1 || e == -1)
			return -1;
		if ((c == -2 || e == -2) && i + 4 != len)
			return -1;
		if (c == -2 && e != -2)
			return -1;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 |
		    (uint32_t)(c < 0 ? 0 : c) << 6 | (uint32_t)(e < 0 ? 0 : e);
		if (o + 3 > outlen)
			return -1;
		out[o++] = (unsigned char)(v >> 16);
		if (c >= 0)
			out[o++] = (unsigned char)(v >> 8);
		if (e >= 0)
			out[o++] = (unsigned char)v;
	}
	return (long)o;
}

static const char *const ssh_key_types[] = {
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com", NULL
};

/*
 * Check the shape of one authorized_keys line: "[OPTIONS] TYPE BASE64
 * [comment]", a known key type, valid base64 whose blob starts with the
 * same type name (for a security key, the whole blob well formed). The
 * only options are verify-required and no-touch-required, on security
 * keys (others the gateway would not enforce); their bits into *opts.
 */
static int
ssh_key_check(const char *line, unsigned *opts, char *why, size_t whylen)
{
	unsigned char blob[8192], apphash[32];
	const char *p = line, *t, *b;
	size_t tlen, blen, i, off;
	long n;
	uint32_t l;
	int rc;

	if ((rc = ssh_line_options(line, opts, &off, why, whylen)) != RG_OK)
		return rc;
	p = line + off;
	t = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	tlen = (size_t)(p - t);
	for (i = 0; ssh_key_types[i] != NULL; i++)
		if (strlen(ssh_key_types[i]) == tlen &&
		    memcmp(ssh_key_types[i], t, tlen) == 0)
			break;
	if (ssh_key_types[i] == NULL) {
		snprintf(why, whylen, "not an SSH public key line (unknown "
		    "key type '%.*s')", (int)(tlen > 40 ? 40 : tlen), t);
		return RG_EINVAL;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	b = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	blen = (size_t)(p - b);
	if (blen == 0) {
		snprintf(why, whylen, "SSH key has no key data");
		return RG_EINVAL;
	}
	n = b64_decode(blob, sizeof(blob), b, blen);
	if (n < 4) {
		snprintf(why, whylen, "SSH key data is not valid base64");
		return RG_EINVAL;
	}
	l = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
	    (uint32_t)blob[2] << 8 | blob[3];
	if (l != tlen || (size_t)n < 4 + tlen || memcmp(blob + 4, t, tlen) != 0) {
		snprintf(why, whylen, "SSH key data does not match its type "
		    "'%.*s'", (int)tlen, t);
		return RG_EINVAL;
	}
	if (strchr(line, '\n') != NULL || strchr(line, '\r') != NULL) {
		snprintf(why, whylen, "SSH key must be one line");
		return RG_EINVAL;
	}
	if (strncmp(t, "sk-", 3) == 0 &&
	    ssh_line_sk_app_hash(line, apphash) != RG_OK) {
		snprintf(why, whylen, "security key data is not a well-formed "
		    "'%.*s' key", (int)tlen, t);
		return RG_EINVAL;
	}
	return RG_OK;
}

/*
 * password_hash: a yescrypt hash as crypt(3) writes it ("$y$PARAMS$SALT$
 * HASH"): the crypt alphabet only, at most PASSWORD_HASH_MAX bytes.
 */
static int
password_hash_check(const char *h)
{
	size_t i, fields = 0;

	if (strncmp(h, "$y$", 3) != 0 || strlen(h) > PASSWORD_HASH_MAX)
		return 0;
	for (i = 0; h[i] != '\0'; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '/' ||
		    c == '$'))
			return 0;
	}
	/* the fields after "$y": parameters, salt, hash; none empty */
	for (i = 2; h[i] != '\0'; i++) {
		if (h[i] != '$')
			continue;
		if (h[i + 1] == '\0' || h[i + 1] == '$')
			return 0;
		fields++;
	}
	return fields >= 3;
}

static const char *const user_keys[] = {
	"roles", "organisation", "ssh_keys", "valid_until", "training_expires",
	"password_hash", "email", NULL
};
static const char *const user_required[] = {
	"roles", "organisation", "ssh_keys", NULL
};

static int
parse_roles(struct user *u, const struct ynode *v, const char *f,
    struct diag *d)
{
	size_t i;
	int rc, idx;

	if (v->kind != YNODE_SEQ || v->n == 0)
		return yerr(d, RG_EPARSE, f, v,
		    "'roles' must be a list of at least one of staff, "
		    "approver, contractor, officer");
	for (i = 0; i < v->n; i++) {
		if ((rc = yget_enum(&idx, v->kids[i], "roles", role_names, f,
		    d)))
			return rc;
		if (u->roles & (1u << idx))
			return yerr(d, RG_EPARSE, f, v->kids[i],
			    "'roles' lists '%s' twice", role_names[idx]);
		u->roles |= 1u << idx;
	}
	if ((u->roles & ROLE_CONTRACTOR) &&
	    (u->roles & (ROLE_STAFF | ROLE_APPROVER | ROLE_OFFICER)))
		return yerr(d, RG_EPARSE, f, v, "a contractor cannot also hold "
		    "a department role (staff, approver, officer)");
	/* relgate's rule: whoever authorises a release is department staff */
	if ((u->roles & ROLE_APPROVER) && !(u->roles & ROLE_STAFF))
		return yerr(d, RG_EPARSE, f, v, "an approver must also hold "
		    "the staff role (roles: [staff, approver])");
	return RG_OK;
}

static int
parse_user(struct user *u, const struct ynode *root, const char *f,
    struct diag *d)
{
	const struct ynode *v;
	char why[400];
	size_t i;
	int rc;

	if ((rc = ymap_check(root, user_keys, user_required, "user", f, d)))
		return rc;
	if ((rc = parse_roles(u, ymap_get(root, "roles"), f, d)))
		return rc;
	v = ymap_get(root, "organisation");
	if ((rc = yget_str(&u->organisation, v, "organisation", 128, f, d)))
		return rc;
	if (!name_is_safe(u->organisation, 128))
		return yerr(d, RG_EPARSE, f, v, "'organisation' must be a "
		    "name of letters, digits, '.', '_' and '-'");
	v = ymap_get(root, "ssh_keys");
	if ((rc = yget_strlist(&u->ssh_keys, &u->n_ssh_keys, &u->ssh_keys_pos, v,
	    "ssh_keys", USER_MAX_KEYS, SSH_KEY_MAX_LINE, 1, f, d)))
		return rc;
	if (u->n_ssh_keys > 0 && (u->ssh_key_opts = calloc(u->n_ssh_keys,
	    sizeof(*u->ssh_key_opts))) == NULL)
		return diag_set(d, RG_ENOMEM, f, 0, 0, "out of memory");
	for (i = 0; i < u->n_ssh_keys; i++)
		if (ssh_key_check(u->ssh_keys[i], &u->ssh_key_opts[i], why,
		    sizeof(why)) != RG_OK)
			return yerr(d, RG_EPARSE, f, v->kids[i], "%s", why);
	if ((v = ymap_get(root, "valid_until")) &&
	    (rc = yget_date(&u->valid_until, v, "valid_until", f, d)))
		return rc;
	if ((v = ymap_get(root, "training_expires")) &&
	    (rc = yget_date(&u->training_expires, v, "training_expires", f, d)))
		return rc;
	if ((v = ymap_get(root, "password_hash"))) {
		if ((rc = yget_str(&u->password_hash, v, "password_hash",
		    PASSWORD_HASH_MAX, f, d)))
			return rc;
		if (!password_hash_check(u->password_hash))
			return yerr(d, RG_EPARSE, f, v, "'password_hash' must "
			    "be a yescrypt hash (\"$y$...\", as `relgate "
			    "passwd` prints it)");
	}
	if ((v = ymap_get(root, "email"))) {
		if ((rc = yget_str(&u->email, v, "email", 254, f, d)))
			return rc;
		if (!mail_addr_ok(u->email, why, sizeof(why)))
			return yerr(d, RG_EPARSE, f, v, "'email': %s", why);
	}
	return RG_OK;
}

/* The user name is the file name without its folder and ".yaml". */
static int
name_from_path(char **out, const char *path)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 5 && strcmp(b + n - 5, ".yaml") == 0)
		n -= 5;
	else if (n > 4 && strcmp(b + n - 4, ".yml") == 0)
		n -= 4;
	if ((*out = strndup(b, n)) == NULL)
		return RG_ENOMEM;
	return RG_OK;
}

/*
 * Load users/NAME.yaml strictly. *out is the caller's (user_free()); on
 * error returns a negative RG_E* code with file:line:col in *d.
 */
int
user_load(struct user **out, const char *path, struct diag *d)
{
	struct ynode *root = NULL;
	struct user *u;
	int rc;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return diag_set(d, RG_ENOMEM, path, 0, 0, "out of memory");
	u->valid_until = DATE_UNSET;
	u->training_expires = DATE_UNSET;
	if ((u->path = strdup(path)) == NULL ||
	    name_from_path(&u->name, path) != RG_OK) {
		user_free(u);
		return diag_set(d, RG_ENOMEM, path, 0, 0, "out of memory");
	}
	if (!name_is_safe(u->name, 64)) {
		rc = diag_set(d, RG_EINVAL, path, 0, 0, "'%.80s' is not a "
		    "valid user name (letters, digits, '.', '_', '-'; at most "
		    "64)", u->name);
		user_free(u);
		return rc;
	}
	if ((rc = ytree_load(&root, path, d)) == RG_OK)
		rc = parse_user(u, root, path, d);
	ynode_free(root);
	if (rc) {
		user_free(u);
		return rc;
	}
	*out = u;
	return RG_OK;
}
