/*
 * source.c - the reader front end: format names and detection, open/next/
 * close dispatch to the per-format readers (source_<format>.c), record
 * release, and ts_resolve_under(), the one gate every image path passes
 * before a worker opens it.
 *
 * What must always hold: indexes are handed out here, one per record
 * produced (accepted or rejected), starting at first_index; a path is only
 * put in rec->image_path after realpath() showed it inside the image root.
 */
#define _GNU_SOURCE   /* vasprintf */
#include "pipeline/sources/source_impl.h"
#include "base/buf.h"

#include <jansson.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TS_SOURCE_DEFAULT_MAX (64ULL << 20)

static const char *const format_names[] = {
	[TS_INPUT_AUTO] = "auto",
	[TS_INPUT_FOLDER] = "folder",
	[TS_INPUT_CSV] = "csv",
	[TS_INPUT_TSV] = "tsv",
	[TS_INPUT_JSONL] = "jsonl",
	[TS_INPUT_COCO] = "coco",
	[TS_INPUT_SHAREGPT4V] = "sharegpt4v",
	[TS_INPUT_URBAN1K] = "urban1k",
	[TS_INPUT_WDS] = "wds",
	[TS_INPUT_PARQUET] = "parquet",
	[TS_INPUT_JSON] = "json",
	[TS_INPUT_GTLIST] = "gtlist",
	[TS_INPUT_LMDB] = "lmdb",
	[TS_INPUT_TESSERA] = "tessera",
};

#define NFORMATS (sizeof(format_names) / sizeof(format_names[0]))

const char *ts_input_format_name(enum ts_input_format f)
{
	if ((unsigned)f >= NFORMATS)
		return "unknown";
	return format_names[f];
}

int ts_input_format_parse(const char *name)
{
	for (size_t i = 0; name && i < TS_INPUT_GTLIST; i++)
		if (!strcmp(name, format_names[i]))
			return (int)i;
	return -1;
}

void ts_record_release(struct ts_record *rec)
{
	if (!rec)
		return;
	free(rec->source);
	free(rec->image_ref);
	free(rec->image_path);
	free(rec->image_data);
	for (size_t i = 0; i < rec->ncaptions; i++)
		free(rec->captions[i]);
	free(rec->captions);
	free(rec->caption_lens);
	free(rec->reject_msg);
	free(rec->meta_json);
	free(rec->reject_detail);
	free(rec->group_key);
	for (size_t i = 0; i < rec->nextra; i++) {
		free(rec->extra[i].ext);
		free(rec->extra[i].data);
	}
	free(rec->extra);
	memset(rec, 0, sizeof(*rec));
}

/* ---- helpers shared by the readers ---- */

static char *vprintf_new(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

char *ts_src_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vprintf_new(fmt, ap);
	va_end(ap);
	return s;
}

int ts_src_reject(struct ts_record *rec, enum ts_reason reason,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = vprintf_new(fmt, ap);
	va_end(ap);
	if (!msg)
		return TS_ERR_NOMEM;
	free(rec->reject_msg);
	rec->reject_msg = msg;   /* image_path stays: rejects.path names the file */
	rec->reject = reason;
	return 1;
}

int ts_src_reject_err(struct ts_record *rec, const struct ts_err *e)
{
	if (e->status == TS_ERR_NOMEM)
		return TS_ERR_NOMEM;
	return ts_src_reject(rec, e->reason != TS_R_NONE ? e->reason : TS_R_SOURCE_UNREADABLE,
			     "%s", e->msg);
}

int ts_src_add_caption(struct ts_record *rec, const char *s, size_t len)
{
	size_t n = rec->ncaptions;
	char **caps = realloc(rec->captions, (n + 1) * sizeof(*caps));
	if (!caps)
		return TS_ERR_NOMEM;
	rec->captions = caps;
	size_t *lens = realloc(rec->caption_lens, (n + 1) * sizeof(*lens));
	if (!lens)
		return TS_ERR_NOMEM;
	rec->caption_lens = lens;
	char *c = malloc(len + 1);
	if (!c)
		return TS_ERR_NOMEM;
	if (len)
		memcpy(c, s, len);
	c[len] = '\0';
	caps[n] = c;
	lens[n] = len;
	rec->ncaptions = n + 1;
	return TS_OK;
}

char *ts_src_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	if (n == 0)
		return strdup(name);
	return ts_src_printf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", name);
}

char *ts_src_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

const char *ts_src_ext(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	if (!dot || dot == base)
		return NULL;
	return dot + 1;
}

int ts_src_is_image_name(const char *name)
{
	static const char *const exts[] = { "jpg", "jpeg", "jpe", "jfif", "png", "webp" };
	const char *ext = ts_src_ext(name);
	if (!ext)
		return 0;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (!strcasecmp(ext, exts[i]))
			return 1;
	return 0;
}

/* ---- path resolution ---- */

/* 1 when rel, read lexically, climbs above its starting directory. */
static int climbs_out(const char *rel)
{
	long depth = 0;
	const char *p = rel;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 1;
		} else if (n && !(n == 1 && p[0] == '.')) {
			depth++;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

static int under(const char *real, const char *real_root)
{
	size_t n = strlen(real_root);
	if (n == 1 && real_root[0] == '/')
		return real[0] == '/';
	return !strncmp(real, real_root, n) && (real[n] == '/' || real[n] == '\0');
}

/* realpath(joined) for a file that is not a symbolic link, from the
 * realpath of its directory, which is kept for the next call: a list
 * names thousands of files in a few directories, and realpath() costs a
 * readlink per path component.  NULL (nothing cached) when the last
 * component is a link, ".", "..", missing or unreadable: the caller then
 * calls realpath() itself, which gives the exact error.  *st receives the
 * file's lstat (= stat, not being a link).  The cache is the source's,
 * which one thread reads. */
static char *cached_realpath(struct ts_source *src, const char *joined, struct stat *st)
{
	const char *slash = strrchr(joined, '/');
	if (!slash || slash == joined || !slash[1] || !strcmp(slash + 1, ".") || !strcmp(slash + 1, ".."))
		return NULL;
	size_t dlen = (size_t)(slash - joined);
	if (!src->dir_cache || strlen(src->dir_cache) != dlen || memcmp(src->dir_cache, joined, dlen)) {
		free(src->dir_cache);
		free(src->dir_real);
		src->dir_real = NULL;
		if (!(src->dir_cache = strndup(joined, dlen)))
			return NULL;
		src->dir_real = realpath(src->dir_cache, NULL);
	}
	if (!src->dir_real)
		return NULL;
	char *cand = ts_src_join(src->dir_real, slash + 1);
	if (!cand)
		return NULL;
	if (lstat(cand, st) || S_ISLNK(st->st_mode)) {
		free(cand);
		return NULL;
	}
	return cand;
}

int ts_src_resolve(const struct ts_source *src, const char *rel, char **out,
		   struct ts_err *err)
{
	const char *real_root = src->real_root;
	int confine = src->opts.confine;
	char *joined, *real;

	*out = NULL;
	if (!rel[0])
		return ts_err_set(err, TS_ERR_INVALID, TS_R_SOURCE_MISSING,
				  "empty image path");
	if (rel[0] == '/') {
		if (confine)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_SOURCE_ESCAPES_ROOT,
					  "image path '%s' is absolute (refused with --confine)", rel);
		joined = strdup(rel);
	} else {
		if (climbs_out(rel))
			return ts_err_set(err, TS_ERR_INVALID, TS_R_SOURCE_ESCAPES_ROOT,
					  "image path '%s' climbs out of the image root '%s'",
					  rel, real_root);
		joined = ts_src_join(real_root, rel);
	}
	if (!joined)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	struct stat st;
	int have_st = 0;
	real = cached_realpath((struct ts_source *)src, joined, &st);
	if (real)
		have_st = 1;
	else if (!(real = realpath(joined, NULL))) {
		int e = errno;
		int rc;
		if (e == ENOMEM)
			rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		else
			rc = ts_err_set(err, TS_ERR_IO,
					e == ENOENT || e == ENOTDIR ? TS_R_SOURCE_MISSING
					: TS_R_SOURCE_UNREADABLE,
					"cannot open '%s': %s", joined, strerror(e));
		free(joined);
		return rc;
	}
	if (confine && !under(real, real_root)) {
		ts_err_set(err, TS_ERR_INVALID, TS_R_SOURCE_ESCAPES_ROOT,
			   "image path '%s' leads to '%s', outside the image root '%s' "
			   "(refused with --confine)", rel, real, real_root);
		free(joined);
		free(real);
		return TS_ERR_INVALID;
	}
	if ((!have_st && stat(real, &st)) || !S_ISREG(st.st_mode)) {
		ts_err_set(err, TS_ERR_IO, TS_R_SOURCE_UNREADABLE,
			   "cannot read '%s': not a regular file", joined);
		free(joined);
		free(real);
		return TS_ERR_IO;
	}
	free(joined);
	*out = real;
	return TS_OK;
}

int ts_resolve_under(const char *root, const char *rel, int confine, char **out,
		     struct ts_err *err)
{
	struct ts_source src;
	*out = NULL;
	memset(&src, 0, sizeof(src));
	if (!(src.real_root = realpath(root, NULL)))
		return ts_err_set(err, TS_ERR_IO, TS_R_SOURCE_MISSING,
				  "cannot use image root '%s': %s", root, strerror(errno));
	src.opts.confine = confine;
	int rc = ts_src_resolve(&src, rel, out, err);
	free(src.real_root);
	free(src.dir_cache);
	free(src.dir_real);
	return rc;
}

int ts_src_set_image(struct ts_source *src, struct ts_record *rec, const char *rel)
{
	struct ts_err e = TS_ERR_INIT;
	int rc;
	if (!rec->image_ref && !(rec->image_ref = strdup(rel)))
		return TS_ERR_NOMEM;
	if (src->urls)
		return 1;   /* a URL: the fetch source downloads it, nothing is opened */
	if (!ts_src_resolve(src, rel, &rec->image_path, &e))
		return 1;
	if ((rc = ts_src_reject_err(rec, &e)) != 1)
		return rc;
	/* a reject still names the file it concerns (rejects.path, stderr) */
	rec->image_path = rel[0] == '/' ? strdup(rel) : ts_src_join(src->root, rel);
	return rec->image_path ? 1 : TS_ERR_NOMEM;
}

int ts_src_set_meta(struct ts_record *rec, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!s)
		return TS_ERR_NOMEM;
	free(rec->meta_json);
	rec->meta_json = s;
	return TS_OK;
}

/* ---- presets ---- */

const struct ts_source_preset ts_source_presets[] = {
	{ "cc3m", "caption,url", "url", "caption", NULL,
	  "Conceptual Captions 3M TSV: no header, caption then image URL" },
	{ "cc12m", "url,caption", "url", "caption", NULL,
	  "Conceptual 12M TSV: no header, image URL then caption" },
	{ "laion", NULL, "URL", "TEXT", "similarity,WIDTH,HEIGHT",
	  "LAION-400M/5B metadata (parquet or CSV with a header)" },
	{ "datacomp", NULL, "url", "text", "uid",
	  "DataComp metadata (parquet with a header)" },
	{ "coyo", NULL, "url", "text", "id",
	  "COYO-700M metadata (parquet with a header)" },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};

const struct ts_source_preset *ts_source_preset_find(const char *name)
{
	for (const struct ts_source_preset *p = ts_source_presets; name && p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

const char *const *ts_src_image_defaults(const struct ts_source *src)
{
	static const char *const paths[] = { "image", "path", "filepath", "file_name", NULL };
	static const char *const urls[] = { "url", "URL", "image_url", "img_url", "image", NULL };
	return src->urls ? urls : paths;
}

int ts_src_set_ids(struct ts_source *src, struct ts_record *rec, const char *uid,
		   size_t uid_len, const char *hash, size_t hash_len)
{
	json_t *m;
	if (!uid && !(hash && hash_len))
		return 1;
	/* next to what the reader put there already (--keep-col) */
	m = rec->meta_json ? json_loads(rec->meta_json, 0, NULL) : json_object();
	if (!json_is_object(m)) {
		json_decref(m);
		return TS_ERR_NOMEM;
	}
	if (uid)
		json_object_set_new(m, "uid", json_stringn(uid, uid_len));
	if (hash && hash_len)
		json_object_set_new(m, src->hash_type ? src->hash_type : "sha256",
				    json_stringn(hash, hash_len));
	return ts_src_set_meta(rec, m) ? TS_ERR_NOMEM : 1;
}

int ts_src_set_ids_json(struct ts_source *src, struct ts_record *rec, const json_t *id,
			const json_t *hash)
{
	char num[32];
	const char *uid = NULL;
	size_t ulen = 0;
	if (json_is_string(id)) {
		uid = json_string_value(id);
		ulen = json_string_length(id);
	} else if (json_is_integer(id)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		uid = num;
		ulen = strlen(num);
	}
	return ts_src_set_ids(src, rec, uid, ulen, json_is_string(hash) ? json_string_value(hash) : NULL,
			      json_is_string(hash) ? json_string_length(hash) : 0);
}

/* ---- detection ---- */

static int first_byte(const char *path)
{
	FILE *f = fopen(path, "rb");
	int c;
	if (!f)
		return -1;
	c = getc(f);
	if (c == 0xEF && getc(f) == 0xBB && getc(f) == 0xBF)   /* UTF-8 BOM */
		c = getc(f);
	while (c == ' ' || c == '\t' || c == '\r' || c == '\n')
		c = getc(f);
	fclose(f);
	return c;
}

const char *ts_src_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	default: return "an object";
	}
}

static int is_dir(const char *dir, const char *name)
{
	struct stat st;
	char *p = ts_src_join(dir, name);
	int r = p && !stat(p, &st) && S_ISDIR(st.st_mode);
	free(p);
	return r;
}

static int has_magic(const char *path, const char *magic)
{
	char b[8];
	size_t n = strlen(magic);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	int ok = fread(b, 1, n, f) == n && !memcmp(b, magic, n);
	fclose(f);
	return ok;
}

enum ts_input_format ts_source_detect(const char *input)
{
	struct stat st;
	if (!input || stat(input, &st))
		return TS_INPUT_AUTO;
	if (S_ISDIR(st.st_mode))
		return is_dir(input, "image") && is_dir(input, "caption")
			? TS_INPUT_URBAN1K : TS_INPUT_FOLDER;
	/* only a regular file is sniffed: reading a pipe would take its bytes */
	if (S_ISREG(st.st_mode) && has_magic(input, "PAR1"))
		return TS_INPUT_PARQUET;
	const char *ext = ts_src_ext(input);
	if (!ext)
		return TS_INPUT_AUTO;
	if (!strcasecmp(ext, "csv"))
		return TS_INPUT_CSV;
	if (!strcasecmp(ext, "tsv"))
		return TS_INPUT_TSV;
	if (!strcasecmp(ext, "jsonl"))
		return TS_INPUT_JSONL;
	if (!strcasecmp(ext, "tar"))
		return TS_INPUT_WDS;
	if (!strcasecmp(ext, "json")) {
		int c = first_byte(input);
		if (c == '[')
			return TS_INPUT_SHAREGPT4V;
		if (c == '{')
			return TS_INPUT_COCO;
	}
	return TS_INPUT_AUTO;
}

/* ---- --group-by: rows of one image (or one column value) become one record ----
 *
 * Accepted records are held in first-appearance order, each in a hash
 * table by its key (the resolved image path, or the --group-by column's
 * value); a later record with a held key gives its captions to the held
 * one and is dropped.  A record the reader rejected is held too, on its
 * own (it never merges), so numbering follows first appearances.  The
 * held records are handed out when the input ends or when their captions
 * and keys pass max_group_bytes; after such a flush a key seen again
 * starts a new record (so lists larger than that should be sorted). */

#define TS_GROUP_DEFAULT_MAX (512ULL << 20)

struct ts_groups {
	struct ts_record *held;
	size_t n, cap, pos;
	char **keys;            /* hash table of borrowed keys (held[i]'s) ... */
	size_t *at;             /* ... and the index into held of each */
	size_t hcap, hn;
	uint64_t bytes, max;
	int eof;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;    /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static const char *group_key_of(const struct ts_source *src, const struct ts_record *r)
{
	if (r->reject != TS_R_NONE)
		return NULL;
	if (strcmp(src->opts.group_by, "image"))
		return r->group_key;
	/* the resolved path, or for fetch (nothing resolved) the URL */
	return src->urls ? r->image_ref : r->image_path;
}

/* Slot of key in the table (an empty one when absent). */
static size_t group_slot(const struct ts_groups *g, const char *key)
{
	size_t i = (size_t)(str_hash(key) & (g->hcap - 1));
	while (g->keys[i] && strcmp(g->keys[i], key))
		i = (i + 1) & (g->hcap - 1);
	return i;
}

static int group_grow(struct ts_groups *g)
{
	size_t ncap = g->hcap ? g->hcap * 2 : 1024;
	char **nk = calloc(ncap, sizeof(*nk));
	size_t *na = calloc(ncap, sizeof(*na));
	if (!nk || !na) {
		free(nk);
		free(na);
		return TS_ERR_NOMEM;
	}
	char **ok = g->keys;
	size_t *oa = g->at, ocap = g->hcap;
	g->keys = nk;
	g->at = na;
	g->hcap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (ok[i]) {
			size_t j = group_slot(g, ok[i]);
			g->keys[j] = ok[i];
			g->at[j] = oa[i];
		}
	free(ok);
	free(oa);
	return TS_OK;
}

/* Take rec (moved, zeroed) into the held records. */
static int group_add(struct ts_source *src, struct ts_groups *g, struct ts_record *rec)
{
	const char *key = group_key_of(src, rec);
	size_t slot = 0;
	if (key) {
		if ((g->hn + 1) * 2 > g->hcap && group_grow(g))
			return TS_ERR_NOMEM;
		slot = group_slot(g, key);
		if (g->keys[slot]) {
			struct ts_record *h = &g->held[g->at[slot]];
			for (size_t i = 0; i < rec->ncaptions; i++) {
				g->bytes += rec->caption_lens[i];
				if (ts_src_add_caption(h, rec->captions[i], rec->caption_lens[i]))
					return TS_ERR_NOMEM;
			}
			ts_record_release(rec);
			return TS_OK;
		}
	}
	if (g->n == g->cap) {
		if (TS_ALLOC_GROW(g->held, g->cap, g->n + 1))
			return TS_ERR_NOMEM;
		/* the table borrows keys from held records: re-point them */
		for (size_t i = 0; i < g->hcap; i++)
			if (g->keys[i])
				g->keys[i] = (char *)group_key_of(src, &g->held[g->at[i]]);
	}
	g->held[g->n] = *rec;
	memset(rec, 0, sizeof(*rec));
	g->bytes += 256 + (key ? strlen(key) : 0);
	for (size_t i = 0; i < g->held[g->n].ncaptions; i++)
		g->bytes += g->held[g->n].caption_lens[i];
	if (key) {
		g->keys[slot] = (char *)group_key_of(src, &g->held[g->n]);
		g->at[slot] = g->n;
		g->hn++;
	}
	g->n++;
	return TS_OK;
}

static void groups_free(struct ts_groups *g)
{
	if (!g)
		return;
	for (size_t i = g->pos; i < g->n; i++)
		ts_record_release(&g->held[i]);
	free(g->held);
	free(g->keys);
	free(g->at);
	free(g);
}

/* Next grouped record from src's reader: 1, 0 at the end, <0 fatal. */
static int group_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct ts_groups *g = src->groups;
	if (g->pos == g->n) {
		g->n = g->pos = g->hn = 0;
		g->bytes = 0;
		if (g->hcap)
			memset(g->keys, 0, g->hcap * sizeof(*g->keys));
		while (!g->eof && g->bytes <= g->max) {
			struct ts_record raw;
			memset(&raw, 0, sizeof(raw));
			int r = src->ops->next(src, &raw, err);
			if (r == 1)
				r = group_add(src, g, &raw);
			else if (r == 0)
				g->eof = 1;
			if (r < 0) {
				ts_record_release(&raw);
				return r;
			}
		}
		if (g->n == 0)
			return 0;
	}
	*rec = g->held[g->pos++];
	return 1;
}

/* ---- dispatch ---- */

static const struct ts_source_ops *ops_for(enum ts_input_format f)
{
	switch (f) {
	case TS_INPUT_FOLDER: return &ts_source_folder_ops;
	case TS_INPUT_URBAN1K: return &ts_source_urban1k_ops;
	case TS_INPUT_CSV:
	case TS_INPUT_TSV: return &ts_source_csv_ops;
	case TS_INPUT_JSONL: return &ts_source_jsonl_ops;
	case TS_INPUT_COCO: return &ts_source_coco_ops;
	case TS_INPUT_SHAREGPT4V: return &ts_source_sharegpt4v_ops;
	case TS_INPUT_WDS: return &ts_source_wds_ops;
	case TS_INPUT_PARQUET: return &ts_source_parquet_ops;
	case TS_INPUT_JSON: return &ts_source_json_ops;
	case TS_INPUT_GTLIST: return &ts_source_gtlist_ops;
	case TS_INPUT_LMDB: return &ts_source_lmdb_ops;
	case TS_INPUT_TESSERA: return &ts_source_tessera_ops;
	default: return NULL;
	}
}

int ts_source_open(struct ts_source **out, const char *input,
		   const struct ts_source_opts *opts, uint64_t first_index,
		   struct ts_err *err)
{
	struct ts_source *src = NULL;
	enum ts_input_format f = opts ? opts->format : TS_INPUT_AUTO;
	struct stat st;
	int rc;

	*out = NULL;
	if (stat(input, &st))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s",
				  input, strerror(errno));
	if (f == TS_INPUT_AUTO && (f = ts_source_detect(input)) == TS_INPUT_AUTO)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
				  "cannot tell the format of '%s'; use --format", input);
	/* URL lists in one JSON document (SBU, RedCaps) are never COCO or ShareGPT4V */
	if (opts && opts->urls && (opts->format == TS_INPUT_AUTO) &&
	    (f == TS_INPUT_COCO || f == TS_INPUT_SHAREGPT4V))
		f = TS_INPUT_JSON;
	const struct ts_source_ops *ops = ops_for(f);
	if (!ops)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
				  "unknown input format %d for '%s'", (int)f, input);
	int want_dir = f == TS_INPUT_FOLDER || f == TS_INPUT_URBAN1K || f == TS_INPUT_LMDB ||
		       f == TS_INPUT_TESSERA;
	if (want_dir != !!S_ISDIR(st.st_mode))
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
				  "cannot read '%s' as %s: %s", input, ts_input_format_name(f),
				  want_dir ? "not a directory" : "is a directory");

	if (!(src = calloc(1, sizeof(*src))))
		goto nomem;
	src->format = f;
	src->ops = ops;
	src->next_index = first_index;
	src->count = -1;
	if (opts)
		src->opts = *opts;
	src->max_bytes = opts && opts->max_record_bytes ? opts->max_record_bytes
		: TS_SOURCE_DEFAULT_MAX;
	if (!(src->input = strdup(input)))
		goto nomem;
	if (opts && opts->image_col && !(src->image_col = strdup(opts->image_col)))
		goto nomem;
	if (opts && opts->caption_col && !(src->caption_col = strdup(opts->caption_col)))
		goto nomem;
	if (opts && opts->id_col && !(src->id_col = strdup(opts->id_col)))
		goto nomem;
	if (opts && opts->nkeep_cols) {
		if (!(src->keep_cols = calloc(opts->nkeep_cols, sizeof(char *))))
			goto nomem;
		for (size_t i = 0; i < opts->nkeep_cols; i++) {
			if (!(src->keep_cols[i] = strdup(opts->keep_cols[i])))
				goto nomem;
			src->nkeep_cols = i + 1;
		}
	}
	if (opts) {
		src->urls = opts->urls;
		if ((opts->hash_col && !(src->hash_col = strdup(opts->hash_col))) ||
		    (opts->hash_type && !(src->hash_type = strdup(opts->hash_type))) ||
		    (opts->json_path && !(src->json_path = strdup(opts->json_path))))
			goto nomem;
	}
	if (f == TS_INPUT_FOLDER || f == TS_INPUT_URBAN1K)
		src->root = strdup(input);
	else if (opts && opts->image_root)
		src->root = strdup(opts->image_root);
	else
		src->root = ts_src_dirname(input);
	if (!src->root)
		goto nomem;
	/* a gt list's lines are each rejected when its root is missing */
	if (!(src->real_root = realpath(src->root, NULL)) && f != TS_INPUT_GTLIST) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot use image root '%s': %s",
				src->root, strerror(errno));
		goto fail;
	}
	if ((rc = ops->open(src, err)))
		goto fail;
	if (src->opts.group_by) {
		if (f != TS_INPUT_CSV && f != TS_INPUT_TSV && f != TS_INPUT_JSONL) {
			rc = ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
					"--group-by applies to CSV, TSV and JSONL lists, not to %s input '%s'",
					ts_input_format_name(f), input);
			goto fail;
		}
		if (!(src->groups = calloc(1, sizeof(*src->groups))))
			goto nomem;
		src->groups->max = src->opts.max_group_bytes ? src->opts.max_group_bytes
			: TS_GROUP_DEFAULT_MAX;
		src->count = -1;
	}
	*out = src;
	return TS_OK;
nomem:
	rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory opening '%s'", input);
fail:
	ts_source_close(src);
	return rc;
}

int ts_source_next(struct ts_source *src, struct ts_record *rec,
		   struct ts_err *err)
{
	memset(rec, 0, sizeof(*rec));
	rec->index = src->next_index;
	int r = src->groups ? group_next(src, rec, err) : src->ops->next(src, rec, err);
	if (r == 1) {
		if (src->own_index)
			src->next_index = rec->index;
		rec->index = src->next_index++;
		return 1;
	}
	ts_record_release(rec);
	if (r == TS_ERR_NOMEM && err && err->status != TS_ERR_NOMEM)
		ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory reading '%s'",
			   src->input);
	return r;
}

int64_t ts_source_count(struct ts_source *src)
{
	if (!src)
		return -1;
	if (src->count < 0 && !src->counted) {
		src->counted = 1;
		src->count = ts_src_count_cheap(src);
	}
	return src->count;
}

const char *ts_source_damage(struct ts_source *src)
{
	return src ? src->damage : NULL;
}

const char *ts_source_root(const struct ts_source *src)
{
	return src ? src->root : NULL;
}

void ts_source_close(struct ts_source *src)
{
	if (!src)
		return;
	groups_free(src->groups);
	if (src->ops && src->ops->close)
		src->ops->close(src);
	free(src->input);
	free(src->root);
	free(src->real_root);
	free(src->dir_cache);
	free(src->dir_real);
	free(src->image_col);
	free(src->caption_col);
	free(src->id_col);
	for (size_t i = 0; i < src->nkeep_cols; i++)
		free(src->keep_cols[i]);
	free(src->keep_cols);
	free(src->hash_col);
	free(src->hash_type);
	free(src->json_path);
	free(src);
}
