/*
 * merge.h - the CLIP-C caption join "A and B" (docs/compose.md):
 * A with trailing white space and one final period removed, " and ", then
 * B trimmed with its first character lower-cased, unless B's first word is
 * an acronym (two or more letters, all capitals: "NASA rocket" stays).
 * Joins of more captions: "A, B, C and D".
 */
#ifndef TS_MERGE_H
#define TS_MERGE_H

#include <stddef.h>

#include "../base/ts_error.h"

/* Join n captions (n >= 1) into a malloc'ed string.  starts (n entries,
 * may be NULL) receives the byte offset where each caption's text begins
 * in the result, ends where it ends. */
int ts_caption_merge(const char *const *caps, const size_t *lens, size_t n, char **out,
		     size_t *starts, size_t *ends, struct ts_err *err);

#endif
