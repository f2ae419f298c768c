/*
 * Unit tests for the session sandbox (sandbox/sandbox*.c): a forked child
 * enters the sandbox over a temporary state dir and tries one thing; the
 * parent asserts how it ended (exit status, SIGSYS, the line on stderr).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "contracts/contracts.h"
#include "gateway/gateway.h"

#define E_OK		0	/* the allowed thing worked */
#define E_REFUSED	42	/* the forbidden call failed as it should */
#define E_ALLOWED	43	/* the forbidden call worked: a defect */
#define E_SETUP		44	/* sandbox_apply failed */
#define E_OTHER		45	/* failed in an unexpected way */

struct child {
	int	status;
	char	err[4096];	/* what it wrote on stderr */
};

static char state_dir[256];
static char worker_cfg[256];	/* the worker's config dir, in /var/tmp */

static int
setup(void **st)
{
	char p[512];
	int fd;

	(void)st;
	snprintf(state_dir, sizeof(state_dir), "/tmp/rg-sandbox.XXXXXX");
	if (mkdtemp(state_dir) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/spool", state_dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/spool/staff", state_dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/spool/staff/bob", state_dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/releases", state_dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/releases/r1.txt", state_dir);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) == -1)
		return -1;
	if (write(fd, "released\n", 9) != 9)
		return -1;
	close(fd);
	snprintf(p, sizeof(p), "%s/auth", state_dir);	/* the master's */
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/auth/totp", state_dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/auth/totp/ann.secret", state_dir);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) == -1)
		return -1;
	close(fd);
	snprintf(p, sizeof(p), "%s/state.db", state_dir);	/* not a session's */
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) == -1)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void **st)
{
	char cmd[600];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	return system(cmd) == 0 ? 0 : -1;
}

#define MODE_ALL	0	/* sandbox_apply(state_dir) */
#define MODE_OFF	1	/* the same with RELGATE_SANDBOX=none */
#define MODE_STAFF	2	/* sandbox_apply_session(): staff "ann" */
#define MODE_WORKER	3	/* sandbox_apply_worker(worker_cfg, state_dir) */

/* Run fn in a sandboxed child. */
static void
run_child(int (*fn)(void), int mode, struct child *c)
{
	int pfd[2];
	pid_t pid;
	size_t n = 0;
	ssize_t r;

	memset(c, 0, sizeof(*c));
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct diag d;

		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		if (mode == MODE_OFF)
			setenv("RELGATE_SANDBOX", "none", 1);
		diag_clear(&d);
		if (mode == MODE_WORKER) {
			if (sandbox_apply_worker(worker_cfg, state_dir, &d) !=
			    RG_OK)
				_exit(E_SETUP);
		} else if (mode == MODE_STAFF ? sandbox_apply_session(
		    state_dir, "ann", ROLE_STAFF, &d) != RG_OK :
		    sandbox_apply(state_dir, &d) != RG_OK)
			_exit(E_SETUP);
		_exit(fn());
	}
	close(pfd[1]);
	while (n < sizeof(c->err) - 1 &&
	    (r = read(pfd[0], c->err + n, sizeof(c->err) - 1 - n)) > 0)
		n += (size_t)r;
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &c->status, 0), pid);
}

static int
landlock_offered(void)
{
#ifdef SYS_landlock_create_ruleset
	return syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL) >= 1;
#else
	return 0;
#endif
}

/* ---- what the children try ---------------------------------------------- */

static int
do_spool_write_and_release_read(void)
{
	char p[512], b[16];
	int fd;

	snprintf(p, sizeof(p), "%s/spool/up.bin", state_dir);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return E_OTHER;
	if (write(fd, "data", 4) != 4 || fsync(fd) != 0)
		return E_OTHER;
	close(fd);
	snprintf(p, sizeof(p), "%s/releases/r1.txt", state_dir);
	if ((fd = open(p, O_RDONLY)) == -1 || read(fd, b, 9) != 9)
		return E_OTHER;
	close(fd);
	return memcmp(b, "released\n", 9) == 0 ? E_OK : E_OTHER;
}

static int
do_release_write(void)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/releases/r1.txt", state_dir);
	fd = open(p, O_WRONLY);
	if (fd != -1)
		return E_ALLOWED;
	return errno == EACCES ? E_REFUSED : E_OTHER;
}

static int
do_open_outside(void)
{
	char p[512];

	if (open("/etc/passwd", O_RDONLY) != -1)
		return E_ALLOWED;
	if (errno != EACCES)
		return E_OTHER;
	/* the state dir itself holds nothing for a session */
	snprintf(p, sizeof(p), "%s/state.db", state_dir);
	if (open(p, O_RDONLY) != -1)
		return E_ALLOWED;
	return errno == EACCES ? E_REFUSED : E_OTHER;
}

static int
do_execve(void)
{
	char *argv[] = { "true", NULL };
	char *envp[] = { NULL };

	execve("/bin/true", argv, envp);
	return errno == EPERM ? E_REFUSED : E_OTHER;
}

static int
do_socket_inet(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	return fd == -1 ? E_REFUSED : E_ALLOWED;
}

static int
do_socket_unix(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	return fd == -1 ? E_OTHER : E_OK;
}

static int
do_fork(void)
{
	pid_t pid = (pid_t)syscall(SYS_fork);

	if (pid == 0)
		_exit(0);
	return pid == -1 ? E_REFUSED : E_ALLOWED;
}

static void *
thread_noop(void *arg)
{
	return arg;
}

/* A session has one thread: glibc's clone3() (then clone()) is denied. */
static int
do_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_noop, NULL) != 0)
		return E_REFUSED;
	pthread_join(t, NULL);
	return E_ALLOWED;
}

/* staff ann: her own spool folder (made by the sandbox), nothing else */
static int
do_staff_ann(void)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/spool/staff/ann/r1", state_dir);
	if (mkdir(p, 0700) != 0)
		return E_OTHER;
	snprintf(p, sizeof(p), "%s/spool/staff/ann/r1/a.csv", state_dir);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) == -1)
		return E_OTHER;
	close(fd);
	snprintf(p, sizeof(p), "%s/spool/staff/bob", state_dir);
	if ((fd = open(p, O_RDONLY | O_DIRECTORY)) != -1)
		return E_ALLOWED;
	if (errno != EACCES)
		return E_OTHER;
	/* the second factors' secrets are the master's alone */
	snprintf(p, sizeof(p), "%s/auth/totp/ann.secret", state_dir);
	if ((fd = open(p, O_RDONLY)) != -1)
		return E_ALLOWED;
	if (errno != EACCES)
		return E_OTHER;
	snprintf(p, sizeof(p), "%s/releases/r1.txt", state_dir);
	if ((fd = open(p, O_RDONLY)) != -1)
		return E_ALLOWED;
	return errno == EACCES ? E_REFUSED : E_OTHER;
}

/* The release worker: config read-only, state read-write, gpg runs,
 * nothing else under /var/tmp (where the test's config dir is). */
static int
do_worker(void)
{
	char p[600];
	char *argv[] = { "true", NULL };
	char *envp[] = { NULL };
	int fd, st;
	pid_t pid;

	snprintf(p, sizeof(p), "%s/relgate.yaml", worker_cfg);
	if ((fd = open(p, O_RDONLY)) == -1)
		return E_OTHER;
	close(fd);
	if (open(p, O_WRONLY) != -1)
		return E_ALLOWED;
	if (errno != EACCES)
		return E_OTHER;
	snprintf(p, sizeof(p), "%s/gnupg-test", state_dir);
	if (mkdir(p, 0700) != 0)
		return E_OTHER;
	if ((pid = fork()) == 0) {
		execve("/bin/true", argv, envp);
		_exit(1);
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return E_OTHER;
	if (open("/var/tmp", O_RDONLY | O_DIRECTORY) != -1)
		return E_ALLOWED;
	return errno == EACCES ? E_REFUSED : E_OTHER;
}

#ifdef RG_SANITIZERS
/* An AddressSanitizer report made inside the sandbox: a read after
 * free. The runtime must get through its report and exit. */
static char *volatile dangling;

static int
do_asan_report(void)
{
	char *p = malloc(8), c;

	if (p == NULL)
		return E_OTHER;
	p[0] = 0x7f;
	dangling = p;
	free(p);
	c = dangling[0];
	return c == 0x7f ? E_OK : E_ALLOWED;	/* not reached under ASan */
}
#endif

/* ---- tests ------------------------------------------------------------- */

static void
assert_killed_for(const struct child *c, long nr)
{
	char want[64];

	assert_true(WIFSIGNALED(c->status));
	assert_int_equal(WTERMSIG(c->status), SIGSYS);
	snprintf(want, sizeof(want), "system call %ld not allowed", nr);
	assert_non_null(strstr(c->err, want));
}

/* The child saw its call fail (EPERM/EACCES) and exited E_REFUSED. */
static void
assert_refused(const struct child *c)
{
	assert_true(WIFEXITED(c->status));
	assert_int_equal(WEXITSTATUS(c->status), E_REFUSED);
}

/* Killed by the filter; in sanitizer builds the call fails with EPERM
 * instead (a report's symbolizer fails softly). */
static void
assert_denied_call(const struct child *c, long nr)
{
#ifdef RG_SANITIZERS
	(void)nr;
	assert_refused(c);
#else
	assert_killed_for(c, nr);
#endif
}

static void
test_allowed_work(void **st)
{
	struct child c;

	(void)st;
	run_child(do_spool_write_and_release_read, MODE_ALL, &c);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), E_OK);
	run_child(do_socket_unix, MODE_ALL, &c);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), E_OK);
}

static void
test_socket_inet_kills(void **st)
{
	struct child c;

	(void)st;
	run_child(do_socket_inet, MODE_ALL, &c);
	assert_killed_for(&c, SYS_socket);
}

static void
test_execve_refused(void **st)
{
	struct child c;

	(void)st;
	run_child(do_execve, MODE_ALL, &c);
	assert_denied_call(&c, SYS_execve);
	run_child(do_fork, MODE_ALL, &c);
	assert_denied_call(&c, SYS_fork);
	/* glibc blocks every signal around clone3(): the kernel then kills
	 * with SIGSYS before our handler can name the call */
	run_child(do_thread, MODE_ALL, &c);
#ifdef RG_SANITIZERS
	assert_refused(&c);
#else
	assert_true(WIFSIGNALED(c.status));
	assert_int_equal(WTERMSIG(c.status), SIGSYS);
#endif
}

static void
test_files_outside_refused(void **st)
{
	struct child c;

	(void)st;
	if (!landlock_offered())
		skip();
	run_child(do_open_outside, MODE_ALL, &c);
	assert_refused(&c);
	run_child(do_release_write, MODE_ALL, &c);
	assert_refused(&c);
}

static void
test_session_roles(void **st)
{
	struct child c;

	(void)st;
	if (!landlock_offered())
		skip();
	run_child(do_staff_ann, MODE_STAFF, &c);
	assert_refused(&c);
}

static void
test_worker(void **st)
{
	struct child c;
	char p[600];
	int fd;

	(void)st;
	if (!landlock_offered())
		skip();
	snprintf(worker_cfg, sizeof(worker_cfg), "/var/tmp/rg-sbcfg.XXXXXX");
	assert_non_null(mkdtemp(worker_cfg));
	snprintf(p, sizeof(p), "%s/relgate.yaml", worker_cfg);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	close(fd);
	run_child(do_worker, MODE_WORKER, &c);
	unlink(p);
	rmdir(worker_cfg);
	assert_refused(&c);
}

#ifdef RG_SANITIZERS
static void
test_sanitizer_report(void **st)
{
	struct child c;

	(void)st;
	run_child(do_asan_report, MODE_ALL, &c);
	assert_false(WIFSIGNALED(c.status));
	assert_true(WIFEXITED(c.status));
	assert_int_not_equal(WEXITSTATUS(c.status), E_OK);
	assert_int_not_equal(WEXITSTATUS(c.status), E_ALLOWED);
	assert_non_null(strstr(c.err, "ERROR: AddressSanitizer: "
	    "heap-use-after-free"));
	assert_null(strstr(c.err, "not allowed"));
}
#endif

static void
test_null_backend(void **st)
{
	struct child c;

	(void)st;
	run_child(do_socket_inet, MODE_OFF, &c);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), E_ALLOWED);
	assert_non_null(strstr(c.err, "RELGATE_SANDBOX=none"));
	run_child(do_open_outside, MODE_OFF, &c);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), E_ALLOWED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_work),
		cmocka_unit_test(test_socket_inet_kills),
		cmocka_unit_test(test_execve_refused),
		cmocka_unit_test(test_files_outside_refused),
		cmocka_unit_test(test_session_roles),
		cmocka_unit_test(test_worker),
#ifdef RG_SANITIZERS
		cmocka_unit_test(test_sanitizer_report),
#endif
		cmocka_unit_test(test_null_backend),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
