/* test_util.c - command-layer helpers: number parsing, file reads, the
 * report's HTML escaping, charts and reject meanings. */
#include "tests/unit/t.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/drivers/report.h"
#include "pipeline/drivers/report_svg.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

/* What fn writes, as a malloc'ed string. */
static char *capture_html(const char *s, size_t len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	ts_html_text(f, s, len);
	fclose(f);
	return buf;
}

static void html_escape(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "<script>alert(\"x\")</script>", "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" },
		{ "Tom & Jerry's", "Tom &amp; Jerry&#39;s" },
		{ "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x90\x95", "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x90\x95" },
		{ "bad \xff byte", "bad &#xFFFD; byte" },
		{ "cut \xe2\x98", "cut &#xFFFD;&#xFFFD;" },
		{ "overlong \xc0\xaf", "overlong &#xFFFD;&#xFFFD;" },
		{ "surrogate \xed\xa0\x80", "surrogate &#xFFFD;&#xFFFD;&#xFFFD;" },
		{ "bell\a tab\t", "bell&#xFFFD; tab\t" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = capture_html(cases[i].in, strlen(cases[i].in));
		CHECK_EQ_STR(got, cases[i].want);
		free(got);
	}
	/* a NUL inside the text is a control character, not an end */
	char *got = capture_html("a\0b", 3);
	CHECK_EQ_STR(got, "a&#xFFFD;b");
	free(got);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void svg_histogram(void)
{
	struct ts_svg_bin bins[] = { { 10, 19, 5 }, { 20, 29, 29 }, { 30, 39, 0 } };
	struct ts_svg_mark marks[] = { { 20, "20 tokens" }, { 77, "77 tokens" }, { 248, "248 <tokens>" } };
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	ts_svg_histogram(f, bins, 3, marks, 3, 80, "x & y", "h");
	fclose(f);
	CHECK_EQ_INT(count(buf, "<rect class=\"bar\""), 3);
	CHECK(strstr(buf, "data-from=\"20\" data-to=\"29\" data-count=\"29\"") != NULL);
	CHECK(strstr(buf, "data-limit=\"77\">") != NULL);
	/* 248 is past the axis: drawn at the edge, said so */
	CHECK(strstr(buf, "data-limit=\"248\" data-beyond=\"1\"") != NULL);
	CHECK(strstr(buf, "248 &lt;tokens&gt;") != NULL && strstr(buf, "x &amp; y") != NULL);
	CHECK(!strstr(buf, "<tokens>"));
	free(buf);
}

/* every reason code has the meaning docs/formats.md gives it */
static void reason_meanings(void)
{
	for (int i = 1; i < TS_R__COUNT; i++) {
		const char *code = ts_reason_name((enum ts_reason)i);
		CHECKF(ts_report_reason_meaning(code) != NULL, "reason %s has no meaning in the report", code);
	}
	CHECK_EQ_STR(ts_report_reason_meaning("image.empty"), "the image file has zero bytes");
	CHECK(ts_report_reason_meaning("no.such_reason") == NULL);
}

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

/* the vocabulary's place: overrides as given, then the binary's prefix,
 * the source tree, the data directory; never the current directory */
static void vocab_locate(void)
{
	char dir[] = "/tmp/ts-vocab-XXXXXX", p[1024], buf[4096];
	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(ts_vocab_locate("/x/v.gz", "/env/v.gz", NULL, NULL, NULL, buf, sizeof(buf)), 1);
	CHECK_EQ_STR(buf, "/x/v.gz");
	CHECK_EQ_INT(ts_vocab_locate(NULL, "/env/v.gz", NULL, NULL, NULL, buf, sizeof(buf)), 1);
	CHECK_EQ_STR(buf, "/env/v.gz");
	/* nothing exists: 0, and the places tried for the message */
	snprintf(p, sizeof(p), "%s/bin/tessera", dir);
	CHECK_EQ_INT(ts_vocab_locate(NULL, "", p, "/nonexistent/src", "/nonexistent/share", buf, sizeof(buf)), 0);
	char want[2048];
	snprintf(want, sizeof(want), "'%s/bin/../share/tessera/" TS_VOCAB_NAME "', "
		 "'/nonexistent/src/data/" TS_VOCAB_NAME "', '/nonexistent/share/" TS_VOCAB_NAME "'", dir);
	CHECK_EQ_STR(buf, want);
	/* a file in the current directory (or ../shared) is not looked at */
	char cwd[1024];
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(chdir(dir) == 0);
	FILE *f = fopen(TS_VOCAB_NAME, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK_EQ_INT(ts_vocab_locate(NULL, NULL, "/nonexistent/bin/tessera", NULL, NULL, buf, sizeof(buf)), 0);
	unlink(TS_VOCAB_NAME);
	CHECK(chdir(cwd) == 0);
	/* the prefix's share/tessera wins over the source tree */
	snprintf(p, sizeof(p), "%s/bin", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/share", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/share/tessera", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/share/tessera/" TS_VOCAB_NAME, dir);
	f = fopen(p, "w");
	if (f)
		fclose(f);
	snprintf(p, sizeof(p), "%s/bin/tessera", dir);
	CHECK_EQ_INT(ts_vocab_locate(NULL, NULL, p, TS_SRCDIR, NULL, buf, sizeof(buf)), 1);
	snprintf(want, sizeof(want), "%s/bin/../share/tessera/" TS_VOCAB_NAME, dir);
	CHECK_EQ_STR(buf, want);
	/* without it, the source tree's data/ */
	snprintf(p, sizeof(p), "%s/share/tessera/" TS_VOCAB_NAME, dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/bin/tessera", dir);
	CHECK_EQ_INT(ts_vocab_locate(NULL, NULL, p, TS_SRCDIR, "/nonexistent", buf, sizeof(buf)), 1);
	CHECK_EQ_STR(buf, TS_SRCDIR "/data/" TS_VOCAB_NAME);
	snprintf(p, sizeof(p), "%s/share/tessera", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/share", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/bin", dir);
	rmdir(p);
	rmdir(dir);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "parse_u64", parse_u64 },
		{ "parse_int", parse_int },
		{ "read_file", read_file },
		{ "html_escape", html_escape },
		{ "svg_histogram", svg_histogram },
		{ "reason_meanings", reason_meanings },
		{ "vocab_locate", vocab_locate },
		{ NULL, NULL },
	};
	return t_run("util", cases);
}
