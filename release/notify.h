/*
 * release/notify.h — e-mail notifications (product.md "Notifications"):
 * the message builder, the events the release worker queues in the durable
 * outbox of state.db (in the same transaction as the state change that
 * causes them), and the sender thread that delivers the outbox through
 * libcurl's SMTP support with retries and exponential back-off.
 * Internal to release/.
 */
#ifndef RG_RELEASE_NOTIFY_H
#define RG_RELEASE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/common.h"

struct notify_config;
struct request_rec;
struct worker;

#define NOTIFY_SUBJECT_MAX	200
#define NOTIFY_BODY_MAX		4096
#define NOTIFY_ADDR_MAX		256
#define NOTIFY_MESSAGE_MAX	(16u << 10)	/* a whole message, headers in */

/* What a message holds; every string is ASCII without control bytes
 * (the body may hold LF, turned into CRLF). */
struct notify_msg {
	const char *from;		/* addr-spec */
	const char *to;			/* addr-spec */
	const char *subject;
	const char *body;
	const char *message_id;		/* without the angle brackets */
	time_t	date;
};

/*
 * Build an RFC 5322 message (Date, Message-ID, From, To, Subject,
 * MIME-Version, Content-Type, CRLF line endings, lines of at most 998
 * bytes) into out. RG_EINVAL when a header value holds a control byte or
 * non-ASCII, or a line is too long: nothing is written then.
 */
int	notify_message_build(struct buf *out, const struct notify_msg *m);

/* The domain of an addr-spec ("example.org" of "a@example.org"), borrowed
 * from s; "localhost" when it has none. */
const char *notify_addr_domain(const char *s);

/*
 * Seconds before try number `tries` + 1 after `tries` failures: first,
 * doubled each time, at most max.
 */
long	notify_backoff(int tries, int first, int max);

/*
 * Queue the messages a request's new state causes (awaiting_approval: the
 * contract's approvers but the submitter; failed, approved, rejected,
 * published: the submitter; published also "ready to download" to the
 * contract's people). Called by worker_set_state() inside the transaction
 * that stores the state. Nothing without a notify: block; a recipient
 * without `email:` is skipped. Idempotent per (event, request, user).
 */
int	notify_queue_state(struct worker *w, const struct request_rec *r);

/* Queue "expires in 2 days" (once per release and person) for published
 * releases that expire within two days. */
int	notify_queue_expiring(struct worker *w);

struct notify_sender;

/*
 * Start the sender thread on its own connections to STATE/state.db and
 * the audit log. It sends due messages of the outbox, one at a time, with
 * curl timeouts, and never blocks the caller. *out is the caller's.
 */
int	notify_sender_start(struct notify_sender **out, const char *state_dir,
	    const struct notify_config *cfg, struct diag *d);
/* New settings (a reload); the next send uses them. */
void	notify_sender_config(struct notify_sender *s,
	    const struct notify_config *cfg);
/* Something was queued: look at the outbox now. NULL-safe. */
void	notify_sender_kick(struct notify_sender *s);
/* Stop the thread (a send in progress is broken off) and free; NULL-safe. */
void	notify_sender_stop(struct notify_sender *s);

/*
 * One pass over the outbox on this thread: send every due message, audit
 * what ended. For `relgate-worker --once` and tests. *sent and *failed
 * count what ended in this pass (may be NULL).
 */
int	notify_outbox_pass(const char *state_dir,
	    const struct notify_config *cfg, int *sent, int *failed);

#endif /* RG_RELEASE_NOTIFY_H */
