/*
 * Unit tests for the SSH side: failed-login counters and bans
 * (gateway/ratelimit.c), host key creation and authorized-key matching
 * (keys/ssh_keys.c).
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
#include <unistd.h>
#include <cmocka.h>

#include <libssh/libssh.h>

#include "gateway/gateway.h"
#include "keys/keys.h"

static void
test_ban_after_limit(void **state)
{
	struct ratelimit *rl = NULL;
	time_t t = 1000000;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 8), RG_OK);
	assert_int_equal(ratelimit_failure(rl, "10.0.0.1", t, 3, 60, 600), 0);
	assert_int_equal(ratelimit_failure(rl, "10.0.0.1", t + 1, 3, 60, 600), 0);
	assert_int_equal(ratelimit_banned(rl, "10.0.0.1", t + 1), 0);
	assert_int_equal(ratelimit_failure(rl, "10.0.0.1", t + 2, 3, 60, 600), 1);
	assert_int_equal(ratelimit_banned(rl, "10.0.0.1", t + 2), 600);
	assert_int_equal(ratelimit_banned(rl, "10.0.0.2", t + 2), 0);
	/* the ban ends */
	assert_int_equal(ratelimit_banned(rl, "10.0.0.1", t + 602), 0);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

static void
test_window_slides(void **state)
{
	struct ratelimit *rl = NULL;
	time_t t = 5000;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 8), RG_OK);
	/* failures further apart than the window never add up */
	assert_int_equal(ratelimit_failure(rl, "u", t, 3, 60, 600), 0);
	assert_int_equal(ratelimit_failure(rl, "u", t + 61, 3, 60, 600), 0);
	assert_int_equal(ratelimit_failure(rl, "u", t + 122, 3, 60, 600), 0);
	assert_int_equal(ratelimit_banned(rl, "u", t + 122), 0);
	/* limit <= 0 turns counting off */
	assert_int_equal(ratelimit_failure(rl, "v", t, 0, 60, 600), 0);
	ratelimit_free(rl);
}

static void
test_table_full_keeps_bans(void **state)
{
	struct ratelimit *rl = NULL;
	char key[32];
	int i;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 4), RG_OK);
	assert_int_equal(ratelimit_failure(rl, "bad", 100, 1, 60, 600), 1);
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		(void)ratelimit_failure(rl, key, 100 + i, 5, 60, 600);
	}
	/* a flood of new keys does not evict a banned one */
	assert_true(ratelimit_banned(rl, "bad", 200) > 0);
	ratelimit_free(rl);
}

struct tmp {
	char	dir[64];
};

static int
setup_tmp(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	strcpy(t->dir, "/tmp/test_ssh.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	*state = t;
	return 0;
}

static int
teardown_tmp(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static void
test_hostkeys_made_once_owner_only(void **state)
{
	struct tmp *t = *state;
	char ed[512], ec[512], ed2[512], ec2[512], *a = NULL, *b = NULL;
	size_t la, lb;
	struct stat st;
	struct diag d;

	assert_int_equal(ssh_hostkeys_ensure(t->dir, ed, ec, sizeof(ed), &d),
	    RG_OK);
	assert_int_equal(stat(ed, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(ec, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(file_read_small(&a, &la, ed, 65536, &d), RG_OK);
	assert_non_null(strstr(a, "BEGIN OPENSSH " "PRIVATE KEY"));
	/* a second start keeps the keys */
	assert_int_equal(ssh_hostkeys_ensure(t->dir, ed2, ec2, sizeof(ed2),
	    &d), RG_OK);
	assert_int_equal(file_read_small(&b, &lb, ed2, 65536, &d), RG_OK);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
}

static void
test_authorized_match(void **state)
{
	struct tmp *t = *state;
	char path[512], line_a[1024], line_b[1024], bad[1100];
	char *lines[3];
	ssh_key pub_a = NULL;
	struct diag d;

	snprintf(path, sizeof(path), "%s/a", t->dir);
	assert_int_equal(ssh_userkey_generate(path, "a@test", line_a,
	    sizeof(line_a), &d), RG_OK);
	assert_int_equal(ssh_pki_import_pubkey_file(
	    strcat(path, ".pub"), &pub_a), SSH_OK);
	snprintf(path, sizeof(path), "%s/b", t->dir);
	assert_int_equal(ssh_userkey_generate(path, "b@test", line_b,
	    sizeof(line_b), &d), RG_OK);
	assert_int_equal(ssh_authorized_line_check(line_a, &d), RG_OK);

	lines[0] = line_b;
	assert_int_equal(ssh_key_authorized(pub_a, lines, 1), 0);
	lines[1] = line_a;
	assert_int_equal(ssh_key_authorized(pub_a, lines, 2), 1);

	/* options before the key never match (and are reported) */
	snprintf(bad, sizeof(bad), "from=\"10.0.0.1\" %s", line_a);
	lines[0] = bad;
	assert_int_equal(ssh_key_authorized(pub_a, lines, 1), 0);
	assert_int_equal(ssh_authorized_line_check(bad, &d), RG_EPARSE);
	/* the type named must be the type of the blob */
	snprintf(bad, sizeof(bad), "ecdsa-sha2-nistp256 %s",
	    strchr(line_a, ' ') + 1);
	lines[0] = bad;
	assert_int_equal(ssh_key_authorized(pub_a, lines, 1), 0);
	assert_int_equal(ssh_authorized_line_check(bad, &d), RG_EPARSE);
	/* garbage */
	assert_int_equal(ssh_authorized_line_check("ssh-ed25519 !!!", &d),
	    RG_EPARSE);
	assert_int_equal(ssh_authorized_line_check("", &d), RG_EPARSE);
	lines[0] = NULL;
	assert_int_equal(ssh_key_authorized(pub_a, lines, 1), 0);
	assert_int_equal(ssh_key_authorized(NULL, lines, 1), 0);
	ssh_key_free(pub_a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ban_after_limit),
		cmocka_unit_test(test_window_slides),
		cmocka_unit_test(test_table_full_keeps_bans),
		cmocka_unit_test_setup_teardown(
		    test_hostkeys_made_once_owner_only, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test_setup_teardown(test_authorized_match,
		    setup_tmp, teardown_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
