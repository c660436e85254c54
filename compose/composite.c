/*
 * composite.c - CLIP-C compositions on RGB8 buffers (see compose.h):
 * bringing a source to the S x S frame, and the halves, cutmix and mixup
 * compositions.  Pure pixel arithmetic, deterministic.  ts_fit_window
 * decodes only the part of a JPEG source the window reads (jpeg_region.c),
 * giving the pixels a whole decode would.
 */
#include "compose/compose_impl.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>

int ts_fit_square(struct ts_pixctx *ctx, const uint8_t *data, size_t len, int size, int stretch,
		  uint64_t max_pixels, struct ts_image *out, struct ts_err *err)
{
	struct ts_image src = { 0 };
	struct ts_image_info info;
	int rc;

	if (size <= 0)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "size must be positive");
	/* decode with DCT scaling to at least size x size */
	if ((rc = ts_decode(ctx, data, len, max_pixels, size, size, &src, &info, err)))
		return rc;
	struct ts_resize_plan plan;
	ts_resize_plan(stretch ? TS_RESIZE_STRETCH : TS_RESIZE_CENTER_CROP, size, src.width, src.height, &plan);
	rc = ts_apply_plan(&src, &plan, out, err);
	ts_image_release(&src);
	if (rc == TS_OK && (out->width != size || out->height != size))
		rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_IMAGE_CORRUPT, "fit gave %dx%d, not %dx%d",
				out->width, out->height, size, size);
	return rc;
}

int ts_fit_window(struct ts_pixctx *ctx, const uint8_t *data, size_t len, int size, int stretch,
		  uint64_t max_pixels, int wx, int wy, int ww, int wh, struct ts_image *dst, int dx, int dy,
		  struct ts_err *err)
{
	struct ts_image_info info;
	struct ts_resize_plan plan;
	int rc;

	if (size <= 0 || wx < 0 || wy < 0 || ww <= 0 || wh <= 0 || wx + ww > size || wy + wh > size)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "bad window for size %d", size);
	if (dst->width != size || dst->height != size) {
		if ((rc = ts_image_alloc(dst, size, size, err)))
			return rc;
	}
	if ((rc = ts_image_probe_ctx(ctx, data, len, &info, err)))
		return rc;
	if (max_pixels && (uint64_t)info.width * (uint64_t)info.height > max_pixels)
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_IMAGE_TOO_LARGE,
				  "%dx%d is %llu pixels, more than the limit of %llu",
				  info.width, info.height,
				  (unsigned long long)info.width * (unsigned long long)info.height,
				  (unsigned long long)max_pixels);
	/* as ts_fit_square: the DCT scale covering size x size, then the plan
	 * on the decoded size */
	if (info.format == TS_FMT_JPEG && info.orientation == 1 && strcmp(info.color, "cmyk") &&
	    strcmp(info.color, "ycck")) {
		int num, den, bw, bh, x0, x1, y0, y1, ox = 0, oy = 0;
		ts_jpeg_scale(&info, size, size, &num, &den, &bw, &bh);
		ts_resize_plan(stretch ? TS_RESIZE_STRETCH : TS_RESIZE_CENTER_CROP, size, bw, bh, &plan);
		int cx = plan.off_x < 0 ? -plan.off_x : 0, cy = plan.off_y < 0 ? -plan.off_y : 0;
		ts_resample_span(bw, plan.scaled_w, cx + wx, ww, &x0, &x1);
		ts_resample_span(bh, plan.scaled_h, cy + wy, wh, &y0, &y1);
		rc = ts_decode_jpeg_region(ctx, data, len, &info, num, den, x0, y0, x1, y1, &ctx->dec, &ox, &oy, err);
		if (rc < 0)
			return rc;
		if (rc == TS_OK)
			return ts_resample_region(ctx, &ctx->dec, ox, oy, bw, bh, plan.scaled_w, plan.scaled_h,
						  cx + wx, cy + wy, ww, wh, dst, dx, dy, err);
		/* progressive: decoded whole */
	}
	if ((rc = ts_decode_probed(ctx, data, len, &info, size, size, &ctx->dec, err)))
		return rc;
	ts_resize_plan(stretch ? TS_RESIZE_STRETCH : TS_RESIZE_CENTER_CROP, size, ctx->dec.width, ctx->dec.height,
		       &plan);
	int cx = plan.off_x < 0 ? -plan.off_x : 0, cy = plan.off_y < 0 ? -plan.off_y : 0;
	return ts_resample_window(ctx, &ctx->dec, plan.scaled_w, plan.scaled_h, cx + wx, cy + wy, ww, wh,
				  dst, dx, dy, err);
}

static int frame(struct ts_image *out, int s, struct ts_err *err)
{
	size_t need = (size_t)s * s * 3;
	if (ts_alloc_grow(&out->pixels, &out->cap, need, 1))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	out->width = out->height = s;
	return TS_OK;
}

int ts_composite_halves(const struct ts_image *a, const struct ts_image *b, int vertical,
			struct ts_image *out, int rects[2][4], struct ts_err *err)
{
	int s = a->width, rc;
	if (a->height != s || b->width != s || b->height != s)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "halves need two S x S images");
	if ((rc = frame(out, s, err)))
		return rc;
	int h1 = s / 2, h2 = s - h1;            /* first part, second part */
	int a0 = (s - h1) / 2, b0 = (s - h2) / 2; /* where each source's center part starts */
	size_t stride = (size_t)s * 3;
	if (vertical) {
		for (int y = 0; y < h1; y++)
			memcpy(out->pixels + (size_t)y * stride, a->pixels + (size_t)(a0 + y) * stride, stride);
		for (int y = 0; y < h2; y++)
			memcpy(out->pixels + (size_t)(h1 + y) * stride, b->pixels + (size_t)(b0 + y) * stride, stride);
		int r[2][4] = { { 0, 0, s, h1 }, { 0, h1, s, s } };
		memcpy(rects, r, sizeof(r));
	} else {
		for (int y = 0; y < s; y++) {
			uint8_t *o = out->pixels + (size_t)y * stride;
			memcpy(o, a->pixels + (size_t)y * stride + (size_t)a0 * 3, (size_t)h1 * 3);
			memcpy(o + (size_t)h1 * 3, b->pixels + (size_t)y * stride + (size_t)b0 * 3, (size_t)h2 * 3);
		}
		int r[2][4] = { { 0, 0, h1, s }, { h1, 0, s, s } };
		memcpy(rects, r, sizeof(r));
	}
	return TS_OK;
}

int ts_composite_cutmix(const struct ts_image *a, const struct ts_image *b, const int box[4],
			struct ts_image *out, struct ts_err *err)
{
	int s = a->width, rc;
	if (a->height != s || b->width != s || b->height != s)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "cutmix needs two S x S images");
	if (box[0] < 0 || box[1] < 0 || box[2] > s || box[3] > s || box[0] > box[2] || box[1] > box[3])
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "cutmix box outside the frame");
	if ((rc = frame(out, s, err)))
		return rc;
	memcpy(out->pixels, a->pixels, (size_t)s * s * 3);
	for (int y = box[1]; y < box[3]; y++)
		memcpy(out->pixels + ((size_t)y * s + box[0]) * 3, b->pixels + ((size_t)y * s + box[0]) * 3,
		       (size_t)(box[2] - box[0]) * 3);
	return TS_OK;
}

void ts_cutmix_box(int s, double lambda, int cx, int cy, int box[4])
{
	double cut = sqrt(1 - lambda);
	int cw = (int)(s * cut), ch = (int)(s * cut);
	box[0] = cx - cw / 2;
	box[1] = cy - ch / 2;
	box[2] = cx + cw / 2;
	box[3] = cy + ch / 2;
	for (int k = 0; k < 4; k++)
		box[k] = box[k] < 0 ? 0 : box[k] > s ? s : box[k];
}

int ts_composite_grid(const struct ts_image q[4], struct ts_image *out, int rects[4][4], struct ts_err *err)
{
	int half = q[0].width, s = 2 * half, rc;
	for (int k = 0; k < 4; k++)
		if (q[k].width != half || q[k].height != half)
			return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "grid needs four equal square images");
	if ((rc = frame(out, s, err)))
		return rc;
	for (int k = 0; k < 4; k++) {
		int x0 = (k % 2) * half, y0 = (k / 2) * half;
		for (int y = 0; y < half; y++)
			memcpy(out->pixels + ((size_t)(y0 + y) * s + x0) * 3, q[k].pixels + (size_t)y * half * 3,
			       (size_t)half * 3);
		rects[k][0] = x0;
		rects[k][1] = y0;
		rects[k][2] = x0 + half;
		rects[k][3] = y0 + half;
	}
	return TS_OK;
}

int ts_composite_mixup(const struct ts_image *a, const struct ts_image *b, double lambda,
		       struct ts_image *out, struct ts_err *err)
{
	int s = a->width, rc;
	if (a->height != s || b->width != s || b->height != s)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "mixup needs two S x S images");
	if (lambda < 0 || lambda > 1)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "mixup weight %g outside [0, 1]", lambda);
	if ((rc = frame(out, s, err)))
		return rc;
	/* fixed point: weight of A in 1/65536, rounded half up */
	uint32_t wa = (uint32_t)(lambda * 65536.0 + 0.5), wb = 65536 - wa;
	size_t n = (size_t)s * s * 3;
	for (size_t i = 0; i < n; i++)
		out->pixels[i] = (uint8_t)((a->pixels[i] * wa + b->pixels[i] * wb + 32768) >> 16);
	return TS_OK;
}

void ts_region_fill(uint8_t *map, int w, int h, const struct ts_region *r, uint8_t value)
{
	int y0 = r->rect[1] < 0 ? 0 : r->rect[1], x0 = r->rect[0] < 0 ? 0 : r->rect[0];
	for (int y = y0; y < r->rect[3] && y < h; y++)
		for (int x = x0; x < r->rect[2] && x < w; x++)
			if (!(r->has_minus && x >= r->minus[0] && x < r->minus[2] &&
			      y >= r->minus[1] && y < r->minus[3]))
				map[(size_t)y * (size_t)w + (size_t)x] = value;
}
