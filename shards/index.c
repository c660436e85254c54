/*
 * index.c - the sidecars that loaders read next to the shards: sizes.json
 * (webdataset), shardindex.json (wids), NNNNNN.idx (DALI) and
 * NNNNNN_stats.json (img2dataset's keys); formats in docs/formats.md.
 * Each file is written to NAME.tmp and renamed, so a reader never sees a
 * half-written one.  Nothing here prints.  Every value comes from the
 * catalog, the MD5 of shardindex.json too (the shard writer streams it
 * while writing), so the end of a run reads no shard; only `shards index`
 * (TS_INDEX_REHASH) and catalogs older than the md5 column read the files.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/ts_io.h"
#include "shards/dataset.h"
#include "shards/shards.h"

/* ---- index: the sidecars loaders read ------------------------------------------ */

struct idx_state {
	struct ts_dataset *ds;
	json_t *sizes, *shardlist;
	struct ts_dataset_iter *ri;              /* rejects, in record order */
	const struct ts_dataset_reject *r;
	struct ts_err *e;
	int rehash;
};

static int write_text(const char *path, const char *text, struct ts_err *e)
{
	char tmp[PATH_MAX + 16];
	size_t len = strlen(text), off = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = ts_io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot write '%s': %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t n = ts_io_write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int er = errno;
			close(fd);
			unlink(tmp);
			return ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot write '%s': %s", tmp, strerror(er));
		}
		off += (size_t)n;
	}
	if (close(fd) || ts_io_rename(tmp, path)) {
		int er = errno;
		unlink(tmp);
		return ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot write '%s': %s", path, strerror(er));
	}
	return TS_OK;
}

static int write_json(const char *path, json_t *j, struct ts_err *e)
{
	char *s = json_dumps(j, JSON_INDENT(1));
	int rc;
	if (!s)
		return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (!t) {
		free(s);
		return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	rc = write_text(path, t, e);
	free(t);
	return rc;
}

/* DALI's index: "v1.2 N", then per sample "ext offset size name" per
 * member.  The shard's members in offset order (tar order: a sample's
 * members lie together, samples in record order), one query per shard
 * rather than one per sample. */
struct dali {
	FILE *f;
	char key[64];
	int any;
};

static int dali_member(const struct ts_dataset_row *r, void *user)
{
	struct dali *d = user;
	const char *key = ts_dataset_row_text(r, 0), *name = ts_dataset_row_text(r, 1);
	if (!key || !name)
		return 0;
	const char *dot = strchr(name, '.');
	int same = d->any && !strcmp(d->key, key);
	if (d->any && !same)
		fputc('\n', d->f);
	fprintf(d->f, "%s%s %" PRId64 " %" PRId64 " %s", same ? " " : "", dot ? dot + 1 : "",
		ts_dataset_row_int(r, 2), ts_dataset_row_int(r, 3), name);
	snprintf(d->key, sizeof(d->key), "%s", key);
	d->any = 1;
	return 0;
}

static int index_shard(const struct ts_dataset_shard *sh, void *user)
{
	struct idx_state *st = user;
	char path[PATH_MAX + 64], md5[33], base[32], *text = NULL;
	size_t tlen = 0;
	FILE *f;
	int rc;

	snprintf(base, sizeof(base), "%.*s", (int)strcspn(sh->name, "."), sh->name);
	json_object_set_new(st->sizes, sh->name, json_integer((json_int_t)sh->samples));
	if (strcmp(sh->name + strlen(sh->name) - 4, ".tar"))
		goto stats;     /* wids and DALI read tars only */
	if (!st->rehash && sh->md5 && strlen(sh->md5) == 32) {
		memcpy(md5, sh->md5, 33);
	} else {
		ts_dataset_shard_path(st->ds, sh->name, path, sizeof(path));
		if ((rc = ts_file_hash_hex(path, NULL, md5, st->e)))
			return rc;
	}
	json_array_append_new(st->shardlist, json_pack("{s:s, s:I, s:I, s:s}",
		"url", sh->name, "nsamples", (json_int_t)sh->samples,
		"filesize", (json_int_t)sh->bytes, "md5sum", md5));

	/* NNNNNN.idx */
	f = open_memstream(&text, &tlen);
	if (!f)
		return ts_err_set(st->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	fprintf(f, "v1.2 %" PRIu64 "\n", sh->samples);
	{
		char idx[32];
		const char *params[1] = { idx };
		struct dali d = { .f = f };
		snprintf(idx, sizeof(idx), "%u", sh->idx);
		rc = ts_dataset_query(st->ds, "select key, name, offset, size from members"
				      " where shard = cast(?1 as integer) order by offset",
				      params, 1, dali_member, &d, st->e);
		if (d.any)
			fputc('\n', f);
	}
	fclose(f);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/shards/%s.idx", ts_dataset_dir(st->ds), base);
		rc = write_text(path, text, st->e);
	}
	free(text);
	if (rc)
		return rc;

stats:;
	/* NNNNNN_stats.json, with img2dataset's keys */
	json_t *status = json_object();
	uint64_t failed_read = 0, failed_other = 0;
	while (st->r && st->r->record < sh->end_record) {
		if (st->r->record >= sh->first_record) {
			json_t *c = json_object_get(status, st->r->reason);
			json_object_set_new(status, st->r->reason,
					    json_integer(c ? json_integer_value(c) + 1 : 1));
			if (!strcmp(st->r->stage, "read"))
				failed_read++;
			else
				failed_other++;
		}
		if (ts_dataset_next_reject(st->ri, &st->r, st->e) <= 0)
			st->r = NULL;
	}
	if (sh->samples)
		json_object_set_new(status, "success", json_integer((json_int_t)sh->samples));
	json_t *stats = json_pack("{s:I, s:I, s:I, s:I, s:f, s:i, s:i, s:o, s:I, s:I}",
		"count", (json_int_t)(sh->end_record - sh->first_record),
		"successes", (json_int_t)sh->samples,
		"failed_to_download", (json_int_t)failed_read,
		"failed_to_resize", (json_int_t)failed_other,
		"duration", 0.0, "start_time", 0, "end_time", 0,
		"status_dict", status,
		"first_record", (json_int_t)sh->first_record,
		"end_record", (json_int_t)sh->end_record);
	snprintf(path, sizeof(path), "%s/shards/%s_stats.json", ts_dataset_dir(st->ds), base);
	rc = stats ? write_json(path, stats, st->e) :
		     ts_err_set(st->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	json_decref(stats);
	return rc;
}

int ts_dataset_write_index(const char *outdir, struct ts_err *err)
{
	return ts_dataset_write_index_flags(outdir, 0, err);
}

int ts_dataset_write_index_flags(const char *outdir, int flags, struct ts_err *err)
{
	struct ts_err e = TS_ERR_INIT;
	struct idx_state st = { .e = &e, .rehash = (flags & TS_INDEX_REHASH) != 0 };
	char path[PATH_MAX + 64];
	int rc = TS_ERR_IO;

	if ((rc = ts_dataset_open_flags(&st.ds, outdir, TS_DS_NOLOCK, &e)))
		goto out;
	rc = TS_ERR_IO;
	st.sizes = json_object();
	st.shardlist = json_array();
	if (!st.sizes || !st.shardlist) {
		rc = ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto out;
	}
	if (ts_dataset_iter_rejects(st.ds, &st.ri, &e))
		goto out;
	if (ts_dataset_next_reject(st.ri, &st.r, &e) <= 0)
		st.r = NULL;
	if (ts_dataset_foreach_shard(st.ds, index_shard, &st, &e))
		goto out;
	snprintf(path, sizeof(path), "%s/shards/sizes.json", outdir);
	if (write_json(path, st.sizes, &e))
		goto out;
	json_t *wids = json_pack("{s:s, s:i, s:O}", "__kind__", "wids-shard-index-v1",
				 "wids_version", 1, "shardlist", st.shardlist);
	snprintf(path, sizeof(path), "%s/shards/shardindex.json", outdir);
	int wrc = wids ? write_json(path, wids, &e) : -1;
	json_decref(wids);
	if (wrc)
		goto out;
	rc = TS_OK;
out:
	if (rc) {
		if (!e.msg[0])
			ts_err_set(&e, TS_ERR_IO, TS_R_NONE, "cannot write the shard index of '%s'", outdir);
		*err = e;
		rc = e.status ? e.status : TS_ERR_IO;
	}
	json_decref(st.sizes);
	json_decref(st.shardlist);
	ts_dataset_iter_free(st.ri);
	ts_dataset_close(st.ds);
	return rc;
}
