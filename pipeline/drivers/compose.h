/*
 * compose.h - the compose driver: CLIP-C compositions of a dataset's
 * samples into a new dataset (docs/compose.md).  cmd_compose.c only fills
 * struct ts_compose_opts and prints the outcome.
 */
#ifndef TS_DRIVER_COMPOSE_H
#define TS_DRIVER_COMPOSE_H

#include <stdint.h>

#include "base/ts_error.h"
#include "compose/compose.h"

enum ts_compose_mode { TS_COMPOSE_HALVES, TS_COMPOSE_CUTMIX, TS_COMPOSE_MIXUP, TS_COMPOSE_GRID, TS_COMPOSE__COUNT };

struct ts_compose_opts {
	const char *indir, *outdir, *vocab;
	enum ts_compose_mode mode;
	enum ts_imgfmt encode;       /* TS_FMT_JPEG, TS_FMT_WEBP or TS_FMT_PNG */
	int vertical, size, stretch, include_originals, threads, json, quality, subsampling, no_dct;
	double alpha, rate;
	int epochs, tries;
	long max_tokens;
	uint64_t seed, window, shard_samples;
};

struct ts_compose_result {
	uint64_t composites, dct, pixels, originals, rejects, over_budget, shards;
	double seconds;
	int interrupted;             /* stopped by a signal; run again to resume */
};

/* "halves", "cutmix", "mixup", "grid" */
const char *ts_compose_mode_name(enum ts_compose_mode m);

int ts_compose_run(const struct ts_compose_opts *o, struct ts_compose_result *res, struct ts_err *err);

#endif
