/*
 * seen.c - the hash set behind --dedup exact (see seen.h).  The keys are
 * XXH3-128 digests, already uniform, so the low 64 bits index the table
 * directly; a slot with both halves zero is empty (the digest 0 is stored
 * with a flag).
 */
#include "pipeline/drivers/seen.h"

#include <stdlib.h>

struct entry {
	uint64_t hi, lo, record;
	int used;
};

struct ts_seen {
	struct entry *t;
	size_t cap, n;
};

struct ts_seen *ts_seen_new(void)
{
	struct ts_seen *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = 1024;
	s->t = calloc(s->cap, sizeof(*s->t));
	if (!s->t) {
		free(s);
		return NULL;
	}
	return s;
}

void ts_seen_free(struct ts_seen *s)
{
	if (!s)
		return;
	free(s->t);
	free(s);
}

static int parse_hex(const char *h, uint64_t *hi, uint64_t *lo)
{
	uint64_t v[2] = { 0, 0 };
	for (int i = 0; i < 32; i++) {
		char c = h[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v[i / 16] = v[i / 16] << 4 | (uint64_t)d;
	}
	*hi = v[0];
	*lo = v[1];
	return 0;
}

static struct entry *find(struct entry *t, size_t cap, uint64_t hi, uint64_t lo)
{
	size_t i = (size_t)(lo & (cap - 1));
	while (t[i].used && (t[i].hi != hi || t[i].lo != lo))
		i = (i + 1) & (cap - 1);
	return &t[i];
}

static int grow(struct ts_seen *s)
{
	size_t nc = s->cap * 2;
	struct entry *nt = calloc(nc, sizeof(*nt));
	if (!nt)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->t[i].used)
			*find(nt, nc, s->t[i].hi, s->t[i].lo) = s->t[i];
	free(s->t);
	s->t = nt;
	s->cap = nc;
	return 0;
}

int ts_seen_check(struct ts_seen *s, const char *hex, uint64_t record, uint64_t *first)
{
	uint64_t hi, lo;
	struct entry *e;
	if (parse_hex(hex, &hi, &lo))
		return -1;
	e = find(s->t, s->cap, hi, lo);
	if (e->used) {
		*first = e->record;
		return 1;
	}
	if ((s->n + 1) * 2 > s->cap) {
		if (grow(s))
			return -1;
		e = find(s->t, s->cap, hi, lo);
	}
	e->hi = hi;
	e->lo = lo;
	e->record = record;
	e->used = 1;
	s->n++;
	return 0;
}
