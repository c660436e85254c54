/*
 * sentence.h - sentence boundaries in captions, and the short/long caption
 * pairs of `tessera captions split` (docs/captions.md).
 *
 * The splitter finds candidate ends with one pcre2 pattern (a run of . ! ?
 * or an ellipsis, closing quotes or brackets, then white space) and keeps a
 * candidate unless it is inside an abbreviation (Mr. Dr. St. vs. etc.),
 * a run of initials or dotted letters (J. R. R., e.g., i.e., U.S.), an
 * ellipsis, or an open quotation.  Decimals (3.5) never match, having no
 * space after the dot.
 *
 * Thread-safety: struct ts_sentences is read-only after ts_sentences_new;
 * every function that takes it is safe to call from several threads.
 */
#ifndef TS_SENTENCE_H
#define TS_SENTENCE_H

#include <stddef.h>

#include "base/ts_error.h"

struct ts_sentences;
struct ts_bpe_ctx;

int ts_sentences_new(struct ts_sentences **out, struct ts_err *err);
void ts_sentences_free(struct ts_sentences *sp);   /* accepts NULL */

/* The sentence that starts at byte `from` of s[0..len) (white space at
 * from is skipped): *start and *end delimit it (end excludes the white
 * space after it; the closing quote or bracket is kept), *next is where the
 * next sentence search starts (len when this is the last).  Returns 0 when
 * nothing but white space is left, 1 otherwise. */
int ts_sentence_next(const struct ts_sentences *sp, const char *s, size_t len, size_t from,
		     size_t *start, size_t *end, size_t *next);

/* Number of sentences in s (0 for blank text). */
size_t ts_sentence_count(const struct ts_sentences *sp, const char *s, size_t len);

enum ts_split_rule { TS_SPLIT_SENTENCE = 0, TS_SPLIT_LONGCLIP = 1 };

struct ts_split {
	char *long_text;       /* malloc'ed, NUL-terminated */
	char *short_text;      /* malloc'ed, NUL-terminated */
	size_t long_tokens, short_tokens;   /* CLIP tokens with SOT and EOT */
	const char *fallback;  /* NULL, or what the rule fell back to (static string) */
};

/* Short and long caption of `text` by rule (docs/captions.md).  short_max
 * (tokens with SOT/EOT) bounds the sentence rule's short caption; the
 * longclip rule is Long-CLIP's, unbounded.  Free with ts_split_release. */
int ts_caption_split(const struct ts_sentences *sp, struct ts_bpe_ctx *bpe, enum ts_split_rule rule,
		     size_t short_max, const char *text, size_t len, struct ts_split *out,
		     struct ts_err *err);
void ts_split_release(struct ts_split *s);

#endif
