/*
 * Release packages, the tar+zstd part (libarchive).
 *
 * A package is a zstd stream of a tar archive (pax, restricted). It is
 * made in two pieces so that the data is read only once, during the check
 * pass, and only signing and encryption remain after approval:
 *
 *   head  = one zstd frame: RELEASE/manifest.json and RELEASE/SHA256SUMS,
 *           without the tar end-of-archive blocks (made at approval);
 *   stage = zstd frames: RELEASE/data/FILE.csv entries and the tar
 *           end-of-archive blocks (made while checking).
 *
 * Concatenated zstd frames decompress as one stream, so head + stage is a
 * single valid .tar.zst: manifest.json, SHA256SUMS, data/..., end.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "release/internal.h"

struct stage {
	struct archive *a;
	int	fd;
	int	failed;
	int	discard;	/* aborting: drop everything written */
	uint64_t written, kicked;	/* writeback started up to kicked */
	char	path[1024];
	char	err[256];
};

static int
stage_fail(struct stage *s, struct diag *d, const char *what)
{
	s->failed = 1;
	return diag_set(d, RG_EIO, s->path, 0, 0, "%s: %s", what,
	    s->a ? archive_error_string(s->a) ? archive_error_string(s->a) :
	    "libarchive error" : "libarchive error");
}

static la_ssize_t
fd_write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct stage *s = ctx;
	const unsigned char *p = buf;
	size_t left = len;

	if (s->discard)
		return (la_ssize_t)len;
	while (left > 0) {
		ssize_t n = write(s->fd, p, left);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			archive_set_error(a, errno, "write: %s",
			    strerror(errno));
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	s->written += len;
	worker_writeback(s->fd, s->written, &s->kicked);
	return (la_ssize_t)len;
}

/* Configure a tar writer with a zstd filter at level 1 (threads on 2+
 * cores: compression runs beside the check pass). */
static int
tar_zstd_setup(struct archive *a, int threads)
{
	char t[16];

	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "zstd", "compression-level",
	    "1") != ARCHIVE_OK)
		return -1;
	if (threads > 0) {
		snprintf(t, sizeof(t), "%d", threads);
		/* Optional: older libzstd builds lack multithreading. */
		(void)archive_write_set_filter_option(a, "zstd", "threads", t);
	}
	return 0;
}

/* Create the staging file at path (0600, truncated). */
int
stage_open(struct stage **out, const char *path, int threads,
    struct diag *d)
{
	struct stage *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return RG_ENOMEM;
	rg_strlcpy(s->path, path, sizeof(s->path));
	s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (s->fd == -1) {
		diag_set(d, RG_EIO, path, 0, 0, "open: %s", strerror(errno));
		free(s);
		return RG_EIO;
	}
	if ((s->a = archive_write_new()) == NULL ||
	    tar_zstd_setup(s->a, threads) != 0 ||
	    archive_write_set_bytes_per_block(s->a, 64 * 1024) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(s->a, 1) != ARCHIVE_OK ||
	    archive_write_open2(s->a, s, NULL, fd_write_cb, NULL, NULL) !=
	    ARCHIVE_OK) {
		int rc = stage_fail(s, d, "libarchive");

		stage_abort(s);
		return rc;
	}
	*out = s;
	return RG_OK;
}

static struct archive_entry *
file_entry(const char *name, int64_t size, time_t mtime)
{
	struct archive_entry *e = archive_entry_new();

	if (e == NULL)
		return NULL;
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, mtime, 0);
	archive_entry_set_uname(e, "relgate");
	archive_entry_set_gname(e, "relgate");
	return e;
}

/* Start a regular-file entry of exactly size bytes. */
int
stage_entry_begin(struct stage *s, const char *name, int64_t size,
    time_t mtime, struct diag *d)
{
	struct archive_entry *e;
	int r;

	if (s->failed)
		return RG_EIO;
	if ((e = file_entry(name, size, mtime)) == NULL)
		return RG_ENOMEM;
	r = archive_write_header(s->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return stage_fail(s, d, "tar header");
	return RG_OK;
}

/* Append entry data. */
int
stage_entry_write(struct stage *s, const void *p, size_t n, struct diag *d)
{
	const unsigned char *c = p;

	if (s->failed)
		return RG_EIO;
	while (n > 0) {
		la_ssize_t w = archive_write_data(s->a, c, n);

		if (w <= 0)
			return stage_fail(s, d, "tar data");
		c += w;
		n -= (size_t)w;
	}
	return RG_OK;
}

/* Finish the current entry (libarchive pads it). */
int
stage_entry_end(struct stage *s, struct diag *d)
{
	if (s->failed)
		return RG_EIO;
	if (archive_write_finish_entry(s->a) != ARCHIVE_OK)
		return stage_fail(s, d, "tar entry");
	return RG_OK;
}

/* Write the end of the archive, flush, fsync and close. The stage is freed
 * whatever the outcome. */
int
stage_close(struct stage *s, struct diag *d)
{
	int rc = RG_OK;

	if (s == NULL)
		return RG_EINVAL;
	if (!s->failed && archive_write_close(s->a) != ARCHIVE_OK)
		rc = stage_fail(s, d, "tar close");
	else if (s->failed)
		rc = RG_EIO;
	archive_write_free(s->a);
	s->a = NULL;
	if (rc == RG_OK && fsync(s->fd) != 0)
		rc = diag_set(d, RG_EIO, s->path, 0, 0, "fsync: %s",
		    strerror(errno));
	if (close(s->fd) != 0 && rc == RG_OK)
		rc = diag_set(d, RG_EIO, s->path, 0, 0, "close: %s",
		    strerror(errno));
	free(s);
	return rc;
}

/* Give up: free without finishing, remove the staging file. NULL-safe. */
void
stage_abort(struct stage *s)
{
	if (s == NULL)
		return;
	if (s->a != NULL) {
		/* Let libarchive close (it frees its filters only then) into
		 * a callback that drops everything. */
		s->discard = 1;
		(void)archive_write_close(s->a);
		archive_write_free(s->a);
	}
	if (s->fd != -1)
		close(s->fd);
	unlink(s->path);
	free(s);
}

/* ---- the head frame --------------------------------------------------- */

struct membuf_ctx {
	struct buf *b;
	int	discard;	/* drop what libarchive writes from now on */
};

static la_ssize_t
mem_write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct membuf_ctx *m = ctx;

	if (m->discard)
		return (la_ssize_t)len;
	if (buf_append(m->b, buf, len) != 0) {
		archive_set_error(a, ENOMEM, "package head too large");
		return -1;
	}
	return (la_ssize_t)len;
}

/* Make the tar bytes of the head entries (no end-of-archive) in tarb. */
static int
head_tar(struct buf *tarb, const struct package_file *files, size_t n,
    time_t mtime, struct diag *d)
{
	struct membuf_ctx m = { tarb, 0 };
	struct archive *a;
	size_t i;
	int rc = RG_OK;

	if ((a = archive_write_new()) == NULL)
		return RG_ENOMEM;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, &m, NULL, mem_write_cb, NULL, NULL) !=
	    ARCHIVE_OK) {
		rc = diag_set(d, RG_EIO, "package", 0, 0, "libarchive: %s",
		    archive_error_string(a) ? archive_error_string(a) : "?");
		goto out;
	}
	for (i = 0; i < n && rc == RG_OK; i++) {
		struct archive_entry *e = file_entry(files[i].name,
		    (int64_t)files[i].len, mtime);

		if (e == NULL) {
			rc = RG_ENOMEM;
			break;
		}
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    (files[i].len > 0 && archive_write_data(a, files[i].data,
		    files[i].len) != (la_ssize_t)files[i].len) ||
		    archive_write_finish_entry(a) != ARCHIVE_OK)
			rc = diag_set(d, RG_EIO, "package", 0, 0,
			    "libarchive: %s", archive_error_string(a) ?
			    archive_error_string(a) : "?");
		archive_entry_free(e);
	}
out:
	/* The end-of-archive blocks belong to the stage, not the head. */
	m.discard = 1;
	archive_write_free(a);
	return rc;
}

/* The head frame: files as tar entries, zstd-compressed, into out. */
int
package_head(struct buf *out, const struct package_file *files, size_t n,
    time_t mtime, struct diag *d)
{
	struct membuf_ctx m = { out, 0 };
	struct archive_entry *e = NULL;
	struct archive *a = NULL;
	struct buf tarb;
	int rc;

	buf_init(&tarb, PACKAGE_HEAD_MAX);
	if ((rc = head_tar(&tarb, files, n, mtime, d)) != RG_OK)
		goto out;
	/* The raw format writes the one entry's bytes as they are. */
	if ((a = archive_write_new()) == NULL || (e = archive_entry_new()) ==
	    NULL) {
		rc = RG_ENOMEM;
		goto out;
	}
	archive_entry_set_pathname(e, "head");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (int64_t)tarb.len);
	if (archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "zstd", "compression-level",
	    "1") != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, &m, NULL, mem_write_cb, NULL, NULL) !=
	    ARCHIVE_OK || archive_write_header(a, e) != ARCHIVE_OK ||
	    (tarb.len > 0 && archive_write_data(a, tarb.data, tarb.len) !=
	    (la_ssize_t)tarb.len) || archive_write_close(a) != ARCHIVE_OK)
		rc = diag_set(d, RG_EIO, "package", 0, 0, "libarchive: %s",
		    archive_error_string(a) ? archive_error_string(a) : "?");
out:
	archive_entry_free(e);
	if (a != NULL)
		archive_write_free(a);
	buf_free(&tarb);
	return rc;
}
