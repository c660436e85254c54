/*
 * writer.c - the shard writer (see writer.h).
 *
 * What must always hold:
 * - a shard closes after the sample that fills it to shard_samples, or
 *   before a sample that would take it past shard_bytes (unless empty);
 * - a shard's record range is [first, end): end is the record after its
 *   last sample (sample limit), the record of the sample that did not fit
 *   (byte limit), or the end of input (last shard);
 * - rows go into the catalog as they come, inside one open transaction
 *   per shard (so memory stays flat whatever the shard size); the shard
 *   file gets its final name before that transaction commits with the
 *   shard row, so the shard, its samples and members, and the rejects of
 *   its range become visible at once; resume relies on exactly this order;
 * - before a shard's temporary file is created, a row for it with
 *   complete = 0 is committed: every file name the writer ever creates is
 *   in the catalog first, so a resume removes only files that are ours.
 */
#include "writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shards.h"

struct ts_dsw {
	struct ts_dsw_opts o;
	struct ts_shard_writer *sw;
	unsigned shard_idx;
	uint64_t shard_first, shard_samples;
	int pending;               /* rows sent since the last commit */
	struct ts_dsw_stats st;
};

static void hook(struct ts_dsw *w, const char *point)
{
	if (w->o.hook)
		w->o.hook(w->o.hook_user, point);
}

int ts_dsw_new(struct ts_dsw **out, const struct ts_dsw_opts *o, struct ts_err *err)
{
	struct ts_dsw *w = calloc(1, sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	w->o = *o;
	w->shard_idx = o->first_shard;
	w->shard_first = o->first_record;
	*out = w;
	return TS_OK;
}

/* Close the open shard with record range [shard_first, end_record): the
 * file gets its final name first, then one commit makes the shard row and
 * every row sent since the last commit visible. */
static int close_shard(struct ts_dsw *w, uint64_t end_record, struct ts_err *err)
{
	char name[32], hash[TS_HASH_HEX_LEN + 1];
	uint64_t bytes;
	int rc;

	if (!w->sw)
		return TS_OK;
	snprintf(name, sizeof(name), "%06u.%s", w->shard_idx, ts_store_ext((enum ts_store)w->o.store));
	rc = ts_shard_writer_finish(w->sw, &bytes, hash, err);
	w->sw = NULL;
	if (rc)
		return rc;
	hook(w, "shard-renamed");
	struct ts_shard_row sr = {
		.idx = w->shard_idx, .name = name,
		.samples = w->shard_samples, .bytes = bytes, .hash = hash,
		.first_record = w->shard_first, .end_record = w->o.retry ? w->shard_first : end_record,
	};
	if ((rc = ts_catalog_stream_commit(w->o.cat, &sr, err)))
		return rc;
	w->pending = 0;
	w->st.shards++;
	w->st.last_samples = w->shard_samples;
	w->st.last_bytes = bytes;
	hook(w, "shard-committed");
	w->st.bytes += bytes;
	w->shard_idx++;
	if (!w->o.retry)
		w->shard_first = end_record;
	w->shard_samples = 0;
	return TS_OK;
}

static uint64_t tar_size(size_t len)
{
	return 512 + ((len + 511) / 512) * 512;
}

int ts_dsw_sample(struct ts_dsw *w, const struct ts_dsw_sample *s, struct ts_err *err)
{
	char key[24], names[TS_DSW_MAX_MEMBERS][48], hashes[TS_DSW_MAX_MEMBERS][TS_HASH_HEX_LEN + 1];
	struct ts_member_row mem[TS_DSW_MAX_MEMBERS];
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
	if (!w->sw) {
		/* the name is in the catalog before the file exists */
		char name[32];
		snprintf(name, sizeof(name), "%06u.%s", w->shard_idx, ts_store_ext((enum ts_store)w->o.store));
		/* rows pending here are rejects of this shard's range: a resume
		 * drops them with the unfinished shard if it comes to that */
		if ((rc = ts_catalog_shard_intent(w->o.cat, w->shard_idx, name, err)))
			return rc;
		w->pending = 0;
		hook(w, "shard-open");
		if ((rc = ts_shard_writer_open_store(&w->sw, w->o.shards_dir, w->shard_idx,
						     (enum ts_store)w->o.store, err)))
			return rc;
	}
	snprintf(key, sizeof(key), "%09" PRIu64, s->record);
	for (size_t i = 0; i < s->nmembers; i++) {
		snprintf(names[i], sizeof(names[i]), "%s.%s", key, s->members[i].ext);
		ts_hash_hex(s->members[i].data, s->members[i].len, hashes[i]);
		mem[i] = (struct ts_member_row){ .name = names[i], .size = s->members[i].len,
						 .hash = hashes[i] };
		if ((rc = ts_shard_writer_add(w->sw, names[i], s->members[i].data,
					      s->members[i].len, &mem[i].offset, err)))
			return rc;
	}
	struct ts_sample_row row = {
		.key = key, .record = s->record, .shard = w->shard_idx,
		.width = s->width, .height = s->height,
		.orig_width = s->orig_width, .orig_height = s->orig_height,
		.format = s->format ? s->format : "", .content_hash = s->content_hash,
		.image_hash = s->image_hash, .source = s->source ? s->source : "",
		.caption = s->caption ? s->caption : "",
		.captions_json = s->captions_json ? s->captions_json : "[]",
		.path = s->path, .meta_json = s->meta_json,
		.source_format = s->source_format, .fixes = s->fixes,
		.text = s->text,
		.tags = s->tags, .ntags = s->ntags,
		.scores = s->scores, .nscores = s->nscores,
		.comp = s->comp,
		.members = mem, .nmembers = s->nmembers,
	};
	if (w->o.retry && (rc = ts_catalog_stream_forget_rejects(w->o.cat, s->record, err)))
		return rc;
	if ((rc = ts_catalog_stream_sample(w->o.cat, &row, err)))
		return rc;
	w->pending = 1;
	w->st.samples++;
	w->shard_samples++;
	hook(w, "sample");
	if (w->shard_samples >= w->o.shard_samples)
		return close_shard(w, s->record + 1, err);
	return TS_OK;
}

int ts_dsw_reject_row(struct ts_dsw *w, const struct ts_reject_row *row, struct ts_err *err)
{
	struct ts_reject_row r = *row;
	r.source = r.source ? r.source : "";
	r.stage = r.stage ? r.stage : "";
	r.reason = r.reason ? r.reason : "";
	r.message = r.message ? r.message : "";
	int rc = w->o.retry ? ts_catalog_stream_forget_rejects(w->o.cat, r.record, err) : 0;
	if (rc == 0)
		rc = ts_catalog_stream_reject(w->o.cat, &r, err);
	if (rc == 0)
		w->pending = 1;
	return rc;
}

int ts_dsw_reject(struct ts_dsw *w, uint64_t record, const char *source,
		  const char *stage, const char *reason, const char *message,
		  struct ts_err *err)
{
	struct ts_reject_row r = {
		.record = record, .source = source, .stage = stage,
		.reason = reason, .message = message,
	};
	return ts_dsw_reject_row(w, &r, err);
}

int ts_dsw_finish(struct ts_dsw *w, uint64_t end_record, struct ts_err *err)
{
	int rc;
	if (w->sw)
		return close_shard(w, end_record, err);
	if (!w->pending)
		return TS_OK;
	/* rejects after a shard that closed on its sample count */
	if ((rc = ts_catalog_stream_commit(w->o.cat, NULL, err)) == 0)
		w->pending = 0;
	return rc;
}

void ts_dsw_discard(struct ts_dsw *w)
{
	if (!w)
		return;
	ts_shard_writer_abort(w->sw);
	w->sw = NULL;
	ts_catalog_stream_rollback(w->o.cat);
	w->pending = 0;
}

void ts_dsw_stats(const struct ts_dsw *w, struct ts_dsw_stats *st)
{
	*st = w->st;
}

void ts_dsw_free(struct ts_dsw *w)
{
	ts_dsw_discard(w);
	free(w);
}
