/*
 * The sender of e-mail notifications: a thread of the release worker with
 * its own connections to state.db and the audit log. It delivers the
 * outbox one message at a time through libcurl's SMTP support (STARTTLS
 * or smtps://, optional AUTH), so a relay that is down, refuses or hangs
 * never holds up checks, packaging or publishing on the worker's own
 * thread: that one only queues (in the state change's transaction) and
 * kicks this one.
 *
 * Each message: try; on success it is marked `sent` at once (a crash
 * after the relay's acknowledgement but before that mark is the only way
 * it goes out twice), then notify.sent is audited. On a temporary failure
 * (no connection, timeout, 4xx) it is tried again after retry_first
 * seconds, doubled each time up to retry_max, `attempts` tries in all; a
 * permanent refusal (5xx) or the last try marks it `failed` and audits
 * notify.failed once, with the relay's error. Failed tries before that
 * are logged, not audited. A message whose record a crash left unwritten
 * is audited at the next start.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "release/notify.h"
#include "release/internal.h"

#define CONNECT_TIMEOUT	10L	/* seconds */
#define SEND_TIMEOUT	60L	/* seconds for a whole message */
#define PASS_MAX	32	/* messages looked at per pass */
#define PASSWORD_MAX	1024
#define IDLE_WAIT	2	/* seconds between looks at the outbox */

struct notify_sender {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int	quit, kicked;
	struct notify_config cfg;
	char	state_dir[1024];
};

/* What one pass works with. */
struct pass_ctx {
	const char *state_dir;
	const struct notify_config *cfg;
	struct state_db *db;
	struct audit *audit;
	volatile int *quit;		/* NULL: never asked to stop */
};

struct reader {
	const unsigned char *p;
	size_t	left;
};

static size_t
read_cb(char *out, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb;

	if (n > r->left)
		n = r->left;
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

/* Break a transfer off when the worker stops. */
static int
progress_cb(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
    curl_off_t e)
{
	volatile int *quit = arg;

	(void)a; (void)b; (void)c; (void)e;
	return quit != NULL && *quit;
}

/*
 * The relay password: the first line of password_file, which must be a
 * regular file of the worker's user, 0600 or stricter (else refused).
 */
static int
read_password(const char *path, char *out, size_t len, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd;

	out[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "password_file %.200s: %s", path,
		    strerror(errno));
		return RG_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0) {
		close(fd);
		snprintf(err, errlen, "password_file %.200s must be a regular "
		    "file of mode 0600", path);
		return RG_EPERM;
	}
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "password_file %.200s is empty", path);
		return RG_EIO;
	}
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return RG_OK;
}

/*
 * Send one message. RG_OK when the relay accepted it; else the error in
 * err and *permanent set for a 5xx refusal.
 */
static int
send_one(const struct pass_ctx *px, const struct outbox_rec *m,
    char *err, size_t errlen, int *permanent)
{
	const struct notify_config *cfg = px->cfg;
	char msgid[256], from[NOTIFY_ADDR_MAX + 2], to[NOTIFY_ADDR_MAX + 2];
	char cerr[CURL_ERROR_SIZE], password[PASSWORD_MAX];
	struct curl_slist *rcpt = NULL;
	struct notify_msg nm;
	struct reader rd;
	struct buf b;
	CURL *c = NULL;
	CURLcode cc;
	long code = 0;
	int rc;

	*permanent = 0;
	err[0] = cerr[0] = password[0] = '\0';
	snprintf(msgid, sizeof(msgid), "relgate.%lld.%lld@%s",
	    (long long)m->created, (long long)m->id,
	    notify_addr_domain(cfg->from));
	memset(&nm, 0, sizeof(nm));
	nm.from = cfg->from;
	nm.to = m->addr;
	nm.subject = m->subject;
	nm.body = m->body;
	nm.message_id = msgid;
	nm.date = (time_t)m->created;
	buf_init(&b, NOTIFY_MESSAGE_MAX);
	if ((rc = notify_message_build(&b, &nm)) != RG_OK) {
		snprintf(err, errlen, "the message cannot be built: %s",
		    rg_strerror(rc));
		*permanent = 1;
		goto out;
	}
	if (cfg->user[0] && (rc = read_password(cfg->password_file, password,
	    sizeof(password), err, errlen)) != RG_OK)
		goto out;
	snprintf(from, sizeof(from), "<%s>", cfg->from);
	snprintf(to, sizeof(to), "<%s>", m->addr);
	rc = RG_ENOMEM;
	if ((c = curl_easy_init()) == NULL ||
	    (rcpt = curl_slist_append(NULL, to)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rd.p = b.data;
	rd.left = b.len;
	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_INFILESIZE, (long)b.len);
	curl_easy_setopt(c, CURLOPT_USE_SSL, cfg->starttls ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->user[0]) {
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, password);
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, SEND_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)px->quit);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	cc = curl_easy_perform(c);
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (cc == CURLE_OK) {
		rc = RG_OK;
		goto out;
	}
	rc = RG_EIO;
	*permanent = code >= 500 && code < 600;
	if (code > 0)
		snprintf(err, errlen, "SMTP %ld: %s", code, cerr[0] ? cerr :
		    curl_easy_strerror(cc));
	else
		snprintf(err, errlen, "%s", cerr[0] ? cerr :
		    curl_easy_strerror(cc));
out:
	rg_wipe(password, sizeof(password));
	curl_slist_free_all(rcpt);
	if (c != NULL)
		curl_easy_cleanup(c);
	buf_free(&b);
	return rc;
}

/* Audit the end of one message (notify.sent or notify.failed). */
static int
audit_end(struct pass_ctx *px, const struct outbox_rec *m, int ok,
    const char *err, int late)
{
	struct audit_event ev;
	char detail[900];
	struct diag d;
	int rc;

	if (px->audit == NULL) {
		diag_clear(&d);
		if ((rc = audit_open(&px->audit, px->state_dir, &d)) !=
		    RG_OK) {
			log_warnx("notify: audit: %s", d.msg);
			return rc;
		}
	}
	snprintf(detail, sizeof(detail), "%s to %s, message %lld, %d %s%s%s%s",
	    m->event, m->user, (long long)m->id, m->tries,
	    m->tries == 1 ? "try" : "tries", ok ? "" : ": ", ok ? "" : err,
	    late ? " (recorded after a restart)" : "");
	audit_event_init(&ev, ok ? "notify.sent" : "notify.failed",
	    ok ? "ok" : "failed");
	ev.user = m->user;
	ev.contract = m->contract[0] ? m->contract : NULL;
	ev.request = m->request[0] ? m->request : NULL;
	ev.release = m->release[0] ? m->release : NULL;
	ev.detail = detail;
	if ((rc = audit_append(px->audit, &ev, NULL)) != RG_OK) {
		log_warnx("notify: audit: cannot append: %s", rg_strerror(rc));
		audit_close(px->audit);
		px->audit = NULL;
		return rc;
	}
	return state_db_outbox_audited(px->db, m->id);
}

/* Records a crash left unwritten. */
static void
audit_leftovers(struct pass_ctx *px)
{
	struct outbox_rec *v = NULL;
	size_t n = 0, i;

	if (state_db_outbox_list(px->db, 0, 1, PASS_MAX, &v, &n) != RG_OK)
		return;
	for (i = 0; i < n; i++)
		if (audit_end(px, &v[i], strcmp(v[i].state, "sent") == 0,
		    v[i].error, 1) != RG_OK)
			break;
	free(v);
}

/* Send what is due; counts into *sent and *failed. */
static int
pass_run(struct pass_ctx *px, int *sent, int *failed)
{
	struct outbox_rec *v = NULL;
	size_t n = 0, i;
	char err[512];
	int rc, permanent;

	audit_leftovers(px);
	if ((rc = state_db_outbox_list(px->db, (int64_t)time(NULL), 0,
	    PASS_MAX, &v, &n)) != RG_OK)
		return rc;
	for (i = 0; i < n && !(px->quit && *px->quit); i++) {
		struct outbox_rec *m = &v[i];
		int ok;

		ok = send_one(px, m, err, sizeof(err), &permanent) == RG_OK;
		if (!ok && px->quit && *px->quit)
			break;		/* broken off: tried again at start */
		m->tries++;
		if (ok) {
			rg_strlcpy(m->state, "sent", sizeof(m->state));
			err[0] = '\0';
		} else if (permanent || m->tries >= px->cfg->attempts)
			rg_strlcpy(m->state, "failed", sizeof(m->state));
		else {
			long wait = notify_backoff(m->tries,
			    px->cfg->retry_first, px->cfg->retry_max);

			log_warnx("notify: message %lld to %s: %s; try %d of "
			    "%d in %ld s", (long long)m->id, m->user, err,
			    m->tries + 1, px->cfg->attempts, wait);
			rc = state_db_outbox_update(px->db, m->id, "queued",
			    m->tries, (int64_t)time(NULL) + wait, err);
			if (rc != RG_OK)
				break;
			continue;
		}
		rg_strlcpy(m->error, err, sizeof(m->error));
		/* Marked first: a crash now cannot send it again. */
		if ((rc = state_db_outbox_update(px->db, m->id, m->state,
		    m->tries, m->next_try, err)) != RG_OK)
			break;
		if (ok) {
			log_info("notify: message %lld (%s) sent to %s",
			    (long long)m->id, m->event, m->user);
			if (sent)
				(*sent)++;
		} else {
			log_warnx("notify: message %lld to %s given up: %s",
			    (long long)m->id, m->user, err);
			if (failed)
				(*failed)++;
		}
		(void)audit_end(px, m, ok, err, 0);
	}
	free(v);
	return rc;
}

/* One pass on the caller's thread. */
int
notify_outbox_pass(const char *state_dir, const struct notify_config *cfg,
    int *sent, int *failed)
{
	struct pass_ctx px;
	struct diag d;
	int rc;

	if (sent)
		*sent = 0;
	if (failed)
		*failed = 0;
	if (!cfg->enabled)
		return RG_OK;
	memset(&px, 0, sizeof(px));
	px.state_dir = state_dir;
	px.cfg = cfg;
	diag_clear(&d);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return RG_ENOMEM;
	if ((rc = state_db_open(&px.db, state_dir, &d)) == RG_OK)
		rc = pass_run(&px, sent, failed);
	else
		log_warnx("notify: %s", d.msg);
	state_db_close(px.db);
	audit_close(px.audit);
	curl_global_cleanup();
	return rc;
}

static void *
sender_main(void *arg)
{
	struct notify_sender *s = arg;
	struct notify_config cfg;
	struct pass_ctx px;
	struct diag d;

	memset(&px, 0, sizeof(px));
	px.state_dir = s->state_dir;
	px.cfg = &cfg;
	px.quit = &s->quit;
	pthread_mutex_lock(&s->mu);
	while (!s->quit) {
		struct timespec ts;

		cfg = s->cfg;
		s->kicked = 0;
		pthread_mutex_unlock(&s->mu);
		if (cfg.enabled && px.db == NULL) {
			diag_clear(&d);
			if (state_db_open(&px.db, s->state_dir, &d) != RG_OK)
				log_warnx("notify: %s", d.msg);
		}
		if (cfg.enabled && px.db != NULL)
			(void)pass_run(&px, NULL, NULL);
		pthread_mutex_lock(&s->mu);
		if (s->quit || s->kicked)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += IDLE_WAIT;
		(void)pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	state_db_close(px.db);
	audit_close(px.audit);
	return NULL;
}

/* Start the sender thread. */
int
notify_sender_start(struct notify_sender **out, const char *state_dir,
    const struct notify_config *cfg, struct diag *d)
{
	struct notify_sender *s;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return diag_set(d, RG_ENOMEM, NULL, 0, 0,
		    "notify: libcurl cannot start");
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		curl_global_cleanup();
		return RG_ENOMEM;
	}
	rg_strlcpy(s->state_dir, state_dir, sizeof(s->state_dir));
	s->cfg = *cfg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->th, NULL, sender_main, s) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s);
		curl_global_cleanup();
		return diag_set(d, RG_ENOMEM, NULL, 0, 0,
		    "notify: cannot start the sender thread");
	}
	*out = s;
	return RG_OK;
}

/* New settings. */
void
notify_sender_config(struct notify_sender *s, const struct notify_config *cfg)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->cfg = *cfg;
	s->kicked = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Look at the outbox now. */
void
notify_sender_kick(struct notify_sender *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->kicked = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Stop and free. */
void
notify_sender_stop(struct notify_sender *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	rg_wipe(&s->cfg, sizeof(s->cfg));
	free(s);
	curl_global_cleanup();
}
