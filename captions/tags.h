/*
 * tags.h - candidate tags of a caption (TTD, ../shared/docs/methods.md §3):
 * the nouns and noun compounds that name things in the image, found with
 * WordNet (wordnet.h), each with its span in the caption (bytes and code
 * points) and in the caption's CLIP tokens.  docs/tags.md gives the rules.
 *
 * A struct ts_tagger is read-only once made: share it between threads, each
 * with its own struct ts_bpe_ctx.
 */
#ifndef TS_TAGS_H
#define TS_TAGS_H

#include <stddef.h>

#include "base/ts_error.h"

struct ts_wordnet;
struct ts_bpe_ctx;

struct ts_tag {
	char lemma[96];                 /* "dog", "fire hydrant" (words joined by a space) */
	size_t byte_start, byte_end;    /* [start, end) in the caption's UTF-8 */
	size_t char_start, char_end;    /* the same in code points */
	size_t tok_start, tok_end;      /* [start, end) in [SOT] ids [EOT]; 0, 0 without a tokenizer */
	int truncated;                  /* the span does not fit the context */
};

struct ts_tagger_opts {
	int keep_scene_words;   /* keep image, photo, picture, view, background, side, front */
	int all_nouns;          /* keep abstract nouns too (no concreteness filter) */
	size_t context;         /* for `truncated` (default 77) */
};

struct ts_tagger;

int ts_tagger_new(struct ts_tagger **out, const struct ts_wordnet *wn,
		  const struct ts_tagger_opts *o, struct ts_err *err);
void ts_tagger_free(struct ts_tagger *t);   /* accepts NULL */

/* The tags of caption[0..len), in caption order, into a malloc'ed array
 * (*tags NULL when there are none).  bpe may be NULL: no token spans. */
int ts_tags_extract(const struct ts_tagger *t, struct ts_bpe_ctx *bpe, const char *caption,
		    size_t len, struct ts_tag **tags, size_t *n, struct ts_err *err);

/* The i-th closed-class (stop) word, NULL past the last; the scene words
 * (NULL-terminated).  For the docs and tests. */
const char *ts_tag_stopword(size_t i);
extern const char *const ts_tag_scene_words[];

#endif
