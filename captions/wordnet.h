/*
 * wordnet.h - the parts of WordNet 3.0 (Debian wordnet-base) tessera's tag
 * extractor reads: which lemmas are nouns (and noun compounds), verbs,
 * adjectives, adverbs; WordNet's own lemmatiser (morphy: the exception
 * lists, then the suffix rules); how often each lemma is used as each part
 * of speech in the semantic concordance (cntlist.rev); and whether a
 * noun's uses are mostly concrete (the lexicographer files of its senses).
 *
 * Read-only after ts_wordnet_load: share one between threads.
 */
#ifndef TS_WORDNET_H
#define TS_WORDNET_H

#include <stddef.h>

#include "base/ts_error.h"

#define TS_WORDNET_DEFAULT_DIR "/usr/share/wordnet"

enum ts_pos { TS_POS_NOUN = 0, TS_POS_VERB = 1, TS_POS_ADJ = 2, TS_POS_ADV = 3 };

struct ts_wordnet;

/* Load from dir (NULL: TS_WORDNET_DEFAULT_DIR).  A missing directory or
 * file, or one that is not WordNet's, is a clear error. */
int ts_wordnet_load(struct ts_wordnet **out, const char *dir, struct ts_err *err);
void ts_wordnet_free(struct ts_wordnet *wn);   /* accepts NULL */

/* Is lemma (lower case, words joined by '_') in WordNet as pos? */
int ts_wordnet_has(const struct ts_wordnet *wn, const char *lemma, enum ts_pos pos);

/* WordNet's morphy: the base form of word as pos, into out (size n): its
 * exception-list base ("men" -> "man"), else the first suffix rule whose
 * result WordNet has ("dogs" -> "dog", "arms" -> "arm"), else the word
 * itself when WordNet has it ("scissors").  Returns 1 when found. */
int ts_wordnet_morphy(const struct ts_wordnet *wn, const char *word, enum ts_pos pos,
		      char *out, size_t n);

/* Tagged uses of lemma as pos in the semantic concordance (cntlist.rev;
 * adjective satellites count as adjectives); 0 when never tagged. */
unsigned ts_wordnet_count(const struct ts_wordnet *wn, const char *lemma, enum ts_pos pos);

/* Share (0..1) of the noun lemma's tagged uses whose sense can be seen
 * (lexicographer files Tops, animal, artifact, body, communication, food,
 * group, location, object, person, phenomenon, plant, substance); for a
 * lemma never tagged, the share of its senses that are.  -1 when lemma is
 * not a noun. */
double ts_wordnet_concrete(const struct ts_wordnet *wn, const char *lemma);

/* The same share counting also the senses that are acts, events, shapes
 * and states (noun.act, noun.event, noun.shape, noun.state: a trick, a
 * wave, a groove, a shadow): what can be seen happening or taking shape. */
double ts_wordnet_perceptible(const struct ts_wordnet *wn, const char *lemma);

/* Share of the noun lemma's tagged uses in noun.group, collections ("a
 * variety", "a cluster", "a row"); 0 for a noun never tagged, -1 when lemma
 * is not a noun. */
double ts_wordnet_collective(const struct ts_wordnet *wn, const char *lemma);

/* The lexicographer file number of the noun lemma's most used sense (its
 * first sense when the concordance never tagged it): 6 noun.artifact, 27
 * noun.substance, ...; -1 when lemma is not a noun. */
int ts_wordnet_main_lexfile(const struct ts_wordnet *wn, const char *lemma);

/* Is one of the noun lemma's two most used senses a building material
 * (WordNet's building_material and the synsets below it: brick, stone,
 * tile, cobblestone, concrete, plank)?  Before another noun such a word
 * says what the thing is made of ("a brick building"). */
int ts_wordnet_material(const struct ts_wordnet *wn, const char *lemma);
/* How many senses WordNet gives the noun lemma (0 when it is no noun). */
unsigned ts_wordnet_noun_senses(const struct ts_wordnet *wn, const char *lemma);
#endif
