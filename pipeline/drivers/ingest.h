/*
 * ingest.h - the ingest driver: sources -> workers -> one writer thread ->
 * tar shards + catalog.  cmd_ingest.c only fills struct ts_ingest_opts.
 */
#ifndef TS_INGEST_H
#define TS_INGEST_H

#include <stdint.h>
#include <stdio.h>

#include "base/ts_error.h"
#include "compose/compose.h"
#include "pipeline/sources/source.h"

struct ts_ingest_opts {
	const char **inputs;
	int ninputs;
	const char *outdir;
	struct ts_source_opts src;
	struct ts_process_opts px;
	int subsampling;             /* JPEG chroma: 420 (default, also 0) or 444 */
	int shard_digits;            /* digits of shard and sidecar names (0: 6; DataComp: 8) */
	int threads;                 /* workers; 0 = all cores */
	uint64_t shard_samples;      /* default 10000 */
	uint64_t shard_bytes;        /* default 1 GiB */
	uint64_t max_file_bytes;     /* per source image; default 256 MiB */
	uint64_t max_caption_bytes;  /* default 1 MiB */
	int json;                    /* --json summary on stdout */
	int progress;                /* -1 auto (terminal), 0 off, 1 on */
	int overwrite;               /* --overwrite: start OUTDIR afresh */
	int store;                   /* enum ts_store: --store tar|sqlite */
	int dedup;                   /* --dedup exact: identical source bytes become rejects */
	const char *command_line;    /* for the runs table */
	unsigned part_index;         /* this partition, 0-based ... */
	unsigned part_count;         /* ... of part_count (0 or 1: no partitioning) */
	const char *part_source;     /* "--part", "slurm", "kubernetes" or NULL */
	int tokens;                  /* count CLIP tokens of primary captions (default 1) */
	const char *vocab;           /* --vocab; NULL: the default search */
	const struct ts_ingest_hooks *hooks;   /* tessera fetch; NULL for ingest */
};

/* What `tessera fetch` adds to the ingest spine; every member may be NULL. */
struct ts_ingest_hooks {
	const char *title;           /* "fetch": progress line, summary, --json "command" */
	void *user;
	/* replace each opened source by a wrapping one (which owns it) */
	int (*wrap)(struct ts_source **src, void *user, uint64_t resume_record,
		    struct ts_err *err);
	/* canonical JSON text stored in the options fingerprint as "fetch" */
	const char *fingerprint;
	/* text appended to the progress line */
	void (*progress)(void *user, char *buf, size_t n);
	/* add fields to the --json summary (a json_t object), print lines after the text one */
	void (*summary_json)(void *user, void *json_obj);
	void (*summary_text)(void *user, FILE *f);
	/* --retry-failed: only these records (sorted), all before the resume
	 * point, into new shards of empty range (docs/fetch.md) */
	const uint64_t *only;
	size_t nonly;
};

struct ts_ingest_result {
	int interrupted;             /* stopped by a signal; the same command resumes */
	int all_rejected;            /* records were read and every one was rejected */
};

/* Run an ingest.  TS_OK when the run ended (rejects are not failures;
 * res says whether it was interrupted or rejected everything), else the
 * failure in err.  The run's account (progress, reject lines, the
 * summary and, when every record was rejected, the hint) is printed here:
 * it needs the per-reason tallies. */
int ts_ingest_run(const struct ts_ingest_opts *o, struct ts_ingest_result *res, struct ts_err *err);

#endif
