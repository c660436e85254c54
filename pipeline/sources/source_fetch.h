/*
 * source_fetch.h - the fetch source: wraps a list reader whose image fields
 * are URLs, downloads them concurrently (pipeline/sources/fetch.c) and hands the
 * records on strictly in record order, with image_data filled or a fetch.*
 * reject.  Downstream (decode, resize, shards, catalog) sees an ordinary
 * source.
 */
#ifndef TS_SOURCE_FETCH_H
#define TS_SOURCE_FETCH_H

#include <stdint.h>

#include "pipeline/sources/fetch.h"
#include "pipeline/sources/source.h"

struct ts_fetch_ctx;

struct ts_fetch_ctx_opts {
	struct ts_fetch_opts net;
	size_t window;              /* records read ahead of the writer (0: 16 x concurrency) */
	uint64_t buffer_bytes;      /* bodies held waiting for their turn (0: 512 MiB) */
	double deadline;            /* ts_now() at which the run stops fetching; 0 none */
	unsigned part_index, part_count;
	/* --retry-failed: only these records are fetched (sorted), others skipped */
	const uint64_t *only;
	size_t nonly;
};

/* The context outlives the wrapped sources (one per INPUT): it keeps the
 * engine's hosts, breakers and counters across them. */
int ts_fetch_ctx_new(struct ts_fetch_ctx **out, const struct ts_fetch_ctx_opts *o,
		     struct ts_err *err);
void ts_fetch_ctx_free(struct ts_fetch_ctx *c);   /* accepts NULL */

/* Replace *src by a fetch source reading it (which it then owns).  Records
 * below resume_record or outside the partition pass through without a
 * download (ingest skips them). */
int ts_source_fetch_wrap(struct ts_source **src, struct ts_fetch_ctx *c,
			 uint64_t resume_record, struct ts_err *err);

struct ts_fetch_summary {
	struct ts_fetch_stats net;
	uint64_t fetched_ok;        /* downloads that arrived */
	int deadline_hit;
	double fetch_seconds;
};
void ts_fetch_ctx_summary(struct ts_fetch_ctx *c, struct ts_fetch_summary *s);

/* " 12 in flight, 3 hosts in backoff, oldest 4.2 s" for the progress line */
void ts_fetch_ctx_progress(void *ctx, char *buf, size_t n);

#endif
