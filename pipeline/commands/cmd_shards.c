/*
 * cmd_shards.c - `tessera shards ls|cat|verify|index|merge`: inspect and
 * maintain a dataset written by ingest.  Read-only except index (writes
 * sidecar files) and merge (writes a new OUTDIR).
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shards/dataset.h"
#include "shards/out.h"
#include "shards/shards.h"
#include "pipeline/cmd.h"
#include "pipeline/opt.h"
#include "pipeline/drivers/shards_ops.h"
#include "pipeline/util.h"

void usage_shards(FILE *f)
{
	fputs(
"usage: tessera shards ls [--json] OUTDIR\n"
"       tessera shards cat OUTDIR KEY [--member EXT]\n"
"       tessera shards verify [--json] OUTDIR\n"
"       tessera shards index OUTDIR\n"
"       tessera shards merge [--json] PART_DIR... -o OUTDIR\n"
"\n"
"Inspect and maintain a tessera dataset (docs/formats.md).\n"
"\n"
"  ls       list shards: samples, bytes, complete flag, content hash\n"
"  cat      write one member's bytes to stdout (default: the image;\n"
"           --member txt, json, ...)\n"
"  verify   re-read every shard; check every catalog row's offsets, sizes\n"
"           and content hashes; report each mismatch with its sample;\n"
"           exit 1 on any\n"
"  index    (re)write the loader sidecars next to the shards: sizes.json,\n"
"           shardindex.json, NNNNNN.idx (DALI), NNNNNN_stats.json\n"
"  merge    combine partitions (tessera ingest --part) into one dataset,\n"
"           byte-identical to a single run over the whole input\n"
"\n"
"Options:\n"
"  -m, --member EXT   member extension for cat (jpg, txt, json, ...)\n"
"  -o, --output DIR   output dataset for merge\n"
"      --json         machine-readable output\n"
"  -q, --quiet        fewer messages\n"
"  -v, --verbose      more messages\n"
"  -h, --help         this help\n"
"\n"
"Exit status: 0 ok, 1 error or (verify) a mismatch, 2 usage error.\n", f);
}

static int usage_err(const char *msg)
{
	ts_error("%s", msg);
	fputs("see 'tessera shards --help'\n", stderr);
	return TS_EXIT_USAGE;
}

/* ---- ls ------------------------------------------------------------------- */

struct ls_state {
	int json;
	json_t *arr;
	uint64_t samples, bytes, shards;
};

static int ls_one(const struct ts_ds_shard *s, void *user)
{
	struct ls_state *st = user;
	st->samples += s->samples;
	st->bytes += s->bytes;
	st->shards++;
	if (st->json)
		json_array_append_new(st->arr, json_pack("{s:s, s:i, s:I, s:I, s:b, s:s, s:I, s:I}",
			"name", s->name, "index", (int)s->idx, "samples", (json_int_t)s->samples,
			"bytes", (json_int_t)s->bytes, "complete", s->complete, "hash", s->hash,
			"first_record", (json_int_t)s->first_record, "end_record", (json_int_t)s->end_record));
	else
		printf("%-14s %10" PRIu64 " %14" PRIu64 "  %-8s %s\n", s->name, s->samples, s->bytes,
		       s->complete ? "complete" : "partial", s->hash);
	return 0;
}

static int shards_ls(struct ts_dataset *ds, int json)
{
	struct ts_err e = TS_ERR_INIT;
	struct ls_state st = { .json = json, .arr = json ? json_array() : NULL };
	if (!json)
		printf("%-14s %10s %14s  %-8s %s\n", "shard", "samples", "bytes", "state", "xxh3-128");
	if (ts_dataset_foreach_shard(ds, ls_one, &st, &e)) {
		json_decref(st.arr);
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	if (json) {
		json_t *j = json_pack("{s:o, s:I, s:I, s:I}", "shards", st.arr,
				      "total_shards", (json_int_t)st.shards,
				      "total_samples", (json_int_t)st.samples,
				      "total_bytes", (json_int_t)st.bytes);
		char *s = json_dumps(j, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(j);
	} else {
		printf("%" PRIu64 " shards, %" PRIu64 " samples, %" PRIu64 " bytes\n",
		       st.shards, st.samples, st.bytes);
	}
	return TS_EXIT_OK;
}

/* ---- cat ------------------------------------------------------------------ */

static int shards_cat(struct ts_dataset *ds, const char *key, const char *ext)
{
	struct ts_err e = TS_ERR_INIT;
	uint8_t *data;
	size_t len;
	char kbuf[32];

	/* accept "42" for "000000042" */
	if (strspn(key, "0123456789") == strlen(key) && strlen(key) < 9) {
		snprintf(kbuf, sizeof(kbuf), "%09llu", strtoull(key, NULL, 10));
		key = kbuf;
	}
	if (ts_dataset_read_member(ds, key, ext, &data, &len, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	int rc = fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? TS_EXIT_OK : TS_EXIT_FAIL;
	if (rc)
		ts_error("cannot write to stdout");
	free(data);
	return rc;
}

/* shards merge: the driver's outcome, as a summary and an exit code */
static int merge(char **parts, int n, const char *out, int json)
{
	struct ts_merge_result r;
	struct ts_err e = TS_ERR_INIT;
	if (ts_shards_merge((const char **)parts, n, out, &r, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	if (r.interrupted) {
		ts_info("merge interrupted: %" PRIu64 " complete shards kept; run the same command to resume it",
			r.shards);
		return TS_EXIT_INTERRUPTED;
	}
	if (json)
		ts_print_json(json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:f}", "command", "shards merge",
					"outdir", out, "partitions", n, "samples", (json_int_t)r.samples,
					"rejects", (json_int_t)r.rejects, "shards", (json_int_t)r.shards,
					"bytes", (json_int_t)r.bytes, "seconds", r.seconds));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "merge done: %d partitions, %" PRIu64 " samples, %" PRIu64
			" rejects, %" PRIu64 " shards (%.1f MB), %.1f s\n",
			n, r.samples, r.rejects, r.shards, (double)r.bytes / 1e6, r.seconds);
	return TS_EXIT_OK;
}

int cmd_shards(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "member", required_argument, NULL, 'm' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *member = NULL, *out = NULL, *sub;
	int json = 0, c, rc;
	struct ts_dataset *ds = NULL;
	struct ts_err e = TS_ERR_INIT;

	static const char *const subs[] = { "ls", "cat", "verify", "index", "merge", NULL };
	if (ts_subcmd_pick("shards", subs, usage_shards, argc, argv, &rc) < 0)
		return rc;
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'm': member = optarg; break;
		case 'o': out = optarg; break;
		case 'J': json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_shards(stdout); return TS_EXIT_OK;
		default: return ts_usage_hint();
		}
	}
	int nargs = argc - optind;
	char **args = argv + optind;

	if (!strcmp(sub, "merge")) {
		if (!out)
			return usage_err("merge needs -o OUTDIR");
		if (nargs < 1)
			return usage_err("merge needs at least one PART_DIR");
		return merge(args, nargs, out, json);
	}
	if (nargs != (!strcmp(sub, "cat") ? 2 : 1))
		return usage_err(!strcmp(sub, "cat") ? "cat needs OUTDIR and KEY" : "expected one OUTDIR");
	if (!strcmp(sub, "index")) {
		/* it writes the sidecars: a writer, so the lock is exclusive */
		char cp[4200];
		snprintf(cp, sizeof(cp), "%s/catalog.sqlite", args[0]);
		int fd = access(cp, F_OK) ? -2 : ts_dataset_lock(args[0], 1, &e);
		if (fd == -1) {
			ts_error("%s", e.msg);
			return TS_EXIT_FAIL;
		}
		int irc = ts_shards_index(args[0], 1, &e);
		if (fd >= 0)
			close(fd);
		if (irc)
			ts_error("%s", e.msg);
		return irc ? TS_EXIT_FAIL : TS_EXIT_OK;
	}
	if (ts_dataset_open(&ds, args[0], &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	if (!strcmp(sub, "ls"))
		rc = shards_ls(ds, json);
	else if (!strcmp(sub, "cat"))
		rc = shards_cat(ds, args[1], member);
	else {
		uint64_t problems = 0;
		if (ts_shards_verify(ds, json, &problems, &e)) {
			ts_error("%s", e.msg);
			rc = TS_EXIT_FAIL;
		} else {
			rc = problems ? TS_EXIT_FAIL : TS_EXIT_OK;
		}
	}
	ts_dataset_close(ds);
	return rc;
}
