/*
 * cmd_ingest.c - `tessera ingest`: parse options, fill ts_ingest_opts,
 * run the driver.  Usage errors exit 2 with a one-line hint.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "../shards/shards.h"
#include "ingest.h"
#include "util.h"
#include "vocab.h"

void usage_ingest(FILE *f)
{
	fputs(
"usage: tessera ingest [options] INPUT... -o OUTDIR\n"
"\n"
"Read image-caption datasets and write WebDataset tar shards plus a SQLite\n"
"catalog to OUTDIR (OUTDIR/shards/NNNNNN.tar, OUTDIR/catalog.sqlite).\n"
"Re-running on an OUTDIR that holds a partial run resumes it.\n"
"\n"
"Input:\n"
"  -f, --format FMT        folder, csv, tsv, jsonl, coco, sharegpt4v, urban1k,\n"
"                          wds (WebDataset .tar shards), parquet\n"
"                          (default: detected from each INPUT)\n"
"      --image-root DIR    resolve relative image paths under DIR (default: the\n"
"                          list file's directory); absolute paths are read as\n"
"                          given, symlinks followed, a '..' climbing out of DIR\n"
"                          is rejected\n"
"      --confine           also reject absolute paths and paths whose real\n"
"                          location is outside the image root (untrusted lists)\n"
"      --image-col NAME    image path column (default: first of image, path,\n"
"                          filepath, file_name, url); a number N: the N-th column\n"
"      --caption-col NAME  caption column (default: first of caption, text, title)\n"
"      --no-header         CSV/TSV: the first row is data, not a header\n"
"      --columns LIST      CSV/TSV without a header: the column names, in order\n"
"                          (e.g. caption,url)\n"
"      --preset NAME       column layout of a known dataset: cc3m (no header:\n"
"                          caption, url), cc12m (no header: url, caption),\n"
"                          laion (URL, TEXT), datacomp (url, text), coyo\n"
"                          (url, text)\n"
"      --id-col NAME       parquet: column kept as the sample's uid (KEY.json)\n"
"      --quoting MODE      CSV/TSV quoting: csv (RFC 4180, the default for .csv)\n"
"                          or none (literal fields, the default for .tsv)\n"
"      --max-quoted-bytes N  CSV: a quoted field running over lines must end\n"
"                          within N bytes (default: 1MiB) ...\n"
"      --max-quoted-lines N  ... and N lines (default: 1000), else its row is\n"
"                          record.bad_row and reading goes on at the next line\n"
"      --keep-col COL      CSV/TSV/JSONL/parquet: copy column COL into KEY.json\n"
"                          (repeatable, or a comma-separated list)\n"
"      --group-by KEY      CSV/TSV/JSONL: merge the rows of one image (KEY\n"
"                          image) or of one value of column KEY into one\n"
"                          sample with all their captions\n"
"      --max-member-bytes N  tar input: reject members larger than N\n"
"                          (default: 64MiB)\n"
"\n"
"Images:\n"
"      --resize MODE       no, border, keep-ratio, keep-ratio-largest,\n"
"                          center-crop, stretch (default: center-crop)\n"
"  -s, --size N            target size in pixels (default: 256)\n"
"      --min-size N        reject images whose shorter side is below N (default: 0, off)\n"
"      --max-pixels N      reject images with more pixels than N, checked from\n"
"                          the header before decoding (default: 100M)\n"
"      --encode FMT        jpeg, webp, png, keep (default: jpeg)\n"
"      --quality Q         JPEG/WebP quality 1-100 (default: 95)\n"
"      --subsampling S     JPEG chroma subsampling: 420 (default) or 444\n"
"      --max-file-bytes N  reject source files larger than N (default: 256MiB)\n"
"      --max-caption-bytes N  reject captions longer than N bytes (default: 1MiB)\n"
"      --vocab PATH        CLIP vocabulary for the catalog's token counts\n"
"                          (default: $TESSERA_VOCAB, else the copy shipped\n"
"                          with tessera; none found: a warning, no counts)\n"
"      --no-tokens         do not count CLIP tokens\n"
"\n"
"Output:\n"
"  -o, --output OUTDIR     where to write the dataset (required)\n"
"      --shard-samples N   samples per shard (default: 10000)\n"
"      --shard-bytes N     bytes per shard, K/M/G suffixes (default: 1GiB)\n"
"      --overwrite         delete the dataset in OUTDIR (only tessera's files) and start afresh\n"
"      --store STORE       tar (default: WebDataset shards) or sqlite (one\n"
"                          SQLite file per shard, a BLOB per member)\n"
"      --dedup MODE        none (default) or exact: a sample whose source\n"
"                          bytes equal an earlier one's is rejected as duplicate\n"
"\n"
"Partitions (for clusters; see docs/scale-out.md):\n"
"      --part I/N          process only partition I of N (records whose number\n"
"                          modulo N is I), into OUTDIR/part-I\n"
"      --parts N           partition count when the index comes from\n"
"                          $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)\n"
"                          without --part, $SLURM_ARRAY_TASK_ID (with\n"
"                          $SLURM_ARRAY_TASK_COUNT or _MIN/_MAX) is used\n"
"\n"
"Run:\n"
"  -j, --threads N         worker threads (default: all cores)\n"
"      --json              print the summary as JSON on stdout\n"
"      --progress          always show the progress line\n"
"      --no-progress       never show it (default: only on a terminal)\n"
"  -q, --quiet             no progress, no per-reject messages, no summary\n"
"  -v, --verbose           more messages\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 when the run finished (rejected samples are not failures),\n"
"1 on a fatal error, 2 on a usage error, 130 when interrupted.\n"
"See tessera-ingest(1) and docs/formats.md.\n", f);
}

enum {
	OPT_IMAGE_ROOT = 256, OPT_IMAGE_COL, OPT_CAPTION_COL, OPT_RESIZE,
	OPT_MIN_SIZE, OPT_MAX_PIXELS, OPT_ENCODE, OPT_QUALITY, OPT_SUBSAMPLING, OPT_SHARD_SAMPLES,
	OPT_SHARD_BYTES, OPT_OVERWRITE, OPT_JSON, OPT_PROGRESS, OPT_NO_PROGRESS,
	OPT_MAX_FILE_BYTES, OPT_MAX_CAPTION_BYTES, OPT_PART, OPT_PARTS, OPT_DEDUP, OPT_STORE,
	OPT_VOCAB, OPT_NO_TOKENS, OPT_CONFINE, OPT_NO_HEADER, OPT_COLUMNS, OPT_PRESET, OPT_PQ_ID_COL,
	OPT_QUOTING, OPT_MAX_QUOTED_BYTES, OPT_MAX_QUOTED_LINES, OPT_KEEP_COL, OPT_GROUP_BY,
	OPT_MAX_MEMBER_BYTES,
};

static const struct option long_opts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "image-root", required_argument, NULL, OPT_IMAGE_ROOT },
	{ "image-col", required_argument, NULL, OPT_IMAGE_COL },
	{ "caption-col", required_argument, NULL, OPT_CAPTION_COL },
	{ "resize", required_argument, NULL, OPT_RESIZE },
	{ "size", required_argument, NULL, 's' },
	{ "min-size", required_argument, NULL, OPT_MIN_SIZE },
	{ "max-pixels", required_argument, NULL, OPT_MAX_PIXELS },
	{ "encode", required_argument, NULL, OPT_ENCODE },
	{ "quality", required_argument, NULL, OPT_QUALITY },
	{ "subsampling", required_argument, NULL, OPT_SUBSAMPLING },
	{ "max-file-bytes", required_argument, NULL, OPT_MAX_FILE_BYTES },
	{ "max-caption-bytes", required_argument, NULL, OPT_MAX_CAPTION_BYTES },
	{ "output", required_argument, NULL, 'o' },
	{ "shard-samples", required_argument, NULL, OPT_SHARD_SAMPLES },
	{ "shard-bytes", required_argument, NULL, OPT_SHARD_BYTES },
	{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
	{ "threads", required_argument, NULL, 'j' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "dedup", required_argument, NULL, OPT_DEDUP },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "part", required_argument, NULL, OPT_PART },
	{ "parts", required_argument, NULL, OPT_PARTS },
	{ "vocab", required_argument, NULL, OPT_VOCAB },
	{ "no-tokens", no_argument, NULL, OPT_NO_TOKENS },
	{ "confine", no_argument, NULL, OPT_CONFINE },
	{ "no-header", no_argument, NULL, OPT_NO_HEADER },
	{ "columns", required_argument, NULL, OPT_COLUMNS },
	{ "preset", required_argument, NULL, OPT_PRESET },
	{ "id-col", required_argument, NULL, OPT_PQ_ID_COL },
	{ "quoting", required_argument, NULL, OPT_QUOTING },
	{ "max-quoted-bytes", required_argument, NULL, OPT_MAX_QUOTED_BYTES },
	{ "max-quoted-lines", required_argument, NULL, OPT_MAX_QUOTED_LINES },
	{ "keep-col", required_argument, NULL, OPT_KEEP_COL },
	{ "group-by", required_argument, NULL, OPT_GROUP_BY },
	{ "max-member-bytes", required_argument, NULL, OPT_MAX_MEMBER_BYTES },
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *opt, const char *val, const char *want)
{
	ts_error("invalid value '%s' for %s: %s", val, opt, want);
	fputs("see 'tessera ingest --help'\n", stderr);
	return TS_EXIT_USAGE;
}

static int env_uint(const char *name, unsigned long *v)
{
	const char *s = getenv(name);
	char *end;
	if (!s || !*s)
		return 0;
	*v = strtoul(s, &end, 10);
	return *end == '\0' ? 1 : -1;
}

/* Slurm job arrays and Kubernetes Indexed Jobs tell a task its index in
 * the environment.  Returns 0 (o filled, or no partitioning) or an exit code. */
int ts_partition_from_env(struct ts_ingest_opts *o, unsigned parts)
{
	unsigned long id, cnt, mn, mx;
	int r = env_uint("SLURM_ARRAY_TASK_ID", &id);
	if (r < 0)
		return bad("SLURM_ARRAY_TASK_ID", getenv("SLURM_ARRAY_TASK_ID"), "not a number");
	if (r > 0) {
		if (env_uint("SLURM_ARRAY_TASK_MIN", &mn) <= 0)
			mn = 0;
		if (env_uint("SLURM_ARRAY_TASK_COUNT", &cnt) <= 0) {
			if (env_uint("SLURM_ARRAY_TASK_MAX", &mx) <= 0) {
				if (!parts) {
					ts_error("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT "
						 "nor SLURM_ARRAY_TASK_MAX is; give --parts N or --part I/N");
					return TS_EXIT_USAGE;
				}
				cnt = parts;
			} else {
				cnt = mx - mn + 1;
			}
		}
		if (parts)
			cnt = parts;
		if (id < mn || id - mn >= cnt) {
			ts_error("SLURM_ARRAY_TASK_ID %lu is outside the array (%lu tasks from %lu)", id, cnt, mn);
			return TS_EXIT_USAGE;
		}
		o->part_index = (unsigned)(id - mn);
		o->part_count = (unsigned)cnt;
		o->part_source = "slurm";
		return 0;
	}
	r = env_uint("JOB_COMPLETION_INDEX", &id);
	if (r < 0)
		return bad("JOB_COMPLETION_INDEX", getenv("JOB_COMPLETION_INDEX"), "not a number");
	if (r > 0) {
		if (!parts) {
			ts_error("JOB_COMPLETION_INDEX is set: give --parts N (the Job's completions)");
			return TS_EXIT_USAGE;
		}
		if (id >= parts) {
			ts_error("JOB_COMPLETION_INDEX %lu is not below --parts %u", id, parts);
			return TS_EXIT_USAGE;
		}
		o->part_index = (unsigned)id;
		o->part_count = parts;
		o->part_source = "kubernetes";
		return 0;
	}
	if (parts > 1) {
		ts_error("--parts needs $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID; use --part I/N otherwise");
		return TS_EXIT_USAGE;
	}
	return 0;
}

/* Append the comma-separated names of list to *cols (malloc'ed copies). */
static int add_cols(char ***cols, size_t *n, const char *list)
{
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len) {
			char **nc = realloc(*cols, (*n + 1) * sizeof(**cols));
			if (!nc)
				return -1;
			*cols = nc;
			if (!(nc[*n] = strndup(p, len)))
				return -1;
			(*n)++;
		}
		if (!e)
			return 0;
		p = e + 1;
	}
}

static void free_cols(char **cols, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(cols[i]);
	free(cols);
}

/* --keep-col names; file-level so an early usage exit leaks nothing */
static char **keep;
static size_t nkeep;

int cmd_ingest(int argc, char **argv)
{
	const char *preset = NULL;
	int rc;
	struct ts_ingest_opts o;
	uint64_t u;
	long l;
	int c, v;
	char *cmdline = NULL, *partdir = NULL;
	size_t cl = 0;
	unsigned parts = 0;

	memset(&o, 0, sizeof(o));
	o.px.resize = TS_RESIZE_CENTER_CROP;
	o.px.size = 256;
	o.px.max_pixels = 100000000ULL;
	o.px.encode = TS_ENCODE_JPEG;
	o.px.quality = 95;
	o.shard_samples = 10000;
	o.tokens = 1;
	o.shard_bytes = 1ULL << 30;
	o.max_file_bytes = 256ULL << 20;
	o.max_caption_bytes = 1ULL << 20;
	o.progress = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:s:o:j:qvh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if ((v = ts_input_format_parse(optarg)) < 0 || v == TS_INPUT_AUTO)
				return bad("--format", optarg,
					   "expected folder, csv, tsv, jsonl, coco, sharegpt4v, urban1k, wds or parquet");
			o.src.format = (enum ts_input_format)v;
			break;
		case OPT_IMAGE_ROOT: o.src.image_root = optarg; break;
		case OPT_IMAGE_COL: o.src.image_col = optarg; break;
		case OPT_CAPTION_COL: o.src.caption_col = optarg; break;
		case OPT_RESIZE:
			if ((v = ts_resize_mode_parse(optarg)) < 0)
				return bad("--resize", optarg,
					   "expected no, border, keep-ratio, keep-ratio-largest, center-crop or stretch");
			o.px.resize = (enum ts_resize_mode)v;
			break;
		case 's':
			if (ts_parse_int(optarg, 1, 65535, &l))
				return bad("--size", optarg, "expected an integer from 1 to 65535");
			o.px.size = (int)l;
			break;
		case OPT_MIN_SIZE:
			if (ts_parse_int(optarg, 0, 65535, &l))
				return bad("--min-size", optarg, "expected an integer from 0 to 65535");
			o.px.min_size = (int)l;
			break;
		case OPT_MAX_PIXELS:
			if (ts_parse_u64(optarg, 0, &u) || u == 0)
				return bad("--max-pixels", optarg, "expected a positive number (K/M/G suffixes allowed)");
			o.px.max_pixels = u;
			break;
		case OPT_ENCODE:
			if ((v = ts_encode_fmt_parse(optarg)) < 0)
				return bad("--encode", optarg, "expected jpeg, webp, png or keep");
			o.px.encode = (enum ts_encode_fmt)v;
			break;
		case OPT_QUALITY:
			if (ts_parse_int(optarg, 1, 100, &l))
				return bad("--quality", optarg, "expected an integer from 1 to 100");
			o.px.quality = (int)l;
			break;
		case OPT_SUBSAMPLING:
			if (strcmp(optarg, "420") && strcmp(optarg, "444"))
				return bad("--subsampling", optarg, "expected 420 or 444");
			o.subsampling = atoi(optarg);
			break;
		case OPT_MAX_FILE_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u == 0)
				return bad("--max-file-bytes", optarg, "expected a positive size (K/M/G suffixes allowed)");
			o.max_file_bytes = u;
			break;
		case OPT_VOCAB:
			o.vocab = optarg;
			break;
		case OPT_NO_TOKENS:
			o.tokens = 0;
			break;
		case OPT_CONFINE: o.src.confine = 1; break;
		case OPT_NO_HEADER: o.src.no_header = 1; break;
		case OPT_PQ_ID_COL: o.src.id_col = optarg; break;
		case OPT_COLUMNS:
			if (!optarg[0] || strstr(optarg, ",,"))
				return bad("--columns", optarg, "expected column names separated by commas");
			o.src.columns = optarg;
			break;
		case OPT_PRESET:
			if (!ts_source_preset_find(optarg))
				return bad("--preset", optarg, "expected cc3m, cc12m, laion, datacomp or coyo");
			preset = optarg;
			break;
		case OPT_QUOTING:
			if (!strcmp(optarg, "csv"))
				o.src.quoting = TS_QUOTING_CSV;
			else if (!strcmp(optarg, "none"))
				o.src.quoting = TS_QUOTING_NONE;
			else
				return bad("--quoting", optarg, "expected csv or none");
			break;
		case OPT_MAX_QUOTED_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u == 0)
				return bad("--max-quoted-bytes", optarg, "expected a positive size (K/M/G suffixes allowed)");
			o.src.max_quoted_bytes = u;
			break;
		case OPT_MAX_QUOTED_LINES:
			if (ts_parse_u64(optarg, 0, &u) || u < 2)
				return bad("--max-quoted-lines", optarg, "expected a number of at least 2");
			o.src.max_quoted_lines = u;
			break;
		case OPT_MAX_MEMBER_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u == 0)
				return bad("--max-member-bytes", optarg, "expected a positive size (K/M/G suffixes allowed)");
			o.src.max_member_bytes = u;
			break;
		case OPT_KEEP_COL:
			if (add_cols(&keep, &nkeep, optarg)) {
				ts_error("out of memory");
				return TS_EXIT_FAIL;
			}
			break;
		case OPT_GROUP_BY:
			if (!optarg[0])
				return bad("--group-by", optarg, "expected image or a column name");
			o.src.group_by = optarg;
			break;
		case OPT_MAX_CAPTION_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u == 0)
				return bad("--max-caption-bytes", optarg, "expected a positive size");
			o.max_caption_bytes = u;
			break;
		case 'o': o.outdir = optarg; break;
		case OPT_SHARD_SAMPLES:
			if (ts_parse_u64(optarg, 0, &u) || u == 0)
				return bad("--shard-samples", optarg, "expected a positive number");
			o.shard_samples = u;
			break;
		case OPT_SHARD_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u < 4096)
				return bad("--shard-bytes", optarg, "expected a size of at least 4096 (K/M/G suffixes allowed)");
			o.shard_bytes = u;
			break;
		case OPT_OVERWRITE: o.overwrite = 1; break;
		case OPT_STORE:
			if (!strcmp(optarg, "tar"))
				o.store = TS_STORE_TAR;
			else if (!strcmp(optarg, "sqlite"))
				o.store = TS_STORE_SQLITE;
			else
				return bad("--store", optarg, "expected tar or sqlite");
			break;
		case OPT_DEDUP:
			if (!strcmp(optarg, "exact"))
				o.dedup = 1;
			else if (!strcmp(optarg, "none"))
				o.dedup = 0;
			else
				return bad("--dedup", optarg, "expected none or exact");
			break;
		case 'j':
			if (ts_parse_int(optarg, 0, 1024, &l))
				return bad("--threads", optarg, "expected an integer from 0 (all cores) to 1024");
			o.threads = (int)l;
			break;
		case OPT_JSON: o.json = 1; break;
		case OPT_PROGRESS: o.progress = 1; break;
		case OPT_NO_PROGRESS: o.progress = 0; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_ingest(stdout); return TS_EXIT_OK;
		case OPT_PART: {
			unsigned long pi, pn;
			char tail;
			if (sscanf(optarg, "%lu/%lu%c", &pi, &pn, &tail) != 2 || pn == 0 ||
			    pn > 1000000 || pi >= pn)
				return bad("--part", optarg, "expected I/N with 0 <= I < N");
			o.part_index = (unsigned)pi;
			o.part_count = (unsigned)pn;
			o.part_source = "--part";
			break;
		}
		case OPT_PARTS:
			if (ts_parse_int(optarg, 1, 1000000, &l))
				return bad("--parts", optarg, "expected a positive number");
			parts = (unsigned)l;
			break;
		default:
			fputs("see 'tessera ingest --help'\n", stderr);
			return TS_EXIT_USAGE;
		}
	}
	if (preset) {
		const struct ts_source_preset *ps = ts_source_preset_find(preset);
		/* a preset with a column order is for files without a header */
		if (ps->columns)
			o.src.no_header = 1;
		if (ps->columns && !o.src.columns)
			o.src.columns = ps->columns;
		if (!o.src.image_col)
			o.src.image_col = ps->image_col;
		if (!o.src.caption_col)
			o.src.caption_col = ps->caption_col;
	}
	if (o.src.columns && !o.src.no_header) {
		ts_error("--columns names the columns of a file without a header: add --no-header");
		fputs("see 'tessera ingest --help'\n", stderr);
		return TS_EXIT_USAGE;
	}
	for (size_t i = 0; i < nkeep; i++) {
		static const char *const reserved[] = { "key", "source", "image", "format",
			"source_format", "width", "height", "original_width", "original_height",
			"content_hash", "source_hash", "captions", NULL };
		for (const char *const *r = reserved; *r; r++)
			if (!strcmp(keep[i], *r)) {
				ts_error("--keep-col '%s': KEY.json already has a field of that name", keep[i]);
				fputs("see 'tessera ingest --help'\n", stderr);
				return TS_EXIT_USAGE;
			}
	}
	o.src.keep_cols = (const char *const *)keep;
	o.src.nkeep_cols = nkeep;
	if (!o.outdir) {
		ts_error("no output directory: give -o OUTDIR");
		fputs("usage: tessera ingest [options] INPUT... -o OUTDIR\n", stderr);
		return TS_EXIT_USAGE;
	}
	if (optind >= argc) {
		ts_error("no INPUT given");
		fputs("usage: tessera ingest [options] INPUT... -o OUTDIR\n", stderr);
		return TS_EXIT_USAGE;
	}
	if (!o.part_source) {
		int prc = ts_partition_from_env(&o, parts);
		if (prc)
			return prc;
	}
	if (o.part_count > 1) {
		if (asprintf(&partdir, "%s/part-%05u", o.outdir, o.part_index) < 0)
			return TS_EXIT_FAIL;
		o.outdir = partdir;
	}
	o.inputs = (const char **)argv + optind;
	o.ninputs = argc - optind;
	if (o.threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.threads = n > 0 ? (int)n : 1;
	}
	/* the command line, for the runs table and the resume hint: each
	 * argument quoted for a POSIX shell when it needs it */
	FILE *m = open_memstream(&cmdline, &cl);
	if (m) {
		fputs("tessera", m);
		for (int i = 0; i < argc; i++) {
			const char *a = argv[i];
			if (*a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789_./:=,+@%-") == strlen(a)) {
				fprintf(m, " %s", a);
				continue;
			}
			fputs(" '", m);
			for (; *a; a++)
				if (*a == '\'')
					fputs("'\\''", m);
				else
					fputc(*a, m);
			fputc('\'', m);
		}
		fclose(m);
	}
	o.command_line = cmdline ? cmdline : "tessera ingest";
	/* the vocabulary for token counts: a named one must load (the driver
	 * says so), a missing default is said once and counts are skipped */
	char vocab[8192];
	if (o.tokens) {
		if (ts_vocab_path(o.vocab, vocab, sizeof(vocab))) {
			o.vocab = vocab;
		} else {
			ts_warning("cannot find the CLIP vocabulary %s (looked in %s): token counts "
				   "are not stored; give --vocab PATH or set TESSERA_VOCAB",
				   TS_VOCAB_NAME, vocab);
			o.tokens = 0;
		}
	}
	rc = ts_ingest_run(&o);
	free_cols(keep, nkeep);
	keep = NULL;
	nkeep = 0;
	free(cmdline);
	free(partdir);
	return rc;
}
