/*
 * sandbox/sandbox_landlock.c — the Landlock backend of the sandbox
 * (sandbox/sandbox.c): after it, the process may open files only beneath
 * the folders it was given, with the rights it was given there. Raw system
 * calls (linux/landlock.h; no library). The ABI the kernel offers is asked
 * first and only the rights it knows are handled; a kernel without
 * Landlock (ENOSYS, EOPNOTSUPP: not built in or not enabled at boot) makes
 * this a documented no-op that says so in a debug log.
 *
 * Files opened before (stderr, the audit socket, the master's socketpair,
 * libssh's socket) keep working: Landlock checks opens, not open files.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#ifdef HAVE_LINUX_LANDLOCK_H
#include <linux/landlock.h>
#endif

#if defined(HAVE_LINUX_LANDLOCK_H) && defined(__NR_landlock_create_ruleset)
#define RG_LANDLOCK 1
#endif

#ifdef RG_LANDLOCK

/* Rights newer than the installed kernel headers (Debian 12 stops at ABI 2). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif

#define FS_ABI1 (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
	LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
	LANDLOCK_ACCESS_FS_MAKE_SYM)

/* What each grant means, before it is cut to what the kernel handles. */
#define RIGHTS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_READ_DIR)
#define RIGHTS_EXEC	(RIGHTS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define RIGHTS_WRITE	(RIGHTS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
	LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)
/* A socket or FIFO to be made there (gpg-agent's). */
#define RIGHTS_SOCK	(RIGHTS_WRITE | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO)

/* Rights the running kernel handles (0: no Landlock). */
static uint64_t
handled_rights(int *abi_out)
{
	long abi;
	uint64_t r;

	abi = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	*abi_out = abi < 0 ? 0 : (int)abi;
	if (abi < 1)
		return 0;
	r = FS_ABI1;
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

static int
add_rule(int ruleset, const char *path, uint64_t rights, uint64_t handled,
    struct diag *d)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, rc = RG_OK;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)	/* nothing there yet: nothing to allow */
			return RG_OK;
		return diag_set(d, RG_EIO, path, 0, 0, "open: %s",
		    strerror(errno));
	}
	memset(&pb, 0, sizeof(pb));
	pb.parent_fd = fd;
	pb.allowed_access = rights & handled;
	/* A file (not a folder) takes only file rights. */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		pb.allowed_access &= LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_EXECUTE |
		    LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (syscall(__NR_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
		rc = diag_set(d, RG_EIO, path, 0, 0, "landlock_add_rule: %s",
		    strerror(errno));
	close(fd);
	return rc;
}

/* Restrict this process (and its future children) to paths[]. */
int
sandbox_landlock(const struct sandbox_path *paths, size_t n, struct diag *d)
{
	struct landlock_ruleset_attr ra;
	uint64_t handled;
	size_t i;
	int abi, ruleset, rc = RG_OK;

	handled = handled_rights(&abi);
	if (handled == 0) {
		log_debug("sandbox: Landlock not offered by this kernel (%s): "
		    "file-system confinement skipped", strerror(errno));
		return RG_OK;
	}
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = handled;
	ruleset = (int)syscall(__NR_landlock_create_ruleset, &ra, sizeof(ra),
	    0);
	if (ruleset == -1) {
		if (errno == ENOSYS || errno == EOPNOTSUPP) {
			log_debug("sandbox: Landlock unavailable (%s): skipped",
			    strerror(errno));
			return RG_OK;
		}
		return diag_set(d, RG_EIO, NULL, 0, 0,
		    "landlock_create_ruleset: %s", strerror(errno));
	}
	for (i = 0; i < n && rc == RG_OK; i++) {
		uint64_t want = paths[i].access == SANDBOX_RW ? RIGHTS_WRITE :
		    paths[i].access == SANDBOX_SOCK ? RIGHTS_SOCK :
		    paths[i].access == SANDBOX_EXEC ? RIGHTS_EXEC : RIGHTS_READ;

		rc = add_rule(ruleset, paths[i].path, want, handled, d);
	}
	if (rc == RG_OK && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		rc = diag_set(d, RG_EPERM, NULL, 0, 0,
		    "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (rc == RG_OK && syscall(__NR_landlock_restrict_self, ruleset,
	    0) == -1)
		rc = diag_set(d, RG_EPERM, NULL, 0, 0,
		    "landlock_restrict_self: %s", strerror(errno));
	close(ruleset);
	if (rc == RG_OK)
		log_debug("sandbox: Landlock ABI %d, %zu folder(s) allowed",
		    abi, n);
	return rc;
}

#else /* !RG_LANDLOCK */

/* No Landlock headers at build time: nothing to do. */
int
sandbox_landlock(const struct sandbox_path *paths, size_t n, struct diag *d)
{
	(void)paths;
	(void)n;
	(void)d;
	log_debug("sandbox: built without Landlock: file-system confinement "
	    "skipped");
	return RG_OK;
}

#endif
