/*
 * ingest.h - the ingest driver: sources -> workers -> one writer thread ->
 * tar shards + catalog.  cmd_ingest.c (and cmd_fetch.c) fill struct
 * ts_ingest_opts; the driver fills struct ts_ingest_result, which the
 * command prints (commands/ingest_summary.h).
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
	const char *title;           /* "fetch": the progress line (the command prints the summary) */
	void *user;
	/* replace each opened source by a wrapping one (which owns it) */
	int (*wrap)(struct ts_source **src, void *user, uint64_t resume_record,
		    struct ts_err *err);
	/* canonical JSON text stored in the options fingerprint as "fetch" */
	const char *fingerprint;
	/* text appended to the progress line */
	void (*progress)(void *user, char *buf, size_t n);
	/* --retry-failed: only these records (sorted), all before the resume
	 * point, into new shards of empty range (docs/fetch.md) */
	const uint64_t *only;
	size_t nonly;
};

/* The account of a run, for the summary the command prints (ingest and
 * fetch: ts_ingest_summary in pipeline/commands/ingest_summary.h). */
struct ts_ingest_result {
	int summary;                 /* the run reached its end (done or interrupted) and
				      * the members below hold its account; 0 when it
				      * failed before (then they are all 0) */
	int interrupted;             /* stopped by a signal; the same command resumes */
	int all_rejected;            /* records were read, every one was rejected and no
				      * earlier run's samples are kept */
	uint64_t records;            /* records this run read (its partition, after the resume point) */
	uint64_t samples;            /* samples written by this run */
	uint64_t rejects;
	uint64_t by_reason[TS_R__COUNT];   /* rejects per enum ts_reason */
	char *first_ref[TS_R__COUNT];      /* image path (else source) of each reason's
					    * first reject, or NULL; owned */
	char *image_root;            /* image root of the first input (for the hint), or NULL; owned */
	uint64_t shards_written;     /* shards this run completed ... */
	uint64_t bytes_written;      /* ... and their bytes */
	uint64_t resumed_record;     /* the record this run resumed at (0: a new run) */
	unsigned resumed_shards;     /* complete shards kept from earlier runs */
	uint64_t samples_kept;       /* interrupted: samples in the complete shards */
	double seconds;              /* wall-clock length of the run */
	int threads;                 /* workers */
};

/* Run an ingest.  TS_OK when the run ended (rejects are not failures;
 * res says whether it was interrupted or rejected everything), else the
 * failure in err.  res is always filled (zeroed first); when res->summary
 * is set it holds the run's account even if closing the output failed
 * afterwards (an error then), so the command prints the summary and then
 * the error.  The caller releases res with ts_ingest_result_release.
 * Printed here is only the running account: the progress line, warnings,
 * one line per reject and, with TESSERA_PROFILE set, the profile line. */
int ts_ingest_run(const struct ts_ingest_opts *o, struct ts_ingest_result *res, struct ts_err *err);

/* Free what res owns (the first references, the image root) and zero it;
 * res may be NULL. */
void ts_ingest_result_release(struct ts_ingest_result *res);

#endif
