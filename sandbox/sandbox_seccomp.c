/*
 * sandbox/sandbox_seccomp.c — the seccomp backend of the sandbox
 * (sandbox/sandbox.c): an allowlist of the system calls an authenticated
 * session makes (libssh's socket I/O and poll, OpenSSL, our SFTP layer's
 * file calls, the audit client's AF_UNIX socket, syslog, time, memory,
 * signals, exit). Anything else traps: a SIGSYS handler writes the system
 * call's number to stderr and the process dies of SIGSYS, so a missing
 * entry is diagnosable rather than a silent kill. socket() is allowed for
 * AF_UNIX only; there is no clone (no threads, no processes), execve,
 * fork, ptrace or kill of others.
 *
 * Sanitizer builds (RG_SANITIZERS, the CI build) allow a few more calls
 * the AddressSanitizer/UBSan runtime makes, each marked below.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#ifdef HAVE_SECCOMP
#include <seccomp.h>

/* Allowed for every confined session, whatever the arguments. */
static const char *const session_calls[] = {
	/* plain I/O on descriptors */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "lseek", "close", "dup", "dup2",
	"dup3", "fcntl",
	/* the SFTP layer and queue: beneath its folders (Landlock says where) */
	"openat", "openat2", "open", "newfstatat", "fstat", "stat", "lstat",
	"statx", "fstatfs", "statfs", "getdents64", "mkdirat", "mkdir",
	"unlinkat", "unlink", "rmdir", "renameat", "renameat2", "rename",
	"fsync", "fdatasync", "sync_file_range", "fchmod", "fchmodat",
	"utimensat", "futimesat", "ftruncate", "fallocate", "readlinkat",
	"readlink", "faccessat", "faccessat2", "access", "flock", "fadvise64",
	"umask", "getcwd",
	/* sockets already open (SSH, master, audit writer, syslog) */
	"connect", "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
	"getsockopt", "setsockopt", "getsockname", "getpeername",
	/* waiting */
	"poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "nanosleep", "clock_nanosleep",
	/* time and timers (the login-grace alarm) */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "alarm",
	"setitimer", "getitimer",
	/* memory */
	"mmap", "munmap", "mremap", "brk", "madvise", "mprotect",
	/* signals (raise() is tgkill on ourselves) */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"tgkill", "tkill", "restart_syscall",
	/* who am I, limits */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getrlimit", "prlimit64",
	"getrusage", "uname", "sysinfo",
	/* OpenSSL and libssh randomness, glibc locks; set_robust_list and
	 * rseq are glibc's per-thread set-up (no thread can start here) */
	"getrandom", "futex", "set_robust_list", "rseq", "sched_yield",
	"exit", "exit_group",
	NULL
};

#ifdef RG_SANITIZERS
/*
 * AddressSanitizer/UBSan runtime only: prctl (PR_GET_DUMPABLE and friends
 * in reports), sched_getaffinity, mincore, sigaltstack handling is above.
 */
static const char *const sanitizer_calls[] = {
	"prctl", "sched_getaffinity", "mincore", "getpgid", "pipe2",
	NULL
};
/*
 * The runtime may try to start llvm-symbolizer for a report: that fails
 * with EPERM (the report is printed unsymbolised) instead of killing the
 * process in the middle of it.
 */
static const char *const sanitizer_eperm_calls[] = {
	"fork", "vfork", "execve", "execveat", "wait4",
	"ptrace",
	NULL
};
#endif

/* async-signal-safe: "relgated: sandbox: system call N not allowed\n" */
static void
sigsys_handler(int sig, siginfo_t *si, void *uctx)
{
	char msg[96], num[24];
	const char *pre = "relgated: sandbox: system call ";
	const char *post = " not allowed: session killed\n";
	size_t n = 0, k = 0;
	long nr = si->si_syscall;
	unsigned long u = nr < 0 ? (unsigned long)-nr : (unsigned long)nr;
	ssize_t w;

	(void)uctx;
	do {
		num[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0 && k < sizeof(num) - 1);
	memcpy(msg, pre, strlen(pre));
	n = strlen(pre);
	if (nr < 0)
		msg[n++] = '-';
	while (k > 0)
		msg[n++] = num[--k];
	memcpy(msg + n, post, strlen(post));
	n += strlen(post);
	w = write(STDERR_FILENO, msg, n);
	(void)w;
	/* SA_RESETHAND made SIGSYS default again: die of it (no core). */
	raise(sig);
	_exit(128 + SIGSYS);
}

static int
allow_list(scmp_filter_ctx ctx, const char *const *names, uint32_t action,
    struct diag *d)
{
	size_t i;

	for (i = 0; names[i] != NULL; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;	/* not a call on this architecture */
		rc = seccomp_rule_add(ctx, action, nr, 0);
		if (rc != 0)
			return diag_set(d, RG_EIO, NULL, 0, 0,
			    "seccomp_rule_add(%s): %s", names[i],
			    strerror(-rc));
	}
	return RG_OK;
}

/* Install the SIGSYS reporter and load the session's allowlist. */
int
sandbox_seccomp(struct diag *d)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		return diag_set(d, RG_EIO, NULL, 0, 0, "sigaction(SIGSYS): %s",
		    strerror(errno));
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return diag_set(d, RG_ENOMEM, NULL, 0, 0, "seccomp_init failed");
	rc = allow_list(ctx, session_calls, SCMP_ACT_ALLOW, d);
#ifdef RG_SANITIZERS
	if (rc == RG_OK)
		rc = allow_list(ctx, sanitizer_calls, SCMP_ACT_ALLOW, d);
	if (rc == RG_OK)
		rc = allow_list(ctx, sanitizer_eperm_calls,
		    SCMP_ACT_ERRNO(EPERM), d);
#endif
#ifdef RG_SANITIZERS
	/* the sanitizer runtime's symbolizer would fork: EPERM, as above */
	if (rc == RG_OK && (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
	    SCMP_SYS(clone), 0) != 0 || seccomp_rule_add(ctx,
	    SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0))
		rc = diag_set(d, RG_EIO, NULL, 0, 0, "seccomp: clone rules");
#endif
	/* socket(): AF_UNIX only (the audit writer, syslog's /dev/log). */
	if (rc == RG_OK && seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
	    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) != 0)
		rc = diag_set(d, RG_EIO, NULL, 0, 0, "seccomp: socket rule");
	/* ioctl(): non-blocking I/O, bytes waiting, isatty() on stderr. */
	if (rc == RG_OK && (seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
	    SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONBIO)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIONREAD)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIOCLEX)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TCGETS)) != 0))
		rc = diag_set(d, RG_EIO, NULL, 0, 0, "seccomp: ioctl rules");
	if (rc == RG_OK && (rc = seccomp_load(ctx)) != 0)
		rc = diag_set(d, RG_EPERM, NULL, 0, 0, "seccomp_load: %s",
		    strerror(-rc));
	seccomp_release(ctx);
	return rc;
}

#else /* !HAVE_SECCOMP */

/* Built without libseccomp: no system-call filter (logged). */
int
sandbox_seccomp(struct diag *d)
{
	(void)d;
	log_warnx("sandbox: built without libseccomp: no system-call filter");
	return RG_OK;
}

#endif
