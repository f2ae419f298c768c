/*
 * gateway/sftp_codec.c — SFTP v3 wire encoding over byte buffers. No I/O:
 * readers take a bounded cursor over one packet, writers append to a capped
 * struct buf. Every read is bounds-checked before it touches memory.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gateway/sftp_internal.h"

/* Store v big-endian at p. */
void
sftp_store_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Read a big-endian uint32 at p. */
uint32_t
sftp_load_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Start reading len bytes at p. */
void
sftp_rd_init(struct sftp_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

/* Bytes not read yet. */
size_t
sftp_rd_left(const struct sftp_rd *r)
{
	return r->len - r->off;
}

/* One byte. */
int
sftp_get_u8(struct sftp_rd *r, uint8_t *v)
{
	if (sftp_rd_left(r) < 1)
		return RG_EPARSE;
	*v = r->p[r->off++];
	return RG_OK;
}

/* A big-endian uint32. */
int
sftp_get_u32(struct sftp_rd *r, uint32_t *v)
{
	if (sftp_rd_left(r) < 4)
		return RG_EPARSE;
	*v = sftp_load_u32(r->p + r->off);
	r->off += 4;
	return RG_OK;
}

/* A big-endian uint64. */
int
sftp_get_u64(struct sftp_rd *r, uint64_t *v)
{
	if (sftp_rd_left(r) < 8)
		return RG_EPARSE;
	*v = ((uint64_t)sftp_load_u32(r->p + r->off) << 32) |
	    sftp_load_u32(r->p + r->off + 4);
	r->off += 8;
	return RG_OK;
}

/* A length-prefixed string, borrowed from the packet. */
int
sftp_get_string(struct sftp_rd *r, const unsigned char **p, size_t *n)
{
	uint32_t len;

	if (sftp_rd_left(r) < 4)
		return RG_EPARSE;
	len = sftp_load_u32(r->p + r->off);
	if (len > sftp_rd_left(r) - 4)
		return RG_EPARSE;
	*p = r->p + r->off + 4;
	*n = len;
	r->off += 4 + (size_t)len;
	return RG_OK;
}

/* v3 attributes; the extended pairs are read and dropped (at most
 * SFTP_MAX_ATTR_EXT of them). On error the cursor is left unchanged. */
int
sftp_get_attrs(struct sftp_rd *r, struct sftp_attrs *a)
{
	size_t start = r->off;
	uint32_t count, i;
	const unsigned char *p;
	size_t n;

	memset(a, 0, sizeof(*a));
	if (sftp_get_u32(r, &a->flags) != 0)
		goto bad;
	if ((a->flags & SSH_FILEXFER_ATTR_SIZE) &&
	    sftp_get_u64(r, &a->size) != 0)
		goto bad;
	if ((a->flags & SSH_FILEXFER_ATTR_UIDGID) &&
	    (sftp_get_u32(r, &a->uid) != 0 || sftp_get_u32(r, &a->gid) != 0))
		goto bad;
	if ((a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) &&
	    sftp_get_u32(r, &a->perm) != 0)
		goto bad;
	if ((a->flags & SSH_FILEXFER_ATTR_ACMODTIME) &&
	    (sftp_get_u32(r, &a->atime) != 0 ||
	    sftp_get_u32(r, &a->mtime) != 0))
		goto bad;
	if (a->flags & SSH_FILEXFER_ATTR_EXTENDED) {
		if (sftp_get_u32(r, &count) != 0 || count > SFTP_MAX_ATTR_EXT)
			goto bad;
		for (i = 0; i < count; i++)
			if (sftp_get_string(r, &p, &n) != 0 ||
			    sftp_get_string(r, &p, &n) != 0)
				goto bad;
	}
	return RG_OK;
bad:
	r->off = start;
	return RG_EPARSE;
}

/* Append one byte. */
int
sftp_put_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

/* Append a big-endian uint32. */
int
sftp_put_u32(struct buf *b, uint32_t v)
{
	unsigned char x[4];

	sftp_store_u32(x, v);
	return buf_append(b, x, 4);
}

/* Append a big-endian uint64. */
int
sftp_put_u64(struct buf *b, uint64_t v)
{
	unsigned char x[8];

	sftp_store_u32(x, (uint32_t)(v >> 32));
	sftp_store_u32(x + 4, (uint32_t)v);
	return buf_append(b, x, 8);
}

/* A length-prefixed string; RG_ETOOBIG when n does not fit a uint32. */
int
sftp_put_string(struct buf *b, const void *p, size_t n)
{
	int rc;

	if (n > UINT32_MAX)
		return RG_ETOOBIG;
	if ((rc = buf_reserve(b, 4 + n)) != 0)
		return rc;
	sftp_store_u32(b->data + b->len, (uint32_t)n);
	if (n > 0)
		memcpy(b->data + b->len + 4, p, n);
	b->len += 4 + n;
	return RG_OK;
}

/* Append a C string as an SFTP string. */
int
sftp_put_cstring(struct buf *b, const char *s)
{
	return sftp_put_string(b, s, strlen(s));
}

/* Attributes as flagged (never the extended pairs). */
int
sftp_put_attrs(struct buf *b, const struct sftp_attrs *a)
{
	uint32_t flags = a->flags & ~SSH_FILEXFER_ATTR_EXTENDED;
	int rc;

	if ((rc = sftp_put_u32(b, flags)) != 0)
		return rc;
	if ((flags & SSH_FILEXFER_ATTR_SIZE) &&
	    (rc = sftp_put_u64(b, a->size)) != 0)
		return rc;
	if ((flags & SSH_FILEXFER_ATTR_UIDGID) &&
	    ((rc = sftp_put_u32(b, a->uid)) != 0 ||
	    (rc = sftp_put_u32(b, a->gid)) != 0))
		return rc;
	if ((flags & SSH_FILEXFER_ATTR_PERMISSIONS) &&
	    (rc = sftp_put_u32(b, a->perm)) != 0)
		return rc;
	if ((flags & SSH_FILEXFER_ATTR_ACMODTIME) &&
	    ((rc = sftp_put_u32(b, a->atime)) != 0 ||
	    (rc = sftp_put_u32(b, a->mtime)) != 0))
		return rc;
	return RG_OK;
}

/* Begin a packet: 4 bytes of length to patch, then the type. */
int
sftp_packet_begin(struct buf *b, uint8_t type, size_t *mark)
{
	int rc;

	*mark = b->len;
	if ((rc = sftp_put_u32(b, 0)) != 0)
		return rc;
	return sftp_put_u8(b, type);
}

/* Patch the length of the packet begun at mark. */
void
sftp_packet_end(struct buf *b, size_t mark)
{
	sftp_store_u32(b->data + mark, (uint32_t)(b->len - mark - 4));
}

/* Attributes of a file as the client sees them. */
void
sftp_attrs_from_stat(struct sftp_attrs *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID |
	    SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME;
	a->size = st->st_size < 0 ? 0 : (uint64_t)st->st_size;
	a->uid = (uint32_t)st->st_uid;
	a->gid = (uint32_t)st->st_gid;
	a->perm = (uint32_t)st->st_mode;
	a->atime = (uint32_t)st->st_atime;
	a->mtime = (uint32_t)st->st_mtime;
}

/* "-rw-------    1 ann      ann          1234 Nov 25 18:00 name" */
void
sftp_longname(char *out, size_t len, const char *name, const struct stat *st,
    const char *owner)
{
	char mode[11], when[16];
	struct tm tm;
	time_t t = st->st_mtime, now = time(NULL);
	static const char rwx[] = "rwxrwxrwx";
	int i;

	mode[0] = S_ISDIR(st->st_mode) ? 'd' : '-';
	for (i = 0; i < 9; i++)
		mode[1 + i] = (st->st_mode & (0400 >> i)) ? rwx[i] : '-';
	mode[10] = '\0';
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* Like ls: the year for files older than about half a year. */
	if (t > now - 182 * 86400L && t < now + 86400L)
		strftime(when, sizeof(when), "%b %e %H:%M", &tm);
	else
		strftime(when, sizeof(when), "%b %e  %Y", &tm);
	snprintf(out, len, "%s %4lu %-8.32s %-8.32s %8lld %s %s", mode,
	    (unsigned long)st->st_nlink, owner, owner,
	    (long long)st->st_size, when, name);
}
