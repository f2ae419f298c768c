/*
 * relgate audit — the security officer's review of the audit trail:
 *   list [--since T] [--until T] [--user U] [--contract C] [--type T]
 *        [--outcome O] [--limit N] [--json | --csv]
 *   show SEQ [--json]
 *   verify [--json] [--update-view]
 *   export --day YYYY-MM-DD          (JSON lines on stdout)
 *   export --sync                    (bring STATE_DIR/audit-export/ up to date)
 *   follow [filters] [--json | --csv] [--after SEQ]
 *   report --html FILE
 * The state directory comes from -c DIR's relgate.yaml (state_dir), or
 * from --state DIR. Exit status: 0 fine, 1 verification failed, 2 the
 * command could not run (usage, no log, unreadable).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "contracts/contracts.h"

enum fmt { FMT_TABLE, FMT_JSON, FMT_CSV };

struct aopts {
	struct audit_filter f;
	enum fmt fmt;
	const char *state;
	const char *day;
	const char *html;
	int	sync;
	int	update_view;
	char	since[40], until[40];
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: relgate [-c DIR] audit [--state DIR] COMMAND [OPTIONS]\n"
	    "  list   [--since T] [--until T] [--user U] [--contract C]\n"
	    "         [--type TYPE] [--outcome ok|denied|failed] [--limit N]\n"
	    "         [--json | --csv]\n"
	    "  show SEQ [--json]\n"
	    "  verify [--json] [--update-view]\n"
	    "  export --day YYYY-MM-DD | --sync\n"
	    "  follow [filters] [--after SEQ] [--json | --csv]\n"
	    "  report --html FILE\n"
	    "T is YYYY-MM-DD or an RFC 3339 UTC time (2026-11-25T17:00:00Z).\n"
	    "--state DIR names the state directory instead of relgate.yaml's "
	    "state_dir.\n");
}

/* Accept YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.ffffff]Z; write the form the
 * log stores (microseconds) so text comparison orders correctly. */
static int
norm_time(const char *in, char *out, size_t len)
{
	long days;
	size_t n = strlen(in), i;
	char frac[7] = "000000";

	if (n == 10)
		return date_parse(in, &days) == 0 ?
		    (rg_strlcpy(out, in, len), 0) : -1;
	if (n < 20 || in[10] != 'T' || in[n - 1] != 'Z')
		return -1;
	{
		char day[11];

		memcpy(day, in, 10);
		day[10] = '\0';
		if (date_parse(day, &days) != 0)
			return -1;
	}
	for (i = 11; i < 19; i++)
		if ((i == 13 || i == 16) ? in[i] != ':' :
		    (in[i] < '0' || in[i] > '9'))
			return -1;
	if (n > 20) {
		if (in[19] != '.' || n - 21 > 6 || n - 21 == 0)
			return -1;
		for (i = 20; i < n - 1; i++) {
			if (in[i] < '0' || in[i] > '9')
				return -1;
			frac[i - 20] = in[i];
		}
	} else if (in[19] != 'Z')
		return -1;
	snprintf(out, len, "%.19s.%sZ", in, frac);
	return 0;
}

static int
state_dir_of(const struct cli_global *g, const struct aopts *o, char *out,
    size_t len)
{
	struct gateway_config cfg;
	struct diag d;
	char path[4096], msg[1200];

	if (o->state != NULL) {
		rg_strlcpy(out, o->state, len);
		return 0;
	}
	gateway_config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s/relgate.yaml", g->config_dir);
	diag_clear(&d);
	if (gateway_config_load(&cfg, path, &d) != 0) {
		diag_format(&d, msg, sizeof(msg));
		fprintf(stderr, "relgate audit: %s\n", msg);
		return -1;
	}
	rg_strlcpy(out, cfg.state_dir, len);
	return 0;
}

static void
cell(const char *s, int width)
{
	printf("%-*.*s  ", width, width, s ? s : "-");
}

static int
print_record(const struct audit_record *r, void *ctx)
{
	const struct aopts *o = ctx;
	struct buf b;
	char what[256];

	buf_init(&b, 1 << 20);
	if (o->fmt == FMT_JSON) {
		if (audit_record_json(r, &b) == 0 && buf_cstr(&b) == 0)
			printf("%s\n", (char *)b.data);
	} else if (o->fmt == FMT_CSV) {
		if (audit_record_csv(r, &b) == 0 && buf_cstr(&b) == 0)
			fputs((char *)b.data, stdout);
	} else {
		printf("%7llu  ", (unsigned long long)r->seq);
		cell(r->time, 27);
		cell(r->type, 21);
		cell(r->outcome, 7);
		cell(r->user, 14);
		cell(r->contract, 16);
		what[0] = '\0';
		if (r->request)
			snprintf(what + strlen(what), sizeof(what) -
			    strlen(what), "%s ", r->request);
		if (r->release)
			snprintf(what + strlen(what), sizeof(what) -
			    strlen(what), "%s ", r->release);
		if (r->path)
			snprintf(what + strlen(what), sizeof(what) -
			    strlen(what), "%s ", r->path);
		if (r->bytes >= 0)
			snprintf(what + strlen(what), sizeof(what) -
			    strlen(what), "%lld bytes ", (long long)r->bytes);
		if (r->detail)
			snprintf(what + strlen(what), sizeof(what) -
			    strlen(what), "%s", r->detail);
		printf("%s\n", what);
	}
	buf_free(&b);
	return ferror(stdout) ? 1 : 0;
}

static void
print_header(const struct aopts *o)
{
	struct buf b;

	if (o->fmt == FMT_CSV) {
		buf_init(&b, 1024);
		if (audit_csv_header(&b) == 0 && buf_cstr(&b) == 0)
			fputs((char *)b.data, stdout);
		buf_free(&b);
	} else if (o->fmt == FMT_TABLE) {
		printf("%7s  %-27s  %-21s  %-7s  %-14s  %-16s  %s\n", "SEQ",
		    "TIME", "TYPE", "OUTCOME", "USER", "CONTRACT", "WHAT");
	}
}

static int
open_ro(const char *state, struct audit **a)
{
	struct diag d;
	char msg[1200];

	diag_clear(&d);
	if (audit_open_readonly(a, state, &d) != 0) {
		diag_format(&d, msg, sizeof(msg));
		fprintf(stderr, "relgate audit: %s\n", msg);
		return -1;
	}
	return 0;
}

static int
do_list(const char *state, struct aopts *o)
{
	struct audit *a;
	struct diag d;
	char msg[1200];
	int rc;

	if (open_ro(state, &a) != 0)
		return 2;
	print_header(o);
	diag_clear(&d);
	rc = audit_query(a, &o->f, print_record, o, &d);
	audit_close(a);
	if (rc < 0) {
		diag_format(&d, msg, sizeof(msg));
		fprintf(stderr, "relgate audit: %s\n", msg);
		return 2;
	}
	return fflush(stdout) == 0 && rc == 0 ? 0 : 2;
}

static int
do_show(const char *state, struct aopts *o, const char *seqs)
{
	struct audit_record r;
	struct audit *a;
	struct buf b;
	char *end;
	unsigned long long seq;
	int rc;

	errno = 0;
	seq = strtoull(seqs, &end, 10);
	if (*seqs == '\0' || *end != '\0' || errno != 0 || seq == 0) {
		fprintf(stderr, "relgate audit show: '%s' is not a record "
		    "number\n", seqs);
		return 2;
	}
	if (open_ro(state, &a) != 0)
		return 2;
	rc = audit_get(a, seq, &r, NULL);
	audit_close(a);
	if (rc != 0) {
		fprintf(stderr, "relgate audit show: no record %llu\n", seq);
		return 2;
	}
	if (o->fmt == FMT_JSON) {
		buf_init(&b, 1 << 20);
		if (audit_record_json(&r, &b) == 0 && buf_cstr(&b) == 0)
			printf("%s\n", (char *)b.data);
		buf_free(&b);
	} else {
		printf("seq:      %llu\n", (unsigned long long)r.seq);
		printf("time:     %s\n", r.time);
		printf("type:     %s\n", r.type);
		printf("outcome:  %s\n", r.outcome);
		printf("user:     %s\n", r.user ? r.user : "-");
		printf("role:     %s\n", r.role ? r.role : "-");
		printf("source:   %s\n", r.source ? r.source : "-");
		printf("contract: %s\n", r.contract ? r.contract : "-");
		printf("request:  %s\n", r.request ? r.request : "-");
		printf("release:  %s\n", r.release ? r.release : "-");
		printf("path:     %s\n", r.path ? r.path : "-");
		if (r.bytes >= 0)
			printf("bytes:    %lld\n", (long long)r.bytes);
		else
			printf("bytes:    -\n");
		printf("sha256:   %s\n", r.sha256 ? r.sha256 : "-");
		if (r.rows >= 0)
			printf("rows:     %lld\n", (long long)r.rows);
		else
			printf("rows:     -\n");
		printf("detail:   %s\n", r.detail ? r.detail : "-");
		printf("prev:     %s\n", r.prev);
		printf("hash:     %s\n", r.hash);
	}
	audit_record_clear(&r);
	return 0;
}

static int
do_verify(const char *state, struct aopts *o)
{
	struct audit_verify_result res;
	struct diag d;
	struct buf b;
	char msg[1200];

	diag_clear(&d);
	if (audit_verify(state, &res, &d) != 0) {
		diag_format(&d, msg, sizeof(msg));
		fprintf(stderr, "relgate audit verify: %s\n", msg);
		return 2;
	}
	buf_init(&b, 8192);
	if (o->fmt == FMT_JSON) {
		buf_printf(&b, "{\"ok\":%s,\"records\":%llu,\"last_seq\":%llu,"
		    "\"last_hash\":", res.ok ? "true" : "false",
		    (unsigned long long)res.records,
		    (unsigned long long)res.last_seq);
		json_append_string(&b, res.records ? res.last_hash : "");
		buf_printf(&b, ",\"checkpoints\":%llu,\"last_checkpoint\":%llu,"
		    "\"pending_checkpoints\":%llu,\"bad_seq\":",
		    (unsigned long long)res.checkpoints,
		    (unsigned long long)res.last_checkpoint,
		    (unsigned long long)res.pending);
		if (res.ok)
			buf_printf(&b, "null,\"reason\":null");
		else {
			buf_printf(&b, "%llu,\"reason\":",
			    (unsigned long long)res.bad_seq);
			json_append_string(&b, res.reason);
		}
		buf_printf(&b, ",\"time\":\"%s\"}\n", res.time);
	} else {
		audit_verify_text(&res, &b);
	}
	if (buf_cstr(&b) == 0)
		fputs((char *)b.data, res.ok ? stdout : stdout);
	buf_free(&b);
	if (o->update_view) {
		diag_clear(&d);
		if (audit_export_verify(state, &res, &d) != 0) {
			diag_format(&d, msg, sizeof(msg));
			fprintf(stderr, "relgate audit verify: %s\n", msg);
			return 2;
		}
	}
	if (!res.ok)
		fprintf(stderr, "relgate audit verify: record %llu: %s\n",
		    (unsigned long long)res.bad_seq, res.reason);
	return res.ok ? 0 : 1;
}

static int
do_export(const char *state, struct aopts *o)
{
	struct audit_filter f;
	struct diag d;
	struct audit *a;
	char msg[1200];
	long days;
	int rc;

	if (o->sync) {
		diag_clear(&d);
		if (audit_export_sync(state, &d) != 0) {
			diag_format(&d, msg, sizeof(msg));
			fprintf(stderr, "relgate audit export: %s\n", msg);
			return 2;
		}
		return 0;
	}
	if (o->day == NULL || strlen(o->day) != 10 ||
	    date_parse(o->day, &days) != 0) {
		fprintf(stderr, "relgate audit export: --day YYYY-MM-DD "
		    "required\n");
		return 2;
	}
	if (open_ro(state, &a) != 0)
		return 2;
	memset(&f, 0, sizeof(f));
	f.since = o->day;
	f.until = o->day;
	o->fmt = FMT_JSON;
	rc = audit_query(a, &f, print_record, o, NULL);
	audit_close(a);
	return rc == 0 && fflush(stdout) == 0 ? 0 : 2;
}

static volatile sig_atomic_t follow_stop;

static void
on_sig(int sig)
{
	(void)sig;
	follow_stop = 1;
}

struct follow_ctx {
	struct aopts *o;
	uint64_t last;
};

static int
follow_one(const struct audit_record *r, void *ctx)
{
	struct follow_ctx *fc = ctx;

	fc->last = r->seq;
	return print_record(r, fc->o);
}

static int
do_follow(const char *state, struct aopts *o)
{
	struct follow_ctx fc;
	struct audit *a;
	struct timespec ts = { 0, 250000000 };
	struct diag d;
	char msg[1200];
	uint64_t last;
	int rc = 0;

	/* Handlers first: a follow stopped while starting still exits 0. */
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	signal(SIGPIPE, on_sig);
	if (open_ro(state, &a) != 0)
		return 2;
	if (o->f.after_seq == 0) {
		if (audit_last_seq(a, &last, NULL) != 0) {
			audit_close(a);
			return 2;
		}
		o->f.after_seq = last;
	}
	print_header(o);
	fflush(stdout);
	fc.o = o;
	while (!follow_stop) {
		fc.last = o->f.after_seq;
		/* The filter's seq bound moves on; the record filters stay. */
		diag_clear(&d);
		if (audit_query(a, &o->f, follow_one, &fc, &d) < 0) {
			diag_format(&d, msg, sizeof(msg));
			fprintf(stderr, "relgate audit follow: %s\n", msg);
			rc = 2;
			break;
		}
		o->f.after_seq = fc.last;
		if (fflush(stdout) != 0)
			break;
		nanosleep(&ts, NULL);
	}
	audit_close(a);
	return rc;
}

static int
do_report(const char *state, struct aopts *o)
{
	struct diag d;
	char msg[1200];

	if (o->html == NULL) {
		fprintf(stderr, "relgate audit report: --html FILE required\n");
		return 2;
	}
	diag_clear(&d);
	if (audit_report_html(state, o->html, &d) != 0) {
		diag_format(&d, msg, sizeof(msg));
		fprintf(stderr, "relgate audit report: %s\n", msg);
		return 2;
	}
	return 0;
}

int
cmd_audit(const struct cli_global *g, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "user", required_argument, NULL, 'U' },
		{ "contract", required_argument, NULL, 'C' },
		{ "type", required_argument, NULL, 't' },
		{ "outcome", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ "after", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'v' },
		{ "state", required_argument, NULL, 'S' },
		{ "day", required_argument, NULL, 'd' },
		{ "html", required_argument, NULL, 'h' },
		{ "sync", no_argument, NULL, 'y' },
		{ "update-view", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	struct aopts o;
	const char *cmd;
	char state[4096];
	char *end;
	int c, i;

	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", lopts, NULL)) != -1 ||
	    optind < argc) {
		if (c == -1) {
			/* A positional (the subcommand, SEQ): keep going. */
			optind++;
			continue;
		}
		switch (c) {
		case 's':
		case 'u':
			if (norm_time(optarg, c == 's' ? o.since : o.until,
			    sizeof(o.since)) != 0) {
				fprintf(stderr, "relgate audit: bad time '%s' "
				    "(YYYY-MM-DD or RFC 3339 UTC)\n", optarg);
				return 2;
			}
			if (c == 's')
				o.f.since = o.since;
			else
				o.f.until = o.until;
			break;
		case 'U': o.f.user = optarg; break;
		case 'C': o.f.contract = optarg; break;
		case 't': o.f.type = optarg; break;
		case 'o':
			if (strcmp(optarg, "ok") != 0 &&
			    strcmp(optarg, "denied") != 0 &&
			    strcmp(optarg, "failed") != 0) {
				fprintf(stderr, "relgate audit: --outcome is "
				    "ok, denied or failed\n");
				return 2;
			}
			o.f.outcome = optarg;
			break;
		case 'l':
		case 'a':
			errno = 0;
			if (c == 'l')
				o.f.limit = strtoull(optarg, &end, 10);
			else
				o.f.after_seq = strtoull(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0) {
				fprintf(stderr, "relgate audit: bad number "
				    "'%s'\n", optarg);
				return 2;
			}
			break;
		case 'j': o.fmt = FMT_JSON; break;
		case 'v': o.fmt = FMT_CSV; break;
		case 'S': o.state = optarg; break;
		case 'd': o.day = optarg; break;
		case 'h': o.html = optarg; break;
		case 'y': o.sync = 1; break;
		case 'w': o.update_view = 1; break;
		case 'H': usage(stdout); return 0;
		default:
			fprintf(stderr, "relgate audit: unknown or incomplete "
			    "option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	/* Positionals: argv[0] is "audit"; the first other non-option word
	 * is the command, the next its argument. */
	{
		const char *pos[2] = { NULL, NULL };
		int np = 0;

		for (i = 1; i < argc; i++) {
			if (argv[i][0] == '-') {
				/* skip an option and its argument */
				const struct option *lo;

				for (lo = lopts; lo->name; lo++)
					if (strcmp(argv[i] + 2, lo->name) == 0 &&
					    lo->has_arg == required_argument)
						i++;
				continue;
			}
			if (np < 2)
				pos[np++] = argv[i];
			else {
				fprintf(stderr, "relgate audit: unexpected "
				    "'%s'\n", argv[i]);
				return 2;
			}
		}
		cmd = pos[0];
		if (cmd == NULL) {
			usage(stderr);
			return 2;
		}
		if (strcmp(cmd, "show") != 0 && pos[1] != NULL) {
			fprintf(stderr, "relgate audit: unexpected '%s'\n",
			    pos[1]);
			return 2;
		}
		if (state_dir_of(g, &o, state, sizeof(state)) != 0)
			return 2;
		if (strcmp(cmd, "list") == 0)
			return do_list(state, &o);
		if (strcmp(cmd, "show") == 0) {
			if (pos[1] == NULL) {
				fprintf(stderr, "relgate audit show: SEQ "
				    "required\n");
				return 2;
			}
			return do_show(state, &o, pos[1]);
		}
		if (strcmp(cmd, "verify") == 0)
			return do_verify(state, &o);
		if (strcmp(cmd, "export") == 0)
			return do_export(state, &o);
		if (strcmp(cmd, "follow") == 0)
			return do_follow(state, &o);
		if (strcmp(cmd, "report") == 0)
			return do_report(state, &o);
	}
	fprintf(stderr, "relgate audit: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
