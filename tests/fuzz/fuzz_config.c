/*
 * libFuzzer target: the operator-written files that are loaded from disk,
 * users/NAME.yaml and relgate.yaml. The first input byte chooses which;
 * the rest is written to a private temporary folder and loaded the way
 * relgated loads it. Every refusal must carry a message; an accepted user
 * must name at least one role and SSH key.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contracts/contracts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

static int
write_input(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	if (size > 0 && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	struct diag d;
	int rc;

	if (size < 1)
		return 0;
	if (fuzz_dir[0] == '\0') {
		rg_strlcpy(fuzz_dir, "/tmp/rgfuzzXXXXXX", sizeof(fuzz_dir));
		if (mkdtemp(fuzz_dir) == NULL)
			abort();
	}
	diag_clear(&d);
	if (data[0] & 1) {
		struct user *u = NULL;

		snprintf(path, sizeof(path), "%s/fuzz-user.yaml", fuzz_dir);
		if (write_input(path, data + 1, size - 1) != 0)
			abort();
		rc = user_load(&u, path, &d);
		if (rc == RG_OK) {
			if (u == NULL || u->roles == 0 || u->name == NULL)
				abort();
			user_free(u);
		} else if (u != NULL || d.msg[0] == '\0')
			abort();
	} else {
		struct gateway_config cfg;

		snprintf(path, sizeof(path), "%s/relgate.yaml", fuzz_dir);
		if (write_input(path, data + 1, size - 1) != 0)
			abort();
		gateway_config_defaults(&cfg);
		rc = gateway_config_load(&cfg, path, &d);
		if (rc == RG_OK) {
			if (cfg.port < 1 || cfg.port > 65535 ||
			    cfg.max_sessions < 1)
				abort();
		} else if (d.msg[0] == '\0')
			abort();
	}
	unlink(path);
	return 0;
}
