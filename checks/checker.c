/*
 * The checker: one streaming pass over an extract. The CSV reader hands
 * over each record; the header maps columns to the contract's rules; each
 * data row is judged cell by cell (value rules, masking format, raw
 * identifiers) and row by row (uniqueness, k-anonymity classes, table
 * dominance). Whole-file rules are judged in checker_finish().
 *
 * Memory is bounded: the CSV window, per-column tallies that keep the
 * first few failing rows, and two hash tables with caps (k-anonymity
 * classes, one_row_per values). A table that reaches its cap makes its rule
 * fail ("cannot be shown to hold") rather than grow.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks/checks.h"
#include "checks/internal.h"

#define KT_MAX		(1u << 19)	/* k-anonymity classes (32 B each) */
#define UT_MAX		(1u << 21)	/* one_row_per slots (16 B each) */

/* Defaults for check options (see checks.h). */
void
check_opts_init(struct check_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->today = DATE_UNSET;
}

static inline void
hit(struct finding *f, uint64_t row)
{
	if (f->n < CHECK_ROWS_KEPT)
		f->rows[f->n++] = row;
	f->count++;
}

/* ---- hash tables ------------------------------------------------------ */

static int
kt_grow(struct tally *t)
{
	size_t ncap = t->kt_cap ? t->kt_cap * 2 : 1024, i;
	struct kent *nt;

	if (ncap > KT_MAX)
		return RG_ETOOBIG;
	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return RG_ENOMEM;
	for (i = 0; i < t->kt_cap; i++) {
		struct kent *e = &t->kt[i];
		size_t j;

		if (e->count == 0)
			continue;
		for (j = e->a & (ncap - 1); nt[j].count; j = (j + 1) &
		    (ncap - 1))
			;
		nt[j] = *e;
	}
	free(t->kt);
	t->kt = nt;
	t->kt_cap = ncap;
	return 0;
}

/* Count n records of class (a, b) whose first row is row. */
static void
kt_add(struct tally *t, uint64_t a, uint64_t b, uint64_t n, uint64_t row)
{
	size_t j;

	if (t->kt_full)
		return;
	if ((t->kt_n + 1) * 4 > t->kt_cap * 3 && kt_grow(t) != 0) {
		t->kt_full = 1;
		return;
	}
	for (j = a & (t->kt_cap - 1);; j = (j + 1) & (t->kt_cap - 1)) {
		struct kent *e = &t->kt[j];

		if (e->count == 0) {
			e->a = a;
			e->b = b;
			e->count = n;
			e->first = row;
			t->kt_n++;
			return;
		}
		if (e->a == a && e->b == b) {
			e->count += n;
			if (row < e->first)
				e->first = row;
			return;
		}
	}
}

static int
ut_grow(struct tally *t)
{
	size_t ncap = t->ut_cap ? t->ut_cap * 2 : 4096, i, j;
	struct uent *nt;

	if (ncap > UT_MAX)
		return RG_ETOOBIG;
	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return RG_ENOMEM;
	for (i = 0; i < t->ut_cap; i++) {
		if (t->ut[i].h == 0)
			continue;
		for (j = t->ut[i].h & (ncap - 1); nt[j].h; j = (j + 1) &
		    (ncap - 1))
			;
		nt[j] = t->ut[i];
	}
	free(t->ut);
	t->ut = nt;
	t->ut_cap = ncap;
	return 0;
}

/*
 * Note value hash h seen first at row. Returns 0 when new, otherwise the
 * row of the repeat (the later of the two), keeping the earlier one.
 */
static uint64_t
ut_add(struct tally *t, uint64_t h, uint64_t row)
{
	size_t j;

	if (h == 0)
		h = 1;
	if ((t->ut_n + 1) * 4 > t->ut_cap * 3 && ut_grow(t) != 0) {
		t->ut_full = 1;
		return 0;
	}
	for (j = h & (t->ut_cap - 1);; j = (j + 1) & (t->ut_cap - 1)) {
		struct uent *e = &t->ut[j];

		if (e->h == 0) {
			e->h = h;
			e->row = row;
			t->ut_n++;
			return 0;
		}
		if (e->h == h) {
			uint64_t later = row > e->row ? row : e->row;

			if (row < e->row)
				e->row = row;
			return later;
		}
	}
}

/* Set up one thread's tally once the header is known. */
int
tally_init(struct checker *ck, struct tally *t)
{
	memset(t, 0, sizeof(*t));
	if ((t->cols = calloc(ck->ncols ? ck->ncols : 1, sizeof(*t->cols))) ==
	    NULL)
		return RG_ENOMEM;
	if ((t->md = pcre2_match_data_create(4, NULL)) == NULL)
		return RG_ENOMEM;
	if ((t->vid = calloc(ck->ncols ? ck->ncols : 1, sizeof(*t->vid))) ==
	    NULL)
		return RG_ENOMEM;
	if ((ck->tr_records || ck->tr_table) && trace_part_new(&t->tr) != 0)
		return RG_ENOMEM;
	return 0;
}

/* Free one thread's tally; leaves it zeroed. */
void
tally_free(struct tally *t)
{
	free(t->cols);
	free(t->kt);
	free(t->ut);
	free(t->vid);
	trace_part_free(t->tr);
	pcre2_match_data_free(t->md);
	memset(t, 0, sizeof(*t));
}

static void
finding_merge(struct finding *into, const struct finding *from)
{
	uint64_t rows[2 * CHECK_ROWS_KEPT];
	size_t i, j, n = 0;

	into->count += from->count;
	/* both lists are ascending: keep the smallest rows */
	for (i = j = 0; n < CHECK_ROWS_KEPT && (i < into->n || j < from->n);) {
		if (j >= from->n || (i < into->n && into->rows[i] <
		    from->rows[j]))
			rows[n++] = into->rows[i++];
		else
			rows[n++] = from->rows[j++];
	}
	memcpy(into->rows, rows, n * sizeof(rows[0]));
	into->n = n;
}

/* Add what another thread learnt (from) into `into`. */
int
tally_merge(struct checker *ck, struct tally *into, const struct tally *from)
{
	size_t i, k;

	for (i = 0; i < ck->ncols; i++) {
		struct colt *a = &into->cols[i];
		const struct colt *b = &from->cols[i];

		for (k = 0; k < VR_N; k++)
			finding_merge(&a->v[k], &b->v[k]);
		for (k = 0; k < IDENT_NKINDS; k++)
			finding_merge(&a->id[k], &b->id[k]);
		a->nhs_cells += b->nhs_cells;
		a->nhs_pass += b->nhs_pass;
	}
	for (k = 0; k < IDENT_NKINDS; k++)
		finding_merge(&into->extra_id[k], &from->extra_id[k]);
	finding_merge(&into->dom, &from->dom);
	finding_merge(&into->uniq, &from->uniq);
	into->kt_full |= from->kt_full;
	for (i = 0; i < from->kt_cap; i++)
		if (from->kt[i].count > 0)
			kt_add(into, from->kt[i].a, from->kt[i].b,
			    from->kt[i].count, from->kt[i].first);
	into->ut_full |= from->ut_full;
	for (i = 0; i < from->ut_cap && !into->ut_full; i++) {
		uint64_t rep;
		struct finding one;

		if (from->ut[i].h == 0)
			continue;
		if ((rep = ut_add(into, from->ut[i].h, from->ut[i].row)) != 0) {
			memset(&one, 0, sizeof(one));
			one.count = 1;
			one.rows[0] = rep;
			one.n = 1;
			finding_merge(&into->uniq, &one);
		}
	}
	return 0;
}

/* ---- the header ------------------------------------------------------- */

/* A header name fit for a report: valid UTF-8 kept, control characters
 * and invalid bytes shown as '?', cut to size. */
static void
sanitize_name(char *out, size_t size, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, o = 0;

	while (i < len && o + 1 < size) {
		int n = utf8_seq_len(u + i, len - i);

		if (n > 1 && o + (size_t)n < size) {
			memcpy(out + o, p + i, (size_t)n);
			o += (size_t)n;
			i += (size_t)n;
			continue;
		}
		out[o++] = (u[i] < 0x20 || u[i] >= 0x7f) ? '?' : p[i];
		i += n > 1 ? (size_t)n : 1;
	}
	out[o] = '\0';
}

static const struct column_rule *
find_rule(const struct dataset *ds, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < ds->n_columns; i++)
		if (strlen(ds->columns[i].name) == len &&
		    memcmp(ds->columns[i].name, p, len) == 0)
			return &ds->columns[i];
	return NULL;
}

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
header(struct checker *ck, const struct csv_field *f, size_t n)
{
	const struct dataset *ds = ck->ds;
	size_t i, j;

	ck->header_seen = 1;
	if ((ck->cols = calloc(n ? n : 1, sizeof(*ck->cols))) == NULL)
		return RG_ENOMEM;
	ck->ncols = n;
	for (i = 0; i < n; i++) {
		struct col *cl = &ck->cols[i];
		const struct column_rule *r;

		sanitize_name(cl->name, sizeof(cl->name), f[i].p, f[i].len);
		for (j = 0; j < i; j++)
			if (f[j].len == f[i].len &&
			    memcmp(f[j].p, f[i].p, f[i].len) == 0) {
				cl->dup = 1;
				break;
			}
		r = cl->dup ? NULL : find_rule(ds, f[i].p, f[i].len);
		cl->rule = r;
		if (r == NULL)
			continue;
		if (r->type == COLTYPE_DATE)
			cl->skip |= 1u << IDENT_DATE;
		if (r->masking == MASKING_NONE && ck->c->unmasked_justification
		    != NULL && (r->unmasked || listed(ck->c->unmasked_columns,
		    ck->c->n_unmasked_columns, r->name)))
			cl->exempt = 1;
		if (r->masking == MASKING_HMAC_SHA256) {
			if (r->masking_mode == MASKING_MODE_APPLY)
				cl->apply = 1;
			else
				cl->verify_tok = 1;
		}
		if (r->n_allowed > 0) {
			cl->allowed_len = calloc(r->n_allowed, sizeof(size_t));
			cl->allowed_key = calloc(r->n_allowed, sizeof(uint64_t));
			if (cl->allowed_len == NULL || cl->allowed_key == NULL)
				return RG_ENOMEM;
			cl->allowed_clean = 1;
			for (j = 0; j < r->n_allowed; j++) {
				cl->allowed_len[j] = strlen(r->allowed[j]);
				if (cl->allowed_len[j] <= 7) {
					memcpy(&cl->allowed_key[j], r->allowed[j],
					    cl->allowed_len[j]);
					cl->allowed_key[j] |= (uint64_t)
					    cl->allowed_len[j] << 56;
				} else
					cl->allowed_key[j] = 0;	/* never a packed cell */
				if (ident_scan(r->allowed[j], cl->allowed_len[j],
				    cl->skip, NULL) != 0)
					cl->allowed_clean = 0;
			}
		}
		if (r->rounding > 0 && (uint64_t)r->rounding < ((uint64_t)1 << 32))
			cl->round_m = UINT64_MAX / (uint64_t)r->rounding + 1;
		if (r->pattern != NULL) {
			int err;
			PCRE2_SIZE off;

			cl->re = pcre2_compile((PCRE2_SPTR)r->pattern,
			    PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED |
			    PCRE2_ENDANCHORED | PCRE2_UTF, &err, &off, NULL);
			if (cl->re == NULL)
				return RG_EINVAL;	/* checked in new */
			(void)pcre2_jit_compile(cl->re, PCRE2_JIT_COMPLETE);
		}
	}
	/* quasi-identifiers, one_row_per and dominance columns by index */
	ck->qi_ok = 1;
	if (ds->n_quasi_identifiers > 0) {
		if ((ck->qi = calloc(ds->n_quasi_identifiers,
		    sizeof(size_t))) == NULL)
			return RG_ENOMEM;
		for (j = 0; j < ds->n_quasi_identifiers; j++) {
			for (i = 0; i < n; i++)
				if (ck->cols[i].rule != NULL && strcmp(
				    ck->cols[i].rule->name,
				    ds->quasi_identifiers[j]) == 0)
					break;
			if (i == n)
				ck->qi_ok = 0;
			else
				ck->qi[ck->nqi++] = i;
		}
	}
	ck->uniq_col = ck->dom_total = ck->dom_top = -1;
	for (i = 0; i < n; i++) {
		const struct column_rule *r = ck->cols[i].rule;

		if (r == NULL)
			continue;
		if (ds->one_row_per && strcmp(r->name, ds->one_row_per) == 0)
			ck->uniq_col = (long)i;
		if (ds->dominance.set && ds->dominance.total_column &&
		    strcmp(r->name, ds->dominance.total_column) == 0)
			ck->dom_total = (long)i;
		if (ds->dominance.set && ds->dominance.top_column &&
		    strcmp(r->name, ds->dominance.top_column) == 0)
			ck->dom_top = (long)i;
	}
	return 0;
}

/* ---- cells and rows --------------------------------------------------- */

/* 1 + the index of the allowed value equal to the cell, 0 when none. */
static uint32_t
allowed_find(const struct col *cl, const char *p, size_t len)
{
	const struct column_rule *r = cl->rule;
	size_t i;

	if (len <= 7) {
		/* branch-free: which entry matches is data, not pattern */
		uint64_t k = load_padded(p, len) | (uint64_t)len << 56;
		uint32_t id = 0;

		for (i = 0; i < r->n_allowed; i++)
			id |= ((uint32_t)i + 1) & -(uint32_t)(cl->allowed_key[i] ==
			    k);
		return id;
	}
	for (i = 0; i < r->n_allowed; i++)
		if (cl->allowed_len[i] == len && memcmp(r->allowed[i], p, len) ==
		    0)
			return (uint32_t)i + 1;
	return 0;
}

/*
 * v a multiple of d (> 0)? m is UINT64_MAX / d + 1 (0 when d >= 2^32):
 * for |v| < 2^32, v * m <= m - 1 exactly when d divides v (Lemire's
 * divisibility test), without a division.
 */
static inline int
multiple_of(int64_t v, long d, uint64_t m)
{
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	if (m != 0 && u < ((uint64_t)1 << 32))
		return u * m <= m - 1;
	return u % (uint64_t)d == 0;
}

/* The numeric value of an integer or decimal cell. */
static int
number(const char *p, size_t len, double *v)
{
	int64_t iv;

	if (val_integer(p, len, &iv)) {
		*v = (double)iv;
		return 1;
	}
	return val_decimal(p, len, v);
}

static int
cell(struct checker *ck, struct tally *t, size_t colidx, uint64_t row,
    const char *p, size_t len)
{
	const struct col *cl = &ck->cols[colidx];
	struct colt *tc = &t->cols[colidx];
	const struct column_rule *r = cl->rule;
	int scan = !cl->exempt && !cl->apply, ok;
	unsigned found, cand, k;

	if (len == 0) {
		if (r != NULL && r->required)
			hit(&tc->v[VR_REQUIRED], row);
		return 0;
	}
	if (r == NULL)
		goto scan;
	if (cl->verify_tok) {
		if (val_token(p, len)) {
			scan = 0;	/* 64 hex digits hold no identifier */
			if (ck->o.on_token != NULL) {
				int rc = ck->o.on_token(ck->o.arg, colidx, p,
				    len);
				if (rc != 0)
					return rc;
			}
			if (ck->o.on_token_mt != NULL) {
				int rc = ck->o.on_token_mt(ck->o.arg,
				    t == &ck->t[0] ? 0 : 1, colidx, p, len);
				if (rc != 0)
					return rc;
			}
		} else
			hit(&tc->v[VR_MASKFMT], row);
	}
	if (r->type > COLTYPE_STRING) {
		if (r->type == COLTYPE_INTEGER) {
			ok = val_integer_shape(p, len);
			scan &= !(ok && len < 10);
		} else if (r->type == COLTYPE_YEAR_MONTH) {
			ok = val_year_month(p, len);
			scan &= !ok;
		} else if (r->type == COLTYPE_DECIMAL) {
			ok = val_decimal(p, len, NULL);
			scan &= !(ok && len < 10);
		} else if (r->type == COLTYPE_DATE) {
			ok = val_date(p, len);
			scan &= !ok;
		} else {
			ok = val_year(p, len);
			scan &= !ok;
		}
		if (!ok)
			hit(&tc->v[VR_TYPE], row);
	}
	if (r->n_allowed > 0) {
		uint32_t id = allowed_find(cl, p, len);

		t->vid[colidx] = id;
		if (id == 0)
			hit(&tc->v[VR_ALLOWED], row);
		else if (cl->allowed_clean)
			scan = 0;
	}
	if (cl->re != NULL && pcre2_match(cl->re, (PCRE2_SPTR)p, len, 0, 0,
	    t->md, NULL) < 0)
		hit(&tc->v[VR_PATTERN], row);
	if (r->has_min || r->has_max) {
		double v;

		if (!number(p, len, &v) || (r->has_min && v < r->min) ||
		    (r->has_max && v > r->max))
			hit(&tc->v[VR_RANGE], row);
	}
	if (r->rounding > 0) {
		int64_t v;

		if (!val_integer(p, len, &v) || !multiple_of(v, r->rounding,
		    cl->round_m))
			hit(&tc->v[VR_ROUNDING], row);
	}
	if (r->granularity != GRAN_NONE) {
		if (!val_granularity(r->granularity, p, len))
			hit(&tc->v[VR_GRAN], row);
		else
			scan = 0;	/* a district/sector/year holds none */
	}
	if (r->count && ck->ds->is_table && !val_suppressed(p, len)) {
		int64_t v;

		if (!val_integer(p, len, &v) || v < 0) {
			if (r->type != COLTYPE_INTEGER)
				hit(&tc->v[VR_TYPE], row);
		} else {
			if (ck->ds->min_cell_count > 0 && v > 0 &&
			    v < ck->ds->min_cell_count)
				hit(&tc->v[VR_MINCELL], row);
			if (ck->ds->rounding > 0 && v % ck->ds->rounding != 0)
				hit(&tc->v[VR_TROUND], row);
		}
	}
scan:
	if (!scan)
		return 0;
	found = ident_scan_cell(p, len, cl->skip, &cand);
	if (cand > 0) {
		tc->nhs_cells++;
		if (found & (1u << IDENT_NHS_PLAIN))
			tc->nhs_pass++;
	}
	for (k = 0; found != 0 && k < IDENT_NKINDS; k++)
		if (found & (1u << k))
			hit(&tc->id[k], row);
	return 0;
}

static void
row_kanon(struct checker *ck, struct tally *t, const struct csv_field *f,
    uint64_t row)
{
	uint64_t a = 0x243f6a8885a308d3ULL, b = 0x13198a2e03707344ULL, h;
	size_t j;

	for (j = 0; j < ck->nqi; j++) {
		size_t c = ck->qi[j];

		/* an allowed value is known by its index: no need to hash it */
		if (t->vid[c] != 0 && f[c].len > 0)
			h = (t->vid[c] + 0x51afd7ed558ccd00ULL * (j + 1)) *
			    0xc4ceb9fe1a85ec53ULL;
		else
			h = checks_hash64_cell(f[c].p, f[c].len, j);
		a = (a ^ h) * 0x9e3779b97f4a7c15ULL;
		a ^= a >> 29;
		b = (b + h) * 0xbf58476d1ce4e5b9ULL;
		b ^= b >> 31;
	}
	kt_add(t, a, b, 1, row);
}

static void
row_dominance(struct checker *ck, struct tally *t, const struct csv_field *f,
    uint64_t row)
{
	double total, top;
	const struct csv_field *ft = &f[ck->dom_total], *fp = &f[ck->dom_top];

	if (val_suppressed(ft->p, ft->len) || val_suppressed(fp->p, fp->len))
		return;
	if (!number(ft->p, ft->len, &total) || !number(fp->p, fp->len, &top))
		return;		/* values.type reports the cell */
	if (total > 0 && top > total * ck->ds->dominance.percent / 100.0)
		hit(&t->dom, row);
}

/* Judge one data row into tally t (either thread). */
int
checker_row(struct checker *ck, struct tally *t, uint64_t row,
    const struct csv_field *f, size_t n)
{
	size_t j, m = n < ck->ncols ? n : ck->ncols;
	uint64_t rep;
	int rc;

	for (j = 0; j < m; j++)
		if ((rc = cell(ck, t, j, row, f[j].p, f[j].len)) != 0)
			return rc;
	for (j = m; j < n; j++) {
		unsigned found = ident_scan(f[j].p, f[j].len, 0, NULL), k;

		for (k = 0; found != 0 && k < IDENT_NKINDS; k++)
			if (found & (1u << k))
				hit(&t->extra_id[k], row);
	}
	if (ck->nqi > 0 && ck->qi_ok && n == ck->ncols)
		row_kanon(ck, t, f, row);
	if (ck->uniq_col >= 0 && (size_t)ck->uniq_col < n && !t->ut_full &&
	    (rep = ut_add(t, checks_hash64_cell(f[ck->uniq_col].p,
	    f[ck->uniq_col].len, 0x5bd1e995), row)) != 0)
		hit(&t->uniq, rep);
	if (ck->dom_total >= 0 && ck->dom_top >= 0 &&
	    (size_t)ck->dom_total < n && (size_t)ck->dom_top < n)
		row_dominance(ck, t, f, row);
	if (t->tr != NULL)
		trace_row(ck, t->tr, f, n);
	return 0;
}

static int
on_header(struct checker *ck, const struct csv_field *f, size_t n)
{
	int rc;

	if ((rc = header(ck, f, n)) != 0 || (rc = trace_header(ck)) != 0)
		return rc;
	if ((rc = tally_init(ck, &ck->t[0])) != 0)
		return rc;
	if (ck->threaded) {
		if ((rc = tally_init(ck, &ck->t[1])) != 0)
			return rc;
		if ((rc = pipeline_start(ck)) != 0)
			return rc;
	}
	return 0;
}

static int
on_row(void *arg, unsigned long rowno, const struct csv_field *f, size_t n)
{
	struct checker *ck = arg;
	int rc;

	if (rowno == 0) {
		rc = on_header(ck, f, n);
		if (rc == 0 && ck->o.on_header != NULL)
			rc = ck->o.on_header(ck->o.arg, f, n);
	} else {
		ck->rows++;
		if (ck->threaded)
			return pipeline_row(ck, rowno, f, n);
		rc = checker_row(ck, &ck->t[0], rowno, f, n);
	}
	if (rc == 0 && ck->o.on_row != NULL)
		rc = ck->o.on_row(ck->o.arg, rowno, f, n);
	if (rc != 0)
		ck->cb_rc = rc;
	return rc;
}

static void
on_problem(void *arg, unsigned long row, enum csv_problem p)
{
	struct checker *ck = arg;

	if ((int)p < 0 || p > CSV_ROW_TOO_LONG)
		return;
	hit(&ck->csvp[p], row);
	if (p == CSV_ROW_TOO_LONG) {
		ck->incomplete = 1;
		snprintf(ck->error, sizeof(ck->error), "%s %lu: record longer "
		    "than the %zu-byte cap", row ? "row" : "header", row,
		    ck->o.max_row ? ck->o.max_row :
		    (size_t)CSV_DEFAULT_MAX_ROW);
	}
}

/* ---- life cycle ------------------------------------------------------- */

/* Make a checker for one extract; *out is the caller's. */
int
checker_new(struct checker **out, const struct contract *c,
    const struct dataset *ds, const struct check_opts *o, struct diag *d)
{
	struct checker *ck;
	struct csv_opts co;
	size_t i;
	int rc;

	if (out == NULL || c == NULL || ds == NULL || o == NULL)
		return RG_EINVAL;
	*out = NULL;
	if (o->threads > 1 && (o->on_row != NULL || o->on_token != NULL))
		return diag_set(d, RG_EINVAL, "", 0, 0, "callbacks need a "
		    "single-threaded checker");
	/* every pattern must compile before any data is read */
	for (i = 0; i < ds->n_columns; i++) {
		pcre2_code *re;
		int err;
		PCRE2_SIZE off;

		if (ds->columns[i].pattern == NULL)
			continue;
		re = pcre2_compile((PCRE2_SPTR)ds->columns[i].pattern,
		    PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED | PCRE2_ENDANCHORED |
		    PCRE2_UTF, &err, &off, NULL);
		if (re == NULL) {
			PCRE2_UCHAR msg[128];

			pcre2_get_error_message(err, msg, sizeof(msg));
			return diag_set(d, RG_EINVAL, c->path ? c->path : "",
			    0, 0, "column %s: pattern does not compile at "
			    "offset %zu: %s", ds->columns[i].name, (size_t)off,
			    (const char *)msg);
		}
		pcre2_code_free(re);
	}
	if ((ck = calloc(1, sizeof(*ck))) == NULL)
		return RG_ENOMEM;
	ck->c = c;
	ck->ds = ds;
	ck->o = *o;
	ck->uniq_col = ck->dom_total = ck->dom_top = -1;
	ck->threaded = o->threads > 1;
	ck->chunk = 1u << 16;	/* grows once the records' size is known */
	memset(&co, 0, sizeof(co));
	co.max_field = o->max_field;
	co.max_row = o->max_row;
	co.on_row = on_row;
	co.on_problem = on_problem;
	co.arg = ck;
	if ((rc = csv_reader_new(&ck->rd, &co)) != 0) {
		checker_free(ck);
		return diag_set(d, rc, "", 0, 0, "bad CSV limits");
	}
	if (ck->threaded && ((rc = csv_reader_double_buffer(ck->rd,
	    pipeline_window, ck)) != 0)) {
		checker_free(ck);
		return rc;
	}
	if (ck->threaded)
		csv_reader_set_chunk(ck->rd, ck->chunk);
	*out = ck;
	return 0;
}

/* Stop the helper thread if any and free; NULL-safe. */
void
checker_free(struct checker *ck)
{
	size_t i;

	if (ck == NULL)
		return;
	pipeline_free(ck);
	for (i = 0; i < ck->ncols; i++) {
		free(ck->cols[i].allowed_len);
		free(ck->cols[i].allowed_key);
		pcre2_code_free(ck->cols[i].re);
	}
	free(ck->cols);
	free(ck->qi);
	free(ck->tr_seed);
	free(ck->tr_dim);
	free(ck->tr_meas);
	tally_free(&ck->t[0]);
	tally_free(&ck->t[1]);
	csv_reader_free(ck->rd);
	free(ck);
}

static int
feed_rc(struct checker *ck, int rc)
{
	if (rc == RG_ETOOBIG && ck->incomplete && ck->cb_rc == 0)
		return 0;	/* reported: complete = 0 */
	return rc;
}

/* Push bytes of the extract; 0 or a callback's value. */
int
checker_feed(struct checker *ck, const void *data, size_t len)
{
	if (ck->incomplete)
		return 0;
	return feed_rc(ck, csv_reader_feed(ck->rd, data, len));
}

/* Read fd to its end straight into the CSV window. */
int
checker_feed_fd(struct checker *ck, int fd, struct diag *d)
{
	int eof = 0;

	while (!eof) {
		unsigned char *p;
		size_t room, got = 0;
		/* two threads: windows of at most 1 MiB (fewer bytes for tiny
		 * records, see pipeline_window()) keep both busy and memory
		 * small */
		size_t most = ck->threaded ? ck->chunk : (4u << 20);
		int rc;

		if (ck->incomplete || csv_reader_stopped(ck->rd))
			return feed_rc(ck, ck->cb_rc);
		csv_reader_space(ck->rd, &p, &room);
		if (room > most)
			room = most;
		/* fill the window (a pipe gives 64 KiB at a time) */
		while (got < room) {
			ssize_t n = read(fd, p + got, room - got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return diag_set(d, RG_EIO, "", 0, 0, "read: %s",
				    strerror(errno));
			if (n == 0) {
				eof = 1;
				break;
			}
			got += (size_t)n;
		}
		if (got == 0)
			break;
		ck->read_bytes += got;
		if ((rc = feed_rc(ck, csv_reader_commit(ck->rd, got))) != 0)
			return rc;
		if (ck->o.on_progress != NULL)
			ck->o.on_progress(ck->o.arg, ck->read_bytes);
	}
	return 0;
}

/* Bytes of complete records consumed so far. */
uint64_t
checker_bytes(const struct checker *ck)
{
	return csv_reader_bytes(ck->rd);
}

/* End of input: finish both threads, merge, make the report. */
int
checker_finish(struct checker *ck, struct check_report **out)
{
	int rc;

	rc = csv_reader_finish(ck->rd);
	if (rc != 0 && ck->cb_rc != 0)
		return ck->cb_rc;
	if (rc != 0 && rc != RG_ETOOBIG)
		return rc;
	if (ck->threaded) {
		if ((rc = pipeline_finish(ck)) != 0)
			return rc;
		if (ck->mt_rc != 0)
			return ck->mt_rc;	/* the helper has stopped */
		if (ck->header_seen && (rc = tally_merge(ck, &ck->t[0],
		    &ck->t[1])) != 0)
			return rc;
	}
	return checker_verdict(ck, out);
}
