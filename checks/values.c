/*
 * Cell value tests of the column rules: types, granularity, tokens and
 * numbers. Pure functions over (pointer, length); no allocation.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "checks/checks.h"
#include "checks/internal.h"

#define ISD(c)	((unsigned char)((c) - '0') < 10)
#define ISUP(c)	((unsigned char)((c) - 'A') < 26)
#define ISLO(c)	((unsigned char)((c) - 'a') < 26)

static int
digits(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!ISD(p[i]))
			return 0;
	return 1;
}

/* Optional '-' then 1-18 digits: fits an int64_t exactly. */
int
val_integer(const char *p, size_t n, int64_t *v)
{
	size_t i = 0;
	int64_t x = 0;
	int neg = 0;

	if (n > 0 && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n || n - i > 18)
		return 0;
	for (; i < n; i++) {
		if (!ISD(p[i]))
			return 0;
		x = x * 10 + (p[i] - '0');
	}
	if (v != NULL)
		*v = neg ? -x : x;
	return 1;
}

/* Integer shape of any length ('-'? digits+), for the type rule. */
int
val_integer_shape(const char *p, size_t n)
{
	size_t i = (n > 0 && p[0] == '-') ? 1 : 0;

	return i < n && digits(p + i, n - i);
}

/* '-'? digits+ ('.' digits+)? ; *v its value when it is short enough. */
int
val_decimal(const char *p, size_t n, double *v)
{
	size_t i = (n > 0 && p[0] == '-') ? 1 : 0, s = i;
	char tmp[64];

	while (i < n && ISD(p[i]))
		i++;
	if (i == s)
		return 0;
	if (i < n) {
		if (p[i] != '.' || i + 1 == n || !digits(p + i + 1, n - i - 1))
			return 0;
	}
	if (v != NULL) {
		if (n >= sizeof(tmp))
			return 0;
		memcpy(tmp, p, n);
		tmp[n] = '\0';
		*v = strtod(tmp, NULL);
	}
	return 1;
}

static int
mdays(int y, int m)
{
	static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : md[m - 1];
}

/* YYYY-MM-DD, a calendar date. */
int
val_date(const char *p, size_t n)
{
	int y, m, d;

	if (n != 10 || !digits(p, 4) || p[4] != '-' || !digits(p + 5, 2) ||
	    p[7] != '-' || !digits(p + 8, 2))
		return 0;
	y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 +
	    (p[3] - '0');
	m = (p[5] - '0') * 10 + (p[6] - '0');
	d = (p[8] - '0') * 10 + (p[9] - '0');
	return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= mdays(y, m);
}

/* YYYY-MM with a month 01-12. */
int
val_year_month(const char *p, size_t n)
{
	int m;

	if (n != 7 || !digits(p, 4) || p[4] != '-' || !digits(p + 5, 2))
		return 0;
	m = (p[5] - '0') * 10 + (p[6] - '0');
	return m >= 1 && m <= 12;
}

/* YYYY. */
int
val_year(const char *p, size_t n)
{
	return n == 4 && digits(p, 4);
}

static int
alpha(char c)
{
	return ISUP(c) || ISLO(c);
}

/* Postcode area (1-2 letters) or district (area, digit, digit/letter?). */
static int
district_or_area(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0 || !alpha(p[0]))
		return 0;
	i = 1;
	if (i < n && alpha(p[i]))
		i++;
	if (i == n)
		return 1;		/* area */
	if (!ISD(p[i]))
		return 0;
	i++;
	if (i < n && (ISD(p[i]) || alpha(p[i])))
		i++;
	return i == n;
}

/* 1 when the value is at the granularity g or coarser. */
int
val_granularity(enum granularity g, const char *p, size_t n)
{
	switch (g) {
	case GRAN_NONE:
		return 1;
	case GRAN_POSTCODE_DISTRICT:
		return district_or_area(p, n);
	case GRAN_POSTCODE_SECTOR:
		if (district_or_area(p, n))
			return 1;
		/* district, one space, sector digit */
		return n >= 4 && ISD(p[n - 1]) && p[n - 2] == ' ' &&
		    district_or_area(p, n - 2);
	case GRAN_YEAR:
		return val_year(p, n);
	case GRAN_YEAR_MONTH:
		return val_year(p, n) || val_year_month(p, n);
	}
	return 0;
}

/* A pseudonym: exactly 64 lowercase hex digits. */
int
val_token(const char *p, size_t n)
{
	size_t i = 0;

	if (n != TOKEN_HEX_LEN)
		return 0;
#if defined(__SSE2__)
	{
		const __m128i c0 = _mm_set1_epi8('0' - 1), c9 = _mm_set1_epi8(
		    '9' + 1), ca = _mm_set1_epi8('a' - 1), cf = _mm_set1_epi8(
		    'f' + 1);

		for (; i < 64; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const
			    void *)(p + i));
			__m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, c0),
			    _mm_cmplt_epi8(v, c9));
			__m128i a = _mm_and_si128(_mm_cmpgt_epi8(v, ca),
			    _mm_cmplt_epi8(v, cf));
			if (_mm_movemask_epi8(_mm_or_si128(d, a)) != 0xffff)
				return 0;
		}
		return 1;
	}
#else
	for (; i < n; i++)
		if (!ISD(p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
			return 0;
	return 1;
#endif
}

/* A suppressed table cell: empty, "*", "c", "[c]", "x", "..", "-". */
int
val_suppressed(const char *p, size_t n)
{
	static const char *marks[] = { "*", "c", "[c]", "x", "..", "-",
	    "[x]" };
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < RG_ARRAY_LEN(marks); i++)
		if (strlen(marks[i]) == n && memcmp(marks[i], p, n) == 0)
			return 1;
	return 0;
}

#define HASH_M1	0xc4ceb9fe1a85ec53ULL
#define HASH_M2	0xff51afd7ed558ccdULL

static inline uint64_t
hash_round(uint64_t h, uint64_t k)
{
	h ^= k * HASH_M1;
	return ((h << 31) | (h >> 33)) * HASH_M2;
}

static inline uint64_t
hash_final(uint64_t h)
{
	h ^= h >> 33;
	h *= HASH_M2;
	h ^= h >> 33;
	h *= HASH_M1;
	h ^= h >> 33;
	return h;
}

/* 64-bit hash (not cryptographic) of len bytes. */
uint64_t
checks_hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL), k;

	while (len >= 8) {
		memcpy(&k, p, 8);
		h = hash_round(h, k);
		p += 8;
		len -= 8;
	}
	k = 0;
	memcpy(&k, p, len);
	h ^= k * HASH_M1;
	return hash_final(h);
}

/* checks_hash64() of a cell in the CSV window. */
uint64_t
checks_hash64_cell(const char *p, size_t len, uint64_t seed)
{
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL), k;

	while (len >= 8) {
		memcpy(&k, p, 8);
		h = hash_round(h, k);
		p += 8;
		len -= 8;
	}
	h ^= (len ? load_padded(p, len) : 0) * HASH_M1;
	return hash_final(h);
}
