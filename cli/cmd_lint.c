/*
 * relgate lint [-c DIR] — load a configuration directory the way relgated
 * does and print every problem as file:line:col: message.
 * Exit 0 when clean, 1 when there is any problem, 2 when DIR cannot be read.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "contracts/contracts.h"

static void
lint_usage(FILE *f)
{
	fprintf(f, "usage: relgate [-c DIR] lint [-q]\n"
	    "Check relgate.yaml, users/, contracts/ and keys/pgp/ in DIR\n"
	    "(default /etc/relgate) without starting anything.\n");
}

/* relgate lint: print every problem; exit 0 clean, 1 problems, 2 unreadable. */
int
cmd_lint(const struct cli_global *g, int argc, char **argv)
{
	struct config_dir *cd = NULL;
	struct diag d;
	char line[2048];
	size_t i;
	int quiet = 0, rc;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-q") == 0 ||
		    strcmp(argv[i], "--quiet") == 0)
			quiet = 1;
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			lint_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "relgate lint: unexpected argument "
			    "'%s'\n", argv[i]);
			lint_usage(stderr);
			return 2;
		}
	}
	diag_clear(&d);
	if ((rc = config_dir_load(&cd, g->config_dir, &d)) != RG_OK) {
		diag_format(&d, line, sizeof(line));
		fprintf(stderr, "relgate lint: %s\n", line);
		return 2;
	}
	for (i = 0; i < cd->n_problems; i++) {
		diag_format(&cd->problems[i].diag, line, sizeof(line));
		printf("%s\n", line);
	}
	/* Warnings do not change the exit status. */
	for (i = 0; i < cd->n_warnings; i++) {
		diag_format(&cd->warnings[i].diag, line, sizeof(line));
		printf("%s\n", line);
	}
	fflush(stdout);
	if (!quiet)
		fprintf(stderr, "relgate lint: %s: %zu user%s, %zu contract%s "
		    "loaded; %zu problem%s, %zu warning%s\n", g->config_dir,
		    cd->n_users, cd->n_users == 1 ? "" : "s", cd->n_contracts,
		    cd->n_contracts == 1 ? "" : "s", cd->n_problems,
		    cd->n_problems == 1 ? "" : "s", cd->n_warnings,
		    cd->n_warnings == 1 ? "" : "s");
	rc = cd->n_problems > 0 ? 1 : 0;
	config_dir_free(cd);
	if (fflush(stdout) != 0)
		return 2;
	return rc;
}
