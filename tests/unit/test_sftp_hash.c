/*
 * Unit tests for gateway/sftp_hash.c: the upload's SHA-256 computed on the
 * hashing thread equals the SHA-256 of the bytes, whatever the write sizes,
 * with several uploads interleaved, and a hash freed half-way leaves the
 * others right.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "gateway/sftp_internal.h"

/* Deterministic bytes, different for each seed. */
static unsigned char *
pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len ? len : 1);
	uint32_t x = 2463534242u ^ seed;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* Feed data in pieces of the given sizes (cycled), compare the digest. */
static void
check_sizes(size_t total, const size_t *sizes, size_t n_sizes, unsigned seed)
{
	unsigned char *data = pattern(total, seed);
	unsigned char want[32], got[32];
	struct upload_hash *uh = upload_hash_new();
	size_t off = 0, k = 0;

	assert_non_null(uh);
	SHA256(data, total, want);
	while (off < total) {
		size_t n = sizes[k++ % n_sizes];

		if (n > total - off)
			n = total - off;
		assert_int_equal(upload_hash_update(uh, data + off, n), 0);
		off += n;
	}
	assert_int_equal(upload_hash_final(uh, got), 0);
	assert_memory_equal(got, want, 32);
	/* a digest is given once */
	assert_int_equal(upload_hash_final(uh, got), -1);
	upload_hash_free(uh);
	free(data);
}

static void
test_sizes(void **state)
{
	static const size_t small[] = { 1, 7, 4096 };
	static const size_t sftp[] = { 32768, 261120 };
	static const size_t big[] = { 1u << 20, 3 };	/* several slots */

	(void)state;
	check_sizes(0, small, 3, 1);
	check_sizes(1, small, 3, 2);
	check_sizes(100000, small, 3, 3);
	check_sizes(8u << 20, sftp, 2, 4);	/* the ring wraps */
	check_sizes(5u << 20, big, 2, 5);
}

/* Two uploads at once, written in turns, and a third dropped half-way. */
static void
test_interleaved(void **state)
{
	const size_t len = 3u << 20, step = 65536;
	unsigned char *a = pattern(len, 10), *b = pattern(len, 11);
	unsigned char *c = pattern(len, 12);
	unsigned char wa[32], wb[32], ga[32], gb[32];
	struct upload_hash *ha = upload_hash_new(), *hb = upload_hash_new();
	struct upload_hash *hc = upload_hash_new();
	size_t off;

	(void)state;
	assert_non_null(ha);
	assert_non_null(hb);
	assert_non_null(hc);
	SHA256(a, len, wa);
	SHA256(b, len, wb);
	for (off = 0; off < len; off += step) {
		assert_int_equal(upload_hash_update(ha, a + off, step), 0);
		assert_int_equal(upload_hash_update(hb, b + off, step), 0);
		if (off < len / 2)
			assert_int_equal(upload_hash_update(hc, c + off, step),
			    0);
		else if (hc != NULL) {
			upload_hash_free(hc);	/* an upload broken off */
			hc = NULL;
		}
	}
	assert_int_equal(upload_hash_final(hb, gb), 0);
	assert_int_equal(upload_hash_final(ha, ga), 0);
	assert_memory_equal(ga, wa, 32);
	assert_memory_equal(gb, wb, 32);
	upload_hash_free(ha);
	upload_hash_free(hb);
	upload_hash_free(NULL);
	free(a);
	free(b);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_interleaved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
