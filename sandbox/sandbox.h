/*
 * sandbox/ — process confinement for relgated's sessions and its release
 * worker: Landlock (files beneath the folders a process may reach) and a
 * seccomp system-call allowlist.
 */
#ifndef RG_SANDBOX_H
#define RG_SANDBOX_H

#include <stddef.h>

#include "common/common.h"

/*
 * Confine the calling process: Landlock (files beneath view_root's
 * session folders only, when the kernel offers it), then a seccomp
 * allowlist (a call outside it kills the process of SIGSYS, named on
 * stderr). RELGATE_SANDBOX=none in the environment: no-op (debugging).
 */
int	sandbox_apply(const char *view_root, struct diag *d);
/*
 * The same for one session: Landlock allows only the folders user's roles
 * reach (staff spool/staff/USER, made here if missing; approver requests/;
 * contractor releases/ and officer audit-export/ read-only) plus queue/
 * and audit/.
 */
int	sandbox_apply_session(const char *state_dir, const char *user,
	    unsigned roles, struct diag *d);
/*
 * Confine the release worker with Landlock: config_dir read-only, state_dir
 * read-write, what GnuPG needs (/usr, /etc, agent socket folders). RG_OK
 * without Landlock; RELGATE_SANDBOX=none: no-op.
 */
int	sandbox_apply_worker(const char *config_dir, const char *state_dir,
	    struct diag *d);

/* Sandbox backends (sandbox_landlock.c, sandbox_seccomp.c). */
enum sandbox_access {
	SANDBOX_RO,	/* read files, list folders */
	SANDBOX_RW,	/* and write, make, remove, rename */
	SANDBOX_EXEC,	/* read and execute */
	SANDBOX_SOCK	/* read-write, and make sockets and FIFOs */
};
struct sandbox_path {
	const char *path;
	enum sandbox_access access;
};
/*
 * Landlock: from now on files may be opened only beneath paths[] with
 * their access (a missing path allows nothing). RG_OK, and a debug log
 * only, when the kernel has no Landlock.
 */
int	sandbox_landlock(const struct sandbox_path *paths, size_t n,
	    struct diag *d);
/* seccomp: the session's system-call allowlist, for good. */
int	sandbox_seccomp(struct diag *d);

#endif /* RG_SANDBOX_H */
