/*
 * resize.c - output geometry (img2dataset's resize modes) and the
 * antialiased resampler.
 *
 * Filter: bicubic Catmull-Rom (a = -0.5), support 2, widened by the
 * downscale factor so that downscaling averages every source pixel
 * (antialiasing, as Pillow's BICUBIC does); never nearest neighbour.
 * Separable: a horizontal pass over only the source rows the vertical pass
 * needs, then a vertical pass, both in fixed point (22-bit coefficients,
 * int32 accumulators, round half up, clamp to 0..255), so results are the
 * same on every machine and thread.  Only the output window is computed: a
 * center crop never resamples the pixels it throws away.
 * Coefficient tables and the intermediate buffer live in the per-thread
 * context and are reused from sample to sample.
 */
#include "compose/compose_impl.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREC 22

/* x86-64 with GCC or Clang: the horizontal pass in SSE4.1 where the CPU
 * has it (chosen at run time; the build stays baseline x86-64).
 * -DTS_HROW_SSE41=0 builds the portable loops only. */
#ifndef TS_HROW_SSE41
#if defined(__x86_64__) && defined(__GNUC__)
#define TS_HROW_SSE41 1
#else
#define TS_HROW_SSE41 0
#endif
#endif
#if TS_HROW_SSE41
#include <smmintrin.h>
#endif

int ts_resample_simd = 1;

static const char *const mode_names[] = {
	[TS_RESIZE_NO] = "no",
	[TS_RESIZE_BORDER] = "border",
	[TS_RESIZE_KEEP_RATIO] = "keep-ratio",
	[TS_RESIZE_KEEP_RATIO_LARGEST] = "keep-ratio-largest",
	[TS_RESIZE_CENTER_CROP] = "center-crop",
	[TS_RESIZE_STRETCH] = "stretch",
};

const char *ts_resize_mode_name(enum ts_resize_mode m)
{
	if ((unsigned)m >= sizeof(mode_names) / sizeof(mode_names[0]))
		return "unknown";
	return mode_names[m];
}

int ts_resize_mode_parse(const char *name)
{
	char buf[32];
	size_t i;
	for (i = 0; name[i] && i < sizeof(buf) - 1; i++)
		buf[i] = name[i] == '_' ? '-' : name[i];
	buf[i] = 0;
	for (size_t m = 0; m < sizeof(mode_names) / sizeof(mode_names[0]); m++)
		if (!strcmp(buf, mode_names[m]))
			return (int)m;
	return -1;
}

static const char *const enc_names[] = {
	[TS_ENCODE_JPEG] = "jpeg", [TS_ENCODE_WEBP] = "webp",
	[TS_ENCODE_PNG] = "png", [TS_ENCODE_KEEP] = "keep",
};

const char *ts_encode_fmt_name(enum ts_encode_fmt f)
{
	if ((unsigned)f >= sizeof(enc_names) / sizeof(enc_names[0]))
		return "unknown";
	return enc_names[f];
}

int ts_encode_fmt_parse(const char *name)
{
	if (!strcmp(name, "jpg"))
		return TS_ENCODE_JPEG;
	for (size_t i = 0; i < sizeof(enc_names) / sizeof(enc_names[0]); i++)
		if (!strcmp(name, enc_names[i]))
			return (int)i;
	return -1;
}

/* img2dataset scales with albumentations' smallest_max_size and
 * longest_max_size: scale = size / float(side), new = round(dim * scale),
 * in doubles with Python's round (half to even).  nearbyint() in the
 * default rounding mode is that same rounding of the same double, so the
 * sizes agree with img2dataset's exactly (341 for 640 -> 480:256; 4.5
 * rounds to 4).  Never below 1. */
static int scaled(int dim, int size, int side)
{
	double v = nearbyint((double)dim * ((double)size / (double)side));
	return v < 1.0 ? 1 : v > (double)INT_MAX ? INT_MAX : (int)v;
}

void ts_resize_plan(enum ts_resize_mode mode, int size, int w, int h,
		    struct ts_resize_plan *p)
{
	int shortest = w < h ? w : h, longest = w < h ? h : w;
	memset(p, 0, sizeof(*p));
	if (w <= 0 || h <= 0 || size <= 0)
		return;                     /* nothing to plan; callers reject such images */
	p->scaled_w = w;
	p->scaled_h = h;
	switch (mode) {
	case TS_RESIZE_KEEP_RATIO:
	case TS_RESIZE_CENTER_CROP:
		/* short side to size */
		p->scaled_w = w == shortest ? size : scaled(w, size, shortest);
		p->scaled_h = w == shortest ? scaled(h, size, shortest) : size;
		break;
	case TS_RESIZE_KEEP_RATIO_LARGEST:
	case TS_RESIZE_BORDER:
		/* long side to size */
		p->scaled_w = w == longest ? size : scaled(w, size, longest);
		p->scaled_h = w == longest ? scaled(h, size, longest) : size;
		break;
	case TS_RESIZE_STRETCH:
		p->scaled_w = p->scaled_h = size;
		break;
	case TS_RESIZE_NO:
	default:
		break;
	}
	p->out_w = p->scaled_w;
	p->out_h = p->scaled_h;
	if (mode == TS_RESIZE_CENTER_CROP || mode == TS_RESIZE_BORDER) {
		p->out_w = p->out_h = size;
		/* negative: crop (floor((scaled - size) / 2) cut on the left/top);
		 * positive: border ((size - scaled) / 2 on the left/top) */
		p->off_x = p->scaled_w > size ? -((p->scaled_w - size) / 2) : (size - p->scaled_w) / 2;
		p->off_y = p->scaled_h > size ? -((p->scaled_h - size) / 2) : (size - p->scaled_h) / 2;
	}
}

static double cubic(double x)
{
	const double a = -0.5;
	x = fabs(x);
	if (x < 1.0)
		return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
	if (x < 2.0)
		return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
	return 0.0;
}

/* Coefficients for outputs [x0, x0+n) of an axis scaled from in to out.
 * Layout per output: [first source index, taps, k0, k1, ...]; returns the
 * stride (2 + max taps) or -1. */
static int make_coefs(int32_t **buf, size_t *cap, int in, int out, int x0, int n,
		      size_t at, int *stride_out)
{
	double scale = (double)in / out, fs = scale < 1.0 ? 1.0 : scale;
	double support = 2.0 * fs;
	int kmax = (int)ceil(support) * 2 + 1, stride = kmax + 2;
	size_t need = (at + (size_t)n * stride) * sizeof(int32_t);

	if (ts_alloc_grow(buf, cap, need, 1))
		return -1;
	int32_t *t = *buf + at;
	for (int i = 0; i < n; i++, t += stride) {
		double center = (x0 + i + 0.5) * scale, sum = 0;
		int xmin = (int)floor(center - support + 0.5), xmax = (int)floor(center + support + 0.5);
		if (xmin < 0)
			xmin = 0;
		if (xmax > in)
			xmax = in;
		int taps = xmax - xmin;
		if (taps > kmax)
			taps = kmax;
		if (taps < 1) {            /* cannot happen for in >= 1; be safe */
			xmin = center < in ? (int)center : in - 1;
			taps = 1;
		}
		for (int k = 0; k < taps; k++)
			sum += cubic((xmin + k - center + 0.5) / fs);
		t[0] = xmin;
		t[1] = taps;
		int32_t isum = 0, big = 0;
		for (int k = 0; k < taps; k++) {
			double v = sum != 0.0 ? cubic((xmin + k - center + 0.5) / fs) / sum : (k == 0);
			t[2 + k] = (int32_t)lrint(v * (1 << PREC));
			isum += t[2 + k];
			if (t[2 + k] > t[2 + big])
				big = k;
		}
		t[2 + big] += (1 << PREC) - isum;   /* weights sum to exactly 1.0 */
	}
	*stride_out = stride;
	return 0;
}

/* v already holds the rounding half */
static inline uint8_t clamp8(int32_t v)
{
	v >>= PREC;
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One output pixel of the horizontal pass: the taps t (first source pixel,
 * count, weights) over the row at s, whose first pixel is source pixel ox.
 * int32 is enough: |sum of weights| <= 1.3 * 2^22 * 255 < 2^31. */
static inline void hpixel(const uint8_t *s, int ox, uint8_t *o, const int32_t *t)
{
	const uint8_t *p = s + (size_t)(t[0] - ox) * 3;
	const int32_t *k = t + 2;
	int32_t r0 = 1 << (PREC - 1), g0 = r0, b0 = r0;
	for (int n = t[1]; n > 0; n--, p += 3, k++) {
		r0 += p[0] * *k;
		g0 += p[1] * *k;
		b0 += p[2] * *k;
	}
	o[0] = clamp8(r0);
	o[1] = clamp8(g0);
	o[2] = clamp8(b0);
}

#if TS_HROW_SSE41
/* A row of the horizontal pass with the three channels of a tap in one
 * register (pmovzxbd widens R, G, B and the next byte, pmulld multiplies by
 * the weight): the same integer sums as hpixel, so the same bytes.  A
 * pixel whose last tap would read the byte after the image (end) goes
 * through hpixel. */
__attribute__((target("sse4.1")))
static void hrow_sse41(const uint8_t *s, int ox, const uint8_t *end, uint8_t *o, const int32_t *hc, int hs,
		       int out_w)
{
	const __m128i half = _mm_set1_epi32(1 << (PREC - 1));
	for (int i = 0; i < out_w; i++, hc += hs, o += 3) {
		const uint8_t *p = s + (size_t)(hc[0] - ox) * 3;
		int n = hc[1];
		if (p + (size_t)n * 3 + 1 > end) {
			hpixel(s, ox, o, hc);
			continue;
		}
		__m128i acc = half;
		for (int k = 0; k < n; k++, p += 3) {
			int32_t v;
			memcpy(&v, p, 4);
			__m128i px = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
			acc = _mm_add_epi32(acc, _mm_mullo_epi32(px, _mm_set1_epi32(hc[2 + k])));
		}
		/* >> PREC and clamp to 0..255 (saturating packs: as clamp8) */
		acc = _mm_srai_epi32(acc, PREC);
		__m128i w = _mm_packs_epi32(acc, acc);
		uint32_t rgb = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(w, w));
		o[0] = (uint8_t)rgb;
		o[1] = (uint8_t)(rgb >> 8);
		o[2] = (uint8_t)(rgb >> 16);
	}
}
#endif

void ts_resample_span(int in, int out, int x0, int n, int *lo, int *hi)
{
	double scale = (double)in / out, fs = scale < 1.0 ? 1.0 : scale;
	double support = 2.0 * fs;
	int kmax = (int)ceil(support) * 2 + 1;
	*lo = in;
	*hi = 0;
	if (in == out) {
		*lo = x0;
		*hi = x0 + n;
		return;
	}
	/* as make_coefs: the first and the last output bound the spans */
	for (int k = 0; k < 2 && n > 0; k++) {
		int i = k ? n - 1 : 0;
		double center = (x0 + i + 0.5) * scale;
		int xmin = (int)floor(center - support + 0.5), xmax = (int)floor(center + support + 0.5);
		if (xmin < 0)
			xmin = 0;
		if (xmax > in)
			xmax = in;
		if (xmax - xmin > kmax)
			xmax = xmin + kmax;
		if (xmax <= xmin) {
			xmin = center < in ? (int)center : in - 1;
			xmax = xmin + 1;
		}
		if (xmin < *lo)
			*lo = xmin;
		if (xmax > *hi)
			*hi = xmax;
	}
}

int ts_resample_window(struct ts_pixctx *c, const struct ts_image *src,
		       int scaled_w, int scaled_h, int x0, int y0, int out_w, int out_h,
		       struct ts_image *dst, int dx, int dy, struct ts_err *err)
{
	return ts_resample_region(c, src, 0, 0, src->width, src->height, scaled_w, scaled_h, x0, y0,
				  out_w, out_h, dst, dx, dy, err);
}

int ts_resample_region(struct ts_pixctx *c, const struct ts_image *src, int ox, int oy, int full_w,
		       int full_h, int scaled_w, int scaled_h, int x0, int y0, int out_w, int out_h,
		       struct ts_image *dst, int dx, int dy, struct ts_err *err)
{
	int sw = full_w, sh = full_h, hs, vs, rw = src->width;
	size_t dstride = (size_t)dst->width * 3;

	if (out_w <= 0 || out_h <= 0)
		return TS_OK;
	if (scaled_w == sw && scaled_h == sh) {    /* no scaling: copy the window */
		for (int y = 0; y < out_h; y++)
			memcpy(dst->pixels + (size_t)(dy + y) * dstride + (size_t)dx * 3,
			       src->pixels + ((size_t)(y0 + y - oy) * rw + (x0 - ox)) * 3, (size_t)out_w * 3);
		return TS_OK;
	}
	if (make_coefs(&c->coef, &c->coef_cap, sw, scaled_w, x0, out_w, 0, &hs))
		goto nomem;
	size_t vat = (size_t)out_w * hs;
	if (make_coefs(&c->coef, &c->coef_cap, sh, scaled_h, y0, out_h, vat, &vs))
		goto nomem;
	const int32_t *hc = c->coef, *vc = c->coef + vat;

	/* source rows the vertical pass reads */
	int ylo = vc[0], yhi = vc[(size_t)(out_h - 1) * vs] + vc[(size_t)(out_h - 1) * vs + 1];
	for (int j = 0; j < out_h; j++) {
		const int32_t *t = vc + (size_t)j * vs;
		if (t[0] < ylo)
			ylo = t[0];
		if (t[0] + t[1] > yhi)
			yhi = t[0] + t[1];
	}
	size_t rows = (size_t)(yhi - ylo), hstride = (size_t)out_w * 3;
	if (ts_alloc_grow(&c->hbuf, &c->hbuf_cap, rows * hstride, 1))
		goto nomem;

	/* horizontal pass */
#if TS_HROW_SSE41
	const uint8_t *end = src->pixels + (size_t)rw * (size_t)src->height * 3;
	int sse41 = ts_resample_simd && __builtin_cpu_supports("sse4.1");
#endif
	for (size_t r = 0; r < rows; r++) {
		const uint8_t *s = src->pixels + (size_t)(ylo + (int)r - oy) * rw * 3;
		uint8_t *o = c->hbuf + r * hstride;
#if TS_HROW_SSE41
		if (sse41) {
			hrow_sse41(s, ox, end, o, hc, hs, out_w);
			continue;
		}
#endif
		for (int i = 0; i < out_w; i++, o += 3)
			hpixel(s, ox, o, hc + (size_t)i * hs);
	}
	/* vertical pass: a row of accumulators, taps outer, so the inner loop
	 * runs along contiguous memory */
	if (ts_alloc_grow(&c->acc, &c->acc_cap, hstride * sizeof(int32_t), 1))
		goto nomem;
	for (int j = 0; j < out_h; j++) {
		const int32_t *t = vc + (size_t)j * vs;
		int32_t *acc = c->acc;
		uint8_t *o = dst->pixels + (size_t)(dy + j) * dstride + (size_t)dx * 3;
		const uint8_t *row = c->hbuf + (size_t)(t[0] - ylo) * hstride;
		int32_t k0 = t[2];
		for (size_t x = 0; x < hstride; x++)
			acc[x] = (1 << (PREC - 1)) + row[x] * k0;
		for (int k = 1; k < t[1]; k++) {
			const uint8_t *p = row + (size_t)k * hstride;
			int32_t kk = t[2 + k];
			for (size_t x = 0; x < hstride; x++)
				acc[x] += p[x] * kk;
		}
		for (size_t x = 0; x < hstride; x++)
			o[x] = clamp8(acc[x]);
	}
	return TS_OK;
nomem:
	return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_TOO_LARGE, "out of memory while resizing");
}

/* Apply a plan with the context's scratch; dst is (re)allocated. */
int ts_apply_plan_ctx(struct ts_pixctx *c, const struct ts_image *src,
		      const struct ts_resize_plan *p, struct ts_image *dst, struct ts_err *err)
{
	int rc = ts_image_alloc(dst, p->out_w, p->out_h, err);
	if (rc)
		return rc;
	int x0 = p->off_x < 0 ? -p->off_x : 0, y0 = p->off_y < 0 ? -p->off_y : 0;
	int dx = p->off_x > 0 ? p->off_x : 0, dy = p->off_y > 0 ? p->off_y : 0;
	int w = p->scaled_w - x0, h = p->scaled_h - y0;
	if (w > p->out_w - dx)
		w = p->out_w - dx;
	if (h > p->out_h - dy)
		h = p->out_h - dy;
	if (dx || dy || w < p->out_w || h < p->out_h)
		memset(dst->pixels, 255, (size_t)p->out_w * p->out_h * 3);   /* white border */
	return ts_resample_window(c, src, p->scaled_w, p->scaled_h, x0, y0, w, h, dst, dx, dy, err);
}

int ts_apply_plan(const struct ts_image *src, const struct ts_resize_plan *plan,
		  struct ts_image *dst, struct ts_err *err)
{
	struct ts_pixctx c;
	memset(&c, 0, sizeof(c));
	int rc = ts_apply_plan_ctx(&c, src, plan, dst, err);
	free(c.hbuf);
	free(c.coef);
	free(c.acc);
	return rc;
}

int ts_resample(const struct ts_image *src, int dst_w, int dst_h,
		struct ts_image *dst, struct ts_err *err)
{
	struct ts_resize_plan p = { dst_w, dst_h, dst_w, dst_h, 0, 0 };
	return ts_apply_plan(src, &p, dst, err);
}
