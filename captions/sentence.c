/*
 * sentence.c - sentence boundaries and short/long caption pairs (see
 * sentence.h and docs/captions.md for the rules).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "captions/sentence.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "captions/bpe.h"

/* group 1: the end punctuation, 2: closing quotes/brackets, 3: white space
 * after them; group 4: a blank line (a paragraph break ends a sentence too). */
static const char pattern[] =
	"(\\.{2,}|\\x{2026}|[.!?\\x{203D}]+)([\"'\\x{201D}\\x{2019}\\x{00BB})\\]]*)(\\s+)"
	"|(\\h*\\n\\h*\\n\\s*)";

/* Words whose dot does not end a sentence (compared without the dot,
 * ignoring case).  Documented in docs/captions.md. */
static const char *const abbrev[] = {
	"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "mt", "rev", "hon",
	"gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep", "ave", "blvd",
	"rd", "vs", "approx", "fig", "al", "cf",
};

struct ts_sentences {
	pcre2_code *re;
};

int ts_sentences_new(struct ts_sentences **out, struct ts_err *err)
{
	int code;
	PCRE2_SIZE off;
	struct ts_sentences *sp = calloc(1, sizeof(*sp));
	*out = NULL;
	if (!sp)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	sp->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
			       &code, &off, NULL);
	if (!sp->re) {
		free(sp);
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "cannot compile the sentence pattern (pcre2 error %d at %zu)", code,
				  (size_t)off);
	}
	*out = sp;
	return TS_OK;
}

void ts_sentences_free(struct ts_sentences *sp)
{
	if (!sp)
		return;
	pcre2_code_free(sp->re);
	free(sp);
}

static int is_space_at(const char *s, size_t len, size_t i, size_t *adv)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
	*adv = k > 0 ? (size_t)k : 1;
	if (k <= 0)
		return 0;
	utf8proc_category_t c = utf8proc_category(cp);
	return cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' ||
	       c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* Is the dot at s[dot] part of an abbreviation or initials?  The word is
 * the run of non-space bytes before it, without opening quotes/brackets. */
static int dot_is_abbrev(const char *s, size_t dot)
{
	size_t b = dot;
	while (b > 0 && s[b - 1] != ' ' && s[b - 1] != '\t' && s[b - 1] != '\n' && s[b - 1] != '\r')
		b--;
	while (b < dot && strchr("\"'([{", s[b]))
		b++;
	size_t n = dot - b;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < sizeof(abbrev) / sizeof(abbrev[0]); i++)
		if (strlen(abbrev[i]) == n && !strncasecmp(s + b, abbrev[i], n))
			return 1;
	/* one capital letter (an initial: "J.") */
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + b, (utf8proc_ssize_t)n, &cp);
	if (k > 0 && (size_t)k == n && utf8proc_category(cp) == UTF8PROC_CATEGORY_LU)
		return 1;
	/* dotted letters: "U.S", "e.g", "i.e", "a.m" (ASCII letters and dots,
	 * one letter between dots) */
	if (n >= 3) {
		int ok = 1;
		for (size_t i = 0; i < n && ok; i++) {
			int letter = (s[b + i] >= 'a' && s[b + i] <= 'z') || (s[b + i] >= 'A' && s[b + i] <= 'Z');
			ok = (i % 2 == 0) ? letter : s[b + i] == '.';
		}
		if (ok && n % 2 == 1)
			return 1;
	}
	return 0;
}

/* Before a straight quote, a byte after which it can only open: white
 * space, the start of the text, an opening bracket. */
static int open_side(unsigned char c)
{
	return c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
	       c == '(' || c == '[' || c == '{';
}

/* After a straight quote, a byte before which it can only close: white
 * space, the end of the text, closing punctuation. */
static int close_side(unsigned char c)
{
	return c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
	       strchr(",.;:!?)]}", c) != NULL;
}

static int is_curly(const char *s, size_t i, size_t len, unsigned char third)
{
	return i + 2 < len && (uint8_t)s[i] == 0xe2 && (uint8_t)s[i + 1] == 0x80 && (uint8_t)s[i + 2] == third;
}

/* Inside a quotation at byte `at` (from: where the sentence starts)?
 * Quotes are paired on a stack, both kinds together, because real
 * captions mix them ("Coffee” then "tea. milk"): “ always opens, ” closes
 * the innermost open quotation of either kind, and a straight " closes the
 * innermost one when it follows a word (anything but white space or an
 * opening bracket before it) and otherwise opens one when a word follows
 * it (anything but white space or closing punctuation); a " with space on
 * both sides closes an open " quotation ('sapphire. " She') and is
 * otherwise ignored, and so is a closing " with nothing open (an inch
 * mark: 'a 6" pipe').  A " right after “ or right before ”
 * sees the curly quote as a boundary. */
static int in_quote(const char *s, size_t len, size_t from, size_t at)
{
	int depth = 0;
	uint64_t straight = 0;      /* bit d-1: the quotation at depth d opened with " */
	for (size_t i = from; i < at; i++) {
		if (s[i] == '"') {
			unsigned char prev = i > from ? (unsigned char)s[i - 1] : 0;
			unsigned char next = i + 1 < len ? (unsigned char)s[i + 1] : 0;
			int prev_edge = open_side(prev) || (i >= from + 3 && is_curly(s, i - 3, len, 0x9c));
			int next_edge = close_side(next) || is_curly(s, i + 1, len, 0x9d);
			int top_straight = depth > 0 && depth <= 64 && (straight >> (depth - 1) & 1);
			if (depth > 0 && !prev_edge)
				depth--;        /* after a word: closes */
			else if (!next_edge) {
				depth++;        /* before a word: opens */
				if (depth <= 64)
					straight |= (uint64_t)1 << (depth - 1);
			} else if (top_straight)
				depth--;        /* spaced out ('sapphire. " She'): closes a " */
		} else if (is_curly(s, i, len, 0x9c)) {
			depth++;
			if (depth <= 64)
				straight &= ~((uint64_t)1 << (depth - 1));
			i += 2;
		} else if (is_curly(s, i, len, 0x9d)) {
			if (depth > 0)
				depth--;
			i += 2;
		}
	}
	return depth > 0;
}

int ts_sentence_next(const struct ts_sentences *sp, const char *s, size_t len, size_t from,
		     size_t *start, size_t *end, size_t *next)
{
	size_t adv, at;
	pcre2_match_data *md;

	while (from < len && is_space_at(s, len, from, &adv))
		from += adv;
	if (from >= len)
		return 0;
	*start = from;
	md = pcre2_match_data_create_from_pattern(sp->re, NULL);
	at = from;
	for (;;) {
		int m = md ? pcre2_match(sp->re, (PCRE2_SPTR)s, len, at, PCRE2_NO_UTF_CHECK, md, NULL) : -1;
		if (m < 0)
			break;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		if (ov[8] != PCRE2_UNSET) {            /* a blank line */
			*end = ov[8];
			*next = ov[9];
			pcre2_match_data_free(md);
			return 1;
		}
		size_t p0 = ov[2], p1 = ov[3], c1 = ov[5], s1 = ov[7];
		int ellipsis = (p1 - p0 >= 2 && s[p0] == '.' && s[p0 + 1] == '.') ||
			       (p1 - p0 == 3 && (uint8_t)s[p0] == 0xe2 && (uint8_t)s[p0 + 1] == 0x80 &&
				(uint8_t)s[p0 + 2] == 0xa6);
		int keep = !ellipsis && !(p1 - p0 == 1 && s[p0] == '.' && dot_is_abbrev(s, p0)) &&
			   !in_quote(s, len, from, c1);
		/* a quotation that ends with its own full stop goes on when a
		 * lower-case word follows: 'reads "Stop." next to' */
		if (keep && c1 > p1 && s1 < len) {
			utf8proc_int32_t cp;
			if (utf8proc_iterate((const utf8proc_uint8_t *)s + s1, (utf8proc_ssize_t)(len - s1), &cp) > 0 &&
			    utf8proc_category(cp) == UTF8PROC_CATEGORY_LL)
				keep = 0;
		}
		at = ov[1] > at ? ov[1] : at + 1;
		if (keep) {
			*end = c1;
			*next = s1;
			pcre2_match_data_free(md);
			return 1;
		}
	}
	pcre2_match_data_free(md);
	/* the rest is one sentence, without trailing white space */
	size_t e = len;
	while (e > from && strchr(" \t\r\n\f\v", s[e - 1]))
		e--;
	*end = e;
	*next = len;
	return 1;
}

size_t ts_sentence_count(const struct ts_sentences *sp, const char *s, size_t len)
{
	size_t n = 0, from = 0, st, en, nx;
	while (ts_sentence_next(sp, s, len, from, &st, &en, &nx)) {
		n++;
		from = nx;
	}
	return n;
}

/* ---- short/long pairs ---------------------------------------------------- */

static int count_tokens(struct ts_bpe_ctx *bpe, const char *s, size_t n, size_t *out,
			struct ts_err *err)
{
	const int32_t *ids;
	size_t k;
	int rc = ts_bpe_encode(bpe, s, n, &ids, &k, err);
	if (rc == 0)
		*out = k + 2;
	return rc;
}

/* Length of s[0..n) without trailing white space and , ; : */
static size_t trim_tail(const char *s, size_t n)
{
	while (n > 0 && strchr(" \t\r\n\f\v,;:", s[n - 1]))
		n--;
	return n;
}

/* The longest prefix of s[0..n) that ends at a word boundary (or, when no
 * word fits, at a character boundary: *in_word = 1) with at most max
 * tokens. */
static int fit_prefix(struct ts_bpe_ctx *bpe, const char *s, size_t n, size_t max, size_t *out,
		      size_t *tokens, int *in_word, struct ts_err *err)
{
	size_t *cuts = malloc((n + 1) * sizeof(*cuts)), nc = 0, tk;
	int rc = TS_OK;
	if (!cuts)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	*in_word = 0;
	for (size_t i = 1; i < n; i++)          /* ends of words */
		if (s[i] == ' ' && s[i - 1] != ' ')
			cuts[nc++] = i;
	if (nc == 0 || (rc = count_tokens(bpe, s, trim_tail(s, cuts[0]), &tk, err)) || tk > max) {
		if (rc)
			goto out;
		/* not even the first word fits: cut at code points */
		*in_word = 1;
		nc = 0;
		for (size_t i = 1; i < n; i++)
			if (((uint8_t)s[i] & 0xc0) != 0x80)
				cuts[nc++] = i;
	}
	/* binary search for the last cut whose prefix fits (token counts grow
	 * with the prefix) */
	size_t lo = 0, hi = nc, best = 0, best_tk = 2;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, m = trim_tail(s, cuts[mid]);
		if ((rc = count_tokens(bpe, s, m, &tk, err)))
			goto out;
		if (tk <= max) {
			best = m;
			best_tk = tk;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*out = best;
	*tokens = best_tk;
out:
	free(cuts);
	return rc;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

void ts_split_release(struct ts_split *s)
{
	free(s->long_text);
	free(s->short_text);
	memset(s, 0, sizeof(*s));
}

int ts_caption_split(const struct ts_sentences *sp, struct ts_bpe_ctx *bpe, enum ts_split_rule rule,
		     size_t short_max, const char *text, size_t len, struct ts_split *out,
		     struct ts_err *err)
{
	size_t sn = 0, st = 0, en = 0, nx;
	int rc;

	memset(out, 0, sizeof(*out));
	/* long: every "\n" becomes a space (Long-CLIP's replace("\n", " ")) */
	if (!(out->long_text = dup_n(text, len)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (size_t i = 0; i < len; i++)
		if (out->long_text[i] == '\n')
			out->long_text[i] = ' ';
	const char *lt = out->long_text;
	if ((rc = count_tokens(bpe, lt, len, &out->long_tokens, err)))
		goto fail;

	if (rule == TS_SPLIT_LONGCLIP) {
		/* split(". ")[0] */
		const char *p = NULL;
		for (size_t i = 0; i + 1 < len && !p; i++)
			if (lt[i] == '.' && lt[i + 1] == ' ')
				p = lt + i;
		st = 0;
		sn = p ? (size_t)(p - lt) : len;
	} else if (ts_sentence_next(sp, lt, len, 0, &st, &en, &nx)) {
		sn = en - st;
	}
	/* an empty short caption (blank text, or Long-CLIP's rule on text that
	 * starts with ". "): the long caption stands in */
	int blank = 1;
	for (size_t i = st; i < st + sn && blank; i++)
		blank = strchr(" \t\r\n\f\v", lt[i]) != NULL;
	if (blank) {
		st = 0;
		sn = len;
		out->fallback = "empty_short";
	}
	if ((rc = count_tokens(bpe, lt + st, sn, &out->short_tokens, err)))
		goto fail;
	if (rule == TS_SPLIT_SENTENCE && out->short_tokens > short_max) {
		size_t n = 0, tk = 0;
		int in_word = 0;
		if ((rc = fit_prefix(bpe, lt + st, sn, short_max, &n, &tk, &in_word, err)))
			goto fail;
		sn = n;
		out->short_tokens = tk;
		out->fallback = in_word ? "cut_in_word" : "cut_at_word";
	}
	if (!(out->short_text = dup_n(lt + st, sn))) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto fail;
	}
	return TS_OK;
fail:
	ts_split_release(out);
	return rc;
}
