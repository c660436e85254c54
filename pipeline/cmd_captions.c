/*
 * cmd_captions.c - `tessera captions`: the dispatcher and `tokenize`, CLIP
 * token ids for captions, one JSON array per input line.  `stats` and
 * `split` are in captions_stats.c and captions_split.c.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../captions/bpe.h"
#include "captions_cmds.h"
#include "cmd.h"
#include "opt.h"
#include "util.h"
#include "vocab.h"

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
"  -j, --threads N    worker threads (default: 1; 0 = all cores); the output\n"
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

/* ---- tokenize: batches of lines, split among threads, printed in order ---- */

#define BATCH_LINES 16384

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return 0;
	size_t nc = b->cap ? b->cap : 1 << 16;
	while (nc < b->n + more)
		nc *= 2;
	char *p = realloc(b->p, nc);
	if (!p)
		return -1;
	b->p = p;
	b->cap = nc;
	return 0;
}

/* Decimal digits of v (v >= 0) at o; returns the length. */
static size_t put_int(char *o, long long v)
{
	char t[24];
	size_t n = 0, k = 0;
	if (v < 0) {
		o[k++] = '-';
		v = -v;
	}
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		o[k++] = t[--n];
	return k;
}

struct tok_opts {
	long context;
	int truncate, pad, count, jsonl;
};

struct tok_worker {
	pthread_t th;
	struct ts_bpe_ctx *ctx;
	const struct tok_opts *o;
	char **lines;
	size_t *lens;
	size_t first, end;        /* lines [first, end) of the batch */
	size_t lineno0;           /* line number of the batch's first line */
	struct buf out, err;
	int32_t *ctxbuf;
	int failed, nomem;
};

static void tok_error(struct tok_worker *w, size_t lineno, const char *msg)
{
	char head[64];
	int k = snprintf(head, sizeof(head), "tessera: error: line %zu: ", lineno);
	size_t ml = strlen(msg);
	if (buf_reserve(&w->err, (size_t)k + ml + 2)) {
		w->nomem = 1;
		return;
	}
	memcpy(w->err.p + w->err.n, head, (size_t)k);
	w->err.n += (size_t)k;
	memcpy(w->err.p + w->err.n, msg, ml);
	w->err.n += ml;
	w->err.p[w->err.n++] = '\n';
	w->failed = 1;
	/* the line still gets its output line, so output line N is input line
	 * N: empty in plain mode, {"line": N, "error": MSG} with --jsonl */
	char *rec = NULL;
	if (w->o->jsonl) {
		json_t *j = json_pack("{s:I, s:s}", "line", (json_int_t)lineno, "error", msg);
		rec = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!rec) {
			w->nomem = 1;
			return;
		}
	}
	size_t rl = rec ? strlen(rec) : 0;
	if (buf_reserve(&w->out, rl + 1)) {
		free(rec);
		w->nomem = 1;
		return;
	}
	if (rl)
		memcpy(w->out.p + w->out.n, rec, rl);
	w->out.n += rl;
	w->out.p[w->out.n++] = '\n';
	free(rec);
}

static void tok_line(struct tok_worker *w, size_t idx)
{
	const struct tok_opts *o = w->o;
	const char *text;
	size_t len, lineno = w->lineno0 + idx, nids;
	const int32_t *ids;
	struct ts_err e = TS_ERR_INIT;
	json_t *j;
	char msg[200];

	/* a byte-order mark before the first line is not text */
	size_t bom = lineno == 1 ? ts_bom_len(w->lines[idx], w->lens[idx]) : 0;
	if (ts_caption_line(w->lines[idx] + bom, w->lens[idx] - bom, o->jsonl, &text, &len, &j,
			    msg, sizeof(msg))) {
		tok_error(w, lineno, msg);
		return;
	}
	int rc = ts_bpe_encode(w->ctx, text, len, &ids, &nids, &e);
	json_decref(j);
	if (rc) {
		tok_error(w, lineno, e.msg);
		return;
	}
	if (o->count) {
		if (buf_reserve(&w->out, 24)) {
			w->nomem = 1;
			return;
		}
		w->out.n += put_int(w->out.p + w->out.n, (long long)nids + 2);
		w->out.p[w->out.n++] = '\n';
		return;
	}
	const int32_t *seq = NULL;
	size_t total = 0;
	int whole = 1;
	if (o->truncate || o->pad) {
		if (o->truncate || nids + 2 <= (size_t)o->context) {
			total = ts_bpe_context(ids, nids, (size_t)o->context, w->ctxbuf);
			if (o->pad)
				total = (size_t)o->context;
			seq = w->ctxbuf;
			whole = 0;
		}            /* --pad without --truncate on a longer caption: whole */
	}
	if (buf_reserve(&w->out, (whole ? nids + 2 : total) * 13 + 4)) {
		w->nomem = 1;
		return;
	}
	char *p = w->out.p + w->out.n;
	*p++ = '[';
	if (whole) {
		p += put_int(p, TS_BPE_SOT);
		for (size_t i = 0; i < nids; i++) {
			*p++ = ',';
			*p++ = ' ';
			p += put_int(p, ids[i]);
		}
		*p++ = ',';
		*p++ = ' ';
		p += put_int(p, TS_BPE_EOT);
	} else {
		for (size_t i = 0; i < total; i++) {
			if (i) {
				*p++ = ',';
				*p++ = ' ';
			}
			p += put_int(p, seq[i]);
		}
	}
	*p++ = ']';
	*p++ = '\n';
	w->out.n = (size_t)(p - w->out.p);
}

static void *tok_main(void *arg)
{
	struct tok_worker *w = arg;
	for (size_t i = w->first; i < w->end; i++)
		tok_line(w, i);
	return NULL;
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
	struct tok_opts o = { .context = 77 };
	long threads = 1;
	int c, rc = TS_EXIT_OK, nw = 0;
	const char *vocab = NULL;
	struct ts_bpe *bpe = NULL;
	struct ts_err e = TS_ERR_INIT;
	struct tok_worker *w = NULL;
	FILE *in = stdin;
	char **lines = NULL;
	size_t *lens = NULL, *caps = NULL, lineno = 1;

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
		default: fputs("see 'tessera captions --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (threads == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu > 0 ? ncpu : 1;
	}
	if (argc - optind > 1) {
		ts_error("captions tokenize takes at most one FILE");
		return TS_EXIT_USAGE;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") && !(in = fopen(argv[optind], "r"))) {
		ts_error("cannot open '%s': %s", argv[optind], strerror(errno));
		return TS_EXIT_FAIL;
	}
	if (ts_vocab_load(&bpe, vocab, &e)) {
		ts_error("%s", e.msg);
		rc = TS_EXIT_FAIL;
		goto done;
	}
	w = calloc((size_t)threads, sizeof(*w));
	lines = calloc(BATCH_LINES, sizeof(*lines));
	lens = calloc(BATCH_LINES, sizeof(*lens));
	caps = calloc(BATCH_LINES, sizeof(*caps));
	if (!w || !lines || !lens || !caps)
		goto nomem;
	for (nw = 0; nw < threads; nw++) {
		w[nw].o = &o;
		w[nw].lines = lines;
		w[nw].lens = lens;
		if (!(w[nw].ctx = ts_bpe_ctx_new(bpe)) ||
		    !(w[nw].ctxbuf = malloc(((size_t)o.context + 2) * sizeof(int32_t)))) {
			nw++;
			goto nomem;
		}
	}
	for (;;) {
		size_t nl = 0;
		ssize_t r = 0;
		while (nl < BATCH_LINES && (r = getline(&lines[nl], &caps[nl], in)) >= 0)
			lens[nl++] = (size_t)r;
		if (nl == 0)
			break;
		/* contiguous ranges; a thread only when the batch is big enough */
		int used = nl >= 1024 ? (int)threads : 1;
		for (int k = 0; k < used; k++) {
			w[k].first = nl * (size_t)k / (size_t)used;
			w[k].end = nl * (size_t)(k + 1) / (size_t)used;
			w[k].lineno0 = lineno;
			w[k].out.n = w[k].err.n = 0;
		}
		int started = 0;
		for (int k = 1; k < used; k++)
			if (pthread_create(&w[k].th, NULL, tok_main, &w[k]) == 0)
				started = k;
			else
				break;
		tok_main(&w[0]);
		for (int k = 1; k <= started; k++)
			pthread_join(w[k].th, NULL);
		for (int k = started + 1; k < used; k++)   /* threads that did not start */
			tok_main(&w[k]);
		for (int k = 0; k < used; k++) {
			if (w[k].nomem)
				goto nomem;
			fwrite(w[k].out.p, 1, w[k].out.n, stdout);
			if (w[k].err.n) {
				fflush(stdout);
				fwrite(w[k].err.p, 1, w[k].err.n, stderr);
			}
			if (w[k].failed)
				rc = TS_EXIT_FAIL;
		}
		lineno += nl;
		if (r < 0)
			break;
	}
	if (fflush(stdout) || ferror(stdout)) {
		ts_error("cannot write the output: %s", strerror(errno));
		rc = TS_EXIT_FAIL;
	}
	goto done;
nomem:
	ts_error("out of memory");
	rc = TS_EXIT_FAIL;
done:
	for (int k = 0; w && k < nw; k++) {
		ts_bpe_ctx_free(w[k].ctx);
		free(w[k].ctxbuf);
		free(w[k].out.p);
		free(w[k].err.p);
	}
	for (size_t i = 0; lines && i < BATCH_LINES; i++)
		free(lines[i]);
	free(lines);
	free(lens);
	free(caps);
	free(w);
	ts_bpe_free(bpe);
	if (in != stdin)
		fclose(in);
	return rc;
}
