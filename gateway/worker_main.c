/*
 * relgate-worker — the release worker alone, for tests and for operators
 * who run it beside the daemon by hand. relgated normally forks it itself.
 *
 *	relgate-worker -c CONFIG_DIR -s STATE_DIR [--once]
 *
 * --once: recover, handle the queue until it is empty, expire, exit.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "gateway/gateway.h"

static void
usage(void)
{
	fprintf(stderr, "usage: relgate-worker -c CONFIG_DIR [-s STATE_DIR]"
	    " [--once]\n");
	exit(2);
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
