/*
 * gateway/privdrop.c — a session process gives up root after
 * authentication, in the OpenBSD daemons' order (chdir, setgroups,
 * setresgid, setresuid), checks that root cannot come back, and sets the
 * resource limits a session lives under.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gateway/gateway.h"

#define SESSION_NOFILE	256			/* handles + a few */
#define SESSION_FSIZE	((rlim_t)256 << 30)	/* 256 GiB per file */

#define OVERFLOW_ID	65534	/* nobody, nogroup */
#define STATIC_ID_MAX	99	/* distributions' shared accounts: daemon, bin,
				 * www-data...; made users get 100 or more */

/* 1 when shell lets no one log in (nologin, false). */
static int
shell_is_nologin(const char *shell)
{
	const char *base = strrchr(shell, '/');

	base = base != NULL ? base + 1 : shell;
	return strcmp(base, "nologin") == 0 || strcmp(base, "false") == 0;
}

/* 1 when gid is the primary group of another user or has members. */
static int
group_shared(const char *name, gid_t gid)
{
	struct passwd *pw;
	struct group *gr;
	int shared = 0;

	if ((gr = getgrgid(gid)) != NULL && gr->gr_mem != NULL &&
	    gr->gr_mem[0] != NULL &&
	    (strcmp(gr->gr_mem[0], name) != 0 || gr->gr_mem[1] != NULL))
		return 1;
	setpwent();
	while (!shared && (pw = getpwent()) != NULL)
		if (pw->pw_gid == gid && strcmp(pw->pw_name, name) != 0)
			shared = 1;
	endpwent();
	return shared;
}

/*
 * Look up the system user name; its uid and primary gid. It must be a user
 * of relgate's own (relgated(8), run_as): not root or root's group, not
 * nobody/nogroup, not one of the accounts distributions allocate
 * statically and share among packages (uid or gid below 100: daemon,
 * www-data...), not an account anyone logs in as (its shell is nologin or
 * false), and its primary group belongs to it alone.
 */
int
privdrop_lookup(const char *name, uid_t *uid, gid_t *gid, struct diag *d)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL)
		return diag_set(d, RG_ENOENT, NULL, 0, 0,
		    "run_as: no system user \"%s\"", name);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "run_as: \"%s\" is root or in root's group", name);
	if (strcmp(name, "nobody") == 0 || pw->pw_uid == OVERFLOW_ID ||
	    pw->pw_gid == OVERFLOW_ID)
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "run_as: \"%s\" is nobody/nogroup, which other services "
		    "share; make a user of relgate's own (_relgate)", name);
	if (pw->pw_uid <= STATIC_ID_MAX || pw->pw_gid <= STATIC_ID_MAX)
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "run_as: \"%s\" (uid %lu) is one of the system's shared "
		    "accounts (uid or gid below 100); make a user of relgate's "
		    "own (_relgate)", name, (unsigned long)pw->pw_uid);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (pw->pw_shell == NULL || !shell_is_nologin(pw->pw_shell))
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "run_as: \"%s\" has a login shell (%s); relgate's own "
		    "user has none (nologin)", name,
		    pw->pw_shell != NULL ? pw->pw_shell : "none");
	if (group_shared(name, *gid))
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "run_as: the primary group of \"%s\" (gid %lu) has other "
		    "members; relgate's own user has a group of its own",
		    name, (unsigned long)*gid);
	return RG_OK;
}

/* Drop to uid/gid for good, with dir as the working folder. */
int
privdrop_apply(const char *dir, uid_t uid, gid_t gid, struct diag *d)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (dir != NULL && chdir(dir) == -1)
		return diag_set(d, RG_EIO, dir, 0, 0, "chdir: %s",
		    strerror(errno));
	if (setgroups(1, &gid) == -1)
		return diag_set(d, RG_EPERM, NULL, 0, 0, "setgroups: %s",
		    strerror(errno));
	if (setresgid(gid, gid, gid) == -1)
		return diag_set(d, RG_EPERM, NULL, 0, 0, "setresgid: %s",
		    strerror(errno));
	if (setresuid(uid, uid, uid) == -1)
		return diag_set(d, RG_EPERM, NULL, 0, 0, "setresuid: %s",
		    strerror(errno));
	if (getresuid(&ru, &eu, &su) == -1 || ru != uid || eu != uid ||
	    su != uid || getresgid(&rg, &eg, &sg) == -1 || rg != gid ||
	    eg != gid || sg != gid)
		return diag_set(d, RG_EPERM, NULL, 0, 0,
		    "privileges not dropped as asked");
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return diag_set(d, RG_EPERM, NULL, 0, 0,
		    "root could be regained after the drop");
	/* dumpable would let the same uid ptrace the session */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return RG_OK;
}

static int
limit_set(int resource, rlim_t value, const char *name, struct diag *d)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) == -1)
		return diag_set(d, RG_EIO, NULL, 0, 0, "getrlimit %s: %s",
		    name, strerror(errno));
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < value)
		value = rl.rlim_max;
	rl.rlim_cur = value;
	rl.rlim_max = value;
	if (setrlimit(resource, &rl) == -1)
		return diag_set(d, RG_EIO, NULL, 0, 0, "setrlimit %s: %s",
		    name, strerror(errno));
	return RG_OK;
}

/* No core files, a capped number of open files and a file size cap. */
int
session_limits_apply(struct diag *d)
{
	int rc;

	if ((rc = limit_set(RLIMIT_CORE, 0, "RLIMIT_CORE", d)) != RG_OK)
		return rc;
	if ((rc = limit_set(RLIMIT_NOFILE, SESSION_NOFILE, "RLIMIT_NOFILE",
	    d)) != RG_OK)
		return rc;
	return limit_set(RLIMIT_FSIZE, SESSION_FSIZE, "RLIMIT_FSIZE", d);
}
