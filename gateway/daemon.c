/*
 * gateway/daemon.c — the master's housekeeping: loading and reloading the
 * configuration directory (audited), the state directory and host keys,
 * the libssh bind with modern algorithms only, the pid file, detaching,
 * and the two helper processes the master forks and restarts: the audit
 * writer (audit_server_run) and the release worker (worker_run).
 */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "gateway/gateway.h"
#include "keys/keys.h"

/* Modern algorithms only (no CBC, no SHA-1 MACs or signatures). libssh
 * 0.10.6 adds kex-strict-s-v00@openssh.com (Terrapin) by itself. */
#define SSH_CIPHERS	"aes128-gcm@openssh.com,aes256-gcm@openssh.com," \
			"chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr"
#define SSH_MACS	"hmac-sha2-256-etm@openssh.com," \
			"hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
#define SSH_KEX		"curve25519-sha256,curve25519-sha256@libssh.org," \
			"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," \
			"diffie-hellman-group16-sha512," \
			"diffie-hellman-group18-sha512," \
			"diffie-hellman-group14-sha256"
#define SSH_HOSTKEY_ALGS "ssh-ed25519,ecdsa-sha2-nistp256"
#define SSH_USERKEY_ALGS "ssh-ed25519,ecdsa-sha2-nistp256," \
			"ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," \
			"sk-ssh-ed25519@openssh.com," \
			"sk-ecdsa-sha2-nistp256@openssh.com," \
			"rsa-sha2-512,rsa-sha2-256"

#define HELPER_RESTARTS	5	/* restarts allowed within HELPER_WINDOW */
#define HELPER_WINDOW	60

static volatile sig_atomic_t audit_stop;
static time_t worker_starts[HELPER_RESTARTS], audit_starts[HELPER_RESTARTS];

/* Append one event through the master's audit handle. */
int
daemon_audit(struct relgated *rd, const char *type, const char *outcome,
    const char *user, const char *path, const char *detail)
{
	struct audit_event ev;
	int rc;

	if (rd->audit == NULL)
		return RG_EDB;
	audit_event_init(&ev, type, outcome);
	ev.user = user;
	ev.path = path;
	ev.detail = detail;
	ev.source = "relgated";
	rc = audit_append(rd->audit, &ev, NULL);
	if (rc != RG_OK)
		log_warnx("audit %s: %s", type, rg_strerror(rc));
	return rc;
}

static const char *
problem_kind(int kind)
{
	static const char *names[] = { "config", "user", "contract", "key" };

	return kind >= 0 && kind < 4 ? names[kind] : "config";
}

static const struct pgp_keyinfo *
key_find(const struct config_dir *cd, const char *fpr)
{
	size_t i;

	for (i = 0; cd != NULL && i < cd->n_keys; i++)
		if (strcmp(cd->keys[i].fpr, fpr) == 0)
			return &cd->keys[i];
	return NULL;
}

/*
 * One key.added record per recipient key that is new since `old` (every
 * key on the first load) and one key.expired per key that has expired
 * since; a key that stays as it was is not recorded again on reload.
 */
static void
key_audit(struct relgated *rd, const struct config_dir *old)
{
	const struct config_dir *cd = rd->cd;
	char detail[512], today_s[16];
	long today;
	size_t i;

	date_today(today_s, sizeof(today_s));
	if (date_parse(today_s, &today) != RG_OK)
		return;
	for (i = 0; i < cd->n_keys; i++) {
		const struct pgp_keyinfo *k = &cd->keys[i];
		const struct pgp_keyinfo *was = key_find(old, k->fpr);
		int expired = k->expires != DATE_UNSET && k->expires < today;
		int was_expired = was != NULL && was->expires != DATE_UNSET &&
		    was->expires < today;

		snprintf(detail, sizeof(detail), "OpenPGP key %s from %s%s",
		    k->fpr, k->file, k->revoked ? " (revoked)" : "");
		if (expired && !was_expired)
			daemon_audit(rd, "key.expired", "failed", NULL,
			    k->file, detail);
		else if (!expired && was == NULL)
			daemon_audit(rd, "key.added", "ok", NULL, k->file,
			    detail);
	}
}

/* Record what a (re)load found: one record for the load, one per problem,
 * and the keys added or expired since `old` (NULL on the first load). */
static void
config_audit(struct relgated *rd, const struct config_dir *old, int reload)
{
	const struct config_dir *cd = rd->cd;
	char detail[768];
	size_t i;

	snprintf(detail, sizeof(detail), "%s: %zu users, %zu contracts, "
	    "%zu problems", cd->dir, cd->n_users, cd->n_contracts,
	    cd->n_problems);
	daemon_audit(rd, reload ? "config.reloaded" : "config.loaded", "ok",
	    NULL, cd->dir, detail);
	for (i = 0; i < cd->n_problems; i++) {
		char where[700];

		diag_format(&cd->problems[i].diag, where, sizeof(where));
		snprintf(detail, sizeof(detail), "%s: %s",
		    problem_kind(cd->problems[i].kind), where);
		log_warnx("config: %s", detail);
		daemon_audit(rd, "config.rejected", "failed", NULL,
		    cd->problems[i].diag.file[0] != '\0' ?
		    cd->problems[i].diag.file : NULL, detail);
	}
	key_audit(rd, old);
}

/*
 * Load or reload the configuration directory. At start (reload 0) a
 * relgate.yaml that cannot be read or does not load is an error, with its
 * file:line:col in *d: relgated never starts on the defaults instead of
 * the operator's settings (a missing relgate.yaml is the defaults). Bad
 * user, contract and key files only leave themselves out. On a reload a
 * bad relgate.yaml keeps the settings in force and is audited.
 */
int
daemon_config_load(struct relgated *rd, int reload, struct diag *d)
{
	struct config_dir *cd = NULL, *old;
	size_t i;
	int rc;

	rc = config_dir_load(&cd, rd->config_dir, d);
	if (rc != RG_OK) {
		if (reload) {
			char why[600];

			diag_format(d, why, sizeof(why));
			daemon_audit(rd, "config.rejected", "failed", NULL,
			    rd->config_dir, why);
		}
		return rc;
	}
	for (i = 0; !reload && i < cd->n_problems; i++)
		if (cd->problems[i].kind == 0) {
			*d = cd->problems[i].diag;
			rc = cd->problems[i].err < 0 ? cd->problems[i].err :
			    RG_EINVAL;
			config_dir_free(cd);
			return rc;
		}
	if (reload) {
		/* a rejected relgate.yaml keeps the running settings rather
		 * than falling back to the defaults */
		for (i = 0; i < cd->n_problems; i++)
			if (cd->problems[i].kind == 0 && rd->cd != NULL) {
				log_warnx("reload: relgate.yaml rejected; "
				    "keeping the settings in force");
				cd->cfg = rd->cd->cfg;
				break;
			}
		if (rd->cd != NULL && (strcmp(cd->cfg.listen,
		    rd->cd->cfg.listen) != 0 || cd->cfg.port !=
		    rd->cd->cfg.port))
			log_warnx("reload: listen/port changed; the new "
			    "address is used at the next start");
		if (strcmp(cd->cfg.state_dir, rd->state_dir) != 0) {
			log_warnx("reload: state_dir changed to %s; it takes "
			    "effect at the next start", cd->cfg.state_dir);
			rg_strlcpy(cd->cfg.state_dir, rd->state_dir,
			    sizeof(cd->cfg.state_dir));
		}
	} else
		rg_strlcpy(rd->state_dir, cd->cfg.state_dir,
		    sizeof(rd->state_dir));
	old = rd->cd;
	rd->cd = cd;
	if (reload) {
		log_info("configuration reloaded: %zu users, %zu contracts, "
		    "%zu problems", cd->n_users, cd->n_contracts,
		    cd->n_problems);
		config_audit(rd, old, 1);
		if (rd->worker_pid > 0)
			kill(rd->worker_pid, SIGHUP);
	}
	config_dir_free(old);
	return RG_OK;
}

static int
bind_setup(struct relgated *rd, struct diag *d)
{
	ssh_bind b;
	const char *paths[2] = { rd->hostkey_ed, rd->hostkey_ec };
	bool no = false;
	int verbosity = rd->debug > 1 ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG;
	size_t i;

	if ((b = ssh_bind_new()) == NULL)
		return diag_set(d, RG_ENOMEM, NULL, 0, 0, "ssh_bind_new");
	if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_LOG_VERBOSITY,
	    &verbosity) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_CIPHERS_C_S,
	    SSH_CIPHERS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_CIPHERS_S_C,
	    SSH_CIPHERS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_HMAC_C_S, SSH_MACS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_HMAC_S_C, SSH_MACS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_KEY_EXCHANGE, SSH_KEX) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS,
	    SSH_HOSTKEY_ALGS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES,
	    SSH_USERKEY_ALGS) < 0) {
		diag_set(d, RG_EINVAL, NULL, 0, 0, "ssh options: %s",
		    ssh_get_error(b));
		ssh_bind_free(b);
		return RG_EINVAL;
	}
	for (i = 0; i < 2; i++) {
		ssh_key key = NULL;

		/* keys go into memory now: sessions never read the files */
		if (ssh_pki_import_privkey_file(paths[i], NULL, NULL, NULL,
		    &key) != SSH_OK ||
		    ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY,
		    key) < 0) {
			ssh_key_free(key);
			ssh_bind_free(b);
			return diag_set(d, RG_ECRYPTO, paths[i], 0, 0,
			    "cannot load the host key");
		}
	}
	rd->sshbind = b;
	return RG_OK;
}

/* 1 when uid/gid may search every folder above and at path. */
static int
reachable(const char *path, uid_t uid, gid_t gid, char *bad, size_t badlen)
{
	char p[1024], *slash;
	struct stat st;

	rg_strlcpy(p, path, sizeof(p));
	for (;;) {
		if (stat(p[0] != '\0' ? p : "/", &st) == 0) {
			mode_t need = st.st_uid == uid ? S_IXUSR :
			    st.st_gid == gid ? S_IXGRP : S_IXOTH;

			if (!(st.st_mode & need)) {
				rg_strlcpy(bad, p[0] != '\0' ? p : "/", badlen);
				return 0;
			}
		}
		if ((slash = strrchr(p, '/')) == NULL || p[0] == '\0')
			return 1;
		*slash = '\0';
	}
}

/*
 * Without run_as everything is owner-only: the state directory and the
 * session-facing folders are 0700 (tightened if an earlier run with run_as
 * left them open). With run_as those folders belong to it and the state
 * directory is root:run_as 0710; secrets stay root's.
 */
/* nftw: take the group's and others' bits off folders and files. */
static int
tighten_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)ftw;
	if ((flag == FTW_F || flag == FTW_D || flag == FTW_DP) &&
	    (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) &&
	    (st->st_mode & 077) != 0 && chmod(path, st->st_mode & 0700) == -1)
		log_warn("chmod %s", path);
	return 0;
}

/*
 * A state directory made by an older relgate (or loosened by hand) is made
 * owner-only again at start: everything without run_as; with it, all but
 * the folders shared with run_as (whose sessions make their own files).
 * Sockets are left as they are.
 */
static void
state_tighten(struct relgated *rd, const char *const *shared, size_t n)
{
	char path[1024];
	struct dirent *e;
	DIR *dir;
	size_t i;

	if (!rd->drop) {
		(void)nftw(rd->state_dir, tighten_one, 16, FTW_PHYS);
		return;
	}
	if ((dir = opendir(rd->state_dir)) == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(e->d_name, shared[i]) == 0)
				break;
		if (i < n || (size_t)snprintf(path, sizeof(path), "%s/%s",
		    rd->state_dir, e->d_name) >= sizeof(path))
			continue;
		(void)nftw(path, tighten_one, 16, FTW_PHYS);
	}
	closedir(dir);
}

static int
state_prepare(struct relgated *rd, struct diag *d)
{
	static const char *shared[] = { "spool", "queue", "requests",
	    "releases", "audit-export" };
	char path[1024];
	size_t i;

	if (dir_make(rd->state_dir, 0700) != RG_OK)
		return diag_set(d, RG_EIO, rd->state_dir, 0, 0,
		    "cannot make the state directory: %s", strerror(errno));
	/* every view's folder exists before the first session opens it */
	for (i = 0; i < RG_ARRAY_LEN(shared); i++) {
		snprintf(path, sizeof(path), "%s/%s", rd->state_dir, shared[i]);
		if (dir_make(path, 0700) != RG_OK)
			return diag_set(d, RG_EIO, path, 0, 0,
			    "cannot make: %s", strerror(errno));
	}
	state_tighten(rd, shared, RG_ARRAY_LEN(shared));
	if (!rd->drop)
		return RG_OK;
	if (chown(rd->state_dir, 0, rd->gid) == -1 ||
	    chmod(rd->state_dir, 0710) == -1)
		return diag_set(d, RG_EIO, rd->state_dir, 0, 0, "chown: %s",
		    strerror(errno));
	if (!reachable(rd->state_dir, rd->uid, rd->gid, path, sizeof(path)))
		return diag_set(d, RG_EPERM, rd->state_dir, 0, 0, "run_as "
		    "user cannot reach the state directory: %s is not "
		    "searchable for it", path);
	for (i = 0; i < RG_ARRAY_LEN(shared); i++) {
		snprintf(path, sizeof(path), "%s/%s", rd->state_dir, shared[i]);
		if (dir_make(path, 0700) != RG_OK ||
		    chown(path, rd->uid, rd->gid) == -1)
			return diag_set(d, RG_EIO, path, 0, 0,
			    "cannot prepare for run_as: %s", strerror(errno));
	}
	return RG_OK;
}

static int
pidfile_write(struct relgated *rd, struct diag *d)
{
	char body[32], *old = NULL;
	size_t len;
	long pid;

	snprintf(rd->pidfile, sizeof(rd->pidfile), "%s/%s", rd->state_dir,
	    RELGATED_PIDFILE);
	if (file_read_small(&old, &len, rd->pidfile, 64, NULL) == RG_OK) {
		pid = strtol(old, NULL, 10);
		free(old);
		if (pid > 1 && pid != (long)getpid() &&
		    kill((pid_t)pid, 0) == 0) {
			diag_set(d, RG_EEXIST, rd->pidfile, 0, 0,
			    "relgated is already running (pid %ld)", pid);
			rd->pidfile[0] = '\0';	/* not ours to remove */
			return RG_EEXIST;
		}
	}
	len = (size_t)snprintf(body, sizeof(body), "%ld\n", (long)getpid());
	if (file_write_atomic(rd->pidfile, body, len, 0600, d) != RG_OK) {
		rd->pidfile[0] = '\0';
		return RG_EIO;
	}
	return RG_OK;
}

static void
audit_on_term(int sig)
{
	(void)sig;
	audit_stop = 1;
}

/* 1 when a helper may start again (not restarting in a tight loop). */
static int
helper_may_start(time_t starts[HELPER_RESTARTS])
{
	time_t now = time(NULL);
	size_t i, oldest = 0;

	for (i = 1; i < HELPER_RESTARTS; i++)
		if (starts[i] < starts[oldest])
			oldest = i;
	if (starts[oldest] != 0 && now - starts[oldest] < HELPER_WINDOW)
		return 0;
	starts[oldest] = now;
	return 1;
}

static pid_t
audit_writer_start(struct relgated *rd)
{
	pid_t pid;

	if (!helper_may_start(audit_starts)) {
		log_warnx("audit writer keeps failing; not restarting it");
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		log_warn("fork (audit writer)");
		return -1;
	}
	if (pid == 0) {
		struct audit_server_opts o;
		struct sigaction sa;
		struct diag d;
		char why[600];
		int rc;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = audit_on_term;
		sigaction(SIGTERM, &sa, NULL);
		/* Ctrl-C reaches the whole foreground group (relgated -f,
		 * the demo): the master stops the writer itself, last, after
		 * its own daemon.stopped record */
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGCHLD, SIG_DFL);
		memset(&o, 0, sizeof(o));
		o.checkpoint_every = rd->cd->cfg.checkpoint_every > 0 ?
		    (uint64_t)rd->cd->cfg.checkpoint_every : 0;
		o.syslog_path = rd->cd->cfg.syslog_audit ? "/dev/log" : NULL;
		o.stop = (volatile int *)&audit_stop;
		diag_clear(&d);
		rc = audit_server_run(rd->state_dir, &o, &d);
		if (rc != RG_OK) {
			diag_format(&d, why, sizeof(why));
			log_warnx("audit writer: %s", why);
		}
		_exit(rc == RG_OK ? 0 : 1);
	}
	return pid;
}

static pid_t
worker_start(struct relgated *rd)
{
	pid_t pid;

	if (!helper_may_start(worker_starts)) {
		log_warnx("release worker keeps failing; not restarting it");
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		log_warn("fork (release worker)");
		return -1;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		/*
		 * With run_as, the worker keeps root (it alone reads the
		 * secret keys) but takes the sessions' group, so the files it
		 * makes for them (status.json, report.txt, ...; mode 0640,
		 * worker_umask_set()) are theirs to read while owner-only
		 * ones stay private. Without run_as all are owner-only.
		 */
		if (rd->drop && (setgroups(1, &rd->gid) == -1 ||
		    setresgid(rd->gid, rd->gid, rd->gid) == -1)) {
			log_warn("release worker: cannot take the session group");
			_exit(1);
		}
		_exit(worker_run(rd->config_dir, rd->state_dir));
	}
	return pid;
}

/* Wait until the audit writer listens (its socket exists). */
static void
audit_writer_wait(struct relgated *rd)
{
	char sock[1024];
	int i;

	snprintf(sock, sizeof(sock), "%s/audit/audit.sock", rd->state_dir);
	for (i = 0; i < 100; i++) {
		if (access(sock, F_OK) == 0)
			return;
		usleep(50000);
	}
	log_warnx("audit writer did not come up; appending directly");
}

/* Prepare state, keys, pid file, helpers; audit the first load. */
int
daemon_start(struct relgated *rd, struct diag *d)
{
	const struct gateway_config *cfg = &rd->cd->cfg;
	int rc;

	rd->drop = 0;
	/* everything relgated makes is owner-only unless shared on purpose */
	(void)umask(077);
	/* a run_as that is not relgate's own user stops the start, root or
	 * not, before the state directory is touched or a socket bound */
	if (cfg->run_as[0] != '\0') {
		if ((rc = privdrop_lookup(cfg->run_as, &rd->uid, &rd->gid,
		    d)) != RG_OK)
			return rc;
		rd->drop = geteuid() == 0;
	}
	if ((rc = state_prepare(rd, d)) != RG_OK)
		return rc;
	if ((rc = ssh_hostkeys_ensure(rd->state_dir, rd->hostkey_ed,
	    rd->hostkey_ec, sizeof(rd->hostkey_ed), d)) != RG_OK)
		return rc;
	if ((rc = bind_setup(rd, d)) != RG_OK)
		return rc;
	if ((rc = pidfile_write(rd, d)) != RG_OK)
		return rc;
	rd->audit_pid = audit_writer_start(rd);
	if (rd->audit_pid > 0)
		audit_writer_wait(rd);
	if ((rc = audit_open(&rd->audit, rd->state_dir, d)) != RG_OK)
		return rc;
	config_audit(rd, NULL, 0);
	rd->worker_pid = worker_start(rd);
	return RG_OK;
}

static void
helper_stop(pid_t pid, const char *what)
{
	int i, status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r == -1 && errno == ECHILD))
			return;
		usleep(50000);
	}
	log_warnx("%s did not stop; killing it", what);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* Stop helpers (worker first, audit writer last), remove the pid file. */
void
daemon_stop(struct relgated *rd)
{
	helper_stop(rd->worker_pid, "release worker");
	rd->worker_pid = 0;
	daemon_audit(rd, "daemon.stopped", "ok", NULL, NULL, "SIGTERM");
	audit_close(rd->audit);
	rd->audit = NULL;
	helper_stop(rd->audit_pid, "audit writer");
	rd->audit_pid = 0;
	if (rd->pidfile[0] != '\0')
		unlink(rd->pidfile);
	if (rd->sshbind != NULL)
		ssh_bind_free(rd->sshbind);
	rd->sshbind = NULL;
}

/* A helper exited: log it and start it again. */
void
daemon_child_exited(struct relgated *rd, pid_t pid, int status)
{
	const char *what;

	if (rd->stopping)
		return;
	if (pid == rd->worker_pid)
		what = "release worker";
	else if (pid == rd->audit_pid)
		what = "audit writer";
	else
		return;
	if (WIFEXITED(status))
		log_warnx("%s exited with status %d; restarting it", what,
		    WEXITSTATUS(status));
	else
		log_warnx("%s killed by signal %d; restarting it", what,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (pid == rd->worker_pid)
		rd->worker_pid = worker_start(rd);
	else {
		rd->audit_pid = audit_writer_start(rd);
		if (rd->audit_pid > 0)
			audit_writer_wait(rd);
	}
}

/* Detach from the terminal; stderr stays when logging goes there. */
int
daemon_detach(int keep_stderr, struct diag *d)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		return diag_set(d, RG_EIO, NULL, 0, 0, "fork: %s",
		    strerror(errno));
	if (pid != 0)
		_exit(0);
	if (setsid() == -1)
		return diag_set(d, RG_EIO, NULL, 0, 0, "setsid: %s",
		    strerror(errno));
	if ((pid = fork()) == -1)
		return diag_set(d, RG_EIO, NULL, 0, 0, "fork: %s",
		    strerror(errno));
	if (pid != 0)
		_exit(0);
	if (chdir("/") == -1)
		return diag_set(d, RG_EIO, NULL, 0, 0, "chdir /: %s",
		    strerror(errno));
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (!keep_stderr)
			dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return RG_OK;
}
