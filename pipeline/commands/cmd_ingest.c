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

#include "pipeline/cmd.h"
#include "shards/shards.h"
#include "pipeline/commands/ingest_summary.h"
#include "pipeline/drivers/ingest.h"
#include "pipeline/commands/opt.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

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
"      --shard-digits N    digits of shard names: NNNNNNNN.tar and\n"
"                          NNNNNNNN_stats.json with 8, as DataComp's tools\n"
"                          read them (default: 6; --stats-digits is the same)\n"
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
	OPT_IMAGE_ROOT = 256, OPT_IMAGE_COL, OPT_MAX_FILE_BYTES, OPT_CONFINE, OPT_MAX_MEMBER_BYTES,
};

static const struct option long_opts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "image-root", required_argument, NULL, OPT_IMAGE_ROOT },
	{ "image-col", required_argument, NULL, OPT_IMAGE_COL },
	{ "confine", no_argument, NULL, OPT_CONFINE },
	{ "max-member-bytes", required_argument, NULL, OPT_MAX_MEMBER_BYTES },
	{ "max-file-bytes", required_argument, NULL, OPT_MAX_FILE_BYTES },
	{ "threads", required_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	TS_OPT_LIST_LONGOPTS,
	TS_OPT_WRITER_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *opt, const char *val, const char *want)
{
	return ts_opt_bad("ingest", opt, val, want);
}

int cmd_ingest(int argc, char **argv)
{
	struct ts_ingest_opts o;
	struct ts_opt_cli cli = { 0 };
	uint64_t u;
	long l;
	int c, v, rc;
	char *cmdline = NULL, *partdir = NULL;

	ts_ingest_opts_default(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:s:o:j:qvh", long_opts, NULL)) != -1) {
		int r = ts_opt_groups(c, optarg, &o, &cli, "ingest");
		if (r == TS_OPT_TAKEN)
			continue;
		if (r != TS_OPT_NOT_MINE) {
			rc = r;
			goto out;
		}
		switch (c) {
		case 'f':
			if ((v = ts_input_format_parse(optarg)) < 0 || v == TS_INPUT_AUTO) {
				rc = bad("--format", optarg,
					 "expected folder, csv, tsv, jsonl, coco, sharegpt4v, urban1k, wds or parquet");
				goto out;
			}
			o.src.format = (enum ts_input_format)v;
			break;
		case OPT_IMAGE_ROOT: o.src.image_root = optarg; break;
		case OPT_IMAGE_COL: o.src.image_col = optarg; break;
		case OPT_CONFINE: o.src.confine = 1; break;
		case OPT_MAX_FILE_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u == 0) {
				rc = bad("--max-file-bytes", optarg, "expected a positive size (K/M/G suffixes allowed)");
				goto out;
			}
			o.max_file_bytes = u;
			break;
		case OPT_MAX_MEMBER_BYTES:
			if (ts_parse_u64(optarg, 1, &u) || u == 0) {
				rc = bad("--max-member-bytes", optarg, "expected a positive size (K/M/G suffixes allowed)");
				goto out;
			}
			o.src.max_member_bytes = u;
			break;
		case 'j':
			if (ts_parse_int(optarg, 0, 1024, &l)) {
				rc = bad("--threads", optarg, "expected an integer from 0 (all cores) to 1024");
				goto out;
			}
			o.threads = (int)l;
			break;
		case 'h':
			usage_ingest(stdout);
			rc = TS_EXIT_OK;
			goto out;
		default:
			fputs("see 'tessera ingest --help'\n", stderr);
			rc = TS_EXIT_USAGE;
			goto out;
		}
	}
	if ((rc = ts_opt_list_finish(&cli, &o.src, "ingest")))
		goto out;
	rc = TS_EXIT_USAGE;
	if (!o.outdir) {
		ts_error("no output directory: give -o OUTDIR");
		fputs("usage: tessera ingest [options] INPUT... -o OUTDIR\n", stderr);
		goto out;
	}
	if (optind >= argc) {
		ts_error("no INPUT given");
		fputs("usage: tessera ingest [options] INPUT... -o OUTDIR\n", stderr);
		goto out;
	}
	if ((rc = ts_opt_writer_finish(&cli, &o, &partdir, "ingest")))
		goto out;
	o.inputs = (const char **)argv + optind;
	o.ninputs = argc - optind;
	/* the command line, for the runs table and the resume hint */
	cmdline = ts_opt_command_line(argc, argv);
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
	{
		struct ts_ingest_result res;
		struct ts_err e = TS_ERR_INIT;
		int st = ts_ingest_run(&o, &res, &e);
		ts_ingest_summary("ingest", &o, &res, NULL, NULL);
		rc = ts_ingest_exit(st, &res, &e);
		ts_ingest_result_release(&res);
	}
out:
	ts_opt_cli_release(&cli);
	free(cmdline);
	free(partdir);
	return rc;
}
