/*
 * release/internal.h — pieces of the release worker shared between its
 * files. Internal to release/; the worker's public entry points and the
 * queue are in release/release.h.
 */
#ifndef RG_RELEASE_INTERNAL_H
#define RG_RELEASE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/common.h"

#define RG_ID_MAX	320	/* request and release IDs, contract IDs */
#define RG_NAME_MAX	256	/* user and folder names */

/* ---- the state (release/state_store.c; SQLite: state_sqlite.c) ------- */

/* Request states, as product.md names them. */
#define RQ_SUBMITTED	"submitted"
#define RQ_CHECKING	"checking"
#define RQ_FAILED	"failed"
#define RQ_AWAITING	"awaiting_approval"
#define RQ_APPROVED	"approved"
#define RQ_REJECTED	"rejected"
#define RQ_PUBLISHED	"published"
#define RQ_EXPIRED	"expired"
#define RQ_WITHDRAWN	"withdrawn"

struct state_db;

struct request_rec {
	char	id[RG_ID_MAX];
	char	submitter[RG_NAME_MAX];
	char	folder[RG_NAME_MAX];
	char	contract[RG_ID_MAX];	/* "" until known */
	char	dataset[RG_NAME_MAX];
	char	state[24];
	char	release[RG_ID_MAX];	/* "" until assigned */
	int64_t	rows;			/* -1 until checked */
	char	submitted[40];		/* RFC 3339 */
	char	updated[40];
	char	note[512];		/* failed: the rules; rejected: reason */
};

struct release_rec {
	char	id[RG_ID_MAX];
	char	contract[RG_ID_MAX];
	char	request[RG_ID_MAX];
	int64_t	rows;
	char	state[24];		/* reserved, approved, published,
					 * expired, void */
	char	published[40];		/* "" until published */
	long	expires_day;		/* days since epoch; -1 none */
	long	max_downloads;		/* -1 none */
	int64_t	downloads;
};

/* Open (creating) STATE/state.db. *out is the caller's. */
int	state_db_open(struct state_db **out, const char *state_dir,
	    struct diag *d);
/* Close; NULL-safe. */
void	state_db_close(struct state_db *db);
/* Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK). */
int	state_db_begin(struct state_db *db);
int	state_db_commit(struct state_db *db);
void	state_db_rollback(struct state_db *db);
/* The connection (sqlite3 *), for the history store (disclosure/), so its
 * records join this connection's transactions; NULL for a backend without
 * one (which then needs a history store of its own kind). */
void	*state_db_sqlite(struct state_db *db);

/*
 * Find the request made from spool folder (user, folder), or make a new one
 * in state `submitted` with the next ID of today (R-YYYYMMDD-NNNN). *created
 * says which. Idempotent: a repeated submission finds the same request.
 */
int	state_db_request_open(struct state_db *db, const char *user,
	    const char *folder, struct request_rec *out, int *created,
	    struct diag *d);
/* Find by (user, folder); RG_ENOENT when there is none. */
int	state_db_request_by_folder(struct state_db *db, const char *user,
	    const char *folder, struct request_rec *out);
/* Read one request by ID; RG_ENOENT when unknown. */
int	state_db_request_get(struct state_db *db, const char *id,
	    struct request_rec *out);
/* Store contract, dataset, state, release and rows of r (by r->id). */
int	state_db_request_put(struct state_db *db, const struct request_rec *r);
/* Mark a request's status files written for the state stored at time
 * `updated` (a later change is not marked). */
int	state_db_request_shown(struct state_db *db, const char *id,
	    const char *updated);
/* Requests changed since their status files were last written (a crash
 * in between). *ids (free()) holds *n. */
int	state_db_requests_unshown(struct state_db *db,
	    char (**ids)[RG_ID_MAX], size_t *n);
/* IDs of requests in one state, oldest first. *ids (free()) holds *n. */
int	state_db_requests_in(struct state_db *db, const char *state,
	    char (**ids)[RG_ID_MAX], size_t *n);

/* Record one approval; RG_EEXIST when this approver already approved. */
int	state_db_approval_add(struct state_db *db, const char *request,
	    const char *approver, const char *reason);
/* Approvers of a request in order, as a comma-free list: names[i] into
 * out[i] (at most max). Returns the count via *n. */
int	state_db_approvals(struct state_db *db, const char *request,
	    char (*out)[RG_NAME_MAX], size_t max, size_t *n);

/* Rows and releases so far under a contract's dataset: releases approved,
 * published or expired (not those only reserved for a request awaiting
 * approval, nor void ones). */
int	state_db_contract_totals(struct state_db *db, const char *contract,
	    const char *dataset, int64_t *rows, int64_t *releases);
/* Reserve the next release ID of a contract (CONTRACT-ID-NNN) for a
 * request being checked, state `reserved`; idempotent per request (returns
 * the existing one). Then `approved`, `published`, `expired`, or `void`
 * (rejected or withdrawn: the number is not reused). */
int	state_db_release_assign(struct state_db *db, const char *contract,
	    const char *dataset, const char *request, int64_t rows,
	    char id[RG_ID_MAX], struct diag *d);
/* Forget a `reserved` release ID whose request failed its checks. */
int	state_db_release_drop(struct state_db *db, const char *id);
/* Read one release; RG_ENOENT when unknown. */
int	state_db_release_get(struct state_db *db, const char *id,
	    struct release_rec *out);
/* Mark published with its retention limits. */
int	state_db_release_published(struct state_db *db, const char *id,
	    const char *time, long expires_day, long max_downloads);
/* Set a release's state (e.g. "expired"). */
int	state_db_release_set_state(struct state_db *db, const char *id,
	    const char *state);
/* Count one complete download, once per queue entry; *count is the total. */
int	state_db_download_add(struct state_db *db, const char *release,
	    const char *entry, const char *user, int64_t *count);
/* Published releases due to expire on `today` (by days or downloads).
 * *ids (free()) holds *n. */
int	state_db_releases_due(struct state_db *db, long today,
	    char (**ids)[RG_ID_MAX], size_t *n);

/* Record the fingerprint file of a release's tokens (see worker_tokens.c). */
int	state_db_tokens_add(struct state_db *db, const char *contract,
	    const char *release, const char *path, int64_t count);
/* Fingerprint files of every contract other than `contract`.
 * *paths (free()) holds *n. */
int	state_db_tokens_others(struct state_db *db, const char *contract,
	    char (**paths)[1024], size_t *n);

/* The outbox of e-mail notifications (release/notify*.c). A message is
 * queued, then sent or failed (given up); audited says whether its
 * notify.sent / notify.failed record is written. */
struct outbox_rec {
	int64_t	id;
	char	event[32];
	char	user[RG_NAME_MAX];
	char	addr[256];
	char	contract[RG_ID_MAX];
	char	request[RG_ID_MAX];
	char	release[RG_ID_MAX];
	char	subject[256];
	char	body[4096];
	int64_t	created;		/* unix seconds */
	char	state[12];		/* queued, sent, failed */
	int	tries;
	int64_t	next_try;		/* unix seconds */
	char	error[512];		/* the relay's last error */
};

/* Queue one message; an existing (key, m->user) is kept (RG_OK too). */
int	state_db_outbox_add(struct state_db *db, const char *key,
	    const struct outbox_rec *m);
/* Up to max queued messages due at `now` (oldest first), or, with
 * unaudited set, sent or failed ones whose record is not yet written.
 * *v (free()) holds *n. */
int	state_db_outbox_list(struct state_db *db, int64_t now, int unaudited,
	    size_t max, struct outbox_rec **v, size_t *n);
/* A send ended: state `sent` or `failed` (audited = 0), or `queued` again
 * with next_try; tries and error as given. */
int	state_db_outbox_update(struct state_db *db, int64_t id,
	    const char *state, int tries, int64_t next_try, const char *error);
/* Its notify.* record is written. */
int	state_db_outbox_audited(struct state_db *db, int64_t id);
/* Releases published that expire on a day in [from, to]. */
int	state_db_releases_expiring(struct state_db *db, long from, long to,
	    char (**ids)[RG_ID_MAX], size_t *n);

/* The backends' interface behind these functions. */
#include "release/state_store.h"

/* ---- packages (release/package.c) ------------------------------------ */

#define PACKAGE_HEAD_MAX	(8u << 20)	/* manifest + sums, as tar */

struct stage;

/* Create a staging .tar.zst at path; threads > 0 lets zstd compress on
 * that many threads beside the caller. *out is the caller's. */
int	stage_open(struct stage **out, const char *path, int threads,
	    struct diag *d);
/* Start a regular-file entry of exactly size bytes. */
int	stage_entry_begin(struct stage *s, const char *name, int64_t size,
	    time_t mtime, struct diag *d);
/* Append entry data. */
int	stage_entry_write(struct stage *s, const void *p, size_t n,
	    struct diag *d);
/* Finish the current entry. */
int	stage_entry_end(struct stage *s, struct diag *d);
/* End the archive, fsync, close and free s. */
int	stage_close(struct stage *s, struct diag *d);
/* Free s without finishing and remove the file; NULL-safe. */
void	stage_abort(struct stage *s);

/* A small file of the head frame. */
struct package_file {
	const char *name;		/* path inside the tar */
	const void *data;
	size_t	len;
};

/* The head frame (zstd) of a package: the files as tar entries without the
 * end-of-archive blocks, to be followed by the stage. */
int	package_head(struct buf *out, const struct package_file *files,
	    size_t n, time_t mtime, struct diag *d);

/* ---- the check pass's I/O thread (release/worker_io.c) -------------- */

#define IO_RING		8		/* buffers */
#define IO_CHUNK	(1u << 20)	/* bytes a buffer */

struct io_thread {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int	fd;
	uint64_t size;			/* the file's size at open */
	void	*sha;			/* EVP_MD_CTX */
	struct stage *stage;
	unsigned char *buf[IO_RING];
	size_t	len[IO_RING];
	uint64_t filled, fed;		/* buffers read, taken by the checker */
	uint64_t got;			/* bytes read */
	int	quit, started;
	int	ended;			/* no more buffers: end or error */
	int	read_errno;		/* read failed */
	int	changed;		/* more bytes than at open */
	int	stopped;		/* worker_stop_flag */
	int	failed;			/* staging failed: see diag */
	struct diag diag;
};

/* Start the I/O thread on fd (size bytes at open) with its ring: hash
 * into sha (an EVP_MD_CTX), stage into stage. h is zeroed first. */
int	io_start(struct io_thread *h, int fd, uint64_t size, void *sha,
	    struct stage *stage);
/* The next buffer read (*len bytes), waiting for it; NULL once there is
 * none (end of file or an error: see the flags after io_stop()). */
const unsigned char *io_next(struct io_thread *h, size_t *len);
/* The checking thread is done with the buffer from io_next(). */
void	io_release(struct io_thread *h);
/* Stop the thread, free the ring; NULL-safe, idempotent (also on a
 * zeroed h that was never started). */
void	io_stop(struct io_thread *h);

/* ---- token fingerprints (release/worker_tokens.c) -------------------- */

/* A growable set of 64-bit token fingerprints, sorted before use. */
struct fpset {
	uint64_t *v;
	size_t	n, cap;
};

/* Fingerprint of one token: for a 64-hex token the XOR-fold of its 32
 * bytes, else of its SHA-256. */
uint64_t token_fingerprint(const char *tok, size_t len);
/* Add one fingerprint; RG_ENOMEM. */
int	fpset_add(struct fpset *s, uint64_t fp);
/* Add n fingerprints at once; RG_ENOMEM, RG_ETOOBIG. */
int	fpset_append(struct fpset *s, const uint64_t *v, size_t n);
/* Sort and drop repeats. */
void	fpset_finish(struct fpset *s);
/* Free storage; NULL-safe. */
void	fpset_free(struct fpset *s);
/* Write a sorted set durably to path (8-byte big-endian values). */
int	fpset_write(const struct fpset *s, const char *path, struct diag *d);
/* Count the members of sorted s also in the sorted file at path,
 * streaming the file. */
int	fpset_overlap_file(const struct fpset *s, const char *path,
	    int64_t *count, struct diag *d);
/* Read a fingerprint file back into s (sorted). */
int	fpset_read(struct fpset *s, const char *path, struct diag *d);

/* ---- the worker (release/worker*.c) --------------------------------- */

struct config_dir;
struct contract;
struct dataset;
struct audit;
struct audit_event;
struct notify_sender;

struct worker {
	char	config_dir[1024];
	char	state_dir[1024];
	struct config_dir *cd;
	struct state_db *db;
	struct audit *audit;
	int	threads;		/* zstd threads beside the check pass */
	struct notify_sender *notify;	/* NULL in --once runs */
};

/* Stop requested (SIGTERM/SIGINT): long passes give up and leave the
 * request to recovery. */
extern volatile int worker_stop_flag;

/* Append an audit record durably; logs and returns the error. */
int	worker_audit(struct worker *w, const struct audit_event *ev);
/*
 * Modes: what sessions read (status.json, report.txt, meta.json,
 * request.yaml, releases) is group-readable when relgated runs the worker
 * in the sessions' group under run_as (docs/internals.md); everything else,
 * and everything without run_as, is owner-only: worker_umask_set() takes
 * the group bits away then (files and the folders worker_mkdir makes).
 */
#define WORKER_SHARED_FILE	0640
#define WORKER_SHARED_DIR	0750
#define WORKER_DECISIONS_DIR	0770	/* sessions store decisions there */

/* Set the worker's umask: 027 when it runs as root under another group
 * (relgated with run_as), else 077. */
void	worker_umask_set(void);

/*
 * Start writeback of what was written to fd since *kicked once 8 MiB have
 * gathered (off is the file size so far), so that the fsync before a
 * rename finds little left to write. Best effort.
 */
void	worker_writeback(int fd, uint64_t off, uint64_t *kicked);

/* mkdir -p, then set exactly mode on the last component. */
int	worker_mkdir(const char *path, mode_t mode);
/* Path helpers: snprintf into out; RG_EINVAL when it does not fit. */
int	worker_path(char *out, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* worker_check.c: a submission (queue entry) and the check pass. */
int	worker_submit(struct worker *w, const char *user, const char *folder);
/* Check a request again from the start (recovery of `checking`). */
int	worker_check(struct worker *w, const char *request_id);
/* worker_publish.c */
int	worker_withdraw(struct worker *w, const char *user, const char *folder);
int	worker_decision(struct worker *w, const char *request_id,
	    const char *user);
/* Package, sign, encrypt and publish an approved request (idempotent). */
int	worker_publish(struct worker *w, const char *request_id);
/* worker_history.c: the release history at approval (judge again, write
 * the merged history; *ok 0 with the failing rule) and at publication
 * (recorded in the transaction that marks the release published). */
int	worker_history_confirm(struct worker *w, const struct request_rec *r,
	    const struct contract *c, const struct dataset *ds, int *ok,
	    char *rule, size_t rlen, char *why, size_t wlen);
int	worker_history_publish(struct worker *w, const struct request_rec *r,
	    const struct contract *c, long expires_day, const char *now);
/* Count a complete download; expire at max_downloads. */
int	worker_download(struct worker *w, const char *entry,
	    const char *contract, const char *release, const char *user);
/* Expire releases past download_days or max_downloads. */
int	worker_expire_due(struct worker *w);
/* worker_approver.c: the approvers' view of a request beyond its status
 * files. Link the extract files doc names into requests/ID/files/. */
struct request_doc;
/* At start: worker_extracts_link() for every request awaiting approval. */
void	worker_extracts_link_waiting(struct worker *w);
int	worker_extracts_link(struct worker *w, const struct request_rec *r,
	    const struct request_doc *doc);
/* A decision not taken: approval.invalid, and decisions/USER.error. */
int	worker_decision_refused(struct worker *w, const struct request_rec *r,
	    const char *user, const char *reason);
/* worker_status.c: rewrite status.json and report.txt in requests/ID/ and
 * the spool folder. */
int	worker_status_write(struct worker *w, const struct request_rec *r);
/* Set a request's state (and note), store it, rewrite its status files. */
int	worker_set_state(struct worker *w, struct request_rec *r,
	    const char *state, const char *note);

#endif /* RG_RELEASE_INTERNAL_H */
