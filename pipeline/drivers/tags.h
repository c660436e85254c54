/*
 * tags.h - the drivers behind `tessera tags` (docs/tags.md): candidate tags
 * for every caption of a dataset (KEY.tags.json, a composite's region map
 * KEY.mask.png, the catalog's tags rows), imported model scores, the
 * selected training feed, one tag's mask, and the statistics.
 * cmd_tags.c only fills the options, prints and chooses exit codes.
 *
 * The three rewrites (tags, import-scores, select) go through rewrite.c,
 * each sample's work on a worker of its ordered pool: what they write
 * never depends on `threads`.  Each returns TS_OK, TS_RW_INTERRUPTED
 * (SIGINT or SIGTERM before anything was decided) or a negative status
 * with err set; the others TS_OK or negative with err set.  Nothing here
 * prints except the rewrite's progress line and its ts_info notes.
 */
#ifndef TS_TAGS_DRIVER_H
#define TS_TAGS_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"
#include "captions/tags.h"
#include "pipeline/drivers/rewrite.h"

/* The tagger and what it needs: WordNet, the CLIP vocabulary. */
struct ts_tags_tagger_opts {
	const char *wordnet;            /* NULL: TS_WORDNET_DEFAULT_DIR */
	const char *vocab;              /* NULL: the default search (ts_vocab_load) */
	struct ts_tagger_opts tagger;   /* context 77 unless told */
};

/* ---- tags: tag every caption of a dataset ---- */

struct ts_tags_opts {
	const char *dataset;            /* OUTDIR */
	const char *outdir;             /* -o: a new dataset; NULL: in place */
	struct ts_tags_tagger_opts t;
	int threads;                    /* worker threads (>= 1) */
};

struct ts_tags_stats {
	struct ts_rw_stats rw;
	uint64_t captions, tags, empty;   /* empty: captions without a tag */
	uint64_t composites;              /* samples given their region map */
};

int ts_tags_run(const struct ts_tags_opts *o, struct ts_tags_stats *st, struct ts_err *err);

/* ---- extract: the tags of captions that are not in a dataset ---- */

struct ts_tags_extractor;

int ts_tags_extractor_new(struct ts_tags_extractor **out, const struct ts_tags_tagger_opts *o,
			  struct ts_err *err);
void ts_tags_extractor_free(struct ts_tags_extractor *x);   /* accepts NULL */

/* The tags of text[0..len) as one compact JSON array (docs/tags.md),
 * malloc'ed into *json. */
int ts_tags_extract_json(struct ts_tags_extractor *x, const char *text, size_t len, char **json,
			 struct ts_err *err);

/* ---- import-scores: a model's per-tag scores and masks ---- */

struct ts_tags_import_opts {
	const char *dataset;
	const char *outdir;             /* NULL: in place */
	const char *scores;             /* SCORES.jsonl */
	int threads;
	/* each line or score skipped, and why, in the order of the input (its
	 * lines, then the samples in record order, then unknown keys) */
	void (*warn)(void *user, const char *msg);
	void *user;
};

struct ts_tags_import_stats {
	struct ts_rw_stats rw;
	uint64_t imported, malformed, unknown_keys, unknown_tags, bad_masks;
};

int ts_tags_import(const struct ts_tags_import_opts *o, struct ts_tags_import_stats *st,
		   struct ts_err *err);

/* ---- select: the tags scored at least a threshold ---- */

struct ts_tags_select_opts {
	const char *dataset;
	const char *outdir;
	double threshold;
	int threads;
};

struct ts_tags_select_stats {
	struct ts_rw_stats rw;
	uint64_t kept, dropped;
	int no_scores;                  /* refused: the dataset has no tag scores */
};

int ts_tags_select(const struct ts_tags_select_opts *o, struct ts_tags_select_stats *st,
		   struct ts_err *err);

/* ---- mask: one tag's pixels ---- */

/* The 0/255 (a mixup composite: soft) gray PNG of where sample key's tag
 * (lemma or text) is, malloc'ed into *png. */
int ts_tags_mask(const char *dataset, const char *key, const char *tag, uint8_t **png, size_t *len,
		 struct ts_err *err);

/* ---- stats ---- */

struct ts_tags_count {
	const char *lemma;              /* owned by the summary */
	int64_t n;
};

struct ts_tags_summary {
	uint64_t samples, captions, tags;   /* samples: those tagged */
	size_t distinct;
	uint64_t per_caption[33];           /* tags per caption: 0..31, then 32 and more */
	struct ts_tags_count *top;          /* the most frequent first, ties by lemma */
	size_t ntop;
	void *priv;
};

/* At most `top` of the most frequent tags.  A dataset never tagged is an
 * error (TS_ERR_INVALID, with the command to run). */
int ts_tags_summarize(const char *dataset, size_t top, struct ts_tags_summary *out, struct ts_err *err);
void ts_tags_summary_release(struct ts_tags_summary *s);

#endif
