/*
 * source_csv.c - CSV and TSV list files.
 *
 * Two ways to split a file into fields, chosen by the quoting (--quoting):
 *  - csv (the default for .csv): RFC 4180 through libcsv.  libcsv is
 *    push-based: the file is read in 64 KiB chunks and fed to it one line
 *    (up to and including '\n') at a time, so we know the line and the file
 *    offset at which each row starts; completed rows are queued and handed
 *    out one by one.  Quoted fields may hold delimiters, doubled quotes and
 *    newlines; fields are kept raw (no space trimming, ` "a,b"` is an
 *    unquoted field, as Python's csv module reads it) and a stray quote
 *    inside an unquoted field is literal (`a 6" pipe`);
 *  - none (the default for .tsv, as CC3M/CC12M are written and pandas reads
 *    them with quoting=QUOTE_NONE): every byte is literal, the delimiter
 *    and LF are the only separators, one CR before the LF is dropped.
 * A quote never silently joins lines: with csv quoting a row that goes on
 * past its first line (a quoted field holding a newline) must end within
 * max_quoted_lines lines and max_quoted_bytes bytes, and must have the
 * header's field count; otherwise it is record.bad_row for its first line
 * alone and reading starts again at the line after that one (we seek back:
 * list files are regular files).  The rest of such a row is parsed
 * strictly, so a quote that closes it and is not followed by a delimiter
 * or a line end (an unclosed quote meeting the next quoted field) is
 * caught the same way, as is a quote still open at the end of the file.
 * Other rules:
 *  - a UTF-8 BOM at the start of the file is skipped;
 *  - a .csv whose header line has a tab and no comma is tab-separated
 *    (open_clip writes its CSVs so);
 *  - the first row is the header unless no_header; then the columns are
 *    named by opts.columns ("caption,url") or numbered "1", "2", ...;
 *    column names match exactly.  Image column: --image-col, else the first
 *    of image, path, filepath, file_name, url; caption column:
 *    --caption-col, else the first of caption, text, title.  A given name
 *    that is not a column but a number N picks the N-th column.  No such
 *    column is a fatal open error that lists the columns found;
 *  - blank lines are skipped and take no index;
 *  - a row whose field count differs from the header's is record.bad_row;
 *    a row longer than max_record_bytes is record.bad_row and reading goes
 *    on at the next line;
 *  - --keep-col columns go into the record's meta_json as strings, the
 *    --group-by column into its group_key;
 *  - image paths are resolved by ts_src_set_image (absolute paths as
 *    given, relative ones under --image-root, default the list's directory);
 *  - source is "<input>:<line>", line (1-based, counting '\n') being the
 *    first line of the row.
 */
#include "pipeline/sources/source_impl.h"
#include "base/buf.h"

#include <csv.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/util.h"

#define CHUNK (64 * 1024)
#define DEFAULT_QUOTED_BYTES (1ULL << 20)
#define DEFAULT_QUOTED_LINES 1000

struct row {
	char **f;
	size_t *len;
	size_t n;
	uint64_t line;
	char *bad;              /* malloc'ed message when malformed */
};

struct csvsrc {
	FILE *fp;
	int literal;            /* quoting none */
	char delim;
	struct csv_parser p;
	int p_ready;
	char *buf;
	size_t buflen, bufpos;
	int eof, done, nomem;
	uint64_t line;          /* line of the next byte fed */
	uint64_t off;           /* file offset of the next byte fed */
	int need_start;         /* the next non-blank byte starts a row */
	int strict_row;         /* the parser is strict for the rest of this row */
	int skip_line;          /* drop bytes up to the next '\n' */
	uint64_t row_line;
	uint64_t row_bytes;
	uint64_t row_next_off;  /* offset after the row's first '\n' (0: not yet) */
	struct row cur;         /* fields of the row being parsed */
	size_t curcap;
	char *lbuf;             /* literal mode: the line being collected */
	size_t llen, lcap;
	struct row *q;          /* completed rows: q[qhead..qn) */
	size_t qn, qhead, qcap;
	size_t ncols;           /* 0 until the header (or first row) is known */
	char **names;           /* column names */
	size_t img_col, cap_col, group_col;
	int has_group_col;
	size_t *keep;           /* column indexes of opts.keep_cols */
	uint64_t quoted_bytes, quoted_lines;
	size_t id_col, hash_col;  /* --id-col, --hash-col, or (size_t)-1 */
};

static void row_free(struct row *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->f[i]);
	free(r->f);
	free(r->len);
	free(r->bad);
	memset(r, 0, sizeof(*r));
}

static int add_field(struct csvsrc *c, const void *s, size_t len)
{
	if (c->cur.n == c->curcap) {
		/* f and len grow together: curcap is the capacity of both */
		size_t a = c->curcap;
		if (TS_ALLOC_GROW(c->cur.f, a, c->cur.n + 1))
			return -1;
		a = c->curcap;
		if (TS_ALLOC_GROW(c->cur.len, a, c->cur.n + 1))
			return -1;
		c->curcap = a;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	if (len)
		memcpy(copy, s, len);
	copy[len] = '\0';
	c->cur.f[c->cur.n] = copy;
	c->cur.len[c->cur.n++] = len;
	return 0;
}

static void on_field(void *s, size_t len, void *data)
{
	struct csvsrc *c = data;
	if (!c->nomem && add_field(c, s, len))
		c->nomem = 1;
}

/* Move the current row to the queue; bad (malloc'ed or NULL) is taken. */
static void push_row(struct csvsrc *c, char *bad)
{
	if (c->nomem) {
		free(bad);
		return;
	}
	if (TS_ALLOC_GROW(c->q, c->qcap, c->qn + 1)) {
		free(bad);
		c->nomem = 1;
		return;
	}
	c->cur.line = c->row_line;
	c->cur.bad = bad;
	c->q[c->qn++] = c->cur;
	memset(&c->cur, 0, sizeof(c->cur));
	c->curcap = 0;
}

/* Queue a bad row for the current row's first line (its fields dropped). */
static void push_bad(struct csvsrc *c, char *msg)
{
	if (!msg) {
		c->nomem = 1;
		return;
	}
	row_free(&c->cur);
	c->curcap = 0;
	push_row(c, msg);
}

static void on_row(int term, void *data)
{
	struct csvsrc *c = data;
	push_row(c, NULL);
	c->need_start = 1;
	if (c->strict_row) {
		csv_set_opts(&c->p, 0);
		c->strict_row = 0;
	}
}

static int no_space(unsigned char ch)
{
	return 0;
}

static int parser_init(struct csvsrc *c)
{
	if (c->p_ready)
		csv_free(&c->p);
	c->p_ready = 0;
	if (csv_init(&c->p, 0))
		return -1;
	c->p_ready = 1;
	c->strict_row = 0;
	csv_set_space_func(&c->p, no_space);
	csv_set_delim(&c->p, (unsigned char)c->delim);
	return 0;
}

/* Throw away the row being parsed and start again at the line after its
 * first line (or, for a row still on its first line, after that line). */
static int restart_after_row(struct ts_source *src, struct csvsrc *c, struct ts_err *err)
{
	row_free(&c->cur);
	c->curcap = 0;
	c->need_start = 1;
	if (parser_init(c))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "cannot set up the CSV parser");
	if (!c->row_next_off) {
		c->skip_line = 1;     /* the rest of the current line */
		return TS_OK;
	}
	if (fseeko(c->fp, (off_t)c->row_next_off, SEEK_SET))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot seek in '%s': %s",
				  src->input, strerror(errno));
	c->off = c->row_next_off;
	c->line = c->row_line + 1;
	c->bufpos = c->buflen = 0;
	c->eof = 0;
	return TS_OK;
}

/* Literal mode: split the collected line into a row. */
static void literal_row(struct csvsrc *c)
{
	size_t n = c->llen;
	if (n && c->lbuf[n - 1] == '\r')
		n--;
	const char *p = c->lbuf, *end = c->lbuf + n;
	for (;;) {
		const char *d = memchr(p, c->delim, (size_t)(end - p));
		const char *fe = d ? d : end;
		if (add_field(c, p, (size_t)(fe - p))) {
			c->nomem = 1;
			return;
		}
		if (!d)
			break;
		p = d + 1;
	}
	push_row(c, NULL);
}

/* Feed one segment seg[0..n) (ending in '\n' when nl) in literal mode. */
static void literal_feed(struct ts_source *src, struct csvsrc *c, const char *seg, size_t n,
			 int nl)
{
	size_t body = nl ? n - 1 : n;
	if (!c->skip_line) {
		if (c->llen + body > src->max_bytes) {
			push_bad(c, ts_src_printf("row is longer than %llu bytes",
						  (unsigned long long)src->max_bytes));
			c->llen = 0;
			c->skip_line = 1;
		} else if (body) {
			if (TS_ALLOC_GROW(c->lbuf, c->lcap, c->llen + body)) {
				c->nomem = 1;
				return;
			}
			memcpy(c->lbuf + c->llen, seg, body);
			c->llen += body;
		}
	}
	if (!nl)
		return;
	if (!c->skip_line && !c->need_start)
		literal_row(c);
	c->skip_line = 0;
	c->llen = 0;
	c->need_start = 1;
}

/* Feed the parser until a row is queued or the input ends.  0 or a fatal
 * status. */
static int fill(struct ts_source *src, struct csvsrc *c, struct ts_err *err)
{
	int rc;
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
			if (c->literal) {
				if (!c->need_start && !c->skip_line)
					literal_row(c);
				c->done = 1;
				break;
			}
			/* strict only here: report a quoted field left open at EOF */
			csv_set_opts(&c->p, CSV_STRICT | CSV_STRICT_FINI);
			if (csv_fini(&c->p, on_field, on_row, c) == 0) {
				c->done = 1;
				break;
			}
			push_bad(c, ts_src_printf("a quoted field opened on line %llu is not closed "
						  "by the end of the file",
						  (unsigned long long)c->row_line));
			if (!c->row_next_off) {
				c->done = 1;
				break;
			}
			if ((rc = restart_after_row(src, c, err)))
				return rc;
			continue;
		}
		const char *seg = c->buf + c->bufpos;
		size_t avail = c->buflen - c->bufpos;
		const char *nl = memchr(seg, '\n', avail);
		size_t n = nl ? (size_t)(nl - seg) + 1 : avail;
		if (c->skip_line && !c->literal) {
			c->bufpos += n;
			c->off += n;
			if (nl) {
				c->line++;
				c->skip_line = 0;
			}
			continue;
		}
		if (c->need_start && !c->skip_line) {
			for (size_t i = 0; i < n; i++)
				if (seg[i] != '\r' && seg[i] != '\n') {
					c->need_start = 0;
					c->row_line = c->line;
					c->row_bytes = 0;
					c->row_next_off = 0;
					break;
				}
		}
		uint64_t row_line = c->row_line;
		size_t before = c->qn;
		if (!c->need_start)
			c->row_bytes += n;
		if (c->literal) {
			literal_feed(src, c, seg, n, nl != NULL);
			goto fed;
		}
		/* libcsv grows its field buffer by a fixed block: keep the block
		 * as large as the row so far, so a big field costs log(n) copies */
		csv_set_blk_size(&c->p, c->row_bytes > 65536 ? (size_t)c->row_bytes : 65536);
		if (csv_parse(&c->p, seg, n, on_field, on_row, c) != n) {
			if (csv_error(&c->p) == CSV_EPARSE && c->strict_row) {
				/* a quote that closed the multi-line field and went on
				 * (`"...` then `x,"a sign`): the lines were joined */
				push_bad(c, ts_src_printf("a quoted field opened on line %llu is closed "
							  "by a stray quote on line %llu; reading goes "
							  "on at line %llu", (unsigned long long)row_line,
							  (unsigned long long)c->line,
							  (unsigned long long)row_line + 1));
				if ((rc = restart_after_row(src, c, err)))
					return rc;
				continue;
			}
			return ts_err_set(err, csv_error(&c->p) == CSV_ENOMEM ? TS_ERR_NOMEM
					  : TS_ERR_INTERNAL, TS_R_NONE, "cannot parse '%s' at line %llu: %s",
					  src->input, (unsigned long long)c->line,
					  csv_strerror(csv_error(&c->p)));
		}
fed:
		if (c->nomem)
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory reading '%s'",
					  src->input);
		c->bufpos += n;
		c->off += n;
		if (nl) {
			if (!c->row_next_off && c->line == row_line)
				c->row_next_off = c->off;
			c->line++;
		}
		if (c->literal)
			continue;
		/* a row that ran over several lines with the wrong field count
		 * was joined by a stray quote: give its first line back */
		if (c->qn > before && c->ncols && c->line - 1 > row_line) {
			struct row *r = &c->q[c->qn - 1];
			if (!r->bad && r->n != c->ncols) {
				size_t got = r->n;
				c->qn--;
				c->cur = *r;
				c->row_line = row_line;
				push_bad(c, ts_src_printf("a quoted field opened on line %llu runs to "
							  "line %llu and the row has %zu fields, not %zu; "
							  "reading goes on at line %llu",
							  (unsigned long long)row_line,
							  (unsigned long long)(c->line - 1), got,
							  c->ncols, (unsigned long long)row_line + 1));
				if ((rc = restart_after_row(src, c, err)))
					return rc;
				continue;
			}
		}
		if (c->need_start)
			continue;
		int multi = c->line > row_line;   /* still open after its first line end */
		if (multi && !c->strict_row) {
			/* the rest of a row that holds a newline is read strictly:
			 * its quoted field must end in a quote and a delimiter or
			 * line end */
			csv_set_opts(&c->p, CSV_STRICT);
			c->strict_row = 1;
		}
		if (c->row_bytes > src->max_bytes ||
		    (multi && (c->row_bytes > c->quoted_bytes ||
			       c->line - row_line >= c->quoted_lines))) {
			if (multi)
				push_bad(c, ts_src_printf("a quoted field opened on line %llu is not closed "
							  "within %llu lines and %llu bytes; reading goes on "
							  "at line %llu", (unsigned long long)row_line,
							  (unsigned long long)c->quoted_lines,
							  (unsigned long long)c->quoted_bytes,
							  (unsigned long long)row_line + 1));
			else
				push_bad(c, ts_src_printf("row is longer than %llu bytes",
							  (unsigned long long)src->max_bytes));
			if ((rc = restart_after_row(src, c, err)))
				return rc;
		}
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
	free(c->lbuf);
	for (size_t i = 0; c->names && i < c->ncols; i++)
		free(c->names[i]);
	free(c->names);
	free(c->keep);
	free(c);
	src->priv = NULL;
}

static int find_col(const struct csvsrc *c, const char *name, size_t *out)
{
	for (size_t i = 0; i < c->ncols; i++)
		if (!strcmp(c->names[i], name)) {
			*out = i;
			return 1;
		}
	/* a number that is not a column name: the N-th column */
	if (name[0] && strspn(name, "0123456789") == strlen(name) && strlen(name) < 10) {
		unsigned long k = strtoul(name, NULL, 10);
		if (k >= 1 && k <= c->ncols) {
			*out = k - 1;
			return 1;
		}
	}
	return 0;
}

static int pick_col(struct ts_source *src, struct csvsrc *c, const char *given,
		    const char *const *defaults, const char *what, size_t *out,
		    struct ts_err *err)
{
	char cols[256] = "", wanted[128] = "";
	if (given) {
		if (find_col(c, given, out))
			return TS_OK;
		snprintf(wanted, sizeof(wanted), "'%s'", given);
	} else {
		for (const char *const *d = defaults; *d; d++)
			if (find_col(c, *d, out))
				return TS_OK;
		for (const char *const *d = defaults; *d; d++)
			snprintf(wanted + strlen(wanted), sizeof(wanted) - strlen(wanted),
				 "%s%s", d == defaults ? "" : ", ", *d);
	}
	for (size_t i = 0; i < c->ncols; i++) {
		size_t at = strlen(cols);
		if (at + 8 >= sizeof(cols)) {
			snprintf(cols + at, sizeof(cols) - at, ", ...");
			break;
		}
		snprintf(cols + at, sizeof(cols) - at, "%s%s", i ? ", " : "", c->names[i]);
	}
	return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
			  "no %s column in '%s' (looked for %s; %s: %s)%s",
			  what, src->input, wanted,
			  src->opts.no_header ? "the columns are" : "the header has",
			  c->ncols ? cols : "nothing",
			  src->opts.no_header && !src->opts.columns
			  ? "; name them with --columns or give a column number" : "");
}

/* Column names from "a,b,c". */
static int names_from_list(struct csvsrc *c, const char *list)
{
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	if (!(c->names = calloc(n, sizeof(*c->names))))
		return -1;
	const char *p = list;
	for (size_t i = 0; i < n; i++) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (!(c->names[i] = strndup(p, len)))
			return -1;
		c->ncols = i + 1;
		p = e ? e + 1 : p + len;
	}
	return 0;
}

/* 1 when the header line (from off) has a tab and no comma: a .csv
 * written with a tab separator, as open_clip's are.  fp is put back. */
static int sniff_tabs(FILE *fp, uint64_t off)
{
	char line[4096];
	int r = 0;
	if (fgets(line, sizeof(line), fp))
		r = strchr(line, '\t') && !strchr(line, ',');
	if (fseeko(fp, (off_t)off, SEEK_SET))
		return 0;
	return r;
}

static int csv_open_src(struct ts_source *src, struct ts_err *err)
{
	static const char *const img_paths[] = { "image", "path", "filepath", "file_name",
						 "url", NULL };
	const char *const *img_defaults = src->urls ? ts_src_image_defaults(src) : img_paths;
	static const char *const cap_defaults[] = { "caption", "text", "title", NULL };
	const struct ts_source_opts *o = &src->opts;
	struct csvsrc *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	src->priv = c;
	c->line = 1;
	c->need_start = 1;
	c->delim = src->format == TS_INPUT_TSV ? '\t' : ',';
	c->literal = o->quoting == TS_QUOTING_NONE ||
		(o->quoting == TS_QUOTING_DEFAULT && src->format == TS_INPUT_TSV);
	c->quoted_bytes = o->max_quoted_bytes ? o->max_quoted_bytes : DEFAULT_QUOTED_BYTES;
	c->quoted_lines = o->max_quoted_lines ? o->max_quoted_lines : DEFAULT_QUOTED_LINES;
	if (!(c->buf = malloc(CHUNK)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (!(c->fp = fopen(src->input, "rb")))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s",
				  src->input, strerror(errno));
	if (ts_skip_bom(c->fp))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s",
				  src->input, strerror(errno));
	c->off = (uint64_t)ftello(c->fp);
	if (src->format == TS_INPUT_CSV && !o->no_header && sniff_tabs(c->fp, c->off))
		c->delim = '\t';       /* open_clip's tab-separated .csv */
	if (parser_init(c))
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot set up the CSV parser");

	if (o->no_header && o->columns) {
		if (names_from_list(c, o->columns))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	} else {
		struct row h = { 0 };
		if ((rc = fill(src, c, err)))
			return rc;
		if (c->qhead == c->qn)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					  "'%s' is empty: no %s", src->input,
					  o->no_header ? "rows" : "header row");
		h = c->q[c->qhead];
		if (h.bad)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					  "cannot read the %s of '%s': %s",
					  o->no_header ? "first row" : "header", src->input, h.bad);
		if (!(c->names = calloc(h.n ? h.n : 1, sizeof(*c->names))))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		for (size_t i = 0; i < h.n; i++) {
			c->names[i] = o->no_header ? ts_src_printf("%zu", i + 1) : strdup(h.f[i]);
			if (!c->names[i])
				return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			c->ncols = i + 1;
		}
		if (!o->no_header) {        /* the header is not a record */
			pop(c, &h);
			row_free(&h);
		}
	}
	if ((rc = pick_col(src, c, src->image_col, img_defaults, "image", &c->img_col, err)) ||
	    (rc = pick_col(src, c, src->caption_col, cap_defaults, "caption", &c->cap_col, err)))
		return rc;
	if (o->group_by && strcmp(o->group_by, "image")) {
		if ((rc = pick_col(src, c, o->group_by, NULL, "--group-by", &c->group_col, err)))
			return rc;
		c->has_group_col = 1;
	}
	if (o->nkeep_cols && !(c->keep = calloc(o->nkeep_cols, sizeof(*c->keep))))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (size_t i = 0; i < o->nkeep_cols; i++)
		if ((rc = pick_col(src, c, o->keep_cols[i], NULL, "--keep-col", &c->keep[i], err)))
			return rc;
	c->id_col = c->hash_col = (size_t)-1;
	if (src->id_col && (rc = pick_col(src, c, src->id_col, NULL, "--id-col", &c->id_col, err)))
		return rc;
	if (src->hash_col && (rc = pick_col(src, c, src->hash_col, NULL, "--hash-col", &c->hash_col, err)))
		return rc;
	return TS_OK;
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
		rc = ts_src_reject(rec, TS_R_RECORD_BAD_ROW, "row has %zu fields, the %s has %zu",
				   r.n, src->opts.no_header ? "first row" : "header", c->ncols);
		goto out;
	}
	if (c->has_group_col && !(rec->group_key = strdup(r.f[c->group_col]))) {
		rc = TS_ERR_NOMEM;
		goto out;
	}
	if (src->opts.nkeep_cols) {
		json_t *m = json_object();
		for (size_t i = 0; m && i < src->opts.nkeep_cols; i++) {
			size_t k = c->keep[i];
			json_t *v = json_stringn(r.f[k], r.len[k]);   /* NULL: not UTF-8 */
			if (json_object_set_new(m, src->opts.keep_cols[i], v ? v : json_null())) {
				json_decref(m);
				m = NULL;
			}
		}
		if (!m || ts_src_set_meta(rec, m)) {
			rc = TS_ERR_NOMEM;
			goto out;
		}
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
		rc = ts_src_set_ids(src, rec,
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
