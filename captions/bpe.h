/*
 * bpe.h - OpenAI CLIP's byte-level BPE tokenizer (the groundwork of issue
 * 3): the vocabulary, the pre-tokenizer regex, BPE by merge rank, and the
 * context rule, after the reference's cleaning (captions/clean.h: a part
 * of ftfy.fix_text, html.unescape twice, white space and Unicode lower
 * case).  tests/unit/test_bpe.c gives the per-category agreement with the
 * reference vectors.
 *
 * Thread-safety: struct ts_bpe is read-only after ts_bpe_load and shared;
 * each thread uses its own struct ts_bpe_ctx (regex match data, scratch).
 */
#ifndef TS_BPE_H
#define TS_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"

#define TS_BPE_SOT 49406
#define TS_BPE_EOT 49407
#define TS_BPE_VOCAB 49408

struct ts_bpe;
struct ts_bpe_ctx;

/* Load the merges file (gzip) at path (pipeline/vocab.c decides which
 * file).  A missing or malformed file is a clear error. */
int ts_bpe_load(struct ts_bpe **out, const char *path, struct ts_err *err);
void ts_bpe_free(struct ts_bpe *bpe);   /* accepts NULL */

struct ts_bpe_ctx *ts_bpe_ctx_new(const struct ts_bpe *bpe);
void ts_bpe_ctx_free(struct ts_bpe_ctx *ctx);   /* accepts NULL */

/* Clean text as the reference does (see above) into a ctx-owned
 * NUL-terminated string. */
int ts_bpe_clean(struct ts_bpe_ctx *ctx, const char *text, size_t len,
		 const char **out, size_t *out_len, struct ts_err *err);

/* Token ids of text, without SOT/EOT, into ctx-owned memory. */
int ts_bpe_encode(struct ts_bpe_ctx *ctx, const char *text, size_t len,
		  const int32_t **ids, size_t *n, struct ts_err *err);

/* After a successful ts_bpe_encode: the cleaned text it tokenized and, for
 * each id, the byte offset in that text where the id's pre-tokenizer piece
 * starts (a word's ids share one offset).  Valid until the next call on ctx. */
void ts_bpe_last_pieces(const struct ts_bpe_ctx *ctx, const char **clean, size_t *clean_len,
			const uint32_t **piece_start);

/* For tests: on != 0 makes ctx take the general path for every caption
 * (the full cleaning chain and the pcre2 pre-tokenizer) instead of the
 * plain-ASCII fast paths; the ids must not change. */
void ts_bpe_ctx_general(struct ts_bpe_ctx *ctx, int on);

/* [SOT] ids [EOT] into out[0..context): when too long, the first context
 * ids are kept and the last becomes EOT; the rest is padded with 0.
 * Returns the number of ids before padding. */
size_t ts_bpe_context(const int32_t *ids, size_t n, size_t context, int32_t *out);

#endif
