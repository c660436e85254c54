/*
 * thrift.c - Thrift compact protocol reader for the parquet footer and page
 * headers (see thrift.h).  The protocol: a field header byte holds a
 * field-id delta (high nibble, 0 = a zigzag i16 id follows) and a type (low
 * nibble); integers are zigzag varints; binaries are a varint length and
 * bytes; a list header holds a count (high nibble, 15 = varint follows) and
 * an element type.  What must always hold: no read leaves [p, end), and
 * recursion is bounded by TS_TC_MAX_DEPTH.
 */
#include "shards/thrift.h"

#define TS_TC_MAX_DEPTH 32

static void fail(struct ts_tc *t, const char *why)
{
	if (!t->bad) {
		t->bad = 1;
		t->why = why;
	}
	t->p = t->end;
}

void ts_tc_init(struct ts_tc *t, const uint8_t *p, size_t len)
{
	t->p = p;
	t->end = p + len;
	t->bad = 0;
	t->why = NULL;
	t->depth = 0;
}

size_t ts_tc_used(const struct ts_tc *t, const uint8_t *start)
{
	return (size_t)(t->p - start);
}

static uint8_t byte(struct ts_tc *t)
{
	if (t->p >= t->end) {
		fail(t, "truncated");
		return 0;
	}
	return *t->p++;
}

static uint64_t varint(struct ts_tc *t)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t b = byte(t);
		if (t->bad)
			return 0;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	fail(t, "varint too long");
	return 0;
}

static int64_t zigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int ts_tc_enter(struct ts_tc *t)
{
	if (++t->depth > TS_TC_MAX_DEPTH) {
		fail(t, "nested too deeply");
		return -1;
	}
	return 0;
}

void ts_tc_leave(struct ts_tc *t)
{
	t->depth--;
}

int ts_tc_field(struct ts_tc *t, int16_t *last, int *type, int16_t *id)
{
	if (t->bad)
		return 0;
	uint8_t b = byte(t);
	if (t->bad || b == 0)
		return 0;
	*type = b & 0x0f;
	int delta = b >> 4;
	if (delta) {
		*id = (int16_t)(*last + delta);
	} else {
		int64_t v = zigzag(varint(t));
		if (v < -32768 || v > 32767)
			fail(t, "bad field id");
		*id = (int16_t)v;
	}
	*last = *id;
	if (*type > TS_TC_STRUCT) {
		fail(t, "unknown field type");
		return 0;
	}
	return !t->bad;
}

int64_t ts_tc_i64(struct ts_tc *t)
{
	return zigzag(varint(t));
}

int32_t ts_tc_i32(struct ts_tc *t)
{
	int64_t v = zigzag(varint(t));
	if (v < INT32_MIN || v > INT32_MAX) {
		fail(t, "integer out of range");
		return 0;
	}
	return (int32_t)v;
}

const uint8_t *ts_tc_binary(struct ts_tc *t, uint32_t *len)
{
	uint64_t n = varint(t);
	*len = 0;
	if (t->bad)
		return NULL;
	if (n > (uint64_t)(t->end - t->p)) {
		fail(t, "string runs past the end");
		return NULL;
	}
	const uint8_t *s = t->p;
	t->p += n;
	*len = (uint32_t)n;
	return s;
}

uint32_t ts_tc_list(struct ts_tc *t, int *elem_type)
{
	uint8_t b = byte(t);
	uint64_t n = b >> 4;
	*elem_type = b & 0x0f;
	if (n == 15)
		n = varint(t);
	if (t->bad)
		return 0;
	/* every element but a boolean takes at least one byte */
	if (*elem_type != TS_TC_TRUE && *elem_type != TS_TC_FALSE &&
	    n > (uint64_t)(t->end - t->p)) {
		fail(t, "list longer than its bytes");
		return 0;
	}
	if (n > (1u << 30)) {
		fail(t, "list too long");
		return 0;
	}
	return (uint32_t)n;
}

void ts_tc_skip(struct ts_tc *t, int type)
{
	uint32_t n, len;
	int et;
	int16_t last = 0, id;
	int ft;

	if (t->bad)
		return;
	switch (type) {
	case TS_TC_TRUE:
	case TS_TC_FALSE:
		return;             /* a field's boolean is in its header */
	case TS_TC_BYTE:
		byte(t);
		return;
	case TS_TC_I16:
	case TS_TC_I32:
	case TS_TC_I64:
		varint(t);
		return;
	case TS_TC_DOUBLE:
		if (t->end - t->p < 8)
			fail(t, "truncated");
		else
			t->p += 8;
		return;
	case TS_TC_BINARY:
		ts_tc_binary(t, &len);
		return;
	case TS_TC_LIST:
	case TS_TC_SET:
		if (ts_tc_enter(t))
			return;
		n = ts_tc_list(t, &et);
		for (uint32_t i = 0; i < n && !t->bad; i++) {
			if (et == TS_TC_TRUE || et == TS_TC_FALSE)
				byte(t);    /* in a list a boolean is one byte */
			else
				ts_tc_skip(t, et);
		}
		ts_tc_leave(t);
		return;
	case TS_TC_MAP: {
		if (ts_tc_enter(t))
			return;
		uint64_t m = varint(t);
		if (m > (uint64_t)(t->end - t->p)) {
			fail(t, "map longer than its bytes");
			ts_tc_leave(t);
			return;
		}
		if (m) {
			uint8_t kv = byte(t);
			for (uint64_t i = 0; i < m && !t->bad; i++) {
				int kt = kv >> 4, vt = kv & 0x0f;
				if (kt == TS_TC_TRUE || kt == TS_TC_FALSE)
					byte(t);
				else
					ts_tc_skip(t, kt);
				if (vt == TS_TC_TRUE || vt == TS_TC_FALSE)
					byte(t);
				else
					ts_tc_skip(t, vt);
			}
		}
		ts_tc_leave(t);
		return;
	}
	case TS_TC_STRUCT:
		if (ts_tc_enter(t))
			return;
		while (ts_tc_field(t, &last, &ft, &id))
			ts_tc_skip(t, ft);
		ts_tc_leave(t);
		return;
	default:
		fail(t, "unknown type");
		return;
	}
}
