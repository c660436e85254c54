/*
 * rewrite.h - rewrite every sample of a dataset, adding or replacing
 * members and setting catalog columns, in place (atomically) or into a new
 * directory.  Used by `tessera captions split` and `tessera tags`
 * (pipeline/drivers/tags.c).  The work of each sample runs on the ordered
 * pool; what is written never depends on the number of threads.
 *
 * Shards keep their names, boundaries and record ranges; rejects stay
 * with their shards.  The new dataset is built in TARGET/.rewrite.tmp
 * (TARGET: OUTDIR in place, or the -o directory) and then moved in:
 *   1. build .rewrite.tmp/shards/ and .rewrite.tmp/catalog.sqlite (fsync'ed);
 *   2. create .rewrite.tmp/READY (fsync'ed): from here the rewrite is decided;
 *   3. rename each new shard over the old one, then the catalog; rename
 *      READY to INDEX; rewrite the sidecars; remove .rewrite.tmp.
 * A run interrupted before step 2 leaves the dataset untouched (the next
 * rewrite throws .rewrite.tmp away); after it, the next rewrite finishes
 * step 3 first, and readers (ts_dataset_open) refuse the half-moved dataset
 * until then.  TESSERA_CRASH_AT=rewrite-ready or rewrite-moved[:N] kill the
 * process at those points (docs/testing.md).
 */
#ifndef TS_REWRITE_H
#define TS_REWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"
#include "shards/dataset.h"
#include "shards/shards.h"

struct ts_rw_member {
	const char *ext;        /* "txt", "short.txt", "tags.json", ... */
	const void *data;
	size_t len;
};

#define TS_RW_MAX_ADD 32

struct ts_rw_result {
	/* members to add; a member of the sample with the same extension is
	 * dropped, and these come after the sample's others, in this order */
	struct ts_rw_member add[TS_RW_MAX_ADD];
	size_t nadd;
	int set_text;                    /* replace the sample's caption columns */
	struct ts_text_cols text;
	int set_tags;                    /* replace the sample's tags rows */
	const struct ts_tag_row *tags;
	size_t ntags;
	int set_scores;                  /* replace the sample's tag_scores rows */
	const struct ts_score_row *scores;
	size_t nscores;
	/* NULL: keep the sample's other members; else only those whose
	 * extension is listed (NULL-terminated) */
	const char *const *keep_exts;
	const char *drop_suffix;         /* also drop members whose extension ends so */
	void *priv;                      /* the work's own, for its done */
};

/* The per-sample work, on the ordered pool (pipeline/pool.h): `work` runs
 * on a worker thread (several samples at once, each with its own res and
 * err), with the thread's context (ts_rw_ops.workers[i]) and the sample's
 * members (and their bytes); what res points to stays valid until `done`
 * for that sample.  Non-zero stops the rewrite (err says why).  `done`
 * runs on the writing thread, strictly in record order, once for every
 * sample whose work ran (written: the sample went into the new dataset;
 * 0 when the rewrite stops first): the place to count, to say what was
 * found, and to free what work made for res (res->priv is the work's own). */
struct ts_rw_ops {
	int (*work)(void *worker, const struct ts_dataset_sample *s, const struct ts_rw_member *members,
		    size_t nmembers, struct ts_rw_result *res, struct ts_err *err);
	void (*done)(void *user, const struct ts_dataset_sample *s, struct ts_rw_result *res, int written);
	void *user;                /* done's */
	void **workers;            /* threads contexts (one when threads <= 1), or NULL */
	int threads;               /* worker threads; 0 or 1: all on the calling thread */
};

struct ts_rw_opts {
	const char *indir;
	const char *outdir;        /* NULL: in place */
	const char *command;       /* for the runs table: "tessera captions split" */
	const char *meta_name;     /* a meta row that records the rewrite ... */
	const char *meta_json;     /* ... and its options */
	const char *what;          /* "split", "tags": for messages */
};

struct ts_rw_stats {
	uint64_t samples, rejects, shards;
	double seconds;
	int already;               /* -o already held this rewrite: nothing done */
};

/* ts_rewrite's result when SIGINT or SIGTERM stopped it before anything
 * was decided (the dataset is as it was). */
#define TS_RW_INTERRUPTED 1

/* Finish an interrupted in-place rewrite of dir, if there is one; 0 when
 * there was none or it was finished, negative with err set on error.  Call
 * with dir locked. */
int ts_rewrite_recover(const char *dir, struct ts_err *err);

/* Run the rewrite: TS_OK (st filled; st->already when -o held it done),
 * TS_RW_INTERRUPTED, or negative with err set.  Prints only the progress
 * line on a terminal and (ts_info) what it finishes, finds done or leaves
 * unchanged when interrupted. */
int ts_rewrite(const struct ts_rw_opts *o, const struct ts_rw_ops *ops, struct ts_rw_stats *st,
	       struct ts_err *err);

#endif
