/*
 * clean.c - CLIP's text cleaning (see clean.h): ftfy's part, html.unescape,
 * white space and lower case, in the reference's order.
 *
 * Plain ASCII without '&' (most captions) takes one pass that does what the
 * whole chain does to such text; everything else takes the chain.  Unicode
 * properties come from utf8proc (NFC, NFKC of single characters, lower case,
 * categories), Windows-1252 from iconv, the entities from
 * html5_entities.inc; nothing here is a hand-written Unicode table.
 */
#include "captions/clean.h"
#include "base/buf.h"

#include <ctype.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void ts_clean_init(struct ts_clean *c)
{
	memset(c, 0, sizeof(*c));
}

void ts_clean_release(struct ts_clean *c)
{
	free(c->out);
	free(c->tmp);
	free(c->tmp2);
	c->out = c->tmp = c->tmp2 = NULL;
	c->out_cap = c->tmp_cap = c->tmp2_cap = 0;
}

/* Python's str.isspace(): Unicode White_Space plus the separators U+001C..1F */
static int py_space(utf8proc_int32_t cp)
{
	if ((cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85)
		return 1;
	utf8proc_category_t k = utf8proc_category(cp);
	return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

#include "captions/html5_entities.inc"

static int cmp_entity(const void *k, const void *e)
{
	return strcmp(k, ((const struct html5_entity *)e)->name);
}

static const char *entity(const char *name, size_t n)
{
	char key[40];
	if (n >= sizeof(key))
		return NULL;
	memcpy(key, name, n);
	key[n] = 0;
	const struct html5_entity *e = bsearch(key, html5_entities,
					      sizeof(html5_entities) / sizeof(html5_entities[0]),
					      sizeof(html5_entities[0]), cmp_entity);
	return e ? e->value : NULL;
}

static size_t put_cp(char *o, uint32_t cp)
{
	return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)o);
}

/* Python's html.unescape on UTF-8 text: numeric references (with the
 * HTML5 fix-ups) and named ones, the longest known prefix of a name
 * without ';' included.  out needs room for len * 2 + 8 bytes (a
 * reference is never shorter than its longest replacement minus 2). */
static size_t html_unescape(const char *in, size_t len, char *o)
{
	size_t i = 0, w = 0;
	while (i < len) {
		if (in[i] != '&' || i + 1 >= len) {
			o[w++] = in[i++];
			continue;
		}
		size_t j = i + 1;
		if (in[j] == '#') {
			int hex = j + 1 < len && (in[j + 1] == 'x' || in[j + 1] == 'X');
			size_t d = j + 1 + (size_t)hex, k = d;
			uint64_t num = 0;
			while (k < len && (hex ? isxdigit((unsigned char)in[k]) : isdigit((unsigned char)in[k]))) {
				int v = isdigit((unsigned char)in[k]) ? in[k] - '0' : (in[k] | 0x20) - 'a' + 10;
				num = num > 0x10ffffff ? num : num * (hex ? 16 : 10) + (uint64_t)v;
				k++;
			}
			if (k == d) {          /* "&#" without digits: not a reference */
				o[w++] = in[i++];
				continue;
			}
			if (k < len && in[k] == ';')
				k++;
			const char *rep = NULL;
			for (size_t t = 0; t < sizeof(html5_invalid_charrefs) / sizeof(html5_invalid_charrefs[0]); t++)
				if (html5_invalid_charrefs[t].num == num)
					rep = html5_invalid_charrefs[t].value;
			if (rep) {
				size_t rl = strlen(rep);
				memcpy(o + w, rep, rl);
				w += rl;
			} else if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) {
				w += put_cp(o + w, 0xfffd);
			} else {
				int bad = 0;
				for (size_t t = 0; t < sizeof(html5_invalid_codepoints) / sizeof(uint32_t); t++)
					bad |= html5_invalid_codepoints[t] == num;
				if (!bad)
					w += put_cp(o + w, (uint32_t)num);
			}
			i = k;
			continue;
		}
		/* a name: up to 32 characters other than \t \n \f space < & # ; */
		size_t k = j, chars = 0;
		while (k < len && chars < 32 && !strchr("\t\n\f <&#;", in[k])) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)in + k,
							      (utf8proc_ssize_t)(len - k), &cp);
			k += n > 0 ? (size_t)n : 1;
			chars++;
		}
		if (k == j) {
			o[w++] = in[i++];
			continue;
		}
		size_t end = k < len && in[k] == ';' ? k + 1 : k;
		const char *v = entity(in + j, end - j);
		size_t used = end;
		if (!v) {
			/* the longest prefix (of at least 2 characters) that is a name */
			for (size_t x = (end - j) - 1; x >= 2 && !v; x--)
				if ((v = entity(in + j, x)))
					used = j + x;
		}
		if (!v) {
			o[w++] = in[i++];
			continue;
		}
		size_t vl = strlen(v);
		memcpy(o + w, v, vl);
		w += vl;
		i = used;
	}
	return w;
}

/* The 32 code points Windows-1252 gives bytes 0x80-0x9F, read once from
 * iconv; the five bytes it leaves undefined (0x81 0x8D 0x8F 0x90 0x9D)
 * stand for the C1 control of the same value, as in the "sloppy" codec
 * that text decoded byte by byte produces. */
static uint32_t cp1252_hi[32];
static pthread_once_t cp1252_once = PTHREAD_ONCE_INIT;

static void cp1252_init(void)
{
	iconv_t cd = iconv_open("UTF-32LE", "CP1252");
	for (unsigned b = 0; b < 32; b++) {
		char in = (char)(0x80 + b), outb[4];
		char *ip = &in, *op = outb;
		size_t il = 1, ol = 4;
		cp1252_hi[b] = 0x80 + b;
		if (cd != (iconv_t)-1 && iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 && ol == 0)
			cp1252_hi[b] = (uint32_t)(uint8_t)outb[0] | (uint32_t)(uint8_t)outb[1] << 8 |
				       (uint32_t)(uint8_t)outb[2] << 16 | (uint32_t)(uint8_t)outb[3] << 24;
	}
	if (cd != (iconv_t)-1)
		iconv_close(cd);
}

/* One code point to its byte in sloppy Windows-1252 (k = 0) or Latin-1
 * (k = 1); -1 when it has none. */
static int single_byte(uint32_t cp, int k)
{
	if (cp < 0x80 || (cp >= 0xa0 && cp <= 0xff))
		return (int)cp;
	if (k == 1)
		return cp <= 0xff ? (int)cp : -1;
	for (unsigned b = 0; b < 32; b++)
		if (cp1252_hi[b] == cp)
			return (int)(0x80 + b);
	return -1;
}

/* ftfy's commonest encoding repair: text that was UTF-8, decoded as
 * Windows-1252 (or Latin-1) and re-encoded.  When the whole text encodes
 * back to single bytes and those bytes are valid UTF-8 holding at least
 * one multi-byte character, the decoded text replaces it.  A
 * simplification of ftfy.fix_encoding: the whole text or nothing, no
 * per-segment repair. */
static int fix_mojibake(struct ts_clean *c, const char *text, size_t len,
			const char **out, size_t *olen)
{
	int suspicious = 0;
	for (size_t i = 0; i + 1 < len; i++)
		suspicious |= ((uint8_t)text[i] == 0xc2 || (uint8_t)text[i] == 0xc3 ||
			       (uint8_t)text[i] == 0xe2 || (uint8_t)text[i] == 0xc5);
	if (!suspicious)
		return 0;
	if (ts_alloc_grow(&c->tmp2, &c->tmp2_cap, len + 16, 1))
		return 0;
	pthread_once(&cp1252_once, cp1252_init);
	for (int k = 0; k < 2; k++) {
		size_t i = 0, n = 0;
		int ok = 1, multi = 0;
		while (i < len && ok) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)text + i,
							      (utf8proc_ssize_t)(len - i), &cp);
			int b = m > 0 ? single_byte((uint32_t)cp, k) : -1;
			ok = b >= 0;
			if (ok) {
				c->tmp2[n++] = (char)b;
				multi |= b >= 0xc2;
				i += (size_t)m;
			}
		}
		if (!ok || !multi || n >= len)
			continue;
		/* valid UTF-8? */
		i = 0;
		while (i < n && ok) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)c->tmp2 + i,
							      (utf8proc_ssize_t)(n - i), &cp);
			ok = m > 0;
			i += m > 0 ? (size_t)m : 0;
		}
		if (ok) {
			*out = c->tmp2;
			*olen = n;
			return 1;
		}
	}
	return 0;
}

/* A part of ftfy.fix_text: control characters go, quotes are uncurled,
 * Latin ligatures and full/half-width forms unfolded (NFKC of that
 * character alone), then NFC.  Returns the length in c->tmp. */
static int ftfy_part(struct ts_clean *c, const char *text, size_t len, size_t *olen,
		     struct ts_err *err)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
	size_t i = 0, o = 0;
	int ascii = 1;

	if (ts_alloc_grow(&c->tmp, &c->tmp_cap, len * 3 + 16, 1))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (size_t k = 0; k < len && ascii; k++)
		ascii = p[k] < 0x80;
	if (ascii) {
		/* the same steps, for ASCII: only control characters change, and
		 * NFC leaves ASCII as it is */
		for (size_t k = 0; k < len; k++)
			if (!((p[k] < 0x20 && p[k] != '\t' && p[k] != '\n' && p[k] != '\f' && p[k] != '\r') ||
			      p[k] == 0x7f))
				c->tmp[o++] = (char)p[k];
		*olen = o;
		return TS_OK;
	}
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_CAPTION_INVALID_UTF8,
					  "caption is not valid UTF-8 (byte %zu)", i);
		i += (size_t)n;
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\f' && cp != '\r') ||
		    (cp >= 0x7f && cp <= 0x9f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
		    (cp >= 0x206a && cp <= 0x206f))
			continue;
		if (cp == 0x2bc || (cp >= 0x2018 && cp <= 0x201b))
			cp = '\'';
		else if (cp >= 0x201c && cp <= 0x201f)
			cp = '"';
		if ((cp >= 0xfb00 && cp <= 0xfb06) || (cp >= 0xff01 && cp <= 0xffee) || cp == 0x3000 ||
		    cp == 0x132 || cp == 0x133 || (cp >= 0x1c4 && cp <= 0x1cc) ||
		    (cp >= 0x1f1 && cp <= 0x1f3)) {
			utf8proc_uint8_t one[8], *nf = NULL;
			utf8proc_ssize_t l1 = utf8proc_encode_char(cp, one);
			utf8proc_ssize_t m = utf8proc_map(one, l1, &nf, UTF8PROC_STABLE | UTF8PROC_COMPOSE |
							  UTF8PROC_COMPAT);
			if (m > 0 && m <= 9) {
				memcpy(c->tmp + o, nf, (size_t)m);
				o += (size_t)m;
				free(nf);
				continue;
			}
			free(nf);
		}
		o += put_cp(c->tmp + o, (uint32_t)cp);
	}
	utf8proc_uint8_t *nf = NULL;
	utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)c->tmp, (utf8proc_ssize_t)o, &nf,
					  UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	if (m >= 0 && nf && !ts_alloc_grow(&c->tmp, &c->tmp_cap, (size_t)m + 1, 1)) {
		memcpy(c->tmp, nf, (size_t)m);
		o = (size_t)m;
	}
	free(nf);
	*olen = o;
	return TS_OK;
}

/* The plain-ASCII pass's byte classes.  What the whole chain does to
 * ASCII without '&': ftfy drops the controls but \t \n \f \r (so \v and
 * the separators 0x1c-0x1f go, though Python calls them space), the rest
 * collapses white space and lower-cases. */
enum { P_KEEP, P_SPACE, P_DROP, P_STOP };
static const uint8_t plain_class[256] = {
	[0x00 ... 0x08] = P_DROP, ['\t'] = P_SPACE, ['\n'] = P_SPACE, ['\v'] = P_DROP,
	['\f'] = P_SPACE, ['\r'] = P_SPACE, [0x0e ... 0x1f] = P_DROP, [' '] = P_SPACE,
	['&'] = P_STOP, [0x7f] = P_DROP, [0x80 ... 0xff] = P_STOP,
};

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* 0x80 in each byte of x that is zero, exactly */
static inline uint64_t zero_bytes(uint64_t x)
{
	return ~(((x & ~HIGH) + ~HIGH) | x | ~HIGH);
}

/* 0x80 in each byte of x (bytes < 0x80) that is 'A'..'Z' */
static inline uint64_t upper_bytes(uint64_t x)
{
	return (x + (0x80 - 'A') * ONES) & ~(x + (0x80 - 'Z' - 1) * ONES) & HIGH;
}

/* Whether the eight bytes of x are all printable ASCII but '&' with no
 * two spaces next to each other; *sp: 0x80 in each space byte. */
static inline int plain8(uint64_t x, uint64_t *sp)
{
	uint64_t bad = (x & HIGH) | ((x - 0x20 * ONES) & ~x & HIGH) | zero_bytes(x ^ 0x7f * ONES) |
		       zero_bytes(x ^ '&' * ONES);
	*sp = zero_bytes(x ^ ' ' * ONES);
	return (bad | (*sp & (*sp >> 8))) == 0;
}

int ts_clean_text(struct ts_clean *c, const char *text, size_t len, const char **out,
		  size_t *out_len, int *ascii, struct ts_err *err)
{
	size_t n = 0, i = 0, o = 0;
	int pending_space = 0, rc;

	/* ASCII without '&' (most captions): every step below reduces to
	 * dropping control characters, collapsing white space (Python's
	 * isspace) and lower-casing; one pass does it */
	if (ascii)
		*ascii = 0;
	if (ts_alloc_grow(&c->out, &c->out_cap, len + 32, 1))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!c->general_only) {
		/* branch-free but for the stop: a byte is kept (lower-cased,
		 * after a pending space), a space (pending when something was
		 * written), dropped, or the end of the fast path */
		char *w = c->out;
		size_t k;
		unsigned pend = 0;
		for (k = 0; k < len; k++) {
#if defined(__SSE2__)
			/* sixteen at a time, the same rules as the eight below */
			while (k + 16 <= len) {
				__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(text + k));
				__m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),  /* and >= 0x80 */
							   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)),
									_mm_cmpeq_epi8(v, _mm_set1_epi8('&'))));
				unsigned nb = (unsigned)_mm_movemask_epi8(bad);
				unsigned sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
				unsigned ok = ((nb | (sp & (sp >> 1))) == 0) & ~((sp & 1) & (pend | (o == 0)));
				if (!ok)
					break;
				__m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
							   _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
				v = _mm_or_si128(v, _mm_and_si128(up, _mm_set1_epi8(0x20)));
				w[o] = ' ';
				o += pend & !(sp & 1);
				_mm_storeu_si128((__m128i *)(void *)(w + o), v);
				pend = sp >> 15;
				o += 16 - pend;
				k += 16;
			}
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* eight plain bytes at a time: printable, no '&', no two
			 * spaces in a row and none that the state would drop */
			while (k + 8 <= len) {
				uint64_t x, sp;
				memcpy(&x, text + k, 8);
				/* one branch: plain, and a leading space only
				 * where it is written as it is */
				unsigned ok = (unsigned)plain8(x, &sp) &
					      ~((unsigned)(sp & 0x80) >> 7 & (pend | (o == 0)));
				if (!ok)
					break;
				w[o] = ' ';
				o += pend & !(sp & 0x80);
				x |= upper_bytes(x) >> 2;
				memcpy(w + o, &x, 8);
				pend = (sp >> 63) != 0;   /* a last space waits for what follows */
				o += 8 - pend;
				k += 8;
			}
			if (k == len)
				break;
#endif
			uint8_t b = (uint8_t)text[k];
			unsigned cl = plain_class[b];
			if (cl == P_STOP)
				break;          /* not plain: the full cleaning below */
			unsigned keep = cl == P_KEEP;
			w[o] = ' ';
			o += pend & keep;
			w[o] = (char)(b + ((unsigned)(b - 'A') < 26 ? 32 : 0));
			o += keep;
			pend = (pend & !keep) | ((cl == P_SPACE) & (o > 0));
		}
		if (k == len) {
			memset(c->out + o, 0, 17);
			if (ascii)
				*ascii = 1;
			*out = c->out;
			*out_len = o;
			return TS_OK;
		}
		o = 0;
	}
	/* ftfy, then html.unescape twice, then whitespace and lower case */
	const char *src = text;
	size_t srclen = len;
	char *fixed = NULL;
	if (fix_mojibake(c, text, len, &src, &srclen)) {
		if (!(fixed = malloc(srclen + 1)))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		memcpy(fixed, src, srclen);
		src = fixed;
	}
	rc = ftfy_part(c, src, srclen, &n, err);
	free(fixed);
	if (rc)
		return rc;
	if (ts_alloc_grow(&c->tmp2, &c->tmp2_cap, n * 2 + 16, 1) ||
	    ts_alloc_grow(&c->out, &c->out_cap, n * 4 + 16, 1))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	n = html_unescape(c->tmp, n, c->tmp2);
	if (ts_alloc_grow(&c->tmp, &c->tmp_cap, n * 2 + 16, 1))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	n = html_unescape(c->tmp2, n, c->tmp);
	if (ts_alloc_grow(&c->out, &c->out_cap, n * 2 + 32, 1))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)c->tmp;
	while (i < n) {
		utf8proc_int32_t cp;
		if (p[i] < 0x80) {           /* ASCII: Python's isspace and lower() */
			uint8_t b = p[i++];
			if (b == ' ' || (b >= '\t' && b <= '\r') || (b >= 0x1c && b <= 0x1f)) {
				pending_space = o > 0;
				continue;
			}
			if (pending_space) {
				c->out[o++] = ' ';
				pending_space = 0;
			}
			c->out[o++] = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
			continue;
		}
		utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_CAPTION_INVALID_UTF8,
					  "caption is not valid UTF-8 after unescaping");
		i += (size_t)k;
		if (py_space(cp)) {
			pending_space = o > 0;
			continue;
		}
		if (pending_space) {
			c->out[o++] = ' ';
			pending_space = 0;
		}
		if (cp == 0x130) {             /* İ lowers to i + combining dot, as Python */
			c->out[o++] = 'i';
			cp = 0x307;
		} else {
			cp = utf8proc_tolower(cp);
		}
		o += put_cp(c->out + o, (uint32_t)cp);
	}
	memset(c->out + o, 0, 17);
	*out = c->out;
	*out_len = o;
	return TS_OK;
}
