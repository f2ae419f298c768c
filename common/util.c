/* Randomness, hex, wiping, time and string helpers. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "common.h"

int
rg_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return RG_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return RG_OK;
}

void
hex_encode(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(unsigned char *out, size_t len, const char *hex)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int hi = hex_val(hex[2 * i]), lo;
		if (hi < 0)
			return RG_EINVAL;
		lo = hex_val(hex[2 * i + 1]);
		if (lo < 0)
			return RG_EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[2 * len] == '\0' ? RG_OK : RG_EINVAL;
}

void
rg_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

void
time_rfc3339_now(char *out, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char base[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%06ldZ", base, (long)tv.tv_usec);
}

void
date_today(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, len, "%Y-%m-%d", &tm);
}

/* Days from civil date (Howard Hinnant's algorithm). */
static long
days_from_civil(long y, unsigned m, unsigned d)
{
	long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

/* The inverse of days_from_civil() (Howard Hinnant's algorithm): no libc
 * time conversion, any day of years 0..9999 (others print as year 0). */
void
date_format(long days, char *out, size_t len)
{
	long z = days + 719468, era, doe, yoe, y, doy, mp, dd, m;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	dd = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 0 || y > 9999)
		y = 0;
	snprintf(out, len, "%04d-%02d-%02d", (int)y, (int)m, (int)dd);
}

int
rg_array_grow(void **p, size_t *cap, size_t need, size_t each)
{
	size_t ncap = *cap ? *cap : 1024;
	void *np;

	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return RG_ENOMEM;
		ncap *= 2;
	}
	if (ncap == *cap)
		return 0;
	if (each != 0 && ncap > SIZE_MAX / each)
		return RG_ENOMEM;
	if ((np = realloc(*p, ncap * each)) == NULL)
		return RG_ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int
date_parse(const char *s, long *days)
{
	static const unsigned mdays[] =
	    { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, m, d, i;

	for (i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return RG_EINVAL;
		} else if (s[i] < '0' || s[i] > '9')
			return RG_EINVAL;
	}
	if (s[10] != '\0')
		return RG_EINVAL;
	y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 +
	    (s[2] - '0') * 10 + (s[3] - '0'));
	m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return RG_EINVAL;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return RG_EINVAL;
	if (days)
		*days = days_from_civil((long)y, m, d);
	return RG_OK;
}

size_t
rg_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
json_append_string(struct buf *b, const char *s)
{
	int rc;

	if ((rc = buf_append(b, "\"", 1)) != 0)
		return rc;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"':  rc = buf_append(b, "\\\"", 2); break;
		case '\\': rc = buf_append(b, "\\\\", 2); break;
		case '\n': rc = buf_append(b, "\\n", 2); break;
		case '\r': rc = buf_append(b, "\\r", 2); break;
		case '\t': rc = buf_append(b, "\\t", 2); break;
		default:
			if (c < 0x20)
				rc = buf_printf(b, "\\u%04x", c);
			else
				rc = buf_append(b, s, 1);
		}
		if (rc != 0)
			return rc;
	}
	return buf_append(b, "\"", 1);
}

/* 1 when s is a safe single path component name (common.h). */
int
name_is_safe(const char *s, size_t maxlen)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		if (i >= maxlen)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return 0;
	}
	return 1;
}
