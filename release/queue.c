/*
 * The release queue: STATE/queue/, one small file per notification to the
 * release worker. Entries are made durably (write a temporary file, fsync,
 * rename, fsync the folder) and handled in name order, which is time order.
 * A handler makes its result durable before the entry is removed, so a crash
 * in between repeats the entry; handlers are idempotent.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "release/release.h"

#define QUEUE_BODY_MAX	2048
#define QUEUE_LIST_CAP	100000

static const struct {
	enum queue_kind kind;
	const char *name;
} kinds[] = {
	{ QUEUE_SUBMIT, "submit" },
	{ QUEUE_WITHDRAW, "withdraw" },
	{ QUEUE_DECISION, "decision" },
	{ QUEUE_DOWNLOAD, "download" },
};

static const char *
kind_name(enum queue_kind k)
{
	size_t i;

	for (i = 0; i < RG_ARRAY_LEN(kinds); i++)
		if (kinds[i].kind == k)
			return kinds[i].name;
	return NULL;
}

static enum queue_kind
kind_parse(const char *s)
{
	size_t i;

	for (i = 0; i < RG_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].name, s) == 0)
			return kinds[i].kind;
	return 0;
}

/* Valid field value: 1..QUEUE_FIELD_MAX-1 bytes, no '/', no control
 * characters, not "." or "..". */
int
queue_field_ok(const char *s)
{
	size_t n;
	const unsigned char *p;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n >= QUEUE_FIELD_MAX)
		return 0;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* snprintf into a path buffer; RG_EINVAL when it does not fit. */
static int __attribute__((format(printf, 3, 4)))
pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? RG_EINVAL : RG_OK;
}

static int
queue_dir(char *out, size_t len, const char *state_dir)
{
	return pathf(out, len, "%s/queue", state_dir);
}

static int
write_all(int fd, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write one entry: body is "kind=...\n" plus key=value lines. */
static int
queue_put(const char *state_dir, enum queue_kind kind, const char *keys[],
    const char *vals[], size_t nf, struct diag *d)
{
	static unsigned long counter;
	char dir[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX];
	char name[QUEUE_NAME_MAX];
	struct buf body;
	struct timeval tv;
	size_t i;
	int fd = -1, rc;

	if (state_dir == NULL || queue_dir(dir, sizeof(dir), state_dir) != 0)
		return diag_set(d, RG_EINVAL, "", 0, 0, "bad state directory");
	for (i = 0; i < nf; i++)
		if (!queue_field_ok(vals[i]))
			return diag_set(d, RG_EINVAL, "", 0, 0,
			    "queue: bad %s value", keys[i]);
	if (dir_make(dir, 0700) != 0)
		return diag_set(d, RG_EIO, dir, 0, 0, "mkdir: %s",
		    strerror(errno));
	gettimeofday(&tv, NULL);
	snprintf(name, sizeof(name), "%020llu.%ld.%lu.%s",
	    (unsigned long long)tv.tv_sec * 1000000ULL +
	    (unsigned long long)tv.tv_usec, (long)getpid(), counter++,
	    kind_name(kind));
	if (pathf(tmp, sizeof(tmp), "%s/.tmp.%s", dir, name) != 0 ||
	    pathf(dst, sizeof(dst), "%s/%s", dir, name) != 0)
		return diag_set(d, RG_EINVAL, dir, 0, 0, "path too long");

	buf_init(&body, QUEUE_BODY_MAX);
	rc = buf_printf(&body, "kind=%s\n", kind_name(kind));
	for (i = 0; rc == 0 && i < nf; i++)
		rc = buf_printf(&body, "%s=%s\n", keys[i], vals[i]);
	if (rc != 0) {
		buf_free(&body);
		return diag_set(d, rc, "", 0, 0, "queue entry too large");
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		rc = diag_set(d, RG_EIO, tmp, 0, 0, "open: %s",
		    strerror(errno));
		goto out;
	}
	if (write_all(fd, body.data, body.len) != 0 || fsync(fd) != 0) {
		rc = diag_set(d, RG_EIO, tmp, 0, 0, "write: %s",
		    strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = diag_set(d, RG_EIO, tmp, 0, 0, "close: %s",
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) != 0) {
		rc = diag_set(d, RG_EIO, dst, 0, 0, "rename: %s",
		    strerror(errno));
		goto out;
	}
	if (dir_fsync(dir) != 0) {
		/* The entry is in place; only its durability is in doubt. */
		rc = diag_set(d, RG_EIO, dir, 0, 0, "fsync: %s",
		    strerror(errno));
		buf_free(&body);
		return rc;
	}
	rc = RG_OK;
out:
	if (fd != -1)
		close(fd);
	if (rc != RG_OK)
		unlink(tmp);
	buf_free(&body);
	return rc;
}

/* Queue a submission of spool/staff/USER/FOLDER. */
int
queue_submit(const char *state_dir, const char *user, const char *folder,
    struct diag *d)
{
	const char *k[] = { "user", "folder" }, *v[] = { user, folder };

	return queue_put(state_dir, QUEUE_SUBMIT, k, v, 2, d);
}

/* Queue a withdrawal of spool/staff/USER/FOLDER. */
int
queue_withdraw(const char *state_dir, const char *user, const char *folder,
    struct diag *d)
{
	const char *k[] = { "user", "folder" }, *v[] = { user, folder };

	return queue_put(state_dir, QUEUE_WITHDRAW, k, v, 2, d);
}

/* Queue an approver's decision on request_id. */
int
queue_decision(const char *state_dir, const char *request_id,
    const char *user, struct diag *d)
{
	const char *k[] = { "request", "user" }, *v[] = { request_id, user };

	return queue_put(state_dir, QUEUE_DECISION, k, v, 2, d);
}

/* Queue one complete download of a release. */
int
queue_download(const char *state_dir, const char *contract,
    const char *release, const char *user, struct diag *d)
{
	const char *k[] = { "contract", "release", "user" };
	const char *v[] = { contract, release, user };

	return queue_put(state_dir, QUEUE_DOWNLOAD, k, v, 3, d);
}

/* Parse an entry body into e; RG_EPARSE when malformed. */
static int
entry_parse(struct queue_entry *e, char *body)
{
	char *line, *save = NULL;
	int have_kind = 0;

	for (line = strtok_r(body, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		char *dst = NULL;

		if (eq == NULL)
			return RG_EPARSE;
		*eq++ = '\0';
		if (strcmp(line, "kind") == 0) {
			if ((e->kind = kind_parse(eq)) == 0)
				return RG_EPARSE;
			have_kind = 1;
			continue;
		}
		if (strcmp(line, "user") == 0)
			dst = e->user;
		else if (strcmp(line, "folder") == 0)
			dst = e->folder;
		else if (strcmp(line, "request") == 0)
			dst = e->request;
		else if (strcmp(line, "contract") == 0)
			dst = e->contract;
		else if (strcmp(line, "release") == 0)
			dst = e->release;
		else
			return RG_EPARSE;
		if (!queue_field_ok(eq))
			return RG_EPARSE;
		rg_strlcpy(dst, eq, QUEUE_FIELD_MAX);
	}
	if (!have_kind || e->user[0] == '\0')
		return RG_EPARSE;
	switch (e->kind) {
	case QUEUE_SUBMIT:
	case QUEUE_WITHDRAW:
		return e->folder[0] ? RG_OK : RG_EPARSE;
	case QUEUE_DECISION:
		return e->request[0] ? RG_OK : RG_EPARSE;
	case QUEUE_DOWNLOAD:
		return e->contract[0] && e->release[0] ? RG_OK : RG_EPARSE;
	}
	return RG_EPARSE;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct queue_entry *)a)->name,
	    ((const struct queue_entry *)b)->name);
}

/* Move a malformed entry out of the way so it is not retried forever. */
static void
entry_set_aside(const char *dir, const char *name)
{
	char bad[PATH_MAX], from[PATH_MAX], to[PATH_MAX];

	if (pathf(bad, sizeof(bad), "%s/bad", dir) != 0 ||
	    pathf(from, sizeof(from), "%s/%s", dir, name) != 0 ||
	    pathf(to, sizeof(to), "%s/%s", bad, name) != 0)
		return;
	(void)mkdir(bad, 0700);
	if (rename(from, to) != 0)
		(void)unlink(from);
	(void)dir_fsync(dir);
	log_warnx("queue: malformed entry %s set aside", name);
}

/* List the entries in name order. */
int
queue_list(struct queue_entry **out, size_t *n, const char *state_dir,
    struct diag *d)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct queue_entry *v = NULL;
	size_t nv = 0, cap = 0;
	struct dirent *de;
	DIR *dp;

	*out = NULL;
	*n = 0;
	if (queue_dir(dir, sizeof(dir), state_dir) != 0)
		return diag_set(d, RG_EINVAL, "", 0, 0, "bad state directory");
	if ((dp = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return RG_OK;
		return diag_set(d, RG_EIO, dir, 0, 0, "opendir: %s",
		    strerror(errno));
	}
	while ((de = readdir(dp)) != NULL) {
		struct queue_entry e;
		struct stat st;
		char *body = NULL;
		size_t blen;
		int rc;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "bad") == 0)
			continue;
		if (pathf(path, sizeof(path), "%s/%s", dir, de->d_name) != 0)
			continue;
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    strlen(de->d_name) >= QUEUE_NAME_MAX) {
			entry_set_aside(dir, de->d_name);
			continue;
		}
		memset(&e, 0, sizeof(e));
		rg_strlcpy(e.name, de->d_name, sizeof(e.name));
		rc = file_read_small(&body, &blen, path, QUEUE_BODY_MAX, NULL);
		if (rc == RG_ENOENT)
			continue;
		if (rc != 0 || strlen(body) != blen ||
		    entry_parse(&e, body) != 0) {
			free(body);
			entry_set_aside(dir, de->d_name);
			continue;
		}
		free(body);
		if (nv == cap) {
			struct queue_entry *nvp;

			if (cap >= QUEUE_LIST_CAP)
				break;	/* the rest waits for the next round */
			cap = cap ? cap * 2 : 16;
			nvp = realloc(v, cap * sizeof(*v));
			if (nvp == NULL) {
				free(v);
				closedir(dp);
				return RG_ENOMEM;
			}
			v = nvp;
		}
		v[nv++] = e;
	}
	closedir(dp);
	if (nv > 1)
		qsort(v, nv, sizeof(*v), name_cmp);
	*out = v;
	*n = nv;
	return RG_OK;
}

/* Remove a handled entry durably. */
int
queue_remove(const char *state_dir, const struct queue_entry *e,
    struct diag *d)
{
	char dir[PATH_MAX], path[PATH_MAX];

	if (queue_dir(dir, sizeof(dir), state_dir) != 0 ||
	    strchr(e->name, '/') != NULL || e->name[0] == '\0' ||
	    e->name[0] == '.')
		return diag_set(d, RG_EINVAL, "", 0, 0, "bad queue entry");
	if (pathf(path, sizeof(path), "%s/%s", dir, e->name) != 0)
		return diag_set(d, RG_EINVAL, "", 0, 0, "path too long");
	if (unlink(path) != 0 && errno != ENOENT)
		return diag_set(d, RG_EIO, path, 0, 0, "unlink: %s",
		    strerror(errno));
	if (dir_fsync(dir) != 0)
		return diag_set(d, RG_EIO, dir, 0, 0, "fsync: %s",
		    strerror(errno));
	return RG_OK;
}
