/*
 * gateway/session.c — one connection, in its own process (forked by the
 * listener): first the privilege drop to run_as (before any client byte is
 * parsed), then the SSH handshake and public-key authentication with
 * libssh's server callbacks, the sandbox hook, then the channels. A session
 * channel may start the "sftp" subsystem; its bytes go to the SFTP layer
 * (gateway/sftp.h) one whole packet at a time, and its replies go back
 * within the peer's channel window. Everything else (exec, shell, pty, x11,
 * forwarding) is refused at once.
 *
 * Authentication is decided here alone: `authenticated` is set only after
 * a valid signature by a key of that very user, an unexpired account, the
 * master's consent (bans, per-user session limit) and a durable audit
 * record; every channel open and request checks it (CVE-2018-10933).
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

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "gateway/gateway.h"
#include "gateway/sftp.h"
#include "gateway/sockbuf.h"
#include "keys/keys.h"

#define IN_CAP		(4u << 20)	/* SFTP bytes waiting to be handled */
#define OUT_CAP		(16u << 20)	/* replies waiting for the window */
#define OUT_HIGH	(1u << 20)	/* stop handling requests above this */
#define WRITE_MAX	(1u << 20)	/* bytes per ssh_channel_write() */
#define USER_MAX	64
#define WINDOW_STEP	(1u << 20)	/* top the window up every MiB */

struct sess;

struct chan {
	struct sess *s;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	struct sftp_server *sftp;
	struct buf in;
	size_t	in_off;
	struct buf out;
	size_t	out_off;
	int	held;		/* libssh keeps bytes we had no room for */
	int	reading;	/* inside our own ssh_channel_read */
	int	eof_in;		/* the client sent EOF */
	int	closed;		/* the client closed the channel */
	int	broken;		/* protocol or write error: close it */
	size_t	since_grow;	/* bytes taken since the window was topped up */
};

struct sess {
	const struct session_params *p;
	ssh_session ssh;
	ssh_event ev;
	struct ssh_server_callbacks_struct cb;
	struct audit *audit;
	const struct user *user;	/* set at login */
	int	authenticated;
	int	auth_tries;
	char	tried_user[USER_MAX];	/* last user name an attempt named */
	char	reason[256];		/* why the last attempt was refused */
	int	reason_audited;
	int	login_granted;		/* the master said yes to MON_LOGIN */
	char	source[160];		/* "address:port sid" */
	char	roles[80];
	struct sftp_session_info info;
	struct chan *chans[RELGATED_MAX_CHANNELS];
	size_t	n_chans;
	unsigned long n_opened;
	time_t	last_active;
	char	end_reason[128];
};

static volatile sig_atomic_t sess_term;

static void
sess_on_term(int sig)
{
	(void)sig;
	sess_term = 1;
}

/* ---- audit ------------------------------------------------------------ */

static int
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

static int user_name_ok(const char *u);
static void monitor_tell(struct sess *s, char type, const char *user);

/* Refuse an attempt; policy refusals (after a valid signature) are
 * audited right away, with the reason. */
static int
auth_refuse(struct sess *s, const char *user, int audit_now,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
auth_refuse(struct sess *s, const char *user, int audit_now,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	s->auth_tries++;	/* refusals count, as OpenSSH's MaxAuthTries */
	s->reason_audited = 0;
	/* the connection's failure counts now, and the attempt is decided
	 * (the master answers nothing; once it has let the user in, it
	 * takes no more messages) */
	if (!s->login_granted)
		monitor_tell(s, MON_FAIL, user_name_ok(user) ? user : "-");
	if (audit_now) {
		sess_audit(s, "auth.failed", "denied", user, s->reason);
		s->reason_audited = 1;
	}
	log_info("%s: authentication refused for \"%s\": %s", s->source,
	    user, s->reason);
	return SSH_AUTH_DENIED;
}

/* ---- the master ---------------------------------------------------------- */

#define MON_WAIT_MS	20	/* between asks while the master says wait */

/* Tell the master something it does not answer. */
static void
monitor_tell(struct sess *s, char type, const char *user)
{
	char msg[MON_MSG_MAX];
	int n = snprintf(msg, sizeof(msg), "%c%s", type, user);

	if (n > 1 && (size_t)n < sizeof(msg))
		(void)send(s->p->monitor_fd, msg, (size_t)n,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Ask the master; 1 yes, 0 no (or no answer). While it answers "wait"
 * (other attempts from this address or for this user are being decided)
 * ask again, within the login grace time.
 */
static int
monitor_ask(struct sess *s, char type, const char *user)
{
	char msg[MON_MSG_MAX], reply = MON_WAIT;
	size_t len = strlen(user);
	time_t start = time(NULL);
	struct pollfd pfd;

	if (len + 1 > sizeof(msg))
		return 0;
	msg[0] = type;
	memcpy(msg + 1, user, len);
	while (reply == MON_WAIT) {
		if (send(s->p->monitor_fd, msg, len + 1, MSG_NOSIGNAL) !=
		    (ssize_t)(len + 1))
			return 0;
		pfd.fd = s->p->monitor_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 10000) != 1)
			return 0;
		if (recv(s->p->monitor_fd, &reply, 1, 0) != 1)
			return 0;
		if (reply == MON_WAIT) {
			if (time(NULL) - start >= RELGATED_LOGIN_GRACE)
				return 0;
			(void)poll(NULL, 0, MON_WAIT_MS);
		}
	}
	return reply == '1';
}

/* ---- authentication ------------------------------------------------------ */

static int
user_name_ok(const char *u)
{
	size_t i, n;

	if (u == NULL)
		return 0;
	n = strlen(u);
	if (n == 0 || n >= USER_MAX || u[0] == '.' || u[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = u[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static void
date_format(long days, char *out, size_t len)
{
	time_t t = (time_t)days * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d", &tm);
}

static void
roles_format(unsigned roles, char *out, size_t len)
{
	unsigned bit;

	out[0] = '\0';
	for (bit = 1; bit != 0 && bit <= ROLE_OFFICER; bit <<= 1) {
		const char *n;

		if (!(roles & bit) || (n = role_name(bit)) == NULL)
			continue;
		if (out[0] != '\0')
			strncat(out, ",", len - strlen(out) - 1);
		strncat(out, n, len - strlen(out) - 1);
	}
}

static int sess_become(struct sess *s);

static int
auth_none_cb(ssh_session session, const char *user, void *userdata)
{
	struct sess *s = userdata;

	(void)session;
	if (user != NULL && user_name_ok(user))
		rg_strlcpy(s->tried_user, user, sizeof(s->tried_user));
	return SSH_AUTH_DENIED;
}

static int
auth_password_cb(ssh_session session, const char *user, const char *pw,
    void *userdata)
{
	struct sess *s = userdata;

	(void)session;
	(void)pw;
	if (user != NULL && user_name_ok(user))
		rg_strlcpy(s->tried_user, user, sizeof(s->tried_user));
	return auth_refuse(s, user_name_ok(user) ? user : "-", 0,
	    "password authentication is not accepted");
}

static int
auth_pubkey_cb(ssh_session session, const char *user,
    struct ssh_key_struct *key, char sigstate, void *userdata)
{
	struct sess *s = userdata;
	const struct user *u;
	char today_s[16], day[16];
	long today;

	(void)session;
	if (s->authenticated)
		return SSH_AUTH_DENIED;
	if (s->auth_tries >= RELGATED_MAX_AUTH_TRIES)
		return SSH_AUTH_DENIED;	/* the loop ends the connection */
	if (user == NULL || !user_name_ok(user))
		return auth_refuse(s, "-", 0, "malformed user name");
	rg_strlcpy(s->tried_user, user, sizeof(s->tried_user));
	if (sigstate != SSH_PUBLICKEY_STATE_NONE &&
	    sigstate != SSH_PUBLICKEY_STATE_VALID)
		return auth_refuse(s, user, 0, "bad signature");
	/* every attempt: a ban may have begun since the last one */
	if (!monitor_ask(s, MON_USER, user))
		return auth_refuse(s, user, 0, "too many failed logins for "
		    "this user or from this address: banned for now");
	u = config_dir_user(s->p->cd, user);
	if (u == NULL)
		return auth_refuse(s, user, 0, "no such user");
	if (!ssh_key_authorized(key, u->ssh_keys, u->n_ssh_keys))
		return auth_refuse(s, user, 0,
		    "key not authorised for this user");
	if (sigstate == SSH_PUBLICKEY_STATE_NONE) {
		/* probe: "this key would do"; the attempt is decided */
		monitor_tell(s, MON_PROBE, user);
		return SSH_AUTH_SUCCESS;
	}

	/* A valid signature by one of this user's keys: now the policy. */
	date_today(today_s, sizeof(today_s));
	if (date_parse(today_s, &today) != RG_OK)
		return auth_refuse(s, user, 1, "cannot read today's date");
	if (u->valid_until != DATE_UNSET && today > u->valid_until) {
		date_format(u->valid_until, day, sizeof(day));
		return auth_refuse(s, user, 1, "account expired (valid_until "
		    "%s)", day);
	}
	if (u->training_expires != DATE_UNSET && today > u->training_expires) {
		date_format(u->training_expires, day, sizeof(day));
		return auth_refuse(s, user, 1, "information-security training "
		    "expired (training_expires %s)", day);
	}
	if (u->roles == 0)
		return auth_refuse(s, user, 1, "user has no role");
	if (!monitor_ask(s, MON_LOGIN, user))
		return auth_refuse(s, user, 1, "too many sessions for this "
		    "user (max_sessions_per_user %d)",
		    s->p->cd->cfg.max_sessions_per_user);
	s->login_granted = 1;
	s->user = u;
	roles_format(u->roles, s->roles, sizeof(s->roles));
	if (sess_audit(s, "auth.login", "ok", user, "publickey") != RG_OK) {
		s->user = NULL;
		(void)auth_refuse(s, user, 0, "audit log unavailable");
		/* the master counts this connection as logged in: end it */
		ssh_disconnect(s->ssh);
		return SSH_AUTH_DENIED;
	}
	if (sess_become(s) != RG_OK) {
		/* cannot run safely: end the connection */
		ssh_disconnect(s->ssh);
		return SSH_AUTH_DENIED;
	}
	s->authenticated = 1;
	log_info("%s: %s logged in (%s)", s->source, user, s->roles);
	return SSH_AUTH_SUCCESS;
}

/*
 * After a successful authentication and before it is acknowledged: enter
 * the sandbox, record session.open. (Root was given up before the first
 * client byte was read: sess_unprivileged().)
 */
static int
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
	s.cb.auth_pubkey_function = auth_pubkey_cb;
	s.cb.auth_password_function = auth_password_cb;
	s.cb.auth_none_function = auth_none_cb;
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
