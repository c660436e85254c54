/*
 * captions_usage.c - the help text of `tessera captions` and its
 * subcommands, on its own so that the subcommands (drivers/captions_split.c,
 * drivers/captions_stats.c) and the dispatcher (cmd_captions.c) both use it
 * without including each other.
 */
#include <stdio.h>

#include "pipeline/cmd.h"

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
"  -j, --threads N    worker threads (default: all cores); the output\n"
"                     is in input order whatever N is\n"
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
"  -j, --threads N      worker threads (default: all cores); the output is the\n"
"                       same for every N\n"
"\n"
"Common options:\n"
"      --vocab PATH   bpe_simple_vocab_16e6.txt.gz (default: $TESSERA_VOCAB,\n"
"                     else the copy shipped with tessera)\n"
"  -q, --quiet        fewer messages\n"
"  -v, --verbose      more messages\n"
"  -h, --help         this help\n"
"\n"
"Exit status: 0 ok, 1 an error (a line that is not valid UTF-8 or JSON is\n"
"reported and skipped, and makes the exit status 1), 2 a usage error.\n", f);
}
