/*
 * captions_split.c - the work of `tessera captions split`: a short and a long caption
 * for every sample (captions/sentence.h has the rules), written as members
 * KEY.short.txt and KEY.long.txt after the sample's others, with the short
 * caption and token counts in the catalog.  The dataset is rewritten by
 * rewrite.c (in place, atomically, or into a new directory), each
 * sample's split on a worker of its pool (-j).  Running split twice gives
 * the same bytes as once, at any -j.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/bpe.h"
#include "captions/sentence.h"
#include "pipeline/drivers/captions_split.h"
#include "pipeline/drivers/rewrite.h"
#include "pipeline/util.h"

struct split_run {
	const struct ts_sentences *sp;
	enum ts_split_rule rule;
	size_t short_max;
	uint64_t fallbacks, short_tokens, long_tokens;
};

/* A worker's own: the run (read-only there) and its tokenizer context. */
struct split_worker {
	const struct split_run *run;
	struct ts_bpe_ctx *bpe;
};

/* On a worker: the pair, malloc'ed in res->priv until split_done. */
static int split_one(void *worker, const struct ts_dataset_sample *s, const struct ts_rw_member *members,
		     size_t nmembers, struct ts_rw_result *res, struct ts_err *err)
{
	struct split_worker *w = worker;
	const struct split_run *r = w->run;
	struct ts_split *cur = calloc(1, sizeof(*cur));
	int rc;
	if (!cur)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	res->priv = cur;
	if ((rc = ts_caption_split(r->sp, w->bpe, r->rule, r->short_max, s->caption ? s->caption : "",
				   s->caption ? strlen(s->caption) : 0, cur, err)))
		return rc;
	res->add[0] = (struct ts_rw_member){ "short.txt", cur->short_text, strlen(cur->short_text) };
	res->add[1] = (struct ts_rw_member){ "long.txt", cur->long_text, strlen(cur->long_text) };
	res->nadd = 2;
	res->set_text = 1;
	res->text = (struct ts_text_cols){
		.tokens = (long long)cur->long_tokens,
		.short_caption = cur->short_text,
		.short_tokens = (long long)cur->short_tokens,
		.split_rule = r->rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence",
		.split_fallback = cur->fallback,
	};
	return 0;
}

/* In record order, once the sample is written (or dropped). */
static void split_done(void *user, const struct ts_dataset_sample *s, struct ts_rw_result *res, int written)
{
	struct split_run *r = user;
	struct ts_split *cur = res->priv;
	if (!cur)
		return;
	if (written) {
		r->fallbacks += cur->fallback != NULL;
		r->short_tokens += cur->short_tokens;
		r->long_tokens += cur->long_tokens;
	}
	ts_split_release(cur);
	free(cur);
}

int ts_split_run(const struct ts_split_opts *o, struct ts_split_result *res, struct ts_err *err)
{
	struct split_run r = { .rule = o->rule, .short_max = o->short_max };
	struct ts_sentences *sp = NULL;
	struct split_worker *ws = NULL;
	void **wv = NULL;
	char *meta = NULL;
	struct ts_rw_stats st;
	int threads = o->threads > 0 ? o->threads : 1, nw = 0, rc;

	memset(res, 0, sizeof(*res));
	if ((rc = ts_sentences_new(&sp, err)))
		goto done;
	r.sp = sp;
	ws = calloc((size_t)threads, sizeof(*ws));
	wv = calloc((size_t)threads, sizeof(*wv));
	for (nw = 0; ws && wv && nw < threads; nw++) {
		ws[nw] = (struct split_worker){ &r, ts_bpe_ctx_new(o->bpe) };
		wv[nw] = &ws[nw];
		if (!ws[nw].bpe)
			break;
	}
	const char *rule = r.rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence";
	if (nw < threads ||
	    !(meta = ts_json_canonical(json_pack("{s:s, s:I}", "rule", rule, "short_max", (json_int_t)r.short_max)))) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto done;
	}
	struct ts_rw_opts ro = { .indir = o->indir, .outdir = o->outdir, .command = "tessera captions split",
				 .meta_name = "split", .meta_json = meta, .what = "split" };
	struct ts_rw_ops ops = { .work = split_one, .done = split_done, .user = &r, .workers = wv,
				 .threads = threads };
	int k = ts_rewrite(&ro, &ops, &st, err);
	if (k == TS_RW_INTERRUPTED) {
		res->interrupted = 1;
		rc = TS_OK;
		goto done;
	}
	if (k) {
		rc = err->status ? err->status : ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "captions split failed");
		goto done;
	}
	res->samples = st.samples;
	res->rejects = st.rejects;
	res->fallbacks = r.fallbacks;
	res->short_tokens_mean = st.samples ? (double)r.short_tokens / (double)st.samples : 0.0;
	res->long_tokens_mean = st.samples ? (double)r.long_tokens / (double)st.samples : 0.0;
	res->seconds = st.seconds;
	rc = TS_OK;
done:
	free(meta);
	for (int i = 0; ws && i < nw; i++)
		ts_bpe_ctx_free(ws[i].bpe);
	free(ws);
	free(wv);
	ts_sentences_free(sp);
	return rc;
}
