/*
 * dataset.h - read side of the dataset contract (docs/formats.md): open
 * OUTDIR read-only, walk its shards, samples, members and rejects in
 * record order, find a member's bytes by key.  Used by `tessera shards`
 * (ls, cat, verify, index, merge) and by later stages that read datasets.
 * The catalog is opened read-only; nothing here writes.
 */
#ifndef TS_DATASET_H
#define TS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"
#include "shards/shards.h"

struct ts_dataset;

struct ts_dataset_shard {
	unsigned idx;
	const char *name;          /* "000000.tar" */
	uint64_t samples, bytes;
	const char *hash;
	int complete;
	uint64_t first_record, end_record;
	const char *md5;           /* MD5 of the file as the writer streamed it, or NULL */
};

struct ts_dataset_member {
	const char *name;          /* "000000042.jpg" */
	uint64_t offset, size;
	const char *hash;          /* XXH3-128 of the data */
};

struct ts_dataset_sample {
	const char *key;
	uint64_t record;
	unsigned shard;
	const char *shard_name;    /* "000000.tar" or "000000.sqlite" */
	int width, height, orig_width, orig_height;
	const char *format, *content_hash, *image_hash, *source, *caption, *captions_json;
	const char *path, *meta_json;         /* version 3 columns, NULL when absent */
	const char *source_format, *fixes;    /* version 4 columns, NULL when absent */
	struct ts_text_cols text;             /* NULL columns: -1 / NULL */
	const struct ts_tag_row *tags;        /* its rows of the tags table, by caption and index */
	size_t ntags;
	const struct ts_score_row *scores;    /* its rows of tag_scores, by tag */
	size_t nscores;
	const struct ts_comp_row *comp;       /* its compositions row, or NULL */
	const struct ts_dataset_member *members;   /* in tar order */
	size_t nmembers;
};

/* A copy of s that outlives the cursor it came from (for work handed to
 * other threads): one malloc'ed block, freed with free(); NULL when out of
 * memory. */
struct ts_dataset_sample *ts_dataset_sample_dup(const struct ts_dataset_sample *s);

struct ts_dataset_reject {
	uint64_t record;
	const char *source, *stage, *reason, *message;
	const char *path, *detail_json;       /* version 3 columns, NULL when absent */
};

/* Open OUTDIR (its catalog.sqlite, read-only).  Clear error when OUTDIR is
 * not a tessera dataset. */
int ts_dataset_open(struct ts_dataset **out, const char *outdir, struct ts_err *err);
/* TS_DS_NOLOCK: the caller holds OUTDIR's lock itself (a writer reading
 * its own dataset); otherwise a shared lock is held until close, and a
 * dataset another process writes is refused (TS_ERR_EXISTS). */
#define TS_DS_NOLOCK 1
int ts_dataset_open_flags(struct ts_dataset **out, const char *outdir, int flags,
			  struct ts_err *err);
void ts_dataset_close(struct ts_dataset *ds);   /* accepts NULL */

const char *ts_dataset_dir(const struct ts_dataset *ds);
/* "OUTDIR/shards/NAME" into buf. */
char *ts_dataset_shard_path(const struct ts_dataset *ds, const char *name, char *buf, size_t n);
/* The newest runs row: 1 with *command and *status malloc'ed, 0 when
 * there is none, -1 on error. */
int ts_dataset_last_run(struct ts_dataset *ds, char **command, char **status);
/* meta value (malloc'ed) or NULL. */
char *ts_dataset_meta(struct ts_dataset *ds, const char *name);

/* Callbacks return 0 to go on, non-zero to stop (returned as is).
 * Pointers are valid only during the call. */
int ts_dataset_foreach_shard(struct ts_dataset *ds,
			     int (*fn)(const struct ts_dataset_shard *s, void *user),
			     void *user, struct ts_err *err);
/* Samples in record order; shard < 0 for all shards. */
int ts_dataset_foreach_sample(struct ts_dataset *ds, long shard,
			      int (*fn)(const struct ts_dataset_sample *s, void *user),
			      void *user, struct ts_err *err);
int ts_dataset_foreach_reject(struct ts_dataset *ds,
			      int (*fn)(const struct ts_dataset_reject *r, void *user),
			      void *user, struct ts_err *err);

/* Pull-style cursors, for merging several datasets in record order.
 * next returns 1 with *out valid until the next call, 0 at the end,
 * negative on error. */
struct ts_dataset_iter;
int ts_dataset_iter_samples(struct ts_dataset *ds, long shard, struct ts_dataset_iter **out,
		       struct ts_err *err);
int ts_dataset_iter_rejects(struct ts_dataset *ds, struct ts_dataset_iter **out, struct ts_err *err);
int ts_dataset_next_sample(struct ts_dataset_iter *it, const struct ts_dataset_sample **out, struct ts_err *err);
int ts_dataset_next_reject(struct ts_dataset_iter *it, const struct ts_dataset_reject **out, struct ts_err *err);
void ts_dataset_iter_free(struct ts_dataset_iter *it);   /* accepts NULL */

/* Read one member's bytes (by key and member extension, e.g. "txt", or NULL
 * for the image member) into a malloc'ed buffer. */
int ts_dataset_read_member(struct ts_dataset *ds, const char *key, const char *ext,
			   uint8_t **data, size_t *len, struct ts_err *err);

/* Read-only SQL on the catalog (docs/formats.md is its schema), for
 * aggregates: fn is called once per row (0 to go on, non-zero to stop and
 * return that value); params are bound as text to ?1..?n.  A statement
 * that would write is refused. */
struct ts_dataset_row;
int ts_dataset_query(struct ts_dataset *ds, const char *sql, const char *const *params, int nparams,
		     int (*fn)(const struct ts_dataset_row *r, void *user), void *user, struct ts_err *err);
int ts_dataset_row_columns(const struct ts_dataset_row *r);
const char *ts_dataset_row_text(const struct ts_dataset_row *r, int i);   /* NULL for NULL */
size_t ts_dataset_row_bytes(const struct ts_dataset_row *r, int i);
int64_t ts_dataset_row_int(const struct ts_dataset_row *r, int i);
double ts_dataset_row_real(const struct ts_dataset_row *r, int i);
int ts_dataset_row_is_null(const struct ts_dataset_row *r, int i);
/* 'n' NULL, 'i' integer, 'r' real, 't' text or blob */
int ts_dataset_row_type(const struct ts_dataset_row *r, int i);
/* 1 when the catalog has that column of table (column NULL: the table). */
int ts_dataset_has_column(struct ts_dataset *ds, const char *table, const char *column);
/* PRAGMA user_version of the catalog. */
int ts_dataset_version(const struct ts_dataset *ds);

/* Write the loaders' sidecars of OUTDIR/shards (shards/index.c):
 * sizes.json, shardindex.json, NNNNNN.idx, NNNNNN_stats.json.  Every
 * value comes from the catalog: no shard file is read, except the tar
 * shards whose MD5 the catalog lacks (written before it was recorded). */
int ts_dataset_write_index(const char *outdir, struct ts_err *err);
/* TS_INDEX_REHASH: read every tar shard to compute its MD5 instead
 * (`tessera shards index`). */
#define TS_INDEX_REHASH 1
int ts_dataset_write_index_flags(const char *outdir, int flags, struct ts_err *err);

/* Read len bytes at offset of a file into buf (pread, exact). */
int ts_read_at(const char *path, uint64_t offset, void *buf, size_t len, struct ts_err *err);

/* Shared (readers) or exclusive lock on OUTDIR/.tessera.lock without
 * waiting; returns an fd to close, -1 with err set when another process
 * holds a conflicting lock.  A directory that cannot be written (read-only
 * media) needs no lock: returns -2 without error. */
int ts_dataset_lock(const char *dir, int exclusive, struct ts_err *err);

#endif
