/*
 * audit/store_sqlite.c — the SQLite backend of the audit storage interface:
 * STATE_DIR/audit/audit.db in WAL mode with synchronous=FULL, so a COMMIT
 * returns only after the WAL is fsynced. Appends run under BEGIN IMMEDIATE
 * (the database write lock), which is what keeps one gap-free chain when
 * several processes write directly.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit/audit_int.h"

#define COLS "seq,time,type,outcome,user,role,source,contract,request," \
	"\"release\",path,bytes,sha256,\"rows\",detail,prev,hash"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS records("
    " seq INTEGER PRIMARY KEY, time TEXT NOT NULL, type TEXT NOT NULL,"
    " outcome TEXT NOT NULL, user TEXT, role TEXT, source TEXT,"
    " contract TEXT, request TEXT, \"release\" TEXT, path TEXT,"
    " bytes INTEGER, sha256 TEXT, \"rows\" INTEGER, detail TEXT,"
    " prev TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS records_time ON records(time);"
    "CREATE TABLE IF NOT EXISTS checkpoints("
    " seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, sig TEXT NOT NULL);";

struct sqlite_store {
	struct audit_store base;
	sqlite3	*db;
	sqlite3_stmt *ins;
	sqlite3_stmt *last;
	int	readonly;
};

static int
db_err(struct sqlite_store *s, struct diag *d, const char *what)
{
	return diag_set(d, RG_EDB, "audit.db", 0, 0, "%s: %s", what,
	    s->db ? sqlite3_errmsg(s->db) : "no database");
}

/* Wait for the write lock in short steps: the default handler sleeps up to
 * 100 ms at a time, which starves writers that queue behind each other. */
static int
busy_wait(void *arg, int count)
{
	struct timespec ts = { 0, 200000 };

	(void)arg;
	if (count > 150000)	/* about 30 s */
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

/*
 * sqlite3_exec() for the set-up statements, again while SQLITE_BUSY: when
 * several processes open a new log at once, the switch to WAL and the
 * schema can meet a lock SQLite does not wait for (it would deadlock), and
 * it answers at once whatever the busy handler. Bounded like busy_wait().
 */
static int
exec_setup(sqlite3 *db, const char *sql)
{
	struct timespec ts = { 0, 2000000 };
	int rc, i;

	for (i = 0; ; i++) {
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY || i >= 15000)
			return rc;
		nanosleep(&ts, NULL);
	}
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void
bind_num(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

/* Fill r from the current row. With copy the strings are duplicated (the
 * record is then the caller's); without, they point into SQLite's row and
 * are valid until the next step. */
static int
row_to_record(sqlite3_stmt *st, struct audit_record *r, int copy)
{
	char **f[] = { &r->type, &r->outcome, &r->user, &r->role, &r->source,
	    &r->contract, &r->request, &r->release, &r->path };
	int fi[] = { 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	const char *t;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->seq = (uint64_t)sqlite3_column_int64(st, 0);
	t = (const char *)sqlite3_column_text(st, 1);
	rg_strlcpy(r->time, t ? t : "", sizeof(r->time));
	for (i = 0; i < RG_ARRAY_LEN(f); i++) {
		t = (const char *)sqlite3_column_text(st, fi[i]);
		if (t == NULL)
			*f[i] = NULL;
		else if (!copy)
			*f[i] = (char *)(uintptr_t)t;
		else if ((*f[i] = strdup(t)) == NULL)
			goto nomem;
	}
	r->bytes = sqlite3_column_type(st, 11) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 11);
	t = (const char *)sqlite3_column_text(st, 12);
	if (t != NULL && copy && (t = strdup(t)) == NULL)
		goto nomem;
	r->sha256 = (char *)(uintptr_t)t;
	r->rows = sqlite3_column_type(st, 13) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 13);
	t = (const char *)sqlite3_column_text(st, 14);
	if (t != NULL && copy && (t = strdup(t)) == NULL)
		goto nomem;
	r->detail = (char *)(uintptr_t)t;
	t = (const char *)sqlite3_column_text(st, 15);
	rg_strlcpy(r->prev, t ? t : "", sizeof(r->prev));
	t = (const char *)sqlite3_column_text(st, 16);
	rg_strlcpy(r->hash, t ? t : "", sizeof(r->hash));
	return RG_OK;
nomem:
	audit_record_clear(r);
	return RG_ENOMEM;
}

static int
sq_last(struct audit_store *base, uint64_t *seq,
    char hash[AUDIT_HASH_HEX + 1], struct diag *d)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	int rc;

	sqlite3_reset(s->last);
	rc = sqlite3_step(s->last);
	if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(s->last, 1);

		*seq = (uint64_t)sqlite3_column_int64(s->last, 0);
		rg_strlcpy(hash, h ? h : "", AUDIT_HASH_HEX + 1);
	} else if (rc == SQLITE_DONE) {
		*seq = 0;
		rg_strlcpy(hash, AUDIT_GENESIS, AUDIT_HASH_HEX + 1);
	} else {
		rc = db_err(s, d, "read last record");
		sqlite3_reset(s->last);
		return rc;
	}
	sqlite3_reset(s->last);
	return RG_OK;
}

static int
sq_append(struct audit_store *base, struct audit_record *recs, size_t n,
    struct diag *d)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	char hash[AUDIT_HASH_HEX + 1];
	uint64_t seq;
	size_t i;
	int rc;

	if (s->readonly)
		return diag_set(d, RG_EPERM, "audit.db", 0, 0, "read-only");
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return db_err(s, d, "begin");
	if ((rc = sq_last(base, &seq, hash, d)) != 0)
		goto fail;
	if ((rc = audit_chain_fill(recs, n, seq, hash)) != 0) {
		diag_set(d, rc, "audit.db", 0, 0, "hash record");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct audit_record *r = &recs[i];
		sqlite3_stmt *st = s->ins;

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)r->seq);
		bind_text(st, 2, r->time);
		bind_text(st, 3, r->type);
		bind_text(st, 4, r->outcome);
		bind_text(st, 5, r->user);
		bind_text(st, 6, r->role);
		bind_text(st, 7, r->source);
		bind_text(st, 8, r->contract);
		bind_text(st, 9, r->request);
		bind_text(st, 10, r->release);
		bind_text(st, 11, r->path);
		bind_num(st, 12, r->bytes);
		bind_text(st, 13, r->sha256);
		bind_num(st, 14, r->rows);
		bind_text(st, 15, r->detail);
		bind_text(st, 16, r->prev);
		bind_text(st, 17, r->hash);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = db_err(s, d, "insert");
			sqlite3_reset(st);
			goto fail;
		}
	}
	sqlite3_reset(s->ins);
	sqlite3_clear_bindings(s->ins);
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_err(s, d, "commit");
		goto fail;
	}
	return RG_OK;
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0; i < n; i++)
		recs[i].seq = 0;
	return rc;
}

static int
sq_get(struct audit_store *base, uint64_t seq, struct audit_record *r,
    struct diag *d)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT " COLS " FROM records "
	    "WHERE seq = ?", -1, &st, NULL) != SQLITE_OK)
		return db_err(s, d, "prepare");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = row_to_record(st, r, 1);
	else if (rc == SQLITE_DONE)
		rc = diag_set(d, RG_ENOENT, "", 0, 0, "no record %llu",
		    (unsigned long long)seq);
	else
		rc = db_err(s, d, "read");
	sqlite3_finalize(st);
	return rc;
}

static int
sq_query(struct audit_store *base, const struct audit_filter *f,
    audit_record_cb cb, void *ctx, struct diag *d)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	char sql[1024], until[64];
	sqlite3_stmt *st = NULL;
	struct audit_record r;
	int rc, i = 0, ret = 0;

	snprintf(sql, sizeof(sql), "SELECT " COLS " FROM records WHERE "
	    "seq > ?1%s%s%s%s%s%s ORDER BY seq%s",
	    f && f->since ? " AND time >= ?2" : "",
	    f && f->until ? (strlen(f->until) == 10 ? " AND time <= ?3" :
	    " AND time < ?3") : "",
	    f && f->user ? " AND user = ?4" : "",
	    f && f->contract ? " AND contract = ?5" : "",
	    f && f->type ? " AND type = ?6" : "",
	    f && f->outcome ? " AND outcome = ?7" : "",
	    f && f->limit ? " LIMIT ?8" : "");
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, d, "prepare query");
	sqlite3_bind_int64(st, 1, f ? (sqlite3_int64)f->after_seq : 0);
	if (f) {
		bind_text(st, 2, f->since);
		if (f->until) {
			/* A date is inclusive: compare with its last instant. */
			snprintf(until, sizeof(until), "%s%s", f->until,
			    strlen(f->until) == 10 ? "T99" : "");
			bind_text(st, 3, until);
		}
		bind_text(st, 4, f->user);
		bind_text(st, 5, f->contract);
		bind_text(st, 6, f->type);
		bind_text(st, 7, f->outcome);
		if (f->limit)
			sqlite3_bind_int64(st, 8, (sqlite3_int64)f->limit);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_to_record(st, &r, 0);
		if ((ret = cb(&r, ctx)) != 0)
			break;
		i++;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_err(s, d, "query");
	sqlite3_finalize(st);
	return ret;
}

static int
sq_sig_put(struct audit_store *base, uint64_t seq, const char *hash,
    const char *sig, struct diag *d)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = NULL;
	int rc = RG_OK;

	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO checkpoints"
	    "(seq, hash, sig) VALUES (?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return db_err(s, d, "prepare");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	bind_text(st, 2, hash);
	bind_text(st, 3, sig);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, d, "store checkpoint");
	sqlite3_finalize(st);
	return rc;
}

static int
sq_sig_scan(struct audit_store *base,
    int (*cb)(uint64_t, const char *, const char *, void *), void *ctx,
    struct diag *d)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT seq, hash, sig FROM checkpoints"
	    " ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return db_err(s, d, "prepare");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);
		const char *g = (const char *)sqlite3_column_text(st, 2);

		ret = cb((uint64_t)sqlite3_column_int64(st, 0), h ? h : "",
		    g ? g : "", ctx);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_err(s, d, "read checkpoints");
	sqlite3_finalize(st);
	return ret;
}

static void
sq_close(struct audit_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	if (s == NULL)
		return;
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->last);
	sqlite3_close(s->db);
	free(s);
}

static const struct audit_store_ops sqlite_ops = {
	"sqlite", sq_append, sq_last, sq_get, sq_query, sq_sig_put,
	sq_sig_scan, sq_close
};

int
audit_store_sqlite_open(struct audit_store **out, const char *state_dir,
    int create, int readonly, struct diag *d)
{
	struct sqlite_store *s;
	char dir[4096], path[4096];
	int fd, flags;

	*out = NULL;
	if (audit_path(dir, sizeof(dir), state_dir, NULL) != 0 ||
	    audit_path(path, sizeof(path), state_dir, AUDIT_DB_NAME) != 0)
		return diag_set(d, RG_EINVAL, state_dir, 0, 0,
		    "state directory path too long");
	if (create) {
		if (dir_make(dir, 0700) != 0)
			return diag_set(d, RG_EIO, dir, 0, 0, "mkdir: %s",
			    strerror(errno));
		/* Made owner-only before SQLite opens it: the -wal and -shm
		 * files take the database file's mode. Only when it does not
		 * exist yet: closing any descriptor of the file drops every
		 * POSIX lock this process holds on it, including those of an
		 * open SQLite connection (the writer's signer thread opens a
		 * second one), and without them another process's close may
		 * checkpoint and delete the WAL under the writer. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd == -1 && errno != EEXIST)
			return diag_set(d, RG_EIO, path, 0, 0, "open: %s",
			    strerror(errno));
		if (fd != -1)
			close(fd);
	} else if (access(path, F_OK) != 0) {
		/* access(), not open(): see above. */
		return diag_set(d, RG_ENOENT, path, 0, 0,
		    "no audit log in this state directory");
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return RG_ENOMEM;
	s->base.ops = &sqlite_ops;
	s->readonly = readonly;
	flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
	    SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK)
		goto err;
	sqlite3_busy_handler(s->db, busy_wait, NULL);
	if (!readonly) {
		if (exec_setup(s->db, "PRAGMA journal_mode=WAL") !=
		    SQLITE_OK || exec_setup(s->db, schema) != SQLITE_OK)
			goto err;
	}
	if (sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto err;
	if (sqlite3_prepare_v2(s->db, "SELECT seq, hash FROM records ORDER BY "
	    "seq DESC LIMIT 1", -1, &s->last, NULL) != SQLITE_OK)
		goto err;
	if (!readonly && sqlite3_prepare_v2(s->db, "INSERT INTO records(" COLS
	    ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &s->ins,
	    NULL) != SQLITE_OK)
		goto err;
	*out = &s->base;
	return RG_OK;
err:
	db_err(s, d, "open audit database");
	sq_close(&s->base);
	return RG_EDB;
}
