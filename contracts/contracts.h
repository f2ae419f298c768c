/*
 * contracts/ — the gateway's model of its configuration directory:
 * relgate.yaml, users/NAME.yaml, contracts/ID.yaml, plus the small YAML
 * documents users upload (request.yaml, decision.yaml). Loading is strict:
 * an unknown key, a wrong type, a missing field or an inconsistency is an
 * error naming file, line and column (struct diag).
 *
 * A library: never exits, never prints, never touches the network.
 * Dates are kept as days since 1970-01-01 (see date_parse()); a date that
 * is not set is DATE_UNSET. Numbers that are not set are -1 unless noted.
 */
#ifndef RG_CONTRACTS_H
#define RG_CONTRACTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define DATE_UNSET	(-1000000L)

/* Where something was written in its file (1-based; 0 when unknown). */
struct src_pos {
	unsigned long line, col;
};

/* ---- relgate.yaml ---------------------------------------------------- */

/* notify: e-mail through the department's relay (product.md
 * "Notifications"). enabled is 0 without a notify: block: no mail. */
struct notify_config {
	int	enabled;
	char	smtp[512];		/* smtp://HOST[:PORT] or smtps://... */
	char	from[256];		/* addr-spec */
	int	starttls;		/* 1 required, 0 off (loopback only) */
	char	ca_file[512];		/* "" : the system's CAs */
	char	user[128];		/* "" : no AUTH */
	char	password_file[512];	/* with user: 0600, absolute */
	int	retry_first;		/* seconds before the 1st retry, 30 */
	int	retry_max;		/* back-off cap, seconds, 3600 */
	int	attempts;		/* tries before notify.failed, 12 */
};

struct gateway_config {
	char	listen[64];		/* default "0.0.0.0" */
	int	port;			/* default 2222 */
	char	state_dir[512];		/* default /var/lib/relgate */
	int	max_sessions;		/* default 256 */
	int	max_sessions_per_user;	/* default 8 */
	int	idle_timeout;		/* seconds, default 600 */
	int	auth_fail_per_source;	/* default 10 */
	int	auth_fail_per_user;	/* default 10 */
	int	auth_fail_window;	/* seconds, default 60 */
	int	auth_fail_ban;		/* seconds, default 600 */
	int	log_syslog;		/* 1: syslog (default), 0: stderr */
	int	checkpoint_every;	/* default 1000 */
	char	run_as[64];		/* optional: system user sessions drop to */
	int	syslog_audit;		/* forward audit records to syslog */
	/* auth: the factors (enum auth_factor bits) each role must present;
	 * index 0 staff, 1 approver, 2 contractor, 3 officer. Always holds
	 * FACTOR_PUBLICKEY or FACTOR_SECURITY_KEY, never both (a FIDO key
	 * is both: security-key stands for the two). */
	unsigned auth_role_factors[4];	/* default publickey, totp */
	int	totp_digits;		/* 6..8, default 6 */
	int	totp_period;		/* seconds, 10..300, default 30 */
	int	totp_skew;		/* periods either side, 0..5, default 1 */
	struct notify_config notify;
};

/* The factors of `auth:` in relgate.yaml. */
enum auth_factor {
	FACTOR_PUBLICKEY	= 1 << 0,
	FACTOR_SECURITY_KEY	= 1 << 1,
	FACTOR_PASSWORD		= 1 << 2,
	FACTOR_TOTP		= 1 << 3,
};

/* Fill cfg with the documented defaults. */
void	gateway_config_defaults(struct gateway_config *cfg);
/* Load relgate.yaml over the defaults. A missing file is not an error. */
int	gateway_config_load(struct gateway_config *cfg, const char *path,
	    struct diag *d);
/*
 * The union of the factors (enum auth_factor bits) of every role in roles
 * (enum role bits): what a user holding them all must present. When
 * security-key is among them publickey is not (the FIDO key is the key).
 * 0 when roles holds no role.
 */
unsigned auth_factors_for(const struct gateway_config *cfg, unsigned roles);
/* Static name of one factor bit ("publickey", "security-key", "password",
 * "totp"), or NULL. */
const char *auth_factor_name(unsigned factor_bit);
/* The factors as "publickey,totp" (order: publickey, security-key,
 * password, totp) into out[len], truncated to fit; "" for none. */
void	auth_factors_format(unsigned factors, char *out, size_t len);

/* ---- users ----------------------------------------------------------- */

enum role {
	ROLE_STAFF	= 1 << 0,
	ROLE_APPROVER	= 1 << 1,
	ROLE_CONTRACTOR	= 1 << 2,
	ROLE_OFFICER	= 1 << 3,
};

struct user {
	char	*name;			/* the file name without .yaml */
	unsigned roles;			/* enum role bits */
	char	*organisation;
	char	**ssh_keys;		/* authorized_keys lines, as written */
	size_t	n_ssh_keys;
	long	valid_until;		/* DATE_UNSET when absent */
	long	training_expires;	/* DATE_UNSET when absent */
	char	*path;
	struct src_pos *ssh_keys_pos;	/* n_ssh_keys items */
	char	*password_hash;		/* yescrypt "$y$..."; NULL when absent */
	unsigned *ssh_key_opts;		/* n_ssh_keys items: SSHKEY_OPT_* bits
					 * (keys/keys.h) of each line */
	char	*email;			/* addr-spec; NULL when absent */
};

/* Load users/NAME.yaml. *out is the caller's (user_free()). */
int	user_load(struct user **out, const char *path, struct diag *d);
void	user_free(struct user *u);
/* Name of a role bit ("staff", ...), or NULL. */
const char *role_name(unsigned role);
/*
 * 1 when s is a plausible e-mail addr-spec (local@domain, RFC 5321 sizes,
 * printable ASCII without spaces, quotes, brackets or control bytes: a
 * header cannot be injected through it); else 0 with the reason in why.
 */
int	mail_addr_ok(const char *s, char *why, size_t whylen);

/* ---- contracts ------------------------------------------------------- */

enum contract_status {
	CONTRACT_DRAFT, CONTRACT_ACTIVE, CONTRACT_SUSPENDED, CONTRACT_EXPIRED
};

enum col_type {
	COLTYPE_ANY = 0,	/* no type rule */
	COLTYPE_STRING, COLTYPE_INTEGER, COLTYPE_DECIMAL, COLTYPE_DATE,
	COLTYPE_YEAR_MONTH, COLTYPE_YEAR
};

enum granularity {
	GRAN_NONE = 0, GRAN_POSTCODE_DISTRICT, GRAN_POSTCODE_SECTOR,
	GRAN_YEAR, GRAN_YEAR_MONTH
};

enum masking {
	MASKING_UNSET = 0,	/* column says nothing about masking */
	MASKING_HMAC_SHA256,	/* carries pseudonyms */
	MASKING_NONE,		/* explicitly unmasked (needs `unmasked:`) */
};

enum masking_mode { MASKING_MODE_VERIFY = 0, MASKING_MODE_APPLY };

struct column_rule {
	char	*name;
	enum col_type type;
	char	**allowed;		/* NULL when no allowed list */
	size_t	n_allowed;
	char	*pattern;		/* regular expression (PCRE2), anchored */
	int	has_min, has_max;
	double	min, max;
	long	rounding;		/* 0: no rule */
	enum granularity granularity;
	int	required;
	enum masking masking;
	enum masking_mode masking_mode;
	int	count;			/* table count cell */
	int	unmasked;		/* listed in contract unmasked.columns */
};

/* Table dominance: fails where top > percent% of total on a row. */
struct dominance_rule {
	int	set;
	char	*total_column;
	char	*top_column;
	double	percent;
};

struct dataset {
	char	*name;
	int	is_table;		/* kind: table */
	long	max_rows;		/* -1 when absent */
	long	max_rows_total;		/* -1 when absent */
	long	max_releases;		/* -1 when absent */
	char	*one_row_per;		/* NULL when absent */
	struct column_rule *columns;
	size_t	n_columns;
	char	**quasi_identifiers;
	size_t	n_quasi_identifiers;
	long	k_anonymity;		/* 0 when absent */
	long	min_cell_count;		/* table; 0 when absent */
	long	rounding;		/* table; 0 when absent */
	struct dominance_rule dominance;
};

struct contract {
	char	*id;
	long	version;
	char	*title;
	char	*purpose;
	enum contract_status status;
	long	valid_from, valid_until;
	char	*organisation;
	char	*assurance_scheme, *assurance_ref;
	long	assurance_expires;
	char	**people;
	size_t	n_people;
	char	**approvers;
	size_t	n_approvers;
	int	approvals_required;
	char	**recipients;		/* 40-hex fingerprints, upper case */
	size_t	n_recipients;
	long	download_days;
	long	max_downloads;
	struct dataset *datasets;
	size_t	n_datasets;
	char	*unmasked_justification;	/* NULL when no `unmasked:` */
	char	**unmasked_columns;
	size_t	n_unmasked_columns;
	char	*path;
	/* Source positions, for cross-checks that name file:line:col. */
	struct src_pos id_pos;
	struct src_pos *people_pos;	/* n_people items */
	struct src_pos *approvers_pos;	/* n_approvers items */
	struct src_pos *recipients_pos;	/* n_recipients items */
};

/* Load and validate one contract on its own (no users, no keys).
 * *out is the caller's (contract_free()). */
int	contract_load(struct contract **out, const char *path, struct diag *d);
/* The same from memory (name is used in diagnostics and as path). */
int	contract_parse(struct contract **out, const char *data, size_t len,
	    const char *name, struct diag *d);
void	contract_free(struct contract *c);
/* Borrowed pointer to the named dataset, or the only one when name is NULL
 * and the contract has exactly one; NULL otherwise. */
const struct dataset *contract_dataset(const struct contract *c,
	    const char *name);
/* Borrowed pointer to a dataset's column rule, or NULL. */
const struct column_rule *dataset_column(const struct dataset *ds,
	    const char *name);
/* 1 when the contract is active on day `today` (status, dates, assurance). */
int	contract_is_active(const struct contract *c, long today,
	    char *why, size_t whylen);

/* ---- the whole directory --------------------------------------------- */

/* A problem with one file; the rest of the directory still loads. */
struct config_problem {
	struct diag diag;
	int	err;
	int	kind;		/* 0 config, 1 user, 2 contract, 3 key */
};

struct pgp_keyinfo;

struct config_dir {
	char	*dir;
	struct gateway_config cfg;
	struct user **users;
	size_t	n_users;
	struct contract **contracts;
	size_t	n_contracts;
	struct config_problem *problems;
	size_t	n_problems;
	/* Things that load but will not work as the operator may expect
	 * (an account or training expired, a contract out of its dates, a
	 * recipient key expiring within 30 days). Never a reason to refuse. */
	struct config_problem *warnings;
	size_t	n_warnings;
	struct pgp_keyinfo *keys;	/* the recipients' keys in keys/pgp */
	size_t	n_keys;
};

/*
 * Load DIR/relgate.yaml, DIR/users/ *.yaml, DIR/contracts/ *.yaml and check
 * them against each other and against the OpenPGP keys in DIR/keys/pgp
 * (approvers are staff with the approver role, people are contractors of
 * the contract's organisation, every recipient has an unexpired key).
 * A bad file is left out and recorded in problems; the return value is an
 * error only when the directory itself cannot be read.
 */
int	config_dir_load(struct config_dir **out, const char *dir,
	    struct diag *d);
void	config_dir_free(struct config_dir *cd);
/* Borrowed lookups; NULL when absent. */
const struct user *config_dir_user(const struct config_dir *cd,
	    const char *name);
const struct contract *config_dir_contract(const struct config_dir *cd,
	    const char *id);

/* ---- uploaded documents ---------------------------------------------- */

#define REQUEST_YAML_MAX	(16 * 1024)

struct request_doc {
	char	*contract;
	char	*dataset;		/* NULL: the contract's only dataset */
	char	**files;
	size_t	n_files;
	char	*note;
};

/* Parse request.yaml from memory (strict; names file in diag). */
int	request_doc_parse(struct request_doc **out, const char *data,
	    size_t len, const char *name, struct diag *d);
void	request_doc_free(struct request_doc *r);

enum decision_kind { DECISION_APPROVE, DECISION_REJECT };

struct decision_doc {
	enum decision_kind decision;
	char	*reason;
};

/* Parse decision.yaml from memory (strict). */
int	decision_doc_parse(struct decision_doc **out, const char *data,
	    size_t len, const char *name, struct diag *d);
void	decision_doc_free(struct decision_doc *r);

#endif /* RG_CONTRACTS_H */
