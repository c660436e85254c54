/*
 * fuzz_decode.c - libFuzzer target for the whole pixel stage: any bytes
 * through ts_process_image (probe, decode, orient, resize, encode) with a
 * small pixel cap.  Inputs are capped at 1 MiB; single-threaded.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_decode.c
 *     compose/[a-z]*.c base/ts_error.c `pkg-config --cflags --libs libturbojpeg
 *     spng libwebp libwebpdemux libexif zlib` -lm -o fuzz_decode
 * tests/unit/test_fuzz_replay.c runs the same function over a corpus in
 * the normal test run.
 */
#include <stddef.h>
#include <stdint.h>

#include "compose/compose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ts_pixctx *ctx;
	static const enum ts_encode_fmt enc[] = { TS_ENCODE_JPEG, TS_ENCODE_PNG, TS_ENCODE_WEBP, TS_ENCODE_KEEP };
	struct ts_process_opts o = { TS_RESIZE_CENTER_CROP, 64, 0, 4000000, TS_ENCODE_JPEG, 80 };
	struct ts_processed p;
	struct ts_err e = TS_ERR_INIT;

	if (size > (1u << 20))
		return 0;
	if (!ctx && !(ctx = ts_pixctx_new()))
		return 0;
	/* the last byte picks the mode and encoder, so the fuzzer reaches them all */
	if (size) {
		o.resize = (enum ts_resize_mode)(data[size - 1] % 6);
		o.encode = enc[(data[size - 1] / 6) % 4];
	}
	ts_process_image(ctx, data, size, &o, &p, &e);
	return 0;
}
