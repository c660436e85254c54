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
 * Per sample:
 *  - the image is the first member whose extension is jpg, jpeg, png or
 *    webp (any case; the bytes decide the format);
 *  - the captions are the "captions" array of the json member (tessera's
 *    own KEY.json: all of them, the first primary), else the "txt"
 *    member, else the "caption"/"text" field of the json member;
 *  - the json member, when it is a JSON object, goes whole under
 *    "source_meta" in the record's meta_json;
 *  - every other member is carried byte for byte under its extension
 *    (KEY.short.txt, KEY.long.txt, ...), except the ones that describe the
 *    old pixels, which ingest re-encodes and resizes: a further image
 *    (any extension ending in jpg, jpeg, png or webp: tag masks, region
 *    masks) and tags.json (its scores and mask names refer to those
 *    pixels and to the old key).
 * Rejects: a member whose name is absolute or has a ".." component, or a
 * symlink/hardlink/other non-regular member, makes its sample
 * record.unsafe_member (nothing is ever extracted to disk); a member over
 * max_member_bytes record.member_too_large and a sparse member
 * record.bad_tar (reading goes on after it); no image member is
 * record.missing_field; no caption is caption.missing.
 * Damage never stops the run: a tar that ends early or has a damaged
 * header gives one record.truncated_tar / record.bad_tar reject (the
 * sample whose member was cut, or a record of its own "TAR@OFFSET" when
 * the damage is at a header) with {"offset":N} as reject_detail, and the
 * INPUT ends there; the samples before it are kept.  A read error of the
 * tar (EIO) ends it the same way, as source.unreadable.
 * source is "<tar>:<key>", image_ref the image member's name.
 */
#include "pipeline/sources/source_impl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shards/shards.h"

#define DEFAULT_MAX_MEMBER (64ULL << 20)

struct group {
	char *key;
	uint8_t *img;
	size_t img_len;
	char *img_name;
	char *txt;
	size_t txt_len;
	char *json;
	size_t json_len;
	struct ts_extra_member *extra;
	size_t nextra;
	enum ts_reason bad;    /* why the sample is rejected, or TS_R_NONE */
	char *bad_msg;
	uint64_t bad_off;      /* for reject_detail, with bad_has_off */
	int bad_has_off;
};

struct wds {
	struct ts_tar_reader *t;
	struct ts_tar_member la;   /* lookahead member (name/data copied) */
	char *la_name;
	uint8_t *la_data;
	int have_la, eof;
	enum ts_reason la_bad;     /* the lookahead member could not be read */
	char *la_msg;
	uint64_t la_off;
	/* damage that ended the tar, not yet reported */
	enum ts_reason dmg;
	char *dmg_msg;
	char *dmg_key;             /* key of the member it cut, or NULL (at a header) */
	uint64_t dmg_off;
};

static void group_free(struct group *g)
{
	free(g->key);
	free(g->img);
	free(g->img_name);
	free(g->txt);
	free(g->json);
	for (size_t i = 0; i < g->nextra; i++) {
		free(g->extra[i].ext);
		free(g->extra[i].data);
	}
	free(g->extra);
	free(g->bad_msg);
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
	free(w->la_msg);
	free(w->dmg_msg);
	free(w->dmg_key);
	free(w);
	src->priv = NULL;
}

static int wds_open(struct ts_source *src, struct ts_err *err)
{
	struct wds *w = calloc(1, sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = w;
	return ts_tar_open(&w->t, src->input, src->opts.max_member_bytes
			   ? src->opts.max_member_bytes : DEFAULT_MAX_MEMBER, err);
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

static int is_image_ext(const char *ext)
{
	return !strcasecmp(ext, "jpg") || !strcasecmp(ext, "jpeg") ||
	       !strcasecmp(ext, "png") || !strcasecmp(ext, "webp");
}

/* 1 when the last dot-part of ext is an image extension ("0.tagmask.png") */
static int ends_in_image_ext(const char *ext)
{
	const char *last = strrchr(ext, '.');
	return is_image_ext(last ? last + 1 : ext);
}

/* Read the next member into the lookahead.  A member that cannot be read
 * but can be skipped becomes a lookahead with la_bad set; damage that ends
 * the tar is kept in w->dmg and ends the input.  0 or a fatal status. */
static int fetch(struct wds *w, struct ts_err *err)
{
	struct ts_tar_member m;
	struct ts_err e = TS_ERR_INIT;
	int r;
	if (w->have_la || w->eof)
		return TS_OK;
	memset(&m, 0, sizeof(m));
	uint64_t at = ts_tar_position(w->t);     /* where the next header starts */
	r = ts_tar_next(w->t, &m, &e);
	if (r == 0) {
		w->eof = 1;
		return TS_OK;
	}
	if (r < 0 && e.status == TS_ERR_IO) {
		e.reason = TS_R_SOURCE_UNREADABLE;   /* the input cannot be read on: that input ends */
	} else if (r < 0 && (e.status == TS_ERR_NOMEM || e.reason == TS_R_NONE)) {
		*err = e;
		return r;
	}
	free(w->la_name);
	free(w->la_data);
	free(w->la_msg);
	w->la_name = NULL;
	w->la_data = NULL;
	w->la_msg = NULL;
	w->la_bad = TS_R_NONE;
	if (r < 0 && e.status != TS_ERR_LIMIT && e.status != TS_ERR_UNSUPPORTED) {
		const char *ext;
		w->eof = 1;
		w->dmg = e.reason;
		w->dmg_off = ts_tar_position(w->t);
		w->dmg_key = m.name ? split_key(m.name, &ext) : NULL;
		if (!(w->dmg_msg = strdup(e.msg)))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		return TS_OK;
	}
	w->la_name = strdup(m.name ? m.name : "");
	w->la_data = malloc(m.data ? m.size + 1 : 1);
	if (!w->la_name || !w->la_data)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (m.data)
		memcpy(w->la_data, m.data, m.size);
	w->la = m;
	if (r < 0) {
		w->la_bad = e.reason;
		w->la_off = at;
		w->la.size = 0;
		if (!(w->la_msg = strdup(e.msg)))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	w->la_data[w->la.size] = 0;
	w->la.name = w->la_name;
	w->la.data = w->la_data;
	w->have_la = 1;
	return TS_OK;
}

static int mark_bad(struct group *g, enum ts_reason why, char *msg)
{
	if (!msg)
		return -1;
	if (g->bad != TS_R_NONE) {
		free(msg);
		return 0;
	}
	g->bad = why;
	g->bad_msg = msg;
	return 0;
}

/* Move the lookahead member into the group. 0, or -1 when out of memory. */
static int take(struct group *g, struct wds *w, const char *ext)
{
	uint8_t *d = w->la_data;
	size_t n = w->la.size;
	w->la_data = NULL;
	w->have_la = 0;
	if (w->la_bad != TS_R_NONE) {
		free(d);
		if (g->bad == TS_R_NONE) {
			g->bad_off = w->la_off;
			g->bad_has_off = 1;
		}
		char *msg = w->la_msg;
		w->la_msg = NULL;
		return mark_bad(g, w->la_bad, msg);
	}
	if (w->la.type != 0) {
		free(d);
		return mark_bad(g, TS_R_RECORD_UNSAFE_MEMBER,
				ts_src_printf("member '%s' is a %s", w->la_name,
					      w->la.type == 2 ? "symlink" : w->la.type == 3 ?
					      "hard link" : "directory or special file"));
	}
	if (unsafe_name(w->la_name)) {
		free(d);
		return mark_bad(g, TS_R_RECORD_UNSAFE_MEMBER,
				ts_src_printf("member name '%s' escapes the archive", w->la_name));
	}
	if (!g->img && is_image_ext(ext)) {
		g->img = d;
		g->img_len = n;
		g->img_name = strdup(w->la_name);
		return g->img_name ? 0 : -1;
	}
	if (!g->txt && !strcmp(ext, "txt")) {
		g->txt = (char *)d;
		g->txt_len = n;
		return 0;
	}
	if (!g->json && !strcmp(ext, "json")) {
		g->json = (char *)d;
		g->json_len = n;
		return 0;
	}
	if (ends_in_image_ext(ext) || !strcmp(ext, "tags.json") || !strcmp(ext, "txt") ||
	    !strcmp(ext, "json")) {
		free(d);             /* old pixels, or a second txt/json */
		return 0;
	}
	for (size_t i = 0; i < g->nextra; i++)
		if (!strcmp(g->extra[i].ext, ext)) {
			free(d);     /* webdataset keeps the last; we keep the first */
			return 0;
		}
	struct ts_extra_member *x = realloc(g->extra, (g->nextra + 1) * sizeof(*x));
	if (!x) {
		free(d);
		return -1;
	}
	g->extra = x;
	x[g->nextra].ext = strdup(ext);
	x[g->nextra].data = d;
	x[g->nextra].len = n;
	if (!x[g->nextra].ext)
		return -1;
	g->nextra++;
	return 0;
}

static int set_offset_detail(struct ts_record *rec, uint64_t off)
{
	json_t *d = json_pack("{s:I}", "offset", (json_int_t)off);
	char *s = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (!s)
		return TS_ERR_NOMEM;
	free(rec->reject_detail);
	rec->reject_detail = s;
	return TS_OK;
}

/* The record of a damage found at a header (no sample to blame). */
static int damage_record(struct ts_source *src, struct wds *w, struct ts_record *rec)
{
	int rc;
	if (w->dmg_key)
		rec->source = ts_src_printf("%s:%s", src->input, w->dmg_key);
	else
		rec->source = ts_src_printf("%s@%llu", src->input, (unsigned long long)w->dmg_off);
	if (!rec->source || (rc = ts_src_reject(rec, w->dmg, "%s", w->dmg_msg)) != 1 ||
	    set_offset_detail(rec, w->dmg_off))
		return TS_ERR_NOMEM;
	w->dmg = TS_R_NONE;
	return 1;
}

/* Captions and meta_json of an accepted sample; 1 or TS_ERR_NOMEM. */
static int fill_text(struct ts_record *rec, struct group *g)
{
	json_t *j = NULL, *caps, *c;
	int rc = 1;
	if (g->json) {
		json_error_t je;
		j = json_loadb(g->json, g->json_len, 0, &je);
		if (!json_is_object(j)) {
			json_decref(j);
			j = NULL;
		}
	}
	caps = j ? json_object_get(j, "captions") : NULL;
	if (json_is_array(caps) && json_array_size(caps) > 0) {
		size_t i;
		json_array_foreach(caps, i, c)
			if (!json_is_string(c))
				break;
		if (i < json_array_size(caps))
			caps = NULL;     /* not all strings: use the txt member */
	} else {
		caps = NULL;
	}
	if (caps) {
		size_t i;
		json_array_foreach(caps, i, c)
			if (ts_src_add_caption(rec, json_string_value(c), json_string_length(c)))
				goto nomem;
	} else if (g->txt) {
		if (ts_src_add_caption(rec, g->txt, g->txt_len))
			goto nomem;
	} else if (j) {
		c = json_object_get(j, "caption");
		if (!json_is_string(c))
			c = json_object_get(j, "text");
		if (json_is_string(c) &&
		    ts_src_add_caption(rec, json_string_value(c), json_string_length(c)))
			goto nomem;
	}
	if (j) {
		json_t *m = json_pack("{s:O}", "source_meta", j);
		if (!m || ts_src_set_meta(rec, m))
			goto nomem;
	}
	rec->extra = g->extra;
	rec->nextra = g->nextra;
	g->extra = NULL;
	g->nextra = 0;
	json_decref(j);
	return rc;
nomem:
	json_decref(j);
	return TS_ERR_NOMEM;
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
			return w->dmg != TS_R_NONE ? damage_record(src, w, rec) : 0;
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
	if (w->dmg != TS_R_NONE && w->dmg_key && !strcmp(w->dmg_key, g.key)) {
		/* the damage cut one of this sample's members */
		if (g.img_name && !(rec->image_ref = strdup(g.img_name)))
			goto nomem;
		rc = damage_record(src, w, rec);
		free(rec->source);
		if (!(rec->source = ts_src_printf("%s:%s", src->input, g.key)))
			goto nomem;
	} else if (g.bad != TS_R_NONE) {
		rc = ts_src_reject(rec, g.bad, "%s", g.bad_msg);
		if (rc == 1 && g.bad_has_off && set_offset_detail(rec, g.bad_off))
			goto nomem;
	} else if (!g.img) {
		rc = ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD,
				   "no image member (jpg, jpeg, png, webp) for key '%s'", g.key);
	} else {
		rec->image_ref = g.img_name;
		rec->image_data = g.img;
		rec->image_len = g.img_len;
		g.img_name = NULL;
		g.img = NULL;
		if ((rc = fill_text(rec, &g)) != 1)
			goto nomem;
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
