/*
 * The streaming CSV reader (RFC 4180). Bytes are pushed in any chunk
 * sizes into one window of fixed size (max_row plus a read chunk); complete
 * records are tokenised in place and handed to the caller, the partial last
 * record is moved to the front. Memory is constant: a record that does not
 * fit in max_row stops the reader.
 *
 * The tokeniser looks at 64 bytes at a time: a bit mask of the bytes that
 * matter (',', '"', LF, CR, NUL, and bytes >= 0x80 for UTF-8 validation) is
 * made with SSE2 compares, and only those positions are visited. Everything
 * else (the bulk of the data) is skipped without a per-byte branch.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "checks/checks.h"
#include "checks/internal.h"

#define CSV_CHUNK	(1u << 20)	/* bytes accepted per refill */
#define CSV_PAD		128		/* slack after the data for 64-byte loads */

struct csv_reader {
	struct csv_opts o;
	unsigned char *buf;		/* window: data [0, len), sentinel at len */
	size_t	len;
	size_t	window;			/* max_row + CSV_CHUNK */
	size_t	chunk;			/* bytes taken per pass, <= CSV_CHUNK */
	unsigned long row;		/* index of the next record (0 = header) */
	uint64_t bytes;			/* consumed (delivered) bytes */
	int	bom_done;
	size_t	header_n;		/* fields in the header */
	int	stopped;		/* a fatal problem or callback stop */
	int	stop_rc;
	unsigned char *buf2;		/* double buffering: the other window */
	int	(*on_window)(void *arg);
	void	*warg;
	struct csv_field *fields;	/* max_fields + 1 */
	unsigned char *esc;		/* per field: has "" escapes */
};

/* Short English name of a CSV problem. */
const char *
csv_problem_name(enum csv_problem p)
{
	switch (p) {
	case CSV_BAD_UTF8:	return "invalid UTF-8";
	case CSV_NUL:		return "NUL byte";
	case CSV_RAGGED:	return "ragged row (field count differs from the header)";
	case CSV_BAD_QUOTE:	return "bad quoting";
	case CSV_UNTERMINATED:	return "unterminated quoted field";
	case CSV_STRAY_CR:	return "carriage return without line feed";
	case CSV_FIELD_TOO_LONG: return "field longer than the cap";
	case CSV_TOO_MANY_FIELDS: return "too many fields";
	case CSV_ROW_TOO_LONG:	return "record longer than the cap";
	}
	return "malformed CSV";
}

/* Make a reader with the caps of o; *out is the caller's. */
int
csv_reader_new(struct csv_reader **out, const struct csv_opts *o)
{
	struct csv_reader *r;

	if (out == NULL || o == NULL)
		return RG_EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return RG_ENOMEM;
	r->o = *o;
	if (r->o.max_field == 0)
		r->o.max_field = CSV_DEFAULT_MAX_FIELD;
	if (r->o.max_row == 0)
		r->o.max_row = CSV_DEFAULT_MAX_ROW;
	if (r->o.max_fields == 0)
		r->o.max_fields = CSV_DEFAULT_MAX_FIELDS;
	if (r->o.max_row > ((size_t)1 << 30) || r->o.max_fields > (1u << 20)) {
		free(r);
		return RG_EINVAL;
	}
	r->window = r->o.max_row + CSV_CHUNK;
	r->chunk = CSV_CHUNK;
	/* calloc: untouched pages of a large window cost no memory */
	r->buf = calloc(1, r->window + CSV_PAD);
	r->fields = calloc(r->o.max_fields + 1, sizeof(*r->fields));
	r->esc = calloc(r->o.max_fields + 1, 1);
	if (r->buf == NULL || r->fields == NULL || r->esc == NULL) {
		csv_reader_free(r);
		return RG_ENOMEM;
	}
	*out = r;
	return RG_OK;
}

/* Free a reader; NULL-safe. */
void
csv_reader_free(struct csv_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r->buf2);
	free(r->fields);
	free(r->esc);
	free(r);
}

/* Records delivered so far, header included. */
unsigned long
csv_reader_rows(const struct csv_reader *r)
{
	return r->row;
}

/* Bytes of delivered records (terminators included). */
uint64_t
csv_reader_bytes(const struct csv_reader *r)
{
	return r->bytes;
}

/*
 * Bit i set when p[i] is one of the bytes the tokeniser must look at;
 * *commas gets the bits of the commas among them.
 */
static inline uint64_t
special_mask(const unsigned char *p, uint64_t *commas)
{
#if defined(__SSE2__)
	const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
	const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	const __m128i zero = _mm_setzero_si128();
	uint64_t m = 0, cm = 0;
	int k;

	for (k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)
		    (p + 16 * k));
		__m128i c = _mm_cmpeq_epi8(v, comma);
		__m128i e = _mm_or_si128(_mm_or_si128(c,
		    _mm_cmpeq_epi8(v, quote)),
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lf),
		    _mm_cmpeq_epi8(v, cr)), _mm_cmpeq_epi8(v, zero)));
		uint32_t bits = (uint32_t)_mm_movemask_epi8(e) |
		    (uint32_t)_mm_movemask_epi8(v);
		m |= (uint64_t)bits << (16 * k);
		cm |= (uint64_t)(uint32_t)_mm_movemask_epi8(c) << (16 * k);
	}
	*commas = cm;
	return m;
#else
	uint64_t m = 0, cm = 0;
	int i;

	for (i = 0; i < 64; i++) {
		unsigned char c = p[i];
		if (c == ',')
			cm |= (uint64_t)1 << i;
		if (c == ',' || c == '"' || c == '\n' || c == '\r' || c == 0 ||
		    c >= 0x80)
			m |= (uint64_t)1 << i;
	}
	*commas = cm;
	return m;
#endif
}

/*
 * Length of the valid UTF-8 sequence at p (n bytes available), 0 when it
 * is invalid, -1 when it may be valid but is cut off by the end of data.
 */
int
utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 0;
	for (i = 1; i < need; i++) {
		if (i >= n)
			return -1;
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	if (c == 0xe0 && p[1] < 0xa0)
		return 0;		/* overlong */
	if (c == 0xed && p[1] > 0x9f)
		return 0;		/* surrogate */
	if (c == 0xf0 && p[1] < 0x90)
		return 0;		/* overlong */
	if (c == 0xf4 && p[1] > 0x8f)
		return 0;		/* past U+10FFFF */
	return (int)need;
}

enum { ROW_DONE, ROW_PARTIAL };

#define ROW_HAS_ESC	(1u << 30)	/* in probs: some field has "" */

/* Drop the "" escapes of a quoted field in place; returns the new length. */
static size_t
unescape(char *p, size_t len)
{
	size_t i, j;

	for (i = j = 0; i < len; i++, j++) {
		p[j] = p[i];
		if (p[i] == '"' && i + 1 < len && p[i + 1] == '"')
			i++;
	}
	return j;
}

/*
 * Tokenise one record starting at `start`. Returns ROW_PARTIAL when the
 * data ends before the record does (and final is 0); otherwise ROW_DONE
 * with *next the start of the following record, *nf the field count and
 * *probs a bit set of (1 << enum csv_problem).
 */
/* Where the tokeniser stands: the 64-byte block and its unseen events. */
struct cursor {
	size_t	blk;
	uint64_t m, cm;
	int	valid;		/* 0: start afresh at the record's start */
};

static int
parse_row(struct csv_reader *r, size_t start, int final, size_t *next,
    size_t *nf_out, unsigned *probs, struct cursor *cur)
{
	unsigned char *b = r->buf;
	const size_t end = r->len;
	size_t blk = start, fstart = start, qend = 0, nf = 0, fend;
	size_t maxf = r->o.max_fields;
	uint64_t m, cm;
	int inq = 0, quoted = 0, esc = 0, n;
	unsigned pr = 0;

	b[end] = 0;			/* sentinel: an event at end */
	if (cur->valid) {
		/* the previous record ended with LF inside this block: its
		 * remaining events are this record's */
		blk = cur->blk;
		m = cur->m;
		cm = cur->cm;
	} else
		m = special_mask(b + blk, &cm);
	cur->valid = 0;
	for (;;) {
		size_t i;
		unsigned char c;

		while (m == 0) {
			blk += 64;
			m = special_mask(b + blk, &cm);
		}
		i = blk + (size_t)__builtin_ctzll(m);
		if (!inq && (m & -m & cm) && i < end) {
			/* the common case: a comma outside quotes */
			m &= m - 1;
			fend = i;
			goto comma;
		}
		m &= m - 1;
		if (i >= end) {
			if (!final)
				return ROW_PARTIAL;
			if (inq)
				pr |= 1u << CSV_UNTERMINATED;
			if (i == start && nf == 0) {
				/* nothing left */
				*next = end;
				*nf_out = 0;
				*probs = 0;
				return ROW_DONE;
			}
			fend = end;
			*next = end;
			goto field_end_row;
		}
		c = b[i];
		if (c >= 0x80) {
			n = utf8_seq_len(b + i, end - i);
			if (n < 0 && !final)
				return ROW_PARTIAL;
			if (n <= 0) {
				pr |= 1u << CSV_BAD_UTF8;
				n = 1;
			}
			if (n > 1) {
				blk = i + (size_t)n;
				m = special_mask(b + blk, &cm);
			}
			continue;
		}
		if (c == 0) {
			pr |= 1u << CSV_NUL;
			continue;
		}
		if (inq) {
			if (c != '"')
				continue;
			if (i + 1 >= end && !final)
				return ROW_PARTIAL;
			if (i + 1 < end && b[i + 1] == '"') {
				esc = 1;
				blk = i + 2;
				m = special_mask(b + blk, &cm);
				continue;
			}
			inq = 0;
			qend = i;
			continue;
		}
		switch (c) {
		case '"':
			if (i == fstart && !quoted) {
				inq = quoted = 1;
			} else
				pr |= 1u << CSV_BAD_QUOTE;
			continue;
		case ',':
			fend = i;
			break;
		case '\n':
			fend = i;
			*next = i + 1;
			cur->blk = blk;
			cur->m = m;
			cur->cm = cm;
			cur->valid = 1;
			goto field_end_row;
		case '\r':
			if (i + 1 >= end && !final)
				return ROW_PARTIAL;
			if (i + 1 < end && b[i + 1] == '\n') {
				fend = i;
				*next = i + 2;
				goto field_end_row;
			}
			pr |= 1u << CSV_STRAY_CR;
			continue;
		default:
			continue;
		}
comma:
		/* a field ends at fend (a comma) */
		if (nf < maxf) {
			if (quoted) {
				if (fend != qend + 1)
					pr |= 1u << CSV_BAD_QUOTE;
				r->fields[nf].p = (const char *)b + fstart + 1;
				r->fields[nf].len = (fend == qend + 1 ? qend :
				    fend) - fstart - 1;
			} else {
				r->fields[nf].p = (const char *)b + fstart;
				r->fields[nf].len = fend - fstart;
			}
			r->esc[nf] = (unsigned char)esc;
			pr |= esc ? ROW_HAS_ESC : 0;
		} else
			pr |= 1u << CSV_TOO_MANY_FIELDS;
		nf++;
		fstart = i + 1;
		quoted = esc = 0;
	}

field_end_row:
	if (nf < maxf) {
		if (quoted && !inq) {
			if (fend != qend + 1)
				pr |= 1u << CSV_BAD_QUOTE;
			r->fields[nf].p = (const char *)b + fstart + 1;
			r->fields[nf].len = (fend == qend + 1 ? qend : fend) -
			    fstart - 1;
		} else if (quoted) {
			/* unterminated: the rest of the data */
			r->fields[nf].p = (const char *)b + fstart + 1;
			r->fields[nf].len = fend - fstart - 1;
		} else {
			r->fields[nf].p = (const char *)b + fstart;
			r->fields[nf].len = fend - fstart;
		}
		r->esc[nf] = (unsigned char)esc;
		pr |= esc ? ROW_HAS_ESC : 0;
	} else
		pr |= 1u << CSV_TOO_MANY_FIELDS;
	nf++;
	*nf_out = nf;
	*probs = pr;
	return ROW_DONE;
}

static void
problem(struct csv_reader *r, unsigned long row, enum csv_problem p)
{
	if (r->o.on_problem != NULL)
		r->o.on_problem(r->o.arg, row, p);
}

/* Hand one complete record to the caller. */
static int
deliver(struct csv_reader *r, size_t nf, unsigned probs, size_t rowlen)
{
	size_t i, n = nf < r->o.max_fields ? nf : r->o.max_fields;
	unsigned long row = r->row++;
	int p;

	if (row == 0)
		r->header_n = nf;
	else if (nf != r->header_n)
		probs |= 1u << CSV_RAGGED;
	/* no field can be too long in a record shorter than the cap */
	for (i = 0; ((probs & ROW_HAS_ESC) || rowlen > r->o.max_field) &&
	    i < n; i++) {
		if (r->esc[i])
			r->fields[i].len = unescape((char *)r->fields[i].p,
			    r->fields[i].len);
		if (r->fields[i].len > r->o.max_field) {
			probs |= 1u << CSV_FIELD_TOO_LONG;
			r->fields[i].len = 0;
		}
	}
	probs &= ~ROW_HAS_ESC;
	for (p = CSV_BAD_UTF8; probs != 0 && p <= CSV_TOO_MANY_FIELDS; p++)
		if (probs & (1u << p))
			problem(r, row, (enum csv_problem)p);
	if (r->o.on_row != NULL)
		return r->o.on_row(r->o.arg, row, r->fields, n);
	return 0;
}

/* Tokenise every complete record in the window; keep the partial one. */
static int
parse(struct csv_reader *r, int final)
{
	size_t pos = 0, next, nf;
	unsigned probs;
	struct cursor cur;
	int rc;

	cur.valid = 0;
	if (!r->bom_done) {
		if (r->len < 3 && !final)
			return 0;
		if (r->len >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0)
			pos = 3;
		r->bom_done = 1;
	}
	while (pos < r->len) {
		if (parse_row(r, pos, final, &next, &nf, &probs, &cur) ==
		    ROW_PARTIAL)
			break;
		if (next - pos > r->o.max_row)
			goto toolong;
		if (nf > 0 && (rc = deliver(r, nf, probs, next - pos)) != 0) {
			r->stopped = 1;
			r->stop_rc = rc;
			return rc;
		}
		r->bytes += next - pos;
		pos = next;
	}
	if (r->on_window != NULL) {
		unsigned char *t;

		/* rows of this window are still being checked: move the partial
		 * record to the other window (which on_window made free) */
		if ((rc = r->on_window(r->warg)) != 0) {
			r->stopped = 1;
			r->stop_rc = rc;
			return rc;
		}
		memcpy(r->buf2, r->buf + pos, r->len - pos);
		t = r->buf;
		r->buf = r->buf2;
		r->buf2 = t;
		r->len -= pos;
	} else if (pos > 0) {
		memmove(r->buf, r->buf + pos, r->len - pos);
		r->len -= pos;
	}
	if (r->len > r->o.max_row)
		goto toolong;
	return 0;
toolong:
	problem(r, r->row, CSV_ROW_TOO_LONG);
	r->stopped = 1;
	r->stop_rc = RG_ETOOBIG;
	return RG_ETOOBIG;
}

/*
 * Keep delivered records valid until the next window is parsed: records
 * are tokenised in one window, the partial last record is copied into the
 * other. on_window(arg) is called after each window's records were
 * delivered and before the other window is overwritten.
 */
int
csv_reader_double_buffer(struct csv_reader *r, int (*on_window)(void *arg),
    void *arg)
{
	if (r->buf2 == NULL && (r->buf2 = calloc(1, r->window + CSV_PAD)) ==
	    NULL)
		return RG_ENOMEM;
	r->on_window = on_window;
	r->warg = arg;
	return 0;
}

/* Bytes to take per pass (csv_reader_feed); clamped to 4 KiB..1 MiB. */
void
csv_reader_set_chunk(struct csv_reader *r, size_t n)
{
	r->chunk = n < 4096 ? 4096 : n > CSV_CHUNK ? CSV_CHUNK : n;
}

/* Room for the next read straight into the window (internal.h). */
void
csv_reader_space(struct csv_reader *r, unsigned char **p, size_t *n)
{
	*p = r->buf + r->len;
	*n = r->window - r->len;
}

/* Account n bytes written at the space returned above and tokenise. */
int
csv_reader_commit(struct csv_reader *r, size_t n)
{
	if (r->stopped)
		return r->stop_rc;
	r->len += n;
	return parse(r, 0);
}

/* 1 once the reader stopped (cap reached or callback). */
int
csv_reader_stopped(const struct csv_reader *r)
{
	return r->stopped;
}

/* Copy data into the window and tokenise complete records. */
int
csv_reader_feed(struct csv_reader *r, const void *data, size_t len)
{
	const unsigned char *d = data;
	int rc;

	if (r->stopped)
		return r->stop_rc;
	while (len > 0) {
		size_t n = r->window - r->len;

		/* a chunk at a time: the records of one parse stay few */
		if (n > r->chunk)
			n = r->chunk;
		if (n > len)
			n = len;
		memcpy(r->buf + r->len, d, n);
		r->len += n;
		d += n;
		len -= n;
		if ((rc = parse(r, 0)) != 0)
			return rc;
	}
	return 0;
}

/* Deliver the last record, newline or not. */
int
csv_reader_finish(struct csv_reader *r)
{
	int rc;

	if (r->stopped)
		return r->stop_rc;
	if ((rc = parse(r, 1)) != 0)
		return rc;
	r->stopped = 1;
	r->stop_rc = 0;
	return 0;
}

/* Append one field, quoted only where needed, to b. */
int
csv_field_append(struct buf *b, const char *p, size_t len)
{
	size_t i, start;
	int need = 0, rc;

	for (i = 0; i < len; i++)
		if (p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r')
			need = 1;
	if (len > 0 && (p[0] == ' ' || p[len - 1] == ' '))
		need = 1;
	if (!need)
		return buf_append(b, p, len);
	if ((rc = buf_append(b, "\"", 1)) != 0)
		return rc;
	for (i = start = 0; i < len; i++) {
		if (p[i] != '"')
			continue;
		if ((rc = buf_append(b, p + start, i + 1 - start)) != 0)
			return rc;
		start = i;		/* the quote is written again */
	}
	if ((rc = buf_append(b, p + start, len - start)) != 0)
		return rc;
	return buf_append(b, "\"", 1);
}
