/*
 * out.h - the output dataset: what every command that writes a dataset
 * (ingest, fetch, compose, str ingest --store wds, shards merge) opens
 * instead of doing its own mkdir, lock, catalog, fingerprint and resume.
 *
 * The rules it enforces (docs/formats.md, "Output directories"):
 * - it deletes, renames or overwrites only files it created: an OUTDIR
 *   that is not empty and holds no tessera catalog is refused; a resume or
 *   --overwrite removes only shard files the catalog names (every shard
 *   name is committed before its file is created), the catalog itself, the
 *   sidecars tessera writes and its temporary files;
 * - an input inside what a run may remove (OUTDIR/shards/, the catalog) is
 *   refused before anything is removed;
 * - one writer at a time (an exclusive lock on OUTDIR/.tessera.lock,
 *   which readers take shared);
 * - a finished dataset stands alone: at close the catalog leaves WAL mode
 *   (journal_mode=DELETE), so it opens on read-only storage.
 * It prints nothing; errors go into struct ts_err.
 */
#ifndef TS_OUT_H
#define TS_OUT_H

#include <stdint.h>

#include "base/ts_error.h"
#include "shards/shards.h"
#include "shards/writer.h"

struct ts_out_opts {
	const char *dir;               /* OUTDIR */
	const char *meta_key;          /* where the fingerprint lives: "ingest_options", ... */
	const char *fingerprint;       /* canonical JSON object (sorted keys) of inputs and options */
	int overwrite;                 /* start afresh (removing only what is ours) */
	int no_resume;                 /* an existing dataset is an error (merge) */
	int store;                     /* enum ts_store */
	int name_digits;               /* digits of shard names (0: 6) */
	uint64_t shard_samples, shard_bytes;
	const char *const *inputs;     /* paths this run reads, checked against what it may remove */
	int ninputs;
	const char *command_line, *version;   /* the runs row */
	void (*hook)(void *user, const char *point);   /* writer moments, plus "catalog-created", "run-begun" */
	void *hook_user;
	int retry;                     /* tessera fetch --retry-failed: see struct ts_dsw_opts */
	int catalog_thread;            /* rows inserted by a catalog thread: see struct ts_dsw_opts */
};

struct ts_out;

/* Open (creating or resuming) the output dataset.  Fails with a clear
 * message when OUTDIR is somebody else's, in use, made with other options
 * (the message names each differing option with its old and new value),
 * or when an input lies inside it.  TS_ERR_EXISTS for the last three. */
int ts_out_open(struct ts_out **out, const struct ts_out_opts *o, struct ts_err *err);

/* Where the run goes on: the first record not yet covered by a kept shard,
 * and how many complete shards were kept. */
uint64_t ts_out_resume_record(const struct ts_out *o);
unsigned ts_out_resume_shards(const struct ts_out *o);

struct ts_catalog *ts_out_catalog(struct ts_out *o);
struct ts_dsw *ts_out_writer(struct ts_out *o);

/* End of input at end_record: close the last shard, write the sidecars
 * (sizes.json, shardindex.json, NNNNNN.idx, NNNNNN_stats.json). */
int ts_out_finish(struct ts_out *o, uint64_t end_record, struct ts_err *err);

/* Close the run: status "ok" (after ts_out_finish), "interrupted" or
 * "failed" (the open shard and uncommitted rows are dropped first); the
 * runs row gets the status and summary; the catalog is checkpointed and
 * left in DELETE journal mode; the lock is released.  o is freed. */
int ts_out_close(struct ts_out *o, const char *status, const char *summary_json,
		 struct ts_err *err);

/* Drop everything (as a failed run) and free; accepts NULL. */
void ts_out_free(struct ts_out *o);

/* 0 when dir is missing, empty or holds only names tessera creates (the
 * lock, an empty shards/, catalog files); else TS_ERR_EXISTS naming one
 * foreign entry. */
int ts_out_check_dir(const char *dir, struct ts_err *err);

/* Names of top-level options that differ between two fingerprints, as
 * "name: OLD -> NEW; ..." into buf. */
void ts_fingerprint_diff(const char *old_json, const char *new_json, char *buf, size_t n);

#endif
