/*
 * cmd_shards.c - `tessera shards ls|cat|verify|index|merge`: inspect and
 * maintain a dataset written by ingest.  Read-only except index (writes
 * sidecar files) and merge (writes a new OUTDIR).  Each subcommand owns its
 * options and usage (a ts_subcmd table); -q, -v and -h are parsed once,
 * in shards_args().
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
#include "pipeline/commands/opt.h"
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
"Exit status: 0 ok, 1 error or (verify) a mismatch, 2 usage error.\n"
"'tessera shards SUBCOMMAND --help' lists a subcommand's options.\n", f);
}

#define SHARDS_COMMON_HELP \
"  -q, --quiet        fewer messages\n" \
"  -v, --verbose      more messages\n" \
"  -h, --help         this help\n"

static void usage_ls(FILE *f)
{
	fputs("usage: tessera shards ls [--json] OUTDIR\n\n"
	      "List the shards: samples, bytes, complete flag, content hash.\n\n"
	      "Options:\n"
	      "      --json         machine-readable output\n"
	      SHARDS_COMMON_HELP, f);
}

static void usage_cat(FILE *f)
{
	fputs("usage: tessera shards cat OUTDIR KEY [--member EXT]\n\n"
	      "Write one member's bytes to stdout (default: the image).  KEY may be\n"
	      "given without its leading zeros (42 for 000000042).\n\n"
	      "Options:\n"
	      "  -m, --member EXT   member extension (jpg, txt, json, ...)\n"
	      SHARDS_COMMON_HELP, f);
}

static void usage_verify(FILE *f)
{
	fputs("usage: tessera shards verify [--json] OUTDIR\n\n"
	      "Re-read every shard; check every catalog row's offsets, sizes and\n"
	      "content hashes; report each mismatch with its sample.\n\n"
	      "Options:\n"
	      "      --json         machine-readable output\n"
	      SHARDS_COMMON_HELP
	      "\nExit status: 0 ok, 1 an error or a mismatch, 2 usage error.\n", f);
}

static void usage_index(FILE *f)
{
	fputs("usage: tessera shards index OUTDIR\n\n"
	      "(Re)write the loader sidecars next to the shards: sizes.json,\n"
	      "shardindex.json, NNNNNN.idx (DALI), NNNNNN_stats.json.\n\n"
	      "Options:\n"
	      SHARDS_COMMON_HELP, f);
}

static void usage_merge(FILE *f)
{
	fputs("usage: tessera shards merge [--json] PART_DIR... -o OUTDIR\n\n"
	      "Combine partitions (tessera ingest --part) into one dataset,\n"
	      "byte-identical to a single run over the whole input.\n\n"
	      "Options:\n"
	      "  -o, --output DIR   the output dataset (required)\n"
	      "      --json         machine-readable output\n"
	      SHARDS_COMMON_HELP, f);
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

static int ls_one(const struct ts_dataset_shard *s, void *user)
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

enum { OPT_JSON = 'J' };

struct shards_args {
	const char *member, *out;
	int json;
	int nargs;
	char **args;
};

/* Parse a subcommand's options: the common -q, -v, -h and the ones in
 * own (a getopt short string's letters; 'J' for --json).  0 with *a
 * filled, 1 after --help (*rc = 0), or 1 with *rc the usage exit code. */
static int shards_args(int argc, char **argv, const char *own, void (*usage)(FILE *f),
		       struct shards_args *a, int *rc)
{
	static const struct option all[] = {
		{ "member", required_argument, NULL, 'm' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
	};
	struct option opts[8];
	char shorts[16] = "";
	size_t n = 0;
	int c;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strchr(own, all[i].val)) {
			opts[n++] = all[i];
			if (all[i].val != OPT_JSON) {
				size_t l = strlen(shorts);
				shorts[l] = (char)all[i].val;
				shorts[l + 1] = ':';
				shorts[l + 2] = '\0';
			}
		}
	opts[n++] = (struct option){ "quiet", no_argument, NULL, 'q' };
	opts[n++] = (struct option){ "verbose", no_argument, NULL, 'v' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	strcat(shorts, "qvh");
	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		switch (c) {
		case 'm': a->member = optarg; break;
		case 'o': a->out = optarg; break;
		case OPT_JSON: a->json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage(stdout); *rc = TS_EXIT_OK; return 1;
		default: *rc = ts_usage_hint(); return 1;
		}
	}
	a->nargs = argc - optind;
	a->args = argv + optind;
	return 0;
}

/* ls, cat and verify: open the dataset (shared lock) and run. */
static int on_dataset(const struct shards_args *a, int want, const char *msg, int (*fn)(struct ts_dataset *ds, const struct shards_args *a))
{
	struct ts_dataset *ds = NULL;
	struct ts_err e = TS_ERR_INIT;
	int rc;
	if (a->nargs != want)
		return usage_err(msg);
	if (ts_dataset_open(&ds, a->args[0], &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	rc = fn(ds, a);
	ts_dataset_close(ds);
	return rc;
}

static int run_ls(struct ts_dataset *ds, const struct shards_args *a) { return shards_ls(ds, a->json); }
static int run_cat(struct ts_dataset *ds, const struct shards_args *a) { return shards_cat(ds, a->args[1], a->member); }
static int run_verify(struct ts_dataset *ds, const struct shards_args *a)
{
	uint64_t problems = 0;
	struct ts_err e = TS_ERR_INIT;
	if (ts_shards_verify(ds, a->json, &problems, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	return problems ? TS_EXIT_FAIL : TS_EXIT_OK;
}

static int shards_ls_main(int argc, char **argv)
{
	struct shards_args a;
	int rc;
	if (shards_args(argc, argv, "J", usage_ls, &a, &rc))
		return rc;
	return on_dataset(&a, 1, "expected one OUTDIR", run_ls);
}

static int shards_cat_main(int argc, char **argv)
{
	struct shards_args a;
	int rc;
	if (shards_args(argc, argv, "m", usage_cat, &a, &rc))
		return rc;
	return on_dataset(&a, 2, "cat needs OUTDIR and KEY", run_cat);
}

static int shards_verify_main(int argc, char **argv)
{
	struct shards_args a;
	int rc;
	if (shards_args(argc, argv, "J", usage_verify, &a, &rc))
		return rc;
	return on_dataset(&a, 1, "expected one OUTDIR", run_verify);
}

static int shards_index_main(int argc, char **argv)
{
	struct shards_args a;
	struct ts_err e = TS_ERR_INIT;
	char cp[4200];
	int rc;
	if (shards_args(argc, argv, "", usage_index, &a, &rc))
		return rc;
	if (a.nargs != 1)
		return usage_err("expected one OUTDIR");
	/* it writes the sidecars: a writer, so the lock is exclusive */
	snprintf(cp, sizeof(cp), "%s/catalog.sqlite", a.args[0]);
	int fd = access(cp, F_OK) ? -2 : ts_dataset_lock(a.args[0], 1, &e);
	if (fd == -1) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	rc = ts_shards_index(a.args[0], 1, &e);
	if (fd >= 0)
		close(fd);
	if (rc)
		ts_error("%s", e.msg);
	return rc ? TS_EXIT_FAIL : TS_EXIT_OK;
}

static int shards_merge_main(int argc, char **argv)
{
	struct shards_args a;
	int rc;
	if (shards_args(argc, argv, "oJ", usage_merge, &a, &rc))
		return rc;
	if (!a.out)
		return usage_err("merge needs -o OUTDIR");
	if (a.nargs < 1)
		return usage_err("merge needs at least one PART_DIR");

	struct ts_merge_result r;
	struct ts_err e = TS_ERR_INIT;
	if (ts_shards_merge((const char **)a.args, a.nargs, a.out, &r, &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	if (r.interrupted) {
		ts_info("merge interrupted: %" PRIu64 " complete shards kept; run the same command to resume it",
			r.shards);
		return TS_EXIT_INTERRUPTED;
	}
	if (a.json)
		ts_print_json(json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:f}", "command", "shards merge",
					"outdir", a.out, "partitions", a.nargs, "samples", (json_int_t)r.samples,
					"rejects", (json_int_t)r.rejects, "shards", (json_int_t)r.shards,
					"bytes", (json_int_t)r.bytes, "seconds", r.seconds));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "merge done: %d partitions, %" PRIu64 " samples, %" PRIu64
			" rejects, %" PRIu64 " shards (%.1f MB), %.1f s\n",
			a.nargs, r.samples, r.rejects, r.shards, (double)r.bytes / 1e6, r.seconds);
	return TS_EXIT_OK;
}

int cmd_shards(int argc, char **argv)
{
	static const struct ts_subcmd subs[] = {
		{ "ls", shards_ls_main },
		{ "cat", shards_cat_main },
		{ "verify", shards_verify_main },
		{ "index", shards_index_main },
		{ "merge", shards_merge_main },
		{ NULL, NULL },
	};
	return ts_subcmd_run("shards", subs, NULL, usage_shards, argc, argv);
}
