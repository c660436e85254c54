/*
 * clean.h - the text cleaning OpenAI's CLIP tokenizer applies before BPE:
 * a part of ftfy.fix_text (control characters, quotes, ligatures,
 * character width, NFC, and the commonest UTF-8-as-Windows-1252 mojibake),
 * html.unescape twice (the HTML5 entity set, generated from Python's html
 * module), white space collapsed and Unicode lower case.  captions/bpe.c
 * runs it on every caption; tests/unit/test_bpe.c checks the cleaned text
 * of every reference vector.
 *
 * Thread-safety: a struct ts_clean is one thread's scratch; the tables are
 * read-only (the Windows-1252 one is filled once, under pthread_once).
 */
#ifndef TS_CLEAN_H
#define TS_CLEAN_H

#include <stddef.h>

#include "base/ts_error.h"

/* Scratch buffers, owned by the struct; zero-initialise it (or
 * ts_clean_init) before the first use. */
struct ts_clean {
	char *out, *tmp, *tmp2;
	size_t out_cap, tmp_cap, tmp2_cap;
	int general_only;   /* tests: skip the plain-ASCII fast path */
};

void ts_clean_init(struct ts_clean *c);
void ts_clean_release(struct ts_clean *c);   /* frees the buffers; c may be reused */

/* Clean text[0..len) into c->out: *out is NUL-terminated and followed by at
 * least 16 more NUL bytes (so a reader may load 16 bytes from any offset
 * inside it); valid until the next call on c.  *ascii (when not NULL) is 1
 * when the text took the plain-ASCII fast path (ASCII without '&'), whose
 * result is then ASCII too.  Text that is not valid UTF-8 is
 * TS_ERR_INVALID with reason TS_R_CAPTION_INVALID_UTF8. */
int ts_clean_text(struct ts_clean *c, const char *text, size_t len, const char **out,
		  size_t *out_len, int *ascii, struct ts_err *err);

#endif
