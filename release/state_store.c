/*
 * release/state_store.c — the worker's state_db_* functions
 * (worker_internal.h): each passes its call to the store's backend
 * through db->ops (release/state_store.h).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "release/internal.h"
#include "release/state_store.h"

/* Open (creating) the worker's state under STATE. SQLite is the only
 * backend for now; a `store:` setting will choose one later. */
int
state_db_open(struct state_db **out, const char *state_dir, struct diag *d)
{
	return state_store_sqlite_open(out, state_dir, d);
}

/* Close; NULL-safe. */
void
state_db_close(struct state_db *db)
{
	if (db == NULL)
		return;
	db->ops->close(db);
}

/* Begin a write transaction. */
int
state_db_begin(struct state_db *db)
{
	return db->ops->begin(db);
}

/* Commit it. */
int
state_db_commit(struct state_db *db)
{
	return db->ops->commit(db);
}

/* Roll it back (ignoring "no transaction"). */
void
state_db_rollback(struct state_db *db)
{
	db->ops->rollback(db);
}

/* The sqlite3 * for the history store; NULL for a backend without one. */
void *
state_db_sqlite(struct state_db *db)
{
	return db->ops->sqlite(db);
}

/* Find or make the request of (user, folder). */
int
state_db_request_open(struct state_db *db, const char *user,
    const char *folder, struct request_rec *out, int *created,
    struct diag *d)
{
	return db->ops->request_open(db, user, folder, out, created, d);
}

/* Find a request by (user, folder). */
int
state_db_request_by_folder(struct state_db *db, const char *user,
    const char *folder, struct request_rec *out)
{
	return db->ops->request_by_folder(db, user, folder, out);
}

/* Read one request by ID. */
int
state_db_request_get(struct state_db *db, const char *id,
    struct request_rec *out)
{
	return db->ops->request_get(db, id, out);
}

/* Store the mutable fields of a request. */
int
state_db_request_put(struct state_db *db, const struct request_rec *r)
{
	return db->ops->request_put(db, r);
}

/* The status files of a request show its stored state. */
int
state_db_request_shown(struct state_db *db, const char *id,
    const char *updated)
{
	return db->ops->request_shown(db, id, updated);
}

/* Requests whose status files may not show their stored state. */
int
state_db_requests_unshown(struct state_db *db, char (**ids)[RG_ID_MAX],
    size_t *n)
{
	return db->ops->requests_unshown(db, ids, n);
}

/* IDs of requests in one state, oldest first. */
int
state_db_requests_in(struct state_db *db, const char *state,
    char (**ids)[RG_ID_MAX], size_t *n)
{
	return db->ops->requests_in(db, state, ids, n);
}

/* Record one approval. */
int
state_db_approval_add(struct state_db *db, const char *request,
    const char *approver, const char *reason)
{
	return db->ops->approval_add(db, request, approver, reason);
}

/* Approvers of a request, in the order they approved. */
int
state_db_approvals(struct state_db *db, const char *request,
    char (*out)[RG_NAME_MAX], size_t max, size_t *n)
{
	return db->ops->approvals(db, request, out, max, n);
}

/* Rows and releases so far under a contract's dataset. */
int
state_db_contract_totals(struct state_db *db, const char *contract,
    const char *dataset, int64_t *rows, int64_t *releases)
{
	return db->ops->contract_totals(db, contract, dataset, rows, releases);
}

/* Assign the next release ID of a contract; idempotent per request. */
int
state_db_release_assign(struct state_db *db, const char *contract,
    const char *dataset, const char *request, int64_t rows,
    char id[RG_ID_MAX], struct diag *d)
{
	return db->ops->release_assign(db, contract, dataset, request, rows,
	    id, d);
}

/* Forget a reserved release ID (its request failed its checks). */
int
state_db_release_drop(struct state_db *db, const char *id)
{
	return db->ops->release_drop(db, id);
}

/* Read one release. */
int
state_db_release_get(struct state_db *db, const char *id,
    struct release_rec *out)
{
	return db->ops->release_get(db, id, out);
}

/* Mark a release published with its retention limits. */
int
state_db_release_published(struct state_db *db, const char *id,
    const char *time, long expires_day, long max_downloads)
{
	return db->ops->release_published(db, id, time, expires_day,
	    max_downloads);
}

/* Set a release's state. */
int
state_db_release_set_state(struct state_db *db, const char *id,
    const char *state)
{
	return db->ops->release_set_state(db, id, state);
}

/* Count one complete download once per queue entry. */
int
state_db_download_add(struct state_db *db, const char *release,
    const char *entry, const char *user, int64_t *count)
{
	return db->ops->download_add(db, release, entry, user, count);
}

/* Published releases due to expire. */
int
state_db_releases_due(struct state_db *db, long today,
    char (**ids)[RG_ID_MAX], size_t *n)
{
	return db->ops->releases_due(db, today, ids, n);
}

/* Record the fingerprint file of a release. */
int
state_db_tokens_add(struct state_db *db, const char *contract,
    const char *release, const char *path, int64_t count)
{
	return db->ops->tokens_add(db, contract, release, path, count);
}

/* Fingerprint files of every other contract. */
int
state_db_tokens_others(struct state_db *db, const char *contract,
    char (**paths)[1024], size_t *n)
{
	return db->ops->tokens_others(db, contract, paths, n);
}

/* Queue one message unless (key, user) is there already. */
int
state_db_outbox_add(struct state_db *db, const char *key,
    const struct outbox_rec *m)
{
	return db->ops->outbox_add(db, key, m);
}

/* Queued messages due at now, or ended ones not yet audited. */
int
state_db_outbox_list(struct state_db *db, int64_t now, int unaudited,
    size_t max, struct outbox_rec **v, size_t *n)
{
	return db->ops->outbox_list(db, now, unaudited, max, v, n);
}

/* Store the end of one try. */
int
state_db_outbox_update(struct state_db *db, int64_t id, const char *state,
    int tries, int64_t next_try, const char *error)
{
	return db->ops->outbox_update(db, id, state, tries, next_try, error);
}

/* The notify.* record of a message is written. */
int
state_db_outbox_audited(struct state_db *db, int64_t id)
{
	return db->ops->outbox_audited(db, id);
}

/* Published releases expiring on a day in [from, to]. */
int
state_db_releases_expiring(struct state_db *db, long from, long to,
    char (**ids)[RG_ID_MAX], size_t *n)
{
	return db->ops->releases_expiring(db, from, to, ids, n);
}
