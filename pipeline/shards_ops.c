/*
 * shards_ops.c - `tessera shards verify`, `index` and `merge`.
 *
 * merge: partitions written by `ingest --part I/N` hold the records with
 * r % N == I, each in record order.  Merging them is a k-way merge by
 * record of their samples and rejects, fed to the same dataset writer
 * (dsw.c) that ingest uses, with the same shard limits; a tar shard's bytes
 * depend only on its member sequence, so the result is byte-identical to a
 * single run over the whole input, and so are the catalog rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../shards/dataset.h"
#include "../shards/shards.h"
#include "cmd.h"
#include "dsw.h"
#include "shards_ops.h"
#include "util.h"

/* ---- merge ------------------------------------------------------------------ */

struct part {
	const char *dir;
	struct ts_dataset *ds;
	struct ts_ds_iter *si, *ri;
	const struct ts_ds_sample *s;   /* current sample, NULL at end */
	const struct ts_ds_reject *r;   /* current reject, NULL at end */
	uint64_t end_record;            /* end of the input as this part saw it */
	unsigned index, count;
};

static int part_end_record(const struct ts_ds_shard *s, void *user)
{
	struct part *p = user;
	if (s->end_record > p->end_record)
		p->end_record = s->end_record;
	return 0;
}

/* The options JSON without the partition fields, to compare partitions. */
static char *options_without_part(const char *opts, unsigned *index, unsigned *count)
{
	json_error_t je;
	json_t *j = json_loads(opts, 0, &je);
	char *s;
	if (!j)
		return NULL;
	*index = (unsigned)json_integer_value(json_object_get(j, "part_index"));
	*count = (unsigned)json_integer_value(json_object_get(j, "part_count"));
	json_object_set_new(j, "part_index", json_integer(0));
	json_object_set_new(j, "part_count", json_integer(0));
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static int advance_sample(struct part *p, struct ts_err *e)
{
	int r = ts_ds_next_sample(p->si, &p->s, e);
	if (r <= 0)
		p->s = NULL;
	return r < 0 ? r : 0;
}

static int advance_reject(struct part *p, struct ts_err *e)
{
	int r = ts_ds_next_reject(p->ri, &p->r, e);
	if (r <= 0)
		p->r = NULL;
	return r < 0 ? r : 0;
}

static int merge_sample(struct part *p, struct ts_dsw *w, uint8_t **buf, size_t *cap,
			struct ts_err *e)
{
	const struct ts_ds_sample *s = p->s;
	struct ts_dsw_member m[TS_DSW_MAX_MEMBERS];
	size_t off[TS_DSW_MAX_MEMBERS], total = 0;
	char path[PATH_MAX + 64], shard_name[32];
	int rc;

	if (s->nmembers == 0 || s->nmembers > TS_DSW_MAX_MEMBERS)
		return ts_err_set(e, TS_ERR_INVALID, TS_R_NONE, "'%s': sample %s has %zu members",
				  p->dir, s->key, s->nmembers);
	for (size_t i = 0; i < s->nmembers; i++)
		total += s->members[i].size;
	if (*cap < total + 1) {
		uint8_t *nb = realloc(*buf, total + 1);
		if (!nb)
			return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		*buf = nb;
		*cap = total + 1;
	}
	ts_dataset_shard_path(p->ds, ts_shard_name(s->shard, shard_name, sizeof(shard_name)),
			      path, sizeof(path));
	total = 0;
	for (size_t i = 0; i < s->nmembers; i++) {
		const char *dot = strchr(s->members[i].name, '.');
		off[i] = total;
		if ((rc = ts_read_at(path, s->members[i].offset, *buf + total,
				     (size_t)s->members[i].size, e)))
			return rc;
		total += s->members[i].size;
		m[i].ext = dot ? dot + 1 : "";
	}
	for (size_t i = 0; i < s->nmembers; i++) {
		m[i].data = *buf + off[i];
		m[i].len = (size_t)s->members[i].size;
	}
	struct ts_dsw_sample ds = {
		.record = s->record, .members = m, .nmembers = s->nmembers,
		.width = s->width, .height = s->height,
		.orig_width = s->orig_width, .orig_height = s->orig_height,
		.format = s->format, .content_hash = s->content_hash,
		.image_hash = s->image_hash, .source = s->source,
		.caption = s->caption, .captions_json = s->captions_json,
	};
	return ts_dsw_sample(w, &ds, e);
}

int ts_shards_merge(const char **dirs, int n, const char *outdir, int json)
{
	struct part *parts = calloc((size_t)n, sizeof(*parts));
	struct ts_err e = TS_ERR_INIT;
	struct ts_catalog *cat = NULL;
	struct ts_dsw *w = NULL;
	char *opts0 = NULL, *raw0 = NULL, path[PATH_MAX + 64];
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t end = 0, nrej = 0, shard_samples = 10000, shard_bytes = 1ULL << 30;
	int rc = TS_EXIT_FAIL;
	int64_t run_id = 0;
	double t0 = ts_now();
	struct stat st;

	if (!parts) {
		ts_error("out of memory");
		return TS_EXIT_FAIL;
	}
	for (int i = 0; i < n; i++) {
		char *raw, *o;
		parts[i].dir = dirs[i];
		if (ts_dataset_open(&parts[i].ds, dirs[i], &e)) {
			ts_error("%s", e.msg);
			goto out;
		}
		raw = ts_dataset_meta(parts[i].ds, "ingest_options");
		o = raw ? options_without_part(raw, &parts[i].index, &parts[i].count) : NULL;
		if (!o) {
			ts_error("'%s' has no ingest options in its catalog", dirs[i]);
			free(raw);
			goto out;
		}
		if (i == 0) {
			opts0 = o;
			raw0 = raw;
		} else {
			int same = !strcmp(o, opts0);
			free(o);
			free(raw);
			if (!same) {
				ts_error("'%s' was made with other inputs or options than '%s'", dirs[i], dirs[0]);
				goto out;
			}
		}
		if (ts_dataset_foreach_shard(parts[i].ds, part_end_record, &parts[i], &e)) {
			ts_error("%s", e.msg);
			goto out;
		}
	}
	/* every partition 0..N-1 exactly once (a single unpartitioned dataset is fine too) */
	unsigned count = parts[0].count ? parts[0].count : 1;
	if ((unsigned)n != count) {
		ts_error("%d partition%s given, but they are %u-way partitions", n, n == 1 ? "" : "s", count);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < i; j++)
			if (parts[j].index == parts[i].index) {
				ts_error("'%s' and '%s' are both partition %u", dirs[j], dirs[i], parts[i].index);
				goto out;
			}
		if (parts[i].end_record > end)
			end = parts[i].end_record;
	}
	{
		json_t *j = json_loads(opts0, 0, NULL);
		if (j) {
			shard_samples = (uint64_t)json_integer_value(json_object_get(j, "shard_samples"));
			shard_bytes = (uint64_t)json_integer_value(json_object_get(j, "shard_bytes"));
			json_decref(j);
		}
	}

	snprintf(path, sizeof(path), "%s/catalog.sqlite", outdir);
	if (stat(path, &st) == 0) {
		ts_error("'%s' already holds a dataset; merge into a new OUTDIR", outdir);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/shards", outdir);
	if (ts_mkdirs(path, 0755)) {
		ts_error("cannot create '%s': %s", path, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/catalog.sqlite", outdir);
	if (ts_catalog_open(&cat, path, &e) ||
	    ts_catalog_meta_set(cat, "ingest_options", opts0, &e) ||
	    ts_catalog_run_begin(cat, "tessera shards merge", TS_VERSION, opts0, &run_id, &e)) {
		ts_error("%s", e.msg);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/shards", outdir);
	struct ts_dsw_opts dopts = { .shards_dir = path, .cat = cat,
		.shard_samples = shard_samples, .shard_bytes = shard_bytes };
	if (ts_dsw_new(&w, &dopts, &e))
		goto fail;
	for (int i = 0; i < n; i++) {
		if (ts_ds_iter_samples(parts[i].ds, -1, &parts[i].si, &e) ||
		    ts_ds_iter_rejects(parts[i].ds, &parts[i].ri, &e) ||
		    advance_sample(&parts[i], &e) || advance_reject(&parts[i], &e))
			goto fail;
	}
	for (;;) {
		/* the smallest record among every part's next sample and reject */
		struct part *best = NULL;
		int is_sample = 0;
		uint64_t rec = UINT64_MAX;
		for (int i = 0; i < n; i++) {
			if (parts[i].r && parts[i].r->record < rec) {
				rec = parts[i].r->record;
				best = &parts[i];
				is_sample = 0;
			}
			if (parts[i].s && parts[i].s->record < rec) {
				rec = parts[i].s->record;
				best = &parts[i];
				is_sample = 1;
			}
		}
		if (!best)
			break;
		if (is_sample) {
			if (merge_sample(best, w, &buf, &cap, &e) || advance_sample(best, &e))
				goto fail;
		} else {
			const struct ts_ds_reject *r = best->r;
			if (ts_dsw_reject(w, r->record, r->source, r->stage, r->reason, r->message, &e) ||
			    advance_reject(best, &e))
				goto fail;
			nrej++;
		}
	}
	if (ts_dsw_finish(w, end, &e))
		goto fail;
	struct ts_dsw_stats ds;
	ts_dsw_stats(w, &ds);
	double secs = ts_now() - t0;
	char summary[256];
	snprintf(summary, sizeof(summary),
		 "{\"samples\":%" PRIu64 ",\"rejects\":%" PRIu64 ",\"shards_written\":%" PRIu64 ",\"seconds\":%.3f}",
		 ds.samples, nrej, ds.shards, secs);
	ts_catalog_run_end(cat, run_id, "ok", summary, &e);
	if (ts_shards_index(outdir))
		goto out;
	if (json) {
		printf("{\"command\": \"shards merge\", \"outdir\": \"%s\", \"partitions\": %d, "
		       "\"samples\": %" PRIu64 ", \"rejects\": %" PRIu64 ", \"shards\": %" PRIu64
		       ", \"bytes\": %" PRIu64 ", \"seconds\": %.3f}\n",
		       outdir, n, ds.samples, nrej, ds.shards, ds.bytes, secs);
	} else if (ts_verbosity >= 1) {
		fprintf(stderr, "merge done: %d partitions, %" PRIu64 " samples, %" PRIu64
			" rejects, %" PRIu64 " shards (%.1f MB), %.1f s\n",
			n, ds.samples, nrej, ds.shards, (double)ds.bytes / 1e6, secs);
	}
	rc = TS_EXIT_OK;
	goto out;
fail:
	ts_error("%s", e.msg);
	if (cat)
		ts_catalog_run_end(cat, run_id, "failed", "{}", &e);
out:
	ts_dsw_free(w);
	for (int i = 0; i < n; i++) {
		ts_ds_iter_free(parts[i].si);
		ts_ds_iter_free(parts[i].ri);
		ts_dataset_close(parts[i].ds);
	}
	free(parts);
	ts_catalog_close(cat);
	free(opts0);
	free(raw0);
	free(buf);
	return rc;
}

/* ---- index and verify: filled in below --------------------------------------- */

int ts_shards_index(const char *outdir)
{
	(void)outdir;
	return TS_EXIT_OK;
}

int ts_shards_verify(struct ts_dataset *ds, int json)
{
	(void)ds;
	(void)json;
	ts_error("verify is not implemented yet");
	return TS_EXIT_FAIL;
}
