/*
 * Private to disclosure/: pieces shared between its files. Other folders
 * include only disclosure/disclosure.h.
 */
#ifndef RG_DISCLOSURE_INTERNAL_H
#define RG_DISCLOSURE_INTERNAL_H

#include "disclosure/disclosure.h"

#define HIST_VECTORS_MAX	((size_t)1 << 22)	/* combined vectors */

/* What the record-level merge found. */
struct cumulative_result {
	uint64_t persons;		/* people released in all */
	uint64_t classes;		/* combined classes */
	uint64_t short_classes;		/* of them, fewer than k people */
	uint64_t short_people;		/* people in those */
	uint64_t releases_before;	/* releases in the history merged */
	int	full;			/* past a cap: cannot be shown */
};

/* history.c: merge the history file `old` (NULL or "": none) with the
 * traces, count the combined classes against k, and when out is not NULL
 * write the merged history there (tmp, fsync, rename). */
int	history_merge(const char *old, struct release_trace *const *t,
	    size_t n, long k, const char *out, struct cumulative_result *res,
	    struct diag *d);

/* A table released earlier (store_sqlite.c reads them). */
struct earlier_table {
	char	release[64];
	struct release_trace *t;	/* its table trace */
};

/* tables.c: cells of table t against the earlier tables; marks
 * disclosure.differencing in r. */
int	differencing_judge(const struct release_trace *t,
	    const struct earlier_table *e, size_t n, long min_cell,
	    struct check_report *r);

/* trace_file.c: a trace as bytes (the trace file, the store's blobs). */
int	trace_encode(const struct release_trace *t, struct buf *b);
int	trace_decode(struct release_trace **out, const unsigned char *p,
	    size_t len);

/* store_sqlite.c */
int	store_tables_for(struct history_store *s, const char *organisation,
	    struct earlier_table **out, size_t *n);
void	earlier_tables_free(struct earlier_table *e, size_t n);
const char *store_state_dir(const struct history_store *s);
/* 1 when the state directory itself does not exist (not a gateway host). */
int	history_store_absent(const struct history_store *s);

#endif /* RG_DISCLOSURE_INTERNAL_H */
