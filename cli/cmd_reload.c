/* relgate reload — not built yet; its owner replaces this file. */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"

int
cmd_reload(const struct cli_global *g, int argc, char **argv)
{
	(void)g; (void)argc; (void)argv;
	fprintf(stderr, "relgate reload: not available in this build\n");
	return 2;
}
