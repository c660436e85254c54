/*
 * test_str.c - scene-text labels and LMDB: the built-in and file charsets,
 * the CLIP4STR label filter step by step (whitespace, NFKD, the length
 * limit before the charset step, the case adapter), character ids, the
 * LMDB writer and reader (round trip byte for byte, the shared mmocr
 * environments) and damaged data.mdb files (clear errors, no crash).
 *
 * Temporary files live under one mkdtemp directory, removed at the end.
 * Cases that need ../shared say SKIPPED when it is absent.
 */
#include "tests/unit/t.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "captions/strlabel.h"
#include "shards/lmdb_store.h"

static char tmp_root[64];

static const char *tmp(void)
{
	if (!tmp_root[0]) {
		strcpy(tmp_root, "/tmp/ts-str-XXXXXX");
		if (!mkdtemp(tmp_root)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return tmp_root;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(data, 1, len, f);
	return (fclose(f) || n != len) ? -1 : 0;
}

static struct ts_charset *cs_new(const char *spec)
{
	struct ts_charset *cs = NULL;
	struct ts_err e = TS_ERR_INIT;
	if (ts_charset_new(&cs, spec, &e))
		fprintf(stderr, "  charset %s: %s\n", spec, e.msg);
	return cs;
}

/* Run the filter; returns the result (static buffer) or the reason name. */
static const char *filt(const struct ts_charset *cs, long max, const char *label)
{
	static char buf[256];
	struct ts_err e = TS_ERR_INIT;
	char *out;
	size_t n;
	if (ts_strlabel_filter(cs, max, label, strlen(label), &out, &n, &e)) {
		snprintf(buf, sizeof(buf), "<%s>", ts_reason_name(e.reason));
		return buf;
	}
	snprintf(buf, sizeof(buf), "%s", out);
	if (strlen(buf) != n)
		snprintf(buf, sizeof(buf), "<length mismatch>");
	free(out);
	return buf;
}

/* ---- charsets ---- */

static void charsets_builtin(void)
{
	struct ts_charset *c94 = cs_new("94"), *c36 = cs_new("36"), *c62 = cs_new("62");
	CHECK(c94 && c36 && c62);
	if (!c94 || !c36 || !c62)
		goto out;
	CHECK_EQ_INT(ts_charset_size(c94), 94);
	CHECK_EQ_INT(ts_charset_size(c36), 36);
	CHECK_EQ_INT(ts_charset_size(c62), 62);
	/* 94 = digits, lower, upper, then every ASCII punctuation mark */
	int punct = 0;
	for (int c = 0x21; c < 0x7f; c++) {
		CHECKF(ts_charset_index(c94, c) >= 0, "'%c' missing from 94", c);
		punct += ispunct(c) != 0;
	}
	CHECK_EQ_INT(punct, 32);
	CHECK_EQ_INT(ts_charset_index(c94, ' '), -1);
	CHECK_EQ_INT(ts_charset_index(c94, '0'), 0);
	CHECK_EQ_INT(ts_charset_index(c94, 'a'), 10);
	CHECK_EQ_INT(ts_charset_index(c94, 'A'), 36);
	CHECK_EQ_INT(ts_charset_index(c94, '!'), 62);
	CHECK_EQ_INT(ts_charset_index(c94, '~'), 93);
	for (size_t i = 0; i < 62; i++)   /* the smaller sets are prefixes of 94 */
		CHECK(ts_charset_at(c62, i) == ts_charset_at(c94, i));
	CHECK_EQ_INT(ts_charset_index(c36, 'A'), -1);
	CHECK(ts_charset_case(c36) == TS_CASE_LOWER);
	CHECK(ts_charset_case(c62) == TS_CASE_MIXED);
	CHECK(ts_charset_case(c94) == TS_CASE_MIXED);
out:
	ts_charset_free(c94);
	ts_charset_free(c36);
	ts_charset_free(c62);
}

static void charsets_file(void)
{
	char path[128];
	struct ts_charset *cs = NULL;
	struct ts_err e = TS_ERR_INIT;

	snprintf(path, sizeof(path), "%s/upper.txt", tmp());
	CHECK(write_file(path, "ABC\xc3\x89\r\n", 7) == 0);   /* A B C É, CRLF ignored */
	cs = cs_new(path);
	CHECK(cs != NULL);
	if (cs) {
		CHECK_EQ_INT(ts_charset_size(cs), 4);
		CHECK(ts_charset_case(cs) == TS_CASE_UPPER);
		CHECK_EQ_INT(ts_charset_index(cs, 0xc9), 3);
		CHECK_EQ_STR(ts_charset_name(cs), path);
	}
	ts_charset_free(cs);
	cs = NULL;

	snprintf(path, sizeof(path), "%s/dup.txt", tmp());
	CHECK(write_file(path, "abca", 4) == 0);
	CHECK_EQ_INT(ts_charset_new(&cs, path, &e), TS_ERR_INVALID);
	CHECKF(strstr(e.msg, "'a'") && strstr(e.msg, "twice"), "%s", e.msg);
	snprintf(path, sizeof(path), "%s/latin1.txt", tmp());
	CHECK(write_file(path, "ab\xe9", 3) == 0);
	CHECK_EQ_INT(ts_charset_new(&cs, path, &e), TS_ERR_INVALID);
	CHECKF(strstr(e.msg, "UTF-8") != NULL, "%s", e.msg);
	snprintf(path, sizeof(path), "%s/empty.txt", tmp());
	CHECK(write_file(path, "\n", 1) == 0);
	CHECK_EQ_INT(ts_charset_new(&cs, path, &e), TS_ERR_INVALID);
	CHECKF(strstr(e.msg, "empty") != NULL, "%s", e.msg);
	CHECK_EQ_INT(ts_charset_new(&cs, "/nonexistent/charset.txt", &e), TS_ERR_IO);
	CHECKF(strstr(e.msg, "cannot open charset file") != NULL, "%s", e.msg);
	CHECK(cs == NULL);
}

/* ---- the filter ---- */

/* the message of a rejected label shows it as UTF-8, escaping only
 * control characters */
static const char *filt_msg(const struct ts_charset *cs, long max, const char *label)
{
	static char buf[600];
	struct ts_err e = TS_ERR_INIT;
	char *out = NULL;
	size_t n;
	buf[0] = 0;
	if (ts_strlabel_filter(cs, max, label, strlen(label), &out, &n, &e))
		snprintf(buf, sizeof(buf), "%s", e.msg);
	free(out);
	return buf;
}

static void filter_messages(void)
{
	struct ts_charset *c36 = cs_new("36");
	if (!c36) {
		CHECK(0);
		return;
	}
	const char *m = filt_msg(c36, 25, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	CHECKF(strstr(m, "'\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e'") != NULL, "message: %s", m);
	m = filt_msg(c36, 25, "\xce\xb1\xce\xb2\x01");
	CHECKF(strstr(m, "'\xce\xb1\xce\xb2\\x01'") != NULL, "message: %s", m);
	ts_charset_free(c36);
}

static void filter_unicode(void)
{
	struct ts_charset *c94 = cs_new("94"), *c36 = cs_new("36");
	if (!c94 || !c36) {
		CHECK(0);
		goto out;
	}
	/* accents: NFKD splits off the combining mark, which is not ASCII */
	CHECK_EQ_STR(filt(c94, 25, "Caf\xc3\xa9"), "Cafe");
	CHECK_EQ_STR(filt(c94, 25, "\xc3\x85ngstr\xc3\xb6m"), "Angstrom");
	CHECK_EQ_STR(filt(c36, 25, "Caf\xc3\xa9"), "cafe");
	/* the ligature fi becomes two letters */
	CHECK_EQ_STR(filt(c94, 25, "\xef\xac\x81sh"), "fish");
	/* full-width digits and letters become ASCII */
	CHECK_EQ_STR(filt(c94, 25, "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x93"), "2023");
	CHECK_EQ_STR(filt(c94, 25, "\xef\xbc\xa1\xef\xbd\x82"), "Ab");
	/* emoji have no decomposition: dropped; alone they leave nothing */
	CHECK_EQ_STR(filt(c94, 25, "I\xe2\x9d\xa4NY"), "INY");
	CHECK_EQ_STR(filt(c94, 25, "\xf0\x9f\x98\x80"), "<label.empty_after_filter>");
	CHECK_EQ_STR(filt(c94, 25, ""), "<label.empty_after_filter>");
	/* whitespace anywhere, Unicode spaces included: tab, NBSP, ideographic space */
	CHECK_EQ_STR(filt(c94, 25, " New\tYork\xc2\xa0" "Ci\xe3\x80\x80ty "), "NewYorkCity");
	CHECK_EQ_STR(filt(c94, 25, " \t\xe2\x80\x83"), "<label.empty_after_filter>");
	/* ZERO WIDTH SPACE is not whitespace for Python (format character):
	 * it survives step 1 and is dropped as non-ASCII in step 2 */
	CHECK_EQ_STR(filt(c94, 25, "ab\xe2\x80\x8b" "cd"), "abcd");
	/* characters outside the charset are deleted; 36 lower-cases first */
	CHECK_EQ_STR(filt(c94, 25, "rock'n'roll"), "rock'n'roll");
	CHECK_EQ_STR(filt(c36, 25, "Rock'N'Roll!"), "rocknroll");
	CHECK_EQ_STR(filt(c36, 25, "---"), "<label.empty_after_filter>");
	/* not UTF-8: the label is rejected as such */
	CHECK_EQ_STR(filt(c94, 25, "caf\xe9"), "<caption.invalid_utf8>");
out:
	ts_charset_free(c94);
	ts_charset_free(c36);
}

static void filter_length(void)
{
	struct ts_charset *c94 = cs_new("94"), *c36 = cs_new("36");
	char l25[32], l26[32], lab[128];
	if (!c94 || !c36) {
		CHECK(0);
		goto out;
	}
	memset(l25, 'a', 25);
	l25[25] = 0;
	memset(l26, 'b', 26);
	l26[26] = 0;
	CHECK_EQ_STR(filt(c94, 25, l25), l25);
	CHECK_EQ_STR(filt(c94, 25, l26), "<label.too_long>");
	CHECK_EQ_STR(filt(c94, 26, l26), l26);
	/* 27 characters with two spaces: 25 once whitespace is gone */
	snprintf(lab, sizeof(lab), "%.10s %.10s %.5s", l25, l25, l25);
	CHECK_EQ_INT(strlen(lab), 27);
	CHECK_EQ_STR(filt(c94, 25, lab), l25);
	/* 26 characters, one an emoji: 25 after NFKD/ASCII */
	snprintf(lab, sizeof(lab), "%.12s\xf0\x9f\x8d\x95%.13s", l25, l25);
	CHECK_EQ_STR(filt(c94, 25, lab), l25);
	/* 25 characters, one the ligature fi: 26 after NFKD, too long */
	snprintf(lab, sizeof(lab), "%.24s\xef\xac\x81", l25);
	CHECK_EQ_STR(filt(c94, 25, lab), "<label.too_long>");
	/* 26 characters, one punctuation: the length is checked before the
	 * charset step, so 36 drops it although 25 letters would remain */
	snprintf(lab, sizeof(lab), "%.12s-%.13s", l25, l25);
	CHECK_EQ_STR(filt(c36, 25, lab), "<label.too_long>");
	CHECK_EQ_STR(filt(c94, 26, lab), lab);
	/* whitespace goes before NFKD: U+00A8 DIAERESIS decomposes to a SPACE
	 * and a combining mark; the space is ASCII, counts for the length,
	 * and is then deleted by the charset step */
	snprintf(lab, sizeof(lab), "%.24s\xc2\xa8", l25);
	CHECK_EQ_STR(filt(c94, 25, lab), l25 + 1);
	snprintf(lab, sizeof(lab), "%.25s\xc2\xa8", l25);
	CHECK_EQ_STR(filt(c94, 25, lab), "<label.too_long>");
out:
	ts_charset_free(c94);
	ts_charset_free(c36);
}

/* The shared labels are ASCII words: with 94 they stay as they are, with
 * 36 they become their lower-case letters and digits. */
static void filter_shared_labels(void)
{
	char path[512];
	json_error_t je;
	struct ts_charset *c94 = NULL, *c36 = NULL;
	FILE *f;
	int n = 0;
	snprintf(path, sizeof(path), "%s/data/str/labels.jsonl", t_shared());
	if (!(f = fopen(path, "r")))
		SKIP("../shared/data/str/labels.jsonl not found (../shared is absent)");
	c94 = cs_new("94");
	c36 = cs_new("36");
	json_t *j;
	while (c94 && c36 && (j = json_loadf(f, JSON_DISABLE_EOF_CHECK, &je)) != NULL) {
		const char *label = json_string_value(json_object_get(j, "label"));
		char want36[64];
		size_t k = 0;
		CHECK(label != NULL);
		if (label && strlen(label) < sizeof(want36)) {
			for (const char *p = label; *p; p++)
				if (isalnum((unsigned char)*p))
					want36[k++] = (char)tolower((unsigned char)*p);
			want36[k] = 0;
			CHECK_EQ_STR(filt(c94, 25, label), label);
			CHECK_EQ_STR(filt(c36, 25, label), want36);
			n++;
		}
		json_decref(j);
	}
	fclose(f);
	CHECKF(n >= 30, "only %d labels read", n);
	ts_charset_free(c94);
	ts_charset_free(c36);
}

static void ids(void)
{
	struct ts_charset *c94 = cs_new("94"), *c36 = cs_new("36");
	struct ts_err e = TS_ERR_INIT;
	int32_t *v = NULL;
	size_t n;
	const char *label = "a1Z!";
	if (!c94 || !c36) {
		CHECK(0);
		goto out;
	}
	CHECK_EQ_INT(ts_strlabel_ids(c94, label, strlen(label), &v, &n, &e), 0);
	CHECK_EQ_INT(n, 6);
	if (v && n == 6) {
		CHECK_EQ_INT(v[0], 95);                 /* [B] = N + 1 */
		for (int i = 0; i < 4; i++)             /* charset[i] = i + 1 */
			CHECK_EQ_INT(v[i + 1], strchr(TS_CHARSET_94, label[i]) - TS_CHARSET_94 + 1);
		CHECK_EQ_INT(v[5], 0);                  /* [E] = 0 */
	}
	free(v);
	v = NULL;
	CHECK_EQ_INT(ts_strlabel_ids(c36, "Z", 1, &v, &n, &e), TS_ERR_INVALID);
	CHECKF(strstr(e.msg, "'Z'") && strstr(e.msg, "charset 36"), "%s", e.msg);
	CHECK_EQ_INT(ts_strlabel_ids(c36, "", 0, &v, &n, &e), 0);
	CHECK(n == 2 && v[0] == 37 && v[1] == 0);
	free(v);
out:
	ts_charset_free(c94);
	ts_charset_free(c36);
}

/* ---- LMDB ---- */

struct sample {
	uint8_t *img;
	size_t img_len;
	char label[128];
};

/* The shared word crops with their labels, or (no ../shared) a few
 * byte strings of different sizes, one spanning several pages. */
static size_t load_samples(struct sample *s, size_t max)
{
	char path[512];
	json_error_t je;
	json_t *j;
	size_t n = 0;
	FILE *f;
	snprintf(path, sizeof(path), "%s/data/str/labels.jsonl", t_shared());
	if ((f = fopen(path, "r"))) {
		while (n < max && (j = json_loadf(f, JSON_DISABLE_EOF_CHECK, &je)) != NULL) {
			snprintf(path, sizeof(path), "%s/data/str/%s", t_shared(),
				 json_string_value(json_object_get(j, "image")));
			s[n].img = t_slurp(path, &s[n].img_len);
			snprintf(s[n].label, sizeof(s[n].label), "%s",
				 json_string_value(json_object_get(j, "label")));
			json_decref(j);
			if (s[n].img)
				n++;
		}
		fclose(f);
		if (n)
			return n;
	}
	for (n = 0; n < 5 && n < max; n++) {
		s[n].img_len = 100 + n * 5000;
		s[n].img = malloc(s[n].img_len);
		for (size_t i = 0; i < s[n].img_len; i++)
			s[n].img[i] = (uint8_t)(i * 31 + n);
		snprintf(s[n].label, sizeof(s[n].label), "w\xc3\xb6rd %zu", n);
	}
	return n;
}

static int write_env(const char *dir, struct sample *s, size_t n, int overwrite, struct ts_err *e)
{
	struct ts_lmdb *db;
	char k[32], num[32];
	int rc = ts_lmdb_create(&db, dir, 64 << 20, overwrite, e);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = ts_lmdb_put(db, ts_lmdb_key("image", i + 1, k, sizeof(k)), s[i].img, s[i].img_len, e);
		if (!rc)
			rc = ts_lmdb_put(db, ts_lmdb_key("label", i + 1, k, sizeof(k)), s[i].label,
					 strlen(s[i].label), e);
		if (!rc && (i + 1) % 7 == 0)
			rc = ts_lmdb_commit(db, e);
	}
	snprintf(num, sizeof(num), "%zu", n);
	if (!rc)
		rc = ts_lmdb_put(db, "num-samples", num, strlen(num), e);
	if (!rc)
		rc = ts_lmdb_commit(db, e);
	ts_lmdb_close(db);
	return rc;
}

static int count_keys(const void *k, size_t kl, const void *v, size_t vl, void *user)
{
	(*(size_t *)user)++;
	return 0;
}

static void lmdb_roundtrip(void)
{
	static struct sample s[64];
	struct ts_err e = TS_ERR_INIT;
	struct ts_lmdb *db = NULL;
	char dir[128], k[32];
	size_t n = load_samples(s, 64), keys = 0;
	uint64_t num = 0;

	snprintf(dir, sizeof(dir), "%s/rt/env", tmp());
	CHECK(!ts_lmdb_is_env(dir));
	CHECKF(write_env(dir, s, n, 0, &e) == 0, "%s", e.msg);
	CHECK(ts_lmdb_is_env(dir));
	CHECKF(ts_lmdb_open(&db, dir, &e) == 0, "%s", e.msg);
	if (db) {
		CHECK_EQ_INT(ts_lmdb_num_samples(db, &num, &e), 0);
		CHECK_EQ_INT(num, n);
		for (size_t i = 0; i < n; i++) {
			const void *v;
			size_t len;
			CHECK_EQ_INT(ts_lmdb_get(db, ts_lmdb_key("image", i + 1, k, sizeof(k)), &v, &len, &e), 1);
			CHECK(len == s[i].img_len && memcmp(v, s[i].img, len) == 0);
			CHECK_EQ_INT(ts_lmdb_get(db, ts_lmdb_key("label", i + 1, k, sizeof(k)), &v, &len, &e), 1);
			CHECK(len == strlen(s[i].label) && memcmp(v, s[i].label, len) == 0);
		}
		const void *v;
		size_t len;
		CHECK_EQ_INT(ts_lmdb_get(db, ts_lmdb_key("image", n + 1, k, sizeof(k)), &v, &len, &e), 0);
		CHECK_EQ_INT(ts_lmdb_foreach(db, count_keys, &keys, &e), 0);
		CHECK_EQ_INT(keys, 2 * n + 1);
		ts_lmdb_close(db);
	}
	/* an existing environment is not replaced unless asked */
	CHECK_EQ_INT(write_env(dir, s, 1, 0, &e), TS_ERR_EXISTS);
	CHECKF(strstr(e.msg, "already exists") != NULL, "%s", e.msg);
	CHECKF(write_env(dir, s, 1, 1, &e) == 0, "%s", e.msg);
	db = NULL;
	if (ts_lmdb_open(&db, dir, &e) == 0) {
		CHECK_EQ_INT(ts_lmdb_num_samples(db, &num, &e), 0);
		CHECK_EQ_INT(num, 1);
	}
	ts_lmdb_close(db);
	for (size_t i = 0; i < n; i++)
		free(s[i].img);
}

/* mmocr's toy environment: each label-i and image-i match the crop that
 * mmocr_label.lmdb names for index i, in the shared images and labels. */
static void lmdb_shared(void)
{
	char dir[512], path[512];
	struct ts_lmdb *imgs = NULL, *labs = NULL;
	struct ts_err e = TS_ERR_INIT;
	uint64_t n = 0, n2 = 0;
	snprintf(dir, sizeof(dir), "%s/data/str/lmdb/mmocr_imgs.lmdb", t_shared());
	if (!ts_lmdb_is_env(dir))
		SKIP("../shared/data/str/lmdb not found (../shared is absent)");
	CHECKF(ts_lmdb_open(&imgs, dir, &e) == 0, "%s", e.msg);
	snprintf(dir, sizeof(dir), "%s/data/str/lmdb/mmocr_label.lmdb", t_shared());
	CHECKF(ts_lmdb_open(&labs, dir, &e) == 0, "%s", e.msg);
	if (!imgs || !labs)
		goto out;
	CHECK_EQ_INT(ts_lmdb_num_samples(imgs, &n, &e), 0);
	CHECK_EQ_INT(ts_lmdb_num_samples(labs, &n2, &e), 0);
	CHECK(n == n2 && n > 0);
	for (uint64_t i = 1; i <= n; i++) {
		char k[32];
		const void *v, *lv;
		size_t len, llen;
		json_error_t je;
		CHECK_EQ_INT(ts_lmdb_get(labs, ts_lmdb_key("label", i, k, sizeof(k)), &v, &len, &e), 1);
		json_t *j = json_loadb(v, len, 0, &je);
		const char *fn = json_string_value(json_object_get(j, "filename"));
		const char *text = json_string_value(json_object_get(j, "text"));
		CHECK(fn && text);
		CHECK_EQ_INT(ts_lmdb_get(imgs, ts_lmdb_key("label", i, k, sizeof(k)), &lv, &llen, &e), 1);
		CHECK(text && llen == strlen(text) && !memcmp(lv, text, llen));
		CHECK_EQ_INT(ts_lmdb_get(imgs, ts_lmdb_key("image", i, k, sizeof(k)), &v, &len, &e), 1);
		snprintf(path, sizeof(path), "%s/data/str/images/mmocr__%s", t_shared(), fn ? fn : "?");
		size_t flen;
		uint8_t *file = t_slurp(path, &flen);
		CHECKF(file && flen == len && !memcmp(file, v, len), "image-%09llu != %s",
		       (unsigned long long)i, path);
		free(file);
		json_decref(j);
	}
out:
	ts_lmdb_close(imgs);
	ts_lmdb_close(labs);
}

static void damage(const char *path, long off, size_t len, unsigned seed)
{
	FILE *f = fopen(path, "r+b");
	if (!f)
		return;
	fseek(f, off, SEEK_SET);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		fputc((int)(seed >> 16) & 0xff, f);
	}
	fclose(f);
}

/* Damaged data.mdb files: a clear error naming the file, never a crash. */
static void lmdb_corrupt(void)
{
	static struct sample s[64];
	struct ts_err e = TS_ERR_INIT;
	struct ts_lmdb *db = NULL;
	char good[128], bad[128], file[160], cmd[600];
	size_t n = load_samples(s, 64);
	struct stat st;

	snprintf(good, sizeof(good), "%s/corrupt/good", tmp());
	snprintf(bad, sizeof(bad), "%s/corrupt/bad", tmp());
	snprintf(file, sizeof(file), "%s/data.mdb", bad);
	CHECKF(write_env(good, s, n, 0, &e) == 0, "%s", e.msg);
	for (size_t i = 0; i < n; i++)
		free(s[i].img);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s'", bad, good, bad);

	/* not an environment at all */
	CHECK_EQ_INT(ts_lmdb_open(&db, tmp(), &e), TS_ERR_IO);
	CHECKF(strstr(e.msg, "no data.mdb") != NULL, "%s", e.msg);
	/* meta pages overwritten */
	CHECK(system(cmd) == 0);
	damage(file, 0, 8192, 1);
	CHECK(ts_lmdb_open(&db, bad, &e) < 0);
	CHECKF(strstr(e.msg, "data.mdb") && strstr(e.msg, "not an LMDB file"), "%s", e.msg);
	/* cut short */
	CHECK(system(cmd) == 0);
	CHECK(stat(file, &st) == 0);
	CHECK(truncate(file, st.st_size / 2) == 0);
	CHECK(ts_lmdb_open(&db, bad, &e) < 0);
	CHECKF(strstr(e.msg, "data.mdb") && strstr(e.msg, "truncated"), "%s", e.msg);
	/* empty */
	CHECK(truncate(file, 0) == 0);
	CHECK(ts_lmdb_open(&db, bad, &e) < 0);
	CHECKF(strstr(e.msg, "not an LMDB file"), "%s", e.msg);
	/* damaged tree pages, read as input is read (the reader's child):
	 * errors or values, never a crash of this process */
	int errors = 0;
	for (unsigned seed = 1; seed <= 40; seed++) {
		struct ts_lmdb_reader *r = NULL;
		struct ts_lmdb_rec rec;
		CHECK(system(cmd) == 0);
		CHECK(stat(file, &st) == 0);
		long pages = (long)(st.st_size / 4096);
		for (int k = 0; k < 3 && pages > 2; k++)
			damage(file, 4096 * (2 + (long)((seed * 7 + k * 13) % (pages - 2))) + 16, 48, seed * 3 + k);
		if (ts_lmdb_reader_open(&r, bad, NULL, &e) == 0) {
			while (ts_lmdb_reader_next(r, &rec, &e) == 1)
				if (rec.damaged) {
					errors++;
					CHECKF(strstr(rec.msg, "data.mdb"), "%s", rec.msg);
				}
			if (ts_lmdb_reader_damage(r))
				CHECKF(strstr(ts_lmdb_reader_damage(r), "data.mdb"), "%s", ts_lmdb_reader_damage(r));
			ts_lmdb_reader_close(r);
		} else {
			errors++;
		}
		CHECKF(e.msg[0] == 0 || strstr(e.msg, "data.mdb"), "%s", e.msg);
		ts_err_clear(&e);
	}
	CHECKF(errors > 0, "no damaged file was noticed");
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "charsets_builtin", charsets_builtin },
		{ "charsets_file", charsets_file },
		{ "filter_unicode", filter_unicode },
		{ "filter_messages", filter_messages },
		{ "filter_length", filter_length },
		{ "filter_shared_labels", filter_shared_labels },
		{ "ids", ids },
		{ "lmdb_roundtrip", lmdb_roundtrip },
		{ "lmdb_shared", lmdb_shared },
		{ "lmdb_corrupt", lmdb_corrupt },
		{ NULL, NULL },
	};
	int rc = t_run("str", cases);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp());
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp());
	return rc;
}
