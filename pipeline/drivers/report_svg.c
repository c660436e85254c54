/*
 * report_svg.c - HTML escaping and inline SVG charts for `tessera report`
 * (see report_svg.h).  Charts have fixed pixel sizes so the page lays out
 * the same in any browser; labels are placed so they do not overlap (limit
 * labels on separate rows, bar labels left of the bars).
 */
#include "pipeline/drivers/report_svg.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void ts_html_text(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p;
		switch (c) {
		case '&': fputs("&amp;", f); p++; continue;
		case '<': fputs("&lt;", f); p++; continue;
		case '>': fputs("&gt;", f); p++; continue;
		case '"': fputs("&quot;", f); p++; continue;
		case '\'': fputs("&#39;", f); p++; continue;
		default: break;
		}
		if (c < 0x80) {
			if (c < 0x20 && c != '\n' && c != '\t')
				fputs("&#xFFFD;", f);
			else
				fputc((int)c, f);
			p++;
			continue;
		}
		/* a whole UTF-8 sequence, or U+FFFD for a bad byte */
		size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
		int ok = n && (size_t)(end - p) >= n;
		for (size_t i = 1; ok && i < n; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (ok && n == 3)
			ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
		if (ok && n == 4)
			ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
		if (ok) {
			fwrite(p, 1, n, f);
			p += n;
		} else {
			fputs("&#xFFFD;", f);
			p++;
		}
	}
}

void ts_html_str(FILE *f, const char *s)
{
	if (s)
		ts_html_text(f, s, strlen(s));
}

/* n with thousands separators into buf (>= 32 bytes). */
static const char *sep(char *buf, uint64_t n)
{
	char t[32];
	int len = snprintf(t, sizeof(t), "%" PRIu64, n), o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = t[i];
	}
	buf[o] = 0;
	return buf;
}

/* An axis value: 800, 12k, 1.5M. */
static const char *tick(char *buf, double v)
{
	if (v >= 1e6)
		snprintf(buf, 32, "%gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, 32, "%gk", v / 1e3);
	else
		snprintf(buf, 32, "%.0f", v);
	return buf;
}

/* A "nice" step (1, 2, 5 x 10^k) for about n ticks over [0, top]. */
static double nice_step(double top, int n)
{
	if (top <= 0)
		return 1;
	double raw = top / n, p = pow(10, floor(log10(raw))), m = raw / p;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

#define W 760
#define H 280
#define ML 56
#define MR 30
#define MT 16
#define MB 44

void ts_svg_histogram(FILE *f, const struct ts_svg_bin *bins, size_t n, const struct ts_svg_mark *marks,
		      size_t nmarks, long long x_max, const char *x_label, const char *id)
{
	uint64_t top = 1;
	long long xmax = n ? bins[n - 1].to + 1 : 1;
	for (size_t i = 0; i < n; i++)
		if (bins[i].count > top)
			top = bins[i].count;
	for (size_t m = 0; m < nmarks; m++)
		if (marks[m].at <= x_max && marks[m].at + 2 > xmax)
			xmax = marks[m].at + 2;
	if (xmax < 1)
		xmax = 1;
	/* label rows above the plot for the limits */
	int rows = (int)nmarks, mt = MT + 16 * rows;
	int pw = W - ML - MR, ph = H - mt - MB;
	double ystep = nice_step((double)top, 4), ytop = ceil((double)top / ystep) * ystep;
	double xs = (double)pw / (double)xmax;

	fprintf(f, "<svg class=\"chart histogram\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
		" viewBox=\"0 0 %d %d\" role=\"img\">\n", id, W, H, W, H);
	/* y grid and labels */
	for (double y = 0; y <= ytop + 1e-9; y += ystep) {
		double py = mt + ph - y / ytop * ph;
		char tb[32];
		fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			ML, ML + pw, py, py, ML - 6, py + 4, tick(tb, y));
	}
	for (size_t i = 0; i < n; i++) {
		double x0 = ML + (double)bins[i].from * xs, x1 = ML + (double)(bins[i].to + 1) * xs;
		double h = (double)bins[i].count / ytop * ph;
		fprintf(f, "<rect class=\"bar\" data-from=\"%lld\" data-to=\"%lld\" data-count=\"%" PRIu64 "\""
			" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"><title>%lld-%lld: %" PRIu64 "</title></rect>\n",
			bins[i].from, bins[i].to, bins[i].count, x0 + 0.5, mt + ph - h, x1 - x0 > 2 ? x1 - x0 - 1 : x1 - x0,
			h, bins[i].from, bins[i].to, bins[i].count);
	}
	/* x axis with ticks */
	fprintf(f, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", ML, ML + pw, mt + ph, mt + ph);
	double xstep = nice_step((double)xmax, 8);
	for (double x = 0; x <= xmax + 1e-9; x += xstep)
		fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n",
			ML + x * xs, mt + ph + 16, x);
	fprintf(f, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", ML + pw / 2, H - 6);
	ts_html_str(f, x_label);
	fputs("</text>\n", f);
	/* limits: a dashed line each, its label on its own row above the plot */
	for (size_t m = 0; m < nmarks; m++) {
		int beyond = marks[m].at > xmax;
		double px = beyond ? ML + pw - 2 : ML + (double)marks[m].at * xs;
		double ly = MT + 12 + 16 * (double)m;
		const char *anchor = px > ML + pw * 0.7 ? "end" : "start";
		fprintf(f, "<g class=\"limit\" data-limit=\"%lld\"%s>", marks[m].at, beyond ? " data-beyond=\"1\"" : "");
		/* a limit past the axis gets no line, only its label with an arrow */
		if (!beyond)
			fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%d\"/>", px, px, ly + 3, mt + ph);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", px + (anchor[0] == 'e' ? -4 : 4), ly, anchor);
		ts_html_str(f, marks[m].label);
		fputs(beyond ? " \xe2\x86\x92</text></g>\n" : "</text></g>\n", f);
	}
	fputs("</svg>\n", f);
}

void ts_svg_hbars(FILE *f, const char *const *labels, const uint64_t *counts, size_t n, const char *id)
{
	int lw = 230, bh = 20, h = (int)n * bh + 12, pw = W - lw - 90;
	uint64_t top = 1;
	for (size_t i = 0; i < n; i++)
		if (counts[i] > top)
			top = counts[i];
	fprintf(f, "<svg class=\"chart hbars\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
		" viewBox=\"0 0 %d %d\" role=\"img\">\n", id, W, h, W, h);
	for (size_t i = 0; i < n; i++) {
		double w = (double)counts[i] / (double)top * pw;
		int y = 6 + (int)i * bh;
		fprintf(f, "<g class=\"hbar\"><text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 8, y + 14);
		ts_html_str(f, labels[i]);
		char cb[32];
		fprintf(f, "</text><rect class=\"bar\" data-count=\"%" PRIu64 "\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>"
			"<text class=\"tick\" x=\"%.1f\" y=\"%d\">%s</text></g>\n",
			counts[i], lw, y + 2, w < 1 ? 1 : w, bh - 5, lw + (w < 1 ? 1 : w) + 6, y + 14, sep(cb, counts[i]));
	}
	fputs("</svg>\n", f);
}

void ts_svg_heatmap(FILE *f, const uint64_t *counts, int nx, int ny, long long bw, long long bh,
		    const char *x_label, const char *y_label, const char *id)
{
	int cell = 16, ml = 64, mb = 44, mt = 10;
	if (nx * cell > W - ml - 20)
		cell = (W - ml - 20) / (nx ? nx : 1);
	int pw = nx * cell, ph = ny * cell, w = ml + pw + 20, h = mt + ph + mb;
	uint64_t top = 1;
	for (int i = 0; i < nx * ny; i++)
		if (counts[i] > top)
			top = counts[i];
	fprintf(f, "<svg class=\"chart heatmap\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
		" viewBox=\"0 0 %d %d\" role=\"img\">\n", id, w, h, w, h);
	fprintf(f, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", ml, mt, pw, ph);
	for (int y = 0; y < ny; y++)
		for (int x = 0; x < nx; x++) {
			uint64_t c = counts[y * nx + x];
			if (!c)
				continue;
			/* log scale, so one large cluster does not hide the rest */
			double a = 0.15 + 0.85 * log1p((double)c) / log1p((double)top);
			fprintf(f, "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill-opacity=\"%.3f\">"
				"<title>%lld-%lld x %lld-%lld: %" PRIu64 "</title></rect>\n",
				ml + x * cell, mt + ph - (y + 1) * cell, cell, cell, a, x * bw, (x + 1) * bw - 1, y * bh,
				(y + 1) * bh - 1, c);
		}
	int xstep = nx > 8 ? (nx + 7) / 8 : 1, ystep = ny > 8 ? (ny + 7) / 8 : 1;
	for (int x = 0; x <= nx; x += xstep)
		fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%lld</text>\n", ml + x * cell,
			mt + ph + 14, x * bw);
	for (int y = 0; y <= ny; y += ystep)
		fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%lld</text>\n", ml - 4,
			mt + ph - y * cell + 4, y * bh);
	fprintf(f, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", ml + pw / 2, h - 6);
	ts_html_str(f, x_label);
	fprintf(f, "</text><text class=\"label\" transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">",
		mt + ph / 2);
	ts_html_str(f, y_label);
	fputs("</text>\n</svg>\n", f);
}
