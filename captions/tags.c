/*
 * tags.c - candidate tags of a caption (see tags.h; docs/tags.md is the
 * rule book, with every rule and example).  TTD lets a model choose among
 * the candidates, so the rules lean towards recall.
 *
 * 1. Words: runs of letters and digits, with inner apostrophes and hyphens
 *    ("t-shirt", "o'clock"); a final "'s" is a possessive and stays out of
 *    the word.  Everything else separates words, and punctuation is a
 *    boundary for the context rules.
 * 2. Closed-class words (determiners, numbers, possessives, pronouns,
 *    prepositions, conjunctions, auxiliaries and other stop words) are never
 *    tags; they are context.  Colour words and left/right are modifiers:
 *    never tags, adjectives for the context.
 * 3. Noun compounds first, longest match, as WordNet lists them; not when
 *    led by an adjective, when the last word is the first's verb ("cat
 *    sleeps"), or when the compound is not a thing to see.
 * 4. Every other word gets the part of speech with the best score: 1 + its
 *    tagged uses in the semantic concordance, times context factors
 *    (determiners, prepositions, adjectives, agreement with a noun before
 *    it, objects, lists, what follows).  Unknown words where a noun phrase
 *    needs its noun are nouns; capitalised words inside a sentence are
 *    names.
 * 5. Dropped: scene words, nouns that are neither concrete nor perceptible
 *    (acts, events, shapes, states), places within a thing, measures and
 *    collections before "of", what the caption says is not there or only
 *    supposes, an apposition restating the subject.
 * 6. Of adjacent nouns the last is the head; a modifier noun that names a
 *    thing is a tag too (a pair with the head only when the head has many
 *    senses), one that says which kind makes a candidate compound, a
 *    building material neither.
 */
#include "captions/tags.h"
#include "base/buf.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "captions/bpe.h"
#include "captions/wordnet.h"

enum cls { C_OPEN, C_DET, C_NUM, C_POSS, C_PRON, C_PREP, C_TO, C_CONJ, C_AUX, C_STOP, C_MOD, C_PUNCT };

static const struct {
	const char *w;
	enum cls c;
} closed[] = {
	{ "a", C_DET }, { "an", C_DET }, { "the", C_DET }, { "this", C_DET }, { "that", C_DET },
	{ "these", C_DET }, { "those", C_DET }, { "each", C_DET }, { "every", C_DET },
	{ "some", C_DET }, { "any", C_DET }, { "another", C_DET }, { "no", C_DET },
	{ "both", C_DET }, { "either", C_DET }, { "neither", C_DET }, { "all", C_DET },
	{ "several", C_DET }, { "many", C_DET }, { "few", C_DET }, { "much", C_DET },
	{ "more", C_DET }, { "most", C_DET }, { "such", C_DET }, { "what", C_DET },
	{ "which", C_DET }, { "whose", C_DET }, { "other", C_DET }, { "others", C_PRON },
	{ "one", C_NUM }, { "two", C_NUM }, { "three", C_NUM }, { "four", C_NUM },
	{ "five", C_NUM }, { "six", C_NUM }, { "seven", C_NUM }, { "eight", C_NUM },
	{ "nine", C_NUM }, { "ten", C_NUM }, { "eleven", C_NUM }, { "twelve", C_NUM },
	{ "dozen", C_NUM }, { "hundred", C_NUM }, { "thousand", C_NUM }, { "first", C_NUM },
	{ "second", C_NUM }, { "third", C_NUM }, { "couple", C_NUM }, { "pair", C_NUM },
	{ "lot", C_NUM }, { "lots", C_NUM }, { "bunch", C_NUM }, { "plenty", C_NUM },
	{ "my", C_POSS }, { "your", C_POSS }, { "his", C_POSS }, { "her", C_POSS },
	{ "its", C_POSS }, { "our", C_POSS }, { "their", C_POSS },
	{ "i", C_PRON }, { "me", C_PRON }, { "you", C_PRON }, { "he", C_PRON }, { "him", C_PRON },
	{ "she", C_PRON }, { "it", C_PRON }, { "we", C_PRON }, { "us", C_PRON },
	{ "they", C_PRON }, { "them", C_PRON }, { "myself", C_PRON }, { "himself", C_PRON },
	{ "herself", C_PRON }, { "itself", C_PRON }, { "themselves", C_PRON },
	{ "yourself", C_PRON }, { "ourselves", C_PRON }, { "someone", C_PRON },
	{ "something", C_PRON }, { "anyone", C_PRON }, { "anything", C_PRON },
	{ "everyone", C_PRON }, { "everything", C_PRON }, { "nobody", C_PRON },
	{ "nothing", C_PRON }, { "somebody", C_PRON }, { "who", C_PRON }, { "whom", C_PRON },
	{ "in", C_PREP }, { "on", C_PREP }, { "at", C_PREP }, { "of", C_PREP }, { "with", C_PREP },
	{ "by", C_PREP }, { "for", C_PREP }, { "from", C_PREP }, { "into", C_PREP },
	{ "onto", C_PREP }, { "over", C_PREP }, { "under", C_PREP }, { "near", C_PREP },
	{ "nearby", C_PREP }, { "next", C_PREP }, { "toward", C_PREP }, { "towards", C_PREP },
	{ "through", C_PREP }, { "thru", C_PREP }, { "across", C_PREP }, { "along", C_PREP },
	{ "around", C_PREP }, { "behind", C_PREP }, { "beside", C_PREP }, { "besides", C_PREP },
	{ "between", C_PREP }, { "beyond", C_PREP }, { "above", C_PREP }, { "below", C_PREP },
	{ "beneath", C_PREP }, { "inside", C_PREP }, { "outside", C_PREP }, { "up", C_PREP },
	{ "down", C_PREP }, { "out", C_PREP }, { "off", C_PREP }, { "about", C_PREP },
	{ "against", C_PREP }, { "among", C_PREP }, { "upon", C_PREP }, { "via", C_PREP },
	{ "within", C_PREP }, { "without", C_PREP }, { "during", C_PREP }, { "after", C_PREP },
	{ "before", C_PREP }, { "past", C_PREP }, { "like", C_PREP }, { "as", C_PREP },
	{ "than", C_PREP }, { "amid", C_PREP }, { "underneath", C_PREP }, { "atop", C_PREP },
	{ "to", C_TO }, { "though", C_PREP }, { "outdoors", C_STOP }, { "indoors", C_STOP },
	{ "and", C_CONJ }, { "or", C_CONJ }, { "but", C_CONJ }, { "nor", C_CONJ }, { "so", C_CONJ },
	{ "yet", C_CONJ }, { "while", C_CONJ }, { "whilst", C_CONJ }, { "although", C_CONJ },
	{ "because", C_CONJ }, { "if", C_CONJ }, { "when", C_CONJ }, { "where", C_CONJ },
	{ "whereas", C_CONJ }, { "then", C_CONJ },
	{ "is", C_AUX }, { "are", C_AUX }, { "was", C_AUX }, { "were", C_AUX }, { "be", C_AUX },
	{ "been", C_AUX }, { "being", C_AUX }, { "am", C_AUX }, { "has", C_AUX }, { "have", C_AUX },
	{ "had", C_AUX }, { "do", C_AUX }, { "does", C_AUX }, { "did", C_AUX }, { "will", C_AUX },
	{ "would", C_AUX }, { "can", C_AUX }, { "could", C_AUX }, { "shall", C_AUX },
	{ "should", C_AUX }, { "may", C_AUX }, { "might", C_AUX }, { "must", C_AUX },
	{ "s", C_STOP }, { "not", C_STOP }, { "there", C_STOP }, { "here", C_STOP },
	{ "very", C_STOP }, { "too", C_STOP }, { "also", C_STOP }, { "just", C_STOP },
	{ "only", C_STOP }, { "now", C_STOP }, { "again", C_STOP }, { "still", C_STOP },
	{ "even", C_STOP }, { "really", C_STOP }, { "quite", C_STOP }, { "almost", C_STOP },
	{ "away", C_STOP }, { "together", C_STOP }, { "alone", C_STOP }, { "how", C_STOP },
	{ "why", C_STOP }, { "whether", C_STOP }, { "etc", C_STOP }, { "e", C_STOP },
	{ "g", C_STOP }, { "ie", C_STOP }, { "t", C_STOP }, { "ll", C_STOP }, { "re", C_STOP },
	{ "ve", C_STOP }, { "d", C_STOP }, { "m", C_STOP },
	/* modifiers: colour words and the two directions describe the noun
	 * after them, or stand for a colour or a direction ("dressed in blue",
	 * "to the left"); never tags, never part of a compound */
	{ "black", C_MOD }, { "white", C_MOD }, { "red", C_MOD }, { "green", C_MOD },
	{ "yellow", C_MOD }, { "blue", C_MOD }, { "brown", C_MOD }, { "purple", C_MOD },
	{ "pink", C_MOD }, { "orange", C_MOD }, { "gray", C_MOD }, { "grey", C_MOD },
	{ "tan", C_MOD }, { "beige", C_MOD }, { "gold", C_MOD }, { "golden", C_MOD },
	{ "silver", C_MOD }, { "maroon", C_MOD }, { "navy", C_MOD }, { "turquoise", C_MOD },
	{ "teal", C_MOD }, { "violet", C_MOD }, { "crimson", C_MOD }, { "scarlet", C_MOD },
	{ "magenta", C_MOD }, { "cyan", C_MOD }, { "khaki", C_MOD }, { "blond", C_MOD },
	{ "blonde", C_MOD }, { "off-white", C_MOD },
	{ "left", C_MOD }, { "right", C_MOD },
};

const char *const ts_tag_scene_words[] = {
	"image", "photo", "picture", "view", "background", "side", "front",
	/* the photograph's own words: how it was taken, not what it shows */
	"photograph", "shot", "closeup", "close-up", "frame", "backdrop", "foreground", "scene",
	"composition", "perspective", "lighting", "viewer", "focus", "medium", "subject", "setting",
	"focal_point", "center_stage", "element", "aesthetic", "atmosphere", "ambiance", "effect",
	/* how a thing looks, not a thing: its colour, surface, form or style
	 * as a noun ("hues of red", "a floral pattern", "a bold font", "rustic
	 * charm", "a touch of green") */
	"color", "colour", "hue", "tint", "texture", "pattern", "design", "font", "typeface", "style",
	"appearance", "charm", "touch", NULL,
};

/* Places within a thing: where something is on it or in it, not a thing
 * of its own, when the phrase says so: after a possessive ("its base",
 * "the pole's base", "her top row") or after "in"/"at" ("in the middle of
 * the road", "at the center of the bag", "in the bottom right corner") */
static const char *const place_words[] = {
	"top", "bottom", "center", "centre", "middle", "midst", "corner", "base", "rear", "edge", "end",
	"interior", "exterior", "front_end", "rear_end", NULL,
};

const char *ts_tag_stopword(size_t i)
{
	return i < sizeof(closed) / sizeof(closed[0]) ? closed[i].w : NULL;
}

struct ts_tagger {
	const struct ts_wordnet *wn;
	struct ts_tagger_opts o;
};

int ts_tagger_new(struct ts_tagger **out, const struct ts_wordnet *wn,
		  const struct ts_tagger_opts *o, struct ts_err *err)
{
	struct ts_tagger *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	t->wn = wn;
	if (o)
		t->o = *o;
	if (!t->o.context)
		t->o.context = 77;
	*out = t;
	return TS_OK;
}

void ts_tagger_free(struct ts_tagger *t)
{
	free(t);
}

#define NCLOSED (sizeof(closed) / sizeof(closed[0]))
static unsigned short closed_sorted[NCLOSED];   /* indexes of closed[], by word */
static pthread_once_t closed_once = PTHREAD_ONCE_INIT;

static int cmp_closed(const void *a, const void *b)
{
	return strcmp(closed[*(const unsigned short *)a].w, closed[*(const unsigned short *)b].w);
}

static void closed_init(void)
{
	for (size_t i = 0; i < NCLOSED; i++)
		closed_sorted[i] = (unsigned short)i;
	qsort(closed_sorted, NCLOSED, sizeof(closed_sorted[0]), cmp_closed);
}

static enum cls closed_class(const char *w)
{
	size_t lo = 0, hi = NCLOSED;
	pthread_once(&closed_once, closed_init);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(w, closed[closed_sorted[mid]].w);
		if (c == 0)
			return closed[closed_sorted[mid]].c;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	int digits = *w != 0;
	for (const char *p = w; *p && digits; p++)
		digits = (*p >= '0' && *p <= '9');
	return digits ? C_NUM : C_OPEN;
}

/* ---- words ---------------------------------------------------------------- */

#define MAXW 64                 /* bytes of a word's lower-case form */

struct word {
	size_t b0, b1, c0, c1;      /* bytes and code points, possessive left out */
	char low[MAXW];
	enum cls c;
	int punct_after;            /* punctuation (not a word) right after */
	int space_after;            /* white space only between it and the next word */
	int comma_after;            /* a comma right after */
	int capital;                /* begins with an upper-case letter */
	int stop_after;             /* a full stop, '!' or '?' right after */
	int in_name;                /* one of two or more capitalised words in a row */
	int noun;                   /* a noun by its place ("a soda can,") */
};

static int is_word_cp(utf8proc_int32_t cp)
{
	utf8proc_category_t k = utf8proc_category(cp);
	return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
	       k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_MN;
}

/* Split into words; *nw words, growing *ws. */
static int split_words(const char *s, size_t len, struct word **ws, size_t *nw, size_t *cap)
{
	size_t i = 0, ci = 0;
	*nw = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k <= 0) {
			i++;
			ci++;
			continue;
		}
		/* HTML left in the text: a tag "<...>" or an entity "&name;" is
		 * not words */
		if (cp == '<' && i + 1 < len && (s[i + 1] == '/' || (s[i + 1] | 0x20) >= 'a') ) {
			const char *gt = memchr(s + i, '>', len - i < 256 ? len - i : 256);
			if (gt) {
				for (const char *q = s + i; q <= gt; q++)
					ci += ((unsigned char)*q & 0xc0) != 0x80;
				i = (size_t)(gt - s) + 1;
				if (*nw)
					(*ws)[*nw - 1].punct_after = 1;
				continue;
			}
		}
		if (cp == '&') {
			size_t j = i + 1;
			while (j < len && j - i < 40 && (isalnum((unsigned char)s[j]) || s[j] == '#'))
				j++;
			if (j < len && s[j] == ';' && j > i + 1) {
				ci += j + 1 - i;
				i = j + 1;
				if (*nw)
					(*ws)[*nw - 1].punct_after = 1;
				continue;
			}
		}
		if (!is_word_cp(cp)) {
			int space = cp == ' ' || (cp >= '\t' && cp <= '\r') ||
				    utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
			if (*nw && !space)
				(*ws)[*nw - 1].punct_after = 1;
			if (*nw && (cp == '.' || cp == '!' || cp == '?'))
				(*ws)[*nw - 1].stop_after = 1;
			if (*nw && cp == ',')
				(*ws)[*nw - 1].comma_after = 1;
			i += (size_t)k;
			ci++;
			continue;
		}
		/* a word: letters/digits, with ' or - between two of them */
		size_t b0 = i, c0 = ci, o = 0;
		char low[MAXW];
		int too_long = 0;
		while (i < len) {
			k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
			if (k <= 0)
				break;
			if (!is_word_cp(cp)) {
				/* inner apostrophe or hyphen, followed by a word character */
				/* or an ampersand between capitals ("A&M", "AT&T") */
				int amp = cp == '&' && o > 0 && i + 1 < len && s[i + 1] >= 'A' && s[i + 1] <= 'Z' &&
					  s[i - 1] >= 'A' && s[i - 1] <= 'Z';
				if ((cp == '\'' || cp == 0x2019 || cp == '-' || amp) && i + (size_t)k < len) {
					utf8proc_int32_t nx;
					utf8proc_ssize_t k2 = utf8proc_iterate((const utf8proc_uint8_t *)s + i + k,
									       (utf8proc_ssize_t)(len - i - (size_t)k), &nx);
					/* a possessive 's ends the word, but for one that leads a
					 * hyphenated modifier ("a bird's-eye view") */
					size_t after = i + (size_t)k + 1;
					int poss = cp != '-' && !amp && k2 > 0 && (nx == 's' || nx == 'S') &&
						   (after >= len || !is_word_cp((unsigned char)s[after])) &&
						   !(after + 1 < len && s[after] == '-' && isalpha((unsigned char)s[after + 1]));
					if (k2 > 0 && is_word_cp(nx) && !poss) {
						if (o + 1 < MAXW)
							low[o++] = cp == '-' ? '-' : amp ? '&' : '\'';
						i += (size_t)k;
						ci++;
						continue;
					}
				}
				break;
			}
			utf8proc_uint8_t enc[4];
			utf8proc_ssize_t el = utf8proc_encode_char(utf8proc_tolower(cp), enc);
			if (o + (size_t)el < MAXW) {
				memcpy(low + o, enc, (size_t)el);
				o += (size_t)el;
			} else {
				too_long = 1;
			}
			i += (size_t)k;
			ci++;
		}
		low[o] = 0;
		if (TS_ALLOC_GROW(*ws, *cap, *nw + 1))
			return -1;
		struct word *w = &(*ws)[(*nw)++];
		memset(w, 0, sizeof(*w));
		w->b0 = b0;
		w->b1 = i;
		w->c0 = c0;
		w->c1 = ci;
		memcpy(w->low, low, o + 1);
		/* single letters are not tags ("b", "a.m."), nor are words too long
		 * for any WordNet lemma */
		w->c = too_long ? C_STOP : closed_class(low);
		{
			utf8proc_int32_t f;
			if (utf8proc_iterate((const utf8proc_uint8_t *)s + b0, (utf8proc_ssize_t)(i - b0), &f) > 0)
				w->capital = utf8proc_category(f) == UTF8PROC_CATEGORY_LU;
		}
		if (w->c == C_OPEN && ci - c0 < 2)
			w->c = C_STOP;
	}
	return 0;
}

/* ---- parts of speech ------------------------------------------------------ */

enum { P_NONE = -1, P_N = 0, P_V = 1, P_A = 2, P_R = 3 };

static int ends_with(const char *w, const char *suf)
{
	size_t a = strlen(w), b = strlen(suf);
	return a > b && !strcmp(w + a - b, suf);
}

/* 1 + tagged uses of word as pos, or 0 when WordNet does not have it so. */
static double pos_score(const struct ts_wordnet *wn, const char *w, enum ts_pos pos, char *lemma, size_t n)
{
	if (!ts_wordnet_morphy(wn, w, pos, lemma, n))
		return 0;
	unsigned c = ts_wordnet_count(wn, lemma, pos), self = 0;
	/* a noun used in the plural ("pants", "glasses") counts its own uses
	 * too, though morphy's lemma ("pant") is the tag */
	if (strcmp(lemma, w) && ts_wordnet_has(wn, w, pos))
		self = ts_wordnet_count(wn, w, pos);
	return 1.0 + (self > c ? self : c);
}

static int adjective_led(const struct ts_wordnet *wn, const char *w)
{
	char l[MAXW];
	double a = pos_score(wn, w, TS_POS_ADJ, l, sizeof(l));
	double nn = pos_score(wn, w, TS_POS_NOUN, l, sizeof(l));
	return a > 2 * nn;
}

/* Is the noun lemma, words [first, last], a place within the thing the
 * phrase names (see place_words)?  Adjectives and modifiers between
 * ("the bottom right corner") are passed over.  Before "of" it is always
 * a place within what follows ("the top of the waffle", "on top of
 * rocks", "the end of the dock"), but for the inside and the outside of a
 * thing, which name what is seen there ("the interior of a temple"). */
static int place_within(const char *lemma, const struct word *ws, size_t first, size_t last, size_t nw)
{
	int place = 0;
	for (int i = 0; place_words[i] && !place; i++)
		place = !strcmp(place_words[i], lemma);
	if (!place)
		return 0;
	int inside = !strcmp(lemma, "interior") || !strcmp(lemma, "exterior");
	if (last + 1 < nw && !ws[last].punct_after && !strcmp(ws[last + 1].low, "of") && !inside)
		return 1;
	size_t j = first;
	for (int k = 0; k < 3 && j > 0 && !ws[j - 1].punct_after && (ws[j - 1].c == C_OPEN || ws[j - 1].c == C_MOD); k++)
		j--;
	if (j == 0 || ws[j - 1].punct_after)
		return 0;
	const struct word *b = &ws[j - 1];
	/* a possessive: "its", or the "s" of "the pole's" */
	if (b->c == C_POSS || (b->c == C_STOP && !strcmp(b->low, "s") && j >= 2 && ws[j - 2].punct_after))
		return 1;
	/* "the": the place of a thing known ("the corners are embellished",
	 * "around the corner") */
	if (!strcmp(b->low, "the") && !inside)
		return 1;
	if (b->c == C_DET && j >= 2 && !ws[j - 2].punct_after)
		b = &ws[j - 2];
	return !strcmp(b->low, "in") || !strcmp(b->low, "at");
}

/* The words [*a0, *a1] of an apposition that restates the sentence's
 * subject: "The sky, a vibrant blue canvas, is devoid of clouds", "The
 * clouds, a mix of wispy and cirrus formations, add texture", "A drizzle
 * of sauce, a thick, creamy yellow substance, graces the waffle": a noun
 * phrase opening the caption, a comma, "a"/"an", and up to the comma after
 * which the verb comes (an auxiliary, or a verb's -s form or bare form;
 * not "and", which makes it a list).  It names no new thing.  Returns 0
 * when there is none. */
static int apposition(const struct ts_wordnet *wn, const struct word *ws, size_t nw, size_t *a0, size_t *a1)
{
	size_t i = 0;
	if (nw < 4 || (ws[0].c != C_DET && ws[0].c != C_POSS && ws[0].c != C_NUM))
		return 0;
	/* the subject: no auxiliary, no comma until its end */
	while (i < nw && !ws[i].punct_after && ws[i].c != C_AUX && ws[i].c != C_CONJ)
		i++;
	if (i >= nw || !ws[i].comma_after || ws[i].c == C_AUX || ws[i].c == C_CONJ || i + 2 >= nw ||
	    (strcmp(ws[i + 1].low, "a") && strcmp(ws[i + 1].low, "an")))
		return 0;
	for (size_t j = i + 2; j + 1 < nw; j++) {
		if (ws[j].c == C_AUX)
			return 0;
		if (!ws[j].punct_after)
			continue;
		if (!ws[j].comma_after)
			return 0;
		const struct word *v = &ws[j + 1];
		char vl[MAXW];
		if (v->c == C_AUX || (v->c == C_OPEN && ts_wordnet_morphy(wn, v->low, TS_POS_VERB, vl, sizeof(vl)) &&
				      !ts_wordnet_has(wn, v->low, TS_POS_ADJ))) {
			*a0 = i + 1;
			*a1 = j;
			return 1;
		}
	}
	return 0;
}

/* Is word `first` in what the caption only supposes: after "might" or
 * "may" in the same phrase ("suggesting it might be in the midst of a
 * meal")? */
static int supposed(const struct word *ws, size_t first)
{
	for (size_t j = first; j > 0 && !ws[j - 1].punct_after; j--)
		if (!strcmp(ws[j - 1].low, "might") || !strcmp(ws[j - 1].low, "may"))
			return 1;
	return 0;
}

/* Does a quotation mark open right after byte b1 (white space between)? */
static int quote_after(const char *s, size_t len, size_t b1)
{
	while (b1 < len && (s[b1] == ' ' || s[b1] == '\t'))
		b1++;
	if (b1 < len && (s[b1] == '"' || s[b1] == '\''))
		return 1;
	/* U+201C, U+2018: E2 80 9C, E2 80 98 */
	return b1 + 2 < len && (unsigned char)s[b1] == 0xe2 && (unsigned char)s[b1 + 1] == 0x80 &&
	       ((unsigned char)s[b1 + 2] == 0x9c || (unsigned char)s[b1 + 2] == 0x98);
}

/* Is the noun phrase ending in word `first` said not to be there: the
 * object of "without", "devoid of" or "free of" ("a sky devoid of any
 * clouds", "a man without a shirt")?  Adjectives, colour words, nouns
 * before it and a determiner or number are passed over. */
static int absent(const struct word *ws, size_t first)
{
	size_t j = first;
	for (int k = 0; k < 5 && j > 0 && !ws[j - 1].punct_after &&
			(ws[j - 1].c == C_OPEN || ws[j - 1].c == C_MOD || ws[j - 1].c == C_NUM || ws[j - 1].c == C_DET);
	     k++)
		j--;
	if (j == 0 || ws[j - 1].punct_after)
		return 0;
	if (!strcmp(ws[j - 1].low, "without"))
		return 1;
	return !strcmp(ws[j - 1].low, "of") && j >= 2 && !ws[j - 2].punct_after &&
	       (!strcmp(ws[j - 2].low, "devoid") || !strcmp(ws[j - 2].low, "free"));
}

static int is_scene(const char *lemma)
{
	for (int i = 0; ts_tag_scene_words[i]; i++)
		if (!strcmp(ts_tag_scene_words[i], lemma))
			return 1;
	return 0;
}

/* Is the noun lemma, ending at word `last`, a thing the picture can show?
 * Mostly concrete uses (at least 0.3 of them); or, when at least half its
 * uses are perceptible (acts, events, shapes, states: "a trick", "a wave",
 * "a shadow"), not a measure of what follows ("a touch of elegance", "a
 * sense of depth"). */
static int visible(const struct ts_tagger *t, const char *lemma, const struct word *ws, size_t last, size_t nw)
{
	if (t->o.all_nouns)
		return 1;
	double c = ts_wordnet_concrete(t->wn, lemma);
	if (c >= 0.3 || c < 0)          /* < 0: not in WordNet, a noun by its place */
		return 1;
	int of_next = last + 1 < nw && !ws[last].punct_after && !strcmp(ws[last + 1].low, "of");
	return !of_next && ts_wordnet_perceptible(t->wn, lemma) >= 0.6;
}

/* Is word j (a noun) the last of a noun phrase a preposition opened, with
 * colour words between ("with red maple")? */
static int after_prep(const struct word *ws, size_t j)
{
	while (j > 0 && ws[j - 1].c == C_MOD && !ws[j - 1].punct_after)
		j--;
	return j >= 1 && ws[j - 1].c == C_PREP && !ws[j - 1].punct_after;
}

/* Does word i, ending in -s after a singular noun, read as that noun's verb
 * ("a cat sleeps", "the girl stands") rather than a plural ("tennis
 * balls")?  Its verb uses outnumber its noun uses, and an open word does
 * not follow. */
static int agreeing_verb(const struct ts_wordnet *wn, const struct word *ws, size_t i, size_t nw)
{
	char vl[MAXW], nl[MAXW], pl[MAXW];
	if (i == 0 || !ends_with(ws[i].low, "s") || ends_with(ws[i].low, "ss") ||
	    !ts_wordnet_morphy(wn, ws[i].low, TS_POS_VERB, vl, sizeof(vl)) || !strcmp(vl, ws[i].low))
		return 0;
	/* the noun before it is singular (its own lemma) and not the object of
	 * a preposition ("with price tags") */
	if (!ts_wordnet_morphy(wn, ws[i - 1].low, TS_POS_NOUN, pl, sizeof(pl)) || strcmp(pl, ws[i - 1].low))
		return 0;
	if (after_prep(ws, i - 1))
		return 0;
	if (i + 1 < nw && !ws[i].punct_after && ws[i + 1].c == C_OPEN)
		return 0;
	unsigned nv = ts_wordnet_count(wn, vl, TS_POS_VERB);
	unsigned nn = ts_wordnet_morphy(wn, ws[i].low, TS_POS_NOUN, nl, sizeof(nl)) ? ts_wordnet_count(wn, nl, TS_POS_NOUN) : 0;
	return nv > nn;
}

/* Is word i a verb's bare form right after a singular noun, which cannot
 * be that noun's verb ("the kiddie train", not "the cat sleeps")? */
static int bare_after_singular(const struct ts_wordnet *wn, const struct word *ws, size_t i)
{
	char vl[MAXW], pl[MAXW];
	if (i == 0 || !ts_wordnet_morphy(wn, ws[i].low, TS_POS_VERB, vl, sizeof(vl)) || strcmp(vl, ws[i].low))
		return 0;
	if (ends_with(ws[i - 1].low, "s"))
		return 0;
	/* plurals without -s that WordNet keeps as lemmas */
	static const char *const plural[] = { "people", "police", "cattle", "folk", "livestock", "poultry", "clergy", NULL };
	for (int k = 0; plural[k]; k++)
		if (!strcmp(ws[i - 1].low, plural[k]))
			return 0;
	if (ts_wordnet_morphy(wn, ws[i - 1].low, TS_POS_NOUN, pl, sizeof(pl)) && strcmp(pl, ws[i - 1].low))
		return 0;
	/* the noun phrase before it: not after a number or a plural
	 * determiner, not the second of two joined by "and" / "or" ("a man
	 * and a woman walk") */
	size_t j = i - 1;
	while (j > 0 && ws[j - 1].c == C_OPEN && !ws[j - 1].punct_after)
		j--;
	if (j > 0 && !ws[j - 1].punct_after) {
		enum cls d = ws[j - 1].c;
		if (d == C_NUM || (d == C_DET && strcmp(ws[j - 1].low, "a") && strcmp(ws[j - 1].low, "an") &&
				   strcmp(ws[j - 1].low, "the") && strcmp(ws[j - 1].low, "this") &&
				   strcmp(ws[j - 1].low, "that") && strcmp(ws[j - 1].low, "each") &&
				   strcmp(ws[j - 1].low, "every") && strcmp(ws[j - 1].low, "another")))
			return 0;
		if (j > 1 && (d == C_DET || d == C_POSS) && !ws[j - 2].punct_after && ws[j - 2].c == C_CONJ)
			return 0;
		if (d == C_CONJ)
			return 0;
	}
	return 1;
}

/* Does the noun lemma name people or animals ("a crowd of people", "a
 * herd of cows": such a collection is seen as one)? */
static int animate(const struct ts_wordnet *wn, const char *lemma)
{
	int lf = ts_wordnet_main_lexfile(wn, lemma);
	return lf == 5 || lf == 18 || !strcmp(lemma, "people") || !strcmp(lemma, "folk");
}

struct cand {
	size_t first, last;        /* words [first, last] */
	char lemma[96];            /* WordNet form, '_' between words */
	int pos;                   /* P_* */
};

/* Is the noun phrase after "of" (word `of`) a bare plural, adjectives and
 * colour words before it and its head the candidate c ("of vegetables",
 * "of orange carrots")? */
static int bare_plural_after(const struct ts_wordnet *wn, const struct word *ws, size_t of, const struct cand *c)
{
	char l[MAXW];
	if (ws[of].punct_after || c->first <= of)
		return 0;
	for (size_t j = of + 1; j < c->first; j++)
		if ((ws[j].c != C_OPEN && ws[j].c != C_MOD) || ws[j].punct_after)
			return 0;
	const char *w = ws[c->last].low;
	return ends_with(w, "s") && ts_wordnet_morphy(wn, w, TS_POS_NOUN, l, sizeof(l)) && strcmp(l, w);
}

/* A one-word noun right before another noun: 2 when it names a thing of
 * its own (a tag itself and the first word of a candidate compound), 1
 * when it only makes a candidate compound, 0 when it is a material or
 * mostly an adjective (neither).  By the lexicographer file of its main
 * sense. */
static int modifier_kind(const struct ts_tagger *t, const struct word *ws, const struct cand *c,
			 const struct cand *head)
{
	if (c->first != c->last || adjective_led(t->wn, ws[c->first].low))
		return 0;
	/* a building material says what the head is made of ("a brick
	 * building", "a stone pillar", "a tile floor", "a cobblestone
	 * street"); the stone of "a stone wall" is WordNet's compound */
	if (ts_wordnet_material(t->wn, c->lemma))
		return 0;
	/* an age or sex before a person or an animal describes it ("adult
	 * zebra", "female hiker", "male cheerleader") */
	if (head && animate(t->wn, head->lemma) && animate(t->wn, c->lemma) &&
	    ts_wordnet_has(t->wn, ws[c->first].low, TS_POS_ADJ))
		return 0;
	switch (ts_wordnet_main_lexfile(t->wn, c->lemma)) {
	case 3:     /* noun.Tops: food, animal, plant as such ("food items") */
	case 5:     /* noun.animal */
	case 6:     /* noun.artifact */
	case 8:     /* noun.body */
	case 15:    /* noun.location */
	case 17:    /* noun.object */
		return 2;
	case 13:    /* noun.food and noun.plant say what the head is made of or
		     * which kind it is ("sauce bowl", "parsley sprig", "lotus
		     * flower") */
	case 20:
	case 4:     /* noun.act */
	case 10:    /* noun.communication */
		return 1;
	default:
		return 0;
	}
}

/* Is the noun c before the noun head, together, a candidate compound?
 * When c only says what kind head is (an act, a food: "stop sign", "game
 * controller"); when c is a thing of its own and a tag itself, only
 * where head alone is a word of many senses that c tells apart ("train
 * track", "rock face", "artillery piece", "dress form"): elsewhere the
 * two words are the candidates ("city street" -> city, street). */
static int pair_kind(const struct ts_tagger *t, const struct word *ws, const struct cand *c, const struct cand *head)
{
	int kind = modifier_kind(t, ws, c, head);
	return kind == 1 || (kind == 2 && ts_wordnet_noun_senses(t->wn, head->lemma) >= 10);
}

/* What the whole caption decides about its words: whether capitalised
 * words are names in it (the return value), which words make up a name,
 * and which "can" is a noun. */
static int mark_words(struct word *ws, size_t nw)
{
	/* A capitalised word inside a sentence, not where a noun phrase
	 * begun by a determiner is still open and not joined to a noun by
	 * "and" ("a shirt and Rollerblades"), is a name ("on Broadway", "in
	 * Sydney, Australia", "Seth Macfarlane"): no tag, unless the caption
	 * capitalises three in four of its words or more. */
	size_t caps = 0, opens = 0;
	for (size_t i = 0; i < nw; i++)
		if (ws[i].c == C_OPEN) {
			opens++;
			caps += (size_t)ws[i].capital;
		}
	int names = caps * 4 < opens * 3;
	/* "can" ending a noun phrase a determiner opened is the thing ("a
	 * Coca-Cola can,", "the trash can is"), not the auxiliary */
	for (size_t i = 1; i < nw; i++) {
		if (strcmp(ws[i].low, "can") || ws[i - 1].punct_after)
			continue;
		size_t j = i;
		while (j > 0 && (ws[j - 1].c == C_OPEN || ws[j - 1].c == C_MOD) && !ws[j - 1].punct_after)
			j--;
		enum cls nx = i + 1 == nw || ws[i].punct_after ? C_PUNCT : ws[i + 1].c;
		if (j < i && j > 0 && !ws[j - 1].punct_after &&
		    (ws[j - 1].c == C_DET || ws[j - 1].c == C_POSS || ws[j - 1].c == C_NUM) &&
		    (nx == C_PUNCT || nx == C_PREP || nx == C_CONJ || nx == C_AUX)) {
			ws[i].c = C_OPEN;
			ws[i].noun = 1;
		}
	}
	/* two or more capitalised words in a row are one name, wherever they
	 * stand ("a Hello Kitty phone", "the Rite Aid pharmacy", "Seth
	 * Macfarlane"): no tags */
	for (size_t i = 0; names && i + 1 < nw; i++) {
		size_t j = i;
		while (j < nw && ws[j].capital && ws[j].c == C_OPEN && (j == i || !ws[j - 1].punct_after))
			j++;
		if (j - i >= 2)
			for (size_t k = i; k < j; k++)
				ws[k].in_name = 1;
		if (j > i)
			i = j - 1;
	}
	return names;
}

/* Do words i and i + 1 make two words that WordNet has as an adjective
 * or adverb and not as a noun ("upside down", "close up")?  They are
 * neither tags nor context for one. */
static int adverb_pair(const struct ts_wordnet *wn, const struct word *ws, size_t nw, size_t i)
{
	const struct word *w = &ws[i];
	char key[96];
	size_t m0 = strlen(w->low), m1 = i + 1 < nw ? strlen(ws[i + 1].low) : 0;
	if (i + 1 < nw && !w->punct_after && m0 + m1 + 2 <= sizeof(key)) {
		memcpy(key, w->low, m0);
		key[m0] = '_';
		memcpy(key + m0 + 1, ws[i + 1].low, m1 + 1);
		return !ts_wordnet_has(wn, key, TS_POS_NOUN) &&
		       (ts_wordnet_has(wn, key, TS_POS_ADJ) || ts_wordnet_has(wn, key, TS_POS_ADV));
	}
	return 0;
}

/* The noun compound of two to four words starting at word i, longest
 * first, or two words WordNet writes as one, into *c: the number of
 * words it takes, 0 when there is none. */
static size_t compound_at(const struct ts_tagger *t, const struct word *ws, size_t nw, size_t i,
			  struct cand *c)
{
	const struct ts_wordnet *wn = t->wn;
	const struct word *w = &ws[i];
	char key[96], last[96];

	/* compounds, longest first */
	for (size_t k = 4; k >= 2; k--) {
		if (i + k > nw)
			continue;
		int ok = 1;
		size_t o = 0;
		for (size_t j = i; j < i + k && ok; j++) {
			ok = ws[j].c == C_OPEN && (j == i + k - 1 || !ws[j].punct_after);
			if (ok && j < i + k - 1) {
				size_t l = strlen(ws[j].low);
				ok = o + l + 1 < sizeof(key);
				if (ok) {
					memcpy(key + o, ws[j].low, l);
					o += l;
					key[o++] = '_';
				}
			}
		}
		if (!ok)
			continue;
		const char *lw = ws[i + k - 1].low;
		size_t l = strlen(lw);
		if (o + l + 1 >= sizeof(key))
			continue;
		memcpy(key + o, lw, l + 1);
		if (!ts_wordnet_morphy(wn, key, TS_POS_NOUN, last, sizeof(last))) {
			/* lemmatise the last word alone */
			char ll[MAXW];
			if (!ts_wordnet_morphy(wn, lw, TS_POS_NOUN, ll, sizeof(ll)) || o + strlen(ll) + 1 >= sizeof(key))
				continue;
			memcpy(key + o, ll, strlen(ll) + 1);
			if (!ts_wordnet_has(wn, key, TS_POS_NOUN))
				continue;
			snprintf(last, sizeof(last), "%s", key);
		}
		/* led by an adjective, the compound is its head noun ("young
		 * man" is a man); not when an -ing word leads it ("dining
		 * table", "living room") */
		if (adjective_led(wn, ws[i].low) && !ends_with(ws[i].low, "ing"))
			continue;
		/* a compound that is not a thing to see, or whose last word is
		 * its first noun's verb ("cat sleeps" is not the catnap), does
		 * not swallow its words: they are taken one by one; a scene
		 * compound does, and goes with the scene words ("takes center
		 * stage", "the focal point") */
		if (agreeing_verb(wn, ws, i + k - 1, nw) || (!is_scene(last) && !visible(t, last, ws, i + k - 1, nw)))
			continue;
		c->first = i;
		c->last = i + k - 1;
		c->pos = P_N;
		snprintf(c->lemma, sizeof(c->lemma), "%s", last);
		return k;
	}
	/* two words WordNet writes as one ("sand castle" -> sandcastle,
	 * "drain pipe" -> drainpipe) */
	if (i + 1 < nw && ws[i + 1].c == C_OPEN && !w->punct_after &&
	    strlen(w->low) + strlen(ws[i + 1].low) + 1 < sizeof(key)) {
		char ll[MAXW];
		size_t l0 = strlen(w->low), l1 = strlen(ws[i + 1].low);
		memcpy(key, w->low, l0);
		memcpy(key + l0, ws[i + 1].low, l1 + 1);
		if (ts_wordnet_morphy(wn, key, TS_POS_NOUN, ll, sizeof(ll)) && strlen(ll) > strlen(w->low) + 2 &&
		    !adjective_led(wn, w->low) && !agreeing_verb(wn, ws, i + 1, nw) &&
		    (is_scene(ll) ? t->o.keep_scene_words : visible(t, ll, ws, i + 1, nw))) {
			c->first = i;
			c->last = i + 1;
			c->pos = P_N;
			snprintf(c->lemma, sizeof(c->lemma), "%s", ll);
			return 2;
		}
	}
	return 0;
}

/* The left context of the word being classified. */
struct scan {
	int prev_cls, prev_pos;     /* the class of the previous unit, and its part of speech */
	int np_open;                /* after a determiner, number or possessive and adjectives only */
	int noun_before_conj;       /* the word before the conjunction just passed was a noun */
};

/* One word, i: the best-scoring part of speech in its context (P_*,
 * P_NONE for none), and as a noun its lemma in ln. */
static int word_pos(const struct ts_wordnet *wn, const struct word *ws, size_t nw, size_t i,
		    const struct scan *sc, char ln[MAXW])
{
	const struct word *w = &ws[i];
	char lx[MAXW];
	double s[4];
	s[P_N] = pos_score(wn, w->low, TS_POS_NOUN, ln, MAXW);
	s[P_V] = pos_score(wn, w->low, TS_POS_VERB, lx, sizeof(lx));
	s[P_A] = pos_score(wn, w->low, TS_POS_ADJ, lx, sizeof(lx));
	s[P_R] = pos_score(wn, w->low, TS_POS_ADV, lx, sizeof(lx));
	if (sc->prev_cls == C_DET || sc->prev_cls == C_NUM || sc->prev_cls == C_POSS) {
		s[P_N] *= 4;
		s[P_A] *= 2;
		s[P_V] *= 0.1;
		s[P_R] *= 0.1;          /* "the well" */
	} else if (sc->prev_cls == C_PREP) {
		s[P_N] *= 3;
		s[P_V] *= 0.3;
	} else if (sc->prev_cls == C_TO) {
		s[P_V] *= 2;
	} else if (sc->prev_cls == C_CONJ && sc->noun_before_conj && !adjective_led(wn, w->low)) {
		/* "a jacket and pants", "buttons, dials, and knobs": the same
		 * kind as before "and" or the comma, unless mostly an adjective,
		 * or a bare word after the comma that a preposition follows: a
		 * participle opening a phrase (", set against a backdrop") */
		if (!(ws[i - 1].comma_after && i + 1 < nw && !w->punct_after && ws[i + 1].c == C_PREP))
			s[P_N] *= 3;
	} else if (sc->prev_cls == C_AUX) {
		if (ends_with(w->low, "ing") || ends_with(w->low, "ed"))
			s[P_N] *= 0.05;
	} else if (sc->prev_cls == C_OPEN && sc->prev_pos == P_A) {
		s[P_N] *= 3;
		/* "the large brown bear": a noun phrase begun by a determiner
		 * and only adjectives since has its noun still to come */
		s[P_V] *= sc->np_open ? 0.01 : 0.05;
	} else if (sc->prev_cls == C_OPEN && sc->prev_pos == P_V) {
		/* the object of the verb before ("enjoying drinks"); an
		 * adverb ending the phrase ("pulled back,") */
		s[P_N] *= 3;
		s[P_V] *= 0.3;
		if (i + 1 == nw || w->punct_after || ws[i + 1].c == C_CONJ)
			s[P_R] *= 3;
		/* an -ing word after a verb is its complement ("seen
		 * standing", "is seen snorkeling") */
		if (ends_with(w->low, "ing"))
			s[P_N] *= 0.05;
	} else if (sc->prev_cls == C_OPEN && sc->prev_pos == P_R) {
		/* after an adverb, an adjective or a verb ("slightly open",
		 * "waves that gently lap") */
		s[P_N] *= 0.1;
	} else if (sc->prev_cls == C_OPEN && sc->prev_pos == P_N) {
		s[P_V] *= agreeing_verb(wn, ws, i, nw) ? 8 : bare_after_singular(wn, ws, i) ? 0.1 : 2;
		/* an -s form ending the object of a preposition is its plural
		 * noun, not a verb ("with red maple leaves,") */
		if (ends_with(w->low, "s") && after_prep(ws, i - 1) && (i + 1 == nw || w->punct_after))
			s[P_V] *= 0.01;
	}
	/* an -ing word that is a noun in its own right ("building",
	 * "clothing"), not only a verb form */
	if (ends_with(w->low, "ing") && !strcmp(ln, w->low) && sc->prev_cls != C_AUX &&
	    ts_wordnet_count(wn, ln, TS_POS_NOUN) >= 5)
		s[P_N] *= 4;
	int end = i + 1 == nw || w->punct_after;
	enum cls next = end ? C_PUNCT : ws[i + 1].c;
	/* "that", "which" after a noun begin a clause about it, no object */
	if (next == C_DET && (!strcmp(ws[i + 1].low, "that") || !strcmp(ws[i + 1].low, "which") ||
			      !strcmp(ws[i + 1].low, "what") || !strcmp(ws[i + 1].low, "whose")))
		next = C_PRON;
	if (!end && (next == C_DET || next == C_NUM || next == C_POSS))
		s[P_V] *= 3;
	if (end || next == C_PREP || next == C_CONJ || next == C_AUX)
		s[P_N] *= 1.5;
	/* an auxiliary does not follow a verb ("the stop sign is") */
	if (!end && next == C_AUX)
		s[P_V] *= 0.1;
	/* an -s form right before a determiner or possessive is a verb
	 * taking its object ("the backdrop features a fence"): a plural
	 * noun is not followed by one */
	if (!end && (next == C_DET || next == C_POSS) && ends_with(w->low, "s") &&
	    ts_wordnet_morphy(wn, w->low, TS_POS_VERB, lx, sizeof(lx)) && strcmp(lx, w->low))
		s[P_V] *= 10;
	/* an adjective after an adjective needs a noun after it: at the
	 * end of the phrase the word is that noun ("white soles and") */
	if (sc->prev_cls == C_OPEN && sc->prev_pos == P_A && (end || (next != C_OPEN && next != C_MOD)))
		s[P_A] *= 0.1;
	/* before a colour word, an adjective ("a lush green", "glossy red") */
	if (!end && next == C_MOD && s[P_A] > 0)
		s[P_N] *= 0.1;
	/* before a comma, an adjective or a past participle that WordNet
	 * has as no noun and another word: one of two adjectives of the
	 * noun to come ("dark, charred dirt", "a thick, creamy sauce") */
	if (w->comma_after && s[P_A] > 0 && i + 2 < nw && !ws[i + 1].punct_after &&
	    (ws[i + 2].c == C_OPEN || ws[i + 2].c == C_MOD) &&
	    (ws[i + 1].c == C_MOD ||
	     (ws[i + 1].c == C_OPEN && !ts_wordnet_morphy(wn, ws[i + 1].low, TS_POS_NOUN, lx, sizeof(lx)) &&
	      (ts_wordnet_has(wn, ws[i + 1].low, TS_POS_ADJ) ||
	       (ends_with(ws[i + 1].low, "ed") && ts_wordnet_morphy(wn, ws[i + 1].low, TS_POS_VERB, lx, sizeof(lx)))))))
		s[P_N] *= 0.1;
	if (w->noun && s[P_N] > 0)
		s[P_V] = s[P_A] = s[P_R] = 0;
	int best = P_NONE;
	for (int p = 0; p < 4; p++)
		if (s[p] > 0 && (best == P_NONE || s[p] > s[best]))
			best = p;
	/* a past participle right before a noun describes it ("fallen
	 * leaves", "parked cars"); not after an auxiliary, where it is
	 * the verb ("can be seen standing") */
	if (best == P_V && !end && ws[i + 1].c == C_OPEN && !ends_with(w->low, "s") && sc->prev_cls != C_AUX &&
	    !ends_with(w->low, "ing") && ts_wordnet_morphy(wn, w->low, TS_POS_VERB, lx, sizeof(lx)) &&
	    strcmp(lx, w->low) && ts_wordnet_morphy(wn, ws[i + 1].low, TS_POS_NOUN, lx, sizeof(lx)))
		best = P_A;
	/* a word WordNet does not have at all, where a noun phrase still
	 * needs its noun ("a biker", "the Dreamliner"): a noun, its plural
	 * -s dropped; not a hyphenated one, which is a made-up modifier
	 * ("a high-angle shot", "a fair-skinned man") unless a verb
	 * follows it, or a word that is no word of a noun phrase ("a gold
	 * rolls-royce parked") */
	size_t wl = strlen(w->low);
	char nx[MAXW];
	int hyphen_ok = !strchr(w->low, '-') ||
			(!w->comma_after && (end || (ws[i + 1].c != C_OPEN && ws[i + 1].c != C_MOD) ||
					     (ws[i + 1].c == C_OPEN && !ts_wordnet_morphy(wn, ws[i + 1].low, TS_POS_NOUN, nx, sizeof(nx)) &&
					      ts_wordnet_morphy(wn, ws[i + 1].low, TS_POS_VERB, nx, sizeof(nx)) && strcmp(nx, ws[i + 1].low))));
	if (best == P_NONE && sc->np_open && wl >= 3 && isalpha((unsigned char)w->low[0]) && hyphen_ok &&
	    !ts_wordnet_has(wn, w->low, TS_POS_VERB) && !ts_wordnet_has(wn, w->low, TS_POS_ADJ)) {
		snprintf(ln, MAXW, "%s", w->low);
		if (wl > 3 && ln[wl - 1] == 's' && ln[wl - 2] != 's')
			ln[wl - 1] = 0;
		best = P_N;
	}
	return best;
}

/* The candidates of a caption of nw words, in order, into cs (room for
 * nw): compounds, then single nouns by their part of speech in context.
 * Returns their number. */
static size_t scan_candidates(const struct ts_tagger *t, struct word *ws, size_t nw, int names,
			      struct cand *cs)
{
	const struct ts_wordnet *wn = t->wn;
	size_t nc = 0;
	/* the context of each position */
	struct scan sc = { C_PUNCT, P_NONE, 0, 0 };
	for (size_t i = 0; i < nw;) {
		struct word *w = &ws[i];
		int boundary_before = i == 0 || ws[i - 1].punct_after;
		if (boundary_before) {
			/* a list: "buttons, dials, and knobs" */
			sc.noun_before_conj = i > 0 && ws[i - 1].comma_after && sc.prev_cls == C_OPEN && sc.prev_pos == P_N &&
					      nc > 0 && cs[nc - 1].last == i - 1;
			sc.prev_cls = sc.noun_before_conj ? C_CONJ : C_PUNCT;
			sc.prev_pos = P_NONE;
			sc.np_open = 0;
		}
		/* a colour word or direction: an adjective for the context, except
		 * a colour that is a thing right after "a"/"an" and alone ("an
		 * orange.", "a lime and a lemon") */
		if (w->c == C_MOD && !(i > 0 && !ws[i - 1].punct_after &&
				       (!strcmp(ws[i - 1].low, "a") || !strcmp(ws[i - 1].low, "an")) &&
				       (i + 1 == nw || w->punct_after || ws[i + 1].c != C_OPEN))) {
			sc.prev_cls = C_OPEN;
			sc.prev_pos = P_A;
			i++;
			continue;
		}
		if (w->c != C_OPEN && w->c != C_MOD) {
			/* "that" or "which" right after a noun begins a clause about
			 * it: what follows is its verb ("lines that form a pattern") */
			int rel = i > 0 && !ws[i - 1].punct_after && sc.prev_cls == C_OPEN && sc.prev_pos == P_N &&
				  (!strcmp(w->low, "that") || !strcmp(w->low, "which"));
			sc.np_open = !rel && (w->c == C_DET || w->c == C_NUM || w->c == C_POSS);
			sc.noun_before_conj = w->c == C_CONJ &&
					      ((sc.prev_cls == C_OPEN && sc.prev_pos == P_N && nc > 0 && cs[nc - 1].last == i - 1) ||
					       (sc.prev_cls == C_CONJ && sc.noun_before_conj));
			sc.prev_cls = rel ? C_PRON : (int)w->c;
			sc.prev_pos = P_NONE;
			i++;
			continue;
		}
		if (w->in_name) {
			sc.prev_cls = C_OPEN;
			sc.prev_pos = P_N;
			sc.np_open = 0;
			i++;
			continue;
		}
		if (adverb_pair(wn, ws, nw, i)) {
			sc.prev_cls = C_OPEN;
			sc.prev_pos = P_A;
			i += 2;
			continue;
		}
		size_t got = compound_at(t, ws, nw, i, &cs[nc]);
		nc += got > 0;
		if (got) {
			sc.prev_cls = C_OPEN;
			sc.prev_pos = P_N;
			sc.np_open = 0;
			i += got;
			continue;
		}
		/* a name before a noun or a number of its phrase is a name even
		 * where a noun phrase is open: it says which one, and the noun
		 * is the thing ("the Pepsi logo", "a Boeing 787 Dreamliner", "a
		 * Mohawk style haircut") */
		char nl[MAXW];
		int name_before = names && w->capital && i + 1 < nw && !w->punct_after &&
				  (ws[i + 1].c == C_NUM ||
				   (ws[i + 1].c == C_OPEN && ts_wordnet_morphy(wn, ws[i + 1].low, TS_POS_NOUN, nl, sizeof(nl))));
		if (names && w->capital && i > 0 && !ws[i - 1].stop_after && (!sc.np_open || name_before) &&
		    !(sc.prev_cls == C_CONJ && sc.noun_before_conj)) {
			sc.prev_cls = C_OPEN;
			sc.prev_pos = P_N;
			i++;
			continue;
		}
		/* one word: the best-scoring part of speech in context */
		char ln[MAXW];
		int best = word_pos(wn, ws, nw, i, &sc, ln);
		if (best == P_N) {
			struct cand *c = &cs[nc++];
			c->first = c->last = i;
			c->pos = P_N;
			snprintf(c->lemma, sizeof(c->lemma), "%s", ln);
		}
		sc.np_open = sc.np_open && best == P_A;
		sc.prev_cls = C_OPEN;
		sc.prev_pos = best;
		i++;
	}
	return nc;
}

/* Judge each candidate: ok[k] is 1 for a thing to see, 2 for a noun
 * joined by "and" or "or" to one, 0 for the rest (scene words, abstract
 * nouns, places within a thing, things said to be absent). */
static void judge_candidates(const struct ts_tagger *t, const char *caption, size_t len,
			     const struct word *ws, size_t nw, const struct cand *cs, size_t nc, int *ok)
{
	const struct ts_wordnet *wn = t->wn;
	size_t ap0 = 0, ap1 = 0;
	int appos = !t->o.all_nouns && apposition(wn, ws, nw, &ap0, &ap1);
	for (size_t k = 0; k < nc; k++) {
		const struct cand *c = &cs[k];
		int scene = is_scene(c->lemma);
		ok[k] = scene ? t->o.keep_scene_words : visible(t, c->lemma, ws, c->last, nw);
		if (ok[k] && !t->o.keep_scene_words && place_within(c->lemma, ws, c->first, c->last, nw))
			ok[k] = 0;
		/* a noun right before a quotation names the text quoted ("the
		 * number "72"", "the words "AMC"") */
		if (!ok[k] && !scene && quote_after(caption, len, ws[c->last].b1))
			ok[k] = 1;
		if (ok[k] && !t->o.all_nouns && (absent(ws, c->first) || supposed(ws, c->first)))
			ok[k] = 0;
		if (appos && c->first >= ap0 && c->last <= ap1)
			ok[k] = 0;
	}
	/* a noun joined by "and" or "or" to a thing to see is one of the same
	 * kind ("names and numbers", "numbers and letters") */
	for (size_t k = 0; k < nc; k++) {
		const struct cand *c = &cs[k];
		if (ok[k] || is_scene(c->lemma) || place_within(c->lemma, ws, c->first, c->last, nw) ||
		    absent(ws, c->first))
			continue;
		for (int d = -1; d <= 1; d += 2) {
			if ((d < 0 && k == 0) || (d > 0 && k + 1 >= nc))
				continue;
			const struct cand *a = d < 0 ? &cs[k - 1] : c, *b = d < 0 ? c : &cs[k + 1];
			size_t j = a->last + 1;
			if (ok[k + (size_t)d] == 1 && b->first == j + 1 && !ws[a->last].punct_after &&
			    !ws[j].punct_after && (!strcmp(ws[j].low, "and") || !strcmp(ws[j].low, "or")))
				ok[k] = 2;
		}
	}
}

/* Keep, in place, the judged candidates that are tags: not a modifier
 * left alone, not a collection or measure of what follows "of", not of a
 * colour.  Returns how many are kept. */
static size_t keep_candidates(const struct ts_tagger *t, const struct word *ws, size_t nw,
			      struct cand *cs, size_t nc, const int *ok)
{
	const struct ts_wordnet *wn = t->wn;
	size_t keep = 0;
	for (size_t k = 0; k < nc; k++) {
		struct cand *c = &cs[k];
		if (!ok[k])
			continue;
		/* a modifier left alone because its noun was not a thing, and
		 * itself rather an adjective ("rustic charm", "a lush layer") */
		if (!t->o.all_nouns && c->first == c->last && k + 1 < nc && cs[k + 1].first == c->last + 1 &&
		    !ws[c->last].punct_after && !ok[k + 1]) {
			char al[MAXW];
			double a = pos_score(wn, ws[c->last].low, TS_POS_ADJ, al, sizeof(al));
			double nn = pos_score(wn, ws[c->last].low, TS_POS_NOUN, al, sizeof(al));
			if (a > 0 && a >= nn)
				continue;
			/* or a word WordNet lacks, a noun only by its place ("a bokeh
			 * effect") */
			if (nn == 0)
				continue;
		}
		int of_next = c->last + 1 < nw && !ws[c->last].punct_after && !strcmp(ws[c->last + 1].low, "of");
		/* a collection of what follows: the things are the tags ("a
		 * variety of houses", "a cluster of orchids") */
		if (!t->o.all_nouns && of_next && ts_wordnet_collective(wn, c->lemma) >= 0.5 &&
		    !(k + 1 < nc && animate(wn, cs[k + 1].lemma)))
			continue;
		/* so is a noun that is not a made thing or a place before "of"
		 * and a bare plural: it measures or arranges them ("a medley of
		 * vegetables", "a range of mountains", "lumps of apples"; not "a
		 * bowl of apples", "a field of flowers", "a group of trees") */
		if (!t->o.all_nouns && of_next && k + 1 < nc && !is_scene(c->lemma) && !animate(wn, cs[k + 1].lemma) &&
		    bare_plural_after(wn, ws, c->last + 1, &cs[k + 1])) {
			int lf = ts_wordnet_main_lexfile(wn, c->lemma);
			if (lf != 3 && lf != 6 && lf != 15)     /* noun.Tops ("a group of"), artifact, location */
				continue;
		}
		/* of a colour, not a thing ("a mix of red, yellow, and blue", "a
		 * pop of green to"): a colour word after "of" that no noun follows */
		if (!t->o.all_nouns && of_next && c->last + 2 < nw && ws[c->last + 2].c == C_MOD &&
		    (ws[c->last + 2].punct_after || c->last + 3 == nw || ws[c->last + 3].c != C_OPEN))
			continue;
		if (!t->o.all_nouns && of_next) {
			/* the head of the noun phrase after "of", in the same phrase */
			size_t h = k + 1;
			int punct = 0;
			if (h < nc)
				for (size_t j = c->last + 1; j < cs[h].first && !punct; j++)
					punct = ws[j].punct_after;
			if (h >= nc || punct)        /* nothing after it we can judge: kept */
				goto keep_it;
			while (h + 1 < nc && cs[h + 1].first == cs[h].last + 1 && !ws[cs[h].last].punct_after)
				h++;
			if (!ok[h])
				continue;
		}
keep_it:
		cs[keep++] = *c;
	}
	return keep;
}

/* Adjacent nouns: the last is the head and a tag.  A noun before it
 * that names a thing of its own (an animal, object, body part, food,
 * place, plant: "city street", "sprinkler mat") is a tag too, and the
 * two together are a candidate compound WordNet does not list ("train
 * track", "stop sign", "game controller"), also from an act ("stop",
 * "game") or a communication ("graffiti"); not from a material ("brick
 * building") or a word that is mostly an adjective.
 * The candidates that remain, into a new array of *no; NULL when out of
 * memory. */
static struct cand *head_pairs(const struct ts_tagger *t, const struct word *ws, const struct cand *cs,
			       size_t nc, size_t *no_out)
{
	struct cand *out = calloc(3 * nc + 1, sizeof(*out));
	size_t no = 0;
	if (!out)
		return NULL;
	for (size_t k = 0; k < nc; k++) {
		const struct cand *c = &cs[k];
		int modifier = k + 1 < nc && cs[k + 1].first == c->last + 1 && !ws[c->last].punct_after;
		if (k > 0 && cs[k - 1].last + 1 == c->first && !ws[cs[k - 1].last].punct_after &&
		    !modifier && pair_kind(t, ws, &cs[k - 1], c)) {
			struct cand *d = &out[no++];
			d->first = cs[k - 1].first;
			d->last = c->last;
			d->pos = P_N;
			snprintf(d->lemma, sizeof(d->lemma), "%s_%s", ws[cs[k - 1].first].low, c->lemma);
		}
		if (modifier && modifier_kind(t, ws, c, &cs[k + 1]) < 2)
			continue;
		/* the thing of its own that makes a pair with a head of many
		 * senses is part of that one name ("train track", "rock face") */
		if (modifier && !(k + 2 < nc && cs[k + 2].first == cs[k + 1].last + 1 && !ws[cs[k + 1].last].punct_after) &&
		    pair_kind(t, ws, c, &cs[k + 1]))
			continue;
		out[no++] = *c;
	}
	*no_out = no;
	return out;
}

/* The tags of the candidates cs into tags: lemma, spans in code points
 * and bytes and, with bpe, in CLIP tokens.  For a caption of ASCII without '&' (most), cleaning is
 * only dropping control characters, collapsing white space and
 * lower-casing, so each caption byte has a known place in the cleaned
 * text, and one tokenization with the pieces' offsets gives every span:
 * the tokens whose piece starts before the tag's cleaned start or end.
 * Otherwise the prefixes up to each tag's ends are tokenized. */
static int tag_spans(const struct ts_tagger *t, struct ts_bpe_ctx *bpe, const char *caption, size_t len,
		     const struct word *ws, const struct cand *cs, size_t nc, struct ts_tag *tags,
		     struct ts_err *err)
{
	int rc;
	const uint32_t *piece = NULL;
	size_t *cpos = NULL, ntok = 0;
	int plain = bpe && nc > 0;
	for (size_t i = 0; plain && i < len; i++)
		plain = (uint8_t)caption[i] < 0x80 && caption[i] != '&';
	if (plain && (cpos = malloc((len + 1) * sizeof(*cpos)))) {
		size_t o = 0;
		int pending = 0;
		for (size_t i = 0; i < len; i++) {
			uint8_t b = (uint8_t)caption[i];
			cpos[i] = o + (pending && b > ' ' && b != 0x7f ? 1 : 0);
			if (b == ' ' || (b >= '\t' && b <= '\r' && b != 0x0b)) {
				pending = o > 0;
				continue;
			}
			if (b < 0x20 || b == 0x7f)
				continue;
			o += (size_t)pending + 1;
			pending = 0;
		}
		cpos[len] = o;
		const int32_t *ids;
		const char *clean;
		size_t cl;
		if ((rc = ts_bpe_encode(bpe, caption, len, &ids, &ntok, err))) {
			free(cpos);
			return rc;
		}
		ts_bpe_last_pieces(bpe, &clean, &cl, &piece);
		if (cl != o) {                 /* not the cleaning assumed: the slow way */
			free(cpos);
			cpos = NULL;
		}
	}
	for (size_t k = 0; k < nc; k++) {
		struct ts_tag *g = &tags[k];
		const struct cand *c = &cs[k];
		snprintf(g->lemma, sizeof(g->lemma), "%s", c->lemma);
		for (char *p = g->lemma; *p; p++)
			if (*p == '_')
				*p = ' ';
		g->byte_start = ws[c->first].b0;
		g->byte_end = ws[c->last].b1;
		g->char_start = ws[c->first].c0;
		g->char_end = ws[c->last].c1;
		if (bpe && cpos) {
			size_t cs0 = cpos[g->byte_start], ce0 = cpos[g->byte_end], a = 0, b;
			/* the tag's cleaned end: after its last character */
			if (g->byte_end > g->byte_start)
				ce0 = cpos[g->byte_end - 1] + 1;
			while (a < ntok && piece[a] < cs0)
				a++;
			b = a;
			while (b < ntok && piece[b] < ce0)
				b++;
			g->tok_start = 1 + a;
			g->tok_end = 1 + b;
			g->truncated = g->tok_end > t->o.context - 1;
		} else if (bpe) {
			const int32_t *ids;
			size_t a, b;
			if ((rc = ts_bpe_encode(bpe, caption, g->byte_start, &ids, &a, err)) ||
			    (rc = ts_bpe_encode(bpe, caption, g->byte_end, &ids, &b, err)))
				return rc;
			g->tok_start = 1 + a;
			g->tok_end = 1 + b;
			g->truncated = g->tok_end > t->o.context - 1;
		}
	}
	free(cpos);
	return TS_OK;
}

int ts_tags_extract(const struct ts_tagger *t, struct ts_bpe_ctx *bpe, const char *caption,
		    size_t len, struct ts_tag **tags, size_t *n, struct ts_err *err)
{
	struct word *ws = NULL;
	struct cand *cs = NULL, *pairs = NULL;
	int *ok = NULL;
	size_t nw = 0, cap = 0, nc = 0;
	int rc = TS_OK;

	*tags = NULL;
	*n = 0;
	if (split_words(caption, len, &ws, &nw, &cap) ||
	    (nw && !(cs = calloc(nw, sizeof(*cs)))))
		goto nomem;
	int names = mark_words(ws, nw);
	nc = scan_candidates(t, ws, nw, names, cs);
	/* scene words and abstract nouns go first; then a noun measuring what
	 * follows "of" when that is not a thing ("a touch of elegance", "a pop
	 * of green", "the corner of the frame"); then, of adjacent nouns that
	 * are left, the last is the head */
	if (nc && !(ok = malloc(nc * sizeof(*ok))))
		goto nomem;
	judge_candidates(t, caption, len, ws, nw, cs, nc, ok);
	nc = keep_candidates(t, ws, nw, cs, nc, ok);
	if (!(pairs = head_pairs(t, ws, cs, nc, &nc)) ||
	    (nc && !(*tags = calloc(nc, sizeof(**tags)))))
		goto nomem;
	if ((rc = tag_spans(t, bpe, caption, len, ws, pairs, nc, *tags, err))) {
		free(*tags);
		*tags = NULL;
		goto out;
	}
	*n = nc;
	goto out;
nomem:
	rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
out:
	free(ws);
	free(cs);
	free(ok);
	free(pairs);
	return rc;
}
