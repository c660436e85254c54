/*
 * opt.c - the option groups ingest and fetch share, the one of the
 * rewriting commands, and the usage-error message every command prints
 * (opt.h).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/cmd.h"
#include "shards/shards.h"
#include "pipeline/commands/opt.h"
#include "pipeline/sources/source.h"
#include "pipeline/util.h"

int ts_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ts_error("%s", msg);
	fprintf(stderr, "see 'tessera %s --help'\n", cmd);
	return TS_EXIT_USAGE;
}

int ts_usage_hint(void)
{
	fprintf(stderr, "see 'tessera %s --help'\n", ts_command ? ts_command : "");
	return TS_EXIT_USAGE;
}

int ts_opt_bad(const char *cmd, const char *opt, const char *val, const char *want)
{
	return ts_usage_error(cmd, "invalid value '%s' for %s: %s", val, opt, want);
}

int ts_opt_threads(int n)
{
	if (n > 0)
		return n;
	long c = sysconf(_SC_NPROCESSORS_ONLN);
	return c > 0 ? (int)c : 1;
}

int ts_opt_rewrite(int c, const char *arg, struct ts_opt_rw *rw)
{
	long v;
	switch (c) {
	case 'o': rw->out = arg; break;
	case 'j':
		if (ts_opt_int("threads", arg, 0, 1024, "0 (all cores) to 1024", &v))
			return TS_EXIT_USAGE;
		rw->threads = (int)v;
		break;
	case TS_OPT_REWRITE_JSON: rw->json = 1; break;
	case 'q': ts_verbosity = 0; break;
	case 'v': ts_verbosity = 2; break;
	default: return TS_OPT_NOT_MINE;
	}
	return TS_OPT_TAKEN;
}

void ts_ingest_opts_default(struct ts_ingest_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->px.resize = TS_RESIZE_CENTER_CROP;
	o->px.size = 256;
	o->px.max_pixels = 100000000ULL;
	o->px.encode = TS_ENCODE_JPEG;
	o->px.quality = 95;
	o->shard_samples = 10000;
	o->shard_bytes = 1ULL << 30;
	o->max_file_bytes = 256ULL << 20;
	o->max_caption_bytes = 1ULL << 20;
	o->tokens = 1;
	o->progress = -1;
}

/* Append the comma-separated names of list to cli->keep (copies). */
static int add_keep(struct ts_opt_cli *cli, const char *list)
{
	for (const char *p = list;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len) {
			char **nk = realloc(cli->keep, (cli->nkeep + 1) * sizeof(*nk));
			if (!nk)
				return -1;
			cli->keep = nk;
			if (!(nk[cli->nkeep] = strndup(p, len)))
				return -1;
			cli->nkeep++;
		}
		if (!e)
			return 0;
		p = e + 1;
	}
}

void ts_opt_cli_release(struct ts_opt_cli *cli)
{
	for (size_t i = 0; i < cli->nkeep; i++)
		free(cli->keep[i]);
	free(cli->keep);
	memset(cli, 0, sizeof(*cli));
}

int ts_opt_list(int c, const char *arg, struct ts_source_opts *src, struct ts_opt_cli *cli,
		const char *cmd)
{
	uint64_t u;

	switch (c) {
	case TS_OPT_CAPTION_COL: src->caption_col = arg; break;
	case TS_OPT_ID_COL: src->id_col = arg; break;
	case TS_OPT_NO_HEADER: src->no_header = 1; break;
	case TS_OPT_COLUMNS:
		if (!arg[0] || strstr(arg, ",,"))
			return ts_opt_bad(cmd, "--columns", arg, "expected column names separated by commas");
		src->columns = arg;
		break;
	case TS_OPT_PRESET:
		if (!ts_source_preset_find(arg))
			return ts_opt_bad(cmd, "--preset", arg, "expected cc3m, cc12m, laion, datacomp or coyo");
		cli->preset = arg;
		break;
	case TS_OPT_QUOTING:
		if (!strcmp(arg, "csv"))
			src->quoting = TS_QUOTING_CSV;
		else if (!strcmp(arg, "none"))
			src->quoting = TS_QUOTING_NONE;
		else
			return ts_opt_bad(cmd, "--quoting", arg, "expected csv or none");
		break;
	case TS_OPT_MAX_QUOTED_BYTES:
		if (ts_parse_u64(arg, 1, &u) || u == 0)
			return ts_opt_bad(cmd, "--max-quoted-bytes", arg, "expected a positive size (K/M/G suffixes allowed)");
		src->max_quoted_bytes = u;
		break;
	case TS_OPT_MAX_QUOTED_LINES:
		if (ts_parse_u64(arg, 0, &u) || u < 2)
			return ts_opt_bad(cmd, "--max-quoted-lines", arg, "expected a number of at least 2");
		src->max_quoted_lines = u;
		break;
	case TS_OPT_KEEP_COL:
		if (add_keep(cli, arg)) {
			ts_error("out of memory");
			return TS_EXIT_FAIL;
		}
		break;
	case TS_OPT_GROUP_BY:
		if (!arg[0])
			return ts_opt_bad(cmd, "--group-by", arg, "expected image or a column name");
		src->group_by = arg;
		break;
	default:
		return TS_OPT_NOT_MINE;
	}
	return TS_OPT_TAKEN;
}

int ts_opt_list_finish(struct ts_opt_cli *cli, struct ts_source_opts *src, const char *cmd)
{
	static const char *const reserved[] = { "key", "source", "image", "format",
		"source_format", "width", "height", "original_width", "original_height",
		"content_hash", "source_hash", "captions", NULL };

	if (cli->preset) {
		const struct ts_source_preset *ps = ts_source_preset_find(cli->preset);
		/* a preset with a column order is for files without a header */
		if (ps->columns)
			src->no_header = 1;
		if (ps->columns && !src->columns)
			src->columns = ps->columns;
		if (!src->image_col)
			src->image_col = ps->image_col;
		if (!src->caption_col)
			src->caption_col = ps->caption_col;
	}
	if (src->columns && !src->no_header)
		return ts_usage_error(cmd, "--columns names the columns of a file without a header: add --no-header");
	for (size_t i = 0; i < cli->nkeep; i++)
		for (const char *const *r = reserved; *r; r++)
			if (!strcmp(cli->keep[i], *r))
				return ts_usage_error(cmd, "--keep-col '%s': KEY.json already has a field of that name",
						      cli->keep[i]);
	src->keep_cols = (const char *const *)cli->keep;
	src->nkeep_cols = cli->nkeep;
	return 0;
}

int ts_opt_writer(int c, const char *arg, struct ts_ingest_opts *o, struct ts_opt_cli *cli,
		  const char *cmd)
{
	uint64_t u;
	long l;
	int v;

	switch (c) {
	case TS_OPT_RESIZE:
		if ((v = ts_resize_mode_parse(arg)) < 0)
			return ts_opt_bad(cmd, "--resize", arg,
					  "expected no, border, keep-ratio, keep-ratio-largest, center-crop or stretch");
		o->px.resize = (enum ts_resize_mode)v;
		break;
	case 's':
		if (ts_parse_int(arg, 1, 65535, &l))
			return ts_opt_bad(cmd, "--size", arg, "expected an integer from 1 to 65535");
		o->px.size = (int)l;
		break;
	case TS_OPT_MIN_SIZE:
		if (ts_parse_int(arg, 0, 65535, &l))
			return ts_opt_bad(cmd, "--min-size", arg, "expected an integer from 0 to 65535");
		o->px.min_size = (int)l;
		break;
	case TS_OPT_MAX_PIXELS:
		if (ts_parse_u64(arg, 0, &u) || u == 0)
			return ts_opt_bad(cmd, "--max-pixels", arg, "expected a positive number (K/M/G suffixes allowed)");
		o->px.max_pixels = u;
		break;
	case TS_OPT_ENCODE:
		if ((v = ts_encode_fmt_parse(arg)) < 0)
			return ts_opt_bad(cmd, "--encode", arg, "expected jpeg, webp, png or keep");
		o->px.encode = (enum ts_encode_fmt)v;
		break;
	case TS_OPT_QUALITY:
		if (ts_parse_int(arg, 1, 100, &l))
			return ts_opt_bad(cmd, "--quality", arg, "expected an integer from 1 to 100");
		o->px.quality = (int)l;
		break;
	case TS_OPT_SHARD_DIGITS:
		if (ts_parse_int(arg, 5, 12, &l))
			return ts_opt_bad(cmd, "--shard-digits", arg, "expected a number of digits from 5 to 12");
		o->shard_digits = (int)l;
		break;
	case TS_OPT_SUBSAMPLING:
		if (strcmp(arg, "420") && strcmp(arg, "444"))
			return ts_opt_bad(cmd, "--subsampling", arg, "expected 420 or 444");
		o->subsampling = atoi(arg);
		break;
	case TS_OPT_MAX_CAPTION_BYTES:
		if (ts_parse_u64(arg, 1, &u) || u == 0)
			return ts_opt_bad(cmd, "--max-caption-bytes", arg, "expected a positive size");
		o->max_caption_bytes = u;
		break;
	case TS_OPT_VOCAB: o->vocab = arg; break;
	case TS_OPT_NO_TOKENS: o->tokens = 0; break;
	case 'o': o->outdir = arg; break;
	case TS_OPT_SHARD_SAMPLES:
		if (ts_parse_u64(arg, 0, &u) || u == 0)
			return ts_opt_bad(cmd, "--shard-samples", arg, "expected a positive number");
		o->shard_samples = u;
		break;
	case TS_OPT_SHARD_BYTES:
		if (ts_parse_u64(arg, 1, &u) || u < 4096)
			return ts_opt_bad(cmd, "--shard-bytes", arg, "expected a size of at least 4096 (K/M/G suffixes allowed)");
		o->shard_bytes = u;
		break;
	case TS_OPT_OVERWRITE: o->overwrite = 1; break;
	case TS_OPT_STORE:
		if (!strcmp(arg, "tar"))
			o->store = TS_STORE_TAR;
		else if (!strcmp(arg, "sqlite"))
			o->store = TS_STORE_SQLITE;
		else
			return ts_opt_bad(cmd, "--store", arg, "expected tar or sqlite");
		break;
	case TS_OPT_DEDUP:
		if (!strcmp(arg, "exact"))
			o->dedup = 1;
		else if (!strcmp(arg, "none"))
			o->dedup = 0;
		else
			return ts_opt_bad(cmd, "--dedup", arg, "expected none or exact");
		break;
	case TS_OPT_PART: {
		unsigned long pi, pn;
		char tail;
		if (sscanf(arg, "%lu/%lu%c", &pi, &pn, &tail) != 2 || pn == 0 || pn > 1000000 || pi >= pn)
			return ts_opt_bad(cmd, "--part", arg, "expected I/N with 0 <= I < N");
		o->part_index = (unsigned)pi;
		o->part_count = (unsigned)pn;
		o->part_source = "--part";
		break;
	}
	case TS_OPT_PARTS:
		if (ts_parse_int(arg, 1, 1000000, &l))
			return ts_opt_bad(cmd, "--parts", arg, "expected a positive number");
		cli->parts = (unsigned)l;
		break;
	case TS_OPT_JSON: o->json = 1; break;
	case TS_OPT_PROGRESS: o->progress = 1; break;
	case TS_OPT_NO_PROGRESS: o->progress = 0; break;
	case 'q': ts_verbosity = 0; break;
	case 'v': ts_verbosity = 2; break;
	default:
		return TS_OPT_NOT_MINE;
	}
	return TS_OPT_TAKEN;
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
static int partition_from_env(struct ts_ingest_opts *o, unsigned parts, const char *cmd)
{
	unsigned long id, cnt, mn, mx;
	int r = env_uint("SLURM_ARRAY_TASK_ID", &id);
	if (r < 0)
		return ts_opt_bad(cmd, "SLURM_ARRAY_TASK_ID", getenv("SLURM_ARRAY_TASK_ID"), "not a number");
	if (r > 0) {
		if (env_uint("SLURM_ARRAY_TASK_MIN", &mn) <= 0)
			mn = 0;
		if (env_uint("SLURM_ARRAY_TASK_COUNT", &cnt) <= 0) {
			if (env_uint("SLURM_ARRAY_TASK_MAX", &mx) <= 0) {
				if (!parts)
					return ts_usage_error(cmd, "SLURM_ARRAY_TASK_ID is set but neither "
							      "SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is; "
							      "give --parts N or --part I/N");
				cnt = parts;
			} else {
				cnt = mx - mn + 1;
			}
		}
		if (parts)
			cnt = parts;
		if (id < mn || id - mn >= cnt)
			return ts_usage_error(cmd, "SLURM_ARRAY_TASK_ID %lu is outside the array (%lu tasks from %lu)",
					      id, cnt, mn);
		o->part_index = (unsigned)(id - mn);
		o->part_count = (unsigned)cnt;
		o->part_source = "slurm";
		return 0;
	}
	r = env_uint("JOB_COMPLETION_INDEX", &id);
	if (r < 0)
		return ts_opt_bad(cmd, "JOB_COMPLETION_INDEX", getenv("JOB_COMPLETION_INDEX"), "not a number");
	if (r > 0) {
		if (!parts)
			return ts_usage_error(cmd, "JOB_COMPLETION_INDEX is set: give --parts N (the Job's completions)");
		if (id >= parts)
			return ts_usage_error(cmd, "JOB_COMPLETION_INDEX %lu is not below --parts %u", id, parts);
		o->part_index = (unsigned)id;
		o->part_count = parts;
		o->part_source = "kubernetes";
		return 0;
	}
	if (parts > 1)
		return ts_usage_error(cmd, "--parts needs $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID; "
				      "use --part I/N otherwise");
	return 0;
}

int ts_opt_writer_finish(struct ts_opt_cli *cli, struct ts_ingest_opts *o, char **partdir,
			 const char *cmd)
{
	int rc;
	*partdir = NULL;
	if (!o->part_source && (rc = partition_from_env(o, cli->parts, cmd)))
		return rc;
	if (o->part_count > 1) {
		if (asprintf(partdir, "%s/part-%05u", o->outdir, o->part_index) < 0) {
			*partdir = NULL;
			ts_error("out of memory");
			return TS_EXIT_FAIL;
		}
		o->outdir = *partdir;
	}
	o->threads = ts_opt_threads(o->threads);
	return 0;
}

char *ts_opt_command_line(int argc, char **argv)
{
	char *s = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&s, &n);
	if (!m)
		return NULL;
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
	if (fclose(m)) {
		free(s);
		return NULL;
	}
	return s;
}

/* "tokenize, stats or split" */
static void list_names(char *buf, size_t n, const char *const *names, size_t count)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < count && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%s", i == 0 ? "" : i + 1 == count ? " or " : ", ", names[i]);
}

static int subcmd_unknown(const char *cmd, const char *const *names, size_t count, void (*usage)(FILE *f),
			  int argc, char **argv)
{
	char list[512];
	list_names(list, sizeof(list), names, count);
	if (argc < 2) {
		usage(stderr);
		return TS_EXIT_USAGE;
	}
	return ts_usage_error(cmd, "unknown %s command '%s': expected %s", cmd, argv[1], list);
}

static int is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "--help");
}

int ts_subcmd_run(const char *cmd, const struct ts_subcmd *subs, int (*dflt)(int argc, char **argv),
		  void (*usage)(FILE *f), int argc, char **argv)
{
	const char *names[32];
	size_t n = 0;
	for (; subs[n].name && n < 32; n++) {
		names[n] = subs[n].name;
		if (argc >= 2 && !strcmp(argv[1], subs[n].name))
			return subs[n].fn(argc - 1, argv + 1);
	}
	if (argc >= 2 && is_help(argv[1])) {
		usage(stdout);
		return TS_EXIT_OK;
	}
	if (dflt)
		return dflt(argc, argv);
	return subcmd_unknown(cmd, names, n, usage, argc, argv);
}

int ts_subcmd_pick(const char *cmd, const char *const *names, void (*usage)(FILE *f),
		   int argc, char **argv, int *rc)
{
	size_t n = 0;
	for (; names[n]; n++)
		if (argc >= 2 && !strcmp(argv[1], names[n]))
			return (int)n;
	if (argc >= 2 && is_help(argv[1])) {
		usage(stdout);
		*rc = TS_EXIT_OK;
		return -1;
	}
	*rc = subcmd_unknown(cmd, names, n, usage, argc, argv);
	return -1;
}

int ts_opt_groups(int c, const char *arg, struct ts_ingest_opts *o, struct ts_opt_cli *cli,
		  const char *cmd)
{
	int r = ts_opt_list(c, arg, &o->src, cli, cmd);
	return r == TS_OPT_NOT_MINE ? ts_opt_writer(c, arg, o, cli, cmd) : r;
}
