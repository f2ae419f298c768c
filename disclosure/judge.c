/*
 * Both rules for one release: the history and the release's traces in,
 * the two report lines out (the same words for the gateway's report and
 * relgate check's).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "disclosure/internal.h"

static int
mark_all(struct check_report *const *r, size_t n, const char *rule,
    enum check_status st, uint64_t count, const char *detail)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = check_report_mark(r[i], rule, st, count, NULL,
		    detail)) != 0)
			return rc;
	return 0;
}

static int
judge_cumulative(struct history_store *s, const struct contract *c,
    const struct dataset *ds, struct release_trace *const *t, size_t n,
    struct check_report *const *r, const char *next, char *base,
    size_t baselen, struct diag *d)
{
	char head_rel[64], head_path[PATH_MAX], det[256], before[96];
	struct cumulative_result res;
	size_t i;
	long k;
	int rc;

	if (ds->one_row_per == NULL)
		return mark_all(r, n, "disclosure.cumulative", CHECK_SKIP, 0,
		    "no one_row_per in the contract: releases cannot be "
		    "joined person by person");
	for (i = 0; i < n; i++)
		if (t[i] == NULL || !t[i]->records)
			return mark_all(r, n, "disclosure.cumulative",
			    CHECK_FAIL, 0, "a quasi-identifier or the "
			    "one_row_per column is missing");
	/* The contract's strictest k: a release of a dataset with a smaller
	 * one must not weaken what an earlier release of another promised. */
	k = ds->k_anonymity;
	for (i = 0; i < c->n_datasets; i++)
		if (!c->datasets[i].is_table && c->datasets[i].one_row_per &&
		    c->datasets[i].n_quasi_identifiers > 0 &&
		    c->datasets[i].k_anonymity > k)
			k = c->datasets[i].k_anonymity;
	/* A reader beside the worker (relgate check) may find the file it
	 * was told of replaced by a publication: read the head again. */
	for (i = 0;; i++) {
		char again[64], again_path[PATH_MAX];

		if ((rc = history_head(s, c->id, head_rel, sizeof(head_rel),
		    head_path, sizeof(head_path))) != 0)
			return diag_set(d, rc, "state.db", 0, 0, "cannot read "
			    "the release history of %s", c->id);
		if ((rc = history_merge(head_path, t, n, k, next, &res, d)) == 0)
			break;
		if (i == 2 || history_head(s, c->id, again, sizeof(again),
		    again_path, sizeof(again_path)) != 0 ||
		    strcmp(again, head_rel) == 0)
			return rc;
	}
	if (base != NULL)
		snprintf(base, baselen, "%s", head_rel);
	if (res.full)
		return mark_all(r, n, "disclosure.cumulative", CHECK_FAIL, 0,
		    "more people or combined classes than can be judged in "
		    "bounded memory: cannot be shown to hold");
	if (res.releases_before == 0)
		snprintf(before, sizeof(before), "in this first release of the "
		    "contract");
	else
		snprintf(before, sizeof(before), "when joined on %s with the "
		    "%llu earlier release%s of this contract", ds->one_row_per,
		    (unsigned long long)res.releases_before,
		    res.releases_before == 1 ? "" : "s");
	if (res.short_classes > 0) {
		/* the text report puts the count first: "3 of 40 ..." */
		snprintf(det, sizeof(det), "of %llu combined classes hold fewer "
		    "than %ld people (%llu people in them) %s",
		    (unsigned long long)res.classes, k,
		    (unsigned long long)res.short_people, before);
		return mark_all(r, n, "disclosure.cumulative", CHECK_FAIL,
		    res.short_classes, det);
	}
	snprintf(det, sizeof(det), "%llu combined classes, each of at least "
	    "%ld people (%llu people in all) %s",
	    (unsigned long long)res.classes, k,
	    (unsigned long long)res.persons, before);
	return mark_all(r, n, "disclosure.cumulative", CHECK_PASS, 0, det);
}

int
disclosure_judge(struct history_store *s, const struct contract *c,
    const struct dataset *ds, struct release_trace *const *t, size_t n,
    struct check_report *const *r, const char *next, char *base,
    size_t baselen, struct diag *d)
{
	struct earlier_table *e = NULL;
	size_t ne = 0, i;
	int rc = 0;

	if (base != NULL && baselen > 0)
		base[0] = '\0';
	if (history_store_absent(s)) {
		char det[256];

		snprintf(det, sizeof(det), "no release history on this host (%s "
		    "does not exist): judged by the gateway", store_state_dir(s));
		rc = mark_all(r, n, ds->is_table ? "disclosure.differencing" :
		    "disclosure.cumulative", CHECK_SKIP, 0, det);
		return rc;
	}
	if (!ds->is_table) {
		if (ds->k_anonymity <= 0 || ds->n_quasi_identifiers == 0)
			return 0;	/* the checker's skip stands */
		return judge_cumulative(s, c, ds, t, n, r, next, base, baselen,
		    d);
	}
	if (ds->min_cell_count <= 0)
		return mark_all(r, n, "disclosure.differencing", CHECK_SKIP, 0,
		    "no min_cell_count in the contract");
	if ((rc = store_tables_for(s, c->organisation, &e, &ne)) != 0)
		return diag_set(d, rc, "state.db", 0, 0, "cannot read the "
		    "tables released to %s", c->organisation);
	for (i = 0; i < n && rc == 0; i++) {
		if (t[i] == NULL || !t[i]->table)
			rc = check_report_mark(r[i], "disclosure.differencing",
			    CHECK_SKIP, 0, NULL, "no count column");
		else
			rc = differencing_judge(t[i], e, ne, ds->min_cell_count,
			    r[i]);
	}
	earlier_tables_free(e, ne);
	return rc;
}
