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

/* Look up the system user name; its uid and primary gid. */
int
privdrop_lookup(const char *name, uid_t *uid, gid_t *gid, struct diag *d)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL)
		return diag_set(d, RG_ENOENT, NULL, 0, 0,
		    "run_as: no system user \"%s\"", name);
	if (pw->pw_uid == 0)
		return diag_set(d, RG_EINVAL, NULL, 0, 0,
		    "run_as: \"%s\" is root", name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
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
