/*
 * Unit tests for gateway/sockbuf.c: recv() on the attached socket hands
 * out the stream unchanged in libssh's 4 KiB steps while one recvfrom()
 * took up to 256 KiB, poll() says POLLIN while bytes are held even when
 * the socket itself is empty, and other descriptors are left alone.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "gateway/sockbuf.h"

#define TOTAL	(600u * 1024)

static void
fill(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + (i >> 12));
}

/* Take one 4 KiB step the way libssh does: poll() first, then recv(). */
static size_t
step(int fd, int idle_fd, unsigned char *dst)
{
	struct pollfd pfd[2];
	ssize_t r;

	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = idle_fd;
	pfd[1].events = POLLIN;
	assert_true(poll(pfd, 2, 1000) >= 1);
	assert_true(pfd[0].revents & POLLIN);
	assert_int_equal(pfd[1].revents, 0);	/* nothing there */
	r = recv(fd, dst, 4096, 0);
	assert_true(r > 0);
	return (size_t)r;
}

static void
test_stream(void **state)
{
	int sv[2], other[2];
	unsigned char *want = malloc(TOTAL), *got = malloc(TOTAL);
	unsigned char tmp[4096];
	size_t sent = 0, have = 0, biggest = 0;
	struct pollfd pfd;

	(void)state;
	assert_non_null(want);
	assert_non_null(got);
	fill(want, TOTAL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(sockbuf_attach(sv[0]), 0);
	while (have < TOTAL) {
		ssize_t w = sent < TOTAL ? write(sv[1], want + sent,
		    TOTAL - sent) : 0;

		if (w > 0)
			sent += (size_t)w;
		/* one step fetches all the socket holds (up to 256 KiB) */
		have += step(sv[0], other[0], got + have);
		if (sockbuf_pending() > biggest)
			biggest = sockbuf_pending();
		/* then libssh's steps are served from the buffer, with the
		 * socket empty: poll() must still say POLLIN */
		while (sockbuf_pending() > 0)
			have += step(sv[0], other[0], got + have);
		assert_int_equal(have, sent);
	}
	assert_memory_equal(got, want, TOTAL);
	assert_true(biggest > 4096);	/* large gulps really happened */
	/* nothing held, nothing sent: poll waits (and times out) */
	pfd.fd = sv[0];
	pfd.events = POLLIN;
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 50), 0);
	/* another socket is not buffered: recv() takes only what it asks */
	assert_int_equal(write(other[1], "abcdef", 6), 6);
	assert_int_equal(recv(other[0], tmp, 2, 0), 2);
	assert_int_equal(recv(other[0], tmp + 2, sizeof(tmp) - 2,
	    MSG_DONTWAIT), 4);
	assert_memory_equal(tmp, "abcdef", 6);
	/* end of stream comes through */
	close(sv[1]);
	assert_int_equal(recv(sv[0], tmp, sizeof(tmp), 0), 0);
	sockbuf_detach();
	close(sv[0]);
	close(other[0]);
	close(other[1]);
	free(want);
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
