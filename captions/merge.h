/*
 * merge.h - the CLIP-C caption join "A and B" (docs/compose.md):
 * A with its final run of punctuation (. , ; : ! ? and the ellipsis) and
 * white space removed, " and ", then B trimmed with its first letter
 * lower-cased only when its first word is a plain capitalised word: "I",
 * acronyms ("NASA rocket"), mixed case ("McDonald's") and name-like runs
 * of capitalised words ("Santa Claus") keep their case; closed-class
 * words ("An Asian man") are always lowered.
 * Joins of more captions: "A, B, C and D".
 */
#ifndef TS_MERGE_H
#define TS_MERGE_H

#include <stddef.h>

#include "base/ts_error.h"

/* Join n captions (n >= 1) into a malloc'ed string.  starts (n entries,
 * may be NULL) receives the byte offset where each caption's text begins
 * in the result, ends where it ends. */
int ts_caption_merge(const char *const *caps, const size_t *lens, size_t n, char **out,
		     size_t *starts, size_t *ends, struct ts_err *err);

#endif
