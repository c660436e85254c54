/*
 * cmd_tags.c - `tessera tags`: candidate tags for every caption of a
 * dataset, their model scores, the selected feed, one tag's mask, and the
 * statistics (docs/tags.md).  Here only the options, the messages and the
 * exit codes; the work is pipeline/drivers/tags.c's.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cmd.h"
#include "pipeline/drivers/tags.h"
#include "pipeline/commands/opt.h"
#include "pipeline/util.h"

void usage_tags(FILE *f)
{
	fputs(
"usage: tessera tags [options] OUTDIR\n"
"       tessera tags stats [options] OUTDIR\n"
"       tessera tags extract [options] [FILE]\n"
"       tessera tags import-scores [options] OUTDIR SCORES.jsonl\n"
"       tessera tags select --threshold T [options] OUTDIR\n"
"       tessera tags mask [options] OUTDIR KEY TAG -o OUT.png\n"
"\n"
"Candidate tags for text-tag self-distillation (TTD): the nouns and noun\n"
"compounds of every caption that name things in the image, found with\n"
"WordNet, each with its span in the caption (code points and bytes) and in\n"
"its CLIP tokens (SOT at 0).  Writes KEY.tags.json for every sample and the\n"
"catalog's tags table (docs/tags.md).\n"
"\n"
"tags:\n"
"  -o, --output DIR       write a new dataset to DIR instead of rewriting OUTDIR\n"
"  -j, --threads N        worker threads (default: all cores); the output is\n"
"                         the same for every N\n"
"      --wordnet DIR      WordNet 3.0 database (default: /usr/share/wordnet,\n"
"                         Debian's wordnet-base)\n"
"      --keep-scene-words keep scene and appearance words (image, view, side, subject,\n"
"                         hue, pattern...) and places within a thing (its base)\n"
"      --all-nouns        keep abstract nouns too (trick, day, game...)\n"
"      --context N        mark tags past this CLIP context as truncated (default: 77)\n"
"      --vocab PATH       CLIP vocabulary (default: $TESSERA_VOCAB, else the copy\n"
"                         shipped with tessera)\n"
"\n"
"extract: one caption per line (or JSONL with --jsonl, field caption or\n"
"text) from FILE or standard input to one JSON array of tags per line.\n"
"      --jsonl            input lines are JSON objects\n"
"\n"
"import-scores: per-tag scores from a model run elsewhere, lines\n"
"{\"key\", \"tag\", \"score\"[, \"mask\": PNG path]}, into the tag_scores table\n"
"(masks become KEY.<n>.tagmask.png members); replaces earlier scores.\n"
"Unknown keys or tags and malformed lines are reported; the rest is imported.\n"
"  -o, -j, --json         as for tags\n"
"\n"
"select: the training feed: per sample the image, KEY.txt and KEY.tags.json\n"
"with only the tags scored at least T (and their masks).\n"
"      --threshold T      the score a tag needs (required)\n"
"  -o, -j, --json         as for tags\n"
"\n"
"mask: one tag's pixels as a binary 0/255 PNG (its region of the image).\n"
"\n"
"stats: distinct tags, the most frequent, tags per caption, captions with 0\n"
"or 1 tag.\n"
"      --top N            how many of the most frequent tags (default: 20)\n"
"      --json             one JSON object (tags: a summary line)\n"
"\n"
"  -q, --quiet            fewer messages\n"
"  -v, --verbose          more messages\n"
"  -h, --help             this help\n"
"\n"
"A dataset directory named like a subcommand is given as ./stats.\n"
"Exit status: 0 ok, 1 an error, 2 a usage error.\n", f);
}

/* ---- the options the subcommands share ------------------------------------ */

enum { O_WORDNET = 256, O_KEEP_SCENE, O_ALL_NOUNS, O_CONTEXT, O_VOCAB, O_JSONL, O_TOP, O_THRESHOLD, O_JSON };

#define TAGGER_LONGOPTS \
	{ "wordnet", required_argument, NULL, O_WORDNET }, \
	{ "keep-scene-words", no_argument, NULL, O_KEEP_SCENE }, \
	{ "all-nouns", no_argument, NULL, O_ALL_NOUNS }, \
	{ "context", required_argument, NULL, O_CONTEXT }, \
	{ "vocab", required_argument, NULL, O_VOCAB }

/* The tagger's options (tags, extract): TS_OPT_TAKEN, TS_OPT_NOT_MINE or
 * TS_EXIT_USAGE after the message. */
static int tagger_opt(int c, const char *arg, struct ts_tags_tagger_opts *t)
{
	long v;
	switch (c) {
	case O_WORDNET: t->wordnet = arg; break;
	case O_KEEP_SCENE: t->tagger.keep_scene_words = 1; break;
	case O_ALL_NOUNS: t->tagger.all_nouns = 1; break;
	case O_CONTEXT:
		if (ts_opt_int("context", arg, 3, 1 << 20, "3 or more", &v))
			return TS_EXIT_USAGE;
		t->tagger.context = (size_t)v;
		break;
	case O_VOCAB: t->vocab = arg; break;
	default: return TS_OPT_NOT_MINE;
	}
	return TS_OPT_TAKEN;
}

/* -h and what getopt refused, after every group declined c. */
static int tags_other(int c)
{
	if (c == 'h') {
		usage_tags(stdout);
		return TS_EXIT_OK;
	}
	fputs("see 'tessera tags --help'\n", stderr);
	return TS_EXIT_USAGE;
}

/* The exit code of a driver's result, after its message. */
static int tags_exit(int rc, const struct ts_err *e)
{
	if (rc == TS_OK)
		return TS_EXIT_OK;
	if (rc == TS_RW_INTERRUPTED)
		return TS_EXIT_INTERRUPTED;
	ts_error("%s", e->msg[0] ? e->msg : "out of memory");
	return TS_EXIT_FAIL;
}

/* ---- tags ------------------------------------------------------------------ */

static int tags_run(int argc, char **argv)
{
	static const struct option opts[] = {
		TAGGER_LONGOPTS,
		TS_OPT_REWRITE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_tags_opts o = { .t.tagger.context = 77 };
	struct ts_opt_rw rw = { 0 };
	struct ts_tags_stats st;
	struct ts_err e = TS_ERR_INIT;
	int c, g;

	optind = 1;
	while ((c = getopt_long(argc, argv, TS_OPT_REWRITE_SHORTOPTS "h", opts, NULL)) != -1) {
		if ((g = ts_opt_rewrite(c, optarg, &rw)) == TS_OPT_NOT_MINE)
			g = tagger_opt(c, optarg, &o.t);
		if (g == TS_OPT_NOT_MINE)
			return tags_other(c);
		if (g != TS_OPT_TAKEN)
			return g;
	}
	if (argc - optind != 1) {
		ts_error("tags takes one OUTDIR (a tessera dataset)");
		fputs("see 'tessera tags --help'\n", stderr);
		return TS_EXIT_USAGE;
	}
	o.dataset = argv[optind];
	o.outdir = rw.out;
	o.threads = ts_opt_threads(rw.threads);
	int rc = ts_tags_run(&o, &st, &e);
	if (rc != TS_OK)
		return tags_exit(rc, &e);
	if (rw.json)
		ts_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f}", "command", "tags",
					"outdir", rw.out ? rw.out : o.dataset, "samples", (json_int_t)st.rw.samples,
					"captions", (json_int_t)st.captions, "tags", (json_int_t)st.tags,
					"captions_without_tags", (json_int_t)st.empty, "seconds", st.rw.seconds));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "tags done: %" PRIu64 " samples, %" PRIu64 " captions, %" PRIu64
			" tags (%.2f per caption, %" PRIu64 " captions without any), %.1f s\n",
			st.rw.samples, st.captions, st.tags,
			st.captions ? (double)st.tags / (double)st.captions : 0.0, st.empty, st.rw.seconds);
	return TS_EXIT_OK;
}

/* ---- extract ------------------------------------------------------------- */

static int tags_extract(int argc, char **argv)
{
	static const struct option opts[] = {
		TAGGER_LONGOPTS,
		{ "jsonl", no_argument, NULL, O_JSONL },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_tags_tagger_opts to = { .tagger.context = 77 };
	struct ts_tags_extractor *x = NULL;
	struct ts_err e = TS_ERR_INIT;
	int jsonl = 0, c, g, rc = TS_EXIT_OK;
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		if ((g = tagger_opt(c, optarg, &to)) == TS_OPT_TAKEN)
			continue;
		if (g != TS_OPT_NOT_MINE)
			return g;
		switch (c) {
		case O_JSONL: jsonl = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		default: return tags_other(c);
		}
	}
	if (argc - optind > 1) {
		ts_error("tags extract takes at most one FILE");
		return TS_EXIT_USAGE;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") && !(in = fopen(argv[optind], "r"))) {
		ts_error("cannot open '%s': %s", argv[optind], strerror(errno));
		return TS_EXIT_FAIL;
	}
	if (ts_tags_extractor_new(&x, &to, &e)) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		rc = TS_EXIT_FAIL;
		goto done;
	}
	while ((n = getline(&line, &cap, in)) >= 0) {
		const char *text;
		size_t len;
		json_t *j;
		char msg[200], *s;
		lineno++;
		size_t bom = lineno == 1 ? ts_bom_len(line, (size_t)n) : 0;
		if (ts_caption_line(line + bom, (size_t)n - bom, jsonl, &text, &len, &j, msg, sizeof(msg))) {
			ts_error("line %zu: %s", lineno, msg);
			rc = TS_EXIT_FAIL;
			continue;
		}
		if (ts_tags_extract_json(x, text, len, &s, &e)) {
			ts_error("line %zu: %s", lineno, e.msg);
			rc = TS_EXIT_FAIL;
		} else {
			puts(s);
		}
		free(s);
		json_decref(j);
	}
done:
	free(line);
	ts_tags_extractor_free(x);
	if (in != stdin)
		fclose(in);
	return rc;
}

/* ---- import-scores ---------------------------------------------------------- */

static void warn_line(void *user, const char *msg)
{
	ts_warning("%s", msg);
}

static int tags_import(int argc, char **argv)
{
	static const struct option opts[] = {
		TS_OPT_REWRITE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_opt_rw rw = { 0 };
	struct ts_tags_import_stats st;
	struct ts_err e = TS_ERR_INIT;
	int c, g;

	optind = 1;
	while ((c = getopt_long(argc, argv, TS_OPT_REWRITE_SHORTOPTS "h", opts, NULL)) != -1) {
		if ((g = ts_opt_rewrite(c, optarg, &rw)) == TS_OPT_NOT_MINE)
			return tags_other(c);
		if (g != TS_OPT_TAKEN)
			return g;
	}
	if (argc - optind != 2) {
		ts_error("tags import-scores takes OUTDIR and SCORES.jsonl");
		return TS_EXIT_USAGE;
	}
	struct ts_tags_import_opts o = { .dataset = argv[optind], .outdir = rw.out, .scores = argv[optind + 1],
					 .threads = ts_opt_threads(rw.threads), .warn = warn_line };
	int rc = ts_tags_import(&o, &st, &e);
	if (rc != TS_OK)
		return tags_exit(rc, &e);
	if (rw.json)
		ts_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "command", "tags import-scores",
					"imported", (json_int_t)st.imported, "malformed_lines", (json_int_t)st.malformed,
					"unknown_keys", (json_int_t)st.unknown_keys, "unknown_tags", (json_int_t)st.unknown_tags,
					"bad_masks", (json_int_t)st.bad_masks));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "imported %" PRIu64 " scores (%" PRIu64 " malformed lines, %" PRIu64
			" unknown keys, %" PRIu64 " unknown tags, %" PRIu64 " bad masks)\n",
			st.imported, st.malformed, st.unknown_keys, st.unknown_tags, st.bad_masks);
	return TS_EXIT_OK;
}

/* ---- select ----------------------------------------------------------------- */

static int tags_select(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		TS_OPT_REWRITE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_opt_rw rw = { 0 };
	struct ts_tags_select_opts o = { 0 };
	struct ts_tags_select_stats st;
	struct ts_err e = TS_ERR_INIT;
	int c, g, have_t = 0;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, TS_OPT_REWRITE_SHORTOPTS "h", opts, NULL)) != -1) {
		if ((g = ts_opt_rewrite(c, optarg, &rw)) == TS_OPT_TAKEN)
			continue;
		if (g != TS_OPT_NOT_MINE)
			return g;
		if (c != O_THRESHOLD)
			return tags_other(c);
		o.threshold = strtod(optarg, &end);
		if (end == optarg || *end) {
			ts_error("invalid value '%s' for --threshold: expected a number", optarg);
			return TS_EXIT_USAGE;
		}
		have_t = 1;
	}
	if (argc - optind != 1 || !have_t) {
		ts_error("tags select takes --threshold T and one OUTDIR");
		return TS_EXIT_USAGE;
	}
	o.dataset = argv[optind];
	o.outdir = rw.out;
	o.threads = ts_opt_threads(rw.threads);
	int rc = ts_tags_select(&o, &st, &e);
	if (rc != TS_OK) {
		int x = tags_exit(rc, &e);
		if (st.no_scores)
			fprintf(stderr, "hint: score the tags with a model, then run "
				"'tessera tags import-scores %s SCORES.jsonl' (docs/tags.md)\n", o.dataset);
		return x;
	}
	if (rw.json)
		ts_print_json(json_pack("{s:s, s:f, s:I, s:I, s:I}", "command", "tags select",
					"threshold", o.threshold, "samples", (json_int_t)st.rw.samples,
					"tags_kept", (json_int_t)st.kept, "tags_dropped", (json_int_t)st.dropped));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "select done: %" PRIu64 " samples, %" PRIu64 " tags kept, %" PRIu64 " dropped\n",
			st.rw.samples, st.kept, st.dropped);
	return TS_EXIT_OK;
}

/* ---- mask ------------------------------------------------------------------- */

static int tags_mask(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	struct ts_err e = TS_ERR_INIT;
	uint8_t *png = NULL;
	size_t pngl = 0;
	int c, rc = TS_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		default: return tags_other(c);
		}
	}
	if (argc - optind != 3 || !out) {
		ts_error("tags mask takes OUTDIR KEY TAG and -o OUT.png");
		return TS_EXIT_USAGE;
	}
	if (ts_tags_mask(argv[optind], argv[optind + 1], argv[optind + 2], &png, &pngl, &e)) {
		ts_error("%s", e.msg);
		goto done;
	}
	FILE *f = fopen(out, "wb");
	if (!f || fwrite(png, 1, pngl, f) != pngl || fclose(f)) {
		ts_error("cannot write '%s': %s", out, strerror(errno));
		goto done;
	}
	rc = TS_EXIT_OK;
done:
	free(png);
	return rc;
}

/* ---- stats ------------------------------------------------------------------ */

static int tags_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "top", required_argument, NULL, O_TOP },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long top = 20;
	int json = 0, c;
	struct ts_err e = TS_ERR_INIT;
	struct ts_tags_summary t;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_TOP:
			if (ts_parse_int(optarg, 0, 1 << 20, &top)) {
				ts_error("invalid value '%s' for --top: expected 0 or more", optarg);
				return TS_EXIT_USAGE;
			}
			break;
		case O_JSON: json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		default: return tags_other(c);
		}
	}
	if (argc - optind != 1) {
		ts_error("tags stats takes one OUTDIR (a tessera dataset)");
		return TS_EXIT_USAGE;
	}
	if (ts_tags_summarize(argv[optind], (size_t)top, &t, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	double share0 = t.captions ? (double)t.per_caption[0] / (double)t.captions : 0;
	double share1 = t.captions ? (double)t.per_caption[1] / (double)t.captions : 0;
	if (json) {
		json_t *j = json_object(), *tops = json_array(), *hist = json_object();
		for (size_t k = 0; k < t.ntop; k++)
			json_array_append_new(tops, json_pack("{s:s, s:I}", "lemma", t.top[k].lemma,
							      "count", (json_int_t)t.top[k].n));
		for (int k = 0; k <= 32; k++)
			if (t.per_caption[k]) {
				char b[16];
				snprintf(b, sizeof(b), k == 32 ? "32+" : "%d", k);
				json_object_set_new(hist, b, json_integer((json_int_t)t.per_caption[k]));
			}
		json_object_set_new(j, "samples", json_integer((json_int_t)t.samples));
		json_object_set_new(j, "captions", json_integer((json_int_t)t.captions));
		json_object_set_new(j, "tags", json_integer((json_int_t)t.tags));
		json_object_set_new(j, "distinct", json_integer((json_int_t)t.distinct));
		json_object_set_new(j, "tags_per_caption", json_real(t.captions ? (double)t.tags / (double)t.captions : 0));
		json_object_set_new(j, "share_0_tags", json_real(share0));
		json_object_set_new(j, "share_1_tag", json_real(share1));
		json_object_set_new(j, "histogram", hist);
		json_object_set_new(j, "top", tops);
		char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
		if (s)
			puts(s);
		free(s);
		json_decref(j);
	} else {
		printf("%s: %" PRIu64 " samples, %" PRIu64 " captions, %" PRIu64 " tags, %zu distinct\n",
		       argv[optind], t.samples, t.captions, t.tags, t.distinct);
		printf("tags per caption: mean %.2f; captions with 0 tags %.1f%%, with 1 tag %.1f%%\n\n",
		       t.captions ? (double)t.tags / (double)t.captions : 0, 100 * share0, 100 * share1);
		printf("tags per caption, histogram\n");
		uint64_t mx = 1;
		for (int k = 0; k <= 32; k++)
			mx = t.per_caption[k] > mx ? t.per_caption[k] : mx;
		for (int k = 0; k <= 32; k++)
			if (t.per_caption[k])
				printf("  %3d%s %-50.*s %" PRIu64 "\n", k, k == 32 ? "+" : " ",
				       (int)((t.per_caption[k] * 50 + mx - 1) / mx),
				       "##################################################", t.per_caption[k]);
		if (t.ntop) {
			printf("\ntop %zu tags\n", t.ntop);
			for (size_t k = 0; k < t.ntop; k++)
				printf("  %-24s %" PRId64 "\n", t.top[k].lemma, t.top[k].n);
		}
	}
	ts_tags_summary_release(&t);
	return TS_EXIT_OK;
}

int cmd_tags(int argc, char **argv)
{
	static const struct ts_subcmd subs[] = {
		{ "stats", tags_stats },
		{ "extract", tags_extract },
		{ "import-scores", tags_import },
		{ "select", tags_select },
		{ "mask", tags_mask },
		{ NULL, NULL },
	};
	/* no subcommand: `tessera tags [options] DATASET` tags it */
	return ts_subcmd_run("tags", subs, tags_run, usage_tags, argc, argv);
}
