/*
 * disclosure.cumulative: the contract's history file merged with a new
 * release, person by person.
 *
 * A history file (little-endian):
 *
 *	"RGHIST01" u64 n_persons u64 n_vectors u64 n_pairs u64 releases
 *	u64 0 u64 0 u64 0				(64 bytes)
 *	persons: (u64 person, u32 vector) x n_persons, ascending by person
 *	u32 vec_off x (n_vectors + 1), u64 pairs x n_pairs
 *
 * A vector is a set of (quasi-identifier, value) fingerprints: everything
 * the contractor knows about that person from all releases together. Both
 * the history and a release's trace are sorted by person, so the merge is
 * one streaming pass over the history (read in 1 MiB blocks, written the
 * same way); memory holds the release's trace and the vector dictionary,
 * never the history's persons.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disclosure/internal.h"

#define HIST_MAGIC	"RGHIST01"
#define HIST_HEAD	64
#define PERSON_BYTES	12
#define IO_BLOCK	((size_t)1 << 20)

/* ---- the vector dictionary ------------------------------------------- */

struct vdict {
	uint64_t *pairs;		/* all vectors' pairs */
	size_t	npairs, pcap;
	uint32_t *off;			/* vector v: pairs[off[v] .. off[v+1]) */
	size_t	n, ocap;
	uint64_t *count;		/* people per vector */
	size_t	ccap;
	uint64_t *hkey;			/* set hash -> 1 + id (0 free) */
	uint32_t *hid;
	size_t	hcap;
	uint64_t *mkey;			/* combine memo: (a << 32 | b) + 1 */
	uint32_t *mval;
	size_t	mcap, mn;
	int	full;
};

static uint64_t
set_hash(const uint64_t *p, size_t n)
{
	uint64_t h = 0x3c6ef372fe94f82bULL ^ n;
	size_t i;

	for (i = 0; i < n; i++) {
		h = (h ^ p[i]) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

static int
hmap_grow(struct vdict *d)
{
	size_t ncap = d->hcap ? d->hcap * 2 : 1024, i, j;
	uint64_t *nk = calloc(ncap, sizeof(uint64_t));
	uint32_t *ni = calloc(ncap, sizeof(uint32_t));

	if (nk == NULL || ni == NULL) {
		free(nk);
		free(ni);
		return RG_ENOMEM;
	}
	for (i = 0; i < d->hcap; i++) {
		if (d->hid[i] == 0)
			continue;
		for (j = d->hkey[i] & (ncap - 1); ni[j]; j = (j + 1) &
		    (ncap - 1))
			;
		nk[j] = d->hkey[i];
		ni[j] = d->hid[i];
	}
	free(d->hkey);
	free(d->hid);
	d->hkey = nk;
	d->hid = ni;
	d->hcap = ncap;
	return 0;
}

/* The id of the vector with pairs p[0..n) (ascending, no repeats), added
 * when new. Returns 0 or RG_ENOMEM / RG_ETOOBIG (d->full). */
static int
vdict_get(struct vdict *d, const uint64_t *p, size_t n, uint32_t *id)
{
	uint64_t h = set_hash(p, n);
	size_t j;

	if ((d->n + 1) * 4 > d->hcap * 3 && hmap_grow(d) != 0)
		return RG_ENOMEM;
	for (j = h & (d->hcap - 1); d->hid[j]; j = (j + 1) & (d->hcap - 1)) {
		uint32_t v = d->hid[j] - 1;

		if (d->hkey[j] == h && d->off[v + 1] - d->off[v] == n &&
		    memcmp(d->pairs + d->off[v], p, n * 8) == 0) {
			*id = v;
			return 0;
		}
	}
	if (d->n >= HIST_VECTORS_MAX || d->npairs + n > UINT32_MAX) {
		d->full = 1;
		return RG_ETOOBIG;
	}
	if (rg_array_grow((void **)&d->pairs, &d->pcap, d->npairs + n + 1,
	    8) != 0 ||
	    rg_array_grow((void **)&d->off, &d->ocap, d->n + 2, 4) != 0 ||
	    rg_array_grow((void **)&d->count, &d->ccap, d->n + 1, 8) != 0)
		return RG_ENOMEM;
	d->count[d->n] = 0;
	if (d->n == 0)
		d->off[0] = 0;
	memcpy(d->pairs + d->npairs, p, n * 8);
	d->npairs += n;
	d->off[d->n + 1] = (uint32_t)d->npairs;
	d->hkey[j] = h;
	d->hid[j] = (uint32_t)d->n + 1;
	*id = (uint32_t)d->n++;
	return 0;
}

/* The vector of everything in vectors a and b together. */
static int
vdict_union(struct vdict *d, uint32_t a, uint32_t b, uint32_t *id,
    uint64_t **tmp, size_t *tcap)
{
	uint64_t key = ((uint64_t)a << 32 | b) + 1;
	size_t j, i, k, n = 0, na, nb;
	const uint64_t *pa, *pb;
	int rc;

	if (a == b) {
		*id = a;
		return 0;
	}
	if ((d->mn + 1) * 4 > d->mcap * 3) {
		size_t ncap = d->mcap ? d->mcap * 2 : 1024;
		uint64_t *nk = calloc(ncap, 8);
		uint32_t *nv = calloc(ncap, 4);

		if (nk == NULL || nv == NULL) {
			free(nk);
			free(nv);
			return RG_ENOMEM;
		}
		for (i = 0; i < d->mcap; i++) {
			if (d->mkey[i] == 0)
				continue;
			for (k = (d->mkey[i] * 0x9e3779b97f4a7c15ULL) >> 20 &
			    (ncap - 1); nk[k]; k = (k + 1) & (ncap - 1))
				;
			nk[k] = d->mkey[i];
			nv[k] = d->mval[i];
		}
		free(d->mkey);
		free(d->mval);
		d->mkey = nk;
		d->mval = nv;
		d->mcap = ncap;
	}
	for (j = (key * 0x9e3779b97f4a7c15ULL) >> 20 & (d->mcap - 1);
	    d->mkey[j]; j = (j + 1) & (d->mcap - 1))
		if (d->mkey[j] == key) {
			*id = d->mval[j];
			return 0;
		}
	na = d->off[a + 1] - d->off[a];
	nb = d->off[b + 1] - d->off[b];
	if ((rc = rg_array_grow((void **)tmp, tcap, na + nb + 1, 8)) != 0)
		return rc;
	pa = d->pairs + d->off[a];	/* read before vdict_get may move them */
	pb = d->pairs + d->off[b];
	for (i = k = 0; i < na || k < nb;) {
		uint64_t x;

		if (k >= nb || (i < na && pa[i] < pb[k]))
			x = pa[i++];
		else if (i >= na || pb[k] < pa[i])
			x = pb[k++];
		else {
			x = pa[i++];
			k++;
		}
		(*tmp)[n++] = x;
	}
	if ((rc = vdict_get(d, *tmp, n, id)) != 0)
		return rc;
	d->mkey[j] = key;
	d->mval[j] = *id;
	d->mn++;
	return 0;
}

static void
vdict_free(struct vdict *d)
{
	free(d->pairs);
	free(d->off);
	free(d->count);
	free(d->hkey);
	free(d->hid);
	free(d->mkey);
	free(d->mval);
}

/* ---- buffered reading and writing ------------------------------------ */

struct rbuf {
	int	fd;
	unsigned char *p;
	size_t	len, off;
	uint64_t left;			/* persons not yet read */
};

/* Next person of the history; 0 at the end, <0 on error. */
static int
rbuf_next(struct rbuf *r, uint64_t *person, uint32_t *vec)
{
	if (r->left == 0)
		return 0;
	if (r->len - r->off < PERSON_BYTES) {
		size_t keep = r->len - r->off, want;
		ssize_t n;

		memmove(r->p, r->p + r->off, keep);
		r->len = keep;
		r->off = 0;
		want = IO_BLOCK - keep;
		if ((uint64_t)want > r->left * PERSON_BYTES)
			want = (size_t)(r->left * PERSON_BYTES);
		while (r->len < PERSON_BYTES) {
			n = read(r->fd, r->p + r->len, want - (r->len - keep));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return RG_EIO;
			r->len += (size_t)n;
		}
	}
	memcpy(person, r->p + r->off, 8);
	memcpy(vec, r->p + r->off + 8, 4);
	*person = le64toh(*person);
	*vec = le32toh(*vec);
	r->off += PERSON_BYTES;
	r->left--;
	return 1;
}

struct wbuf {
	int	fd;
	unsigned char *p;
	size_t	len;
	int	err;
};

static void
wbuf_flush(struct wbuf *w)
{
	size_t off = 0;

	while (off < w->len && !w->err) {
		ssize_t n = write(w->fd, w->p + off, w->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->err = errno ? errno : EIO;
		else
			off += (size_t)n;
	}
	w->len = 0;
}

static void
wbuf_put(struct wbuf *w, const void *p, size_t n)
{
	if (w->fd < 0)
		return;
	if (w->len + n > IO_BLOCK)
		wbuf_flush(w);
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void
wbuf_person(struct wbuf *w, uint64_t person, uint32_t vec)
{
	unsigned char e[PERSON_BYTES];

	person = htole64(person);
	vec = htole32(vec);
	memcpy(e, &person, 8);
	memcpy(e + 8, &vec, 4);
	wbuf_put(w, e, sizeof(e));
}

/* ---- the merge ------------------------------------------------------- */

static int
read_exact(int fd, void *p, size_t n, off_t at)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)p + got, n - got, at + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return RG_EIO;
		got += (size_t)r;
	}
	return 0;
}

/* Open the history file and load its vectors into d (ids kept). */
static int
open_history(const char *path, struct vdict *d, struct rbuf *r,
    uint64_t *releases, struct diag *dg)
{
	unsigned char h[HIST_HEAD];
	uint64_t np, nv, npairs;
	uint32_t *off = NULL;
	uint64_t *pairs = NULL;
	struct stat st;
	size_t i;
	uint32_t id;
	int rc;

	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return diag_set(dg, RG_EIO, path, 0, 0, "%s", strerror(errno));
	if (fstat(r->fd, &st) != 0 || read_exact(r->fd, h, sizeof(h), 0) != 0 ||
	    memcmp(h, HIST_MAGIC, 8) != 0)
		return diag_set(dg, RG_EPARSE, path, 0, 0, "not a history file");
	memcpy(&np, h + 8, 8);
	memcpy(&nv, h + 16, 8);
	memcpy(&npairs, h + 24, 8);
	memcpy(releases, h + 32, 8);
	np = le64toh(np);
	nv = le64toh(nv);
	npairs = le64toh(npairs);
	*releases = le64toh(*releases);
	if (nv > HIST_VECTORS_MAX || npairs > UINT32_MAX ||
	    (uint64_t)st.st_size != HIST_HEAD + np * PERSON_BYTES + (nv + 1) *
	    4 + npairs * 8)
		return diag_set(dg, RG_EPARSE, path, 0, 0, "history file of "
		    "the wrong size");
	if ((off = calloc(nv + 1, 4)) == NULL || (pairs = calloc(npairs + 1,
	    8)) == NULL) {
		rc = RG_ENOMEM;
		goto out;
	}
	if (read_exact(r->fd, off, (nv + 1) * 4, (off_t)(HIST_HEAD + np *
	    PERSON_BYTES)) != 0 || read_exact(r->fd, pairs, npairs * 8,
	    (off_t)(HIST_HEAD + np * PERSON_BYTES + (nv + 1) * 4)) != 0) {
		rc = diag_set(dg, RG_EIO, path, 0, 0, "read: %s",
		    strerror(errno));
		goto out;
	}
	for (i = 0; i < nv; i++) {
		uint32_t a = le32toh(off[i]), b = le32toh(off[i + 1]), k;

		if (a > b || b > npairs) {
			rc = diag_set(dg, RG_EPARSE, path, 0, 0, "bad vector");
			goto out;
		}
		for (k = a; k < b; k++)
			pairs[k] = le64toh(pairs[k]);
		if ((rc = vdict_get(d, pairs + a, b - a, &id)) != 0)
			goto out;
		if (id != i) {
			rc = diag_set(dg, RG_EPARSE, path, 0, 0, "repeated "
			    "vector");
			goto out;
		}
	}
	if ((r->p = malloc(IO_BLOCK)) == NULL) {
		rc = RG_ENOMEM;
		goto out;
	}
	if (lseek(r->fd, HIST_HEAD, SEEK_SET) < 0) {
		rc = RG_EIO;
		goto out;
	}
	(void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->left = np;
	rc = 0;
out:
	free(off);
	free(pairs);
	return rc;
}

/* Count one person of vector v. */
static int
count_one(struct vdict *d, uint32_t v)
{
	if (v >= d->n)
		return RG_EPARSE;
	d->count[v]++;
	return 0;
}

/* Write the dictionary after the persons, then the header. */
static int
finish_out(struct wbuf *w, const struct vdict *d, uint64_t persons,
    uint64_t releases)
{
	unsigned char h[HIST_HEAD];
	uint64_t v[4];
	size_t i;

	for (i = 0; i <= d->n; i++) {
		uint32_t o = htole32(d->n ? d->off[i] : 0);

		wbuf_put(w, &o, 4);
	}
	for (i = 0; i < d->npairs; i++) {
		uint64_t p = htole64(d->pairs[i]);

		wbuf_put(w, &p, 8);
	}
	wbuf_flush(w);
	memset(h, 0, sizeof(h));
	memcpy(h, HIST_MAGIC, 8);
	v[0] = htole64(persons);
	v[1] = htole64(d->n);
	v[2] = htole64(d->npairs);
	v[3] = htole64(releases);
	memcpy(h + 8, v, sizeof(v));
	if (!w->err && pwrite(w->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		w->err = errno ? errno : EIO;
	if (!w->err && fsync(w->fd) != 0)
		w->err = errno;
	return w->err ? RG_EIO : 0;
}

int
history_merge(const char *old, struct release_trace *const *t, size_t n,
    long k, const char *out, struct cumulative_result *res, struct diag *dg)
{
	struct vdict d;
	struct rbuf r = { -1, NULL, 0, 0, 0 };
	struct wbuf w = { -1, NULL, 0, 0 };
	uint32_t **tmap = NULL;
	size_t *ti = NULL, i, j, tcap = 0;
	uint64_t *tmp = NULL, releases = 0, hp = 0;
	uint32_t hv = 0;
	char tmpath[PATH_MAX];
	int rc = 0, more = 0;

	memset(&d, 0, sizeof(d));
	memset(res, 0, sizeof(*res));
	tmpath[0] = '\0';
	if (old != NULL && old[0] != '\0' &&
	    (rc = open_history(old, &d, &r, &releases, dg)) != 0)
		goto out;
	res->releases_before = releases;
	/* the release's vectors into the same dictionary */
	if ((tmap = calloc(n + 1, sizeof(*tmap))) == NULL ||
	    (ti = calloc(n + 1, sizeof(*ti))) == NULL) {
		rc = RG_ENOMEM;
		goto out;
	}
	for (j = 0; j < n; j++) {
		if (t[j]->records_full) {
			res->full = 1;
			goto out;
		}
		if ((tmap[j] = calloc(t[j]->n_vectors + 1, 4)) == NULL) {
			rc = RG_ENOMEM;
			goto out;
		}
		for (i = 0; i < t[j]->n_vectors; i++) {
			const uint64_t *p = t[j]->pairs + t[j]->vec_off[i];
			size_t np = t[j]->vec_off[i + 1] - t[j]->vec_off[i];
			size_t a, b;

			/* a set: ascending, each once */
			if ((rc = rg_array_grow((void **)&tmp, &tcap, np + 1,
			    8)) != 0)
				goto out;
			for (a = b = 0; a < np; a++)
				if (b == 0 || tmp[b - 1] != p[a])
					tmp[b++] = p[a];
			if ((rc = vdict_get(&d, tmp, b, &tmap[j][i])) != 0)
				goto out;
		}
	}
	if (out != NULL) {
		int m = snprintf(tmpath, sizeof(tmpath), "%s.tmp", out);

		if (m < 0 || (size_t)m >= sizeof(tmpath)) {
			rc = diag_set(dg, RG_EINVAL, out, 0, 0, "path too long");
			goto out;
		}
		if ((w.fd = open(tmpath, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 || (w.p =
		    malloc(IO_BLOCK)) == NULL || lseek(w.fd, HIST_HEAD,
		    SEEK_SET) < 0) {
			rc = diag_set(dg, RG_EIO, tmpath, 0, 0, "%s",
			    strerror(errno));
			goto out;
		}
	}
	if (r.fd >= 0 && (more = rbuf_next(&r, &hp, &hv)) < 0) {
		rc = diag_set(dg, RG_EIO, old, 0, 0, "read: short file");
		goto out;
	}
	/* count[] follows the dictionary as it grows */
	for (;;) {
		uint64_t p = UINT64_MAX;
		int have = 0;
		uint32_t v = 0;

		/* the smallest person among the history and the traces */
		if (more) {
			p = hp;
			have = 1;
		}
		for (j = 0; j < n; j++)
			if (ti[j] < t[j]->n_persons && (!have ||
			    t[j]->persons[ti[j]].person < p)) {
				p = t[j]->persons[ti[j]].person;
				have = 1;
			}
		if (!have)
			break;
		have = 0;
		if (more && hp == p) {
			v = hv;
			have = 1;
			if ((more = rbuf_next(&r, &hp, &hv)) < 0) {
				rc = diag_set(dg, RG_EIO, old, 0, 0,
				    "read: short file");
				goto out;
			}
		}
		for (j = 0; j < n; j++) {
			const struct trace_person *tp;

			if (ti[j] >= t[j]->n_persons ||
			    (tp = &t[j]->persons[ti[j]])->person != p)
				continue;
			ti[j]++;
			if (tp->vector >= t[j]->n_vectors) {
				rc = RG_EINVAL;
				goto out;
			}
			if (!have) {
				v = tmap[j][tp->vector];
				have = 1;
			} else if ((rc = vdict_union(&d, v,
			    tmap[j][tp->vector], &v, &tmp, &tcap)) != 0)
				goto out;
		}
		if ((rc = count_one(&d, v)) != 0) {
			rc = diag_set(dg, rc, old ? old : "", 0, 0,
			    "bad vector id");
			goto out;
		}
		res->persons++;
		wbuf_person(&w, p, v);
	}
	for (i = 0; i < d.n; i++) {
		if (d.count[i] == 0)
			continue;
		res->classes++;
		if (d.count[i] < (uint64_t)k) {
			res->short_classes++;
			res->short_people += d.count[i];
		}
	}
	if (w.fd >= 0) {
		if ((rc = finish_out(&w, &d, res->persons, releases + 1)) != 0) {
			rc = diag_set(dg, rc, tmpath, 0, 0, "write: %s",
			    strerror(w.err));
			goto out;
		}
		close(w.fd);
		w.fd = -1;
		if (rename(tmpath, out) != 0 || dir_fsync(out) != 0) {
			rc = diag_set(dg, RG_EIO, out, 0, 0, "rename: %s",
			    strerror(errno));
			goto out;
		}
		tmpath[0] = '\0';
	}
out:
	if (rc == RG_ETOOBIG && d.full) {
		res->full = 1;
		rc = 0;
	}
	if (w.fd >= 0)
		close(w.fd);
	if (tmpath[0])
		(void)unlink(tmpath);
	if (r.fd >= 0)
		close(r.fd);
	free(r.p);
	free(w.p);
	for (j = 0; tmap && j < n; j++)
		free(tmap[j]);
	free(tmap);
	free(ti);
	free(tmp);
	vdict_free(&d);
	return rc;
}
