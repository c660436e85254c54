/*
 * fuzz_jsonl.c - libFuzzer target for the jsonl list reader
 * (pipeline/sources/source_jsonl.c) through ts_source (see fuzz_source.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_source_run(data, size, "list.jsonl", TS_INPUT_JSONL);
}
