/*
 * audit/audit.c — the audit library every process uses: audit_open()
 * connects to the audit writer's socket (STATE_DIR/audit/audit.sock) when
 * one answers, and otherwise opens the SQLite log directly (not for
 * audit_open_writer(): sessions). Either way audit_append() returns only
 * once the record is committed and fsynced.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit/audit_int.h"

struct audit {
	char	state_dir[4096];
	struct audit_store *store;	/* direct mode, and reads */
	int	sock;			/* -1 unless connected to the writer */
	int	readonly;
	int	writer_only;		/* never the SQLite log itself */
	int	signing;
	uint64_t checkpoint_every;
	int	syslog_fd;
	struct sockaddr_un syslog_addr;
	struct buf msg;
};

static int
sock_connect(const char *state_dir)
{
	struct sockaddr_un sun;
	char path[4096];
	int fd;

	if (audit_path(path, sizeof(path), state_dir, AUDIT_SOCK_NAME) != 0 ||
	    strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
open_common(struct audit **out, const char *state_dir, int readonly,
    int writer_only, struct diag *d)
{
	struct audit *a;
	int rc;

	*out = NULL;
	if (state_dir == NULL || strlen(state_dir) >= sizeof(a->state_dir))
		return diag_set(d, RG_EINVAL, "", 0, 0, "bad state directory");
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return RG_ENOMEM;
	rg_strlcpy(a->state_dir, state_dir, sizeof(a->state_dir));
	a->sock = -1;
	a->syslog_fd = -1;
	a->readonly = readonly;
	a->checkpoint_every = AUDIT_CHECKPOINT_DEFAULT;
	buf_init(&a->msg, AUDIT_MSG_MAX + 16);
	a->writer_only = writer_only;
	if (!readonly)
		a->sock = sock_connect(state_dir);
	if (a->sock == -1 && writer_only) {
		audit_close(a);
		return diag_set(d, RG_EDB, state_dir, 0, 0,
		    "the audit writer does not answer");
	}
	if (a->sock == -1) {
		rc = audit_store_sqlite_open(&a->store, state_dir, !readonly,
		    readonly, d);
		if (rc != 0) {
			audit_close(a);
			return rc;
		}
	}
	*out = a;
	return RG_OK;
}

int
audit_open(struct audit **out, const char *state_dir, struct diag *d)
{
	return open_common(out, state_dir, 0, 0, d);
}

int
audit_open_writer(struct audit **out, const char *state_dir, struct diag *d)
{
	return open_common(out, state_dir, 0, 1, d);
}

int
audit_open_readonly(struct audit **out, const char *state_dir, struct diag *d)
{
	return open_common(out, state_dir, 1, 0, d);
}

/* Reads always go to the database, also for a handle on the socket. */
static int
need_store(struct audit *a, struct diag *d)
{
	if (a->store != NULL)
		return RG_OK;
	if (a->writer_only)
		return diag_set(d, RG_EPERM, a->state_dir, 0, 0,
		    "this process may only append through the audit writer");
	return audit_store_sqlite_open(&a->store, a->state_dir, 0, 1, d);
}

static int
send_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
recv_all(int fd, unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
append_socket(struct audit *a, const struct audit_event *ev, uint64_t *seq,
    int *sent)
{
	unsigned char rep[AUDIT_REPLY_LEN];
	int32_t status;
	uint64_t s;
	int i, rc;

	*sent = 0;
	buf_reset(&a->msg);
	if ((rc = audit_wire_encode(ev, &a->msg)) != 0)
		return rc;
	if (send_all(a->sock, a->msg.data, a->msg.len) != 0)
		return RG_EIO;
	*sent = 1;
	if (recv_all(a->sock, rep, sizeof(rep)) != 0)
		return RG_EIO;
	status = (int32_t)((uint32_t)rep[0] << 24 | (uint32_t)rep[1] << 16 |
	    (uint32_t)rep[2] << 8 | rep[3]);
	for (s = 0, i = 4; i < 12; i++)
		s = s << 8 | rep[i];
	if (status != 0)
		return status < 0 && status >= RG_EPROTO ? status : RG_EDB;
	if (seq)
		*seq = s;
	return RG_OK;
}

static void
forward_syslog(struct audit *a, const struct audit_record *r)
{
	struct buf b;

	if (a->syslog_fd == -1)
		return;
	buf_init(&b, AUDIT_MSG_MAX * 2);
	if (audit_syslog_format(r, &b) == 0)
		(void)sendto(a->syslog_fd, b.data, b.len, MSG_NOSIGNAL,
		    (struct sockaddr *)&a->syslog_addr,
		    sizeof(a->syslog_addr));
	buf_free(&b);
}

static int
append_direct(struct audit *a, const struct audit_event *ev, uint64_t *seq,
    struct diag *d)
{
	struct audit_record r;
	int rc;

	if ((rc = audit_record_from_event(&r, ev)) != 0)
		return diag_set(d, rc, "", 0, 0, "bad audit event");
	rc = a->store->ops->append(a->store, &r, 1, d);
	if (rc == 0) {
		if (seq)
			*seq = r.seq;
		forward_syslog(a, &r);
		if (a->signing && a->checkpoint_every > 0 &&
		    r.seq % a->checkpoint_every == 0 &&
		    strcmp(r.type, "log.checkpoint") != 0)
			/* The record is durable either way; a checkpoint that
			 * cannot be signed now is signed by the next one. */
			(void)audit_checkpoint(a, "every checkpoint_every "
			    "records", NULL);
	}
	audit_record_clear(&r);
	return rc;
}

int
audit_append(struct audit *a, const struct audit_event *ev, uint64_t *seq)
{
	int rc, sent;

	if (a == NULL || ev == NULL)
		return RG_EINVAL;
	if (a->readonly)
		return RG_EPERM;
	if ((rc = audit_event_check(ev, NULL)) != 0)
		return rc;
	if (a->sock == -1 && a->writer_only)	/* a restarted writer? */
		a->sock = sock_connect(a->state_dir);
	if (a->sock != -1) {
		rc = append_socket(a, ev, seq, &sent);
		if (rc != RG_EIO)
			return rc;
		close(a->sock);
		a->sock = -1;
		/* Sent but unanswered: the record may be committed, so it is
		 * not sent again; the caller treats the action as failed. */
		if (sent)
			return RG_EDB;
		/* Nothing was sent: a restarted writer, or none. */
		if ((a->sock = sock_connect(a->state_dir)) != -1) {
			rc = append_socket(a, ev, seq, &sent);
			if (rc == RG_EIO) {
				close(a->sock);
				a->sock = -1;
				return RG_EDB;
			}
			return rc;
		}
	}
	if (a->writer_only)
		return RG_EDB;	/* no writer: the action is refused */
	if (a->store == NULL && (rc = audit_store_sqlite_open(&a->store,
	    a->state_dir, 1, 0, NULL)) != 0)
		return rc;
	return append_direct(a, ev, seq, NULL);
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->sock != -1)
		close(a->sock);
	if (a->syslog_fd != -1)
		close(a->syslog_fd);
	if (a->store != NULL)
		a->store->ops->close(a->store);
	buf_free(&a->msg);
	free(a);
}

int
audit_query(struct audit *a, const struct audit_filter *f, audit_record_cb cb,
    void *ctx, struct diag *d)
{
	int rc;

	if ((rc = need_store(a, d)) != 0)
		return rc;
	return a->store->ops->query(a->store, f, cb, ctx, d);
}

int
audit_get(struct audit *a, uint64_t seq, struct audit_record *r,
    struct diag *d)
{
	int rc;

	if ((rc = need_store(a, d)) != 0)
		return rc;
	return a->store->ops->get(a->store, seq, r, d);
}

int
audit_last_seq(struct audit *a, uint64_t *seq, struct diag *d)
{
	char hash[AUDIT_HASH_HEX + 1];
	int rc;

	if ((rc = need_store(a, d)) != 0)
		return rc;
	return a->store->ops->last(a->store, seq, hash, d);
}

void
audit_set_checkpoint_every(struct audit *a, uint64_t n)
{
	if (a != NULL)
		a->checkpoint_every = n;
}

void
audit_set_signing(struct audit *a, int on)
{
	if (a != NULL)
		a->signing = on;
}

int
audit_set_syslog(struct audit *a, const char *path, struct diag *d)
{
	if (a->syslog_fd != -1) {
		close(a->syslog_fd);
		a->syslog_fd = -1;
	}
	if (path == NULL)
		return RG_OK;
	if (strlen(path) >= sizeof(a->syslog_addr.sun_path))
		return diag_set(d, RG_EINVAL, path, 0, 0, "path too long");
	memset(&a->syslog_addr, 0, sizeof(a->syslog_addr));
	a->syslog_addr.sun_family = AF_UNIX;
	memcpy(a->syslog_addr.sun_path, path, strlen(path) + 1);
	a->syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (a->syslog_fd == -1)
		return diag_set(d, RG_EIO, path, 0, 0, "socket: %s",
		    strerror(errno));
	return RG_OK;
}

int
audit_checkpoint(struct audit *a, const char *why, struct diag *d)
{
	struct audit_event ev;
	struct audit_record r;
	int rc;

	if (a == NULL || a->readonly)
		return RG_EPERM;
	if (a->store == NULL && (rc = audit_store_sqlite_open(&a->store,
	    a->state_dir, 1, 0, d)) != 0)
		return rc;
	audit_event_init(&ev, "log.checkpoint", "ok");
	ev.detail = why;
	if ((rc = audit_record_from_event(&r, &ev)) != 0)
		return rc;
	rc = a->store->ops->append(a->store, &r, 1, d);
	if (rc == 0) {
		forward_syslog(a, &r);
		rc = audit_checkpoint_sign(a->store, a->state_dir, r.seq,
		    r.hash, d);
	}
	audit_record_clear(&r);
	return rc;
}

/* For the writer (server.c): the handle's store. */
struct audit_store *
audit_handle_store(struct audit *a)
{
	return a->store;
}

/* For the writer: forward a committed record to syslog. */
void
audit_handle_forward(struct audit *a, const struct audit_record *r)
{
	forward_syslog(a, r);
}
