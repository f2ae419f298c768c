/*
 * STATE_DIR/auth/: what the second factors need to remember, kept by the
 * process that never reads client bytes (relgated's master) and by
 * `relgate totp` on the host.
 *
 *   auth/                 0700
 *   auth/.lock            0600  flock()ed around every read-modify-write
 *   auth/totp/USER.secret 0600  the TOTP secret, raw bytes
 *   auth/totp/USER.step   0600  the last time step accepted (decimal)
 *   auth/sk/USER/H.count  0600  a security key's last signature counter;
 *                               H = hex SHA-256 of the key's fingerprint
 *
 * Every write goes through file_write_atomic(): a crash leaves the old
 * file or the new one. The suffixes keep file_write_atomic's temporary
 * names ("NAME.tmp.PID") from ever looking like a user's file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "keys/keys.h"

#define SECRET_MIN	16	/* RFC 4226: at least 128 bits */
#define SECRET_MAX	64

/* One locked session with the store. */
struct astore {
	char	auth[PATH_MAX];
	int	lockfd;
	int	give;		/* root working in a service user's state */
	uid_t	uid;
	gid_t	gid;
};

/*
 * When root (`relgate totp` on the host) makes files in a state directory
 * that belongs to the service user, hand them to that user, or relgated
 * could not read them.
 */
static void
give(const struct astore *s, const char *path)
{
	struct stat st;

	if (s->give && lstat(path, &st) == 0 && st.st_uid == 0)
		if (lchown(path, s->uid, s->gid) == -1)
			return;	/* best effort: the reader reports */
}

/* Make (or check) a private folder: a directory, not a link, 0700. */
static int
private_dir(const struct astore *s, const char *path, int make,
    struct diag *d)
{
	struct stat st;

	if (make && dir_make(path, 0700) != RG_OK)
		return diag_set(d, RG_EIO, path, 0, 0, "cannot make folder: "
		    "%s", strerror(errno));
	if (lstat(path, &st) == -1)
		return errno == ENOENT ? RG_ENOENT : diag_set(d, RG_EIO, path,
		    0, 0, "%s", strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return diag_set(d, RG_EPERM, path, 0, 0, "not a folder");
	if ((st.st_mode & 077) != 0 && chmod(path, 0700) == -1)
		return diag_set(d, RG_EPERM, path, 0, 0, "folder is open to "
		    "others (mode %03o) and cannot be made 0700: %s",
		    (unsigned)(st.st_mode & 0777), strerror(errno));
	if (make)
		give(s, path);
	return RG_OK;
}

/*
 * Open STATE_DIR/auth (made when make is set; RG_ENOENT when missing
 * otherwise) and take its lock until store_close().
 */
static int
store_open(struct astore *s, const char *state_dir, int make, struct diag *d)
{
	char lock[PATH_MAX];
	struct stat st;
	int rc;

	memset(s, 0, sizeof(*s));
	s->lockfd = -1;
	if (state_dir == NULL || state_dir[0] == '\0' ||
	    (size_t)snprintf(s->auth, sizeof(s->auth), "%s/auth", state_dir) >=
	    sizeof(s->auth) - 128 ||
	    (size_t)snprintf(lock, sizeof(lock), "%s/.lock", s->auth) >=
	    sizeof(lock))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0,
		    "state directory path too long");
	if (geteuid() == 0 && stat(state_dir, &st) == 0 && st.st_uid != 0) {
		s->give = 1;
		s->uid = st.st_uid;
		s->gid = st.st_gid;
	}
	if ((rc = private_dir(s, s->auth, make, d)) != RG_OK)
		return rc;
	s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (s->lockfd == -1)
		return diag_set(d, RG_EIO, lock, 0, 0, "open: %s",
		    strerror(errno));
	give(s, lock);
	while (flock(s->lockfd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		rc = diag_set(d, RG_EIO, lock, 0, 0, "flock: %s",
		    strerror(errno));
		close(s->lockfd);
		s->lockfd = -1;
		return rc;
	}
	return RG_OK;
}

static void
store_close(struct astore *s)
{
	if (s->lockfd != -1)
		close(s->lockfd);	/* releases the flock */
	s->lockfd = -1;
}

/* s->auth/SUB/NAME + suffix into out. */
static int
store_path(const struct astore *s, char *out, size_t len, const char *sub,
    const char *name, const char *suffix, struct diag *d)
{
	if ((size_t)snprintf(out, len, "%s/%s/%s%s", s->auth, sub, name,
	    suffix) >= len)
		return diag_set(d, RG_EINVAL, s->auth, 0, 0, "path too long");
	return RG_OK;
}

/* Make (or check) the private folder s->auth/SUB. */
static int
store_subdir(const struct astore *s, const char *sub, struct diag *d)
{
	char dir[PATH_MAX];

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", s->auth, sub) >=
	    sizeof(dir))
		return diag_set(d, RG_EINVAL, s->auth, 0, 0, "path too long");
	return private_dir(s, dir, 1, d);
}

/*
 * store_open(); when make is set, also make its private folder SUB (or
 * check the one there). On failure nothing is held; on success
 * store_close() after.
 */
static int
store_open_sub(struct astore *s, const char *state_dir, const char *sub,
    int make, struct diag *d)
{
	int rc;

	if ((rc = store_open(s, state_dir, make, d)) != RG_OK)
		return rc;
	if (make && (rc = store_subdir(s, sub, d)) != RG_OK)
		store_close(s);
	return rc;
}

/* Write a small record durably, owner-only. */
static int
put_file(const struct astore *s, const char *path, const void *data,
    size_t len, struct diag *d)
{
	int rc;

	if ((rc = file_write_atomic(path, data, len, 0600, d)) != RG_OK)
		return rc;
	give(s, path);
	return RG_OK;
}

/* Remove path and make the removal durable; 1 when it was there. */
static int
drop_file(const char *path, struct diag *d)
{
	char dir[PATH_MAX], *slash;

	if (unlink(path) == -1) {
		if (errno == ENOENT)
			return 0;
		return diag_set(d, RG_EIO, path, 0, 0, "unlink: %s",
		    strerror(errno));
	}
	rg_strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (dir_fsync(dir) != RG_OK)
		return diag_set(d, RG_EIO, dir, 0, 0, "fsync: %s",
		    strerror(errno));
	return 1;
}

/*
 * Read a decimal number no greater than max from path into *v. RG_ENOENT
 * when there is no file; RG_EINTEGRITY when it does not hold one number
 * (the guard then refuses: it cannot tell what was accepted before).
 */
static int
get_number(const char *path, uint64_t max, uint64_t *v, struct diag *d)
{
	struct diag tmp;
	char *body = NULL, *end;
	unsigned long long n;
	size_t len;
	int rc;

	diag_clear(&tmp);
	rc = file_read_small(&body, &len, path, 32, &tmp);
	if (rc != RG_OK) {
		free(body);
		if (access(path, F_OK) == -1 && errno == ENOENT)
			return RG_ENOENT;
		if (d != NULL)
			*d = tmp;
		return rc;
	}
	errno = 0;
	n = strtoull(body, &end, 10);
	if (body[0] < '0' || body[0] > '9' || errno != 0 ||
	    (*end != '\0' && strcmp(end, "\n") != 0) || n > max) {
		free(body);
		return diag_set(d, RG_EINTEGRITY, path, 0, 0,
		    "does not hold a number");
	}
	free(body);
	*v = n;
	return RG_OK;
}

static int
put_number(const struct astore *s, const char *path, uint64_t v,
    struct diag *d)
{
	char text[32];
	int n;

	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", v);
	return put_file(s, path, text, (size_t)n, d);
}

/*
 * Make a new 160-bit TOTP secret for user and keep it in
 * STATE_DIR/auth/totp/USER.secret (0600); its base32 text into b32. A
 * secret already there is RG_EEXIST unless force, which replaces it. The
 * user's replay record goes too: it belonged to the old secret.
 */
int
auth_totp_enroll(const char *state_dir, const char *user, int force,
    char *b32, size_t b32len, struct diag *d)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	char text[(TOTP_SECRET_BYTES * 8 + 4) / 5 + 1];
	char path[PATH_MAX], step[PATH_MAX];
	struct astore s;
	struct stat st;
	int rc;

	if (!name_is_safe(user, 64))
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "not a valid user name");
	if (b32 == NULL || b32len < sizeof(text))
		return diag_set(d, RG_ETOOBIG, NULL, 0, 0,
		    "no room for the base32 secret");
	if ((rc = store_open_sub(&s, state_dir, "totp", 1, d)) != RG_OK)
		return rc;
	if ((rc = store_path(&s, path, sizeof(path), "totp", user, ".secret",
	    d)) != RG_OK ||
	    (rc = store_path(&s, step, sizeof(step), "totp", user, ".step",
	    d)) != RG_OK)
		goto out;
	if (lstat(path, &st) == 0 && !force) {
		rc = diag_set(d, RG_EEXIST, path, 0, 0, "%s has a TOTP "
		    "secret already", user);
		goto out;
	}
	if (rg_random(secret, sizeof(secret)) != RG_OK) {
		rc = diag_set(d, RG_EIO, NULL, 0, 0,
		    "no randomness from the kernel");
		goto out;
	}
	if ((rc = base32_encode(text, sizeof(text), secret, sizeof(secret))) !=
	    RG_OK)
		goto out;
	if ((rc = put_file(&s, path, secret, sizeof(secret), d)) != RG_OK)
		goto out;
	/* The new secret is in force. A replay record that will not go
	 * only holds back codes up to a step already used: stricter, not
	 * weaker, so it does not undo the enrolment. */
	(void)drop_file(step, NULL);
	memcpy(b32, text, sizeof(text));
out:
	store_close(&s);
	rg_wipe(secret, sizeof(secret));
	rg_wipe(text, sizeof(text));
	return rc;
}

/* Remove user's TOTP secret and replay record; RG_ENOENT when none. */
int
auth_totp_reset(const char *state_dir, const char *user, struct diag *d)
{
	char path[PATH_MAX], step[PATH_MAX];
	struct astore s;
	int rc;

	if (!name_is_safe(user, 64))
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "not a valid user name");
	if ((rc = store_open_sub(&s, state_dir, "totp", 0, d)) != RG_OK) {
		if (rc == RG_ENOENT)
			rc = diag_set(d, RG_ENOENT, NULL, 0, 0, "%s is not "
			    "enrolled for TOTP", user);
		return rc;
	}
	if ((rc = store_path(&s, path, sizeof(path), "totp", user, ".secret",
	    d)) != RG_OK ||
	    (rc = store_path(&s, step, sizeof(step), "totp", user, ".step",
	    d)) != RG_OK)
		goto out;
	if ((rc = drop_file(path, d)) < 0)
		goto out;
	if (rc == 0) {
		rc = diag_set(d, RG_ENOENT, path, 0, 0, "%s is not enrolled "
		    "for TOTP", user);
		/* a stray replay record without a secret goes all the same */
		(void)drop_file(step, NULL);
		goto out;
	}
	/* the secret is gone; a stray replay record is harmless */
	(void)drop_file(step, NULL);
	rc = RG_OK;
out:
	store_close(&s);
	return rc;
}

/*
 * Read user's TOTP secret into secret[cap], its length into *len.
 * RG_ENOENT when not enrolled, RG_EPERM when the file is open to others,
 * RG_EINTEGRITY when it does not hold a secret, RG_ETOOBIG when cap is
 * short. Takes no lock: writes replace the file whole.
 */
int
auth_totp_secret(const char *state_dir, const char *user,
    unsigned char *secret, size_t cap, size_t *len, struct diag *d)
{
	unsigned char tmp[SECRET_MAX];
	char path[PATH_MAX];
	size_t n = 0;
	int rc;

	if (!name_is_safe(user, 64))
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "not a valid user name");
	if (state_dir == NULL || (size_t)snprintf(path, sizeof(path),
	    "%s/auth/totp/%s.secret", state_dir, user) >= sizeof(path))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0,
		    "path too long");
	rc = file_read_private(tmp, SECRET_MIN, SECRET_MAX, &n, path,
	    "TOTP secret", d);
	if (rc == RG_ENOENT)
		return diag_set(d, RG_ENOENT, path, 0, 0, "%s is not "
		    "enrolled for TOTP", user);
	if (rc == RG_OK && (secret == NULL || n > cap))
		rc = diag_set(d, RG_ETOOBIG, path, 0, 0, "TOTP secret longer "
		    "than %zu bytes", cap);
	if (rc == RG_OK) {
		memcpy(secret, tmp, n);
		if (len != NULL)
			*len = n;
	}
	rg_wipe(tmp, sizeof(tmp));
	return rc;
}

/*
 * The replay guard: RG_OK when step is later than every step accepted for
 * user before, once it is recorded durably; RG_EEXIST when it is not (a
 * code used again, or an older one).
 */
int
auth_totp_use_step(const char *state_dir, const char *user, uint64_t step,
    struct diag *d)
{
	char path[PATH_MAX];
	struct astore s;
	uint64_t last;
	int rc;

	if (!name_is_safe(user, 64))
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "not a valid user name");
	if ((rc = store_open_sub(&s, state_dir, "totp", 1, d)) != RG_OK)
		return rc;
	if ((rc = store_path(&s, path, sizeof(path), "totp", user, ".step",
	    d)) != RG_OK)
		goto out;
	rc = get_number(path, UINT64_MAX, &last, d);
	if (rc == RG_OK && step <= last) {
		rc = diag_set(d, RG_EEXIST, NULL, 0, 0, "%s: the code of time "
		    "step %" PRIu64 " was used already or is older than the "
		    "last one accepted (step %" PRIu64 ")", user, step, last);
		goto out;
	}
	if (rc != RG_OK && rc != RG_ENOENT)
		goto out;
	rc = put_number(&s, path, step, d);
out:
	store_close(&s);
	return rc;
}

/*
 * The signature counter guard of a security key (key_id: its "SHA256:..."
 * fingerprint, stored as the hex SHA-256 of that text so that any id
 * makes a safe file name). RG_OK when acceptable, recorded durably: no
 * record yet, counter > stored, or stored == 0 && counter == 0 (a token
 * without a counter). RG_EINTEGRITY when the counter did not grow.
 */
int
auth_sk_counter(const char *state_dir, const char *user, const char *key_id,
    uint32_t counter, struct diag *d)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char sub[sizeof("sk/") + 64], path[PATH_MAX], hex[2 * 32 + 1];
	struct astore s;
	uint64_t last;
	int rc;

	if (!name_is_safe(user, 64))
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "not a valid user name");
	if (key_id == NULL || key_id[0] == '\0')
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "no key id");
	if (EVP_Digest(key_id, strlen(key_id), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != 32)
		return diag_set(d, RG_ECRYPTO, NULL, 0, 0, "SHA-256 failed");
	hex_encode(hex, md, 32);
	/* fits: a safe user name is at most 64 bytes */
	(void)snprintf(sub, sizeof(sub), "sk/%s", user);
	if ((rc = store_open_sub(&s, state_dir, "sk", 1, d)) != RG_OK)
		return rc;
	/* the user's own folder of counters, private as well */
	if ((rc = store_subdir(&s, sub, d)) != RG_OK ||
	    (rc = store_path(&s, path, sizeof(path), sub, hex, ".count",
	    d)) != RG_OK)
		goto out;
	rc = get_number(path, UINT32_MAX, &last, d);
	if (rc == RG_OK) {
		if (last == 0 && counter == 0)
			goto out;	/* a token without a counter */
		if (counter <= last) {
			rc = diag_set(d, RG_EINTEGRITY, NULL, 0, 0, "%s: "
			    "security key %s: signature counter %" PRIu32
			    " did not grow past %" PRIu64 " (a cloned "
			    "token?)", user, key_id, counter, last);
			goto out;
		}
	} else if (rc != RG_ENOENT)
		goto out;
	rc = put_number(&s, path, counter, d);
out:
	store_close(&s);
	return rc;
}
