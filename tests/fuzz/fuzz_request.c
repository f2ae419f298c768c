/*
 * libFuzzer target: the documents users upload over SFTP, request.yaml and
 * decision.yaml, parsed from memory. Every error must carry a message; a
 * parsed request names only plain file names.
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
	struct request_doc *r = NULL;
	struct decision_doc *dd = NULL;
	struct diag d;
	size_t i;

	diag_clear(&d);
	if (request_doc_parse(&r, (const char *)data, size, "request.yaml",
	    &d) == RG_OK) {
		if (r->contract == NULL || r->n_files == 0)
			abort();
		for (i = 0; i < r->n_files; i++)
			if (strchr(r->files[i], '/') != NULL ||
			    r->files[i][0] == '.')
				abort();
		request_doc_free(r);
	} else if (r != NULL || d.msg[0] == '\0')
		abort();
	diag_clear(&d);
	if (decision_doc_parse(&dd, (const char *)data, size, "decision.yaml",
	    &d) == RG_OK) {
		if (dd->decision == DECISION_REJECT && dd->reason == NULL)
			abort();
		decision_doc_free(dd);
	} else if (dd != NULL || d.msg[0] == '\0')
		abort();
	return 0;
}
