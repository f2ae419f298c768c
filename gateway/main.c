/*
 * gateway/main.c — relgated(8): the SFTP gateway daemon.
 *
 *   relgated [-c DIR] [-f] [-d]
 *   relgated -t [-c DIR]
 *   relgated --demo [DIR] [--port N]
 *   relgated --help | --version
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "contracts/contracts.h"
#include "gateway/gateway.h"

#define DEFAULT_CONFIG_DIR	"/etc/relgate"
#define DEFAULT_DEMO_DIR	"./relgate-demo"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: relgated [-c DIR] [-f] [-d]\n"
	    "       relgated -t [-c DIR]\n"
	    "       relgated --demo [DIR] [--port N]\n"
	    "       relgated --help | --version\n"
	    "\n"
	    "  -c, --config DIR  configuration directory (default %s)\n"
	    "  -f, --foreground  stay in the foreground and log to stderr\n"
	    "  -d, --debug       log debug messages (twice: libssh too)\n"
	    "  -t, --test        test the configuration directory and exit:\n"
	    "                    1 when relgated would not start (relgate.yaml\n"
	    "                    does not load: no fallback to defaults),\n"
	    "                    0 otherwise; problems are named on stderr\n"
	    "      --demo [DIR]  make a demonstration setup in DIR (default\n"
	    "                    %s) unless it exists, then serve it on\n"
	    "                    127.0.0.1 in the foreground\n"
	    "      --port N      the demo's port (default 2222)\n"
	    "\n"
	    "SIGHUP (or `relgate reload`) reloads the configuration directory;\n"
	    "SIGTERM stops the daemon. See relgated(8).\n",
	    DEFAULT_CONFIG_DIR, DEFAULT_DEMO_DIR);
}

static int
parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* A run_as that is not relgate's own user stops a start (and fails -t)
 * before relgated detaches: the error reaches the terminal. */
static int
run_as_check(struct relgated *rd, struct diag *d)
{
	uid_t uid;
	gid_t gid;

	if (rd->cd->cfg.run_as[0] == '\0')
		return RG_OK;
	return privdrop_lookup(rd->cd->cfg.run_as, &uid, &gid, d);
}

/*
 * relgated -t: load the configuration directory as a start would, touching
 * nothing else. Prints each problem of the other files (they would be left
 * out) and returns 0; or the error that stops a start, and 1.
 */
static int
config_test(struct relgated *rd)
{
	struct diag d;
	char why[700];
	size_t i, bad = 0;

	diag_clear(&d);
	if (daemon_config_load(rd, 0, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgated: %s\n", why);
		return 1;
	}
	if (run_as_check(rd, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgated: %s\n", why);
		config_dir_free(rd->cd);
		rd->cd = NULL;
		return 1;
	}
	for (i = 0; i < rd->cd->n_problems; i++) {
		diag_format(&rd->cd->problems[i].diag, why, sizeof(why));
		fprintf(stderr, "relgated: %s\n", why);
		bad++;
	}
	snprintf(why, sizeof(why), "%s/relgate.yaml", rd->config_dir);
	if (access(why, F_OK) == -1 && errno == ENOENT)
		fprintf(stderr, "relgated: %s: none, so every setting is its "
		    "default\n", why);
	if (bad > 0)
		fprintf(stderr, "relgated: %s: relgate.yaml loads; %zu other "
		    "file%s would be left out (see relgate lint)\n",
		    rd->config_dir, bad, bad == 1 ? "" : "s");
	config_dir_free(rd->cd);
	rd->cd = NULL;
	return 0;
}

/*
 * glibc 2.36 copies blocks over 2 KiB with `rep movsb`, which on AMD Zen
 * runs about 15x slower when source and destination are misaligned with
 * each other. libssh copies every channel payload twice at such offsets:
 * a sixth of an upload's session CPU went there. The threshold is a glibc
 * tunable read only at exec, so relgated runs itself again once with it
 * raised; memcpy then uses vector moves, which are as fast when aligned.
 * Not under valgrind (its memcpy is its own, and memcheck does not follow
 * the exec), nor when GLIBC_TUNABLES already names the threshold.
 */
#define MOVSB_TUNABLE	"glibc.cpu.x86_rep_movsb_threshold"

static void
reexec_with_vector_memcpy(char **argv)
{
#if defined(__x86_64__) && defined(__GLIBC__)
	const char *old = getenv("GLIBC_TUNABLES");
	const char *preload = getenv("LD_PRELOAD");
	char self[PATH_MAX], val[1024];
	ssize_t n;
	int w;

	if ((old != NULL && strstr(old, MOVSB_TUNABLE) != NULL) ||
	    (preload != NULL && strstr(preload, "/vgpreload_") != NULL))
		return;		/* set already, or under valgrind */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || (size_t)n >= sizeof(self) - 1)
		return;
	self[n] = '\0';
	w = snprintf(val, sizeof(val), "%s%s" MOVSB_TUNABLE "=%#x",
	    old != NULL ? old : "", old != NULL && *old ? ":" : "",
	    1u << 30);
	if (w < 0 || (size_t)w >= sizeof(val) ||
	    setenv("GLIBC_TUNABLES", val, 1) != 0)
		return;
	execv(self, argv);
	/* not run again (binary replaced?): go on with glibc's copy */
#else
	(void)argv;
#endif
}

int
main(int argc, char **argv)
{
	struct relgated rd;
	struct diag d;
	char why[700], demo_etc[1024];
	const char *demo_dir = NULL;
	int demo = 0, port = 0, test = 0, i, status;

	reexec_with_vector_memcpy(argv);
	memset(&rd, 0, sizeof(rd));
	rd.config_dir = DEFAULT_CONFIG_DIR;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			printf("relgated %s (libssh %s)\n", PACKAGE_VERSION,
			    ssh_version(0));
			return 0;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i == argc) {
				usage(stderr);
				return 2;
			}
			rd.config_dir = argv[i];
		} else if (strcmp(a, "-f") == 0 ||
		    strcmp(a, "--foreground") == 0)
			rd.foreground = 1;
		else if (strcmp(a, "-d") == 0 || strcmp(a, "--debug") == 0)
			rd.debug++;
		else if (strcmp(a, "-t") == 0 || strcmp(a, "--test") == 0)
			test = 1;
		else if (strcmp(a, "--demo") == 0) {
			demo = 1;
			if (i + 1 < argc && argv[i + 1][0] != '-')
				demo_dir = argv[++i];
		} else if (strcmp(a, "--port") == 0) {
			if (++i == argc || (port = parse_port(argv[i])) < 0) {
				fprintf(stderr, "relgated: --port needs a "
				    "number from 1 to 65535\n");
				return 2;
			}
		} else {
			fprintf(stderr, "relgated: unknown argument: %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (port != 0 && !demo) {
		fprintf(stderr, "relgated: --port goes with --demo (set port: "
		    "in relgate.yaml otherwise)\n");
		return 2;
	}
	if (test && demo) {
		fprintf(stderr, "relgated: -t tests a configuration directory "
		    "(-c DIR), not the demo\n");
		return 2;
	}
	if (test) {
		log_init(LOG_TO_STDERR, "relgated", rd.debug);
		return config_test(&rd);
	}
	diag_clear(&d);
	if (demo) {
		if (demo_dir == NULL)
			demo_dir = DEFAULT_DEMO_DIR;
		log_init(LOG_TO_STDERR, "relgated", rd.debug);
		if (demo_setup(demo_dir, port != 0 ? port : 2222, demo_etc,
		    sizeof(demo_etc), &d) != RG_OK) {
			diag_format(&d, why, sizeof(why));
			fprintf(stderr, "relgated: demo: %s\n", why);
			return 1;
		}
		rd.config_dir = demo_etc;
		rd.foreground = 1;
	}
	log_init(LOG_TO_STDERR, "relgated", rd.debug);
	/* before a socket is bound or the state directory touched: a
	 * relgate.yaml that does not load stops relgated here */
	if (daemon_config_load(&rd, 0, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgated: %s\nrelgated: not started\n", why);
		return 1;
	}
	if (demo && port != 0)
		rd.cd->cfg.port = port;
	if (run_as_check(&rd, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgated: %s\nrelgated: not started\n", why);
		config_dir_free(rd.cd);
		return 1;
	}
	if (!rd.foreground) {
		if (rd.cd->cfg.log_syslog)
			log_init(LOG_TO_SYSLOG, "relgated", rd.debug);
		if (daemon_detach(!rd.cd->cfg.log_syslog, &d) != RG_OK) {
			diag_format(&d, why, sizeof(why));
			log_warnx("%s", why);
			return 1;
		}
	}
	ssh_init();
	if (daemon_start(&rd, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		log_warnx("cannot start: %s", why);
		daemon_stop(&rd);
		config_dir_free(rd.cd);
		return 1;
	}
	log_info("relgated %s: config %s, state %s, %zu users, %zu contracts",
	    PACKAGE_VERSION, rd.config_dir, rd.state_dir, rd.cd->n_users,
	    rd.cd->n_contracts);
	if (demo)
		demo_print_usage(stdout, demo_dir, rd.cd->cfg.port);
	status = listener_run(&rd);
	daemon_stop(&rd);
	config_dir_free(rd.cd);
	ssh_finalize();
	return status;
}
