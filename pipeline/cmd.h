/*
 * cmd.h - the subcommand table: one cmd_<name>() per command, each parsing
 * its own options into an options struct and calling a driver.  Only
 * main.c and cmd_*.c exit.
 */
#ifndef TS_CMD_H
#define TS_CMD_H

#include <stdio.h>

struct ts_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	void (*usage)(FILE *f);
};

int cmd_ingest(int argc, char **argv);
void usage_ingest(FILE *f);
int cmd_shards(int argc, char **argv);
int cmd_captions(int argc, char **argv);
int cmd_tags(int argc, char **argv);
int cmd_compose(int argc, char **argv);
void usage_compose(FILE *f);
void usage_tags(FILE *f);
void usage_captions(FILE *f);
void usage_shards(FILE *f);
int cmd_str(int argc, char **argv);
int cmd_report(int argc, char **argv);
void usage_report(FILE *f);
int cmd_fetch(int argc, char **argv);
void usage_fetch(FILE *f);
void usage_str(FILE *f);
int cmd_parquet(int argc, char **argv);
void usage_parquet(FILE *f);

const struct ts_cmd *ts_cmd_find(const char *name);

/* Exit codes. */
#define TS_EXIT_OK 0
#define TS_EXIT_FAIL 1
#define TS_EXIT_USAGE 2
#define TS_EXIT_ALL_REJECTED 3   /* ingest: records were read and every one was rejected */
#define TS_EXIT_INTERRUPTED 130

#endif
