/*
 * audit/server.c — the audit writer: one process that owns the audit
 * database and commits for everyone (group commit).
 *
 * Clients (audit_open() in sessions and the worker) connect to
 * STATE_DIR/audit/audit.sock and send one record at a time, waiting for
 * its answer. The writer polls every client, takes every complete record
 * that has arrived, appends them all in ONE transaction (one fsync), and
 * only after COMMIT answers each client with its seq. While one commit is
 * fsyncing, the next records queue up in the sockets and go together in
 * the next transaction: the more writers wait, the bigger the batch.
 *
 * A client is trusted with nothing: the writer stamps seq, time and hash;
 * a malformed or oversized message closes that client's connection.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "keys/keys.h"

#define CLIENTS_MAX	1024
#define CLIENT_BUF	(4 + AUDIT_MSG_MAX)

struct client {
	int	fd;
	unsigned char *buf;
	size_t	len;
};

/* Checkpoint signatures are made off the commit path by one signer thread
 * with its own (reading) database connection: clients never wait for gpg.
 * It signs the newest posted checkpoint and every older one still
 * unsigned, and hands each signature back to the main thread, which stores
 * it between batches: the main thread holds the write lock nearly all the
 * time under load, and a second writer would starve on it. */
#define SIGQ_MAX	64

struct signed_cp {
	uint64_t seq;
	char	hash[AUDIT_HASH_HEX + 1];
	char	*sig;
};

struct signer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *state_dir;
	uint64_t want, done;
	char	hash[AUDIT_HASH_HEX + 1];
	int	quit;
	int	started;
	struct signed_cp q[SIGQ_MAX];
	size_t	nq;
	int	wake[2];		/* signer → main thread */
	/* housekeeping of the officer view, also in this thread */
	int	dirty_export, dirty_verify;
	int	export_interval, verify_interval;
};

/* Bring audit-export/ up to date; verify.txt too when asked. */
static void
officer_view_refresh(const char *state_dir, int with_verify)
{
	struct audit_verify_result res;

	(void)audit_export_sync(state_dir, NULL);
	if (with_verify && audit_verify(state_dir, &res, NULL) == 0)
		(void)audit_export_verify(state_dir, &res, NULL);
}

struct server {
	const char *state_dir;
	struct audit *a;
	struct audit_store *store;
	int	lfd;
	struct client cl[CLIENTS_MAX];
	size_t	ncl;
	struct audit_record batch[AUDIT_BATCH_MAX];
	size_t	owner[AUDIT_BATCH_MAX];
	size_t	nbatch;
	uint64_t every;
	uint64_t last_seq;
	struct signer sg;
};

/* put() of the signer: queue the signature for the main thread. */
static int
signer_put(uint64_t seq, const char *hash, const char *sig, void *ctx)
{
	struct signer *sg = ctx;
	char *copy;

	if ((copy = strdup(sig)) == NULL)
		return RG_ENOMEM;
	pthread_mutex_lock(&sg->mu);
	while (sg->nq == SIGQ_MAX && !sg->quit)
		pthread_cond_wait(&sg->cv, &sg->mu);
	if (sg->nq == SIGQ_MAX) {
		pthread_mutex_unlock(&sg->mu);
		free(copy);
		return RG_EAGAIN;
	}
	sg->q[sg->nq].seq = seq;
	rg_strlcpy(sg->q[sg->nq].hash, hash, sizeof(sg->q[sg->nq].hash));
	sg->q[sg->nq].sig = copy;
	sg->nq++;
	pthread_mutex_unlock(&sg->mu);
	/* A full pipe already holds a wake-up: nothing to do on failure. */
	if (write(sg->wake[1], "s", 1) < 0)
		return RG_OK;
	return RG_OK;
}

static void *
signer_main(void *arg)
{
	struct signer *sg = arg;
	struct audit_store *s = NULL;
	char hash[AUDIT_HASH_HEX + 1];
	uint64_t seq, after = 0;
	time_t last_export = 0, last_verify = 0, now, verify_cost = 0;
	struct timespec ts;
	int ex, ve;

	if (audit_store_sqlite_open(&s, sg->state_dir, 0, 1, NULL) != 0)
		return NULL;
	pthread_mutex_lock(&sg->mu);
	for (;;) {
		if (sg->want == sg->done && !sg->quit) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&sg->cv, &sg->mu, &ts);
		}
		if (sg->want != sg->done) {
			seq = sg->want;
			memcpy(hash, sg->hash, sizeof(hash));
			pthread_mutex_unlock(&sg->mu);
			if (audit_checkpoint_sign_ex(s, sg->state_dir, seq,
			    hash, after, signer_put, sg, NULL) == 0)
				after = seq;
			pthread_mutex_lock(&sg->mu);
			sg->done = seq;
			continue;
		}
		if (sg->quit)
			break;
		/* Nothing to sign: the officer view, at its own pace. */
		now = time(NULL);
		ex = sg->dirty_export && now - last_export >=
		    sg->export_interval;
		/* A full verification is spaced by its interval, or for a
		 * log that takes 10 s or more to verify by 30 times that, so
		 * a large log never costs more than ~3% of a core. */
		ve = sg->dirty_verify && now - last_verify >=
		    (verify_cost >= 10 && verify_cost * 30 >
		    sg->verify_interval ? verify_cost * 30 :
		    sg->verify_interval);
		if (!ex && !ve)
			continue;
		sg->dirty_export = 0;
		if (ve)
			sg->dirty_verify = 0;
		pthread_mutex_unlock(&sg->mu);
		officer_view_refresh(sg->state_dir, ve);
		last_export = now;
		if (ve) {
			last_verify = now;
			verify_cost = time(NULL) - now;
		}
		pthread_mutex_lock(&sg->mu);
	}
	pthread_mutex_unlock(&sg->mu);
	s->ops->close(s);
	return NULL;
}

/* Main thread: store the signatures the signer has made. */
static void
signer_drain(struct signer *sg, struct audit_store *s)
{
	struct signed_cp q[SIGQ_MAX];
	char junk[64];
	size_t i, n;

	while (read(sg->wake[0], junk, sizeof(junk)) > 0)
		;
	pthread_mutex_lock(&sg->mu);
	n = sg->nq;
	memcpy(q, sg->q, n * sizeof(q[0]));
	sg->nq = 0;
	pthread_cond_broadcast(&sg->cv);
	pthread_mutex_unlock(&sg->mu);
	for (i = 0; i < n; i++) {
		(void)s->ops->sig_put(s, q[i].seq, q[i].hash, q[i].sig, NULL);
		free(q[i].sig);
	}
}

static void
signer_post(struct signer *sg, uint64_t seq, const char *hash)
{
	pthread_mutex_lock(&sg->mu);
	sg->want = seq;
	memcpy(sg->hash, hash, sizeof(sg->hash));
	pthread_cond_signal(&sg->cv);
	pthread_mutex_unlock(&sg->mu);
}

/* Let the signer finish what was posted, store it, and end it. */
static void
signer_stop(struct signer *sg, struct audit_store *s)
{
	int done;

	if (!sg->started)
		return;
	for (;;) {
		pthread_mutex_lock(&sg->mu);
		done = sg->want == sg->done;
		pthread_mutex_unlock(&sg->mu);
		signer_drain(sg, s);
		if (done)
			break;
		poll(NULL, 0, 20);
	}
	pthread_mutex_lock(&sg->mu);
	sg->quit = 1;
	pthread_cond_broadcast(&sg->cv);
	pthread_mutex_unlock(&sg->mu);
	pthread_join(sg->th, NULL);
	signer_drain(sg, s);
	sg->started = 0;
}

/* Append a log.checkpoint record now; the signer signs it. */
static int
checkpoint_post(struct server *sv, const char *why, struct diag *d)
{
	struct audit_event ev;
	struct audit_record r;
	int rc;

	audit_event_init(&ev, "log.checkpoint", "ok");
	ev.detail = why;
	if ((rc = audit_record_from_event(&r, &ev)) != 0)
		return rc;
	rc = sv->store->ops->append(sv->store, &r, 1, d);
	if (rc == 0) {
		audit_handle_forward(sv->a, &r);
		sv->last_seq = r.seq;
		signer_post(&sv->sg, r.seq, r.hash);
	}
	audit_record_clear(&r);
	return rc;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
listen_sock(const char *state_dir, struct diag *d)
{
	struct sockaddr_un sun;
	char path[4096];
	int fd, probe;

	if (audit_path(path, sizeof(path), state_dir, AUDIT_SOCK_NAME) != 0 ||
	    strlen(path) >= sizeof(sun.sun_path))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0,
		    "socket path too long");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* A socket nobody answers on is left from a writer that died. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			return diag_set(d, RG_EEXIST, path, 0, 0,
			    "another audit writer is running");
		}
		close(probe);
	}
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return diag_set(d, RG_EIO, path, 0, 0, "socket: %s",
		    strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0600) == -1 || listen(fd, 128) == -1) {
		close(fd);
		return diag_set(d, RG_EIO, path, 0, 0, "listen: %s",
		    strerror(errno));
	}
	return fd;
}

static void
client_drop(struct server *sv, size_t i)
{
	size_t j;

	close(sv->cl[i].fd);
	free(sv->cl[i].buf);
	/* Records of this client still in the batch keep their owner index
	 * only until the batch is answered, so drop only between batches. */
	sv->cl[i] = sv->cl[sv->ncl - 1];
	sv->ncl--;
	for (j = 0; j < sv->nbatch; j++)
		if (sv->owner[j] == sv->ncl)
			sv->owner[j] = i;
}

static void
accept_all(struct server *sv)
{
	int fd;

	while ((fd = accept4(sv->lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if (sv->ncl == CLIENTS_MAX) {
			close(fd);
			continue;
		}
		sv->cl[sv->ncl].fd = fd;
		sv->cl[sv->ncl].len = 0;
		if ((sv->cl[sv->ncl].buf = malloc(CLIENT_BUF)) == NULL) {
			close(fd);
			continue;
		}
		sv->ncl++;
	}
}

/* Read what client i has sent; take its complete records into the batch.
 * Returns -1 when the client must go (closed, malformed). */
static int
client_read(struct server *sv, size_t i)
{
	struct client *c = &sv->cl[i];
	ssize_t n;
	size_t off = 0;

	if (c->len < CLIENT_BUF) {
		n = recv(c->fd, c->buf + c->len, CLIENT_BUF - c->len, 0);
		if (n == 0)
			return -1;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0)
			c->len += (size_t)n;
	}
	while (c->len - off >= 4 && sv->nbatch < AUDIT_BATCH_MAX) {
		uint32_t mlen = get_u32(c->buf + off);

		if (mlen > AUDIT_MSG_MAX)
			return -1;
		if (c->len - off - 4 < mlen)
			break;
		if (audit_wire_decode(c->buf + off + 4, mlen,
		    &sv->batch[sv->nbatch]) != 0)
			return -1;
		sv->owner[sv->nbatch++] = i;
		off += 4 + mlen;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return 0;
}

static void
reply(struct server *sv, size_t i, int32_t status, uint64_t seq)
{
	unsigned char r[AUDIT_REPLY_LEN];
	uint32_t st = (uint32_t)status;
	int k;

	r[0] = (unsigned char)(st >> 24);
	r[1] = (unsigned char)(st >> 16);
	r[2] = (unsigned char)(st >> 8);
	r[3] = (unsigned char)st;
	for (k = 0; k < 8; k++)
		r[4 + k] = (unsigned char)(seq >> (56 - 8 * k));
	/* 12 bytes into an idle socket never block; a client that does not
	 * read its answers loses its connection at the next poll. */
	(void)send(sv->cl[i].fd, r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Tell the background thread that records were added. */
static void
mark_dirty(struct server *sv)
{
	pthread_mutex_lock(&sv->sg.mu);
	sv->sg.dirty_export = sv->sg.dirty_verify = 1;
	pthread_mutex_unlock(&sv->sg.mu);
}

static int
commit_batch(struct server *sv, struct diag *d)
{
	uint64_t before = sv->last_seq;
	size_t i;
	int rc;

	rc = sv->store->ops->append(sv->store, sv->batch, sv->nbatch, d);
	for (i = 0; i < sv->nbatch; i++) {
		reply(sv, sv->owner[i], rc, rc == 0 ? sv->batch[i].seq : 0);
		if (rc == 0)
			audit_handle_forward(sv->a, &sv->batch[i]);
	}
	if (rc == 0) {
		sv->last_seq = sv->batch[sv->nbatch - 1].seq;
		mark_dirty(sv);
	}
	for (i = 0; i < sv->nbatch; i++)
		audit_record_clear(&sv->batch[i]);
	sv->nbatch = 0;
	if (rc == 0 && sv->every > 0 &&
	    sv->last_seq / sv->every > before / sv->every) {
		/* The checkpoint record comes after the answers and its
		 * signature in the signer thread: no client waits for it. */
		(void)checkpoint_post(sv, "every checkpoint_every records", d);
	}
	return rc;
}

int
audit_server_run(const char *state_dir, const struct audit_server_opts *opts,
    struct diag *d)
{
	static struct server sv;	/* large: keep it off the stack */
	struct pollfd *pfd = NULL;
	char fpr[41], sockpath[4096];
	size_t i;
	int rc, more;

	memset(&sv, 0, sizeof(sv));
	sv.state_dir = state_dir;
	sv.lfd = -1;
	sv.sg.wake[0] = sv.sg.wake[1] = -1;
	sv.every = opts && opts->checkpoint_every ? opts->checkpoint_every :
	    AUDIT_CHECKPOINT_DEFAULT;
	sv.sg.export_interval = opts && opts->export_interval > 0 ?
	    opts->export_interval : 5;
	sv.sg.verify_interval = opts && opts->verify_interval > 0 ?
	    opts->verify_interval : 60;
	if ((rc = gateway_pgp_ensure(state_dir, fpr, d)) != 0)
		return rc;
	/* Only the writer opens the database while it runs: audit_open()
	 * here must not find our own socket, so it is made afterwards. */
	if ((rc = audit_open(&sv.a, state_dir, d)) != 0)
		return rc;
	audit_set_signing(sv.a, 1);
	audit_set_checkpoint_every(sv.a, 0);	/* the loop decides */
	if (opts && opts->syslog_path &&
	    (rc = audit_set_syslog(sv.a, opts->syslog_path, d)) != 0)
		goto out;
	sv.store = audit_handle_store(sv.a);
	if (sv.store == NULL) {
		rc = diag_set(d, RG_EEXIST, state_dir, 0, 0,
		    "another audit writer is running");
		goto out;
	}
	if ((rc = audit_last_seq(sv.a, &sv.last_seq, d)) != 0)
		goto out;
	if ((sv.lfd = listen_sock(state_dir, d)) < 0) {
		rc = sv.lfd;
		goto out;
	}
	sv.sg.state_dir = state_dir;
	pthread_mutex_init(&sv.sg.mu, NULL);
	pthread_cond_init(&sv.sg.cv, NULL);
	if (pipe2(sv.sg.wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		sv.sg.wake[0] = sv.sg.wake[1] = -1;
		rc = diag_set(d, RG_EIO, "", 0, 0, "pipe: %s", strerror(errno));
		goto out;
	}
	if (pthread_create(&sv.sg.th, NULL, signer_main, &sv.sg) != 0) {
		rc = diag_set(d, RG_EIO, "", 0, 0, "cannot start the signer");
		goto out;
	}
	sv.sg.started = 1;
	/* A checkpoint at start: its signing also signs whatever a killed
	 * writer left unsigned. */
	if ((rc = checkpoint_post(&sv, "audit writer started", d)) != 0)
		goto out;
	mark_dirty(&sv);
	if ((pfd = calloc(CLIENTS_MAX + 2, sizeof(*pfd))) == NULL) {
		rc = RG_ENOMEM;
		goto out;
	}
	more = 0;
	while (opts == NULL || opts->stop == NULL || !*opts->stop) {
		pfd[0].fd = sv.lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sv.sg.wake[0];
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		for (i = 0; i < sv.ncl; i++) {
			pfd[i + 2].fd = sv.cl[i].fd;
			pfd[i + 2].events = POLLIN;
			pfd[i + 2].revents = 0;
		}
		if (poll(pfd, sv.ncl + 2, more ? 0 : 500) == -1 &&
		    errno != EINTR) {
			rc = diag_set(d, RG_EIO, "", 0, 0, "poll: %s",
			    strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN)
			accept_all(&sv);
		more = 0;
		/* Backwards, so a dropped client's slot is not revisited. */
		for (i = sv.ncl; i-- > 0;) {
			if (pfd[i + 2].fd != sv.cl[i].fd ||
			    !(pfd[i + 2].revents & (POLLIN | POLLHUP |
			    POLLERR)))
				continue;
			if (client_read(&sv, i) != 0 && sv.nbatch == 0)
				client_drop(&sv, i);
			else if (sv.cl[i].len >= 4)
				more = 1;
		}
		/* A failed commit was answered with its error: those actions
		 * do not happen; the writer goes on with the next batch. */
		if (sv.nbatch > 0)
			(void)commit_batch(&sv, d);
		if (pfd[1].revents & POLLIN)
			signer_drain(&sv.sg, sv.store);
	}
	if (rc == 0) {
		/* The shutdown checkpoint, then a last officer-view refresh. */
		rc = checkpoint_post(&sv, "audit writer shutdown", d);
		signer_stop(&sv.sg, sv.store);
		officer_view_refresh(state_dir, 1);
	}
out:
	signer_stop(&sv.sg, sv.store);
	if (sv.sg.wake[0] != -1) {
		close(sv.sg.wake[0]);
		close(sv.sg.wake[1]);
	}
	for (i = 0; i < sv.ncl; i++) {
		close(sv.cl[i].fd);
		free(sv.cl[i].buf);
	}
	sv.ncl = 0;
	if (sv.lfd >= 0) {
		close(sv.lfd);
		if (audit_path(sockpath, sizeof(sockpath), state_dir,
		    AUDIT_SOCK_NAME) == 0)
			unlink(sockpath);
	}
	free(pfd);
	audit_close(sv.a);
	return rc;
}
