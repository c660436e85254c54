/*
 * fuzz_tar.c - libFuzzer target for the tar reader (shards/tar_reader.c):
 * any bytes as a tar file through ts_tar_open / ts_tar_next with a small
 * member cap, every member's bytes read.  Inputs are capped at 1 MiB.
 */
#include <stddef.h>
#include <stdint.h>

#include "shards/shards.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char p[600];
	struct ts_tar_reader *t = NULL;
	struct ts_tar_member m;
	struct ts_err e = TS_ERR_INIT;
	unsigned sum = 0;

	if (size > (1u << 20) || !fuzz_file("in.tar", data, size, p, sizeof(p)))
		return 0;
	if (ts_tar_open(&t, p, 256 << 10, &e) == 0) {
		for (int i = 0; i < 100000 && ts_tar_next(t, &m, &e) == 1; i++) {
			sum += (unsigned)strlen(m.name);
			for (size_t k = 0; k < m.size; k += 512)
				sum += m.data[k];
		}
	}
	ts_tar_close(t);
	(void)sum;
	return 0;
}
