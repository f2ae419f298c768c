/*
 * audit/ — the tamper-evident audit trail. Every process appends through
 * this one library; records are hash-chained (SHA-256 over a canonical
 * encoding of the record and its predecessor's hash) and the chain is
 * signed with the gateway's OpenPGP key at checkpoints.
 *
 * audit_append() returns only once the record is durable: the action it
 * describes may then go ahead. No cell value of an extract ever enters it.
 */
#ifndef RG_AUDIT_H
#define RG_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* One event as the caller describes it. NULL strings and -1 numbers mean
 * "absent". type is a stable name ("auth.login", ...); outcome is "ok",
 * "denied" or "failed". */
struct audit_event {
	const char *type;
	const char *outcome;
	const char *user;
	const char *role;
	const char *source;	/* "address:port session-id" */
	const char *contract;
	const char *request;
	const char *release;
	const char *path;
	int64_t	bytes;
	const char *sha256;
	int64_t	rows;
	const char *detail;
};

/* Initialise an event with every field absent. */
void	audit_event_init(struct audit_event *ev, const char *type,
	    const char *outcome);

struct audit;

/*
 * Open the audit log of a state directory for appending (and reading).
 * *out is the caller's (audit_close()).
 */
int	audit_open(struct audit **out, const char *state_dir, struct diag *d);
/*
 * The same, but only through the audit writer's socket, never by opening
 * the log itself: for processes that parse network bytes (their sandbox
 * has no access to the log). Fails when the writer does not answer, and
 * audit_append() fails while it is gone, so the action is refused.
 */
int	audit_open_writer(struct audit **out, const char *state_dir,
	    struct diag *d);
/* Append one record durably; its sequence number into *seq (may be NULL). */
int	audit_append(struct audit *a, const struct audit_event *ev,
	    uint64_t *seq);
/* Close; NULL-safe. */
void	audit_close(struct audit *a);

/* ---- records as stored (additive API: review, verify, export) -------- */

#define AUDIT_HASH_HEX	64	/* SHA-256 as lowercase hex, without NUL */

/* One stored record. Strings are owned by the record (audit_record_clear()),
 * NULL when absent; bytes/rows are -1 when absent. */
struct audit_record {
	uint64_t seq;
	char	time[32];
	char	*type;
	char	*outcome;
	char	*user;
	char	*role;
	char	*source;
	char	*contract;
	char	*request;
	char	*release;
	char	*path;
	int64_t	bytes;
	char	*sha256;
	int64_t	rows;
	char	*detail;
	char	prev[AUDIT_HASH_HEX + 1];
	char	hash[AUDIT_HASH_HEX + 1];
};

/* Free the strings of a record and reset it; NULL-safe. */
void	audit_record_clear(struct audit_record *r);
/* Append r as one JSON object (product.md field names, null when absent,
 * no newline) to b. */
int	audit_record_json(const struct audit_record *r, struct buf *b);
/* Append r as one CSV line (with "\r\n"), and the header line. */
int	audit_record_csv(const struct audit_record *r, struct buf *b);
int	audit_csv_header(struct buf *b);
/* Recompute the hash of r (with r->prev) into out[65]. */
int	audit_record_hash(const struct audit_record *r,
	    char out[AUDIT_HASH_HEX + 1]);

/* Filters for audit_query(); NULL/0 means "any". since/until compare
 * with the record time: "YYYY-MM-DD" or a full RFC 3339 UTC time;
 * until is exclusive for a full time and inclusive for a date. */
struct audit_filter {
	const char *since;
	const char *until;
	const char *user;
	const char *contract;
	const char *type;
	const char *outcome;
	uint64_t after_seq;	/* only records with seq > after_seq */
	uint64_t limit;		/* 0: no limit */
};

/* Called for each record in seq order; return non-zero to stop (that
 * value is returned by audit_query()). The record is borrowed. */
typedef int (*audit_record_cb)(const struct audit_record *r, void *ctx);

/* Open read-only: RG_ENOENT when the state directory has no audit log. */
int	audit_open_readonly(struct audit **out, const char *state_dir,
	    struct diag *d);
/* Visit the records that pass f, in seq order. */
int	audit_query(struct audit *a, const struct audit_filter *f,
	    audit_record_cb cb, void *ctx, struct diag *d);
/* Read one record into *r (audit_record_clear() it); RG_ENOENT if none. */
int	audit_get(struct audit *a, uint64_t seq, struct audit_record *r,
	    struct diag *d);
/* The last sequence number (0 when the log is empty). */
int	audit_last_seq(struct audit *a, uint64_t *seq, struct diag *d);

/* Sign a checkpoint now: append a log.checkpoint record and sign its hash
 * with the gateway key (which must already exist). */
int	audit_checkpoint(struct audit *a, const char *why, struct diag *d);
/* Records between automatic checkpoints (product.md checkpoint_every;
 * default 1000; 0 turns them off for this handle). Automatic checkpoints
 * are signed only by a handle that may sign (audit_set_signing()). */
void	audit_set_checkpoint_every(struct audit *a, uint64_t n);
/* Let this handle sign checkpoints with the gateway key (only the audit
 * writer and tools that hold the key). */
void	audit_set_signing(struct audit *a, int on);
/* Forward each record this handle appends to the syslog unix datagram
 * socket at path (e.g. "/dev/log") as RFC 5424 structured data; NULL
 * turns it off. */
int	audit_set_syslog(struct audit *a, const char *path, struct diag *d);

/* ---- verification ----------------------------------------------------- */

struct audit_verify_result {
	int	ok;			/* 1 when everything verified */
	uint64_t records;		/* records read */
	uint64_t last_seq;
	char	last_hash[AUDIT_HASH_HEX + 1];
	uint64_t checkpoints;		/* signed checkpoints verified */
	uint64_t last_checkpoint;	/* seq of the last signed checkpoint */
	uint64_t pending;		/* checkpoint records not yet signed */
	uint64_t bad_seq;		/* first bad record when !ok */
	char	reason[256];		/* why, when !ok */
	char	time[32];		/* when the verification ran */
};

/*
 * Verify the whole chain of state_dir: sequence without gaps, each prev
 * equal to its predecessor's hash, each hash equal to the hash of its
 * contents, each checkpoint signature good, nothing cut off after a signed
 * checkpoint. Returns 0 when the check could run (see res->ok), a negative
 * code when it could not.
 */
int	audit_verify(const char *state_dir, struct audit_verify_result *res,
	    struct diag *d);
/* The human text of a result (verify.txt and `relgate audit verify`). */
int	audit_verify_text(const struct audit_verify_result *res,
	    struct buf *out);

/* ---- officer view (STATE_DIR/audit-export/) --------------------------- */

/* Rewrite audit-export/DAY.jsonl (DAY is YYYY-MM-DD) durably. */
int	audit_export_day(const char *state_dir, const char *day,
	    struct diag *d);
/* Bring every day file up to date with the log (rewrites the days that
 * have records not yet exported). */
int	audit_export_sync(const char *state_dir, struct diag *d);
/* Write audit-export/verify.txt durably from a result. */
int	audit_export_verify(const char *state_dir,
	    const struct audit_verify_result *res, struct diag *d);

/* ---- the audit writer (group commit) ---------------------------------- */

struct audit_server_opts {
	uint64_t checkpoint_every;	/* 0: the default, 1000 */
	const char *syslog_path;	/* NULL: no forwarding */
	/* the server returns when *stop becomes non-zero (set it from a
	 * signal handler); NULL: run until killed */
	volatile int *stop;
	int	export_interval;	/* seconds between officer-view
					 * refreshes; 0: the default, 5 */
	int	verify_interval;	/* seconds between verifications
					 * for verify.txt; 0: the default,
					 * 60 */
};

/*
 * Run the audit writer of state_dir until *opts->stop: owns the database,
 * listens on STATE_DIR/audit/audit.sock, commits every pending record of
 * every client in one transaction per fsync and answers each with its seq.
 * Makes the gateway key if missing; signs checkpoints when it starts, every
 * checkpoint_every records and at shutdown (in a background thread: no
 * client waits for gpg); keeps audit-export/ current (day files every
 * export_interval, verify.txt every verify_interval, both at shutdown).
 * Meant to run in a child process of relgated's master.
 */
int	audit_server_run(const char *state_dir,
	    const struct audit_server_opts *opts, struct diag *d);

/* ---- review page ------------------------------------------------------ */

/* Write a self-contained HTML review page (no external requests) to path:
 * transfers per contractor per day (inline SVG), denied and failed events,
 * and the verification stamp. */
int	audit_report_html(const char *state_dir, const char *path,
	    struct diag *d);

#endif /* RG_AUDIT_H */
