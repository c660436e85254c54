/*
 * str.c - `tessera str ingest` and `tessera str stats`: scene-text word
 * crops for CLIP4STR (docs/str.md).
 *
 * An INPUT is a gt list (`relpath<whitespace>label` per line, split once),
 * an LMDB environment (a folder with data.mdb), a tessera dataset, or a
 * tree searched for those; every one found is its own dataset and keeps its
 * relative path as its name, in the output too.  The records come from the
 * sources of pipeline/sources/ (gtlist, lmdb, tessera).  This file wires
 * the three layers: labels go through captions/strlabel, pixels through
 * compose/, bytes into shards/lmdb_store or, with --store wds, through the
 * shard writer into the same contract `tessera ingest` writes.
 *
 * What must always hold:
 * - one bad sample (unreadable, undecodable, label dropped by the filter)
 *   becomes a reject with its source and reason, and the run goes on;
 * - LMDB output follows the convention exactly: `image-%09d`/`label-%09d`
 *   from 1 over the kept samples, `num-samples` in decimal ASCII, image
 *   values byte-identical to the input unless --resize was asked;
 * - a damaged data.mdb is a clear error for its dataset, never a crash.
 * - the output does not depend on -j: ingest reads and writes on the
 *   calling thread, strictly in record order; workers of the shared ordered
 *   pool (pool.c) only check labels and decode/resize, into the job's own
 *   buffers.  str stats runs on one thread.
 * Why not ts_ingest_run: docs/design.md, "The path of a word crop".
 */
#define _GNU_SOURCE
#include "base/buf.h"
#include "pipeline/drivers/str.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "captions/caption.h"
#include "captions/strlabel.h"
#include "compose/compose.h"
#include "shards/dataset.h"
#include "shards/lmdb_store.h"
#include "shards/shards.h"
#include "shards/out.h"
#include "shards/writer.h"
#include "pipeline/pool.h"
#include "pipeline/progress.h"
#include "pipeline/drivers/shards_ops.h"
#include "pipeline/sources/source.h"
#include "pipeline/util.h"

#define LMDB_COMMIT_EVERY 1000     /* the reference writer's cache size */
#define STR_MAX_DEPTH 32
#define STR_MAX_LABEL (1 << 16)   /* bytes; a word label is far shorter */

/* ---- datasets: what an INPUT holds ---------------------------------------- */

enum { DS_LIST, DS_LMDB, DS_TESSERA };

struct str_ds {
	char *path;     /* the list file or environment folder */
	char *name;     /* path relative to a tree INPUT; "" for a single one */
	int kind;
};

struct str_dslist {
	struct str_ds *v;
	size_t n, cap;
};

static void dslist_free(struct str_dslist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].name);
	}
	free(l->v);
}

static int dslist_add(struct str_dslist *l, const char *path, const char *name, int kind)
{
	if (TS_ALLOC_GROW(l->v, l->cap, l->n + 1))
		return -1;
	l->v[l->n].path = strdup(path);
	l->v[l->n].name = strdup(name);
	l->v[l->n].kind = kind;
	if (!l->v[l->n].path || !l->v[l->n].name) {
		free(l->v[l->n].path);
		free(l->v[l->n].name);
		return -1;
	}
	l->n++;
	return 0;
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int no_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int is_tessera(const char *dir)
{
	char p[4200];
	struct stat st;
	snprintf(p, sizeof(p), "%s/catalog.sqlite", dir);
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Every folder under dir (itself included) holding data.mdb (or a tessera
 * dataset's catalog.sqlite), in bytewise order of their relative paths;
 * a dataset's subfolders are not searched. */
static int walk(struct str_dslist *l, const char *dir, const char *rel, int depth,
		struct ts_err *e)
{
	struct dirent **names = NULL;
	int n, rc = 0;

	if (ts_lmdb_is_env(dir) || is_tessera(dir))
		return dslist_add(l, dir, rel, ts_lmdb_is_env(dir) ? DS_LMDB : DS_TESSERA) ?
			ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory") : 0;
	if (depth > STR_MAX_DEPTH)
		return 0;
	n = scandir(dir, &names, no_hidden, cmp_names);
	if (n < 0)
		return ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot read folder '%s': %s", dir,
				  strerror(errno));
	for (int i = 0; i < n; i++) {
		char sub[4096], subrel[4096];
		struct stat st;
		if (rc == 0 && snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]->d_name) < (int)sizeof(sub) &&
		    stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(subrel, sizeof(subrel), "%s%s%s", rel, *rel ? "/" : "", names[i]->d_name);
			rc = walk(l, sub, subrel, depth + 1, e);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static int find_datasets(const char *input, struct str_dslist *l, struct ts_err *e)
{
	struct stat st;
	int rc;
	if (stat(input, &st))
		return ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", input, strerror(errno));
	if (S_ISREG(st.st_mode))
		return dslist_add(l, input, "", DS_LIST) ?
			ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory") : 0;
	if (!S_ISDIR(st.st_mode))
		return ts_err_set(e, TS_ERR_USAGE, TS_R_NONE,
				  "'%s' is neither a gt list file nor a folder", input);
	if ((rc = walk(l, input, "", 0, e)))
		return rc;
	if (l->n == 0)
		return ts_err_set(e, TS_ERR_INVALID, TS_R_NONE,
				  "no LMDB environment (a folder with data.mdb) or tessera dataset under '%s'",
				  input);
	return 0;
}

/* Evaluation sets are not filtered by default: a path component of the
 * INPUT or of the dataset's name is test, val or evaluation. */
static int is_eval_path(const char *p)
{
	static const char *words[] = { "test", "val", "evaluation" };
	while (*p) {
		size_t n = strcspn(p, "/");
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (n == strlen(words[i]) && !strncmp(p, words[i], n))
				return 1;
		p += n;
		p += strspn(p, "/");
	}
	return 0;
}

static int filter_on(const struct ts_str_opts *o, const struct str_ds *d)
{
	if (o->filter != TS_STR_FILTER_AUTO)
		return o->filter == TS_STR_FILTER_CLIP4STR;
	return !is_eval_path(o->input) && !is_eval_path(d->name);
}

/* ---- reading one dataset: the sources of pipeline/sources/ ---------------- */

static int source_open(struct ts_source **src, const struct str_ds *ds, const struct ts_str_opts *o,
		       struct ts_err *e)
{
	struct ts_source_opts so = {
		.format = ds->kind == DS_LMDB ? TS_INPUT_LMDB : ds->kind == DS_TESSERA ? TS_INPUT_TESSERA
			: TS_INPUT_GTLIST,
		.image_root = ds->kind == DS_LIST ? o->image_root : NULL,
	};
	return ts_source_open(src, ds->path, &so, 0, e);
}

/* The label as read (captions[0]); a rejected record may have none. */
static const char *rec_label(const struct ts_record *r, size_t *len)
{
	*len = r->ncaptions ? r->caption_lens[0] : 0;
	return r->ncaptions ? r->captions[0] : NULL;
}

/* ---- one sample: label filter, image checks, output bytes ---------------- */

/* A worker thread's own context. */
struct str_worker {
	struct ts_pixctx *px;
	struct ts_image img;
};

struct str_out {
	char *label;                /* malloc'ed stored label */
	size_t label_len;
	int changed;                /* the filter changed the label */
	const uint8_t *data;        /* stored image bytes (the job's) */
	size_t len;
	const uint8_t *src;         /* source image bytes (the job's) */
	size_t src_len;
	struct ts_image_info info;  /* of the source */
	int width, height;          /* stored size */
	int orig_w, orig_h;         /* source size after orientation */
	enum ts_imgfmt out_fmt;
	enum ts_reason reason;      /* set when rejected */
	const char *stage;
	char msg[TS_ERR_MSG_MAX];
};

/* What the workers share for one dataset (read-only while jobs are in
 * flight: it changes only between datasets, with the pool drained). */
struct str_run {
	const struct ts_str_opts *o;
	int filter;
	int want_jpeg;              /* the wds store keeps JPEGs, encodes the rest */
};

/* One record on its way through the pool: everything a worker writes is
 * the job's, so the consumer may take it after the worker moved on. */
struct str_job {
	const struct str_run *run;
	struct ts_record rec;
	int skip;                   /* below the resume point: counted, not processed */
	struct str_out so;
	uint8_t *buf;               /* image file bytes (gt lists), kept across jobs */
	size_t cap;
	uint8_t *out;               /* resized/encoded bytes, kept across jobs */
	size_t out_cap;
};

static int out_reject(struct str_out *so, const char *stage, const struct ts_err *e)
{
	so->reason = e->reason != TS_R_NONE ? e->reason : TS_R_IMAGE_CORRUPT;
	so->stage = stage;
	snprintf(so->msg, sizeof(so->msg), "%s", e->msg[0] ? e->msg : ts_status_name(e->status));
	return 1;
}

/* The label as stored: the filter's result, or (filter off) the label
 * unchanged once known to be UTF-8.  1 when rejected. */
static int do_label(const struct ts_str_opts *o, int filter, const struct ts_record *r,
		    struct str_out *so)
{
	struct ts_err e = TS_ERR_INIT;
	size_t label_len;
	const char *label = rec_label(r, &label_len);
	if (label_len > STR_MAX_LABEL) {
		ts_err_set(&e, TS_ERR_LIMIT, TS_R_CAPTION_TOO_LONG, "label of %zu bytes, more than %d",
			   label_len, STR_MAX_LABEL);
		return out_reject(so, "caption", &e);
	}
	if (filter) {
		if (ts_strlabel_filter(o->cs, o->max_label_len, label, label_len,
				       &so->label, &so->label_len, &e))
			return out_reject(so, "caption", &e);
		so->changed = so->label_len != label_len ||
			      memcmp(so->label, label, label_len) != 0;
		return 0;
	}
	size_t st, n;
	if (ts_caption_check(label, label_len, 0, &st, &n, &e))
		return out_reject(so, "caption", &e);
	if (!(so->label = strndup(label, label_len))) {
		ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		return out_reject(so, "caption", &e);
	}
	so->label_len = label_len;
	return 0;
}

/* Read and decode the image (a crop that does not decode is rejected with
 * the decoder's reason), check --min-image-dim on the stored size as the
 * reference filter does, then pick the bytes to store. */
static int do_image(struct str_worker *w, struct str_job *j)
{
	const struct ts_str_opts *o = j->run->o;
	const struct ts_record *r = &j->rec;
	struct str_out *so = &j->so;
	int want_jpeg = j->run->want_jpeg;
	struct ts_err e = TS_ERR_INIT;
	size_t len;

	if (!r->image_path) {
		if (r->image_len > o->max_file_bytes) {
			ts_err_set(&e, TS_ERR_LIMIT, TS_R_SOURCE_TOO_LARGE, "image of %zu bytes, more than "
				   "--max-file-bytes %" PRIu64, r->image_len, o->max_file_bytes);
			return out_reject(so, "read", &e);
		}
		so->src = r->image_data;
		so->src_len = r->image_len;
	} else {
		if (ts_read_file(r->image_path, o->max_file_bytes, &j->buf, &j->cap, &len, &e))
			return out_reject(so, "read", &e);
		so->src = j->buf;
		so->src_len = len;
	}
	if (ts_decode(w->px, so->src, so->src_len, o->max_pixels, 0, 0, &w->img, &so->info, &e))
		return out_reject(so, "image", &e);
	so->orig_w = w->img.width;
	so->orig_h = w->img.height;
	if (o->min_image_dim > 0 &&
	    (so->info.width < o->min_image_dim || so->info.height < o->min_image_dim)) {
		ts_err_set(&e, TS_ERR_INVALID, TS_R_IMAGE_TOO_SMALL, "%dx%d, a side below --min-image-dim %d",
			   so->info.width, so->info.height, o->min_image_dim);
		return out_reject(so, "image", &e);
	}
	if (!o->stretch && (!want_jpeg || so->info.format == TS_FMT_JPEG)) {
		so->data = so->src;
		so->len = so->src_len;
		so->width = so->info.width;
		so->height = so->info.height;
		so->out_fmt = so->info.format;
		return 0;
	}
	struct ts_process_opts po = {
		.resize = o->stretch ? TS_RESIZE_STRETCH : TS_RESIZE_NO,
		.size = o->size, .max_pixels = o->max_pixels,
		.encode = want_jpeg ? TS_ENCODE_JPEG : TS_ENCODE_KEEP, .quality = 95,
	};
	struct ts_processed p;
	if (ts_process_image(w->px, so->src, so->src_len, &po, &p, &e))
		return out_reject(so, "image", &e);
	if (p.data == so->src) {       /* kept as it is */
		so->data = so->src;
	} else {                       /* the pixel context's buffer: copy it out */
		if (p.len > j->out_cap) {
			uint8_t *nb = realloc(j->out, p.len);
			if (!nb) {
				ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
				return out_reject(so, "image", &e);
			}
			j->out = nb;
			j->out_cap = p.len;
		}
		memcpy(j->out, p.data, p.len);
		so->data = j->out;
	}
	so->len = p.len;
	so->width = p.width;
	so->height = p.height;
	so->out_fmt = p.out_format;
	return 0;
}

/* The pool's work for one job: label check and filter, then the image. */
static void job_run(void *worker, void *item)
{
	struct str_job *j = item;
	if (j->skip || j->rec.reject != TS_R_NONE)
		return;
	if (!do_label(j->run->o, j->run->filter, &j->rec, &j->so))
		do_image(worker, j);
}

static void job_reset(struct str_job *j)
{
	ts_record_release(&j->rec);
	free(j->so.label);
	memset(&j->so, 0, sizeof(j->so));
	j->skip = 0;
}

/* ---- ingest -------------------------------------------------------------- */

struct ds_result {
	uint64_t records, samples, rejects, changed;
	uint64_t by_reason[TS_R__COUNT];
	int failed;
};

struct writer {
	const struct ts_str_opts *o;
	const char *outdir;
	/* lmdb */
	struct ts_lmdb *db;
	FILE *report;               /* OUT/str-report.jsonl */
	/* wds */
	struct ts_out *out;         /* the output dataset, owns cat and dsw */
	struct ts_catalog *cat;
	struct ts_dsw *dsw;
	uint64_t resume;           /* records below were written by an earlier run */
};

static char *options_json(const struct ts_str_opts *o, const struct str_ds *d, int filter)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:i, s:I, s:i, s:I, s:I}",
			      "command", "str ingest", "input", o->input, "dataset", d->name,
			      "filter", filter ? "clip4str" : "none",
			      "charset", ts_charset_name(o->cs),
			      "image_root", o->image_root,
			      "resize", o->stretch ? "stretch" : "no", "size", o->size,
			      "max_label_length", (json_int_t)o->max_label_len,
			      "min_image_dim", o->min_image_dim,
			      "shard_samples", (json_int_t)o->shard_samples,
			      "shard_bytes", (json_int_t)o->shard_bytes);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return s;
}

static int writer_open(struct writer *w, const struct ts_str_opts *o, const struct str_ds *d,
		       int filter, const char *outdir, struct ts_err *e)
{
	char p[4200];
	int rc;
	memset(w, 0, sizeof(w[0]));
	w->o = o;
	w->outdir = outdir;
	if (o->store == TS_STR_STORE_LMDB) {
		if ((rc = ts_lmdb_create(&w->db, outdir, 0, o->overwrite, e)))
			return rc;
		snprintf(p, sizeof(p), "%s/str-report.jsonl", outdir);
		if (!(w->report = fopen(p, "w")))
			return ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot create '%s': %s", p, strerror(errno));
		return TS_OK;
	}
	char *fp = options_json(o, d, filter);
	if (!fp)
		return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	const char *inputs[1] = { o->input };
	struct ts_out_opts oo = {
		.dir = outdir, .meta_key = "str_options", .fingerprint = fp,
		.overwrite = o->overwrite, .store = TS_STORE_TAR,
		.shard_samples = o->shard_samples, .shard_bytes = o->shard_bytes,
		.inputs = inputs, .ninputs = 1,
		.command_line = o->command_line, .version = TS_VERSION,
		.hook = ts_crash_hook,
	};
	rc = ts_out_open(&w->out, &oo, e);
	free(fp);
	if (rc)
		return rc;
	w->cat = ts_out_catalog(w->out);
	w->dsw = ts_out_writer(w->out);
	w->resume = ts_out_resume_record(w->out);
	if (w->resume)
		ts_info("resuming '%s' at record %" PRIu64, outdir, w->resume);
	return TS_OK;
}

static void report_line(struct writer *w, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s && w->report)
		fprintf(w->report, "%s\n", s);
	free(s);
	json_decref(j);
}

static int writer_reject(struct writer *w, const struct ts_record *it, const char *stage,
			 enum ts_reason reason, const char *msg, struct ts_err *e)
{
	if (w->db) {
		report_line(w, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "type", "reject",
					 "record", (json_int_t)it->index, "source", it->source,
					 "stage", stage, "reason", ts_reason_name(reason), "message", msg));
		return TS_OK;
	}
	return ts_dsw_reject(w->dsw, it->index, it->source, stage, ts_reason_name(reason), msg, e);
}

static int writer_sample(struct writer *w, const struct ts_record *it, const struct str_out *so,
			 uint64_t nkept, struct ts_err *e)
{
	size_t label_len;
	const char *label = rec_label(it, &label_len);
	char k[32];
	int rc;
	if (w->db) {
		uint64_t idx = nkept + 1;
		if ((rc = ts_lmdb_put(w->db, ts_lmdb_key("image", idx, k, sizeof(k)), so->data, so->len, e)) ||
		    (rc = ts_lmdb_put(w->db, ts_lmdb_key("label", idx, k, sizeof(k)), so->label,
				      so->label_len, e)))
			return rc;
		if (idx % LMDB_COMMIT_EVERY == 0 && (rc = ts_lmdb_commit(w->db, e)))
			return rc;
		if (so->changed)
			report_line(w, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s%}", "type", "changed",
						 "key", k, "record", (json_int_t)it->index,
						 "source", it->source, "label", so->label,
						 "original_label", label, label_len));
		return TS_OK;
	}
	char key[24], chash[TS_HASH_HEX_LEN + 1], shash[TS_HASH_HEX_LEN + 1], *meta = NULL, *caps = NULL;
	json_t *cj = json_array(), *mj = NULL;
	snprintf(key, sizeof(key), "%09" PRIu64, it->index);
	ts_hash_hex(so->data, so->len, chash);
	ts_hash_hex(so->src, so->src_len, shash);
	json_array_append_new(cj, json_stringn(so->label, so->label_len));
	if (so->changed)
		json_array_append_new(cj, json_stringn(label, label_len));
	mj = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:O, s:s%}",
		       "key", key, "source", it->source, "image", it->image_ref,
		       "format", ts_imgfmt_name(so->out_fmt),
		       "source_format", ts_imgfmt_name(so->info.format),
		       "width", so->width, "height", so->height,
		       "original_width", so->orig_w, "original_height", so->orig_h,
		       "content_hash", chash, "source_hash", shash, "captions", cj,
		       "label", so->label, so->label_len);
	if (mj && so->changed)
		json_object_set_new(mj, "original_label", json_stringn(label, label_len));
	if (mj)
		meta = json_dumps(mj, JSON_COMPACT);
	caps = json_dumps(cj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(mj);
	json_decref(cj);
	if (!meta || !caps) {
		free(meta);
		free(caps);
		return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	struct ts_dsw_member m[3] = {
		{ ts_imgfmt_ext(so->out_fmt), so->data, so->len },
		{ "txt", so->label, so->label_len },
		{ "json", meta, strlen(meta) },
	};
	struct ts_dsw_sample ds = {
		.record = it->index, .members = m, .nmembers = 3,
		.width = so->width, .height = so->height,
		.orig_width = so->orig_w, .orig_height = so->orig_h,
		.format = ts_imgfmt_name(so->out_fmt), .content_hash = chash,
		.image_hash = shash, .source = it->source,
		.caption = so->label, .captions_json = caps,
	};
	rc = ts_dsw_sample(w->dsw, &ds, e);
	free(meta);
	free(caps);
	return rc;
}

/* Finish (ok) or drop (failed) the output of one dataset. */
static int writer_close(struct writer *w, int ok, uint64_t nkept, uint64_t end_record,
			const struct ds_result *res, struct ts_err *e)
{
	int rc = TS_OK;
	char n[32];
	if (w->db) {
		if (ok) {
			snprintf(n, sizeof(n), "%" PRIu64, nkept);
			if ((rc = ts_lmdb_put(w->db, "num-samples", n, strlen(n), e)) == 0)
				rc = ts_lmdb_commit(w->db, e);
		}
		ts_lmdb_close(w->db);
		if (w->report && fclose(w->report) && rc == 0)
			rc = ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot write '%s/str-report.jsonl'", w->outdir);
		if (!ok || rc) {   /* no half-written environment is left behind */
			static const char *files[] = { "data.mdb", "lock.mdb", "str-report.jsonl" };
			char p[4200];
			for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
				snprintf(p, sizeof(p), "%s/%s", w->outdir, files[i]);
				unlink(p);
			}
			rmdir(w->outdir);
		}
		return rc;
	}
	if (w->report)
		fclose(w->report);
	if (w->out) {
		if (ok && (rc = ts_out_finish(w->out, end_record, e)))
			ok = 0;
		struct ts_err e2 = TS_ERR_INIT;
		json_t *sj = json_pack("{s:I, s:I, s:I}", "samples", (json_int_t)res->samples,
				       "rejects", (json_int_t)res->rejects, "labels_changed", (json_int_t)res->changed);
		char *sum = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
		json_decref(sj);
		int crc = ts_out_close(w->out, ok ? "ok" : ts_stop_requested ? "interrupted" : "failed", sum, &e2);
		free(sum);
		if (crc && rc == 0) {
			*e = e2;
			rc = crc;
		}
	}
	w->out = NULL;
	w->dsw = NULL;
	w->cat = NULL;
	return rc;
}

/* What one dataset's ingest run carries between reading and writing. */
struct ingest {
	const struct ts_str_opts *o;
	struct ds_result *res;
	struct writer *w;
	struct ts_progress *pg;
	uint64_t end_record, bytes;
	int failed;                 /* a write failed: the rest is only released */
	struct ts_err e;            /* ... and why */
};

/* Take one job back from the pool, in record order, into the writer. */
static void consume(struct ingest *g, struct str_job *j)
{
	struct ds_result *res = g->res;
	struct str_out *so = &j->so;
	const struct ts_record *r = &j->rec;
	int rc;

	if (g->failed)
		goto out;
	res->records++;
	g->end_record = r->index + 1;
	if (j->skip)                         /* written by the run that was resumed */
		goto out;
	if (r->reject != TS_R_NONE) {
		so->reason = r->reject;
		so->stage = "read";
		snprintf(so->msg, sizeof(so->msg), "%s", r->reject_msg ? r->reject_msg : "");
	}
	if (so->reason != TS_R_NONE) {
		res->rejects++;
		res->by_reason[so->reason]++;
		ts_progress_clear(g->pg);
		if (ts_verbosity >= 1)
			fprintf(stderr, "tessera: rejected '%s' (%s): %s\n", r->source,
				ts_reason_name(so->reason), so->msg);
		rc = writer_reject(g->w, r, so->stage, so->reason, so->msg, &g->e);
	} else {
		rc = writer_sample(g->w, r, so, res->samples, &g->e);
		res->samples++;
		res->changed += so->changed;
		g->bytes += so->src_len;
	}
	ts_progress_update(g->pg, res->records, g->bytes, res->rejects);
	if (rc)
		g->failed = 1;
out:
	job_reset(j);
}

/* One dataset: the producer (this thread) reads records from its source
 * and submits them; workers check labels and decode; this thread takes
 * them back strictly in record order into the writer, so the output does
 * not depend on -j.  The pool is drained (not closed) at the end, for the
 * next dataset. */
static int ingest_one(const struct ts_str_opts *o, struct ts_pool *pool, struct str_job *jobs,
		      size_t depth, const struct str_ds *d, struct ds_result *res)
{
	struct ts_err e = TS_ERR_INIT;
	struct ts_source *src = NULL;
	struct writer w;
	struct ingest g = { .o = o, .res = res, .w = &w, .e = TS_ERR_INIT };
	struct str_run run = { .o = o, .filter = filter_on(o, d), .want_jpeg = o->store == TS_STR_STORE_WDS };
	char *outdir = NULL;
	int rc = 0, ok = 0;
	uint64_t n = 0;
	char damage[TS_ERR_MSG_MAX] = "";

	memset(&w, 0, sizeof(w));
	if (asprintf(&outdir, "%s%s%s", o->outdir, *d->name ? "/" : "", d->name) < 0) {
		ts_error("out of memory");
		res->failed = 1;
		return -1;
	}
	if (!run.filter && o->filter == TS_STR_FILTER_AUTO && ts_verbosity >= 1)
		ts_warning("'%s' looks like an evaluation set: labels kept as they are "
			   "(--filter clip4str to filter them)", d->path);
	if ((rc = source_open(&src, d, o, &e)) || (rc = writer_open(&w, o, d, run.filter, outdir, &e)))
		goto out;
	g.pg = ts_progress_new(*d->name ? d->name : "str ingest", -1);   /* only on a terminal */
	ts_progress_total(g.pg, d->kind == DS_LMDB ? ts_source_count(src) : 0);
	while (!ts_stop_requested && !g.failed) {
		struct str_job *j = &jobs[n % depth];   /* free: at most depth in flight */
		if ((rc = ts_source_next(src, &j->rec, &e)) != 1)
			break;
		j->run = &run;
		j->skip = j->rec.index < w.resume;
		ts_pool_submit(pool, j);
		n++;
		while (ts_pool_inflight(pool) >= depth)
			consume(&g, ts_pool_next(pool, 1));
	}
	while (ts_pool_inflight(pool))
		consume(&g, ts_pool_next(pool, 1));
	if (g.failed) {                      /* a write error comes first: it happened first */
		rc = -1;
		e = g.e;
	}
	if (rc == 0 && !ts_stop_requested)
		ok = 1;
	/* a damaged environment: what was read is kept, the dataset fails */
	if (ok && ts_source_damage(src))
		snprintf(damage, sizeof(damage), "%s", ts_source_damage(src));
out:
	ts_progress_done(g.pg);
	ts_progress_free(g.pg);
	ts_source_close(src);
	{
		struct ts_err e2 = TS_ERR_INIT;
		int crc = writer_close(&w, ok, res->samples, g.end_record, res, &e2);
		if (ok && crc) {
			ok = 0;
			e = e2;
		}
	}
	if (!ok && ts_stop_requested && !e.msg[0]) {
		ts_info("str ingest interrupted: the complete shards are kept; run the same command to resume it");
		res->failed = 1;
	} else if (!ok) {
		ts_error("%s", e.msg[0] ? e.msg : "failed");
		res->failed = 1;
	} else if (damage[0]) {
		ts_error("%s", damage);
		res->failed = 1;
	}
	free(outdir);
	return ok && !damage[0] ? 0 : -1;
}

static json_t *reasons_json(const uint64_t *by)
{
	json_t *j = json_object();
	for (int i = 1; i < TS_R__COUNT; i++)
		if (by[i])
			json_object_set_new(j, ts_reason_name((enum ts_reason)i), json_integer((json_int_t)by[i]));
	return j;
}

int ts_str_ingest(const struct ts_str_opts *o, struct ts_str_result *out)
{
	struct ts_err e = TS_ERR_INIT;
	struct str_dslist l = { 0 };
	struct ds_result *res = NULL;
	struct str_worker *ws = NULL;
	struct str_job *jobs = NULL;
	struct ts_pool *pool = NULL;
	void **ctxs = NULL;
	json_t *arr = NULL;
	int failed = 0, threads = o->threads > 0 ? o->threads : 1, nw = 0;
	size_t depth = threads > 1 ? 2 * (size_t)threads + 2 : 1;

	if (find_datasets(o->input, &l, &e)) {
		ts_error("%s", e.msg);
		out->failed = 1;
		return TS_ERR_INVALID;
	}
	res = calloc(l.n, sizeof(*res));
	ws = calloc((size_t)threads, sizeof(*ws));
	ctxs = calloc((size_t)threads, sizeof(*ctxs));
	jobs = calloc(depth, sizeof(*jobs));
	arr = json_array();
	if (!res || !ws || !ctxs || !jobs || !arr) {
		ts_error("out of memory");
		failed = 1;
		goto out;
	}
	for (; nw < threads; nw++) {
		if (!(ws[nw].px = ts_pixctx_new())) {
			ts_error("out of memory");
			failed = 1;
			goto out;
		}
		ctxs[nw] = &ws[nw];
	}
	/* -j 1: no worker thread, every job runs on this one */
	if (ts_pool_new(&pool, threads > 1 ? threads : 0, depth, job_run, ctxs)) {
		ts_error("cannot start worker threads");
		failed = 1;
		goto out;
	}
	ts_signals_catch();
	for (size_t i = 0; i < l.n && !ts_stop_requested; i++) {
		if (ingest_one(o, pool, jobs, depth, &l.v[i], &res[i]))
			failed = 1;
		if (o->json) {
			json_array_append_new(arr, json_pack(
				"{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:s}",
				"dataset", l.v[i].name, "input", l.v[i].path,
				"kind", l.v[i].kind == DS_LMDB ? "lmdb" : "list",
				"records", (json_int_t)res[i].records, "samples", (json_int_t)res[i].samples,
				"rejects", (json_int_t)res[i].rejects, "labels_changed", (json_int_t)res[i].changed,
				"rejects_by_reason", reasons_json(res[i].by_reason),
				"status", res[i].failed ? "failed" : "ok"));
		} else if (ts_verbosity >= 1) {
			fprintf(stderr, "str ingest %s%s%s: %" PRIu64 " records, %" PRIu64 " samples, %"
				PRIu64 " rejected, %" PRIu64 " labels changed%s\n",
				l.v[i].path, *l.v[i].name ? " as " : "", l.v[i].name,
				res[i].records, res[i].samples, res[i].rejects, res[i].changed,
				res[i].failed ? " (FAILED)" : "");
			for (int k = 1; k < TS_R__COUNT; k++)
				if (res[i].by_reason[k])
					fprintf(stderr, "  rejected %-26s %" PRIu64 "\n",
						ts_reason_name((enum ts_reason)k), res[i].by_reason[k]);
		}
	}
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:O}", "command", "str ingest",
				      "status", failed ? "failed" : "ok", "output", o->outdir,
				      "store", o->store == TS_STR_STORE_LMDB ? "lmdb" : "wds",
				      "datasets", arr);
		char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		if (s)
			puts(s);
		free(s);
		json_decref(j);
	}
out:
	if (pool) {
		ts_pool_close(pool);
		while (ts_pool_next(pool, 1))
			;
	}
	ts_pool_free(pool);      /* before the workers' contexts and the jobs go */
	for (size_t i = 0; jobs && i < depth; i++) {
		job_reset(&jobs[i]);
		free(jobs[i].buf);
		free(jobs[i].out);
	}
	free(jobs);
	for (int t = 0; ws && t < nw; t++) {
		ts_pixctx_free(ws[t].px);
		ts_image_release(&ws[t].img);
	}
	free(ws);
	free(ctxs);
	json_decref(arr);
	free(res);
	dslist_free(&l);
	ts_signals_restore();
	out->interrupted = ts_stop_requested != 0;
	out->failed = failed;
	return failed ? TS_ERR_INVALID : TS_OK;
}

/* ---- stats --------------------------------------------------------------- */

#define LEN_BUCKETS 64    /* lengths 0..62, and 63 for 63 or more */

struct cp_count {
	int32_t cp;
	uint64_t n;
};

struct stats {
	uint64_t records, unchanged, changed, dropped;
	uint64_t by_reason[TS_R__COUNT];       /* every drop/reject, filter and images */
	uint64_t len_hist[LEN_BUCKETS];
	struct cp_count *outside;
	size_t nout, capout;
	int *w, *h;
	size_t nimg, capimg;
	uint64_t images_bad;
	int oom;
};

static void count_outside(int32_t cp, void *user)
{
	struct stats *s = user;
	size_t lo = 0, hi = s->nout;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->outside[mid].cp == cp) {
			s->outside[mid].n++;
			return;
		}
		if (s->outside[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (TS_ALLOC_GROW(s->outside, s->capout, s->nout + 1)) {
		s->oom = 1;
		return;
	}
	memmove(s->outside + lo + 1, s->outside + lo, (s->nout - lo) * sizeof(*s->outside));
	s->outside[lo].cp = cp;
	s->outside[lo].n = 1;
	s->nout++;
}

static int add_size(struct stats *s, int w, int h)
{
	if (s->nimg == s->capimg) {
		/* two parallel arrays of one capacity */
		size_t cw = s->capimg, ch = s->capimg;
		if (TS_ALLOC_GROW(s->w, cw, s->nimg + 1) || TS_ALLOC_GROW(s->h, ch, s->nimg + 1))
			return -1;
		s->capimg = cw;
	}
	s->w[s->nimg] = w;
	s->h[s->nimg] = h;
	s->nimg++;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Stats read one record at a time on this thread: the reading buffer. */
struct stats_ctx {
	const struct ts_str_opts *o;
	uint8_t *buf;
	size_t cap;
};

static void stats_item(struct stats_ctx *c, struct stats *s, const struct ts_record *it)
{
	const struct ts_str_opts *o = c->o;
	size_t label_len;
	const char *label = rec_label(it, &label_len);
	struct ts_err e = TS_ERR_INIT;
	struct ts_image_info info;
	char *out = NULL;
	size_t out_len, len;
	const uint8_t *img;

	s->records++;
	if (it->reject != TS_R_NONE) {
		s->by_reason[it->reject]++;
		s->dropped++;
		return;
	}
	/* length in characters as stored */
	size_t nchars = 0;
	for (size_t i = 0; i < label_len; i++)
		nchars += ((unsigned char)label[i] & 0xc0) != 0x80;
	s->len_hist[nchars < LEN_BUCKETS - 1 ? nchars : LEN_BUCKETS - 1]++;
	ts_strlabel_outside(o->cs, label, label_len, count_outside, s, &e);
	if (ts_strlabel_filter(o->cs, o->max_label_len, label, label_len, &out, &out_len, &e)) {
		s->by_reason[e.reason != TS_R_NONE ? e.reason : TS_R_CAPTION_INVALID_UTF8]++;
		s->dropped++;
		return;
	}
	int changed = out_len != label_len || memcmp(out, label, out_len) != 0;
	free(out);
	/* the image: its header is enough for sizes */
	if (!it->image_path) {
		img = it->image_data;
		len = it->image_len;
	} else if (ts_read_file(it->image_path, o->max_file_bytes, &c->buf, &c->cap, &len, &e)) {
		s->by_reason[e.reason != TS_R_NONE ? e.reason : TS_R_SOURCE_UNREADABLE]++;
		s->images_bad++;
		s->dropped++;
		return;
	} else {
		img = c->buf;
	}
	if (ts_image_probe(img, len, &info, &e)) {
		s->by_reason[e.reason != TS_R_NONE ? e.reason : TS_R_IMAGE_CORRUPT]++;
		s->images_bad++;
		s->dropped++;
		return;
	}
	if (add_size(s, info.width, info.height))
		s->oom = 1;
	if (o->min_image_dim > 0 && (info.width < o->min_image_dim || info.height < o->min_image_dim)) {
		s->by_reason[TS_R_IMAGE_TOO_SMALL]++;
		s->dropped++;
		return;
	}
	if (changed)
		s->changed++;
	else
		s->unchanged++;
}

static json_t *dist_json(int *v, size_t n)
{
	if (n == 0)
		return json_null();
	qsort(v, n, sizeof(*v), cmp_int);
	return json_pack("{s:i, s:i, s:i, s:i, s:i}", "min", v[0], "p10", v[n / 10],
			 "median", v[n / 2], "p90", v[(n * 9) / 10], "max", v[n - 1]);
}

static void print_stats(const struct ts_str_opts *o, struct stats *s, json_t *datasets)
{
	static const int edges[] = { 8, 16, 32, 64, 128, 224 };
	uint64_t buckets[7] = { 0 };
	for (size_t i = 0; i < s->nimg; i++) {
		int m = s->w[i] < s->h[i] ? s->w[i] : s->h[i], b = 0;
		while (b < 6 && m >= edges[b])
			b++;
		buckets[b]++;
	}
	json_t *lh = json_object(), *oc = json_array(), *mb = json_object();
	for (int i = 0; i < LEN_BUCKETS; i++)
		if (s->len_hist[i]) {
			char k[16];
			snprintf(k, sizeof(k), i == LEN_BUCKETS - 1 ? "%d+" : "%d", i);
			json_object_set_new(lh, k, json_integer((json_int_t)s->len_hist[i]));
		}
	/* most frequent first, then by code point */
	for (size_t i = 1; i < s->nout; i++)
		for (size_t j = i; j > 0 && s->outside[j].n > s->outside[j - 1].n; j--) {
			struct cp_count t = s->outside[j];
			s->outside[j] = s->outside[j - 1];
			s->outside[j - 1] = t;
		}
	for (size_t i = 0; i < s->nout; i++) {
		char ch[8], u[16];
		ts_utf8_put(s->outside[i].cp, ch);
		snprintf(u, sizeof(u), "U+%04X", (unsigned)s->outside[i].cp);
		json_array_append_new(oc, json_pack("{s:s, s:s, s:I}", "char", ch, "code", u,
						    "count", (json_int_t)s->outside[i].n));
	}
	static const char *bn[] = { "<8", "8-15", "16-31", "32-63", "64-127", "128-223", ">=224" };
	for (int i = 0; i < 7; i++)
		json_object_set_new(mb, bn[i], json_integer((json_int_t)buckets[i]));
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:O, s:o, s:o, s:{s:I, s:I, s:I, s:o}, "
			      "s:{s:I, s:o, s:o, s:o}}",
			      "command", "str stats", "source", o->input,
			      "charset", ts_charset_name(o->cs),
			      "max_label_length", (json_int_t)o->max_label_len,
			      "samples", (json_int_t)s->records, "datasets", datasets,
			      "label_length_histogram", lh, "outside_charset", oc,
			      "filter", "unchanged", (json_int_t)s->unchanged, "changed", (json_int_t)s->changed,
			      "dropped", (json_int_t)s->dropped, "dropped_by_reason", reasons_json(s->by_reason),
			      "images", "readable", (json_int_t)s->nimg,
			      "width", dist_json(s->w, s->nimg), "height", dist_json(s->h, s->nimg),
			      "shorter_side", mb);
	if (!j)
		return;
	if (o->json) {
		char *str = json_dumps(j, JSON_INDENT(2));
		if (str)
			puts(str);
		free(str);
		json_decref(j);
		return;
	}
	printf("source: %s\ncharset: %s (%zu characters), max label length %ld\n", o->input,
	       ts_charset_name(o->cs), ts_charset_size(o->cs), o->max_label_len);
	printf("samples: %" PRIu64 "\n", s->records);
	size_t nd = json_array_size(datasets);
	for (size_t i = 0; nd > 1 && i < nd; i++) {
		json_t *d = json_array_get(datasets, i);
		printf("  %-40s %" JSON_INTEGER_FORMAT "\n", json_string_value(json_object_get(d, "dataset")),
		       json_integer_value(json_object_get(d, "samples")));
	}
	printf("label length (characters as stored):\n");
	for (int i = 0; i < LEN_BUCKETS; i++)
		if (s->len_hist[i])
			printf("  %3d%s %" PRIu64 "\n", i, i == LEN_BUCKETS - 1 ? "+" : " ", s->len_hist[i]);
	printf("characters outside the charset: %zu distinct\n", s->nout);
	for (size_t i = 0; i < s->nout; i++) {
		char ch[8];
		ts_utf8_put(s->outside[i].cp, ch);
		printf("  U+%04X %s %" PRIu64 "\n", (unsigned)s->outside[i].cp,
		       s->outside[i].cp >= 0x20 && s->outside[i].cp != 0x7f ? ch : "?", s->outside[i].n);
	}
	printf("filter: %" PRIu64 " unchanged, %" PRIu64 " changed, %" PRIu64 " dropped\n",
	       s->unchanged, s->changed, s->dropped);
	for (int i = 1; i < TS_R__COUNT; i++)
		if (s->by_reason[i])
			printf("  dropped %-26s %" PRIu64 "\n", ts_reason_name((enum ts_reason)i), s->by_reason[i]);
	printf("images: %zu readable", s->nimg);
	if (s->nimg) {
		json_t *wj = json_object_get(json_object_get(j, "images"), "width");
		json_t *hj = json_object_get(json_object_get(j, "images"), "height");
		printf("; width min %d median %d max %d; height min %d median %d max %d\n",
		       (int)json_integer_value(json_object_get(wj, "min")),
		       (int)json_integer_value(json_object_get(wj, "median")),
		       (int)json_integer_value(json_object_get(wj, "max")),
		       (int)json_integer_value(json_object_get(hj, "min")),
		       (int)json_integer_value(json_object_get(hj, "median")),
		       (int)json_integer_value(json_object_get(hj, "max")));
		printf("  shorter side:");
		for (int i = 0; i < 7; i++)
			printf(" %s: %" PRIu64 "%s", bn[i], buckets[i], i < 6 ? "," : "\n");
	} else {
		printf("\n");
	}
	json_decref(j);
}

/* A tessera dataset's rejects were records too: count them as drops. */
static int stats_reject(const struct ts_dataset_reject *r, void *user)
{
	struct stats *s = user;
	enum ts_reason why = ts_reason_from_name(r->reason);
	s->records++;
	s->dropped++;
	s->by_reason[why < TS_R__COUNT ? why : TS_R_NONE]++;
	return 0;
}

/* The rejects of a tessera dataset, which its source does not yield. */
static int tessera_rejects(const char *path, struct stats *s, struct ts_err *e)
{
	struct ts_dataset *ds = NULL;
	int rc = ts_dataset_open(&ds, path, e);
	if (rc == 0)
		rc = ts_dataset_foreach_reject(ds, stats_reject, s, e);
	ts_dataset_close(ds);
	return rc;
}

int ts_str_stats(const struct ts_str_opts *o, struct ts_str_result *res)
{
	struct ts_err e = TS_ERR_INIT;
	struct str_dslist l = { 0 };
	struct stats_ctx c = { .o = o };
	struct stats s;
	json_t *datasets = json_array();
	int failed = 0;

	memset(&s, 0, sizeof(s));
	if (find_datasets(o->input, &l, &e)) {
		ts_error("%s", e.msg);
		json_decref(datasets);
		res->failed = 1;
		return TS_ERR_INVALID;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct ts_source *src = NULL;
		struct ts_record it;
		uint64_t before = s.records;
		int rc;
		if ((rc = source_open(&src, &l.v[i], o, &e)) == 0) {
			while ((rc = ts_source_next(src, &it, &e)) == 1) {
				stats_item(&c, &s, &it);
				ts_record_release(&it);
			}
			if (rc == 0 && l.v[i].kind == DS_TESSERA)
				rc = tessera_rejects(l.v[i].path, &s, &e);
			if (rc == 0 && ts_source_damage(src)) {
				rc = TS_ERR_INVALID;
				snprintf(e.msg, sizeof(e.msg), "%s", ts_source_damage(src));
			}
		}
		ts_source_close(src);
		if (rc) {
			ts_error("%s", e.msg);
			failed = 1;
		}
		json_array_append_new(datasets, json_pack("{s:s, s:s, s:I, s:s}", "dataset", l.v[i].name,
							  "input", l.v[i].path,
							  "samples", (json_int_t)(s.records - before),
							  "status", rc ? "failed" : "ok"));
	}
	if (s.oom) {
		ts_error("out of memory");
		failed = 1;
	} else {
		print_stats(o, &s, datasets);
	}
	json_decref(datasets);
	free(s.outside);
	free(s.w);
	free(s.h);
	free(c.buf);
	dslist_free(&l);
	res->interrupted = 0;
	res->failed = failed;
	return failed ? TS_ERR_INVALID : TS_OK;
}
