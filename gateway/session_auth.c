/*
 * gateway/session_auth.c — signing in, inside the session process.
 *
 * Layered authentication (product.md "Signing in"): every factor of every
 * role the user holds, in one connection. The SSH key comes first; when
 * the roles ask for more, the key gets "partial success" and one
 * keyboard-interactive round asks for the rest (Password:, Verification
 * code:). The session only forwards what the user typed: the master, which
 * never parses client bytes, holds the TOTP secrets and the password
 * hashes' check and answers yes or no (MON_FACTORS). A security key's
 * flags (touch, PIN) are judged here from what it signed (session_sk.c);
 * its counter by the master, which keeps it (MON_SK_COUNTER).
 *
 * `authenticated` is set only after every factor, the account's dates,
 * the master's consent (bans, per-user session limit) and a durable
 * auth.login record; every channel open and request checks it
 * (CVE-2018-10933). Every refusal counts towards the bans.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "contracts/contracts.h"
#include "gateway/session_internal.h"
#include "keys/keys.h"

#define SK_FLAG_PRESENCE	0x01	/* the user touched the token */
#define SK_FLAG_VERIFIED	0x04	/* the token checked its PIN */
#define KBD_FACTORS		(FACTOR_PASSWORD | FACTOR_TOTP)

/* A user name as the configuration loader allows it. */
static int
user_name_ok(const char *u)
{
	return name_is_safe(u, USER_MAX - 1);
}

/* ---- the master ---------------------------------------------------------- */

#define MON_WAIT_MS	20	/* between asks while the master says wait */

/* Tell the master something it does not answer. */
static void
monitor_tell(struct sess *s, char type, const char *user)
{
	char msg[MON_MSG_MAX];
	int n = snprintf(msg, sizeof(msg), "%c%s", type, user);

	if (n > 1 && (size_t)n < sizeof(msg))
		(void)send(s->p->monitor_fd, msg, (size_t)n,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Send one message of len bytes and wait for the answer (at most cap-1
 * bytes, NUL-terminated into reply). Bytes of the answer, or -1.
 */
static ssize_t
monitor_exchange(struct sess *s, const char *msg, size_t len, char *reply,
    size_t cap)
{
	struct pollfd pfd;
	ssize_t n;

	if (send(s->p->monitor_fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	pfd.fd = s->p->monitor_fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1)
		return -1;
	n = recv(s->p->monitor_fd, reply, cap - 1, 0);
	if (n <= 0)
		return -1;
	reply[n] = '\0';
	return n;
}

/*
 * Ask the master; 1 yes, 0 no (or no answer). While it answers "wait"
 * (other attempts from this address or for this user are being decided)
 * ask again, within the login grace time.
 */
static int
monitor_ask(struct sess *s, char type, const char *user)
{
	char msg[MON_MSG_MAX], reply[8];
	size_t len = strlen(user);
	time_t start = time(NULL);

	if (len + 1 > sizeof(msg))
		return 0;
	msg[0] = type;
	memcpy(msg + 1, user, len);
	for (;;) {
		if (monitor_exchange(s, msg, len + 1, reply, sizeof(reply)) < 1)
			return 0;
		if (reply[0] != MON_WAIT)
			return reply[0] == '1';
		if (time(NULL) - start >= RELGATED_LOGIN_GRACE)
			return 0;
		(void)poll(NULL, 0, MON_WAIT_MS);
	}
}

/*
 * Ask the master to judge fields (NUL-separated, after the type byte and
 * the user name). 1 yes; 0 no, with the master's reason in why.
 */
static int
monitor_judge(struct sess *s, char type, const char *user,
    const char *const *fields, size_t n, char *why, size_t whylen)
{
	char msg[MON_MSG_MAX], reply[256];
	size_t len, i, fl;
	ssize_t r;

	len = strlen(user);
	if (len + 1 >= sizeof(msg))
		goto toolong;
	msg[0] = type;
	memcpy(msg + 1, user, len);
	len++;
	for (i = 0; i < n; i++) {
		fl = strlen(fields[i]);
		if (len + 1 + fl > sizeof(msg))
			goto toolong;
		msg[len++] = '\0';
		memcpy(msg + len, fields[i], fl);
		len += fl;
	}
	r = monitor_exchange(s, msg, len, reply, sizeof(reply));
	rg_wipe(msg, sizeof(msg));	/* may hold what the user typed */
	if (r < 1) {
		rg_strlcpy(why, "the master did not answer", whylen);
		return 0;
	}
	if (reply[0] == '1')
		return 1;
	rg_strlcpy(why, r > 1 ? reply + 1 : "refused", whylen);
	return 0;
toolong:
	rg_wipe(msg, sizeof(msg));
	rg_strlcpy(why, "answer too long", whylen);
	return 0;
}

/* ---- refusals ------------------------------------------------------------ */

/* Refuse an attempt; policy refusals (after a valid signature) are
 * audited right away, with the reason. */
static int
auth_refuse(struct sess *s, const char *user, int audit_now,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
auth_refuse(struct sess *s, const char *user, int audit_now,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	s->auth_tries++;	/* refusals count, as OpenSSH's MaxAuthTries */
	s->reason_audited = 0;
	/* the connection's failure counts now, and the attempt is decided
	 * (the master answers nothing; once it has let the user in, it
	 * takes no more messages) */
	if (!s->login_granted)
		monitor_tell(s, MON_FAIL, user_name_ok(user) ? user : "-");
	if (audit_now) {
		sess_audit(s, "auth.failed", "denied", user, s->reason);
		s->reason_audited = 1;
	}
	log_info("%s: authentication refused for \"%s\": %s", s->source,
	    user, s->reason);
	return SSH_AUTH_DENIED;
}

/* ---- the account ----------------------------------------------------------- */

static void
roles_format(unsigned roles, char *out, size_t len)
{
	unsigned bit;

	out[0] = '\0';
	for (bit = 1; bit != 0 && bit <= ROLE_OFFICER; bit <<= 1) {
		const char *n;

		if (!(roles & bit) || (n = role_name(bit)) == NULL)
			continue;
		if (out[0] != '\0')
			strncat(out, ",", len - strlen(out) - 1);
		strncat(out, n, len - strlen(out) - 1);
	}
}

/* The account may sign in today: RG_OK, or refused (and audited). */
static int
account_ok(struct sess *s, const struct user *u)
{
	char today_s[16], day[16];
	long today;

	date_today(today_s, sizeof(today_s));
	if (date_parse(today_s, &today) != RG_OK) {
		auth_refuse(s, u->name, 1, "cannot read today's date");
		return 0;
	}
	if (u->valid_until != DATE_UNSET && today > u->valid_until) {
		date_format(u->valid_until, day, sizeof(day));
		auth_refuse(s, u->name, 1, "account expired (valid_until %s)",
		    day);
		return 0;
	}
	if (u->training_expires != DATE_UNSET && today > u->training_expires) {
		date_format(u->training_expires, day, sizeof(day));
		auth_refuse(s, u->name, 1, "information-security training "
		    "expired (training_expires %s)", day);
		return 0;
	}
	if (u->roles == 0) {
		auth_refuse(s, u->name, 1, "user has no role");
		return 0;
	}
	return 1;
}

/*
 * Every factor is in: the master's consent (per-user session limit), the
 * auth.login record naming the factors, then the sandbox. SSH_AUTH_SUCCESS
 * or SSH_AUTH_DENIED.
 */
static int
sess_login(struct sess *s, const struct user *u, unsigned factors)
{
	char used[80];

	if (!monitor_ask(s, MON_LOGIN, u->name))
		return auth_refuse(s, u->name, 1, "too many sessions for this "
		    "user (max_sessions_per_user %d)",
		    s->p->cd->cfg.max_sessions_per_user);
	s->login_granted = 1;
	s->user = u;
	roles_format(u->roles, s->roles, sizeof(s->roles));
	auth_factors_format(factors, used, sizeof(used));
	if (sess_audit(s, "auth.login", "ok", u->name, used) != RG_OK) {
		s->user = NULL;
		(void)auth_refuse(s, u->name, 0, "audit log unavailable");
		/* the master counts this connection as logged in: end it */
		ssh_disconnect(s->ssh);
		return SSH_AUTH_DENIED;
	}
	if (sess_become(s) != RG_OK) {
		/* cannot run safely: end the connection */
		ssh_disconnect(s->ssh);
		return SSH_AUTH_DENIED;
	}
	s->authenticated = 1;
	s->key_user = NULL;
	log_info("%s: %s logged in (%s; %s)", s->source, u->name, s->roles,
	    used);
	return SSH_AUTH_SUCCESS;
}

/* ---- the key ------------------------------------------------------------- */

/*
 * A security key's signature: touch and PIN as the key's line asks, and a
 * counter that grew (judged by the master, which keeps it). 1 good; 0
 * refused and audited.
 */
static int
security_key_ok(struct sess *s, const struct user *u, size_t line,
    unsigned opts, struct ssh_key_struct *key)
{
	unsigned char app[32];
	unsigned flags;
	uint32_t counter;
	char fpr[128], num[16], why[200];
	const char *fields[2];

	if (ssh_line_sk_app_hash(u->ssh_keys[line], app) != RG_OK ||
	    !sk_signed_take(app, &flags, &counter)) {
		auth_refuse(s, u->name, 1, "security-key: the token's flags "
		    "and counter could not be read from its signature; "
		    "refused rather than unchecked");
		return 0;
	}
	if (!(opts & SSHKEY_OPT_NO_TOUCH_REQUIRED) &&
	    !(flags & SK_FLAG_PRESENCE)) {
		auth_refuse(s, u->name, 1, "security-key: user presence "
		    "(touch) not asserted by the token");
		return 0;
	}
	if ((opts & SSHKEY_OPT_VERIFY_REQUIRED) &&
	    !(flags & SK_FLAG_VERIFIED)) {
		auth_refuse(s, u->name, 1, "security-key: user verification "
		    "(PIN) not asserted, and the key is verify-required");
		return 0;
	}
	if (ssh_key_fingerprint(key, fpr, sizeof(fpr)) != RG_OK) {
		auth_refuse(s, u->name, 1, "security-key: no fingerprint");
		return 0;
	}
	snprintf(num, sizeof(num), "%lu", (unsigned long)counter);
	fields[0] = fpr;
	fields[1] = num;
	if (!monitor_judge(s, MON_SK_COUNTER, u->name, fields, 2, why,
	    sizeof(why))) {
		auth_refuse(s, u->name, 1, "%s", why);
		return 0;
	}
	return 1;
}

static int
auth_pubkey_cb(ssh_session session, const char *user,
    struct ssh_key_struct *key, char sigstate, void *userdata)
{
	struct sess *s = userdata;
	const struct user *u;
	unsigned opts = 0, need, have;
	char missing[64];
	int line;

	(void)session;
	if (s->authenticated)
		return SSH_AUTH_DENIED;
	if (s->auth_tries >= RELGATED_MAX_AUTH_TRIES)
		return SSH_AUTH_DENIED;	/* the loop ends the connection */
	if (s->key_user != NULL)	/* the key is proved already */
		return auth_refuse(s, user_name_ok(user) ? user : "-", 0,
		    "another key after the key factor was proved");
	if (user == NULL || !user_name_ok(user))
		return auth_refuse(s, "-", 0, "malformed user name");
	rg_strlcpy(s->tried_user, user, sizeof(s->tried_user));
	if (sigstate != SSH_PUBLICKEY_STATE_NONE &&
	    sigstate != SSH_PUBLICKEY_STATE_VALID)
		return auth_refuse(s, user, 0, "bad signature");
	/* every attempt: a ban may have begun since the last one */
	if (!monitor_ask(s, MON_USER, user))
		return auth_refuse(s, user, 0, "too many failed logins for "
		    "this user or from this address: banned for now");
	u = config_dir_user(s->p->cd, user);
	if (u == NULL)
		return auth_refuse(s, user, 0, "no such user");
	line = ssh_key_match(key, u->ssh_keys, u->n_ssh_keys, &opts);
	if (line < 0)
		return auth_refuse(s, user, 0,
		    "key not authorised for this user");
	need = auth_factors_for(&s->p->cd->cfg, u->roles);
	/* a FIDO key is a key too: it meets publickey and security-key */
	have = ssh_key_is_security_key(key) ? FACTOR_SECURITY_KEY :
	    FACTOR_PUBLICKEY;
	if ((need & FACTOR_SECURITY_KEY) && have != FACTOR_SECURITY_KEY)
		return auth_refuse(s, user, 0, "security-key: this user's "
		    "roles require a FIDO security key; this key is not one");
	if (sigstate == SSH_PUBLICKEY_STATE_NONE) {
		/* probe: "this key would do"; the attempt is decided */
		monitor_tell(s, MON_PROBE, user);
		return SSH_AUTH_SUCCESS;
	}

	/* A valid signature by one of this user's keys: now the policy. */
	if ((have & FACTOR_SECURITY_KEY) &&
	    !security_key_ok(s, u, (size_t)line, opts, key))
		return SSH_AUTH_DENIED;
	if (!account_ok(s, u))
		return SSH_AUTH_DENIED;
	if ((need & KBD_FACTORS) == 0)
		return sess_login(s, u, have);
	/* the key is in; the rest at one keyboard-interactive prompt */
	s->key_user = u;
	s->key_factors = have;
	s->kbd_factors = need & KBD_FACTORS;
	monitor_tell(s, MON_PROBE, user);	/* this attempt is decided */
	/* what the audit says should the client stop here */
	auth_factors_format(s->kbd_factors, missing, sizeof(missing));
	snprintf(s->reason, sizeof(s->reason), "key accepted; %s never "
	    "presented at the keyboard-interactive prompt", missing);
	s->reason_audited = 0;
	ssh_set_auth_methods(s->ssh, SSH_AUTH_METHOD_INTERACTIVE);
	log_info("%s: %s: key accepted, asking for the other factors",
	    s->source, user);
	return SSH_AUTH_PARTIAL;
}

/* ---- the prompt ------------------------------------------------------------ */

/* Refuse a keyboard-interactive message (reply sent); 0 for libssh. */
static int
kbd_refuse(struct sess *s, ssh_message msg, const char *user, int audit_now,
    const char *why)
{
	auth_refuse(s, user, audit_now, "%s", why);
	ssh_message_reply_default(msg);
	return 0;
}

/* The first keyboard-interactive request: send the prompts. */
static int
kbd_prompt(struct sess *s, ssh_message msg)
{
	const char *user = ssh_message_auth_user(msg);
	const char *prompts[2];
	char echo[2] = { 0, 0 };
	unsigned n = 0;

	if (s->key_user == NULL)
		return kbd_refuse(s, msg, user_name_ok(user) ? user : "-", 0,
		    "keyboard-interactive before the key factor");
	if (user == NULL || strcmp(user, s->key_user->name) != 0)
		return kbd_refuse(s, msg, s->key_user->name, 1,
		    "the user name changed after the key factor");
	if (s->kbd_factors & FACTOR_PASSWORD)
		prompts[n++] = "Password: ";
	if (s->kbd_factors & FACTOR_TOTP)
		prompts[n++] = "Verification code: ";
	if (ssh_message_auth_interactive_request(msg, "", "", n, prompts,
	    echo) != SSH_OK)
		return kbd_refuse(s, msg, user, 0, "cannot send the prompts");
	s->kbd_asked = 1;
	return 0;
}

/* The answers: the master judges them; every factor in, the login. */
static int
kbd_answers(struct sess *s, ssh_message msg)
{
	const struct user *u = s->key_user;
	const char *fields[2];
	char why[256];
	unsigned i, n, want;
	int rc;

	if (u == NULL || !s->kbd_asked)
		return kbd_refuse(s, msg, u != NULL ? u->name : "-", 0,
		    "keyboard-interactive answers without a prompt");
	s->kbd_asked = 0;	/* one answer per prompt */
	want = (s->kbd_factors & FACTOR_PASSWORD ? 1 : 0) +
	    (s->kbd_factors & FACTOR_TOTP ? 1 : 0);
	n = (unsigned)ssh_userauth_kbdint_getnanswers(s->ssh);
	if (n != want) {
		snprintf(why, sizeof(why), "keyboard-interactive: %u answers "
		    "to %u prompts", n, want);
		return kbd_refuse(s, msg, u->name, 1, why);
	}
	for (i = 0; i < n; i++) {
		fields[i] = ssh_userauth_kbdint_getanswer(s->ssh, i);
		if (fields[i] == NULL)
			return kbd_refuse(s, msg, u->name, 1,
			    "keyboard-interactive: an answer is missing");
		if (strlen(fields[i]) > KBD_ANSWER_MAX) {
			snprintf(why, sizeof(why), "keyboard-interactive: "
			    "answer %u is longer than %d bytes", i + 1,
			    KBD_ANSWER_MAX);
			return kbd_refuse(s, msg, u->name, 1, why);
		}
	}
	/* a ban may have begun since the key; parallel guesses wait */
	if (!monitor_ask(s, MON_USER, u->name))
		return kbd_refuse(s, msg, u->name, 1, "too many failed logins "
		    "for this user or from this address: banned for now");
	if (!monitor_judge(s, MON_FACTORS, u->name, fields, n, why,
	    sizeof(why)))
		return kbd_refuse(s, msg, u->name, 1, why);
	rc = sess_login(s, u, s->key_factors | s->kbd_factors);
	if (rc == SSH_AUTH_SUCCESS)
		ssh_message_auth_reply_success(msg, 0);
	else
		ssh_message_reply_default(msg);
	return 0;
}

/* Messages no server callback took: keyboard-interactive is ours. */
static int
sess_message_cb(ssh_session session, ssh_message msg, void *userdata)
{
	struct sess *s = userdata;

	(void)session;
	if (ssh_message_type(msg) != SSH_REQUEST_AUTH ||
	    ssh_message_subtype(msg) != SSH_AUTH_METHOD_INTERACTIVE)
		return 1;	/* libssh's default reply refuses */
	if (s->authenticated || s->auth_tries >= RELGATED_MAX_AUTH_TRIES) {
		ssh_message_reply_default(msg);
		return 0;
	}
	if (!ssh_message_auth_kbdint_is_response(msg))
		return kbd_prompt(s, msg);
	return kbd_answers(s, msg);
}

/* ---- methods never accepted -------------------------------------------- */

static int
auth_none_cb(ssh_session session, const char *user, void *userdata)
{
	struct sess *s = userdata;

	(void)session;
	if (user != NULL && user_name_ok(user) && s->key_user == NULL)
		rg_strlcpy(s->tried_user, user, sizeof(s->tried_user));
	return SSH_AUTH_DENIED;
}

static int
auth_password_cb(ssh_session session, const char *user, const char *pw,
    void *userdata)
{
	struct sess *s = userdata;

	(void)session;
	(void)pw;
	if (s->key_user != NULL) {
		/*
		 * After the key, some clients (paramiko's SSHClient) try the
		 * password method before falling back to keyboard-interactive
		 * with the same password: no guess at anything, so it is not
		 * a failed login; it still counts towards MaxAuthTries.
		 */
		s->auth_tries++;
		return SSH_AUTH_DENIED;
	}
	if (user != NULL && user_name_ok(user))
		rg_strlcpy(s->tried_user, user, sizeof(s->tried_user));
	return auth_refuse(s, user_name_ok(user) ? user : "-", 0,
	    "the password method is not accepted (passwords are asked at "
	    "the keyboard-interactive prompt, after the key)");
}

int
sess_auth_setup(struct sess *s)
{
	if (sk_signed_init() != RG_OK)
		log_warnx("%s: OpenSSL's EVP_DigestVerify not found: security "
		    "keys will be refused", s->source);
	s->cb.auth_pubkey_function = auth_pubkey_cb;
	s->cb.auth_password_function = auth_password_cb;
	s->cb.auth_none_function = auth_none_cb;
	ssh_set_message_callback(s->ssh, sess_message_cb, s);
	return RG_OK;
}
