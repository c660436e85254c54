/*
 * regions.c - a composite's regions as JSON text and back (compose.h).
 *
 * One codec for what `tessera compose` records of each source's place in
 * the image: the "regions" of KEY.json and the compositions row are both
 * ts_regions_encode's text, and `tessera tags` reads it with
 * ts_regions_decode.  The encoder fixes the key order and the number
 * format (weights to 9 significant digits), so the same regions always
 * give the same bytes; the decoder accepts exactly what a region is and
 * ignores keys it does not know.
 */
#include "compose/compose.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define REGIONS_JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9))

static json_t *rect_json(const int v[4])
{
	return json_pack("[i,i,i,i]", v[0], v[1], v[2], v[3]);
}

int ts_regions_encode(const struct ts_region *r, size_t n, char **json, struct ts_err *err)
{
	json_t *a = json_array();
	int bad = !a;
	for (size_t i = 0; i < n && !bad; i++) {
		json_t *o = json_object();
		bad = !o || json_array_append_new(a, o) ||
		      (r[i].source && json_object_set_new(o, "source", json_string(r[i].source))) ||
		      json_object_set_new(o, "region", json_integer(r[i].index));
		if (!bad && r[i].has_weight)
			bad = json_object_set_new(o, "weight", json_real(r[i].weight));
		else if (!bad)
			bad = json_object_set_new(o, "rect", rect_json(r[i].rect)) ||
			      (r[i].has_minus && json_object_set_new(o, "minus", rect_json(r[i].minus)));
	}
	*json = bad ? NULL : json_dumps(a, REGIONS_JSON_FLAGS);
	json_decref(a);
	if (!*json)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	return TS_OK;
}

/* Four integers of int range from a JSON array; -1 when it is not that. */
static int rect_from(const json_t *a, int v[4])
{
	if (json_array_size(a) != 4)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		const json_t *x = json_array_get(a, k);
		if (!json_is_integer(x) || json_integer_value(x) < INT_MIN || json_integer_value(x) > INT_MAX)
			return -1;
		v[k] = (int)json_integer_value(x);
	}
	return 0;
}

/* Element i of the array into *r (source not set); NULL, or what is wrong. */
static const char *region_from(const json_t *o, struct ts_region *r)
{
	const json_t *idx = json_object_get(o, "region"), *rect = json_object_get(o, "rect");
	const json_t *minus = json_object_get(o, "minus"), *weight = json_object_get(o, "weight");
	const json_t *src = json_object_get(o, "source");
	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return "not an object";
	if (!json_is_integer(idx) || json_integer_value(idx) < 1 || json_integer_value(idx) > 255)
		return "\"region\" is not an integer in 1..255";
	if (src && !json_is_string(src))
		return "\"source\" is not a string";
	r->index = (int)json_integer_value(idx);
	if (weight) {
		if (!json_is_number(weight) || rect || minus)
			return "\"weight\" is not a number alone";
		r->has_weight = 1;
		r->weight = json_number_value(weight);
		return NULL;
	}
	if (rect_from(rect, r->rect))
		return "\"rect\" is not four integers";
	if (minus && rect_from(minus, r->minus))
		return "\"minus\" is not four integers";
	r->has_minus = minus != NULL;
	return NULL;
}

int ts_regions_decode(const char *json, size_t len, struct ts_region **out, size_t *n,
		      struct ts_err *err)
{
	json_error_t je;
	json_t *a = json_loadb(json, len, 0, &je), *o;
	size_t i, text = 0;
	*out = NULL;
	*n = 0;
	if (!json_is_array(a)) {
		json_decref(a);
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "regions: %s",
				  a ? "not a JSON array" : je.text);
	}
	json_array_foreach(a, i, o) {
		struct ts_region r;
		const char *why = region_from(o, &r);
		if (why) {
			json_decref(a);
			return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "regions[%zu]: %s", i, why);
		}
		if (json_is_string(json_object_get(o, "source")))
			text += json_string_length(json_object_get(o, "source")) + 1;
	}
	size_t m = json_array_size(a);
	/* one block: the regions, then their source strings */
	struct ts_region *r = m ? malloc(m * sizeof(*r) + text) : NULL;
	if (m && !r) {
		json_decref(a);
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	char *p = (char *)(r + m);
	json_array_foreach(a, i, o) {
		const json_t *src = json_object_get(o, "source");
		region_from(o, &r[i]);
		if (src) {
			size_t l = json_string_length(src);
			memcpy(p, json_string_value(src), l);
			p[l] = 0;
			r[i].source = p;
			p += l + 1;
		}
	}
	json_decref(a);
	*out = r;
	*n = m;
	return TS_OK;
}
