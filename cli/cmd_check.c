/*
 * relgate check: run the gateway's checks on an extract.
 *
 *   relgate check -c DIR --contract ID [--dataset NAME] [--json] FILE.csv
 *   relgate check --contract-file C.yaml [--dataset NAME] [--json] FILE.csv
 *
 * Exit status: 0 every rule passes, 1 a rule fails, 2 the input could not
 * be checked (bad usage, bad contract, unreadable file, a record over the
 * cap, no header).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checks/checks.h"
#include "cli/cli.h"
#include "common/common.h"
#include "contracts/contracts.h"
#include "disclosure/disclosure.h"
#include "keys/keys.h"

struct progress {
	uint64_t total;
	time_t	last;
	int	shown;
};

/*
 * disclosure.cumulative and disclosure.differencing against the history in
 * the gateway's state directory (read-only): the verdict the gateway gives
 * when this extract is submitted now. -1 (said on stderr) when the history
 * cannot be read.
 */
static int
judge_history(const struct config_dir *cd, const struct contract *c,
    const struct dataset *ds, struct release_trace *trace,
    struct check_report *rep)
{
	struct history_store *hs = NULL;
	struct diag d;
	char msg[1200];
	int rc;

	diag_clear(&d);
	if ((rc = history_store_open(&hs, cd->cfg.state_dir, &d)) == 0)
		rc = disclosure_judge(hs, c, ds, &trace, 1, &rep, NULL, NULL,
		    0, &d);
	history_store_close(hs);
	if (rc == 0)
		return 0;
	diag_format(&d, msg, sizeof(msg));
	fprintf(stderr, "relgate check: the release history in %s cannot be "
	    "read: %s\n", cd->cfg.state_dir, msg[0] ? msg : rg_strerror(rc));
	return -1;
}

/*
 * When the gateway masks the one_row_per column itself, the history keys
 * people by their token: the contract's masker (its key read from the
 * state directory, never made here). No key yet: nothing was released, so
 * there is nothing to join with and *out stays NULL.
 */
static int
trace_masker(const struct config_dir *cd, const struct contract *c,
    const struct dataset *ds, struct masker **out)
{
	const struct column_rule *r = ds->one_row_per ? dataset_column(ds,
	    ds->one_row_per) : NULL;
	unsigned char key[MASK_KEY_LEN];
	struct diag d;
	char msg[1200];
	int rc;

	*out = NULL;
	if (r == NULL || r->masking != MASKING_HMAC_SHA256 ||
	    r->masking_mode != MASKING_MODE_APPLY)
		return 0;
	diag_clear(&d);
	rc = mask_key_load(key, cd->cfg.state_dir, c->id, 0, &d);
	if (rc == RG_ENOENT)
		return 0;
	if (rc == 0)
		rc = masker_new(out, key);
	rg_wipe(key, sizeof(key));
	if (rc != 0) {
		diag_format(&d, msg, sizeof(msg));
		fprintf(stderr, "relgate check: masking key of %s: %s\n", c->id,
		    msg[0] ? msg : rg_strerror(rc));
		return -1;
	}
	return 0;
}

static void
check_usage(FILE *f)
{
	fprintf(f,
	    "usage: relgate check [-c DIR] --contract ID [--dataset NAME] "
	    "[--json] FILE.csv\n"
	    "       relgate check --contract-file C.yaml [--dataset NAME] "
	    "[--json] FILE.csv\n"
	    "options: --today YYYY-MM-DD (judge contract.active on that day),\n"
	    "         --no-progress, --threads N (1 or 2, default 2)\n"
	    "with -c, also disclosure.cumulative and disclosure.differencing "
	    "against the\n"
	    "gateway's release history in its state directory (read-only)\n"
	    "exit status: 0 pass, 1 a rule failed, 2 could not check\n");
}

static void
on_progress(void *arg, uint64_t bytes)
{
	struct progress *p = arg;
	time_t now = time(NULL);
	int pct;

	if (now == p->last && p->shown)
		return;
	p->last = now;
	p->shown = 1;
	pct = p->total ? (int)(bytes * 100 / p->total) : 0;
	if (pct > 100)
		pct = 100;
	fprintf(stderr, "\rchecking [%-40.*s] %3d%% %llu MB", pct * 40 / 100,
	    "########################################", pct,
	    (unsigned long long)(bytes >> 20));
}

static int
print_report(const struct check_report *r, int json)
{
	struct buf b;
	int rc;

	buf_init(&b, 64u << 20);
	rc = json ? check_report_json(r, &b) : check_report_text(r, &b);
	if (rc == 0 && json)
		rc = buf_append(&b, "\n", 1);
	if (rc == 0 && fwrite(b.data, 1, b.len, stdout) != b.len)
		rc = RG_EIO;
	if (fflush(stdout) != 0)
		rc = RG_EIO;
	buf_free(&b);
	return rc;
}

/* Why a contract of the config directory is missing (its load problem). */
static void
explain_missing(const struct config_dir *cd, const char *id)
{
	size_t i, idlen = strlen(id);
	int said = 0;

	for (i = 0; i < cd->n_problems; i++) {
		const struct config_problem *p = &cd->problems[i];
		const char *base = strrchr(p->diag.file, '/');
		char msg[1200];

		base = base ? base + 1 : p->diag.file;
		if (p->kind != 2 || strncmp(base, id, idlen) != 0 ||
		    strcmp(base + idlen, ".yaml") != 0)
			continue;
		diag_format(&p->diag, msg, sizeof(msg));
		fprintf(stderr, "relgate check: contract %s is not available: "
		    "%s\n", id, msg);
		said = 1;
	}
	if (!said)
		fprintf(stderr, "relgate check: no contract %s in %s/contracts\n",
		    id, cd->dir);
}

int
cmd_check(const struct cli_global *g, int argc, char **argv)
{
	const char *contract_id = NULL, *contract_file = NULL, *dataset = NULL;
	const char *file = NULL, *today_s = NULL;
	struct config_dir *cd = NULL;
	struct contract *own = NULL;
	const struct contract *c = NULL;
	const struct dataset *ds;
	struct checker *ck = NULL;
	struct check_report *rep = NULL;
	struct release_trace *trace = NULL;
	struct masker *masker = NULL;
	struct check_opts o;
	struct progress prog = { 0, 0, 0 };
	struct diag d;
	struct stat st;
	char msg[1200];
	int i, json = 0, show_progress = 1, threads = 2, fd = -1, ret = 2, rc;

	diag_clear(&d);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (strcmp(a, "--no-progress") == 0)
			show_progress = 0;
		else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			check_usage(stdout);
			return 0;
		} else if ((strcmp(a, "--contract") == 0 ||
		    strcmp(a, "--contract-file") == 0 ||
		    strcmp(a, "--dataset") == 0 || strcmp(a, "--today") == 0 ||
		    strcmp(a, "--threads") == 0) && i + 1 < argc) {
			const char *v = argv[++i];

			if (strcmp(a, "--contract") == 0)
				contract_id = v;
			else if (strcmp(a, "--contract-file") == 0)
				contract_file = v;
			else if (strcmp(a, "--dataset") == 0)
				dataset = v;
			else if (strcmp(a, "--today") == 0)
				today_s = v;
			else
				threads = atoi(v);
		} else if (strcmp(a, "--") == 0 && i + 2 == argc) {
			file = argv[++i];
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "relgate check: unknown option %s\n", a);
			check_usage(stderr);
			return 2;
		} else if (file == NULL)
			file = a;
		else {
			fprintf(stderr, "relgate check: one file at a time\n");
			check_usage(stderr);
			return 2;
		}
	}
	if (file == NULL || (contract_id == NULL) == (contract_file == NULL) ||
	    threads < 1 || threads > 2) {
		check_usage(stderr);
		return 2;
	}
	check_opts_init(&o);
	if (today_s != NULL && date_parse(today_s, &o.today) != 0) {
		fprintf(stderr, "relgate check: --today wants YYYY-MM-DD\n");
		return 2;
	}
	if (contract_file != NULL) {
		if ((rc = contract_load(&own, contract_file, &d)) != 0) {
			diag_format(&d, msg, sizeof(msg));
			fprintf(stderr, "relgate check: %s\n", msg);
			return 2;
		}
		c = own;
	} else {
		if ((rc = config_dir_load(&cd, g->config_dir, &d)) != 0) {
			diag_format(&d, msg, sizeof(msg));
			fprintf(stderr, "relgate check: %s\n", msg);
			return 2;
		}
		if ((c = config_dir_contract(cd, contract_id)) == NULL) {
			explain_missing(cd, contract_id);
			goto out;
		}
		/*
		 * rows.total: the rows and releases already made come from the
		 * gateway's state.db (the release worker passes them). This
		 * command does not open the state database, so it judges
		 * this extract alone (0 before).
		 */
		o.rows_total_before = 0;
		o.releases_before = 0;
	}
	if ((ds = contract_dataset(c, dataset)) == NULL) {
		if (dataset != NULL)
			fprintf(stderr, "relgate check: contract %s has no "
			    "dataset %s\n", c->id, dataset);
		else
			fprintf(stderr, "relgate check: contract %s has several "
			    "datasets: name one with --dataset\n", c->id);
		goto out;
	}
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		fprintf(stderr, "relgate check: %s: %s\n", file, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		fprintf(stderr, "relgate check: %s: not a file\n", file);
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (show_progress && isatty(STDERR_FILENO) && S_ISREG(st.st_mode)) {
		prog.total = (uint64_t)st.st_size;
		o.on_progress = on_progress;
		o.arg = &prog;
	}
	o.threads = threads;
	o.trace = cd != NULL;	/* judged with the gateway's history */
	if (cd != NULL && (rc = trace_masker(cd, c, ds, &masker)) != 0)
		goto out;
	o.trace_masker = masker;
	if ((rc = checker_new(&ck, c, ds, &o, &d)) != 0) {
		diag_format(&d, msg, sizeof(msg));
		fprintf(stderr, "relgate check: %s\n", msg);
		goto out;
	}
	rc = checker_feed_fd(ck, fd, &d);
	if (prog.shown)
		fputc('\n', stderr);
	if (rc != 0) {
		diag_format(&d, msg, sizeof(msg));
		fprintf(stderr, "relgate check: %s: %s\n", file, msg[0] ? msg :
		    rg_strerror(rc));
		goto out;
	}
	if ((rc = checker_finish(ck, &rep)) != 0 ||
	    (rc = checker_take_trace(ck, &trace)) != 0) {
		fprintf(stderr, "relgate check: %s: %s\n", file,
		    rg_strerror(rc));
		goto out;
	}
	if (cd != NULL && rep->complete && judge_history(cd, c, ds, trace,
	    rep) != 0)
		goto out;
	if (print_report(rep, json) != 0) {
		fprintf(stderr, "relgate check: cannot write the report\n");
		goto out;
	}
	if (!rep->complete) {
		fprintf(stderr, "relgate check: %s: could not be checked: %s\n",
		    file, rep->error);
		ret = 2;
	} else
		ret = check_report_passed(rep) ? 0 : 1;
out:
	if (fd >= 0)
		close(fd);
	check_report_free(rep);
	release_trace_free(trace);
	checker_free(ck);
	masker_free(masker);
	contract_free(own);
	config_dir_free(cd);
	return ret;
}
