/* relgate.yaml: the daemon's own settings, every key optional. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "contracts/ytree.h"

/* Fill cfg with product.md's defaults. */
void
gateway_config_defaults(struct gateway_config *cfg)
{
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
}

static const char *const config_keys[] = {
	"listen", "port", "state_dir", "max_sessions",
	"max_sessions_per_user", "idle_timeout", "auth_failures", "log",
	"checkpoint_every", "run_as", "syslog_audit", NULL
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
