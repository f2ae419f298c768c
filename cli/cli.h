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
int	cmd_totp(const struct cli_global *g, int argc, char **argv);
int	cmd_passwd(const struct cli_global *g, int argc, char **argv);

/*
 * Take "-c DIR" / "--config DIR" out of argv wherever it stands (the
 * product lets it come before or after the subcommand). Returns the new
 * argc; sets g->config_dir when found.
 */
int	cli_take_config(struct cli_global *g, int argc, char **argv);

/* ---- shared by totp and passwd (cli/auth_host.c) ---------------------- */

struct gateway_config;

/* Load DIR/relgate.yaml into *cfg and check that users/USER.yaml exists;
 * 0, or exit status 2 with the reason printed ("relgate CMD: ..."). */
int	cli_auth_setup(const struct cli_global *g, const char *cmd,
	    const char *user, struct gateway_config *cfg);
/* Append an auth.* record durably (the audit writer when it answers, the
 * log otherwise); 0, or -1 with the reason printed. */
int	cli_auth_audit(const char *cmd, const char *state_dir,
	    const char *type, const char *outcome, const char *user,
	    const char *detail);

#endif /* RG_CLI_H */
