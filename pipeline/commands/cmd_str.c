/*
 * cmd_str.c - `tessera str ingest|stats|ids`: scene-text datasets for
 * CLIP4STR.  Each subcommand owns its options and usage text (a
 * ts_subcmd table); the options several of them take are parsed once, in
 * str_common().  Fills struct ts_str_opts and calls the drivers in str.c;
 * `ids` is small enough to live here.  Usage errors exit 2.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/strlabel.h"
#include "pipeline/cmd.h"
#include "pipeline/commands/opt.h"
#include "pipeline/drivers/str.h"
#include "pipeline/util.h"

/* the options of str ingest, in both usages */
#define STR_INGEST_OPTIONS \
	"      --store STORE         lmdb (default) or wds (KEY.jpg, KEY.txt, KEY.json\n" \
	"                            shards and catalog.sqlite, as tessera ingest writes)\n" \
	"      --image-root DIR      gt list image paths are under DIR (default: the\n" \
	"                            list's folder); paths escaping it are rejected\n" \
	"      --resize MODE         no (default: the crop as is) or stretch\n" \
	"  -s, --size N              stretch to N x N, bicubic (default: 224)\n" \
	"      --filter MODE         clip4str or none (default: clip4str, except for\n" \
	"                            datasets under a test, val or evaluation folder)\n" \
	"      --charset C           94 (default), 36, 62 or a file of characters\n" \
	"      --max-label-length N  drop labels longer than N (default: 25)\n" \
	"      --min-image-dim N     drop images with a side below N (default: 0, off)\n" \
	"      --max-pixels N        reject images with more pixels (default: 100M)\n" \
	"      --max-file-bytes N    reject image files larger than N (default: 256MiB)\n" \
	"      --shard-samples N     --store wds: samples per shard (default: 10000)\n" \
	"      --overwrite           replace an existing output\n"

void usage_str(FILE *f)
{
	fputs(
"usage: tessera str ingest [options] INPUT -o OUT\n"
"       tessera str stats [options] SOURCE\n"
"       tessera str ids [options] LABEL\n"
"\n"
"Scene-text word crops for CLIP4STR.  INPUT/SOURCE is a gt list\n"
"(relpath<whitespace>label per line, split once), an LMDB environment\n"
"(a folder with data.mdb), a tessera dataset (catalog.sqlite + shards, its\n"
"original labels), or a tree searched for those (train/real/<dataset>/...):\n"
"each one found is its own dataset, written to OUT/<its relative path>.\n"
"\n"
"ingest: write LMDB (image-%09d, label-%09d from 1, num-samples) or the\n"
"tessera dataset contract (shards + catalog.sqlite); images that do not\n"
"decode and labels the filter drops are rejects with their reason.\n"
"stats: samples, label lengths, characters outside the charset, what the\n"
"filter changes or drops and why, image sizes.\n"
"ids: the character ids the training code builds for LABEL after the\n"
"filter: [B] ids... [E] with [E]=0, charset[i]=i+1, [B]=N+1, [P]=N+2.\n"
"\n"
"Options:\n"
"  -o, --output OUT          where ingest writes (required for ingest)\n"
STR_INGEST_OPTIONS
"      --json                print the summary (ingest, stats) or ids as JSON\n"
"  -j, --threads N           ingest: worker threads (default: all cores)\n"
"  -q, --quiet               no per-reject messages, no summary\n"
"  -v, --verbose             more messages\n"
"  -h, --help                this help\n"
"\n"
"Exit status: 0 done (rejected samples are not failures), 1 an error (a\n"
"corrupt data.mdb, an unwritable output, a label ids cannot encode),\n"
"2 a usage error.  'tessera str SUBCOMMAND --help' lists a subcommand's\n"
"options.  See tessera-str(1) and docs/str.md.\n", f);
}

static void usage_str_ingest(FILE *f)
{
	fputs(
"usage: tessera str ingest [options] INPUT -o OUT\n"
"\n"
"Write each dataset INPUT holds (a gt list, an LMDB environment, a tessera\n"
"dataset, or a tree of them) to OUT/<its relative path>: LMDB (image-%09d,\n"
"label-%09d from 1, num-samples) or, with --store wds, the tessera dataset\n"
"contract.  Images that do not decode and labels the filter drops are\n"
"rejects with their reason; the output does not depend on -j.\n"
"\n"
"Options:\n"
"  -o, --output OUT          where to write (required)\n"
STR_INGEST_OPTIONS
"  -j, --threads N           worker threads (default: all cores)\n"
"      --json                print the summary as JSON\n"
"  -q, --quiet               no per-reject messages, no summary\n"
"  -v, --verbose             more messages\n"
"  -h, --help                this help\n"
"\n"
"Exit status: 0 done (rejected samples are not failures), 1 an error (a\n"
"corrupt data.mdb, an unwritable output), 2 a usage error.\n", f);
}

static void usage_str_stats(FILE *f)
{
	fputs(
"usage: tessera str stats [options] SOURCE\n"
"\n"
"Samples, label lengths, characters outside the charset, what the CLIP4STR\n"
"filter changes or drops and why, image sizes, over every dataset SOURCE\n"
"holds (a gt list, an LMDB environment, a tessera dataset, or a tree).\n"
"\n"
"Options:\n"
"      --image-root DIR      gt list image paths are under DIR (default: the\n"
"                            list's folder)\n"
"      --charset C           94 (default), 36, 62 or a file of characters\n"
"      --max-label-length N  the filter drops labels longer than N (default: 25)\n"
"      --min-image-dim N     count images with a side below N as dropped\n"
"                            (default: 0, off)\n"
"      --max-file-bytes N    image files larger than N are unreadable\n"
"                            (default: 256MiB)\n"
"      --json                print the statistics as JSON\n"
"  -q, --quiet               fewer messages\n"
"  -v, --verbose             more messages\n"
"  -h, --help                this help\n"
"\n"
"Exit status: 0 done, 1 an error (a corrupt data.mdb), 2 a usage error.\n", f);
}

static void usage_str_ids(FILE *f)
{
	fputs(
"usage: tessera str ids [options] LABEL\n"
"\n"
"The character ids the training code builds for LABEL after the filter:\n"
"[B] ids... [E] with [E]=0, charset[i]=i+1, [B]=N+1, [P]=N+2.\n"
"\n"
"Options:\n"
"      --filter MODE         clip4str (default) or none\n"
"      --charset C           94 (default), 36, 62 or a file of characters\n"
"      --max-label-length N  the filter drops labels longer than N (default: 25)\n"
"      --json                print the ids as JSON\n"
"  -q, --quiet               fewer messages\n"
"  -v, --verbose             more messages\n"
"  -h, --help                this help\n"
"\n"
"Exit status: 0 done, 1 a label the filter drops or ids cannot encode,\n"
"2 a usage error.\n", f);
}

enum {
	OPT_STORE = 256, OPT_IMAGE_ROOT, OPT_RESIZE, OPT_FILTER, OPT_CHARSET, OPT_MAX_LABEL,
	OPT_MIN_DIM, OPT_MAX_PIXELS, OPT_MAX_FILE_BYTES, OPT_SHARD_SAMPLES, OPT_OVERWRITE, OPT_JSON,
};

/* The options every subcommand takes ... */
#define STR_COMMON_OPTS \
	{ "charset", required_argument, NULL, OPT_CHARSET }, \
	{ "max-label-length", required_argument, NULL, OPT_MAX_LABEL }, \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }
/* ... and those ingest and stats share (the images they read) */
#define STR_IMAGE_OPTS \
	{ "image-root", required_argument, NULL, OPT_IMAGE_ROOT }, \
	{ "min-image-dim", required_argument, NULL, OPT_MIN_DIM }, \
	{ "max-file-bytes", required_argument, NULL, OPT_MAX_FILE_BYTES }

static int bad(const char *opt, const char *val, const char *want)
{
	ts_error("invalid value '%s' for %s: %s", val, opt, want);
	fputs("see 'tessera str --help'\n", stderr);
	return TS_EXIT_USAGE;
}

struct str_cli {
	struct ts_str_opts o;
	const char *charset;
	void (*usage)(FILE *f);
};

static void str_defaults(struct str_cli *cli, void (*usage)(FILE *f))
{
	struct ts_str_opts *o = &cli->o;
	memset(cli, 0, sizeof(*cli));
	o->size = 224;
	o->filter = TS_STR_FILTER_AUTO;
	o->max_label_len = TS_STRLABEL_MAX_LEN;
	o->max_file_bytes = 256ULL << 20;
	o->max_pixels = 100000000ULL;
	o->shard_samples = 10000;
	o->shard_bytes = 1ULL << 30;
	cli->charset = "94";
	cli->usage = usage;
}

/* An option more than one subcommand takes: 0 taken, TS_EXIT_USAGE for a
 * bad value, TS_EXIT_OK after -h (*done set), TS_OPT_NOT_MINE for others. */
static int str_common(int c, const char *arg, struct str_cli *cli, int *done)
{
	struct ts_str_opts *o = &cli->o;
	uint64_t u;
	long l;
	switch (c) {
	case OPT_IMAGE_ROOT: o->image_root = arg; return 0;
	case OPT_FILTER:
		if (!strcmp(arg, "clip4str"))
			o->filter = TS_STR_FILTER_CLIP4STR;
		else if (!strcmp(arg, "none"))
			o->filter = TS_STR_FILTER_NONE;
		else
			return bad("--filter", arg, "expected clip4str or none");
		return 0;
	case OPT_CHARSET: cli->charset = arg; return 0;
	case OPT_MAX_LABEL:
		if (ts_parse_int(arg, 1, 1 << 20, &l))
			return bad("--max-label-length", arg, "expected a positive integer");
		o->max_label_len = l;
		return 0;
	case OPT_MIN_DIM:
		if (ts_parse_int(arg, 0, 65535, &l))
			return bad("--min-image-dim", arg, "expected an integer from 0 to 65535");
		o->min_image_dim = (int)l;
		return 0;
	case OPT_MAX_FILE_BYTES:
		if (ts_parse_u64(arg, 1, &u) || u == 0)
			return bad("--max-file-bytes", arg, "expected a positive size (K/M/G suffixes allowed)");
		o->max_file_bytes = u;
		return 0;
	case OPT_JSON: o->json = 1; return 0;
	case 'q': ts_verbosity = 0; return 0;
	case 'v': ts_verbosity = 2; return 0;
	case 'h':
		cli->usage(stdout);
		*done = 1;
		return TS_EXIT_OK;
	default:
		return TS_OPT_NOT_MINE;
	}
}

/* After the options: exactly one operand, and the charset.  0 or the exit code. */
static int str_finish(struct str_cli *cli, const char *sub, const char *what, int argc,
		      char **argv, struct ts_charset **cs)
{
	struct ts_err e = TS_ERR_INIT;
	if (argc - optind != 1) {
		ts_error("str %s takes exactly one %s", sub, what);
		fputs("see 'tessera str --help'\n", stderr);
		return TS_EXIT_USAGE;
	}
	if (ts_charset_new(cs, cli->charset, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_USAGE;
	}
	cli->o.cs = *cs;
	cli->o.input = argv[optind];
	return 0;
}

static int unknown_opt(void)
{
	fputs("see 'tessera str --help'\n", stderr);
	return TS_EXIT_USAGE;
}

static int str_ingest_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "resize", required_argument, NULL, OPT_RESIZE },
		{ "size", required_argument, NULL, 's' },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "max-pixels", required_argument, NULL, OPT_MAX_PIXELS },
		{ "shard-samples", required_argument, NULL, OPT_SHARD_SAMPLES },
		{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
		{ "threads", required_argument, NULL, 'j' },
		STR_IMAGE_OPTS,
		STR_COMMON_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct str_cli cli;
	struct ts_str_opts *o = &cli.o;
	struct ts_charset *cs = NULL;
	char *cmdline = NULL;
	size_t cl = 0;
	uint64_t u;
	long l;
	int c, rc, done = 0;

	str_defaults(&cli, usage_str_ingest);
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:s:j:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o->outdir = optarg; break;
		case OPT_STORE:
			if (!strcmp(optarg, "lmdb"))
				o->store = TS_STR_STORE_LMDB;
			else if (!strcmp(optarg, "wds"))
				o->store = TS_STR_STORE_WDS;
			else
				return bad("--store", optarg, "expected lmdb or wds");
			break;
		case OPT_RESIZE:
			if (!strcmp(optarg, "stretch"))
				o->stretch = 1;
			else if (!strcmp(optarg, "no"))
				o->stretch = 0;
			else
				return bad("--resize", optarg, "expected no or stretch");
			break;
		case 's':
			if (ts_parse_int(optarg, 1, 65535, &l))
				return bad("--size", optarg, "expected an integer from 1 to 65535");
			o->size = (int)l;
			break;
		case OPT_MAX_PIXELS:
			if (ts_parse_u64(optarg, 0, &u) || u == 0)
				return bad("--max-pixels", optarg, "expected a positive number (K/M/G suffixes allowed)");
			o->max_pixels = u;
			break;
		case OPT_SHARD_SAMPLES:
			if (ts_parse_u64(optarg, 0, &u) || u == 0)
				return bad("--shard-samples", optarg, "expected a positive number");
			o->shard_samples = u;
			break;
		case OPT_OVERWRITE: o->overwrite = 1; break;
		case 'j':
			if (ts_opt_int("threads", optarg, 0, 1024, "0 (all cores) to 1024", &l))
				return TS_EXIT_USAGE;
			o->threads = (int)l;
			break;
		default:
			if ((rc = str_common(c, optarg, &cli, &done)) == TS_OPT_NOT_MINE)
				return unknown_opt();
			if (rc || done)
				return rc;
		}
	}
	if (argc - optind == 1 && !o->outdir) {
		ts_error("no output given: give -o OUT");
		fputs("usage: tessera str ingest [options] INPUT -o OUT\n", stderr);
		return TS_EXIT_USAGE;
	}
	if ((rc = str_finish(&cli, "ingest", "INPUT", argc, argv, &cs)))
		return rc;
	o->threads = ts_opt_threads(o->threads);
	FILE *m = open_memstream(&cmdline, &cl);
	if (m) {
		fputs("tessera str", m);
		for (int i = 0; i < argc; i++)
			fprintf(m, " %s", argv[i]);
		fclose(m);
	}
	o->command_line = cmdline ? cmdline : "tessera str ingest";
	struct ts_str_result res = { 0 };
	ts_str_ingest(o, &res);
	rc = res.interrupted ? TS_EXIT_INTERRUPTED : res.failed ? TS_EXIT_FAIL : TS_EXIT_OK;
	free(cmdline);
	ts_charset_free(cs);
	return rc;
}

/* The options of a subcommand that has only the common ones and those
 * str_common knows: 1 when parsing ended the command (--help, a usage
 * error; *rc is its exit code), 0 to run it. */
static int str_parse(int argc, char **argv, const struct option *opts, void (*usage)(FILE *f),
		     const char *sub, const char *what, struct str_cli *cli, struct ts_charset **cs, int *rc)
{
	int c, done = 0;
	str_defaults(cli, usage);
	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		if ((*rc = str_common(c, optarg, cli, &done)) == TS_OPT_NOT_MINE) {
			*rc = unknown_opt();
			return 1;
		}
		if (*rc || done)
			return 1;
	}
	return (*rc = str_finish(cli, sub, what, argc, argv, cs)) != 0;
}

static int str_stats_main(int argc, char **argv)
{
	static const struct option opts[] = {
		STR_IMAGE_OPTS,
		STR_COMMON_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct str_cli cli;
	struct ts_charset *cs = NULL;
	struct ts_str_result res = { 0 };
	int rc;
	if (str_parse(argc, argv, opts, usage_str_stats, "stats", "SOURCE", &cli, &cs, &rc))
		return rc;
	ts_str_stats(&cli.o, &res);
	ts_charset_free(cs);
	return res.failed ? TS_EXIT_FAIL : TS_EXIT_OK;
}

static int run_ids(const struct ts_str_opts *o, const char *label)
{
	struct ts_err e = TS_ERR_INIT;
	char *f = NULL;
	size_t flen;
	int32_t *ids = NULL;
	size_t n;
	const char *text = label;
	size_t len = strlen(label);

	if (o->filter != TS_STR_FILTER_NONE) {
		if (ts_strlabel_filter(o->cs, o->max_label_len, label, len, &f, &flen, &e)) {
			ts_error("label dropped by the filter (%s): %s", ts_reason_name(e.reason), e.msg);
			return TS_EXIT_FAIL;
		}
		text = f;
		len = flen;
	}
	if (ts_strlabel_ids(o->cs, text, len, &ids, &n, &e)) {
		ts_error("%s", e.msg);
		free(f);
		return TS_EXIT_FAIL;
	}
	if (o->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_integer(ids[i]));
		json_t *j = json_pack("{s:s%, s:s, s:o, s:i, s:I, s:I}", "label", text, len,
				      "charset", ts_charset_name(o->cs), "ids", arr, "eos", 0, "bos",
				      (json_int_t)ts_charset_size(o->cs) + 1, "pad",
				      (json_int_t)ts_charset_size(o->cs) + 2);
		char *str = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (str)
			puts(str);
		free(str);
		json_decref(j);
	} else {
		putchar('[');
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? ", " : "", ids[i]);
		puts("]");
	}
	free(ids);
	free(f);
	return TS_EXIT_OK;
}

static int str_ids_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filter", required_argument, NULL, OPT_FILTER },
		STR_COMMON_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct str_cli cli;
	struct ts_charset *cs = NULL;
	int rc;
	if (str_parse(argc, argv, opts, usage_str_ids, "ids", "LABEL", &cli, &cs, &rc))
		return rc;
	rc = run_ids(&cli.o, cli.o.input);
	ts_charset_free(cs);
	return rc;
}

int cmd_str(int argc, char **argv)
{
	static const struct ts_subcmd subs[] = {
		{ "ingest", str_ingest_main },
		{ "stats", str_stats_main },
		{ "ids", str_ids_main },
		{ NULL, NULL },
	};
	return ts_subcmd_run("str", subs, NULL, usage_str, argc, argv);
}
