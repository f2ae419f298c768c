/*
 * libFuzzer target: a contract YAML document from memory (contract_parse).
 * Every error must carry a message; a contract that loads must answer its
 * lookups without crashing.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct contract *c = NULL;
	struct diag d;
	char why[128];
	size_t i, j;
	int rc;

	diag_clear(&d);
	rc = contract_parse(&c, (const char *)data, size, "fuzz.yaml", &d);
	if (rc != RG_OK) {
		if (c != NULL || d.msg[0] == '\0' ||
		    strcmp(d.file, "fuzz.yaml") != 0)
			abort();
		return 0;
	}
	(void)contract_dataset(c, NULL);
	(void)contract_is_active(c, 20000, why, sizeof(why));
	for (i = 0; i < c->n_datasets; i++) {
		const struct dataset *ds = &c->datasets[i];

		if (contract_dataset(c, ds->name) != ds)
			abort();
		for (j = 0; j < ds->n_columns; j++)
			if (dataset_column(ds, ds->columns[j].name) == NULL)
				abort();
		if (ds->one_row_per && !dataset_column(ds, ds->one_row_per))
			abort();
	}
	for (i = 0; i < c->n_recipients; i++)
		if (strlen(c->recipients[i]) != 40)
			abort();
	contract_free(c);
	return 0;
}
