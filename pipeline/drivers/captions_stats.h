/*
 * captions_stats.h - the caption-length accumulator of `tessera captions
 * stats`, for other commands (tessera report) that must give the same
 * numbers: CLIP tokens with SOT/EOT, sentences, words, and what
 * truncation at 20, 77 and 248 tokens loses (docs/captions.md).
 */
#ifndef TS_CAPTIONS_STATS_H
#define TS_CAPTIONS_STATS_H

#include <stddef.h>

#include "base/ts_error.h"

#define TS_CSTATS_MAX_CONTEXTS 16

struct ts_bpe;
struct ts_bpe_ctx;
struct ts_sentences;
struct ts_cstats;
typedef struct json_t json_t;

/* Contexts 20, 77, 248 and bins of 10 tokens, as captions stats' defaults.
 * bpe and sp are borrowed (they must outlive the accumulator).  NULL when
 * out of memory. */
struct ts_cstats *ts_cstats_new(struct ts_bpe_ctx *bpe, const struct ts_sentences *sp);
void ts_cstats_free(struct ts_cstats *st);   /* accepts NULL */

/* What one caption added: the cleaned text the tokenizer saw (valid until
 * the next add) and, per context, the byte offset in it where the first
 * token cut off starts (clean_len when the caption fits). */
struct ts_cstats_one {
	size_t tokens, sentences, words;
	const char *clean;
	size_t clean_len;
	size_t cut[TS_CSTATS_MAX_CONTEXTS];
};

/* Count one caption.  Returns 0 when counted (one filled, if not NULL), 1
 * when blank or unreadable (counted as such, message on stderr), -1 when out
 * of memory. */
int ts_cstats_add(struct ts_cstats *st, const char *text, size_t len, const char *where,
		  struct ts_cstats_one *one);

/* The JSON document of `captions stats --json` for a dataset SOURCE
 * (new reference). */
json_t *ts_cstats_json(const struct ts_cstats *st, const char *source);

/* `tessera captions stats SOURCE`: a dataset OUTDIR, a text file (one
 * caption per line), JSONL ({"caption": ...} per line), or "-". */
struct ts_cstats_opts {
	const char *source;
	size_t ctx[TS_CSTATS_MAX_CONTEXTS];   /* contexts; default 20, 77, 248 */
	int nctx;
	long bin;                    /* histogram bin width in tokens (default 10) */
	int by_shard;                /* one summary per shard too (datasets only) */
	int jsonl;                   /* JSONL input (also when SOURCE ends in .jsonl) */
	const struct ts_bpe *bpe;
};

/* The statistics of the source, as the document `captions stats --json`
 * prints, in *out (new reference): TS_OK, or the failure in err
 * (TS_ERR_USAGE for options that do not fit the source).  Lines that
 * cannot be read are counted as "unreadable" and named on stderr. */
int ts_cstats_run(const struct ts_cstats_opts *o, json_t **out, struct ts_err *err);

#endif
