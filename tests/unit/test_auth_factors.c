/*
 * Unit tests for the second factors: keys/totp.c (RFC 6238 Appendix B and
 * RFC 4226 Appendix D vectors, RFC 4648 base32 vectors, the otpauth URI),
 * keys/password.c (yescrypt through libxcrypt) and keys/auth_store.c (the
 * STATE_DIR/auth/ store: secrets, the replay guard, security-key counters).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <crypt.h>
#include <dirent.h>

#include "common/common.h"
#include "keys/keys.h"

static char tmpdir[256];
static const unsigned char rfc_secret[] = "12345678901234567890";
#define RFC_LEN	20

/* ---- TOTP ------------------------------------------------------------- */

static const struct {
	time_t	t;
	uint32_t code8;
} rfc6238[] = {
	{ 59, 94287082 },
	{ 1111111109, 7081804 },
	{ 1111111111, 14050471 },
	{ 1234567890, 89005924 },
	{ 2000000000, 69279037 },
	{ (time_t)20000000000LL, 65353130 },
};

static void
test_totp_rfc6238(void **state)
{
	char code[16];
	uint64_t step;
	size_t i;

	(void)state;
	for (i = 0; i < RG_ARRAY_LEN(rfc6238); i++) {
		step = (uint64_t)rfc6238[i].t / 30;
		assert_int_equal(totp_code(rfc_secret, RFC_LEN, step, 8),
		    rfc6238[i].code8);
		/* 6 digits: the same value modulo 10^6 */
		assert_int_equal(totp_code(rfc_secret, RFC_LEN, step, 6),
		    rfc6238[i].code8 % 1000000);
		/* and totp_match takes the zero-padded text */
		snprintf(code, sizeof(code), "%08u",
		    (unsigned)rfc6238[i].code8);
		assert_int_equal(totp_match(rfc_secret, RFC_LEN, code,
		    rfc6238[i].t, 30, 8, 0, &step), 1);
		assert_true(step == (uint64_t)rfc6238[i].t / 30);
		snprintf(code, sizeof(code), "%06u",
		    (unsigned)(rfc6238[i].code8 % 1000000));
		assert_int_equal(totp_match(rfc_secret, RFC_LEN, code,
		    rfc6238[i].t, 30, 6, 0, NULL), 1);
	}
	/* "07081804": the leading zero is part of the code */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "07081804",
	    1111111109, 30, 8, 0, NULL), 1);
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "7081804 ",
	    1111111109, 30, 8, 0, NULL), 0);
}

static void
test_hotp_rfc4226(void **state)
{
	static const uint32_t want[] = { 755224, 287082, 359152, 969429,
	    338314, 254676, 287922, 162583, 399871, 520489 };
	uint64_t c;

	(void)state;
	for (c = 0; c < RG_ARRAY_LEN(want); c++)
		assert_int_equal(totp_code(rfc_secret, RFC_LEN, c, 6),
		    want[c]);
	assert_int_equal(totp_code(rfc_secret, RFC_LEN, 1, 0), 0);
	assert_int_equal(totp_code(rfc_secret, RFC_LEN, 1, 10), 0);
}

static void
test_totp_skew(void **state)
{
	uint64_t step = 0;

	(void)state;
	/* 94287082 is the code of step 1 (t = 30..59) */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 59, 30,
	    8, 1, &step), 1);
	assert_true(step == 1);
	/* the clock one step ahead: the code is from step - 1 */
	step = 0;
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 89, 30,
	    8, 1, &step), 1);
	assert_true(step == 1);
	/* the clock one step behind: the code is from step + 1 */
	step = 0;
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 29, 30,
	    8, 1, &step), 1);
	assert_true(step == 1);
	/* two steps off: refused with skew 1, accepted with skew 2 */
	step = 77;
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 119, 30,
	    8, 1, &step), 0);
	assert_true(step == 77);	/* untouched on failure */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 119, 30,
	    8, 2, NULL), 1);
	/* skew 0: only the current step */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 89, 30,
	    8, 0, NULL), 0);
	/* near the epoch the window does not wrap around */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 0, 30,
	    8, 1, NULL), 1);
}

static void
test_totp_bad_codes(void **state)
{
	(void)state;
	/* wrong length */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "9428708", 59, 30,
	    8, 1, NULL), 0);
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "942870820", 59, 30,
	    8, 1, NULL), 0);
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 59, 30,
	    6, 1, NULL), 0);
	/* letters, signs, spaces */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "9428708a", 59, 30,
	    8, 1, NULL), 0);
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "abcdefgh", 59, 30,
	    8, 1, NULL), 0);
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "+4287082", 59, 30,
	    8, 1, NULL), 0);
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, " 4287082", 59, 30,
	    8, 1, NULL), 0);
	/* empty and absent */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "", 59, 30, 8, 1,
	    NULL), 0);
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, NULL, 59, 30, 8, 1,
	    NULL), 0);
	/* a wrong code of the right shape */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287083", 59, 30,
	    8, 1, NULL), 0);
	/* nonsense parameters */
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", 59, 0,
	    8, 1, NULL), 0);
	assert_int_equal(totp_match(rfc_secret, RFC_LEN, "94287082", -1, 30,
	    8, 1, NULL), 0);
	assert_int_equal(totp_match(rfc_secret, 0, "94287082", 59, 30, 8, 1,
	    NULL), 0);
}

/* ---- base32 ----------------------------------------------------------- */

static void
test_base32_rfc4648(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "", "" }, { "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
		{ "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" },
		{ "foobar", "MZXW6YTBOI" },
	};
	unsigned char bin[64];
	char text[64];
	size_t i;
	long n;

	(void)state;
	for (i = 0; i < RG_ARRAY_LEN(v); i++) {
		assert_int_equal(base32_encode(text, sizeof(text),
		    (const unsigned char *)v[i].in, strlen(v[i].in)), RG_OK);
		assert_string_equal(text, v[i].out);
		n = base32_decode(bin, sizeof(bin), v[i].out);
		assert_int_equal(n, (long)strlen(v[i].in));
		assert_memory_equal(bin, v[i].in, (size_t)n);
	}
	/* padding, lower case and spaces are accepted */
	assert_int_equal(base32_decode(bin, sizeof(bin), "MZXW6YQ="), 4);
	assert_memory_equal(bin, "foob", 4);
	assert_int_equal(base32_decode(bin, sizeof(bin), "mzxw 6ytb oi======"),
	    6);
	assert_memory_equal(bin, "foobar", 6);
	/* the RFC 6238 secret as authenticator apps are given it */
	assert_int_equal(base32_encode(text, sizeof(text), rfc_secret,
	    RFC_LEN), RG_OK);
	assert_string_equal(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

static void
test_base32_roundtrip_and_bad(void **state)
{
	unsigned char in[64], out[64];
	char text[128];
	size_t len;
	int k;

	(void)state;
	for (k = 0; k < 200; k++) {
		len = (size_t)k % 41;
		assert_int_equal(rg_random(in, sizeof(in)), RG_OK);
		assert_int_equal(base32_encode(text, sizeof(text), in, len),
		    RG_OK);
		assert_int_equal(strlen(text), (len * 8 + 4) / 5);
		assert_int_equal(base32_decode(out, sizeof(out), text),
		    (long)len);
		assert_memory_equal(in, out, len);
	}
	/* out too short: encode needs 2*5-char groups + NUL for 10 bytes */
	assert_int_equal(base32_encode(text, 16, in, 10), RG_ETOOBIG);
	assert_int_equal(base32_encode(text, 17, in, 10), RG_OK);
	assert_int_equal(base32_decode(out, 3, "MZXW6YTBOI"), -1);
	/* characters outside the alphabet: 0, 1, 8, 9, punctuation */
	assert_int_equal(base32_decode(out, sizeof(out), "MZXW6YT1"), -1);
	assert_int_equal(base32_decode(out, sizeof(out), "MZXW0YTB"), -1);
	assert_int_equal(base32_decode(out, sizeof(out), "MZX8"), -1);
	assert_int_equal(base32_decode(out, sizeof(out), "MZ-Q"), -1);
	/* lengths no encoder makes (1, 3, 6 characters past a group) */
	assert_int_equal(base32_decode(out, sizeof(out), "M"), -1);
	assert_int_equal(base32_decode(out, sizeof(out), "MZX"), -1);
	assert_int_equal(base32_decode(out, sizeof(out), "MZXW6Y"), -1);
	assert_int_equal(base32_decode(out, sizeof(out), NULL), -1);
}

static void
test_totp_uri(void **state)
{
	char uri[512];

	(void)state;
	assert_int_equal(totp_uri(uri, sizeof(uri), "relgate", "acme-ana",
	    "JBSWY3DPEHPK3PXP", 6, 30), RG_OK);
	assert_string_equal(uri, "otpauth://totp/relgate:acme-ana?"
	    "secret=JBSWY3DPEHPK3PXP&issuer=relgate&algorithm=SHA1&"
	    "digits=6&period=30");
	/* names are percent-encoded, in the label and in issuer= */
	assert_int_equal(totp_uri(uri, sizeof(uri), "Gate & Co", "a:b/c",
	    "MZXW6", 8, 60), RG_OK);
	assert_string_equal(uri, "otpauth://totp/Gate%20%26%20Co:a%3Ab%2Fc?"
	    "secret=MZXW6&issuer=Gate%20%26%20Co&algorithm=SHA1&"
	    "digits=8&period=60");
	assert_int_equal(totp_uri(uri, 40, "relgate", "acme-ana",
	    "JBSWY3DPEHPK3PXP", 6, 30), RG_ETOOBIG);
	assert_string_equal(uri, "");
	assert_int_equal(totp_uri(uri, sizeof(uri), "relgate", "",
	    "JBSWY3DP", 6, 30), RG_EINVAL);
	assert_int_equal(totp_uri(uri, sizeof(uri), "relgate", "ana",
	    "jbswy3dp", 6, 30), RG_EINVAL);
	assert_int_equal(totp_uri(uri, sizeof(uri), "relgate", "ana",
	    "JBSWY3DP", 5, 30), RG_EINVAL);
}

/* ---- passwords -------------------------------------------------------- */

static void
test_password(void **state)
{
	char h1[256], h2[256], bad[300];
	struct crypt_data *cd;
	const char *sha;
	struct diag d;

	(void)state;
	diag_clear(&d);
	assert_int_equal(password_hash_make("correct horse", h1, sizeof(h1),
	    &d), RG_OK);
	assert_true(strncmp(h1, "$y$", 3) == 0);
	assert_int_equal(password_verify("correct horse", h1), 1);
	/* a wrong password, a prefix, a longer one, the empty one */
	assert_int_equal(password_verify("correct horsE", h1), 0);
	assert_int_equal(password_verify("correct hors", h1), 0);
	assert_int_equal(password_verify("correct horse ", h1), 0);
	assert_int_equal(password_verify("", h1), 0);
	/* a fresh salt every time */
	assert_int_equal(password_hash_make("correct horse", h2, sizeof(h2),
	    &d), RG_OK);
	assert_string_not_equal(h1, h2);
	assert_int_equal(password_verify("correct horse", h2), 1);

	/* malformed hashes never match */
	assert_int_equal(password_verify("correct horse", ""), 0);
	assert_int_equal(password_verify("correct horse", "$y$"), 0);
	assert_int_equal(password_verify("correct horse", "$y$garbage"), 0);
	assert_int_equal(password_verify("correct horse", "*"), 0);
	snprintf(bad, sizeof(bad), "%.*s", (int)strlen(h1) - 1, h1);
	assert_int_equal(password_verify("correct horse", bad), 0);
	snprintf(bad, sizeof(bad), "%sA", h1);
	assert_int_equal(password_verify("correct horse", bad), 0);
	snprintf(bad, sizeof(bad), "%s", h1);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
	assert_int_equal(password_verify("correct horse", bad), 0);
	/* a good SHA-crypt hash of the right password: not yescrypt, refused */
	cd = calloc(1, sizeof(*cd));
	assert_non_null(cd);
	sha = crypt_r("correct horse", "$6$saltsaltsalt$", cd);
	assert_non_null(sha);
	assert_true(strncmp(sha, "$6$", 3) == 0);
	assert_int_equal(password_verify("correct horse", sha), 0);
	free(cd);

	/* empty password refused; short output buffer */
	assert_int_equal(password_hash_make("", h1, sizeof(h1), &d),
	    RG_EINVAL);
	assert_int_equal(password_hash_make("x", h1, 20, &d), RG_ETOOBIG);
}

/* ---- the store -------------------------------------------------------- */

/* The permission bits of tmpdir/rel; (mode_t)-1 when it is not there. */
static mode_t
mode_of(const char *rel)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	if (lstat(path, &st) == -1)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

static void
test_store_enroll(void **state)
{
	char b1[64], b2[64];
	unsigned char sec[64], dec[64];
	size_t len = 0;
	struct diag d;
	char path[600];

	(void)state;
	diag_clear(&d);
	assert_int_equal(auth_totp_secret(tmpdir, "ana", sec, sizeof(sec),
	    &len, &d), RG_ENOENT);
	assert_int_equal(auth_totp_enroll(tmpdir, "ana", 0, b1, sizeof(b1),
	    &d), RG_OK);
	assert_int_equal(strlen(b1), 32);
	assert_int_equal(mode_of("auth"), 0700);
	assert_int_equal(mode_of("auth/totp"), 0700);
	assert_int_equal(mode_of("auth/totp/ana.secret"), 0600);
	assert_int_equal(auth_totp_secret(tmpdir, "ana", sec, sizeof(sec),
	    &len, &d), RG_OK);
	assert_int_equal(len, TOTP_SECRET_BYTES);
	assert_int_equal(base32_decode(dec, sizeof(dec), b1),
	    TOTP_SECRET_BYTES);
	assert_memory_equal(sec, dec, TOTP_SECRET_BYTES);
	/* the code of that secret matches now */
	{
		char code[8];
		time_t now = time(NULL);

		snprintf(code, sizeof(code), "%06u", (unsigned)totp_code(sec,
		    len, (uint64_t)now / 30, 6));
		assert_int_equal(totp_match(sec, len, code, now, 30, 6, 1,
		    NULL), 1);
	}
	/* a short cap */
	assert_int_equal(auth_totp_secret(tmpdir, "ana", sec, 10, &len, &d),
	    RG_ETOOBIG);

	/* enrolled already: refused without force, replaced with it */
	assert_int_equal(auth_totp_enroll(tmpdir, "ana", 0, b2, sizeof(b2),
	    &d), RG_EEXIST);
	assert_int_equal(auth_totp_enroll(tmpdir, "ana", 1, b2, sizeof(b2),
	    &d), RG_OK);
	assert_string_not_equal(b1, b2);
	assert_int_equal(auth_totp_secret(tmpdir, "ana", sec, sizeof(sec),
	    &len, &d), RG_OK);
	assert_int_equal(base32_decode(dec, sizeof(dec), b2),
	    TOTP_SECRET_BYTES);
	assert_memory_equal(sec, dec, TOTP_SECRET_BYTES);
	/* no room for the text */
	assert_int_equal(auth_totp_enroll(tmpdir, "bo", 0, b2, 32, &d),
	    RG_ETOOBIG);

	/* reset, and reset again */
	assert_int_equal(auth_totp_reset(tmpdir, "ana", &d), RG_OK);
	assert_int_equal(auth_totp_reset(tmpdir, "ana", &d), RG_ENOENT);
	assert_int_equal(auth_totp_secret(tmpdir, "ana", sec, sizeof(sec),
	    &len, &d), RG_ENOENT);
	assert_int_equal(mode_of("auth/totp/ana.secret"), (mode_t)-1);
	assert_int_equal(auth_totp_reset(tmpdir, "nobody", &d), RG_ENOENT);

	/* a secret open to others is refused, not used */
	assert_int_equal(auth_totp_enroll(tmpdir, "cy", 0, b1, sizeof(b1),
	    &d), RG_OK);
	snprintf(path, sizeof(path), "%s/auth/totp/cy.secret", tmpdir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(auth_totp_secret(tmpdir, "cy", sec, sizeof(sec),
	    &len, &d), RG_EPERM);
	assert_non_null(strstr(d.msg, "0600"));
	rg_wipe(sec, sizeof(sec));
	rg_wipe(dec, sizeof(dec));
}

static void
test_store_names(void **state)
{
	static const char *const bad[] = { "", ".", "..", "../ana", "a/b",
	    ".ana", "-ana", "ana b", "a\nb" };
	unsigned char sec[64];
	char b32[64];
	size_t i, len;
	struct diag d;

	(void)state;
	for (i = 0; i < RG_ARRAY_LEN(bad); i++) {
		assert_int_equal(auth_totp_enroll(tmpdir, bad[i], 1, b32,
		    sizeof(b32), &d), RG_EINVAL);
		assert_int_equal(auth_totp_reset(tmpdir, bad[i], &d),
		    RG_EINVAL);
		assert_int_equal(auth_totp_secret(tmpdir, bad[i], sec,
		    sizeof(sec), &len, &d), RG_EINVAL);
		assert_int_equal(auth_totp_use_step(tmpdir, bad[i], 1, &d),
		    RG_EINVAL);
		assert_int_equal(auth_sk_counter(tmpdir, bad[i], "SHA256:x",
		    1, &d), RG_EINVAL);
	}
	assert_int_equal(auth_totp_enroll(tmpdir, NULL, 1, b32, sizeof(b32),
	    &d), RG_EINVAL);
}

static void
test_store_replay(void **state)
{
	char b32[64], path[600];
	struct diag d;
	char *body = NULL;
	size_t len;

	(void)state;
	diag_clear(&d);
	assert_int_equal(auth_totp_use_step(tmpdir, "raj", 1000, &d), RG_OK);
	assert_int_equal(mode_of("auth/totp/raj.step"), 0600);
	/* the same step again, an older one: refused */
	assert_int_equal(auth_totp_use_step(tmpdir, "raj", 1000, &d),
	    RG_EEXIST);
	assert_int_equal(auth_totp_use_step(tmpdir, "raj", 999, &d),
	    RG_EEXIST);
	assert_int_equal(auth_totp_use_step(tmpdir, "raj", 0, &d), RG_EEXIST);
	/* a newer one, then not back */
	assert_int_equal(auth_totp_use_step(tmpdir, "raj", 1001, &d), RG_OK);
	assert_int_equal(auth_totp_use_step(tmpdir, "raj", 1000, &d),
	    RG_EEXIST);
	/* each user has their own guard */
	assert_int_equal(auth_totp_use_step(tmpdir, "sam", 1000, &d), RG_OK);
	/* it is on disk, durably: what a restarted master reads */
	snprintf(path, sizeof(path), "%s/auth/totp/raj.step", tmpdir);
	assert_int_equal(file_read_small(&body, &len, path, 64, &d), RG_OK);
	assert_string_equal(body, "1001\n");
	free(body);
	/* a record that cannot be read is no licence to accept */
	assert_int_equal(file_write_atomic(path, "junk\n", 5, 0600, &d),
	    RG_OK);
	assert_int_equal(auth_totp_use_step(tmpdir, "raj", 5000, &d),
	    RG_EINTEGRITY);
	/* a new secret starts a new record */
	assert_int_equal(auth_totp_enroll(tmpdir, "raj", 1, b32, sizeof(b32),
	    &d), RG_OK);
	assert_int_equal(mode_of("auth/totp/raj.step"), (mode_t)-1);
	assert_int_equal(auth_totp_use_step(tmpdir, "raj", 5, &d), RG_OK);
	/* reset removes it too */
	assert_int_equal(auth_totp_reset(tmpdir, "raj", &d), RG_OK);
	assert_int_equal(mode_of("auth/totp/raj.step"), (mode_t)-1);
}

static void
test_store_sk_counter(void **state)
{
	const char *k1 = "SHA256:4wFDEqgB3i3qQrGdC0Eoz3ldy2fLqYLBJF3W8cWqnLc";
	const char *k2 = "SHA256:other/key+with=odd/chars";
	struct diag d;

	(void)state;
	diag_clear(&d);
	/* first use: any counter */
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, 7, &d), RG_OK);
	assert_int_equal(mode_of("auth/sk"), 0700);
	assert_int_equal(mode_of("auth/sk/ana"), 0700);
	/* grows: ok; the same or backwards: refused */
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, 8, &d), RG_OK);
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, 100, &d), RG_OK);
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, 100, &d),
	    RG_EINTEGRITY);
	assert_non_null(strstr(d.msg, "did not grow"));
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, 99, &d),
	    RG_EINTEGRITY);
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, 0, &d),
	    RG_EINTEGRITY);
	/* the refusal did not move the record */
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, 101, &d), RG_OK);
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, UINT32_MAX, &d),
	    RG_OK);
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k1, UINT32_MAX, &d),
	    RG_EINTEGRITY);
	/* another key, another user: their own records */
	assert_int_equal(auth_sk_counter(tmpdir, "ana", k2, 3, &d), RG_OK);
	assert_int_equal(auth_sk_counter(tmpdir, "bo", k1, 1, &d), RG_OK);
	/* a token without a counter: 0 then 0 is fine, until it counts */
	assert_int_equal(auth_sk_counter(tmpdir, "cy", k1, 0, &d), RG_OK);
	assert_int_equal(auth_sk_counter(tmpdir, "cy", k1, 0, &d), RG_OK);
	assert_int_equal(auth_sk_counter(tmpdir, "cy", k1, 1, &d), RG_OK);
	assert_int_equal(auth_sk_counter(tmpdir, "cy", k1, 0, &d),
	    RG_EINTEGRITY);
	assert_int_equal(auth_sk_counter(tmpdir, "cy", "", 1, &d), RG_EINVAL);
	/* records are owner-only files named by the key's hash */
	{
		char dir[600], f[900];
		struct dirent *de;
		struct stat st;
		DIR *dp;
		int n = 0;

		snprintf(dir, sizeof(dir), "%s/auth/sk/ana", tmpdir);
		assert_non_null(dp = opendir(dir));
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			assert_int_equal(strlen(de->d_name), 64 + 6);
			snprintf(f, sizeof(f), "%s/%s", dir, de->d_name);
			assert_int_equal(lstat(f, &st), 0);
			assert_true(S_ISREG(st.st_mode));
			assert_int_equal(st.st_mode & 07777, 0600);
			n++;
		}
		closedir(dp);
		assert_int_equal(n, 2);
	}
	assert_int_equal(auth_sk_counter(tmpdir, "cy", NULL, 1, &d),
	    RG_EINVAL);
}

static void
test_store_modes(void **state)
{
	char b32[64], sub[600];
	struct diag d;

	(void)state;
	/* a store folder left open to others is closed again */
	snprintf(sub, sizeof(sub), "%s/m", tmpdir);
	assert_int_equal(dir_make(sub, 0700), RG_OK);
	snprintf(sub, sizeof(sub), "%s/m/auth", tmpdir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(chmod(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/m", tmpdir);
	assert_int_equal(auth_totp_enroll(sub, "ana", 0, b32, sizeof(b32),
	    &d), RG_OK);
	assert_int_equal(mode_of("m/auth"), 0700);
	assert_int_equal(mode_of("m/auth/.lock"), 0600);
	assert_int_equal(mode_of("m/auth/totp/ana.secret"), 0600);
	/* a link where the folder should be is refused */
	snprintf(sub, sizeof(sub), "%s/l", tmpdir);
	assert_int_equal(dir_make(sub, 0700), RG_OK);
	snprintf(sub, sizeof(sub), "%s/l/auth", tmpdir);
	assert_int_equal(symlink("/tmp", sub), 0);
	snprintf(sub, sizeof(sub), "%s/l", tmpdir);
	assert_int_equal(auth_totp_enroll(sub, "ana", 0, b32, sizeof(b32),
	    &d), RG_EPERM);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/rg-test-auth.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totp_rfc6238),
		cmocka_unit_test(test_hotp_rfc4226),
		cmocka_unit_test(test_totp_skew),
		cmocka_unit_test(test_totp_bad_codes),
		cmocka_unit_test(test_base32_rfc4648),
		cmocka_unit_test(test_base32_roundtrip_and_bad),
		cmocka_unit_test(test_totp_uri),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_store_enroll),
		cmocka_unit_test(test_store_names),
		cmocka_unit_test(test_store_replay),
		cmocka_unit_test(test_store_sk_counter),
		cmocka_unit_test(test_store_modes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
