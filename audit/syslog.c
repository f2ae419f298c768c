/*
 * audit/syslog.c — an audit record as an RFC 5424 syslog message whose
 * structured data element carries every field:
 *   <PRI>1 TIME HOST relgate PID TYPE [relgate-audit@32473 seq="1" ...] MSG
 * Facility authpriv; severity notice for "ok", warning otherwise.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "audit/audit_int.h"

#define SD_ID	"relgate-audit@32473"

/* PARAM-VALUE escaping (RFC 5424 6.3.3): '"', '\' and ']' get a '\'. */
static int
sd_param(struct buf *b, const char *name, const char *v)
{
	int rc;

	if (v == NULL)
		return RG_OK;
	if ((rc = buf_printf(b, " %s=\"", name)) != 0)
		return rc;
	for (; *v && rc == 0; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			rc = buf_append(b, "\\", 1);
		if (rc == 0)
			rc = buf_append(b, v, 1);
	}
	return rc ? rc : buf_append(b, "\"", 1);
}

static int
sd_num(struct buf *b, const char *name, int64_t v)
{
	if (v < 0)
		return RG_OK;
	return buf_printf(b, " %s=\"%lld\"", name, (long long)v);
}

/* MSGID and HOSTNAME are PRINTUSASCII without spaces, at most 32/255. */
static void
printable(char *out, size_t len, const char *in)
{
	size_t i;

	for (i = 0; in && in[i] && i + 1 < len; i++)
		out[i] = in[i] > 32 && in[i] < 127 ? in[i] : '_';
	out[i] = '\0';
	if (i == 0)
		rg_strlcpy(out, "-", len);
}

int
audit_syslog_format(const struct audit_record *r, struct buf *b)
{
	char host[256], msgid[33], hn[256];
	int pri, rc;

	pri = 10 * 8 + (r->outcome && strcmp(r->outcome, "ok") == 0 ? 5 : 4);
	if (gethostname(hn, sizeof(hn)) != 0)
		hn[0] = '\0';
	hn[sizeof(hn) - 1] = '\0';
	printable(host, sizeof(host), hn);
	printable(msgid, sizeof(msgid), r->type);
	rc = buf_printf(b, "<%d>1 %s %s relgate %ld %s [" SD_ID " seq=\"%llu\"",
	    pri, r->time, host, (long)getpid(), msgid,
	    (unsigned long long)r->seq);
	if (rc == 0) rc = sd_param(b, "time", r->time);
	if (rc == 0) rc = sd_param(b, "type", r->type);
	if (rc == 0) rc = sd_param(b, "outcome", r->outcome);
	if (rc == 0) rc = sd_param(b, "user", r->user);
	if (rc == 0) rc = sd_param(b, "role", r->role);
	if (rc == 0) rc = sd_param(b, "source", r->source);
	if (rc == 0) rc = sd_param(b, "contract", r->contract);
	if (rc == 0) rc = sd_param(b, "request", r->request);
	if (rc == 0) rc = sd_param(b, "release", r->release);
	if (rc == 0) rc = sd_param(b, "path", r->path);
	if (rc == 0) rc = sd_num(b, "bytes", r->bytes);
	if (rc == 0) rc = sd_param(b, "sha256", r->sha256);
	if (rc == 0) rc = sd_num(b, "rows", r->rows);
	if (rc == 0) rc = sd_param(b, "detail", r->detail);
	if (rc == 0) rc = sd_param(b, "prev", r->prev);
	if (rc == 0) rc = sd_param(b, "hash", r->hash);
	if (rc == 0)
		rc = buf_printf(b, "] audit %s %s seq %llu", r->type,
		    r->outcome, (unsigned long long)r->seq);
	return rc;
}
