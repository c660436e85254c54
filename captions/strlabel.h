/*
 * strlabel.h - scene-text (STR) labels as CLIP4STR's training code sees
 * them: charsets, the label filter, character ids.
 *
 * Knows nothing of pixels or storage.  The filter reproduces, step for
 * step and in this order, the label preprocessing of the CLIP4STR / PARSeq
 * LMDB loader (docs/str.md):
 *   1. remove every whitespace character (Python's str.split() whitespace);
 *   2. Unicode NFKD (utf8proc), then drop every non-ASCII character;
 *   3. reject (label.too_long) when longer than max_len characters;
 *   4. charset adapter: lower case when the charset has no upper-case
 *      letters (upper case when it has no lower-case ones), then delete
 *      every character outside the charset;
 *   5. reject (label.empty_after_filter) when nothing is left.
 * Character ids follow the training tokenizer: [E] = 0, charset[i] = i + 1,
 * [B] = N + 1, [P] = N + 2.
 */
#ifndef TS_STRLABEL_H
#define TS_STRLABEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"

#define TS_STRLABEL_MAX_LEN 25        /* CLIP4STR's max_label_length */
#define TS_CHARSET_MAX_BYTES (1 << 20)

/* The built-in charsets, in the training code's order. */
#define TS_CHARSET_36 "0123456789abcdefghijklmnopqrstuvwxyz"
#define TS_CHARSET_62 TS_CHARSET_36 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define TS_CHARSET_94 TS_CHARSET_62 "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

struct ts_charset;

/* spec "94", "36", "62", or the path of a UTF-8 file holding the charset's
 * characters in id order (trailing CR/LF ignored; empty, invalid UTF-8 or
 * repeated characters are errors).  Free with ts_charset_free. */
int ts_charset_new(struct ts_charset **out, const char *spec, struct ts_err *err);
/* From the characters themselves (UTF-8, len bytes). */
int ts_charset_from_chars(struct ts_charset **out, const char *name,
			  const char *chars, size_t len, struct ts_err *err);
void ts_charset_free(struct ts_charset *cs);   /* accepts NULL */

const char *ts_charset_name(const struct ts_charset *cs);   /* "94", or the path */
size_t ts_charset_size(const struct ts_charset *cs);        /* N, in characters */
/* Index 0..N-1 of code point cp in the charset, -1 when absent. */
long ts_charset_index(const struct ts_charset *cs, int32_t cp);
/* The i-th character (0-based). */
int32_t ts_charset_at(const struct ts_charset *cs, size_t i);

enum ts_charset_case {
	TS_CASE_MIXED = 0,   /* keep the label's case */
	TS_CASE_LOWER,       /* charset == charset.lower(): labels are lower-cased */
	TS_CASE_UPPER,       /* charset == charset.upper(): labels are upper-cased */
};
enum ts_charset_case ts_charset_case(const struct ts_charset *cs);

/* Python's str.isspace(): general category Zs, or bidirectional class
 * WS, B or S. */
int ts_str_isspace(int32_t cp);

/* Run the filter on label[0..len).  On success *out is a malloc'ed,
 * NUL-terminated ASCII string (caller frees) and *out_len its length.
 * Fails with TS_ERR_INVALID and reason caption.invalid_utf8 (the label is
 * not UTF-8), label.too_long or label.empty_after_filter; err->msg says
 * what the label became. */
int ts_strlabel_filter(const struct ts_charset *cs, long max_len,
		       const char *label, size_t len, char **out, size_t *out_len,
		       struct ts_err *err);

/* Ids as the training tokenizer's encode() builds them: [B], one id per
 * character, [E].  Every character must be in the charset (run the filter
 * first); otherwise TS_ERR_INVALID naming the character.  *ids is
 * malloc'ed (caller frees), *n its length. */
int ts_strlabel_ids(const struct ts_charset *cs, const char *label, size_t len,
		    int32_t **ids, size_t *n, struct ts_err *err);

/* For statistics: call fn for each character of label (whitespace
 * skipped) that the charset does not hold, neither as is nor after the
 * charset's case adapter.  Returns 0, or caption.invalid_utf8. */
int ts_strlabel_outside(const struct ts_charset *cs, const char *label, size_t len,
			void (*fn)(int32_t cp, void *user), void *user, struct ts_err *err);

/* UTF-8 of cp into buf (>= 5 bytes), NUL-terminated; returns the length. */
size_t ts_utf8_put(int32_t cp, char *buf);

#endif
