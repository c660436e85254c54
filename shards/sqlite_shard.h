/*
 * sqlite_shard.h - private to shards/: the SQLite shard store behind
 * ts_shard_writer (see sqlite_shard.c).  Readers use the public functions
 * ts_shard_read_member / ts_shard_foreach in shards.h.
 */
#ifndef TS_SQLITE_SHARD_H
#define TS_SQLITE_SHARD_H

#include "shards/shards.h"

struct ts_sqlshard;
int ts_sqlshard_open(struct ts_sqlshard **out, const char *dir, unsigned index, int digits,
		     struct ts_err *err);
int ts_sqlshard_add(struct ts_sqlshard *s, const char *name, const void *data, size_t len,
		    uint64_t *rowid, struct ts_err *err);
uint64_t ts_sqlshard_bytes(const struct ts_sqlshard *s);
int ts_sqlshard_finish(struct ts_sqlshard *s, uint64_t *total_bytes, char *hash_hex,
		       struct ts_err *err);
void ts_sqlshard_abort(struct ts_sqlshard *s);
int ts_sqlshard_foreach(const char *path, int (*fn)(const struct ts_tar_member *m, void *user),
			void *user, struct ts_err *err);
int ts_sqlshard_read(const char *path, const char *name, uint8_t **data, size_t *len,
		     struct ts_err *err);

#endif
