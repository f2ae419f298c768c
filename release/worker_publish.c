/*
 * After the checks: approvers' decisions (1 or 2 distinct approvers named on
 * the contract, never the submitter), rejection, withdrawal, and for an
 * approved request the package: manifest.json and SHA256SUMS as the head
 * frame in front of the staged tar+zstd, signed and encrypted by gpg (run
 * directly, keys/pgp_encrypt.c) to the contract's recipients into
 * releases/CONTRACT/.tmp.*, fsynced, then made visible by rename with its
 * .sha256 sidecar. Then retention: a
 * release is expired and purged after download_days or max_downloads
 * complete downloads.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "release/release.h"
#include "release/internal.h"
#include "keys/keys.h"

#define DECISION_MAX	(16 * 1024)
#define INFO_MAX	(4u << 20)
#define APPROVERS_MAX	16

static long
today_days(void)
{
	char day[16];
	long d = 0;

	date_today(day, sizeof(day));
	(void)date_parse(day, &d);
	return d;
}

static int
contract_is_approver(const struct contract *c, const char *user)
{
	size_t i;

	for (i = 0; i < c->n_approvers; i++)
		if (strcmp(c->approvers[i], user) == 0)
			return 1;
	return 0;
}

/* Remove the staged package and working files of a request. */
static void
cleanup_stage(struct worker *w, const char *id)
{
	static const char *const names[] = { "stage.tar.zst",
	    "stage.tar.zst.tmp", "tokens.fp", "history.next",
	    "history.next.tmp", "history.base" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < RG_ARRAY_LEN(names); i++)
		if (worker_path(path, sizeof(path), "%s/requests/%s/%s",
		    w->state_dir, id, names[i]) == 0)
			(void)unlink(path);
	/* the files' traces, trace.0 on (the history holds the release) */
	for (i = 0; worker_path(path, sizeof(path), "%s/requests/%s/trace.%zu",
	    w->state_dir, id, i) == 0 && unlink(path) == 0; i++)
		;
}

/* The request leaves the approval path (rejected or withdrawn). */
static void
void_release(struct worker *w, struct request_rec *r)
{
	if (r->release[0])
		(void)state_db_release_set_state(w->db, r->release, "void");
	cleanup_stage(w, r->id);
}

/* Withdrawal: request.yaml removed before approval. */
int
worker_withdraw(struct worker *w, const char *user, const char *folder)
{
	struct audit_event ev;
	struct request_rec r;
	int rc;

	if ((rc = state_db_request_by_folder(w->db, user, folder, &r)) != 0)
		return rc == RG_ENOENT ? RG_OK : rc;
	audit_event_init(&ev, "request.withdrawn", "ok");
	ev.user = user;
	ev.role = "staff";
	ev.contract = r.contract[0] ? r.contract : NULL;
	ev.request = r.id;
	if (strcmp(r.state, RQ_SUBMITTED) != 0 &&
	    strcmp(r.state, RQ_CHECKING) != 0 &&
	    strcmp(r.state, RQ_AWAITING) != 0) {
		char why[96];

		if (strcmp(r.state, RQ_WITHDRAWN) == 0)
			return RG_OK;	/* a repeated entry */
		/* Too late (approved meanwhile): the refusal is recorded. */
		snprintf(why, sizeof(why), "not withdrawn: the request is %s",
		    r.state);
		ev.outcome = "denied";
		ev.detail = why;
		log_info("%s: withdrawal ignored in state %s", r.id, r.state);
		return worker_audit(w, &ev);
	}
	/* The session recorded the withdrawal itself (request.withdrawn);
	 * here only the state changes. */
	void_release(w, &r);
	return worker_set_state(w, &r, RQ_WITHDRAWN, "withdrawn by the "
	    "submitter");
}

/* An approver's decision, stored as requests/ID/decisions/USER.yaml. */
int
worker_decision(struct worker *w, const char *request_id, const char *user)
{
	char path[PATH_MAX], detail[600];
	struct decision_doc *dd = NULL;
	const struct contract *c;
	const struct user *u;
	struct audit_event ev;
	struct request_rec r;
	struct diag d;
	char *text = NULL;
	size_t len, n = 0, i;
	char names[APPROVERS_MAX][RG_NAME_MAX];
	int rc;

	diag_clear(&d);
	if (!queue_field_ok(request_id) || !queue_field_ok(user))
		return RG_EINVAL;
	if ((rc = state_db_request_get(w->db, request_id, &r)) != RG_OK) {
		log_warnx("decision on unknown request %s", request_id);
		return rc == RG_ENOENT ? RG_OK : rc;
	}
	if (worker_path(path, sizeof(path), "%s/requests/%s/decisions/%s.yaml",
	    w->state_dir, r.id, user) != 0)
		return RG_EINVAL;
	rc = file_read_small(&text, &len, path, DECISION_MAX, &d);
	if (rc == RG_OK)
		rc = decision_doc_parse(&dd, text, len, "decision.yaml", &d);
	free(text);
	if (rc != RG_OK) {
		log_warnx("%s: decision of %s unreadable: %s", r.id, user,
		    d.msg);
		if (rc == RG_ENOENT)
			return RG_OK;
		diag_format(&d, detail, sizeof(detail));
		strncat(detail, "; decision not taken", sizeof(detail) -
		    strlen(detail) - 1);
		return worker_decision_refused(w, &r, user, detail);
	}
	audit_event_init(&ev, "approval.granted", "ok");
	ev.user = user;
	ev.role = "approver";
	ev.contract = r.contract;
	ev.request = r.id;
	c = config_dir_contract(w->cd, r.contract);
	u = config_dir_user(w->cd, user);
	if (strcmp(user, r.submitter) == 0) {
		/* Four eyes: never one's own request. */
		ev.type = "approval.self_refused";
		ev.outcome = "denied";
		ev.detail = "the submitter cannot decide on their own request";
		rc = worker_audit(w, &ev);
		goto out;
	}
	if (c == NULL || u == NULL || !(u->roles & ROLE_APPROVER) ||
	    !contract_is_approver(c, user)) {
		ev.type = "access.denied";
		ev.outcome = "denied";
		ev.detail = "not an approver of this contract";
		rc = worker_audit(w, &ev);
		goto out;
	}
	if (strcmp(r.state, RQ_AWAITING) != 0) {
		/* Already taken (a queue entry repeated after a crash): the
		 * approval counted, or the rejection that ended it. */
		(void)state_db_approvals(w->db, r.id, names, APPROVERS_MAX,
		    &n);
		for (i = 0; i < n && strcmp(names[i], user) != 0; i++)
			;
		snprintf(detail, sizeof(detail), "rejected by %s:", user);
		if ((dd->decision == DECISION_APPROVE && i < n) ||
		    (dd->decision == DECISION_REJECT &&
		    strcmp(r.state, RQ_REJECTED) == 0 &&
		    strncmp(r.note, detail, strlen(detail)) == 0)) {
			rc = RG_OK;
			goto out;
		}
		/* The session refuses at CLOSE what status.json already
		 * shows; this is what changed since. */
		snprintf(detail, sizeof(detail), strcmp(r.state,
		    RQ_CHECKING) == 0 || strcmp(r.state, RQ_SUBMITTED) == 0 ?
		    "the request is still being checked (%s); upload "
		    "decision.yaml again once it awaits approval; decision "
		    "not taken" : "the request is already %s and no longer "
		    "awaits a decision; decision not taken", r.state);
		rc = worker_decision_refused(w, &r, user, detail);
		goto out;
	}
	if (dd->decision == DECISION_REJECT) {
		snprintf(detail, sizeof(detail), "rejected by %s: %s", user,
		    dd->reason ? dd->reason : "");
		ev.type = "request.rejected";
		ev.detail = dd->reason ? dd->reason : "";
		if ((rc = worker_audit(w, &ev)) != RG_OK)
			goto out;
		void_release(w, &r);
		rc = worker_set_state(w, &r, RQ_REJECTED, detail);
		goto out;
	}
	/* Audited first, then stored; the same approver counts once. A
	 * repeated entry (a crash after storing) goes on to the count. */
	(void)state_db_approvals(w->db, r.id, names, APPROVERS_MAX, &n);
	for (i = 0; i < n && strcmp(names[i], user) != 0; i++)
		;
	if (i == n) {
		ev.detail = dd->reason;
		if ((rc = worker_audit(w, &ev)) != RG_OK)
			goto out;
		rc = state_db_approval_add(w->db, r.id, user, dd->reason);
		if (rc != RG_OK && rc != RG_EEXIST)
			goto out;
	}
	(void)state_db_approvals(w->db, r.id, names, APPROVERS_MAX, &n);
	if ((int)n < (c->approvals_required > 0 ? c->approvals_required : 1)) {
		rc = worker_status_write(w, &r);
		goto out;
	}
	audit_event_init(&ev, "request.approved", "ok");
	ev.user = user;
	ev.role = "approver";
	ev.contract = r.contract;
	ev.request = r.id;
	ev.release = r.release;
	if ((rc = worker_audit(w, &ev)) != RG_OK)
		goto out;
	if ((rc = worker_set_state(w, &r, RQ_APPROVED, "")) != RG_OK)
		goto out;
	rc = worker_publish(w, r.id);
out:
	decision_doc_free(dd);
	return rc;
}

/* ---- publishing ------------------------------------------------------- */

/* The request can no longer be released (totals or linkability changed
 * since its checks): it ends failed with the rule named. */
static int
fail_late(struct worker *w, struct request_rec *r, const char *rule,
    const char *why)
{
	struct audit_event ev;
	char note[512];
	int rc;

	snprintf(note, sizeof(note), "failed rules: %s (%s)", rule, why);
	audit_event_init(&ev, "check.failed", "failed");
	ev.user = r->submitter;
	ev.role = "staff";
	ev.contract = r->contract;
	ev.request = r->id;
	ev.detail = note;
	if ((rc = worker_audit(w, &ev)) != RG_OK)
		return rc;
	void_release(w, r);
	r->release[0] = '\0';
	return worker_set_state(w, r, RQ_FAILED, note);
}

/* Re-judge the contract totals and linkability at approval, then move
 * the release from `reserved` to `approved` and register its tokens. */
static int
confirm_release(struct worker *w, struct request_rec *r,
    const struct contract *c, int *ok)
{
	const struct dataset *ds = contract_dataset(c, r->dataset);
	char fp[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX];
	char (*paths)[1024] = NULL;
	struct stat st;
	struct release_rec rel;
	struct fpset set = { NULL, 0, 0 };
	int64_t rows = 0, releases = 0, overlap = 0;
	size_t n = 0, i;
	struct diag d;
	char why[128];
	int rc;

	*ok = 0;
	diag_clear(&d);
	if ((rc = state_db_release_get(w->db, r->release, &rel)) != RG_OK)
		return rc;
	if (strcmp(rel.state, "reserved") != 0) {
		*ok = 1;	/* confirmed before a crash */
		return RG_OK;
	}
	if (ds == NULL)
		return fail_late(w, r, "columns.allowed", "dataset gone");
	if ((rc = state_db_contract_totals(w->db, c->id, ds->name, &rows,
	    &releases)) != RG_OK)
		return rc;
	if (ds->max_rows_total >= 0 && rows + r->rows > ds->max_rows_total) {
		snprintf(why, sizeof(why), "%lld rows released already",
		    (long long)rows);
		return fail_late(w, r, "rows.total", why);
	}
	if (ds->max_releases >= 0 && releases + 1 > ds->max_releases) {
		snprintf(why, sizeof(why), "%lld releases already",
		    (long long)releases);
		return fail_late(w, r, "rows.total", why);
	}
	if (worker_path(fp, sizeof(fp), "%s/requests/%s/tokens.fp",
	    w->state_dir, r->id) != 0 ||
	    worker_path(dst, sizeof(dst), "%s/tokens/%s/%s.fp", w->state_dir,
	    c->id, r->release) != 0)
		return RG_EINVAL;
	if ((rc = state_db_tokens_others(w->db, c->id, &paths, &n)) != RG_OK)
		goto out;
	/* The fingerprints are read back only when there is something to
	 * compare them with. */
	if (n > 0 && (rc = fpset_read(&set, fp, &d)) != RG_OK)
		goto out;
	for (i = 0; i < n && set.n > 0; i++) {
		int64_t k = 0;

		if ((rc = fpset_overlap_file(&set, paths[i], &k, &d)) != 0)
			goto out;
		overlap += k;
	}
	if (overlap > 0) {
		snprintf(why, sizeof(why), "%lld tokens released under another"
		    " contract since the checks", (long long)overlap);
		rc = fail_late(w, r, "masking.linkable", why);
		goto out;
	}
	/* disclosure.cumulative / differencing with the history as it is
	 * now; the merged history waits in requests/ID for publication */
	{
		char rule[40], hwhy[256];
		int hok = 0;

		if ((rc = worker_history_confirm(w, r, c, ds, &hok, rule,
		    sizeof(rule), hwhy, sizeof(hwhy))) != RG_OK)
			goto out;
		if (!hok) {
			rc = fail_late(w, r, rule, hwhy);
			goto out;
		}
	}
	/* The request's sorted file becomes the release's, by rename (a
	 * crash after it finds the file in place). */
	if ((rc = worker_path(dir, sizeof(dir), "%s/tokens/%s", w->state_dir,
	    c->id)) != RG_OK || (rc = worker_mkdir(dir, 0700)) != RG_OK)
		goto out;
	if (rename(fp, dst) != 0 && (errno != ENOENT || lstat(dst, &st) != 0)) {
		rc = diag_set(&d, RG_EIO, dst, 0, 0, "rename: %s",
		    strerror(errno));
		goto out;
	}
	if (dir_fsync(dir) != 0 || lstat(dst, &st) != 0) {
		rc = diag_set(&d, RG_EIO, dir, 0, 0, "fsync: %s",
		    strerror(errno));
		goto out;
	}
	if ((rc = state_db_begin(w->db)) != RG_OK)
		goto out;
	if ((rc = state_db_tokens_add(w->db, c->id, r->release, dst,
	    (int64_t)st.st_size / 8)) != RG_OK ||
	    (rc = state_db_release_set_state(w->db, r->release, "approved")) !=
	    RG_OK) {
		state_db_rollback(w->db);
		goto out;
	}
	if ((rc = state_db_commit(w->db)) != RG_OK)
		goto out;
	*ok = 1;
out:
	if (rc != RG_OK && d.msg[0])
		log_warnx("%s: %s", r->id, d.msg);
	free(paths);
	fpset_free(&set);
	return rc;
}

/* manifest.json and SHA256SUMS from requests/ID/package.txt. */
static int
make_head_files(struct worker *w, const struct request_rec *r,
    const struct contract *c, long expires_day, struct buf *man,
    struct buf *sums)
{
	char path[PATH_MAX], names[APPROVERS_MAX][RG_NAME_MAX], now[40];
	char day[16], *info = NULL, *line, *save = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[65];
	size_t len, n = 0, i, nfiles = 0, nrules = 0;
	int rc = 0;

	if (worker_path(path, sizeof(path), "%s/requests/%s/package.txt",
	    w->state_dir, r->id) != 0)
		return RG_EINVAL;
	if ((rc = file_read_small(&info, &len, path, INFO_MAX, NULL)) != 0)
		return rc;
	(void)state_db_approvals(w->db, r->id, names, APPROVERS_MAX, &n);
	time_rfc3339_now(now, sizeof(now));
	rc |= buf_printf(man, "{\n  \"release\": ");
	rc |= json_append_string(man, r->release);
	rc |= buf_printf(man, ",\n  \"contract\": ");
	rc |= json_append_string(man, c->id);
	rc |= buf_printf(man, ",\n  \"contract_version\": %ld", c->version);
	rc |= buf_printf(man, ",\n  \"dataset\": ");
	rc |= json_append_string(man, r->dataset);
	rc |= buf_printf(man, ",\n  \"request\": ");
	rc |= json_append_string(man, r->id);
	rc |= buf_printf(man, ",\n  \"submitter\": ");
	rc |= json_append_string(man, r->submitter);
	rc |= buf_printf(man, ",\n  \"approvers\": [");
	for (i = 0; i < n; i++) {
		rc |= buf_printf(man, "%s", i ? ", " : "");
		rc |= json_append_string(man, names[i]);
	}
	rc |= buf_printf(man, "],\n  \"submitted\": ");
	rc |= json_append_string(man, r->submitted);
	rc |= buf_printf(man, ",\n  \"approved\": ");
	rc |= json_append_string(man, r->updated);
	rc |= buf_printf(man, ",\n  \"packaged\": ");
	rc |= json_append_string(man, now);
	rc |= buf_printf(man, ",\n  \"expires\": ");
	if (expires_day >= 0) {
		date_format(expires_day, day, sizeof(day));
		rc |= json_append_string(man, day);
	} else
		rc |= buf_printf(man, "null");
	rc |= buf_printf(man, ",\n  \"max_downloads\": %ld",
	    c->max_downloads);
	rc |= buf_printf(man, ",\n  \"files\": [");
	for (line = strtok_r(info, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[6], *s = line;
		size_t k;

		for (k = 0; k < 6; k++) {
			f[k] = s;
			s = s ? strchr(s, '\t') : NULL;
			if (s)
				*s++ = '\0';
		}
		if (strcmp(f[0], "file") == 0 && f[5] != NULL) {
			char nm[RG_NAME_MAX + 8];

			snprintf(nm, sizeof(nm), "data/%s", f[1]);
			rc |= buf_printf(man, "%s\n    {\"name\": ",
			    nfiles++ ? "," : "");
			rc |= json_append_string(man, nm);
			rc |= buf_printf(man, ", \"bytes\": %s, \"rows\": %s,"
			    " \"sha256\": \"%s\", \"columns\": [", f[2], f[3],
			    f[4]);
			/* The header of a file that passed columns.allowed:
			 * plain names separated by commas. */
			{
				char *col, *csave = NULL;
				int first = 1;

				for (col = strtok_r(f[5], ",", &csave);
				    col != NULL; col = strtok_r(NULL, ",",
				    &csave)) {
					rc |= buf_printf(man, "%s", first ?
					    "" : ", ");
					rc |= json_append_string(man, col);
					first = 0;
				}
			}
			rc |= buf_printf(man, "]}");
			rc |= buf_printf(sums, "%s  data/%s\n", f[4], f[1]);
		}
	}
	rc |= buf_printf(man, "\n  ],\n  \"rules_passed\": [");
	/* second walk for the rules (strtok consumed the buffer) */
	free(info);
	info = NULL;
	if (file_read_small(&info, &len, path, INFO_MAX, NULL) != 0)
		return RG_EIO;
	nrules = 0;
	save = NULL;
	for (line = strtok_r(info, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "rule\t", 5) == 0) {
			rc |= buf_printf(man, "%s", nrules++ ? ", " : "");
			rc |= json_append_string(man, line + 5);
		}
	rc |= buf_printf(man, "]\n}\n");
	free(info);
	if (rc != 0)
		return RG_ETOOBIG;
	/* SHA256SUMS covers the manifest too. */
	if (EVP_Digest(man->data, man->len, md, &mdlen, EVP_sha256(), NULL) !=
	    1)
		return RG_ECRYPTO;
	hex_encode(hex, md, mdlen);
	{
		struct buf all;

		buf_init(&all, sums->cap);
		rc = buf_printf(&all, "%s  manifest.json\n", hex);
		rc |= buf_append(&all, sums->data, sums->len);
		buf_reset(sums);
		rc |= buf_append(sums, all.data, all.len);
		buf_free(&all);
	}
	return rc ? RG_ETOOBIG : RG_OK;
}

/* Ciphertext sink: the temporary file, hashed on the way. */
struct cipher_dst {
	int	fd;
	EVP_MD_CTX *sha;
	uint64_t bytes;
	uint64_t kicked;
};

static long
cipher_write(void *arg, const void *buf, size_t len)
{
	struct cipher_dst *c = arg;
	const unsigned char *p = buf;
	size_t left = len;

	EVP_DigestUpdate(c->sha, buf, len);
	while (left > 0) {
		ssize_t n = write(c->fd, p, left);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		left -= (size_t)n;
	}
	c->bytes += len;
	worker_writeback(c->fd, c->bytes, &c->kicked);
	return (long)len;
}

/* Mark a release published and show it. */
static int
mark_published(struct worker *w, struct request_rec *r,
    const struct contract *c)
{
	char now[40];
	long exp = -1;
	int rc;

	time_rfc3339_now(now, sizeof(now));
	if (c->download_days > 0)
		exp = today_days() + c->download_days;
	if ((rc = worker_history_publish(w, r, c, exp, now)) != RG_OK)
		return rc;
	cleanup_stage(w, r->id);
	return worker_set_state(w, r, RQ_PUBLISHED, "");
}

/* Package, sign, encrypt and publish an approved request. */
int
worker_publish(struct worker *w, const char *request_id)
{
	char dir[PATH_MAX], stage[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX];
	char stmp[PATH_MAX], sfinal[PATH_MAX], pgp_dir[PATH_MAX];
	char hex[65], side[512], detail[1024];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const struct contract *c;
	struct package_file pf[2];
	int src_fd = -1;
	struct cipher_dst dst = { -1, NULL, 0, 0 };
	struct buf man, sums, head;
	struct audit_event ev;
	struct request_rec r;
	struct stat st;
	struct diag d;
	long exp = -1;
	size_t i, o;
	int rc, ok;

	diag_clear(&d);
	if ((rc = state_db_request_get(w->db, request_id, &r)) != RG_OK)
		return rc;
	if (strcmp(r.state, RQ_APPROVED) != 0)
		return RG_OK;
	if ((c = config_dir_contract(w->cd, r.contract)) == NULL) {
		log_warnx("%s: contract %s not loaded; publishing waits",
		    r.id, r.contract);
		return RG_ENOENT;
	}
	if (worker_path(dir, sizeof(dir), "%s/releases/%s", w->state_dir,
	    c->id) || worker_path(stage, sizeof(stage),
	    "%s/requests/%s/stage.tar.zst", w->state_dir, r.id) ||
	    worker_path(tmp, sizeof(tmp), "%s/.tmp.%s.tar.zst.gpg", dir,
	    r.release) || worker_path(final, sizeof(final), "%s/%s.tar.zst.gpg",
	    dir, r.release) || worker_path(stmp, sizeof(stmp),
	    "%s/.tmp.%s.tar.zst.gpg.sha256", dir, r.release) ||
	    worker_path(sfinal, sizeof(sfinal), "%s/%s.tar.zst.gpg.sha256",
	    dir, r.release) || worker_path(pgp_dir, sizeof(pgp_dir),
	    "%s/keys/pgp", w->config_dir))
		return RG_EINVAL;
	/* A crash after the rename: the package is whole and visible. */
	if (lstat(final, &st) == 0 && lstat(sfinal, &st) == 0)
		return mark_published(w, &r, c);
	(void)unlink(sfinal);
	if ((rc = confirm_release(w, &r, c, &ok)) != RG_OK || !ok)
		return rc;
	if (worker_mkdir(dir, WORKER_SHARED_DIR) != 0)
		return RG_EIO;
	if (c->download_days > 0)
		exp = today_days() + c->download_days;

	buf_init(&man, INFO_MAX);
	buf_init(&sums, INFO_MAX);
	buf_init(&head, PACKAGE_HEAD_MAX);
	if ((rc = make_head_files(w, &r, c, exp, &man, &sums)) != RG_OK)
		goto out;
	{
		static char nm[2][RG_ID_MAX + 32];

		snprintf(nm[0], sizeof(nm[0]), "%s/manifest.json", r.release);
		snprintf(nm[1], sizeof(nm[1]), "%s/SHA256SUMS", r.release);
		pf[0].name = nm[0];
		pf[0].data = man.data;
		pf[0].len = man.len;
		pf[1].name = nm[1];
		pf[1].data = sums.data;
		pf[1].len = sums.len;
	}
	if ((rc = package_head(&head, pf, 2, time(NULL), &d)) != RG_OK)
		goto out;
	if ((src_fd = open(stage, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		rc = diag_set(&d, RG_ENOENT, stage, 0, 0, "%s",
		    strerror(errno));
		goto out;
	}
	if ((dst.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, WORKER_SHARED_FILE)) == -1) {
		rc = diag_set(&d, RG_EIO, tmp, 0, 0, "%s", strerror(errno));
		goto out;
	}
	if ((dst.sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(dst.sha, EVP_sha256(), NULL) != 1) {
		rc = RG_ENOMEM;
		goto out;
	}
	/* The head frame from memory, then the staged file (spliced). */
	if ((rc = pgp_encrypt_sign_fd(w->state_dir, pgp_dir, c->recipients,
	    c->n_recipients, head.data, head.len, src_fd, cipher_write, &dst,
	    &d)) != RG_OK)
		goto out;
	if (fsync(dst.fd) != 0) {
		rc = diag_set(&d, RG_EIO, tmp, 0, 0, "fsync: %s",
		    strerror(errno));
		goto out;
	}
	close(dst.fd);
	dst.fd = -1;
	EVP_DigestFinal_ex(dst.sha, md, &mdlen);
	hex_encode(hex, md, mdlen);
	snprintf(side, sizeof(side), "%s  %s.tar.zst.gpg\n", hex, r.release);
	if ((rc = file_write_atomic(stmp, side, strlen(side),
	    WORKER_SHARED_FILE, &d)) != RG_OK)
		goto out;

	o = (size_t)snprintf(detail, sizeof(detail), "recipients:");
	for (i = 0; i < c->n_recipients && o < sizeof(detail) - 45; i++)
		o += (size_t)snprintf(detail + o, sizeof(detail) - o, " %s",
		    c->recipients[i]);
	audit_event_init(&ev, "release.published", "ok");
	ev.user = r.submitter;
	ev.contract = c->id;
	ev.request = r.id;
	ev.release = r.release;
	ev.path = final + strlen(w->state_dir);
	ev.bytes = (int64_t)dst.bytes;
	ev.sha256 = hex;
	ev.rows = r.rows;
	ev.detail = detail;
	if ((rc = worker_audit(w, &ev)) != RG_OK)
		goto out;
	/* Sidecar first, package last: the package's name appearing is the
	 * moment of publication. */
	if (rename(stmp, sfinal) != 0 || rename(tmp, final) != 0 ||
	    dir_fsync(dir) != 0) {
		rc = diag_set(&d, RG_EIO, final, 0, 0, "publish: %s",
		    strerror(errno));
		goto out;
	}
	log_info("%s: published %s (%llu bytes)", r.id, r.release,
	    (unsigned long long)dst.bytes);
	rc = mark_published(w, &r, c);
out:
	if (rc != RG_OK) {
		log_warnx("%s: publishing %s failed: %s", r.id, r.release,
		    d.msg[0] ? d.msg : rg_strerror(rc));
		(void)unlink(tmp);
		(void)unlink(stmp);
	}
	if (src_fd != -1)
		close(src_fd);
	if (dst.fd != -1)
		close(dst.fd);
	EVP_MD_CTX_free(dst.sha);
	buf_free(&man);
	buf_free(&sums);
	buf_free(&head);
	return rc;
}

/* ---- retention ------------------------------------------------------- */

/* Expire and purge one published release. */
static int
expire_release(struct worker *w, const char *release, const char *why)
{
	char final[PATH_MAX], side[PATH_MAX], dir[PATH_MAX];
	struct release_rec rel;
	struct request_rec r;
	struct audit_event ev;
	int rc;

	if ((rc = state_db_release_get(w->db, release, &rel)) != RG_OK)
		return rc;
	if (strcmp(rel.state, "published") != 0)
		return RG_OK;
	if (worker_path(dir, sizeof(dir), "%s/releases/%s", w->state_dir,
	    rel.contract) || worker_path(final, sizeof(final),
	    "%s/%s.tar.zst.gpg", dir, rel.id) || worker_path(side,
	    sizeof(side), "%s/%s.tar.zst.gpg.sha256", dir, rel.id))
		return RG_EINVAL;
	audit_event_init(&ev, "release.expired", "ok");
	ev.contract = rel.contract;
	ev.request = rel.request;
	ev.release = rel.id;
	ev.detail = why;
	if ((rc = worker_audit(w, &ev)) != RG_OK)
		return rc;
	if ((unlink(final) != 0 && errno != ENOENT) ||
	    (unlink(side) != 0 && errno != ENOENT) || dir_fsync(dir) != 0) {
		log_warn("%s: purge", rel.id);
		return RG_EIO;
	}
	audit_event_init(&ev, "release.purged", "ok");
	ev.contract = rel.contract;
	ev.request = rel.request;
	ev.release = rel.id;
	ev.path = final + strlen(w->state_dir);
	if ((rc = worker_audit(w, &ev)) != RG_OK)
		return rc;
	if ((rc = state_db_release_set_state(w->db, rel.id, "expired")) !=
	    RG_OK)
		return rc;
	if (state_db_request_get(w->db, rel.request, &r) == RG_OK)
		rc = worker_set_state(w, &r, RQ_EXPIRED, why);
	log_info("%s: expired (%s)", rel.id, why);
	return rc;
}

/* Count one complete download; expire at max_downloads. */
int
worker_download(struct worker *w, const char *entry, const char *contract,
    const char *release, const char *user)
{
	struct release_rec rel;
	int64_t count = 0;
	char why[96];
	int rc;

	if ((rc = state_db_release_get(w->db, release, &rel)) != RG_OK)
		return rc == RG_ENOENT ? RG_OK : rc;
	if (strcmp(rel.contract, contract) != 0)
		return RG_OK;
	if ((rc = state_db_download_add(w->db, release, entry, user, &count)) !=
	    RG_OK)
		return rc;
	if (rel.max_downloads > 0 && count >= rel.max_downloads) {
		snprintf(why, sizeof(why), "%lld complete downloads of %ld",
		    (long long)count, rel.max_downloads);
		return expire_release(w, release, why);
	}
	return RG_OK;
}

/* Expire releases past download_days or max_downloads. */
int
worker_expire_due(struct worker *w)
{
	char (*ids)[RG_ID_MAX] = NULL;
	size_t n = 0, i;
	long today = today_days();
	int rc;

	if ((rc = state_db_releases_due(w->db, today, &ids, &n)) != RG_OK)
		return rc;
	for (i = 0; i < n; i++) {
		struct release_rec rel;
		char why[96] = "retention period over";

		if (state_db_release_get(w->db, ids[i], &rel) == RG_OK &&
		    rel.max_downloads > 0 && rel.downloads >= rel.max_downloads)
			snprintf(why, sizeof(why), "%lld complete downloads",
			    (long long)rel.downloads);
		else
			snprintf(why, sizeof(why), "download_days passed");
		if ((rc = expire_release(w, ids[i], why)) != RG_OK)
			break;
	}
	free(ids);
	return rc;
}
