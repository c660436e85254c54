/*
 * source_urban1k.c - the Urban1k evaluation layout (Long-CLIP): INPUT holds
 * image/<stem>.jpg and caption/<stem>.txt; the caption is the first line
 * of the text file, without its "\n" or "\r\n".
 *
 * Records are the non-hidden files of image/ with an image extension (jpg
 * jpeg jpe jfif png webp, any case; subdirectories are not entered), sorted
 * bytewise.  source and image_ref are "image/<name>".  No caption file:
 * caption.missing.  The count is known at open.
 */
#include "pipeline/sources/source_impl.h"
#include "base/buf.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/util.h"

struct urban {
	char **names;
	size_t n, cap, pos;
	uint8_t *buf;
	size_t bufcap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void urban_close(struct ts_source *src)
{
	struct urban *u = src->priv;
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		free(u->names[i]);
	free(u->names);
	free(u->buf);
	free(u);
	src->priv = NULL;
}

static int urban_open(struct ts_source *src, struct ts_err *err)
{
	struct urban *u = calloc(1, sizeof(*u));
	char *dir = ts_src_join(src->root, "image");
	DIR *d = NULL;
	struct dirent *de;
	int rc = TS_OK;

	src->priv = u;
	if (!u || !dir)
		goto nomem;
	if (!(d = opendir(dir))) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open directory '%s': %s",
				dir, strerror(errno));
		goto out;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		char *full;
		if (de->d_name[0] == '.' || !ts_src_is_image_name(de->d_name))
			continue;
		if (!(full = ts_src_join(dir, de->d_name)))
			goto nomem;
		/* skip directories (also through symlinks); keep dangling links */
		int skip = !stat(full, &st) && S_ISDIR(st.st_mode);
		free(full);
		if (skip)
			continue;
		if (TS_ALLOC_GROW(u->names, u->cap, u->n + 1))
			goto nomem;
		if (!(u->names[u->n] = strdup(de->d_name)))
			goto nomem;
		u->n++;
	}
	if (errno) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read directory '%s': %s",
				dir, strerror(errno));
		goto out;
	}
	if (u->n)
		qsort(u->names, u->n, sizeof(*u->names), cmp_str);
	src->count = (int64_t)u->n;
	goto out;
nomem:
	rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory listing '%s'", src->root);
out:
	if (d)
		closedir(d);
	free(dir);
	return rc;
}

static int urban_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct urban *u = src->priv;
	struct ts_err e = TS_ERR_INIT;
	char *rel = NULL, *path = NULL;
	size_t len = 0;
	int rc;

	if (u->pos >= u->n)
		return 0;
	const char *name = u->names[u->pos++];
	const char *ext = ts_src_ext(name);     /* never NULL: image names have one */
	if (!(rec->source = ts_src_printf("image/%s", name)))
		return TS_ERR_NOMEM;
	if ((rc = ts_src_set_image(src, rec, rec->source)) != 1 || rec->reject)
		return rc;
	if (!(rel = ts_src_printf("caption/%.*s.txt", (int)(ext - 1 - name), name)))
		return TS_ERR_NOMEM;
	if (ts_src_resolve(src, rel, &path, &e)) {
		rc = e.reason == TS_R_SOURCE_MISSING
			? ts_src_reject(rec, TS_R_CAPTION_MISSING, "no caption file '%s'", rel)
			: ts_src_reject_err(rec, &e);
		goto out;
	}
	if (ts_read_file(path, src->max_bytes, &u->buf, &u->bufcap, &len, &e)) {
		rc = e.reason == TS_R_SOURCE_TOO_LARGE
			? ts_src_reject(rec, TS_R_CAPTION_TOO_LONG, "caption file '%s' is larger than %llu bytes",
					rel, (unsigned long long)src->max_bytes)
			: ts_src_reject_err(rec, &e);
		goto out;
	}
	size_t bom = ts_bom_len(u->buf, len);
	const char *text = (const char *)u->buf + bom;
	const char *nl = memchr(text, '\n', len - bom);
	size_t n = nl ? (size_t)(nl - text) : len - bom;
	if (n && text[n - 1] == '\r')
		n--;
	rc = ts_src_add_caption(rec, text, n);
	rc = rc ? rc : 1;
out:
	free(rel);
	free(path);
	return rc;
}

const struct ts_source_ops ts_source_urban1k_ops = {
	urban_open, urban_next, urban_close,
};
