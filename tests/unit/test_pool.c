/* test_pool.c - the ordered worker pool: results come back in submission
 * order at every thread count, with uneven work; never more than `depth`
 * items in flight; a consumer on another thread; the inline (0-thread)
 * path. */
#include "tests/unit/t.h"

#include <pthread.h>
#include <stdint.h>

#include "pipeline/commands/opt.h"
#include "pipeline/pool.h"

struct item {
	unsigned in;
	uint64_t out;
	int worker;
};

static int in_flight, max_in_flight;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Work of uneven length: items finish out of order on several threads. */
static void work(void *worker, void *v)
{
	struct item *it = v;
	pthread_mutex_lock(&mu);
	if (++in_flight > max_in_flight)
		max_in_flight = in_flight;
	pthread_mutex_unlock(&mu);
	uint64_t x = it->in * 0x9e3779b97f4a7c15ULL;
	unsigned spins = (unsigned)((it->in * 2654435761u) % 20000u);
	for (unsigned i = 0; i < spins; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	it->out = x;
	it->worker = worker ? *(int *)worker : -1;
	pthread_mutex_lock(&mu);
	in_flight--;
	pthread_mutex_unlock(&mu);
}

static uint64_t expect(unsigned in)
{
	uint64_t x = in * 0x9e3779b97f4a7c15ULL;
	unsigned spins = (unsigned)((in * 2654435761u) % 20000u);
	for (unsigned i = 0; i < spins; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

/* Submit n items, taking results back whenever the pool is full. */
static void run(int threads, size_t depth, unsigned n)
{
	struct ts_pool *p = NULL;
	int ids[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	void *ctx[8] = { &ids[0], &ids[1], &ids[2], &ids[3], &ids[4], &ids[5], &ids[6], &ids[7] };
	struct item *items = calloc(n, sizeof(*items));
	unsigned next = 0, bad = 0;
	max_in_flight = 0;
	CHECK(items != NULL);
	CHECK(ts_pool_new(&p, threads, depth, work, ctx) == 0);
	if (!p || !items)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		items[i].in = i;
		if (ts_pool_inflight(p) == depth) {
			struct item *it = ts_pool_next(p, 1);
			if (!it || it->in != next || it->out != expect(it->in))
				bad++;
			next++;
		}
		ts_pool_submit(p, &items[i]);
		CHECK(ts_pool_inflight(p) <= depth);
	}
	ts_pool_close(p);
	for (struct item *it; (it = ts_pool_next(p, 1)) != NULL; next++)
		if (it->in != next || it->out != expect(it->in))
			bad++;
	CHECKF(bad == 0 && next == n, "threads %d depth %zu: %u out of order or wrong, %u of %u back", threads, depth,
	       bad, next, n);
	CHECKF(max_in_flight <= (int)depth && max_in_flight <= (threads ? threads : 1),
	       "threads %d depth %zu: %d items processed at once", threads, depth, max_in_flight);
out:
	ts_pool_free(p);
	free(items);
}

static void ordered_at_every_thread_count(void)
{
	run(0, 1, 300);
	run(1, 4, 600);
	run(2, 8, 1000);
	run(4, 3, 1000);
	run(4, 64, 2000);
}

struct producer {
	struct ts_pool *p;
	struct item *items;
	unsigned n;
};

static void *produce(void *v)
{
	struct producer *pr = v;
	for (unsigned i = 0; i < pr->n; i++) {
		pr->items[i].in = i;
		ts_pool_submit(pr->p, &pr->items[i]);
	}
	ts_pool_close(pr->p);
	return NULL;
}

/* One thread submits, another takes back (how ingest uses it). */
static void consumer_on_another_thread(void)
{
	struct producer pr = { .n = 1500 };
	pthread_t th;
	unsigned next = 0, bad = 0;
	pr.items = calloc(pr.n, sizeof(*pr.items));
	CHECK(ts_pool_new(&pr.p, 2, 16, work, NULL) == 0);
	if (!pr.p || !pr.items)
		goto out;
	CHECK(pthread_create(&th, NULL, produce, &pr) == 0);
	for (struct item *it; (it = ts_pool_next(pr.p, 1)) != NULL; next++)
		if (it->in != next || it->out != expect(it->in) || it->worker != -1)
			bad++;
	pthread_join(th, NULL);
	CHECKF(bad == 0 && next == pr.n, "%u wrong, %u of %u back", bad, next, pr.n);
	/* an empty, closed pool gives NULL without blocking */
	CHECK(ts_pool_next(pr.p, 0) == NULL);
out:
	ts_pool_free(pr.p);
	free(pr.items);
}

static void threads_default(void)
{
	CHECK_EQ_INT(ts_opt_threads(3), 3);
	CHECK(ts_opt_threads(0) >= 1);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "ordered_at_every_thread_count", ordered_at_every_thread_count },
		{ "consumer_on_another_thread", consumer_on_another_thread },
		{ "threads_default", threads_default },
		{ NULL, NULL },
	};
	return t_run("pool", cases);
}
