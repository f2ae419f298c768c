/*
 * gateway/ — relgated's network side: the master (daemon, listener, bans,
 * privilege drop), the SSH sessions and their SFTP server and views, and
 * the demo. The release worker it forks is release/; process confinement
 * is sandbox/.
 */
#ifndef RG_GATEWAY_H
#define RG_GATEWAY_H

#include <stddef.h>

#include "common/common.h"
#include "release/release.h"
#include "sandbox/sandbox.h"

/* ---- relgated: master, listener, sessions (gateway/daemon.c, listener.c,
 * session.c, ratelimit.c, privdrop.c, demo.c) ------------------------- */

#include <sys/types.h>
#include <time.h>

struct config_dir;
struct audit;

#define RELGATED_PIDFILE	"relgated.pid"	/* inside state_dir */
#define RELGATED_LOGIN_GRACE	60	/* seconds to authenticate */
#define RELGATED_MAX_AUTH_TRIES	6	/* refused attempts a connection */
#define RELGATED_MAX_CHANNELS	8	/* open channels a connection */

/* The master's state. */
struct relgated {
	const char *config_dir;
	struct config_dir *cd;		/* current configuration */
	struct audit *audit;		/* the master's audit handle */
	void	*sshbind;		/* libssh ssh_bind with the host keys */
	char	hostkey_ed[1024];
	char	hostkey_ec[1024];
	char	state_dir[512];		/* fixed at start (reload keeps it) */
	char	pidfile[1024];
	int	foreground;
	int	debug;
	int	drop;			/* sessions drop to uid/gid */
	uid_t	uid;
	gid_t	gid;
	pid_t	worker_pid;
	pid_t	audit_pid;
	int	stopping;		/* no helper restarts */
};

/* What a session process is given by the master (all borrowed). */
struct session_params {
	int	fd;			/* the accepted connection */
	int	monitor_fd;		/* SOCK_SEQPACKET to the master */
	const char *peer;		/* "address:port" */
	const struct config_dir *cd;
	void	*sshbind;
	int	drop;
	uid_t	uid;
	gid_t	gid;
};

/*
 * Session <-> master messages: one datagram each, a type byte then a user
 * name ("-" for none). The master answers U and L with one byte, '1' (go
 * on) or '0' (the user or the source is banned, or the user is at
 * max_sessions_per_user); U may also get 'W' (wait and ask again): the
 * attempts being decided now could, if they all failed, reach the ban,
 * so no more start until they are decided (a burst of parallel guesses
 * gets no more keys checked than auth_failures allows). F and P get no
 * answer; each ends the attempt its U began.
 */
#define MON_USER	'U'	/* an authentication attempt names this user */
#define MON_LOGIN	'L'	/* this user has proved a key: may they log in? */
#define MON_FAIL	'F'	/* an attempt was refused: the connection's
				 * failure counts now, not when it ends */
#define MON_PROBE	'P'	/* a key probe was answered "this key would do" */
#define MON_WAIT	'W'	/* answer to U: ask again shortly */
/*
 * Layered authentication. K: the answers typed at the keyboard-interactive
 * prompt, after "K<user>": a NUL then the password (when the user's roles
 * ask for one), a NUL then the verification code (when they ask for
 * totp). C: a security key's signature counter, after "C<user>": a NUL,
 * the key's SHA256 fingerprint, a NUL, the counter in decimal. The master
 * answers "1", or "0" and the reason (for the audit trail, never for the
 * client); each refusal counts towards the bans. L is refused until K has
 * passed for every factor the master checks.
 */
#define MON_FACTORS	'K'
#define MON_SK_COUNTER	'C'
#define MON_MSG_MAX	2048

/*
 * Serve one connection in a freshly forked session process: privilege drop
 * (before any client byte), SSH handshake, public-key authentication,
 * sandbox, channels. Never returns to the listener; returns the process
 * exit status.
 */
int	session_run(const struct session_params *p);

/* The master's judgement of second factors (gateway/factors.c). */
/* The factors (FACTOR_PASSWORD, FACTOR_TOTP) the master checks for user. */
unsigned factors_master_checks(const struct config_dir *cd,
	    const char *user);
/*
 * The n answers typed at the prompt (password, then the code, as the
 * user's roles ask): 1 when all pass (the code's time step then used up,
 * durably), 0 with the reason in why (it names the factor).
 */
int	factors_judge(const struct config_dir *cd, const char *state_dir,
	    const char *user, char *const *answers, size_t n, char *why,
	    size_t whylen);
/* A security key's counter (decimal text) for user's key fpr: 1 when it
 * grew (recorded durably), 0 with the reason. */
int	factors_sk_counter(const char *state_dir, const char *user,
	    const char *fpr, const char *counter, char *why, size_t whylen);

/* Failed-login counters with sliding windows and bans, keyed by string. */
struct ratelimit;
/* New table of at most cap keys. *out is the caller's. */
int	ratelimit_new(struct ratelimit **out, size_t cap);
/* Free; NULL-safe. */
void	ratelimit_free(struct ratelimit *rl);
/* Seconds of ban left for key at now (0 when not banned). */
long	ratelimit_banned(struct ratelimit *rl, const char *key, time_t now);
/*
 * Count one failure of key at now. When limit failures fall within window
 * seconds the key is banned for ban seconds and 1 is returned; else 0.
 * limit <= 0 turns counting off for that key.
 */
int	ratelimit_failure(struct ratelimit *rl, const char *key, time_t now,
	    int limit, int window, int ban);
/* Failures of key counted within window seconds before now. */
int	ratelimit_recent(struct ratelimit *rl, const char *key, time_t now,
	    int window);

/* Look up a system user to drop to; RG_ENOENT when it does not exist. */
int	privdrop_lookup(const char *name, uid_t *uid, gid_t *gid,
	    struct diag *d);
/* chdir(dir), setgroups, setresgid, setresuid; verifies root is gone. */
int	privdrop_apply(const char *dir, uid_t uid, gid_t gid, struct diag *d);
/* Session resource limits: no core files, capped open files and sizes. */
int	session_limits_apply(struct diag *d);

/* Open the listening sockets, fork sessions, count failures, until a
 * SIGTERM/SIGINT. Returns the exit status. */
int	listener_run(struct relgated *rd);

/* Load (or on reload: re-load) the config directory, auditing the result.
 * The first load fills rd->state_dir, and fails (file:line:col in *d) on a
 * relgate.yaml that does not load; a reload keeps the settings in force. */
int	daemon_config_load(struct relgated *rd, int reload, struct diag *d);
/* Make state_dir and host keys, the pid file, fork the audit writer and
 * the release worker. */
int	daemon_start(struct relgated *rd, struct diag *d);
/* Stop the helpers, remove the pid file. */
void	daemon_stop(struct relgated *rd);
/* Restart a helper that exited (called on SIGCHLD for its pid). */
void	daemon_child_exited(struct relgated *rd, pid_t pid, int status);
/* Detach from the terminal (fork, setsid, fork, stdin and stdout to
 * /dev/null; stderr too unless keep_stderr). */
int	daemon_detach(int keep_stderr, struct diag *d);
/* Append one event through the master's audit handle (logs a failure).
 * Returns the audit_append() result. */
int	daemon_audit(struct relgated *rd, const char *type,
	    const char *outcome, const char *user, const char *path,
	    const char *detail);

/*
 * Make the demonstration setup in dir (see product.md "Starting it") unless
 * dir exists already; *config_dir receives DIR/etc (size len).
 */
int	demo_setup(const char *dir, int port, char *config_dir, size_t len,
	    struct diag *d);
/* Print the sftp command lines for each demo role to f. */
void	demo_print_usage(FILE *f, const char *dir, int port);

#endif
