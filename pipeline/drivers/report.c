/*
 * report.c - `tessera report`: gathers a dataset's statistics into one
 * JSON document (what --json prints) and renders it, with a contact sheet,
 * as one self-contained HTML page (docs/report.md).
 *
 * What must hold: the dataset is only read (the catalog through
 * ts_dataset_open, read-only); statistics are SQL aggregates plus one
 * streaming pass over the captions through the accumulator of `captions
 * stats` (captions_stats.h), so the caption numbers are that command's,
 * and memory does not grow with the catalog (exact histograms, a top-10,
 * a reservoir of --samples keys); only the contact sheet's samples are read
 * from the shards.  Every text from the dataset reaches the page through
 * ts_html_text.  Images are embedded as JPEG data URIs; nothing on the page
 * loads anything from anywhere.
 */
#include "pipeline/drivers/report.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "captions/bpe.h"
#include "captions/sentence.h"
#include "compose/compose.h"
#include "shards/dataset.h"
#include "pipeline/drivers/captions_stats.h"
#include "pipeline/drivers/report_svg.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

/* docs/formats.md's reject table, generated at build time (tools/reject_doc.awk) */
static const struct {
	const char *code, *when;
} reject_doc[] = {
#include "reject_doc.h"
};

#define TOP_LONGEST 10
#define MAX_PIXELS 100000000ULL

struct longest {
	char *key, *clean;
	size_t tokens, cut77;
	uint64_t order;
};

struct sheet_item {
	char *key;
	uint64_t pick;        /* reservoir position, for record order */
	int64_t record;
};

struct rp {
	const struct ts_report_opts *o;
	struct ts_dataset *ds;
	struct ts_err *e;
	json_t *doc;
	struct ts_bpe *bpe;
	struct ts_bpe_ctx *bctx;
	struct ts_sentences *sp;
	struct ts_cstats *all, *shrt, *lng;
	int has_split, has_tags, has_scores, has_comp, has_join, is_str;
	struct longest top[TOP_LONGEST];
	size_t ntop;
	struct sheet_item *sheet;
	size_t nsheet;
	uint64_t seen, rng;
	long long max_orig;         /* largest original side, for the size cells */
	uint64_t tok_checked, tok_differ;   /* catalog token counts against the tokenizer's */
	struct ts_pixctx *px;
	struct ts_image img, small;
};

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

const char *ts_report_reason_meaning(const char *code)
{
	for (size_t i = 0; i < sizeof(reject_doc) / sizeof(reject_doc[0]); i++)
		if (!strcmp(reject_doc[i].code, code))
			return reject_doc[i].when;
	return NULL;
}

/* A JSON string of s[0..n); bytes that are not UTF-8 (a file name can hold
 * any) become U+FFFD, since JSON text must be UTF-8. */
static json_t *json_lossy(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	if (v)
		return v;
	char *buf = malloc(3 * n + 1);
	size_t o = 0;
	if (!buf)
		return json_null();
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
		json_t *t = k && i + k <= n ? json_stringn(s + i, k) : NULL;
		if (t && c) {
			memcpy(buf + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
		json_decref(t);
	}
	v = json_stringn(buf, o);
	free(buf);
	return v ? v : json_null();
}

static json_t *col_json(const struct ts_dataset_row *r, int i)
{
	switch (ts_dataset_row_type(r, i)) {
	case 'n': return json_null();
	case 'i': return json_integer((json_int_t)ts_dataset_row_int(r, i));
	case 'r': return json_real(ts_dataset_row_real(r, i));
	default: break;
	}
	const char *t = ts_dataset_row_text(r, i);
	size_t n = ts_dataset_row_bytes(r, i);
	return json_lossy(t, n);
}

struct objs {
	json_t *arr;
	const char *keys[16];
	int nkeys;
};

static int obj_row(const struct ts_dataset_row *r, void *user)
{
	struct objs *o = user;
	json_t *j = json_object();
	for (int i = 0; i < o->nkeys && i < ts_dataset_row_columns(r); i++)
		json_object_set_new(j, o->keys[i], col_json(r, i));
	json_array_append_new(o->arr, j);
	return 0;
}

/* Rows of sql as an array of objects with the comma-separated keys. */
static json_t *q_objs(struct rp *r, const char *sql, const char *keys, const char *param)
{
	struct objs o = { .arr = json_array() };
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", keys);
	for (char *save = NULL, *k = strtok_r(buf, ",", &save); k && o.nkeys < 16; k = strtok_r(NULL, ",", &save))
		o.keys[o.nkeys++] = k;
	/* the keys point into buf; copy them into the objects as they are made */
	if (ts_dataset_query(r->ds, sql, param ? &param : NULL, param ? 1 : 0, obj_row, &o, r->e)) {
		json_decref(o.arr);
		return NULL;
	}
	return o.arr;
}

static int int_row(const struct ts_dataset_row *r, void *user)
{
	int64_t *v = user;
	for (int i = 0; i < ts_dataset_row_columns(r); i++)
		v[i] = ts_dataset_row_int(r, i);
	return 0;
}

/* One row of integers into v[]. */
static int q_ints(struct rp *r, const char *sql, int64_t *v)
{
	return ts_dataset_query(r->ds, sql, NULL, 0, int_row, v, r->e);
}

static long long nice_bin(long long max, int n)
{
	static const long long steps[] = { 1, 2, 5, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 250, 256, 500, 512,
					   1000, 1024, 2000, 2048, 5000, 10000, 20000, 50000, 100000 };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] * n > max)
			return steps[i];
	return max / n + 1;
}

/* ---- header ----------------------------------------------------------------- */

static int gather_header(struct rp *r)
{
	int64_t t[4] = { 0 };
	json_t *d = r->doc;
	json_object_set_new(d, "dataset", json_lossy(r->o->dataset, strlen(r->o->dataset)));
	json_object_set_new(d, "schema_version", json_integer(ts_dataset_version(r->ds)));
	if (q_ints(r, "select (select count(*) from samples), (select count(*) from shards),"
		   " (select coalesce(sum(bytes), 0) from shards), (select count(*) from rejects)", t))
		return -1;
	json_object_set_new(d, "samples", json_integer(t[0]));
	json_object_set_new(d, "shards", json_integer(t[1]));
	json_object_set_new(d, "bytes", json_integer(t[2]));
	json_object_set_new(d, "rejects", json_integer(t[3]));
	json_t *runs = q_objs(r, "select id, command, version, started, ended, status from runs order by id",
			      "id,command,version,started,ended,status", NULL);
	json_t *shards = q_objs(r, "select idx, name, samples, bytes, complete, first_record, end_record"
				" from shards order by idx", "idx,name,samples,bytes,complete,first_record,end_record", NULL);
	if (!runs || !shards) {
		json_decref(runs);
		json_decref(shards);
		return -1;
	}
	json_object_set_new(d, "runs", runs);
	json_object_set_new(d, "shard_list", shards);
	/* a part of a partitioned ingest says so in its options */
	char *opts = ts_dataset_meta(r->ds, "ingest_options");
	json_t *oj = opts ? json_loads(opts, 0, NULL) : NULL;
	free(opts);
	if (oj && json_integer_value(json_object_get(oj, "part_count")) > 0) {
		json_t *p = json_object();
		json_object_set(p, "index", json_object_get(oj, "part_index"));
		json_object_set(p, "count", json_object_get(oj, "part_count"));
		json_object_set_new(d, "part", p);
	}
	/* a merged dataset: part I of N held the records r % N == I */
	char *mo = ts_dataset_meta(r->ds, "merge_options");
	json_t *mj = mo ? json_loads(mo, 0, NULL) : NULL;
	free(mo);
	json_t *parts = json_object_get(mj, "partitions");
	if (json_array_size(parts) > 0) {
		char sql[256];
		size_t np = json_array_size(parts);
		snprintf(sql, sizeof(sql), "select p, sum(s), sum(j) from (select record %% %zu p, 1 s, 0 j from samples"
			 " union all select record %% %zu, 0, 1 from rejects) group by p order by p", np, np);
		json_t *rows = q_objs(r, sql, "part,samples,rejects", NULL);
		if (!rows) {
			json_decref(mj);
			json_decref(oj);
			return -1;
		}
		size_t i;
		json_t *x;
		json_array_foreach(rows, i, x) {
			json_t *path = json_array_get(parts, (size_t)json_integer_value(json_object_get(x, "part")));
			if (path)
				json_object_set(x, "path", path);
		}
		json_object_set_new(d, "merged_parts", rows);
	}
	json_decref(mj);
	const char *cmd = json_string_value(json_object_get(oj, "command"));
	r->is_str = cmd && !strcmp(cmd, "str ingest");
	json_object_set_new(d, "kind", json_string(r->is_str ? "scene-text" : "captions"));
	json_decref(oj);
	return 0;
}

/* ---- captions: one pass --------------------------------------------------------- */

static void keep_longest(struct rp *r, const char *key, const struct ts_cstats_one *one)
{
	size_t i = r->ntop;
	if (r->ntop == TOP_LONGEST) {
		if (one->tokens <= r->top[TOP_LONGEST - 1].tokens)
			return;
		i = TOP_LONGEST - 1;
		free(r->top[i].key);
		free(r->top[i].clean);
	} else {
		r->ntop++;
	}
	struct longest l = { strdup(key), strndup(one->clean, one->clean_len), one->tokens, one->cut[1], r->seen };
	/* insertion: by tokens, descending; ties keep record order */
	while (i > 0 && r->top[i - 1].tokens < l.tokens) {
		r->top[i] = r->top[i - 1];
		i--;
	}
	r->top[i] = l;
}

static void sheet_offer(struct rp *r, const char *key, int64_t record)
{
	size_t n = (size_t)r->o->sheet;
	uint64_t slot;
	if (r->nsheet < n) {
		slot = r->nsheet++;
	} else {
		/* reservoir sampling (Algorithm R), seeded */
		slot = splitmix64(&r->rng) % (r->seen + 1);
		if (slot >= n)
			return;
		free(r->sheet[slot].key);
	}
	r->sheet[slot].key = strdup(key);
	r->sheet[slot].record = record;
}

static int caption_row(const struct ts_dataset_row *row, void *user)
{
	struct rp *r = user;
	const char *key = ts_dataset_row_text(row, 0), *cap = ts_dataset_row_text(row, 1);
	struct ts_cstats_one one;
	if (!key)
		return 0;
	int64_t record = ts_dataset_row_int(row, 3);
	if (ts_dataset_row_int(row, 4) > r->max_orig)
		r->max_orig = ts_dataset_row_int(row, 4);
	if (ts_dataset_row_int(row, 5) > r->max_orig)
		r->max_orig = ts_dataset_row_int(row, 5);
	if (r->all) {
		int rc = ts_cstats_add(r->all, cap ? cap : "", cap ? ts_dataset_row_bytes(row, 1) : 0, key, &one);
		if (rc < 0)
			return ts_err_set(r->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		if (rc == 0) {
			keep_longest(r, key, &one);
			if (!ts_dataset_row_is_null(row, 6)) {
				r->tok_checked++;
				r->tok_differ += (size_t)ts_dataset_row_int(row, 6) != one.tokens;
			}
		}
		const char *sh = r->has_split ? ts_dataset_row_text(row, 2) : NULL;
		if (sh) {
			if (ts_cstats_add(r->shrt, sh, ts_dataset_row_bytes(row, 2), key, NULL) < 0 ||
			    ts_cstats_add(r->lng, cap ? cap : "", cap ? ts_dataset_row_bytes(row, 1) : 0, key, NULL) < 0)
				return ts_err_set(r->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		}
	}
	sheet_offer(r, key, record);
	r->seen++;
	return 0;
}

/* Without a vocabulary: the catalog's token counts (ingest's), as far as
 * they go (no words, no sentences). */
static json_t *catalog_token_stats(struct rp *r)
{
	int64_t t[4] = { 0 };
	if (q_ints(r, "select count(tokens), coalesce(sum(tokens), 0), coalesce(min(tokens), 0),"
		   " coalesce(max(tokens), 0) from samples", t))
		return NULL;
	json_t *j = json_object(), *tk = json_object(), *ctx = json_array();
	json_object_set_new(j, "source", json_lossy(r->o->dataset, strlen(r->o->dataset)));
	json_object_set_new(j, "kind", json_string("catalog tokens"));
	json_object_set_new(j, "captions", json_integer(t[0]));
	json_object_set_new(tk, "total", json_integer(t[1]));
	json_object_set_new(tk, "mean", json_real(t[0] ? (double)t[1] / (double)t[0] : 0));
	json_object_set_new(tk, "min", json_integer(t[2]));
	json_object_set_new(tk, "max", json_integer(t[3]));
	json_object_set_new(j, "tokens", tk);
	static const int cs[] = { 20, 77, 248 };
	for (int c = 0; c < 3; c++) {
		char sql[256];
		int64_t v[2] = { 0 };
		snprintf(sql, sizeof(sql), "select count(*), coalesce(sum(tokens - %d), 0) from samples where tokens > %d",
			 cs[c], cs[c]);
		if (q_ints(r, sql, v)) {
			json_decref(j);
			json_decref(ctx);
			return NULL;
		}
		json_t *o = json_object();
		json_object_set_new(o, "context", json_integer(cs[c]));
		json_object_set_new(o, "over", json_integer(v[0]));
		json_object_set_new(o, "over_share", json_real(t[0] ? (double)v[0] / (double)t[0] : 0));
		json_object_set_new(o, "tokens_lost", json_integer(v[1]));
		json_object_set_new(o, "tokens_lost_share",
				    json_real(t[1] - 2 * t[0] > 0 ? (double)v[1] / (double)(t[1] - 2 * t[0]) : 0));
		json_array_append_new(ctx, o);
	}
	json_object_set_new(j, "contexts", ctx);
	json_t *bins = q_objs(r, "select tokens / 10 * 10, tokens / 10 * 10 + 9, count(*) from samples"
			      " where tokens is not null group by 1 order by 1", "from,to,count", NULL);
	if (!bins) {
		json_decref(j);
		return NULL;
	}
	/* contiguous bins, as captions stats gives */
	json_t *full = json_array();
	size_t i;
	json_t *b;
	long long next = -1;
	json_array_foreach(bins, i, b) {
		long long from = json_integer_value(json_object_get(b, "from"));
		while (next >= 0 && next < from) {
			json_array_append_new(full, json_pack("{s:I, s:I, s:i}", "from", (json_int_t)next, "to",
							      (json_int_t)(next + 9), "count", 0));
			next += 10;
		}
		json_array_append(full, b);
		next = from + 10;
	}
	json_decref(bins);
	json_object_set_new(j, "histogram", json_pack("{s:i, s:o}", "bin_width", 10, "bins", full));
	return j;
}

static int gather_captions(struct rp *r)
{
	struct ts_err le = TS_ERR_INIT;
	int vrc = r->o->catalog_tokens ? 1 : ts_vocab_load(&r->bpe, r->o->vocab, &le);   /* 1: none found */
	if (r->o->catalog_tokens)
		snprintf(le.msg, sizeof(le.msg), "--catalog-tokens");
	if (vrc == 0) {
		if (!(r->bctx = ts_bpe_ctx_new(r->bpe)) || ts_sentences_new(&r->sp, r->e) ||
		    !(r->all = ts_cstats_new(r->bctx, r->sp)) || !(r->shrt = ts_cstats_new(r->bctx, r->sp)) ||
		    !(r->lng = ts_cstats_new(r->bctx, r->sp)))
			return r->e->msg[0] ? -1 : ts_err_set(r->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	} else if (vrc == 1 && ts_dataset_has_column(r->ds, "samples", "tokens")) {
		ts_warning("%s; caption lengths come from the catalog's token counts (no words lost, no sentences)",
			   le.msg);
	} else {
		*r->e = le;
		return -1;
	}
	r->has_split = ts_dataset_has_column(r->ds, "samples", "short_caption");
	if (!(r->sheet = calloc((size_t)r->o->sheet + 1, sizeof(*r->sheet))))
		return ts_err_set(r->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	r->rng = r->o->seed;
	int rc = ts_dataset_query(r->ds, r->has_split ? "select key, caption, short_caption, record, orig_width, orig_height, tokens from samples order by record"
				  : "select key, caption, null, record, orig_width, orig_height, tokens from samples order by record",
				  NULL, 0, caption_row, r, r->e);
	if (rc)
		return -1;
	json_t *cj = r->all ? ts_cstats_json(r->all, r->o->dataset) : catalog_token_stats(r);
	if (!cj)
		return -1;
	json_object_set_new(r->doc, "captions", cj);
	if (r->all) {
		/* the catalog's counts (ingest's) are the tokenizer's when made with the same vocabulary */
		json_object_set_new(r->doc, "catalog_tokens", json_pack("{s:I, s:I}", "checked", (json_int_t)r->tok_checked,
									"differ", (json_int_t)r->tok_differ));
		if (r->tok_differ)
			ts_warning("%" PRIu64 " of %" PRIu64 " captions have a catalog token count other than the tokenizer's"
				   " (made with another vocabulary?)", r->tok_differ, r->tok_checked);
	}
	if (r->all && json_integer_value(json_object_get(cj, "captions")) > 0 && r->has_split) {
		json_t *s = ts_cstats_json(r->shrt, r->o->dataset);
		if (json_integer_value(json_object_get(s, "captions")) > 0) {
			json_object_set_new(r->doc, "short_captions", s);
			json_object_set_new(r->doc, "long_captions", ts_cstats_json(r->lng, r->o->dataset));
		} else {
			json_decref(s);
		}
	}
	json_t *lj = json_array();
	for (size_t i = 0; i < r->ntop; i++)
		json_array_append_new(lj, json_pack("{s:s?, s:I, s:s?, s:I}", "key", r->top[i].key, "tokens",
						    (json_int_t)r->top[i].tokens, "text", r->top[i].clean, "cut_77",
						    (json_int_t)r->top[i].cut77));
	json_object_set_new(r->doc, "longest", lj);
	return 0;
}

/* ---- rejects, images, tags, compositions --------------------------------------- */

static int gather_rejects(struct rp *r)
{
	json_t *by = q_objs(r, "select reason, count(*) from rejects group by reason order by 2 desc, 1", "reason,count",
			    NULL);
	/* schema 3 has the path and the details of each reject */
	int v3 = ts_dataset_has_column(r->ds, "rejects", "detail");
	json_t *ex = by ? q_objs(r, v3 ? "select reason, record, source, stage, message, path, detail from"
				 " (select *, row_number() over (partition by reason order by record) rn from rejects)"
				 " where rn <= 5 order by reason, record"
				 : "select reason, record, source, stage, message from"
				 " (select *, row_number() over (partition by reason order by record) rn from rejects)"
				 " where rn <= 5 order by reason, record", "reason,record,source,stage,message,path,detail", NULL)
			: NULL;
	if (!ex) {
		json_decref(by);
		return -1;
	}
	size_t i, k;
	json_t *b, *x;
	json_array_foreach(by, i, b) {
		const char *reason = json_string_value(json_object_get(b, "reason"));
		const char *m = reason ? ts_report_reason_meaning(reason) : NULL;
		json_object_set_new(b, "meaning", m ? json_string(m) : json_null());
		json_t *exs = json_array();
		json_array_foreach(ex, k, x)
			if (reason && json_equal(json_object_get(x, "reason"), json_object_get(b, "reason"))) {
				json_object_del(x, "reason");
				json_array_append(exs, x);
			}
		json_object_set_new(b, "examples", exs);
	}
	json_decref(ex);
	json_object_set_new(r->doc, "rejects_by_reason", by);
	return 0;
}

/* One scan of samples grouped by everything the images section counts;
 * the groups are few (formats x stored sizes x cells), summed here. */
struct imgacc {
	json_t *formats, *sizes;         /* name -> count, "WxH" -> count */
	uint64_t cells[24 * 24], aspect[8];
};

static const char *const aspect_names[8] = { "< 1:2", "1:2 - 3:4", "3:4 - 1:1", "square", "1:1 - 4:3",
					     "4:3 - 16:9", "16:9 - 2:1", "> 2:1" };

static void bump(json_t *o, const char *k, int64_t n)
{
	json_t *v = json_object_get(o, k);
	json_object_set_new(o, k, json_integer((v ? json_integer_value(v) : 0) + n));
}

static int img_row(const struct ts_dataset_row *row, void *user)
{
	struct imgacc *a = user;
	int64_t n = ts_dataset_row_int(row, 6);
	char k[64];
	const char *fmt = ts_dataset_row_text(row, 0);
	bump(a->formats, fmt ? fmt : "(none)", n);
	snprintf(k, sizeof(k), "%" PRId64 "x%" PRId64, ts_dataset_row_int(row, 1), ts_dataset_row_int(row, 2));
	bump(a->sizes, k, n);
	if (!ts_dataset_row_is_null(row, 3)) {
		int64_t x = ts_dataset_row_int(row, 3), y = ts_dataset_row_int(row, 4), q = ts_dataset_row_int(row, 5);
		if (x >= 0 && x < 24 && y >= 0 && y < 24)
			a->cells[y * 24 + x] += (uint64_t)n;
		if (q >= 0 && q < 8)
			a->aspect[q] += (uint64_t)n;
	}
	return 0;
}

/* samples.fixes values (docs/formats.md), in their order */
static const struct { const char *name, *meaning; } fix_names[] = {
	{ "orientation", "EXIF orientation applied (rotated or mirrored)" },
	{ "cmyk", "CMYK or YCCK converted to RGB" },
	{ "alpha", "transparency composited on white" },
	{ "16bit", "16 bits per channel reduced to 8" },
	{ "gray", "grayscale expanded to RGB" },
	{ "palette", "palette expanded to RGB" },
	{ "animated", "first frame of an animation kept" },
};

struct kv {
	const char *k;
	json_int_t n;
};

static int cmp_kv(const void *x, const void *y)
{
	const struct kv *a = x, *b = y;
	return a->n != b->n ? (a->n < b->n ? 1 : -1) : strcmp(a->k, b->k);
}

/* An object of counts as an array of {key: name, count: n}, most first,
 * at most max entries. */
static json_t *sorted_counts(json_t *o, const char *key, size_t max, int sizes)
{
	size_t n = json_object_size(o), i = 0;
	struct kv *v = calloc(n ? n : 1, sizeof(*v));
	json_t *arr = json_array(), *x;
	const char *k;
	if (!v)
		return arr;
	json_object_foreach(o, k, x)
		v[i++] = (struct kv){ k, json_integer_value(x) };
	qsort(v, n, sizeof(*v), cmp_kv);
	for (i = 0; i < n && i < max; i++) {
		json_t *e = json_object();
		if (sizes) {
			long long w = 0, h = 0;
			sscanf(v[i].k, "%lldx%lld", &w, &h);
			json_object_set_new(e, "width", json_integer(w));
			json_object_set_new(e, "height", json_integer(h));
		} else {
			json_object_set_new(e, key, json_string(v[i].k));
		}
		json_object_set_new(e, "count", json_integer(v[i].n));
		json_array_append_new(arr, e);
	}
	free(v);
	return arr;
}

static int gather_images(struct rp *r)
{
	json_t *im = json_object();
	json_object_set_new(r->doc, "images", im);
	long long b = nice_bin(r->max_orig, 24);
	char sql[2048];
	snprintf(sql, sizeof(sql),
		 "select format, width, height, min(orig_width / %lld, 23), min(orig_height / %lld, 23),"
		 " case when r < 0.5 then 0 when r < 0.75 then 1 when r < 0.95 then 2 when r <= 1.05 then 3"
		 " when r <= 1.34 then 4 when r <= 1.78 then 5 when r <= 2.0 then 6 else 7 end, count(*) from"
		 " (select format, width, height, case when orig_width > 0 and orig_height > 0 then orig_width end orig_width,"
		 " orig_height, orig_width * 1.0 / orig_height r from samples) group by 1, 2, 3, 4, 5, 6", b, b);
	struct imgacc a = { .formats = json_object(), .sizes = json_object() };
	if (ts_dataset_query(r->ds, sql, NULL, 0, img_row, &a, r->e)) {
		json_decref(a.formats);
		json_decref(a.sizes);
		return -1;
	}
	json_object_set_new(im, "formats", sorted_counts(a.formats, "format", SIZE_MAX, 0));
	json_object_set_new(im, "output_sizes", sorted_counts(a.sizes, NULL, 10, 1));
	json_decref(a.formats);
	json_decref(a.sizes);
	json_t *asp = json_array(), *cells = json_array();
	for (int q = 0; q < 8; q++)
		if (a.aspect[q])
			json_array_append_new(asp, json_pack("{s:s, s:I}", "ratio", aspect_names[q], "count",
							     (json_int_t)a.aspect[q]));
	for (int y = 0; y < 24; y++)
		for (int x = 0; x < 24; x++)
			if (a.cells[y * 24 + x])
				json_array_append_new(cells, json_pack("{s:i, s:i, s:I}", "x", x, "y", y, "count",
								       (json_int_t)a.cells[y * 24 + x]));
	json_object_set_new(im, "aspect_ratios", asp);
	/* source formats and what decoding fixed (catalog version 4) */
	if (ts_dataset_has_column(r->ds, "samples", "fixes")) {
		json_t *sf = q_objs(r, "select coalesce(source_format, '(not recorded)'), count(*) from samples"
				    " group by 1 order by 2 desc, 1", "format,count", NULL);
		if (!sf)
			return -1;
		json_object_set_new(im, "source_formats", sf);
		char fsql[1024];
		size_t fn = (size_t)snprintf(fsql, sizeof(fsql), "select count(fixes), sum(fixes = '')");
		for (size_t k = 0; k < sizeof(fix_names) / sizeof(fix_names[0]); k++)
			fn += (size_t)snprintf(fsql + fn, sizeof(fsql) - fn,
					       ", sum(instr(',' || fixes || ',', ',%s,') > 0)", fix_names[k].name);
		snprintf(fsql + fn, sizeof(fsql) - fn, " from samples");
		int64_t fv[2 + sizeof(fix_names) / sizeof(fix_names[0])] = { 0 };
		if (q_ints(r, fsql, fv))
			return -1;
		json_t *fx = json_pack("{s:I, s:I}", "recorded", (json_int_t)fv[0], "unchanged", (json_int_t)fv[1]);
		json_t *by = json_array();
		for (size_t k = 0; k < sizeof(fix_names) / sizeof(fix_names[0]); k++)
			json_array_append_new(by, json_pack("{s:s, s:I}", "fix", fix_names[k].name, "count",
							    (json_int_t)fv[2 + k]));
		json_object_set_new(fx, "by_fix", by);
		json_object_set_new(im, "fixes", fx);
	}
	json_object_set_new(im, "original_sizes", json_pack("{s:I, s:o}", "bin", (json_int_t)b, "cells", cells));
	/* the stored image members' sizes (not masks or tag masks), in power-of-two bins, one scan */
	char cases[1024];
	size_t n = (size_t)snprintf(cases, sizeof(cases), "case");
	for (int k = 10; k < 30; k++)
		n += (size_t)snprintf(cases + n, sizeof(cases) - n, " when size < %lld then %d", 1LL << k, k - 10);
	snprintf(cases + n, sizeof(cases) - n, " else 20 end");
	snprintf(sql, sizeof(sql), "select %s, count(*), sum(size), min(size), max(size) from members"
		 " where name glob '*[0-9].jpg' or name glob '*[0-9].png' or name glob '*[0-9].webp' group by 1 order by 1",
		 cases);
	json_t *rows = q_objs(r, sql, "bin,count,total,min,max", NULL);
	if (!rows)
		return -1;
	json_int_t cnt = 0, tot = 0, mn = 0, mx = 0;
	json_t *bins = json_array(), *x;
	size_t i;
	json_array_foreach(rows, i, x) {
		json_int_t k = json_integer_value(json_object_get(x, "bin"));
		cnt += json_integer_value(json_object_get(x, "count"));
		tot += json_integer_value(json_object_get(x, "total"));
		if (i == 0)
			mn = json_integer_value(json_object_get(x, "min"));
		mx = json_integer_value(json_object_get(x, "max"));
		json_array_append_new(bins, json_pack("{s:I, s:I, s:O}", "from", k ? (json_int_t)1 << (k + 9) : 0, "to",
						      ((json_int_t)1 << (k + 10)) - 1, "count", json_object_get(x, "count")));
	}
	json_decref(rows);
	json_object_set_new(im, "image_bytes", json_pack("{s:I, s:I, s:I, s:I, s:o}", "count", cnt, "total", tot, "min", mn,
							 "max", mx, "bins", bins));
	return 0;
}

static int gather_tags(struct rp *r)
{
	r->has_tags = ts_dataset_has_column(r->ds, "tags", NULL);
	r->has_scores = ts_dataset_has_column(r->ds, "tag_scores", NULL);
	r->has_comp = ts_dataset_has_column(r->ds, "compositions", NULL);
	r->has_join = r->has_comp && ts_dataset_has_column(r->ds, "compositions", "join_spans");
	if (r->has_comp) {
		json_t *c = q_objs(r, "select mode, count(*) from compositions group by 1 order by 2 desc", "mode,count", NULL);
		if (!c)
			return -1;
		if (json_array_size(c))
			json_object_set_new(r->doc, "compositions", c);
		else
			json_decref(c);
	}
	if (!r->has_tags)
		return 0;
	int64_t t[4] = { 0 };
	if (q_ints(r, "select count(*), count(distinct lemma), (select count(*) from (select 1 from tags group by key, caption)),"
		   " 0 from tags", t))
		return -1;
	if (t[0] == 0) {
		r->has_tags = 0;
		return 0;
	}
	/* as `tags stats`: the captions of samples that have a KEY.tags.json */
	int64_t c[2] = { 0 };
	if (q_ints(r, "select count(*), coalesce(sum(case when json_valid(captions) and json_array_length(captions) > 0"
		   " then json_array_length(captions) else 1 end), 0) from samples where key in"
		   " (select key from members where name = key || '.tags.json')", c))
		return -1;
	json_t *tj = json_object();
	json_object_set_new(tj, "samples", json_integer(c[0]));
	json_object_set_new(tj, "captions", json_integer(c[1]));
	json_object_set_new(tj, "tags", json_integer(t[0]));
	json_object_set_new(tj, "distinct", json_integer(t[1]));
	json_object_set_new(tj, "captions_without_tags", json_integer(c[1] - t[2]));
	json_object_set_new(tj, "share_0_tags", json_real(c[1] ? (double)(c[1] - t[2]) / (double)c[1] : 0));
	json_object_set_new(tj, "tags_per_caption", json_real(c[1] ? (double)t[0] / (double)c[1] : 0));
	json_t *top = q_objs(r, "select lemma, count(*) from tags group by lemma order by 2 desc, 1 limit 20", "lemma,count",
			     NULL);
	json_t *per = top ? q_objs(r, "select n, count(*) from (select count(*) n from tags group by key, caption)"
				   " group by n order by n", "tags,captions", NULL) : NULL;
	if (!per) {
		json_decref(top);
		json_decref(tj);
		return -1;
	}
	if (c[1] - t[2] > 0)
		json_array_insert_new(per, 0, json_pack("{s:i, s:I}", "tags", 0, "captions", (json_int_t)(c[1] - t[2])));
	json_object_set_new(tj, "top", top);
	json_object_set_new(tj, "per_caption", per);
	json_object_set_new(r->doc, "tags", tj);
	return 0;
}

/* ---- contact sheet ------------------------------------------------------------- */

static int cmp_sheet(const void *a, const void *b)
{
	const struct sheet_item *x = a, *y = b;
	return x->record < y->record ? -1 : x->record > y->record;
}

/* A JPEG (q80) thumbnail with long side at most size, as a data URI
 * (malloc'ed), and its size; NULL with err set when it does not decode. */
static char *thumb_uri(struct rp *r, const uint8_t *data, size_t len, int size, int *w, int *h)
{
	struct ts_image_info info;
	const uint8_t *out;
	size_t olen;
	if (ts_decode(r->px, data, len, MAX_PIXELS, size, size, &r->img, &info, r->e))
		return NULL;
	int sw = r->img.width, sh = r->img.height;
	double s = sw > sh ? (double)size / sw : (double)size / sh;
	if (s > 1)
		s = 1;
	*w = (int)lround(sw * s);
	*h = (int)lround(sh * s);
	if (*w < 1)
		*w = 1;
	if (*h < 1)
		*h = 1;
	if (ts_resample(&r->img, *w, *h, &r->small, r->e) ||
	    ts_encode(r->px, &r->small, TS_FMT_JPEG, 80, &out, &olen, r->e))
		return NULL;
	size_t blen = sodium_base64_ENCODED_LEN(olen, sodium_base64_VARIANT_ORIGINAL);
	char *uri = malloc(blen + 32);
	if (!uri)
		return NULL;
	strcpy(uri, "data:image/jpeg;base64,");
	sodium_bin2base64(uri + strlen(uri), blen, out, olen, sodium_base64_VARIANT_ORIGINAL);
	return uri;
}

static int first_row(const struct ts_dataset_row *row, void *user)
{
	json_t **o = user;
	*o = json_object();
	static const char *const k[] = { "key", "caption", "captions", "width", "height", "format", "source" };
	for (int i = 0; i < 7; i++)
		json_object_set_new(*o, k[i], col_json(row, i));
	return 1;
}

/* The sheet's samples as JSON (what the page shows of each; thumbnails are
 * added as "thumb" only for the HTML). */
static json_t *sheet_sample(struct rp *r, const char *key, int with_images)
{
	json_t *s = NULL;
	const char *p[1] = { key };
	if (ts_dataset_query(r->ds, "select key, caption, captions, width, height, format, source from samples"
			     " where key = ?1", p, 1, first_row, &s, r->e) < 0 || !s)
		return NULL;
	if (r->has_comp) {
		json_t *c = q_objs(r, r->has_join ? "select mode, regions, join_spans from compositions where key = ?1"
					  : "select mode, regions, null from compositions where key = ?1",
				   "mode,regions,join_spans", key);
		if (c && json_array_size(c)) {
			json_t *row = json_array_get(c, 0);
			json_t *regions = json_loads(json_string_value(json_object_get(row, "regions")) ?
						     json_string_value(json_object_get(row, "regions")) : "[]", 0, NULL);
			const char *spans = json_string_value(json_object_get(row, "join_spans"));
			json_t *join = spans ? json_loads(spans, 0, NULL) : NULL;
			json_object_set(s, "mode", json_object_get(row, "mode"));
			json_object_set_new(s, "regions", regions ? regions : json_array());
			/* the caption join spans: the row's, or in a catalog before
			 * version 6 (no join_spans) KEY.json's */
			uint8_t *data = NULL;
			size_t len = 0;
			struct ts_err le = TS_ERR_INIT;
			if (json_is_array(join))
				json_object_set(s, "join", join);
			else if (ts_dataset_read_member(r->ds, key, "json", &data, &len, &le) == 0) {
				json_t *kj = json_loadb((const char *)data, len, 0, NULL);
				if (kj && json_is_array(json_object_get(kj, "join")))
					json_object_set(s, "join", json_object_get(kj, "join"));
				json_decref(kj);
			}
			json_decref(join);
			free(data);
		}
		json_decref(c);
	}
	if (r->has_tags) {
		json_t *t = q_objs(r, "select lemma, text, byte_start, byte_end, region, truncated from tags"
				   " where key = ?1 and caption = 0 order by idx",
				   "lemma,text,byte_start,byte_end,region,truncated", key);
		if (t)
			json_object_set_new(s, "tags", t);
	}
	if (r->has_scores) {
		json_t *t = q_objs(r, "select tag, score, mask from tag_scores where key = ?1 order by tag", "tag,score,mask",
				   key);
		if (t && json_array_size(t))
			json_object_set_new(s, "scores", t);
		else
			json_decref(t);
	}
	if (!with_images)
		return s;
	uint8_t *data = NULL;
	size_t len = 0;
	int w = 0, h = 0;
	struct ts_err le = TS_ERR_INIT;
	struct ts_err *keep = r->e;
	r->e = &le;
	if (ts_dataset_read_member(r->ds, key, NULL, &data, &len, &le) == 0) {
		char *uri = thumb_uri(r, data, len, r->o->thumb, &w, &h);
		if (uri) {
			/* small images (scene-text crops) are shown larger, up to 3x, within the thumbnail size */
			int lng = w > h ? w : h;
			double up = lng ? (double)r->o->thumb / lng : 1;
			if (up > 3)
				up = 3;
			if (up < 1)
				up = 1;
			json_object_set_new(s, "thumb", json_string(uri));
			json_object_set_new(s, "thumb_w", json_integer(lround(w * up)));
			json_object_set_new(s, "thumb_h", json_integer(lround(h * up)));
		}
		free(uri);
	}
	if (le.msg[0]) {
		ts_warning("sample %s: %s", key, le.msg);
		json_object_set_new(s, "thumb_error", json_string(le.msg));
	}
	free(data);
	/* tag masks, small, side by side */
	size_t i;
	json_t *sc;
	json_array_foreach(json_object_get(s, "scores"), i, sc) {
		const char *m = json_string_value(json_object_get(sc, "mask"));
		size_t kl = strlen(key);
		if (!m || strncmp(m, key, kl) || m[kl] != '.')
			continue;
		data = NULL;
		le = (struct ts_err)TS_ERR_INIT;
		if (ts_dataset_read_member(r->ds, key, m + kl + 1, &data, &len, &le) == 0) {
			char *uri = thumb_uri(r, data, len, 48, &w, &h);
			if (uri)
				json_object_set_new(sc, "mask_thumb", json_string(uri));
			free(uri);
		}
		free(data);
	}
	r->e = keep;
	return s;
}

static int gather_sheet(struct rp *r, int with_images)
{
	qsort(r->sheet, r->nsheet, sizeof(*r->sheet), cmp_sheet);
	json_t *arr = json_array();
	json_object_set_new(r->doc, "contact_sheet", json_pack("{s:I, s:o}", "seed", (json_int_t)r->o->seed, "samples", arr));
	if (with_images && !(r->px = ts_pixctx_new()))
		return ts_err_set(r->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (size_t i = 0; i < r->nsheet; i++) {
		json_t *s = sheet_sample(r, r->sheet[i].key, with_images);
		if (!s)
			return -1;
		json_array_append_new(arr, s);
	}
	return 0;
}

/* ---- HTML ------------------------------------------------------------------------ */

static const char css[] =
	"body{font:14px/1.45 'DejaVu Sans',Helvetica,Arial,sans-serif;color:#222;margin:0;background:#fafafa}"
	"main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}"
	"h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ccc;padding-bottom:4px}"
	"h3{font-size:15px;margin:20px 0 6px}"
	"table{border-collapse:collapse;margin:6px 0 12px;background:#fff}td,th{border:1px solid #ddd;padding:3px 8px;"
	"text-align:left;vertical-align:top}th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	"code,.mono{font-family:'DejaVu Sans Mono',monospace;font-size:12px}"
	".chart{display:block;background:#fff;border:1px solid #e4e4e4;margin:6px 0 12px}"
	".chart .bar{fill:#4878a8}.chart .grid{stroke:#eee}.chart .axis{stroke:#888}"
	".chart .tick{font-size:11px;fill:#555}.chart .label{font-size:12px;fill:#333}"
	".chart .limit line{stroke:#c0392b;stroke-width:1.5;stroke-dasharray:4 3}.chart .limit text{font-size:12px;fill:#c0392b;"
	"font-weight:bold}.chart .cell{fill:#4878a8}.chart .frame{fill:none;stroke:#ccc}"
	".cut{color:#c0392b;font-weight:bold}.lost{color:#999;text-decoration:line-through}"
	".sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}"
	".sample{background:#fff;border:1px solid #ddd;padding:6px;margin:0;font-size:12px;overflow-wrap:anywhere}"
	".thumb{position:relative;display:inline-block}.thumb img{display:block}"
	".thumb svg{position:absolute;left:0;top:0}.thumb svg rect{fill:none;stroke-width:2}"
	".key{color:#777;font-size:11px}.tags{margin:4px 0 0;padding:0;list-style:none}"
	".tags li{display:inline-block;background:#eef;border-radius:3px;padding:0 4px;margin:1px 2px;font-size:11px}"
	".masks{display:flex;flex-wrap:wrap;gap:4px;margin-top:4px}.masks span{display:inline-block;text-align:center;font-size:10px;"
	"color:#555}.masks img{display:block;margin:0 auto 1px;border:1px solid #ccc}mark{background:none;border-bottom:2px solid #888}"
	".r1{color:#b35300}.r2{color:#12775a}.r3{color:#5b53a6}.r4{color:#b01b6a}"
	"li.r1{background:#fde8d6}li.r2{background:#d9f2ea}li.r3{background:#e6e4f5}li.r4{background:#f8dcea}"
	".note{color:#666;font-size:12px}nav a{margin-right:12px}";

static const char *const region_stroke[] = { "#888", "#e66101", "#1b9e77", "#7570b3", "#e7298a" };

static void esc_json_str(FILE *f, json_t *v)
{
	if (json_is_string(v))
		ts_html_text(f, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v))
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		fprintf(f, "%g", json_real_value(v));
}

static long long ji(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* 1234567 as "1,234,567" into buf (>= 32 bytes); returns buf. */
static char *num(char *buf, long long v)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%lld", v < 0 ? -v : v), o = 0;
	if (v < 0)
		buf[o++] = '-';
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = t[i];
	}
	buf[o] = 0;
	return buf;
}

static void fmt_bytes(char *buf, size_t n, long long b)
{
	if (b >= 1LL << 30)
		snprintf(buf, n, "%.2f GiB", (double)b / (1 << 30));
	else if (b >= 1 << 20)
		snprintf(buf, n, "%.2f MiB", (double)b / (1 << 20));
	else if (b >= 1 << 10)
		snprintf(buf, n, "%.1f KiB", (double)b / (1 << 10));
	else
		snprintf(buf, n, "%lld B", b);
}

static void html_header(FILE *f, json_t *d)
{
	char b[64];
	fputs("<h1>tessera report: <span class=\"mono\" id=\"dataset-path\">", f);
	esc_json_str(f, json_object_get(d, "dataset"));
	fputs("</span></h1>\n<nav><a href=\"#captions\">captions</a><a href=\"#rejects\">rejects</a>"
	      "<a href=\"#images\">images</a><a href=\"#sheet\">contact sheet</a>", f);
	if (json_object_get(d, "tags"))
		fputs("<a href=\"#tags\">tags</a>", f);
	fputs("</nav>\n<table id=\"totals\"><tr><th>samples</th><th>shards</th><th>bytes</th><th>rejects</th>"
	      "<th>kind</th><th>catalog schema</th></tr>\n", f);
	char n1[32], n2[32], n3[32], n4[32];
	fmt_bytes(b, sizeof(b), ji(d, "bytes"));
	fprintf(f, "<tr><td class=\"n\" id=\"n-samples\">%s</td><td class=\"n\" id=\"n-shards\">%s</td>"
		"<td class=\"n\" title=\"%s bytes\">%s</td><td class=\"n\" id=\"n-rejects\">%s</td><td>%s</td>"
		"<td class=\"n\">%lld</td></tr></table>\n",
		num(n1, ji(d, "samples")), num(n2, ji(d, "shards")), num(n3, ji(d, "bytes")), b, num(n4, ji(d, "rejects")),
		json_string_value(json_object_get(d, "kind")), ji(d, "schema_version"));
	json_t *part = json_object_get(d, "part");
	if (part)
		fprintf(f, "<p>This dataset is part %lld of %lld of a partitioned ingest.</p>\n", ji(part, "index"),
			ji(part, "count"));
	size_t i;
	json_t *x;
	json_t *mp = json_object_get(d, "merged_parts");
	if (json_array_size(mp)) {
		fprintf(f, "<h3>Merged from %zu partitions</h3>\n<table id=\"parts\"><tr><th>part</th><th>partition</th>"
			"<th>samples</th><th>rejects</th></tr>\n", json_array_size(mp));
		json_array_foreach(mp, i, x) {
			fprintf(f, "<tr><td class=\"n\">%lld</td><td class=\"mono\">", ji(x, "part"));
			esc_json_str(f, json_object_get(x, "path"));
			fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n", num(n1, ji(x, "samples")),
				num(n2, ji(x, "rejects")));
		}
		fputs("</table>\n", f);
	}
	fputs("<h3>Runs</h3>\n<table id=\"runs\"><tr><th>#</th><th>command</th><th>version</th><th>started</th>"
	      "<th>ended</th><th>status</th></tr>\n", f);
	json_array_foreach(json_object_get(d, "runs"), i, x) {
		static const char *const k[] = { "id", "command", "version", "started", "ended", "status" };
		fputs("<tr>", f);
		for (int c = 0; c < 6; c++) {
			fputs(c == 1 ? "<td class=\"mono\">" : "<td>", f);
			esc_json_str(f, json_object_get(x, k[c]));
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	json_t *sl = json_object_get(d, "shard_list");
	fprintf(f, "</table>\n<details%s><summary><b>Shards</b> (%zu)</summary>\n<table id=\"shards\"><tr><th>shard</th>"
		"<th>samples</th><th>bytes</th><th>records</th><th>complete</th></tr>\n",
		json_array_size(sl) <= 10 ? " open" : "", json_array_size(sl));
	json_array_foreach(sl, i, x) {
		if (i == 50) {
			fprintf(f, "<tr><td colspan=\"5\">... and %zu more shards (all in --json)</td></tr>\n",
				json_array_size(sl) - 50);
			break;
		}
		fmt_bytes(b, sizeof(b), ji(x, "bytes"));
		fputs("<tr><td class=\"mono\">", f);
		esc_json_str(f, json_object_get(x, "name"));
		fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%lld-%lld</td><td>%s</td></tr>\n",
			num(n1, ji(x, "samples")), b, ji(x, "first_record"), ji(x, "end_record"), ji(x, "complete") ? "yes" : "no");
	}
	fputs("</table></details>\n", f);
}

static void html_caption_block(FILE *f, json_t *c, const char *id, const char *title)
{
	json_t *tk = json_object_get(c, "tokens"), *ctx = json_object_get(c, "contexts");
	size_t i, nb;
	json_t *x;
	char n1[32], n2[32];
	fprintf(f, "<h3>%s</h3>\n<p>%s captions; tokens per caption (SOT and EOT included): mean %.2f, min %lld",
		title, num(n1, ji(c, "captions")), json_real_value(json_object_get(tk, "mean")), ji(tk, "min"));
	if (json_object_get(tk, "median"))
		fprintf(f, ", median %lld, p90 %lld, p99 %lld", ji(tk, "median"), ji(tk, "p90"), ji(tk, "p99"));
	fprintf(f, ", max %lld.", ji(tk, "max"));
	if (ji(c, "blank") || ji(c, "unreadable"))
		fprintf(f, " Not counted: %lld blank, %lld unreadable.", ji(c, "blank"), ji(c, "unreadable"));
	fputs("</p>\n", f);
	json_t *bins = json_object_get(json_object_get(c, "histogram"), "bins");
	nb = json_array_size(bins);
	struct ts_svg_bin *sb = calloc(nb ? nb : 1, sizeof(*sb));
	struct ts_svg_mark mk[TS_CSTATS_MAX_CONTEXTS];
	char labels[TS_CSTATS_MAX_CONTEXTS][64];
	size_t nm = 0;
	if (!sb)
		return;
	json_array_foreach(bins, i, x)
		sb[i] = (struct ts_svg_bin){ ji(x, "from"), ji(x, "to"), (uint64_t)ji(x, "count") };
	json_array_foreach(ctx, i, x) {
		if (nm == TS_CSTATS_MAX_CONTEXTS)
			break;
		snprintf(labels[nm], sizeof(labels[nm]), "%lld tokens: %.1f%% of captions over", ji(x, "context"),
			 100 * json_real_value(json_object_get(x, "over_share")));
		mk[nm] = (struct ts_svg_mark){ ji(x, "context"), labels[nm] };
		nm++;
	}
	/* the axis reaches 80 (so 20 and 77 are drawn in place); 248 only when captions get near it */
	long long xmax = nb ? sb[nb - 1].to + 1 : 0;
	xmax = xmax < 80 ? 80 : xmax > 250 ? xmax : xmax > 120 ? 252 : xmax;
	ts_svg_histogram(f, sb, nb, mk, nm, xmax, "CLIP tokens per caption (SOT and EOT included)", id);
	free(sb);
	fputs("<table class=\"contexts\"><tr><th>context</th><th>captions over it</th><th>share</th><th>tokens lost</th>"
	      "<th>share of content tokens</th><th>words lost</th><th>share of words</th></tr>\n", f);
	json_array_foreach(ctx, i, x) {
		fprintf(f, "<tr><td class=\"n\">%lld</td><td class=\"n\">%s</td><td class=\"n\">%.2f%%</td>"
			"<td class=\"n\">%s</td><td class=\"n\">%.2f%%</td>",
			ji(x, "context"), num(n1, ji(x, "over")), 100 * json_real_value(json_object_get(x, "over_share")),
			num(n2, ji(x, "tokens_lost")), 100 * json_real_value(json_object_get(x, "tokens_lost_share")));
		if (json_object_get(x, "words_lost"))
			fprintf(f, "<td class=\"n\">%s</td><td class=\"n\">%.2f%%</td></tr>\n", num(n1, ji(x, "words_lost")),
				100 * json_real_value(json_object_get(x, "words_lost_share")));
		else
			fputs("<td>-</td><td>-</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	json_t *sh = json_object_get(json_object_get(c, "sentences"), "histogram");
	if (sh && json_object_size(sh)) {
		const char *lab[11];
		char lb[11][24];
		uint64_t cnt[11] = { 0 };
		size_t n = 0;
		const char *k;
		json_t *v;
		json_object_foreach(sh, k, v) {
			long s = strtol(k, NULL, 10);
			size_t slot = s >= 10 ? 10 : (size_t)s;
			cnt[slot] += (uint64_t)json_integer_value(v);
			if (slot + 1 > n)
				n = slot + 1;
		}
		size_t m = 0;
		uint64_t cc[11];
		for (size_t s = 1; s < n; s++) {
			snprintf(lb[m], sizeof(lb[m]), s == 10 ? "10 or more sentences" : s == 1 ? "1 sentence" : "%zu sentences", s);
			lab[m] = lb[m];
			cc[m++] = cnt[s];
		}
		fprintf(f, "<p>Sentences per caption: mean %.2f, median %lld, max %lld.</p>\n",
			json_real_value(json_object_get(json_object_get(c, "sentences"), "mean")),
			ji(json_object_get(c, "sentences"), "median"), ji(json_object_get(c, "sentences"), "max"));
		char sid[64];
		snprintf(sid, sizeof(sid), "%s-sentences", id);
		ts_svg_hbars(f, lab, cc, m, sid);
	}
}

static void html_captions(FILE *f, json_t *d)
{
	size_t i;
	json_t *x;
	fputs("<h2 id=\"captions\">Caption lengths in CLIP tokens</h2>\n", f);
	json_t *c = json_object_get(d, "captions");
	if (!strcmp(json_string_value(json_object_get(c, "kind")), "catalog tokens"))
		fputs("<p class=\"note\">No CLIP vocabulary was found: lengths are the catalog's token counts, "
		      "without words lost or sentences.</p>\n", f);
	json_t *ck = json_object_get(d, "catalog_tokens");
	if (ck && ji(ck, "checked"))
		fprintf(f, "<p class=\"note\">Every caption was tokenized; the catalog's token counts agree for %lld of %lld.</p>\n",
			ji(ck, "checked") - ji(ck, "differ"), ji(ck, "checked"));
	html_caption_block(f, c, "hist-tokens", "Primary captions");
	if (json_object_get(d, "short_captions")) {
		html_caption_block(f, json_object_get(d, "short_captions"), "hist-short", "Short captions (captions split)");
		html_caption_block(f, json_object_get(d, "long_captions"), "hist-long",
				   "Long captions (the primary captions of the split samples)");
	}
	json_t *l = json_object_get(d, "longest");
	if (!json_array_size(l))
		return;
	fputs("<h3>The ten longest captions, cut where a 77-token context ends</h3>\n"
	      "<p class=\"note\">As the tokenizer sees them (cleaned, lower case); the struck-out part is what CLIP "
	      "with 77 tokens never reads.</p>\n<table id=\"longest\"><tr><th>key</th><th>tokens</th><th>caption</th></tr>\n", f);
	json_array_foreach(l, i, x) {
		const char *t = json_string_value(json_object_get(x, "text"));
		size_t tl = json_string_length(json_object_get(x, "text")), cut = (size_t)ji(x, "cut_77");
		if (!t)
			continue;
		if (cut > tl)
			cut = tl;
		fputs("<tr><td class=\"mono\">", f);
		esc_json_str(f, json_object_get(x, "key"));
		fprintf(f, "</td><td class=\"n\">%lld</td><td>", ji(x, "tokens"));
		ts_html_text(f, t, cut);
		if (cut < tl) {
			/* at most 400 bytes of what is lost (cut at a character boundary) */
			size_t show = tl - cut;
			if (show > 400) {
				show = 400;
				while (show > 0 && ((unsigned char)t[cut + show] & 0xc0) == 0x80)
					show--;
			}
			fputs("<span class=\"cut\" title=\"77-token context ends here\">\xe2\x9c\x82</span><span class=\"lost\">", f);
			ts_html_text(f, t + cut, show);
			fputs("</span>", f);
			if (show < tl - cut) {
				char n1[32];
				fprintf(f, " <span class=\"note\">... and %s more bytes</span>", num(n1, (long long)(tl - cut - show)));
			}
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

/* Documentation text: escaped, `code` spans as <code>. */
static void doc_text(FILE *f, const char *s)
{
	int in = 0;
	for (const char *p = s; *p;) {
		const char *q = strchr(p, '`');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		ts_html_text(f, p, n);
		if (!q)
			break;
		fputs(in ? "</code>" : "<code>", f);
		in = !in;
		p = q + 1;
	}
	if (in)
		fputs("</code>", f);
}

/* A horizontal bar chart of an array of objects: label from key, length
 * from "count". */
static void html_bars(FILE *f, json_t *arr, const char *key, const char *id)
{
	size_t i, n = json_array_size(arr);
	json_t *x;
	const char **lab = calloc(n ? n : 1, sizeof(*lab));
	uint64_t *cnt = calloc(n ? n : 1, sizeof(*cnt));
	if (lab && cnt) {
		json_array_foreach(arr, i, x) {
			lab[i] = json_string_value(json_object_get(x, key));
			cnt[i] = (uint64_t)ji(x, "count");
		}
		ts_svg_hbars(f, lab, cnt, n, id);
	}
	free(lab);
	free(cnt);
}

static void html_rejects(FILE *f, json_t *d)
{
	json_t *by = json_object_get(d, "rejects_by_reason");
	size_t i, k, n = json_array_size(by);
	json_t *x, *e;
	char n0[32];
	fprintf(f, "<h2 id=\"rejects\">Rejects</h2>\n<p>%s input records did not become samples. Reasons and their "
		"meanings are those of <code>docs/formats.md</code>, section <i>Reject reasons</i>.</p>\n", num(n0, ji(d, "rejects")));
	if (!n)
		return;
	html_bars(f, by, "reason", "rejects-chart");
	fputs("<table id=\"rejects-table\"><tr><th>reason</th><th>count</th><th>meaning</th><th>examples</th></tr>\n", f);
	json_array_foreach(by, i, x) {
		fputs("<tr class=\"reject\"><td class=\"mono reason\"><a href=\"#reason-", f);
		esc_json_str(f, json_object_get(x, "reason"));
		fputs("\" id=\"reason-", f);
		esc_json_str(f, json_object_get(x, "reason"));
		fputs("\">", f);
		esc_json_str(f, json_object_get(x, "reason"));
		char n1[32];
		fprintf(f, "</a></td><td class=\"n count\">%s</td><td>", num(n1, ji(x, "count")));
		if (json_is_string(json_object_get(x, "meaning")))
			doc_text(f, json_string_value(json_object_get(x, "meaning")));
		else
			fputs("<i>not documented</i>", f);
		fputs("</td><td><ul>", f);
		json_array_foreach(json_object_get(x, "examples"), k, e) {
			fprintf(f, "<li>record %lld, <span class=\"mono\">", ji(e, "record"));
			esc_json_str(f, json_object_get(e, "source"));
			fputs("</span> (", f);
			esc_json_str(f, json_object_get(e, "stage"));
			fputs("): ", f);
			esc_json_str(f, json_object_get(e, "message"));
			json_t *path = json_object_get(e, "path"), *det = json_object_get(e, "detail");
			if (json_is_string(path) && !json_equal(path, json_object_get(e, "source"))) {
				fputs(" <span class=\"note\">file <span class=\"mono\">", f);
				esc_json_str(f, path);
				fputs("</span></span>", f);
			}
			if (json_is_string(det)) {
				fputs(" <span class=\"note mono\">", f);
				esc_json_str(f, det);
				fputs("</span>", f);
			}
			fputs("</li>", f);
		}
		fputs("</ul></td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void html_count_table(FILE *f, json_t *arr, const char *id, const char *k1, const char *h1)
{
	size_t i;
	json_t *x;
	fprintf(f, "<table id=\"%s\"><tr><th>%s</th><th>samples</th></tr>\n", id, h1);
	json_array_foreach(arr, i, x) {
		fputs("<tr><td>", f);
		esc_json_str(f, json_object_get(x, k1));
		char n1[32];
		fprintf(f, "</td><td class=\"n\">%s</td></tr>\n", num(n1, ji(x, "count")));
	}
	fputs("</table>\n", f);
}

static void html_images(FILE *f, json_t *d)
{
	json_t *im = json_object_get(d, "images"), *os = json_object_get(im, "original_sizes");
	size_t i;
	json_t *x;
	fputs("<h2 id=\"images\">Images</h2>\n<h3>Original sizes (after EXIF orientation)</h3>\n", f);
	long long b = ji(os, "bin");
	int nx = 1, ny = 1;
	json_array_foreach(json_object_get(os, "cells"), i, x) {
		if (ji(x, "x") + 1 > nx)
			nx = (int)ji(x, "x") + 1;
		if (ji(x, "y") + 1 > ny)
			ny = (int)ji(x, "y") + 1;
	}
	nx = nx > ny ? nx : ny;
	ny = nx;
	uint64_t *cells = calloc((size_t)nx * (size_t)ny, sizeof(*cells));
	if (cells) {
		json_array_foreach(json_object_get(os, "cells"), i, x)
			cells[ji(x, "y") * nx + ji(x, "x")] += (uint64_t)ji(x, "count");
		char xl[80], yl[80];
		snprintf(xl, sizeof(xl), "original width, px (cells of %lld; the last holds the rest)", b);
		snprintf(yl, sizeof(yl), "original height, px");
		ts_svg_heatmap(f, cells, nx, ny, b, b, xl, yl, "orig-sizes");
		free(cells);
	}
	fputs("<h3>Aspect ratios (original width : height)</h3>\n", f);
	html_bars(f, json_object_get(im, "aspect_ratios"), "ratio", "aspect-chart");
	size_t n;
	json_t *fx = json_object_get(im, "fixes");
	if (fx) {
		fputs("<h3>Sources and what decoding fixed</h3>\n<div style=\"display:flex;gap:24px;flex-wrap:wrap\"><div>", f);
		html_count_table(f, json_object_get(im, "source_formats"), "source-formats", "format", "source format");
		fputs("</div><div><table id=\"fixes\"><tr><th>fixed</th><th>samples</th><th>meaning</th></tr>\n", f);
		char n1[32];
		json_array_foreach(json_object_get(fx, "by_fix"), i, x) {
			const char *name = json_string_value(json_object_get(x, "fix")), *meaning = "";
			for (size_t k = 0; k < sizeof(fix_names) / sizeof(fix_names[0]); k++)
				if (!strcmp(fix_names[k].name, name))
					meaning = fix_names[k].meaning;
			fprintf(f, "<tr><td>%s</td><td class=\"n\">%s</td><td>%s</td></tr>\n", name,
				num(n1, ji(x, "count")), meaning);
		}
		fprintf(f, "<tr><td>nothing</td><td class=\"n\">%s</td><td>8-bit RGB without EXIF rotation, or kept as"
			" it came</td></tr>\n", num(n1, ji(fx, "unchanged")));
		long long nrec = ji(d, "samples") - ji(fx, "recorded");
		if (nrec > 0)
			fprintf(f, "<tr><td>not recorded</td><td class=\"n\">%s</td><td>composites, scene-text crops"
				" and samples written before catalog version 4</td></tr>\n", num(n1, nrec));
		fputs("</table><p class=\"note\">A sample can have several fixes; from <code>samples.fixes</code>.</p>"
		      "</div></div>\n", f);
	}
	fputs("<h3>Stored images</h3>\n<div style=\"display:flex;gap:24px;flex-wrap:wrap\"><div>", f);
	html_count_table(f, json_object_get(im, "formats"), "formats", "format", "format");
	fputs("</div><div><table id=\"output-sizes\"><tr><th>stored size</th><th>samples</th></tr>\n", f);
	json_array_foreach(json_object_get(im, "output_sizes"), i, x) {
		char n1[32];
		fprintf(f, "<tr><td>%lld x %lld</td><td class=\"n\">%s</td></tr>\n", ji(x, "width"), ji(x, "height"),
			num(n1, ji(x, "count")));
	}
	fputs("</table></div></div>\n", f);
	json_t *ib = json_object_get(im, "image_bytes");
	char b1[32], b2[32], b3[32];
	fmt_bytes(b1, sizeof(b1), ji(ib, "count") ? ji(ib, "total") / ji(ib, "count") : 0);
	fmt_bytes(b2, sizeof(b2), ji(ib, "min"));
	fmt_bytes(b3, sizeof(b3), ji(ib, "max"));
	fprintf(f, "<p>Image members: %lld, mean %s, min %s, max %s.</p>\n", ji(ib, "count"), b1, b2, b3);
	/* power-of-two bins from the smallest to the largest, empty ones included */
	json_t *bins = json_object_get(ib, "bins");
	n = json_array_size(bins);
	if (!n)
		return;
	long long lo = ji(json_array_get(bins, 0), "to"), hi = ji(json_array_get(bins, n - 1), "to");
	char lb[24][40];
	const char *bl[24];
	uint64_t bc[24] = { 0 };
	size_t m = 0;
	for (long long to = lo; to <= hi && m < 24; to = to * 2 + 1, m++) {
		char a1[16], a2[16];
		long long from = to < 1024 ? 0 : (to + 1) / 2;
		fmt_bytes(a1, sizeof(a1), from);
		fmt_bytes(a2, sizeof(a2), to + 1);
		snprintf(lb[m], sizeof(lb[m]), from ? "%s - %s" : "under %s", from ? a1 : a2, a2);
		bl[m] = lb[m];
		json_array_foreach(bins, i, x)
			if (ji(x, "to") == to)
				bc[m] = (uint64_t)ji(x, "count");
	}
	ts_svg_hbars(f, bl, bc, m, "image-bytes");
}

/* A caption with its composite parts coloured by region (join spans) and
 * its tags marked (byte spans). */
static void html_caption_parts(FILE *f, json_t *s)
{
	json_t *cap = json_object_get(s, "caption");
	const char *t = json_string_value(cap);
	size_t len = json_string_length(cap);
	if (!t)
		return;
	unsigned char *reg = calloc(len + 1, 1), *tag = calloc(len + 1, 1);
	if (!reg || !tag) {
		free(reg);
		free(tag);
		ts_html_text(f, t, len);
		return;
	}
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(s, "join"), i, x) {
		size_t a = (size_t)json_integer_value(json_array_get(x, 0)), b = (size_t)json_integer_value(json_array_get(x, 1));
		for (size_t k = a; k < b && k < len; k++)
			reg[k] = (unsigned char)(i + 1 < 4 ? i + 1 : 4);
	}
	json_array_foreach(json_object_get(s, "tags"), i, x) {
		size_t a = (size_t)ji(x, "byte_start"), b = (size_t)ji(x, "byte_end");
		for (size_t k = a; k < b && k < len; k++)
			tag[k] = 1;
	}
	size_t k = 0;
	while (k < len) {
		size_t e = k;
		while (e < len && reg[e] == reg[k] && tag[e] == tag[k])
			e++;
		if (reg[k])
			fprintf(f, "<span class=\"r%d\">", reg[k]);
		if (tag[k])
			fputs("<mark>", f);
		ts_html_text(f, t + k, e - k);
		if (tag[k])
			fputs("</mark>", f);
		if (reg[k])
			fputs("</span>", f);
		k = e;
	}
	free(reg);
	free(tag);
}

static void html_sheet(FILE *f, json_t *d, int is_str)
{
	json_t *cs = json_object_get(d, "contact_sheet");
	size_t i, k;
	json_t *s, *x;
	fprintf(f, "<h2 id=\"sheet\">Contact sheet</h2>\n<p>%zu samples chosen by a seeded reservoir over the catalog "
		"(seed %lld), in record order.", json_array_size(json_object_get(cs, "samples")), ji(cs, "seed"));
	if (json_object_get(d, "compositions"))
		fputs(" Composites: each source's region is outlined and its part of the caption has its colour.", f);
	if (json_object_get(d, "tags"))
		fputs(" Tags of the first caption are underlined in it and listed below.", f);
	fputs("</p>\n<div class=\"sheet\">\n", f);
	json_array_foreach(json_object_get(cs, "samples"), i, s) {
		fputs("<figure class=\"sample\" data-key=\"", f);
		esc_json_str(f, json_object_get(s, "key"));
		fputs("\"><div class=\"thumb\">", f);
		const char *uri = json_string_value(json_object_get(s, "thumb"));
		long long tw = ji(s, "thumb_w"), th = ji(s, "thumb_h");
		if (uri) {
			fprintf(f, "<img src=\"%s\" width=\"%lld\" height=\"%lld\" alt=\"", uri, tw, th);
			esc_json_str(f, json_object_get(s, "key"));
			fputs("\">", f);
			json_t *regions = json_object_get(s, "regions");
			double sx = ji(s, "width") ? (double)tw / (double)ji(s, "width") : 1;
			double sy = ji(s, "height") ? (double)th / (double)ji(s, "height") : 1;
			if (json_array_size(regions)) {
				fprintf(f, "<svg class=\"regions\" width=\"%lld\" height=\"%lld\" xmlns=\"http://www.w3.org/2000/svg\">",
					tw, th);
				json_array_foreach(regions, k, x) {
					json_t *rect = json_object_get(x, "rect");
					long long rg = ji(x, "region");
					if (json_array_size(rect) != 4)
						continue;
					double x0 = (double)json_integer_value(json_array_get(rect, 0)) * sx;
					double y0 = (double)json_integer_value(json_array_get(rect, 1)) * sy;
					double x1 = (double)json_integer_value(json_array_get(rect, 2)) * sx;
					double y1 = (double)json_integer_value(json_array_get(rect, 3)) * sy;
					fprintf(f, "<rect class=\"region\" data-region=\"%lld\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
						" height=\"%.1f\" stroke=\"%s\"/>", rg, x0 + 1, y0 + 1, x1 - x0 - 2, y1 - y0 - 2,
						region_stroke[rg >= 1 && rg <= 4 ? rg : 0]);
				}
				fputs("</svg>", f);
			}
		} else {
			fputs("<p class=\"note\">no thumbnail: ", f);
			esc_json_str(f, json_object_get(s, "thumb_error"));
			fputs("</p>", f);
		}
		fputs("</div><figcaption><div class=\"key\">", f);
		esc_json_str(f, json_object_get(s, "key"));
		fputs(" &middot; <span class=\"mono\">", f);
		esc_json_str(f, json_object_get(s, "source"));
		fputs("</span></div><div class=\"caption\">", f);
		html_caption_parts(f, s);
		fputs("</div>", f);
		if (is_str) {
			json_t *caps = json_loads(json_string_value(json_object_get(s, "captions")) ?
						  json_string_value(json_object_get(s, "captions")) : "[]", 0, NULL);
			if (json_array_size(caps) > 1) {
				fputs("<div class=\"note\">label filter changed it; original: <b>", f);
				esc_json_str(f, json_array_get(caps, 1));
				fputs("</b></div>", f);
			} else {
				fputs("<div class=\"note\">label kept as is by the filter</div>", f);
			}
			json_decref(caps);
		}
		json_t *tags = json_object_get(s, "tags");
		if (json_array_size(tags)) {
			fputs("<ul class=\"tags\">", f);
			json_array_foreach(tags, k, x) {
				long long rg = ji(x, "region");
				fprintf(f, "<li class=\"r%lld\" title=\"region %lld%s\">", rg >= 1 && rg <= 4 ? rg : 0, rg,
					ji(x, "truncated") ? ", past the context" : "");
				esc_json_str(f, json_object_get(x, "lemma"));
				fputs("</li>", f);
			}
			fputs("</ul>", f);
		}
		json_t *sc = json_object_get(s, "scores");
		if (json_array_size(sc)) {
			fputs("<div class=\"masks\">", f);
			json_array_foreach(sc, k, x) {
				const char *m = json_string_value(json_object_get(x, "mask_thumb"));
				fputs("<span title=\"", f);
				esc_json_str(f, json_object_get(x, "tag"));
				fprintf(f, " %.2f\">", json_real_value(json_object_get(x, "score")));
				if (m)
					fprintf(f, "<img class=\"tagmask\" src=\"%s\" alt=\"mask\">", m);
				esc_json_str(f, json_object_get(x, "tag"));
				fprintf(f, " %.2f</span>", json_number_value(json_object_get(x, "score")));
			}
			fputs("</div>", f);
		}
		fputs("</figcaption></figure>\n", f);
	}
	fputs("</div>\n", f);
}

static void html_tags(FILE *f, json_t *d)
{
	json_t *t = json_object_get(d, "tags");
	size_t i, n;
	json_t *x;
	if (!t)
		return;
	fprintf(f, "<h2 id=\"tags\">Tags</h2>\n<p>%lld tags (%lld distinct) in %lld captions of %lld tagged samples: "
		"%.2f per caption; %lld captions (%.1f%%) have no tag.</p>\n",
		ji(t, "tags"), ji(t, "distinct"), ji(t, "captions"), ji(t, "samples"),
		json_real_value(json_object_get(t, "tags_per_caption")), ji(t, "captions_without_tags"),
		100 * json_real_value(json_object_get(t, "share_0_tags")));
	fputs("<h3>Most frequent tags</h3>\n", f);
	html_bars(f, json_object_get(t, "top"), "lemma", "tags-top");
	json_t *per = json_object_get(t, "per_caption");
	n = json_array_size(per);
	struct ts_svg_bin *sb = calloc(n ? n : 1, sizeof(*sb));
	if (sb) {
		fputs("<h3>Tags per caption</h3>\n", f);
		json_array_foreach(per, i, x)
			sb[i] = (struct ts_svg_bin){ ji(x, "tags"), ji(x, "tags"), (uint64_t)ji(x, "captions") };
		ts_svg_histogram(f, sb, n, NULL, 0, n ? sb[n - 1].to + 1 : 1, "tags per caption", "tags-per-caption");
		free(sb);
	}
}

static int write_html(struct rp *r, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return ts_err_set(r->e, TS_ERR_IO, TS_R_NONE, "cannot write '%s': %s", path, strerror(errno));
	json_t *d = r->doc;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n"
	      "<title>tessera report: ", f);
	esc_json_str(f, json_object_get(d, "dataset"));
	fprintf(f, "</title>\n<style>%s</style></head>\n<body><main>\n", css);
	html_header(f, d);
	html_captions(f, d);
	html_rejects(f, d);
	html_images(f, d);
	html_sheet(f, d, r->is_str);
	html_tags(f, d);
	fputs("<p class=\"note\">Made by tessera " TS_VERSION " (<code>tessera report</code>; definitions in "
	      "<code>docs/report.md</code>).</p>\n</main></body></html>\n", f);
	int bad = ferror(f);
	if (fclose(f) || bad)
		return ts_err_set(r->e, TS_ERR_IO, TS_R_NONE, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* ---- driver ---------------------------------------------------------------------- */

static void strip_thumbs(json_t *d)
{
	size_t i, k;
	json_t *s, *x;
	json_array_foreach(json_object_get(json_object_get(d, "contact_sheet"), "samples"), i, s) {
		json_object_del(s, "thumb");
		json_object_del(s, "thumb_w");
		json_object_del(s, "thumb_h");
		json_array_foreach(json_object_get(s, "scores"), k, x)
			json_object_del(x, "mask_thumb");
	}
}

int ts_report_run(const struct ts_report_opts *o, struct ts_err *err)
{
	struct rp r = { .o = o, .e = err, .doc = json_object() };
	char tmp[PATH_MAX];
	int rc = -1;

	if (sodium_init() < 0) {
		ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot initialise libsodium");
		goto out;
	}
	if (ts_dataset_open(&r.ds, o->dataset, err))
		goto out;
	static const char *const phase[] = { "header", "captions", "rejects", "images", "tags", "contact sheet" };
	for (int p = 0; p < 6; p++) {
		double t0 = ts_now();
		int bad = p == 0 ? gather_header(&r) : p == 1 ? gather_captions(&r) : p == 2 ? gather_rejects(&r)
			: p == 3 ? gather_images(&r) : p == 4 ? gather_tags(&r) : gather_sheet(&r, o->output != NULL);
		if (bad)
			goto out;
		if (ts_verbosity >= 2)
			ts_info("report: %s in %.2f s", phase[p], ts_now() - t0);
	}
	if (o->output) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp", o->output) >= (int)sizeof(tmp)) {
			ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "output path too long: '%s'", o->output);
			goto out;
		}
		if (write_html(&r, tmp)) {
			unlink(tmp);
			goto out;
		}
		if (rename(tmp, o->output)) {
			ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot rename '%s' to '%s': %s", tmp, o->output, strerror(errno));
			unlink(tmp);
			goto out;
		}
	}
	if (o->json) {
		strip_thumbs(r.doc);
		char *s = json_dumps(r.doc, JSON_COMPACT | JSON_REAL_PRECISION(12));
		if (!s) {
			ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			goto out;
		}
		puts(s);
		free(s);
	}
	rc = 0;
out:
	for (size_t i = 0; i < r.ntop; i++) {
		free(r.top[i].key);
		free(r.top[i].clean);
	}
	for (size_t i = 0; i < r.nsheet; i++)
		free(r.sheet[i].key);
	free(r.sheet);
	ts_image_release(&r.img);
	ts_image_release(&r.small);
	ts_pixctx_free(r.px);
	ts_cstats_free(r.all);
	ts_cstats_free(r.shrt);
	ts_cstats_free(r.lng);
	ts_sentences_free(r.sp);
	ts_bpe_ctx_free(r.bctx);
	ts_bpe_free(r.bpe);
	ts_dataset_close(r.ds);
	json_decref(r.doc);
	return rc ? (err->status ? err->status : TS_ERR_INTERNAL) : 0;
}
