/*
 * contracts/ytree.h — private to contracts/: a small YAML document tree
 * built from libyaml events, with the source position of every node, and
 * strict typed accessors that report errors as file:line:col.
 *
 * Anchors, aliases and explicit tags are refused (configuration never needs
 * them, and aliases allow exponential documents). Depth and node count are
 * capped.
 */
#ifndef RG_CONTRACTS_YTREE_H
#define RG_CONTRACTS_YTREE_H

#include <stddef.h>

#include "common/common.h"
#include "contracts/contracts.h"

#define YTREE_MAX_DEPTH		32
#define YTREE_MAX_NODES		50000
#define YTREE_MAX_SCALAR	(64 * 1024)
#define YTREE_MAX_FILE		(1024 * 1024)

enum ynode_kind { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
	enum ynode_kind kind;
	unsigned long line, col;	/* 1-based */
	char	*str;			/* scalar text (NUL-terminated) */
	size_t	len;
	int	plain;			/* scalar written without quotes */
	struct ynode **kids;		/* seq: items; map: key, value, ... */
	size_t	n;			/* number of kids (map: 2 * pairs) */
	size_t	size;
};

/* Parse a whole document; an empty document yields an empty mapping.
 * *out is the caller's (ynode_free()). */
int	ytree_parse(struct ynode **out, const void *data, size_t len,
	    const char *name, struct diag *d);
/* Read a file (capped) and parse it. */
int	ytree_load(struct ynode **out, const char *path, struct diag *d);
void	ynode_free(struct ynode *n);

/* Error at node n (never NULL-checks name). Returns err. */
int	yerr(struct diag *d, int err, const char *file, const struct ynode *n,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Check that n is a mapping whose keys are plain scalars from the
 * NULL-terminated list keys (or any key if keys is NULL), none repeated,
 * and that every key in required (NULL-terminated, may be NULL) is there.
 * what names the mapping in messages ("contract", "dataset 'x'").
 */
int	ymap_check(const struct ynode *n, const char *const *keys,
	    const char *const *required, const char *what, const char *file,
	    struct diag *d);
/* Value node for key in a (checked) mapping, or NULL. */
const struct ynode *ymap_get(const struct ynode *n, const char *key);
/* Key node for key, or NULL (for error positions). */
const struct ynode *ymap_key(const struct ynode *n, const char *key);

/* Typed values. key names the field in messages. */
int	yget_str(char **out, const struct ynode *v, const char *key,
	    size_t maxlen, const char *file, struct diag *d);
int	yget_strbuf(char *out, size_t outlen, const struct ynode *v,
	    const char *key, const char *file, struct diag *d);
int	yget_long(long *out, const struct ynode *v, const char *key, long min,
	    long max, const char *file, struct diag *d);
int	yget_int(int *out, const struct ynode *v, const char *key, int min,
	    int max, const char *file, struct diag *d);
int	yget_double(double *out, const struct ynode *v, const char *key,
	    const char *file, struct diag *d);
int	yget_bool(int *out, const struct ynode *v, const char *key,
	    const char *file, struct diag *d);
int	yget_date(long *out, const struct ynode *v, const char *key,
	    const char *file, struct diag *d);
/* A sequence of scalars (strings) of at most maxn items, each at most
 * maxlen bytes; repeats are an error when unique is set. pos (may be
 * NULL) receives each item's position. */
int	yget_strlist(char ***out, size_t *n, struct src_pos **pos,
	    const struct ynode *v, const char *key, size_t maxn, size_t maxlen,
	    int unique, const char *file, struct diag *d);
/* One of the NULL-terminated names; index into *out. */
int	yget_enum(int *out, const struct ynode *v, const char *key,
	    const char *const *names, const char *file, struct diag *d);

/* Free a NULL-terminated-or-counted string list. */
void	strlist_free(char **list, size_t n);

#endif /* RG_CONTRACTS_YTREE_H */
