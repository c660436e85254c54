/*
 * source.h - input readers: turn an INPUT (folder, list file, JSON) into a
 * stream of records, in a deterministic order.
 *
 * A record is one input item (an image reference with its captions).  Its
 * index is its position in the input (0-based, counted across all INPUTs in
 * the order given); sample keys are made from it, so the order must never
 * depend on the file system's readdir order, thread count or timing.
 * Readers do no pixel work: the image is read and decoded by workers.
 * A record the reader can already tell is bad (a JSONL line that is not
 * JSON, a path escaping the image root, a missing caption) still consumes
 * its index and comes back with reject != TS_R_NONE.
 */
#ifndef TS_SOURCE_H
#define TS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"

enum ts_input_format {
	TS_INPUT_AUTO = 0,
	TS_INPUT_FOLDER,
	TS_INPUT_CSV,
	TS_INPUT_TSV,
	TS_INPUT_JSONL,
	TS_INPUT_COCO,
	TS_INPUT_SHAREGPT4V,
	TS_INPUT_URBAN1K,
	TS_INPUT_WDS,
	TS_INPUT_PARQUET,
	TS_INPUT_JSON,         /* records in one JSON document: an array at --json-path, or parallel arrays */
	/* scene-text inputs of `tessera str`: opened by format, never detected,
	 * not names --format accepts */
	TS_INPUT_GTLIST,       /* relpath<whitespace>label lines */
	TS_INPUT_LMDB,         /* an LMDB environment (image-%09d, label-%09d) */
	TS_INPUT_TESSERA,      /* a tessera dataset (catalog.sqlite + shards) */
};

/* "folder", "csv", ...; parse returns -1 for unknown names (and for the
 * scene-text formats, which only `tessera str` opens). */
const char *ts_input_format_name(enum ts_input_format f);
int ts_input_format_parse(const char *name);

enum ts_quoting {
	TS_QUOTING_DEFAULT = 0,        /* csv: RFC 4180; tsv: none */
	TS_QUOTING_NONE,               /* fields are literal: the delimiter and LF are the only separators */
	TS_QUOTING_CSV,                /* RFC 4180 quotes (doubled quotes, embedded delimiters and newlines) */
};

struct ts_source_opts {
	enum ts_input_format format;   /* TS_INPUT_AUTO: detect from the input */
	const char *image_root;        /* NULL: the list file's directory (folder/urban1k: the input itself) */
	const char *image_col;         /* NULL: first of image, path, filepath, file_name, url;
					* with no header (or no such name) a number N is the N-th column */
	const char *caption_col;       /* NULL: first of caption, text, title */
	uint64_t max_record_bytes;     /* cap for one CSV row / JSONL line / JSON element (0: 64 MiB) */
	int confine;                   /* --confine: also refuse absolute paths and symlinks leading out of the root */
	enum ts_quoting quoting;       /* CSV/TSV quoting (--quoting) */
	int no_header;                 /* CSV/TSV: the first row is data (--no-header) */
	const char *columns;           /* CSV/TSV: comma-separated column names for a file without a header */
	uint64_t max_quoted_bytes;     /* CSV: a row continuing past its first line must end within this (0: 1 MiB) */
	uint64_t max_quoted_lines;     /* ... and within this many lines (0: 1000) */
	const char *group_by;          /* CSV/TSV/JSONL: NULL, "image" or a column: merge rows into one record */
	uint64_t max_group_bytes;      /* --group-by: caption bytes held before groups are flushed (0: 512 MiB) */
	const char *const *keep_cols;  /* CSV/TSV/JSONL: columns copied into the record's meta_json */
	size_t nkeep_cols;
	uint64_t max_member_bytes;     /* wds: cap for one tar member (0: 64 MiB) */
	const char *id_col;            /* column kept as "uid" in meta_json (NULL: none) */
	int urls;                      /* image fields are URLs (tessera fetch): kept in image_ref,
	                                  never resolved as paths; default columns url, image_url, ... */
	const char *hash_col;          /* copied into meta_json under hash_type (NULL: none) */
	const char *hash_type;         /* "sha256" or "md5" */
	const char *json_path;         /* "json" lists: dotted key path to the record array */
};

/* Column presets for list files as datasets ship them (--preset): shared
 * by ingest, fetch and the parquet reader.  columns is the column order of
 * a file without a header (NULL when the files have a header); image_col,
 * caption_col the columns to use; keep_cols a comma-separated list of
 * columns worth keeping in KEY.json (NULL for none). */
struct ts_source_preset {
	const char *name;
	const char *columns;
	const char *image_col;
	const char *caption_col;
	const char *keep_cols;
	const char *about;
};

/* The preset called name, or NULL.  ts_source_presets ends with a zeroed entry. */
extern const struct ts_source_preset ts_source_presets[];
const struct ts_source_preset *ts_source_preset_find(const char *name);

/* A member of a WebDataset input sample carried into the output as it is
 * (the short/long captions, for instance). */
struct ts_extra_member {
	char *ext;               /* "short.txt" */
	uint8_t *data;
	size_t len;
};


struct ts_record {
	uint64_t index;          /* set by the reader from first_index */
	char *source;            /* reference for humans and the catalog: "data/list.csv:13" or "photos/a/1.jpg" */
	char *image_ref;         /* the image path as written in the input (may be NULL) */
	char *image_path;        /* resolved path to open, NULL when rejected or image_data is set */
	uint8_t *image_data;     /* image bytes when the input holds them (tar, LMDB); else NULL */
	size_t image_len;
	char **captions;         /* raw bytes, not validated; captions[0] is primary */
	size_t *caption_lens;
	size_t ncaptions;
	enum ts_reason reject;   /* TS_R_NONE, or why the reader rejects it */
	char *reject_msg;        /* malloc'ed one-line message when rejected */
	char *meta_json;         /* malloc'ed JSON object of extra fields (ids, kept
				  * columns, source_meta, fetch info) merged into
				  * KEY.json and stored in samples.meta; or NULL */
	char *reject_detail;     /* malloc'ed JSON object for rejects.detail, or NULL */
	char *group_key;         /* --group-by COLUMN: the column's value (list readers), or NULL */
	struct ts_extra_member *extra;   /* members carried over from a tar input (wds), or NULL */
	size_t nextra;
};

/* Free everything a record owns and zero it.  Accepts a zeroed record. */
void ts_record_release(struct ts_record *rec);

struct ts_source;

/* Detect the format of input (a path): a directory with image/ and
 * caption/ is urban1k, other directories are folder; by extension .csv,
 * .tsv, .jsonl; a .json whose first non-space byte is '[' is sharegpt4v,
 * '{' is coco; a file starting with the parquet magic PAR1 (whatever its
 * name) is parquet.  TS_INPUT_AUTO when it cannot tell. */
enum ts_input_format ts_source_detect(const char *input);

/* Open input.  Records get indexes first_index, first_index+1, ...
 * Fails (clear message in err) when the input itself cannot be used:
 * missing, unreadable, wrong format, no image/caption column. */
int ts_source_open(struct ts_source **out, const char *input,
		   const struct ts_source_opts *opts, uint64_t first_index,
		   struct ts_err *err);

/* Next record into *rec (which the caller releases; *rec is overwritten,
 * so release the previous record first).  Returns 1 when a record was
 * produced, 0 at the end, negative on a fatal error.  The rules of each
 * format (blank lines, column matching, framing) are at the top of
 * pipeline/source_<format>.c. */
int ts_source_next(struct ts_source *src, struct ts_record *rec,
		   struct ts_err *err);

/* Number of records for a progress total: known at open (folder, urban1k,
 * coco), else counted once in one fast pass without parsing (JSONL and
 * CSV/TSV lines, ShareGPT4V array elements, tar samples; an estimate when
 * CSV fields hold newlines), else -1.  Never reads a pipe. */
int64_t ts_source_count(struct ts_source *src);

/* After the end (next() returned 0): NULL when the input was read to its
 * end, else why the reading stopped early and what was not read (an LMDB
 * environment too damaged to go on).  The records read are good. */
const char *ts_source_damage(struct ts_source *src);

void ts_source_close(struct ts_source *src);   /* accepts NULL */

/* The image root the source resolves paths under (as given or derived:
 * --image-root, the list file's directory, the folder itself). */
const char *ts_source_root(const struct ts_source *src);

/* Resolve rel against root for reading.  An absolute rel is taken as
 * given and symlinks are followed; a relative rel whose ".." climbs above
 * root (read lexically, even when the file does not exist) is
 * source.escapes_root.  With confine, absolute paths and paths whose real
 * location (realpath) is outside root are source.escapes_root too.
 * Missing files are source.missing, non-regular ones source.unreadable.
 * On success *out is the malloc'ed realpath of the file. */
int ts_resolve_under(const char *root, const char *rel, int confine, char **out,
		     struct ts_err *err);

#endif
