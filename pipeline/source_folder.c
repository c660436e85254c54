/*
 * source_folder.c - a directory tree of images with caption sidecars.
 *
 * The whole tree is listed at open (so the count is known) and sorted by
 * relative path, bytewise (strcmp): the order never depends on readdir.
 * Rules:
 *  - names starting with '.' (files and directories) are skipped;
 *  - directory symlinks are not followed (no loops, no escapes); file
 *    symlinks are listed and checked by ts_src_resolve() at read time, so
 *    one pointing outside the root becomes source.escapes_root;
 *  - *.txt and *.json (any case) are sidecars, never images;
 *  - an image is a file with an image extension (jpg jpeg jpe jfif png webp,
 *    any case) or any other file that has a sidecar;
 *  - the sidecar of "a/b.jpg" is "a/b.txt" (whole file is the caption), else
 *    "a/b.json" with a string "caption" (or "text") field; the sidecar
 *    extensions are matched in lower case only; neither: caption.missing;
 *  - source and image_ref are the path relative to the root.
 * A directory that cannot be listed is a fatal open error.
 */
#include "source_impl.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util.h"

struct folder {
	char **files;        /* every listed file, relative, sorted */
	size_t nfiles, cap;
	size_t *images;      /* indexes into files of the records */
	size_t nimages;
	size_t pos;
	uint8_t *buf;        /* sidecar read buffer, reused */
	size_t bufcap;
};

static int add_file(struct folder *f, char *rel)
{
	if (f->nfiles == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 256;
		char **n = realloc(f->files, ncap * sizeof(*n));
		if (!n)
			return TS_ERR_NOMEM;
		f->files = n;
		f->cap = ncap;
	}
	f->files[f->nfiles++] = rel;
	return TS_OK;
}

/* List root/rel (rel "" for the root) into f->files, recursing. */
static int scan(struct folder *f, const char *root, const char *rel, struct ts_err *err)
{
	char *dirpath = rel[0] ? ts_src_join(root, rel) : strdup(root);
	DIR *d = NULL;
	struct dirent *de;
	int rc = TS_OK;

	if (!dirpath)
		return TS_ERR_NOMEM;
	if (!(d = opendir(dirpath))) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open directory '%s': %s",
				dirpath, strerror(errno));
		goto out;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		char *crel, *full;
		if (de->d_name[0] == '.')
			continue;
		crel = rel[0] ? ts_src_join(rel, de->d_name) : strdup(de->d_name);
		full = crel ? ts_src_join(root, crel) : NULL;
		if (!full) {
			free(crel);
			rc = TS_ERR_NOMEM;
			goto out;
		}
		if (lstat(full, &st)) {
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot stat '%s': %s",
					full, strerror(errno));
			free(full);
			free(crel);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = scan(f, root, crel, err);
			free(crel);
		} else if (S_ISREG(st.st_mode) ||
			   (S_ISLNK(st.st_mode) && (stat(full, &st) || !S_ISDIR(st.st_mode)))) {
			/* regular files, file symlinks and dangling symlinks */
			if ((rc = add_file(f, crel)))
				free(crel);
		} else {
			free(crel);    /* directory symlinks, fifos, sockets, devices */
		}
		free(full);
		if (rc)
			goto out;
	}
	if (errno)
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read directory '%s': %s",
				dirpath, strerror(errno));
out:
	if (d)
		closedir(d);
	free(dirpath);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_sidecar_name(const char *name)
{
	const char *ext = ts_src_ext(name);
	return ext && (!strcasecmp(ext, "txt") || !strcasecmp(ext, "json"));
}

/* The sidecar of files[i] with extension ext ("txt"/"json"), or NULL.
 * Returns an index into files or -1. */
static long find_sidecar(const struct folder *f, const char *rel, const char *ext)
{
	const char *e = ts_src_ext(rel);
	size_t stem = e ? (size_t)(e - 1 - rel) : strlen(rel);
	char *want = ts_src_printf("%.*s.%s", (int)stem, rel, ext);
	if (!want)
		return -2;
	char **hit = bsearch(&want, f->files, f->nfiles, sizeof(*f->files), cmp_str);
	free(want);
	return hit ? (long)(hit - f->files) : -1;
}

static void folder_close(struct ts_source *src)
{
	struct folder *f = src->priv;
	if (!f)
		return;
	for (size_t i = 0; i < f->nfiles; i++)
		free(f->files[i]);
	free(f->files);
	free(f->images);
	free(f->buf);
	free(f);
	src->priv = NULL;
}

static int folder_open(struct ts_source *src, struct ts_err *err)
{
	struct folder *f = calloc(1, sizeof(*f));
	int rc;
	if (!f)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = f;
	if ((rc = scan(f, src->root, "", err)))
		goto fail;
	if (f->nfiles)
		qsort(f->files, f->nfiles, sizeof(*f->files), cmp_str);
	if (!(f->images = malloc((f->nfiles ? f->nfiles : 1) * sizeof(*f->images)))) {
		rc = TS_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < f->nfiles; i++) {
		const char *rel = f->files[i];
		if (is_sidecar_name(rel))
			continue;
		if (!ts_src_is_image_name(rel)) {
			long t = find_sidecar(f, rel, "txt");
			long j = t == -1 ? find_sidecar(f, rel, "json") : t;
			if (j == -2) {
				rc = TS_ERR_NOMEM;
				goto fail;
			}
			if (j < 0)
				continue;
		}
		f->images[f->nimages++] = i;
	}
	src->count = (int64_t)f->nimages;
	return TS_OK;
fail:
	if (rc == TS_ERR_NOMEM)
		ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory listing '%s'", src->root);
	return rc;
}

/* Caption from a .json sidecar: string "caption", else string "text". */
static int json_caption(struct ts_record *rec, const char *rel, const uint8_t *buf,
			size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)buf, len, JSON_ALLOW_NUL, &jerr), *v;
	int rc;
	if (!root)
		return ts_src_reject(rec, TS_R_RECORD_BAD_JSON, "cannot parse '%s': %s (line %d)",
				     rel, jerr.text, jerr.line);
	if (!json_is_object(root)) {
		rc = ts_src_reject(rec, TS_R_RECORD_BAD_JSON, "'%s' is not a JSON object", rel);
	} else if (json_is_string(v = json_object_get(root, "caption")) ||
		   json_is_string(v = json_object_get(root, "text"))) {
		rc = ts_src_add_caption(rec, json_string_value(v), json_string_length(v));
		rc = rc ? rc : 1;
	} else {
		rc = ts_src_reject(rec, TS_R_CAPTION_MISSING,
				   "'%s' has no string 'caption' or 'text' field", rel);
	}
	json_decref(root);
	return rc;
}

/* Read the sidecar files[j] of the current record into its captions. */
static int read_sidecar(struct ts_source *src, struct folder *f, struct ts_record *rec,
			size_t j, int is_json)
{
	const char *rel = f->files[j];
	struct ts_err e = TS_ERR_INIT;
	char *path = NULL;
	size_t len = 0;
	int rc;

	if (ts_src_resolve(src->real_root, rel, &path, &e))
		return ts_src_reject_err(rec, &e);
	rc = ts_read_file(path, src->max_bytes, &f->buf, &f->bufcap, &len, &e);
	free(path);
	if (rc) {
		if (e.reason == TS_R_SOURCE_TOO_LARGE)
			return ts_src_reject(rec, TS_R_CAPTION_TOO_LONG,
					     "caption file '%s' is larger than %llu bytes", rel,
					     (unsigned long long)src->max_bytes);
		return ts_src_reject_err(rec, &e);
	}
	if (is_json)
		return json_caption(rec, rel, f->buf, len);
	rc = ts_src_add_caption(rec, (const char *)f->buf, len);
	return rc ? rc : 1;
}

static int folder_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct folder *f = src->priv;
	if (f->pos >= f->nimages)
		return 0;
	const char *rel = f->files[f->images[f->pos++]];
	int rc;
	long j;
	int is_json = 0;

	if (!(rec->source = strdup(rel)))
		return TS_ERR_NOMEM;
	if ((rc = ts_src_set_image(src, rec, rel)) != 1 || rec->reject)
		return rc;
	if ((j = find_sidecar(f, rel, "txt")) == -1) {
		j = find_sidecar(f, rel, "json");
		is_json = 1;
	}
	if (j == -2)
		return TS_ERR_NOMEM;
	if (j < 0)
		return ts_src_reject(rec, TS_R_CAPTION_MISSING,
				     "no caption sidecar (.txt or .json) for '%s'", rel);
	return read_sidecar(src, f, rec, (size_t)j, is_json);
}

const struct ts_source_ops ts_source_folder_ops = {
	folder_open, folder_next, folder_close,
};
