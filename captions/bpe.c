/*
 * bpe.c - CLIP's byte-level BPE (see bpe.h).
 *
 * Vocabulary, as the reference builds it: the 256 byte-to-unicode
 * characters (printable Latin-1 bytes map to themselves, the other bytes to
 * U+0100 and up, in byte order), the same 256 with "</w>", then one entry
 * per merge line (lines 1..48894 after the header), then <|startoftext|>
 * and <|endoftext|>.  Every merge result is itself a vocabulary entry, so
 * BPE runs on ids: a table maps a pair of ids to its rank (merge k makes
 * id 512 + k).  A word's result is cached per context (bounded; cleared
 * when full): words of up to 16 bytes by their bytes, as two 64-bit words.
 * The text is cleaned first (captions/clean.c).  Text that is ASCII after
 * cleaning is split by an exact equivalent of the regex (its classes
 * restricted to ASCII); anything else goes through pcre2 (UTF, UCP), so no
 * Unicode property is a hand-written table here.  Always true: the fast
 * path and the general one give the same ids (ts_bpe_ctx_general; the
 * tests and the fuzz target compare them).
 */
#include "captions/bpe.h"
#include "base/buf.h"
#include "captions/clean.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <utf8proc.h>
#include <zlib.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define NMERGES 48894
#define CACHE_MAX 100000
#define TEXT_MAX (16 << 20)      /* most bytes of the merges file's used lines */
#define WCACHE_MAX (1 << 17)     /* slots of the short-word cache (32 bytes each) */

static const char pattern[] =
	"<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|"
	"[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/* open-addressing maps of 8-byte slots (few pages to touch, one cache
 * line per probe): string -> id (used while loading; the key is the id's
 * vocabulary string), (a, b) -> rank (merge `rank` gives id 512 + rank) */
struct sslot {
	uint32_t hash;
	int32_t id1;        /* id + 1; 0 = empty */
};

struct smap {
	struct sslot *s;
	size_t cap;
};

struct pslot {
	uint32_t key;       /* a << 16 | b; PKEY_EMPTY = empty (ids are < 65536) */
	uint32_t rank;
};
#define PKEY_EMPTY UINT32_MAX

struct pmap {
	struct pslot *s;
	size_t cap;
};

struct ts_bpe {
	char **vocab;                   /* TS_BPE_VOCAB utf-8 strings: the first 512
					 * and SOT/EOT in bases, the merges' in text */
	char *bases;
	char *text;                     /* the merges file's lines, rewritten in place */
	struct smap enc;
	struct pmap ranks;
	int32_t byte_id[256];           /* id of the single-byte symbol */
	pcre2_code *re;
	void *map;                      /* the mapping of the tables and strings */
	size_t map_len;
};

/*
 * A loaded vocabulary's tables and strings are one anonymous mapping: the
 * id-to-string array, the rank table, the string map of the load, the 514
 * strings that are not merges, and the merges' text (up to TEXT_MAX,
 * reserved, not touched).  The kernel gives it zeroed pages, so nothing is
 * cleared twice, the text grows in place without a copy, and with
 * transparent huge pages (where the system allows them for regions that
 * ask) the ~2 MB a load touches take a few faults instead of ~500.  Each
 * process loads it once and every thread reads it, so the TLB reach helps
 * the encoder's rank lookups too.  Nothing in it points to the heap (leak
 * checkers do not look inside anonymous mappings); the struct, which holds
 * the compiled regex, is malloc'd.
 */
#define ALIGN_UP(n, a) (((n) + (a) - 1) & ~(size_t)((a) - 1))
#define MAP_ALIGN ((size_t)2 << 20)
#define RANK_SLOTS ((size_t)1 << 16)    /* 48,894 pairs */
#define ENC_SLOTS ((size_t)1 << 16)     /* 49,408 strings at most */
#define BASE_LEN 32                     /* a slot of bases: "<|startoftext|>" and less */

static struct ts_bpe *bpe_map(void)
{
	size_t o_ranks = ALIGN_UP(TS_BPE_VOCAB * sizeof(char *), 4096);
	size_t o_enc = o_ranks + RANK_SLOTS * sizeof(struct pslot);
	size_t o_bases = o_enc + ENC_SLOTS * sizeof(struct sslot);
	size_t o_text = o_bases + 514 * BASE_LEN;
	size_t len = ALIGN_UP(o_text + TEXT_MAX + 1, 4096);
	struct ts_bpe *b = calloc(1, sizeof(*b));
	uint8_t *raw = b ? mmap(NULL, len + MAP_ALIGN, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) : MAP_FAILED;
	if (raw == MAP_FAILED) {
		free(b);
		return NULL;
	}
	/* keep the 2 MiB-aligned part: huge pages need aligned extents */
	uint8_t *m = (uint8_t *)ALIGN_UP((uintptr_t)raw, MAP_ALIGN);
	if (m > raw)
		munmap(raw, (size_t)(m - raw));
	if (m + len < raw + len + MAP_ALIGN)
		munmap(m + len, (size_t)(raw + len + MAP_ALIGN - (m + len)));
#ifdef MADV_HUGEPAGE
	madvise(m, len, MADV_HUGEPAGE);   /* a hint: ignored where not allowed */
#endif
	b->map = m;
	b->map_len = len;
	b->vocab = (char **)m;
	b->bases = (char *)(m + o_bases);
	b->ranks.s = (struct pslot *)(m + o_ranks);
	b->ranks.cap = RANK_SLOTS;
	b->enc.s = (struct sslot *)(m + o_enc);
	b->enc.cap = ENC_SLOTS;
	b->text = (char *)(m + o_text);
	return b;
}

struct centry {
	char *word;
	int32_t *ids;
	size_t n, len;
};

/* a short word's cache entry: the word's bytes (len <= 16, zero-padded)
 * and its ids; len 0 is an empty slot */
#define WENTRY_IDS 7
struct wentry {
	uint64_t k0, k1;
	uint8_t len, n;
	uint16_t ids[WENTRY_IDS];
};
_Static_assert(TS_BPE_VOCAB <= 65536, "ids fit the cache's 16 bits");

struct ts_bpe_ctx {
	const struct ts_bpe *bpe;
	pcre2_match_data *md;
	struct ts_clean cl;
	int32_t *ids;
	size_t nids, cap_ids;
	uint32_t *offs;            /* per id: byte offset of its piece in the cleaned text */
	const char *last_clean;    /* the cleaned text of the last encode */
	int last_ascii;            /* the last ts_bpe_clean gave ASCII by the fast path */
	size_t last_clean_len;
	int32_t *sym;
	size_t cap_sym;
	struct centry *cache;      /* words of more than 16 bytes */
	size_t cache_cap, cache_n;
	struct wentry *wcache;     /* words of up to 16 bytes */
	size_t wcache_cap, wcache_n;
	int general_only;          /* tests: pcre2 for every caption */
};

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	return h;
}

/* The slot of the key k[0..n): its own, or the empty one it would take
 * (*h: the key's hash). */
static struct sslot *smap_find(const struct smap *m, char *const *vocab, const char *k, size_t n,
			       uint32_t *h)
{
	uint64_t f = fnv(k, n);
	*h = (uint32_t)f;
	for (size_t i = (size_t)(f >> 32) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct sslot *e = &m->s[i];
		if (!e->id1)
			return e;
		if (e->hash == *h) {
			const char *key = vocab[e->id1 - 1];
			if (!memcmp(key, k, n) && !key[n])
				return e;
		}
	}
}

static int32_t smap_get(const struct smap *m, char *const *vocab, const char *k, size_t n)
{
	uint32_t h;
	const struct sslot *e = smap_find(m, vocab, k, n, &h);
	return e->id1 - 1;
}

/* Map vocab[id] (n bytes) to id unless its string is there already. */
static void smap_add(struct smap *m, char *const *vocab, int32_t id, size_t n)
{
	uint32_t h;
	struct sslot *e = smap_find(m, vocab, vocab[id], n, &h);
	if (!e->id1) {              /* the first id of a string names it */
		e->hash = h;
		e->id1 = id + 1;
	}
}

static inline size_t pslot_of(uint32_t key, size_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 40) & (cap - 1);
}

/* rank << 32 | merged id of the pair (a, b), or UINT64_MAX */
static uint64_t pmap_get(const struct pmap *m, int32_t a, int32_t b)
{
	uint32_t key = (uint32_t)a << 16 | (uint32_t)b;
	for (size_t i = pslot_of(key, m->cap); m->s[i].key != PKEY_EMPTY; i = (i + 1) & (m->cap - 1))
		if (m->s[i].key == key)
			return (uint64_t)m->s[i].rank << 32 | (512 + m->s[i].rank);
	return UINT64_MAX;
}

static void pmap_put(struct pmap *m, int32_t a, int32_t b, uint32_t rank)
{
	uint32_t key = (uint32_t)a << 16 | (uint32_t)b;
	size_t i = pslot_of(key, m->cap);
	while (m->s[i].key != PKEY_EMPTY && m->s[i].key != key)
		i = (i + 1) & (m->cap - 1);
	if (m->s[i].key == PKEY_EMPTY) {   /* the first (lowest) rank wins */
		m->s[i].key = key;
		m->s[i].rank = rank;
	}
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
	pcre2_code_free(b->re);
	munmap(b->map, b->map_len);   /* the tables and every string */
	free(b);
}

int ts_bpe_load(struct ts_bpe **out, const char *path, struct ts_err *err)
{
	struct ts_bpe *b = bpe_map();
	const char *used = path;
	char tmp[8];
	int32_t bs[256], nb = 0, rc = TS_OK, k = 0;
	gzFile f = NULL;
	int ecode;
	PCRE2_SIZE eoff;

	if (!b)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory loading the vocabulary");
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
	memset(b->ranks.s, 0xff, b->ranks.cap * sizeof(*b->ranks.s));   /* PKEY_EMPTY */
	for (int i = 0; i < 256; i++) {
		char w[16];
		b->vocab[i] = b->bases + (size_t)i * BASE_LEN;
		b->vocab[256 + i] = b->bases + (size_t)(256 + i) * BASE_LEN;
		snprintf(b->vocab[i], BASE_LEN, "%s", utf8_of(cs[i], tmp));
		snprintf(w, sizeof(w), "%s</w>", tmp);
		snprintf(b->vocab[256 + i], BASE_LEN, "%s", w);
		b->byte_id[bs[i]] = i;
	}
	for (int i = 0; i < 512; i++)
		smap_add(&b->enc, b->vocab, i, strlen(b->vocab[i]));
	/* the header and the merge lines, read in one buffer (the file has
	 * more lines after them, which the reference does not use either) */
	size_t tn = 0, lines = 0;
	while (lines < NMERGES + 1) {
		/* 64 KiB at a time: what follows the merges is not decompressed */
		if (tn + 65536 > TEXT_MAX) {
			rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					"'%s' is malformed: its first %d lines exceed %d MiB", used,
					NMERGES + 1, TEXT_MAX >> 20);
			goto fail;
		}
		int got = gzread(f, b->text + tn, 65536);
		if (got < 0) {
			int zerr;
			const char *zmsg = gzerror(f, &zerr);
			rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "cannot read the CLIP vocabulary '%s': %s",
					used, zerr == Z_ERRNO ? strerror(errno) : zmsg);
			goto fail;
		}
		if (got == 0)
			break;
		for (const char *q = b->text + tn, *e = q + got; (q = memchr(q, '\n', (size_t)(e - q))); q++)
			lines++;
		tn += (size_t)got;
	}
	char *p = b->text, *end = b->text + tn;
	char *nl = memchr(p, '\n', tn);
	if (strncmp(p, "\"bpe_simple_vocab", 17) || !nl) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is not a CLIP BPE merges file (bad first line)", used);
		goto fail;
	}
	p = nl + 1;
	for (k = 0; k < NMERGES && p < end; k++) {
		char *sp = NULL;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (!sp || memchr(sp + 1, ' ', (size_t)(nl - sp - 1)))
			break;
		size_t la = (size_t)(sp - p), lc = (size_t)(nl - sp - 1);
		int32_t a = smap_get(&b->enc, b->vocab, p, la);
		int32_t c = smap_get(&b->enc, b->vocab, sp + 1, lc);
		if (a < 0 || c < 0)
			break;
		/* "a b\n" becomes "ab\0" where it is */
		memmove(sp, sp + 1, lc);
		p[la + lc] = 0;
		b->vocab[512 + k] = p;
		smap_add(&b->enc, b->vocab, 512 + k, la + lc);
		pmap_put(&b->ranks, a, c, (uint32_t)k);
		p = nl + 1;
	}
	if (k != NMERGES) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is malformed: merge line %d is missing or not \"A B\" with known parts",
				used, k + 1);
		goto fail;
	}
	b->vocab[TS_BPE_SOT] = b->bases + (size_t)512 * BASE_LEN;
	b->vocab[TS_BPE_EOT] = b->bases + (size_t)513 * BASE_LEN;
	snprintf(b->vocab[TS_BPE_SOT], BASE_LEN, "%s", "<|startoftext|>");
	snprintf(b->vocab[TS_BPE_EOT], BASE_LEN, "%s", "<|endoftext|>");
	b->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			      PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &ecode, &eoff, NULL);
	if (!b->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot compile the CLIP regex: %s", msg);
		goto fail;
	}
	pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE);
	b->enc.s = NULL;             /* strings to ids: only needed while loading */
	gzclose(f);
	*out = b;
	return TS_OK;
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
	c->cache_cap = 1 << 10;      /* words over 16 bytes: few */
	c->cache = calloc(c->cache_cap, sizeof(*c->cache));
	c->wcache_cap = 1 << 14;     /* 512 KiB, touched as it fills */
	c->wcache = calloc(c->wcache_cap, sizeof(*c->wcache));
	if (!c->md || !c->cache || !c->wcache) {
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
	if (c->cache && c->cache_n)
		cache_clear(c);
	free(c->cache);
	free(c->wcache);
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

/* Room for `more` ids (and their offsets) after the c->nids already there. */
static int reserve_ids(struct ts_bpe_ctx *c, size_t more)
{
	size_t need = c->nids + more, a = c->cap_ids;
	if (need <= a)
		return 0;
	/* ids and offs grow together: cap_ids is the capacity of both */
	if (ts_alloc_grow(&c->ids, &a, need, sizeof(*c->ids)))
		return -1;
	a = c->cap_ids;
	if (ts_alloc_grow(&c->offs, &a, need, sizeof(*c->offs)))
		return -1;
	c->cap_ids = a;
	return 0;
}

/* The key of a word of n <= 16 bytes: its bytes, zero-padded, in two
 * words.  Reads 16 bytes at w (the cleaned text has 16 NUL bytes after
 * its end, so that is always inside the buffer). */
static inline void word_key(const char *w, size_t n, uint64_t *k0, uint64_t *k1)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t a, b;
	memcpy(&a, w, 8);
	memcpy(&b, w + 8, 8);
	if (n <= 8) {
		*k0 = n == 8 ? a : a & ((1ULL << (8 * n)) - 1);
		*k1 = 0;
	} else {
		*k0 = a;
		*k1 = n == 16 ? b : b & ((1ULL << (8 * (n - 8))) - 1);
	}
#else
	unsigned char t[16] = { 0 };
	memcpy(t, w, n);
	memcpy(k0, t, 8);
	memcpy(k1, t + 8, 8);
#endif
}

/* Fibonacci hashing into a table of `cap` (a power of two) slots: the top
 * bits of a product depend on every key byte (the length is implied by the
 * zero padding: pieces hold no NUL) */
static inline size_t word_slot(uint64_t k0, uint64_t k1, size_t cap)
{
	uint64_t h = k0 * 0x9e3779b97f4a7c15ULL + k1 * 0xc2b2ae3d27d4eb4fULL;
	return (size_t)(h >> (64 - __builtin_ctzll(cap)));
}

/* Empty the short-word cache, or grow it (doubling, up to WCACHE_MAX
 * slots) when it is half full. */
static void wcache_make_room(struct ts_bpe_ctx *c)
{
	if (c->wcache_n * 4 < c->wcache_cap * 3)
		return;
	size_t nc = c->wcache_cap * 2;
	struct wentry *nw = nc <= WCACHE_MAX ? calloc(nc, sizeof(*nw)) : NULL;
	if (!nw) {                       /* at the cap (or no memory): start again */
		memset(c->wcache, 0, c->wcache_cap * sizeof(*c->wcache));
		c->wcache_n = 0;
		return;
	}
	for (size_t i = 0; i < c->wcache_cap; i++) {
		struct wentry *e = &c->wcache[i];
		if (!e->len)
			continue;
		size_t j = word_slot(e->k0, e->k1, nc);
		while (nw[j].len)
			j = (j + 1) & (nc - 1);
		nw[j] = *e;
	}
	free(c->wcache);
	c->wcache = nw;
	c->wcache_cap = nc;
}

/* BPE by merge rank on the bytes w[0..n) into c->sym; returns the number
 * of symbols, or 0 when out of memory. */
static size_t bpe_merge(struct ts_bpe_ctx *c, const char *w, size_t n)
{
	const struct ts_bpe *b = c->bpe;
	size_t ns = n;
	if (n > c->cap_sym && ts_alloc_grow(&c->sym, &c->cap_sym, n, sizeof(*c->sym)))
		return 0;
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
	return ns;
}

/* BPE of a word longer than the short-word cache takes, through the
 * general cache (bounded; cleared when full).  Appends to c->ids, which
 * has room for n more. */
static int bpe_long_word(struct ts_bpe_ctx *c, const char *w, size_t n)
{
	size_t h = fnv(w, n) & (c->cache_cap - 1), ns;
	struct centry *e;

	for (size_t i = h;; i = (i + 1) & (c->cache_cap - 1)) {
		e = &c->cache[i];
		if (!e->word)
			break;
		if (e->len == n && !memcmp(e->word, w, n)) {
			memcpy(c->ids + c->nids, e->ids, e->n * sizeof(int32_t));
			c->nids += e->n;
			return 0;
		}
	}
	if (!(ns = bpe_merge(c, w, n)))
		return -1;
	memcpy(c->ids + c->nids, c->sym, ns * sizeof(int32_t));
	c->nids += ns;
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
	memcpy(e->ids, c->sym, ns * sizeof(int32_t));
	e->n = ns;
	e->len = n;
	c->cache_n++;
	return 0;
}

/* The short-word cache's entry for the word (k0, k1, n), or NULL. */
static inline const struct wentry *wcache_get(const struct ts_bpe_ctx *c, uint64_t k0, uint64_t k1,
					      size_t n)
{
	size_t mask = c->wcache_cap - 1;
	for (size_t i = word_slot(k0, k1, c->wcache_cap);; i = (i + 1) & mask) {
		const struct wentry *e = &c->wcache[i];
		if (e->k0 == k0 && e->k1 == k1 && e->len == n)
			return e;
		if (!e->len)
			return NULL;
	}
}

/* BPE of the pre-token w[0..n) (n <= 16, key (k0, k1)) that the
 * short-word cache does not hold, appended to c->ids (room for n more),
 * and cached when its result has at most WENTRY_IDS ids (nearly always). */
static __attribute__((noinline)) int bpe_short_miss(struct ts_bpe_ctx *c, const char *w, size_t n,
						    uint64_t k0, uint64_t k1)
{
	size_t ns = bpe_merge(c, w, n);
	if (!ns)
		return -1;
	memcpy(c->ids + c->nids, c->sym, ns * sizeof(int32_t));
	c->nids += ns;
	if (ns > WENTRY_IDS)
		return 0;                /* not cached: rare and cheap enough */
	wcache_make_room(c);
	size_t mask = c->wcache_cap - 1, i;
	for (i = word_slot(k0, k1, c->wcache_cap); c->wcache[i].len; i = (i + 1) & mask)
		;
	struct wentry *e = &c->wcache[i];
	memset(e, 0, sizeof(*e));
	e->k0 = k0;
	e->k1 = k1;
	e->len = (uint8_t)n;
	e->n = (uint8_t)ns;
	for (size_t k = 0; k < ns; k++)
		e->ids[k] = (uint16_t)c->sym[k];
	c->wcache_n++;
	return 0;
}

/* BPE of the pre-token w[0..n) (n <= 16, key (k0, k1)), appended to
 * c->ids (room for n more), each id recording the piece's start s.  A hit
 * in the short-word cache is two 64-bit compares and a copy. */
static inline int bpe_short_word(struct ts_bpe_ctx *c, const char *w, size_t n, uint64_t k0,
				 uint64_t k1, uint32_t s)
{
	const struct wentry *h = wcache_get(c, k0, k1, n);
	size_t first = c->nids;
	if (__builtin_expect(h != NULL, 1)) {
		c->ids[first] = h->ids[0];
		c->offs[first] = s;
		c->nids++;
		if (__builtin_expect(h->n == 1, 1))
			return 0;
		for (unsigned k = 1; k < h->n; k++)
			c->ids[first + k] = h->ids[k];
		c->nids = first + h->n;
	} else if (bpe_short_miss(c, w, n, k0, k1)) {
		return -1;
	}
	for (size_t k = first; k < c->nids; k++)
		c->offs[k] = s;
	return 0;
}

/* The ids of the piece t[s..e) (a special token or a BPE word), each
 * recording where its piece starts.  c->ids has room for e - s more (a
 * piece never gives more ids than it has bytes) plus WENTRY_IDS. */
static int emit_piece(struct ts_bpe_ctx *c, const char *t, size_t s, size_t e)
{
	size_t first = c->nids, n = e - s;
	if (t[s] == '<' && n == 15 && !memcmp(t + s, "<|startoftext|>", 15)) {
		c->ids[c->nids++] = TS_BPE_SOT;
	} else if (t[s] == '<' && n == 13 && !memcmp(t + s, "<|endoftext|>", 13)) {
		c->ids[c->nids++] = TS_BPE_EOT;
	} else if (n <= 16) {
		uint64_t k0, k1;
		word_key(t + s, n, &k0, &k1);
		return bpe_short_word(c, t + s, n, k0, k1, (uint32_t)s);
	} else if (bpe_long_word(c, t + s, n)) {
		return -1;
	}
	for (size_t k = first; k < c->nids; k++)
		c->offs[k] = (uint32_t)s;
	return 0;
}

/* Character classes of the ASCII pre-tokenizer (bytes >= 0x80 never reach
 * it): \s, \p{L} and \p{N} of the regex, restricted to ASCII. */
enum { A_OTHER = 0, A_SPACE = 1, A_ALPHA = 2, A_DIGIT = 3 };
static const uint8_t aclass[256] = {
	['\t'] = A_SPACE, ['\n'] = A_SPACE, ['\v'] = A_SPACE, ['\f'] = A_SPACE,
	['\r'] = A_SPACE, [' '] = A_SPACE,
#define D(x) [x] = A_DIGIT
	D('0'), D('1'), D('2'), D('3'), D('4'), D('5'), D('6'), D('7'), D('8'), D('9'),
#undef D
#define L(x) [x] = A_ALPHA, [x - 32] = A_ALPHA
	L('a'), L('b'), L('c'), L('d'), L('e'), L('f'), L('g'), L('h'), L('i'), L('j'), L('k'),
	L('l'), L('m'), L('n'), L('o'), L('p'), L('q'), L('r'), L('s'), L('t'), L('u'), L('v'),
	L('w'), L('x'), L('y'), L('z'),
#undef L
};

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* 0x80 in each byte of x (all bytes < 0x80) that is an ASCII letter */
static inline uint64_t alpha_bytes(uint64_t x)
{
	uint64_t y = x | 0x20 * ONES;
	return (y + (0x80 - 'a') * ONES) & ~(y + (0x80 - 'z' - 1) * ONES) & HIGH;
}

/* The end of the run of letters that starts at t[i] (a letter); when the
 * run is at most 16 bytes, also its key for the short-word cache (*k_ok). */
static inline size_t alpha_run(const char *t, size_t i, uint64_t *k0, uint64_t *k1, int *k_ok)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t a, b, na, nb;
	memcpy(&a, t + i, 8);
	na = ~alpha_bytes(a) & HIGH;
	if (na) {
		unsigned len = (unsigned)__builtin_ctzll(na) >> 3;   /* >= 1 */
		*k0 = a & ((1ULL << (8 * len)) - 1);
		*k1 = 0;
		*k_ok = 1;
		return i + len;
	}
	memcpy(&b, t + i + 8, 8);
	nb = ~alpha_bytes(b) & HIGH;
	if (nb) {
		unsigned len = (unsigned)__builtin_ctzll(nb) >> 3;
		*k0 = a;
		*k1 = len ? b & ((1ULL << (8 * len)) - 1) : 0;
		*k_ok = 1;
		return i + 8 + len;
	}
	i += 16;
#endif
	while (aclass[(uint8_t)t[i]] == A_ALPHA)
		i++;
	*k_ok = 0;
	return i;
}

/* CLIP's pre-tokenizer regex on ASCII text t[0..tl) (t[tl] and 16 bytes
 * after it NUL), alternative for alternative in the pattern's order at
 * each position (leftmost-first, as pcre2 does): the two specials, the
 * contractions, a run of letters, one digit, a run of anything else but
 * white space; each piece's ids appended. */
static int encode_ascii(struct ts_bpe_ctx *c, const char *t, size_t tl)
{
	const uint8_t *u = (const uint8_t *)t;
	size_t i = 0;
	while (i < tl) {
		unsigned cls = aclass[u[i]];
		size_t s = i;
		if (cls == A_SPACE) {
			i++;
			continue;
		}
		if (cls == A_ALPHA) {
			uint64_t k0, k1;
			int k_ok;
			i = alpha_run(t, i, &k0, &k1, &k_ok);
			if (k_ok ? bpe_short_word(c, t + s, i - s, k0, k1, (uint32_t)s) : emit_piece(c, t, s, i))
				return -1;
			i += u[i] == ' ';   /* the usual single space after a word */
		} else if (cls == A_DIGIT) {
			i++;
			if (bpe_short_word(c, t + s, 1, u[s], 0, (uint32_t)s))
				return -1;
		} else {
			i++;
			if (u[s] == '<' && tl - s >= 15 && !memcmp(t + s, "<|startoftext|>", 15))
				i = s + 15;
			else if (u[s] == '<' && tl - s >= 13 && !memcmp(t + s, "<|endoftext|>", 13))
				i = s + 13;
			else if (u[s] == '\'' && ((u[s + 1] | 0x20) == 's' || (u[s + 1] | 0x20) == 't' ||
						  (u[s + 1] | 0x20) == 'm' || (u[s + 1] | 0x20) == 'd'))
				i = s + 2;     /* u[tl] is NUL: never a match past the end */
			else if (u[s] == '\'' && s + 2 < tl &&
				 (((u[s + 1] | 0x20) == 'r' && (u[s + 2] | 0x20) == 'e') ||
				  ((u[s + 1] | 0x20) == 'v' && (u[s + 2] | 0x20) == 'e') ||
				  ((u[s + 1] | 0x20) == 'l' && (u[s + 2] | 0x20) == 'l')))
				i = s + 3;
			else
				while (i < tl && aclass[u[i]] == A_OTHER)
					i++;
			if (emit_piece(c, t, s, i))
				return -1;
		}
	}
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
	if (tl > UINT32_MAX)
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_CAPTION_TOO_LONG,
				  "caption of %zu bytes is too long to tokenize", tl);
	/* at most one id per byte of cleaned text, plus a cache entry's slack */
	if (reserve_ids(c, tl + WENTRY_IDS))
		goto nomem;
	int ascii = c->last_ascii;      /* known from the cleaning, else checked */
	for (size_t k = 0; k < tl && !ascii; k++)
		if ((uint8_t)t[k] >= 0x80)
			break;
		else if (k + 1 == tl)
			ascii = 1;
	if (ascii && !c->general_only) {
		if (encode_ascii(c, t, tl))
			goto nomem;
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

void ts_bpe_ctx_general(struct ts_bpe_ctx *c, int on)
{
	c->general_only = on;
	c->cl.general_only = on;
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
