/*
 * Which events are told to whom (product.md "Notifications"), and what the
 * message says. Messages are queued in the outbox of state.db by the
 * release worker inside the transaction of the state change that causes
 * them (worker_set_state()), and sent later by the sender thread
 * (notify_send.c).
 *
 * A message names only IDs, states, rule names, times and the SFTP path to
 * look at: never a cell value, a file's content, the text of a reason, or
 * another person's name or address.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contracts/contracts.h"
#include "release/notify.h"
#include "release/internal.h"

#define FOOTER "\n-- \nrelgate, the release gateway. This message holds " \
	"no data from the request:\nlook at it over SFTP.\n"

static int
notify_on(const struct worker *w)
{
	return w->cd != NULL && w->cd->cfg.notify.enabled;
}

/* Queue one message to user (skipped without an e-mail address). */
static int
queue_to(struct worker *w, const char *key, const char *user,
    struct outbox_rec *m)
{
	const struct user *u = config_dir_user(w->cd, user);

	if (u == NULL || u->email == NULL) {
		log_debug("notify: %s has no e-mail address; %s not sent",
		    user, key);
		return RG_OK;
	}
	rg_strlcpy(m->user, user, sizeof(m->user));
	rg_strlcpy(m->addr, u->email, sizeof(m->addr));
	return state_db_outbox_add(w->db, key, m);
}

/* Rule names of a `failed rules: a, b (why)` note: letters, digits, '.',
 * '_', '-' and ", " only, up to the first parenthesis. */
static void
rule_names(const char *note, char *out, size_t len)
{
	static const char pfx[] = "failed rules: ";
	size_t o = 0;

	out[0] = '\0';
	if (strncmp(note, pfx, sizeof(pfx) - 1) != 0)
		return;
	for (note += sizeof(pfx) - 1; *note && *note != '(' && o + 1 < len;
	    note++) {
		char c = *note;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-' || c == ',' || c == ' ')
			out[o++] = c;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == ','))
		o--;
	out[o] = '\0';
}

/* The lines every message about a request starts with. */
static int
request_lines(struct buf *b, const struct request_rec *r)
{
	int rc;

	rc = buf_printf(b, "  request:  %s\n", r->id);
	if (r->contract[0])
		rc |= buf_printf(b, "  contract: %s\n", r->contract);
	if (r->dataset[0])
		rc |= buf_printf(b, "  dataset:  %s\n", r->dataset);
	if (r->release[0])
		rc |= buf_printf(b, "  release:  %s\n", r->release);
	rc |= buf_printf(b, "  state:    %s\n  since:    %s\n", r->state,
	    r->updated);
	return rc;
}

/* Fill m's texts; RG_EINVAL when the body does not fit. */
static int
set_texts(struct outbox_rec *m, const char *event, struct buf *b,
    const char *what, const char *id, const char *tail)
{
	rg_strlcpy(m->event, event, sizeof(m->event));
	snprintf(m->subject, sizeof(m->subject), "[relgate] %s %s %s", what,
	    id, tail);
	if (buf_printf(b, FOOTER) != 0 || buf_cstr(b) != 0 ||
	    b->len >= sizeof(m->body))
		return RG_EINVAL;
	memcpy(m->body, b->data, b->len + 1);
	return RG_OK;
}

static void
rec_init(struct outbox_rec *m, const struct request_rec *r)
{
	memset(m, 0, sizeof(*m));
	rg_strlcpy(m->contract, r->contract, sizeof(m->contract));
	rg_strlcpy(m->request, r->id, sizeof(m->request));
	rg_strlcpy(m->release, r->release, sizeof(m->release));
	m->created = (int64_t)time(NULL);
}

/* "ready to download" to the contract's people. */
static int
queue_ready(struct worker *w, const struct request_rec *r,
    const struct contract *c)
{
	struct release_rec rel;
	struct outbox_rec m;
	struct buf b;
	char key[RG_ID_MAX + 16], day[16];
	size_t i;
	int rc;

	if (c == NULL || !r->release[0] ||
	    state_db_release_get(w->db, r->release, &rel) != RG_OK)
		return RG_OK;
	rec_init(&m, r);
	buf_init(&b, NOTIFY_BODY_MAX);
	rc = buf_printf(&b, "Release %s of contract %s is ready to download."
	    "\n\n  release:  %s\n  contract: %s\n  published: %s\n", rel.id,
	    c->id, rel.id, c->id, rel.published);
	if (rel.expires_day >= 0) {
		date_format(rel.expires_day, day, sizeof(day));
		rc |= buf_printf(&b, "  expires:  %s (end of day, UTC)\n", day);
	}
	if (rel.max_downloads > 0)
		rc |= buf_printf(&b, "  downloads allowed: %ld\n",
		    rel.max_downloads);
	rc |= buf_printf(&b, "\nDownload it over SFTP: /releases/%s/%s.tar.zst"
	    ".gpg\n(verify with /releases/gateway.asc and the .sha256 beside "
	    "it).\n", c->id, rel.id);
	if (rc == 0)
		rc = set_texts(&m, "release.ready", &b, "release", rel.id,
		    "is ready to download");
	buf_free(&b);
	if (rc != RG_OK)
		return rc;
	snprintf(key, sizeof(key), "ready:%s", rel.id);
	for (i = 0; i < c->n_people && rc == RG_OK; i++)
		rc = queue_to(w, key, c->people[i], &m);
	return rc;
}

/* Queue what a request's new state causes. */
int
notify_queue_state(struct worker *w, const struct request_rec *r)
{
	const struct contract *c;
	struct outbox_rec m;
	struct buf b;
	char key[RG_ID_MAX + 32], rules[512];
	const char *subject = NULL;
	size_t i;
	int rc = 0, approvers = 0;

	if (!notify_on(w))
		return RG_OK;
	c = r->contract[0] ? config_dir_contract(w->cd, r->contract) : NULL;
	rec_init(&m, r);
	buf_init(&b, NOTIFY_BODY_MAX);
	if (strcmp(r->state, RQ_AWAITING) == 0) {
		if (c == NULL)
			goto out;
		approvers = 1;
		subject = "awaits your approval";
		rc = buf_printf(&b, "Request %s passed its checks and awaits "
		    "approval.\n\n", r->id);
		rc |= request_lines(&b, r);
		rc |= buf_printf(&b, "\nLook at it over SFTP: /approvals/%s/ "
		    "(report.txt, status.json and the extract),\nthen put "
		    "decision.yaml there.\n", r->id);
	} else if (strcmp(r->state, RQ_FAILED) == 0) {
		subject = "failed its checks";
		rule_names(r->note, rules, sizeof(rules));
		rc = buf_printf(&b, "Request %s failed its checks.\n\n", r->id);
		rc |= request_lines(&b, r);
		rc |= buf_printf(&b, "  failed rules: %s\n", rules[0] ? rules :
		    "(none: it could not be checked)");
		rc |= buf_printf(&b, "\nThe report is at /requests/%s/report.txt"
		    " over SFTP.\n", r->folder);
	} else if (strcmp(r->state, RQ_APPROVED) == 0) {
		subject = "was approved";
		rc = buf_printf(&b, "Request %s was approved; its release is "
		    "being packaged.\n\n", r->id);
		rc |= request_lines(&b, r);
		rc |= buf_printf(&b, "\nStatus: /requests/%s/status.json over "
		    "SFTP.\n", r->folder);
	} else if (strcmp(r->state, RQ_REJECTED) == 0) {
		subject = "was rejected";
		rc = buf_printf(&b, "Request %s was rejected.\n\n", r->id);
		rc |= request_lines(&b, r);
		rc |= buf_printf(&b, "\nThe reason is in /requests/%s/status.json"
		    " over SFTP.\n", r->folder);
	} else if (strcmp(r->state, RQ_PUBLISHED) == 0) {
		subject = "was published";
		rc = buf_printf(&b, "Request %s was published as release %s."
		    "\n\n", r->id, r->release);
		rc |= request_lines(&b, r);
		rc |= buf_printf(&b, "\nStatus: /requests/%s/status.json over "
		    "SFTP.\n", r->folder);
	} else
		goto out;
	if (rc != 0 || (rc = set_texts(&m, r->state, &b, "request", r->id,
	    subject)) != RG_OK) {
		rc = RG_EINVAL;
		goto out;
	}
	snprintf(key, sizeof(key), "%s:%s", r->state, r->id);
	if (approvers) {
		/* Four eyes: never the submitter, even when named. */
		for (i = 0; i < c->n_approvers && rc == RG_OK; i++)
			if (strcmp(c->approvers[i], r->submitter) != 0)
				rc = queue_to(w, key, c->approvers[i], &m);
	} else
		rc = queue_to(w, key, r->submitter, &m);
	if (rc == RG_OK && strcmp(r->state, RQ_PUBLISHED) == 0)
		rc = queue_ready(w, r, c);
out:
	buf_free(&b);
	if (rc != RG_OK)
		log_warnx("notify: %s: cannot queue (%s)", r->id,
		    rg_strerror(rc));
	/* Only a failing state.db holds the state change back (the outbox
	 * is part of it); a message that cannot be written does not. */
	return rc == RG_EDB ? rc : RG_OK;
}

/* "expires in 2 days", once per release and person. */
int
notify_queue_expiring(struct worker *w)
{
	char (*ids)[RG_ID_MAX] = NULL;
	char key[RG_ID_MAX + 16], day[16];
	const struct contract *c;
	struct release_rec rel;
	struct outbox_rec m;
	struct buf b;
	long today = (long)(time(NULL) / 86400);
	size_t n = 0, i, k;
	int rc;

	if (!notify_on(w))
		return RG_OK;
	if ((rc = state_db_releases_expiring(w->db, today, today + 2, &ids,
	    &n)) != RG_OK)
		return rc;
	for (i = 0; i < n && rc == RG_OK; i++) {
		if (state_db_release_get(w->db, ids[i], &rel) != RG_OK ||
		    (c = config_dir_contract(w->cd, rel.contract)) == NULL)
			continue;
		memset(&m, 0, sizeof(m));
		rg_strlcpy(m.contract, rel.contract, sizeof(m.contract));
		rg_strlcpy(m.request, rel.request, sizeof(m.request));
		rg_strlcpy(m.release, rel.id, sizeof(m.release));
		m.created = (int64_t)time(NULL);
		date_format(rel.expires_day, day, sizeof(day));
		buf_init(&b, NOTIFY_BODY_MAX);
		rc = buf_printf(&b, "Release %s of contract %s expires on %s "
		    "(end of day, UTC), in 2 days or less;\nit is then purged."
		    "\n\n  release:  %s\n  contract: %s\n  expires:  %s\n"
		    "\nDownload it over SFTP before then: /releases/%s/%s.tar."
		    "zst.gpg\n", rel.id, c->id, day, rel.id, c->id, day, c->id,
		    rel.id);
		if (rc == 0)
			rc = set_texts(&m, "release.expiring", &b, "release",
			    rel.id, "expires in 2 days");
		buf_free(&b);
		snprintf(key, sizeof(key), "expiring:%s", rel.id);
		if (rc != RG_OK || (rc = state_db_begin(w->db)) != RG_OK)
			break;
		for (k = 0; k < c->n_people && rc == RG_OK; k++)
			rc = queue_to(w, key, c->people[k], &m);
		if (rc == RG_OK)
			rc = state_db_commit(w->db);
		if (rc != RG_OK)
			state_db_rollback(w->db);
	}
	free(ids);
	if (rc == RG_OK && n > 0)
		notify_sender_kick(w->notify);
	return rc;
}
