/*
 * Unit tests of release packaging: the staged tar+zstd and the head frame
 * (release/package.c) read back with libarchive as one .tar.zst, and
 * signing+encryption with GPGME (keys/pgp_encrypt.c) decrypted and verified
 * by the gpg command, all with a temporary GnuPG home.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "release/internal.h"
#include "keys/keys.h"

static char tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rg-package.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[1024];

	(void)state;
	snprintf(cmd, sizeof(cmd), "for h in '%s'/state/gnupg '%s'/rcpt; do "
	    "[ -d \"$h\" ] && gpgconf --homedir \"$h\" --kill all; done; "
	    "rm -rf '%s'", tmpdir, tmpdir, tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Write head + stage into one file and return its path in out. */
static void
make_package(char *out, size_t len, const char *data, size_t dlen)
{
	char stage[512];
	struct package_file pf[2] = {
		{ "REL-001/manifest.json", "{\"release\": \"REL-001\"}\n", 23 },
		{ "REL-001/SHA256SUMS", "x  data/a.csv\n", 14 },
	};
	struct stage *s = NULL;
	struct buf head;
	struct diag d;
	FILE *f, *in;
	char blk[4096];
	size_t n;

	snprintf(stage, sizeof(stage), "%s/stage.tar.zst", tmpdir);
	assert_int_equal(stage_open(&s, stage, 1, &d), RG_OK);
	assert_int_equal(stage_entry_begin(s, "REL-001/data/a.csv",
	    (int64_t)dlen, 0, &d), RG_OK);
	/* in pieces, as the check pass writes it */
	assert_int_equal(stage_entry_write(s, data, dlen / 2, &d), RG_OK);
	assert_int_equal(stage_entry_write(s, data + dlen / 2,
	    dlen - dlen / 2, &d), RG_OK);
	assert_int_equal(stage_entry_end(s, &d), RG_OK);
	assert_int_equal(stage_close(s, &d), RG_OK);
	buf_init(&head, PACKAGE_HEAD_MAX);
	assert_int_equal(package_head(&head, pf, 2, 0, &d), RG_OK);
	snprintf(out, len, "%s/p.tar.zst", tmpdir);
	assert_non_null(f = fopen(out, "wb"));
	assert_int_equal(fwrite(head.data, 1, head.len, f), head.len);
	assert_non_null(in = fopen(stage, "rb"));
	while ((n = fread(blk, 1, sizeof(blk), in)) > 0)
		assert_int_equal(fwrite(blk, 1, n, f), n);
	fclose(in);
	fclose(f);
	buf_free(&head);
}

static void
test_head_and_stage_are_one_tar_zst(void **state)
{
	static const char *const want[] = { "REL-001/manifest.json",
	    "REL-001/SHA256SUMS", "REL-001/data/a.csv" };
	struct archive *a;
	struct archive_entry *e;
	char path[512], got[200000];
	char *data;
	size_t dlen = 150000, i, k = 0;
	la_ssize_t r;

	(void)state;
	assert_non_null(data = malloc(dlen));
	for (i = 0; i < dlen; i++)
		data[i] = (char)('a' + (i * 7) % 26);
	make_package(path, sizeof(path), data, dlen);
	/* libarchive reads concatenated zstd frames as one stream */
	assert_non_null(a = archive_read_new());
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, path, 65536),
	    ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		assert_true(k < 3);
		assert_string_equal(archive_entry_pathname(e), want[k]);
		if (k == 2) {
			size_t off = 0;

			assert_int_equal(archive_entry_size(e), (int64_t)dlen);
			while ((r = archive_read_data(a, got + off,
			    sizeof(got) - off)) > 0)
				off += (size_t)r;
			assert_int_equal(off, dlen);
			assert_memory_equal(got, data, dlen);
		}
		k++;
	}
	assert_int_equal(k, 3);
	archive_read_free(a);
	free(data);
}

static void
test_stage_abort_leaves_nothing(void **state)
{
	char stage[512];
	struct stage *s = NULL;
	struct diag d;

	(void)state;
	snprintf(stage, sizeof(stage), "%s/stage.tmp", tmpdir);
	assert_int_equal(stage_open(&s, stage, 0, &d), RG_OK);
	assert_int_equal(stage_entry_begin(s, "x/data/a.csv", 10, 0, &d),
	    RG_OK);
	assert_int_equal(stage_entry_write(s, "0123", 4, &d), RG_OK);
	stage_abort(s);
	assert_int_not_equal(access(stage, F_OK), 0);
}

struct src {
	FILE	*f;
};

static long
rd(void *arg, void *buf, size_t len)
{
	struct src *s = arg;
	size_t n = fread(buf, 1, len, s->f);

	return ferror(s->f) ? -1 : (long)n;
}

static long
wr(void *arg, const void *buf, size_t len)
{
	return fwrite(buf, 1, len, arg) == len ? (long)len : -1;
}

static void
test_sign_encrypt_decrypts_with_gpg(void **state)
{
	char cmd[4096], pkg[512], out[512], fpr[64], pgp[512], path[512];
	char *recips[1] = { fpr };
	struct src s;
	struct diag d;
	FILE *f, *o;
	size_t n;

	(void)state;
	make_package(path, sizeof(path), "hello,world\n1,2\n", 16);
	snprintf(pgp, sizeof(pgp), "%s/pgp", tmpdir);
	/* a recipient made at run time in its own GnuPG home */
	snprintf(cmd, sizeof(cmd), "mkdir -p -m 700 '%s/rcpt' '%s' '%s/state'"
	    " && export GNUPGHOME='%s/rcpt' && gpg --batch -q --pinentry-mode"
	    " loopback --passphrase '' --quick-gen-key 'R <r@example>' "
	    "future-default default 1d 2>/dev/null && gpg --batch --armor "
	    "--export > '%s/r.asc' && gpg --batch --with-colons --list-keys "
	    "| awk -F: '$1==\"fpr\"{print $10; exit}' > '%s/fpr'", tmpdir,
	    pgp, tmpdir, tmpdir, pgp, tmpdir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/fpr", tmpdir);
	assert_non_null(f = fopen(cmd, "r"));
	assert_non_null(fgets(fpr, sizeof(fpr), f));
	fclose(f);
	fpr[strcspn(fpr, "\n")] = '\0';
	assert_int_equal(strlen(fpr), 40);

	snprintf(pkg, sizeof(pkg), "%s/p.gpg", tmpdir);
	snprintf(out, sizeof(out), "%s/state", tmpdir);
	assert_non_null(s.f = fopen(path, "rb"));
	assert_non_null(o = fopen(pkg, "wb"));
	assert_int_equal(pgp_encrypt_sign(out, pgp, recips, 1, rd, &s, wr, o,
	    &d), RG_OK);
	fclose(s.f);
	fclose(o);
	/* an unknown recipient is refused */
	{
		char bad[] = "0123456789ABCDEF0123456789ABCDEF01234567";
		char *br[1] = { bad };

		assert_non_null(s.f = fopen(path, "rb"));
		assert_non_null(o = fopen("/dev/null", "wb"));
		assert_int_equal(pgp_encrypt_sign(out, pgp, br, 1, rd, &s, wr,
		    o, &d), RG_ENOENT);
		fclose(s.f);
		fclose(o);
	}
	/* gpg decrypts, the signature is good (gateway key), the plaintext
	 * is the package, and there is no OpenPGP compression packet */
	n = (size_t)snprintf(cmd, sizeof(cmd), "export GNUPGHOME='%s/rcpt' && "
	    "gpg --batch -q --homedir '%s/state/gnupg' --armor --export | "
	    "gpg --batch -q --import 2>/dev/null && "
	    "gpg --batch --status-fd 1 -o '%s/dec' -d '%s' 2>/dev/null | "
	    "grep -q GOODSIG && cmp '%s/dec' '%s' && "
	    "! gpg --batch --list-packets '%s' 2>/dev/null | "
	    "grep -q 'compressed packet'", tmpdir, tmpdir, tmpdir, pkg, tmpdir,
	    path, pkg);
	assert_true(n < sizeof(cmd));
	assert_int_equal(system(cmd), 0);

	/* the worker's form: a head from memory, then a file (spliced into
	 * gpg); the plaintext is the two one after the other */
	{
		static const char head[] = "HEAD-FRAME\n";
		char both[512];
		int fd;

		snprintf(both, sizeof(both), "%s/both", tmpdir);
		assert_non_null(f = fopen(both, "wb"));
		assert_int_equal(fwrite(head, 1, sizeof(head) - 1, f),
		    sizeof(head) - 1);
		assert_non_null(s.f = fopen(path, "rb"));
		while ((n = fread(cmd, 1, sizeof(cmd), s.f)) > 0)
			assert_int_equal(fwrite(cmd, 1, n, f), n);
		fclose(s.f);
		fclose(f);
		assert_true((fd = open(path, O_RDONLY)) >= 0);
		assert_non_null(o = fopen(pkg, "wb"));
		assert_int_equal(pgp_encrypt_sign_fd(out, pgp, recips, 1, head,
		    sizeof(head) - 1, fd, wr, o, &d), RG_OK);
		fclose(o);
		close(fd);
		n = (size_t)snprintf(cmd, sizeof(cmd), "export GNUPGHOME="
		    "'%s/rcpt' && gpg --batch --status-fd 1 -o '%s/dec2' -d "
		    "'%s' 2>/dev/null | grep -q GOODSIG && cmp '%s/dec2' '%s'",
		    tmpdir, tmpdir, pkg, tmpdir, both);
		assert_true(n < sizeof(cmd));
		assert_int_equal(system(cmd), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_head_and_stage_are_one_tar_zst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_abort_leaves_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sign_encrypt_decrypts_with_gpg, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
