/* Durable file writes (fsync, rename, fsync folder) and small reads. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static void dir_of(char *out, size_t len, const char *path);

int
dir_fsync(const char *dirpath)
{
	char parent[PATH_MAX];
	int fd, rc = RG_OK;

	fd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 && errno == ENOTDIR) {
		/* a file: its folder, as the header says (callers pass the
		 * file they just renamed into place) */
		dir_of(parent, sizeof(parent), dirpath);
		fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd == -1)
		return RG_EIO;
	if (fsync(fd) == -1)
		rc = RG_EIO;
	close(fd);
	return rc;
}

static void
dir_of(char *out, size_t len, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		rg_strlcpy(out, ".", len);
	else if (slash == path)
		rg_strlcpy(out, "/", len);
	else {
		size_t n = (size_t)(slash - path);
		if (n >= len)
			n = len - 1;
		memcpy(out, path, n);
		out[n] = '\0';
	}
}

int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct diag *d)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const unsigned char *p = data;
	size_t off = 0;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp))
		return diag_set(d, RG_EINVAL, path, 0, 0, "path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd == -1)
		return diag_set(d, RG_EIO, tmp, 0, 0, "open: %s",
		    strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	dir_of(dir, sizeof(dir), path);
	if (dir_fsync(dir) != 0)
		return diag_set(d, RG_EIO, dir, 0, 0, "fsync: %s",
		    strerror(errno));
	return RG_OK;
fail:
	diag_set(d, RG_EIO, path, 0, 0, "write: %s", strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return RG_EIO;
}

int
file_read_small(char **out, size_t *outlen, const char *path, size_t cap,
    struct diag *d)
{
	struct stat st;
	char *p = NULL;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1)
		return diag_set(d, errno == ENOENT ? RG_ENOENT : RG_EIO, path,
		    0, 0, "%s", strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return diag_set(d, RG_EINVAL, path, 0, 0, "not a regular file");
	}
	if ((size_t)st.st_size > cap) {
		close(fd);
		return diag_set(d, RG_ETOOBIG, path, 0, 0,
		    "file is larger than %zu bytes", cap);
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return RG_ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, p + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	p[off] = '\0';
	*out = p;
	if (outlen)
		*outlen = off;
	return RG_OK;
}

int
file_read_private(void *buf, size_t min, size_t max, size_t *len,
    const char *path, const char *what, struct diag *d)
{
	unsigned char *p = buf, extra;
	struct stat st;
	size_t off = 0;
	int fd, rc = RG_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return errno == ENOENT ? RG_ENOENT : diag_set(d, RG_EIO, path,
		    0, 0, "cannot open %s: %s", what, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return diag_set(d, RG_EINTEGRITY, path, 0, 0,
		    "%s is not a regular file", what);
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return diag_set(d, RG_EPERM, path, 0, 0, "%s is open to others "
		    "(mode %03o); it must be 0600", what,
		    (unsigned)(st.st_mode & 0777));
	}
	/* Read to the end (one byte past max at most): a file longer than
	 * max is damaged, not a secret to cut short. */
	while (off <= max) {
		ssize_t n = off < max ? read(fd, p + off, max - off) :
		    read(fd, &extra, 1);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = diag_set(d, RG_EIO, path, 0, 0, "read: %s",
			    strerror(errno));
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (rc == RG_OK && (off < min || off > max)) {
		if (min == max)
			rc = diag_set(d, RG_EINTEGRITY, path, 0, 0, "%s must "
			    "be exactly %zu bytes", what, max);
		else
			rc = diag_set(d, RG_EINTEGRITY, path, 0, 0, "%s must "
			    "be %zu to %zu bytes", what, min, max);
	}
	if (rc != RG_OK) {
		rg_wipe(buf, max);
		return rc;
	}
	if (len != NULL)
		*len = off;
	return RG_OK;
}

int
dir_make(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n;
	char *s;

	n = rg_strlcpy(tmp, path, sizeof(tmp));
	if (n >= sizeof(tmp))
		return RG_EINVAL;
	for (s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return RG_EIO;
		*s = '/';
	}
	if (mkdir(tmp, mode) == -1 && errno != EEXIST)
		return RG_EIO;
	return RG_OK;
}
