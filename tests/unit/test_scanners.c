/*
 * Unit tests for the raw-identifier scanners (checks/scan.c): each kind
 * found where it stands as a word, and not found in near misses.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "checks/checks.h"

#define BIT(k)	(1u << (k))

static unsigned
scan(const char *s)
{
	return ident_scan(s, strlen(s), 0, NULL);
}

static void
found(const char *s, unsigned kind)
{
	unsigned got = scan(s);

	if (!(got & BIT(kind)))
		fail_msg("'%s': %s not found (got %#x)", s, ident_kind_name(kind),
		    got);
}

static void
clean(const char *s)
{
	unsigned got = scan(s);

	if (got != 0)
		fail_msg("'%s': unexpected identifier (got %#x)", s, got);
}

static void
test_nino(void **state)
{
	(void)state;
	found("AB123456C", IDENT_NINO);
	found("AB 12 34 56 C", IDENT_NINO);
	found("ab123456d", IDENT_NINO);
	found("ref: JG103759A, thanks", IDENT_NINO);
	found("AB-12-34-56-C", IDENT_NINO);
	assert_true(nino_valid("AB123456C", 9));
	assert_true(nino_valid("AB 12 34 56 C", 13));
	/* first letter D F I Q U V never used */
	assert_false(nino_valid("DA123456A", 9));
	assert_false(nino_valid("QA123456A", 9));
	assert_false(nino_valid("VA123456A", 9));
	/* second letter D F I O Q U V never used */
	assert_false(nino_valid("AO123456A", 9));
	assert_false(nino_valid("AD123456A", 9));
	/* prefixes never issued */
	assert_false(nino_valid("BG123456A", 9));
	assert_false(nino_valid("GB123456A", 9));
	assert_false(nino_valid("KN123456A", 9));
	assert_false(nino_valid("NK123456A", 9));
	assert_false(nino_valid("NT123456A", 9));
	assert_false(nino_valid("TN123456A", 9));
	assert_false(nino_valid("ZZ123456A", 9));
	/* suffix A-D only, and digits six */
	assert_false(nino_valid("AB123456E", 9));
	assert_false(nino_valid("AB12345C", 8));
	clean("XAB123456C");	/* not at a word start */
	clean("AB123456CX");	/* not at a word end */
	clean("GB123456A");
}

static void
test_nhs(void **state)
{
	unsigned cand = 0;

	(void)state;
	/* 943 476 5919 is the NHS's own example of a valid number */
	assert_true(nhs_check_ok("9434765919"));
	assert_false(nhs_check_ok("9434765918"));
	/* check value 10 is never valid */
	assert_false(nhs_check_ok("0000000060"));
	found("943 476 5919", IDENT_NHS);
	found("943-476-5919", IDENT_NHS);
	found("NHS no 943 476 5919.", IDENT_NHS);
	/* formatted but a bad check digit: clean */
	clean("943 476 5918");
	/* mixed separators are not the 3-3-4 form */
	assert_false(ident_scan("943 476-5919", 12, 0, NULL) & BIT(IDENT_NHS));
	/* plain ten digits: reported as a candidate for the share test */
	assert_true(ident_scan("9434765919", 10, 0, &cand) &
	    BIT(IDENT_NHS_PLAIN));
	assert_int_equal(cand, 1);
	assert_false(ident_scan("9434765918", 10, 0, &cand) &
	    BIT(IDENT_NHS_PLAIN));
	assert_int_equal(cand, 1);
	/* eleven digits are not an NHS number */
	assert_false(ident_scan("94347659190", 11, 0, &cand) &
	    (BIT(IDENT_NHS_PLAIN) | BIT(IDENT_NHS)));
	assert_int_equal(cand, 0);
	/* share judgement against 1-in-11 */
	assert_false(nhs_share_flagged(0, 100));
	assert_false(nhs_share_flagged(9, 100));	/* about chance */
	assert_false(nhs_share_flagged(12, 100));	/* within noise */
	assert_true(nhs_share_flagged(40, 100));	/* far above */
	assert_true(nhs_share_flagged(3, 3));		/* all valid */
	assert_true(nhs_share_flagged(1000, 1000));
	assert_false(nhs_share_flagged(95, 1000));
	assert_false(nhs_share_flagged(2, 2));		/* too few to judge */
}

static void
test_postcode(void **state)
{
	(void)state;
	found("SW1A 1AA", IDENT_POSTCODE);
	found("SW1A1AA", IDENT_POSTCODE);
	found("M1 1AE", IDENT_POSTCODE);
	found("B33 8TH", IDENT_POSTCODE);
	found("CR2 6XH", IDENT_POSTCODE);
	found("DN55 1PT", IDENT_POSTCODE);
	found("lives at 10 Downing St, London SW1A 2AA.", IDENT_POSTCODE);
	assert_true(postcode_full_valid("EC1A 1BB", 8));
	assert_false(postcode_full_valid("EC1A", 4));	/* district */
	assert_false(postcode_full_valid("EC1A 1", 6));	/* sector */
	assert_false(postcode_full_valid("EC1A 1BC", 8)); /* C not inward */
	clean("SW1A");
	clean("SW1A 1");
	clean("LS11");
}

static void
test_date(void **state)
{
	(void)state;
	found("1980-02-29", IDENT_DATE);
	found("29/02/1980", IDENT_DATE);
	found("born 03-11-1975 in Leeds", IDENT_DATE);
	found("1975-11-03T10:00:00Z", IDENT_DATE);
	found("1/2/1980", IDENT_DATE);
	found("dob 3.11.1975", IDENT_DATE);
	found("12/3/1980", IDENT_DATE);
	clean("1/13/1980");	/* no 13th month */
	clean("32/1/1980");
	clean("1/2/80");	/* two-digit years are not looked for */
	clean("1981-02-29");	/* not a leap year */
	clean("2015-03");	/* year-month */
	clean("31/04/1990");	/* April has 30 days */
	clean("2020");
	/* a date-typed column skips the date kind */
	assert_int_equal(ident_scan("1980-02-29", 10, BIT(IDENT_DATE), NULL), 0);
}

static void
test_email(void **state)
{
	(void)state;
	found("ann.smith@example.org", IDENT_EMAIL);
	found("contact: a+b@mail.example.co.uk.", IDENT_EMAIL);
	clean("ann@localhost");
	clean("@example.org");
	clean("ann@.org");
	clean("ann@example.c");
	clean("price @ 5.00");
}

static void
test_phone(void **state)
{
	(void)state;
	found("07700 900123", IDENT_PHONE);
	found("07700900123", IDENT_PHONE);
	found("020 7946 0958", IDENT_PHONE);
	found("(020) 7946 0958", IDENT_PHONE);
	found("+44 20 7946 0958", IDENT_PHONE);
	found("+44 (0)20 7946 0958", IDENT_PHONE);
	found("+447700900123", IDENT_PHONE);
	found("0044 20 7946 0958", IDENT_PHONE);
	found("call 0161-496-0000 now", IDENT_PHONE);
	clean("0770090012");	/* ten digits unformatted */
	clean("00700900123");	/* 00 is not a UK prefix */
	clean("077009001234");	/* twelve digits */
	clean("+33 1 42 68 53 00");
}

static void
test_near_misses(void **state)
{
	(void)state;
	/* a 64-hex token holds long digit runs but no word-bounded id */
	clean("a6550e36c60a7a969efc51b57a4fd119e23ba952577d2aec16616a74adf99407");
	clean("5070");
	clean("Yorkshire and The Humber");
	clean("16-24");
	clean("2022-08");
	clean("Carer's Allowance");
	clean("");
	assert_string_equal(ident_kind_name(IDENT_NINO),
	    "National Insurance number");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nino),
		cmocka_unit_test(test_nhs),
		cmocka_unit_test(test_postcode),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_near_misses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
