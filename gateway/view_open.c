/*
 * gateway/view_open.c — open a path beneath a view's real root without ever
 * following a symbolic link: openat2(2) with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, or, where the kernel lacks
 * openat2 (ENOSYS), a walk one component at a time with O_NOFOLLOW. The
 * paths given here are already normalised by view.c (no "..", no empty
 * components), but neither method relies on that: no string prefix checks.
 *
 * Also a small reader for top-level string members of the JSON files the
 * worker writes (meta.json, status.json).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "gateway/sftp_internal.h"

static int force_walk;

/* Test hook: 1 makes every open use the component walk. */
void
view_force_walk(int on)
{
	force_walk = on;
}

/* The fallback: one component at a time, each with O_NOFOLLOW. */
static int
walk_open(int rootfd, const char *rel, int flags, mode_t mode)
{
	char comp[SFTP_MAX_NAME + 1];
	const char *p = rel, *slash;
	int dfd = rootfd, fd, saved;
	size_t n;

	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > SFTP_MAX_NAME ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			fd = -1;
			errno = EXDEV;
			goto out;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (slash == NULL)
			break;
		fd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd < 0) {
			struct stat st;

			/* A symlink on the way: as openat2 says it. */
			saved = errno;
			if (saved == ENOTDIR && fstatat(dfd, comp, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				saved = ELOOP;
			if (dfd != rootfd)
				close(dfd);
			errno = saved;
			return -1;
		}
		if (dfd != rootfd)
			close(dfd);
		dfd = fd;
		p = slash + 1;
	}
	fd = openat(dfd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 && errno == ENOTDIR) {
		struct stat st;

		/* O_DIRECTORY on a symlink at the end says ENOTDIR before
		 * O_NOFOLLOW's ELOOP: a symlink, as openat2 says it. */
		if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			errno = ELOOP;
		else
			errno = ENOTDIR;
	}
out:
	saved = errno;
	if (dfd != rootfd)
		close(dfd);
	errno = saved;
	return fd;
}

/* Open rel beneath rootfd without following symlinks; fd or -1/errno. */
int
view_openat(int rootfd, const char *rel, int flags, mode_t mode)
{
#if defined(HAVE_LINUX_OPENAT2_H) && defined(SYS_openat2)
	static int no_openat2;
	struct open_how how;
	long fd;

	if (!force_walk && !no_openat2) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_CLOEXEC);
		if (flags & (O_CREAT | O_TMPFILE))
			how.mode = mode;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS;
		do
			fd = syscall(SYS_openat2, rootfd, rel, &how,
			    sizeof(how));
		while (fd < 0 && errno == EAGAIN);
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		no_openat2 = 1;
	}
#endif
	if (strcmp(rel, ".") == 0)
		return openat(rootfd, ".", flags | O_CLOEXEC, mode);
	return walk_open(rootfd, rel, flags, mode);
}

/* lstat beneath rootfd: a symlink at the end is reported as one. */
int
view_statat(int rootfd, const char *rel, struct stat *st)
{
	int fd, rc, saved;

	if ((fd = view_openat(rootfd, rel, O_PATH | O_NOFOLLOW, 0)) < 0)
		return -1;
	rc = fstat(fd, st);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* ---- a tiny JSON reader for top-level string members ------------------ */

static size_t
json_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	return i;
}

/* Decode the string starting at s[i] == '"' into out (may be NULL);
 * returns the index after the closing quote, or 0 on malformed input. */
static size_t
json_str(const char *s, size_t len, size_t i, char *out, size_t outlen,
    int *fits)
{
	size_t o = 0;
	char c;

	*fits = 1;
	if (i >= len || s[i] != '"')
		return 0;
	for (i++; i < len; i++) {
		c = s[i];
		if (c == '"') {
			if (out != NULL)
				out[o < outlen ? o : outlen - 1] = '\0';
			return i + 1;
		}
		if ((unsigned char)c < 0x20)
			return 0;
		if (c == '\\') {
			if (++i >= len)
				return 0;
			switch (s[i]) {
			case '"': case '\\': case '/': c = s[i]; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				/* Not needed for IDs and names: refuse. */
				if (i + 4 >= len)
					return 0;
				i += 4;
				c = '?';
				*fits = 0;
				break;
			default:
				return 0;
			}
		}
		if (out != NULL) {
			if (o + 1 < outlen)
				out[o++] = c;
			else
				*fits = 0;
		}
	}
	return 0;
}

/* Skip one value at s[i]; index after it, or 0 when malformed. */
static size_t
json_skip(const char *s, size_t len, size_t i)
{
	int depth = 0, fits;

	while (i < len) {
		char c = s[i];

		if (c == '"') {
			if ((i = json_str(s, len, i, NULL, 0, &fits)) == 0)
				return 0;
			if (depth == 0)
				return i;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' ||
		    c == '\t' || c == '\r'))
			return i;
		i++;
	}
	return depth == 0 ? i : 0;
}

/* A top-level string member of a JSON object; 0 or RG_ENOENT. */
int
view_json_string(const char *s, size_t len, const char *key, char *out,
    size_t outlen)
{
	char name[64];
	size_t i;
	int fits, kfits;

	if (outlen == 0)
		return RG_EINVAL;
	i = json_ws(s, len, 0);
	if (i >= len || s[i] != '{')
		return RG_ENOENT;
	i = json_ws(s, len, i + 1);
	while (i < len && s[i] != '}') {
		if ((i = json_str(s, len, i, name, sizeof(name), &kfits)) == 0)
			return RG_ENOENT;
		i = json_ws(s, len, i);
		if (i >= len || s[i] != ':')
			return RG_ENOENT;
		i = json_ws(s, len, i + 1);
		if (kfits && strcmp(name, key) == 0) {
			if (i < len && s[i] == '"' &&
			    json_str(s, len, i, out, outlen, &fits) != 0 &&
			    fits)
				return RG_OK;
			return RG_ENOENT;
		}
		if ((i = json_skip(s, len, i)) == 0)
			return RG_ENOENT;
		i = json_ws(s, len, i);
		if (i < len && s[i] == ',')
			i = json_ws(s, len, i + 1);
	}
	return RG_ENOENT;
}
