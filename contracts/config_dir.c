/*
 * The whole configuration directory: relgate.yaml, users/, contracts/ and
 * keys/pgp/, checked against each other. A bad file is left out and
 * recorded; the rest still loads.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "contracts/contracts.h"
#include "contracts/ytree.h"
#include "keys/keys.h"

#define CONFIG_DIR_MAX_FILES	100000

/* Free a loaded directory and everything in it; NULL-safe. */
void
config_dir_free(struct config_dir *cd)
{
	size_t i;

	if (cd == NULL)
		return;
	for (i = 0; i < cd->n_users; i++)
		user_free(cd->users[i]);
	free(cd->users);
	for (i = 0; i < cd->n_contracts; i++)
		contract_free(cd->contracts[i]);
	free(cd->contracts);
	free(cd->problems);
	free(cd->warnings);
	free(cd->keys);
	free(cd->dir);
	free(cd);
}

/* Borrowed pointer to the loaded user called name, or NULL. */
const struct user *
config_dir_user(const struct config_dir *cd, const char *name)
{
	size_t i;

	if (cd == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cd->n_users; i++)
		if (strcmp(cd->users[i]->name, name) == 0)
			return cd->users[i];
	return NULL;
}

/* Borrowed pointer to the loaded contract with this id, or NULL. */
const struct contract *
config_dir_contract(const struct config_dir *cd, const char *id)
{
	size_t i;

	if (cd == NULL || id == NULL)
		return NULL;
	for (i = 0; i < cd->n_contracts; i++)
		if (strcmp(cd->contracts[i]->id, id) == 0)
			return cd->contracts[i];
	return NULL;
}

static int
add_problem(struct config_dir *cd, int kind, int err, const struct diag *dg)
{
	struct config_problem *p;

	p = realloc(cd->problems, (cd->n_problems + 1) * sizeof(*p));
	if (p == NULL)
		return RG_ENOMEM;
	cd->problems = p;
	p += cd->n_problems++;
	memset(p, 0, sizeof(*p));
	p->diag = *dg;
	p->err = err;
	p->kind = kind;
	return RG_OK;
}

static int
add_warning(struct config_dir *cd, int kind, const char *file,
    struct src_pos pos, const char *msg)
{
	struct config_problem *p;

	p = realloc(cd->warnings, (cd->n_warnings + 1) * sizeof(*p));
	if (p == NULL)
		return RG_ENOMEM;
	cd->warnings = p;
	p += cd->n_warnings++;
	memset(p, 0, sizeof(*p));
	diag_set(&p->diag, RG_OK, file, pos.line, pos.col, "%s", msg);
	p->kind = kind;
	return RG_OK;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The *.yaml names in dir, sorted. A missing folder is an empty list.
 * Other files are ignored; hidden files too.
 */
static int
list_yaml(char ***out, size_t *n, const char *dir)
{
	struct dirent *de;
	char **list = NULL, **nl;
	size_t cnt = 0, size = 0, len;
	DIR *dp;

	*out = NULL;
	*n = 0;
	if ((dp = opendir(dir)) == NULL)
		return errno == ENOENT ? RG_OK : RG_EIO;
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		if (cnt >= CONFIG_DIR_MAX_FILES)
			break;
		if (cnt == size) {
			size = size ? size * 2 : 16;
			if ((nl = realloc(list, size * sizeof(*nl))) == NULL)
				goto nomem;
			list = nl;
		}
		if ((list[cnt] = strdup(de->d_name)) == NULL)
			goto nomem;
		cnt++;
	}
	closedir(dp);
	if (cnt > 0)
		qsort(list, cnt, sizeof(*list), cmp_str);
	*out = list;
	*n = cnt;
	return RG_OK;
nomem:
	closedir(dp);
	strlist_free(list, cnt);
	return RG_ENOMEM;
}

static int
push_ptr(void ***arr, size_t *n, void *p)
{
	void **na = realloc(*arr, (*n + 1) * sizeof(*na));

	if (na == NULL)
		return RG_ENOMEM;
	na[(*n)++] = p;
	*arr = na;
	return RG_OK;
}

static long	today_days(void);
static const struct pgp_keyinfo *find_key(const struct pgp_keyinfo *keys,
		    size_t n, const char *fpr, long today);

/* Warnings about a user that loads but cannot log in. */
static int
user_warnings(struct config_dir *cd, const struct user *u, long today)
{
	struct src_pos none = { 0, 0 };
	char when[32], msg[512], roles[64] = "";
	size_t i, o;
	int rc;

	if (u->valid_until != DATE_UNSET && u->valid_until < today) {
		date_format(u->valid_until, when, sizeof(when));
		snprintf(msg, sizeof(msg), "warning: the account of '%s' "
		    "ended on %s (valid_until): it cannot log in", u->name,
		    when);
		if ((rc = add_warning(cd, 1, u->path, none, msg)) != RG_OK)
			return rc;
	}
	if (u->training_expires != DATE_UNSET && u->training_expires < today) {
		date_format(u->training_expires, when, sizeof(when));
		snprintf(msg, sizeof(msg), "warning: the information-security "
		    "training of '%s' expired on %s: it cannot log in",
		    u->name, when);
		if ((rc = add_warning(cd, 1, u->path, none, msg)) != RG_OK)
			return rc;
	}
	if ((auth_factors_for(&cd->cfg, u->roles) & FACTOR_PASSWORD) &&
	    u->password_hash == NULL) {
		/* which roles ask for it; role bit i is auth_role_factors[i] */
		for (i = 0, o = 0; i < 4; i++)
			if ((u->roles & (1u << i)) &&
			    (cd->cfg.auth_role_factors[i] & FACTOR_PASSWORD))
				o += (size_t)snprintf(roles + o,
				    sizeof(roles) - o, "%s%s", o ? ", " : "",
				    role_name(1u << i));
		snprintf(msg, sizeof(msg), "warning: the roles of '%s' (%s) "
		    "require a password, but the file has no password_hash: "
		    "'%s' cannot log in until one from `relgate passwd %s` is "
		    "added", u->name, roles, u->name, u->name);
		if ((rc = add_warning(cd, 1, u->path, none, msg)) != RG_OK)
			return rc;
	}
	if (auth_factors_for(&cd->cfg, u->roles) & FACTOR_SECURITY_KEY) {
		unsigned char app[32];

		for (i = 0; i < u->n_ssh_keys; i++)
			if (ssh_line_sk_app_hash(u->ssh_keys[i], app) == RG_OK)
				break;
		if (i == u->n_ssh_keys) {
			snprintf(msg, sizeof(msg), "warning: the roles of '%s' "
			    "require a security key, but ssh_keys holds no "
			    "FIDO key (sk-ssh-ed25519@openssh.com, "
			    "sk-ecdsa-sha2-nistp256@openssh.com): '%s' cannot "
			    "log in", u->name, u->name);
			if ((rc = add_warning(cd, 1, u->path, none, msg)) !=
			    RG_OK)
				return rc;
		}
	}
	return RG_OK;
}

/* Warnings about a contract that loads but is not usable as it stands. */
static int
contract_warnings(struct config_dir *cd, const struct contract *c,
    const struct pgp_keyinfo *keys, size_t n_keys, long today)
{
	const struct pgp_keyinfo *k;
	char why[160], when[32], msg[512];
	size_t i;
	int rc;

	if (c->status == CONTRACT_ACTIVE &&
	    !contract_is_active(c, today, why, sizeof(why))) {
		snprintf(msg, sizeof(msg), "warning: status is active, but %s",
		    why);
		if ((rc = add_warning(cd, 2, c->path, c->id_pos, msg)))
			return rc;
	}
	for (i = 0; i < c->n_recipients; i++) {
		k = find_key(keys, n_keys, c->recipients[i], today);
		if (k == NULL || k->expires == DATE_UNSET ||
		    k->expires > today + 30)
			continue;
		date_format(k->expires, when, sizeof(when));
		snprintf(msg, sizeof(msg), "warning: the key of recipient %s "
		    "(%s) expires on %s", c->recipients[i], k->file, when);
		if ((rc = add_warning(cd, 2, c->path, c->recipients_pos[i],
		    msg)))
			return rc;
	}
	return RG_OK;
}

/* The key of an authorized_keys line without its options and comment:
 * "TYPE BASE64". */
static size_t
ssh_key_span(const char *line, const char **start)
{
	const char *p = line, *e;
	unsigned opts;
	size_t off;
	char why[8];

	/* the lines loaded already, so their options are understood */
	if (ssh_line_options(line, &opts, &off, why, sizeof(why)) == RG_OK)
		p = line + off;
	while (*p == ' ' || *p == '\t')
		p++;
	*start = p;
	e = p + strcspn(p, " \t");		/* type */
	e += strspn(e, " \t");
	e += strcspn(e, " \t");		/* base64 */
	return (size_t)(e - p);
}

/* An SSH key already held by an earlier user, or NULL. */
static const struct user *
ssh_key_owner(const struct config_dir *cd, const char *line)
{
	const char *a, *b;
	size_t la, lb, i, j;

	la = ssh_key_span(line, &a);
	for (i = 0; i < cd->n_users; i++)
		for (j = 0; j < cd->users[i]->n_ssh_keys; j++) {
			lb = ssh_key_span(cd->users[i]->ssh_keys[j], &b);
			if (la == lb && memcmp(a, b, la) == 0)
				return cd->users[i];
		}
	return NULL;
}

static int
load_users(struct config_dir *cd, const char *dir)
{
	char sub[PATH_MAX], path[PATH_MAX];
	char **names = NULL;
	size_t n = 0, i, j;
	struct diag dg;
	long today = today_days();
	int rc = RG_OK;

	snprintf(sub, sizeof(sub), "%s/users", dir);
	if ((rc = list_yaml(&names, &n, sub)) != RG_OK) {
		diag_set(&dg, rc, sub, 0, 0, "cannot read folder: %s",
		    rg_strerror(rc));
		return add_problem(cd, 1, rc, &dg);
	}
	for (i = 0; i < n; i++) {
		struct user *u = NULL;

		diag_clear(&dg);
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", sub,
		    names[i]) >= sizeof(path))
			continue;
		rc = user_load(&u, path, &dg);
		if (rc == RG_ENOMEM)
			break;
		if (rc != RG_OK) {
			if ((rc = add_problem(cd, 1, rc, &dg)) != RG_OK)
				break;
			continue;
		}
		/* One key, one person: every access is someone's. */
		for (j = 0; j < u->n_ssh_keys; j++) {
			const struct user *o = ssh_key_owner(cd, u->ssh_keys[j]);

			if (o == NULL)
				continue;
			diag_set(&dg, RG_EINVAL, path, u->ssh_keys_pos[j].line,
			    u->ssh_keys_pos[j].col, "this SSH key is also "
			    "users/%s.yaml's; every user needs keys of their "
			    "own", o->name);
			break;
		}
		if (j < u->n_ssh_keys) {
			user_free(u);
			if ((rc = add_problem(cd, 1, RG_EINVAL, &dg)) != RG_OK)
				break;
			continue;
		}
		if ((rc = push_ptr((void ***)&cd->users, &cd->n_users, u))) {
			user_free(u);
			break;
		}
		if ((rc = user_warnings(cd, u, today)) != RG_OK)
			break;
	}
	strlist_free(names, n);
	return rc == RG_ENOMEM ? RG_ENOMEM : RG_OK;
}

static long
today_days(void)
{
	char buf[16];
	long t = 0;

	date_today(buf, sizeof(buf));
	if (date_parse(buf, &t) != RG_OK)
		return 0;
	return t;
}

static int
key_usable(const struct pgp_keyinfo *k, long today)
{
	return !k->revoked && k->can_encrypt &&
	    (k->expires == DATE_UNSET || k->expires > today);
}

/* The key holding fingerprint fpr (primary or subkey); a usable one when
 * several files hold it (an old and a renewed copy). */
static const struct pgp_keyinfo *
find_key(const struct pgp_keyinfo *keys, size_t n, const char *fpr,
    long today)
{
	const struct pgp_keyinfo *found = NULL;
	size_t i, j;

	for (i = 0; i < n; i++) {
		int match = strcasecmp(keys[i].fpr, fpr) == 0;

		for (j = 0; !match && j < keys[i].n_subkeys && j < 8; j++)
			match = strcasecmp(keys[i].subkey_fprs[j], fpr) == 0;
		if (!match)
			continue;
		if (key_usable(&keys[i], today))
			return &keys[i];
		if (found == NULL)
			found = &keys[i];
	}
	return found;
}

/*
 * Check one contract against the users and keys. Every problem found is
 * recorded; returns the number of problems (the contract is left out when
 * there is any), or RG_ENOMEM.
 */
static int
cross_check(struct config_dir *cd, const struct contract *c,
    const char *fname, const struct pgp_keyinfo *keys, size_t n_keys,
    int keys_ok, long today)
{
	const char *f = c->path;
	struct diag dg;
	size_t i, len;
	int bad = 0;
	char when[32];

#define PROBLEM(pos, ...) do {						\
		diag_set(&dg, RG_EINVAL, f, (pos).line, (pos).col,	\
		    __VA_ARGS__);					\
		if (add_problem(cd, 2, RG_EINVAL, &dg) != RG_OK)	\
			return RG_ENOMEM;				\
		bad++;							\
	} while (0)

	len = strlen(fname);
	if (len < 5 || strlen(c->id) != len - 5 ||
	    strncmp(c->id, fname, len - 5) != 0)
		PROBLEM(c->id_pos, "contract id '%s' does not match its file "
		    "name '%s' (must be ID.yaml)", c->id, fname);
	if (config_dir_contract(cd, c->id) != NULL)
		PROBLEM(c->id_pos, "contract id '%s' is used by another "
		    "contract", c->id);
	for (i = 0; i < c->n_approvers; i++) {
		const struct user *u = config_dir_user(cd, c->approvers[i]);

		if (u == NULL)
			PROBLEM(c->approvers_pos[i], "approver '%s' is not a "
			    "user (no valid users/%s.yaml)", c->approvers[i],
			    c->approvers[i]);
		else if (!(u->roles & ROLE_APPROVER))
			PROBLEM(c->approvers_pos[i], "approver '%s' does not "
			    "have the approver role", c->approvers[i]);
		/* (an approver who is not staff is a bad user file, never
		 * loaded: user.c) */
	}
	for (i = 0; i < c->n_people; i++) {
		const struct user *u = config_dir_user(cd, c->people[i]);

		if (u == NULL)
			PROBLEM(c->people_pos[i], "person '%s' is not a user "
			    "(no valid users/%s.yaml)", c->people[i],
			    c->people[i]);
		else if (!(u->roles & ROLE_CONTRACTOR))
			PROBLEM(c->people_pos[i], "person '%s' does not have "
			    "the contractor role", c->people[i]);
		else if (strcmp(u->organisation, c->organisation) != 0)
			PROBLEM(c->people_pos[i], "person '%s' belongs to "
			    "organisation '%s', not the contractor '%s'",
			    c->people[i], u->organisation, c->organisation);
	}
	for (i = 0; i < c->n_recipients; i++) {
		const struct pgp_keyinfo *k;

		k = find_key(keys, n_keys, c->recipients[i], today);
		if (k == NULL)
			PROBLEM(c->recipients_pos[i], "recipient %s has no key "
			    "in keys/pgp%s", c->recipients[i], keys_ok ? "" :
			    " (keys/pgp could not be read)");
		else if (k->revoked)
			PROBLEM(c->recipients_pos[i], "recipient %s: key in %s "
			    "is revoked", c->recipients[i], k->file);
		else if (k->expires != DATE_UNSET && k->expires <= today) {
			date_format(k->expires, when, sizeof(when));
			PROBLEM(c->recipients_pos[i], "recipient %s: key in %s "
			    "expired on %s", c->recipients[i], k->file, when);
		} else if (!k->can_encrypt)
			PROBLEM(c->recipients_pos[i], "recipient %s: key in %s "
			    "has no usable encryption key", c->recipients[i],
			    k->file);
	}
#undef PROBLEM
	return bad;
}

static int
load_contracts(struct config_dir *cd, const char *dir)
{
	char sub[PATH_MAX], path[PATH_MAX], kdir[PATH_MAX];
	struct pgp_keyinfo *keys = NULL;
	struct diag *badk = NULL;
	size_t n_keys = 0, n_badk = 0, n = 0, i;
	char **names = NULL;
	struct diag dg;
	long today = today_days();
	int rc, keys_ok = 1;

	snprintf(kdir, sizeof(kdir), "%s/keys/pgp", dir);
	diag_clear(&dg);
	rc = pgp_dir_scan_ex(&keys, &n_keys, &badk, &n_badk, kdir, &dg);
	if (rc == RG_ENOMEM)
		return rc;
	if (rc != RG_OK) {
		keys_ok = 0;
		if ((rc = add_problem(cd, 3, rc, &dg)) != RG_OK)
			return rc;
	}
	for (i = 0; i < n_badk; i++)
		if ((rc = add_problem(cd, 3, RG_EINVAL, &badk[i])) != RG_OK)
			goto out;
	snprintf(sub, sizeof(sub), "%s/contracts", dir);
	if ((rc = list_yaml(&names, &n, sub)) != RG_OK) {
		diag_set(&dg, rc, sub, 0, 0, "cannot read folder: %s",
		    rg_strerror(rc));
		rc = add_problem(cd, 2, rc, &dg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct contract *c = NULL;

		diag_clear(&dg);
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", sub,
		    names[i]) >= sizeof(path))
			continue;
		rc = contract_load(&c, path, &dg);
		if (rc == RG_ENOMEM)
			goto out;
		if (rc != RG_OK) {
			if ((rc = add_problem(cd, 2, rc, &dg)) != RG_OK)
				goto out;
			continue;
		}
		rc = cross_check(cd, c, names[i], keys, n_keys, keys_ok,
		    today);
		if (rc != 0) {
			contract_free(c);
			if (rc < 0)
				goto out;
			continue;
		}
		rc = push_ptr((void ***)&cd->contracts, &cd->n_contracts, c);
		if (rc != RG_OK) {
			contract_free(c);
			goto out;
		}
		if ((rc = contract_warnings(cd, c, keys, n_keys, today)))
			goto out;
	}
	rc = RG_OK;
	/* kept for the daemon's key.added / key.expired records */
	cd->keys = keys;
	cd->n_keys = n_keys;
	keys = NULL;
out:
	strlist_free(names, n);
	free(keys);
	free(badk);
	return rc;
}

/*
 * Load DIR as described in contracts.h. Returns an error (and no *out)
 * only when DIR itself cannot be read or memory runs out; every problem
 * with a file is in (*out)->problems.
 */
int
config_dir_load(struct config_dir **out, const char *dir, struct diag *d)
{
	struct config_dir *cd;
	char path[PATH_MAX];
	struct stat st;
	struct diag dg;
	int rc;

	*out = NULL;
	if (stat(dir, &st) == -1)
		return diag_set(d, errno == ENOENT ? RG_ENOENT : RG_EIO, dir,
		    0, 0, "cannot read configuration directory: %s",
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return diag_set(d, RG_EINVAL, dir, 0, 0,
		    "not a directory");
	if ((cd = calloc(1, sizeof(*cd))) == NULL ||
	    (cd->dir = strdup(dir)) == NULL) {
		free(cd);
		return diag_set(d, RG_ENOMEM, dir, 0, 0, "out of memory");
	}
	snprintf(path, sizeof(path), "%s/relgate.yaml", dir);
	diag_clear(&dg);
	rc = gateway_config_load(&cd->cfg, path, &dg);
	if (rc == RG_ENOMEM)
		goto fail;
	if (rc != RG_OK && (rc = add_problem(cd, 0, rc, &dg)) != RG_OK)
		goto fail;
	if ((rc = load_users(cd, dir)) != RG_OK)
		goto fail;
	if ((rc = load_contracts(cd, dir)) != RG_OK)
		goto fail;
	*out = cd;
	return RG_OK;
fail:
	config_dir_free(cd);
	return diag_set(d, rc, dir, 0, 0, "%s", rg_strerror(rc));
}
