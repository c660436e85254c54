/*
 * cmd_compose.c - `tessera compose`: the options, the summary and the exit
 * code; the work is the compose driver's (pipeline/drivers/compose.c).
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cmd.h"
#include "pipeline/drivers/compose.h"
#include "pipeline/commands/opt.h"
#include "pipeline/util.h"

void usage_compose(FILE *f)
{
	fputs(
"usage: tessera compose [options] INDIR -o OUTDIR\n"
"\n"
"CLIP-C semantic compositions: two samples of the dataset INDIR become one\n"
"image made of the center half of each, with the caption \"A and B\",\n"
"written as a new dataset with each composite's sources and regions\n"
"(docs/compose.md).\n"
"\n"
"Options:\n"
"  -o, --output OUTDIR   where to write (required; a new directory, or the\n"
"                        same one to resume an interrupted run)\n"
"      --mode M          halves (default), cutmix, mixup or grid (2x2 of four)\n"
"      --axis A          halves: vertical (default: A on top) or horizontal\n"
"      --size S          output size, square (default: 224)\n"
"      --fit F           center-crop (default) or stretch, to S x S first\n"
"      --alpha A         cutmix/mixup: Beta(A, A) (default: 1.0)\n"
"      --rate R          composites per source sample per epoch (default: 0.5)\n"
"      --epochs E        independent pairings (default: 1)\n"
"      --seed N          RNG seed (default: 0)\n"
"      --window W        partners come from windows of W samples (default: 10000)\n"
"      --include-originals  also write every source sample, interleaved\n"
"      --max-tokens N    choose partners so the merged caption fits N CLIP\n"
"                        tokens (default: off)\n"
"      --tries T         partners tried for --max-tokens (default: 8)\n"
"      --encode FMT      jpeg (default), png or webp\n"
"      --quality Q       JPEG/WebP quality (default: 95)\n"
"      --subsampling S   JPEG chroma subsampling: 420 (default) or 444\n"
"      --no-dct          halves: always decode and re-encode (no lossless\n"
"                        assembly from the sources' DCT coefficients)\n"
"      --shard-samples N samples per shard (default: 10000)\n"
"      --vocab PATH      CLIP vocabulary (for --max-tokens and token counts)\n"
"  -j, --threads N       worker threads (default: all cores)\n"
"      --json            print the summary as JSON\n"
"  -q, --quiet           fewer messages\n"
"  -v, --verbose         more messages\n"
"  -h, --help            this help\n"
"\n"
"Exit status: 0 ok (rejects are not failures), 1 an error, 2 a usage error.\n", f);
}

int cmd_compose(int argc, char **argv)
{
	enum { O_MODE = 256, O_AXIS, O_SIZE, O_FIT, O_ALPHA, O_RATE, O_EPOCHS, O_SEED, O_WINDOW, O_ORIG,
	       O_MAXTOK, O_TRIES, O_ENCODE, O_QUALITY, O_SHARD_SAMPLES, O_VOCAB, O_JSON, O_SUBSAMPLING, O_NO_DCT };
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "mode", required_argument, NULL, O_MODE },
		{ "axis", required_argument, NULL, O_AXIS },
		{ "size", required_argument, NULL, O_SIZE },
		{ "fit", required_argument, NULL, O_FIT },
		{ "alpha", required_argument, NULL, O_ALPHA },
		{ "rate", required_argument, NULL, O_RATE },
		{ "epochs", required_argument, NULL, O_EPOCHS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "include-originals", no_argument, NULL, O_ORIG },
		{ "max-tokens", required_argument, NULL, O_MAXTOK },
		{ "tries", required_argument, NULL, O_TRIES },
		{ "encode", required_argument, NULL, O_ENCODE },
		{ "quality", required_argument, NULL, O_QUALITY },
		{ "subsampling", required_argument, NULL, O_SUBSAMPLING },
		{ "no-dct", no_argument, NULL, O_NO_DCT },
		{ "shard-samples", required_argument, NULL, O_SHARD_SAMPLES },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "threads", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_compose_opts o = { .encode = TS_FMT_JPEG, .vertical = 1, .size = 224, .alpha = 1.0, .rate = 0.5, .epochs = 1, .tries = 8,
			  .quality = 95, .subsampling = 420, .window = 10000, .shard_samples = 10000 };
	long v;
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:j:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.outdir = optarg; break;
		case O_MODE:
			for (o.mode = TS_COMPOSE_HALVES;
			     o.mode < TS_COMPOSE__COUNT && strcmp(ts_compose_mode_name(o.mode), optarg); o.mode++)
				;
			if (o.mode == TS_COMPOSE__COUNT)
				return ts_opt_bad("compose", "--mode", optarg, "expected halves, cutmix, mixup or grid");
			break;
		case O_AXIS:
			if (strcmp(optarg, "vertical") && strcmp(optarg, "horizontal"))
				return ts_opt_bad("compose", "--axis", optarg, "expected vertical or horizontal");
			o.vertical = !strcmp(optarg, "vertical");
			break;
		case O_SIZE:
			if (ts_opt_int("size", optarg, 2, 16384, "2 to 16384", &v))
				return TS_EXIT_USAGE;
			o.size = (int)v;
			break;
		case O_FIT:
			if (strcmp(optarg, "center-crop") && strcmp(optarg, "stretch"))
				return ts_opt_bad("compose", "--fit", optarg, "expected center-crop or stretch");
			o.stretch = !strcmp(optarg, "stretch");
			break;
		case O_ALPHA:
			o.alpha = strtod(optarg, &end);
			if (end == optarg || *end || !(o.alpha > 0) || o.alpha > 1e6)
				return ts_opt_bad("compose", "--alpha", optarg, "expected a positive number");
			break;
		case O_RATE:
			o.rate = strtod(optarg, &end);
			if (end == optarg || *end || !(o.rate >= 0) || o.rate > 100)
				return ts_opt_bad("compose", "--rate", optarg, "expected 0 to 100");
			break;
		case O_EPOCHS:
			if (ts_opt_int("epochs", optarg, 1, 10000, "1 or more", &v))
				return TS_EXIT_USAGE;
			o.epochs = (int)v;
			break;
		case O_SEED:
			if (ts_parse_u64(optarg, 0, &o.seed))
				return ts_opt_bad("compose", "--seed", optarg, "expected a non-negative integer");
			break;
		case O_WINDOW:
			if (ts_opt_int("window", optarg, 2, 100000000, "2 or more", &v))
				return TS_EXIT_USAGE;
			o.window = (uint64_t)v;
			break;
		case O_ORIG: o.include_originals = 1; break;
		case O_MAXTOK:
			if (ts_opt_int("max-tokens", optarg, 3, 1 << 20, "3 or more", &o.max_tokens))
				return TS_EXIT_USAGE;
			break;
		case O_TRIES:
			if (ts_opt_int("tries", optarg, 1, 1000, "1 to 1000", &v))
				return TS_EXIT_USAGE;
			o.tries = (int)v;
			break;
		case O_ENCODE:
			if (!strcmp(optarg, "jpeg") || !strcmp(optarg, "jpg"))
				o.encode = TS_FMT_JPEG;
			else if (!strcmp(optarg, "webp"))
				o.encode = TS_FMT_WEBP;
			else if (!strcmp(optarg, "png"))
				o.encode = TS_FMT_PNG;
			else
				return ts_opt_bad("compose", "--encode", optarg, "expected jpeg, png or webp");
			break;
		case O_QUALITY:
			if (ts_opt_int("quality", optarg, 1, 100, "1 to 100", &v))
				return TS_EXIT_USAGE;
			o.quality = (int)v;
			break;
		case O_SUBSAMPLING:
			if (strcmp(optarg, "420") && strcmp(optarg, "444"))
				return ts_opt_bad("compose", "--subsampling", optarg, "expected 420 or 444");
			o.subsampling = atoi(optarg);
			break;
		case O_NO_DCT: o.no_dct = 1; break;
		case O_SHARD_SAMPLES:
			if (ts_opt_int("shard-samples", optarg, 1, 100000000, "1 or more", &v))
				return TS_EXIT_USAGE;
			o.shard_samples = (uint64_t)v;
			break;
		case O_VOCAB: o.vocab = optarg; break;
		case 'j':
			if (ts_opt_int("threads", optarg, 0, 1024, "0 (all cores) to 1024", &v))
				return TS_EXIT_USAGE;
			o.threads = (int)v;
			break;
		case O_JSON: o.json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_compose(stdout); return TS_EXIT_OK;
		default: return ts_usage_hint();
		}
	}
	if (argc - optind != 1 || !o.outdir)
		return ts_usage_error("compose", "compose takes one INDIR (a tessera dataset) and -o OUTDIR");
	o.indir = argv[optind];
	if (o.mode == TS_COMPOSE_GRID && o.size % 2)
		return ts_usage_error("compose", "--mode grid needs an even --size (each source fills a quarter)");
	o.threads = ts_opt_threads(o.threads);

	struct ts_compose_result r;
	struct ts_err e = TS_ERR_INIT;
	if (ts_compose_run(&o, &r, &e)) {
		ts_error("%s", e.msg[0] ? e.msg : "compose failed");
		return TS_EXIT_FAIL;
	}
	if (r.interrupted) {
		ts_info("compose interrupted: %" PRIu64 " complete shards kept; run the same command to resume it",
			r.shards);
		return TS_EXIT_INTERRUPTED;
	}
	double rate = r.seconds > 0 ? (double)r.composites / r.seconds : 0.0;
	if (o.json)
		ts_print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}",
					"command", "compose", "outdir", o.outdir, "mode", ts_compose_mode_name(o.mode),
					"composites", (json_int_t)r.composites, "dct", (json_int_t)r.dct,
					"pixels", (json_int_t)r.pixels, "originals", (json_int_t)r.originals,
					"rejects", (json_int_t)r.rejects, "over_budget", (json_int_t)r.over_budget,
					"shards", (json_int_t)r.shards, "seconds", r.seconds,
					"composites_per_second", rate));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "compose done: %" PRIu64 " composites (%" PRIu64 " dct, %" PRIu64 " pixels), %" PRIu64
			" originals, %" PRIu64 " rejects, %" PRIu64 " over budget, %" PRIu64 " shards, %.1f s (%.1f composites/s)\n",
			r.composites, r.dct, r.pixels, r.originals, r.rejects, r.over_budget, r.shards, r.seconds, rate);
	return TS_EXIT_OK;
}
