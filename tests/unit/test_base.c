/* test_base.c - the error model: every reason has a unique, stable name. */
#include "tests/unit/t.h"
#include "base/buf.h"
#include "base/rng.h"
#include "base/ts_error.h"
#include "captions/caption.h"

static void reasons_unique(void)
{
	for (int i = 0; i < TS_R__COUNT; i++) {
		const char *n = ts_reason_name((enum ts_reason)i);
		CHECKF(strcmp(n, "unknown") != 0, "reason %d has no name", i);
		CHECK(ts_reason_from_name(n) == (enum ts_reason)i);
		CHECK(ts_reason_help((enum ts_reason)i)[0] != '\0');
	}
	CHECK_EQ_STR(ts_reason_name(TS_R_IMAGE_TRUNCATED), "image.truncated");
	CHECK(ts_reason_from_name("no.such.reason") == TS_R__COUNT);
}

static void err_set(void)
{
	struct ts_err e = TS_ERR_INIT;
	int rc = ts_err_set(&e, TS_ERR_INVALID, TS_R_IMAGE_CORRUPT, "bad %s %d", "crc", 7);
	CHECK_EQ_INT(rc, TS_ERR_INVALID);
	CHECK_EQ_STR(e.msg, "bad crc 7");
	CHECK(e.reason == TS_R_IMAGE_CORRUPT);
	ts_err_clear(&e);
	CHECK(e.status == 0 && e.msg[0] == 0);
	CHECK_EQ_INT(ts_err_set(NULL, TS_ERR_IO, TS_R_NONE, "x"), TS_ERR_IO);
}

static void caption_check(void)
{
	struct ts_err e = TS_ERR_INIT;
	size_t st, n;
	const char *ok = "  \t A dog runs on the beach.\n ";
	CHECK_EQ_INT(ts_caption_check(ok, strlen(ok), 0, &st, &n, &e), 0);
	CHECK(n == strlen("A dog runs on the beach.") && !strncmp(ok + st, "A dog", 5));
	const char *nbsp = "\xc2\xa0" "caf\xc3\xa9\xe3\x80\x80";  /* NBSP café IDEOGRAPHIC SPACE */
	CHECK_EQ_INT(ts_caption_check(nbsp, strlen(nbsp), 0, &st, &n, &e), 0);
	CHECK_EQ_INT(st, 2);
	CHECK_EQ_INT(n, 5);
	const char *bad = "caf\xe9 au lait";  /* Latin-1, not UTF-8 */
	CHECK_EQ_INT(ts_caption_check(bad, strlen(bad), 0, &st, &n, &e), TS_ERR_INVALID);
	CHECK(e.reason == TS_R_CAPTION_INVALID_UTF8);
	const char *overlong = "\xc0\xaf";
	CHECK_EQ_INT(ts_caption_check(overlong, 2, 0, &st, &n, &e), TS_ERR_INVALID);
	const char *surrogate = "\xed\xa0\x80";
	CHECK_EQ_INT(ts_caption_check(surrogate, 3, 0, &st, &n, &e), TS_ERR_INVALID);
	CHECK_EQ_INT(ts_caption_check("a\0b", 3, 0, &st, &n, &e), TS_ERR_INVALID);
	CHECK_EQ_INT(ts_caption_check(" \n\t ", 4, 0, &st, &n, &e), TS_ERR_INVALID);
	CHECK(e.reason == TS_R_CAPTION_EMPTY);
	CHECK_EQ_INT(ts_caption_check("", 0, 0, &st, &n, &e), TS_ERR_INVALID);
	CHECK(e.reason == TS_R_CAPTION_EMPTY);
	CHECK_EQ_INT(ts_caption_check("abcdef", 6, 5, &st, &n, &e), TS_ERR_INVALID);
	CHECK(e.reason == TS_R_CAPTION_TOO_LONG);
}

/* docs/formats.md lists every reason code (run from the project root) */
static void reasons_documented(void)
{
	size_t n;
	char *doc = (char *)t_slurp("docs/formats.md", &n);
	CHECKF(doc != NULL, "docs/formats.md not found");
	if (!doc)
		return;
	for (int i = 1; i < TS_R__COUNT; i++) {
		char want[64];
		snprintf(want, sizeof(want), "| `%s` |", ts_reason_name((enum ts_reason)i));
		CHECKF(strstr(doc, want) != NULL, "reason %s is not in docs/formats.md",
		       ts_reason_name((enum ts_reason)i));
	}
	free(doc);
}

/* The generator against an independent transcription of splitmix64 and
 * xoshiro256** (Python, arbitrary-precision integers masked to 64 bits):
 * a seed must give the same stream on every platform. */
static void rng_reference(void)
{
	struct ts_rng r;
	ts_rng_seed(&r, 1, 2, 3, 4);
	CHECK(ts_rng_next(&r) == 0xe56dbeb0fa8ccf67ULL);
	CHECK(ts_rng_next(&r) == 0xa7ac30c55b38a235ULL);
	CHECK(ts_rng_next(&r) == 0x47e73a3eb865d858ULL);
	/* bounded draws stay in range and reach both ends */
	int lo = 0, hi = 0;
	for (int i = 0; i < 10000; i++) {
		uint64_t v = ts_rng_below(&r, 7);
		CHECK(v < 7);
		lo |= v == 0;
		hi |= v == 6;
	}
	CHECK(lo && hi);
	/* Beta(a, a) is symmetric: its mean is 1/2 within sampling error */
	double sum = 0;
	for (int i = 0; i < 20000; i++) {
		double b = ts_rng_beta(&r, 0.4);
		CHECK(b >= 0 && b <= 1);
		sum += b;
	}
	CHECKF(sum / 20000 > 0.48 && sum / 20000 < 0.52, "mean %f", sum / 20000);
}

/* growable arrays and byte buffers: contents kept across growth, the NUL
 * after the bytes, the cap, overflow refused */
static void buffers(void)
{
	int *a = NULL;
	size_t alloc = 0;
	for (size_t i = 0; i < 1000; i++) {
		CHECK_EQ_INT(TS_ALLOC_GROW(a, alloc, i + 1), 0);
		a[i] = (int)i * 3;
	}
	CHECK(alloc >= 1000 && alloc < 2048);
	int ok = 1;
	for (size_t i = 0; i < 1000; i++)
		ok &= a[i] == (int)i * 3;
	CHECK(ok);
	int *keep = a;
	CHECK_EQ_INT(ts_alloc_grow(&a, &alloc, SIZE_MAX / 2, sizeof(int)), TS_ERR_NOMEM);
	CHECK(a == keep);
	free(a);

	struct ts_buf b = TS_BUF_INIT;
	CHECK_EQ_INT(ts_buf_adds(&b, "tessera"), 0);
	CHECK_EQ_INT(ts_buf_addch(&b, ' '), 0);
	CHECK_EQ_INT(ts_buf_addf(&b, "%d:%s", 42, "x"), 0);
	CHECK_EQ_STR(b.data, "tessera 42:x");
	CHECK_EQ_INT((int)b.len, 12);
	char big[600];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ_INT(ts_buf_addf(&b, "[%s]", big), 0);   /* longer than the stack copy */
	CHECK_EQ_INT((int)b.len, 12 + 601);
	CHECK(b.data[b.len] == '\0' && b.data[b.len - 1] == ']' && b.data[13] == 'q');
	ts_buf_reset(&b);
	CHECK(b.len == 0 && b.data[0] == '\0');
	size_t n;
	char *d = ts_buf_detach(&b, &n);
	CHECK(d && n == 0 && d[0] == '\0' && b.data == NULL);
	free(d);
	struct ts_buf c = TS_BUF_INIT;
	c.max = 8;
	CHECK_EQ_INT(ts_buf_add(&c, "12345678", 8), 0);
	CHECK_EQ_INT(ts_buf_addch(&c, '9'), TS_ERR_LIMIT);
	CHECK_EQ_STR(c.data, "12345678");
	ts_buf_release(&c);
	CHECK(c.data == NULL && c.len == 0 && c.max == 8);
}

/* the one rule: the input's fault is a reject, ours ends the run */
static void reject_or_fatal(void)
{
	static const struct { int status; enum ts_reason reason; int reject; } cases[] = {
		{ TS_ERR_INVALID, TS_R_IMAGE_CORRUPT, 1 },
		{ TS_ERR_INVALID, TS_R_NONE, 1 },
		{ TS_ERR_LIMIT, TS_R_IMAGE_TOO_LARGE, 1 },
		{ TS_ERR_UNSUPPORTED, TS_R_NONE, 1 },
		{ TS_ERR_IO, TS_R_SOURCE_UNREADABLE, 1 },   /* an input that cannot be read */
		{ TS_ERR_IO, TS_R_NONE, 0 },                /* the output, or ours */
		{ TS_ERR_NOMEM, TS_R_NONE, 0 },
		{ TS_ERR_NOMEM, TS_R_IMAGE_TOO_LARGE, 0 },  /* no memory is never the sample's fault */
		{ TS_ERR_INTERNAL, TS_R_NONE, 0 },
		{ TS_ERR_INTERNAL, TS_R_IMAGE_ENCODE_FAILED, 1 },  /* an image the encoder refuses */
		{ TS_ERR_USAGE, TS_R_NONE, 0 },
		{ TS_ERR_EXISTS, TS_R_NONE, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ts_err e = TS_ERR_INIT;
		ts_err_set(&e, cases[i].status, cases[i].reason, "x");
		CHECKF(ts_err_is_reject(&e) == cases[i].reject, "%s with reason %s: expected %s, got %s",
		       ts_status_name(cases[i].status), ts_reason_name(cases[i].reason),
		       cases[i].reject ? "a reject" : "fatal", cases[i].reject ? "fatal" : "a reject");
	}
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "reasons_unique", reasons_unique },
		{ "err_set", err_set },
		{ "caption_check", caption_check },
		{ "reasons_documented", reasons_documented },
		{ "rng_reference", rng_reference },
		{ "buffers", buffers },
		{ "reject_or_fatal", reject_or_fatal },
		{ NULL, NULL },
	};
	return t_run("base", cases);
}
