/*
 * parquet_read.c - bench/parquet.sh's reader loop: read the named columns
 * of a parquet file through shards/parquet.c row group by row group, touch
 * every value (sum of string lengths, count of nulls) and print rows/s,
 * the CPU time and the peak RSS.  One thread.
 *   parquet_read FILE COL...
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "shards/parquet.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct ts_pq *pq;
	struct ts_err e = TS_ERR_INIT;
	int sel[16];
	size_t nsel = 0, n;
	unsigned long long rows = 0, bytes = 0, nulls = 0;

	if (argc < 3 || argc > 18) {
		fprintf(stderr, "usage: parquet_read FILE COL...\n");
		return 2;
	}
	double t0 = now();
	if (ts_pq_open(&pq, argv[1], NULL, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		if ((sel[nsel] = ts_pq_find(pq, argv[i])) < 0) {
			fprintf(stderr, "no column '%s'\n", argv[i]);
			return 1;
		}
		nsel++;
	}
	if (ts_pq_select(pq, sel, nsel, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	int r;
	while ((r = ts_pq_next_group(pq, &n, &e)) == 1) {
		for (size_t row = 0; row < n; row++)
			for (size_t k = 0; k < nsel; k++) {
				struct ts_pq_value v;
				ts_pq_get(pq, k, row, &v);
				bytes += v.len;
				nulls += v.kind == TS_PQV_NULL;
			}
		rows += n;
	}
	if (r < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	double t = now() - t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("%llu rows, %llu value bytes, %llu nulls in %.2f s (%.2f s CPU): %.0f rows/s wall, %.0f rows/s CPU; peak RSS %ld MB\n",
	       rows, bytes, nulls, t, cpu, rows / t, rows / cpu, ru.ru_maxrss / 1024);
	ts_pq_close(pq);
	return 0;
}
