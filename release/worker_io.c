/*
 * release/worker_io.c — the check pass's I/O thread (verify mode on 2+
 * cores): reading, SHA-256 and staging (tar+zstd) of an extract beside
 * the thread that checks it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "release/internal.h"

/*
 * Verify mode on 2+ cores: reading, SHA-256 and staging (tar+zstd) of the
 * extract on an I/O thread of its own, so that the checking thread only
 * tokenises and checks (it sets the pace: the engine's helper thread
 * checks rows behind it) and never waits on zstd's workers. The I/O thread
 * reads into a ring of IO_RING buffers, hands each to the checking thread,
 * then hashes and stages it; a buffer is read into again once the checking
 * thread is done with it (both only read a buffer once it is handed over).
 */
static void *
io_main(void *arg)
{
	struct io_thread *h = arg;
	int staged_ok = 1;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		size_t k;
		ssize_t n;

		while (!h->quit && h->filled - h->fed >= IO_RING)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->quit)
			break;
		k = (size_t)(h->filled % IO_RING);
		pthread_mutex_unlock(&h->mu);
		do
			n = read(h->fd, h->buf[k], IO_CHUNK);
		while (n == -1 && errno == EINTR);
		pthread_mutex_lock(&h->mu);
		if (n < 0)
			h->read_errno = errno ? errno : EIO;
		else if (n > 0 && worker_stop_flag)
			h->stopped = 1;
		else if (n > 0 && h->got + (uint64_t)n > h->size)
			h->changed = 1;
		if (n <= 0 || h->read_errno || h->stopped || h->changed) {
			h->ended = 1;
			pthread_cond_broadcast(&h->cv);
			break;
		}
		h->got += (uint64_t)n;
		h->len[k] = (size_t)n;
		h->filled++;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		/* The checking thread reads buf[k] meanwhile; it is not read
		 * into again before this thread comes back round to it. */
		EVP_DigestUpdate((EVP_MD_CTX *)h->sha, h->buf[k], (size_t)n);
		if (staged_ok && stage_entry_write(h->stage, h->buf[k],
		    (size_t)n, &h->diag) != RG_OK)
			staged_ok = 0;
		pthread_mutex_lock(&h->mu);
		if (!staged_ok)
			h->failed = 1;
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Start the I/O thread on fd (size bytes at open) with its ring (each
 * buffer IO_CHUNK bytes): hash into sha, stage into stage. */
int
io_start(struct io_thread *h, int fd, uint64_t size, void *sha,
    struct stage *stage)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->size = size;
	h->sha = sha;
	h->stage = stage;
	diag_clear(&h->diag);
	for (i = 0; i < IO_RING; i++)
		if ((h->buf[i] = malloc(IO_CHUNK)) == NULL)
			return RG_ENOMEM;
	if (pthread_mutex_init(&h->mu, NULL) != 0)
		return RG_ENOMEM;
	if (pthread_cond_init(&h->cv, NULL) != 0) {
		pthread_mutex_destroy(&h->mu);
		return RG_ENOMEM;
	}
	if (pthread_create(&h->th, NULL, io_main, h) != 0) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		return RG_ENOMEM;
	}
	h->started = 1;
	return RG_OK;
}

/* The next buffer read (*len bytes), waiting for it; NULL once there is
 * none (end of file or an error: see the flags after io_stop()). */
const unsigned char *
io_next(struct io_thread *h, size_t *len)
{
	const unsigned char *b = NULL;

	pthread_mutex_lock(&h->mu);
	while (h->fed == h->filled && !h->ended)
		pthread_cond_wait(&h->cv, &h->mu);
	if (h->fed < h->filled && !h->failed) {
		b = h->buf[h->fed % IO_RING];
		*len = h->len[h->fed % IO_RING];
	}
	pthread_mutex_unlock(&h->mu);
	return b;
}

/* The checking thread is done with the buffer from io_next(). */
void
io_release(struct io_thread *h)
{
	pthread_mutex_lock(&h->mu);
	h->fed++;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Stop the thread (at the end of the file it has stopped already, with
 * everything read hashed and staged), free the ring (the digest context
 * stays the caller's). NULL-safe, idempotent. */
void
io_stop(struct io_thread *h)
{
	size_t i;

	if (h == NULL)
		return;
	if (h->started) {
		pthread_mutex_lock(&h->mu);
		h->quit = 1;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->th, NULL);
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		h->started = 0;
	}
	for (i = 0; i < IO_RING; i++) {
		free(h->buf[i]);
		h->buf[i] = NULL;
	}
}
