/*
 * source_gtlist.c - scene-text gt lists (`tessera str`): one record per
 * line, `relpath<whitespace>label`, split once at the first run of white
 * space (space, \t..\r, \x1c..\x1f); the label is the rest of the line
 * after the white space that follows the path, trailing \n and \r removed.
 *
 * Blank lines (nothing but white space) are not records.  A byte-order
 * mark opens the first line.  source is "LIST:LINE" (1-based lines).  A
 * line longer than 1 MiB, or one with no label after the path, is
 * record.bad_row.  The path is resolved under the image root (--image-root,
 * else the list's folder) as every reader's is; a path it refuses is a
 * reject with the resolver's reason (source.missing when it gives none).
 * The root need not exist: every line is then rejected, not the list.
 */
#define _GNU_SOURCE
#include "pipeline/sources/source_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/util.h"

#define GT_MAX_LINE (1 << 20)

struct gtlist {
	FILE *f;
	char *line;
	size_t cap;
	uint64_t lineno;
};

static void gt_close(struct ts_source *src)
{
	struct gtlist *g = src->priv;
	if (!g)
		return;
	if (g->f)
		fclose(g->f);
	free(g->line);
	free(g);
	src->priv = NULL;
}

static int gt_open(struct ts_source *src, struct ts_err *err)
{
	struct gtlist *g = calloc(1, sizeof(*g));
	if (!(src->priv = g))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!(g->f = fopen(src->input, "rb")))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", src->input,
				  strerror(errno));
	return TS_OK;
}

static int list_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static int gt_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct gtlist *g = src->priv;
	for (;;) {
		ssize_t n = getline(&g->line, &g->cap, g->f);
		char *p, *end, *label;
		struct ts_err re = TS_ERR_INIT;
		int rc;
		if (n < 0) {
			if (ferror(g->f))
				return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s",
						  src->input, strerror(errno));
			return 0;
		}
		g->lineno++;
		end = g->line + n;
		while (end > g->line && (end[-1] == '\n' || end[-1] == '\r'))
			end--;
		*end = '\0';
		p = g->line;
		if (g->lineno == 1)
			p += ts_bom_len(p, (size_t)(end - p));
		while (p < end && list_space(*p))
			p++;
		if (p == end)
			continue;                  /* blank lines are not records */
		if (!(rec->source = ts_src_printf("%s:%" PRIu64, src->input, g->lineno)))
			return TS_ERR_NOMEM;
		if ((size_t)n > GT_MAX_LINE)
			return ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "line longer than %d bytes", GT_MAX_LINE);
		char *ref = p;
		while (p < end && !list_space(*p))
			p++;
		if (p == end) {
			if (!(rec->image_ref = strdup(ref)))
				return TS_ERR_NOMEM;
			return ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "no label after the image path");
		}
		*p++ = '\0';
		while (p < end && list_space(*p))
			p++;
		label = p;
		if (!(rec->image_ref = strdup(ref)) ||
		    ts_src_add_caption(rec, label, (size_t)(end - label)))
			return TS_ERR_NOMEM;
		if (src->real_root ? ts_src_resolve(src, ref, &rec->image_path, &re)
				   : ts_resolve_under(src->root, ref, 0, &rec->image_path, &re)) {
			if (re.status == TS_ERR_NOMEM)
				return TS_ERR_NOMEM;
			rc = ts_src_reject(rec, re.reason != TS_R_NONE ? re.reason : TS_R_SOURCE_MISSING,
					   "%s", re.msg);
			return rc;
		}
		return 1;
	}
}

const struct ts_source_ops ts_source_gtlist_ops = {
	gt_open, gt_next, gt_close,
};
