/*
 * audit/audit_tool.c — rg-audit-tool, a small driver for tests and
 * benchmarks (not installed):
 *   serve STATE [--every N] [--syslog PATH] [--export-interval S]
 *         [--verify-interval S]                run the audit writer until
 *                                             SIGTERM/SIGINT
 *   append STATE N [TAG]                      append N records one by one
 *                                             (through the writer when it
 *                                             runs), print "seq" of each
 *                                             with -v
 *   bench STATE PROCS N                       PROCS processes append N
 *                                             records each; print the rate
 *   fill STATE N [DAYS [EVERY]]               bulk-load N records (direct,
 *                                             4096 per transaction), spread
 *                                             over the last DAYS days, every
 *                                             EVERY-th a signed checkpoint
 *   checkpoint STATE                          sign a checkpoint now
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "keys/keys.h"

static volatile int stop;

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
fail(const char *what, int rc, const struct diag *d)
{
	char msg[1200];

	diag_format(d, msg, sizeof(msg));
	fprintf(stderr, "rg-audit-tool: %s: %s (%s)\n", what, msg,
	    rg_strerror(rc));
	return 1;
}

static int
serve(const char *state, int argc, char **argv)
{
	struct audit_server_opts o;
	struct sigaction sa;
	struct diag d;
	int i, rc;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--every") == 0 && i + 1 < argc)
			o.checkpoint_every = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--syslog") == 0 && i + 1 < argc)
			o.syslog_path = argv[++i];
		else if (strcmp(argv[i], "--export-interval") == 0 &&
		    i + 1 < argc)
			o.export_interval = atoi(argv[++i]);
		else if (strcmp(argv[i], "--verify-interval") == 0 &&
		    i + 1 < argc)
			o.verify_interval = atoi(argv[++i]);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	o.stop = &stop;
	diag_clear(&d);
	if ((rc = audit_server_run(state, &o, &d)) != 0)
		return fail("serve", rc, &d);
	return 0;
}

static int
append_n(const char *state, long n, const char *tag, int verbose)
{
	struct audit_event ev;
	struct audit *a;
	struct diag d;
	char path[64];
	uint64_t seq;
	long i;
	int rc;

	diag_clear(&d);
	if ((rc = audit_open(&a, state, &d)) != 0)
		return fail("open", rc, &d);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/releases/X/%s-%ld", tag, i);
		audit_event_init(&ev, i % 7 == 3 ? "access.denied" :
		    "file.download", i % 7 == 3 ? "denied" : "ok");
		ev.user = tag;
		ev.role = "contractor";
		ev.source = "127.0.0.1:40000 s-1";
		ev.contract = "DEMO-2026-0001";
		ev.path = path;
		ev.bytes = i * 100;
		if ((rc = audit_append(a, &ev, &seq)) != 0) {
			audit_close(a);
			fprintf(stderr, "rg-audit-tool: append: %s\n",
			    rg_strerror(rc));
			return 1;
		}
		if (verbose) {
			printf("%llu\n", (unsigned long long)seq);
			fflush(stdout);
		}
	}
	audit_close(a);
	return 0;
}

static int
bench(const char *state, int procs, long n)
{
	char tag[32];
	double t0, t1;
	int i, status, bad = 0;
	pid_t pid;

	t0 = now_s();
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == 0) {
			snprintf(tag, sizeof(tag), "bench-%d", i);
			_exit(append_n(state, n, tag, 0));
		}
		if (pid < 0)
			return 1;
	}
	while ((pid = wait(&status)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	t1 = now_s();
	printf("%d writers x %ld records: %.3f s, %.0f durable appends/s\n",
	    procs, n, t1 - t0, (double)procs * (double)n / (t1 - t0));
	return bad;
}

static int
fill(const char *state, long n, long days, long every)
{
	char fpr[41];
	long pass;
	time_t now = time(NULL);
	struct tm tm;
	static struct audit_record recs[AUDIT_BATCH_MAX];
	struct audit_event ev;
	struct audit_store *s;
	struct diag d;
	char path[64], user[32];
	long done = 0;
	size_t k, m;
	int rc;

	diag_clear(&d);
	if ((rc = audit_store_sqlite_open(&s, state, 1, 0, &d)) != 0)
		return fail("open", rc, &d);
	while (done < n) {
		m = (size_t)(n - done) < AUDIT_BATCH_MAX ?
		    (size_t)(n - done) : AUDIT_BATCH_MAX;
		for (k = 0; k < m; k++) {
			snprintf(path, sizeof(path),
			    "/releases/DEMO-2026-0001/R-%ld.tar.zst.gpg",
			    done + (long)k);
			snprintf(user, sizeof(user), "acme-%ld",
			    (done + (long)k) % 5);
			if (every > 0 && (done + (long)k + 1) % every == 0)
				audit_event_init(&ev, "log.checkpoint", "ok");
			else
				audit_event_init(&ev, "file.download", "ok");
			ev.user = user;
			ev.role = "contractor";
			ev.source = "127.0.0.1:40000 s-1";
			ev.contract = "DEMO-2026-0001";
			ev.path = path;
			ev.bytes = 123456;
			ev.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b82"
			    "2cd15d6c15b0f00a08";
			audit_record_from_event(&recs[k], &ev);
			if (days > 0) {
				time_t t = now - (time_t)(days - 1 -
				    (done + (long)k) * days / n) * 86400;

				gmtime_r(&t, &tm);
				strftime(recs[k].time, sizeof(recs[k].time),
				    "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
			}
		}
		rc = s->ops->append(s, recs, m, &d);
		for (k = 0; k < m; k++)
			audit_record_clear(&recs[k]);
		if (rc != 0) {
			s->ops->close(s);
			return fail("append", rc, &d);
		}
		done += (long)m;
	}
	/* Sign the checkpoint records, 64 a call (see checkpoint.c). */
	if (every > 0) {
		if ((rc = gateway_pgp_ensure(state, fpr, &d)) != 0) {
			s->ops->close(s);
			return fail("key", rc, &d);
		}
		for (pass = 0; pass <= n / every / 64 + 1; pass++)
			if ((rc = audit_checkpoint_sign(s, state, 0, "",
			    &d)) != 0) {
				s->ops->close(s);
				return fail("sign", rc, &d);
			}
	}
	s->ops->close(s);
	return 0;
}

int
main(int argc, char **argv)
{
	struct audit *a;
	struct diag d;
	char fpr[41];
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: rg-audit-tool serve|append|bench|fill|"
		    "checkpoint STATE ...\n");
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return serve(argv[2], argc - 3, argv + 3);
	if (strcmp(argv[1], "append") == 0 && argc >= 4)
		return append_n(argv[2], atol(argv[3]),
		    argc > 4 ? argv[4] : "tool", getenv("VERBOSE") != NULL);
	if (strcmp(argv[1], "bench") == 0 && argc >= 5)
		return bench(argv[2], atoi(argv[3]), atol(argv[4]));
	if (strcmp(argv[1], "fill") == 0 && argc >= 4)
		return fill(argv[2], atol(argv[3]), argc > 4 ? atol(argv[4]) : 0,
		    argc > 5 ? atol(argv[5]) : 0);
	if (strcmp(argv[1], "checkpoint") == 0) {
		diag_clear(&d);
		if ((rc = gateway_pgp_ensure(argv[2], fpr, &d)) != 0)
			return fail("key", rc, &d);
		if ((rc = audit_open(&a, argv[2], &d)) != 0)
			return fail("open", rc, &d);
		rc = audit_checkpoint(a, "requested", &d);
		audit_close(a);
		return rc ? fail("checkpoint", rc, &d) : 0;
	}
	fprintf(stderr, "rg-audit-tool: bad usage\n");
	return 2;
}
