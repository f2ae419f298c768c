/*
 * relgate mask -c DIR --contract ID [--dataset NAME] [--column NAME ...]
 *     IN.csv > OUT.csv
 *
 * Replace the cells of the masked columns with HMAC-SHA256 tokens under
 * the contract's own masking key (STATE_DIR/keys/masking/ID.key, made when
 * missing). The file is read once, in constant memory, with the check
 * engine's CSV reader; everything else is copied through unchanged (the
 * output is re-quoted only where CSV needs it). Exit 0 on success, 2 when
 * the input cannot be masked (bad usage, contract, key or CSV).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks/checks.h"
#include "cli/cli.h"
#include "contracts/contracts.h"
#include "keys/keys.h"

#define MASK_MAX_COLUMNS	256
#define MASK_READ_CHUNK		(256 * 1024)
#define MASK_FLUSH_AT		(256 * 1024)
#define MASK_OUT_CAP		((size_t)CSV_DEFAULT_MAX_ROW * 12)

struct mask_run {
	const struct dataset *ds;	/* NULL when --column is given */
	const char *columns[MASK_MAX_COLUMNS];	/* --column names */
	size_t	n_columns;
	unsigned char *masked;		/* per file column: 1 to mask */
	size_t	n_fields;
	struct masker *m;
	struct buf out;
	unsigned long problems;
	unsigned long first_problem_row;
	enum csv_problem first_problem;
	unsigned long rows;
	int	io_error;
};

static void
mask_usage(FILE *f)
{
	fprintf(f, "usage: relgate [-c DIR] mask --contract ID "
	    "[--dataset NAME] [--column NAME ...] IN.csv > OUT.csv\n"
	    "Replace the masked columns (masking: hmac-sha256, or the named "
	    "ones) with\nHMAC-SHA256 tokens under the contract's masking key. "
	    "IN.csv may be - for stdin.\n");
}

static int
flush_out(struct mask_run *mr)
{
	if (mr->out.len > 0 &&
	    fwrite(mr->out.data, 1, mr->out.len, stdout) != mr->out.len) {
		mr->io_error = errno ? errno : EIO;
		return RG_EIO;
	}
	buf_reset(&mr->out);
	return RG_OK;
}

/* Choose the columns to mask from the header. */
static int
on_header(struct mask_run *mr, const struct csv_field *f, size_t n)
{
	size_t i, j, found = 0;

	if ((mr->masked = calloc(n ? n : 1, 1)) == NULL)
		return RG_ENOMEM;
	mr->n_fields = n;
	for (i = 0; i < n; i++) {
		char name[256];
		const struct column_rule *r;

		if (f[i].len >= sizeof(name))
			continue;
		memcpy(name, f[i].p, f[i].len);
		name[f[i].len] = '\0';
		if (mr->ds == NULL) {
			for (j = 0; j < mr->n_columns; j++)
				if (strcmp(mr->columns[j], name) == 0)
					mr->masked[i] = 1;
		} else if ((r = dataset_column(mr->ds, name)) != NULL &&
		    r->masking == MASKING_HMAC_SHA256) {
			if (r->masking_mode == MASKING_MODE_APPLY)
				fprintf(stderr, "relgate mask: column '%s' is "
				    "masked by relgate when packaging "
				    "(masking_mode: apply): left as it is\n",
				    name);
			else
				mr->masked[i] = 1;
		}
		found += mr->masked[i];
	}
	/* Every named column must be in the file. */
	for (j = 0; mr->ds == NULL && j < mr->n_columns; j++) {
		for (i = 0; i < n; i++)
			if (f[i].len == strlen(mr->columns[j]) &&
			    memcmp(f[i].p, mr->columns[j], f[i].len) == 0)
				break;
		if (i == n) {
			fprintf(stderr, "relgate mask: column '%s' is not in "
			    "the file's header\n", mr->columns[j]);
			return RG_EINVAL;
		}
	}
	if (found == 0) {
		fprintf(stderr, "relgate mask: no column of the file is to be "
		    "masked (no column with masking: hmac-sha256; name one "
		    "with --column)\n");
		return RG_EINVAL;
	}
	return RG_OK;
}

/*
 * Write one field at o as csv_field_append() would (quoted only where CSV
 * needs it), without a function call per piece; the caller reserved
 * 2 * len + 2 bytes. Returns the new end.
 */
static char *
put_field(char *o, const char *p, size_t len)
{
	size_t i;
	int need = len > 0 && (p[0] == ' ' || p[len - 1] == ' ');

	for (i = 0; i < len && !need; i++)
		need = p[i] == ',' || p[i] == '"' || p[i] == '\n' ||
		    p[i] == '\r';
	if (!need) {
		memcpy(o, p, len);
		return o + len;
	}
	*o++ = '"';
	for (i = 0; i < len; i++) {
		if (p[i] == '"')
			*o++ = '"';
		*o++ = p[i];
	}
	*o++ = '"';
	return o;
}

static int
on_row(void *arg, unsigned long row, const struct csv_field *f, size_t n)
{
	struct mask_run *mr = arg;
	size_t i, need = 2;
	char *o;
	int rc;

	if (row == 0 && (rc = on_header(mr, f, n)) != RG_OK)
		return rc;
	/* Room for the worst case, once per row. */
	for (i = 0; i < n; i++)
		need += 2 * f[i].len + 3 + MASK_TOKEN_LEN;
	if ((rc = buf_reserve(&mr->out, need)) != RG_OK)
		return rc;
	o = (char *)mr->out.data + mr->out.len;
	for (i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ',';
		/* Empty cells stay empty: there is no value to hide. */
		if (row > 0 && i < mr->n_fields && mr->masked[i] &&
		    f[i].len > 0) {
			/* writes 64 digits and a NUL, overwritten next */
			if ((rc = masker_token(mr->m, f[i].p, f[i].len, o)))
				return rc;
			o += MASK_TOKEN_LEN;
		} else
			o = put_field(o, f[i].p, f[i].len);
	}
	*o++ = '\n';
	mr->out.len = (size_t)(o - (char *)mr->out.data);
	if (row > 0)
		mr->rows++;
	if (mr->out.len >= MASK_FLUSH_AT)
		return flush_out(mr);
	return RG_OK;
}

static void
on_problem(void *arg, unsigned long row, enum csv_problem p)
{
	struct mask_run *mr = arg;

	if (mr->problems++ == 0) {
		mr->first_problem = p;
		mr->first_problem_row = row;
	}
}

/* Stream fd through the CSV reader into stdout. */
static int
mask_stream(struct mask_run *mr, int fd, const char *name)
{
	struct csv_reader *rd = NULL;
	struct csv_opts o;
	char *chunk;
	ssize_t n;
	int rc;

	memset(&o, 0, sizeof(o));
	o.on_row = on_row;
	o.on_problem = on_problem;
	o.arg = mr;
	if ((chunk = malloc(MASK_READ_CHUNK)) == NULL)
		return RG_ENOMEM;
	if ((rc = csv_reader_new(&rd, &o)) != RG_OK) {
		free(chunk);
		return rc;
	}
	for (;;) {
		n = read(fd, chunk, MASK_READ_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "relgate mask: %s: %s\n", name,
			    strerror(errno));
			rc = RG_EIO;
			break;
		}
		if (n == 0) {
			rc = csv_reader_finish(rd);
			break;
		}
		if ((rc = csv_reader_feed(rd, chunk, (size_t)n)) != RG_OK)
			break;
	}
	if (rc == RG_ETOOBIG && mr->problems == 0)
		fprintf(stderr, "relgate mask: %s: a record is longer than "
		    "%u bytes\n", name, CSV_DEFAULT_MAX_ROW);
	if (rc == RG_OK && csv_reader_rows(rd) == 0) {
		fprintf(stderr, "relgate mask: %s: empty file (no header)\n",
		    name);
		rc = RG_EINVAL;
	}
	if (rc == RG_OK)
		rc = flush_out(mr);
	csv_reader_free(rd);
	free(chunk);
	return rc;
}

static int
load_contract(struct contract **c, const char *dir, const char *id)
{
	char path[PATH_MAX], line[1200];
	struct diag d;

	if (id[0] == '\0' || id[0] == '.' || strchr(id, '/') != NULL) {
		fprintf(stderr, "relgate mask: '%s' is not a contract id\n",
		    id);
		return RG_EINVAL;
	}
	if (snprintf(path, sizeof(path), "%s/contracts/%s.yaml", dir, id) >=
	    (int)sizeof(path))
		return RG_EINVAL;
	diag_clear(&d);
	if (contract_load(c, path, &d) != RG_OK) {
		diag_format(&d, line, sizeof(line));
		fprintf(stderr, "relgate mask: contract %s: %s\n", id, line);
		return RG_EINVAL;
	}
	if (strcmp((*c)->id, id) != 0) {
		fprintf(stderr, "relgate mask: %s: id is '%s', not '%s'\n",
		    path, (*c)->id, id);
		contract_free(*c);
		*c = NULL;
		return RG_EINVAL;
	}
	return RG_OK;
}

/* relgate mask: returns the exit status (0 done, 2 cannot mask). */
int
cmd_mask(const struct cli_global *g, int argc, char **argv)
{
	const char *contract_id = NULL, *dataset = NULL, *in = NULL;
	unsigned char key[MASK_KEY_LEN];
	struct gateway_config cfg;
	struct contract *c = NULL;
	struct mask_run mr;
	char path[PATH_MAX], line[1200];
	struct diag d;
	int i, fd = -1, rc, status = 2;

	memset(&mr, 0, sizeof(mr));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--contract") == 0 && i + 1 < argc)
			contract_id = argv[++i];
		else if (strcmp(argv[i], "--dataset") == 0 && i + 1 < argc)
			dataset = argv[++i];
		else if (strcmp(argv[i], "--column") == 0 && i + 1 < argc) {
			if (mr.n_columns == MASK_MAX_COLUMNS) {
				fprintf(stderr, "relgate mask: too many "
				    "--column options\n");
				return 2;
			}
			mr.columns[mr.n_columns++] = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			mask_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "relgate mask: unknown option '%s'\n",
			    argv[i]);
			mask_usage(stderr);
			return 2;
		} else if (in == NULL)
			in = argv[i];
		else {
			mask_usage(stderr);
			return 2;
		}
	}
	if (contract_id == NULL || in == NULL) {
		mask_usage(stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/relgate.yaml", g->config_dir);
	diag_clear(&d);
	if (gateway_config_load(&cfg, path, &d) != RG_OK) {
		diag_format(&d, line, sizeof(line));
		fprintf(stderr, "relgate mask: %s\n", line);
		return 2;
	}
	if (load_contract(&c, g->config_dir, contract_id) != RG_OK)
		return 2;
	if (mr.n_columns == 0) {
		mr.ds = contract_dataset(c, dataset);
		if (mr.ds == NULL) {
			if (dataset != NULL)
				fprintf(stderr, "relgate mask: contract %s has "
				    "no dataset '%s'\n", contract_id, dataset);
			else
				fprintf(stderr, "relgate mask: contract %s has "
				    "%zu datasets: name one with --dataset\n",
				    contract_id, c->n_datasets);
			goto out;
		}
	} else if (dataset != NULL && contract_dataset(c, dataset) == NULL) {
		fprintf(stderr, "relgate mask: contract %s has no dataset "
		    "'%s'\n", contract_id, dataset);
		goto out;
	}
	if (strcmp(in, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(in, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "relgate mask: %s: %s\n", in, strerror(errno));
		goto out;
	}
	diag_clear(&d);
	if (mask_key_load(key, cfg.state_dir, c->id, 1, &d) != RG_OK) {
		diag_format(&d, line, sizeof(line));
		fprintf(stderr, "relgate mask: masking key: %s\n", line);
		goto out;
	}
	rc = masker_new(&mr.m, key);
	rg_wipe(key, sizeof(key));
	if (rc != RG_OK) {
		fprintf(stderr, "relgate mask: %s\n", rg_strerror(rc));
		goto out;
	}
	buf_init(&mr.out, MASK_OUT_CAP);
	rc = mask_stream(&mr, fd, in);
	if (rc == RG_EIO && mr.io_error)
		fprintf(stderr, "relgate mask: writing output: %s\n",
		    strerror(mr.io_error));
	else if (rc == RG_ENOMEM || rc == RG_ECRYPTO)
		fprintf(stderr, "relgate mask: %s\n", rg_strerror(rc));
	if (rc == RG_OK && mr.problems > 0) {
		fprintf(stderr, "relgate mask: %s: malformed CSV: %s at row "
		    "%lu (%lu problem%s); do not use the output\n", in,
		    csv_problem_name(mr.first_problem), mr.first_problem_row,
		    mr.problems, mr.problems == 1 ? "" : "s");
		goto out;
	}
	if (rc != RG_OK)
		goto out;
	if (fflush(stdout) != 0) {
		fprintf(stderr, "relgate mask: writing output: %s\n",
		    strerror(errno));
		goto out;
	}
	fprintf(stderr, "relgate mask: %lu row%s masked with the key of "
	    "contract %s\n", mr.rows, mr.rows == 1 ? "" : "s", c->id);
	status = 0;
out:
	if (fd > STDIN_FILENO)
		close(fd);
	buf_free(&mr.out);
	masker_free(mr.m);
	free(mr.masked);
	contract_free(c);
	return status;
}
