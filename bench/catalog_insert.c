/*
 * catalog_insert.c - the catalog's insert rate on its own: N sample rows
 * shaped like an ingest's (a key, three members with offsets and hashes, a
 * caption, its JSON array, the source path and token count) go into a new
 * catalog through the same streaming calls the shard writer makes (a shard
 * row with complete = 0 before each shard, the rows, one commit per shard
 * of S samples) and the indexes made at the end of a run, with nothing
 * else running.  Rows go in as the catalog thread of the shard writer
 * hands them over: up to BATCH at a time through ts_catalog_stream_samples
 * (ROWS_AT_A_TIME=1 in the environment: one ts_catalog_stream_sample call
 * each, for comparison).  Prints wall and CPU seconds
 * and sample rows per second.  A figure for make bench, not a test.
 *
 *   catalog_insert CATALOG N [SHARD_SAMPLES]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shards/shards.h"

#define BATCH 512

/* one row's strings and members */
struct slot {
	char key[24], names[3][48], hashes[3][TS_HASH_HEX_LEN + 1];
	char caption[128], captions[160], source[64];
	struct ts_member_row mem[3];
};

static double clock_s(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	struct ts_catalog *cat = NULL;
	struct ts_err e = TS_ERR_INIT;
	uint64_t n, per;
	static struct slot slots[BATCH];
	static struct ts_sample_row rows[BATCH];
	size_t nrows = 0;
	const char *one = getenv("ROWS_AT_A_TIME");
	size_t batch = one && atoi(one) > 0 && atoi(one) < BATCH ? (size_t)atoi(one) : BATCH;

	if (argc < 3) {
		fprintf(stderr, "usage: catalog_insert CATALOG N [SHARD_SAMPLES]\n");
		return 2;
	}
	n = strtoull(argv[2], NULL, 10);
	per = argc > 3 ? strtoull(argv[3], NULL, 10) : 10000;
	if (!per)
		per = 10000;
	if (ts_catalog_open(&cat, argv[1], &e)) {
		fprintf(stderr, "catalog_insert: %s\n", e.msg);
		return 1;
	}
	double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t offset = 0;
	unsigned shard = 0;
	for (uint64_t r = 0; r < n; r++) {
		char chash[TS_HASH_HEX_LEN + 1], sname[32];
		static const char *const ext[3] = { "jpg", "txt", "json" };
		static const uint64_t size[3] = { 850, 46, 420 };
		struct slot *sl = &slots[nrows];
		char *key = sl->key, *caption = sl->caption, *captions = sl->captions, *source = sl->source;
		char (*names)[48] = sl->names, (*hashes)[TS_HASH_HEX_LEN + 1] = sl->hashes;
		struct ts_member_row *mem = sl->mem;

		if (r % per == 0) {
			ts_shard_name(shard, sname, sizeof(sname));
			if (ts_catalog_shard_intent(cat, shard, sname, &e))
				goto fail;
			offset = 0;
		}
		snprintf(key, sizeof(sl->key), "%09" PRIu64, r);
		char cap[sizeof(sl->caption)];
		snprintf(cap, sizeof(cap), "a small photo of a thing number %" PRIu64 " on a table", r);
		memcpy(caption, cap, sizeof(cap));
		snprintf(captions, sizeof(sl->captions), "[\"%s\"]", cap);
		snprintf(source, sizeof(sl->source), "list.csv:%" PRIu64, r + 2);
		ts_hash_hex(&r, sizeof(r), chash);
		for (int i = 0; i < 3; i++) {
			snprintf(names[i], sizeof(names[i]), "%s.%s", key, ext[i]);
			uint64_t v = r * 3 + (uint64_t)i;
			ts_hash_hex(&v, sizeof(v), hashes[i]);
			offset += 512;
			mem[i] = (struct ts_member_row){ .name = names[i], .offset = offset, .size = size[i],
							 .hash = hashes[i] };
			offset += (size[i] + 511) / 512 * 512;
		}
		rows[nrows++] = (struct ts_sample_row){
			.key = key, .record = r, .shard = shard, .width = 24, .height = 24,
			.orig_width = 24, .orig_height = 24, .format = "jpeg",
			.content_hash = hashes[0], .image_hash = hashes[0], .source = source,
			.caption = caption, .captions_json = captions,
			.path = "/data/img/000000003.jpg", .text = { .tokens = 14 },
			.members = mem, .nmembers = 3,
		};
		int end = (r + 1) % per == 0 || r + 1 == n;
		if (nrows == batch || end) {
			if (ts_catalog_stream_samples(cat, rows, nrows, &e))
				goto fail;
			nrows = 0;
		}
		if (end) {
			struct ts_shard_row sr = {
				.idx = shard, .name = sname, .samples = r % per + 1, .bytes = offset + 1024,
				.hash = chash, .first_record = r - r % per, .end_record = r + 1, .md5 = chash,
			};
			if (ts_catalog_stream_commit(cat, &sr, &e))
				goto fail;
			shard++;
		}
	}
	if (ts_catalog_create_indexes(cat, &e))
		goto fail;
	ts_catalog_exec(cat, "pragma wal_checkpoint(truncate)");
	ts_catalog_exec(cat, "pragma journal_mode = delete");
	double w = clock_s(CLOCK_MONOTONIC) - w0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	ts_catalog_close(cat);
	printf("%" PRIu64 " sample rows (3 members each) in %.2f s wall, %.2f s CPU:"
	       " %.0f rows/s wall, %.0f rows/s of CPU\n",
	       n, w, c, w > 0 ? (double)n / w : 0.0, c > 0 ? (double)n / c : 0.0);
	return 0;
fail:
	fprintf(stderr, "catalog_insert: %s\n", e.msg);
	ts_catalog_close(cat);
	return 1;
}
