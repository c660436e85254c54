/* test_util.c - command-layer helpers: number parsing, file reads. */
#include "t.h"

#include <stdint.h>
#include <unistd.h>

#include "../../pipeline/util.h"

static void parse_u64(void)
{
	uint64_t v;
	CHECK(ts_parse_u64("0", 0, &v) == 0 && v == 0);
	CHECK(ts_parse_u64("10000", 0, &v) == 0 && v == 10000);
	CHECK(ts_parse_u64("100M", 0, &v) == 0 && v == 100000000ULL);
	CHECK(ts_parse_u64("1G", 1, &v) == 0 && v == 1073741824ULL);
	CHECK(ts_parse_u64("1GB", 1, &v) == 0 && v == 1073741824ULL);
	CHECK(ts_parse_u64("2KiB", 0, &v) == 0 && v == 2048);
	CHECK(ts_parse_u64("3k", 0, &v) == 0 && v == 3000);
	CHECK(ts_parse_u64("18446744073709551615", 0, &v) == 0 && v == UINT64_MAX);
	CHECK(ts_parse_u64("18446744073709551616", 0, &v) == -1);
	CHECK(ts_parse_u64("20000000000G", 1, &v) == -1);
	CHECK(ts_parse_u64("", 0, &v) == -1);
	CHECK(ts_parse_u64("-1", 0, &v) == -1);
	CHECK(ts_parse_u64("12x", 0, &v) == -1);
	CHECK(ts_parse_u64("1MM", 0, &v) == -1);
	CHECK(ts_parse_u64("M", 0, &v) == -1);
}

static void parse_int(void)
{
	long v;
	CHECK(ts_parse_int("95", 1, 100, &v) == 0 && v == 95);
	CHECK(ts_parse_int("101", 1, 100, &v) == -1);
	CHECK(ts_parse_int("0", 1, 100, &v) == -1);
	CHECK(ts_parse_int("9x", 1, 100, &v) == -1);
	CHECK(ts_parse_int("", 1, 100, &v) == -1);
}

static void read_file(void)
{
	char dir[] = "/tmp/ts-util-XXXXXX", path[256];
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	struct ts_err e = TS_ERR_INIT;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f", dir);
	FILE *f = fopen(path, "wb");
	for (int i = 0; i < 5000; i++)
		fputc(i & 0xff, f);
	fclose(f);
	CHECK_EQ_INT(ts_read_file(path, 0, &buf, &cap, &len, &e), 0);
	CHECK_EQ_INT(len, 5000);
	CHECK(buf[4999] == (4999 & 0xff));
	CHECK_EQ_INT(ts_read_file(path, 4999, &buf, &cap, &len, &e), TS_ERR_LIMIT);
	CHECK(e.reason == TS_R_SOURCE_TOO_LARGE);
	snprintf(path, sizeof(path), "%s/none", dir);
	CHECK(ts_read_file(path, 0, &buf, &cap, &len, &e) < 0 && e.reason == TS_R_SOURCE_MISSING);
	CHECK(ts_read_file(dir, 0, &buf, &cap, &len, &e) < 0 && e.reason == TS_R_SOURCE_UNREADABLE);
	snprintf(path, sizeof(path), "%s/f", dir);
	unlink(path);
	rmdir(dir);
	free(buf);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "parse_u64", parse_u64 },
		{ "parse_int", parse_int },
		{ "read_file", read_file },
		{ NULL, NULL },
	};
	return t_run("util", cases);
}
