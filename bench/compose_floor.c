/*
 * compose_floor.c - the floor of `tessera compose --mode halves` on 256 x
 * 256 JPEG sources, for the same pairs, two ways:
 *   dct     the floor of the DCT path: jpeg_read_coefficients on both
 *           sources (every block entropy-decoded, as any reader of a
 *           baseline scan without restart markers must), the composite's
 *           coefficient arrays made by copying each source's center-half
 *           block rows (or columns), as jpegtran's crop and drop, then
 *           jpeg_write_coefficients into memory with the standard Huffman
 *           tables (no optimize_coding: tessera's choice);
 *   pixels  the floor of the pixel path: only each source's kept center
 *           half decoded (--axis vertical: its rows, jpeg_skip_scanlines
 *           to the first, which is on an iMCU row, and the rows below not
 *           entropy-decoded, as decode_floor's job; horizontal: its
 *           columns and 16 more on each side with jpeg_crop_scanline, the
 *           margin tessera decodes) into one RGB frame, encoded as JPEG
 *           q95 4:2:0 with TurboJPEG as tessera's encoder does.
 * No container, no catalog, no hashing, no captions; the libjpeg and
 * TurboJPEG objects are made once and reused, and glibc keeps libjpeg's
 * per-image buffers in the heap as in tessera compose (mallopt; with the
 * default thresholds the DCT mode spends more time in page faults than
 * in libjpeg).
 * usage: compose_floor dct|pixels SHARDDIR LIST [OUTDIR]
 *   LIST: one composite a line, `SHARD_A OFFSET_A SIZE_A SHARD_B OFFSET_B
 *   SIZE_B AXIS` (shard file names in SHARDDIR, the source JPEG's bytes at
 *   OFFSET, AXIS v or h as tessera's --axis); with OUTDIR, composite i is
 *   also written there as %09d.jpg (for checking, not for timing).
 * Prints the number of composites done.
 */
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jpeglib.h>
#include <turbojpeg.h>

#define S 256

#include "jpeg_err.h"

/* the shards, each opened once */
static struct {
	char name[256];
	int fd;
} shards[64];
static int nshards;

static int shard_fd(const char *dir, const char *name)
{
	char path[4096];
	for (int i = 0; i < nshards; i++)
		if (!strcmp(shards[i].name, name))
			return shards[i].fd;
	if (nshards == 64 || strlen(name) >= sizeof(shards[0].name))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		strcpy(shards[nshards].name, name);
		shards[nshards++].fd = fd;
	}
	return fd;
}

static int load(const char *dir, const char *name, long off, size_t len, unsigned char **buf, size_t *cap)
{
	int fd = shard_fd(dir, name);
	if (fd < 0)
		return -1;
	if (len > *cap) {
		*buf = realloc(*buf, len);
		*cap = len;
	}
	return pread(fd, *buf, len, off) == (ssize_t)len ? 0 : -1;
}

/* ---- dct ---------------------------------------------------------------------------- */

static struct jpeg_decompress_struct da, db;
static struct jpeg_compress_struct dc;
static struct err er;

/* The composite of a's center half and b's into *out (*cap bytes, grown
 * by jpeg_mem_dest when short), as tessera's ts_halves_dct; 1 if made. */
static int halves_dct(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen, int vertical,
		      unsigned char **out, unsigned long *cap, unsigned long *len)
{
	unsigned char *volatile buf = *out;
	unsigned long size = *cap;
	if (setjmp(er.jb)) {
		jpeg_abort_decompress(&da);
		jpeg_abort_decompress(&db);
		jpeg_abort_compress(&dc);
		return 0;
	}
	jpeg_mem_src(&da, a, (unsigned long)alen);
	jpeg_read_header(&da, TRUE);
	jpeg_mem_src(&db, b, (unsigned long)blen);
	jpeg_read_header(&db, TRUE);
	if (da.image_width != S || da.image_height != S || db.image_width != S || db.image_height != S)
		longjmp(er.jb, 1);
	jvirt_barray_ptr *ca = jpeg_read_coefficients(&da);
	jvirt_barray_ptr *cb = jpeg_read_coefficients(&db);
	/* a's block rows (columns) [sa, sa + n) to [0, n), b's [sb, ...) to
	 * [n, total); an MCU is 16 pixels at 4:2:0, so S/4 and S/2 fall on
	 * MCU boundaries of every component */
	int mcu = DCTSIZE * (vertical ? da.max_v_samp_factor : da.max_h_samp_factor);
	for (int ci = 0; ci < da.num_components; ci++) {
		jpeg_component_info *cp = &da.comp_info[ci];
		int per = vertical ? cp->v_samp_factor : cp->h_samp_factor;
		int total = (int)(vertical ? cp->height_in_blocks : cp->width_in_blocks);
		int n = S / 2 / mcu * per, sa = S / 4 / mcu * per, sb = S / 4 / mcu * per;
		JDIMENSION cols = cp->width_in_blocks;
		if (vertical) {
			for (int r = 0; r < total; r++) {
				int fromb = r >= n, sr = fromb ? sb + r - n : sa + r;
				j_common_ptr sc = fromb ? (j_common_ptr)&db : (j_common_ptr)&da;
				JBLOCKARRAY s = sc->mem->access_virt_barray(sc, fromb ? cb[ci] : ca[ci],
									    (JDIMENSION)sr, 1, FALSE);
				JBLOCKROW from = s[0];
				JBLOCKARRAY d = da.mem->access_virt_barray((j_common_ptr)&da, ca[ci],
									   (JDIMENSION)r, 1, TRUE);
				memmove(d[0], from, sizeof(JBLOCK) * cols);
			}
		} else {
			for (JDIMENSION r = 0; r < cp->height_in_blocks; r++) {
				JBLOCKARRAY s = db.mem->access_virt_barray((j_common_ptr)&db, cb[ci], r, 1, FALSE);
				JBLOCKROW from = s[0] + sb;
				JBLOCKARRAY d = da.mem->access_virt_barray((j_common_ptr)&da, ca[ci], r, 1, TRUE);
				memmove(d[0], d[0] + sa, sizeof(JBLOCK) * (size_t)n);
				memcpy(d[0] + n, from, sizeof(JBLOCK) * (size_t)(total - n));
			}
		}
	}
	jpeg_copy_critical_parameters(&da, &dc);
	dc.optimize_coding = FALSE;
	jpeg_mem_dest(&dc, (unsigned char **)&buf, &size);
	jpeg_write_coefficients(&dc, ca);
	jpeg_finish_compress(&dc);
	jpeg_finish_decompress(&db);
	jpeg_finish_decompress(&da);
	if (buf != *out) {   /* jpeg_mem_dest outgrew our buffer: keep its own */
		free(*out);
		*out = buf;
		*cap = size;
	}
	*len = size;
	return 1;
}

/* ---- pixels ------------------------------------------------------------------------- */

/* Source k's center half (rows or columns [S/4, S/4 + S/2)) decoded into
 * frame at its place; 1 if done. */
static int decode_half(const unsigned char *buf, size_t len, int k, int vertical, unsigned char *frame,
		       unsigned char *row)
{
	struct jpeg_decompress_struct *d = &da;
	if (setjmp(er.jb)) {
		jpeg_abort_decompress(d);
		return 0;
	}
	jpeg_mem_src(d, buf, (unsigned long)len);
	jpeg_read_header(d, TRUE);
	d->out_color_space = JCS_RGB;
	d->dct_method = JDCT_ISLOW;
	jpeg_start_decompress(d);
	if (d->output_width != S || d->output_height != S)
		longjmp(er.jb, 1);
	int from = S / 4, n = S / 2;
	if (vertical) {
		jpeg_skip_scanlines(d, (JDIMENSION)from);
		for (int y = 0; y < n; y++) {
			JSAMPROW p = frame + (size_t)(k * n + y) * S * 3;
			jpeg_read_scanlines(d, &p, 1);
		}
	} else {
		/* a margin of 16 columns, as tessera: libjpeg's upsampling at a
		 * cut column has no neighbour and would give other pixels */
		JDIMENSION x0 = (JDIMENSION)(from - 16), cw = (JDIMENSION)(n + 32);
		jpeg_crop_scanline(d, &x0, &cw);   /* x0 and cw widened to iMCU columns */
		for (int y = 0; y < S; y++) {
			JSAMPROW p = row;
			jpeg_read_scanlines(d, &p, 1);
			memcpy(frame + ((size_t)y * S + (size_t)(k * n)) * 3, row + (size_t)(from - (int)x0) * 3,
			       (size_t)n * 3);
		}
	}
	if (d->output_scanline < d->output_height)
		jpeg_skip_scanlines(d, d->output_height - d->output_scanline);
	jpeg_finish_decompress(d);
	return 1;
}

int main(int argc, char **argv)
{
	char line[4096], na[256], nb[256], axis;
	long oa, ob;
	size_t la, lb, acap = 0, bcap = 0;
	unsigned char *a = NULL, *b = NULL;
	unsigned long ocap = tjBufSize(S, S, TJSAMP_420), olen;
	unsigned char *out = malloc(ocap), *frame = malloc(S * S * 3), *row = malloc(S * 3);
	tjhandle enc = tjInitCompress();
	int n = 0, i = 0, dct;
	FILE *f;

	if (argc < 4 || argc > 5 || (strcmp(argv[1], "dct") && strcmp(argv[1], "pixels")) ||
	    !(f = fopen(argv[3], "r")) || !out || !frame || !row || !enc)
		return 2;
	dct = !strcmp(argv[1], "dct");
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	da.err = db.err = dc.err = jpeg_std_error(&er.pub);
	er.pub.error_exit = on_error;
	er.pub.emit_message = on_message;
	jpeg_create_decompress(&da);
	jpeg_create_decompress(&db);
	jpeg_create_compress(&dc);
	for (; fgets(line, sizeof(line), f); i++) {
		if (sscanf(line, "%255s %ld %zu %255s %ld %zu %c", na, &oa, &la, nb, &ob, &lb, &axis) != 7 ||
		    load(argv[2], na, oa, la, &a, &acap) || load(argv[2], nb, ob, lb, &b, &bcap))
			continue;
		int vertical = axis == 'v', ok;
		if (dct) {
			ok = halves_dct(a, la, b, lb, vertical, &out, &ocap, &olen);
		} else {
			ok = decode_half(a, la, 0, vertical, frame, row) && decode_half(b, lb, 1, vertical, frame, row);
			olen = ocap;
			ok = ok && tjCompress2(enc, frame, S, 0, S, TJPF_RGB, &out, &olen, TJSAMP_420, 95,
					       TJFLAG_NOREALLOC) == 0;
		}
		n += ok;
		if (ok && argc == 5) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%09d.jpg", argv[4], i);
			FILE *g = fopen(path, "wb");
			if (g) {
				fwrite(out, 1, olen, g);
				fclose(g);
			}
		}
	}
	fclose(f);
	printf("%d\n", n);
	jpeg_destroy_compress(&dc);
	jpeg_destroy_decompress(&db);
	jpeg_destroy_decompress(&da);
	tjDestroy(enc);
	for (int k = 0; k < nshards; k++)
		close(shards[k].fd);
	free(a);
	free(b);
	free(out);
	free(frame);
	free(row);
	return 0;
}
