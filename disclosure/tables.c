/*
 * disclosure.differencing: a new table against the tables released earlier
 * to the same organisation. Two tables are compared on a measure (a count
 * column) they share when one's dimensions are the other's or a subset of
 * them: the finer table is summed up to the coarser one's dimensions (a
 * marginal) and each cell, or total, compared. A difference d with
 * 0 < d < min_cell_count reveals a group of d people by subtraction. A
 * cell or total that is suppressed in either is not compared (its value is
 * not known to the contractor); a cell missing from one table counts 0.
 * The sum of a table's measure is kept with its cells but not judged here:
 * the rule is about the number of people a difference reveals.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disclosure/internal.h"

/* One table projected onto some of its dimensions for one measure. */
struct proj {
	uint64_t *key;			/* n x nd */
	int64_t	*count;			/* -1: unknown */
	size_t	n, nd;
};

/* Two keys of nd words. */
static int
cmp_keys(const uint64_t *x, const uint64_t *y, size_t nd)
{
	size_t i;

	for (i = 0; i < nd; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* qsort_r: rows by their first *(size_t *)nd words. */
static int
cmp_rows(const void *a, const void *b, void *nd)
{
	return cmp_keys(a, b, *(const size_t *)nd);
}

static long
index_of(char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (long)i;
	return -1;
}

/* 1 when every name of a[] is in b[]. */
static int
subset(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t i;

	for (i = 0; i < na; i++)
		if (index_of(b, nb, a[i]) < 0)
			return 0;
	return 1;
}

/* Sum table t's measure m over the dimensions not in dims[0..nd). */
static int
project(const struct release_trace *t, size_t m, char *const *dims,
    size_t nd, struct proj *out)
{
	size_t w = nd + 1, i, j, k;
	uint64_t *rows;
	long pos[64];

	memset(out, 0, sizeof(*out));
	if (nd > RG_ARRAY_LEN(pos))
		return RG_ETOOBIG;
	for (j = 0; j < nd; j++)
		pos[j] = index_of(t->dims, t->n_dims, dims[j]);
	if ((rows = calloc(t->n_cells * w + 1, 8)) == NULL)
		return RG_ENOMEM;
	for (i = 0; i < t->n_cells; i++) {
		for (j = 0; j < nd; j++)
			rows[i * w + j] = t->cell_keys[i * t->n_dims +
			    (size_t)pos[j]];
		rows[i * w + nd] = (uint64_t)t->cell_counts[i * t->n_measures +
		    m];
	}
	qsort_r(rows, t->n_cells, w * 8, cmp_rows, &nd);
	out->nd = nd;
	if ((out->key = calloc(t->n_cells * nd + 1, 8)) == NULL ||
	    (out->count = calloc(t->n_cells + 1, 8)) == NULL) {
		free(rows);
		free(out->key);
		return RG_ENOMEM;
	}
	for (i = k = 0; i < t->n_cells; i++) {
		const uint64_t *r = rows + i * w;
		int64_t c = (int64_t)r[nd];

		if (k > 0 && memcmp(out->key + (k - 1) * nd, r, nd * 8) == 0) {
			int64_t *into = &out->count[k - 1];

			*into = *into < 0 || c < 0 ? -1 : *into + c;
			continue;
		}
		memcpy(out->key + k * nd, r, nd * 8);
		out->count[k++] = c;
	}
	out->n = k;
	free(rows);
	return 0;
}

static void
proj_free(struct proj *p)
{
	free(p->key);
	free(p->count);
}

/* Cells (or totals) of a and b that differ by more than 0 and less than
 * min_cell. Both sorted by key. */
static uint64_t
compare(const struct proj *a, const struct proj *b, long min_cell)
{
	size_t i = 0, j = 0, nd = a->nd;
	uint64_t bad = 0;

	while (i < a->n || j < b->n) {
		int c;
		int64_t x = 0, y = 0, diff;

		if (i >= a->n)
			c = 1;
		else if (j >= b->n)
			c = -1;
		else
			c = cmp_keys(a->key + i * nd, b->key + j * nd, nd);
		if (c <= 0)
			x = a->count[i++];
		if (c >= 0)
			y = b->count[j++];
		if (x < 0 || y < 0)
			continue;	/* suppressed: not known */
		diff = x > y ? x - y : y - x;
		if (diff > 0 && diff < min_cell)
			bad++;
	}
	return bad;
}

/* Cells of table t (measure m) against earlier table e (measure em):
 * RG_ENOENT when the two cannot be compared. */
static int
judge_pair(const struct release_trace *t, size_t m,
    const struct release_trace *e, size_t em, long min_cell, uint64_t *bad,
    int *marginal)
{
	const struct release_trace *coarse;
	struct proj a, b;
	int rc;

	if (subset(t->dims, t->n_dims, e->dims, e->n_dims))
		coarse = t;
	else if (subset(e->dims, e->n_dims, t->dims, t->n_dims))
		coarse = e;
	else
		return RG_ENOENT;
	*marginal = t->n_dims != e->n_dims;
	if ((rc = project(t, m, coarse->dims, coarse->n_dims, &a)) != 0)
		return rc;
	if ((rc = project(e, em, coarse->dims, coarse->n_dims, &b)) != 0) {
		proj_free(&a);
		return rc;
	}
	*bad = compare(&a, &b, min_cell);
	proj_free(&a);
	proj_free(&b);
	return 0;
}

int
differencing_judge(const struct release_trace *t,
    const struct earlier_table *e, size_t n, long min_cell,
    struct check_report *r)
{
	char det[256], names[160];
	uint64_t bad_total = 0, compared = 0;
	size_t i, m, nn = 0, shown = 0, bad_releases = 0;
	int any_marginal = 0, rc;

	names[0] = '\0';
	if (t->table_full)
		return check_report_mark(r, "disclosure.differencing",
		    CHECK_FAIL, 0, NULL, "more cells than can be compared in "
		    "bounded memory: cannot be shown to hold");
	for (i = 0; i < n; i++) {
		const struct release_trace *et = e[i].t;
		uint64_t bad_here = 0;

		if (et == NULL || !et->table)
			continue;
		for (m = 0; m < t->n_measures; m++) {
			long em = index_of(et->measures, et->n_measures,
			    t->measures[m]);
			uint64_t bad = 0;
			int marginal = 0;

			/* sums are kept, not judged: min_cell is about
			 * counts of people */
			if (em < 0 || strncmp(t->measures[m], "sum:", 4) == 0)
				continue;
			rc = judge_pair(t, m, et, (size_t)em, min_cell, &bad,
			    &marginal);
			if (rc == RG_ENOENT)
				continue;
			if (rc != 0)
				return rc;
			compared++;
			bad_here += bad;
			if (bad)
				any_marginal |= marginal;
		}
		if (bad_here > 0) {
			bad_total += bad_here;
			bad_releases++;
			if (shown < 3 && nn + strlen(e[i].release) + 3 <
			    sizeof(names)) {
				nn += (size_t)snprintf(names + nn, sizeof(names) -
				    nn, "%s%s", shown ? ", " : "", e[i].release);
				shown++;
			}
		}
	}
	if (bad_total > 0) {
		/* the text report puts the count first: "3 cells ..." */
		snprintf(det, sizeof(det), "%s by 1 to %ld from %s%s "
		    "released earlier to this organisation: subtracting one "
		    "from the other reveals a group smaller than %ld",
		    bad_total == 1 ? (any_marginal ? "cell or total differs" :
		    "cell differs") : (any_marginal ? "cells or totals differ" :
		    "cells differ"), min_cell - 1,
		    names, bad_releases > shown ? " and others" : "", min_cell);
		return check_report_mark(r, "disclosure.differencing",
		    CHECK_FAIL, bad_total, NULL, det);
	}
	if (compared == 0)
		snprintf(det, sizeof(det), "no earlier table of this "
		    "organisation with these dimensions and measure");
	else
		snprintf(det, sizeof(det), "compared with %llu earlier "
		    "table%s: no cell or total differs by 1 to %ld",
		    (unsigned long long)compared, compared == 1 ? "" : "s",
		    min_cell - 1);
	return check_report_mark(r, "disclosure.differencing", CHECK_PASS, 0,
	    NULL, det);
}
