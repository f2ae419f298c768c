/*
 * gateway/factors.c — the master's side of layered authentication: it
 * judges what a user typed at a session's keyboard-interactive prompt
 * (password, verification code) and a security key's signature counter.
 * Only the master (which never parses client bytes) and the relgate CLI
 * open STATE/auth/; a session forwards the answers and hears yes or no.
 *
 * The password check is a yescrypt hash (tens of milliseconds) in the
 * master's loop. It runs only after a valid signature by one of that
 * user's SSH keys, and every refusal counts towards the bans, so a
 * stranger cannot make the master hash at will.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contracts/contracts.h"
#include "gateway/gateway.h"
#include "keys/keys.h"

#define KBD_FACTORS	(FACTOR_PASSWORD | FACTOR_TOTP)

/*
 * user's entry (borrowed from cd; NULL when there is none) and in *need
 * the factors its roles ask the master to check (0 for no such user).
 */
static const struct user *
user_find(const struct config_dir *cd, const char *user, unsigned *need)
{
	const struct user *u = config_dir_user(cd, user);

	*need = u != NULL ? auth_factors_for(&cd->cfg, u->roles) &
	    KBD_FACTORS : 0;
	return u;
}

/* The factors the master checks for user (password, totp). */
unsigned
factors_master_checks(const struct config_dir *cd, const char *user)
{
	unsigned need;

	(void)user_find(cd, user, &need);
	return need;
}

static int
judge_password(const struct user *u, const char *typed, char *why,
    size_t whylen)
{
	if (u->password_hash == NULL) {
		snprintf(why, whylen, "password: users/%s.yaml has no "
		    "password_hash (made by relgate passwd)", u->name);
		return 0;
	}
	if (!password_verify(typed, u->password_hash)) {
		rg_strlcpy(why, "password: wrong password", whylen);
		return 0;
	}
	return 1;
}

/* The code matches a step; *step gets it. Not yet used up. */
static int
judge_totp(const struct config_dir *cd, const char *state_dir,
    const struct user *u, const char *typed, uint64_t *step, char *why,
    size_t whylen)
{
	const struct gateway_config *cfg = &cd->cfg;
	unsigned char secret[64];
	size_t len = 0;
	struct diag d;
	int rc, ok;

	diag_clear(&d);
	rc = auth_totp_secret(state_dir, u->name, secret, sizeof(secret),
	    &len, &d);
	if (rc == RG_ENOENT) {
		snprintf(why, whylen, "totp: %s is not enrolled (relgate "
		    "totp enroll %s)", u->name, u->name);
		return 0;
	}
	if (rc != RG_OK) {
		char msg[300];

		diag_format(&d, msg, sizeof(msg));
		snprintf(why, whylen, "totp: cannot read the secret: %s", msg);
		return 0;
	}
	ok = totp_match(secret, len, typed, time(NULL), cfg->totp_period,
	    cfg->totp_digits, cfg->totp_skew, step);
	rg_wipe(secret, sizeof(secret));
	if (!ok) {
		rg_strlcpy(why, "totp: wrong or expired verification code",
		    whylen);
		return 0;
	}
	return 1;
}

/*
 * Judge the n answers for user (password first, then the code, as the
 * prompt asked). 1 when every factor passed: the code's time step is then
 * used up, durably, before the answer (a replayed code fails, also after a
 * restart). 0 with the reason in why.
 */
int
factors_judge(const struct config_dir *cd, const char *state_dir,
    const char *user, char *const *answers, size_t n, char *why,
    size_t whylen)
{
	const struct user *u;
	unsigned need;
	size_t want, i = 0;
	uint64_t step = 0;
	struct diag d;
	int rc;

	if ((u = user_find(cd, user, &need)) == NULL) {
		rg_strlcpy(why, "no such user", whylen);
		return 0;
	}
	want = (need & FACTOR_PASSWORD ? 1 : 0) + (need & FACTOR_TOTP ? 1 : 0);
	if (want == 0 || n != want) {
		snprintf(why, whylen, "%zu answers where the user's roles ask "
		    "for %zu", n, want);
		return 0;
	}
	if ((need & FACTOR_PASSWORD) &&
	    !judge_password(u, answers[i++], why, whylen))
		return 0;
	if (need & FACTOR_TOTP) {
		if (!judge_totp(cd, state_dir, u, answers[i], &step, why,
		    whylen))
			return 0;
		diag_clear(&d);
		rc = auth_totp_use_step(state_dir, u->name, step, &d);
		if (rc == RG_EEXIST) {
			rg_strlcpy(why, "totp: verification code already "
			    "used (each code is accepted once)", whylen);
			return 0;
		}
		if (rc != RG_OK) {
			char msg[300];

			diag_format(&d, msg, sizeof(msg));
			snprintf(why, whylen, "totp: cannot record the code's "
			    "use: %s", msg);
			return 0;
		}
	}
	return 1;
}

/*
 * A security key's signature counter for (user, key fingerprint): 1 when
 * it grew (recorded durably first), 0 with the reason.
 */
int
factors_sk_counter(const char *state_dir, const char *user, const char *fpr,
    const char *counter, char *why, size_t whylen)
{
	unsigned long v;
	char *end;
	struct diag d;
	int rc;

	errno = 0;
	v = strtoul(counter, &end, 10);
	if (counter[0] < '0' || counter[0] > '9' || *end != '\0' ||
	    errno != 0 || v > 0xffffffffUL) {
		rg_strlcpy(why, "security-key: malformed counter", whylen);
		return 0;
	}
	diag_clear(&d);
	rc = auth_sk_counter(state_dir, user, fpr, (uint32_t)v, &d);
	if (rc == RG_EINTEGRITY) {
		snprintf(why, whylen, "security-key: signature counter %lu "
		    "did not grow (a cloned token?)", v);
		return 0;
	}
	if (rc != RG_OK) {
		char msg[300];

		diag_format(&d, msg, sizeof(msg));
		snprintf(why, whylen, "security-key: cannot record the "
		    "counter: %s", msg);
		return 0;
	}
	return 1;
}
