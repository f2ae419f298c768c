/*
 * gateway/ratelimit.c — failed-login counters for the master: per key (a
 * source address, or "user:NAME"), the times of the recent failures and a
 * ban end. The table is capped; when full, the entry that matters least
 * (not banned, oldest last failure) makes room.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/gateway.h"

#define RL_KEY_MAX	96
#define RL_TIMES_MAX	64	/* failures remembered per key */

struct rl_entry {
	char	key[RL_KEY_MAX];
	time_t	times[RL_TIMES_MAX];	/* ring of failure times */
	int	n;			/* how many of times[] are used */
	int	head;			/* next slot to write */
	time_t	last;
	time_t	banned_until;
};

struct ratelimit {
	struct rl_entry *e;
	size_t	n;
	size_t	cap;
};

/* New table of at most cap keys. */
int
ratelimit_new(struct ratelimit **out, size_t cap)
{
	struct ratelimit *rl;

	if (cap == 0)
		return RG_EINVAL;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return RG_ENOMEM;
	if ((rl->e = calloc(cap, sizeof(*rl->e))) == NULL) {
		free(rl);
		return RG_ENOMEM;
	}
	rl->cap = cap;
	*out = rl;
	return RG_OK;
}

/* Free a table; NULL-safe. */
void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->e);
	free(rl);
}

static struct rl_entry *
rl_find(struct ratelimit *rl, const char *key)
{
	size_t i;

	for (i = 0; i < rl->n; i++)
		if (strcmp(rl->e[i].key, key) == 0)
			return &rl->e[i];
	return NULL;
}

/* Drop entries with no ban and no failure inside any sensible window. */
static void
rl_expire(struct ratelimit *rl, time_t now)
{
	size_t i = 0;

	while (i < rl->n) {
		struct rl_entry *e = &rl->e[i];

		if (e->banned_until <= now && now - e->last > 86400) {
			rl->e[i] = rl->e[rl->n - 1];
			rl->n--;
		} else
			i++;
	}
}

static struct rl_entry *
rl_get(struct ratelimit *rl, const char *key, time_t now)
{
	struct rl_entry *e = rl_find(rl, key);
	size_t i, victim = 0;

	if (e != NULL)
		return e;
	if (rl->n == rl->cap)
		rl_expire(rl, now);
	if (rl->n == rl->cap) {
		/* prefer evicting an unbanned key with the oldest failure */
		for (i = 1; i < rl->n; i++) {
			struct rl_entry *a = &rl->e[i], *b = &rl->e[victim];
			int abanned = a->banned_until > now;
			int bbanned = b->banned_until > now;

			if ((!abanned && bbanned) ||
			    (abanned == bbanned && a->last < b->last))
				victim = i;
		}
		e = &rl->e[victim];
	} else
		e = &rl->e[rl->n++];
	memset(e, 0, sizeof(*e));
	rg_strlcpy(e->key, key, sizeof(e->key));
	return e;
}

/* Seconds of ban left for key (0: not banned). */
long
ratelimit_banned(struct ratelimit *rl, const char *key, time_t now)
{
	struct rl_entry *e;

	if (rl == NULL || key == NULL || (e = rl_find(rl, key)) == NULL)
		return 0;
	return e->banned_until > now ? (long)(e->banned_until - now) : 0;
}

/* Failures of key within window seconds before now. */
int
ratelimit_recent(struct ratelimit *rl, const char *key, time_t now,
    int window)
{
	struct rl_entry *e;
	int i, recent = 0;

	if (rl == NULL || key == NULL || (e = rl_find(rl, key)) == NULL)
		return 0;
	for (i = 0; i < e->n; i++)
		if (now - e->times[i] < window)
			recent++;
	return recent;
}

/* Count a failure; 1 when it starts a ban. */
int
ratelimit_failure(struct ratelimit *rl, const char *key, time_t now,
    int limit, int window, int ban)
{
	struct rl_entry *e;
	int i, recent = 0, keep;

	if (rl == NULL || key == NULL || limit <= 0)
		return 0;
	e = rl_get(rl, key, now);
	keep = limit < RL_TIMES_MAX ? limit : RL_TIMES_MAX;
	e->times[e->head] = now;
	e->head = (e->head + 1) % RL_TIMES_MAX;
	if (e->n < RL_TIMES_MAX)
		e->n++;
	e->last = now;
	for (i = 0; i < e->n; i++)
		if (now - e->times[i] < window)
			recent++;
	if (recent >= keep && e->banned_until <= now && ban > 0) {
		e->banned_until = now + ban;
		/* a new ban starts a new count */
		e->n = 0;
		e->head = 0;
		return 1;
	}
	return 0;
}
