/*
 * relgate-worker — the release worker alone, for tests and for operators
 * who run it beside the daemon by hand. relgated normally forks it itself.
 *
 *	relgate-worker -c CONFIG_DIR -s STATE_DIR [--once]
 *
 * --once: recover, handle the queue until it is empty, expire, exit.
 *
 *	relgate-worker -s STATE_DIR --enqueue KIND ARG...
 *
 * adds one queue entry as the SFTP layer would (submit USER FOLDER,
 * withdraw USER FOLDER, decision REQUEST USER, download CONTRACT RELEASE
 * USER).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "release/release.h"

static void
usage(void)
{
	fprintf(stderr, "usage: relgate-worker -c CONFIG_DIR [-s STATE_DIR]"
	    " [--once]\n"
	    "       relgate-worker -s STATE_DIR --enqueue KIND ARG...\n");
	exit(2);
}

static int
enqueue(const char *state, int argc, char **argv)
{
	struct diag d;
	int rc;

	diag_clear(&d);
	if (argc == 3 && strcmp(argv[0], "submit") == 0)
		rc = queue_submit(state, argv[1], argv[2], &d);
	else if (argc == 3 && strcmp(argv[0], "withdraw") == 0)
		rc = queue_withdraw(state, argv[1], argv[2], &d);
	else if (argc == 3 && strcmp(argv[0], "decision") == 0)
		rc = queue_decision(state, argv[1], argv[2], &d);
	else if (argc == 4 && strcmp(argv[0], "download") == 0)
		rc = queue_download(state, argv[1], argv[2], argv[3], &d);
	else
		usage();
	if (rc != RG_OK) {
		fprintf(stderr, "relgate-worker: %s\n", d.msg);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *config = "/etc/relgate", *state = NULL;
	struct gateway_config cfg;
	char path[1200];
	struct diag d;
	int i, once = 0, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			state = argv[++i];
		else if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--enqueue") == 0 && state != NULL)
			return enqueue(state, argc - i - 1, argv + i + 1);
		else
			usage();
	}
	log_init(LOG_TO_STDERR, "relgate-worker", getenv("RG_DEBUG") != NULL);
	diag_clear(&d);
	if (state == NULL) {
		gateway_config_defaults(&cfg);
		snprintf(path, sizeof(path), "%s/relgate.yaml", config);
		if (gateway_config_load(&cfg, path, &d) != RG_OK) {
			fprintf(stderr, "relgate-worker: %s\n", d.msg);
			return 2;
		}
		state = cfg.state_dir;
	}
	if (!once)
		return worker_run(config, state);
	rc = worker_run_once(config, state, &d);
	if (rc != RG_OK) {
		fprintf(stderr, "relgate-worker: %s\n", d.msg[0] ? d.msg :
		    rg_strerror(rc));
		return 1;
	}
	return 0;
}
