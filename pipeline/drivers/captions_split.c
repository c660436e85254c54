/*
 * captions_split.c - `tessera captions split`: a short and a long caption
 * for every sample (captions/sentence.h has the rules), written as members
 * KEY.short.txt and KEY.long.txt after the sample's others, with the short
 * caption and token counts in the catalog.  The dataset is rewritten by
 * rewrite.c (in place, atomically, or into a new directory), each
 * sample's split on a worker of its pool (-j).  Running split twice gives
 * the same bytes as once, at any -j.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/bpe.h"
#include "captions/sentence.h"
#include "pipeline/drivers/captions_cmds.h"
#include "pipeline/cmd.h"
#include "pipeline/opt.h"
#include "pipeline/drivers/rewrite.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

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
static int split_one(void *worker, const struct ts_ds_sample *s, const struct ts_rw_member *members,
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
static void split_done(void *user, const struct ts_ds_sample *s, struct ts_rw_result *res, int written)
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

int captions_split(int argc, char **argv)
{
	enum { O_RULE = 256, O_SHORT_MAX, O_VOCAB };
	static const struct option opts[] = {
		{ "rule", required_argument, NULL, O_RULE },
		{ "short-max", required_argument, NULL, O_SHORT_MAX },
		{ "vocab", required_argument, NULL, O_VOCAB },
		TS_OPT_REWRITE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct split_run r = { .rule = TS_SPLIT_SENTENCE, .short_max = 77 };
	struct ts_opt_rw rw = { 0 };
	struct ts_sentences *sp = NULL;
	struct split_worker *ws = NULL;
	void **wv = NULL;
	struct ts_bpe *bpe = NULL;
	char *meta = NULL;
	struct ts_err e = TS_ERR_INIT;
	struct ts_rw_stats st;
	const char *vocab = NULL;
	int c, nw = 0, rc = TS_EXIT_FAIL;
	long v;

	optind = 1;
	while ((c = getopt_long(argc, argv, TS_OPT_REWRITE_SHORTOPTS "h", opts, NULL)) != -1) {
		int g = ts_opt_rewrite(c, optarg, &rw);
		if (g == TS_OPT_TAKEN)
			continue;
		if (g != TS_OPT_NOT_MINE)
			return g;
		switch (c) {
		case O_RULE:
			if (!strcmp(optarg, "sentence")) {
				r.rule = TS_SPLIT_SENTENCE;
			} else if (!strcmp(optarg, "longclip")) {
				r.rule = TS_SPLIT_LONGCLIP;
			} else {
				ts_error("invalid value '%s' for --rule: expected sentence or longclip", optarg);
				return TS_EXIT_USAGE;
			}
			break;
		case O_SHORT_MAX:
			if (ts_opt_int("short-max", optarg, 3, 1 << 20, "3 or more", &v))
				return TS_EXIT_USAGE;
			r.short_max = (size_t)v;
			break;
		case O_VOCAB: vocab = optarg; break;
		case 'h': usage_captions(stdout); return TS_EXIT_OK;
		default: fputs("see 'tessera captions --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ts_error("captions split takes one OUTDIR (a tessera dataset)");
		return TS_EXIT_USAGE;
	}
	int threads = ts_opt_threads(rw.threads);
	if (ts_vocab_load(&bpe, vocab, &e) || ts_sentences_new(&sp, &e))
		goto fail;
	r.sp = sp;
	ws = calloc((size_t)threads, sizeof(*ws));
	wv = calloc((size_t)threads, sizeof(*wv));
	for (nw = 0; ws && wv && nw < threads; nw++) {
		ws[nw] = (struct split_worker){ &r, ts_bpe_ctx_new(bpe) };
		wv[nw] = &ws[nw];
		if (!ws[nw].bpe)
			break;
	}
	if (nw < threads)
		goto fail;
	const char *rule = r.rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence";
	meta = ts_json_canonical(json_pack("{s:s, s:I}", "rule", rule, "short_max", (json_int_t)r.short_max));
	if (!meta)
		goto fail;
	struct ts_rw_opts ro = { .indir = argv[optind], .outdir = rw.out, .command = "tessera captions split",
				 .meta_name = "split", .meta_json = meta, .what = "split" };
	struct ts_rw_ops ops = { .work = split_one, .done = split_done, .user = &r, .workers = wv,
				 .threads = threads };
	int k = ts_rewrite(&ro, &ops, &st, &e);
	if (k == TS_RW_INTERRUPTED) {
		rc = TS_EXIT_INTERRUPTED;
		goto done;
	}
	if (k)
		goto fail;
	double ms = st.samples ? (double)r.short_tokens / (double)st.samples : 0.0;
	double ml = st.samples ? (double)r.long_tokens / (double)st.samples : 0.0;
	if (rw.json)
		ts_print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f}",
					"command", "captions split", "outdir", rw.out ? rw.out : argv[optind],
					"rule", rule, "short_max", (json_int_t)r.short_max,
					"samples", (json_int_t)st.samples, "rejects", (json_int_t)st.rejects,
					"fallbacks", (json_int_t)r.fallbacks, "short_tokens_mean", ms,
					"long_tokens_mean", ml, "seconds", st.seconds));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "split done: %" PRIu64 " samples (%" PRIu64 " with a fallback), mean tokens short %.1f, long %.1f, %.1f s\n",
			st.samples, r.fallbacks, ms, ml, st.seconds);
	rc = TS_EXIT_OK;
	goto done;
fail:
	ts_error("%s", e.msg[0] ? e.msg : "out of memory");
done:
	free(meta);
	for (int i = 0; ws && i < nw; i++)
		ts_bpe_ctx_free(ws[i].bpe);
	free(ws);
	free(wv);
	ts_sentences_free(sp);
	ts_bpe_free(bpe);
	return rc;
}
