/*
 * Unit tests for keys/masking.c: per-contract masking keys on disk and
 * HMAC-SHA256 tokens (known answers from RFC 4231 and from
 * `openssl dgst -sha256 -mac HMAC -macopt hexkey:...`).
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

#include <openssl/evp.h>

#include "common/common.h"
#include "keys/keys.h"

static char tmpdir[256];

static void
test_token_known_answer(void **state)
{
	unsigned char key[MASK_KEY_LEN];
	struct masker *m = NULL;
	char tok[MASK_TOKEN_LEN + 1];
	size_t i;

	(void)state;
	/* key 00 01 02 ... 1f, message "AB123456C":
	 * printf AB123456C | openssl dgst -sha256 -mac HMAC -macopt \
	 *   hexkey:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f */
	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	assert_int_equal(masker_new(&m, key), RG_OK);
	assert_int_equal(masker_token(m, "AB123456C", 9, tok), RG_OK);
	assert_string_equal(tok, "79aa7567d51e481add79dcae1f1edb2e"
	    "a631302b61f80dfd227780af3833b9c7");
	/* the context is reused: the same value gives the same token */
	assert_int_equal(masker_token(m, "AB123456C", 9, tok), RG_OK);
	assert_string_equal(tok, "79aa7567d51e481add79dcae1f1edb2e"
	    "a631302b61f80dfd227780af3833b9c7");
	/* the empty value */
	assert_int_equal(masker_token(m, "", 0, tok), RG_OK);
	assert_int_equal(strlen(tok), 64);
	masker_free(m);
	masker_free(NULL);
}

static void
test_token_rfc4231(void **state)
{
	unsigned char key[MASK_KEY_LEN];
	struct masker *m = NULL;
	char tok[MASK_TOKEN_LEN + 1];

	(void)state;
	/* RFC 4231 test case 2 uses a 4-byte key "Jefe"; HMAC pads keys
	 * with zeros to the block size, so "Jefe" + 28 zero bytes is the
	 * same key. */
	memset(key, 0, sizeof(key));
	memcpy(key, "Jefe", 4);
	assert_int_equal(masker_new(&m, key), RG_OK);
	assert_int_equal(masker_token(m, "what do ya want for nothing?", 28,
	    tok), RG_OK);
	assert_string_equal(tok, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	masker_free(m);
}

/* Random keys and values of every length 0..299 against OpenSSL's own
 * HMAC (EVP_Q_mac). */
static void
test_token_matches_openssl(void **state)
{
	unsigned char key[MASK_KEY_LEN], val[300], md[32];
	char tok[MASK_TOKEN_LEN + 1], want[MASK_TOKEN_LEN + 1];
	struct masker *m = NULL;
	size_t len, mdlen;

	(void)state;
	for (len = 0; len < sizeof(val); len++) {
		assert_int_equal(rg_random(key, sizeof(key)), RG_OK);
		assert_int_equal(rg_random(val, sizeof(val)), RG_OK);
		assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
		    key, sizeof(key), val, len, md, sizeof(md), &mdlen));
		hex_encode(want, md, sizeof(md));
		assert_int_equal(masker_new(&m, key), RG_OK);
		assert_int_equal(masker_token(m, (const char *)val, len, tok),
		    RG_OK);
		assert_string_equal(tok, want);
		masker_free(m);
	}
}

static void
test_key_file(void **state)
{
	unsigned char k1[MASK_KEY_LEN], k1b[MASK_KEY_LEN], k2[MASK_KEY_LEN];
	char path[600];
	struct stat st;
	struct diag d;

	(void)state;
	/* missing and not asked to create */
	assert_int_equal(mask_key_load(k1, tmpdir, "C-1", 0, &d), RG_ENOENT);
	snprintf(path, sizeof(path), "%s/keys/masking/C-1.key", tmpdir);
	assert_int_equal(stat(path, &st), -1);
	/* made on first use, owner-only */
	assert_int_equal(mask_key_load(k1, tmpdir, "C-1", 1, &d), RG_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, MASK_KEY_LEN);
	snprintf(path, sizeof(path), "%s/keys/masking", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* loaded again: the same key */
	assert_int_equal(mask_key_load(k1b, tmpdir, "C-1", 1, &d), RG_OK);
	assert_memory_equal(k1, k1b, MASK_KEY_LEN);
	assert_int_equal(mask_key_load(k1b, tmpdir, "C-1", 0, &d), RG_OK);
	assert_memory_equal(k1, k1b, MASK_KEY_LEN);
	/* another contract: another key */
	assert_int_equal(mask_key_load(k2, tmpdir, "C-2", 1, &d), RG_OK);
	assert_memory_not_equal(k1, k2, MASK_KEY_LEN);
	/* no temporary files left behind */
	{
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s/keys/masking' | "
		    "wc -l) -eq 2", tmpdir);
		assert_int_equal(system(cmd), 0);
	}
	/* ids that are not file names are refused */
	assert_int_equal(mask_key_load(k2, tmpdir, "../x", 1, &d), RG_EINVAL);
	assert_int_equal(mask_key_load(k2, tmpdir, "", 1, &d), RG_EINVAL);
}

static void
test_key_file_bad(void **state)
{
	unsigned char k[MASK_KEY_LEN];
	char path[600];
	struct diag d;
	FILE *f;

	(void)state;
	assert_int_equal(mask_key_load(k, tmpdir, "C-3", 1, &d), RG_OK);
	snprintf(path, sizeof(path), "%s/keys/masking/C-3.key", tmpdir);
	/* readable by others: refused */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(mask_key_load(k, tmpdir, "C-3", 1, &d), RG_EPERM);
	assert_non_null(strstr(d.msg, "0600"));
	/* truncated: refused, never silently replaced */
	assert_int_equal(chmod(path, 0600), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("short", f);
	fclose(f);
	assert_int_equal(mask_key_load(k, tmpdir, "C-3", 1, &d),
	    RG_EINTEGRITY);
}

/* Root making a key in a state dir owned by the service user gives the
 * key to that user (relgated must be able to read it). */
static void
test_key_owner(void **state)
{
	unsigned char k[MASK_KEY_LEN];
	char sd[600], path[700];
	struct stat st;
	struct diag d;

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(sd, sizeof(sd), "%s/owned-state", tmpdir);
	assert_int_equal(mkdir(sd, 0700), 0);
	assert_int_equal(chown(sd, 65534, 65534), 0);
	assert_int_equal(mask_key_load(k, sd, "C-9", 1, &d), RG_OK);
	snprintf(path, sizeof(path), "%s/keys/masking/C-9.key", sd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/keys/masking", sd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void
test_tokens_differ_per_contract(void **state)
{
	unsigned char k1[MASK_KEY_LEN], k2[MASK_KEY_LEN];
	struct masker *m1 = NULL, *m2 = NULL;
	char t1[MASK_TOKEN_LEN + 1], t2[MASK_TOKEN_LEN + 1];
	struct diag d;

	(void)state;
	assert_int_equal(mask_key_load(k1, tmpdir, "DWP-A", 1, &d), RG_OK);
	assert_int_equal(mask_key_load(k2, tmpdir, "DWP-B", 1, &d), RG_OK);
	assert_int_equal(masker_new(&m1, k1), RG_OK);
	assert_int_equal(masker_new(&m2, k2), RG_OK);
	assert_int_equal(masker_token(m1, "QQ123456C", 9, t1), RG_OK);
	assert_int_equal(masker_token(m2, "QQ123456C", 9, t2), RG_OK);
	assert_string_not_equal(t1, t2);
	masker_free(m1);
	masker_free(m2);
}

static void
test_token_speed(void **state)
{
	unsigned char key[MASK_KEY_LEN] = { 1 };
	struct masker *m = NULL;
	char tok[MASK_TOKEN_LEN + 1], v[16];
	struct timespec a, b;
	double secs;
	int i, n = 200000;

	(void)state;
	assert_int_equal(masker_new(&m, key), RG_OK);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		int len = snprintf(v, sizeof(v), "P%08d", i);
		assert_int_equal(masker_token(m, v, (size_t)len, tok), RG_OK);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	print_message("masker_token: %d tokens in %.3f s (%.0f/s)\n", n, secs,
	    n / secs);
	masker_free(m);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/rg-test-masking.XXXXXX",
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
		cmocka_unit_test(test_token_known_answer),
		cmocka_unit_test(test_token_rfc4231),
		cmocka_unit_test(test_token_matches_openssl),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_key_file_bad),
		cmocka_unit_test(test_key_owner),
		cmocka_unit_test(test_tokens_differ_per_contract),
		cmocka_unit_test(test_token_speed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
