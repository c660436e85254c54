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
#include "pipeline/cmd.h"
#include "pipeline/opt.h"
#include "pipeline/pool.h"
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

/* ---- tokenize: blocks of whole lines on the ordered pool ----
 *
 * This thread reads the input in blocks of about BLOCK_BYTES of whole
 * lines and submits them to the pool; workers tokenize a block's lines
 * into the block's own output and error buffers; this thread writes the
 * blocks back in submission order.  The output is therefore the same bytes
 * whatever -j is, and at most `depth` blocks are in memory. */

#define BLOCK_BYTES (128 << 10)

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

/* one worker thread's context */
struct tok_worker {
	struct ts_bpe_ctx *ctx;
	struct ts_err e;          /* reset per line (not the whole message) */
	const struct tok_opts *o;
	int32_t *ctxbuf;
};

/* one block of input lines and what they became */
struct tok_block {
	struct buf in;            /* whole lines; the input's last one may lack '\n' */
	size_t lineno0;           /* line number of the block's first line; 0 when not
				   * known yet (blocks read ahead of the writing) */
	size_t nlines;            /* lines in the block, counted by the worker */
	int first;                /* the input's first block (a BOM may start it) */
	struct buf out, err;
	int failed, nomem;
};

static void tok_error(struct tok_worker *w, struct tok_block *b, size_t lineno, const char *msg)
{
	char head[64];
	int k = snprintf(head, sizeof(head), "tessera: error: line %zu: ", lineno);
	size_t ml = strlen(msg);
	if (buf_reserve(&b->err, (size_t)k + ml + 2)) {
		b->nomem = 1;
		return;
	}
	memcpy(b->err.p + b->err.n, head, (size_t)k);
	b->err.n += (size_t)k;
	memcpy(b->err.p + b->err.n, msg, ml);
	b->err.n += ml;
	b->err.p[b->err.n++] = '\n';
	b->failed = 1;
	/* the line still gets its output line, so output line N is input line
	 * N: empty in plain mode, {"line": N, "error": MSG} with --jsonl */
	char *rec = NULL;
	if (w->o->jsonl) {
		json_t *j = json_pack("{s:I, s:s}", "line", (json_int_t)lineno, "error", msg);
		rec = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!rec) {
			b->nomem = 1;
			return;
		}
	}
	size_t rl = rec ? strlen(rec) : 0;
	if (buf_reserve(&b->out, rl + 1)) {
		free(rec);
		b->nomem = 1;
		return;
	}
	if (rl)
		memcpy(b->out.p + b->out.n, rec, rl);
	b->out.n += rl;
	b->out.p[b->out.n++] = '\n';
	free(rec);
}

static void tok_line(struct tok_worker *w, struct tok_block *b, const char *line, size_t line_len,
		     size_t lineno, int first_line)
{
	const struct tok_opts *o = w->o;
	const char *text;
	size_t len, nids;
	const int32_t *ids;
	struct ts_err *e = &w->e;
	json_t *j;
	char msg[200];

	/* a byte-order mark before the first line is not text */
	size_t bom = first_line ? ts_bom_len(line, line_len) : 0;
	if (ts_caption_line(line + bom, line_len - bom, o->jsonl, &text, &len, &j, msg, sizeof(msg))) {
		tok_error(w, b, lineno, msg);
		return;
	}
	e->status = 0;
	e->reason = TS_R_NONE;
	e->msg[0] = 0;
	int rc = ts_bpe_encode(w->ctx, text, len, &ids, &nids, e);
	json_decref(j);
	if (rc) {
		tok_error(w, b, lineno, e->msg);
		return;
	}
	if (o->count) {
		if (buf_reserve(&b->out, 24)) {
			b->nomem = 1;
			return;
		}
		b->out.n += put_int(b->out.p + b->out.n, (long long)nids + 2);
		b->out.p[b->out.n++] = '\n';
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
	if (buf_reserve(&b->out, (whole ? nids + 2 : total) * 13 + 4)) {
		b->nomem = 1;
		return;
	}
	char *p = b->out.p + b->out.n;
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
	b->out.n = (size_t)(p - b->out.p);
}

/* the pool's job: every line of one block */
static void tok_block_run(void *worker, void *item)
{
	struct tok_worker *w = worker;
	struct tok_block *b = item;
	const char *p = b->in.p, *end = b->in.p + b->in.n;
	b->out.n = b->err.n = 0;
	b->failed = b->nomem = 0;
	b->nlines = 0;
	while (p < end && !b->nomem) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl + 1 : end;
		tok_line(w, b, p, (size_t)(e - p), b->lineno0 + b->nlines, b->first && b->nlines == 0);
		b->nlines++;
		p = e;
	}
}

/* The input, read in blocks of whole lines. */
struct reader {
	int fd, eof;
	struct buf carry;         /* the start of a line the last block did not end */
	size_t blocks;            /* blocks read */
};

/* Fill b with the next lines: at least BLOCK_BYTES of them when the input
 * has them, fewer when a read came back short (a pipe: hand over what is
 * there), and a line however long it is.  Returns 1 with lines, 0 at the
 * end, -1 on a read error (errno set). */
static int read_block(struct reader *r, struct tok_block *b)
{
	int seen_nl = 0;
	b->in.n = 0;
	if (r->carry.n) {
		if (buf_reserve(&b->in, r->carry.n))
			return -2;
		memcpy(b->in.p, r->carry.p, r->carry.n);
		b->in.n = r->carry.n;
		r->carry.n = 0;
	}
	while (!r->eof && !(seen_nl && b->in.n >= BLOCK_BYTES)) {
		/* up to BLOCK_BYTES in all; past it (a line not ended yet)
		 * 64 KiB more at a time */
		size_t want = b->in.n < BLOCK_BYTES ? BLOCK_BYTES - b->in.n : 65536;
		if (buf_reserve(&b->in, want))
			return -2;
		ssize_t got = read(r->fd, b->in.p + b->in.n, want);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (got == 0) {
			r->eof = 1;
			break;
		}
		seen_nl |= memchr(b->in.p + b->in.n, '\n', (size_t)got) != NULL;
		b->in.n += (size_t)got;
		if (seen_nl && (size_t)got < want)
			break;
	}
	if (!r->eof) {
		/* keep the unfinished last line for the next block */
		size_t keep = b->in.n;
		while (b->in.p[keep - 1] != '\n')   /* there is one: seen_nl */
			keep--;
		if (keep < b->in.n) {
			if (buf_reserve(&r->carry, b->in.n - keep))
				return -2;
			memcpy(r->carry.p, b->in.p + keep, b->in.n - keep);
		}
		r->carry.n = b->in.n - keep;
		b->in.n = keep;
	}
	b->first = r->blocks++ == 0;
	return b->in.n > 0;
}

/* The lines written so far, and this thread's worker context for blocks
 * whose messages need their line numbers (made when first needed). */
struct writer {
	size_t lines;
	struct tok_worker w;
	const struct ts_bpe *bpe;
};

/* Write a finished block; 0, or -1 when it ran out of memory.  A block
 * tokenized before its first line number was known names its lines in
 * messages only when one failed: it is then tokenized again here, where
 * the number is known (rare, and the bytes are those of -j 1). */
static int write_block(struct writer *wr, struct tok_block *b, int *rc)
{
	if (!b->lineno0 && (b->failed || b->nomem)) {
		if (!wr->w.ctx && !(wr->w.ctx = ts_bpe_ctx_new(wr->bpe)))
			return -1;
		b->lineno0 = wr->lines + 1;
		tok_block_run(&wr->w, b);
	}
	wr->lines += b->nlines;
	if (b->nomem)
		return -1;
	if (b->out.n)
		fwrite(b->out.p, 1, b->out.n, stdout);
	if (b->err.n) {
		fflush(stdout);
		fwrite(b->err.p, 1, b->err.n, stderr);
	}
	if (b->failed)
		*rc = TS_EXIT_FAIL;
	return 0;
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
	struct tok_block *blocks = NULL;
	struct ts_pool *pool = NULL;
	void **wctx = NULL;
	struct reader rd = { .fd = -1 };
	struct writer wr = { .w = { .o = &o } };
	size_t depth = 0;
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
		default: fputs("see 'tessera captions --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	threads = ts_threads(threads);
	if (argc - optind > 1) {
		ts_error("captions tokenize takes at most one FILE");
		return TS_EXIT_USAGE;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") && !(in = fopen(argv[optind], "r"))) {
		ts_error("cannot open '%s': %s", argv[optind], strerror(errno));
		return TS_EXIT_FAIL;
	}
	rd.fd = fileno(in);
	if (ts_vocab_load(&bpe, vocab, &e)) {
		ts_error("%s", e.msg);
		rc = TS_EXIT_FAIL;
		goto done;
	}
	wr.bpe = bpe;
	if (!(wr.w.ctxbuf = malloc(((size_t)o.context + 2) * sizeof(int32_t))))
		goto nomem;
	/* -j 1: no worker thread, every block is tokenized on this one */
	depth = threads > 1 ? 2 * (size_t)threads + 2 : 1;
	w = calloc((size_t)threads, sizeof(*w));
	wctx = calloc((size_t)threads, sizeof(*wctx));
	blocks = calloc(depth, sizeof(*blocks));
	if (!w || !wctx || !blocks)
		goto nomem;
	for (nw = 0; nw < threads; nw++) {
		w[nw].o = &o;
		wctx[nw] = &w[nw];
		if (!(w[nw].ctx = ts_bpe_ctx_new(bpe)) ||
		    !(w[nw].ctxbuf = malloc(((size_t)o.context + 2) * sizeof(int32_t)))) {
			nw++;
			goto nomem;
		}
	}
	if (ts_pool_new(&pool, threads > 1 ? (int)threads : 0, depth, tok_block_run, wctx)) {
		ts_error("cannot start worker threads");
		rc = TS_EXIT_FAIL;
		goto done;
	}
	for (size_t k = 0;; k++) {
		if (ts_pool_inflight(pool) >= depth && write_block(&wr, ts_pool_next(pool, 1), &rc))
			goto nomem;
		struct tok_block *b = &blocks[k % depth];
		/* known when every earlier block is written (always at -j 1) */
		b->lineno0 = ts_pool_inflight(pool) == 0 ? wr.lines + 1 : 0;
		int r = read_block(&rd, b);
		if (r == -2)
			goto nomem;
		if (r < 0) {
			ts_error("cannot read '%s': %s", in == stdin ? "-" : argv[optind], strerror(errno));
			rc = TS_EXIT_FAIL;
			break;
		}
		if (r == 0)
			break;
		ts_pool_submit(pool, b);
	}
	ts_pool_close(pool);
	for (struct tok_block *b; (b = ts_pool_next(pool, 1));)
		if (write_block(&wr, b, &rc))
			goto nomem;
	if (fflush(stdout) || ferror(stdout)) {
		ts_error("cannot write the output: %s", strerror(errno));
		rc = TS_EXIT_FAIL;
	}
	goto done;
nomem:
	ts_error("out of memory");
	rc = TS_EXIT_FAIL;
done:
	ts_pool_free(pool);      /* before the blocks and the workers' contexts go */
	for (int k = 0; w && k < nw; k++) {
		ts_bpe_ctx_free(w[k].ctx);
		free(w[k].ctxbuf);
	}
	for (size_t k = 0; blocks && k < depth; k++) {
		free(blocks[k].in.p);
		free(blocks[k].out.p);
		free(blocks[k].err.p);
	}
	free(blocks);
	free(rd.carry.p);
	ts_bpe_ctx_free(wr.w.ctx);
	free(wr.w.ctxbuf);
	free(wctx);
	free(w);
	ts_bpe_free(bpe);
	if (in != stdin)
		fclose(in);
	return rc;
}
