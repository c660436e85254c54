/*
 * compose_impl.h - private to compose/: the per-thread pixel context and
 * helpers shared by codec.c, resize.c and process.c.
 */
#ifndef TS_COMPOSE_IMPL_H
#define TS_COMPOSE_IMPL_H

#include <turbojpeg.h>

#include "compose/compose.h"
#include "base/buf.h"

struct ts_pixctx {
	tjhandle tjd, tjc;
	struct ts_image dec;       /* decoded (and oriented) source */
	struct ts_image tmp;       /* orientation scratch */
	struct ts_image out;       /* resized output */
	uint8_t *raw;              /* RGBA/CMYK decode buffer */
	size_t raw_cap;
	uint8_t *hbuf;             /* resampler: horizontal pass */
	size_t hbuf_cap;
	uint8_t *enc;              /* encoded output */
	size_t enc_cap;
	int32_t *coef;             /* resampler coefficient tables */
	size_t coef_cap;
	int32_t *acc;              /* resampler: vertical accumulators */
	size_t acc_cap;
	int subsampling;           /* JPEG encode: 420 (also 0) or 444 */
};

int ts_image_alloc(struct ts_image *img, int w, int h, struct ts_err *err);

/* probe with the context's decoder handle (c may be NULL) */
int ts_image_probe_ctx(struct ts_pixctx *c, const uint8_t *d, size_t len,
		       struct ts_image_info *info, struct ts_err *err);
/* decode after probe (info from the probe) */
int ts_decode_probed(struct ts_pixctx *c, const uint8_t *data, size_t len,
		     const struct ts_image_info *info, int want_w, int want_h,
		     struct ts_image *out, struct ts_err *err);
/* resample the window [x0, x0+out_w) x [y0, y0+out_h) of src scaled to
 * scaled_w x scaled_h, into dst at (dx, dy) */
int ts_resample_window(struct ts_pixctx *c, const struct ts_image *src,
		       int scaled_w, int scaled_h, int x0, int y0, int out_w, int out_h,
		       struct ts_image *dst, int dx, int dy, struct ts_err *err);

/* codec.c's reading of libjpeg messages, shared with jpeg_region.c: the
 * reason code of an error message, its status, whether a warning leaves
 * the pixels intact, whether the markers reach EOI inside len bytes */
int tj_reason(const char *msg);
int tj_status(int reason);
int tj_warning_harmless(const char *m);
int jpeg_reaches_eoi(const uint8_t *d, size_t len);
/* the EXIF orientation of a JPEG (1 when absent), from its APP1 markers */
int jpeg_orientation(const uint8_t *d, size_t len);

/* The DCT scale decode_jpeg uses for want_w x want_h (of the stored,
 * unrotated image): the smallest n/d whose result still covers it, into
 * *num / *denom and the scaled size *bw x *bh (1/1 and the full size when
 * no want). */
void ts_jpeg_scale(const struct ts_image_info *info, int want_w, int want_h, int *num, int *denom,
		   int *bw, int *bh);

/* Decode only the rows [y0, y1) and columns [x0, x1) of a JPEG scaled to
 * num/denom (libjpeg API: jpeg_crop_scanline, jpeg_skip_scanlines), for an
 * upright (orientation 1), non-CMYK image.  out receives a region at
 * least that large (libjpeg widens the columns to iMCU boundaries; a
 * margin of 16 pixels is decoded around it so the pixels inside are those
 * of a full decode), its origin in the scaled image in *ox, *oy.  Every
 * row is still entropy-decoded (damage anywhere is found; the reasons are
 * those of decode_jpeg).  Returns TS_DCT_FALLBACK (1), having decoded
 * nothing, for a progressive or 4-component file: the caller decodes those
 * whole (TurboJPEG's scan limit stays theirs). */
int ts_decode_jpeg_region(struct ts_pixctx *c, const uint8_t *d, size_t len, const struct ts_image_info *info,
			  int num, int denom, int x0, int y0, int x1, int y1, struct ts_image *out,
			  int *ox, int *oy, struct ts_err *err);

/* The source span [*lo, *hi) the resampler reads for outputs [x0, x0+n)
 * of an axis scaled from in to out. */
void ts_resample_span(int in, int out, int x0, int n, int *lo, int *hi);

/* ts_resample_window on a source given as a region: src holds the pixels
 * [ox, ox+src->width) x [oy, oy+src->height) of an image of full_w x
 * full_h (the region must cover every span the window reads). */
/* 0: the resampler uses its portable loops only (the unit tests compare
 * them with the SIMD ones); 1, the default: SIMD where the CPU has it. */
extern int ts_resample_simd;

int ts_resample_region(struct ts_pixctx *c, const struct ts_image *src, int ox, int oy, int full_w,
		       int full_h, int scaled_w, int scaled_h, int x0, int y0, int out_w, int out_h,
		       struct ts_image *dst, int dx, int dy, struct ts_err *err);

int ts_apply_plan_ctx(struct ts_pixctx *c, const struct ts_image *src,
		      const struct ts_resize_plan *p, struct ts_image *dst, struct ts_err *err);

#endif
