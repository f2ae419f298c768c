/*
 * audit/report.c — `relgate audit report --html FILE`: one self-contained
 * page for the security officer's review. No script, no external request
 * (styles inline, the chart is inline SVG): it opens the same offline.
 *   - the verification stamp (audit_verify over the whole log),
 *   - transfers per contractor per day: completed file.download records of
 *     users in the contractor role, as a stacked bar chart and a table,
 *   - every denied and failed event,
 *   - counts per event type.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"

#define DAYS_MAX	400
#define PEOPLE_MAX	24
#define EVENTS_MAX	2000
#define TYPES_MAX	64

static const char *palette[PEOPLE_MAX] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
	"#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939",
	"#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
	"#756bb1", "#636363", "#6baed6", "#fd8d3c", "#74c476", "#9e9ac8",
};

struct report {
	char	days[DAYS_MAX][11];
	size_t	ndays;
	char	*people[PEOPLE_MAX];
	size_t	npeople;
	uint64_t n[DAYS_MAX][PEOPLE_MAX + 1];	/* last column: others */
	int64_t	bytes[DAYS_MAX][PEOPLE_MAX + 1];
	uint64_t dropped_days;
	char	*types[TYPES_MAX];
	uint64_t type_n[TYPES_MAX];
	size_t	ntypes;
	uint64_t records;
	struct buf bad;			/* rows of the denied/failed table */
	uint64_t nbad;
	int	err;
};

static int
html_esc(struct buf *b, const char *s)
{
	int rc = 0;

	if (s == NULL)
		return buf_append(b, "&ndash;", 7);
	for (; *s && rc == 0; s++) {
		switch (*s) {
		case '&': rc = buf_append(b, "&amp;", 5); break;
		case '<': rc = buf_append(b, "&lt;", 4); break;
		case '>': rc = buf_append(b, "&gt;", 4); break;
		case '"': rc = buf_append(b, "&quot;", 6); break;
		case '\'': rc = buf_append(b, "&#39;", 5); break;
		default: rc = buf_append(b, s, 1);
		}
	}
	return rc;
}

static size_t
day_index(struct report *rp, const char *time)
{
	size_t i;

	for (i = rp->ndays; i-- > 0;)
		if (strncmp(rp->days[i], time, 10) == 0)
			return i;
	if (rp->ndays == DAYS_MAX)
		return (size_t)-1;
	rg_strlcpy(rp->days[rp->ndays], time, 11);
	return rp->ndays++;
}

static size_t
person_index(struct report *rp, const char *user)
{
	size_t i;

	for (i = 0; i < rp->npeople; i++)
		if (strcmp(rp->people[i], user) == 0)
			return i;
	if (rp->npeople == PEOPLE_MAX)
		return PEOPLE_MAX;		/* "others" */
	if ((rp->people[rp->npeople] = strdup(user)) == NULL)
		return PEOPLE_MAX;
	return rp->npeople++;
}

static void
count_type(struct report *rp, const char *type)
{
	size_t i;

	for (i = 0; i < rp->ntypes; i++)
		if (strcmp(rp->types[i], type) == 0) {
			rp->type_n[i]++;
			return;
		}
	if (rp->ntypes < TYPES_MAX &&
	    (rp->types[rp->ntypes] = strdup(type)) != NULL)
		rp->type_n[rp->ntypes++] = 1;
}

static int
on_record(const struct audit_record *r, void *ctx)
{
	struct report *rp = ctx;
	struct buf *b = &rp->bad;
	size_t di, pi;
	int rc = 0;

	rp->records++;
	count_type(rp, r->type);
	if (strcmp(r->type, "file.download") == 0 &&
	    strcmp(r->outcome, "ok") == 0 && r->role != NULL &&
	    strcmp(r->role, "contractor") == 0 && r->user != NULL) {
		if ((di = day_index(rp, r->time)) == (size_t)-1) {
			rp->dropped_days++;
		} else {
			pi = person_index(rp, r->user);
			rp->n[di][pi]++;
			if (r->bytes > 0)
				rp->bytes[di][pi] += r->bytes;
		}
	}
	if (strcmp(r->outcome, "ok") != 0) {
		rp->nbad++;
		if (rp->nbad > EVENTS_MAX)
			return 0;
		rc = buf_printf(b, "<tr class=\"%s\"><td>%llu</td><td>",
		    r->outcome[0] == 'd' ? "denied" : "failed",
		    (unsigned long long)r->seq);
		if (rc == 0) rc = html_esc(b, r->time);
		if (rc == 0) rc = buf_printf(b, "</td><td>");
		if (rc == 0) rc = html_esc(b, r->type);
		if (rc == 0) rc = buf_printf(b, "</td><td>");
		if (rc == 0) rc = html_esc(b, r->outcome);
		if (rc == 0) rc = buf_printf(b, "</td><td>");
		if (rc == 0) rc = html_esc(b, r->user);
		if (rc == 0) rc = buf_printf(b, "</td><td>");
		if (rc == 0) rc = html_esc(b, r->source);
		if (rc == 0) rc = buf_printf(b, "</td><td>");
		if (rc == 0) rc = html_esc(b, r->contract);
		if (rc == 0) rc = buf_printf(b, "</td><td>");
		if (rc == 0) rc = html_esc(b, r->path);
		if (rc == 0) rc = buf_printf(b, "</td><td>");
		if (rc == 0) rc = html_esc(b, r->detail);
		if (rc == 0) rc = buf_printf(b, "</td></tr>\n");
	}
	if (rc != 0) {
		rp->err = rc;
		return 1;
	}
	return 0;
}

static int
chart(struct report *rp, struct buf *b)
{
	const int h = 260, top = 20, left = 56, bottom = 70;
	uint64_t max = 0, tot, step, mag;
	size_t d, p, np = rp->npeople + 1;
	int w, bw, x, y, rc = 0, k;

	for (d = 0; d < rp->ndays; d++) {
		for (tot = 0, p = 0; p < np; p++)
			tot += rp->n[d][p];
		if (tot > max)
			max = tot;
	}
	if (rp->ndays == 0)
		return buf_printf(b, "<p class=\"none\">No contractor "
		    "downloads in the log.</p>\n");
	bw = rp->ndays > 60 ? 8 : rp->ndays > 20 ? 16 : 32;
	w = left + (int)rp->ndays * (bw + 6) + 20;
	if (w < 480)
		w = 480;
	rc = buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-label=\"Downloads per contractor per day\">\n"
	    "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
	    w, h + top + bottom, w, h + top + bottom, w, h + top + bottom);
	/* About five gridlines at 1, 2 or 5 times a power of ten. */
	for (mag = 1; mag * 10 <= max / 5 + 1; mag *= 10)
		;
	step = mag;
	if (step * 5 < max)
		step = 2 * mag;
	if (step * 5 < max)
		step = 5 * mag;
	if (step * 5 < max)
		step = 10 * mag;
	max = (max + step - 1) / step * step;
	for (k = 0; rc == 0 && (uint64_t)k * step <= max; k++) {
		y = top + h - (int)((uint64_t)k * step * (uint64_t)h / max);
		rc = buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
		    "y2=\"%d\" stroke=\"#dddddd\"/><text x=\"%d\" y=\"%d\" "
		    "font-size=\"11\" text-anchor=\"end\">%llu</text>\n",
		    left, y, w - 10, y, left - 6, y + 4,
		    (unsigned long long)((uint64_t)k * step));
	}
	for (d = 0; rc == 0 && d < rp->ndays; d++) {
		x = left + 6 + (int)d * (bw + 6);
		y = top + h;
		for (p = 0; rc == 0 && p < np; p++) {
			int bh;

			if (rp->n[d][p] == 0)
				continue;
			bh = (int)(rp->n[d][p] * (uint64_t)h / max);
			if (bh < 2)
				bh = 2;
			y -= bh;
			rc = buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
			    "height=\"%d\" fill=\"%s\"><title>", x, y, bw, bh,
			    p < rp->npeople ? palette[p] : "#aaaaaa");
			if (rc == 0)
				rc = html_esc(b, p < rp->npeople ?
				    rp->people[p] : "others");
			if (rc == 0)
				rc = buf_printf(b, " %s: %llu</title></rect>\n",
				    rp->days[d],
				    (unsigned long long)rp->n[d][p]);
		}
		if (rc == 0)
			rc = buf_printf(b, "<text x=\"%d\" y=\"%d\" "
			    "font-size=\"10\" transform=\"rotate(60 %d %d)\">"
			    "%s</text>\n", x + 2, top + h + 12, x + 2,
			    top + h + 12, rp->days[d] + 5);
	}
	if (rc == 0)
		rc = buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
		    "y2=\"%d\" stroke=\"#333333\"/></svg>\n", left, top + h,
		    w - 10, top + h);
	/* Legend. */
	if (rc == 0)
		rc = buf_printf(b, "<p class=\"legend\">");
	for (p = 0; rc == 0 && p < rp->npeople; p++) {
		rc = buf_printf(b, "<span><i style=\"background:%s\"></i>",
		    palette[p]);
		if (rc == 0) rc = html_esc(b, rp->people[p]);
		if (rc == 0) rc = buf_printf(b, "</span> ");
	}
	if (rc == 0)
		rc = buf_printf(b, "</p>\n");
	return rc;
}

/* Days down, contractors across: downloads, and bytes below. */
static int
transfer_table(struct report *rp, struct buf *b)
{
	size_t d, p, np = rp->npeople;
	int others = 0, rc;

	if (rp->ndays == 0)
		return RG_OK;
	for (d = 0; d < rp->ndays; d++)
		others |= rp->n[d][PEOPLE_MAX] != 0;
	rc = buf_printf(b, "<table class=\"transfers\"><tr><th>day</th>");
	for (p = 0; rc == 0 && p < np; p++) {
		rc = buf_printf(b, "<th>");
		if (rc == 0) rc = html_esc(b, rp->people[p]);
		if (rc == 0) rc = buf_printf(b, "</th>");
	}
	if (rc == 0 && others)
		rc = buf_printf(b, "<th>others</th>");
	if (rc == 0)
		rc = buf_printf(b, "<th>total</th></tr>\n");
	for (d = 0; rc == 0 && d < rp->ndays; d++) {
		uint64_t tn = 0;
		int64_t tb = 0;

		rc = buf_printf(b, "<tr><td>%s</td>", rp->days[d]);
		for (p = 0; rc == 0 && p <= PEOPLE_MAX; p++) {
			if (p >= np && p < PEOPLE_MAX)
				continue;
			if (p == PEOPLE_MAX && !others)
				break;
			tn += rp->n[d][p];
			tb += rp->bytes[d][p];
			rc = rp->n[d][p] == 0 ? buf_printf(b, "<td></td>") :
			    buf_printf(b, "<td>%llu<br><small>%lld B</small>"
			    "</td>", (unsigned long long)rp->n[d][p],
			    (long long)rp->bytes[d][p]);
		}
		if (rc == 0)
			rc = buf_printf(b, "<td><b>%llu</b><br><small>%lld B"
			    "</small></td></tr>\n", (unsigned long long)tn,
			    (long long)tb);
	}
	if (rc == 0)
		rc = buf_printf(b, "</table>\n");
	return rc;
}

static const char style[] =
    "body{font-family:sans-serif;margin:2em;color:#222;background:#fff}"
    "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}"
    ".stamp{padding:.8em 1em;border-radius:6px;font-weight:bold;"
    "border:3px solid}"
    ".ok{background:#e3f4e3;border-color:#2b8a3e;color:#1b5e20}"
    ".bad{background:#fde2e2;border-color:#c92a2a;color:#8b1a1a}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
    "th{background:#eef}tr.denied td{background:#fff4e0}"
    "tr.failed td{background:#fde2e2}"
    ".legend span{margin-right:1em}.legend i{display:inline-block;"
    "width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}"
    "code{font-size:.85em}small{color:#666}"
    "table.transfers td{text-align:right}";

int
audit_report_html(const char *state_dir, const char *path, struct diag *d)
{
	struct audit_verify_result vr;
	struct report *rp;
	struct audit *a = NULL;
	struct buf b;
	size_t i;
	char now[32];
	int rc;

	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		return RG_ENOMEM;
	buf_init(&rp->bad, 64u << 20);
	buf_init(&b, 128u << 20);
	if ((rc = audit_verify(state_dir, &vr, d)) != 0)
		goto out;
	if ((rc = audit_open_readonly(&a, state_dir, d)) != 0)
		goto out;
	rc = audit_query(a, NULL, on_record, rp, d);
	if (rc == 1)
		rc = rp->err;
	if (rc != 0)
		goto out;
	time_rfc3339_now(now, sizeof(now));
	rc = buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>relgate audit review</title>"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
	    "<style>%s</style></head><body>\n<h1>relgate audit review</h1>\n"
	    "<p>Generated %s from %llu records.</p>\n", style, now,
	    (unsigned long long)rp->records);
	if (rc == 0 && vr.ok)
		rc = buf_printf(&b, "<div class=\"stamp ok\" id=\"verify\">"
		    "&#10004; Chain verified: %llu records, %llu signed "
		    "checkpoints (the last at record %llu), %llu awaiting "
		    "signature.<br><code>last hash %s</code><br>verified at %s"
		    "</div>\n", (unsigned long long)vr.records,
		    (unsigned long long)vr.checkpoints,
		    (unsigned long long)vr.last_checkpoint,
		    (unsigned long long)vr.pending,
		    vr.records ? vr.last_hash : "-", vr.time);
	else if (rc == 0) {
		rc = buf_printf(&b, "<div class=\"stamp bad\" id=\"verify\">"
		    "&#10008; VERIFICATION FAILED at record %llu: ",
		    (unsigned long long)vr.bad_seq);
		if (rc == 0) rc = html_esc(&b, vr.reason);
		if (rc == 0) rc = buf_printf(&b, "<br>verified at %s</div>\n",
		    vr.time);
	}
	if (rc == 0)
		rc = buf_printf(&b, "<h2>Transfers per contractor per day</h2>"
		    "\n<p>Completed downloads (<code>file.download</code>, "
		    "outcome ok) by users in the contractor role.</p>\n");
	if (rc == 0) rc = chart(rp, &b);
	if (rc == 0) rc = transfer_table(rp, &b);
	if (rc == 0 && rp->dropped_days)
		rc = buf_printf(&b, "<p>%llu downloads on days past the first "
		    "%d are not drawn.</p>\n",
		    (unsigned long long)rp->dropped_days, DAYS_MAX);
	if (rc == 0)
		rc = buf_printf(&b, "<h2>Denied and failed events (%llu)</h2>\n"
		    "<table><tr><th>seq</th><th>time</th><th>type</th>"
		    "<th>outcome</th><th>user</th><th>source</th>"
		    "<th>contract</th><th>path</th><th>detail</th></tr>\n",
		    (unsigned long long)rp->nbad);
	if (rc == 0) rc = buf_append(&b, rp->bad.data, rp->bad.len);
	if (rc == 0)
		rc = buf_printf(&b, "</table>\n");
	if (rc == 0 && rp->nbad > EVENTS_MAX)
		rc = buf_printf(&b, "<p>Only the first %d are listed: "
		    "<code>relgate audit list --outcome denied</code> and "
		    "<code>--outcome failed</code> show all.</p>\n",
		    EVENTS_MAX);
	if (rc == 0)
		rc = buf_printf(&b, "<h2>Events by type</h2>\n<table><tr>"
		    "<th>type</th><th>records</th></tr>\n");
	for (i = 0; rc == 0 && i < rp->ntypes; i++) {
		rc = buf_printf(&b, "<tr><td>");
		if (rc == 0) rc = html_esc(&b, rp->types[i]);
		if (rc == 0)
			rc = buf_printf(&b, "</td><td>%llu</td></tr>\n",
			    (unsigned long long)rp->type_n[i]);
	}
	if (rc == 0)
		rc = buf_printf(&b, "</table>\n</body></html>\n");
	if (rc != 0) {
		diag_set(d, rc, path, 0, 0, "report too large");
		goto out;
	}
	rc = file_write_atomic(path, b.data, b.len, 0600, d);
out:
	audit_close(a);
	for (i = 0; i < rp->npeople; i++)
		free(rp->people[i]);
	for (i = 0; i < rp->ntypes; i++)
		free(rp->types[i]);
	buf_free(&rp->bad);
	free(rp);
	buf_free(&b);
	return rc;
}
