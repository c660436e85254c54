/*
 * compose_impl.h - private to compose/: the per-thread pixel context and
 * helpers shared by codec.c, resize.c and process.c.
 */
#ifndef TS_COMPOSE_IMPL_H
#define TS_COMPOSE_IMPL_H

#include <turbojpeg.h>

#include "compose.h"

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
int ts_grow(void **p, size_t *cap, size_t need);
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

int ts_apply_plan_ctx(struct ts_pixctx *c, const struct ts_image *src,
		      const struct ts_resize_plan *p, struct ts_image *dst, struct ts_err *err);

#endif
