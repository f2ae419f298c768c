/*
 * gateway/sftp_server.c — the SFTP v3 server of one channel: packet
 * framing, the one dispatch table, the one permission gate in front of
 * every handler, and the handle table (small integers with a generation,
 * checked by type; never pointers).
 *
 * Push-driven (see gateway/sftp.h): sftp_server_input() takes whatever the
 * channel delivered, handles each complete packet and appends the replies.
 * A length prefix above SFTP_MAX_PACKET, an empty packet or anything but
 * INIT first is a protocol error: the caller closes the channel. Nothing is
 * ever allocated from a length the client sent.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "gateway/sftp_internal.h"

struct sftp_op {
	const char *name;
	uint8_t	type;
	int	(*handler)(struct sftp_server *, uint32_t, struct sftp_rd *,
		    struct buf *);
	int	does_write;	/* refused in views that cannot write */
	int	path_arg;	/* the first argument is a path (for audit) */
};

struct sftp_ext {
	const char *name;
	int	(*handler)(struct sftp_server *, uint32_t, struct sftp_rd *,
		    struct buf *);
	int	does_write;
	int	path_arg;
};

static int op_readlink(struct sftp_server *, uint32_t, struct sftp_rd *,
    struct buf *);
static int op_symlink(struct sftp_server *, uint32_t, struct sftp_rd *,
    struct buf *);
static int ext_limits(struct sftp_server *, uint32_t, struct sftp_rd *,
    struct buf *);
static int ext_expand_path(struct sftp_server *, uint32_t,
    struct sftp_rd *, struct buf *);

static const struct sftp_op ops[] = {
	{ "open", SSH_FXP_OPEN, sftp_op_open, 0, 1 },
	{ "close", SSH_FXP_CLOSE, sftp_op_close, 0, 0 },
	{ "read", SSH_FXP_READ, sftp_op_read, 0, 0 },
	{ "write", SSH_FXP_WRITE, sftp_op_write, 1, 0 },
	{ "lstat", SSH_FXP_LSTAT, sftp_op_stat, 0, 1 },
	{ "fstat", SSH_FXP_FSTAT, sftp_op_fstat, 0, 0 },
	{ "setstat", SSH_FXP_SETSTAT, sftp_op_setstat, 1, 1 },
	{ "fsetstat", SSH_FXP_FSETSTAT, sftp_op_fsetstat, 1, 0 },
	{ "opendir", SSH_FXP_OPENDIR, sftp_op_opendir, 0, 1 },
	{ "readdir", SSH_FXP_READDIR, sftp_op_readdir, 0, 0 },
	{ "remove", SSH_FXP_REMOVE, sftp_op_remove, 1, 1 },
	{ "mkdir", SSH_FXP_MKDIR, sftp_op_mkdir, 1, 1 },
	{ "rmdir", SSH_FXP_RMDIR, sftp_op_rmdir, 1, 1 },
	{ "realpath", SSH_FXP_REALPATH, sftp_op_realpath, 0, 1 },
	{ "stat", SSH_FXP_STAT, sftp_op_stat, 0, 1 },
	{ "rename", SSH_FXP_RENAME, sftp_op_rename, 1, 1 },
	{ "readlink", SSH_FXP_READLINK, op_readlink, 0, 1 },
	{ "symlink", SSH_FXP_SYMLINK, op_symlink, 1, 1 },
};

/* Extensions: advertised in VERSION (version string), answered here. */
static const struct {
	const char *name;
	const char *version;
} advertised[] = {
	{ "posix-rename@openssh.com", "1" },
	{ "statvfs@openssh.com", "2" },
	{ "fstatvfs@openssh.com", "2" },
	{ "fsync@openssh.com", "1" },
	{ "limits@openssh.com", "1" },
	{ "expand-path@openssh.com", "1" },
};

static const struct sftp_ext exts[] = {
	{ "posix-rename@openssh.com", sftp_op_posix_rename, 1, 1 },
	{ "statvfs@openssh.com", sftp_op_statvfs, 0, 1 },
	{ "fstatvfs@openssh.com", sftp_op_fstatvfs, 0, 0 },
	{ "fsync@openssh.com", sftp_op_fsync, 0, 0 },
	{ "limits@openssh.com", ext_limits, 0, 0 },
	{ "expand-path@openssh.com", ext_expand_path, 0, 1 },
};

/* ---- replies ---------------------------------------------------------- */

/* A STATUS reply with a message (language tag empty). */
int
sftp_reply_status(struct sftp_server *s, struct buf *out, uint32_t id,
    uint32_t code, const char *msg)
{
	static const char *const deflt[] = {
		"Success", "End of file", "No such file", "Permission denied",
		"Failure", "Bad message", "No connection", "Connection lost",
		"Operation unsupported",
	};
	size_t mark;
	int rc;

	if (msg == NULL || msg[0] == '\0')
		msg = code < RG_ARRAY_LEN(deflt) ? deflt[code] : "Failure";
	if ((rc = sftp_packet_begin(out, SSH_FXP_STATUS, &mark)) != 0 ||
	    (rc = sftp_put_u32(out, id)) != 0 ||
	    (rc = sftp_put_u32(out, code)) != 0 ||
	    (rc = sftp_put_cstring(out, msg)) != 0 ||
	    (rc = sftp_put_cstring(out, "")) != 0)
		return rc;
	sftp_packet_end(out, mark);
	return RG_OK;
}

/* A status about a path; a denial is audited first (access.denied). */
int
sftp_reply_denied(struct sftp_server *s, struct buf *out, uint32_t id,
    uint32_t code, const char *msg, const char *vpath, const struct vres *res)
{
	struct vres tmp;

	if (code == SSH_FX_PERMISSION_DENIED) {
		if (res == NULL) {
			memset(&tmp, 0, sizeof(tmp));
			rg_strlcpy(tmp.vpath, vpath ? vpath : "",
			    sizeof(tmp.vpath));
			res = &tmp;
		}
		/* Refused either way; a failed record is logged there. */
		(void)sftp_audit(s->info, "access.denied", "denied", res, -1,
		    NULL, msg);
	}
	return sftp_reply_status(s, out, id, code, msg);
}

/* errno of a failed operation as the client should see it. */
uint32_t
sftp_errno_status(int err, int writing, char *msg, size_t len)
{
	switch (err) {
	case ENOENT:
	case EXDEV:		/* would leave the view: not there */
	case ENXIO:
		snprintf(msg, len, "No such file");
		return SSH_FX_NO_SUCH_FILE;
	case ELOOP:		/* a symlink: never followed, not there */
		if (writing) {
			snprintf(msg, len, "Permission denied: symbolic links "
			    "are not followed");
			return SSH_FX_PERMISSION_DENIED;
		}
		snprintf(msg, len, "No such file");
		return SSH_FX_NO_SUCH_FILE;
	case EACCES:
	case EPERM:
	case EROFS:
		snprintf(msg, len, "Permission denied");
		return SSH_FX_PERMISSION_DENIED;
	case EEXIST:
		snprintf(msg, len, "File exists");
		return SSH_FX_FAILURE;
	case ENOTEMPTY:
		snprintf(msg, len, "Folder not empty");
		return SSH_FX_FAILURE;
	case EISDIR:
		snprintf(msg, len, "Is a folder");
		return SSH_FX_FAILURE;
	case ENOTDIR:
		snprintf(msg, len, "Not a folder");
		return SSH_FX_FAILURE;
	case ENOSPC:
	case EDQUOT:
		snprintf(msg, len, "No space left");
		return SSH_FX_FAILURE;
	case ENAMETOOLONG:
		snprintf(msg, len, "File name too long");
		return SSH_FX_FAILURE;
	default:
		snprintf(msg, len, "Failure: %s", strerror(err));
		return SSH_FX_FAILURE;
	}
}

/* ---- handles ---------------------------------------------------------- */

/* New handle for res (owned from now on); its index, or -1 when full. */
int
sftp_handle_new(struct sftp_server *s, enum htype type, struct vres *res)
{
	int i;

	for (i = 0; i < SFTP_MAX_HANDLES; i++) {
		struct handle *h = &s->h[i];

		if (h->type != H_FREE)
			continue;
		memset(h, 0, sizeof(*h));
		h->type = type;
		h->gen = ++s->gen;
		h->res = res;
		h->fd = -1;
		s->n_open++;
		return i;
	}
	return -1;
}

/* The handle string of index i: index then generation, big-endian. */
void
sftp_handle_wire(const struct sftp_server *s, int i, unsigned char out[8])
{
	sftp_store_u32(out, (uint32_t)i);
	sftp_store_u32(out + 4, s->h[i].gen);
}

/* A handle string of the expected type, or NULL. */
struct handle *
sftp_handle_get(struct sftp_server *s, const unsigned char *p, size_t n,
    enum htype t)
{
	uint32_t i;

	if (n != 8)
		return NULL;
	i = sftp_load_u32(p);
	if (i >= SFTP_MAX_HANDLES || s->h[i].type != t ||
	    s->h[i].gen != sftp_load_u32(p + 4))
		return NULL;
	return &s->h[i];
}

/* Free a handle's resources (no side effects). */
void
sftp_handle_release(struct sftp_server *s, struct handle *h)
{
	size_t i;

	if (h->type == H_FREE)
		return;
	if (h->dp != NULL)
		closedir(h->dp);
	if (h->fd >= 0)
		close(h->fd);
	for (i = 0; i < h->n_ents; i++)
		free(h->ents[i].name);
	free(h->ents);
	free(h->res);
	memset(h, 0, sizeof(*h));
	h->type = H_FREE;
	h->fd = -1;
	s->n_open--;
}

/* Whether a write handle of this session is open on rel (in its root). */
int
sftp_open_for_write(const struct sftp_server *s, const char *rel)
{
	int i;

	for (i = 0; i < SFTP_MAX_HANDLES; i++)
		if (s->h[i].type == H_FILE && s->h[i].writable &&
		    s->h[i].res->area == VA_REQUESTS &&
		    strcmp(s->h[i].res->rel, rel) == 0)
			return 1;
	return 0;
}

/* ---- a few small operations ------------------------------------------ */

static int
op_readlink(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	return sftp_reply_status(s, out, id, SSH_FX_OP_UNSUPPORTED,
	    "Symbolic links are not supported");
}

static int
op_symlink(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	size_t n;
	char vpath[SFTP_MAX_PATH];

	if (sftp_get_string(r, &p, &n) != 0 ||
	    view_normalise(vpath, sizeof(vpath), p, n) != 0)
		vpath[0] = '\0';
	return sftp_reply_denied(s, out, id, SSH_FX_PERMISSION_DENIED,
	    "Permission denied: symbolic links cannot be made", vpath, NULL);
}

static int
ext_limits(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	size_t mark;
	int rc;

	if ((rc = sftp_packet_begin(out, SSH_FXP_EXTENDED_REPLY, &mark)) != 0 ||
	    (rc = sftp_put_u32(out, id)) != 0 ||
	    (rc = sftp_put_u64(out, SFTP_MAX_PACKET)) != 0 ||
	    (rc = sftp_put_u64(out, SFTP_MAX_DATA)) != 0 ||
	    (rc = sftp_put_u64(out, SFTP_MAX_DATA)) != 0 ||
	    (rc = sftp_put_u64(out, SFTP_MAX_HANDLES)) != 0)
		return rc;
	sftp_packet_end(out, mark);
	return RG_OK;
}

/* expand-path: like REALPATH, with "~" and "~/" meaning "/". */
static int
ext_expand_path(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	size_t n;

	if (sftp_get_string(r, &p, &n) != 0)
		return sftp_reply_status(s, out, id, SSH_FX_BAD_MESSAGE, NULL);
	if (n >= 1 && p[0] == '~' && (n == 1 || p[1] == '/')) {
		p++;
		n--;
	}
	{
		/* Rebuild a REALPATH request over the rewritten path. */
		unsigned char tmp[4 + SFTP_MAX_PATH + 1];
		struct sftp_rd r2;

		if (n > SFTP_MAX_PATH)
			return sftp_reply_status(s, out, id, SSH_FX_FAILURE,
			    "Path too long");
		sftp_store_u32(tmp, (uint32_t)n);
		memcpy(tmp + 4, p, n);
		sftp_rd_init(&r2, tmp, 4 + n);
		return sftp_op_realpath(s, id, &r2, out);
	}
}

/* ---- dispatch --------------------------------------------------------- */

static int
send_version(struct sftp_server *s, struct buf *out)
{
	size_t mark, i;
	int rc;

	if ((rc = sftp_packet_begin(out, SSH_FXP_VERSION, &mark)) != 0 ||
	    (rc = sftp_put_u32(out, SFTP_VERSION)) != 0)
		return rc;
	for (i = 0; i < RG_ARRAY_LEN(advertised); i++)
		if ((rc = sftp_put_cstring(out, advertised[i].name)) != 0 ||
		    (rc = sftp_put_cstring(out, advertised[i].version)) != 0)
			return rc;
	sftp_packet_end(out, mark);
	return RG_OK;
}

/*
 * The one permission gate, in front of every handler: an operation that
 * writes is refused in a view that cannot write anywhere. Path-level rules
 * are the view's (view_resolve()), asked by each handler before it acts.
 */
static int
request_permitted(struct sftp_server *s, int does_write)
{
	return !does_write || view_can_write(s->view);
}

static int
refuse(struct sftp_server *s, uint32_t id, const char *name, int path_arg,
    struct sftp_rd *r, struct buf *out)
{
	const unsigned char *p = NULL;
	size_t n = 0;
	char vpath[SFTP_MAX_PATH], msg[160];
	struct vres res;
	struct stat st;

	vpath[0] = '\0';
	if (path_arg && (sftp_get_string(r, &p, &n) != 0 ||
	    view_normalise(vpath, sizeof(vpath), p, n) != 0))
		vpath[0] = '\0';
	/* Deleting what is not there is NO_SUCH_FILE in every view
	 * (WinSCP depends on it), not a denial. */
	if (vpath[0] != '\0' && (strcmp(name, "remove") == 0 ||
	    strcmp(name, "rmdir") == 0) &&
	    (view_resolve(s->view, p, n, VI_LOOKUP, &res, msg,
	    sizeof(msg)) != SSH_FX_OK ||
	    view_stat(s->view, &res, &st) != SSH_FX_OK))
		return sftp_reply_status(s, out, id, SSH_FX_NO_SUCH_FILE,
		    NULL);
	snprintf(msg, sizeof(msg), "Permission denied: %s in a read-only "
	    "view", name);
	return sftp_reply_denied(s, out, id, SSH_FX_PERMISSION_DENIED, msg,
	    vpath, NULL);
}

static int
dispatch_extended(struct sftp_server *s, uint32_t id, struct sftp_rd *r,
    struct buf *out)
{
	const unsigned char *p;
	size_t n, i;

	if (sftp_get_string(r, &p, &n) != 0)
		return sftp_reply_status(s, out, id, SSH_FX_BAD_MESSAGE, NULL);
	for (i = 0; i < RG_ARRAY_LEN(exts); i++) {
		if (strlen(exts[i].name) != n ||
		    memcmp(exts[i].name, p, n) != 0)
			continue;
		if (!request_permitted(s, exts[i].does_write))
			return refuse(s, id, exts[i].name, exts[i].path_arg,
			    r, out);
		return exts[i].handler(s, id, r, out);
	}
	return sftp_reply_status(s, out, id, SSH_FX_OP_UNSUPPORTED,
	    "Unsupported extension");
}

/* Handle one packet (payload without the length). */
static int
process_one(struct sftp_server *s, const unsigned char *p, size_t len,
    struct buf *out)
{
	struct sftp_rd r;
	uint8_t type;
	uint32_t id;
	size_t i;

	sftp_rd_init(&r, p, len);
	if (sftp_get_u8(&r, &type) != 0)
		return RG_EPROTO;
	if (type == SSH_FXP_INIT) {
		/* Any version: we speak 3. A repeated INIT is answered the
		 * same way and changes nothing. */
		if (sftp_get_u32(&r, &s->client_version) != 0)
			return RG_EPROTO;
		s->init_done = 1;
		return send_version(s, out);
	}
	if (!s->init_done) {
		log_debug("sftp: %s: request type %u before INIT",
		    s->info->user, type);
		return RG_EPROTO;
	}
	if (sftp_get_u32(&r, &id) != 0)
		return RG_EPROTO;
	if (type == SSH_FXP_EXTENDED)
		return dispatch_extended(s, id, &r, out);
	for (i = 0; i < RG_ARRAY_LEN(ops); i++) {
		if (ops[i].type != type)
			continue;
		if (type != SSH_FXP_READ && type != SSH_FXP_WRITE)
			log_debug("sftp: %s: %s (id %u)", s->info->user,
			    ops[i].name, id);
		if (!request_permitted(s, ops[i].does_write))
			return refuse(s, id, ops[i].name, ops[i].path_arg, &r,
			    out);
		return ops[i].handler(s, id, &r, out);
	}
	return sftp_reply_status(s, out, id, SSH_FX_OP_UNSUPPORTED,
	    "Unsupported request");
}

/* Handle one packet; on a fatal error no half-built reply is left in out. */
static int
process(struct sftp_server *s, const unsigned char *p, size_t len,
    struct buf *out)
{
	size_t mark = out->len;
	int rc;

	if ((rc = process_one(s, p, len, out)) < 0)
		out->len = mark;
	return rc;
}

/* ---- the seam --------------------------------------------------------- */

/* New SFTP server state for one channel. */
int
sftp_server_new(struct sftp_server **out, const struct sftp_session_info *info,
    struct diag *d)
{
	struct sftp_server *s;
	int rc, i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return RG_ENOMEM;
	s->info = info;
	for (i = 0; i < SFTP_MAX_HANDLES; i++)
		s->h[i].fd = -1;
	buf_init(&s->in, 4 + SFTP_MAX_PACKET);
	if ((rc = view_new(&s->view, info, d)) != 0) {
		free(s);
		return rc;
	}
	*out = s;
	return RG_OK;
}

/* Feed channel bytes; handle complete packets, append replies. */
int
sftp_server_input(struct sftp_server *s, const void *data, size_t len,
    struct buf *out)
{
	const unsigned char *p = data;
	uint32_t plen;
	size_t take;
	int rc;

	while (len > 0) {
		if (s->in.len == 0 && len >= 4) {
			/* Whole packets straight from the caller's bytes. */
			plen = sftp_load_u32(p);
			if (plen == 0 || plen > SFTP_MAX_PACKET)
				return RG_EPROTO;
			if (len - 4 >= plen) {
				if ((rc = process(s, p + 4, plen, out)) != 0)
					return rc;
				p += 4 + (size_t)plen;
				len -= 4 + (size_t)plen;
				continue;
			}
		}
		/* A partial packet: gather it in s->in. */
		take = s->in.len < 4 ? 4 - s->in.len : 0;
		if (take == 0) {
			plen = sftp_load_u32(s->in.data);
			take = 4 + (size_t)plen - s->in.len;
		}
		if (take > len)
			take = len;
		if ((rc = buf_append(&s->in, p, take)) != 0)
			return RG_EPROTO;
		p += take;
		len -= take;
		if (s->in.len < 4)
			continue;
		plen = sftp_load_u32(s->in.data);
		if (plen == 0 || plen > SFTP_MAX_PACKET)
			return RG_EPROTO;
		if (s->in.len == 4 + (size_t)plen) {
			rc = process(s, s->in.data + 4, plen, out);
			buf_reset(&s->in);
			if (rc != 0)
				return rc;
		}
	}
	return RG_OK;
}

/* The channel is gone: finish every handle (auditing what broke off). */
void
sftp_server_free(struct sftp_server *s)
{
	char msg[256];
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < SFTP_MAX_HANDLES; i++)
		if (s->h[i].type != H_FREE) {
			(void)sftp_handle_finish(s, &s->h[i], 1, msg,
			    sizeof(msg));
			sftp_handle_release(s, &s->h[i]);
		}
	view_free(s->view);
	buf_free(&s->in);
	free(s);
}
