/* Unit tests for gateway/sftp_codec.c: round trips and bounds. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "gateway/sftp_internal.h"

static void
test_integers(void **state)
{
	struct buf b;
	struct sftp_rd r;
	uint8_t v8;
	uint32_t v32;
	uint64_t v64;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(sftp_put_u8(&b, 0xab), 0);
	assert_int_equal(sftp_put_u32(&b, 0xdeadbeef), 0);
	assert_int_equal(sftp_put_u64(&b, 0x0123456789abcdefULL), 0);
	assert_int_equal(b.len, 13);
	/* big-endian on the wire */
	assert_int_equal(b.data[1], 0xde);
	assert_int_equal(b.data[5], 0x01);
	sftp_rd_init(&r, b.data, b.len);
	assert_int_equal(sftp_get_u8(&r, &v8), 0);
	assert_int_equal(v8, 0xab);
	assert_int_equal(sftp_get_u32(&r, &v32), 0);
	assert_int_equal(v32, 0xdeadbeef);
	assert_int_equal(sftp_get_u64(&r, &v64), 0);
	assert_true(v64 == 0x0123456789abcdefULL);
	assert_int_equal(sftp_rd_left(&r), 0);
	/* Past the end: errors, cursor unchanged. */
	assert_int_equal(sftp_get_u8(&r, &v8), RG_EPARSE);
	assert_int_equal(sftp_get_u32(&r, &v32), RG_EPARSE);
	assert_int_equal(sftp_get_u64(&r, &v64), RG_EPARSE);
	sftp_rd_init(&r, b.data, 3);
	assert_int_equal(sftp_get_u32(&r, &v32), RG_EPARSE);
	assert_int_equal(r.off, 0);
	sftp_rd_init(&r, b.data, 7);
	assert_int_equal(sftp_get_u64(&r, &v64), RG_EPARSE);
	buf_free(&b);
}

static void
test_strings(void **state)
{
	struct buf b;
	struct sftp_rd r;
	const unsigned char *p;
	size_t n;
	unsigned char evil[8];

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(sftp_put_cstring(&b, "hello"), 0);
	assert_int_equal(sftp_put_string(&b, "", 0), 0);
	sftp_rd_init(&r, b.data, b.len);
	assert_int_equal(sftp_get_string(&r, &p, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "hello", 5);
	assert_int_equal(sftp_get_string(&r, &p, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sftp_rd_left(&r), 0);
	/* A length running past the packet: refused, cursor kept. */
	sftp_rd_init(&r, b.data, 8);
	assert_int_equal(sftp_get_string(&r, &p, &n), RG_EPARSE);
	assert_int_equal(r.off, 0);
	/* 0xffffffff length: no overflow in the bounds check */
	memset(evil, 0xff, 4);
	memcpy(evil + 4, "abcd", 4);
	sftp_rd_init(&r, evil, sizeof(evil));
	assert_int_equal(sftp_get_string(&r, &p, &n), RG_EPARSE);
	sftp_rd_init(&r, evil, 3);
	assert_int_equal(sftp_get_string(&r, &p, &n), RG_EPARSE);
	buf_free(&b);
	/* The cap of the output buffer holds. */
	buf_init(&b, 8);
	assert_int_equal(sftp_put_cstring(&b, "12345"), RG_ETOOBIG);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_attrs(void **state)
{
	struct sftp_attrs a, c;
	struct buf b;
	struct sftp_rd r;
	size_t i;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID |
	    SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME;
	a.size = 1ULL << 40;
	a.uid = 1000;
	a.gid = 1001;
	a.perm = 0100644;
	a.atime = 1700000000;
	a.mtime = 1700000001;
	buf_init(&b, 256);
	assert_int_equal(sftp_put_attrs(&b, &a), 0);
	assert_int_equal(b.len, 4 + 8 + 8 + 4 + 8);
	sftp_rd_init(&r, b.data, b.len);
	assert_int_equal(sftp_get_attrs(&r, &c), 0);
	assert_memory_equal(&a, &c, sizeof(a));
	/* Every truncation fails cleanly. */
	for (i = 0; i < b.len; i++) {
		sftp_rd_init(&r, b.data, i);
		assert_int_equal(sftp_get_attrs(&r, &c), RG_EPARSE);
		assert_int_equal(r.off, 0);
	}
	/* Only flagged fields; extended pairs are skipped. */
	buf_reset(&b);
	sftp_put_u32(&b, SSH_FILEXFER_ATTR_PERMISSIONS |
	    SSH_FILEXFER_ATTR_EXTENDED);
	sftp_put_u32(&b, 0600);
	sftp_put_u32(&b, 2);
	sftp_put_cstring(&b, "a@x");
	sftp_put_cstring(&b, "1");
	sftp_put_cstring(&b, "b@x");
	sftp_put_cstring(&b, "2");
	sftp_put_u32(&b, 77);
	sftp_rd_init(&r, b.data, b.len);
	assert_int_equal(sftp_get_attrs(&r, &c), 0);
	assert_int_equal(c.perm, 0600);
	assert_int_equal(c.size, 0);
	assert_int_equal(sftp_rd_left(&r), 4);
	/* Too many extended pairs claimed: refused without reading them. */
	buf_reset(&b);
	sftp_put_u32(&b, SSH_FILEXFER_ATTR_EXTENDED);
	sftp_put_u32(&b, 0xffffffff);
	sftp_rd_init(&r, b.data, b.len);
	assert_int_equal(sftp_get_attrs(&r, &c), RG_EPARSE);
	buf_free(&b);
}

static void
test_packet_frame(void **state)
{
	struct buf b;
	size_t mark;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(sftp_put_u8(&b, 9), 0);	/* something before */
	assert_int_equal(sftp_packet_begin(&b, SSH_FXP_STATUS, &mark), 0);
	assert_int_equal(mark, 1);
	sftp_put_u32(&b, 7);
	sftp_packet_end(&b, mark);
	assert_int_equal(sftp_load_u32(b.data + 1), 5);
	assert_int_equal(b.data[5], SSH_FXP_STATUS);
	buf_free(&b);
}

static void
test_longname(void **state)
{
	struct stat st;
	char out[256];

	(void)state;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR | 0750;
	st.st_nlink = 2;
	st.st_size = 4096;
	st.st_mtime = 0;
	sftp_longname(out, sizeof(out), "q3", &st, "ann");
	assert_non_null(strstr(out, "drwxr-x---"));
	assert_non_null(strstr(out, " ann "));
	assert_non_null(strstr(out, " 1970 q3"));
}

static void
test_normalise(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "", "/" }, { ".", "/" }, { "/", "/" }, { "..", "/" },
		{ "../../etc/passwd", "/etc/passwd" },
		{ "/requests/../../..", "/" },
		{ "//requests//q3///a.csv", "/requests/q3/a.csv" },
		{ "requests/./q3/", "/requests/q3" },
		{ "/requests/q3/../q4", "/requests/q4" },
		{ "/requests/a\\..\\b", "/requests/a\\..\\b" },
		{ "/requests/...", "/requests/..." },
	};
	char out[SFTP_MAX_PATH], big[SFTP_MAX_PATH + 10];
	size_t i;

	(void)state;
	for (i = 0; i < RG_ARRAY_LEN(ok); i++) {
		assert_int_equal(view_normalise(out, sizeof(out),
		    (const unsigned char *)ok[i].in, strlen(ok[i].in)), 0);
		assert_string_equal(out, ok[i].out);
	}
	assert_int_equal(view_normalise(out, sizeof(out),
	    (const unsigned char *)"/a\0b", 4), RG_EINVAL);
	assert_int_equal(view_normalise(out, sizeof(out),
	    (const unsigned char *)"/a\nb", 4), RG_EINVAL);
	assert_int_equal(view_normalise(out, sizeof(out),
	    (const unsigned char *)"/a\x7f", 3), RG_EINVAL);
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	assert_int_equal(view_normalise(out, sizeof(out),
	    (unsigned char *)big, 300), RG_ETOOBIG);	/* one long name */
	assert_int_equal(view_normalise(out, sizeof(out),
	    (unsigned char *)big, sizeof(big)), RG_ETOOBIG);
	for (i = 0; i < sizeof(big); i += 2)
		big[i] = '/';
	assert_int_equal(view_normalise(out, sizeof(out),
	    (unsigned char *)big, SFTP_MAX_PATH), RG_ETOOBIG);
}

static void
test_json(void **state)
{
	const char *j = "{\"request\": \"R-1\", \"checks\": {\"state\": "
	    "\"x\", \"a\": [1, \"}\"]}, \"n\": 3, \"state\": \"awaiting\\\""
	    "q\", \"submitter\": \"ann\"}";
	char out[64];

	(void)state;
	assert_int_equal(view_json_string(j, strlen(j), "state", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "awaiting\"q");
	assert_int_equal(view_json_string(j, strlen(j), "submitter", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "ann");
	assert_int_equal(view_json_string(j, strlen(j), "n", out,
	    sizeof(out)), RG_ENOENT);
	assert_int_equal(view_json_string(j, strlen(j), "nope", out,
	    sizeof(out)), RG_ENOENT);
	assert_int_equal(view_json_string(j, 20, "state", out, sizeof(out)),
	    RG_ENOENT);
	assert_int_equal(view_json_string("[]", 2, "a", out, sizeof(out)),
	    RG_ENOENT);
	/* too long for out: not returned truncated */
	assert_int_equal(view_json_string(j, strlen(j), "request", out, 3),
	    RG_ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_attrs),
		cmocka_unit_test(test_packet_frame),
		cmocka_unit_test(test_longname),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
