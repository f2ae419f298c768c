/*
 * gateway/sandbox.c — the one interface through which a session process
 * confines itself after authentication, before it parses a single SFTP
 * packet (OpenSSH's sandbox seam is the model). session.c calls
 * sandbox_apply() once, after the privilege drop; a failure there ends the
 * session. Backends, applied in this order:
 *
 *   landlock (sandbox_landlock.c)  files: only beneath the session's
 *            folders of the state dir, when the kernel offers Landlock;
 *   seccomp  (sandbox_seccomp.c)   system calls: an allowlist, the rest
 *            kills the process with a line naming the call on stderr;
 *   none     RELGATE_SANDBOX=none in relgated's environment (debugging
 *            only; relgated(8)): just PR_SET_NO_NEW_PRIVS, logged loudly.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "gateway/gateway.h"

#define PATH_CAP	4096

/* Whether RELGATE_SANDBOX=none asks for the null backend. */
static int
sandbox_off(void)
{
	const char *v = getenv("RELGATE_SANDBOX");

	return v != NULL && strcmp(v, "none") == 0;
}

/* Confine the calling session process: Landlock, then seccomp. */
int
sandbox_apply(const char *view_root, struct diag *d)
{
	/* Beneath the state dir, what a session reaches (gateway/sftp.h). */
	static const struct {
		const char *sub;
		enum sandbox_access access;
	} sub[] = {
		{ "spool", SANDBOX_RW },	/* spool/staff/USER: uploads */
		{ "requests", SANDBOX_RW },	/* requests/ID/decisions/ */
		{ "queue", SANDBOX_RW },	/* notes to the release worker */
		{ "audit", SANDBOX_RW },	/* audit.sock; direct SQLite when
						 * the writer is down */
		{ "releases", SANDBOX_RO },
		{ "audit-export", SANDBOX_RO },
	};
	char paths[sizeof(sub) / sizeof(sub[0])][PATH_CAP];
	struct sandbox_path p[sizeof(sub) / sizeof(sub[0]) + 4];
	size_t i, n = 0;
	int rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return diag_set(d, RG_EPERM, NULL, 0, 0,
		    "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (sandbox_off()) {
		log_warnx("sandbox: RELGATE_SANDBOX=none: session NOT "
		    "confined (debugging only)");
		return RG_OK;
	}
	if (view_root == NULL)
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "sandbox: no root");
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if ((size_t)snprintf(paths[i], PATH_CAP, "%s/%s", view_root,
		    sub[i].sub) >= PATH_CAP)
			return diag_set(d, RG_EINVAL, view_root, 0, 0,
			    "sandbox: path too long");
		p[n].path = paths[i];
		p[n++].access = sub[i].access;
	}
	/* syslog(3) stamps local time: the zone file, read-only. */
	p[n].path = "/etc/localtime";
	p[n++].access = SANDBOX_RO;
	p[n].path = "/usr/share/zoneinfo";
	p[n++].access = SANDBOX_RO;
#ifdef RG_SANITIZERS
	/* AddressSanitizer reads /proc/self/maps for its reports. */
	p[n].path = "/proc";
	p[n++].access = SANDBOX_RO;
#endif
	if ((rc = sandbox_landlock(p, n, d)) != RG_OK)
		return rc;
	return sandbox_seccomp(d);
}
