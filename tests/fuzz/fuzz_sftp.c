/*
 * libFuzzer target for the SFTP v3 layer: the input is the byte stream a
 * client sends on the channel. The first byte picks the role (and whether
 * an INIT is sent first) and how the stream is cut into sftp_server_input()
 * calls; the rest goes to the server against a temporary state directory
 * that is emptied again after each input. Replayed by tests/fuzz/
 * replay_main.c in every build.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contracts/contracts.h"
#include "gateway/sftp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char state[64];
static struct config_dir cfg;
static struct contract c1;
static struct contract *cs[1];
static char *people[] = { "fuzz-user" };

static void
mk(const char *rel, const char *content)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", state, rel);
	if (content == NULL) {
		(void)dir_make(p, 0700);
		return;
	}
	if ((f = fopen(p, "w")) != NULL) {
		fputs(content, f);
		fclose(f);
	}
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		(void)remove(path);
	return 0;
}

static void
clean(const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", state, rel);
	(void)nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
remove_state(void)
{
	clean("");
	(void)rmdir(state);
}

static void
once(void)
{
	char p[128];

	if (state[0] != '\0')
		return;
	snprintf(state, sizeof(state), "/tmp/rg-fuzz-sftp-XXXXXX");
	if (mkdtemp(state) == NULL)
		abort();
	atexit(remove_state);
	mk("requests", NULL);
	mk("requests/R-1", NULL);
	mk("requests/R-1/meta.json", "{\"submitter\": \"other\", "
	    "\"contract\": \"F-1\"}");
	mk("requests/R-1/report.txt", "report\n");
	mk("releases/F-1", NULL);
	mk("releases/F-1/F-1-001.tar.zst.gpg", "0123456789");
	mk("releases/gateway.asc", "key\n");
	mk("audit-export", NULL);
	mk("audit-export/2026-01-01.jsonl", "{}\n");
	mk("queue", NULL);
	snprintf(p, sizeof(p), "%s/releases/F-1/link", state);
	if (symlink("/etc/passwd", p) == -1 && errno != EEXIST)
		abort();	/* the corpus expects the link */
	c1.id = "F-1";
	c1.people = people;
	c1.n_people = 1;
	c1.approvers = people;
	c1.n_approvers = 1;
	cs[0] = &c1;
	cfg.contracts = cs;
	cfg.n_contracts = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned roles[] = {
		ROLE_STAFF, ROLE_STAFF | ROLE_APPROVER, ROLE_APPROVER,
		ROLE_CONTRACTOR, ROLE_OFFICER,
	};
	static const uint8_t init[] = { 0, 0, 0, 5, 1, 0, 0, 0, 3 };
	struct sftp_session_info info;
	struct sftp_server *s = NULL;
	struct buf out;
	size_t chunk, off = 0, n;
	uint8_t mode;

	once();
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	memset(&info, 0, sizeof(info));
	info.user = "fuzz-user";
	info.roles = roles[(mode & 7) % 5];
	info.source = "fuzz";
	info.state_dir = state;
	info.config = &cfg;
	if (sftp_server_new(&s, &info, NULL) != 0)
		return 0;
	buf_init(&out, 64u << 20);
	if ((mode & 0x80) == 0 &&
	    sftp_server_input(s, init, sizeof(init), &out) != 0)
		goto done;
	/* 1, 7, 64 bytes at a time, or everything at once */
	chunk = (mode >> 4 & 3) == 0 ? 1 : (mode >> 4 & 3) == 1 ? 7 :
	    (mode >> 4 & 3) == 2 ? 64 : size;
	while (off < size) {
		n = size - off < chunk ? size - off : chunk;
		if (sftp_server_input(s, data + off, n, &out) != 0)
			break;
		off += n;
		buf_reset(&out);
	}
done:
	sftp_server_free(s);
	buf_free(&out);
	clean("spool");
	clean("queue");
	clean("requests/R-1/decisions");
	return 0;
}
