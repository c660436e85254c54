/*
 * cmd_str.c - `tessera str ingest|stats|ids`: scene-text datasets for
 * CLIP4STR.  Parses options into struct ts_str_opts and calls the drivers
 * in str.c; `ids` is small enough to live here.  Usage errors exit 2.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/strlabel.h"
#include "pipeline/cmd.h"
#include "pipeline/opt.h"
#include "pipeline/drivers/str.h"
#include "pipeline/util.h"

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
"      --store STORE         lmdb (default) or wds (KEY.jpg, KEY.txt, KEY.json\n"
"                            shards and catalog.sqlite, as tessera ingest writes)\n"
"      --image-root DIR      gt list image paths are under DIR (default: the\n"
"                            list's folder); paths escaping it are rejected\n"
"      --resize MODE         no (default: the crop as is) or stretch\n"
"  -s, --size N              stretch to N x N, bicubic (default: 224)\n"
"      --filter MODE         clip4str or none (default: clip4str, except for\n"
"                            datasets under a test, val or evaluation folder)\n"
"      --charset C           94 (default), 36, 62 or a file of characters\n"
"      --max-label-length N  drop labels longer than N (default: 25)\n"
"      --min-image-dim N     drop images with a side below N (default: 0, off)\n"
"      --max-pixels N        reject images with more pixels (default: 100M)\n"
"      --max-file-bytes N    reject image files larger than N (default: 256MiB)\n"
"      --shard-samples N     --store wds: samples per shard (default: 10000)\n"
"      --overwrite           replace an existing output\n"
"      --json                print the summary (ingest, stats) or ids as JSON\n"
"  -q, --quiet               no per-reject messages, no summary\n"
"  -v, --verbose             more messages\n"
"  -h, --help                this help\n"
"\n"
"Exit status: 0 done (rejected samples are not failures), 1 an error (a\n"
"corrupt data.mdb, an unwritable output, a label ids cannot encode),\n"
"2 a usage error.  See tessera-str(1) and docs/str.md.\n", f);
}

enum {
	OPT_STORE = 256, OPT_IMAGE_ROOT, OPT_RESIZE, OPT_FILTER, OPT_CHARSET, OPT_MAX_LABEL,
	OPT_MIN_DIM, OPT_MAX_PIXELS, OPT_MAX_FILE_BYTES, OPT_SHARD_SAMPLES, OPT_OVERWRITE, OPT_JSON,
};

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "image-root", required_argument, NULL, OPT_IMAGE_ROOT },
	{ "resize", required_argument, NULL, OPT_RESIZE },
	{ "size", required_argument, NULL, 's' },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "charset", required_argument, NULL, OPT_CHARSET },
	{ "max-label-length", required_argument, NULL, OPT_MAX_LABEL },
	{ "min-image-dim", required_argument, NULL, OPT_MIN_DIM },
	{ "max-pixels", required_argument, NULL, OPT_MAX_PIXELS },
	{ "max-file-bytes", required_argument, NULL, OPT_MAX_FILE_BYTES },
	{ "shard-samples", required_argument, NULL, OPT_SHARD_SAMPLES },
	{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *opt, const char *val, const char *want)
{
	ts_error("invalid value '%s' for %s: %s", val, opt, want);
	fputs("see 'tessera str --help'\n", stderr);
	return TS_EXIT_USAGE;
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

int cmd_str(int argc, char **argv)
{
	struct ts_str_opts o;
	struct ts_charset *cs = NULL;
	struct ts_err e = TS_ERR_INIT;
	const char *sub, *charset = "94";
	char *cmdline = NULL;
	size_t cl = 0;
	uint64_t u;
	long l;
	int c, rc;

	static const char *const subs[] = { "ingest", "stats", "ids", NULL };
	if (ts_subcmd_pick("str", subs, usage_str, argc, argv, &rc) < 0)
		return rc;
	sub = argv[1];
	memset(&o, 0, sizeof(o));
	o.size = 224;
	o.filter = TS_STR_FILTER_AUTO;
	o.max_label_len = TS_STRLABEL_MAX_LEN;
	o.max_file_bytes = 256ULL << 20;
	o.max_pixels = 100000000ULL;
	o.shard_samples = 10000;
	o.shard_bytes = 1ULL << 30;
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:s:qvh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.outdir = optarg; break;
		case OPT_STORE:
			if (!strcmp(optarg, "lmdb"))
				o.store = TS_STR_STORE_LMDB;
			else if (!strcmp(optarg, "wds"))
				o.store = TS_STR_STORE_WDS;
			else
				return bad("--store", optarg, "expected lmdb or wds");
			break;
		case OPT_IMAGE_ROOT: o.image_root = optarg; break;
		case OPT_RESIZE:
			if (!strcmp(optarg, "stretch"))
				o.stretch = 1;
			else if (!strcmp(optarg, "no"))
				o.stretch = 0;
			else
				return bad("--resize", optarg, "expected no or stretch");
			break;
		case 's':
			if (ts_parse_int(optarg, 1, 65535, &l))
				return bad("--size", optarg, "expected an integer from 1 to 65535");
			o.size = (int)l;
			break;
		case OPT_FILTER:
			if (!strcmp(optarg, "clip4str"))
				o.filter = TS_STR_FILTER_CLIP4STR;
			else if (!strcmp(optarg, "none"))
				o.filter = TS_STR_FILTER_NONE;
			else
				return bad("--filter", optarg, "expected clip4str or none");
			break;
		case OPT_CHARSET: charset = optarg; break;
		case OPT_MAX_LABEL:
			if (ts_parse_int(optarg, 1, 1 << 20, &l))
				return bad("--max-label-length", optarg, "expected a positive integer");
			o.max_label_len = l;
			break;
		case OPT_MIN_DIM:
			if (ts_parse_int(optarg, 0, 65535, &l))
				return bad("--min-image-dim", optarg, "expected an integer from 0 to 65535");
			o.min_image_dim = (int)l;
			break;
		case OPT_MAX_PIXELS:
			if (ts_parse_u64(optarg, 0, &u) || u == 0)
				return bad("--max-pixels", optarg, "expected a positive number (K/M/G suffixes allowed)");
			o.max_pixels = u;
			break;
		case OPT_MAX_FILE_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u == 0)
				return bad("--max-file-bytes", optarg, "expected a positive size (K/M/G suffixes allowed)");
			o.max_file_bytes = u;
			break;
		case OPT_SHARD_SAMPLES:
			if (ts_parse_u64(optarg, 0, &u) || u == 0)
				return bad("--shard-samples", optarg, "expected a positive number");
			o.shard_samples = u;
			break;
		case OPT_OVERWRITE: o.overwrite = 1; break;
		case OPT_JSON: o.json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_str(stdout); return TS_EXIT_OK;
		default:
			fputs("see 'tessera str --help'\n", stderr);
			return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ts_error("str %s takes exactly one %s", sub,
			 !strcmp(sub, "ids") ? "LABEL" : !strcmp(sub, "stats") ? "SOURCE" : "INPUT");
		fputs("see 'tessera str --help'\n", stderr);
		return TS_EXIT_USAGE;
	}
	if (!strcmp(sub, "ingest") && !o.outdir) {
		ts_error("no output given: give -o OUT");
		fputs("usage: tessera str ingest [options] INPUT -o OUT\n", stderr);
		return TS_EXIT_USAGE;
	}
	if (ts_charset_new(&cs, charset, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_USAGE;
	}
	o.cs = cs;
	o.input = argv[optind];
	if (!strcmp(sub, "ids")) {
		rc = run_ids(&o, argv[optind]);
	} else if (!strcmp(sub, "stats")) {
		rc = ts_str_stats(&o);
	} else {
		FILE *m = open_memstream(&cmdline, &cl);
		if (m) {
			fputs("tessera str", m);
			for (int i = 0; i < argc; i++)
				fprintf(m, " %s", argv[i]);
			fclose(m);
		}
		o.command_line = cmdline ? cmdline : "tessera str ingest";
		rc = ts_str_ingest(&o);
	}
	free(cmdline);
	ts_charset_free(cs);
	return rc;
}
