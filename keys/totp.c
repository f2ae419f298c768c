/*
 * Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1:
 * what authenticator apps use), RFC 4648 base32 for the shared secret, and
 * the otpauth:// URI an app reads from a QR code.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "keys/keys.h"

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* RFC 4648 base32, upper case, no padding. RG_ETOOBIG when out is short. */
int
base32_encode(char *out, size_t outlen, const unsigned char *in, size_t len)
{
	size_t need, i, o = 0;
	unsigned acc = 0;
	int bits = 0;

	if (len > (SIZE_MAX - 5) / 8)
		return RG_ETOOBIG;
	need = (len * 8 + 4) / 5 + 1;
	if (out == NULL || outlen < need)
		return RG_ETOOBIG;
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
		acc &= 0xff;	/* at most 4 bits are left over */
	}
	if (bits > 0)
		out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return RG_OK;
}

static int
b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/*
 * Decode base32 text (either case; '=' padding and spaces ignored) into
 * out. Returns the number of bytes, or -1 for a character outside the
 * alphabet, a length no encoder makes, or an out that is too short.
 */
long
base32_decode(unsigned char *out, size_t outlen, const char *in)
{
	unsigned acc = 0;
	size_t o = 0;
	int bits = 0, v;

	if (in == NULL)
		return -1;
	for (; *in != '\0'; in++) {
		if (*in == '=' || *in == ' ')
			continue;
		if ((v = b32_value(*in)) < 0)
			return -1;
		acc = ((acc << 5) | (unsigned)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	/* 1, 3 or 6 characters past a full group leave 5 or more bits:
	 * no whole number of bytes encodes to that. */
	if (bits >= 5)
		return -1;
	return (long)o;
}

static const uint32_t pow10[] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	1000000000
};

/*
 * The HOTP value of one counter (the TOTP time step): HMAC-SHA1 of the
 * step as 8 big-endian bytes, RFC 4226 dynamic truncation, modulo
 * 10^digits. digits outside 1..9 give 0.
 */
uint32_t
totp_code(const unsigned char *secret, size_t len, uint64_t step, int digits)
{
	unsigned char msg[8], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint32_t bin;
	int i, off;

	if (digits < 1 || digits > 9 || secret == NULL || len > INT32_MAX)
		return 0;
	for (i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(step & 0xff);
		step >>= 8;
	}
	if (HMAC(EVP_sha1(), secret, (int)len, msg, sizeof(msg), md,
	    &mdlen) == NULL || mdlen != 20) {
		rg_wipe(md, sizeof(md));
		return 0;
	}
	off = md[19] & 0x0f;
	bin = ((uint32_t)(md[off] & 0x7f) << 24) |
	    ((uint32_t)md[off + 1] << 16) | ((uint32_t)md[off + 2] << 8) |
	    (uint32_t)md[off + 3];
	rg_wipe(md, sizeof(md));
	return bin % pow10[digits];
}

/*
 * 1 when code (exactly `digits` ASCII digits, 6 to 8) is the code of a
 * time step within skew steps of now's; *step_out (may be NULL) is then
 * the matching step (the latest, should two match). Every candidate is
 * computed and compared in constant time, so the time taken says nothing
 * about which step matched or how much of a code was right. 0 otherwise.
 */
int
totp_match(const unsigned char *secret, size_t len, const char *code,
    time_t now, int period, int digits, int skew, uint64_t *step_out)
{
	char want[16];
	uint64_t base, step, found_step = 0;
	int i, found = 0, eq;
	size_t n;

	if (secret == NULL || len == 0 || code == NULL || now < 0 ||
	    period <= 0 || digits < 6 || digits > 8 || skew < 0 || skew > 10)
		return 0;
	n = strlen(code);
	if (n != (size_t)digits)
		return 0;
	for (i = 0; i < digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	base = (uint64_t)now / (uint64_t)period;
	for (i = -skew; i <= skew; i++) {
		if (i < 0 && base < (uint64_t)-i)
			continue;	/* before the epoch */
		step = i < 0 ? base - (uint64_t)-i : base + (uint64_t)i;
		snprintf(want, sizeof(want), "%0*u", digits,
		    (unsigned)totp_code(secret, len, step, digits));
		eq = CRYPTO_memcmp(want, code, (size_t)digits) == 0;
		/* no early return: every candidate costs the same */
		found_step = eq ? step : found_step;
		found |= eq;
	}
	rg_wipe(want, sizeof(want));
	if (!found)
		return 0;
	if (step_out != NULL)
		*step_out = found_step;
	return 1;
}

/* Append s percent-encoded (RFC 3986 unreserved kept) to out at *o. */
static int
pct_append(char *out, size_t outlen, size_t *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			if (*o + 1 >= outlen)
				return RG_ETOOBIG;
			out[(*o)++] = (char)*p;
		} else {
			if (*o + 3 >= outlen)
				return RG_ETOOBIG;
			out[(*o)++] = '%';
			out[(*o)++] = hex[*p >> 4];
			out[(*o)++] = hex[*p & 15];
		}
	}
	out[*o] = '\0';
	return RG_OK;
}

static int
raw_append(char *out, size_t outlen, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + n >= outlen)
		return RG_ETOOBIG;
	memcpy(out + *o, s, n + 1);
	*o += n;
	return RG_OK;
}

/*
 * The key URI authenticator apps read:
 * otpauth://totp/ISSUER:USER?secret=B32&issuer=ISSUER&algorithm=SHA1&
 * digits=D&period=P, issuer and user percent-encoded. RG_ETOOBIG when out
 * is short, RG_EINVAL for empty names, a secret that is not base32, or
 * digits/period out of range.
 */
int
totp_uri(char *out, size_t outlen, const char *issuer, const char *user,
    const char *secret_b32, int digits, int period)
{
	char tail[64];
	size_t o = 0, i;
	int rc;

	if (out == NULL || outlen == 0)
		return RG_ETOOBIG;
	out[0] = '\0';
	if (issuer == NULL || user == NULL || secret_b32 == NULL ||
	    issuer[0] == '\0' || user[0] == '\0' || secret_b32[0] == '\0' ||
	    digits < 6 || digits > 8 || period <= 0)
		return RG_EINVAL;
	for (i = 0; secret_b32[i] != '\0'; i++)
		if (secret_b32[i] < '2' || (secret_b32[i] > '7' &&
		    secret_b32[i] < 'A') || secret_b32[i] > 'Z')
			return RG_EINVAL;
	snprintf(tail, sizeof(tail), "&algorithm=SHA1&digits=%d&period=%d",
	    digits, period);
	if ((rc = raw_append(out, outlen, &o, "otpauth://totp/")) ||
	    (rc = pct_append(out, outlen, &o, issuer)) ||
	    (rc = raw_append(out, outlen, &o, ":")) ||
	    (rc = pct_append(out, outlen, &o, user)) ||
	    (rc = raw_append(out, outlen, &o, "?secret=")) ||
	    (rc = raw_append(out, outlen, &o, secret_b32)) ||
	    (rc = raw_append(out, outlen, &o, "&issuer=")) ||
	    (rc = pct_append(out, outlen, &o, issuer)) ||
	    (rc = raw_append(out, outlen, &o, tail))) {
		out[0] = '\0';
		return rc;
	}
	return RG_OK;
}
