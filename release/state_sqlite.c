/*
 * release/state_sqlite.c — the SQLite backend of the worker's state store
 * (release/state_store.h): STATE/state.db (WAL, synchronous=FULL).
 * Requests and their states, approvals, releases with their retention and
 * download counts, contract totals, the files of token fingerprints per
 * release and the outbox. Only the worker opens it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "disclosure/disclosure.h"
#include "release/internal.h"
#include "release/state_store.h"

/* The interface first, so that a struct state_db * is one of these. */
struct sqlite_state {
	struct state_db base;
	sqlite3	*db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS requests("
    " id TEXT PRIMARY KEY, submitter TEXT NOT NULL, folder TEXT NOT NULL,"
    " contract TEXT NOT NULL DEFAULT '', dataset TEXT NOT NULL DEFAULT '',"
    " state TEXT NOT NULL, release TEXT NOT NULL DEFAULT '',"
    " rows INTEGER NOT NULL DEFAULT -1, submitted TEXT NOT NULL,"
    " updated TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',"
    " shown INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(submitter, folder));"
    "CREATE INDEX IF NOT EXISTS requests_state ON requests(state);"
    "CREATE TABLE IF NOT EXISTS day_counters("
    " day TEXT PRIMARY KEY, last INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS approvals("
    " request TEXT NOT NULL, approver TEXT NOT NULL, reason TEXT,"
    " time TEXT NOT NULL, PRIMARY KEY(request, approver));"
    "CREATE TABLE IF NOT EXISTS releases("
    " id TEXT PRIMARY KEY, contract TEXT NOT NULL, dataset TEXT NOT NULL,"
    " request TEXT NOT NULL UNIQUE, seq INTEGER NOT NULL,"
    " rows INTEGER NOT NULL, state TEXT NOT NULL,"
    " published TEXT NOT NULL DEFAULT '', expires_day INTEGER NOT NULL"
    " DEFAULT -1, max_downloads INTEGER NOT NULL DEFAULT -1,"
    " downloads INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS releases_contract ON releases(contract);"
    "CREATE TABLE IF NOT EXISTS downloads("
    " entry TEXT PRIMARY KEY, release TEXT NOT NULL, user TEXT NOT NULL,"
    " time TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS token_files("
    " release TEXT PRIMARY KEY, contract TEXT NOT NULL, path TEXT NOT NULL,"
    " count INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS token_files_contract ON"
    " token_files(contract);";

static int
exec_sql(struct sqlite_state *db, const char *sql)
{
	return sqlite3_exec(db->db, sql, NULL, NULL, NULL) == SQLITE_OK ?
	    RG_OK : RG_EDB;
}

/* Columns added after the first schema: add them to an older state.db
 * (user_version records how far it was brought). */
static int
migrate(struct sqlite_state *db)
{
	static const char *const steps[] = {
		"ALTER TABLE requests ADD COLUMN note TEXT NOT NULL DEFAULT '';",
		"ALTER TABLE requests ADD COLUMN shown INTEGER NOT NULL"
		" DEFAULT 0;",
		/* 3: the outbox of e-mail notifications (release/notify*.c).
		 * A message is queued in the transaction of the state change
		 * that causes it; (key, user) makes a repeat harmless. */
		"CREATE TABLE IF NOT EXISTS outbox("
		" id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,"
		" event TEXT NOT NULL, user TEXT NOT NULL, addr TEXT NOT NULL,"
		" contract TEXT NOT NULL DEFAULT '',"
		" request TEXT NOT NULL DEFAULT '',"
		" release TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL,"
		" body TEXT NOT NULL, created INTEGER NOT NULL,"
		" state TEXT NOT NULL DEFAULT 'queued',"
		" tries INTEGER NOT NULL DEFAULT 0,"
		" next_try INTEGER NOT NULL DEFAULT 0,"
		" error TEXT NOT NULL DEFAULT '',"
		" audited INTEGER NOT NULL DEFAULT 0, UNIQUE(key, user));"
		"CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state,"
		" next_try);",
		/* 4: the release history (disclosure/store_sqlite.c) */
		history_store_schema,
	};
	sqlite3_stmt *st;
	int version = 0;
	size_t i;

	if (sqlite3_prepare_v2(db->db, "PRAGMA user_version;", -1, &st,
	    NULL) != SQLITE_OK)
		return RG_EDB;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	for (i = (size_t)version; i < RG_ARRAY_LEN(steps); i++) {
		char v[64];

		/* A new database has the column already: that error is
		 * expected and harmless. */
		(void)exec_sql(db, steps[i]);
		snprintf(v, sizeof(v), "PRAGMA user_version = %zu;", i + 1);
		if (exec_sql(db, v) != 0)
			return RG_EDB;
	}
	return RG_OK;
}

/* The connection, so that the history store's records join its
 * transactions. */
static void *
sqlite_sqlite(struct state_db *base)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	return db->db;
}

/* Close; NULL-safe. */
static void
sqlite_close(struct state_db *base)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	if (db == NULL)
		return;
	sqlite3_close(db->db);
	free(db);
}

/* BEGIN IMMEDIATE. */
static int
sqlite_begin(struct state_db *base)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	return exec_sql(db, "BEGIN IMMEDIATE;");
}

/* COMMIT. */
static int
sqlite_commit(struct state_db *base)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	return exec_sql(db, "COMMIT;");
}

/* ROLLBACK (ignoring "no transaction"). */
static void
sqlite_rollback(struct state_db *base)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	(void)exec_sql(db, "ROLLBACK;");
}

/* Run a statement that returns no rows and finalize it. */
static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? RG_OK : RG_EDB;
}

/* Prepare sql and bind the NULL-terminated text arguments in order. */
static sqlite3_stmt *
prep(struct sqlite_state *db, const char *sql, ...)
{
	sqlite3_stmt *st = NULL;
	const char *s;
	va_list ap;
	int i = 1;

	if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	va_start(ap, sql);
	while ((s = va_arg(ap, const char *)) != NULL)
		sqlite3_bind_text(st, i++, s, -1, SQLITE_TRANSIENT);
	va_end(ap);
	return st;
}

static void
col_text(sqlite3_stmt *st, int i, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	rg_strlcpy(out, t ? (const char *)t : "", len);
}

static void
now_text(char out[40])
{
	time_rfc3339_now(out, 40);
}

#define REQ_COLS "id, submitter, folder, contract, dataset, state, release," \
	" rows, submitted, updated, note"

static void
request_row(sqlite3_stmt *st, struct request_rec *r)
{
	memset(r, 0, sizeof(*r));
	col_text(st, 0, r->id, sizeof(r->id));
	col_text(st, 1, r->submitter, sizeof(r->submitter));
	col_text(st, 2, r->folder, sizeof(r->folder));
	col_text(st, 3, r->contract, sizeof(r->contract));
	col_text(st, 4, r->dataset, sizeof(r->dataset));
	col_text(st, 5, r->state, sizeof(r->state));
	col_text(st, 6, r->release, sizeof(r->release));
	r->rows = sqlite3_column_int64(st, 7);
	col_text(st, 8, r->submitted, sizeof(r->submitted));
	col_text(st, 9, r->updated, sizeof(r->updated));
	col_text(st, 10, r->note, sizeof(r->note));
}

/* Run a single-row SELECT of requests; RG_ENOENT when none. */
static int
request_select(sqlite3_stmt *st, struct request_rec *out)
{
	int rc;

	if (st == NULL)
		return RG_EDB;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		request_row(st, out);
		rc = RG_OK;
	} else
		rc = rc == SQLITE_DONE ? RG_ENOENT : RG_EDB;
	sqlite3_finalize(st);
	return rc;
}

/* Find a request by (user, folder). */
static int
sqlite_request_by_folder(struct state_db *base, const char *user,
    const char *folder, struct request_rec *out)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	return request_select(prep(db, "SELECT " REQ_COLS " FROM requests"
	    " WHERE submitter = ?1 AND folder = ?2;", user, folder, NULL), out);
}

/* Read one request by ID. */
static int
sqlite_request_get(struct state_db *base, const char *id,
    struct request_rec *out)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	return request_select(prep(db, "SELECT " REQ_COLS " FROM requests"
	    " WHERE id = ?1;", id, NULL), out);
}

/* Find or make the request of (user, folder). */
static int
sqlite_request_open(struct state_db *base, const char *user,
    const char *folder, struct request_rec *out, int *created,
    struct diag *d)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	char day[16], ymd[16], id[RG_ID_MAX], now[40];
	sqlite3_stmt *st;
	int64_t last = 0;
	int rc;

	*created = 0;
	if ((rc = sqlite_request_by_folder(base, user, folder, out)) !=
	    RG_ENOENT)
		return rc;
	date_today(day, sizeof(day));	/* YYYY-MM-DD */
	snprintf(ymd, sizeof(ymd), "%.4s%.2s%.2s", day, day + 5, day + 8);
	if (sqlite_begin(base) != 0)
		return diag_set(d, RG_EDB, "state.db", 0, 0, "%s",
		    sqlite3_errmsg(db->db));
	st = prep(db, "SELECT last FROM day_counters WHERE day = ?1;", ymd,
	    NULL);
	if (st == NULL)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		last = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	last++;
	if (last > 9999) {
		sqlite_rollback(base);
		return diag_set(d, RG_ETOOBIG, "state.db", 0, 0,
		    "more than 9999 requests today");
	}
	snprintf(id, sizeof(id), "R-%s-%04lld", ymd, (long long)last);
	now_text(now);
	st = prep(db, "INSERT INTO day_counters(day, last) VALUES(?1, ?2)"
	    " ON CONFLICT(day) DO UPDATE SET last = excluded.last;", ymd, NULL);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 2, last);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	st = prep(db, "INSERT INTO requests(id, submitter, folder, state,"
	    " submitted, updated) VALUES(?1, ?2, ?3, 'submitted', ?4, ?4);",
	    id, user, folder, now, NULL);
	if (st == NULL)
		goto fail;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || sqlite_commit(base) != 0)
		goto fail;
	*created = 1;
	return sqlite_request_get(base, id, out);
fail:
	diag_set(d, RG_EDB, "state.db", 0, 0, "%s", sqlite3_errmsg(db->db));
	sqlite_rollback(base);
	return RG_EDB;
}

/* Store the mutable fields of a request. */
static int
sqlite_request_put(struct state_db *base, const struct request_rec *r)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	char now[40];
	sqlite3_stmt *st;
	int rc;

	now_text(now);
	st = prep(db, "UPDATE requests SET contract = ?2, dataset = ?3,"
	    " state = ?4, release = ?5, updated = ?6, note = ?7, rows = ?8,"
	    " shown = 0"
	    " WHERE id = ?1;", r->id, r->contract, r->dataset, r->state,
	    r->release, now, r->note, NULL);
	if (st == NULL)
		return RG_EDB;
	sqlite3_bind_int64(st, 8, r->rows);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return RG_EDB;
	return sqlite3_changes(db->db) == 1 ? RG_OK : RG_ENOENT;
}

/* Collect the first text column of every row into a fixed-width array. */
static int
collect_ids(sqlite3_stmt *st, char (**ids)[RG_ID_MAX], size_t *n)
{
	char (*v)[RG_ID_MAX] = NULL;
	size_t nv = 0, cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if (st == NULL)
		return RG_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (nv == cap) {
			char (*nvp)[RG_ID_MAX];

			cap = cap ? cap * 2 : 8;
			if ((nvp = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				sqlite3_finalize(st);
				return RG_ENOMEM;
			}
			v = nvp;
		}
		col_text(st, 0, v[nv++], RG_ID_MAX);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return RG_EDB;
	}
	*ids = v;
	*n = nv;
	return RG_OK;
}

/* IDs of requests in one state, oldest first. */
static int
sqlite_requests_in(struct state_db *base, const char *state,
    char (**ids)[RG_ID_MAX], size_t *n)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	return collect_ids(prep(db, "SELECT id FROM requests WHERE state = ?1"
	    " ORDER BY submitted, id;", state, NULL), ids, n);
}

/* The status files of a request show its stored state. */
static int
sqlite_request_shown(struct state_db *base, const char *id,
    const char *updated)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "UPDATE requests SET shown = 1 WHERE id = ?1 AND"
	    " updated = ?2;", id, updated, NULL);
	if (st == NULL)
		return RG_EDB;
	return step_done(st);
}

/* Requests whose status files may not show their stored state. */
static int
sqlite_requests_unshown(struct state_db *base, char (**ids)[RG_ID_MAX],
    size_t *n)
{
	struct sqlite_state *db = (struct sqlite_state *)base;

	return collect_ids(prep(db, "SELECT id FROM requests WHERE shown = 0"
	    " ORDER BY id;", NULL), ids, n);
}

/* Record one approval. */
static int
sqlite_approval_add(struct state_db *base, const char *request,
    const char *approver, const char *reason)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	char now[40];
	sqlite3_stmt *st;
	int rc;

	now_text(now);
	st = prep(db, "INSERT OR IGNORE INTO approvals(request, approver,"
	    " reason, time) VALUES(?1, ?2, ?3, ?4);", request, approver,
	    reason ? reason : "", now, NULL);
	if (st == NULL)
		return RG_EDB;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return RG_EDB;
	return sqlite3_changes(db->db) == 1 ? RG_OK : RG_EEXIST;
}

/* Approvers of a request, in the order they approved. */
static int
sqlite_approvals(struct state_db *base, const char *request,
    char (*out)[RG_NAME_MAX], size_t max, size_t *n)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	st = prep(db, "SELECT approver FROM approvals WHERE request = ?1"
	    " ORDER BY time, approver;", request, NULL);
	if (st == NULL)
		return RG_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (*n < max)
			col_text(st, 0, out[(*n)++], RG_NAME_MAX);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? RG_OK : RG_EDB;
}

/* Rows and releases so far under a contract's dataset. */
static int
sqlite_contract_totals(struct state_db *base, const char *contract,
    const char *dataset, int64_t *rows, int64_t *releases)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;
	int rc;

	*rows = 0;
	*releases = 0;
	st = prep(db, "SELECT COALESCE(SUM(rows), 0), COUNT(*) FROM releases"
	    " WHERE contract = ?1 AND dataset = ?2 AND state IN ('approved',"
	    " 'published', 'expired');", contract, dataset, NULL);
	if (st == NULL)
		return RG_EDB;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*rows = sqlite3_column_int64(st, 0);
		*releases = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? RG_OK : RG_EDB;
}

/* Assign the next release ID of a contract; idempotent per request. */
static int
sqlite_release_assign(struct state_db *base, const char *contract,
    const char *dataset, const char *request, int64_t rows,
    char id[RG_ID_MAX], struct diag *d)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;
	int64_t seq = 0;
	int rc;

	st = prep(db, "SELECT id FROM releases WHERE request = ?1;", request,
	    NULL);
	if (st == NULL)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		col_text(st, 0, id, RG_ID_MAX);
		sqlite3_finalize(st);
		return RG_OK;
	}
	sqlite3_finalize(st);
	st = prep(db, "SELECT COALESCE(MAX(seq), 0) FROM releases"
	    " WHERE contract = ?1;", contract, NULL);
	if (st == NULL)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	seq++;
	if (seq > 999)
		return diag_set(d, RG_ETOOBIG, "state.db", 0, 0,
		    "contract %s has 999 releases", contract);
	rc = snprintf(id, RG_ID_MAX, "%s-%03lld", contract, (long long)seq);
	if (rc < 0 || rc >= RG_ID_MAX)
		return diag_set(d, RG_EINVAL, "state.db", 0, 0,
		    "contract id too long");
	st = prep(db, "INSERT INTO releases(id, contract, dataset, request,"
	    " seq, rows, state) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'reserved');",
	    id, contract, dataset, request, NULL);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 5, seq);
	sqlite3_bind_int64(st, 6, rows);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	return RG_OK;
fail:
	return diag_set(d, RG_EDB, "state.db", 0, 0, "%s",
	    sqlite3_errmsg(db->db));
}

/* Forget a reserved release ID (its request failed its checks). */
static int
sqlite_release_drop(struct state_db *base, const char *id)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "DELETE FROM releases WHERE id = ?1 AND state ="
	    " 'reserved';", id, NULL);
	if (st == NULL)
		return RG_EDB;
	return step_done(st);
}

/* Read one release. */
static int
sqlite_release_get(struct state_db *base, const char *id,
    struct release_rec *out)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;
	int rc;

	st = prep(db, "SELECT id, contract, request, rows, state, published,"
	    " expires_day, max_downloads, downloads FROM releases"
	    " WHERE id = ?1;", id, NULL);
	if (st == NULL)
		return RG_EDB;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		col_text(st, 0, out->id, sizeof(out->id));
		col_text(st, 1, out->contract, sizeof(out->contract));
		col_text(st, 2, out->request, sizeof(out->request));
		out->rows = sqlite3_column_int64(st, 3);
		col_text(st, 4, out->state, sizeof(out->state));
		col_text(st, 5, out->published, sizeof(out->published));
		out->expires_day = (long)sqlite3_column_int64(st, 6);
		out->max_downloads = (long)sqlite3_column_int64(st, 7);
		out->downloads = sqlite3_column_int64(st, 8);
		rc = RG_OK;
	} else
		rc = rc == SQLITE_DONE ? RG_ENOENT : RG_EDB;
	sqlite3_finalize(st);
	return rc;
}

/* Mark a release published with its retention limits. */
static int
sqlite_release_published(struct state_db *base, const char *id,
    const char *time, long expires_day, long max_downloads)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "UPDATE releases SET state = 'published', published = ?2,"
	    " expires_day = ?3, max_downloads = ?4 WHERE id = ?1;", id, time,
	    NULL);
	if (st == NULL)
		return RG_EDB;
	sqlite3_bind_int64(st, 3, expires_day);
	sqlite3_bind_int64(st, 4, max_downloads);
	return step_done(st);
}

/* Set a release's state. */
static int
sqlite_release_set_state(struct state_db *base, const char *id,
    const char *state)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "UPDATE releases SET state = ?2 WHERE id = ?1;", id,
	    state, NULL);
	if (st == NULL)
		return RG_EDB;
	return step_done(st);
}

/* Count one complete download once per queue entry. */
static int
sqlite_download_add(struct state_db *base, const char *release,
    const char *entry, const char *user, int64_t *count)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	char now[40];
	sqlite3_stmt *st;
	int rc;

	now_text(now);
	if (sqlite_begin(base) != 0)
		return RG_EDB;
	st = prep(db, "INSERT OR IGNORE INTO downloads(entry, release, user,"
	    " time) VALUES(?1, ?2, ?3, ?4);", entry, release, user, now, NULL);
	if (st == NULL)
		goto fail;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	st = prep(db, "UPDATE releases SET downloads = (SELECT COUNT(*) FROM"
	    " downloads WHERE release = ?1) WHERE id = ?1;", release, NULL);
	if (st == NULL)
		goto fail;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	st = prep(db, "SELECT COUNT(*) FROM downloads WHERE release = ?1;",
	    release, NULL);
	if (st == NULL)
		goto fail;
	*count = sqlite3_step(st) == SQLITE_ROW ?
	    sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (sqlite_commit(base) != 0)
		goto fail;
	return RG_OK;
fail:
	sqlite_rollback(base);
	return RG_EDB;
}

/* Published releases due to expire. */
static int
sqlite_releases_due(struct state_db *base, long today,
    char (**ids)[RG_ID_MAX], size_t *n)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "SELECT id FROM releases WHERE state = 'published' AND"
	    " ((expires_day >= 0 AND expires_day <= ?1) OR"
	    " (max_downloads > 0 AND downloads >= max_downloads))"
	    " ORDER BY id;", NULL);
	if (st != NULL)
		sqlite3_bind_int64(st, 1, today);
	return collect_ids(st, ids, n);
}

/* Record the fingerprint file of a release. */
static int
sqlite_tokens_add(struct state_db *base, const char *contract,
    const char *release, const char *path, int64_t count)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "INSERT OR REPLACE INTO token_files(release, contract,"
	    " path, count) VALUES(?1, ?2, ?3, ?4);", release, contract, path,
	    NULL);
	if (st == NULL)
		return RG_EDB;
	sqlite3_bind_int64(st, 4, count);
	return step_done(st);
}

/* Fingerprint files of every other contract. */
static int
sqlite_tokens_others(struct state_db *base, const char *contract,
    char (**paths)[1024], size_t *n)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	char (*v)[1024] = NULL;
	size_t nv = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	*paths = NULL;
	*n = 0;
	st = prep(db, "SELECT path FROM token_files WHERE contract != ?1"
	    " ORDER BY release;", contract, NULL);
	if (st == NULL)
		return RG_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (nv == cap) {
			char (*nvp)[1024];

			cap = cap ? cap * 2 : 8;
			if ((nvp = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				sqlite3_finalize(st);
				return RG_ENOMEM;
			}
			v = nvp;
		}
		col_text(st, 0, v[nv++], 1024);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return RG_EDB;
	}
	*paths = v;
	*n = nv;
	return RG_OK;
}

/* ---- the outbox of e-mail notifications ------------------------------ */

/* Queue one message unless (key, user) is there already. */
static int
sqlite_outbox_add(struct state_db *base, const char *key,
    const struct outbox_rec *m)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "INSERT OR IGNORE INTO outbox(key, event, user, addr,"
	    " contract, request, release, subject, body, created, next_try)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10);", key,
	    m->event, m->user, m->addr, m->contract, m->request, m->release,
	    m->subject, m->body, NULL);
	if (st == NULL)
		return RG_EDB;
	sqlite3_bind_int64(st, 10, m->created);
	return step_done(st);
}

/* Queued messages due at now, or ended ones not yet audited. */
static int
sqlite_outbox_list(struct state_db *base, int64_t now, int unaudited,
    size_t max, struct outbox_rec **v, size_t *n)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	struct outbox_rec *a;
	sqlite3_stmt *st;
	int rc;

	*v = NULL;
	*n = 0;
	if (max == 0)
		return RG_OK;
	if ((a = calloc(max, sizeof(*a))) == NULL)
		return RG_ENOMEM;
	st = prep(db, unaudited ?
	    "SELECT id, event, user, addr, contract, request, release,"
	    " subject, body, created, state, tries, next_try, error FROM outbox"
	    " WHERE state IN ('sent', 'failed') AND audited = 0 AND ?1 >= 0"
	    " ORDER BY id LIMIT ?2;" :
	    "SELECT id, event, user, addr, contract, request, release,"
	    " subject, body, created, state, tries, next_try, error FROM outbox"
	    " WHERE state = 'queued' AND next_try <= ?1 ORDER BY next_try, id"
	    " LIMIT ?2;", NULL);
	if (st == NULL) {
		free(a);
		return RG_EDB;
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct outbox_rec *m = &a[(*n)++];

		m->id = sqlite3_column_int64(st, 0);
		col_text(st, 1, m->event, sizeof(m->event));
		col_text(st, 2, m->user, sizeof(m->user));
		col_text(st, 3, m->addr, sizeof(m->addr));
		col_text(st, 4, m->contract, sizeof(m->contract));
		col_text(st, 5, m->request, sizeof(m->request));
		col_text(st, 6, m->release, sizeof(m->release));
		col_text(st, 7, m->subject, sizeof(m->subject));
		col_text(st, 8, m->body, sizeof(m->body));
		m->created = sqlite3_column_int64(st, 9);
		col_text(st, 10, m->state, sizeof(m->state));
		m->tries = sqlite3_column_int(st, 11);
		m->next_try = sqlite3_column_int64(st, 12);
		col_text(st, 13, m->error, sizeof(m->error));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(a);
		*n = 0;
		return RG_EDB;
	}
	*v = a;
	return RG_OK;
}

/* Store the end of one try. */
static int
sqlite_outbox_update(struct state_db *base, int64_t id, const char *state,
    int tries, int64_t next_try, const char *error)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "UPDATE outbox SET state = ?1, error = ?2, tries = ?3,"
	    " next_try = ?4, audited = 0 WHERE id = ?5;", state,
	    error ? error : "", NULL);
	if (st == NULL)
		return RG_EDB;
	sqlite3_bind_int(st, 3, tries);
	sqlite3_bind_int64(st, 4, next_try);
	sqlite3_bind_int64(st, 5, id);
	return step_done(st);
}

/* The notify.* record of a message is written. */
static int
sqlite_outbox_audited(struct state_db *base, int64_t id)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "UPDATE outbox SET audited = 1 WHERE id = ?1;", NULL);
	if (st == NULL)
		return RG_EDB;
	sqlite3_bind_int64(st, 1, id);
	return step_done(st);
}

/* Published releases expiring on a day in [from, to]. */
static int
sqlite_releases_expiring(struct state_db *base, long from, long to,
    char (**ids)[RG_ID_MAX], size_t *n)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st;

	st = prep(db, "SELECT id FROM releases WHERE state = 'published' AND"
	    " expires_day >= ?1 AND expires_day <= ?2 ORDER BY id;", NULL);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, from);
		sqlite3_bind_int64(st, 2, to);
	}
	return collect_ids(st, ids, n);
}

static const struct state_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sqlite_close,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.sqlite = sqlite_sqlite,
	.request_open = sqlite_request_open,
	.request_by_folder = sqlite_request_by_folder,
	.request_get = sqlite_request_get,
	.request_put = sqlite_request_put,
	.request_shown = sqlite_request_shown,
	.requests_unshown = sqlite_requests_unshown,
	.requests_in = sqlite_requests_in,
	.approval_add = sqlite_approval_add,
	.approvals = sqlite_approvals,
	.contract_totals = sqlite_contract_totals,
	.release_assign = sqlite_release_assign,
	.release_drop = sqlite_release_drop,
	.release_get = sqlite_release_get,
	.release_published = sqlite_release_published,
	.release_set_state = sqlite_release_set_state,
	.download_add = sqlite_download_add,
	.releases_due = sqlite_releases_due,
	.tokens_add = sqlite_tokens_add,
	.tokens_others = sqlite_tokens_others,
	.outbox_add = sqlite_outbox_add,
	.outbox_list = sqlite_outbox_list,
	.outbox_update = sqlite_outbox_update,
	.outbox_audited = sqlite_outbox_audited,
	.releases_expiring = sqlite_releases_expiring,
};

/* Open (creating) STATE/state.db. */
int
state_store_sqlite_open(struct state_db **out, const char *state_dir,
    struct diag *d)
{
	char path[PATH_MAX];
	struct sqlite_state *db;
	int n;

	*out = NULL;
	n = snprintf(path, sizeof(path), "%s/state.db", state_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0,
		    "path too long");
	/*
	 * The worker's alone, never the sessions': owner-only whatever the
	 * umask (SQLite gives -wal and -shm the database file's mode). Made
	 * here when missing; an existing file is only chmod()ed: closing a
	 * descriptor of a database another connection of this process has
	 * open (the notification sender's) would drop that connection's
	 * POSIX locks.
	 */
	if ((n = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) != -1)
		(void)close(n);
	else if (errno != EEXIST || chmod(path, 0600) == -1)
		return diag_set(d, RG_EIO, path, 0, 0, "open: %s",
		    strerror(errno));
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return RG_ENOMEM;
	db->base.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		diag_set(d, RG_EDB, path, 0, 0, "%s",
		    db->db ? sqlite3_errmsg(db->db) : "cannot open");
		sqlite_close(&db->base);
		return RG_EDB;
	}
	sqlite3_busy_timeout(db->db, 10000);
	if (exec_sql(db, "PRAGMA journal_mode=WAL;") != 0 ||
	    exec_sql(db, "PRAGMA synchronous=FULL;") != 0 ||
	    exec_sql(db, "PRAGMA foreign_keys=ON;") != 0 ||
	    exec_sql(db, schema) != 0 || migrate(db) != 0) {
		diag_set(d, RG_EDB, path, 0, 0, "%s", sqlite3_errmsg(db->db));
		sqlite_close(&db->base);
		return RG_EDB;
	}
	*out = &db->base;
	return RG_OK;
}
