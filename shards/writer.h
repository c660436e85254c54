/*
 * writer.h - the shard writer: takes samples and rejects in record order and
 * turns them into tar (or SQLite) shards plus catalog rows, with the
 * shard-closing and commit rules of docs/formats.md.  Every command that
 * writes a dataset goes through it (through the output dataset, out.h), so
 * all of them close shards at the same points and give the same bytes for
 * the same sample sequence.  Called from one thread only (which may start
 * a catalog thread of its own: opts.catalog_thread).  It prints nothing: named
 * moments are reported to an optional hook (the crash tests use it).
 */
#ifndef TS_WRITER_H
#define TS_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"
#include "shards/shards.h"

struct ts_catalog;

struct ts_dsw_member {
	const char *ext;        /* "jpg", "txt", "json", "short.txt", ... */
	const void *data;
	size_t len;
};

struct ts_dsw_sample {
	uint64_t record;        /* key = record, zero-padded to 9 digits */
	const struct ts_dsw_member *members;
	size_t nmembers;        /* at most TS_DSW_MAX_MEMBERS */
	int width, height, orig_width, orig_height;
	const char *format, *content_hash, *image_hash, *source, *caption, *captions_json;
	const char *path;           /* resolved image path or URL (samples.path), or NULL */
	const char *meta_json;      /* extra fields (samples.meta), or NULL */
	const char *source_format;  /* samples.source_format, or NULL */
	const char *fixes;          /* samples.fixes, or NULL */
	struct ts_text_cols text;   /* TS_TEXT_COLS_NONE when not known */
	const struct ts_tag_row *tags;   /* rows for the tags table (tessera tags) */
	size_t ntags;
	const struct ts_score_row *scores;   /* rows for tag_scores */
	size_t nscores;
	const struct ts_comp_row *comp;      /* a compositions row (tessera compose) */
	/* NULL, or per member ts_hash_hex() of its data when the caller has
	 * it already (NULL entries: the writer hashes that member) */
	const char *const *member_hashes;
};

#define TS_DSW_MAX_MEMBERS 64

struct ts_dsw_opts {
	const char *shards_dir;
	struct ts_catalog *cat;
	unsigned first_shard;       /* the next shard number (resume) */
	uint64_t first_record;      /* where the next shard's record range starts */
	uint64_t shard_samples, shard_bytes;
	int store;                  /* enum ts_store: tar (0) or sqlite */
	int name_digits;            /* digits of shard names (0: TS_SHARD_DIGITS) */
	int retry;                  /* tessera fetch --retry-failed: samples and rejects are of
	                               records before first_record; each replaces the record's
	                               earlier rejects, and shards get the empty range
	                               [first_record, first_record) */
	/* 1: a catalog thread inserts the sample and reject rows, so the
	 * caller's thread does not wait on SQLite while it writes a shard
	 * (ignored with retry).  The commit rules and the statements are
	 * the same; the caller's thread still makes the shard's intent and
	 * commit calls, after every row before them is in.  The thread takes
	 * no signals.  An insert that fails is reported by a later call
	 * (the next that hands a batch over, the shard's close, finish).
	 * ts_dsw_finish (when it succeeds) and ts_dsw_discard end the
	 * thread: calls after them run on the caller's thread. */
	int catalog_thread;
	/* Called at "shard-open" (a shard row with complete = 0 was committed),
	 * "sample" (a sample's members were appended), "shard-renamed" (the
	 * file got its final name, before the commit) and "shard-committed";
	 * may be NULL. */
	void (*hook)(void *user, const char *point);
	void *hook_user;
};

struct ts_dsw;

int ts_dsw_new(struct ts_dsw **out, const struct ts_dsw_opts *o, struct ts_err *err);
/* Append a sample: may close the open shard first (byte limit) or after
 * (sample limit). */
int ts_dsw_sample(struct ts_dsw *w, const struct ts_dsw_sample *s, struct ts_err *err);

/* The writer's sample for dataset sample s (shards/dataset.h), every
 * column carried, with members m[0..nm): a rewrite or a merge then changes
 * what it changes.  Pointers into s, nothing copied. */
struct ts_dataset_sample;
void ts_dsw_sample_from(const struct ts_dataset_sample *s, const struct ts_dsw_member *m, size_t nm,
			struct ts_dsw_sample *ds);
/* Record a reject; stored with the shard whose record range holds it. */
int ts_dsw_reject(struct ts_dsw *w, uint64_t record, const char *source,
		  const char *stage, const char *reason, const char *message,
		  struct ts_err *err);
/* The same with every column of the row (path and detail included). */
int ts_dsw_reject_row(struct ts_dsw *w, const struct ts_reject_row *r, struct ts_err *err);
/* End of input at end_record: close the open shard (its range ends there)
 * and store the remaining rejects. */
int ts_dsw_finish(struct ts_dsw *w, uint64_t end_record, struct ts_err *err);
/* Drop the open shard and the rows not yet committed (interrupted or
 * failed run); w stays usable for stats. */
void ts_dsw_discard(struct ts_dsw *w);   /* accepts NULL */
/* Discard, then free w. */
void ts_dsw_free(struct ts_dsw *w);      /* accepts NULL */

struct ts_dsw_stats {
	uint64_t samples, shards, bytes;
	uint64_t last_samples, last_bytes;   /* of the shard committed last */
	/* with TESSERA_PROFILE set (else 0): CPU time of the writer's thread
	 * inside catalog calls (rows, commits) and writing shard files */
	double catalog_seconds, shard_seconds;
	/* of catalog_seconds, the catalog thread's share; and the wall time
	 * the caller's thread waited for that thread (opts.catalog_thread) */
	double catalog_thread_seconds, catalog_wait_seconds;
};
void ts_dsw_stats(const struct ts_dsw *w, struct ts_dsw_stats *st);

#endif
