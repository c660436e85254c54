/*
 * shards_ops.h - the work behind `tessera shards verify|index|merge`.
 * Each returns a process exit code and prints its own messages.
 */
#ifndef TS_SHARDS_OPS_H
#define TS_SHARDS_OPS_H

struct ts_dataset;

int ts_shards_verify(struct ts_dataset *ds, int json);
/* The sidecars from the catalog; rehash: read each tar shard for its MD5
 * (`tessera shards index`) instead of taking the one the writer recorded. */
int ts_shards_index(const char *outdir, int rehash);
int ts_shards_merge(const char **parts, int nparts, const char *outdir, int json);

#endif
