/*
 * Unit tests for the check engine (checks/checker.c, report.c): every rule
 * of product.md's "Checks" table, passing and failing, judged from the
 * report a user reads (rule name, status, count, row numbers, column).
 * Contracts are built in code.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "checks/checks.h"

#define TODAY	20600L		/* 2026-05-27 */
#define TOK_A	"a6550e36c60a7a969efc51b57a4fd119e23ba952577d2aec16616a74adf99407"
#define TOK_B	"a6486fe87f5a8b93682de4c872ec3b089ef2374e1a03def30c1c236df81c0fde"

/* ---- a contract built in code ---------------------------------------- */

struct fixture {
	struct contract c;
	struct dataset ds;
	struct column_rule cols[12];
	char	*qi[4];
	char	*unmasked[2];
};

static struct column_rule *
add_col(struct fixture *f, const char *name)
{
	struct column_rule *r = &f->cols[f->ds.n_columns++];

	memset(r, 0, sizeof(*r));
	r->name = (char *)name;
	return r;
}

static void
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->c.id = (char *)"TEST-2026-0001";
	f->c.status = CONTRACT_ACTIVE;
	f->c.valid_from = TODAY - 100;
	f->c.valid_until = TODAY + 100;
	f->c.assurance_expires = TODAY + 50;
	f->c.datasets = &f->ds;
	f->c.n_datasets = 1;
	f->ds.name = (char *)"claims";
	f->ds.max_rows = -1;
	f->ds.max_rows_total = -1;
	f->ds.max_releases = -1;
	f->ds.columns = f->cols;
}

/* ---- running the checker --------------------------------------------- */

struct run {
	struct check_report *rep;
	struct buf json, text;
	size_t	tokens;
	size_t	token_col;
	unsigned long rows_seen;
};

static int
count_token(void *arg, size_t col, const char *tok, size_t len)
{
	struct run *r = arg;

	assert_int_equal(len, 64);
	(void)tok;
	r->tokens++;
	r->token_col = col;
	return 0;
}

static int
count_row(void *arg, unsigned long row, const struct csv_field *f, size_t n)
{
	struct run *r = arg;

	(void)f; (void)n;
	assert_int_equal(row, r->rows_seen);
	r->rows_seen++;
	return 0;
}

/* Check csv (fed in 5-byte chunks) against f with options o (may be NULL). */
static void
check(struct run *r, struct fixture *f, const char *csv, struct check_opts *o)
{
	struct check_opts def;
	struct checker *ck;
	struct diag d;
	size_t len = strlen(csv), off;

	memset(r, 0, sizeof(*r));
	if (o == NULL) {
		check_opts_init(&def);
		o = &def;
	}
	if (o->today == DATE_UNSET)
		o->today = TODAY;
	o->arg = r;
	assert_int_equal(checker_new(&ck, &f->c, &f->ds, o, &d), 0);
	for (off = 0; off < len; off += 5)
		assert_int_equal(checker_feed(ck, csv + off,
		    len - off < 5 ? len - off : 5), 0);
	assert_int_equal(checker_finish(ck, &r->rep), 0);
	checker_free(ck);
	buf_init(&r->json, 1u << 20);
	buf_init(&r->text, 1u << 20);
	assert_int_equal(check_report_json(r->rep, &r->json), 0);
	assert_int_equal(check_report_text(r->rep, &r->text), 0);
	buf_cstr(&r->json);
	buf_cstr(&r->text);
	/* two threads give the same report, whatever the chunking */
	if (o->on_row == NULL && o->on_token == NULL && o->threads < 2) {
		struct check_opts o2 = *o;
		struct check_report *rep2;
		struct buf j2;
		size_t chunk;

		o2.threads = 2;
		for (chunk = 1; chunk <= 64; chunk *= 8) {
			assert_int_equal(checker_new(&ck, &f->c, &f->ds, &o2,
			    &d), 0);
			for (off = 0; off < len; off += chunk)
				assert_int_equal(checker_feed(ck, csv + off,
				    len - off < chunk ? len - off : chunk), 0);
			assert_int_equal(checker_finish(ck, &rep2), 0);
			checker_free(ck);
			buf_init(&j2, 1u << 20);
			assert_int_equal(check_report_json(rep2, &j2), 0);
			buf_cstr(&j2);
			if (strcmp((char *)j2.data, (char *)r->json.data) != 0)
				fail_msg("two threads, chunk %zu:\n%s\none:\n%s",
				    chunk, (char *)j2.data,
				    (char *)r->json.data);
			buf_free(&j2);
			check_report_free(rep2);
		}
	}
}

static void
done(struct run *r)
{
	check_report_free(r->rep);
	buf_free(&r->json);
	buf_free(&r->text);
}

/* The first result of rule (about column, when given). */
static const struct check_result *
res(const struct run *r, const char *rule, const char *column)
{
	size_t i;

	for (i = 0; i < r->rep->n_results; i++) {
		const struct check_result *x = &r->rep->results[i];

		if (strcmp(x->rule, rule) == 0 && (column == NULL ||
		    strcmp(x->column, column) == 0))
			return x;
	}
	fail_msg("no result for %s %s in\n%s", rule, column ? column : "",
	    (char *)r->text.data);
	return NULL;
}

static void
expect_status(const struct run *r, const char *rule, const char *column,
    enum check_status st)
{
	const struct check_result *x = res(r, rule, column);

	if (x->status != st)
		fail_msg("%s %s: status %d, want %d\n%s", rule,
		    column ? column : "", x->status, st, (char *)r->text.data);
}

static void
expect_fail(const struct run *r, const char *rule, const char *column,
    uint64_t count, const uint64_t *rows, size_t n_rows)
{
	const struct check_result *x = res(r, rule, column);
	size_t i;

	expect_status(r, rule, column, CHECK_FAIL);
	assert_int_equal(x->count, count);
	assert_int_equal(x->n_rows, n_rows);
	for (i = 0; i < n_rows; i++)
		assert_int_equal(x->rows[i], rows[i]);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_clean_pass(void **state)
{
	struct fixture f;
	struct run r;

	(void)state;
	fixture_init(&f);
	add_col(&f, "person_id")->masking = MASKING_HMAC_SHA256;
	add_col(&f, "sex")->n_allowed = 0;
	add_col(&f, "amount")->type = COLTYPE_INTEGER;
	check(&r, &f, "person_id,sex,amount\n" TOK_A ",F,10\n" TOK_B ",M,20\n",
	    NULL);
	assert_true(check_report_passed(r.rep));
	assert_string_equal(check_report_verdict(r.rep), "pass");
	assert_int_equal(r.rep->rows, 2);
	expect_status(&r, "contract.active", NULL, CHECK_PASS);
	expect_status(&r, "csv.wellformed", NULL, CHECK_PASS);
	expect_status(&r, "columns.allowed", NULL, CHECK_PASS);
	expect_status(&r, "identifiers.raw", NULL, CHECK_PASS);
	expect_status(&r, "masking.format", NULL, CHECK_PASS);
	expect_status(&r, "masking.linkable", NULL, CHECK_SKIP);
	expect_status(&r, "values.pattern", NULL, CHECK_SKIP);
	assert_non_null(strstr((char *)r.json.data, "\"verdict\": \"pass\""));
	assert_non_null(strstr((char *)r.text.data, "verdict: pass"));
	done(&r);
}

static void
test_contract_active(void **state)
{
	struct fixture f;
	struct run r;

	(void)state;
	fixture_init(&f);
	add_col(&f, "a");
	f.c.status = CONTRACT_SUSPENDED;
	check(&r, &f, "a\nx\n", NULL);
	expect_status(&r, "contract.active", NULL, CHECK_FAIL);
	assert_non_null(strstr(res(&r, "contract.active", NULL)->detail,
	    "suspended"));
	done(&r);
	f.c.status = CONTRACT_ACTIVE;
	f.c.assurance_expires = TODAY - 1;
	check(&r, &f, "a\nx\n", NULL);
	expect_status(&r, "contract.active", NULL, CHECK_FAIL);
	assert_non_null(strstr(res(&r, "contract.active", NULL)->detail,
	    "assurance"));
	done(&r);
	f.c.assurance_expires = DATE_UNSET;
	f.c.valid_until = TODAY - 1;
	check(&r, &f, "a\nx\n", NULL);
	expect_status(&r, "contract.active", NULL, CHECK_FAIL);
	assert_false(check_report_passed(r.rep));
	done(&r);
}

static void
test_columns(void **state)
{
	struct fixture f;
	struct run r;
	const struct check_result *x;

	(void)state;
	fixture_init(&f);
	add_col(&f, "a");
	add_col(&f, "b")->required = 1;
	/* an unknown column, a repeated one, a required one missing */
	check(&r, &f, "a,zzz,a\n1,2,3\n", NULL);
	x = res(&r, "columns.allowed", NULL);
	assert_int_equal(x->status, CHECK_FAIL);
	assert_non_null(strstr(x->detail, "zzz"));
	assert_non_null(strstr(x->detail, "a (repeated)"));
	expect_status(&r, "columns.allowed", "b", CHECK_FAIL);
	done(&r);
	check(&r, &f, "b,a\n1,2\n", NULL);
	expect_status(&r, "columns.allowed", NULL, CHECK_PASS);
	done(&r);
	/* names are shown as UTF-8; control and invalid bytes as '?' */
	check(&r, &f, "b,a,caf\xc3\xa9,x\x01y,\xff\n1,2,3,4,5\n", NULL);
	assert_non_null(strstr(res(&r, "columns.allowed", NULL)->detail,
	    "not allowed: caf\xc3\xa9, x?y, ?"));
	done(&r);
}

static void
test_rows(void **state)
{
	struct fixture f;
	struct run r;
	struct check_opts o;

	(void)state;
	fixture_init(&f);
	add_col(&f, "a");
	f.ds.max_rows = 2;
	f.ds.max_rows_total = 10;
	f.ds.max_releases = 3;
	check(&r, &f, "a\n1\n2\n", NULL);
	expect_status(&r, "rows.max", NULL, CHECK_PASS);
	expect_status(&r, "rows.total", NULL, CHECK_PASS);
	done(&r);
	check(&r, &f, "a\n1\n2\n3\n", NULL);
	expect_fail(&r, "rows.max", NULL, 0, NULL, 0);
	assert_non_null(strstr(res(&r, "rows.max", NULL)->detail,
	    "3 rows, max_rows 2"));
	done(&r);
	/* totals come from the gateway's state */
	check_opts_init(&o);
	o.rows_total_before = 9;
	check(&r, &f, "a\n1\n2\n", &o);
	expect_status(&r, "rows.total", NULL, CHECK_FAIL);
	done(&r);
	check_opts_init(&o);
	o.releases_before = 3;
	check(&r, &f, "a\n1\n", &o);
	expect_status(&r, "rows.total", NULL, CHECK_FAIL);
	assert_non_null(strstr(res(&r, "rows.total", NULL)->detail,
	    "max_releases"));
	done(&r);
}

static void
test_wellformed(void **state)
{
	struct fixture f;
	struct run r;
	static const uint64_t rows[] = { 2, 4 };

	(void)state;
	fixture_init(&f);
	add_col(&f, "a");
	add_col(&f, "b");
	check(&r, &f, "a,b\n1,2\n3\n5,6\n7,8,9\n", NULL);
	expect_fail(&r, "csv.wellformed", NULL, 2, rows, 2);
	assert_non_null(strstr(res(&r, "csv.wellformed", NULL)->detail,
	    "ragged"));
	done(&r);
	check(&r, &f, "a,b\n1,\"2\n", NULL);
	expect_status(&r, "csv.wellformed", NULL, CHECK_FAIL);
	assert_non_null(strstr(res(&r, "csv.wellformed", NULL)->detail,
	    "unterminated"));
	done(&r);
	/* an empty file cannot be checked */
	check(&r, &f, "", NULL);
	assert_false(r.rep->complete);
	assert_false(check_report_passed(r.rep));
	assert_non_null(strstr(r.rep->error, "no header"));
	done(&r);
	/* header only: nothing to check, which is not a pass */
	check(&r, &f, "a,b\n", NULL);
	assert_false(r.rep->complete);
	assert_int_equal(r.rep->rows, 0);
	assert_false(check_report_passed(r.rep));
	assert_non_null(strstr(r.rep->error, "no data rows"));
	done(&r);
}

static void
test_types(void **state)
{
	struct fixture f;
	struct run r;
	static const uint64_t r2[] = { 2 }, r13[] = { 1, 3 };

	(void)state;
	fixture_init(&f);
	add_col(&f, "i")->type = COLTYPE_INTEGER;
	add_col(&f, "d")->type = COLTYPE_DECIMAL;
	add_col(&f, "dt")->type = COLTYPE_DATE;
	add_col(&f, "ym")->type = COLTYPE_YEAR_MONTH;
	add_col(&f, "y")->type = COLTYPE_YEAR;
	check(&r, &f, "i,d,dt,ym,y\n"
	    "1,1.5,2026-02-28,2026-01,2026\n"
	    "x,-2,2026-02-29,2026-13,26\n"
	    "-3,1.,2024-02-29,2026-12,1999\n", NULL);
	expect_fail(&r, "values.type", "i", 1, r2, 1);
	expect_fail(&r, "values.type", "d", 1, (const uint64_t[]){ 3 }, 1);
	expect_fail(&r, "values.type", "dt", 1, r2, 1);
	expect_fail(&r, "values.type", "ym", 1, r2, 1);
	expect_fail(&r, "values.type", "y", 1, r2, 1);
	/* dates in a date-typed column are released on purpose */
	expect_status(&r, "identifiers.raw", NULL, CHECK_PASS);
	done(&r);
	(void)r13;
}

static void
test_allowed_pattern_range(void **state)
{
	struct fixture f;
	struct run r;
	struct column_rule *c;
	static char *sexes[] = { (char *)"F", (char *)"M" };

	(void)state;
	fixture_init(&f);
	c = add_col(&f, "sex");
	c->allowed = sexes;
	c->n_allowed = 2;
	add_col(&f, "code")->pattern = (char *)"[A-Z]{2}[0-9]";
	c = add_col(&f, "n");
	c->has_min = c->has_max = 1;
	c->min = 0;
	c->max = 100;
	check(&r, &f, "sex,code,n\nF,AB1,0\nX,AB12,101\nM,xAB1,-1\nMM,AB1,7.5\n",
	    NULL);
	expect_fail(&r, "values.allowed", "sex", 2, (const uint64_t[]){ 2, 4 },
	    2);
	/* anchored at both ends */
	expect_fail(&r, "values.pattern", "code", 2, (const uint64_t[]){ 2, 3 },
	    2);
	expect_fail(&r, "values.range", "n", 2, (const uint64_t[]){ 2, 3 }, 2);
	done(&r);
	check(&r, &f, "sex,code,n\nF,ZZ9,100\n", NULL);
	expect_status(&r, "values.allowed", NULL, CHECK_PASS);
	expect_status(&r, "values.pattern", NULL, CHECK_PASS);
	expect_status(&r, "values.range", NULL, CHECK_PASS);
	done(&r);
}

static void
test_allowed_lengths(void **state)
{
	struct fixture f;
	struct run r;
	struct column_rule *c;
	static char *vals[] = { (char *)"1234567", (char *)"12345678",
	    (char *)"a longer value", (char *)"" , (char *)"x" };

	(void)state;
	fixture_init(&f);
	c = add_col(&f, "v");
	c->allowed = vals;
	c->n_allowed = 5;
	check(&r, &f, "v\n1234567\n1234568\n12345678\n12345679\n"
	    "a longer value\na longer valuf\nx\nxx\n123456\n", NULL);
	expect_fail(&r, "values.allowed", "v", 5,
	    (const uint64_t[]){ 2, 4, 6, 8, 9 }, 5);
	done(&r);
}

static void
test_bad_pattern(void **state)
{
	struct fixture f;
	struct checker *ck = NULL;
	struct check_opts o;
	struct diag d;

	(void)state;
	fixture_init(&f);
	add_col(&f, "code")->pattern = (char *)"[A-Z";
	check_opts_init(&o);
	assert_int_equal(checker_new(&ck, &f.c, &f.ds, &o, &d), RG_EINVAL);
	assert_null(ck);
	assert_non_null(strstr(d.msg, "pattern"));
}

static void
test_rounding_granularity_required(void **state)
{
	struct fixture f;
	struct run r;

	(void)state;
	fixture_init(&f);
	add_col(&f, "amt")->rounding = 5;
	add_col(&f, "pc")->granularity = GRAN_POSTCODE_DISTRICT;
	add_col(&f, "sec")->granularity = GRAN_POSTCODE_SECTOR;
	add_col(&f, "ym")->granularity = GRAN_YEAR_MONTH;
	add_col(&f, "req")->required = 1;
	check(&r, &f, "amt,pc,sec,ym,req\n"
	    "10,LS1,LS1 4,2026-01,x\n"
	    "12,LS1 4AB,LS1 4AB,2026-01-05,\n"
	    "15,SW1A,SW,2026,y\n"
	    "x,LS1 4,LS1,2026-02,z\n", NULL);
	expect_fail(&r, "values.rounding", "amt", 2, (const uint64_t[]){ 2, 4 },
	    2);
	expect_fail(&r, "values.granularity", "pc", 2,
	    (const uint64_t[]){ 2, 4 }, 2);
	expect_fail(&r, "values.granularity", "sec", 1,
	    (const uint64_t[]){ 2 }, 1);
	expect_fail(&r, "values.granularity", "ym", 1, (const uint64_t[]){ 2 },
	    1);
	expect_fail(&r, "values.required", "req", 1, (const uint64_t[]){ 2 },
	    1);
	/* the full postcode is also a raw identifier wherever it stands */
	expect_status(&r, "identifiers.raw", "pc", CHECK_FAIL);
	done(&r);
	check(&r, &f, "amt,pc,sec,ym,req\n"
	    "10,LS1,LS1 4,2026-01,x\n"
	    "-15,SW1A,SW,2026,y\n"
	    ",M,M1 1,,z\n", NULL);
	expect_status(&r, "values.rounding", NULL, CHECK_PASS);
	expect_status(&r, "values.granularity", NULL, CHECK_PASS);
	expect_status(&r, "values.required", NULL, CHECK_PASS);
	expect_status(&r, "identifiers.raw", NULL, CHECK_PASS);
	done(&r);
}

static void
test_rounding_numbers(void **state)
{
	struct fixture f;
	struct run r;

	(void)state;
	fixture_init(&f);
	add_col(&f, "amt")->rounding = 5;
	add_col(&f, "big")->rounding = 4294967311L;	/* > 2^32 */
	check(&r, &f, "amt,big\n"
	    "-10,0\n"
	    "5000000000,8589934622\n"		/* 2 * 4294967311 */
	    "5000000001,4294967310\n"
	    "4294967295,-4294967311\n"		/* 2^32 - 1 = 5 * 858993459 */
	    "-7,1\n", NULL);
	expect_fail(&r, "values.rounding", "amt", 2, (const uint64_t[]){ 3, 5 },
	    2);
	expect_fail(&r, "values.rounding", "big", 2, (const uint64_t[]){ 3, 5 },
	    2);
	done(&r);
}

static void
test_unique(void **state)
{
	struct fixture f;
	struct run r;

	(void)state;
	fixture_init(&f);
	add_col(&f, "id");
	f.ds.one_row_per = (char *)"id";
	check(&r, &f, "id\n1\n2\n1\n3\n2\n1\n", NULL);
	expect_fail(&r, "values.unique", "id", 3, (const uint64_t[]){ 3, 5, 6 },
	    3);
	done(&r);
	check(&r, &f, "id\n1\n2\n3\n", NULL);
	expect_status(&r, "values.unique", "id", CHECK_PASS);
	done(&r);
}

static void
test_identifiers(void **state)
{
	struct fixture f;
	struct run r;
	const char *json;

	(void)state;
	fixture_init(&f);
	add_col(&f, "note");
	add_col(&f, "other");
	check(&r, &f, "note,other\n"
	    "fine,ok\n"
	    "NI AB123456C,ok\n"
	    "mail ann@example.org,07700 900123\n"
	    "seen 1980-02-29,943 476 5919\n", NULL);
	expect_fail(&r, "identifiers.raw", "note", 1, (const uint64_t[]){ 2 },
	    1);
	json = (char *)r.json.data;
	/* the report names row, column and kind, never the value */
	assert_null(strstr(json, "AB123456C"));
	assert_null(strstr(json, "ann@example.org"));
	assert_null(strstr(json, "900123"));
	assert_null(strstr(json, "5919"));
	assert_null(strstr((char *)r.text.data, "AB123456C"));
	assert_non_null(strstr(json, "National Insurance number"));
	assert_non_null(strstr(json, "email address"));
	assert_non_null(strstr(json, "UK phone number"));
	assert_non_null(strstr(json, "NHS number"));
	assert_non_null(strstr(json, "full date"));
	assert_false(check_report_passed(r.rep));
	done(&r);
}

static void
test_nhs_share(void **state)
{
	struct fixture f;
	struct run r;

	(void)state;
	fixture_init(&f);
	add_col(&f, "ref");
	/* ten-digit references, all with valid NHS check digits: flagged */
	check(&r, &f, "ref\n9434765919\n4010232137\n4505577104\n", NULL);
	expect_fail(&r, "identifiers.raw", "ref", 3,
	    (const uint64_t[]){ 1, 2, 3 }, 3);
	done(&r);
	/* one valid among many invalid ones: chance, not flagged */
	check(&r, &f, "ref\n9434765919\n1234567891\n1234567892\n1234567893\n"
	    "1234567894\n1234567895\n1234567896\n1234567897\n", NULL);
	expect_status(&r, "identifiers.raw", NULL, CHECK_PASS);
	done(&r);
}

static void
test_unmasked_exempt(void **state)
{
	struct fixture f;
	struct run r;
	struct column_rule *c;

	(void)state;
	fixture_init(&f);
	c = add_col(&f, "email");
	c->masking = MASKING_NONE;
	check(&r, &f, "email\nann@example.org\n", NULL);
	expect_status(&r, "identifiers.raw", "email", CHECK_FAIL);
	done(&r);
	/* listed in unmasked.columns with a justification: exempt, and the
	 * report says so */
	f.unmasked[0] = (char *)"email";
	f.c.unmasked_columns = f.unmasked;
	f.c.n_unmasked_columns = 1;
	f.c.unmasked_justification = (char *)"survey contact";
	c->unmasked = 1;
	check(&r, &f, "email\nann@example.org\n", NULL);
	expect_status(&r, "identifiers.raw", NULL, CHECK_PASS);
	assert_non_null(strstr((char *)r.json.data, "\"unmasked\""));
	assert_non_null(strstr((char *)r.text.data, "survey contact"));
	done(&r);
}

static void
test_masking(void **state)
{
	struct fixture f;
	struct run r;
	struct check_opts o;
	struct column_rule *c;

	(void)state;
	fixture_init(&f);
	add_col(&f, "x");
	add_col(&f, "pid")->masking = MASKING_HMAC_SHA256;
	check_opts_init(&o);
	o.on_token = count_token;
	check(&r, &f, "x,pid\n1," TOK_A "\n2,AB123456C\n3," TOK_B "\n"
	    "4,A6550E36C60A7A969EFC51B57A4FD119E23BA952577D2AEC16616A74ADF99407\n",
	    &o);
	assert_int_equal(r.tokens, 2);
	assert_int_equal(r.token_col, 1);
	expect_fail(&r, "masking.format", "pid", 2, (const uint64_t[]){ 2, 4 },
	    2);
	/* a raw id in a masked column is still a raw identifier */
	expect_fail(&r, "identifiers.raw", "pid", 1, (const uint64_t[]){ 2 },
	    1);
	assert_null(strstr((char *)r.json.data, "AB123456C"));
	assert_null(strstr((char *)r.json.data, "A6550E36"));
	/* the caller judges linkability and marks it */
	assert_int_equal(check_report_mark(r.rep, "masking.linkable",
	    CHECK_FAIL, 1, "pid", "tokens seen under another contract"), 0);
	expect_status(&r, "masking.linkable", "pid", CHECK_FAIL);
	done(&r);
	/* masking_mode apply: raw ids expected, format judged on output */
	c = &f.cols[1];
	c->masking_mode = MASKING_MODE_APPLY;
	check_opts_init(&o);
	o.on_token = count_token;
	check(&r, &f, "x,pid\n1,AB123456C\n", &o);
	assert_int_equal(r.tokens, 0);
	expect_status(&r, "masking.format", NULL, CHECK_PASS);
	expect_status(&r, "identifiers.raw", NULL, CHECK_PASS);
	assert_true(check_report_passed(r.rep));
	done(&r);
}

static void
test_kanon(void **state)
{
	struct fixture f;
	struct run r;
	struct buf csv;
	int i;

	(void)state;
	fixture_init(&f);
	add_col(&f, "age");
	add_col(&f, "sex");
	f.qi[0] = (char *)"age";
	f.qi[1] = (char *)"sex";
	f.ds.quasi_identifiers = f.qi;
	f.ds.n_quasi_identifiers = 2;
	f.ds.k_anonymity = 3;
	buf_init(&csv, 1 << 16);
	buf_printf(&csv, "age,sex\n");
	for (i = 0; i < 6; i++)
		buf_printf(&csv, "16-24,%s\n", i % 2 ? "F" : "M");	/* 3+3 */
	buf_printf(&csv, "25-34,F\n25-34,F\n65+,M\n");		/* 2, 1 */
	buf_cstr(&csv);
	check(&r, &f, (char *)csv.data, NULL);
	expect_fail(&r, "disclosure.k_anonymity", NULL, 2,
	    (const uint64_t[]){ 7, 9 }, 2);
	assert_non_null(strstr(res(&r, "disclosure.k_anonymity", NULL)->detail,
	    "3 records"));
	done(&r);
	f.ds.k_anonymity = 1;
	check(&r, &f, (char *)csv.data, NULL);
	expect_status(&r, "disclosure.k_anonymity", NULL, CHECK_PASS);
	done(&r);
	buf_free(&csv);
}

static void
test_tables(void **state)
{
	struct fixture f;
	struct run r;
	struct column_rule *c;

	(void)state;
	fixture_init(&f);
	f.ds.is_table = 1;
	f.ds.min_cell_count = 10;
	f.ds.rounding = 5;
	add_col(&f, "region");
	c = add_col(&f, "claimants");
	c->type = COLTYPE_INTEGER;
	c->count = 1;
	c = add_col(&f, "top");
	c->type = COLTYPE_INTEGER;
	f.ds.dominance.set = 1;
	f.ds.dominance.total_column = (char *)"claimants";
	f.ds.dominance.top_column = (char *)"top";
	f.ds.dominance.percent = 50;
	check(&r, &f, "region,claimants,top\n"
	    "North,100,10\n"
	    "South,5,1\n"		/* below min, a multiple of 5 */
	    "East,0,0\n"		/* zero is fine */
	    "West,*,1\n"		/* suppressed */
	    "Wales,12,3\n"		/* not a multiple of 5 */
	    "Scot,20,15\n",		/* dominance */
	    NULL);
	expect_fail(&r, "disclosure.min_cell", "claimants", 1,
	    (const uint64_t[]){ 2 }, 1);
	expect_fail(&r, "disclosure.rounding", "claimants", 1,
	    (const uint64_t[]){ 5 }, 1);
	expect_fail(&r, "disclosure.dominance", NULL, 1,
	    (const uint64_t[]){ 6 }, 1);
	expect_status(&r, "disclosure.k_anonymity", NULL, CHECK_SKIP);
	done(&r);
	check(&r, &f, "region,claimants,top\nNorth,100,10\n", NULL);
	expect_status(&r, "disclosure.min_cell", NULL, CHECK_PASS);
	expect_status(&r, "disclosure.rounding", NULL, CHECK_PASS);
	expect_status(&r, "disclosure.dominance", NULL, CHECK_PASS);
	done(&r);
}

static void
test_row_callback_and_json(void **state)
{
	struct fixture f;
	struct run r;
	struct check_opts o;
	const char *j;

	(void)state;
	fixture_init(&f);
	add_col(&f, "a");
	check_opts_init(&o);
	o.on_row = count_row;
	check(&r, &f, "a\n1\n2\n3\n", &o);
	assert_int_equal(r.rows_seen, 4);	/* header + 3 */
	j = (char *)r.json.data;
	assert_true(strncmp(j, "{\"verdict\": \"pass\", \"contract\": "
	    "\"TEST-2026-0001\", \"dataset\": \"claims\", \"rows\": 3", 80) == 0);
	assert_non_null(strstr(j, "{\"rule\": \"rows.max\", \"status\": "
	    "\"skip\""));
	done(&r);
}

/* Several MiB pushed in one call, one thread and two: the same report. */
static void
test_big_feed(void **state)
{
	struct fixture f;
	struct buf csv, j1, j2;
	struct check_opts o;
	struct checker *ck;
	struct check_report *rep;
	struct diag d;
	int i, th;
	static char *sexes[] = { (char *)"F", (char *)"M" };
	struct column_rule *c;

	(void)state;
	fixture_init(&f);
	add_col(&f, "id");
	c = add_col(&f, "sex");
	c->allowed = sexes;
	c->n_allowed = 2;
	add_col(&f, "note");
	f.ds.one_row_per = (char *)"id";
	f.qi[0] = (char *)"sex";
	f.ds.quasi_identifiers = f.qi;
	f.ds.n_quasi_identifiers = 1;
	f.ds.k_anonymity = 5;
	buf_init(&csv, 64u << 20);
	buf_printf(&csv, "id,sex,note\n");
	for (i = 0; i < 300000; i++)
		buf_printf(&csv, "%d,%s,\"text, %s\"\n", i % 299990,
		    i == 123456 ? "X" : (i % 2 ? "F" : "M"),
		    i == 250000 ? "AB123456C" : "plain");
	buf_init(&j1, 1u << 20);
	buf_init(&j2, 1u << 20);
	for (th = 1; th <= 2; th++) {
		check_opts_init(&o);
		o.today = TODAY;
		o.threads = th;
		assert_int_equal(checker_new(&ck, &f.c, &f.ds, &o, &d), 0);
		assert_int_equal(checker_feed(ck, csv.data, csv.len), 0);
		assert_int_equal(checker_finish(ck, &rep), 0);
		assert_int_equal(rep->rows, 300000);
		assert_int_equal(check_report_json(rep, th == 1 ? &j1 : &j2), 0);
		check_report_free(rep);
		checker_free(ck);
	}
	buf_cstr(&j1);
	buf_cstr(&j2);
	assert_string_equal((char *)j1.data, (char *)j2.data);
	assert_non_null(strstr((char *)j1.data, "\"rule\": \"values.unique\", "
	    "\"status\": \"fail\", \"count\": 10, \"rows\": [299991, 299992, "
	    "299993, 299994, 299995]"));
	assert_non_null(strstr((char *)j1.data, "\"rows\": [123457], "
	    "\"column\": \"sex\""));
	assert_non_null(strstr((char *)j1.data, "\"rows\": [250001], "
	    "\"column\": \"note\", \"detail\": \"National Insurance"));
	buf_free(&csv);
	buf_free(&j1);
	buf_free(&j2);
}

static void
test_row_too_long(void **state)
{
	struct fixture f;
	struct checker *ck;
	struct check_opts o;
	struct check_report *rep;
	struct diag d;
	char *big;
	size_t n = 200000;

	(void)state;
	fixture_init(&f);
	add_col(&f, "a");
	check_opts_init(&o);
	o.today = TODAY;
	o.max_row = 65536;
	o.max_field = 4096;
	assert_int_equal(checker_new(&ck, &f.c, &f.ds, &o, &d), 0);
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	assert_int_equal(checker_feed(ck, "a\nok\n", 5), 0);
	assert_int_equal(checker_feed(ck, big, n), 0);
	assert_int_equal(checker_feed(ck, "\nmore\n", 6), 0);
	assert_int_equal(checker_finish(ck, &rep), 0);
	assert_false(rep->complete);
	assert_false(check_report_passed(rep));
	assert_non_null(strstr(rep->error, "row 2"));
	check_report_free(rep);
	checker_free(ck);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_pass),
		cmocka_unit_test(test_contract_active),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_wellformed),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_allowed_pattern_range),
		cmocka_unit_test(test_allowed_lengths),
		cmocka_unit_test(test_bad_pattern),
		cmocka_unit_test(test_rounding_granularity_required),
		cmocka_unit_test(test_rounding_numbers),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_nhs_share),
		cmocka_unit_test(test_unmasked_exempt),
		cmocka_unit_test(test_masking),
		cmocka_unit_test(test_kanon),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_row_callback_and_json),
		cmocka_unit_test(test_big_feed),
		cmocka_unit_test(test_row_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
