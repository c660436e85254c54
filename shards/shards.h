/*
 * shards.h - the storage layer: WebDataset tar shards, the SQLite catalog,
 * content hashes.
 *
 * Knows nothing of pixels or caption meaning: it stores named byte strings
 * and rows.  A shard writer is used by one thread at a time; the catalog is
 * written by one thread (the pipeline's writer thread).
 *
 * The on-disk contract (docs/formats.md):
 *   OUTDIR/catalog.sqlite
 *   OUTDIR/shards/000000.tar, 000001.tar, ...
 * A shard is written as OUTDIR/shards/.000000.tar.tmp, fsync'ed, then
 * renamed to its final name (and the directory fsync'ed), so a final name
 * always means a complete file.
 */
#ifndef TS_SHARDS_H
#define TS_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"

/* ---- content hashes ---------------------------------------------------- */

#define TS_HASH_HEX_LEN 32   /* XXH3-128, lower-case hex, no prefix */

/* out must hold TS_HASH_HEX_LEN + 1 bytes. */
void ts_hash_hex(const void *data, size_t len, char *out);

struct ts_hasher;                      /* streaming XXH3-128 */
struct ts_hasher *ts_hasher_new(void);
void ts_hasher_update(struct ts_hasher *h, const void *data, size_t len);
void ts_hasher_hex(struct ts_hasher *h, char *out);   /* does not reset */
void ts_hasher_free(struct ts_hasher *h);             /* accepts NULL */

/* Hash a whole file: XXH3-128 and/or MD5 (for the wids index) as hex; either
 * output may be NULL.  md5_hex must hold 33 bytes. */
int ts_file_hash_hex(const char *path, char *xxh3_hex, char *md5_hex, struct ts_err *err);

/* ---- tar shard writer --------------------------------------------------- */

/* 1 when name is a shard file name tessera writes: NNNNNN.tar or
 * NNNNNN.sqlite (names read from a catalog are checked before they become
 * paths). */
int ts_shard_name_ok(const char *name);

/* "000042.tar" into buf (>= 32 bytes); returns buf. */
/* "NNNNNN.ext": index zero-padded to digits (TS_SHARD_DIGITS by default;
 * DataComp's tools want 8), wider when the number needs it. */
#define TS_SHARD_DIGITS 6
char *ts_shard_name_fmt(unsigned index, int digits, const char *ext, char *buf, size_t bufsz);
char *ts_shard_name(unsigned index, char *buf, size_t bufsz);

struct ts_shard_writer;

/* Create shards_dir/.NNNNNN.tar.tmp (truncating a stale one).  Members are
 * written as POSIX ustar (pax only if a name needs it) with fixed metadata:
 * mtime 0, uid/gid 0, uname/gname empty... see docs/formats.md; mode 0444
 * for regular files.  Identical calls give identical bytes. */
int ts_shard_writer_open(struct ts_shard_writer **out, const char *shards_dir,
			 unsigned index, struct ts_err *err);

/* Append one member.  *data_offset (if not NULL) receives the byte offset
 * of the member's data (not its header) in the tar file. */
int ts_shard_writer_add(struct ts_shard_writer *w, const char *name,
			const void *data, size_t len, uint64_t *data_offset,
			struct ts_err *err);

/* The same, the bytes left in the writer's buffer (1 MiB) until it fills or
 * ts_shard_writer_flush()/finish writes them: a sample's members with one
 * write(2).  A failed write fails the call that made it. */
int ts_shard_writer_add_buffered(struct ts_shard_writer *w, const char *name,
				 const void *data, size_t len, uint64_t *data_offset,
				 struct ts_err *err);
int ts_shard_writer_flush(struct ts_shard_writer *w, struct ts_err *err);

/* Bytes written so far, headers and padding included. */
uint64_t ts_shard_writer_bytes(const struct ts_shard_writer *w);

/* Write the end-of-archive blocks, fsync, rename to the final name, fsync
 * the directory, free w.  total_bytes/hash_hex (XXH3-128 of the whole file)
 * may be NULL.  On failure the temporary file is removed and w is freed. */
int ts_shard_writer_finish(struct ts_shard_writer *w, uint64_t *total_bytes,
			   char *hash_hex, struct ts_err *err);
/* The same, and md5_hex (TS_MD5_HEX_LEN + 1 bytes, may be NULL) receives
 * the MD5 of the whole file, streamed while it was written; an SQLite
 * shard (which is not written front to back) gives "" there. */
#define TS_MD5_HEX_LEN 32
int ts_shard_writer_finish_md5(struct ts_shard_writer *w, uint64_t *total_bytes,
			       char *hash_hex, char *md5_hex, struct ts_err *err);

/* Remove the temporary file and free w.  Accepts NULL. */
void ts_shard_writer_abort(struct ts_shard_writer *w);

/* Stores: tar (WebDataset, default) or SQLite files with one BLOB per
 * member (--store sqlite; see sqlite_shard.c). */
enum ts_store { TS_STORE_TAR = 0, TS_STORE_SQLITE = 1 };
const char *ts_store_ext(enum ts_store store);   /* "tar", "sqlite" */
/* Like ts_shard_writer_open, for either store; for SQLite the "data
 * offset" add() reports is the member's rowid in the shard. */
int ts_shard_writer_open_store(struct ts_shard_writer **out, const char *shards_dir,
			       unsigned index, int digits, enum ts_store store, struct ts_err *err);

/* ---- tar shard reader (tests, verify, wds input) ------------------------ */

struct ts_tar_member {
	const char *name;
	const uint8_t *data;
	size_t size;
	uint64_t data_offset;   /* offset of the data in the tar file */
	int type;               /* 0 regular file, 1 directory, 2 symlink, 3 hardlink, 4 other */
};

/* Call fn for every member of the tar at path, in order.  fn returns 0 to
 * go on, non-zero to stop (that value is returned).  Members larger than
 * max_member bytes fail with TS_ERR_LIMIT. */
int ts_tar_foreach(const char *path, uint64_t max_member,
		   int (*fn)(const struct ts_tar_member *m, void *user),
		   void *user, struct ts_err *err);

/* Every member of a shard of either store (by the file's extension). */
int ts_shard_foreach(const char *path, int (*fn)(const struct ts_tar_member *m, void *user),
		     void *user, struct ts_err *err);
/* One member's bytes: by offset/size in a tar, by name in an SQLite shard. */
int ts_shard_read_member(const char *path, const char *name, uint64_t offset, uint64_t size,
			 uint8_t **data, size_t *len, struct ts_err *err);

/* Pull-style: open, then next() returns 1 with *m valid until the next
 * call, 0 at the end of the archive, negative on error. */
struct ts_tar_reader;
int ts_tar_open(struct ts_tar_reader **out, const char *path, uint64_t max_member,
		struct ts_err *err);
int ts_tar_next(struct ts_tar_reader *t, struct ts_tar_member *m, struct ts_err *err);
/* Failures of next() set err->reason: record.truncated_tar when the file
 * ends early, record.bad_tar for a damaged header (nothing more is read
 * after either), record.member_too_large (status TS_ERR_LIMIT) for a
 * member over max_member and record.bad_tar with TS_ERR_UNSUPPORTED for a
 * sparse member; after these two *m names the member (data NULL) and
 * next() may be called again: it goes on after the member.  The message
 * gives the byte offset of the header where the failure starts, which
 * ts_tar_position() returns too (the end of the last member read). */
uint64_t ts_tar_position(const struct ts_tar_reader *t);
void ts_tar_close(struct ts_tar_reader *t);   /* accepts NULL */

/* ---- catalog --------------------------------------------------------------
 *
 * Schema (docs/formats.md is the reference; version in PRAGMA user_version):
 *   meta(name TEXT PRIMARY KEY, value TEXT)          -- format version, options fingerprint
 *   runs(id INTEGER PRIMARY KEY, command TEXT, version TEXT, options TEXT,
 *        started TEXT, ended TEXT, status TEXT, summary TEXT)
 *   shards(idx INTEGER PRIMARY KEY, name TEXT UNIQUE, samples INTEGER,
 *          bytes INTEGER, hash TEXT, complete INTEGER,
 *          first_record INTEGER, end_record INTEGER, -- records [first, end)
 *          md5 TEXT)                                -- of the file, NULL when not known
 *   samples(key TEXT PRIMARY KEY, record INTEGER UNIQUE, shard INTEGER,
 *           width INTEGER, height INTEGER, orig_width INTEGER,
 *           orig_height INTEGER, format TEXT, content_hash TEXT,
 *           image_hash TEXT, source TEXT, caption TEXT, captions TEXT,
 *           tokens INTEGER, short_caption TEXT, short_tokens INTEGER,
 *           split_rule TEXT, split_fallback TEXT,   -- these five: version 2
 *           path TEXT, meta TEXT)                   -- these two: version 3
 *   members(key TEXT, shard INTEGER, name TEXT, offset INTEGER,
 *           size INTEGER, hash TEXT, PRIMARY KEY(key, name))
 *   rejects(record INTEGER, source TEXT, stage TEXT, reason TEXT,
 *           message TEXT, path TEXT, detail TEXT)  -- path, detail: version 3
 *   tags(key, shard, caption, idx, lemma, text, char_start, char_end,
 *        byte_start, byte_end, tok_start, tok_end, truncated, region)
 *   tag_scores(key, shard, tag, score, mask)         -- version 2
 *   compositions(key, shard, mode, sources, regions, epoch, seed,  -- version 2
 *                path,                                            -- version 5
 *                join_spans)                                      -- version 6
 */

struct ts_catalog;

/* Open or create OUTDIR/catalog.sqlite (WAL, synchronous=NORMAL, schema
 * created if missing, a newer schema version is an error). */
int ts_catalog_open(struct ts_catalog **out, const char *path,
		    struct ts_err *err);
void ts_catalog_close(struct ts_catalog *cat);   /* accepts NULL */
/* The same, saying whether the file now stands alone (journal back in
 * DELETE mode): TS_ERR_IO when its write-ahead log could not be folded
 * back, and the catalog must not be moved without its -wal. */
int ts_catalog_close_checked(struct ts_catalog *cat, struct ts_err *err);

/* meta table: value is a malloc'ed string or NULL when absent. */
int ts_catalog_meta_get(struct ts_catalog *cat, const char *name,
			char **value, struct ts_err *err);
int ts_catalog_meta_set(struct ts_catalog *cat, const char *name,
			const char *value, struct ts_err *err);

/* Insert a run row (started = now, status "running"); *run_id receives its id. */
int ts_catalog_run_begin(struct ts_catalog *cat, const char *command,
			 const char *version, const char *options_json,
			 int64_t *run_id, struct ts_err *err);
/* Set ended = now, status ("ok", "interrupted", "failed") and summary JSON. */
int ts_catalog_run_end(struct ts_catalog *cat, int64_t run_id,
		       const char *status, const char *summary_json,
		       struct ts_err *err);

/* Resume: find the complete shards that form a prefix 0..n-1 and drop every
 * row that is not covered by them (incomplete shards, samples of those
 * shards and their members, rejects with record >= the prefix's end).
 * *next_shard = n, *next_record = end_record of shard n-1 (0 when none). */
int ts_catalog_resume(struct ts_catalog *cat, unsigned *next_shard,
		      uint64_t *next_record, struct ts_err *err);
/* The same, calling dropped(name) for every shard row it drops (complete
 * or not) before the rows go, so the caller can remove those files and
 * only those; dropped returns non-zero when it cannot. */
int ts_catalog_resume_drop(struct ts_catalog *cat, unsigned *next_shard,
			   uint64_t *next_record,
			   int (*dropped)(const char *name, void *user), void *user,
			   struct ts_err *err);

/* Call fn(name) for every shard row with idx >= from_idx (all: -1). */
int ts_catalog_foreach_shard_name(struct ts_catalog *cat, long long from_idx,
				  int (*fn)(const char *name, void *user), void *user,
				  struct ts_err *err);

/* Create the indexes on samples(shard) and members(shard) if missing: a new
 * catalog is bulk-loaded without them, and every command that wrote one
 * calls this at the end (before the sidecars, which read by shard). */
int ts_catalog_create_indexes(struct ts_catalog *cat, struct ts_err *err);

/* Run SQL whose result does not matter (pragmas at close). */
void ts_catalog_exec(struct ts_catalog *cat, const char *sql);

/* Commit a row for shard idx with complete = 0 (and whatever rows are
 * pending in the stream transaction) before its file is created: the
 * catalog names every shard file before it exists. */
int ts_catalog_shard_intent(struct ts_catalog *cat, unsigned idx, const char *name,
			    struct ts_err *err);

struct ts_member_row {
	const char *name;       /* "000000042.jpg" */
	uint64_t offset, size;
	const char *hash;       /* XXH3-128 of the member's data (may be NULL) */
};

/* Caption columns of a sample filled by the text layer (NULL in SQL when
 * tokens/short_tokens are 0 or less, or a string is NULL; a real count is
 * at least 2, SOT and EOT): the primary
 * caption's CLIP token count with SOT/EOT (ingest, when a vocabulary is
 * found), and the short caption of `tessera captions split`. */
struct ts_text_cols {
	long long tokens;
	const char *short_caption;
	long long short_tokens;
	const char *split_rule;      /* "sentence", "longclip" */
	const char *split_fallback;  /* docs/captions.md */
};
#define TS_TEXT_COLS_NONE { -1, NULL, -1, NULL, NULL }

/* One candidate tag of one caption (`tessera tags`; docs/tags.md). */
struct ts_tag_row {
	long long caption, idx;            /* caption index in the sample, tag index in it */
	const char *lemma, *text;
	long long char_start, char_end, byte_start, byte_end, tok_start, tok_end;
	int truncated;
	long long region;                  /* 1-based region of the image it belongs to */
};

/* A model's score for one tag of a sample (`tessera tags import-scores`);
 * mask: the member holding its mask, or NULL. */
struct ts_score_row {
	const char *tag;
	double score;
	const char *mask;
};

/* Where a composite came from (`tessera compose`; docs/compose.md). */
struct ts_comp_row {
	const char *mode;           /* "halves", "cutmix", "mixup" */
	const char *sources_json;   /* ["KEY_A", "KEY_B"] */
	const char *regions_json;   /* per source its rectangle or weight */
	long long epoch, seed;
	const char *path;           /* "dct" or "pixels"; NULL before version 5 */
	const char *join_json;      /* [[a, b], ...]: each source's caption, the byte span
				     * of it in the merged caption; NULL before version 6 */
};

struct ts_sample_row {
	const char *key;
	uint64_t record;
	unsigned shard;
	int width, height, orig_width, orig_height;
	const char *format;        /* "jpeg", "png", "webp" */
	const char *content_hash;  /* hash of the stored image bytes */
	const char *image_hash;    /* hash of the source file bytes */
	const char *source;        /* source reference */
	const char *caption;       /* primary caption */
	const char *captions_json; /* JSON array of all captions */
	const char *path;          /* the image's resolved path or URL, or NULL */
	const char *meta_json;     /* JSON object of extra fields (source_meta, uid, fetch, ...) or NULL */
	const char *source_format; /* format of the source image ("jpeg", ...), or NULL */
	const char *fixes;         /* what decoding changed ("orientation,alpha"; "" nothing), or NULL */
	struct ts_text_cols text;
	const struct ts_tag_row *tags;      /* rows for the tags table */
	size_t ntags;
	const struct ts_score_row *scores;  /* rows for the tag_scores table */
	size_t nscores;
	const struct ts_comp_row *comp;     /* a row for compositions, or NULL */
	const struct ts_member_row *members;
	size_t nmembers;
};

struct ts_reject_row {
	uint64_t record;
	const char *source;
	const char *stage;         /* "read", "decode", "caption", ... */
	const char *reason;        /* ts_reason_name() */
	const char *message;
	const char *path;          /* the image path or URL it concerns, or NULL */
	const char *detail_json;   /* JSON object (HTTP status, byte offset, ...) or NULL */
};

struct ts_shard_row {
	unsigned idx;
	const char *name;
	uint64_t samples, bytes;
	const char *hash;
	uint64_t first_record, end_record;
	const char *md5;           /* MD5 of the file as hex, or NULL/"" (stored as NULL) */
};

/* One transaction: the shard row (complete = 1), its samples and members,
 * and the rejects whose records fall in [first_record, end_record). */
int ts_catalog_commit_shard(struct ts_catalog *cat,
			    const struct ts_shard_row *shard,
			    const struct ts_sample_row *samples, size_t nsamples,
			    const struct ts_reject_row *rejects, size_t nrejects,
			    struct ts_err *err);

/* Streaming form (what the pipeline's dataset writer uses): rows go into
 * an open transaction as they come; stream_commit adds the shard row
 * (complete = 1; NULL for rejects only) and commits; stream_rollback drops
 * everything since the last commit. */
int ts_catalog_stream_sample(struct ts_catalog *cat, const struct ts_sample_row *s,
			     struct ts_err *err);
/* n samples, as n ts_catalog_stream_sample calls give them (the same rows
 * in each table, in the same order), with fewer statements. */
int ts_catalog_stream_samples(struct ts_catalog *cat, const struct ts_sample_row *s, size_t n,
			      struct ts_err *err);
int ts_catalog_stream_reject(struct ts_catalog *cat, const struct ts_reject_row *r,
			     struct ts_err *err);
int ts_catalog_stream_commit(struct ts_catalog *cat, const struct ts_shard_row *shard,
			     struct ts_err *err);
void ts_catalog_stream_rollback(struct ts_catalog *cat);   /* accepts NULL */
/* Write-ahead log checkpoints.  By default SQLite's: a commit that leaves
 * 1000 pages or more in the log copies them into the database file (on the
 * committing thread).  Deferred (defer = 1), a commit only notes the log's
 * size and ts_catalog_checkpoint() does what that commit would have done
 * (a passive checkpoint, when the log had reached 1000 pages), on the
 * thread and at the moment the caller chooses; defer = 0 goes back to the
 * default.  The connection still needs one thread at a time. */
void ts_catalog_defer_checkpoints(struct ts_catalog *cat, int defer);
int ts_catalog_checkpoint(struct ts_catalog *cat, struct ts_err *err);
/* Delete the rejects of record inside the open transaction (tessera fetch
 * --retry-failed: a record fetched again replaces its earlier reject). */
int ts_catalog_stream_forget_rejects(struct ts_catalog *cat, uint64_t record,
				     struct ts_err *err);

/* Rejects that follow the last shard (end of run), one transaction. */
int ts_catalog_add_rejects(struct ts_catalog *cat,
			   const struct ts_reject_row *rejects, size_t n,
			   struct ts_err *err);

#endif
