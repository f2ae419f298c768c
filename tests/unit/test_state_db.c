/*
 * Unit tests of the release worker's durable state: the queue
 * (release/queue.c), state.db (release/state_sqlite.c) and token fingerprint
 * sets (release/worker_tokens.c), on real files in a temporary folder.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/gateway.h"
#include "release/internal.h"

static char tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rg-statedb.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
test_queue_order_and_remove(void **state)
{
	struct queue_entry *v = NULL;
	struct diag d;
	size_t n = 0;

	(void)state;
	assert_int_equal(queue_submit(tmpdir, "ann", "q1", &d), RG_OK);
	assert_int_equal(queue_withdraw(tmpdir, "ann", "q1", &d), RG_OK);
	assert_int_equal(queue_decision(tmpdir, "R-20261125-0001", "jo", &d),
	    RG_OK);
	assert_int_equal(queue_download(tmpdir, "C-1", "C-1-001", "ana", &d),
	    RG_OK);
	assert_int_equal(queue_list(&v, &n, tmpdir, &d), RG_OK);
	assert_int_equal(n, 4);
	/* name order is the order they were made, across kinds */
	assert_int_equal(v[0].kind, QUEUE_SUBMIT);
	assert_string_equal(v[0].user, "ann");
	assert_string_equal(v[0].folder, "q1");
	assert_int_equal(v[1].kind, QUEUE_WITHDRAW);
	assert_int_equal(v[2].kind, QUEUE_DECISION);
	assert_string_equal(v[2].request, "R-20261125-0001");
	assert_int_equal(v[3].kind, QUEUE_DOWNLOAD);
	assert_string_equal(v[3].release, "C-1-001");
	assert_int_equal(queue_remove(tmpdir, &v[0], &d), RG_OK);
	free(v);
	assert_int_equal(queue_list(&v, &n, tmpdir, &d), RG_OK);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].kind, QUEUE_WITHDRAW);
	free(v);
}

static void
test_queue_refuses_bad_fields(void **state)
{
	struct queue_entry *v = NULL;
	struct diag d;
	size_t n = 9;
	char path[512];
	FILE *f;

	(void)state;
	assert_int_equal(queue_submit(tmpdir, "ann", "../x", &d), RG_EINVAL);
	assert_int_equal(queue_submit(tmpdir, "ann", "..", &d), RG_EINVAL);
	assert_int_equal(queue_submit(tmpdir, "a\nkind=download", "q", &d),
	    RG_EINVAL);
	assert_int_equal(queue_submit(tmpdir, "", "q", &d), RG_EINVAL);
	/* a malformed entry is set aside, not handled */
	snprintf(path, sizeof(path), "%s/queue", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/queue/00000000000000000001.1.0.x",
	    tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fputs("kind=submit\nuser=ann\n", f);	/* no folder */
	fclose(f);
	assert_int_equal(queue_list(&v, &n, tmpdir, &d), RG_OK);
	assert_int_equal(n, 0);
	free(v);
	snprintf(path, sizeof(path), "%s/queue/bad/00000000000000000001.1.0.x",
	    tmpdir);
	assert_int_equal(access(path, F_OK), 0);
}

static void
test_request_ids_and_states(void **state)
{
	struct state_db *db = NULL;
	struct request_rec r, r2;
	struct diag d;
	int created = 0;
	char (*ids)[RG_ID_MAX] = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(state_db_open(&db, tmpdir, &d), RG_OK);
	assert_int_equal(state_db_request_open(db, "ann", "q1", &r, &created,
	    &d), RG_OK);
	assert_int_equal(created, 1);
	assert_int_equal(strlen(r.id), strlen("R-20261125-0001"));
	assert_memory_equal(r.id, "R-", 2);
	assert_string_equal(r.id + 11, "0001");
	assert_string_equal(r.state, RQ_SUBMITTED);
	/* the same folder again is the same request */
	assert_int_equal(state_db_request_open(db, "ann", "q1", &r2, &created,
	    &d), RG_OK);
	assert_int_equal(created, 0);
	assert_string_equal(r2.id, r.id);
	assert_int_equal(state_db_request_open(db, "ann", "q2", &r2, &created,
	    &d), RG_OK);
	assert_string_equal(r2.id + 11, "0002");
	rg_strlcpy(r.state, RQ_CHECKING, sizeof(r.state));
	rg_strlcpy(r.contract, "C-1", sizeof(r.contract));
	r.rows = 10;
	assert_int_equal(state_db_request_put(db, &r), RG_OK);
	assert_int_equal(state_db_requests_in(db, RQ_CHECKING, &ids, &n),
	    RG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], r.id);
	free(ids);
	state_db_close(db);
	/* durable: a new handle sees it */
	assert_int_equal(state_db_open(&db, tmpdir, &d), RG_OK);
	assert_int_equal(state_db_request_get(db, r.id, &r2), RG_OK);
	assert_string_equal(r2.state, RQ_CHECKING);
	assert_int_equal(r2.rows, 10);
	assert_int_equal(state_db_request_get(db, "R-nope", &r2), RG_ENOENT);
	state_db_close(db);
}

static void
test_approvals_distinct(void **state)
{
	struct state_db *db = NULL;
	char names[4][RG_NAME_MAX];
	struct diag d;
	size_t n = 0;

	(void)state;
	assert_int_equal(state_db_open(&db, tmpdir, &d), RG_OK);
	assert_int_equal(state_db_approval_add(db, "R-1", "jo", "ok"), RG_OK);
	assert_int_equal(state_db_approval_add(db, "R-1", "jo", "again"),
	    RG_EEXIST);
	assert_int_equal(state_db_approval_add(db, "R-1", "sam", "ok"), RG_OK);
	assert_int_equal(state_db_approvals(db, "R-1", names, 4, &n), RG_OK);
	assert_int_equal(n, 2);
	state_db_close(db);
}

static void
test_releases_totals_downloads(void **state)
{
	struct state_db *db = NULL;
	struct release_rec rel;
	char id[RG_ID_MAX], id2[RG_ID_MAX], again[RG_ID_MAX];
	char (*due)[RG_ID_MAX] = NULL;
	int64_t rows, count, releases;
	struct diag d;
	size_t n;

	(void)state;
	assert_int_equal(state_db_open(&db, tmpdir, &d), RG_OK);
	assert_int_equal(state_db_release_assign(db, "C-1", "ds", "R-1", 100,
	    id, &d), RG_OK);
	assert_string_equal(id, "C-1-001");
	assert_int_equal(state_db_release_assign(db, "C-1", "ds", "R-1", 100,
	    again, &d), RG_OK);
	assert_string_equal(again, id);	/* idempotent per request */
	/* reserved releases do not count towards the totals */
	assert_int_equal(state_db_contract_totals(db, "C-1", "ds", &rows,
	    &releases), RG_OK);
	assert_int_equal(rows, 0);
	assert_int_equal(releases, 0);
	assert_int_equal(state_db_release_set_state(db, id, "approved"), RG_OK);
	assert_int_equal(state_db_contract_totals(db, "C-1", "ds", &rows,
	    &releases), RG_OK);
	assert_int_equal(rows, 100);
	assert_int_equal(releases, 1);
	/* a failed request gives its reserved number back */
	assert_int_equal(state_db_release_assign(db, "C-1", "ds", "R-2", 5,
	    id2, &d), RG_OK);
	assert_string_equal(id2, "C-1-002");
	assert_int_equal(state_db_release_drop(db, id2), RG_OK);
	assert_int_equal(state_db_release_assign(db, "C-1", "ds", "R-3", 5,
	    id2, &d), RG_OK);
	assert_string_equal(id2, "C-1-002");
	/* downloads count once per queue entry; due at max_downloads */
	assert_int_equal(state_db_release_published(db, id, "t", 100000, 2),
	    RG_OK);
	assert_int_equal(state_db_download_add(db, id, "e1", "ana", &count),
	    RG_OK);
	assert_int_equal(state_db_download_add(db, id, "e1", "ana", &count),
	    RG_OK);
	assert_int_equal(count, 1);
	assert_int_equal(state_db_releases_due(db, 20000, &due, &n), RG_OK);
	assert_int_equal(n, 0);
	free(due);
	assert_int_equal(state_db_download_add(db, id, "e2", "ana", &count),
	    RG_OK);
	assert_int_equal(count, 2);
	assert_int_equal(state_db_releases_due(db, 20000, &due, &n), RG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(due[0], id);
	free(due);
	/* and by date */
	assert_int_equal(state_db_release_get(db, id, &rel), RG_OK);
	assert_int_equal(rel.downloads, 2);
	assert_int_equal(state_db_release_set_state(db, id, "expired"), RG_OK);
	assert_int_equal(state_db_release_set_state(db, id2, "approved"),
	    RG_OK);
	assert_int_equal(state_db_release_published(db, id2, "t", 20000, -1),
	    RG_OK);
	assert_int_equal(state_db_releases_due(db, 19999, &due, &n), RG_OK);
	assert_int_equal(n, 0);
	free(due);
	assert_int_equal(state_db_releases_due(db, 20000, &due, &n), RG_OK);
	assert_int_equal(n, 1);
	free(due);
	state_db_close(db);
}

static void
test_fingerprints_overlap(void **state)
{
	struct fpset a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	char path[512], tok[65];
	int64_t k = -1;
	struct diag d;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(tok, sizeof(tok), "%064x", i);
		assert_int_equal(fpset_add(&a, token_fingerprint(tok, 64)), 0);
		assert_int_equal(fpset_add(&a, token_fingerprint(tok, 64)), 0);
	}
	fpset_finish(&a);
	assert_int_equal(a.n, 1000);	/* repeats dropped */
	snprintf(path, sizeof(path), "%s/tokens/C-1/C-1-001.fp", tmpdir);
	assert_int_equal(fpset_write(&a, path, &d), RG_OK);
	for (i = 990; i < 1010; i++) {
		snprintf(tok, sizeof(tok), "%064x", i);
		assert_int_equal(fpset_add(&b, token_fingerprint(tok, 64)), 0);
	}
	assert_int_equal(fpset_add(&b, token_fingerprint("not a token", 11)),
	    0);
	fpset_finish(&b);
	assert_int_equal(fpset_overlap_file(&b, path, &k, &d), RG_OK);
	assert_int_equal(k, 10);
	fpset_free(&b);
	assert_int_equal(fpset_read(&b, path, &d), RG_OK);
	assert_int_equal(b.n, 1000);
	assert_memory_equal(b.v, a.v, 1000 * sizeof(uint64_t));
	fpset_free(&a);
	fpset_free(&b);
}

/* A set large enough to be sorted on two threads: sorted, repeats
 * dropped, nothing lost. */
static void
test_fingerprints_large_set_sorted(void **state)
{
	struct fpset a = { NULL, 0, 0 };
	uint64_t x = 0x9e3779b97f4a7c15ULL, y;
	size_t i, n = ((size_t)1 << 20) + 4099;

	(void)state;
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* every 8th value a repeat of a small one */
		y = i % 8 == 0 ? (uint64_t)(i / 8 % 1000) : x;
		assert_int_equal(fpset_add(&a, y), 0);
	}
	fpset_finish(&a);
	for (i = 1; i < a.n; i++)
		assert_true(a.v[i - 1] < a.v[i]);
	/* 1000 small values; the xorshift values do not repeat */
	assert_int_equal(a.n, n - (n + 7) / 8 + 1000);
	assert_int_equal(a.v[0], 0);
	assert_int_equal(a.v[999], 999);
	fpset_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_order_and_remove,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_refuses_bad_fields,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_ids_and_states,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_approvals_distinct, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_releases_totals_downloads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fingerprints_overlap,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fingerprints_large_set_sorted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
