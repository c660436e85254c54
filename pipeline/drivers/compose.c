/*
 * compose.c - the compose driver: CLIP-C semantic compositions as
 * training shards (docs/compose.md); cmd_compose.c fills the options.
 *
 * The input dataset is read in record order, one window of --window
 * samples at a time (the last window takes a lone leftover sample, so every
 * window has at least two).  For each window and epoch a single thread
 * plans, with an RNG seeded from (seed, epoch, window): how many
 * composites each sample anchors (floor(rate), plus one with probability
 * frac(rate)), and its partner (another sample of the window, with a
 * caption and other content).  The composites are then made by worker
 * threads in batches and written in plan order through the dataset writer,
 * so the output is the same at any thread count.  A partner whose image
 * does not decode is re-drawn with an RNG seeded from the composite's
 * place in the plan; an anchor whose image does not decode makes that
 * composite a reject.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "captions/bpe.h"
#include "captions/merge.h"
#include "compose/compose.h"
#include "shards/dataset.h"
#include "shards/shards.h"
#include "shards/out.h"
#include "shards/writer.h"
#include "pipeline/progress.h"
#include "pipeline/drivers/compose.h"
#include "base/buf.h"
#include "pipeline/drivers/shards_ops.h"
#include "base/rng.h"
#include "pipeline/pool.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

/* ---- the window of sources ----------------------------------------------- */

struct member {
	char name[64];
	uint64_t offset, size;
};

struct src {
	char key[32];
	char *caption, *captions_json, *short_cap, *long_cap, *source;
	char content_hash[TS_HASH_HEX_LEN + 1], image_hash[TS_HASH_HEX_LEN + 1];
	char shard[64];
	struct member *mem;
	size_t nmem;
	int img;                     /* index of the image member, -1 none */
	int width, height, orig_w, orig_h;
	char format[16];
	struct ts_text_cols text;
	int usable;                  /* has an image and a caption */
};

static void src_free(struct src *s)
{
	free(s->caption);
	free(s->captions_json);
	free(s->short_cap);
	free(s->long_cap);
	free(s->source);
	free(s->mem);
	memset(s, 0, sizeof(*s));
}

/* ---- jobs ------------------------------------------------------------------ */

enum { J_ORIGINAL, J_COMPOSITE };

struct job {
	int type;
	size_t a, b;                 /* window indices: anchor, planned partner */
	uint64_t record;             /* output record */
	int epoch;
	size_t anchor_k;             /* k-th composite of this anchor (for the redraw RNG) */
	int over_budget;
	/* results */
	int rejected;
	int fatal;                   /* the run ends with fatal_err */
	struct ts_err fatal_err;
	char reason[48], msg[TS_ERR_MSG_MAX], reject_source[64];
	uint8_t *img;
	size_t img_len;
	char *caption, *short_cap, *long_cap, *json, *sources_json, *regions_json, *join_json;
	char content_hash[TS_HASH_HEX_LEN + 1];
	long long tokens, short_tokens;
	size_t partner;              /* the partner used */
	int dct;                     /* made from the sources' DCT coefficients */
	char source[160];            /* "compose:KEY_A+KEY_B..." */
	/* originals: the member bytes */
	uint8_t **mdata;
	size_t *mlen;
	size_t nm;
};

static void job_clear(struct job *j)
{
	free(j->img);
	free(j->caption);
	free(j->short_cap);
	free(j->long_cap);
	free(j->json);
	free(j->sources_json);
	free(j->regions_json);
	free(j->join_json);
	for (size_t i = 0; i < j->nm; i++)
		free(j->mdata[i]);
	free(j->mdata);
	free(j->mlen);
	memset(j, 0, sizeof(*j));
}

static const char *const mode_names[TS_COMPOSE__COUNT] = {
	[TS_COMPOSE_HALVES] = "halves", [TS_COMPOSE_CUTMIX] = "cutmix",
	[TS_COMPOSE_MIXUP] = "mixup", [TS_COMPOSE_GRID] = "grid",
};

const char *ts_compose_mode_name(enum ts_compose_mode m)
{
	return m >= 0 && m < TS_COMPOSE__COUNT ? mode_names[m] : "?";
}

struct ctx {
	uint64_t resume;             /* records below were written by an earlier run */
	const struct ts_compose_opts *o;
	struct ts_dataset *ds;
	struct src *win;
	size_t nwin;
	uint64_t window_no;
	struct ts_bpe *bpe;
};

/* A worker's own context on the pool. */
struct worker {
	struct ctx *c;
	struct ts_pixctx *px;
	struct ts_bpe_ctx *tok;
	struct ts_image a, b, out;
};

static int read_image(struct ctx *c, const struct src *s, uint8_t **data, size_t *len, struct ts_err *e)
{
	char path[PATH_MAX + 64];
	if (s->img < 0)
		return ts_err_set(e, TS_ERR_INVALID, TS_R_IMAGE_EMPTY, "sample %s has no image", s->key);
	ts_dataset_shard_path(c->ds, s->shard, path, sizeof(path));
	int rc = ts_shard_read_member(path, s->mem[s->img].name, s->mem[s->img].offset, s->mem[s->img].size,
				      data, len, e);
	if (rc == TS_ERR_IO && e->reason == TS_R_NONE)
		e->reason = TS_R_SOURCE_UNREADABLE;   /* the input's bytes, not ours: a reject */
	return rc;
}

/* The source's image brought to the frame; *bytes, when not NULL, holds
 * its bytes already read (taken over and freed here). */
static int load_fit_bytes(struct worker *w, const struct src *s, uint8_t **bytes, size_t blen,
			  struct ts_image *img, struct ts_err *e)
{
	uint8_t *data = bytes ? *bytes : NULL;
	size_t len = bytes ? blen : 0;
	int size = w->c->o->mode == TS_COMPOSE_GRID ? w->c->o->size / 2 : w->c->o->size;
	int rc = data ? TS_OK : read_image(w->c, s, &data, &len, e);
	if (bytes)
		*bytes = NULL;
	if (rc == TS_OK)
		rc = ts_fit_square(w->px, data, len, size, w->c->o->stretch, 1ull << 28, img, e);
	free(data);
	return rc;
}

static int load_fit(struct worker *w, const struct src *s, struct ts_image *img, struct ts_err *e)
{
	return load_fit_bytes(w, s, NULL, 0, img, e);
}

/* Halves through pixels: only the part of source k (0 = A, 1 = B) that
 * the composite shows, decoded into w->out at its place (the pixels
 * ts_composite_halves would copy there); *bytes as for load_fit_bytes. */
static int load_half(struct worker *w, const struct src *s, uint8_t **bytes, size_t blen, int k,
		     struct ts_err *e)
{
	const struct ts_compose_opts *o = w->c->o;
	int S = o->size, h1 = S / 2, h2 = S - h1, n = k ? h2 : h1, from = k ? (S - h2) / 2 : (S - h1) / 2;
	uint8_t *data = bytes ? *bytes : NULL;
	size_t len = bytes ? blen : 0;
	int rc = data ? TS_OK : read_image(w->c, s, &data, &len, e);
	if (bytes)
		*bytes = NULL;
	if (rc == TS_OK) {
		if (o->vertical)
			rc = ts_fit_window(w->px, data, len, S, o->stretch, 1ull << 28, 0, from, S, n, &w->out, 0,
					   k ? h1 : 0, e);
		else
			rc = ts_fit_window(w->px, data, len, S, o->stretch, 1ull << 28, from, 0, n, S, &w->out,
					   k ? h1 : 0, 0, e);
	}
	free(data);
	return rc;
}

static long long count_tokens(struct ts_bpe_ctx *tok, const char *s)
{
	const int32_t *ids;
	size_t n;
	struct ts_err e = TS_ERR_INIT;
	if (!tok || !s || ts_bpe_encode(tok, s, strlen(s), &ids, &n, &e))
		return 0;
	return (long long)n + 2;
}

static int merge2(const char *a, const char *b, char **out, size_t spans[2][2], struct ts_err *e)
{
	const char *caps[2] = { a, b };
	size_t lens[2] = { strlen(a), strlen(b) }, st[2], en[2];
	int rc = ts_caption_merge(caps, lens, 2, out, st, en, e);
	if (rc == TS_OK && spans) {
		spans[0][0] = st[0];
		spans[0][1] = en[0];
		spans[1][0] = st[1];
		spans[1][1] = en[1];
	}
	return rc;
}

/* A usable partner for anchor a other than a itself, with other content:
 * uniform over the window (rejection sampling, then a scan from a random
 * start so a window of duplicates still ends). */
static long draw_partner(struct ctx *c, struct ts_rng *r, size_t a, const unsigned char *bad)
{
	for (int t = 0; t < 64; t++) {
		size_t j = (size_t)ts_rng_below(r, c->nwin);
		if (j != a && c->win[j].usable && !(bad && bad[j]) &&
		    strcmp(c->win[j].content_hash, c->win[a].content_hash))
			return (long)j;
	}
	size_t s = (size_t)ts_rng_below(r, c->nwin);
	for (size_t k = 0; k < c->nwin; k++) {
		size_t j = (s + k) % c->nwin;
		if (j != a && c->win[j].usable && !(bad && bad[j]) &&
		    strcmp(c->win[j].content_hash, c->win[a].content_hash))
			return (long)j;
	}
	return -1;
}

/* The job's failure: a reject of its composite, or (ts_err_is_reject says
 * the failure is ours, e.g. no memory) the end of the run. */
static void job_reject(struct job *j, const char *source, const struct ts_err *e)
{
	if (!ts_err_is_reject(e)) {
		j->fatal = 1;
		j->fatal_err = *e;
		return;
	}
	j->rejected = 1;
	snprintf(j->reason, sizeof(j->reason), "%s", ts_reason_name(e->reason ? e->reason : TS_R_IMAGE_CORRUPT));
	snprintf(j->msg, sizeof(j->msg), "%s", e->msg);
	snprintf(j->reject_source, sizeof(j->reject_source), "%s", source);
}

static void do_original(struct worker *w, struct job *j)
{
	const struct src *s = &w->c->win[j->a];
	char path[PATH_MAX + 64];
	struct ts_err e = TS_ERR_INIT;
	ts_dataset_shard_path(w->c->ds, s->shard, path, sizeof(path));
	j->mdata = calloc(s->nmem + 1, sizeof(*j->mdata));
	j->mlen = calloc(s->nmem + 1, sizeof(*j->mlen));
	if (!j->mdata || !j->mlen) {
		ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		job_reject(j, s->key, &e);
		return;
	}
	for (size_t i = 0; i < s->nmem; i++) {
		if (ts_shard_read_member(path, s->mem[i].name, s->mem[i].offset, s->mem[i].size, &j->mdata[i],
					 &j->mlen[i], &e)) {
			if (e.status == TS_ERR_IO && e.reason == TS_R_NONE)
				e.reason = TS_R_SOURCE_UNREADABLE;
			job_reject(j, s->key, &e);
			return;
		}
		j->nm = i + 1;
	}
}

/* Grid: the anchor and three partners, each brought to S/2 x S/2, in the
 * quadrants left to right, top to bottom; captions "A, B, C and D". */
static void do_grid(struct worker *w, struct job *j)
{
	struct ctx *c = w->c;
	const struct ts_compose_opts *o = c->o;
	const struct src *A = &c->win[j->a];
	struct ts_err e = TS_ERR_INIT;
	int S = o->size;
	size_t idx[4] = { j->a, 0, 0, 0 };
	struct ts_image q[4] = { { 0 } };
	unsigned char *excl = calloc(c->nwin, 1);
	struct ts_rng r;
	int rc = 0, have = 1;

	if (!excl) {
		ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		job_reject(j, A->key, &e);
		return;
	}
	ts_rng_seed(&r, o->seed ^ 0x5bd1e995ULL, (uint64_t)j->epoch + 1, c->window_no + 1,
		 ((uint64_t)j->a << 20) ^ j->anchor_k);
	if (load_fit(w, A, &q[0], &e)) {
		job_reject(j, A->key, &e);
		free(excl);
		return;
	}
	long b = j->b == j->a ? -1 : (long)j->b;
	for (int t = 0; have < 4 && t < 64; t++) {
		if (b < 0 || excl[b]) {
			b = draw_partner(c, &r, j->a, excl);
			if (b < 0)
				break;
		}
		int dup = 0;
		for (int k = 0; k < have; k++)
			dup |= !strcmp(c->win[idx[k]].content_hash, c->win[b].content_hash);
		excl[b] = 1;
		struct ts_err be = TS_ERR_INIT;
		if (!dup && load_fit(w, &c->win[b], &q[have], &be) == 0)
			idx[have++] = (size_t)b;
		else if (!dup)
			ts_warning("sample %s: %s; its partner is drawn again", c->win[b].key, be.msg);
		b = -1;
	}
	free(excl);
	if (have < 4) {
		ts_err_set(&e, TS_ERR_INVALID, TS_R_IMAGE_CORRUPT, "not three partners with usable images for %s", A->key);
		job_reject(j, A->key, &e);
		for (int k = 0; k < 4; k++)
			ts_image_release(&q[k]);
		return;
	}
	j->partner = idx[1];
	int rects[4][4];
	rc = ts_composite_grid(q, &w->out, rects, &e);
	struct ts_region regions[4];
	json_t *srcs = json_array(), *caps = json_array();
	const char *ctext[4];
	size_t clen[4], st[4], en[4];
	for (int k = 0; k < 4 && !rc; k++) {
		const struct src *sk = &c->win[idx[k]];
		regions[k] = (struct ts_region){ .index = k + 1, .source = sk->key };
		memcpy(regions[k].rect, rects[k], sizeof(rects[k]));
		json_array_append_new(srcs, json_string(sk->key));
		json_array_append_new(caps, json_string(sk->caption));
		ctext[k] = sk->caption;
		clen[k] = strlen(sk->caption);
	}
	for (int k = 0; k < 4; k++)
		ts_image_release(&q[k]);
	w->out.width = w->out.height = S;
	const uint8_t *enc = NULL;
	size_t enc_len = 0;
	if (!rc)
		rc = ts_encode(w->px, &w->out, o->encode, o->quality, &enc, &enc_len, &e);
	if (!rc && !(j->img = malloc(enc_len)))
		rc = ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!rc) {
		memcpy(j->img, enc, enc_len);
		j->img_len = enc_len;
		ts_hash_hex(j->img, j->img_len, j->content_hash);
		rc = ts_caption_merge(ctext, clen, 4, &j->caption, st, en, &e);
	}
	if (!rc)
		rc = ts_regions_encode(regions, 4, &j->regions_json, &e);
	if (rc) {
		json_decref(srcs);
		json_decref(caps);
		job_reject(j, A->key, &e);
		return;
	}
	j->tokens = count_tokens(w->tok, j->caption);
	snprintf(j->source, sizeof(j->source), "compose:%s+%s+%s+%s", c->win[idx[0]].key, c->win[idx[1]].key,
		 c->win[idx[2]].key, c->win[idx[3]].key);
	char key[24];
	snprintf(key, sizeof(key), "%09" PRIu64, j->record);
	json_t *join = json_array();
	for (int k = 0; k < 4; k++)
		json_array_append_new(join, json_pack("[I,I]", (json_int_t)st[k], (json_int_t)en[k]));
	/* KEY.json's regions are the row's text (ts_regions_encode), parsed in */
	json_t *meta = json_pack("{s:s, s:s, s:s, s:O, s:o, s:I, s:i, s:i, s:i, s:O, s:O}", "key", key, "mode", "grid",
				 "path", "pixels",
				 "sources", srcs, "regions", json_loads(j->regions_json, 0, NULL),
				 "seed", (json_int_t)o->seed, "epoch", j->epoch,
				 "width", S, "height", S, "captions", caps, "join", join);
	j->json = meta ? json_dumps(meta, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	j->sources_json = json_dumps(srcs, JSON_COMPACT | JSON_ENSURE_ASCII);
	j->join_json = json_dumps(join, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(meta);
	json_decref(srcs);
	json_decref(join);
	json_decref(caps);
	if (!j->json || !j->sources_json || !j->join_json) {
		ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		job_reject(j, A->key, &e);
	}
}

static void do_composite(struct worker *w, struct job *j)
{
	struct ctx *c = w->c;
	const struct ts_compose_opts *o = c->o;
	const struct src *A = &c->win[j->a];
	struct ts_err e = TS_ERR_INIT;
	int S = o->size;

	if (!A->usable) {
		ts_err_set(&e, TS_ERR_INVALID, A->img < 0 ? TS_R_IMAGE_EMPTY : TS_R_CAPTION_MISSING,
			   "sample %s has no %s", A->key, A->img < 0 ? "image" : "caption");
		job_reject(j, A->key, &e);
		return;
	}
	if (o->mode == TS_COMPOSE_GRID) {
		do_grid(w, j);
		return;
	}
	/* halves of two JPEGs: from their DCT coefficients when they allow it
	 * (both then decode, so the planned partner is the one used); else,
	 * or when that does not hold, through pixels with the bytes read */
	uint8_t *abytes = NULL, *bbytes = NULL;
	size_t alen = 0, blen = 0;
	const uint8_t *dct_img = NULL;
	size_t dct_len = 0;
	if (o->mode == TS_COMPOSE_HALVES && !o->no_dct && o->encode == TS_FMT_JPEG && j->b != j->a) {
		struct ts_err ie = TS_ERR_INIT;
		const char *why = NULL;
		if (read_image(c, A, &abytes, &alen, &ie) == 0 && read_image(c, &c->win[j->b], &bbytes, &blen, &ie) == 0 &&
		    ts_halves_dct(w->px, abytes, alen, bbytes, blen, S, o->vertical, o->quality, o->subsampling,
				  &dct_img, &dct_len, &why) == 0)
			j->dct = 1;
		else if (ts_verbosity >= 2 && why)
			ts_info("composite %" PRIu64 " (%s+%s): pixel path: %s", j->record, A->key, c->win[j->b].key, why);
	}
	int halves = o->mode == TS_COMPOSE_HALVES;
	if (!j->dct && (halves ? load_half(w, A, abytes ? &abytes : NULL, alen, 0, &e)
			       : load_fit_bytes(w, A, abytes ? &abytes : NULL, alen, &w->a, &e))) {
		free(bbytes);
		job_reject(j, A->key, &e);
		return;
	}
	free(abytes);
	/* the partner; re-drawn (seeded by the composite's place) while its
	 * image does not decode */
	unsigned char *bad = NULL;
	struct ts_rng r;
	long b = j->b == j->a ? -1 : (long)j->b;
	ts_rng_seed(&r, o->seed ^ 0x5bd1e995ULL, (uint64_t)j->epoch + 1, c->window_no + 1,
		 ((uint64_t)j->a << 20) ^ j->anchor_k);
	for (int t = 0; b >= 0 && !j->dct; t++) {
		struct ts_err be = TS_ERR_INIT;
		if ((halves ? load_half(w, &c->win[b], bbytes ? &bbytes : NULL, blen, 1, &be)
			    : load_fit_bytes(w, &c->win[b], bbytes ? &bbytes : NULL, blen, &w->b, &be)) == 0)
			break;
		ts_warning("sample %s: %s; its partner is drawn again", c->win[b].key, be.msg);
		if (!bad && !(bad = calloc(c->nwin, 1)))
			break;
		bad[b] = 1;
		b = t < 16 ? draw_partner(c, &r, j->a, bad) : -1;
	}
	free(bad);
	free(bbytes);
	if (b < 0) {
		ts_err_set(&e, TS_ERR_INVALID, TS_R_IMAGE_CORRUPT, "no partner with a usable image for %s", A->key);
		job_reject(j, A->key, &e);
		return;
	}
	const struct src *B = &c->win[b];
	j->partner = (size_t)b;
	snprintf(j->source, sizeof(j->source), "compose:%s+%s", A->key, B->key);

	/* pixels */
	struct ts_region regions[2] = { { .index = 1, .source = A->key }, { .index = 2, .source = B->key } };
	json_t *meta = json_object();
	double lambda = 0;
	int rc = 0;
	if (o->mode == TS_COMPOSE_HALVES) {
		int rects[2][4];
		/* both paths made w->out (pixels) or the JPEG (dct) already: the
		 * rectangles are ts_composite_halves' */
		int h1 = S / 2;
		int rv[2][4] = { { 0, 0, S, h1 }, { 0, h1, S, S } }, rh[2][4] = { { 0, 0, h1, S }, { h1, 0, S, S } };
		memcpy(rects, o->vertical ? rv : rh, sizeof(rv));
		for (int k = 0; k < 2; k++)
			memcpy(regions[k].rect, rects[k], sizeof(rects[k]));
		json_object_set_new(meta, "axis", json_string(o->vertical ? "vertical" : "horizontal"));
	} else {
		struct ts_rng mr;
		ts_rng_seed(&mr, o->seed ^ 0x27d4eb2fULL, (uint64_t)j->epoch + 1, c->window_no + 1,
			 ((uint64_t)j->a << 20) ^ j->anchor_k);
		lambda = ts_rng_beta(&mr, o->alpha);
		if (o->mode == TS_COMPOSE_CUTMIX) {
			int cx = (int)ts_rng_below(&mr, (uint64_t)S), cy = (int)ts_rng_below(&mr, (uint64_t)S);
			int box[4];
			ts_cutmix_box(S, lambda, cx, cy, box);
			rc = ts_composite_cutmix(&w->a, &w->b, box, &w->out, &e);
			double area = (double)(box[2] - box[0]) * (box[3] - box[1]) / ((double)S * S);
			/* A: the whole frame less the box; B: the box */
			regions[0].rect[2] = regions[0].rect[3] = S;
			regions[0].has_minus = 1;
			memcpy(regions[0].minus, box, sizeof(box));
			memcpy(regions[1].rect, box, sizeof(box));
			json_object_set_new(meta, "box", json_pack("[i,i,i,i]", box[0], box[1], box[2], box[3]));
			json_object_set_new(meta, "area_ratio", json_real(area));
		} else {
			rc = ts_composite_mixup(&w->a, &w->b, lambda, &w->out, &e);
			regions[0].has_weight = regions[1].has_weight = 1;
			regions[0].weight = lambda;
			regions[1].weight = 1 - lambda;
			json_object_set_new(meta, "lambda", json_real(lambda));
			json_object_set_new(meta, "soft", json_true());
		}
	}
	const uint8_t *enc = dct_img;
	size_t enc_len = dct_len;
	if (!rc && !j->dct)
		rc = ts_encode(w->px, &w->out, o->encode, o->quality, &enc, &enc_len, &e);
	if (!rc && !(j->img = malloc(enc_len)))
		rc = ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	size_t spans[2][2];
	if (!rc) {
		memcpy(j->img, enc, enc_len);
		j->img_len = enc_len;
		ts_hash_hex(j->img, j->img_len, j->content_hash);
		rc = merge2(A->caption, B->caption, &j->caption, spans, &e);
	}
	if (!rc && A->short_cap && B->short_cap)
		rc = merge2(A->short_cap, B->short_cap, &j->short_cap, NULL, &e);
	if (!rc && A->long_cap && B->long_cap)
		rc = merge2(A->long_cap, B->long_cap, &j->long_cap, NULL, &e);
	if (!rc)
		rc = ts_regions_encode(regions, 2, &j->regions_json, &e);
	if (rc) {
		json_decref(meta);
		job_reject(j, A->key, &e);
		return;
	}
	j->tokens = count_tokens(w->tok, j->caption);
	j->short_tokens = j->short_cap ? count_tokens(w->tok, j->short_cap) : 0;
	char key[24];
	snprintf(key, sizeof(key), "%09" PRIu64, j->record);
	json_t *srcs = json_pack("[s,s]", A->key, B->key);
	json_object_set_new(meta, "key", json_string(key));
	json_object_set_new(meta, "mode", json_string(mode_names[o->mode]));
	json_object_set_new(meta, "path", json_string(j->dct ? "dct" : "pixels"));
	json_object_set_new(meta, "sources", json_copy(srcs));
	/* KEY.json's regions are the row's text (ts_regions_encode), parsed in */
	json_object_set_new(meta, "regions", json_loads(j->regions_json, 0, NULL));
	json_object_set_new(meta, "seed", json_integer((json_int_t)o->seed));
	json_object_set_new(meta, "epoch", json_integer(j->epoch));
	json_object_set_new(meta, "width", json_integer(S));
	json_object_set_new(meta, "height", json_integer(S));
	json_object_set_new(meta, "captions", json_pack("[s,s]", A->caption, B->caption));
	json_t *join = json_pack("[[I,I],[I,I]]", (json_int_t)spans[0][0], (json_int_t)spans[0][1],
				 (json_int_t)spans[1][0], (json_int_t)spans[1][1]);
	json_object_set(meta, "join", join);
	if (o->max_tokens > 0)
		json_object_set_new(meta, "over_budget", json_boolean(j->over_budget));
	j->json = json_dumps(meta, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9));
	j->sources_json = json_dumps(srcs, JSON_COMPACT | JSON_ENSURE_ASCII);
	j->join_json = join ? json_dumps(join, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(srcs);
	json_decref(join);
	json_decref(meta);
	if (!j->json || !j->sources_json || !j->join_json) {
		ts_err_set(&e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		job_reject(j, A->key, &e);
	}
}

/* One job on a worker of the pool (any thread; its own struct worker). */
static void pool_job(void *worker, void *item)
{
	struct worker *w = worker;
	struct job *j = item;
	if (j->type == J_ORIGINAL)
		do_original(w, j);
	else
		do_composite(w, j);
}

/* ---- writing ---------------------------------------------------------------- */

struct out_state {
	struct ts_dsw *w;
	uint64_t composites, originals, rejects, over_budget, dct, pixels;
	struct ts_err e;
};

static int write_job(struct ctx *c, struct out_state *os, struct job *j)
{
	char key[24];
	snprintf(key, sizeof(key), "%09" PRIu64, j->record);
	if (j->fatal) {
		os->e = j->fatal_err;
		if (!os->e.msg[0])
			ts_err_set(&os->e, j->fatal_err.status, TS_R_NONE, "composite %" PRIu64 ": %s",
				   j->record, ts_status_name(j->fatal_err.status));
		return os->e.status ? os->e.status : TS_ERR_INTERNAL;
	}
	if (j->rejected) {
		os->rejects++;
		return ts_dsw_reject(os->w, j->record, j->reject_source, "compose", j->reason, j->msg, &os->e);
	}
	if (j->type == J_ORIGINAL) {
		const struct src *s = &c->win[j->a];
		struct ts_dsw_member m[TS_DSW_MAX_MEMBERS];
		size_t nm = 0;
		char *json = NULL;
		for (size_t i = 0; i < j->nm && nm < TS_DSW_MAX_MEMBERS; i++) {
			const char *ext = strchr(s->mem[i].name, '.');
			ext = ext ? ext + 1 : "";
			/* tags belong to the input dataset's keys: not carried */
			if (!strcmp(ext, "tags.json") || strstr(ext, "tagmask.png"))
				continue;
			if (!strcmp(ext, "json")) {
				json_t *jj = json_loadb((const char *)j->mdata[i], j->mlen[i], 0, NULL);
				if (jj) {
					json_object_set_new(jj, "source_key", json_string(s->key));
					json_object_set_new(jj, "key", json_string(key));
					free(json);
					json = json_dumps(jj, JSON_COMPACT | JSON_ENSURE_ASCII);
					json_decref(jj);
				}
				if (json) {
					m[nm++] = (struct ts_dsw_member){ ext, json, strlen(json) };
					continue;
				}
			}
			m[nm++] = (struct ts_dsw_member){ ext, j->mdata[i], j->mlen[i] };
		}
		struct ts_dsw_sample ds = {
			.record = j->record, .members = m, .nmembers = nm,
			.width = s->width, .height = s->height, .orig_width = s->orig_w, .orig_height = s->orig_h,
			.format = s->format, .content_hash = s->content_hash, .image_hash = s->image_hash,
			.source = s->source, .caption = s->caption, .captions_json = s->captions_json,
			.text = s->text,
		};
		int rc = ts_dsw_sample(os->w, &ds, &os->e);
		free(json);
		os->originals++;
		return rc;
	}
	const struct src *A = &c->win[j->a];
	struct ts_dsw_member m[5];
	size_t nm = 0;
	m[nm++] = (struct ts_dsw_member){ ts_imgfmt_ext(c->o->encode), j->img, j->img_len };
	m[nm++] = (struct ts_dsw_member){ "txt", j->caption, strlen(j->caption) };
	m[nm++] = (struct ts_dsw_member){ "json", j->json, strlen(j->json) };
	if (j->short_cap)
		m[nm++] = (struct ts_dsw_member){ "short.txt", j->short_cap, strlen(j->short_cap) };
	if (j->long_cap)
		m[nm++] = (struct ts_dsw_member){ "long.txt", j->long_cap, strlen(j->long_cap) };
	char *caps = NULL;
	json_t *cj = json_pack("[s]", j->caption);
	caps = json_dumps(cj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(cj);
	struct ts_comp_row comp = { .mode = mode_names[c->o->mode], .sources_json = j->sources_json,
				    .regions_json = j->regions_json, .epoch = j->epoch, .seed = (long long)c->o->seed,
				    .path = j->dct ? "dct" : "pixels", .join_json = j->join_json };
	struct ts_dsw_sample ds = {
		.record = j->record, .members = m, .nmembers = nm,
		.width = c->o->size, .height = c->o->size, .orig_width = c->o->size, .orig_height = c->o->size,
		.format = ts_imgfmt_name(c->o->encode),
		.content_hash = j->content_hash, .image_hash = j->content_hash, .source = j->source,
		.caption = j->caption, .captions_json = caps ? caps : "[]",
		.text = { .tokens = j->tokens, .short_caption = j->short_cap, .short_tokens = j->short_tokens,
			  .split_rule = j->short_cap ? A->text.split_rule : NULL },
		.comp = &comp,
	};
	int rc = ts_dsw_sample(os->w, &ds, &os->e);
	free(caps);
	os->composites++;
	os->dct += j->dct != 0;
	os->pixels += !j->dct;
	os->over_budget += j->over_budget;
	return rc;
}

/* ---- planning ---------------------------------------------------------------- */

/* Partner for anchor a: uniform; with --max-tokens, the first of up to
 * --tries draws whose merged caption fits, else the shortest. */
static long plan_partner(struct ctx *c, struct ts_rng *r, size_t a, struct ts_bpe_ctx *tok, int *over)
{
	const struct ts_compose_opts *o = c->o;
	*over = 0;
	long best = draw_partner(c, r, a, NULL);
	if (best < 0 || o->max_tokens <= 0 || !tok)
		return best;
	long long best_n = LLONG_MAX;
	long cand = best;
	for (int t = 0; t < o->tries && cand >= 0; t++) {
		char *m = NULL;
		struct ts_err e = TS_ERR_INIT;
		if (merge2(c->win[a].caption, c->win[cand].caption, &m, NULL, &e) == 0) {
			long long n = count_tokens(tok, m);
			free(m);
			if (n <= o->max_tokens)
				return cand;
			if (n < best_n) {
				best_n = n;
				best = cand;
			}
		}
		if (t + 1 < o->tries)
			cand = draw_partner(c, r, a, NULL);
	}
	*over = 1;
	return best;
}

static int run_window(struct ctx *c, struct out_state *os, struct ts_pool *pool, size_t depth, uint64_t *next_record,
		      struct ts_bpe_ctx *tok, struct ts_progress *prog, uint64_t *done)
{
	const struct ts_compose_opts *o = c->o;
	for (int ep = 0; ep < o->epochs; ep++) {
		struct ts_rng r;
		ts_rng_seed(&r, o->seed, (uint64_t)ep + 1, c->window_no + 1, 0);
		/* the plan */
		size_t cap = c->nwin * ((size_t)o->rate + 2) + 16, nj = 0;
		struct job *jobs = calloc(cap, sizeof(*jobs));
		if (!jobs)
			return ts_err_set(&os->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		for (size_t i = 0; i < c->nwin; i++) {
			if (o->include_originals) {
				jobs[nj] = (struct job){ .type = J_ORIGINAL, .a = i, .record = (*next_record)++, .epoch = ep };
				nj++;
			}
			double whole = floor(o->rate), frac = o->rate - whole;
			size_t k = (size_t)whole + (ts_rng_unit(&r) < frac);
			for (size_t q = 0; q < k; q++) {
				if (nj == cap) {
					size_t old = cap;
					if (TS_ALLOC_GROW(jobs, cap, nj + 1)) {
						free(jobs);
						return ts_err_set(&os->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
					}
					memset(jobs + old, 0, (cap - old) * sizeof(*jobs));
				}
				int over = 0;
				long b = c->win[i].usable ? plan_partner(c, &r, i, tok, &over) : (long)i;
				jobs[nj++] = (struct job){ .type = J_COMPOSITE, .a = i, .b = b < 0 ? i : (size_t)b,
							   .record = (*next_record)++, .epoch = ep, .anchor_k = q,
							   .over_budget = over };
			}
		}
		/* make them on the pool and write them in plan order as they
		 * come back; jobs below the resume point were written before */
		int rc = 0;
		for (size_t i = 0; i <= nj; i++) {
			int flush = i == nj;
			while (ts_pool_inflight(pool) >= (flush ? 1 : depth)) {
				struct job *j = ts_pool_next(pool, 1);
				if (!rc)
					rc = write_job(c, os, j);
				job_clear(j);
				++*done;
				ts_progress_update(prog, *done, 0, os->rejects);
			}
			if (flush)
				break;
			if (rc || jobs[i].record < c->resume) {
				job_clear(&jobs[i]);
				++*done;
				continue;
			}
			ts_pool_submit(pool, &jobs[i]);
		}
		free(jobs);
		if (rc)
			return rc;
	}
	return TS_OK;
}

static int load_src(struct src *d, const struct ts_dataset_sample *s, struct ts_dataset *ds, struct ts_err *e)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->key, sizeof(d->key), "%s", s->key);
	snprintf(d->content_hash, sizeof(d->content_hash), "%s", s->content_hash ? s->content_hash : "");
	snprintf(d->image_hash, sizeof(d->image_hash), "%s", s->image_hash ? s->image_hash : "");
	snprintf(d->shard, sizeof(d->shard), "%s", s->shard_name ? s->shard_name : "");
	snprintf(d->format, sizeof(d->format), "%s", s->format ? s->format : "");
	d->caption = strdup(s->caption ? s->caption : "");
	d->captions_json = strdup(s->captions_json ? s->captions_json : "[]");
	d->source = strdup(s->source ? s->source : "");
	d->width = s->width;
	d->height = s->height;
	d->orig_w = s->orig_width;
	d->orig_h = s->orig_height;
	d->text = s->text;
	d->text.short_caption = NULL;       /* the source's; not kept past the read */
	d->text.split_rule = s->text.split_rule && !strcmp(s->text.split_rule, "longclip") ? "longclip"
			     : s->text.split_rule ? "sentence" : NULL;
	d->text.split_fallback = NULL;
	d->img = -1;
	d->mem = calloc(s->nmembers ? s->nmembers : 1, sizeof(*d->mem));
	if (!d->caption || !d->captions_json || !d->source || !d->mem)
		return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (size_t i = 0; i < s->nmembers; i++) {
		const char *dot = strchr(s->members[i].name, '.');
		snprintf(d->mem[i].name, sizeof(d->mem[i].name), "%s", s->members[i].name);
		d->mem[i].offset = s->members[i].offset;
		d->mem[i].size = s->members[i].size;
		if (dot && d->img < 0 && (!strcmp(dot, ".jpg") || !strcmp(dot, ".png") || !strcmp(dot, ".webp")))
			d->img = (int)i;
	}
	d->nmem = s->nmembers;
	/* short and long captions from `captions split`, when present */
	uint8_t *b = NULL;
	size_t bl = 0;
	struct ts_err ig = TS_ERR_INIT;
	if (ts_dataset_read_member(ds, s->key, "short.txt", &b, &bl, &ig) == 0) {
		d->short_cap = strndup((const char *)b, bl);
		free(b);
		if (ts_dataset_read_member(ds, s->key, "long.txt", &b, &bl, &ig) == 0) {
			d->long_cap = strndup((const char *)b, bl);
			free(b);
		}
	}
	size_t cl = strlen(d->caption);
	int blank = 1;
	for (size_t i = 0; i < cl && blank; i++)
		blank = strchr(" \t\r\n", d->caption[i]) != NULL;
	d->usable = d->img >= 0 && !blank;
	return TS_OK;
}

static int shard_hash(const struct ts_dataset_shard *s, void *user)
{
	json_array_append_new(user, json_string(s->hash ? s->hash : ""));
	return 0;
}

static int count_shard(const struct ts_dataset_shard *s, void *user)
{
	*(uint64_t *)user += s->samples;
	return 0;
}

/* The run: open INDIR and the output dataset (or resume it), compose
 * window by window on the pool, close.  TS_OK (res filled; an interrupted
 * run is TS_OK with res->interrupted) or the failure in err. */
int ts_compose_run(const struct ts_compose_opts *o, struct ts_compose_result *res, struct ts_err *err)
{
	memset(res, 0, sizeof(*res));
	/* libjpeg allocates and frees a few hundred KiB of coefficient and
	 * row buffers per image; with glibc's default thresholds they come
	 * from fresh mmap or brk pages each time (a third of the DCT path's
	 * time went to page faults).  Keep them in the heap and reuse them. */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);

	struct ctx cx = { .o = o };
	uint64_t resume_record = 0;
	struct out_state os = { .e = TS_ERR_INIT };
	struct ts_out *od = NULL;
	struct worker *ws = NULL;
	struct ts_pool *pool = NULL;
	size_t depth = 0;
	struct ts_dataset_iter *it = NULL;
	struct ts_bpe_ctx *tok = NULL;
	struct ts_progress *prog = NULL;
	int rc = TS_ERR_INTERNAL;
	uint64_t total = 0, next_record = 0, done = 0;
	double t0 = ts_now();

	if ((rc = ts_dataset_open(&cx.ds, o->indir, err)) ||
	    (rc = ts_dataset_foreach_shard(cx.ds, count_shard, &total, err)))
		goto out;
	if (total < 2) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' has %" PRIu64 " sample%s: a composition needs at least 2", o->indir,
				total, total == 1 ? "" : "s");
		goto out;
	}
	/* the tokenizer: required by --max-tokens, else for token counts when found */
	struct ts_err ve = TS_ERR_INIT;
	int vr = ts_vocab_load(&cx.bpe, o->vocab, &ve);
	if (vr) {
		if (o->max_tokens > 0 || vr < 0) {
			*err = ve;
			rc = ve.status ? ve.status : TS_ERR_IO;
			goto out;
		}
		ts_warning("%s: token counts are not stored", ve.msg);
	}
	char inreal[PATH_MAX];
	if (!realpath(o->indir, inreal))
		snprintf(inreal, sizeof(inreal), "%s", o->indir);
	/* the input's identity: its path and its shards' hashes */
	char *inhash = NULL;
	{
		json_t *hs = json_array();
		ts_dataset_foreach_shard(cx.ds, shard_hash, hs, err);
		inhash = json_dumps(hs, JSON_COMPACT);
		json_decref(hs);
	}
	json_t *inj = json_pack("{s:s, s:s}", "path", inreal, "shards_hash", inhash ? inhash : "");
	free(inhash);
	json_t *oj = json_pack("{s:s, s:s, s:i, s:s, s:f, s:f, s:i, s:I, s:I, s:b, s:I, s:i, s:s, s:i, s:I, s:o*}",
			       "mode", mode_names[o->mode], "axis", o->vertical ? "vertical" : "horizontal",
			       "size", o->size, "fit", o->stretch ? "stretch" : "center-crop",
			       "alpha", o->alpha, "rate", o->rate, "epochs", o->epochs,
			       "seed", (json_int_t)o->seed, "window", (json_int_t)o->window,
			       "include_originals", o->include_originals, "max_tokens", (json_int_t)o->max_tokens,
			       "tries", o->tries, "encode", ts_imgfmt_name(o->encode),
			       "quality", o->quality, "shard_samples", (json_int_t)o->shard_samples, "input", inj);
	/* options added later: in the fingerprint only when not the default,
	 * so a dataset made before them still resumes */
	if (oj && o->subsampling == 444)
		json_object_set_new(oj, "subsampling", json_integer(444));
	if (oj && o->no_dct)
		json_object_set_new(oj, "dct", json_false());
	char *optsj = oj ? json_dumps(oj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(oj);
	if (!optsj) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto out;
	}
	{
		const char *inputs[1] = { o->indir };
		struct ts_out_opts oo = {
			.dir = o->outdir, .meta_key = "compose_options", .fingerprint = optsj,
			.overwrite = 0, .store = TS_STORE_TAR,
			.shard_samples = o->shard_samples, .shard_bytes = 1ULL << 30,
			.inputs = inputs, .ninputs = 1,
			.command_line = "tessera compose", .version = TS_VERSION,
			.hook = ts_crash_hook,
		};
		rc = ts_out_open(&od, &oo, err);
		free(optsj);
		if (rc)
			goto out;
	}
	os.w = ts_out_writer(od);
	resume_record = ts_out_resume_record(od);
	cx.resume = resume_record;
	if (resume_record)
		ts_info("resuming in '%s' at record %" PRIu64 " (shard %u)", o->outdir, resume_record,
			ts_out_resume_shards(od));
	ts_signals_catch();
	ws = calloc((size_t)o->threads, sizeof(*ws));
	if (!ws)
		goto fail;
	for (int t = 0; t < o->threads; t++) {
		ws[t].c = &cx;
		ws[t].px = ts_pixctx_new();
		if (ws[t].px)
			ts_pixctx_set_subsampling(ws[t].px, o->subsampling);
		ws[t].tok = cx.bpe ? ts_bpe_ctx_new(cx.bpe) : NULL;
		if (!ws[t].px) {
			ts_err_set(&os.e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			goto fail;
		}
	}
	/* one pool for the run: -j 1 makes everything on this thread */
	depth = 8 * (size_t)o->threads + 8;
	{
		void **ctxs = calloc((size_t)o->threads, sizeof(*ctxs));
		for (int t = 0; ctxs && t < o->threads; t++)
			ctxs[t] = &ws[t];
		int prc = ctxs ? ts_pool_new(&pool, o->threads > 1 ? o->threads : 0, depth, pool_job, ctxs) : -1;
		free(ctxs);
		if (prc) {
			ts_err_set(&os.e, TS_ERR_NOMEM, TS_R_NONE, "cannot start worker threads");
			goto fail;
		}
	}
	tok = cx.bpe ? ts_bpe_ctx_new(cx.bpe) : NULL;
	cx.win = calloc((size_t)o->window + 1, sizeof(*cx.win));
	if (!cx.win || ts_dataset_iter_samples(cx.ds, -1, &it, &os.e))
		goto fail;
	prog = ts_progress_new("compose", -1);
	ts_progress_total(prog, (uint64_t)((double)total * (o->rate + o->include_originals) * o->epochs));
	/* windows of `window` samples; a lone last sample joins the one before */
	const struct ts_dataset_sample *s;
	int n = ts_dataset_next_sample(it, &s, &os.e);
	cx.nwin = 0;
	while (n == 1 && !ts_stop_requested) {
		while (n == 1 && cx.nwin < o->window) {
			if (load_src(&cx.win[cx.nwin++], s, cx.ds, &os.e))
				goto fail;
			n = ts_dataset_next_sample(it, &s, &os.e);
		}
		if (n == 1) {
			/* peek: is this the last sample? */
			struct src tmp;
			if (load_src(&tmp, s, cx.ds, &os.e))
				goto fail;
			n = ts_dataset_next_sample(it, &s, &os.e);
			if (n == 0) {
				cx.win[cx.nwin++] = tmp;
			} else {
				int r2 = run_window(&cx, &os, pool, depth, &next_record, tok, prog, &done);
				for (size_t i = 0; i < cx.nwin; i++)
					src_free(&cx.win[i]);
				cx.window_no++;
				if (r2) {
					src_free(&tmp);
					goto fail;
				}
				cx.nwin = 0;
				cx.win[cx.nwin++] = tmp;
				continue;
			}
		}
		if (n < 0)
			goto fail;
		if (run_window(&cx, &os, pool, depth, &next_record, tok, prog, &done))
			goto fail;
		for (size_t i = 0; i < cx.nwin; i++)
			src_free(&cx.win[i]);
		cx.nwin = 0;
		cx.window_no++;
	}
	if (n < 0 || (!ts_stop_requested && ts_out_finish(od, next_record, &os.e)))
		goto fail;
	ts_progress_done(prog);
	struct ts_dsw_stats st;
	ts_dsw_stats(os.w, &st);
	res->composites = os.composites;
	res->dct = os.dct;
	res->pixels = os.pixels;
	res->originals = os.originals;
	res->rejects = os.rejects;
	res->over_budget = os.over_budget;
	res->shards = st.shards;
	res->seconds = ts_now() - t0;
	res->interrupted = ts_stop_requested != 0;
	{
		json_t *sj = json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "composites", (json_int_t)os.composites,
				       "dct", (json_int_t)os.dct, "pixels", (json_int_t)os.pixels,
				       "originals", (json_int_t)os.originals, "rejects", (json_int_t)os.rejects,
				       "seconds", res->seconds);
		char *summary = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
		json_decref(sj);
		struct ts_out *tmp = od;
		od = NULL;
		os.w = NULL;
		rc = ts_out_close(tmp, res->interrupted ? "interrupted" : "ok", summary, err);
		free(summary);
	}
	goto out;
fail:
	ts_progress_clear(prog);
	if (ts_stop_requested && !os.e.msg[0]) {
		res->interrupted = 1;
		rc = ts_out_close(od, "interrupted", NULL, err);
		od = NULL;
		goto out;
	}
	if (os.e.msg[0])
		*err = os.e;
	else
		ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "compose failed");
	rc = err->status ? err->status : TS_ERR_INTERNAL;
out:
	ts_pool_free(pool);   /* before the workers' contexts go */
	ts_signals_restore();
	ts_progress_free(prog);
	ts_out_free(od);
	ts_dataset_iter_free(it);
	for (size_t i = 0; cx.win && i < cx.nwin; i++)
		src_free(&cx.win[i]);
	free(cx.win);
	for (int t = 0; ws && t < o->threads; t++) {
		ts_pixctx_free(ws[t].px);
		ts_bpe_ctx_free(ws[t].tok);
		ts_image_release(&ws[t].a);
		ts_image_release(&ws[t].b);
		ts_image_release(&ws[t].out);
	}
	free(ws);
	ts_bpe_ctx_free(tok);
	ts_bpe_free(cx.bpe);
	ts_dataset_close(cx.ds);
	return rc;
}
