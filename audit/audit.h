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
/* Append one record durably; its sequence number into *seq (may be NULL). */
int	audit_append(struct audit *a, const struct audit_event *ev,
	    uint64_t *seq);
/* Close; NULL-safe. */
void	audit_close(struct audit *a);

#endif /* RG_AUDIT_H */
