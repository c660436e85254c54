/*
 * source_tessera.c - a tessera dataset (shards + catalog.sqlite) read back
 * as scene-text records (`tessera str`): one record per sample, in record
 * order, with the sample's record number as its index (the dataset's
 * rejects are not records here).
 *
 * The label is the original one: captions[1] when the filter changed it
 * (str ingest --store wds keeps it there), else captions[0], else the
 * caption column.  The image is the sample's image member; one that cannot
 * be read is source.missing (source.unreadable when memory ran out).
 * source is "DATASET:KEY".
 */
#define _GNU_SOURCE
#include "pipeline/sources/source_impl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "shards/dataset.h"

struct tsds {
	struct ts_dataset *ds;
	struct ts_dataset_iter *it;
};

static void tsds_close(struct ts_source *src)
{
	struct tsds *t = src->priv;
	if (!t)
		return;
	ts_dataset_iter_free(t->it);
	ts_dataset_close(t->ds);
	free(t);
	src->priv = NULL;
}

static int tsds_open(struct ts_source *src, struct ts_err *err)
{
	struct tsds *t = calloc(1, sizeof(*t));
	int rc;
	if (!(src->priv = t))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->own_index = 1;
	if ((rc = ts_dataset_open(&t->ds, src->input, err)) ||
	    (rc = ts_dataset_iter_samples(t->ds, -1, &t->it, err)))
		return rc;
	return TS_OK;
}

static int tsds_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct tsds *t = src->priv;
	const struct ts_dataset_sample *s;
	struct ts_err re = TS_ERR_INIT;
	json_error_t je;
	size_t len = 0;
	int rc = ts_dataset_next_sample(t->it, &s, err);
	if (rc <= 0)
		return rc;
	rec->index = s->record;
	if (!(rec->source = ts_src_printf("%s:%s", src->input, s->key)))
		return TS_ERR_NOMEM;
	json_t *caps = json_loads(s->captions_json ? s->captions_json : "[]", 0, &je);
	json_t *lab = json_array_get(caps, json_array_size(caps) > 1 ? 1 : 0);
	const char *v = json_is_string(lab) ? json_string_value(lab) : s->caption ? s->caption : "";
	/* up to a NUL: a label is text */
	rc = ts_src_add_caption(rec, v, json_is_string(lab) ? strnlen(v, json_string_length(lab)) : strlen(v));
	json_decref(caps);
	if (rc)
		return TS_ERR_NOMEM;
	if (ts_dataset_read_member(t->ds, s->key, NULL, &rec->image_data, &len, &re))
		return ts_src_reject(rec, re.status == TS_ERR_NOMEM ? TS_R_SOURCE_UNREADABLE
				     : TS_R_SOURCE_MISSING, "%s", re.msg);
	rec->image_len = len;
	if (!rec->image_data && !(rec->image_data = malloc(1)))
		return TS_ERR_NOMEM;
	return 1;
}

const struct ts_source_ops ts_source_tessera_ops = {
	tsds_open, tsds_next, tsds_close,
};
