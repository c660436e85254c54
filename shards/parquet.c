/*
 * parquet.c - the parquet reader (see parquet.h for what it supports).
 *
 * Layout of a file: "PAR1", column chunks (each an optional dictionary
 * page and data pages, every page a Thrift PageHeader and its bytes), the
 * FileMetaData footer (Thrift), its 4-byte length, "PAR1".  The footer
 * gives the schema (a depth-first list of elements), and for each row
 * group the offset, size, codec and value count of each column chunk.
 *
 * What must always hold: every offset and size read from the file is
 * checked against the file size (or the enclosing chunk or page) before it
 * is used; every count that sizes an allocation is checked against a limit
 * or the bytes that hold it; a decompressed page must have exactly the size
 * its header claims; level and dictionary-index values are range-checked,
 * so a damaged file gives an error and never a read out of bounds or a
 * value that is not in the file.  Values of the current row group point
 * into buffers owned by the selected column (struct pq_col), freed when the
 * next row group is read.
 */
#define _GNU_SOURCE
#include "shards/parquet.h"
#include "shards/thrift.h"
#include "base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define MAX_REP 15
#define MAX_DEF 63
#define MAX_SCHEMA 100000

enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICT = 2, PAGE_DATA_V2 = 3 };
enum {
	ENC_PLAIN = 0, ENC_PLAIN_DICT = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4,
	ENC_DELTA_BINARY = 5, ENC_DELTA_LENGTH = 6, ENC_DELTA_BYTE_ARRAY = 7,
	ENC_RLE_DICT = 8, ENC_BYTE_STREAM_SPLIT = 9,
};
enum { CODEC_NONE = 0, CODEC_SNAPPY = 1, CODEC_GZIP = 2, CODEC_LZO = 3,
	CODEC_BROTLI = 4, CODEC_LZ4 = 5, CODEC_ZSTD = 6, CODEC_LZ4_RAW = 7 };

/* one schema element as read */
struct elem {
	char *name;
	int type;            /* -1: a group */
	int type_length;
	int rep;             /* REP_*; -1 absent */
	int nchildren;
	int converted;       /* -1 absent */
	int logical;         /* LogicalType union field id, 0 absent */
	int int_signed, int_bits;   /* logical INTEGER */
};

struct field {
	struct ts_pq_field pub;
	char *desc;
	int leaf;            /* column chunk index in each row group */
	int max_def, max_rep;
	int dr[MAX_REP + 1]; /* dr[k]: def level with repeated node k present */
	int dp[MAX_REP + 1]; /* dp[k]: def level with the parent of repeated node k present */
	int is_unsigned;     /* UINT_* / INTEGER(unsigned): zero-extend INT32, INT64 may exceed int64 */
};

struct chunk {
	int type, codec;
	int64_t num_values, data_off, dict_off, comp_size;
	int external;        /* file_path set: data in another file */
	int encrypted;
	int has_meta;
};

struct group {
	int64_t num_rows;
	struct chunk *cols;
	size_t ncols;
};

struct val {
	union { int64_t i; double d; const uint8_t *s; } u;
	uint32_t len;
	uint8_t null;
};

/* a selected column's decoded data for the current row group */
struct pq_col {
	struct field *f;
	struct val *vals;     /* flat: one per row; nested: the non-null leaves */
	size_t nvals, valcap;
	uint8_t *def, *rep;   /* nested: one per level entry */
	size_t nlev, levcap;
	uint32_t *row_off;    /* nested: nrows + 1 offsets into def/rep */
	uint32_t *row_vi;     /* nested: each row's first index into vals */
	struct val *dict;
	size_t ndict;
	uint8_t **bufs;       /* owned buffers values point into */
	size_t nbufs, bufcap;
};

struct ts_pq {
	char *name;
	int fd;
	const uint8_t *mem;
	uint64_t size;
	struct ts_pq_limits lim;
	int encrypted_footer_algo;
	char *created_by;
	int64_t num_rows;
	struct elem *elems;
	size_t nelems;
	struct field *fields;
	size_t nfields;
	size_t nleaves;
	struct group *groups;
	size_t ngroups;
	struct pq_col *sel;
	size_t nsel;
	size_t next_group;
	size_t cur_rows;
	uint32_t *scratch;    /* level/index decoding */
	size_t scratch_cap;
	ZSTD_DCtx *zstd;
};

/* ---- errors ---- */

static int ferr(const struct ts_pq *pq, struct ts_err *err, int status,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int ferr(const struct ts_pq *pq, struct ts_err *err, int status,
		const char *fmt, ...)
{
	char buf[TS_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return ts_err_set(err, status, TS_R_NONE, "cannot read '%s': %s", pq->name, buf);
}

/* column context for messages */
struct cctx {
	struct ts_pq *pq;
	struct field *f;
	size_t group;
	int64_t page_off;     /* file offset of the page, -1 none */
};

static int cerr(const struct cctx *c, struct ts_err *err, int status,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int cerr(const struct cctx *c, struct ts_err *err, int status,
		const char *fmt, ...)
{
	char buf[TS_ERR_MSG_MAX], where[64] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->page_off >= 0)
		snprintf(where, sizeof(where), ", page at offset %lld", (long long)c->page_off);
	return ts_err_set(err, status, TS_R_NONE, "cannot read '%s': column '%s': row group %zu%s: %s",
			  c->pq->name, c->f->pub.name, c->group, where, buf);
}

static const char *codec_name(int c)
{
	static const char *const n[] = { "uncompressed", "snappy", "gzip", "lzo", "brotli",
		"lz4", "zstd", "lz4_raw" };
	return c >= 0 && c < 8 ? n[c] : "unknown";
}

static const char *encoding_name(int e)
{
	static const char *const n[] = { "PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE",
		"BIT_PACKED", "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY",
		"DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT" };
	return e >= 0 && e < 10 ? n[e] : "unknown";
}

/* ---- reading the file ---- */

/* Bytes [off, off+len) of the file: a pointer into memory, or a new buffer
 * in *owned.  The range must lie inside the file. */
static int read_range(struct ts_pq *pq, uint64_t off, uint64_t len, const uint8_t **out,
		      uint8_t **owned, struct ts_err *err)
{
	*owned = NULL;
	if (off > pq->size || len > pq->size - off)
		return ferr(pq, err, TS_ERR_INVALID, "range %llu+%llu runs past the end of the file (%llu bytes)",
			    (unsigned long long)off, (unsigned long long)len, (unsigned long long)pq->size);
	if (pq->mem) {
		*out = pq->mem + off;
		return TS_OK;
	}
	uint8_t *b = malloc(len ? len : 1);
	if (!b)
		return ferr(pq, err, TS_ERR_NOMEM, "out of memory for %llu bytes", (unsigned long long)len);
	uint64_t got = 0;
	while (got < len) {
		ssize_t r = pread(pq->fd, b + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = errno;
			free(b);
			return ferr(pq, err, TS_ERR_IO, "%s", r < 0 ? strerror(e) : "file shrank while reading");
		}
		got += (uint64_t)r;
	}
	*out = b;
	*owned = b;
	return TS_OK;
}

/* pread exactly len bytes at off into b (the range was checked). */
static int read_exact(struct ts_pq *pq, uint64_t off, size_t len, uint8_t *b, struct ts_err *err)
{
	size_t got = 0;
	if (pq->mem) {
		memcpy(b, pq->mem + off, len);
		return TS_OK;
	}
	while (got < len) {
		ssize_t r = pread(pq->fd, b + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ferr(pq, err, TS_ERR_IO, "%s", r < 0 ? strerror(errno) : "file shrank while reading");
		got += (size_t)r;
	}
	return TS_OK;
}

/* ---- footer ---- */

static char *dup_bin(const uint8_t *s, uint32_t n)
{
	char *d = malloc((size_t)n + 1);
	if (d) {
		if (n)
			memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void parse_logical(struct ts_tc *t, struct elem *e)
{
	int16_t last = 0, id, l2;
	int ty, t2;
	if (ts_tc_enter(t))
		return;
	while (ts_tc_field(t, &last, &ty, &id)) {
		if (ty == TS_TC_STRUCT && !e->logical)
			e->logical = id;
		if (ty == TS_TC_STRUCT && id == 10) {   /* IntType */
			l2 = 0;
			if (ts_tc_enter(t))
				break;
			int16_t id2;
			while (ts_tc_field(t, &l2, &t2, &id2)) {
				if (id2 == 1 && t2 == TS_TC_BYTE && t->p < t->end)
					e->int_bits = (int8_t)*t->p++;
				else if (id2 == 2 && (t2 == TS_TC_TRUE || t2 == TS_TC_FALSE))
					e->int_signed = t2 == TS_TC_TRUE;
				else
					ts_tc_skip(t, t2);
			}
			ts_tc_leave(t);
		} else {
			ts_tc_skip(t, ty);
		}
	}
	ts_tc_leave(t);
}

static int parse_elem(struct ts_tc *t, struct elem *e)
{
	int16_t last = 0, id;
	int ty;
	uint32_t n;
	e->type = -1;
	e->rep = -1;
	e->converted = -1;
	e->int_signed = 1;
	if (ts_tc_enter(t))
		return -1;
	while (ts_tc_field(t, &last, &ty, &id)) {
		if (id == 1 && ty == TS_TC_I32)
			e->type = ts_tc_i32(t);
		else if (id == 2 && ty == TS_TC_I32)
			e->type_length = ts_tc_i32(t);
		else if (id == 3 && ty == TS_TC_I32)
			e->rep = ts_tc_i32(t);
		else if (id == 4 && ty == TS_TC_BINARY) {
			const uint8_t *s = ts_tc_binary(t, &n);
			if (s && !e->name && !(e->name = dup_bin(s, n)))
				return -2;
		} else if (id == 5 && ty == TS_TC_I32)
			e->nchildren = ts_tc_i32(t);
		else if (id == 6 && ty == TS_TC_I32)
			e->converted = ts_tc_i32(t);
		else if (id == 10 && ty == TS_TC_STRUCT)
			parse_logical(t, e);
		else
			ts_tc_skip(t, ty);
	}
	ts_tc_leave(t);
	return t->bad ? -1 : 0;
}

static void parse_colmeta(struct ts_tc *t, struct chunk *c)
{
	int16_t last = 0, id;
	int ty;
	if (ts_tc_enter(t))
		return;
	c->has_meta = 1;
	while (ts_tc_field(t, &last, &ty, &id)) {
		if (id == 1 && ty == TS_TC_I32)
			c->type = ts_tc_i32(t);
		else if (id == 4 && ty == TS_TC_I32)
			c->codec = ts_tc_i32(t);
		else if (id == 5 && ty == TS_TC_I64)
			c->num_values = ts_tc_i64(t);
		else if (id == 7 && ty == TS_TC_I64)
			c->comp_size = ts_tc_i64(t);
		else if (id == 9 && ty == TS_TC_I64)
			c->data_off = ts_tc_i64(t);
		else if (id == 11 && ty == TS_TC_I64)
			c->dict_off = ts_tc_i64(t);
		else
			ts_tc_skip(t, ty);
	}
	ts_tc_leave(t);
}

static void parse_chunk(struct ts_tc *t, struct chunk *c)
{
	int16_t last = 0, id;
	int ty;
	c->dict_off = -1;
	if (ts_tc_enter(t))
		return;
	while (ts_tc_field(t, &last, &ty, &id)) {
		if (id == 1 && ty == TS_TC_BINARY) {
			uint32_t n;
			ts_tc_binary(t, &n);
			c->external = 1;
		} else if (id == 3 && ty == TS_TC_STRUCT) {
			parse_colmeta(t, c);
		} else if ((id == 8 || id == 9) && !t->bad) {
			c->encrypted = 1;
			ts_tc_skip(t, ty);
		} else {
			ts_tc_skip(t, ty);
		}
	}
	ts_tc_leave(t);
}

static int parse_group(struct ts_tc *t, struct group *g)
{
	int16_t last = 0, id;
	int ty, et;
	if (ts_tc_enter(t))
		return -1;
	while (ts_tc_field(t, &last, &ty, &id)) {
		if (id == 1 && ty == TS_TC_LIST && !g->cols) {
			uint32_t n = ts_tc_list(t, &et);
			if (t->bad)
				break;
			if (et != TS_TC_STRUCT) {
				for (uint32_t i = 0; i < n && !t->bad; i++)
					ts_tc_skip(t, et);
				continue;
			}
			if (!(g->cols = calloc(n ? n : 1, sizeof(*g->cols))))
				return -2;
			g->ncols = n;
			for (uint32_t i = 0; i < n && !t->bad; i++)
				parse_chunk(t, &g->cols[i]);
		} else if (id == 3 && ty == TS_TC_I64) {
			g->num_rows = ts_tc_i64(t);
		} else {
			ts_tc_skip(t, ty);
		}
	}
	ts_tc_leave(t);
	return t->bad ? -1 : 0;
}

static int parse_footer(struct ts_pq *pq, const uint8_t *b, size_t n, struct ts_err *err)
{
	struct ts_tc t;
	int16_t last = 0, id;
	int ty, et, rc;
	int have_schema = 0, have_groups = 0, have_rows = 0;

	ts_tc_init(&t, b, n);
	while (ts_tc_field(&t, &last, &ty, &id)) {
		if (id == 2 && ty == TS_TC_LIST && !have_schema) {
			uint32_t cnt = ts_tc_list(&t, &et);
			if (t.bad || et != TS_TC_STRUCT || cnt == 0)
				return ferr(pq, err, TS_ERR_INVALID, "damaged footer: bad schema list");
			if (cnt > MAX_SCHEMA)
				return ferr(pq, err, TS_ERR_LIMIT, "schema has %u elements (limit %d)", cnt, MAX_SCHEMA);
			if (!(pq->elems = calloc(cnt, sizeof(*pq->elems))))
				return ferr(pq, err, TS_ERR_NOMEM, "out of memory");
			pq->nelems = cnt;
			for (uint32_t i = 0; i < cnt; i++)
				if ((rc = parse_elem(&t, &pq->elems[i])) == -2)
					return ferr(pq, err, TS_ERR_NOMEM, "out of memory");
				else if (rc)
					break;
			have_schema = 1;
		} else if (id == 3 && ty == TS_TC_I64) {
			pq->num_rows = ts_tc_i64(&t);
			have_rows = 1;
		} else if (id == 4 && ty == TS_TC_LIST && !have_groups) {
			uint32_t cnt = ts_tc_list(&t, &et);
			if (t.bad || et != TS_TC_STRUCT)
				return ferr(pq, err, TS_ERR_INVALID, "damaged footer: bad row group list");
			if (!(pq->groups = calloc(cnt ? cnt : 1, sizeof(*pq->groups))))
				return ferr(pq, err, TS_ERR_NOMEM, "out of memory");
			pq->ngroups = cnt;
			for (uint32_t i = 0; i < cnt; i++)
				if ((rc = parse_group(&t, &pq->groups[i])) == -2)
					return ferr(pq, err, TS_ERR_NOMEM, "out of memory");
				else if (rc)
					break;
			have_groups = 1;
		} else if (id == 6 && ty == TS_TC_BINARY && !pq->created_by) {
			uint32_t len;
			const uint8_t *s = ts_tc_binary(&t, &len);
			if (s && !(pq->created_by = dup_bin(s, len)))
				return ferr(pq, err, TS_ERR_NOMEM, "out of memory");
		} else if (id == 8 && ty == TS_TC_STRUCT) {
			pq->encrypted_footer_algo = 1;
			ts_tc_skip(&t, ty);
		} else {
			ts_tc_skip(&t, ty);
		}
	}
	if (t.bad)
		return ferr(pq, err, TS_ERR_INVALID, "damaged footer: %s", t.why ? t.why : "bad Thrift data");
	if (!have_schema || !have_rows)
		return ferr(pq, err, TS_ERR_INVALID, "damaged footer: no %s", have_schema ? "row count" : "schema");
	return TS_OK;
}

/* ---- schema ---- */

static const char *leaf_type_name(const struct elem *e, int is_string, char *buf, size_t bufsz)
{
	switch (e->type) {
	case TS_PQ_BOOLEAN: return "boolean";
	case TS_PQ_INT32: return "int32";
	case TS_PQ_INT64: return "int64";
	case TS_PQ_INT96: return "int96";
	case TS_PQ_FLOAT: return "float";
	case TS_PQ_DOUBLE: return "double";
	case TS_PQ_BYTE_ARRAY: return is_string ? "string" : "binary";
	case TS_PQ_FIXED_LEN_BYTE_ARRAY:
		snprintf(buf, bufsz, "fixed(%d)", e->type_length);
		return buf;
	default: return "unknown";
	}
}

/* Walk the subtree at *pos (one element and its descendants) for top-level
 * field f: count leaves, remember the first leaf's path levels. */
static int walk(struct ts_pq *pq, size_t *pos, int depth, int def, int rep,
		struct field *f, size_t *leaves_here, const struct elem **leaf, struct ts_err *err)
{
	if (*pos >= pq->nelems)
		return ferr(pq, err, TS_ERR_INVALID, "damaged footer: schema children run past its end");
	if (depth > 64)
		return ferr(pq, err, TS_ERR_INVALID, "damaged footer: schema nested too deeply");
	const struct elem *e = &pq->elems[(*pos)++];
	int parent_def = def;
	if (e->rep == REP_OPTIONAL)
		def++;
	else if (e->rep == REP_REPEATED) {
		def++;
		rep++;
		if (rep <= MAX_REP && *leaves_here == 0) {
			f->dr[rep] = def;
			f->dp[rep] = parent_def;
		}
	}
	if (e->nchildren < 0)
		return ferr(pq, err, TS_ERR_INVALID, "damaged footer: negative child count");
	if (e->nchildren == 0) {
		if (e->type < 0 || e->type > TS_PQ_FIXED_LEN_BYTE_ARRAY)
			return ferr(pq, err, TS_ERR_INVALID, "damaged footer: column '%s' has no valid type",
				    e->name ? e->name : "?");
		if (*leaves_here == 0) {
			*leaf = e;
			f->max_def = def;
			f->max_rep = rep;
		}
		(*leaves_here)++;
		pq->nleaves++;
		return TS_OK;
	}
	for (int i = 0; i < e->nchildren; i++) {
		int rc = walk(pq, pos, depth + 1, def, rep, f, leaves_here, leaf, err);
		if (rc)
			return rc;
	}
	return TS_OK;
}

static int build_schema(struct ts_pq *pq, struct ts_err *err)
{
	const struct elem *root = &pq->elems[0];
	if (root->nchildren <= 0 || (size_t)root->nchildren >= pq->nelems)
		return ferr(pq, err, TS_ERR_INVALID, "damaged footer: schema root has %d children for %zu elements",
			    root->nchildren, pq->nelems);
	if (!(pq->fields = calloc((size_t)root->nchildren, sizeof(*pq->fields))))
		return ferr(pq, err, TS_ERR_NOMEM, "out of memory");
	size_t pos = 1;
	for (int i = 0; i < root->nchildren; i++) {
		struct field *f = &pq->fields[i];
		const struct elem *top = pos < pq->nelems ? &pq->elems[pos] : NULL;
		const struct elem *leaf = NULL;
		size_t nl = 0;
		int rc;
		f->leaf = (int)pq->nleaves;
		pq->nfields = (size_t)i + 1;
		if ((rc = walk(pq, &pos, 0, 0, 0, f, &nl, &leaf, err)))
			return rc;
		f->pub.name = top->name ? top->name : "";
		f->pub.type = (enum ts_pq_phys)leaf->type;
		f->pub.type_length = leaf->type_length;
		f->pub.optional = top->rep == REP_OPTIONAL;
		f->pub.nested = f->max_rep > 0;
		f->pub.is_string = leaf->converted == 0 || leaf->converted == 4 || leaf->converted == 19 ||
			leaf->logical == 1 || leaf->logical == 4 || leaf->logical == 12;
		if ((leaf->converted >= 11 && leaf->converted <= 14) ||
		    (leaf->logical == 10 && !leaf->int_signed))
			f->is_unsigned = 1;
		if (nl > 1)
			f->pub.unsupported = "a struct or map (more than one leaf column)";
		else if (leaf->type == TS_PQ_INT96)
			f->pub.unsupported = "INT96 values";
		else if (leaf->converted == 5 || leaf->logical == 5)
			f->pub.unsupported = "DECIMAL values";
		else if (f->max_rep > MAX_REP || f->max_def > MAX_DEF)
			f->pub.unsupported = "nesting this deep";
		else if (leaf->type == TS_PQ_FIXED_LEN_BYTE_ARRAY && leaf->type_length < 0)
			f->pub.unsupported = "a negative FIXED_LEN_BYTE_ARRAY length";
		char tb[32];
		const char *base = leaf_type_name(leaf, f->pub.is_string, tb, sizeof(tb));
		int reps = f->max_rep > MAX_REP ? MAX_REP : f->max_rep, bad = 0;
		struct ts_buf d = TS_BUF_INIT;
		if (nl > 1)
			bad = ts_buf_addf(&d, "struct(%zu columns)", nl);
		else {
			for (int k = 0; k < reps && !bad; k++)
				bad = ts_buf_adds(&d, "list<");
			bad = bad || ts_buf_adds(&d, base);
			for (int k = 0; k < reps && !bad; k++)
				bad = ts_buf_addch(&d, '>');
		}
		if (bad) {
			ts_buf_release(&d);
			return ferr(pq, err, TS_ERR_NOMEM, "out of memory");
		}
		f->desc = ts_buf_detach(&d, NULL);
		f->pub.type_desc = f->desc;
	}
	if (pos != pq->nelems)
		return ferr(pq, err, TS_ERR_INVALID, "damaged footer: schema has %zu elements, its tree %zu",
			    pq->nelems, pos);
	return TS_OK;
}

static int check_groups(struct ts_pq *pq, struct ts_err *err)
{
	int64_t total = 0;
	for (size_t g = 0; g < pq->ngroups; g++) {
		struct group *gr = &pq->groups[g];
		if (gr->ncols != pq->nleaves)
			return ferr(pq, err, TS_ERR_INVALID, "damaged footer: row group %zu has %zu column chunks, the schema %zu columns",
				    g, gr->ncols, pq->nleaves);
		if (gr->num_rows < 0 || (uint64_t)gr->num_rows > pq->lim.max_group_values)
			return ferr(pq, err, gr->num_rows < 0 ? TS_ERR_INVALID : TS_ERR_LIMIT,
				    "row group %zu has %lld rows (limit %llu)", g, (long long)gr->num_rows,
				    (unsigned long long)pq->lim.max_group_values);
		total += gr->num_rows;
	}
	if (pq->num_rows < 0 || (pq->ngroups && total != pq->num_rows))
		return ferr(pq, err, TS_ERR_INVALID, "damaged footer: the row groups hold %lld rows, the file says %lld",
			    (long long)total, (long long)pq->num_rows);
	return TS_OK;
}

/* ---- open / close ---- */

static int open_common(struct ts_pq *pq, const struct ts_pq_limits *limits, struct ts_err *err)
{
	const uint8_t *p;
	uint8_t *own = NULL;
	int rc;

	pq->lim.max_page_bytes = limits && limits->max_page_bytes ? limits->max_page_bytes : 256ULL << 20;
	pq->lim.max_group_values = limits && limits->max_group_values ? limits->max_group_values : 64ULL << 20;
	pq->lim.max_footer_bytes = limits && limits->max_footer_bytes ? limits->max_footer_bytes : 64ULL << 20;
	if (pq->size < 12)
		return ferr(pq, err, TS_ERR_INVALID, "not a parquet file (%llu bytes, too short)",
			    (unsigned long long)pq->size);
	if ((rc = read_range(pq, 0, 4, &p, &own, err)))
		return rc;
	int head_ok = !memcmp(p, "PAR1", 4);
	free(own);
	if ((rc = read_range(pq, pq->size - 8, 8, &p, &own, err)))
		return rc;
	uint32_t flen = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	int enc = !memcmp(p + 4, "PARE", 4), tail_ok = !memcmp(p + 4, "PAR1", 4);
	free(own);
	if (enc)
		return ferr(pq, err, TS_ERR_UNSUPPORTED, "encrypted parquet files are not supported");
	if (!head_ok || !tail_ok)
		return ferr(pq, err, TS_ERR_INVALID, "not a parquet file (no PAR1 magic at the %s)",
			    !head_ok ? "start" : "end; truncated?");
	if (flen > pq->size - 12)
		return ferr(pq, err, TS_ERR_INVALID, "footer length %u is larger than the file; truncated?", flen);
	if (flen > pq->lim.max_footer_bytes)
		return ferr(pq, err, TS_ERR_LIMIT, "footer of %u bytes is over the limit of %llu", flen,
			    (unsigned long long)pq->lim.max_footer_bytes);
	if ((rc = read_range(pq, pq->size - 8 - flen, flen, &p, &own, err)))
		return rc;
	rc = parse_footer(pq, p, flen, err);
	free(own);
	if (rc)
		return rc;
	if ((rc = build_schema(pq, err)) || (rc = check_groups(pq, err)))
		return rc;
	return TS_OK;
}

static struct ts_pq *pq_new(const char *name)
{
	struct ts_pq *pq = calloc(1, sizeof(*pq));
	if (!pq)
		return NULL;
	pq->fd = -1;
	if (!(pq->name = strdup(name))) {
		free(pq);
		return NULL;
	}
	return pq;
}

int ts_pq_open(struct ts_pq **out, const char *path, const struct ts_pq_limits *limits,
	       struct ts_err *err)
{
	struct stat st;
	struct ts_pq *pq = pq_new(path);
	int rc;
	*out = NULL;
	if (!pq)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if ((pq->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(pq->fd, &st)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': not a regular file", path);
		goto fail;
	}
	pq->size = (uint64_t)st.st_size;
	if ((rc = open_common(pq, limits, err)))
		goto fail;
	*out = pq;
	return TS_OK;
fail:
	ts_pq_close(pq);
	return rc;
}

int ts_pq_open_mem(struct ts_pq **out, const char *name, const uint8_t *data, size_t len,
		   const struct ts_pq_limits *limits, struct ts_err *err)
{
	struct ts_pq *pq = pq_new(name);
	int rc;
	*out = NULL;
	if (!pq)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	pq->mem = data ? data : (const uint8_t *)"";
	pq->size = len;
	if ((rc = open_common(pq, limits, err))) {
		ts_pq_close(pq);
		return rc;
	}
	*out = pq;
	return TS_OK;
}

static void col_reset(struct pq_col *c)
{
	for (size_t i = 0; i < c->nbufs; i++)
		free(c->bufs[i]);
	c->nbufs = 0;
	c->nvals = c->nlev = 0;
	c->ndict = 0;
	free(c->dict);
	c->dict = NULL;
	free(c->row_off);
	c->row_off = NULL;
	free(c->row_vi);
	c->row_vi = NULL;
}

static void free_sel(struct ts_pq *pq)
{
	for (size_t i = 0; i < pq->nsel; i++) {
		struct pq_col *c = &pq->sel[i];
		col_reset(c);
		free(c->bufs);
		free(c->vals);
		free(c->def);
		free(c->rep);
	}
	free(pq->sel);
	pq->sel = NULL;
	pq->nsel = 0;
}

void ts_pq_close(struct ts_pq *pq)
{
	if (!pq)
		return;
	free_sel(pq);
	if (pq->fd >= 0)
		close(pq->fd);
	for (size_t i = 0; i < pq->nelems; i++)
		free(pq->elems[i].name);
	free(pq->elems);
	for (size_t i = 0; i < pq->nfields; i++)
		free(pq->fields[i].desc);
	free(pq->fields);
	for (size_t g = 0; g < pq->ngroups; g++)
		free(pq->groups[g].cols);
	free(pq->groups);
	free(pq->scratch);
	free(pq->created_by);
	free(pq->name);
	ZSTD_freeDCtx(pq->zstd);
	free(pq);
}

size_t ts_pq_nfields(const struct ts_pq *pq) { return pq->nfields; }
int64_t ts_pq_num_rows(const struct ts_pq *pq) { return pq->num_rows; }
size_t ts_pq_num_groups(const struct ts_pq *pq) { return pq->ngroups; }
const char *ts_pq_created_by(const struct ts_pq *pq) { return pq->created_by ? pq->created_by : ""; }

const struct ts_pq_field *ts_pq_field_at(const struct ts_pq *pq, size_t i)
{
	return i < pq->nfields ? &pq->fields[i].pub : NULL;
}

int ts_pq_find(const struct ts_pq *pq, const char *name)
{
	for (size_t i = 0; i < pq->nfields; i++)
		if (!strcmp(pq->fields[i].pub.name, name))
			return (int)i;
	return -1;
}

const char *ts_pq_codec_name(const struct ts_pq *pq, size_t i)
{
	if (i >= pq->nfields || !pq->ngroups)
		return "-";
	return codec_name(pq->groups[0].cols[pq->fields[i].leaf].codec);
}

int ts_pq_select(struct ts_pq *pq, const int *fields, size_t n, struct ts_err *err)
{
	free_sel(pq);
	pq->next_group = 0;
	pq->cur_rows = 0;
	for (size_t i = 0; i < n; i++) {
		if (fields[i] < 0 || (size_t)fields[i] >= pq->nfields)
			return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "no column %d in '%s'", fields[i], pq->name);
		const struct field *f = &pq->fields[fields[i]];
		if (f->pub.unsupported)
			return ferr(pq, err, TS_ERR_UNSUPPORTED, "column '%s': %s are not supported",
				    f->pub.name, f->pub.unsupported);
	}
	if (n && !(pq->sel = calloc(n, sizeof(*pq->sel))))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	pq->nsel = n;
	for (size_t i = 0; i < n; i++)
		pq->sel[i].f = &pq->fields[fields[i]];
	return TS_OK;
}

/* ---- decoding ---- */

static int keep_buf(struct pq_col *c, uint8_t *b)
{
	if (TS_ALLOC_GROW(c->bufs, c->bufcap, c->nbufs + 1))
		return -1;
	c->bufs[c->nbufs++] = b;
	return 0;
}

static uint32_t *scratch(struct ts_pq *pq, size_t n)
{
	if (n == 0)
		n = 1;
	if (TS_ALLOC_GROW(pq->scratch, pq->scratch_cap, n))
		return NULL;
	return pq->scratch;
}

/* The RLE/bit-packed hybrid: count values of bit width bw from p[0..len)
 * into out.  Returns 0, or -1 when the data ends early or is malformed. */
static int hybrid(const uint8_t *p, size_t len, int bw, size_t count, uint32_t *out)
{
	const uint8_t *end = p + len;
	size_t done = 0;
	unsigned vbytes = (unsigned)(bw + 7) / 8;
	uint32_t mask = bw >= 32 ? 0xffffffffu : ((1u << bw) - 1);
	while (done < count) {
		uint64_t h = 0;
		int shift = 0;
		for (;;) {
			if (p >= end || shift > 35)
				return -1;
			uint8_t b = *p++;
			h |= (uint64_t)(b & 0x7f) << shift;
			shift += 7;
			if (!(b & 0x80))
				break;
		}
		if (h & 1) {
			uint64_t nv = (h >> 1) * 8;
			size_t take = nv < count - done ? (size_t)nv : count - done;
			uint64_t need = ((uint64_t)take * (uint64_t)bw + 7) / 8;
			if (need > (uint64_t)(end - p))
				return -1;
			if (bw == 0) {
				memset(out + done, 0, take * sizeof(*out));
			} else {
				for (size_t i = 0; i < take; i++) {
					uint64_t bit = (uint64_t)i * (uint64_t)bw;
					const uint8_t *q = p + bit / 8;
					uint64_t w = 0;
					size_t avail = (size_t)(end - q);
					if (avail >= 8)
						memcpy(&w, q, 8);   /* little-endian hosts (x86-64, arm64) */
					else
						for (size_t k = 0; k < avail; k++)
							w |= (uint64_t)q[k] << (8 * k);
					out[done + i] = (uint32_t)(w >> (bit % 8)) & mask;
				}
			}
			done += take;
			uint64_t full = (h >> 1) * (uint64_t)bw;
			p += full > (uint64_t)(end - p) ? (size_t)(end - p) : (size_t)full;
		} else {
			uint64_t run = h >> 1;
			if (vbytes > (size_t)(end - p))
				return -1;
			uint32_t v = 0;
			for (unsigned k = 0; k < vbytes; k++)
				v |= (uint32_t)p[k] << (8 * k);
			p += vbytes;
			if (v & ~mask)
				return -1;
			size_t take = run < count - done ? (size_t)run : count - done;
			for (size_t i = 0; i < take; i++)
				out[done + i] = v;
			done += take;
		}
	}
	return 0;
}

static int bit_width(int max)
{
	int w = 0;
	while (max >> w)
		w++;
	return w;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* PLAIN values of the field's type: n values from p[0..len) into out. */
static int plain(const struct cctx *c, const uint8_t *p, size_t len, size_t n, struct val *out,
		 struct ts_err *err)
{
	const struct field *f = c->f;
	size_t w;
	switch (f->pub.type) {
	case TS_PQ_BOOLEAN:
		if (n > len * 8)
			return cerr(c, err, TS_ERR_INVALID, "%zu booleans in %zu bytes", n, len);
		for (size_t i = 0; i < n; i++) {
			out[i].u.i = (p[i / 8] >> (i % 8)) & 1;
			out[i].null = 0;
		}
		return TS_OK;
	case TS_PQ_INT32:
	case TS_PQ_FLOAT:
		w = 4;
		break;
	case TS_PQ_INT64:
	case TS_PQ_DOUBLE:
		w = 8;
		break;
	case TS_PQ_BYTE_ARRAY: {
		const uint8_t *e = p + len;
		for (size_t i = 0; i < n; i++) {
			if (e - p < 4)
				return cerr(c, err, TS_ERR_INVALID, "value %zu of %zu runs past the page", i, n);
			uint32_t l = rd32(p);
			p += 4;
			if (l > (size_t)(e - p))
				return cerr(c, err, TS_ERR_INVALID, "value %zu has length %u, past the page", i, l);
			out[i].u.s = p;
			out[i].len = l;
			out[i].null = 0;
			p += l;
		}
		return TS_OK;
	}
	case TS_PQ_FIXED_LEN_BYTE_ARRAY:
		w = (size_t)f->pub.type_length;
		if (w && n > len / w)
			return cerr(c, err, TS_ERR_INVALID, "%zu values of %zu bytes in %zu bytes", n, w, len);
		for (size_t i = 0; i < n; i++) {
			out[i].u.s = p + i * w;
			out[i].len = (uint32_t)w;
			out[i].null = 0;
		}
		return TS_OK;
	default:
		return cerr(c, err, TS_ERR_UNSUPPORTED, "physical type %d is not supported", f->pub.type);
	}
	if (n > len / w)
		return cerr(c, err, TS_ERR_INVALID, "%zu values of %zu bytes in %zu bytes", n, w, len);
	for (size_t i = 0; i < n; i++, p += w) {
		out[i].null = 0;
		if (f->pub.type == TS_PQ_INT32) {
			uint32_t v = rd32(p);
			out[i].u.i = f->is_unsigned ? (int64_t)v : (int64_t)(int32_t)v;
		} else if (f->pub.type == TS_PQ_INT64) {
			uint64_t v = (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
			out[i].u.i = (int64_t)v;
		} else if (f->pub.type == TS_PQ_FLOAT) {
			uint32_t v = rd32(p);
			float x;
			memcpy(&x, &v, 4);
			out[i].u.d = x;
		} else {
			uint64_t v = (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
			double x;
			memcpy(&x, &v, 8);
			out[i].u.d = x;
		}
	}
	return TS_OK;
}

/* Decompress a page body into a new buffer of exactly usize bytes. */
static int decompress(const struct cctx *cx, int codec, const uint8_t *src, size_t slen,
		      size_t usize, uint8_t **out, struct ts_err *err)
{
	uint8_t *d = malloc(usize ? usize : 1);
	*out = NULL;
	if (!d)
		return cerr(cx, err, TS_ERR_NOMEM, "out of memory for a page of %zu bytes", usize);
	if (codec == CODEC_SNAPPY) {
		size_t n;
		if (snappy_uncompressed_length((const char *)src, slen, &n) != SNAPPY_OK) {
			free(d);
			return cerr(cx, err, TS_ERR_INVALID, "snappy data is corrupt");
		}
		if (n != usize) {
			free(d);
			return cerr(cx, err, TS_ERR_INVALID, "snappy data decompresses to %zu bytes, the page header says %zu",
				    n, usize);
		}
		if (snappy_uncompress((const char *)src, slen, (char *)d, &n) != SNAPPY_OK || n != usize) {
			free(d);
			return cerr(cx, err, TS_ERR_INVALID, "snappy data is corrupt");
		}
	} else if (codec == CODEC_GZIP) {
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, 15 + 32) != Z_OK) {
			free(d);
			return cerr(cx, err, TS_ERR_NOMEM, "cannot start zlib");
		}
		z.next_in = (Bytef *)src;
		z.avail_in = (uInt)slen;
		z.next_out = d;
		z.avail_out = (uInt)usize;
		int zr = inflate(&z, Z_FINISH);
		size_t got = z.total_out;
		/* more output than claimed? */
		uint8_t extra;
		if (zr == Z_BUF_ERROR && z.avail_out == 0) {
			z.next_out = &extra;
			z.avail_out = 1;
			zr = inflate(&z, Z_FINISH);
			if (z.avail_out == 0)
				got = usize + 1;
		}
		inflateEnd(&z);
		if (got != usize || zr != Z_STREAM_END) {
			free(d);
			if (zr == Z_STREAM_END || got > usize)
				return cerr(cx, err, TS_ERR_INVALID, "gzip data decompresses to %s%zu bytes, the page header says %zu",
					    got > usize ? "more than " : "", got > usize ? usize : got, usize);
			return cerr(cx, err, TS_ERR_INVALID, "gzip data is corrupt or truncated");
		}
	} else if (codec == CODEC_ZSTD) {
		if (!cx->pq->zstd && !(cx->pq->zstd = ZSTD_createDCtx())) {
			free(d);
			return cerr(cx, err, TS_ERR_NOMEM, "cannot start zstd");
		}
		size_t r = ZSTD_decompressDCtx(cx->pq->zstd, d, usize, src, slen);
		if (ZSTD_isError(r)) {
			free(d);
			if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
				return cerr(cx, err, TS_ERR_INVALID, "zstd data decompresses to more than the %zu bytes the page header says",
					    usize);
			return cerr(cx, err, TS_ERR_INVALID, "zstd data is corrupt: %s", ZSTD_getErrorName(r));
		}
		if (r != usize) {
			free(d);
			return cerr(cx, err, TS_ERR_INVALID, "zstd data decompresses to %zu bytes, the page header says %zu",
				    r, usize);
		}
	} else {
		free(d);
		return cerr(cx, err, TS_ERR_UNSUPPORTED, "the %s codec is not supported", codec_name(codec));
	}
	*out = d;
	return TS_OK;
}

struct page_hdr {
	int type;
	int32_t usize, csize;
	int32_t nvals, enc, def_enc, rep_enc;     /* v1 and dictionary */
	int32_t nnulls, nrows, def_len, rep_len;  /* v2 */
	int is_compressed;
	int have_sub;
};

static void parse_sub(struct ts_tc *t, struct page_hdr *h, int kind)
{
	int16_t last = 0, id;
	int ty;
	if (ts_tc_enter(t))
		return;
	h->have_sub = 1;
	while (ts_tc_field(t, &last, &ty, &id)) {
		if (ty == TS_TC_I32) {
			int32_t v = ts_tc_i32(t);
			if (id == 1)
				h->nvals = v;
			else if (kind == 1 && id == 2)  /* v1 */
				h->enc = v;
			else if (kind == 1 && id == 3)
				h->def_enc = v;
			else if (kind == 1 && id == 4)
				h->rep_enc = v;
			else if (kind == 2 && id == 2)  /* dictionary */
				h->enc = v;
			else if (kind == 3 && id == 2)  /* v2 */
				h->nnulls = v;
			else if (kind == 3 && id == 3)
				h->nrows = v;
			else if (kind == 3 && id == 4)
				h->enc = v;
			else if (kind == 3 && id == 5)
				h->def_len = v;
			else if (kind == 3 && id == 6)
				h->rep_len = v;
		} else if (kind == 3 && id == 7 && (ty == TS_TC_TRUE || ty == TS_TC_FALSE)) {
			h->is_compressed = ty == TS_TC_TRUE;
		} else {
			ts_tc_skip(t, ty);
		}
	}
	ts_tc_leave(t);
}

static int parse_page_hdr(const uint8_t *p, size_t len, struct page_hdr *h, size_t *used, const char **why)
{
	struct ts_tc t;
	int16_t last = 0, id;
	int ty, have_type = 0, have_u = 0, have_c = 0;
	memset(h, 0, sizeof(*h));
	h->is_compressed = 1;
	ts_tc_init(&t, p, len);
	while (ts_tc_field(&t, &last, &ty, &id)) {
		if (id == 1 && ty == TS_TC_I32) {
			h->type = ts_tc_i32(&t);
			have_type = 1;
		} else if (id == 2 && ty == TS_TC_I32) {
			h->usize = ts_tc_i32(&t);
			have_u = 1;
		} else if (id == 3 && ty == TS_TC_I32) {
			h->csize = ts_tc_i32(&t);
			have_c = 1;
		} else if (id == 5 && ty == TS_TC_STRUCT && h->type == PAGE_DATA) {
			parse_sub(&t, h, 1);
		} else if (id == 7 && ty == TS_TC_STRUCT && h->type == PAGE_DICT) {
			parse_sub(&t, h, 2);
		} else if (id == 8 && ty == TS_TC_STRUCT && h->type == PAGE_DATA_V2) {
			parse_sub(&t, h, 3);
		} else {
			ts_tc_skip(&t, ty);
		}
	}
	if (t.bad) {
		*why = t.why;
		return -1;
	}
	if (!have_type || !have_u || !have_c) {
		*why = "a required field is missing";
		return -1;
	}
	*used = ts_tc_used(&t, p);
	return 0;
}

static int grow_vals(struct pq_col *c, size_t need)
{
	if (need == 0)
		need = 1;   /* never a NULL array to point into */
	return TS_ALLOC_GROW(c->vals, c->valcap, need) ? -1 : 0;
}

static int grow_levels(struct pq_col *c, size_t need)
{
	if (need == 0)
		need = 1;
	/* def and rep grow together: levcap is the capacity of both */
	size_t a = c->levcap;
	if (TS_ALLOC_GROW(c->def, a, need))
		return -1;
	a = c->levcap;
	if (TS_ALLOC_GROW(c->rep, a, need))
		return -1;
	c->levcap = a;
	return 0;
}

/* Levels (RLE hybrid, bw for max) of n entries into lv; p/len the encoded bytes. */
static int levels(struct cctx *cx, const uint8_t *p, size_t len, int max, size_t n, uint8_t *lv,
		  const char *what, struct ts_err *err)
{
	uint32_t *s = scratch(cx->pq, n);
	if (!s)
		return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
	if (hybrid(p, len, bit_width(max), n, s))
		return cerr(cx, err, TS_ERR_INVALID, "%s levels are corrupt or end early", what);
	for (size_t i = 0; i < n; i++) {
		if (s[i] > (uint32_t)max)
			return cerr(cx, err, TS_ERR_INVALID, "%s level %u is above the maximum %d", what, s[i], max);
		lv[i] = (uint8_t)s[i];
	}
	return TS_OK;
}

/* Decode the nn non-null values of a data page from p[0..len) into out. */
static int page_values(struct cctx *cx, struct pq_col *c, int enc, const uint8_t *p, size_t len,
		       size_t nn, struct val *out, struct ts_err *err)
{
	if (enc == ENC_PLAIN)
		return plain(cx, p, len, nn, out, err);
	if (enc == ENC_PLAIN_DICT || enc == ENC_RLE_DICT) {
		if (!c->dict)
			return cerr(cx, err, TS_ERR_INVALID, "dictionary-encoded page without a dictionary page");
		if (nn == 0)
			return TS_OK;
		if (len < 1)
			return cerr(cx, err, TS_ERR_INVALID, "dictionary-encoded page is empty");
		int bw = p[0];
		if (bw > 32)
			return cerr(cx, err, TS_ERR_INVALID, "dictionary index width %d is over 32", bw);
		uint32_t *s = scratch(cx->pq, nn);
		if (!s)
			return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
		if (hybrid(p + 1, len - 1, bw, nn, s))
			return cerr(cx, err, TS_ERR_INVALID, "dictionary indices are corrupt or end early");
		for (size_t i = 0; i < nn; i++) {
			if (s[i] >= c->ndict)
				return cerr(cx, err, TS_ERR_INVALID, "dictionary index %u is out of range (%zu entries)",
					    s[i], c->ndict);
			out[i] = c->dict[s[i]];
		}
		return TS_OK;
	}
	if (enc == ENC_RLE && c->f->pub.type == TS_PQ_BOOLEAN) {
		if (len < 4 || rd32(p) > len - 4)
			return cerr(cx, err, TS_ERR_INVALID, "RLE boolean values: bad length prefix");
		uint32_t *s = scratch(cx->pq, nn);
		if (!s)
			return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
		if (hybrid(p + 4, rd32(p), 1, nn, s))
			return cerr(cx, err, TS_ERR_INVALID, "RLE boolean values are corrupt or end early");
		for (size_t i = 0; i < nn; i++) {
			out[i].u.i = s[i];
			out[i].len = 0;
			out[i].null = 0;
		}
		return TS_OK;
	}
	return cerr(cx, err, TS_ERR_UNSUPPORTED, "the %s encoding is not supported", encoding_name(enc));
}

/* One data page (v1 or v2) already checked to lie in the chunk. */
static int data_page(struct cctx *cx, struct pq_col *c, const struct page_hdr *h, int codec,
		     const uint8_t *body, size_t rows_cap, size_t *entries, struct ts_err *err)
{
	struct field *f = c->f;
	size_t n = (size_t)h->nvals;
	const uint8_t *p, *data = NULL;
	size_t len;
	uint8_t *dec = NULL;
	int rc;
	int nested = f->max_rep > 0;

	if (h->nvals < 0)
		return cerr(cx, err, TS_ERR_INVALID, "negative value count");
	if (n > rows_cap - *entries)
		return cerr(cx, err, TS_ERR_INVALID, "pages hold more values than the column chunk's %zu", rows_cap);

	/* the levels and the values section of the page */
	const uint8_t *rep_p = NULL, *def_p = NULL;
	size_t rep_n = 0, def_n = 0;
	if (h->type == PAGE_DATA_V2) {
		if (h->def_len < 0 || h->rep_len < 0 ||
		    (int64_t)h->def_len + h->rep_len > h->csize ||
		    (int64_t)h->def_len + h->rep_len > h->usize)
			return cerr(cx, err, TS_ERR_INVALID, "level lengths %d+%d exceed the page", h->rep_len, h->def_len);
		rep_p = body;
		rep_n = (size_t)h->rep_len;
		def_p = body + rep_n;
		def_n = (size_t)h->def_len;
		size_t off = rep_n + def_n;
		size_t vlen = (size_t)h->csize - off, ulen = (size_t)h->usize - off;
		if (codec != CODEC_NONE && h->is_compressed) {
			if ((rc = decompress(cx, codec, body + off, vlen, ulen, &dec, err)))
				return rc;
			if (keep_buf(c, dec)) {
				return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
			}
			data = dec;
			len = ulen;
		} else {
			if (vlen != ulen)
				return cerr(cx, err, TS_ERR_INVALID, "uncompressed page is %zu bytes, its header says %zu",
					    vlen, ulen);
			data = body + off;
			len = vlen;
		}
		if (h->nnulls < 0 || h->nnulls > h->nvals)
			return cerr(cx, err, TS_ERR_INVALID, "null count %d out of range", h->nnulls);
	} else {
		if (codec != CODEC_NONE) {
			if ((rc = decompress(cx, codec, body, (size_t)h->csize, (size_t)h->usize, &dec, err)))
				return rc;
			if (keep_buf(c, dec)) {
				return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
			}
			p = dec;
		} else {
			if (h->csize != h->usize)
				return cerr(cx, err, TS_ERR_INVALID, "uncompressed page is %d bytes, its header says %d",
					    h->csize, h->usize);
			p = body;
		}
		len = (size_t)h->usize;
		const uint8_t *e = p + len;
		if (f->max_rep > 0) {
			if (h->rep_enc != ENC_RLE) {
				return cerr(cx, err, TS_ERR_UNSUPPORTED, "repetition levels in the %s encoding are not supported",
					    encoding_name(h->rep_enc));
			}
			if (e - p < 4 || rd32(p) > (size_t)(e - p) - 4) {
				return cerr(cx, err, TS_ERR_INVALID, "repetition levels run past the page");
			}
			rep_n = rd32(p);
			rep_p = p + 4;
			p += 4 + rep_n;
		}
		if (f->max_def > 0) {
			if (h->def_enc != ENC_RLE) {
				return cerr(cx, err, TS_ERR_UNSUPPORTED, "definition levels in the %s encoding are not supported",
					    encoding_name(h->def_enc));
			}
			if (e - p < 4 || rd32(p) > (size_t)(e - p) - 4) {
				return cerr(cx, err, TS_ERR_INVALID, "definition levels run past the page");
			}
			def_n = rd32(p);
			def_p = p + 4;
			p += 4 + def_n;
		}
		data = p;
		len = (size_t)(e - p);
	}

	/* levels */
	uint8_t *def, *rep = NULL;
	uint8_t *tmpdef = NULL;
	if (nested) {
		if (grow_levels(c, c->nlev + n))
			return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
		def = c->def + c->nlev;
		rep = c->rep + c->nlev;
		if ((rc = levels(cx, rep_p, rep_n, f->max_rep, n, rep, "repetition", err)))
			return rc;
		if (c->nlev == 0 && n && rep[0] != 0)
			return cerr(cx, err, TS_ERR_INVALID, "the first repetition level is not 0");
	} else {
		if (!(tmpdef = malloc(n ? n : 1)))
			return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
		def = tmpdef;
	}
	size_t nn = n;
	if (f->max_def > 0) {
		if ((rc = levels(cx, def_p, def_n, f->max_def, n, def, "definition", err))) {
			free(tmpdef);
			return rc;
		}
		nn = 0;
		for (size_t i = 0; i < n; i++)
			nn += def[i] == f->max_def;
	} else {
		memset(def, 0, n);
	}
	if (h->type == PAGE_DATA_V2 && !nested && (size_t)h->nnulls != n - nn) {
		free(tmpdef);
		return cerr(cx, err, TS_ERR_INVALID, "the page header says %d nulls, its levels %zu", h->nnulls, n - nn);
	}

	/* values: flat columns one slot per row (nulls spread in), nested the non-null leaves */
	size_t base = c->nvals;
	if (grow_vals(c, base + (nested ? nn : n))) {
		free(tmpdef);
		return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
	}
	if ((rc = page_values(cx, c, h->enc, data, len, nn, c->vals + base, err))) {
		free(tmpdef);
		return rc;
	}
	if (!nested) {
		if (nn < n) {
			size_t k = nn;
			for (size_t i = n; i-- > 0;) {
				if (def[i] == f->max_def)
					c->vals[base + i] = c->vals[base + --k];
				else {
					memset(&c->vals[base + i], 0, sizeof(c->vals[0]));
					c->vals[base + i].null = 1;
				}
			}
		}
		c->nvals = base + n;
	} else {
		c->nvals = base + nn;
		c->nlev += n;
	}
	free(tmpdef);
	*entries += n;
	return TS_OK;
}

static int dict_page(struct cctx *cx, struct pq_col *c, const struct page_hdr *h, int codec,
		     const uint8_t *body, struct ts_err *err)
{
	uint8_t *dec = NULL;
	const uint8_t *p = body;
	int rc;
	if (c->dict)
		return cerr(cx, err, TS_ERR_INVALID, "a second dictionary page");
	if (h->enc != ENC_PLAIN && h->enc != ENC_PLAIN_DICT)
		return cerr(cx, err, TS_ERR_UNSUPPORTED, "a dictionary in the %s encoding is not supported",
			    encoding_name(h->enc));
	if (h->nvals < 0)
		return cerr(cx, err, TS_ERR_INVALID, "negative dictionary size");
	if (c->f->pub.type == TS_PQ_BOOLEAN)
		return cerr(cx, err, TS_ERR_INVALID, "a dictionary for a boolean column");
	/* every entry takes at least one byte (four for a BYTE_ARRAY length) */
	if (c->f->pub.type != TS_PQ_FIXED_LEN_BYTE_ARRAY || c->f->pub.type_length > 0) {
		if ((size_t)h->nvals > (size_t)h->usize)
			return cerr(cx, err, TS_ERR_INVALID, "dictionary of %d entries in %d bytes", h->nvals, h->usize);
	} else if ((uint64_t)h->nvals > cx->pq->lim.max_group_values) {
		return cerr(cx, err, TS_ERR_LIMIT, "dictionary of %d entries", h->nvals);
	}
	if (codec != CODEC_NONE) {
		if ((rc = decompress(cx, codec, body, (size_t)h->csize, (size_t)h->usize, &dec, err)))
			return rc;
		if (keep_buf(c, dec)) {
			free(dec);
			return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
		}
		p = dec;
	} else if (h->csize != h->usize) {
		return cerr(cx, err, TS_ERR_INVALID, "uncompressed dictionary is %d bytes, its header says %d",
			    h->csize, h->usize);
	}
	if (!(c->dict = malloc(((size_t)h->nvals ? (size_t)h->nvals : 1) * sizeof(*c->dict))))
		return cerr(cx, err, TS_ERR_NOMEM, "out of memory");
	c->ndict = (size_t)h->nvals;
	return plain(cx, p, (size_t)h->usize, c->ndict, c->dict, err);
}

/* A read window over one column chunk [base, base+total) of the file, so
 * a chunk is never read whole: pages come through it one at a time. */
struct win {
	struct ts_pq *pq;
	uint64_t base;
	size_t total;
	uint8_t *buf;
	size_t off, len, cap;
};

#define WIN_MIN (1u << 20)

/* *out = the bytes [pos, pos+len) of the chunk (the caller checked that
 * they lie inside it), valid until the next call. */
static int win_get(struct win *w, const struct cctx *cx, size_t pos, size_t len, const uint8_t **out,
		   struct ts_err *err)
{
	if (w->pq->mem) {
		*out = w->pq->mem + w->base + pos;
		return TS_OK;
	}
	if (w->buf && pos >= w->off && pos + len <= w->off + w->len) {
		*out = w->buf + (pos - w->off);
		return TS_OK;
	}
	size_t want = len < WIN_MIN ? WIN_MIN : len;
	if (want > w->total - pos)
		want = w->total - pos;
	if (want > w->cap) {
		uint8_t *nb = realloc(w->buf, want ? want : 1);
		if (!nb)
			return cerr(cx, err, TS_ERR_NOMEM, "out of memory for %zu bytes", want);
		w->buf = nb;
		w->cap = want;
	}
	w->len = 0;
	int rc = read_exact(w->pq, w->base + pos, want, w->buf, err);
	if (rc)
		return rc;
	w->off = pos;
	w->len = want;
	*out = w->buf;
	return TS_OK;
}

static int read_column(struct ts_pq *pq, struct pq_col *c, size_t g, struct ts_err *err)
{
	const struct group *gr = &pq->groups[g];
	const struct chunk *ch = &gr->cols[c->f->leaf];
	struct cctx cx = { pq, c->f, g, -1 };
	int rc;

	col_reset(c);
	if (ch->encrypted || pq->encrypted_footer_algo)
		return cerr(&cx, err, TS_ERR_UNSUPPORTED, "encrypted columns are not supported");
	if (ch->external)
		return cerr(&cx, err, TS_ERR_UNSUPPORTED, "column data in another file is not supported");
	if (!ch->has_meta)
		return cerr(&cx, err, TS_ERR_INVALID, "the footer has no metadata for this column chunk");
	if (ch->type != (int)c->f->pub.type)
		return cerr(&cx, err, TS_ERR_INVALID, "chunk type %d is not the schema's %d", ch->type, c->f->pub.type);
	if (ch->codec != CODEC_NONE && ch->codec != CODEC_SNAPPY && ch->codec != CODEC_GZIP &&
	    ch->codec != CODEC_ZSTD)
		return cerr(&cx, err, TS_ERR_UNSUPPORTED, "the %s codec is not supported", codec_name(ch->codec));
	if (ch->num_values < 0 || (uint64_t)ch->num_values > pq->lim.max_group_values)
		return cerr(&cx, err, ch->num_values < 0 ? TS_ERR_INVALID : TS_ERR_LIMIT,
			    "column chunk holds %lld values (limit %llu)", (long long)ch->num_values,
			    (unsigned long long)pq->lim.max_group_values);
	if (c->f->max_rep == 0 && ch->num_values != gr->num_rows)
		return cerr(&cx, err, TS_ERR_INVALID, "column chunk holds %lld values for %lld rows",
			    (long long)ch->num_values, (long long)gr->num_rows);
	int64_t start = ch->data_off;
	if (ch->dict_off > 0 && ch->dict_off < start)
		start = ch->dict_off;
	if (start < 4 || ch->comp_size < 0 || (uint64_t)start >= pq->size - 8 ||
	    (uint64_t)ch->comp_size > pq->size - 8 - (uint64_t)start)
		return cerr(&cx, err, TS_ERR_INVALID, "column chunk at %lld+%lld lies outside the file (%llu bytes)",
			    (long long)start, (long long)ch->comp_size, (unsigned long long)pq->size);
	struct win w = { pq, (uint64_t)start, (size_t)ch->comp_size, NULL, 0, 0, 0 };
	size_t cap = (size_t)ch->num_values, entries = 0, pos = 0, total = (size_t)ch->comp_size;
	rc = TS_OK;
	while (entries < cap) {
		struct page_hdr h;
		size_t used = 0;
		const char *why = NULL;
		const uint8_t *hb;
		cx.page_off = start + (int64_t)pos;
		if (pos >= total) {
			rc = cerr(&cx, err, TS_ERR_INVALID, "the column chunk ends after %zu of %zu values", entries, cap);
			break;
		}
		/* a header is small, but statistics can make it long: try a
		 * larger window when it does not parse */
		size_t hl = 64 * 1024;
		for (;;) {
			if (hl > total - pos)
				hl = total - pos;
			if ((rc = win_get(&w, &cx, pos, hl, &hb, err)))
				break;
			if (!parse_page_hdr(hb, hl, &h, &used, &why))
				break;
			if (hl == total - pos || hl >= pq->lim.max_page_bytes) {
				rc = cerr(&cx, err, TS_ERR_INVALID, "damaged page header: %s", why ? why : "bad Thrift data");
				break;
			}
			hl *= 8;
		}
		if (rc)
			break;
		pos += used;
		if (h.csize < 0 || h.usize < 0 || (size_t)h.csize > total - pos) {
			rc = cerr(&cx, err, TS_ERR_INVALID, "page of %d bytes runs past the column chunk", h.csize);
			break;
		}
		if ((uint64_t)h.usize > pq->lim.max_page_bytes || (uint64_t)h.csize > pq->lim.max_page_bytes) {
			rc = cerr(&cx, err, TS_ERR_LIMIT, "page of %d bytes is over the limit of %llu", h.usize,
				  (unsigned long long)pq->lim.max_page_bytes);
			break;
		}
		if (h.type != PAGE_DICT && h.type != PAGE_DATA && h.type != PAGE_DATA_V2) {
			if (h.type != PAGE_INDEX) {
				rc = cerr(&cx, err, TS_ERR_UNSUPPORTED, "page type %d is not supported", h.type);
				break;
			}
			pos += (size_t)h.csize;
			continue;
		}
		if (!h.have_sub) {
			rc = cerr(&cx, err, TS_ERR_INVALID, "%s page without its header",
				  h.type == PAGE_DICT ? "dictionary" : "data");
			break;
		}
		/* values of a stored (not compressed) page point into its bytes,
		 * so those bytes are kept with the column; a compressed body is
		 * only read through the window */
		const uint8_t *body;
		int stored = ch->codec == CODEC_NONE || (h.type == PAGE_DATA_V2 && !h.is_compressed);
		if (stored && !pq->mem) {
			uint8_t *own = malloc(h.csize ? (size_t)h.csize : 1);
			if (!own || keep_buf(c, own)) {
				free(own);
				rc = cerr(&cx, err, TS_ERR_NOMEM, "out of memory");
				break;
			}
			if ((rc = read_exact(pq, w.base + pos, (size_t)h.csize, own, err)))
				break;
			body = own;
		} else if ((rc = win_get(&w, &cx, pos, (size_t)h.csize, &body, err))) {
			break;
		}
		if (h.type == PAGE_DICT) {
			if (entries) {
				rc = cerr(&cx, err, TS_ERR_INVALID, "dictionary page after data pages");
				break;
			}
			if ((rc = dict_page(&cx, c, &h, ch->codec, body, err)))
				break;
		} else if ((rc = data_page(&cx, c, &h, ch->codec, body, cap, &entries, err))) {
			break;
		}
		pos += (size_t)h.csize;
	}
	free(w.buf);
	if (rc)
		return rc;
	cx.page_off = -1;

	/* rows of a nested column: where each rep level 0 starts; the levels
	 * must describe a well-formed nesting (checked here, so assembling
	 * JSON later can trust them) */
	if (c->f->max_rep > 0) {
		const struct field *f = c->f;
		size_t rows = 0, vi = 0;
		int live = 0;   /* deepest list level with an open array */
		if (c->nlev > UINT32_MAX)
			return cerr(&cx, err, TS_ERR_LIMIT, "too many values");
		for (size_t i = 0; i < c->nlev; i++) {
			int r = c->rep[i], d = c->def[i];
			if (r == 0)
				live = 0, rows++;
			if (r > live || (r > 0 && d < f->dr[r]))
				return cerr(&cx, err, TS_ERR_INVALID,
					    "levels (repetition %d, definition %d) at value %zu continue a list that is not open",
					    r, d, i);
			int k;
			for (k = r + 1; k <= f->max_rep; k++) {
				if (d < f->dr[k])
					break;
				live = k;
			}
			if (k <= f->max_rep)
				live = k - 1;
		}
		if (rows != (size_t)gr->num_rows)
			return cerr(&cx, err, TS_ERR_INVALID, "column holds %zu rows, the row group %lld", rows,
				    (long long)gr->num_rows);
		if (!(c->row_off = malloc((rows + 1) * sizeof(*c->row_off))) ||
		    !(c->row_vi = malloc((rows + 1) * sizeof(*c->row_vi))))
			return cerr(&cx, err, TS_ERR_NOMEM, "out of memory");
		size_t r = 0;
		for (size_t i = 0; i < c->nlev; i++) {
			if (c->rep[i] == 0) {
				c->row_vi[r] = (uint32_t)vi;
				c->row_off[r++] = (uint32_t)i;
			}
			vi += c->def[i] == f->max_def;
		}
		c->row_off[rows] = (uint32_t)c->nlev;
		c->row_vi[rows] = (uint32_t)vi;
	}
	return TS_OK;
}

int ts_pq_next_group(struct ts_pq *pq, size_t *nrows, struct ts_err *err)
{
	int rc;
	*nrows = 0;
	pq->cur_rows = 0;
	for (size_t i = 0; i < pq->nsel; i++)
		col_reset(&pq->sel[i]);
	if (pq->next_group >= pq->ngroups)
		return 0;
	size_t g = pq->next_group++;
	for (size_t i = 0; i < pq->nsel; i++)
		if ((rc = read_column(pq, &pq->sel[i], g, err))) {
			for (size_t k = 0; k < pq->nsel; k++)
				col_reset(&pq->sel[k]);
			pq->next_group = pq->ngroups;   /* a damaged file ends here */
			return rc;
		}
	pq->cur_rows = (size_t)pq->groups[g].num_rows;
	*nrows = pq->cur_rows;
	return 1;
}

static void to_value(const struct field *f, const struct val *v, struct ts_pq_value *out)
{
	memset(out, 0, sizeof(*out));
	if (v->null)
		return;
	switch (f->pub.type) {
	case TS_PQ_BOOLEAN:
		out->kind = TS_PQV_BOOL;
		out->i = v->u.i;
		break;
	case TS_PQ_INT32:
	case TS_PQ_INT64:
		out->kind = TS_PQV_INT;
		out->i = v->u.i;
		break;
	case TS_PQ_FLOAT:
	case TS_PQ_DOUBLE:
		out->kind = TS_PQV_REAL;
		out->d = v->u.d;
		break;
	default:
		out->kind = TS_PQV_BYTES;
		out->s = v->u.s;
		out->len = v->len;
		break;
	}
}

void ts_pq_get(const struct ts_pq *pq, size_t sel, size_t row, struct ts_pq_value *v)
{
	memset(v, 0, sizeof(*v));
	if (sel >= pq->nsel || row >= pq->cur_rows)
		return;
	const struct pq_col *c = &pq->sel[sel];
	if (c->f->max_rep > 0)
		return;
	to_value(c->f, &c->vals[row], v);
}

static json_t *value_json(const struct field *f, const struct val *v)
{
	struct ts_pq_value x;
	to_value(f, v, &x);
	switch (x.kind) {
	case TS_PQV_NULL: return json_null();
	case TS_PQV_BOOL: return json_boolean(x.i);
	case TS_PQV_INT:
		if (f->is_unsigned && f->pub.type == TS_PQ_INT64 && x.i < 0) {
			char b[32];
			snprintf(b, sizeof(b), "%llu", (unsigned long long)x.i);
			return json_string(b);
		}
		return json_integer(x.i);
	case TS_PQV_REAL:
		if (isnan(x.d))
			return json_string("NaN");
		if (isinf(x.d))
			return json_string(x.d > 0 ? "Infinity" : "-Infinity");
		return json_real(x.d);
	default: {
		json_t *s = f->pub.is_string ? json_stringn((const char *)x.s, x.len) : NULL;
		if (s)
			return s;
		static const char digits[] = "0123456789abcdef";
		char *hex = malloc(2 * x.len + 3);
		if (!hex)
			return NULL;
		hex[0] = '0';
		hex[1] = 'x';
		for (size_t i = 0; i < x.len; i++) {
			hex[2 + 2 * i] = digits[x.s[i] >> 4];
			hex[3 + 2 * i] = digits[x.s[i] & 15];
		}
		hex[2 + 2 * x.len] = '\0';
		s = json_string(hex);
		free(hex);
		return s;
	}
	}
}

/* Assemble one row of a list column from its levels (see the field's dr/dp). */
static json_t *nested_json(const struct pq_col *c, size_t row)
{
	const struct field *f = c->f;
	int R = f->max_rep, D = f->max_def;
	size_t lo = c->row_off[row], hi = c->row_off[row + 1];
	size_t vi = c->row_vi[row];
	json_t *root = NULL, *stack[MAX_REP + 1] = { 0 };

	for (size_t i = lo; i < hi; i++) {
		int r = c->rep[i], d = c->def[i];
		int k;
		for (k = r + 1; k <= R; k++) {
			json_t *v;
			int absent = d < f->dr[k];
			if (absent)
				v = d < f->dp[k] ? json_null() : json_array();
			else
				v = json_array();
			if (!v)
				goto nomem;
			if (k == 1)
				root = v;
			else if (!stack[k - 1] || json_array_append_new(stack[k - 1], v))
				goto nomem;
			if (absent)
				break;
			stack[k] = v;
		}
		if (k <= R)
			continue;
		json_t *leaf;
		if (d < D)
			leaf = json_null();
		else
			leaf = value_json(f, &c->vals[vi++]);
		if (!leaf || !stack[R] || json_array_append_new(stack[R], leaf))
			goto nomem;
	}
	return root ? root : json_null();
nomem:
	json_decref(root);
	return NULL;
}

json_t *ts_pq_get_json(const struct ts_pq *pq, size_t sel, size_t row, struct ts_err *err)
{
	json_t *j;
	if (sel >= pq->nsel || row >= pq->cur_rows)
		return json_null();
	const struct pq_col *c = &pq->sel[sel];
	if (c->f->max_rep > 0)
		j = nested_json(c, row);
	else
		j = value_json(c->f, &c->vals[row]);
	if (!j)
		ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	return j;
}
