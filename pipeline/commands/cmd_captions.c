/*
 * cmd_captions.c - `tessera captions`: the dispatcher and `tokenize`, CLIP
 * token ids for captions, one JSON array per input line.  `stats` and
 * `split` are in captions_stats.c and captions_split.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/bpe.h"
#include "pipeline/drivers/captions_cmds.h"
#include "pipeline/drivers/captions_split.h"
#include "pipeline/drivers/captions_stats.h"
#include "pipeline/drivers/captions_tokenize.h"
#include "pipeline/cmd.h"
#include "pipeline/commands/opt.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

int cmd_captions(int argc, char **argv)
{
	static const struct ts_subcmd subs[] = {
		{ "tokenize", captions_tokenize },
		{ "stats", captions_stats },
		{ "split", captions_split },
		{ NULL, NULL },
	};
	return ts_subcmd_run("captions", subs, NULL, usage_captions, argc, argv);
}

int captions_tokenize(int argc, char **argv)
{
	enum { O_CONTEXT = 256, O_TRUNCATE, O_PAD, O_COUNT, O_JSONL, O_VOCAB };
	static const struct option opts[] = {
		{ "context", required_argument, NULL, O_CONTEXT },
		{ "truncate", no_argument, NULL, O_TRUNCATE },
		{ "pad", no_argument, NULL, O_PAD },
		{ "count", no_argument, NULL, O_COUNT },
		{ "jsonl", no_argument, NULL, O_JSONL },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "threads", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_tokenize_opts o = { .context = 77, .in_name = "-", .out = stdout, .err = stderr };
	long threads = 0;   /* all cores, like every other -j */
	int c, failed = 0;
	const char *vocab = NULL;
	struct ts_bpe *bpe = NULL;
	struct ts_err e = TS_ERR_INIT;
	FILE *in = stdin;

	optind = 1;
	while ((c = getopt_long(argc, argv, "j:qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_CONTEXT:
			if (ts_opt_int("context", optarg, 2, 1 << 20, "2 or more", &o.context))
				return TS_EXIT_USAGE;
			break;
		case O_TRUNCATE: o.truncate = 1; break;
		case O_PAD: o.pad = 1; break;
		case O_COUNT: o.count = 1; break;
		case O_JSONL: o.jsonl = 1; break;
		case O_VOCAB: vocab = optarg; break;
		case 'j':
			if (ts_opt_int("threads", optarg, 0, 1024, "0 (all cores) to 1024", &threads))
				return TS_EXIT_USAGE;
			break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_captions(stdout); return TS_EXIT_OK;
		default: return ts_usage_hint();
		}
	}
	o.threads = ts_opt_threads((int)threads);
	if (argc - optind > 1)
		return ts_usage_error("captions", "captions tokenize takes at most one FILE");
	if (argc - optind == 1 && strcmp(argv[optind], "-")) {
		if (!(in = fopen(argv[optind], "r"))) {
			ts_error("cannot open '%s': %s", argv[optind], strerror(errno));
			return TS_EXIT_FAIL;
		}
		o.in_name = argv[optind];
	}
	o.in_fd = fileno(in);
	int rc = ts_vocab_load(&bpe, vocab, &e);
	if (rc == TS_OK) {
		o.bpe = bpe;
		rc = ts_tokenize_run(&o, &failed, &e);
	}
	if (rc)
		ts_error("%s", e.msg[0] ? e.msg : "captions tokenize failed");
	ts_bpe_free(bpe);
	if (in != stdin)
		fclose(in);
	return rc || failed ? TS_EXIT_FAIL : TS_EXIT_OK;
}

/* ---- stats: the driver's document, as text or JSON ---- */

static double share(double a, double b)
{
	return b ? a / b : 0.0;
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void print_stats_text(json_t *j, const char *source)
{
	json_t *t = json_object_get(j, "tokens"), *s = json_object_get(j, "sentences");
	json_t *ctx = json_object_get(j, "contexts");
	json_int_t captions = jint(j, "captions"), blank = jint(j, "blank"), unreadable = jint(j, "unreadable");
	printf("%s: %" JSON_INTEGER_FORMAT " captions", source, captions);
	if (blank || unreadable)
		printf(" (%" JSON_INTEGER_FORMAT " blank and %" JSON_INTEGER_FORMAT " unreadable not counted)",
		       blank, unreadable);
	printf("\n\ntokens per caption (SOT and EOT included)\n");
	printf("  mean %.2f   min %zu   median %zu   p90 %zu   p99 %zu   max %zu\n",
	       json_real_value(json_object_get(t, "mean")), (size_t)jint(t, "min"), (size_t)jint(t, "median"),
	       (size_t)jint(t, "p90"), (size_t)jint(t, "p99"), (size_t)jint(t, "max"));
	printf("sentences per caption\n  mean %.2f   median %zu   max %zu\n\n",
	       json_real_value(json_object_get(s, "mean")), (size_t)jint(s, "median"), (size_t)jint(s, "max"));
	printf("  context   over it   captions   tokens lost   words lost\n");
	size_t i;
	json_t *c;
	json_array_foreach(ctx, i, c)
		printf("  %7zu %9" PRIu64 " %9.2f%% %12.2f%% %11.2f%%\n", (size_t)jint(c, "context"),
		       (uint64_t)jint(c, "over"), 100 * json_real_value(json_object_get(c, "over_share")),
		       100 * json_real_value(json_object_get(c, "tokens_lost_share")),
		       100 * json_real_value(json_object_get(c, "words_lost_share")));
	json_t *bins = json_object_get(json_object_get(j, "histogram"), "bins"), *b;
	uint64_t top = 1;
	json_array_foreach(bins, i, b)
		if ((uint64_t)jint(b, "count") > top)
			top = (uint64_t)jint(b, "count");
	printf("\ntokens per caption, histogram\n");
	json_array_foreach(bins, i, b) {
		uint64_t cnt = (uint64_t)jint(b, "count");
		int bar = (int)((cnt * 50 + top - 1) / top);
		printf("  %5" JSON_INTEGER_FORMAT "-%-5" JSON_INTEGER_FORMAT " %-50.*s %" PRIu64 " (%.1f%%)\n",
		       jint(b, "from"), jint(b, "to"), bar, "##################################################", cnt,
		       100 * share((double)cnt, (double)captions));
	}
	json_t *bs = json_object_get(j, "by_shard");
	if (bs) {
		size_t k = json_array_size(ctx) > 1 ? 1 : 0;   /* 77 by default */
		json_t *kc = json_array_get(ctx, k);
		printf("\n  shard            captions   mean   median   p90   max   over %zu\n",
		       kc ? (size_t)jint(kc, "context") : 77);
		json_array_foreach(bs, i, b) {
			json_t *bt = json_object_get(b, "tokens");
			json_t *bc = json_array_get(json_object_get(b, "contexts"), k);
			printf("  %-16s %8" JSON_INTEGER_FORMAT " %6.2f %8" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
			       " %5" JSON_INTEGER_FORMAT " %9.2f%%\n",
			       json_string_value(json_object_get(b, "shard")), jint(b, "captions"),
			       json_real_value(json_object_get(bt, "mean")), jint(bt, "median"), jint(bt, "p90"),
			       jint(bt, "max"), bc ? 100 * json_real_value(json_object_get(bc, "over_share")) : 0.0);
		}
	}
}

/* "20,77,248": up to TS_CSTATS_MAX_CONTEXTS numbers of 3 or more */
static int parse_contexts(const char *s, struct ts_cstats_opts *o)
{
	char *copy = strdup(s), *save = NULL;
	o->nctx = 0;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
		long v;
		if (o->nctx == TS_CSTATS_MAX_CONTEXTS || ts_parse_int(t, 3, 1 << 20, &v)) {
			free(copy);
			return -1;
		}
		o->ctx[o->nctx++] = (size_t)v;
	}
	free(copy);
	return o->nctx ? 0 : -1;
}

int captions_stats(int argc, char **argv)
{
	enum { O_CONTEXTS = 256, O_JSON, O_BY_SHARD, O_JSONL, O_BIN, O_VOCAB };
	static const struct option opts[] = {
		{ "contexts", required_argument, NULL, O_CONTEXTS },
		{ "json", no_argument, NULL, O_JSON },
		{ "by-shard", no_argument, NULL, O_BY_SHARD },
		{ "jsonl", no_argument, NULL, O_JSONL },
		{ "bin-width", required_argument, NULL, O_BIN },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_cstats_opts o = { .ctx = { 20, 77, 248 }, .nctx = 3, .bin = 10 };
	const char *vocab = NULL;
	int c, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_CONTEXTS:
			if (parse_contexts(optarg, &o)) {
				char want[96];
				snprintf(want, sizeof(want), "expected up to %d comma-separated numbers of 3 or more",
					 TS_CSTATS_MAX_CONTEXTS);
				return ts_opt_bad("captions", "--contexts", optarg, want);
			}
			break;
		case O_JSON: json = 1; break;
		case O_BY_SHARD: o.by_shard = 1; break;
		case O_JSONL: o.jsonl = 1; break;
		case O_BIN:
			if (ts_opt_int("bin-width", optarg, 1, 1 << 20, "1 or more", &o.bin))
				return TS_EXIT_USAGE;
			break;
		case O_VOCAB: vocab = optarg; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_captions(stdout); return TS_EXIT_OK;
		default: return ts_usage_hint();
		}
	}
	if (argc - optind != 1)
		return ts_usage_error("captions", "captions stats takes one SOURCE (a dataset OUTDIR, a text file "
				      "or JSONL; - for standard input)");
	o.source = argv[optind];

	struct ts_bpe *bpe = NULL;
	struct ts_err e = TS_ERR_INIT;
	json_t *j = NULL;
	int rc = ts_vocab_load(&bpe, vocab, &e);
	if (rc == TS_OK) {
		o.bpe = bpe;
		rc = ts_cstats_run(&o, &j, &e);
	}
	ts_bpe_free(bpe);
	if (rc) {
		if (rc == TS_ERR_USAGE)
			return ts_usage_error("captions", "%s", e.msg);
		ts_error("%s", e.msg[0] ? e.msg : "captions stats failed");
		return TS_EXIT_FAIL;
	}
	if (json) {
		char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
		if (s)
			puts(s);
		free(s);
	} else {
		print_stats_text(j, o.source);
	}
	int unreadable = jint(j, "unreadable") > 0;
	json_decref(j);
	return unreadable ? TS_EXIT_FAIL : TS_EXIT_OK;
}

/* ---- split: options, the summary, the exit code ---- */

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
	struct ts_split_opts o = { .rule = TS_SPLIT_SENTENCE, .short_max = 77 };
	struct ts_opt_rw rw = { 0 };
	const char *vocab = NULL;
	int c;
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
			if (!strcmp(optarg, "sentence"))
				o.rule = TS_SPLIT_SENTENCE;
			else if (!strcmp(optarg, "longclip"))
				o.rule = TS_SPLIT_LONGCLIP;
			else
				return ts_opt_bad("captions", "--rule", optarg, "expected sentence or longclip");
			break;
		case O_SHORT_MAX:
			if (ts_opt_int("short-max", optarg, 3, 1 << 20, "3 or more", &v))
				return TS_EXIT_USAGE;
			o.short_max = (size_t)v;
			break;
		case O_VOCAB: vocab = optarg; break;
		case 'h': usage_captions(stdout); return TS_EXIT_OK;
		default: return ts_usage_hint();
		}
	}
	if (argc - optind != 1)
		return ts_usage_error("captions", "captions split takes one OUTDIR (a tessera dataset)");
	o.indir = argv[optind];
	o.outdir = rw.out;
	o.threads = ts_opt_threads(rw.threads);

	struct ts_bpe *bpe = NULL;
	struct ts_split_result r;
	struct ts_err e = TS_ERR_INIT;
	int rc = ts_vocab_load(&bpe, vocab, &e);
	if (rc == TS_OK) {
		o.bpe = bpe;
		rc = ts_split_run(&o, &r, &e);
	}
	ts_bpe_free(bpe);
	if (rc) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		return TS_EXIT_FAIL;
	}
	if (r.interrupted)
		return TS_EXIT_INTERRUPTED;
	const char *rule = o.rule == TS_SPLIT_LONGCLIP ? "longclip" : "sentence";
	if (rw.json)
		ts_print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f}",
					"command", "captions split", "outdir", rw.out ? rw.out : o.indir,
					"rule", rule, "short_max", (json_int_t)o.short_max,
					"samples", (json_int_t)r.samples, "rejects", (json_int_t)r.rejects,
					"fallbacks", (json_int_t)r.fallbacks, "short_tokens_mean", r.short_tokens_mean,
					"long_tokens_mean", r.long_tokens_mean, "seconds", r.seconds));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "split done: %" PRIu64 " samples (%" PRIu64 " with a fallback), mean tokens short %.1f, long %.1f, %.1f s\n",
			r.samples, r.fallbacks, r.short_tokens_mean, r.long_tokens_mean, r.seconds);
	return TS_EXIT_OK;
}
