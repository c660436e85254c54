/*
 * source_wds.c - existing WebDataset tar shards as input (re-shard,
 * re-encode, resize).
 *
 * INPUT is one .tar file (give several INPUTs, e.g. a shell glob, for
 * several shards; record numbers continue across them).  Members are
 * grouped into samples exactly as webdataset does: the key is the member
 * name up to the first dot of its basename (directories included), the
 * extension is the rest; consecutive members with the same key form one
 * sample, in archive order.  A member whose basename has no dot is not
 * part of any sample (webdataset skips it too).
 *
 * Per sample: the image is the first member whose extension is jpg, jpeg,
 * png or webp (any case; the bytes decide the format), the caption the
 * "txt" member, else the "caption"/"text" field of the "json" member.
 * Rejects: a member whose name is absolute or has a ".." component, or a
 * symlink/hardlink/other non-regular member, makes its sample
 * record.unsafe_member (nothing is ever extracted to disk); no image member
 * is record.missing_field; no caption is caption.missing.
 * source is "<tar>:<key>", image_ref the image member's name.
 */
#include "source_impl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../shards/shards.h"

struct group {
	char *key;
	uint8_t *img;
	size_t img_len;
	char *img_name;
	char *txt;
	size_t txt_len;
	char *json;
	size_t json_len;
	char *unsafe;          /* why the sample is unsafe, or NULL */
};

struct wds {
	struct ts_tar_reader *t;
	struct ts_tar_member la;   /* lookahead member (name/data copied) */
	char *la_name;
	uint8_t *la_data;
	int have_la, eof;
};

static void group_free(struct group *g)
{
	free(g->key);
	free(g->img);
	free(g->img_name);
	free(g->txt);
	free(g->json);
	free(g->unsafe);
	memset(g, 0, sizeof(*g));
}

static void wds_close(struct ts_source *src)
{
	struct wds *w = src->priv;
	if (!w)
		return;
	ts_tar_close(w->t);
	free(w->la_name);
	free(w->la_data);
	free(w);
	src->priv = NULL;
}

static int wds_open(struct ts_source *src, struct ts_err *err)
{
	struct wds *w = calloc(1, sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = w;
	return ts_tar_open(&w->t, src->input, src->max_bytes, err);
}

/* key (prefix) of a member name, as webdataset's base_plus_ext: NULL when
 * the basename has no dot */
static char *split_key(const char *name, const char **ext)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *dot = strchr(base, '.');
	if (!dot || dot == base)
		return NULL;
	*ext = dot + 1;
	return strndup(name, (size_t)(dot - name));
}

static int unsafe_name(const char *name)
{
	if (name[0] == '/')
		return 1;
	for (const char *p = name; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

static int fetch(struct wds *w, struct ts_err *err)
{
	struct ts_tar_member m;
	int r;
	if (w->have_la || w->eof)
		return TS_OK;
	r = ts_tar_next(w->t, &m, err);
	if (r < 0)
		return r;
	if (r == 0) {
		w->eof = 1;
		return TS_OK;
	}
	free(w->la_name);
	free(w->la_data);
	w->la_name = strdup(m.name);
	w->la_data = malloc(m.size + 1);
	if (!w->la_name || !w->la_data)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	memcpy(w->la_data, m.data, m.size);
	w->la_data[m.size] = 0;
	w->la = m;
	w->la.name = w->la_name;
	w->la.data = w->la_data;
	w->have_la = 1;
	return TS_OK;
}

static int take(struct group *g, struct wds *w, const char *ext)
{
	uint8_t *d = w->la_data;
	size_t n = w->la.size;
	w->la_data = NULL;
	w->have_la = 0;
	if (w->la.type != 0) {
		if (!g->unsafe)
			g->unsafe = ts_src_printf("member '%s' is a %s", w->la_name,
						  w->la.type == 2 ? "symlink" : w->la.type == 3 ?
						  "hard link" : "directory or special file");
	} else if (unsafe_name(w->la_name)) {
		if (!g->unsafe)
			g->unsafe = ts_src_printf("member name '%s' escapes the archive", w->la_name);
	} else if (!g->img && (!strcasecmp(ext, "jpg") || !strcasecmp(ext, "jpeg") ||
			       !strcasecmp(ext, "png") || !strcasecmp(ext, "webp"))) {
		g->img = d;
		g->img_len = n;
		g->img_name = strdup(w->la_name);
		return g->img_name ? 0 : -1;
	} else if (!g->txt && !strcmp(ext, "txt")) {
		g->txt = (char *)d;
		g->txt_len = n;
		return 0;
	} else if (!g->json && !strcmp(ext, "json")) {
		g->json = (char *)d;
		g->json_len = n;
		return 0;
	}
	free(d);
	return 0;
}

static int wds_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct wds *w = src->priv;
	struct group g;
	const char *ext;
	int rc;

	memset(&g, 0, sizeof(g));
	/* the first member of the next sample */
	for (;;) {
		if ((rc = fetch(w, err)))
			return rc;
		if (!w->have_la)
			return 0;
		g.key = split_key(w->la_name, &ext);
		if (g.key)
			break;
		w->have_la = 0;        /* no dot in the basename: not part of a sample */
	}
	if (take(&g, w, ext))
		goto nomem;
	for (;;) {
		char *k;
		if ((rc = fetch(w, err)))
			goto fail;
		if (!w->have_la)
			break;
		k = split_key(w->la_name, &ext);
		if (!k) {
			w->have_la = 0;
			continue;
		}
		int same = !strcmp(k, g.key);
		free(k);
		if (!same)
			break;
		if (take(&g, w, ext))
			goto nomem;
	}
	if (!(rec->source = ts_src_printf("%s:%s", src->input, g.key)))
		goto nomem;
	if (g.unsafe)
		rc = ts_src_reject(rec, TS_R_RECORD_UNSAFE_MEMBER, "%s", g.unsafe);
	else if (!g.img)
		rc = ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD,
				   "no image member (jpg, jpeg, png, webp) for key '%s'", g.key);
	else {
		rec->image_ref = g.img_name;
		rec->image_data = g.img;
		rec->image_len = g.img_len;
		g.img_name = NULL;
		g.img = NULL;
		rc = 1;
		if (g.txt) {
			if (ts_src_add_caption(rec, g.txt, g.txt_len))
				goto nomem;
		} else if (g.json) {
			json_error_t je;
			json_t *j = json_loadb(g.json, g.json_len, 0, &je);
			json_t *c = j ? json_object_get(j, "caption") : NULL;
			if (!json_is_string(c))
				c = j ? json_object_get(j, "text") : NULL;
			if (json_is_string(c) &&
			    ts_src_add_caption(rec, json_string_value(c), json_string_length(c))) {
				json_decref(j);
				goto nomem;
			}
			json_decref(j);
		}
		if (rec->ncaptions == 0)
			rc = ts_src_reject(rec, TS_R_CAPTION_MISSING,
					   "no .txt member and no caption in .json for key '%s'", g.key);
	}
	group_free(&g);
	return rc;
nomem:
	rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
fail:
	group_free(&g);
	return rc;
}

const struct ts_source_ops ts_source_wds_ops = { wds_open, wds_next, wds_close };
