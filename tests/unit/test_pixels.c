/*
 * test_pixels.c - the pixel layer (compose/) against the shared corpus
 * (../shared/data/images, see its MANIFEST.jsonl), synthetic images built
 * here and the bundled sample (tests/data/sample; the *_sample cases run
 * without ../shared): recognition, header probes, resize geometry, all eight EXIF
 * orientations (exact, on a synthetic four-colour image, and on the
 * hopper_orientation_N files), colour conversions, alpha on white, every
 * hostile input with its reject reason, DCT scaling, --encode keep,
 * determinism, encoder round trips and the resampler.
 *
 * Cases that need the shared corpus SKIP when it is absent.
 */
#include "tests/unit/t.h"

#include <jansson.h>
#include <pthread.h>
#include <spng.h>
#include <stdint.h>
#include <zlib.h>

#include "compose/compose.h"
#include "compose/compose_impl.h"   /* ts_resample_simd, ts_resample_window */
#include "tests/unit/t_img.h"

#define BIG 100000000ULL   /* max_pixels for cases that do not test the cap */




static const uint8_t *px(const struct ts_image *im, int x, int y)
{
	return im->pixels + ((size_t)y * im->width + x) * 3;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int decode(struct ts_pixctx *c, const uint8_t *d, size_t n, struct ts_image *im,
		  struct ts_image_info *info, struct ts_err *e)
{
	return ts_decode(c, d, n, BIG, 0, 0, im, info, e);
}

/* A PNG chunk in a growing buffer, with its CRC. */
static size_t png_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t len)
{
	put32(out, len);
	memcpy(out + 4, type, 4);
	if (len)
		memcpy(out + 8, data, len);
	put32(out + 8 + len, (uint32_t)crc32(0, out + 4, len + 4));
	return 12 + (size_t)len;
}

/* ---- recognition and headers ------------------------------------------------------- */

static void sniff(void)
{
	static const struct { const char *bytes; size_t n; enum ts_imgfmt f; } cases[] = {
		{ "\xff\xd8\xff\xe0\0\x10JFIF", 10, TS_FMT_JPEG },
		{ "\xff\xd8\xff\xdb", 4, TS_FMT_JPEG },
		{ "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16, TS_FMT_PNG },
		{ "RIFF\x10\0\0\0WEBPVP8 ", 16, TS_FMT_WEBP },
		{ "RIFF\x10\0\0\0WAVEfmt ", 16, TS_FMT_UNKNOWN },
		{ "<!DOCTYPE html><html>", 21, TS_FMT_UNKNOWN },
		{ "GIF89a", 6, TS_FMT_UNKNOWN },
		{ "\xff\xd8", 2, TS_FMT_UNKNOWN },
		{ "\x89PNG", 4, TS_FMT_UNKNOWN },
		{ "", 0, TS_FMT_UNKNOWN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECKF(ts_image_sniff((const uint8_t *)cases[i].bytes, cases[i].n) == cases[i].f,
		       "case %zu", i);
	CHECK_EQ_STR(ts_imgfmt_name(TS_FMT_WEBP), "webp");
	CHECK_EQ_STR(ts_imgfmt_ext(TS_FMT_JPEG), "jpg");

	/* the name does not matter: a real PNG's bytes are a PNG */
	size_t n;
	uint8_t *d = t_shared_img("pillow-tests/hopper.png", &n);
	T_NEED_SHARED(d);
	CHECK(ts_image_sniff(d, n) == TS_FMT_PNG);
	free(d);
}

static void probe_dims(void)
{
	static const struct {
		const char *path;
		const char *color;
		int bit_depth, alpha, orientation;
	} cases[] = {
		{ "pillow-tests/hopper.jpg", "rgb", 8, 0, 1 },
		{ "pillow-tests/hopper_gray.jpg", "gray", 8, 0, 1 },
		{ "pillow-tests/pil_sample_cmyk.jpg", NULL, 8, 0, 1 },
		{ "pillow-tests/orientation_rectangle.jpg", "rgb", 8, 0, 8 },
		{ "pillow-tests/hopper_orientation_6.jpg", "rgb", 8, 0, 6 },
		{ "pillow-tests/hopper_orientation_5.webp", "rgb", 8, 0, 5 },
		{ "pillow-tests/hopper_wal.png", "palette", 8, 0, 1 },
		{ "pillow-tests/pil123p.png", "palette", 8, 1, 1 },
		{ "pillow-tests/transparent.png", "rgba", 8, 1, 1 },
		{ "pillow-tests/transparent.webp", "rgba", 8, 1, 1 },
		{ "pillow-tests/i_trns.png", "gray", 16, 1, 1 },
		{ "imagemagick-doc/rose-over.png", "rgb", 16, 0, 1 },
		{ "mate-backgrounds/Stripes.png", "gray+alpha", 8, 1, 1 },
		{ "mate-backgrounds/Elephants_5640x3172.jpg", "rgb", 8, 0, 1 },
		{ "gnome-backgrounds/vnc-d.webp", "rgb", 8, 0, 1 },
		{ "gnome-backgrounds/adwaita-l.webp", "rgb", 8, 0, 1 },
		/* EXIF as hex in ImageMagick's "Raw profile type exif" tEXt chunk */
		{ "pillow-tests/exif_imagemagick_orientation.png", "rgb", 8, 0, 3 },
	};
	char p[512];
	snprintf(p, sizeof(p), "%s/data/images/MANIFEST.jsonl", t_shared());
	FILE *f = fopen(p, "r");
	if (!f)
		SKIP("../shared/data/images not found");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[8192], want[600];
		long long w = -1, h = -1;
		snprintf(want, sizeof(want), "images/%s", cases[i].path);
		rewind(f);
		while (fgets(line, sizeof(line), f)) {
			json_t *j = json_loads(line, 0, NULL);
			const char *path = json_string_value(json_object_get(j, "path"));
			if (path && !strcmp(path, want)) {
				w = json_integer_value(json_object_get(j, "w"));
				h = json_integer_value(json_object_get(j, "h"));
			}
			json_decref(j);
		}
		CHECKF(w > 0 && h > 0, "%s not in the MANIFEST", cases[i].path);
		size_t n;
		uint8_t *d = t_shared_img(cases[i].path, &n);
		struct ts_image_info info;
		struct ts_err e = TS_ERR_INIT;
		int rc = d ? ts_image_probe(d, n, &info, &e) : -1;
		CHECKF(rc == 0, "%s: %s", cases[i].path, e.msg);
		if (rc == 0) {
			CHECKF(info.width == w && info.height == h, "%s: %dx%d, MANIFEST %lldx%lld",
			       cases[i].path, info.width, info.height, w, h);
			if (cases[i].color)
				CHECK_EQ_STR(info.color, cases[i].color);
			else
				CHECKF(!strcmp(info.color, "cmyk") || !strcmp(info.color, "ycck"),
				       "%s: %s", cases[i].path, info.color);
			CHECKF(info.bit_depth == cases[i].bit_depth && info.has_alpha == cases[i].alpha &&
			       info.orientation == cases[i].orientation,
			       "%s: depth %d alpha %d orientation %d", cases[i].path, info.bit_depth,
			       info.has_alpha, info.orientation);
		}
		free(d);
	}
	/* every decodable file: MANIFEST's EXIF orientation (Pillow's) is ours,
	 * except an orientation that only XMP carries (not EXIF, not applied) */
	int checked = 0;
	char line[8192];
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *path = json_string_value(json_object_get(j, "path"));
		const char *dec = json_string_value(json_object_get(j, "decodes"));
		json_t *jo = json_object_get(j, "exif_orientation");
		int want = jo && json_integer_value(jo) >= 1 && json_integer_value(jo) <= 8 ?
			   (int)json_integer_value(jo) : 1;
		size_t n;
		uint8_t *d = path && dec && !strcmp(dec, "ok") && !strstr(path, "xmp_tags_orientation") ?
			     t_shared_img(path + strlen("images/"), &n) : NULL;
		struct ts_image_info info;
		struct ts_err e = TS_ERR_INIT;
		if (d && ts_image_sniff(d, n) != TS_FMT_UNKNOWN) {
			CHECKF(ts_image_probe(d, n, &info, &e) == 0 && info.orientation == want &&
			       info.width == json_integer_value(json_object_get(j, "w")) &&
			       info.height == json_integer_value(json_object_get(j, "h")),
			       "%s: orientation %d, want %d (%s)", path, info.orientation, want, e.msg);
			checked++;
		}
		free(d);
		json_decref(j);
	}
	CHECKF(checked > 150, "%d files", checked);
	fclose(f);
}

/* ---- geometry ---------------------------------------------------------------------- */

static void resize_plans(void)
{
	static const struct {
		enum ts_resize_mode m;
		int size, w, h;
		int sw, sh, ow, oh, ox, oy;
	} cases[] = {
		{ TS_RESIZE_NO, 256, 640, 480, 640, 480, 640, 480, 0, 0 },
		{ TS_RESIZE_NO, 224, 480, 640, 480, 640, 480, 640, 0, 0 },
		/* 640*256/480 = 341.33 -> 341; crop floor(85/2) = 42 */
		{ TS_RESIZE_CENTER_CROP, 256, 640, 480, 341, 256, 256, 256, -42, 0 },
		{ TS_RESIZE_CENTER_CROP, 256, 480, 640, 256, 341, 256, 256, 0, -42 },
		{ TS_RESIZE_CENTER_CROP, 224, 640, 480, 299, 224, 224, 224, -37, 0 },
		{ TS_RESIZE_CENTER_CROP, 224, 480, 640, 224, 299, 224, 224, 0, -37 },
		{ TS_RESIZE_KEEP_RATIO, 256, 640, 480, 341, 256, 341, 256, 0, 0 },
		{ TS_RESIZE_KEEP_RATIO, 224, 480, 640, 224, 299, 224, 299, 0, 0 },
		{ TS_RESIZE_KEEP_RATIO_LARGEST, 256, 640, 480, 256, 192, 256, 192, 0, 0 },
		{ TS_RESIZE_KEEP_RATIO_LARGEST, 224, 480, 640, 168, 224, 168, 224, 0, 0 },
		{ TS_RESIZE_BORDER, 256, 640, 480, 256, 192, 256, 256, 0, 32 },
		{ TS_RESIZE_BORDER, 224, 480, 640, 168, 224, 224, 224, 28, 0 },
		{ TS_RESIZE_BORDER, 256, 1000, 999, 256, 256, 256, 256, 0, 0 },
		/* odd padding: floor(15/2) = 7 on the left, 8 on the right */
		{ TS_RESIZE_BORDER, 100, 100, 85, 100, 85, 100, 100, 0, 7 },
		{ TS_RESIZE_STRETCH, 256, 640, 480, 256, 256, 256, 256, 0, 0 },
		{ TS_RESIZE_STRETCH, 224, 480, 640, 224, 224, 224, 224, 0, 0 },
		/* upscaling happens too (img2dataset's default) */
		{ TS_RESIZE_KEEP_RATIO, 256, 100, 50, 512, 256, 512, 256, 0, 0 },
		{ TS_RESIZE_CENTER_CROP, 224, 64, 48, 299, 224, 224, 224, -37, 0 },
		{ TS_RESIZE_BORDER, 256, 32, 16, 256, 128, 256, 256, 0, 64 },
		/* Python's round: 3*1.5 = 4.5 -> 4 and 5*1.5 = 7.5 -> 8 (half to even) */
		{ TS_RESIZE_KEEP_RATIO, 3, 3, 2, 4, 3, 4, 3, 0, 0 },
		{ TS_RESIZE_KEEP_RATIO, 3, 5, 2, 8, 3, 8, 3, 0, 0 },
		{ TS_RESIZE_CENTER_CROP, 224, 1000, 536, 418, 224, 224, 224, -97, 0 },
		{ TS_RESIZE_CENTER_CROP, 256, 3, 1000, 256, 85333, 256, 256, 0, -42538 },
		/* never 0 */
		{ TS_RESIZE_KEEP_RATIO_LARGEST, 256, 2000, 1, 256, 1, 256, 1, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ts_resize_plan p;
		ts_resize_plan(cases[i].m, cases[i].size, cases[i].w, cases[i].h, &p);
		CHECKF(p.scaled_w == cases[i].sw && p.scaled_h == cases[i].sh &&
		       p.out_w == cases[i].ow && p.out_h == cases[i].oh &&
		       p.off_x == cases[i].ox && p.off_y == cases[i].oy,
		       "case %zu (%s %d, %dx%d): scaled %dx%d out %dx%d off %d,%d", i,
		       ts_resize_mode_name(cases[i].m), cases[i].size, cases[i].w, cases[i].h,
		       p.scaled_w, p.scaled_h, p.out_w, p.out_h, p.off_x, p.off_y);
	}
	static const char *names[] = { "no", "border", "keep-ratio", "keep-ratio-largest",
				       "center-crop", "stretch" };
	for (int m = 0; m < 6; m++) {
		CHECK_EQ_STR(ts_resize_mode_name((enum ts_resize_mode)m), names[m]);
		CHECK_EQ_INT(ts_resize_mode_parse(names[m]), m);
	}
	CHECK_EQ_INT(ts_resize_mode_parse("center_crop"), TS_RESIZE_CENTER_CROP);
	CHECK_EQ_INT(ts_resize_mode_parse("keep_ratio_largest"), TS_RESIZE_KEEP_RATIO_LARGEST);
	CHECK_EQ_INT(ts_resize_mode_parse("crop"), -1);
	CHECK_EQ_INT(ts_encode_fmt_parse("webp"), TS_ENCODE_WEBP);
	CHECK_EQ_INT(ts_encode_fmt_parse("keep"), TS_ENCODE_KEEP);
	CHECK_EQ_INT(ts_encode_fmt_parse("gif"), -1);
}

/* every mode through ts_process_image on a real 640x480 photo and its
 * 480x640 rotation; the border is white */
static void process_modes(void)
{
	static const struct { enum ts_resize_mode m; int size, w, h; } cases[] = {
		{ TS_RESIZE_NO, 256, 640, 480 }, { TS_RESIZE_BORDER, 256, 256, 256 },
		{ TS_RESIZE_KEEP_RATIO, 256, 341, 256 }, { TS_RESIZE_KEEP_RATIO_LARGEST, 224, 224, 168 },
		{ TS_RESIZE_CENTER_CROP, 224, 224, 224 }, { TS_RESIZE_STRETCH, 224, 224, 224 },
		{ TS_RESIZE_KEEP_RATIO, 1024, 1365, 1024 },
	};
	size_t n;
	uint8_t *d = t_shared_img("opencv-samples/left01.jpg", &n);   /* 640x480 gray */
	T_NEED_SHARED(d);
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image back = { 0 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ts_process_opts o = { cases[i].m, cases[i].size, 0, BIG, TS_ENCODE_PNG, 90 };
		struct ts_processed p;
		struct ts_image_info info;
		struct ts_err e = TS_ERR_INIT;
		int rc = ts_process_image(c, d, n, &o, &p, &e);
		CHECKF(rc == 0, "%s: %s", ts_resize_mode_name(cases[i].m), e.msg);
		if (rc)
			continue;
		CHECKF(p.width == cases[i].w && p.height == cases[i].h && p.orig_w == 640 &&
		       p.orig_h == 480 && p.out_format == TS_FMT_PNG && !p.kept_original,
		       "%s %d: %dx%d", ts_resize_mode_name(cases[i].m), cases[i].size, p.width, p.height);
		uint8_t *copy = malloc(p.len);
		memcpy(copy, p.data, p.len);
		struct ts_pixctx *c2 = ts_pixctx_new();
		CHECK(decode(c2, copy, p.len, &back, &info, &e) == 0 && back.width == cases[i].w &&
		      back.height == cases[i].h);
		if (cases[i].m == TS_RESIZE_BORDER && back.height == 256) {
			/* 640x480 -> 256x192 with 32 rows of white above and below */
			const uint8_t *top = px(&back, 128, 0), *bottom = px(&back, 200, 255);
			CHECK(top[0] == 255 && top[1] == 255 && top[2] == 255);
			CHECK(bottom[0] == 255 && bottom[1] == 255 && bottom[2] == 255);
		}
		ts_pixctx_free(c2);
		free(copy);
	}
	ts_image_release(&back);
	free(d);
	ts_pixctx_free(c);
}

/* ---- orientation ------------------------------------------------------------------ */

/* 64x48: red, green / blue, white quadrants */
static void quadrants(struct ts_image *im)
{
	static const uint8_t col[4][3] = { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 255, 255, 255 } };
	im->pixels = malloc(64 * 48 * 3);
	im->cap = 64 * 48 * 3;
	im->width = 64;
	im->height = 48;
	for (int y = 0; y < 48; y++)
		for (int x = 0; x < 64; x++)
			memcpy(im->pixels + ((size_t)y * 64 + x) * 3, col[(y >= 24) * 2 + (x >= 32)], 3);
}

/* the EXIF block (TIFF, big-endian) of one IFD0 entry: Orientation = o */
static void exif_tiff(uint8_t out[26], int o)
{
	static const uint8_t t[26] = { 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
				       0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	memcpy(out, t, 26);
	out[19] = (uint8_t)o;
}

/* colour index (R=0, G=1, B=2, W=3) seen at the displayed corners TL, TR,
 * BL, BR for each orientation, from the EXIF specification's "0th row /
 * 0th column" table, written out independently of compose/ */
static const int corners[9][4] = {
	{ 0 }, { 0, 1, 2, 3 }, { 1, 0, 3, 2 }, { 3, 2, 1, 0 }, { 2, 3, 0, 1 },
	{ 0, 2, 1, 3 }, { 2, 0, 3, 1 }, { 3, 1, 2, 0 }, { 1, 3, 0, 2 },
};

static int colour_of(const uint8_t *p)
{
	static const uint8_t col[4][3] = { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 255, 255, 255 } };
	for (int i = 0; i < 4; i++)
		if (abs(p[0] - col[i][0]) < 40 && abs(p[1] - col[i][1]) < 40 && abs(p[2] - col[i][2]) < 40)
			return i;
	return -1;
}

static void orientation_exact(void)
{
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image src = { 0 }, out = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	const uint8_t *enc;
	size_t len;
	quadrants(&src);
	for (int jpeg = 0; jpeg < 2; jpeg++) {
		CHECK(ts_encode(c, &src, jpeg ? TS_FMT_JPEG : TS_FMT_PNG, 95, &enc, &len, &e) == 0);
		uint8_t *plain = malloc(len), *with = malloc(len + 64);
		size_t plen = len;
		memcpy(plain, enc, len);
		for (int o = 1; o <= 8; o++) {
			uint8_t tiff[26];
			size_t wlen;
			exif_tiff(tiff, o);
			if (jpeg) {   /* APP1 "Exif\0\0" + TIFF right after SOI */
				memcpy(with, plain, 2);
				with[2] = 0xff;
				with[3] = 0xe1;
				with[4] = 0;
				with[5] = 2 + 6 + 26;
				memcpy(with + 6, "Exif\0\0", 6);
				memcpy(with + 12, tiff, 26);
				memcpy(with + 38, plain + 2, plen - 2);
				wlen = plen + 36;
			} else {      /* an eXIf chunk after IHDR */
				memcpy(with, plain, 33);
				wlen = 33 + png_chunk(with + 33, "eXIf", tiff, 26);
				memcpy(with + wlen, plain + 33, plen - 33);
				wlen += plen - 33;
			}
			int rc = decode(c, with, wlen, &out, &info, &e);
			CHECKF(rc == 0 && info.orientation == o, "%s %d: %s (orientation %d)",
			       jpeg ? "jpeg" : "png", o, e.msg, info.orientation);
			if (rc)
				continue;
			int sw = o >= 5;
			CHECKF(out.width == (sw ? 48 : 64) && out.height == (sw ? 64 : 48),
			       "orientation %d: %dx%d", o, out.width, out.height);
			int w = out.width, h = out.height;
			int got[4] = { colour_of(px(&out, 2, 2)), colour_of(px(&out, w - 3, 2)),
				       colour_of(px(&out, 2, h - 3)), colour_of(px(&out, w - 3, h - 3)) };
			CHECKF(!memcmp(got, corners[o], sizeof(got)),
			       "%s orientation %d: corners %d %d %d %d, want %d %d %d %d",
			       jpeg ? "jpeg" : "png", o, got[0], got[1], got[2], got[3],
			       corners[o][0], corners[o][1], corners[o][2], corners[o][3]);
		}
		free(plain);
		free(with);
	}
	ts_image_release(&src);
	ts_image_release(&out);
	ts_pixctx_free(c);
}

/* hopper_orientation_N.{jpg,webp} store rotated pixels with the EXIF tag
 * that puts them upright: after orientation they match hopper.jpg */
static void orientation_files(void)
{
	size_t n;
	uint8_t *d = t_shared_img("pillow-tests/hopper.jpg", &n);
	T_NEED_SHARED(d);
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image ref = { 0 }, img = { 0 }, raw = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	CHECK(decode(c, d, n, &ref, &info, &e) == 0 && info.orientation == 1);
	free(d);
	for (int o = 2; o <= 8; o++) {
		for (int webp = 0; webp < 2; webp++) {
			char name[64];
			snprintf(name, sizeof(name), "pillow-tests/hopper_orientation_%d.%s", o,
				 webp ? "webp" : "jpg");
			d = t_shared_img(name, &n);
			int rc = d ? decode(c, d, n, &img, &info, &e) : -1;
			CHECKF(rc == 0 && info.orientation == o, "%s: %s", name, e.msg);
			double diff = t_mean_abs_diff(&img, &ref);
			CHECKF(rc == 0 && diff < 10.0, "%s: mean difference %.1f from upright", name, diff);
			free(d);
		}
	}
	/* the threshold tells directions apart: hopper against its mirror image */
	if (ref.pixels) {
		raw.width = ref.width;
		raw.height = ref.height;
		raw.cap = (size_t)ref.width * ref.height * 3;
		raw.pixels = malloc(raw.cap);
		for (int y = 0; y < ref.height; y++)
			for (int x = 0; x < ref.width; x++)
				memcpy(raw.pixels + ((size_t)y * ref.width + x) * 3,
				       px(&ref, ref.width - 1 - x, y), 3);
		CHECKF(t_mean_abs_diff(&raw, &ref) > 20.0, "mirror differs by %.1f only", t_mean_abs_diff(&raw, &ref));
	}
	/* the 2x1 image tagged 8 comes out 1x2 */
	d = t_shared_img("pillow-tests/orientation_rectangle.jpg", &n);
	CHECK(d && decode(c, d, n, &img, &info, &e) == 0 && img.width == 1 && img.height == 2);
	free(d);
	ts_image_release(&ref);
	ts_image_release(&img);
	ts_image_release(&raw);
	ts_pixctx_free(c);
}

/* ---- colour ------------------------------------------------------------------------ */

static int is_gray(const struct ts_image *im)
{
	for (size_t i = 0; i < (size_t)im->width * im->height; i++)
		if (im->pixels[3 * i] != im->pixels[3 * i + 1] || im->pixels[3 * i] != im->pixels[3 * i + 2])
			return 0;
	return 1;
}

static int png_bit_depth(const uint8_t *d, size_t n)
{
	spng_ctx *s = spng_ctx_new(0);
	struct spng_ihdr ih;
	int bd = -1;
	if (s && !spng_set_png_buffer(s, d, n) && !spng_get_ihdr(s, &ih))
		bd = ih.bit_depth;
	spng_ctx_free(s);
	return bd;
}

static void colours(void)
{
	size_t n;
	uint8_t *d = t_shared_img("pillow-tests/pil_sample_cmyk.jpg", &n);
	T_NEED_SHARED(d);
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image a = { 0 }, b = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;

	/* Adobe (inverted) CMYK against the same picture saved as RGB */
	CHECKF(decode(c, d, n, &a, &info, &e) == 0, "cmyk: %s", e.msg);
	free(d);
	d = t_shared_img("pillow-tests/pil_sample_rgb.jpg", &n);
	CHECK(d && decode(c, d, n, &b, &info, &e) == 0);
	free(d);
	double diff = t_mean_abs_diff(&a, &b);
	CHECKF(diff < 10.0, "cmyk vs rgb: mean difference %.1f", diff);

	/* gray JPEG and gray PNG: R = G = B */
	static const char *grays[] = { "pillow-tests/hopper_gray.jpg", "opencv-samples/basketball1.png",
				       "plasma-wallpapers/Grey_2560x1600.jpg" };
	for (size_t i = 0; i < 3; i++) {
		d = t_shared_img(grays[i], &n);
		CHECKF(d && decode(c, d, n, &a, &info, &e) == 0 && !strcmp(info.color, "gray") &&
		       is_gray(&a), "%s: %s", grays[i], e.msg);
		free(d);
	}

	/* palette: hopper_wal.png (Quake's palette, so not compared to hopper.png) */
	d = t_shared_img("pillow-tests/hopper_wal.png", &n);
	CHECK(d && decode(c, d, n, &a, &info, &e) == 0 && !strcmp(info.color, "palette") &&
	      a.width == 128 && a.height == 128 && !is_gray(&a));
	free(d);
	/* palette with tRNS (pil123p.png) against the same picture as RGBA:
	 * both composited on white the same way */
	d = t_shared_img("pillow-tests/pil123p.png", &n);
	CHECK(d && decode(c, d, n, &a, &info, &e) == 0 && info.has_alpha && a.width == 162 &&
	      !strcmp(info.color, "palette"));
	free(d);
	d = t_shared_img("pillow-tests/pil123rgba.png", &n);
	CHECK(d && decode(c, d, n, &b, &info, &e) == 0 && !strcmp(info.color, "rgba"));
	free(d);
	diff = t_mean_abs_diff(&a, &b);
	CHECKF(diff < 3.0, "palette+tRNS vs rgba: %.2f", diff);

	/* 16-bit: the file really is 16-bit, the output 8-bit RGB close to
	 * Pillow's reduction (the 8-bit rose-over is not in the corpus, so
	 * compare the two 16-bit files' decodes to themselves re-encoded) */
	static const char *deep[] = { "imagemagick-doc/rose-over.png", "pillow-tests/i_trns.png" };
	for (size_t i = 0; i < 2; i++) {
		d = t_shared_img(deep[i], &n);
		CHECKF(d && png_bit_depth(d, n) == 16, "%s: not 16-bit", deep[i]);
		CHECKF(d && decode(c, d, n, &a, &info, &e) == 0 && info.bit_depth == 16,
		       "%s: %s", deep[i], e.msg);
		free(d);
	}
	d = t_shared_img("imagemagick-doc/rose-over.png", &n);
	CHECK(d && decode(c, d, n, &a, &info, &e) == 0 && a.width == 70 && a.height == 46);
	/* not all one value: the high bytes made it through */
	int lo = 255, hi = 0;
	for (size_t i = 0; i < (size_t)a.width * a.height * 3; i++) {
		lo = a.pixels[i] < lo ? a.pixels[i] : lo;
		hi = a.pixels[i] > hi ? a.pixels[i] : hi;
	}
	CHECKF(hi - lo > 100, "16-bit range %d..%d", lo, hi);
	free(d);

	/* alpha over white: fully transparent corners become 255,255,255 */
	static const char *alpha[] = { "pillow-tests/transparent.png", "pillow-tests/transparent.webp" };
	for (size_t i = 0; i < 2; i++) {
		d = t_shared_img(alpha[i], &n);
		CHECKF(d && decode(c, d, n, &a, &info, &e) == 0 && info.has_alpha, "%s: %s", alpha[i], e.msg);
		const uint8_t *p = px(&a, 0, 0);
		CHECKF(p[0] == 255 && p[1] == 255 && p[2] == 255, "%s corner %d,%d,%d", alpha[i],
		       p[0], p[1], p[2]);
		free(d);
	}

	/* the compositing formula on a synthetic RGBA PNG: a 4x1 row of
	 * black at alpha 0, 128, 255 and red at alpha 64 */
	{
		uint8_t png[200], raw[1 + 16], z[128];
		uLongf zl = sizeof(z);
		static const uint8_t row[16] = { 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 255, 255, 0, 0, 64 };
		uint8_t ihdr[13] = { 0, 0, 0, 4, 0, 0, 0, 1, 8, 6, 0, 0, 0 };
		raw[0] = 0;
		memcpy(raw + 1, row, 16);
		CHECK(compress2(z, &zl, raw, sizeof(raw), 9) == Z_OK);
		memcpy(png, "\x89PNG\r\n\x1a\n", 8);
		size_t len = 8;
		len += png_chunk(png + len, "IHDR", ihdr, 13);
		len += png_chunk(png + len, "IDAT", z, (uint32_t)zl);
		len += png_chunk(png + len, "IEND", NULL, 0);
		CHECKF(decode(c, png, len, &a, &info, &e) == 0, "rgba png: %s", e.msg);
		/* out = (c*a + 255*(255-a) + 127) / 255 */
		static const uint8_t want[12] = { 255, 255, 255, 127, 127, 127, 0, 0, 0, 255, 191, 191 };
		CHECKF(a.width == 4 && !memcmp(a.pixels, want, 12),
		       "got %d %d %d / %d %d %d / %d %d %d / %d %d %d", a.pixels[0], a.pixels[1],
		       a.pixels[2], a.pixels[3], a.pixels[4], a.pixels[5], a.pixels[6], a.pixels[7],
		       a.pixels[8], a.pixels[9], a.pixels[10], a.pixels[11]);
	}
	ts_image_release(&a);
	ts_image_release(&b);
	ts_pixctx_free(c);
}

/* ---- hostile input ---------------------------------------------------------------- */

static void expect(struct ts_pixctx *c, const uint8_t *d, size_t n, enum ts_reason want,
		   enum ts_reason or_this, const char *what)
{
	struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 256, 0, BIG, TS_ENCODE_JPEG, 95 };
	struct ts_processed p;
	struct ts_err e = TS_ERR_INIT;
	int rc = ts_process_image(c, d, n, &o, &p, &e);
	CHECKF(rc < 0 && (e.reason == want || e.reason == or_this) && e.msg[0] &&
	       e.msg[strlen(e.msg) - 1] != '.',
	       "%s: rc %d reason %s (%s), want %s", what, rc, ts_reason_name(e.reason), e.msg,
	       ts_reason_name(want));
}

static void expect_ok(struct ts_pixctx *c, const uint8_t *d, size_t n, const char *what)
{
	struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 256, 0, BIG, TS_ENCODE_JPEG, 95 };
	struct ts_processed p;
	struct ts_err e = TS_ERR_INIT;
	CHECKF(d && ts_process_image(c, d, n, &o, &p, &e) == 0 && p.width == 256, "%s: %s", what, e.msg);
}

/* offset of the first chunk of a type in a PNG, or 0 */
static size_t png_find(const uint8_t *d, size_t n, const char *type)
{
	for (size_t i = 8; i + 12 <= n;) {
		uint32_t len = (uint32_t)d[i] << 24 | (uint32_t)d[i + 1] << 16 | (uint32_t)d[i + 2] << 8 | d[i + 3];
		if (!memcmp(d + i + 4, type, 4))
			return i;
		i += 12 + (size_t)len;
	}
	return 0;
}

static void hostile(void)
{
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_processed p;
	struct ts_err e = TS_ERR_INIT;
	struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 256, 0, BIG, TS_ENCODE_JPEG, 95 };
	size_t n;
	uint8_t *d;

	expect(c, (const uint8_t *)"", 0, TS_R_IMAGE_EMPTY, TS_R_IMAGE_EMPTY, "zero bytes");
	static const char html[] = "<!DOCTYPE html><html><body>404</body></html>\n";
	CHECK(ts_process_image(c, (const uint8_t *)html, sizeof(html) - 1, &o, &p, &e) ==
	      TS_ERR_INVALID && e.reason == TS_R_IMAGE_NOT_IMAGE);
	CHECK_EQ_STR(e.msg, "not a JPEG, PNG or WebP file (starts with '<!DOCTYP')");
	expect(c, (const uint8_t *)"hello", 5, TS_R_IMAGE_NOT_IMAGE, TS_R_IMAGE_NOT_IMAGE, "text");

	d = t_shared_img("pillow-tests/truncated_jpeg.jpg", &n);
	T_NEED_SHARED(d);
	expect(c, d, n, TS_R_IMAGE_TRUNCATED, TS_R_IMAGE_TRUNCATED, "truncated_jpeg.jpg");
	free(d);
	d = t_shared_img("pillow-tests/truncated_image.png", &n);
	expect(c, d, n, TS_R_IMAGE_TRUNCATED, TS_R_IMAGE_TRUNCATED, "truncated_image.png");
	free(d);
	d = t_shared_img("skimage/truncated.jpg", &n);
	expect(c, d, n, TS_R_IMAGE_CORRUPT, TS_R_IMAGE_TRUNCATED, "skimage/truncated.jpg");
	free(d);
	d = t_shared_img("mmocr-icdar2015/broken.jpg", &n);
	expect(c, d, n, TS_R_IMAGE_TRUNCATED, TS_R_IMAGE_CORRUPT, "mmocr broken.jpg");
	free(d);

	/* real files libjpeg decodes with a harmless warning (extraneous bytes)
	 * or with damaged EXIF: kept */
	static const char *fine[] = {
		"pillow-tests/junk_jpeg_header.jpg", "pillow-tests/jpeg_ff00_header.jpg",
		"pillow-tests/broken_exif_dpi.jpg", "pillow-tests/invalid-exif.jpg",
		"pillow-tests/hopper_bad_exif.jpg", "pillow-tests/truncated_app14.jpg",
	};
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		d = t_shared_img(fine[i], &n);
		expect_ok(c, d, n, fine[i]);
		/* cut in half they are truncated, though TurboJPEG's first (and
		 * only reported) warning is the harmless one */
		if (d)
			expect(c, d, n / 2, TS_R_IMAGE_TRUNCATED, TS_R_IMAGE_TRUNCATED, fine[i]);
		free(d);
	}
	/* good JPEGs cut at many points: never a sample */
	static const char *cut[] = { "pillow-tests/hopper.jpg", "desktop-base/fullscreenpreview.jpg" };
	for (size_t i = 0; i < 2; i++) {
		d = t_shared_img(cut[i], &n);
		CHECK(d != NULL);
		for (size_t k = 1; d && k < 8; k++)
			expect(c, d, n * k / 8, TS_R_IMAGE_TRUNCATED, TS_R_IMAGE_TRUNCATED, cut[i]);
		free(d);
	}

	/* PNG: a flipped byte inside IDAT fails its CRC */
	d = t_shared_img("pillow-tests/hopper.png", &n);
	size_t idat = d ? png_find(d, n, "IDAT") : 0;
	CHECK(idat > 0);
	if (idat) {
		d[idat + 8 + 100] ^= 0x40;
		expect(c, d, n, TS_R_IMAGE_CORRUPT, TS_R_IMAGE_CORRUPT, "png with a flipped IDAT byte");
		d[idat + 8 + 100] ^= 0x40;
		expect_ok(c, d, n, "hopper.png restored");
		for (size_t k = 1; k < 8; k++)
			expect(c, d, idat + (n - idat) * k / 8, TS_R_IMAGE_TRUNCATED, TS_R_IMAGE_TRUNCATED,
			       "png cut in IDAT");
		d[20] ^= 1;   /* IHDR height byte: CRC mismatch before any size is trusted */
		expect(c, d, n, TS_R_IMAGE_CORRUPT, TS_R_IMAGE_CORRUPT, "png with a bad IHDR crc");
	}
	free(d);

	/* WebP: a damaged VP8 frame header, a chunk size past the end, a cut */
	d = t_shared_img("pillow-tests/hopper.webp", &n);
	CHECK(d && n > 40 && !memcmp(d + 12, "VP8", 3));
	if (d && n > 40) {
		uint8_t *b = malloc(n);
		memcpy(b, d, n);
		memset(b + 20, 0xa5, 10);    /* frame tag and start code 9d 01 2a */
		expect(c, b, n, TS_R_IMAGE_CORRUPT, TS_R_IMAGE_TRUNCATED, "webp with a broken frame header");
		/* (VP8 has no checksum: damage inside the partitions can decode
		 * to wrong pixels without any error, as with libwebp's dwebp) */
		memcpy(b, d, n);
		put32(b + 16, 0x7fffff00);    /* VP8 chunk size (little-endian field, huge either way) */
		expect(c, b, n, TS_R_IMAGE_CORRUPT, TS_R_IMAGE_TRUNCATED, "webp chunk size past the end");
		expect(c, d, n / 2, TS_R_IMAGE_TRUNCATED, TS_R_IMAGE_CORRUPT, "webp cut in half");
		expect(c, d, 20, TS_R_IMAGE_TRUNCATED, TS_R_IMAGE_CORRUPT, "webp cut in the header");
		free(b);
	}
	free(d);

	/* a PNG header claiming 100000x100000 with a valid CRC: rejected from
	 * the header alone (the file has no image data to allocate for) */
	uint8_t png[64];
	uint8_t ihdr[13] = { 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0 };
	memcpy(png, "\x89PNG\r\n\x1a\n", 8);
	size_t len = 8 + png_chunk(png + 8, "IHDR", ihdr, 13);
	len += png_chunk(png + len, "IEND", NULL, 0);
	CHECK(ts_process_image(c, png, len, &o, &p, &e) == TS_ERR_LIMIT &&
	      e.reason == TS_R_IMAGE_TOO_LARGE);
	struct ts_image im = { 0 };
	struct ts_image_info info;
	CHECK(ts_decode(c, png, len, 1000000, 0, 0, &im, &info, &e) == TS_ERR_LIMIT &&
	      e.reason == TS_R_IMAGE_TOO_LARGE && im.pixels == NULL && info.width == 100000);
	/* and the cap is on the header: a real image just over it */
	d = t_shared_img("pillow-tests/hopper.jpg", &n);   /* 128x128 */
	CHECK(d && ts_decode(c, d, n, 128 * 128 - 1, 0, 0, &im, &info, &e) == TS_ERR_LIMIT &&
	      e.reason == TS_R_IMAGE_TOO_LARGE && im.pixels == NULL);
	CHECK(d && ts_decode(c, d, n, 128 * 128, 0, 0, &im, &info, &e) == 0);
	/* min_size on the oriented source */
	o.min_size = 129;
	CHECK(d && ts_process_image(c, d, n, &o, &p, &e) == TS_ERR_INVALID &&
	      e.reason == TS_R_IMAGE_TOO_SMALL);
	o.min_size = 128;
	CHECK(d && ts_process_image(c, d, n, &o, &p, &e) == 0);
	free(d);
	d = t_shared_img("pillow-tests/orientation_rectangle.jpg", &n);   /* 2x1 stored, 1x2 shown */
	o.min_size = 2;
	CHECK(d && ts_process_image(c, d, n, &o, &p, &e) < 0 && e.reason == TS_R_IMAGE_TOO_SMALL &&
	      p.orig_w == 1 && p.orig_h == 2);
	free(d);
	ts_image_release(&im);
	ts_pixctx_free(c);
}

/* An animated WebP built here from hopper.webp's VP8 frame: two frames.
 * compose.h and docs/formats.md: an animation gives its first frame. */
static void animated_webp(void)
{
	size_t n;
	uint8_t *d = t_shared_img("pillow-tests/hopper.webp", &n);
	T_NEED_SHARED(d);
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image a = { 0 }, b = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	size_t fl = n - 12;   /* the "VP8 " chunk with its header */
	size_t total = 12 + 18 + 14 + 2 * (8 + 16 + fl);
	uint8_t *w = calloc(1, total), *q = w;
	CHECK(!memcmp(d + 12, "VP8 ", 4) && fl % 2 == 0);
	memcpy(q, "RIFF", 4);
	q[4] = (uint8_t)(total - 8);
	q[5] = (uint8_t)((total - 8) >> 8);
	q[6] = (uint8_t)((total - 8) >> 16);
	memcpy(q + 8, "WEBP", 4);
	q += 12;
	memcpy(q, "VP8X\x0a\0\0\0\x02\0\0\0\x7f\0\0\x7f\0\0", 18);   /* animation, 128x128 */
	q += 18;
	memcpy(q, "ANIM\x06\0\0\0\xff\xff\xff\xff\0\0", 14);
	q += 14;
	for (int f = 0; f < 2; f++) {
		size_t sz = 16 + fl;
		memcpy(q, "ANMF", 4);
		q[4] = (uint8_t)sz;
		q[5] = (uint8_t)(sz >> 8);
		q[6] = (uint8_t)(sz >> 16);
		memcpy(q + 8, "\0\0\0\0\0\0\x7f\0\0\x7f\0\0\x64\0\0\x02", 16);   /* 128x128, 100 ms, no blend */
		memcpy(q + 24, d + 12, fl);
		q += 8 + sz;
	}
	struct ts_image_info pi;
	CHECKF(ts_image_probe(w, total, &pi, &e) == 0 && pi.animated && pi.width == 128,
	       "probe: %s", e.msg);
	CHECKF(decode(c, w, total, &a, &info, &e) == 0, "animated: %s", e.msg);
	CHECK(decode(c, d, n, &b, &info, &e) == 0 && !info.animated);
	CHECKF(t_mean_abs_diff(&a, &b) < 1.0, "first frame differs from the still by %.2f", t_mean_abs_diff(&a, &b));
	free(w);
	free(d);
	ts_image_release(&a);
	ts_image_release(&b);
	ts_pixctx_free(c);
}

/* ---- DCT scaling, keep, determinism ------------------------------------------------ */

static void dct_scaling(void)
{
	size_t n;
	uint8_t *d = t_shared_img("mate-backgrounds/Elephants_5640x3172.jpg", &n);
	T_NEED_SHARED(d);
	struct ts_pixctx *c = ts_pixctx_new();
	static const struct { enum ts_resize_mode m; int size, dw, dh, w, h; } cases[] = {
		/* 1/8 = 705x397 still covers 455x256 */
		{ TS_RESIZE_CENTER_CROP, 256, 705, 397, 256, 256 },
		{ TS_RESIZE_KEEP_RATIO_LARGEST, 256, 705, 397, 256, 144 },
		/* 5640*800/3172 = 1422.4; 2/8 = 1410x793 is short, 3/8 = 2115x1190 covers */
		{ TS_RESIZE_KEEP_RATIO, 800, 2115, 1190, 1422, 800 },
		{ TS_RESIZE_NO, 256, 5640, 3172, 5640, 3172 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ts_process_opts o = { cases[i].m, cases[i].size, 0, BIG, TS_ENCODE_JPEG, 90 };
		struct ts_processed p;
		struct ts_err e = TS_ERR_INIT;
		CHECKF(ts_process_image(c, d, n, &o, &p, &e) == 0, "%s", e.msg);
		CHECKF(p.decode_w == cases[i].dw && p.decode_h == cases[i].dh && p.width == cases[i].w &&
		       p.height == cases[i].h && p.orig_w == 5640 && p.orig_h == 3172,
		       "%s %d: decoded %dx%d, out %dx%d",
		       ts_resize_mode_name(cases[i].m), cases[i].size, p.decode_w, p.decode_h,
		       p.width, p.height);
	}
	free(d);
	/* the wanted size is in oriented terms: hopper_orientation_6 (128x128)
	 * wanted at 16x32 can only scale by 2/8 -> 32x32 */
	d = t_shared_img("pillow-tests/hopper_orientation_6.jpg", &n);
	struct ts_image im = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	CHECK(d && ts_decode(c, d, n, BIG, 16, 32, &im, &info, &e) == 0 && im.width == 32 &&
	      im.height == 32);
	CHECK(d && ts_decode(c, d, n, BIG, 16, 16, &im, &info, &e) == 0 && im.width == 16);
	free(d);
	ts_image_release(&im);
	ts_pixctx_free(c);
}

static void keep(void)
{
	static const struct {
		const char *path;
		enum ts_resize_mode m;
		int kept;
		enum ts_imgfmt fmt;
	} cases[] = {
		{ "pillow-tests/hopper.jpg", TS_RESIZE_NO, 1, TS_FMT_JPEG },
		{ "pillow-tests/hopper.png", TS_RESIZE_NO, 1, TS_FMT_PNG },
		{ "pillow-tests/hopper.webp", TS_RESIZE_NO, 1, TS_FMT_WEBP },
		/* 128x128 at size 128: nothing to do */
		{ "pillow-tests/hopper.jpg", TS_RESIZE_CENTER_CROP, 0, TS_FMT_JPEG },
		{ "pillow-tests/hopper_orientation_3.jpg", TS_RESIZE_NO, 0, TS_FMT_JPEG },
		{ "pillow-tests/transparent.png", TS_RESIZE_NO, 0, TS_FMT_PNG },
		{ "pillow-tests/transparent.webp", TS_RESIZE_NO, 0, TS_FMT_WEBP },
		{ "imagemagick-doc/rose-over.png", TS_RESIZE_NO, 0, TS_FMT_PNG },
		{ "pillow-tests/pil_sample_cmyk.jpg", TS_RESIZE_NO, 0, TS_FMT_JPEG },
		{ "pillow-tests/hopper_wal.png", TS_RESIZE_NO, 0, TS_FMT_PNG },
	};
	struct ts_pixctx *c = ts_pixctx_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n;
		uint8_t *d = t_shared_img(cases[i].path, &n);
		if (!d) {
			ts_pixctx_free(c);
			SKIP("../shared/data/images not found");
		}
		struct ts_process_opts o = { cases[i].m, 256, 0, BIG, TS_ENCODE_KEEP, 90 };
		struct ts_processed p;
		struct ts_err e = TS_ERR_INIT;
		int rc = ts_process_image(c, d, n, &o, &p, &e);
		CHECKF(rc == 0 && p.kept_original == cases[i].kept && p.out_format == cases[i].fmt,
		       "%s: rc %d kept %d format %s (%s)", cases[i].path, rc, p.kept_original,
		       ts_imgfmt_name(p.out_format), e.msg);
		if (rc == 0 && cases[i].kept)
			CHECK(p.data == d && p.len == n);
		if (rc == 0 && !cases[i].kept)
			CHECK(p.data != d && ts_image_sniff(p.data, p.len) == cases[i].fmt);
		/* with resize "no" and a named encoder: decoded, oriented, encoded */
		o.encode = TS_ENCODE_WEBP;
		CHECK(ts_process_image(c, d, n, &o, &p, &e) == 0 && !p.kept_original &&
		      p.out_format == TS_FMT_WEBP);
		free(d);
	}
	ts_pixctx_free(c);
}

static void deterministic(void)
{
	size_t n, on;
	uint8_t *d = t_shared_img("desktop-base/fullscreenpreview.jpg", &n);
	uint8_t *other = t_shared_img("pillow-tests/transparent.png", &on);
	if (!d || !other) {
		free(d);
		free(other);
		SKIP("../shared/data/images not found");
	}
	static const enum ts_encode_fmt encs[] = { TS_ENCODE_JPEG, TS_ENCODE_WEBP, TS_ENCODE_PNG };
	static const enum ts_resize_mode modes[] = { TS_RESIZE_CENTER_CROP, TS_RESIZE_BORDER,
						     TS_RESIZE_KEEP_RATIO };
	for (int i = 0; i < 3; i++) {
		struct ts_pixctx *a = ts_pixctx_new(), *b = ts_pixctx_new();
		struct ts_process_opts o = { modes[i], 224, 0, BIG, encs[i], 90 };
		struct ts_processed p, q;
		struct ts_err e = TS_ERR_INIT;
		CHECK(ts_process_image(a, d, n, &o, &p, &e) == 0);
		/* b has processed another image first: nothing leaks between samples */
		CHECK(ts_process_image(b, other, on, &o, &q, &e) == 0);
		CHECK(ts_process_image(b, d, n, &o, &q, &e) == 0);
		CHECKF(p.len == q.len && !memcmp(p.data, q.data, p.len), "%s differs between contexts",
		       ts_encode_fmt_name(encs[i]));
		ts_pixctx_free(a);
		ts_pixctx_free(b);
	}
	free(d);
	free(other);
}

/* four threads, each with its own context, on the same inputs (good and
 * hostile, so TurboJPEG's per-thread warning text is exercised too) give
 * the bytes and reasons one thread gives */
struct par {
	const uint8_t *d[4];
	size_t n[4];
	uint32_t sig[4];     /* crc32 of the output, or the reason */
};

static void *par_run(void *arg)
{
	struct par *w = arg;
	struct ts_pixctx *c = ts_pixctx_new();
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 4; i++) {
			struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 224, 0, BIG, TS_ENCODE_JPEG, 90 };
			struct ts_processed p;
			struct ts_err e = TS_ERR_INIT;
			if (ts_process_image(c, w->d[i], w->n[i], &o, &p, &e))
				w->sig[i] = 0x80000000u | (uint32_t)e.reason;
			else
				w->sig[i] = (uint32_t)crc32(0, p.data, (uInt)p.len) & 0x7fffffffu;
		}
	ts_pixctx_free(c);
	return NULL;
}

static void threads(void)
{
	static const char *files[4] = { "pillow-tests/junk_jpeg_header.jpg", "pillow-tests/hopper.png",
					"pillow-tests/truncated_jpeg.jpg", "desktop-base/fullscreenpreview.jpg" };
	struct par w[5];
	uint8_t *d[4];
	size_t n[4];
	for (int i = 0; i < 4; i++)
		d[i] = t_shared_img(files[i], &n[i]);
	if (!d[0] || !d[1] || !d[2] || !d[3]) {
		for (int i = 0; i < 4; i++)
			free(d[i]);
		SKIP("../shared/data/images not found");
	}
	n[0] /= 2;   /* a cut file behind a harmless first warning */
	for (int t = 0; t < 5; t++)
		for (int i = 0; i < 4; i++) {
			w[t].d[i] = d[i];
			w[t].n[i] = n[i];
		}
	par_run(&w[4]);   /* the reference, one thread */
	pthread_t th[4];
	for (int t = 0; t < 4; t++)
		CHECK(pthread_create(&th[t], NULL, par_run, &w[t]) == 0);
	for (int t = 0; t < 4; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < 4; t++)
		CHECKF(!memcmp(w[t].sig, w[4].sig, sizeof(w[4].sig)), "thread %d differs", t);
	CHECK(w[4].sig[0] == (0x80000000u | TS_R_IMAGE_TRUNCATED));
	CHECK(w[4].sig[2] == (0x80000000u | TS_R_IMAGE_TRUNCATED));
	CHECK(!(w[4].sig[1] & 0x80000000u) && !(w[4].sig[3] & 0x80000000u));
	for (int i = 0; i < 4; i++)
		free(d[i]);
}

/* ---- encoders and resampler -------------------------------------------------------- */

static void encoders(void)
{
	size_t n;
	uint8_t *d = t_shared_img("pillow-tests/hopper.jpg", &n);
	T_NEED_SHARED(d);
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image img = { 0 }, small = { 0 }, back = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	CHECK(decode(c, d, n, &img, &info, &e) == 0);
	CHECK(ts_resample(&img, 101, 77, &small, &e) == 0);   /* odd sizes: 4:2:0 edges */
	static const enum ts_imgfmt f[] = { TS_FMT_JPEG, TS_FMT_WEBP, TS_FMT_PNG };
	for (int i = 0; i < 3; i++) {
		for (int q = 0; q < 2; q++) {
			const uint8_t *out;
			size_t len;
			CHECK(ts_encode(c, &small, f[i], q ? 50 : 95, &out, &len, &e) == 0);
			CHECK(ts_image_sniff(out, len) == f[i]);
			uint8_t *copy = malloc(len);
			memcpy(copy, out, len);
			struct ts_pixctx *c2 = ts_pixctx_new();
			CHECK(decode(c2, copy, len, &back, &info, &e) == 0 && info.format == f[i] &&
			      back.width == 101 && back.height == 77);
			double diff = t_mean_abs_diff(&small, &back);
			CHECKF(f[i] == TS_FMT_PNG ? diff == 0.0 : diff < (q ? 10.0 : 5.0),
			       "%s q%d round trip: %.2f", ts_imgfmt_name(f[i]), q ? 50 : 95, diff);
			ts_pixctx_free(c2);
			free(copy);
		}
	}
	free(d);
	ts_image_release(&img);
	ts_image_release(&small);
	ts_image_release(&back);
	ts_pixctx_free(c);
}

static void resampler(void)
{
	struct ts_image src = { 0 }, dst = { 0 };
	struct ts_err e = TS_ERR_INIT;
	int w = 333, h = 211;
	src.width = w;
	src.height = h;
	src.cap = (size_t)w * h * 3;
	src.pixels = malloc(src.cap);
	/* constants stay constant at every size, edges included: no ringing,
	 * no overflow at 255, no underflow at 0 */
	static const uint8_t levels[] = { 0, 1, 77, 254, 255 };
	static const int sizes[][2] = { { 111, 70 }, { 40, 200 }, { 700, 500 }, { 1, 1 }, { 333, 3 },
					{ 2, 1000 } };
	for (size_t l = 0; l < sizeof(levels); l++) {
		memset(src.pixels, levels[l], src.cap);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			CHECK(ts_resample(&src, sizes[i][0], sizes[i][1], &dst, &e) == 0);
			size_t bad = 0;
			for (size_t k = 0; k < (size_t)dst.width * dst.height * 3; k++)
				bad += dst.pixels[k] != levels[l];
			CHECKF(bad == 0 && dst.width == sizes[i][0] && dst.height == sizes[i][1],
			       "level %d at %dx%d: %zu values off", levels[l], sizes[i][0], sizes[i][1], bad);
		}
	}
	/* a hard black/white edge upscaled: clamped, not wrapped around */
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			memset(src.pixels + ((size_t)y * w + x) * 3, x < w / 2 ? 0 : 255, 3);
	CHECK(ts_resample(&src, 999, 50, &dst, &e) == 0);
	CHECK(px(&dst, 0, 10)[0] == 0 && px(&dst, 998, 10)[0] == 255);
	int mono = 1;
	for (int x = 1; x < dst.width; x++)
		mono &= px(&dst, x, 10)[0] >= px(&dst, x - 1, 10)[0] ||
			px(&dst, x - 1, 10)[0] == 255 || px(&dst, x, 10)[0] == 0;
	CHECK(mono);
	/* a 1-pixel checkerboard shrunk 4x is mid-grey (antialiased: nearest
	 * neighbour would give black or white) */
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			memset(src.pixels + ((size_t)y * w + x) * 3, (x + y) % 2 ? 255 : 0, 3);
	static const int shrink[][2] = { { 83, 52 }, { 111, 70 }, { 30, 30 } };
	for (size_t i = 0; i < 3; i++) {
		CHECK(ts_resample(&src, shrink[i][0], shrink[i][1], &dst, &e) == 0);
		int lo = 255, hi = 0;
		for (int y = 0; y < dst.height; y++)
			for (int x = 0; x < dst.width; x++) {
				int v = px(&dst, x, y)[1];
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
			}
		CHECKF(lo >= 100 && hi <= 155, "checkerboard at %dx%d spans %d..%d", shrink[i][0],
		       shrink[i][1], lo, hi);
	}
	/* ts_apply_plan pads with white */
	struct ts_resize_plan plan;
	memset(src.pixels, 0, src.cap);
	ts_resize_plan(TS_RESIZE_BORDER, 100, w, h, &plan);
	CHECK(ts_apply_plan(&src, &plan, &dst, &e) == 0 && dst.width == 100 && dst.height == 100);
	CHECK(px(&dst, 50, 0)[0] == 255 && px(&dst, 50, 99)[2] == 255 && px(&dst, 50, 50)[0] == 0);
	ts_image_release(&src);
	ts_image_release(&dst);
}

/* Center-crop decodes only what the output keeps (jpeg_region.c): on real
 * JPEGs of every kind in the corpus (4:2:0, 4:2:2, 4:4:4, gray, baseline
 * and progressive, from 300 px to tens of megapixels) the output bytes are
 * those of decoding the whole image, and a file cut short or damaged fails
 * with the reason the whole decode gives. */
static void crop_decode_exact(void)
{
	char p[512], line[8192];
	snprintf(p, sizeof(p), "%s/data/images/MANIFEST.jsonl", t_shared());
	FILE *f = fopen(p, "r");
	if (!f)
		SKIP("../shared/data/images not found");
	struct ts_pixctx *c = ts_pixctx_new(), *r = ts_pixctx_new();
	struct ts_image full = { 0 }, out = { 0 };
	int checked = 0, damaged = 0;
	while (fgets(line, sizeof(line), f) && checked < 32) {
		json_t *j = json_loads(line, 0, NULL);
		const char *path = json_string_value(json_object_get(j, "path"));
		const char *fmt = json_string_value(json_object_get(j, "format"));
		const char *dec = json_string_value(json_object_get(j, "decodes"));
		long long w = json_integer_value(json_object_get(j, "w")), h = json_integer_value(json_object_get(j, "h"));
		size_t n = 0;
		uint8_t *d = path && fmt && !strcmp(fmt, "JPEG") && dec && !strcmp(dec, "ok") && w != h &&
			     w * h <= 12000000 ? t_shared_img(path + strlen("images/"), &n) : NULL;
		json_decref(j);
		if (!d)
			continue;
		static const int sizes[] = { 224, 97 };
		for (int k = 0; k < 2; k++) {
			struct ts_process_opts o = { .resize = TS_RESIZE_CENTER_CROP, .size = sizes[k],
						     .encode = TS_ENCODE_PNG, .quality = 95 };
			struct ts_processed pr;
			struct ts_image_info info;
			struct ts_resize_plan plan;
			struct ts_err e = TS_ERR_INIT, e2 = TS_ERR_INIT;
			int rc = ts_process_image(c, d, n, &o, &pr, &e);
			/* the reference: the whole image decoded, then the plan */
			int rr = ts_decode(r, d, n, 0, 1, 1, &full, &info, &e2);
			if (rr == 0) {
				int ow = info.orientation >= 5 ? info.height : info.width;
				int oh = info.orientation >= 5 ? info.width : info.height;
				ts_resize_plan(TS_RESIZE_CENTER_CROP, sizes[k], ow, oh, &plan);
				rr = ts_decode(r, d, n, 0, plan.scaled_w, plan.scaled_h, &full, &info, &e2);
			}
			if (rr == 0)
				rr = ts_apply_plan(&full, &plan, &out, &e2);
			CHECKF(rc == 0 && rr == 0, "%s: %s / %s", path, e.msg, e2.msg);
			if (rc || rr)
				continue;
			CHECKF(pr.width == out.width && pr.height == out.height, "%s: %dx%d, want %dx%d", path,
			       pr.width, pr.height, out.width, out.height);
			const uint8_t *enc;
			size_t elen;
			CHECK(ts_encode(r, &out, TS_FMT_PNG, 95, &enc, &elen, &e2) == 0);
			CHECKF(pr.len == elen && !memcmp(pr.data, enc, elen), "%s at %d: the output differs from a whole decode's",
			       path, sizes[k]);
		}
		/* cut short, and entropy data overwritten, in the part the crop
		 * cuts away (the end of the file: the last rows) */
		if (damaged < 8 && n > 4096) {
			size_t cuts[2] = { n * 9 / 10, n - 2 };
			for (int k = 0; k < 2; k++) {
				struct ts_process_opts o = { .resize = TS_RESIZE_CENTER_CROP, .size = 224,
							     .encode = TS_ENCODE_JPEG, .quality = 95 };
				struct ts_processed pr;
				struct ts_image_info info;
				struct ts_err e = TS_ERR_INIT, e2 = TS_ERR_INIT;
				int rc = ts_process_image(c, d, cuts[k], &o, &pr, &e);
				int rr = ts_decode(r, d, cuts[k], 0, 224, 224, &full, &info, &e2);
				CHECKF(rr != 0 && rc != 0 && e.reason == e2.reason, "%s cut at %zu of %zu: %d '%s', whole decode %d '%s'",
				       path, cuts[k], n, rc, e.msg, rr, e2.msg);
			}
			uint8_t *bad = malloc(n);
			if (bad) {
				memcpy(bad, d, n);
				memset(bad + n * 19 / 20, 0xa5, n / 100);
				struct ts_process_opts o = { .resize = TS_RESIZE_CENTER_CROP, .size = 224,
							     .encode = TS_ENCODE_JPEG, .quality = 95 };
				struct ts_processed pr;
				struct ts_image_info info;
				struct ts_err e = TS_ERR_INIT, e2 = TS_ERR_INIT;
				int rc = ts_process_image(c, bad, n, &o, &pr, &e);
				int rr = ts_decode(r, bad, n, 0, 224, 224, &full, &info, &e2);
				CHECKF((rc == 0) == (rr == 0) && (rc == 0 || e.reason == e2.reason),
				       "%s damaged: %d '%s', whole decode %d '%s'", path, rc, e.msg, rr, e2.msg);
				free(bad);
			}
			damaged++;
		}
		free(d);
		checked++;
	}
	fclose(f);
	CHECKF(checked >= 20, "%d files", checked);
	ts_image_release(&full);
	ts_image_release(&out);
	ts_pixctx_free(c);
	ts_pixctx_free(r);
}

/* One rasteriser for region masks: a CutMix frame less its box, and a
 * rectangle clipped at the map's edges, against pixels counted by hand. */
static void region_fill(void)
{
	uint8_t map[16 * 16];
	memset(map, 0, sizeof(map));
	struct ts_region frame = { .index = 1, .rect = { 0, 0, 16, 16 }, .has_minus = 1,
				   .minus = { 4, 6, 10, 12 } };
	struct ts_region box = { .index = 2, .rect = { 4, 6, 10, 12 } };
	ts_region_fill(map, 16, 16, &frame, 1);
	ts_region_fill(map, 16, 16, &box, 2);
	size_t n[3] = { 0, 0, 0 };
	for (size_t i = 0; i < sizeof(map); i++)
		n[map[i] < 3 ? map[i] : 0]++;
	CHECKF(n[0] == 0 && n[1] == 256 - 36 && n[2] == 36, "expected 220 pixels of region 1 and 36 of 2, got %zu, %zu (%zu unset)",
	       n[1], n[2], n[0]);
	CHECK_EQ_INT(map[6 * 16 + 4], 2);
	CHECK_EQ_INT(map[11 * 16 + 9], 2);
	CHECK_EQ_INT(map[12 * 16 + 9], 1);
	CHECK_EQ_INT(map[6 * 16 + 10], 1);
	/* clipped: a rectangle reaching past the map paints only what is inside */
	memset(map, 0, sizeof(map));
	struct ts_region off = { .index = 3, .rect = { -5, 14, 40, 99 } };
	ts_region_fill(map, 16, 16, &off, 9);
	size_t k = 0;
	for (size_t i = 0; i < sizeof(map); i++)
		k += map[i] == 9;
	CHECKF(k == 32, "expected the two bottom rows (32 pixels), got %zu", k);
}

/* ---- on the bundled sample (tests/data/sample) and synthetic images: these
 * run without ../shared ------------------------------------------------------ */

static void sniff_sample(void)
{
	CHECK(ts_image_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4) == TS_FMT_JPEG);
	CHECK(ts_image_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8) == TS_FMT_PNG);
	CHECK(ts_image_sniff((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16) == TS_FMT_WEBP);
	CHECK(ts_image_sniff((const uint8_t *)"RIFF\0\0\0\0WAVEfmt ", 16) == TS_FMT_UNKNOWN);
	CHECK(ts_image_sniff((const uint8_t *)"<!DOCTYPE html>", 15) == TS_FMT_UNKNOWN);
	CHECK(ts_image_sniff((const uint8_t *)"\xff\xd8", 2) == TS_FMT_UNKNOWN);
	/* a PNG named .jpg is a PNG */
	size_t n;
	uint8_t *d = t_slurp("tests/data/sample/photos/mislabelled-png.jpg", &n);
	CHECK(d && ts_image_sniff(d, n) == TS_FMT_PNG);
	free(d);
}

/* every mode through the whole pipeline on a real non-square photo */
static void process_modes_sample(void)
{
	size_t n;
	uint8_t *d = t_slurp("tests/data/sample/more/brass-pocket-mirror.jpg", &n);   /* 1000x536 */
	struct ts_pixctx *c = ts_pixctx_new();
	static const struct { enum ts_resize_mode m; int w, h; } want[] = {
		{ TS_RESIZE_NO, 1000, 536 }, { TS_RESIZE_BORDER, 200, 200 },
		{ TS_RESIZE_KEEP_RATIO, 373, 200 }, { TS_RESIZE_KEEP_RATIO_LARGEST, 200, 107 },
		{ TS_RESIZE_CENTER_CROP, 200, 200 }, { TS_RESIZE_STRETCH, 200, 200 },
	};
	CHECK(d != NULL);
	for (size_t i = 0; d && i < sizeof(want) / sizeof(want[0]); i++) {
		struct ts_process_opts o = { want[i].m, 200, 0, 100000000ULL, TS_ENCODE_PNG, 90 };
		struct ts_processed p;
		struct ts_err e = TS_ERR_INIT;
		struct ts_image_info info;
		CHECKF(ts_process_image(c, d, n, &o, &p, &e) == 0, "%s", e.msg);
		CHECKF(p.width == want[i].w && p.height == want[i].h, "%s: %dx%d",
		       ts_resize_mode_name(want[i].m), p.width, p.height);
		CHECK(p.orig_w == 1000 && p.orig_h == 536 && p.out_format == TS_FMT_PNG);
		/* the encoded bytes say the same */
		CHECK(ts_image_probe(p.data, p.len, &info, &e) == 0 && info.width == want[i].w &&
		      info.height == want[i].h);
	}
	free(d);
	ts_pixctx_free(c);
}

/* a non-square image tagged 8: the sides swap */
static void orientation_sample(void)
{
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image img = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	size_t n;
	uint8_t *d = t_slurp("tests/data/sample/photos/no-parking-barrier-exif-orientation-8.jpg", &n);
	CHECK(d && decode(c, d, n, &img, &info, &e) == 0 && info.orientation == 8 &&
	      img.width == 360 && img.height == 480);
	free(d);
	ts_image_release(&img);
	ts_pixctx_free(c);
}

/* palette, 16-bit, alpha on white: the bundled sample's files */
static void colours_sample(void)
{
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image a = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	size_t n;
	uint8_t *d;

	/* palette and 16-bit PNG */
	d = t_slurp("tests/data/sample/more/sliced-fruit-palette.png", &n);
	CHECK(d && decode(c, d, n, &a, &info, &e) == 0 && !strcmp(info.color, "palette"));
	free(d);
	d = t_slurp("tests/data/sample/more/motorcycle-in-garage-16bit.png", &n);
	CHECK(d && decode(c, d, n, &a, &info, &e) == 0 && info.bit_depth == 16 &&
	      a.width == 480 && a.height == 324);
	free(d);
	/* alpha composited on white: a transparent pixel whose colour is dark */
	d = t_slurp("tests/data/sample/more/dog-portrait-alpha.webp", &n);
	CHECK(d && decode(c, d, n, &a, &info, &e) == 0 && info.has_alpha);
	CHECK(a.pixels[0] == 255 && a.pixels[1] == 255 && a.pixels[2] == 255);
	free(d);
	d = t_slurp("tests/data/sample/more/candies-transparent.png", &n);
	CHECK(d && decode(c, d, n, &a, &info, &e) == 0 && info.has_alpha);
	CHECK(a.pixels[0] == 255 && a.pixels[1] == 255 && a.pixels[2] == 255);
	free(d);
	ts_image_release(&a);
	ts_pixctx_free(c);
}

static void expect_reject(struct ts_pixctx *c, const uint8_t *d, size_t n, enum ts_reason want,
			  const char *what)
{
	struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 256, 0, 100000000ULL, TS_ENCODE_JPEG, 95 };
	struct ts_processed p;
	struct ts_err e = TS_ERR_INIT;
	int rc = ts_process_image(c, d, n, &o, &p, &e);
	CHECKF(rc < 0 && e.reason == want, "%s: rc %d reason %s (%s), want %s", what, rc,
	       ts_reason_name(e.reason), e.msg, ts_reason_name(want));
}

static void hostile_sample(void)
{
	struct ts_pixctx *c = ts_pixctx_new();
	size_t n;
	uint8_t *d;

	expect_reject(c, (const uint8_t *)"", 0, TS_R_IMAGE_EMPTY, "zero bytes");
	d = t_slurp("tests/data/sample/hostile/page.jpg", &n);
	expect_reject(c, d, n, TS_R_IMAGE_NOT_IMAGE, "html");
	free(d);
	d = t_slurp("tests/data/sample/hostile/huge.png", &n);
	expect_reject(c, d, n, TS_R_IMAGE_TOO_LARGE, "100000x100000 png");
	free(d);
	d = t_slurp("tests/data/sample/hostile/badcrc.png", &n);
	expect_reject(c, d, n, TS_R_IMAGE_CORRUPT, "png with a flipped IDAT byte");
	free(d);
	d = t_slurp("tests/data/sample/hostile/broken.webp", &n);
	expect_reject(c, d, n, TS_R_IMAGE_CORRUPT, "broken webp");
	free(d);
	d = t_slurp("tests/data/sample/hostile/truncated.jpg", &n);
	expect_reject(c, d, n, TS_R_IMAGE_TRUNCATED, "truncated jpeg");
	free(d);
	/* cut real files at several points: never a sample, never a crash */
	d = t_slurp("tests/data/sample/photos/swallowtail-butterfly.jpg", &n);
	for (size_t cut = 3; d && cut < n; cut = cut * 2 + 1)
		expect_reject(c, d, cut, TS_R_IMAGE_TRUNCATED, "cut jpeg");
	free(d);
	d = t_slurp("tests/data/sample/more/moss-close-up.png", &n);
	for (size_t cut = 40; d && cut < n - 20; cut = cut * 2)
		expect_reject(c, d, cut, TS_R_IMAGE_TRUNCATED, "cut png");
	/* a correct CRC check: flip a byte inside the IHDR */
	if (d) {
		d[20] ^= 0x01;
		expect_reject(c, d, n, TS_R_IMAGE_CORRUPT, "png with a bad IHDR crc");
	}
	free(d);
	/* a PNG header claiming 100000x100000, built here with a valid CRC */
	uint8_t png[64] = "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR";
	uint32_t w = 100000, crc;
	for (int i = 0; i < 2; i++) {
		png[16 + 4 * i] = (uint8_t)(w >> 24);
		png[17 + 4 * i] = (uint8_t)(w >> 16);
		png[18 + 4 * i] = (uint8_t)(w >> 8);
		png[19 + 4 * i] = (uint8_t)w;
	}
	png[24] = 8;
	png[25] = 2;
	crc = (uint32_t)crc32(0, png + 12, 17);
	png[29] = (uint8_t)(crc >> 24);
	png[30] = (uint8_t)(crc >> 16);
	png[31] = (uint8_t)(crc >> 8);
	png[32] = (uint8_t)crc;
	memcpy(png + 33, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
	expect_reject(c, png, 45, TS_R_IMAGE_TOO_LARGE, "crafted 100000x100000 png");
	ts_pixctx_free(c);
}

static void deterministic_sample(void)
{
	size_t n;
	uint8_t *d = t_slurp("tests/data/sample/photos/lake-at-dawn.jpg", &n);
	struct ts_pixctx *a = ts_pixctx_new(), *b = ts_pixctx_new();
	static const enum ts_encode_fmt encs[] = { TS_ENCODE_JPEG, TS_ENCODE_WEBP, TS_ENCODE_PNG };
	CHECK(d != NULL);
	for (int i = 0; d && i < 3; i++) {
		struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 224, 0, 0, encs[i], 90 };
		struct ts_processed p, q;
		struct ts_err e = TS_ERR_INIT;
		CHECK(ts_process_image(a, d, n, &o, &p, &e) == 0);
		uint8_t *copy = malloc(p.len);
		memcpy(copy, p.data, p.len);
		size_t len = p.len;
		/* b has seen another image first: no state may leak between samples */
		uint8_t *other;
		size_t on;
		other = t_slurp("tests/data/sample/more/candies-transparent.png", &on);
		CHECK(ts_process_image(b, other, on, &o, &q, &e) == 0);
		free(other);
		CHECK(ts_process_image(b, d, n, &o, &q, &e) == 0);
		CHECK(q.len == len && !memcmp(q.data, copy, len));
		free(copy);
	}
	/* keep: the original bytes when nothing changes */
	struct ts_process_opts k = { TS_RESIZE_NO, 256, 0, 0, TS_ENCODE_KEEP, 95 };
	struct ts_processed p;
	struct ts_err e = TS_ERR_INIT;
	CHECK(d && ts_process_image(a, d, n, &k, &p, &e) == 0 && p.kept_original &&
	      p.len == n && p.data == d);
	/* keep with a resize: re-encoded in the source format */
	k.resize = TS_RESIZE_CENTER_CROP;
	CHECK(d && ts_process_image(a, d, n, &k, &p, &e) == 0 && !p.kept_original &&
	      p.out_format == TS_FMT_JPEG && p.width == 256);
	free(d);
	ts_pixctx_free(a);
	ts_pixctx_free(b);
}

static void min_size_sample(void)
{
	size_t n;
	uint8_t *d = t_slurp("tests/data/sample/more/heather-thumbnail.webp", &n);   /* 120x90 */
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 256, 100, 0, TS_ENCODE_JPEG, 95 };
	struct ts_processed p;
	struct ts_err e = TS_ERR_INIT;
	CHECK(d && ts_process_image(c, d, n, &o, &p, &e) < 0 && e.reason == TS_R_IMAGE_TOO_SMALL);
	o.min_size = 90;
	CHECK(d && ts_process_image(c, d, n, &o, &p, &e) == 0);
	free(d);
	ts_pixctx_free(c);
}

/* The SIMD horizontal pass gives the bytes of the portable loops: noise
 * (every value, signed weights at edges) down- and upscaled, whole frames
 * and windows (a center crop), sizes from 1 pixel up. */
static void resampler_simd(void)
{
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_err e = TS_ERR_INIT;
	static const int srcs[][2] = { { 333, 211 }, { 640, 480 }, { 7, 5 }, { 1, 1 }, { 449, 300 } };
	static const int outs[][2] = { { 224, 224 }, { 111, 70 }, { 700, 500 }, { 1, 1 }, { 3, 2 }, { 331, 209 } };
	uint32_t seed = 12345;
	size_t cases = 0;
	CHECK(c != NULL);
	for (size_t a = 0; c && a < sizeof(srcs) / sizeof(srcs[0]); a++) {
		struct ts_image src = { 0 };
		src.width = srcs[a][0];
		src.height = srcs[a][1];
		src.cap = (size_t)src.width * src.height * 3;
		src.pixels = malloc(src.cap);
		CHECK(src.pixels != NULL);
		for (size_t k = 0; src.pixels && k < src.cap; k++) {
			seed = seed * 1103515245u + 12345u;
			src.pixels[k] = (uint8_t)(seed >> 16);
		}
		for (size_t b = 0; src.pixels && b < sizeof(outs) / sizeof(outs[0]); b++) {
			/* the whole frame scaled to outs[b], and its center half as a window */
			int sw = outs[b][0], sh = outs[b][1];
			for (int win = 0; win < 2; win++) {
				int ow = win ? (sw + 1) / 2 : sw, oh = win ? (sh + 1) / 2 : sh;
				int x0 = win ? sw / 4 : 0, y0 = win ? sh / 4 : 0;
				struct ts_image out[2];
				for (int simd = 0; simd < 2; simd++) {
					out[simd] = (struct ts_image){ .width = ow, .height = oh, .cap = (size_t)ow * oh * 3 };
					out[simd].pixels = calloc(1, out[simd].cap);
					ts_resample_simd = simd;
					CHECK(out[simd].pixels && ts_resample_window(c, &src, sw, sh, x0, y0, ow, oh, &out[simd],
										      0, 0, &e) == 0);
				}
				size_t diff = 0;
				for (size_t k = 0; out[0].pixels && out[1].pixels && k < out[0].cap; k++)
					diff += out[0].pixels[k] != out[1].pixels[k];
				CHECKF(diff == 0, "%dx%d to %dx%d%s: %zu of %zu bytes differ between the SIMD and the portable pass",
				       src.width, src.height, sw, sh, win ? " (center window)" : "", diff, out[0].cap);
				free(out[0].pixels);
				free(out[1].pixels);
				cases++;
			}
		}
		free(src.pixels);
	}
	ts_resample_simd = 1;
	CHECKF(cases == 60, "expected 60 comparisons, made %zu", cases);
	ts_pixctx_free(c);
}

static void resampler_flat(void)
{
	struct ts_image src = { 0 }, dst = { 0 };
	struct ts_err e = TS_ERR_INIT;
	int w = 301, h = 199;
	src.width = w;
	src.height = h;
	src.pixels = malloc((size_t)w * h * 3);
	src.cap = (size_t)w * h * 3;
	/* a constant image stays constant, at the edges too (no ringing, no overflow) */
	memset(src.pixels, 200, src.cap);
	static const int sizes[][2] = { { 100, 66 }, { 37, 180 }, { 600, 400 }, { 1, 1 }, { 301, 50 } };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CHECK(ts_resample(&src, sizes[i][0], sizes[i][1], &dst, &e) == 0);
		int bad = 0;
		for (size_t k = 0; k < (size_t)dst.width * dst.height * 3; k++)
			bad += dst.pixels[k] != 200;
		CHECKF(bad == 0 && dst.width == sizes[i][0] && dst.height == sizes[i][1],
		       "%dx%d: %d pixels off", sizes[i][0], sizes[i][1], bad);
	}
	/* a 1-pixel checkerboard averages to grey when shrunk 4x: antialiased,
	 * where nearest neighbour would give pure black or white */
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			memset(src.pixels + ((size_t)y * w + x) * 3, (x + y) % 2 ? 255 : 0, 3);
	CHECK(ts_resample(&src, 75, 49, &dst, &e) == 0);
	int lo = 255, hi = 0;
	for (int y = 2; y < dst.height - 2; y++)
		for (int x = 2; x < dst.width - 2; x++) {
			int v = dst.pixels[((size_t)y * dst.width + x) * 3];
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
	CHECKF(lo >= 110 && hi <= 145, "checkerboard shrunk to [%d, %d]", lo, hi);
	ts_image_release(&src);
	ts_image_release(&dst);
}

static void encoders_sample(void)
{
	size_t n;
	uint8_t *d = t_slurp("tests/data/sample/photos/squirrel-on-branch.jpg", &n);
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image img = { 0 }, back = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	CHECK(d && decode(c, d, n, &img, &info, &e) == 0);
	static const enum ts_imgfmt f[] = { TS_FMT_JPEG, TS_FMT_WEBP, TS_FMT_PNG };
	for (int i = 0; d && i < 3; i++) {
		const uint8_t *out;
		size_t len;
		CHECK(ts_encode(c, &img, f[i], 95, &out, &len, &e) == 0);
		uint8_t *copy = malloc(len);
		memcpy(copy, out, len);
		struct ts_pixctx *c2 = ts_pixctx_new();
		CHECK(decode(c2, copy, len, &back, &info, &e) == 0 && info.format == f[i] &&
		      back.width == img.width && back.height == img.height);
		double diff = t_mean_abs_diff(&img, &back);
		CHECKF(f[i] == TS_FMT_PNG ? diff == 0.0 : diff < 6.0, "%s round trip: %.2f",
		       ts_imgfmt_name(f[i]), diff);
		ts_pixctx_free(c2);
		free(copy);
	}
	free(d);
	ts_image_release(&img);
	ts_image_release(&back);
	ts_pixctx_free(c);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "sniff", sniff },
		{ "probe_dims", probe_dims },
		{ "resize_plans", resize_plans },
		{ "process_modes", process_modes },
		{ "orientation_exact", orientation_exact },
		{ "orientation_files", orientation_files },
		{ "colours", colours },
		{ "hostile", hostile },
		{ "animated_webp", animated_webp },
		{ "dct_scaling", dct_scaling },
		{ "keep", keep },
		{ "deterministic", deterministic },
		{ "threads", threads },
		{ "encoders", encoders },
		{ "resampler", resampler },
		{ "crop_decode_exact", crop_decode_exact },
		{ "region_fill", region_fill },
		{ "sniff_sample", sniff_sample },
		{ "process_modes_sample", process_modes_sample },
		{ "orientation_sample", orientation_sample },
		{ "colours_sample", colours_sample },
		{ "hostile_sample", hostile_sample },
		{ "deterministic_sample", deterministic_sample },
		{ "min_size_sample", min_size_sample },
		{ "resampler_flat", resampler_flat },
		{ "resampler_simd", resampler_simd },
		{ "encoders_sample", encoders_sample },
		{ NULL, NULL },
	};
	return t_run("pixels", cases);
}
