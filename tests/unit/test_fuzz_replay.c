/*
 * test_fuzz_replay.c - the fuzz targets' regression driver (built with the
 * normal compiler, run by `make test`): every target of tests/fuzz/ over
 * its seed corpus (tests/fuzz/corpus/<name>/) and its regression files
 * (tests/fuzz/regress/<name>/: inputs that once crashed or hung), and the
 * decode target over the hostile sample files and deterministic mutations
 * (bit flips, byte runs, cuts, length-field damage) of real JPEG, PNG and
 * WebP files.  Passing means: no crash, no sanitizer report (the suite
 * runs under SANITIZE=address,undefined too), no hang, and every damaged
 * input is either read or cleanly rejected.
 *
 * Each target is included with its entry point renamed, so one binary
 * holds them all; a new target adds an include and a line in targets[].
 */
#include "tests/unit/t.h"

#include <dirent.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_decode.c"
#define LLVMFuzzerTestOneInput fuzz_tar_one
#include "tests/fuzz/fuzz_tar.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_one
#include "tests/fuzz/fuzz_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_jsonl_one
#include "tests/fuzz/fuzz_jsonl.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_coco_one
#include "tests/fuzz/fuzz_coco.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_sharegpt4v_one
#include "tests/fuzz/fuzz_sharegpt4v.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_caption_one
#include "tests/fuzz/fuzz_caption.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_wordnet_one
#include "tests/fuzz/fuzz_wordnet.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_lmdb_one
#include "tests/fuzz/fuzz_lmdb.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_parquet_one
#include "tests/fuzz/fuzz_parquet.c"
#undef LLVMFuzzerTestOneInput

static const struct {
	const char *name;
	int (*one)(const uint8_t *data, size_t size);
} targets[] = {
	{ "decode", LLVMFuzzerTestOneInput },
	{ "tar", fuzz_tar_one },
	{ "csv", fuzz_csv_one },
	{ "jsonl", fuzz_jsonl_one },
	{ "coco", fuzz_coco_one },
	{ "sharegpt4v", fuzz_sharegpt4v_one },
	{ "caption", fuzz_caption_one },
	{ "wordnet", fuzz_wordnet_one },
	{ "lmdb", fuzz_lmdb_one },
	{ "parquet", fuzz_parquet_one },
};


static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void hostile_files(void)
{
	static const char *files[] = {
		"hostile/empty.jpg", "hostile/truncated.jpg", "hostile/page.jpg", "hostile/huge.png",
		"hostile/badcrc.png", "hostile/broken.webp",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[256];
		size_t n;
		snprintf(p, sizeof(p), "tests/data/sample/%s", files[i]);
		uint8_t *d = t_slurp(p, &n);
		CHECKF(d != NULL, "%s missing", p);
		if (d)
			LLVMFuzzerTestOneInput(d, n);
		free(d);
	}
}

static void mutations(void)
{
	static const char *files[] = {
		"photos/heather-flowers.jpg", "photos/three-puppies-progressive.jpg",
		"photos/red-sign-cmyk.jpg", "photos/grace-hopper-exif-orientation-6.jpg",
		"more/heather-thumbnail.webp", "more/dog-portrait-alpha.webp",
		"more/moss-close-up.png", "more/sliced-fruit-palette.png",
	};
	int runs = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[256];
		size_t n;
		snprintf(p, sizeof(p), "tests/data/sample/%s", files[i]);
		uint8_t *orig = t_slurp(p, &n);
		CHECKF(orig != NULL, "%s missing", p);
		if (!orig)
			continue;
		uint8_t *d = malloc(n);
		for (int k = 0; k < 60; k++) {
			size_t len = n;
			memcpy(d, orig, n);
			switch (k % 5) {
			case 0:   /* flip bits in the header region */
				for (int j = 0; j < 4; j++)
					d[next() % (n < 512 ? n : 512)] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 1:   /* flip bits anywhere */
				for (int j = 0; j < 8; j++)
					d[next() % n] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 2:   /* a run of 0xff or 0x00 */
				{
					size_t at = next() % n, run = 1 + next() % 64;
					memset(d + at, (next() & 1) ? 0xff : 0, at + run > n ? n - at : run);
				}
				break;
			case 3:   /* cut */
				len = (size_t)(next() % n);
				break;
			default:  /* big values in likely length/size fields */
				for (int j = 0; j < 3; j++) {
					size_t at = next() % (n < 256 ? n : 256);
					if (at + 2 <= n)
						d[at] = d[at + 1] = 0xff;
				}
				break;
			}
			LLVMFuzzerTestOneInput(d, len);
			runs++;
		}
		free(d);
		free(orig);
	}
	CHECK(runs == 480);
}

static int no_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Every file of dir through one(); returns how many. */
static int replay_dir(const char *dir, int (*one)(const uint8_t *, size_t))
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, no_dot, alphasort), runs = 0;
	for (int i = 0; i < n; i++) {
		char p[1024];
		size_t len;
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]->d_name);
		uint8_t *d = t_slurp(p, &len);
		if (d) {
			one(d, len);
			runs++;
		}
		free(d);
		free(names[i]);
	}
	free(names);
	return runs;
}

/* Seed corpora and regression files of every target. */
static void corpora(void)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char dir[256];
		snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", targets[i].name);
		int seeds = replay_dir(dir, targets[i].one);
		CHECKF(seeds > 0, "%s: no seed files (expected some in %s)", targets[i].name, dir);
		snprintf(dir, sizeof(dir), "tests/fuzz/regress/%s", targets[i].name);
		replay_dir(dir, targets[i].one);
	}
}

/* the parquet fixtures, whole and damaged the same ways */
static void parquet_mutations(void)
{
	static const char *files[] = {
		"types_uncompressed", "types_snappy", "types_gzip", "types_zstd", "required", "plain",
		"dict", "lists", "local_images", "unsupported_delta", "unsupported_lz4", "v1_gzip",
	};
	int runs = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[256];
		size_t n;
		snprintf(p, sizeof(p), "tests/data/parquet/%s.parquet", files[i]);
		uint8_t *orig = t_slurp(p, &n);
		CHECKF(orig != NULL && n > 16, "%s missing", p);
		if (!orig || n <= 16) {
			free(orig);
			continue;
		}
		fuzz_parquet_one(orig, n);
		uint8_t *d = malloc(n);
		uint32_t flen = (uint32_t)orig[n - 8] | (uint32_t)orig[n - 7] << 8;
		size_t foot = flen < n - 8 ? n - 8 - flen : 0;
		for (int k = 0; k < 60; k++) {
			size_t len = n;
			memcpy(d, orig, n);
			switch (k % 5) {
			case 0:   /* flip bits in the footer */
				for (int j = 0; j < 3; j++)
					d[foot + next() % (n - 8 - foot)] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 1:   /* flip bits anywhere */
				for (int j = 0; j < 6; j++)
					d[next() % n] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 2:   /* a run of 0xff or 0x00 in the pages */
				{
					size_t at = 4 + next() % (foot > 4 ? foot - 4 : 1), run = 1 + next() % 32;
					memset(d + at, (next() & 1) ? 0xff : 0, at + run > n ? n - at : run);
				}
				break;
			case 3:   /* cut, keeping the footer: the offsets point past the data */
				len = (size_t)(next() % n);
				if (len > 8 + flen) {
					memmove(d + len - 8 - flen, orig + n - 8 - flen, 8 + flen);
				}
				break;
			default:  /* big values in likely varint length fields of the footer */
				for (int j = 0; j < 2; j++) {
					size_t at = foot + next() % (n - 8 - foot);
					if (at + 3 <= n - 8)
						d[at] = d[at + 1] = d[at + 2] = 0xff;
				}
				break;
			}
			fuzz_parquet_one(d, len);
			runs++;
		}
		free(d);
		free(orig);
	}
	CHECK_EQ_INT(runs, 720);
}

/* inputs the fuzzer once failed on (tests/fuzz/corpus/parquet/) */
static void parquet_regressions(void)
{
	static const char *files[] = { "leak-v2-page-after-decompress", "ub-empty-page" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[256];
		size_t n;
		snprintf(p, sizeof(p), "tests/fuzz/corpus/parquet/%s", files[i]);
		uint8_t *d = t_slurp(p, &n);
		CHECKF(d != NULL, "%s missing", p);
		if (d)
			fuzz_parquet_one(d, n);
		free(d);
	}
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "hostile_files", hostile_files },
		{ "mutations", mutations },
		{ "corpora", corpora },
		{ "parquet_mutations", parquet_mutations },
		{ "parquet_regressions", parquet_regressions },
		{ NULL, NULL },
	};
	return t_run("fuzz_replay", cases);
}
