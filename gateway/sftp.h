/*
 * gateway/sftp.h — the seam between the SSH session (libssh, session.c)
 * and the project's own SFTP v3 layer. Internal to gateway/.
 *
 * The SFTP layer is push-driven: the session feeds it the bytes that came
 * on the channel and writes out whatever it appends to `out`. No I/O on
 * the network happens inside, so it is unit-tested and fuzzed alone.
 *
 * Notes for the session (added by the SFTP side):
 * - Every string in struct sftp_session_info is borrowed and must outlive
 *   the server. audit may be NULL only in tests and fuzzing (nothing is
 *   audited then).
 * - A length prefix above SFTP_PACKET_MAX, or 0, makes sftp_server_input()
 *   return RG_EPROTO at once, before anything is buffered or allocated;
 *   any request before INIT does the same. (The session may compare with
 *   SFTP_PACKET_MAX itself to stop reading earlier.)
 * - One request produces at most one reply of at most SFTP_REPLY_MAX
 *   bytes: keep that much room in `out` per whole packet fed. When `out`
 *   cannot take a reply the call returns RG_ETOOBIG (close the channel);
 *   no half-built reply is left in `out` after any negative return.
 * - Partial packets may be fed; the layer keeps the remainder itself.
 * - The process needs, beneath state_dir: spool/staff/USER (made by the
 *   layer for staff; read-write), requests/ (approvers: read, and
 *   requests/ID/decisions/ read-write), releases/ and audit-export/
 *   (read-only), queue/ (read-write, through release/queue.c). Paths are
 *   resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) beneath
 *   folders opened in sftp_server_new(), so a sandbox may allow only those.
 * - sftp_server_free() audits transfers broken off (file.download outcome
 *   failed "broken off", file.upload outcome failed) before freeing.
 */
#ifndef RG_GATEWAY_SFTP_H
#define RG_GATEWAY_SFTP_H

#include "common/common.h"

struct audit;
struct config_dir;

#define SFTP_PACKET_MAX	(256u * 1024 + 1024)	/* after the length prefix */
#define SFTP_REPLY_MAX	(SFTP_PACKET_MAX + 4)	/* one reply, with prefix */

/* Who is on the other end, and what they may reach. All borrowed. */
struct sftp_session_info {
	const char *user;
	unsigned roles;			/* enum role bits (contracts.h) */
	const char *organisation;
	const char *source;		/* "addr:port sid" for the audit trail */
	const char *state_dir;
	const struct config_dir *config;
	struct audit *audit;
};

struct sftp_server;

/* New SFTP server state for one channel. *out is the caller's. */
int	sftp_server_new(struct sftp_server **out,
	    const struct sftp_session_info *info, struct diag *d);
/*
 * Feed len bytes from the channel. Complete packets are handled and their
 * replies appended to out. RG_OK, or a negative code when the peer broke
 * the protocol beyond recovery (the caller closes the channel).
 */
int	sftp_server_input(struct sftp_server *s, const void *data, size_t len,
	    struct buf *out);
/* The channel is gone: close handles (auditing transfers broken off) and
 * free. NULL-safe. */
void	sftp_server_free(struct sftp_server *s);

#endif /* RG_GATEWAY_SFTP_H */
