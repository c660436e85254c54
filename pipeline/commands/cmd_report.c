/*
 * cmd_report.c - `tessera report DATASET -o report.html`: options only; the
 * work is in report.c (docs/report.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/cmd.h"
#include "pipeline/drivers/report.h"
#include "pipeline/commands/opt.h"
#include "pipeline/util.h"

void usage_report(FILE *f)
{
	fputs(
"usage: tessera report [options] DATASET -o REPORT.html\n"
"       tessera report --json DATASET\n"
"\n"
"One self-contained HTML page about a dataset (nothing on it loads from the\n"
"network): runs and counts; caption lengths in CLIP tokens against the 20,\n"
"77 and 248 limits (the numbers of 'tessera captions stats'), short and long\n"
"captions, sentences, the longest captions with the 77-token cut; rejects\n"
"by reason with their meaning and examples; image sizes, aspect ratios and\n"
"formats; a contact sheet of samples with composite regions, tags and tag\n"
"masks; tag statistics (docs/report.md).  The dataset is only read.\n"
"\n"
"Options:\n"
"  -o, --output FILE     write the HTML page to FILE\n"
"      --json            print the same statistics as one JSON document on\n"
"                        standard output\n"
"      --seed N          which samples the contact sheet shows (default: 0)\n"
"      --samples N       contact sheet size (default: 48; 0 for none)\n"
"      --thumb N         thumbnail long side in pixels (default: 160)\n"
"      --vocab FILE      CLIP merges file (default: $TESSERA_VOCAB, else the\n"
"                        one shipped with tessera)\n"
"      --catalog-tokens  caption lengths from the catalog's token counts,\n"
"                        without the tokenizer (no words lost, no sentences)\n"
"  -q, --quiet           no messages\n"
"  -v, --verbose         more messages\n"
"  -h, --help            this help\n", f);
}

int cmd_report(int argc, char **argv)
{
	enum { O_JSON = 256, O_SEED, O_SAMPLES, O_THUMB, O_VOCAB, O_CATALOG_TOKENS };
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, O_JSON },
		{ "seed", required_argument, NULL, O_SEED },
		{ "samples", required_argument, NULL, O_SAMPLES },
		{ "thumb", required_argument, NULL, O_THUMB },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "catalog-tokens", no_argument, NULL, O_CATALOG_TOKENS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_report_opts o = { .sheet = 48, .thumb = 160 };
	struct ts_err e = TS_ERR_INIT;
	long v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case O_JSON: o.json = 1; break;
		case O_SEED:
			if (ts_parse_u64(optarg, 0, &o.seed)) {
				ts_error("invalid value '%s' for --seed: expected a non-negative integer", optarg);
				fputs("see 'tessera report --help'\n", stderr);
				return TS_EXIT_USAGE;
			}
			break;
		case O_SAMPLES:
			if (ts_opt_int("samples", optarg, 0, 10000, "0 to 10000", &v))
				return TS_EXIT_USAGE;
			o.sheet = (int)v;
			break;
		case O_THUMB:
			if (ts_opt_int("thumb", optarg, 16, 1024, "16 to 1024", &v))
				return TS_EXIT_USAGE;
			o.thumb = (int)v;
			break;
		case O_VOCAB: o.vocab = optarg; break;
		case O_CATALOG_TOKENS: o.catalog_tokens = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_report(stdout); return TS_EXIT_OK;
		default: return ts_usage_hint();
		}
	}
	if (argc - optind != 1) {
		ts_error("report takes one DATASET (a tessera dataset OUTDIR)");
		fputs("see 'tessera report --help'\n", stderr);
		return TS_EXIT_USAGE;
	}
	if (!o.output && !o.json) {
		ts_error("nothing to write: give -o REPORT.html, --json, or both");
		fputs("see 'tessera report --help'\n", stderr);
		return TS_EXIT_USAGE;
	}
	o.dataset = argv[optind];
	if (ts_report_run(&o, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	if (o.output && ts_verbosity > 0) {
		if (o.json)
			fprintf(stderr, "report written to %s\n", o.output);
		else
			printf("report written to %s\n", o.output);
	}
	return TS_EXIT_OK;
}
