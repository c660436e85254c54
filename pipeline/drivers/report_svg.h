/*
 * report_svg.h - HTML escaping and the inline SVG charts of `tessera
 * report`: a histogram with marked limits, horizontal bars, a 2-D
 * histogram.  Everything is written to a FILE; every text that came from
 * the dataset goes through ts_html_text (no markup from data reaches the page).
 */
#ifndef TS_REPORT_SVG_H
#define TS_REPORT_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* s[0..len) with & < > " ' as entities; invalid UTF-8 bytes become U+FFFD.
 * ts_html_str: a NUL-terminated string (NULL writes nothing). */
void ts_html_text(FILE *f, const char *s, size_t len);
void ts_html_str(FILE *f, const char *s);

struct ts_svg_bin {
	long long from, to;      /* inclusive range of the bin */
	uint64_t count;
};

struct ts_svg_mark {
	long long at;            /* x value of the limit */
	const char *label;       /* e.g. "77: 12.5% over" (not from the dataset) */
};

/* Vertical bars over a numeric x axis [0, max(last bin, marks within
 * x_max)]; marks past x_max are drawn at the right edge with an arrow.
 * Bars carry class "bar" and data-from/data-to/data-count; marks class
 * "limit" and data-limit. */
void ts_svg_histogram(FILE *f, const struct ts_svg_bin *bins, size_t n, const struct ts_svg_mark *marks,
		      size_t nmarks, long long x_max, const char *x_label, const char *id);

/* Horizontal bars, one per label (labels are escaped), each with its count. */
void ts_svg_hbars(FILE *f, const char *const *labels, const uint64_t *counts, size_t n, const char *id);

/* A 2-D histogram: counts[y * nx + x], cell size bw x bh in data units. */
void ts_svg_heatmap(FILE *f, const uint64_t *counts, int nx, int ny, long long bw, long long bh,
		    const char *x_label, const char *y_label, const char *id);

#endif
