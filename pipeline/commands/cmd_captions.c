/*
 * cmd_captions.c - `tessera captions`: the dispatcher and `tokenize`, CLIP
 * token ids for captions, one JSON array per input line.  `stats` and
 * `split` are in captions_stats.c and captions_split.c.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/bpe.h"
#include "pipeline/drivers/captions_cmds.h"
#include "pipeline/drivers/captions_tokenize.h"
#include "pipeline/cmd.h"
#include "pipeline/opt.h"
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
	long threads = 1;
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
