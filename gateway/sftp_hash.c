/*
 * gateway/sftp_hash.c — the SHA-256 of an upload, computed beside the
 * transfer.
 *
 * Every upload's SHA-256 goes into its file.upload audit record. Hashing
 * in line cost a quarter of a session's CPU on a put (SHA-256 runs at about
 * 1.6 GB/s with SHA-NI, slower than the network path) and left the other
 * core idle, where OpenSSH spreads a transfer over two processes. So a
 * session gets one hashing thread, started on its first upload: WRITE
 * copies its bytes into a ring of slots (a copy is ten times cheaper than
 * the hash) and goes on; CLOSE waits for the ring to drain before it takes
 * the digest. The thread only hashes memory: it makes no system call but
 * futex, and it runs under the session's sandbox (seccomp and Landlock
 * are inherited by threads; the seccomp filter allows clone() for threads
 * only).
 *
 * If the thread cannot be started, hashing happens in line, as before.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gateway/sftp_internal.h"

#define SLOT_SIZE	(256u * 1024)
#define SLOTS		8		/* 2 MiB of uploads in flight */

struct upload_hash {
	EVP_MD_CTX *ctx;
	int	failed;			/* a digest call failed: no hash */
};

struct slot {
	struct upload_hash *uh;
	size_t	len;
	unsigned char *data;
};

/* One ring per process: a session serves one connection. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t	filled;		/* the thread waits on it */
	pthread_cond_t	emptied;	/* writers and drains wait on it */
	struct slot	slot[SLOTS];
	uint64_t	head;		/* next slot to fill */
	uint64_t	tail;		/* next slot to hash */
	int		state;		/* 0 not tried, 1 running, -1 in line */
} ring = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.filled = PTHREAD_COND_INITIALIZER,
	.emptied = PTHREAD_COND_INITIALIZER,
};

static void *
hash_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ring.mu);
	for (;;) {
		struct slot *sl;

		while (ring.tail == ring.head)
			pthread_cond_wait(&ring.filled, &ring.mu);
		sl = &ring.slot[ring.tail % SLOTS];
		pthread_mutex_unlock(&ring.mu);
		/* the slot is ours until tail moves past it */
		if (!sl->uh->failed &&
		    EVP_DigestUpdate(sl->uh->ctx, sl->data, sl->len) != 1)
			sl->uh->failed = 1;
		pthread_mutex_lock(&ring.mu);
		ring.tail++;
		pthread_cond_broadcast(&ring.emptied);
	}
	return NULL;
}

/* Start the thread once; 1 when it runs, 0 to hash in line. */
static int
ring_running(void)
{
	pthread_attr_t attr;
	pthread_t t;
	size_t i;
	int ok;

	if (ring.state != 0)
		return ring.state > 0;
	ring.state = -1;
	for (i = 0; i < SLOTS; i++)
		if ((ring.slot[i].data = malloc(SLOT_SIZE)) == NULL)
			goto fail;
	if (pthread_attr_init(&attr) != 0)
		goto fail;
	/* it needs little stack: EVP and the loop above */
	(void)pthread_attr_setstacksize(&attr, 256u * 1024);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&t, &attr, hash_thread, NULL) == 0;
	pthread_attr_destroy(&attr);
	if (!ok)
		goto fail;
	ring.state = 1;
	return 1;
fail:
	for (i = 0; i < SLOTS; i++) {
		free(ring.slot[i].data);
		ring.slot[i].data = NULL;
	}
	return 0;
}

/* Wait until the thread has hashed every slot handed to it. */
static void
ring_drain(void)
{
	if (ring.state <= 0)
		return;
	pthread_mutex_lock(&ring.mu);
	while (ring.tail != ring.head)
		pthread_cond_wait(&ring.emptied, &ring.mu);
	pthread_mutex_unlock(&ring.mu);
}

/* A SHA-256 for one upload; NULL when out of memory (then no hash). */
struct upload_hash *
upload_hash_new(void)
{
	struct upload_hash *uh = calloc(1, sizeof(*uh));

	if (uh == NULL)
		return NULL;
	if ((uh->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(uh->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(uh->ctx);
		free(uh);
		return NULL;
	}
	return uh;
}

/* Add the next bytes of the file; -1 when hashing in line failed (with the
 * thread, a failure shows at upload_hash_final()). */
int
upload_hash_update(struct upload_hash *uh, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!ring_running()) {
		if (!uh->failed && EVP_DigestUpdate(uh->ctx, data, len) != 1)
			uh->failed = 1;
		return uh->failed ? -1 : 0;
	}
	/* uh->failed belongs to the thread until the next drain */
	while (len > 0) {
		size_t n = len < SLOT_SIZE ? len : SLOT_SIZE;
		struct slot *sl;

		pthread_mutex_lock(&ring.mu);
		while (ring.head - ring.tail == SLOTS)
			pthread_cond_wait(&ring.emptied, &ring.mu);
		sl = &ring.slot[ring.head % SLOTS];
		pthread_mutex_unlock(&ring.mu);
		/* a free slot is ours until head moves past it */
		memcpy(sl->data, p, n);
		sl->len = n;
		sl->uh = uh;
		pthread_mutex_lock(&ring.mu);
		ring.head++;
		pthread_cond_signal(&ring.filled);
		pthread_mutex_unlock(&ring.mu);
		p += n;
		len -= n;
	}
	return 0;
}

/* The digest of everything added; 0, or -1 when there is none. */
int
upload_hash_final(struct upload_hash *uh, unsigned char md[32])
{
	unsigned int mdlen = 0;

	ring_drain();
	if (uh->failed || EVP_DigestFinal_ex(uh->ctx, md, &mdlen) != 1 ||
	    mdlen != 32) {
		uh->failed = 1;
		return -1;
	}
	uh->failed = 1;		/* final once */
	return 0;
}

/* NULL-safe; waits until the thread no longer holds a slot of uh. */
void
upload_hash_free(struct upload_hash *uh)
{
	if (uh == NULL)
		return;
	ring_drain();
	EVP_MD_CTX_free(uh->ctx);
	free(uh);
}
