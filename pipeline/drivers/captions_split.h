/*
 * captions_split.h - the work of `tessera captions split`: a short and a
 * long caption per sample, as a rewrite of the dataset (docs/captions.md).
 */
#ifndef TS_CAPTIONS_SPLIT_H
#define TS_CAPTIONS_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"
#include "captions/sentence.h"

struct ts_bpe;

struct ts_split_opts {
	const char *indir;           /* the dataset */
	const char *outdir;          /* NULL: in place */
	enum ts_split_rule rule;     /* --rule sentence (default) or longclip */
	size_t short_max;            /* --short-max tokens (default 77) */
	int threads;                 /* workers */
	const struct ts_bpe *bpe;
};

struct ts_split_result {
	uint64_t samples, rejects, fallbacks;
	double short_tokens_mean, long_tokens_mean, seconds;
	int interrupted;             /* stopped by a signal; the dataset is unchanged */
};

int ts_split_run(const struct ts_split_opts *o, struct ts_split_result *res, struct ts_err *err);

#endif
