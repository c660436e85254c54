/*
 * ts_error.c - reason names and the error setter.
 *
 * The reason table is indexed by enum ts_reason and must stay in the same
 * order; tests/unit/test_base.c checks that every reason has a unique name.
 */
#include "base/ts_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	const char *help;
} reasons[TS_R__COUNT] = {
	[TS_R_NONE] = { "none", "not rejected" },
	[TS_R_SOURCE_MISSING] = { "source.missing", "the referenced image file does not exist" },
	[TS_R_SOURCE_UNREADABLE] = { "source.unreadable", "the image file exists but cannot be read (permissions, I/O error, not a regular file)" },
	[TS_R_SOURCE_ESCAPES_ROOT] = { "source.escapes_root", "the image path is absolute or climbs out of the image root with '..'" },
	[TS_R_SOURCE_TOO_LARGE] = { "source.too_large", "the image file is larger than --max-file-bytes" },
	[TS_R_RECORD_BAD_JSON] = { "record.bad_json", "a JSONL line or JSON record is not valid JSON or not an object" },
	[TS_R_RECORD_BAD_ROW] = { "record.bad_row", "a CSV/TSV row is malformed (unterminated quote, wrong field count), or a parquet file is damaged" },
	[TS_R_RECORD_MISSING_FIELD] = { "record.missing_field", "the record has no image path field" },
	[TS_R_IMAGE_EMPTY] = { "image.empty", "the image file has zero bytes" },
	[TS_R_IMAGE_NOT_IMAGE] = { "image.not_an_image", "the bytes are not JPEG, PNG or WebP (e.g. HTML saved as .jpg)" },
	[TS_R_IMAGE_UNSUPPORTED] = { "image.unsupported", "a recognised format using a feature tessera does not decode (e.g. animated WebP, lossless/arithmetic JPEG)" },
	[TS_R_IMAGE_TRUNCATED] = { "image.truncated", "the image data ends before the image is complete" },
	[TS_R_IMAGE_CORRUPT] = { "image.corrupt", "the image data is damaged (bad CRC, broken chunk, invalid stream)" },
	[TS_R_IMAGE_TOO_LARGE] = { "image.too_large", "the header declares more pixels than --max-pixels; nothing is allocated" },
	[TS_R_IMAGE_TOO_SMALL] = { "image.too_small", "a side is shorter than --min-size" },
	[TS_R_IMAGE_ENCODE_FAILED] = { "image.encode_failed", "the output encoder failed" },
	[TS_R_CAPTION_MISSING] = { "caption.missing", "no caption was found for the image (no sidecar, no caption field)" },
	[TS_R_CAPTION_INVALID_UTF8] = { "caption.invalid_utf8", "the caption is not valid UTF-8" },
	[TS_R_CAPTION_EMPTY] = { "caption.empty", "the caption is empty after trimming whitespace" },
	[TS_R_CAPTION_TOO_LONG] = { "caption.too_long", "the caption is longer than --max-caption-bytes" },
	[TS_R_DUPLICATE] = { "duplicate", "the content hash equals that of an earlier sample (--dedup)" },
	[TS_R_LABEL_TOO_LONG] = { "label.too_long", "scene-text label longer than --max-label-length" },
	[TS_R_LABEL_EMPTY] = { "label.empty_after_filter", "scene-text label empty after the charset filter" },
	[TS_R_RECORD_UNSAFE_MEMBER] = { "record.unsafe_member", "a tar input sample has a member with an absolute or '..' name, or a symlink, hard link or special member" },
	[TS_R_RECORD_TRUNCATED_TAR] = { "record.truncated_tar", "a tar input ends before its end-of-archive blocks, inside a header or a member" },
	[TS_R_RECORD_BAD_TAR] = { "record.bad_tar", "a tar input has a damaged header (checksum, size, unsupported entry); the rest of that tar is not read" },
	[TS_R_RECORD_MEMBER_TOO_LARGE] = { "record.member_too_large", "a tar input member is larger than --max-member-bytes" },
	[TS_R_RECORD_TRUNCATED] = { "record.truncated", "a JSON input file ends before its closing bracket; the records before the cut are kept" },
	[TS_R_LMDB_CORRUPT] = { "lmdb.corrupt", "an LMDB record could not be read: its pages are damaged (the reader died, hung or liblmdb reported corruption)" },
	[TS_R_FETCH_HTTP_GONE] = { "fetch.http_gone", "the server answered 404 or 410 (or another 4xx not listed below): the image is gone" },
	[TS_R_FETCH_HTTP_FORBIDDEN] = { "fetch.http_forbidden", "the server answered 401, 403 or 451" },
	[TS_R_FETCH_OPT_OUT] = { "fetch.opt_out", "the response opts out of AI use (X-Robots-Tag noai/noimageai/noindex/noimageindex/none, or tdm-reservation: 1); the body is not read" },
	[TS_R_FETCH_REDIRECTS] = { "fetch.redirects", "more redirects than --max-redirects (a loop), or a final 3xx without a usable Location" },
	[TS_R_FETCH_REDIRECT_BLOCKED] = { "fetch.redirect_blocked", "a redirect to a scheme other than http or https (file://, ftp://, ...)" },
	[TS_R_FETCH_PRIVATE_ADDRESS] = { "fetch.private_address", "the host resolved to a loopback, private, link-local or otherwise non-public address (checked at every hop) and --allow-private does not allow it" },
	[TS_R_FETCH_TOO_LARGE] = { "fetch.too_large", "the body is larger than --max-bytes (from Content-Length, or counted as it arrives)" },
	[TS_R_FETCH_TLS] = { "fetch.tls", "the TLS handshake or certificate verification failed" },
	[TS_R_FETCH_HASH_MISMATCH] = { "fetch.hash_mismatch", "the downloaded bytes do not match the list's hash column (--hash-col)" },
	[TS_R_FETCH_BAD_URL] = { "fetch.bad_url", "the URL is empty, cannot be parsed, or its scheme is not http or https" },
	[TS_R_FETCH_DNS] = { "fetch.dns", "the host name could not be resolved" },
	[TS_R_FETCH_CONNECT] = { "fetch.connect", "the connection was refused or could not be made within --connect-timeout" },
	[TS_R_FETCH_TIMEOUT] = { "fetch.timeout", "the whole request took longer than --timeout" },
	[TS_R_FETCH_STALLED] = { "fetch.stalled", "the transfer stayed below the --low-speed rate for its whole window" },
	[TS_R_FETCH_RESET] = { "fetch.reset", "the connection was reset or closed while receiving" },
	[TS_R_FETCH_TRUNCATED] = { "fetch.truncated", "the body ended before its Content-Length" },
	[TS_R_FETCH_HTTP_SERVER] = { "fetch.http_server", "the server answered 5xx (or 408)" },
	[TS_R_FETCH_RATE_LIMITED] = { "fetch.rate_limited", "the server answered 429 (or 503 with Retry-After) and retries were used up" },
	[TS_R_FETCH_HOST_DOWN] = { "fetch.host_down", "the host's circuit breaker opened (consecutive connect/DNS/429 failures) and stayed open: not tried" },
	[TS_R_FETCH_DEFERRED] = { "fetch.deferred", "--deadline passed before the record was fetched" },
};

int ts_err_set(struct ts_err *err, int status, enum ts_reason reason,
	       const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->status = status;
		err->reason = reason;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return status;
}

void ts_err_clear(struct ts_err *err)
{
	if (err) {
		err->status = 0;
		err->reason = TS_R_NONE;
		err->msg[0] = '\0';
	}
}

int ts_err_is_reject(const struct ts_err *err)
{
	switch (err->status) {
	case TS_ERR_NOMEM:
		return 0;
	case TS_ERR_INVALID:
	case TS_ERR_LIMIT:
	case TS_ERR_UNSUPPORTED:
		return 1;
	default:
		/* an I/O or codec failure that names what was wrong with the
		 * input (source.unreadable, image.encode_failed) */
		return err->reason != TS_R_NONE;
	}
}

const char *ts_reason_name(enum ts_reason reason)
{
	if ((int)reason < 0 || reason >= TS_R__COUNT || !reasons[reason].name)
		return "unknown";
	return reasons[reason].name;
}

const char *ts_reason_help(enum ts_reason reason)
{
	if ((int)reason < 0 || reason >= TS_R__COUNT || !reasons[reason].help)
		return "";
	return reasons[reason].help;
}

enum ts_reason ts_reason_from_name(const char *name)
{
	for (int i = 0; i < TS_R__COUNT; i++)
		if (reasons[i].name && !strcmp(reasons[i].name, name))
			return (enum ts_reason)i;
	return TS_R__COUNT;
}

const char *ts_status_name(int status)
{
	switch (status) {
	case TS_OK: return "ok";
	case TS_ERR_NOMEM: return "out of memory";
	case TS_ERR_IO: return "i/o error";
	case TS_ERR_INVALID: return "invalid input";
	case TS_ERR_LIMIT: return "limit exceeded";
	case TS_ERR_UNSUPPORTED: return "unsupported";
	case TS_ERR_USAGE: return "usage error";
	case TS_ERR_INTERNAL: return "internal error";
	case TS_ERR_EXISTS: return "already exists";
	}
	return "unknown error";
}

int ts_reason_transient(enum ts_reason reason)
{
	return reason >= TS_R_FETCH_DNS && reason <= TS_R_FETCH_DEFERRED;
}
