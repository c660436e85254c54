/*
 * captions_cmds.h - the `tessera captions` subcommands after the
 * dispatcher in cmd_captions.c: argv[0] is the subcommand's name.
 */
#ifndef TS_CAPTIONS_CMDS_H
#define TS_CAPTIONS_CMDS_H

int captions_tokenize(int argc, char **argv);
int captions_stats(int argc, char **argv);
int captions_split(int argc, char **argv);

#endif
