/*
 * fuzz_parquet.c - libFuzzer target for the parquet reader: any bytes as a
 * parquet file through footer, schema, page header and page decoding,
 * reading every readable column of every row group as JSON.  Inputs are
 * capped at 1 MiB and the reader's limits are small, so a hostile count
 * cannot make the fuzzer allocate gigabytes; single-threaded.
 *   make fuzz FUZZ_SECONDS=600      (builds with clang -fsanitize=fuzzer)
 * tests/unit/test_fuzz_replay.c runs the same function over the fixtures
 * and their mutations in the normal test run.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "shards/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ts_pq_limits lim = { 4u << 20, 1u << 20, 1u << 20 };
	struct ts_pq *pq;
	struct ts_err e = TS_ERR_INIT;
	int sel[64];
	size_t nsel = 0, n;

	if (size > (1u << 20))
		return 0;
	if (ts_pq_open_mem(&pq, "fuzz.parquet", data, size, &lim, &e))
		return 0;
	for (size_t i = 0; i < ts_pq_nfields(pq) && nsel < 64; i++)
		if (!ts_pq_field_at(pq, i)->unsupported)
			sel[nsel++] = (int)i;
	if (ts_pq_select(pq, sel, nsel, &e) == 0) {
		while (ts_pq_next_group(pq, &n, &e) == 1) {
			for (size_t r = 0; r < n; r++)
				for (size_t k = 0; k < nsel; k++) {
					struct ts_pq_value v;
					ts_pq_get(pq, k, r, &v);
					json_decref(ts_pq_get_json(pq, k, r, &e));
				}
		}
	}
	ts_pq_close(pq);
	return 0;
}
