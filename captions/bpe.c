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
 * The text is cleaned first (captions/clean.c); Unicode properties come
 * from pcre2 (the regex, with UTF and UCP); nothing here is a hand-written
 * table.
 */
#include "bpe.h"
#include "clean.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <zlib.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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

struct ts_bpe {
	char *vocab[TS_BPE_VOCAB];      /* utf-8 strings */
	struct smap enc;
	struct pmap ranks;
	int32_t byte_id[256];           /* id of the single-byte symbol */
	pcre2_code *re;
};

struct centry {
	char *word;
	int32_t *ids;
	size_t n, len;
};

struct ts_bpe_ctx {
	const struct ts_bpe *bpe;
	pcre2_match_data *md;
	struct ts_clean cl;
	int32_t *ids;
	size_t nids, cap_ids;
	uint32_t *offs;            /* per id: byte offset of its piece in the cleaned text */
	size_t cap_offs;
	const char *last_clean;    /* the cleaned text of the last encode */
	int last_ascii;            /* the last ts_bpe_clean gave ASCII by the fast path */
	size_t last_clean_len;
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
	free(b);
}

int ts_bpe_load(struct ts_bpe **out, const char *path, struct ts_err *err)
{
	struct ts_bpe *b = calloc(1, sizeof(*b));
	const char *used = path;
	char line[1024], tmp[8];
	int32_t bs[256], nb = 0, rc = TS_OK, k = 0;
	gzFile f = NULL;
	int ecode;
	PCRE2_SIZE eoff;

	if (!b)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!path) {
		rc = ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "no CLIP vocabulary path given");
		goto fail;
	}
	errno = 0;
	if (!(f = gzopen(path, "rb"))) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open the CLIP vocabulary '%s': %s",
				path, strerror(errno ? errno : ENOENT));
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
	b->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			      PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &ecode, &eoff, NULL);
	if (!b->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot compile the CLIP regex: %s", msg);
		goto fail;
	}
	pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE);
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
	c->md = pcre2_match_data_create_from_pattern(bpe->re, NULL);
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
	ts_clean_release(&c->cl);
	free(c->offs);
	free(c->ids);
	free(c->sym);
	free(c);
}

int ts_bpe_clean(struct ts_bpe_ctx *c, const char *text, size_t len,
		 const char **out, size_t *out_len, struct ts_err *err)
{
	return ts_clean_text(&c->cl, text, len, out, out_len, &c->last_ascii, err);
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
		uint32_t *o = realloc(c->offs, nc * sizeof(*o));
		if (!o)
			return -1;
		c->offs = o;
		c->cap_offs = nc;
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
		if (e->len == n && !memcmp(e->word, w, n)) {
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
				size_t j = fnv(old[i].word, old[i].len) & (nc - 1);
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
	e->len = n;
	c->cache_n++;
	return 0;
}

/* The ids of the piece t[s..e) (a special token or a BPE word), each
 * recording where its piece starts. */
static int emit_piece(struct ts_bpe_ctx *c, const char *t, size_t s, size_t e)
{
	size_t first = c->nids;
	if (e - s == 15 && !memcmp(t + s, "<|startoftext|>", 15)) {
		if (push(c, TS_BPE_SOT))
			return -1;
	} else if (e - s == 13 && !memcmp(t + s, "<|endoftext|>", 13)) {
		if (push(c, TS_BPE_EOT))
			return -1;
	} else if (bpe_word(c, t + s, e - s)) {
		return -1;
	}
	for (size_t k = first; k < c->nids; k++)
		c->offs[k] = (uint32_t)s;
	return 0;
}

/* CLIP's pre-tokenizer regex on ASCII text, alternative for alternative in
 * the pattern's order at each position (leftmost-first, as pcre2 does):
 * the two specials, the contractions, a run of letters, one digit, a run
 * of anything else but white space.  Returns the end of the piece that
 * starts at *at (white space before it skipped), or 0 at the end. */
static size_t ascii_piece(const char *t, size_t n, size_t *at)
{
	size_t i = *at;
	while (i < n && (t[i] == ' ' || (t[i] >= '\t' && t[i] <= '\r')))
		i++;
	*at = i;
	if (i >= n)
		return 0;
	if (n - i >= 15 && !memcmp(t + i, "<|startoftext|>", 15))
		return i + 15;
	if (n - i >= 13 && !memcmp(t + i, "<|endoftext|>", 13))
		return i + 13;
	char ch = t[i];
	if (ch == '\'' && i + 1 < n) {
		char a = (char)(t[i + 1] | 0x20), b = i + 2 < n ? (char)(t[i + 2] | 0x20) : 0;
		if (a == 's' || a == 't' || a == 'm' || a == 'd')
			return i + 2;
		if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
			return i + 3;
	}
#define ALPHA(x) (((x) | 0x20) >= 'a' && ((x) | 0x20) <= 'z')
#define DIGIT(x) ((x) >= '0' && (x) <= '9')
#define SPACE(x) ((x) == ' ' || ((x) >= '\t' && (x) <= '\r'))
	if (ALPHA(ch)) {
		while (i < n && ALPHA(t[i]))
			i++;
		return i;
	}
	if (DIGIT(ch))
		return i + 1;
	while (i < n && !ALPHA(t[i]) && !DIGIT(t[i]) && !SPACE(t[i]))
		i++;
	return i;
#undef ALPHA
#undef DIGIT
#undef SPACE
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
	int ascii = c->last_ascii;      /* known from the cleaning, else checked */
	for (size_t k = 0; k < tl && !ascii; k++)
		if ((uint8_t)t[k] >= 0x80)
			break;
		else if (k + 1 == tl)
			ascii = 1;
	if (ascii && tl <= UINT32_MAX) {
		size_t e;
		while ((e = ascii_piece(t, tl, &at)) != 0) {
			if (emit_piece(c, t, at, e))
				goto nomem;
			at = e;
		}
		at = tl + 1;          /* skip the pcre2 loop */
	}
	while (at <= tl) {
		int m = pcre2_match(c->bpe->re, (PCRE2_SPTR)t, tl, at, PCRE2_NO_UTF_CHECK, c->md, NULL);
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
		if (s > UINT32_MAX)
			return ts_err_set(err, TS_ERR_LIMIT, TS_R_CAPTION_TOO_LONG,
					  "caption of %zu bytes is too long to tokenize", tl);
		if (emit_piece(c, t, s, e))
			goto nomem;
		at = e;
	}
	c->last_clean = t;
	c->last_clean_len = tl;
	*ids = c->ids;
	*n = c->nids;
	return TS_OK;
nomem:
	return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
}

void ts_bpe_last_pieces(const struct ts_bpe_ctx *c, const char **clean, size_t *clean_len,
			const uint32_t **piece_start)
{
	*clean = c->last_clean;
	*clean_len = c->last_clean_len;
	*piece_start = c->offs;
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
