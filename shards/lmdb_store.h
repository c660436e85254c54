/*
 * lmdb_store.h - LMDB environments as scene-text datasets use them
 * (liblmdb): a folder holding data.mdb (and lock.mdb), keys `image-%09d`
 * and `label-%09d` counted from 1, `num-samples` as decimal ASCII.
 *
 * Knows nothing of pixels or labels: it stores and returns byte strings.
 * One thread per handle.
 */
#ifndef TS_LMDB_STORE_H
#define TS_LMDB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../base/ts_error.h"

struct ts_lmdb;

/* 1 when dir holds a data.mdb file, else 0. */
int ts_lmdb_is_env(const char *dir);

/* Open an existing environment read-only (no lock file is written, as
 * the training loaders do: readonly, lock=False).  A data.mdb that is not
 * an LMDB file, has an unknown version or is shorter than its meta page
 * says fails with a message naming the file.  The handle keeps one read
 * transaction open: values returned by ts_lmdb_get stay valid until
 * ts_lmdb_close. */
int ts_lmdb_open(struct ts_lmdb **out, const char *dir, struct ts_err *err);

/* Look key up: 1 found (*val and *len point into the map), 0 absent, negative
 * on an error (a damaged page: "'DIR/data.mdb' is corrupt: ..."). */
int ts_lmdb_get(struct ts_lmdb *db, const char *key, const void **val, size_t *len,
		struct ts_err *err);

/* The `num-samples` value, parsed strictly (decimal digits only). */
int ts_lmdb_num_samples(struct ts_lmdb *db, uint64_t *n, struct ts_err *err);

/* Walk every key in key order (for tests and inspection).  fn returns
 * 0 to go on, non-zero to stop (returned as is). */
int ts_lmdb_foreach(struct ts_lmdb *db,
		    int (*fn)(const void *key, size_t klen, const void *val, size_t vlen, void *user),
		    void *user, struct ts_err *err);

/* Create dir (mkdir -p) and a new environment in it.  Refuses a dir that
 * already holds data.mdb (TS_ERR_EXISTS) unless overwrite is set, in which
 * case data.mdb and lock.mdb are removed first.  map_size 0 means 1 TiB
 * (the address space is reserved, the file grows as data arrives). */
int ts_lmdb_create(struct ts_lmdb **out, const char *dir, uint64_t map_size, int overwrite,
		   struct ts_err *err);

/* Put key -> val inside the open write transaction (started as needed). */
int ts_lmdb_put(struct ts_lmdb *db, const char *key, const void *val, size_t len,
		struct ts_err *err);

/* Commit the open write transaction (no-op when none). */
int ts_lmdb_commit(struct ts_lmdb *db, struct ts_err *err);

/* "image-000000001" into buf (>= 32 bytes); kind is "image" or "label". */
char *ts_lmdb_key(const char *kind, uint64_t index, char *buf, size_t n);

/* Abort an uncommitted write transaction, close the environment, free db.
 * Accepts NULL. */
void ts_lmdb_close(struct ts_lmdb *db);

#endif
