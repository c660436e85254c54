/*
 * compose.h - the pixel layer: recognise, decode, orient, resize, encode.
 *
 * Knows nothing of captions or storage.  All functions are thread-safe when
 * each thread uses its own struct ts_pixctx (per-worker codec handles and
 * scratch buffers); nothing here keeps global mutable state.
 *
 * Pixels are always 8-bit RGB, packed, row stride = 3 * width.  Alpha is
 * composited on white; grayscale/palette/16-bit/CMYK/YCCK become RGB8.
 */
#ifndef TS_COMPOSE_H
#define TS_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"

enum ts_imgfmt {
	TS_FMT_UNKNOWN = 0,
	TS_FMT_JPEG,
	TS_FMT_PNG,
	TS_FMT_WEBP,
};

/* "jpeg", "png", "webp", "unknown"; file extension without dot: "jpg", "png", "webp". */
const char *ts_imgfmt_name(enum ts_imgfmt f);
const char *ts_imgfmt_ext(enum ts_imgfmt f);

/* Recognise a format from its leading bytes (magic numbers), never from a
 * file name.  Needs at most the first 16 bytes. */
enum ts_imgfmt ts_image_sniff(const uint8_t *data, size_t len);

/* What the header says, before any pixel is decoded. */
struct ts_image_info {
	enum ts_imgfmt format;
	int width, height;   /* as stored in the file (before orientation) */
	int orientation;     /* EXIF orientation 1..8 (1 when absent/invalid) */
	int bit_depth;       /* 8 or 16 */
	int has_alpha;
	int animated;        /* WebP animation: the first frame is used */
	const char *color;   /* static string: "rgb", "gray", "palette", "cmyk", "ycck", "gray+alpha", "rgba" */
};

/* Read only the header (and the EXIF orientation).  Fails with a reason:
 * image.empty, image.not_an_image, image.truncated, image.corrupt,
 * image.unsupported. */
int ts_image_probe(const uint8_t *data, size_t len, struct ts_image_info *info,
		   struct ts_err *err);

struct ts_image {
	int width, height;
	uint8_t *pixels;     /* RGB8, stride 3*width; owned, free with ts_image_release */
	size_t cap;          /* bytes allocated, reused across calls */
};

void ts_image_release(struct ts_image *img);

enum ts_resize_mode {
	TS_RESIZE_NO = 0,            /* keep size */
	TS_RESIZE_BORDER,            /* long side to size, pad to size x size with white */
	TS_RESIZE_KEEP_RATIO,        /* short side to size */
	TS_RESIZE_KEEP_RATIO_LARGEST,/* long side to size */
	TS_RESIZE_CENTER_CROP,       /* short side to size, then center crop size x size */
	TS_RESIZE_STRETCH,           /* size x size, aspect not kept */
};

/* "no", "border", "keep-ratio", "keep-ratio-largest", "center-crop",
 * "stretch"; parse returns -1 for an unknown name (underscores accepted). */
const char *ts_resize_mode_name(enum ts_resize_mode m);
int ts_resize_mode_parse(const char *name);

/* Output geometry for an oriented source of src_w x src_h: the size the
 * image is scaled to (scaled_w x scaled_h) and the final canvas
 * (out_w x out_h) with the scaled image's offset in it (negative offsets
 * mean cropping, positive offsets mean border).  Pure arithmetic. */
struct ts_resize_plan {
	int scaled_w, scaled_h;
	int out_w, out_h;
	int off_x, off_y;
};
void ts_resize_plan(enum ts_resize_mode mode, int size, int src_w, int src_h,
		    struct ts_resize_plan *plan);

enum ts_encode_fmt {
	TS_ENCODE_JPEG = 0,
	TS_ENCODE_WEBP,
	TS_ENCODE_PNG,
	TS_ENCODE_KEEP,      /* original bytes when pixels are unchanged, else re-encode in the source format */
};
const char *ts_encode_fmt_name(enum ts_encode_fmt f);
int ts_encode_fmt_parse(const char *name);

struct ts_process_opts {
	enum ts_resize_mode resize;
	int size;                 /* target size for resize (default 256) */
	int min_size;             /* reject when min(w,h) of the oriented source < min_size (0: off) */
	uint64_t max_pixels;      /* reject when header w*h > max_pixels (0: no limit) */
	enum ts_encode_fmt encode;
	int quality;              /* 1..100 for JPEG/WebP */
};                            /* JPEG chroma subsampling: ts_pixctx_set_subsampling */

/* Result of processing one image.  Buffers are owned by the ts_pixctx and
 * stay valid until the next call on the same context. */
struct ts_processed {
	struct ts_image_info info;   /* of the source */
	int orig_w, orig_h;          /* oriented source size (after EXIF rotation) */
	int width, height;           /* stored size */
	enum ts_imgfmt out_format;
	const uint8_t *data;         /* encoded output (may point at the input bytes for keep) */
	size_t len;
	int kept_original;           /* 1 when data is the unchanged input */
	int decode_w, decode_h;      /* size actually decoded (after DCT scaling and orientation) */
};

/* What processing changed besides the geometry, as a comma-separated list
 * in a fixed order (the catalog's samples.fixes, docs/formats.md):
 * "orientation" (EXIF rotation applied), "cmyk" (CMYK or YCCK converted to
 * RGB), "alpha" (transparency composited on white), "16bit" (16 bits per
 * channel reduced to 8), "gray" and "palette" (expanded to RGB),
 * "animated" (first frame of an animation kept).  "" when nothing was
 * changed (the original bytes kept, or an 8-bit RGB image without EXIF
 * rotation).  Returns buf. */
#define TS_FIXES_MAX 64
char *ts_processed_fixes(const struct ts_processed *p, char buf[TS_FIXES_MAX]);

struct ts_pixctx;

/* One per worker thread.  NULL on allocation failure. */
struct ts_pixctx *ts_pixctx_new(void);
void ts_pixctx_free(struct ts_pixctx *ctx);   /* accepts NULL */
/* Chroma subsampling of the context's JPEG encodes: 420 (the default) or
 * 444 (any other value means 420). */
void ts_pixctx_set_subsampling(struct ts_pixctx *ctx, int subsampling);

/* Decode into RGB8 with EXIF orientation applied.  When want_w/want_h are
 * > 0, JPEGs may be decoded with DCT scaling to the smallest size that is
 * still >= want in both (oriented) dimensions.  The max_pixels check uses
 * the header before anything is allocated. */
int ts_decode(struct ts_pixctx *ctx, const uint8_t *data, size_t len,
	      uint64_t max_pixels, int want_w, int want_h,
	      struct ts_image *out, struct ts_image_info *info,
	      struct ts_err *err);

/* Antialiased resample (separable; see compose/resize.c for the filter)
 * of src to dst_w x dst_h.  dst is (re)allocated as needed. */
int ts_resample(const struct ts_image *src, int dst_w, int dst_h,
		struct ts_image *dst, struct ts_err *err);

/* Apply a plan: scale, then crop or pad (white) to out_w x out_h. */
int ts_apply_plan(const struct ts_image *src, const struct ts_resize_plan *plan,
		  struct ts_image *dst, struct ts_err *err);

/* Encode RGB8 to JPEG (4:2:0 or the context's subsampling, quality), WebP (lossy, quality) or PNG
 * (deterministic zlib settings).  *out points into ctx-owned memory, valid
 * until the next call on ctx. */
int ts_encode(struct ts_pixctx *ctx, const struct ts_image *img,
	      enum ts_imgfmt fmt, int quality, const uint8_t **out,
	      size_t *out_len, struct ts_err *err);

/* ---- CLIP-C compositions (composite.c; docs/compose.md) ---- */

/* Decode a source (DCT-scaled to at least size x size) and bring it to a
 * size x size frame: short side to size and center crop, or stretch. */
int ts_fit_square(struct ts_pixctx *ctx, const uint8_t *data, size_t len, int size, int stretch,
		  uint64_t max_pixels, struct ts_image *out, struct ts_err *err);

/* ts_fit_square's result, but only its window [wx, wx+ww) x [wy, wy+wh),
 * written into dst at (dx, dy) (dst is made size x size first when it is
 * not; its other pixels are left as they are).  A JPEG is decoded only
 * where the window reads it; the pixels are those ts_fit_square gives. */
int ts_fit_window(struct ts_pixctx *ctx, const uint8_t *data, size_t len, int size, int stretch,
		  uint64_t max_pixels, int wx, int wy, int ww, int wh, struct ts_image *dst, int dx, int dy,
		  struct ts_err *err);

/* Halves: a and b are S x S.  vertical: rows [(S-h1)/2, +h1) of a on top
 * (h1 = S/2), the center h2 = S - h1 rows of b below; horizontal: the same
 * with columns, a on the left.  rects receives each source's rectangle in
 * the output, [x0, y0, x1, y1). */
int ts_composite_halves(const struct ts_image *a, const struct ts_image *b, int vertical,
			struct ts_image *out, int rects[2][4], struct ts_err *err);

/* Halves in the DCT domain (dct.c): a and b are the sources' JPEG bytes.
 * When both are baseline YCbCr JPEGs of exactly size x size, upright, with
 * the sampling (subsampling 420 or 444) and quantization tables our
 * encoder writes at quality, and the cut and paste offsets fall on MCU
 * boundaries, the composite ts_composite_halves would make is assembled
 * from their coefficients without decoding: returns 0 with the JPEG in
 * *out (ctx-owned, valid until the next call on ctx).  Otherwise, and on
 * any libjpeg error or warning, returns TS_DCT_FALLBACK with the reason
 * in *why (a static string); the caller then takes the pixel path. */
#define TS_DCT_FALLBACK 1
int ts_halves_dct(struct ts_pixctx *ctx, const uint8_t *a, size_t alen, const uint8_t *b,
		  size_t blen, int size, int vertical, int quality, int subsampling,
		  const uint8_t **out, size_t *out_len, const char **why);

/* CutMix: a with the box [x0, y0, x1, y1) taken from b (same position). */
int ts_composite_cutmix(const struct ts_image *a, const struct ts_image *b, const int box[4],
			struct ts_image *out, struct ts_err *err);

/* The CutMix box for an S x S frame: a square of side S * sqrt(1 - lambda)
 * centred on (cx, cy), clipped to the frame, as [x0, y0, x1, y1). */
void ts_cutmix_box(int s, double lambda, int cx, int cy, int box[4]);

/* Grid: four h x h images in the quadrants of a 2h x 2h frame, left to
 * right, top to bottom; rects receives each one's rectangle. */
int ts_composite_grid(const struct ts_image q[4], struct ts_image *out, int rects[4][4], struct ts_err *err);

/* MixUp: lambda * a + (1 - lambda) * b per channel, in 16-bit fixed point,
 * rounded. */
int ts_composite_mixup(const struct ts_image *a, const struct ts_image *b, double lambda,
		       struct ts_image *out, struct ts_err *err);

/* A composite's region as KEY.json's "regions" and the compositions row
 * record it: the rectangle [x0, y0, x1, y1) of the output, less the inner
 * rectangle minus when has_minus (CutMix's first source: the frame without
 * the box), or, for mixup, no rectangle but the source's blend weight. */
struct ts_region {
	int index;            /* 1, 2, ... (0 is no region) */
	int rect[4];
	int has_minus;
	int minus[4];
	int has_weight;       /* mixup: weight instead of rect */
	double weight;
	const char *source;   /* the source sample's key, or NULL (not recorded) */
};

/* ---- regions as text (regions.c): the one codec of a composite's regions ----
 *
 * The text is a JSON array with one object per region, keys in this order:
 * "source" (when not NULL), "region" (index), then "weight" (has_weight) or
 * "rect" and, when has_minus, "minus".  Compact, ASCII, weights to 9
 * significant digits: what KEY.json's "regions" and compositions.regions
 * hold, byte for byte.
 *
 * ts_regions_encode: *json receives the malloc'ed text (the caller frees
 * it); TS_ERR_NOMEM on failure.  ts_regions_decode reads such text back:
 * *out receives one malloc'ed block with the n regions and their source
 * strings (free(*out); NULL when n is 0); text that is not an array of
 * regions (an index outside 1..255, a rectangle not of four integers,
 * neither rect nor weight) is TS_ERR_INVALID, saying which element. */
int ts_regions_encode(const struct ts_region *r, size_t n, char **json, struct ts_err *err);
int ts_regions_decode(const char *json, size_t len, struct ts_region **out, size_t *n,
		      struct ts_err *err);

/* Set map[y * w + x] = value for every pixel of r inside the w x h map
 * (the one rasteriser of region masks: KEY.mask.png, tags mask). */
void ts_region_fill(uint8_t *map, int w, int h, const struct ts_region *r, uint8_t value);

/* An 8-bit single-channel PNG of w*h pixels (masks), deterministic, rows
 * unfiltered (filter type 0), into a malloc'ed buffer. */
int ts_encode_gray_png(const uint8_t *pixels, int w, int h, uint8_t **out, size_t *out_len,
		       struct ts_err *err);

/* The whole pixel stage for ingest: probe, size checks, decode (with DCT
 * scaling chosen from the plan), orient, resize, encode.  Deterministic:
 * the same bytes and options give the same output on any thread. */
int ts_process_image(struct ts_pixctx *ctx, const uint8_t *data, size_t len,
		     const struct ts_process_opts *opts,
		     struct ts_processed *out, struct ts_err *err);

#endif
