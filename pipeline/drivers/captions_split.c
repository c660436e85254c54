/*
 * captions_split.c - `tessera captions split`: a short and a long caption
 * for every sample (captions/sentence.h has the rules), written as members
 * KEY.short.txt and KEY.long.txt after the sample's others, with the short
 * caption and token counts in the catalog.  The dataset is rewritten by
 * rewrite.c (in place, atomically, or into a new directory).  Running
 * split twice gives the same bytes as once.
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
#include "pipeline/drivers/rewrite.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

struct split_run {
	struct ts_bpe_ctx *bpe;
	struct ts_sentences *sp;
	enum ts_split_rule rule;
	size_t short_max;
	struct ts_split cur;       /* the last sample's pair, alive until the next */
	uint64_t fallbacks, short_tokens, long_tokens;
};

static int split_one(void *user, const struct ts_ds_sample *s, const struct ts_rw_member *members,
		     size_t nmembers, struct ts_rw_result *res, struct ts_err *err)
{
	struct split_run *r = user;
	int rc;
	ts_split_release(&r->cur);
	if ((rc = ts_caption_split(r->sp, r->bpe, r->rule, r->short_max, s->caption ? s->caption : "",
				   s->caption ? strlen(s->caption) : 0, &r->cur, err)))
		return rc;
	res->add[0] = (struct ts_rw_member){ "short.txt", r->cur.short_text, strlen(r->cur.short_text) };
	res->add[1] = (struct ts_rw_member){ "long.txt", r->cur.long_text, strlen(r->cur.long_text) };
	res->nadd = 2;
	res->set_text = 1;
	res->text = (struct ts_text_cols){
		.tokens = (long long)r->cur.long_tokens,
		.short_caption = r->cur.short_text,
		.short_tokens = (long long)r->cur.short_tokens,
		.split_rule = r->rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence",
		.split_fallback = r->cur.fallback,
	};
	r->fallbacks += r->cur.fallback != NULL;
	r->short_tokens += r->cur.short_tokens;
	r->long_tokens += r->cur.long_tokens;
	return 0;
}

int captions_split(int argc, char **argv)
{
	enum { O_RULE = 256, O_SHORT_MAX, O_VOCAB, O_JSON };
	static const struct option opts[] = {
		{ "rule", required_argument, NULL, O_RULE },
		{ "short-max", required_argument, NULL, O_SHORT_MAX },
		{ "output", required_argument, NULL, 'o' },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct split_run r = { .rule = TS_SPLIT_SENTENCE, .short_max = 77 };
	struct ts_bpe *bpe = NULL;
	char *meta = NULL;
	struct ts_err e = TS_ERR_INIT;
	struct ts_rw_stats st;
	const char *vocab = NULL, *out = NULL;
	int json = 0, c, rc = TS_EXIT_FAIL;
	long v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
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
		case 'o': out = optarg; break;
		case O_VOCAB: vocab = optarg; break;
		case O_JSON: json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_captions(stdout); return TS_EXIT_OK;
		default: fputs("see 'tessera captions --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ts_error("captions split takes one OUTDIR (a tessera dataset)");
		return TS_EXIT_USAGE;
	}
	if (ts_vocab_load(&bpe, vocab, &e) || ts_sentences_new(&r.sp, &e) || !(r.bpe = ts_bpe_ctx_new(bpe))) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		goto done;
	}
	const char *rule = r.rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence";
	meta = ts_json_canonical(json_pack("{s:s, s:I}", "rule", rule, "short_max", (json_int_t)r.short_max));
	if (!meta) {
		ts_error("out of memory");
		goto done;
	}
	struct ts_rw_opts ro = { .indir = argv[optind], .outdir = out, .command = "tessera captions split",
				 .meta_name = "split", .meta_json = meta, .what = "split" };
	rc = ts_rewrite(&ro, split_one, &r, &st);
	if (rc != TS_EXIT_OK)
		goto done;
	double ms = st.samples ? (double)r.short_tokens / (double)st.samples : 0.0;
	double ml = st.samples ? (double)r.long_tokens / (double)st.samples : 0.0;
	if (json)
		ts_print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f}",
					"command", "captions split", "outdir", out ? out : argv[optind],
					"rule", rule, "short_max", (json_int_t)r.short_max,
					"samples", (json_int_t)st.samples, "rejects", (json_int_t)st.rejects,
					"fallbacks", (json_int_t)r.fallbacks, "short_tokens_mean", ms,
					"long_tokens_mean", ml, "seconds", st.seconds));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "split done: %" PRIu64 " samples (%" PRIu64 " with a fallback), mean tokens short %.1f, long %.1f, %.1f s\n",
			st.samples, r.fallbacks, ms, ml, st.seconds);
done:
	free(meta);
	ts_split_release(&r.cur);
	ts_sentences_free(r.sp);
	ts_bpe_ctx_free(r.bpe);
	ts_bpe_free(bpe);
	return rc;
}
