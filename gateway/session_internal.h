/*
 * gateway/session_internal.h — what session.c (the connection and its
 * channels) and session_auth.c (signing in) share inside one session
 * process. Not a public header: gateway.h is.
 */
#ifndef RG_SESSION_INTERNAL_H
#define RG_SESSION_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>

#include "common/common.h"
#include "gateway/gateway.h"
#include "gateway/sftp.h"

#define USER_MAX	64
#define KBD_ANSWER_MAX	512	/* bytes of one typed answer */

struct sess;

struct chan {
	struct sess *s;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	struct sftp_server *sftp;
	struct buf in;
	size_t	in_off;
	struct buf out;
	size_t	out_off;
	int	held;		/* libssh keeps bytes we had no room for */
	int	reading;	/* inside our own ssh_channel_read */
	int	eof_in;		/* the client sent EOF */
	int	closed;		/* the client closed the channel */
	int	broken;		/* protocol or write error: close it */
	size_t	since_grow;	/* bytes taken since the window was topped up */
};

struct sess {
	const struct session_params *p;
	ssh_session ssh;
	ssh_event ev;
	struct ssh_server_callbacks_struct cb;
	struct audit *audit;
	const struct user *user;	/* set at login */
	int	authenticated;
	int	auth_tries;
	char	tried_user[USER_MAX];	/* last user name an attempt named */
	char	reason[256];		/* why the last attempt was refused */
	int	reason_audited;
	int	login_granted;		/* the master said yes to MON_LOGIN */
	/* Layered authentication: a key proved, other factors to come. */
	const struct user *key_user;	/* whose key was proved, or NULL */
	unsigned key_factors;		/* FACTOR_* the key satisfied */
	unsigned kbd_factors;		/* FACTOR_* asked for at the prompt */
	int	kbd_asked;		/* prompts sent, answers awaited */
	char	source[160];		/* "address:port sid" */
	char	roles[80];
	struct sftp_session_info info;
	struct chan *chans[RELGATED_MAX_CHANNELS];
	size_t	n_chans;
	unsigned long n_opened;
	time_t	last_active;
	char	end_reason[128];
};

/* session.c */
int	sess_audit(struct sess *s, const char *type, const char *outcome,
	    const char *user, const char *detail);
/* After the last factor: sandbox, session.open. */
int	sess_become(struct sess *s);

/* session_auth.c: fill s->cb's authentication callbacks and take
 * keyboard-interactive messages (before ssh_set_server_callbacks). */
int	sess_auth_setup(struct sess *s);

/* session_sk.c: the flags and counter of the FIDO signature libssh has
 * just verified, when its application hash is app_hash; 1 found, 0 not.
 * The record is used up either way. */
int	sk_signed_take(const unsigned char app_hash[32], unsigned *flags,
	    uint32_t *counter);
/* Look up OpenSSL's EVP_DigestVerify now (before the sandbox). */
int	sk_signed_init(void);

#endif /* RG_SESSION_INTERNAL_H */
