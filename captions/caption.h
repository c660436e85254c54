/*
 * caption.h - caption checks used by ingest: valid UTF-8, not empty.
 *
 * Knows nothing of pixels or storage.
 */
#ifndef TS_CAPTION_H
#define TS_CAPTION_H

#include <stddef.h>

#include "base/ts_error.h"

/* Check that s[0..len) is valid UTF-8 (no NUL bytes, no overlong forms or
 * surrogates) and not empty after trimming Unicode whitespace at both ends.
 * On success *start and *out_len give the trimmed span.  Rejects with
 * caption.invalid_utf8, caption.empty or (max_bytes > 0) caption.too_long. */
int ts_caption_check(const char *s, size_t len, size_t max_bytes,
		     size_t *start, size_t *out_len, struct ts_err *err);

#endif
