/*
 * What `relgate totp` and `relgate passwd` share: finding the user and the
 * state directory in the configuration, and the audit record each action
 * needs before it counts.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "contracts/contracts.h"

/*
 * Load DIR/relgate.yaml into *cfg and check that DIR/users/USER.yaml
 * exists. 0 when fine; otherwise prints why (prefixed "relgate CMD: ")
 * and returns exit status 2.
 */
int
cli_auth_setup(const struct cli_global *g, const char *cmd, const char *user,
    struct gateway_config *cfg)
{
	char path[4096], why[1200];
	struct diag d;
	struct stat st;

	if (!name_is_safe(user, 64)) {
		fprintf(stderr, "relgate %s: '%.80s' is not a valid user name "
		    "(letters, digits, '.', '_', '-'; at most 64)\n", cmd,
		    user);
		return 2;
	}
	gateway_config_defaults(cfg);
	diag_clear(&d);
	if ((size_t)snprintf(path, sizeof(path), "%s/relgate.yaml",
	    g->config_dir) >= sizeof(path)) {
		fprintf(stderr, "relgate %s: configuration path too long\n",
		    cmd);
		return 2;
	}
	if (gateway_config_load(cfg, path, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgate %s: %s\n", cmd, why);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/users/%s.yaml", g->config_dir, user);
	if (stat(path, &st) == -1) {
		fprintf(stderr, "relgate %s: no user '%s' in %s (%s: %s)\n",
		    cmd, user, g->config_dir, path, errno == ENOENT ?
		    "no such file" : strerror(errno));
		return 2;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "relgate %s: no user '%s' in %s (%s is not a "
		    "file)\n", cmd, user, g->config_dir, path);
		return 2;
	}
	return 0;
}

/*
 * Append one auth.* record for user durably: through the audit writer of
 * a running relgated when one answers, straight into the log otherwise
 * (audit_open() tries the writer's socket first). 0 when the record is
 * durable; otherwise prints why and returns -1: the action must not count.
 */
int
cli_auth_audit(const char *cmd, const char *state_dir, const char *type,
    const char *outcome, const char *user, const char *detail)
{
	struct audit_event ev;
	struct audit *a = NULL;
	struct diag d;
	char source[64], why[1200];
	int rc;

	diag_clear(&d);
	if ((rc = audit_open(&a, state_dir, &d)) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgate %s: cannot open the audit trail: %s\n",
		    cmd, why[0] != '\0' ? why : rg_strerror(rc));
		return -1;
	}
	/* who did it on this host: the uid behind the command */
	snprintf(source, sizeof(source), "local uid %ld", (long)getuid());
	audit_event_init(&ev, type, outcome);
	ev.user = user;
	ev.source = source;
	ev.detail = detail;
	rc = audit_append(a, &ev, NULL);
	audit_close(a);
	if (rc != RG_OK) {
		fprintf(stderr, "relgate %s: cannot write the audit record "
		    "(%s): %s\n", cmd, type, rg_strerror(rc));
		return -1;
	}
	return 0;
}
