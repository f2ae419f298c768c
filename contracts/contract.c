/*
 * contracts/ID.yaml: one contract, validated strictly on its own (the
 * references to users and keys are checked by config_dir.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "contracts/contracts.h"
#include "contracts/ytree.h"

#define CONTRACT_MAX_DATASETS	64
#define CONTRACT_MAX_COLUMNS	1024
#define CONTRACT_MAX_PEOPLE	1000
#define CONTRACT_MAX_ALLOWED	10000
#define CONTRACT_TEXT_MAX	4096

/* Retention when a contract has no `retention:`. */
#define DEFAULT_DOWNLOAD_DAYS	14
#define DEFAULT_MAX_DOWNLOADS	3

static void
column_clear(struct column_rule *r)
{
	free(r->name);
	strlist_free(r->allowed, r->n_allowed);
	free(r->pattern);
}

static void
dataset_clear(struct dataset *ds)
{
	size_t i;

	free(ds->name);
	free(ds->one_row_per);
	for (i = 0; i < ds->n_columns; i++)
		column_clear(&ds->columns[i]);
	free(ds->columns);
	strlist_free(ds->quasi_identifiers, ds->n_quasi_identifiers);
	free(ds->dominance.total_column);
	free(ds->dominance.top_column);
}

/* Free a contract and everything it owns; NULL-safe. */
void
contract_free(struct contract *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->id);
	free(c->title);
	free(c->purpose);
	free(c->organisation);
	free(c->assurance_scheme);
	free(c->assurance_ref);
	strlist_free(c->people, c->n_people);
	strlist_free(c->approvers, c->n_approvers);
	strlist_free(c->recipients, c->n_recipients);
	for (i = 0; i < c->n_datasets; i++)
		dataset_clear(&c->datasets[i]);
	free(c->datasets);
	free(c->unmasked_justification);
	strlist_free(c->unmasked_columns, c->n_unmasked_columns);
	free(c->path);
	free(c->people_pos);
	free(c->approvers_pos);
	free(c->recipients_pos);
	free(c);
}

/* Borrowed dataset by name, or the only one when name is NULL. */
const struct dataset *
contract_dataset(const struct contract *c, const char *name)
{
	size_t i;

	if (c == NULL)
		return NULL;
	if (name == NULL)
		return c->n_datasets == 1 ? &c->datasets[0] : NULL;
	for (i = 0; i < c->n_datasets; i++)
		if (strcmp(c->datasets[i].name, name) == 0)
			return &c->datasets[i];
	return NULL;
}

/* Borrowed column rule by name, or NULL. */
const struct column_rule *
dataset_column(const struct dataset *ds, const char *name)
{
	size_t i;

	if (ds == NULL || name == NULL)
		return NULL;
	for (i = 0; i < ds->n_columns; i++)
		if (strcmp(ds->columns[i].name, name) == 0)
			return &ds->columns[i];
	return NULL;
}

/* 1 when c is active on day today; else 0 and the reason in why. */
int
contract_is_active(const struct contract *c, long today, char *why,
    size_t whylen)
{
	static const char *const st[] = { "draft", "active", "suspended",
	    "expired" };
	const char *reason = NULL;

	if (c->status != CONTRACT_ACTIVE)
		reason = st[c->status];
	else if (today < c->valid_from)
		reason = "not yet valid (valid_from is in the future)";
	else if (today > c->valid_until)
		reason = "past its valid_until date";
	else if (c->assurance_expires != DATE_UNSET &&
	    today > c->assurance_expires)
		reason = "the contractor's assurance has expired";
	if (reason == NULL)
		return 1;
	if (why != NULL && whylen > 0) {
		if (c->status != CONTRACT_ACTIVE)
			snprintf(why, whylen, "contract status is %s", reason);
		else
			snprintf(why, whylen, "contract is %s", reason);
	}
	return 0;
}

/* A CSV column name: 1..128 bytes, no control characters. */
static int
column_name_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= 128 || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static const char *const column_keys[] = {
	"type", "allowed", "pattern", "min", "max", "rounding", "granularity",
	"required", "masking", "masking_mode", "count", NULL
};

static int
parse_pattern(struct column_rule *r, const struct ynode *v, const char *f,
    struct diag *d)
{
	PCRE2_UCHAR msg[200];
	PCRE2_SIZE off;
	pcre2_code *re;
	int rc, ec;

	if ((rc = yget_str(&r->pattern, v, "pattern", 1024, f, d)))
		return rc;
	re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED,
	    PCRE2_ANCHORED | PCRE2_UTF, &ec, &off, NULL);
	if (re == NULL) {
		pcre2_get_error_message(ec, msg, sizeof(msg));
		return yerr(d, RG_EPARSE, f, v, "'pattern' is not a valid "
		    "regular expression: %s at offset %zu", (char *)msg,
		    (size_t)off);
	}
	pcre2_code_free(re);
	return RG_OK;
}

static int
parse_column(struct column_rule *r, const struct ynode *m, int is_table,
    const char *f, struct diag *d)
{
	static const char *const types[] = { "any", "string", "integer",
	    "decimal", "date", "year-month", "year", NULL };
	static const char *const grans[] = { "none", "postcode-district",
	    "postcode-sector", "year", "year-month", NULL };
	static const char *const maskings[] = { "unset", "hmac-sha256",
	    "none", NULL };
	static const char *const modes[] = { "verify", "apply", NULL };
	const struct ynode *v;
	char what[200];
	int rc, x, numeric;

	snprintf(what, sizeof(what), "column '%.128s'", r->name);
	if ((rc = ymap_check(m, column_keys, NULL, what, f, d)))
		return rc;
	if ((v = ymap_get(m, "type"))) {
		if ((rc = yget_enum(&x, v, "type", types, f, d)))
			return rc;
		if (x == 0)
			return yerr(d, RG_EPARSE, f, v, "'type' must be one of "
			    "string, integer, decimal, date, year-month, year");
		r->type = (enum col_type)x;
	}
	numeric = r->type == COLTYPE_INTEGER || r->type == COLTYPE_DECIMAL ||
	    r->type == COLTYPE_YEAR;
	if ((v = ymap_get(m, "allowed"))) {
		if ((rc = yget_strlist(&r->allowed, &r->n_allowed, NULL, v,
		    "allowed", CONTRACT_MAX_ALLOWED, 1024, 1, f, d)))
			return rc;
		if (r->n_allowed == 0)
			return yerr(d, RG_EPARSE, f, v,
			    "'allowed' must list at least one value");
	}
	if ((v = ymap_get(m, "pattern")) && (rc = parse_pattern(r, v, f, d)))
		return rc;
	if ((v = ymap_get(m, "min"))) {
		if (!numeric)
			return yerr(d, RG_EPARSE, f, v, "'min' needs type "
			    "integer, decimal or year");
		if ((rc = yget_double(&r->min, v, "min", f, d)))
			return rc;
		r->has_min = 1;
	}
	if ((v = ymap_get(m, "max"))) {
		if (!numeric)
			return yerr(d, RG_EPARSE, f, v, "'max' needs type "
			    "integer, decimal or year");
		if ((rc = yget_double(&r->max, v, "max", f, d)))
			return rc;
		r->has_max = 1;
		if (r->has_min && r->min > r->max)
			return yerr(d, RG_EPARSE, f, v,
			    "'max' is smaller than 'min'");
	}
	if ((v = ymap_get(m, "rounding"))) {
		if (r->type != COLTYPE_INTEGER && r->type != COLTYPE_DECIMAL)
			return yerr(d, RG_EPARSE, f, v, "'rounding' needs "
			    "type integer or decimal");
		if ((rc = yget_long(&r->rounding, v, "rounding", 1, 1000000000L,
		    f, d)))
			return rc;
	}
	if ((v = ymap_get(m, "granularity"))) {
		if ((rc = yget_enum(&x, v, "granularity", grans, f, d)))
			return rc;
		if (x == 0)
			return yerr(d, RG_EPARSE, f, v, "'granularity' must be "
			    "one of postcode-district, postcode-sector, year, "
			    "year-month");
		r->granularity = (enum granularity)x;
	}
	if ((v = ymap_get(m, "required")) &&
	    (rc = yget_bool(&r->required, v, "required", f, d)))
		return rc;
	if ((v = ymap_get(m, "masking"))) {
		if ((rc = yget_enum(&x, v, "masking", maskings, f, d)))
			return rc;
		if (x == 0)
			return yerr(d, RG_EPARSE, f, v,
			    "'masking' must be hmac-sha256 or none");
		r->masking = (enum masking)x;
		if (r->masking == MASKING_HMAC_SHA256 &&
		    r->type != COLTYPE_ANY && r->type != COLTYPE_STRING)
			return yerr(d, RG_EPARSE, f, v, "a masked column holds "
			    "tokens: its type must be string or unset");
		if (r->masking == MASKING_HMAC_SHA256 &&
		    (r->allowed || r->pattern || r->granularity))
			return yerr(d, RG_EPARSE, f, v, "a masked column cannot "
			    "also have allowed, pattern or granularity");
	}
	if ((v = ymap_get(m, "masking_mode"))) {
		if (r->masking != MASKING_HMAC_SHA256)
			return yerr(d, RG_EPARSE, f, v, "'masking_mode' needs "
			    "masking: hmac-sha256");
		if ((rc = yget_enum(&x, v, "masking_mode", modes, f, d)))
			return rc;
		r->masking_mode = (enum masking_mode)x;
	}
	if ((v = ymap_get(m, "count"))) {
		if ((rc = yget_bool(&r->count, v, "count", f, d)))
			return rc;
		if (r->count && !is_table)
			return yerr(d, RG_EPARSE, f, v, "'count' is only for "
			    "datasets of kind: table");
		if (r->count && r->type != COLTYPE_ANY &&
		    r->type != COLTYPE_INTEGER)
			return yerr(d, RG_EPARSE, f, v, "a count column must "
			    "have type integer");
		if (r->count)
			r->type = COLTYPE_INTEGER;
	}
	return RG_OK;
}

static int
parse_columns(struct dataset *ds, const struct ynode *m, const char *f,
    struct diag *d)
{
	char what[200];
	size_t i;
	int rc;

	snprintf(what, sizeof(what), "dataset '%s' columns", ds->name);
	if (m->kind == YNODE_MAP && m->n / 2 > CONTRACT_MAX_COLUMNS)
		return yerr(d, RG_EPARSE, f, m, "%s: more than %d columns",
		    what, CONTRACT_MAX_COLUMNS);
	if ((rc = ymap_check(m, NULL, NULL, what, f, d)))
		return rc;
	if (m->n == 0)
		return yerr(d, RG_EPARSE, f, m, "%s: at least one column is "
		    "needed", what);
	if ((ds->columns = calloc(m->n / 2, sizeof(*ds->columns))) == NULL)
		return diag_set(d, RG_ENOMEM, f, 0, 0, "out of memory");
	for (i = 0; i + 1 < m->n; i += 2) {
		struct column_rule *r = &ds->columns[ds->n_columns++];

		if (!column_name_ok(m->kids[i]->str))
			return yerr(d, RG_EPARSE, f, m->kids[i], "column name "
			    "must be 1 to 128 printable characters");
		if ((r->name = strdup(m->kids[i]->str)) == NULL)
			return diag_set(d, RG_ENOMEM, f, 0, 0,
			    "out of memory");
		if ((rc = parse_column(r, m->kids[i + 1], ds->is_table, f, d)))
			return rc;
	}
	return RG_OK;
}

/* The column a key names must be in the dataset. */
static int
need_column(const struct dataset *ds, const char *col, const struct ynode *v,
    const char *key, const char *f, struct diag *d)
{
	if (dataset_column(ds, col) == NULL)
		return yerr(d, RG_EPARSE, f, v, "'%s' names '%.128s', which is "
		    "not a column of dataset '%s'", key, col, ds->name);
	return RG_OK;
}

static int
numeric_type(const struct column_rule *r)
{
	return r != NULL && (r->type == COLTYPE_INTEGER ||
	    r->type == COLTYPE_DECIMAL);
}

static int
parse_dominance(struct dataset *ds, const struct ynode *m, const char *f,
    struct diag *d)
{
	static const char *const keys[] = { "total", "top", "percent", NULL };
	const struct ynode *v;
	int rc;

	if ((rc = ymap_check(m, keys, keys, "dominance", f, d)))
		return rc;
	v = ymap_get(m, "total");
	if ((rc = yget_str(&ds->dominance.total_column, v, "total", 128, f,
	    d)) || (rc = need_column(ds, ds->dominance.total_column, v,
	    "total", f, d)))
		return rc;
	v = ymap_get(m, "top");
	if ((rc = yget_str(&ds->dominance.top_column, v, "top", 128, f, d)) ||
	    (rc = need_column(ds, ds->dominance.top_column, v, "top", f, d)))
		return rc;
	if (strcmp(ds->dominance.top_column, ds->dominance.total_column) == 0)
		return yerr(d, RG_EPARSE, f, v, "'top' and 'total' must be "
		    "different columns");
	if (!numeric_type(dataset_column(ds, ds->dominance.total_column)) ||
	    !numeric_type(dataset_column(ds, ds->dominance.top_column)))
		return yerr(d, RG_EPARSE, f, m, "dominance: 'total' and 'top' "
		    "must be columns of type integer or decimal");
	v = ymap_get(m, "percent");
	if ((rc = yget_double(&ds->dominance.percent, v, "percent", f, d)))
		return rc;
	if (ds->dominance.percent <= 0 || ds->dominance.percent > 100)
		return yerr(d, RG_EPARSE, f, v,
		    "'percent' must be more than 0 and at most 100");
	ds->dominance.set = 1;
	return RG_OK;
}

static const char *const dataset_keys[] = {
	"kind", "max_rows", "max_rows_total", "max_releases", "one_row_per",
	"columns", "quasi_identifiers", "k_anonymity", "min_cell_count",
	"rounding", "dominance", NULL
};
static const char *const record_only[] = {
	"one_row_per", "quasi_identifiers", "k_anonymity", NULL
};
static const char *const table_only[] = {
	"min_cell_count", "rounding", "dominance", NULL
};

static int
parse_dataset(struct dataset *ds, const struct ynode *m, const char *f,
    struct diag *d)
{
	static const char *const kinds[] = { "record", "table", NULL };
	const struct ynode *v;
	char what[200];
	size_t i;
	int rc;

	snprintf(what, sizeof(what), "dataset '%s'", ds->name);
	if ((rc = ymap_check(m, dataset_keys, NULL, what, f, d)))
		return rc;
	if ((v = ymap_get(m, "kind")) &&
	    (rc = yget_enum(&ds->is_table, v, "kind", kinds, f, d)))
		return rc;
	for (i = 0; record_only[i] && ds->is_table; i++)
		if ((v = ymap_key(m, record_only[i])))
			return yerr(d, RG_EPARSE, f, v, "%s: '%s' is only for "
			    "record-level datasets, not kind: table", what,
			    record_only[i]);
	for (i = 0; table_only[i] && !ds->is_table; i++)
		if ((v = ymap_key(m, table_only[i])))
			return yerr(d, RG_EPARSE, f, v, "%s: '%s' is only for "
			    "datasets of kind: table", what, table_only[i]);
	if ((v = ymap_get(m, "columns")) == NULL)
		return yerr(d, RG_EPARSE, f, m, "%s: missing required key "
		    "'columns'", what);
	if ((rc = parse_columns(ds, v, f, d)))
		return rc;
	if ((v = ymap_get(m, "max_rows")) && (rc = yget_long(&ds->max_rows,
	    v, "max_rows", 1, 1000000000000L, f, d)))
		return rc;
	if (v == NULL && !ds->is_table)
		return yerr(d, RG_EPARSE, f, m, "%s: missing required key "
		    "'max_rows'", what);
	if ((v = ymap_get(m, "max_rows_total"))) {
		if ((rc = yget_long(&ds->max_rows_total, v, "max_rows_total",
		    1, 1000000000000L, f, d)))
			return rc;
		if (ds->max_rows > 0 && ds->max_rows_total < ds->max_rows)
			return yerr(d, RG_EPARSE, f, v, "'max_rows_total' is "
			    "smaller than 'max_rows'");
	}
	if ((v = ymap_get(m, "max_releases")) && (rc = yget_long(
	    &ds->max_releases, v, "max_releases", 1, 1000000, f, d)))
		return rc;
	if ((v = ymap_get(m, "one_row_per")) &&
	    ((rc = yget_str(&ds->one_row_per, v, "one_row_per", 128, f, d)) ||
	    (rc = need_column(ds, ds->one_row_per, v, "one_row_per", f, d))))
		return rc;
	if ((v = ymap_get(m, "quasi_identifiers"))) {
		if ((rc = yget_strlist(&ds->quasi_identifiers,
		    &ds->n_quasi_identifiers, NULL, v, "quasi_identifiers",
		    CONTRACT_MAX_COLUMNS, 128, 1, f, d)))
			return rc;
		for (i = 0; i < ds->n_quasi_identifiers; i++)
			if ((rc = need_column(ds, ds->quasi_identifiers[i],
			    v->kids[i], "quasi_identifiers", f, d)))
				return rc;
		if (ds->n_quasi_identifiers == 0)
			return yerr(d, RG_EPARSE, f, v, "'quasi_identifiers' "
			    "must name at least one column");
	}
	if ((v = ymap_get(m, "k_anonymity"))) {
		if ((rc = yget_long(&ds->k_anonymity, v, "k_anonymity", 2,
		    1000000, f, d)))
			return rc;
		if (ds->n_quasi_identifiers == 0)
			return yerr(d, RG_EPARSE, f, v, "'k_anonymity' needs "
			    "'quasi_identifiers'");
	} else if (ds->n_quasi_identifiers > 0)
		return yerr(d, RG_EPARSE, f, ymap_key(m, "quasi_identifiers"),
		    "'quasi_identifiers' needs 'k_anonymity'");
	if (!ds->is_table)
		return RG_OK;
	if ((v = ymap_get(m, "min_cell_count")) == NULL)
		return yerr(d, RG_EPARSE, f, m, "%s: missing required key "
		    "'min_cell_count'", what);
	if ((rc = yget_long(&ds->min_cell_count, v, "min_cell_count", 1,
	    1000000, f, d)))
		return rc;
	if ((v = ymap_get(m, "rounding")) == NULL)
		return yerr(d, RG_EPARSE, f, m, "%s: missing required key "
		    "'rounding'", what);
	if ((rc = yget_long(&ds->rounding, v, "rounding", 1, 1000000, f, d)))
		return rc;
	for (i = 0; i < ds->n_columns; i++)
		if (ds->columns[i].count)
			break;
	if (i == ds->n_columns)
		return yerr(d, RG_EPARSE, f, ymap_get(m, "columns"), "%s: a "
		    "table needs at least one column with count: true", what);
	if ((v = ymap_get(m, "dominance")) &&
	    (rc = parse_dominance(ds, v, f, d)))
		return rc;
	return RG_OK;
}

static int
parse_datasets(struct contract *c, const struct ynode *m, const char *f,
    struct diag *d)
{
	size_t i;
	int rc;

	if (m->kind == YNODE_MAP && m->n / 2 > CONTRACT_MAX_DATASETS)
		return yerr(d, RG_EPARSE, f, m, "more than %d datasets",
		    CONTRACT_MAX_DATASETS);
	if ((rc = ymap_check(m, NULL, NULL, "datasets", f, d)))
		return rc;
	if (m->n == 0)
		return yerr(d, RG_EPARSE, f, m,
		    "'datasets' must name at least one dataset");
	if ((c->datasets = calloc(m->n / 2, sizeof(*c->datasets))) == NULL)
		return diag_set(d, RG_ENOMEM, f, 0, 0, "out of memory");
	for (i = 0; i + 1 < m->n; i += 2) {
		struct dataset *ds = &c->datasets[c->n_datasets++];

		ds->max_rows = ds->max_rows_total = ds->max_releases = -1;
		if (!name_is_safe(m->kids[i]->str, 128))
			return yerr(d, RG_EPARSE, f, m->kids[i], "dataset "
			    "name must be letters, digits, '.', '_', '-'");
		if ((ds->name = strdup(m->kids[i]->str)) == NULL)
			return diag_set(d, RG_ENOMEM, f, 0, 0,
			    "out of memory");
		if ((rc = parse_dataset(ds, m->kids[i + 1], f, d)))
			return rc;
	}
	return RG_OK;
}

static int
parse_contractor(struct contract *c, const struct ynode *m, const char *f,
    struct diag *d)
{
	static const char *const keys[] = { "organisation", "assurance",
	    NULL };
	static const char *const req[] = { "organisation", NULL };
	static const char *const akeys[] = { "scheme", "ref", "expires",
	    NULL };
	const struct ynode *v, *a;
	int rc;

	if ((rc = ymap_check(m, keys, req, "contractor", f, d)))
		return rc;
	v = ymap_get(m, "organisation");
	if ((rc = yget_str(&c->organisation, v, "organisation", 128, f, d)))
		return rc;
	if (!name_is_safe(c->organisation, 128))
		return yerr(d, RG_EPARSE, f, v, "'organisation' must be a "
		    "name of letters, digits, '.', '_' and '-'");
	if ((a = ymap_get(m, "assurance")) == NULL)
		return RG_OK;
	if ((rc = ymap_check(a, akeys, akeys, "assurance", f, d)))
		return rc;
	if ((rc = yget_str(&c->assurance_scheme, ymap_get(a, "scheme"),
	    "scheme", 128, f, d)) ||
	    (rc = yget_str(&c->assurance_ref, ymap_get(a, "ref"), "ref", 128,
	    f, d)) ||
	    (rc = yget_date(&c->assurance_expires, ymap_get(a, "expires"),
	    "expires", f, d)))
		return rc;
	return RG_OK;
}

/* Upper-case a fingerprint in place, dropping spaces; 1 when 40 hex. */
static int
fpr_normalise(char *s)
{
	size_t i, o = 0;

	for (i = 0; s[i] != '\0'; i++) {
		char ch = s[i];
		if (ch == ' ')
			continue;
		if (ch >= 'a' && ch <= 'f')
			ch = (char)(ch - 'a' + 'A');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F')))
			return 0;
		s[o++] = ch;
	}
	s[o] = '\0';
	return o == 40;
}

static int
parse_recipients(struct contract *c, const struct ynode *v, const char *f,
    struct diag *d)
{
	size_t i, j;
	int rc;

	if ((rc = yget_strlist(&c->recipients, &c->n_recipients,
	    &c->recipients_pos, v, "recipients", 64, 100, 0, f, d)))
		return rc;
	if (c->n_recipients == 0)
		return yerr(d, RG_EPARSE, f, v,
		    "'recipients' must list at least one fingerprint");
	for (i = 0; i < c->n_recipients; i++) {
		if (!fpr_normalise(c->recipients[i]))
			return yerr(d, RG_EPARSE, f, v->kids[i], "recipient "
			    "must be a 40-digit hex OpenPGP fingerprint");
		for (j = 0; j < i; j++)
			if (strcmp(c->recipients[i], c->recipients[j]) == 0)
				return yerr(d, RG_EPARSE, f, v->kids[i],
				    "'recipients' lists %s twice",
				    c->recipients[i]);
	}
	return RG_OK;
}

static int
parse_names(char ***out, size_t *n, struct src_pos **pos,
    const struct ynode *v, const char *key, int nonempty, const char *f,
    struct diag *d)
{
	size_t i;
	int rc;

	if ((rc = yget_strlist(out, n, pos, v, key, CONTRACT_MAX_PEOPLE, 64,
	    1, f, d)))
		return rc;
	if (nonempty && *n == 0)
		return yerr(d, RG_EPARSE, f, v, "'%s' must name at least one "
		    "user", key);
	for (i = 0; i < *n; i++)
		if (!name_is_safe((*out)[i], 64))
			return yerr(d, RG_EPARSE, f, v->kids[i], "'%s': "
			    "'%.64s' is not a valid user name", key,
			    (*out)[i]);
	return RG_OK;
}

/* Find a column by name in any dataset. */
static struct column_rule *
any_column(struct contract *c, const char *name, int masking)
{
	size_t i, j;

	for (i = 0; i < c->n_datasets; i++)
		for (j = 0; j < c->datasets[i].n_columns; j++)
			if (strcmp(c->datasets[i].columns[j].name, name) == 0 &&
			    (masking < 0 ||
			    (int)c->datasets[i].columns[j].masking == masking))
				return &c->datasets[i].columns[j];
	return NULL;
}

static int
parse_unmasked(struct contract *c, const struct ynode *root, const char *f,
    struct diag *d)
{
	static const char *const keys[] = { "justification", "columns",
	    NULL };
	const struct ynode *m = ymap_get(root, "unmasked"), *v;
	size_t i, j, k;
	int rc;

	if (m != NULL) {
		if ((rc = ymap_check(m, keys, keys, "unmasked", f, d)))
			return rc;
		v = ymap_get(m, "justification");
		if ((rc = yget_str(&c->unmasked_justification, v,
		    "justification", CONTRACT_TEXT_MAX, f, d)))
			return rc;
		if (strspn(c->unmasked_justification, " \t\r\n") ==
		    strlen(c->unmasked_justification))
			return yerr(d, RG_EPARSE, f, v,
			    "'justification' must say why");
		v = ymap_get(m, "columns");
		if ((rc = yget_strlist(&c->unmasked_columns,
		    &c->n_unmasked_columns, NULL, v, "columns",
		    CONTRACT_MAX_COLUMNS, 128, 1, f, d)))
			return rc;
		if (c->n_unmasked_columns == 0)
			return yerr(d, RG_EPARSE, f, v, "'unmasked' columns "
			    "must name at least one column");
		for (i = 0; i < c->n_unmasked_columns; i++)
			if (any_column(c, c->unmasked_columns[i],
			    MASKING_NONE) == NULL)
				return yerr(d, RG_EPARSE, f, v->kids[i],
				    "unmasked column '%.128s' is not a column "
				    "with masking: none",
				    c->unmasked_columns[i]);
		if (c->approvals_required != 2)
			return yerr(d, RG_EPARSE, f,
			    ymap_get(root, "approvals_required") ?
			    ymap_get(root, "approvals_required") :
			    ymap_key(root, "unmasked"), "a contract with "
			    "'unmasked' needs approvals_required: 2");
	}
	/* Every masking: none column must be justified. */
	for (i = 0; i < c->n_datasets; i++) {
		struct dataset *ds = &c->datasets[i];

		for (j = 0; j < ds->n_columns; j++) {
			struct column_rule *r = &ds->columns[j];

			if (r->masking != MASKING_NONE)
				continue;
			for (k = 0; k < c->n_unmasked_columns; k++)
				if (strcmp(c->unmasked_columns[k], r->name) ==
				    0)
					break;
			if (k == c->n_unmasked_columns) {
				const struct ynode *dm, *cm;

				dm = ymap_get(ymap_get(root, "datasets"),
				    ds->name);
				cm = ymap_key(ymap_get(dm, "columns"), r->name);
				return yerr(d, RG_EPARSE, f, cm, "column '%s' "
				    "has masking: none but is not listed in "
				    "unmasked: columns (with a justification)",
				    r->name);
			}
			r->unmasked = 1;
		}
	}
	return RG_OK;
}

static const char *const contract_keys[] = {
	"id", "version", "title", "purpose", "status", "valid_from",
	"valid_until", "contractor", "people", "approvers",
	"approvals_required", "recipients", "retention", "datasets",
	"unmasked", NULL
};
static const char *const contract_required[] = {
	"id", "version", "title", "purpose", "status", "valid_from",
	"valid_until", "contractor", "people", "approvers", "recipients",
	"datasets", NULL
};

static int
parse_contract(struct contract *c, const struct ynode *root, const char *f,
    struct diag *d)
{
	static const char *const states[] = { "draft", "active", "suspended",
	    "expired", NULL };
	static const char *const rkeys[] = { "download_days",
	    "max_downloads", NULL };
	const struct ynode *v, *r;
	size_t i, j;
	int rc, x;

	if ((rc = ymap_check(root, contract_keys, contract_required,
	    "contract", f, d)))
		return rc;
	v = ymap_get(root, "id");
	if ((rc = yget_str(&c->id, v, "id", 64, f, d)))
		return rc;
	if (!name_is_safe(c->id, 64))
		return yerr(d, RG_EPARSE, f, v, "'id' must be letters, digits, "
		    "'.', '_', '-' (at most 64), as it names a folder");
	c->id_pos.line = v->line;
	c->id_pos.col = v->col;
	if ((rc = yget_long(&c->version, ymap_get(root, "version"), "version",
	    1, 1000000, f, d)) ||
	    (rc = yget_str(&c->title, ymap_get(root, "title"), "title", 256,
	    f, d)) ||
	    (rc = yget_str(&c->purpose, ymap_get(root, "purpose"), "purpose",
	    CONTRACT_TEXT_MAX, f, d)) ||
	    (rc = yget_enum(&x, ymap_get(root, "status"), "status", states, f,
	    d)))
		return rc;
	c->status = (enum contract_status)x;
	if ((rc = yget_date(&c->valid_from, ymap_get(root, "valid_from"),
	    "valid_from", f, d)) ||
	    (rc = yget_date(&c->valid_until, ymap_get(root, "valid_until"),
	    "valid_until", f, d)))
		return rc;
	if (c->valid_until < c->valid_from)
		return yerr(d, RG_EPARSE, f, ymap_get(root, "valid_until"),
		    "'valid_until' is before 'valid_from'");
	if ((rc = parse_contractor(c, ymap_get(root, "contractor"), f, d)))
		return rc;
	if ((rc = parse_names(&c->people, &c->n_people, &c->people_pos,
	    ymap_get(root, "people"), "people", 0, f, d)) ||
	    (rc = parse_names(&c->approvers, &c->n_approvers,
	    &c->approvers_pos, ymap_get(root, "approvers"), "approvers", 1, f,
	    d)))
		return rc;
	for (i = 0; i < c->n_approvers; i++)
		for (j = 0; j < c->n_people; j++)
			if (strcmp(c->approvers[i], c->people[j]) == 0)
				return yerr(d, RG_EPARSE, f,
				    ymap_get(root, "approvers")->kids[i],
				    "'%s' is both a person and an approver",
				    c->approvers[i]);
	c->approvals_required = 1;
	if ((v = ymap_get(root, "approvals_required"))) {
		if ((rc = yget_int(&c->approvals_required, v,
		    "approvals_required", 1, 2, f, d)))
			return rc;
		if ((size_t)c->approvals_required > c->n_approvers)
			return yerr(d, RG_EPARSE, f, v, "approvals_required: "
			    "%d needs at least %d approvers",
			    c->approvals_required, c->approvals_required);
	}
	if ((rc = parse_recipients(c, ymap_get(root, "recipients"), f, d)))
		return rc;
	c->download_days = DEFAULT_DOWNLOAD_DAYS;
	c->max_downloads = DEFAULT_MAX_DOWNLOADS;
	if ((r = ymap_get(root, "retention"))) {
		if ((rc = ymap_check(r, rkeys, NULL, "retention", f, d)))
			return rc;
		if ((v = ymap_get(r, "download_days")) && (rc = yget_long(
		    &c->download_days, v, "download_days", 1, 3650, f, d)))
			return rc;
		if ((v = ymap_get(r, "max_downloads")) && (rc = yget_long(
		    &c->max_downloads, v, "max_downloads", 1, 1000000, f, d)))
			return rc;
	}
	if ((rc = parse_datasets(c, ymap_get(root, "datasets"), f, d)))
		return rc;
	return parse_unmasked(c, root, f, d);
}

/*
 * Parse and validate one contract from memory. name is used in
 * diagnostics and kept as the contract's path. *out is the caller's.
 */
int
contract_parse(struct contract **out, const char *data, size_t len,
    const char *name, struct diag *d)
{
	struct ynode *root = NULL;
	struct contract *c;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(name)) == NULL) {
		free(c);
		return diag_set(d, RG_ENOMEM, name, 0, 0, "out of memory");
	}
	c->valid_from = c->valid_until = DATE_UNSET;
	c->assurance_expires = DATE_UNSET;
	if ((rc = ytree_parse(&root, data, len, name, d)) == RG_OK)
		rc = parse_contract(c, root, name, d);
	ynode_free(root);
	if (rc) {
		contract_free(c);
		return rc;
	}
	*out = c;
	return RG_OK;
}

/*
 * Load and validate one contract file on its own (no users, no keys).
 * *out is the caller's (contract_free()).
 */
int
contract_load(struct contract **out, const char *path, struct diag *d)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = file_read_small(&data, &len, path, YTREE_MAX_FILE, d)))
		return rc;
	rc = contract_parse(out, data, len, path, d);
	free(data);
	return rc;
}
