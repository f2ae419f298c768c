/* relgate(1): checks, masking, linting, audit review and second factors
 * on the host. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
	const char *name;
	int (*run)(const struct cli_global *, int, char **);
	const char *summary;
} commands[] = {
	{ "check",  cmd_check,  "check an extract against a contract" },
	{ "lint",   cmd_lint,   "validate a configuration directory" },
	{ "mask",   cmd_mask,   "pseudonymise columns with a contract's key" },
	{ "audit",  cmd_audit,  "review and verify the audit trail" },
	{ "reload", cmd_reload, "ask the running relgated to reload" },
	{ "totp",   cmd_totp,   "enroll or reset a user's one-time codes" },
	{ "passwd", cmd_passwd, "make a password_hash: line for a user" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: relgate [-c DIR] COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n-c DIR may stand before or after COMMAND "
	    "(default /etc/relgate).\nSee relgate(1).\n");
}

int
cli_take_config(struct cli_global *g, int argc, char **argv)
{
	int i, j;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			g->config_dir = argv[i + 1];
			for (j = i; j + 2 <= argc; j++)
				argv[j] = argv[j + 2];
			argc -= 2;
			i--;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			g->config_dir = argv[i] + 9;
			for (j = i; j + 1 <= argc; j++)
				argv[j] = argv[j + 1];
			argc -= 1;
			i--;
		}
	}
	return argc;
}

int
main(int argc, char **argv)
{
	struct cli_global g = { "/etc/relgate" };
	size_t i;

	argc = cli_take_config(&g, argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("relgate %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(&g, argc - 1, argv + 1);
	fprintf(stderr, "relgate: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
