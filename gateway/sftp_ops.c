/*
 * gateway/sftp_ops.c — the SFTP v3 operations. Each asks the view what a
 * path is and whether the intent is allowed there, then acts through file
 * descriptors opened beneath the view's roots (never following symlinks,
 * never opening anything but regular files and folders). READ replies are
 * built in place in the output buffer; WRITE data goes from the packet
 * straight to pwrite().
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "contracts/contracts.h"
#include "gateway/gateway.h"
#include "gateway/sftp_internal.h"

#define MSG_MAX		512
#define WRITEBACK_EVERY	(8u << 20)	/* bytes of upload between kicks */

#define BAD(s, out, id) \
	sftp_reply_status((s), (out), (id), SSH_FX_BAD_MESSAGE, \
	    "Malformed request")
#define BADHANDLE(s, out, id) \
	sftp_reply_status((s), (out), (id), SSH_FX_FAILURE, "Invalid handle")

/* Read a path argument and resolve it for intent (*bad: malformed). */
int
sftp_get_resolved(struct sftp_server *s, struct sftp_rd *r, enum vintent intent,
    struct vres *res, char *msg, size_t len, int *bad)
{
	const unsigned char *p;
	size_t n;

	*bad = 0;
	if (sftp_get_string(r, &p, &n) != 0) {
		*bad = 1;
		return SSH_FX_BAD_MESSAGE;
	}
	return view_resolve(s->view, p, n, intent, res, msg, len);
}

static int
open_parent(const struct vres *res, const char **leaf)
{
	return view_open_parent(res->rootfd, res->rel, leaf);
}

/* A HANDLE reply for handle index i. */
int
sftp_reply_handle(struct sftp_server *s, struct buf *out, uint32_t id, int i)
{
	unsigned char h[8];
	size_t mark;
	int rc;

	sftp_handle_wire(s, i, h);
	if ((rc = sftp_packet_begin(out, SSH_FXP_HANDLE, &mark)) != 0 ||
	    (rc = sftp_put_u32(out, id)) != 0 ||
	    (rc = sftp_put_string(out, h, sizeof(h))) != 0)
		return rc;
	sftp_packet_end(out, mark);
	return RG_OK;
}

static int
reply_attrs(struct sftp_server *s, struct buf *out, uint32_t id,
    const struct stat *st)
{
	struct sftp_attrs a;
	size_t mark;
	int rc;

	sftp_attrs_from_stat(&a, st);
	if ((rc = sftp_packet_begin(out, SSH_FXP_ATTRS, &mark)) != 0 ||
	    (rc = sftp_put_u32(out, id)) != 0 ||
	    (rc = sftp_put_attrs(out, &a)) != 0)
		return rc;
	sftp_packet_end(out, mark);
	return RG_OK;
}

/* ---- OPEN / CLOSE ----------------------------------------------------- */

/*
 * OPEN: resolve for reading or writing, open beneath the view (regular
 * files only), hand out a handle.
 */
int
sftp_op_open(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "", rel[SFTP_MAX_PATH + 8];
	const unsigned char *p;
	size_t n;
	uint32_t pflags, code;
	struct sftp_attrs a;
	struct vres *res;
	struct stat st;
	struct handle *h;
	int writing, oflags, fd, i, dfd;

	if (sftp_get_string(r, &p, &n) != 0 || sftp_get_u32(r, &pflags) != 0 ||
	    sftp_get_attrs(r, &a) != 0)
		return BAD(s, out, id);
	writing = (pflags & (SSH_FXF_WRITE | SSH_FXF_APPEND | SSH_FXF_CREAT |
	    SSH_FXF_TRUNC)) != 0;
	if ((res = malloc(sizeof(*res))) == NULL)
		return RG_ENOMEM;
	code = (uint32_t)view_resolve(s->view, p, n, writing ? VI_WRITE :
	    VI_LOOKUP, res, msg, sizeof(msg));
	if (code != SSH_FX_OK) {
		int rc = sftp_reply_denied(s, out, id, code, msg, res->vpath,
		    res);

		free(res);
		return rc;
	}
	if (res->kind != VN_REAL || res->rootfd < 0) {
		free(res);
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
		    "Is a folder");
	}
	rg_strlcpy(rel, res->rel, sizeof(rel));
	oflags = O_NONBLOCK | O_NOFOLLOW | O_NOCTTY;
	if (writing) {
		oflags |= O_RDWR;
		if (pflags & SSH_FXF_CREAT)
			oflags |= O_CREAT;
		if (pflags & SSH_FXF_TRUNC)
			oflags |= O_TRUNC;
		if (pflags & SSH_FXF_EXCL)
			oflags |= O_EXCL;
		if (pflags & SSH_FXF_APPEND)
			oflags |= O_APPEND;
	} else
		oflags |= O_RDONLY;
	if (writing && res->special == VS_DECISION) {
		/* Uploaded beside the stored decision, renamed on CLOSE. */
		if ((dfd = view_openat(res->rootfd, res->name1, O_RDONLY |
		    O_DIRECTORY, 0)) >= 0) {
			/* a new decisions/ folder is durable in its parent */
			if (mkdirat(dfd, "decisions", 0700) == 0)
				(void)fsync(dfd);
			close(dfd);
		}
		snprintf(rel, sizeof(rel), "%s.new", res->rel);
		oflags = O_RDWR | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOFOLLOW;
	}
	if ((fd = view_openat(res->rootfd, rel, oflags, 0600)) < 0) {
		code = sftp_errno_status(errno, writing, msg, sizeof(msg));
		i = sftp_reply_denied(s, out, id, code, msg, res->vpath, res);
		free(res);
		return i;
	}
	/* Only regular files: a FIFO or device is never read or written. */
	memset(&st, 0, sizeof(st));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		free(res);
		return sftp_reply_status(s, out, id, S_ISDIR(st.st_mode) ?
		    SSH_FX_FAILURE : SSH_FX_NO_SUCH_FILE, S_ISDIR(st.st_mode) ?
		    "Is a folder" : "Not a regular file");
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (!writing && res->special == VS_RELEASE_GPG &&
	    sftp_audit(s->info, "download.started", "ok", res,
	    (int64_t)st.st_size, NULL, NULL) != 0) {
		close(fd);
		free(res);
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
		    "Failure: the audit log is unavailable");
	}
	if ((i = sftp_handle_new(s, H_FILE, res)) < 0) {
		close(fd);
		free(res);
		snprintf(msg, sizeof(msg), "Too many open handles (at most "
		    "%d)", SFTP_MAX_HANDLES);
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE, msg);
	}
	h = &s->h[i];
	h->fd = fd;
	h->writable = writing;
	h->readable = !writing || (pflags & SSH_FXF_READ);
	h->append = (oflags & O_APPEND) != 0;
	h->created = (oflags & O_CREAT) != 0;
	h->size_at_open = (uint64_t)st.st_size;
	return sftp_reply_handle(s, out, id, i);
}

/* Read back a small file from its start (request.yaml, decision.yaml):
 * at most cap bytes; the length or -1. */
ssize_t
sftp_read_back(int fd, char *buf, size_t cap)
{
	ssize_t n, got = 0;

	while ((size_t)got < cap) {
		n = pread(fd, buf + got, cap - (size_t)got, got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

static uint32_t
finish_upload(struct sftp_server *s, struct handle *h, int broken,
    char *msg, size_t len)
{
	char hex[65], *data;
	const char *leaf;
	struct stat st;
	ssize_t n;
	int dfd;
	uint32_t code;

	if (broken) {
		if (h->res->special == VS_DECISION) {
			char rel[SFTP_MAX_PATH + 8];
			struct vres tmp = *h->res;

			snprintf(rel, sizeof(rel), "%s.new", h->res->rel);
			rg_strlcpy(tmp.rel, rel, sizeof(tmp.rel));
			if ((dfd = open_parent(&tmp, &leaf)) >= 0) {
				(void)unlinkat(dfd, leaf, 0);
				close(dfd);
			}
		}
		(void)sftp_audit(s->info, "file.upload", "failed", h->res,
		    (int64_t)h->bytes, NULL, "broken off");
		snprintf(msg, len, "Upload broken off");
		return SSH_FX_FAILURE;
	}
	/* Durable before the CLOSE is acknowledged. */
	if (fsync(h->fd) != 0 || fstat(h->fd, &st) != 0) {
		code = sftp_errno_status(errno, 1, msg, len);
		(void)sftp_audit(s->info, "file.upload", "failed", h->res,
		    (int64_t)h->bytes, NULL, msg);
		return code;
	}
	if (h->created && h->res->special != VS_DECISION &&
	    (dfd = open_parent(h->res, &leaf)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	if (h->res->special == VS_DECISION)
		return sftp_decision(s, h, msg, len);
	if (h->res->special != VS_REQUEST_YAML) {
		/* An extract's SHA-256 is recorded by the check pass, which
		 * reads it anyway (check.passed, check.failed, manifest.json):
		 * hashing a data upload here too cost the transfer a core. */
		if (sftp_audit(s->info, "file.upload", "ok", h->res,
		    (int64_t)st.st_size, NULL, NULL) != 0) {
			snprintf(msg, len, "Failure: the audit log is "
			    "unavailable");
			return SSH_FX_FAILURE;
		}
		msg[0] = '\0';
		return SSH_FX_OK;
	}
	/* Closing request.yaml submits the request: read it back, record
	 * the upload with the SHA-256 of what the gateway acts on. */
	if ((data = malloc(REQUEST_YAML_MAX + 1)) == NULL) {
		snprintf(msg, len, "Out of memory");
		return SSH_FX_FAILURE;
	}
	n = sftp_read_back(h->fd, data, REQUEST_YAML_MAX + 1);
	if (n < 0 || n > REQUEST_YAML_MAX || sftp_sha256_hex(data, (size_t)n,
	    hex) != 0)
		hex[0] = '\0';
	if (sftp_audit(s->info, "file.upload", "ok", h->res,
	    (int64_t)st.st_size, hex[0] ? hex : NULL, NULL) != 0) {
		free(data);
		snprintf(msg, len, "Failure: the audit log is unavailable");
		return SSH_FX_FAILURE;
	}
	if (st.st_size > REQUEST_YAML_MAX || n > REQUEST_YAML_MAX) {
		free(data);
		snprintf(msg, len, "request.yaml is larger than %d bytes; "
		    "not submitted", REQUEST_YAML_MAX);
		sftp_request_refused(s, h->res, NULL, msg);
		return SSH_FX_FAILURE;
	}
	if (n < 0) {
		free(data);
		snprintf(msg, len, "request.yaml could not be read back");
		return SSH_FX_FAILURE;
	}
	code = sftp_submit(s, h->res, data, (size_t)n, NULL, msg, len);
	free(data);
	return code;
}

static uint32_t
finish_download(struct sftp_server *s, struct handle *h, int broken,
    char *msg, size_t len)
{
	char release[SFTP_MAX_NAME + 1];
	struct diag d;
	int complete;
	size_t l;

	complete = h->size_at_open == 0 ? h->reached_eof :
	    h->contig >= h->size_at_open ||
	    (h->reached_eof && h->bytes >= h->size_at_open);
	/* Only a whole file counts as a download ("ok"): the audit report
	 * counts those; a partial one is "failed", broken off. */
	if (sftp_audit(s->info, "file.download", complete ? "ok" : "failed",
	    h->res,
	    (int64_t)h->bytes, NULL, complete ? (broken ?
	    "complete, channel closed" : "complete") : "broken off") != 0 &&
	    !broken) {
		snprintf(msg, len, "Failure: the audit log is unavailable");
		return SSH_FX_FAILURE;
	}
	if (complete && !broken && h->res->special == VS_RELEASE_GPG) {
		rg_strlcpy(release, h->res->leaf, sizeof(release));
		l = strlen(release);
		release[l - 12] = '\0';		/* ".tar.zst.gpg" */
		diag_clear(&d);
		if (queue_download(s->info->state_dir, h->res->name1, release,
		    s->info->user, &d) != 0)
			log_warnx("sftp: download of %s by %s not counted: %s",
			    h->res->vpath, s->info->user, d.msg);
	}
	msg[0] = '\0';
	return SSH_FX_OK;
}

/* Close a handle with its side effects. */
uint32_t
sftp_handle_finish(struct sftp_server *s, struct handle *h, int broken,
    char *msg, size_t len)
{
	msg[0] = '\0';
	if (h->type != H_FILE)
		return SSH_FX_OK;
	if (h->writable)
		return finish_upload(s, h, broken, msg, len);
	return finish_download(s, h, broken, msg, len);
}

/*
 * CLOSE: finish the handle (durable upload, audit, submission, decision,
 * download count), then free it.
 */
int
sftp_op_close(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	char msg[MSG_MAX] = "";
	struct handle *h;
	size_t n;
	uint32_t code;

	if (sftp_get_string(r, &p, &n) != 0)
		return BAD(s, out, id);
	if ((h = sftp_handle_get(s, p, n, H_FILE)) == NULL &&
	    (h = sftp_handle_get(s, p, n, H_DIR)) == NULL)
		return BADHANDLE(s, out, id);
	code = sftp_handle_finish(s, h, 0, msg, sizeof(msg));
	sftp_handle_release(s, h);
	return sftp_reply_status(s, out, id, code, msg);
}

/* ---- READ / WRITE ----------------------------------------------------- */

/* READ: at most SFTP_MAX_DATA bytes, read straight into the reply. */
int
sftp_op_read(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	unsigned char *at;
	struct handle *h;
	uint64_t off;
	uint32_t want;
	ssize_t got;
	size_t n;
	int rc;

	if (sftp_get_string(r, &p, &n) != 0 || sftp_get_u64(r, &off) != 0 ||
	    sftp_get_u32(r, &want) != 0)
		return BAD(s, out, id);
	if ((h = sftp_handle_get(s, p, n, H_FILE)) == NULL)
		return BADHANDLE(s, out, id);
	if (!h->readable)
		return sftp_reply_status(s, out, id, SSH_FX_PERMISSION_DENIED,
		    "Handle not open for reading");
	if (want > SFTP_MAX_DATA)
		want = SFTP_MAX_DATA;	/* a short read is allowed */
	if (off > (uint64_t)INT64_MAX - want) {
		h->reached_eof = 1;
		return sftp_reply_status(s, out, id, SSH_FX_EOF, NULL);
	}
	/* The DATA reply is built in place: header, then pread into it. */
	if ((rc = buf_reserve(out, 13 + (size_t)want)) != 0)
		return rc;
	at = out->data + out->len;
	do
		got = pread(h->fd, at + 13, want, (off_t)off);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		char msg[MSG_MAX];
		uint32_t code = sftp_errno_status(errno, 0, msg, sizeof(msg));

		return sftp_reply_status(s, out, id, code, msg);
	}
	if (got == 0 && want > 0) {
		h->reached_eof = 1;
		return sftp_reply_status(s, out, id, SSH_FX_EOF, NULL);
	}
	sftp_store_u32(at, (uint32_t)(9 + got));
	at[4] = SSH_FXP_DATA;
	sftp_store_u32(at + 5, id);
	sftp_store_u32(at + 9, (uint32_t)got);
	out->len += 13 + (size_t)got;
	h->bytes += (uint64_t)got;
	if (off <= h->contig && off + (uint64_t)got > h->contig)
		h->contig = off + (uint64_t)got;
	if (off + (uint64_t)got >= h->size_at_open)
		h->reached_eof = 1;
	return RG_OK;
}

/* WRITE: from the packet straight to pwrite(); hashes sequential uploads. */
int
sftp_op_write(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p, *data;
	struct handle *h;
	uint64_t off;
	size_t n, len, done = 0;
	ssize_t w;

	if (sftp_get_string(r, &p, &n) != 0 || sftp_get_u64(r, &off) != 0 ||
	    sftp_get_string(r, &data, &len) != 0)
		return BAD(s, out, id);
	if ((h = sftp_handle_get(s, p, n, H_FILE)) == NULL)
		return BADHANDLE(s, out, id);
	if (!h->writable)
		return sftp_reply_status(s, out, id, SSH_FX_PERMISSION_DENIED,
		    "Handle not open for writing");
	if (off > (uint64_t)INT64_MAX - len)
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
		    "Offset out of range");
	/* Another session (or this one) may have submitted the folder since
	 * the OPEN: from then it is read-only, also for open handles. */
	if (h->res->area == VA_REQUESTS && view_request_submitted(h->res))
		return sftp_reply_denied(s, out, id, SSH_FX_PERMISSION_DENIED,
		    "Permission denied: the request is submitted; its folder "
		    "is read-only", h->res->vpath, h->res);
	while (done < len) {
		w = pwrite(h->fd, data + done, len - done,
		    (off_t)(off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			char msg[MSG_MAX];
			uint32_t code = sftp_errno_status(w < 0 ? errno : EIO,
			    1, msg, sizeof(msg));

			return sftp_reply_status(s, out, id, code, msg);
		}
		done += (size_t)w;
	}
	if (off <= h->contig && off + len > h->contig)
		h->contig = off + len;
	h->bytes += len;
	/* Start writeback as the upload goes, so the fsync that CLOSE must
	 * do finds little left: disk and network overlap. */
	if ((h->unflushed += len) >= WRITEBACK_EVERY) {
		(void)sync_file_range(h->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		h->unflushed = 0;
	}
	return sftp_reply_status(s, out, id, SSH_FX_OK, NULL);
}

/* ---- attributes ------------------------------------------------------- */

/* STAT and LSTAT (the same: no symlink exists in a view). */
int
sftp_op_stat(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "";
	struct vres res;
	struct stat st;
	int code, bad;

	code = sftp_get_resolved(s, r, VI_LOOKUP, &res, msg, sizeof(msg), &bad);
	if (bad)
		return BAD(s, out, id);
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, (uint32_t)code, msg,
		    res.vpath, &res);
	if (view_stat(s->view, &res, &st) != SSH_FX_OK)
		return sftp_reply_status(s, out, id, SSH_FX_NO_SUCH_FILE, NULL);
	return reply_attrs(s, out, id, &st);
}

/* FSTAT of a file or folder handle. */
int
sftp_op_fstat(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	struct handle *h;
	struct stat st;
	size_t n;

	if (sftp_get_string(r, &p, &n) != 0)
		return BAD(s, out, id);
	if ((h = sftp_handle_get(s, p, n, H_FILE)) != NULL) {
		if (fstat(h->fd, &st) != 0)
			return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
			    NULL);
		if (!h->writable)
			st.st_mode &= ~(mode_t)0222;
		return reply_attrs(s, out, id, &st);
	}
	if ((h = sftp_handle_get(s, p, n, H_DIR)) != NULL) {
		if (view_stat(s->view, h->res, &st) != SSH_FX_OK)
			return sftp_reply_status(s, out, id,
			    SSH_FX_NO_SUCH_FILE, NULL);
		return reply_attrs(s, out, id, &st);
	}
	return BADHANDLE(s, out, id);
}

/* Apply size and times; permissions and owners are accepted and ignored
 * (never widened, never chown). */
static uint32_t
apply_attrs(int fd, const struct sftp_attrs *a, char *msg, size_t len)
{
	struct timespec ts[2];

	if ((a->flags & SSH_FILEXFER_ATTR_SIZE) &&
	    (a->size > INT64_MAX || ftruncate(fd, (off_t)a->size) != 0))
		return sftp_errno_status(a->size > INT64_MAX ? EFBIG : errno,
		    1, msg, len);
	if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		ts[0].tv_sec = a->atime;
		ts[1].tv_sec = a->mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(fd, ts) != 0)
			return sftp_errno_status(errno, 1, msg, len);
	}
	msg[0] = '\0';
	return SSH_FX_OK;
}

/*
 * SETSTAT: size and times where the role may write; the rest accepted
 * without change.
 */
int
sftp_op_setstat(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "";
	const unsigned char *p;
	struct sftp_attrs a;
	struct vres res;
	struct stat st;
	size_t n;
	uint32_t code;
	int fd;

	if (sftp_get_string(r, &p, &n) != 0 || sftp_get_attrs(r, &a) != 0)
		return BAD(s, out, id);
	code = (uint32_t)view_resolve(s->view, p, n, VI_LOOKUP, &res, msg,
	    sizeof(msg));
	if (code == SSH_FX_OK && view_stat(s->view, &res, &st) != SSH_FX_OK)
		code = SSH_FX_NO_SUCH_FILE, msg[0] = '\0';
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, code, msg, res.vpath,
		    &res);
	/* Folders, and anything but size and times: accepted, no change. */
	if (S_ISDIR(st.st_mode) || (a.flags & (SSH_FILEXFER_ATTR_SIZE |
	    SSH_FILEXFER_ATTR_ACMODTIME)) == 0)
		return sftp_reply_status(s, out, id, SSH_FX_OK, NULL);
	code = (uint32_t)view_resolve(s->view, p, n, VI_WRITE, &res, msg,
	    sizeof(msg));
	if (code != SSH_FX_OK) {
		/* A client touching the times of a file it just submitted
		 * (rclone does): harmless, nothing changes. */
		if (res.area == VA_REQUESTS && res.submitted &&
		    !(a.flags & SSH_FILEXFER_ATTR_SIZE))
			return sftp_reply_status(s, out, id, SSH_FX_OK, NULL);
		return sftp_reply_denied(s, out, id, code, msg, res.vpath,
		    &res);
	}
	if (res.special == VS_DECISION)
		return sftp_reply_status(s, out, id, SSH_FX_OK, NULL);
	if ((fd = view_openat(res.rootfd, res.rel, O_WRONLY | O_NONBLOCK |
	    O_NOFOLLOW | O_NOCTTY, 0)) < 0) {
		code = sftp_errno_status(errno, 1, msg, sizeof(msg));
		return sftp_reply_status(s, out, id, code, msg);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		code = SSH_FX_NO_SUCH_FILE, snprintf(msg, sizeof(msg),
		    "Not a regular file");
	else
		code = apply_attrs(fd, &a, msg, sizeof(msg));
	close(fd);
	return sftp_reply_status(s, out, id, code, msg);
}

/*
 * FSETSTAT: size and times on a write handle (lftp sends them before
 * CLOSE); the rest accepted without change.
 */
int
sftp_op_fsetstat(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "";
	const unsigned char *p;
	struct sftp_attrs a;
	struct handle *h;
	size_t n;

	if (sftp_get_string(r, &p, &n) != 0 || sftp_get_attrs(r, &a) != 0)
		return BAD(s, out, id);
	if ((h = sftp_handle_get(s, p, n, H_FILE)) == NULL) {
		if (sftp_handle_get(s, p, n, H_DIR) != NULL)
			return sftp_reply_status(s, out, id, SSH_FX_OK, NULL);
		return BADHANDLE(s, out, id);
	}
	if (!h->writable) {
		if (a.flags & SSH_FILEXFER_ATTR_SIZE)
			return sftp_reply_denied(s, out, id,
			    SSH_FX_PERMISSION_DENIED, "Permission denied: "
			    "handle is read-only", h->res->vpath, h->res);
		return sftp_reply_status(s, out, id, SSH_FX_OK, NULL);
	}
	if (h->res->area == VA_REQUESTS && view_request_submitted(h->res)) {
		if (a.flags & SSH_FILEXFER_ATTR_SIZE)
			return sftp_reply_denied(s, out, id,
			    SSH_FX_PERMISSION_DENIED, "Permission denied: the "
			    "request is submitted; its folder is read-only",
			    h->res->vpath, h->res);
		return sftp_reply_status(s, out, id, SSH_FX_OK, NULL);
	}
	return sftp_reply_status(s, out, id, apply_attrs(h->fd, &a, msg,
	    sizeof(msg)), msg);
}

/* ---- extensions on files ---------------------------------------------- */

static int
reply_statvfs(struct sftp_server *s, struct buf *out, uint32_t id, int fd,
    int readonly)
{
	struct statvfs sv;
	size_t mark;
	uint64_t v[11];
	unsigned i;
	int rc;

	if (fstatvfs(fd, &sv) != 0)
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE, NULL);
	v[0] = sv.f_bsize;
	v[1] = sv.f_frsize;
	v[2] = sv.f_blocks;
	v[3] = sv.f_bfree;
	v[4] = sv.f_bavail;
	v[5] = sv.f_files;
	v[6] = sv.f_ffree;
	v[7] = sv.f_favail;
	v[8] = sv.f_fsid;
	v[9] = ((sv.f_flag & ST_RDONLY) || readonly ? 1 : 0) |
	    ((sv.f_flag & ST_NOSUID) ? 2 : 0);
	v[10] = sv.f_namemax;
	if ((rc = sftp_packet_begin(out, SSH_FXP_EXTENDED_REPLY, &mark)) != 0 ||
	    (rc = sftp_put_u32(out, id)) != 0)
		return rc;
	for (i = 0; i < 11; i++)
		if ((rc = sftp_put_u64(out, v[i])) != 0)
			return rc;
	sftp_packet_end(out, mark);
	return RG_OK;
}

/* statvfs@openssh.com: the file system of the view. */
int
sftp_op_statvfs(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "";
	struct vres res;
	struct stat st;
	int code, bad;

	code = sftp_get_resolved(s, r, VI_LOOKUP, &res, msg, sizeof(msg), &bad);
	if (bad)
		return BAD(s, out, id);
	if (code == SSH_FX_OK && view_stat(s->view, &res, &st) != SSH_FX_OK)
		code = SSH_FX_NO_SUCH_FILE, msg[0] = '\0';
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, (uint32_t)code, msg,
		    res.vpath, &res);
	return reply_statvfs(s, out, id, res.kind == VN_REAL ? res.rootfd :
	    view_statvfs_fd(s->view), res.area != VA_REQUESTS);
}

/* fstatvfs@openssh.com. */
int
sftp_op_fstatvfs(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	struct handle *h;
	size_t n;

	if (sftp_get_string(r, &p, &n) != 0)
		return BAD(s, out, id);
	if ((h = sftp_handle_get(s, p, n, H_FILE)) == NULL &&
	    (h = sftp_handle_get(s, p, n, H_DIR)) == NULL)
		return BADHANDLE(s, out, id);
	return reply_statvfs(s, out, id, h->fd >= 0 ? h->fd :
	    view_statvfs_fd(s->view), !h->writable);
}

/* fsync@openssh.com: the file is on disk before the reply. */
int
sftp_op_fsync(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	char msg[MSG_MAX] = "";
	struct handle *h;
	size_t n;

	if (sftp_get_string(r, &p, &n) != 0)
		return BAD(s, out, id);
	if ((h = sftp_handle_get(s, p, n, H_FILE)) == NULL)
		return BADHANDLE(s, out, id);
	if (fsync(h->fd) != 0)
		return sftp_reply_status(s, out, id, sftp_errno_status(errno,
		    1, msg, sizeof(msg)), msg);
	return sftp_reply_status(s, out, id, SSH_FX_OK, NULL);
}
