/*
 * Two threads for one check. The caller's thread reads and tokenises CSV
 * windows; the rows of each window form a batch that both threads check,
 * each into its own tally, claiming runs of rows from a shared counter:
 * the helper works on the older batch while the caller's thread tokenises
 * the next window, then the caller helps finish the older batch before its
 * window is reused (the CSV reader double-buffers its windows, so a batch's
 * cells stay in place until then). The tallies are merged at the end.
 *
 * Row order does not matter to any rule: every tally keeps its first rows
 * in ascending order and the merge keeps the smallest; k-anonymity classes
 * and one_row_per values are merged by key.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "checks/checks.h"
#include "checks/internal.h"

#define CLAIM_ROWS	512	/* rows taken at a time */

static int
batch_grow(struct batch *b, size_t rows, size_t fields)
{
	if (rows > b->cap_rows) {
		size_t n = b->cap_rows ? b->cap_rows * 2 : 8192;
		void *p1, *p2, *p3;

		while (n < rows)
			n *= 2;
		p1 = realloc(b->rowno, n * sizeof(*b->rowno));
		if (p1 != NULL)
			b->rowno = p1;
		p2 = realloc(b->first, n * sizeof(*b->first));
		if (p2 != NULL)
			b->first = p2;
		p3 = realloc(b->nf, n * sizeof(*b->nf));
		if (p3 != NULL)
			b->nf = p3;
		if (p1 == NULL || p2 == NULL || p3 == NULL)
			return RG_ENOMEM;
		b->cap_rows = n;
	}
	if (fields > b->cap_fields) {
		size_t n = b->cap_fields ? b->cap_fields * 2 : 65536;
		void *p;

		while (n < fields)
			n *= 2;
		if ((p = realloc(b->f, n * sizeof(*b->f))) == NULL)
			return RG_ENOMEM;
		b->f = p;
		b->cap_fields = n;
	}
	return 0;
}

/* Check rows [from, to) of b into t. */
static void
batch_run(struct checker *ck, struct tally *t, struct batch *b, size_t from,
    size_t to)
{
	size_t i;
	int rc;

	for (i = from; i < to; i++)
		if ((rc = checker_row(ck, t, b->rowno[i], b->f + b->first[i],
		    b->nf[i])) != 0) {
			/* only on_token_mt fails a row: keep the first */
			pthread_mutex_lock(&ck->mu);
			if (ck->mt_rc == 0)
				ck->mt_rc = rc;
			pthread_mutex_unlock(&ck->mu);
		}
}

/* Older published batch with rows left to claim, or NULL (lock held). */
static struct batch *
batch_with_work(struct checker *ck)
{
	struct batch *best = NULL;
	int i;

	for (i = 0; i < 2; i++) {
		struct batch *b = &ck->b[i];

		if (b->published && b->next < b->nrows &&
		    (best == NULL || b->seq < best->seq))
			best = b;
	}
	return best;
}

static void *
helper_main(void *arg)
{
	struct checker *ck = arg;
	struct batch *b;

	pthread_mutex_lock(&ck->mu);
	for (;;) {
		size_t from, to;

		if ((b = batch_with_work(ck)) == NULL) {
			if (ck->quit)
				break;
			pthread_cond_wait(&ck->work_cv, &ck->mu);
			continue;
		}
		from = b->next;
		to = from + CLAIM_ROWS < b->nrows ? from + CLAIM_ROWS : b->nrows;
		b->next = to;
		pthread_mutex_unlock(&ck->mu);
		batch_run(ck, &ck->t[1], b, from, to);
		pthread_mutex_lock(&ck->mu);
		b->done += to - from;
		if (b->done == b->nrows)
			pthread_cond_broadcast(&ck->done_cv);
	}
	pthread_mutex_unlock(&ck->mu);
	return NULL;
}

/* Start the helper thread (after the header). */
int
pipeline_start(struct checker *ck)
{
	if (pthread_mutex_init(&ck->mu, NULL) != 0)
		return RG_ENOMEM;
	if (pthread_cond_init(&ck->work_cv, NULL) != 0 ||
	    pthread_cond_init(&ck->done_cv, NULL) != 0)
		return RG_ENOMEM;
	ck->quit = 0;
	if (pthread_create(&ck->helper, NULL, helper_main, ck) != 0)
		return RG_ENOMEM;
	ck->helper_started = 1;
	return 0;
}

/* Queue one data row of the current window (caller's thread). */
int
pipeline_row(struct checker *ck, unsigned long row,
    const struct csv_field *f, size_t n)
{
	struct batch *b = &ck->b[ck->cur];
	int rc;

	if ((rc = batch_grow(b, b->nrows + 1, b->nfields + n)) != 0)
		return rc;
	b->rowno[b->nrows] = row;
	b->first[b->nrows] = b->nfields;
	b->nf[b->nrows] = n;
	memcpy(b->f + b->nfields, f, n * sizeof(*f));
	b->nfields += n;
	b->nrows++;
	return 0;
}

/* Check what is left of b on this thread, then wait until it is done. */
static void
batch_drain(struct checker *ck, struct batch *b)
{
	pthread_mutex_lock(&ck->mu);
	while (b->published && b->next < b->nrows) {
		size_t from = b->next, to = from + CLAIM_ROWS < b->nrows ?
		    from + CLAIM_ROWS : b->nrows;

		b->next = to;
		pthread_mutex_unlock(&ck->mu);
		batch_run(ck, &ck->t[0], b, from, to);
		pthread_mutex_lock(&ck->mu);
		b->done += to - from;
	}
	while (b->published && b->done < b->nrows)
		pthread_cond_wait(&ck->done_cv, &ck->mu);
	b->published = 0;
	b->nrows = b->nfields = b->next = b->done = 0;
	pthread_mutex_unlock(&ck->mu);
}

/*
 * The CSV reader finished a window: hand its rows to both threads, and
 * make the other window's batch finished so that window can be reused.
 */
int
pipeline_window(void *arg)
{
	struct checker *ck = arg;
	struct batch *b = &ck->b[ck->cur], *other = &ck->b[!ck->cur];

	if (ck->helper_started) {
		uint64_t now = csv_reader_bytes(ck->rd), used = now -
		    ck->win_bytes;
		size_t items = b->nrows + b->nfields;

		/*
		 * Size the next window so that a batch holds about 64k fields
		 * and rows: tiny records must not make the batch arrays big.
		 */
		ck->win_bytes = now;
		if (items > 0) {
			uint64_t want = used * 65536 / items;

			ck->chunk = want < 65536 ? 65536 : want > (1u << 20) ?
			    (1u << 20) : (size_t)want;
			csv_reader_set_chunk(ck->rd, ck->chunk);
		}
		pthread_mutex_lock(&ck->mu);
		b->seq = ++ck->seq;
		b->next = b->done = 0;
		b->published = 1;
		pthread_cond_signal(&ck->work_cv);
		pthread_mutex_unlock(&ck->mu);
		batch_drain(ck, other);
	} else {
		/* no header yet, or it failed: nothing was queued */
		b->nrows = b->nfields = 0;
	}
	ck->cur = !ck->cur;
	return 0;
}

/* After the last window: finish both batches and stop the helper. */
int
pipeline_finish(struct checker *ck)
{
	struct batch *b = &ck->b[ck->cur];

	if (!ck->helper_started)
		return 0;
	/* rows of a window the reader gave up on (a record over the cap) */
	pthread_mutex_lock(&ck->mu);
	if (!b->published && b->nrows > 0) {
		b->seq = ++ck->seq;
		b->next = b->done = 0;
		b->published = 1;
		pthread_cond_signal(&ck->work_cv);
	}
	pthread_mutex_unlock(&ck->mu);
	batch_drain(ck, &ck->b[0]);
	batch_drain(ck, &ck->b[1]);
	pthread_mutex_lock(&ck->mu);
	ck->quit = 1;
	pthread_cond_broadcast(&ck->work_cv);
	pthread_mutex_unlock(&ck->mu);
	pthread_join(ck->helper, NULL);
	ck->helper_started = 0;
	pthread_mutex_destroy(&ck->mu);
	pthread_cond_destroy(&ck->work_cv);
	pthread_cond_destroy(&ck->done_cv);
	return 0;
}

/* Stop the helper if still running (an abandoned check) and free. */
void
pipeline_free(struct checker *ck)
{
	int i;

	(void)pipeline_finish(ck);
	for (i = 0; i < 2; i++) {
		free(ck->b[i].rowno);
		free(ck->b[i].first);
		free(ck->b[i].nf);
		free(ck->b[i].f);
	}
}
