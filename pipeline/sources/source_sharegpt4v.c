/*
 * source_sharegpt4v.c - ShareGPT4V: one JSON array of
 * {"id", "image", "conversations": [{"from": "human", ...},
 * {"from": "gpt", "value": <long caption>}]}.
 *
 * The real file is 1.5 GB, so it is streamed, never loaded: a small scanner
 * reads it through a 256 KiB buffer and frames one array element at a time
 * (tracking string/escape state and bracket depth; an element ends at a
 * ',' or the closing ']' at depth 0 outside strings), then parses just that
 * element with json_loadb.  Memory is one element (at most
 * max_record_bytes; a bigger one is skipped while scanning and comes back
 * as record.bad_row) plus the read buffer.
 * Rules:
 *  - the first non-space byte (after an optional UTF-8 BOM) must be '[',
 *    else the open fails; "[]" has no records; a trailing comma before ']'
 *    is tolerated; bytes after the closing ']' are ignored;
 *  - an element that is not valid JSON, or not an object: record.bad_json
 *    (an empty element ",," too); the file ending inside an element gives
 *    that element as record.bad_json, then the end; the file ending
 *    between elements without ']' gives one record.truncated record after
 *    the elements before the cut (they are all kept);
 *  - the element's "id", when present, goes into meta_json as "id";
 *  - image: "image" (or --image-col); caption: conversations[1].value,
 *    raw (Long-CLIP replaces "\n" later); missing or not strings:
 *    record.missing_field;
 *  - image paths are relative to --image-root, default the JSON's
 *    directory; source is "<input>:[<i>]", i the element's position.
 */
#include "pipeline/sources/source_impl.h"
#include "base/buf.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/util.h"

#define CHUNK (256 * 1024)

struct sg {
	FILE *fp;
	unsigned char *rbuf;
	size_t rlen, rpos;
	int eof;
	char *el;              /* the element being framed */
	size_t elen, ecap;
	uint64_t etotal;       /* its full size, also past the cap */
	uint64_t i;            /* position of the next element */
	int closed;            /* the closing ']' was seen (or the file ended) */
	int cut_pending;       /* the file ended right after a whole element */
};

static void sg_close(struct ts_source *src)
{
	struct sg *s = src->priv;
	if (!s)
		return;
	if (s->fp)
		fclose(s->fp);
	free(s->rbuf);
	free(s->el);
	free(s);
	src->priv = NULL;
}

/* Make a byte available at rbuf[rpos]; 1, 0 at EOF, <0 on a read error. */
static int more(struct ts_source *src, struct sg *s, struct ts_err *err)
{
	if (s->rpos < s->rlen)
		return 1;
	if (s->eof)
		return 0;
	s->rlen = fread(s->rbuf, 1, CHUNK, s->fp);
	s->rpos = 0;
	if (s->rlen == 0) {
		if (ferror(s->fp))
			return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s",
					  src->input, strerror(errno));
		s->eof = 1;
		return 0;
	}
	return 1;
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip whitespace; then 1 with the next byte unconsumed, 0 at EOF, <0. */
static int skip_ws(struct ts_source *src, struct sg *s, struct ts_err *err)
{
	int r;
	while ((r = more(src, s, err)) == 1) {
		if (!is_ws(s->rbuf[s->rpos]))
			return 1;
		s->rpos++;
	}
	return r;
}

static int sg_open(struct ts_source *src, struct ts_err *err)
{
	struct sg *s = calloc(1, sizeof(*s));
	int r;
	if (!s)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = s;
	if (!(s->rbuf = malloc(CHUNK)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!(s->fp = fopen(src->input, "rb")))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s",
				  src->input, strerror(errno));
	if ((r = more(src, s, err)) < 0)
		return r;
	s->rpos = ts_bom_len(s->rbuf, s->rlen);
	if ((r = skip_ws(src, s, err)) < 0)
		return r;
	if (r == 0 || s->rbuf[s->rpos] != '[')
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "'%s' is not a ShareGPT4V file: it does not start with a JSON array",
				  src->input);
	s->rpos++;
	return TS_OK;
}

static int append(struct sg *s, const unsigned char *p, size_t n, uint64_t cap)
{
	s->etotal += n;
	if (s->etotal > cap || n == 0)
		return TS_OK;
	if (TS_ALLOC_GROW(s->el, s->ecap, s->elen + n))
		return TS_ERR_NOMEM;
	memcpy(s->el + s->elen, p, n);
	s->elen += n;
	return TS_OK;
}

/* Frame the next element into s->el.  1 framed (*truncated set when the
 * file ended inside it), 0 no more elements, <0 fatal. */
static int frame(struct ts_source *src, struct sg *s, int *truncated, struct ts_err *err)
{
	int r, in_str = 0, esc = 0;
	unsigned long depth = 0;

	*truncated = 0;
	s->elen = 0;
	s->etotal = 0;
	if (s->cut_pending) {
		s->cut_pending = 0;
		s->closed = 1;
		*truncated = 2;
		return 1;
	}
	if (s->closed)
		return 0;
	if ((r = skip_ws(src, s, err)) < 0)
		return r;
	if (r == 0) {
		/* cut between elements: the ones before are kept, a reject
		 * marks the cut */
		s->closed = 1;
		*truncated = 2;
		return 1;
	}
	if (s->rbuf[s->rpos] == ']') {     /* "[]" or a trailing comma */
		s->rpos++;
		s->closed = 1;
		return 0;
	}
	for (;;) {
		if ((r = more(src, s, err)) < 0)
			return r;
		if (r == 0) {
			if (!in_str && depth == 0 && s->elen > 0) {
				/* a whole element, then the cut: it counts, and the
				 * next call reports the cut */
				s->cut_pending = 1;
				return 1;
			}
			*truncated = 1;
			s->closed = 1;
			return 1;
		}
		const unsigned char *b = s->rbuf;
		size_t i = s->rpos, end = s->rlen;
		int term = 0;
		for (; i < end; i++) {
			unsigned char ch = b[i];
			if (in_str) {
				if (esc)
					esc = 0;
				else if (ch == '\\')
					esc = 1;
				else if (ch == '"')
					in_str = 0;
				continue;
			}
			if (ch == '"') {
				in_str = 1;
			} else if (ch == '{' || ch == '[') {
				depth++;
			} else if (ch == '}' || ch == ']') {
				if (depth)
					depth--;
				else if (ch == ']')
					term = ']';
			} else if (ch == ',' && depth == 0) {
				term = ',';
			}
			if (term)
				break;
		}
		if (append(s, b + s->rpos, i - s->rpos, src->max_bytes))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory reading '%s'",
					  src->input);
		s->rpos = term ? i + 1 : i;
		if (term == ']')
			s->closed = 1;
		if (term)
			return 1;
	}
}

static int sg_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct sg *s = src->priv;
	json_error_t jerr;
	json_t *obj = NULL, *img, *conv, *val;
	const char *imgkey = src->image_col ? src->image_col : "image";
	int truncated, rc;

	if ((rc = frame(src, s, &truncated, err)) <= 0)
		return rc;
	uint64_t i = s->i++;
	if (!(rec->source = ts_src_printf("%s:[%llu]", src->input, (unsigned long long)i)))
		return TS_ERR_NOMEM;
	if (truncated == 2)
		return ts_src_reject(rec, TS_R_RECORD_TRUNCATED,
				     "the file ends after %llu elements, before the closing ']' of "
				     "the array (truncated?)", (unsigned long long)i);
	if (truncated)
		return ts_src_reject(rec, TS_R_RECORD_BAD_JSON,
				     "the file ends inside this element (truncated?)");
	if (s->etotal > src->max_bytes)
		return ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "element is longer than %llu bytes",
				     (unsigned long long)src->max_bytes);
	if (!(obj = json_loadb(s->el, s->elen, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr)))
		return ts_src_reject(rec, TS_R_RECORD_BAD_JSON, "not JSON: %s", jerr.text);
	if (!json_is_object(obj)) {
		rc = ts_src_reject(rec, TS_R_RECORD_BAD_JSON, "element is %s, not an object",
				   ts_src_json_type(obj));
		goto out;
	}
	json_t *id = json_object_get(obj, "id");
	if (id) {
		/* the element's id into KEY.json */
		json_t *m = json_pack("{s:O}", "id", id);
		if (!m || ts_src_set_meta(rec, m)) {
			rc = TS_ERR_NOMEM;
			goto out;
		}
	}
	img = json_object_get(obj, imgkey);
	if (!json_is_string(img) || json_string_length(img) == 0 ||
	    strlen(json_string_value(img)) != json_string_length(img)) {
		rc = ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD, "no string '%s' field", imgkey);
		goto out;
	}
	if ((rc = ts_src_set_image(src, rec, json_string_value(img))) != 1 || rec->reject)
		goto out;
	conv = json_object_get(obj, "conversations");
	val = json_object_get(json_array_get(conv, 1), "value");
	if (!json_is_string(val)) {
		rc = ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD,
				   "no string conversations[1].value");
		goto out;
	}
	rc = ts_src_add_caption(rec, json_string_value(val), json_string_length(val))
		? TS_ERR_NOMEM : 1;
out:
	json_decref(obj);
	return rc;
}

const struct ts_source_ops ts_source_sharegpt4v_ops = {
	sg_open, sg_next, sg_close,
};
