/*
 * gateway/session.c — one connection, in its own process (forked by the
 * listener): first the privilege drop to run_as (before any client byte is
 * parsed), then the SSH handshake and signing in (session_auth.c), the
 * sandbox hook, then the channels. A session
 * channel may start the "sftp" subsystem; its bytes go to the SFTP layer
 * (gateway/sftp.h) one whole packet at a time, and its replies go back
 * within the peer's channel window. Everything else (exec, shell, pty, x11,
 * forwarding) is refused at once.
 *
 * `authenticated` is set by session_auth.c alone, after every factor;
 * every channel open and request checks it (CVE-2018-10933).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "gateway/session_internal.h"
#include "gateway/sockbuf.h"

#define IN_CAP		(4u << 20)	/* SFTP bytes waiting to be handled */
#define OUT_CAP		(16u << 20)	/* replies waiting for the window */
#define OUT_HIGH	(1u << 20)	/* stop handling requests above this */
#define WRITE_MAX	(1u << 20)	/* bytes per ssh_channel_write() */
#define WINDOW_STEP	(1u << 20)	/* top the window up every MiB */

static volatile sig_atomic_t sess_term;

static void
sess_on_term(int sig)
{
	(void)sig;
	sess_term = 1;
}

/* ---- audit ------------------------------------------------------------ */

int
sess_audit(struct sess *s, const char *type, const char *outcome,
    const char *user, const char *detail)
{
	struct audit_event ev;
	int rc;

	if (s->audit == NULL)
		return RG_EDB;
	audit_event_init(&ev, type, outcome);
	ev.user = user;
	ev.role = s->user != NULL ? s->roles : NULL;
	ev.source = s->source;
	ev.detail = detail;
	rc = audit_append(s->audit, &ev, NULL);
	if (rc != RG_OK)
		log_warnx("audit %s for %s: %s", type,
		    user != NULL ? user : "-", rg_strerror(rc));
	return rc;
}

/*
 * After a successful authentication and before it is acknowledged: enter
 * the sandbox, record session.open. (Root was given up before the first
 * client byte was read: sess_unprivileged().)
 */
int
sess_become(struct sess *s)
{
	const char *state = s->p->cd->cfg.state_dir;
	struct diag d;
	char why[600];
	int rc;

	diag_clear(&d);
	rc = sandbox_apply_session(state, s->user->name, s->user->roles, &d);
	if (rc != RG_OK) {
		diag_format(&d, why, sizeof(why));
		log_warnx("%s: cannot confine the session: %s", s->source, why);
		sess_audit(s, "session.open", "failed", s->user->name, why);
		return rc;
	}
	s->info.user = s->user->name;
	s->info.roles = s->user->roles;
	s->info.organisation = s->user->organisation;
	s->info.source = s->source;
	s->info.state_dir = state;
	s->info.config = s->p->cd;
	s->info.audit = s->audit;
	return sess_audit(s, "session.open", "ok", s->user->name, NULL);
}

/* ---- channels ------------------------------------------------------------- */

static uint32_t
load_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
chan_data_cb(ssh_session session, ssh_channel channel, void *data,
    uint32_t len, int is_stderr, void *userdata)
{
	struct chan *c = userdata;
	const unsigned char *p = data;
	size_t used = 0, room;

	(void)session;
	(void)channel;
	if (!c->s->authenticated || c->broken || c->closed)
		return (int)len;	/* drop */
	if (is_stderr || c->sftp == NULL)
		return (int)len;	/* nothing listens: discard */
	if (c->reading)
		return 0;		/* keep order: our read takes it */
	c->s->last_active = time(NULL);
	/*
	 * Nothing older is waiting: hand whole packets to the SFTP layer
	 * straight from libssh's buffer (one copy fewer on uploads). It only
	 * appends replies to c->out; the main loop writes them.
	 */
	if (c->in.len == c->in_off) {
		c->in.len = c->in_off = 0;
		while (len - used >= 4 && c->out.len - c->out_off < OUT_HIGH) {
			uint32_t plen = load_u32(p + used);
			int rc;

			if ((size_t)plen > IN_CAP - 4 || len - used < 4 +
			    (size_t)plen)
				break;
			rc = sftp_server_input(c->sftp, p + used,
			    4 + (size_t)plen, &c->out);
			used += 4 + (size_t)plen;
			if (rc < 0) {
				log_info("%s: sftp: %s; closing the channel",
				    c->s->source, rg_strerror(rc));
				c->broken = 1;
				return (int)len;
			}
		}
	}
	room = IN_CAP - c->in.len;
	if (room > len - used)
		room = len - used;
	if (room > 0 && buf_append(&c->in, p + used, room) != RG_OK)
		room = 0;
	if (used + room < len && !c->held) {
		c->held = 1;
		log_debug("%s: sftp input full: holding the window",
		    c->s->source);
	}
	c->since_grow += used + room;
	return (int)(used + room);
}

static void
chan_eof_cb(ssh_session session, ssh_channel channel, void *userdata)
{
	struct chan *c = userdata;

	(void)session;
	(void)channel;
	c->eof_in = 1;
}

static void
chan_close_cb(ssh_session session, ssh_channel channel, void *userdata)
{
	struct chan *c = userdata;

	(void)session;
	(void)channel;
	c->closed = 1;
}

static int
chan_refuse_exec_cb(ssh_session session, ssh_channel channel,
    const char *command, void *userdata)
{
	struct chan *c = userdata;

	(void)session;
	(void)channel;
	(void)command;
	log_debug("%s: exec refused", c->s->source);
	return 1;	/* failure reply: the client gives up at once */
}

static int
chan_refuse_env_cb(ssh_session session, ssh_channel channel,
    const char *name, const char *value, void *userdata)
{
	(void)session;
	(void)channel;
	(void)name;
	(void)value;
	(void)userdata;
	return 1;
}

static int
chan_subsystem_cb(ssh_session session, ssh_channel channel,
    const char *subsystem, void *userdata)
{
	struct chan *c = userdata;
	struct diag d;
	char why[600];

	(void)session;
	(void)channel;
	if (!c->s->authenticated || c->sftp != NULL ||
	    strcmp(subsystem, "sftp") != 0)
		return 1;
	diag_clear(&d);
	if (sftp_server_new(&c->sftp, &c->s->info, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		log_warnx("%s: sftp: %s", c->s->source, why);
		c->sftp = NULL;
		return 1;
	}
	return 0;
}

static ssh_channel
chan_open_cb(ssh_session session, void *userdata)
{
	struct sess *s = userdata;
	struct chan *c;

	if (!s->authenticated) {
		log_warnx("%s: channel open before authentication refused",
		    s->source);
		return NULL;
	}
	if (s->n_chans >= RELGATED_MAX_CHANNELS)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->ch = ssh_channel_new(session)) == NULL) {
		free(c);
		return NULL;
	}
	c->s = s;
	buf_init(&c->in, IN_CAP);
	buf_init(&c->out, OUT_CAP);
	ssh_callbacks_init(&c->cb);
	c->cb.userdata = c;
	c->cb.channel_data_function = chan_data_cb;
	c->cb.channel_eof_function = chan_eof_cb;
	c->cb.channel_close_function = chan_close_cb;
	c->cb.channel_exec_request_function = chan_refuse_exec_cb;
	c->cb.channel_env_request_function = chan_refuse_env_cb;
	c->cb.channel_subsystem_request_function = chan_subsystem_cb;
	/* no pty/shell/x11/agent callbacks: libssh's default reply refuses */
	if (ssh_set_channel_callbacks(c->ch, &c->cb) != SSH_OK) {
		ssh_channel_free(c->ch);
		buf_free(&c->in);
		buf_free(&c->out);
		free(c);
		return NULL;
	}
	s->chans[s->n_chans++] = c;
	s->n_opened++;
	s->last_active = time(NULL);
	return c->ch;
}

/* Write pending replies, as far as the peer's window allows. */
static void
chan_flush(struct chan *c)
{
	while (!c->broken && c->out_off < c->out.len) {
		uint32_t win = ssh_channel_window_size(c->ch);
		size_t n = c->out.len - c->out_off;
		int w;

		if (win == 0)
			break;
		if (n > win)
			n = win;
		if (n > WRITE_MAX)
			n = WRITE_MAX;
		w = ssh_channel_write(c->ch, c->out.data + c->out_off,
		    (uint32_t)n);
		if (w < 0) {
			c->broken = 1;
			break;
		}
		if (w == 0)
			break;
		c->out_off += (size_t)w;
		c->s->last_active = time(NULL);
	}
	if (c->out_off == c->out.len) {
		c->out.len = 0;
		c->out_off = 0;
	} else if (c->out_off >= OUT_HIGH) {
		memmove(c->out.data, c->out.data + c->out_off,
		    c->out.len - c->out_off);
		c->out.len -= c->out_off;
		c->out_off = 0;
	}
}

/* Take bytes libssh kept back while our input buffer was full. */
static void
chan_take_held(struct chan *c)
{
	unsigned char tmp[64 * 1024];

	while (c->held && !c->broken && c->in.len < IN_CAP) {
		size_t want = IN_CAP - c->in.len;
		int n;

		if (want > sizeof(tmp))
			want = sizeof(tmp);
		c->reading = 1;
		n = ssh_channel_read_nonblocking(c->ch, tmp, (uint32_t)want, 0);
		c->reading = 0;
		if (n == SSH_ERROR) {
			c->broken = 1;
			return;
		}
		if (n <= 0) {		/* nothing held any more (or EOF) */
			c->held = 0;
			return;
		}
		if (buf_append(&c->in, tmp, (size_t)n) != RG_OK) {
			c->broken = 1;
			return;
		}
	}
}

/*
 * libssh keeps a receive window of 1.28 MB and tops it up only below half
 * of that; uploads go faster with a window as large as our free input
 * space (OpenSSH's is 2 MB). ssh_channel_read_timeout() grows the window
 * to the count asked for, so ask for all the room we have, now and then.
 */
static void
chan_grow_window(struct chan *c)
{
	size_t room;
	int n;

	if (c->held || c->broken || c->since_grow < WINDOW_STEP)
		return;
	c->since_grow = 0;
	if (c->in.len >= IN_CAP / 2)
		return;
	if (buf_reserve(&c->in, IN_CAP - c->in.len) != RG_OK)
		return;
	room = IN_CAP - c->in.len;
	c->reading = 1;
	n = ssh_channel_read_timeout(c->ch, c->in.data + c->in.len,
	    (uint32_t)room, 0, 0);
	c->reading = 0;
	if (n == SSH_ERROR)
		c->broken = 1;
	else if (n > 0)
		c->in.len += (size_t)n;
}

/* Hand whole SFTP packets to the SFTP layer while replies fit. */
static int
chan_handle(struct chan *c)
{
	int progressed = 0;

	while (!c->broken && c->out.len - c->out_off < OUT_HIGH) {
		size_t avail = c->in.len - c->in_off, n;
		const unsigned char *p = c->in.data + c->in_off;
		uint32_t plen;
		int rc;

		if (avail < 4)
			break;
		plen = load_u32(p);
		if ((size_t)plen > IN_CAP - 4) {
			/* no SFTP packet is this long: let the layer say so,
			 * then close the channel */
			(void)sftp_server_input(c->sftp, p, avail, &c->out);
			c->in_off += avail;
			c->broken = 1;
			break;
		}
		n = 4 + (size_t)plen;
		if (avail < n)
			break;
		rc = sftp_server_input(c->sftp, p, n, &c->out);
		c->in_off += n;
		progressed = 1;
		if (rc < 0) {
			log_info("%s: sftp: %s; closing the channel",
			    c->s->source, rg_strerror(rc));
			c->broken = 1;
		}
	}
	if (c->in_off == c->in.len) {
		c->in.len = 0;
		c->in_off = 0;
	} else if (c->in_off > 0 && (c->in_off >= IN_CAP / 2 ||
	    c->in.len == IN_CAP)) {
		memmove(c->in.data, c->in.data + c->in_off,
		    c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
	return progressed;
}

/* 1 when a whole packet is waiting and replies have room. */
static int
chan_ready(const struct chan *c)
{
	const unsigned char *p = c->in.data + c->in_off;
	size_t avail = c->in.len - c->in_off;
	uint32_t plen;

	if (c->sftp == NULL || c->broken || avail < 4 ||
	    c->out.len - c->out_off >= OUT_HIGH)
		return 0;
	plen = load_u32(p);
	return avail >= 4 + (size_t)plen || (size_t)plen > IN_CAP - 4;
}

/* Close a channel politely: exit-status 0 and EOF first (scp needs it). */
static void
chan_finish(struct chan *c, int status)
{
	if (!c->closed && ssh_channel_is_open(c->ch)) {
		ssh_channel_request_send_exit_status(c->ch, status);
		ssh_channel_send_eof(c->ch);
		ssh_channel_close(c->ch);
	}
}

static void
chan_free(struct chan *c)
{
	sftp_server_free(c->sftp);
	c->sftp = NULL;
	/* libssh keeps the channel until the peer's CLOSE arrives: it must
	 * not call back into this struct after it is freed */
	ssh_remove_channel_callbacks(c->ch, &c->cb);
	ssh_channel_free(c->ch);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/*
 * Move one channel forward. Returns 1 when it can go on without waiting
 * for the network, 0 otherwise, -1 when it is finished (free it).
 */
static int
chan_pump(struct chan *c)
{
	if (c->sftp != NULL) {
		chan_flush(c);
		chan_take_held(c);
		chan_grow_window(c);
		chan_handle(c);
		chan_flush(c);
	}
	if (c->broken || c->closed) {
		chan_finish(c, c->broken ? 1 : 0);
		return -1;
	}
	if (c->eof_in && !c->held && (c->sftp == NULL ||
	    (c->in.len == c->in_off && c->out.len == c->out_off))) {
		chan_finish(c, 0);
		return -1;
	}
	if (c->held && c->in.len < IN_CAP)
		return 1;
	/*
	 * A window adjust may have been read while libssh flushed our last
	 * write: then no socket event will come, and replies must go now.
	 */
	if (c->out.len > c->out_off && ssh_channel_window_size(c->ch) > 0)
		return 1;
	return chan_ready(c);
}

/* ---- the connection ------------------------------------------------------- */

static int
sess_connected(struct sess *s)
{
	return ssh_is_connected(s->ssh) &&
	    (ssh_get_status(s->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR)) == 0;
}

/* Wait for authentication; 1 when the user is in. */
static int
sess_authenticate(struct sess *s)
{
	time_t start = time(NULL);

	while (!s->authenticated) {
		if (sess_term) {
			rg_strlcpy(s->end_reason, "relgated stopping",
			    sizeof(s->end_reason));
			return 0;
		}
		if (!sess_connected(s)) {
			rg_strlcpy(s->end_reason, "client disconnected",
			    sizeof(s->end_reason));
			return 0;
		}
		if (time(NULL) - start >= RELGATED_LOGIN_GRACE) {
			rg_strlcpy(s->end_reason, "login grace time over",
			    sizeof(s->end_reason));
			return 0;
		}
		if (s->auth_tries >= RELGATED_MAX_AUTH_TRIES) {
			rg_strlcpy(s->end_reason,
			    "too many authentication attempts",
			    sizeof(s->end_reason));
			return 0;
		}
		if (ssh_event_dopoll(s->ev, 1000) == SSH_ERROR) {
			rg_strlcpy(s->end_reason, "connection error",
			    sizeof(s->end_reason));
			return 0;
		}
	}
	return 1;
}

/* Serve channels until the client goes or stays idle too long. */
static void
sess_serve(struct sess *s)
{
	int idle = s->p->cd->cfg.idle_timeout;

	/* bulk data from here on: large reads under libssh (sockbuf.c) */
	if (sockbuf_attach(s->p->fd) != 0)
		log_warnx("%s: no memory for the socket buffer; reading "
		    "4 KiB at a time", s->source);
	s->last_active = time(NULL);
	for (;;) {
		int busy = 0;
		size_t i = 0;

		while (i < s->n_chans) {
			struct chan *c = s->chans[i];
			int r = chan_pump(c);

			if (r < 0) {
				chan_free(c);
				s->chans[i] = s->chans[--s->n_chans];
				continue;
			}
			busy |= r;
			i++;
		}
		if (sess_term) {
			rg_strlcpy(s->end_reason, "relgated stopping",
			    sizeof(s->end_reason));
			break;
		}
		if (!sess_connected(s)) {
			rg_strlcpy(s->end_reason, "client disconnected",
			    sizeof(s->end_reason));
			break;
		}
		if (idle > 0 && time(NULL) - s->last_active >= idle) {
			rg_strlcpy(s->end_reason, "idle timeout",
			    sizeof(s->end_reason));
			break;
		}
		if (ssh_event_dopoll(s->ev, busy ? 0 : 1000) == SSH_ERROR) {
			rg_strlcpy(s->end_reason, sess_term ?
			    "relgated stopping" : "connection closed",
			    sizeof(s->end_reason));
			break;
		}
	}
	while (s->n_chans > 0) {
		struct chan *c = s->chans[--s->n_chans];

		chan_finish(c, 1);
		chan_free(c);
	}
	sockbuf_detach();
}

/*
 * Give up root before libssh reads a single byte from the client: the
 * handshake and authentication are parsed as run_as too (the host keys are
 * already in memory, the audit socket and the master's socket are open).
 * chdir(state_dir), setgroups, setresgid, setresuid; then the limits.
 */
static int
sess_unprivileged(struct sess *s)
{
	const char *state = s->p->cd->cfg.state_dir;
	struct diag d;
	char why[600];
	int rc;

	diag_clear(&d);
	if (s->p->drop)
		rc = privdrop_apply(state, s->p->uid, s->p->gid, &d);
	else if (chdir(state) == -1)
		rc = diag_set(&d, RG_EIO, state, 0, 0, "chdir: %s",
		    strerror(errno));
	else
		rc = RG_OK;
	if (rc == RG_OK)
		rc = session_limits_apply(&d);
	if (rc != RG_OK) {
		diag_format(&d, why, sizeof(why));
		log_warnx("%s: cannot drop privileges: %s", s->source, why);
	}
	return rc;
}

static void
sess_source(struct sess *s)
{
	unsigned char r[4];
	char hex[9];

	if (rg_random(r, sizeof(r)) != RG_OK)
		memset(r, 0, sizeof(r));
	hex_encode(hex, r, sizeof(r));
	snprintf(s->source, sizeof(s->source), "%s s-%s", s->p->peer, hex);
}

/* Serve one connection (in its own process); the exit status. */
int
session_run(const struct session_params *p)
{
	struct sess s;
	struct diag d;
	char why[600];
	long timeout = RELGATED_LOGIN_GRACE;
	int status = 1;
	struct sigaction sa;

	memset(&s, 0, sizeof(s));
	s.p = p;
	sess_source(&s);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sess_on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);	/* end politely, audited */
	sigaction(SIGINT, &sa, NULL);	/* ^C on a foreground relgated */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* a backstop should libssh ever block past the grace time */
	alarm(RELGATED_LOGIN_GRACE + 30);

	diag_clear(&d);
	/* through the writer only: a session never opens the log itself */
	if (audit_open_writer(&s.audit, p->cd->cfg.state_dir, &d) != RG_OK) {
		diag_format(&d, why, sizeof(why));
		log_warnx("%s: audit log unavailable, refusing: %s", s.source,
		    why);
		close(p->fd);
		return 1;
	}
	if (sess_unprivileged(&s) != RG_OK) {
		close(p->fd);
		audit_close(s.audit);
		return 1;
	}
	if ((s.ssh = ssh_new()) == NULL)
		goto out;
	ssh_options_set(s.ssh, SSH_OPTIONS_TIMEOUT, &timeout);
	if (ssh_bind_accept_fd(p->sshbind, s.ssh, p->fd) != SSH_OK) {
		log_warnx("%s: %s", s.source, ssh_get_error(p->sshbind));
		goto out;
	}
	/* no zlib: less code on the path of client bytes */
	if (ssh_options_set(s.ssh, SSH_OPTIONS_COMPRESSION_C_S, "none") < 0 ||
	    ssh_options_set(s.ssh, SSH_OPTIONS_COMPRESSION_S_C, "none") < 0)
		goto out;
	ssh_callbacks_init(&s.cb);
	s.cb.userdata = &s;
	sess_auth_setup(&s);
	s.cb.channel_open_request_session_function = chan_open_cb;
	ssh_set_server_callbacks(s.ssh, &s.cb);
	if (ssh_handle_key_exchange(s.ssh) != SSH_OK) {
		char msg[256];
		size_t i;

		/* libssh may quote the client's banner: keep the log clean */
		rg_strlcpy(msg, ssh_get_error(s.ssh), sizeof(msg));
		for (i = 0; msg[i] != '\0'; i++)
			if ((unsigned char)msg[i] < 0x20 ||
			    (unsigned char)msg[i] >= 0x7f)
				msg[i] = '?';
		log_info("%s: key exchange failed: %s", s.source, msg);
		goto out;
	}
	/* the key first; session_auth.c offers keyboard-interactive after it */
	ssh_set_auth_methods(s.ssh, SSH_AUTH_METHOD_PUBLICKEY);
	if ((s.ev = ssh_event_new()) == NULL ||
	    ssh_event_add_session(s.ev, s.ssh) != SSH_OK)
		goto out;
	if (!sess_authenticate(&s)) {
		if (!s.reason_audited)
			sess_audit(&s, "auth.failed", "denied",
			    s.tried_user[0] != '\0' ? s.tried_user : NULL,
			    s.reason[0] != '\0' ? s.reason : s.end_reason);
		log_info("%s: not authenticated: %s%s%s", s.source,
		    s.end_reason, s.reason[0] != '\0' ? "; " : "", s.reason);
		goto out;
	}
	alarm(0);
	sess_serve(&s);
	snprintf(why, sizeof(why), "%s; channels %lu", s.end_reason,
	    s.n_opened);
	sess_audit(&s, "session.close", "ok", s.user->name, why);
	log_info("%s: %s: session closed: %s", s.source, s.user->name, why);
	status = 0;
out:
	if (s.ssh != NULL && ssh_is_connected(s.ssh))
		ssh_disconnect(s.ssh);
	if (s.ev != NULL) {
		ssh_event_remove_session(s.ev, s.ssh);
		ssh_event_free(s.ev);
	}
	ssh_free(s.ssh);
	audit_close(s.audit);
	return status;
}
