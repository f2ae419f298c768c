/*
 * Token fingerprints for masking.linkable: every release keeps the sorted
 * 64-bit fingerprints of its pseudonym tokens in a file
 * (STATE/tokens/CONTRACT/RELEASE.fp, 8-byte big-endian values), listed in
 * state.db per contract. A new release is compared with the files of every
 * other contract by a streaming merge; any common fingerprint refuses it.
 * Equal tokens always give equal fingerprints; a false overlap needs a
 * 64-bit collision.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/sha.h>

#include "release/internal.h"

#define FPSET_MAX	((size_t)1 << 31)	/* cap on members */
#define FPSET_BLOCK	((size_t)256 * 1024)	/* bytes a write */

static uint64_t
load_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
store_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

/* Little-endian 64-bit load: one instruction on x86 (the byte loop it
 * replaces was most of a fingerprint's time); same value on any host. */
static uint64_t
load_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/*
 * Fingerprint of one token. A 64-character token (the form every masked
 * value has) is mixed 8 bytes at a time with multiply-rotate rounds (as
 * xxHash64 does): millions a second, and equal tokens always give equal
 * fingerprints. Anything else is hashed with SHA-256.
 */
uint64_t
token_fingerprint(const char *tok, size_t len)
{
	const uint64_t p1 = 0x9e3779b185ebca87ULL, p2 = 0xc2b2ae3d27d4eb4fULL;
	const unsigned char *t = (const unsigned char *)tok;
	unsigned char b[SHA256_DIGEST_LENGTH];
	uint64_t h = 0x27d4eb2f165667c5ULL ^ 64;
	size_t i;

	if (len == 64) {
		for (i = 0; i < 64; i += 8) {
			uint64_t k = load_le64(t + i) * p2;

			k = (k << 31) | (k >> 33);
			h ^= k * p1;
			h = ((h << 27) | (h >> 37)) * p1 + 0x85ebca77c2b2ae63ULL;
		}
		h ^= h >> 33;
		h *= p2;
		h ^= h >> 29;
		return h;
	}
	SHA256(t, len, b);
	return load_be64(b);
}

/* Room for n more members (capacity doubles); RG_ETOOBIG, RG_ENOMEM. */
static int
fpset_reserve(struct fpset *s, size_t n)
{
	size_t ncap;
	uint64_t *nv;

	if (n > FPSET_MAX || s->n > FPSET_MAX - n)
		return RG_ETOOBIG;
	if (s->n + n <= s->cap)
		return RG_OK;
	for (ncap = s->cap ? s->cap * 2 : 4096; ncap < s->n + n; ncap *= 2)
		;
	if ((nv = realloc(s->v, ncap * sizeof(*nv))) == NULL)
		return RG_ENOMEM;
	s->v = nv;
	s->cap = ncap;
	return RG_OK;
}

/* Add one fingerprint. */
int
fpset_add(struct fpset *s, uint64_t fp)
{
	int rc;

	if (s->n == s->cap && (rc = fpset_reserve(s, 1)) != RG_OK)
		return rc;
	s->v[s->n++] = fp;
	return RG_OK;
}

/* Add n fingerprints. */
int
fpset_append(struct fpset *s, const uint64_t *v, size_t n)
{
	int rc;

	if (n == 0)
		return RG_OK;
	if ((rc = fpset_reserve(s, n)) != RG_OK)
		return rc;
	memcpy(s->v + s->n, v, n * sizeof(*v));
	s->n += n;
	return RG_OK;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* LSD radix sort of v[0..n) through tmp[0..n), 16 bits a pass (millions
 * of fingerprints: much faster than qsort); count has 65536 slots. Four
 * passes: the sorted data ends in v. */
static void
radix_u64(uint64_t *v, uint64_t *tmp, size_t n, size_t *count)
{
	uint64_t *src = v, *dst = tmp, *sw;
	size_t i;
	int pass;

	for (pass = 0; pass < 4; pass++) {
		unsigned shift = (unsigned)pass * 16;
		size_t sum = 0;

		memset(count, 0, 65536 * sizeof(*count));
		for (i = 0; i < n; i++)
			count[(src[i] >> shift) & 0xffff]++;
		for (i = 0; i < 65536; i++) {
			size_t c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xffff]++] = src[i];
		sw = src;
		src = dst;
		dst = sw;
	}
}

/* One half of a two-thread sort. */
struct sort_half {
	uint64_t *v, *tmp;
	size_t	n;
	size_t	*count;
};

static void *
sort_half_main(void *arg)
{
	struct sort_half *h = arg;

	radix_u64(h->v, h->tmp, h->n, h->count);
	return NULL;
}

#define SORT_SPLIT_MIN	((size_t)1 << 20)	/* two threads from here */

/*
 * Sort s->v. Millions of values: the halves are sorted on two threads and
 * merged into the scratch array, which then becomes s->v (the sort is the
 * check pass's serial tail). Falls back to qsort when the scratch array
 * cannot be had.
 */
static void
sort_set(struct fpset *s)
{
	uint64_t *v = s->v, *tmp, *out;
	size_t n = s->n, *count, i, j, k, m;
	struct sort_half h;
	pthread_t th;

	if (n < 4096 || (tmp = malloc(n * sizeof(*tmp))) == NULL) {
		qsort(v, n, sizeof(*v), u64_cmp);
		return;
	}
	if ((count = malloc(2 * 65536 * sizeof(*count))) == NULL) {
		free(tmp);
		qsort(v, n, sizeof(*v), u64_cmp);
		return;
	}
	m = n / 2;
	h.v = v + m;
	h.tmp = tmp + m;
	h.n = n - m;
	h.count = count + 65536;
	if (n < SORT_SPLIT_MIN ||
	    pthread_create(&th, NULL, sort_half_main, &h) != 0) {
		radix_u64(v, tmp, n, count);
		free(count);
		free(tmp);
		return;
	}
	radix_u64(v, tmp, m, count);
	pthread_join(th, NULL);
	/* merge v[0..m) and v[m..n) into tmp */
	out = tmp;
	for (i = 0, j = m, k = 0; i < m && j < n; )
		out[k++] = v[i] <= v[j] ? v[i++] : v[j++];
	while (i < m)
		out[k++] = v[i++];
	while (j < n)
		out[k++] = v[j++];
	free(count);
	free(s->v);
	s->v = out;
	s->cap = n;
}

/* Sort and drop repeats. */
void
fpset_finish(struct fpset *s)
{
	size_t i, j;

	if (s->n < 2)
		return;
	sort_set(s);
	for (i = 1, j = 1; i < s->n; i++)
		if (s->v[i] != s->v[j - 1])
			s->v[j++] = s->v[i];
	s->n = j;
}

/* Free storage; NULL-safe. */
void
fpset_free(struct fpset *s)
{
	if (s == NULL)
		return;
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* Write the sorted set durably (tmp, fsync, rename, fsync folder). */
int
fpset_write(const struct fpset *s, const char *path, struct diag *d)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	unsigned char *blk;
	uint64_t written = 0, kicked = 0;
	size_t i = 0;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return diag_set(d, RG_EINVAL, path, 0, 0, "path too long");
	rg_strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if (dir_make(dir, 0700) != 0)
			return diag_set(d, RG_EIO, dir, 0, 0, "mkdir: %s",
			    strerror(errno));
	}
	if ((blk = malloc(FPSET_BLOCK)) == NULL)
		return RG_ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		free(blk);
		return diag_set(d, RG_EIO, tmp, 0, 0, "open: %s",
		    strerror(errno));
	}
	while (i < s->n) {
		size_t k = 0, off = 0;

		while (i < s->n && k + 8 <= FPSET_BLOCK) {
			store_be64(blk + k, s->v[i++]);
			k += 8;
		}
		while (off < k) {
			ssize_t w = write(fd, blk + off, k - off);

			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0)
				goto fail;
			off += (size_t)w;
		}
		/* millions of tokens: little left for the fsync */
		written += k;
		worker_writeback(fd, written, &kicked);
	}
	if (fsync(fd) != 0)
		goto fail;
	free(blk);
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return diag_set(d, RG_EIO, path, 0, 0, "rename: %s",
		    strerror(errno));
	}
	if (slash != NULL)
		(void)dir_fsync(dir);
	return RG_OK;
fail:
	diag_set(d, RG_EIO, tmp, 0, 0, "write: %s", strerror(errno));
	free(blk);
	close(fd);
	unlink(tmp);
	return RG_EIO;
}

/* Stream a fingerprint file through cb(ctx, value) in file order. */
static int
fp_stream(const char *path, int (*cb)(void *, uint64_t), void *ctx,
    struct diag *d)
{
	unsigned char blk[8 * 1024];
	size_t have = 0;
	int fd, rc = RG_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		if (errno == ENOENT)
			return RG_OK;	/* a purged release keeps no file */
		return diag_set(d, RG_EIO, path, 0, 0, "open: %s",
		    strerror(errno));
	}
	for (;;) {
		ssize_t r = read(fd, blk + have, sizeof(blk) - have);
		size_t i;

		if (r == -1 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = diag_set(d, RG_EIO, path, 0, 0, "read: %s",
			    strerror(errno));
			break;
		}
		have += (size_t)r;
		for (i = 0; i + 8 <= have; i += 8)
			if ((rc = cb(ctx, load_be64(blk + i))) != 0)
				goto out;
		memmove(blk, blk + i, have - i);
		have -= i;
		if (r == 0)
			break;
	}
out:
	close(fd);
	return rc;
}

struct merge {
	const struct fpset *s;
	size_t	i;
	int64_t	count;
};

static int
merge_cb(void *ctx, uint64_t v)
{
	struct merge *m = ctx;

	while (m->i < m->s->n && m->s->v[m->i] < v)
		m->i++;
	if (m->i < m->s->n && m->s->v[m->i] == v)
		m->count++;
	return RG_OK;
}

/* Count members of sorted s also present in the sorted file at path. */
int
fpset_overlap_file(const struct fpset *s, const char *path, int64_t *count,
    struct diag *d)
{
	struct merge m = { s, 0, 0 };
	int rc;

	rc = fp_stream(path, merge_cb, &m, d);
	*count = m.count;
	return rc;
}

static int
read_cb(void *ctx, uint64_t v)
{
	return fpset_add(ctx, v);
}

/* Read a fingerprint file back into s. */
int
fpset_read(struct fpset *s, const char *path, struct diag *d)
{
	int rc = fp_stream(path, read_cb, s, d);

	if (rc == RG_OK)
		fpset_finish(s);
	return rc;
}
