/*
 * cmd_captions.c - `tessera captions`: the dispatcher and `tokenize`, CLIP
 * token ids for captions, one JSON array per input line.  `stats` and
 * `split` are in captions_stats.c and captions_split.c.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../captions/bpe.h"
#include "captions_cmds.h"
#include "cmd.h"
#include "util.h"

void usage_captions(FILE *f)
{
	fputs(
"usage: tessera captions tokenize [options] [FILE]\n"
"       tessera captions stats [options] SOURCE\n"
"       tessera captions split [options] OUTDIR\n"
"\n"
"CLIP's byte-level BPE, id for id with OpenAI's tokenizer, and what it means\n"
"for a corpus (docs/captions.md).\n"
"\n"
"tokenize: one caption per line (or JSONL with --jsonl) from FILE or standard\n"
"input to one JSON array per line: [49406, ids..., 49407].\n"
"      --context N    context length for --truncate and --pad (default: 77;\n"
"                     248 for Long-CLIP)\n"
"      --truncate     keep the first N ids, the last one becoming EOT\n"
"      --pad          pad with 0 to the context length\n"
"      --count        print only the token count (with SOT and EOT)\n"
"      --jsonl        input lines are JSON objects with a caption (or text) field\n"
"\n"
"stats: caption lengths in CLIP tokens and what truncation loses.  SOURCE is\n"
"a dataset OUTDIR (its primary captions), a text file (one caption per line;\n"
"JSONL when named *.jsonl or with --jsonl), or - for standard input.\n"
"      --contexts LIST  contexts to audit (default: 20,77,248)\n"
"      --bin-width N    histogram bin width in tokens (default: 10)\n"
"      --by-shard       also one row per shard (datasets)\n"
"      --json           one JSON object instead of the table\n"
"\n"
"split: a short and a long caption for every sample of a dataset, as members\n"
"KEY.short.txt and KEY.long.txt, with token counts in the catalog.\n"
"      --rule R         sentence (default: the first sentence) or longclip\n"
"                       (Long-CLIP's: the text before the first \". \")\n"
"      --short-max N    most tokens of a sentence-rule short caption, SOT and\n"
"                       EOT included (default: 77)\n"
"  -o, --output DIR     write a new dataset to DIR instead of rewriting OUTDIR\n"
"\n"
"Common options:\n"
"      --vocab PATH   bpe_simple_vocab_16e6.txt.gz (default: $TESSERA_VOCAB,\n"
"                     the installed copy, then ../shared/tokenizer/)\n"
"  -q, --quiet        fewer messages\n"
"  -v, --verbose      more messages\n"
"  -h, --help         this help\n"
"\n"
"Exit status: 0 ok, 1 an error (a line that is not valid UTF-8 or JSON is\n"
"reported and skipped, and makes the exit status 1), 2 a usage error.\n", f);
}

int cmd_captions(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "tokenize"))
		return captions_tokenize(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "stats"))
		return captions_stats(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "split"))
		return captions_split(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage_captions(stdout);
		return TS_EXIT_OK;
	}
	if (argc >= 2)
		ts_error("unknown captions command '%s'", argv[1]);
	usage_captions(stderr);
	return TS_EXIT_USAGE;
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
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long context = 77;
	int truncate = 0, pad = 0, count = 0, jsonl = 0, c, rc = TS_EXIT_OK;
	const char *vocab = NULL;
	struct ts_bpe *bpe = NULL;
	struct ts_bpe_ctx *ctx = NULL;
	struct ts_err e = TS_ERR_INIT;
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int32_t *out = NULL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_CONTEXT:
			if (ts_parse_int(optarg, 2, 1 << 20, &context)) {
				ts_error("invalid value '%s' for --context: expected 2 or more", optarg);
				return TS_EXIT_USAGE;
			}
			break;
		case O_TRUNCATE: truncate = 1; break;
		case O_PAD: pad = 1; break;
		case O_COUNT: count = 1; break;
		case O_JSONL: jsonl = 1; break;
		case O_VOCAB: vocab = optarg; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_captions(stdout); return TS_EXIT_OK;
		default: fputs("see 'tessera captions --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		ts_error("captions tokenize takes at most one FILE");
		return TS_EXIT_USAGE;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") && !(in = fopen(argv[optind], "r"))) {
		ts_error("cannot open '%s': %s", argv[optind], strerror(errno));
		return TS_EXIT_FAIL;
	}
	if (ts_bpe_load(&bpe, vocab, &e) || !(ctx = ts_bpe_ctx_new(bpe)) ||
	    !(out = malloc(((size_t)context + 2) * sizeof(*out)))) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		rc = TS_EXIT_FAIL;
		goto done;
	}
	while ((n = getline(&line, &cap, in)) >= 0) {
		const char *text = line;
		size_t len = (size_t)n;
		json_t *j = NULL;
		const int32_t *ids;
		size_t nids;
		lineno++;
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			len--;
		if (jsonl) {
			json_error_t je;
			json_t *v;
			j = json_loadb(text, len, 0, &je);
			v = j ? json_object_get(j, "caption") : NULL;
			if (!json_is_string(v))
				v = j ? json_object_get(j, "text") : NULL;
			if (!json_is_string(v)) {
				ts_error("line %zu: %s", lineno, j ? "no caption or text string" : je.text);
				json_decref(j);
				rc = TS_EXIT_FAIL;
				continue;
			}
			text = json_string_value(v);
			len = json_string_length(v);
		}
		if (ts_bpe_encode(ctx, text, len, &ids, &nids, &e)) {
			ts_error("line %zu: %s", lineno, e.msg);
			json_decref(j);
			rc = TS_EXIT_FAIL;
			continue;
		}
		json_decref(j);
		if (count) {
			printf("%zu\n", nids + 2);
			continue;
		}
		fputc('[', stdout);
		if (truncate || pad) {
			size_t k = nids + 2, total;
			int32_t *buf = out;
			if (truncate || k <= (size_t)context) {
				total = ts_bpe_context(ids, nids, (size_t)context, buf);
				if (pad)
					total = (size_t)context;
			} else {      /* --pad without --truncate on a longer caption: whole */
				buf = NULL;
				total = 0;
				printf("%d", TS_BPE_SOT);
				for (size_t i = 0; i < nids; i++)
					printf(", %d", ids[i]);
				printf(", %d", TS_BPE_EOT);
			}
			for (size_t i = 0; buf && i < total; i++)
				printf("%s%d", i ? ", " : "", buf[i]);
		} else {
			printf("%d", TS_BPE_SOT);
			for (size_t i = 0; i < nids; i++)
				printf(", %d", ids[i]);
			printf(", %d", TS_BPE_EOT);
		}
		fputs("]\n", stdout);
	}
done:
	free(line);
	free(out);
	ts_bpe_ctx_free(ctx);
	ts_bpe_free(bpe);
	if (in != stdin)
		fclose(in);
	return rc;
}
