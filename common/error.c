/* Error codes and diagnostics. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

const char *
rg_strerror(int err)
{
	switch (err) {
	case RG_OK:		return "success";
	case RG_ENOMEM:		return "out of memory";
	case RG_EIO:		return "input/output error";
	case RG_EINVAL:		return "invalid argument";
	case RG_EPARSE:		return "malformed input";
	case RG_ENOENT:		return "not found";
	case RG_EEXIST:		return "already exists";
	case RG_EPERM:		return "not permitted";
	case RG_ETOOBIG:	return "too large";
	case RG_ECRYPTO:	return "cryptographic failure";
	case RG_EDB:		return "storage failure";
	case RG_EINTEGRITY:	return "integrity check failed";
	case RG_EUNSUPPORTED:	return "not supported";
	case RG_EAGAIN:		return "try again later";
	case RG_EPROTO:		return "protocol violation";
	}
	return "unknown error";
}

void
diag_clear(struct diag *d)
{
	if (d == NULL)
		return;
	d->file[0] = '\0';
	d->line = 0;
	d->column = 0;
	d->msg[0] = '\0';
}

int
diag_set(struct diag *d, int err, const char *file, unsigned long line,
    unsigned long column, const char *fmt, ...)
{
	va_list ap;

	if (d == NULL)
		return err;
	rg_strlcpy(d->file, file ? file : "", sizeof(d->file));
	d->line = line;
	d->column = column;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return err;
}

void
diag_format(const struct diag *d, char *buf, size_t len)
{
	if (d->file[0] != '\0' && d->line > 0 && d->column > 0)
		snprintf(buf, len, "%s:%lu:%lu: %s", d->file, d->line,
		    d->column, d->msg);
	else if (d->file[0] != '\0' && d->line > 0)
		snprintf(buf, len, "%s:%lu: %s", d->file, d->line, d->msg);
	else if (d->file[0] != '\0')
		snprintf(buf, len, "%s: %s", d->file, d->msg);
	else
		snprintf(buf, len, "%s", d->msg);
}
