/*
 * seen.h - a set of 128-bit content hashes with the record that first had
 * each, for --dedup exact.  Open addressing, grows by doubling; about 24
 * bytes a sample.  One thread.
 */
#ifndef TS_SEEN_H
#define TS_SEEN_H

#include <stddef.h>
#include <stdint.h>

struct ts_seen;

struct ts_seen *ts_seen_new(void);
void ts_seen_free(struct ts_seen *s);   /* accepts NULL */
/* Look hex (32 hex digits) up; if present return 1 and its record in
 * *first, else insert it with record and return 0.  -1 on bad hex or
 * out of memory. */
int ts_seen_check(struct ts_seen *s, const char *hex, uint64_t record, uint64_t *first);

#endif
