/*
 * captions_stats.c - the work of `tessera captions stats` (and of the
 * report's caption numbers): how long captions are in CLIP tokens and what
 * truncation at each context throws away (docs/captions.md gives every
 * definition).  cmd_captions.c parses the options and prints the result.
 *
 * Token counts are kept as an exact histogram (count of captions per token
 * count), so percentiles are exact and memory does not grow with the
 * number of captions.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "captions/bpe.h"
#include "captions/sentence.h"
#include "shards/dataset.h"
#include "pipeline/drivers/captions_stats.h"
#include "pipeline/util.h"

#define MAX_CONTEXTS TS_CSTATS_MAX_CONTEXTS

struct hist {
	uint64_t *c;
	size_t n;                /* c[0..n) */
};

static int hist_add(struct hist *h, size_t v)
{
	if (v >= h->n) {
		size_t nn = h->n ? h->n : 64;
		while (nn <= v)
			nn *= 2;
		uint64_t *c = realloc(h->c, nn * sizeof(*c));
		if (!c)
			return -1;
		memset(c + h->n, 0, (nn - h->n) * sizeof(*c));
		h->c = c;
		h->n = nn;
	}
	h->c[v]++;
	return 0;
}

/* Nearest rank: the smallest v with at least p of the values <= v. */
static size_t hist_pct(const struct hist *h, uint64_t total, double p)
{
	uint64_t rank = (uint64_t)((double)total * p + 0.999999999), seen = 0;
	if (rank < 1)
		rank = 1;
	for (size_t v = 0; v < h->n; v++) {
		seen += h->c[v];
		if (seen >= rank)
			return v;
	}
	return 0;
}

struct acc {
	uint64_t captions, tokens, content, words, sentences;
	size_t max, min, max_sent;
	uint64_t over[MAX_CONTEXTS], lost_tokens[MAX_CONTEXTS], lost_words[MAX_CONTEXTS];
	struct hist th, sh;
};

struct ts_cstats {
	size_t ctx[MAX_CONTEXTS];
	int nctx;
	long bin;
	struct ts_bpe_ctx *bpe;
	struct ts_sentences *sp;
	struct acc all, shard;
	long cur_shard;
	const char *cur_shard_name;
	json_t *by_shard;            /* NULL unless --by-shard */
	int json;
	uint64_t skipped, blank;
	struct ts_err e;
};

static void acc_reset(struct acc *a)
{
	free(a->th.c);
	free(a->sh.c);
	memset(a, 0, sizeof(*a));
}

static int add_caption_one(struct ts_cstats *st, const char *text, size_t len, const char *where,
			   struct ts_cstats_one *one);

static int add_caption(struct ts_cstats *st, const char *text, size_t len, const char *where)
{
	return add_caption_one(st, text, len, where, NULL);
}

static int add_caption_one(struct ts_cstats *st, const char *text, size_t len, const char *where,
			   struct ts_cstats_one *one)
{
	const int32_t *ids;
	const uint32_t *piece;
	const char *clean;
	size_t n, cl;
	struct acc *accs[2] = { &st->all, st->by_shard ? &st->shard : NULL };

	if (ts_bpe_encode(st->bpe, text, len, &ids, &n, &st->e)) {
		ts_error("%s: %s", where, st->e.msg);
		st->skipped++;
		return 0;
	}
	ts_bpe_last_pieces(st->bpe, &clean, &cl, &piece);
	if (cl == 0) {
		st->blank++;
		return 0;
	}
	size_t tokens = n + 2, words = 1, sentences = ts_sentence_count(st->sp, text, len);
	for (size_t i = 0; i < cl; i++)
		words += clean[i] == ' ';
	if (one) {
		one->tokens = tokens;
		one->sentences = sentences;
		one->words = words;
		one->clean = clean;
		one->clean_len = cl;
		for (int c = 0; c < st->nctx; c++)
			one->cut[c] = n > st->ctx[c] - 2 ? piece[st->ctx[c] - 2] : cl;
	}
	for (int k = 0; k < 2; k++) {
		struct acc *a = accs[k];
		if (!a)
			continue;
		a->captions++;
		a->tokens += tokens;
		a->content += n;
		a->words += words;
		a->sentences += sentences;
		if (tokens > a->max)
			a->max = tokens;
		if (a->min == 0 || tokens < a->min)
			a->min = tokens;
		if (sentences > a->max_sent)
			a->max_sent = sentences;
		if (hist_add(&a->th, tokens) || hist_add(&a->sh, sentences)) {
			ts_error("out of memory");
			return -1;
		}
		for (int c = 0; c < st->nctx; c++) {
			size_t keep = st->ctx[c] - 2;      /* content tokens that fit */
			if (n <= keep)
				continue;
			/* the word of the first token cut off, and every word after it */
			size_t w = 0, o = piece[keep];
			for (size_t i = 0; i < o; i++)
				w += clean[i] == ' ';
			a->over[c]++;
			a->lost_tokens[c] += n - keep;
			a->lost_words[c] += words - w;
		}
	}
	return 0;
}

static double share(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static json_t *acc_json(const struct ts_cstats *st, const struct acc *a, int full)
{
	json_t *j = json_object(), *ctx = json_array();
	json_object_set_new(j, "captions", json_integer((json_int_t)a->captions));
	json_t *t = json_object();
	json_object_set_new(t, "total", json_integer((json_int_t)a->tokens));
	json_object_set_new(t, "mean", json_real(share(a->tokens, a->captions)));
	json_object_set_new(t, "min", json_integer((json_int_t)a->min));
	json_object_set_new(t, "median", json_integer((json_int_t)hist_pct(&a->th, a->captions, 0.5)));
	json_object_set_new(t, "p90", json_integer((json_int_t)hist_pct(&a->th, a->captions, 0.9)));
	json_object_set_new(t, "p99", json_integer((json_int_t)hist_pct(&a->th, a->captions, 0.99)));
	json_object_set_new(t, "max", json_integer((json_int_t)a->max));
	json_object_set_new(j, "tokens", t);
	json_object_set_new(j, "words", json_integer((json_int_t)a->words));
	for (int c = 0; c < st->nctx; c++) {
		json_t *o = json_object();
		json_object_set_new(o, "context", json_integer((json_int_t)st->ctx[c]));
		json_object_set_new(o, "over", json_integer((json_int_t)a->over[c]));
		json_object_set_new(o, "over_share", json_real(share(a->over[c], a->captions)));
		json_object_set_new(o, "tokens_lost", json_integer((json_int_t)a->lost_tokens[c]));
		json_object_set_new(o, "tokens_lost_share", json_real(share(a->lost_tokens[c], a->content)));
		json_object_set_new(o, "words_lost", json_integer((json_int_t)a->lost_words[c]));
		json_object_set_new(o, "words_lost_share", json_real(share(a->lost_words[c], a->words)));
		json_array_append_new(ctx, o);
	}
	json_object_set_new(j, "contexts", ctx);
	json_t *s = json_object();
	json_object_set_new(s, "mean", json_real(share(a->sentences, a->captions)));
	json_object_set_new(s, "median", json_integer((json_int_t)hist_pct(&a->sh, a->captions, 0.5)));
	json_object_set_new(s, "max", json_integer((json_int_t)a->max_sent));
	if (full) {
		json_t *sh = json_object();
		for (size_t v = 0; v < a->sh.n; v++)
			if (a->sh.c[v]) {
				char k[24];
				snprintf(k, sizeof(k), "%zu", v);
				json_object_set_new(sh, k, json_integer((json_int_t)a->sh.c[v]));
			}
		json_object_set_new(s, "histogram", sh);
	}
	json_object_set_new(j, "sentences", s);
	if (full) {
		json_t *h = json_object(), *bins = json_array();
		size_t b = (size_t)st->bin;
		json_object_set_new(h, "bin_width", json_integer(st->bin));
		for (size_t lo = (a->min / b) * b; a->captions && lo <= a->max; lo += b) {
			uint64_t cnt = 0;
			for (size_t v = lo; v < lo + b && v < a->th.n; v++)
				cnt += a->th.c[v];
			json_t *o = json_object();
			json_object_set_new(o, "from", json_integer((json_int_t)lo));
			json_object_set_new(o, "to", json_integer((json_int_t)(lo + b - 1)));
			json_object_set_new(o, "count", json_integer((json_int_t)cnt));
			json_array_append_new(bins, o);
		}
		json_object_set_new(h, "bins", bins);
		json_object_set_new(j, "histogram", h);
	}
	return j;
}

struct ts_cstats *ts_cstats_new(struct ts_bpe_ctx *bpe, const struct ts_sentences *sp)
{
	struct ts_cstats *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->ctx[0] = 20;
	st->ctx[1] = 77;
	st->ctx[2] = 248;
	st->nctx = 3;
	st->bin = 10;
	st->cur_shard = -1;
	st->bpe = bpe;
	st->sp = (struct ts_sentences *)sp;
	return st;
}

int ts_cstats_add(struct ts_cstats *st, const char *text, size_t len, const char *where,
		  struct ts_cstats_one *one)
{
	uint64_t before = st->all.captions;
	if (add_caption_one(st, text, len, where, one))
		return -1;
	return st->all.captions > before ? 0 : 1;
}

json_t *ts_cstats_json(const struct ts_cstats *st, const char *source)
{
	json_t *j = acc_json(st, &st->all, 1);
	json_object_set_new(j, "source", json_string(source));
	json_object_set_new(j, "kind", json_string("dataset"));
	json_object_set_new(j, "blank", json_integer((json_int_t)st->blank));
	json_object_set_new(j, "unreadable", json_integer((json_int_t)st->skipped));
	return j;
}

void ts_cstats_free(struct ts_cstats *st)
{
	if (!st)
		return;
	acc_reset(&st->all);
	acc_reset(&st->shard);
	free(st);
}

static void flush_shard(struct ts_cstats *st)
{
	if (!st->by_shard || st->cur_shard < 0)
		return;
	json_t *j = acc_json(st, &st->shard, 0);
	json_object_set_new(j, "shard", json_string(st->cur_shard_name ? st->cur_shard_name : ""));
	json_array_append_new(st->by_shard, j);
	acc_reset(&st->shard);
}

static int ds_sample(const struct ts_dataset_sample *s, void *user)
{
	struct ts_cstats *st = user;
	if ((long)s->shard != st->cur_shard) {
		flush_shard(st);
		st->cur_shard = (long)s->shard;
		free((char *)st->cur_shard_name);
		st->cur_shard_name = strdup(s->shard_name ? s->shard_name : "");
	}
	return add_caption(st, s->caption ? s->caption : "", s->caption ? strlen(s->caption) : 0, s->key);
}

int ts_cstats_run(const struct ts_cstats_opts *o, json_t **out, struct ts_err *err)
{
	struct ts_cstats st = { .nctx = o->nctx, .bin = o->bin, .cur_shard = -1, .e = TS_ERR_INIT };
	struct ts_dataset *ds = NULL;
	FILE *in = NULL;
	char *line = NULL, path[4096];
	size_t cap = 0, lineno = 0;
	ssize_t n;
	struct stat sb;
	int jsonl = o->jsonl, rc = TS_OK;
	const char *src = o->source;

	*out = NULL;
	memcpy(st.ctx, o->ctx, sizeof(st.ctx));
	snprintf(path, sizeof(path), "%s/catalog.sqlite", src);
	int is_ds = stat(src, &sb) == 0 && S_ISDIR(sb.st_mode);
	if (is_ds && stat(path, &sb) != 0)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "'%s' is a directory but not a tessera dataset (no catalog.sqlite)", src);
	if (o->by_shard && !is_ds)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "--by-shard needs a dataset OUTDIR as SOURCE");
	if (!is_ds) {
		size_t l = strlen(src);
		jsonl |= l > 6 && !strcmp(src + l - 6, ".jsonl");
		in = strcmp(src, "-") ? fopen(src, "r") : stdin;
		if (!in)
			return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", src, strerror(errno));
	} else if ((rc = ts_dataset_open(&ds, src, err))) {
		return rc;
	}
	if (!(st.bpe = ts_bpe_ctx_new(o->bpe)) || ts_sentences_new(&st.sp, &st.e)) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "%s", st.e.msg[0] ? st.e.msg : "out of memory");
		goto done;
	}
	if (o->by_shard && !(st.by_shard = json_array())) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto done;
	}
	if (ds) {
		int r = ts_dataset_foreach_sample(ds, -1, ds_sample, &st, &st.e);
		if (r) {
			*err = st.e;
			rc = st.e.status ? st.e.status : ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			goto done;
		}
		flush_shard(&st);
	} else {
		while ((n = getline(&line, &cap, in)) >= 0) {
			const char *text;
			size_t len;
			json_t *j;
			char where[64], msg[200];
			lineno++;
			snprintf(where, sizeof(where), "line %zu", lineno);
			size_t bom = lineno == 1 ? ts_bom_len(line, (size_t)n) : 0;
			if (ts_caption_line(line + bom, (size_t)n - bom, jsonl, &text, &len, &j, msg,
					    sizeof(msg))) {
				ts_error("line %zu: %s", lineno, msg);
				st.skipped++;
				continue;
			}
			int r = add_caption(&st, text, len, where);
			json_decref(j);
			if (r) {
				rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
				goto done;
			}
		}
	}
	json_t *j = acc_json(&st, &st.all, 1);
	json_object_set_new(j, "source", json_string(src));
	json_object_set_new(j, "kind", json_string(ds ? "dataset" : jsonl ? "jsonl" : "text"));
	json_object_set_new(j, "blank", json_integer((json_int_t)st.blank));
	json_object_set_new(j, "unreadable", json_integer((json_int_t)st.skipped));
	if (st.by_shard)
		json_object_set(j, "by_shard", st.by_shard);
	*out = j;
done:
	acc_reset(&st.all);
	acc_reset(&st.shard);
	json_decref(st.by_shard);
	free((char *)st.cur_shard_name);
	free(line);
	ts_sentences_free(st.sp);
	ts_bpe_ctx_free(st.bpe);
	ts_dataset_close(ds);
	if (in && in != stdin)
		fclose(in);
	return rc;
}
