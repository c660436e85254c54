/*
 * shards_ops.h - the work behind `tessera shards verify|index|merge`.
 * Each returns a status (TS_OK or a negative enum ts_status) with the
 * failure in err; cmd_shards.c prints it and picks the exit code.  verify
 * prints its report (the problems as found, then the totals) on stdout:
 * that report is its output.
 */
#ifndef TS_SHARDS_OPS_H
#define TS_SHARDS_OPS_H

#include <stdint.h>

#include "base/ts_error.h"

struct ts_dataset;

int ts_shards_verify(struct ts_dataset *ds, int json, uint64_t *problems, struct ts_err *err);
/* The sidecars from the catalog; rehash: read each tar shard for its MD5
 * (`tessera shards index`) instead of taking the one the writer recorded. */
int ts_shards_index(const char *outdir, int rehash, struct ts_err *err);

struct ts_merge_result {
	int partitions;
	uint64_t samples, rejects, shards, bytes;
	double seconds;
	int interrupted;             /* stopped by a signal; run again to resume */
};
/* Merge the partitions dirs[0..n) (each of an N-way --part run, all with
 * the same options) into outdir, in record order; resumable. */
int ts_shards_merge(const char **dirs, int n, const char *outdir, struct ts_merge_result *res,
		    struct ts_err *err);

#endif
