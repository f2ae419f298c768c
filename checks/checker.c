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

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "checks/checks.h"
#include "checks/internal.h"

#define KT_MAX		(1u << 19)	/* k-anonymity classes (32 B each) */
#define UT_MAX		(1u << 22)	/* one_row_per slots (8 B each) */

enum {
	VR_TYPE, VR_ALLOWED, VR_PATTERN, VR_RANGE, VR_ROUNDING, VR_GRAN,
	VR_REQUIRED, VR_MASKFMT, VR_MINCELL, VR_TROUND, VR_N
};

static const char *const vr_rule[VR_N] = {
	"values.type", "values.allowed", "values.pattern", "values.range",
	"values.rounding", "values.granularity", "values.required",
	"masking.format", "disclosure.min_cell", "disclosure.rounding",
};

struct finding {
	uint64_t count;
	uint64_t rows[CHECK_ROWS_KEPT];
	size_t	n;
};

struct col {
	const struct column_rule *rule;	/* NULL: not in the contract */
	char	name[128];
	int	dup;
	unsigned skip;			/* identifier kinds not looked for */
	int	exempt;			/* unmasked: no identifiers.raw */
	int	verify_tok, apply;
	int	allowed_clean;		/* allowed values hold no identifier */
	size_t	*allowed_len;
	pcre2_code *re;
	struct finding v[VR_N];
	struct finding id[IDENT_NKINDS];
	uint64_t nhs_cells, nhs_pass;
};

/* k-anonymity classes: (a, b) 128-bit key, count, first row */
struct kent {
	uint64_t a, b, count, first;
};

struct checker {
	const struct contract *c;
	const struct dataset *ds;
	struct check_opts o;
	struct csv_reader *rd;
	pcre2_match_data *md;
	struct col *cols;
	size_t	ncols;
	int	header_seen;
	size_t	*qi;
	size_t	nqi;
	int	qi_ok;			/* every quasi-identifier present */
	long	uniq_col, dom_total, dom_top;
	struct kent *kt;
	size_t	kt_cap, kt_n;
	int	kt_full;
	uint64_t *ut;
	size_t	ut_cap, ut_n;
	int	ut_full;
	struct finding uniq, dom, extra_id[IDENT_NKINDS];
	struct finding csvp[CSV_ROW_TOO_LONG + 1];
	uint64_t rows;
	uint64_t read_bytes;
	int	cb_rc;
	int	incomplete;
	char	error[256];
};

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
kt_grow(struct checker *ck)
{
	size_t ncap = ck->kt_cap ? ck->kt_cap * 2 : 1024, i;
	struct kent *nt;

	if (ncap > KT_MAX)
		return RG_ETOOBIG;
	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return RG_ENOMEM;
	for (i = 0; i < ck->kt_cap; i++) {
		struct kent *e = &ck->kt[i];
		size_t j;

		if (e->count == 0)
			continue;
		for (j = e->a & (ncap - 1); nt[j].count; j = (j + 1) &
		    (ncap - 1))
			;
		nt[j] = *e;
	}
	free(ck->kt);
	ck->kt = nt;
	ck->kt_cap = ncap;
	return 0;
}

static void
kt_add(struct checker *ck, uint64_t a, uint64_t b, uint64_t row)
{
	size_t j;

	if (ck->kt_full)
		return;
	if ((ck->kt_n + 1) * 4 > ck->kt_cap * 3 && kt_grow(ck) != 0) {
		ck->kt_full = 1;
		return;
	}
	for (j = a & (ck->kt_cap - 1);; j = (j + 1) & (ck->kt_cap - 1)) {
		struct kent *e = &ck->kt[j];

		if (e->count == 0) {
			e->a = a;
			e->b = b;
			e->count = 1;
			e->first = row;
			ck->kt_n++;
			return;
		}
		if (e->a == a && e->b == b) {
			e->count++;
			return;
		}
	}
}

static int
ut_grow(struct checker *ck)
{
	size_t ncap = ck->ut_cap ? ck->ut_cap * 2 : 4096, i, j;
	uint64_t *nt;

	if (ncap > UT_MAX)
		return RG_ETOOBIG;
	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return RG_ENOMEM;
	for (i = 0; i < ck->ut_cap; i++) {
		if (ck->ut[i] == 0)
			continue;
		for (j = ck->ut[i] & (ncap - 1); nt[j]; j = (j + 1) &
		    (ncap - 1))
			;
		nt[j] = ck->ut[i];
	}
	free(ck->ut);
	ck->ut = nt;
	ck->ut_cap = ncap;
	return 0;
}

/* 1 when h was already there. */
static int
ut_add(struct checker *ck, uint64_t h)
{
	size_t j;

	if (h == 0)
		h = 1;
	if ((ck->ut_n + 1) * 4 > ck->ut_cap * 3 && ut_grow(ck) != 0) {
		ck->ut_full = 1;
		return 0;
	}
	for (j = h & (ck->ut_cap - 1);; j = (j + 1) & (ck->ut_cap - 1)) {
		if (ck->ut[j] == 0) {
			ck->ut[j] = h;
			ck->ut_n++;
			return 0;
		}
		if (ck->ut[j] == h)
			return 1;
	}
}

/* ---- the header ------------------------------------------------------- */

static void
sanitize_name(char *out, size_t size, const char *p, size_t len)
{
	size_t i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	out[n] = '\0';
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
			if (cl->allowed_len == NULL)
				return RG_ENOMEM;
			cl->allowed_clean = 1;
			for (j = 0; j < r->n_allowed; j++) {
				cl->allowed_len[j] = strlen(r->allowed[j]);
				if (ident_scan(r->allowed[j], cl->allowed_len[j],
				    cl->skip, NULL) != 0)
					cl->allowed_clean = 0;
			}
		}
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

static int
allowed_has(const struct col *cl, const char *p, size_t len)
{
	const struct column_rule *r = cl->rule;
	size_t i;

	for (i = 0; i < r->n_allowed; i++)
		if (cl->allowed_len[i] == len &&
		    memcmp(r->allowed[i], p, len) == 0)
			return 1;
	return 0;
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
cell(struct checker *ck, struct col *cl, uint64_t row, const char *p,
    size_t len, size_t colidx)
{
	const struct column_rule *r = cl->rule;
	int scan = !cl->exempt && !cl->apply, ok;
	unsigned found, cand, k;

	if (len == 0) {
		if (r != NULL && r->required)
			hit(&cl->v[VR_REQUIRED], row);
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
		} else
			hit(&cl->v[VR_MASKFMT], row);
	}
	switch (r->type) {
	case COLTYPE_INTEGER:
		ok = val_integer_shape(p, len);
		if (ok && len < 10)
			scan = 0;
		break;
	case COLTYPE_DECIMAL:
		ok = val_decimal(p, len, NULL);
		if (ok && len < 10)
			scan = 0;
		break;
	case COLTYPE_DATE:
		if ((ok = val_date(p, len)) != 0)
			scan = 0;
		break;
	case COLTYPE_YEAR_MONTH:
		if ((ok = val_year_month(p, len)) != 0)
			scan = 0;
		break;
	case COLTYPE_YEAR:
		if ((ok = val_year(p, len)) != 0)
			scan = 0;
		break;
	default:
		ok = 1;
	}
	if (!ok)
		hit(&cl->v[VR_TYPE], row);
	if (r->n_allowed > 0) {
		if (!allowed_has(cl, p, len))
			hit(&cl->v[VR_ALLOWED], row);
		else if (cl->allowed_clean)
			scan = 0;
	}
	if (cl->re != NULL && pcre2_match(cl->re, (PCRE2_SPTR)p, len, 0, 0,
	    ck->md, NULL) < 0)
		hit(&cl->v[VR_PATTERN], row);
	if (r->has_min || r->has_max) {
		double v;

		if (!number(p, len, &v) || (r->has_min && v < r->min) ||
		    (r->has_max && v > r->max))
			hit(&cl->v[VR_RANGE], row);
	}
	if (r->rounding > 0) {
		int64_t v;

		if (!val_integer(p, len, &v) || v % r->rounding != 0)
			hit(&cl->v[VR_ROUNDING], row);
	}
	if (r->granularity != GRAN_NONE) {
		if (!val_granularity(r->granularity, p, len))
			hit(&cl->v[VR_GRAN], row);
		else
			scan = 0;	/* a district/sector/year holds none */
	}
	if (r->count && ck->ds->is_table && !val_suppressed(p, len)) {
		int64_t v;

		if (!val_integer(p, len, &v) || v < 0) {
			if (r->type != COLTYPE_INTEGER)
				hit(&cl->v[VR_TYPE], row);
		} else {
			if (ck->ds->min_cell_count > 0 && v > 0 &&
			    v < ck->ds->min_cell_count)
				hit(&cl->v[VR_MINCELL], row);
			if (ck->ds->rounding > 0 && v % ck->ds->rounding != 0)
				hit(&cl->v[VR_TROUND], row);
		}
	}
scan:
	if (!scan)
		return 0;
	found = ident_scan(p, len, cl->skip, &cand);
	if (cand > 0) {
		cl->nhs_cells++;
		if (found & (1u << IDENT_NHS_PLAIN))
			cl->nhs_pass++;
	}
	for (k = 0; found != 0 && k < IDENT_NKINDS; k++)
		if (found & (1u << k))
			hit(&cl->id[k], row);
	return 0;
}

static void
row_kanon(struct checker *ck, const struct csv_field *f, uint64_t row)
{
	uint64_t a = 0x243f6a8885a308d3ULL, b = 0x13198a2e03707344ULL, h;
	size_t j;

	for (j = 0; j < ck->nqi; j++) {
		h = checks_hash64(f[ck->qi[j]].p, f[ck->qi[j]].len, j);
		a = (a ^ h) * 0x9e3779b97f4a7c15ULL;
		a ^= a >> 29;
		b = (b + h) * 0xbf58476d1ce4e5b9ULL;
		b ^= b >> 31;
	}
	kt_add(ck, a, b, row);
}

static void
row_dominance(struct checker *ck, const struct csv_field *f, uint64_t row)
{
	double total, top;
	const struct csv_field *ft = &f[ck->dom_total], *fp = &f[ck->dom_top];

	if (val_suppressed(ft->p, ft->len) || val_suppressed(fp->p, fp->len))
		return;
	if (!number(ft->p, ft->len, &total) || !number(fp->p, fp->len, &top))
		return;		/* values.type reports the cell */
	if (total > 0 && top > total * ck->ds->dominance.percent / 100.0)
		hit(&ck->dom, row);
}

static int
on_row(void *arg, unsigned long rowno, const struct csv_field *f, size_t n)
{
	struct checker *ck = arg;
	uint64_t row = rowno;
	size_t j, m;
	int rc;

	if (rowno == 0) {
		if ((rc = header(ck, f, n)) != 0)
			return rc;
		goto callback;
	}
	ck->rows++;
	m = n < ck->ncols ? n : ck->ncols;
	for (j = 0; j < m; j++)
		if ((rc = cell(ck, &ck->cols[j], row, f[j].p, f[j].len, j)) != 0)
			return ck->cb_rc = rc;
	for (j = m; j < n; j++) {
		unsigned found = ident_scan(f[j].p, f[j].len, 0, NULL), k;

		for (k = 0; found != 0 && k < IDENT_NKINDS; k++)
			if (found & (1u << k))
				hit(&ck->extra_id[k], row);
	}
	if (ck->nqi > 0 && ck->qi_ok && n == ck->ncols)
		row_kanon(ck, f, row);
	if (ck->uniq_col >= 0 && (size_t)ck->uniq_col < n && !ck->ut_full &&
	    ut_add(ck, checks_hash64(f[ck->uniq_col].p, f[ck->uniq_col].len,
	    0x5bd1e995)))
		hit(&ck->uniq, row);
	if (ck->dom_total >= 0 && ck->dom_top >= 0 &&
	    (size_t)ck->dom_total < n && (size_t)ck->dom_top < n)
		row_dominance(ck, f, row);
callback:
	if (ck->o.on_row != NULL &&
	    (rc = ck->o.on_row(ck->o.arg, rowno, f, n)) != 0)
		return ck->cb_rc = rc;
	return 0;
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
	if ((ck->md = pcre2_match_data_create(4, NULL)) == NULL) {
		checker_free(ck);
		return RG_ENOMEM;
	}
	*out = ck;
	return 0;
}

void
checker_free(struct checker *ck)
{
	size_t i;

	if (ck == NULL)
		return;
	for (i = 0; i < ck->ncols; i++) {
		free(ck->cols[i].allowed_len);
		pcre2_code_free(ck->cols[i].re);
	}
	free(ck->cols);
	free(ck->qi);
	free(ck->kt);
	free(ck->ut);
	pcre2_match_data_free(ck->md);
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

int
checker_feed(struct checker *ck, const void *data, size_t len)
{
	if (ck->incomplete)
		return 0;
	return feed_rc(ck, csv_reader_feed(ck->rd, data, len));
}

int
checker_feed_fd(struct checker *ck, int fd, struct diag *d)
{
	for (;;) {
		unsigned char *p;
		size_t room;
		ssize_t n;
		int rc;

		if (ck->incomplete || csv_reader_stopped(ck->rd))
			return feed_rc(ck, ck->cb_rc);
		csv_reader_space(ck->rd, &p, &room);
		if (room > (4u << 20))
			room = 4u << 20;
		n = read(fd, p, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return diag_set(d, RG_EIO, "", 0, 0, "read: %s",
			    strerror(errno));
		}
		if (n == 0)
			return 0;
		ck->read_bytes += (uint64_t)n;
		if ((rc = feed_rc(ck, csv_reader_commit(ck->rd, (size_t)n)))
		    != 0)
			return rc;
		if (ck->o.on_progress != NULL)
			ck->o.on_progress(ck->o.arg, ck->read_bytes);
	}
}

uint64_t
checker_bytes(const struct checker *ck)
{
	return csv_reader_bytes(ck->rd);
}

/* ---- the report ------------------------------------------------------- */

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
			buf_printf(&b, "%s%s%s", b.len ? ", " : "", cl->name,
			    cl->dup ? " (repeated)" : "");
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
		if (cl->v[vr].count == 0)
			continue;
		any = 1;
		if (vr == VR_MASKFMT)
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
		if ((rc = add_finding(r, vr_rule[vr], &cl->v[vr], cl->name,
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

		for (k = 0; k < IDENT_NKINDS; k++) {
			if (cl->id[k].count == 0)
				continue;
			if (k == IDENT_NHS_PLAIN &&
			    !nhs_share_flagged(cl->nhs_pass, cl->nhs_cells))
				continue;
			any = 1;
			if ((rc = add_finding(r, "identifiers.raw", &cl->id[k],
			    cl->name, ident_kind_name(k))) != 0)
				return rc;
		}
	}
	for (k = 0; k < IDENT_NKINDS; k++) {
		if (ck->extra_id[k].count == 0 || k == IDENT_NHS_PLAIN)
			continue;
		any = 1;
		if ((rc = add_finding(r, "identifiers.raw", &ck->extra_id[k],
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
	if (ck->kt_full) {
		snprintf(det, sizeof(det), "more than %u distinct "
		    "quasi-identifier combinations: cannot be shown to hold",
		    (unsigned)(KT_MAX / 4 * 3));
		return report_add(r, "disclosure.k_anonymity", CHECK_FAIL, 0,
		    NULL, 0, NULL, det);
	}
	k = (uint64_t)ds->k_anonymity;
	for (i = 0; i < ck->kt_cap; i++) {
		const struct kent *e = &ck->kt[i];

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
		    ck->kt_n, (unsigned long long)k);
		return report_add(r, "disclosure.k_anonymity", CHECK_PASS, 0,
		    NULL, 0, NULL, det);
	}
	snprintf(det, sizeof(det), "%llu of %zu classes have fewer than %llu "
	    "records (%llu records in them); rows are each class's first",
	    (unsigned long long)classes, ck->kt_n, (unsigned long long)k,
	    (unsigned long long)records);
	return report_add(r, "disclosure.k_anonymity", CHECK_FAIL, classes,
	    rows, n, NULL, det);
}

int
checker_finish(struct checker *ck, struct check_report **out)
{
	const struct contract *c = ck->c;
	const struct dataset *ds = ck->ds;
	struct check_report *r;
	char why[256], det[256];
	long today = ck->o.today;
	size_t i;
	int rc;
	unsigned p;

	rc = csv_reader_finish(ck->rd);
	if (rc != 0 && ck->cb_rc != 0)
		return ck->cb_rc;
	if (rc != 0 && rc != RG_ETOOBIG)
		return rc;
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
		    CHECK_FAIL : CHECK_PASS, ck->rows > (uint64_t)ds->max_rows ?
		    ck->rows - (uint64_t)ds->max_rows : 0, NULL, 0, NULL, det));
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
	else if (ck->ut_full)
		ADD(report_add(r, "values.unique", CHECK_FAIL, ck->uniq.count,
		    ck->uniq.rows, ck->uniq.n, ds->one_row_per, "too many "
		    "values to show uniqueness in bounded memory"));
	else if (ck->uniq.count > 0)
		ADD(add_finding(r, "values.unique", &ck->uniq, ds->one_row_per,
		    "value repeats an earlier row"));
	else
		ADD(report_add(r, "values.unique", CHECK_PASS, 0, NULL, 0,
		    ds->one_row_per, NULL));

	ADD(report_identifiers(ck, r));
	ADD(report_values(ck, r, VR_MASKFMT));
	ADD(report_add(r, "masking.linkable", CHECK_SKIP, 0, NULL, 0, NULL,
	    "judged by the gateway against its token store"));
	ADD(report_kanon(ck, r));
	if (ds->is_table) {
		ADD(report_values(ck, r, VR_MINCELL));
		ADD(report_values(ck, r, VR_TROUND));
		if (!ds->dominance.set)
			ADD(report_add(r, "disclosure.dominance", CHECK_SKIP, 0,
			    NULL, 0, NULL, "no dominance rule in the contract"));
		else if (ck->dom_total < 0 || ck->dom_top < 0)
			ADD(report_add(r, "disclosure.dominance", CHECK_FAIL, 0,
			    NULL, 0, NULL, "dominance columns missing"));
		else if (ck->dom.count > 0) {
			snprintf(det, sizeof(det), "%s above %g%% of %s",
			    ds->dominance.top_column, ds->dominance.percent,
			    ds->dominance.total_column);
			ADD(add_finding(r, "disclosure.dominance", &ck->dom,
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
