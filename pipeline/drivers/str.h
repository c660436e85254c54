/*
 * str.h - the scene-text drivers behind `tessera str ingest|stats`:
 * gt lists, LMDB environments and trees of them in; LMDB or the tessera
 * dataset contract out; the CLIP4STR label filter in between.
 * cmd_str.c only fills struct ts_str_opts.
 */
#ifndef TS_STR_H
#define TS_STR_H

#include <stdint.h>

struct ts_charset;

enum ts_str_store { TS_STR_STORE_LMDB = 0, TS_STR_STORE_WDS = 1 };
enum ts_str_filter { TS_STR_FILTER_AUTO = -1, TS_STR_FILTER_NONE = 0, TS_STR_FILTER_CLIP4STR = 1 };

struct ts_str_opts {
	const char *input;           /* gt list, LMDB environment, or a tree of them */
	const char *outdir;          /* ingest only */
	const char *image_root;      /* gt list: NULL = the list's directory */
	int store;                   /* enum ts_str_store */
	int stretch;                 /* --resize stretch */
	int size;                    /* --size (default 224) */
	int filter;                  /* enum ts_str_filter */
	const struct ts_charset *cs;
	long max_label_len;          /* default 25 */
	int min_image_dim;           /* 0: off */
	uint64_t max_file_bytes;     /* per image file (gt lists) */
	uint64_t max_pixels;
	uint64_t shard_samples, shard_bytes;   /* --store wds */
	int overwrite;
	int json;
	int threads;                 /* ingest: worker threads (-j, resolved: >= 1) */
	const char *command_line;
};

struct ts_str_result {
	int failed;                  /* a dataset (or the input) failed; its message is printed */
	int interrupted;             /* stopped by a signal */
};

/* Each INPUT's datasets in turn; a dataset that fails is reported (on
 * stderr, as the run goes) and the others still run.  TS_OK, or a negative
 * status when one failed (res says more). */
int ts_str_ingest(const struct ts_str_opts *o, struct ts_str_result *res);
int ts_str_stats(const struct ts_str_opts *o, struct ts_str_result *res);

#endif
