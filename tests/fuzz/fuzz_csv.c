/*
 * libFuzzer target for the CSV reader and the whole check engine: the
 * input is fed to the CSV reader in chunks whose size comes from the first
 * byte, then to a checker whose contract uses every rule (types, allowed,
 * pattern, range, rounding, granularity, required, masking, uniqueness,
 * k-anonymity), once with two threads, and the report is written as JSON
 * and text. Small caps
 * make the "record too long" path reachable.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks/checks.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
rows_seen(void *arg, unsigned long row, const struct csv_field *f, size_t n)
{
	size_t i, *total = arg;

	(void)row;
	for (i = 0; i < n; i++)
		*total += f[i].len;
	return 0;
}

static void
probs_seen(void *arg, unsigned long row, enum csv_problem p)
{
	(void)arg; (void)row;
	(void)csv_problem_name(p);
}

static void
fuzz_reader(const uint8_t *data, size_t size, size_t chunk)
{
	struct csv_opts o;
	struct csv_reader *r;
	size_t total = 0, off;

	memset(&o, 0, sizeof(o));
	o.max_row = 4096;
	o.max_field = 512;
	o.max_fields = 64;
	o.on_row = rows_seen;
	o.on_problem = probs_seen;
	o.arg = &total;
	if (csv_reader_new(&r, &o) != 0)
		return;
	for (off = 0; off < size; off += chunk)
		if (csv_reader_feed(r, data + off, size - off < chunk ?
		    size - off : chunk) != 0)
			break;
	(void)csv_reader_finish(r);
	csv_reader_free(r);
}

static void
fuzz_checker(const uint8_t *data, size_t size, size_t chunk, int table,
    int threads)
{
	static char *bands[] = { (char *)"16-24", (char *)"25-34",
	    (char *)"65+" };
	static char *qi[] = { (char *)"age", (char *)"sex" };
	static char *unm[] = { (char *)"email" };
	struct column_rule cols[10];
	struct dataset ds;
	struct contract c;
	struct check_opts o;
	struct checker *ck;
	struct check_report *rep = NULL;
	struct buf b;
	size_t off;

	memset(cols, 0, sizeof(cols));
	memset(&ds, 0, sizeof(ds));
	memset(&c, 0, sizeof(c));
	cols[0].name = (char *)"pid";
	cols[0].masking = MASKING_HMAC_SHA256;
	cols[1].name = (char *)"age";
	cols[1].allowed = bands;
	cols[1].n_allowed = 3;
	cols[2].name = (char *)"sex";
	cols[2].pattern = (char *)"[FM]";
	cols[2].required = 1;
	cols[3].name = (char *)"n";
	cols[3].type = COLTYPE_INTEGER;
	cols[3].has_min = cols[3].has_max = 1;
	cols[3].max = 1000;
	cols[3].rounding = 5;
	cols[3].count = table;
	cols[4].name = (char *)"pc";
	cols[4].granularity = GRAN_POSTCODE_SECTOR;
	cols[5].name = (char *)"d";
	cols[5].type = COLTYPE_DATE;
	cols[6].name = (char *)"ym";
	cols[6].type = COLTYPE_YEAR_MONTH;
	cols[6].granularity = GRAN_YEAR_MONTH;
	cols[7].name = (char *)"x";
	cols[7].type = COLTYPE_DECIMAL;
	cols[8].name = (char *)"email";
	cols[8].masking = MASKING_NONE;
	cols[8].unmasked = 1;
	cols[9].name = (char *)"top";
	cols[9].type = COLTYPE_INTEGER;
	ds.name = (char *)"d";
	ds.columns = cols;
	ds.n_columns = 10;
	ds.max_rows = 100;
	ds.max_rows_total = 1000;
	ds.max_releases = 3;
	ds.one_row_per = (char *)"pid";
	ds.quasi_identifiers = qi;
	ds.n_quasi_identifiers = 2;
	ds.k_anonymity = 2;
	ds.is_table = table;
	ds.min_cell_count = 10;
	ds.rounding = 5;
	ds.dominance.set = 1;
	ds.dominance.total_column = (char *)"n";
	ds.dominance.top_column = (char *)"top";
	ds.dominance.percent = 50;
	c.id = (char *)"FUZZ-1";
	c.status = CONTRACT_ACTIVE;
	c.valid_from = 0;
	c.valid_until = 100000;
	c.assurance_expires = DATE_UNSET;
	c.datasets = &ds;
	c.n_datasets = 1;
	c.unmasked_justification = (char *)"fuzz";
	c.unmasked_columns = unm;
	c.n_unmasked_columns = 1;
	check_opts_init(&o);
	o.today = 20000;
	o.max_row = 8192;
	o.max_field = 1024;
	o.threads = threads;
	if (checker_new(&ck, &c, &ds, &o, NULL) != 0)
		return;
	for (off = 0; off < size; off += chunk)
		if (checker_feed(ck, data + off, size - off < chunk ?
		    size - off : chunk) != 0)
			break;
	if (checker_finish(ck, &rep) == 0) {
		buf_init(&b, 1u << 24);
		(void)check_report_mark(rep, "masking.linkable", CHECK_PASS, 0,
		    NULL, NULL);
		(void)check_report_json(rep, &b);
		(void)check_report_text(rep, &b);
		buf_free(&b);
		check_report_free(rep);
	}
	checker_free(ck);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk = 1;

	if (size > 0) {
		chunk = (size_t)data[0] % 67 + 1;
		data++;
		size--;
	}
	fuzz_reader(data, size, chunk);
	fuzz_checker(data, size, chunk * 3, 0, 1);
	fuzz_checker(data, size, size ? size : 1, 1, 1);
	/* two threads: windows handed between them at every chunk */
	fuzz_checker(data, size, chunk, 0, 2);
	/* every kind of scanner over the raw bytes as one cell */
	(void)ident_scan((const char *)data, size, 0, NULL);
	return 0;
}
