/*
 * dct.c - CLIP-C halves assembled from the sources' DCT coefficients, the
 * way jpegtran crops and drops: entropy decoding and encoding only, no
 * IDCT, colour conversion, forward DCT or quantization, so no generation
 * loss (docs/compose.md, "The lossless path").
 *
 * What must always hold:
 * - the lossless path is taken only when its result is the composite the
 *   pixel path would make, up to that path's own re-encoding loss: both
 *   sources are baseline YCbCr JPEGs (8-bit, Huffman, sequential, quant
 *   values <= 255) of exactly size x size, upright (EXIF orientation 1),
 *   with the sampling factors and the quantization tables that our own
 *   encoder writes at the requested quality and subsampling, and the cut
 *   (where each source's center half starts) and the paste offset fall on
 *   MCU boundaries.  Anything else, including any libjpeg error or warning
 *   while reading (damaged or truncated data), returns TS_DCT_FALLBACK and
 *   the caller takes the pixel path, which decides what the image is;
 * - the output is deterministic: standard Huffman tables (as TurboJPEG
 *   writes without optimisation), A's JFIF header, no other markers;
 * - libjpeg's longjmp never crosses a frame that owns anything but the
 *   three libjpeg objects, which are destroyed on every way out.
 */
#include "compose/compose_impl.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

struct dct_err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int warned;
};

static void dct_error_exit(j_common_ptr ci)
{
	longjmp(((struct dct_err *)ci->err)->jb, 1);
}

static void dct_emit_message(j_common_ptr ci, int level)
{
	if (level < 0)
		((struct dct_err *)ci->err)->warned = 1;
}

/* A destination growing the context's encode buffer. */
struct dct_dest {
	struct jpeg_destination_mgr pub;
	struct ts_pixctx *c;
	size_t len;
};

static void dest_init(j_compress_ptr ci)
{
	struct dct_dest *d = (struct dct_dest *)ci->dest;
	d->pub.next_output_byte = d->c->enc;
	d->pub.free_in_buffer = d->c->enc_cap;
}

static boolean dest_empty(j_compress_ptr ci)
{
	struct dct_dest *d = (struct dct_dest *)ci->dest;
	size_t old = d->c->enc_cap;
	if (ts_alloc_grow(&d->c->enc, &d->c->enc_cap, old * 2, 1)) {
		ci->err->msg_code = JERR_OUT_OF_MEMORY;
		ci->err->error_exit((j_common_ptr)ci);
	}
	d->pub.next_output_byte = d->c->enc + old;
	d->pub.free_in_buffer = d->c->enc_cap - old;
	return TRUE;
}

static void dest_term(j_compress_ptr ci)
{
	struct dct_dest *d = (struct dct_dest *)ci->dest;
	d->len = d->c->enc_cap - d->pub.free_in_buffer;
}

/* The header conditions for one source; NULL when they hold, else why not. */
static const char *check_source(const struct jpeg_decompress_struct *d, int size)
{
	if ((int)d->image_width != size || (int)d->image_height != size)
		return "a source is not size x size";
	if (d->num_components != 3 || d->jpeg_color_space != JCS_YCbCr)
		return "a source is not YCbCr";
	if (d->progressive_mode || d->arith_code || d->data_precision != 8)
		return "a source is not baseline";
	for (int i = 0; i < NUM_QUANT_TBLS; i++)
		if (d->quant_tbl_ptrs[i])
			for (int k = 0; k < DCTSIZE2; k++)
				if (d->quant_tbl_ptrs[i]->quantval[k] > 255)
					return "a source is not baseline";
	return NULL;
}

/* Same sampling factors as our encoder at subsampling ss (420 or 444),
 * and each component's quantization table the one `ref` holds. */
static const char *check_tables(const struct jpeg_decompress_struct *d,
				const struct jpeg_compress_struct *ref, int ss)
{
	for (int ci = 0; ci < 3; ci++) {
		const jpeg_component_info *cp = &d->comp_info[ci];
		int want = ci == 0 && ss == 420 ? 2 : 1;
		if (cp->h_samp_factor != want || cp->v_samp_factor != want)
			return "the sampling factors differ";
		const JQUANT_TBL *q = d->quant_tbl_ptrs[cp->quant_tbl_no];
		const JQUANT_TBL *r = ref->quant_tbl_ptrs[ci == 0 ? 0 : 1];
		if (!q || !r || memcmp(q->quantval, r->quantval, sizeof(q->quantval)))
			return "the quantization tables differ";
	}
	return NULL;
}

int ts_halves_dct(struct ts_pixctx *c, const uint8_t *a, size_t alen, const uint8_t *b,
		  size_t blen, int size, int vertical, int quality, int subsampling,
		  const uint8_t **out, size_t *out_len, const char **why)
{
	struct jpeg_decompress_struct da, db;
	struct jpeg_compress_struct dc;
	struct dct_err er;
	struct dct_dest dest;
	volatile int made_a = 0, made_b = 0, made_c = 0;
	volatile int rc = TS_DCT_FALLBACK;
	const char *volatile reason = "libjpeg failed";
	JBLOCK *volatile tmp = NULL;

	*out = NULL;
	*out_len = 0;
	/* EXIF orientation: the pixel path would turn the source upright */
	if (ts_image_sniff(a, alen) != TS_FMT_JPEG || ts_image_sniff(b, blen) != TS_FMT_JPEG ||
	    jpeg_orientation(a, alen) != 1 || jpeg_orientation(b, blen) != 1) {
		*why = "a source is not an upright JPEG";
		return TS_DCT_FALLBACK;
	}
	memset(&er, 0, sizeof(er));
	da.err = db.err = jpeg_std_error(&er.pub);
	dc.err = &er.pub;
	er.pub.error_exit = dct_error_exit;
	er.pub.emit_message = dct_emit_message;
	if (setjmp(er.jb))
		goto out;

	/* the reference tables: what our encoder writes at this quality */
	jpeg_create_compress(&dc);
	made_c = 1;
	dc.in_color_space = JCS_RGB;
	dc.input_components = 3;
	jpeg_set_defaults(&dc);
	jpeg_set_quality(&dc, quality, TRUE);

	jpeg_create_decompress(&da);
	made_a = 1;
	jpeg_mem_src(&da, a, (unsigned long)alen);
	jpeg_read_header(&da, TRUE);
	jpeg_create_decompress(&db);
	made_b = 1;
	jpeg_mem_src(&db, b, (unsigned long)blen);
	jpeg_read_header(&db, TRUE);
	if ((reason = check_source(&da, size)) || (reason = check_source(&db, size)) ||
	    (reason = check_tables(&da, &dc, subsampling)) || (reason = check_tables(&db, &dc, subsampling)))
		goto out;

	/* geometry, as ts_composite_halves: a's rows (or columns) [a0, a0+h1)
	 * go to [0, h1), b's [b0, b0+h2) to [h1, size) */
	int h1 = size / 2, h2 = size - h1, a0 = (size - h1) / 2, b0 = (size - h2) / 2;
	int mcu = DCTSIZE * (vertical ? da.max_v_samp_factor : da.max_h_samp_factor);
	if (a0 % mcu || b0 % mcu || h1 % mcu) {
		reason = "the cut is not on an MCU boundary";
		goto out;
	}
	jvirt_barray_ptr *ca = jpeg_read_coefficients(&da);
	jvirt_barray_ptr *cb = jpeg_read_coefficients(&db);
	if (er.warned) {
		reason = "a source's data is damaged";
		goto out;
	}
	int mcus = (size + mcu - 1) / mcu;   /* MCU rows (columns) of the output */
	for (int ci = 0; ci < 3; ci++) {
		jpeg_component_info *cp = &da.comp_info[ci];
		int per = vertical ? cp->v_samp_factor : cp->h_samp_factor;   /* blocks per MCU */
		int rows = (int)((cp->height_in_blocks + cp->v_samp_factor - 1) / cp->v_samp_factor *
				 cp->v_samp_factor);
		int cols = (int)((cp->width_in_blocks + cp->h_samp_factor - 1) / cp->h_samp_factor *
				 cp->h_samp_factor);
		int n1 = h1 / mcu * per, sa = a0 / mcu * per, sb = b0 / mcu * per;
		int total = mcus * per;
		if (!tmp && !(tmp = malloc(sizeof(JBLOCK) * (size_t)(cols > rows ? cols : rows) * 2))) {
			reason = "out of memory";
			goto out;
		}
		if (vertical) {
			/* output block row r: a's row sa + r (r < n1), else b's sb + r - n1 */
			for (int r = 0; r < total && r < rows; r++) {
				int fromb = r >= n1, sr = fromb ? sb + r - n1 : sa + r;
				if (sr >= rows)
					sr = rows - 1;
				j_common_ptr sc = fromb ? (j_common_ptr)&db : (j_common_ptr)&da;
				JBLOCKARRAY s = sc->mem->access_virt_barray(sc, fromb ? cb[ci] : ca[ci],
									    (JDIMENSION)sr, 1, FALSE);
				memcpy(tmp, s[0], sizeof(JBLOCK) * (size_t)cols);
				JBLOCKARRAY d = da.mem->access_virt_barray((j_common_ptr)&da, ca[ci],
									   (JDIMENSION)r, 1, TRUE);
				memcpy(d[0], tmp, sizeof(JBLOCK) * (size_t)cols);
			}
		} else {
			/* per block row: a's columns [sa, sa+n1) then b's [sb, ...) */
			int n2 = (total < cols ? total : cols) - n1;
			for (int r = 0; r < rows; r++) {
				JBLOCKARRAY s = db.mem->access_virt_barray((j_common_ptr)&db, cb[ci], (JDIMENSION)r,
									   1, FALSE);
				memcpy(tmp, s[0] + sb, sizeof(JBLOCK) * (size_t)n2);
				JBLOCKARRAY d = da.mem->access_virt_barray((j_common_ptr)&da, ca[ci],
									   (JDIMENSION)r, 1, TRUE);
				memmove(d[0], d[0] + sa, sizeof(JBLOCK) * (size_t)n1);
				memcpy(d[0] + n1, tmp, sizeof(JBLOCK) * (size_t)n2);
			}
		}
	}
	/* write: a's parameters (size, sampling, tables), its coefficients */
	jpeg_copy_critical_parameters(&da, &dc);
	dc.optimize_coding = FALSE;
	if (ts_alloc_grow(&c->enc, &c->enc_cap, alen + blen + 4096, 1)) {
		reason = "out of memory";
		goto out;
	}
	memset(&dest, 0, sizeof(dest));
	dest.pub.init_destination = dest_init;
	dest.pub.empty_output_buffer = dest_empty;
	dest.pub.term_destination = dest_term;
	dest.c = c;
	dc.dest = &dest.pub;
	jpeg_write_coefficients(&dc, ca);
	jpeg_finish_compress(&dc);
	if (er.warned) {
		reason = "libjpeg warned while writing";
		goto out;
	}
	*out = c->enc;
	*out_len = dest.len;
	reason = NULL;
	rc = TS_OK;
out:
	if (made_c)
		jpeg_destroy_compress(&dc);
	if (made_b)
		jpeg_destroy_decompress(&db);
	if (made_a)
		jpeg_destroy_decompress(&da);
	free(tmp);
	*why = reason;
	return rc;
}
