/*
 * dsw.c - the dataset writer (see dsw.h).
 *
 * What must always hold:
 * - a shard closes after the sample that fills it to shard_samples, or
 *   before a sample that would take it past shard_bytes (unless empty);
 * - a shard's record range is [first, end): end is the record after its
 *   last sample (sample limit), the record of the sample that did not fit
 *   (byte limit), or the end of input (last shard);
 * - the shard file gets its final name before its catalog transaction,
 *   which stores the shard row, its samples and members, and the rejects
 *   of its range at once; resume relies on exactly this order.
 *
 * TESSERA_CRASH_AT=POINT[:N] kills the process at a named point, for the
 * resume tests (docs/testing.md).
 */
#include "dsw.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shards/shards.h"
#include "util.h"

struct pending_sample {
	char key[24];
	uint64_t record;
	int width, height, orig_w, orig_h;
	char format[8];
	char content_hash[TS_HASH_HEX_LEN + 1];
	char image_hash[TS_HASH_HEX_LEN + 1];
	char *source, *caption, *captions_json;
	size_t nmembers;
	char names[TS_DSW_MAX_MEMBERS][48];
	char hashes[TS_DSW_MAX_MEMBERS][TS_HASH_HEX_LEN + 1];
	struct ts_member_row members[TS_DSW_MAX_MEMBERS];
};

struct pending_reject {
	uint64_t record;
	char *source, *message, *stage, *reason;
};

struct ts_dsw {
	struct ts_dsw_opts o;
	struct ts_shard_writer *sw;
	unsigned shard_idx;
	uint64_t shard_first, shard_samples;
	struct pending_sample *ps;
	size_t nps, cps;
	struct pending_reject *pr;
	size_t npr, cpr;
	struct ts_dsw_stats st;
	char crash_point[32];
	uint64_t crash_n;
};

static void maybe_crash(struct ts_dsw *w, const char *point)
{
	if (w->crash_n && !strcmp(w->crash_point, point) && --w->crash_n == 0) {
		fflush(NULL);
		kill(getpid(), SIGKILL);
	}
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, nc * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = nc;
	return 0;
}

int ts_dsw_new(struct ts_dsw **out, const struct ts_dsw_opts *o, struct ts_err *err)
{
	struct ts_dsw *w = calloc(1, sizeof(*w));
	const char *c = getenv("TESSERA_CRASH_AT");
	if (!w)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	w->o = *o;
	w->shard_idx = o->first_shard;
	w->shard_first = o->first_record;
	if (c && *c) {
		const char *colon = strchr(c, ':');
		snprintf(w->crash_point, sizeof(w->crash_point), "%.*s",
			 (int)(colon ? (size_t)(colon - c) : strlen(c)), c);
		w->crash_n = colon ? strtoull(colon + 1, NULL, 10) : 1;
	}
	*out = w;
	return TS_OK;
}

static void pending_samples_free(struct ts_dsw *w)
{
	for (size_t i = 0; i < w->nps; i++) {
		free(w->ps[i].source);
		free(w->ps[i].caption);
		free(w->ps[i].captions_json);
	}
	w->nps = 0;
}

static void pending_rejects_drop(struct ts_dsw *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w->pr[i].source);
		free(w->pr[i].message);
		free(w->pr[i].stage);
		free(w->pr[i].reason);
	}
	if (n && w->npr > n)
		memmove(w->pr, w->pr + n, (w->npr - n) * sizeof(*w->pr));
	w->npr -= n;
}

static int store_rejects(struct ts_dsw *w, size_t n, struct ts_reject_row **out,
			 struct ts_err *err)
{
	struct ts_reject_row *rj = calloc(n ? n : 1, sizeof(*rj));
	if (!rj)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (size_t i = 0; i < n; i++)
		rj[i] = (struct ts_reject_row){
			.record = w->pr[i].record, .source = w->pr[i].source,
			.stage = w->pr[i].stage, .reason = w->pr[i].reason,
			.message = w->pr[i].message,
		};
	*out = rj;
	return TS_OK;
}

/* Close the open shard with record range [shard_first, end_record). */
static int close_shard(struct ts_dsw *w, uint64_t end_record, struct ts_err *err)
{
	char name[32], hash[TS_HASH_HEX_LEN + 1];
	uint64_t bytes;
	struct ts_sample_row *rows = NULL;
	struct ts_reject_row *rj = NULL;
	size_t nrj = 0;
	int rc;

	if (!w->sw)
		return TS_OK;
	snprintf(name, sizeof(name), "%06u.%s", w->shard_idx, ts_store_ext((enum ts_store)w->o.store));
	rc = ts_shard_writer_finish(w->sw, &bytes, hash, err);
	w->sw = NULL;
	if (rc)
		return rc;
	maybe_crash(w, "shard-renamed");

	while (nrj < w->npr && w->pr[nrj].record < end_record)
		nrj++;
	rows = calloc(w->nps ? w->nps : 1, sizeof(*rows));
	if (!rows)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if ((rc = store_rejects(w, nrj, &rj, err))) {
		free(rows);
		return rc;
	}
	for (size_t i = 0; i < w->nps; i++) {
		struct pending_sample *p = &w->ps[i];
		/* pointers into p are set only now: w->ps moves when it grows */
		for (size_t k = 0; k < p->nmembers; k++) {
			p->members[k].name = p->names[k];
			p->members[k].hash = p->hashes[k];
		}
		rows[i] = (struct ts_sample_row){
			.key = p->key, .record = p->record, .shard = w->shard_idx,
			.width = p->width, .height = p->height,
			.orig_width = p->orig_w, .orig_height = p->orig_h,
			.format = p->format, .content_hash = p->content_hash,
			.image_hash = p->image_hash, .source = p->source,
			.caption = p->caption, .captions_json = p->captions_json,
			.members = p->members, .nmembers = p->nmembers,
		};
	}
	struct ts_shard_row sr = {
		.idx = w->shard_idx,
		.name = name,
		.samples = w->shard_samples, .bytes = bytes, .hash = hash,
		.first_record = w->shard_first, .end_record = end_record,
	};
	rc = ts_catalog_commit_shard(w->o.cat, &sr, rows, w->nps, rj, nrj, err);
	free(rows);
	free(rj);
	if (rc)
		return rc;
	maybe_crash(w, "shard-committed");
	ts_info("wrote shard %s: %" PRIu64 " samples, %" PRIu64 " bytes", name,
		w->shard_samples, bytes);
	w->st.shards++;
	w->st.bytes += bytes;
	w->shard_idx++;
	w->shard_first = end_record;
	w->shard_samples = 0;
	pending_samples_free(w);
	pending_rejects_drop(w, nrj);
	return TS_OK;
}

static uint64_t tar_size(size_t len)
{
	return 512 + ((len + 511) / 512) * 512;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int ts_dsw_sample(struct ts_dsw *w, const struct ts_dsw_sample *s, struct ts_err *err)
{
	struct pending_sample *p;
	uint64_t need = 0;
	int rc;

	if (s->nmembers == 0 || s->nmembers > TS_DSW_MAX_MEMBERS)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "a sample needs 1 to %d members", TS_DSW_MAX_MEMBERS);
	for (size_t i = 0; i < s->nmembers; i++)
		need += tar_size(s->members[i].len);
	if (w->sw && w->shard_samples > 0 &&
	    ts_shard_writer_bytes(w->sw) + need + 1024 > w->o.shard_bytes)
		if ((rc = close_shard(w, s->record, err)))
			return rc;
	if (!w->sw && (rc = ts_shard_writer_open_store(&w->sw, w->o.shards_dir, w->shard_idx,
							(enum ts_store)w->o.store, err)))
		return rc;
	if (grow((void **)&w->ps, &w->cps, w->nps + 1, sizeof(*w->ps)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	p = &w->ps[w->nps];
	memset(p, 0, sizeof(*p));
	snprintf(p->key, sizeof(p->key), "%09" PRIu64, s->record);
	for (size_t i = 0; i < s->nmembers; i++) {
		snprintf(p->names[i], sizeof(p->names[i]), "%s.%s", p->key, s->members[i].ext);
		p->members[i].size = s->members[i].len;
		ts_hash_hex(s->members[i].data, s->members[i].len, p->hashes[i]);
		if ((rc = ts_shard_writer_add(w->sw, p->names[i], s->members[i].data,
					      s->members[i].len, &p->members[i].offset, err)))
			return rc;
	}
	p->nmembers = s->nmembers;
	p->record = s->record;
	p->width = s->width;
	p->height = s->height;
	p->orig_w = s->orig_width;
	p->orig_h = s->orig_height;
	snprintf(p->format, sizeof(p->format), "%s", s->format ? s->format : "");
	snprintf(p->content_hash, sizeof(p->content_hash), "%s", s->content_hash ? s->content_hash : "");
	snprintf(p->image_hash, sizeof(p->image_hash), "%s", s->image_hash ? s->image_hash : "");
	p->source = dup_or_empty(s->source);
	p->caption = dup_or_empty(s->caption);
	p->captions_json = dup_or_empty(s->captions_json);
	w->nps++;
	if (!p->source || !p->caption || !p->captions_json)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	w->st.samples++;
	w->shard_samples++;
	maybe_crash(w, "sample");
	if (w->shard_samples >= w->o.shard_samples)
		return close_shard(w, s->record + 1, err);
	return TS_OK;
}

int ts_dsw_reject(struct ts_dsw *w, uint64_t record, const char *source,
		  const char *stage, const char *reason, const char *message,
		  struct ts_err *err)
{
	struct pending_reject *p;
	if (grow((void **)&w->pr, &w->cpr, w->npr + 1, sizeof(*w->pr)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	p = &w->pr[w->npr++];
	p->record = record;
	p->source = dup_or_empty(source);
	p->stage = dup_or_empty(stage);
	p->reason = dup_or_empty(reason);
	p->message = dup_or_empty(message);
	if (!p->source || !p->stage || !p->reason || !p->message)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	return TS_OK;
}

int ts_dsw_finish(struct ts_dsw *w, uint64_t end_record, struct ts_err *err)
{
	struct ts_reject_row *rj;
	int rc = close_shard(w, end_record, err);
	if (rc || w->npr == 0)
		return rc;
	/* rejects after a shard that closed on its sample count */
	if ((rc = store_rejects(w, w->npr, &rj, err)))
		return rc;
	rc = ts_catalog_add_rejects(w->o.cat, rj, w->npr, err);
	free(rj);
	if (rc == 0)
		pending_rejects_drop(w, w->npr);
	return rc;
}

void ts_dsw_stats(const struct ts_dsw *w, struct ts_dsw_stats *st)
{
	*st = w->st;
}

void ts_dsw_free(struct ts_dsw *w)
{
	if (!w)
		return;
	ts_shard_writer_abort(w->sw);
	pending_samples_free(w);
	pending_rejects_drop(w, w->npr);
	free(w->ps);
	free(w->pr);
	free(w);
}
