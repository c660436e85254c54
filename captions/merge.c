/*
 * merge.c - the CLIP-C caption join (see merge.h).
 */
#include "merge.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static int is_space(utf8proc_int32_t cp)
{
	utf8proc_category_t k = utf8proc_category(cp);
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || k == UTF8PROC_CATEGORY_ZS ||
	       k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* Trim Unicode white space at both ends of s[0..*len); returns the start. */
static const char *trim(const char *s, size_t *len)
{
	size_t b = 0, e = *len;
	while (b < e) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + b, (utf8proc_ssize_t)(e - b), &cp);
		if (k <= 0 || !is_space(cp))
			break;
		b += (size_t)k;
	}
	while (e > b) {
		size_t p = e - 1;
		while (p > b && ((unsigned char)s[p] & 0xc0) == 0x80)
			p--;
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + p, (utf8proc_ssize_t)(e - p), &cp);
		if (k <= 0 || !is_space(cp))
			break;
		e = p;
	}
	*len = e - b;
	return s + b;
}

/* Is the first word of s an acronym: two or more letters, all upper case
 * (digits and '.' or '-' between letters allowed: "U.S.", "F-16")? */
static int acronym_first(const char *s, size_t len)
{
	size_t i = 0, letters = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k <= 0 || is_space(cp))
			break;
		utf8proc_category_t c = utf8proc_category(cp);
		if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT)
			letters++;
		else if (c >= UTF8PROC_CATEGORY_LL && c <= UTF8PROC_CATEGORY_LO)
			return 0;
		else if (!(c == UTF8PROC_CATEGORY_ND || cp == '.' || cp == '-'))
			break;          /* punctuation ends the word ("NASA's", "TV,") */
		i += (size_t)k;
	}
	return letters >= 2;
}

int ts_caption_merge(const char *const *caps, const size_t *lens, size_t n, char **out,
		     size_t *starts, size_t *ends, struct ts_err *err)
{
	size_t total = 16;
	*out = NULL;
	if (n == 0)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "nothing to merge");
	for (size_t i = 0; i < n; i++)
		total += lens[i] + 8;
	char *o = malloc(total);
	size_t w = 0;
	if (!o)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t l = lens[i];
		const char *s = trim(caps[i], &l);
		/* every caption but the last loses one final period */
		if (i + 1 < n && l > 0 && s[l - 1] == '.') {
			l--;
			/* and the white space that preceded it ("a dog ." -> "a dog") */
			size_t t = l;
			s = trim(s, &t);
			l = t;
		}
		if (i > 0)
			w += (size_t)strlen(strcpy(o + w, i + 1 == n ? " and " : ", "));
		if (starts)
			starts[i] = w;
		if (i > 0 && l > 0 && !acronym_first(s, l)) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)l, &cp);
			if (k > 0) {
				utf8proc_uint8_t enc[4];
				utf8proc_ssize_t el = utf8proc_encode_char(utf8proc_tolower(cp), enc);
				/* a lower-case form longer than the capital: grow */
				if (el > k) {
					char *no = realloc(o, total + (size_t)el);
					if (!no) {
						free(o);
						return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
					}
					o = no;
					total += (size_t)el;
				}
				memcpy(o + w, enc, (size_t)el);
				w += (size_t)el;
				s += k;
				l -= (size_t)k;
			}
		}
		memcpy(o + w, s, l);
		w += l;
		if (ends)
			ends[i] = w;
	}
	o[w] = 0;
	*out = o;
	return TS_OK;
}
