/* Growable byte buffers with a hard cap fixed at creation. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

void
buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->size = 0;
	b->cap = cap;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t want, nsize;
	unsigned char *p;

	if (n > b->cap || b->len > b->cap - n)
		return RG_ETOOBIG;
	want = b->len + n;
	if (want <= b->size)
		return RG_OK;
	nsize = b->size ? b->size : 256;
	while (nsize < want)
		nsize = nsize > SIZE_MAX / 2 ? want : nsize * 2;
	if (nsize > b->cap)
		nsize = b->cap;
	p = realloc(b->data, nsize);
	if (p == NULL)
		return RG_ENOMEM;
	b->data = p;
	b->size = nsize;
	return RG_OK;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return RG_OK;
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return RG_OK;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return RG_EINVAL;
	/* room for the NUL vsnprintf writes; it is not counted in len */
	if ((rc = buf_reserve(b, (size_t)n + 1)) != 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return RG_OK;
}

int
buf_cstr(struct buf *b)
{
	int rc;

	if ((rc = buf_reserve(b, 1)) != 0)
		return rc;
	b->data[b->len] = '\0';
	return RG_OK;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		rg_wipe(b->data, b->size);
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}
