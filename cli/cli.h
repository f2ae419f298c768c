/*
 * cli/ — the `relgate` command-line tool. relgate.c parses the global
 * options and dispatches to one cmd_*.c file per subcommand. Each command
 * returns the process exit status.
 */
#ifndef RG_CLI_H
#define RG_CLI_H

/* Options every subcommand shares. */
struct cli_global {
	const char *config_dir;	/* -c DIR, default /etc/relgate */
};

int	cmd_check(const struct cli_global *g, int argc, char **argv);
int	cmd_lint(const struct cli_global *g, int argc, char **argv);
int	cmd_mask(const struct cli_global *g, int argc, char **argv);
int	cmd_audit(const struct cli_global *g, int argc, char **argv);
int	cmd_reload(const struct cli_global *g, int argc, char **argv);

/*
 * Take "-c DIR" / "--config DIR" out of argv wherever it stands (the
 * product lets it come before or after the subcommand). Returns the new
 * argc; sets g->config_dir when found.
 */
int	cli_take_config(struct cli_global *g, int argc, char **argv);

#endif /* RG_CLI_H */
