/*
 * vocab.h - where the CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz) is.
 *
 * The library (captions/bpe.c) loads a path it is given; this is the one
 * place that decides the path.  The vocabulary ships with tessera (data/ in
 * the source tree, PREFIX/share/tessera once installed), so it is looked
 * for next to the binary and in the tree the binary was built from, never
 * relative to the current directory.
 */
#ifndef TS_VOCAB_H
#define TS_VOCAB_H

#include <stddef.h>

#include "base/ts_error.h"

#define TS_VOCAB_NAME "bpe_simple_vocab_16e6.txt.gz"

struct ts_bpe;

/* The vocabulary file: opt (--vocab) when given, else env ($TESSERA_VOCAB)
 * when set and not empty (an override is taken as it is, so a wrong one is
 * an error later, never a silent fallback), else the first regular file of
 * EXEDIR/../share/tessera/NAME (exe: the binary's real path), SRCDIR/data/NAME
 * and DATADIR/NAME (srcdir, datadir may be NULL).  Returns 1 with the path in
 * buf, 0 when none exists (buf then lists the places tried, quoted and
 * comma-separated, for a message). */
int ts_vocab_locate(const char *opt, const char *env, const char *exe, const char *srcdir,
		    const char *datadir, char *buf, size_t n);

/* ts_vocab_locate with $TESSERA_VOCAB, /proc/self/exe and the source and
 * data directories compiled in. */
int ts_vocab_path(const char *opt, char *buf, size_t n);

/* Find and load the vocabulary.  0 with *out set; 1 when no file was found
 * (err says where it looked and how to give one); the loader's negative
 * error when a file was named or found but is not usable. */
int ts_vocab_load(struct ts_bpe **out, const char *opt, struct ts_err *err);

#endif
