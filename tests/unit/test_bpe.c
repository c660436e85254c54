/*
 * test_bpe.c - the CLIP tokenizer against the reference vectors in
 * ../shared/tokenizer (ids and cleaned text, per category), the context
 * rule, vocabulary errors, bad input, ftfy behaviours pinned from the
 * reference (ftfy 6.3.1 + CLIP's simple_tokenizer), and two threads
 * sharing one vocabulary.  Every category of every file must be 100%.
 */
#include "t.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../../captions/bpe.h"

static struct ts_bpe *bpe;

static const char *vocab_path(void)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/tokenizer/bpe_simple_vocab_16e6.txt.gz", t_shared());
	return p;
}

static int load(void)
{
	struct ts_err e = TS_ERR_INIT;
	if (bpe)
		return 1;
	if (access(vocab_path(), R_OK))
		return 0;
	return ts_bpe_load(&bpe, vocab_path(), &e) == 0;
}

struct tally {
	char cat[32];
	int n, ids_ok, clean_ok;
};

/* "1 2 3" of the first differing ids, for a mismatch report */
static void show_ids(char *buf, size_t cap, const int32_t *ids, size_t n, json_t *want)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < (ids ? n : json_array_size(want)) && i < 12 && o + 16 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? " " : "",
				      ids ? (long long)ids[i] : (long long)json_integer_value(json_array_get(want, i)));
}

static void run_file(const char *name)
{
	char p[512], line[1 << 16];
	struct tally t[16];
	int nt = 0, shown = 0;
	snprintf(p, sizeof(p), "%s/tokenizer/%s", t_shared(), name);
	FILE *f = fopen(p, "r");
	if (!f || !load()) {
		if (f)
			fclose(f);
		t_skip_reason = "../shared/tokenizer not found";
		return;
	}
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	memset(t, 0, sizeof(t));
	while (fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *j = json_loads(line, 0, &je);
		const char *cat = json_string_value(json_object_get(j, "category"));
		json_t *text = json_object_get(j, "text"), *want = json_object_get(j, "ids");
		const char *clean_want = json_string_value(json_object_get(j, "clean"));
		int k;
		for (k = 0; k < nt && strcmp(t[k].cat, cat); k++)
			;
		if (k == nt && nt < 16)
			snprintf(t[nt++].cat, sizeof(t[0].cat), "%s", cat);
		struct ts_err e = TS_ERR_INIT;
		const int32_t *ids;
		const char *clean;
		size_t n, cl;
		int ok_ids = ts_bpe_encode(c, json_string_value(text), json_string_length(text), &ids, &n, &e) == 0 &&
			     n == json_array_size(want);
		for (size_t i = 0; ok_ids && i < n; i++)
			ok_ids = ids[i] == json_integer_value(json_array_get(want, i));
		int ok_clean = ts_bpe_clean(c, json_string_value(text), json_string_length(text), &clean, &cl, &e) == 0 &&
			       !strcmp(clean, clean_want);
		t[k].n++;
		t[k].ids_ok += ok_ids;
		t[k].clean_ok += ok_clean;
		if ((!ok_ids || !ok_clean) && shown++ < 5) {
			char got[256], exp[256];
			ts_bpe_clean(c, json_string_value(text), json_string_length(text), &clean, &cl, &e);
			fprintf(stderr, "  %s mismatch: text \"%.100s\"\n    clean want \"%.100s\"\n    clean got  \"%.100s\"\n",
				cat, json_string_value(text), clean_want, clean);
			if (ts_bpe_encode(c, json_string_value(text), json_string_length(text), &ids, &n, &e) == 0) {
				show_ids(exp, sizeof(exp), NULL, 0, want);
				show_ids(got, sizeof(got), ids, n, want);
				fprintf(stderr, "    ids want [%s] (%zu)\n    ids got  [%s] (%zu)\n", exp,
					json_array_size(want), got, n);
			}
		}
		json_decref(j);
	}
	fclose(f);
	ts_bpe_ctx_free(c);
	for (int k = 0; k < nt; k++) {
		printf("  tokenizer: %s category %s %d/%d ids, %d/%d clean\n", name, t[k].cat,
		       t[k].ids_ok, t[k].n, t[k].clean_ok, t[k].n);
		CHECKF(t[k].ids_ok == t[k].n && t[k].clean_ok == t[k].n, "%s: %s", name, t[k].cat);
	}
}

static void vectors_edge(void) { run_file("vectors-edge.jsonl"); }
static void vectors_long(void) { run_file("vectors-long.jsonl"); }
static void vectors_flickr8k(void) { run_file("vectors-flickr8k.jsonl"); }

static void context_rule(void)
{
	int32_t ids[300], out[248];
	for (int i = 0; i < 300; i++)
		ids[i] = 1000 + i;
	CHECK(ts_bpe_context(ids, 3, 77, out) == 5);
	CHECK(out[0] == TS_BPE_SOT && out[1] == 1000 && out[3] == 1002 && out[4] == TS_BPE_EOT && out[5] == 0 && out[76] == 0);
	CHECK(ts_bpe_context(ids, 75, 77, out) == 77 && out[75] == 1074 && out[76] == TS_BPE_EOT);
	CHECK(ts_bpe_context(ids, 76, 77, out) == 77 && out[75] == 1074 && out[76] == TS_BPE_EOT);
	CHECK(ts_bpe_context(ids, 300, 248, out) == 248 && out[246] == 1245 && out[247] == TS_BPE_EOT);
}

static void specials(void)
{
	if (!load())
		SKIP("../shared/tokenizer not found");
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	const int32_t *ids;
	size_t n;
	const char *s = "a <|endoftext|> b";
	CHECK(ts_bpe_encode(c, s, strlen(s), &ids, &n, &e) == 0 && n == 3 && ids[1] == TS_BPE_EOT);
	CHECK(ts_bpe_encode(c, "", 0, &ids, &n, &e) == 0 && n == 0);
	ts_bpe_ctx_free(c);
}

/* From the reference (ftfy 6.3.1 and CLIP's simple_tokenizer.py) */
static const struct pinned {
	const char *why, *text, *clean;
	int32_t ids[24];
	size_t n;
} pinned[] = {
	{ "NEL is ftfy's C1 ellipsis; CRLF and U+2028 are line breaks",
	  "a\302\205b\015\012c\342\200\250d",
	  "a\342\200\246b c d",
	  { 320, 959, 321, 322, 323 }, 5 },
	{ "terminal escapes and control characters go",
	  "\033[31mred\033[0m text\007",
	  "red text",
	  { 736, 4160 }, 2 },
	{ "ftfy's upper-case entities and its unescape to a fixed point",
	  "&EACUTE;t&eacute; &amp;amp;amp;lt;b&gt;",
	  "\303\251t\303\251 <b>",
	  { 3459, 39694, 283, 321, 285 }, 5 },
	{ "a '<' turns ftfy's unescape off for that line and the ones after",
	  "<b>&amp;amp;</b>\012&amp;amp;",
	  "<b>&</b> &",
	  { 283, 321, 29, 5, 34308, 321, 285, 261 }, 8 },
	{ "ftfy's ligature table, not NFKC",
	  "\357\254\205 \357\254\201ne \305\211 \304\263",
	  "\305\277t fine 'n ij",
	  { 129, 123, 339, 3797, 262, 333, 72, 329 }, 8 },
	{ "Python's final sigma",
	  "\316\237\316\224\316\237\316\243 \316\243\316\221\316\243 \316\243",
	  "\316\277\316\264\316\277\317\202 \317\203\316\261\317\202 \317\203",
	  { 138, 123, 138, 112, 138, 123, 139, 480, 139, 225, 138, 109, 139, 480, 139, 481 }, 16 },
	{ "dotted capital I lowers to two characters",
	  "\304\260stanbul",
	  "i\314\207stanbul",
	  { 328, 16384, 11231 }, 3 },
	{ "full width",
	  "\357\274\246\357\274\265\357\274\254\357\274\254\343\200\200\357\275\227\357\275\211\357\275\204\357\275\224\357\275\210\357\274\201",
	  "full width!",
	  { 1476, 23571, 256 }, 3 },
	{ "restore_byte_a0",
	  "voil\303\203  le travail",
	  "voil\303\240 le travail",
	  { 947, 543, 21259, 579, 752, 21189 }, 6 },
	{ "mojibake in Windows-1252",
	  "the caf\303\203\302\251 and the \303\203\302\274ber caf\303\203\302\251",
	  "the caf\303\251 and the \303\274ber caf\303\251",
	  { 518, 15304, 537, 518, 6522, 1516, 15304 }, 7 },
	{ "mojibake in Latin-1 (C1 controls)",
	  "don\303\242\302\200\302\231t",
	  "don't",
	  { 847, 713 }, 2 },
	{ "mojibake of Cyrillic",
	  "\303\220\302\277\303\221\342\202\254\303\220\302\270\303\220\302\262\303\220\302\265\303\221\342\200\232",
	  "\320\277\321\200\320\270\320\262\320\265\321\202",
	  { 26302, 16370, 29503, 110, 22176, 141, 480 }, 7 },
	{ "mojibake beside correct text: decode_inconsistent_utf8",
	  "na\303\257ve caf\303\203\302\251 \342\200\224 \303\203\302\274ber",
	  "na\303\257ve caf\303\251 \342\200\224 \303\274ber",
	  { 1097, 35689, 563, 15304, 2005, 6522, 1516 }, 7 },
	{ "curly quotes",
	  "\342\200\234why\342\200\235 \342\200\230not\342\200\231",
	  "\"why\" 'not'",
	  { 257, 1182, 257, 262, 783, 262 }, 6 },
	{ "special tokens anywhere, any case",
	  "a<|endoftext|>b <|STARTOFTEXT|>",
	  "a<|endoftext|>b <|startoftext|>",
	  { 320, 49407, 321, 49406 }, 4 },
	{ "NFC",
	  "e\314\201t\303\251",
	  "\303\251t\303\251",
	  { 3459, 39694 }, 2 },
	{ "BOM, ZWSP stays, deprecated format characters go",
	  "\357\273\277bom\342\200\213\342\201\252",
	  "bom\342\200\213",
	  { 19469, 9844 }, 2 },
	{ "numeric references with the HTML5 fix-ups",
	  "&#x1F600; &#128512; &#150; &#0;",
	  "\360\237\230\200 \360\237\230\200 \342\200\223 \357\277\275",
	  { 7334, 7334, 1224, 39802 }, 4 },
	{ "whitespace runs and Unicode spaces",
	  "  a\302\240\342\200\203 b\011\034 c  ",
	  "a b c",
	  { 320, 321, 322 }, 3 },
};

static void ftfy_pinned(void)
{
	if (!load())
		SKIP("../shared/tokenizer not found");
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	for (size_t k = 0; k < sizeof(pinned) / sizeof(pinned[0]); k++) {
		const struct pinned *p = &pinned[k];
		struct ts_err e = TS_ERR_INIT;
		const char *clean = NULL;
		const int32_t *ids = NULL;
		size_t cl = 0, n = 0;
		CHECKF(ts_bpe_clean(c, p->text, strlen(p->text), &clean, &cl, &e) == 0 &&
		       !strcmp(clean, p->clean), "%s: clean \"%s\", want \"%s\"", p->why,
		       clean ? clean : e.msg, p->clean);
		CHECKF(ts_bpe_encode(c, p->text, strlen(p->text), &ids, &n, &e) == 0 && n == p->n &&
		       !memcmp(ids, p->ids, n * sizeof(int32_t)), "%s: ids differ", p->why);
	}
	ts_bpe_ctx_free(c);
}

/* Bad input: invalid UTF-8 is a sample error, NUL bytes are control
 * characters (dropped), a blank caption has no tokens, 1 MB is fast. */
static void bad_input(void)
{
	if (!load())
		SKIP("../shared/tokenizer not found");
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	const int32_t *ids;
	const char *cl;
	size_t n, cn;
	CHECK(ts_bpe_encode(c, "caf\xe9", 4, &ids, &n, &e) == TS_ERR_INVALID &&
	      e.reason == TS_R_CAPTION_INVALID_UTF8);
	CHECK(ts_bpe_encode(c, "\xed\xa0\x80", 3, &ids, &n, &e) == TS_ERR_INVALID);
	CHECK(ts_bpe_clean(c, "a\0b", 3, &cl, &cn, &e) == 0 && !strcmp(cl, "ab"));
	CHECK(ts_bpe_encode(c, " \t\n\r\f\v ", 7, &ids, &n, &e) == 0 && n == 0);
	size_t big = 1 << 20;
	char *s = malloc(big);
	const char *w[] = { "the quick brown fox jumps over the lazy dog. ", "caf\xc3\xa9 ", "aaaa", "\xc3\x83\xc2\xa9" };
	for (size_t k = 0; s && k < sizeof(w) / sizeof(w[0]); k++) {
		size_t wl = strlen(w[k]), len = big - big % wl;
		for (size_t i = 0; i < len; i += wl)
			memcpy(s + i, w[k], wl);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rc = ts_bpe_encode(c, s, len, &ids, &n, &e);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		CHECKF(rc == 0 && n > 0, "1 MB of \"%s\": %s", w[k], e.msg);
		/* generous, so sanitizer builds pass too */
		CHECKF(dt < 5.0, "1 MB of \"%s\" took %.2f s", w[k], dt);
	}
	free(s);
	ts_bpe_ctx_free(c);
}

static int write_gz(const char *path, const char *text, size_t len)
{
	gzFile g = gzopen(path, "wb");
	if (!g)
		return -1;
	int ok = gzwrite(g, text, (unsigned)len) == (int)len;
	return gzclose(g) == Z_OK && ok ? 0 : -1;
}

static void vocab_errors(void)
{
	struct ts_bpe *b = NULL;
	struct ts_err e = TS_ERR_INIT;
	CHECK(ts_bpe_load(&b, "/nonexistent/vocab.txt.gz", &e) < 0 && strstr(e.msg, "cannot open"));
	char p[] = "/tmp/ts-bpe-XXXXXX";
	int fd = mkstemp(p);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, "\"bpe_simple_vocab_16e6.txt#version: 0.2\ni n\nt h\nnot a merge line here\n", 70) == 70);
		close(fd);
		CHECK(ts_bpe_load(&b, p, &e) < 0 && strstr(e.msg, "malformed"));
		unlink(p);
	}
	/* gzip files: not a vocabulary at all; the right header but too few merges */
	char dir[] = "/tmp/ts-bpe-XXXXXX", gz[600];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(gz, sizeof(gz), "%s/bad.txt.gz", dir);
	CHECK(write_gz(gz, "hello world\n", 12) == 0);
	CHECK(ts_bpe_load(&b, gz, &e) == TS_ERR_INVALID && strstr(e.msg, "not a CLIP BPE merges file"));
	const char *few = "\"bpe_simple_vocab_16e6.txt#version: 0.2\ni n\nt h\n";
	CHECK(write_gz(gz, few, strlen(few)) == 0);
	CHECK(ts_bpe_load(&b, gz, &e) == TS_ERR_INVALID && strstr(e.msg, "merge line 3"));
	unlink(gz);
	rmdir(dir);
	CHECK(b == NULL);
	/* no path: $TESSERA_VOCAB, then the installed copy, then ../shared/tokenizer */
	if (!access(vocab_path(), R_OK)) {
		setenv("TESSERA_VOCAB", vocab_path(), 1);
		CHECK(ts_bpe_load(&b, NULL, &e) == 0 && b);
		ts_bpe_free(b);
		b = NULL;
		unsetenv("TESSERA_VOCAB");
		if (!strcmp(t_shared(), "../shared")) {
			CHECK(ts_bpe_load(&b, NULL, &e) == 0 && b);
			ts_bpe_free(b);
		}
	}
	ts_bpe_free(NULL);
}

/* Two threads encode all of vectors-flickr8k.jsonl, each with its own
 * context on the shared vocabulary; both must match the reference. */
struct job {
	json_t *lines;
	size_t ok;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	const int32_t *ids;
	size_t n;
	for (size_t i = 0; c && i < json_array_size(j->lines); i++) {
		json_t *l = json_array_get(j->lines, i), *text = json_object_get(l, "text"),
		       *want = json_object_get(l, "ids");
		int ok = ts_bpe_encode(c, json_string_value(text), json_string_length(text), &ids, &n, &e) == 0 &&
			 n == json_array_size(want);
		for (size_t k = 0; ok && k < n; k++)
			ok = ids[k] == json_integer_value(json_array_get(want, k));
		j->ok += (size_t)ok;
	}
	ts_bpe_ctx_free(c);
	return NULL;
}

static void threads(void)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/tokenizer/vectors-flickr8k.jsonl", t_shared());
	if (!load() || access(p, R_OK))
		SKIP("../shared/tokenizer not found");
	json_t *lines = json_array();
	FILE *f = fopen(p, "r");
	char line[1 << 16];
	while (f && fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *j = json_loads(line, 0, &je);
		if (j)
			json_array_append_new(lines, j);
	}
	if (f)
		fclose(f);
	struct job a = { lines, 0 }, b = { lines, 0 };
	pthread_t ta, tb;
	CHECK(pthread_create(&ta, NULL, worker, &a) == 0);
	CHECK(pthread_create(&tb, NULL, worker, &b) == 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECKF(json_array_size(lines) > 0 && a.ok == json_array_size(lines) && b.ok == a.ok,
	       "%zu %zu of %zu", a.ok, b.ok, json_array_size(lines));
	json_decref(lines);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "vectors_edge", vectors_edge },
		{ "vectors_long", vectors_long },
		{ "vectors_flickr8k", vectors_flickr8k },
		{ "context_rule", context_rule },
		{ "specials", specials },
		{ "ftfy_pinned", ftfy_pinned },
		{ "bad_input", bad_input },
		{ "vocab_errors", vocab_errors },
		{ "threads", threads },
		{ NULL, NULL },
	};
	int rc = t_run("bpe", cases);
	ts_bpe_free(bpe);
	return rc;
}
