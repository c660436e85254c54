/*
 * bpe.c - CLIP's byte-level BPE (see bpe.h).
 *
 * Vocabulary, as the reference builds it: the 256 byte-to-unicode
 * characters (printable Latin-1 bytes map to themselves, the other bytes to
 * U+0100 and up, in byte order), the same 256 with "</w>", then one entry
 * per merge line (lines 1..48894 after the header), then <|startoftext|>
 * and <|endoftext|>.  Every merge result is itself a vocabulary entry, so
 * BPE runs on ids: a table maps a pair of ids to (rank, merged id).
 * A word's result is cached per context (bounded; cleared when full).
 * Unicode properties come from pcre2 (the regex, with UTF and UCP) and
 * utf8proc (lower case, white space); nothing here is a hand-written table.
 */
#include "bpe.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <zlib.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "html5_entities.inc"
#include "ftfy_tables.inc"

#define NMERGES 48894
#define CACHE_MAX 100000

static const char pattern[] =
	"<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|"
	"[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/* open-addressing maps: string -> id, (a, b) -> (rank, merged) */
struct smap {
	char **keys;
	int32_t *vals;
	size_t cap;
};

struct pmap {
	uint64_t *keys;     /* (a << 32 | b) + 1; 0 = empty */
	uint64_t *vals;     /* rank << 32 | merged */
	size_t cap;
};

/* a growable string, NUL-terminated after every append */
struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_release(struct sbuf *b);

struct enc_rev {
	uint32_t cp;
	uint8_t byte;
};

struct ts_bpe {
	char *vocab[TS_BPE_VOCAB];      /* utf-8 strings */
	struct smap enc;
	struct pmap ranks;
	int32_t byte_id[256];           /* id of the single-byte symbol */
	pcre2_code *re;
	/* ftfy's regexes (ftfy_tables.inc) and its encodings, character -> byte */
	pcre2_code *ftfy_bad, *ftfy_detector, *ftfy_altered, *ftfy_lossy, *ftfy_agrave, *ftfy_ansi;
	struct enc_rev enc_rev[FTFY_NENC][129];
};

struct centry {
	char *word;
	int32_t *ids;
	size_t n;
};

struct ts_bpe_ctx {
	const struct ts_bpe *bpe;
	pcre2_match_data *md;
	char *clean, *tmp, *tmp2;
	struct sbuf fixed;              /* ftfy.fix_text's result */
	size_t clean_cap, tmp_cap, tmp2_cap;
	int32_t *ids;
	size_t nids, cap_ids;
	int32_t *sym;
	size_t cap_sym;
	struct centry *cache;
	size_t cache_cap, cache_n;
};

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	return h;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int32_t smap_get(const struct smap *m, const char *k, size_t n)
{
	size_t i = fnv(k, n) & (m->cap - 1);
	while (m->keys[i]) {
		if (strlen(m->keys[i]) == n && !memcmp(m->keys[i], k, n))
			return m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	return -1;
}

static void smap_put(struct smap *m, char *k, int32_t v)
{
	size_t i = fnv(k, strlen(k)) & (m->cap - 1);
	while (m->keys[i] && strcmp(m->keys[i], k))
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = k;
	m->vals[i] = v;
}

static uint64_t pmap_get(const struct pmap *m, int32_t a, int32_t b)
{
	uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
	size_t i = mix(key) & (m->cap - 1);
	while (m->keys[i]) {
		if (m->keys[i] == key)
			return m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	return UINT64_MAX;
}

static void pmap_put(struct pmap *m, int32_t a, int32_t b, uint64_t v)
{
	uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
	size_t i = mix(key) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])            /* the first (lowest) rank wins */
		m->vals[i] = v;
	m->keys[i] = key;
}

static char *utf8_of(int32_t cp, char *buf)
{
	utf8proc_ssize_t n = utf8proc_encode_char(cp, (utf8proc_uint8_t *)buf);
	buf[n] = 0;
	return buf;
}

void ts_bpe_free(struct ts_bpe *b)
{
	if (!b)
		return;
	for (int i = 0; i < TS_BPE_VOCAB; i++)
		free(b->vocab[i]);
	free(b->enc.keys);
	free(b->enc.vals);
	free(b->ranks.keys);
	free(b->ranks.vals);
	pcre2_code_free(b->re);
	pcre2_code_free(b->ftfy_bad);
	pcre2_code_free(b->ftfy_detector);
	pcre2_code_free(b->ftfy_altered);
	pcre2_code_free(b->ftfy_lossy);
	pcre2_code_free(b->ftfy_agrave);
	pcre2_code_free(b->ftfy_ansi);
	free(b);
}

static gzFile open_vocab(const char *path, char *used, size_t n)
{
	const char *env = getenv("TESSERA_VOCAB");
	const char *tries[3] = { path, NULL, NULL };
	int k = 1;
	if (!path) {
		k = 0;
		if (env && *env)
			tries[k++] = env;
		tries[k++] = TS_DATADIR "/bpe_simple_vocab_16e6.txt.gz";
		tries[k++] = "../shared/tokenizer/bpe_simple_vocab_16e6.txt.gz";
	}
	for (int i = 0; i < k; i++) {
		gzFile f = gzopen(tries[i], "rb");
		snprintf(used, n, "%s", tries[i]);
		if (f)
			return f;
	}
	return NULL;
}

static int cmp_enc_rev(const void *a, const void *b)
{
	uint32_t x = ((const struct enc_rev *)a)->cp, y = ((const struct enc_rev *)b)->cp;
	return x < y ? -1 : x > y;
}

int ts_bpe_load(struct ts_bpe **out, const char *path, struct ts_err *err)
{
	struct ts_bpe *b = calloc(1, sizeof(*b));
	char used[PATH_MAX], line[1024], tmp[8];
	int32_t bs[256], nb = 0, rc = TS_OK, k = 0;
	gzFile f = NULL;
	int ecode;
	PCRE2_SIZE eoff;

	if (!b)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!(f = open_vocab(path, used, sizeof(used)))) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE,
				"cannot open the CLIP vocabulary '%s': %s (give --vocab or set TESSERA_VOCAB)",
				used, strerror(errno ? errno : ENOENT));
		goto fail;
	}
	/* bytes_to_unicode */
	for (int c = '!'; c <= '~'; c++)
		bs[nb++] = c;
	for (int c = 0xa1; c <= 0xac; c++)
		bs[nb++] = c;
	for (int c = 0xae; c <= 0xff; c++)
		bs[nb++] = c;
	int extra = 0;
	int32_t cs[256];
	for (int i = 0; i < nb; i++)
		cs[i] = bs[i];
	for (int c = 0; c < 256; c++) {
		int seen = 0;
		for (int i = 0; i < 94 + 12 + 82; i++)
			seen |= bs[i] == c;
		if (!seen) {
			bs[nb] = c;
			cs[nb++] = 256 + extra++;
		}
	}
	b->enc.cap = 1 << 17;
	b->enc.keys = calloc(b->enc.cap, sizeof(char *));
	b->enc.vals = calloc(b->enc.cap, sizeof(int32_t));
	b->ranks.cap = 1 << 17;
	b->ranks.keys = calloc(b->ranks.cap, sizeof(uint64_t));
	b->ranks.vals = calloc(b->ranks.cap, sizeof(uint64_t));
	if (!b->enc.keys || !b->enc.vals || !b->ranks.keys || !b->ranks.vals)
		goto nomem;
	for (int i = 0; i < 256; i++) {
		char w[16];
		b->vocab[i] = strdup(utf8_of(cs[i], tmp));
		snprintf(w, sizeof(w), "%s</w>", tmp);
		b->vocab[256 + i] = strdup(w);
		if (!b->vocab[i] || !b->vocab[256 + i])
			goto nomem;
		b->byte_id[bs[i]] = i;
	}
	for (int i = 0; i < 512; i++)
		smap_put(&b->enc, b->vocab[i], i);
	if (!gzgets(f, line, sizeof(line)) || strncmp(line, "\"bpe_simple_vocab", 17)) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is not a CLIP BPE merges file (bad first line)", used);
		goto fail;
	}
	for (k = 0; k < NMERGES; k++) {
		char *sp, *nl;
		if (!gzgets(f, line, sizeof(line)))
			break;
		nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		sp = strchr(line, ' ');
		if (!sp || strchr(sp + 1, ' '))
			break;
		*sp = 0;
		int32_t a = smap_get(&b->enc, line, strlen(line));
		int32_t c = smap_get(&b->enc, sp + 1, strlen(sp + 1));
		size_t la = strlen(line), lc = strlen(sp + 1);
		char *m = malloc(la + lc + 1);
		if (!m)
			goto nomem;
		memcpy(m, line, la);
		memcpy(m + la, sp + 1, lc + 1);
		if (a < 0 || c < 0) {
			free(m);
			break;
		}
		b->vocab[512 + k] = m;
		if (smap_get(&b->enc, m, la + lc) < 0)
			smap_put(&b->enc, m, 512 + k);
		pmap_put(&b->ranks, a, c, (uint64_t)k << 32 | (uint32_t)(512 + k));
	}
	if (k != NMERGES) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is malformed: merge line %d is missing or not \"A B\" with known parts",
				used, k + 1);
		goto fail;
	}
	b->vocab[TS_BPE_SOT] = strdup("<|startoftext|>");
	b->vocab[TS_BPE_EOT] = strdup("<|endoftext|>");
	if (!b->vocab[TS_BPE_SOT] || !b->vocab[TS_BPE_EOT])
		goto nomem;
	const struct {
		pcre2_code **re;
		const char *pat, *name;
		uint32_t flags;
	} res[] = {
		{ &b->re, pattern, "CLIP pre-tokenizer", PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS },
		{ &b->ftfy_bad, ftfy_badness_re, "ftfy badness", PCRE2_UTF | PCRE2_UCP },
		{ &b->ftfy_detector, ftfy_utf8_detector_re, "ftfy UTF-8 detector", PCRE2_UTF | PCRE2_UCP },
		{ &b->ftfy_altered, ftfy_altered_utf8_re, "ftfy altered UTF-8", 0 },
		{ &b->ftfy_lossy, ftfy_lossy_utf8_re, "ftfy lossy UTF-8", 0 },
		{ &b->ftfy_agrave, ftfy_a_grave_word_re, "ftfy a-grave", 0 },
		{ &b->ftfy_ansi, "\x1b\\[((?:\\d|;)*)([a-zA-Z])", "ftfy terminal escape",
		  PCRE2_UTF | PCRE2_UCP },
	};
	for (size_t r = 0; r < sizeof(res) / sizeof(res[0]); r++) {
		*res[r].re = pcre2_compile((PCRE2_SPTR)res[r].pat, PCRE2_ZERO_TERMINATED, res[r].flags,
					   &ecode, &eoff, NULL);
		if (!*res[r].re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(ecode, msg, sizeof(msg));
			rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
					"cannot compile the %s regex: %s at offset %zu", res[r].name,
					(char *)msg, (size_t)eoff);
			goto fail;
		}
		pcre2_jit_compile(*res[r].re, PCRE2_JIT_COMPLETE);
	}
	/* ftfy's encodings, sorted by character for encode_enc() */
	for (int e = 0; e < FTFY_NENC; e++) {
		for (int i = 0; i < 129; i++) {
			b->enc_rev[e][i].cp = ftfy_enc_chars[e][i];
			b->enc_rev[e][i].byte = (uint8_t)(i < 128 ? 0x80 + i : 0x1a);
		}
		qsort(b->enc_rev[e], 129, sizeof(b->enc_rev[e][0]), cmp_enc_rev);
	}
	gzclose(f);
	*out = b;
	return TS_OK;
nomem:
	rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory loading the vocabulary");
fail:
	if (f)
		gzclose(f);
	ts_bpe_free(b);
	return rc;
}

struct ts_bpe_ctx *ts_bpe_ctx_new(const struct ts_bpe *bpe)
{
	struct ts_bpe_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->bpe = bpe;
	c->md = pcre2_match_data_create(8, NULL);
	c->cache_cap = 1 << 14;
	c->cache = calloc(c->cache_cap, sizeof(*c->cache));
	if (!c->md || !c->cache) {
		ts_bpe_ctx_free(c);
		return NULL;
	}
	return c;
}

static void cache_clear(struct ts_bpe_ctx *c)
{
	for (size_t i = 0; i < c->cache_cap; i++) {
		free(c->cache[i].word);
		free(c->cache[i].ids);
	}
	memset(c->cache, 0, c->cache_cap * sizeof(*c->cache));
	c->cache_n = 0;
}

void ts_bpe_ctx_free(struct ts_bpe_ctx *c)
{
	if (!c)
		return;
	if (c->cache)
		cache_clear(c);
	free(c->cache);
	pcre2_match_data_free(c->md);
	free(c->clean);
	free(c->tmp);
	free(c->tmp2);
	sb_release(&c->fixed);
	free(c->ids);
	free(c->sym);
	free(c);
}

/* Python's str.isspace(): Unicode White_Space plus the separators U+001C..1F */
static int py_space(utf8proc_int32_t cp)
{
	if ((cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85)
		return 1;
	utf8proc_category_t k = utf8proc_category(cp);
	return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}


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

/* grow a buffer to hold need bytes */
static int reserve(char **b, size_t *cap, size_t need)
{
	if (*cap >= need)
		return 0;
	char *n = realloc(*b, need);
	if (!n)
		return -1;
	*b = n;
	*cap = need;
	return 0;
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

/*
 * ftfy.fix_text (ftfy 6.3), ported step for step; the regexes and byte
 * tables are ftfy's own, generated into ftfy_tables.inc.  The text is cut
 * into lines (at most 1,000,000 characters each); each line is fixed until
 * nothing changes: unescape_html (ftfy's entity set; off from the first
 * line holding a '<' on), fix_encoding (mojibake: re-encode in one of ten
 * single-byte encodings and decode as UTF-8, or fix the embedded parts),
 * C1 controls, ligatures, character width, quotes, line breaks, terminal
 * escapes, control characters, NFC.  Lines of plain printable ASCII with
 * no '&' are left as they are without any of this.
 */

#define FTFY_MAX_SEGMENT 1000000
#define FTFY_MAX_ROUNDS 64          /* ftfy loops until stable; so do we, boundedly */
#define FTFY_MAX_DEPTH 16

static int sb_reserve(struct sbuf *b, size_t extra)
{
	if (b->n + extra + 1 <= b->cap)
		return 0;
	size_t nc = b->cap ? b->cap : 64;
	while (nc < b->n + extra + 1)
		nc *= 2;
	char *p = realloc(b->p, nc);
	if (!p)
		return -1;
	b->p = p;
	b->cap = nc;
	return 0;
}

static int sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (sb_reserve(b, n))
		return -1;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return 0;
}

static int sb_putc(struct sbuf *b, uint32_t cp)
{
	if (sb_reserve(b, 4))
		return -1;
	b->n += put_cp(b->p + b->n, cp);
	b->p[b->n] = 0;
	return 0;
}

static void sb_release(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* swap the contents of two buffers (the result of a step becomes the input) */
static void sb_swap(struct sbuf *a, struct sbuf *b)
{
	struct sbuf t = *a;
	*a = *b;
	*b = t;
}

/* next code point of valid UTF-8 */
static uint32_t next_cp(const char *s, size_t n, size_t *i)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + *i,
					      (utf8proc_ssize_t)(n - *i), &cp);
	if (k <= 0) {               /* not reached on validated text */
		(*i)++;
		return 0xfffd;
	}
	*i += (size_t)k;
	return (uint32_t)cp;
}

static int re_find(struct ts_bpe_ctx *c, const pcre2_code *re, const char *s, size_t n,
		   size_t from, size_t *ms, size_t *me)
{
	int m = pcre2_match(re, (PCRE2_SPTR)s, n, from, 0, c->md, NULL);
	if (m < 0)
		return 0;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
	*ms = ov[0];
	*me = ov[1];
	return 1;
}

static int is_bad(struct ts_bpe_ctx *c, const char *s, size_t n)
{
	size_t a, b;
	return re_find(c, c->bpe->ftfy_bad, s, n, 0, &a, &b);
}

static int all_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] >= 0x80)
			return 0;
	return 1;
}

/* the byte of cp in encoding e, or -1 (possible_encoding's character set) */
static int enc_byte(const struct ts_bpe *b, int e, uint32_t cp)
{
	if (cp < 0x80 && cp != 0x1a)
		return (int)cp;
	size_t lo = 0, hi = 129;
	const struct enc_rev *r = b->enc_rev[e];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r[mid].cp == cp)
			return r[mid].byte;
		if (r[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* text.encode(encoding) when every character is in it; else -1 */
static int encode_enc(const struct ts_bpe *b, int e, const char *s, size_t n, struct sbuf *out)
{
	out->n = 0;
	if (sb_reserve(out, n))
		return -2;
	for (size_t i = 0; i < n;) {
		int by = enc_byte(b, e, next_cp(s, n, &i));
		if (by < 0)
			return -1;
		out->p[out->n++] = (char)by;
	}
	out->p[out->n] = 0;
	return 0;
}

/* Python's strict UTF-8 decoder (variants: ftfy's utf-8-variants, which
 * also takes C0 80 as U+0000 and CESU-8 surrogate pairs); -1 on error */
static int decode_utf8(const char *s, size_t n, int variants, struct sbuf *out)
{
	const uint8_t *u = (const uint8_t *)s;
	out->n = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k;
		if (u[i] < 0x80) {
			cp = u[i];
			k = 1;
		} else if (variants && u[i] == 0xc0 && i + 1 < n && u[i + 1] == 0x80) {
			cp = 0;
			k = 2;
		} else if (variants && u[i] == 0xed && i + 5 < n && u[i + 1] >= 0xa0 && u[i + 1] <= 0xaf &&
			   u[i + 2] >= 0x80 && u[i + 2] <= 0xbf && u[i + 3] == 0xed &&
			   u[i + 4] >= 0xb0 && u[i + 4] <= 0xbf && u[i + 5] >= 0x80 && u[i + 5] <= 0xbf) {
			cp = ((uint32_t)(u[i + 1] & 15) << 16) + ((uint32_t)(u[i + 2] & 63) << 10) +
			     ((uint32_t)(u[i + 4] & 15) << 6) + (u[i + 5] & 63) + 0x10000;
			k = 6;
		} else {
			uint32_t min;
			if (u[i] >= 0xc2 && u[i] <= 0xdf) {
				k = 2, cp = u[i] & 0x1f, min = 0x80;
			} else if (u[i] >= 0xe0 && u[i] <= 0xef) {
				k = 3, cp = u[i] & 0x0f, min = 0x800;
			} else if (u[i] >= 0xf0 && u[i] <= 0xf4) {
				k = 4, cp = u[i] & 0x07, min = 0x10000;
			} else {
				return -1;
			}
			if (i + k > n)
				return -1;
			for (size_t j = 1; j < k; j++) {
				if ((u[i + j] & 0xc0) != 0x80)
					return -1;
				cp = cp << 6 | (u[i + j] & 0x3f);
			}
			if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				return -1;
		}
		if (sb_putc(out, cp))
			return -2;
		i += k;
	}
	if (sb_reserve(out, 0))
		return -2;
	out->p[out->n] = 0;
	return 0;
}

/* fixes.restore_byte_a0: "\xc3 " before a word becomes "\xc3\xa0 ", then
 * the spaces inside ALTERED_UTF8_RE matches become 0xA0 */
static int restore_byte_a0(struct ts_bpe_ctx *c, struct sbuf *bytes, struct sbuf *tmp)
{
	const struct ts_bpe *b = c->bpe;
	size_t at = 0, ms, me;
	tmp->n = 0;
	while (re_find(c, b->ftfy_agrave, bytes->p, bytes->n, at, &ms, &me)) {
		if (sb_put(tmp, bytes->p + at, ms - at) || sb_put(tmp, "\xc3\xa0 ", 3))
			return -1;
		at = me;
	}
	if (sb_put(tmp, bytes->p + at, bytes->n - at))
		return -1;
	sb_swap(bytes, tmp);
	at = 0;
	tmp->n = 0;
	while (re_find(c, b->ftfy_altered, bytes->p, bytes->n, at, &ms, &me)) {
		if (sb_put(tmp, bytes->p + at, ms - at))
			return -1;
		for (size_t i = ms; i < me; i++)
			if (sb_put(tmp, bytes->p[i] == ' ' ? "\xa0" : bytes->p + i, 1))
				return -1;
		at = me;
	}
	if (sb_put(tmp, bytes->p + at, bytes->n - at))
		return -1;
	sb_swap(bytes, tmp);
	return 0;
}

/* fixes.replace_lossy_sequences: LOSSY_UTF8_RE matches become U+FFFD */
static int replace_lossy(struct ts_bpe_ctx *c, struct sbuf *bytes, struct sbuf *tmp)
{
	size_t at = 0, ms, me;
	tmp->n = 0;
	while (re_find(c, c->bpe->ftfy_lossy, bytes->p, bytes->n, at, &ms, &me)) {
		if (sb_put(tmp, bytes->p + at, ms - at) || sb_put(tmp, "\xef\xbf\xbd", 3))
			return -1;
		at = me;
	}
	if (sb_put(tmp, bytes->p + at, bytes->n - at))
		return -1;
	sb_swap(bytes, tmp);
	return 0;
}

static uint32_t sloppy1252(uint32_t cp)
{
	return cp >= 0x80 && cp <= 0x9f ? ftfy_enc_chars[1][cp - 0x80] : cp;
}

static int fix_encoding(struct ts_bpe_ctx *c, const char *s, size_t n, struct sbuf *out, int depth);

/* fixes.decode_inconsistent_utf8 */
static int decode_inconsistent(struct ts_bpe_ctx *c, const char *s, size_t n, struct sbuf *out,
			       int depth)
{
	size_t at = 0, ms, me;
	struct sbuf sub = { 0 };
	out->n = 0;
	while (at <= n && re_find(c, c->bpe->ftfy_detector, s, n, at, &ms, &me)) {
		if (sb_put(out, s + at, ms - at))
			goto nomem;
		if (me - ms < n && is_bad(c, s + ms, me - ms) && depth < FTFY_MAX_DEPTH) {
			if (fix_encoding(c, s + ms, me - ms, &sub, depth + 1) || sb_put(out, sub.p, sub.n))
				goto nomem;
		} else if (sb_put(out, s + ms, me - ms)) {
			goto nomem;
		}
		at = me > ms ? me : me + 1;
	}
	if (at < n && sb_put(out, s + at, n - at))
		goto nomem;
	if (sb_reserve(out, 0))
		goto nomem;
	out->p[out->n] = 0;
	sb_release(&sub);
	return 0;
nomem:
	sb_release(&sub);
	return -1;
}

/* ftfy._fix_encoding_one_step_and_explain: 1 when out holds a new text,
 * 0 when the text stays, -1 out of memory */
static int fix_encoding_step(struct ts_bpe_ctx *c, const char *s, size_t n, struct sbuf *out,
			     int depth)
{
	const struct ts_bpe *b = c->bpe;
	struct sbuf bytes = { 0 }, tmp = { 0 };
	int possible[FTFY_NENC] = { 0 }, rc = 0;

	if (n == 0 || all_ascii(s, n) || !is_bad(c, s, n))
		return 0;
	for (int e = 0; e < FTFY_NENC; e++) {
		int r = encode_enc(b, e, s, n, &bytes);
		if (r == -2)
			goto nomem;
		if (r)
			continue;
		possible[e] = 1;
		size_t ms, me;
		if (strcmp(ftfy_enc_names[e], "macroman") &&
		    re_find(c, b->ftfy_altered, bytes.p, bytes.n, 0, &ms, &me) &&
		    restore_byte_a0(c, &bytes, &tmp))
			goto nomem;
		if (!strncmp(ftfy_enc_names[e], "sloppy", 6) && replace_lossy(c, &bytes, &tmp))
			goto nomem;
		int variants = memchr(bytes.p, 0xed, bytes.n) || memchr(bytes.p, 0xc0, bytes.n);
		r = decode_utf8(bytes.p, bytes.n, variants, out);
		if (r == -2)
			goto nomem;
		if (r == 0) {
			rc = 1;
			goto out;
		}
	}
	size_t ms, me;
	if (re_find(c, b->ftfy_detector, s, n, 0, &ms, &me)) {
		if (decode_inconsistent(c, s, n, out, depth))
			goto nomem;
		if (out->n != n || memcmp(out->p, s, n)) {
			rc = 1;
			goto out;
		}
	}
	if (possible[0]) {
		if (possible[1])
			goto out;
		/* latin-1 bytes read as (strict) Windows-1252 */
		out->n = 0;
		int ok = 1;
		for (size_t i = 0; i < n && ok;) {
			uint32_t cp = next_cp(s, n, &i);
			if (cp >= 0x80 && cp <= 0xff)
				cp = ftfy_cp1252_strict[cp - 0x80];
			ok = cp != 0;
			if (ok && sb_putc(out, cp))
				goto nomem;
		}
		if (ok && (out->n != n || memcmp(out->p, s, n))) {
			rc = 1;
			goto out;
		}
	}
	int c1 = 0;
	for (size_t i = 0; i + 1 < n && !c1; i++)
		c1 = (uint8_t)s[i] == 0xc2 && (uint8_t)s[i + 1] >= 0x80 && (uint8_t)s[i + 1] <= 0x9f;
	if (c1) {
		out->n = 0;
		for (size_t i = 0; i < n;)
			if (sb_putc(out, sloppy1252(next_cp(s, n, &i))))
				goto nomem;
		rc = 1;
	}
out:
	sb_release(&bytes);
	sb_release(&tmp);
	return rc;
nomem:
	sb_release(&bytes);
	sb_release(&tmp);
	return -1;
}

/* ftfy.fix_encoding: steps until the text stays */
static int fix_encoding(struct ts_bpe_ctx *c, const char *s, size_t n, struct sbuf *out, int depth)
{
	struct sbuf cur = { 0 }, nxt = { 0 };
	if (sb_put(&cur, s, n))
		return -1;
	for (int round = 0; round < FTFY_MAX_ROUNDS; round++) {
		int r = fix_encoding_step(c, cur.p, cur.n, &nxt, depth);
		if (r < 0)
			goto nomem;
		if (r == 0 || (nxt.n == cur.n && !memcmp(nxt.p, cur.p, cur.n)))
			break;
		sb_swap(&cur, &nxt);
	}
	out->n = 0;
	if (sb_put(out, cur.p, cur.n))
		goto nomem;
	sb_release(&cur);
	sb_release(&nxt);
	return 0;
nomem:
	sb_release(&cur);
	sb_release(&nxt);
	return -1;
}

static const char *ftfy_entity(const char *name, size_t n)
{
	const char *v = entity(name, n);
	char key[40];
	if (v || n >= sizeof(key))
		return v;
	memcpy(key, name, n);
	key[n] = 0;
	const struct html5_entity *e = bsearch(key, ftfy_extra_entities,
					      sizeof(ftfy_extra_entities) / sizeof(ftfy_extra_entities[0]),
					      sizeof(ftfy_extra_entities[0]), cmp_entity);
	return e ? e->value : NULL;
}

/* fixes.unescape_html: "&#?[0-9A-Za-z]{1,24};" replaced when it names an
 * entity (HTML5 names with ';' and their upper-case forms), or is a
 * numeric reference that html.unescape turns into no ';' */
static int ftfy_unescape(const char *s, size_t n, struct sbuf *out)
{
	out->n = 0;
	for (size_t i = 0; i < n;) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t a = amp ? (size_t)(amp - s) : n;
		if (sb_put(out, s + i, a - i))
			return -1;
		if (!amp)
			break;
		size_t j = a + 1, k;
		if (j < n && s[j] == '#')
			j++;
		for (k = j; k < n && k - j < 25 && isalnum((unsigned char)s[k]); k++)
			;
		if (k == j || k - j > 24 || k >= n || s[k] != ';') {
			if (sb_put(out, "&", 1))
				return -1;
			i = a + 1;
			continue;
		}
		/* the match is s[a .. k] */
		const char *v = s[a + 1] == '#' ? NULL : ftfy_entity(s + a + 1, k - a);
		if (v) {
			if (sb_put(out, v, strlen(v)))
				return -1;
		} else if (s[a + 1] == '#') {
			char u[64];
			size_t ul = html_unescape(s + a, k + 1 - a, u);
			if (memchr(u, ';', ul) ? sb_put(out, s + a, k + 1 - a) : sb_put(out, u, ul))
				return -1;
		} else if (sb_put(out, s + a, k + 1 - a)) {
			return -1;
		}
		i = k + 1;
	}
	if (sb_reserve(out, 0))
		return -1;
	out->p[out->n] = 0;
	return 0;
}

static int is_control(uint32_t cp)
{
	return cp <= 8 || cp == 11 || (cp >= 14 && cp <= 31) || cp == 127 ||
	       (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffc);
}

static uint32_t uncurl(uint32_t cp)
{
	if (cp == 0x2bc || (cp >= 0x2018 && cp <= 0x201b))
		return '\'';
	if (cp >= 0x201c && cp <= 0x201f)
		return '"';
	return cp;
}

/* one character through fix_character_width and uncurl_quotes */
static int width_quotes(struct sbuf *out, uint32_t cp)
{
	if (cp == 0x3000)
		return sb_putc(out, ' ');
	if (cp >= 0xff01 && cp <= 0xffef) {
		utf8proc_uint8_t one[8], *nf = NULL;
		utf8proc_ssize_t l1 = utf8proc_encode_char((utf8proc_int32_t)cp, one);
		utf8proc_ssize_t m = utf8proc_map(one, l1, &nf, UTF8PROC_STABLE | UTF8PROC_COMPOSE |
						  UTF8PROC_COMPAT);
		int rc = 0;
		if (m > 0) {
			for (size_t i = 0; i < (size_t)m && !rc;)
				rc = sb_putc(out, uncurl(next_cp((const char *)nf, (size_t)m, &i)));
			free(nf);
			return rc;
		}
		free(nf);
	}
	return sb_putc(out, uncurl(cp));
}

/* The fixers after fix_encoding, in ftfy's order: C1 controls, ligatures,
 * width, quotes, line breaks, terminal escapes, control characters, NFC. */
static int fix_chars(struct ts_bpe_ctx *c, const char *s, size_t n, struct sbuf *out,
		     struct sbuf *tmp)
{
	int esc = memchr(s, 0x1b, n) != NULL;
	out->n = 0;
	if (sb_reserve(out, n))
		return -1;
	for (size_t i = 0; i < n;) {
		uint32_t cp = sloppy1252(next_cp(s, n, &i));
		if (!esc && is_control(cp))
			continue;
		if (cp == '\r') {
			if (i < n && s[i] == '\n')
				i++;
			cp = '\n';
		} else if (cp == 0x2028 || cp == 0x2029 || cp == 0x85) {
			cp = '\n';
		}
		const struct ftfy_ligature *lig = NULL;
		if ((cp >= 0x132 && cp <= 0x1f3) || (cp >= 0xfb00 && cp <= 0xfb06))
			for (size_t k = 0; k < sizeof(ftfy_ligatures) / sizeof(ftfy_ligatures[0]); k++)
			if (ftfy_ligatures[k].cp == cp)
				lig = &ftfy_ligatures[k];
		if (lig) {
			const char *t = lig->to;
			size_t tl = strlen(t);
			for (size_t k = 0; k < tl;)
				if (width_quotes(out, next_cp(t, tl, &k)))
					return -1;
		} else if (width_quotes(out, cp)) {
			return -1;
		}
	}
	if (esc) {
		/* remove_terminal_escapes, then remove_control_chars */
		size_t at = 0, ms, me;
		tmp->n = 0;
		while (re_find(c, c->bpe->ftfy_ansi, out->p, out->n, at, &ms, &me)) {
			if (sb_put(tmp, out->p + at, ms - at))
				return -1;
			at = me;
		}
		if (sb_put(tmp, out->p + at, out->n - at))
			return -1;
		out->n = 0;
		for (size_t i = 0; i < tmp->n;) {
			uint32_t cp = next_cp(tmp->p, tmp->n, &i);
			if (!is_control(cp) && sb_putc(out, cp))
				return -1;
		}
	}
	if (sb_reserve(out, 0))
		return -1;
	out->p[out->n] = 0;
	if (!all_ascii(out->p, out->n)) {
		utf8proc_uint8_t *nf = NULL;
		utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)out->p, (utf8proc_ssize_t)out->n,
						  &nf, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
		if (m < 0) {
			free(nf);
			return -1;
		}
		out->n = 0;
		int rc = sb_put(out, nf, (size_t)m);
		free(nf);
		return rc;
	}
	return 0;
}

/* printable ASCII, tab, line feed and form feed, and no '&' when
 * unescaping: every fixer leaves such text as it is */
static int ftfy_plain(const char *s, size_t n, int unescape)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = (uint8_t)s[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\f') || ch >= 0x7f ||
		    (ch == '&' && unescape))
			return 0;
	}
	return 1;
}

/* ftfy.fix_and_explain on one segment, appended to out */
static int fix_segment(struct ts_bpe_ctx *c, const char *s, size_t n, int unescape, struct sbuf *out)
{
	struct sbuf cur = { 0 }, a = { 0 }, b = { 0 }, t = { 0 };
	int rc = -1;
	if (ftfy_plain(s, n, unescape))
		return sb_put(out, s, n);
	if (sb_put(&cur, s, n))
		goto done;
	for (int round = 0; round < FTFY_MAX_ROUNDS; round++) {
		const char *p = cur.p;
		size_t pn = cur.n;
		if (unescape) {
			if (ftfy_unescape(p, pn, &a))
				goto done;
			p = a.p;
			pn = a.n;
		}
		if (fix_encoding(c, p, pn, &b, 0))
			goto done;
		if (fix_chars(c, b.p, b.n, &a, &t))
			goto done;
		if (a.n == cur.n && !memcmp(a.p, cur.p, cur.n))
			break;
		sb_swap(&cur, &a);
	}
	rc = sb_put(out, cur.p, cur.n);
done:
	sb_release(&cur);
	sb_release(&a);
	sb_release(&b);
	sb_release(&t);
	return rc;
}

/* ftfy.fix_text: lines (or 1,000,000-character pieces) fixed one by one;
 * text must be valid UTF-8 */
static int ftfy_fix_text(struct ts_bpe_ctx *c, const char *text, size_t len, struct sbuf *out)
{
	int unescape = 1;
	out->n = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len, chars = 0, k = pos;
		while (k < end && chars < FTFY_MAX_SEGMENT) {
			next_cp(text, len, &k);
			chars++;
		}
		end = k;
		if (unescape && memchr(text + pos, '<', end - pos))
			unescape = 0;
		if (fix_segment(c, text + pos, end - pos, unescape, out))
			return -1;
		pos = end;
	}
	if (sb_reserve(out, 0))
		return -1;
	out->p[out->n] = 0;
	return 0;
}

/* Python's _PyUnicode_IsCased / _PyUnicode_IsCaseIgnorable, from utf8proc's
 * categories and case mappings (for str.lower()'s final sigma) */
static int py_cased(uint32_t cp)
{
	utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
	return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
	       utf8proc_tolower((utf8proc_int32_t)cp) != (utf8proc_int32_t)cp ||
	       utf8proc_toupper((utf8proc_int32_t)cp) != (utf8proc_int32_t)cp;
}

static int py_case_ignorable(uint32_t cp)
{
	static const uint32_t mid[] = {	/* Word_Break MidLetter, MidNumLet, Single_Quote */
		0x27, 0x2e, 0x3a, 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a,
	};
	utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
	if (k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
	    k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK)
		return 1;
	for (size_t i = 0; i < sizeof(mid) / sizeof(mid[0]); i++)
		if (mid[i] == cp)
			return 1;
	return 0;
}

/* str.lower() of U+03A3 at s[at..]: final sigma when a cased letter comes
 * before it and none after (case-ignorable characters skipped) */
static uint32_t lower_sigma(const char *s, size_t n, size_t at, size_t next)
{
	size_t i = at;
	uint32_t cp = 0;
	int before = 0;
	while (i > 0) {
		do
			i--;
		while (i > 0 && ((uint8_t)s[i] & 0xc0) == 0x80);
		size_t k = i;
		cp = next_cp(s, n, &k);
		if (!py_case_ignorable(cp)) {
			before = py_cased(cp);
			break;
		}
	}
	if (!before)
		return 0x3c3;
	for (size_t k = next; k < n;) {
		cp = next_cp(s, n, &k);
		if (!py_case_ignorable(cp))
			return py_cased(cp) ? 0x3c3 : 0x3c2;
	}
	return 0x3c2;
}

int ts_bpe_clean(struct ts_bpe_ctx *c, const char *text, size_t len,
		 const char **out, size_t *out_len, struct ts_err *err)
{
	size_t n, i = 0, o = 0;
	int pending_space = 0;

	for (size_t k = 0; k < len;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)text + k,
						      (utf8proc_ssize_t)(len - k), &cp);
		if (m <= 0)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_CAPTION_INVALID_UTF8,
					  "caption is not valid UTF-8 (byte %zu)", k);
		k += (size_t)m;
	}
	/* ftfy, then html.unescape twice, then whitespace and lower case */
	if (ftfy_fix_text(c, text, len, &c->fixed))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	n = c->fixed.n;
	if (reserve(&c->tmp2, &c->tmp2_cap, n * 2 + 16))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	n = html_unescape(c->fixed.p, n, c->tmp2);
	if (reserve(&c->tmp, &c->tmp_cap, n * 2 + 16))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	n = html_unescape(c->tmp2, n, c->tmp);
	if (reserve(&c->clean, &c->clean_cap, n * 2 + 16))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	const char *p = c->tmp;
	while (i < n) {
		size_t at = i;
		uint32_t cp = next_cp(p, n, &i);
		if (py_space((utf8proc_int32_t)cp)) {
			pending_space = o > 0;
			continue;
		}
		if (pending_space) {
			c->clean[o++] = ' ';
			pending_space = 0;
		}
		if (cp == 0x130) {             /* İ lowers to i + combining dot, as Python */
			c->clean[o++] = 'i';
			cp = 0x307;
		} else if (cp == 0x3a3) {
			cp = lower_sigma(p, n, at, i);
		} else if (cp >= 'A' && cp <= 'Z') {
			cp += 'a' - 'A';
		} else if (cp >= 0x80) {
			cp = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
		}
		o += put_cp(c->clean + o, cp);
	}
	c->clean[o] = 0;
	*out = c->clean;
	*out_len = o;
	return TS_OK;
}

static int push(struct ts_bpe_ctx *c, int32_t id)
{
	if (c->nids == c->cap_ids) {
		size_t nc = c->cap_ids ? c->cap_ids * 2 : 256;
		int32_t *n = realloc(c->ids, nc * sizeof(*n));
		if (!n)
			return -1;
		c->ids = n;
		c->cap_ids = nc;
	}
	c->ids[c->nids++] = id;
	return 0;
}

/* BPE of one pre-token (raw bytes w[0..n)), appended to c->ids. */
static int bpe_word(struct ts_bpe_ctx *c, const char *w, size_t n)
{
	const struct ts_bpe *b = c->bpe;
	size_t h = fnv(w, n) & (c->cache_cap - 1), ns = n;
	struct centry *e;

	for (size_t i = h;; i = (i + 1) & (c->cache_cap - 1)) {
		e = &c->cache[i];
		if (!e->word)
			break;
		if (strlen(e->word) == n && !memcmp(e->word, w, n)) {
			for (size_t k = 0; k < e->n; k++)
				if (push(c, e->ids[k]))
					return -1;
			return 0;
		}
	}
	if (c->cap_sym < n) {
		int32_t *s = realloc(c->sym, n * sizeof(*s));
		if (!s)
			return -1;
		c->sym = s;
		c->cap_sym = n;
	}
	int32_t *s = c->sym;
	for (size_t i = 0; i < n; i++)
		s[i] = b->byte_id[(uint8_t)w[i]];
	s[n - 1] += 256;                 /* the last symbol carries </w> */
	while (ns > 1) {
		uint64_t best = UINT64_MAX;
		for (size_t i = 0; i + 1 < ns; i++) {
			uint64_t v = pmap_get(&b->ranks, s[i], s[i + 1]);
			if (v < best)
				best = v;
		}
		if (best == UINT64_MAX)
			break;
		uint32_t rank = (uint32_t)(best >> 32);
		int32_t merged = (int32_t)(best & 0xffffffff);
		/* merge every occurrence of the best pair, left to right */
		size_t o = 0;
		for (size_t i = 0; i < ns;) {
			if (i + 1 < ns) {
				uint64_t v = pmap_get(&b->ranks, s[i], s[i + 1]);
				if (v != UINT64_MAX && (uint32_t)(v >> 32) == rank) {
					s[o++] = merged;
					i += 2;
					continue;
				}
			}
			s[o++] = s[i++];
		}
		ns = o;
	}
	for (size_t k = 0; k < ns; k++)
		if (push(c, s[k]))
			return -1;
	/* cache it */
	if (c->cache_n * 2 >= c->cache_cap) {
		if (c->cache_n >= CACHE_MAX) {
			cache_clear(c);
		} else {
			size_t oc = c->cache_cap, nc = oc * 2;
			struct centry *old = c->cache, *nw = calloc(nc, sizeof(*nw));
			if (!nw)
				return 0;
			for (size_t i = 0; i < oc; i++) {
				if (!old[i].word)
					continue;
				size_t j = fnv(old[i].word, strlen(old[i].word)) & (nc - 1);
				while (nw[j].word)
					j = (j + 1) & (nc - 1);
				nw[j] = old[i];
			}
			free(old);
			c->cache = nw;
			c->cache_cap = nc;
		}
		h = fnv(w, n) & (c->cache_cap - 1);
	}
	while (c->cache[h].word)
		h = (h + 1) & (c->cache_cap - 1);
	e = &c->cache[h];
	e->word = malloc(n + 1);
	e->ids = malloc(ns * sizeof(int32_t));
	if (!e->word || !e->ids) {
		free(e->word);
		free(e->ids);
		e->word = NULL;
		e->ids = NULL;
		return 0;
	}
	memcpy(e->word, w, n);
	e->word[n] = 0;
	memcpy(e->ids, s, ns * sizeof(int32_t));
	e->n = ns;
	c->cache_n++;
	return 0;
}

int ts_bpe_encode(struct ts_bpe_ctx *c, const char *text, size_t len,
		  const int32_t **ids, size_t *n, struct ts_err *err)
{
	const char *t;
	size_t tl, at = 0;
	int rc = ts_bpe_clean(c, text, len, &t, &tl, err);
	if (rc)
		return rc;
	c->nids = 0;
	while (at <= tl) {
		int m = pcre2_match(c->bpe->re, (PCRE2_SPTR)t, tl, at, 0, c->md, NULL);
		if (m == PCRE2_ERROR_NOMATCH)
			break;
		if (m < 0)
			return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "regex match failed (%d)", m);
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
		size_t s = ov[0], e = ov[1];
		if (e == s) {              /* cannot happen with this pattern; be safe */
			at = e + 1;
			continue;
		}
		if (e - s == 15 && !memcmp(t + s, "<|startoftext|>", 15)) {
			if (push(c, TS_BPE_SOT))
				goto nomem;
		} else if (e - s == 13 && !memcmp(t + s, "<|endoftext|>", 13)) {
			if (push(c, TS_BPE_EOT))
				goto nomem;
		} else if (bpe_word(c, t + s, e - s)) {
			goto nomem;
		}
		at = e;
	}
	*ids = c->ids;
	*n = c->nids;
	return TS_OK;
nomem:
	return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
}

size_t ts_bpe_context(const int32_t *ids, size_t n, size_t context, int32_t *out)
{
	size_t k = 0;
	if (context == 0)
		return 0;
	out[k++] = TS_BPE_SOT;
	for (size_t i = 0; i < n && k < context; i++)
		out[k++] = ids[i];
	if (k < context)
		out[k++] = TS_BPE_EOT;
	else
		out[context - 1] = TS_BPE_EOT;
	for (size_t i = k; i < context; i++)
		out[i] = 0;
	return k;
}
