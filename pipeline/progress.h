/*
 * progress.h - one updating progress line on stderr.  Every function
 * accepts NULL (no progress: quiet, or stderr is not a terminal), so
 * callers need no branches, like git's progress.c.
 */
#ifndef TS_PROGRESS_H
#define TS_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct ts_progress;

/* mode: -1 auto (only when stderr is a terminal and not quiet), 0 off, 1 on.
 * Returns NULL when off. */
struct ts_progress *ts_progress_new(const char *title, int mode);
void ts_progress_total(struct ts_progress *p, uint64_t total);  /* 0: unknown */
/* Redraws at most every 200 ms. */
void ts_progress_update(struct ts_progress *p, uint64_t done, uint64_t bytes,
			uint64_t rejects);
/* Erase the line (before printing a message). */
void ts_progress_clear(struct ts_progress *p);
/* Final redraw and newline. */
void ts_progress_done(struct ts_progress *p);
void ts_progress_free(struct ts_progress *p);
/* fn(user, buf, n) writes text appended to every redraw (called on the
 * thread that updates). */
void ts_progress_extra(struct ts_progress *p, void (*fn)(void *user, char *buf, size_t n),
		       void *user);

#endif
