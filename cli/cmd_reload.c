/*
 * relgate reload [-c DIR] — ask the running relgated to reload its
 * configuration directory: read state_dir from DIR/relgate.yaml, the pid
 * from STATE_DIR/relgated.pid, check that the pid is a relgated, and send
 * it SIGHUP. Exit 0 when the signal was sent, 1 when no daemon runs, 2 on
 * bad usage or an unreadable configuration.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "contracts/contracts.h"
#include "gateway/gateway.h"

/* 1 when /proc says pid runs relgated (0 when it cannot tell: no /proc). */
static int
pid_is_relgated(long pid)
{
	char path[64], comm[64];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	ok = fgets(comm, sizeof(comm), f) != NULL &&
	    strncmp(comm, "relgated", 8) == 0;
	fclose(f);
	return ok;
}

/* relgate reload: SIGHUP to the daemon named by the pid file. */
int
cmd_reload(const struct cli_global *g, int argc, char **argv)
{
	struct gateway_config cfg;
	struct diag d;
	char path[1024], why[700], *body = NULL, *end;
	size_t len;
	long pid;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			printf("usage: relgate [-c DIR] reload\n\n"
			    "Send SIGHUP to the running relgated, which "
			    "reloads DIR without dropping sessions.\n");
			return 0;
		}
		fprintf(stderr, "relgate reload: unexpected argument: %s\n",
		    argv[i]);
		return 2;
	}
	diag_clear(&d);
	gateway_config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s/relgate.yaml", g->config_dir);
	if (gateway_config_load(&cfg, path, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgate reload: %s\n", why);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s", cfg.state_dir, RELGATED_PIDFILE);
	if (file_read_small(&body, &len, path, 64, &d) != RG_OK) {
		fprintf(stderr, "relgate reload: no pid file %s: is relgated "
		    "running?\n", path);
		return 1;
	}
	errno = 0;
	pid = strtol(body, &end, 10);
	if (errno != 0 || end == body || (*end != '\n' && *end != '\0'))
		pid = -1;
	free(body);
	if (pid <= 1) {
		fprintf(stderr, "relgate reload: %s does not hold a pid\n",
		    path);
		return 1;
	}
	if (pid_is_relgated(pid) == 0) {
		fprintf(stderr, "relgate reload: pid %ld (from %s) is not "
		    "relgated: stale pid file\n", pid, path);
		return 1;
	}
	if (kill((pid_t)pid, SIGHUP) == -1) {
		fprintf(stderr, "relgate reload: pid %ld: %s\n", pid,
		    strerror(errno));
		return 1;
	}
	printf("relgate reload: sent SIGHUP to relgated (pid %ld)\n", pid);
	return 0;
}
