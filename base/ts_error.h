/*
 * ts_error.h - the one error model shared by every layer of tessera.
 *
 * Functions return TS_OK (0) or a negative enum ts_status; details go into a
 * caller-owned struct ts_err (never a global: workers run in parallel).
 * When the failure concerns one input sample, err->reason names why, with a
 * stable dotted code ("image.truncated") that lands in the catalog's rejects
 * table.  Codes and reason names are pinned: append, never renumber or rename.
 * docs/formats.md lists every reason.
 */
#ifndef TS_ERROR_H
#define TS_ERROR_H

#include <stddef.h>

enum ts_status {
	TS_OK = 0,
	TS_ERR_NOMEM = -1,       /* allocation failed */
	TS_ERR_IO = -2,          /* read/write/open failed */
	TS_ERR_INVALID = -3,     /* the input data is bad: reject the sample */
	TS_ERR_LIMIT = -4,       /* a cap was hit (pixels, bytes, length) */
	TS_ERR_UNSUPPORTED = -5, /* valid but not something we handle */
	TS_ERR_USAGE = -6,       /* bad option or argument */
	TS_ERR_INTERNAL = -7,    /* a library failed in an unexpected way */
	TS_ERR_EXISTS = -8,      /* refusing to overwrite */
};

/* Why a sample was rejected.  Pinned order; see ts_reason_name(). */
enum ts_reason {
	TS_R_NONE = 0,
	TS_R_SOURCE_MISSING,        /* source.missing */
	TS_R_SOURCE_UNREADABLE,     /* source.unreadable */
	TS_R_SOURCE_ESCAPES_ROOT,   /* source.escapes_root */
	TS_R_SOURCE_TOO_LARGE,      /* source.too_large */
	TS_R_RECORD_BAD_JSON,       /* record.bad_json */
	TS_R_RECORD_BAD_ROW,        /* record.bad_row */
	TS_R_RECORD_MISSING_FIELD,  /* record.missing_field */
	TS_R_IMAGE_EMPTY,           /* image.empty */
	TS_R_IMAGE_NOT_IMAGE,       /* image.not_an_image */
	TS_R_IMAGE_UNSUPPORTED,     /* image.unsupported */
	TS_R_IMAGE_TRUNCATED,       /* image.truncated */
	TS_R_IMAGE_CORRUPT,         /* image.corrupt */
	TS_R_IMAGE_TOO_LARGE,       /* image.too_large */
	TS_R_IMAGE_TOO_SMALL,       /* image.too_small */
	TS_R_IMAGE_ENCODE_FAILED,   /* image.encode_failed */
	TS_R_CAPTION_MISSING,       /* caption.missing */
	TS_R_CAPTION_INVALID_UTF8,  /* caption.invalid_utf8 */
	TS_R_CAPTION_EMPTY,         /* caption.empty */
	TS_R_CAPTION_TOO_LONG,      /* caption.too_long */
	TS_R_DUPLICATE,             /* duplicate */
	TS_R_LABEL_TOO_LONG,        /* label.too_long */
	TS_R_LABEL_EMPTY,           /* label.empty_after_filter */
	TS_R_RECORD_UNSAFE_MEMBER,  /* record.unsafe_member */
	TS_R_RECORD_TRUNCATED_TAR,  /* record.truncated_tar */
	TS_R_RECORD_BAD_TAR,        /* record.bad_tar */
	TS_R_RECORD_MEMBER_TOO_LARGE, /* record.member_too_large */
	TS_R_RECORD_TRUNCATED,      /* record.truncated */
	TS_R_LMDB_CORRUPT,          /* lmdb.corrupt */
	TS_R_FETCH_HTTP_GONE,             /* fetch.http_gone */
	TS_R_FETCH_HTTP_FORBIDDEN,        /* fetch.http_forbidden */
	TS_R_FETCH_OPT_OUT,               /* fetch.opt_out */
	TS_R_FETCH_REDIRECTS,             /* fetch.redirects */
	TS_R_FETCH_REDIRECT_BLOCKED,      /* fetch.redirect_blocked */
	TS_R_FETCH_PRIVATE_ADDRESS,       /* fetch.private_address */
	TS_R_FETCH_TOO_LARGE,             /* fetch.too_large */
	TS_R_FETCH_TLS,                   /* fetch.tls */
	TS_R_FETCH_HASH_MISMATCH,         /* fetch.hash_mismatch */
	TS_R_FETCH_BAD_URL,               /* fetch.bad_url */
	TS_R_FETCH_DNS,                   /* fetch.dns */
	TS_R_FETCH_CONNECT,               /* fetch.connect */
	TS_R_FETCH_TIMEOUT,               /* fetch.timeout */
	TS_R_FETCH_STALLED,               /* fetch.stalled */
	TS_R_FETCH_RESET,                 /* fetch.reset */
	TS_R_FETCH_TRUNCATED,             /* fetch.truncated */
	TS_R_FETCH_HTTP_SERVER,           /* fetch.http_server */
	TS_R_FETCH_RATE_LIMITED,          /* fetch.rate_limited */
	TS_R_FETCH_HOST_DOWN,             /* fetch.host_down */
	TS_R_FETCH_DEFERRED,              /* fetch.deferred */
	TS_R__COUNT
};

#define TS_ERR_MSG_MAX 512

struct ts_err {
	int status;             /* enum ts_status, 0 when nothing failed */
	enum ts_reason reason;  /* TS_R_NONE unless a sample is to be rejected */
	char msg[TS_ERR_MSG_MAX];
};

#define TS_ERR_INIT { 0, TS_R_NONE, { 0 } }

/* Fill err (if not NULL) and return status, so callers can write
 * `return ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_CORRUPT, "...", ...);` */
int ts_err_set(struct ts_err *err, int status, enum ts_reason reason,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void ts_err_clear(struct ts_err *err);

/* The one rule for what a failure means (docs/formats.md, "Rejects"): it
 * says something about the input -- invalid, unsupported, over a limit, or
 * any other failure that carries a reject reason (an input that cannot be
 * read, an image the encoder refuses) -- and that input becomes a reject
 * while the run goes on; or it is ours -- no memory (whatever the reason),
 * an internal or output I/O error without a reason -- and it ends the run. */
int ts_err_is_reject(const struct ts_err *err);

/* "image.truncated", ...; "none" for TS_R_NONE, "unknown" out of range. */
const char *ts_reason_name(enum ts_reason reason);
/* Reverse lookup; TS_R__COUNT when name is not a reason. */
enum ts_reason ts_reason_from_name(const char *name);
/* One-line description of a reason for docs and --help. */
const char *ts_reason_help(enum ts_reason reason);
const char *ts_status_name(int status);
/* 1 for a transient reason (worth fetching again: fetch.dns, fetch.timeout,
 * ..., fetch.deferred), 0 for every other reason. */
int ts_reason_transient(enum ts_reason reason);

#endif
