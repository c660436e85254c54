/*
 * test_tags.c - WordNet reading and lemmatisation, the tag extractor's
 * rules, its spans (bytes, code points, CLIP tokens) on real captions, and
 * its precision and recall on the hand-labelled set in tests/data/tags/.
 * Needs WordNet (Debian wordnet-base); SKIPPED with the reason without it.
 * TAGS_VERBOSE=1 prints every caption where the extractor and the labels
 * disagree.
 */
#include "tests/unit/t.h"

#include <jansson.h>
#include <unistd.h>

#include "captions/bpe.h"
#include "captions/tags.h"
#include "captions/wordnet.h"

static struct ts_wordnet *wn;
static struct ts_bpe *bpe;

static int load_wn(void)
{
	struct ts_err e = TS_ERR_INIT;
	if (!wn && access(TS_WORDNET_DEFAULT_DIR "/index.noun", R_OK) == 0)
		ts_wordnet_load(&wn, NULL, &e);
	return wn != NULL;
}

static int load_bpe(void)
{
	char p[512];
	struct ts_err e = TS_ERR_INIT;
	snprintf(p, sizeof(p), "%s/tokenizer/bpe_simple_vocab_16e6.txt.gz", t_shared());
	if (!bpe && access(p, R_OK) == 0)
		ts_bpe_load(&bpe, p, &e);
	return bpe != NULL;
}

#define NEED_WN() do { if (!load_wn()) SKIP("WordNet not found in " TS_WORDNET_DEFAULT_DIR " (Debian wordnet-base)"); } while (0)

static const char *morphy(const char *w)
{
	static char out[128];
	return ts_wordnet_morphy(wn, w, TS_POS_NOUN, out, sizeof(out)) ? out : "(none)";
}

static void lemmatise(void)
{
	NEED_WN();
	CHECK_EQ_STR(morphy("dogs"), "dog");
	CHECK_EQ_STR(morphy("mice"), "mouse");        /* noun.exc */
	CHECK_EQ_STR(morphy("buses"), "bus");         /* -ses -> -s */
	CHECK_EQ_STR(morphy("children"), "child");
	CHECK_EQ_STR(morphy("men"), "man");
	CHECK_EQ_STR(morphy("boxes"), "box");
	CHECK_EQ_STR(morphy("benches"), "bench");
	CHECK_EQ_STR(morphy("ladies"), "lady");
	CHECK_EQ_STR(morphy("arms"), "arm");          /* a rule before the word itself */
	CHECK_EQ_STR(morphy("scissors"), "scissors"); /* no rule applies: the word itself */
	CHECK_EQ_STR(morphy("fire_hydrants"), "fire_hydrant");
	CHECK_EQ_STR(morphy("qwxzt"), "(none)");
	char v[64];
	CHECK(ts_wordnet_morphy(wn, "running", TS_POS_VERB, v, sizeof(v)) && !strcmp(v, "run"));
	CHECK(ts_wordnet_morphy(wn, "climbs", TS_POS_VERB, v, sizeof(v)) && !strcmp(v, "climb"));
	CHECK(ts_wordnet_morphy(wn, "bigger", TS_POS_ADJ, v, sizeof(v)) && !strcmp(v, "big"));
	CHECK(ts_wordnet_count(wn, "dog", TS_POS_NOUN) > ts_wordnet_count(wn, "dog", TS_POS_VERB));
	CHECK(ts_wordnet_concrete(wn, "dog") > 0.9 && ts_wordnet_concrete(wn, "day") < 0.1);
	CHECK(ts_wordnet_concrete(wn, "quickly") < 0);
	/* an ocean wave is a noun.event, a trick a noun.act: not concrete, but
	 * perceptible; a variety is a collection; a dog's main sense an animal */
	CHECKF(ts_wordnet_concrete(wn, "wave") < 0.3 && ts_wordnet_perceptible(wn, "wave") >= 0.5,
	       "wave: concrete %.2f perceptible %.2f", ts_wordnet_concrete(wn, "wave"), ts_wordnet_perceptible(wn, "wave"));
	CHECK(ts_wordnet_perceptible(wn, "trick") >= 0.5 && ts_wordnet_perceptible(wn, "elegance") < 0.5);
	CHECK(ts_wordnet_collective(wn, "variety") >= 0.5 && ts_wordnet_collective(wn, "dog") < 0.5);
	CHECK(ts_wordnet_main_lexfile(wn, "dog") == 5 && ts_wordnet_main_lexfile(wn, "sign") != 5 &&
	      ts_wordnet_main_lexfile(wn, "quickly") == -1);
	/* a noun tagged once is judged by its senses too */
	CHECK(ts_wordnet_concrete(wn, "pillar") >= 0.3);
}

static void missing_wordnet(void)
{
	struct ts_wordnet *w = NULL;
	struct ts_err e = TS_ERR_INIT;
	CHECK(ts_wordnet_load(&w, "/nonexistent/wordnet", &e) < 0 && w == NULL);
	CHECKF(strstr(e.msg, "/nonexistent/wordnet/index.noun") && strstr(e.msg, "wordnet-base"), "%s", e.msg);
	char d[] = "/tmp/ts-wn-XXXXXX";
	if (mkdtemp(d)) {
		char p[300];
		snprintf(p, sizeof(p), "%s/index.noun", d);
		FILE *f = fopen(p, "w");
		if (f) {
			fputs("not wordnet\n", f);
			fclose(f);
		}
		CHECK(ts_wordnet_load(&w, d, &e) < 0 && strstr(e.msg, "not a WordNet index"));
		unlink(p);
		rmdir(d);
	}
}

/* "lemma lemma ..." of a caption's tags */
static const char *tag_list(const char *caption, const struct ts_tagger_opts *o)
{
	static char out[1024];
	struct ts_tagger *tg = NULL;
	struct ts_tag *tags = NULL;
	struct ts_err e = TS_ERR_INIT;
	size_t n = 0, k = 0;
	out[0] = 0;
	if (ts_tagger_new(&tg, wn, o, &e) || ts_tags_extract(tg, NULL, caption, strlen(caption), &tags, &n, &e))
		snprintf(out, sizeof(out), "error: %s", e.msg);
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%s", i ? "|" : "", tags[i].lemma);
	free(tags);
	ts_tagger_free(tg);
	return out;
}

static void rules(void)
{
	NEED_WN();
	struct ts_tagger_opts o = { 0 };
	CHECK_EQ_STR(tag_list("A black dog is running through the grass .", &o), "dog|grass");
	CHECK_EQ_STR(tag_list("Two dogs play near a fire hydrant.", &o), "dog|fire hydrant");
	CHECK_EQ_STR(tag_list("Three mice and two buses", &o), "mouse|bus");
	/* a building material before a noun says what it is made of; a
	 * place before it is a thing of its own (docs/tags.md, "Labelling
	 * convention") */
	CHECK_EQ_STR(tag_list("A man in a red shirt stands near a brick building.", &o), "man|shirt|building");
	CHECK_EQ_STR(tag_list("A woman walks on a cobblestone street past a stone pillar.", &o), "woman|street|pillar");
	CHECK_EQ_STR(tag_list("A bus drives down a city street.", &o), "bus|city|street");
	/* a name before a noun or a number says which one */
	CHECK_EQ_STR(tag_list("A cart with the Pepsi logo stands by a Boeing 787 Dreamliner.", &o), "cart|logo|dreamliner");
	CHECK_EQ_STR(tag_list("A child rides on a man 's shoulders .", &o), "child|man|shoulder");
	CHECK_EQ_STR(tag_list("the dog's ball", &o), "dog|ball");
	CHECK_EQ_STR(tag_list("A girl holds a teddy bear next to the traffic light.", &o), "girl|teddy bear|traffic light");
	/* scene words go unless asked for */
	CHECK_EQ_STR(tag_list("A photo of a cat in front of a background of trees", &o), "cat|tree");
	struct ts_tagger_opts keep = { .keep_scene_words = 1 };
	CHECK_EQ_STR(tag_list("A photo of a cat in front of a background of trees", &keep), "photo|cat|front|background|tree");
	/* no nouns, not English, HTML leftovers: clear results */
	CHECK_EQ_STR(tag_list("is and the of very quickly", &o), "");
	CHECK_EQ_STR(tag_list("", &o), "");
	CHECK_EQ_STR(tag_list("Ein Hund läuft über die Wiese", &o), "");
	CHECK_EQ_STR(tag_list("A <b>dog</b> &amp; a cat", &o), "dog|cat");
	/* a noun followed by its verb is not swallowed as a compound
	 * ("cat sleep" is WordNet's catnap) */
	CHECK_EQ_STR(tag_list("A cat sleeps on a couch.", &o), "cat|couch");
	CHECK_EQ_STR(tag_list("The girl stands in the train tracks .", &o), "girl|train track|track");
	CHECK_EQ_STR(tag_list("The large brown bear has a black nose.", &o), "bear|nose");
	/* waves and tricks are seen */
	CHECK_EQ_STR(tag_list("A surfer rides a wave.", &o), "surfer|wave");
	CHECK_EQ_STR(tag_list("A boy does a trick on a skateboard .", &o), "boy|trick|skateboard");
	/* colour words describe, the fruit is a thing */
	CHECK_EQ_STR(tag_list("A man in an orange shirt eats an orange.", &o), "man|shirt|orange");
	CHECK_EQ_STR(tag_list("A woman in blue holds a bowl of oranges", &o), "woman|bowl|orange");
	/* nouns WordNet lacks, where a noun must be */
	CHECK_EQ_STR(tag_list("A biker in spandex riding on a busy street .", &o), "biker|spandex|street");
	/* measures of what is not a thing, places in the photograph, names */
	CHECK_EQ_STR(tag_list("a pop of color in the lower left corner of the frame, a dog", &o), "dog");
	CHECK_EQ_STR(tag_list("People stand outside a pharmacy on Broadway .", &o), "people|pharmacy");
	/* places within a thing after a possessive or "in"/"at", and before
	 * "of" (but the interior of a thing is what is seen there) */
	CHECK_EQ_STR(tag_list("A cat sleeps in the middle of the road.", &o), "cat|road");
	CHECK_EQ_STR(tag_list("The lamp has a crack at its base.", &o), "lamp|crack");
	CHECK_EQ_STR(tag_list("A boy stands on top of a rock.", &o), "boy|rock");
	CHECK_EQ_STR(tag_list("Two people sit on the end of the dock.", &o), "people|dock");
	CHECK_EQ_STR(tag_list("The interior of a temple is revealed.", &o), "interior|temple");
	/* the photograph's words and words for how a thing looks */
	CHECK_EQ_STR(tag_list("A medium shot of a woman in a red dress.", &o), "woman|dress");
	CHECK_EQ_STR(tag_list("The vase has a floral pattern in hues of blue.", &o), "vase");
	CHECK_EQ_STR(tag_list("Letters in a white font cover the wall.", &o), "letter|wall");
	CHECK_EQ_STR(tag_list("The dog takes center stage in the garden.", &o), "dog|garden");
	CHECK_EQ_STR(tag_list("A blurred bokeh effect behind the man.", &o), "man");
	CHECK_EQ_STR(tag_list("A scarf in a mix of red, yellow, and blue.", &o), "scarf");
	/* runs of nouns: a modifier of a modifier, an age or sex, a food or
	 * plant that says which kind; a thing of its own before a noun is a
	 * tag, and makes a pair only with a head of many senses */
	CHECK_EQ_STR(tag_list("A red double decker bus drives down the street.", &o), "bus|street");
	CHECK_EQ_STR(tag_list("An adult zebra stands near a female lion.", &o), "zebra|lion");
	CHECK_EQ_STR(tag_list("A parsley sprig sits on the plate.", &o), "parsley sprig|sprig|plate");
	CHECK_EQ_STR(tag_list("A table with an assortment of food items.", &o), "table|food|item");
	CHECK_EQ_STR(tag_list("The rock face is steep.", &o), "rock face|face");
	/* what is not there, only supposed, or a restatement of the subject */
	CHECK_EQ_STR(tag_list("The sky, a vibrant blue canvas, is devoid of any clouds.", &o), "sky");
	CHECK_EQ_STR(tag_list("A man without a shirt sits on a bench.", &o), "man|bench");
	CHECK_EQ_STR(tag_list("The dog's mouth is open, suggesting it might be in the midst of a meal.", &o), "dog|mouth");
	CHECK_EQ_STR(tag_list("A man, a woman, and a dog walk on the beach.", &o), "man|woman|dog|beach");
	/* text: before a quotation, or beside letters */
	CHECK_EQ_STR(tag_list("The door is marked with the number \"72\".", &o), "door|number");
	CHECK_EQ_STR(tag_list("The sign shows numbers and letters.", &o), "sign|number|letter");
	/* names with "&", a possessive leading a hyphenated modifier, two
	 * adjectives with a comma between, a place of a thing known */
	CHECK_EQ_STR(tag_list("A cheerleader from the Texas A&M University team.", &o), "cheerleader|team");
	CHECK_EQ_STR(tag_list("A bird's-eye view of a leg.", &o), "leg");
	CHECK_EQ_STR(tag_list("Plants in a patch of dark, charred dirt.", &o), "plant|patch|dirt");
	CHECK_EQ_STR(tag_list("The corners of the box are embellished with circles.", &o), "box|circle");
	/* a noun that measures or arranges a bare plural after "of" */
	CHECK_EQ_STR(tag_list("A medley of vegetables and a range of mountains.", &o), "vegetable|mountain");
	CHECK_EQ_STR(tag_list("A bowl of apples in a field of flowers.", &o), "bowl|apple|field|flower");
	/* a crowd of people is seen as one */
	CHECK_EQ_STR(tag_list("A crowd of people watch the parade.", &o), "crowd|people|parade");
	/* parts of speech: a plural ending a preposition's object, the most
	 * used base of an irregular plural, "can" as a thing, a hyphenated
	 * name before a verb, a relative clause, an adverb, a participle
	 * after a comma */
	CHECK_EQ_STR(tag_list("A shirt covered with red maple leaves, and a hat.", &o), "shirt|maple leaf|leaf|hat");
	CHECK_EQ_STR(tag_list("Blue shoes with white soles and laces.", &o), "shoe|sole|lace");
	CHECK_EQ_STR(tag_list("A detailed close-up of a red Coca-Cola can, wet with dew.", &o), "can|dew");
	CHECK_EQ_STR(tag_list("A gold rolls-royce parked in front of a hotel.", &o), "rolls-royce|hotel");
	CHECK_EQ_STR(tag_list("Lines that form a circle.", &o), "line|circle");
	CHECK_EQ_STR(tag_list("Waves gently lap at the shore.", &o), "wave|shore");
	CHECK_EQ_STR(tag_list("A vase of flowers, set against a white wall.", &o), "vase|flower|wall");
	CHECK_EQ_STR(tag_list("Spectators can be seen standing on the sidelines.", &o), "spectator|sideline");
	CHECK_EQ_STR(tag_list("The monkey, positioned on the left, gazes towards the trees.", &o), "monkey|tree");
	CHECK_EQ_STR(tag_list("A man is seen snorkeling underwater.", &o), "man");
}

/* Every tag's spans, on real captions: the text at the byte and code-point
 * spans is the tag's surface form, and the token span holds exactly the ids
 * of that text in context. */
static void spans(void)
{
	NEED_WN();
	if (!load_bpe())
		SKIP("../shared/tokenizer not found");
	char p[512], line[1 << 16];
	snprintf(p, sizeof(p), "%s/data/captions/flickr8k.jsonl", t_shared());
	FILE *f = fopen(p, "r");
	if (!f)
		SKIP("../shared/data/captions not found");
	struct ts_tagger *tg = NULL;
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe), *c2 = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	struct ts_tagger_opts o = { .context = 77 };
	size_t captions = 0, ntags = 0, bad = 0;
	CHECK(ts_tagger_new(&tg, wn, &o, &e) == 0);
	while (fgets(line, sizeof(line), f) && captions < 3000) {
		json_t *j = json_loads(line, 0, NULL);
		const char *cap = json_string_value(json_object_get(j, "caption"));
		struct ts_tag *tags = NULL;
		size_t n = 0;
		if (!cap || ts_tags_extract(tg, c, cap, strlen(cap), &tags, &n, &e)) {
			CHECKF(0, "%s", e.msg);
			json_decref(j);
			continue;
		}
		const int32_t *all, *part;
		size_t na, np;
		CHECK(ts_bpe_encode(c2, cap, strlen(cap), &all, &na, &e) == 0);
		int32_t *whole = malloc((na + 1) * sizeof(*whole));
		memcpy(whole, all, na * sizeof(*all));
		for (size_t i = 0; i < n; i++) {
			const struct ts_tag *g = &tags[i];
			/* code points: count them in the byte prefix */
			size_t cps = 0, cpe = 0;
			for (size_t b = 0; b < g->byte_end; b++)
				if (((unsigned char)cap[b] & 0xc0) != 0x80) {
					cps += b < g->byte_start;
					cpe++;
				}
			int ok = g->char_start == cps && g->char_end == cpe && g->byte_end > g->byte_start;
			/* the token span re-tokenizes to the ids of the tag's text in context */
			ok = ok && ts_bpe_encode(c2, cap + g->byte_start, g->byte_end - g->byte_start, &part, &np, &e) == 0 &&
			     g->tok_end - g->tok_start == np && g->tok_start >= 1 && g->tok_end <= na + 1 &&
			     !memcmp(whole + g->tok_start - 1, part, np * sizeof(*part)) && !g->truncated;
			if (!ok && bad++ < 5)
				printf("  span mismatch: '%s' tag %s bytes [%zu,%zu) tokens [%zu,%zu)\n", cap, g->lemma,
				       g->byte_start, g->byte_end, g->tok_start, g->tok_end);
			ntags++;
		}
		free(whole);
		free(tags);
		json_decref(j);
		captions++;
	}
	fclose(f);
	printf("  %zu captions, %zu tags, %zu span mismatches\n", captions, ntags, bad);
	CHECK(captions == 3000 && ntags > 6000 && bad == 0);
	/* a tag past the context is marked truncated */
	struct ts_tag *tags = NULL;
	size_t n = 0;
	char longcap[2048] = "A dog";
	for (int i = 0; i < 80; i++)
		strcat(longcap, " and a dog");
	strcat(longcap, " and a cat.");
	CHECK(ts_tags_extract(tg, c, longcap, strlen(longcap), &tags, &n, &e) == 0 && n == 82);
	CHECK(n == 82 && !tags[0].truncated && tags[81].truncated && !strcmp(tags[81].lemma, "cat"));
	free(tags);
	ts_tagger_free(tg);
	ts_bpe_ctx_free(c);
	ts_bpe_ctx_free(c2);
}


/* docs/tags.md lists every stop word of the table, and no other. */
static void stopwords_documented(void)
{
	size_t n = 0;
	unsigned char *doc = t_slurp("docs/tags.md", &n);
	if (!doc)
		SKIP("docs/tags.md not found (run from the project root)");
	char *sec = strstr((char *)doc, "### Stop words");
	char *end = sec ? strstr(sec, "## Quality") : NULL;
	CHECK(sec && end);
	if (sec && end) {
		*end = 0;
		size_t words = 0;
		for (size_t i = 0; ts_tag_stopword(i); i++) {
			char pat1[64], pat2[64], pat3[64];
			const char *w = ts_tag_stopword(i);
			snprintf(pat1, sizeof(pat1), " %s,", w);
			snprintf(pat2, sizeof(pat2), " %s\n", w);
			snprintf(pat3, sizeof(pat3), ": %s,", w);
			CHECKF(strstr(sec, pat1) || strstr(sec, pat2) || strstr(sec, pat3), "'%s' is not in docs/tags.md", w);
			words++;
		}
		/* and the docs list no more than the table: count the list's items */
		size_t listed = 0;
		for (char *l = strstr(sec, "\n- "); l; l = strstr(l + 1, "\n- ")) {
			char *colon = strchr(l, ':'), *nl = strchr(l + 1, '\n');
			for (char *q = colon; q && nl && q < nl; q = strchr(q + 1, ','))
				if (q < nl)
					listed++;
		}
		CHECKF(listed == words, "docs list %zu stop words, the table has %zu", listed, words);
	}
	free(doc);
	/* and every scene word in rule 7 ("focal_point" as "focal point") */
	doc = t_slurp("docs/tags.md", &n);
	char *r7 = doc ? strstr((char *)doc, "7. **Things to see.**") : NULL;
	char *r8 = r7 ? strstr(r7, "\n8. ") : NULL;
	CHECKF(r7 && r8, "docs/tags.md has no rule 7 followed by rule 8");
	if (r7 && r8) {
		*r8 = 0;
		/* the text wraps lines: compare with new lines as spaces */
		for (char *q = r7; *q; q++)
			if (*q == '\n')
				*q = ' ';
		for (size_t i = 0; ts_tag_scene_words[i]; i++) {
			char w[64], pat[72];
			snprintf(w, sizeof(w), "%s", ts_tag_scene_words[i]);
			for (char *q = w; *q; q++)
				if (*q == '_')
					*q = ' ';
			snprintf(pat, sizeof(pat), " %s", w);
			const char *hit = strstr(r7, pat);
			while (hit && (hit[strlen(pat)] >= 'a' && hit[strlen(pat)] <= 'z'))
				hit = strstr(hit + 1, pat);
			CHECKF(hit != NULL, "scene word '%s' is not in rule 7 of docs/tags.md", w);
		}
	}
	free(doc);
}

/* append " word" to buf[cap], as far as it fits */
static void append_word(char *buf, size_t cap, const char *w)
{
	size_t l = strlen(buf), wl = strlen(w);
	if (l + wl + 2 <= cap) {
		buf[l] = ' ';
		memcpy(buf + l + 1, w, wl + 1);
	}
}

/* Precision and recall against a hand-labelled set (tests/data/tags/),
 * each set on its own, held to the target of docs/tags.md: recall >= 0.97
 * at precision >= 0.90 on every set.  A set below it fails with what was
 * expected and what came, and prints every caption with a miss or a false
 * positive (what the labels expect, what came); TAGS_VERBOSE=1 prints
 * them always. */
#define TARGET_PRECISION 0.90
#define TARGET_RECALL 0.97

static void score_set(const char *path, size_t want_rows)
{
	const double min_prec = TARGET_PRECISION, min_rec = TARGET_RECALL;
	NEED_WN();
	FILE *f = fopen(path, "r");
	static char why[300];
	if (!f) {
		snprintf(why, sizeof(why), "%s not found (run from the project root)", path);
		SKIP(why);
	}
	struct ts_tagger *tg = NULL;
	struct ts_err e = TS_ERR_INIT;
	struct ts_tagger_opts o = { 0 };
	char line[4096];
	size_t tp = 0, fp = 0, fn = 0, rows = 0, rlen = 0, rcap = 0;
	char *report = NULL;
	int verbose = getenv("TAGS_VERBOSE") != NULL;
	CHECK(ts_tagger_new(&tg, wn, &o, &e) == 0);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		char *cap = strchr(line, '\t'), *gold = cap ? strchr(cap + 1, '\t') : NULL;
		if (!gold)
			continue;
		*cap++ = 0;
		*gold++ = 0;
		gold[strcspn(gold, "\n")] = 0;
		/* gold lemmas, normalised as WordNet lemmas ('_' between words) */
		char g[32][96];
		size_t ng = 0;
		for (char *s = NULL, *t = strtok_r(gold, ";", &s); t && ng < 32; t = strtok_r(NULL, ";", &s)) {
			char k[96], m[96];
			snprintf(k, sizeof(k), "%s", t);
			for (char *q = k; *q; q++)
				if (*q == ' ')
					*q = '_';
			if (ts_wordnet_morphy(wn, k, TS_POS_NOUN, m, sizeof(m))) {
				snprintf(g[ng], sizeof(g[ng]), "%s", m);
			} else {
				/* two words WordNet writes as one ("drain pipe" -> drainpipe) */
				char j[96];
				size_t jl = 0;
				for (char *q = k; *q; q++)
					if (*q != '_')
						j[jl++] = *q;
				j[jl] = 0;
				snprintf(g[ng], sizeof(g[ng]), "%s",
					 strchr(k, '_') && ts_wordnet_morphy(wn, j, TS_POS_NOUN, m, sizeof(m)) ? m : k);
			}
			int dup = 0;
			for (size_t i = 0; i < ng; i++)
				dup |= !strcmp(g[i], g[ng]);
			ng += !dup;
		}
		struct ts_tag *tags = NULL;
		size_t n = 0;
		CHECK(ts_tags_extract(tg, NULL, cap, strlen(cap), &tags, &n, &e) == 0);
		int used[32] = { 0 };
		char got[1024] = "", extra[1024] = "", missed[1024] = "";
		for (size_t i = 0; i < n; i++) {
			char k[96];
			snprintf(k, sizeof(k), "%s", tags[i].lemma);
			for (char *q = k; *q; q++)
				if (*q == ' ')
					*q = '_';
			int dup = 0;
			for (size_t j = 0; j < i; j++)
				dup |= !strcmp(tags[j].lemma, tags[i].lemma);
			if (dup)
				continue;
			size_t j;
			for (j = 0; j < ng && strcmp(g[j], k); j++)
				;
			if (j < ng) {
				used[j] = 1;
				tp++;
			} else {
				fp++;
				append_word(extra, sizeof(extra), k);
			}
			append_word(got, sizeof(got), k);
		}
		for (size_t j = 0; j < ng; j++)
			if (!used[j]) {
				fn++;
				append_word(missed, sizeof(missed), g[j]);
			}
		if (*extra || *missed) {
			char buf[4096];
			int k = snprintf(buf, sizeof(buf), "  %s\n    want:", cap);
			for (size_t j = 0; j < ng && k > 0 && (size_t)k < sizeof(buf); j++)
				k += snprintf(buf + k, sizeof(buf) - (size_t)k, " %s", g[j]);
			if (k > 0 && (size_t)k < sizeof(buf))
				snprintf(buf + k, sizeof(buf) - (size_t)k, "\n    got:%s\n    missed:%s\n    not labelled:%s\n",
					 got, missed, extra);
			size_t bl = strlen(buf);
			if (rlen + bl + 1 > rcap) {
				size_t nc = (rcap + bl + 1) * 2;
				char *r = realloc(report, nc);
				if (r) {
					report = r;
					rcap = nc;
				}
			}
			if (rlen + bl + 1 <= rcap) {
				memcpy(report + rlen, buf, bl + 1);
				rlen += bl;
			}
		}
		free(tags);
		rows++;
	}
	fclose(f);
	ts_tagger_free(tg);
	double prec = tp + fp ? (double)tp / (double)(tp + fp) : 0, rec = tp + fn ? (double)tp / (double)(tp + fn) : 0;
	int pass = prec >= min_prec && rec >= min_rec;
	if ((verbose || !pass) && report)
		fputs(report, stdout);
	free(report);
	printf("  %s: %zu captions: precision %.3f (%zu/%zu), recall %.3f (%zu/%zu), F1 %.3f%s\n", path, rows, prec, tp,
	       tp + fp, rec, tp, tp + fn, prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0,
	       pass ? "" : " (below the target: recall 0.97 at precision 0.90)");
	CHECKF(rows == want_rows, "%s: %zu captions, expected %zu", path, rows, want_rows);
	CHECKF(prec >= min_prec, "%s: expected precision >= %.2f, got %.3f (%zu of %zu tags labelled)", path, min_prec,
	       prec, tp, tp + fp);
	CHECKF(rec >= min_rec, "%s: expected recall >= %.2f, got %.3f (%zu of %zu labels found)", path, min_rec, rec, tp,
	       tp + fn);
}

static void gold_flickr8k(void)
{
	score_set("tests/data/tags/gold-flickr8k.tsv", 300);
}

static void gold_coco(void)
{
	score_set("tests/data/tags/gold-coco.tsv", 55);
}

static void gold_iiw(void)
{
	score_set("tests/data/tags/gold-iiw.tsv", 245);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "lemmatise", lemmatise },
		{ "missing_wordnet", missing_wordnet },
		{ "rules", rules },
		{ "spans", spans },
		{ "gold_flickr8k", gold_flickr8k },
		{ "gold_coco", gold_coco },
		{ "gold_iiw", gold_iiw },
		{ "stopwords_documented", stopwords_documented },
		{ NULL, NULL },
	};
	int rc = t_run("tags", cases);
	ts_wordnet_free(wn);
	ts_bpe_free(bpe);
	return rc;
}
