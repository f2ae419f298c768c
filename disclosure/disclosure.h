/*
 * disclosure/ — cumulative disclosure control: each release judged with
 * everything released before it (product.md, "Cumulative disclosure").
 *
 * Two rules, judged after the check pass from its release trace
 * (checks/checks.h) and the history:
 *
 * - disclosure.cumulative (record level). Per contract, a history file
 *   STATE/history/CONTRACT/RELEASE.hist holds, for every person ever
 *   released under the contract (the fingerprint of the one_row_per value:
 *   within a contract the masking key is fixed, so it is the key a
 *   contractor joins releases on), the id of its combined vector: the set of
 *   (quasi-identifier, value) fingerprints of all its releases together.
 *   A new release is merged with it person by person (both sorted: one
 *   streaming pass) and passes when every combined class holds at least k
 *   people. 12 bytes per person on disk, plus the vector dictionary.
 * - disclosure.differencing (tables). Per organisation, every released
 *   table's cells (dimension-value fingerprints -> count, per count column)
 *   are kept in the store. A new table fails when a cell, or a total of a
 *   marginal (one table's dimensions a subset of the other's), differs from
 *   an earlier one with the same measure by more than 0 and less than the
 *   dataset's min_cell_count.
 *
 * The store (struct history_store) is state.db today: which history file
 * is the contract's current one, and the released tables. The release
 * worker records a publication's history in the transaction that records
 * the publication (history_record()); relgate check reads the same store
 * read-only and reports the same verdict.
 */
#ifndef RG_DISCLOSURE_H
#define RG_DISCLOSURE_H

#include <stddef.h>
#include <stdint.h>

#include "checks/checks.h"
#include "common/common.h"
#include "contracts/contracts.h"

/* ---- the store ------------------------------------------------------- */

struct history_store;

/* The SQL the worker's state.db migration runs to add the store's tables. */
extern const char history_store_schema[];

/*
 * Open STATE/state.db read-only (relgate check). A missing state.db is an
 * empty history, not an error. *out is the caller's (history_store_close()).
 */
int	history_store_open(struct history_store **out, const char *state_dir,
	    struct diag *d);
/* Use a connection the caller holds (the worker's sqlite3 *), so records
 * join the caller's transaction. */
int	history_store_wrap(struct history_store **out, void *sqlite_db,
	    const char *state_dir);
void	history_store_close(struct history_store *s);

/* ---- judging --------------------------------------------------------- */

/*
 * Judge disclosure.cumulative and disclosure.differencing for a release of
 * dataset ds of contract c made of the traces t[0..n) (its files), and mark
 * both rules in every report r[0..n). When next is not NULL the merged
 * history is also written there (fsynced), ready for history_record().
 * base (may be NULL) receives the release the merge started from ("" for
 * none). Errors only when the history cannot be read or written.
 */
int	disclosure_judge(struct history_store *s, const struct contract *c,
	    const struct dataset *ds, struct release_trace *const *t, size_t n,
	    struct check_report *const *r, const char *next, char *base,
	    size_t baselen, struct diag *d);

/*
 * Inside the caller's transaction: make `next` (a file disclosure_judge()
 * wrote, already renamed to its place STATE/history/CONTRACT/RELEASE.hist)
 * the contract's history, and record the release's tables. hist may be NULL
 * (nothing record level), tables a NULL list.
 */
int	history_record(struct history_store *s, const struct contract *c,
	    const char *dataset, const char *release, const char *hist,
	    struct release_trace *const *t, size_t n);
/* The contract's current history: release and path ("" when none). */
int	history_head(struct history_store *s, const char *contract,
	    char *release, size_t rlen, char *path, size_t plen);

/* ---- the trace on disk (between the checks and the approval) --------- */

int	release_trace_write(const struct release_trace *t, const char *path,
	    struct diag *d);
int	release_trace_read(struct release_trace **out, const char *path,
	    struct diag *d);

#endif /* RG_DISCLOSURE_H */
