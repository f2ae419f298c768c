/*
 * gateway/sockbuf.c — read a session's socket in large gulps.
 *
 * libssh 0.10 reads its socket 4 KiB at a time (MAX_BUF_SIZE), one recv()
 * per poll() round (ssh_socket_pollcallback in its src/socket.c). An upload
 * of 1 GiB then costs half a million system calls and as many TCP window
 * updates, and relgated lost to OpenSSH's sftp server on put by that alone.
 * libssh has no option for it, so this file interposes the two libc calls
 * libssh makes on its socket: recv() on the attached descriptor is served
 * from a 256 KiB buffer that one recvfrom() fills, and poll() reports
 * POLLIN at once while that buffer holds bytes (libssh only reads after
 * POLLIN). Every other descriptor, and every other process, goes straight
 * to the kernel. A session process serves one connection, so one socket
 * is all this needs to know about.
 *
 * The definitions below take precedence over libc's for libssh because the
 * executable comes first in the dynamic linker's search order.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gateway/sockbuf.h"

#define SOCKBUF_SIZE	(256u * 1024)

static int sb_fd = -1;
static unsigned char *sb_buf;
static size_t sb_off, sb_len;

/* Serve recv() on fd from a buffer from now on. */
int
sockbuf_attach(int fd)
{
	unsigned char *b;

	if ((b = malloc(SOCKBUF_SIZE)) == NULL)
		return -1;
	sockbuf_detach();
	sb_buf = b;
	sb_off = sb_len = 0;
	sb_fd = fd;
	return 0;
}

/* Back to plain recv(); bytes still buffered are dropped with the buffer
 * (only done when the connection is finished). */
void
sockbuf_detach(void)
{
	free(sb_buf);
	sb_buf = NULL;
	sb_off = sb_len = 0;
	sb_fd = -1;
}

/* Bytes taken from the socket that nobody has read yet. */
size_t
sockbuf_pending(void)
{
	return sb_len - sb_off;
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	size_t n;

	if (fd != sb_fd || flags != 0 || len == 0)
		return recvfrom(fd, buf, len, flags, NULL, NULL);
	if (sb_off == sb_len) {
		ssize_t got;

		if (len >= SOCKBUF_SIZE)	/* no gain in a copy */
			return recvfrom(fd, buf, len, 0, NULL, NULL);
		got = recvfrom(fd, sb_buf, SOCKBUF_SIZE, 0, NULL, NULL);
		if (got <= 0)
			return got;
		sb_off = 0;
		sb_len = (size_t)got;
	}
	n = sb_len - sb_off;
	if (n > len)
		n = len;
	memcpy(buf, sb_buf + sb_off, n);
	sb_off += n;
	return (ssize_t)n;
}

/* poll(2) itself: libc's would be this very function. */
static int
kernel_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec ts, *tsp = NULL;

	if (timeout >= 0) {
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
		tsp = &ts;
	}
	return (int)syscall(SYS_ppoll, fds, nfds, tsp, NULL, (size_t)8);
}

/*
 * glibc declares poll()'s array write-only (__attr_access), which it is
 * not: the events are read. GCC then takes our reads for reads of
 * uninitialised memory.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
int
poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	static unsigned skipped;
	nfds_t i, held = nfds;
	int ready;

	if (sb_off < sb_len)
		for (i = 0; i < nfds; i++)
			if (fds[i].fd == sb_fd && (fds[i].events & POLLIN)) {
				held = i;
				break;
			}
	if (held == nfds)
		return kernel_poll(fds, nfds, timeout);
	/*
	 * libssh polls before each 4 KiB it takes: while bytes are held,
	 * ask the kernel (for POLLOUT, hang-ups, other descriptors) only
	 * every 8th time; the others answer POLLIN at once. A buffer drains
	 * in at most 64 steps, so nothing waits long.
	 */
	if (++skipped % 8 != 0) {
		for (i = 0; i < nfds; i++)
			fds[i].revents = 0;
		fds[held].revents = POLLIN;
		return 1;
	}
	ready = kernel_poll(fds, nfds, 0);
	if (ready < 0) {		/* a signal: the held bytes still are */
		for (i = 0; i < nfds; i++)
			fds[i].revents = 0;
		ready = 0;
	}
	if (fds[held].revents == 0)
		ready++;
	fds[held].revents |= POLLIN;
	return ready;
}
