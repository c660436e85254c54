/*
 * tags.c - the work of `tessera tags` (tags.h): building KEY.tags.json and
 * the tags rows of every sample, a composite's region map, imported scores
 * and masks, the selected feed, one tag's mask and the statistics.
 *
 * The rewrites run each sample on a worker (tag_work, import_work,
 * select_work: the sample and the run's read-only state in, everything
 * made for the sample in its own item) and count and report it on the
 * writing thread in record order (the *_done functions), so counts,
 * warnings and bytes are those of one thread.  Pixels are compose/'s
 * (ts_region_fill, ts_encode_gray_png, ts_decode), and so is the text of
 * regions (ts_regions_encode/_decode).  A composite's mode, regions and
 * caption spans come from its compositions row; only a row without spans
 * (a catalog before version 6) sends tags to the KEY.json member.
 */
#define _GNU_SOURCE
#include "pipeline/drivers/tags.h"
#include "base/buf.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/bpe.h"
#include "captions/wordnet.h"
#include "compose/compose.h"
#include "shards/dataset.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

static int nomem(struct ts_err *err)
{
	return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
}

/* ---- the tagger -------------------------------------------------------------- */

struct tagger {
	struct ts_wordnet *wn;
	struct ts_bpe *bpe;
	struct ts_tagger *tagger;
};

static void tagger_release(struct tagger *t)
{
	ts_tagger_free(t->tagger);
	ts_bpe_free(t->bpe);
	ts_wordnet_free(t->wn);
	memset(t, 0, sizeof(*t));
}

static int tagger_load(struct tagger *t, const struct ts_tags_tagger_opts *o, struct ts_err *err)
{
	int rc;
	memset(t, 0, sizeof(*t));
	if ((rc = ts_wordnet_load(&t->wn, o->wordnet, err)) || (rc = ts_vocab_load(&t->bpe, o->vocab, err)) ||
	    (rc = ts_tagger_new(&t->tagger, t->wn, &o->tagger, err))) {
		tagger_release(t);
		if (!err->msg[0])
			nomem(err);
		return rc < 0 ? rc : TS_ERR_INVALID;   /* ts_vocab_load: 1, no file found */
	}
	return 0;
}

/* ---- a composite's record ----------------------------------------------------- */

/* What `tessera compose` recorded of a composite: its mode, its regions
 * (as text, and decoded) and where each source's caption sits in the
 * merged caption. */
struct comp_rec {
	char *mode, *regions_json;
	json_t *join;                  /* [[a, b], ...] */
	struct ts_region *reg;
	size_t nreg;
};

static void comp_rec_release(struct comp_rec *c)
{
	free(c->mode);
	free(c->regions_json);
	json_decref(c->join);
	free(c->reg);
	memset(c, 0, sizeof(*c));
}

/* The record of composite s: from its compositions row, or, when the row
 * has no join spans (written before catalog version 6), from its KEY.json
 * member.  1 when s is not a composite or its record is not whole (no
 * mode, no spans, regions that do not decode): then it is tagged as an
 * ordinary image; -1 when out of memory. */
static int comp_record(const struct ts_dataset_sample *s, const struct ts_rw_member *members, size_t nmembers,
		       struct comp_rec *c)
{
	struct ts_err de = TS_ERR_INIT;
	memset(c, 0, sizeof(*c));
	if (!s->comp)
		return 1;
	if (s->comp->join_json) {
		if (!s->comp->mode || !s->comp->mode[0])
			return 1;
		c->mode = strdup(s->comp->mode);
		c->regions_json = strdup(s->comp->regions_json ? s->comp->regions_json : "");
		c->join = json_loads(s->comp->join_json, 0, NULL);
	} else {
		json_t *kj = NULL;
		for (size_t i = 0; i < nmembers; i++)
			if (!strcmp(members[i].ext, "json"))
				kj = json_loadb(members[i].data, members[i].len, 0, NULL);
		const char *mode = json_string_value(json_object_get(kj, "mode"));
		json_t *regions = json_object_get(kj, "regions");
		c->mode = mode ? strdup(mode) : NULL;
		c->regions_json = json_is_array(regions) ? json_dumps(regions, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		c->join = json_incref(json_object_get(kj, "join"));
		json_decref(kj);
		if (!c->mode || !c->regions_json) {
			comp_rec_release(c);
			return 1;
		}
	}
	if (!c->mode || !c->regions_json) {
		comp_rec_release(c);
		return -1;
	}
	if (!json_is_array(c->join) ||
	    ts_regions_decode(c->regions_json, strlen(c->regions_json), &c->reg, &c->nreg, &de)) {
		int oom = de.status == TS_ERR_NOMEM;
		comp_rec_release(c);
		return oom ? -1 : 1;
	}
	return 0;
}

/* ---- tags -------------------------------------------------------------------- */

struct tag_worker {
	const struct ts_tagger *tagger;
	struct ts_bpe_ctx *bpe;
};

/* Everything one sample's tagging makes, alive until tag_done. */
struct tag_item {
	char *json;                    /* KEY.tags.json */
	uint8_t *mask;                 /* a composite's KEY.mask.png */
	size_t mask_len;
	struct ts_tag_row *rows;
	size_t nrows, rows_cap;
	char *text;                    /* surface forms of rows, NUL-separated */
	size_t text_len, text_cap;
	uint64_t captions, tags, empty;
	int composite;
};

static void tag_item_free(struct tag_item *it)
{
	if (!it)
		return;
	free(it->json);
	free(it->mask);
	free(it->rows);
	free(it->text);
	free(it);
}

static int add_row(struct tag_item *r, const struct ts_tag_row *row, const char *surface, size_t n)
{
	size_t ll = strlen(row->lemma) + 1;
	if (TS_ALLOC_GROW(r->rows, r->rows_cap, r->nrows + 1) ||
	    TS_ALLOC_GROW(r->text, r->text_cap, r->text_len + n + 1 + ll))
		return -1;
	/* offsets for now; pointers once every row is in (text may move) */
	r->rows[r->nrows] = *row;
	r->rows[r->nrows].text = (const char *)(uintptr_t)r->text_len;
	memcpy(r->text + r->text_len, surface, n);
	r->text[r->text_len + n] = 0;
	r->text_len += n + 1;
	r->rows[r->nrows].lemma = (const char *)(uintptr_t)r->text_len;
	memcpy(r->text + r->text_len, row->lemma, ll);
	r->text_len += ll;
	r->nrows++;
	return 0;
}

/* A composite's region map: each pixel the number of the region (source)
 * it shows, as a gray PNG. */
static int region_map(const struct ts_region *reg, size_t n, int w, int h, uint8_t **png, size_t *len,
		      struct ts_err *err)
{
	uint8_t *map = w > 0 && h > 0 ? calloc((size_t)w * h, 1) : NULL;
	if (!map)
		return nomem(err);
	for (size_t i = 0; i < n; i++)
		if (!reg[i].has_weight)
			ts_region_fill(map, w, h, &reg[i], (uint8_t)reg[i].index);
	int rc = ts_encode_gray_png(map, w, h, png, len, err);
	free(map);
	return rc;
}

static int tag_work(void *worker, const struct ts_dataset_sample *s, const struct ts_rw_member *members,
		    size_t nmembers, struct ts_rw_result *res, struct ts_err *err)
{
	struct tag_worker *w = worker;
	struct tag_item *r = calloc(1, sizeof(*r));
	if (!r)
		return nomem(err);
	res->priv = r;
	json_t *caps = json_loads(s->captions_json ? s->captions_json : "[]", 0, NULL);
	json_t *out = json_object(), *clist = json_array();
	struct comp_rec comp;
	int rc = TS_OK, is_comp = comp_record(s, members, nmembers, &comp);

	if (!json_is_array(caps) || json_array_size(caps) == 0) {
		json_decref(caps);
		caps = json_pack("[s]", s->caption ? s->caption : "");
	}
	if (is_comp < 0) {
		json_decref(caps);
		json_decref(out);
		json_decref(clist);
		return nomem(err);
	}
	json_object_set_new(out, "key", json_string(s->key));
	json_object_set_new(out, "width", json_integer(s->width));
	json_object_set_new(out, "height", json_integer(s->height));
	/* a composite of `tessera compose` has its sources' regions and where
	 * each source's caption sits in the merged one (join) */
	const json_t *join = is_comp == 0 ? comp.join : NULL;
	if (is_comp == 0) {
		/* exact pixel-tag annotation: each pixel's source, each tag's
		 * source; the regions as the composite recorded them */
		json_object_set_new(out, "weak", json_false());
		json_object_set_new(out, "regions", json_loads(comp.regions_json, 0, NULL));
		if (!strcmp(comp.mode, "mixup")) {
			json_object_set_new(out, "soft", json_true());
		} else if ((rc = region_map(comp.reg, comp.nreg, s->width, s->height, &r->mask, &r->mask_len,
					    err)) == 0) {
			char name[48];
			snprintf(name, sizeof(name), "%s.mask.png", s->key);
			json_object_set_new(out, "mask", json_string(name));
		}
		r->composite = 1;
	} else {
		/* an ordinary image: one region, the whole frame, holding every tag */
		struct ts_region whole = { .index = 1, .rect = { 0, 0, s->width, s->height } };
		char *text = NULL;
		json_object_set_new(out, "weak", json_true());
		if ((rc = ts_regions_encode(&whole, 1, &text, err)) == 0)
			json_object_set_new(out, "regions", json_loads(text, 0, NULL));
		free(text);
	}
	for (size_t ci = 0; ci < json_array_size(caps) && rc == TS_OK; ci++) {
		const char *cap = json_string_value(json_array_get(caps, ci));
		size_t len = cap ? json_string_length(json_array_get(caps, ci)) : 0;
		struct ts_tag *tags = NULL;
		size_t n = 0;
		json_t *cj = json_object(), *tl = json_array();
		if (cap && (rc = ts_tags_extract(w->tagger, w->bpe, cap, len, &tags, &n, err))) {
			json_decref(cj);
			json_decref(tl);
			break;
		}
		for (size_t k = 0; k < n; k++) {
			const struct ts_tag *g = &tags[k];
			/* in a composite's merged caption: the source whose text holds it */
			int region = 1;
			for (size_t q = 0; join && ci == 0 && q < json_array_size(join); q++) {
				json_t *sp = json_array_get(join, q);
				size_t a = (size_t)json_integer_value(json_array_get(sp, 0));
				size_t b = (size_t)json_integer_value(json_array_get(sp, 1));
				if (g->byte_start >= a && g->byte_end <= b)
					region = (int)q + 1;
			}
			json_t *t = json_pack("{s:s, s:s%, s:[I,I], s:[I,I], s:[I,I], s:b, s:i}",
					      "lemma", g->lemma,
					      "text", cap + g->byte_start, g->byte_end - g->byte_start,
					      "char", (json_int_t)g->char_start, (json_int_t)g->char_end,
					      "bytes", (json_int_t)g->byte_start, (json_int_t)g->byte_end,
					      "tokens", (json_int_t)g->tok_start, (json_int_t)g->tok_end,
					      "truncated", g->truncated, "region", region);
			json_array_append_new(tl, t);
			struct ts_tag_row row = {
				.caption = (long long)ci, .idx = (long long)k, .lemma = g->lemma,
				.char_start = (long long)g->char_start, .char_end = (long long)g->char_end,
				.byte_start = (long long)g->byte_start, .byte_end = (long long)g->byte_end,
				.tok_start = (long long)g->tok_start, .tok_end = (long long)g->tok_end,
				.truncated = g->truncated, .region = region,
			};
			if (add_row(r, &row, cap + g->byte_start, g->byte_end - g->byte_start))
				rc = nomem(err);
		}
		free(tags);
		json_object_set_new(cj, "caption", json_integer((json_int_t)ci));
		json_object_set_new(cj, "tags", tl);
		json_array_append_new(clist, cj);
		r->captions++;
		r->tags += n;
		r->empty += n == 0;
	}
	json_object_set_new(out, "captions", clist);
	if (is_comp == 0)
		comp_rec_release(&comp);
	if (rc == TS_OK && !(r->json = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII)))
		rc = nomem(err);
	json_decref(out);
	json_decref(caps);
	if (rc)
		return rc;
	for (size_t i = 0; i < r->nrows; i++) {
		r->rows[i].text = r->text + (uintptr_t)r->rows[i].text;
		r->rows[i].lemma = r->text + (uintptr_t)r->rows[i].lemma;
	}
	res->add[0] = (struct ts_rw_member){ "tags.json", r->json, strlen(r->json) };
	res->nadd = 1;
	if (r->mask)
		res->add[res->nadd++] = (struct ts_rw_member){ "mask.png", r->mask, r->mask_len };
	res->set_tags = 1;
	res->tags = r->rows;
	res->ntags = r->nrows;
	return 0;
}

static void tag_done(void *user, const struct ts_dataset_sample *s, struct ts_rw_result *res, int written)
{
	struct ts_tags_stats *st = user;
	struct tag_item *r = res->priv;
	if (r && written) {
		st->captions += r->captions;
		st->tags += r->tags;
		st->empty += r->empty;
		st->composites += r->composite;
	}
	tag_item_free(r);
}

/* Per-thread tokenizer contexts for the pool; NULL when out of memory. */
static struct tag_worker *tag_workers(const struct tagger *t, int n, void ***wv)
{
	struct tag_worker *w = calloc((size_t)n, sizeof(*w));
	*wv = calloc((size_t)n, sizeof(**wv));
	for (int i = 0; w && *wv && i < n; i++) {
		w[i].tagger = t->tagger;
		(*wv)[i] = &w[i];
		if (!(w[i].bpe = ts_bpe_ctx_new(t->bpe))) {
			for (int k = 0; k < i; k++)
				ts_bpe_ctx_free(w[k].bpe);
			break;
		}
		if (i == n - 1)
			return w;
	}
	free(w);
	free(*wv);
	*wv = NULL;
	return NULL;
}

int ts_tags_run(const struct ts_tags_opts *o, struct ts_tags_stats *st, struct ts_err *err)
{
	struct tagger t;
	struct tag_worker *ws = NULL;
	void **wv = NULL;
	int threads = o->threads > 0 ? o->threads : 1, rc;

	memset(st, 0, sizeof(*st));
	if ((rc = tagger_load(&t, &o->t, err)))
		return rc;
	char *meta = ts_json_canonical(json_pack("{s:o, s:b, s:b, s:I}",
			"wordnet", ts_json_string_lossy(o->t.wordnet ? o->t.wordnet : TS_WORDNET_DEFAULT_DIR),
			"keep_scene_words", o->t.tagger.keep_scene_words, "all_nouns", o->t.tagger.all_nouns,
			"context", (json_int_t)o->t.tagger.context));
	if (!meta || !(ws = tag_workers(&t, threads, &wv))) {
		rc = nomem(err);
		goto out;
	}
	struct ts_rw_opts ro = { .indir = o->dataset, .outdir = o->outdir, .command = "tessera tags",
				 .meta_name = "tags", .meta_json = meta, .what = "tags" };
	struct ts_rw_ops ops = { .work = tag_work, .done = tag_done, .user = st, .workers = wv,
				 .threads = threads };
	rc = ts_rewrite(&ro, &ops, &st->rw, err);
out:
	for (int i = 0; ws && i < threads; i++)
		ts_bpe_ctx_free(ws[i].bpe);
	free(ws);
	free(wv);
	free(meta);
	tagger_release(&t);
	return rc;
}

/* ---- extract ------------------------------------------------------------------ */

struct ts_tags_extractor {
	struct tagger t;
	struct ts_bpe_ctx *ctx;
};

int ts_tags_extractor_new(struct ts_tags_extractor **out, const struct ts_tags_tagger_opts *o,
			  struct ts_err *err)
{
	struct ts_tags_extractor *x = calloc(1, sizeof(*x));
	int rc;
	*out = NULL;
	if (!x)
		return nomem(err);
	if ((rc = tagger_load(&x->t, o, err))) {
		free(x);
		return rc;
	}
	if (!(x->ctx = ts_bpe_ctx_new(x->t.bpe))) {
		ts_tags_extractor_free(x);
		return nomem(err);
	}
	*out = x;
	return 0;
}

void ts_tags_extractor_free(struct ts_tags_extractor *x)
{
	if (!x)
		return;
	ts_bpe_ctx_free(x->ctx);
	tagger_release(&x->t);
	free(x);
}

int ts_tags_extract_json(struct ts_tags_extractor *x, const char *text, size_t len, char **json,
			 struct ts_err *err)
{
	struct ts_tag *tags = NULL;
	size_t nt = 0;
	int rc;
	*json = NULL;
	if ((rc = ts_tags_extract(x->t.tagger, x->ctx, text, len, &tags, &nt, err)))
		return rc;
	json_t *arr = json_array();
	for (size_t k = 0; k < nt; k++) {
		const struct ts_tag *g = &tags[k];
		json_array_append_new(arr, json_pack("{s:s, s:s%, s:[I,I], s:[I,I], s:[I,I], s:b}",
						     "lemma", g->lemma, "text", text + g->byte_start,
						     g->byte_end - g->byte_start,
						     "char", (json_int_t)g->char_start, (json_int_t)g->char_end,
						     "bytes", (json_int_t)g->byte_start, (json_int_t)g->byte_end,
						     "tokens", (json_int_t)g->tok_start, (json_int_t)g->tok_end,
						     "truncated", g->truncated));
	}
	*json = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(arr);
	free(tags);
	return *json ? 0 : nomem(err);
}

/* ---- import-scores -------------------------------------------------------------- */

struct score_in {
	char *tag, *mask;
	double score;
	size_t line;
};

struct key_scores {
	char *key;
	struct score_in *s;
	size_t n, cap;
	int seen;                      /* written by the one worker of its sample */
};

struct import_run {
	const struct ts_tags_import_opts *o;
	json_t *index;                 /* key -> index into keys; read-only on the workers */
	struct key_scores *keys;
	size_t nkeys, cap;
	struct ts_tags_import_stats *st;
};

/* One sample's imported rows, masks and warnings, until import_done. */
struct import_item {
	struct ts_score_row rows[TS_RW_MAX_ADD];
	char names[TS_RW_MAX_ADD][64];
	uint8_t *masks[TS_RW_MAX_ADD];
	char *full[TS_RW_MAX_ADD];     /* the masks' member names, as the catalog has them */
	size_t nmasks;
	uint64_t imported, unknown_tags, bad_masks;
	char *warn;                    /* messages, NUL-separated */
	size_t warn_len;
	int nomem;
};

static void warn(const struct ts_tags_import_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warn(const struct ts_tags_import_opts *o, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o->warn)
		o->warn(o->user, msg);
}

/* On a worker: keep the message for import_done. */
static void item_warn(struct import_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void item_warn(struct import_item *it, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t l = n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n;
	char *p = realloc(it->warn, it->warn_len + l + 1);
	if (!p) {
		it->nomem = 1;
		return;
	}
	memcpy(p + it->warn_len, msg, l + 1);
	it->warn = p;
	it->warn_len += l + 1;
}

static int cmp_score(const void *a, const void *b)
{
	return strcmp(((const struct score_in *)a)->tag, ((const struct score_in *)b)->tag);
}

static int read_scores(struct import_run *r, const char *path, struct ts_err *err)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	if (!f)
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", path, strerror(errno));
	while ((n = getline(&line, &cap, f)) >= 0) {
		json_error_t je;
		lineno++;
		size_t bom = lineno == 1 ? ts_bom_len(line, (size_t)n) : 0;
		json_t *j = json_loadb(line + bom, (size_t)n - bom, 0, &je);
		const char *key = json_string_value(json_object_get(j, "key"));
		const char *tag = json_string_value(json_object_get(j, "tag"));
		json_t *sc = json_object_get(j, "score"), *mk = json_object_get(j, "mask");
		if (!j || !key || !tag || !json_is_number(sc) || (mk && !json_is_string(mk) && !json_is_null(mk))) {
			warn(r->o, "%s:%zu: %s; line skipped", path, lineno,
			     !j ? je.text : "expected {\"key\": string, \"tag\": string, \"score\": number[, \"mask\": path]}");
			r->st->malformed++;
			json_decref(j);
			continue;
		}
		json_t *idx = json_object_get(r->index, key);
		size_t k;
		if (idx) {
			k = (size_t)json_integer_value(idx);
		} else {
			if (TS_ALLOC_GROW(r->keys, r->cap, r->nkeys + 1))
				goto nomem;
			k = r->nkeys++;
			memset(&r->keys[k], 0, sizeof(r->keys[k]));
			r->keys[k].key = strdup(key);
			json_object_set_new(r->index, key, json_integer((json_int_t)k));
		}
		struct key_scores *ks = &r->keys[k];
		if (TS_ALLOC_GROW(ks->s, ks->cap, ks->n + 1))
			goto nomem;
		ks->s[ks->n++] = (struct score_in){ strdup(tag), json_is_string(mk) ? strdup(json_string_value(mk)) : NULL,
						    json_number_value(sc), lineno };
		json_decref(j);
	}
	free(line);
	fclose(f);
	for (size_t k = 0; k < r->nkeys; k++)
		qsort(r->keys[k].s, r->keys[k].n, sizeof(*r->keys[k].s), cmp_score);
	return 0;
nomem:
	free(line);
	fclose(f);
	return nomem(err);
}

static int import_work(void *worker, const struct ts_dataset_sample *s, const struct ts_rw_member *members,
		       size_t nmembers, struct ts_rw_result *res, struct ts_err *err)
{
	const struct import_run *r = worker;
	const char *path = r->o->scores;
	struct import_item *it = calloc(1, sizeof(*it));
	if (!it)
		return nomem(err);
	res->priv = it;
	res->set_scores = 1;           /* the import replaces every sample's scores */
	res->drop_suffix = "tagmask.png";
	json_t *idx = json_object_get(r->index, s->key);
	if (!idx)
		return 0;
	struct key_scores *ks = &r->keys[json_integer_value(idx)];
	size_t nr = 0;
	ks->seen = 1;
	for (size_t i = 0; i < ks->n; i++) {
		const struct score_in *sc = &ks->s[i];
		int known = 0, dup = i > 0 && !strcmp(ks->s[i - 1].tag, sc->tag);
		for (size_t k = 0; k < s->ntags && !known; k++)
			known = !strcmp(s->tags[k].lemma, sc->tag);
		if (!known || dup) {
			item_warn(it, "%s:%zu: sample %s has no tag '%s'%s; line skipped", path, sc->line, s->key,
				  sc->tag, dup ? " (or it was scored twice)" : "");
			it->unknown_tags++;
			continue;
		}
		if (nr == TS_RW_MAX_ADD) {
			item_warn(it, "%s:%zu: more than %d scored tags for sample %s; line skipped", path,
				  sc->line, TS_RW_MAX_ADD, s->key);
			it->unknown_tags++;
			continue;
		}
		struct ts_score_row *row = &it->rows[nr];
		row->tag = sc->tag;
		row->score = sc->score;
		row->mask = NULL;
		if (sc->mask) {
			/* the mask's bytes, checked to be a PNG the size of the image */
			struct ts_image_info info;
			struct ts_err me = TS_ERR_INIT;
			uint8_t *buf = NULL;
			size_t bcap = 0, blen = 0;
			if (ts_read_file(sc->mask, 64ull << 20, &buf, &bcap, &blen, &me) ||
			    ts_image_probe(buf, blen, &info, &me) || info.format != TS_FMT_PNG ||
			    info.width != s->width || info.height != s->height) {
				item_warn(it, "%s:%zu: mask '%s' of sample %s %s; imported without its mask", path,
					  sc->line, sc->mask, s->key,
					  me.msg[0] ? me.msg : "is not a PNG the size of the image");
				it->bad_masks++;
				free(buf);
			} else {
				/* the member's full name, as the members table has it */
				char *full = NULL;
				if (asprintf(&full, "%s.%zu.tagmask.png", s->key, nr) < 0) {
					free(buf);
					return nomem(err);
				}
				snprintf(it->names[it->nmasks], sizeof(it->names[0]), "%zu.tagmask.png", nr);
				res->add[res->nadd++] = (struct ts_rw_member){ it->names[it->nmasks], buf, blen };
				it->masks[it->nmasks] = buf;
				it->full[it->nmasks++] = full;
				row->mask = full;
			}
		}
		nr++;
		it->imported++;
	}
	res->scores = it->rows;
	res->nscores = nr;
	return it->nomem ? nomem(err) : 0;
}

static void import_done(void *user, const struct ts_dataset_sample *s, struct ts_rw_result *res, int written)
{
	struct import_run *r = user;
	struct import_item *it = res->priv;
	if (!it)
		return;
	if (written) {
		for (size_t at = 0; at < it->warn_len; at += strlen(it->warn + at) + 1)
			if (r->o->warn)
				r->o->warn(r->o->user, it->warn + at);
		r->st->imported += it->imported;
		r->st->unknown_tags += it->unknown_tags;
		r->st->bad_masks += it->bad_masks;
	}
	for (size_t i = 0; i < it->nmasks; i++) {
		free(it->masks[i]);
		free(it->full[i]);
	}
	free(it->warn);
	free(it);
}

static void import_release(struct import_run *r)
{
	for (size_t k = 0; k < r->nkeys; k++) {
		for (size_t i = 0; i < r->keys[k].n; i++) {
			free(r->keys[k].s[i].tag);
			free(r->keys[k].s[i].mask);
		}
		free(r->keys[k].s);
		free(r->keys[k].key);
	}
	free(r->keys);
	json_decref(r->index);
}

int ts_tags_import(const struct ts_tags_import_opts *o, struct ts_tags_import_stats *st,
		   struct ts_err *err)
{
	struct import_run r = { .o = o, .index = json_object(), .st = st };
	int threads = o->threads > 0 ? o->threads : 1, rc;
	void **wv = calloc((size_t)threads, sizeof(*wv));

	memset(st, 0, sizeof(*st));
	if (!r.index || !wv) {
		rc = nomem(err);
		goto out;
	}
	if ((rc = read_scores(&r, o->scores, err)))
		goto out;
	for (int i = 0; i < threads; i++)
		wv[i] = &r;           /* the workers read the scores; each marks its keys seen */
	struct ts_rw_opts ro = { .indir = o->dataset, .outdir = o->outdir, .command = "tessera tags import-scores",
				 .meta_name = NULL, .what = "import-scores" };
	struct ts_rw_ops ops = { .work = import_work, .done = import_done, .user = &r, .workers = wv,
				 .threads = threads };
	if ((rc = ts_rewrite(&ro, &ops, &st->rw, err)))
		goto out;
	for (size_t k = 0; k < r.nkeys; k++)
		if (!r.keys[k].seen) {
			warn(o, "%s: %zu score%s for key '%s', which is not a sample of '%s'; skipped", o->scores,
			     r.keys[k].n, r.keys[k].n == 1 ? "" : "s", r.keys[k].key, o->dataset);
			st->unknown_keys++;
		}
out:
	free(wv);
	import_release(&r);
	return rc;
}

/* ---- select -------------------------------------------------------------------- */

/* One sample's feed, until select_done. */
struct select_item {
	char *json;
	struct ts_tag_row *tags;
	struct ts_score_row *scores;
	char keep_names[TS_RW_MAX_ADD][64];
	const char *keep[TS_RW_MAX_ADD + 8];
	uint64_t kept, dropped;
};

static int selected(const struct ts_dataset_sample *s, const char *lemma, double t)
{
	for (size_t i = 0; i < s->nscores; i++)
		if (!strcmp(s->scores[i].tag, lemma))
			return s->scores[i].score >= t;
	return 0;
}

static int select_work(void *worker, const struct ts_dataset_sample *s, const struct ts_rw_member *members,
		       size_t nmembers, struct ts_rw_result *res, struct ts_err *err)
{
	const double threshold = *(const double *)worker;
	struct select_item *r = calloc(1, sizeof(*r));
	const struct ts_rw_member *tj = NULL;
	size_t nk = 0;
	if (!r)
		return nomem(err);
	res->priv = r;
	for (size_t i = 0; i < nmembers; i++)
		if (!strcmp(members[i].ext, "tags.json"))
			tj = &members[i];
	if (!tj)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "sample %s has no tags (run 'tessera tags' first)",
				  s->key);
	json_t *j = json_loadb(tj->data, tj->len, 0, NULL);
	json_t *caps = json_object_get(j, "captions"), *c;
	size_t ci;
	if (!json_is_array(caps)) {
		json_decref(j);
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "sample %s: KEY.tags.json is not tessera's", s->key);
	}
	json_array_foreach(caps, ci, c) {
		json_t *tl = json_object_get(c, "tags"), *keep = json_array(), *t;
		size_t ti;
		json_array_foreach(tl, ti, t) {
			if (selected(s, json_string_value(json_object_get(t, "lemma")), threshold)) {
				json_array_append(keep, t);
				r->kept++;
			} else {
				r->dropped++;
			}
		}
		json_object_set_new(c, "tags", keep);
	}
	r->json = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (!r->json)
		return nomem(err);
	/* rows: the selected tags and scores */
	size_t nt = 0, ns = 0, nm = 0;
	r->tags = calloc(s->ntags + 1, sizeof(*r->tags));
	r->scores = calloc(s->nscores + 1, sizeof(*r->scores));
	if (!r->tags || !r->scores)
		return nomem(err);
	for (size_t i = 0; i < s->ntags; i++)
		if (selected(s, s->tags[i].lemma, threshold))
			r->tags[nt++] = s->tags[i];
	/* the image, the caption, KEY.json, the composite's region map that
	 * KEY.tags.json names (KEY.mask.png), and the selected tags' masks */
	int has_map = 0;
	for (size_t i = 0; i < nmembers && nk < 4; i++) {
		if (!strcmp(members[i].ext, "jpg") || !strcmp(members[i].ext, "png") || !strcmp(members[i].ext, "webp"))
			r->keep[nk++] = members[i].ext;
		has_map |= !strcmp(members[i].ext, "mask.png");
	}
	r->keep[nk++] = "txt";
	r->keep[nk++] = "json";
	if (has_map)
		r->keep[nk++] = "mask.png";
	for (size_t i = 0; i < s->nscores; i++) {
		if (s->scores[i].score < threshold)
			continue;
		r->scores[ns] = s->scores[i];
		const char *m = s->scores[i].mask, *dot = m ? strchr(m, '.') : NULL;
		if (dot && nm < TS_RW_MAX_ADD) {
			snprintf(r->keep_names[nm], sizeof(r->keep_names[0]), "%s", dot + 1);
			r->keep[nk++] = r->keep_names[nm++];
		}
		ns++;
	}
	r->keep[nk] = NULL;
	res->add[0] = (struct ts_rw_member){ "tags.json", r->json, strlen(r->json) };
	res->nadd = 1;
	res->keep_exts = r->keep;
	res->set_tags = 1;
	res->tags = r->tags;
	res->ntags = nt;
	res->set_scores = 1;
	res->scores = r->scores;
	res->nscores = ns;
	return 0;
}

static void select_done(void *user, const struct ts_dataset_sample *s, struct ts_rw_result *res, int written)
{
	struct ts_tags_select_stats *st = user;
	struct select_item *r = res->priv;
	if (!r)
		return;
	if (written) {
		st->kept += r->kept;
		st->dropped += r->dropped;
	}
	free(r->json);
	free(r->tags);
	free(r->scores);
	free(r);
}

static int has_scores(const struct ts_dataset_sample *s, void *user)
{
	return s->nscores > 0;
}

int ts_tags_select(const struct ts_tags_select_opts *o, struct ts_tags_select_stats *st,
		   struct ts_err *err)
{
	int threads = o->threads > 0 ? o->threads : 1, rc;
	struct ts_dataset *ds;

	memset(st, 0, sizeof(*st));
	/* selecting by scores that are not there would keep no tag at all */
	if ((rc = ts_dataset_open(&ds, o->dataset, err)))
		return rc;
	int any = ts_dataset_foreach_sample(ds, -1, has_scores, NULL, err);
	ts_dataset_close(ds);
	if (any < 0)
		return any;
	if (any == 0) {
		st->no_scores = 1;
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' has no tag scores: there is nothing to select by",
				  o->dataset);
	}
	char *meta = ts_json_canonical(json_pack("{s:f}", "threshold", o->threshold));
	void **wv = calloc((size_t)threads, sizeof(*wv));
	if (!meta || !wv) {
		free(meta);
		free(wv);
		return nomem(err);
	}
	for (int i = 0; i < threads; i++)
		wv[i] = (void *)&o->threshold;
	struct ts_rw_opts ro = { .indir = o->dataset, .outdir = o->outdir, .command = "tessera tags select",
				 .meta_name = "tags_select", .meta_json = meta, .what = "select" };
	struct ts_rw_ops ops = { .work = select_work, .done = select_done, .user = st, .workers = wv,
				 .threads = threads };
	rc = ts_rewrite(&ro, &ops, &st->rw, err);
	free(meta);
	free(wv);
	return rc;
}

/* ---- mask ---------------------------------------------------------------------- */

int ts_tags_mask(const char *dataset, const char *key, const char *tag, uint8_t **png, size_t *len,
		 struct ts_err *err)
{
	struct ts_dataset *ds = NULL;
	uint8_t *tj = NULL, *mask = NULL, *regmap = NULL;
	size_t tjl = 0, regl = 0, nreg = 0;
	struct ts_region *rg = NULL;
	json_t *j = NULL;
	int rc;

	*png = NULL;
	*len = 0;
	if ((rc = ts_dataset_open(&ds, dataset, err)) || (rc = ts_dataset_read_member(ds, key, "tags.json", &tj, &tjl, err)))
		goto done;
	j = json_loadb((const char *)tj, tjl, 0, NULL);
	/* the regions the tag belongs to (any caption) */
	int want[256] = { 0 }, found = 0;
	json_t *c1, *t;
	size_t i1, i2;
	json_array_foreach(json_object_get(j, "captions"), i1, c1) {
		json_array_foreach(json_object_get(c1, "tags"), i2, t) {
			const char *l = json_string_value(json_object_get(t, "lemma"));
			const char *x = json_string_value(json_object_get(t, "text"));
			json_int_t reg = json_integer_value(json_object_get(t, "region"));
			if (((l && !strcmp(l, tag)) || (x && !strcmp(x, tag))) && reg > 0 && reg < 256) {
				want[reg] = 1;
				found = 1;
			}
		}
	}
	if (!found) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "sample %s has no tag '%s'", key, tag);
		goto done;
	}
	/* the regions, with the codec that wrote them (none: no regions) */
	json_t *regs = json_object_get(j, "regions");
	char *rtext = regs ? json_dumps(regs, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	struct ts_err re = TS_ERR_INIT;
	if (regs && (!rtext || ts_regions_decode(rtext, strlen(rtext), &rg, &nreg, &re))) {
		rc = rtext ? ts_err_set(err, re.status, TS_R_NONE, "sample %s: KEY.tags.json: %s", key, re.msg)
			   : nomem(err);
		free(rtext);
		goto done;
	}
	free(rtext);
	int w = 0, h = 0;
	for (size_t k = 0; k < nreg; k++) {
		if (rg[k].has_weight)
			continue;
		w = rg[k].rect[2] > w ? rg[k].rect[2] : w;
		h = rg[k].rect[3] > h ? rg[k].rect[3] : h;
	}
	if (json_is_integer(json_object_get(j, "width"))) {
		w = (int)json_integer_value(json_object_get(j, "width"));
		h = (int)json_integer_value(json_object_get(j, "height"));
	}
	if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > (1u << 28) || !(mask = calloc((size_t)w * h, 1))) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "sample %s: no usable image size in KEY.tags.json", key);
		goto done;
	}
	/* a mixup composite (soft: every pixel is a blend of the sources): the
	 * soft mask, each pixel 255 x the summed blend weights of the tag's
	 * regions; a composite's KEY.mask.png gives each pixel's region;
	 * otherwise the regions' rectangles do */
	struct ts_err me = TS_ERR_INIT;
	if (json_is_true(json_object_get(j, "soft"))) {
		double wsum = 0;
		int weighted = 0;
		for (size_t k = 0; k < nreg; k++)
			if (rg[k].has_weight && want[rg[k].index]) {
				wsum += rg[k].weight;
				weighted = 1;
			}
		if (!weighted || wsum < 0) {
			rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					"sample %s: a soft (mixup) composite whose regions carry no blend weight", key);
			goto done;
		}
		long v = lround(255.0 * (wsum > 1 ? 1 : wsum));
		memset(mask, (int)v, (size_t)w * h);
	} else if (ts_dataset_read_member(ds, key, "mask.png", &regmap, &regl, &me) == 0) {
		struct ts_pixctx *px = ts_pixctx_new();
		struct ts_image img = { 0 };
		struct ts_image_info info;
		if (!px || ts_decode(px, regmap, regl, 1ull << 28, 0, 0, &img, &info, &me) || img.width != w || img.height != h) {
			rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "sample %s: KEY.mask.png: %s", key,
					me.msg[0] ? me.msg : "not the image's size");
			ts_image_release(&img);
			ts_pixctx_free(px);
			goto done;
		}
		for (size_t p = 0; p < (size_t)w * h; p++)
			mask[p] = want[img.pixels[3 * p]] ? 255 : 0;
		ts_image_release(&img);
		ts_pixctx_free(px);
	} else {
		for (size_t k = 0; k < nreg; k++)
			if (!rg[k].has_weight && want[rg[k].index])
				ts_region_fill(mask, w, h, &rg[k], 255);
	}
	rc = ts_encode_gray_png(mask, w, h, png, len, err);
done:
	json_decref(j);
	free(tj);
	free(regmap);
	free(mask);
	free(rg);
	ts_dataset_close(ds);
	return rc;
}

/* ---- stats --------------------------------------------------------------------- */

struct tstats {
	json_t *counts;               /* lemma -> count */
	struct ts_tags_summary *sum;
};

static int stat_sample(const struct ts_dataset_sample *s, void *user)
{
	struct tstats *t = user;
	struct ts_tags_summary *sum = t->sum;
	json_t *caps = json_loads(s->captions_json ? s->captions_json : "[]", 0, NULL);
	size_t ncap = json_is_array(caps) && json_array_size(caps) ? json_array_size(caps) : 1;
	json_decref(caps);
	/* a sample never tagged has no tags.json member */
	int tagged = 0;
	for (size_t i = 0; i < s->nmembers; i++) {
		const char *dot = strchr(s->members[i].name, '.');
		tagged |= dot && !strcmp(dot, ".tags.json");
	}
	if (!tagged)
		return 0;
	sum->samples++;
	size_t k = 0;
	for (size_t ci = 0; ci < ncap; ci++) {
		size_t n = 0;
		while (k < s->ntags && s->tags[k].caption == (long long)ci) {
			json_t *v = json_object_get(t->counts, s->tags[k].lemma);
			json_object_set_new(t->counts, s->tags[k].lemma,
					    json_integer((v ? json_integer_value(v) : 0) + 1));
			n++;
			k++;
		}
		sum->per_caption[n < 32 ? n : 32]++;
		sum->captions++;
		sum->tags += n;
	}
	return 0;
}

static int cmp_count(const void *a, const void *b)
{
	const struct ts_tags_count *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->lemma, y->lemma);
}

int ts_tags_summarize(const char *dataset, size_t top, struct ts_tags_summary *out, struct ts_err *err)
{
	struct tstats t = { .counts = json_object(), .sum = out };
	struct ts_dataset *ds = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!t.counts)
		return nomem(err);
	if ((rc = ts_dataset_open(&ds, dataset, err)) || (rc = ts_dataset_foreach_sample(ds, -1, stat_sample, &t, err)))
		goto fail;
	ts_dataset_close(ds);
	ds = NULL;
	if (out->samples == 0) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' has no tags yet: run 'tessera tags %s' first",
				dataset, dataset);
		goto fail;
	}
	size_t nd = json_object_size(t.counts), i = 0;
	struct ts_tags_count *all = calloc(nd ? nd : 1, sizeof(*all));
	const char *key;
	json_t *val;
	if (!all) {
		rc = nomem(err);
		goto fail;
	}
	json_object_foreach(t.counts, key, val) {
		all[i].lemma = key;           /* alive as long as counts */
		all[i++].n = json_integer_value(val);
	}
	qsort(all, nd, sizeof(*all), cmp_count);
	out->distinct = nd;
	out->top = all;
	out->ntop = top < nd ? top : nd;
	out->priv = t.counts;
	return 0;
fail:
	ts_dataset_close(ds);
	json_decref(t.counts);
	memset(out, 0, sizeof(*out));
	return rc ? rc : TS_ERR_INTERNAL;
}

void ts_tags_summary_release(struct ts_tags_summary *s)
{
	free(s->top);
	json_decref(s->priv);
	memset(s, 0, sizeof(*s));
}
