/*
 * source_json.c - a JSON file holding records as one array (RedCaps's
 * "annotations", with --json-path) or as parallel arrays (SBU's
 * {"image_urls": [...], "captions": [...]}).  Loaded whole with jansson:
 * these files are tens of MB.
 *
 * Rules:
 *  - the records are at --json-path (dotted object keys, e.g. "annotations"
 *    or "data.items"), or at the top level without it; a missing key or a
 *    value that is neither an array nor an object is a fatal open error;
 *  - an array: one record per element, in order; an element that is not an
 *    object is record.bad_json; fields are picked as in jsonl (--image-col
 *    / --url-col, else image/url defaults; --caption-col, else caption,
 *    text, captions; a string or an array of strings);
 *  - an object of parallel arrays: the image array is --image-col, else the
 *    first of image_urls, urls, url, images; the captions array is
 *    --caption-col, else the first of captions, caption, texts; record i
 *    takes element i of each; past the end of the shorter caption array a
 *    record is caption.missing; a non-string element is
 *    record.missing_field / caption.missing;
 *  - --id-col and --hash-col come from the same element (array) or the
 *    array of that name (parallel arrays);
 *  - source is "<input>:<path>[i]".
 */
#include "pipeline/sources/source_impl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jsrc {
	json_t *root;
	json_t *recs;            /* the array, or the object of arrays */
	json_t *img, *cap, *id, *hash;   /* parallel arrays (borrowed) */
	size_t n, next;
	const char *path;
};

static void js_close(struct ts_source *src)
{
	struct jsrc *j = src->priv;
	if (!j)
		return;
	json_decref(j->root);
	free(j);
	src->priv = NULL;
}

static json_t *first_of(json_t *obj, const char *given, const char *const *defaults)
{
	if (given)
		return json_object_get(obj, given);
	for (const char *const *d = defaults; *d; d++) {
		json_t *v = json_object_get(obj, *d);
		if (v)
			return v;
	}
	return NULL;
}

static int js_open(struct ts_source *src, struct ts_err *err)
{
	static const char *const img_arrays[] = { "image_urls", "urls", "url", "images", NULL };
	static const char *const cap_arrays[] = { "captions", "caption", "texts", NULL };
	struct jsrc *j = calloc(1, sizeof(*j));
	json_error_t jerr;

	if (!j)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = j;
	if (!(j->root = json_load_file(src->input, JSON_DECODE_ANY, &jerr)))
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "cannot read '%s': %s (line %d)",
				  src->input, jerr.text, jerr.line);
	j->recs = j->root;
	j->path = src->json_path ? src->json_path : "";
	for (const char *p = j->path; *p;) {
		size_t k = strcspn(p, ".");
		char key[256];
		if (k >= sizeof(key) || !json_is_object(j->recs))
			return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
					  "'%s' has no object at --json-path '%s'", src->input, j->path);
		memcpy(key, p, k);
		key[k] = '\0';
		if (!(j->recs = json_object_get(j->recs, key)))
			return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "'%s' has no key '%s' (--json-path '%s')",
					  src->input, key, j->path);
		p += k;
		if (*p == '.')
			p++;
	}
	if (json_is_array(j->recs)) {
		j->n = json_array_size(j->recs);
	} else if (json_is_object(j->recs)) {
		j->img = first_of(j->recs, src->image_col, img_arrays);
		j->cap = first_of(j->recs, src->caption_col, cap_arrays);
		if (!json_is_array(j->img) || !json_is_array(j->cap))
			return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
					  "'%s' is an object without parallel image and caption arrays "
					  "(looked for %s and %s); give --json-path to an array of records, "
					  "or --url-col and --caption-col", src->input,
					  src->image_col ? src->image_col : "image_urls, urls, url, images",
					  src->caption_col ? src->caption_col : "captions, caption, texts");
		if (src->id_col)
			j->id = json_object_get(j->recs, src->id_col);
		if (src->hash_col)
			j->hash = json_object_get(j->recs, src->hash_col);
		j->n = json_array_size(j->img);
	} else {
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "'%s'%s%s is %s, not an array of records",
				  src->input, j->path[0] ? " at " : "", j->path, ts_src_json_type(j->recs));
	}
	src->count = (int64_t)j->n;
	return TS_OK;
}

static int add_caps(struct ts_record *rec, json_t *v)
{
	if (json_is_string(v))
		return ts_src_add_caption(rec, json_string_value(v), json_string_length(v)) ? TS_ERR_NOMEM : 1;
	if (json_is_array(v) && json_array_size(v)) {
		size_t i;
		json_t *c;
		json_array_foreach(v, i, c) {
			if (!json_is_string(c))
				return ts_src_reject(rec, TS_R_CAPTION_MISSING, "caption %zu is not a string", i);
			if (ts_src_add_caption(rec, json_string_value(c), json_string_length(c)))
				return TS_ERR_NOMEM;
		}
		return 1;
	}
	return ts_src_reject(rec, TS_R_CAPTION_MISSING, "no caption (a string or an array of strings)");
}

static int set_extra(struct ts_source *src, struct ts_record *rec, json_t *id, json_t *hash)
{
	if (!src->id_col && !src->hash_col)
		return 1;
	return ts_src_set_ids_json(src, rec, id, hash);
}

static int js_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct jsrc *j = src->priv;
	size_t i = j->next;
	json_t *img, *cap, *id = NULL, *hash = NULL;
	int rc;

	(void)err;
	if (i >= j->n)
		return 0;
	j->next++;
	if (!(rec->source = ts_src_printf("%s:%s[%zu]", src->input, j->path, i)))
		return TS_ERR_NOMEM;
	if (j->img) {
		img = json_array_get(j->img, i);
		cap = json_array_get(j->cap, i);
		if (j->id)
			id = json_array_get(j->id, i);
		if (j->hash)
			hash = json_array_get(j->hash, i);
	} else {
		static const char *const cap_defaults[] = { "caption", "text", "captions", NULL };
		json_t *e = json_array_get(j->recs, i);
		if (!json_is_object(e))
			return ts_src_reject(rec, TS_R_RECORD_BAD_JSON, "element is %s, not an object",
					     ts_src_json_type(e));
		img = first_of(e, src->image_col, ts_src_image_defaults(src));
		cap = first_of(e, src->caption_col, cap_defaults);
		if (src->id_col)
			id = json_object_get(e, src->id_col);
		if (src->hash_col)
			hash = json_object_get(e, src->hash_col);
	}
	if (!json_is_string(img) || json_string_length(img) == 0 ||
	    strlen(json_string_value(img)) != json_string_length(img))
		return ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD, "no image field (a non-empty string)");
	if ((rc = ts_src_set_image(src, rec, json_string_value(img))) != 1 || rec->reject)
		return rc;
	if (!cap)
		return ts_src_reject(rec, TS_R_CAPTION_MISSING, "no caption");
	if ((rc = add_caps(rec, cap)) != 1 || rec->reject)
		return rc;
	return set_extra(src, rec, id, hash);
}

const struct ts_source_ops ts_source_json_ops = {
	js_open, js_next, js_close,
};
