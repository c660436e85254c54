/*
 * captions_tokenize.c - the work of `tessera captions tokenize`: blocks of
 * whole lines on the ordered pool (docs/captions.md).
 *
 * This thread reads the input in blocks of about BLOCK_BYTES of whole
 * lines and submits them to the pool; workers tokenize a block's lines
 * into the block's own output and error buffers; this thread writes the
 * blocks back in submission order.  The output is therefore the same bytes
 * whatever -j is, and at most `depth` blocks are in memory.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <unistd.h>

#include "base/buf.h"
#include "captions/bpe.h"
#include "pipeline/drivers/captions_tokenize.h"
#include "pipeline/pool.h"
#include "pipeline/util.h"

#define BLOCK_BYTES (128 << 10)

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

/* Workers write their context and their block on every line: each one on
 * cache lines of its own (two: the adjacent-line prefetch), or two threads
 * keep taking the same line from each other and -j 2 is no faster than
 * -j 1 (it was 1.05x, with 60% more CPU). */
#define TOK_ALIGN 128

/* one worker thread's context */
struct __attribute__((aligned(TOK_ALIGN))) tok_worker {
	struct ts_bpe_ctx *ctx;
	struct ts_err e;          /* reset per line (not the whole message) */
	const struct ts_tokenize_opts *o;
	int32_t *ctxbuf;
};

/* one block of input lines and what they became */
struct __attribute__((aligned(TOK_ALIGN))) tok_block {
	struct ts_buf in;            /* whole lines; the input's last one may lack '\n' */
	size_t lineno0;           /* line number of the block's first line; 0 when not
				   * known yet (blocks read ahead of the writing) */
	size_t nlines;            /* lines in the block, counted by the worker */
	int first;                /* the input's first block (a BOM may start it) */
	struct ts_buf out, err;
	int failed, nomem;
};

static void tok_error(struct tok_worker *w, struct tok_block *b, size_t lineno, const char *msg)
{
	char head[64];
	int k = snprintf(head, sizeof(head), "tessera: error: line %zu: ", lineno);
	size_t ml = strlen(msg);
	if (ts_buf_grow(&b->err, (size_t)k + ml + 2)) {
		b->nomem = 1;
		return;
	}
	memcpy(b->err.data + b->err.len, head, (size_t)k);
	b->err.len += (size_t)k;
	memcpy(b->err.data + b->err.len, msg, ml);
	b->err.len += ml;
	b->err.data[b->err.len++] = '\n';
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
	if (ts_buf_grow(&b->out, rl + 1)) {
		free(rec);
		b->nomem = 1;
		return;
	}
	if (rl)
		memcpy(b->out.data + b->out.len, rec, rl);
	b->out.len += rl;
	b->out.data[b->out.len++] = '\n';
	free(rec);
}

static void tok_line(struct tok_worker *w, struct tok_block *b, const char *line, size_t line_len,
		     size_t lineno, int first_line)
{
	const struct ts_tokenize_opts *o = w->o;
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
		if (ts_buf_grow(&b->out, 24)) {
			b->nomem = 1;
			return;
		}
		b->out.len += put_int(b->out.data + b->out.len, (long long)nids + 2);
		b->out.data[b->out.len++] = '\n';
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
	if (ts_buf_grow(&b->out, (whole ? nids + 2 : total) * 13 + 4)) {
		b->nomem = 1;
		return;
	}
	char *p = b->out.data + b->out.len;
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
	b->out.len = (size_t)(p - b->out.data);
}

/* the pool's job: every line of one block */
static void tok_block_run(void *worker, void *item)
{
	struct tok_worker *w = worker;
	struct tok_block *b = item;
	const char *p = b->in.data, *end = b->in.data + b->in.len;
	b->out.len = b->err.len = 0;
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
	struct ts_buf carry;         /* the start of a line the last block did not end */
	size_t blocks;            /* blocks read */
};

/* Fill b with the next lines: at least BLOCK_BYTES of them when the input
 * has them, fewer when a read came back short (a pipe: hand over what is
 * there), and a line however long it is.  Returns 1 with lines, 0 at the
 * end, -1 on a read error (errno set). */
static int read_block(struct reader *r, struct tok_block *b)
{
	int seen_nl = 0;
	b->in.len = 0;
	if (r->carry.len) {
		if (ts_buf_grow(&b->in, r->carry.len))
			return -2;
		memcpy(b->in.data, r->carry.data, r->carry.len);
		b->in.len = r->carry.len;
		r->carry.len = 0;
	}
	while (!r->eof && !(seen_nl && b->in.len >= BLOCK_BYTES)) {
		/* up to BLOCK_BYTES in all; past it (a line not ended yet)
		 * 64 KiB more at a time */
		size_t want = b->in.len < BLOCK_BYTES ? BLOCK_BYTES - b->in.len : 65536;
		if (ts_buf_grow(&b->in, want))
			return -2;
		ssize_t got = read(r->fd, b->in.data + b->in.len, want);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (got == 0) {
			r->eof = 1;
			break;
		}
		seen_nl |= memchr(b->in.data + b->in.len, '\n', (size_t)got) != NULL;
		b->in.len += (size_t)got;
		if (seen_nl && (size_t)got < want)
			break;
	}
	if (!r->eof) {
		/* keep the unfinished last line for the next block */
		size_t keep = b->in.len;
		while (b->in.data[keep - 1] != '\n')   /* there is one: seen_nl */
			keep--;
		if (keep < b->in.len) {
			if (ts_buf_grow(&r->carry, b->in.len - keep))
				return -2;
			memcpy(r->carry.data, b->in.data + keep, b->in.len - keep);
		}
		r->carry.len = b->in.len - keep;
		b->in.len = keep;
	}
	b->first = r->blocks++ == 0;
	return b->in.len > 0;
}

/* The lines written so far, and this thread's worker context for blocks
 * whose messages need their line numbers (made when first needed). */
struct writer {
	size_t lines;
	struct tok_worker w;
	const struct ts_bpe *bpe;
	FILE *out, *err;
};

/* Write a finished block; 0, or -1 when it ran out of memory.  A block
 * tokenized before its first line number was known names its lines in
 * messages only when one failed: it is then tokenized again here, where
 * the number is known (rare, and the bytes are those of -j 1). */
static int write_block(struct writer *wr, struct tok_block *b, int *failed)
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
	if (b->out.len)
		fwrite(b->out.data, 1, b->out.len, wr->out);
	if (b->err.len) {
		fflush(wr->out);
		fwrite(b->err.data, 1, b->err.len, wr->err);
	}
	if (b->failed)
		*failed = 1;
	return 0;
}

int ts_tokenize_run(const struct ts_tokenize_opts *o, int *failed, struct ts_err *err)
{
	int threads = o->threads > 0 ? o->threads : 1, nw = 0, rc = TS_OK;
	struct tok_worker *w = NULL;
	struct tok_block *blocks = NULL;
	struct ts_pool *pool = NULL;
	void **wctx = NULL;
	struct reader rd = { .fd = o->in_fd };
	struct writer wr = { .w = { .o = o }, .bpe = o->bpe, .out = o->out, .err = o->err };
	size_t depth = 0;

	*failed = 0;
	if (!(wr.w.ctxbuf = malloc(((size_t)o->context + 2) * sizeof(int32_t))))
		goto nomem;
	/* -j 1: no worker thread, every block is tokenized on this one */
	depth = threads > 1 ? 2 * (size_t)threads + 2 : 1;
	w = aligned_alloc(TOK_ALIGN, (size_t)threads * sizeof(*w));
	wctx = calloc((size_t)threads, sizeof(*wctx));
	blocks = aligned_alloc(TOK_ALIGN, depth * sizeof(*blocks));
	if (!w || !wctx || !blocks)
		goto nomem;
	memset(w, 0, (size_t)threads * sizeof(*w));
	memset(blocks, 0, depth * sizeof(*blocks));
	for (nw = 0; nw < threads; nw++) {
		w[nw].o = o;
		wctx[nw] = &w[nw];
		if (!(w[nw].ctx = ts_bpe_ctx_new(o->bpe)) ||
		    !(w[nw].ctxbuf = malloc(((size_t)o->context + 2) * sizeof(int32_t)))) {
			nw++;
			goto nomem;
		}
	}
	if (ts_pool_new(&pool, threads > 1 ? threads : 0, depth, tok_block_run, wctx)) {
		rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot start worker threads");
		goto done;
	}
	for (size_t k = 0;; k++) {
		if (ts_pool_inflight(pool) >= depth && write_block(&wr, ts_pool_next(pool, 1), failed))
			goto nomem;
		struct tok_block *b = &blocks[k % depth];
		/* known when every earlier block is written (always at -j 1) */
		b->lineno0 = ts_pool_inflight(pool) == 0 ? wr.lines + 1 : 0;
		int r = read_block(&rd, b);
		if (r == -2)
			goto nomem;
		if (r < 0) {
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s", o->in_name, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		ts_pool_submit(pool, b);
	}
	ts_pool_close(pool);
	for (struct tok_block *b; (b = ts_pool_next(pool, 1));)
		if (write_block(&wr, b, failed))
			goto nomem;
	if ((fflush(o->out) || ferror(o->out)) && rc == TS_OK)
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot write the output: %s", strerror(errno));
	goto done;
nomem:
	rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
done:
	ts_pool_free(pool);      /* before the blocks and the workers' contexts go */
	for (int k = 0; w && k < nw; k++) {
		ts_bpe_ctx_free(w[k].ctx);
		free(w[k].ctxbuf);
	}
	for (size_t k = 0; blocks && k < depth; k++) {
		ts_buf_release(&blocks[k].in);
		ts_buf_release(&blocks[k].out);
		ts_buf_release(&blocks[k].err);
	}
	free(blocks);
	ts_buf_release(&rd.carry);
	ts_bpe_ctx_free(wr.w.ctx);
	free(wr.w.ctxbuf);
	free(wctx);
	free(w);
	return rc;
}
