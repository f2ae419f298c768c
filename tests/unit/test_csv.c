/*
 * Unit tests for the streaming CSV reader (checks/csv.c): RFC 4180
 * quoting, CRLF/LF, BOM, problems with row numbers, caps, and the same
 * result whatever the chunking of the input.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "checks/checks.h"

/* Everything the reader reported, as text: "R0:a|b\n" per row and
 * "P1:ragged row ...\n" per problem. */
struct sink {
	struct buf out;
};

static int
sink_row(void *arg, unsigned long row, const struct csv_field *f, size_t n)
{
	struct sink *s = arg;
	size_t i;

	buf_printf(&s->out, "R%lu:", row);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_append(&s->out, "|", 1);
		buf_append(&s->out, f[i].p, f[i].len);
	}
	buf_append(&s->out, "\n", 1);
	return 0;
}

static void
sink_problem(void *arg, unsigned long row, enum csv_problem p)
{
	struct sink *s = arg;

	buf_printf(&s->out, "P%lu:%s\n", row, csv_problem_name(p));
}

/* Parse data in chunks of `chunk` bytes (0: all at once); returns the
 * record as a malloc'd string and the last return code in *rc. */
static char *
run(const char *data, size_t len, size_t chunk, size_t max_row, int *rc)
{
	struct csv_opts o;
	struct csv_reader *r;
	struct sink s;
	size_t off = 0;
	char *res;

	memset(&o, 0, sizeof(o));
	o.on_row = sink_row;
	o.on_problem = sink_problem;
	o.arg = &s;
	o.max_row = max_row;
	o.max_field = max_row ? max_row / 4 : 0;
	buf_init(&s.out, 1u << 24);
	assert_int_equal(csv_reader_new(&r, &o), 0);
	*rc = 0;
	if (chunk == 0)
		chunk = len ? len : 1;
	while (off < len && *rc == 0) {
		size_t n = len - off < chunk ? len - off : chunk;
		*rc = csv_reader_feed(r, data + off, n);
		off += n;
	}
	if (*rc == 0)
		*rc = csv_reader_finish(r);
	csv_reader_free(r);
	buf_cstr(&s.out);
	res = strdup(s.out.data ? (char *)s.out.data : "");
	buf_free(&s.out);
	return res;
}

/* The same output whole, byte by byte, and in 7-byte chunks. */
static void
expect(const char *data, size_t len, const char *want)
{
	static const size_t chunks[] = { 0, 1, 2, 7, 64, 65 };
	size_t i;

	for (i = 0; i < RG_ARRAY_LEN(chunks); i++) {
		int rc;
		char *got = run(data, len, chunks[i], 0, &rc);

		assert_int_equal(rc, 0);
		if (strcmp(got, want) != 0)
			fail_msg("chunk %zu:\n got: %s\nwant: %s", chunks[i], got,
			    want);
		free(got);
	}
}

#define EXPECT(lit, want) expect(lit, sizeof(lit) - 1, want)

static void
test_simple(void **state)
{
	(void)state;
	EXPECT("a,b,c\n1,2,3\n", "R0:a|b|c\nR1:1|2|3\n");
	/* no final newline */
	EXPECT("a,b\n1,2", "R0:a|b\nR1:1|2\n");
	/* CRLF */
	EXPECT("a,b\r\n1,2\r\n", "R0:a|b\nR1:1|2\n");
	/* empty fields */
	EXPECT("a,b,c\n,,\n", "R0:a|b|c\nR1:||\n");
	/* empty input: no rows */
	EXPECT("", "");
}

static void
test_quotes(void **state)
{
	(void)state;
	/* commas, quotes and newlines inside quotes */
	EXPECT("a,b\n\"x,y\",\"say \"\"hi\"\"\"\n",
	    "R0:a|b\nR1:x,y|say \"hi\"\n");
	EXPECT("a,b\n\"line1\nline2\",\"cr\r\nlf\"\n",
	    "R0:a|b\nR1:line1\nline2|cr\r\nlf\n");
	/* a quoted empty field and a field of one quote */
	EXPECT("a,b\n\"\",\"\"\"\"\n", "R0:a|b\nR1:|\"\n");
	/* a long quoted field crossing 64-byte blocks with escapes */
	EXPECT("h\n\"0123456789012345678901234567890123456789012345678901234"
	    "567890\"\"123\"\n",
	    "R0:h\nR1:0123456789012345678901234567890123456789012345678901234"
	    "567890\"123\n");
}

static void
test_bom(void **state)
{
	(void)state;
	EXPECT("\xef\xbb\xbf" "a,b\n1,2\n", "R0:a|b\nR1:1|2\n");
	/* a BOM elsewhere is data (valid UTF-8) */
	EXPECT("a\n\xef\xbb\xbfx\n", "R0:a\nR1:\xef\xbb\xbfx\n");
}

static void
test_problems(void **state)
{
	(void)state;
	/* ragged rows with their row numbers */
	EXPECT("a,b\n1,2\n1\n1,2,3\n",
	    "R0:a|b\nR1:1|2\n"
	    "P2:ragged row (field count differs from the header)\nR2:1\n"
	    "P3:ragged row (field count differs from the header)\nR3:1|2|3\n");
	/* invalid UTF-8: a lone continuation byte, an overlong, a surrogate */
	EXPECT("a\n\x80\n\xc0\xaf\n\xed\xa0\x80\nok\n",
	    "R0:a\nP1:invalid UTF-8\nR1:\x80\nP2:invalid UTF-8\nR2:\xc0\xaf\n"
	    "P3:invalid UTF-8\nR3:\xed\xa0\x80\nR4:ok\n");
	/* valid multi-byte UTF-8 passes */
	EXPECT("a\n\xc3\xa9t\xc3\xa9,\xe2\x82\xac\n",
	    "R0:a\nP1:ragged row (field count differs from the header)\n"
	    "R1:\xc3\xa9t\xc3\xa9|\xe2\x82\xac\n");
	/* UTF-8 cut off at the end of the file */
	EXPECT("a\n\xe2\x82", "R0:a\nP1:invalid UTF-8\nR1:\xe2\x82\n");
	/* NUL byte */
	EXPECT("a,b\nx\0y,z\n", "R0:a|b\nP1:NUL byte\nR1:x\0y|z\n");
	/* quote inside an unquoted field; text after a closing quote */
	EXPECT("a,b\nx\"y,z\n\"p\"q,r\n",
	    "R0:a|b\nP1:bad quoting\nR1:x\"y|z\nP2:bad quoting\nR2:p\"q|r\n");
	/* unterminated quote swallows the rest */
	EXPECT("a,b\n1,\"open\n2,3\n",
	    "R0:a|b\nP1:unterminated quoted field\nR1:1|open\n2,3\n\n");
	/* a stray CR */
	EXPECT("a,b\nx\ry,z\n", "R0:a|b\nP1:carriage return without line "
	    "feed\nR1:x\ry|z\n");
}

static void
test_caps(void **state)
{
	char *data, *got;
	size_t n = 300000, i;
	int rc;

	(void)state;
	/* a record longer than max_row stops the reader with RG_ETOOBIG */
	data = malloc(n + 16);
	assert_non_null(data);
	memcpy(data, "h\n", 2);
	for (i = 2; i < n; i++)
		data[i] = 'x';
	data[n] = '\n';
	got = run(data, n + 1, 4096, 100000, &rc);
	assert_int_equal(rc, RG_ETOOBIG);
	assert_non_null(strstr(got, "R0:h\n"));
	assert_non_null(strstr(got, "P1:record longer than the cap"));
	free(got);
	/* a field longer than max_field (but within max_row) is a problem,
	 * the row still arrives */
	got = run(data, n + 1, 4096, 600000, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(got, "P1:field longer than the cap\nR1:\n"));
	free(got);
	free(data);
}

static int
stop_at_2(void *arg, unsigned long row, const struct csv_field *f, size_t n)
{
	(void)arg; (void)f; (void)n;
	return row == 2 ? 42 : 0;
}

static void
test_callback_stop(void **state)
{
	struct csv_opts o;
	struct csv_reader *r;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.on_row = stop_at_2;
	assert_int_equal(csv_reader_new(&r, &o), 0);
	assert_int_equal(csv_reader_feed(r, "a\n1\n2\n3\n", 8), 42);
	assert_int_equal(csv_reader_feed(r, "4\n", 2), 42);
	assert_int_equal(csv_reader_finish(r), 42);
	assert_int_equal(csv_reader_rows(r), 3);
	csv_reader_free(r);
	csv_reader_free(NULL);
}

static void
test_field_append(void **state)
{
	struct buf b;
	int rc;
	char *got;

	(void)state;
	buf_init(&b, 1024);
	csv_field_append(&b, "plain", 5);
	buf_append(&b, ",", 1);
	csv_field_append(&b, "a,b", 3);
	buf_append(&b, ",", 1);
	csv_field_append(&b, "say \"x\"", 7);
	buf_append(&b, ",", 1);
	csv_field_append(&b, "l1\nl2", 5);
	buf_append(&b, "\n", 1);
	buf_cstr(&b);
	assert_string_equal((char *)b.data,
	    "plain,\"a,b\",\"say \"\"x\"\"\",\"l1\nl2\"\n");
	/* and it reads back */
	got = run((char *)b.data, b.len, 0, 0, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "R0:plain|a,b|say \"x\"|l1\nl2\n");
	free(got);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_problems),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_callback_stop),
		cmocka_unit_test(test_field_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
