/*
 * fuzz_csv.c - libFuzzer target for the CSV and TSV list reader
 * (pipeline/sources/source_csv.c) through ts_source (see fuzz_source.h); the last
 * byte's low bit picks TSV.
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && (data[size - 1] & 1))
		return fuzz_source_run(data, size, "list.tsv", TS_INPUT_TSV);
	return fuzz_source_run(data, size, "list.csv", TS_INPUT_CSV);
}
