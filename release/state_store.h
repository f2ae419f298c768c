/*
 * release/state_store.h — the storage interface of the release worker's
 * state (requests, approvals, releases, token files, the outbox): one
 * implementation per backend, as audit/audit_int.h does for the audit log.
 * SQLite today (release/state_sqlite.c). Internal to release/: callers use
 * the state_db_* functions of release/internal.h (release/state_store.c),
 * which dispatch here; each op means what its state_db_* function says.
 */
#ifndef RG_RELEASE_STATE_STORE_H
#define RG_RELEASE_STATE_STORE_H

/* The records and RG_ID_MAX; release/internal.h includes this header back
 * after them, so either may come first. */
#include "release/internal.h"

struct state_store_ops {
	const char *name;
	/* Free the store; never called with NULL. */
	void	(*close)(struct state_db *db);
	int	(*begin)(struct state_db *db);
	int	(*commit)(struct state_db *db);
	void	(*rollback)(struct state_db *db);
	/* The sqlite3 * whose transactions the history store (disclosure/)
	 * joins; NULL for a backend without one, which then needs a history
	 * store of its own kind. */
	void	*(*sqlite)(struct state_db *db);

	int	(*request_open)(struct state_db *db, const char *user,
		    const char *folder, struct request_rec *out, int *created,
		    struct diag *d);
	int	(*request_by_folder)(struct state_db *db, const char *user,
		    const char *folder, struct request_rec *out);
	int	(*request_get)(struct state_db *db, const char *id,
		    struct request_rec *out);
	int	(*request_put)(struct state_db *db,
		    const struct request_rec *r);
	int	(*request_shown)(struct state_db *db, const char *id,
		    const char *updated);
	int	(*requests_unshown)(struct state_db *db,
		    char (**ids)[RG_ID_MAX], size_t *n);
	int	(*requests_in)(struct state_db *db, const char *state,
		    char (**ids)[RG_ID_MAX], size_t *n);

	int	(*approval_add)(struct state_db *db, const char *request,
		    const char *approver, const char *reason);
	int	(*approvals)(struct state_db *db, const char *request,
		    char (*out)[RG_NAME_MAX], size_t max, size_t *n);

	int	(*contract_totals)(struct state_db *db, const char *contract,
		    const char *dataset, int64_t *rows, int64_t *releases);
	int	(*release_assign)(struct state_db *db, const char *contract,
		    const char *dataset, const char *request, int64_t rows,
		    char id[RG_ID_MAX], struct diag *d);
	int	(*release_drop)(struct state_db *db, const char *id);
	int	(*release_get)(struct state_db *db, const char *id,
		    struct release_rec *out);
	int	(*release_published)(struct state_db *db, const char *id,
		    const char *time, long expires_day, long max_downloads);
	int	(*release_set_state)(struct state_db *db, const char *id,
		    const char *state);
	int	(*download_add)(struct state_db *db, const char *release,
		    const char *entry, const char *user, int64_t *count);
	int	(*releases_due)(struct state_db *db, long today,
		    char (**ids)[RG_ID_MAX], size_t *n);

	int	(*tokens_add)(struct state_db *db, const char *contract,
		    const char *release, const char *path, int64_t count);
	int	(*tokens_others)(struct state_db *db, const char *contract,
		    char (**paths)[1024], size_t *n);

	int	(*outbox_add)(struct state_db *db, const char *key,
		    const struct outbox_rec *m);
	int	(*outbox_list)(struct state_db *db, int64_t now, int unaudited,
		    size_t max, struct outbox_rec **v, size_t *n);
	int	(*outbox_update)(struct state_db *db, int64_t id,
		    const char *state, int tries, int64_t next_try,
		    const char *error);
	int	(*outbox_audited)(struct state_db *db, int64_t id);
	int	(*releases_expiring)(struct state_db *db, long from, long to,
		    char (**ids)[RG_ID_MAX], size_t *n);
};

/* What every backend's store begins with. */
struct state_db {
	const struct state_store_ops *ops;
};

/* Open (creating) the SQLite store STATE/state.db. *out is the caller's,
 * freed with state_db_close(). */
int	state_store_sqlite_open(struct state_db **out, const char *state_dir,
	    struct diag *d);

#endif /* RG_RELEASE_STATE_STORE_H */
