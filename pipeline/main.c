/*
 * main.c - `tessera <command> [options]`: global flags, the subcommand
 * table, help.  Each command lives in its own cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "pipeline/cmd.h"
#include "pipeline/util.h"

static void usage_help(FILE *f)
{
	fputs("usage: tessera help [COMMAND]\n", f);
}

static int cmd_help(int argc, char **argv);

static const struct ts_cmd commands[] = {
	{ "ingest", cmd_ingest, "image-caption datasets into WebDataset shards + SQLite catalog", usage_ingest },
	{ "fetch", cmd_fetch, "download URL lists (CC3M, CC12M, RedCaps, SBU, LAION) into the same shards", usage_fetch },
	{ "captions", cmd_captions, "CLIP tokens, caption-length stats, short/long caption pairs", usage_captions },
	{ "compose", cmd_compose, "CLIP-C compositions: two samples, one image, \"A and B\"", usage_compose },
	{ "tags", cmd_tags, "candidate tags with caption and token spans (TTD)", usage_tags },
	{ "shards", cmd_shards, "inspect, verify, index and merge datasets", usage_shards },
	{ "str", cmd_str, "scene-text word crops for CLIP4STR: LMDB in and out, label filter, stats", usage_str },
	{ "report", cmd_report, "one self-contained HTML page that shows a dataset", usage_report },
	{ "parquet", cmd_parquet, "look inside parquet URL/caption lists: head, schema", usage_parquet },
	{ "help", cmd_help, "show help for a command", usage_help },
	{ NULL, NULL, NULL, NULL },
};

const struct ts_cmd *ts_cmd_find(const char *name)
{
	for (const struct ts_cmd *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void usage(FILE *f)
{
	fputs("usage: tessera [--version] [--help] <command> [options]\n\n"
	      "tessera turns image-caption collections into training corpora for\n"
	      "CLIP-style models.\n\ncommands:\n", f);
	for (const struct ts_cmd *c = commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fputs("\n'tessera help <command>' or 'tessera <command> --help' for a command's options.\n"
	      "Common options: -q quiet, -v verbose, --json machine-readable summary.\n", f);
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return TS_EXIT_OK;
	}
	const struct ts_cmd *c = ts_cmd_find(argv[1]);
	if (!c) {
		ts_error("unknown command '%s'", argv[1]);
		return TS_EXIT_USAGE;
	}
	c->usage(stdout);
	return TS_EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return TS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("tessera %s\n", TS_VERSION);
		return TS_EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return TS_EXIT_OK;
	}
	const struct ts_cmd *c = ts_cmd_find(argv[1]);
	if (!c) {
		ts_error("'%s' is not a tessera command; see 'tessera --help'", argv[1]);
		return TS_EXIT_USAGE;
	}
	ts_command = c->name;
	return c->fn(argc - 1, argv + 1);
}
