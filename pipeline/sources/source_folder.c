/*
 * source_folder.c - a directory tree of images with caption sidecars.
 *
 * The whole tree is listed at open (so the count is known) and sorted by
 * relative path, bytewise (strcmp): the order never depends on readdir.
 * Rules:
 *  - names starting with '.' (files and directories) are skipped;
 *  - symlinks are followed, to directories too (image trees are often
 *    assembled from links), except a directory link leading back to one of
 *    its own ancestors (a loop) or to the root or above it, which is skipped; with --confine a file
 *    whose real location is outside the root becomes source.escapes_root
 *    at read time (ts_src_resolve);
 *  - a directory that cannot be listed becomes one record at its place in
 *    the order ("dir/"), rejected as source.unreadable with the reason,
 *    and the rest of the tree is read;
 *  - *.txt and *.json (any case) are sidecars, never images;
 *  - an image is a file with an image extension (jpg jpeg jpe jfif png webp,
 *    any case) or any other file that has a sidecar;
 *  - the sidecar of "a/b.jpg" is "a/b.txt" (whole file is the caption), else
 *    "a/b.json" with a string "caption" (or "text") field; the sidecar
 *    extensions are matched in lower case only; neither: caption.missing;
 *    a UTF-8 byte-order mark at the start of a sidecar is skipped;
 *  - source and image_ref are the path relative to the root.
 * The root itself that cannot be listed is a fatal open error.
 */
#include "pipeline/sources/source_impl.h"
#include "base/buf.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "pipeline/util.h"

struct folder {
	char **files;        /* every listed file, relative, sorted */
	size_t nfiles, cap;
	size_t *images;      /* indexes into files of the records */
	size_t nimages;
	size_t pos;
	uint8_t *buf;        /* sidecar read buffer, reused */
	const char *real_root;   /* borrowed from the source while listing */
	size_t bufcap;
};

static int add_file(struct folder *f, char *rel)
{
	if (TS_ALLOC_GROW(f->files, f->cap, f->nfiles + 1))
		return TS_ERR_NOMEM;
	f->files[f->nfiles++] = rel;
	return TS_OK;
}

/* The directories being listed, innermost last, to spot symlink loops. */
struct chain {
	dev_t dev;
	ino_t ino;
	const struct chain *up;
	const char *real_root;    /* the root's realpath */
};

/* 1 when the directory link at full leads to the root or above it (the
 * root would be listed again inside itself) */
static int holds_root(const char *full, const char *real_root)
{
	char *t = realpath(full, NULL);
	int r = 0;
	if (t) {
		size_t n = strlen(t);
		r = !strncmp(real_root, t, n) && (real_root[n] == '/' || real_root[n] == '\0' ||
						  (n == 1 && t[0] == '/'));
		free(t);
	}
	return r;
}

static int in_chain(const struct chain *c, const struct stat *st)
{
	for (; c; c = c->up)
		if (c->dev == st->st_dev && c->ino == st->st_ino)
			return 1;
	return 0;
}

/* A directory that cannot be listed: a record "rel/" (rejected at read). */
static int add_unlistable(struct folder *f, const char *rel)
{
	char *r = ts_src_printf("%s/", rel);
	if (!r || add_file(f, r)) {
		free(r);
		return TS_ERR_NOMEM;
	}
	return TS_OK;
}

/* List root/rel (rel "" for the root) into f->files, recursing. */
static int scan(struct folder *f, const char *root, const char *rel, const struct chain *up,
		struct ts_err *err)
{
	char *dirpath = rel[0] ? ts_src_join(root, rel) : strdup(root);
	DIR *d = NULL;
	struct dirent *de;
	struct stat dst;
	struct chain here;
	int rc = TS_OK;

	if (!dirpath)
		return TS_ERR_NOMEM;
	if (!(d = opendir(dirpath)) || fstat(dirfd(d), &dst)) {
		if (rel[0])
			rc = add_unlistable(f, rel);
		else
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open directory '%s': %s",
					dirpath, strerror(errno));
		goto out;
	}
	here.dev = dst.st_dev;
	here.ino = dst.st_ino;
	here.up = up;
	here.real_root = up ? up->real_root : f->real_root;
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
			/* gone while listing: nothing to read */
			free(full);
			free(crel);
			continue;
		}
		if (S_ISLNK(st.st_mode) && !stat(full, &st) && S_ISDIR(st.st_mode)) {
			/* a directory link: followed unless it loops */
			rc = in_chain(&here, &st) || holds_root(full, here.real_root) ? TS_OK
				: scan(f, root, crel, &here, err);
			free(crel);
		} else if (S_ISDIR(st.st_mode)) {
			rc = scan(f, root, crel, &here, err);
			free(crel);
		} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			/* regular files, file symlinks and dangling symlinks */
			if ((rc = add_file(f, crel)))
				free(crel);
		} else {
			free(crel);    /* fifos, sockets, devices */
		}
		free(full);
		if (rc)
			goto out;
	}
	if (errno) {
		if (rel[0])
			rc = add_unlistable(f, rel);
		else
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read directory '%s': %s",
					dirpath, strerror(errno));
	}
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
	f->real_root = src->real_root;
	if ((rc = scan(f, src->root, "", NULL, err)))
		goto fail;
	if (f->nfiles)
		qsort(f->files, f->nfiles, sizeof(*f->files), cmp_str);
	if (!(f->images = malloc((f->nfiles ? f->nfiles : 1) * sizeof(*f->images)))) {
		rc = TS_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < f->nfiles; i++) {
		const char *rel = f->files[i];
		size_t rl = strlen(rel);
		if (rl && rel[rl - 1] == '/') {      /* an unlistable directory */
			f->images[f->nimages++] = i;
			continue;
		}
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

	if (ts_src_resolve(src, rel, &path, &e))
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
	size_t bom = ts_bom_len(f->buf, len);
	if (is_json)
		return json_caption(rec, rel, f->buf + bom, len - bom);
	rc = ts_src_add_caption(rec, (const char *)f->buf + bom, len - bom);
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
	size_t rl = strlen(rel);
	if (rl && rel[rl - 1] == '/') {
		char *dir = ts_src_join(src->root, rel);
		DIR *d = dir ? opendir(dir) : NULL;
		int e = errno;
		if (d)
			closedir(d);
		if (!dir)
			return TS_ERR_NOMEM;
		rc = ts_src_reject(rec, TS_R_SOURCE_UNREADABLE, "cannot list directory '%s': %s",
				   dir, d ? "it could not be read while listing" : strerror(e));
		free(dir);
		return rc;
	}
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
