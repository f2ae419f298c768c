/*
 * common/ — small pieces every folder shares: one error enum, diagnostics
 * with file/line/column, capped growable buffers, logging, durable file
 * writes and a few string helpers.
 *
 * Functions return 0 on success or a negative RG_E* code; detail goes into a
 * struct diag when the caller passes one.
 */
#ifndef RG_COMMON_H
#define RG_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- errors ---------------------------------------------------------- */

enum rg_err {
	RG_OK = 0,
	RG_ENOMEM = -1,		/* out of memory */
	RG_EIO = -2,		/* read/write/fsync failed (errno kept in diag) */
	RG_EINVAL = -3,		/* bad argument or bad input */
	RG_EPARSE = -4,		/* malformed file (YAML, CSV, packet) */
	RG_ENOENT = -5,		/* no such file, user, contract, key */
	RG_EEXIST = -6,		/* already exists */
	RG_EPERM = -7,		/* not permitted */
	RG_ETOOBIG = -8,	/* a cap was reached */
	RG_ECRYPTO = -9,	/* crypto library failure */
	RG_EDB = -10,		/* audit/state storage failure */
	RG_EINTEGRITY = -11,	/* hash chain or signature mismatch */
	RG_EUNSUPPORTED = -12,	/* not implemented / not supported */
	RG_EAGAIN = -13,	/* try again later (busy, rate limited) */
	RG_EPROTO = -14,	/* peer broke a protocol */
};

/* Return a static English description of an RG_E* code. */
const char *rg_strerror(int err);

/* ---- diagnostics ----------------------------------------------------- */

/*
 * Where and why something failed. file/line/column are 0/empty when unknown.
 * Lines and columns count from 1, as editors do.
 */
struct diag {
	char	file[512];
	unsigned long line;
	unsigned long column;
	char	msg[512];
};

/* Clear a diag. NULL-safe. */
void	diag_clear(struct diag *d);
/* Fill a diag (printf-style message); NULL-safe. Returns err, so that
 * "return diag_set(d, RG_EPARSE, path, line, col, ...)" reads well. */
int	diag_set(struct diag *d, int err, const char *file, unsigned long line,
	    unsigned long column, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
/* Format "file:line:col: msg" (omitting unknown parts) into buf. */
void	diag_format(const struct diag *d, char *buf, size_t len);

/* ---- capped buffer --------------------------------------------------- */

/* A growable byte buffer with a hard cap fixed at creation. */
struct buf {
	unsigned char *data;
	size_t	len;
	size_t	size;
	size_t	cap;		/* never grows past this many bytes */
};

/* Initialise an empty buffer that may hold at most cap bytes. */
void	buf_init(struct buf *b, size_t cap);
/* Make room for n more bytes; RG_ETOOBIG past the cap. */
int	buf_reserve(struct buf *b, size_t n);
/* Append n bytes; RG_ETOOBIG past the cap. */
int	buf_append(struct buf *b, const void *p, size_t n);
/* Append a printf-formatted string (no NUL kept in len). */
int	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Append a NUL without counting it in len, so data is a C string. */
int	buf_cstr(struct buf *b);
/* Drop contents, keep storage. */
void	buf_reset(struct buf *b);
/* Wipe and free storage. NULL-safe. */
void	buf_free(struct buf *b);

/* ---- logging --------------------------------------------------------- */

enum log_target { LOG_TO_STDERR, LOG_TO_SYSLOG };

/* Choose where log lines go; ident names the process in syslog. */
void	log_init(enum log_target target, const char *ident, int debug);
/* Informational message. */
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning with ": strerror(errno)" appended. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning without errno. */
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debug message, shown only when debug logging is on. */
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1). Only program code (gateway/, cli/) calls these. */
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- files ----------------------------------------------------------- */

/*
 * Write len bytes to path durably: write to "path.tmp.PID", fsync, rename
 * over path, fsync the folder. mode is the new file's mode. A crash leaves
 * either the old file or the new one, never a part.
 */
int	file_write_atomic(const char *path, const void *data, size_t len,
	    mode_t mode, struct diag *d);
/* fsync the folder that holds path (or the folder itself if it is one). */
int	dir_fsync(const char *dirpath);
/* Read a whole small file into a NUL-terminated buffer of at most cap
 * bytes; *out is the caller's (free()). RG_ETOOBIG if larger. */
int	file_read_small(char **out, size_t *outlen, const char *path,
	    size_t cap, struct diag *d);
/* One reader for every key and secret, so that none skips a check: not a
 * link, a regular file, mode 0600 or stricter, min..max bytes into
 * buf[max], *len its length. RG_ENOENT (*d untouched) when there is no
 * file; what names it in messages; buf is wiped on failure. */
int	file_read_private(void *buf, size_t min, size_t max, size_t *len,
	    const char *path, const char *what, struct diag *d);
/* mkdir -p with mode for each made component. */
int	dir_make(const char *path, mode_t mode);

/* ---- small helpers --------------------------------------------------- */

/* Fill buf with len bytes from the kernel CSPRNG. */
int	rg_random(void *buf, size_t len);
/* Write 2*len lowercase hex digits and a NUL into out. */
void	hex_encode(char *out, const unsigned char *in, size_t len);
/* Decode 2*len hex digits into out; RG_EINVAL on bad input. */
int	hex_decode(unsigned char *out, size_t len, const char *hex);
/* Wipe memory in a way the compiler keeps. */
void	rg_wipe(void *p, size_t len);
/* 1 when s is a safe single path component name: [A-Za-z0-9._-], not
 * starting with '.' or '-', 1..maxlen bytes (user names, contract ids). */
int	name_is_safe(const char *s, size_t maxlen);
/* Current time as RFC 3339 UTC with microseconds into out (>= 28 bytes). */
void	time_rfc3339_now(char *out, size_t len);
/* Today's date as YYYY-MM-DD (UTC) into out (>= 11 bytes). */
void	date_today(char *out, size_t len);
/* Parse "YYYY-MM-DD" strictly; 0 and days since 1970-01-01 in *days. */
int	date_parse(const char *s, long *days);
/* Days since 1970-01-01 as "YYYY-MM-DD" into out (>= 11 bytes). */
void	date_format(long days, char *out, size_t len);
/* Make room for need items of each bytes in the array *p of *cap items,
 * doubling from 1024: 0 or RG_ENOMEM (also on size overflow). */
int	rg_array_grow(void **p, size_t *cap, size_t need, size_t each);
/* strlcpy: copy with truncation, always NUL-terminated; returns strlen(src). */
size_t	rg_strlcpy(char *dst, const char *src, size_t size);
/* JSON-escape s into b (adds the surrounding quotes). */
int	json_append_string(struct buf *b, const char *s);

#define RG_ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

#endif /* RG_COMMON_H */
