/*
 * source_coco.c - COCO captions JSON: {"images": [{"id", "file_name"}],
 * "annotations": [{"image_id", "caption"}]}.
 *
 * The file is loaded whole with jansson (captions_train2017.json is about
 * 90 MB; max_record_bytes does not apply to it), after a UTF-8
 * byte-order mark if there is one; a file with an integer beyond int64
 * is read with integers as doubles (see coco_open).  At open the annotations
 * are grouped by image id (an integer, or a string id as some converted
 * sets have; 5 and "5" are the same id) in annotation order.
 * Rules:
 *  - one record per entry of "images", in file order; the count is known;
 *  - captions: all annotations of the image in annotation order (first is
 *    primary); none: caption.missing.  Annotations without an id or a
 *    string caption are ignored;
 *  - an entry that is not an object: record.bad_json; no usable "id" or
 *    "file_name": record.missing_field;
 *  - the image's id goes into meta_json as "image_id";
 *  - file_name is relative to --image-root, default the JSON's directory;
 *    source is "<input>:images[<i>]".
 * No "images" or "annotations" array is a fatal open error.
 */
#include "pipeline/sources/source_impl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/util.h"

struct coco {
	json_t *root;
	json_t *images;       /* borrowed from root */
	json_t *by_id;        /* id key -> array of caption strings */
	size_t pos;
};

/* The id as an object key: decimal for integers (and for whole reals
 * below 2^53, which is how integers come back when the file had to be
 * read with JSON_DECODE_INT_AS_REAL), the string itself for strings.
 * 0 on success, -1 when v is none of these. */
static int id_key(const json_t *v, char *buf, size_t n, const char **key)
{
	if (json_is_integer(v)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
		*key = buf;
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != (double)(long long)d || d > 9007199254740992.0 || d < -9007199254740992.0)
			return -1;
		snprintf(buf, n, "%lld", (long long)d);
		*key = buf;
		return 0;
	}
	if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
		*key = json_string_value(v);
		return 0;
	}
	return -1;
}

static void coco_close(struct ts_source *src)
{
	struct coco *c = src->priv;
	if (!c)
		return;
	json_decref(c->by_id);
	json_decref(c->root);
	free(c);
	src->priv = NULL;
}

static int coco_open(struct ts_source *src, struct ts_err *err)
{
	struct coco *c = calloc(1, sizeof(*c));
	json_error_t jerr;
	json_t *anns, *a;
	size_t i;

	if (!c)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = c;
	/* read whole (a byte-order mark skipped); an integer beyond int64
	 * anywhere makes jansson refuse the file, so it is read again with
	 * every integer as a double: ids stay exact below 2^53, and an id
	 * beyond that rejects its own image only */
	uint8_t *fbuf = NULL;
	size_t fcap = 0, len = 0;
	struct ts_err re = TS_ERR_INIT;
	if (ts_read_file(src->input, UINT64_MAX >> 1, &fbuf, &fcap, &len, &re)) {
		free(fbuf);
		return ts_err_set(err, re.status == TS_ERR_NOMEM ? TS_ERR_NOMEM : TS_ERR_IO,
				  TS_R_NONE, "%s", re.msg);
	}
	size_t bom = ts_bom_len(fbuf, len);
	c->root = json_loadb((const char *)fbuf + bom, len - bom, JSON_ALLOW_NUL, &jerr);
	if (!c->root && json_error_code(&jerr) == json_error_numeric_overflow)
		c->root = json_loadb((const char *)fbuf + bom, len - bom,
				     JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
	free(fbuf);
	if (!c->root)
		return ts_err_set(err, json_error_code(&jerr) == json_error_out_of_memory
				  ? TS_ERR_NOMEM : TS_ERR_INVALID, TS_R_NONE,
				  "cannot parse '%s': %s (line %d, column %d)", src->input,
				  jerr.text, jerr.line, jerr.column);
	c->images = json_object_get(c->root, "images");
	anns = json_object_get(c->root, "annotations");
	if (!json_is_array(c->images) || !json_is_array(anns))
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "'%s' is not a COCO captions file: no '%s' array", src->input,
				  json_is_array(c->images) ? "annotations" : "images");
	if (!(c->by_id = json_object()))
		goto nomem;
	json_array_foreach(anns, i, a) {
		char buf[32];
		const char *key;
		json_t *cap = json_object_get(a, "caption"), *list;
		if (!json_is_string(cap) || id_key(json_object_get(a, "image_id"), buf,
						   sizeof(buf), &key))
			continue;
		if (!(list = json_object_get(c->by_id, key))) {
			if (!(list = json_array()) || json_object_set_new(c->by_id, key, list))
				goto nomem;
		}
		if (json_array_append(list, cap))
			goto nomem;
	}
	src->count = (int64_t)json_array_size(c->images);
	return TS_OK;
nomem:
	return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory reading '%s'", src->input);
}

static int coco_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct coco *c = src->priv;
	char buf[32];
	const char *key;
	json_t *img, *name, *list, *cap;
	size_t i = c->pos, k;
	int rc;

	if (i >= json_array_size(c->images))
		return 0;
	c->pos++;
	img = json_array_get(c->images, i);
	if (!(rec->source = ts_src_printf("%s:images[%zu]", src->input, i)))
		return TS_ERR_NOMEM;
	if (!json_is_object(img))
		return ts_src_reject(rec, TS_R_RECORD_BAD_JSON, "images[%zu] is not an object", i);
	name = json_object_get(img, "file_name");
	if (!json_is_string(name) || json_string_length(name) == 0 ||
	    strlen(json_string_value(name)) != json_string_length(name))
		return ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD,
				     "images[%zu] has no string 'file_name'", i);
	if ((rc = ts_src_set_image(src, rec, json_string_value(name))) != 1 || rec->reject)
		return rc;
	json_t *id = json_object_get(img, "id");
	if (id_key(id, buf, sizeof(buf), &key))
		return ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD,
				     json_is_real(id) ? "images[%zu] has an 'id' beyond the integers "
				     "tessera keeps exactly" : "images[%zu] has no integer or string 'id'", i);
	/* the image id into KEY.json, as the file has it */
	json_t *m = json_pack("{s:o}", "image_id", json_is_string(id) ? json_incref(id)
			      : json_integer((json_int_t)strtoll(key, NULL, 10)));
	if (!m || ts_src_set_meta(rec, m))
		return TS_ERR_NOMEM;
	list = json_object_get(c->by_id, key);
	if (!list || json_array_size(list) == 0)
		return ts_src_reject(rec, TS_R_CAPTION_MISSING, "no annotation has image_id %s", key);
	json_array_foreach(list, k, cap)
		if (ts_src_add_caption(rec, json_string_value(cap), json_string_length(cap)))
			return TS_ERR_NOMEM;
	return 1;
}

const struct ts_source_ops ts_source_coco_ops = {
	coco_open, coco_next, coco_close,
};
