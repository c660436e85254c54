/*
 * decode_floor.c - the floor of a center-crop 224 ingest, two ways:
 *   decode  TurboJPEG decoding each whole JPEG at the DCT scale tessera
 *           uses (the smallest scale whose short side is still >= 224)
 *           and nothing else;
 *   job     the real floor of the job: the same scale, but only the kept
 *           region decoded (the center square, with libjpeg's
 *           jpeg_crop_scanline and jpeg_skip_scanlines; every row is still
 *           entropy-decoded, as any decoder must), plus the JPEG encode of
 *           a 224 x 224 output at quality 95, 4:2:0 (TurboJPEG).  No
 *           resampling, no container, no catalog.
 * usage: decode_floor [decode|job] ROOT LIST.csv   (first column = relative path)
 * Prints the number of images done.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <turbojpeg.h>

#include "jpeg_err.h"

/* The kept region at num/denom: rows and columns of the center square. */
static int job(const unsigned char *buf, size_t len, int num, int denom, unsigned char **pix, size_t *pcap,
	       tjhandle enc, unsigned char **out, unsigned long *ocap)
{
	struct jpeg_decompress_struct d;
	struct err e;
	int ok = 0;
	d.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = on_error;
	e.pub.emit_message = on_message;
	jpeg_create_decompress(&d);
	if (setjmp(e.jb)) {
		jpeg_destroy_decompress(&d);
		return 0;
	}
	jpeg_mem_src(&d, buf, (unsigned long)len);
	jpeg_read_header(&d, TRUE);
	d.scale_num = (unsigned)num;
	d.scale_denom = (unsigned)denom;
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	int W = (int)d.output_width, H = (int)d.output_height, side = W < H ? W : H;
	JDIMENSION x0 = (JDIMENSION)((W - side) / 2), cw = (JDIMENSION)side;
	int y0 = (H - side) / 2;
	if (side < W)
		jpeg_crop_scanline(&d, &x0, &cw);
	size_t need = (size_t)d.output_width * (size_t)side * 3;
	if (need > *pcap) {
		*pix = realloc(*pix, need);
		*pcap = need;
	}
	if (y0 > 0)
		jpeg_skip_scanlines(&d, (JDIMENSION)y0);
	while ((int)d.output_scanline < y0 + side) {
		JSAMPROW row = *pix + (size_t)((int)d.output_scanline - y0) * d.output_width * 3;
		jpeg_read_scanlines(&d, &row, 1);
	}
	if ((int)d.output_scanline < H)
		jpeg_skip_scanlines(&d, (JDIMENSION)(H - (int)d.output_scanline));
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	/* the output: 224 x 224 of the decoded pixels (less for a source
	 * smaller than that), encoded as tessera does */
	int s = side < 224 ? side : 224;
	unsigned long n = *ocap;
	ok = tjCompress2(enc, *pix, s, (int)d.output_width * 3, s, TJPF_RGB, out, &n, TJSAMP_420, 95,
			 TJFLAG_NOREALLOC) == 0;
	return ok;
}

int main(int argc, char **argv)
{
	char line[4096], path[8192];
	FILE *f;
	tjhandle h = tjInitDecompress(), enc = tjInitCompress();
	int nsf, n = 0, mode_job;
	tjscalingfactor *sf = tjGetScalingFactors(&nsf);
	unsigned char *buf = NULL, *pix = NULL, *out = NULL;
	size_t cap = 0, pcap = 0;
	unsigned long ocap = tjBufSize(224, 224, TJSAMP_420);

	if (argc != 4 || (strcmp(argv[1], "decode") && strcmp(argv[1], "job")) || !(f = fopen(argv[3], "r")))
		return 2;
	mode_job = !strcmp(argv[1], "job");
	out = malloc(ocap);
	if (!fgets(line, sizeof(line), f))
		return 2;
	while (fgets(line, sizeof(line), f)) {
		char *comma = strchr(line, ',');
		if (comma)
			*comma = 0;
		snprintf(path, sizeof(path), "%s/%s", argv[2], line);
		FILE *g = fopen(path, "rb");
		if (!g)
			continue;
		fseek(g, 0, SEEK_END);
		size_t len = (size_t)ftell(g);
		fseek(g, 0, SEEK_SET);
		if (len > cap) {
			buf = realloc(buf, len);
			cap = len;
		}
		if (fread(buf, 1, len, g) != len) {
			fclose(g);
			continue;
		}
		fclose(g);
		int w, hh, ss, cs;
		if (tjDecompressHeader3(h, buf, len, &w, &hh, &ss, &cs))
			continue;
		int bw = w, bh = hh, num = 1, denom = 1;
		for (int i = 0; i < nsf; i++) {  /* smallest scale keeping short side >= 224 */
			int sw = TJSCALED(w, sf[i]), sh = TJSCALED(hh, sf[i]);
			if ((sw < sh ? sw : sh) >= 224 && (size_t)sw * sh < (size_t)bw * bh) {
				bw = sw;
				bh = sh;
				num = sf[i].num;
				denom = sf[i].denom;
			}
		}
		if (mode_job) {
			n += job(buf, len, num, denom, &pix, &pcap, enc, &out, &ocap);
			continue;
		}
		size_t need = (size_t)bw * bh * 3;
		if (need > pcap) {
			pix = realloc(pix, need);
			pcap = need;
		}
		if (tjDecompress2(h, buf, len, pix, bw, 0, bh, TJPF_RGB, 0) == 0)
			n++;
	}
	fclose(f);
	printf("%d\n", n);
	tjDestroy(h);
	tjDestroy(enc);
	free(buf);
	free(pix);
	free(out);
	return 0;
}
