/*
 * sandbox/sandbox.c — the one interface through which a session process
 * confines itself after authentication, before it parses a single SFTP
 * packet (OpenSSH's sandbox seam is the model). session.c calls
 * sandbox_apply_session() once, after the privilege drop; a failure there
 * ends the session. Backends, applied in this order:
 *
 *   landlock (sandbox_landlock.c)  files: only beneath the folders of the
 *            state dir that the user's roles reach (gateway/sftp.h), when
 *            the kernel offers Landlock;
 *   seccomp  (sandbox_seccomp.c)   system calls: an allowlist, the rest
 *            kills the process with a line naming the call on stderr;
 *   none     RELGATE_SANDBOX=none in relgated's environment (debugging
 *            only; relgated(8)): just PR_SET_NO_NEW_PRIVS, logged loudly.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contracts/contracts.h"
#include "sandbox/sandbox.h"

#define PATH_CAP	4096
#define PATHS_MAX	20

struct grants {
	char	buf[PATHS_MAX][PATH_CAP];
	struct sandbox_path p[PATHS_MAX];
	size_t	n;
};

static int
grant(struct grants *g, const char *root, const char *sub,
    enum sandbox_access access, struct diag *d)
{
	if (g->n == PATHS_MAX)
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "sandbox: too many folders");
	if (root == NULL)
		rg_strlcpy(g->buf[g->n], sub, PATH_CAP);
	else if ((size_t)snprintf(g->buf[g->n], PATH_CAP, "%s/%s", root,
	    sub) >= PATH_CAP)
		return diag_set(d, RG_EINVAL, root, 0, 0,
		    "sandbox: path too long");
	g->p[g->n].path = g->buf[g->n];
	g->p[g->n].access = access;
	g->n++;
	return RG_OK;
}

/* Whether RELGATE_SANDBOX=none asks for the null backend. */
static int
sandbox_off(void)
{
	const char *v = getenv("RELGATE_SANDBOX");

	return v != NULL && strcmp(v, "none") == 0;
}

/* What every session needs besides its view, then both backends. */
static int
confine(const char *state_dir, struct grants *g, struct diag *d)
{
	int rc;

	/* notes to the release worker (queue_submit) */
	if ((rc = grant(g, state_dir, "queue", SANDBOX_RW, d)) != RG_OK)
		return rc;
	/*
	 * Nothing under audit/: a session appends through the writer's
	 * socket only (audit_open_writer()), and Landlock does not govern
	 * connect() to a socket path, so a restarted writer is still found.
	 */
	/* syslog(3) stamps local time: the zone files, read-only */
	if ((rc = grant(g, NULL, "/etc/localtime", SANDBOX_RO, d)) != RG_OK ||
	    (rc = grant(g, NULL, "/usr/share/zoneinfo", SANDBOX_RO, d)) !=
	    RG_OK)
		return rc;
#ifdef RG_SANITIZERS
	/* AddressSanitizer reads /proc/self/maps for its reports. */
	if ((rc = grant(g, NULL, "/proc", SANDBOX_RO, d)) != RG_OK)
		return rc;
#endif
	if ((rc = sandbox_landlock(g->p, g->n, d)) != RG_OK)
		return rc;
	return sandbox_seccomp(d);
}

static int
no_new_privs(struct diag *d)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return diag_set(d, RG_EPERM, NULL, 0, 0,
		    "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (sandbox_off()) {
		log_warnx("sandbox: RELGATE_SANDBOX=none: session NOT "
		    "confined (debugging only)");
		return 1;
	}
	return RG_OK;
}

/* Confine the calling process to every session folder of view_root. */
int
sandbox_apply(const char *view_root, struct diag *d)
{
	static const char *const rw[] = { "spool", "requests" };
	static const char *const ro[] = { "releases", "audit-export" };
	struct grants *g;
	size_t i;
	int rc;

	if ((rc = no_new_privs(d)) != RG_OK)
		return rc < 0 ? rc : RG_OK;
	if (view_root == NULL)
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "sandbox: no root");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return RG_ENOMEM;
	for (i = 0; rc == RG_OK && i < 2; i++)
		rc = grant(g, view_root, rw[i], SANDBOX_RW, d);
	for (i = 0; rc == RG_OK && i < 2; i++)
		rc = grant(g, view_root, ro[i], SANDBOX_RO, d);
	if (rc == RG_OK)
		rc = confine(view_root, g, d);
	free(g);
	return rc;
}

/* mkdir one level (0700) unless it is there. */
static int
make_dir(const char *path, struct diag *d)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return diag_set(d, RG_EIO, path, 0, 0, "mkdir: %s",
		    strerror(errno));
	return RG_OK;
}

/* Confine a session of user with roles to what its view reaches. */
int
sandbox_apply_session(const char *state_dir, const char *user,
    unsigned roles, struct diag *d)
{
	struct grants *g;
	char p[PATH_CAP];
	int rc;

	if ((rc = no_new_privs(d)) != RG_OK)
		return rc < 0 ? rc : RG_OK;
	if (state_dir == NULL || user == NULL || user[0] == '\0' ||
	    strchr(user, '/') != NULL || strcmp(user, ".") == 0 ||
	    strcmp(user, "..") == 0)
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "sandbox: bad session");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return RG_ENOMEM;
	if (roles & ROLE_STAFF) {
		/* The view makes spool/staff/USER (0700) if missing; it
		 * cannot once confined, so it is made here, the same way. */
		if ((size_t)snprintf(p, sizeof(p), "%s/spool/staff", state_dir)
		    >= sizeof(p))
			rc = diag_set(d, RG_EINVAL, state_dir, 0, 0,
			    "sandbox: path too long");
		if (rc == RG_OK && (rc = make_dir(p, d)) == RG_OK &&
		    (size_t)snprintf(p, sizeof(p), "%s/spool/staff/%s",
		    state_dir, user) >= sizeof(p))
			rc = diag_set(d, RG_EINVAL, state_dir, 0, 0,
			    "sandbox: path too long");
		if (rc == RG_OK && (rc = make_dir(p, d)) == RG_OK)
			rc = grant(g, NULL, p, SANDBOX_RW, d);
	}
	if (rc == RG_OK && (roles & ROLE_APPROVER))	/* decisions/ */
		rc = grant(g, state_dir, "requests", SANDBOX_RW, d);
	if (rc == RG_OK && (roles & ROLE_CONTRACTOR))
		rc = grant(g, state_dir, "releases", SANDBOX_RO, d);
	if (rc == RG_OK && (roles & ROLE_OFFICER))
		rc = grant(g, state_dir, "audit-export", SANDBOX_RO, d);
	if (rc == RG_OK)
		rc = confine(state_dir, g, d);
	free(g);
	return rc;
}

/*
 * The release worker: Landlock only (it runs gpg, so no system-call
 * filter). Read: the config dir, /etc, and programs and libraries under
 * /usr (and /bin, /lib... on systems without merged /usr); read-write: the
 * state dir (its GNUPGHOME is state_dir/gnupg), gpg-agent's socket folders
 * (/run/user, /tmp and $TMPDIR), /dev/null.
 */
int
sandbox_apply_worker(const char *config_dir, const char *state_dir,
    struct diag *d)
{
	static const char *const exec[] = { "/usr", "/bin", "/sbin", "/lib",
	    "/lib64", "/lib32", "/libx32" };
	struct grants *g;
	const char *tmpdir = getenv("TMPDIR");
	size_t i;
	int rc;

	if ((rc = no_new_privs(d)) != RG_OK)
		return rc < 0 ? rc : RG_OK;
	if (config_dir == NULL || state_dir == NULL)
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "sandbox: no dirs");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return RG_ENOMEM;
	rc = grant(g, NULL, config_dir, SANDBOX_RO, d);
	if (rc == RG_OK)
		rc = grant(g, NULL, state_dir, SANDBOX_SOCK, d);
	if (rc == RG_OK)
		rc = grant(g, NULL, "/etc", SANDBOX_RO, d);
	for (i = 0; rc == RG_OK && i < sizeof(exec) / sizeof(exec[0]); i++)
		rc = grant(g, NULL, exec[i], SANDBOX_EXEC, d);
	if (rc == RG_OK)
		rc = grant(g, NULL, "/run/user", SANDBOX_SOCK, d);
	if (rc == RG_OK)
		rc = grant(g, NULL, "/tmp", SANDBOX_SOCK, d);
	if (rc == RG_OK && tmpdir != NULL && tmpdir[0] == '/')
		rc = grant(g, NULL, tmpdir, SANDBOX_SOCK, d);
	if (rc == RG_OK)
		rc = grant(g, NULL, "/dev/null", SANDBOX_RW, d);
	/* gpgme closes a child's descriptors by listing /proc/self/fd */
	if (rc == RG_OK)
		rc = grant(g, NULL, "/proc", SANDBOX_RO, d);
	if (rc == RG_OK)
		rc = sandbox_landlock(g->p, g->n, d);
	if (rc == RG_OK)
		log_debug("sandbox: release worker confined (%zu folders)",
		    g->n);
	free(g);
	return rc;
}
