/*
 * gateway/view.c — what each role sees over SFTP (product.md "Over SFTP").
 *
 *   /requests/NAME/FILE      staff: STATE/spool/staff/USER/NAME/FILE
 *   /approvals/ID/FILE       approver: STATE/requests/ID/{report.txt,
 *                            status.json,request.yaml} read-only, the
 *                            extract files = requests/ID/files/NAME
 *                            read-only, decision.yaml =
 *                            requests/ID/decisions/USER.yaml and, read-only,
 *                            decision.error = requests/ID/decisions/USER.error
 *   /releases/CID/FILE       contractor: STATE/releases/CID/ read-only,
 *                            and /releases/gateway.asc
 *   /audit/FILE              officer: STATE/audit-export/ read-only
 *
 * "/" is synthetic and lists the areas of every role the user holds. A path
 * is first normalised as a string inside the view (it can never climb above
 * "/"), then mapped to a real root folder (an fd opened when the session
 * starts) and a relative path that view_openat() resolves beneath that fd
 * without following symlinks. Names starting with '.' are hidden. What a
 * role may not see does not exist (NO_SUCH_FILE); writing where it may not
 * write is PERMISSION_DENIED.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "contracts/contracts.h"
#include "gateway/sftp_internal.h"

#define MARK_SUBMITTED	".relgate-request"
#define MARK_WITHDRAWN	".relgate-withdrawn"
#define META_MAX	(64 * 1024)

struct view {
	const struct sftp_session_info *info;
	int	statefd;	/* the state directory */
	int	spoolfd;	/* staff: spool/staff/USER */
	int	requestsfd;	/* approver: requests/ */
	int	releasesfd;	/* contractor: releases/ */
	int	auditfd;	/* officer: audit-export/ */
	time_t	started;	/* times of synthetic folders */
};

static const char *const approval_files[] = {
	"report.txt", "status.json", "request.yaml",
};

/* requests/ID/FILES_DIR/NAME: the request's extract files, linked there by
 * the worker (worker_extracts_link()). */
#define FILES_DIR	"files"

/* The session info the view was built for (borrowed). */
const struct sftp_session_info *
view_info(const struct view *v)
{
	return v->info;
}

/* The state directory fd (borrowed). */
int
view_state_fd(const struct view *v)
{
	return v->statefd;
}

/* A folder on the state file system to answer statvfs for. */
int
view_statvfs_fd(const struct view *v)
{
	if (v->spoolfd >= 0)
		return v->spoolfd;
	if (v->releasesfd >= 0)
		return v->releasesfd;
	if (v->auditfd >= 0)
		return v->auditfd;
	return v->statefd;
}

/* A plain file name: not empty, no '/', not "." or "..". */
static int
plain_name(const char *s)
{
	return s[0] != '\0' && strchr(s, '/') == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	    strlen(s) <= SFTP_MAX_NAME;
}

/* Open (making it if asked) one folder beneath dfd; fd or -1. */
static int
subdir(int dfd, const char *name, int make)
{
	if (dfd < 0)
		return -1;
	if (make && mkdirat(dfd, name, 0700) != 0 && errno != EEXIST)
		return -1;
	return view_openat(dfd, name, O_PATH | O_DIRECTORY, 0);
}

/* Build the view of info's user. */
int
view_new(struct view **out, const struct sftp_session_info *info,
    struct diag *d)
{
	struct view *v;
	int fd;

	if (info == NULL || info->user == NULL || info->state_dir == NULL ||
	    !plain_name(info->user))
		return diag_set(d, RG_EINVAL, "", 0, 0, "sftp: bad session");
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return RG_ENOMEM;
	v->info = info;
	v->spoolfd = v->requestsfd = v->releasesfd = v->auditfd = -1;
	v->started = time(NULL);
	v->statefd = open(info->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (v->statefd < 0) {
		diag_set(d, RG_EIO, info->state_dir, 0, 0, "open: %s",
		    strerror(errno));
		free(v);
		return RG_EIO;
	}
	if (info->roles & ROLE_STAFF) {
		int spool = subdir(v->statefd, "spool", 1);
		int staff = subdir(spool, "staff", 1);

		v->spoolfd = subdir(staff, info->user, 1);
		if (spool >= 0)
			close(spool);
		if (staff >= 0)
			close(staff);
		if (v->spoolfd < 0) {
			diag_set(d, RG_EIO, info->state_dir, 0, 0,
			    "spool/staff/%s: %s", info->user, strerror(errno));
			view_free(v);
			return RG_EIO;
		}
	}
	/* The worker makes these; a missing one is an empty area. */
	if (info->roles & ROLE_APPROVER)
		v->requestsfd = subdir(v->statefd, "requests", 0);
	if (info->roles & ROLE_CONTRACTOR)
		v->releasesfd = subdir(v->statefd, "releases", 0);
	if (info->roles & ROLE_OFFICER)
		v->auditfd = subdir(v->statefd, "audit-export", 0);
	fd = -1;
	(void)fd;
	*out = v;
	return RG_OK;
}

/* Free a view; NULL-safe. */
void
view_free(struct view *v)
{
	if (v == NULL)
		return;
	if (v->statefd >= 0)
		close(v->statefd);
	if (v->spoolfd >= 0)
		close(v->spoolfd);
	if (v->requestsfd >= 0)
		close(v->requestsfd);
	if (v->releasesfd >= 0)
		close(v->releasesfd);
	if (v->auditfd >= 0)
		close(v->auditfd);
	free(v);
}

/* Staff can write their requests; approvers their decisions. */
int
view_can_write(const struct view *v)
{
	return (v->info->roles & (ROLE_STAFF | ROLE_APPROVER)) != 0;
}

/* Normalise a client path inside the view. */
int
view_normalise(char *out, size_t outlen, const unsigned char *p, size_t n)
{
	size_t o = 0, i = 0, start, clen;
	size_t stack[SFTP_MAX_PATH / 2 + 1];
	size_t depth = 0;

	if (outlen < 2)
		return RG_EINVAL;
	if (n > SFTP_MAX_PATH)
		return RG_ETOOBIG;
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return RG_EINVAL;
	i = 0;
	while (i < n) {
		while (i < n && p[i] == '/')
			i++;
		start = i;
		while (i < n && p[i] != '/')
			i++;
		clen = i - start;
		if (clen == 0 || (clen == 1 && p[start] == '.'))
			continue;
		if (clen == 2 && p[start] == '.' && p[start + 1] == '.') {
			/* Never above the view's "/". */
			if (depth > 0)
				o = stack[--depth];
			continue;
		}
		if (clen > SFTP_MAX_NAME)
			return RG_ETOOBIG;
		if (o + 1 + clen + 1 > outlen)
			return RG_ETOOBIG;
		stack[depth++] = o;
		out[o++] = '/';
		memcpy(out + o, p + start, clen);
		o += clen;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return RG_OK;
}

/* Whether the user is on a list of names. */
static int
name_listed(char *const *list, size_t n, const char *user)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], user) == 0)
			return 1;
	return 0;
}

/* The contract id if the user is one of its contractor people. */
static const struct contract *
release_contract(const struct view *v, const char *cid)
{
	const struct config_dir *cd = v->info->config;
	size_t i;

	if (cd == NULL || (v->info->roles & ROLE_CONTRACTOR) == 0)
		return NULL;
	for (i = 0; i < cd->n_contracts; i++) {
		const struct contract *c = cd->contracts[i];

		if (c != NULL && c->id != NULL && strcmp(c->id, cid) == 0 &&
		    name_listed(c->people, c->n_people, v->info->user))
			return c;
	}
	return NULL;
}

/* Read a small file beneath rootfd (regular only) into buf; length or -1. */
ssize_t
view_read_small(int rootfd, const char *rel, char *buf, size_t cap)
{
	struct stat st;
	ssize_t n, got = 0;
	int fd;

	if ((fd = view_openat(rootfd, rel, O_RDONLY | O_NONBLOCK, 0)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	while ((size_t)got < cap) {
		n = read(fd, buf + got, cap - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	return got;
}

/* Open the folder holding rel beneath rootfd; its last component in leaf. */
int
view_open_parent(int rootfd, const char *rel, const char **leaf)
{
	char dir[SFTP_MAX_PATH];
	const char *slash = strrchr(rel, '/');

	if (slash == NULL) {
		*leaf = rel;
		return view_openat(rootfd, ".", O_RDONLY | O_DIRECTORY, 0);
	}
	*leaf = slash + 1;
	if ((size_t)(slash - rel) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, rel, (size_t)(slash - rel));
	dir[slash - rel] = '\0';
	return view_openat(rootfd, dir, O_RDONLY | O_DIRECTORY, 0);
}

/*
 * Whether request id is one this approver may see: its meta.json names a
 * contract whose approvers include the user, and a submitter who is not
 * the user. The contract is stored in *c.
 */
static int
approval_visible(const struct view *v, const char *id,
    const struct contract **c)
{
	const struct config_dir *cd = v->info->config;
	char rel[SFTP_MAX_NAME + 16], submitter[256], contract[256];
	char *meta;
	ssize_t n;
	const char *q;

	if (cd == NULL || v->requestsfd < 0 || id[0] == '.')
		return 0;
	for (q = id; *q != '\0'; q++)
		if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		    (*q >= '0' && *q <= '9') || *q == '-' || *q == '_'))
			return 0;
	snprintf(rel, sizeof(rel), "%s/meta.json", id);
	if ((meta = malloc(META_MAX)) == NULL)
		return 0;
	n = view_read_small(v->requestsfd, rel, meta, META_MAX);
	if (n <= 0 ||
	    view_json_string(meta, (size_t)n, "submitter", submitter,
	    sizeof(submitter)) != 0 ||
	    view_json_string(meta, (size_t)n, "contract", contract,
	    sizeof(contract)) != 0) {
		free(meta);
		return 0;
	}
	free(meta);
	if (strcmp(submitter, v->info->user) == 0)
		return 0;	/* four eyes: never their own */
	*c = config_dir_contract(cd, contract);
	return *c != NULL &&
	    name_listed((*c)->approvers, (*c)->n_approvers, v->info->user);
}

/* Whether a staff request folder carries a marker. */
static int
has_marker(int spoolfd, const char *folder, const char *mark)
{
	char rel[SFTP_MAX_NAME + 32];
	struct stat st;

	snprintf(rel, sizeof(rel), "%s/%s", folder, mark);
	return view_statat(spoolfd, rel, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whether the staff request folder of res has been submitted (now). */
int
view_request_submitted(const struct vres *res)
{
	return res->area == VA_REQUESTS && res->depth >= 1 &&
	    has_marker(res->rootfd, res->name1, MARK_SUBMITTED);
}

/* Request folder names: they end up in queue entries and the audit log. */
static int
folder_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == '.'))
			return 0;
	return 1;
}

/* Deny, or NO_SUCH_FILE when removing something that is not there. */
static int
deny(const struct vres *res, enum vintent intent, char *msg, size_t len,
    const char *why)
{
	struct stat st;

	/* Existence as the view shows it: a symlink, FIFO or device is not
	 * there either (saying "denied" would reveal it). */
	if ((intent == VI_REMOVE || intent == VI_RMDIR) &&
	    (res->kind == VN_NONE || (res->kind == VN_REAL &&
	    (view_statat(res->rootfd, res->rel, &st) != 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))))) {
		snprintf(msg, len, "No such file");
		return SSH_FX_NO_SUCH_FILE;
	}
	snprintf(msg, len, "%s", why);
	return SSH_FX_PERMISSION_DENIED;
}

/* Not in the view: absent for lookups, denied for writes. */
static int
absent(struct vres *res, enum vintent intent, char *msg, size_t len)
{
	res->kind = VN_NONE;
	if (intent == VI_WRITE || intent == VI_MKDIR) {
		snprintf(msg, len, "Permission denied: read-only here");
		return SSH_FX_PERMISSION_DENIED;
	}
	snprintf(msg, len, "No such file");
	return SSH_FX_NO_SUCH_FILE;
}

/* Join components c[from..n) with '/' into res->rel after prefix. */
static int
join_rel(struct vres *res, const char *prefix, char **c, size_t from,
    size_t n)
{
	size_t i, o;

	o = (size_t)snprintf(res->rel, sizeof(res->rel), "%s", prefix);
	for (i = from; i < n; i++) {
		size_t l = strlen(c[i]);

		if (o + 1 + l + 1 > sizeof(res->rel))
			return RG_ETOOBIG;
		if (o > 0)
			res->rel[o++] = '/';
		memcpy(res->rel + o, c[i], l + 1);
		o += l;
	}
	if (o == 0)
		rg_strlcpy(res->rel, ".", sizeof(res->rel));
	return RG_OK;
}

static int
resolve_requests(struct view *v, char **c, size_t n, enum vintent intent,
    struct vres *res, char *msg, size_t len)
{
	res->role = "staff";
	res->rootfd = v->spoolfd;
	res->kind = VN_REAL;
	if (join_rel(res, "", c, 1, n) != 0)
		return absent(res, intent, msg, len);
	if (res->depth == 0)
		return intent == VI_LOOKUP ? SSH_FX_OK : deny(res, intent,
		    msg, len, "Permission denied: /requests is fixed");
	if (res->name1[0] == '.' || (res->depth > 1 && res->leaf[0] == '.')) {
		if (intent == VI_WRITE || intent == VI_MKDIR) {
			snprintf(msg, len, "Permission denied: names "
			    "starting with '.' are reserved");
			return SSH_FX_PERMISSION_DENIED;
		}
		return absent(res, intent, msg, len);
	}
	res->submitted = has_marker(v->spoolfd, res->name1, MARK_SUBMITTED);
	if (res->depth == 1) {
		if (intent == VI_MKDIR && !folder_name_ok(res->name1)) {
			snprintf(msg, len, "Request folder names use letters, "
			    "digits, '.', '_' and '-' (at most 128)");
			return SSH_FX_FAILURE;
		}
		if (intent == VI_WRITE)
			return deny(res, intent, msg, len, "Permission denied:"
			    " make a request folder first (mkdir "
			    "/requests/NAME) and upload into it");
		if ((intent == VI_RMDIR || intent == VI_REMOVE) &&
		    res->submitted)
			return deny(res, intent, msg, len, "Permission denied:"
			    " the request is submitted; its folder is "
			    "read-only");
		return SSH_FX_OK;
	}
	if (res->depth == 2 && strcmp(res->leaf, "request.yaml") == 0) {
		res->special = VS_REQUEST_YAML;
		if (res->submitted &&
		    has_marker(v->spoolfd, res->name1, MARK_WITHDRAWN))
			return res->kind = VN_NONE, intent == VI_WRITE ?
			    deny(res, intent, msg, len, "Permission denied: "
			    "the request was withdrawn") :
			    absent(res, intent, msg, len);
		/* Removing a submitted request.yaml withdraws it. */
		if (intent == VI_REMOVE && res->submitted)
			return SSH_FX_OK;
	}
	if (intent == VI_LOOKUP)
		return SSH_FX_OK;
	if (res->depth > 2 || intent == VI_MKDIR || intent == VI_RMDIR)
		return deny(res, intent, msg, len, "Permission denied: a "
		    "request folder holds files only");
	if (res->submitted)
		return deny(res, intent, msg, len, "Permission denied: the "
		    "request is submitted; its folder is read-only");
	if (intent == VI_WRITE && (strcmp(res->leaf, "status.json") == 0 ||
	    strcmp(res->leaf, "report.txt") == 0))
		return deny(res, intent, msg, len, "Permission denied: "
		    "status.json and report.txt are written by relgate");
	return SSH_FX_OK;
}

static int
resolve_approvals(struct view *v, char **c, size_t n, enum vintent intent,
    struct vres *res, char *msg, size_t len)
{
	const struct contract *k = NULL;
	size_t i;

	res->role = "approver";
	if (res->depth == 0) {
		res->kind = VN_SYNTH_DIR;
		return intent == VI_LOOKUP ? SSH_FX_OK : deny(res, intent,
		    msg, len, "Permission denied: /approvals is read-only");
	}
	if (!approval_visible(v, res->name1, &k))
		return absent(res, intent, msg, len);
	res->contract = k->id;
	if (res->depth == 1) {
		res->kind = VN_SYNTH_DIR;
		return intent == VI_LOOKUP ? SSH_FX_OK : deny(res, intent,
		    msg, len, "Permission denied: only decision.yaml may be "
		    "uploaded here");
	}
	if (res->depth > 2)
		return absent(res, intent, msg, len);
	res->rootfd = v->requestsfd;
	res->kind = VN_REAL;
	if (strcmp(res->leaf, "decision.yaml") == 0) {
		snprintf(res->rel, sizeof(res->rel), "%s/decisions/%s.yaml",
		    res->name1, v->info->user);
		res->special = VS_DECISION;
		if (intent == VI_LOOKUP || intent == VI_WRITE)
			return SSH_FX_OK;
		return deny(res, intent, msg, len, "Permission denied: a "
		    "decision cannot be removed; upload a new one");
	}
	if (strcmp(res->leaf, "decision.error") == 0) {
		/* Why this approver's last decision.yaml was not taken. */
		snprintf(res->rel, sizeof(res->rel), "%s/decisions/%s.error",
		    res->name1, v->info->user);
		return intent == VI_LOOKUP ? SSH_FX_OK : deny(res, intent, msg,
		    len, "Permission denied: decision.error is written by "
		    "relgate; upload a new decision.yaml");
	}
	for (i = 0; i < RG_ARRAY_LEN(approval_files); i++)
		if (strcmp(res->leaf, approval_files[i]) == 0)
			break;
	if (i < RG_ARRAY_LEN(approval_files))
		snprintf(res->rel, sizeof(res->rel), "%s/%s", res->name1,
		    res->leaf);
	else	/* an extract file; nothing else of the record exists */
		snprintf(res->rel, sizeof(res->rel), "%s/" FILES_DIR "/%s",
		    res->name1, res->leaf);
	return intent == VI_LOOKUP ? SSH_FX_OK : deny(res, intent, msg, len,
	    "Permission denied: read-only; upload decision.yaml");
}

static int
resolve_releases(struct view *v, char **c, size_t n, enum vintent intent,
    struct vres *res, char *msg, size_t len)
{
	const struct contract *k;
	struct stat st;
	size_t l;

	res->role = "contractor";
	if (res->depth == 0)
		res->kind = VN_SYNTH_DIR;
	else if (res->depth == 1 && strcmp(res->name1, "gateway.asc") == 0) {
		res->kind = VN_REAL;
		res->rootfd = v->releasesfd;
		rg_strlcpy(res->rel, "gateway.asc", sizeof(res->rel));
		if (v->releasesfd < 0)
			return absent(res, intent, msg, len);
	} else {
		if ((k = release_contract(v, res->name1)) == NULL)
			return absent(res, intent, msg, len);
		res->contract = k->id;
		if (v->releasesfd < 0 || view_statat(v->releasesfd,
		    res->name1, &st) != 0 || !S_ISDIR(st.st_mode)) {
			/* Nothing published yet: an empty folder. */
			if (res->depth > 1)
				return absent(res, intent, msg, len);
			res->kind = VN_SYNTH_DIR;
		} else {
			if (res->leaf[0] == '.' ||
			    join_rel(res, "", c, 1, n) != 0)
				return absent(res, intent, msg, len);
			res->kind = VN_REAL;
			res->rootfd = v->releasesfd;
			l = strlen(res->leaf);
			if (res->depth == 2 && l > 12 &&
			    strcmp(res->leaf + l - 12, ".tar.zst.gpg") == 0)
				res->special = VS_RELEASE_GPG;
		}
	}
	return intent == VI_LOOKUP ? SSH_FX_OK : deny(res, intent, msg, len,
	    "Permission denied: releases are read-only");
}

static int
resolve_audit(struct view *v, char **c, size_t n, enum vintent intent,
    struct vres *res, char *msg, size_t len)
{
	res->role = "officer";
	if (v->auditfd < 0) {
		if (res->depth > 0)
			return absent(res, intent, msg, len);
		res->kind = VN_SYNTH_DIR;
	} else {
		if ((res->depth > 0 && res->leaf[0] == '.') ||
		    join_rel(res, "", c, 1, n) != 0)
			return absent(res, intent, msg, len);
		res->kind = VN_REAL;
		res->rootfd = v->auditfd;
	}
	return intent == VI_LOOKUP ? SSH_FX_OK : deny(res, intent, msg, len,
	    "Permission denied: the audit export is read-only");
}

/* Map a client path to what it is for this user, applying the policy. */
int
view_resolve(struct view *v, const unsigned char *p, size_t n,
    enum vintent intent, struct vres *res, char *msg, size_t len)
{
	char tmp[SFTP_MAX_PATH], *c[SFTP_MAX_PATH / 2 + 1], *s;
	size_t nc = 0, i;
	unsigned roles = v->info->roles;
	int rc;

	memset(res, 0, sizeof(*res));
	res->rootfd = -1;
	if (len > 0)
		msg[0] = '\0';
	rc = view_normalise(res->vpath, sizeof(res->vpath), p, n);
	if (rc == RG_ETOOBIG) {
		snprintf(msg, len, "Path or file name too long");
		return SSH_FX_FAILURE;
	}
	if (rc != 0) {
		snprintf(msg, len, "Path has a NUL or control character");
		return SSH_FX_FAILURE;
	}
	memcpy(tmp, res->vpath, sizeof(tmp));
	for (s = strtok(tmp + 1, "/"); s != NULL; s = strtok(NULL, "/"))
		c[nc++] = s;
	if (nc == 0) {
		res->kind = VN_ROOT;
		return intent == VI_LOOKUP ? SSH_FX_OK : deny(res, intent,
		    msg, len, "Permission denied: / is read-only");
	}
	res->depth = (unsigned)(nc - 1);
	if (nc > 1)
		rg_strlcpy(res->name1, c[1], sizeof(res->name1));
	rg_strlcpy(res->leaf, c[nc - 1], sizeof(res->leaf));
	/* Names starting with '.' are hidden at every level below an area
	 * (markers, the worker's temporary files): absent, and not makeable. */
	for (i = 1; i < nc; i++)
		if (c[i][0] == '.') {
			if (intent == VI_WRITE || intent == VI_MKDIR) {
				snprintf(msg, len, "Permission denied: names "
				    "starting with '.' are reserved");
				return SSH_FX_PERMISSION_DENIED;
			}
			return absent(res, intent, msg, len);
		}
	if (strcmp(c[0], "requests") == 0 && (roles & ROLE_STAFF)) {
		res->area = VA_REQUESTS;
		rc = resolve_requests(v, c, nc, intent, res, msg, len);
	} else if (strcmp(c[0], "approvals") == 0 &&
	    (roles & ROLE_APPROVER)) {
		res->area = VA_APPROVALS;
		rc = resolve_approvals(v, c, nc, intent, res, msg, len);
	} else if (strcmp(c[0], "releases") == 0 &&
	    (roles & ROLE_CONTRACTOR)) {
		res->area = VA_RELEASES;
		rc = resolve_releases(v, c, nc, intent, res, msg, len);
	} else if (strcmp(c[0], "audit") == 0 && (roles & ROLE_OFFICER)) {
		res->area = VA_AUDIT;
		rc = resolve_audit(v, c, nc, intent, res, msg, len);
	} else
		rc = absent(res, intent, msg, len);
	return rc;
}

/* Attributes of a synthetic folder. */
static void
synth_stat(const struct view *v, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | 0500;
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtime = st->st_atime = st->st_ctime = v->started;
}

/* Only regular files and folders exist; read-only areas show no w bits. */
static int
shown(const struct vres *res, struct stat *st)
{
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return 0;
	if (res->area != VA_REQUESTS && res->special != VS_DECISION)
		st->st_mode &= ~(mode_t)0222;
	else if (res->submitted)
		st->st_mode &= ~(mode_t)0222;
	return 1;
}

/* Attributes of a resolved path; SSH_FX_OK or SSH_FX_NO_SUCH_FILE. */
int
view_stat(struct view *v, const struct vres *res, struct stat *st)
{
	switch (res->kind) {
	case VN_ROOT:
	case VN_SYNTH_DIR:
		synth_stat(v, st);
		return SSH_FX_OK;
	case VN_REAL:
		if (res->rootfd < 0 || view_statat(res->rootfd, res->rel,
		    st) != 0 || !shown(res, st))
			return SSH_FX_NO_SUCH_FILE;
		return SSH_FX_OK;
	default:
		return SSH_FX_NO_SUCH_FILE;
	}
}

/* Whether an entry of a real folder is listed (and its attributes). */
int
view_entry_visible(const struct view *v, const struct vres *dir, int dirfd,
    const char *name, struct stat *st)
{
	if (name[0] == '.')
		return 0;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	if (dir->area == VA_REQUESTS && dir->depth == 1 &&
	    strcmp(name, "request.yaml") == 0 && dir->submitted &&
	    has_marker(v->spoolfd, dir->name1, MARK_WITHDRAWN))
		return 0;
	if (dir->area == VA_RELEASES && dir->depth == 0)
		return 0;	/* synthetic; never listed from a real dir */
	return shown(dir, st);
}

static int
list_area(struct view *v, const char *name, int (*cb)(void *, const char *,
    const struct stat *), void *arg)
{
	struct stat st;

	synth_stat(v, &st);
	return cb(arg, name, &st);
}

/* The extract files of request id (requests/ID/files/), read-only. */
static int
list_extracts(struct view *v, const char *id, int (*cb)(void *arg,
    const char *name, const struct stat *st), void *arg)
{
	char rel[SFTP_MAX_NAME + 16];
	struct dirent *de;
	struct vres sub;
	struct stat st;
	size_t i;
	DIR *dp;
	int fd, rc = 0;

	memset(&sub, 0, sizeof(sub));
	sub.area = VA_APPROVALS;
	sub.kind = VN_REAL;
	snprintf(rel, sizeof(rel), "%s/" FILES_DIR, id);
	if ((fd = view_openat(v->requestsfd, rel, O_RDONLY | O_DIRECTORY,
	    0)) < 0)
		return 0;	/* none linked (yet) */
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while (rc == 0 && (de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.' || !plain_name(de->d_name) ||
		    strcmp(de->d_name, "decision.yaml") == 0 ||
		    strcmp(de->d_name, "decision.error") == 0)
			continue;
		for (i = 0; i < RG_ARRAY_LEN(approval_files); i++)
			if (strcmp(de->d_name, approval_files[i]) == 0)
				break;
		if (i < RG_ARRAY_LEN(approval_files))
			continue;	/* shadowed by relgate's own */
		if (fstatat(dirfd(dp), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
		    !shown(&sub, &st))
			continue;
		rc = cb(arg, de->d_name, &st);
	}
	closedir(dp);
	return rc;
}

/* Entries of a synthetic folder. */
int
view_list_synth(struct view *v, const struct vres *res,
    int (*cb)(void *arg, const char *name, const struct stat *st), void *arg)
{
	const struct config_dir *cd = v->info->config;
	unsigned roles = v->info->roles;
	struct vres sub;
	struct stat st;
	char rel[SFTP_MAX_NAME * 2 + 16];
	size_t i;
	int rc = 0;

	if (res->kind == VN_ROOT) {
		if ((roles & ROLE_STAFF) && (rc = list_area(v, "requests",
		    cb, arg)) != 0)
			return rc;
		if ((roles & ROLE_APPROVER) && (rc = list_area(v, "approvals",
		    cb, arg)) != 0)
			return rc;
		if ((roles & ROLE_CONTRACTOR) && (rc = list_area(v,
		    "releases", cb, arg)) != 0)
			return rc;
		if ((roles & ROLE_OFFICER) && (rc = list_area(v, "audit",
		    cb, arg)) != 0)
			return rc;
		return 0;
	}
	memset(&sub, 0, sizeof(sub));
	sub.area = res->area;
	if (res->area == VA_APPROVALS && res->depth == 0) {
		const struct contract *k;
		struct dirent *de;
		DIR *dp;
		int fd;

		if (v->requestsfd < 0 ||
		    (fd = openat(v->requestsfd, ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) < 0)
			return 0;
		if ((dp = fdopendir(fd)) == NULL) {
			close(fd);
			return 0;
		}
		while (rc == 0 && (de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.' ||
			    !approval_visible(v, de->d_name, &k))
				continue;
			synth_stat(v, &st);
			rc = cb(arg, de->d_name, &st);
		}
		closedir(dp);
		return rc;
	}
	if (res->area == VA_APPROVALS && res->depth == 1) {
		sub.kind = VN_REAL;
		for (i = 0; rc == 0 && i < RG_ARRAY_LEN(approval_files); i++) {
			snprintf(rel, sizeof(rel), "%s/%s", res->name1,
			    approval_files[i]);
			if (view_statat(v->requestsfd, rel, &st) == 0 &&
			    S_ISREG(st.st_mode) && shown(&sub, &st))
				rc = cb(arg, approval_files[i], &st);
		}
		snprintf(rel, sizeof(rel), "%s/decisions/%s.yaml", res->name1,
		    v->info->user);
		sub.special = VS_DECISION;
		if (rc == 0 && view_statat(v->requestsfd, rel, &st) == 0 &&
		    S_ISREG(st.st_mode) && shown(&sub, &st))
			rc = cb(arg, "decision.yaml", &st);
		sub.special = VS_NONE;
		snprintf(rel, sizeof(rel), "%s/decisions/%s.error", res->name1,
		    v->info->user);
		if (rc == 0 && view_statat(v->requestsfd, rel, &st) == 0 &&
		    S_ISREG(st.st_mode) && shown(&sub, &st))
			rc = cb(arg, "decision.error", &st);
		if (rc == 0)
			rc = list_extracts(v, res->name1, cb, arg);
		return rc;
	}
	if (res->area == VA_RELEASES && res->depth == 0) {
		sub.kind = VN_REAL;
		if (v->releasesfd >= 0 &&
		    view_statat(v->releasesfd, "gateway.asc", &st) == 0 &&
		    S_ISREG(st.st_mode) && shown(&sub, &st) &&
		    (rc = cb(arg, "gateway.asc", &st)) != 0)
			return rc;
		for (i = 0; cd != NULL && i < cd->n_contracts; i++) {
			const struct contract *k = cd->contracts[i];

			if (k == NULL || k->id == NULL || !plain_name(k->id) ||
			    k->id[0] == '.' ||
			    release_contract(v, k->id) == NULL)
				continue;
			if (v->releasesfd < 0 || view_statat(v->releasesfd,
			    k->id, &st) != 0 || !S_ISDIR(st.st_mode))
				synth_stat(v, &st);
			st.st_mode &= ~(mode_t)0222;
			if ((rc = cb(arg, k->id, &st)) != 0)
				return rc;
		}
		return 0;
	}
	return 0;	/* empty synthetic folders */
}
