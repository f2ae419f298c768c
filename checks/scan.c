/*
 * Raw-identifier scanners. A cell is searched for identifiers that stand
 * as words in it (the characters around a match are not letters or
 * digits), so "call 020 7946 0958 today" is found but a 64-hex token that
 * happens to hold ten digits in a row is not.
 *
 * Cost matters: every cell of every column goes through here. One pass
 * counts digits and letters and notes '@'; each scanner is tried only when
 * the cell has enough digits and letters to hold its kind, and only at word
 * starts.
 */
#include "config.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "checks/checks.h"
#include "checks/internal.h"

enum { C_DIGIT = 1, C_UPPER = 2, C_LOWER = 4, C_AT = 8 };

static const unsigned char cls[256] = {
	['0'] = C_DIGIT, ['1'] = C_DIGIT, ['2'] = C_DIGIT, ['3'] = C_DIGIT,
	['4'] = C_DIGIT, ['5'] = C_DIGIT, ['6'] = C_DIGIT, ['7'] = C_DIGIT,
	['8'] = C_DIGIT, ['9'] = C_DIGIT,
	['A'] = C_UPPER, ['B'] = C_UPPER, ['C'] = C_UPPER, ['D'] = C_UPPER,
	['E'] = C_UPPER, ['F'] = C_UPPER, ['G'] = C_UPPER, ['H'] = C_UPPER,
	['I'] = C_UPPER, ['J'] = C_UPPER, ['K'] = C_UPPER, ['L'] = C_UPPER,
	['M'] = C_UPPER, ['N'] = C_UPPER, ['O'] = C_UPPER, ['P'] = C_UPPER,
	['Q'] = C_UPPER, ['R'] = C_UPPER, ['S'] = C_UPPER, ['T'] = C_UPPER,
	['U'] = C_UPPER, ['V'] = C_UPPER, ['W'] = C_UPPER, ['X'] = C_UPPER,
	['Y'] = C_UPPER, ['Z'] = C_UPPER,
	['a'] = C_LOWER, ['b'] = C_LOWER, ['c'] = C_LOWER, ['d'] = C_LOWER,
	['e'] = C_LOWER, ['f'] = C_LOWER, ['g'] = C_LOWER, ['h'] = C_LOWER,
	['i'] = C_LOWER, ['j'] = C_LOWER, ['k'] = C_LOWER, ['l'] = C_LOWER,
	['m'] = C_LOWER, ['n'] = C_LOWER, ['o'] = C_LOWER, ['p'] = C_LOWER,
	['q'] = C_LOWER, ['r'] = C_LOWER, ['s'] = C_LOWER, ['t'] = C_LOWER,
	['u'] = C_LOWER, ['v'] = C_LOWER, ['w'] = C_LOWER, ['x'] = C_LOWER,
	['y'] = C_LOWER, ['z'] = C_LOWER,
	['@'] = C_AT,
};

#define U(c)		((unsigned char)(c))
#define IS_DIGIT(c)	(cls[U(c)] & C_DIGIT)
#define IS_ALPHA(c)	(cls[U(c)] & (C_UPPER | C_LOWER))
#define IS_ALNUM(c)	(cls[U(c)] & (C_DIGIT | C_UPPER | C_LOWER))
#define UPPER(c)	((char)(cls[U(c)] & C_LOWER ? (c) - 'a' + 'A' : (c)))

/* English name of an identifier kind. */
const char *
ident_kind_name(enum ident_kind k)
{
	switch (k) {
	case IDENT_NINO:	return "National Insurance number";
	case IDENT_NHS:		return "NHS number";
	case IDENT_NHS_PLAIN:	return "NHS number (10 digits, valid check digits far above chance)";
	case IDENT_POSTCODE:	return "full UK postcode";
	case IDENT_DATE:	return "full date (of birth)";
	case IDENT_EMAIL:	return "email address";
	case IDENT_PHONE:	return "UK phone number";
	case IDENT_NKINDS:	break;
	}
	return "identifier";
}

/* 1 when position j ends a word: end of cell or not a letter/digit. */
static inline int
word_end(const char *s, size_t len, size_t j)
{
	return j >= len || !IS_ALNUM(s[j]);
}

/* Mod-11 check of ten NHS digits (weights 10..2). */
int
nhs_check_ok(const char *d)
{
	int sum = 0, i, chk;

	for (i = 0; i < 9; i++)
		sum += (d[i] - '0') * (10 - i);
	chk = 11 - sum % 11;
	if (chk == 11)
		chk = 0;
	if (chk == 10)
		return 0;
	return chk == d[9] - '0';
}

/* Is a column's share of valid NHS numbers far above chance? */
int
nhs_share_flagged(uint64_t pass, uint64_t n)
{
	double d, var;

	if (pass == 0)
		return 0;
	if (pass >= 3 && 2 * pass >= n)
		return 1;
	if (n < 30)
		return 0;
	/* binomial(n, 1/11): mean n/11, variance n * 10/121 */
	d = (double)pass - (double)n / 11.0;
	var = (double)n * 10.0 / 121.0;
	return d > 0 && d * d >= 36.0 * var;
}

/* NI prefix letters (HMRC): first not D F I Q U V; second not D F I O Q U
 * V; never issued: BG GB KN NK NT TN ZZ. */
static int
nino_prefix_ok(char a, char b)
{
	static const char *never[] = { "BG", "GB", "KN", "NK", "NT", "TN",
	    "ZZ" };
	size_t i;

	if (!IS_ALPHA(a) || !IS_ALPHA(b))
		return 0;
	a = UPPER(a);
	b = UPPER(b);
	if (strchr("DFIQUV", a) != NULL || strchr("DFIOQUV", b) != NULL)
		return 0;
	for (i = 0; i < RG_ARRAY_LEN(never); i++)
		if (never[i][0] == a && never[i][1] == b)
			return 0;
	return 1;
}

/* Match an NI number at s[i]; returns the end position or 0. Spaces: none
 * or single ones between the prefix, the digit pairs and the suffix. */
static size_t
nino_at(const char *s, size_t len, size_t i)
{
	size_t j = i + 2;
	int pair;
	char suf;

	if (i + 9 > len || !nino_prefix_ok(s[i], s[i + 1]))
		return 0;
	for (pair = 0; pair < 3; pair++) {
		if (j < len && (s[j] == ' ' || s[j] == '-'))
			j++;
		if (j + 2 > len || !IS_DIGIT(s[j]) || !IS_DIGIT(s[j + 1]))
			return 0;
		j += 2;
	}
	if (j < len && (s[j] == ' ' || s[j] == '-'))
		j++;
	if (j >= len)
		return 0;
	suf = UPPER(s[j]);
	if (suf < 'A' || suf > 'D')
		return 0;
	j++;
	return word_end(s, len, j) ? j : 0;
}

/* Whole string is a National Insurance number. */
int
nino_valid(const char *s, size_t len)
{
	return len >= 9 && nino_at(s, len, 0) == len;
}

/* Inward code (digit + two letters, not C I K M O V) at j; end or 0. */
static size_t
inward_at(const char *s, size_t len, size_t j)
{
	if (j < len && s[j] == ' ')
		j++;
	if (j + 3 > len || !IS_DIGIT(s[j]) || !IS_ALPHA(s[j + 1]) ||
	    !IS_ALPHA(s[j + 2]))
		return 0;
	if (strchr("CIKMOV", UPPER(s[j + 1])) != NULL ||
	    strchr("CIKMOV", UPPER(s[j + 2])) != NULL)
		return 0;
	j += 3;
	return word_end(s, len, j) ? j : 0;
}

/* Full postcode at s[i]: A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA,
 * AA9A 9AA (space optional). Returns the end or 0. */
static size_t
postcode_at(const char *s, size_t len, size_t i)
{
	size_t j = i, e;

	if (j >= len || !IS_ALPHA(s[j]))
		return 0;
	j++;
	if (j < len && IS_ALPHA(s[j]))
		j++;
	if (j >= len || !IS_DIGIT(s[j]))
		return 0;
	j++;
	/* outward code with one more character (digit or letter) */
	if (j < len && IS_ALNUM(s[j]) && (e = inward_at(s, len, j + 1)) != 0)
		return e;
	return inward_at(s, len, j);
}

/* Whole string is a full UK postcode. */
int
postcode_full_valid(const char *s, size_t len)
{
	return len >= 5 && postcode_at(s, len, 0) == len;
}

static int
num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!IS_DIGIT(s[i]))
			return 0;
	return 1;
}

/* 1 when y-m-d is a calendar date in a plausible range for a person. */
static int
ymd_ok(int y, int m, int d)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1850 || y > 2199 || m < 1 || m > 12 || d < 1)
		return 0;
	if (m == 2 && !leap)
		return d <= 28;
	return d <= mdays[m - 1];
}

/* The end of a date may be followed by a time ("2026-01-01T10:00"). */
static int
date_end(const char *s, size_t len, size_t j)
{
	if (word_end(s, len, j))
		return 1;
	return s[j] == 'T' && j + 1 < len && IS_DIGIT(s[j + 1]);
}

/* YYYY-MM-DD, YYYY/MM/DD, DD/MM/YYYY, DD-MM-YYYY, DD.MM.YYYY at s[i]. */
static int
date_at(const char *s, size_t len, size_t i)
{
	const char *p = s + i;
	size_t n = len - i;
	char sep;

	if (n >= 10 && all_digits(p, 4) && (p[4] == '-' || p[4] == '/') &&
	    p[7] == p[4] && all_digits(p + 5, 2) && all_digits(p + 8, 2)) {
		int y = num2(p) * 100 + num2(p + 2);
		if (ymd_ok(y, num2(p + 5), num2(p + 8)) &&
		    date_end(s, len, i + 10))
			return 1;
	}
	if (n >= 10 && all_digits(p, 2) && all_digits(p + 3, 2) &&
	    all_digits(p + 6, 4)) {
		sep = p[2];
		if ((sep == '/' || sep == '-' || sep == '.') && p[5] == sep) {
			int y = num2(p + 6) * 100 + num2(p + 8);
			if (ymd_ok(y, num2(p + 3), num2(p)) &&
			    date_end(s, len, i + 10))
				return 1;
		}
	}
	/* D/M/YYYY, DD/M/YYYY, D.M.YYYY ...: one-digit day or month */
	if (n >= 8) {
		size_t a = IS_DIGIT(p[1]) ? 2 : 1, b;
		int d, m, y;

		sep = p[a];
		if (sep != '/' && sep != '.')
			return 0;
		b = a + 1;
		if (b >= n || !IS_DIGIT(p[b]))
			return 0;
		m = p[b] - '0';
		if (b + 1 < n && IS_DIGIT(p[b + 1]))
			m = m * 10 + (p[++b] - '0');
		if (b + 6 > n || p[b + 1] != sep || !all_digits(p + b + 2, 4))
			return 0;
		d = a == 2 ? num2(p) : p[0] - '0';
		y = num2(p + b + 2) * 100 + num2(p + b + 4);
		return ymd_ok(y, m, d) && date_end(s, len, i + b + 6);
	}
	return 0;
}

/* NHS number at s[i]: 10 digits, or 3-3-4 with one kind of separator
 * (space or dash). Sets *plain for the unformatted form. Returns 1 when the
 * shape matches (check digit not yet tested), writing the digits in d. */
static int
nhs_at(const char *s, size_t len, size_t i, char d[10], int *plain)
{
	const char *p = s + i;
	size_t n = len - i;
	char sep;

	if (n >= 10 && all_digits(p, 10) && word_end(s, len, i + 10)) {
		memcpy(d, p, 10);
		*plain = 1;
		return 1;
	}
	if (n < 12 || !all_digits(p, 3))
		return 0;
	sep = p[3];
	if ((sep != ' ' && sep != '-') || p[7] != sep || !all_digits(p + 4, 3)
	    || !all_digits(p + 8, 4) || !word_end(s, len, i + 12))
		return 0;
	memcpy(d, p, 3);
	memcpy(d + 3, p + 4, 3);
	memcpy(d + 6, p + 8, 4);
	*plain = 0;
	return 1;
}

/*
 * UK phone number at s[i]: 0 followed by 9 or 10 digits, or +44 (space,
 * optional "(0)") followed by 9 or 10 digits; digit groups separated by
 * single spaces or dashes, the area code optionally in parentheses.
 * Unformatted numbers must have 11 digits (0 + 10).
 */
static int
phone_at(const char *s, size_t len, size_t i)
{
	size_t j = i;
	int digits = 0, seps = 0, intl = 0, paren = 0;
	char first = 0;

	if (s[j] == '+' || (j + 4 <= len && memcmp(s + j, "0044", 4) == 0)) {
		if (s[j] == '0')
			j++;		/* 0044: the international prefix */
		else if (j + 3 > len || s[j + 1] != '4' || s[j + 2] != '4')
			return 0;
		j += 3;
		intl = 1;
		if (j < len && (s[j] == ' ' || s[j] == '-'))
			j++;
		if (j + 3 <= len && memcmp(s + j, "(0)", 3) == 0)
			j += 3;
		if (j < len && s[j] == ' ')
			j++;
	} else if (s[j] == '(') {
		paren = 1;
		j++;
	}
	if (!intl) {
		if (j >= len || s[j] != '0')
			return 0;
		j++;
		digits = 1;
	}
	for (; j < len; j++) {
		char c = s[j];

		if (IS_DIGIT(c)) {
			if (digits == (intl ? 0 : 1))
				first = c;
			digits++;
			if (digits > 11 + intl)
				return 0;
			continue;
		}
		if (paren && c == ')' && j + 1 < len && s[j + 1] == ' ' &&
		    j + 2 < len && IS_DIGIT(s[j + 2])) {
			paren = 0;
			seps++;
			j++;
			continue;
		}
		if ((c == ' ' || c == '-') && j + 1 < len &&
		    IS_DIGIT(s[j + 1]) && j > i && IS_DIGIT(s[j - 1])) {
			seps++;
			continue;
		}
		break;
	}
	if (paren || !word_end(s, len, j))
		return 0;
	if (first != '1' && first != '2' && first != '3' && first != '7' &&
	    first != '8' && first != '9')
		return 0;
	if (intl)
		return digits == 9 || digits == 10;
	if (digits == 11)
		return 1;
	return digits == 10 && seps > 0 && (first == '1' || first == '8');
}

/* An email address around the '@' at s[k]. */
static int
email_at(const char *s, size_t len, size_t k)
{
	size_t a = k, e = k + 1, lastdot = 0, t;

	while (a > 0 && (IS_ALNUM(s[a - 1]) || strchr("._%+-", s[a - 1]) !=
	    NULL) && s[a - 1] != '\0')
		a--;
	if (a == k)
		return 0;
	while (e < len && (IS_ALNUM(s[e]) || s[e] == '.' || s[e] == '-')) {
		if (s[e] == '.')
			lastdot = e;
		e++;
	}
	/* a trailing dot ends the sentence, not the domain */
	while (e > k + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
		e--;
	if (lastdot >= e)
		for (lastdot = 0, t = k + 1; t < e; t++)
			if (s[t] == '.')
				lastdot = t;
	if (lastdot == 0 || lastdot == k + 1 || e - lastdot - 1 < 2)
		return 0;
	for (t = lastdot + 1; t < e; t++)
		if (!IS_ALPHA(s[t]))
			return 0;
	return 1;
}

/* Find raw identifiers standing as words in one cell. */
unsigned
ident_scan(const char *s, size_t len, unsigned skip, unsigned *nhs_cand)
{
	unsigned found = 0, cand = 0, digits = 0, letters = 0, at = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned c = cls[U(s[i])];
		digits += c & C_DIGIT;
		letters += (c & (C_UPPER | C_LOWER)) != 0;
		at |= c & C_AT;
	}
	if (at && !(skip & (1u << IDENT_EMAIL))) {
		for (i = 1; i + 1 < len; i++)
			if (s[i] == '@' && email_at(s, len, i)) {
				found |= 1u << IDENT_EMAIL;
				break;
			}
	}
	if (nhs_cand != NULL)
		*nhs_cand = 0;
	if (digits < 2)
		return found;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (i > 0 && IS_ALNUM(s[i - 1]))
			continue;	/* not a word start */
		if (IS_ALPHA(c)) {
			if (digits >= 6 && letters >= 3 &&
			    !(skip & (1u << IDENT_NINO)) && nino_at(s, len, i))
				found |= 1u << IDENT_NINO;
			if (letters >= 3 && !(skip & (1u << IDENT_POSTCODE)) &&
			    postcode_at(s, len, i))
				found |= 1u << IDENT_POSTCODE;
		} else if (IS_DIGIT(c)) {
			char d[10];
			int plain;

			if (digits >= 10 && nhs_at(s, len, i, d, &plain)) {
				if (plain)
					cand++;
				if (nhs_check_ok(d))
					found |= 1u << (plain ?
					    IDENT_NHS_PLAIN : IDENT_NHS);
			}
			if (digits >= 10 && c == '0' && phone_at(s, len, i))
				found |= 1u << IDENT_PHONE;
			if (digits >= 6 && !(skip & (1u << IDENT_DATE)) &&
			    date_at(s, len, i))
				found |= 1u << IDENT_DATE;
		} else if ((c == '+' || c == '(') && digits >= 9 &&
		    phone_at(s, len, i))
			found |= 1u << IDENT_PHONE;
	}
	if (nhs_cand != NULL)
		*nhs_cand = cand;
	return found & ~skip;
}

/* ident_scan() for a cell in the CSV window, with a pre-filter. */
unsigned
ident_scan_cell(const char *s, size_t len, unsigned skip, unsigned *nhs_cand)
{
#if defined(__SSE2__)
	/* Most cells have fewer than two digits and no '@': then they hold
	 * no identifier of any kind. Count with SSE2, 16 bytes at a time. */
	if (len <= 32) {
		const __m128i d0 = _mm_set1_epi8('0' - 1), d9 = _mm_set1_epi8(
		    '9' + 1), at = _mm_set1_epi8('@');
		uint32_t dig = 0, ats = 0, keep, m;
		size_t i;

		for (i = 0; i < len; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)
			    (s + i));
			keep = len - i >= 16 ? 0xffffu : (1u << (len - i)) - 1;
			m = (uint32_t)_mm_movemask_epi8(_mm_and_si128(
			    _mm_cmpgt_epi8(v, d0), _mm_cmplt_epi8(v, d9))) & keep;
			dig |= m << i;		/* i is 0 or 16 */
			ats |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v,
			    at)) & keep;
		}
		/* fewer than two digits: at most one bit set */
		dig = (dig & (dig - 1)) == 0;
		if (dig && ats == 0) {
			if (nhs_cand != NULL)
				*nhs_cand = 0;
			return 0;
		}
	}
#endif
	return ident_scan(s, len, skip, nhs_cand);
}
