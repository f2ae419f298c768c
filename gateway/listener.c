/*
 * gateway/listener.c — the master's loop: listening sockets, one forked
 * session process per connection, and the failed-login counters. The
 * master never reads the SSH stream: a banned source or a connection over
 * max_sessions is closed right after accept(). Each session reports to the
 * master over a SOCK_SEQPACKET socketpair (gateway.h MON_*): the user an
 * attempt names (is that user banned?), the answers typed at its
 * keyboard-interactive prompt and a security key's counter (judged here,
 * gateway/factors.c: the secrets never enter a session), and a login (is
 * the user under max_sessions_per_user, with every factor checked?). A
 * session that ends without logging in counts as one failure for its
 * source address and for the last user it named; each refused second
 * factor counts as one more.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "gateway/gateway.h"

#define LISTEN_MAX	4
#define RL_CAP		4096
#define USER_MAX	64

struct child {
	pid_t	pid;
	int	mon;		/* -1 once the session closed its end */
	char	addr[INET6_ADDRSTRLEN];
	char	user[USER_MAX];	/* last user an attempt named */
	char	login[USER_MAX];	/* logged-in user, "" before */
	int	over_limit;	/* proved a key, refused by the session limit */
	int	counted;	/* its failure is counted already */
	int	deciding;	/* an attempt is being decided (U, then F/P/L) */
	char	factors_ok[USER_MAX];	/* the user K passed for, "" before */
};

struct master {
	struct relgated *rd;
	int	lfd[LISTEN_MAX];
	size_t	n_lfd;
	struct child *kids;
	size_t	n_kids;
	size_t	cap_kids;
	struct ratelimit *rl_src;
	struct ratelimit *rl_user;
};

static volatile sig_atomic_t got_hup, got_term, got_chld;
static int sig_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_term = 1;
	if (sig_pipe[1] != -1) {
		ssize_t r = write(sig_pipe[1], &c, 1);

		(void)r;	/* a full pipe already wakes the loop */
	}
	errno = saved;
}

static int
set_cloexec_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return 0;
}

static int
listen_open(struct master *m)
{
	const struct gateway_config *cfg = &m->rd->cd->cfg;
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int rc, on = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->port);
	rc = getaddrinfo(cfg->listen[0] != '\0' ? cfg->listen : NULL, port,
	    &hints, &res);
	if (rc != 0) {
		log_warnx("listen %s port %s: %s", cfg->listen, port,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && m->n_lfd < LISTEN_MAX; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype, 0);

		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, 128) == -1 || set_cloexec_nonblock(fd) == -1) {
			log_warn("listen %s port %s", cfg->listen, port);
			close(fd);
			continue;
		}
		m->lfd[m->n_lfd++] = fd;
	}
	freeaddrinfo(res);
	if (m->n_lfd == 0)
		return -1;
	log_info("listening on %s port %s", cfg->listen, port);
	return 0;
}

static size_t
sessions_of(const struct master *m, const char *user)
{
	size_t i, n = 0;

	for (i = 0; i < m->n_kids; i++)
		if (strcmp(m->kids[i].login, user) == 0)
			n++;
	return n;
}

static void
ban_audit(struct master *m, const char *what, const char *who, int ban)
{
	char detail[256];

	snprintf(detail, sizeof(detail), "%s %s banned for %d s after "
	    "repeated failed logins", what, who, ban);
	log_warnx("%s", detail);
	daemon_audit(m->rd, "auth.banned", "denied",
	    strcmp(what, "user") == 0 ? who : NULL, NULL, detail);
}

/* The session ended without a login: one failure for source and user. */
static void
count_failure(struct master *m, struct child *k)
{
	const struct gateway_config *cfg = &m->rd->cd->cfg;
	time_t now = time(NULL);

	/* a key proved but refused for max_sessions_per_user is no guess */
	if (k->login[0] != '\0' || k->over_limit || k->counted)
		return;
	k->counted = 1;
	if (ratelimit_failure(m->rl_src, k->addr, now,
	    cfg->auth_fail_per_source, cfg->auth_fail_window,
	    cfg->auth_fail_ban))
		ban_audit(m, "source", k->addr, cfg->auth_fail_ban);
	if (k->user[0] != '\0' && ratelimit_failure(m->rl_user, k->user, now,
	    cfg->auth_fail_per_user, cfg->auth_fail_window, cfg->auth_fail_ban))
		ban_audit(m, "user", k->user, cfg->auth_fail_ban);
}

static void
kid_remove(struct master *m, size_t i)
{
	if (m->kids[i].mon != -1)
		close(m->kids[i].mon);
	m->kids[i] = m->kids[--m->n_kids];
}

/*
 * 1 when k's next attempt must wait: the failures counted in the window and
 * the attempts other connections are deciding now, were they all to fail,
 * would reach auth_failures for the source or the user. A connection whose
 * failure is counted already can add none: it never waits.
 */
static int
attempt_must_wait(struct master *m, const struct child *k,
    const char *user, time_t now)
{
	const struct gateway_config *cfg = &m->rd->cd->cfg;
	int src = 0, usr = 0;
	size_t i;

	if (k->counted)
		return 0;
	for (i = 0; i < m->n_kids; i++) {
		const struct child *o = &m->kids[i];

		if (o == k || !o->deciding || o->counted)
			continue;
		if (strcmp(o->addr, k->addr) == 0)
			src++;
		if (user != NULL && strcmp(o->user, user) == 0)
			usr++;
	}
	if (cfg->auth_fail_per_source > 0 && ratelimit_recent(m->rl_src,
	    k->addr, now, cfg->auth_fail_window) + src >=
	    cfg->auth_fail_per_source)
		return 1;
	return user != NULL && cfg->auth_fail_per_user > 0 &&
	    ratelimit_recent(m->rl_user, user, now, cfg->auth_fail_window) +
	    usr >= cfg->auth_fail_per_user;
}

/* A session broke the protocol: end it. */
static void
monitor_bad(struct child *k)
{
	log_warnx("session %ld: bad monitor message; ending it", (long)k->pid);
	kill(k->pid, SIGKILL);
	close(k->mon);
	k->mon = -1;
}

/* A second factor or a security key's counter was refused: each such
 * refusal counts towards the bans (a connection may try several). */
static void
count_factor_failure(struct master *m, struct child *k, const char *user)
{
	const struct gateway_config *cfg = &m->rd->cd->cfg;
	time_t now = time(NULL);

	k->counted = 1;		/* the connection's end adds no more */
	if (ratelimit_failure(m->rl_src, k->addr, now,
	    cfg->auth_fail_per_source, cfg->auth_fail_window,
	    cfg->auth_fail_ban))
		ban_audit(m, "source", k->addr, cfg->auth_fail_ban);
	if (ratelimit_failure(m->rl_user, user, now, cfg->auth_fail_per_user,
	    cfg->auth_fail_window, cfg->auth_fail_ban))
		ban_audit(m, "user", user, cfg->auth_fail_ban);
}

/*
 * K and C: the user, then NUL-separated fields. The verdict goes back as
 * "1" or "0" and the reason.
 */
static void
monitor_judge(struct master *m, struct child *k, char *msg, size_t n)
{
	char *fields[4], *user = msg + 1, reply[256], type = msg[0];
	size_t nf = 0, j;
	int ok;

	for (j = 1; j < n; j++)
		if (msg[j] == '\0') {
			if (nf == sizeof(fields) / sizeof(fields[0]))
				break;
			fields[nf++] = msg + j + 1;
		}
	if (j != n || nf == 0 || strlen(user) == 0 ||
	    strlen(user) >= USER_MAX || strchr(user, '/') != NULL ||
	    strcmp(user, k->user) != 0 || (type == MON_SK_COUNTER &&
	    nf != 2)) {
		rg_wipe(msg, n);
		monitor_bad(k);
		return;
	}
	k->deciding = 0;
	reply[0] = '0';
	if (ratelimit_banned(m->rl_src, k->addr, time(NULL)) > 0 ||
	    ratelimit_banned(m->rl_user, user, time(NULL)) > 0) {
		rg_strlcpy(reply + 1, "banned for now", sizeof(reply) - 1);
		ok = 0;
	} else if (type == MON_FACTORS)
		ok = factors_judge(m->rd->cd, m->rd->state_dir, user, fields,
		    nf, reply + 1, sizeof(reply) - 1);
	else
		ok = factors_sk_counter(m->rd->state_dir, user, fields[0],
		    fields[1], reply + 1, sizeof(reply) - 1);
	if (ok) {
		if (type == MON_FACTORS)
			rg_strlcpy(k->factors_ok, user, sizeof(k->factors_ok));
		reply[0] = '1';
		reply[1] = '\0';
	} else
		count_factor_failure(m, k, user);
	rg_wipe(msg, n);	/* what the user typed */
	if (send(k->mon, reply, strlen(reply), MSG_DONTWAIT | MSG_NOSIGNAL)
	    != (ssize_t)strlen(reply))
		log_warn("session %ld: monitor reply", (long)k->pid);
}

/* A message from a session; a malformed one ends that session. */
static void
monitor_read(struct master *m, size_t i)
{
	struct child *k = &m->kids[i];
	char msg[MON_MSG_MAX + 1], reply = '0';
	const char *user;
	time_t now;
	ssize_t n;
	size_t j;
	int banned;

	n = recv(k->mon, msg, MON_MSG_MAX, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* the session is gone (or going): settle its account */
		count_failure(m, k);
		close(k->mon);
		k->mon = -1;
		return;
	}
	msg[n] = '\0';
	if (k->login[0] != '\0') {
		rg_wipe(msg, sizeof(msg));
		monitor_bad(k);
		return;
	}
	if (n >= 2 && (msg[0] == MON_FACTORS || msg[0] == MON_SK_COUNTER)) {
		monitor_judge(m, k, msg, (size_t)n);
		return;
	}
	user = msg + 1;
	for (j = 1; j < (size_t)n; j++)
		if (msg[j] == '\0' || msg[j] == '/' || msg[j] == '\n')
			break;
	if (n < 2 || j != (size_t)n || (size_t)n - 1 >= USER_MAX ||
	    (msg[0] != MON_USER && msg[0] != MON_LOGIN &&
	    msg[0] != MON_FAIL && msg[0] != MON_PROBE)) {
		monitor_bad(k);
		return;
	}
	now = time(NULL);
	if (strcmp(user, "-") != 0)
		rg_strlcpy(k->user, user, sizeof(k->user));
	if (msg[0] == MON_FAIL || msg[0] == MON_PROBE) {
		k->deciding = 0;	/* no answer */
		if (msg[0] == MON_FAIL)
			count_failure(m, k);
		return;
	}
	banned = ratelimit_banned(m->rl_src, k->addr, now) > 0 ||
	    (strcmp(user, "-") != 0 &&
	    ratelimit_banned(m->rl_user, user, now) > 0);
	if (msg[0] == MON_USER) {
		if (banned)
			reply = '0';
		else if (attempt_must_wait(m, k, strcmp(user, "-") != 0 ?
		    user : NULL, now))
			reply = MON_WAIT;
		else {
			reply = '1';
			k->deciding = 1;
		}
	} else {
		int max = m->rd->cd->cfg.max_sessions_per_user;

		k->deciding = 0;
		if (factors_master_checks(m->rd->cd, user) != 0 &&
		    strcmp(k->factors_ok, user) != 0) {
			/* only a broken or subverted session asks this */
			log_warnx("session %ld: login of %s asked before its "
			    "factors were checked; refused", (long)k->pid,
			    user);
			reply = '0';
		} else if (!banned && (max <= 0 || sessions_of(m, user) <
		    (size_t)max)) {
			rg_strlcpy(k->login, user, sizeof(k->login));
			reply = '1';
		} else if (!banned)
			k->over_limit = 1;
	}
	if (send(k->mon, &reply, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
		log_warn("session %ld: monitor reply", (long)k->pid);
}

/*
 * A session that died of a signal wrote no session.close: the master
 * records it. SIGSYS is the sandbox refusing a system call, whose own line
 * went to the session's stderr only.
 */
static void
session_killed(struct master *m, const struct child *k, int sig)
{
	const char *who = k->login[0] ? k->login : k->user[0] ? k->user :
	    NULL;
	char detail[256];

	snprintf(detail, sizeof(detail), "session %ld from %s killed by "
	    "signal %d (%s)%s", (long)k->pid, k->addr, sig, strsignal(sig),
	    sig == SIGSYS ? ": the sandbox refused a system call" : "");
	log_warnx("%s", detail);
	(void)daemon_audit(m->rd, "session.close", "failed", who, NULL,
	    detail);
}

static void
reap(struct master *m)
{
	pid_t pid;
	int status;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < m->n_kids; i++)
			if (m->kids[i].pid == pid)
				break;
		if (i == m->n_kids) {
			daemon_child_exited(m->rd, pid, status);
			continue;
		}
		if (m->kids[i].mon != -1) {
			/* drain what it said last, then settle */
			monitor_read(m, i);
			if (m->kids[i].mon != -1)
				count_failure(m, &m->kids[i]);
		}
		if (WIFSIGNALED(status))
			session_killed(m, &m->kids[i], WTERMSIG(status));
		kid_remove(m, i);
	}
}

static void
peer_name(const struct sockaddr_storage *ss, char *addr, size_t alen,
    char *peer, size_t plen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(peer, plen, "%s:%d", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(peer, plen, "[%s]:%d", host, port);
	} else
		snprintf(peer, plen, "?");
	rg_strlcpy(addr, host, alen);
}

/* In the new session process: drop everything of the master's. */
static void
child_setup(struct master *m, int keep_mon)
{
	size_t i;

	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	for (i = 0; i < m->n_lfd; i++)
		close(m->lfd[i]);
	for (i = 0; i < m->n_kids; i++)
		if (m->kids[i].mon != -1 && m->kids[i].mon != keep_mon)
			close(m->kids[i].mon);
}

static void
accept_one(struct master *m, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN], peer[INET6_ADDRSTRLEN + 16];
	int fd, sp[2];
	long left;
	pid_t pid;
	const struct gateway_config *cfg = &m->rd->cd->cfg;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	peer_name(&ss, addr, sizeof(addr), peer, sizeof(peer));
	if ((left = ratelimit_banned(m->rl_src, addr, time(NULL))) > 0) {
		log_debug("%s: banned source (%ld s left): closed", peer, left);
		close(fd);
		return;
	}
	if (cfg->max_sessions > 0 && m->n_kids >= (size_t)cfg->max_sessions) {
		log_warnx("%s: max_sessions (%d) reached: closed", peer,
		    cfg->max_sessions);
		close(fd);
		return;
	}
	if (m->n_kids == m->cap_kids) {
		size_t ncap = m->cap_kids ? m->cap_kids * 2 : 64;
		struct child *nk = realloc(m->kids, ncap * sizeof(*nk));

		if (nk == NULL) {
			close(fd);
			return;
		}
		m->kids = nk;
		m->cap_kids = ncap;
	}
	/*
	 * SFTP is request and reply: a 28-byte STATUS must not wait behind
	 * Nagle for the client's delayed ACK (uploads stalled 10-40 ms at a
	 * time). libssh writes whole packets, so no tiny segments come of it.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair");
		close(fd);
		return;
	}
	pid = fork();
	if (pid == -1) {
		log_warn("fork");
		close(fd);
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (pid == 0) {
		struct session_params p;

		close(sp[0]);
		child_setup(m, sp[1]);
		memset(&p, 0, sizeof(p));
		p.fd = fd;
		p.monitor_fd = sp[1];
		p.peer = peer;
		p.cd = m->rd->cd;
		p.sshbind = m->rd->sshbind;
		p.drop = m->rd->drop;
		p.uid = m->rd->uid;
		p.gid = m->rd->gid;
		_exit(session_run(&p));
	}
	close(fd);
	close(sp[1]);
	(void)fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK);
	memset(&m->kids[m->n_kids], 0, sizeof(m->kids[0]));
	m->kids[m->n_kids].pid = pid;
	m->kids[m->n_kids].mon = sp[0];
	rg_strlcpy(m->kids[m->n_kids].addr, addr,
	    sizeof(m->kids[m->n_kids].addr));
	m->n_kids++;
	log_debug("%s: session %ld", peer, (long)pid);
}

static void
signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
stop_sessions(struct master *m)
{
	size_t i;
	int waited;

	for (i = 0; i < m->n_kids; i++)
		kill(m->kids[i].pid, SIGTERM);
	for (waited = 0; m->n_kids > 0 && waited < 50; waited++) {
		reap(m);
		if (m->n_kids > 0)
			usleep(100000);
	}
	for (i = 0; i < m->n_kids; i++)
		kill(m->kids[i].pid, SIGKILL);
	while (m->n_kids > 0 && waitpid(-1, NULL, 0) > 0)
		reap(m);
}

/* The master loop; returns the exit status. */
int
listener_run(struct relgated *rd)
{
	struct master m;
	struct pollfd *pfd = NULL;
	size_t npfd = 0, i;
	int status = 0;

	memset(&m, 0, sizeof(m));
	m.rd = rd;
	if (ratelimit_new(&m.rl_src, RL_CAP) != RG_OK ||
	    ratelimit_new(&m.rl_user, RL_CAP) != RG_OK) {
		log_warnx("out of memory");
		status = 1;
		goto out;
	}
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe");
		status = 1;
		goto out;
	}
	signals_install();
	if (listen_open(&m) == -1) {
		log_warnx("cannot listen on %s port %d", rd->cd->cfg.listen,
		    rd->cd->cfg.port);
		status = 1;
		goto out;
	}
	while (!got_term) {
		size_t need = 1 + m.n_lfd + m.n_kids, n = 0, base;
		int rc;

		if (need > npfd) {
			struct pollfd *np = realloc(pfd, need * sizeof(*np));

			if (np == NULL) {
				log_warnx("out of memory");
				sleep(1);
				continue;
			}
			pfd = np;
			npfd = need;
		}
		pfd[n].fd = sig_pipe[0];
		pfd[n++].events = POLLIN;
		for (i = 0; i < m.n_lfd; i++) {
			pfd[n].fd = m.lfd[i];
			pfd[n++].events = POLLIN;
		}
		base = n;
		for (i = 0; i < m.n_kids; i++) {
			pfd[n].fd = m.kids[i].mon;	/* -1 is ignored */
			pfd[n++].events = POLLIN;
		}
		rc = poll(pfd, n, -1);
		if (rc == -1 && errno != EINTR) {
			log_warn("poll");
			status = 1;
			break;
		}
		if (rc > 0 && (pfd[0].revents & POLLIN)) {
			char drain[64];

			while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
				;
		}
		if (rc > 0) {
			for (i = 0; i < m.n_kids && base + i < n; i++)
				if (pfd[base + i].fd != -1 &&
				    pfd[base + i].fd == m.kids[i].mon &&
				    (pfd[base + i].revents &
				    (POLLIN | POLLHUP | POLLERR)))
					monitor_read(&m, i);
		}
		if (got_chld) {
			got_chld = 0;
			reap(&m);
		}
		if (got_hup) {
			struct diag d;

			got_hup = 0;
			diag_clear(&d);
			if (daemon_config_load(rd, 1, &d) != RG_OK) {
				char why[600];

				diag_format(&d, why, sizeof(why));
				log_warnx("reload failed, keeping the old "
				    "configuration: %s", why);
			}
		}
		if (rc > 0 && !got_term)
			for (i = 0; i < m.n_lfd; i++)
				if (pfd[1 + i].revents & POLLIN)
					accept_one(&m, m.lfd[i]);
	}
	log_info("stopping");
out:
	rd->stopping = 1;
	for (i = 0; i < m.n_lfd; i++)
		close(m.lfd[i]);
	m.n_lfd = 0;
	stop_sessions(&m);
	free(m.kids);
	free(pfd);
	ratelimit_free(m.rl_src);
	ratelimit_free(m.rl_user);
	if (sig_pipe[0] != -1) {
		close(sig_pipe[0]);
		close(sig_pipe[1]);
		sig_pipe[0] = sig_pipe[1] = -1;
	}
	return status;
}
