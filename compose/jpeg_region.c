/*
 * jpeg_region.c - decode only the part of a JPEG that the output keeps,
 * with libjpeg-turbo's libjpeg API: jpeg_crop_scanline for the columns
 * (no IDCT, upsampling or colour conversion of the others) and
 * jpeg_skip_scanlines for the rows, at the DCT scale decode_jpeg would use.
 *
 * What must always hold:
 * - the pixels of the asked region are those a full TurboJPEG decode
 *   gives (same scale, ISLOW IDCT, fancy upsampling): a margin of 16
 *   scaled pixels is decoded around the region, so libjpeg's edge
 *   handling of the crop (upsampling context at a cut row or column)
 *   never reaches it;
 * - a damaged or truncated file fails as decode_jpeg fails: every row is
 *   entropy-decoded (skipping decodes and discards the coefficients; the
 *   last row is read so the data is followed to its end), the first
 *   libjpeg warning is kept and judged by the same rules (harmless ones
 *   kept only when the markers reach EOI);
 * - libjpeg's longjmp crosses only this frame, whose one resource is the
 *   decompressor, destroyed on every way out.
 */
#include "compose/compose_impl.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

#define MARGIN 16

struct region_err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char first[JMSG_LENGTH_MAX];   /* the first warning */
	char msg[JMSG_LENGTH_MAX];     /* the error */
};

static void region_error_exit(j_common_ptr ci)
{
	struct region_err *e = (struct region_err *)ci->err;
	ci->err->format_message(ci, e->msg);
	longjmp(e->jb, 1);
}

static void region_emit_message(j_common_ptr ci, int level)
{
	struct region_err *e = (struct region_err *)ci->err;
	if (level < 0 && !e->first[0])
		ci->err->format_message(ci, e->first);
}

void ts_jpeg_scale(const struct ts_image_info *info, int want_w, int want_h, int *num, int *denom,
		   int *bw, int *bh)
{
	int nsf, w = info->width, h = info->height;
	tjscalingfactor *sf = tjGetScalingFactors(&nsf);
	int swap = info->orientation >= 5;
	*num = *denom = 1;
	*bw = w;
	*bh = h;
	/* as decode_jpeg: the smallest scale whose result still covers want */
	if (want_w > 0 && want_h > 0 && sf) {
		int ww = swap ? want_h : want_w, wh = swap ? want_w : want_h;
		for (int i = 0; i < nsf; i++) {
			int sw = TJSCALED(w, sf[i]), sh = TJSCALED(h, sf[i]);
			if (sw >= ww && sh >= wh && (int64_t)sw * sh < (int64_t)*bw * *bh) {
				*bw = sw;
				*bh = sh;
				*num = sf[i].num;
				*denom = sf[i].denom;
			}
		}
	}
}

int ts_decode_jpeg_region(struct ts_pixctx *c, const uint8_t *d, size_t len, const struct ts_image_info *info,
			  int num, int denom, int x0, int y0, int x1, int y1, struct ts_image *out,
			  int *ox, int *oy, struct ts_err *err)
{
	struct jpeg_decompress_struct di;
	struct region_err er;
	volatile int made = 0, rc = TS_OK;

	memset(&er, 0, sizeof(er));
	di.err = jpeg_std_error(&er.pub);
	er.pub.error_exit = region_error_exit;
	er.pub.emit_message = region_emit_message;
	if (setjmp(er.jb)) {
		int why = tj_reason(er.msg);
		rc = ts_err_set(err, tj_status(why), (enum ts_reason)why, "cannot decode JPEG: %s", er.msg);
		goto out;
	}
	jpeg_create_decompress(&di);
	made = 1;
	jpeg_mem_src(&di, d, (unsigned long)len);
	jpeg_read_header(&di, TRUE);
	/* progressive files keep TurboJPEG's scan limit (TJFLAG_LIMITSCANS):
	 * the caller decodes them whole */
	if (di.progressive_mode || di.num_components == 4) {
		rc = TS_DCT_FALLBACK;
		goto out;
	}
	di.scale_num = (unsigned)num;
	di.scale_denom = (unsigned)denom;
	di.out_color_space = JCS_RGB;
	di.dct_method = JDCT_ISLOW;
	jpeg_start_decompress(&di);
	int W = (int)di.output_width, H = (int)di.output_height;
	/* the region and its margin, clamped to the image */
	int rx0 = x0 - MARGIN < 0 ? 0 : x0 - MARGIN, rx1 = x1 + MARGIN > W ? W : x1 + MARGIN;
	int ry0 = y0 - MARGIN < 0 ? 0 : y0 - MARGIN, ry1 = y1 + MARGIN > H ? H : y1 + MARGIN;
	if (rx1 <= rx0 || ry1 <= ry0) {
		rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_IMAGE_CORRUPT, "empty decode region");
		goto out;
	}
	JDIMENSION xoff = (JDIMENSION)rx0, cw = (JDIMENSION)(rx1 - rx0);
	if (rx0 > 0 || rx1 < W)
		jpeg_crop_scanline(&di, &xoff, &cw);
	int rw = (int)cw;
	if ((rc = ts_image_alloc(out, rw, ry1 - ry0, err)))
		goto out;
	/* the output buffer is rw wide; libjpeg writes output_width pixels per row */
	if ((int)di.output_width != rw) {
		rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_IMAGE_CORRUPT, "libjpeg crop gave %u, not %d columns",
				di.output_width, rw);
		goto out;
	}
	if (ry0 > 0 && (int)jpeg_skip_scanlines(&di, (JDIMENSION)ry0) != ry0) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_CORRUPT, "cannot decode JPEG: skipping rows failed");
		goto out;
	}
	while ((int)di.output_scanline < ry1) {
		JSAMPROW row = out->pixels + (size_t)((int)di.output_scanline - ry0) * rw * 3;
		if (jpeg_read_scanlines(&di, &row, 1) != 1)
			break;
	}
	/* the rest: entropy-decoded and discarded, the last row read so the
	 * data is followed to the end (a truncation there is still found) */
	if ((int)di.output_scanline < H - 1)
		jpeg_skip_scanlines(&di, (JDIMENSION)(H - 1 - (int)di.output_scanline));
	if ((int)di.output_scanline < H) {
		JSAMPROW row;
		if (ts_alloc_grow(&c->raw, &c->raw_cap, (size_t)rw * 3, 1)) {
			rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_TOO_LARGE, "out of memory");
			goto out;
		}
		row = c->raw;
		jpeg_read_scanlines(&di, &row, 1);
	}
	jpeg_finish_decompress(&di);
	if (er.first[0] && (!tj_warning_harmless(er.first) || !jpeg_reaches_eoi(d, len))) {
		if (tj_warning_harmless(er.first))
			rc = ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_TRUNCATED,
					"cannot decode JPEG: the data ends before the end-of-image marker (after '%s')",
					er.first);
		else {
			int why = tj_reason(er.first);
			rc = ts_err_set(err, tj_status(why), (enum ts_reason)why, "cannot decode JPEG: %s", er.first);
		}
		goto out;
	}
	*ox = (int)xoff;
	*oy = ry0;
out:
	if (made)
		jpeg_destroy_decompress(&di);
	return rc;
}
