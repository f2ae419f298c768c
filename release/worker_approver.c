/*
 * What the release worker keeps for the approvers beyond the status files
 * (product.md "Over SFTP", approver): the request's extract files, so that
 * they see what they authorise, and the reason a decision of theirs was
 * not taken.
 *
 *   requests/ID/files/NAME          a hard link to spool/staff/USER/FOLDER/
 *                                   NAME once the check pass has read it
 *                                   (a copy where the spool is on another
 *                                   file system); /approvals/ID/NAME
 *   requests/ID/decisions/USER.error
 *                                   the reason; /approvals/ID/decision.error
 *                                   of USER alone (the session writes it
 *                                   when it refuses at CLOSE)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "release/internal.h"

#define COPY_CHUNK	(1u << 20)

/* A file name the staff view could have held (the session checked). */
static int
extract_name_ok(const char *f)
{
	return f != NULL && f[0] != '\0' && f[0] != '.' &&
	    strchr(f, '/') == NULL && strlen(f) < RG_NAME_MAX;
}

/* Copy regular file src to dst (made, 0640), durably. */
static int
copy_file(const char *src, const char *dst)
{
	unsigned char *b;
	struct stat st;
	ssize_t n, w, off;
	int in, out = -1, rc = RG_EIO;

	if ((in = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return RG_EIO;
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (b = malloc(COPY_CHUNK)) == NULL) {
		close(in);
		return RG_EIO;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, WORKER_SHARED_FILE)) == -1)
		goto out;
	for (;;) {
		n = read(in, b, COPY_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		for (off = 0; off < n; off += w)
			if ((w = write(out, b + off, (size_t)(n - off))) <= 0)
				goto out;
	}
	if (fsync(out) == 0)
		rc = RG_OK;
out:
	if (out != -1)
		close(out);
	if (rc != RG_OK)
		(void)unlink(dst);
	free(b);
	close(in);
	return rc;
}

/*
 * Link the extract files doc names into requests/ID/files/ (made 0750),
 * idempotently (a link already there to the same file stays). A file that
 * cannot be linked is logged and left out; RG_OK, or the last error.
 */
int
worker_extracts_link(struct worker *w, const struct request_rec *r,
    const struct request_doc *doc)
{
	char dir[PATH_MAX], src[PATH_MAX], dst[PATH_MAX], tmp[PATH_MAX];
	struct stat ss, ds;
	size_t i;
	int rc = RG_OK, did = 0;

	if (doc == NULL || doc->n_files == 0)
		return RG_OK;
	if (worker_path(dir, sizeof(dir), "%s/requests/%s/files",
	    w->state_dir, r->id) != 0)
		return RG_EINVAL;
	if (worker_mkdir(dir, WORKER_SHARED_DIR) != 0) {
		log_warn("%s: %s", r->id, dir);
		return RG_EIO;
	}
	for (i = 0; i < doc->n_files; i++) {
		const char *f = doc->files[i];

		if (!extract_name_ok(f) ||
		    worker_path(src, sizeof(src), "%s/spool/staff/%s/%s/%s",
		    w->state_dir, r->submitter, r->folder, f) != 0 ||
		    worker_path(dst, sizeof(dst), "%s/%s", dir, f) != 0 ||
		    worker_path(tmp, sizeof(tmp), "%s/.tmp.%s", dir, f) != 0)
			continue;
		if (lstat(src, &ss) != 0 || !S_ISREG(ss.st_mode)) {
			log_warnx("%s: extract %s: not a regular file", r->id,
			    f);
			rc = RG_ENOENT;
			continue;
		}
		if (lstat(dst, &ds) == 0 && ds.st_dev == ss.st_dev &&
		    ds.st_ino == ss.st_ino)
			continue;	/* linked before (a repeated check) */
		(void)unlink(tmp);
		/* linkat() without AT_SYMLINK_FOLLOW: a symlink swapped in
		 * is linked as itself, which no view ever opens. */
		if (linkat(AT_FDCWD, src, AT_FDCWD, tmp, 0) != 0 &&
		    (errno != EXDEV || copy_file(src, tmp) != RG_OK)) {
			log_warn("%s: extract %s for the approvers", r->id, f);
			rc = RG_EIO;
			continue;
		}
		if (rename(tmp, dst) != 0) {
			log_warn("%s: extract %s for the approvers", r->id, f);
			(void)unlink(tmp);
			rc = RG_EIO;
			continue;
		}
		did = 1;
	}
	if (did)
		(void)dir_fsync(dir);
	return rc;
}

/*
 * At start: the extracts of every request awaiting approval are linked
 * for its approvers (requests that reached that state before relgate
 * linked them, or whose link a crash cut short).
 */
void
worker_extracts_link_waiting(struct worker *w)
{
	char (*ids)[RG_ID_MAX] = NULL, path[PATH_MAX];
	struct request_rec r;
	struct request_doc *doc;
	struct diag d;
	size_t n = 0, i, len;
	char *yaml;

	if (state_db_requests_in(w->db, RQ_AWAITING, &ids, &n) != RG_OK)
		return;
	for (i = 0; i < n; i++) {
		yaml = NULL;
		doc = NULL;
		diag_clear(&d);
		if (state_db_request_get(w->db, ids[i], &r) != RG_OK ||
		    worker_path(path, sizeof(path), "%s/requests/%s/"
		    "request.yaml", w->state_dir, r.id) != 0 ||
		    file_read_small(&yaml, &len, path, REQUEST_YAML_MAX,
		    &d) != RG_OK ||
		    request_doc_parse(&doc, yaml, len, "request.yaml", &d) !=
		    RG_OK) {
			free(yaml);
			continue;
		}
		(void)worker_extracts_link(w, &r, doc);
		request_doc_free(doc);
		free(yaml);
	}
	free(ids);
}

/*
 * A decision of user on request r that the worker cannot take: audited
 * approval.invalid (outcome denied) with the reason, which also goes to
 * requests/ID/decisions/USER.error for that approver to read.
 */
int
worker_decision_refused(struct worker *w, const struct request_rec *r,
    const char *user, const char *reason)
{
	char path[PATH_MAX], now[40];
	struct audit_event ev;
	struct buf b;
	struct diag d;
	int rc;

	audit_event_init(&ev, "approval.invalid", "denied");
	ev.user = user;
	ev.role = "approver";
	ev.contract = r->contract[0] ? r->contract : NULL;
	ev.request = r->id;
	ev.detail = reason;
	if ((rc = worker_audit(w, &ev)) != RG_OK)
		return rc;
	if (worker_path(path, sizeof(path), "%s/requests/%s/decisions/%s.error",
	    w->state_dir, r->id, user) != 0)
		return RG_EINVAL;
	time_rfc3339_now(now, sizeof(now));
	buf_init(&b, 4096);
	diag_clear(&d);
	if (buf_printf(&b, "decision.yaml was not taken (%s):\n%s\n", now,
	    reason) != 0 || file_write_atomic(path, b.data, b.len,
	    WORKER_SHARED_FILE, &d) != RG_OK)
		log_warnx("%s: decision.error of %s not written: %s", r->id,
		    user, d.msg);
	buf_free(&b);
	return RG_OK;
}
