/* Unit tests for common/: buffers, hex, dates, JSON strings, atomic files,
 * private reads. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/common.h"

static void
test_buf_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "12345678", 8), RG_OK);
	assert_int_equal(buf_append(&b, "9", 1), RG_ETOOBIG);
	assert_int_equal(b.len, 8);
	buf_free(&b);
	buf_free(NULL);
}

static void
test_buf_printf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_printf(&b, "%s-%d", "x", 42), RG_OK);
	assert_int_equal(buf_cstr(&b), RG_OK);
	assert_string_equal((char *)b.data, "x-42");
	assert_int_equal(b.len, 4);
	buf_free(&b);
}

static void
test_hex(void **state)
{
	unsigned char in[3] = { 0x00, 0xab, 0xff }, out[3];
	char hex[7];

	(void)state;
	hex_encode(hex, in, 3);
	assert_string_equal(hex, "00abff");
	assert_int_equal(hex_decode(out, 3, "00ABff"), RG_OK);
	assert_memory_equal(in, out, 3);
	assert_int_equal(hex_decode(out, 3, "00abfg"), RG_EINVAL);
	assert_int_equal(hex_decode(out, 3, "00abff0"), RG_EINVAL);
}

static void
test_dates(void **state)
{
	long d;

	(void)state;
	assert_int_equal(date_parse("1970-01-01", &d), RG_OK);
	assert_int_equal(d, 0);
	assert_int_equal(date_parse("2024-02-29", &d), RG_OK);
	assert_int_equal(date_parse("2023-02-29", &d), RG_EINVAL);
	assert_int_equal(date_parse("2026-13-01", &d), RG_EINVAL);
	assert_int_equal(date_parse("2026-1-01", &d), RG_EINVAL);
	assert_int_equal(date_parse("2026-01-011", &d), RG_EINVAL);
	assert_int_equal(date_parse("2027-03-31", &d), RG_OK);
	assert_int_equal(d, 20908);
	/* date_format is date_parse's inverse, leap days included */
	{
		static const char *const days[] = { "1970-01-01", "2024-02-29",
		    "2027-03-31", "1969-12-31", "2100-03-01", "9999-12-31" };
		char out[16];
		size_t i;

		for (i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
			assert_int_equal(date_parse(days[i], &d), RG_OK);
			date_format(d, out, sizeof(out));
			assert_string_equal(out, days[i]);
		}
	}
}

static void
test_json_string(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(json_append_string(&b, "a\"b\\c\n\x01"), RG_OK);
	buf_cstr(&b);
	assert_string_equal((char *)b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	buf_free(&b);
}

static void
test_atomic_write(void **state)
{
	char dir[] = "/tmp/rgtestXXXXXX", path[256], *data = NULL;
	struct stat st;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(file_write_atomic(path, "hello", 5, 0600, NULL), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(file_read_small(&data, &len, path, 100, NULL), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	assert_int_equal(file_read_small(&data, &len, path, 4, NULL),
	    RG_ETOOBIG);
	unlink(path);
	rmdir(dir);
}

/* The one reader of keys and secrets: each check refuses on its own. */
static void
test_read_private(void **state)
{
	char dir[] = "/tmp/rgtestXXXXXX", path[256], link[256];
	unsigned char buf[8];
	struct diag d;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);
	snprintf(link, sizeof(link), "%s/l", dir);

	/* missing: RG_ENOENT and the diag left alone */
	diag_set(&d, RG_EIO, "before", 0, 0, "before");
	assert_int_equal(file_read_private(buf, 4, 8, &len, path, "key", &d),
	    RG_ENOENT);
	assert_string_equal(d.msg, "before");

	assert_int_equal(file_write_atomic(path, "12345", 5, 0600, NULL), 0);
	assert_int_equal(file_read_private(buf, 4, 8, &len, path, "key", &d),
	    RG_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "12345", 5);

	/* the wrong size, either way */
	assert_int_equal(file_read_private(buf, 6, 8, &len, path, "key", &d),
	    RG_EINTEGRITY);
	assert_string_equal(d.msg, "key must be 6 to 8 bytes");
	assert_int_equal(file_read_private(buf, 4, 4, &len, path, "key", &d),
	    RG_EINTEGRITY);
	assert_string_equal(d.msg, "key must be exactly 4 bytes");

	/* open to others */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(file_read_private(buf, 4, 8, &len, path, "key", &d),
	    RG_EPERM);
	assert_non_null(strstr(d.msg, "it must be 0600"));
	assert_int_equal(chmod(path, 0600), 0);

	/* a link is not followed; a folder is not a file */
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(file_read_private(buf, 4, 8, &len, link, "key", &d),
	    RG_EIO);
	unlink(link);
	assert_int_equal(mkdir(link, 0700), 0);
	assert_int_equal(file_read_private(buf, 4, 8, &len, link, "key", &d),
	    RG_EINTEGRITY);
	assert_string_equal(d.msg, "key is not a regular file");
	rmdir(link);
	unlink(path);
	rmdir(dir);
}

static void
test_diag(void **state)
{
	struct diag d;
	char out[600];

	(void)state;
	assert_int_equal(diag_set(&d, RG_EPARSE, "c.yaml", 3, 7, "bad %s",
	    "key"), RG_EPARSE);
	diag_format(&d, out, sizeof(out));
	assert_string_equal(out, "c.yaml:3:7: bad key");
	assert_string_equal(rg_strerror(RG_EPARSE), "malformed input");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_atomic_write),
		cmocka_unit_test(test_read_private),
		cmocka_unit_test(test_diag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
