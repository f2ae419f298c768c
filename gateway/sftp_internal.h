/*
 * gateway/sftp_internal.h — pieces of the SFTP v3 layer shared between its
 * files (codec, server, views). Not for use outside gateway/sftp_* and
 * gateway/view*.
 */
#ifndef RG_GATEWAY_SFTP_INTERNAL_H
#define RG_GATEWAY_SFTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/common.h"
#include "gateway/sftp.h"

/* ---- protocol numbers (draft-ietf-secsh-filexfer-02, version 3) ------ */

#define SFTP_VERSION		3

#define SSH_FXP_INIT		1
#define SSH_FXP_VERSION		2
#define SSH_FXP_OPEN		3
#define SSH_FXP_CLOSE		4
#define SSH_FXP_READ		5
#define SSH_FXP_WRITE		6
#define SSH_FXP_LSTAT		7
#define SSH_FXP_FSTAT		8
#define SSH_FXP_SETSTAT		9
#define SSH_FXP_FSETSTAT	10
#define SSH_FXP_OPENDIR		11
#define SSH_FXP_READDIR		12
#define SSH_FXP_REMOVE		13
#define SSH_FXP_MKDIR		14
#define SSH_FXP_RMDIR		15
#define SSH_FXP_REALPATH	16
#define SSH_FXP_STAT		17
#define SSH_FXP_RENAME		18
#define SSH_FXP_READLINK	19
#define SSH_FXP_SYMLINK		20
#define SSH_FXP_STATUS		101
#define SSH_FXP_HANDLE		102
#define SSH_FXP_DATA		103
#define SSH_FXP_NAME		104
#define SSH_FXP_ATTRS		105
#define SSH_FXP_EXTENDED	200
#define SSH_FXP_EXTENDED_REPLY	201

#define SSH_FX_OK		0
#define SSH_FX_EOF		1
#define SSH_FX_NO_SUCH_FILE	2
#define SSH_FX_PERMISSION_DENIED 3
#define SSH_FX_FAILURE		4
#define SSH_FX_BAD_MESSAGE	5
#define SSH_FX_NO_CONNECTION	6
#define SSH_FX_CONNECTION_LOST	7
#define SSH_FX_OP_UNSUPPORTED	8

#define SSH_FXF_READ		0x01
#define SSH_FXF_WRITE		0x02
#define SSH_FXF_APPEND		0x04
#define SSH_FXF_CREAT		0x08
#define SSH_FXF_TRUNC		0x10
#define SSH_FXF_EXCL		0x20

#define SSH_FILEXFER_ATTR_SIZE		0x01
#define SSH_FILEXFER_ATTR_UIDGID	0x02
#define SSH_FILEXFER_ATTR_PERMISSIONS	0x04
#define SSH_FILEXFER_ATTR_ACMODTIME	0x08
#define SSH_FILEXFER_ATTR_EXTENDED	0x80000000u

/* ---- limits ----------------------------------------------------------- */

#define SFTP_MAX_DATA		(256u * 1024)	/* READ/WRITE length */
#define SFTP_MAX_PACKET		SFTP_PACKET_MAX	/* after the length */
#define SFTP_MAX_HANDLES	128
#define SFTP_MAX_PATH		4096	/* client path bytes */
#define SFTP_MAX_NAME		255	/* one component */
#define SFTP_MAX_ATTR_EXT	64	/* extended attr pairs we skip */
#if SFTP_PACKET_MAX != SFTP_MAX_DATA + 1024
#error "SFTP_PACKET_MAX must be SFTP_MAX_DATA + 1024"
#endif

/* ---- codec (sftp_codec.c): a read cursor over a packet ---------------- */

struct sftp_rd {
	const unsigned char *p;
	size_t	len;
	size_t	off;
};

struct sftp_attrs {
	uint32_t flags;
	uint64_t size;
	uint32_t uid, gid;
	uint32_t perm;
	uint32_t atime, mtime;
};

/* Start reading len bytes at p. */
void	sftp_rd_init(struct sftp_rd *r, const void *p, size_t len);
/* Bytes not read yet. */
size_t	sftp_rd_left(const struct sftp_rd *r);
/* Each getter returns 0, or RG_EPARSE when the packet is too short (the
 * cursor then stays where it was). */
int	sftp_get_u8(struct sftp_rd *r, uint8_t *v);
int	sftp_get_u32(struct sftp_rd *r, uint32_t *v);
int	sftp_get_u64(struct sftp_rd *r, uint64_t *v);
/* A string: *p points into the packet (not NUL-terminated), *n its length. */
int	sftp_get_string(struct sftp_rd *r, const unsigned char **p, size_t *n);
/* Attributes (v3 layout); extended pairs are skipped (capped). */
int	sftp_get_attrs(struct sftp_rd *r, struct sftp_attrs *a);

/* Writers append to b; RG_ETOOBIG past its cap. */
int	sftp_put_u8(struct buf *b, uint8_t v);
int	sftp_put_u32(struct buf *b, uint32_t v);
int	sftp_put_u64(struct buf *b, uint64_t v);
int	sftp_put_string(struct buf *b, const void *p, size_t n);
int	sftp_put_cstring(struct buf *b, const char *s);
int	sftp_put_attrs(struct buf *b, const struct sftp_attrs *a);
/* Begin a reply packet (length placeholder + type); its start into *mark. */
int	sftp_packet_begin(struct buf *b, uint8_t type, size_t *mark);
/* Patch the length of the packet begun at mark. */
void	sftp_packet_end(struct buf *b, size_t mark);
/* Store v big-endian at p / read it from p. */
void	sftp_store_u32(unsigned char *p, uint32_t v);
uint32_t sftp_load_u32(const unsigned char *p);
/* Fill attrs from a struct stat (size, uid/gid, permissions, times). */
void	sftp_attrs_from_stat(struct sftp_attrs *a, const struct stat *st);
/* ls -l style long name for a NAME entry into out. */
void	sftp_longname(char *out, size_t len, const char *name,
	    const struct stat *st, const char *owner);

/* ---- views (view.c, view_open.c) ------------------------------------- */

/* What a client path is in the user's view. */
enum vnode_kind {
	VN_NONE = 0,		/* does not exist for this user */
	VN_ROOT,		/* synthetic "/" */
	VN_SYNTH_DIR,		/* synthetic folder (/approvals, /releases, ...) */
	VN_REAL,		/* beneath a real root (rootfd + rel) */
};

/* The area of the view a path is in. */
enum varea {
	VA_NONE = 0, VA_REQUESTS, VA_APPROVALS, VA_RELEASES, VA_AUDIT
};

/* What the caller wants to do; view_resolve() applies the policy. */
enum vintent {
	VI_LOOKUP,		/* stat, open for read, opendir */
	VI_WRITE,		/* open for write, create, setstat */
	VI_REMOVE,		/* remove a file */
	VI_MKDIR,
	VI_RMDIR,
};

/* Special meanings of a path, for side effects. */
enum vspecial {
	VS_NONE = 0,
	VS_REQUEST_YAML,	/* /requests/NAME/request.yaml */
	VS_DECISION,		/* /approvals/ID/decision.yaml */
	VS_RELEASE_GPG,		/* /releases/CID/REL.tar.zst.gpg */
};

struct vres {
	enum vnode_kind kind;
	enum varea area;
	enum vspecial special;
	int	rootfd;			/* borrowed; -1 for synthetic nodes */
	char	rel[SFTP_MAX_PATH];	/* beneath rootfd; "." for the root */
	char	vpath[SFTP_MAX_PATH];	/* normalised client path */
	char	name1[SFTP_MAX_NAME + 1];	/* folder / request / contract */
	char	leaf[SFTP_MAX_NAME + 1];	/* last component */
	unsigned depth;			/* components below the area */
	int	submitted;		/* staff: the folder is submitted */
	const char *role;		/* for the audit trail */
	const char *contract;		/* approvals/releases: borrowed */
};

struct view;

/* Build the view of info's user (opens root folders, creating the staff
 * spool folder). *out is the caller's (view_free()). */
int	view_new(struct view **out, const struct sftp_session_info *info,
	    struct diag *d);
void	view_free(struct view *v);
/*
 * Normalise a client path (relative to "/", "." and ".." resolved within
 * the view, "//" collapsed) into out (at most SFTP_MAX_PATH). RG_EINVAL for
 * NUL or control characters, RG_ETOOBIG for too long a path or name.
 */
int	view_normalise(char *out, size_t outlen, const unsigned char *p,
	    size_t n);
/*
 * Map a client path to what it is for this user and whether intent is
 * allowed there. Returns an SSH_FX_* status (OK, NO_SUCH_FILE,
 * PERMISSION_DENIED, FAILURE) and a message into msg.
 */
int	view_resolve(struct view *v, const unsigned char *p, size_t n,
	    enum vintent intent, struct vres *res, char *msg, size_t msglen);
/* Whether res is in a staff request folder that is submitted by now (by
 * this or another session). */
int	view_request_submitted(const struct vres *res);
/* Whether this view may write anywhere at all (for the permission gate). */
int	view_can_write(const struct view *v);
/* Attributes of a resolved path as the client sees them: SSH_FX_OK, or
 * NO_SUCH_FILE (also for symlinks, FIFOs, devices and sockets). */
int	view_stat(struct view *v, const struct vres *res, struct stat *st);
/* Names of a synthetic folder: calls cb per entry with a stat (0 ok). */
int	view_list_synth(struct view *v, const struct vres *res,
	    int (*cb)(void *arg, const char *name, const struct stat *st),
	    void *arg);
/* For real folders: whether an entry name is shown in a listing. */
int	view_entry_visible(const struct view *v, const struct vres *dir,
	    int dirfd, const char *name, struct stat *st);
/* The user and the session info. */
const struct sftp_session_info *view_info(const struct view *v);
/* A folder fd to statvfs for this view. */
int	view_statvfs_fd(const struct view *v);
/* Read a small regular file beneath rootfd into buf (at most cap bytes);
 * its length, or -1. */
ssize_t	view_read_small(int rootfd, const char *rel, char *buf, size_t cap);
/* Open the folder holding rel beneath rootfd (O_RDONLY, for *at() calls
 * and fsync); the last component into *leaf (points into rel). */
int	view_open_parent(int rootfd, const char *rel, const char **leaf);
/* fd of the state directory itself (borrowed, O_PATH) or -1. */
int	view_state_fd(const struct view *v);

/* Open rel beneath rootfd without following any symlink (openat2
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS, or a walk
 * with O_NOFOLLOW). Returns an fd or -1 with errno set. */
int	view_openat(int rootfd, const char *rel, int flags, mode_t mode);
/* fstatat-like: stat rel beneath rootfd without following symlinks
 * (the last component is not followed either). 0 or -1/errno. */
int	view_statat(int rootfd, const char *rel, struct stat *st);
/* Test hook: force the component-walk fallback (1) or openat2 (0). */
void	view_force_walk(int on);
/* Read a top-level string member of a small JSON object into out;
 * 0, or RG_ENOENT when absent or not a string. */
int	view_json_string(const char *json, size_t len, const char *key,
	    char *out, size_t outlen);

/* ---- server state (sftp_server.c, sftp_ops.c) ------------------------ */

enum htype { H_FREE = 0, H_FILE, H_DIR };

struct dir_entry {
	char	*name;
	struct stat st;
};

/* One open handle. The client sees "index, generation" (8 bytes). */
struct handle {
	enum htype type;
	uint32_t gen;
	struct vres *res;		/* what was opened (owned) */
	int	fd;			/* files; -1 for folders */
	/* folders: a real one is read with dp, a synthetic one from ents */
	void	*dp;			/* DIR * */
	struct dir_entry *ents;
	size_t	n_ents, pos;
	int	dir_eof;
	/* files */
	int	readable, writable, append;
	int	created;		/* opened with O_CREAT */
	uint64_t bytes;			/* read or written through it */
	uint64_t contig;		/* bytes [0, contig) read or written */
	uint64_t size_at_open;
	int	reached_eof;
	uint64_t unflushed;		/* written since writeback was started */
};

struct sftp_server {
	const struct sftp_session_info *info;
	struct view *view;
	int	init_done;
	uint32_t client_version;
	struct buf in;			/* a partial packet */
	struct handle h[SFTP_MAX_HANDLES];
	uint32_t gen;
	unsigned n_open;
};

/* Reply helpers (sftp_server.c). They return 0 or a negative code when out
 * is full (fatal for the session). */
int	sftp_reply_status(struct sftp_server *s, struct buf *out, uint32_t id,
	    uint32_t code, const char *msg);
/* A status for a path the view answered about; PERMISSION_DENIED is
 * audited as access.denied with the path asked for. */
int	sftp_reply_denied(struct sftp_server *s, struct buf *out, uint32_t id,
	    uint32_t code, const char *msg, const char *vpath,
	    const struct vres *res);
/* Map errno of a failed file operation to a status and message. */
uint32_t sftp_errno_status(int err, int writing, char *msg, size_t len);
/* New handle for res (ownership of res passes in); index or -1. */
int	sftp_handle_new(struct sftp_server *s, enum htype type,
	    struct vres *res);
/* Look up a handle string of type t; NULL when invalid. */
struct handle *sftp_handle_get(struct sftp_server *s,
	    const unsigned char *p, size_t n, enum htype t);
/* Handle string (8 bytes) of index i into out. */
void	sftp_handle_wire(const struct sftp_server *s, int i,
	    unsigned char out[8]);
/* Release a handle's resources (no side effects). */
void	sftp_handle_release(struct sftp_server *s, struct handle *h);
/* 1 when some write handle of this session is open on rootfd-relative rel. */
int	sftp_open_for_write(const struct sftp_server *s, const char *rel);

/* Helpers shared by sftp_ops.c and sftp_tree.c. */
int	sftp_get_resolved(struct sftp_server *s, struct sftp_rd *r,
	    enum vintent intent, struct vres *res, char *msg, size_t len,
	    int *bad);
int	sftp_reply_handle(struct sftp_server *s, struct buf *out, uint32_t id,
	    int i);
ssize_t	sftp_read_back(int fd, char *buf, size_t cap);

/* The operations (sftp_ops.c, sftp_tree.c); each reads its arguments from r. They
 * return 0 with a reply in out, or a negative code (fatal). */
int	sftp_op_open(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_close(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_read(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_write(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_stat(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_fstat(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_setstat(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_fsetstat(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_opendir(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_readdir(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_remove(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_mkdir(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_rmdir(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_realpath(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_rename(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_posix_rename(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_statvfs(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_fstatvfs(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
int	sftp_op_fsync(struct sftp_server *, uint32_t, struct sftp_rd *,
	    struct buf *);
/* Close a handle with its side effects (upload/download audit, submission,
 * decision, download count). broken: the channel went away. Fills msg;
 * returns an SSH_FX_* status. */
uint32_t sftp_handle_finish(struct sftp_server *s, struct handle *h,
	    int broken, char *msg, size_t len);

/* ---- side effects (sftp_side.c) -------------------------------------- */

/*
 * Submission of /requests/NAME (res of its request.yaml; data its bytes):
 * check, [rename from_rel onto request.yaml], marker, queue, audit.
 * from_rel (beneath the same root) is NULL unless a rename submits.
 * SSH_FX_OK, or FAILURE with the reason in msg and nothing queued.
 */
uint32_t sftp_submit(struct sftp_server *s, const struct vres *res,
	    const char *data, size_t len, const char *from_rel, char *msg,
	    size_t msglen);
/*
 * A request.yaml that cannot be taken (res: its path in /requests/NAME;
 * contract: as it names it, or NULL): audited request.invalid with the
 * reason, which is also written to status.json (state "invalid") and
 * report.txt of the folder.
 */
void	sftp_request_refused(struct sftp_server *s, const struct vres *res,
	    const char *contract, const char *reason);
/* Withdrawal by REMOVE of a submitted request.yaml. */
uint32_t sftp_withdraw(struct sftp_server *s, const struct vres *res,
	    char *msg, size_t msglen);
/* A decision.yaml upload finished: parse, store, queue. One that cannot
 * be taken is refused with the reason in msg, in decisions/USER.error
 * (/approvals/ID/decision.error) and audited approval.invalid. */
uint32_t sftp_decision(struct sftp_server *s, struct handle *h,
	    char *msg, size_t msglen);

/* The SHA-256 of bytes in memory as 64 hex digits; 0, or -1. */
int	sftp_sha256_hex(const void *data, size_t len, char hex[65]);

/* Append an audit event for this session (NULL audit: no-op). */
int	sftp_audit(const struct sftp_session_info *info, const char *type,
	    const char *outcome, const struct vres *res, int64_t bytes,
	    const char *sha256, const char *detail);

#endif /* RG_GATEWAY_SFTP_INTERNAL_H */
