/*
 * fuzz_source.h - the body of the list-reader fuzz targets
 * (fuzz_csv.c, fuzz_jsonl.c, fuzz_coco.c, fuzz_sharegpt4v.c): the input as
 * a list file through the public ts_source API (open, next until the end
 * or an error, close), with a small record cap so the limits are reached.
 * The scratch directory holds a.jpg and img/b.jpg for references to
 * resolve.
 */
#ifndef TS_FUZZ_SOURCE_H
#define TS_FUZZ_SOURCE_H

#include "pipeline/sources/source.h"
#include "tests/fuzz/fuzz_util.h"

static int fuzz_source_run(const uint8_t *data, size_t size, const char *name,
			   enum ts_input_format fmt)
{
	static int ready;
	char p[600], q[600];
	struct ts_source_opts o = { .format = fmt, .max_record_bytes = 64 << 10 };
	struct ts_source *src = NULL;
	struct ts_record rec;
	struct ts_err e = TS_ERR_INIT;

	if (size > (1u << 20))
		return 0;
	if (!ready) {
		fuzz_file("a.jpg", (const uint8_t *)"x", 1, q, sizeof(q));
		mkdir(fuzz_path("img", q, sizeof(q)), 0755);
		fuzz_file("img/b.jpg", (const uint8_t *)"x", 1, q, sizeof(q));
		ready = 1;
	}
	if (!fuzz_file(name, data, size, p, sizeof(p)))
		return 0;
	memset(&rec, 0, sizeof(rec));
	if (ts_source_open(&src, p, &o, 0, &e) == 0) {
		for (int i = 0; i < 1000000; i++) {
			int rc = ts_source_next(src, &rec, &e);
			ts_record_release(&rec);
			if (rc != 1)
				break;
		}
	}
	ts_source_close(src);
	return 0;
}

#endif
