/*
 * captions_tokenize.h - the work of `tessera captions tokenize`: every input
 * line becomes exactly one output line (ids, a count, or a JSONL record),
 * in input order at any thread count (docs/captions.md).
 */
#ifndef TS_CAPTIONS_TOKENIZE_H
#define TS_CAPTIONS_TOKENIZE_H

#include <stdio.h>

#include "base/ts_error.h"

struct ts_bpe;

struct ts_tokenize_opts {
	long context;                /* --context (default 77) */
	int truncate, pad, count, jsonl;
	int threads;                 /* workers (1: all on the calling thread) */
	const struct ts_bpe *bpe;
	int in_fd;                   /* the input, read in blocks of whole lines */
	const char *in_name;         /* for messages ("-" for standard input) */
	FILE *out;                   /* one line per input line */
	FILE *err;                   /* per-line messages ("tessera: error: line N: ...") */
};

/* Tokenize the whole input.  TS_OK with *failed set when some line got an
 * error (its message is on o->err, its output line empty or an error
 * record); otherwise the failure (read, write, memory) in err. */
int ts_tokenize_run(const struct ts_tokenize_opts *o, int *failed, struct ts_err *err);

#endif
