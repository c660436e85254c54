/*
 * ingest.c - the ingest driver.
 *
 * One producer (the calling thread) reads records from the sources in input
 * order and submits them, each in a slot, to the ordered pool (pool.h); N
 * workers do all per-sample work on them (read the file, check captions,
 * decode, resize, encode, hash, build KEY.json); one writer thread takes
 * the slots back strictly in record order, appends members to the current
 * tar shard and writes the catalog.  The pool is the bounded queue: the
 * producer waits when `depth` slots are in flight, so memory does not grow
 * with the input.  There are depth + 2 slots, so the producer fills slot
 * (n mod depth + 2) for its n-th record, before ts_pool_submit may block,
 * and never one still in use: at that moment the pool holds at most the
 * depth slots before it and the writer the one before those (taken back,
 * not yet written and cleared).
 *
 * What must always hold:
 * - output bytes and keys depend only on the inputs and the options, never
 *   on thread count or timing (the writer sees samples in record order);
 * - a shard appears under its final name only when complete, and the
 *   catalog marks it complete in the same transaction that stores its
 *   samples and the rejects of its record range, so a run killed at any
 *   point resumes from the last complete shard and produces the same bytes;
 * - a bad sample is recorded as a reject and the run goes on.
 */
#include "pipeline/drivers/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "captions/bpe.h"
#include "captions/caption.h"
#include "shards/shards.h"
#include "shards/out.h"
#include "shards/writer.h"
#include "pipeline/pool.h"
#include "pipeline/progress.h"
#include "pipeline/drivers/seen.h"
#include "shards/dataset.h"
#include "pipeline/drivers/shards_ops.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

/* ---- per-sample work item ------------------------------------------------ */

struct slot {
	struct ts_record rec;
	/* result */
	int rejected;
	enum ts_reason reason;
	const char *stage;
	char msg[TS_ERR_MSG_MAX];
	uint8_t *img;             /* stored image bytes, slot-owned, reused */
	size_t img_cap, img_len;
	uint64_t src_len;
	const char *ext, *fmt, *src_fmt;
	int width, height, orig_w, orig_h;
	char fixes[TS_FIXES_MAX];  /* samples.fixes */
	char content_hash[TS_HASH_HEX_LEN + 1];
	char image_hash[TS_HASH_HEX_LEN + 1];
	char *caption;            /* primary, trimmed */
	size_t caption_len;
	char *captions_json;      /* JSON array of all captions, trimmed */
	char *meta_json;          /* KEY.json */
	long long tokens;         /* CLIP tokens of the primary caption, 0 unknown */
	int fatal;                /* the failure is ours, not the sample's: end the run */
	struct ts_err fatal_err;
};

struct worker {
	struct ingest *in;
	struct ts_pixctx *px;
	struct ts_bpe_ctx *tok;   /* NULL without a vocabulary */
	uint8_t *buf;             /* source bytes, reused */
	size_t cap;
};

struct ingest {
	const struct ts_ingest_opts *o;
	struct slot *slots;        /* nslots = the pool's depth + 2 (see above) */
	size_t nslots;
	struct ts_pool *pool;
	uint64_t produced;         /* producer only */
	uint64_t written;          /* writer only until it is joined */
	int profile;               /* TESSERA_PROFILE: time the waits */
	double writer_wait_s, producer_wait_s;   /* TESSERA_PROFILE */
	double writer_cpu;                       /* CPU seconds of the writer thread */

	/* writer state (writer thread only) */
	struct ts_catalog *cat;
	char shards_dir[4096];
	struct ts_dsw *dsw;
	struct ts_out *out;        /* the output dataset, owns cat and dsw */
	struct ts_seen *seen;      /* --dedup exact */
	struct ts_bpe *bpe;        /* token counts; NULL without a vocabulary */
	int fatal;
	struct ts_err fatal_err;

	/* counters */
	uint64_t n_samples, n_rejects, n_shards, bytes_in, bytes_out;
	uint64_t by_reason[TS_R__COUNT];
	char *first_ref[TS_R__COUNT];   /* image path (else source) of each reason's first reject */
	char *root0;               /* image root of the first input, for hints */
	uint64_t resumed_record;
	unsigned resumed_shards;
	struct ts_progress *progress;
};


/* x is in the sorted array a[0..n) */
static int in_sorted(const uint64_t *a, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && a[lo] == x;
}

/* ---- worker -------------------------------------------------------------- */

/* A failure of the work on a sample: a reject with the error's reason, or,
 * when an allocation failed (TS_ERR_NOMEM, whatever reason a layer gave
 * it), a fatal error of the run: running out of memory says nothing about
 * the sample, so it must never become a content reject. */
static int slot_reject(struct slot *s, const char *stage, const struct ts_err *e)
{
	if (!ts_err_is_reject(e)) {
		s->fatal = 1;
		ts_err_set(&s->fatal_err, e->status, TS_R_NONE, "%s processing '%.200s' (%s stage): %.200s",
			   e->status == TS_ERR_NOMEM ? "out of memory" : "failure",
			   s->rec.source ? s->rec.source : "?", stage,
			   e->msg[0] ? e->msg : ts_status_name(e->status));
		return -1;
	}
	s->rejected = 1;
	s->stage = stage;
	s->reason = e->reason != TS_R_NONE ? e->reason : TS_R_IMAGE_CORRUPT;
	snprintf(s->msg, sizeof(s->msg), "%s", e->msg[0] ? e->msg : ts_status_name(e->status));
	return -1;
}

/* A failure that is not the sample's fault (no memory, an internal
 * error): the writer ends the run with it. */
static void slot_fatal(struct slot *s, const struct ts_err *e)
{
	s->fatal = 1;
	s->fatal_err = *e;
}

static int check_captions(const struct ingest *in, struct slot *s, json_t *caps)
{
	const struct ts_record *r = &s->rec;
	struct ts_err e = TS_ERR_INIT;

	if (r->ncaptions == 0) {
		ts_err_set(&e, TS_ERR_INVALID, TS_R_CAPTION_MISSING, "no caption");
		return slot_reject(s, "caption", &e);
	}
	for (size_t i = 0; i < r->ncaptions; i++) {
		size_t st, n;
		if (ts_caption_check(r->captions[i], r->caption_lens[i],
				     in->o->max_caption_bytes, &st, &n, &e)) {
			if (r->ncaptions > 1) {
				char tmp[TS_ERR_MSG_MAX + 32];
				snprintf(tmp, sizeof(tmp), "caption %zu: %s", i, e.msg);
				snprintf(e.msg, sizeof(e.msg), "%.*s", (int)sizeof(e.msg) - 1, tmp);
			}
			return slot_reject(s, "caption", &e);
		}
		json_t *str = json_stringn(r->captions[i] + st, n);
		if (!str || json_array_append_new(caps, str)) {
			ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			return slot_reject(s, "caption", &e);
		}
		if (i == 0) {
			s->caption = strndup(r->captions[i] + st, n);
			s->caption_len = n;
			if (!s->caption) {
				ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
				return slot_reject(s, "caption", &e);
			}
		}
	}
	return 0;
}

/* The pool's work function: worker is this thread's struct worker. */
static void process_slot(void *worker, void *item)
{
	struct worker *w = worker;
	struct slot *s = item;
	struct ingest *in = w->in;
	struct ts_record *r = &s->rec;
	struct ts_err e = TS_ERR_INIT;
	struct ts_processed p;
	const uint8_t *src;
	size_t src_len = 0;
	json_t *caps = NULL, *meta = NULL;
	char key[24];

	s->rejected = 0;
	s->fatal = 0;
	s->tokens = 0;
	if (r->reject != TS_R_NONE) {
		ts_err_set(&e, TS_ERR_INVALID, r->reject, "%s",
			   r->reject_msg ? r->reject_msg : ts_reason_help(r->reject));
		slot_reject(s, "read", &e);
		return;
	}
	caps = json_array();
	if (!caps || check_captions(in, s, caps))
		goto out;

	if (r->image_data) {
		src = r->image_data;
		src_len = r->image_len;
	} else {
		if (ts_read_file(r->image_path, in->o->max_file_bytes, &w->buf,
				 &w->cap, &src_len, &e)) {
			slot_reject(s, "read", &e);
			goto out;
		}
		src = w->buf;
	}
	s->src_len = src_len;
	if (ts_process_image(w->px, src, src_len, &in->o->px, &p, &e)) {
		slot_reject(s, "image", &e);
		goto out;
	}
	if (s->img_cap < p.len) {
		uint8_t *nb = realloc(s->img, p.len);
		if (!nb) {
			ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			slot_reject(s, "image", &e);
			goto out;
		}
		s->img = nb;
		s->img_cap = p.len;
	}
	memcpy(s->img, p.data, p.len);
	s->img_len = p.len;
	s->ext = ts_imgfmt_ext(p.out_format);
	s->fmt = ts_imgfmt_name(p.out_format);
	s->width = p.width;
	s->height = p.height;
	s->src_fmt = ts_imgfmt_name(p.info.format);
	ts_processed_fixes(&p, s->fixes);
	s->orig_w = p.orig_w;
	s->orig_h = p.orig_h;
	ts_hash_hex(s->img, s->img_len, s->content_hash);
	if (src_len == s->img_len && (src == p.data || !memcmp(src, s->img, src_len)))
		memcpy(s->image_hash, s->content_hash, sizeof(s->image_hash));   /* --encode keep */
	else
		ts_hash_hex(src, src_len, s->image_hash);
	s->captions_json = json_dumps(caps, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (w->tok) {
		const int32_t *ids;
		size_t nids;
		struct ts_err te = TS_ERR_INIT;
		if (ts_bpe_encode(w->tok, s->caption, s->caption_len, &ids, &nids, &te) == 0)
			s->tokens = (long long)nids + 2;
		else if (te.status == TS_ERR_NOMEM) {
			slot_reject(s, "caption", &te);
			goto out;
		}
	}

	snprintf(key, sizeof(key), "%09" PRIu64, r->index);
	/* paths are bytes: one that is not UTF-8 goes into KEY.json with
	 * U+FFFD for its bad bytes (the catalog keeps it as it is) */
	meta = json_pack("{s:s, s:o, s:o*, s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:O}",
			 "key", key,
			 "source", ts_json_string_lossy(r->source ? r->source : ""),
			 "image", r->image_ref ? ts_json_string_lossy(r->image_ref) : NULL,
			 "format", s->fmt,
			 "source_format", ts_imgfmt_name(p.info.format),
			 "width", s->width, "height", s->height,
			 "original_width", s->orig_w, "original_height", s->orig_h,
			 "content_hash", s->content_hash,
			 "source_hash", s->image_hash,
			 "captions", caps);
	if (meta && r->meta_json) {
		/* the reader's extra fields follow the standard ones, which win
		 * on a clash */
		json_t *extra = json_loads(r->meta_json, 0, NULL);
		if (!json_is_object(extra) || json_object_update_missing(meta, extra)) {
			json_decref(extra);
			ts_err_set(&e, TS_ERR_INTERNAL, TS_R_NONE,
				   "reader metadata of record %" PRIu64 " is not a JSON object", r->index);
			slot_fatal(s, &e);
			goto out;
		}
		json_decref(extra);
	}
	if (meta)
		s->meta_json = json_dumps(meta, JSON_COMPACT);
	if (!meta || !s->meta_json || !s->captions_json) {
		ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		slot_reject(s, "image", &e);
	}
out:
	json_decref(meta);
	json_decref(caps);
}

static void slot_clear(struct slot *s)
{
	ts_record_release(&s->rec);
	free(s->caption);
	free(s->captions_json);
	free(s->meta_json);
	s->caption = s->captions_json = s->meta_json = NULL;
	s->rejected = 0;
	s->fatal = 0;
	s->img_len = 0;
}

/* ---- writer -------------------------------------------------------------- */

static int writer_fail(struct ingest *in, const struct ts_err *e)
{
	if (!in->fatal) {
		in->fatal = 1;
		in->fatal_err = *e;
	}
	ts_stop_requested = 1;
	return -1;
}

static void write_reject(struct ingest *in, struct slot *s)
{
	const struct ts_record *r = &s->rec;
	const char *reason = ts_reason_name(s->reason);
	struct ts_err e = TS_ERR_INIT;

	in->n_rejects++;
	in->by_reason[s->reason]++;
	if (!in->first_ref[s->reason])
		in->first_ref[s->reason] = strdup(r->image_ref ? r->image_ref : r->source ? r->source : "?");
	ts_progress_clear(in->progress);
	if (ts_verbosity >= 1) {
		/* a list record names its place and the image it points to */
		const char *img = r->image_path ? r->image_path : r->image_ref;
		if (img && r->source && strcmp(img, r->source))
			fprintf(stderr, "tessera: rejected '%s' ('%s') (%s): %s\n",
				r->source, img, reason, s->msg);
		else
			fprintf(stderr, "tessera: rejected '%s' (%s): %s\n",
				r->source ? r->source : "?", reason, s->msg);
	}
	struct ts_reject_row row = {
		.record = r->index, .source = r->source, .stage = s->stage,
		.reason = reason, .message = s->msg,
		.path = r->image_path ? r->image_path : r->image_ref,
		.detail_json = r->reject_detail,
	};
	if (ts_dsw_reject_row(in->dsw, &row, &e))
		writer_fail(in, &e);
}

static void write_sample(struct ingest *in, struct slot *s)
{
	struct ts_err e = TS_ERR_INIT;
	uint64_t first;

	if (in->seen) {
		int r = ts_seen_check(in->seen, s->image_hash, s->rec.index, &first);
		if (r < 0) {
			ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			writer_fail(in, &e);
			return;
		}
		if (r > 0) {
			s->rejected = 1;
			s->stage = "dedup";
			s->reason = TS_R_DUPLICATE;
			snprintf(s->msg, sizeof(s->msg), "same bytes as sample %09" PRIu64, first);
			write_reject(in, s);
			return;
		}
	}
	/* the image, KEY.txt, KEY.json, then members a tar input carries over */
	struct ts_dsw_member m3[3], *m = m3;
	size_t nm = 3 + s->rec.nextra;
	/* the image was hashed by the worker (content_hash): not again */
	const char *hashes[TS_DSW_MAX_MEMBERS] = { s->content_hash };
	if (s->rec.nextra && !(m = calloc(nm, sizeof(*m)))) {
		ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		writer_fail(in, &e);
		return;
	}
	m[0] = (struct ts_dsw_member){ s->ext, s->img, s->img_len };
	m[1] = (struct ts_dsw_member){ "txt", s->caption, s->caption_len };
	m[2] = (struct ts_dsw_member){ "json", s->meta_json, strlen(s->meta_json) };
	for (size_t i = 0; i < s->rec.nextra; i++)
		m[3 + i] = (struct ts_dsw_member){ s->rec.extra[i].ext, s->rec.extra[i].data,
						   s->rec.extra[i].len };
	struct ts_dsw_sample ds = {
		.record = s->rec.index, .members = m, .nmembers = nm,
		.width = s->width, .height = s->height,
		.orig_width = s->orig_w, .orig_height = s->orig_h,
		.format = s->fmt, .content_hash = s->content_hash,
		.image_hash = s->image_hash, .source = s->rec.source,
		.caption = s->caption, .captions_json = s->captions_json,
		.path = s->rec.image_path ? s->rec.image_path : s->rec.image_ref,
		.meta_json = s->rec.meta_json,
		.source_format = s->src_fmt, .fixes = s->fixes,
		.text = { .tokens = s->tokens },
		.member_hashes = hashes,
	};
	in->bytes_in += s->src_len;
	if (ts_dsw_sample(in->dsw, &ds, &e))
		writer_fail(in, &e);
	if (m != m3)
		free(m);
}

static void *writer_main(void *arg)
{
	struct ingest *in = arg;

	for (;;) {
		double t0 = in->profile ? ts_now() : 0;
		struct slot *s = ts_pool_next(in->pool, 1);   /* NULL: closed and drained */
		if (in->profile)
			in->writer_wait_s += ts_now() - t0;
		if (!s)
			break;
		if (!in->fatal) {
			if (s->fatal)
				writer_fail(in, &s->fatal_err);
			else if (s->rejected)
				write_reject(in, s);
			else
				write_sample(in, s);
		}
		in->written++;
		ts_progress_update(in->progress, in->resumed_record + in->written,
				   in->bytes_in, in->n_rejects);
		slot_clear(s);
	}
	struct timespec ct;
	if (in->profile && !clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ct))
		in->writer_cpu = (double)ct.tv_sec + (double)ct.tv_nsec * 1e-9;
	return NULL;
}

/* ---- set-up: OUTDIR, lock, options fingerprint, resume ------------------- */

static int seen_add(const struct ts_dataset_sample *s, void *user)
{
	struct ingest *in = user;
	uint64_t first;
	return ts_seen_check(in->seen, s->image_hash, s->record, &first) < 0 ? -1 : 0;
}

/* --dedup exact: the kept samples of a resumed run are already "seen" */
static int load_seen(struct ingest *in, const char *outdir, struct ts_err *e)
{
	struct ts_dataset *ds;
	int rc;
	in->seen = ts_seen_new();
	if (!in->seen)
		return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if ((rc = ts_dataset_open_flags(&ds, outdir, TS_DS_NOLOCK, e)))
		return rc;
	rc = ts_dataset_foreach_sample(ds, -1, seen_add, in, e);
	ts_dataset_close(ds);
	if (rc > 0 || rc == -1)
		return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	return rc;
}

static char *options_fingerprint(const struct ts_ingest_opts *o)
{
	json_t *inputs = json_array(), *j;
	char *s;
	json_t *keep = json_array();
	for (int i = 0; i < o->ninputs; i++)
		json_array_append_new(inputs, json_string(o->inputs[i]));
	for (size_t i = 0; i < o->src.nkeep_cols; i++)
		json_array_append_new(keep, json_string(o->src.keep_cols[i]));
	j = json_pack("{s:s, s:s, s:i, s:i, s:o, s:s, s:s?, s:s?, s:s?, s:s, s:i, s:i, s:I, s:s, s:i, s:I, s:I, s:I, s:I}",
		      "dedup", o->dedup ? "exact" : "none",
		      "store", ts_store_ext((enum ts_store)o->store),
		      "part_index", (int)o->part_index, "part_count", (int)o->part_count,
		      "inputs", inputs,
		      "format", ts_input_format_name(o->src.format),
		      "image_root", o->src.image_root,
		      "image_col", o->src.image_col,
		      "caption_col", o->src.caption_col,
		      "resize", ts_resize_mode_name(o->px.resize),
		      "size", o->px.size, "min_size", o->px.min_size,
		      "max_pixels", (json_int_t)o->px.max_pixels,
		      "encode", ts_encode_fmt_name(o->px.encode),
		      "quality", o->px.quality,
		      "shard_samples", (json_int_t)o->shard_samples,
		      "shard_bytes", (json_int_t)o->shard_bytes,
		      "max_file_bytes", (json_int_t)o->max_file_bytes,
		      "max_caption_bytes", (json_int_t)o->max_caption_bytes);
	/* reader options that change what is read; defaults are left out so
	 * a dataset made before they existed still resumes */
	if (j && o->src.confine)
		json_object_set_new(j, "confine", json_true());
	if (j && o->subsampling == 444)
		json_object_set_new(j, "subsampling", json_integer(444));
	if (j && o->shard_digits && o->shard_digits != 6)
		json_object_set_new(j, "shard_digits", json_integer(o->shard_digits));
	if (j && o->src.quoting)
		json_object_set_new(j, "quoting", json_string(o->src.quoting == TS_QUOTING_CSV
							      ? "csv" : "none"));
	if (j && o->src.no_header)
		json_object_set_new(j, "no_header", json_true());
	if (j && o->src.columns)
		json_object_set_new(j, "columns", json_string(o->src.columns));
	if (j && o->src.max_quoted_bytes)
		json_object_set_new(j, "max_quoted_bytes", json_integer((json_int_t)o->src.max_quoted_bytes));
	if (j && o->src.max_quoted_lines)
		json_object_set_new(j, "max_quoted_lines", json_integer((json_int_t)o->src.max_quoted_lines));
	if (j && o->src.group_by)
		json_object_set_new(j, "group_by", json_string(o->src.group_by));
	if (j && o->src.max_group_bytes)
		json_object_set_new(j, "max_group_bytes", json_integer((json_int_t)o->src.max_group_bytes));
	if (j && o->src.max_member_bytes)
		json_object_set_new(j, "max_member_bytes", json_integer((json_int_t)o->src.max_member_bytes));
	/* fetch keeps its id column in its own "fetch" object */
	if (j && o->src.id_col && !(o->hooks && o->hooks->fingerprint))
		json_object_set_new(j, "id_col", json_string(o->src.id_col));
	if (j && o->src.nkeep_cols)
		json_object_set_new(j, "keep_cols", keep);
	else
		json_decref(keep);
	if (!j)
		return NULL;
	if (o->hooks && o->hooks->fingerprint)
		json_object_set_new(j, "fetch", json_loads(o->hooks->fingerprint, 0, NULL));
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

/* Every record read was rejected and nothing from an earlier run is kept. */
static int all_rejected(const struct ingest *in)
{
	return in->written > 0 && in->n_samples == 0 && in->n_rejects == in->written &&
	       in->resumed_record == 0;
}

/* Samples in the complete shards of outdir (what a resume keeps). */
static int add_shard(const struct ts_dataset_shard *s, void *user)
{
	if (s->complete)
		*(uint64_t *)user += s->samples;
	return 0;
}

static uint64_t kept_samples(const char *outdir)
{
	struct ts_dataset *ds;
	struct ts_err e = TS_ERR_INIT;
	uint64_t n = 0;
	if (ts_dataset_open_flags(&ds, outdir, TS_DS_NOLOCK, &e) == 0) {   /* we hold the lock */
		ts_dataset_foreach_shard(ds, add_shard, &n, &e);
		ts_dataset_close(ds);
	}
	return n;
}

/* The account of a run that reached its end, for the command's summary;
 * the first references and the image root move to res. */
static void fill_result(struct ingest *in, struct ts_ingest_result *res, double secs, int interrupted)
{
	const struct ts_ingest_opts *o = in->o;
	res->summary = 1;
	res->interrupted = interrupted;
	res->all_rejected = all_rejected(in);
	res->records = in->written;
	res->samples = in->n_samples;
	res->rejects = in->n_rejects;
	res->shards_written = in->n_shards;
	res->bytes_written = in->bytes_out;
	res->resumed_record = in->resumed_record;
	res->resumed_shards = in->resumed_shards;
	res->samples_kept = interrupted ? kept_samples(o->outdir) : 0;
	res->seconds = secs;
	res->threads = o->threads;
	for (int i = 0; i < TS_R__COUNT; i++) {
		res->by_reason[i] = in->by_reason[i];
		res->first_ref[i] = in->first_ref[i];
		in->first_ref[i] = NULL;
	}
	res->image_root = in->root0;
	in->root0 = NULL;
}

void ts_ingest_result_release(struct ts_ingest_result *res)
{
	if (!res)
		return;
	for (int i = 0; i < TS_R__COUNT; i++)
		free(res->first_ref[i]);
	free(res->image_root);
	memset(res, 0, sizeof(*res));
}

int ts_ingest_run(const struct ts_ingest_opts *o, struct ts_ingest_result *res, struct ts_err *err)
{
	struct ingest in_s, *in = &in_s;
	struct ts_err e = TS_ERR_INIT;
	struct worker *workers = NULL;
	char *fp = NULL;
	int rc = TS_ERR_INTERNAL, nworkers = 0, writer_started = 0;
	int64_t total = 0;
	uint64_t next_record = 0;
	unsigned next_shard = 0;
	double t0 = ts_now();
	pthread_t writer_th;

	memset(in, 0, sizeof(*in));
	memset(res, 0, sizeof(*res));
	in->o = o;
	in->profile = getenv("TESSERA_PROFILE") != NULL;

	if (o->tokens) {
		/* token counts when a vocabulary is found; --vocab must be found */
		struct ts_err ve = TS_ERR_INIT;
		int vrc = ts_vocab_load(&in->bpe, o->vocab, &ve);   /* 1: none found */
		if (vrc < 0) {
			*err = ve;
			rc = ve.status ? ve.status : TS_ERR_IO;
			goto out;
		}
		if (vrc == 1)
			ts_warning("%s: token counts are not stored", ve.msg);
	}
	fp = options_fingerprint(o);
	if (!fp) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto out;
	}
	{
		struct ts_out_opts oo = {
			.dir = o->outdir, .meta_key = "ingest_options", .fingerprint = fp,
			.overwrite = o->overwrite, .store = o->store, .name_digits = o->shard_digits,
			.shard_samples = o->shard_samples, .shard_bytes = o->shard_bytes,
			.inputs = o->inputs, .ninputs = o->ninputs,
			.command_line = o->command_line, .version = TS_VERSION,
			.hook = ts_crash_hook,
			.retry = o->hooks && o->hooks->only,
			/* the writer thread hands rows to a catalog thread */
			.catalog_thread = 1,
		};
		if ((rc = ts_out_open(&in->out, &oo, err)))
			goto out;
	}
	in->cat = ts_out_catalog(in->out);
	in->dsw = ts_out_writer(in->out);
	next_shard = ts_out_resume_shards(in->out);
	next_record = ts_out_resume_record(in->out);
	if (o->dedup && (rc = load_seen(in, o->outdir, err)))
		goto out;
	in->resumed_record = next_record;
	in->resumed_shards = next_shard;
	if (next_record)
		ts_info("resuming '%s' at record %" PRIu64 " (%u complete shards kept)",
			o->outdir, next_record, next_shard);

	ts_signals_catch();

	size_t depth = (size_t)o->threads * 8 + 16;
	in->nslots = depth + 2;
	in->slots = calloc(in->nslots, sizeof(*in->slots));
	workers = calloc((size_t)o->threads, sizeof(*workers));
	void **wctx = calloc((size_t)o->threads, sizeof(*wctx));
	if (!in->slots || !workers || !wctx) {
		free(wctx);
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto out;
	}
	total = 0;
	in->progress = ts_progress_new(o->hooks && o->hooks->title ? o->hooks->title : "ingest",
				       o->progress);
	if (o->hooks && o->hooks->progress)
		ts_progress_extra(in->progress, o->hooks->progress, o->hooks->user);
	/* SIGINT/SIGTERM go to this (the producer) thread only, so a read
	 * blocked on a slow input (a pipe, a network file system) is
	 * interrupted at once */
	sigset_t sigs, oldsigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, &oldsigs);
	for (nworkers = 0; nworkers < o->threads; nworkers++) {
		struct worker *w = &workers[nworkers];
		w->in = in;
		w->px = ts_pixctx_new();
		if (w->px)
			ts_pixctx_set_subsampling(w->px, o->subsampling);
		w->tok = in->bpe ? ts_bpe_ctx_new(in->bpe) : NULL;
		if (!w->px || (in->bpe && !w->tok)) {
			ts_pixctx_free(w->px);
			ts_bpe_ctx_free(w->tok);
			break;
		}
		wctx[nworkers] = w;
	}
	if (nworkers == o->threads &&
	    ts_pool_new(&in->pool, o->threads, depth, process_slot, wctx) == 0 &&
	    pthread_create(&writer_th, NULL, writer_main, in) == 0)
		writer_started = 1;
	else
		ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "cannot start worker threads");
	free(wctx);
	pthread_sigmask(SIG_SETMASK, &oldsigs, NULL);

	/* producer */
	uint64_t index = 0;
	int fatal_input = 0;
	for (int i = 0; writer_started && i < o->ninputs && !ts_stop_requested; i++) {
		struct ts_source *src = NULL;
		struct ts_record rec;
		int r = 0;
		if (ts_source_open(&src, o->inputs[i], &o->src, index, err)) {
			fatal_input = 1;
			break;
		}
		if (o->hooks && o->hooks->wrap && o->hooks->wrap(&src, o->hooks->user, next_record, err)) {
			ts_source_close(src);
			fatal_input = 1;
			break;
		}
		if (!in->root0 && ts_source_root(src))
			in->root0 = strdup(ts_source_root(src));
		int64_t cnt = in->progress ? ts_source_count(src) : -1;
		if (total >= 0)
			total = cnt >= 0 ? total + cnt : -1;
		ts_progress_total(in->progress, total >= 0 ? (uint64_t)total : 0);
		memset(&rec, 0, sizeof(rec));
		while (!ts_stop_requested && (r = ts_source_next(src, &rec, &e)) == 1) {
			index = rec.index + 1;
			int skip = o->hooks && o->hooks->only
				? !in_sorted(o->hooks->only, o->hooks->nonly, rec.index)
				: rec.index < next_record;
			if (skip || (o->part_count > 1 && rec.index % o->part_count != o->part_index)) {
				ts_record_release(&rec);
				continue;
			}
			/* free: the pool holds at most the depth slots
			 * before it and the writer the one before those */
			struct slot *s = &in->slots[in->produced % in->nslots];
			s->rec = rec;
			memset(&rec, 0, sizeof(rec));
			in->produced++;
			double tw = in->profile ? ts_now() : 0;
			ts_pool_submit(in->pool, s);
			if (in->profile)
				in->producer_wait_s += ts_now() - tw;
		}
		ts_record_release(&rec);
		if (r < 0 && !ts_stop_requested) {
			*err = e;
			fatal_input = 1;
		}
		ts_source_close(src);
		if (fatal_input)
			break;
	}
	if (in->pool)
		ts_pool_close(in->pool);
	if (writer_started)
		pthread_join(writer_th, NULL);
	ts_pool_free(in->pool);    /* joins the workers: every slot was written */
	in->pool = NULL;
	for (int i = 0; i < nworkers; i++) {
		/* the codec buffers are not needed for the end of the run */
		ts_pixctx_free(workers[i].px);
		ts_bpe_ctx_free(workers[i].tok);
		free(workers[i].buf);
		workers[i].px = NULL;
		workers[i].tok = NULL;
		workers[i].buf = NULL;
	}
	ts_progress_done(in->progress);

	int interrupted = ts_stop_requested && !in->fatal;
	int failed = in->fatal || !writer_started || fatal_input;
	/* An interrupted run drops its partial shard: it would not match an
	 * uninterrupted run.  Otherwise the last shard takes every record up
	 * to the end of input. */
	if (!failed && !interrupted && ts_out_finish(in->out, index, &e))
		writer_fail(in, &e);
	if (in->fatal) {
		failed = 1;
		*err = in->fatal_err;
	}
	if (failed || interrupted)
		ts_dsw_discard(in->dsw);   /* before run_end, which needs no open transaction */
	struct ts_dsw_stats ds;
	ts_dsw_stats(in->dsw, &ds);
	in->n_samples = ds.samples;
	in->n_shards = ds.shards;
	in->bytes_out = ds.bytes;
	double secs = ts_now() - t0;
	if (!failed)
		fill_result(in, res, secs, interrupted);
	if (getenv("TESSERA_PROFILE")) {
		/* where the writer thread's time went (docs/performance.md) */
		fprintf(stderr, "tessera: profile: %" PRIu64 " records, %" PRIu64 " samples in %.2f s;"
			" CPU: catalog %.2f s (%.0f sample rows/s; %.2f s off the writer thread),"
			" writer: shards %.2f s, the rest %.2f s;"
			" writer waiting for workers %.2f s, for row inserts %.2f s;"
			" producer waiting for ring space %.2f s\n",
			in->written, ds.samples, secs, ds.catalog_seconds,
			ds.catalog_seconds > 0 ? (double)ds.samples / ds.catalog_seconds : 0.0,
			ds.catalog_thread_seconds, ds.shard_seconds,
			in->writer_cpu - (ds.catalog_seconds - ds.catalog_thread_seconds) - ds.shard_seconds,
			in->writer_wait_s, ds.catalog_wait_seconds, in->producer_wait_s);
	}
	{
		json_t *sj = json_pack("{s:I, s:I, s:I, s:f}", "samples", (json_int_t)in->n_samples,
				       "rejects", (json_int_t)in->n_rejects,
				       "shards_written", (json_int_t)in->n_shards, "seconds", secs);
		char *ss = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
		struct ts_out *od = in->out;
		in->out = NULL;
		in->cat = NULL;
		in->dsw = NULL;
		if (ts_out_close(od, failed ? "failed" : interrupted ? "interrupted" : "ok",
				 ss ? ss : "{}", &e) && !failed) {
			*err = e;
			failed = 1;
		}
		free(ss);
		json_decref(sj);
	}
	rc = !failed ? TS_OK : err->status ? err->status
		: ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "ingest failed");
out:
	ts_signals_restore();
	for (int i = 0; i < nworkers; i++) {
		ts_pixctx_free(workers[i].px);
		ts_bpe_ctx_free(workers[i].tok);
		free(workers[i].buf);
	}
	ts_bpe_free(in->bpe);
	for (int i = 0; i < TS_R__COUNT; i++)
		free(in->first_ref[i]);
	free(in->root0);
	free(workers);
	if (in->slots) {
		for (size_t i = 0; i < in->nslots; i++) {
			slot_clear(&in->slots[i]);
			free(in->slots[i].img);
		}
		free(in->slots);
	}
	ts_out_free(in->out);
	ts_seen_free(in->seen);
	ts_progress_free(in->progress);
	free(fp);
	return rc;
}
