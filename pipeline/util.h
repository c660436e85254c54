/*
 * util.h - small helpers for the command layer: checked number parsing with
 * K/M/G suffixes, directories, whole-file reads with a cap, messages.
 */
#ifndef TS_UTIL_H
#define TS_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "base/ts_error.h"

/* Verbosity: 0 quiet (-q), 1 normal, 2 verbose (-v). */
extern int ts_verbosity;
/* The command being run ("ingest", ...; set by main.c), for usage hints. */
extern const char *ts_command;

void ts_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ts_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ts_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a non-negative integer with an optional K/M/G/T suffix (powers of
 * 1024 when binary is set, else 1000; "KiB"/"MB" forms accepted).  Returns
 * 0 on success, -1 on garbage or overflow. */
int ts_parse_u64(const char *s, int binary, uint64_t *out);
/* Integer in [lo, hi], no suffix. */
int ts_parse_int(const char *s, long lo, long hi, long *out);

/* An integer option in [lo, hi]: 0, or -1 after printing "invalid value
 * 'ARG' for --NAME: expected WANT" and "see 'tessera COMMAND --help'". */
int ts_opt_int(const char *name, const char *arg, long lo, long hi, const char *want, long *out);

/* mkdir -p; 0 or -1 with errno. */
int ts_mkdirs(const char *path, int mode);

/* Read a whole regular file into *buf (grown as needed, *cap updated),
 * refusing files larger than max_bytes (source.too_large), non-regular
 * files (source.unreadable) and missing ones (source.missing). */
int ts_read_file(const char *path, uint64_t max_bytes, uint8_t **buf,
		 size_t *cap, size_t *len, struct ts_err *err);

/* One input line of the caption commands: the line without its line end
 * or, for JSONL, the string of its "caption" field (else "text").  *json
 * holds the parsed line (json_decref it; NULL for plain text).  Returns 0,
 * or -1 with a message in msg. */
typedef struct json_t json_t;
int ts_caption_line(const char *line, size_t len, int jsonl, const char **text, size_t *text_len,
		    json_t **json, char *msg, size_t msg_len);

/* Length of a UTF-8 byte-order mark at p (3) or 0.  Every text input
 * (lists, JSON, sidecars, caption files, gt lists) skips one at its start
 * with this or ts_skip_bom(). */
size_t ts_bom_len(const void *p, size_t n);
/* Skip a byte-order mark at the start of the regular file fp, just
 * opened: afterwards fp is positioned after it, or at 0 when there is
 * none.  0, or -1 with errno on a read or seek error. */
int ts_skip_bom(FILE *fp);

/* The crash tests' hook (docs/testing.md): TESSERA_CRASH_AT=POINT[:N]
 * kills the process with SIGKILL the N-th time (default 1) a writer
 * reports POINT.  Pass it as the hook of an output dataset or writer;
 * user is ignored.  One writer thread calls it. */
void ts_crash_hook(void *user, const char *point);

/* SIGINT/SIGTERM set ts_stop_requested instead of killing the process, so
 * a writing command can stop cleanly (run row "interrupted", no temporary
 * files, exit 130); restore puts the previous handlers back. */
extern volatile sig_atomic_t ts_stop_requested;
void ts_signals_catch(void);
void ts_signals_restore(void);

/* A JSON string of s; bytes that are not UTF-8 become U+FFFD (jansson
 * refuses them).  NULL only when out of memory. */
json_t *ts_json_string_lossy(const char *s);

/* Print j as one line of compact JSON on stdout (every --json summary goes
 * through here, so user paths are always escaped) and release it.  j may be
 * NULL (out of memory): returns -1 then, else 0. */
int ts_print_json(json_t *j);
/* j as compact JSON with sorted keys (for fingerprints and meta rows),
 * released; NULL when out of memory. */
char *ts_json_canonical(json_t *j);

/* Monotonic seconds. */
double ts_now(void);
/* "2026-11-22T11:03:04Z" into buf (>= 24 bytes). */
void ts_utc_iso(char *buf, size_t n);

#endif
