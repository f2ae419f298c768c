/*
 * Unit tests for cumulative disclosure control (disclosure/, checks/trace.c):
 * the record-level merge judged against a brute-force join of everything
 * released, over generated release sequences (the property that matters:
 * whatever was published, the combined data is k-anonymous), the table
 * differencing rule, and the trace and history files refusing damaged
 * input.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "disclosure/internal.h"
#include "keys/keys.h"

/* ---- a contract and the checker -------------------------------------- */

static struct contract *
contract_from(const char *yaml)
{
	struct contract *c = NULL;
	struct diag d;

	diag_clear(&d);
	if (contract_parse(&c, yaml, strlen(yaml), "test.yaml", &d) != 0) {
		char m[1200];

		diag_format(&d, m, sizeof(m));
		fail_msg("contract: %s", m);
	}
	return c;
}

/* Check csv as dataset ds with the trace on; the report and the trace. */
static struct release_trace *
trace_of(const struct contract *c, const char *ds, const char *csv,
    int threads, struct masker *m, struct check_report **rep)
{
	struct check_opts o;
	struct checker *ck = NULL;
	struct release_trace *t = NULL;
	struct check_report *r = NULL;
	struct diag d;

	check_opts_init(&o);
	o.today = 20600;
	o.threads = threads;
	o.trace = 1;
	o.trace_masker = m;
	diag_clear(&d);
	assert_int_equal(checker_new(&ck, c, contract_dataset(c, ds), &o, &d),
	    0);
	assert_int_equal(checker_feed(ck, csv, strlen(csv)), 0);
	assert_int_equal(checker_finish(ck, &r), 0);
	assert_int_equal(checker_take_trace(ck, &t), 0);
	checker_free(ck);
	if (rep != NULL)
		*rep = r;
	else
		check_report_free(r);
	assert_non_null(t);
	return t;
}

/* Everything a contract needs before its datasets (id: ID). */
#define CONTRACT_HEAD(id) \
    "id: " id "\nversion: 1\ntitle: t\npurpose: p\nstatus: active\n" \
    "valid_from: 2026-01-01\nvalid_until: 2030-12-31\n" \
    "contractor: {organisation: org, assurance: {scheme: ISO27001, " \
    "ref: r, expires: 2030-12-31}}\npeople: [a]\napprovers: [b]\n" \
    "approvals_required: 1\n" \
    "recipients: [0123456789ABCDEF0123456789ABCDEF01234567]\n" \
    "retention: {download_days: 14, max_downloads: 3}\ndatasets:\n"

static char tmpdir[64];
static const struct check_result *rule(const struct check_report *r,
    const char *name);

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rg-disc-unit.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char three_datasets[] =
    CONTRACT_HEAD("T-1")
    "  a:\n    max_rows: 100000\n    one_row_per: person_id\n"
    "    columns: {person_id: {}, age: {}, region: {}}\n"
    "    quasi_identifiers: [age, region]\n    k_anonymity: 10\n"
    "  b:\n    max_rows: 100000\n    one_row_per: person_id\n"
    "    columns: {person_id: {}, age: {}, sex: {}}\n"
    "    quasi_identifiers: [age, sex]\n    k_anonymity: 10\n"
    "  c:\n    max_rows: 100000\n    one_row_per: person_id\n"
    "    columns: {person_id: {}, region: {}, tenure: {}}\n"
    "    quasi_identifiers: [region, tenure]\n    k_anonymity: 10\n";

/* 80 people, 10 in each (age, sex, region), 5 in each with tenure too. */
static char *
people_csv(const char *which)
{
	static const char *age[] = { "25-34", "35-44" }, *sex[] = { "F", "M" },
	    *region[] = { "North", "South" }, *ten[] = { "own", "rent" };
	struct buf b;
	int i;

	buf_init(&b, 1 << 20);
	if (strcmp(which, "a") == 0)
		buf_printf(&b, "person_id,age,region\n");
	else if (strcmp(which, "b") == 0)
		buf_printf(&b, "person_id,age,sex\n");
	else
		buf_printf(&b, "person_id,region,tenure\n");
	for (i = 0; i < 80; i++) {
		if (strcmp(which, "a") == 0)
			buf_printf(&b, "P%04d,%s,%s\n", i, age[i % 2],
			    region[(i / 4) % 2]);
		else if (strcmp(which, "b") == 0)
			buf_printf(&b, "P%04d,%s,%s\n", i, age[i % 2],
			    sex[(i / 2) % 2]);
		else
			buf_printf(&b, "P%04d,%s,%s\n", i, region[(i / 4) % 2],
			    ten[(i / 8) % 2]);
	}
	buf_cstr(&b);
	return (char *)b.data;
}

/* Three releases that each pass k = 10 alone fail together: a then b join
 * into 8 classes of 10; c splits each in two. */
static void
test_three_releases_fail_together(void **state)
{
	struct contract *c = contract_from(three_datasets);
	const char *names[] = { "a", "b", "c" };
	char cur[256] = "", next[256];
	struct cumulative_result res;
	struct diag d;
	int i;

	(void)state;
	diag_clear(&d);
	for (i = 0; i < 3; i++) {
		char *csv = people_csv(names[i]);
		struct check_report *rep;
		struct release_trace *t = trace_of(c, names[i], csv, 1 + i % 2,
		    NULL, &rep);

		/* alone: passes k-anonymity */
		assert_true(check_report_passed(rep));
		snprintf(next, sizeof(next), "%s/h%d", tmpdir, i);
		assert_int_equal(history_merge(cur, &t, 1, 10, next, &res, &d),
		    0);
		assert_int_equal(res.persons, 80);
		assert_int_equal(res.releases_before, (uint64_t)i);
		if (i == 0) {
			assert_int_equal(res.classes, 4);
			assert_int_equal(res.short_classes, 0);
		} else if (i == 1) {
			assert_int_equal(res.classes, 8);
			assert_int_equal(res.short_classes, 0);
		} else {
			assert_int_equal(res.classes, 16);
			assert_int_equal(res.short_classes, 16);
			assert_int_equal(res.short_people, 80);
		}
		snprintf(cur, sizeof(cur), "%s", next);
		release_trace_free(t);
		check_report_free(rep);
		free(csv);
	}
	contract_free(c);
}

/* One thread or two: the same trace. */
static void
test_two_threads_same_trace(void **state)
{
	struct contract *c = contract_from(three_datasets);
	struct buf b;
	struct release_trace *t1, *t2;
	struct cumulative_result r1, r2;
	struct diag d;
	size_t i;

	(void)state;
	buf_init(&b, 16 << 20);
	buf_printf(&b, "person_id,age,region\n");
	for (i = 0; i < 200000; i++)
		buf_printf(&b, "Q%zu,%zu,R%zu\n", i, i % 7, i % 5);
	buf_cstr(&b);
	t1 = trace_of(c, "a", (const char *)b.data, 1, NULL, NULL);
	t2 = trace_of(c, "a", (const char *)b.data, 2, NULL, NULL);
	assert_int_equal(t1->n_persons, 200000);
	assert_int_equal(t2->n_persons, 200000);
	for (i = 0; i < t1->n_persons; i++)
		assert_true(t1->persons[i].person == t2->persons[i].person);
	diag_clear(&d);
	assert_int_equal(history_merge(NULL, &t1, 1, 10, NULL, &r1, &d), 0);
	assert_int_equal(history_merge(NULL, &t2, 1, 10, NULL, &r2, &d), 0);
	assert_int_equal(r1.classes, 35);
	assert_int_equal(r2.classes, 35);
	assert_int_equal(r1.short_classes, 0);
	release_trace_free(t1);
	release_trace_free(t2);
	buf_free(&b);
	contract_free(c);
}

/* ---- the property, over generated release sequences ------------------ */

#define POOL	240
#define NATTR	4
#define STEPS	40

static const char *const attr_name[NATTR] = { "age", "sex", "region",
    "tenure" };

struct world {
	int	val[POOL][NATTR];	/* a person's base values */
	/* what the contractor holds: per person, per attribute, a bit per
	 * value seen (values 0..7) */
	unsigned char held[POOL][NATTR];
	int	in_any[POOL];
};

static uint32_t rnd_state;

static uint32_t
rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* The contractor's classes from `held` (people in no release left out):
 * short classes and the people in them, by brute force. */
static void
brute_force(const unsigned char held[POOL][NATTR], const int *in_any,
    long k, uint64_t *classes, uint64_t *short_classes, uint64_t *short_people)
{
	int seen[POOL];
	int i, j;

	*classes = *short_classes = *short_people = 0;
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < POOL; i++) {
		int n = 0;

		if (!in_any[i] || seen[i])
			continue;
		for (j = i; j < POOL; j++)
			if (in_any[j] && memcmp(held[i], held[j], NATTR) == 0) {
				seen[j] = 1;
				n++;
			}
		(*classes)++;
		if (n < k) {
			(*short_classes)++;
			*short_people += (uint64_t)n;
		}
	}
}

static void
run_sequence(uint32_t seed)
{
	static const char *yaml_head =
	    CONTRACT_HEAD("T-2");
	struct world *w = calloc(1, sizeof(*w));
	struct buf y;
	struct contract *c;
	char cur[256] = "", next[256];
	int s, i, j, published = 0, refused = 0;
	long k = 5;

	assert_non_null(w);
	rnd_state = seed;
	/* every non-empty subset of the four attributes is a dataset */
	buf_init(&y, 1 << 16);
	buf_printf(&y, "%s", yaml_head);
	for (s = 1; s < (1 << NATTR); s++) {
		buf_printf(&y, "  d%d:\n    max_rows: 100000\n    one_row_per: "
		    "person_id\n    columns: {person_id: {}", s);
		for (j = 0; j < NATTR; j++)
			if (s & (1 << j))
				buf_printf(&y, ", %s: {}", attr_name[j]);
		buf_printf(&y, "}\n    quasi_identifiers: [");
		for (i = 0, j = 0; j < NATTR; j++)
			if (s & (1 << j))
				buf_printf(&y, "%s%s", i++ ? ", " : "",
				    attr_name[j]);
		buf_printf(&y, "]\n    k_anonymity: %ld\n", k);
	}
	buf_cstr(&y);
	c = contract_from((const char *)y.data);
	for (i = 0; i < POOL; i++)
		for (j = 0; j < NATTR; j++)
			w->val[i][j] = (int)(rnd() % (j == 1 ? 2 : 3));
	for (s = 0; s < STEPS; s++) {
		int set = 1 + (int)(rnd() % 15), drift = (int)(rnd() % 4) == 0;
		unsigned char held[POOL][NATTR];
		int in_any[POOL], in_rel[POOL];
		uint64_t bc, bs, bp;
		struct cumulative_result res;
		struct release_trace *t;
		struct buf csv;
		char dsname[8];
		struct diag d;

		memcpy(held, w->held, sizeof(held));
		memcpy(in_any, w->in_any, sizeof(in_any));
		buf_init(&csv, 1 << 20);
		buf_printf(&csv, "person_id");
		for (j = 0; j < NATTR; j++)
			if (set & (1 << j))
				buf_printf(&csv, ",%s", attr_name[j]);
		buf_printf(&csv, "\n");
		for (i = 0; i < POOL; i++) {
			/* a person's values may move (an age band later) */
			in_rel[i] = (int)(rnd() % 3) != 0;
			if (!in_rel[i])
				continue;
			buf_printf(&csv, "id-%d", i);
			for (j = 0; j < NATTR; j++) {
				int v = w->val[i][j] + (drift && j == 0 &&
				    i % 7 == 0);

				if (!(set & (1 << j)))
					continue;
				buf_printf(&csv, ",v%d", v);
				held[i][j] |= (unsigned char)(1u << v);
			}
			in_any[i] = 1;
			buf_printf(&csv, "\n");
		}
		buf_cstr(&csv);
		snprintf(dsname, sizeof(dsname), "d%d", set);
		t = trace_of(c, dsname, (const char *)csv.data, 1 + s % 2, NULL,
		    NULL);
		snprintf(next, sizeof(next), "%s/p%u-%d", tmpdir, seed, s);
		diag_clear(&d);
		assert_int_equal(history_merge(cur, &t, 1, k, next, &res, &d), 0);
		brute_force((const unsigned char (*)[NATTR])held, in_any, k, &bc,
		    &bs, &bp);
		/* the merge sees exactly what a join of everything shows */
		assert_int_equal(res.classes, bc);
		assert_int_equal(res.short_classes, bs);
		assert_int_equal(res.short_people, bp);
		if (res.short_classes == 0) {
			/* published: the contractor now holds it */
			memcpy(w->held, held, sizeof(held));
			memcpy(w->in_any, in_any, sizeof(in_any));
			if (cur[0])
				unlink(cur);
			snprintf(cur, sizeof(cur), "%s", next);
			published++;
		} else {
			unlink(next);
			refused++;
		}
		/* what was published is k-anonymous, whatever came before */
		brute_force((const unsigned char (*)[NATTR])w->held, w->in_any, k,
		    &bc, &bs, &bp);
		assert_int_equal(bs, 0);
		release_trace_free(t);
		buf_free(&csv);
	}
	/* the sequence exercised both outcomes */
	assert_true(published > 1);
	assert_true(refused > 0);
	contract_free(c);
	buf_free(&y);
	free(w);
}

static void
test_property_generated_sequences(void **state)
{
	uint32_t seed;

	(void)state;
	for (seed = 1; seed <= 6; seed++)
		run_sequence(seed * 7919u);
}

/* The contract's strictest k holds over the history: a release of a dataset
 * with k = 2 is judged at the k = 10 an earlier dataset promised. Judged
 * through disclosure_judge() with a state directory that has no state.db
 * yet (an empty history, as relgate check -c sees it). */
static void
test_strictest_k_of_the_contract(void **state)
{
	static const char yaml[] =
	    CONTRACT_HEAD("T-5")
	    "  strict:\n    max_rows: 100\n    one_row_per: person_id\n"
	    "    columns: {person_id: {}, age: {}}\n"
	    "    quasi_identifiers: [age]\n    k_anonymity: 10\n"
	    "  loose:\n    max_rows: 100\n    one_row_per: person_id\n"
	    "    columns: {person_id: {}, age: {}}\n"
	    "    quasi_identifiers: [age]\n    k_anonymity: 2\n";
	struct contract *c = contract_from(yaml);
	struct history_store *hs = NULL;
	struct check_report *rep;
	struct release_trace *t;
	const struct check_result *res;
	struct buf b;
	struct diag d;
	int i;

	(void)state;
	buf_init(&b, 1 << 16);
	buf_printf(&b, "person_id,age\n");
	for (i = 0; i < 10; i++)
		buf_printf(&b, "p%d,%d\n", i, i % 2);	/* two classes of 5 */
	buf_cstr(&b);
	t = trace_of(c, "loose", (const char *)b.data, 1, NULL, &rep);
	diag_clear(&d);
	assert_int_equal(history_store_open(&hs, tmpdir, &d), 0);
	assert_int_equal(disclosure_judge(hs, c, contract_dataset(c, "loose"),
	    &t, 1, &rep, NULL, NULL, 0, &d), 0);
	assert_int_equal(rule(rep, "disclosure.k_anonymity")->status,
	    CHECK_PASS);
	res = rule(rep, "disclosure.cumulative");
	assert_int_equal(res->status, CHECK_FAIL);
	assert_int_equal(res->count, 2);
	assert_non_null(strstr(res->detail, "fewer than 10 people"));
	assert_non_null(strstr(res->detail, "first release"));
	history_store_close(hs);
	check_report_free(rep);
	/* a host without the gateway's state directory has no history: the
	 * rule says so (skip), it does not claim a first release */
	{
		char none[128];

		snprintf(none, sizeof(none), "%s/not-a-state-dir", tmpdir);
		release_trace_free(t);
		t = trace_of(c, "loose", (const char *)b.data, 1, NULL, &rep);
		assert_int_equal(history_store_open(&hs, none, &d), 0);
		assert_int_equal(disclosure_judge(hs, c, contract_dataset(c,
		    "loose"), &t, 1, &rep, NULL, NULL, 0, &d), 0);
		res = rule(rep, "disclosure.cumulative");
		assert_int_equal(res->status, CHECK_SKIP);
		assert_non_null(strstr(res->detail, "does not exist"));
		history_store_close(hs);
		check_report_free(rep);
	}
	release_trace_free(t);
	buf_free(&b);
	contract_free(c);
}

/* ---- masking by the gateway ------------------------------------------ */

/* masking_mode: apply keys people by their token, the same key a
 * verify-mode release of the same people carries: never a raw value. */
static void
test_apply_mode_keys_people_by_token(void **state)
{
	static const char yaml[] =
	    CONTRACT_HEAD("T-3")
	    "  raw:\n    max_rows: 100\n    one_row_per: person_id\n"
	    "    columns: {person_id: {masking: hmac-sha256, masking_mode: "
	    "apply}, age: {}}\n    quasi_identifiers: [age]\n"
	    "    k_anonymity: 2\n"
	    "  masked:\n    max_rows: 100\n    one_row_per: person_id\n"
	    "    columns: {person_id: {masking: hmac-sha256}, age: {}}\n"
	    "    quasi_identifiers: [age]\n    k_anonymity: 2\n";
	struct contract *c = contract_from(yaml);
	unsigned char key[MASK_KEY_LEN];
	struct masker *m = NULL;
	char tok[MASK_TOKEN_LEN + 1], csv[256];
	struct release_trace *ta, *tv;

	(void)state;
	memset(key, 7, sizeof(key));
	assert_int_equal(masker_new(&m, key), 0);
	assert_int_equal(masker_token(m, "AB123456C", 9, tok), 0);
	ta = trace_of(c, "raw", "person_id,age\nAB123456C,40\n", 1, m, NULL);
	snprintf(csv, sizeof(csv), "person_id,age\n%s,40\n", tok);
	tv = trace_of(c, "masked", csv, 1, NULL, NULL);
	assert_int_equal(ta->n_persons, 1);
	assert_true(ta->persons[0].person == tv->persons[0].person);
	assert_true(ta->persons[0].person != trace_person_fp("AB123456C", 9));
	release_trace_free(ta);
	release_trace_free(tv);
	masker_free(m);
	contract_free(c);
}

/* ---- tables ---------------------------------------------------------- */

static const char table_yaml[] =
    CONTRACT_HEAD("T-4")
    "  t:\n    kind: table\n    max_rows: 1000\n"
    "    columns: {region: {}, year: {type: integer}, claimants: {type: "
    "integer, count: true}}\n    min_cell_count: 10\n    rounding: 1\n"
    "  m:\n    kind: table\n    max_rows: 1000\n"
    "    columns: {region: {}, claimants: {type: integer, count: true}}\n"
    "    min_cell_count: 10\n    rounding: 1\n"
    "  money:\n    kind: table\n    max_rows: 1000\n"
    "    columns: {region: {}, year: {type: integer}, claimants: {type: "
    "integer, count: true}, award: {type: integer}, top_award: {type: "
    "integer}}\n    min_cell_count: 10\n    rounding: 1\n"
    "    dominance: {total: award, top: top_award, percent: 90}\n"
    "  other:\n    kind: table\n    max_rows: 1000\n"
    "    columns: {region: {}, year: {type: integer}, awards: {type: "
    "integer, count: true}}\n    min_cell_count: 10\n    rounding: 1\n";

static const struct check_result *
rule(const struct check_report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_results; i++)
		if (strcmp(r->results[i].rule, name) == 0)
			return &r->results[i];
	fail_msg("no %s in the report", name);
	return NULL;
}

/* Judge csv (dataset ds) against one earlier table; the result. */
static enum check_status
differencing(const struct contract *c, const char *ds, const char *csv,
    struct release_trace *earlier, char *detail, size_t dlen)
{
	struct earlier_table e;
	struct check_report *rep;
	struct release_trace *t = trace_of(c, ds, csv, 1, NULL, &rep);
	const struct check_result *res;
	enum check_status st;

	memset(&e, 0, sizeof(e));
	snprintf(e.release, sizeof(e.release), "T-4-001");
	e.t = earlier;
	assert_int_equal(differencing_judge(t, &e, 1, 10, rep), 0);
	res = rule(rep, "disclosure.differencing");
	st = res->status;
	snprintf(detail, dlen, "%s", res->detail);
	release_trace_free(t);
	check_report_free(rep);
	return st;
}

static void
test_differencing(void **state)
{
	struct contract *c = contract_from(table_yaml);
	struct release_trace *first;
	char det[256];

	(void)state;
	first = trace_of(c, "t", "region,year,claimants\nNorth,2025,100\n"
	    "South,2025,200\nNorth,2026,150\nSouth,2026,120\n", 1, NULL, NULL);
	/* one cell moved by 3: 3 people revealed by subtraction */
	assert_int_equal(differencing(c, "t", "region,year,claimants\n"
	    "North,2025,103\nSouth,2025,200\nNorth,2026,150\nSouth,2026,120\n",
	    first, det, sizeof(det)), CHECK_FAIL);
	assert_non_null(strstr(det, "T-4-001"));
	assert_null(strstr(det, "103"));
	assert_null(strstr(det, "100"));
	/* moved by 0, by 20, rows in another order: pass */
	assert_int_equal(differencing(c, "t", "region,year,claimants\n"
	    "North,2025,100\nSouth,2025,200\nNorth,2026,150\nSouth,2026,120\n",
	    first, det, sizeof(det)), CHECK_PASS);
	assert_int_equal(differencing(c, "t", "region,year,claimants\n"
	    "South,2026,120\nNorth,2025,120\nSouth,2025,200\nNorth,2026,150\n",
	    first, det, sizeof(det)), CHECK_PASS);
	/* a marginal: North over both years is 250; 253 reveals 3 */
	assert_int_equal(differencing(c, "m", "region,claimants\nNorth,253\n"
	    "South,320\n", first, det, sizeof(det)), CHECK_FAIL);
	assert_int_equal(differencing(c, "m", "region,claimants\nNorth,250\n"
	    "South,320\n", first, det, sizeof(det)), CHECK_PASS);
	/* a suppressed cell is not known: not compared */
	assert_int_equal(differencing(c, "t", "region,year,claimants\n"
	    "North,2025,*\nSouth,2025,200\nNorth,2026,150\nSouth,2026,120\n",
	    first, det, sizeof(det)), CHECK_PASS);
	/* a marginal over a suppressed cell is not known either */
	{
		struct release_trace *supp = trace_of(c, "t",
		    "region,year,claimants\nNorth,2025,*\nSouth,2025,200\n"
		    "North,2026,150\nSouth,2026,120\n", 1, NULL, NULL);

		assert_int_equal(differencing(c, "m", "region,claimants\n"
		    "North,253\nSouth,320\n", supp, det, sizeof(det)),
		    CHECK_PASS);
		release_trace_free(supp);
	}
	/* another measure: not the same table */
	assert_int_equal(differencing(c, "other", "region,year,awards\n"
	    "North,2025,103\nSouth,2025,200\nNorth,2026,150\nSouth,2026,120\n",
	    first, det, sizeof(det)), CHECK_PASS);
	release_trace_free(first);
	/* the measure's sum is kept with the cells, not taken for a
	 * dimension, and not judged: a sum moved by 3 is not 3 people */
	first = trace_of(c, "money", "region,year,claimants,award,top_award\n"
	    "North,2025,100,5000,300\nSouth,2025,200,9000,400\n", 1, NULL, NULL);
	assert_int_equal(first->n_dims, 2);
	assert_string_equal(first->dims[0], "region");
	assert_string_equal(first->dims[1], "year");
	assert_int_equal(first->n_measures, 2);
	assert_string_equal(first->measures[0], "claimants");
	assert_string_equal(first->measures[1], "sum:award");
	assert_int_equal(first->cell_counts[1], 5000);
	assert_int_equal(differencing(c, "money", "region,year,claimants,award,"
	    "top_award\nNorth,2025,100,5003,300\nSouth,2025,200,9000,400\n",
	    first, det, sizeof(det)), CHECK_PASS);
	assert_int_equal(differencing(c, "money", "region,year,claimants,award,"
	    "top_award\nNorth,2025,104,5003,300\nSouth,2025,200,9000,400\n",
	    first, det, sizeof(det)), CHECK_FAIL);
	release_trace_free(first);
	contract_free(c);
}

/* ---- damaged files ---------------------------------------------------- */

static void
test_trace_file_round_trip_and_damage(void **state)
{
	struct contract *c = contract_from(three_datasets);
	char *csv = people_csv("a");
	struct release_trace *t = trace_of(c, "a", csv, 1, NULL, NULL), *u;
	struct buf b;
	size_t cut;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(trace_encode(t, &b), 0);
	assert_int_equal(trace_decode(&u, b.data, b.len), 0);
	assert_int_equal(u->n_persons, t->n_persons);
	assert_int_equal(u->n_vectors, t->n_vectors);
	assert_memory_equal(u->persons, t->persons, t->n_persons *
	    sizeof(*t->persons));
	release_trace_free(u);
	/* every truncation is refused, never read past the end */
	for (cut = 0; cut < b.len; cut += 7) {
		u = NULL;
		assert_int_equal(trace_decode(&u, b.data, cut), RG_EPARSE);
		assert_null(u);
	}
	/* a vector index out of range is refused */
	b.data[8 + 4 + 24 + 8] = 0xff;
	assert_int_equal(trace_decode(&u, b.data, b.len), RG_EPARSE);
	buf_free(&b);
	release_trace_free(t);
	free(csv);
	contract_free(c);
}

static void
test_damaged_history_file(void **state)
{
	struct contract *c = contract_from(three_datasets);
	char *csv = people_csv("a");
	struct release_trace *t = trace_of(c, "a", csv, 1, NULL, NULL);
	struct cumulative_result res;
	char path[256], cut[256], cmd[700];
	struct diag d;

	(void)state;
	snprintf(path, sizeof(path), "%s/whole", tmpdir);
	snprintf(cut, sizeof(cut), "%s/cut", tmpdir);
	diag_clear(&d);
	assert_int_equal(history_merge(NULL, &t, 1, 10, path, &res, &d), 0);
	snprintf(cmd, sizeof(cmd), "head -c 500 '%s' > '%s'", path, cut);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(history_merge(cut, &t, 1, 10, NULL, &res, &d),
	    RG_EPARSE);
	assert_non_null(strstr(d.msg, "wrong size"));
	release_trace_free(t);
	free(csv);
	contract_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_releases_fail_together),
		cmocka_unit_test(test_two_threads_same_trace),
		cmocka_unit_test(test_property_generated_sequences),
		cmocka_unit_test(test_strictest_k_of_the_contract),
		cmocka_unit_test(test_apply_mode_keys_people_by_token),
		cmocka_unit_test(test_differencing),
		cmocka_unit_test(test_trace_file_round_trip_and_damage),
		cmocka_unit_test(test_damaged_history_file),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
