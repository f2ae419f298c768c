/*
 * audit/audit_int.h — pieces shared inside audit/ only: the storage
 * interface (one implementation per backend; SQLite today), the wire
 * format between audit_open() clients and the audit writer, and helpers.
 */
#ifndef RG_AUDIT_INT_H
#define RG_AUDIT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

#define AUDIT_DB_NAME		"audit.db"
#define AUDIT_SOCK_NAME		"audit.sock"
#define AUDIT_HEAD_NAME		"checkpoint.asc"
#define AUDIT_GENESIS \
	"0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_FIELD_MAX		4096	/* bytes in one string field */
#define AUDIT_DETAIL_MAX	16384	/* bytes in detail */
#define AUDIT_MSG_MAX		65536	/* one request on the socket */
#define AUDIT_BATCH_MAX		4096	/* records in one transaction */
#define AUDIT_CHECKPOINT_DEFAULT 1000

/* ---- storage interface ------------------------------------------------ */

struct audit_store;

/* Called inside the append transaction with the tail of the log, so the
 * chain is extended under the writer lock. */
struct audit_store_ops {
	const char *name;
	/* Append n records in one durable transaction: seq, time, prev and
	 * hash are filled in here. */
	int	(*append)(struct audit_store *s, struct audit_record *recs,
		    size_t n, struct diag *d);
	int	(*last)(struct audit_store *s, uint64_t *seq,
		    char hash[AUDIT_HASH_HEX + 1], struct diag *d);
	int	(*get)(struct audit_store *s, uint64_t seq,
		    struct audit_record *r, struct diag *d);
	int	(*query)(struct audit_store *s, const struct audit_filter *f,
		    audit_record_cb cb, void *ctx, struct diag *d);
	/* Store the signature of checkpoint record seq. */
	int	(*sig_put)(struct audit_store *s, uint64_t seq,
		    const char *hash, const char *sig, struct diag *d);
	/* Visit signed checkpoints in seq order. */
	int	(*sig_scan)(struct audit_store *s,
		    int (*cb)(uint64_t seq, const char *hash, const char *sig,
		    void *ctx), void *ctx, struct diag *d);
	void	(*close)(struct audit_store *s);
};

struct audit_store {
	const struct audit_store_ops *ops;
};

/* Open the SQLite store STATE_DIR/audit/audit.db (made when create). */
int	audit_store_sqlite_open(struct audit_store **out, const char *state_dir,
	    int create, int readonly, struct diag *d);

/* ---- records ---------------------------------------------------------- */

/* Fill seq, time (unless already set), prev and hash of recs[0..n)
 * following (seq, hash). */
int	audit_chain_fill(struct audit_record *recs, size_t n, uint64_t seq,
	    const char *hash);
/* Copy an event into a record (strings duplicated, capped). */
int	audit_record_from_event(struct audit_record *r,
	    const struct audit_event *ev);
/* Check an event's fields (type and outcome present, caps). */
int	audit_event_check(const struct audit_event *ev, struct diag *d);

/* ---- wire format (client ⇄ writer) ------------------------------------
 * request:  u32 length (big-endian) + body; body = for each of the 13
 *           event fields in struct order: u8 present, then for strings a
 *           u32 length + bytes, for numbers an i64 (big-endian).
 * reply:    i32 status (0 or RG_E*), u64 seq.                          */
int	audit_wire_encode(const struct audit_event *ev, struct buf *out);
int	audit_wire_decode(const unsigned char *p, size_t len,
	    struct audit_record *r);
#define AUDIT_REPLY_LEN	12

/* ---- checkpoints ------------------------------------------------------ */

/* The statement a checkpoint signature covers. */
int	audit_checkpoint_statement(uint64_t seq, const char *hash,
	    struct buf *out);
/* Sign checkpoint record (seq, hash) and every older checkpoint still
 * unsigned (seq 0: only those): store the signatures and move
 * STATE_DIR/audit/checkpoint.asc forward. */
int	audit_checkpoint_sign(struct audit_store *s, const char *state_dir,
	    uint64_t seq, const char *hash, struct diag *d);

/* Parse STATE_DIR/audit/checkpoint.asc (the latest signed checkpoint)
 * without checking its signature: seq, hash, and when stmt/sig are not
 * NULL the signed statement and the signature. RG_ENOENT when there is
 * none, RG_EINTEGRITY when it is malformed. */
int	audit_head_read(const char *state_dir, uint64_t *seq,
	    char hash[AUDIT_HASH_HEX + 1], struct buf *stmt, struct buf *sig,
	    struct diag *d);

/* Native checks of the gateway key's Ed25519 signatures (pgpsig.c). */
struct pgp_verifier;
int	audit_pgp_verifier_new(struct pgp_verifier **out,
	    const char *state_dir, struct diag *d);
int	audit_pgp_verify(struct pgp_verifier *v, const void *data, size_t len,
	    const char *sig, size_t siglen);
void	audit_pgp_verifier_free(struct pgp_verifier *v);

/* The same, for the writer's signer thread: only checkpoints after
 * `after` are looked at, and each signature goes to put() (the writer's
 * main thread stores it) instead of into the store. */
typedef int (*audit_sig_put_fn)(uint64_t seq, const char *hash,
    const char *sig, void *ctx);
int	audit_checkpoint_sign_ex(struct audit_store *s, const char *state_dir,
	    uint64_t seq, const char *hash, uint64_t after,
	    audit_sig_put_fn put, void *ctx, struct diag *d);

/* ---- syslog ----------------------------------------------------------- */

/* Format r as an RFC 5424 message with structured data. */
int	audit_syslog_format(const struct audit_record *r, struct buf *out);

/* The writer's view of a direct handle (audit.c). */
struct audit_store *audit_handle_store(struct audit *a);
void	audit_handle_forward(struct audit *a, const struct audit_record *r);

/* Path helpers: STATE_DIR/audit/NAME into out. */
int	audit_path(char *out, size_t len, const char *state_dir,
	    const char *name);

#endif /* RG_AUDIT_INT_H */
