/*
 * The verdict: after the last row, judge the whole-file rules and turn the
 * tallies of the rows (merged into one) into the report, one result per
 * rule, or per rule and column where a rule fails.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/checks.h"
#include "checks/internal.h"

#define KT_MAX		(1u << 19)

static const char *const vr_rule[VR_N] = {
	"values.type", "values.allowed", "values.pattern", "values.range",
	"values.rounding", "values.granularity", "values.required",
	"masking.format", "disclosure.min_cell", "disclosure.rounding",
};

static int
listed(char *const *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

static int
add_finding(struct check_report *r, const char *rule, const struct finding *f,
    const char *column, const char *detail)
{
	return report_add(r, rule, CHECK_FAIL, f->count, f->rows, f->n,
	    column, detail);
}

/* Compare row numbers for qsort. */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
report_columns(struct checker *ck, struct check_report *r)
{
	const struct dataset *ds = ck->ds;
	struct buf b;
	size_t i, j, bad = 0;
	int rc = 0;

	buf_init(&b, 200);
	for (i = 0; i < ck->ncols; i++) {
		const struct col *cl = &ck->cols[i];

		if (cl->rule != NULL)
			continue;
		bad++;
		if (b.len < 150)
			buf_printf(&b, "%s%s%s", b.len ? ", " : "not allowed: ",
			    cl->name, cl->dup ? " (repeated)" : "");
	}
	if (bad > 0) {
		buf_cstr(&b);
		rc = report_add(r, "columns.allowed", CHECK_FAIL, bad, NULL, 0,
		    NULL, (const char *)b.data);
	}
	buf_reset(&b);
	for (j = 0; rc == 0 && j < ds->n_columns; j++) {
		const struct column_rule *cr = &ds->columns[j];
		int need = cr->required ||
		    (ds->one_row_per && strcmp(ds->one_row_per, cr->name) == 0) ||
		    listed(ds->quasi_identifiers, ds->n_quasi_identifiers,
		    cr->name);

		if (!need)
			continue;
		for (i = 0; i < ck->ncols; i++)
			if (ck->cols[i].rule == cr)
				break;
		if (i == ck->ncols) {
			char det[200];

			snprintf(det, sizeof(det), "%s column missing",
			    cr->required ? "required" : (ds->one_row_per &&
			    strcmp(ds->one_row_per, cr->name) == 0) ?
			    "one_row_per" : "quasi-identifier");
			rc = report_add(r, "columns.allowed", CHECK_FAIL, 1, NULL,
			    0, cr->name, det);
			bad++;
		}
	}
	buf_free(&b);
	if (rc == 0 && bad == 0)
		rc = report_add(r, "columns.allowed", CHECK_PASS, 0, NULL, 0,
		    NULL, NULL);
	return rc;
}

static int
report_values(struct checker *ck, struct check_report *r, int vr)
{
	size_t i;
	int any = 0, used = 0, rc;
	const struct dataset *ds = ck->ds;

	for (i = 0; i < ck->ncols; i++) {
		const struct col *cl = &ck->cols[i];
		const struct colt *tc = &ck->t[0].cols[i];
		const struct column_rule *cr = cl->rule;
		char det[128] = "";

		if (cr == NULL)
			continue;
		switch (vr) {
		case VR_TYPE:	used |= cr->type > COLTYPE_STRING || cr->count; break;
		case VR_ALLOWED: used |= cr->n_allowed > 0; break;
		case VR_PATTERN: used |= cr->pattern != NULL; break;
		case VR_RANGE:	used |= cr->has_min || cr->has_max; break;
		case VR_ROUNDING: used |= cr->rounding > 0; break;
		case VR_GRAN:	used |= cr->granularity != GRAN_NONE; break;
		case VR_REQUIRED: used |= cr->required; break;
		case VR_MASKFMT: used |= cl->verify_tok || cl->apply; break;
		case VR_MINCELL: used |= cr->count && ds->min_cell_count > 0; break;
		case VR_TROUND:	used |= cr->count && ds->rounding > 0; break;
		}
		if (tc->v[vr].count == 0)
			continue;
		any = 1;
		if (vr == VR_TYPE) {
			static const char *tn[] = { "", "", "integer", "decimal",
			    "date (YYYY-MM-DD)", "year-month (YYYY-MM)",
			    "year (YYYY)" };
			snprintf(det, sizeof(det), "not %s %s", cr->type ==
			    COLTYPE_INTEGER || cr->type <= COLTYPE_STRING ?
			    "an" : "a", cr->type > COLTYPE_STRING &&
			    (size_t)cr->type < RG_ARRAY_LEN(tn) ? tn[cr->type] :
			    "integer count");
		} else if (vr == VR_ALLOWED)
			snprintf(det, sizeof(det), "not an allowed value");
		else if (vr == VR_PATTERN)
			snprintf(det, sizeof(det), "does not match the pattern");
		else if (vr == VR_RANGE) {
			if (cr->has_min && cr->has_max)
				snprintf(det, sizeof(det), "not a number in "
				    "%g..%g", cr->min, cr->max);
			else if (cr->has_min)
				snprintf(det, sizeof(det), "not a number >= %g",
				    cr->min);
			else
				snprintf(det, sizeof(det), "not a number <= %g",
				    cr->max);
		} else if (vr == VR_GRAN) {
			static const char *gn[] = { "", "postcode district",
			    "postcode sector", "year", "year-month" };
			snprintf(det, sizeof(det), "finer than %s (or not one)",
			    (size_t)cr->granularity < RG_ARRAY_LEN(gn) ?
			    gn[cr->granularity] : "allowed");
		} else if (vr == VR_REQUIRED)
			snprintf(det, sizeof(det), "empty cell");
		else if (vr == VR_MASKFMT)
			snprintf(det, sizeof(det), "not a token (64 lowercase "
			    "hex digits)");
		else if (vr == VR_MINCELL)
			snprintf(det, sizeof(det), "count below %ld",
			    ds->min_cell_count);
		else if (vr == VR_TROUND)
			snprintf(det, sizeof(det), "count not a multiple of %ld",
			    ds->rounding);
		else if (vr == VR_ROUNDING)
			snprintf(det, sizeof(det), "not a multiple of %ld",
			    cr->rounding);
		if ((rc = add_finding(r, vr_rule[vr], &tc->v[vr], cl->name,
		    det)) != 0)
			return rc;
	}
	if (any)
		return 0;
	if (vr == VR_MASKFMT) {
		for (i = 0; i < ck->ncols; i++)
			if (ck->cols[i].apply)
				return report_add(r, vr_rule[vr], CHECK_PASS, 0,
				    NULL, 0, ck->cols[i].name,
				    "masked by the gateway");
	}
	return report_add(r, vr_rule[vr], used ? CHECK_PASS : CHECK_SKIP, 0,
	    NULL, 0, NULL, used ? NULL : "no column has this rule");
}

static int
report_identifiers(struct checker *ck, struct check_report *r)
{
	size_t i;
	unsigned k;
	int any = 0, rc;

	for (i = 0; i < ck->ncols; i++) {
		const struct col *cl = &ck->cols[i];
		const struct colt *tc = &ck->t[0].cols[i];

		for (k = 0; k < IDENT_NKINDS; k++) {
			if (tc->id[k].count == 0)
				continue;
			if (k == IDENT_NHS_PLAIN &&
			    !nhs_share_flagged(tc->nhs_pass, tc->nhs_cells))
				continue;
			any = 1;
			if ((rc = add_finding(r, "identifiers.raw", &tc->id[k],
			    cl->name, ident_kind_name(k))) != 0)
				return rc;
		}
	}
	for (k = 0; k < IDENT_NKINDS; k++) {
		if (ck->t[0].extra_id[k].count == 0 || k == IDENT_NHS_PLAIN)
			continue;
		any = 1;
		if ((rc = add_finding(r, "identifiers.raw", &ck->t[0].extra_id[k],
		    "(fields past the header)", ident_kind_name(k))) != 0)
			return rc;
	}
	if (any)
		return 0;
	return report_add(r, "identifiers.raw", CHECK_PASS, 0, NULL, 0, NULL,
	    NULL);
}

static int
report_kanon(struct checker *ck, struct check_report *r)
{
	const struct dataset *ds = ck->ds;
	uint64_t classes = 0, records = 0, rows[CHECK_ROWS_KEPT], k;
	size_t i, n = 0;
	char det[256];

	if (ds->is_table || ds->k_anonymity <= 0 || ds->n_quasi_identifiers == 0)
		return report_add(r, "disclosure.k_anonymity", CHECK_SKIP, 0,
		    NULL, 0, NULL, ds->is_table ? "table dataset" :
		    "no k_anonymity in the contract");
	if (!ck->qi_ok)
		return report_add(r, "disclosure.k_anonymity", CHECK_FAIL, 0,
		    NULL, 0, NULL, "a quasi-identifier column is missing");
	if (ck->t[0].kt_full) {
		snprintf(det, sizeof(det), "more than %u distinct "
		    "quasi-identifier combinations: cannot be shown to hold",
		    (unsigned)(KT_MAX / 4 * 3));
		return report_add(r, "disclosure.k_anonymity", CHECK_FAIL, 0,
		    NULL, 0, NULL, det);
	}
	k = (uint64_t)ds->k_anonymity;
	for (i = 0; i < ck->t[0].kt_cap; i++) {
		const struct kent *e = &ck->t[0].kt[i];

		if (e->count == 0 || e->count >= k)
			continue;
		classes++;
		records += e->count;
		/* keep the smallest first rows */
		if (n < CHECK_ROWS_KEPT)
			rows[n++] = e->first;
		else {
			size_t m = 0, j;
			for (j = 1; j < n; j++)
				if (rows[j] > rows[m])
					m = j;
			if (e->first < rows[m])
				rows[m] = e->first;
		}
	}
	qsort(rows, n, sizeof(rows[0]), cmp_u64);
	if (classes == 0) {
		snprintf(det, sizeof(det), "%zu classes, each >= %llu records",
		    ck->t[0].kt_n, (unsigned long long)k);
		return report_add(r, "disclosure.k_anonymity", CHECK_PASS, 0,
		    NULL, 0, NULL, det);
	}
	snprintf(det, sizeof(det), "of %zu quasi-identifier classes have "
	    "fewer than %llu records (%llu records in them; rows: each "
	    "class's first)", ck->t[0].kt_n, (unsigned long long)k,
	    (unsigned long long)records);
	return report_add(r, "disclosure.k_anonymity", CHECK_FAIL, classes,
	    rows, n, NULL, det);
}

/* Judge the whole-file rules and build the report. */
int
checker_verdict(struct checker *ck, struct check_report **out)
{
	const struct contract *c = ck->c;
	const struct dataset *ds = ck->ds;
	struct check_report *r;
	char why[256], det[256];
	long today = ck->o.today;
	size_t i;
	int rc;
	unsigned p;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return RG_ENOMEM;
	r->contract = strdup(c->id ? c->id : "");
	r->dataset = strdup(ds->name ? ds->name : "");
	if (r->contract == NULL || r->dataset == NULL)
		goto nomem;
	r->rows = ck->rows;
	r->bytes = csv_reader_bytes(ck->rd);
	r->complete = !ck->incomplete;
	rg_strlcpy(r->error, ck->error, sizeof(r->error));
	if (!ck->header_seen && r->complete) {
		r->complete = 0;
		rg_strlcpy(r->error, "empty file: no header row", sizeof(r->error));
	} else if (ck->rows == 0 && r->complete) {
		r->complete = 0;
		rg_strlcpy(r->error, "header only: no data rows", sizeof(r->error));
	}
	if (c->unmasked_justification != NULL) {
		for (i = 0; i < ck->ncols; i++) {
			char **nc;

			if (!ck->cols[i].exempt)
				continue;
			nc = realloc(r->unmasked_columns,
			    (r->n_unmasked_columns + 1) * sizeof(*nc));
			if (nc == NULL)
				goto nomem;
			r->unmasked_columns = nc;
			if ((nc[r->n_unmasked_columns] = strdup(
			    ck->cols[i].name)) == NULL)
				goto nomem;
			r->n_unmasked_columns++;
		}
		if (r->n_unmasked_columns > 0 && (r->unmasked_justification =
		    strdup(c->unmasked_justification)) == NULL)
			goto nomem;
	}

#define ADD(x) do { if ((rc = (x)) != 0) goto fail; } while (0)
	/* contract.active */
	if (today == DATE_UNSET) {
		char buf[16];

		date_today(buf, sizeof(buf));
		if (date_parse(buf, &today) != 0)
			today = 0;
	}
	if (contract_is_active(c, today, why, sizeof(why)))
		ADD(report_add(r, "contract.active", CHECK_PASS, 0, NULL, 0,
		    NULL, NULL));
	else
		ADD(report_add(r, "contract.active", CHECK_FAIL, 0, NULL, 0,
		    NULL, why));

	/* csv.wellformed */
	{
		int any = 0;

		for (p = CSV_BAD_UTF8; p <= CSV_ROW_TOO_LONG; p++) {
			if (ck->csvp[p].count == 0)
				continue;
			any = 1;
			if ((p == CSV_NUL || p == CSV_BAD_UTF8) &&
			    ck->csvp[p].rows[0] == 0) {
				snprintf(det, sizeof(det), "%s, in the header "
				    "too: not a CSV text file?",
				    csv_problem_name((enum csv_problem)p));
				ADD(add_finding(r, "csv.wellformed",
				    &ck->csvp[p], NULL, det));
				continue;
			}
			ADD(add_finding(r, "csv.wellformed", &ck->csvp[p], NULL,
			    csv_problem_name((enum csv_problem)p)));
		}
		if (!ck->header_seen) {
			any = 1;
			ADD(report_add(r, "csv.wellformed", CHECK_FAIL, 0, NULL,
			    0, NULL, "empty file: no header row"));
		}
		if (!any)
			ADD(report_add(r, "csv.wellformed", CHECK_PASS, 0, NULL,
			    0, NULL, NULL));
	}
	if (ck->header_seen)
		ADD(report_columns(ck, r));

	/* rows.max, rows.total */
	if (ds->max_rows >= 0) {
		snprintf(det, sizeof(det), "%llu rows, max_rows %ld",
		    (unsigned long long)ck->rows, ds->max_rows);
		ADD(report_add(r, "rows.max", ck->rows > (uint64_t)ds->max_rows ?
		    CHECK_FAIL : CHECK_PASS, 0, NULL, 0, NULL, det));
	} else
		ADD(report_add(r, "rows.max", CHECK_SKIP, 0, NULL, 0, NULL,
		    "no max_rows in the contract"));
	if (ds->max_rows_total >= 0 || ds->max_releases >= 0) {
		uint64_t total = (uint64_t)(ck->o.rows_total_before > 0 ?
		    ck->o.rows_total_before : 0) + ck->rows;
		long rel = (ck->o.releases_before > 0 ? ck->o.releases_before :
		    0) + 1;
		int bad_rows = ds->max_rows_total >= 0 &&
		    total > (uint64_t)ds->max_rows_total;
		int bad_rel = ds->max_releases >= 0 && rel > ds->max_releases;

		if (bad_rows)
			snprintf(det, sizeof(det), "%ld rows released before + "
			    "%llu here = %llu, max_rows_total %ld",
			    ck->o.rows_total_before, (unsigned long long)ck->rows,
			    (unsigned long long)total, ds->max_rows_total);
		else if (bad_rel)
			snprintf(det, sizeof(det), "this would be release %ld, "
			    "max_releases %ld", rel, ds->max_releases);
		else
			snprintf(det, sizeof(det), "%llu of %ld rows, release "
			    "%ld of %ld", (unsigned long long)total,
			    ds->max_rows_total, rel, ds->max_releases);
		ADD(report_add(r, "rows.total", bad_rows || bad_rel ?
		    CHECK_FAIL : CHECK_PASS, 0, NULL, 0, NULL, det));
	} else
		ADD(report_add(r, "rows.total", CHECK_SKIP, 0, NULL, 0, NULL,
		    "no max_rows_total or max_releases in the contract"));

	for (i = VR_TYPE; i <= VR_REQUIRED; i++)
		ADD(report_values(ck, r, (int)i));

	/* values.unique */
	if (ds->one_row_per == NULL)
		ADD(report_add(r, "values.unique", CHECK_SKIP, 0, NULL, 0, NULL,
		    "no one_row_per in the contract"));
	else if (ck->uniq_col < 0)
		ADD(report_add(r, "values.unique", CHECK_FAIL, 0, NULL, 0,
		    ds->one_row_per, "column missing"));
	else if (ck->t[0].ut_full)
		ADD(report_add(r, "values.unique", CHECK_FAIL, ck->t[0].uniq.count,
		    ck->t[0].uniq.rows, ck->t[0].uniq.n, ds->one_row_per, "too many "
		    "values to show uniqueness in bounded memory"));
	else if (ck->t[0].uniq.count > 0)
		ADD(add_finding(r, "values.unique", &ck->t[0].uniq, ds->one_row_per,
		    "value repeats an earlier row"));
	else
		ADD(report_add(r, "values.unique", CHECK_PASS, 0, NULL, 0,
		    ds->one_row_per, NULL));

	ADD(report_identifiers(ck, r));
	ADD(report_values(ck, r, VR_MASKFMT));
	ADD(report_add(r, "masking.linkable", CHECK_SKIP, 0, NULL, 0, NULL,
	    "judged by the gateway against its token store"));
	ADD(report_kanon(ck, r));
	/* judged against the release history by the caller (disclosure/) */
	ADD(report_add(r, "disclosure.cumulative", CHECK_SKIP, 0, NULL, 0,
	    NULL, ds->is_table ? "table dataset" : ds->k_anonymity <= 0 ?
	    "no k_anonymity in the contract" : "no release history here: "
	    "judged by the gateway and by relgate check -c"));
	ADD(report_add(r, "disclosure.differencing", CHECK_SKIP, 0, NULL, 0,
	    NULL, !ds->is_table ? "record-level dataset" : "no release "
	    "history here: judged by the gateway and by relgate check -c"));
	if (ds->is_table) {
		ADD(report_values(ck, r, VR_MINCELL));
		ADD(report_values(ck, r, VR_TROUND));
		if (!ds->dominance.set)
			ADD(report_add(r, "disclosure.dominance", CHECK_SKIP, 0,
			    NULL, 0, NULL, "no dominance rule in the contract"));
		else if (ck->dom_total < 0 || ck->dom_top < 0)
			ADD(report_add(r, "disclosure.dominance", CHECK_FAIL, 0,
			    NULL, 0, NULL, "dominance columns missing"));
		else if (ck->t[0].dom.count > 0) {
			snprintf(det, sizeof(det), "%s above %g%% of %s",
			    ds->dominance.top_column, ds->dominance.percent,
			    ds->dominance.total_column);
			ADD(add_finding(r, "disclosure.dominance", &ck->t[0].dom,
			    NULL, det));
		} else
			ADD(report_add(r, "disclosure.dominance", CHECK_PASS, 0,
			    NULL, 0, NULL, NULL));
	} else {
		ADD(report_add(r, "disclosure.min_cell", CHECK_SKIP, 0, NULL, 0,
		    NULL, "record-level dataset"));
		ADD(report_add(r, "disclosure.rounding", CHECK_SKIP, 0, NULL, 0,
		    NULL, "record-level dataset"));
		ADD(report_add(r, "disclosure.dominance", CHECK_SKIP, 0, NULL,
		    0, NULL, "record-level dataset"));
	}
#undef ADD
	*out = r;
	return 0;
nomem:
	rc = RG_ENOMEM;
fail:
	check_report_free(r);
	return rc;
}
