/*
 * codec.c - recognise, probe, decode and encode JPEG, PNG and WebP, and
 * apply EXIF orientation.
 *
 * Formats are recognised from their magic bytes, never a file name.
 * Decoders: TurboJPEG (with DCT scaling), libspng, libwebp; EXIF
 * orientation is read with libexif from JPEG APP1, PNG eXIf (or
 * ImageMagick's "Raw profile type exif" text chunk) and the WebP EXIF
 * chunk.  Encoders: TurboJPEG (4:2:0 or 4:4:4 per context, quality, TJFLAG_NOREALLOC into a
 * context buffer; no TJFLAG_FASTDCT, so the accurate integer DCT), libwebp lossy
 * (WebPEncodeRGB: default config, quality, single thread), libspng (RGB8,
 * zlib level 6, spng's default adaptive filter choice); all three are
 * byte-deterministic.  What must always hold:
 * - the pixel count is checked from the header before any pixel buffer is
 *   allocated (decompression bombs);
 * - the output is 8-bit RGB: gray and palette are expanded, 16-bit reduced
 *   (spng), CMYK/YCCK converted (Adobe inverted CMYK: R = C*K/255), and
 *   alpha composited on white: out = (c*a + 255*(255-a) + 127) / 255;
 * - truncated data never becomes a sample.  libjpeg goes on after a
 *   warning and TurboJPEG reports only the first one, so a JPEG decoded
 *   with a warning is kept only when that warning is one that leaves the
 *   pixels intact (extraneous bytes before a marker, a bad ICC marker, an
 *   unknown JFIF revision, odd SOS parameters or progression, an unknown
 *   Adobe transform) and a walk over its markers (never its entropy data's
 *   meaning) reaches EOI; a premature end is image.truncated, bad entropy
 *   data (bad Huffman/arithmetic code, lost RST sync) is image.corrupt;
 * - JPEG processes libjpeg-turbo cannot decode (12-bit, lossless) are
 *   image.unsupported;
 * - all state is in the per-thread struct ts_pixctx;
 * - metadata costs bounded memory, whatever the file claims: libspng's
 *   chunk cache (inflated text, iCCP, eXIf) is capped at TS_PNG_META_MAX
 *   (a PNG over it is image.too_large), libexif is given at most
 *   TS_EXIF_MAX bytes, JPEG APP markers are not compressed (each is at
 *   most 64 KiB, the orientation is read in place, so what a decoder keeps
 *   of them is bounded by the file) and WebP chunks through the demuxer
 *   point into the input (nothing is copied or inflated).
 */
#include "compose/compose_impl.h"

#include <libexif/exif-data.h>
#include <spng.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>
#include <zlib.h>

const char *ts_imgfmt_name(enum ts_imgfmt f)
{
	switch (f) {
	case TS_FMT_JPEG: return "jpeg";
	case TS_FMT_PNG: return "png";
	case TS_FMT_WEBP: return "webp";
	default: return "unknown";
	}
}

const char *ts_imgfmt_ext(enum ts_imgfmt f)
{
	switch (f) {
	case TS_FMT_JPEG: return "jpg";
	case TS_FMT_PNG: return "png";
	case TS_FMT_WEBP: return "webp";
	default: return "bin";
	}
}

enum ts_imgfmt ts_image_sniff(const uint8_t *d, size_t len)
{
	if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
		return TS_FMT_JPEG;
	if (len >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
		return TS_FMT_PNG;
	if (len >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
		return TS_FMT_WEBP;
	return TS_FMT_UNKNOWN;
}

struct ts_pixctx *ts_pixctx_new(void)
{
	struct ts_pixctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->tjd = tjInitDecompress();
	c->tjc = tjInitCompress();
	if (!c->tjd || !c->tjc) {
		ts_pixctx_free(c);
		return NULL;
	}
	return c;
}

void ts_pixctx_set_subsampling(struct ts_pixctx *c, int subsampling)
{
	c->subsampling = subsampling == 444 ? 444 : 420;
}

void ts_pixctx_free(struct ts_pixctx *c)
{
	if (!c)
		return;
	if (c->tjd)
		tjDestroy(c->tjd);
	if (c->tjc)
		tjDestroy(c->tjc);
	ts_image_release(&c->dec);
	ts_image_release(&c->tmp);
	ts_image_release(&c->out);
	free(c->raw);
	free(c->hbuf);
	free(c->enc);
	free(c->coef);
	free(c->acc);
	free(c);
}

void ts_image_release(struct ts_image *img)
{
	if (!img)
		return;
	free(img->pixels);
	img->pixels = NULL;
	img->cap = 0;
	img->width = img->height = 0;
}

int ts_image_alloc(struct ts_image *img, int w, int h, struct ts_err *err)
{
	size_t need = (size_t)w * (size_t)h * 3;
	if (w <= 0 || h <= 0)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_CORRUPT, "invalid size %dx%d", w, h);
	if (ts_alloc_grow(&img->pixels, &img->cap, need, 1))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_TOO_LARGE,
				  "out of memory for %dx%d pixels", w, h);
	img->width = w;
	img->height = h;
	return TS_OK;
}

/* ---- EXIF orientation -------------------------------------------------------- */

/* EXIF blocks are at most 64 KiB in JPEG (one APP1 segment); a larger
 * PNG eXIf or WebP EXIF chunk is not given to libexif (whose entries grow
 * with the block), and the orientation stays 1. */
#define TS_EXIF_MAX ((size_t)1 << 20)

static int exif_orientation(const uint8_t *data, size_t len, int has_header)
{
	ExifData *ed;
	ExifEntry *e;
	int o = 1;
	uint8_t *tmp = NULL;

	if (!data || len < 8 || len > TS_EXIF_MAX)
		return 1;
	if (!has_header && memcmp(data, "Exif\0\0", 6)) {
		/* raw TIFF (PNG eXIf, some WebP): give libexif its header */
		tmp = malloc(len + 6);
		if (!tmp)
			return 1;
		memcpy(tmp, "Exif\0\0", 6);
		memcpy(tmp + 6, data, len);
		data = tmp;
		len += 6;
	}
	ed = exif_data_new_from_data(data, (unsigned int)len);
	if (ed) {
		e = exif_data_get_entry(ed, EXIF_TAG_ORIENTATION);
		if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->size >= 2) {
			int v = exif_get_short(e->data, exif_data_get_byte_order(ed));
			if (v >= 1 && v <= 8)
				o = v;
		}
		exif_data_unref(ed);
	}
	free(tmp);
	return o;
}

/* JPEG: libexif finds the APP1 segment itself when given the file. */
int jpeg_orientation(const uint8_t *d, size_t len)
{
	/* only the header part: markers before the first SOS */
	size_t i = 2;
	while (i + 4 <= len && d[i] == 0xff) {
		unsigned m = d[i + 1];
		size_t seg = ((size_t)d[i + 2] << 8) | d[i + 3];
		if (m == 0xda || m == 0xd9 || seg < 2)
			break;
		if (m == 0xe1 && i + 2 + seg <= len && seg >= 8 && !memcmp(d + i + 4, "Exif\0\0", 6))
			return exif_orientation(d + i + 4, seg - 2, 1);
		i += 2 + seg;
	}
	return 1;
}

/* ---- probe ------------------------------------------------------------------------ */

/* After an error a TurboJPEG handle can keep stale state (seen: the next
 * header read returning garbage sizes), so a failed handle is replaced. */
static void tj_reset(struct ts_pixctx *c)
{
	if (!c)
		return;
	tjDestroy(c->tjd);
	c->tjd = tjInitDecompress();
}

int tj_reason(const char *msg)
{
	/* the data stops before the image does; "missing SOS" is a file cut
	 * before its first scan */
	if (strstr(msg, "Premature end") || strstr(msg, "premature end") ||
	    strstr(msg, "missing SOS"))
		return TS_R_IMAGE_TRUNCATED;
	/* "Unsupported JPEG process: SOF type 0xc3", "Unsupported JPEG data
	 * precision 12": valid files libjpeg-turbo's 8-bit API cannot decode */
	if (strstr(msg, "Unsupported JPEG"))
		return TS_R_IMAGE_UNSUPPORTED;
	return TS_R_IMAGE_CORRUPT;
}

int tj_status(int reason)
{
	return reason == TS_R_IMAGE_UNSUPPORTED ? TS_ERR_UNSUPPORTED : TS_ERR_INVALID;
}

/* libjpeg warnings after which the decoded pixels are still the image's
 * (libjpeg-turbo jerror.h: JWRN_EXTRANEOUS_DATA, JWRN_BOGUS_ICC,
 * JWRN_JFIF_MAJOR, JWRN_NOT_SEQUENTIAL, JWRN_BOGUS_PROGRESSION,
 * JWRN_ADOBE_XFORM).  Everything else (premature end of the file or of a
 * data segment, bad Huffman or arithmetic code, lost RST sync) is not. */
int tj_warning_harmless(const char *m)
{
	return strstr(m, "extraneous bytes before marker") || strstr(m, "bad ICC marker") ||
	       strstr(m, "unknown JFIF revision") || strstr(m, "Invalid SOS parameters") ||
	       strstr(m, "Inconsistent progression sequence") ||
	       strstr(m, "Unknown Adobe color transform");
}

/* Does the marker structure reach EOI inside len bytes?  Skips segments by
 * their length and entropy-coded data up to the next real marker (FF 00 is
 * a stuffed byte, FF D0..D7 a restart), and skips junk between markers as
 * libjpeg's next_marker() does.  Only used after a harmless warning, since
 * TurboJPEG would not tell us about a premature end that followed it. */
int jpeg_reaches_eoi(const uint8_t *d, size_t len)
{
	size_t i = 2;
	for (;;) {
		while (i < len && d[i] != 0xff)
			i++;
		while (i < len && d[i] == 0xff)
			i++;
		if (i >= len)
			return 0;
		unsigned m = d[i++];
		if (m == 0xd9)
			return 1;
		if (m == 0x00 || m == 0x01 || m == 0xd8 || (m >= 0xd0 && m <= 0xd7))
			continue;       /* no length field */
		if (i + 2 > len)
			return 0;
		size_t seg = (size_t)d[i] << 8 | d[i + 1];
		if (seg < 2)
			return 0;
		i += seg;
	}
}

static int spng_reason(int rc)
{
	if (rc == SPNG_IO_EOF || rc == SPNG_EOF)
		return TS_R_IMAGE_TRUNCATED;
	return TS_R_IMAGE_CORRUPT;
}

static int probe_jpeg(struct ts_pixctx *c, const uint8_t *d, size_t len,
		      struct ts_image_info *info, struct ts_err *err)
{
	int w = 0, h = 0, ss, cs;
	tjhandle t = c ? c->tjd : tjInitDecompress();
	int rc = TS_OK;

	if (!t)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_CORRUPT, "cannot start the JPEG decoder");
	int hr = tjDecompressHeader3(t, d, (unsigned long)len, &w, &h, &ss, &cs);
	if (hr == 0 && (w <= 0 || h <= 0)) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_TRUNCATED,
				"cannot read the JPEG header: no frame header in %zu bytes", len);
		tj_reset(c);
	} else if (hr && (tjGetErrorCode(t) != TJERR_WARNING || w <= 0 || h <= 0)) {
		const char *m = tjGetErrorStr2(t);
		int why = tj_reason(m);
		rc = ts_err_set(err, tj_status(why), (enum ts_reason)why,
				"cannot read the JPEG header: %s", m);
		tj_reset(c);
		if (c)
			t = c->tjd;
		if (!t)
			return rc;
	} else {
		info->width = w;
		info->height = h;
		info->bit_depth = 8;
		info->has_alpha = 0;
		info->color = cs == TJCS_GRAY ? "gray" : cs == TJCS_CMYK ? "cmyk" :
			      cs == TJCS_YCCK ? "ycck" : "rgb";
		info->orientation = jpeg_orientation(d, len);
	}
	if (!c)
		tjDestroy(t);
	return rc;
}

/* ImageMagick (before PNG had eXIf) stores EXIF hex-encoded in a text
 * chunk: "Raw profile type exif" (or "APP1"), "\nexif\n<length>\n<hex>".
 * Only the hex is undone here; libexif reads the block. */
static int png_text_orientation(spng_ctx *s)
{
	uint32_t n = 0;
	struct spng_text *t;
	int o = 1;

	if (spng_get_text(s, NULL, &n) || n == 0 || n > 256 || !(t = calloc(n, sizeof(*t))))
		return 1;
	if (spng_get_text(s, t, &n) == 0) {
		for (uint32_t i = 0; i < n && o == 1; i++) {
			if (strcmp(t[i].keyword, "Raw profile type exif") &&
			    strcmp(t[i].keyword, "Raw profile type APP1"))
				continue;
			const char *p = t[i].text, *end = t[i].text + t[i].length;
			char *num;
			int lines = 0;
			while (p < end && lines < 2)    /* "\n" name "\n" */
				lines += *p++ == '\n';
			unsigned long len = strtoul(p, &num, 10);
			if (num == p || len < 8 || len > (64u << 10))
				continue;
			uint8_t *b = malloc(len);
			size_t got = 0;
			int hi = -1;
			for (p = num; b && p < end && got < len; p++) {
				int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ?
					*p - 'a' + 10 : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
				if (v < 0)
					continue;
				if (hi < 0) {
					hi = v;
				} else {
					b[got++] = (uint8_t)(hi << 4 | v);
					hi = -1;
				}
			}
			if (b && got == len)
				o = exif_orientation(b, got, 0);
			free(b);
		}
	}
	free(t);
	return o;
}

/* Ancillary chunks (text, iCCP, eXIf, ...) cost memory after inflating:
 * a zTXt of 100 KB can claim 100 MiB.  libspng counts what it keeps of
 * them against its cache limit; TS_PNG_META_MAX bounds it, so a decoder's
 * memory follows the pixel limit, not the chunks.  Single chunks are
 * bounded by the input's size anyway (the data is in memory). */
#define TS_PNG_META_MAX ((size_t)8 << 20)

static void png_limits(spng_ctx *s, size_t len)
{
	spng_set_chunk_limits(s, len < ((size_t)1 << 31) ? len : ((size_t)1 << 31), TS_PNG_META_MAX);
}

static int png_fail(struct ts_err *err, int rc)
{
	if (rc == SPNG_ECHUNK_LIMITS)
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_IMAGE_TOO_LARGE,
				  "cannot decode PNG: its ancillary chunks (text, ICC profile, EXIF) take more than %zu MiB",
				  TS_PNG_META_MAX >> 20);
	return ts_err_set(err, TS_ERR_INVALID, (enum ts_reason)spng_reason(rc),
			  "cannot decode PNG: %s", spng_strerror(rc));
}

static int probe_png(const uint8_t *d, size_t len, struct ts_image_info *info,
		     struct ts_err *err)
{
	spng_ctx *s = spng_ctx_new(0);
	struct spng_ihdr ih;
	struct spng_exif ex;
	int rc;

	if (!s)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_CORRUPT, "cannot start the PNG decoder");
	/* spng hands out the IHDR before checking its CRC: check it here, so a
	 * damaged header is image.corrupt whatever sizes it claims */
	if (len >= 33 && !memcmp(d + 12, "IHDR", 4)) {
		uint32_t want = (uint32_t)d[29] << 24 | (uint32_t)d[30] << 16 | (uint32_t)d[31] << 8 | d[32];
		if ((uint32_t)crc32(0, d + 12, 17) != want) {
			spng_ctx_free(s);
			return ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_CORRUPT,
					  "cannot read the PNG header: IHDR CRC mismatch");
		}
	}
	png_limits(s, len);
	spng_set_png_buffer(s, d, len);
	if ((rc = spng_get_ihdr(s, &ih))) {
		int r = ts_err_set(err, TS_ERR_INVALID, (enum ts_reason)spng_reason(rc),
				   "cannot read the PNG header: %s", spng_strerror(rc));
		spng_ctx_free(s);
		return r;
	}
	info->width = (int)(ih.width > 0x7fffffff ? 0x7fffffff : ih.width);
	info->height = (int)(ih.height > 0x7fffffff ? 0x7fffffff : ih.height);
	info->bit_depth = ih.bit_depth;
	info->has_alpha = ih.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ||
			  ih.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;
	switch (ih.color_type) {
	case SPNG_COLOR_TYPE_GRAYSCALE: info->color = "gray"; break;
	case SPNG_COLOR_TYPE_INDEXED: info->color = "palette"; break;
	case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: info->color = "gray+alpha"; break;
	case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: info->color = "rgba"; break;
	default: info->color = "rgb"; break;
	}
	{
		struct spng_trns tr;
		if (spng_get_trns(s, &tr) == 0)
			info->has_alpha = 1;
	}
	info->orientation = 1;
	/* the eXIf chunk comes before IDAT; a huge claimed image is not decoded here */
	if ((uint64_t)ih.width * ih.height <= (1ULL << 31)) {
		if (spng_get_exif(s, &ex) == 0)
			info->orientation = exif_orientation((const uint8_t *)ex.data, ex.length, 0);
		else
			info->orientation = png_text_orientation(s);
	}
	spng_ctx_free(s);
	return TS_OK;
}

static const char *webp_status(VP8StatusCode st)
{
	switch (st) {
	case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
	case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
	case VP8_STATUS_BITSTREAM_ERROR: return "the bitstream is damaged";
	case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
	case VP8_STATUS_SUSPENDED: return "suspended";
	case VP8_STATUS_USER_ABORT: return "aborted";
	case VP8_STATUS_NOT_ENOUGH_DATA: return "the data ends early";
	default: return "unknown error";
	}
}

static int probe_webp(const uint8_t *d, size_t len, struct ts_image_info *info,
		      struct ts_err *err)
{
	WebPBitstreamFeatures f;
	VP8StatusCode st = WebPGetFeatures(d, len, &f);
	if (st != VP8_STATUS_OK)
		return ts_err_set(err, TS_ERR_INVALID,
				  st == VP8_STATUS_NOT_ENOUGH_DATA ? TS_R_IMAGE_TRUNCATED : TS_R_IMAGE_CORRUPT,
				  "cannot read the WebP header: %s", webp_status(st));
	info->animated = f.has_animation;
	info->width = f.width;
	info->height = f.height;
	info->bit_depth = 8;
	info->has_alpha = f.has_alpha;
	info->color = f.has_alpha ? "rgba" : "rgb";
	info->orientation = 1;
	WebPData wd = { d, len };
	WebPDemuxer *dm = WebPDemux(&wd);
	if (dm) {
		WebPChunkIterator it;
		if (WebPDemuxGetChunk(dm, "EXIF", 1, &it)) {
			info->orientation = exif_orientation(it.chunk.bytes, it.chunk.size, 0);
			WebPDemuxReleaseChunkIterator(&it);
		}
		WebPDemuxDelete(dm);
	}
	return TS_OK;
}

int ts_image_probe_ctx(struct ts_pixctx *c, const uint8_t *d, size_t len,
		       struct ts_image_info *info, struct ts_err *err)
{
	memset(info, 0, sizeof(*info));
	info->orientation = 1;
	info->color = "rgb";
	if (len == 0)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_EMPTY, "empty file (0 bytes)");
	info->format = ts_image_sniff(d, len);
	switch (info->format) {
	case TS_FMT_JPEG: return probe_jpeg(c, d, len, info, err);
	case TS_FMT_PNG: return probe_png(d, len, info, err);
	case TS_FMT_WEBP: return probe_webp(d, len, info, err);
	default: break;
	}
	char shown[9];
	size_t n = len < 8 ? len : 8;
	for (size_t i = 0; i < n; i++)
		shown[i] = d[i] >= 0x20 && d[i] < 0x7f ? (char)d[i] : '.';
	shown[n] = 0;
	return ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_NOT_IMAGE,
			  "not a JPEG, PNG or WebP file (starts with '%s')", shown);
}

int ts_image_probe(const uint8_t *data, size_t len, struct ts_image_info *info,
		   struct ts_err *err)
{
	return ts_image_probe_ctx(NULL, data, len, info, err);
}

/* ---- decode ------------------------------------------------------------------------ */

static inline uint8_t over_white(unsigned c, unsigned a)
{
	return (uint8_t)((c * a + 255u * (255u - a) + 127u) / 255u);
}

static int decode_jpeg(struct ts_pixctx *c, const uint8_t *d, size_t len,
		       const struct ts_image_info *info, int want_w, int want_h,
		       struct ts_image *out, struct ts_err *err)
{
	int nsf, w = info->width, h = info->height, bw = w, bh = h, rc;
	tjscalingfactor *sf = tjGetScalingFactors(&nsf);
	int cmyk = !strcmp(info->color, "cmyk") || !strcmp(info->color, "ycck");
	int swap = info->orientation >= 5;

	/* the smallest DCT scale (n/8) whose result still covers the wanted size */
	if (want_w > 0 && want_h > 0 && sf) {
		int ww = swap ? want_h : want_w, wh = swap ? want_w : want_h;
		for (int i = 0; i < nsf; i++) {
			int sw = TJSCALED(w, sf[i]), sh = TJSCALED(h, sf[i]);
			if (sw >= ww && sh >= wh && (int64_t)sw * sh < (int64_t)bw * bh) {
				bw = sw;
				bh = sh;
			}
		}
	}
	if (cmyk) {
		size_t need = (size_t)bw * bh * 4;
		if (ts_alloc_grow(&c->raw, &c->raw_cap, need, 1))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_TOO_LARGE, "out of memory");
	}
	if ((rc = ts_image_alloc(out, bw, bh, err)))
		return rc;
	if (tjDecompress2(c->tjd, d, (unsigned long)len, cmyk ? c->raw : out->pixels, bw, 0, bh,
			  cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_LIMITSCANS)) {
		const char *m = tjGetErrorStr2(c->tjd);
		int warning = tjGetErrorCode(c->tjd) == TJERR_WARNING, why = tj_reason(m);
		/* a warning still produced pixels: keep them only when the
		 * (first) warning is harmless and the data is all there */
		if (!warning || !tj_warning_harmless(m) || !jpeg_reaches_eoi(d, len)) {
			if (warning && tj_warning_harmless(m))
				rc = ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_TRUNCATED,
						"cannot decode JPEG: the data ends before the "
						"end-of-image marker (after '%s')", m);
			else
				rc = ts_err_set(err, tj_status(why), (enum ts_reason)why,
						"cannot decode JPEG: %s", m);
			tj_reset(c);
			return c->tjd ? rc : ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_CORRUPT,
						       "cannot restart the JPEG decoder");
		}
	}
	if (cmyk) {
		const uint8_t *s = c->raw;
		uint8_t *p = out->pixels;
		for (size_t i = 0, n = (size_t)bw * bh; i < n; i++, s += 4, p += 3) {
			unsigned k = s[3];
			p[0] = (uint8_t)((s[0] * k + 127) / 255);
			p[1] = (uint8_t)((s[1] * k + 127) / 255);
			p[2] = (uint8_t)((s[2] * k + 127) / 255);
		}
	}
	return TS_OK;
}

static int decode_png(struct ts_pixctx *c, const uint8_t *d, size_t len,
		      const struct ts_image_info *info, struct ts_image *out,
		      struct ts_err *err)
{
	spng_ctx *s = spng_ctx_new(0);
	size_t need;
	int rc, r = TS_OK;

	if (!s)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_CORRUPT, "cannot start the PNG decoder");
	spng_set_crc_action(s, SPNG_CRC_ERROR, SPNG_CRC_ERROR);
	png_limits(s, len);
	spng_set_png_buffer(s, d, len);
	/* Row by row: once every row is decoded the pixels are complete, so
	 * damage after the image data (a truncated IEND) does not lose the
	 * sample; damage before the last row does. */
	if ((rc = spng_decoded_image_size(s, SPNG_FMT_RGBA8, &need)) ||
	    ts_alloc_grow(&c->raw, &c->raw_cap, need, 1) ||
	    (rc = spng_decode_image(s, NULL, 0, SPNG_FMT_RGBA8,
				    SPNG_DECODE_TRNS | SPNG_DECODE_PROGRESSIVE))) {
		r = rc ? png_fail(err, rc) :
			 ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_TOO_LARGE, "out of memory");
		goto out;
	}
	{
		size_t row = (size_t)info->width * 4;
		uint32_t rows_done = 0;
		struct spng_row_info ri;
		do {
			if ((rc = spng_get_row_info(s, &ri)))
				break;
			rc = spng_decode_row(s, c->raw + (size_t)ri.row_num * row, row);
			if (rc == 0 || rc == SPNG_EOI)
				rows_done++;
		} while (rc == 0);
		if (rc != SPNG_EOI || rows_done < (uint32_t)info->height) {
			r = png_fail(err, rc);
			goto out;
		}
	}
	if ((r = ts_image_alloc(out, info->width, info->height, err)))
		goto out;
	{
		const uint8_t *p = c->raw;
		uint8_t *q = out->pixels;
		for (size_t i = 0, n = (size_t)info->width * info->height; i < n; i++, p += 4, q += 3) {
			unsigned a = p[3];
			if (a == 255) {
				q[0] = p[0];
				q[1] = p[1];
				q[2] = p[2];
			} else {
				q[0] = over_white(p[0], a);
				q[1] = over_white(p[1], a);
				q[2] = over_white(p[2], a);
			}
		}
	}
out:
	spng_ctx_free(s);
	return r;
}

static int decode_webp(struct ts_pixctx *c, const uint8_t *d, size_t len,
		       const struct ts_image_info *info, struct ts_image *out,
		       struct ts_err *err)
{
	int w = info->width, h = info->height, rc;
	if ((rc = ts_image_alloc(out, w, h, err)))
		return rc;
	if (info->animated) {
		/* the first frame, as other tools show an animation's still */
		WebPData wd = { d, len };
		WebPAnimDecoderOptions ao;
		WebPAnimDecoder *ad;
		WebPAnimInfo ai;
		uint8_t *frame;
		int ts;
		if (!WebPAnimDecoderOptionsInit(&ao))
			goto fail;
		ao.color_mode = MODE_RGBA;
		ao.use_threads = 0;
		ad = WebPAnimDecoderNew(&wd, &ao);
		if (!ad)
			goto fail;
		if (!WebPAnimDecoderGetInfo(ad, &ai) || (int)ai.canvas_width != w ||
		    (int)ai.canvas_height != h || !WebPAnimDecoderGetNext(ad, &frame, &ts)) {
			WebPAnimDecoderDelete(ad);
			goto fail;
		}
		const uint8_t *p = frame;
		uint8_t *q = out->pixels;
		for (size_t i = 0, n = (size_t)w * h; i < n; i++, p += 4, q += 3) {
			q[0] = over_white(p[0], p[3]);
			q[1] = over_white(p[1], p[3]);
			q[2] = over_white(p[2], p[3]);
		}
		WebPAnimDecoderDelete(ad);
		return TS_OK;
	}
	/* the advanced API, for libwebp's status: a bitstream that stops
	 * early is image.truncated, a damaged one image.corrupt */
	WebPDecoderConfig cfg;
	VP8StatusCode st;
	if (!WebPInitDecoderConfig(&cfg))
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_IMAGE_CORRUPT, "libwebp version mismatch");
	cfg.output.is_external_memory = 1;
	if (info->has_alpha) {
		size_t need = (size_t)w * h * 4;
		if (ts_alloc_grow(&c->raw, &c->raw_cap, need, 1))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_TOO_LARGE, "out of memory");
		cfg.output.colorspace = MODE_RGBA;
		cfg.output.u.RGBA.rgba = c->raw;
		cfg.output.u.RGBA.stride = w * 4;
		cfg.output.u.RGBA.size = need;
	} else {
		cfg.output.colorspace = MODE_RGB;
		cfg.output.u.RGBA.rgba = out->pixels;
		cfg.output.u.RGBA.stride = w * 3;
		cfg.output.u.RGBA.size = (size_t)w * h * 3;
	}
	st = WebPDecode(d, len, &cfg);
	WebPFreeDecBuffer(&cfg.output);      /* external memory: frees nothing of ours */
	if (st != VP8_STATUS_OK)
		return ts_err_set(err, st == VP8_STATUS_UNSUPPORTED_FEATURE ? TS_ERR_UNSUPPORTED : TS_ERR_INVALID,
				  st == VP8_STATUS_NOT_ENOUGH_DATA ? TS_R_IMAGE_TRUNCATED :
				  st == VP8_STATUS_UNSUPPORTED_FEATURE ? TS_R_IMAGE_UNSUPPORTED :
				  TS_R_IMAGE_CORRUPT, "cannot decode WebP: %s", webp_status(st));
	if (info->has_alpha) {
		const uint8_t *p = c->raw;
		uint8_t *q = out->pixels;
		for (size_t i = 0, n = (size_t)w * h; i < n; i++, p += 4, q += 3) {
			q[0] = over_white(p[0], p[3]);
			q[1] = over_white(p[1], p[3]);
			q[2] = over_white(p[2], p[3]);
		}
	}
	return TS_OK;
fail:
	return ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_CORRUPT,
			  "cannot decode WebP: the animation is damaged");
}

/* Orientation in place of out, using tmp as scratch. */
static int orient(struct ts_pixctx *c, struct ts_image *img, int o, struct ts_err *err)
{
	int w = img->width, h = img->height, ow, oh, rc;
	if (o <= 1 || o > 8)
		return TS_OK;
	ow = o >= 5 ? h : w;
	oh = o >= 5 ? w : h;
	if ((rc = ts_image_alloc(&c->tmp, ow, oh, err)))
		return rc;
	const uint8_t *s = img->pixels;
	uint8_t *d = c->tmp.pixels;
	for (int y = 0; y < oh; y++) {
		for (int x = 0; x < ow; x++) {
			int sx, sy;
			switch (o) {
			case 2: sx = w - 1 - x; sy = y; break;
			case 3: sx = w - 1 - x; sy = h - 1 - y; break;
			case 4: sx = x; sy = h - 1 - y; break;
			case 5: sx = y; sy = x; break;
			case 6: sx = y; sy = h - 1 - x; break;
			case 7: sx = w - 1 - y; sy = h - 1 - x; break;
			default: sx = w - 1 - y; sy = x; break;   /* 8 */
			}
			const uint8_t *p = s + ((size_t)sy * w + sx) * 3;
			uint8_t *q = d + ((size_t)y * ow + x) * 3;
			q[0] = p[0];
			q[1] = p[1];
			q[2] = p[2];
		}
	}
	struct ts_image t = *img;
	*img = c->tmp;
	c->tmp = t;
	return TS_OK;
}

int ts_decode_probed(struct ts_pixctx *c, const uint8_t *data, size_t len,
		     const struct ts_image_info *info, int want_w, int want_h,
		     struct ts_image *out, struct ts_err *err)
{
	int rc;
	switch (info->format) {
	case TS_FMT_JPEG: rc = decode_jpeg(c, data, len, info, want_w, want_h, out, err); break;
	case TS_FMT_PNG: rc = decode_png(c, data, len, info, out, err); break;
	case TS_FMT_WEBP: rc = decode_webp(c, data, len, info, out, err); break;
	default: return ts_err_set(err, TS_ERR_INVALID, TS_R_IMAGE_NOT_IMAGE, "not an image");
	}
	if (rc)
		return rc;
	return orient(c, out, info->orientation, err);
}

int ts_decode(struct ts_pixctx *c, const uint8_t *data, size_t len,
	      uint64_t max_pixels, int want_w, int want_h,
	      struct ts_image *out, struct ts_image_info *info, struct ts_err *err)
{
	int rc = ts_image_probe_ctx(c, data, len, info, err);
	if (rc)
		return rc;
	if (max_pixels && (uint64_t)info->width * (uint64_t)info->height > max_pixels)
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_IMAGE_TOO_LARGE,
				  "%dx%d is %llu pixels, more than the limit of %llu",
				  info->width, info->height,
				  (unsigned long long)info->width * (unsigned long long)info->height,
				  (unsigned long long)max_pixels);
	return ts_decode_probed(c, data, len, info, want_w, want_h, out, err);
}

/* 8-bit PNG of w x h pixels with `channels` 3 (RGB) or 1 (gray) into a
 * malloc'ed *png.  Gray images are masks, runs of a few values: no row
 * filters (filter type 0 on every row), which also keeps them trivial to
 * read. */
static int png_encode(const uint8_t *pixels, int w, int h, int channels, void **png, size_t *n,
		      struct ts_err *err)
{
	spng_ctx *s = spng_ctx_new(SPNG_CTX_ENCODER);
	struct spng_ihdr ih = { .width = (uint32_t)w, .height = (uint32_t)h, .bit_depth = 8,
				.color_type = channels == 1 ? SPNG_COLOR_TYPE_GRAYSCALE : SPNG_COLOR_TYPE_TRUECOLOR };
	int e = 0, rc;
	*png = NULL;
	*n = 0;
	if (!s)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_ENCODE_FAILED, "out of memory");
	spng_set_option(s, SPNG_ENCODE_TO_BUFFER, 1);
	spng_set_option(s, SPNG_IMG_COMPRESSION_LEVEL, 6);
	if (channels == 1)
		spng_set_option(s, SPNG_FILTER_CHOICE, SPNG_DISABLE_FILTERING);
	spng_set_ihdr(s, &ih);
	rc = spng_encode_image(s, pixels, (size_t)w * h * (size_t)channels, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
	*png = rc ? NULL : spng_get_png_buffer(s, n, &e);
	spng_ctx_free(s);
	if (!*png || e) {
		free(*png);
		*png = NULL;
		*n = 0;
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_IMAGE_ENCODE_FAILED, "PNG encoder: %s",
				  spng_strerror(rc ? rc : e));
	}
	return TS_OK;
}

/* ---- encode ------------------------------------------------------------------------ */

int ts_encode(struct ts_pixctx *c, const struct ts_image *img, enum ts_imgfmt fmt,
	      int quality, const uint8_t **out, size_t *out_len, struct ts_err *err)
{
	int w = img->width, h = img->height;
	if (quality < 1 || quality > 100)
		quality = 95;
	switch (fmt) {
	case TS_FMT_JPEG: {
		int ss = c->subsampling == 444 ? TJSAMP_444 : TJSAMP_420;
		unsigned long bound = tjBufSize(w, h, ss), n = bound;
		if (ts_alloc_grow(&c->enc, &c->enc_cap, bound, 1))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_ENCODE_FAILED, "out of memory");
		unsigned char *buf = c->enc;
		if (tjCompress2(c->tjc, img->pixels, w, 0, h, TJPF_RGB, &buf, &n, ss,
				quality, TJFLAG_NOREALLOC))
			return ts_err_set(err, TS_ERR_INTERNAL, TS_R_IMAGE_ENCODE_FAILED,
					  "JPEG encoder: %s", tjGetErrorStr2(c->tjc));
		*out = c->enc;
		*out_len = n;
		return TS_OK;
	}
	case TS_FMT_WEBP: {
		uint8_t *o = NULL;
		size_t n = WebPEncodeRGB(img->pixels, w, h, w * 3, (float)quality, &o);
		if (!n || ts_alloc_grow(&c->enc, &c->enc_cap, n, 1)) {
			WebPFree(o);
			return ts_err_set(err, TS_ERR_INTERNAL, TS_R_IMAGE_ENCODE_FAILED,
					  "WebP encoder failed for %dx%d", w, h);
		}
		memcpy(c->enc, o, n);
		WebPFree(o);
		*out = c->enc;
		*out_len = n;
		return TS_OK;
	}
	case TS_FMT_PNG: {
		void *png;
		size_t n;
		int rc = png_encode(img->pixels, w, h, 3, &png, &n, err);
		if (rc)
			return rc;
		if (ts_alloc_grow(&c->enc, &c->enc_cap, n, 1)) {
			free(png);
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_IMAGE_ENCODE_FAILED, "out of memory");
		}
		memcpy(c->enc, png, n);
		free(png);
		*out = c->enc;
		*out_len = n;
		return TS_OK;
	}
	default:
		return ts_err_set(err, TS_ERR_USAGE, TS_R_IMAGE_ENCODE_FAILED, "no encoder for this format");
	}
}

int ts_encode_gray_png(const uint8_t *pixels, int w, int h, uint8_t **out, size_t *out_len,
		       struct ts_err *err)
{
	void *png = NULL;
	*out = NULL;
	*out_len = 0;
	if (w <= 0 || h <= 0)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_IMAGE_ENCODE_FAILED, "empty mask (%dx%d)", w, h);
	int rc = png_encode(pixels, w, h, 1, &png, out_len, err);
	*out = png;
	return rc;
}
