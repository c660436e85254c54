/*
 * caption.c - UTF-8 validation and trimming of captions (utf8proc).
 *
 * A caption is accepted only if every byte belongs to a valid UTF-8
 * sequence; whitespace is what Unicode calls White_Space (utf8proc's
 * category Zs/Zl/Zp plus the ASCII controls TAB LF VT FF CR and NEL).
 */
#include "captions/caption.h"

#include <utf8proc.h>

static int is_space(utf8proc_int32_t c)
{
	if ((c >= 0x09 && c <= 0x0d) || c == 0x85)
		return 1;
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_ZS:
	case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
		return 1;
	default:
		return 0;
	}
}

int ts_caption_check(const char *s, size_t len, size_t max_bytes,
		     size_t *start, size_t *out_len, struct ts_err *err)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	size_t i = 0, first = len, last_end = 0;

	while (i < len) {
		utf8proc_int32_t c;
		utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
		if (n <= 0 || c == 0)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_CAPTION_INVALID_UTF8,
					  "caption is not valid UTF-8 (byte %zu)", i);
		if (!is_space(c)) {
			if (first == len)
				first = i;
			last_end = i + (size_t)n;
		}
		i += (size_t)n;
	}
	if (first == len)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_CAPTION_EMPTY,
				  "caption is empty");
	if (max_bytes && last_end - first > max_bytes)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_CAPTION_TOO_LONG,
				  "caption has %zu bytes, more than %zu",
				  last_end - first, max_bytes);
	*start = first;
	*out_len = last_end - first;
	return TS_OK;
}
