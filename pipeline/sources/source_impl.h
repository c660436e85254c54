/*
 * source_impl.h - private to the readers (pipeline/source*.c): the source
 * handle every reader shares, the per-format operations, and the helpers
 * that build records.  Nothing outside pipeline/source*.c includes this.
 *
 * Contract for a reader's next(): rec arrives zeroed with rec->index set;
 * return 1 with a record (accepted or rejected), 0 at the end, or a negative
 * status with err set on a fatal error (the dispatcher then releases rec).
 * Index bookkeeping lives in source.c, so a reader never counts indexes
 * (a reader whose input numbers its records sets own_index at open and
 * copies that number into rec->index).
 */
#ifndef TS_SOURCE_IMPL_H
#define TS_SOURCE_IMPL_H

#include <stdint.h>

#include "pipeline/sources/source.h"

struct ts_source_ops;

struct ts_source {
	enum ts_input_format format;
	const struct ts_source_ops *ops;
	char *input;              /* INPUT as given */
	char *root;               /* image root as given or derived */
	char *real_root;          /* realpath(root), for ts_src_resolve() */
	char *dir_cache, *dir_real;   /* ts_src_resolve(): the last directory and its realpath */
	char *image_col;          /* NULL: the format's defaults */
	char *caption_col;
	char *id_col;             /* --id-col: see ts_source_opts */
	char **keep_cols;
	size_t nkeep_cols;
	uint64_t max_bytes;       /* cap for one row / line / element */
	struct ts_source_opts opts;   /* as given to open (strings borrowed: the
				       * caller keeps them until close) */
	uint64_t next_index;
	const char *damage;       /* set by next() at the end: see ts_source_damage()
				   * (the reader's memory, valid until close) */
	int own_index;            /* set by open: next() sets rec->index to the
				   * record number the input carries (LMDB keys, a
				   * dataset's records; rising, maybe with gaps) */
	int64_t count;            /* -1 unknown */
	int counted;              /* ts_source_count tried the cheap count */
	void *priv;               /* the reader's state, freed by ops->close */
	struct ts_groups *groups; /* --group-by state (source.c), or NULL */
	int urls;                 /* image fields are URLs: never resolved (tessera fetch) */
	char *hash_col, *hash_type, *json_path;
};

struct ts_source_ops {
	/* root/real_root are already set unless the reader says it sets them */
	int (*open)(struct ts_source *src, struct ts_err *err);
	int (*next)(struct ts_source *src, struct ts_record *rec, struct ts_err *err);
	void (*close)(struct ts_source *src);
};

extern const struct ts_source_ops ts_source_folder_ops;
extern const struct ts_source_ops ts_source_urban1k_ops;
extern const struct ts_source_ops ts_source_csv_ops;
extern const struct ts_source_ops ts_source_jsonl_ops;
extern const struct ts_source_ops ts_source_coco_ops;
extern const struct ts_source_ops ts_source_sharegpt4v_ops;
extern const struct ts_source_ops ts_source_wds_ops;
extern const struct ts_source_ops ts_source_parquet_ops;
extern const struct ts_source_ops ts_source_json_ops;
extern const struct ts_source_ops ts_source_gtlist_ops;
extern const struct ts_source_ops ts_source_lmdb_ops;
extern const struct ts_source_ops ts_source_tessera_ops;

/* Mark rec rejected with a malloc'ed message.  Returns 1 (a record was
 * produced) so readers can `return ts_src_reject(...)`, or TS_ERR_NOMEM. */
int ts_src_reject(struct ts_record *rec, enum ts_reason reason,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reject with the reason and message of err. */
int ts_src_reject_err(struct ts_record *rec, const struct ts_err *e);
/* Append a copy of caption bytes s[0..len) (a NUL is added after them). */
int ts_src_add_caption(struct ts_record *rec, const char *s, size_t len);
/* Set rec->image_ref to a copy of rel and resolve it under the source's
 * image root into rec->image_path; a bad path rejects rec (returns 1
 * either way, TS_ERR_NOMEM on allocation failure). */
int ts_src_set_image(struct ts_source *src, struct ts_record *rec, const char *rel);
/* The default image field names: paths, or URLs when src->urls. */
const char *const *ts_src_image_defaults(const struct ts_source *src);
/* Put uid (--id-col) and the expected hash (--hash-col, under its
 * hash_type) into rec->meta_json, merged with what is there; NULL values
 * are left out.  1 or TS_ERR_NOMEM. */
int ts_src_set_ids(struct ts_source *src, struct ts_record *rec, const char *uid,
		   size_t uid_len, const char *hash, size_t hash_len);
/* The same from JSON values (an id string or integer, a hash string; NULL
 * or another type: left out). */
struct json_t;
int ts_src_set_ids_json(struct ts_source *src, struct ts_record *rec, const struct json_t *id,
			const struct json_t *hash);
/* ts_resolve_under() under the source's image root (already passed
 * through realpath()) with its --confine setting. */
int ts_src_resolve(const struct ts_source *src, const char *rel, char **out,
		   struct ts_err *err);
struct json_t;
/* Set rec->meta_json to the JSON object obj (compact text); steals obj.
 * 0 or TS_ERR_NOMEM. */
int ts_src_set_meta(struct ts_record *rec, struct json_t *obj);


/* A cheap record count of a list, JSON array or tar file (one pass, no
 * parsing; source_count.c), or -1.  For progress totals only. */
int64_t ts_src_count_cheap(const struct ts_source *src);

/* "an array", "a string", ... for messages about a JSON value */
const char *ts_src_json_type(const struct json_t *v);

/* malloc'ed helpers; NULL when out of memory */
char *ts_src_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *ts_src_join(const char *dir, const char *name);
char *ts_src_dirname(const char *path);
/* 1 when name ends in an image extension (jpg jpeg jpe jfif png webp, any case). */
int ts_src_is_image_name(const char *name);
/* The extension of the last path component without the dot, or NULL. */
const char *ts_src_ext(const char *path);

#endif
