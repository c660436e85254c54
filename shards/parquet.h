/*
 * parquet.h - a reader for the subset of Apache Parquet that image-caption
 * metadata files use (LAION, DataComp, COYO, img2dataset outputs).
 *
 * Supported: the footer (PAR1 at both ends) and FileMetaData, row groups,
 * column chunks, DATA_PAGE (v1), DATA_PAGE_V2 and DICTIONARY_PAGE; the
 * encodings PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY and RLE (levels,
 * dictionary indices, booleans); the physical types BOOLEAN, INT32, INT64,
 * FLOAT, DOUBLE, BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY; the codecs
 * UNCOMPRESSED, SNAPPY, GZIP and ZSTD.  Top-level columns are flat
 * (REQUIRED or OPTIONAL, a null is an absent value) or lists of one
 * primitive leaf at any depth (list<string>, list<list<double>>), which
 * come out as JSON arrays.  Anything else (DELTA_* and BYTE_STREAM_SPLIT
 * encodings, LZ4, BROTLI, LZO, encryption, INT96, DECIMAL, structs and
 * maps) is an error naming the file, the column and the feature when that
 * column is read, never a wrong value.
 *
 * Reading streams by row group: ts_pq_select() names the columns wanted,
 * each ts_pq_next_group() reads only those columns of the next row group,
 * and values stay valid until the next call.  Memory is bounded by the
 * largest row group's selected columns.  Every offset and length comes from
 * the file and is checked against it; a damaged file is an error (err->msg
 * names the file, the column when there is one, and what is wrong).
 * A handle is used by one thread at a time.
 */
#ifndef TS_PARQUET_H
#define TS_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"

struct json_t;

enum ts_pq_phys {
	TS_PQ_BOOLEAN = 0, TS_PQ_INT32 = 1, TS_PQ_INT64 = 2, TS_PQ_INT96 = 3,
	TS_PQ_FLOAT = 4, TS_PQ_DOUBLE = 5, TS_PQ_BYTE_ARRAY = 6,
	TS_PQ_FIXED_LEN_BYTE_ARRAY = 7,
};

/* One top-level column. */
struct ts_pq_field {
	const char *name;
	enum ts_pq_phys type;     /* of its leaf */
	int type_length;          /* FIXED_LEN_BYTE_ARRAY */
	int is_string;            /* UTF8/STRING/ENUM/JSON annotation */
	int optional;             /* the top-level field may be null */
	int nested;               /* a list: repetition level > 0 */
	const char *type_desc;    /* "string", "int64", "list<list<double>>", ... */
	const char *unsupported;  /* NULL, or why it cannot be read ("a struct of 3 columns") */
};

enum ts_pq_kind { TS_PQV_NULL = 0, TS_PQV_BOOL, TS_PQV_INT, TS_PQV_REAL, TS_PQV_BYTES };

/* One value of a flat column; s points into the reader's buffers and is
 * valid until the next ts_pq_next_group() or ts_pq_close(). */
struct ts_pq_value {
	enum ts_pq_kind kind;
	int64_t i;               /* BOOL (0/1) and INT */
	double d;                /* REAL */
	const uint8_t *s;        /* BYTES */
	size_t len;
};

struct ts_pq_limits {
	uint64_t max_page_bytes;      /* one page, compressed or not (0: 256 MiB) */
	uint64_t max_group_values;    /* values of one column in one row group (0: 64M) */
	uint64_t max_footer_bytes;    /* (0: 64 MiB) */
};

struct ts_pq;

/* Open path and read its footer.  name (for messages) is the path.
 * limits may be NULL (defaults).  Fails on a file that is not parquet,
 * is truncated, encrypted, or whose metadata is damaged. */
int ts_pq_open(struct ts_pq **out, const char *path,
	       const struct ts_pq_limits *limits, struct ts_err *err);
/* The same over bytes in memory (not copied: data must outlive the handle). */
int ts_pq_open_mem(struct ts_pq **out, const char *name, const uint8_t *data,
		   size_t len, const struct ts_pq_limits *limits, struct ts_err *err);
void ts_pq_close(struct ts_pq *pq);   /* accepts NULL */

size_t ts_pq_nfields(const struct ts_pq *pq);
const struct ts_pq_field *ts_pq_field_at(const struct ts_pq *pq, size_t i);
/* Index of the top-level column called name, or -1. */
int ts_pq_find(const struct ts_pq *pq, const char *name);
int64_t ts_pq_num_rows(const struct ts_pq *pq);
size_t ts_pq_num_groups(const struct ts_pq *pq);
const char *ts_pq_created_by(const struct ts_pq *pq);   /* "" when absent */
/* "snappy", "zstd", ...: the codec of column i in the first row group
 * ("-" when there is none). */
const char *ts_pq_codec_name(const struct ts_pq *pq, size_t i);

/* Read the columns fields[0..n) (top-level indexes) from now on; a column
 * the reader cannot read (field->unsupported) is an error here.  Resets
 * reading to the first row group. */
int ts_pq_select(struct ts_pq *pq, const int *fields, size_t n, struct ts_err *err);
/* Read the selected columns of the next row group.  Returns 1 with *nrows
 * set (it may be 0), 0 after the last group, or a negative status. */
int ts_pq_next_group(struct ts_pq *pq, size_t *nrows, struct ts_err *err);
/* Value of selected column sel (its position in ts_pq_select's list) in
 * row row of the current group.  A nested column's values come only
 * through ts_pq_get_json (here it reads as NULL). */
void ts_pq_get(const struct ts_pq *pq, size_t sel, size_t row, struct ts_pq_value *v);
/* The same as a new jansson value (the caller owns it): strings that are
 * valid UTF-8 become JSON strings, other bytes "0x" and hex, a NaN or an
 * infinity the strings "NaN", "Infinity", "-Infinity", a null JSON null,
 * a list a JSON array.  NULL with err set when out of memory. */
struct json_t *ts_pq_get_json(const struct ts_pq *pq, size_t sel, size_t row,
			      struct ts_err *err);

#endif
