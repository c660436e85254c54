/*
 * lmdb_store.h - LMDB environments as scene-text datasets use them
 * (liblmdb): a folder holding data.mdb (and lock.mdb), keys `image-%09d`
 * and `label-%09d` counted from 1, `num-samples` as decimal ASCII.
 *
 * Knows nothing of pixels or labels: it stores and returns byte strings.
 * One thread per handle.
 *
 * liblmdb trusts its file; tessera does not.  An environment from outside
 * is read with ts_lmdb_reader (meta pages checked against the file, the
 * tree walked in a child process, a watchdog for hangs).  ts_lmdb_open
 * checks the meta pages too but maps the file in this process: use it for
 * environments tessera wrote itself.
 */
#ifndef TS_LMDB_STORE_H
#define TS_LMDB_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/ts_error.h"

struct ts_lmdb;

/* 1 when dir holds a data.mdb file, else 0. */
int ts_lmdb_is_env(const char *dir);

/* What ts_lmdb_check found in the newer meta page. */
struct ts_lmdb_info {
	uint64_t file_size, last_page, entries, map_size;
	uint32_t page_size;
};

/* Check DIR/data.mdb's two meta pages against the file (read with pread,
 * nothing mapped): magic, version, page size, map size, last page, each
 * tree's root, depth and counts, the main tree's root page header; the
 * main tree must have no flags (plain keys, one value each).  0, or an
 * error naming the file and the field ("'DIR/data.mdb' is corrupt or not
 * an LMDB file: page size 3", "'DIR/data.mdb' is truncated: ..."). */
int ts_lmdb_check(const char *dir, struct ts_lmdb_info *info, struct ts_err *err);

/* ---- reading an environment from outside ---------------------------------
 *
 * Records 1..bound, where bound is num-samples cut to the highest
 * `label-N`/`image-N` index the file holds (a note says so when it cuts).
 * The tree is walked by a child process that streams the records back:
 * when it dies (SIGBUS, SIGSEGV, SIGFPE, an assertion), the record it was
 * reading comes back damaged with what happened, and a new child goes on
 * from the next record (at most max_restarts times); when no byte arrives
 * for stall_ms the child is killed, the record comes back damaged and the
 * reading stops.  ts_lmdb_reader_damage then says where it stopped and
 * what was delivered. */
struct ts_lmdb_read_opts {
	int in_process;          /* 1: no child (for fuzzing and tests); a damaged tree can crash */
	unsigned stall_ms;       /* 0: 30000 */
	uint64_t max_value;      /* 0: 256 MiB; a longer value comes back too_large */
	unsigned max_restarts;   /* 0: 8 */
};

struct ts_lmdb_rec {
	uint64_t index;          /* 1-based record number */
	const void *label, *image;   /* valid until the next call; NUL after the bytes */
	size_t label_len, image_len;
	int has_label, has_image;    /* the key exists */
	int too_large;           /* a value over max_value: lengths only, no bytes */
	int damaged;             /* could not be read: msg says why */
	char msg[TS_ERR_MSG_MAX];
};

struct ts_lmdb_reader;

/* Open DIR for reading.  Fails with a message naming the file when the
 * meta pages are wrong, num-samples is missing or not a number, or the
 * reader cannot open the tree. */
int ts_lmdb_reader_open(struct ts_lmdb_reader **out, const char *dir,
			const struct ts_lmdb_read_opts *o, struct ts_err *err);
/* num-samples as written, and the number of records that will be read. */
void ts_lmdb_reader_counts(const struct ts_lmdb_reader *r, uint64_t *declared, uint64_t *bound);
/* "num-samples says N but the last record in the file is M: reading M", or NULL. */
const char *ts_lmdb_reader_note(const struct ts_lmdb_reader *r);
/* 1 with a record (perhaps damaged or too large), 0 at the end, negative
 * on an error of ours (no memory). */
int ts_lmdb_reader_next(struct ts_lmdb_reader *r, struct ts_lmdb_rec *rec, struct ts_err *err);
/* After the end: NULL when every record was read, else why the reading
 * stopped early and which records were not read. */
const char *ts_lmdb_reader_damage(const struct ts_lmdb_reader *r);
/* The child's process id (0 when none): for tests of the watchdog. */
pid_t ts_lmdb_reader_pid(const struct ts_lmdb_reader *r);
/* Stop the child and free r.  Accepts NULL. */
void ts_lmdb_reader_close(struct ts_lmdb_reader *r);

/* ---- environments tessera wrote ------------------------------------------ */

/* Open an existing environment read-only (no lock file is written, as
 * the training loaders do: readonly, lock=False), after ts_lmdb_check.
 * The tree is walked in this process: a damaged page can still crash it,
 * so read environments from outside with ts_lmdb_reader.  The handle
 * keeps one read transaction open: values returned by ts_lmdb_get stay
 * valid until ts_lmdb_close. */
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
 * (the address space is reserved, the file grows as data arrives), halved
 * down to 1 GiB where the address space cannot hold it. */
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
