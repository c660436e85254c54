/*
 * source_parquet.c - parquet metadata files (LAION, DataComp, COYO,
 * img2dataset outputs) through the reader in shards/parquet.c.
 *
 * Only the columns used are read, one row group at a time, so memory is
 * bounded by a row group's selected columns whatever the file's size.
 * Rules:
 *  - one record per row, in file order; source is "<input>:<row>", the row
 *    numbered from 1;
 *  - image column: --image-col, else the first of image, path, filepath,
 *    file_name, url, URL the file has; caption column: --caption-col, else
 *    the first of caption, text, TEXT.  Either missing, or of a type that is
 *    not a string, is a fatal open error listing the columns;
 *  - a null or empty image value is record.missing_field; a URL
 *    (http:// or https://) is kept in image_ref for tessera fetch (which
 *    downloads it) and, read by ingest as a local path, rejected as
 *    source.missing; other values are paths
 *    under --image-root (default: the file's directory);
 *  - a null caption is caption.missing (an empty one is kept and the
 *    caption checks reject it);
 *  - --id-col NAME: the value is stored as "uid" in the record's meta_json;
 *    --hash-col NAME (fetch): the expected hash, under --hash-type;
 *    --keep-col NAME (repeatable): the value under NAME, a list column as a
 *    JSON array, a null as JSON null.  A named column the file lacks is a
 *    fatal open error.  List columns that are not kept are skipped with a
 *    one-line notice on stderr (not with -q);
 *  - a file that is not parquet or whose footer is damaged is one
 *    record.bad_row record with the reader's message (other inputs go on);
 *    a row group that turns out damaged while reading is one record.bad_row
 *    for the rows not read, and the file ends there.  Rows already handed
 *    out are kept: they were read from intact pages.
 */
#include "pipeline/sources/source_impl.h"
#include "base/buf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shards/parquet.h"
#include "pipeline/util.h"

struct pqsrc {
	struct ts_pq *pq;
	char *open_msg;          /* the file cannot be read at all: one reject */
	int done;
	size_t nsel;             /* 0 image, 1 caption, 2.. id then kept columns */
	int has_id;
	size_t hash_at;          /* the hash column's place in the selection (0: none) */
	const char *hash_type;   /* its key in meta_json: "sha256" or "md5" */
	size_t keep0;            /* first kept column in the selection */
	const char **keep_names;
	const char *img_name, *cap_name;
	size_t nrows, row;
	uint64_t rowno;          /* rows handed out so far */
};

static const char *const img_defaults[] = { "image", "path", "filepath", "file_name", "url", "URL", NULL };
static const char *const cap_defaults[] = { "caption", "text", "TEXT", NULL };

static void pqsrc_close(struct ts_source *src)
{
	struct pqsrc *p = src->priv;
	if (!p)
		return;
	ts_pq_close(p->pq);
	free(p->open_msg);
	free(p->keep_names);
	free(p);
	src->priv = NULL;
}

static int pick(struct ts_pq *pq, const char *given, const char *const *defaults)
{
	if (given)
		return ts_pq_find(pq, given);
	for (const char *const *d = defaults; *d; d++) {
		int i = ts_pq_find(pq, *d);
		if (i >= 0)
			return i;
	}
	return -1;
}

static char *column_list(struct ts_pq *pq)
{
	struct ts_buf b = TS_BUF_INIT;
	for (size_t i = 0; i < ts_pq_nfields(pq); i++)
		if (ts_buf_addf(&b, "%s%s", i ? ", " : "", ts_pq_field_at(pq, i)->name)) {
			ts_buf_release(&b);
			return NULL;
		}
	return ts_buf_detach(&b, NULL);
}

static int need_string(struct ts_source *src, struct ts_pq *pq, int i, const char *role,
		       struct ts_err *err)
{
	const struct ts_pq_field *f = ts_pq_field_at(pq, (size_t)i);
	if (f->nested || (f->type != TS_PQ_BYTE_ARRAY && f->type != TS_PQ_FIXED_LEN_BYTE_ARRAY))
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
				  "the %s column '%s' of '%s' is %s, not a string column", role, f->name,
				  src->input, f->type_desc);
	return TS_OK;
}

static int pqsrc_open(struct ts_source *src, struct ts_err *err)
{
	struct pqsrc *p = calloc(1, sizeof(*p));
	struct ts_err e = TS_ERR_INIT;
	int *sel = NULL, rc;
	char *cols = NULL;

	if (!p)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = p;
	if ((rc = ts_pq_open(&p->pq, src->input, NULL, &e))) {
		if (rc == TS_ERR_NOMEM || rc == TS_ERR_IO) {
			*err = e;
			return rc;
		}
		/* not parquet, truncated, damaged footer: one rejected record */
		if (!(p->open_msg = strdup(e.msg)))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		src->count = 1;
		return TS_OK;
	}
	struct ts_pq *pq = p->pq;
	int img = pick(pq, src->image_col, img_defaults);
	int cap = pick(pq, src->caption_col, cap_defaults);
	if (img < 0 || cap < 0) {
		int missing_img = img < 0;
		const char *given = missing_img ? src->image_col : src->caption_col;
		cols = column_list(pq);
		if (given)
			rc = ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "no column '%s' in '%s' (columns: %s)",
					given, src->input, cols ? cols : "?");
		else
			rc = ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
					"no %s column in '%s' (looked for %s; columns: %s); use %s", missing_img ? "image" : "caption",
					src->input, missing_img ? "image, path, filepath, file_name, url, URL" : "caption, text, TEXT",
					cols ? cols : "?", missing_img ? "--image-col" : "--caption-col");
		goto out;
	}
	if ((rc = need_string(src, pq, img, "image", err)) || (rc = need_string(src, pq, cap, "caption", err)))
		goto out;
	size_t nmax = 4 + src->nkeep_cols;
	if (!(sel = calloc(nmax, sizeof(*sel))) ||
	    !(p->keep_names = calloc(src->nkeep_cols ? src->nkeep_cols : 1, sizeof(char *)))) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto out;
	}
	sel[p->nsel++] = img;
	sel[p->nsel++] = cap;
	p->img_name = ts_pq_field_at(pq, (size_t)img)->name;
	p->cap_name = ts_pq_field_at(pq, (size_t)cap)->name;
	if (src->id_col) {
		int id = ts_pq_find(pq, src->id_col);
		if (id < 0) {
			cols = column_list(pq);
			rc = ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "no id column '%s' in '%s' (columns: %s)",
					src->id_col, src->input, cols ? cols : "?");
			goto out;
		}
		sel[p->nsel++] = id;
		p->has_id = 1;
	}
	if (src->hash_col) {
		int h = ts_pq_find(pq, src->hash_col);
		if (h < 0) {
			cols = column_list(pq);
			rc = ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "no hash column '%s' in '%s' (columns: %s)",
					src->hash_col, src->input, cols ? cols : "?");
			goto out;
		}
		if ((rc = need_string(src, pq, h, "hash", err)))
			goto out;
		p->hash_at = p->nsel;
		p->hash_type = src->hash_type ? src->hash_type : "sha256";
		sel[p->nsel++] = h;
	}
	p->keep0 = p->nsel;
	for (size_t k = 0; k < src->nkeep_cols; k++) {
		int i = ts_pq_find(pq, src->keep_cols[k]);
		if (i < 0) {
			cols = column_list(pq);
			rc = ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "no column '%s' to keep in '%s' (columns: %s)",
					src->keep_cols[k], src->input, cols ? cols : "?");
			goto out;
		}
		p->keep_names[k] = ts_pq_field_at(pq, (size_t)i)->name;
		sel[p->nsel++] = i;
	}
	for (size_t i = 0; i < ts_pq_nfields(pq); i++) {
		const struct ts_pq_field *f = ts_pq_field_at(pq, i);
		int used = 0;
		for (size_t k = 0; k < p->nsel; k++)
			used |= sel[k] == (int)i;
		if (f->nested && !used && ts_verbosity >= 1)   /* a notice, not a warning; -q hides it */
			fprintf(stderr, "tessera: '%s': list column '%s' (%s) skipped; --keep-col %s keeps it as a JSON array\n",
				src->input, f->name, f->type_desc, f->name);
	}
	if (ts_pq_select(pq, sel, p->nsel, &e)) {
		/* a selected column the reader cannot read: the user picked it */
		*err = e;
		rc = TS_ERR_USAGE;
		err->status = TS_ERR_USAGE;
		goto out;
	}
	src->count = ts_pq_num_rows(pq);
	rc = TS_OK;
out:
	free(cols);
	free(sel);
	return rc;
}

static int is_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

static int set_meta(struct pqsrc *p, struct ts_record *rec, struct ts_err *err)
{
	if (!p->has_id && !p->hash_at && p->nsel == p->keep0)
		return TS_OK;
	json_t *o = json_object();
	if (!o)
		return TS_ERR_NOMEM;
	if (p->has_id) {
		json_t *v = ts_pq_get_json(p->pq, 2, p->row, err);
		if (!v || json_object_set_new(o, "uid", v))
			goto nomem;
	}
	if (p->hash_at) {
		/* the expected hash of the image bytes, under its type (fetch checks it) */
		struct ts_pq_value h;
		ts_pq_get(p->pq, p->hash_at, p->row, &h);
		if (h.kind == TS_PQV_BYTES && h.len &&
		    json_object_set_new(o, p->hash_type, json_stringn((const char *)h.s, h.len)))
			goto nomem;
	}
	for (size_t k = p->keep0; k < p->nsel; k++) {
		json_t *v = ts_pq_get_json(p->pq, k, p->row, err);
		if (!v || json_object_set_new(o, p->keep_names[k - p->keep0], v))
			goto nomem;
	}
	rec->meta_json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return rec->meta_json ? TS_OK : TS_ERR_NOMEM;
nomem:
	json_decref(o);
	return TS_ERR_NOMEM;
}

static int pqsrc_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct pqsrc *p = src->priv;
	struct ts_err e = TS_ERR_INIT;
	struct ts_pq_value v;
	int rc;

	if (p->done)
		return 0;
	if (p->open_msg) {
		p->done = 1;
		if (!(rec->source = strdup(src->input)))
			return TS_ERR_NOMEM;
		return ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "%s", p->open_msg);
	}
	while (p->row >= p->nrows) {
		rc = ts_pq_next_group(p->pq, &p->nrows, &e);
		p->row = 0;
		if (rc == 0) {
			p->done = 1;
			return 0;
		}
		if (rc < 0) {
			p->done = 1;
			if (rc == TS_ERR_NOMEM) {
				*err = e;
				return rc;
			}
			if (!(rec->source = ts_src_printf("%s:%llu", src->input, (unsigned long long)p->rowno + 1)))
				return TS_ERR_NOMEM;
			return ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "%s; rows from %llu on are not read",
					     e.msg, (unsigned long long)p->rowno + 1);
		}
	}
	p->rowno++;
	if (!(rec->source = ts_src_printf("%s:%llu", src->input, (unsigned long long)p->rowno)))
		return TS_ERR_NOMEM;
	if (set_meta(p, rec, &e)) {
		p->row++;
		return TS_ERR_NOMEM;
	}
	ts_pq_get(p->pq, 0, p->row, &v);
	if (v.kind != TS_PQV_BYTES || v.len == 0 || memchr(v.s, '\0', v.len)) {
		p->row++;
		return ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD, "column '%s' is %s", p->img_name,
				     v.kind == TS_PQV_NULL ? "null" : v.kind != TS_PQV_BYTES ? "not a string"
				     : v.len == 0 ? "empty" : "a string with a NUL byte");
	}
	char *ref = strndup((const char *)v.s, v.len);
	if (!ref)
		return TS_ERR_NOMEM;
	struct ts_pq_value c;
	ts_pq_get(p->pq, 1, p->row, &c);
	p->row++;
	if (is_url(ref) && !src->urls) {
		rec->image_ref = ref;
		rc = ts_src_reject(rec, TS_R_SOURCE_MISSING, "the image is a URL, not a local path (tessera fetch downloads URLs): '%s'",
				   ref);
	} else {
		rc = ts_src_set_image(src, rec, ref);
		free(ref);
	}
	if (rc != 1 || rec->reject)
		return rc;
	if (c.kind != TS_PQV_BYTES)
		return ts_src_reject(rec, TS_R_CAPTION_MISSING, "column '%s' is %s", p->cap_name,
				     c.kind == TS_PQV_NULL ? "null" : "not a string");
	return ts_src_add_caption(rec, (const char *)c.s, c.len) ? TS_ERR_NOMEM : 1;
}

const struct ts_source_ops ts_source_parquet_ops = {
	pqsrc_open, pqsrc_next, pqsrc_close,
};
