/*
 * A submitted request: give it an ID, then one streaming pass over each of
 * its files. Each chunk read goes to the check engine, to SHA-256 and (when
 * no column is masked by the gateway) straight into the staged package
 * (tar+zstd). Where a column has `masking_mode: apply`, the masked CSV is
 * written to a staging file in the same pass (its SHA-256 and tokens taken
 * on the way) and added to the package after. The file is read once and
 * never held whole in memory. After the pass only signing and encryption
 * remain for an approval.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#include <openssl/evp.h>

#include "audit/audit.h"
#include "checks/checks.h"
#include "contracts/contracts.h"
#include "disclosure/disclosure.h"
#include "release/release.h"
#include "release/internal.h"
#include "keys/keys.h"

#define READ_CHUNK	(1u << 20)
#define OUT_FLUSH	(1u << 20)
#define REPORT_MAX	(4u << 20)

/* One file's pass. */
struct pass {
	struct worker *w;
	const struct dataset *ds;
	struct fpset *tokens;
	struct fpset tokens1;		/* the check's helper thread's */
	/* apply mode */
	int	apply;
	int	*apply_cols;		/* per file column: 1 = mask here */
	size_t	n_cols;
	struct masker *masker;
	int	out_fd;
	struct buf out;
	EVP_MD_CTX *sha;
	uint64_t out_bytes;
	int	io_error;
	struct buf columns;		/* header, as CSV */
};

static int
on_token(void *arg, size_t col, const char *tok, size_t len)
{
	struct pass *p = arg;

	(void)col;
	return fpset_add(p->tokens, token_fingerprint(tok, len)) == RG_OK ?
	    0 : RG_ENOMEM;
}

static int
out_flush(struct pass *p)
{
	size_t off = 0;

	EVP_DigestUpdate(p->sha, p->out.data, p->out.len);
	while (off < p->out.len) {
		ssize_t n = write(p->out_fd, p->out.data + off,
		    p->out.len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			p->io_error = errno ? errno : EIO;
			return RG_EIO;
		}
		off += (size_t)n;
	}
	p->out_bytes += p->out.len;
	buf_reset(&p->out);
	return RG_OK;
}

/* apply mode: write each record to the masked copy, tokens in place of the
 * raw identifiers of the columns the gateway masks. */
/* Keep the header's column names (for the manifest). */
static void
keep_header(struct pass *p, const struct csv_field *f, size_t n)
{
	size_t i;

	buf_reset(&p->columns);
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)buf_append(&p->columns, ",", 1);
		(void)csv_field_append(&p->columns, f[i].p, f[i].len);
	}
	(void)buf_cstr(&p->columns);
}

/* Two-thread check (verify mode): each thread's tokens go to its own set
 * (the helper's merged after), so the callback needs no lock. */
static int
on_token_mt(void *arg, int thread, size_t col, const char *tok, size_t len)
{
	struct pass *p = arg;

	(void)col;
	return fpset_add(thread == 0 ? p->tokens : &p->tokens1,
	    token_fingerprint(tok, len)) == RG_OK ? 0 : RG_ENOMEM;
}

/* Two-thread check: the header row. */
static int
on_header(void *arg, const struct csv_field *f, size_t n)
{
	keep_header(arg, f, n);
	return 0;
}

static int
on_row(void *arg, unsigned long row, const struct csv_field *f, size_t n)
{
	struct pass *p = arg;
	char tok[MASK_TOKEN_LEN + 1];
	size_t i;
	int rc = 0;

	if (row == 0) {
		keep_header(p, f, n);
		free(p->apply_cols);
		if ((p->apply_cols = calloc(n ? n : 1, sizeof(int))) == NULL)
			return RG_ENOMEM;
		p->n_cols = n;
		for (i = 0; i < n; i++) {
			char name[256];
			const struct column_rule *cr;

			if (f[i].len >= sizeof(name))
				continue;
			memcpy(name, f[i].p, f[i].len);
			name[f[i].len] = '\0';
			cr = dataset_column(p->ds, name);
			p->apply_cols[i] = cr != NULL &&
			    cr->masking == MASKING_HMAC_SHA256 &&
			    cr->masking_mode == MASKING_MODE_APPLY;
		}
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			rc |= buf_append(&p->out, ",", 1);
		if (row > 0 && i < p->n_cols && p->apply_cols[i] &&
		    f[i].len > 0) {
			if (masker_token(p->masker, f[i].p, f[i].len, tok) != 0)
				return RG_ECRYPTO;
			if (fpset_add(p->tokens, token_fingerprint(tok,
			    MASK_TOKEN_LEN)) != RG_OK)
				return RG_ENOMEM;
			rc |= buf_append(&p->out, tok, MASK_TOKEN_LEN);
		} else
			rc |= csv_field_append(&p->out, f[i].p, f[i].len);
	}
	rc |= buf_append(&p->out, "\n", 1);
	if (rc != 0)
		return RG_ETOOBIG;
	if (p->out.len >= OUT_FLUSH)
		return out_flush(p);
	return 0;
}

/* Results of one file. */
struct file_result {
	char	name[RG_NAME_MAX];
	struct check_report *report;
	char	sha256[65];		/* of the bytes released */
	char	extract_sha256[65];	/* of the file as uploaded */
	uint64_t bytes;		/* bytes released (after masking) */
	char	columns[4096];	/* the header row as CSV */
	struct release_trace *trace;	/* for the disclosure history */
};

struct check_job {
	struct worker *w;
	struct request_rec *r;
	const struct contract *c;
	const struct dataset *ds;
	struct request_doc *doc;
	struct stage *stage;
	struct fpset tokens;
	struct file_result *files;
	size_t	n_files;
	int64_t	rows_before, releases_before;
	char	error[512];	/* the request could not be checked */
};

static void __attribute__((format(printf, 2, 3)))
job_err(struct check_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->error, sizeof(j->error), fmt, ap);
	va_end(ap);
}

static void
sha_hex(EVP_MD_CTX *c, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex(c, md, &n);
	hex_encode(out, md, n);
}

/* Check, hash and stage one file. RG_OK also when rules fail. */
static int
check_file(struct check_job *j, size_t idx, unsigned char *chunk)
{
	struct file_result *fr = &j->files[idx];
	char path[PATH_MAX], ename[PATH_MAX], mpath[PATH_MAX];
	struct pass p;
	struct check_opts o;
	struct checker *ck = NULL;
	struct diag d;
	struct stat st;
	EVP_MD_CTX *in_sha = NULL;
	struct io_thread io;
	uint64_t got = 0;
	int fd = -1, rc;
	size_t i;

	memset(&p, 0, sizeof(p));
	memset(&io, 0, sizeof(io));
	p.w = j->w;
	p.ds = j->ds;
	p.tokens = &j->tokens;
	p.out_fd = -1;
	diag_clear(&d);
	rg_strlcpy(fr->name, j->doc->files[idx], sizeof(fr->name));
	if (worker_path(path, sizeof(path), "%s/spool/staff/%s/%s/%s",
	    j->w->state_dir, j->r->submitter, j->r->folder, fr->name) != 0 ||
	    worker_path(ename, sizeof(ename), "%s/data/%s", j->r->release,
	    fr->name) != 0 ||
	    worker_path(mpath, sizeof(mpath), "%s/requests/%s/masked.%zu.csv",
	    j->w->state_dir, j->r->id, idx) != 0) {
		job_err(j, "%s: path too long",
		    fr->name);
		return RG_EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		job_err(j, "%s: %s", fr->name,
		    fd == -1 ? strerror(errno) : "not a regular file");
		rc = RG_ENOENT;
		goto out;
	}
#ifdef POSIX_FADV_SEQUENTIAL
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	check_opts_init(&o);
	o.rows_total_before = (long)j->rows_before;
	o.releases_before = (long)j->releases_before;
	o.arg = &p;
	/* Verify mode: two threads check (callbacks of the thread-safe
	 * form); apply mode rewrites rows in order on one thread. */
	o.threads = j->w->threads > 0 ? 2 : 1;
	o.trace = 1;
	o.on_token_mt = on_token_mt;
	o.on_header = on_header;
	buf_init(&p.columns, sizeof(fr->columns) - 1);

	for (i = 0; i < j->ds->n_columns; i++)
		if (j->ds->columns[i].masking == MASKING_HMAC_SHA256 &&
		    j->ds->columns[i].masking_mode == MASKING_MODE_APPLY)
			p.apply = 1;
	if (p.apply) {
		unsigned char key[MASK_KEY_LEN];

		rc = mask_key_load(key, j->w->state_dir, j->c->id, 1, &d);
		if (rc == RG_OK)
			rc = masker_new(&p.masker, key);
		o.trace_masker = p.masker;
		rg_wipe(key, sizeof(key));
		if (rc != RG_OK) {
			job_err(j,
			    "masking key: %s", d.msg[0] ? d.msg :
			    rg_strerror(rc));
			goto out;
		}
		p.out_fd = open(mpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (p.out_fd == -1) {
			job_err(j, "%s: %s", mpath,
			    strerror(errno));
			rc = RG_EIO;
			goto out;
		}
		buf_init(&p.out, OUT_FLUSH + CSV_DEFAULT_MAX_ROW * 2);
		if ((p.sha = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(p.sha, EVP_sha256(), NULL) != 1) {
			rc = RG_ENOMEM;
			goto out;
		}
		o.threads = 1;
		o.on_token_mt = NULL;
		o.on_header = NULL;
		o.on_token = on_token;
		o.on_row = on_row;
	}
	if ((rc = checker_new(&ck, j->c, j->ds, &o, &d)) != RG_OK) {
		job_err(j, "checks: %s", d.msg);
		goto out;
	}
	if ((in_sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(in_sha, EVP_sha256(), NULL) != 1) {
		rc = RG_ENOMEM;
		goto out;
	}
	if (!p.apply && (rc = stage_entry_begin(j->stage, ename,
	    (int64_t)st.st_size, st.st_mtime, &d)) != RG_OK) {
		job_err(j, "package: %s", d.msg);
		goto out;
	}
	if (!p.apply && j->w->threads > 0) {
		/* verify mode on 2+ cores: reading, SHA-256 and staging on an
		 * I/O thread */
		const unsigned char *b;
		size_t n;

		if ((rc = io_start(&io, fd, (uint64_t)st.st_size, in_sha,
		    j->stage)) != RG_OK)
			goto out;
		while ((b = io_next(&io, &n)) != NULL) {
			rc = checker_feed(ck, b, n);
			io_release(&io);
			if (rc != 0) {
				job_err(j, "%s: %s", fr->name,
				    rg_strerror(rc));
				goto out;
			}
		}
		io_stop(&io);	/* everything read is hashed and staged */
		got = io.got;
		if (io.failed) {
			job_err(j, "package: %s", io.diag.msg);
			rc = RG_EIO;
			goto out;
		}
		if (io.stopped) {
			job_err(j, "stopped");
			rc = RG_EAGAIN;
			goto out;
		}
		if (io.read_errno) {
			job_err(j, "%s: read: %s", fr->name,
			    strerror(io.read_errno));
			rc = RG_EIO;
			goto out;
		}
		if (io.changed)
			got = (uint64_t)st.st_size + 1;	/* reported below */
	} else for (;;) {
		unsigned char *rb = chunk;
		ssize_t n = read(fd, rb, READ_CHUNK);

		if (n == -1 && errno == EINTR)
			continue;
		if (n < 0) {
			job_err(j, "%s: read: %s",
			    fr->name, strerror(errno));
			rc = RG_EIO;
			goto out;
		}
		if (n == 0)
			break;
		if (worker_stop_flag) {
			job_err(j, "stopped");
			rc = RG_EAGAIN;
			goto out;
		}
		got += (uint64_t)n;
		if (got > (uint64_t)st.st_size) {
			job_err(j,
			    "%s changed while being checked", fr->name);
			rc = RG_EIO;
			goto out;
		}
		EVP_DigestUpdate(in_sha, rb, (size_t)n);
		if (!p.apply) {
			if ((rc = stage_entry_write(j->stage, rb, (size_t)n,
			    &d)) != RG_OK) {
				job_err(j,
				    "package: %s", d.msg);
				goto out;
			}
		}
		if ((rc = checker_feed(ck, rb, (size_t)n)) != 0) {
			job_err(j, "%s: %s",
			    fr->name, p.io_error ? strerror(p.io_error) :
			    rg_strerror(rc));
			goto out;
		}
	}
	if (got != (uint64_t)st.st_size) {
		job_err(j,
		    "%s changed while being checked", fr->name);
		rc = RG_EIO;
		goto out;
	}
	sha_hex(in_sha, fr->extract_sha256);
	if ((rc = checker_finish(ck, &fr->report)) != RG_OK ||
	    (rc = checker_take_trace(ck, &fr->trace)) != RG_OK) {
		job_err(j, "%s: %s", fr->name,
		    rg_strerror(rc));
		goto out;
	}
	if ((rc = fpset_append(p.tokens, p.tokens1.v, p.tokens1.n)) !=
	    RG_OK) {
		job_err(j, "%s: %s", fr->name, rg_strerror(rc));
		goto out;
	}
	if (!p.apply) {
		if ((rc = stage_entry_end(j->stage, &d)) != RG_OK) {
			job_err(j, "package: %s",
			    d.msg);
			goto out;
		}
		memcpy(fr->sha256, fr->extract_sha256, sizeof(fr->sha256));
		fr->bytes = got;
	} else {
		/* Add the masked copy to the package: a second read of our
		 * own staging file, not of the extract. */
		if (p.out.len > 0 && (rc = out_flush(&p)) != RG_OK) {
			job_err(j, "%s: %s", mpath,
			    strerror(p.io_error));
			goto out;
		}
		sha_hex(p.sha, fr->sha256);
		fr->bytes = p.out_bytes;
		if ((rc = stage_entry_begin(j->stage, ename,
		    (int64_t)p.out_bytes, time(NULL), &d)) != RG_OK) {
			job_err(j, "package: %s",
			    d.msg);
			goto out;
		}
		got = 0;
		while (got < p.out_bytes) {
			ssize_t n = pread(p.out_fd, chunk, READ_CHUNK,
			    (off_t)got);

			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				job_err(j,
				    "%s: short read", mpath);
				rc = RG_EIO;
				goto out;
			}
			if ((rc = stage_entry_write(j->stage, chunk,
			    (size_t)n, &d)) != RG_OK) {
				job_err(j,
				    "package: %s", d.msg);
				goto out;
			}
			got += (uint64_t)n;
		}
		if ((rc = stage_entry_end(j->stage, &d)) != RG_OK) {
			job_err(j, "package: %s",
			    d.msg);
			goto out;
		}
	}
	if (p.columns.data != NULL)
		rg_strlcpy(fr->columns, (const char *)p.columns.data,
		    sizeof(fr->columns));
	rc = RG_OK;
out:
	io_stop(&io);
	fpset_free(&p.tokens1);
	buf_free(&p.columns);
	EVP_MD_CTX_free(in_sha);
	EVP_MD_CTX_free(p.sha);
	checker_free(ck);
	masker_free(p.masker);
	free(p.apply_cols);
	buf_free(&p.out);
	if (p.out_fd != -1) {
		close(p.out_fd);
		unlink(mpath);
	}
	if (fd != -1)
		close(fd);
	return rc;
}

/* The checks.json and checks.txt of a request from its file reports. */
static int
write_reports(struct check_job *j, const char *verdict)
{
	char path[PATH_MAX];
	struct buf js, tx;
	struct diag d;
	size_t i;
	int rc = 0;

	buf_init(&js, REPORT_MAX);
	buf_init(&tx, REPORT_MAX);
	if (j->error[0]) {
		rc |= buf_printf(&js, "{\"verdict\": \"fail\", \"contract\": ");
		rc |= j->c ? json_append_string(&js, j->c->id) :
		    buf_printf(&js, "null");
		rc |= buf_printf(&js, ", \"error\": ");
		rc |= json_append_string(&js, j->error);
		rc |= buf_printf(&js, ", \"rules\": []}");
		rc |= buf_printf(&tx, "The request could not be checked: %s\n",
		    j->error);
	} else if (j->n_files == 1) {
		rc |= check_report_json(j->files[0].report, &js);
		rc |= check_report_text(j->files[0].report, &tx);
	} else {
		uint64_t rows = 0;

		for (i = 0; i < j->n_files; i++)
			rows += j->files[i].report->rows;
		rc |= buf_printf(&js, "{\"verdict\": \"%s\", \"contract\": ",
		    verdict);
		rc |= json_append_string(&js, j->c->id);
		rc |= buf_printf(&js, ", \"dataset\": ");
		rc |= json_append_string(&js, j->ds->name);
		rc |= buf_printf(&js, ", \"rows\": %llu, \"files\": [",
		    (unsigned long long)rows);
		for (i = 0; i < j->n_files; i++) {
			rc |= buf_printf(&js, "%s{\"file\": ", i ? ", " : "");
			rc |= json_append_string(&js, j->files[i].name);
			rc |= buf_printf(&js, ", \"report\": ");
			rc |= check_report_json(j->files[i].report, &js);
			rc |= buf_printf(&js, "}");
			rc |= buf_printf(&tx, "== %s\n", j->files[i].name);
			rc |= check_report_text(j->files[i].report, &tx);
			rc |= buf_printf(&tx, "\n");
		}
		rc |= buf_printf(&js, "]}");
	}
	if (rc != 0) {
		rc = RG_ETOOBIG;
		goto out;
	}
	diag_clear(&d);
	if ((rc = worker_path(path, sizeof(path), "%s/requests/%s/checks.json",
	    j->w->state_dir, j->r->id)) != 0 ||
	    (rc = file_write_atomic(path, js.data, js.len, 0600, &d)) != 0)
		goto out;
	if ((rc = worker_path(path, sizeof(path), "%s/requests/%s/checks.txt",
	    j->w->state_dir, j->r->id)) != 0 ||
	    (rc = file_write_atomic(path, tx.data, tx.len, 0600, &d)) != 0)
		goto out;
out:
	buf_free(&js);
	buf_free(&tx);
	return rc;
}

/* masking.linkable: compare this request's token fingerprints with every
 * other contract's releases. Marks the rule on every file report. */
static int
judge_linkable(struct check_job *j)
{
	char (*paths)[1024] = NULL;
	int64_t overlap = 0;
	size_t n = 0, i;
	struct diag d;
	int rc, masked = 0;
	char detail[128];

	for (i = 0; i < j->ds->n_columns; i++)
		if (j->ds->columns[i].masking == MASKING_HMAC_SHA256)
			masked = 1;
	if (!masked)
		return RG_OK;	/* no pseudonyms: the rule stays "skip" */
	fpset_finish(&j->tokens);
	if ((rc = state_db_tokens_others(j->w->db, j->c->id, &paths, &n)) != 0)
		return rc;
	diag_clear(&d);
	for (i = 0; i < n && j->tokens.n > 0; i++) {
		int64_t c = 0;

		if ((rc = fpset_overlap_file(&j->tokens, paths[i], &c, &d)) !=
		    RG_OK) {
			free(paths);
			return rc;
		}
		overlap += c;
	}
	free(paths);
	snprintf(detail, sizeof(detail), overlap ?
	    "%lld tokens also released under another contract" :
	    "no token released under another contract", (long long)overlap);
	for (i = 0; i < j->n_files; i++)
		check_report_mark(j->files[i].report, "masking.linkable",
		    overlap ? CHECK_FAIL : CHECK_PASS, (uint64_t)overlap, NULL,
		    detail);
	return RG_OK;
}

/* disclosure.cumulative and disclosure.differencing: this request with
 * everything released before it (disclosure/). Marks every file report. */
static int
judge_disclosure(struct check_job *j)
{
	struct release_trace **t = NULL;
	struct check_report **r = NULL;
	struct history_store *hs = NULL;
	struct diag d;
	size_t i;
	int rc = RG_ENOMEM;

	diag_clear(&d);
	if ((t = calloc(j->n_files + 1, sizeof(*t))) == NULL ||
	    (r = calloc(j->n_files + 1, sizeof(*r))) == NULL ||
	    history_store_wrap(&hs, state_db_sqlite(j->w->db),
	    j->w->state_dir) != RG_OK)
		goto out;
	for (i = 0; i < j->n_files; i++) {
		t[i] = j->files[i].trace;
		r[i] = j->files[i].report;
	}
	if ((rc = disclosure_judge(hs, j->c, j->ds, t, j->n_files, r, NULL,
	    NULL, 0, &d)) != RG_OK)
		log_warnx("%s: release history: %s", j->r->id, d.msg[0] ?
		    d.msg : rg_strerror(rc));
out:
	history_store_close(hs);
	free(t);
	free(r);
	return rc;
}

/* Keep each file's trace for the approval (requests/ID/trace.N). */
static int
write_traces(struct check_job *j, struct diag *d)
{
	char path[PATH_MAX];
	size_t i;
	int rc;

	for (i = 0; i < j->n_files; i++) {
		if (j->files[i].trace == NULL)
			continue;
		if (worker_path(path, sizeof(path), "%s/requests/%s/trace.%zu",
		    j->w->state_dir, j->r->id, i) != 0)
			return RG_EINVAL;
		if ((rc = release_trace_write(j->files[i].trace, path, d)) !=
		    RG_OK)
			return rc;
	}
	return RG_OK;
}

/* Names of the failing rules, comma separated, into out. */
static void
failed_rules(const struct check_job *j, char *out, size_t len)
{
	size_t i, k, o = 0;

	out[0] = '\0';
	for (i = 0; i < j->n_files; i++) {
		const struct check_report *rep = j->files[i].report;

		if (!rep->complete && o + 20 < len)
			o += (size_t)snprintf(out + o, len - o, "%scsv.wellformed",
			    o ? ", " : "");
		for (k = 0; k < rep->n_results; k++) {
			const char *rule = rep->results[k].rule;

			if (rep->results[k].status != CHECK_FAIL ||
			    strstr(out, rule) != NULL)
				continue;
			if (o + strlen(rule) + 3 >= len)
				return;
			o += (size_t)snprintf(out + o, len - o, "%s%s",
			    o ? ", " : "", rule);
		}
	}
}

static void
job_free(struct check_job *j)
{
	size_t i;

	for (i = 0; i < j->n_files; i++) {
		check_report_free(j->files[i].report);
		release_trace_free(j->files[i].trace);
	}
	free(j->files);
	fpset_free(&j->tokens);
	stage_abort(j->stage);
	request_doc_free(j->doc);
}

/*
 * requests/ID/package.txt: what the manifest needs at approval, one item a
 * line, tab-separated: "file NAME BYTES ROWS SHA256 COLUMNS" and
 * "rule NAME" for each rule that ran and passed.
 */
static int
write_package_info(struct check_job *j)
{
	char path[PATH_MAX], seen[4096];
	struct buf b;
	size_t i, k;
	int rc = 0;

	seen[0] = '\0';
	buf_init(&b, REPORT_MAX);
	for (i = 0; i < j->n_files; i++)
		rc |= buf_printf(&b, "file\t%s\t%llu\t%llu\t%s\t%s\n",
		    j->files[i].name, (unsigned long long)j->files[i].bytes,
		    (unsigned long long)j->files[i].report->rows,
		    j->files[i].sha256, j->files[i].columns);
	for (i = 0; i < j->n_files; i++) {
		const struct check_report *rep = j->files[i].report;

		for (k = 0; k < rep->n_results; k++) {
			char tag[40];

			if (rep->results[k].status != CHECK_PASS)
				continue;
			snprintf(tag, sizeof(tag), "|%s|", rep->results[k].rule);
			if (strstr(seen, tag) != NULL ||
			    strlen(seen) + strlen(tag) >= sizeof(seen))
				continue;
			strcat(seen, tag);
			rc |= buf_printf(&b, "rule\t%s\n",
			    rep->results[k].rule);
		}
	}
	if (rc == 0 && (rc = worker_path(path, sizeof(path),
	    "%s/requests/%s/package.txt", j->w->state_dir, j->r->id)) == 0)
		rc = file_write_atomic(path, b.data, b.len, 0600, NULL);
	buf_free(&b);
	return rc ? RG_EIO : RG_OK;
}

/* Store the outcome of a check: audit, state, status files. */
static int
conclude(struct check_job *j, int passed)
{
	char rules[400], note[512], stage_tmp[PATH_MAX], stage[PATH_MAX];
	char fp_path[PATH_MAX];
	struct audit_event ev;
	struct buf detail;
	uint64_t rows = 0;
	struct diag d;
	size_t i;
	int rc;

	diag_clear(&d);
	for (i = 0; i < j->n_files; i++)
		if (j->files[i].report)
			rows += j->files[i].report->rows;
	if (worker_path(stage_tmp, sizeof(stage_tmp),
	    "%s/requests/%s/stage.tar.zst.tmp", j->w->state_dir, j->r->id) ||
	    worker_path(stage, sizeof(stage), "%s/requests/%s/stage.tar.zst",
	    j->w->state_dir, j->r->id) ||
	    worker_path(fp_path, sizeof(fp_path), "%s/requests/%s/tokens.fp",
	    j->w->state_dir, j->r->id))
		return RG_EINVAL;
	if (passed) {
		rc = stage_close(j->stage, &d);
		j->stage = NULL;
		if (rc == RG_OK && rename(stage_tmp, stage) != 0)
			rc = RG_EIO;
		if (rc == RG_OK)
			rc = fpset_write(&j->tokens, fp_path, &d);
		if (rc == RG_OK)
			rc = write_traces(j, &d);
		if (rc != RG_OK) {
			unlink(stage_tmp);
			log_warnx("%s: staging failed: %s", j->r->id, d.msg);
			return rc;	/* stays `checking`: retried */
		}
		(void)dir_fsync(stage);
	} else {
		stage_abort(j->stage);
		j->stage = NULL;
		unlink(stage);
	}
	if ((rc = write_reports(j, passed ? "pass" : "fail")) != RG_OK)
		return rc;
	if (passed && (rc = write_package_info(j)) != RG_OK)
		return rc;

	if (passed)
		rules[0] = '\0';
	else if (j->error[0])
		rg_strlcpy(rules, j->error, sizeof(rules));
	else
		failed_rules(j, rules, sizeof(rules));
	audit_event_init(&ev, passed ? "check.passed" : "check.failed",
	    passed ? "ok" : "failed");
	ev.user = j->r->submitter;
	ev.role = "staff";
	ev.contract = j->c ? j->c->id : NULL;
	ev.request = j->r->id;
	ev.rows = (int64_t)rows;
	if (passed)
		rg_strlcpy(note, "all rules passed", sizeof(note));
	else {
		rg_strlcpy(note, j->error[0] ? "could not be checked: " :
		    "failed rules: ", sizeof(note));
		strncat(note, rules, sizeof(note) - strlen(note) - 1);
	}
	/* The SHA-256 of each file as uploaded (the session does not hash
	 * uploads): the field for one file, the detail for several. */
	buf_init(&detail, 64 * 1024);
	(void)buf_printf(&detail, "%s", note);
	if (j->n_files == 1 && j->files[0].extract_sha256[0])
		ev.sha256 = j->files[0].extract_sha256;
	else
		for (i = 0; i < j->n_files; i++)
			if (j->files[i].extract_sha256[0])
				(void)buf_printf(&detail, "; sha256 %s=%s",
				    j->files[i].name,
				    j->files[i].extract_sha256);
	ev.detail = buf_cstr(&detail) == RG_OK ? (const char *)detail.data :
	    note;
	rc = worker_audit(j->w, &ev);
	buf_free(&detail);
	if (rc != RG_OK)
		return rc;
	j->r->rows = (int64_t)rows;
	/* What the approvers are asked to authorise, for them to read: the
	 * extract files, once the checks have read them. */
	if (passed)
		(void)worker_extracts_link(j->w, j->r, j->doc);
	if (!passed) {
		if (j->r->release[0])
			(void)state_db_release_drop(j->w->db, j->r->release);
		j->r->release[0] = '\0';
		(void)unlink(fp_path);
	}
	return worker_set_state(j->w, j->r, passed ? RQ_AWAITING : RQ_FAILED,
	    passed ? "" : note);
}

/*
 * zstd worker threads for the staging: one per core (at most 4). The check
 * pass itself is two threads, so with one zstd thread compression alone
 * would set the pace; with more, the cores are shared by whatever is
 * behind. 0 on one core (compression on the caller's thread).
 */
static int
zstd_threads(const struct worker *w)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (w->threads <= 0 || n < 2)
		return w->threads > 0 ? w->threads : 0;
	return n > 4 ? 4 : (int)n;
}

/* Check a request (state `checking`) from the start. */
int
worker_check(struct worker *w, const char *request_id)
{
	char path[PATH_MAX], stage_tmp[PATH_MAX];
	struct request_rec r;
	struct check_job j;
	unsigned char *chunk = NULL;
	char *yaml = NULL;
	size_t ylen, i;
	struct diag d;
	int rc, passed;

	memset(&j, 0, sizeof(j));
	diag_clear(&d);
	if ((rc = state_db_request_get(w->db, request_id, &r)) != RG_OK)
		return rc;
	j.w = w;
	j.r = &r;
	if (worker_path(path, sizeof(path), "%s/requests/%s/request.yaml",
	    w->state_dir, r.id) != 0 ||
	    worker_path(stage_tmp, sizeof(stage_tmp),
	    "%s/requests/%s/stage.tar.zst.tmp", w->state_dir, r.id) != 0)
		return RG_EINVAL;
	rc = file_read_small(&yaml, &ylen, path, REQUEST_YAML_MAX, &d);
	if (rc == RG_OK)
		rc = request_doc_parse(&j.doc, yaml, ylen, "request.yaml", &d);
	free(yaml);
	if (rc != RG_OK) {
		char msg[600];

		diag_format(&d, msg, sizeof(msg));
		job_err(&j, "%s", msg);
		goto conclude;
	}
	rg_strlcpy(r.contract, j.doc->contract, sizeof(r.contract));
	j.c = config_dir_contract(w->cd, j.doc->contract);
	if (j.c == NULL) {
		job_err(&j,
		    "contract.active: no such contract %s (or it failed to "
		    "load)", j.doc->contract);
		goto conclude;
	}
	j.ds = contract_dataset(j.c, j.doc->dataset);
	if (j.ds == NULL) {
		job_err(&j,
		    "columns.allowed: no dataset %s in contract %s",
		    j.doc->dataset ? j.doc->dataset : "(unnamed)", j.c->id);
		goto conclude;
	}
	rg_strlcpy(r.dataset, j.ds->name, sizeof(r.dataset));
	if (j.doc->n_files == 0) {
		job_err(&j, "request.yaml lists no file");
		goto conclude;
	}
	if ((rc = state_db_contract_totals(w->db, j.c->id, j.ds->name,
	    &j.rows_before, &j.releases_before)) != RG_OK)
		return rc;
	if ((rc = state_db_release_assign(w->db, j.c->id, j.ds->name, r.id, 0,
	    r.release, &d)) != RG_OK) {
		job_err(&j, "%s", d.msg);
		goto conclude;
	}
	(void)state_db_request_put(w->db, &r);
	if ((j.files = calloc(j.doc->n_files, sizeof(*j.files))) == NULL ||
	    (chunk = malloc(READ_CHUNK)) == NULL) {
		rc = RG_ENOMEM;
		goto out;
	}
	if ((rc = stage_open(&j.stage, stage_tmp, zstd_threads(w), &d)) !=
	    RG_OK) {
		log_warnx("%s: %s", r.id, d.msg);
		goto out;
	}
	for (i = 0; i < j.doc->n_files; i++) {
		j.n_files = i + 1;
		rc = check_file(&j, i, chunk);
		if (rc == RG_EAGAIN || (rc == RG_EIO && worker_stop_flag))
			goto out;	/* stopping: left to recovery */
		if (rc != RG_OK)
			goto conclude;
		j.rows_before += (int64_t)j.files[i].report->rows;
	}
	if ((rc = judge_linkable(&j)) != RG_OK ||
	    (rc = judge_disclosure(&j)) != RG_OK)
		goto out;
conclude:
	passed = j.error[0] == '\0';
	for (i = 0; passed && i < j.n_files; i++)
		if (!check_report_passed(j.files[i].report))
			passed = 0;
	rc = conclude(&j, passed);
out:
	free(chunk);
	job_free(&j);
	return rc;
}

/* A submission: find or make the request and check it. */
int
worker_submit(struct worker *w, const char *user, const char *folder)
{
	char spool[PATH_MAX], dir[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
	struct request_rec r;
	struct stat st;
	struct diag d;
	char *yaml = NULL;
	size_t ylen;
	int created, rc;

	diag_clear(&d);
	if (!queue_field_ok(user) || !queue_field_ok(folder))
		return RG_EINVAL;
	if (worker_path(spool, sizeof(spool), "%s/spool/staff/%s/%s",
	    w->state_dir, user, folder) != 0)
		return RG_EINVAL;
	if (lstat(spool, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_warnx("submission %s/%s: no such folder", user, folder);
		return RG_ENOENT;
	}
	if ((rc = state_db_request_open(w->db, user, folder, &r, &created,
	    &d)) != RG_OK) {
		log_warnx("submission %s/%s: %s", user, folder, d.msg);
		return rc;
	}
	if (strcmp(r.state, RQ_SUBMITTED) != 0 &&
	    strcmp(r.state, RQ_CHECKING) != 0)
		return RG_OK;	/* a repeated entry: already handled */
	if (worker_path(dir, sizeof(dir), "%s/requests/%s", w->state_dir,
	    r.id) != 0 || worker_path(src, sizeof(src), "%s/request.yaml",
	    spool) != 0 || worker_path(dst, sizeof(dst), "%s/request.yaml",
	    dir) != 0)
		return RG_EINVAL;
	if (worker_mkdir(dir, WORKER_SHARED_DIR) != 0 ||
	    worker_path(src, sizeof(src), "%s/decisions", dir) != 0 ||
	    worker_mkdir(src, WORKER_DECISIONS_DIR) != 0 ||
	    worker_path(src, sizeof(src), "%s/request.yaml", spool) != 0)
		return RG_EIO;
	/* Keep the request as submitted; the spool copy may be withdrawn. */
	if (lstat(dst, &st) != 0) {
		rc = file_read_small(&yaml, &ylen, src, REQUEST_YAML_MAX, &d);
		if (rc == RG_OK)
			rc = file_write_atomic(dst, yaml, ylen,
			    WORKER_SHARED_FILE, &d);
		free(yaml);
		if (rc == RG_ENOENT) {
			/* Removed before the worker came to it: withdrawn. */
			return worker_set_state(w, &r, RQ_WITHDRAWN,
			    "request.yaml removed before the checks");
		}
		if (rc != RG_OK && rc != RG_ETOOBIG) {
			log_warnx("%s: %s", r.id, d.msg);
			return rc;
		}
		if (rc != RG_OK) {
			/* Nothing to check: an empty copy fails to parse and
			 * the report says why. */
			(void)file_write_atomic(dst, "", 0,
			    WORKER_SHARED_FILE, NULL);
		}
	}
	if ((rc = worker_set_state(w, &r, RQ_CHECKING, "")) != RG_OK)
		return rc;
	log_info("%s: checking %s/%s", r.id, user, folder);
	return worker_check(w, r.id);
}
