/*
 * pool.h - one ordered worker pool for every command that runs workers.
 *
 * In the shape of zstd's pool, with the order kept: one thread submits
 * items in order, N workers process them concurrently, and one thread (the
 * same or another) takes the results back strictly in submission order.
 * At most `depth` items are in flight (submitted and not yet taken back),
 * so a producer slows down when workers or the consumer fall behind and
 * memory does not grow with the input.  Output that is written in the
 * order items come back is therefore independent of the thread count.
 *
 * With threads == 0 there are no worker threads: ts_pool_submit runs the
 * item on the calling thread (the 1-thread path is the same code).
 */
#ifndef TS_POOL_H
#define TS_POOL_H

#include <stddef.h>

struct ts_pool;

/* Process one item; worker is the thread's own context (workers[i] of
 * ts_pool_new, or NULL).  Must not call back into the pool. */
typedef void (*ts_pool_fn)(void *worker, void *item);

/* A pool of `threads` workers (0: run items inline) over at most `depth`
 * items in flight (>= 1).  workers: `threads` per-thread contexts (or one
 * for threads == 0), or NULL; the array itself is not kept.  Returns 0, or -1 when threads cannot be
 * started (nothing is left running then). */
int ts_pool_new(struct ts_pool **out, int threads, size_t depth, ts_pool_fn fn, void **workers);

/* Submit the next item; blocks while `depth` items are in flight (once
 * blocked, until at most depth / 2 are: a producer on its own thread then
 * refills in a burst).  The item must not be touched again until
 * ts_pool_next gives it back. */
void ts_pool_submit(struct ts_pool *p, void *item);

/* No more items will be submitted (ts_pool_next then returns NULL once
 * every item was taken back). */
void ts_pool_close(struct ts_pool *p);

/* The oldest submitted item, once processed.  Blocks while it is being
 * processed.  NULL when nothing is in flight and the pool is closed; also
 * NULL, without blocking, when nothing is in flight and `wait` is 0. */
void *ts_pool_next(struct ts_pool *p, int wait);

/* Items submitted and not yet taken back. */
size_t ts_pool_inflight(struct ts_pool *p);

/* Join the workers (after the last ts_pool_next) and free.  Accepts NULL. */
void ts_pool_free(struct ts_pool *p);

#endif
