/*
 * gateway/sftp.h — the seam between the SSH session (libssh, session.c)
 * and the project's own SFTP v3 layer. Internal to gateway/.
 *
 * The SFTP layer is push-driven: the session feeds it the bytes that came
 * on the channel and writes out whatever it appends to `out`. No I/O on
 * the network happens inside, so it is unit-tested and fuzzed alone.
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
