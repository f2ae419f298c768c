/*
 * The release worker process: not network-facing, the only holder of the
 * gateway's OpenPGP secret key and the masking keys. It recovers what a
 * crash interrupted, then handles STATE/queue/ in name order (each entry's
 * result is durable before the entry is removed) and expires releases.
 * It sleeps on inotify of the queue folder, waking at least every few
 * seconds for retention.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "release/release.h"
#include "release/notify.h"
#include "release/internal.h"
#include "sandbox/sandbox.h"
#include "keys/keys.h"

#define WAKE_MS		5000
#define RETRY_SECS	60	/* approved but not yet published */
#define EXPIRING_SECS	600	/* look for releases expiring in 2 days */

volatile int worker_stop_flag;
static volatile sig_atomic_t reload_flag;

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop_flag = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	reload_flag = 1;
}

/* Append an audit record durably. */
int
worker_audit(struct worker *w, const struct audit_event *ev)
{
	int rc;

	if (w->audit == NULL) {
		struct diag d;

		diag_clear(&d);
		if ((rc = audit_open(&w->audit, w->state_dir, &d)) != RG_OK) {
			log_warnx("audit: %s", d.msg);
			return rc;
		}
	}
	if ((rc = audit_append(w->audit, ev, NULL)) != RG_OK) {
		log_warnx("audit: cannot append %s: %s", ev->type,
		    rg_strerror(rc));
		/* Reopen next time (a restarted writer). */
		audit_close(w->audit);
		w->audit = NULL;
	}
	return rc;
}

static int
load_config(struct worker *w)
{
	struct config_dir *cd = NULL;
	struct diag d;
	int rc;

	diag_clear(&d);
	if ((rc = config_dir_load(&cd, w->config_dir, &d)) != RG_OK) {
		log_warnx("config %s: %s", w->config_dir, d.msg);
		return rc;
	}
	if (w->cd != NULL) {
		size_t i;

		/* a relgate.yaml that does not load keeps the running
		 * settings, as in the master (users and contracts reload) */
		for (i = 0; i < cd->n_problems; i++)
			if (cd->problems[i].kind == 0) {
				cd->cfg = w->cd->cfg;
				break;
			}
	}
	config_dir_free(w->cd);
	w->cd = cd;
	return RG_OK;
}

/* The contractors' keys into the gateway keyring when the config is
 * loaded (also updates of known keys), not at the first release. */
static void
import_recipient_keys(struct worker *w)
{
	char dir[PATH_MAX];
	struct diag d;
	int rc;

	diag_clear(&d);
	if (worker_path(dir, sizeof(dir), "%s/keys/pgp", w->config_dir) != 0)
		return;
	rc = pgp_import_keys(w->state_dir, dir, &d);
	if (rc != RG_OK && rc != RG_ENOENT)
		log_warnx("importing %s: %s", dir, d.msg);
}

/* releases/gateway.asc: the key contractors verify signatures with. */
static int
export_gateway_key(struct worker *w)
{
	char path[PATH_MAX], dir[PATH_MAX], fpr[41];
	struct buf b;
	struct diag d;
	int rc;

	diag_clear(&d);
	/* (remembered for signing packages) */
	if ((rc = pgp_signer_fpr(w->state_dir, fpr, &d)) != RG_OK) {
		log_warnx("gateway key: %s", d.msg);
		return rc;
	}
	if (worker_path(dir, sizeof(dir), "%s/releases", w->state_dir) != 0 ||
	    worker_path(path, sizeof(path), "%s/gateway.asc", dir) != 0)
		return RG_EINVAL;
	if (worker_mkdir(dir, WORKER_SHARED_DIR) != 0)
		return RG_EIO;
	buf_init(&b, 1u << 20);
	if ((rc = gateway_pgp_export(w->state_dir, &b, &d)) == RG_OK)
		rc = file_write_atomic(path, b.data, b.len, WORKER_SHARED_FILE,
		    &d);
	if (rc != RG_OK)
		log_warnx("gateway.asc: %s", d.msg);
	buf_free(&b);
	return rc;
}

/* Remove leftovers of an interrupted publication: releases/X/.tmp.* */
static void
sweep_release_tmp(struct worker *w)
{
	char dir[PATH_MAX], sub[PATH_MAX], path[PATH_MAX];
	struct dirent *de, *fe;
	DIR *dp, *fp;

	if (worker_path(dir, sizeof(dir), "%s/releases", w->state_dir) != 0 ||
	    (dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (worker_path(sub, sizeof(sub), "%s/%s", dir, de->d_name) != 0
		    || (fp = opendir(sub)) == NULL)
			continue;
		while ((fe = readdir(fp)) != NULL)
			if (strncmp(fe->d_name, ".tmp.", 5) == 0 &&
			    worker_path(path, sizeof(path), "%s/%s", sub,
			    fe->d_name) == 0)
				(void)unlink(path);
		closedir(fp);
		(void)dir_fsync(sub);
	}
	closedir(dp);
}

/* Publish approved requests whose publication did not finish (a crash, or
 * a failure such as a full disk: retried). */
static int
publish_pending(struct worker *w)
{
	char (*ids)[RG_ID_MAX] = NULL;
	size_t n, i;
	int rc;

	if ((rc = state_db_requests_in(w->db, RQ_APPROVED, &ids, &n)) != 0)
		return rc;
	for (i = 0; i < n && !worker_stop_flag; i++) {
		log_info("%s: publishing an approved request again", ids[i]);
		(void)worker_publish(w, ids[i]);
	}
	free(ids);
	return RG_OK;
}

/* After a crash: every request reaches a definite state again. */
static int
recover(struct worker *w)
{
	static const char *const redo[] = { RQ_SUBMITTED, RQ_CHECKING };
	char (*ids)[RG_ID_MAX] = NULL;
	size_t n, i, k;
	int rc;

	sweep_release_tmp(w);
	/* Status files a crash left behind the stored state. */
	if ((rc = state_db_requests_unshown(w->db, &ids, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		struct request_rec r;

		if (state_db_request_get(w->db, ids[i], &r) == RG_OK &&
		    worker_status_write(w, &r) == RG_OK)
			(void)state_db_request_shown(w->db, r.id, r.updated);
	}
	free(ids);
	ids = NULL;
	for (k = 0; k < RG_ARRAY_LEN(redo); k++) {
		if ((rc = state_db_requests_in(w->db, redo[k], &ids, &n)) != 0)
			return rc;
		for (i = 0; i < n && !worker_stop_flag; i++) {
			struct request_rec r;

			if (state_db_request_get(w->db, ids[i], &r) != RG_OK)
				continue;
			log_info("%s: recovering from state %s", r.id,
			    r.state);
			/* submitted: the copy of request.yaml may be missing,
			 * so the submission is handled again as a whole. */
			if (strcmp(r.state, RQ_SUBMITTED) == 0)
				(void)worker_submit(w, r.submitter, r.folder);
			else
				(void)worker_check(w, r.id);
		}
		free(ids);
		ids = NULL;
	}
	worker_extracts_link_waiting(w);
	return publish_pending(w);
}

/* Handle one queue entry; RG_OK when it may be removed. */
static int
handle(struct worker *w, const struct queue_entry *e)
{
	switch (e->kind) {
	case QUEUE_SUBMIT:
		return worker_submit(w, e->user, e->folder);
	case QUEUE_WITHDRAW:
		return worker_withdraw(w, e->user, e->folder);
	case QUEUE_DECISION:
		return worker_decision(w, e->request, e->user);
	case QUEUE_DOWNLOAD:
		return worker_download(w, e->name, e->contract, e->release,
		    e->user);
	}
	return RG_EINVAL;
}

/* One round over the queue. *did says whether anything was handled. */
static int
drain(struct worker *w, int *did)
{
	struct queue_entry *v = NULL;
	struct diag d;
	size_t n, i;
	int rc;

	*did = 0;
	diag_clear(&d);
	if ((rc = queue_list(&v, &n, w->state_dir, &d)) != RG_OK) {
		log_warnx("queue: %s", d.msg);
		return rc;
	}
	for (i = 0; i < n && !worker_stop_flag; i++) {
		rc = handle(w, &v[i]);
		if (worker_stop_flag)
			break;	/* interrupted: the entry is done again */
		if (rc == RG_EDB || rc == RG_EIO || rc == RG_ENOMEM) {
			/* Our own trouble, not the entry's: keep it. */
			log_warnx("queue %s: %s; will retry", v[i].name,
			    rg_strerror(rc));
			break;
		}
		if (rc != RG_OK)
			log_warnx("queue %s: %s", v[i].name, rg_strerror(rc));
		(void)queue_remove(w->state_dir, &v[i], &d);
		*did = 1;
	}
	free(v);
	return RG_OK;
}

static int
worker_open(struct worker *w, const char *config_dir, const char *state_dir,
    struct diag *d)
{
	char q[PATH_MAX];
	int rc;

	memset(w, 0, sizeof(*w));
	/* Nothing the worker makes is for others beyond the sessions' group,
	 * and without run_as nothing is for the group either. */
	worker_umask_set();
	rg_strlcpy(w->config_dir, config_dir, sizeof(w->config_dir));
	rg_strlcpy(w->state_dir, state_dir, sizeof(w->state_dir));
	w->threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
	if (worker_path(q, sizeof(q), "%s/queue", state_dir) != 0 ||
	    dir_make(q, 0700) != 0 ||
	    worker_path(q, sizeof(q), "%s/requests", state_dir) != 0 ||
	    worker_mkdir(q, WORKER_SHARED_DIR) != 0)
		return diag_set(d, RG_EIO, state_dir, 0, 0,
		    "cannot make the state folders");
	if ((rc = state_db_open(&w->db, state_dir, d)) != RG_OK)
		return rc;
	if ((rc = load_config(w)) != RG_OK)
		return diag_set(d, rc, config_dir, 0, 0,
		    "cannot load the config directory");
	if (export_gateway_key(w) == RG_OK)
		import_recipient_keys(w);
	return RG_OK;
}

static void
worker_close(struct worker *w)
{
	notify_sender_stop(w->notify);
	state_db_close(w->db);
	config_dir_free(w->cd);
	audit_close(w->audit);
	memset(w, 0, sizeof(*w));
}

/* Run until the queue is empty; for tests and one-shot tools. */
int
worker_run_once(const char *config_dir, const char *state_dir,
    struct diag *d)
{
	struct worker w;
	int rc, did = 1;

	if ((rc = worker_open(&w, config_dir, state_dir, d)) == RG_OK &&
	    (rc = recover(&w)) == RG_OK) {
		while (did && rc == RG_OK && !worker_stop_flag)
			rc = drain(&w, &did);
		if (rc == RG_OK)
			rc = worker_expire_due(&w);
		if (rc == RG_OK)
			rc = notify_queue_expiring(&w);
		/* The outbox once, on this thread. */
		if (rc == RG_OK)
			(void)notify_outbox_pass(w.state_dir,
			    &w.cd->cfg.notify, NULL, NULL);
	}
	worker_close(&w);
	return rc;
}

/* The worker process's main loop. */
int
worker_run(const char *config_dir, const char *state_dir)
{
	struct sigaction sa;
	struct worker w;
	struct diag d;
	char q[PATH_MAX];
	time_t last_retry = time(NULL), last_expiring = 0;
	int in = -1, rc, did;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	diag_clear(&d);
	if ((rc = worker_open(&w, config_dir, state_dir, &d)) != RG_OK) {
		log_warnx("release worker: %s", d.msg);
		worker_close(&w);
		return 1;
	}
	if (sandbox_apply_worker(config_dir, state_dir, &d) != RG_OK) {
		log_warnx("release worker: cannot confine itself: %s", d.msg);
		worker_close(&w);
		return 1;
	}
	/* The e-mail sender: a thread of its own, started once confined
	 * (Landlock holds for threads made after it). */
	if (notify_sender_start(&w.notify, state_dir, &w.cd->cfg.notify, &d) !=
	    RG_OK)
		log_warnx("release worker: %s", d.msg);
	log_info("release worker started");
	if (worker_path(q, sizeof(q), "%s/queue", state_dir) == 0 &&
	    (in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) != -1 &&
	    inotify_add_watch(in, q, IN_MOVED_TO | IN_CLOSE_WRITE) == -1) {
		close(in);
		in = -1;
	}
	(void)recover(&w);
	while (!worker_stop_flag) {
		struct pollfd pfd = { in, POLLIN, 0 };
		char evbuf[4096];

		if (reload_flag) {
			reload_flag = 0;
			if (load_config(&w) == RG_OK) {
				import_recipient_keys(&w);
				notify_sender_config(w.notify,
				    &w.cd->cfg.notify);
				log_info("release worker: config reloaded");
			}
		}
		if (drain(&w, &did) != RG_OK)
			did = 0;
		(void)worker_expire_due(&w);
		if (did || time(NULL) - last_expiring >= EXPIRING_SECS) {
			last_expiring = time(NULL);
			(void)notify_queue_expiring(&w);
		}
		if (time(NULL) - last_retry >= RETRY_SECS) {
			last_retry = time(NULL);
			(void)publish_pending(&w);
		}
		if (did)
			continue;
		if (in == -1) {
			usleep(200 * 1000);
			continue;
		}
		if (poll(&pfd, 1, WAKE_MS) > 0)
			while (read(in, evbuf, sizeof(evbuf)) > 0)
				;
	}
	log_info("release worker stopping");
	if (in != -1)
		close(in);
	worker_close(&w);
	return 0;
}
