/*
 * The check report: a list of results, one per rule (and per column and
 * kind where a rule fails), written as the documented JSON object or as
 * the human report. Cell values of identifiers.raw and masking.* never get
 * here: results carry row numbers, the column and the kind only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "checks/checks.h"
#include "checks/internal.h"

#define REPORT_MAX_RESULTS	100000

/* Append one result to a report; RG_ETOOBIG past the cap. */
/* Copy src into dst (size bytes), never cutting a UTF-8 sequence. */
static void
copy_utf8(char *dst, const char *src, size_t size)
{
	size_t n = rg_strlcpy(dst, src, size), start;

	if (n < size)
		return;
	/* truncated: find where the last sequence starts; drop it if cut */
	n = size - 1;
	start = n;
	while (start > 0 && ((unsigned char)dst[start - 1] & 0xc0) == 0x80)
		start--;
	if (start > 0)
		start--;
	if (utf8_seq_len((const unsigned char *)dst + start, n - start) !=
	    (int)(n - start))
		n = start;
	dst[n] = '\0';
}

int
report_add(struct check_report *r, const char *rule, enum check_status st,
    uint64_t count, const uint64_t *rows, size_t n_rows, const char *column,
    const char *detail)
{
	struct check_result *res, *nr;

	if (r->n_results >= REPORT_MAX_RESULTS)
		return RG_ETOOBIG;
	nr = realloc(r->results, (r->n_results + 1) * sizeof(*nr));
	if (nr == NULL)
		return RG_ENOMEM;
	r->results = nr;
	res = &r->results[r->n_results++];
	memset(res, 0, sizeof(*res));
	rg_strlcpy(res->rule, rule, sizeof(res->rule));
	res->status = st;
	res->count = count;
	if (n_rows > CHECK_ROWS_KEPT)
		n_rows = CHECK_ROWS_KEPT;
	if (rows != NULL && n_rows > 0)
		memcpy(res->rows, rows, n_rows * sizeof(*rows));
	res->n_rows = rows != NULL ? n_rows : 0;
	if (column != NULL)
		copy_utf8(res->column, column, sizeof(res->column));
	if (detail != NULL)
		copy_utf8(res->detail, detail, sizeof(res->detail));
	return RG_OK;
}

/* 1 when complete and no result failed. */
int
check_report_passed(const struct check_report *r)
{
	size_t i;

	if (r == NULL || !r->complete)
		return 0;
	for (i = 0; i < r->n_results; i++)
		if (r->results[i].status == CHECK_FAIL)
			return 0;
	return 1;
}

/* "pass" or "fail". */
const char *
check_report_verdict(const struct check_report *r)
{
	return check_report_passed(r) ? "pass" : "fail";
}

/* Replace a rule's results with one the caller judged. */
int
check_report_mark(struct check_report *r, const char *rule,
    enum check_status st, uint64_t count, const char *column,
    const char *detail)
{
	size_t i, j, at = r->n_results;
	int rc;

	for (i = j = 0; i < r->n_results; i++) {
		if (strcmp(r->results[i].rule, rule) == 0) {
			if (at == r->n_results || i < at)
				at = j;
			continue;
		}
		r->results[j++] = r->results[i];
	}
	r->n_results = j;
	if (at > j)
		at = j;
	if ((rc = report_add(r, rule, st, count, NULL, 0, column, detail)) != 0)
		return rc;
	/* keep the rule where it stood in the report */
	if (at < r->n_results - 1) {
		struct check_result tmp = r->results[r->n_results - 1];

		memmove(&r->results[at + 1], &r->results[at],
		    (r->n_results - 1 - at) * sizeof(tmp));
		r->results[at] = tmp;
	}
	return 0;
}

static const char *
status_name(enum check_status s)
{
	switch (s) {
	case CHECK_PASS:	return "pass";
	case CHECK_FAIL:	return "fail";
	case CHECK_SKIP:	return "skip";
	}
	return "fail";
}

/* Append the documented JSON report to b. */
int
check_report_json(const struct check_report *r, struct buf *b)
{
	size_t i, k;
	int rc = 0;

#define J(x) do { if ((rc = (x)) != 0) return rc; } while (0)
	J(buf_printf(b, "{\"verdict\": \"%s\", \"contract\": ",
	    check_report_verdict(r)));
	J(json_append_string(b, r->contract ? r->contract : ""));
	J(buf_printf(b, ", \"dataset\": "));
	J(json_append_string(b, r->dataset ? r->dataset : ""));
	J(buf_printf(b, ", \"rows\": %llu, \"bytes\": %llu, \"complete\": %s",
	    (unsigned long long)r->rows, (unsigned long long)r->bytes,
	    r->complete ? "true" : "false"));
	if (!r->complete) {
		J(buf_printf(b, ", \"error\": "));
		J(json_append_string(b, r->error));
	}
	if (r->unmasked_justification != NULL) {
		J(buf_printf(b, ", \"unmasked\": {\"justification\": "));
		J(json_append_string(b, r->unmasked_justification));
		J(buf_printf(b, ", \"columns\": ["));
		for (i = 0; i < r->n_unmasked_columns; i++) {
			if (i > 0)
				J(buf_printf(b, ", "));
			J(json_append_string(b, r->unmasked_columns[i]));
		}
		J(buf_printf(b, "]}"));
	}
	J(buf_printf(b, ",\n \"rules\": ["));
	for (i = 0; i < r->n_results; i++) {
		const struct check_result *x = &r->results[i];

		J(buf_printf(b, "%s{\"rule\": ", i ? ",\n           " : ""));
		J(json_append_string(b, x->rule));
		J(buf_printf(b, ", \"status\": \"%s\"", status_name(x->status)));
		if (x->count > 0)
			J(buf_printf(b, ", \"count\": %llu",
			    (unsigned long long)x->count));
		if (x->n_rows > 0) {
			J(buf_printf(b, ", \"rows\": ["));
			for (k = 0; k < x->n_rows; k++)
				J(buf_printf(b, "%s%llu", k ? ", " : "",
				    (unsigned long long)x->rows[k]));
			J(buf_printf(b, "]"));
		}
		if (x->column[0] != '\0') {
			J(buf_printf(b, ", \"column\": "));
			J(json_append_string(b, x->column));
		}
		if (x->detail[0] != '\0') {
			J(buf_printf(b, ", \"detail\": "));
			J(json_append_string(b, x->detail));
		}
		J(buf_printf(b, "}"));
	}
	J(buf_printf(b, "]}"));
#undef J
	return 0;
}

/* Append the human report, a line per result, to b. */
int
check_report_text(const struct check_report *r, struct buf *b)
{
	size_t i, k, nfail = 0;
	int rc = 0;

#define J(x) do { if ((rc = (x)) != 0) return rc; } while (0)
	J(buf_printf(b, "contract %s, dataset %s: %llu data rows, %llu bytes\n",
	    r->contract ? r->contract : "-", r->dataset ? r->dataset : "-",
	    (unsigned long long)r->rows, (unsigned long long)r->bytes));
	if (!r->complete)
		J(buf_printf(b, "NOT CHECKED TO THE END: %s\n", r->error));
	if (r->unmasked_justification != NULL && r->n_unmasked_columns > 0) {
		J(buf_printf(b, "unmasked identifiers released in"));
		for (i = 0; i < r->n_unmasked_columns; i++)
			J(buf_printf(b, "%s %s", i ? "," : "",
			    r->unmasked_columns[i]));
		J(buf_printf(b, " (justification: %s)\n",
		    r->unmasked_justification));
	}
	for (i = 0; i < r->n_results; i++) {
		const struct check_result *x = &r->results[i];
		int more = (x->status == CHECK_FAIL && x->count > 0) ||
		    x->detail[0] != '\0' || x->n_rows > 0;

		if (x->status == CHECK_FAIL)
			nfail++;
		if (x->column[0] == '\0' && !more) {
			J(buf_printf(b, "%-4s  %s\n", x->status == CHECK_FAIL ?
			    "FAIL" : status_name(x->status), x->rule));
			continue;
		}
		J(buf_printf(b, "%-4s  %-24s", x->status == CHECK_FAIL ?
		    "FAIL" : status_name(x->status), x->rule));
		if (x->column[0] != '\0')
			J(buf_printf(b, " column %s%s", x->column, more ? ":" :
			    ""));
		if (x->status == CHECK_FAIL && x->count > 0)
			J(buf_printf(b, " %llu", (unsigned long long)x->count));
		if (x->detail[0] != '\0')
			J(buf_printf(b, " %s", x->detail));
		if (x->n_rows > 0) {
			J(buf_printf(b, " (row%s", x->n_rows > 1 ? "s" : ""));
			for (k = 0; k < x->n_rows; k++) {
				if (x->rows[k] == 0)	/* the header line */
					J(buf_printf(b, "%s header", k ? "," :
					    ""));
				else
					J(buf_printf(b, "%s %llu", k ? "," : "",
					    (unsigned long long)x->rows[k]));
			}
			J(buf_printf(b, "%s)", x->count > x->n_rows ?
			    ", ..." : ""));
		}
		J(buf_printf(b, "\n"));
	}
	if (check_report_passed(r))
		J(buf_printf(b, "verdict: pass\n"));
	else if (!r->complete)
		J(buf_printf(b, "verdict: fail (the file could not be checked "
		    "to the end)\n"));
	else
		J(buf_printf(b, "verdict: FAIL (%zu result%s failed)\n", nfail,
		    nfail == 1 ? "" : "s"));
#undef J
	return 0;
}

/* Free a report; NULL-safe. */
void
check_report_free(struct check_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->contract);
	free(r->dataset);
	free(r->results);
	free(r->unmasked_justification);
	for (i = 0; i < r->n_unmasked_columns; i++)
		free(r->unmasked_columns[i]);
	free(r->unmasked_columns);
	free(r);
}
