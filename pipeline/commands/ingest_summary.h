/*
 * ingest_summary.h - what `tessera ingest` and `tessera fetch` print and
 * return at the end of a run, from the driver's struct ts_ingest_result:
 * the summary (text or --json), the all-rejected hint and the exit code.
 */
#ifndef TS_INGEST_SUMMARY_H
#define TS_INGEST_SUMMARY_H

#include "pipeline/drivers/ingest.h"

struct json_t;

/* The summary of a run that reached its end (res->summary; else nothing).
 * cmd names it ("ingest", "fetch").  With o->json: the JSON object on
 * stdout, with the members of extra (a JSON object, may be NULL; not
 * released) after its own.  Else, unless -q: the text lines on stderr,
 * then extra_text (whole lines, may be NULL).  Then, when every record was
 * rejected, the error line with the likeliest cause, even with -q. */
void ts_ingest_summary(const char *cmd, const struct ts_ingest_opts *o,
		       const struct ts_ingest_result *res, struct json_t *extra,
		       const char *extra_text);

/* The exit code of an ingest run (ingest and fetch), after printing its
 * failure: 0, 1 (failed), 3 (every record rejected), 130 (interrupted). */
int ts_ingest_exit(int status, const struct ts_ingest_result *res, const struct ts_err *err);

#endif
