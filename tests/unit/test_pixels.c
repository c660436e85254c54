/*
 * test_pixels.c - the pixel layer (compose/) on real images: recognition, header
 * probes against the corpus MANIFEST, every resize mode's geometry,
 * orientation 2..8 against the upright original, colour conversions,
 * alpha on white, hostile inputs, DCT scaling, determinism, encoders and
 * the resampler's antialiasing.
 */
#include "tests/unit/t.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <zlib.h>

#include "compose/compose.h"
#include "tests/unit/t_img.h"





static int decode(struct ts_pixctx *c, const uint8_t *d, size_t n, struct ts_image *img,
		  struct ts_image_info *info, struct ts_err *e)
{
	return ts_decode(c, d, n, 100000000ULL, 0, 0, img, info, e);
}

/* ---- cases ------------------------------------------------------------------------ */

static void sniff(void)
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

static void probe_manifest(void)
{
	char p[512];
	json_error_t je;
	snprintf(p, sizeof(p), "%s/data/images/MANIFEST.jsonl", t_shared());
	FILE *f = fopen(p, "r");
	char line[4096];
	int checked = 0;
	if (!f)
		SKIP("../shared/data/images/MANIFEST.jsonl not found");
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, &je);
		const char *path = json_string_value(json_object_get(j, "path"));
		const char *dec = json_string_value(json_object_get(j, "decodes"));
		const char *fmt = json_string_value(json_object_get(j, "format"));
		if (path && dec && !strcmp(dec, "ok") && fmt &&
		    (!strcmp(fmt, "JPEG") || !strcmp(fmt, "PNG") || !strcmp(fmt, "WEBP"))) {
			size_t n;
			uint8_t *d = t_shared_img(path + strlen("images/"), &n);
			struct ts_image_info info;
			struct ts_err e = TS_ERR_INIT;
			int ok = d && ts_image_probe(d, n, &info, &e) == 0;
			CHECKF(ok, "%s: %s", path, e.msg);
			if (ok) {
				CHECKF(info.width == json_integer_value(json_object_get(j, "w")) &&
				       info.height == json_integer_value(json_object_get(j, "h")),
				       "%s: %dx%d", path, info.width, info.height);
				json_t *o = json_object_get(j, "exif_orientation");
				if (o && json_integer_value(o) >= 1 && !strcmp(fmt, "JPEG"))
					CHECKF(info.orientation == json_integer_value(o), "%s: orientation %d",
					       path, info.orientation);
				checked++;
			}
			free(d);
		}
		json_decref(j);
	}
	fclose(f);
	CHECK(checked > 150);
}

static void resize_plans(void)
{
	static const struct {
		enum ts_resize_mode m;
		int size, w, h;
		int sw, sh, ow, oh, ox, oy;
	} cases[] = {
		{ TS_RESIZE_NO, 256, 640, 480, 640, 480, 640, 480, 0, 0 },
		{ TS_RESIZE_CENTER_CROP, 256, 640, 480, 341, 256, 256, 256, -42, 0 },
		{ TS_RESIZE_CENTER_CROP, 256, 480, 640, 256, 341, 256, 256, 0, -42 },
		{ TS_RESIZE_CENTER_CROP, 224, 1000, 536, 418, 224, 224, 224, -97, 0 },
		{ TS_RESIZE_KEEP_RATIO, 256, 640, 480, 341, 256, 341, 256, 0, 0 },
		{ TS_RESIZE_KEEP_RATIO, 256, 480, 640, 256, 341, 256, 341, 0, 0 },
		{ TS_RESIZE_KEEP_RATIO_LARGEST, 256, 640, 480, 256, 192, 256, 192, 0, 0 },
		{ TS_RESIZE_KEEP_RATIO_LARGEST, 256, 480, 640, 192, 256, 192, 256, 0, 0 },
		{ TS_RESIZE_BORDER, 256, 640, 480, 256, 192, 256, 256, 0, 32 },
		{ TS_RESIZE_BORDER, 256, 480, 640, 192, 256, 256, 256, 32, 0 },
		{ TS_RESIZE_STRETCH, 224, 640, 480, 224, 224, 224, 224, 0, 0 },
		{ TS_RESIZE_KEEP_RATIO, 256, 100, 50, 512, 256, 512, 256, 0, 0 },      /* upscale */
		{ TS_RESIZE_CENTER_CROP, 256, 3, 1000, 256, 85333, 256, 256, 0, -42538 },
		{ TS_RESIZE_KEEP_RATIO_LARGEST, 256, 2000, 1, 256, 1, 256, 1, 0, 0 },  /* never 0 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ts_resize_plan p;
		ts_resize_plan(cases[i].m, cases[i].size, cases[i].w, cases[i].h, &p);
		CHECKF(p.scaled_w == cases[i].sw && p.scaled_h == cases[i].sh &&
		       p.out_w == cases[i].ow && p.out_h == cases[i].oh &&
		       p.off_x == cases[i].ox && p.off_y == cases[i].oy,
		       "case %zu (%s %dx%d): scaled %dx%d out %dx%d off %d,%d", i,
		       ts_resize_mode_name(cases[i].m), cases[i].w, cases[i].h,
		       p.scaled_w, p.scaled_h, p.out_w, p.out_h, p.off_x, p.off_y);
	}
	CHECK(ts_resize_mode_parse("keep_ratio_largest") == TS_RESIZE_KEEP_RATIO_LARGEST);
	CHECK(ts_resize_mode_parse("sideways") == -1);
}

/* every mode through the whole pipeline on a real non-square photo */
static void process_modes(void)
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

static void orientation(void)
{
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image ref = { 0 }, img = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	size_t n;
	uint8_t *d = t_shared_img("pillow-tests/hopper.jpg", &n);
	if (!d) {
		ts_pixctx_free(c);
		SKIP("../shared/data/images not found");
	}
	CHECK(decode(c, d, n, &ref, &info, &e) == 0);
	free(d);
	for (int o = 2; o <= 8; o++) {
		for (int webp = 0; webp < 2; webp++) {
			char name[64];
			snprintf(name, sizeof(name), "pillow-tests/hopper_orientation_%d.%s", o, webp ? "webp" : "jpg");
			d = t_shared_img(name, &n);
			CHECKF(d && decode(c, d, n, &img, &info, &e) == 0, "%s: %s", name, e.msg);
			if (d) {
				CHECKF(info.orientation == o, "%s: orientation %d", name, info.orientation);
				double diff = t_mean_abs_diff(&img, &ref);
				CHECKF(diff < 12.0, "%s: mean difference %.1f from the upright image", name, diff);
			}
			free(d);
		}
	}
	/* the test can fail: the stored (unrotated) pixels differ a lot */
	d = t_shared_img("pillow-tests/hopper_orientation_6.jpg", &n);
	struct ts_image_info raw_info;
	CHECK(ts_image_probe(d, n, &raw_info, &e) == 0 && raw_info.orientation == 6);
	free(d);
	/* a non-square image: sides swap */
	d = t_slurp("tests/data/sample/photos/no-parking-barrier-exif-orientation-8.jpg", &n);
	CHECK(d && decode(c, d, n, &img, &info, &e) == 0 && info.orientation == 8 &&
	      img.width == 360 && img.height == 480);
	free(d);
	ts_image_release(&ref);
	ts_image_release(&img);
	ts_pixctx_free(c);
}

static void colours(void)
{
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_image a = { 0 }, b = { 0 };
	struct ts_image_info info;
	struct ts_err e = TS_ERR_INIT;
	size_t n;
	uint8_t *d;

	/* CMYK (Adobe inverted) against the same picture in RGB */
	d = t_shared_img("pillow-tests/pil_sample_cmyk.jpg", &n);
	if (!d) {
		ts_pixctx_free(c);
		SKIP("../shared/data/images not found");
	}
	CHECKF(decode(c, d, n, &a, &info, &e) == 0 && (!strcmp(info.color, "cmyk") ||
	       !strcmp(info.color, "ycck")), "%s, colour %s", e.msg, info.color);
	free(d);
	d = t_shared_img("pillow-tests/pil_sample_rgb.jpg", &n);
	CHECK(decode(c, d, n, &b, &info, &e) == 0);
	free(d);
	double diff = t_mean_abs_diff(&a, &b);
	CHECKF(diff < 12.0, "cmyk vs rgb: mean difference %.1f", diff);
	/* grayscale JPEG: R = G = B */
	d = t_shared_img("pillow-tests/hopper_gray.jpg", &n);
	CHECK(decode(c, d, n, &a, &info, &e) == 0 && !strcmp(info.color, "gray"));
	int gray = 1;
	for (size_t i = 0; i < (size_t)a.width * a.height; i++)
		gray &= a.pixels[3 * i] == a.pixels[3 * i + 1] && a.pixels[3 * i] == a.pixels[3 * i + 2];
	CHECK(gray);
	free(d);
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
	ts_image_release(&b);
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

static void hostile(void)
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

static void dct_scaling(void)
{
	size_t n;
	uint8_t *d = t_shared_img("mate-backgrounds/Elephants_5640x3172.jpg", &n);
	T_NEED_SHARED(d);
	struct ts_pixctx *c = ts_pixctx_new();
	struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 256, 0, 100000000ULL, TS_ENCODE_JPEG, 95 };
	struct ts_processed p;
	struct ts_err e = TS_ERR_INIT;
	CHECK(ts_process_image(c, d, n, &o, &p, &e) == 0);
	/* 1/8 scale: 705x397, still >= 256 on the short side */
	CHECKF(p.decode_w == 705 && p.decode_h == 397, "decoded at %dx%d", p.decode_w, p.decode_h);
	CHECK(p.width == 256 && p.height == 256 && p.orig_w == 5640);
	free(d);
	ts_pixctx_free(c);
}

static void deterministic(void)
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

static void min_size(void)
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

static void resampler(void)
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

static void encoders(void)
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
		{ "probe_manifest", probe_manifest },
		{ "resize_plans", resize_plans },
		{ "process_modes", process_modes },
		{ "orientation", orientation },
		{ "colours", colours },
		{ "hostile", hostile },
		{ "dct_scaling", dct_scaling },
		{ "deterministic", deterministic },
		{ "min_size", min_size },
		{ "resampler", resampler },
		{ "encoders", encoders },
		{ NULL, NULL },
	};
	return t_run("pixels", cases);
}
