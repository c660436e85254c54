/*
 * wordnet.c - reading WordNet 3.0's database files (see wordnet.h and
 * wndb(5WN), morphy(7WN)).
 *
 * One open-addressing table maps each lemma to what we keep of it: which
 * parts of speech have it, its concordance counts per part of speech, its
 * concrete noun count and its first noun sense's lexicographer file.
 * Exception lists go in a second table (inflected form -> base).
 */
#include "captions/wordnet.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lemma {
	char *word;
	uint8_t pos;               /* bit per enum ts_pos */
	uint32_t count[4];
	uint32_t concrete;         /* tagged noun uses with a concrete sense */
	uint32_t perceptible;      /* ... with a concrete sense or an act, event, shape or state */
	uint32_t collective;       /* ... with a sense in noun.group (a collection of things) */
	uint16_t senses, concrete_senses;   /* noun senses, and those concrete */
	uint16_t perceptible_senses;        /* ... and those perceptible */
	uint8_t main_lex, main_lex_set;     /* lexicographer file of its most used noun sense */
	uint8_t material;          /* one of its two most used noun senses is a building material */
	uint32_t main_cnt;
	uint32_t *offsets;         /* data.noun offsets of the noun senses (while loading) */
};

struct exc {
	char *key;                 /* "<pos digit><word>" */
	char *base;
};

struct ts_wordnet {
	struct lemma *l;
	size_t lcap, ln;
	struct exc *x;
	size_t xcap, xn;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return h;
}

static struct lemma *lemma_find(const struct ts_wordnet *wn, const char *w)
{
	for (size_t i = hash(w) & (wn->lcap - 1);; i = (i + 1) & (wn->lcap - 1)) {
		if (!wn->l[i].word)
			return NULL;
		if (!strcmp(wn->l[i].word, w))
			return &wn->l[i];
	}
}

static struct lemma *lemma_get(struct ts_wordnet *wn, const char *w)
{
	if (wn->ln * 2 >= wn->lcap) {
		size_t nc = wn->lcap ? wn->lcap * 2 : 1 << 17;
		struct lemma *n = calloc(nc, sizeof(*n));
		if (!n)
			return NULL;
		for (size_t i = 0; i < wn->lcap; i++) {
			if (!wn->l[i].word)
				continue;
			size_t j = hash(wn->l[i].word) & (nc - 1);
			while (n[j].word)
				j = (j + 1) & (nc - 1);
			n[j] = wn->l[i];
		}
		free(wn->l);
		wn->l = n;
		wn->lcap = nc;
	}
	size_t i = hash(w) & (wn->lcap - 1);
	for (; wn->l[i].word; i = (i + 1) & (wn->lcap - 1))
		if (!strcmp(wn->l[i].word, w))
			return &wn->l[i];
	if (!(wn->l[i].word = strdup(w)))
		return NULL;
	wn->ln++;
	return &wn->l[i];
}

static const char *const pos_name[4] = { "noun", "verb", "adj", "adv" };

static FILE *open_db(const char *dir, const char *name, struct ts_err *err)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "r");
	if (!f)
		ts_err_set(err, TS_ERR_IO, TS_R_NONE,
			   "cannot open WordNet file '%s': %s (install Debian's wordnet-base, or give --wordnet DIR)",
			   p, strerror(errno));
	return f;
}

/* index.POS: "lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offsets..." */
static int load_index(struct ts_wordnet *wn, const char *dir, enum ts_pos pos, struct ts_err *err)
{
	char name[32], line[1 << 14];
	size_t n = 0;
	snprintf(name, sizeof(name), "index.%s", pos_name[pos]);
	FILE *f = open_db(dir, name, err);
	if (!f)
		return TS_ERR_IO;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == ' ')                /* the licence header */
			continue;
		char *save = NULL, *w = strtok_r(line, " \n", &save);
		char *p = strtok_r(NULL, " \n", &save);
		char *synsets = strtok_r(NULL, " \n", &save), *pcnt = strtok_r(NULL, " \n", &save);
		if (!w || !p || !synsets || !pcnt)
			continue;
		long np = strtol(pcnt, NULL, 10);
		for (long k = 0; k < np && strtok_r(NULL, " \n", &save); k++)
			;
		strtok_r(NULL, " \n", &save);      /* sense_cnt */
		strtok_r(NULL, " \n", &save);      /* tagsense_cnt */
		struct lemma *l = lemma_get(wn, w);
		if (!l) {
			fclose(f);
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		}
		l->pos |= (uint8_t)(1u << pos);
		long ns = strtol(synsets, NULL, 10);
		if (pos == TS_POS_NOUN && ns > 0 && ns < 100 && !l->offsets) {
			l->offsets = calloc((size_t)ns, sizeof(*l->offsets));
			if (!l->offsets) {
				fclose(f);
				return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			}
			char *off;
			while (l->senses < ns && (off = strtok_r(NULL, " \n", &save)))
				l->offsets[l->senses++] = (uint32_t)strtoul(off, NULL, 10);
		}
		n++;
	}
	fclose(f);
	if (n < 1000)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "'%s/%s' is not a WordNet index (%zu entries)", dir, name, n);
	return TS_OK;
}

/* Exceptions: the bases listed for a form, separated by spaces ("soles":
 * "sol sole"); morphy picks among them. */
static int exc_put(struct ts_wordnet *wn, const char *key, const char *base)
{
	if (wn->xn * 2 >= wn->xcap) {
		size_t nc = wn->xcap ? wn->xcap * 2 : 1 << 13;
		struct exc *n = calloc(nc, sizeof(*n));
		if (!n)
			return -1;
		for (size_t i = 0; i < wn->xcap; i++) {
			if (!wn->x[i].key)
				continue;
			size_t j = hash(wn->x[i].key) & (nc - 1);
			while (n[j].key)
				j = (j + 1) & (nc - 1);
			n[j] = wn->x[i];
		}
		free(wn->x);
		wn->x = n;
		wn->xcap = nc;
	}
	size_t i = hash(key) & (wn->xcap - 1);
	for (; wn->x[i].key; i = (i + 1) & (wn->xcap - 1))
		if (!strcmp(wn->x[i].key, key))
			return 0;
	wn->x[i].key = strdup(key);
	wn->x[i].base = strdup(base);
	if (!wn->x[i].key || !wn->x[i].base)
		return -1;
	wn->xn++;
	return 0;
}

static const char *exc_get(const struct ts_wordnet *wn, const char *key)
{
	if (!wn->xcap)
		return NULL;
	for (size_t i = hash(key) & (wn->xcap - 1); wn->x[i].key; i = (i + 1) & (wn->xcap - 1))
		if (!strcmp(wn->x[i].key, key))
			return wn->x[i].base;
	return NULL;
}

static int load_exc(struct ts_wordnet *wn, const char *dir, enum ts_pos pos, struct ts_err *err)
{
	char name[32], line[1024];
	snprintf(name, sizeof(name), "%s.exc", pos_name[pos]);
	FILE *f = open_db(dir, name, err);
	if (!f)
		return TS_ERR_IO;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *w = strtok_r(line, " \n", &save), *b = save;
		if (!w || !b)
			continue;
		b += strspn(b, " ");
		b[strcspn(b, "\n")] = 0;
		if (!*b)
			continue;
		char key[512];
		snprintf(key, sizeof(key), "%d%s", (int)pos, w);
		if (exc_put(wn, key, b)) {
			fclose(f);
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		}
	}
	fclose(f);
	return TS_OK;
}

static int concrete_lex(int lex)
{
	/* what can be seen: noun.Tops 03 (person, animal, plant...), noun.animal 05, artifact 06, body 08,
	 * communication 10 (signs, flags, traffic lights, graffiti), food 13,
	 * group 14, location 15, object 17, person 18, phenomenon 19 (light,
	 * fire, waves, shadows, rain), plant 20, substance 27 */
	return lex == 3 || lex == 5 || lex == 6 || lex == 8 || lex == 10 || lex == 13 || lex == 14 ||
	       lex == 15 || lex == 17 || lex == 18 || lex == 19 || lex == 20 || lex == 27;
}

/* what can be seen happening or taking shape, beside things: noun.act 04
 * (a trick, a jump, a handstand, a game), noun.event 11 (a wave, a
 * splash), noun.shape 25 (a groove, an oval), noun.state 26 (a shadow) */
static int perceptible_lex(int lex)
{
	return concrete_lex(lex) || lex == 4 || lex == 11 || lex == 25 || lex == 26;
}

/* cntlist.rev: "lemma%ss_type:lex_filenum:lex_id:head:head_id sense_number tag_cnt" */
static int load_counts(struct ts_wordnet *wn, const char *dir, struct ts_err *err)
{
	char line[1024];
	FILE *f = open_db(dir, "cntlist.rev", err);
	if (!f)
		return TS_ERR_IO;
	while (fgets(line, sizeof(line), f)) {
		char *pct = strchr(line, '%'), *sp = strchr(line, ' ');
		if (!pct || !sp || sp < pct)
			continue;
		*pct = 0;
		int ss = 0, lex = 0;
		unsigned sense = 0, cnt = 0;
		if (sscanf(pct + 1, "%d:%d", &ss, &lex) != 2 || sscanf(sp, "%u %u", &sense, &cnt) != 2)
			continue;
		struct lemma *l = lemma_find(wn, line);
		if (!l)
			continue;
		int pos = ss == 1 ? TS_POS_NOUN : ss == 2 ? TS_POS_VERB : ss == 4 ? TS_POS_ADV : TS_POS_ADJ;
		l->count[pos] += cnt;
		if (pos == TS_POS_NOUN && concrete_lex(lex))
			l->concrete += cnt;
		if (pos == TS_POS_NOUN && perceptible_lex(lex))
			l->perceptible += cnt;
		if (pos == TS_POS_NOUN && lex == 14)
			l->collective += cnt;
		if (pos == TS_POS_NOUN && lex >= 0 && lex < 256 && (!l->main_lex_set || cnt > l->main_cnt)) {
			l->main_lex = (uint8_t)lex;
			l->main_lex_set = 1;
			l->main_cnt = cnt;
		}
	}
	fclose(f);
	return TS_OK;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Which noun lemmas have a building material among their two most used
 * senses (index.noun lists the senses in order of use): the synsets under
 * WordNet's "building material" by its hyponym pointers ("~", in
 * data.noun "offset lex ss_type w_cnt word lex_id ... p_cnt ptr offset pos
 * source/target ..."): brick, stone, tile, cobblestone, concrete, plank.  A
 * WordNet without that synset marks none. */
static int load_materials(struct ts_wordnet *wn, const char *dir, struct ts_err *err)
{
	const struct lemma *root = lemma_find(wn, "building_material");
	if (!root || !root->senses)
		return TS_OK;
	FILE *f = open_db(dir, "data.noun", err);
	if (!f)
		return TS_ERR_IO;
	uint32_t set[512];
	size_t n = 0, done = 0;
	char *line = NULL;
	size_t lcap = 0;
	set[n++] = root->offsets[0];
	/* breadth first; set[0..done) are read, set[done..n) wait */
	while (done < n) {
		uint32_t off = set[done++];
		if (fseek(f, (long)off, SEEK_SET) || getline(&line, &lcap, f) < 0)
			continue;
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int k = 0; k < 3 && tok; k++)        /* offset, lex_filenum, ss_type */
			tok = strtok_r(NULL, " ", &save);
		long nwords = tok ? strtol(tok, NULL, 16) : 0;
		for (long k = 0; k < 2 * nwords && tok; k++)
			tok = strtok_r(NULL, " ", &save);
		tok = strtok_r(NULL, " ", &save);
		long np = tok ? strtol(tok, NULL, 10) : 0;
		for (long k = 0; k < np; k++) {
			char *sym = strtok_r(NULL, " ", &save), *to = strtok_r(NULL, " ", &save);
			char *ps = strtok_r(NULL, " ", &save), *st = strtok_r(NULL, " ", &save);
			if (!sym || !to || !ps || !st)
				break;
			if (strcmp(sym, "~") || strcmp(ps, "n") || n == sizeof(set) / sizeof(set[0]))
				continue;
			uint32_t h = (uint32_t)strtoul(to, NULL, 10);
			int seen = 0;
			for (size_t j = 0; j < n && !seen; j++)
				seen = set[j] == h;
			if (!seen)
				set[n++] = h;
		}
	}
	free(line);
	fclose(f);
	qsort(set, n, sizeof(set[0]), cmp_u32);
	for (size_t i = 0; i < wn->lcap; i++) {
		struct lemma *l = &wn->l[i];
		for (unsigned k = 0; l->word && k < l->senses && k < 2 && !l->material; k++)
			l->material = bsearch(&l->offsets[k], set, n, sizeof(set[0]), cmp_u32) != NULL;
	}
	return TS_OK;
}

/* How many of each noun lemma's senses are concrete, from the
 * lexicographer file of each sense in data.noun ("offset lex_filenum
 * ss_type ..." at that byte offset), and which are perceptible; the
 * first sense's file is the main one of a lemma the concordance never
 * tagged. */
static int load_first_lex(struct ts_wordnet *wn, const char *dir, struct ts_err *err)
{
	FILE *f = open_db(dir, "data.noun", err);
	char buf[64];
	if (!f)
		return TS_ERR_IO;
	for (size_t i = 0; i < wn->lcap; i++) {
		struct lemma *l = &wn->l[i];
		for (unsigned k = 0; l->word && k < l->senses; k++) {
			unsigned long off;
			int lex;
			if (fseek(f, (long)l->offsets[k], SEEK_SET) || !fgets(buf, sizeof(buf), f))
				continue;
			if (sscanf(buf, "%lu %d", &off, &lex) != 2 || off != l->offsets[k])
				continue;
			l->concrete_senses += concrete_lex(lex);
			l->perceptible_senses += perceptible_lex(lex);
			if (k == 0 && !l->main_lex_set && lex >= 0 && lex < 256) {   /* senses are in order of use */
				l->main_lex = (uint8_t)lex;
				l->main_lex_set = 1;
			}
		}
		free(l->offsets);
		l->offsets = NULL;
	}
	fclose(f);
	return TS_OK;
}

int ts_wordnet_load(struct ts_wordnet **out, const char *dir, struct ts_err *err)
{
	struct ts_wordnet *wn = calloc(1, sizeof(*wn));
	int rc;
	*out = NULL;
	if (!wn)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!dir)
		dir = TS_WORDNET_DEFAULT_DIR;
	for (int p = 0; p < 4; p++)
		if ((rc = load_index(wn, dir, (enum ts_pos)p, err)))
			goto fail;
	for (int p = 0; p < 4; p++)
		if ((rc = load_exc(wn, dir, (enum ts_pos)p, err)))
			goto fail;
	if ((rc = load_counts(wn, dir, err)) || (rc = load_materials(wn, dir, err)) ||
	    (rc = load_first_lex(wn, dir, err)))
		goto fail;
	*out = wn;
	return TS_OK;
fail:
	ts_wordnet_free(wn);
	return rc;
}

void ts_wordnet_free(struct ts_wordnet *wn)
{
	if (!wn)
		return;
	for (size_t i = 0; i < wn->lcap; i++) {
		free(wn->l[i].word);
		free(wn->l[i].offsets);
	}
	for (size_t i = 0; i < wn->xcap; i++) {
		free(wn->x[i].key);
		free(wn->x[i].base);
	}
	free(wn->l);
	free(wn->x);
	free(wn);
}

int ts_wordnet_has(const struct ts_wordnet *wn, const char *lemma, enum ts_pos pos)
{
	const struct lemma *l = lemma_find(wn, lemma);
	return l && (l->pos & (1u << pos));
}

/* morphy(7WN)'s detachment rules, in its order. */
static const char *const rules[4][8][2] = {
	[TS_POS_NOUN] = { { "s", "" }, { "ses", "s" }, { "xes", "x" }, { "zes", "z" },
			  { "ches", "ch" }, { "shes", "sh" }, { "men", "man" }, { "ies", "y" } },
	[TS_POS_VERB] = { { "s", "" }, { "ies", "y" }, { "es", "e" }, { "es", "" },
			  { "ed", "e" }, { "ed", "" }, { "ing", "e" }, { "ing", "" } },
	[TS_POS_ADJ] = { { "er", "" }, { "est", "" }, { "er", "e" }, { "est", "e" } },
};

int ts_wordnet_morphy(const struct ts_wordnet *wn, const char *word, enum ts_pos pos,
		      char *out, size_t n)
{
	size_t len = strlen(word);
	if (len == 0 || len >= n)
		return 0;
	char key[512];
	if (len + 2 > sizeof(key))
		return 0;
	key[0] = (char)('0' + pos);
	memcpy(key + 1, word, len + 1);
	/* of the exception's bases WordNet has, the most used ("soles": sole,
	 * not sol), the first on a tie */
	const char *base = exc_get(wn, key);
	int found = 0;
	unsigned best = 0;
	while (base && *base) {
		size_t bl = strcspn(base, " ");
		char b[256];
		if (bl < sizeof(b) && bl < n) {
			memcpy(b, base, bl);
			b[bl] = 0;
			if (ts_wordnet_has(wn, b, pos)) {
				unsigned c = ts_wordnet_count(wn, b, pos);
				if (!found || c > best) {
					strcpy(out, b);
					best = c;
					found = 1;
				}
			}
		}
		base += bl;
		base += strspn(base, " ");
	}
	if (found)
		return 1;
	/* "-ful" nouns: the rules apply to the base ("boxesful" -> "boxful") are
	 * left out; captions do not need them */
	for (int r = 0; r < 8 && rules[pos][r][0]; r++) {
		const char *suf = rules[pos][r][0], *rep = rules[pos][r][1];
		size_t sl = strlen(suf), rl = strlen(rep);
		if (len <= sl || strcmp(word + len - sl, suf) || len - sl + rl >= n)
			continue;
		memcpy(out, word, len - sl);
		memcpy(out + len - sl, rep, rl + 1);
		if (ts_wordnet_has(wn, out, pos))
			return 1;
	}
	if (ts_wordnet_has(wn, word, pos)) {
		memcpy(out, word, len + 1);
		return 1;
	}
	return 0;
}

unsigned ts_wordnet_count(const struct ts_wordnet *wn, const char *lemma, enum ts_pos pos)
{
	const struct lemma *l = lemma_find(wn, lemma);
	return l ? l->count[pos] : 0;
}

/* The share of a noun's uses in some lexicographer files: its tagged uses
 * in the semantic concordance; with fewer than 10 of them, each sense counts
 * as one use more (a noun tagged once or twice, "pillar", "coral", is
 * judged by its senses too). */
static double share(const struct lemma *l, uint32_t uses, uint16_t senses)
{
	unsigned n = l->count[TS_POS_NOUN];
	if (n >= 10)
		return (double)uses / (double)n;
	return n + l->senses ? (double)(uses + senses) / (double)(n + l->senses) : 0.0;
}

double ts_wordnet_concrete(const struct ts_wordnet *wn, const char *lemma)
{
	const struct lemma *l = lemma_find(wn, lemma);
	if (!l || !(l->pos & 1))
		return -1;
	return share(l, l->concrete, l->concrete_senses);
}

double ts_wordnet_perceptible(const struct ts_wordnet *wn, const char *lemma)
{
	const struct lemma *l = lemma_find(wn, lemma);
	if (!l || !(l->pos & 1))
		return -1;
	return share(l, l->perceptible, l->perceptible_senses);
}

double ts_wordnet_collective(const struct ts_wordnet *wn, const char *lemma)
{
	const struct lemma *l = lemma_find(wn, lemma);
	if (!l || !(l->pos & 1) || !l->count[TS_POS_NOUN])
		return l && (l->pos & 1) ? 0.0 : -1;
	return (double)l->collective / (double)l->count[TS_POS_NOUN];
}

int ts_wordnet_main_lexfile(const struct ts_wordnet *wn, const char *lemma)
{
	const struct lemma *l = lemma_find(wn, lemma);
	return l && (l->pos & 1) && l->main_lex_set ? l->main_lex : -1;
}

int ts_wordnet_material(const struct ts_wordnet *wn, const char *lemma)
{
	const struct lemma *l = lemma_find(wn, lemma);
	return l && l->material;
}

unsigned ts_wordnet_noun_senses(const struct ts_wordnet *wn, const char *lemma)
{
	const struct lemma *l = lemma_find(wn, lemma);
	return l && (l->pos & 1) ? l->senses : 0;
}
