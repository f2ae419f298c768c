/*
 * Replays a fuzz target's seed corpus without libFuzzer, so every build
 * (gcc, sanitizers) runs the corpora in `make check`. FUZZ_CORPUS_DIR is
 * set per target by the Makefile.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : FUZZ_CORPUS_DIR;
	struct dirent *de;
	DIR *dp;
	int n = 0;

	if ((dp = opendir(dir)) == NULL) {
		perror(dir);
		return 1;
	}
	while ((de = readdir(dp)) != NULL) {
		char path[4096], *data = NULL;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (file_read_small(&data, &len, path, 16 << 20, NULL) != 0)
			continue;
		LLVMFuzzerTestOneInput((const uint8_t *)data, len);
		free(data);
		n++;
	}
	closedir(dp);
	printf("replayed %d inputs from %s\n", n, dir);
	return n > 0 ? 0 : 1;
}
