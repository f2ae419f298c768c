/*
 * Private to checks/: pieces shared between the files of the check engine.
 * Other folders include only checks/checks.h.
 */
#ifndef RG_CHECKS_INTERNAL_H
#define RG_CHECKS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "checks/checks.h"

/* Length of the UTF-8 sequence at p (n bytes there): >0 valid, 0 invalid,
 * -1 cut off by the end of the data. */
int	utf8_seq_len(const unsigned char *p, size_t n);

/* Zero-copy reading: room at the end of the reader's window, then commit
 * the bytes written there (tokenises like csv_reader_feed). */
void	csv_reader_space(struct csv_reader *r, unsigned char **p, size_t *n);
int	csv_reader_commit(struct csv_reader *r, size_t n);
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

/* 64-bit hash of a byte string (not cryptographic). */
uint64_t checks_hash64(const void *p, size_t len, uint64_t seed);

#endif /* RG_CHECKS_INTERNAL_H */
