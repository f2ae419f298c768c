/*
 * gateway/demo.c — `relgated --demo [DIR] [--port N]`: a complete
 * demonstration setup made at run time (product.md "Starting it"):
 *
 *   DIR/etc/      relgate.yaml, users/, contracts/, keys/pgp/
 *   DIR/state/    the state directory (host keys made here already)
 *   DIR/client/USER/id_ed25519      each demo user's SSH key
 *   DIR/client/USER/totp.secret     its TOTP secret, base32 (every user
 *                                   is enrolled: the default second factor)
 *   DIR/client/acme-ana/gnupg/      contractors' GnuPG homes
 *   DIR/client/known_hosts          the gateway's host keys
 *   DIR/sample/   a clean sample extract for DEMO-2026-0001, request.yaml
 *
 * Everything is built in a temporary sibling folder and renamed into
 * place at the end, so a setup that failed half-way never looks complete.
 * Nothing secret comes from the repository: every key is made here.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/gateway.h"
#include "keys/keys.h"

#define LINE_MAX_DEMO	1024

struct demo_user {
	const char *name;
	const char *roles;
	const char *org;
	const char *comment;
	int	pgp;		/* contractor: gets a GnuPG home and key */
};

static const struct demo_user demo_users[] = {
	{ "staff-ann", "[staff]", "dwp",
	    "Analyst who prepares extracts.", 0 },
	{ "staff-ben", "[staff, approver]", "dwp",
	    "Analyst and approver (information asset manager).", 0 },
	{ "iam-jo", "[staff, approver]", "dwp",
	    "Information asset manager: authorises releases.", 0 },
	{ "acme-ana", "[contractor]", "acme-research",
	    "Researcher at Acme Research (DEMO-2026-0001).", 1 },
	{ "beta-bo", "[contractor]", "beta-analytics",
	    "Analyst at Beta Analytics (DEMO-2026-0002).", 1 },
	{ "sec-oli", "[officer]", "dwp",
	    "Security officer: reads the transfer log.", 0 },
};

static const char *role_of[] = {
	"staff", "staff and approver", "approver, staff too", "contractor",
	"contractor", "officer",
};

static int
pathf(char *out, size_t len, struct diag *d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
pathf(char *out, size_t len, struct diag *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return diag_set(d, RG_EINVAL, NULL, 0, 0, "path too long");
	return RG_OK;
}

static int
mkdir_mode(const char *path, mode_t mode, struct diag *d)
{
	if (dir_make(path, mode) != RG_OK || chmod(path, mode) == -1)
		return diag_set(d, RG_EIO, path, 0, 0, "cannot make: %s",
		    strerror(errno));
	return RG_OK;
}

static int
write_text(const char *path, const struct buf *b, mode_t mode,
    struct diag *d)
{
	return file_write_atomic(path, b->data, b->len, mode, d);
}

/*
 * Run a program (no shell) with GNUPGHOME set when home is not NULL;
 * stdout into out (may be NULL), stderr discarded. RG_OK on status 0.
 */
static int
run(char *const argv[], const char *home, struct buf *out, struct diag *d)
{
	int p[2], status, fd;
	pid_t pid;

	if (pipe(p) == -1)
		return diag_set(d, RG_EIO, NULL, 0, 0, "pipe: %s",
		    strerror(errno));
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return diag_set(d, RG_EIO, NULL, 0, 0, "fork: %s",
		    strerror(errno));
	}
	if (pid == 0) {
		if (home != NULL)
			setenv("GNUPGHOME", home, 1);
		dup2(p[1], STDOUT_FILENO);
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		close(p[0]);
		close(p[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		char tmp[4096];
		ssize_t n = read(p[0], tmp, sizeof(tmp));

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out != NULL)
			(void)buf_append(out, tmp, (size_t)n);
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return diag_set(d, RG_EIO, NULL, 0, 0, "%s %s failed (status "
		    "%d)", argv[0], argv[1] != NULL ? argv[1] : "",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return RG_OK;
}

/* Make a contractor's OpenPGP key in home; fingerprint into fpr[41]. */
static int
demo_pgp_key(const char *home, const char *user, const char *org,
    const char *asc_path, char fpr[41], struct diag *d)
{
	char uid[256], *line, *save = NULL;
	struct buf out;
	int rc;

	snprintf(uid, sizeof(uid), "%s <%s@%s.example>", user, user, org);
	{
		char *gen[] = { "gpg", "--batch", "--quiet", "--pinentry-mode",
		    "loopback", "--passphrase", "", "--quick-gen-key", uid,
		    "ed25519", "cert,sign", "2y", NULL };

		if ((rc = run(gen, home, NULL, d)) != RG_OK)
			return rc;
	}
	buf_init(&out, 64 * 1024);
	{
		char *list[] = { "gpg", "--batch", "--with-colons",
		    "--list-keys", uid, NULL };

		rc = run(list, home, &out, d);
	}
	fpr[0] = '\0';
	if (rc == RG_OK && buf_cstr(&out) == RG_OK) {
		for (line = strtok_r((char *)out.data, "\n", &save);
		    line != NULL; line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "fpr:", 4) == 0) {
				/* fpr:::::::::FINGERPRINT: (field 10) */
				const char *f = line;
				int field;

				for (field = 1; field < 10 && f != NULL;
				    field++) {
					f = strchr(f, ':');
					if (f != NULL)
						f++;
				}
				if (f != NULL && strlen(f) >= 40) {
					memcpy(fpr, f, 40);
					fpr[40] = '\0';
				}
				break;
			}
		}
	}
	buf_free(&out);
	if (rc != RG_OK)
		return rc;
	if (strlen(fpr) != 40 || strchr(fpr, ':') != NULL)
		return diag_set(d, RG_ECRYPTO, home, 0, 0,
		    "no fingerprint for the new key of %s", user);
	{
		char *sub[] = { "gpg", "--batch", "--quiet", "--pinentry-mode",
		    "loopback", "--passphrase", "", "--quick-add-key", fpr,
		    "cv25519", "encr", "2y", NULL };

		if ((rc = run(sub, home, NULL, d)) != RG_OK)
			return rc;
	}
	buf_init(&out, 256 * 1024);
	{
		char *exp[] = { "gpg", "--batch", "--armor", "--export", fpr,
		    NULL };

		rc = run(exp, home, &out, d);
	}
	if (rc == RG_OK && out.len == 0)
		rc = diag_set(d, RG_ECRYPTO, home, 0, 0, "empty key export");
	if (rc == RG_OK)
		rc = write_text(asc_path, &out, 0644, d);
	buf_free(&out);
	{
		char *kill_agent[] = { "gpgconf", "--homedir", (char *)home,
		    "--kill", "all", NULL };

		(void)run(kill_agent, NULL, NULL, NULL);
	}
	return rc;
}

static int
demo_relgate_yaml(const char *etc, const char *final, int port,
    struct diag *d)
{
	char path[PATH_MAX];
	struct buf b;
	int rc;

	buf_init(&b, 8192);
	buf_printf(&b,
	    "# relgated --demo: a demonstration gateway on loopback.\n"
	    "listen: 127.0.0.1\n"
	    "port: %d\n"
	    "state_dir: %s/state\n"
	    "max_sessions: 64\n"
	    "max_sessions_per_user: 8\n"
	    "idle_timeout: 600\n"
	    "auth_failures: {per_source: 10, per_user: 10, window: 60, "
	    "ban: 600}\n"
	    "log: stderr\n"
	    "checkpoint_every: 1000\n", port, final);
	if ((rc = pathf(path, sizeof(path), d, "%s/relgate.yaml", etc)) ==
	    RG_OK)
		rc = write_text(path, &b, 0644, d);
	buf_free(&b);
	return rc;
}

static int
demo_user_yaml(const char *etc, const struct demo_user *u,
    const char *keyline, struct diag *d)
{
	char path[PATH_MAX];
	struct buf b;
	int rc;

	buf_init(&b, 8192);
	buf_printf(&b, "# %s\nroles: %s\norganisation: %s\nssh_keys:\n"
	    "  - %s\n", u->comment, u->roles, u->org, keyline);
	if (strcmp(u->org, "dwp") == 0)
		buf_printf(&b, "training_expires: 2030-03-31\n");
	if ((rc = pathf(path, sizeof(path), d, "%s/users/%s.yaml", etc,
	    u->name)) == RG_OK)
		rc = write_text(path, &b, 0644, d);
	buf_free(&b);
	return rc;
}

static int
demo_contract_yaml(const char *etc, const char *id, const char *title,
    const char *org, const char *person, const char *fpr, struct diag *d)
{
	char path[PATH_MAX];
	struct buf b;
	int rc;

	buf_init(&b, 16384);
	buf_printf(&b,
	    "# Demonstration contract made by relgated --demo.\n"
	    "id: %s\n"
	    "version: 1\n"
	    "title: %s\n"
	    "purpose: Demonstrate a controlled release to a contractor.\n"
	    "status: active\n"
	    "valid_from: 2026-01-01\n"
	    "valid_until: 2028-12-31\n"
	    "contractor:\n"
	    "  organisation: %s\n"
	    "  assurance: {scheme: ISO27001, ref: \"DEMO-CERT\", "
	    "expires: 2029-06-30}\n"
	    "people: [%s]\n"
	    "approvers: [iam-jo, staff-ben]\n"
	    "approvals_required: 1\n"
	    "recipients:\n"
	    "  - %s\n"
	    "retention: {download_days: 14, max_downloads: 3}\n"
	    "datasets:\n"
	    "  benefit_claims:\n"
	    "    max_rows: 50000\n"
	    "    max_rows_total: 200000\n"
	    "    max_releases: 12\n"
	    "    one_row_per: person_id\n"
	    "    columns:\n"
	    "      person_id:   {masking: hmac-sha256}\n"
	    "      age_band:    {allowed: [\"16-24\",\"25-34\",\"35-44\","
	    "\"45-54\",\"55-64\",\"65+\"]}\n"
	    "      sex:         {allowed: [F, M]}\n"
	    "      region:      {}\n"
	    "      postcode_district: {granularity: postcode-district}\n"
	    "      benefit_type: {allowed: [\"Universal Credit\", "
	    "\"Pension Credit\", PIP, ESA, JSA, \"Carer's Allowance\"]}\n"
	    "      award_amount: {type: integer, min: 0, max: 100000, "
	    "rounding: 5}\n"
	    "      claim_start: {type: year-month}\n"
	    "      weeks_on_benefit: {type: integer, min: 0}\n"
	    "    quasi_identifiers: [age_band, sex, region]\n"
	    "    k_anonymity: 10\n",
	    id, title, org, person, fpr);
	if ((rc = pathf(path, sizeof(path), d, "%s/contracts/%s.yaml", etc,
	    id)) == RG_OK)
		rc = write_text(path, &b, 0644, d);
	buf_free(&b);
	return rc;
}

/*
 * The sample: 576 rows, 48 quasi-identifier classes of 12 (k = 10 holds),
 * person_id masked with DEMO-2026-0001's own key, as `relgate mask` would.
 */
static int
demo_sample(const char *sample, const char *state, struct diag *d)
{
	static const char *bands[] = { "16-24", "25-34", "35-44", "45-54",
	    "55-64", "65+" };
	static const char *regions[] = { "North East", "London", "Wales",
	    "Scotland" };
	static const char *benefits[] = { "Universal Credit",
	    "Pension Credit", "PIP", "ESA", "JSA", "Carer's Allowance" };
	static const char *districts[] = { "NE1", "NE4", "SW1", "E2", "CF10",
	    "CF24", "EH1", "G2" };
	unsigned char key[MASK_KEY_LEN];
	struct masker *m = NULL;
	char path[PATH_MAX], raw[32], tok[MASK_TOKEN_LEN + 1];
	struct buf b;
	unsigned r, s, a, i, n = 0;
	int rc;

	if ((rc = mask_key_load(key, state, "DEMO-2026-0001", 1, d)) != RG_OK)
		return rc;
	rc = masker_new(&m, key);
	rg_wipe(key, sizeof(key));
	if (rc != RG_OK)
		return diag_set(d, rc, NULL, 0, 0, "masker");
	buf_init(&b, 1 << 20);
	buf_printf(&b, "person_id,age_band,sex,region,postcode_district,"
	    "benefit_type,award_amount,claim_start,weeks_on_benefit\n");
	for (r = 0; r < 4; r++)
		for (a = 0; a < 6; a++)
			for (s = 0; s < 2; s++)
				for (i = 0; i < 12; i++, n++) {
					snprintf(raw, sizeof(raw), "DEMO%06u",
					    n + 1);
					if ((rc = masker_token(m, raw,
					    strlen(raw), tok)) != RG_OK)
						goto out;
					buf_printf(&b, "%s,%s,%s,%s,%s,\"%s\","
					    "%u,%u-%02u,%u\n", tok, bands[a],
					    s ? "M" : "F", regions[r],
					    districts[(r * 2 + i) % 8],
					    benefits[(n * 7) % 6],
					    ((n * 37) % 2000) * 5,
					    2018 + n % 8, 1 + n % 12,
					    1 + (n * 13) % 520);
				}
	if ((rc = pathf(path, sizeof(path), d, "%s/claims_sample.csv",
	    sample)) != RG_OK || (rc = write_text(path, &b, 0644, d)) != RG_OK)
		goto out;
	buf_reset(&b);
	buf_printf(&b,
	    "contract: DEMO-2026-0001\n"
	    "dataset: benefit_claims\n"
	    "files: [claims_sample.csv]\n"
	    "note: Demonstration extract, masked with relgate mask.\n");
	if ((rc = pathf(path, sizeof(path), d, "%s/request.yaml", sample)) ==
	    RG_OK)
		rc = write_text(path, &b, 0644, d);
out:
	if (rc != RG_OK && d != NULL && d->msg[0] == '\0')
		diag_set(d, rc, NULL, 0, 0, "cannot write the sample");
	masker_free(m);
	buf_free(&b);
	return rc;
}

/* known_hosts entries for the demo's host keys. */
static int
demo_known_hosts(const char *client, const char *ed, const char *ec,
    int port, struct diag *d)
{
	const char *keys[2] = { ed, ec };
	char path[PATH_MAX];
	struct buf b;
	size_t i;
	int rc = RG_OK;

	buf_init(&b, 8192);
	for (i = 0; i < 2 && rc == RG_OK; i++) {
		char *pub = NULL;
		size_t len;

		if ((rc = pathf(path, sizeof(path), d, "%s.pub", keys[i])) !=
		    RG_OK || (rc = file_read_small(&pub, &len, path, 4096,
		    d)) != RG_OK)
			break;
		buf_printf(&b, "[127.0.0.1]:%d %s", port, pub);
		free(pub);
	}
	if (rc == RG_OK && (rc = pathf(path, sizeof(path), d,
	    "%s/known_hosts", client)) == RG_OK)
		rc = write_text(path, &b, 0644, d);
	buf_free(&b);
	return rc;
}

/*
 * Make the gateway's OpenPGP key now (the worker would on first start) and
 * give the contractors' GnuPG homes its public key, certified locally, so
 * that `gpg -d` on a release says whose signature it carries. The key is
 * also left as client/gateway.asc.
 */
static int
demo_trust_gateway(const char *state, const char *client, struct diag *d)
{
	char fpr[41], asc[PATH_MAX], home[PATH_MAX], ghome[PATH_MAX];
	struct buf pub;
	size_t i;
	int rc;

	if ((rc = gateway_pgp_ensure(state, fpr, d)) != RG_OK)
		return rc;
	buf_init(&pub, 256 * 1024);
	rc = gateway_pgp_export(state, &pub, d);
	if (rc == RG_OK)
		rc = pathf(asc, sizeof(asc), d, "%s/gateway.asc", client);
	if (rc == RG_OK)
		rc = write_text(asc, &pub, 0644, d);
	buf_free(&pub);
	for (i = 0; rc == RG_OK && i < RG_ARRAY_LEN(demo_users); i++) {
		char *import[] = { "gpg", "--batch", "--quiet", "--import",
		    asc, NULL };
		char *lsign[] = { "gpg", "--batch", "--quiet", "--yes",
		    "--pinentry-mode", "loopback", "--passphrase", "",
		    "--quick-lsign-key", fpr, NULL };

		if (!demo_users[i].pgp)
			continue;
		if ((rc = pathf(home, sizeof(home), d, "%s/%s/gnupg", client,
		    demo_users[i].name)) != RG_OK ||
		    (rc = run(import, home, NULL, d)) != RG_OK ||
		    (rc = run(lsign, home, NULL, d)) != RG_OK)
			break;
		{
			char *kill_agent[] = { "gpgconf", "--homedir", home,
			    "--kill", "all", NULL };

			(void)run(kill_agent, NULL, NULL, NULL);
		}
	}
	/* the state folder is renamed into place: no agent may keep it */
	if (pathf(ghome, sizeof(ghome), NULL, "%s/gnupg", state) == RG_OK) {
		char *kill_agent[] = { "gpgconf", "--homedir", ghome, "--kill",
		    "all", NULL };

		(void)run(kill_agent, NULL, NULL, NULL);
	}
	return rc;
}

/*
 * Enrol user for TOTP (every role's second factor by default) and leave
 * the secret, base32, in client/USER/totp.secret for oathtool.
 */
static int
demo_totp(const char *state, const char *client, const char *user,
    struct diag *d)
{
	char b32[128], path[PATH_MAX];
	size_t n;
	int rc;

	if ((rc = auth_totp_enroll(state, user, 1, b32, sizeof(b32) - 1, d)) !=
	    RG_OK || (rc = pathf(path, sizeof(path), d, "%s/%s/totp.secret",
	    client, user)) != RG_OK)
		return rc;
	n = strlen(b32);
	b32[n++] = '\n';
	rc = file_write_atomic(path, b32, n, 0600, d);
	rg_wipe(b32, sizeof(b32));
	return rc;
}

static int
demo_build(const char *tmp, const char *final, int port, struct diag *d)
{
	char etc[PATH_MAX], state[PATH_MAX], client[PATH_MAX], p[PATH_MAX];
	char ed[PATH_MAX], ec[PATH_MAX], line[LINE_MAX_DEMO];
	char fpr_acme[41] = "", fpr_beta[41] = "", comment[128];
	static const char *subdirs[] = { "etc", "etc/users", "etc/contracts",
	    "etc/keys", "etc/keys/pgp", "client", "sample" };
	size_t i;
	int rc;

	for (i = 0; i < RG_ARRAY_LEN(subdirs); i++) {
		if ((rc = pathf(p, sizeof(p), d, "%s/%s", tmp, subdirs[i])) !=
		    RG_OK || (rc = mkdir_mode(p, 0755, d)) != RG_OK)
			return rc;
	}
	if ((rc = pathf(etc, sizeof(etc), d, "%s/etc", tmp)) != RG_OK ||
	    (rc = pathf(state, sizeof(state), d, "%s/state", tmp)) != RG_OK ||
	    (rc = pathf(client, sizeof(client), d, "%s/client", tmp)) != RG_OK ||
	    (rc = mkdir_mode(state, 0700, d)) != RG_OK ||
	    (rc = demo_relgate_yaml(etc, final, port, d)) != RG_OK)
		return rc;
	for (i = 0; i < RG_ARRAY_LEN(demo_users); i++) {
		const struct demo_user *u = &demo_users[i];

		if ((rc = pathf(p, sizeof(p), d, "%s/%s", client, u->name)) !=
		    RG_OK || (rc = mkdir_mode(p, 0700, d)) != RG_OK ||
		    (rc = pathf(p, sizeof(p), d, "%s/%s/id_ed25519", client,
		    u->name)) != RG_OK)
			return rc;
		snprintf(comment, sizeof(comment), "%s@relgate-demo", u->name);
		if ((rc = ssh_userkey_generate(p, comment, line, sizeof(line),
		    d)) != RG_OK ||
		    (rc = demo_user_yaml(etc, u, line, d)) != RG_OK ||
		    (rc = demo_totp(state, client, u->name, d)) != RG_OK)
			return rc;
		if (u->pgp) {
			char home[PATH_MAX], asc[PATH_MAX];

			if ((rc = pathf(home, sizeof(home), d, "%s/%s/gnupg",
			    client, u->name)) != RG_OK ||
			    (rc = mkdir_mode(home, 0700, d)) != RG_OK ||
			    (rc = pathf(asc, sizeof(asc), d, "%s/keys/pgp/%s.asc",
			    etc, u->name)) != RG_OK ||
			    (rc = demo_pgp_key(home, u->name, u->org, asc,
			    strcmp(u->name, "acme-ana") == 0 ? fpr_acme :
			    fpr_beta, d)) != RG_OK)
				return rc;
		}
	}
	if ((rc = demo_contract_yaml(etc, "DEMO-2026-0001",
	    "Benefit uptake evaluation (demo)", "acme-research", "acme-ana",
	    fpr_acme, d)) != RG_OK ||
	    (rc = demo_contract_yaml(etc, "DEMO-2026-0002",
	    "Claimant journeys study (demo)", "beta-analytics", "beta-bo",
	    fpr_beta, d)) != RG_OK)
		return rc;
	/* the sample's masking key and the host keys live in the state dir */
	if ((rc = pathf(p, sizeof(p), d, "%s/sample", tmp)) != RG_OK ||
	    (rc = demo_sample(p, state, d)) != RG_OK)
		return rc;
	if ((rc = ssh_hostkeys_ensure(state, ed, ec, sizeof(ed), d)) != RG_OK ||
	    (rc = demo_trust_gateway(state, client, d)) != RG_OK)
		return rc;
	return demo_known_hosts(client, ed, ec, port, d);
}

/* Make the demo in dir unless it exists; DIR/etc into config_dir. */
int
demo_setup(const char *dir, int port, char *config_dir, size_t len,
    struct diag *d)
{
	char abs[PATH_MAX], parent[PATH_MAX], tmp[PATH_MAX + 32], *slash;
	struct stat st;
	int rc;

	if (stat(dir, &st) == 0) {
		if (realpath(dir, abs) == NULL)
			return diag_set(d, RG_EIO, dir, 0, 0, "%s",
			    strerror(errno));
		if ((rc = pathf(config_dir, len, d, "%s/etc", abs)) != RG_OK)
			return rc;
		if (stat(config_dir, &st) == -1 || !S_ISDIR(st.st_mode))
			return diag_set(d, RG_EEXIST, dir, 0, 0, "exists but "
			    "holds no demo setup (no etc/)");
		fprintf(stderr, "relgated: using the demo setup in %s\n", abs);
		return RG_OK;
	}
	/* absolute path of the final folder: its parent must exist */
	rg_strlcpy(parent, dir, sizeof(parent));
	slash = strrchr(parent, '/');
	while (slash != NULL && slash != parent && slash[1] == '\0') {
		*slash = '\0';
		slash = strrchr(parent, '/');
	}
	if (slash == NULL) {
		if (getcwd(abs, sizeof(abs)) == NULL)
			return diag_set(d, RG_EIO, NULL, 0, 0, "getcwd: %s",
			    strerror(errno));
		if ((rc = pathf(tmp, sizeof(tmp), d, "%s/%s", abs, parent)) !=
		    RG_OK)
			return rc;
	} else {
		char base[PATH_MAX];

		rg_strlcpy(base, slash + 1, sizeof(base));
		*slash = '\0';
		if (realpath(parent[0] != '\0' ? parent : "/", abs) == NULL)
			return diag_set(d, RG_EIO, parent, 0, 0, "%s",
			    strerror(errno));
		if ((rc = pathf(tmp, sizeof(tmp), d, "%s/%s",
		    strcmp(abs, "/") == 0 ? "" : abs, base)) != RG_OK)
			return rc;
	}
	rg_strlcpy(abs, tmp, sizeof(abs));
	if ((rc = pathf(tmp, sizeof(tmp), d, "%s.tmp-%ld", abs,
	    (long)getpid())) != RG_OK)
		return rc;
	fprintf(stderr, "relgated: making a demo setup in %s ...\n", abs);
	if (mkdir(tmp, 0755) == -1)
		return diag_set(d, RG_EIO, tmp, 0, 0, "cannot make: %s",
		    strerror(errno));
	rc = demo_build(tmp, abs, port, d);
	if (rc == RG_OK && rename(tmp, abs) == -1)
		rc = diag_set(d, RG_EIO, abs, 0, 0, "rename: %s",
		    strerror(errno));
	if (rc != RG_OK) {
		char *rm[] = { "rm", "-rf", tmp, NULL };

		(void)run(rm, NULL, NULL, NULL);
		return rc;
	}
	return pathf(config_dir, len, d, "%s/etc", abs);
}

/* The sftp command lines for each demo role. */
void
demo_print_usage(FILE *f, const char *dir, int port)
{
	char abs[PATH_MAX];
	size_t i;

	if (realpath(dir, abs) == NULL)
		rg_strlcpy(abs, dir, sizeof(abs));
	fprintf(f, "\nrelgate demo on 127.0.0.1 port %d. Every role signs in "
	    "with its key and a\nverification code (TOTP); print the code "
	    "for the sftp prompt with\n  oathtool --totp -b $(cat "
	    "%s/client/USER/totp.secret)\nTry each role:\n\n", port, abs);
	for (i = 0; i < RG_ARRAY_LEN(demo_users); i++)
		fprintf(f, "  # %s (%s); code: oathtool --totp -b $(cat "
		    "%s/client/%s/totp.secret)\n"
		    "  sftp -P %d -i %s/client/%s/id_ed25519"
		    " -o UserKnownHostsFile=%s/client/known_hosts %s@127.0.0.1"
		    "\n\n", demo_users[i].name, role_of[i], abs,
		    demo_users[i].name, port, abs, demo_users[i].name, abs,
		    demo_users[i].name);
	fprintf(f, "  # staff-ann submits the sample (request.yaml last):\n"
	    "  #   mkdir /requests/sample1\n"
	    "  #   put %s/sample/claims_sample.csv /requests/sample1/\n"
	    "  #   put %s/sample/request.yaml /requests/sample1/\n"
	    "  # acme-ana decrypts a release:\n"
	    "  #   GNUPGHOME=%s/client/acme-ana/gnupg gpg -d R.tar.zst.gpg |"
	    " tar --zstd -x\n\n", abs, abs, abs);
	fflush(f);
}
