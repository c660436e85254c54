/*
 * thrift.h - a reader for the Thrift compact protocol, private to
 * shards/parquet.c (the parquet footer and page headers are compact-
 * protocol structs).  It reads from a bounded byte range and never reads
 * past its end: any overrun, bad varint or too-deep nesting sets t->bad and
 * every later call returns zeros, so a caller checks t->bad once after a
 * struct.
 */
#ifndef TS_THRIFT_H
#define TS_THRIFT_H

#include <stddef.h>
#include <stdint.h>

enum ts_tc_type {
	TS_TC_STOP = 0, TS_TC_TRUE = 1, TS_TC_FALSE = 2, TS_TC_BYTE = 3,
	TS_TC_I16 = 4, TS_TC_I32 = 5, TS_TC_I64 = 6, TS_TC_DOUBLE = 7,
	TS_TC_BINARY = 8, TS_TC_LIST = 9, TS_TC_SET = 10, TS_TC_MAP = 11,
	TS_TC_STRUCT = 12,
};

struct ts_tc {
	const uint8_t *p, *end;
	int bad;             /* set on the first problem; sticky */
	const char *why;     /* what the problem was (static text) */
	int depth;           /* struct/list nesting, capped */
};

void ts_tc_init(struct ts_tc *t, const uint8_t *p, size_t len);
/* Next field header of the current struct: 1 with *type and *id set, 0 at
 * the struct's stop byte (or when bad).  *last is the previous field id,
 * updated (field ids are delta-coded); start each struct with last = 0. */
int ts_tc_field(struct ts_tc *t, int16_t *last, int *type, int16_t *id);
/* Skip a value of the given type (structs, lists and maps recursively). */
void ts_tc_skip(struct ts_tc *t, int type);
int64_t ts_tc_i64(struct ts_tc *t);        /* I64, I32, I16 and BYTE fields */
int32_t ts_tc_i32(struct ts_tc *t);        /* I32 or I16; bad if out of range */
/* A BINARY/STRING: pointer into the buffer and its length. */
const uint8_t *ts_tc_binary(struct ts_tc *t, uint32_t *len);
/* A list or set header: element type and count (count checked against the
 * bytes left, at least one byte per element except booleans). */
uint32_t ts_tc_list(struct ts_tc *t, int *elem_type);
/* Enter/leave a nested struct (depth check). */
int ts_tc_enter(struct ts_tc *t);
void ts_tc_leave(struct ts_tc *t);
size_t ts_tc_used(const struct ts_tc *t, const uint8_t *start);

#endif
