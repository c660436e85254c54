/*
 * fuzz_sharegpt4v.c - libFuzzer target for the sharegpt4v list reader
 * (pipeline/sources/source_sharegpt4v.c) through ts_source (see fuzz_source.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_source_run(data, size, "share.json", TS_INPUT_SHAREGPT4V);
}
