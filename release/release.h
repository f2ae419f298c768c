/*
 * release/ — the release worker: the process relgated's master forks for
 * releases, and the queue through which sessions hand it work. It runs the
 * checks (checks/), judges against the release history (disclosure/),
 * keeps request state (state_store.h: SQLite today), packages, signs,
 * encrypts, publishes and expires releases, and sends the e-mail
 * notifications. Not network-facing: it alone holds the signing and
 * masking keys.
 */
#ifndef RG_RELEASE_H
#define RG_RELEASE_H

#include <stddef.h>

#include "common/common.h"

/* ---- release queue (queue.c; see docs/internals.md) ---------- */

/*
 * The queue is STATE/queue/: one small file per notification to the release
 * worker. Entry file names sort by time ("<usec:020>.<pid>.<n>.<kind>"), the
 * body holds "key=value" lines. Every field value is 1..QUEUE_FIELD_MAX-1
 * bytes of printable ASCII/UTF-8 without '/', newline or NUL, and not "."
 * or "..". The enqueue functions return only once the entry is durable
 * (file and folder fsynced).
 */
#define QUEUE_FIELD_MAX	256
#define QUEUE_NAME_MAX	96

enum queue_kind {
	QUEUE_SUBMIT = 1,	/* user, folder: request.yaml closed */
	QUEUE_WITHDRAW,		/* user, folder: request.yaml removed */
	QUEUE_DECISION,		/* request, user: decisions/USER.yaml stored */
	QUEUE_DOWNLOAD,		/* contract, release, user: whole .gpg read */
};

/* One entry as read back by the worker. */
struct queue_entry {
	char	name[QUEUE_NAME_MAX];	/* file name inside STATE/queue/ */
	enum queue_kind kind;
	char	user[QUEUE_FIELD_MAX];
	char	folder[QUEUE_FIELD_MAX];	/* submit, withdraw */
	char	request[QUEUE_FIELD_MAX];	/* decision */
	char	contract[QUEUE_FIELD_MAX];	/* download */
	char	release[QUEUE_FIELD_MAX];	/* download */
};

/* Queue a submission of spool/staff/USER/FOLDER (request.yaml closed). */
int	queue_submit(const char *state_dir, const char *user,
	    const char *folder, struct diag *d);
/* Queue a withdrawal of spool/staff/USER/FOLDER (request.yaml removed). */
int	queue_withdraw(const char *state_dir, const char *user,
	    const char *folder, struct diag *d);
/* Queue an approver's decision, stored as requests/ID/decisions/USER.yaml. */
int	queue_decision(const char *state_dir, const char *request_id,
	    const char *user, struct diag *d);
/* Queue one complete download of releases/CONTRACT/RELEASE.tar.zst.gpg. */
int	queue_download(const char *state_dir, const char *contract,
	    const char *release, const char *user, struct diag *d);

/*
 * List the entries of STATE/queue/ in name (= time) order. *out (free())
 * holds *n entries; entries that cannot be parsed are moved aside to
 * queue/bad/ and skipped. Temporary files are ignored.
 */
int	queue_list(struct queue_entry **out, size_t *n, const char *state_dir,
	    struct diag *d);
/* Remove one handled entry durably (unlink, fsync the folder). */
int	queue_remove(const char *state_dir, const struct queue_entry *e,
	    struct diag *d);
/* 1 when s is a valid queue field value (see above), else 0. */
int	queue_field_ok(const char *s);

/* ---- the worker (worker.c) -------------------------------------------- */

/*
 * The release worker: the process relgated's master forks for releases. It
 * is not network-facing; it alone opens the gateway's OpenPGP secret key
 * and the masking keys. It handles the queue (submissions, withdrawals,
 * decisions, downloads), runs the checks, packages, signs, encrypts and
 * publishes, and expires releases. On start it recovers requests a crash
 * interrupted. It runs until SIGTERM or SIGINT (SIGHUP reloads the config
 * directory) and returns a process exit status (0 on a clean stop).
 * The caller has set up logging; the worker installs its own handlers for
 * SIGTERM, SIGINT and SIGHUP.
 */
int	worker_run(const char *config_dir, const char *state_dir);
/*
 * Run the worker until the queue is empty and nothing is left to do, then
 * return 0 (or a negative RG_E* code). For tests and `--once` tools.
 */
int	worker_run_once(const char *config_dir, const char *state_dir,
	    struct diag *d);

#endif /* RG_RELEASE_H */
