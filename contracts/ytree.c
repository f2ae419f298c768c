/* A strict YAML document tree on top of libyaml's event parser. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "contracts/ytree.h"

struct builder {
	const char *file;
	struct diag *d;
	size_t	nodes;
	struct ynode *stack[YTREE_MAX_DEPTH + 1];
	size_t	depth;
	struct ynode *root;
};

/* Free a node and its children; NULL-safe. */
void
ynode_free(struct ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

/* Fill d with an error at node n (position unknown when NULL). */
int
yerr(struct diag *d, int err, const char *file, const struct ynode *n,
    const char *fmt, ...)
{
	char msg[sizeof(d->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return diag_set(d, err, file, n ? n->line : 0, n ? n->col : 0, "%s",
	    msg);
}

static int
mark_err(struct builder *b, int err, const yaml_mark_t *m, const char *msg)
{
	return diag_set(b->d, err, b->file, m->line + 1, m->column + 1, "%s",
	    msg);
}

static int
add_child(struct builder *b, struct ynode *n, const yaml_mark_t *m)
{
	struct ynode *parent;

	if (b->depth == 0) {
		if (b->root != NULL) {
			ynode_free(n);
			return mark_err(b, RG_EPARSE, m,
			    "more than one YAML document");
		}
		b->root = n;
		return RG_OK;
	}
	parent = b->stack[b->depth - 1];
	if (parent->n == parent->size) {
		size_t ns = parent->size ? parent->size * 2 : 8;
		struct ynode **k = realloc(parent->kids, ns * sizeof(*k));
		if (k == NULL) {
			ynode_free(n);
			return diag_set(b->d, RG_ENOMEM, b->file, 0, 0,
			    "out of memory");
		}
		parent->kids = k;
		parent->size = ns;
	}
	parent->kids[parent->n++] = n;
	return RG_OK;
}

static struct ynode *
node_new(struct builder *b, enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n;

	if (++b->nodes > YTREE_MAX_NODES) {
		mark_err(b, RG_ETOOBIG, m, "too many YAML nodes");
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		diag_set(b->d, RG_ENOMEM, b->file, 0, 0, "out of memory");
		return NULL;
	}
	n->kind = kind;
	n->line = m->line + 1;
	n->col = m->column + 1;
	return n;
}

static int
check_props(struct builder *b, const yaml_mark_t *m, const yaml_char_t *anchor,
    const yaml_char_t *tag, int implicit)
{
	if (anchor != NULL)
		return mark_err(b, RG_EPARSE, m,
		    "YAML anchors are not allowed here");
	if (tag != NULL && !implicit)
		return mark_err(b, RG_EPARSE, m,
		    "YAML tags are not allowed here");
	return RG_OK;
}

static int
on_event(struct builder *b, yaml_event_t *ev)
{
	struct ynode *n;
	int rc;

	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_STREAM_END_EVENT:
	case YAML_DOCUMENT_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
	case YAML_NO_EVENT:
		return RG_OK;
	case YAML_ALIAS_EVENT:
		return mark_err(b, RG_EPARSE, &ev->start_mark,
		    "YAML aliases are not allowed");
	case YAML_SCALAR_EVENT:
		rc = check_props(b, &ev->start_mark, ev->data.scalar.anchor,
		    ev->data.scalar.tag, ev->data.scalar.plain_implicit ||
		    ev->data.scalar.quoted_implicit);
		if (rc)
			return rc;
		if (ev->data.scalar.length > YTREE_MAX_SCALAR)
			return mark_err(b, RG_ETOOBIG, &ev->start_mark,
			    "value too long");
		if (memchr(ev->data.scalar.value, '\0',
		    ev->data.scalar.length) != NULL)
			return mark_err(b, RG_EPARSE, &ev->start_mark,
			    "NUL character in value");
		if ((n = node_new(b, YNODE_SCALAR, &ev->start_mark)) == NULL)
			return b->nodes > YTREE_MAX_NODES ? RG_ETOOBIG :
			    RG_ENOMEM;
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if ((n->str = malloc(n->len + 1)) == NULL) {
			ynode_free(n);
			return diag_set(b->d, RG_ENOMEM, b->file, 0, 0,
			    "out of memory");
		}
		memcpy(n->str, ev->data.scalar.value, n->len);
		n->str[n->len] = '\0';
		return add_child(b, n, &ev->start_mark);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT)
			rc = check_props(b, &ev->start_mark,
			    ev->data.sequence_start.anchor,
			    ev->data.sequence_start.tag,
			    ev->data.sequence_start.implicit);
		else
			rc = check_props(b, &ev->start_mark,
			    ev->data.mapping_start.anchor,
			    ev->data.mapping_start.tag,
			    ev->data.mapping_start.implicit);
		if (rc)
			return rc;
		if (b->depth >= YTREE_MAX_DEPTH)
			return mark_err(b, RG_ETOOBIG, &ev->start_mark,
			    "YAML nested too deeply");
		n = node_new(b, ev->type == YAML_SEQUENCE_START_EVENT ?
		    YNODE_SEQ : YNODE_MAP, &ev->start_mark);
		if (n == NULL)
			return b->nodes > YTREE_MAX_NODES ? RG_ETOOBIG :
			    RG_ENOMEM;
		if ((rc = add_child(b, n, &ev->start_mark)) != RG_OK)
			return rc;
		b->stack[b->depth++] = n;
		return RG_OK;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth > 0)
			b->depth--;
		return RG_OK;
	}
	return RG_OK;
}

/* Build the tree of one YAML document (see ytree.h). */
int
ytree_parse(struct ynode **out, const void *data, size_t len,
    const char *name, struct diag *d)
{
	struct builder b;
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = RG_OK, done = 0;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.file = name;
	b.d = d;
	if (len > YTREE_MAX_FILE)
		return diag_set(d, RG_ETOOBIG, name, 0, 0,
		    "file larger than %d bytes", YTREE_MAX_FILE);
	if (!yaml_parser_initialize(&p))
		return diag_set(d, RG_ENOMEM, name, 0, 0, "out of memory");
	yaml_parser_set_input_string(&p, data, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			char msg[400];

			if (p.context != NULL)
				snprintf(msg, sizeof(msg),
				    "YAML syntax error: %s %s",
				    p.problem ? p.problem : "", p.context);
			else
				snprintf(msg, sizeof(msg),
				    "YAML syntax error: %s",
				    p.problem ? p.problem : "malformed");
			rc = diag_set(d, RG_EPARSE, name,
			    p.problem_mark.line + 1, p.problem_mark.column + 1,
			    "%s", msg);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	yaml_parser_delete(&p);
	if (rc) {
		ynode_free(b.root);
		return rc;
	}
	if (b.root == NULL) {
		/* An empty file is an empty mapping: every key absent. */
		yaml_mark_t m = { 0, 0, 0 };
		if ((b.root = node_new(&b, YNODE_MAP, &m)) == NULL)
			return RG_ENOMEM;
	}
	*out = b.root;
	return RG_OK;
}

/* Read a file of at most YTREE_MAX_FILE bytes and parse it. */
int
ytree_load(struct ynode **out, const char *path, struct diag *d)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = file_read_small(&data, &len, path, YTREE_MAX_FILE, d);
	if (rc) {
		if (d != NULL && d->file[0] == '\0')
			rg_strlcpy(d->file, path, sizeof(d->file));
		if (d != NULL && d->msg[0] == '\0')
			snprintf(d->msg, sizeof(d->msg), "%s",
			    rg_strerror(rc));
		return rc;
	}
	rc = ytree_parse(out, data, len, path, d);
	free(data);
	return rc;
}

static const char *
kind_name(const struct ynode *n)
{
	switch (n->kind) {
	case YNODE_SCALAR:
		return "a value";
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	}
	return "?";
}

/* Check a mapping's keys: known, not repeated, required ones there. */
int
ymap_check(const struct ynode *n, const char *const *keys,
    const char *const *required, const char *what, const char *file,
    struct diag *d)
{
	size_t i, j;

	if (n->kind != YNODE_MAP)
		return yerr(d, RG_EPARSE, file, n,
		    "%s must be a mapping, not %s", what, kind_name(n));
	for (i = 0; i < n->n; i += 2) {
		const struct ynode *k = n->kids[i];

		if (k->kind != YNODE_SCALAR)
			return yerr(d, RG_EPARSE, file, k,
			    "%s: keys must be plain names", what);
		if (keys != NULL) {
			for (j = 0; keys[j] != NULL; j++)
				if (strcmp(keys[j], k->str) == 0)
					break;
			if (keys[j] == NULL)
				return yerr(d, RG_EPARSE, file, k,
				    "%s: unknown key '%s'", what, k->str);
		}
		for (j = 0; j < i; j += 2)
			if (strcmp(n->kids[j]->str, k->str) == 0)
				return yerr(d, RG_EPARSE, file, k,
				    "%s: duplicate key '%s' (first at line "
				    "%lu)", what, k->str, n->kids[j]->line);
	}
	for (j = 0; required != NULL && required[j] != NULL; j++)
		if (ymap_get(n, required[j]) == NULL)
			return yerr(d, RG_EPARSE, file, n,
			    "%s: missing required key '%s'", what,
			    required[j]);
	return RG_OK;
}

/* Value of key in mapping n, or NULL. */
const struct ynode *
ymap_get(const struct ynode *n, const char *key)
{
	size_t i;

	if (n == NULL || n->kind != YNODE_MAP)
		return NULL;
	for (i = 0; i + 1 < n->n; i += 2)
		if (n->kids[i]->kind == YNODE_SCALAR &&
		    strcmp(n->kids[i]->str, key) == 0)
			return n->kids[i + 1];
	return NULL;
}

/* Key node of key in mapping n, or NULL. */
const struct ynode *
ymap_key(const struct ynode *n, const char *key)
{
	size_t i;

	if (n == NULL || n->kind != YNODE_MAP)
		return NULL;
	for (i = 0; i + 1 < n->n; i += 2)
		if (n->kids[i]->kind == YNODE_SCALAR &&
		    strcmp(n->kids[i]->str, key) == 0)
			return n->kids[i];
	return NULL;
}

/* A plain scalar that YAML reads as null. */
static int
is_null(const struct ynode *v)
{
	return v->kind == YNODE_SCALAR && v->plain && (v->len == 0 ||
	    strcmp(v->str, "~") == 0 || strcmp(v->str, "null") == 0 ||
	    strcmp(v->str, "Null") == 0 || strcmp(v->str, "NULL") == 0);
}

static int
want_scalar(const struct ynode *v, const char *key, const char *what,
    const char *file, struct diag *d)
{
	if (v->kind != YNODE_SCALAR || is_null(v))
		return yerr(d, RG_EPARSE, file, v, "'%s' must be %s, not %s",
		    key, what, is_null(v) ? "empty" : kind_name(v));
	return RG_OK;
}

/* A text value, newly allocated into *out. */
int
yget_str(char **out, const struct ynode *v, const char *key, size_t maxlen,
    const char *file, struct diag *d)
{
	int rc;

	if ((rc = want_scalar(v, key, "text", file, d)) != RG_OK)
		return rc;
	if (v->len > maxlen)
		return yerr(d, RG_EPARSE, file, v,
		    "'%s' is longer than %zu bytes", key, maxlen);
	if ((*out = strdup(v->str)) == NULL)
		return diag_set(d, RG_ENOMEM, file, 0, 0, "out of memory");
	return RG_OK;
}

/* A text value copied into out[outlen]. */
int
yget_strbuf(char *out, size_t outlen, const struct ynode *v, const char *key,
    const char *file, struct diag *d)
{
	int rc;

	if ((rc = want_scalar(v, key, "text", file, d)) != RG_OK)
		return rc;
	if (v->len >= outlen)
		return yerr(d, RG_EPARSE, file, v,
		    "'%s' is longer than %zu bytes", key, outlen - 1);
	memcpy(out, v->str, v->len + 1);
	return RG_OK;
}

/* A plain whole number within min..max. */
int
yget_long(long *out, const struct ynode *v, const char *key, long min,
    long max, const char *file, struct diag *d)
{
	char *end;
	long x;
	int rc;

	if ((rc = want_scalar(v, key, "a whole number", file, d)) != RG_OK)
		return rc;
	errno = 0;
	x = strtol(v->str, &end, 10);
	if (!v->plain || *end != '\0' || errno != 0 || v->str[0] == ' ' ||
	    v->str[0] == '+' || v->len > 20)
		return yerr(d, RG_EPARSE, file, v,
		    "'%s' must be a whole number", key);
	if (x < min || x > max)
		return yerr(d, RG_EPARSE, file, v,
		    "'%s' must be between %ld and %ld", key, min, max);
	*out = x;
	return RG_OK;
}

/* As yget_long(), into an int. */
int
yget_int(int *out, const struct ynode *v, const char *key, int min, int max,
    const char *file, struct diag *d)
{
	long x;
	int rc;

	if ((rc = yget_long(&x, v, key, min, max, file, d)) != RG_OK)
		return rc;
	*out = (int)x;
	return RG_OK;
}

/* A plain decimal number (no exponent, no NaN or infinity). */
int
yget_double(double *out, const struct ynode *v, const char *key,
    const char *file, struct diag *d)
{
	const char *s;
	char *end;
	double x;
	int rc, digits = 0;

	if ((rc = want_scalar(v, key, "a number", file, d)) != RG_OK)
		return rc;
	/* Plain decimal notation only: -?digits(.digits)? */
	s = v->str;
	if (*s == '-')
		s++;
	while (*s >= '0' && *s <= '9') {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
	}
	if (!v->plain || *s != '\0' || digits == 0 || v->len > 40)
		return yerr(d, RG_EPARSE, file, v, "'%s' must be a number",
		    key);
	errno = 0;
	x = strtod(v->str, &end);
	if (*end != '\0' || errno != 0 || !isfinite(x))
		return yerr(d, RG_EPARSE, file, v, "'%s' must be a number",
		    key);
	*out = x;
	return RG_OK;
}

/* true or false. */
int
yget_bool(int *out, const struct ynode *v, const char *key, const char *file,
    struct diag *d)
{
	int rc;

	if ((rc = want_scalar(v, key, "true or false", file, d)) != RG_OK)
		return rc;
	if (v->plain && (strcmp(v->str, "true") == 0 ||
	    strcmp(v->str, "True") == 0 || strcmp(v->str, "TRUE") == 0))
		*out = 1;
	else if (v->plain && (strcmp(v->str, "false") == 0 ||
	    strcmp(v->str, "False") == 0 || strcmp(v->str, "FALSE") == 0))
		*out = 0;
	else
		return yerr(d, RG_EPARSE, file, v,
		    "'%s' must be true or false", key);
	return RG_OK;
}

/* A YYYY-MM-DD date as days since 1970-01-01. */
int
yget_date(long *out, const struct ynode *v, const char *key, const char *file,
    struct diag *d)
{
	int rc;

	if ((rc = want_scalar(v, key, "a date (YYYY-MM-DD)", file, d)) !=
	    RG_OK)
		return rc;
	if (v->len != 10 || date_parse(v->str, out) != RG_OK)
		return yerr(d, RG_EPARSE, file, v,
		    "'%s' is not a valid date (YYYY-MM-DD): '%.40s'", key,
		    v->str);
	return RG_OK;
}

/* Free n strings and the list; NULL-safe. */
void
strlist_free(char **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* A list of text values (see ytree.h). */
int
yget_strlist(char ***out, size_t *n, struct src_pos **pos,
    const struct ynode *v, const char *key, size_t maxn, size_t maxlen,
    int unique, const char *file, struct diag *d)
{
	char **list;
	struct src_pos *p = NULL;
	size_t i, j;
	int rc;

	*out = NULL;
	*n = 0;
	if (pos)
		*pos = NULL;
	if (v->kind != YNODE_SEQ)
		return yerr(d, RG_EPARSE, file, v, "'%s' must be a list, not %s",
		    key, is_null(v) ? "empty" : kind_name(v));
	if (v->n > maxn)
		return yerr(d, RG_EPARSE, file, v,
		    "'%s' has more than %zu items", key, maxn);
	if ((list = calloc(v->n + 1, sizeof(*list))) == NULL)
		return diag_set(d, RG_ENOMEM, file, 0, 0, "out of memory");
	if (pos && (p = calloc(v->n + 1, sizeof(*p))) == NULL) {
		free(list);
		return diag_set(d, RG_ENOMEM, file, 0, 0, "out of memory");
	}
	for (i = 0; i < v->n; i++) {
		rc = yget_str(&list[i], v->kids[i], key, maxlen, file, d);
		if (rc)
			goto fail;
		if (p) {
			p[i].line = v->kids[i]->line;
			p[i].col = v->kids[i]->col;
		}
		for (j = 0; unique && j < i; j++)
			if (strcmp(list[j], list[i]) == 0) {
				rc = yerr(d, RG_EPARSE, file, v->kids[i],
				    "'%s' lists '%.100s' twice", key, list[i]);
				i++;
				goto fail;
			}
	}
	*out = list;
	*n = v->n;
	if (pos)
		*pos = p;
	return RG_OK;
fail:
	strlist_free(list, i);
	free(p);
	return rc;
}

/* One of names; its index into *out. */
int
yget_enum(int *out, const struct ynode *v, const char *key,
    const char *const *names, const char *file, struct diag *d)
{
	char list[256] = "";
	size_t i;
	int rc;

	if ((rc = want_scalar(v, key, "a name", file, d)) != RG_OK)
		return rc;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], v->str) == 0) {
			*out = (int)i;
			return RG_OK;
		}
		if (i > 0)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, names[i], sizeof(list) - strlen(list) - 1);
	}
	return yerr(d, RG_EPARSE, file, v, "'%s' must be one of %s, not "
	    "'%.60s'", key, list, v->str);
}

