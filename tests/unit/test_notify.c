/*
 * Unit tests of e-mail notifications: the message builder
 * (release/notify_msg.c), e-mail address checks (contracts/user.c), the
 * outbox in state.db and one sender pass against a relay that is not
 * there (release/notify_send.c), on real files in a temporary folder.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "contracts/contracts.h"
#include "release/notify.h"
#include "release/internal.h"

static char tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rg-notify.XXXXXX");
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

static struct notify_msg
sample(void)
{
	struct notify_msg m;

	memset(&m, 0, sizeof(m));
	m.from = "relgate@example.gov.uk";
	m.to = "ann@example.gov.uk";
	m.subject = "[relgate] request R-20261125-0001 was approved";
	m.body = "Request R-20261125-0001 was approved.\n\n  state: approved\n";
	m.message_id = "relgate.1764090000.7@example.gov.uk";
	m.date = 1764090000;	/* 2025-11-25T17:00:00Z */
	return m;
}

static void
test_message_headers_crlf(void **state)
{
	struct notify_msg m = sample();
	struct buf b;
	const char *s;
	size_t i;

	(void)state;
	buf_init(&b, NOTIFY_MESSAGE_MAX);
	assert_int_equal(notify_message_build(&b, &m), RG_OK);
	assert_int_equal(buf_cstr(&b), RG_OK);
	s = (const char *)b.data;
	assert_non_null(strstr(s, "Date: Tue, 25 Nov 2025 17:00:00 +0000\r\n"));
	assert_non_null(strstr(s,
	    "Message-ID: <relgate.1764090000.7@example.gov.uk>\r\n"));
	assert_non_null(strstr(s, "From: <relgate@example.gov.uk>\r\n"));
	assert_non_null(strstr(s, "To: <ann@example.gov.uk>\r\n"));
	assert_non_null(strstr(s, "Subject: [relgate] request R-20261125-0001"
	    " was approved\r\n"));
	/* headers, an empty line, the body; every LF is part of a CRLF */
	assert_non_null(strstr(s, "\r\n\r\nRequest R-20261125-0001 was "
	    "approved.\r\n\r\n  state: approved\r\n"));
	for (i = 0; i < b.len; i++)
		if (s[i] == '\n')
			assert_true(i > 0 && s[i - 1] == '\r');
	assert_true(b.len >= 2 && s[b.len - 2] == '\r' && s[b.len - 1] == '\n');
	buf_free(&b);
}

static void
test_message_refuses_injection(void **state)
{
	struct notify_msg m;
	struct buf b;
	char longline[1200];

	(void)state;
	buf_init(&b, NOTIFY_MESSAGE_MAX);
	m = sample();
	m.to = "ann@example.gov.uk\r\nBcc: eve@example.org";
	assert_int_equal(notify_message_build(&b, &m), RG_EINVAL);
	m = sample();
	m.subject = "hello\nBcc: eve@example.org";
	assert_int_equal(notify_message_build(&b, &m), RG_EINVAL);
	m = sample();
	m.from = "";
	assert_int_equal(notify_message_build(&b, &m), RG_EINVAL);
	m = sample();
	m.message_id = "a>b";
	assert_int_equal(notify_message_build(&b, &m), RG_EINVAL);
	m = sample();
	m.body = "caf\xc3\xa9\n";
	assert_int_equal(notify_message_build(&b, &m), RG_EINVAL);
	m = sample();
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	m.body = longline;
	assert_int_equal(notify_message_build(&b, &m), RG_EINVAL);
	assert_int_equal(b.len, 0);	/* nothing written on refusal */
	buf_free(&b);
}

static void
test_backoff_bounded(void **state)
{
	(void)state;
	assert_int_equal(notify_backoff(1, 30, 3600), 30);
	assert_int_equal(notify_backoff(2, 30, 3600), 60);
	assert_int_equal(notify_backoff(3, 30, 3600), 120);
	assert_int_equal(notify_backoff(8, 30, 3600), 3600);
	assert_int_equal(notify_backoff(90, 30, 3600), 3600);
	assert_int_equal(notify_backoff(5, 2, 10), 10);
}

static void
test_mail_addr(void **state)
{
	char why[200];

	(void)state;
	assert_true(mail_addr_ok("ann@example.gov.uk", why, sizeof(why)));
	assert_true(mail_addr_ok("a.b+tag@x-y.example", why, sizeof(why)));
	assert_false(mail_addr_ok("ann@example.org\r\nBcc: e@x.org", why,
	    sizeof(why)));
	assert_non_null(strstr(why, "control byte"));
	assert_false(mail_addr_ok("ann@example.org\n", why, sizeof(why)));
	assert_false(mail_addr_ok("ann", why, sizeof(why)));
	assert_false(mail_addr_ok("@example.org", why, sizeof(why)));
	assert_false(mail_addr_ok("ann@", why, sizeof(why)));
	assert_false(mail_addr_ok("a@b@c.org", why, sizeof(why)));
	assert_false(mail_addr_ok("ann smith@x.org", why, sizeof(why)));
	assert_false(mail_addr_ok("\"ann\"@x.org", why, sizeof(why)));
	assert_false(mail_addr_ok(".ann@x.org", why, sizeof(why)));
	assert_false(mail_addr_ok("an..n@x.org", why, sizeof(why)));
	assert_false(mail_addr_ok("ann@-x.org", why, sizeof(why)));
	assert_false(mail_addr_ok("ann@x..org", why, sizeof(why)));
	assert_false(mail_addr_ok("ann@x.org.", why, sizeof(why)));
	assert_false(mail_addr_ok("<ann@x.org>", why, sizeof(why)));
}

static void
rec(struct outbox_rec *m, const char *user, const char *request)
{
	memset(m, 0, sizeof(*m));
	rg_strlcpy(m->event, "approved", sizeof(m->event));
	rg_strlcpy(m->user, user, sizeof(m->user));
	snprintf(m->addr, sizeof(m->addr), "%s@example.org", user);
	rg_strlcpy(m->request, request, sizeof(m->request));
	rg_strlcpy(m->subject, "[relgate] test", sizeof(m->subject));
	rg_strlcpy(m->body, "Request approved.\n", sizeof(m->body));
	m->created = (int64_t)time(NULL);
}

static void
test_outbox_queue_dedupe_update(void **state)
{
	struct state_db *db = NULL;
	struct outbox_rec m, *v = NULL;
	struct diag d;
	size_t n = 0;

	(void)state;
	diag_clear(&d);
	assert_int_equal(state_db_open(&db, tmpdir, &d), RG_OK);
	rec(&m, "ann", "R-1");
	assert_int_equal(state_db_outbox_add(db, "approved:R-1", &m), RG_OK);
	/* the same event for the same person again: kept once */
	assert_int_equal(state_db_outbox_add(db, "approved:R-1", &m), RG_OK);
	rec(&m, "bob", "R-1");
	assert_int_equal(state_db_outbox_add(db, "approved:R-1", &m), RG_OK);
	assert_int_equal(state_db_outbox_list(db, time(NULL), 0, 10, &v, &n),
	    RG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].user, "ann");
	assert_string_equal(v[0].state, "queued");
	assert_string_equal(v[1].addr, "bob@example.org");
	/* retried later: not due now */
	assert_int_equal(state_db_outbox_update(db, v[0].id, "queued", 1,
	    time(NULL) + 100, "connection refused"), RG_OK);
	assert_int_equal(state_db_outbox_update(db, v[1].id, "sent", 1, 0,
	    ""), RG_OK);
	free(v);
	assert_int_equal(state_db_outbox_list(db, time(NULL), 0, 10, &v, &n),
	    RG_OK);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(state_db_outbox_list(db, time(NULL) + 101, 0, 10, &v,
	    &n), RG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].tries, 1);
	assert_string_equal(v[0].error, "connection refused");
	free(v);
	/* the sent one waits for its audit record */
	assert_int_equal(state_db_outbox_list(db, 0, 1, 10, &v, &n), RG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].user, "bob");
	assert_int_equal(state_db_outbox_audited(db, v[0].id), RG_OK);
	free(v);
	assert_int_equal(state_db_outbox_list(db, 0, 1, 10, &v, &n), RG_OK);
	assert_int_equal(n, 0);
	free(v);
	state_db_close(db);
	/* durable: a new connection (a restart) sees the queued one */
	assert_int_equal(state_db_open(&db, tmpdir, &d), RG_OK);
	assert_int_equal(state_db_outbox_list(db, time(NULL) + 101, 0, 10, &v,
	    &n), RG_OK);
	assert_int_equal(n, 1);
	free(v);
	state_db_close(db);
}

/* A loopback port nothing listens on. */
static int
closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
test_pass_relay_down(void **state)
{
	struct gateway_config cfg;
	struct state_db *db = NULL;
	struct outbox_rec m, *v = NULL;
	struct diag d;
	size_t n = 0;
	int sent = -1, failed = -1;
	time_t t0 = time(NULL);

	(void)state;
	diag_clear(&d);
	gateway_config_defaults(&cfg);
	cfg.notify.enabled = 1;
	snprintf(cfg.notify.smtp, sizeof(cfg.notify.smtp),
	    "smtp://127.0.0.1:%d", closed_port());
	rg_strlcpy(cfg.notify.from, "relgate@example.org",
	    sizeof(cfg.notify.from));
	cfg.notify.starttls = 0;
	cfg.notify.retry_first = 40;
	cfg.notify.attempts = 2;
	assert_int_equal(state_db_open(&db, tmpdir, &d), RG_OK);
	rec(&m, "ann", "R-2");
	assert_int_equal(state_db_outbox_add(db, "approved:R-2", &m), RG_OK);
	/* 1st try: refused connection, a temporary failure */
	assert_int_equal(notify_outbox_pass(tmpdir, &cfg.notify, &sent,
	    &failed), RG_OK);
	assert_int_equal(sent, 0);
	assert_int_equal(failed, 0);
	assert_int_equal(state_db_outbox_list(db, t0 + 39, 0, 10, &v, &n),
	    RG_OK);
	assert_int_equal(n, 0);		/* backing off */
	free(v);
	assert_int_equal(state_db_outbox_list(db, time(NULL) + 41, 0, 10, &v,
	    &n), RG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].tries, 1);
	assert_non_null(strstr(v[0].error, "onnect"));
	/* make it due now: the 2nd and last try gives up */
	assert_int_equal(state_db_outbox_update(db, v[0].id, "queued", 1, 0,
	    v[0].error), RG_OK);
	free(v);
	assert_int_equal(notify_outbox_pass(tmpdir, &cfg.notify, &sent,
	    &failed), RG_OK);
	assert_int_equal(sent, 0);
	assert_int_equal(failed, 1);
	/* audited (notify.failed): nothing is left unaudited or queued */
	assert_int_equal(state_db_outbox_list(db, 0, 1, 10, &v, &n), RG_OK);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(state_db_outbox_list(db, time(NULL) + 100000, 0, 10,
	    &v, &n), RG_OK);
	assert_int_equal(n, 0);
	free(v);
	state_db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_headers_crlf),
		cmocka_unit_test(test_message_refuses_injection),
		cmocka_unit_test(test_backoff_bounded),
		cmocka_unit_test(test_mail_addr),
		cmocka_unit_test_setup_teardown(test_outbox_queue_dedupe_update,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_relay_down, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
