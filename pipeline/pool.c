/*
 * pool.c - the ordered worker pool (see pool.h).
 *
 * A ring of `depth` slots.  tail: the next slot to submit into; work: the
 * next slot a worker takes; head: the next slot to give back.  Always
 * head <= work <= tail and tail - head <= depth.  A slot is given back only
 * when it is done and it is the oldest, which is what keeps the order.
 * One mutex guards the indexes; workers run items without it.
 *
 * Hand-overs signal only a thread that sleeps, and only when it can go
 * on: an idle worker when an item comes, the consumer when the oldest item
 * is done (not when any item is), a producer blocked on a full ring when
 * half of it is free again (it then refills in a burst instead of waking
 * for every slot).  With small items and more threads than cores, waking
 * for nothing costs more than the items.
 */
#include "pipeline/pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

struct slot {
	void *item;
	int done;
};

struct ts_pool {
	ts_pool_fn fn;
	void *inline_worker;       /* the context of the 0-thread path */
	int nthreads;
	pthread_t *th;
	struct slot *ring;
	size_t depth;
	uint64_t head, work, tail;
	int closed, quit;
	/* who sleeps: a hand-over signals only when someone waits */
	int idle_workers, consumer_waiting, producer_waiting;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done, cv_space;
};

struct arg {
	struct ts_pool *p;
	void *worker;
};

/* s is done: wake the consumer if it waits for s (the oldest item). */
static void wake_consumer(struct ts_pool *p, const struct slot *s)
{
	if (p->consumer_waiting && s == &p->ring[p->head % p->depth])
		pthread_cond_signal(&p->cv_done);
}

static void *worker_main(void *v)
{
	struct arg *a = v;
	struct ts_pool *p = a->p;
	void *ctx = a->worker;
	free(a);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->work == p->tail && !p->quit) {
			p->idle_workers++;
			pthread_cond_wait(&p->cv_work, &p->mu);
			p->idle_workers--;
		}
		if (p->work == p->tail)
			break;
		struct slot *s = &p->ring[p->work % p->depth];
		p->work++;
		pthread_mutex_unlock(&p->mu);
		p->fn(ctx, s->item);
		pthread_mutex_lock(&p->mu);
		s->done = 1;
		wake_consumer(p, s);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int ts_pool_new(struct ts_pool **out, int threads, size_t depth, ts_pool_fn fn, void **workers)
{
	struct ts_pool *p = calloc(1, sizeof(*p));
	*out = NULL;
	if (!p)
		return -1;
	p->fn = fn;
	p->inline_worker = workers ? workers[0] : NULL;
	p->depth = depth ? depth : 1;
	p->ring = calloc(p->depth, sizeof(*p->ring));
	p->th = threads > 0 ? calloc((size_t)threads, sizeof(*p->th)) : NULL;
	if (!p->ring || (threads > 0 && !p->th)) {
		free(p->ring);
		free(p->th);
		free(p);
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_work, NULL);
	pthread_cond_init(&p->cv_done, NULL);
	pthread_cond_init(&p->cv_space, NULL);
	for (int i = 0; i < threads; i++) {
		struct arg *a = malloc(sizeof(*a));
		if (a) {
			a->p = p;
			a->worker = workers ? workers[i] : NULL;
		}
		if (!a || pthread_create(&p->th[i], NULL, worker_main, a)) {
			free(a);
			ts_pool_free(p);
			return -1;
		}
		p->nthreads++;
	}
	*out = p;
	return 0;
}

void ts_pool_submit(struct ts_pool *p, void *item)
{
	pthread_mutex_lock(&p->mu);
	while (p->tail - p->head >= p->depth) {
		p->producer_waiting = 1;
		pthread_cond_wait(&p->cv_space, &p->mu);
		p->producer_waiting = 0;
	}
	struct slot *s = &p->ring[p->tail % p->depth];
	s->item = item;
	s->done = 0;
	p->tail++;
	if (p->nthreads == 0) {
		/* inline: the item is done before submit returns */
		p->work++;
		pthread_mutex_unlock(&p->mu);
		p->fn(p->inline_worker, item);
		pthread_mutex_lock(&p->mu);
		s->done = 1;
		wake_consumer(p, s);   /* a consumer on another thread */
	} else if (p->idle_workers) {
		pthread_cond_signal(&p->cv_work);
	}
	pthread_mutex_unlock(&p->mu);
}

void ts_pool_close(struct ts_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->closed = 1;
	pthread_cond_broadcast(&p->cv_done);
	pthread_mutex_unlock(&p->mu);
}

void *ts_pool_next(struct ts_pool *p, int wait)
{
	void *item = NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->head < p->tail && p->ring[p->head % p->depth].done)
			break;
		if (p->head == p->tail && (p->closed || !wait))
			goto out;
		p->consumer_waiting = 1;
		pthread_cond_wait(&p->cv_done, &p->mu);
		p->consumer_waiting = 0;
	}
	item = p->ring[p->head % p->depth].item;
	p->head++;
	if (p->producer_waiting && p->tail - p->head <= p->depth / 2)
		pthread_cond_signal(&p->cv_space);
out:
	pthread_mutex_unlock(&p->mu);
	return item;
}

size_t ts_pool_inflight(struct ts_pool *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = (size_t)(p->tail - p->head);
	pthread_mutex_unlock(&p->mu);
	return n;
}

void ts_pool_free(struct ts_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_work);
	pthread_cond_destroy(&p->cv_done);
	pthread_cond_destroy(&p->cv_space);
	free(p->ring);
	free(p->th);
	free(p);
}
