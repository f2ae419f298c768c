/*
 * Private to checks/: pieces shared between the files of the check engine.
 * Other folders include only checks/checks.h.
 */
#ifndef RG_CHECKS_INTERNAL_H
#define RG_CHECKS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checks/checks.h"

/* Length of the UTF-8 sequence at p (n bytes there): >0 valid, 0 invalid,
 * -1 cut off by the end of the data. */
int	utf8_seq_len(const unsigned char *p, size_t n);

/* Zero-copy reading: room at the end of the reader's window, then commit
 * the bytes written there (tokenises like csv_reader_feed). */
void	csv_reader_space(struct csv_reader *r, unsigned char **p, size_t *n);
int	csv_reader_commit(struct csv_reader *r, size_t n);
/* Bytes taken per pass by csv_reader_feed (4 KiB..1 MiB). */
void	csv_reader_set_chunk(struct csv_reader *r, size_t n);
/* 1 once a fatal problem or a callback stopped the reader. */
int	csv_reader_stopped(const struct csv_reader *r);

/* A report under construction. */
int	report_add(struct check_report *r, const char *rule,
	    enum check_status st, uint64_t count, const uint64_t *rows,
	    size_t n_rows, const char *column, const char *detail);

#define TOKEN_HEX_LEN	64	/* a pseudonym: lowercase hex digits */

/* Cell value tests (values.c): 1 when the value has the shape. */
int	val_integer(const char *p, size_t n, int64_t *v);
int	val_integer_shape(const char *p, size_t n);
int	val_decimal(const char *p, size_t n, double *v);
int	val_date(const char *p, size_t n);
int	val_year_month(const char *p, size_t n);
int	val_year(const char *p, size_t n);
int	val_granularity(enum granularity g, const char *p, size_t n);
int	val_token(const char *p, size_t n);
int	val_suppressed(const char *p, size_t n);

/*
 * The first len (<= 8) bytes at p as a little-endian number, reading 8
 * bytes: the caller guarantees p[0..7] are readable (cells live in the CSV
 * window, which has slack after its data).
 */
static inline uint64_t
load_padded(const char *p, size_t len)
{
	uint64_t k;

	memcpy(&k, p, 8);
	return len >= 8 ? k : k & ((1ULL << (8 * len)) - 1);
}

/*
 * ident_scan() for a cell in the CSV window: may read up to 15 bytes past
 * the end (the window's slack) to rule out most cells with SSE2 first.
 */
unsigned ident_scan_cell(const char *s, size_t len, unsigned skip,
	    unsigned *nhs_candidates);
/* checks_hash64() for a cell in the CSV window (reads up to 7 bytes past
 * the end); the same value as checks_hash64(). */
uint64_t checks_hash64_cell(const char *p, size_t len, uint64_t seed);

/* 64-bit hash of a byte string (not cryptographic). */
uint64_t checks_hash64(const void *p, size_t len, uint64_t seed);

/* ---- the checker's state (checker.c, pipeline.c, verdict.c) ---------- */

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>

enum {
	VR_TYPE, VR_ALLOWED, VR_PATTERN, VR_RANGE, VR_ROUNDING, VR_GRAN,
	VR_REQUIRED, VR_MASKFMT, VR_MINCELL, VR_TROUND, VR_N
};

/* How often something failed, and the first rows it failed on. */
struct finding {
	uint64_t count;
	uint64_t rows[CHECK_ROWS_KEPT];
	size_t	n;
};

/* Per column, per thread: what failed. */
struct colt {
	struct finding v[VR_N];
	struct finding id[IDENT_NKINDS];
	uint64_t nhs_cells, nhs_pass;
};

/* A k-anonymity class: 128-bit key of its values, size, first row. */
struct kent {
	uint64_t a, b, count, first;
};

/* A one_row_per value: 64-bit hash (0 = empty slot) and its first row. */
struct uent {
	uint64_t h, row;
};

/* Everything one thread learns from the rows it checks. */
struct tally {
	struct colt *cols;
	struct kent *kt;
	size_t	kt_cap, kt_n;
	int	kt_full;
	struct uent *ut;
	size_t	ut_cap, ut_n;
	int	ut_full;
	struct finding uniq, dom, extra_id[IDENT_NKINDS];
	pcre2_match_data *md;
	uint32_t *vid;			/* per column: 1 + index of the allowed
					 * value of the current row, 0 none */
	struct trace_part *tr;		/* the release trace (trace.c) */
};

/* A column of the file and the rule it is judged by (read-only once the
 * header is read). */
struct col {
	const struct column_rule *rule;	/* NULL: not in the contract */
	char	name[128];
	int	dup;
	unsigned skip;			/* identifier kinds not looked for */
	int	exempt;			/* unmasked: no identifiers.raw */
	int	verify_tok, apply;
	int	allowed_clean;		/* allowed values hold no identifier */
	size_t	*allowed_len;
	uint64_t *allowed_key;		/* values of <= 7 bytes, packed with
					 * their length in the top byte */
	uint64_t round_m;		/* divisibility by rule->rounding */
	pcre2_code *re;
};

/* Rows tokenised from one CSV window, checked by both threads. */
struct batch {
	uint64_t *rowno;
	size_t	*first;			/* index of the row's first field */
	size_t	*nf;
	struct csv_field *f;
	size_t	nrows, nfields, cap_rows, cap_fields;
	size_t	next, done;		/* rows claimed, rows checked */
	uint64_t seq;
	int	published;
};

struct checker {
	const struct contract *c;
	const struct dataset *ds;
	struct check_opts o;
	struct csv_reader *rd;
	struct col *cols;
	size_t	ncols;
	int	header_seen;
	size_t	*qi;
	size_t	nqi;
	int	qi_ok;			/* every quasi-identifier present */
	long	uniq_col, dom_total, dom_top;
	struct tally t[2];		/* [0] caller's thread, [1] helper */
	struct finding csvp[CSV_ROW_TOO_LONG + 1];
	uint64_t rows;
	uint64_t read_bytes;
	int	cb_rc;
	int	incomplete;
	char	error[256];
	/* two threads (pipeline.c) */
	int	threaded;
	pthread_t helper;
	int	helper_started, quit;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	struct batch b[2];
	int	cur;
	uint64_t seq;
	size_t	chunk;			/* bytes read per window */
	uint64_t win_bytes;		/* bytes consumed before this window */
	int	mt_rc;			/* first non-zero on_token_mt return
					 * of a two-thread check (under mu) */
	/* the release trace (trace.c) */
	int	tr_records, tr_table;
	uint64_t *tr_seed;		/* per quasi-identifier / dimension */
	size_t	*tr_dim, *tr_meas, tr_ndim, tr_nmeas;
	size_t	tr_ncount;		/* tr_meas[0..tr_ncount) are counts,
					 * then the summed measure, if any */
};

/* checker.c */
int	tally_init(struct checker *ck, struct tally *t);
void	tally_free(struct tally *t);
int	checker_row(struct checker *ck, struct tally *t, uint64_t row,
	    const struct csv_field *f, size_t n);
int	tally_merge(struct checker *ck, struct tally *into,
	    const struct tally *from);
int	csv_reader_double_buffer(struct csv_reader *r,
	    int (*on_window)(void *arg), void *arg);

/* pipeline.c */
int	pipeline_start(struct checker *ck);
int	pipeline_row(struct checker *ck, unsigned long row,
	    const struct csv_field *f, size_t n);
int	pipeline_window(void *arg);
int	pipeline_finish(struct checker *ck);
void	pipeline_free(struct checker *ck);

/* trace.c */
struct trace_part;
int	trace_header(struct checker *ck);
int	trace_part_new(struct trace_part **out);
void	trace_part_free(struct trace_part *p);
void	trace_row(struct checker *ck, struct trace_part *p,
	    const struct csv_field *f, size_t n);

/* verdict.c */
int	checker_verdict(struct checker *ck, struct check_report **out);

#endif /* RG_CHECKS_INTERNAL_H */
