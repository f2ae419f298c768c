/*
 * The history store on state.db: which history file is each contract's
 * current one, and every released table's cells (a trace blob) with the
 * organisation it went to. The worker passes its own connection, so a
 * record joins the transaction that records the publication; relgate
 * check opens the database read-only.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "disclosure/internal.h"

const char history_store_schema[] =
    "CREATE TABLE IF NOT EXISTS history_heads("
    " contract TEXT PRIMARY KEY, release TEXT NOT NULL,"
    " path TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS released_tables("
    " release TEXT NOT NULL, file INTEGER NOT NULL,"
    " organisation TEXT NOT NULL, contract TEXT NOT NULL,"
    " dataset TEXT NOT NULL, cells BLOB NOT NULL,"
    " PRIMARY KEY(release, file));"
    "CREATE INDEX IF NOT EXISTS released_tables_org ON"
    " released_tables(organisation);";

struct history_store {
	sqlite3 *db;
	int	own;			/* opened here (close it) */
	int	absent;			/* no state directory on this host */
	char	*state_dir;
};

int
history_store_absent(const struct history_store *s)
{
	return s->absent;
}

const char *
store_state_dir(const struct history_store *s)
{
	return s->state_dir;
}

int
history_store_open(struct history_store **out, const char *state_dir,
    struct diag *d)
{
	struct history_store *s;
	char path[PATH_MAX];
	int n;

	*out = NULL;
	n = snprintf(path, sizeof(path), "%s/state.db", state_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0, "path too long");
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->state_dir = strdup(state_dir)) == NULL) {
		free(s);
		return RG_ENOMEM;
	}
	s->own = 1;
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		/* nothing released yet, or no gateway state on this host */
		s->absent = access(state_dir, F_OK) != 0 && errno == ENOENT;
		*out = s;
		return 0;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		n = diag_set(d, RG_EDB, path, 0, 0, "%s", s->db ?
		    sqlite3_errmsg(s->db) : "cannot open");
		history_store_close(s);
		return n;
	}
	sqlite3_busy_timeout(s->db, 10000);
	*out = s;
	return 0;
}

int
history_store_wrap(struct history_store **out, void *sqlite_db,
    const char *state_dir)
{
	struct history_store *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->state_dir = strdup(state_dir)) == NULL) {
		free(s);
		return RG_ENOMEM;
	}
	s->db = sqlite_db;
	*out = s;
	return 0;
}

void
history_store_close(struct history_store *s)
{
	if (s == NULL)
		return;
	if (s->own && s->db != NULL)
		sqlite3_close(s->db);
	free(s->state_dir);
	free(s);
}

/* A statement, or NULL with *missing set when the store's tables are not
 * there (a state.db from before them: an empty history). */
static sqlite3_stmt *
prep(struct history_store *s, const char *sql, int *missing)
{
	sqlite3_stmt *st = NULL;

	*missing = 0;
	if (s->db == NULL) {
		*missing = 1;
		return NULL;
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		*missing = strstr(sqlite3_errmsg(s->db), "no such table") !=
		    NULL;
		return NULL;
	}
	return st;
}

int
history_head(struct history_store *s, const char *contract, char *release,
    size_t rlen, char *path, size_t plen)
{
	sqlite3_stmt *st;
	int missing, rc;

	release[0] = path[0] = '\0';
	if ((st = prep(s, "SELECT release, path FROM history_heads WHERE"
	    " contract = ?1;", &missing)) == NULL)
		return missing ? 0 : RG_EDB;
	sqlite3_bind_text(st, 1, contract, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		const char *p = (const char *)sqlite3_column_text(st, 1);

		snprintf(release, rlen, "%s", r ? r : "");
		if (p != NULL && p[0] != '\0')
			snprintf(path, plen, "%s/%s", s->state_dir, p);
		rc = 0;
	} else
		rc = rc == SQLITE_DONE ? 0 : RG_EDB;
	sqlite3_finalize(st);
	return rc;
}

void
earlier_tables_free(struct earlier_table *e, size_t n)
{
	size_t i;

	for (i = 0; e != NULL && i < n; i++)
		release_trace_free(e[i].t);
	free(e);
}

int
store_tables_for(struct history_store *s, const char *organisation,
    struct earlier_table **out, size_t *n)
{
	struct earlier_table *e = NULL;
	size_t cap = 0;
	sqlite3_stmt *st;
	int missing, rc;

	*out = NULL;
	*n = 0;
	if ((st = prep(s, "SELECT release, cells FROM released_tables WHERE"
	    " organisation = ?1 ORDER BY release, file;", &missing)) == NULL)
		return missing ? 0 : RG_EDB;
	sqlite3_bind_text(st, 1, organisation, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *rel = (const char *)sqlite3_column_text(st, 0);
		const void *blob = sqlite3_column_blob(st, 1);
		int len = sqlite3_column_bytes(st, 1);

		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct earlier_table *ne = realloc(e, ncap * sizeof(*e));

			if (ne == NULL) {
				rc = RG_ENOMEM;
				goto out;
			}
			e = ne;
			cap = ncap;
		}
		memset(&e[*n], 0, sizeof(e[*n]));
		snprintf(e[*n].release, sizeof(e[*n].release), "%s",
		    rel ? rel : "");
		if (blob == NULL || trace_decode(&e[*n].t, blob, (size_t)len) !=
		    0) {
			rc = RG_EPARSE;
			goto out;
		}
		(*n)++;
	}
	rc = rc == SQLITE_DONE ? 0 : RG_EDB;
out:
	sqlite3_finalize(st);
	if (rc != 0) {
		earlier_tables_free(e, *n);
		*n = 0;
		return rc;
	}
	*out = e;
	return 0;
}

int
history_record(struct history_store *s, const struct contract *c,
    const char *dataset, const char *release, const char *hist,
    struct release_trace *const *t, size_t n)
{
	sqlite3_stmt *st;
	size_t i, sl = strlen(s->state_dir);
	int missing, rc = 0;

	if (hist != NULL) {
		/* kept relative to the state directory */
		const char *rel = strncmp(hist, s->state_dir, sl) == 0 &&
		    hist[sl] == '/' ? hist + sl + 1 : hist;

		if ((st = prep(s, "INSERT INTO history_heads(contract, release,"
		    " path) VALUES(?1, ?2, ?3) ON CONFLICT(contract)"
		    " DO UPDATE SET release = ?2, path = ?3;", &missing)) ==
		    NULL)
			return RG_EDB;
		sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, release, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, rel, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : RG_EDB;
		sqlite3_finalize(st);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < n; i++) {
		struct buf b;

		if (!t[i]->table || t[i]->table_full)
			continue;
		buf_init(&b, (size_t)1 << 30);
		if ((rc = trace_encode(t[i], &b)) != 0) {
			buf_free(&b);
			return rc;
		}
		if ((st = prep(s, "INSERT OR REPLACE INTO released_tables("
		    "release, file, organisation, contract, dataset, cells)"
		    " VALUES(?1, ?2, ?3, ?4, ?5, ?6);", &missing)) == NULL) {
			buf_free(&b);
			return RG_EDB;
		}
		sqlite3_bind_text(st, 1, release, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		sqlite3_bind_text(st, 3, c->organisation, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, c->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, dataset, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 6, b.data, (int)b.len, SQLITE_TRANSIENT);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : RG_EDB;
		sqlite3_finalize(st);
		buf_free(&b);
		if (rc != 0)
			return rc;
	}
	return 0;
}
