/*
 * report.h - `tessera report`: one self-contained HTML page (and/or a JSON
 * document) of a dataset's statistics, rejects, images, composites and
 * tags (docs/report.md).  Reads the dataset read-only; statistics come from
 * catalog aggregates and one streaming pass over the captions, so time and
 * memory stay bounded on large catalogs; only the contact sheet's samples
 * are read from the shards.
 */
#ifndef TS_REPORT_H
#define TS_REPORT_H

#include <stdint.h>

#include "base/ts_error.h"

struct ts_report_opts {
	const char *dataset;   /* OUTDIR */
	const char *output;    /* HTML file, or NULL */
	const char *vocab;     /* CLIP merges file, or NULL for the usual places */
	int catalog_tokens;    /* --catalog-tokens: no tokenizer, the catalog's counts */
	uint64_t seed;         /* contact sheet choice */
	int sheet;             /* contact sheet samples (48) */
	int thumb;             /* thumbnail long side in pixels (160) */
	int json;              /* print the statistics JSON on stdout */
};

/* Write the report.  The HTML goes to output.tmp first and is renamed, so
 * a failed run leaves no half page.  Returns 0 or negative with err set. */
int ts_report_run(const struct ts_report_opts *o, struct ts_err *err);

/* The meaning of a reject reason code: docs/formats.md's text, compiled in
 * at build time; NULL for a code the docs do not list. */
const char *ts_report_reason_meaning(const char *code);

#endif
