/*
 * source_lmdb.c - an LMDB environment in the scene-text convention
 * (`tessera str`): `num-samples`, then `image-%09d` and `label-%09d` from 1.
 *
 * The environment is read by ts_lmdb_reader (shards/lmdb_store.c) in a
 * child process that streams the records over a pipe, so a damaged page
 * costs its record, never this process; no signal handler is installed.
 * Each record's bytes are copied out of the reader's buffer here, on the
 * producer's thread: workers only ever see the copies, and the reader and
 * its child are used by one thread alone.
 *
 * The record's index is its key number minus one (record N is key N+1),
 * source is "ENV:%09d".  A record the reader could not read is lmdb.corrupt;
 * a value over the cap is source.too_large; no label key is
 * record.missing_field, no image key source.missing.  When the reading
 * stopped early (the reader died too often, or hung), the records read so
 * far are kept and ts_source_damage() says what was lost.  num-samples
 * beyond the last record is bounded, with a warning at open.
 */
#define _GNU_SOURCE
#include "pipeline/sources/source_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shards/lmdb_store.h"
#include "pipeline/util.h"

static void lmdb_close(struct ts_source *src)
{
	ts_lmdb_reader_close(src->priv);
	src->priv = NULL;
}

static int lmdb_open(struct ts_source *src, struct ts_err *err)
{
	struct ts_lmdb_reader *lr = NULL;
	uint64_t declared, bound;
	int rc;
	if ((rc = ts_lmdb_reader_open(&lr, src->input, NULL, err)))
		return rc;
	src->priv = lr;
	src->own_index = 1;
	ts_lmdb_reader_counts(lr, &declared, &bound);
	src->count = (int64_t)bound;
	if (ts_lmdb_reader_note(lr))
		ts_warning("%s", ts_lmdb_reader_note(lr));
	return TS_OK;
}

static int lmdb_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct ts_lmdb_rec r;
	int rc = ts_lmdb_reader_next(src->priv, &r, err);
	if (rc == 0)
		src->damage = ts_lmdb_reader_damage(src->priv);
	if (rc <= 0)
		return rc;
	rec->index = r.index - 1;
	if (!(rec->source = ts_src_printf("%s:%09" PRIu64, src->input, r.index)))
		return TS_ERR_NOMEM;
	if (r.damaged)
		return ts_src_reject(rec, TS_R_LMDB_CORRUPT, "%s", r.msg);
	if (r.too_large)
		return ts_src_reject(rec, TS_R_SOURCE_TOO_LARGE, "a value of %zu bytes",
				     r.image_len > r.label_len ? r.image_len : r.label_len);
	if (!r.has_label)
		return ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD, "no key label-%09" PRIu64, r.index);
	if (!r.has_image)
		return ts_src_reject(rec, TS_R_SOURCE_MISSING, "no key image-%09" PRIu64, r.index);
	if (ts_src_add_caption(rec, r.label, r.label_len) ||
	    !(rec->image_data = malloc(r.image_len ? r.image_len : 1)))
		return TS_ERR_NOMEM;
	if (r.image_len)
		memcpy(rec->image_data, r.image, r.image_len);
	rec->image_len = r.image_len;
	return 1;
}

const struct ts_source_ops ts_source_lmdb_ops = {
	lmdb_open, lmdb_next, lmdb_close,
};
