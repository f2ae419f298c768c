/*
 * What staff and approvers read about a request: status.json (the shape of
 * product.md, members added: contract, dataset, submitter, note) and
 * report.txt (a short header and the human check report). Both are written
 * atomically into STATE/requests/ID/ and the staff member's spool folder.
 * The check report itself is kept as requests/ID/checks.json and
 * checks.txt from the check pass.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "release/notify.h"
#include "release/internal.h"

#define STATUS_MAX	(4u << 20)
#define APPROVERS_MAX	16

/* snprintf into a path buffer; RG_EINVAL when it does not fit. */
int
worker_path(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? RG_EINVAL : RG_OK;
}

/* Start writeback of the last 8 MiB or more written to fd. */
void
worker_writeback(int fd, uint64_t off, uint64_t *kicked)
{
	if (off - *kicked < (8u << 20))
		return;
	(void)sync_file_range(fd, (off_t)*kicked, (off_t)(off - *kicked),
	    SYNC_FILE_RANGE_WRITE);
	*kicked = off;
}

static mode_t worker_umask = 077;

/*
 * relgated starts the worker as root in the sessions' group only under
 * run_as (gateway/daemon.c: worker_start()): only then is anything shared
 * with a group. Run any other way (without run_as, not as root, or the
 * relgate-worker program as root) all it makes is owner-only.
 */
void
worker_umask_set(void)
{
	worker_umask = geteuid() == 0 && getegid() != 0 ? 027 : 077;
	(void)umask(worker_umask);
}

/* mkdir -p, then set exactly mode (less the umask) on the last component. */
int
worker_mkdir(const char *path, mode_t mode)
{
	mode &= ~worker_umask;
	if (dir_make(path, mode) != 0 || chmod(path, mode) != 0)
		return RG_EIO;
	return RG_OK;
}

/* Read requests/ID/NAME into *out (NULL when absent). */
static int
read_req_file(struct worker *w, const char *id, const char *name,
    char **out, size_t *len)
{
	char path[PATH_MAX];
	int rc;

	*out = NULL;
	*len = 0;
	if (worker_path(path, sizeof(path), "%s/requests/%s/%s",
	    w->state_dir, id, name) != 0)
		return RG_EINVAL;
	rc = file_read_small(out, len, path, STATUS_MAX, NULL);
	return rc == RG_ENOENT ? RG_OK : rc;
}

static int
status_json(struct worker *w, const struct request_rec *r, struct buf *b)
{
	char names[APPROVERS_MAX][RG_NAME_MAX];
	char *checks = NULL;
	size_t n = 0, clen, i;
	int rc;

	if ((rc = read_req_file(w, r->id, "checks.json", &checks, &clen)) != 0)
		return rc;
	(void)state_db_approvals(w->db, r->id, names, APPROVERS_MAX, &n);
	rc = buf_printf(b, "{\"request\": ");
	rc |= json_append_string(b, r->id);
	rc |= buf_printf(b, ", \"state\": ");
	rc |= json_append_string(b, r->state);
	rc |= buf_printf(b, ", \"checks\": %s", checks && clen ? checks :
	    "null");
	rc |= buf_printf(b, ", \"release\": ");
	if (r->release[0] && (strcmp(r->state, RQ_APPROVED) == 0 ||
	    strcmp(r->state, RQ_PUBLISHED) == 0 ||
	    strcmp(r->state, RQ_EXPIRED) == 0))
		rc |= json_append_string(b, r->release);
	else
		rc |= buf_printf(b, "null");
	rc |= buf_printf(b, ", \"approvals\": [");
	for (i = 0; i < n; i++) {
		rc |= buf_printf(b, "%s{\"approver\": ", i ? ", " : "");
		rc |= json_append_string(b, names[i]);
		rc |= buf_printf(b, "}");
	}
	rc |= buf_printf(b, "], \"updated\": ");
	rc |= json_append_string(b, r->updated);
	rc |= buf_printf(b, ", \"submitted\": ");
	rc |= json_append_string(b, r->submitted);
	rc |= buf_printf(b, ", \"submitter\": ");
	rc |= json_append_string(b, r->submitter);
	rc |= buf_printf(b, ", \"contract\": ");
	rc |= r->contract[0] ? json_append_string(b, r->contract) :
	    buf_printf(b, "null");
	rc |= buf_printf(b, ", \"dataset\": ");
	rc |= r->dataset[0] ? json_append_string(b, r->dataset) :
	    buf_printf(b, "null");
	rc |= buf_printf(b, ", \"note\": ");
	rc |= r->note[0] ? json_append_string(b, r->note) :
	    buf_printf(b, "null");
	rc |= buf_printf(b, "}\n");
	free(checks);
	return rc ? RG_ETOOBIG : RG_OK;
}

static int
report_text(struct worker *w, const struct request_rec *r, struct buf *b)
{
	char *text = NULL;
	size_t tlen;
	int rc;

	if ((rc = read_req_file(w, r->id, "checks.txt", &text, &tlen)) != 0)
		return rc;
	rc = buf_printf(b, "Request:   %s\nState:     %s\n", r->id, r->state);
	if (r->contract[0])
		rc |= buf_printf(b, "Contract:  %s\n", r->contract);
	if (r->dataset[0])
		rc |= buf_printf(b, "Dataset:   %s\n", r->dataset);
	if (r->release[0] && (strcmp(r->state, RQ_APPROVED) == 0 ||
	    strcmp(r->state, RQ_PUBLISHED) == 0 ||
	    strcmp(r->state, RQ_EXPIRED) == 0))
		rc |= buf_printf(b, "Release:   %s\n", r->release);
	if (r->note[0])
		rc |= buf_printf(b, "Note:      %s\n", r->note);
	rc |= buf_printf(b, "Updated:   %s\n\n", r->updated);
	if (text != NULL && tlen > 0)
		rc |= buf_append(b, text, tlen);
	free(text);
	return rc ? RG_ETOOBIG : RG_OK;
}

/* Write name into requests/ID/ and (when it exists) the spool folder. */
static int
write_both(struct worker *w, const struct request_rec *r, const char *name,
    const struct buf *b)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct diag d;
	struct stat st;
	int rc;

	diag_clear(&d);
	if (worker_path(path, sizeof(path), "%s/requests/%s/%s", w->state_dir,
	    r->id, name) != 0)
		return RG_EINVAL;
	if ((rc = file_write_atomic(path, b->data, b->len, WORKER_SHARED_FILE,
	    &d)) != 0) {
		log_warnx("%s: %s", path, d.msg);
		return rc;
	}
	if (worker_path(dir, sizeof(dir), "%s/spool/staff/%s/%s",
	    w->state_dir, r->submitter, r->folder) != 0 ||
	    worker_path(path, sizeof(path), "%s/%s", dir, name) != 0)
		return RG_EINVAL;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return RG_OK;	/* the staff folder is gone */
	if ((rc = file_write_atomic(path, b->data, b->len, WORKER_SHARED_FILE,
	    &d)) != 0)
		log_warnx("%s: %s", path, d.msg);
	return rc;
}

/* requests/ID/meta.json: who submitted what, for the approvers' view. */
static int
write_meta(struct worker *w, const struct request_rec *r)
{
	char path[PATH_MAX];
	struct buf b;
	struct diag d;
	int rc;

	if (worker_path(path, sizeof(path), "%s/requests/%s/meta.json",
	    w->state_dir, r->id) != 0)
		return RG_EINVAL;
	buf_init(&b, 8192);
	rc = buf_printf(&b, "{\"request\": ");
	rc |= json_append_string(&b, r->id);
	rc |= buf_printf(&b, ", \"submitter\": ");
	rc |= json_append_string(&b, r->submitter);
	rc |= buf_printf(&b, ", \"folder\": ");
	rc |= json_append_string(&b, r->folder);
	rc |= buf_printf(&b, ", \"contract\": ");
	rc |= json_append_string(&b, r->contract);
	rc |= buf_printf(&b, ", \"dataset\": ");
	rc |= json_append_string(&b, r->dataset);
	rc |= buf_printf(&b, ", \"submitted\": ");
	rc |= json_append_string(&b, r->submitted);
	rc |= buf_printf(&b, "}\n");
	diag_clear(&d);
	if (rc == 0)
		rc = file_write_atomic(path, b.data, b.len,
		    WORKER_SHARED_FILE, &d);
	buf_free(&b);
	return rc ? RG_EIO : RG_OK;
}

/* Rewrite status.json and report.txt of a request in both places. */
int
worker_status_write(struct worker *w, const struct request_rec *r)
{
	struct buf b;
	int rc;

	if ((rc = write_meta(w, r)) != RG_OK)
		return rc;
	buf_init(&b, STATUS_MAX * 2);
	if ((rc = status_json(w, r, &b)) == RG_OK)
		rc = write_both(w, r, "status.json", &b);
	buf_reset(&b);
	if (rc == RG_OK && (rc = report_text(w, r, &b)) == RG_OK)
		rc = write_both(w, r, "report.txt", &b);
	buf_free(&b);
	return rc;
}

/* Set, store and show a request's new state. */
int
worker_set_state(struct worker *w, struct request_rec *r, const char *state,
    const char *note)
{
	struct request_rec cur;
	int rc;

	rg_strlcpy(r->state, state, sizeof(r->state));
	if (note != NULL)
		rg_strlcpy(r->note, note, sizeof(r->note));
	/* The e-mails the change causes are queued in its transaction:
	 * both are stored, or neither. */
	if ((rc = state_db_begin(w->db)) != RG_OK ||
	    (rc = state_db_request_put(w->db, r)) != RG_OK) {
		state_db_rollback(w->db);
		log_warnx("%s: cannot store state %s", r->id, state);
		return rc;
	}
	/* Pick up the stored time of the change. */
	if (state_db_request_get(w->db, r->id, &cur) == RG_OK)
		rg_strlcpy(r->updated, cur.updated, sizeof(r->updated));
	if ((rc = notify_queue_state(w, r)) != RG_OK ||
	    (rc = state_db_commit(w->db)) != RG_OK) {
		state_db_rollback(w->db);
		log_warnx("%s: cannot store state %s", r->id, state);
		return rc;
	}
	notify_sender_kick(w->notify);
	if ((rc = worker_status_write(w, r)) != RG_OK)
		return rc;
	return state_db_request_shown(w->db, r->id, r->updated);
}
