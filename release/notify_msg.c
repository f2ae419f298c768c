/*
 * The e-mail message itself: RFC 5322 headers and a plain-text body with
 * CRLF line endings. Pure functions, tested in tests/unit/test_notify.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "release/notify.h"

#define LINE_MAX_RFC5322	998

/* A header value: printable ASCII and spaces only (no CR or LF: no
 * header can be added through it). */
static int
header_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* The domain of an addr-spec, borrowed. */
const char *
notify_addr_domain(const char *s)
{
	const char *at = s ? strrchr(s, '@') : NULL;

	return at != NULL && at[1] != '\0' ? at + 1 : "localhost";
}

/* Seconds to wait after `tries` failures: first * 2^(tries-1), capped. */
long
notify_backoff(int tries, int first, int max)
{
	long s = first > 0 ? first : 1;
	int i;

	for (i = 1; i < tries && s < max; i++)
		s *= 2;
	return s > max ? max : s;
}

/* Build one message into out (see notify.h). */
int
notify_message_build(struct buf *out, const struct notify_msg *m)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	const char *p;
	size_t start = out->len, col = 0;
	int rc;

	if (!header_ok(m->from) || !header_ok(m->to) ||
	    !header_ok(m->subject) || !header_ok(m->message_id) ||
	    strlen(m->subject) > NOTIFY_SUBJECT_MAX || m->body == NULL ||
	    strlen(m->body) > NOTIFY_BODY_MAX ||
	    strchr(m->message_id, '<') || strchr(m->message_id, '>') ||
	    strchr(m->message_id, ' '))
		return RG_EINVAL;
	for (p = m->body; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n') {
			col = 0;
			continue;
		}
		/* Tabs are allowed; CR only as part of CRLF (dropped). */
		if ((c < 0x20 && c != '\t' && !(c == '\r' && p[1] == '\n')) ||
		    c > 0x7e || ++col > LINE_MAX_RFC5322)
			return RG_EINVAL;
	}
	if (gmtime_r(&m->date, &tm) == NULL)
		return RG_EINVAL;
	rc = buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	rc |= buf_printf(out, "Message-ID: <%s>\r\n", m->message_id);
	rc |= buf_printf(out, "From: <%s>\r\n", m->from);
	rc |= buf_printf(out, "To: <%s>\r\n", m->to);
	rc |= buf_printf(out, "Subject: %s\r\n", m->subject);
	rc |= buf_printf(out, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n");
	for (p = m->body; rc == 0 && *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			rc |= buf_append(out, "\r\n", 2);
		else
			rc |= buf_append(out, p, 1);
	}
	if (rc == 0 && (out->len == start || out->data[out->len - 1] != '\n'))
		rc |= buf_append(out, "\r\n", 2);
	if (rc != 0 || out->len - start > NOTIFY_MESSAGE_MAX) {
		out->len = start;
		return RG_ETOOBIG;	/* past the buffer's cap or ours */
	}
	return RG_OK;
}
