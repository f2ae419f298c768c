/*
 * Unit tests for contracts/: strict loading of relgate.yaml, users,
 * contracts, request.yaml and decision.yaml, and the cross-checks of a
 * whole configuration directory against users and OpenPGP keys (made at
 * run time with gpg in a temporary GNUPGHOME).
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

#include <glob.h>

#include <libssh/libssh.h>
#include <openssl/evp.h>

#include "common/common.h"
#include "contracts/contracts.h"
#include "keys/keys.h"

static char tmpdir[256];

/* ---- helpers ------------------------------------------------------- */

static void
put(const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
rm(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	unlink(path);
}

static const char *
p(const char *rel)
{
	static char path[1024];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

static int
run(const char *cmd)
{
	int rc = system(cmd);
	return rc;
}

/* Generate a key pair with gpg in home and export its public part to
 * asc; returns the primary fingerprint in fpr[41]. faketime may be NULL. */
static void
make_pgp_key(const char *home, const char *uid, const char *algo,
    const char *usage, const char *expire, const char *faketime,
    const char *asc, char fpr[41])
{
	char cmd[2048], ft[128] = "";
	FILE *f;

	if (faketime)
		snprintf(ft, sizeof(ft), "--faked-system-time '%s!'", faketime);
	snprintf(cmd, sizeof(cmd), "GNUPGHOME='%s' gpg --batch --quiet "
	    "--pinentry-mode loopback --passphrase '' %s --quick-gen-key "
	    "'%s' %s %s %s >/dev/null 2>&1", home, ft, uid, algo, usage,
	    expire);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "GNUPGHOME='%s' gpg --batch "
	    "--with-colons --list-keys '=%s' 2>/dev/null | awk -F: "
	    "'$1 == \"fpr\" { print $10; exit }'", home, uid);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(fpr, 41, f));
	pclose(f);
	assert_int_equal(strlen(fpr), 40);
	snprintf(cmd, sizeof(cmd), "GNUPGHOME='%s' gpg --batch --armor "
	    "--export %s > '%s' 2>/dev/null", home, fpr, asc);
	assert_int_equal(run(cmd), 0);
}

static const char good_contract[] =
"id: DWP-2026-0042              # unique; also the release folder name\n"
"version: 3\n"
"title: Benefit uptake evaluation\n"
"purpose: Evaluate take-up of Pension Credit among eligible households.\n"
"status: active\n"
"valid_from: 2026-01-01\n"
"valid_until: 2027-03-31\n"
"contractor:\n"
"  organisation: acme-research\n"
"  assurance: {scheme: ISO27001, ref: \"CERT-123\", expires: 2027-06-30}\n"
"people: [acme-ana, acme-raj]\n"
"approvers: [iam-jo, iam-sam]\n"
"approvals_required: 1\n"
"recipients:\n"
"  - 0123456789ABCDEF0123456789ABCDEF01234567\n"
"retention: {download_days: 14, max_downloads: 3}\n"
"datasets:\n"
"  benefit_claims:\n"
"    max_rows: 50000\n"
"    max_rows_total: 200000\n"
"    max_releases: 12\n"
"    one_row_per: person_id\n"
"    columns:\n"
"      person_id:   {masking: hmac-sha256}\n"
"      age_band:    {allowed: [\"16-24\",\"25-34\",\"35-44\",\"45-54\","
"\"55-64\",\"65+\"]}\n"
"      sex:         {allowed: [F, M]}\n"
"      region:      {}\n"
"      postcode_district: {granularity: postcode-district}\n"
"      award_amount: {type: integer, min: 0, max: 100000, rounding: 5}\n"
"      claim_start: {type: year-month}\n"
"      weeks_on_benefit: {type: integer, min: 0}\n"
"    quasi_identifiers: [age_band, sex, region]\n"
"    k_anonymity: 10\n"
"  uptake_tables:\n"
"    kind: table\n"
"    columns:\n"
"      region: {}\n"
"      year: {type: integer}\n"
"      claimants: {type: integer, count: true}\n"
"    min_cell_count: 10\n"
"    rounding: 5\n";

/* The good contract with line `from` (a substring) replaced by `to`. */
static char *
variant(const char *from, const char *to)
{
	const char *at = strstr(good_contract, from);
	size_t n;
	char *s;

	assert_non_null(at);
	n = strlen(good_contract) - strlen(from) + strlen(to) + 1;
	s = malloc(n);
	assert_non_null(s);
	memcpy(s, good_contract, (size_t)(at - good_contract));
	strcpy(s + (at - good_contract), to);
	strcat(s, at + strlen(from));
	return s;
}

/* Parse a contract variant; expect failure at line:col with msg part. */
static void
expect_contract_error(const char *from, const char *to, unsigned long line,
    unsigned long col, const char *msgpart)
{
	struct contract *c = NULL;
	struct diag d;
	char *text = variant(from, to);
	int rc;

	diag_clear(&d);
	rc = contract_parse(&c, text, strlen(text), "c.yaml", &d);
	free(text);
	assert_true(rc < 0);
	assert_null(c);
	assert_string_equal(d.file, "c.yaml");
	if (strstr(d.msg, msgpart) == NULL || d.line != line ||
	    d.column != col)
		fail_msg("got %lu:%lu: %s; want %lu:%lu: ...%s...", d.line,
		    d.column, d.msg, line, col, msgpart);
}

/* ---- contracts ----------------------------------------------------- */

static void
test_contract_good(void **state)
{
	const struct dataset *ds;
	const struct column_rule *r;
	struct contract *c = NULL;
	struct diag d;
	long day;

	(void)state;
	assert_int_equal(contract_parse(&c, good_contract,
	    strlen(good_contract), "DWP-2026-0042.yaml", &d), RG_OK);
	assert_string_equal(c->id, "DWP-2026-0042");
	assert_int_equal(c->id_pos.line, 1);
	assert_int_equal(c->id_pos.col, 5);
	assert_int_equal(c->version, 3);
	assert_string_equal(c->title, "Benefit uptake evaluation");
	assert_int_equal(c->status, CONTRACT_ACTIVE);
	assert_int_equal(date_parse("2026-01-01", &day), RG_OK);
	assert_int_equal(c->valid_from, day);
	assert_int_equal(date_parse("2027-06-30", &day), RG_OK);
	assert_int_equal(c->assurance_expires, day);
	assert_string_equal(c->organisation, "acme-research");
	assert_string_equal(c->assurance_scheme, "ISO27001");
	assert_string_equal(c->assurance_ref, "CERT-123");
	assert_int_equal(c->n_people, 2);
	assert_string_equal(c->people[1], "acme-raj");
	assert_int_equal(c->people_pos[1].line, 11);
	assert_int_equal(c->people_pos[1].col, 20);
	assert_int_equal(c->n_approvers, 2);
	assert_int_equal(c->approvals_required, 1);
	assert_int_equal(c->n_recipients, 1);
	assert_string_equal(c->recipients[0],
	    "0123456789ABCDEF0123456789ABCDEF01234567");
	assert_int_equal(c->recipients_pos[0].line, 15);
	assert_int_equal(c->download_days, 14);
	assert_int_equal(c->max_downloads, 3);
	assert_int_equal(c->n_datasets, 2);
	assert_null(contract_dataset(c, NULL));	/* two datasets */
	ds = contract_dataset(c, "benefit_claims");
	assert_non_null(ds);
	assert_false(ds->is_table);
	assert_int_equal(ds->max_rows, 50000);
	assert_int_equal(ds->max_rows_total, 200000);
	assert_int_equal(ds->max_releases, 12);
	assert_string_equal(ds->one_row_per, "person_id");
	assert_int_equal(ds->n_columns, 8);
	assert_int_equal(ds->n_quasi_identifiers, 3);
	assert_int_equal(ds->k_anonymity, 10);
	r = dataset_column(ds, "person_id");
	assert_int_equal(r->masking, MASKING_HMAC_SHA256);
	assert_int_equal(r->masking_mode, MASKING_MODE_VERIFY);
	r = dataset_column(ds, "age_band");
	assert_int_equal(r->n_allowed, 6);
	assert_string_equal(r->allowed[5], "65+");
	r = dataset_column(ds, "award_amount");
	assert_int_equal(r->type, COLTYPE_INTEGER);
	assert_true(r->has_min && r->has_max);
	assert_true(r->min == 0 && r->max == 100000);
	assert_int_equal(r->rounding, 5);
	assert_int_equal(dataset_column(ds, "postcode_district")->granularity,
	    GRAN_POSTCODE_DISTRICT);
	assert_int_equal(dataset_column(ds, "claim_start")->type,
	    COLTYPE_YEAR_MONTH);
	assert_int_equal(dataset_column(ds, "region")->type, COLTYPE_ANY);
	assert_null(dataset_column(ds, "nino"));
	ds = contract_dataset(c, "uptake_tables");
	assert_true(ds->is_table);
	assert_int_equal(ds->max_rows, -1);
	assert_int_equal(ds->min_cell_count, 10);
	assert_int_equal(ds->rounding, 5);
	assert_true(dataset_column(ds, "claimants")->count);
	assert_false(ds->dominance.set);
	contract_free(c);
	contract_free(NULL);
}

static void
test_contract_active(void **state)
{
	struct contract *c = NULL;
	char why[128];
	long day;
	char *text;

	(void)state;
	assert_int_equal(contract_parse(&c, good_contract,
	    strlen(good_contract), "c.yaml", NULL), RG_OK);
	date_parse("2026-06-01", &day);
	assert_true(contract_is_active(c, day, why, sizeof(why)));
	date_parse("2027-04-01", &day);
	assert_false(contract_is_active(c, day, why, sizeof(why)));
	assert_non_null(strstr(why, "valid_until"));
	contract_free(c);
	/* assurance expires before the contract ends */
	text = variant("expires: 2027-06-30", "expires: 2026-05-31");
	assert_int_equal(contract_parse(&c, text, strlen(text), "c.yaml",
	    NULL), RG_OK);
	free(text);
	date_parse("2026-06-01", &day);
	assert_false(contract_is_active(c, day, why, sizeof(why)));
	assert_non_null(strstr(why, "assurance"));
	contract_free(c);
	text = variant("status: active", "status: suspended");
	assert_int_equal(contract_parse(&c, text, strlen(text), "c.yaml",
	    NULL), RG_OK);
	free(text);
	assert_false(contract_is_active(c, day, why, sizeof(why)));
	assert_non_null(strstr(why, "suspended"));
	contract_free(c);
}

static void
test_contract_malformed(void **state)
{
	(void)state;
	/* an unclosed flow sequence: libyaml stops at the next line */
	expect_contract_error("people: [acme-ana, acme-raj]",
	    "people: [acme-ana, acme-raj", 12, 10, "YAML syntax error");
	expect_contract_error("title: Benefit", "title: [Benefit", 4, 8,
	    "YAML syntax error");
}

static void
test_contract_unknown_key(void **state)
{
	(void)state;
	expect_contract_error("version: 3\n", "version: 3\ncolour: red\n", 3,
	    1, "unknown key 'colour'");
	expect_contract_error("      region:      {}\n",
	    "      region:      {typ: string}\n", 27, 21,
	    "unknown key 'typ'");
	expect_contract_error("    max_releases: 12\n",
	    "    max_releases: 12\n    max_rowz: 3\n", 22, 5,
	    "unknown key 'max_rowz'");
}

static void
test_contract_wrong_type(void **state)
{
	(void)state;
	expect_contract_error("version: 3", "version: three", 2, 10,
	    "'version' must be a whole number");
	expect_contract_error("version: 3", "version: \"3\"", 2, 10,
	    "'version' must be a whole number");
	expect_contract_error("people: [acme-ana, acme-raj]",
	    "people: acme-ana", 11, 9, "'people' must be a list");
	expect_contract_error("title: Benefit uptake evaluation",
	    "title: [a, b]", 3, 8, "'title' must be text");
	expect_contract_error("{type: integer, min: 0}",
	    "{type: integer, min: zero}", 31, 46, "'min' must be a number");
	expect_contract_error("status: active", "status: live", 5, 9,
	    "'status' must be one of draft, active, suspended, expired");
	expect_contract_error("approvals_required: 1",
	    "approvals_required: 3", 13, 21, "between 1 and 2");
	expect_contract_error("  - 0123456789ABCDEF0123456789ABCDEF01234567",
	    "  - 0123456789ABCDEF", 15, 5, "40-digit hex");
}

static void
test_contract_missing(void **state)
{
	(void)state;
	expect_contract_error("title: Benefit uptake evaluation\n", "", 1,
	    1, "missing required key 'title'");
	expect_contract_error("    max_rows: 50000\n", "", 19, 5,
	    "missing required key 'max_rows'");
	expect_contract_error("    min_cell_count: 10\n", "", 35, 5,
	    "missing required key 'min_cell_count'");
}

static void
test_contract_bad_date(void **state)
{
	(void)state;
	expect_contract_error("valid_from: 2026-01-01",
	    "valid_from: 2026-02-30", 6, 13, "not a valid date");
	expect_contract_error("valid_from: 2026-01-01",
	    "valid_from: 01/01/2026", 6, 13, "not a valid date");
	expect_contract_error("valid_until: 2027-03-31",
	    "valid_until: 2025-03-31", 7, 14, "before 'valid_from'");
	expect_contract_error("expires: 2027-06-30", "expires: 2027-13-01",
	    10, 59, "'expires' is not a valid date");
}

static void
test_contract_duplicate(void **state)
{
	(void)state;
	expect_contract_error("version: 3\n", "version: 3\nversion: 4\n", 3,
	    1, "duplicate key 'version'");
	expect_contract_error("      sex:         {allowed: [F, M]}\n",
	    "      sex:         {allowed: [F, M]}\n      sex: {}\n", 27, 7,
	    "duplicate key 'sex'");
	expect_contract_error("{allowed: [F, M]}", "{allowed: [F, M, F]}",
	    26, 37, "lists 'F' twice");
}

static void
test_contract_rules(void **state)
{
	(void)state;
	/* references to columns must resolve */
	expect_contract_error("one_row_per: person_id", "one_row_per: nino",
	    22, 18, "not a column of dataset 'benefit_claims'");
	expect_contract_error("quasi_identifiers: [age_band, sex, region]",
	    "quasi_identifiers: [age_band, sex, town]", 32, 40,
	    "not a column");
	expect_contract_error("    k_anonymity: 10\n", "", 32, 5,
	    "'quasi_identifiers' needs 'k_anonymity'");
	/* table-only keys on a record dataset and the other way round */
	expect_contract_error("    k_anonymity: 10\n",
	    "    k_anonymity: 10\n    min_cell_count: 5\n", 34, 5,
	    "only for datasets of kind: table");
	expect_contract_error("    rounding: 5\n",
	    "    rounding: 5\n    k_anonymity: 3\n", 42, 5,
	    "only for record-level datasets");
	expect_contract_error("claimants: {type: integer, count: true}",
	    "claimants: {type: integer}", 37, 7, "count: true");
	expect_contract_error("weeks_on_benefit: {type: integer, min: 0}",
	    "weeks_on_benefit: {type: integer, min: 0, count: true}", 31,
	    56, "only for datasets of kind: table");
	/* pattern must compile */
	expect_contract_error("      region:      {}",
	    "      region:      {pattern: \"([A-Z]\"}", 27, 30,
	    "not a valid regular expression");
	expect_contract_error("{type: year-month}", "{type: timestamp}", 30,
	    27, "'type' must be one of");
	expect_contract_error("{type: year-month}",
	    "{type: year-month, min: 1}", 30, 44, "'min' needs type");
	/* an id must be usable as a folder name */
	expect_contract_error("id: DWP-2026-0042", "id: ../etc", 1, 5,
	    "'id' must be letters");
	/* dominance */
	expect_contract_error("    rounding: 5\n", "    rounding: 5\n"
	    "    dominance: {total: claimants, top: top, percent: 50}\n", 42,
	    40, "'top' names 'top'");
	expect_contract_error("    rounding: 5\n", "    rounding: 5\n"
	    "    dominance: {total: claimants, top: year, percent: 150}\n",
	    42, 55, "'percent' must be");
	expect_contract_error("    rounding: 5\n", "    rounding: 5\n"
	    "    dominance: {total: claimants, top: region, percent: 50}\n",
	    42, 16, "must be columns of type integer or decimal");
	expect_contract_error("    rounding: 5\n", "    rounding: 5\n"
	    "    dominance: {total: claimants, top: claimants, percent: 5}\n",
	    42, 40, "must be different columns");
	/* anchors and aliases are refused */
	expect_contract_error("people: [acme-ana, acme-raj]",
	    "people: &p [acme-ana]\napprovers2: *p", 11, 9, "anchors");
}

static void
test_contract_dominance(void **state)
{
	const struct dataset *ds;
	struct contract *c = NULL;
	char *text;

	(void)state;
	text = variant("    rounding: 5\n", "    rounding: 5\n"
	    "    dominance: {total: claimants, top: year, percent: 62.5}\n");
	assert_int_equal(contract_parse(&c, text, strlen(text), "c.yaml",
	    NULL), RG_OK);
	free(text);
	ds = contract_dataset(c, "uptake_tables");
	assert_true(ds->dominance.set);
	assert_string_equal(ds->dominance.total_column, "claimants");
	assert_string_equal(ds->dominance.top_column, "year");
	assert_true(ds->dominance.percent == 62.5);
	contract_free(c);
}

static void
test_contract_unmasked(void **state)
{
	const struct column_rule *r;
	struct contract *c = NULL;
	struct diag d;
	char *text;

	(void)state;
	/* masking: none needs an unmasked: entry */
	expect_contract_error("      region:      {}",
	    "      region:      {masking: none}", 27, 7,
	    "masking: none but is not listed in unmasked");
	/* ... and unmasked needs two approvals */
	text = variant("      region:      {}",
	    "      region:      {masking: none}");
	{
		char *t2;
		const char *from = "retention:";
		char *at = strstr(text, from);
		size_t n = strlen(text) + 200;

		t2 = malloc(n);
		memcpy(t2, text, (size_t)(at - text));
		strcpy(t2 + (at - text), "unmasked: {justification: \"Survey "
		    "contact\", columns: [region]}\n");
		strcat(t2, at);
		free(text);
		text = t2;
	}
	diag_clear(&d);
	assert_int_equal(contract_parse(&c, text, strlen(text), "c.yaml", &d),
	    RG_EPARSE);
	assert_non_null(strstr(d.msg, "approvals_required: 2"));
	assert_int_equal(d.line, 13);
	assert_int_equal(d.column, 21);
	{
		char *at = strstr(text, "approvals_required: 1");
		at[20] = '2';
	}
	assert_int_equal(contract_parse(&c, text, strlen(text), "c.yaml", &d),
	    RG_OK);
	free(text);
	assert_string_equal(c->unmasked_justification, "Survey contact");
	assert_int_equal(c->n_unmasked_columns, 1);
	r = dataset_column(contract_dataset(c, "benefit_claims"), "region");
	assert_int_equal(r->masking, MASKING_NONE);
	assert_true(r->unmasked);
	assert_false(dataset_column(contract_dataset(c, "uptake_tables"),
	    "region")->unmasked);
	contract_free(c);
}

static void
test_contract_file(void **state)
{
	struct contract *c = NULL;
	struct diag d;

	(void)state;
	put("c.yaml", good_contract);
	assert_int_equal(contract_load(&c, p("c.yaml"), &d), RG_OK);
	assert_string_equal(c->path, p("c.yaml"));
	contract_free(c);
	assert_int_equal(contract_load(&c, p("nope.yaml"), &d), RG_ENOENT);
	assert_null(c);
	put("c.yaml", "");
	assert_int_equal(contract_load(&c, p("c.yaml"), &d), RG_EPARSE);
	assert_non_null(strstr(d.msg, "missing required key 'id'"));
	put("c.yaml", "- a\n- b\n");
	assert_int_equal(contract_load(&c, p("c.yaml"), &d), RG_EPARSE);
	assert_non_null(strstr(d.msg, "must be a mapping"));
	assert_string_equal(d.file, p("c.yaml"));
	assert_int_equal(d.line, 1);
	assert_int_equal(d.column, 1);
	rm("c.yaml");
}

/* ---- users ---------------------------------------------------------- */

#define ED_KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDV1akQjecpR34cO6nBAg1Y7" \
	"DNF1THv2SNrAXm7dO+RR ann@laptop"

static void
test_user_good(void **state)
{
	struct user *u = NULL;
	struct diag d;
	long day;

	(void)state;
	put("users/ann.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys:\n  - " ED_KEY "\n"
	    "valid_until: 2027-01-31\ntraining_expires: 2026-12-01\n");
	assert_int_equal(user_load(&u, p("users/ann.yaml"), &d), RG_OK);
	assert_string_equal(u->name, "ann");
	assert_int_equal(u->roles, ROLE_STAFF | ROLE_APPROVER);
	assert_string_equal(u->organisation, "dwp");
	assert_int_equal(u->n_ssh_keys, 1);
	assert_string_equal(u->ssh_keys[0], ED_KEY);
	date_parse("2027-01-31", &day);
	assert_int_equal(u->valid_until, day);
	date_parse("2026-12-01", &day);
	assert_int_equal(u->training_expires, day);
	user_free(u);
	put("users/bo.yaml", "roles: [officer]\norganisation: dwp\n"
	    "ssh_keys: []\n");
	assert_int_equal(user_load(&u, p("users/bo.yaml"), &d), RG_OK);
	assert_int_equal(u->valid_until, DATE_UNSET);
	assert_int_equal(u->training_expires, DATE_UNSET);
	assert_string_equal(role_name(ROLE_OFFICER), "officer");
	assert_null(role_name(64));
	user_free(u);
	user_free(NULL);
	rm("users/ann.yaml");
	rm("users/bo.yaml");
}

static void
expect_user_error(const char *text, unsigned long line, unsigned long col,
    const char *msgpart)
{
	struct user *u = NULL;
	struct diag d;

	put("users/x.yaml", text);
	diag_clear(&d);
	assert_true(user_load(&u, p("users/x.yaml"), &d) < 0);
	assert_null(u);
	assert_string_equal(d.file, p("users/x.yaml"));
	if (strstr(d.msg, msgpart) == NULL || d.line != line ||
	    d.column != col)
		fail_msg("got %lu:%lu: %s; want %lu:%lu: ...%s...", d.line,
		    d.column, d.msg, line, col, msgpart);
	rm("users/x.yaml");
}

static void
test_user_errors(void **state)
{
	(void)state;
	expect_user_error("roles: [staff, contractor]\norganisation: dwp\n"
	    "ssh_keys: []\n", 1, 8, "contractor cannot also hold");
	expect_user_error("roles: [staff, boss]\norganisation: dwp\n"
	    "ssh_keys: []\n", 1, 16, "'roles' must be one of");
	expect_user_error("roles: [staff]\norganisation: dwp\n",
	    1, 1, "missing required key 'ssh_keys'");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "shell: /bin/sh\n", 4, 1, "unknown key 'shell'");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "valid_until: 2026-02-29\n", 4, 14, "not a valid date");
	expect_user_error("roles: [staff]\norganisation: dwp\n"
	    "ssh_keys:\n  - ssh-ed25519 AAAA!!!! x\n", 4, 5, "base64");
	expect_user_error("roles: [staff]\norganisation: dwp\n"
	    "ssh_keys:\n  - ssh-foo AAAAC3NzaC1lZDI1NTE5 x\n", 4, 5,
	    "unknown key type");
	expect_user_error("roles: [staff]\norganisation: dwp\n"
	    "ssh_keys:\n  - from=\"10.0.0.1\" " ED_KEY "\n", 4, 5,
	    "key option 'from=\"10.0.0.1\"' is not supported: relgate "
	    "understands only verify-required and no-touch-required");
	/* an RSA key type with an Ed25519 blob */
	expect_user_error("roles: [staff]\norganisation: dwp\n"
	    "ssh_keys:\n  - ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIDV1akQjecpR34cO6"
	    "nBAg1Y7DNF1THv2SNrAXm7dO+RR x\n", 4, 5, "does not match");
	expect_user_error("roles: staff\norganisation: dwp\nssh_keys: []\n",
	    1, 8, "'roles' must be a list");
	/* relgate's rule: an approver is staff too */
	expect_user_error("organisation: dwp\nroles: [approver]\n"
	    "ssh_keys: []\n", 2, 8, "an approver must also hold the staff "
	    "role");
	expect_user_error("roles:\n  - officer\n  - approver\n"
	    "organisation: dwp\nssh_keys: []\n", 2, 3, "an approver must "
	    "also hold the staff role");
	expect_user_error("roles: [staff]\norganisation: dwp\n"
	    "organisation: dwp2\nssh_keys: []\n", 3, 1,
	    "duplicate key 'organisation'");
}

/* ---- relgate.yaml ------------------------------------------------- */

static void
test_gateway_config(void **state)
{
	struct gateway_config cfg;
	struct diag d;

	(void)state;
	assert_int_equal(gateway_config_load(&cfg, p("none.yaml"), &d), RG_OK);
	assert_string_equal(cfg.listen, "0.0.0.0");
	assert_int_equal(cfg.port, 2222);
	assert_string_equal(cfg.state_dir, "/var/lib/relgate");
	assert_int_equal(cfg.max_sessions, 256);
	assert_int_equal(cfg.max_sessions_per_user, 8);
	assert_int_equal(cfg.idle_timeout, 600);
	assert_int_equal(cfg.auth_fail_per_source, 10);
	assert_int_equal(cfg.auth_fail_per_user, 10);
	assert_int_equal(cfg.auth_fail_window, 60);
	assert_int_equal(cfg.auth_fail_ban, 600);
	assert_int_equal(cfg.log_syslog, 1);
	assert_int_equal(cfg.checkpoint_every, 1000);
	assert_string_equal(cfg.run_as, "");
	assert_int_equal(cfg.syslog_audit, 0);
	put("relgate.yaml", "listen: 127.0.0.1\nport: 2022\n"
	    "state_dir: /srv/relgate\nauth_failures: {ban: 30}\nlog: stderr\n"
	    "run_as: relgate\nsyslog_audit: true\ncheckpoint_every: 10\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_OK);
	assert_string_equal(cfg.listen, "127.0.0.1");
	assert_int_equal(cfg.port, 2022);
	assert_string_equal(cfg.state_dir, "/srv/relgate");
	assert_int_equal(cfg.auth_fail_ban, 30);
	assert_int_equal(cfg.auth_fail_window, 60);
	assert_int_equal(cfg.log_syslog, 0);
	assert_string_equal(cfg.run_as, "relgate");
	assert_int_equal(cfg.syslog_audit, 1);
	assert_int_equal(cfg.checkpoint_every, 10);
	put("relgate.yaml", "port: 2022\nauth_failures: {per_host: 3}\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_EPARSE);
	assert_int_equal(d.line, 2);
	assert_int_equal(d.column, 17);
	assert_non_null(strstr(d.msg, "unknown key 'per_host'"));
	assert_int_equal(cfg.port, 2222);	/* defaults on error */
	put("relgate.yaml", "state_dir: relative/dir\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_EPARSE);
	assert_non_null(strstr(d.msg, "absolute"));
	put("relgate.yaml", "listen: relgate.example.org\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_EPARSE);
	assert_non_null(strstr(d.msg, "IPv4 or IPv6"));
	put("relgate.yaml", "listen: \"::1\"\nmax_sessions: 4\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_EPARSE);
	assert_int_equal(d.line, 2);
	assert_non_null(strstr(d.msg, "max_sessions_per_user"));
	put("relgate.yaml", "listen: \"::1\"\nmax_sessions: 4\n"
	    "max_sessions_per_user: 2\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_OK);
	assert_string_equal(cfg.listen, "::1");
	put("relgate.yaml", "syslog_audit: maybe\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_EPARSE);
	assert_int_equal(d.column, 15);
	rm("relgate.yaml");
}

/* ---- request.yaml / decision.yaml --------------------------------- */

static void
test_request_doc(void **state)
{
	static const char ok[] = "contract: DWP-2026-0042\n"
	    "dataset: benefit_claims\nfiles: [claims_2026q3.csv]\n"
	    "note: Quarterly refresh as agreed in the data sharing "
	    "agreement.\n";
	struct request_doc *r = NULL;
	struct diag d;
	char big[REQUEST_YAML_MAX + 2];

	(void)state;
	assert_int_equal(request_doc_parse(&r, ok, strlen(ok), "request.yaml",
	    &d), RG_OK);
	assert_string_equal(r->contract, "DWP-2026-0042");
	assert_string_equal(r->dataset, "benefit_claims");
	assert_int_equal(r->n_files, 1);
	assert_string_equal(r->files[0], "claims_2026q3.csv");
	assert_non_null(strstr(r->note, "Quarterly"));
	request_doc_free(r);
	assert_int_equal(request_doc_parse(&r, "contract: C-1\nfiles: [a.csv, "
	    "b.csv]\n", 36, "request.yaml", &d), RG_OK);
	assert_null(r->dataset);
	assert_int_equal(r->n_files, 2);
	request_doc_free(r);
	request_doc_free(NULL);
#define BADREQ(text, l, c, part) do {					\
		diag_clear(&d);						\
		assert_true(request_doc_parse(&r, text, strlen(text),	\
		    "request.yaml", &d) < 0);				\
		assert_null(r);						\
		assert_string_equal(d.file, "request.yaml");		\
		if (strstr(d.msg, part) == NULL || d.line != (l) ||	\
		    d.column != (c))					\
			fail_msg("got %lu:%lu: %s", d.line, d.column, d.msg); \
	} while (0)
	BADREQ("contract: C-1\nfiles: [../../etc/passwd]\n", 2, 9,
	    "not a file name");
	BADREQ("contract: C-1\nfiles: [.hidden]\n", 2, 9, "not a file name");
	BADREQ("contract: C-1\nfiles: []\n", 2, 8, "at least one");
	BADREQ("contract: C-1\nfiles: [a.csv, a.csv]\n", 2, 16, "twice");
	BADREQ("contract: C-1\n", 1, 1, "missing required key 'files'");
	BADREQ("contract: C-1\nfiles: [a.csv]\nurgent: yes\n", 3, 1,
	    "unknown key 'urgent'");
	BADREQ("contract: [C-1]\nfiles: [a.csv]\n", 1, 11, "must be text");
	BADREQ("contract: C/1\nfiles: [a.csv]\n", 1, 11, "contract id");
	BADREQ("contract: C-1\n\tfiles: [a.csv]\n", 2, 1, "YAML syntax");
	memset(big, ' ', sizeof(big));
	assert_int_equal(request_doc_parse(&r, big, sizeof(big),
	    "request.yaml", &d), RG_ETOOBIG);
}

static void
test_decision_doc(void **state)
{
	struct decision_doc *r = NULL;
	struct diag d;
	const char *t;

	(void)state;
	t = "decision: approve\nreason: Checked against DSA schedule 2.\n";
	assert_int_equal(decision_doc_parse(&r, t, strlen(t), "decision.yaml",
	    &d), RG_OK);
	assert_int_equal(r->decision, DECISION_APPROVE);
	assert_string_equal(r->reason, "Checked against DSA schedule 2.");
	decision_doc_free(r);
	t = "decision: approve\n";
	assert_int_equal(decision_doc_parse(&r, t, strlen(t), "decision.yaml",
	    &d), RG_OK);
	assert_null(r->reason);
	decision_doc_free(r);
	t = "decision: reject\nreason: too many rows\n";
	assert_int_equal(decision_doc_parse(&r, t, strlen(t), "decision.yaml",
	    &d), RG_OK);
	assert_int_equal(r->decision, DECISION_REJECT);
	decision_doc_free(r);
	decision_doc_free(NULL);
	t = "decision: reject\n";
	assert_int_equal(decision_doc_parse(&r, t, strlen(t), "decision.yaml",
	    &d), RG_EPARSE);
	assert_non_null(strstr(d.msg, "needs a 'reason'"));
	t = "decision: yes\n";
	assert_int_equal(decision_doc_parse(&r, t, strlen(t), "decision.yaml",
	    &d), RG_EPARSE);
	assert_int_equal(d.line, 1);
	assert_int_equal(d.column, 11);
	t = "decision: approve\ndecision: reject\nreason: x\n";
	assert_int_equal(decision_doc_parse(&r, t, strlen(t), "decision.yaml",
	    &d), RG_EPARSE);
	assert_non_null(strstr(d.msg, "duplicate key"));
	assert_null(r);
}

/* ---- the whole directory ----------------------------------------- */

static char fpr_good[41], fpr_expired[41], fpr_signonly[41], fpr_soon[41];
static char gnupghome[600];

/* Directory with users, keys and one contract (recipient fpr). */
static void
setup_dir(const char *contract_text)
{
	put("users/iam-jo.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys: []\n");
	put("users/iam-sam.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys: []\n");
	put("users/acme-ana.yaml", "roles: [contractor]\n"
	    "organisation: acme-research\nssh_keys: []\n");
	put("users/acme-raj.yaml", "roles: [contractor]\n"
	    "organisation: acme-research\nssh_keys: []\n");
	put("contracts/DWP-2026-0042.yaml", contract_text);
}

static char *
contract_with(const char *from, const char *to, const char *fpr)
{
	char *a = variant("0123456789ABCDEF0123456789ABCDEF01234567", fpr);
	char *at, *b;

	if (from == NULL)
		return a;
	at = strstr(a, from);
	assert_non_null(at);
	b = malloc(strlen(a) + strlen(to) + 1);
	memcpy(b, a, (size_t)(at - a));
	strcpy(b + (at - a), to);
	strcat(b, at + strlen(from));
	free(a);
	return b;
}

/* Load the directory; expect exactly one problem at line:col. */
static void
expect_dir_problem(const char *rel, unsigned long line, unsigned long col,
    const char *msgpart)
{
	struct config_dir *cd = NULL;
	struct diag d;
	char buf[1024];

	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	if (cd->n_problems != 1) {
		size_t i;
		for (i = 0; i < cd->n_problems; i++) {
			diag_format(&cd->problems[i].diag, buf, sizeof(buf));
			print_message("problem: %s\n", buf);
		}
		fail_msg("want one problem, got %zu", cd->n_problems);
	}
	diag_format(&cd->problems[0].diag, buf, sizeof(buf));
	if (strcmp(cd->problems[0].diag.file, p(rel)) != 0 ||
	    cd->problems[0].diag.line != line ||
	    cd->problems[0].diag.column != col ||
	    strstr(cd->problems[0].diag.msg, msgpart) == NULL)
		fail_msg("got %s; want %s:%lu:%lu: ...%s...", buf, rel, line,
		    col, msgpart);
	/* the contract is unavailable, the users still load */
	if (strncmp(rel, "contracts/", 10) == 0)
		assert_null(config_dir_contract(cd, "DWP-2026-0042"));
	assert_non_null(config_dir_user(cd, "iam-sam"));
	config_dir_free(cd);
}

static void
test_dir_good(void **state)
{
	struct config_dir *cd = NULL;
	const struct contract *c;
	struct diag d;
	char *t = contract_with(NULL, NULL, fpr_good);

	(void)state;
	setup_dir(t);
	free(t);
	put("relgate.yaml", "port: 2200\n");
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	assert_int_equal(cd->n_problems, 0);
	assert_int_equal(cd->cfg.port, 2200);
	assert_int_equal(cd->n_users, 4);
	assert_int_equal(cd->n_contracts, 1);
	c = config_dir_contract(cd, "DWP-2026-0042");
	assert_non_null(c);
	assert_string_equal(c->recipients[0], fpr_good);
	assert_non_null(config_dir_user(cd, "acme-ana"));
	assert_null(config_dir_user(cd, "nobody"));
	assert_null(config_dir_contract(cd, "nope"));
	config_dir_free(cd);
	config_dir_free(NULL);
	rm("relgate.yaml");
	/* a lower-case fingerprint with spaces is the same recipient */
	{
		char low[60];
		size_t i, o = 0;

		for (i = 0; i < 40; i++) {
			low[o++] = (char)(fpr_good[i] >= 'A' ?
			    fpr_good[i] - 'A' + 'a' : fpr_good[i]);
			if (i % 4 == 3 && i != 39)
				low[o++] = ' ';
		}
		low[o] = '\0';
		t = contract_with(NULL, NULL, low);
		put("contracts/DWP-2026-0042.yaml", t);
		free(t);
		assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
		assert_int_equal(cd->n_problems, 0);
		config_dir_free(cd);
	}
}

static void
test_dir_approver_not_staff(void **state)
{
	char *t = contract_with(NULL, NULL, fpr_good);
	struct config_dir *cd = NULL;
	struct diag d;
	char buf[1024];

	(void)state;
	setup_dir(t);
	free(t);
	/* approver without staff: the user file itself is bad (named at its
	 * roles: line), so iam-sam is no user and the contract fails too */
	put("users/iam-sam.yaml", "organisation: dwp\n"
	    "roles: [officer, approver]\nssh_keys: []\n");
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	assert_int_equal(cd->n_problems, 2);
	diag_format(&cd->problems[0].diag, buf, sizeof(buf));
	assert_string_equal(cd->problems[0].diag.file, p("users/iam-sam.yaml"));
	assert_int_equal(cd->problems[0].kind, 1);
	assert_int_equal(cd->problems[0].diag.line, 2);
	assert_int_equal(cd->problems[0].diag.column, 8);
	assert_non_null(strstr(buf, "an approver must also hold the staff "
	    "role"));
	diag_format(&cd->problems[1].diag, buf, sizeof(buf));
	assert_string_equal(cd->problems[1].diag.file,
	    p("contracts/DWP-2026-0042.yaml"));
	assert_int_equal(cd->problems[1].diag.line, 12);
	assert_int_equal(cd->problems[1].diag.column, 21);
	assert_non_null(strstr(buf, "approver 'iam-sam' is not a user"));
	assert_null(config_dir_user(cd, "iam-sam"));
	assert_non_null(config_dir_user(cd, "iam-jo"));
	config_dir_free(cd);
	put("users/iam-sam.yaml", "roles: [staff]\n"
	    "organisation: dwp\nssh_keys: []\n");
	expect_dir_problem("contracts/DWP-2026-0042.yaml", 12, 21,
	    "does not have the approver role");
	put("users/iam-sam.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys: []\n");
	t = contract_with("[iam-jo, iam-sam]", "[iam-jo, iam-max]", fpr_good);
	put("contracts/DWP-2026-0042.yaml", t);
	free(t);
	expect_dir_problem("contracts/DWP-2026-0042.yaml", 12, 21,
	    "approver 'iam-max' is not a user");
}

static void
test_dir_person_not_contractor(void **state)
{
	char *t = contract_with(NULL, NULL, fpr_good);

	(void)state;
	setup_dir(t);
	free(t);
	put("users/acme-raj.yaml", "roles: [contractor]\n"
	    "organisation: beta-analytics\nssh_keys: []\n");
	expect_dir_problem("contracts/DWP-2026-0042.yaml", 11, 20,
	    "belongs to organisation 'beta-analytics'");
	put("users/acme-raj.yaml", "roles: [staff]\n"
	    "organisation: acme-research\nssh_keys: []\n");
	expect_dir_problem("contracts/DWP-2026-0042.yaml", 11, 20,
	    "does not have the contractor role");
	/* a user file that fails to load is a problem of its own, and the
	 * contract naming that user fails too */
	put("users/acme-raj.yaml", "roles: [contractor, staff]\n"
	    "organisation: acme-research\nssh_keys: []\n");
	{
		struct config_dir *cd = NULL;
		struct diag d;

		assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
		assert_int_equal(cd->n_problems, 2);
		assert_string_equal(cd->problems[0].diag.file,
		    p("users/acme-raj.yaml"));
		assert_int_equal(cd->problems[0].kind, 1);
		assert_int_equal(cd->problems[1].kind, 2);
		assert_non_null(strstr(cd->problems[1].diag.msg,
		    "'acme-raj' is not a user"));
		assert_int_equal(cd->n_users, 3);
		assert_int_equal(cd->n_contracts, 0);
		config_dir_free(cd);
	}
}

static void
test_dir_shared_ssh_key(void **state)
{
	struct config_dir *cd = NULL;
	struct diag d;
	char *t = contract_with(NULL, NULL, fpr_good);

	(void)state;
	setup_dir(t);
	free(t);
	put("users/iam-jo.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys:\n  - " ED_KEY "\n");
	/* the same key with another comment is the same key */
	put("users/iam-sam.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys:\n  - " ED_KEY " sam@desk\n");
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	assert_int_equal(cd->n_problems, 2);
	assert_string_equal(cd->problems[0].diag.file, p("users/iam-sam.yaml"));
	assert_int_equal(cd->problems[0].diag.line, 4);
	assert_int_equal(cd->problems[0].diag.column, 5);
	assert_non_null(strstr(cd->problems[0].diag.msg,
	    "also users/iam-jo.yaml's"));
	assert_non_null(config_dir_user(cd, "iam-jo"));
	assert_null(config_dir_user(cd, "iam-sam"));
	assert_non_null(strstr(cd->problems[1].diag.msg,
	    "approver 'iam-sam' is not a user"));
	config_dir_free(cd);
	put("users/iam-jo.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys: []\n");
	put("users/iam-sam.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys: []\n");
}

static void
test_dir_warnings(void **state)
{
	struct config_dir *cd = NULL;
	struct diag d;
	char *t;

	(void)state;
	t = contract_with("valid_until: 2027-03-31", "valid_until: 2026-03-31",
	    fpr_soon);
	setup_dir(t);
	free(t);
	put("users/acme-raj.yaml", "roles: [contractor]\n"
	    "organisation: acme-research\nssh_keys: []\n"
	    "valid_until: 2020-01-31\ntraining_expires: 2021-02-28\n");
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	/* warnings never make anything unavailable */
	assert_int_equal(cd->n_problems, 0);
	assert_int_equal(cd->n_contracts, 1);
	assert_int_equal(cd->n_users, 4);
	assert_int_equal(cd->n_warnings, 4);
	assert_string_equal(cd->warnings[0].diag.file, p("users/acme-raj.yaml"));
	assert_string_equal(cd->warnings[0].diag.msg, "warning: the account "
	    "of 'acme-raj' ended on 2020-01-31 (valid_until): it cannot log "
	    "in");
	assert_non_null(strstr(cd->warnings[1].diag.msg,
	    "training of 'acme-raj' expired on 2021-02-28"));
	assert_string_equal(cd->warnings[2].diag.file,
	    p("contracts/DWP-2026-0042.yaml"));
	assert_int_equal(cd->warnings[2].diag.line, 1);
	assert_int_equal(cd->warnings[2].diag.column, 5);
	assert_non_null(strstr(cd->warnings[2].diag.msg,
	    "status is active, but contract is past its valid_until date"));
	assert_int_equal(cd->warnings[3].diag.line, 15);
	assert_int_equal(cd->warnings[3].diag.column, 5);
	assert_non_null(strstr(cd->warnings[3].diag.msg, "expires on"));
	assert_non_null(strstr(cd->warnings[3].diag.msg, "soon.asc"));
	config_dir_free(cd);
	put("users/acme-raj.yaml", "roles: [contractor]\n"
	    "organisation: acme-research\nssh_keys: []\n");
}

static void
test_dir_recipient_keys(void **state)
{
	char *t;

	(void)state;
	t = contract_with(NULL, NULL, "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333");
	setup_dir(t);
	free(t);
	expect_dir_problem("contracts/DWP-2026-0042.yaml", 15, 5,
	    "has no key in keys/pgp");
	t = contract_with(NULL, NULL, fpr_expired);
	put("contracts/DWP-2026-0042.yaml", t);
	free(t);
	expect_dir_problem("contracts/DWP-2026-0042.yaml", 15, 5,
	    "expired on 2020-01-02");
	/* a renewed copy of the same key next to the expired one: fine */
	{
		struct config_dir *cd = NULL;
		struct diag d;
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "cp '%s/renewed.asc' "
		    "'%s/keys/pgp/zz-renewed.asc'", tmpdir, tmpdir);
		assert_int_equal(run(cmd), 0);
		assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
		assert_int_equal(cd->n_problems, 0);
		assert_int_equal(cd->n_contracts, 1);
		config_dir_free(cd);
		rm("keys/pgp/zz-renewed.asc");
	}
	t = contract_with(NULL, NULL, fpr_signonly);
	put("contracts/DWP-2026-0042.yaml", t);
	free(t);
	expect_dir_problem("contracts/DWP-2026-0042.yaml", 15, 5,
	    "no usable encryption key");
}

static void
test_dir_id_and_files(void **state)
{
	struct config_dir *cd = NULL;
	struct diag d;
	char *t = contract_with(NULL, NULL, fpr_good);

	(void)state;
	setup_dir(t);
	rm("contracts/DWP-2026-0042.yaml");
	put("contracts/DWP-2026-0099.yaml", t);
	free(t);
	expect_dir_problem("contracts/DWP-2026-0099.yaml", 1, 5,
	    "does not match its file name");
	rm("contracts/DWP-2026-0099.yaml");
	/* a broken contract next to a good one: the good one still loads */
	t = contract_with(NULL, NULL, fpr_good);
	put("contracts/DWP-2026-0042.yaml", t);
	free(t);
	put("contracts/BAD-1.yaml", "id: BAD-1\nversion: [\n");
	put("keys/pgp/junk.asc", "not a key\n");
	put("contracts/README", "not yaml: ignored\n");
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	assert_int_equal(cd->n_contracts, 1);
	assert_int_equal(cd->n_problems, 2);
	assert_int_equal(cd->problems[0].kind, 3);
	assert_string_equal(cd->problems[0].diag.file, p("keys/pgp/junk.asc"));
	assert_non_null(strstr(cd->problems[0].diag.msg, "no OpenPGP"));
	assert_string_equal(cd->problems[1].diag.file,
	    p("contracts/BAD-1.yaml"));
	assert_int_equal(cd->problems[1].diag.line, 3);
	config_dir_free(cd);
	rm("contracts/BAD-1.yaml");
	rm("contracts/README");
	rm("keys/pgp/junk.asc");
	/* an unreadable directory is an error, not a problem */
	assert_int_equal(config_dir_load(&cd, p("missing"), &d), RG_ENOENT);
	assert_null(cd);
}

/* ---- keys/pgp scan ------------------------------------------------- */

/* Throwaway GnuPG homes in this test's own TMPDIR (set in setup). */
static int
scan_tmpdirs(void)
{
	char pat[600];
	glob_t g;
	int n;

	snprintf(pat, sizeof(pat), "%s/scantmp/relgate-pgpscan.*", tmpdir);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = (int)g.gl_pathc;
	globfree(&g);
	return n;
}

static void
test_pgp_scan(void **state)
{
	struct pgp_keyinfo *keys = NULL;
	struct diag *bad = NULL;
	size_t n = 0, n_bad = 0, i;
	struct diag d;
	int seen = 0;
	char cmd[2048];

	(void)state;
	assert_int_equal(pgp_dir_scan(&keys, &n, p("keys/pgp"), &d), RG_OK);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		const struct pgp_keyinfo *k = &keys[i];

		assert_int_equal(strlen(k->fpr), 40);
		assert_false(k->revoked);
		if (strcmp(k->fpr, fpr_good) == 0) {
			seen |= 1;
			assert_string_equal(k->file, "acme.asc");
			assert_true(k->can_encrypt);
			assert_int_equal(k->n_subkeys, 1);	/* cv25519 */
			assert_int_equal(strlen(k->subkey_fprs[0]), 40);
			assert_true(k->expires > 20000);	/* in 2y */
		} else if (strcmp(k->fpr, fpr_expired) == 0) {
			seen |= 2;
			assert_false(k->can_encrypt);
			assert_int_equal(k->expires, 18263);	/* 2020-01-02 */
		} else if (strcmp(k->fpr, fpr_signonly) == 0) {
			seen |= 4;
			assert_false(k->can_encrypt);
			assert_int_equal(k->n_subkeys, 0);
		}
	}
	assert_int_equal(seen, 7);
	free(keys);
	/* a secret key and a file without keys are reported, not loaded */
	snprintf(cmd, sizeof(cmd), "GNUPGHOME='%s' gpg --batch "
	    "--pinentry-mode loopback --passphrase '' --armor "
	    "--export-secret-keys %s > '%s/keys/pgp/secret.asc' 2>/dev/null",
	    gnupghome, fpr_good, tmpdir);
	assert_int_equal(run(cmd), 0);
	put("keys/pgp/empty.asc", "");
	assert_int_equal(pgp_dir_scan_ex(&keys, &n, &bad, &n_bad,
	    p("keys/pgp"), &d), RG_OK);
	assert_int_equal(n, 4);
	assert_int_equal(n_bad, 2);
	for (i = 0; i < n_bad; i++) {
		if (strcmp(bad[i].file, p("keys/pgp/secret.asc")) == 0)
			assert_non_null(strstr(bad[i].msg, "secret key"));
		else
			assert_string_equal(bad[i].file,
			    p("keys/pgp/empty.asc"));
	}
	free(keys);
	free(bad);
	rm("keys/pgp/secret.asc");
	rm("keys/pgp/empty.asc");
	/* a missing folder is an empty scan */
	assert_int_equal(pgp_dir_scan(&keys, &n, p("nokeys"), &d), RG_OK);
	assert_int_equal(n, 0);
	free(keys);
	/* no throwaway GnuPG home is left behind */
	assert_int_equal(scan_tmpdirs(), 0);
	/* and they are made there: a TMPDIR that is not a folder fails */
	assert_int_equal(rmdir(p("scantmp")), 0);
	put("scantmp", "not a folder\n");
	assert_int_equal(pgp_dir_scan(&keys, &n, p("keys/pgp"), &d), RG_EIO);
	assert_non_null(strstr(d.file, "/scantmp/relgate-pgpscan."));
	rm("scantmp");
	assert_int_equal(mkdir(p("scantmp"), 0700), 0);
}

/* ---- auth: in relgate.yaml ------------------------------------------ */

static void
test_auth_defaults(void **state)
{
	struct gateway_config cfg;
	struct diag d;
	char buf[80];
	size_t i;

	(void)state;
	assert_int_equal(gateway_config_load(&cfg, p("none.yaml"), &d), RG_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(cfg.auth_role_factors[i],
		    FACTOR_PUBLICKEY | FACTOR_TOTP);
	assert_int_equal(cfg.totp_digits, 6);
	assert_int_equal(cfg.totp_period, 30);
	assert_int_equal(cfg.totp_skew, 1);
	assert_int_equal(auth_factors_for(&cfg, ROLE_CONTRACTOR),
	    FACTOR_PUBLICKEY | FACTOR_TOTP);
	assert_int_equal(auth_factors_for(&cfg, 0), 0);
	auth_factors_format(auth_factors_for(&cfg, ROLE_STAFF |
	    ROLE_APPROVER), buf, sizeof(buf));
	assert_string_equal(buf, "publickey,totp");
	/* product.md's example of relgate.yaml is the defaults */
	put("relgate.yaml", "auth:\n"
	    "  staff:      [publickey, totp]\n"
	    "  approver:   [publickey, totp]\n"
	    "  contractor: [publickey, totp]\n"
	    "  officer:    [publickey, totp]\n"
	    "  totp: {digits: 6, period: 30, skew: 1}   # RFC 6238\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(cfg.auth_role_factors[i],
		    FACTOR_PUBLICKEY | FACTOR_TOTP);
	assert_int_equal(cfg.totp_period, 30);
	/* names and formatting */
	assert_string_equal(auth_factor_name(FACTOR_PUBLICKEY), "publickey");
	assert_string_equal(auth_factor_name(FACTOR_SECURITY_KEY),
	    "security-key");
	assert_string_equal(auth_factor_name(FACTOR_PASSWORD), "password");
	assert_string_equal(auth_factor_name(FACTOR_TOTP), "totp");
	assert_null(auth_factor_name(0));
	assert_null(auth_factor_name(FACTOR_PUBLICKEY | FACTOR_TOTP));
	assert_null(auth_factor_name(1u << 4));
	auth_factors_format(FACTOR_TOTP | FACTOR_PASSWORD |
	    FACTOR_SECURITY_KEY | FACTOR_PUBLICKEY, buf, sizeof(buf));
	assert_string_equal(buf, "publickey,security-key,password,totp");
	auth_factors_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* too small: whole names only */
	auth_factors_format(FACTOR_PUBLICKEY | FACTOR_TOTP, buf, 14);
	assert_string_equal(buf, "publickey");
	auth_factors_format(FACTOR_PUBLICKEY | FACTOR_TOTP, buf, 15);
	assert_string_equal(buf, "publickey,totp");
	rm("relgate.yaml");
}

static void
test_auth_config(void **state)
{
	struct gateway_config cfg;
	struct diag d;
	char buf[80];

	(void)state;
	put("relgate.yaml", "port: 2022\n"
	    "auth:\n"
	    "  staff: [publickey, password]\n"
	    "  approver: [totp, publickey]\n"
	    "  officer: [security-key, password, totp]\n"
	    "  totp: {digits: 8, period: 60, skew: 0}\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_OK);
	assert_int_equal(cfg.port, 2022);
	assert_int_equal(cfg.auth_role_factors[0],
	    FACTOR_PUBLICKEY | FACTOR_PASSWORD);
	assert_int_equal(cfg.auth_role_factors[1],
	    FACTOR_PUBLICKEY | FACTOR_TOTP);
	/* a role not listed keeps its default */
	assert_int_equal(cfg.auth_role_factors[2],
	    FACTOR_PUBLICKEY | FACTOR_TOTP);
	assert_int_equal(cfg.auth_role_factors[3],
	    FACTOR_SECURITY_KEY | FACTOR_PASSWORD | FACTOR_TOTP);
	assert_int_equal(cfg.totp_digits, 8);
	assert_int_equal(cfg.totp_period, 60);
	assert_int_equal(cfg.totp_skew, 0);
	/* a staff member who approves presents both roles' factors */
	assert_int_equal(auth_factors_for(&cfg, ROLE_STAFF | ROLE_APPROVER),
	    FACTOR_PUBLICKEY | FACTOR_PASSWORD | FACTOR_TOTP);
	auth_factors_format(auth_factors_for(&cfg, ROLE_STAFF |
	    ROLE_APPROVER), buf, sizeof(buf));
	assert_string_equal(buf, "publickey,password,totp");
	assert_int_equal(auth_factors_for(&cfg, ROLE_STAFF), FACTOR_PUBLICKEY |
	    FACTOR_PASSWORD);
	/* a security key is a public key too: one role's publickey is met */
	assert_int_equal(auth_factors_for(&cfg, ROLE_STAFF | ROLE_OFFICER),
	    FACTOR_SECURITY_KEY | FACTOR_PASSWORD | FACTOR_TOTP);
	/* both in one list mean security-key; only the totp map changes */
	put("relgate.yaml", "auth:\n"
	    "  contractor: [publickey, security-key]\n"
	    "  totp:\n    period: 10\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_OK);
	assert_int_equal(cfg.auth_role_factors[2], FACTOR_SECURITY_KEY);
	assert_int_equal(cfg.auth_role_factors[0],
	    FACTOR_PUBLICKEY | FACTOR_TOTP);
	assert_int_equal(cfg.totp_digits, 6);
	assert_int_equal(cfg.totp_period, 10);
	assert_int_equal(cfg.totp_skew, 1);
	auth_factors_format(auth_factors_for(&cfg, ROLE_CONTRACTOR), buf,
	    sizeof(buf));
	assert_string_equal(buf, "security-key");
	/* an empty auth: map changes nothing */
	put("relgate.yaml", "auth: {}\n");
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_OK);
	assert_int_equal(cfg.auth_role_factors[3],
	    FACTOR_PUBLICKEY | FACTOR_TOTP);
	rm("relgate.yaml");
}

/* relgate.yaml with text must fail at line:col with msgpart, and leave
 * the defaults. */
static void
expect_config_error(const char *text, unsigned long line, unsigned long col,
    const char *msgpart)
{
	struct gateway_config cfg;
	struct diag d;
	size_t i;

	put("relgate.yaml", text);
	diag_clear(&d);
	assert_int_equal(gateway_config_load(&cfg, p("relgate.yaml"), &d),
	    RG_EPARSE);
	assert_string_equal(d.file, p("relgate.yaml"));
	if (strstr(d.msg, msgpart) == NULL || d.line != line ||
	    d.column != col)
		fail_msg("got %lu:%lu: %s; want %lu:%lu: ...%s...", d.line,
		    d.column, d.msg, line, col, msgpart);
	for (i = 0; i < 4; i++)
		assert_int_equal(cfg.auth_role_factors[i],
		    FACTOR_PUBLICKEY | FACTOR_TOTP);
	assert_int_equal(cfg.totp_digits, 6);
	assert_int_equal(cfg.port, 2222);
	rm("relgate.yaml");
}

static void
test_auth_errors(void **state)
{
	(void)state;
	expect_config_error("port: 2000\nauth:\n  staff: [publickey, sms]\n",
	    3, 22, "'staff' must be one of publickey, security-key, "
	    "password, totp, not 'sms'");
	expect_config_error("auth:\n  approver: [publickey, totp, totp]\n",
	    2, 31, "'approver' lists 'totp' twice");
	expect_config_error("auth:\n  staff:\n    - publickey\n"
	    "    - security-key\n    - publickey\n", 5, 7,
	    "'staff' lists 'publickey' twice");
	expect_config_error("auth:\n  staff: [publickey]\n"
	    "  contractor: [password, totp]\n", 3, 15,
	    "'contractor' must list publickey or security-key: the SSH key "
	    "comes first, and relgate has no login without one");
	expect_config_error("auth:\n  officer: []\n", 2, 12,
	    "'officer' must be a list of at least one of publickey, "
	    "security-key, password, totp");
	expect_config_error("auth:\n  officer: publickey\n", 2, 12,
	    "'officer' must be a list");
	expect_config_error("auth:\n  officer: [[publickey]]\n", 2, 13,
	    "'officer' must be a name");
	expect_config_error("auth:\n  staff: [publickey, totp]\n"
	    "  aprover: [publickey]\n", 3, 3, "auth: unknown key 'aprover'");
	expect_config_error("auth:\n  staff: [publickey]\n  staff: [totp]\n",
	    3, 3, "auth: duplicate key 'staff' (first at line 2)");
	expect_config_error("auth: [publickey, totp]\n", 1, 7,
	    "auth must be a mapping");
	expect_config_error("auth:\n  totp: {digits: 5}\n", 2, 18,
	    "'digits' must be between 6 and 8");
	expect_config_error("auth:\n  totp: {digits: 9}\n", 2, 18,
	    "'digits' must be between 6 and 8");
	expect_config_error("auth:\n  totp: {period: 301}\n", 2, 18,
	    "'period' must be between 10 and 300");
	expect_config_error("auth:\n  totp: {period: 9}\n", 2, 18,
	    "'period' must be between 10 and 300");
	expect_config_error("auth:\n  totp: {skew: 6}\n", 2, 16,
	    "'skew' must be between 0 and 5");
	expect_config_error("auth:\n  totp: {skew: -1}\n", 2, 16,
	    "'skew' must be between 0 and 5");
	expect_config_error("auth:\n  totp: {digits: six}\n", 2, 18,
	    "'digits' must be a whole number");
	expect_config_error("auth:\n  totp:\n    digits: 6\n"
	    "    algorithm: sha256\n", 4, 5,
	    "auth totp: unknown key 'algorithm'");
	expect_config_error("auth:\n  totp: [6, 30, 1]\n", 2, 9,
	    "auth totp must be a mapping");
}

/* ---- password_hash and key options in user files ------------------ */

/* A yescrypt hash of a throwaway test password (not a secret). */
#define Y_HASH "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC" \
	"7ntBwN7P33ohK5"

static void
test_user_password_hash(void **state)
{
	struct user *u = NULL;
	struct diag d;
	char text[1024], longhash[300];

	(void)state;
	put("users/ann.yaml", "roles: [staff]\norganisation: dwp\n"
	    "ssh_keys: []\npassword_hash: \"" Y_HASH "\"\n");
	assert_int_equal(user_load(&u, p("users/ann.yaml"), &d), RG_OK);
	assert_string_equal(u->password_hash, Y_HASH);
	user_free(u);
	/* as `relgate passwd` prints it: plain, unquoted */
	put("users/ann.yaml", "roles: [staff]\norganisation: dwp\n"
	    "ssh_keys: []\npassword_hash: " Y_HASH "\n");
	assert_int_equal(user_load(&u, p("users/ann.yaml"), &d), RG_OK);
	assert_string_equal(u->password_hash, Y_HASH);
	user_free(u);
	put("users/ann.yaml", "roles: [staff]\norganisation: dwp\n"
	    "ssh_keys: []\n");
	assert_int_equal(user_load(&u, p("users/ann.yaml"), &d), RG_OK);
	assert_null(u->password_hash);
	user_free(u);
	rm("users/ann.yaml");

	/* sha512-crypt, a bare password, too few fields, bad characters */
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "password_hash: $6$salt$abcdef\n", 4, 16,
	    "'password_hash' must be a yescrypt hash (\"$y$...\", as "
	    "`relgate passwd` prints it)");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "password_hash: hunter2\n", 4, 16, "must be a yescrypt hash");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "password_hash: $y$j9T$salt\n", 4, 16, "must be a yescrypt hash");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "password_hash: $y$j9T$$hash\n", 4, 16, "must be a yescrypt hash");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "password_hash: \"$y$j9T$sa lt$hash\"\n", 4, 16,
	    "must be a yescrypt hash");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "password_hash: \"$y$j9T$salt$ha:sh\"\n", 4, 16,
	    "must be a yescrypt hash");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "password_hash: [$y$j9T$salt$hash]\n", 4, 16,
	    "'password_hash' must be text");
	expect_user_error("roles: [staff]\norganisation: dwp\nssh_keys: []\n"
	    "password_hash:\n", 4, 15, "'password_hash' must be text, not "
	    "empty");
	memset(longhash, 'a', sizeof(longhash));
	memcpy(longhash, "$y$j9T$salt$", 12);
	longhash[256] = '\0';
	snprintf(text, sizeof(text), "roles: [staff]\norganisation: dwp\n"
	    "ssh_keys: []\npassword_hash: %s\n", longhash);
	expect_user_error(text, 4, 16,
	    "'password_hash' is longer than 255 bytes");
	longhash[255] = '\0';
	snprintf(text, sizeof(text), "roles: [staff]\norganisation: dwp\n"
	    "ssh_keys: []\npassword_hash: %s\n", longhash);
	put("users/ann.yaml", text);
	assert_int_equal(user_load(&u, p("users/ann.yaml"), &d), RG_OK);
	assert_int_equal(strlen(u->password_hash), 255);
	user_free(u);
	rm("users/ann.yaml");
}

static void
put_string(unsigned char *b, size_t *o, const void *s, size_t len)
{
	b[(*o)++] = (unsigned char)(len >> 24);
	b[(*o)++] = (unsigned char)(len >> 16);
	b[(*o)++] = (unsigned char)(len >> 8);
	b[(*o)++] = (unsigned char)len;
	memcpy(b + *o, s, len);
	*o += len;
}

/*
 * The authorized_keys line of a FIDO key (PROTOCOL.u2f), made here: public
 * keys are no secret, and no token is needed to write one. ecdsa 0:
 * sk-ssh-ed25519 (string type, string key, string application); 1:
 * sk-ecdsa-sha2-nistp256 (string type, string curve, string Q, string
 * application) with the P-256 generator as Q. seed varies the key.
 */
static void
make_sk_line(char *out, size_t outlen, int ecdsa, unsigned char seed,
    const char *app, const char *opts, const char *comment)
{
	static const unsigned char p256_g[65] = {
		0x04,
		0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc,
		0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81,
		0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98,
		0xc2, 0x96,
		0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7,
		0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57,
		0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf,
		0x51, 0xf5,
	};
	const char *type = ecdsa ? "sk-ecdsa-sha2-nistp256@openssh.com" :
	    "sk-ssh-ed25519@openssh.com";
	unsigned char blob[512], pk[32];
	char b64[800];
	size_t o = 0, i;

	put_string(blob, &o, type, strlen(type));
	if (ecdsa) {
		put_string(blob, &o, "nistp256", 8);
		put_string(blob, &o, p256_g, sizeof(p256_g));
	} else {
		for (i = 0; i < sizeof(pk); i++)
			pk[i] = (unsigned char)(seed + i * 7);
		put_string(blob, &o, pk, sizeof(pk));
	}
	put_string(blob, &o, app, strlen(app));
	assert_true(EVP_EncodeBlock((unsigned char *)b64, blob, (int)o) > 0);
	snprintf(out, outlen, "%s%s%s %s%s%s", opts ? opts : "",
	    opts ? " " : "", type, b64, comment ? " " : "",
	    comment ? comment : "");
}

static void
test_user_key_options(void **state)
{
	struct user *u = NULL;
	struct diag d;
	char k1[1024], k2[1024], k3[1024], k4[1024], text[8192];

	(void)state;
	make_sk_line(k1, sizeof(k1), 0, 1, "ssh:", NULL, "ann@token");
	make_sk_line(k2, sizeof(k2), 0, 2, "ssh:", "verify-required",
	    "ann@token2");
	make_sk_line(k3, sizeof(k3), 1, 3, "ssh:",
	    "no-touch-required,verify-required", NULL);
	make_sk_line(k4, sizeof(k4), 0, 4, "ssh:", "No-Touch-Required", NULL);
	snprintf(text, sizeof(text), "roles: [staff]\norganisation: dwp\n"
	    "ssh_keys:\n  - %s\n  - %s\n  - %s\n  - %s\n  - " ED_KEY "\n",
	    k1, k2, k3, k4);
	put("users/ann.yaml", text);
	assert_int_equal(user_load(&u, p("users/ann.yaml"), &d), RG_OK);
	assert_int_equal(u->n_ssh_keys, 5);
	assert_non_null(u->ssh_key_opts);
	assert_int_equal(u->ssh_key_opts[0], 0);
	assert_int_equal(u->ssh_key_opts[1], SSHKEY_OPT_VERIFY_REQUIRED);
	assert_int_equal(u->ssh_key_opts[2], SSHKEY_OPT_VERIFY_REQUIRED |
	    SSHKEY_OPT_NO_TOUCH_REQUIRED);
	/* sshd reads option names in any case */
	assert_int_equal(u->ssh_key_opts[3], SSHKEY_OPT_NO_TOUCH_REQUIRED);
	assert_int_equal(u->ssh_key_opts[4], 0);
	assert_string_equal(u->ssh_keys[1], k2);	/* kept as written */
	user_free(u);
	rm("users/ann.yaml");

#define OPT_ERR(line, part) do {					\
		snprintf(text, sizeof(text), "roles: [staff]\n"		\
		    "organisation: dwp\nssh_keys:\n  - " ED_KEY "\n"	\
		    "  - %s\n", line);					\
		expect_user_error(text, 5, 5, part);			\
	} while (0)
	make_sk_line(k1, sizeof(k1), 0, 1, "ssh:", "restrict", NULL);
	OPT_ERR(k1, "key option 'restrict' is not supported: relgate "
	    "understands only verify-required and no-touch-required, on "
	    "security keys (sk-ssh-ed25519@openssh.com, "
	    "sk-ecdsa-sha2-nistp256@openssh.com)");
	make_sk_line(k1, sizeof(k1), 0, 1, "ssh:",
	    "verify-required,command=\"/bin/sh -i\"", NULL);
	OPT_ERR(k1, "key option 'command=\"/bin/sh -i\"' is not supported");
	make_sk_line(k1, sizeof(k1), 0, 1, "ssh:",
	    "from=\"10.0.0.0/8\",verify-required", NULL);
	OPT_ERR(k1, "key option 'from=\"10.0.0.0/8\"' is not supported");
	make_sk_line(k1, sizeof(k1), 1, 1, "ssh:", "no-touch-required,"
	    "no-touch-required", NULL);
	OPT_ERR(k1, "key option 'no-touch-required' is given twice");
	make_sk_line(k1, sizeof(k1), 0, 1, "ssh:", "verify-required,", NULL);
	OPT_ERR(k1, "key option '' is not supported");
	make_sk_line(k1, sizeof(k1), 0, 1, "ssh:", "verify-required=yes",
	    NULL);
	OPT_ERR(k1, "key option 'verify-required=yes' is not supported");
	/* the two options mean nothing without a security key */
	OPT_ERR("verify-required " ED_KEY, "key option 'verify-required' "
	    "applies only to security keys (sk-ssh-ed25519@openssh.com, "
	    "sk-ecdsa-sha2-nistp256@openssh.com), not to this ssh-ed25519 "
	    "key");
	OPT_ERR("no-touch-required ecdsa-sha2-nistp256 AAAA x",
	    "key option 'no-touch-required' applies only to security keys");
	OPT_ERR("verify-required ssh-foo AAAA x",
	    "not an SSH public key line (unknown key type 'verify-required')");
	/* a security key whose blob is cut short, or has no application */
	make_sk_line(k1, sizeof(k1), 0, 1, "", "verify-required", NULL);
	OPT_ERR(k1, "security key data is not a well-formed "
	    "'sk-ssh-ed25519@openssh.com' key");
#undef OPT_ERR
}

static void
test_ssh_key_match(void **state)
{
	char ed[1024], sk[1024], sk_other_app[1024], ec[1024], fp[128];
	char cmd[2048], want[128];
	char *lines[4];
	unsigned char h[32], want_h[32];
	unsigned opts = 99;
	unsigned int mdlen;
	ssh_key key = NULL, edkey = NULL;
	FILE *f;
	const char *b;

	(void)state;
	rg_strlcpy(ed, ED_KEY, sizeof(ed));
	make_sk_line(sk, sizeof(sk), 0, 9, "ssh:", "verify-required",
	    "ann@token");
	make_sk_line(sk_other_app, sizeof(sk_other_app), 0, 9, "ssh:relgate",
	    NULL, NULL);
	make_sk_line(ec, sizeof(ec), 1, 0, "ssh:", "no-touch-required", NULL);
	lines[0] = ed;
	lines[1] = sk_other_app;
	lines[2] = sk;
	lines[3] = ec;
	assert_int_equal(ssh_authorized_line_check(sk, NULL), RG_OK);
	assert_int_equal(ssh_authorized_line_check(sk_other_app, NULL), RG_OK);
	assert_int_equal(ssh_authorized_line_check(ec, NULL), RG_OK);
	{
		struct diag d;

		diag_clear(&d);
		assert_int_equal(ssh_authorized_line_check("restrict " ED_KEY,
		    &d), RG_EPARSE);
		assert_non_null(strstr(d.msg, "key option 'restrict' is not "
		    "supported"));
		assert_int_equal(ssh_authorized_line_check("verify-required "
		    ED_KEY, &d), RG_EPARSE);
		assert_non_null(strstr(d.msg, "applies only to security keys"));
	}

	/* the key of the sk line (as a client offers it, no options) */
	b = strchr(sk, ' ') + 1;
	b = strchr(b, ' ') + 1;
	rg_strlcpy(cmd, b, sizeof(cmd));
	*strchr(cmd, ' ') = '\0';
	assert_int_equal(ssh_pki_import_pubkey_base64(cmd,
	    SSH_KEYTYPE_SK_ED25519, &key), SSH_OK);
	assert_int_equal(ssh_key_is_security_key(key), 1);
	assert_int_equal(ssh_key_match(key, lines, 4, &opts), 2);
	assert_int_equal(opts, SSHKEY_OPT_VERIFY_REQUIRED);
	assert_int_equal(ssh_key_authorized(key, lines, 4), 1);
	/* the same key with another application is another key */
	assert_int_equal(ssh_key_match(key, lines, 2, &opts), -1);
	assert_int_equal(opts, SSHKEY_OPT_VERIFY_REQUIRED);	/* untouched */
	assert_int_equal(ssh_key_authorized(key, lines, 2), 0);
	assert_int_equal(ssh_key_match(key, NULL, 0, &opts), -1);
	assert_int_equal(ssh_key_match(NULL, lines, 4, &opts), -1);
	/* lines with options relgate does not understand never match */
	{
		char bad[1100];
		char *one[1];

		snprintf(bad, sizeof(bad), "from=\"10.0.0.1\" %s",
		    strchr(sk, ' ') + 1);
		one[0] = bad;
		assert_int_equal(ssh_key_match(key, one, 1, NULL), -1);
		one[0] = sk;
		assert_int_equal(ssh_key_match(key, one, 1, NULL), 0);
	}

	/* an ordinary key: matched, no options, not a security key */
	assert_int_equal(ssh_pki_import_pubkey_base64("AAAAC3NzaC1lZDI1NTE5"
	    "AAAAIDV1akQjecpR34cO6nBAg1Y7DNF1THv2SNrAXm7dO+RR",
	    SSH_KEYTYPE_ED25519, &edkey), SSH_OK);
	assert_int_equal(ssh_key_is_security_key(edkey), 0);
	assert_int_equal(ssh_key_is_security_key(NULL), 0);
	opts = 99;
	assert_int_equal(ssh_key_match(edkey, lines, 4, &opts), 0);
	assert_int_equal(opts, 0);
	assert_int_equal(ssh_key_match(edkey, lines + 1, 3, &opts), -1);

	/* fingerprints as ssh-keygen -l prints them */
	put("fp.pub", ED_KEY "\n");
	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f '%s' | "
	    "awk '{ print $2 }'", p("fp.pub"));
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(want, sizeof(want), f));
	pclose(f);
	want[strcspn(want, "\n")] = '\0';
	assert_int_equal(strncmp(want, "SHA256:", 7), 0);
	assert_int_equal(ssh_key_fingerprint(edkey, fp, sizeof(fp)), RG_OK);
	assert_string_equal(fp, want);
	assert_int_equal(ssh_key_fingerprint(edkey, fp, 10), RG_ETOOBIG);
	assert_int_equal(ssh_key_fingerprint(NULL, fp, sizeof(fp)),
	    RG_ECRYPTO);
	snprintf(cmd, sizeof(cmd), "%s\n", strchr(sk, ' ') + 1);
	put("fp.pub", cmd);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f '%s' | "
	    "awk '{ print $2 }'", p("fp.pub"));
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(want, sizeof(want), f));
	pclose(f);
	want[strcspn(want, "\n")] = '\0';
	assert_int_equal(ssh_key_fingerprint(key, fp, sizeof(fp)), RG_OK);
	assert_string_equal(fp, want);
	rm("fp.pub");

	/* the FIDO application, hashed as the token's authenticator data
	 * carries it */
	assert_int_equal(EVP_Digest("ssh:", 4, want_h, &mdlen, EVP_sha256(),
	    NULL), 1);
	memset(h, 0, sizeof(h));
	assert_int_equal(ssh_line_sk_app_hash(sk, h), RG_OK);
	assert_memory_equal(h, want_h, 32);
	memset(h, 0, sizeof(h));
	assert_int_equal(ssh_line_sk_app_hash(ec, h), RG_OK);
	assert_memory_equal(h, want_h, 32);
	assert_int_equal(ssh_line_sk_app_hash(sk_other_app, h), RG_OK);
	assert_int_equal(EVP_Digest("ssh:relgate", 11, want_h, &mdlen,
	    EVP_sha256(), NULL), 1);
	assert_memory_equal(h, want_h, 32);
	assert_int_equal(ssh_line_sk_app_hash(ED_KEY, h), RG_EINVAL);
	assert_int_equal(ssh_line_sk_app_hash("sk-ssh-ed25519@openssh.com "
	    "AAAA", h), RG_EINVAL);
	assert_int_equal(ssh_line_sk_app_hash("restrict sk-ssh-ed25519@"
	    "openssh.com AAAA", h), RG_EINVAL);
	assert_int_equal(ssh_line_sk_app_hash("", h), RG_EINVAL);
	assert_int_equal(ssh_line_sk_app_hash(NULL, h), RG_EINVAL);
	/* an ed25519 blob under the sk-ecdsa name */
	{
		char line[1024], swapped[1100];

		make_sk_line(line, sizeof(line), 0, 1, "ssh:", NULL, NULL);
		snprintf(swapped, sizeof(swapped), "%s%s",
		    "sk-ecdsa-sha2-nistp256@openssh.com",
		    line + strlen("sk-ssh-ed25519@openssh.com"));
		assert_int_equal(ssh_line_sk_app_hash(swapped, h), RG_EINVAL);
	}
	ssh_key_free(key);
	ssh_key_free(edkey);
}

/* ---- the directory: passwords the roles need, keys with options ----- */

static void
test_dir_auth(void **state)
{
	struct config_dir *cd = NULL;
	struct diag d;
	char *t = contract_with(NULL, NULL, fpr_good);
	char k1[1024], k2[1024], text[4096];
	size_t i;

	(void)state;
	setup_dir(t);
	free(t);
	put("relgate.yaml", "auth:\n  approver: [publickey, password, totp]\n");
	put("users/iam-sam.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys: []\npassword_hash: " Y_HASH "\n");
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	/* a warning, never a problem: the file loads */
	assert_int_equal(cd->n_problems, 0);
	assert_int_equal(cd->n_users, 4);
	assert_int_equal(cd->n_contracts, 1);
	assert_int_equal(cd->n_warnings, 1);
	assert_string_equal(cd->warnings[0].diag.file, p("users/iam-jo.yaml"));
	assert_string_equal(cd->warnings[0].diag.msg, "warning: the roles of "
	    "'iam-jo' (approver) require a password, but the file has no "
	    "password_hash: 'iam-jo' cannot log in until one from `relgate "
	    "passwd iam-jo` is added");
	assert_string_equal(config_dir_user(cd, "iam-sam")->password_hash,
	    Y_HASH);
	config_dir_free(cd);
	/* several roles named; contractors not asked for one */
	put("relgate.yaml", "auth:\n  approver: [publickey, password]\n"
	    "  staff: [publickey, password, totp]\n");
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	assert_int_equal(cd->n_warnings, 1);
	assert_non_null(strstr(cd->warnings[0].diag.msg,
	    "'iam-jo' (staff, approver) require a password"));
	config_dir_free(cd);
	/* by default nobody needs one */
	rm("relgate.yaml");
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	assert_int_equal(cd->n_warnings, 0);
	config_dir_free(cd);

	/* the same security key under two users, one line with options */
	make_sk_line(k1, sizeof(k1), 0, 5, "ssh:", "verify-required", "jo");
	make_sk_line(k2, sizeof(k2), 0, 5, "ssh:", NULL, "sam");
	snprintf(text, sizeof(text), "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys:\n  - %s\n", k1);
	put("users/iam-jo.yaml", text);
	snprintf(text, sizeof(text), "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys:\n  - " ED_KEY "\n  - %s\n", k2);
	put("users/iam-sam.yaml", text);
	assert_int_equal(config_dir_load(&cd, tmpdir, &d), RG_OK);
	assert_true(cd->n_problems >= 1);
	assert_string_equal(cd->problems[0].diag.file, p("users/iam-sam.yaml"));
	assert_int_equal(cd->problems[0].diag.line, 5);
	assert_non_null(strstr(cd->problems[0].diag.msg,
	    "also users/iam-jo.yaml's"));
	assert_int_equal(config_dir_user(cd, "iam-jo")->ssh_key_opts[0],
	    SSHKEY_OPT_VERIFY_REQUIRED);
	for (i = 1; i < cd->n_problems; i++)
		assert_int_equal(cd->problems[i].kind, 2);
	config_dir_free(cd);
	put("users/iam-jo.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys: []\n");
	put("users/iam-sam.yaml", "roles: [staff, approver]\n"
	    "organisation: dwp\nssh_keys: []\n");
}


/* ---- setup ---------------------------------------------------------- */

static int
group_setup(void **state)
{
	char sub[4096];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/rg-test-contracts.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(sub, sizeof(sub), "mkdir -p '%s/users' '%s/contracts' "
	    "'%s/keys/pgp' '%s/gnupg' '%s/scantmp' && chmod 700 '%s/gnupg'",
	    tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
	if (run(sub) != 0)
		return -1;
	/* pgp_dir_scan makes its throwaway homes here, so the test can
	 * see that they are removed (gpg below gets GNUPGHOME explicitly) */
	snprintf(sub, sizeof(sub), "%s/scantmp", tmpdir);
	if (strlen(sub) > 60 || setenv("TMPDIR", sub, 1) != 0)
		return -1;
	snprintf(gnupghome, sizeof(gnupghome), "%s/gnupg", tmpdir);
	make_pgp_key(gnupghome, "Acme <a@acme.example>", "future-default",
	    "default", "2y", NULL, p("keys/pgp/acme.asc"), fpr_good);
	make_pgp_key(gnupghome, "Old <old@acme.example>", "future-default",
	    "default", "1d", "20200101T000000", p("keys/pgp/old.asc"),
	    fpr_expired);
	make_pgp_key(gnupghome, "Sign <sign@acme.example>", "ed25519",
	    "sign", "2y", NULL, p("keys/pgp/sign.asc"), fpr_signonly);
	make_pgp_key(gnupghome, "Soon <soon@acme.example>", "future-default",
	    "default", "10d", NULL, p("keys/pgp/soon.asc"), fpr_soon);
	/* the expired key, renewed: kept aside until a test wants it */
	snprintf(sub, sizeof(sub), "GNUPGHOME='%s' gpg --batch --quiet "
	    "--pinentry-mode loopback --passphrase '' --quick-set-expire %s 2y "
	    "&& GNUPGHOME='%s' gpg --batch --quiet --pinentry-mode loopback "
	    "--passphrase '' --quick-set-expire %s 2y '*' && GNUPGHOME='%s' "
	    "gpg --batch --armor --export %s > '%s/renewed.asc'", gnupghome,
	    fpr_expired, gnupghome, fpr_expired, gnupghome, fpr_expired,
	    tmpdir);
	if (run(sub) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[1024];

	(void)state;
	snprintf(cmd, sizeof(cmd), "gpgconf --homedir '%s' --kill all "
	    ">/dev/null 2>&1; rm -rf '%s'", gnupghome, tmpdir);
	return run(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_good),
		cmocka_unit_test(test_contract_active),
		cmocka_unit_test(test_contract_malformed),
		cmocka_unit_test(test_contract_unknown_key),
		cmocka_unit_test(test_contract_wrong_type),
		cmocka_unit_test(test_contract_missing),
		cmocka_unit_test(test_contract_bad_date),
		cmocka_unit_test(test_contract_duplicate),
		cmocka_unit_test(test_contract_rules),
		cmocka_unit_test(test_contract_dominance),
		cmocka_unit_test(test_contract_unmasked),
		cmocka_unit_test(test_contract_file),
		cmocka_unit_test(test_user_good),
		cmocka_unit_test(test_user_errors),
		cmocka_unit_test(test_gateway_config),
		cmocka_unit_test(test_request_doc),
		cmocka_unit_test(test_decision_doc),
		cmocka_unit_test(test_pgp_scan),
		cmocka_unit_test(test_dir_good),
		cmocka_unit_test(test_dir_approver_not_staff),
		cmocka_unit_test(test_dir_person_not_contractor),
		cmocka_unit_test(test_dir_shared_ssh_key),
		cmocka_unit_test(test_dir_warnings),
		cmocka_unit_test(test_dir_recipient_keys),
		cmocka_unit_test(test_dir_id_and_files),
		cmocka_unit_test(test_auth_defaults),
		cmocka_unit_test(test_auth_config),
		cmocka_unit_test(test_auth_errors),
		cmocka_unit_test(test_user_password_hash),
		cmocka_unit_test(test_user_key_options),
		cmocka_unit_test(test_ssh_key_match),
		cmocka_unit_test(test_dir_auth),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
