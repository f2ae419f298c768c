/* relgate.yaml: the daemon's own settings, every key optional. */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "contracts/ytree.h"

/* Fill cfg with product.md's defaults. */
void
gateway_config_defaults(struct gateway_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	rg_strlcpy(cfg->listen, "0.0.0.0", sizeof(cfg->listen));
	cfg->port = 2222;
	rg_strlcpy(cfg->state_dir, "/var/lib/relgate", sizeof(cfg->state_dir));
	cfg->max_sessions = 256;
	cfg->max_sessions_per_user = 8;
	cfg->idle_timeout = 600;
	cfg->auth_fail_per_source = 10;
	cfg->auth_fail_per_user = 10;
	cfg->auth_fail_window = 60;
	cfg->auth_fail_ban = 600;
	cfg->log_syslog = 1;
	cfg->checkpoint_every = 1000;
	cfg->run_as[0] = '\0';
	cfg->syslog_audit = 0;
	for (i = 0; i < 4; i++)
		cfg->auth_role_factors[i] = FACTOR_PUBLICKEY | FACTOR_TOTP;
	cfg->totp_digits = 6;
	cfg->totp_period = 30;
	cfg->totp_skew = 1;
	cfg->notify.starttls = 1;
	cfg->notify.retry_first = 30;
	cfg->notify.retry_max = 3600;
	cfg->notify.attempts = 12;
}

/* Static name of one factor bit, or NULL. */
const char *
auth_factor_name(unsigned factor_bit)
{
	switch (factor_bit) {
	case FACTOR_PUBLICKEY:
		return "publickey";
	case FACTOR_SECURITY_KEY:
		return "security-key";
	case FACTOR_PASSWORD:
		return "password";
	case FACTOR_TOTP:
		return "totp";
	}
	return NULL;
}

/* The union of the factors of every role in roles. */
unsigned
auth_factors_for(const struct gateway_config *cfg, unsigned roles)
{
	unsigned f = 0, i;

	for (i = 0; i < 4; i++)
		if (roles & (1u << i))
			f |= cfg->auth_role_factors[i];
	/* one role's publickey is met by another's security key */
	if (f & FACTOR_SECURITY_KEY)
		f &= ~(unsigned)FACTOR_PUBLICKEY;
	return f;
}

/* "publickey,totp": the factors' names, comma-separated, into out. */
void
auth_factors_format(unsigned factors, char *out, size_t len)
{
	unsigned bit;
	size_t o = 0, n;
	const char *name;

	if (len == 0)
		return;
	out[0] = '\0';
	for (bit = FACTOR_PUBLICKEY; bit <= FACTOR_TOTP; bit <<= 1) {
		if (!(factors & bit) || (name = auth_factor_name(bit)) == NULL)
			continue;
		n = strlen(name);
		if (o + (o > 0) + n >= len)
			break;		/* whole names only */
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, name, n + 1);
		o += n;
	}
}

static const char *const config_keys[] = {
	"listen", "port", "state_dir", "max_sessions",
	"max_sessions_per_user", "idle_timeout", "auth_failures", "log",
	"checkpoint_every", "run_as", "syslog_audit", "auth", "notify", NULL
};

static const char *const auth_keys[] = {
	"per_source", "per_user", "window", "ban", NULL
};

static int
parse_auth(struct gateway_config *c, const struct ynode *m, const char *f,
    struct diag *d)
{
	const struct ynode *v;
	int rc;

	if ((rc = ymap_check(m, auth_keys, NULL, "auth_failures", f, d)))
		return rc;
	if ((v = ymap_get(m, "per_source")) && (rc = yget_int(
	    &c->auth_fail_per_source, v, "per_source", 1, 1000000, f, d)))
		return rc;
	if ((v = ymap_get(m, "per_user")) && (rc = yget_int(
	    &c->auth_fail_per_user, v, "per_user", 1, 1000000, f, d)))
		return rc;
	if ((v = ymap_get(m, "window")) && (rc = yget_int(
	    &c->auth_fail_window, v, "window", 1, 86400 * 30, f, d)))
		return rc;
	if ((v = ymap_get(m, "ban")) && (rc = yget_int(&c->auth_fail_ban, v,
	    "ban", 0, 86400 * 365, f, d)))
		return rc;
	return RG_OK;
}

/* auth: the roles in gateway_config.auth_role_factors order, then totp. */
static const char *const auth_map_keys[] = {
	"staff", "approver", "contractor", "officer", "totp", NULL
};
static const char *const factor_names[] = {
	"publickey", "security-key", "password", "totp", NULL
};
static const char *const totp_keys[] = { "digits", "period", "skew", NULL };

/* One role's list of factors, e.g. [publickey, totp], into *out. */
static int
parse_factor_list(unsigned *out, const struct ynode *v, const char *role,
    const char *f, struct diag *d)
{
	unsigned bits = 0, bit;
	size_t i;
	int rc, idx;

	if (v->kind != YNODE_SEQ || v->n == 0)
		return yerr(d, RG_EPARSE, f, v, "'%s' must be a list of at "
		    "least one of publickey, security-key, password, totp",
		    role);
	for (i = 0; i < v->n; i++) {
		if ((rc = yget_enum(&idx, v->kids[i], role, factor_names, f,
		    d)))
			return rc;
		bit = 1u << idx;
		if (bits & bit)
			return yerr(d, RG_EPARSE, f, v->kids[i],
			    "'%s' lists '%s' twice", role, factor_names[idx]);
		bits |= bit;
	}
	if (!(bits & (FACTOR_PUBLICKEY | FACTOR_SECURITY_KEY)))
		return yerr(d, RG_EPARSE, f, v, "'%s' must list publickey or "
		    "security-key: the SSH key comes first, and relgate has no "
		    "login without one", role);
	/* a FIDO key is a public key too: security-key stands for both */
	if (bits & FACTOR_SECURITY_KEY)
		bits &= ~(unsigned)FACTOR_PUBLICKEY;
	*out = bits;
	return RG_OK;
}

/* auth: {staff: [...], ..., totp: {digits, period, skew}} */
static int
parse_auth_factors(struct gateway_config *c, const struct ynode *m,
    const char *f, struct diag *d)
{
	const struct ynode *v, *t;
	size_t i;
	int rc;

	if ((rc = ymap_check(m, auth_map_keys, NULL, "auth", f, d)))
		return rc;
	for (i = 0; i < 4; i++)
		if ((v = ymap_get(m, auth_map_keys[i])) &&
		    (rc = parse_factor_list(&c->auth_role_factors[i], v,
		    auth_map_keys[i], f, d)))
			return rc;
	if ((t = ymap_get(m, "totp")) == NULL)
		return RG_OK;
	if ((rc = ymap_check(t, totp_keys, NULL, "auth totp", f, d)))
		return rc;
	if ((v = ymap_get(t, "digits")) &&
	    (rc = yget_int(&c->totp_digits, v, "digits", 6, 8, f, d)))
		return rc;
	if ((v = ymap_get(t, "period")) &&
	    (rc = yget_int(&c->totp_period, v, "period", 10, 300, f, d)))
		return rc;
	if ((v = ymap_get(t, "skew")) &&
	    (rc = yget_int(&c->totp_skew, v, "skew", 0, 5, f, d)))
		return rc;
	return RG_OK;
}

static const char *const notify_keys[] = {
	"smtp", "from", "starttls", "ca_file", "user", "password_file",
	"retry_first", "retry_max", "attempts", NULL
};
static const char *const notify_required[] = { "smtp", "from", NULL };

/* The host of smtp[s]://[user@]HOST[:PORT][/] is a loopback address. */
static int
smtp_host_loopback(const char *url)
{
	const char *h = strstr(url, "://"), *e;
	char host[256];
	unsigned char a[16];
	size_t n;

	h = h ? h + 3 : url;
	if (*h == '[') {
		if ((e = strchr(++h, ']')) == NULL)
			return 0;
	} else
		e = h + strcspn(h, ":/");
	if ((n = (size_t)(e - h)) == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1)
		return memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1",
		    16) == 0;
	return 0;
}

/* A file path under notify: absolute, without control bytes. */
static int
notify_path(char *out, size_t len, const struct ynode *v, const char *key,
    const char *f, struct diag *d)
{
	const char *p;
	int rc;

	if ((rc = yget_strbuf(out, len, v, key, f, d)))
		return rc;
	for (p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			break;
	if (out[0] != '/' || *p != '\0')
		return yerr(d, RG_EPARSE, f, v, "'%s' must be an absolute "
		    "path", key);
	return RG_OK;
}

/* notify: {smtp, from, starttls, ca_file, user, password_file, retry_*} */
static int
parse_notify(struct notify_config *n, const struct ynode *m, const char *f,
    struct diag *d)
{
	static const char *const tls[] = { "off", "required", NULL };
	const struct ynode *v;
	struct stat st;
	char why[200];
	const char *p;
	int rc;

	if ((rc = ymap_check(m, notify_keys, notify_required, "notify", f, d)))
		return rc;
	v = ymap_get(m, "smtp");
	if ((rc = yget_strbuf(n->smtp, sizeof(n->smtp), v, "smtp", f, d)))
		return rc;
	p = n->smtp;
	if (strncmp(p, "smtp://", 7) == 0)
		p += 7;
	else if (strncmp(p, "smtps://", 8) == 0)
		p += 8;
	else
		return yerr(d, RG_EPARSE, f, v, "'smtp' must be a URL "
		    "smtp://HOST[:PORT] or smtps://HOST[:PORT]");
	if (*p == '\0' || *p == ':' || *p == '/' ||
	    strcspn(p, "@?#") != strlen(p) ||
	    strcspn(p, " \t\r\n\\") != strlen(p) ||
	    (strchr(p, '/') != NULL && strcmp(strchr(p, '/'), "/") != 0))
		return yerr(d, RG_EPARSE, f, v, "'smtp' must be a URL "
		    "smtp://HOST[:PORT] or smtps://HOST[:PORT], without user, "
		    "path or query");
	v = ymap_get(m, "from");
	if ((rc = yget_strbuf(n->from, sizeof(n->from), v, "from", f, d)))
		return rc;
	if (!mail_addr_ok(n->from, why, sizeof(why)))
		return yerr(d, RG_EPARSE, f, v, "'from': %s", why);
	if ((v = ymap_get(m, "starttls"))) {
		if ((rc = yget_enum(&n->starttls, v, "starttls", tls, f, d)))
			return rc;
		if (!n->starttls && strncmp(n->smtp, "smtps://", 8) == 0)
			return yerr(d, RG_EPARSE, f, v, "'starttls: off' with "
			    "smtps:// (TLS from the start): remove it");
		if (!n->starttls && !smtp_host_loopback(n->smtp))
			return yerr(d, RG_EPARSE, f, v, "'starttls: off' is "
			    "only allowed for a relay on loopback (127.0.0.1, "
			    "::1, localhost): mail would cross the network in "
			    "clear");
	}
	if ((v = ymap_get(m, "ca_file")) && (rc = notify_path(n->ca_file,
	    sizeof(n->ca_file), v, "ca_file", f, d)))
		return rc;
	if ((v = ymap_get(m, "user"))) {
		if ((rc = yget_strbuf(n->user, sizeof(n->user), v, "user", f,
		    d)))
			return rc;
		for (p = n->user; *p; p++)
			if ((unsigned char)*p <= 0x20 || *p == 0x7f)
				return yerr(d, RG_EPARSE, f, v, "'user' cannot "
				    "hold spaces or control bytes");
	}
	if ((v = ymap_get(m, "password_file"))) {
		if ((rc = notify_path(n->password_file,
		    sizeof(n->password_file), v, "password_file", f, d)))
			return rc;
		if (stat(n->password_file, &st) != 0 || !S_ISREG(st.st_mode))
			return yerr(d, RG_EPARSE, f, v, "'password_file' %s "
			    "is not a readable file", n->password_file);
		if (st.st_mode & 077)
			return yerr(d, RG_EPARSE, f, v, "'password_file' %s "
			    "must be 0600 (it is %04o)", n->password_file,
			    (unsigned)(st.st_mode & 07777));
	}
	if ((n->user[0] != '\0') != (n->password_file[0] != '\0'))
		return yerr(d, RG_EPARSE, f, m, "notify: 'user' and "
		    "'password_file' go together");
	if ((v = ymap_get(m, "retry_first")) && (rc = yget_int(
	    &n->retry_first, v, "retry_first", 1, 86400, f, d)))
		return rc;
	if ((v = ymap_get(m, "retry_max")) && (rc = yget_int(
	    &n->retry_max, v, "retry_max", 1, 86400, f, d)))
		return rc;
	if (n->retry_max < n->retry_first)
		return yerr(d, RG_EPARSE, f, v ? v : m, "'retry_max' is less "
		    "than 'retry_first'");
	if ((v = ymap_get(m, "attempts")) && (rc = yget_int(&n->attempts, v,
	    "attempts", 1, 100, f, d)))
		return rc;
	n->enabled = 1;
	return RG_OK;
}

static int
parse_config(struct gateway_config *c, const struct ynode *root,
    const char *f, struct diag *d)
{
	static const char *const logs[] = { "stderr", "syslog", NULL };
	const struct ynode *v;
	int rc;

	if ((rc = ymap_check(root, config_keys, NULL, "relgate.yaml", f, d)))
		return rc;
	if ((v = ymap_get(root, "listen"))) {
		unsigned char addr[16];

		if ((rc = yget_strbuf(c->listen, sizeof(c->listen), v,
		    "listen", f, d)))
			return rc;
		if (inet_pton(AF_INET, c->listen, addr) != 1 &&
		    inet_pton(AF_INET6, c->listen, addr) != 1)
			return yerr(d, RG_EPARSE, f, v, "'listen' must be an "
			    "IPv4 or IPv6 address");
	}
	if ((v = ymap_get(root, "port")) &&
	    (rc = yget_int(&c->port, v, "port", 1, 65535, f, d)))
		return rc;
	if ((v = ymap_get(root, "state_dir"))) {
		if ((rc = yget_strbuf(c->state_dir, sizeof(c->state_dir), v,
		    "state_dir", f, d)))
			return rc;
		if (c->state_dir[0] != '/')
			return yerr(d, RG_EPARSE, f, v,
			    "'state_dir' must be an absolute path");
	}
	if ((v = ymap_get(root, "max_sessions")) && (rc = yget_int(
	    &c->max_sessions, v, "max_sessions", 1, 100000, f, d)))
		return rc;
	if ((v = ymap_get(root, "max_sessions_per_user")) &&
	    (rc = yget_int(&c->max_sessions_per_user, v,
	    "max_sessions_per_user", 1, 100000, f, d)))
		return rc;
	if (c->max_sessions_per_user > c->max_sessions)
		return yerr(d, RG_EPARSE, f, ymap_get(root,
		    "max_sessions_per_user") ? ymap_get(root,
		    "max_sessions_per_user") : ymap_get(root, "max_sessions"),
		    "'max_sessions_per_user' is more than 'max_sessions'");
	if ((v = ymap_get(root, "idle_timeout")) && (rc = yget_int(
	    &c->idle_timeout, v, "idle_timeout", 1, 86400 * 7, f, d)))
		return rc;
	if ((v = ymap_get(root, "auth_failures")) &&
	    (rc = parse_auth(c, v, f, d)))
		return rc;
	if ((v = ymap_get(root, "log")) &&
	    (rc = yget_enum(&c->log_syslog, v, "log", logs, f, d)))
		return rc;
	if ((v = ymap_get(root, "checkpoint_every")) && (rc = yget_int(
	    &c->checkpoint_every, v, "checkpoint_every", 1, 100000000, f, d)))
		return rc;
	if ((v = ymap_get(root, "run_as"))) {
		if ((rc = yget_strbuf(c->run_as, sizeof(c->run_as), v,
		    "run_as", f, d)))
			return rc;
		if (!name_is_safe(c->run_as, sizeof(c->run_as) - 1))
			return yerr(d, RG_EPARSE, f, v,
			    "'run_as' is not a valid user name");
	}
	if ((v = ymap_get(root, "syslog_audit")) &&
	    (rc = yget_bool(&c->syslog_audit, v, "syslog_audit", f, d)))
		return rc;
	if ((v = ymap_get(root, "auth")) &&
	    (rc = parse_auth_factors(c, v, f, d)))
		return rc;
	if ((v = ymap_get(root, "notify")) &&
	    (rc = parse_notify(&c->notify, v, f, d)))
		return rc;
	return RG_OK;
}

/*
 * Load relgate.yaml over the defaults. A missing file leaves the defaults
 * and is not an error. On error cfg still holds the defaults.
 */
int
gateway_config_load(struct gateway_config *cfg, const char *path,
    struct diag *d)
{
	struct gateway_config tmp;
	struct ynode *root = NULL;
	char *data = NULL;
	size_t len;
	int rc;

	gateway_config_defaults(cfg);
	rc = file_read_small(&data, &len, path, YTREE_MAX_FILE, NULL);
	if (rc == RG_ENOENT)
		return RG_OK;
	if (rc)
		return diag_set(d, rc, path, 0, 0, "cannot read: %s",
		    rg_strerror(rc));
	rc = ytree_parse(&root, data, len, path, d);
	free(data);
	if (rc)
		return rc;
	gateway_config_defaults(&tmp);
	rc = parse_config(&tmp, root, path, d);
	ynode_free(root);
	if (rc == RG_OK)
		*cfg = tmp;
	return rc;
}
