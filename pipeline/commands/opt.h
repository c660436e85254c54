/*
 * opt.h - command-line options shared by several commands, parsed in one
 * place: the usage-error message, and the option groups of the commands
 * that write a dataset from list files (`ingest` and `fetch`): how a list
 * is read (columns, presets, quoting, kept columns, grouping), what happens
 * to each image, where the output goes, partitions and run options.
 *
 * A command's getopt_long loop offers each option to the groups first:
 *
 *	int r = ts_opt_groups(c, optarg, &o, &cli, "fetch");
 *	if (r == TS_OPT_TAKEN)
 *		continue;
 *	if (r != TS_OPT_NOT_MINE)
 *		return r;            (an exit code, after the message)
 *	switch (c) { the command's own options }
 *
 * and lists the groups' long options in its table with the
 * TS_OPT_LIST_LONGOPTS and TS_OPT_WRITER_LONGOPTS initialisers.  Each
 * command keeps its own usage text.
 */
#ifndef TS_OPT_H
#define TS_OPT_H

#include <getopt.h>
#include <stddef.h>

#include "pipeline/drivers/ingest.h"

#define TS_OPT_TAKEN (-1)     /* the group parsed and stored the option */
#define TS_OPT_NOT_MINE (-2)  /* not one of the group's options */

/* "error: MESSAGE" and "see 'tessera CMD --help'" on stderr; returns
 * TS_EXIT_USAGE. */
int ts_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "see 'tessera COMMAND --help'" (the command main.c runs) on stderr, after
 * getopt's own message; returns TS_EXIT_USAGE. */
int ts_usage_hint(void);
/* "error: invalid value 'VAL' for OPT: WANT" and the hint; TS_EXIT_USAGE. */
int ts_opt_bad(const char *cmd, const char *opt, const char *val, const char *want);

/* Second-level commands (`tessera captions split`): each subcommand owns its
 * function, which gets argv + 1 (its own name first). */
struct ts_subcmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

/* Run the subcommand argv[1] names.  -h/--help: usage on stdout, 0.  No
 * name or an unknown one: dflt(argc, argv) when given (`tessera tags DS`),
 * else the error with the subcommands' names and the usage on stderr,
 * TS_EXIT_USAGE.  subs ends with a zeroed entry. */
int ts_subcmd_run(const char *cmd, const struct ts_subcmd *subs, int (*dflt)(int argc, char **argv),
		  void (*usage)(FILE *f), int argc, char **argv);

/* The same for commands whose subcommands share one option parser: the
 * index of argv[1] in names (NULL-terminated), or -1 with the exit code in
 * *rc (0 after --help). */
int ts_subcmd_pick(const char *cmd, const char *const *names, void (*usage)(FILE *f),
		   int argc, char **argv, int *rc);

/* --threads: 0 means every online core. */
int ts_opt_threads(int n);

/* The options of the commands that rewrite a dataset (`captions split`,
 * `tags`, `tags import-scores`, `tags select`; pipeline/drivers/rewrite.h):
 * -o DIR, -j N, --json, -q and -v.  A command lists TS_OPT_REWRITE_LONGOPTS
 * in its table, TS_OPT_REWRITE_SHORTOPTS in its short options, and offers
 * each option to ts_opt_rewrite first, as to the groups below. */
struct ts_opt_rw {
	const char *out;      /* -o: write a new dataset there; NULL: in place */
	int threads;          /* -j: worker threads, 0 (the default) every online core */
	int json;             /* --json: the summary as JSON on stdout */
};

#define TS_OPT_REWRITE_SHORTOPTS "o:j:qv"
#define TS_OPT_REWRITE_LONGOPTS \
	{ "output", required_argument, NULL, 'o' }, \
	{ "threads", required_argument, NULL, 'j' }, \
	{ "json", no_argument, NULL, TS_OPT_REWRITE_JSON }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }

/* TS_OPT_TAKEN, TS_OPT_NOT_MINE, or TS_EXIT_USAGE after the message. */
int ts_opt_rewrite(int c, const char *arg, struct ts_opt_rw *rw);

/* Option ids of the groups (above any command's own, below none of
 * getopt's short options). */
enum {
	TS_OPT_CAPTION_COL = 0x1000, TS_OPT_ID_COL, TS_OPT_NO_HEADER, TS_OPT_COLUMNS,
	TS_OPT_PRESET, TS_OPT_QUOTING, TS_OPT_MAX_QUOTED_BYTES, TS_OPT_MAX_QUOTED_LINES,
	TS_OPT_KEEP_COL, TS_OPT_GROUP_BY,

	TS_OPT_RESIZE = 0x1100, TS_OPT_MIN_SIZE, TS_OPT_MAX_PIXELS, TS_OPT_ENCODE,
	TS_OPT_QUALITY, TS_OPT_MAX_CAPTION_BYTES, TS_OPT_VOCAB, TS_OPT_NO_TOKENS,
	TS_OPT_SHARD_SAMPLES, TS_OPT_SHARD_BYTES, TS_OPT_OVERWRITE, TS_OPT_STORE,
	TS_OPT_DEDUP, TS_OPT_PART, TS_OPT_PARTS, TS_OPT_JSON, TS_OPT_PROGRESS,
	TS_OPT_NO_PROGRESS, TS_OPT_SUBSAMPLING, TS_OPT_SHARD_DIGITS,

	TS_OPT_REWRITE_JSON = 0x1200,
};

/* How list files are read. */
#define TS_OPT_LIST_LONGOPTS \
	{ "caption-col", required_argument, NULL, TS_OPT_CAPTION_COL }, \
	{ "id-col", required_argument, NULL, TS_OPT_ID_COL }, \
	{ "no-header", no_argument, NULL, TS_OPT_NO_HEADER }, \
	{ "columns", required_argument, NULL, TS_OPT_COLUMNS }, \
	{ "preset", required_argument, NULL, TS_OPT_PRESET }, \
	{ "quoting", required_argument, NULL, TS_OPT_QUOTING }, \
	{ "max-quoted-bytes", required_argument, NULL, TS_OPT_MAX_QUOTED_BYTES }, \
	{ "max-quoted-lines", required_argument, NULL, TS_OPT_MAX_QUOTED_LINES }, \
	{ "keep-col", required_argument, NULL, TS_OPT_KEEP_COL }, \
	{ "group-by", required_argument, NULL, TS_OPT_GROUP_BY }

/* Images, output, partitions, run (-s, -o, -q and -v included). */
#define TS_OPT_WRITER_LONGOPTS \
	{ "resize", required_argument, NULL, TS_OPT_RESIZE }, \
	{ "size", required_argument, NULL, 's' }, \
	{ "min-size", required_argument, NULL, TS_OPT_MIN_SIZE }, \
	{ "max-pixels", required_argument, NULL, TS_OPT_MAX_PIXELS }, \
	{ "encode", required_argument, NULL, TS_OPT_ENCODE }, \
	{ "quality", required_argument, NULL, TS_OPT_QUALITY }, \
	{ "subsampling", required_argument, NULL, TS_OPT_SUBSAMPLING }, \
	{ "shard-digits", required_argument, NULL, TS_OPT_SHARD_DIGITS }, \
	{ "stats-digits", required_argument, NULL, TS_OPT_SHARD_DIGITS }, \
	{ "max-caption-bytes", required_argument, NULL, TS_OPT_MAX_CAPTION_BYTES }, \
	{ "vocab", required_argument, NULL, TS_OPT_VOCAB }, \
	{ "no-tokens", no_argument, NULL, TS_OPT_NO_TOKENS }, \
	{ "output", required_argument, NULL, 'o' }, \
	{ "shard-samples", required_argument, NULL, TS_OPT_SHARD_SAMPLES }, \
	{ "shard-bytes", required_argument, NULL, TS_OPT_SHARD_BYTES }, \
	{ "overwrite", no_argument, NULL, TS_OPT_OVERWRITE }, \
	{ "store", required_argument, NULL, TS_OPT_STORE }, \
	{ "dedup", required_argument, NULL, TS_OPT_DEDUP }, \
	{ "part", required_argument, NULL, TS_OPT_PART }, \
	{ "parts", required_argument, NULL, TS_OPT_PARTS }, \
	{ "json", no_argument, NULL, TS_OPT_JSON }, \
	{ "progress", no_argument, NULL, TS_OPT_PROGRESS }, \
	{ "no-progress", no_argument, NULL, TS_OPT_NO_PROGRESS }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }

/* What the groups keep between options and the end of parsing. */
struct ts_opt_cli {
	const char *preset;
	char **keep;          /* --keep-col names (owned) */
	size_t nkeep;
	unsigned parts;       /* --parts */
};

/* The defaults of ingest and fetch (256 px center-crop JPEG q95, 10,000
 * samples or 1 GiB per shard, token counts on, progress on a terminal). */
void ts_ingest_opts_default(struct ts_ingest_opts *o);

int ts_opt_list(int c, const char *arg, struct ts_source_opts *src, struct ts_opt_cli *cli,
		const char *cmd);
int ts_opt_writer(int c, const char *arg, struct ts_ingest_opts *o, struct ts_opt_cli *cli,
		  const char *cmd);

/* After parsing: apply the preset (explicit options win), check that
 * --columns comes with --no-header and that no kept column shadows a
 * KEY.json field; the partition from --part, --parts or the environment
 * (OUTDIR/part-I then goes into *partdir, which the caller frees).
 * Returns 0 or an exit code after the message. */
int ts_opt_list_finish(struct ts_opt_cli *cli, struct ts_source_opts *src, const char *cmd);
int ts_opt_writer_finish(struct ts_opt_cli *cli, struct ts_ingest_opts *o, char **partdir,
			 const char *cmd);

/* ts_opt_list, then ts_opt_writer: what the commands' loops call first. */
int ts_opt_groups(int c, const char *arg, struct ts_ingest_opts *o, struct ts_opt_cli *cli,
		  const char *cmd);

void ts_opt_cli_release(struct ts_opt_cli *cli);   /* the kept names; cli zeroed */

/* The command line as a POSIX shell reads it back ("tessera" and each
 * argument, quoted where needed), malloc'ed; NULL when out of memory. */
char *ts_opt_command_line(int argc, char **argv);

#endif
