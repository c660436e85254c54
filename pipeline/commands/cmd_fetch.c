/*
 * cmd_fetch.c - `tessera fetch`: URL lists into shards and a catalog.  Parses
 * options into struct ts_ingest_opts (the same spine as ingest: resume,
 * --part, sidecars, merge) plus the downloader's options, and runs
 * ts_ingest_run with the fetch source wrapped around each list reader.
 * Usage errors exit 2 with a one-line hint.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/cmd.h"
#include "base/buf.h"
#include "shards/dataset.h"
#include "shards/shards.h"
#include "pipeline/commands/ingest_summary.h"
#include "pipeline/drivers/ingest.h"
#include "pipeline/commands/opt.h"
#include "pipeline/sources/source_fetch.h"
#include "pipeline/util.h"

#define TS_PROJECT_URL "https://github.com/tessera"

void usage_fetch(FILE *f)
{
	fputs(
"usage: tessera fetch [options] LIST... -o OUTDIR\n"
"   or: tessera fetch --retry-failed OUTDIR [--reasons SET] [download options]\n"
"\n"
"Download the images of URL lists (CC3M, CC12M, RedCaps, SBU, LAION-style\n"
"CSV/TSV/JSONL) and write them as `tessera ingest` does: WebDataset shards and\n"
"a SQLite catalog in OUTDIR, one record per list row, failed downloads as\n"
"rejects with a fetch.* reason.  Re-running on a partial OUTDIR resumes it.\n"
"\n"
"Input:\n"
"  -f, --format FMT        csv, tsv, jsonl, json, parquet (default: from each\n"
"                          LIST's extension, parquet by its magic; .json is\n"
"                          json)\n"
"      --json-path KEYS    json: the dotted key path of the record array\n"
"                          (RedCaps: annotations); without it, the top level:\n"
"                          an array of records, or parallel arrays (SBU:\n"
"                          image_urls and captions)\n"
"      --url-col NAME      URL column (default: first of url, URL, image_url,\n"
"                          img_url, image)\n"
"      --caption-col NAME  caption column (default: first of caption, text)\n"
"      --id-col NAME       copied into KEY.json as uid\n"
"      --no-header         CSV/TSV: the first row is data, not a header\n"
"      --columns LIST      CSV/TSV without a header: the column names, in order\n"
"      --preset NAME       column layout of a known dataset: cc3m (no header:\n"
"                          caption, url), cc12m (no header: url, caption),\n"
"                          laion (URL, TEXT), datacomp (url, text), coyo\n"
"                          (url, text)\n"
"      --quoting MODE      CSV/TSV quoting: csv (the default for .csv) or none\n"
"                          (literal fields, the default for .tsv)\n"
"      --max-quoted-bytes N  CSV: a quoted field running over lines must end\n"
"                          within N bytes (default: 1MiB) ...\n"
"      --max-quoted-lines N  ... and N lines (default: 1000)\n"
"      --keep-col COL      copy column COL into KEY.json (repeatable, or a\n"
"                          comma-separated list)\n"
"      --group-by KEY      CSV/TSV/JSONL: merge the rows of one URL (KEY image)\n"
"                          or of one value of column KEY into one sample\n"
"      --hash-col NAME     expected hash of the image bytes (hex); a mismatch\n"
"                          is rejected as fetch.hash_mismatch\n"
"      --hash-type TYPE    sha256 (default) or md5\n"
"\n"
"Download:\n"
"  -j, --concurrency N     transfers in flight (default: 64)\n"
"      --per-host N        transfers in flight per host (default: 4)\n"
"      --window N          records read ahead of the writer (default: 16 x\n"
"                          --concurrency)\n"
"      --timeout T         whole-request deadline (default: 30s)\n"
"      --connect-timeout T connect deadline (default: 10s)\n"
"      --low-speed B/T     abort a transfer below B bytes/s for T (default:\n"
"                          1K/10s; 0 turns it off)\n"
"      --max-bytes N       largest body, K/M/G suffixes (default: 32MiB)\n"
"      --max-redirects N   (default: 8)\n"
"      --retries N         extra attempts after a transient failure (default: 2)\n"
"      --backoff T         wait before the first retry, doubled each time,\n"
"                          with jitter (default: 1s)\n"
"      --max-retry-after T longest Retry-After waited for (default: 60s)\n"
"      --host-failures N   pause a host after N consecutive connect, DNS or\n"
"                          429 failures (default: 5; 0: never)\n"
"      --host-pause T      how long a tripped host is paused (default: 30s)\n"
"      --host-rate R       requests per second per host (default: unlimited)\n"
"      --deadline T        stop fetching after T: running transfers become\n"
"                          fetch.deferred, everything is committed\n"
"      --user-agent UA     (default: tessera/VERSION (+" TS_PROJECT_URL "))\n"
"      --respect LIST      opt-out signals honoured: all (default), none, or\n"
"                          noai,noimageai,noindex,noimageindex,none,tdm\n"
"      --resolve H:P:A     connect HOST:PORT to ADDRESS (curl's spelling);\n"
"                          repeatable\n"
"      --connect-to H1:P1:H2:P2  connect to H2:P2 instead of H1:P1, the URL\n"
"                          and Host header unchanged (curl's spelling; an\n"
"                          empty H1 or P1 matches any); repeatable\n"
"      --allow-private[=A,...]  allow loopback and private addresses (all, or\n"
"                          only those listed); default: refused\n"
"      --insecure          do not verify TLS certificates\n"
"      --seed N            seed of the retry jitter (default: 0)\n"
"\n"
"Images:\n"
"      --resize MODE       no, border, keep-ratio, keep-ratio-largest,\n"
"                          center-crop, stretch (default: center-crop)\n"
"  -s, --size N            target size in pixels (default: 256)\n"
"      --min-size N        reject images whose shorter side is below N (default: 0)\n"
"      --max-pixels N      reject images with more pixels than N (default: 100M)\n"
"      --encode FMT        jpeg, webp, png, keep (default: jpeg)\n"
"      --quality Q         JPEG/WebP quality 1-100 (default: 95)\n"
"      --subsampling S     JPEG chroma subsampling: 420 (default) or 444\n"
"      --shard-digits N    digits of shard names: NNNNNNNN.tar and\n"
"                          NNNNNNNN_stats.json with 8, as DataComp's tools\n"
"                          read them (default: 6; --stats-digits is the same)\n"
"      --max-caption-bytes N  reject captions longer than N bytes (default: 1MiB)\n"
"      --vocab PATH        CLIP vocabulary for the catalog's token counts\n"
"      --no-tokens         do not count CLIP tokens\n"
"      --threads N         decode/resize/encode threads (default: all cores)\n"
"\n"
"Output:\n"
"  -o, --output OUTDIR     where to write the dataset (required)\n"
"      --shard-samples N   samples per shard (default: 10000)\n"
"      --shard-bytes N     bytes per shard (default: 1GiB)\n"
"      --overwrite         delete the dataset in OUTDIR and start afresh\n"
"      --store STORE       tar (default) or sqlite\n"
"      --dedup MODE        none (default) or exact\n"
"\n"
"Partitions (see docs/scale-out.md):\n"
"      --part I/N          only records whose number modulo N is I, into\n"
"                          OUTDIR/part-I\n"
"      --parts N           partition count with $JOB_COMPLETION_INDEX;\n"
"                          $SLURM_ARRAY_TASK_ID is used without --part\n"
"\n"
"Run:\n"
"      --json              print the summary as JSON on stdout\n"
"      --progress          always show the progress line\n"
"      --no-progress       never show it (default: only on a terminal)\n"
"  -q, --quiet             no progress, no per-reject messages, no summary\n"
"  -v, --verbose           more messages\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 when the run finished (failed downloads are rejects, not\n"
"failures; a run stopped by --deadline also exits 0 and says so), 1 on a\n"
"fatal error, 2 on a usage error, 130 when interrupted.\n"
"See tessera-fetch(1) and docs/fetch.md.\n", f);
}

enum {
	OPT_URL_COL = 256, OPT_HASH_COL, OPT_HASH_TYPE,
	OPT_PER_HOST, OPT_WINDOW, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_LOW_SPEED,
	OPT_MAX_BYTES, OPT_MAX_REDIRECTS, OPT_RETRIES, OPT_BACKOFF, OPT_MAX_RETRY_AFTER,
	OPT_HOST_FAILURES, OPT_HOST_PAUSE, OPT_HOST_RATE, OPT_DEADLINE, OPT_USER_AGENT,
	OPT_RESPECT, OPT_RESOLVE, OPT_CONNECT_TO, OPT_ALLOW_PRIVATE, OPT_INSECURE, OPT_SEED,
	OPT_THREADS, OPT_RETRY_FAILED, OPT_REASONS, OPT_JSON_PATH,
};

static const struct option long_opts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "url-col", required_argument, NULL, OPT_URL_COL },
	{ "json-path", required_argument, NULL, OPT_JSON_PATH },
	{ "hash-col", required_argument, NULL, OPT_HASH_COL },
	{ "hash-type", required_argument, NULL, OPT_HASH_TYPE },
	{ "concurrency", required_argument, NULL, 'j' },
	{ "per-host", required_argument, NULL, OPT_PER_HOST },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "low-speed", required_argument, NULL, OPT_LOW_SPEED },
	{ "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
	{ "max-redirects", required_argument, NULL, OPT_MAX_REDIRECTS },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "backoff", required_argument, NULL, OPT_BACKOFF },
	{ "max-retry-after", required_argument, NULL, OPT_MAX_RETRY_AFTER },
	{ "host-failures", required_argument, NULL, OPT_HOST_FAILURES },
	{ "host-pause", required_argument, NULL, OPT_HOST_PAUSE },
	{ "host-rate", required_argument, NULL, OPT_HOST_RATE },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "user-agent", required_argument, NULL, OPT_USER_AGENT },
	{ "respect", required_argument, NULL, OPT_RESPECT },
	{ "resolve", required_argument, NULL, OPT_RESOLVE },
	{ "connect-to", required_argument, NULL, OPT_CONNECT_TO },
	{ "allow-private", optional_argument, NULL, OPT_ALLOW_PRIVATE },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "retry-failed", required_argument, NULL, OPT_RETRY_FAILED },
	{ "reasons", required_argument, NULL, OPT_REASONS },
	{ "help", no_argument, NULL, 'h' },
	TS_OPT_LIST_LONGOPTS,
	TS_OPT_WRITER_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *opt, const char *val, const char *want)
{
	return ts_opt_bad("fetch", opt, val, want);
}

/* "30", "30s", "500ms", "5m", "2h" into seconds; -1 when malformed. */
static double parse_duration(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || !(v >= 0) || !isfinite(v))
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "ms"))
		return v / 1000;
	if (!strcmp(end, "m"))
		return v * 60;
	if (!strcmp(end, "h"))
		return v * 3600;
	return -1;
}

struct fetch_run {
	struct ts_fetch_ctx *ctx;
	struct ts_fetch_ctx_opts co;
	int deadline_set;
};

/* ---- --retry-failed ---- */

struct retry_sel {
	uint64_t end;               /* end of the complete shard prefix */
	unsigned next_idx;
	int prefix_broken;
	const char *reasons;        /* "transient", "all" or a list */
	uint64_t *recs;
	size_t n, cap;
};

static int sel_shard(const struct ts_dataset_shard *sh, void *user)
{
	struct retry_sel *r = user;
	if (r->prefix_broken || sh->idx != r->next_idx || !sh->complete || sh->end_record < r->end) {
		r->prefix_broken = 1;
		return 0;
	}
	r->end = sh->end_record;
	r->next_idx++;
	return 0;
}

static int reason_selected(const char *set, const char *reason)
{
	enum ts_reason rr = ts_reason_from_name(reason);
	if (rr == TS_R__COUNT)
		return 0;
	if (!strcmp(set, "transient"))
		return ts_reason_transient(rr);
	if (!strcmp(set, "all"))
		return !strncmp(reason, "fetch.", 6);
	size_t n = strlen(reason);
	for (const char *p = set; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && !strncmp(p, reason, n))
			return 1;
		p += k;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int sel_reject(const struct ts_dataset_reject *rj, void *user)
{
	struct retry_sel *r = user;
	if (rj->record >= r->end || !reason_selected(r->reasons, rj->reason))
		return 0;
	if (TS_ALLOC_GROW(r->recs, r->cap, r->n + 1))
		return -1;
	r->recs[r->n++] = rj->record;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int check_reasons(const char *set)
{
	if (!strcmp(set, "transient") || !strcmp(set, "all"))
		return 0;
	for (const char *p = set; *p;) {
		size_t k = strcspn(p, ",");
		char name[64];
		if (k == 0 || k >= sizeof(name))
			return -1;
		memcpy(name, p, k);
		name[k] = '\0';
		if (ts_reason_from_name(name) == TS_R__COUNT || strncmp(name, "fetch.", 6))
			return -1;
		p += k;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* The options of the run that made dir, from its catalog, into o and net;
 * the records to fetch again into sel.  Returns 0, or an exit code after a
 * message.  *opts_json keeps the strings o points into. */
static int retry_setup(const char *dir, struct ts_ingest_opts *o, struct ts_fetch_opts *net,
		       struct retry_sel *sel, json_t **opts_json, const char **respect_s)
{
	struct ts_dataset *ds = NULL;
	struct ts_err e = TS_ERR_INIT;
	char *meta = NULL;
	json_t *j = NULL, *fj, *v;
	json_error_t jerr;
	int rc = TS_EXIT_FAIL;

	if (ts_dataset_open(&ds, dir, &e)) {
		ts_error("%s", e.msg);
		goto out;
	}
	if (!(meta = ts_dataset_meta(ds, "ingest_options")) || !(j = json_loads(meta, 0, &jerr))) {
		ts_error("'%s' has no options in its catalog: not a tessera dataset", dir);
		goto out;
	}
	if (!json_is_object(fj = json_object_get(j, "fetch"))) {
		ts_error("'%s' was not made by tessera fetch: nothing to retry", dir);
		goto out;
	}
	json_t *inputs = json_object_get(j, "inputs");
	size_t ni = json_array_size(inputs);
	if (!ni) {
		ts_error("'%s' lists no inputs in its catalog", dir);
		goto out;
	}
	o->inputs = calloc(ni, sizeof(*o->inputs));
	if (!o->inputs)
		goto out;
	for (size_t i = 0; i < ni; i++)
		o->inputs[i] = json_string_value(json_array_get(inputs, i));
	o->ninputs = (int)ni;
#define S(name) (json_is_string(v = json_object_get(j, name)) ? json_string_value(v) : NULL)
#define I(name) json_integer_value(json_object_get(j, name))
	int fmt = ts_input_format_parse(S("format"));
	o->src.format = fmt > 0 ? (enum ts_input_format)fmt : TS_INPUT_AUTO;
	o->src.image_root = S("image_root");
	o->src.image_col = S("image_col");
	o->src.caption_col = S("caption_col");
	int rm = ts_resize_mode_parse(S("resize") ? S("resize") : "");
	int en = ts_encode_fmt_parse(S("encode") ? S("encode") : "");
	if (rm < 0 || en < 0) {
		ts_error("cannot read the options in the catalog of '%s'", dir);
		goto out;
	}
	o->px.resize = (enum ts_resize_mode)rm;
	o->px.encode = (enum ts_encode_fmt)en;
	o->px.size = (int)I("size");
	o->px.min_size = (int)I("min_size");
	o->px.max_pixels = (uint64_t)I("max_pixels");
	o->px.quality = (int)I("quality");
	o->subsampling = I("subsampling") == 444 ? 444 : 420;
	o->shard_digits = (int)I("shard_digits");
	o->shard_samples = (uint64_t)I("shard_samples");
	o->shard_bytes = (uint64_t)I("shard_bytes");
	o->max_file_bytes = (uint64_t)I("max_file_bytes");
	o->max_caption_bytes = (uint64_t)I("max_caption_bytes");
	o->part_index = (unsigned)I("part_index");
	o->part_count = (unsigned)I("part_count");
	/* the reader options ingest stores only when they are not defaults */
	const char *q = S("quoting");
	o->src.quoting = !q ? TS_QUOTING_DEFAULT : !strcmp(q, "csv") ? TS_QUOTING_CSV : TS_QUOTING_NONE;
	o->src.no_header = json_is_true(json_object_get(j, "no_header"));
	o->src.columns = S("columns");
	o->src.group_by = S("group_by");
	o->src.max_quoted_bytes = (uint64_t)I("max_quoted_bytes");
	o->src.max_quoted_lines = (uint64_t)I("max_quoted_lines");
	o->src.max_group_bytes = (uint64_t)I("max_group_bytes");
	json_t *kc = json_object_get(j, "keep_cols");
	if (json_array_size(kc)) {
		const char **k = calloc(json_array_size(kc), sizeof(*k));
		if (!k)
			goto out;
		for (size_t i = 0; i < json_array_size(kc); i++)
			k[i] = json_string_value(json_array_get(kc, i));
		o->src.keep_cols = k;
		o->src.nkeep_cols = json_array_size(kc);
	}
	const char *dd = S("dedup"), *st = S("store");
	o->dedup = dd && !strcmp(dd, "exact");
	o->store = st && !strcmp(st, "sqlite") ? TS_STORE_SQLITE : TS_STORE_TAR;
#undef S
#undef I
	v = json_object_get(fj, "id_col");
	o->src.id_col = json_string_value(v);
	o->src.hash_col = json_string_value(json_object_get(fj, "hash_col"));
	o->src.json_path = json_string_value(json_object_get(fj, "json_path"));
	if (json_string_value(json_object_get(fj, "hash_type")))
		o->src.hash_type = json_string_value(json_object_get(fj, "hash_type"));
	net->max_bytes = (uint64_t)json_integer_value(json_object_get(fj, "max_bytes"));
	net->max_redirects = (int)json_integer_value(json_object_get(fj, "max_redirects"));
	if (json_string_value(json_object_get(fj, "respect")))
		*respect_s = json_string_value(json_object_get(fj, "respect"));

	if (ts_dataset_foreach_shard(ds, sel_shard, sel, &e) < 0 ||
	    ts_dataset_foreach_reject(ds, sel_reject, sel, &e) != 0) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		goto out;
	}
	if (sel->n)
		qsort(sel->recs, sel->n, sizeof(*sel->recs), cmp_u64);
	*opts_json = j;
	j = NULL;
	rc = 0;
out:
	json_decref(j);
	free(meta);
	ts_dataset_close(ds);
	return rc;
}

static int hook_wrap(struct ts_source **src, void *user, uint64_t resume_record, struct ts_err *err)
{
	struct fetch_run *fr = user;
	return ts_source_fetch_wrap(src, fr->ctx, resume_record, err);
}

static void hook_progress(void *user, char *buf, size_t n)
{
	struct fetch_run *fr = user;
	ts_fetch_ctx_progress(fr->ctx, buf, n);
}

/* The summary of the run with fetch's download figures: a "fetch" object
 * in the JSON one, lines after the text one. */
static void fetch_summary(struct fetch_run *fr, const struct ts_ingest_opts *o,
			  const struct ts_ingest_result *res)
{
	struct ts_fetch_summary s;
	char *text = NULL;
	size_t len = 0;
	ts_fetch_ctx_summary(fr->ctx, &s);
	/* most of the downloading spent with transfers held back by
	 * --per-host while --concurrency had room: a list of few hosts */
	int host_bound = s.net.host_bound_seconds >= 1.0 &&
			 s.net.host_bound_seconds >= 0.5 * s.net.busy_seconds;
	json_t *j = json_pack("{s:{s:I, s:I, s:I, s:I, s:b, s:i, s:f, s:f, s:f}}", "fetch",
		"downloads", (json_int_t)s.net.finished,
		"downloaded", (json_int_t)s.fetched_ok,
		"bytes_downloaded", (json_int_t)s.net.bytes,
		"dns_failures", (json_int_t)s.net.dns_failures,
		"deadline_reached", s.deadline_hit,
		"hosts_down", (int)s.net.hosts_down,
		"success_ratio", s.net.finished ? (double)s.fetched_ok / (double)s.net.finished : 1.0,
		"download_seconds", s.net.busy_seconds,
		"per_host_bound_seconds", s.net.host_bound_seconds);
	FILE *f = open_memstream(&text, &len);
	if (f) {
		fprintf(f, "  downloads: %llu finished, %llu arrived (%.1f%%), %.1f MB",
			(unsigned long long)s.net.finished, (unsigned long long)s.fetched_ok,
			s.net.finished ? 100.0 * (double)s.fetched_ok / (double)s.net.finished : 100.0,
			(double)s.net.bytes / 1e6);
		if (s.net.hosts_down)
			fprintf(f, ", %u hosts down", s.net.hosts_down);
		fputc('\n', f);
		if (host_bound)
			fprintf(f, "  transfers waited for a free slot on their host (--per-host %d) for %.0f%% "
				"of the %.1f s of downloading while fewer than %d ran: the list names few hosts; "
				"if they allow more connections, raise --per-host\n",
				fr->co.net.per_host, 100.0 * s.net.host_bound_seconds / s.net.busy_seconds,
				s.net.busy_seconds, fr->co.net.concurrency);
		if (s.deadline_hit)
			fprintf(f, "  --deadline reached: unfinished records are fetch.deferred; run the same "
				"command again to go on, and 'tessera fetch --retry-failed' for the deferred ones\n");
		if (fclose(f))
			text = (free(text), NULL);
	}
	ts_ingest_summary("fetch", o, res, j, text);
	json_decref(j);
	free(text);
}

int cmd_fetch(int argc, char **argv)
{
	struct ts_ingest_opts o;
	struct ts_fetch_opts *net;
	struct fetch_run fr;
	struct ts_ingest_hooks hooks;
	uint64_t u;
	long l;
	double d, deadline = 0;
	int c, v, rc = TS_EXIT_FAIL;
	char *cmdline = NULL, *partdir = NULL, *ua = NULL, *fp = NULL;
	const char **resolve = NULL, **connect_to = NULL;
	int nresolve = 0, nconnect_to = 0;
	struct ts_opt_cli cli = { 0 };
	const char *respect_s = "all";
	const char *retry_dir = NULL;
	struct retry_sel sel = { .reasons = "transient" };
	json_t *retry_json = NULL;

	ts_ingest_opts_default(&o);
	memset(&fr, 0, sizeof(fr));
	memset(&hooks, 0, sizeof(hooks));
	o.src.urls = 1;
	o.src.hash_type = "sha256";
	net = &fr.co.net;
	ts_fetch_opts_default(net);

	resolve = calloc((size_t)argc + 1, sizeof(*resolve));
	connect_to = calloc((size_t)argc + 1, sizeof(*connect_to));
	if (!resolve || !connect_to) {
		free(resolve);
		free(connect_to);
		return TS_EXIT_FAIL;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:s:o:j:qvh", long_opts, NULL)) != -1) {
		int r = ts_opt_groups(c, optarg, &o, &cli, "fetch");
		if (r == TS_OPT_TAKEN)
			continue;
		if (r != TS_OPT_NOT_MINE) {
			rc = r;
			goto out;
		}
		switch (c) {
		case 'f':
			if ((v = ts_input_format_parse(optarg)) < 0 ||
			    (v != TS_INPUT_CSV && v != TS_INPUT_TSV && v != TS_INPUT_JSONL &&
			     v != TS_INPUT_JSON && v != TS_INPUT_PARQUET)) {
				rc = bad("--format", optarg, "expected csv, tsv, jsonl, json or parquet");
				goto out;
			}
			o.src.format = (enum ts_input_format)v;
			break;
		case OPT_URL_COL: o.src.image_col = optarg; break;
		case OPT_JSON_PATH: o.src.json_path = optarg; break;
		case OPT_HASH_COL: o.src.hash_col = optarg; break;
		case OPT_HASH_TYPE:
			if (strcmp(optarg, "sha256") && strcmp(optarg, "md5")) {
				rc = bad("--hash-type", optarg, "expected sha256 or md5");
				goto out;
			}
			o.src.hash_type = optarg;
			break;
		case 'j':
			if (ts_parse_int(optarg, 1, 4096, &l)) {
				rc = bad("--concurrency", optarg, "expected an integer from 1 to 4096");
				goto out;
			}
			net->concurrency = (int)l;
			break;
		case OPT_PER_HOST:
			if (ts_parse_int(optarg, 1, 1024, &l)) {
				rc = bad("--per-host", optarg, "expected an integer from 1 to 1024");
				goto out;
			}
			net->per_host = (int)l;
			break;
		case OPT_WINDOW:
			if (ts_parse_int(optarg, 16, 1 << 24, &l)) {
				rc = bad("--window", optarg, "expected an integer from 16 to 16777216");
				goto out;
			}
			fr.co.window = (size_t)l;
			break;
		case OPT_TIMEOUT:
		case OPT_CONNECT_TIMEOUT:
			if ((d = parse_duration(optarg)) <= 0 || d > 86400) {
				rc = bad(c == OPT_TIMEOUT ? "--timeout" : "--connect-timeout", optarg,
					 "expected a duration such as 30s, 500ms or 2m");
				goto out;
			}
			if (c == OPT_TIMEOUT)
				net->timeout_ms = (long)(d * 1000 + 0.5);
			else
				net->connect_timeout_ms = (long)(d * 1000 + 0.5);
			break;
		case OPT_LOW_SPEED: {
			char *slash = strchr(optarg, '/');
			if (!strcmp(optarg, "0")) {
				net->low_speed_secs = 0;
				break;
			}
			if (!slash) {
				rc = bad("--low-speed", optarg, "expected BYTES/TIME such as 1K/10s, or 0");
				goto out;
			}
			*slash = '\0';
			int okb = ts_parse_u64(optarg, 1, &u) == 0 && u > 0 && u < (1ULL << 40);
			*slash = '/';
			d = parse_duration(slash + 1);
			if (!okb || d < 1 || d > 86400) {
				rc = bad("--low-speed", optarg, "expected BYTES/TIME such as 1K/10s (TIME at least 1s)");
				goto out;
			}
			net->low_speed_bytes = (long)u;
			net->low_speed_secs = (long)d;
			break;
		}
		case OPT_MAX_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u == 0 || u > (1ULL << 34)) {
				rc = bad("--max-bytes", optarg, "expected a size up to 16GiB (K/M/G suffixes allowed)");
				goto out;
			}
			net->max_bytes = u;
			break;
		case OPT_MAX_REDIRECTS:
			if (ts_parse_int(optarg, 0, 50, &l)) {
				rc = bad("--max-redirects", optarg, "expected an integer from 0 to 50");
				goto out;
			}
			net->max_redirects = (int)l;
			break;
		case OPT_RETRIES:
			if (ts_parse_int(optarg, 0, 20, &l)) {
				rc = bad("--retries", optarg, "expected an integer from 0 to 20");
				goto out;
			}
			net->retries = (int)l;
			break;
		case OPT_BACKOFF:
		case OPT_MAX_RETRY_AFTER:
		case OPT_HOST_PAUSE:
			if ((d = parse_duration(optarg)) < 0 || d > 86400) {
				rc = bad(c == OPT_BACKOFF ? "--backoff" : c == OPT_HOST_PAUSE ? "--host-pause"
					 : "--max-retry-after", optarg, "expected a duration such as 1s or 500ms");
				goto out;
			}
			if (c == OPT_BACKOFF)
				net->backoff = d;
			else if (c == OPT_HOST_PAUSE)
				net->host_pause = d;
			else
				net->max_retry_after = d;
			break;
		case OPT_HOST_FAILURES:
			if (ts_parse_int(optarg, 0, 1000000, &l)) {
				rc = bad("--host-failures", optarg, "expected a non-negative integer");
				goto out;
			}
			net->host_failures = (int)l;
			break;
		case OPT_HOST_RATE: {
			char *end;
			d = strtod(optarg, &end);
			if (end == optarg || *end || !(d > 0) || d > 1e6) {
				rc = bad("--host-rate", optarg, "expected requests per second, such as 2 or 0.5");
				goto out;
			}
			net->host_rate = d;
			break;
		}
		case OPT_DEADLINE:
			if ((d = parse_duration(optarg)) <= 0) {
				rc = bad("--deadline", optarg, "expected a duration such as 90s, 30m or 12h");
				goto out;
			}
			deadline = d;
			break;
		case OPT_USER_AGENT: net->user_agent = optarg; break;
		case OPT_RESPECT:
			if (ts_fetch_parse_respect(optarg) < 0) {
				rc = bad("--respect", optarg,
					 "expected all, none, or a list of noai, noimageai, noindex, noimageindex, none, tdm");
				goto out;
			}
			respect_s = optarg;
			break;
		case OPT_RESOLVE:
			{
				char host[256], addr[256];
				unsigned port;
				if (sscanf(optarg, "%255[^:]:%u:%255s", host, &port, addr) != 3 ||
				    port == 0 || port > 65535) {
					rc = bad("--resolve", optarg, "expected HOST:PORT:ADDRESS");
					goto out;
				}
			}
			resolve[nresolve++] = optarg;
			break;
		case OPT_CONNECT_TO: {
			/* HOST1:PORT1:HOST2:PORT2, each part may be empty; a
			 * bracketed IPv6 address keeps its colons */
			int nparts = 1, br = 0;
			for (const char *p = optarg; *p; p++) {
				if (*p == '[')
					br = 1;
				else if (*p == ']')
					br = 0;
				else if (*p == ':' && !br)
					nparts++;
			}
			if (nparts != 4) {
				rc = bad("--connect-to", optarg, "expected HOST1:PORT1:HOST2:PORT2 (parts may be empty)");
				goto out;
			}
			connect_to[nconnect_to++] = optarg;
			break;
		}
		case OPT_ALLOW_PRIVATE:
			if (optarg && *optarg)
				net->allow_addrs = optarg;
			else
				net->allow_private = 1;
			break;
		case OPT_INSECURE: net->insecure = 1; break;
		case OPT_SEED:
			if (ts_parse_u64(optarg, 0, &u)) {
				rc = bad("--seed", optarg, "expected a non-negative integer");
				goto out;
			}
			net->seed = u;
			break;
		case OPT_THREADS:
			if (ts_parse_int(optarg, 0, 1024, &l)) {
				rc = bad("--threads", optarg, "expected an integer from 0 (all cores) to 1024");
				goto out;
			}
			o.threads = (int)l;
			break;
		case OPT_RETRY_FAILED: retry_dir = optarg; break;
		case OPT_REASONS:
			if (check_reasons(optarg)) {
				rc = bad("--reasons", optarg, "expected transient, all or a list of fetch.* reason codes");
				goto out;
			}
			sel.reasons = optarg;
			break;
		case 'h': usage_fetch(stdout); rc = TS_EXIT_OK; goto out;
		default:
			fputs("see 'tessera fetch --help'\n", stderr);
			rc = TS_EXIT_USAGE;
			goto out;
		}
	}
	if ((rc = ts_opt_list_finish(&cli, &o.src, "fetch")))
		goto out;
	rc = TS_EXIT_FAIL;
	if (retry_dir) {
		if (optind < argc || o.outdir) {
			ts_error("--retry-failed takes its LISTs and OUTDIR from the catalog: give no LIST or -o");
			fputs("see 'tessera fetch --help'\n", stderr);
			rc = TS_EXIT_USAGE;
			goto out;
		}
		if ((rc = retry_setup(retry_dir, &o, net, &sel, &retry_json, &respect_s)))
			goto out;
		rc = TS_EXIT_FAIL;
		o.outdir = retry_dir;
		if (sel.n == 0) {
			if (ts_verbosity >= 1)
				fprintf(stderr, "tessera: nothing to retry in '%s' (reasons: %s)\n",
					retry_dir, sel.reasons);
			rc = TS_EXIT_OK;
			goto out;
		}
		if (ts_verbosity >= 1)
			fprintf(stderr, "tessera: fetching %zu records of '%s' again (reasons: %s)\n",
				sel.n, retry_dir, sel.reasons);
		fr.co.only = sel.recs;
		fr.co.nonly = sel.n;
		hooks.only = sel.recs;
		hooks.nonly = sel.n;
	} else {
		if (!o.outdir) {
			ts_error("no output directory: give -o OUTDIR");
			fputs("usage: tessera fetch [options] LIST... -o OUTDIR\n", stderr);
			rc = TS_EXIT_USAGE;
			goto out;
		}
		if (optind >= argc) {
			ts_error("no LIST given");
			fputs("usage: tessera fetch [options] LIST... -o OUTDIR\n", stderr);
			rc = TS_EXIT_USAGE;
			goto out;
		}
		if ((rc = ts_opt_writer_finish(&cli, &o, &partdir, "fetch")))
			goto out;
		rc = TS_EXIT_FAIL;
		o.inputs = (const char **)argv + optind;
		o.ninputs = argc - optind;
		o.max_file_bytes = net->max_bytes;
	}
	o.threads = ts_opt_threads(o.threads);
	net->respect = (unsigned)ts_fetch_parse_respect(respect_s);
	net->resolve = resolve;
	net->nresolve = nresolve;
	net->connect_to = connect_to;
	net->nconnect_to = nconnect_to;
	if (!net->user_agent) {
		if (asprintf(&ua, "tessera/%s (+%s)", TS_VERSION, TS_PROJECT_URL) < 0)
			goto out;
		net->user_agent = ua;
	}
	fr.co.part_index = o.part_index;
	fr.co.part_count = o.part_count;
	if (deadline > 0)
		fr.co.deadline = ts_now() + deadline;

	/* what changes the output, for the resume check */
	json_t *fj = json_pack("{s:s?, s:s?, s:s?, s:s, s:I, s:i, s:s}",
			       "id_col", o.src.id_col, "hash_col", o.src.hash_col,
			       "json_path", o.src.json_path,
			       "hash_type", o.src.hash_type, "max_bytes", (json_int_t)net->max_bytes,
			       "max_redirects", net->max_redirects, "respect", respect_s);
	fp = fj ? json_dumps(fj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(fj);
	if (!fp)
		goto out;

	struct ts_err e = TS_ERR_INIT;
	if (ts_fetch_global_init(&e) || ts_fetch_ctx_new(&fr.ctx, &fr.co, &e)) {
		ts_error("%s", e.msg);
		goto out;
	}
	hooks.title = "fetch";
	hooks.user = &fr;
	hooks.wrap = hook_wrap;
	hooks.fingerprint = fp;
	hooks.progress = hook_progress;
	o.hooks = &hooks;

	cmdline = ts_opt_command_line(argc, argv);
	o.command_line = cmdline ? cmdline : "tessera fetch";
	{
		struct ts_ingest_result res;
		struct ts_err re = TS_ERR_INIT;
		int st = ts_ingest_run(&o, &res, &re);
		if (res.summary)
			fetch_summary(&fr, &o, &res);
		rc = ts_ingest_exit(st, &res, &re);
		ts_ingest_result_release(&res);
	}
out:
	ts_fetch_ctx_free(fr.ctx);
	free(resolve);
	free(connect_to);
	free(cmdline);
	free(partdir);
	free(ua);
	free(fp);
	if (retry_json) {
		free(o.inputs);
		free((void *)o.src.keep_cols);
	}
	json_decref(retry_json);
	free(sel.recs);
	ts_opt_cli_release(&cli);
	return rc;
}
