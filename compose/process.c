/*
 * process.c - the whole pixel stage of ingest for one image: probe, size
 * checks, decode at the DCT scale the plan allows, orient, resize, encode.
 *
 * Deterministic: the output depends only on the input bytes and options.
 * --encode keep returns the input bytes unchanged when no resize and no
 * orientation are needed and the source is already 8-bit RGB without
 * alpha (the image is still fully decoded first, so a damaged file is
 * rejected, not kept); otherwise it re-encodes in the source format (JPEG
 * at the given quality, PNG, lossy WebP).  The output size is checked
 * against max_pixels as the source is.  A JPEG whose plan crops (center-crop
 * of a non-square image) is decoded only where the output reads it
 * (jpeg_region.c); the pixels, and so the output bytes, are those of a
 * whole decode.
 */
#include "compose/compose_impl.h"

#include <string.h>

int ts_process_image(struct ts_pixctx *c, const uint8_t *data, size_t len,
		     const struct ts_process_opts *o, struct ts_processed *p,
		     struct ts_err *err)
{
	struct ts_image_info *info = &p->info;
	struct ts_resize_plan plan;
	int rc, ow, oh;
	enum ts_imgfmt fmt;

	memset(p, 0, sizeof(*p));
	if ((rc = ts_image_probe_ctx(c, data, len, info, err)))
		return rc;
	if (o->max_pixels && (uint64_t)info->width * (uint64_t)info->height > o->max_pixels)
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_IMAGE_TOO_LARGE,
				  "%dx%d is %llu pixels, more than the limit of %llu",
				  info->width, info->height,
				  (unsigned long long)info->width * (unsigned long long)info->height,
				  (unsigned long long)o->max_pixels);
	ow = info->orientation >= 5 ? info->height : info->width;
	oh = info->orientation >= 5 ? info->width : info->height;
	p->orig_w = ow;
	p->orig_h = oh;
	if (o->min_size && (ow < o->min_size || oh < o->min_size))
		return ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_TOO_SMALL,
				  "%dx%d is smaller than --min-size %d", ow, oh, o->min_size);
	ts_resize_plan(o->resize, o->size, ow, oh, &plan);
	/* the output is a decode target too: keep-ratio on a 1x100000 strip
	 * would ask for 256x25600000 */
	if (o->max_pixels && (uint64_t)plan.out_w * (uint64_t)plan.out_h > o->max_pixels)
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_IMAGE_TOO_LARGE,
				  "%dx%d resized to %dx%d is more than the limit of %llu pixels",
				  ow, oh, plan.out_w, plan.out_h, (unsigned long long)o->max_pixels);
	/* pixels unchanged: same size, upright, and already what we store
	 * (8-bit RGB without alpha; gray, palette, CMYK are converted) */
	int unchanged = plan.out_w == ow && plan.out_h == oh && plan.scaled_w == ow &&
			plan.scaled_h == oh && info->orientation == 1 && info->bit_depth == 8 &&
			!info->has_alpha && !info->animated && !strcmp(info->color, "rgb");

	/* the output window in the scaled image (as ts_apply_plan_ctx) */
	int wx = plan.off_x < 0 ? -plan.off_x : 0, wy = plan.off_y < 0 ? -plan.off_y : 0;
	int wdx = plan.off_x > 0 ? plan.off_x : 0, wdy = plan.off_y > 0 ? plan.off_y : 0;
	int ww = plan.scaled_w - wx, wh = plan.scaled_h - wy;
	if (ww > plan.out_w - wdx)
		ww = plan.out_w - wdx;
	if (wh > plan.out_h - wdy)
		wh = plan.out_h - wdy;
	if (info->format == TS_FMT_JPEG && info->orientation == 1 && strcmp(info->color, "cmyk") &&
	    strcmp(info->color, "ycck") && !unchanged && (ww < plan.scaled_w || wh < plan.scaled_h)) {
		int num, den, bw, bh, x0, x1, y0, y1, ox = 0, oy = 0;
		ts_jpeg_scale(info, plan.scaled_w, plan.scaled_h, &num, &den, &bw, &bh);
		ts_resample_span(bw, plan.scaled_w, wx, ww, &x0, &x1);
		ts_resample_span(bh, plan.scaled_h, wy, wh, &y0, &y1);
		rc = ts_decode_jpeg_region(c, data, len, info, num, den, x0, y0, x1, y1, &c->dec, &ox, &oy, err);
		if (rc < 0)
			return rc;
		if (rc == TS_OK) {
			p->decode_w = bw;
			p->decode_h = bh;
			if ((rc = ts_image_alloc(&c->out, plan.out_w, plan.out_h, err)))
				return rc;
			if (wdx || wdy || ww < plan.out_w || wh < plan.out_h)
				memset(c->out.pixels, 255, (size_t)plan.out_w * plan.out_h * 3);
			if ((rc = ts_resample_region(c, &c->dec, ox, oy, bw, bh, plan.scaled_w, plan.scaled_h, wx, wy,
						     ww, wh, &c->out, wdx, wdy, err)))
				return rc;
			fmt = o->encode == TS_ENCODE_WEBP ? TS_FMT_WEBP : o->encode == TS_ENCODE_PNG ? TS_FMT_PNG :
			      o->encode == TS_ENCODE_KEEP ? info->format : TS_FMT_JPEG;
			if ((rc = ts_encode(c, &c->out, fmt, o->quality, &p->data, &p->len, err)))
				return rc;
			p->width = c->out.width;
			p->height = c->out.height;
			p->out_format = fmt;
			return TS_OK;
		}
		/* progressive: decoded whole below */
	}
	if ((rc = ts_decode_probed(c, data, len, info, plan.scaled_w, plan.scaled_h, &c->dec, err)))
		return rc;
	p->decode_w = c->dec.width;
	p->decode_h = c->dec.height;
	if (o->encode == TS_ENCODE_KEEP && unchanged) {
		p->width = ow;
		p->height = oh;
		p->out_format = info->format;
		p->data = data;
		p->len = len;
		p->kept_original = 1;
		return TS_OK;
	}
	const struct ts_image *img = &c->dec;
	if (c->dec.width != plan.out_w || c->dec.height != plan.out_h ||
	    plan.scaled_w != c->dec.width || plan.scaled_h != c->dec.height) {
		/* the decode may be DCT-scaled: plan against what we have */
		struct ts_resize_plan q = plan;
		if ((rc = ts_apply_plan_ctx(c, &c->dec, &q, &c->out, err)))
			return rc;
		img = &c->out;
	}
	switch (o->encode) {
	case TS_ENCODE_WEBP: fmt = TS_FMT_WEBP; break;
	case TS_ENCODE_PNG: fmt = TS_FMT_PNG; break;
	case TS_ENCODE_KEEP: fmt = info->format; break;
	default: fmt = TS_FMT_JPEG; break;
	}
	if ((rc = ts_encode(c, img, fmt, o->quality, &p->data, &p->len, err)))
		return rc;
	p->width = img->width;
	p->height = img->height;
	p->out_format = fmt;
	return TS_OK;
}

char *ts_processed_fixes(const struct ts_processed *p, char buf[TS_FIXES_MAX])
{
	const struct ts_image_info *i = &p->info;
	const char *c = i->color ? i->color : "rgb";
	const char *f[7];
	size_t n = 0, o = 0;

	buf[0] = '\0';
	if (p->kept_original)
		return buf;
	if (i->orientation > 1 && i->orientation <= 8)
		f[n++] = "orientation";
	if (!strcmp(c, "cmyk") || !strcmp(c, "ycck"))
		f[n++] = "cmyk";
	if (i->has_alpha)
		f[n++] = "alpha";
	if (i->bit_depth > 8)
		f[n++] = "16bit";
	if (!strncmp(c, "gray", 4))
		f[n++] = "gray";
	if (!strcmp(c, "palette"))
		f[n++] = "palette";
	if (i->animated)
		f[n++] = "animated";
	for (size_t k = 0; k < n; k++) {
		size_t l = strlen(f[k]);
		if (o + l + 2 > TS_FIXES_MAX)
			break;
		if (k)
			buf[o++] = ',';
		memcpy(buf + o, f[k], l);
		o += l;
		buf[o] = '\0';
	}
	return buf;
}
