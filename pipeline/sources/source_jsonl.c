/*
 * source_jsonl.c - JSON Lines: one JSON object per line, parsed by jansson.
 *
 * Lines are read through a 64 KiB buffer and collected up to
 * max_record_bytes; a longer line is skipped to its '\n' without being kept
 * and comes back as record.bad_row ("line is longer than N bytes").
 * Rules:
 *  - a UTF-8 byte-order mark at the start of the file is skipped;
 *  - a blank line (only spaces, tabs, CR) is skipped and takes no index, so
 *    a trailing empty line or a blank separator does not shift keys;
 *  - not JSON: record.bad_json with jansson's message; JSON but not an
 *    object: record.bad_json;
 *  - image field: --image-col, else the first of image, path, filepath,
 *    file_name, url present; absent, not a string or empty: record.missing_field;
 *  - captions: --caption-col, else the first of caption, text, title, captions
 *    present; a string is one caption, an array of strings gives them all
 *    in order (the first is primary); absent, empty array or a non-string
 *    entry: caption.missing;
 *  - image paths are relative to --image-root, default the file's
 *    directory; source is "<input>:<line>" (1-based).
 */
#include "pipeline/sources/source_impl.h"
#include "base/buf.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/util.h"

#define CHUNK (64 * 1024)

struct jsonl {
	FILE *fp;
	char *rbuf;
	size_t rlen, rpos;
	int eof;
	char *line;
	size_t llen, lcap;
	uint64_t lineno;
};

static void jsonl_close(struct ts_source *src)
{
	struct jsonl *j = src->priv;
	if (!j)
		return;
	if (j->fp)
		fclose(j->fp);
	free(j->rbuf);
	free(j->line);
	free(j);
	src->priv = NULL;
}

static int jsonl_open(struct ts_source *src, struct ts_err *err)
{
	struct jsonl *j = calloc(1, sizeof(*j));
	if (!j)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = j;
	if (!(j->rbuf = malloc(CHUNK)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!(j->fp = fopen(src->input, "rb")))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s",
				  src->input, strerror(errno));
	if (ts_skip_bom(j->fp))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s",
				  src->input, strerror(errno));
	return TS_OK;
}

/* Next line (without '\n') into j->line/llen.  1 line, 0 end, <0 fatal.
 * *too_long is set when the line was longer than max (its bytes dropped). */
static int read_line(struct ts_source *src, struct jsonl *j, int *too_long,
		     struct ts_err *err)
{
	int any = 0;
	*too_long = 0;
	j->llen = 0;
	for (;;) {
		if (j->rpos == j->rlen) {
			if (j->eof)
				break;
			j->rlen = fread(j->rbuf, 1, CHUNK, j->fp);
			j->rpos = 0;
			if (j->rlen == 0) {
				if (ferror(j->fp))
					return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s",
							  src->input, strerror(errno));
				j->eof = 1;
				break;
			}
		}
		any = 1;
		const char *seg = j->rbuf + j->rpos;
		size_t avail = j->rlen - j->rpos;
		const char *nl = memchr(seg, '\n', avail);
		size_t n = nl ? (size_t)(nl - seg) : avail;
		j->rpos += n + (nl ? 1 : 0);
		if (!*too_long && j->llen + n > src->max_bytes) {
			*too_long = 1;
			j->llen = 0;
		}
		if (!*too_long && n) {
			if (TS_ALLOC_GROW(j->line, j->lcap, j->llen + n + 1))
				return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE,
						  "out of memory reading '%s'", src->input);
			memcpy(j->line + j->llen, seg, n);
			j->llen += n;
		}
		if (nl)
			break;
	}
	if (!any)
		return 0;
	j->lineno++;
	return 1;
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

static const char *const img_defaults[] = { "image", "path", "filepath", "file_name", "url", NULL };
static const char *const cap_defaults[] = { "caption", "text", "title", "captions", NULL };

static json_t *pick(json_t *obj, const char *given, const char *const *defaults,
		    const char **name)
{
	json_t *v;
	if (given) {
		*name = given;
		return json_object_get(obj, given);
	}
	for (const char *const *d = defaults; *d; d++)
		if ((v = json_object_get(obj, *d))) {
			*name = *d;
			return v;
		}
	*name = NULL;
	return NULL;
}

/* Captions of a string or an array of strings into rec; 1 or TS_ERR_NOMEM. */
static int add_captions(struct ts_record *rec, json_t *v, const char *name)
{
	if (json_is_string(v))
		return ts_src_add_caption(rec, json_string_value(v), json_string_length(v))
			? TS_ERR_NOMEM : 1;
	if (!json_is_array(v))
		return ts_src_reject(rec, TS_R_CAPTION_MISSING,
				     "field '%s' is not a string or an array of strings", name);
	if (json_array_size(v) == 0)
		return ts_src_reject(rec, TS_R_CAPTION_MISSING, "field '%s' is an empty array", name);
	size_t i;
	json_t *c;
	json_array_foreach(v, i, c) {
		if (!json_is_string(c))
			return ts_src_reject(rec, TS_R_CAPTION_MISSING,
					     "%s[%zu] is not a string", name, i);
		if (ts_src_add_caption(rec, json_string_value(c), json_string_length(c)))
			return TS_ERR_NOMEM;
	}
	return 1;
}

/* --keep-col fields into meta_json (absent ones as null), the --group-by
 * field into group_key (a string as it is, another value as JSON text).
 * 1, or TS_ERR_NOMEM. */
static int extras(struct ts_source *src, struct ts_record *rec, json_t *obj)
{
	const struct ts_source_opts *o = &src->opts;
	if (o->group_by && strcmp(o->group_by, "image")) {
		json_t *g = json_object_get(obj, o->group_by);
		if (!g)
			return ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD,
					     "no '%s' field (--group-by)", o->group_by);
		rec->group_key = json_is_string(g) ? strdup(json_string_value(g))
			: json_dumps(g, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!rec->group_key)
			return TS_ERR_NOMEM;
	}
	if (!o->nkeep_cols)
		return 1;
	json_t *m = json_object();
	for (size_t i = 0; m && i < o->nkeep_cols; i++) {
		json_t *v = json_object_get(obj, o->keep_cols[i]);
		if (json_object_set_new(m, o->keep_cols[i], v ? json_incref(v) : json_null())) {
			json_decref(m);
			m = NULL;
		}
	}
	return m && !ts_src_set_meta(rec, m) ? 1 : TS_ERR_NOMEM;
}

/* --id-col and --hash-col into meta_json */
static int meta_from_json(struct ts_source *src, struct ts_record *rec, json_t *obj)
{
	return ts_src_set_ids_json(src, rec, src->id_col ? json_object_get(obj, src->id_col) : NULL,
				   src->hash_col ? json_object_get(obj, src->hash_col) : NULL);
}

static int jsonl_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct jsonl *j = src->priv;
	json_error_t jerr;
	json_t *obj = NULL, *v;
	const char *name;
	int too_long, rc;

	do {
		if ((rc = read_line(src, j, &too_long, err)) <= 0)
			return rc;
	} while (!too_long && blank(j->line, j->llen));

	if (!(rec->source = ts_src_printf("%s:%llu", src->input, (unsigned long long)j->lineno)))
		return TS_ERR_NOMEM;
	if (too_long)
		return ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "line is longer than %llu bytes",
				     (unsigned long long)src->max_bytes);
	if (!(obj = json_loadb(j->line, j->llen, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr)))
		return ts_src_reject(rec, TS_R_RECORD_BAD_JSON, "not JSON: %s (column %d)",
				     jerr.text, jerr.column);
	if (!json_is_object(obj)) {
		rc = ts_src_reject(rec, TS_R_RECORD_BAD_JSON, "line is %s, not a JSON object",
				   ts_src_json_type(obj));
		goto out;
	}
	if ((rc = extras(src, rec, obj)) != 1)
		goto out;
	v = pick(obj, src->image_col, src->urls ? ts_src_image_defaults(src) : img_defaults, &name);
	if (!v) {
		rc = src->image_col
			? ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD, "no '%s' field", src->image_col)
			: ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD,
					"no image field (image, path, filepath, file_name, url)");
		goto out;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		rc = ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD,
				   "field '%s' is not a non-empty string", name);
		goto out;
	}
	if ((rc = ts_src_set_image(src, rec, json_string_value(v))) != 1 || rec->reject)
		goto out;
	v = pick(obj, src->caption_col, cap_defaults, &name);
	if (!v)
		rc = src->caption_col
			? ts_src_reject(rec, TS_R_CAPTION_MISSING, "no '%s' field", src->caption_col)
			: ts_src_reject(rec, TS_R_CAPTION_MISSING,
					"no caption field (caption, text, title, captions)");
	else
		rc = add_captions(rec, v, name);
	if (rc == 1 && !rec->reject && (src->id_col || src->hash_col))
		rc = meta_from_json(src, rec, obj);
out:
	json_decref(obj);
	return rc;
}

const struct ts_source_ops ts_source_jsonl_ops = {
	jsonl_open, jsonl_next, jsonl_close,
};
