/*
 * audit/export.c — the officers' read-only view, STATE_DIR/audit-export/:
 * YYYY-MM-DD.jsonl (the day's records, one JSON object a line, as
 * `relgate audit export --day` prints them) and verify.txt (the latest
 * verification). The SFTP layer serves the folder as /audit/.
 *
 * Day files are kept current by appending: STATE_DIR/audit/export.pos
 * remembers the last exported seq, its day and that day file's size. A
 * sync first cuts the day file back to that size (dropping whatever a
 * crash left after it), then appends the new lines and fsyncs, then
 * rewrites export.pos. A day the position does not know is rewritten whole
 * through a temporary file and rename.
 *
 * With run_as, relgated gives the folder to the sessions' user and group,
 * and files are 0640 in that group: the officer's session (which must not
 * write them) reads them as group. Otherwise (the folder's group is the
 * writer's own) they are owner-only, 0600.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_int.h"

#define EXPORT_DIR	"audit-export"
#define CHUNK		(256 * 1024)

struct day_writer {
	int	fd;
	char	day[11];
	uint64_t upto;		/* 0: no bound */
	struct buf b;
	int	err;
};

static int
export_dir(char *out, size_t len, const char *state_dir)
{
	int n = snprintf(out, len, "%s/" EXPORT_DIR, state_dir);

	if (n < 0 || (size_t)n >= len)
		return RG_EINVAL;
	return dir_make(out, 0700) == 0 ? RG_OK : RG_EIO;
}

/* New files: 0640 in the export folder's group when that is another
 * group (run_as), else 0600 (see above). */
static int
export_perms(int fd, const char *dir)
{
	struct stat st;
	int shared;

	shared = stat(dir, &st) == 0 && st.st_gid != getegid();
	if (shared && fchown(fd, (uid_t)-1, st.st_gid) != 0)
		return RG_EIO;
	if (fchmod(fd, shared ? 0640 : 0600) != 0)
		return RG_EIO;
	return RG_OK;
}

/* Write dir/name durably: temporary file, fsync, rename, fsync dir. */
static int
export_write(const char *dir, const char *name, const void *data,
    size_t len, struct diag *d)
{
	char path[4200], tmp[4300];
	const unsigned char *p = data;
	int fd, rc = RG_OK;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", dir, name,
	    (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1)
		return diag_set(d, RG_EIO, tmp, 0, 0, "open: %s",
		    strerror(errno));
	if (export_perms(fd, dir) != 0)
		rc = RG_EIO;
	while (rc == 0 && len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = RG_EIO;
		else {
			p += n;
			len -= (size_t)n;
		}
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = RG_EIO;
	if (close(fd) != 0)
		rc = RG_EIO;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = RG_EIO;
	if (rc != 0) {
		diag_set(d, rc, path, 0, 0, "write: %s", strerror(errno));
		unlink(tmp);
		return rc;
	}
	return dir_fsync(dir) == 0 ? RG_OK : RG_EIO;
}

static int
day_valid(const char *day)
{
	long days;

	return day != NULL && strlen(day) == 10 && date_parse(day, &days) == 0;
}

static int
flush_chunk(struct day_writer *w)
{
	size_t off = 0;

	while (off < w->b.len) {
		ssize_t n = write(w->fd, w->b.data + off, w->b.len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return RG_EIO;
		off += (size_t)n;
	}
	buf_reset(&w->b);
	return RG_OK;
}

static int
on_day_record(const struct audit_record *r, void *ctx)
{
	struct day_writer *w = ctx;

	if (w->upto && r->seq > w->upto)
		return 1;
	if (strncmp(r->time, w->day, 10) != 0)
		return 0;
	if ((w->err = audit_record_json(r, &w->b)) != 0 ||
	    (w->err = buf_append(&w->b, "\n", 1)) != 0)
		return 1;
	if (w->b.len >= CHUNK && (w->err = flush_chunk(w)) != 0)
		return 1;
	return 0;
}

/* Write the records of day with after < seq <= upto (0: any) into fd. */
static int
write_day(struct audit *a, int fd, const char *day, uint64_t after,
    uint64_t upto, struct diag *d)
{
	struct audit_filter f;
	struct day_writer w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.fd = fd;
	w.upto = upto;
	rg_strlcpy(w.day, day, sizeof(w.day));
	buf_init(&w.b, CHUNK + 2 * AUDIT_MSG_MAX);
	memset(&f, 0, sizeof(f));
	f.since = day;
	f.until = day;
	f.after_seq = after;
	rc = audit_query(a, &f, on_day_record, &w, d);
	if (rc == 1)
		rc = w.err;
	if (rc == 0)
		rc = flush_chunk(&w);
	buf_free(&w.b);
	return rc;
}

static int
rewrite_day(struct audit *a, const char *dir, const char *day, uint64_t upto,
    off_t *size, struct diag *d)
{
	char path[4200], tmp[4200];
	struct stat st;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, day);
	snprintf(tmp, sizeof(tmp), "%s/.%s.jsonl.tmp.%ld", dir, day,
	    (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1)
		return diag_set(d, RG_EIO, tmp, 0, 0, "open: %s",
		    strerror(errno));
	rc = export_perms(fd, dir);
	if (rc == 0)
		rc = write_day(a, fd, day, 0, upto, d);
	if (rc == 0 && (fsync(fd) != 0 || fstat(fd, &st) != 0))
		rc = diag_set(d, RG_EIO, tmp, 0, 0, "fsync: %s",
		    strerror(errno));
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = diag_set(d, RG_EIO, path, 0, 0, "rename: %s",
		    strerror(errno));
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	if (size)
		*size = st.st_size;
	return dir_fsync(dir) == 0 ? RG_OK : RG_EIO;
}

int
audit_export_day(const char *state_dir, const char *day, struct diag *d)
{
	struct audit *a = NULL;
	char dir[4096];
	int rc;

	if (!day_valid(day))
		return diag_set(d, RG_EINVAL, "", 0, 0,
		    "day must be YYYY-MM-DD");
	if (export_dir(dir, sizeof(dir), state_dir) != 0)
		return diag_set(d, RG_EIO, dir, 0, 0, "mkdir: %s",
		    strerror(errno));
	if ((rc = audit_open_readonly(&a, state_dir, d)) != 0)
		return rc;
	rc = rewrite_day(a, dir, day, 0, NULL, d);
	audit_close(a);
	return rc;
}

/* ---- incremental sync --------------------------------------------------- */

struct pos {
	uint64_t seq;
	char	day[11];
	long long size;
};

static int
pos_read(const char *state_dir, struct pos *p)
{
	char path[4096], *text = NULL;
	size_t len;

	memset(p, 0, sizeof(*p));
	if (audit_path(path, sizeof(path), state_dir, "export.pos") != 0)
		return RG_EINVAL;
	if (file_read_small(&text, &len, path, 256, NULL) != 0)
		return RG_OK;
	if (sscanf(text, "%llu %10s %lld", (unsigned long long *)&p->seq,
	    p->day, &p->size) != 3 || !day_valid(p->day) || p->size < 0)
		memset(p, 0, sizeof(*p));
	free(text);
	return RG_OK;
}

static int
pos_write(const char *state_dir, const struct pos *p, struct diag *d)
{
	char path[4096], text[128];
	int n;

	if (audit_path(path, sizeof(path), state_dir, "export.pos") != 0)
		return RG_EINVAL;
	n = snprintf(text, sizeof(text), "%llu %s %lld\n",
	    (unsigned long long)p->seq, p->day, p->size);
	return file_write_atomic(path, text, (size_t)n, 0600, d);
}

struct days {
	char	day[64][11];
	size_t	n;
	uint64_t last;
	char	last_day[11];
};

static int
on_new(const struct audit_record *r, void *ctx)
{
	struct days *ds = ctx;

	if (ds->n == 0 || strncmp(ds->day[ds->n - 1], r->time, 10) != 0) {
		if (ds->n == RG_ARRAY_LEN(ds->day))
			return 1;	/* the rest next time */
		rg_strlcpy(ds->day[ds->n], r->time, 11);
		ds->n++;
	}
	ds->last = r->seq;
	rg_strlcpy(ds->last_day, r->time, sizeof(ds->last_day));
	return 0;
}

static int
append_day(struct audit *a, const char *dir, const struct pos *p,
    uint64_t upto, off_t *size, struct diag *d)
{
	char path[4200];
	struct stat st;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, p->day);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 || fstat(fd, &st) != 0 || st.st_size < p->size) {
		if (fd != -1)
			close(fd);
		return rewrite_day(a, dir, p->day, upto, size, d);
	}
	rc = RG_OK;
	if (ftruncate(fd, p->size) != 0 || lseek(fd, 0, SEEK_END) < 0)
		rc = diag_set(d, RG_EIO, path, 0, 0, "truncate: %s",
		    strerror(errno));
	if (rc == 0)
		rc = write_day(a, fd, p->day, p->seq, upto, d);
	if (rc == 0 && (fsync(fd) != 0 || fstat(fd, &st) != 0))
		rc = diag_set(d, RG_EIO, path, 0, 0, "fsync: %s",
		    strerror(errno));
	close(fd);
	if (rc == 0)
		*size = st.st_size;
	return rc;
}

int
audit_export_sync(const char *state_dir, struct diag *d)
{
	struct audit *a = NULL;
	struct audit_filter f;
	struct days *ds;
	struct pos p;
	char dir[4096];
	off_t size = 0;
	size_t i;
	int rc;

	if (export_dir(dir, sizeof(dir), state_dir) != 0)
		return diag_set(d, RG_EIO, dir, 0, 0, "mkdir: %s",
		    strerror(errno));
	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return RG_ENOMEM;
	pos_read(state_dir, &p);
	if ((rc = audit_open_readonly(&a, state_dir, d)) != 0)
		goto out;
	memset(&f, 0, sizeof(f));
	f.after_seq = p.seq;
	rc = audit_query(a, &f, on_new, ds, d);
	if (rc < 0)
		goto out;
	rc = RG_OK;
	for (i = 0; i < ds->n && rc == 0; i++) {
		if (strcmp(ds->day[i], p.day) == 0)
			rc = append_day(a, dir, &p, ds->last, &size, d);
		else
			rc = rewrite_day(a, dir, ds->day[i], ds->last, &size,
			    d);
	}
	if (rc == 0 && ds->n > 0) {
		p.seq = ds->last;
		rg_strlcpy(p.day, ds->last_day, sizeof(p.day));
		p.size = (long long)size;
		rc = pos_write(state_dir, &p, d);
	}
out:
	audit_close(a);
	free(ds);
	return rc;
}

int
audit_export_verify(const char *state_dir,
    const struct audit_verify_result *res, struct diag *d)
{
	char dir[4096];
	struct buf b;
	int rc;

	if (export_dir(dir, sizeof(dir), state_dir) != 0)
		return diag_set(d, RG_EIO, dir, 0, 0, "mkdir: %s",
		    strerror(errno));
	buf_init(&b, 4096);
	rc = audit_verify_text(res, &b);
	if (rc == 0)
		rc = export_write(dir, "verify.txt", b.data, b.len, d);
	buf_free(&b);
	return rc;
}
