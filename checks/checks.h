/*
 * checks/ — the check engine: a streaming CSV reader, the contract's rules,
 * raw-identifier scanners and k-anonymity, in one pass over the data.
 *
 * A library: never exits, never prints, never touches the network. A cell
 * that breaks a rule is a result in the report, not an error; errors
 * (negative RG_E* codes) mean the data could not be checked at all.
 *
 * Use (the release worker and `relgate check`):
 *
 *	struct check_opts o; check_opts_init(&o);   // then set fields
 *	struct checker *ck;
 *	checker_new(&ck, contract, dataset, &o, &diag);
 *	while (n = read(...)) checker_feed(ck, buf, n);   // any chunk sizes
 *	struct check_report *r;
 *	checker_finish(ck, &r);        // r is the caller's
 *	check_report_mark(r, "masking.linkable", ...);   // caller's own rules
 *	check_report_json(r, &b); check_report_text(r, &b);
 *	check_report_free(r); checker_free(ck);
 *
 * Decisions where product.md is silent:
 * - Row numbers count data rows from 1; a problem in the header is row 0.
 * - An empty cell passes every value rule except values.required.
 *   values.range fails a cell that is not a number.
 * - identifiers.raw looks for identifiers standing as words anywhere in a
 *   cell (free text too), in every column, including columns not in the
 *   contract and fields past the header. Kinds: National Insurance number
 *   (HMRC prefix rules, suffix A-D, optional single spaces or dashes, any
 *   case); NHS number formatted 3-3-4 (spaces or dashes) with a valid mod-11
 *   check digit, always; plain 10-digit runs with a valid check digit only
 *   when the column's share of them is far above the 1-in-11 chance rate
 *   (nhs_share_flagged()); a full UK postcode (any case, space optional)
 *   anywhere; a full date (YYYY-MM-DD, YYYY/MM/DD, DD/MM/YYYY, DD-MM-YYYY,
 *   DD.MM.YYYY, and D/M/YYYY or D.M.YYYY with one-digit day or month; a
 *   real calendar day in 1850-2199) in any column whose type is not
 *   `date` (a date-typed column carries dates the contract releases
 *   on purpose; it is still scanned for the other kinds); an email address
 *   (local@domain.tld); a UK phone number (0 + 10 digits, or 0 + 9 digits
 *   formatted for 01/08 numbers, or +44 or 0044 with 9-10 digits; spaces,
 *   dashes, "(0)" and a bracketed area code allowed).
 *   Cells that cannot hold any of these are not scanned: a well-formed
 *   token of a masked column, a value of an allowed list (unless the list
 *   itself holds an identifier), a valid number of fewer than 10
 *   characters, a valid date/year-month/year, a value at a postcode or
 *   date granularity.
 * - values.unique keeps a 64-bit hash of each value (a false repeat has a
 *   chance of about n^2/2^65) for up to 1.5M values; past that the rule
 *   fails as "cannot be shown". k-anonymity classes are keyed by 128 bits;
 *   past 393,216 distinct classes the rule fails the same way. A ragged
 *   row is left out of the classes (it fails csv.wellformed).
 * - Table count cells that are empty, "*", "c", "[c]", "x", "[x]", ".." or
 *   "-" are suppressed: min_cell and rounding do not apply to them.
 * - An empty file (no header) or a header without data rows is reported
 *   as not checked (complete = 0): `relgate check` exits 2.
 *
 * masking_mode: apply. The column holds raw identifiers at check time and
 * the gateway masks it while packaging (through on_row). The checker
 * therefore does not judge masking.format on that column's input (the rule
 * reports "pass" with detail "masked by the gateway": the tokens are made by
 * the gateway itself), does not flag that column's cells in identifiers.raw
 * (they are about to be masked), and does not call on_token for it (the
 * worker computes those tokens and tests them for masking.linkable itself).
 */
#ifndef RG_CHECKS_H
#define RG_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "contracts/contracts.h"

/* ---- the streaming CSV reader ----------------------------------------- */

/*
 * RFC 4180: fields separated by ',', records by LF or CRLF, fields may be
 * quoted ("...") and then hold ',', CR, LF and "" (one quote). A UTF-8 BOM
 * at the start is skipped. Invalid UTF-8, NUL bytes, ragged rows, stray
 * quotes or CRs and an unterminated quote are reported as problems with the
 * row number; the reader goes on. A field longer than max_field is a
 * problem (the row is still delivered, the field truncated to empty); a
 * record longer than max_row stops the reader (RG_ETOOBIG): it cannot be
 * resynchronised in constant memory.
 */

#define CSV_DEFAULT_MAX_FIELD	(1u << 20)	/* 1 MiB */
#define CSV_DEFAULT_MAX_ROW	(8u << 20)	/* 8 MiB */
#define CSV_DEFAULT_MAX_FIELDS	4096		/* columns in a row */

/* One field of a row, unquoted and unescaped. p is borrowed: valid only
 * during the callback. p is not NUL-terminated. */
struct csv_field {
	const char *p;
	size_t	len;
};

enum csv_problem {
	CSV_BAD_UTF8 = 1,	/* not UTF-8 */
	CSV_NUL,		/* a NUL byte */
	CSV_RAGGED,		/* field count differs from the header's */
	CSV_BAD_QUOTE,		/* a quote inside an unquoted field, or text
				 * after a closing quote */
	CSV_UNTERMINATED,	/* the file ends inside a quoted field */
	CSV_STRAY_CR,		/* CR not followed by LF outside quotes */
	CSV_FIELD_TOO_LONG,	/* a field longer than max_field */
	CSV_TOO_MANY_FIELDS,	/* more than max_fields fields */
	CSV_ROW_TOO_LONG,	/* a record longer than max_row (fatal) */
};

/* Short English name of a problem ("invalid UTF-8", ...). */
const char *csv_problem_name(enum csv_problem p);

struct csv_opts {
	size_t	max_field;	/* 0: CSV_DEFAULT_MAX_FIELD */
	size_t	max_row;	/* 0: CSV_DEFAULT_MAX_ROW */
	size_t	max_fields;	/* 0: CSV_DEFAULT_MAX_FIELDS */
	/*
	 * Called for each record in order: row 0 is the header, 1 the first
	 * data row. A non-zero return stops the reader; feed/finish then
	 * return that value.
	 */
	int	(*on_row)(void *arg, unsigned long row,
		    const struct csv_field *fields, size_t n);
	/* Called for each problem (row as above; may be NULL). */
	void	(*on_problem)(void *arg, unsigned long row,
		    enum csv_problem p);
	void	*arg;
};

struct csv_reader;

/* Make a reader. *out is the caller's (csv_reader_free()). */
int	csv_reader_new(struct csv_reader **out, const struct csv_opts *o);
/* Push len bytes (any chunking). 0, a callback's value, or RG_ETOOBIG. */
int	csv_reader_feed(struct csv_reader *r, const void *data, size_t len);
/* End of input: deliver the last record (with or without a final
 * newline). Returns as csv_reader_feed. */
int	csv_reader_finish(struct csv_reader *r);
/* Records delivered so far, header included. */
unsigned long csv_reader_rows(const struct csv_reader *r);
/* Bytes consumed so far. */
uint64_t csv_reader_bytes(const struct csv_reader *r);
void	csv_reader_free(struct csv_reader *r);

/* Append one field to b, quoted only when it must be (',', '"', CR, LF,
 * or leading/trailing space). For writing CSV that this reader reads. */
int	csv_field_append(struct buf *b, const char *p, size_t len);

/* ---- raw-identifier scanners ------------------------------------------ */

enum ident_kind {
	IDENT_NINO = 0,		/* National Insurance number */
	IDENT_NHS,		/* NHS number, 3-3-4 formatted, valid check digit */
	IDENT_NHS_PLAIN,	/* 10 digits with a valid check digit (judged per
				 * column against the 1-in-11 chance rate) */
	IDENT_POSTCODE,		/* full UK postcode */
	IDENT_DATE,		/* full date (of birth): YYYY-MM-DD, DD/MM/YYYY */
	IDENT_EMAIL,		/* email address */
	IDENT_PHONE,		/* UK phone number */
	IDENT_NKINDS
};

/* Human name of a kind ("National Insurance number", ...). */
const char *ident_kind_name(enum ident_kind k);

/*
 * Scan one cell for raw identifiers anywhere in it (at word boundaries).
 * Returns a bit set of (1u << enum ident_kind) found; kinds whose bit is set
 * in skip are not looked for. *nhs_candidates (may be NULL) is set to the
 * number of plain 10-digit runs seen, valid or not (for the chance-rate
 * judgement of IDENT_NHS_PLAIN).
 */
unsigned ident_scan(const char *s, size_t len, unsigned skip,
	    unsigned *nhs_candidates);
/* 1 when the 10 digits d[0..9] carry a valid NHS mod-11 check digit. */
int	nhs_check_ok(const char *d);
/* 1 when s[0..len) is exactly a National Insurance number (HMRC rules). */
int	nino_valid(const char *s, size_t len);
/* 1 when s[0..len) is exactly a full UK postcode. */
int	postcode_full_valid(const char *s, size_t len);
/*
 * Judge a column's plain 10-digit NHS candidates: 1 (flag) when `pass` of
 * `n` is far above the 1-in-11 chance rate: pass >= 3 and at least half of
 * n, or n >= 30 and pass is at least 6 standard deviations above n/11.
 */
int	nhs_share_flagged(uint64_t pass, uint64_t n);

/* ---- the report ------------------------------------------------------- */

enum check_status { CHECK_PASS = 0, CHECK_FAIL, CHECK_SKIP };

#define CHECK_ROWS_KEPT	5	/* first few row numbers kept per result */

/* One line of the report. A rule that passes has one result without a
 * column; a rule that fails has one result per column (and kind). */
struct check_result {
	char	rule[32];		/* stable name, e.g. "values.allowed" */
	enum check_status status;
	uint64_t count;			/* failing cells/rows/classes; 0 if n/a */
	uint64_t rows[CHECK_ROWS_KEPT];	/* first failing data rows (1 = first) */
	size_t	n_rows;
	char	column[128];		/* "" when not about one column */
	char	detail[256];		/* never a cell value of identifiers.raw
					 * or masking.* */
};

struct check_report {
	char	*contract;
	char	*dataset;
	uint64_t rows;			/* data rows read */
	uint64_t bytes;			/* bytes read */
	int	complete;		/* 0: the file could not be read to the
					 * end (see error); exit status 2 */
	char	error[256];		/* why not complete, "" otherwise */
	struct check_result *results;
	size_t	n_results;
	/* unmasked identifiers released by this contract (product.md) */
	char	*unmasked_justification;	/* NULL when none */
	char	**unmasked_columns;		/* present in the file */
	size_t	n_unmasked_columns;
};

/* 1 when every result is pass or skip and the report is complete. */
int	check_report_passed(const struct check_report *r);
/* "pass" or "fail". */
const char *check_report_verdict(const struct check_report *r);
/*
 * Set the outcome of a rule the caller judges itself (masking.linkable):
 * replaces every result of that rule with one result (detail may be NULL).
 */
int	check_report_mark(struct check_report *r, const char *rule,
	    enum check_status st, uint64_t count, const char *column,
	    const char *detail);
/*
 * Append the documented JSON object (no newline) to b: verdict, contract,
 * dataset, rows, rules[] (rule, status, and count, rows, column, detail
 * where there are some), plus bytes, complete (false: not read to the end,
 * with error), and unmasked {justification, columns} when the contract
 * releases unmasked identifiers.
 */
int	check_report_json(const struct check_report *r, struct buf *b);
/* Append the human report, a line per rule, to b. */
int	check_report_text(const struct check_report *r, struct buf *b);
void	check_report_free(struct check_report *r);

/* ---- the checker ------------------------------------------------------ */

struct check_opts {
	long	today;			/* days since 1970-01-01; DATE_UNSET:
					 * today's date (UTC) */
	long	rows_total_before;	/* rows already released under this
					 * contract's dataset (gateway state) */
	long	releases_before;	/* releases already published */
	size_t	max_field, max_row;	/* 0: CSV defaults */
	int	threads;		/* 0/1: everything on the caller's
					 * thread; 2: a helper thread checks
					 * rows (callbacks then not allowed) */
	/*
	 * Called for each well-formed token of a masked column (masking:
	 * hmac-sha256, mode verify), col being the file's column index and
	 * tok 64 lowercase hex digits (not NUL-terminated). Non-zero stops
	 * the check with that value.
	 */
	int	(*on_token)(void *arg, size_t col, const char *tok, size_t len);
	/*
	 * Called for every record in order, header (row 0) included, with the
	 * parsed fields, so the caller can rewrite masked columns and write
	 * the output CSV (csv_field_append()). Ragged rows are delivered too.
	 * Non-zero stops the check with that value.
	 */
	int	(*on_row)(void *arg, unsigned long row,
		    const struct csv_field *fields, size_t n);
	/* Called by checker_feed_fd() after each read with the bytes read
	 * so far (a progress bar); may be NULL. */
	void	(*on_progress)(void *arg, uint64_t bytes);
	void	*arg;
	/*
	 * Forms allowed with threads = 2 too (the release worker's fast
	 * path). on_header: the header row (row 0), on the caller's thread,
	 * before any data row; non-zero stops the check with that value.
	 * on_token_mt: as on_token, but called on either thread, `thread`
	 * telling which (0: the caller's, 1: the helper), so the caller keeps
	 * per-thread state without locks; tokens of rows checked on one
	 * thread come in that thread's order, not the file's. With two
	 * threads a non-zero return does not stop the reading: the first one
	 * is returned by checker_finish().
	 */
	int	(*on_header)(void *arg, const struct csv_field *fields,
		    size_t n);
	int	(*on_token_mt)(void *arg, int thread, size_t col,
		    const char *tok, size_t len);
	/* 1: keep the release trace (below) for checker_take_trace(). */
	int	trace;
	/* The contract's masker, when its one_row_per column is masked by
	 * the gateway (masking_mode: apply): the trace then keys people by
	 * their token, as a verify-mode release does, never by a raw
	 * identifier. NULL: the raw value's fingerprint (nothing to join). */
	struct masker *trace_masker;
};

/* Defaults: today unset (clock), zero totals, one thread, no callbacks. */
void	check_opts_init(struct check_opts *o);

struct checker;

/*
 * Prepare to check one extract against dataset `dataset` of contract c
 * (both borrowed: they must outlive the checker). Compiles patterns (PCRE2
 * JIT); RG_EINVAL with diag for a pattern that does not compile or bad
 * options. *out is the caller's (checker_free()).
 */
int	checker_new(struct checker **out, const struct contract *c,
	    const struct dataset *dataset, const struct check_opts *o,
	    struct diag *d);
/* Push len bytes of the extract (any chunk sizes). Returns 0 or a
 * callback's non-zero value; a CSV record over the cap ends the reading
 * (the report says so: complete = 0) and still returns 0. */
int	checker_feed(struct checker *ck, const void *data, size_t len);
/* Read the file fd to its end through checker_feed (large reads). */
int	checker_feed_fd(struct checker *ck, int fd, struct diag *d);
/* Bytes consumed so far (for a progress bar). */
uint64_t checker_bytes(const struct checker *ck);
/*
 * End of input: judge the whole-file rules (rows, uniqueness,
 * k-anonymity, NHS share, tables) and make the report, *out the caller's
 * (check_report_free()). masking.linkable is reported "skip" (not judged
 * here) until the caller marks it.
 */
int	checker_finish(struct checker *ck, struct check_report **out);
void	checker_free(struct checker *ck);

/* ---- the release trace (trace.c) -------------------------------------- */

/*
 * What a release adds to the disclosure history (disclosure/), kept by the
 * check pass when check_opts.trace is set: 64-bit fingerprints, never a
 * value. Record level (a dataset with one_row_per, quasi_identifiers and
 * k_anonymity): each row's person (trace_person_fp() of its one_row_per
 * value) and its vector, the set of trace_pair_fp()s of its
 * quasi-identifiers. A row without a one_row_per value cannot be joined and
 * is left out. Tables: each cell's dimension-value fingerprints (every
 * contract column but the count and dominance columns, in name order) and
 * its counts, one per count column (name order), then the sum of the
 * measure where the contract names one (the dominance total column,
 * "sum:NAME"); -1 when suppressed or not a whole number.
 */
#define TRACE_PERSONS_MAX	((size_t)3 << 19)	/* = values.unique's cap */
#define TRACE_VECTORS_MAX	((size_t)1 << 20)
#define TRACE_CELLS_MAX		((size_t)1 << 20)

struct trace_person {
	uint64_t person;
	uint32_t vector;		/* index into the trace's vectors */
} __attribute__((packed));

struct release_trace {
	int	records;		/* 1: a record-level trace */
	int	records_full;		/* past a cap: cannot be judged */
	struct trace_person *persons;	/* ascending by person, one each */
	size_t	n_persons;
	uint32_t *vec_off;		/* vector v: pairs[vec_off[v] ..
					 * vec_off[v + 1]), ascending */
	uint64_t *pairs;
	size_t	n_vectors;
	int	table;			/* 1: a table trace */
	int	table_full;
	char	**dims, **measures;	/* column names, ascending */
	size_t	n_dims, n_measures;
	uint64_t *cell_keys;		/* n_cells x n_dims, ascending */
	int64_t	*cell_counts;		/* n_cells x n_measures */
	size_t	n_cells;
};

/* After checker_finish(): the trace, *out the caller's (NULL when the
 * dataset has nothing to trace or opts.trace was 0). */
int	checker_take_trace(struct checker *ck, struct release_trace **out);
void	release_trace_free(struct release_trace *t);
/* The fingerprints the trace is made of. */
uint64_t trace_pair_fp(const char *name, const char *value, size_t len);
uint64_t trace_person_fp(const char *value, size_t len);

#endif /* RG_CHECKS_H */
