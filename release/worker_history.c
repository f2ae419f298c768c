/*
 * The release history (disclosure/) through a request's life. The checks
 * leave each file's trace in requests/ID/trace.N. At approval the request
 * is judged again with the history as it is then (another release of the
 * contract may have been published since its checks) and the merged
 * history is written to requests/ID/history.next, with the release it
 * started from in history.base. At publication the file moves to
 * history/CONTRACT/RELEASE.hist and becomes the contract's history in the
 * transaction that marks the release published: a crash leaves either the
 * old history and an unpublished release, or both new.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contracts/contracts.h"
#include "disclosure/disclosure.h"
#include "release/internal.h"

#define TRACES_MAX	256

struct traces {
	struct release_trace *t[TRACES_MAX];
	struct check_report *r[TRACES_MAX];
	size_t	n;
};

static void
traces_free(struct traces *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		release_trace_free(ts->t[i]);
		check_report_free(ts->r[i]);
	}
	ts->n = 0;
}

/* requests/ID/trace.0, .1, ... as the checks left them. */
static int
traces_read(struct worker *w, const char *id, struct traces *ts,
    struct diag *d)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	memset(ts, 0, sizeof(*ts));
	for (;;) {
		if (ts->n == TRACES_MAX)
			return RG_ETOOBIG;
		if (worker_path(path, sizeof(path), "%s/requests/%s/trace.%zu",
		    w->state_dir, id, ts->n) != 0)
			return RG_EINVAL;
		if (lstat(path, &st) != 0)
			return errno == ENOENT ? RG_OK : RG_EIO;
		if ((ts->r[ts->n] = calloc(1, sizeof(struct check_report))) ==
		    NULL)
			return RG_ENOMEM;
		ts->n++;
		if ((rc = release_trace_read(&ts->t[ts->n - 1], path, d)) != 0)
			return rc;
	}
}

/* 1 when the dataset's releases go into the history: every table (a
 * later table with min_cell_count compares with it), record level when it
 * can be joined and judged. */
static int
kept(const struct dataset *ds)
{
	return ds->is_table || (ds->k_anonymity > 0 &&
	    ds->n_quasi_identifiers > 0 && ds->one_row_per != NULL);
}

/* 1 when the dataset has a history rule to judge. */
static int
judged(const struct dataset *ds)
{
	if (ds->is_table)
		return ds->min_cell_count > 0;
	return ds->k_anonymity > 0 && ds->n_quasi_identifiers > 0 &&
	    ds->one_row_per != NULL;
}

/* The first failing history rule among the reports, with its detail. */
static int
first_failure(const struct traces *ts, char *rule, size_t rlen, char *why,
    size_t wlen)
{
	size_t i, k;

	for (i = 0; i < ts->n; i++)
		for (k = 0; k < ts->r[i]->n_results; k++) {
			const struct check_result *res = &ts->r[i]->results[k];

			if (res->status != CHECK_FAIL)
				continue;
			snprintf(rule, rlen, "%s", res->rule);
			snprintf(why, wlen, "%s", res->detail);
			return 1;
		}
	return 0;
}

int
worker_history_confirm(struct worker *w, const struct request_rec *r,
    const struct contract *c, const struct dataset *ds, int *ok, char *rule,
    size_t rlen, char *why, size_t wlen)
{
	char next[PATH_MAX], basef[PATH_MAX], base[128];
	struct history_store *hs = NULL;
	struct traces ts;
	struct diag d;
	int rc;

	*ok = 0;
	diag_clear(&d);
	memset(&ts, 0, sizeof(ts));
	if (!judged(ds)) {
		*ok = 1;
		return RG_OK;
	}
	if (worker_path(next, sizeof(next), "%s/requests/%s/history.next",
	    w->state_dir, r->id) != 0 || worker_path(basef, sizeof(basef),
	    "%s/requests/%s/history.base", w->state_dir, r->id) != 0)
		return RG_EINVAL;
	if ((rc = traces_read(w, r->id, &ts, &d)) != RG_OK)
		goto out;
	if (ts.n == 0) {
		/* checked by a relgated that kept no history: fail closed */
		snprintf(rule, rlen, "%s", ds->is_table ?
		    "disclosure.differencing" : "disclosure.cumulative");
		snprintf(why, wlen, "checked before the release history was "
		    "kept: submit the request again");
		rc = RG_OK;
		goto out;
	}
	if ((rc = history_store_wrap(&hs, state_db_sqlite(w->db),
	    w->state_dir)) != RG_OK)
		goto out;
	if ((rc = disclosure_judge(hs, c, ds, ts.t, ts.n, ts.r,
	    ds->is_table ? NULL : next, base, sizeof(base), &d)) != RG_OK)
		goto out;
	if (first_failure(&ts, rule, rlen, why, wlen)) {
		(void)unlink(next);
		goto out;
	}
	if (!ds->is_table && (rc = file_write_atomic(basef, base, strlen(base),
	    0600, &d)) != RG_OK)
		goto out;
	*ok = 1;
out:
	if (rc != RG_OK)
		log_warnx("%s: release history: %s", r->id, d.msg[0] ? d.msg :
		    rg_strerror(rc));
	history_store_close(hs);
	traces_free(&ts);
	return rc;
}

/*
 * Put history/CONTRACT/RELEASE.hist in place for a publication: the file
 * made at approval when the history has not moved since, else merged again
 * now (the release is being published: the history must hold it). final
 * gets its path, "" when the dataset keeps no record-level history.
 */
static int
history_place(struct worker *w, const struct request_rec *r,
    const struct contract *c, const struct dataset *ds, struct traces *ts,
    struct history_store *hs, char *final, size_t flen, char *prev,
    size_t plen, int *recorded)
{
	char next[PATH_MAX], basef[PATH_MAX], dir[PATH_MAX], head[128];
	char *base = NULL;
	size_t blen = 0;
	struct stat st;
	struct diag d;
	int rc;

	final[0] = prev[0] = '\0';
	*recorded = 0;
	diag_clear(&d);
	if (ds->is_table || !judged(ds) || ts->n == 0)
		return RG_OK;
	if (worker_path(next, sizeof(next), "%s/requests/%s/history.next",
	    w->state_dir, r->id) != 0 || worker_path(basef, sizeof(basef),
	    "%s/requests/%s/history.base", w->state_dir, r->id) != 0 ||
	    worker_path(dir, sizeof(dir), "%s/history/%s", w->state_dir,
	    c->id) != 0 || worker_path(final, flen, "%s/%s.hist", dir,
	    r->release) != 0)
		return RG_EINVAL;
	if ((rc = history_head(hs, c->id, head, sizeof(head), prev, plen)) !=
	    RG_OK)
		return rc;
	if (strcmp(head, r->release) == 0) {
		*recorded = 1;	/* recorded before a crash: final is in place */
		prev[0] = '\0';
		return RG_OK;
	}
	if ((rc = worker_mkdir(dir, 0700)) != RG_OK)
		return rc;
	if (file_read_small(&base, &blen, basef, 256, NULL) == RG_OK &&
	    strcmp(base, head) == 0 && (lstat(next, &st) == 0 ||
	    lstat(final, &st) == 0)) {
		if (lstat(next, &st) == 0 && (rename(next, final) != 0 ||
		    dir_fsync(final) != 0)) {
			free(base);
			return RG_EIO;
		}
		free(base);
		return RG_OK;
	}
	free(base);
	/* the history moved since the approval: merge again */
	log_info("%s: release history changed since approval: merging again",
	    r->id);
	rc = disclosure_judge(hs, c, ds, ts->t, ts->n, ts->r, final, NULL, 0,
	    &d);
	if (rc != RG_OK)
		log_warnx("%s: release history: %s", r->id, d.msg);
	return rc;
}

/* Remove every history file of the contract but the current one: the one
 * before this publication, also when a crash came between the commit and
 * its removal (the publication is then finished again). */
static void
history_sweep(struct worker *w, const char *contract, const char *keep)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *base = strrchr(keep, '/');
	struct dirent *e;
	DIR *dp;

	if (base == NULL || worker_path(dir, sizeof(dir), "%s/history/%s",
	    w->state_dir, contract) != 0 || (dp = opendir(dir)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n < 6 || strcmp(e->d_name + n - 5, ".hist") != 0 ||
		    strcmp(e->d_name, base + 1) == 0)
			continue;
		if (worker_path(path, sizeof(path), "%s/%s", dir, e->d_name) == 0)
			(void)unlink(path);
	}
	closedir(dp);
}

int
worker_history_publish(struct worker *w, const struct request_rec *r,
    const struct contract *c, long expires_day, const char *now)
{
	const struct dataset *ds = contract_dataset(c, r->dataset);
	char final[PATH_MAX], prev[PATH_MAX];
	struct history_store *hs = NULL;
	struct traces ts;
	struct diag d;
	int rc, recorded = 0;

	diag_clear(&d);
	memset(&ts, 0, sizeof(ts));
	final[0] = prev[0] = '\0';
	if (ds != NULL && kept(ds) && (rc = traces_read(w, r->id, &ts,
	    &d)) != RG_OK) {
		log_warnx("%s: release history: %s", r->id, d.msg);
		return rc;
	}
	if ((rc = history_store_wrap(&hs, state_db_sqlite(w->db),
	    w->state_dir)) != RG_OK)
		goto out;
	if (ds != NULL && (rc = history_place(w, r, c, ds, &ts, hs, final,
	    sizeof(final), prev, sizeof(prev), &recorded)) != RG_OK)
		goto out;
	if ((rc = state_db_begin(w->db)) != RG_OK)
		goto out;
	if ((ts.n > 0 && !recorded && (rc = history_record(hs, c, r->dataset,
	    r->release, final[0] ? final : NULL, ts.t, ts.n)) != RG_OK) ||
	    (rc = state_db_release_published(w->db, r->release, now,
	    expires_day, c->max_downloads)) != RG_OK) {
		state_db_rollback(w->db);
		goto out;
	}
	if ((rc = state_db_commit(w->db)) != RG_OK)
		goto out;
	/* the history before this release is no longer anyone's */
	if (final[0] != '\0')
		history_sweep(w, c->id, final);
out:
	history_store_close(hs);
	traces_free(&ts);
	return rc;
}
