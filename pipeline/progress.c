/*
 * progress.c - "ingest: 1234/5000 (24%) 310 samples/s 12.3 MB/s 5 rejects ETA 0:12"
 * redrawn in place with \r on a terminal.  Only the writer thread calls
 * update/clear, so there is no locking.
 */
#include "pipeline/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/util.h"

struct ts_progress {
	const char *title;
	uint64_t total, done, bytes, rejects;
	double start, last;
	int shown;
	void (*extra)(void *user, char *buf, size_t n);
	void *extra_user;
};

void ts_progress_extra(struct ts_progress *p, void (*fn)(void *user, char *buf, size_t n),
		       void *user)
{
	if (p) {
		p->extra = fn;
		p->extra_user = user;
	}
}

struct ts_progress *ts_progress_new(const char *title, int mode)
{
	struct ts_progress *p;
	if (mode == 0 || (mode < 0 && (ts_verbosity < 1 || !isatty(STDERR_FILENO))))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->title = title;
	p->start = ts_now();
	return p;
}

void ts_progress_total(struct ts_progress *p, uint64_t total)
{
	if (p)
		p->total = total;
}

static void draw(struct ts_progress *p, double now)
{
	double el = now - p->start;
	double rate = el > 0 ? (double)p->done / el : 0;
	char eta[32] = "", extra[256] = "";
	if (p->total && p->done > p->total)
		p->total = p->done;     /* a counted total is an estimate (CSV) */
	if (p->extra)
		p->extra(p->extra_user, extra, sizeof(extra));
	if (p->total > p->done && rate > 0) {
		unsigned long s = (unsigned long)((double)(p->total - p->done) / rate);
		snprintf(eta, sizeof(eta), " ETA %lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	}
	if (p->total)
		fprintf(stderr, "\r%s: %llu/%llu (%d%%) %.1f samples/s %.1f MB/s %llu rejects%s%s\033[K",
			p->title, (unsigned long long)p->done, (unsigned long long)p->total,
			(int)(100.0 * (double)p->done / (double)p->total), rate,
			el > 0 ? (double)p->bytes / el / 1e6 : 0.0,
			(unsigned long long)p->rejects, extra, eta);
	else
		fprintf(stderr, "\r%s: %llu %.1f samples/s %.1f MB/s %llu rejects%s\033[K",
			p->title, (unsigned long long)p->done, rate,
			el > 0 ? (double)p->bytes / el / 1e6 : 0.0,
			(unsigned long long)p->rejects, extra);
	p->shown = 1;
	p->last = now;
}

void ts_progress_update(struct ts_progress *p, uint64_t done, uint64_t bytes,
			uint64_t rejects)
{
	double now;
	if (!p)
		return;
	p->done = done;
	p->bytes = bytes;
	p->rejects = rejects;
	now = ts_now();
	if (now - p->last >= 0.2)
		draw(p, now);
}

void ts_progress_clear(struct ts_progress *p)
{
	if (p && p->shown) {
		fputs("\r\033[K", stderr);
		p->shown = 0;
		p->last = 0;   /* redraw on the next update */
	}
}

void ts_progress_done(struct ts_progress *p)
{
	if (!p)
		return;
	draw(p, ts_now());
	fputc('\n', stderr);
	p->shown = 0;
}

void ts_progress_free(struct ts_progress *p)
{
	free(p);
}
