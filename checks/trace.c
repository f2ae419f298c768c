/*
 * The release trace: what one release adds to the disclosure history
 * (disclosure/), collected in the check pass itself so the extract is still
 * read once. Record level: per row the fingerprint of its one_row_per value
 * (the person) and of each quasi-identifier's (name, value) pair. Tables:
 * per row the fingerprints of its dimension values and its counts. Never a
 * value: the history is derived data (product.md).
 *
 * Each thread of the check keeps its own part (no locks); the parts are
 * merged, sorted and deduplicated by checker_take_trace().
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "checks/checks.h"
#include "checks/internal.h"
#include "keys/keys.h"

#define VSEED	0x6a09e667f3bcc908ULL	/* names of quasi-identifiers */
#define PSEED	0xbb67ae8584caa73bULL	/* one_row_per values */

/* One thread's part: rows as they come, the vectors they use. */
struct trace_part {
	struct trace_person *rows;	/* vector: 1 + local vector index */
	size_t	n, cap;
	uint64_t *vkey;			/* open addressing: vector key (0 free) */
	uint32_t *vidx;			/* its local index */
	size_t	vcap, vn;
	uint64_t *pool;			/* vn vectors of nqi pairs each */
	size_t	pool_cap;
	uint64_t *cells;		/* table: n cells of ndims + nmeas words */
	size_t	ncells, cells_cap;
	int	full;
};

uint64_t
trace_pair_fp(const char *name, const char *value, size_t len)
{
	uint64_t h = checks_hash64(value, len, checks_hash64(name,
	    strlen(name), VSEED));

	return h ? h : 1;
}

uint64_t
trace_person_fp(const char *value, size_t len)
{
	uint64_t h = checks_hash64(value, len, PSEED);

	return h ? h : 1;
}

/* Which columns the trace reads, once the header is known. */
int
trace_header(struct checker *ck)
{
	const struct dataset *ds = ck->ds;
	size_t i, j;

	if (!ck->o.trace)
		return 0;
	if (!ds->is_table) {
		if (ds->k_anonymity <= 0 || ck->nqi == 0 || !ck->qi_ok ||
		    ck->uniq_col < 0)
			return 0;
		if ((ck->tr_seed = calloc(ck->nqi, sizeof(uint64_t))) == NULL)
			return RG_ENOMEM;
		for (j = 0; j < ck->nqi; j++) {
			const char *nm = ck->cols[ck->qi[j]].rule->name;

			ck->tr_seed[j] = checks_hash64(nm, strlen(nm), VSEED);
		}
		ck->tr_records = 1;
		return 0;
	}
	/* Tables: count columns are the measures; every other column of the
	 * contract, except the dominance columns, is a dimension. Both kept
	 * in name order, so two tables compare column by column. */
	if ((ck->tr_dim = calloc(ck->ncols + 1, sizeof(size_t))) == NULL ||
	    (ck->tr_meas = calloc(ck->ncols + 1, sizeof(size_t))) == NULL ||
	    (ck->tr_seed = calloc(ck->ncols + 1, sizeof(uint64_t))) == NULL)
		return RG_ENOMEM;
	for (i = 0; i < ck->ncols; i++) {
		const struct column_rule *r = ck->cols[i].rule;

		if (r == NULL || ck->cols[i].dup || (long)i == ck->dom_total ||
		    (long)i == ck->dom_top)
			continue;
		if (r->count)
			ck->tr_meas[ck->tr_nmeas++] = i;
		else
			ck->tr_dim[ck->tr_ndim++] = i;
	}
	/* insertion sort by name: a handful of columns */
	for (i = 1; i < ck->tr_ndim; i++)
		for (j = i; j > 0 && strcmp(ck->cols[ck->tr_dim[j - 1]].rule->
		    name, ck->cols[ck->tr_dim[j]].rule->name) > 0; j--) {
			size_t x = ck->tr_dim[j];

			ck->tr_dim[j] = ck->tr_dim[j - 1];
			ck->tr_dim[j - 1] = x;
		}
	for (i = 1; i < ck->tr_nmeas; i++)
		for (j = i; j > 0 && strcmp(ck->cols[ck->tr_meas[j - 1]].rule->
		    name, ck->cols[ck->tr_meas[j]].rule->name) > 0; j--) {
			size_t x = ck->tr_meas[j];

			ck->tr_meas[j] = ck->tr_meas[j - 1];
			ck->tr_meas[j - 1] = x;
		}
	for (j = 0; j < ck->tr_ndim; j++) {
		const char *nm = ck->cols[ck->tr_dim[j]].rule->name;

		ck->tr_seed[j] = checks_hash64(nm, strlen(nm), VSEED);
	}
	/* the measure summed in each cell, where the contract names one (its
	 * dominance total): kept after the counts as "sum:NAME" */
	ck->tr_ncount = ck->tr_nmeas;
	if (ck->tr_nmeas > 0 && ck->dom_total >= 0)
		ck->tr_meas[ck->tr_nmeas++] = (size_t)ck->dom_total;
	ck->tr_table = ck->tr_ncount > 0;
	return 0;
}

int
trace_part_new(struct trace_part **out)
{
	return (*out = calloc(1, sizeof(**out))) == NULL ? RG_ENOMEM : 0;
}

void
trace_part_free(struct trace_part *p)
{
	if (p == NULL)
		return;
	free(p->rows);
	free(p->vkey);
	free(p->vidx);
	free(p->pool);
	free(p->cells);
	free(p);
}

static int
vmap_grow(struct trace_part *p)
{
	size_t ncap = p->vcap ? p->vcap * 2 : 256, i, j;
	uint64_t *nk = calloc(ncap, sizeof(uint64_t));
	uint32_t *ni = calloc(ncap, sizeof(uint32_t));

	if (nk == NULL || ni == NULL) {
		free(nk);
		free(ni);
		return RG_ENOMEM;
	}
	for (i = 0; i < p->vcap; i++) {
		if (p->vkey[i] == 0)
			continue;
		for (j = p->vkey[i] & (ncap - 1); nk[j]; j = (j + 1) &
		    (ncap - 1))
			;
		nk[j] = p->vkey[i];
		ni[j] = p->vidx[i];
	}
	free(p->vkey);
	free(p->vidx);
	p->vkey = nk;
	p->vidx = ni;
	p->vcap = ncap;
	return 0;
}

/* 1 + the local index of vector `key` (pairs v), added when new; 0 when
 * out of memory or past the cap. */
static uint32_t
vmap_find(struct trace_part *p, uint64_t key, const uint64_t *v, size_t nqi)
{
	size_t j;

	if ((p->vn + 1) * 4 > p->vcap * 3) {
		if (p->vn >= TRACE_VECTORS_MAX || vmap_grow(p) != 0)
			return 0;
	}
	for (j = key & (p->vcap - 1);; j = (j + 1) & (p->vcap - 1)) {
		if (p->vkey[j] == key)
			return p->vidx[j] + 1;
		if (p->vkey[j] == 0)
			break;
	}
	if (rg_array_grow((void **)&p->pool, &p->pool_cap,
	    (p->vn + 1) * nqi, sizeof(uint64_t)) != 0)
		return 0;
	memcpy(p->pool + p->vn * nqi, v, nqi * sizeof(uint64_t));
	p->vkey[j] = key;
	p->vidx[j] = (uint32_t)p->vn++;
	return p->vidx[j] + 1;
}

/* One data row (either thread): note its person and vector, or its cell. */
void
trace_row(struct checker *ck, struct trace_part *p, const struct csv_field *f,
    size_t n)
{
	uint64_t v[64], key = 0x452821e638d01377ULL;
	size_t j;

	if (p->full || n != ck->ncols)
		return;		/* ragged: fails csv.wellformed */
	if (ck->nqi > RG_ARRAY_LEN(v)) {
		p->full = 1;	/* cannot be judged: the rule says so */
		return;
	}
	if (ck->tr_records) {
		const struct csv_field *pf = &f[ck->uniq_col];
		uint32_t vid;

		if (pf->len == 0)
			return;	/* no key: cannot be joined */
		for (j = 0; j < ck->nqi; j++) {
			const struct csv_field *q = &f[ck->qi[j]];

			v[j] = checks_hash64_cell(q->p, q->len, ck->tr_seed[j]);
			v[j] += v[j] == 0;
			key = (key ^ v[j]) * 0x9e3779b97f4a7c15ULL;
			key ^= key >> 31;
		}
		key += key == 0;
		if (p->n >= TRACE_PERSONS_MAX ||
		    rg_array_grow((void **)&p->rows, &p->cap, p->n + 1,
		    sizeof(*p->rows)) != 0 ||
		    (vid = vmap_find(p, key, v, ck->nqi)) == 0) {
			p->full = 1;
			return;
		}
		if (ck->cols[ck->uniq_col].apply && ck->o.trace_masker) {
			char tok[MASK_TOKEN_LEN + 1];

			(void)masker_token(ck->o.trace_masker, pf->p, pf->len,
			    tok);
			p->rows[p->n].person = checks_hash64(tok,
			    MASK_TOKEN_LEN, PSEED);
		} else
			p->rows[p->n].person = checks_hash64_cell(pf->p,
			    pf->len, PSEED);
		p->rows[p->n].person += p->rows[p->n].person == 0;
		p->rows[p->n].vector = vid;
		p->n++;
		return;
	}
	if (ck->tr_table) {
		size_t w = ck->tr_ndim + ck->tr_nmeas;
		uint64_t *c;

		if (p->ncells >= TRACE_CELLS_MAX ||
		    rg_array_grow((void **)&p->cells, &p->cells_cap,
		    (p->ncells + 1) * w, sizeof(uint64_t)) != 0) {
			p->full = 1;
			return;
		}
		c = p->cells + p->ncells * w;
		for (j = 0; j < ck->tr_ndim; j++) {
			const struct csv_field *q = &f[ck->tr_dim[j]];

			c[j] = checks_hash64_cell(q->p, q->len, ck->tr_seed[j]);
			c[j] += c[j] == 0;
		}
		for (j = 0; j < ck->tr_nmeas; j++) {
			const struct csv_field *q = &f[ck->tr_meas[j]];
			int64_t x = -1;

			/* suppressed or not a whole number: unknown (-1) */
			if (val_suppressed(q->p, q->len) ||
			    !val_integer(q->p, q->len, &x) || x < 0)
				x = -1;
			c[ck->tr_ndim + j] = (uint64_t)x;
		}
		p->ncells++;
	}
}

/* ---- the finished trace ---------------------------------------------- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int
cmp_person(const void *a, const void *b)
{
	const struct trace_person *x = a, *y = b;

	if (x->person != y->person)
		return x->person < y->person ? -1 : 1;
	return (x->vector > y->vector) - (x->vector < y->vector);
}

/* Cells by their first *(size_t *)words words (qsort_r: no shared
 * state between two checks). */
static int
cmp_cell(const void *a, const void *b, void *words)
{
	const uint64_t *x = a, *y = b;
	size_t i, n = *(const size_t *)words;

	for (i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* Record level: one vector list for both parts, rows remapped to it,
 * sorted by person; a person seen twice (values.unique fails) kept once. */
static int
take_records(struct checker *ck, struct release_trace *t)
{
	struct trace_part *p0 = ck->t[0].tr, *p1 = ck->t[1].tr;
	size_t nqi = ck->nqi, nv = 0, np = 0, i, j, k, base1;
	int rc = RG_ENOMEM;

	t->records = 1;
	t->records_full = (p0 && p0->full) || (p1 && p1->full);
	if (t->records_full)
		return 0;
	np = (p0 ? p0->n : 0) + (p1 ? p1->n : 0);
	nv = (p0 ? p0->vn : 0) + (p1 ? p1->vn : 0);
	if (np > TRACE_PERSONS_MAX || nv > TRACE_VECTORS_MAX) {
		t->records_full = 1;
		return 0;
	}
	/* both parts' vectors, each sorted (a set of pairs) */
	if ((t->vec_off = calloc(nv + 1, sizeof(uint32_t))) == NULL ||
	    (t->pairs = calloc(nv * nqi + 1, sizeof(uint64_t))) == NULL ||
	    (t->persons = calloc(np + 1, sizeof(*t->persons))) == NULL)
		goto out;
	base1 = p0 ? p0->vn : 0;
	for (k = 0; k < nv; k++) {
		const struct trace_part *p = k < base1 ? p0 : p1;
		const uint64_t *src = p->pool + (k < base1 ? k : k - base1) *
		    nqi;
		uint64_t *dst = t->pairs + k * nqi;

		memcpy(dst, src, nqi * sizeof(uint64_t));
		qsort(dst, nqi, sizeof(uint64_t), cmp_u64);
		t->vec_off[k] = (uint32_t)(k * nqi);
	}
	t->vec_off[nv] = (uint32_t)(nv * nqi);
	t->n_vectors = nv;
	/* The same vector may be in both parts: the second copy stays (a
	 * duplicate entry in the list is harmless, the history's dictionary
	 * merges equal sets). */
	for (i = 0, j = 0; p0 && i < p0->n; i++, j++) {
		t->persons[j].person = p0->rows[i].person;
		t->persons[j].vector = p0->rows[i].vector - 1;
	}
	for (i = 0; p1 && i < p1->n; i++, j++) {
		t->persons[j].person = p1->rows[i].person;
		t->persons[j].vector = (uint32_t)(base1 + p1->rows[i].vector -
		    1);
	}
	qsort(t->persons, j, sizeof(*t->persons), cmp_person);
	for (i = k = 0; i < j; i++)
		if (k == 0 || t->persons[k - 1].person != t->persons[i].person)
			t->persons[k++] = t->persons[i];
	t->n_persons = k;
	rc = 0;
out:
	return rc;
}

/* Tables: both parts' cells sorted by their dimension values; a repeated
 * cell summed (unknown when either is). */
static int
take_table(struct checker *ck, struct release_trace *t)
{
	struct trace_part *p0 = ck->t[0].tr, *p1 = ck->t[1].tr;
	size_t nd = ck->tr_ndim, nm = ck->tr_nmeas, w = nd + nm, n, i, j, k;
	uint64_t *all;

	t->table = 1;
	t->table_full = (p0 && p0->full) || (p1 && p1->full);
	if ((t->dims = calloc(nd + 1, sizeof(char *))) == NULL ||
	    (t->measures = calloc(nm + 1, sizeof(char *))) == NULL)
		return RG_ENOMEM;
	for (i = 0; i < nd; i++)
		if ((t->dims[t->n_dims++] = strdup(ck->cols[ck->tr_dim[i]].rule->
		    name)) == NULL)
			return RG_ENOMEM;
	for (i = 0; i < nm; i++) {
		const char *nm_ = ck->cols[ck->tr_meas[i]].rule->name;
		char sum[160];

		if (i >= ck->tr_ncount) {
			snprintf(sum, sizeof(sum), "sum:%s", nm_);
			nm_ = sum;
		}
		if ((t->measures[t->n_measures++] = strdup(nm_)) == NULL)
			return RG_ENOMEM;
	}
	if (t->table_full)
		return 0;
	n = (p0 ? p0->ncells : 0) + (p1 ? p1->ncells : 0);
	if ((all = calloc(n * w + 1, sizeof(uint64_t))) == NULL)
		return RG_ENOMEM;
	if (p0 && p0->ncells)
		memcpy(all, p0->cells, p0->ncells * w * sizeof(uint64_t));
	if (p1 && p1->ncells)
		memcpy(all + (p0 ? p0->ncells : 0) * w, p1->cells, p1->ncells * w *
		    sizeof(uint64_t));
	qsort_r(all, n, w * sizeof(uint64_t), cmp_cell, &nd);
	for (i = k = 0; i < n; i++) {
		uint64_t *c = all + i * w;

		if (k > 0 && memcmp(all + (k - 1) * w, c, nd *
		    sizeof(uint64_t)) == 0) {
			int64_t *into = (int64_t *)(all + (k - 1) * w + nd);

			for (j = 0; j < nm; j++) {
				int64_t x = (int64_t)c[nd + j];

				into[j] = into[j] < 0 || x < 0 ? -1 :
				    into[j] + x;
			}
			continue;
		}
		if (k != i)
			memmove(all + k * w, c, w * sizeof(uint64_t));
		k++;
	}
	t->n_cells = k;
	if ((t->cell_keys = calloc(k * nd + 1, sizeof(uint64_t))) == NULL ||
	    (t->cell_counts = calloc(k * nm + 1, sizeof(int64_t))) == NULL) {
		free(all);
		return RG_ENOMEM;
	}
	for (i = 0; i < k; i++) {
		memcpy(t->cell_keys + i * nd, all + i * w, nd *
		    sizeof(uint64_t));
		memcpy(t->cell_counts + i * nm, all + i * w + nd, nm *
		    sizeof(int64_t));
	}
	free(all);
	return 0;
}

int
checker_take_trace(struct checker *ck, struct release_trace **out)
{
	struct release_trace *t;
	int rc = 0;

	*out = NULL;
	if (!ck->tr_records && !ck->tr_table)
		return 0;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return RG_ENOMEM;
	if (ck->tr_records)
		rc = take_records(ck, t);
	else
		rc = take_table(ck, t);
	if (rc != 0) {
		release_trace_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void
release_trace_free(struct release_trace *t)
{
	size_t i;

	if (t == NULL)
		return;
	free(t->persons);
	free(t->vec_off);
	free(t->pairs);
	for (i = 0; i < t->n_dims; i++)
		free(t->dims[i]);
	for (i = 0; i < t->n_measures; i++)
		free(t->measures[i]);
	free(t->dims);
	free(t->measures);
	free(t->cell_keys);
	free(t->cell_counts);
	free(t);
}
