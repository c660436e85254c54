/*
 * fuzz_caption.c - libFuzzer target for the caption path: the UTF-8 and
 * emptiness check (captions/caption.c), then the tokenizer's cleaning and
 * encoding (captions/clean.c: ftfy-like fixes, HTML unescaping; captions/bpe.c: the
 * pre-tokenizer, BPE) and the context rule.  The vocabulary is loaded once,
 * found as the commands find it (pipeline/vocab.c: $TESSERA_VOCAB, else the
 * copy shipped with tessera); when absent only the check runs.  A second
 * context takes the general path for every input (ts_bpe_ctx_general):
 * the plain-ASCII fast paths must give the same ids, offsets and cleaned
 * text.  Inputs are capped at 64 KiB.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string.h>

#include "captions/bpe.h"
#include "captions/caption.h"
#include "pipeline/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ts_bpe *bpe;
	static struct ts_bpe_ctx *ctx, *gen;
	static int tried;
	struct ts_err e = TS_ERR_INIT;
	size_t start, len, n, clen;
	const char *clean, *text = (const char *)data;
	const int32_t *ids;
	const uint32_t *piece;
	int32_t out[77];

	if (size > (64u << 10))
		return 0;
	if (!tried) {
		tried = 1;
		if (ts_vocab_load(&bpe, NULL, &e) == 0) {
			ctx = ts_bpe_ctx_new(bpe);
			gen = ts_bpe_ctx_new(bpe);
			if (gen)
				ts_bpe_ctx_general(gen, 1);
		}
		e = (struct ts_err)TS_ERR_INIT;
	}
	ts_caption_check(text, size, 0, &start, &len, &e);
	if (!ctx || !gen)
		return 0;
	/* the tokenizer takes any bytes: the caller checks UTF-8 first, but
	 * the cleaner must not trust that either */
	if (ts_bpe_clean(ctx, text, size, &clean, &clen, &e) == 0 && clen > 0)
		(void)clean[clen - 1];
	if (ts_bpe_encode(ctx, text, size, &ids, &n, &e) == 0) {
		ts_bpe_last_pieces(ctx, &clean, &clen, &piece);
		for (size_t i = 0; i < n; i++)
			if (ids[i] < 0 || ids[i] >= TS_BPE_VOCAB || piece[i] > clen)
				abort();
		ts_bpe_context(ids, n, 77, out);
		/* the general path agrees */
		const int32_t *gids;
		const uint32_t *gpiece;
		const char *gclean;
		size_t gn, gclen;
		if (ts_bpe_encode(gen, text, size, &gids, &gn, &e) != 0 || gn != n ||
		    memcmp(gids, ids, n * sizeof(*ids)))
			abort();
		ts_bpe_last_pieces(gen, &gclean, &gclen, &gpiece);
		if (gclen != clen || memcmp(gclean, clean, clen) || memcmp(gpiece, piece, n * sizeof(*piece)))
			abort();
	}
	return 0;
}
