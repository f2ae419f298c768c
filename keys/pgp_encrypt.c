/*
 * keys/pgp_encrypt.c — sign and encrypt a release package in one streaming
 * pass: signed by the gateway key (STATE_DIR/gnupg), encrypted to every
 * recipient of the contract, binary (no armour), no OpenPGP compression
 * (the payload is zstd already). Recipients' public keys come from the
 * config directory's keys/pgp/ and are imported into the gateway keyring
 * when missing; trust is the contract's pinned fingerprint, so keys are
 * used with --always-trust.
 *
 * Key management (the import, the gateway key) goes through GPGME. The
 * data path does not: GPGME 1.18 (Debian 12) spends about a tenth of the
 * CPU of a large package in a debug dump inside gpgme_data_read/write even
 * with debugging off, and looks the keys up with a gpg process each. Here
 * gpg is run directly, with the arguments GPGME gives it (--batch --no-tty
 * --status-fd, the gateway's GnuPG home, loopback pinentry, --always-trust,
 * --compress-algo none, --sign --encrypt), on pipes of our own: the
 * plaintext goes in (a file spliced without a copy), the message comes out
 * to the caller's sink, the status lines tell how it went.
 *
 * Plaintext is fed only once gpg says BEGIN_SIGNING, i.e. after it has
 * found the signer and every recipient: a recipient it does not know ends
 * the run before any input is used, and the run is made again after the
 * import.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gpgme.h>

#include "keys/keys.h"

#define PGP_RECIPIENTS_MAX	64
#define PGP_ASC_MAX		(1u << 20)
#define PGP_PIPE_SIZE		(1 << 20)	/* pipe-max-size by default */
#define PGP_IO_CHUNK		(256u * 1024)
#define PGP_STATUS_LINE		1024
#define PGP_ERR_TAIL		512
#define PGP_GATHER_MIN		(64u * 1024)
#define PGP_GATHER_NS		500000L	/* 0.5 ms */
#define PGP_START_WAIT_MS	10000	/* BEGIN_SIGNING overdue: feed anyway */

extern char **environ;

/* ---- keys (GPGME) ----------------------------------------------------- */

/* Import every *.asc of dir into the keyring of home. */
static int
import_dir(const char *home, const char *dir, struct diag *d)
{
	char path[PATH_MAX];
	struct dirent *de;
	gpgme_ctx_t ctx = NULL;
	gpgme_error_t e;
	DIR *dp;

	setlocale(LC_CTYPE, "");
	gpgme_check_version(NULL);
	if ((e = gpgme_new(&ctx)) != 0 ||
	    (e = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL,
	    home)) != 0) {
		gpgme_release(ctx);
		return diag_set(d, RG_ECRYPTO, home, 0, 0, "gpgme: %s",
		    gpgme_strerror(e));
	}
	if ((dp = opendir(dir)) == NULL) {
		gpgme_release(ctx);
		return diag_set(d, RG_ENOENT, dir, 0, 0, "opendir: %s",
		    strerror(errno));
	}
	while ((de = readdir(dp)) != NULL) {
		size_t len = strlen(de->d_name), n;
		gpgme_data_t kd = NULL;
		char *text = NULL;
		int w;

		if (len < 5 || strcmp(de->d_name + len - 4, ".asc") != 0 ||
		    de->d_name[0] == '.')
			continue;
		w = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (w < 0 || (size_t)w >= sizeof(path))
			continue;
		if (file_read_small(&text, &n, path, PGP_ASC_MAX, NULL) != 0)
			continue;	/* lint reports unreadable keys */
		if (gpgme_data_new_from_mem(&kd, text, n, 0) == 0) {
			(void)gpgme_op_import(ctx, kd);
			gpgme_data_release(kd);
		}
		free(text);
	}
	closedir(dp);
	gpgme_release(ctx);
	return RG_OK;
}

/* Import the contractors' keys (pgp_dir) into the gateway keyring. */
int
pgp_import_keys(const char *state_dir, const char *pgp_dir, struct diag *d)
{
	char home[PATH_MAX];
	int w = snprintf(home, sizeof(home), "%s/gnupg", state_dir);

	if (w < 0 || (size_t)w >= sizeof(home))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0, "path too long");
	return import_dir(home, pgp_dir, d);
}

/* The gateway key's fingerprint per GnuPG home, remembered by the process
 * (gateway_pgp_ensure runs gpg twice). */
static pthread_mutex_t signer_mu = PTHREAD_MUTEX_INITIALIZER;
static char signer_home[PATH_MAX];
static char signer_fpr[41];

/* The gateway key of state_dir (made on first use), remembered. */
int
pgp_signer_fpr(const char *state_dir, char fpr[41], struct diag *d)
{
	char home[PATH_MAX];
	int rc = RG_OK, w;

	w = snprintf(home, sizeof(home), "%s/gnupg", state_dir);
	if (w < 0 || (size_t)w >= sizeof(home))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0, "path too long");
	pthread_mutex_lock(&signer_mu);
	if (signer_fpr[0] != '\0' && strcmp(signer_home, home) == 0)
		rg_strlcpy(fpr, signer_fpr, 41);
	else if ((rc = gateway_pgp_ensure(state_dir, fpr, d)) == RG_OK) {
		rg_strlcpy(signer_home, home, sizeof(signer_home));
		rg_strlcpy(signer_fpr, fpr, sizeof(signer_fpr));
	}
	pthread_mutex_unlock(&signer_mu);
	return rc;
}

static void
signer_forget(void)
{
	pthread_mutex_lock(&signer_mu);
	signer_fpr[0] = '\0';
	pthread_mutex_unlock(&signer_mu);
}

/* The gpg program GPGME would run. */
static int
gpg_path(char *out, size_t len, struct diag *d)
{
	gpgme_engine_info_t info = NULL;

	setlocale(LC_CTYPE, "");
	gpgme_check_version(NULL);
	if (gpgme_get_engine_info(&info) == 0)
		for (; info != NULL; info = info->next)
			if (info->protocol == GPGME_PROTOCOL_OpenPGP &&
			    info->file_name != NULL) {
				rg_strlcpy(out, info->file_name, len);
				return RG_OK;
			}
	return diag_set(d, RG_ECRYPTO, "gpg", 0, 0, "no OpenPGP engine");
}

/* ---- the plaintext ---------------------------------------------------- */

struct pgp_source {
	const unsigned char *head;	/* fed first */
	size_t	head_len, head_off;
	int	fd;			/* then this file from offset 0 */
	loff_t	fd_off;
	int	no_splice;
	pgp_read_fn rd;			/* or this callback */
	void	*rd_arg;
	unsigned char *buf;		/* read but not yet fed */
	size_t	buf_len, buf_off;
	uint64_t consumed;		/* bytes taken from fd or rd */
	int	eof;
};

/* Start again from the first byte; 0 when that is not possible. */
static int
source_rewind(struct pgp_source *s)
{
	if (s->fd == -1 && s->consumed > 0)
		return 0;
	s->head_off = 0;
	s->fd_off = 0;
	s->buf_len = s->buf_off = 0;
	s->consumed = 0;
	s->eof = 0;
	return 1;
}

/*
 * Move some plaintext into the (non-blocking) pipe. Returns 1 when
 * something moved, 0 when the pipe is full, -1 with errno on error; sets
 * s->eof once everything is in.
 */
static int
source_feed(struct pgp_source *s, int pipe_fd)
{
	ssize_t n;

	if (s->head_off < s->head_len) {
		n = write(pipe_fd, s->head + s->head_off,
		    s->head_len - s->head_off);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		s->head_off += (size_t)n;
		return 1;
	}
	if (s->fd != -1 && !s->no_splice) {
		n = splice(s->fd, &s->fd_off, pipe_fd, NULL, PGP_PIPE_SIZE,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n == 0) {
			s->eof = 1;
			return 1;
		}
		if (n > 0) {
			s->consumed += (uint64_t)n;
			return 1;
		}
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		s->no_splice = 1;	/* e.g. a file system without it */
	}
	if (s->buf_off == s->buf_len) {
		if (s->fd != -1) {
			do
				n = pread(s->fd, s->buf, PGP_IO_CHUNK,
				    (off_t)s->fd_off);
			while (n < 0 && errno == EINTR);
			if (n > 0)
				s->fd_off += n;
		} else {
			long r = s->rd(s->rd_arg, s->buf, PGP_IO_CHUNK);

			n = r;
			if (r < 0)
				errno = EIO;
		}
		if (n < 0)
			return -1;
		if (n == 0) {
			s->eof = 1;
			return 1;
		}
		s->consumed += (uint64_t)n;
		s->buf_len = (size_t)n;
		s->buf_off = 0;
	}
	n = write(pipe_fd, s->buf + s->buf_off, s->buf_len - s->buf_off);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	s->buf_off += (size_t)n;
	return 1;
}

/* ---- one gpg run ------------------------------------------------------ */

struct gpg_run {
	/* from the status lines */
	int	begun;			/* BEGIN_SIGNING: keys found */
	int	sig_created, end_encryption, failure;
	char	inv_recp[41];		/* first refused recipient */
	int	inv_recp_reason;
	int	inv_sgnr;
	/* */
	uint64_t out_bytes;
	int	sink_error, feed_error;	/* errno of feeding; sink failed */
	int	status;			/* waitpid status */
	char	err[PGP_ERR_TAIL + 1];	/* the end of gpg's stderr */
	size_t	err_len;
};

static void
status_line(struct gpg_run *g, char *line)
{
	static const char pfx[] = "[GNUPG:] ";
	char *kw, *arg;

	if (strncmp(line, pfx, sizeof(pfx) - 1) != 0)
		return;
	kw = line + sizeof(pfx) - 1;
	if ((arg = strchr(kw, ' ')) != NULL)
		*arg++ = '\0';
	else
		arg = kw + strlen(kw);
	if (strcmp(kw, "BEGIN_SIGNING") == 0)
		g->begun = 1;
	else if (strcmp(kw, "SIG_CREATED") == 0)
		g->sig_created = 1;
	else if (strcmp(kw, "END_ENCRYPTION") == 0)
		g->end_encryption = 1;
	else if (strcmp(kw, "FAILURE") == 0 || strcmp(kw, "ERROR") == 0)
		g->failure = 1;
	else if (strcmp(kw, "INV_SGNR") == 0)
		g->inv_sgnr = 1;
	else if (strcmp(kw, "INV_RECP") == 0 && g->inv_recp[0] == '\0') {
		char *sp = strchr(arg, ' ');

		g->inv_recp_reason = atoi(arg);
		rg_strlcpy(g->inv_recp, sp ? sp + 1 : "?",
		    sizeof(g->inv_recp));
	}
}

/* Keep the last PGP_ERR_TAIL bytes of stderr. */
static void
err_keep(struct gpg_run *g, const char *p, size_t n)
{
	if (n >= PGP_ERR_TAIL) {
		memcpy(g->err, p + n - PGP_ERR_TAIL, PGP_ERR_TAIL);
		g->err_len = PGP_ERR_TAIL;
	} else {
		if (g->err_len + n > PGP_ERR_TAIL) {
			size_t drop = g->err_len + n - PGP_ERR_TAIL;

			memmove(g->err, g->err + drop, g->err_len - drop);
			g->err_len -= drop;
		}
		memcpy(g->err + g->err_len, p, n);
		g->err_len += n;
	}
	g->err[g->err_len] = '\0';
}

/* A pipe with both ends close-on-exec and numbered above 3 (the child's
 * 0-3 are set by dup2 in order). */
static int
pipe_high(int p[2])
{
	int i;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	for (i = 0; i < 2; i++)
		if (p[i] < 4) {
			int h = fcntl(p[i], F_DUPFD_CLOEXEC, 4);

			if (h == -1) {
				close(p[0]);
				close(p[1]);
				return -1;
			}
			close(p[i]);
			p[i] = h;
		}
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* Spawn gpg with argv on fresh pipes: stdin, stdout, stderr, fd 3 for the
 * status lines. Our ends go to io[0..3], non-blocking. */
static int
gpg_spawn(char *const *argv, pid_t *pid, int io[4])
{
	int p[4][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	int i, rc = -1, e;

	for (i = 0; i < 4; i++)
		if (pipe_high(p[i]) != 0)
			goto out;
	(void)fcntl(p[0][1], F_SETPIPE_SZ, PGP_PIPE_SIZE);
	(void)fcntl(p[1][1], F_SETPIPE_SZ, PGP_PIPE_SIZE);
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto out;
	e = posix_spawn_file_actions_adddup2(&fa, p[0][0], 0);
	e |= posix_spawn_file_actions_adddup2(&fa, p[1][1], 1);
	e |= posix_spawn_file_actions_adddup2(&fa, p[2][1], 2);
	e |= posix_spawn_file_actions_adddup2(&fa, p[3][1], 3);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	e |= posix_spawn_file_actions_addclosefrom_np(&fa, 4);
#endif
	/* gpg starts with no signal blocked and SIGPIPE at its default
	 * (the worker ignores it; this thread blocks it while gpg runs) */
	if (e == 0 && posix_spawnattr_init(&sa) == 0) {
		sigset_t none, pipe_set;

		sigemptyset(&none);
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		if (posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
		    POSIX_SPAWN_SETSIGDEF) == 0 &&
		    posix_spawnattr_setsigmask(&sa, &none) == 0 &&
		    posix_spawnattr_setsigdefault(&sa, &pipe_set) == 0 &&
		    posix_spawn(pid, argv[0], &fa, &sa, argv, environ) == 0)
			rc = 0;
		posix_spawnattr_destroy(&sa);
	}
	posix_spawn_file_actions_destroy(&fa);
out:
	for (i = 0; i < 4; i++) {
		int mine = i == 0 ? p[i][1] : p[i][0];

		close_fd(i == 0 ? &p[i][0] : &p[i][1]);
		if (rc == 0) {
			io[i] = mine;
			(void)fcntl(mine, F_SETFL, O_NONBLOCK);
		} else if (mine != -1)
			close(mine);
	}
	return rc;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Run gpg once: feed src once it has begun, pass its output to wr, read
 * its status. RG_OK when gpg ran to its end (its verdict is in g);
 * RG_ECRYPTO when it could not be started.
 */
static int
gpg_run_once(char *const *argv, struct pgp_source *src, pgp_write_fn wr,
    void *wr_arg, unsigned char *obuf, struct gpg_run *g, struct diag *d)
{
	char line[PGP_STATUS_LINE];
	size_t line_len = 0;
	struct timespec t0;
	sigset_t pipe_set, old_set;
	int io[4] = { -1, -1, -1, -1 };	/* in, out, err, status */
	size_t moved;
	pid_t pid;

	memset(g, 0, sizeof(*g));
	/* A gpg that died leaves EPIPE, not a signal to the worker. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	if (gpg_spawn(argv, &pid, io) != 0) {
		pthread_sigmask(SIG_SETMASK, &old_set, NULL);
		return diag_set(d, RG_ECRYPTO, argv[0], 0, 0, "spawn: %s",
		    strerror(errno));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (io[1] != -1 || io[2] != -1 || io[3] != -1) {
		struct pollfd pf[4];
		int feeding = io[0] != -1 && (g->begun ||
		    ms_since(&t0) > PGP_START_WAIT_MS);
		int i;

		for (i = 0; i < 4; i++) {
			pf[i].fd = io[i];
			pf[i].events = i == 0 ? (feeding ? POLLOUT : 0) :
			    POLLIN;
			pf[i].revents = 0;
		}
		if (io[0] != -1 && !feeding)
			pf[0].fd = -1;
		if (poll(pf, 4, feeding || io[0] == -1 ? -1 : 200) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[3].revents) {		/* status lines */
			char tmp[4096];
			ssize_t n = read(io[3], tmp, sizeof(tmp));

			if (n <= 0 && !(n < 0 && (errno == EAGAIN ||
			    errno == EINTR)))
				close_fd(&io[3]);
			for (i = 0; i < (int)n; i++) {
				if (tmp[i] != '\n') {
					if (line_len < sizeof(line) - 1)
						line[line_len++] = tmp[i];
					continue;
				}
				line[line_len] = '\0';
				status_line(g, line);
				line_len = 0;
			}
			if (g->failure || g->inv_recp[0] || g->inv_sgnr)
				close_fd(&io[0]);	/* nothing to feed */
		}
		if (pf[2].revents) {		/* stderr */
			char tmp[1024];
			ssize_t n = read(io[2], tmp, sizeof(tmp));

			if (n > 0)
				err_keep(g, tmp, (size_t)n);
			else if (!(n < 0 && (errno == EAGAIN ||
			    errno == EINTR)))
				close_fd(&io[2]);
		}
		moved = 0;
		if (pf[1].revents) {		/* the message */
			ssize_t n = read(io[1], obuf, PGP_IO_CHUNK);

			if (n > 0) {
				moved = (size_t)n;
				if (!g->sink_error &&
				    wr(wr_arg, obuf, (size_t)n) < 0) {
					g->sink_error = 1;
					kill(pid, SIGTERM);
					close_fd(&io[0]);
				}
				g->out_bytes += (uint64_t)n;
			} else if (!(n < 0 && (errno == EAGAIN ||
			    errno == EINTR)))
				close_fd(&io[1]);
		}
		if (io[0] != -1 && (pf[0].revents & (POLLOUT | POLLERR |
		    POLLHUP))) {
			int k = 0, f = 0;

			/* A few steps a wake-up: the pipe is large. */
			while (k++ < 4 && (f = source_feed(src, io[0])) > 0 &&
			    !src->eof)
				;
			if (f < 0 && errno == EPIPE)
				close_fd(&io[0]);	/* gpg gave up: see why */
			else if (f < 0) {
				g->feed_error = errno ? errno : EIO;
				kill(pid, SIGTERM);
				close_fd(&io[0]);
			} else if (src->eof)
				close_fd(&io[0]);	/* gpg sees the end */
		}
		/*
		 * gpg reads and writes 8 KiB at a time: woken for each, this
		 * loop would cost more than gpg. While the message comes in
		 * small pieces, let it gather a moment (the pipes hold 1 MiB
		 * each way, gpg fills or drains that in a few milliseconds).
		 */
		if (g->begun && io[1] != -1 && moved < PGP_GATHER_MIN) {
			struct timespec nap = { 0, PGP_GATHER_NS };

			nanosleep(&nap, NULL);
		}
	}
	for (int i = 0; i < 4; i++)
		close_fd(&io[i]);
	while (waitpid(pid, &g->status, 0) == -1 && errno == EINTR)
		;
	/* Drop a SIGPIPE we caused before unblocking. */
	{
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return RG_OK;
}

/* What GPGME would pass, for sign+encrypt to the recipients. */
static int
gpg_argv(char **argv, size_t max, char *prog, char *home, char *signer,
    char *const *recipients, size_t n)
{
	static char *const head[] = { "--batch", "--no-tty", "--no-sk-comments",
	    "--status-fd", "3", "--charset", "utf8", "--pinentry-mode",
	    "loopback", "--always-trust", "--no-encrypt-to",
	    "--compress-algo", "none", "--auto-key-locate", "local",
	    /* SHA-256 for the signature (gpg picks SHA-512 for Ed25519):
	     * the same strength as the key, and with the CPU's SHA
	     * instructions a quarter less of gpg's time on a package. */
	    "--digest-algo", "SHA256",
	    "--output", "-" };
	size_t k = 0, i;

	if (max < RG_ARRAY_LEN(head) + 2 * n + 8)
		return -1;
	argv[k++] = prog;
	argv[k++] = "--homedir";
	argv[k++] = home;
	for (i = 0; i < RG_ARRAY_LEN(head); i++)
		argv[k++] = head[i];
	argv[k++] = "--local-user";
	argv[k++] = signer;
	for (i = 0; i < n; i++) {
		argv[k++] = "--recipient";
		argv[k++] = recipients[i];
	}
	argv[k++] = "--sign";
	argv[k++] = "--encrypt";
	argv[k] = NULL;
	return 0;
}

static int
gpg_failed(const struct gpg_run *g)
{
	return !WIFEXITED(g->status) || WEXITSTATUS(g->status) != 0 ||
	    g->failure || !g->sig_created || !g->end_encryption;
}

static const char *
recp_reason(int r)
{
	switch (r) {
	case 0:
	case 1:
		return "no public key";
	case 4:
		return "revoked";
	case 5:
		return "expired";
	case 10:
		return "not trusted";
	default:
		return "unusable";
	}
}

/* Sign and encrypt src; the engine of both entry points. */
static int
encrypt_sign_src(const char *state_dir, const char *pgp_dir,
    char *const *recipients, size_t n_recipients, struct pgp_source *src,
    pgp_write_fn wr, void *wr_arg, struct diag *d)
{
	char *argv[PGP_RECIPIENTS_MAX * 2 + 40];
	char home[PATH_MAX], prog[PATH_MAX], fpr[41];
	struct gpg_run g;
	unsigned char *ibuf = NULL, *obuf = NULL;
	int rc, w, attempt, imported = 0, reensured = 0;

	if (n_recipients == 0 || n_recipients > PGP_RECIPIENTS_MAX)
		return diag_set(d, RG_EINVAL, "", 0, 0,
		    "a release needs 1 to %d recipients", PGP_RECIPIENTS_MAX);
	w = snprintf(home, sizeof(home), "%s/gnupg", state_dir);
	if (w < 0 || (size_t)w >= sizeof(home))
		return diag_set(d, RG_EINVAL, state_dir, 0, 0, "path too long");
	/* Makes the gateway key on first use. */
	if ((rc = pgp_signer_fpr(state_dir, fpr, d)) != RG_OK)
		return rc;
	if ((rc = gpg_path(prog, sizeof(prog), d)) != RG_OK)
		return rc;
	if ((ibuf = malloc(PGP_IO_CHUNK)) == NULL ||
	    (obuf = malloc(PGP_IO_CHUNK)) == NULL) {
		free(ibuf);
		return RG_ENOMEM;
	}
	src->buf = ibuf;
	for (attempt = 0; attempt < 3; attempt++) {
		if (!source_rewind(src)) {
			rc = diag_set(d, RG_ECRYPTO, home, 0, 0,
			    "gpg stopped after reading the input");
			break;
		}
		if (gpg_argv(argv, RG_ARRAY_LEN(argv), prog, home, fpr,
		    recipients, n_recipients) != 0) {
			rc = RG_EINVAL;
			break;
		}
		if ((rc = gpg_run_once(argv, src, wr, wr_arg, obuf, &g, d)) !=
		    RG_OK)
			break;
		if (g.sink_error) {
			rc = diag_set(d, RG_EIO, "", 0, 0,
			    "writing the package failed");
			break;
		}
		if (g.feed_error) {
			rc = diag_set(d, RG_EIO, "", 0, 0,
			    "reading the package: %s", strerror(g.feed_error));
			break;
		}
		if (!gpg_failed(&g) && src->eof) {
			rc = RG_OK;
			break;
		}
		if (g.out_bytes == 0 && g.inv_recp[0] && !imported &&
		    pgp_dir != NULL) {
			/* Not in the gateway keyring yet: import, again. */
			(void)import_dir(home, pgp_dir, d);
			imported = 1;
			continue;
		}
		if (g.out_bytes == 0 && g.inv_sgnr && !reensured) {
			/* The remembered gateway key went away. */
			signer_forget();
			if ((rc = pgp_signer_fpr(state_dir, fpr, d)) != RG_OK)
				break;
			reensured = 1;
			continue;
		}
		if (g.inv_recp[0] && g.inv_recp_reason <= 1)
			rc = diag_set(d, RG_ENOENT, pgp_dir ? pgp_dir : "", 0,
			    0, "no OpenPGP key for recipient %s", g.inv_recp);
		else if (g.inv_recp[0])
			rc = diag_set(d, RG_ECRYPTO, "", 0, 0,
			    "recipient %s refused: %s", g.inv_recp,
			    recp_reason(g.inv_recp_reason));
		else if (g.inv_sgnr)
			rc = diag_set(d, RG_ECRYPTO, home, 0, 0,
			    "the package was not signed (gateway key %s)", fpr);
		else
			rc = diag_set(d, RG_ECRYPTO, home, 0, 0, "gpg: %s",
			    g.err_len ? g.err : "failed");
		break;
	}
	if (attempt == 3)
		rc = diag_set(d, RG_ECRYPTO, home, 0, 0, "gpg: %s",
		    g.err_len ? g.err : "failed");
	free(ibuf);
	free(obuf);
	src->buf = NULL;
	return rc;
}

/* Sign with the gateway key and encrypt to the recipients, streaming. */
int
pgp_encrypt_sign(const char *state_dir, const char *pgp_dir,
    char *const *recipients, size_t n_recipients, pgp_read_fn rd,
    void *rd_arg, pgp_write_fn wr, void *wr_arg, struct diag *d)
{
	struct pgp_source src;

	memset(&src, 0, sizeof(src));
	src.fd = -1;
	src.rd = rd;
	src.rd_arg = rd_arg;
	return encrypt_sign_src(state_dir, pgp_dir, recipients, n_recipients,
	    &src, wr, wr_arg, d);
}

/* As pgp_encrypt_sign, the plaintext being head then the file fd. */
int
pgp_encrypt_sign_fd(const char *state_dir, const char *pgp_dir,
    char *const *recipients, size_t n_recipients, const void *head,
    size_t head_len, int fd, pgp_write_fn wr, void *wr_arg, struct diag *d)
{
	struct pgp_source src;

	memset(&src, 0, sizeof(src));
	src.head = head;
	src.head_len = head_len;
	src.fd = fd;
	return encrypt_sign_src(state_dir, pgp_dir, recipients, n_recipients,
	    &src, wr, wr_arg, d);
}
