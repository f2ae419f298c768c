/*
 * gateway/sftp_tree.c — SFTP operations on folders and on the shape of the
 * tree: OPENDIR/READDIR (real folders streamed, synthetic ones listed from
 * the view), REMOVE, MKDIR, RMDIR, REALPATH and RENAME/posix-rename. Each
 * asks the view first (view_resolve()), then acts with *at() calls on
 * folders opened beneath the view's roots without following symlinks.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contracts/contracts.h"
#include "gateway/sftp_internal.h"

#define MSG_MAX		512
#define READDIR_MAX	100		/* entries per NAME reply */
#define READDIR_BYTES	(64 * 1024)	/* and bytes */
#define SYNTH_MAX	100000		/* entries of a synthetic folder */

#define BAD(s, out, id) \
	sftp_reply_status((s), (out), (id), SSH_FX_BAD_MESSAGE, \
	    "Malformed request")
#define BADHANDLE(s, out, id) \
	sftp_reply_status((s), (out), (id), SSH_FX_FAILURE, "Invalid handle")

static int
view_open_parent_res(const struct vres *res, const char **leaf)
{
	return view_open_parent(res->rootfd, res->rel, leaf);
}

/* ---- folders ---------------------------------------------------------- */

static int
collect(void *arg, const char *name, const struct stat *st)
{
	struct handle *h = arg;
	struct dir_entry *e;

	if (h->n_ents >= SYNTH_MAX)
		return 1;
	if ((h->n_ents & 63) == 0) {
		e = realloc(h->ents, (h->n_ents + 64) * sizeof(*e));
		if (e == NULL)
			return 1;
		h->ents = e;
	}
	if ((h->ents[h->n_ents].name = strdup(name)) == NULL)
		return 1;
	h->ents[h->n_ents].st = *st;
	h->n_ents++;
	return 0;
}

/*
 * OPENDIR: a real folder (streamed by READDIR) or a synthetic one (listed
 * now from the view).
 */
int
sftp_op_opendir(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "";
	struct vres *res;
	struct stat st;
	struct handle *h;
	uint32_t code;
	int bad, i, fd = -1;

	if ((res = malloc(sizeof(*res))) == NULL)
		return RG_ENOMEM;
	code = (uint32_t)sftp_get_resolved(s, r, VI_LOOKUP, res, msg, sizeof(msg),
	    &bad);
	if (bad || code != SSH_FX_OK) {
		i = bad ? BAD(s, out, id) : sftp_reply_denied(s, out, id, code,
		    msg, res->vpath, res);
		free(res);
		return i;
	}
	if (res->kind == VN_REAL) {
		if (view_stat(s->view, res, &st) != SSH_FX_OK) {
			free(res);
			return sftp_reply_status(s, out, id,
			    SSH_FX_NO_SUCH_FILE, NULL);
		}
		if ((fd = view_openat(res->rootfd, res->rel, O_RDONLY |
		    O_DIRECTORY | O_NONBLOCK, 0)) < 0) {
			code = sftp_errno_status(errno, 0, msg, sizeof(msg));
			free(res);
			return sftp_reply_status(s, out, id, code, msg);
		}
	}
	if ((i = sftp_handle_new(s, H_DIR, res)) < 0) {
		if (fd >= 0)
			close(fd);
		free(res);
		snprintf(msg, sizeof(msg), "Too many open handles (at most "
		    "%d)", SFTP_MAX_HANDLES);
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE, msg);
	}
	h = &s->h[i];
	if (fd >= 0) {
		if ((h->dp = fdopendir(fd)) == NULL) {
			close(fd);
			sftp_handle_release(s, h);
			return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
			    NULL);
		}
	} else
		(void)view_list_synth(s->view, res, collect, h);
	return sftp_reply_handle(s, out, id, i);
}

static int
put_entry(struct sftp_server *s, struct buf *out, const char *name,
    const struct stat *st)
{
	char longname[SFTP_MAX_NAME + 128];
	struct sftp_attrs a;
	int rc;

	sftp_longname(longname, sizeof(longname), name, st, s->info->user);
	sftp_attrs_from_stat(&a, st);
	if ((rc = sftp_put_cstring(out, name)) != 0 ||
	    (rc = sftp_put_cstring(out, longname)) != 0 ||
	    (rc = sftp_put_attrs(out, &a)) != 0)
		return rc;
	return RG_OK;
}

/* READDIR: up to READDIR_MAX entries; EOF then and on every later call. */
int
sftp_op_readdir(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	struct handle *h;
	struct dirent *de;
	struct stat st;
	size_t n, mark, count_at, start;
	uint32_t count = 0;
	int rc;

	if (sftp_get_string(r, &p, &n) != 0)
		return BAD(s, out, id);
	if ((h = sftp_handle_get(s, p, n, H_DIR)) == NULL)
		return BADHANDLE(s, out, id);
	if (h->dir_eof)		/* lftp reads once more after EOF */
		return sftp_reply_status(s, out, id, SSH_FX_EOF, NULL);
	if ((rc = sftp_packet_begin(out, SSH_FXP_NAME, &mark)) != 0 ||
	    (rc = sftp_put_u32(out, id)) != 0)
		return rc;
	count_at = out->len;
	if ((rc = sftp_put_u32(out, 0)) != 0)
		return rc;
	start = out->len;
	while (count < READDIR_MAX && out->len - start < READDIR_BYTES) {
		if (h->dp != NULL) {
			errno = 0;
			if ((de = readdir(h->dp)) == NULL) {
				h->dir_eof = 1;
				break;
			}
			if (!view_entry_visible(s->view, h->res,
			    dirfd(h->dp), de->d_name, &st))
				continue;
			rc = put_entry(s, out, de->d_name, &st);
		} else {
			if (h->pos >= h->n_ents) {
				h->dir_eof = 1;
				break;
			}
			rc = put_entry(s, out, h->ents[h->pos].name,
			    &h->ents[h->pos].st);
			h->pos++;
		}
		if (rc != 0)
			return rc;
		count++;
	}
	if (count == 0) {
		out->len = mark;
		return sftp_reply_status(s, out, id, SSH_FX_EOF, NULL);
	}
	sftp_store_u32(out->data + count_at, count);
	sftp_packet_end(out, mark);
	return RG_OK;
}

/* ---- changing the tree ------------------------------------------------ */

/* REMOVE a file (of a submitted request.yaml: the withdrawal). */
int
sftp_op_remove(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "";
	const char *leaf;
	struct vres res;
	struct stat st;
	uint32_t code;
	int bad, dfd;

	code = (uint32_t)sftp_get_resolved(s, r, VI_REMOVE, &res, msg, sizeof(msg),
	    &bad);
	if (bad)
		return BAD(s, out, id);
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, code, msg, res.vpath,
		    &res);
	if (res.kind != VN_REAL || view_statat(res.rootfd, res.rel, &st) != 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
		return sftp_reply_status(s, out, id, SSH_FX_NO_SUCH_FILE, NULL);
	if (S_ISDIR(st.st_mode))
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
		    "Is a folder (use rmdir)");
	if (res.special == VS_REQUEST_YAML && res.submitted) {
		code = sftp_withdraw(s, &res, msg, sizeof(msg));
		return sftp_reply_denied(s, out, id, code, msg, res.vpath,
		    &res);
	}
	if ((dfd = view_open_parent_res(&res, &leaf)) < 0 || unlinkat(dfd, leaf, 0) != 0)
		code = sftp_errno_status(errno, 1, msg, sizeof(msg));
	else
		(void)fsync(dfd);
	if (dfd >= 0)
		close(dfd);
	return sftp_reply_status(s, out, id, code, msg);
}

/* MKDIR (a request folder), durable in its parent. */
int
sftp_op_mkdir(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "";
	const char *leaf;
	struct sftp_attrs a;
	struct vres res;
	uint32_t code;
	int bad, dfd, nfd;

	code = (uint32_t)sftp_get_resolved(s, r, VI_MKDIR, &res, msg, sizeof(msg),
	    &bad);
	if (bad || sftp_get_attrs(r, &a) != 0)
		return BAD(s, out, id);
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, code, msg, res.vpath,
		    &res);
	if ((dfd = view_open_parent_res(&res, &leaf)) < 0 ||
	    mkdirat(dfd, leaf, 0700) != 0)
		code = sftp_errno_status(errno, 1, msg, sizeof(msg));
	else {
		/* The new folder and its entry are durable. */
		if ((nfd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			(void)fsync(nfd);
			close(nfd);
		}
		(void)fsync(dfd);
	}
	if (dfd >= 0)
		close(dfd);
	return sftp_reply_status(s, out, id, code, msg);
}

/* RMDIR of an empty, unsubmitted request folder. */
int
sftp_op_rmdir(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char msg[MSG_MAX] = "";
	const char *leaf;
	struct vres res;
	struct stat st;
	uint32_t code;
	int bad, dfd;

	code = (uint32_t)sftp_get_resolved(s, r, VI_RMDIR, &res, msg, sizeof(msg),
	    &bad);
	if (bad)
		return BAD(s, out, id);
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, code, msg, res.vpath,
		    &res);
	if (res.kind != VN_REAL || view_statat(res.rootfd, res.rel, &st) != 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
		return sftp_reply_status(s, out, id, SSH_FX_NO_SUCH_FILE, NULL);
	if (!S_ISDIR(st.st_mode))
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
		    "Not a folder");
	if ((dfd = view_open_parent_res(&res, &leaf)) < 0 ||
	    unlinkat(dfd, leaf, AT_REMOVEDIR) != 0)
		code = sftp_errno_status(errno, 1, msg, sizeof(msg));
	else
		(void)fsync(dfd);
	if (dfd >= 0)
		close(dfd);
	return sftp_reply_status(s, out, id, code, msg);
}

/* REALPATH: the normalised path within the view ("." is "/"). */
int
sftp_op_realpath(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	char path[SFTP_MAX_PATH];
	const unsigned char *p;
	struct sftp_attrs a;
	size_t n, mark;
	int rc;

	if (sftp_get_string(r, &p, &n) != 0)
		return BAD(s, out, id);
	if ((rc = view_normalise(path, sizeof(path), p, n)) != 0)
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
		    rc == RG_ETOOBIG ? "Path or file name too long" :
		    "Path has a NUL or control character");
	memset(&a, 0, sizeof(a));
	if ((rc = sftp_packet_begin(out, SSH_FXP_NAME, &mark)) != 0 ||
	    (rc = sftp_put_u32(out, id)) != 0 ||
	    (rc = sftp_put_u32(out, 1)) != 0 ||
	    (rc = sftp_put_cstring(out, path)) != 0 ||
	    (rc = sftp_put_cstring(out, path)) != 0 ||
	    (rc = sftp_put_attrs(out, &a)) != 0)
		return rc;
	sftp_packet_end(out, mark);
	return RG_OK;
}

static int
do_rename(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out, int posix)
{
	char msg[MSG_MAX] = "", *data = NULL;
	const unsigned char *op, *np;
	const char *oleaf, *nleaf;
	struct vres ores, nres;
	struct stat st, nst;
	size_t on, nn;
	ssize_t got;
	uint32_t code;
	int dir, ofd = -1, nfd = -1, fd, rc;

	if (sftp_get_string(r, &op, &on) != 0 ||
	    sftp_get_string(r, &np, &nn) != 0)
		return BAD(s, out, id);
	code = (uint32_t)view_resolve(s->view, op, on, VI_LOOKUP, &ores, msg,
	    sizeof(msg));
	if (code == SSH_FX_OK && view_stat(s->view, &ores, &st) != SSH_FX_OK)
		code = SSH_FX_NO_SUCH_FILE, msg[0] = '\0';
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, code, msg, ores.vpath,
		    &ores);
	dir = S_ISDIR(st.st_mode);
	code = (uint32_t)view_resolve(s->view, op, on, dir ? VI_RMDIR :
	    VI_REMOVE, &ores, msg, sizeof(msg));
	if (code == SSH_FX_OK && ores.special == VS_REQUEST_YAML &&
	    ores.submitted)
		code = SSH_FX_PERMISSION_DENIED, snprintf(msg, sizeof(msg),
		    "Permission denied: the request is submitted");
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, code, msg, ores.vpath,
		    &ores);
	code = (uint32_t)view_resolve(s->view, np, nn, dir ? VI_MKDIR :
	    VI_WRITE, &nres, msg, sizeof(msg));
	if (code != SSH_FX_OK)
		return sftp_reply_denied(s, out, id, code, msg, nres.vpath,
		    &nres);
	if (ores.kind != VN_REAL || nres.kind != VN_REAL ||
	    ores.rootfd != nres.rootfd || nres.special == VS_DECISION)
		return sftp_reply_denied(s, out, id, SSH_FX_PERMISSION_DENIED,
		    "Permission denied: cannot move there", nres.vpath, &nres);
	if (!posix && view_statat(nres.rootfd, nres.rel, &nst) == 0)
		return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
		    "File exists");
	if ((ofd = view_open_parent_res(&ores, &oleaf)) < 0 ||
	    (nfd = view_open_parent_res(&nres, &nleaf)) < 0) {
		code = sftp_errno_status(errno, 1, msg, sizeof(msg));
		goto out;
	}
	if (!dir && nres.special == VS_REQUEST_YAML) {
		/* Renaming a file onto request.yaml (WinSCP's .filepart)
		 * submits, as closing it would: check it first. */
		if ((data = malloc(REQUEST_YAML_MAX + 1)) == NULL ||
		    (fd = view_openat(ores.rootfd, ores.rel, O_RDONLY |
		    O_NONBLOCK | O_NOFOLLOW, 0)) < 0) {
			code = SSH_FX_FAILURE;
			snprintf(msg, sizeof(msg), "Failure");
			goto out;
		}
		got = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
		    sftp_read_back(fd, data, REQUEST_YAML_MAX + 1) : -1;
		close(fd);
		if (got < 0 || got > REQUEST_YAML_MAX) {
			code = SSH_FX_FAILURE;
			snprintf(msg, sizeof(msg), "request.yaml larger than "
			    "%d bytes or unreadable; not submitted",
			    REQUEST_YAML_MAX);
			sftp_request_refused(s, &nres, NULL, msg);
			goto out;
		}
		code = sftp_submit(s, &nres, data, (size_t)got, ores.rel, msg,
		    sizeof(msg));
		goto out;
	}
	rc = renameat2(ofd, oleaf, nfd, nleaf, posix ? 0 : RENAME_NOREPLACE);
	if (rc != 0 && !posix && errno == EINVAL) {
		if (fstatat(nfd, nleaf, &nst, AT_SYMLINK_NOFOLLOW) == 0)
			errno = EEXIST;
		else
			rc = renameat(ofd, oleaf, nfd, nleaf);
	}
	if (rc != 0)
		code = sftp_errno_status(errno, 1, msg, sizeof(msg));
	else {
		(void)fsync(nfd);
		if (ofd != nfd)
			(void)fsync(ofd);
		code = SSH_FX_OK;
		msg[0] = '\0';
	}
out:
	free(data);
	if (ofd >= 0)
		close(ofd);
	if (nfd >= 0)
		close(nfd);
	return sftp_reply_status(s, out, id, code, msg);
}

/* RENAME (legacy): never replaces an existing file. */
int
sftp_op_rename(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	return do_rename(s, id, r, out, 0);
}

/* posix-rename@openssh.com: replaces the target. */
int
sftp_op_posix_rename(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	return do_rename(s, id, r, out, 1);
}

