/*
 * fuzz_lmdb.c - libFuzzer target for the LMDB reader
 * (shards/lmdb_store.c): the input as a data.mdb through ts_lmdb_check
 * and ts_lmdb_reader (open, every record, the damage report), with a
 * short watchdog.  The reader runs in its child process as `tessera str`
 * runs it, so what the fuzzer checks is the part that must never fail:
 * the meta-page checks, the parent's framing, restarts and watchdog.  With
 * TS_FUZZ_LMDB_IN_PROCESS=1 in the environment the tree is walked in this
 * process instead (finds what the meta-page checks let through to
 * liblmdb; expect crashes inside liblmdb there).  Inputs are capped at
 * 256 KiB; seeds are the files of tests/data/lmdb/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "shards/lmdb_store.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char p[600], dir[600];
	struct ts_lmdb_read_opts o = { 0, 2000, 1 << 20, 4 };
	struct ts_lmdb_reader *r = NULL;
	struct ts_lmdb_rec rec;
	struct ts_lmdb_info info;
	struct ts_err e = TS_ERR_INIT;
	const char *ip = getenv("TS_FUZZ_LMDB_IN_PROCESS");

	if (size > (256u << 10))
		return 0;
	o.in_process = ip && *ip == '1';
	mkdir(fuzz_path("env", dir, sizeof(dir)), 0755);
	if (!fuzz_file("env/data.mdb", data, size, p, sizeof(p)))
		return 0;
	ts_lmdb_check(dir, &info, &e);
	e = (struct ts_err)TS_ERR_INIT;
	if (ts_lmdb_reader_open(&r, dir, &o, &e) == 0) {
		unsigned sum = 0;
		while (ts_lmdb_reader_next(r, &rec, &e) == 1) {
			if (rec.has_label && rec.label_len)
				sum += ((const unsigned char *)rec.label)[rec.label_len - 1];
			if (rec.has_image && rec.image_len)
				sum += ((const unsigned char *)rec.image)[rec.image_len - 1];
		}
		(void)ts_lmdb_reader_damage(r);
		(void)sum;
	}
	ts_lmdb_reader_close(r);
	return 0;
}
