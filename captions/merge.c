/*
 * merge.c - the CLIP-C caption join (see merge.h).
 *
 * What must hold: every caption's words arrive unchanged but for the end
 * of each caption followed by another (its final run of punctuation
 * removed once, completely) and the first letter of each caption after
 * the first (lowered only for a plain capitalised word, never for "I",
 * acronyms or name-like words).
 */
#include "captions/merge.h"

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

/* Sentence punctuation that a caption followed by another loses. */
static int is_final_punct(utf8proc_int32_t cp)
{
	return cp == '.' || cp == ',' || cp == ';' || cp == ':' || cp == '!' || cp == '?' ||
	       cp == 0x2026 /* … */;
}

/* Strip the whole run of final punctuation and white space at the end of
 * s[0..len): "sleeps.." and "sleeps . " both end at "sleeps". */
static size_t strip_final(const char *s, size_t len)
{
	while (len > 0) {
		size_t p = len - 1;
		while (p > 0 && ((unsigned char)s[p] & 0xc0) == 0x80)
			p--;
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + p, (utf8proc_ssize_t)(len - p), &cp);
		if (k <= 0 || !(is_final_punct(cp) || is_space(cp)))
			break;
		len = p;
	}
	return len;
}

/* Closed-class words that begin captions ("A", "Two", "The", "There"):
 * always lowered, even before a capitalised word ("An Asian man"). */
static int function_word(const char *w, size_t n)
{
	static const char *const words[] = {
		"a", "about", "above", "after", "all", "along", "an", "another", "around", "as", "at",
		"behind", "beside", "both", "by", "close", "each", "eight", "every", "few", "five",
		"for", "four", "from", "he", "her", "here", "his", "in", "inside", "it", "its", "many",
		"my", "near", "next", "nine", "no", "of", "on", "one", "our", "outside", "over",
		"several", "she", "seven", "six", "some", "ten", "that", "the", "their", "there",
		"these", "they", "this", "those", "three", "two", "under", "we", "while", "with",
		"you", "your",
	};
	char low[16];
	if (n == 0 || n >= sizeof(low))
		return 0;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] - 'A' + 'a' : w[i]);
	low[n] = 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(words[i], low))
			return 1;
	return 0;
}

/* Should the first letter of the caption s (not the first one joined) be
 * lowered?  Only for a plain capitalised first word: an upper-case letter
 * followed by lower-case letters only (an apostrophe ending allowed) that
 * is not "I" ("I", "I'm"), not an acronym ("NASA", "TV", "U.S."), not
 * mixed case ("McDonald's"), and not the start of a run of capitalised
 * words that looks like a name ("Santa Claus", "New York") unless it is
 * a function word ("An Asian man" -> "an Asian man"). */
static int lower_first(const char *s, size_t len)
{
	size_t i = 0, wend;
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &cp);
	if (k <= 0)
		return 0;
	utf8proc_category_t c = utf8proc_category(cp);
	if (c != UTF8PROC_CATEGORY_LU && c != UTF8PROC_CATEGORY_LT)
		return 0;
	if (acronym_first(s, len))
		return 0;
	i = (size_t)k;
	/* the rest of the word: lower-case letters; an apostrophe ends it */
	while (i < len) {
		k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k <= 0)
			return 0;
		c = utf8proc_category(cp);
		if (c == UTF8PROC_CATEGORY_LL) {
			i += (size_t)k;
			continue;
		}
		if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT)
			return 0;           /* mixed case: "McDonald", "DeWalt" */
		break;
	}
	wend = i;
	if (wend == 1 && s[0] == 'I')
		return 0;                   /* "I", "I'm", "I've" */
	if (function_word(s, wend))
		return 1;
	/* the next word: capitalised too means a name-like run */
	while (i < len) {
		k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k <= 0 || is_space(cp))
			break;
		i += (size_t)k;             /* the rest of the first word ("'s", "-year-old") */
	}
	while (i < len) {
		k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k <= 0 || !is_space(cp))
			break;
		i += (size_t)k;
	}
	if (i < len && k > 0) {
		c = utf8proc_category(cp);
		if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT)
			return 0;
	}
	return 1;
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
		/* every caption but the last loses its final punctuation, all
		 * of it, with the white space around it ("a dog .." -> "a dog") */
		if (i + 1 < n)
			l = strip_final(s, l);
		if (i > 0)
			w += (size_t)strlen(strcpy(o + w, i + 1 == n ? " and " : ", "));
		if (starts)
			starts[i] = w;
		if (i > 0 && l > 0 && lower_first(s, l)) {
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
