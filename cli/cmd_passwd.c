/*
 * relgate passwd USER [--stdin] — make the `password_hash:` line for
 * users/USER.yaml (the `password` factor): the new password is read twice
 * from the terminal with echo off (or once from standard input with
 * --stdin, for scripts) and hashed with yescrypt. Nothing is written to
 * the user file: the operator pastes the line, and relgated reads it at
 * the next reload. Exit 0 done, 1 refused (passwords differ, empty), 2
 * could not run (bad usage, no such user, no terminal, audit failure).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "contracts/contracts.h"
#include "keys/keys.h"

#define PW_CAP		1024	/* as keys/password.c */

static volatile sig_atomic_t pw_signal;

static void
on_signal(int sig)
{
	pw_signal = sig;
}

static void
passwd_usage(FILE *f)
{
	fprintf(f, "usage: relgate [-c DIR] passwd USER [--stdin]\n"
	    "Read a new password for USER twice from the terminal (--stdin: one\n"
	    "line from standard input) and print the password_hash: line for\n"
	    "users/USER.yaml.\n");
}

/*
 * Read one line from fd into buf[cap] byte by byte (no stdio buffer keeps
 * a copy), without the newline. 0 done; 1 at the end of input with
 * nothing read; -1 on error, a signal, or a line that does not fit.
 */
static int
read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r == -1 && errno == EINTR && pw_signal == 0)
			continue;
		if (r == -1)
			return -1;
		if (r == 0) {
			if (n == 0)
				return 1;
			break;
		}
		if (c == '\n')
			break;
		if (n + 1 >= cap) {
			/* drain the rest of the line, keep nothing */
			while ((r = read(fd, &c, 1)) == 1 && c != '\n')
				;
			rg_wipe(buf, cap);
			return -1;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

/*
 * Turn echo off on the terminal fd (*old keeps the settings to put back).
 * Done before the first prompt: TCSAFLUSH drops what was typed before the
 * question, never an answer to it.
 */
static int
tty_quiet(int fd, struct termios *old)
{
	struct termios quiet;

	if (tcgetattr(fd, old) == -1)
		return -1;
	quiet = *old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL;
	return tcsetattr(fd, TCSAFLUSH, &quiet);
}

/* Prompt on the terminal and read a line. */
static int
tty_ask(int fd, const char *prompt, char *buf, size_t cap)
{
	if (write(fd, prompt, strlen(prompt)) == -1)
		return -1;
	return read_line(fd, buf, cap);
}

/*
 * The new password into pw[cap]: twice from /dev/tty, or once from stdin.
 * 0, or an exit status (message printed).
 */
static int
get_password(const char *user, int from_stdin, char *pw, size_t cap)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP,
	    SIGTSTP, SIGTTIN, SIGTTOU };
	struct sigaction sa, saved[RG_ARRAY_LEN(sigs)];
	struct termios old;
	char again[PW_CAP + 2], prompt[160];
	size_t i;
	int fd, rc;

	if (from_stdin) {
		rc = read_line(STDIN_FILENO, pw, cap);
		if (rc == -1) {
			fprintf(stderr, "relgate passwd: cannot read the "
			    "password from standard input (at most %d "
			    "bytes)\n", PW_CAP);
			return 2;
		}
		if (rc == 1)
			pw[0] = '\0';
		return 0;
	}
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1) {
		fprintf(stderr, "relgate passwd: no terminal (%s); use "
		    "--stdin in scripts\n", strerror(errno));
		return 2;
	}
	/* A signal while echo is off must not leave the terminal silent:
	 * no SA_RESTART, so read() returns and the settings are put back. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < RG_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, &saved[i]);
	snprintf(prompt, sizeof(prompt), "New password for %s: ", user);
	if ((rc = tty_quiet(fd, &old)) == 0) {
		rc = tty_ask(fd, prompt, pw, cap);
		if (rc == 0)
			rc = tty_ask(fd, "Retype the new password: ", again,
			    sizeof(again));
		(void)tcsetattr(fd, TCSANOW, &old);
	}
	for (i = 0; i < RG_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &saved[i], NULL);
	close(fd);
	if (pw_signal != 0) {
		rg_wipe(again, sizeof(again));
		rg_wipe(pw, cap);
		fprintf(stderr, "\nrelgate passwd: interrupted\n");
		raise(pw_signal);	/* the default action, now restored */
		return 2;
	}
	if (rc != 0) {
		rg_wipe(again, sizeof(again));
		rg_wipe(pw, cap);
		fprintf(stderr, "relgate passwd: %s\n", rc == 1 ?
		    "no password given" : "cannot read the password (at most "
		    "1024 bytes)");
		return rc == 1 ? 1 : 2;
	}
	rc = strcmp(pw, again) != 0;
	rg_wipe(again, sizeof(again));
	if (rc) {
		rg_wipe(pw, cap);
		fprintf(stderr, "relgate passwd: the passwords do not match; "
		    "nothing changed\n");
		return 1;
	}
	return 0;
}

/* relgate passwd USER [--stdin] */
int
cmd_passwd(const struct cli_global *g, int argc, char **argv)
{
	struct gateway_config cfg;
	char pw[PW_CAP + 2], hash[256], why[1200], detail[160];
	const char *user = NULL;
	struct diag d;
	int i, from_stdin = 0, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			passwd_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--stdin") == 0)
			from_stdin = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "relgate passwd: unknown option "
			    "'%s'\n", argv[i]);
			passwd_usage(stderr);
			return 2;
		} else if (user == NULL)
			user = argv[i];
		else {
			fprintf(stderr, "relgate passwd: unexpected argument "
			    "'%s'\n", argv[i]);
			passwd_usage(stderr);
			return 2;
		}
	}
	if (user == NULL) {
		passwd_usage(stderr);
		return 2;
	}
	if ((rc = cli_auth_setup(g, "passwd", user, &cfg)) != 0)
		return rc;
	if ((rc = get_password(user, from_stdin, pw, sizeof(pw))) != 0)
		return rc;
	if (pw[0] == '\0') {
		fprintf(stderr, "relgate passwd: an empty password is not a "
		    "password; nothing changed\n");
		return 1;
	}
	diag_clear(&d);
	rc = password_hash_make(pw, hash, sizeof(hash), &d);
	rg_wipe(pw, sizeof(pw));
	if (rc != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgate passwd: %s\n", why);
		return rc == RG_EINVAL ? 1 : 2;
	}
	/* the hash counts once its issue is on record */
	snprintf(detail, sizeof(detail), "password hash issued; takes effect "
	    "when written to users/%s.yaml", user);
	if (cli_auth_audit("passwd", cfg.state_dir, "auth.enrolled", "ok",
	    user, detail) != 0) {
		rg_wipe(hash, sizeof(hash));
		return 2;
	}
	printf("password_hash: %s\n", hash);
	rg_wipe(hash, sizeof(hash));
	if (fflush(stdout) != 0)
		return 2;
	if (!from_stdin)
		fprintf(stderr, "relgate passwd: put this line in "
		    "%s/users/%s.yaml (replacing any password_hash: there) "
		    "and reload relgated\n", g->config_dir, user);
	return 0;
}
