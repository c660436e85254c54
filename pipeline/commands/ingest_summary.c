/*
 * ingest_summary.c - the end of an ingest or fetch run as the user sees
 * it: the summary the driver's result describes, on stderr as text or on
 * stdout as JSON, the one-line hint when every record was rejected, and
 * the exit code.  The driver prints none of it; fetch adds its download
 * figures through extra and extra_text.
 */
#include "pipeline/commands/ingest_summary.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "pipeline/cmd.h"
#include "pipeline/util.h"

/* The likeliest cause of a run in which every record has this reason. */
static const char *reason_hint(enum ts_reason r)
{
	switch (r) {
	case TS_R_SOURCE_MISSING: return "is --image-root right?";
	case TS_R_SOURCE_ESCAPES_ROOT: return "the paths climb out of the image root: is --image-root right?";
	case TS_R_SOURCE_UNREADABLE: return "can this user read the images (permissions, directories)?";
	case TS_R_SOURCE_TOO_LARGE: return "are the files larger than --max-file-bytes allows?";
	case TS_R_RECORD_BAD_JSON: return "is --format right for this input?";
	case TS_R_RECORD_BAD_ROW: return "is --format right (CSV or TSV)?";
	case TS_R_RECORD_MISSING_FIELD: return "is --image-col right?";
	case TS_R_IMAGE_EMPTY: case TS_R_IMAGE_NOT_IMAGE:
		return "are these image files (not HTML pages or placeholders)?";
	case TS_R_IMAGE_TOO_LARGE: return "are the images larger than --max-pixels allows?";
	case TS_R_IMAGE_TOO_SMALL: return "is --min-size too high?";
	case TS_R_CAPTION_MISSING: return "is --caption-col right (folders: are there .txt or .json sidecars)?";
	case TS_R_CAPTION_INVALID_UTF8: return "is the input in another encoding than UTF-8 (convert it with iconv)?";
	case TS_R_CAPTION_TOO_LONG: return "are the captions longer than --max-caption-bytes allows?";
	case TS_R_CAPTION_EMPTY: return "is --caption-col the caption column?";
	default: return "see the rejects table of the catalog";
	}
}

/* One line: "all 239 records rejected, 239 source.missing: is --image-root
 * right? first: 'img/1.jpg' under '/data'". */
static void print_all_rejected(const struct ts_ingest_result *res)
{
	int top = 1;
	for (int i = 1; i < TS_R__COUNT; i++)
		if (res->by_reason[i] > res->by_reason[top])
			top = i;
	char others[64] = "";
	if (res->by_reason[top] < res->rejects)
		snprintf(others, sizeof(others), " (and %" PRIu64 " other)", res->rejects - res->by_reason[top]);
	char where[4200] = "";
	if (top == TS_R_SOURCE_MISSING || top == TS_R_SOURCE_ESCAPES_ROOT || top == TS_R_SOURCE_UNREADABLE)
		snprintf(where, sizeof(where), " under '%s'", res->image_root ? res->image_root : "?");
	ts_error("all %" PRIu64 " records rejected, %" PRIu64 " %s%s: %s first: '%s'%s",
		 res->rejects, res->by_reason[top], ts_reason_name((enum ts_reason)top), others,
		 reason_hint((enum ts_reason)top),
		 res->first_ref[top] ? res->first_ref[top] : "?", where);
}

static void print_json(const char *cmd, const struct ts_ingest_opts *o,
		       const struct ts_ingest_result *res, json_t *extra)
{
	json_t *by = json_object();
	for (int i = 1; i < TS_R__COUNT; i++)
		if (res->by_reason[i])
			json_object_set_new(by, ts_reason_name((enum ts_reason)i),
					    json_integer((json_int_t)res->by_reason[i]));
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:f, s:i}",
			      "command", cmd,
			      "status", res->interrupted ? "interrupted" : "ok",
			      "outdir", o->outdir,
			      "records", (json_int_t)res->records,
			      "samples", (json_int_t)res->samples,
			      "shards", (json_int_t)(res->resumed_shards + res->shards_written),
			      "rejects", (json_int_t)res->rejects,
			      "rejects_by_reason", by,
			      "shards_written", (json_int_t)res->shards_written,
			      "bytes_written", (json_int_t)res->bytes_written,
			      "resumed_from_record", (json_int_t)res->resumed_record,
			      "resumed_shards", (json_int_t)res->resumed_shards,
			      "seconds", res->seconds,
			      "threads", res->threads);
	if (res->interrupted) {
		json_object_set_new(j, "samples_kept", json_integer((json_int_t)res->samples_kept));
		json_object_set_new(j, "resume_command", json_string(o->command_line));
	}
	if (res->all_rejected)
		json_object_set_new(j, "all_rejected", json_true());
	if (o->part_count > 1)
		json_object_set_new(j, "partition",
				    json_pack("{s:i, s:i, s:s}", "index", (int)o->part_index,
					      "count", (int)o->part_count,
					      "source", o->part_source ? o->part_source : "--part"));
	if (extra)
		json_object_update(j, extra);
	char *s = json_dumps(j, JSON_INDENT(2));
	if (s)
		puts(s);
	free(s);
	json_decref(j);
}

static void print_text(const char *cmd, const struct ts_ingest_opts *o,
		       const struct ts_ingest_result *res, const char *extra_text)
{
	FILE *f = stderr;
	double secs = res->seconds;
	fprintf(f, "%s %s: %" PRIu64 " records, %" PRIu64 " samples written, %" PRIu64
		" rejected, %.1f s (%.1f records/s)\n",
		cmd, res->interrupted ? "interrupted" : "done", res->records, res->samples,
		res->rejects, secs, secs > 0 ? (double)res->records / secs : 0.0);
	fprintf(f, "  shards: %" PRIu64 " written (%.1f MB)", res->shards_written,
		(double)res->bytes_written / 1e6);
	if (res->resumed_shards || res->resumed_record)
		fprintf(f, ", %u kept from an earlier run (resumed at record %" PRIu64 ")",
			res->resumed_shards, res->resumed_record);
	fprintf(f, "\n  output: %s/shards/, %s/catalog.sqlite\n", o->outdir, o->outdir);
	if (res->interrupted)
		fprintf(f, "  interrupted: %" PRIu64 " samples in complete shards are kept; "
			"the same command resumes the run:\n    %s\n", res->samples_kept, o->command_line);
	if (o->part_count > 1)
		fprintf(f, "  partition %u of %u (from %s): records whose number %% %u == %u\n",
			o->part_index, o->part_count, o->part_source ? o->part_source : "--part",
			o->part_count, o->part_index);
	for (int i = 1; i < TS_R__COUNT; i++)
		if (res->by_reason[i])
			fprintf(f, "  rejected %-22s %" PRIu64 "\n",
				ts_reason_name((enum ts_reason)i), res->by_reason[i]);
	if (extra_text)
		fputs(extra_text, f);
}

void ts_ingest_summary(const char *cmd, const struct ts_ingest_opts *o,
		       const struct ts_ingest_result *res, json_t *extra,
		       const char *extra_text)
{
	if (!res->summary)
		return;
	if (o->json)
		print_json(cmd, o, res, extra);
	else if (ts_verbosity >= 1)
		print_text(cmd, o, res, extra_text);
	if (res->all_rejected)
		print_all_rejected(res);
}

int ts_ingest_exit(int status, const struct ts_ingest_result *res, const struct ts_err *err)
{
	if (status) {
		ts_error("%s", err->msg[0] ? err->msg : ts_status_name(status));
		return TS_EXIT_FAIL;
	}
	return res->interrupted ? TS_EXIT_INTERRUPTED : res->all_rejected ? TS_EXIT_ALL_REJECTED : TS_EXIT_OK;
}
