/*
 * Unit tests of audit/: the chain, record rendering, the wire format,
 * queries, verification (including a re-hashed chain caught by a signed
 * checkpoint), the officer export, syslog formatting and the writer.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "audit/audit_int.h"
#include "keys/keys.h"

static char *
mkstate(void)
{
	char tmpl[] = "/tmp/rg-audit-XXXXXX";
	char *p = mkdtemp(tmpl);

	assert_non_null(p);
	return strdup(p);
}

static void
rmstate(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "gpgconf --homedir %s/gnupg --kill all "
	    ">/dev/null 2>&1; rm -rf %s", dir, dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

static void
add(struct audit *a, const char *type, const char *outcome, const char *user,
    uint64_t want)
{
	struct audit_event ev;
	uint64_t seq = 0;

	audit_event_init(&ev, type, outcome);
	ev.user = user;
	ev.role = "contractor";
	ev.contract = "DEMO-2026-0001";
	ev.path = "/releases/DEMO-2026-0001/x.gpg";
	ev.bytes = 42;
	assert_int_equal(audit_append(a, &ev, &seq), 0);
	assert_int_equal(seq, want);
}

static void
db_exec(const char *state, const char *sql)
{
	char path[600];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/audit/audit.db", state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_chain(void **st)
{
	struct audit_record r1, r2;
	char h[AUDIT_HASH_HEX + 1], *dir = mkstate();
	struct audit *a;

	(void)st;
	assert_int_equal(audit_open(&a, dir, NULL), 0);
	add(a, "auth.login", "ok", "acme-ana", 1);
	add(a, "file.download", "ok", "acme-ana", 2);
	add(a, "access.denied", "denied", "acme-raj", 3);
	assert_int_equal(audit_get(a, 1, &r1, NULL), 0);
	assert_int_equal(audit_get(a, 2, &r2, NULL), 0);
	assert_string_equal(r1.prev, AUDIT_GENESIS);
	assert_string_equal(r2.prev, r1.hash);
	assert_string_equal(r2.type, "file.download");
	assert_string_equal(r2.user, "acme-ana");
	assert_int_equal(r2.bytes, 42);
	assert_int_equal(r2.rows, -1);
	assert_null(r2.sha256);
	assert_int_equal(strlen(r2.time), 27);
	assert_int_equal(r2.time[26], 'Z');
	assert_int_equal(audit_record_hash(&r2, h), 0);
	assert_string_equal(h, r2.hash);
	/* Any change of any field changes the hash. */
	r2.bytes = 43;
	assert_int_equal(audit_record_hash(&r2, h), 0);
	assert_string_not_equal(h, r2.hash);
	audit_record_clear(&r1);
	audit_record_clear(&r2);
	assert_int_equal(audit_get(a, 4, &r1, NULL), RG_ENOENT);
	audit_close(a);
	rmstate(dir);
}

static void
test_event_checks(void **st)
{
	struct audit_event ev;
	struct audit *a;
	char *dir = mkstate(), *big;

	(void)st;
	assert_int_equal(audit_open(&a, dir, NULL), 0);
	audit_event_init(&ev, NULL, "ok");
	assert_int_equal(audit_append(a, &ev, NULL), RG_EINVAL);
	audit_event_init(&ev, "auth.login", "maybe");
	assert_int_equal(audit_append(a, &ev, NULL), RG_EINVAL);
	audit_event_init(&ev, "Auth Login", "ok");
	assert_int_equal(audit_append(a, &ev, NULL), RG_EINVAL);
	/* Nobody forges a checkpoint through the event API. */
	audit_event_init(&ev, "log.checkpoint", "ok");
	assert_int_equal(audit_append(a, &ev, NULL), RG_EPERM);
	big = malloc(AUDIT_DETAIL_MAX + 2);
	memset(big, 'x', AUDIT_DETAIL_MAX + 1);
	big[AUDIT_DETAIL_MAX + 1] = '\0';
	audit_event_init(&ev, "auth.login", "ok");
	ev.detail = big;
	assert_int_equal(audit_append(a, &ev, NULL), RG_ETOOBIG);
	free(big);
	/* Nothing of the refused events was stored. */
	{
		uint64_t last = 9;

		assert_int_equal(audit_last_seq(a, &last, NULL), 0);
		assert_int_equal(last, 0);
	}
	audit_close(a);
	rmstate(dir);
}

static void
test_json_csv(void **st)
{
	struct audit_record r;
	struct buf b;

	(void)st;
	memset(&r, 0, sizeof(r));
	r.seq = 7;
	strcpy(r.time, "2026-11-25T17:00:00.123456Z");
	r.type = "file.upload";
	r.outcome = "ok";
	r.user = "ann \"the\" analyst";
	r.detail = "=cmd|x\nline";
	r.bytes = 10;
	r.rows = -1;
	strcpy(r.prev, AUDIT_GENESIS);
	strcpy(r.hash, AUDIT_GENESIS);
	buf_init(&b, 4096);
	assert_int_equal(audit_record_json(&r, &b), 0);
	buf_cstr(&b);
	assert_non_null(strstr((char *)b.data, "{\"seq\":7,\"time\":"
	    "\"2026-11-25T17:00:00.123456Z\",\"type\":\"file.upload\","
	    "\"outcome\":\"ok\",\"user\":\"ann \\\"the\\\" analyst\","
	    "\"role\":null,"));
	assert_non_null(strstr((char *)b.data, "\"bytes\":10,\"sha256\":null,"
	    "\"rows\":null,\"detail\":\"=cmd|x\\nline\""));
	buf_reset(&b);
	assert_int_equal(audit_record_csv(&r, &b), 0);
	buf_cstr(&b);
	/* Quotes doubled; a formula-looking cell defused. */
	assert_non_null(strstr((char *)b.data, "\"ann \"\"the\"\" analyst\""));
	assert_non_null(strstr((char *)b.data, "\"'=cmd|x"));
	buf_free(&b);
}

static void
test_wire(void **st)
{
	struct audit_event ev;
	struct audit_record r;
	struct buf b;

	(void)st;
	audit_event_init(&ev, "file.download", "ok");
	ev.user = "acme-ana";
	ev.bytes = 123;
	ev.rows = 0;
	buf_init(&b, AUDIT_MSG_MAX + 16);
	assert_int_equal(audit_wire_encode(&ev, &b), 0);
	assert_int_equal(audit_wire_decode(b.data + 4, b.len - 4, &r), 0);
	assert_string_equal(r.type, "file.download");
	assert_string_equal(r.user, "acme-ana");
	assert_null(r.role);
	assert_int_equal(r.bytes, 123);
	assert_int_equal(r.rows, 0);
	audit_record_clear(&r);
	/* Cut short, trailing bytes, a NUL inside a string: all refused. */
	assert_int_equal(audit_wire_decode(b.data + 4, b.len - 5, &r),
	    RG_EPROTO);
	assert_int_equal(buf_append(&b, "\0", 1), 0);
	assert_int_equal(audit_wire_decode(b.data + 4, b.len - 4, &r),
	    RG_EPROTO);
	buf_reset(&b);
	assert_int_equal(buf_append(&b, "\1\0\0\0\3a\0b", 8), 0);
	assert_int_equal(audit_wire_decode(b.data, b.len, &r), RG_EPROTO);
	/* A checkpoint sent by a client is refused by the writer. */
	audit_event_init(&ev, "log.checkpoint", "ok");
	buf_reset(&b);
	assert_int_equal(audit_wire_encode(&ev, &b), 0);
	assert_int_equal(audit_wire_decode(b.data + 4, b.len - 4, &r),
	    RG_EPROTO);
	/* An event without outcome is refused by the writer too. */
	buf_reset(&b);
	assert_int_equal(buf_append(&b, "\1\0\0\0\1t\0", 7), 0);
	assert_int_equal(audit_wire_decode(b.data, b.len, &r), RG_EPROTO);
	buf_free(&b);
}

static int
count_cb(const struct audit_record *r, void *ctx)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static int
qcount(struct audit *a, const struct audit_filter *f)
{
	int n = 0;

	assert_int_equal(audit_query(a, f, count_cb, &n, NULL), 0);
	return n;
}

static void
test_query(void **st)
{
	struct audit_filter f;
	struct audit *a;
	char *dir = mkstate(), today[11], tomorrow[40];

	(void)st;
	assert_int_equal(audit_open(&a, dir, NULL), 0);
	add(a, "auth.login", "ok", "acme-ana", 1);
	add(a, "file.download", "ok", "acme-ana", 2);
	add(a, "access.denied", "denied", "acme-raj", 3);
	add(a, "file.download", "failed", "acme-raj", 4);
	memset(&f, 0, sizeof(f));
	assert_int_equal(qcount(a, &f), 4);
	f.user = "acme-raj";
	assert_int_equal(qcount(a, &f), 2);
	f.outcome = "denied";
	assert_int_equal(qcount(a, &f), 1);
	memset(&f, 0, sizeof(f));
	f.type = "file.download";
	assert_int_equal(qcount(a, &f), 2);
	f.after_seq = 2;
	assert_int_equal(qcount(a, &f), 1);
	memset(&f, 0, sizeof(f));
	f.limit = 3;
	assert_int_equal(qcount(a, &f), 3);
	date_today(today, sizeof(today));
	memset(&f, 0, sizeof(f));
	f.since = today;
	f.until = today;
	assert_int_equal(qcount(a, &f), 4);
	snprintf(tomorrow, sizeof(tomorrow), "%sT99", today);
	f.since = tomorrow;
	assert_int_equal(qcount(a, &f), 0);
	memset(&f, 0, sizeof(f));
	f.until = "2000-01-01";
	assert_int_equal(qcount(a, &f), 0);
	audit_close(a);
	rmstate(dir);
}

static void
test_verify_edits(void **st)
{
	struct audit_verify_result res;
	struct audit *a;
	char *dir = mkstate();
	int i;

	(void)st;
	assert_int_equal(audit_open(&a, dir, NULL), 0);
	for (i = 1; i <= 10; i++)
		add(a, "file.download", "ok", "acme-ana", (uint64_t)i);
	audit_close(a);
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_true(res.ok);
	assert_int_equal(res.records, 10);
	/* Edit: the record itself is named. */
	db_exec(dir, "UPDATE records SET bytes = 1 WHERE seq = 6");
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_false(res.ok);
	assert_int_equal(res.bad_seq, 6);
	db_exec(dir, "UPDATE records SET bytes = 42 WHERE seq = 6");
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_true(res.ok);
	/* Delete in the middle: the missing seq is named. */
	db_exec(dir, "DELETE FROM records WHERE seq = 4");
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_false(res.ok);
	assert_int_equal(res.bad_seq, 4);
	assert_non_null(strstr(res.reason, "missing"));
	{
		struct buf b;

		buf_init(&b, 4096);
		assert_int_equal(audit_verify_text(&res, &b), 0);
		buf_cstr(&b);
		assert_non_null(strstr((char *)b.data, "FAILED\nfirst bad "
		    "record: 4\n"));
		buf_free(&b);
	}
	rmstate(dir);
}

/* Records of every size pass the two-thread verification intact. */
static void
test_verify_large(void **st)
{
	struct audit_verify_result res;
	struct audit_event ev;
	struct audit *a;
	char *dir = mkstate(), *detail;
	int i;

	(void)st;
	detail = malloc(AUDIT_DETAIL_MAX + 1);
	assert_non_null(detail);
	assert_int_equal(audit_open(&a, dir, NULL), 0);
	for (i = 0; i < 400; i++) {
		size_t n = (size_t)(i * 7919) % AUDIT_DETAIL_MAX;

		memset(detail, 'a' + i % 26, n);
		detail[n] = '\0';
		audit_event_init(&ev, "check.failed", "failed");
		ev.detail = detail;
		ev.rows = i;
		assert_int_equal(audit_append(a, &ev, NULL), 0);
	}
	audit_close(a);
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_true(res.ok);
	assert_int_equal(res.records, 400);
	db_exec(dir, "UPDATE records SET rows = 0 WHERE seq = 399");
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_false(res.ok);
	assert_int_equal(res.bad_seq, 399);
	free(detail);
	rmstate(dir);
}

static void
test_checkpoint_rehash(void **st)
{
	struct audit_verify_result res;
	struct audit_record r;
	struct audit *a;
	struct audit_store *s;
	char *dir = mkstate(), fpr[41], sql[600], h[AUDIT_HASH_HEX + 1];
	char prev[AUDIT_HASH_HEX + 1];
	uint64_t i;

	(void)st;
	assert_int_equal(gateway_pgp_ensure(dir, fpr, NULL), 0);
	assert_int_equal(strlen(fpr), 40);
	assert_int_equal(audit_open(&a, dir, NULL), 0);
	audit_set_signing(a, 1);
	audit_set_checkpoint_every(a, 5);
	for (i = 1; i <= 4; i++)
		add(a, "file.download", "ok", "acme-ana", i);
	/* The 5th record triggers checkpoint record 6, signed. */
	add(a, "file.download", "ok", "acme-ana", 5);
	add(a, "file.download", "ok", "acme-ana", 7);
	audit_close(a);
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_true(res.ok);
	assert_int_equal(res.checkpoints, 1);
	assert_int_equal(res.last_checkpoint, 6);
	/* An attacker who knows the encoding edits record 3 and re-hashes
	 * the rest of the chain: the signed checkpoint no longer matches. */
	db_exec(dir, "UPDATE records SET user = 'nobody' WHERE seq = 3");
	assert_int_equal(audit_store_sqlite_open(&s, dir, 0, 0, NULL), 0);
	rg_strlcpy(prev, "", sizeof(prev));
	for (i = 3; i <= 7; i++) {
		assert_int_equal(s->ops->get(s, i, &r, NULL), 0);
		if (prev[0])
			rg_strlcpy(r.prev, prev, sizeof(r.prev));
		assert_int_equal(audit_record_hash(&r, h), 0);
		snprintf(sql, sizeof(sql), "UPDATE records SET prev = '%s', "
		    "hash = '%s' WHERE seq = %llu", r.prev, h,
		    (unsigned long long)i);
		db_exec(dir, sql);
		rg_strlcpy(prev, h, sizeof(prev));
		audit_record_clear(&r);
	}
	s->ops->close(s);
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_false(res.ok);
	assert_int_equal(res.bad_seq, 6);
	assert_non_null(strstr(res.reason, "checkpoint"));
	rmstate(dir);
}

/* The native Ed25519 check agrees with GnuPG on good and bad signatures. */
static void
test_native_sig(void **st)
{
	struct pgp_verifier *v;
	struct buf sig;
	char *dir = mkstate(), fpr[41];
	const char *msg = "relgate audit checkpoint v1\nseq 1\nhash x\n";
	int i;

	(void)st;
	assert_int_equal(gateway_pgp_ensure(dir, fpr, NULL), 0);
	assert_int_equal(audit_pgp_verifier_new(&v, dir, NULL), 0);
	for (i = 0; i < 3; i++) {
		buf_init(&sig, 65536);
		assert_int_equal(gateway_pgp_sign(dir, msg, strlen(msg) - (size_t)i,
		    &sig, NULL), 0);
		buf_cstr(&sig);
		assert_int_equal(audit_pgp_verify(v, msg, strlen(msg) - (size_t)i,
		    (char *)sig.data, sig.len), 0);
		assert_int_equal(gateway_pgp_verify(dir, msg,
		    strlen(msg) - (size_t)i, sig.data, sig.len, NULL), 0);
		/* Another text: both say no. */
		assert_int_equal(audit_pgp_verify(v, msg, 5, (char *)sig.data,
		    sig.len), RG_EINTEGRITY);
		assert_int_equal(gateway_pgp_verify(dir, msg, 5, sig.data,
		    sig.len, NULL), RG_EINTEGRITY);
		/* One bit of the signature flipped inside the armour. */
		sig.data[sig.len - 40] ^= 0x01;
		assert_int_not_equal(audit_pgp_verify(v, msg,
		    strlen(msg) - (size_t)i, (char *)sig.data, sig.len), 0);
		assert_int_not_equal(gateway_pgp_verify(dir, msg,
		    strlen(msg) - (size_t)i, sig.data, sig.len, NULL), 0);
		buf_free(&sig);
	}
	audit_pgp_verifier_free(v);
	rmstate(dir);
}

static void
test_export(void **st)
{
	struct audit_verify_result res;
	struct audit *a;
	char *dir = mkstate(), path[600], today[11], *text;
	size_t len, lines, i;
	FILE *f;

	(void)st;
	assert_int_equal(audit_open(&a, dir, NULL), 0);
	add(a, "auth.login", "ok", "acme-ana", 1);
	add(a, "file.download", "ok", "acme-ana", 2);
	assert_int_equal(audit_export_sync(dir, NULL), 0);
	add(a, "session.close", "ok", "acme-ana", 3);
	date_today(today, sizeof(today));
	snprintf(path, sizeof(path), "%s/audit-export/%s.jsonl", dir, today);
	/* A crash after appending but before the position was saved leaves
	 * junk at the end: the next sync cuts it off. */
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("{\"half a line", f);
	fclose(f);
	assert_int_equal(audit_export_sync(dir, NULL), 0);
	assert_int_equal(audit_export_sync(dir, NULL), 0);
	assert_int_equal(file_read_small(&text, &len, path, 1 << 20, NULL), 0);
	for (lines = 0, i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, 3);
	assert_non_null(strstr(text, "\"seq\":3,"));
	assert_null(strstr(text, "half a line"));
	free(text);
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_int_equal(audit_export_verify(dir, &res, NULL), 0);
	snprintf(path, sizeof(path), "%s/audit-export/verify.txt", dir);
	assert_int_equal(file_read_small(&text, &len, path, 1 << 20, NULL), 0);
	assert_non_null(strstr(text, "relgate audit verify: OK"));
	assert_non_null(strstr(text, "records: 3"));
	free(text);
	audit_close(a);
	rmstate(dir);
}

static void
test_syslog(void **st)
{
	struct audit_record r;
	struct buf b;

	(void)st;
	memset(&r, 0, sizeof(r));
	r.seq = 12;
	strcpy(r.time, "2026-11-25T17:00:00.123456Z");
	r.type = "access.denied";
	r.outcome = "denied";
	r.user = "bo";
	r.path = "/a]b\"c\\d";
	r.bytes = -1;
	r.rows = -1;
	strcpy(r.prev, AUDIT_GENESIS);
	strcpy(r.hash, AUDIT_GENESIS);
	buf_init(&b, 8192);
	assert_int_equal(audit_syslog_format(&r, &b), 0);
	buf_cstr(&b);
	/* authpriv.warning = 10*8+4 */
	assert_memory_equal(b.data, "<84>1 2026-11-25T17:00:00.123456Z ", 34);
	assert_non_null(strstr((char *)b.data, " access.denied "
	    "[relgate-audit@32473 seq=\"12\""));
	assert_non_null(strstr((char *)b.data, " path=\"/a\\]b\\\"c\\\\d\""));
	assert_null(strstr((char *)b.data, "bytes="));
	buf_free(&b);
}

static volatile int srv_stop;

static void
on_term(int sig)
{
	(void)sig;
	srv_stop = 1;
}

static void
test_server(void **st)
{
	struct audit_verify_result res;
	struct audit_server_opts o;
	struct audit *a;
	char *dir = mkstate(), sock[600];
	struct stat sb;
	int i, status;
	pid_t pid;

	(void)st;
	snprintf(sock, sizeof(sock), "%s/audit/audit.sock", dir);
	if ((pid = fork()) == 0) {
		alarm(60);	/* never outlive a failed test */
		signal(SIGTERM, on_term);
		memset(&o, 0, sizeof(o));
		o.checkpoint_every = 4;
		o.stop = &srv_stop;
		i = audit_server_run(dir, &o, NULL) == 0 ? 0 : 1;
		free(dir);
		_exit(i);
	}
	for (i = 0; i < 300 && stat(sock, &sb) != 0; i++)
		usleep(20000);
	assert_int_equal(stat(sock, &sb), 0);
	assert_int_equal(audit_open(&a, dir, NULL), 0);
	/* Through the writer: its start checkpoint is 1; then 2..4, its
	 * checkpoint 5 (every 4), then 6. */
	add(a, "auth.login", "ok", "acme-ana", 2);
	add(a, "session.open", "ok", "acme-ana", 3);
	add(a, "file.download", "ok", "acme-ana", 4);
	add(a, "session.close", "ok", "acme-ana", 6);
	audit_close(a);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_not_equal(stat(sock, &sb), 0);
	assert_int_equal(audit_verify(dir, &res, NULL), 0);
	assert_true(res.ok);
	/* The shutdown checkpoint is the last record, and signed. */
	assert_int_equal(res.last_seq, 7);
	assert_int_equal(res.last_checkpoint, 7);
	assert_int_equal(res.checkpoints, 3);
	assert_int_equal(res.pending, 0);
	rmstate(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_event_checks),
		cmocka_unit_test(test_json_csv),
		cmocka_unit_test(test_wire),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_verify_edits),
		cmocka_unit_test(test_verify_large),
		cmocka_unit_test(test_checkpoint_rehash),
		cmocka_unit_test(test_native_sig),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_syslog),
		cmocka_unit_test(test_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
