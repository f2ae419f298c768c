/*
 * gateway/sftp_side.c — what SFTP operations set in motion beyond the file
 * itself (docs/internals.md "Submission (session side)"): submission when
 * request.yaml is closed, withdrawal when it is removed, an approver's
 * decision, and the audit records of the session. Each action's record is
 * durable before the reply that acknowledges it. A request.yaml or
 * decision.yaml that cannot be taken is refused at CLOSE with the reason
 * where the user can read it (status.json and report.txt of the request
 * folder; the approver's decision.error) and in the audit trail
 * (request.invalid, approval.invalid).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "gateway/gateway.h"
#include "gateway/sftp_internal.h"

#define MARK_SUBMITTED	".relgate-request"
#define MARK_WITHDRAWN	".relgate-withdrawn"
#define STATUS_MAX	(64 * 1024)

int
sftp_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	hex_encode(hex, md, mdlen);
	return 0;
}

/* Append an audit event for this session (no audit handle: nothing). */
int
sftp_audit(const struct sftp_session_info *info, const char *type,
    const char *outcome, const struct vres *res, int64_t bytes,
    const char *sha256, const char *detail)
{
	struct audit_event ev;
	char release[SFTP_MAX_NAME + 1];
	size_t l;
	int rc;

	if (info->audit == NULL)
		return RG_OK;
	audit_event_init(&ev, type, outcome);
	ev.user = info->user;
	ev.source = info->source;
	ev.bytes = bytes;
	ev.sha256 = sha256;
	ev.detail = detail;
	if (res != NULL) {
		ev.role = res->role;
		ev.path = res->vpath[0] ? res->vpath : NULL;
		ev.contract = res->contract;
		if (res->area == VA_APPROVALS && res->name1[0])
			ev.request = res->name1;
		if (res->special == VS_RELEASE_GPG) {
			rg_strlcpy(release, res->leaf, sizeof(release));
			l = strlen(release);
			release[l - 12] = '\0';
			ev.release = release;
		}
	}
	if ((rc = audit_append(info->audit, &ev, NULL)) != 0)
		log_warnx("sftp: audit %s for %s failed: %s", type, info->user,
		    rg_strerror(rc));
	return rc;
}

/*
 * Write len bytes as name in folder dfd durably: a hidden temporary, fsync,
 * rename, fsync of the folder. 0, or -1 with errno set.
 */
static int
write_durably(int dfd, const char *name, const void *body, size_t len)
{
	char tmp[SFTP_MAX_NAME + 16];
	ssize_t w;
	int fd, rc = -1;

	/* hidden (names starting with '.' do not exist in any view) */
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	w = write(fd, body, len);
	if (w == (ssize_t)len && fsync(fd) == 0)
		rc = 0;
	close(fd);
	if (rc == 0 && (renameat(dfd, tmp, dfd, name) != 0 || fsync(dfd) != 0))
		rc = -1;
	if (rc != 0)
		(void)unlinkat(dfd, tmp, 0);
	return rc;
}

/* Write a marker file in folder dfd durably. */
static int
write_marker(int dfd, const char *name, const char *body)
{
	return write_durably(dfd, name, body, strlen(body));
}

/* A listed file name: a plain name in the folder, not hidden. */
static int
listed_name_ok(const char *f)
{
	return f[0] != '\0' && f[0] != '.' && strchr(f, '/') == NULL &&
	    strlen(f) <= SFTP_MAX_NAME && strcmp(f, "request.yaml") != 0;
}

/* Names relgate writes beside the extract files (in /requests/NAME or
 * /approvals/ID): an extract cannot take one. */
static int
reserved_name(const char *f)
{
	static const char *const names[] = {
		"status.json", "report.txt", "decision.yaml", "decision.error",
	};
	size_t i;

	for (i = 0; i < RG_ARRAY_LEN(names); i++)
		if (strcmp(f, names[i]) == 0)
			return 1;
	return 0;
}

/*
 * A request.yaml that cannot be taken: audited request.invalid with the
 * reason, which also goes into status.json (state "invalid") and
 * report.txt of the request folder, where OpenSSH's sftp, which shows
 * only "Failure", lets the staff member read it.
 */
void
sftp_request_refused(struct sftp_server *s, const struct vres *res,
    const char *contract, const char *reason)
{
	const struct sftp_session_info *info = s->info;
	struct vres ares = *res;
	char now[40];
	struct buf b;
	int dfd, rc;

	ares.contract = contract;
	(void)sftp_audit(info, "request.invalid", "denied", &ares, -1, NULL,
	    reason);
	if (res->area != VA_REQUESTS || res->depth < 1 ||
	    (dfd = view_openat(res->rootfd, res->name1, O_RDONLY |
	    O_DIRECTORY, 0)) < 0)
		return;
	time_rfc3339_now(now, sizeof(now));
	buf_init(&b, STATUS_MAX);
	rc = buf_printf(&b, "{\"request\": null, \"state\": \"invalid\", "
	    "\"checks\": null, \"release\": null, \"approvals\": [], "
	    "\"updated\": ");
	rc |= json_append_string(&b, now);
	rc |= buf_printf(&b, ", \"submitter\": ");
	rc |= json_append_string(&b, info->user);
	rc |= buf_printf(&b, ", \"note\": ");
	rc |= json_append_string(&b, reason);
	rc |= buf_printf(&b, "}\n");
	if (rc != 0 || write_durably(dfd, "status.json", b.data, b.len) != 0)
		log_warnx("sftp: %s/status.json of %s not written",
		    res->name1, info->user);
	buf_reset(&b);
	rc = buf_printf(&b, "Request:   (not submitted)\nState:     invalid\n"
	    "Note:      %s\nUpdated:   %s\n\n"
	    "request.yaml was refused: %s\n"
	    "Correct it and upload request.yaml again.\n", reason, now,
	    reason);
	if (rc != 0 || write_durably(dfd, "report.txt", b.data, b.len) != 0)
		log_warnx("sftp: %s/report.txt of %s not written",
		    res->name1, info->user);
	buf_free(&b);
	close(dfd);
}

/* Submit /requests/NAME: check, (rename), marker, queue, audit. */
uint32_t
sftp_submit(struct sftp_server *s, const struct vres *res, const char *data,
    size_t len, const char *from_rel, char *msg, size_t msglen)
{
	const struct sftp_session_info *info = s->info;
	struct request_doc *doc = NULL;
	char rel[SFTP_MAX_PATH], body[256], now[40], where[600], detail[320];
	const char *folder = res->name1, *oleaf;
	struct diag d;
	struct stat st;
	uint32_t code = SSH_FX_FAILURE;
	int dfd = -1, ofd = -1, rc, invalid = 1;
	size_t i;

	/* Until the checks below pass, a refusal is request.invalid. */
	diag_clear(&d);
	if ((rc = request_doc_parse(&doc, data, len, "request.yaml", &d)) != 0) {
		diag_format(&d, where, sizeof(where));
		snprintf(msg, msglen, "%s; not submitted", where);
		goto out;
	}
	if (doc->n_files == 0) {
		snprintf(msg, msglen, "request.yaml lists no files; not "
		    "submitted");
		goto out;
	}
	for (i = 0; i < doc->n_files; i++) {
		const char *f = doc->files[i];

		if (f == NULL || !listed_name_ok(f)) {
			snprintf(msg, msglen, "request.yaml: files: '%.200s' "
			    "is not a file name in the request folder; not "
			    "submitted", f ? f : "");
			goto out;
		}
		if (reserved_name(f)) {
			snprintf(msg, msglen, "request.yaml: files: '%.200s' "
			    "is a name relgate writes itself; rename the "
			    "file; not submitted", f);
			goto out;
		}
		snprintf(rel, sizeof(rel), "%s/%s", folder, f);
		if (view_statat(res->rootfd, rel, &st) != 0 ||
		    !S_ISREG(st.st_mode)) {
			snprintf(msg, msglen, "request.yaml: files: '%.200s' is "
			    "not in /requests/%s; upload it first, then "
			    "request.yaml; not submitted", f, folder);
			goto out;
		}
		if (sftp_open_for_write(s, rel)) {
			snprintf(msg, msglen, "request.yaml: files: '%.200s' "
			    "is still being uploaded; not submitted", f);
			goto out;
		}
	}
	invalid = 0;
	if ((dfd = view_openat(res->rootfd, folder, O_RDONLY | O_DIRECTORY,
	    0)) < 0) {
		code = sftp_errno_status(errno, 1, msg, msglen);
		goto out;
	}
	if (from_rel != NULL) {
		if ((ofd = view_open_parent(res->rootfd, from_rel, &oleaf)) < 0 ||
		    renameat(ofd, oleaf, dfd, "request.yaml") != 0 ||
		    fsync(dfd) != 0 || (ofd != dfd && fsync(ofd) != 0)) {
			code = sftp_errno_status(errno, 1, msg, msglen);
			goto out;
		}
	}
	/* An earlier refusal's status.json and report.txt go; the worker
	 * writes the request's own. */
	(void)unlinkat(dfd, "status.json", 0);
	(void)unlinkat(dfd, "report.txt", 0);
	time_rfc3339_now(now, sizeof(now));
	snprintf(body, sizeof(body), "submitted %s by %s\n", now, info->user);
	if (write_marker(dfd, MARK_SUBMITTED, body) != 0) {
		code = sftp_errno_status(errno, 1, msg, msglen);
		goto out;
	}
	if ((rc = queue_submit(info->state_dir, info->user, folder, &d)) != 0) {
		/* Not queued: the folder stays writable. */
		(void)unlinkat(dfd, MARK_SUBMITTED, 0);
		(void)fsync(dfd);
		snprintf(msg, msglen, "Failure: the request could not be "
		    "queued (%s); not submitted", d.msg);
		goto out;
	}
	snprintf(detail, sizeof(detail), "folder %s, %zu file%s", folder,
	    doc->n_files, doc->n_files == 1 ? "" : "s");
	{
		struct vres ares = *res;

		ares.contract = doc->contract;
		if (sftp_audit(info, "request.submitted", "ok", &ares, -1,
		    NULL, detail) != 0) {
			snprintf(msg, msglen, "Failure: the audit log is "
			    "unavailable");
			goto out;
		}
	}
	snprintf(msg, msglen, "Submitted: /requests/%s is now read-only; see "
	    "status.json there", folder);
	code = SSH_FX_OK;
out:
	if (ofd >= 0)
		close(ofd);
	if (dfd >= 0)
		close(dfd);
	if (invalid)
		sftp_request_refused(s, res, doc != NULL ? doc->contract : NULL,
		    msg);
	request_doc_free(doc);
	return code;
}

/* Withdraw a submitted request (REMOVE of its request.yaml). */
uint32_t
sftp_withdraw(struct sftp_server *s, const struct vres *res, char *msg,
    size_t msglen)
{
	static const char *const final[] = {
		"approved", "published", "rejected", "expired", "withdrawn",
	};
	const struct sftp_session_info *info = s->info;
	char rel[SFTP_MAX_PATH], state[64], body[256], now[40], *st;
	const char *folder = res->name1;
	struct diag d;
	ssize_t n;
	size_t i;
	int dfd;

	snprintf(rel, sizeof(rel), "%s/status.json", folder);
	if ((st = malloc(STATUS_MAX)) == NULL) {
		snprintf(msg, msglen, "Out of memory");
		return SSH_FX_FAILURE;
	}
	n = view_read_small(res->rootfd, rel, st, STATUS_MAX);
	if (n > 0 && view_json_string(st, (size_t)n, "state", state,
	    sizeof(state)) == 0) {
		for (i = 0; i < RG_ARRAY_LEN(final); i++)
			if (strcmp(state, final[i]) == 0) {
				free(st);
				snprintf(msg, msglen, "Permission denied: the "
				    "request is %s; it can no longer be "
				    "withdrawn", state);
				return SSH_FX_PERMISSION_DENIED;
			}
	}
	free(st);
	if ((dfd = view_openat(res->rootfd, folder, O_RDONLY | O_DIRECTORY,
	    0)) < 0)
		return sftp_errno_status(errno, 1, msg, msglen);
	time_rfc3339_now(now, sizeof(now));
	snprintf(body, sizeof(body), "withdrawn %s by %s\n", now, info->user);
	diag_clear(&d);
	if (write_marker(dfd, MARK_WITHDRAWN, body) != 0) {
		close(dfd);
		return sftp_errno_status(errno, 1, msg, msglen);
	}
	if (queue_withdraw(info->state_dir, info->user, folder, &d) != 0) {
		(void)unlinkat(dfd, MARK_WITHDRAWN, 0);
		(void)fsync(dfd);
		close(dfd);
		snprintf(msg, msglen, "Failure: the withdrawal could not be "
		    "queued (%s)", d.msg);
		return SSH_FX_FAILURE;
	}
	close(dfd);
	if (sftp_audit(info, "request.withdrawn", "ok", res, -1, NULL,
	    folder) != 0) {
		snprintf(msg, msglen, "Failure: the audit log is unavailable");
		return SSH_FX_FAILURE;
	}
	snprintf(msg, msglen, "Withdrawn");
	return SSH_FX_OK;
}

/*
 * Whether request id (its record beneath rootfd) awaits decisions, as its
 * status.json says; otherwise 0 and the reason in msg. The worker judges
 * again when it takes the decision (worker_decision()).
 */
static int
decision_awaited(int rootfd, const char *id, char *msg, size_t msglen)
{
	char rel[SFTP_MAX_NAME + 16], state[64], *st;
	ssize_t n;

	snprintf(rel, sizeof(rel), "%s/status.json", id);
	if ((st = malloc(STATUS_MAX)) == NULL) {
		snprintf(msg, msglen, "Out of memory");
		return 0;
	}
	n = view_read_small(rootfd, rel, st, STATUS_MAX);
	if (n <= 0 || view_json_string(st, (size_t)n, "state", state,
	    sizeof(state)) != 0)
		rg_strlcpy(state, "submitted", sizeof(state));
	free(st);
	if (strcmp(state, "awaiting_approval") == 0)
		return 1;
	if (strcmp(state, "submitted") == 0 || strcmp(state, "checking") == 0)
		snprintf(msg, msglen, "the request is still being checked "
		    "(%s); upload decision.yaml again once its status.json "
		    "says awaiting_approval; decision not recorded", state);
	else
		snprintf(msg, msglen, "the request is already %s and no "
		    "longer awaits a decision; decision not recorded", state);
	return 0;
}

/*
 * A decision.yaml that cannot be taken: the reason goes to this approver's
 * decisions/USER.error in the request record (dfd: its decisions/ folder),
 * shown to them alone as /approvals/ID/decision.error, and is audited
 * approval.invalid.
 */
static void
decision_refused(struct sftp_server *s, const struct vres *res, int dfd,
    const char *reason)
{
	const struct sftp_session_info *info = s->info;
	char name[SFTP_MAX_NAME + 8], now[40];
	struct buf b;

	(void)sftp_audit(info, "approval.invalid", "denied", res, -1, NULL,
	    reason);
	snprintf(name, sizeof(name), "%s.error", info->user);
	time_rfc3339_now(now, sizeof(now));
	buf_init(&b, 4096);
	if (buf_printf(&b, "decision.yaml was not taken (%s):\n%s\n", now,
	    reason) != 0 || write_durably(dfd, name, b.data, b.len) != 0)
		log_warnx("sftp: decision.error of %s on %s not written",
		    info->user, res->name1);
	buf_free(&b);
}

/* An approver's decision.yaml was uploaded (h->fd is the .new file). */
uint32_t
sftp_decision(struct sftp_server *s, struct handle *h, char *msg,
    size_t msglen)
{
	const struct sftp_session_info *info = s->info;
	struct decision_doc *doc = NULL;
	char newname[SFTP_MAX_NAME + 8], where[600], detail[64], hex[65];
	char errname[SFTP_MAX_NAME + 8];
	char *data;
	const char *leaf;
	struct diag d;
	ssize_t n;
	uint32_t code = SSH_FX_FAILURE;
	int dfd;

	if ((dfd = view_open_parent(h->res->rootfd, h->res->rel, &leaf)) < 0)
		return sftp_errno_status(errno, 1, msg, msglen);
	snprintf(newname, sizeof(newname), "%s.new", leaf);
	snprintf(errname, sizeof(errname), "%s.error", info->user);
	if ((data = malloc(REQUEST_YAML_MAX + 1)) == NULL) {
		snprintf(msg, msglen, "Out of memory");
		goto fail;
	}
	if ((n = sftp_read_back(h->fd, data, REQUEST_YAML_MAX + 1)) < 0) {
		code = sftp_errno_status(errno, 1, msg, msglen);
		goto fail;
	}
	if (n > REQUEST_YAML_MAX) {
		snprintf(msg, msglen, "decision.yaml is larger than %d bytes; "
		    "decision not recorded", REQUEST_YAML_MAX);
		goto refused;
	}
	diag_clear(&d);
	if (decision_doc_parse(&doc, data, (size_t)n, "decision.yaml",
	    &d) != 0) {
		diag_format(&d, where, sizeof(where));
		snprintf(msg, msglen, "%s; decision not recorded", where);
		goto refused;
	}
	if (!decision_awaited(h->res->rootfd, h->res->name1, msg, msglen))
		goto refused;
	/* A decision taken clears an earlier refusal. */
	if (unlinkat(dfd, errname, 0) == 0)
		(void)fsync(dfd);
	if (renameat(dfd, newname, dfd, leaf) != 0 || fsync(dfd) != 0) {
		code = sftp_errno_status(errno, 1, msg, msglen);
		goto fail;
	}
	snprintf(detail, sizeof(detail), "decision %s",
	    doc->decision == DECISION_APPROVE ? "approve" : "reject");
	if (queue_decision(info->state_dir, h->res->name1, info->user,
	    &d) != 0) {
		snprintf(msg, msglen, "Failure: the decision could not be "
		    "queued (%s)", d.msg);
		goto out;
	}
	if (sftp_audit(info, "file.upload", "ok", h->res, n,
	    sftp_sha256_hex(data, (size_t)n, hex) == 0 ? hex : NULL,
	    detail) != 0) {
		snprintf(msg, msglen, "Failure: the audit log is unavailable");
		goto out;
	}
	snprintf(msg, msglen, "Decision recorded: %s", detail + 9);
	code = SSH_FX_OK;
	goto out;
refused:
	decision_refused(s, h->res, dfd, msg);
fail:
	(void)unlinkat(dfd, newname, 0);
out:
	decision_doc_free(doc);
	free(data);
	close(dfd);
	return code;
}
