/*
 * A release trace as bytes: the request's trace file (kept from the checks
 * to the approval) and a released table's cells in the store. Little-endian
 * words; names as 16-bit length + bytes.
 *
 *	"RGTRACE1" u32 flags
 *	u64 n_persons u64 n_vectors u64 n_pairs
 *	persons (u64 person, u32 vector) x n_persons
 *	u32 vec_off x (n_vectors + 1), u64 pairs x n_pairs
 *	u32 n_dims, names; u32 n_measures, names; u64 n_cells
 *	u64 keys x n_cells x n_dims, i64 counts x n_cells x n_measures
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disclosure/internal.h"

#define TRACE_MAGIC	"RGTRACE1"
#define TRACE_FILE_MAX	((size_t)512 << 20)
#define F_RECORDS	1u
#define F_RECORDS_FULL	2u
#define F_TABLE		4u
#define F_TABLE_FULL	8u

/* Where encoded bytes go: a buffer (the store's blobs), flushed to fd
 * each time it holds a block when fd >= 0 (the trace file: written as it
 * is made, never held whole). */
struct sink {
	struct buf *b;
	int	fd;
	int	err;
};

#define SINK_BLOCK	((size_t)1 << 20)

static int
sink_flush(struct sink *k)
{
	size_t off = 0;

	while (k->fd >= 0 && off < k->b->len && !k->err) {
		ssize_t n = write(k->fd, k->b->data + off, k->b->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			k->err = errno ? errno : EIO;
		else
			off += (size_t)n;
	}
	if (k->fd >= 0)
		buf_reset(k->b);
	return k->err ? RG_EIO : 0;
}

static int
put(struct sink *k, const void *p, size_t n)
{
	if (k->fd >= 0 && k->b->len + n > SINK_BLOCK && sink_flush(k) != 0)
		return RG_EIO;
	return buf_append(k->b, p, n);
}

static int
put32(struct sink *b, uint32_t v)
{
	v = htole32(v);
	return put(b, &v, 4);
}

static int
put64(struct sink *b, uint64_t v)
{
	v = htole64(v);
	return put(b, &v, 8);
}

static int
put_names(struct sink *b, char *const *names, size_t n)
{
	size_t i;
	int rc = put32(b, (uint32_t)n);

	for (i = 0; i < n && rc == 0; i++) {
		size_t len = strlen(names[i]);
		uint16_t l = htole16((uint16_t)(len > 0xffff ? 0xffff : len));

		rc = put(b, &l, 2);
		rc = rc ? rc : put(b, names[i], le16toh(l));
	}
	return rc;
}

static int
encode(const struct release_trace *t, struct sink *b)
{
	uint32_t flags = (t->records ? F_RECORDS : 0) | (t->records_full ?
	    F_RECORDS_FULL : 0) | (t->table ? F_TABLE : 0) | (t->table_full ?
	    F_TABLE_FULL : 0);
	size_t i, npairs = t->n_vectors ? t->vec_off[t->n_vectors] : 0;
	int rc = 0;

	rc |= put(b, TRACE_MAGIC, 8);
	rc |= put32(b, flags);
	rc |= put64(b, t->n_persons);
	rc |= put64(b, t->n_vectors);
	rc |= put64(b, npairs);
	for (i = 0; i < t->n_persons && rc == 0; i++) {
		rc |= put64(b, t->persons[i].person);
		rc |= put32(b, t->persons[i].vector);
	}
	for (i = 0; t->n_vectors && i <= t->n_vectors && rc == 0; i++)
		rc |= put32(b, t->vec_off[i]);
	for (i = 0; i < npairs && rc == 0; i++)
		rc |= put64(b, t->pairs[i]);
	rc |= put_names(b, t->dims, t->n_dims);
	rc |= put_names(b, t->measures, t->n_measures);
	rc |= put64(b, t->n_cells);
	for (i = 0; i < t->n_cells * t->n_dims && rc == 0; i++)
		rc |= put64(b, t->cell_keys[i]);
	for (i = 0; i < t->n_cells * t->n_measures && rc == 0; i++)
		rc |= put64(b, (uint64_t)t->cell_counts[i]);
	rc |= sink_flush(b);
	return rc ? (b->err ? RG_EIO : RG_ETOOBIG) : 0;
}

int
trace_encode(const struct release_trace *t, struct buf *b)
{
	struct sink k = { b, -1, 0 };

	return encode(t, &k);
}

struct rd {
	const unsigned char *p;
	size_t	len, off;
	int	bad;
};

static uint64_t
get(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return 0;
	}
	memcpy(&v, r->p + r->off, n);	/* little-endian hosts and files */
	r->off += n;
	return le64toh(v);
}

/* A count read from the file, bounded by what the rest could hold. */
static size_t
get_count(struct rd *r, size_t each)
{
	uint64_t n = get(r, 8);

	if (!r->bad && each != 0 && n > (r->len - r->off) / each)
		r->bad = 1;
	return r->bad ? 0 : (size_t)n;
}

static int
get_names(struct rd *r, char ***out, size_t *n)
{
	uint32_t k = (uint32_t)get(r, 4);
	size_t i;

	if (r->bad || k > 4096)
		return RG_EPARSE;
	if ((*out = calloc(k + 1, sizeof(char *))) == NULL)
		return RG_ENOMEM;
	for (i = 0; i < k; i++) {
		size_t l = (size_t)get(r, 2);

		if (r->bad || r->len - r->off < l)
			return RG_EPARSE;
		if (((*out)[i] = strndup((const char *)r->p + r->off, l)) ==
		    NULL)
			return RG_ENOMEM;
		r->off += l;
		*n = i + 1;
	}
	return 0;
}

int
trace_decode(struct release_trace **out, const unsigned char *p, size_t len)
{
	struct rd r = { p, len, 0, 0 };
	struct release_trace *t;
	uint32_t flags;
	size_t i, npairs;
	int rc = RG_EPARSE;

	*out = NULL;
	if (len < 8 || memcmp(p, TRACE_MAGIC, 8) != 0)
		return RG_EPARSE;
	r.off = 8;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return RG_ENOMEM;
	flags = (uint32_t)get(&r, 4);
	t->records = !!(flags & F_RECORDS);
	t->records_full = !!(flags & F_RECORDS_FULL);
	t->table = !!(flags & F_TABLE);
	t->table_full = !!(flags & F_TABLE_FULL);
	t->n_persons = get_count(&r, 12);
	t->n_vectors = get_count(&r, 4);
	npairs = get_count(&r, 8);
	if (r.bad)
		goto out;
	rc = RG_ENOMEM;
	if ((t->persons = calloc(t->n_persons + 1, sizeof(*t->persons))) ==
	    NULL || (t->vec_off = calloc(t->n_vectors + 1, 4)) == NULL ||
	    (t->pairs = calloc(npairs + 1, 8)) == NULL)
		goto out;
	for (i = 0; i < t->n_persons; i++) {
		t->persons[i].person = get(&r, 8);
		t->persons[i].vector = (uint32_t)get(&r, 4);
		if (t->persons[i].vector >= t->n_vectors)
			r.bad = 1;
	}
	for (i = 0; t->n_vectors && i <= t->n_vectors; i++) {
		t->vec_off[i] = (uint32_t)get(&r, 4);
		if (t->vec_off[i] > npairs || (i > 0 && t->vec_off[i] <
		    t->vec_off[i - 1]))
			r.bad = 1;
	}
	for (i = 0; i < npairs; i++)
		t->pairs[i] = get(&r, 8);
	rc = RG_EPARSE;
	if (r.bad)
		goto out;
	if ((rc = get_names(&r, &t->dims, &t->n_dims)) != 0 ||
	    (rc = get_names(&r, &t->measures, &t->n_measures)) != 0)
		goto out;
	rc = RG_EPARSE;
	t->n_cells = get_count(&r, 8 * (t->n_dims + t->n_measures));
	if (r.bad)
		goto out;
	rc = RG_ENOMEM;
	if ((t->cell_keys = calloc(t->n_cells * t->n_dims + 1, 8)) == NULL ||
	    (t->cell_counts = calloc(t->n_cells * t->n_measures + 1, 8)) ==
	    NULL)
		goto out;
	for (i = 0; i < t->n_cells * t->n_dims; i++)
		t->cell_keys[i] = get(&r, 8);
	for (i = 0; i < t->n_cells * t->n_measures; i++)
		t->cell_counts[i] = (int64_t)get(&r, 8);
	rc = r.bad || r.off != r.len ? RG_EPARSE : 0;
out:
	if (rc != 0)
		release_trace_free(t);
	else
		*out = t;
	return rc;
}

int
release_trace_write(const struct release_trace *t, const char *path,
    struct diag *d)
{
	char tmp[PATH_MAX];
	struct buf b;
	struct sink k;
	int rc, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return diag_set(d, RG_EINVAL, path, 0, 0, "path too long");
	buf_init(&b, 2 * SINK_BLOCK);
	k.b = &b;
	k.err = 0;
	if ((k.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0) {
		buf_free(&b);
		return diag_set(d, RG_EIO, tmp, 0, 0, "%s", strerror(errno));
	}
	rc = encode(t, &k);
	if (rc == 0 && fsync(k.fd) != 0)
		rc = RG_EIO;
	if (close(k.fd) != 0 && rc == 0)
		rc = RG_EIO;
	if (rc == 0 && (rename(tmp, path) != 0 || dir_fsync(path) != 0))
		rc = RG_EIO;
	if (rc != 0) {
		rc = diag_set(d, rc, path, 0, 0, "write: %s", k.err ?
		    strerror(k.err) : strerror(errno));
		(void)unlink(tmp);
	}
	buf_free(&b);
	return rc;
}

int
release_trace_read(struct release_trace **out, const char *path,
    struct diag *d)
{
	struct stat st;
	void *map;
	int fd, rc;

	*out = NULL;
	/* mapped, not copied: the decoded trace is the only copy in memory */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return diag_set(d, errno == ENOENT ? RG_ENOENT : RG_EIO, path, 0,
		    0, "%s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 8 ||
	    (uint64_t)st.st_size > TRACE_FILE_MAX) {
		close(fd);
		return diag_set(d, RG_EPARSE, path, 0, 0, "not a release trace");
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return diag_set(d, RG_EIO, path, 0, 0, "mmap: %s",
		    strerror(errno));
	if ((rc = trace_decode(out, map, (size_t)st.st_size)) != 0)
		rc = diag_set(d, rc, path, 0, 0, "not a release trace");
	munmap(map, (size_t)st.st_size);
	return rc;
}
