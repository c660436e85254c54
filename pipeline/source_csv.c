/*
 * source_csv.c - CSV and TSV list files with a header row, parsed by libcsv.
 *
 * libcsv is push-based: the file is read in 64 KiB chunks and fed to it one
 * line (up to and including '\n') at a time, so we know the line on which
 * each row starts; completed rows are queued and handed out one by one.
 * Rules:
 *  - the first row is the header (a UTF-8 BOM before it is dropped); column
 *    names match exactly (case-sensitive).  Image column: --image-col, else
 *    the first of image, path, filepath, file_name that the header has;
 *    caption column: --caption-col, else the first of caption, text.  No
 *    such column is a fatal open error that lists the columns found;
 *  - fields are RFC 4180: quoted fields may hold delimiters, doubled quotes
 *    and newlines; LF and CRLF line ends; TSV is the same with a tab as the
 *    delimiter (quotes still work).  Fields are kept raw: no space trimming,
 *    so ` "a,b"` is an unquoted field (as Python's csv module reads it);
 *    libcsv's lenient mode takes a stray quote inside an unquoted field
 *    literally (`a 6" pipe`);
 *  - blank lines are skipped and take no index;
 *  - a row whose field count differs from the header's, or a quoted field
 *    still open at the end of the file, is record.bad_row;
 *  - a row longer than max_record_bytes (almost always an unterminated
 *    quote swallowing the file) is a fatal error: there is no safe place
 *    to resume;
 *  - image paths are relative to --image-root, default the list file's
 *    directory, and are resolved here (ts_src_resolve);
 *  - source is "<input>:<line>", line (1-based, counting '\n') being the
 *    first line of the row.
 */
#include "source_impl.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)

struct row {
	char **f;
	size_t *len;
	size_t n;
	uint64_t line;
	const char *bad;        /* static text when malformed */
};

struct csvsrc {
	FILE *fp;
	struct csv_parser p;
	int p_ready;
	char *buf;
	size_t buflen, bufpos;
	int eof, done, nomem;
	uint64_t line;          /* line of the next byte fed */
	int need_start;         /* the next non-blank byte starts a row */
	uint64_t row_line;
	uint64_t row_bytes;
	struct row cur;         /* fields of the row being parsed */
	size_t curcap;
	struct row *q;          /* completed rows: q[qhead..qn) */
	size_t qn, qhead, qcap;
	size_t ncols;
	size_t img_col, cap_col, id_col, hash_col;
};

static void row_free(struct row *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->f[i]);
	free(r->f);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

static void on_field(void *s, size_t len, void *data)
{
	struct csvsrc *c = data;
	if (c->nomem)
		return;
	if (c->cur.n == c->curcap) {
		size_t ncap = c->curcap ? c->curcap * 2 : 8;
		char **f = realloc(c->cur.f, ncap * sizeof(*f));
		if (!f)
			goto nomem;
		c->cur.f = f;
		size_t *l = realloc(c->cur.len, ncap * sizeof(*l));
		if (!l)
			goto nomem;
		c->cur.len = l;
		c->curcap = ncap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		goto nomem;
	if (len)
		memcpy(copy, s, len);
	copy[len] = '\0';
	c->cur.f[c->cur.n] = copy;
	c->cur.len[c->cur.n++] = len;
	return;
nomem:
	c->nomem = 1;
}

/* Move the current row to the queue. */
static void push_row(struct csvsrc *c, const char *bad)
{
	if (c->nomem)
		return;
	if (c->qn == c->qcap) {
		size_t ncap = c->qcap ? c->qcap * 2 : 16;
		struct row *q = realloc(c->q, ncap * sizeof(*q));
		if (!q) {
			c->nomem = 1;
			return;
		}
		c->q = q;
		c->qcap = ncap;
	}
	c->cur.line = c->row_line;
	c->cur.bad = bad;
	c->q[c->qn++] = c->cur;
	memset(&c->cur, 0, sizeof(c->cur));
	c->curcap = 0;
}

static void on_row(int term, void *data)
{
	struct csvsrc *c = data;
	push_row(c, NULL);
	c->need_start = 1;
}

static int no_space(unsigned char ch)
{
	return 0;
}

/* Feed the parser until a row is queued or the input ends.  0 or a fatal
 * status. */
static int fill(struct ts_source *src, struct csvsrc *c, struct ts_err *err)
{
	while (c->qhead == c->qn && !c->done) {
		if (c->bufpos == c->buflen) {
			if (!c->eof) {
				c->buflen = fread(c->buf, 1, CHUNK, c->fp);
				c->bufpos = 0;
				if (c->buflen == 0) {
					if (ferror(c->fp))
						return ts_err_set(err, TS_ERR_IO, TS_R_NONE,
								  "cannot read '%s': %s", src->input,
								  strerror(errno));
					c->eof = 1;
				}
				continue;
			}
			/* strict only here: report a quoted field left open at EOF */
			csv_set_opts(&c->p, CSV_STRICT | CSV_STRICT_FINI);
			if (csv_fini(&c->p, on_field, on_row, c) != 0)
				push_row(c, "quoted field not closed at the end of the file");
			c->done = 1;
			break;
		}
		const char *seg = c->buf + c->bufpos;
		size_t avail = c->buflen - c->bufpos;
		const char *nl = memchr(seg, '\n', avail);
		size_t n = nl ? (size_t)(nl - seg) + 1 : avail;
		if (c->need_start) {
			for (size_t i = 0; i < n; i++)
				if (seg[i] != '\r' && seg[i] != '\n') {
					c->need_start = 0;
					c->row_line = c->line;
					c->row_bytes = 0;
					break;
				}
		}
		if (!c->need_start)
			c->row_bytes += n;
		if (csv_parse(&c->p, seg, n, on_field, on_row, c) != n)
			return ts_err_set(err, csv_error(&c->p) == CSV_ENOMEM ? TS_ERR_NOMEM
					  : TS_ERR_INTERNAL, TS_R_NONE, "cannot parse '%s' at line %llu: %s",
					  src->input, (unsigned long long)c->line,
					  csv_strerror(csv_error(&c->p)));
		if (c->nomem)
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory reading '%s'",
					  src->input);
		c->bufpos += n;
		if (nl)
			c->line++;
		if (!c->need_start && c->row_bytes > src->max_bytes)
			return ts_err_set(err, TS_ERR_LIMIT, TS_R_NONE,
					  "'%s': the row starting at line %llu is longer than %llu bytes "
					  "(an unclosed quote?)", src->input,
					  (unsigned long long)c->row_line,
					  (unsigned long long)src->max_bytes);
	}
	if (c->nomem)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory reading '%s'",
				  src->input);
	return TS_OK;
}

static int pop(struct csvsrc *c, struct row *out)
{
	if (c->qhead == c->qn)
		return 0;
	*out = c->q[c->qhead++];
	if (c->qhead == c->qn)
		c->qhead = c->qn = 0;
	return 1;
}

static void csv_close_src(struct ts_source *src)
{
	struct csvsrc *c = src->priv;
	if (!c)
		return;
	if (c->fp)
		fclose(c->fp);
	if (c->p_ready)
		csv_free(&c->p);
	row_free(&c->cur);
	for (size_t i = c->qhead; i < c->qn; i++)
		row_free(&c->q[i]);
	free(c->q);
	free(c->buf);
	free(c);
	src->priv = NULL;
}

static int find_col(const struct row *h, const char *name, size_t *out)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->len[i] == strlen(name) && !memcmp(h->f[i], name, h->len[i])) {
			*out = i;
			return 1;
		}
	return 0;
}

static int pick_col(struct ts_source *src, const struct row *h, const char *given,
		    const char *const *defaults, const char *what, size_t *out,
		    struct ts_err *err)
{
	char cols[256] = "", wanted[128] = "";
	if (given) {
		if (find_col(h, given, out))
			return TS_OK;
		snprintf(wanted, sizeof(wanted), "'%s'", given);
	} else {
		for (const char *const *d = defaults; *d; d++)
			if (find_col(h, *d, out))
				return TS_OK;
		for (const char *const *d = defaults; *d; d++)
			snprintf(wanted + strlen(wanted), sizeof(wanted) - strlen(wanted),
				 "%s%s", d == defaults ? "" : ", ", *d);
	}
	for (size_t i = 0; i < h->n; i++) {
		size_t at = strlen(cols);
		if (at + 8 >= sizeof(cols)) {
			snprintf(cols + at, sizeof(cols) - at, ", ...");
			break;
		}
		snprintf(cols + at, sizeof(cols) - at, "%s%.*s", i ? ", " : "",
			 (int)h->len[i], h->f[i]);
	}
	return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
			  "no %s column in '%s' (looked for %s; the header has: %s)",
			  what, src->input, wanted, h->n ? cols : "nothing");
}

static int csv_open_src(struct ts_source *src, struct ts_err *err)
{
	const char *const *img_defaults = ts_src_image_defaults(src);
	static const char *const cap_defaults[] = { "caption", "text", NULL };
	static const char *const none[] = { NULL };
	struct csvsrc *c = calloc(1, sizeof(*c));
	struct row h = { 0 };
	int rc;

	if (!c)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = c;
	c->line = 1;
	c->need_start = 1;
	if (!(c->buf = malloc(CHUNK)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!(c->fp = fopen(src->input, "rb")))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s",
				  src->input, strerror(errno));
	if (csv_init(&c->p, 0))
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot set up the CSV parser");
	c->p_ready = 1;
	csv_set_space_func(&c->p, no_space);
	if (src->format == TS_INPUT_TSV)
		csv_set_delim(&c->p, '\t');
	if ((rc = fill(src, c, err)))
		return rc;
	if (!pop(c, &h))
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' is empty: no header row",
				  src->input);
	if (h.n && h.len[0] >= 3 && !memcmp(h.f[0], "\xEF\xBB\xBF", 3)) {
		memmove(h.f[0], h.f[0] + 3, h.len[0] - 3 + 1);
		h.len[0] -= 3;
	}
	if (h.bad)
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "cannot read the header of '%s': %s",
				src->input, h.bad);
	else if (!(rc = pick_col(src, &h, src->image_col, img_defaults, "image", &c->img_col, err)))
		rc = pick_col(src, &h, src->caption_col, cap_defaults, "caption", &c->cap_col, err);
	c->id_col = c->hash_col = (size_t)-1;
	if (!rc && src->id_col)
		rc = pick_col(src, &h, src->id_col, none, "id", &c->id_col, err);
	if (!rc && src->hash_col)
		rc = pick_col(src, &h, src->hash_col, none, "hash", &c->hash_col, err);
	c->ncols = h.n;
	row_free(&h);
	return rc;
}

static int csv_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct csvsrc *c = src->priv;
	struct row r;
	int rc;

	if ((rc = fill(src, c, err)))
		return rc;
	if (!pop(c, &r))
		return 0;
	if (!(rec->source = ts_src_printf("%s:%llu", src->input, (unsigned long long)r.line))) {
		rc = TS_ERR_NOMEM;
		goto out;
	}
	if (r.bad) {
		rc = ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "%s", r.bad);
		goto out;
	}
	if (r.n != c->ncols) {
		rc = ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "row has %zu fields, the header has %zu",
				   r.n, c->ncols);
		goto out;
	}
	const char *img = r.f[c->img_col];
	if ((rc = ts_src_add_caption(rec, r.f[c->cap_col], r.len[c->cap_col])))
		goto out;
	if (r.len[c->img_col] == 0)
		rc = ts_src_reject(rec, TS_R_RECORD_MISSING_FIELD, "empty image path");
	else if (strlen(img) != r.len[c->img_col])
		rc = ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "image path contains a NUL byte");
	else
		rc = ts_src_set_image(src, rec, img);
	if (rc == 1 && (c->id_col != (size_t)-1 || c->hash_col != (size_t)-1))
		rc = ts_src_set_meta(src, rec,
				     c->id_col != (size_t)-1 ? r.f[c->id_col] : NULL,
				     c->id_col != (size_t)-1 ? r.len[c->id_col] : 0,
				     c->hash_col != (size_t)-1 ? r.f[c->hash_col] : NULL,
				     c->hash_col != (size_t)-1 ? r.len[c->hash_col] : 0);
out:
	row_free(&r);
	return rc;
}

const struct ts_source_ops ts_source_csv_ops = {
	csv_open_src, csv_next, csv_close_src,
};
