/*
 * test_parquet.c - the parquet reader (shards/parquet.c) and the parquet
 * source (pipeline/sources/source_parquet.c).  Values are compared row by row with
 * the NAME.expected.jsonl files that an independent reader (hyparquet)
 * wrote: the four real pyarrow files in ../shared/data/parquet (DATA_PAGE
 * v1, PLAIN_DICTIONARY) and the hyparquet-writer fixtures in
 * tests/data/parquet (DATA_PAGE_V2, PLAIN, RLE_DICTIONARY, RLE booleans,
 * all four codecs, REQUIRED/OPTIONAL, lists; DATA_PAGE v1 with a
 * PLAIN_DICTIONARY column for all four codecs).  Damaged copies of those
 * files must give an error naming what is wrong, never a crash.
 */
#include "tests/unit/t.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "shards/parquet.h"
#include "shards/thrift.h"
#include "pipeline/sources/source.h"

#define FIX "tests/data/parquet/"

/* equal JSON, numbers by value (1 and 1.0 are equal, a real exactly) */
static int same(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b) &&
			(!json_is_integer(a) || !json_is_integer(b) ||
			 json_integer_value(a) == json_integer_value(b));
	if (json_typeof(a) != json_typeof(b))
		return 0;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	}
	if (json_is_object(a)) {
		const char *k;
		json_t *v;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, v)
			if (!json_object_get(b, k) || !same(v, json_object_get(b, k)))
				return 0;
		return 1;
	}
	return json_equal((json_t *)a, (json_t *)b);
}

/* Read every column of path and compare each row with expected; returns
 * the number of rows compared, -1 on a reader error (reported). */
static long compare_file(const char *path, const char *expected)
{
	struct ts_pq *pq;
	struct ts_err e = TS_ERR_INIT;
	FILE *f = fopen(expected, "r");
	long rows = 0;
	int sel[64];
	size_t nsel = 0, n;
	char line[1 << 16];

	CHECKF(f != NULL, "%s missing", expected);
	if (!f)
		return -1;
	if (ts_pq_open(&pq, path, NULL, &e)) {
		CHECKF(0, "open %s: %s", path, e.msg);
		fclose(f);
		return -1;
	}
	for (size_t i = 0; i < ts_pq_nfields(pq); i++)
		sel[nsel++] = (int)i;
	CHECKF(ts_pq_select(pq, sel, nsel, &e) == 0, "%s", e.msg);
	int r, bad = 0;
	while ((r = ts_pq_next_group(pq, &n, &e)) == 1) {
		for (size_t row = 0; row < n; row++, rows++) {
			json_t *got = json_object(), *want;
			for (size_t k = 0; k < nsel; k++)
				json_object_set_new(got, ts_pq_field_at(pq, k)->name, ts_pq_get_json(pq, k, row, &e));
			if (!fgets(line, sizeof(line), f)) {
				CHECKF(0, "%s: more rows than %s has", path, expected);
				json_decref(got);
				bad = 1;
				break;
			}
			want = json_loads(line, 0, NULL);
			if (!want || !same(got, want)) {
				char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
				char *w = want ? json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
				if (bad++ < 3)
					CHECKF(0, "%s row %ld:\n    expected %s\n    got      %s", path, rows, w ? w : line, g);
				free(g);
				free(w);
			}
			json_decref(got);
			json_decref(want);
		}
		if (bad > 3)
			break;
	}
	CHECKF(r >= 0, "%s: %s", path, e.msg);
	if (!bad)
		CHECKF(!fgets(line, sizeof(line), f), "%s: fewer rows than %s has", path, expected);
	fclose(f);
	ts_pq_close(pq);
	return r < 0 ? -1 : rows;
}

static void shared_pyarrow_files(void)
{
	static const struct { const char *name; long rows; } files[] = {
		{ "test_1000", 1000 }, { "test_10000", 10000 }, { "sample_image", 2 }, { "test_bbox", 1 },
	};
	char p[512], x[512];
	snprintf(p, sizeof(p), "%s/data/parquet/test_1000.parquet", t_shared());
	if (access(p, R_OK))
		SKIP("../shared/data/parquet not found");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/data/parquet/%s.parquet", t_shared(), files[i].name);
		snprintf(x, sizeof(x), "%s/data/parquet/%s.expected.jsonl", t_shared(), files[i].name);
		CHECK_EQ_INT(compare_file(p, x), files[i].rows);
	}
}

static void generated_fixtures(void)
{
	static const struct { const char *name; long rows; } files[] = {
		{ "types_uncompressed", 60 }, { "types_snappy", 60 }, { "types_gzip", 60 }, { "types_zstd", 60 },
		{ "required", 40 }, { "plain", 50 }, { "dict", 50 }, { "groups", 2500 }, { "lists", 30 },
		{ "local_images", 11 }, { "v1_uncompressed", 45 }, { "v1_snappy", 45 }, { "v1_gzip", 45 },
		{ "v1_zstd", 45 },
	};
	char p[256], x[256];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), FIX "%s.parquet", files[i].name);
		snprintf(x, sizeof(x), FIX "%s.expected.jsonl", files[i].name);
		CHECK_EQ_INT(compare_file(p, x), files[i].rows);
	}
}

static void schema(void)
{
	struct ts_pq *pq;
	struct ts_err e = TS_ERR_INIT;
	static const struct { const char *name, *desc; int optional; } want[] = {
		{ "url", "string", 1 }, { "text", "string", 1 }, { "id", "int64", 1 }, { "n32", "int32", 1 },
		{ "f", "float", 1 }, { "d", "double", 1 }, { "ok", "boolean", 1 }, { "bin", "binary", 1 },
		{ "fixed", "fixed(4)", 1 },
	};
	CHECK(ts_pq_open(&pq, FIX "types_gzip.parquet", NULL, &e) == 0);
	if (!pq)
		return;
	CHECK_EQ_INT(ts_pq_nfields(pq), 9);
	CHECK_EQ_INT(ts_pq_num_rows(pq), 60);
	CHECK_EQ_STR(ts_pq_created_by(pq), "hyparquet");
	CHECK_EQ_STR(ts_pq_codec_name(pq, 0), "gzip");
	for (size_t i = 0; i < 9 && i < ts_pq_nfields(pq); i++) {
		const struct ts_pq_field *f = ts_pq_field_at(pq, i);
		CHECK_EQ_STR(f->name, want[i].name);
		CHECK_EQ_STR(f->type_desc, want[i].desc);
		CHECK_EQ_INT(f->optional, want[i].optional);
		CHECK(!f->nested && !f->unsupported);
	}
	ts_pq_close(pq);
	CHECK(ts_pq_open(&pq, FIX "required.parquet", NULL, &e) == 0);
	if (pq)
		CHECK_EQ_INT(ts_pq_field_at(pq, 0)->optional, 0);
	ts_pq_close(pq);
	CHECK(ts_pq_open(&pq, FIX "lists.parquet", NULL, &e) == 0);
	if (pq) {
		CHECK_EQ_STR(ts_pq_field_at(pq, 2)->type_desc, "list<string>");
		CHECK_EQ_STR(ts_pq_field_at(pq, 3)->type_desc, "list<list<double>>");
		CHECK(ts_pq_field_at(pq, 3)->nested);
		CHECK_EQ_INT(ts_pq_find(pq, "face_bboxes"), 3);
		CHECK_EQ_INT(ts_pq_find(pq, "nope"), -1);
	}
	ts_pq_close(pq);
}

/* only the selected columns, group by group, and flat values through ts_pq_get */
static void streaming(void)
{
	struct ts_pq *pq;
	struct ts_err e = TS_ERR_INIT;
	size_t n, sizes[8], ng = 0, total = 0;
	int sel[2];
	CHECK(ts_pq_open(&pq, FIX "groups.parquet", NULL, &e) == 0);
	if (!pq)
		return;
	CHECK_EQ_INT(ts_pq_num_groups(pq), 3);
	sel[0] = ts_pq_find(pq, "id");
	sel[1] = ts_pq_find(pq, "url");
	CHECK(ts_pq_select(pq, sel, 2, &e) == 0);
	long long first_id = 0;
	int first_url_ok = 0, nulls = 0;
	while (ng < 8 && ts_pq_next_group(pq, &n, &e) == 1) {
		for (size_t r = 0; r < n; r++) {
			struct ts_pq_value v, u;
			ts_pq_get(pq, 0, r, &v);
			ts_pq_get(pq, 1, r, &u);
			if (ng == 0 && r == 0) {
				first_id = v.i;
				first_url_ok = u.kind == TS_PQV_BYTES && u.len == 31 &&
					!memcmp(u.s, "https://img.example.org/0/0.jpg", 31);
			}
			nulls += u.kind == TS_PQV_NULL;
		}
		sizes[ng++] = n;
		total += n;
	}
	CHECK_EQ_INT(ng, 3);
	CHECK_EQ_INT(sizes[0], 1000);
	CHECK_EQ_INT(sizes[2], 500);
	CHECK_EQ_INT(total, 2500);
	CHECK_EQ_INT(first_id, -5000000);        /* row 0: 0 * 1000003 - 5000000 */
	CHECK(first_url_ok);
	CHECK_EQ_INT(nulls, 500);                /* url is null on every row i with i % 5 == 3 */
	CHECK_EQ_INT(ts_pq_next_group(pq, &n, &e), 0);
	ts_pq_close(pq);
}

static void expect_error(const char *what, const uint8_t *d, size_t n, const char *needle)
{
	struct ts_pq *pq;
	struct ts_err e = TS_ERR_INIT;
	int rc = ts_pq_open_mem(&pq, "damaged.parquet", d, n, NULL, &e);
	if (rc == 0) {
		int sel[64];
		size_t ns = 0, rows;
		for (size_t i = 0; i < ts_pq_nfields(pq) && ns < 64; i++)
			sel[ns++] = (int)i;
		rc = ts_pq_select(pq, sel, ns, &e);
		while (rc == 0 && (rc = ts_pq_next_group(pq, &rows, &e)) == 1)
			rc = 0;
		ts_pq_close(pq);
		if (rc == 0)
			rc = 1;   /* read to the end without an error */
	}
	CHECKF(rc < 0, "%s: no error", what);
	CHECKF(strstr(e.msg, "'damaged.parquet'") != NULL, "%s: message does not name the file: %s", what, e.msg);
	CHECKF(strstr(e.msg, needle) != NULL, "%s: expected '%s' in the message, got: %s", what, needle, e.msg);
}

static void damaged(void)
{
	size_t n;
	uint8_t *orig = t_slurp(FIX "types_snappy.parquet", &n);
	uint8_t *unc = NULL;
	size_t un;
	CHECK(orig != NULL && n > 100);
	if (!orig)
		return;
	uint8_t *d = malloc(n);

	/* truncated: the end magic is gone */
	expect_error("truncated", orig, n - 100, "no PAR1 magic at the end");
	expect_error("tiny", orig, 10, "too short");
	/* bad magic at the start */
	memcpy(d, orig, n);
	memcpy(d, "PAR2", 4);
	expect_error("bad magic", d, n, "no PAR1 magic at the start");
	/* a footer length larger than the file */
	memcpy(d, orig, n);
	d[n - 5] = 0x7f;
	expect_error("footer length", d, n, "footer length");
	/* footer bytes damaged: the schema list header becomes garbage */
	memcpy(d, orig, n);
	uint32_t flen = (uint32_t)d[n - 8] | (uint32_t)d[n - 7] << 8 | (uint32_t)d[n - 6] << 16 | (uint32_t)d[n - 5] << 24;
	memset(d + n - 8 - flen, 0xff, 16);
	expect_error("damaged footer", d, n, "damaged footer");
	/* the first page header (column url at offset 4) is garbage */
	memcpy(d, orig, n);
	memset(d + 4, 0xee, 8);
	expect_error("page header", d, n, "column 'url'");
	memcpy(d, orig, n);
	memset(d + 4, 0xee, 8);
	expect_error("page header", d, n, "damaged page header");
	/* the first page's snappy body is garbage (the page header is a
	 * Thrift struct at offset 4: skip it to find the body) */
	memcpy(d, orig, n);
	{
		struct ts_tc t;
		ts_tc_init(&t, d + 4, n - 4);
		ts_tc_skip(&t, TS_TC_STRUCT);
		size_t body = 4 + ts_tc_used(&t, d + 4);
		CHECK(!t.bad && body > 10);
		memset(d + body, 0xff, 24);
		expect_error("corrupt page", d, n, "column 'url': row group 0, page at offset 4: snappy data is corrupt");
	}
	/* the first page claims another decompressed size: bit 1 of the
	 * usize varint's first byte changes the size by one */
	memcpy(d, orig, n);
	CHECK(d[6] == 0x15);
	d[7] ^= 0x02;
	expect_error("lying size (snappy)", d, n, "the page header says");
	/* same on the uncompressed file */
	unc = t_slurp(FIX "types_uncompressed.parquet", &un);
	CHECK(unc != NULL);
	if (unc) {
		CHECK(unc[6] == 0x15);
		unc[7] ^= 0x02;
		expect_error("lying size (uncompressed)", unc, un, "its header says");
	}
	/* cuts everywhere: each gives an error, never a crash */
	for (size_t cut = 0; cut < n; cut += 97) {
		struct ts_pq *pq;
		struct ts_err e = TS_ERR_INIT;
		CHECK(ts_pq_open_mem(&pq, "cut.parquet", orig, cut, NULL, &e) < 0);
	}
	free(unc);
	free(d);
	free(orig);
}

static void lying_zstd_and_gzip(void)
{
	static const char *files[] = { FIX "types_zstd.parquet", FIX "types_gzip.parquet",
		FIX "v1_zstd.parquet", FIX "v1_gzip.parquet", FIX "v1_snappy.parquet" };
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		size_t n;
		uint8_t *d = t_slurp(files[k], &n);
		CHECK(d != NULL);
		if (!d)
			continue;
		CHECK(d[6] == 0x15);
		d[7] ^= 0x02;
		expect_error(files[k], d, n, "the page header says");
		free(d);
	}
}

static void unsupported(void)
{
	size_t n;
	uint8_t *d = t_slurp(FIX "unsupported_delta.parquet", &n);
	CHECK(d != NULL);
	if (d)
		expect_error("delta", d, n, "column 'n'");
	if (d)
		expect_error("delta", d, n, "the DELTA_BINARY_PACKED encoding is not supported");
	free(d);
	d = t_slurp(FIX "unsupported_lz4.parquet", &n);
	CHECK(d != NULL);
	if (d)
		expect_error("lz4", d, n, "the lz4 codec is not supported");
	/* encrypted footer (PARE) */
	if (d) {
		memcpy(d + n - 4, "PARE", 4);
		expect_error("encrypted", d, n, "encrypted parquet files are not supported");
	}
	free(d);
}

/* ---- the source ---- */

static void source_records(void)
{
	static const char *keep[] = { "face_bboxes" };
	struct ts_source_opts o = { 0 };
	struct ts_source *src;
	struct ts_record rec;
	struct ts_err e = TS_ERR_INIT;
	char want_path[4096];

	CHECK_EQ_INT(ts_source_detect(FIX "local_images.parquet"), TS_INPUT_PARQUET);
	const struct ts_source_preset *p = ts_source_preset_find("datacomp");
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_STR(p->image_col, "url");
	CHECK_EQ_STR(p->caption_col, "text");
	CHECK_EQ_STR(p->keep_cols, "uid");
	CHECK_EQ_STR(ts_source_preset_find("laion")->image_col, "URL");
	CHECK_EQ_STR(ts_source_preset_find("laion")->caption_col, "TEXT");
	CHECK_EQ_STR(ts_source_preset_find("coyo")->caption_col, "text");
	CHECK(ts_source_preset_find("cc99") == NULL);
	o.image_root = "tests/data/sample";
	o.image_col = p->image_col;
	o.caption_col = p->caption_col;
	o.id_col = "uid";
	o.keep_cols = keep;
	o.nkeep_cols = 1;
	CHECKF(ts_source_open(&src, FIX "local_images.parquet", &o, 100, &e) == 0, "%s", e.msg);
	if (!src)
		return;
	CHECK_EQ_INT(ts_source_count(src), 11);
	static const struct { int reason; const char *img, *cap; } want[] = {
		{ TS_R_NONE, "photos/cobbled-lane-leuven.jpg", "An empty cobblestone lane runs between old red brick houses with stepped gables under a cloudy sky." },
		{ TS_R_NONE, "photos/curved-facade-grayscale.jpg", NULL },
		{ TS_R_NONE, "photos/fallen-maple-leaf.jpg", NULL },
		{ TS_R_NONE, "photos/forest-footpath-portrait.jpg", NULL },
		{ TS_R_NONE, "photos/frangipani-flower.jpg", NULL },
		{ TS_R_NONE, "more/aloe-plant-portrait.jpg", NULL },
		{ TS_R_SOURCE_MISSING, "photos/not-there.jpg", NULL },
		{ TS_R_SOURCE_MISSING, "https://img.example.org/remote.jpg", NULL },
		{ TS_R_CAPTION_MISSING, "photos/heather-flowers.jpg", NULL },
		{ TS_R_RECORD_MISSING_FIELD, NULL, NULL },
		{ TS_R_NONE, "more/brass-pocket-mirror.jpg", NULL },
	};
	int i = 0, r;
	while ((r = ts_source_next(src, &rec, &e)) == 1) {
		char s[128];
		snprintf(s, sizeof(s), FIX "local_images.parquet:%d", i + 1);
		CHECK_EQ_INT(rec.index, 100 + i);
		CHECK_EQ_STR(rec.source, s);
		if (i < 11) {
			CHECKF((int)rec.reject == want[i].reason, "row %d: reason %s, want %s (%s)", i,
			       ts_reason_name(rec.reject), ts_reason_name((enum ts_reason)want[i].reason),
			       rec.reject_msg ? rec.reject_msg : "");
			if (want[i].img)
				CHECK_EQ_STR(rec.image_ref, want[i].img);
			if (want[i].reason == TS_R_NONE) {
				char *real = realpath("tests/data/sample", NULL);
				snprintf(want_path, sizeof(want_path), "%s/%s", real, want[i].img);
				free(real);
				CHECK_EQ_STR(rec.image_path, want_path);
				CHECK_EQ_INT(rec.ncaptions, 1);
				if (want[i].cap && rec.ncaptions)
					CHECK_EQ_STR(rec.captions[0], want[i].cap);
			}
			if (i == 1) {
				/* uid and the kept list column, as JSON */
				CHECK_EQ_STR(rec.meta_json, "{\"uid\":\"000000000000000000000000a1b2e235\","
					     "\"face_bboxes\":[[0.10000000000000001,0.20000000000000001,0.29999999999999999,0.40000000000000002]]}");
			}
			if (i == 7)
				CHECK(rec.reject_msg && strstr(rec.reject_msg, "is a URL, not a local path"));
		}
		ts_record_release(&rec);
		i++;
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(i, 11);
	ts_source_close(src);
}

static void source_errors(void)
{
	struct ts_source_opts o = { 0 };
	struct ts_source *src;
	struct ts_record rec;
	struct ts_err e = TS_ERR_INIT;

	/* no image column among the defaults: a fatal open error listing the columns */
	o.format = TS_INPUT_PARQUET;
	CHECK(ts_source_open(&src, FIX "lists.parquet", &o, 0, &e) == 0);   /* url, text found */
	ts_source_close(src);
	o.image_col = "URL";
	CHECK(ts_source_open(&src, FIX "lists.parquet", &o, 0, &e) < 0);
	CHECKF(strstr(e.msg, "no column 'URL'") && strstr(e.msg, "url, text, all_captions, face_bboxes"), "%s", e.msg);
	/* a list column as the caption */
	o.image_col = NULL;
	o.caption_col = "all_captions";
	CHECK(ts_source_open(&src, FIX "lists.parquet", &o, 0, &e) < 0);
	CHECKF(strstr(e.msg, "not a string column"), "%s", e.msg);
	/* a damaged file becomes one rejected record, named, and the input ends */
	size_t n;
	uint8_t *d = t_slurp(FIX "types_snappy.parquet", &n);
	const char *tmp = "/tmp/tessera-test-damaged.dat";   /* no extension: found by its magic */
	FILE *f = fopen(tmp, "wb");
	CHECK(f && d);
	if (f && d) {
		d[7] ^= 0x02;   /* the first page lies about its size */
		fwrite(d, 1, n, f);
		fclose(f);
		CHECK_EQ_INT(ts_source_detect(tmp), TS_INPUT_PARQUET);
		memset(&o, 0, sizeof(o));
		CHECKF(ts_source_open(&src, tmp, &o, 0, &e) == 0, "%s", e.msg);
		if (src) {
			CHECK_EQ_INT(ts_source_next(src, &rec, &e), 1);
			CHECK_EQ_INT(rec.reject, TS_R_RECORD_BAD_ROW);
			CHECKF(rec.reject_msg && strstr(rec.reject_msg, "column 'url'") &&
			       strstr(rec.reject_msg, "rows from 1 on are not read"), "%s", rec.reject_msg);
			ts_record_release(&rec);
			CHECK_EQ_INT(ts_source_next(src, &rec, &e), 0);
			ts_source_close(src);
		}
		/* not parquet at all (cut in half) */
		f = fopen(tmp, "wb");
		fwrite(d, 1, n / 2, f);
		fclose(f);
		o.format = TS_INPUT_PARQUET;
		CHECKF(ts_source_open(&src, tmp, &o, 0, &e) == 0, "%s", e.msg);
		if (src) {
			CHECK_EQ_INT(ts_source_next(src, &rec, &e), 1);
			CHECK_EQ_INT(rec.reject, TS_R_RECORD_BAD_ROW);
			CHECKF(rec.reject_msg && strstr(rec.reject_msg, "no PAR1 magic at the end"), "%s", rec.reject_msg);
			ts_record_release(&rec);
			CHECK_EQ_INT(ts_source_next(src, &rec, &e), 0);
			ts_source_close(src);
		}
		unlink(tmp);
	}
	free(d);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "shared_pyarrow_files", shared_pyarrow_files },
		{ "generated_fixtures", generated_fixtures },
		{ "schema", schema },
		{ "streaming", streaming },
		{ "damaged", damaged },
		{ "lying_zstd_and_gzip", lying_zstd_and_gzip },
		{ "unsupported", unsupported },
		{ "source_records", source_records },
		{ "source_errors", source_errors },
		{ NULL, NULL },
	};
	return t_run("parquet", cases);
}
