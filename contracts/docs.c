/* request.yaml and decision.yaml: the small documents users upload. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "contracts/ytree.h"

#define REQUEST_MAX_FILES	64
#define DOC_NOTE_MAX		4096

/* Free a parsed request.yaml; NULL-safe. */
void
request_doc_free(struct request_doc *r)
{
	if (r == NULL)
		return;
	free(r->contract);
	free(r->dataset);
	strlist_free(r->files, r->n_files);
	free(r->note);
	free(r);
}

/* Free a parsed decision.yaml; NULL-safe. */
void
decision_doc_free(struct decision_doc *r)
{
	if (r == NULL)
		return;
	free(r->reason);
	free(r);
}

/* A file named in request.yaml: one plain name in the request folder. */
static int
file_name_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '.' || strlen(s) > 255)
		return 0;
	if (strcmp(s, "request.yaml") == 0 || strcmp(s, "status.json") == 0 ||
	    strcmp(s, "report.txt") == 0)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] == '/' || s[i] == '\\' || (unsigned char)s[i] < 0x20 ||
		    s[i] == 0x7f)
			return 0;
	return 1;
}

static const char *const request_keys[] = {
	"contract", "dataset", "files", "note", NULL
};
static const char *const request_required[] = { "contract", "files", NULL };

static int
parse_request(struct request_doc *r, const struct ynode *root, const char *f,
    struct diag *d)
{
	const struct ynode *v;
	size_t i;
	int rc;

	if ((rc = ymap_check(root, request_keys, request_required,
	    "request", f, d)))
		return rc;
	v = ymap_get(root, "contract");
	if ((rc = yget_str(&r->contract, v, "contract", 64, f, d)))
		return rc;
	if (!name_is_safe(r->contract, 64))
		return yerr(d, RG_EPARSE, f, v, "'contract' is not a valid "
		    "contract id");
	if ((v = ymap_get(root, "dataset"))) {
		if ((rc = yget_str(&r->dataset, v, "dataset", 128, f, d)))
			return rc;
		if (!name_is_safe(r->dataset, 128))
			return yerr(d, RG_EPARSE, f, v,
			    "'dataset' is not a valid dataset name");
	}
	v = ymap_get(root, "files");
	if ((rc = yget_strlist(&r->files, &r->n_files, NULL, v, "files",
	    REQUEST_MAX_FILES, 255, 1, f, d)))
		return rc;
	if (r->n_files == 0)
		return yerr(d, RG_EPARSE, f, v, "'files' must name at least "
		    "one file");
	for (i = 0; i < r->n_files; i++)
		if (!file_name_ok(r->files[i]))
			return yerr(d, RG_EPARSE, f, v->kids[i], "'files': "
			    "'%.100s' is not a file name in this folder",
			    r->files[i]);
	if ((v = ymap_get(root, "note")) &&
	    (rc = yget_str(&r->note, v, "note", DOC_NOTE_MAX, f, d)))
		return rc;
	return RG_OK;
}

/*
 * Parse request.yaml from memory, strictly (at most REQUEST_YAML_MAX
 * bytes). name is used in diagnostics. *out is the caller's.
 */
int
request_doc_parse(struct request_doc **out, const char *data, size_t len,
    const char *name, struct diag *d)
{
	struct ynode *root = NULL;
	struct request_doc *r;
	int rc;

	*out = NULL;
	if (len > REQUEST_YAML_MAX)
		return diag_set(d, RG_ETOOBIG, name, 0, 0,
		    "request.yaml is larger than %d bytes", REQUEST_YAML_MAX);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return diag_set(d, RG_ENOMEM, name, 0, 0, "out of memory");
	if ((rc = ytree_parse(&root, data, len, name, d)) == RG_OK)
		rc = parse_request(r, root, name, d);
	ynode_free(root);
	if (rc) {
		request_doc_free(r);
		return rc;
	}
	*out = r;
	return RG_OK;
}

static const char *const decision_keys[] = { "decision", "reason", NULL };
static const char *const decision_required[] = { "decision", NULL };

/*
 * Parse decision.yaml from memory, strictly (at most REQUEST_YAML_MAX
 * bytes): `decision: approve|reject`, `reason:` (required to reject).
 */
int
decision_doc_parse(struct decision_doc **out, const char *data, size_t len,
    const char *name, struct diag *d)
{
	static const char *const kinds[] = { "approve", "reject", NULL };
	struct ynode *root = NULL;
	struct decision_doc *r;
	const struct ynode *v;
	int rc, k = 0;

	*out = NULL;
	if (len > REQUEST_YAML_MAX)
		return diag_set(d, RG_ETOOBIG, name, 0, 0,
		    "decision.yaml is larger than %d bytes", REQUEST_YAML_MAX);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return diag_set(d, RG_ENOMEM, name, 0, 0, "out of memory");
	if ((rc = ytree_parse(&root, data, len, name, d)) != RG_OK)
		goto out;
	if ((rc = ymap_check(root, decision_keys, decision_required,
	    "decision", name, d)))
		goto out;
	if ((rc = yget_enum(&k, ymap_get(root, "decision"), "decision", kinds,
	    name, d)))
		goto out;
	r->decision = k == 0 ? DECISION_APPROVE : DECISION_REJECT;
	if ((v = ymap_get(root, "reason")) &&
	    (rc = yget_str(&r->reason, v, "reason", DOC_NOTE_MAX, name, d)))
		goto out;
	if (r->decision == DECISION_REJECT && r->reason == NULL)
		rc = yerr(d, RG_EPARSE, name, root,
		    "decision: a rejection needs a 'reason'");
out:
	ynode_free(root);
	if (rc) {
		decision_doc_free(r);
		return rc;
	}
	*out = r;
	return RG_OK;
}
