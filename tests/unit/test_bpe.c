/*
 * test_bpe.c - the CLIP tokenizer against the reference vectors in
 * ../shared/tokenizer (ids and cleaned text, per category), the context
 * rule, vocabulary errors and two threads sharing one vocabulary.
 * Every category of every file must agree 100%, ids and cleaned text.
 */
#include "tests/unit/t.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "captions/bpe.h"

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

/* general: every caption through the general path (full cleaning chain,
 * pcre2 pre-tokenizer) instead of the plain-ASCII fast paths */
static void run_file_path(const char *name, int general)
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
	ts_bpe_ctx_general(c, general);
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
		if ((!ok_ids || !ok_clean) && shown++ < 3)
			fprintf(stderr, "  %s mismatch: %.80s\n", cat, json_string_value(text));
		json_decref(j);
	}
	fclose(f);
	ts_bpe_ctx_free(c);
	for (int k = 0; k < nt; k++) {
		printf("  %s%s category %s: ids %d/%d, clean %d/%d\n", name, general ? " (general path)" : "",
		       t[k].cat, t[k].ids_ok, t[k].n, t[k].clean_ok, t[k].n);
		CHECKF(t[k].ids_ok == t[k].n && t[k].clean_ok == t[k].n, "%s: %s", name, t[k].cat);
	}
}

static void run_file(const char *name) { run_file_path(name, 0); }

static void vectors_edge(void) { run_file("vectors-edge.jsonl"); }
static void vectors_long(void) { run_file("vectors-long.jsonl"); }
static void vectors_flickr8k(void) { run_file("vectors-flickr8k.jsonl"); }

/* The same vectors through the general path: the fast paths are only a
 * shortcut, so both must give the reference's ids. */
static void vectors_general(void)
{
	run_file_path("vectors-edge.jsonl", 1);
	run_file_path("vectors-long.jsonl", 1);
	run_file_path("vectors-flickr8k.jsonl", 1);
}

/* Text built to hit the fast paths' edges (case, contractions at the end,
 * specials, digits, runs of punctuation, controls, every kind of white
 * space, words longer than 16 bytes, '&' and entities, and non-ASCII that
 * ends a fast path part way): fast and general paths agree on the cleaned
 * text, the ids and the piece offsets. */
static void fast_vs_general(void)
{
	if (!load())
		SKIP("../shared/tokenizer not found");
	static const char *atoms[] = {
		"a", "A", "dog", "DOG", "Dog's", "'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'d", "'x",
		"'", "''", "<|startoftext|>", "<|endoftext|>", "<|ENDOFTEXT|>", "<|end", "<", "|", ">",
		"0", "42", "1999", "3.5", ",", ".", "...", "!?", "-", "--", "(", ")", "\"", "#", "@", "~",
		" ", "  ", "\t", "\n", "\r", "\f", "\v", "\x1c", "\x1f", "\x01", "\x7f",
		"supercalifragilistic", "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefgh", "abcdefghi",
		"pneumonoultramicroscopicsilicovolcanoconiosis", "x", "zz", "q1", "a_b", "[", "]",
		"&", "&amp;", "&lt;b&gt;", "AT&T", "&#39;", "&nbsp;",
		/* and a few that end the fast paths part way */
		"caf\xc3\xa9", "\xe2\x80\x99", "\xc3\xa2\xe2\x82\xac\xe2\x84\xa2", "\xef\xbc\xa1",
	};
	const size_t na = sizeof(atoms) / sizeof(atoms[0]);
	struct ts_bpe_ctx *fast = ts_bpe_ctx_new(bpe), *gen = ts_bpe_ctx_new(bpe);
	ts_bpe_ctx_general(gen, 1);
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	int bad = 0, n_ok = 0;
	for (int it = 0; it < 20000 && bad < 3; it++) {
		char text[512];
		size_t tl = 0;
		int parts = 1 + (int)(r % 12);
		for (int p = 0; p < parts; p++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			const char *a = atoms[r % na];
			size_t al = strlen(a);
			if (tl + al >= sizeof(text))
				break;
			memcpy(text + tl, a, al);
			tl += al;
		}
		struct ts_err e1 = TS_ERR_INIT, e2 = TS_ERR_INIT;
		const int32_t *i1, *i2;
		const uint32_t *o1, *o2;
		const char *c1, *c2;
		size_t n1, n2, l1, l2;
		int r1 = ts_bpe_encode(fast, text, tl, &i1, &n1, &e1);
		int r2 = ts_bpe_encode(gen, text, tl, &i2, &n2, &e2);
		ts_bpe_last_pieces(fast, &c1, &l1, &o1);
		ts_bpe_last_pieces(gen, &c2, &l2, &o2);
		int same = r1 == 0 && r2 == 0 && n1 == n2 && l1 == l2 && !memcmp(c1, c2, l1) &&
			   !memcmp(i1, i2, n1 * sizeof(*i1)) && !memcmp(o1, o2, n1 * sizeof(*o1));
		if (!same) {
			fprintf(stderr, "  fast and general paths differ on \"%.*s\": %zu ids \"%.*s\" against %zu ids \"%.*s\"\n",
				(int)tl, text, n1, (int)l1, c1, n2, (int)l2, c2);
			bad++;
		}
		n_ok += same;
	}
	CHECKF(bad == 0, "%d texts differ", bad);
	printf("  fast and general paths agree on %d generated texts\n", n_ok);
	ts_bpe_ctx_free(fast);
	ts_bpe_ctx_free(gen);
}

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
}


/* Bad input: a clear error or a documented result, never a crash. */
static void bad_input(void)
{
	if (!load())
		SKIP("../shared/tokenizer not found");
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	const int32_t *ids, *one;
	size_t n, n1;

	/* invalid UTF-8 is an error naming it */
	CHECK(ts_bpe_encode(c, "caf\xc3 au lait", 13, &ids, &n, &e) < 0);
	CHECKF(e.reason == TS_R_CAPTION_INVALID_UTF8, "%s", e.msg);
	CHECK(ts_bpe_encode(c, "\xed\xa0\x80 surrogate", 13, &ids, &n, &e) < 0);
	/* a NUL byte is a control character: dropped, as ftfy does */
	int32_t ab[8];
	CHECK(ts_bpe_encode(c, "a dog", 5, &ids, &n, &e) == 0 && n == 2);
	memcpy(ab, ids, 2 * sizeof(*ids));
	CHECK(ts_bpe_encode(c, "a d\0og", 6, &ids, &n, &e) == 0);
	CHECKF(n == 2 && ids[0] == ab[0] && ids[1] == ab[1], "%zu", n);
	/* white space only: no tokens */
	CHECK(ts_bpe_encode(c, " \t\r\n \xe2\x80\x83", 8, &ids, &n, &e) == 0 && n == 0);
	/* a 1 MB caption: 262144 words of "dog", each one token */
	size_t big = 4 * 262144;
	char *t = malloc(big);
	CHECK(ts_bpe_encode(c, "dog", 3, &one, &n1, &e) == 0 && n1 == 1);
	int32_t dog = one[0];
	for (size_t i = 0; t && i < big; i += 4)
		memcpy(t + i, "dog ", 4);
	CHECK(t && ts_bpe_encode(c, t, big, &ids, &n, &e) == 0);
	CHECKF(n == 262144, "%zu", n);
	for (size_t i = 0; i < n; i += 4096)
		CHECK(ids[i] == dog);
	free(t);
	ts_bpe_ctx_free(c);
}

/* ts_bpe_last_pieces: where each id's word starts in the cleaned text. */
static void pieces(void)
{
	if (!load())
		SKIP("../shared/tokenizer not found");
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	const int32_t *ids;
	const uint32_t *at;
	const char *clean;
	size_t n, cl;
	const char *s = "  A Dog's   bone,  Pneumonoultramicroscopic!";
	CHECK(ts_bpe_encode(c, s, strlen(s), &ids, &n, &e) == 0);
	ts_bpe_last_pieces(c, &clean, &cl, &at);
	CHECK_EQ_STR(clean, "a dog's bone, pneumonoultramicroscopic!");
	CHECK(cl == strlen(clean));
	/* a | dog | 's | bone | , | pneumono... (several ids) | ! */
	CHECKF(n > 7, "%zu", n);
	CHECK(at[0] == 0 && at[1] == 2 && at[2] == 5 && at[3] == 8 && at[4] == 12);
	for (size_t i = 5; i + 1 < n; i++)
		CHECK(at[i] == 14);
	CHECK(at[n - 1] == cl - 1);
	ts_bpe_ctx_free(c);
}

/* Gzip files that are not a vocabulary, or are cut short. */
static void vocab_files(void)
{
	struct ts_bpe *b = NULL;
	struct ts_err e = TS_ERR_INIT;
	char d[] = "/tmp/ts-vocab-XXXXXX", p[256], cmd[1024];
	if (!mkdtemp(d))
		SKIP("cannot create a temporary directory");
	/* not gzip at all */
	snprintf(p, sizeof(p), "%s/plain.gz", d);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs("this is not gzip\n", f);
		fclose(f);
	}
	CHECK(ts_bpe_load(&b, p, &e) < 0);
	/* a gzip of some other text */
	snprintf(cmd, sizeof(cmd), "printf 'hello world\\nsecond line\\n' | gzip -c > %s/other.gz", d);
	CHECK(system(cmd) == 0);
	snprintf(p, sizeof(p), "%s/other.gz", d);
	CHECK(ts_bpe_load(&b, p, &e) < 0 && b == NULL);
	CHECKF(e.msg[0], "no message");
	if (load()) {
		/* the real vocabulary cut in half */
		snprintf(cmd, sizeof(cmd), "head -c 200000 %s > %s/cut.gz", vocab_path(), d);
		CHECK(system(cmd) == 0);
		snprintf(p, sizeof(p), "%s/cut.gz", d);
		CHECK(ts_bpe_load(&b, p, &e) < 0 && b == NULL);
		CHECKF(e.msg[0], "no message");
	} else {
		t_extra_skipped++;
		printf("SKIPPED bpe.vocab_files.cut: ../shared/tokenizer not found\n");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
	CHECK(system(cmd) == 0);
}

struct job {
	const char *text;
	int32_t ids[64];
	size_t n;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	const int32_t *ids;
	for (int r = 0; r < 2000; r++) {
		if (ts_bpe_encode(c, j->text, strlen(j->text), &ids, &j->n, &e) == 0 && j->n <= 64)
			memcpy(j->ids, ids, j->n * sizeof(*ids));
	}
	ts_bpe_ctx_free(c);
	return NULL;
}

static void threads(void)
{
	if (!load())
		SKIP("../shared/tokenizer not found");
	struct job a = { "A little girl climbing into a wooden playhouse .", { 0 }, 0 };
	struct job b = a;
	pthread_t ta, tb;
	pthread_create(&ta, NULL, worker, &a);
	pthread_create(&tb, NULL, worker, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	/* both threads agree with a single-threaded encoding */
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	const int32_t *ids;
	size_t n = 0;
	CHECK(ts_bpe_encode(c, a.text, strlen(a.text), &ids, &n, &e) == 0 && n > 5);
	CHECKF(a.n == n && b.n == n && !memcmp(a.ids, ids, n * sizeof(int32_t)) &&
	       !memcmp(b.ids, ids, n * sizeof(int32_t)), "%zu %zu %zu", a.n, b.n, n);
	ts_bpe_ctx_free(c);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "vectors_edge", vectors_edge },
		{ "vectors_long", vectors_long },
		{ "vectors_flickr8k", vectors_flickr8k },
		{ "vectors_general", vectors_general },
		{ "fast_vs_general", fast_vs_general },
		{ "context_rule", context_rule },
		{ "specials", specials },
		{ "vocab_errors", vocab_errors },
		{ "threads", threads },
		{ "bad_input", bad_input },
		{ "pieces", pieces },
		{ "vocab_files", vocab_files },
		{ NULL, NULL },
	};
	int rc = t_run("bpe", cases);
	ts_bpe_free(bpe);
	return rc;
}
