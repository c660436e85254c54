/*
 * test_source.c - the input readers: folder, CSV/TSV, JSONL, COCO,
 * ShareGPT4V, Urban1k, the scene-text gt lists and LMDB environments,
 * format detection and ts_resolve_under().
 *
 * Fixtures are written at test time into a mkdtemp directory (and a few are
 * kept in tests/data/inputs/); realistic captions come from ../shared when
 * it is present.
 */
#include "tests/unit/t.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "pipeline/sources/source.h"
#include "shards/lmdb_store.h"

/* ---- fixture helpers ---- */

static char tmp_root[64];

static const char *tmp(void)
{
	if (!tmp_root[0]) {
		strcpy(tmp_root, "/tmp/ts-source-XXXXXX");
		if (!mkdtemp(tmp_root)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return tmp_root;
}

/* "<tmp>/<fmt...>" in a static rotating buffer */
static const char *tpath(const char *fmt, ...)
{
	static char bufs[8][1024];
	static int k;
	char rel[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	char *b = bufs[k++ % 8];
	snprintf(b, sizeof(bufs[0]), "%s/%s", tmp(), rel);
	return b;
}

static void mkdirs_for(const char *path)
{
	char d[1024];
	snprintf(d, sizeof(d), "%s", path);
	for (char *p = d + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(d, 0755);
			*p = '/';
		}
}

static void put_bytes(const char *path, const char *data, size_t len)
{
	mkdirs_for(path);
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fwrite(data, 1, len, f);
	fclose(f);
}

static void put(const char *path, const char *text)
{
	put_bytes(path, text, strlen(text));
}

struct recs {
	struct ts_record *r;
	size_t n;
	int rc;               /* last ts_source_next result */
	int open_rc;
	int64_t count;
	struct ts_err err;
};

static struct recs read_all(const char *input, const struct ts_source_opts *o,
			    uint64_t first)
{
	struct recs out;
	struct ts_source *src = NULL;
	struct ts_source_opts def = { 0 };
	memset(&out, 0, sizeof(out));
	out.open_rc = ts_source_open(&src, input, o ? o : &def, first, &out.err);
	if (out.open_rc) {
		CHECK(src == NULL);
		return out;
	}
	out.count = ts_source_count(src);
	for (;;) {
		struct ts_record rec;
		memset(&rec, 0, sizeof(rec));
		out.rc = ts_source_next(src, &rec, &out.err);
		if (out.rc != 1)
			break;
		out.r = realloc(out.r, (out.n + 1) * sizeof(*out.r));
		out.r[out.n++] = rec;
	}
	ts_source_close(src);
	return out;
}

static void recs_free(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		ts_record_release(&rs->r[i]);
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

static const char *reason(const struct ts_record *r)
{
	return ts_reason_name(r->reject);
}

/* caption i equals s (bytes and length) */
static int cap_is(const struct ts_record *r, size_t i, const char *s, size_t len)
{
	return r->ncaptions > i && r->caption_lens[i] == len && !memcmp(r->captions[i], s, len);
}
#define CAP_IS(r, i, s) cap_is((r), (i), (s), strlen(s))

static int ends_with(const char *s, const char *tail)
{
	size_t a = s ? strlen(s) : 0, b = strlen(tail);
	return s && a >= b && !strcmp(s + a - b, tail);
}

/* Read up to n captions of ../shared/data/captions/flickr8k.jsonl. */
static size_t flickr_captions(char caps[][512], size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/data/captions/flickr8k.jsonl", t_shared());
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[4096];
	size_t k = 0;
	while (k < n && fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		const char *c = json_string_value(json_object_get(o, "caption"));
		if (c && strlen(c) < 512)
			snprintf(caps[k++], 512, "%s", c);
		json_decref(o);
	}
	fclose(f);
	return k;
}

/* ---- format names and detection ---- */

static void format_names(void)
{
	for (int f = TS_INPUT_AUTO; f <= TS_INPUT_PARQUET; f++)
		CHECK_EQ_INT(ts_input_format_parse(ts_input_format_name(f)), f);
	CHECK_EQ_INT(ts_input_format_parse("sharegpt4v"), TS_INPUT_SHAREGPT4V);
	CHECK_EQ_INT(ts_input_format_parse("parquet"), TS_INPUT_PARQUET);
	CHECK_EQ_INT(ts_input_format_parse("avro"), -1);
	CHECK_EQ_INT(ts_input_format_parse("CSV"), -1);
	/* the scene-text formats are opened by `tessera str` only */
	CHECK_EQ_STR(ts_input_format_name(TS_INPUT_GTLIST), "gtlist");
	CHECK_EQ_INT(ts_input_format_parse("gtlist"), -1);
	CHECK_EQ_INT(ts_input_format_parse("lmdb"), -1);
	CHECK_EQ_INT(ts_input_format_parse("tessera"), -1);
}

static void detect(void)
{
	static const struct {
		const char *rel, *content;
		enum ts_input_format want;
	} cases[] = {
		{ "det/list.csv", "image,caption\n", TS_INPUT_CSV },
		{ "det/list.TSV", "image\tcaption\n", TS_INPUT_TSV },
		{ "det/x.jsonl", "{}\n", TS_INPUT_JSONL },
		{ "det/sg.json", "  \n[{\"id\": 1}]", TS_INPUT_SHAREGPT4V },
		{ "det/coco.json", "\xEF\xBB\xBF\n {\"images\": []}", TS_INPUT_COCO },
		{ "det/odd.json", "\"just a string\"", TS_INPUT_AUTO },
		{ "det/empty.json", "", TS_INPUT_AUTO },
		{ "det/notes.txt", "hello", TS_INPUT_AUTO },
		{ "det/noext", "hello", TS_INPUT_AUTO },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put(tpath("%s", cases[i].rel), cases[i].content);
		CHECKF(ts_source_detect(tpath("%s", cases[i].rel)) == cases[i].want,
		       "%s", cases[i].rel);
	}
	mkdir(tpath("det/u"), 0755);
	CHECK_EQ_INT(ts_source_detect(tpath("det/u")), TS_INPUT_FOLDER);
	mkdir(tpath("det/u/image"), 0755);
	CHECK_EQ_INT(ts_source_detect(tpath("det/u")), TS_INPUT_FOLDER);
	mkdir(tpath("det/u/caption"), 0755);
	CHECK_EQ_INT(ts_source_detect(tpath("det/u")), TS_INPUT_URBAN1K);
	CHECK_EQ_INT(ts_source_detect(tpath("det/none.csv")), TS_INPUT_AUTO);

	/* open: missing input, undetectable format */
	struct recs rs = read_all(tpath("det/none.csv"), NULL, 0);
	CHECK(rs.open_rc < 0);
	CHECKF(strstr(rs.err.msg, "cannot open '") && strstr(rs.err.msg, "none.csv': No such file or directory"),
	       "%s", rs.err.msg);
	rs = read_all(tpath("det/notes.txt"), NULL, 0);
	CHECK(rs.open_rc < 0);
	CHECKF(strstr(rs.err.msg, "cannot tell the format"), "%s", rs.err.msg);
	struct ts_source_opts o = { .format = TS_INPUT_CSV };
	rs = read_all(tpath("det/u"), &o, 0);
	CHECK(rs.open_rc < 0);
	CHECKF(strstr(rs.err.msg, "is a directory"), "%s", rs.err.msg);
}

/* ---- ts_resolve_under ---- */

static void resolve_under(void)
{
	put(tpath("res/root/a/ok.jpg"), "x");
	put(tpath("res/outside.jpg"), "x");
	mkdir(tpath("res/root/dir.jpg"), 0755);
	symlink("../outside.jpg", tpath("res/root/out.jpg"));
	symlink("a/ok.jpg", tpath("res/root/in.jpg"));
	symlink("..", tpath("res/root/up"));
	symlink("nowhere.jpg", tpath("res/root/dangling.jpg"));
	/* ok: 1 resolves (to ok_tail), 0 rejected with why; per mode
	 * (default: absolute paths and symlinks followed; --confine) */
	char abs_ok[1024];
	snprintf(abs_ok, sizeof(abs_ok), "%s", tpath("res/outside.jpg"));
	static const struct {
		const char *rel;
		int ok, ok_confined;
		const char *tail;
		enum ts_reason why, why_confined;
	} cases[] = {
		{ "a/ok.jpg", 1, 1, "/res/root/a/ok.jpg", 0, 0 },
		{ "./a/../a/ok.jpg", 1, 1, "/res/root/a/ok.jpg", 0, 0 },
		{ "in.jpg", 1, 1, "/res/root/a/ok.jpg", 0, 0 },
		{ "ABS", 1, 0, "/res/outside.jpg", 0, TS_R_SOURCE_ESCAPES_ROOT },
		{ "/etc/nonexistent-ts.jpg", 0, 0, NULL, TS_R_SOURCE_MISSING, TS_R_SOURCE_ESCAPES_ROOT },
		{ "../outside.jpg", 0, 0, NULL, TS_R_SOURCE_ESCAPES_ROOT, TS_R_SOURCE_ESCAPES_ROOT },
		{ "a/../../outside.jpg", 0, 0, NULL, TS_R_SOURCE_ESCAPES_ROOT, TS_R_SOURCE_ESCAPES_ROOT },
		{ "../missing.jpg", 0, 0, NULL, TS_R_SOURCE_ESCAPES_ROOT, TS_R_SOURCE_ESCAPES_ROOT },
		{ "out.jpg", 1, 0, "/res/outside.jpg", 0, TS_R_SOURCE_ESCAPES_ROOT },
		{ "up/outside.jpg", 1, 0, "/res/outside.jpg", 0, TS_R_SOURCE_ESCAPES_ROOT },
		{ "a/missing.jpg", 0, 0, NULL, TS_R_SOURCE_MISSING, TS_R_SOURCE_MISSING },
		{ "a/ok.jpg/x", 0, 0, NULL, TS_R_SOURCE_MISSING, TS_R_SOURCE_MISSING },
		{ "dangling.jpg", 0, 0, NULL, TS_R_SOURCE_MISSING, TS_R_SOURCE_MISSING },
		{ "", 0, 0, NULL, TS_R_SOURCE_MISSING, TS_R_SOURCE_MISSING },
		{ "dir.jpg", 0, 0, NULL, TS_R_SOURCE_UNREADABLE, TS_R_SOURCE_UNREADABLE },
	};
	for (int confine = 0; confine <= 1; confine++)
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ts_err e = TS_ERR_INIT;
		char *out = (char *)1;
		const char *rel = strcmp(cases[i].rel, "ABS") ? cases[i].rel : abs_ok;
		int ok = confine ? cases[i].ok_confined : cases[i].ok;
		enum ts_reason why = confine ? cases[i].why_confined : cases[i].why;
		int rc = ts_resolve_under(tpath("res/root"), rel, confine, &out, &e);
		if (ok) {
			CHECKF(rc == 0 && out && ends_with(out, cases[i].tail), "%s (confine %d): %s -> %s",
			       rel, confine, e.msg, rc == 0 ? out : "(none)");
		} else {
			CHECKF(rc < 0 && out == NULL && e.reason == why,
			       "%s (confine %d): rc %d reason %s (%s), expected %s", rel, confine, rc,
			       ts_reason_name(e.reason), e.msg, ts_reason_name(why));
		}
		if (rc == 0)
			free(out);
	}
	struct ts_err e = TS_ERR_INIT;
	char *out;
	CHECK(ts_resolve_under(tpath("res/nope"), "a.jpg", 0, &out, &e) < 0);
	CHECK(strstr(e.msg, "cannot use image root") != NULL);
}

/* ---- folder ---- */

static void folder(void)
{
	put(tpath("fold/outside.jpg"), "x");
	put(tpath("fold/outside.txt"), "outside caption");
	put(tpath("fold/r/a/2.jpg"), "x");
	put(tpath("fold/r/a/2.txt"), "two\n");
	put(tpath("fold/r/a/10.JPG"), "x");
	put(tpath("fold/r/a/10.json"), "{\"caption\": \"ten\", \"text\": \"not this\"}");
	put(tpath("fold/r/b/x.png"), "x");
	put(tpath("fold/r/b/x.json"), "{\"text\": \"x text\"}");
	put(tpath("fold/r/b/y.webp"), "x");                 /* no sidecar */
	put(tpath("fold/r/b/deep/er/z.jpeg"), "x");
	put_bytes(tpath("fold/r/b/deep/er/z.txt"), "z\0nul\xff", 7);
	put(tpath("fold/r/c/scan.tif"), "x");               /* not an image name, has a sidecar */
	put(tpath("fold/r/c/scan.txt"), "scanned");
	put(tpath("fold/r/c/README"), "no sidecar, not an image");
	put(tpath("fold/r/notes.txt"), "a stray text file");
	put(tpath("fold/r/meta.json"), "{}");
	put(tpath("fold/r/.jpg"), "hidden file named .jpg");
	put(tpath("fold/r/.txt"), "its sidecar");
	put(tpath("fold/r/.hidden.jpg"), "x");
	put(tpath("fold/r/.git/h.jpg"), "x");
	put(tpath("fold/r/e/bad.jpg"), "x");
	put(tpath("fold/r/e/bad.json"), "{not json");
	put(tpath("fold/r/e/arr.jpg"), "x");
	put(tpath("fold/r/e/arr.json"), "[\"x\"]");
	put(tpath("fold/r/e/nocap.jpg"), "x");
	put(tpath("fold/r/e/nocap.json"), "{\"caption\": 3}");
	put(tpath("fold/r/e/Upper.PNG"), "x");
	put(tpath("fold/r/e/Upper.txt"), "upper");
	symlink("../outside.jpg", tpath("fold/r/link_out.jpg"));
	symlink("../outside.txt", tpath("fold/r/link_out.txt"));
	symlink("b/x.png", tpath("fold/r/link_in.png"));
	put(tpath("fold/r/link_in.txt"), "inside link");
	symlink("..", tpath("fold/r/b/loop"));              /* directory loop: not followed */
	put(tpath("fold/shared/p.jpg"), "x");               /* a linked image folder: followed */
	put_bytes(tpath("fold/shared/p.txt"), "\xEF\xBB\xBFlinked caption", 17);
	symlink("../shared", tpath("fold/r/linked"));
	symlink("../..", tpath("fold/r/a/up.jpg"));         /* a directory behind an image name */

	static const struct {
		const char *source, *reason, *caption;
	} want[] = {
		{ "a/10.JPG", "none", "ten" },
		{ "a/2.jpg", "none", "two\n" },
		{ "b/deep/er/z.jpeg", "none", NULL },
		{ "b/x.png", "none", "x text" },
		{ "b/y.webp", "caption.missing", NULL },
		{ "c/scan.tif", "none", "scanned" },
		{ "e/Upper.PNG", "none", "upper" },
		{ "e/arr.jpg", "record.bad_json", NULL },
		{ "e/bad.jpg", "record.bad_json", NULL },
		{ "e/nocap.jpg", "caption.missing", NULL },
		{ "link_in.png", "none", "inside link" },
		{ "link_out.jpg", "none", "outside caption" },
		{ "linked/p.jpg", "none", "linked caption" },
	};
	size_t nwant = sizeof(want) / sizeof(want[0]);
	struct recs rs = read_all(tpath("fold/r"), NULL, 100);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.rc, 0);
	CHECK_EQ_INT(rs.count, (int64_t)nwant);
	CHECK_EQ_INT(rs.n, nwant);
	for (size_t i = 0; i < rs.n && i < nwant; i++) {
		const struct ts_record *r = &rs.r[i];
		CHECK_EQ_INT(r->index, 100 + i);
		CHECK_EQ_STR(r->source, want[i].source);
		CHECK_EQ_STR(r->image_ref, want[i].source);
		CHECKF(!strcmp(reason(r), want[i].reason), "%s: %s (%s)", r->source, reason(r),
		       r->reject_msg ? r->reject_msg : "");
		if (r->reject == TS_R_NONE) {
			CHECK(r->image_path && r->image_path[0] == '/');
			CHECK(r->reject_msg == NULL);
		} else {
			CHECK(r->reject_msg && r->reject_msg[0]);
		}
		if (want[i].caption)
			CHECKF(CAP_IS(r, 0, want[i].caption) && r->ncaptions == 1, "%s", r->source);
	}
	/* --confine: the links leading out of the root are refused */
	struct ts_source_opts conf = { .confine = 1 };
	struct recs cr = read_all(tpath("fold/r"), &conf, 0);
	CHECK_EQ_INT(cr.n, nwant);
	for (size_t i = 0; i < cr.n && i < nwant; i++) {
		int out = !strcmp(want[i].source, "link_out.jpg") || !strcmp(want[i].source, "linked/p.jpg");
		if (out)
			CHECKF(cr.r[i].reject == TS_R_SOURCE_ESCAPES_ROOT, "%s: %s", cr.r[i].source,
			       reason(&cr.r[i]));
		else
			CHECK_EQ_STR(reason(&cr.r[i]), want[i].reason);
	}
	recs_free(&cr);
	/* raw bytes: NUL and invalid UTF-8 kept with their length */
	if (rs.n > 2)
		CHECK(cap_is(&rs.r[2], 0, "z\0nul\xff", 7));
	if (rs.n > 10)
		CHECK(ends_with(rs.r[10].image_path, "/fold/r/b/x.png"));

	/* the same tree twice gives the same records */
	struct recs again = read_all(tpath("fold/r"), NULL, 100);
	CHECK_EQ_INT(again.n, rs.n);
	for (size_t i = 0; i < rs.n && i < again.n; i++)
		CHECK_EQ_STR(again.r[i].source, rs.r[i].source);
	recs_free(&again);
	recs_free(&rs);

	/* empty folder: no records, count 0 */
	mkdir(tpath("fold/empty"), 0755);
	rs = read_all(tpath("fold/empty"), NULL, 0);
	CHECK(rs.open_rc == 0 && rs.n == 0 && rs.count == 0 && rs.rc == 0);
	recs_free(&rs);
}

/* ---- CSV / TSV ---- */

static void csv_basic(void)
{
	const char *body =
		"image,caption,extra\n"                       /* 1 */
		"img/a.jpg,\"a dog, running\",x\n"            /* 2 */
		"img/b.jpg,\"she said \"\"hi\"\"\",y\n"       /* 3 */
		"img/c.jpg,\"line one\n"                      /* 4 */
		"line two\",z\n"                              /* 5 */
		"\n"                                          /* 6 */
		"img/missing.jpg,cap,w\n"                     /* 7 */
		"../outside.jpg,cap,w\n"                      /* 8 */
		"img/a.jpg,too,many,fields\n"                 /* 9 */
		",empty path,w\n"                             /* 10 */
		"img/b.jpg, a 6\" pipe ,v\n"                  /* 11 */
		"img/a.jpg,last,\"unterminated\n"             /* 12 */
		"more text, to the end\n";                    /* 13 */
	static const struct {
		int line;
		const char *reason, *caption;
	} want[] = {
		{ 2, "none", "a dog, running" },
		{ 3, "none", "she said \"hi\"" },
		{ 4, "none", "line one\nline two" },
		{ 7, "source.missing", NULL },
		{ 8, "source.escapes_root", NULL },
		{ 9, "record.bad_row", NULL },
		{ 10, "record.missing_field", NULL },
		{ 11, "none", " a 6\" pipe " },
		{ 12, "record.bad_row", NULL },
		{ 13, "record.bad_row", NULL },   /* read again after the open quote: 2 fields */
	};
	size_t nwant = sizeof(want) / sizeof(want[0]);
	put(tpath("csv/img/a.jpg"), "x");
	put(tpath("csv/img/b.jpg"), "x");
	put(tpath("csv/img/c.jpg"), "x");
	put(tpath("outside.jpg"), "x");

	for (int crlf = 0; crlf < 2; crlf++) {
		char body2[2048], name[64];
		size_t k = 0;
		for (const char *p = body; *p && k + 2 < sizeof(body2); p++) {
			if (*p == '\n' && crlf)
				body2[k++] = '\r';
			body2[k++] = *p;
		}
		body2[k] = '\0';
		snprintf(name, sizeof(name), "csv/list%s.csv", crlf ? "_crlf" : "");
		put(tpath("%s", name), body2);
		struct recs rs = read_all(tpath("%s", name), NULL, 7);
		CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
		CHECK_EQ_INT(rs.rc, 0);
		/* the cheap count is of non-blank lines after the header (11): the
		 * line inside a quoted field counts too, an unclosed quote's
		 * next line is a record of its own */
		CHECK_EQ_INT(rs.count, (int64_t)nwant + 1);
		CHECK_EQ_INT(rs.n, nwant);
		for (size_t i = 0; i < rs.n && i < nwant; i++) {
			const struct ts_record *r = &rs.r[i];
			char src[1100];
			snprintf(src, sizeof(src), "%s:%d", tpath("%s", name), want[i].line);
			CHECK_EQ_INT(r->index, 7 + i);
			CHECK_EQ_STR(r->source, src);
			CHECKF(!strcmp(reason(r), want[i].reason), "crlf=%d %s: %s (%s)", crlf, r->source,
			       reason(r), r->reject_msg ? r->reject_msg : "");
			if (want[i].caption && !crlf)
				CHECKF(CAP_IS(r, 0, want[i].caption), "%s: '%.*s'", r->source,
				       r->ncaptions ? (int)r->caption_lens[0] : 0,
				       r->ncaptions ? r->captions[0] : "");
			if (r->reject == TS_R_NONE)
				CHECK(r->image_path && ends_with(r->image_path, r->image_ref));
		}
		/* in the CRLF file the embedded line break is CRLF too */
		if (crlf && rs.n > 2)
			CHECK(CAP_IS(&rs.r[2], 0, "line one\r\nline two"));
		if (rs.n > 5)
			CHECKF(strstr(rs.r[5].reject_msg, "4 fields") != NULL, "%s", rs.r[5].reject_msg);
		recs_free(&rs);
	}
}

static void csv_columns(void)
{
	put(tpath("cols/pics/p.jpg"), "x");
	put(tpath("cols/custom.csv"), "id,desc,file\n1,described,p.jpg\n");
	put(tpath("cols/defaults.csv"), "\xEF\xBB\xBF" "file_name,text,caption_x\np.jpg,from text,no\n");
	put(tpath("cols/order.csv"), "path,image,text,caption\nwrong.jpg,p.jpg,no,yes\n");
	put(tpath("cols/wrong.csv"), "foo,bar\n1,2\n");
	put(tpath("cols/nocap.csv"), "image,Caption\np.jpg,x\n");
	put(tpath("cols/empty.csv"), "");
	put(tpath("cols/blank.csv"), "\n\r\n");

	struct ts_source_opts o = { .image_col = "file", .caption_col = "desc",
				    .image_root = tpath("cols/pics") };
	struct recs rs = read_all(tpath("cols/custom.csv"), &o, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, 1);
	if (rs.n == 1) {
		CHECK_EQ_STR(reason(&rs.r[0]), "none");
		CHECK(CAP_IS(&rs.r[0], 0, "described"));
		CHECK(ends_with(rs.r[0].image_path, "/cols/pics/p.jpg"));
	}
	recs_free(&rs);

	struct ts_source_opts o2 = { .image_root = tpath("cols/pics") };
	rs = read_all(tpath("cols/defaults.csv"), &o2, 0);       /* BOM before the header */
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK(rs.n == 1 && rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "from text"));
	recs_free(&rs);

	rs = read_all(tpath("cols/order.csv"), &o2, 0);          /* "image" beats "path" */
	CHECK(rs.n == 1 && rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "yes"));
	recs_free(&rs);

	static const struct {
		const char *file;
		const char *img, *cap;
		const char *msg1, *msg2;
	} bad[] = {
		{ "cols/wrong.csv", NULL, NULL, "no image column", "the header has: foo, bar" },
		{ "cols/wrong.csv", "foo", NULL, "no caption column", "caption, text" },
		{ "cols/custom.csv", "image", NULL, "no image column", "looked for 'image'" },
		{ "cols/nocap.csv", NULL, NULL, "no caption column", "image, Caption" },
		{ "cols/empty.csv", NULL, NULL, "is empty", "no header" },
		{ "cols/blank.csv", NULL, NULL, "is empty", "no header" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ts_source_opts ob = { .image_col = bad[i].img, .caption_col = bad[i].cap };
		rs = read_all(tpath("%s", bad[i].file), &ob, 0);
		CHECK(rs.open_rc < 0);
		CHECKF(strstr(rs.err.msg, bad[i].msg1) && strstr(rs.err.msg, bad[i].msg2), "%s",
		       rs.err.msg);
		recs_free(&rs);
	}
}

static void tsv(void)
{
	put(tpath("tsv/i/1.jpg"), "x");
	put(tpath("tsv/i/2.jpg"), "x");
	put(tpath("tsv/list.tsv"),
	    "caption\tpath\n"
	    "commas, are, fine\ti/1.jpg\n"
	    "\"quoted\ttab\"\ti/2.jpg\n"
	    "one field only\n");
	/* literal by default: the quotes are bytes, the tab separates */
	struct recs rs = read_all(tpath("tsv/list.tsv"), NULL, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, 3);
	if (rs.n == 3) {
		CHECK(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "commas, are, fine"));
		CHECK_EQ_STR(reason(&rs.r[1]), "record.bad_row");
		CHECK_EQ_STR(reason(&rs.r[2]), "record.bad_row");
		CHECK(ends_with(rs.r[2].source, "list.tsv:4"));
	}
	recs_free(&rs);
	/* --quoting csv: RFC 4180 with a tab */
	struct ts_source_opts q = { .quoting = TS_QUOTING_CSV };
	rs = read_all(tpath("tsv/list.tsv"), &q, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, 3);
	if (rs.n == 3) {
		CHECK(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "commas, are, fine"));
		CHECK(rs.r[1].reject == TS_R_NONE && CAP_IS(&rs.r[1], 0, "quoted\ttab"));
		CHECK_EQ_STR(reason(&rs.r[2]), "record.bad_row");
	}
	recs_free(&rs);
}

/* Real captions through a CSV written with full quoting and read back. */
static void csv_real_captions(void)
{
	static char caps[40][512];
	size_t n = flickr_captions(caps, 40);
	if (!n)
		SKIP("../shared/data/captions/flickr8k.jsonl not found");
	FILE *f = fopen(tpath("real.csv"), "wb");
	fputs("image,caption\r\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "real/%zu.jpg,\"", i % 3);
		for (const char *p = caps[i]; *p; p++) {
			if (*p == '"')
				fputc('"', f);
			fputc(*p, f);
		}
		fputs("\"\r\n", f);
	}
	fclose(f);
	for (int i = 0; i < 3; i++)
		put(tpath("real/%d.jpg", i), "x");
	struct recs rs = read_all(tpath("real.csv"), NULL, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, n);
	for (size_t i = 0; i < rs.n && i < n; i++)
		CHECKF(rs.r[i].reject == TS_R_NONE && CAP_IS(&rs.r[i], 0, caps[i]), "%zu", i);
	recs_free(&rs);
}

/* ---- JSONL ---- */

static void jsonl(void)
{
	put(tpath("jl/img/a.jpg"), "x");
	put(tpath("jl/img/b.jpg"), "x");
	put(tpath("jl/img/c.jpg"), "x");
	put(tpath("jl/list.jsonl"),
	    "{\"image\": \"img/a.jpg\", \"caption\": \"c1\"}\n"            /* 1 */
	    "\n"                                                          /* 2 */
	    "not json at all\n"                                           /* 3 */
	    "[1, 2]\n"                                                    /* 4 */
	    "{\"caption\": \"no image\"}\n"                               /* 5 */
	    "{\"path\": \"img/b.jpg\", \"captions\": [\"p\", \"q\"]}\n"   /* 6 */
	    "   \t\r\n"                                                   /* 7 */
	    "{\"image\": \"img/c.jpg\", \"text\": \"t\\u0000x\"}\r\n"     /* 8 */
	    "{\"image\": \"img/a.jpg\"}\n"                                /* 9 */
	    "{\"image\": \"img/a.jpg\", \"captions\": [\"ok\", 5]}\n"     /* 10 */
	    "{\"image\": 7, \"caption\": \"x\"}\n"                        /* 11 */
	    "{\"image\": \"img/zz.jpg\", \"caption\": \"x\"}\n"           /* 12 */
	    "{\"image\": \"img/a.jpg\", \"caption\": \"last, no newline\"}");  /* 13 */
	static const struct {
		int line;
		const char *reason;
	} want[] = {
		{ 1, "none" }, { 3, "record.bad_json" }, { 4, "record.bad_json" },
		{ 5, "record.missing_field" }, { 6, "none" }, { 8, "none" },
		{ 9, "caption.missing" }, { 10, "caption.missing" },
		{ 11, "record.missing_field" }, { 12, "source.missing" }, { 13, "none" },
	};
	size_t nwant = sizeof(want) / sizeof(want[0]);
	struct recs rs = read_all(tpath("jl/list.jsonl"), NULL, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.rc, 0);
	CHECK_EQ_INT(rs.count, (int64_t)nwant);   /* non-blank lines */
	CHECK_EQ_INT(rs.n, nwant);
	for (size_t i = 0; i < rs.n && i < nwant; i++) {
		char src[1100];
		snprintf(src, sizeof(src), "%s:%d", tpath("jl/list.jsonl"), want[i].line);
		CHECK_EQ_INT(rs.r[i].index, i);
		CHECK_EQ_STR(rs.r[i].source, src);
		CHECKF(!strcmp(reason(&rs.r[i]), want[i].reason), "%s: %s (%s)", src,
		       reason(&rs.r[i]), rs.r[i].reject_msg ? rs.r[i].reject_msg : "");
	}
	if (rs.n == nwant) {
		CHECK(CAP_IS(&rs.r[0], 0, "c1") && rs.r[0].ncaptions == 1);
		CHECK(strstr(rs.r[1].reject_msg, "not JSON") != NULL);
		CHECK(strstr(rs.r[2].reject_msg, "not a JSON object") != NULL);
		CHECK(rs.r[4].ncaptions == 2 && CAP_IS(&rs.r[4], 0, "p") && CAP_IS(&rs.r[4], 1, "q"));
		CHECK_EQ_STR(rs.r[4].image_ref, "img/b.jpg");
		CHECK(cap_is(&rs.r[5], 0, "t\0x", 3));
		CHECK(CAP_IS(&rs.r[10], 0, "last, no newline"));
	}
	recs_free(&rs);

	/* custom fields */
	put(tpath("jl/custom.jsonl"), "{\"img\": \"img/a.jpg\", \"desc\": \"custom\", \"caption\": \"no\"}\n"
				      "{\"image\": \"img/a.jpg\", \"caption\": \"x\"}\n");
	struct ts_source_opts o = { .image_col = "img", .caption_col = "desc" };
	rs = read_all(tpath("jl/custom.jsonl"), &o, 0);
	CHECK_EQ_INT(rs.n, 2);
	if (rs.n == 2) {
		CHECK(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "custom"));
		CHECK_EQ_STR(reason(&rs.r[1]), "record.missing_field");
	}
	recs_free(&rs);

	/* a line over max_record_bytes is rejected; the next line still reads */
	char big[300];
	memset(big, 'a', sizeof(big));
	FILE *f = fopen(tpath("jl/long.jsonl"), "wb");
	fprintf(f, "{\"image\": \"img/a.jpg\", \"caption\": \"%.*s\"}\n", (int)sizeof(big), big);
	fprintf(f, "{\"image\": \"img/a.jpg\", \"caption\": \"short\"}\n");
	fclose(f);
	struct ts_source_opts o2 = { .max_record_bytes = 100 };
	rs = read_all(tpath("jl/long.jsonl"), &o2, 0);
	CHECK_EQ_INT(rs.n, 2);
	if (rs.n == 2) {
		CHECK_EQ_STR(reason(&rs.r[0]), "record.bad_row");
		CHECK(strstr(rs.r[0].reject_msg, "longer than 100 bytes") != NULL);
		CHECK(rs.r[1].reject == TS_R_NONE && CAP_IS(&rs.r[1], 0, "short"));
		CHECK(ends_with(rs.r[1].source, "long.jsonl:2"));
	}
	recs_free(&rs);
}

/* Lines of the real flickr8k.jsonl (several lines per image) read as is. */
static void jsonl_real(void)
{
	char path[512], line[4096];
	snprintf(path, sizeof(path), "%s/data/captions/flickr8k.jsonl", t_shared());
	FILE *in = fopen(path, "r");
	if (!in)
		SKIP("../shared/data/captions/flickr8k.jsonl not found");
	mkdirs_for(tpath("fl/captions.jsonl"));
	FILE *out = fopen(tpath("fl/captions.jsonl"), "w");
	json_t *want = json_array();
	for (int i = 0; i < 25 && fgets(line, sizeof(line), in); i++) {
		fputs(line, out);
		json_t *o = json_loads(line, 0, NULL);
		json_array_append(want, o);
		put(tpath("fl/%s", json_string_value(json_object_get(o, "image"))), "x");
		json_decref(o);
	}
	fclose(in);
	fclose(out);
	struct recs rs = read_all(tpath("fl/captions.jsonl"), NULL, 0);
	CHECK_EQ_INT(rs.n, json_array_size(want));
	for (size_t i = 0; i < rs.n && i < json_array_size(want); i++) {
		json_t *o = json_array_get(want, i);
		CHECK(rs.r[i].reject == TS_R_NONE);
		CHECK(CAP_IS(&rs.r[i], 0, json_string_value(json_object_get(o, "caption"))));
		CHECK_EQ_STR(rs.r[i].image_ref, json_string_value(json_object_get(o, "image")));
	}
	json_decref(want);
	recs_free(&rs);
}

/* ---- Urban1k ---- */

static void urban1k(void)
{
	put(tpath("u1k/image/1.jpg"), "x");
	put(tpath("u1k/image/10.jpg"), "x");
	put(tpath("u1k/image/2.jpg"), "x");
	put(tpath("u1k/image/.DS_Store.jpg"), "x");
	put(tpath("u1k/image/readme.md"), "x");
	put(tpath("u1k/caption/1.txt"), "first line\r\nsecond line\n");
	put(tpath("u1k/caption/10.txt"), "only line");
	put(tpath("u1k/caption/2.txt.bak"), "not it");
	struct recs rs = read_all(tpath("u1k"), NULL, 5);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.count, 3);
	CHECK_EQ_INT(rs.n, 3);
	if (rs.n == 3) {
		CHECK_EQ_STR(rs.r[0].source, "image/1.jpg");
		CHECK(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "first line"));
		CHECK(rs.r[0].ncaptions == 1 && ends_with(rs.r[0].image_path, "/u1k/image/1.jpg"));
		CHECK_EQ_STR(rs.r[1].source, "image/10.jpg");
		CHECK(rs.r[1].reject == TS_R_NONE && CAP_IS(&rs.r[1], 0, "only line"));
		CHECK_EQ_STR(rs.r[2].source, "image/2.jpg");
		CHECK_EQ_STR(reason(&rs.r[2]), "caption.missing");
		CHECK_EQ_INT(rs.r[2].index, 7);
	}
	recs_free(&rs);
}


/* ---- COCO ---- */

static void coco_fixture(void)
{
	const char *in = "tests/data/inputs/coco/captions.json";
	static const struct {
		const char *reason;
		size_t ncaps;
	} want[] = {
		{ "none", 3 }, { "none", 1 }, { "caption.missing", 0 }, { "record.bad_json", 0 },
		{ "record.missing_field", 0 }, { "source.missing", 0 }, { "source.escapes_root", 0 },
	};
	size_t nwant = sizeof(want) / sizeof(want[0]);
	struct recs rs = read_all(in, NULL, 3);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.rc, 0);
	CHECK_EQ_INT(rs.count, (int64_t)nwant);
	CHECK_EQ_INT(rs.n, nwant);
	for (size_t i = 0; i < rs.n && i < nwant; i++) {
		char src[256];
		snprintf(src, sizeof(src), "%s:images[%zu]", in, i);
		CHECK_EQ_STR(rs.r[i].source, src);
		CHECK_EQ_INT(rs.r[i].index, 3 + i);
		CHECKF(!strcmp(reason(&rs.r[i]), want[i].reason), "%s: %s (%s)", src,
		       reason(&rs.r[i]), rs.r[i].reject_msg ? rs.r[i].reject_msg : "");
		if (rs.r[i].reject == TS_R_NONE)
			CHECK_EQ_INT(rs.r[i].ncaptions, want[i].ncaps);
	}
	if (rs.n == nwant) {
		CHECK(CAP_IS(&rs.r[0], 0, "A cat on a mat."));
		CHECK(CAP_IS(&rs.r[0], 1, "A grey cat sleeping on a woven mat."));
		CHECK(CAP_IS(&rs.r[0], 2, "Third caption for the cat."));
		CHECK(CAP_IS(&rs.r[1], 0, "Two dogs, \"playing\"."));
		CHECK_EQ_STR(rs.r[1].image_ref, "images/b.jpg");
		CHECK(ends_with(rs.r[1].image_path, "/tests/data/inputs/coco/images/b.jpg"));
	}
	recs_free(&rs);

	/* not COCO: clear open errors */
	put(tpath("coco/noimages.json"), "{\"annotations\": []}");
	put(tpath("coco/noanns.json"), "{\"images\": []}");
	put(tpath("coco/broken.json"), "{\"images\": [}");
	static const struct {
		const char *file, *msg;
	} bad[] = {
		{ "coco/noimages.json", "no 'images' array" },
		{ "coco/noanns.json", "no 'annotations' array" },
		{ "coco/broken.json", "cannot parse '" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rs = read_all(tpath("%s", bad[i].file), NULL, 0);
		CHECK(rs.open_rc < 0);
		CHECKF(strstr(rs.err.msg, bad[i].msg) != NULL, "%s", rs.err.msg);
	}
}

/* COCO-shaped file built from the shared COCO val2017 pairs, annotations
 * listed in reverse image order to check grouping keeps annotation order. */
static void coco_real(void)
{
	char dir[512], path[600], line[4096];
	snprintf(dir, sizeof(dir), "%s/data/paired/coco_val2017_riretta", t_shared());
	snprintf(path, sizeof(path), "%s/captions.jsonl", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		SKIP("../shared/data/paired/coco_val2017_riretta not found");
	json_t *images = json_array(), *anns = json_array(), *rows = json_array();
	while (fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		if (o)
			json_array_append_new(rows, o);
	}
	fclose(f);
	/* images in first-seen order, ids from 1 */
	json_t *ids = json_object();
	size_t i;
	json_t *o;
	json_array_foreach(rows, i, o) {
		const char *img = json_string_value(json_object_get(o, "image"));
		if (!json_object_get(ids, img)) {
			json_int_t id = (json_int_t)json_array_size(images) + 1;
			json_object_set_new(ids, img, json_integer(id));
			json_array_append_new(images, json_pack("{sIss}", "id", id, "file_name", img));
		}
	}
	json_array_append_new(images, json_pack("{sIss}", "id", (json_int_t)9999,
						"file_name", json_string_value(json_object_get(json_array_get(rows, 0), "image"))));
	for (size_t k = json_array_size(rows); k-- > 0;) {
		o = json_array_get(rows, k);
		json_array_insert_new(anns, 0, json_pack("{sOsOsO}", "id", json_object_get(o, "coco_ann_id"),
							 "image_id", json_object_get(ids, json_string_value(json_object_get(o, "image"))),
							 "caption", json_object_get(o, "caption")));
	}
	/* reverse the annotation order by image, keeping order within an image */
	json_t *byimg = json_array();
	for (size_t k = json_array_size(images) - 1; k-- > 0;) {
		json_int_t id = json_integer_value(json_object_get(json_array_get(images, k), "id"));
		json_array_foreach(anns, i, o)
			if (json_integer_value(json_object_get(o, "image_id")) == id)
				json_array_append(byimg, o);
	}
	json_t *doc = json_pack("{soso}", "images", images, "annotations", byimg);
	json_dump_file(doc, tpath("coco_real.json"), 0);
	struct ts_source_opts opts = { .image_root = dir };
	struct recs rs = read_all(tpath("coco_real.json"), &opts, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, json_array_size(images));
	CHECK_EQ_INT(rs.count, (int64_t)json_array_size(images));
	size_t seen = 0;
	for (size_t k = 0; k + 1 < rs.n; k++) {
		const struct ts_record *r = &rs.r[k];
		CHECKF(r->reject == TS_R_NONE, "%s: %s", r->source, r->reject_msg);
		size_t c = 0;
		json_array_foreach(rows, i, o) {
			if (strcmp(json_string_value(json_object_get(o, "image")), r->image_ref))
				continue;
			CHECK(CAP_IS(r, c, json_string_value(json_object_get(o, "caption"))));
			c++;
		}
		CHECK_EQ_INT(r->ncaptions, c);
		seen += c;
	}
	CHECK_EQ_INT(seen, json_array_size(rows));
	if (rs.n)
		CHECK_EQ_STR(reason(&rs.r[rs.n - 1]), "caption.missing");
	recs_free(&rs);
	json_decref(doc);
	json_decref(anns);
	json_decref(rows);
	json_decref(ids);
}

/* ---- ShareGPT4V ---- */

static void sharegpt4v_tricky(void)
{
	const char *in = "tests/data/inputs/sharegpt4v/tricky.json";
	static const struct {
		const char *reason, *caption;
	} want[] = {
		{ "none", "A tray [with] {braces}, commas, \"quotes\"\nand a backslash \\" },
		{ "none", "ends in a backslash \\\\" },
		{ "record.bad_json", NULL },
		{ "record.bad_json", NULL },
		{ "record.missing_field", NULL },
		{ "record.missing_field", NULL },
		{ "record.bad_json", NULL },
		{ "record.bad_json", NULL },
		{ "source.missing", NULL },
		{ "none", "last one" },
	};
	size_t nwant = sizeof(want) / sizeof(want[0]);
	struct ts_source_opts o = { .format = TS_INPUT_AUTO };
	CHECK_EQ_INT(ts_source_detect(in), TS_INPUT_SHAREGPT4V);
	struct recs rs = read_all(in, &o, 10);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECKF(rs.rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.count, (int64_t)nwant);   /* array elements */
	CHECK_EQ_INT(rs.n, nwant);
	for (size_t i = 0; i < rs.n && i < nwant; i++) {
		const struct ts_record *r = &rs.r[i];
		char src[256];
		snprintf(src, sizeof(src), "%s:[%zu]", in, i);
		CHECK_EQ_STR(r->source, src);
		CHECK_EQ_INT(r->index, 10 + i);
		CHECKF(!strcmp(reason(r), want[i].reason), "%s: %s (%s)", src, reason(r),
		       r->reject_msg ? r->reject_msg : "");
		if (want[i].caption)
			CHECKF(CAP_IS(r, 0, want[i].caption) && r->ncaptions == 1, "%s", src);
	}
	if (rs.n == nwant) {
		CHECK_EQ_STR(rs.r[0].image_ref, "coco/train2017/000000000009.jpg");
		CHECK(ends_with(rs.r[0].image_path, "/sharegpt4v/coco/train2017/000000000009.jpg"));
		CHECK(strstr(rs.r[2].reject_msg, "a number") != NULL);
	}
	recs_free(&rs);
}

static void sharegpt4v_edges(void)
{
	const char *el = "{\"image\": \"i.jpg\", \"conversations\": [{}, {\"value\": \"v\"}]}";
	char body[512];
	put(tpath("sg/i.jpg"), "x");
	struct ts_source_opts o = { .format = TS_INPUT_SHAREGPT4V };
	struct recs rs;

	put(tpath("sg/empty.json"), " [ ] ");
	rs = read_all(tpath("sg/empty.json"), &o, 0);
	CHECK(rs.open_rc == 0 && rs.rc == 0 && rs.n == 0);

	/* the file ends inside the second element: it is rejected, then the end */
	snprintf(body, sizeof(body), "\xEF\xBB\xBF[%s, {\"image\": \"i.j", el);
	put(tpath("sg/trunc.json"), body);
	rs = read_all(tpath("sg/trunc.json"), &o, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.rc, 0);
	CHECK_EQ_INT(rs.n, 2);
	if (rs.n == 2) {
		CHECK(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "v"));
		CHECK_EQ_STR(reason(&rs.r[1]), "record.bad_json");
		CHECK(strstr(rs.r[1].reject_msg, "truncated") != NULL);
	}
	recs_free(&rs);

	/* the file ends between elements (after a comma, or right after a
	 * whole element): the elements before arrive, one record.truncated
	 * marks the cut, no fatal error */
	for (int comma = 0; comma < 2; comma++) {
		snprintf(body, sizeof(body), "[%s, %s%s", el, el, comma ? ",\n  " : "");
		put(tpath("sg/trunc2.json"), body);
		rs = read_all(tpath("sg/trunc2.json"), &o, 0);
		CHECKF(rs.open_rc == 0 && rs.rc == 0, "%s", rs.err.msg);
		CHECK_EQ_INT(rs.n, 3);
		if (rs.n == 3) {
			CHECK(rs.r[0].reject == TS_R_NONE && rs.r[1].reject == TS_R_NONE);
			CHECK_EQ_STR(reason(&rs.r[2]), "record.truncated");
			CHECK(ends_with(rs.r[2].source, ":[2]"));
			CHECKF(strstr(rs.r[2].reject_msg, "after 2 elements") != NULL, "%s",
			       rs.r[2].reject_msg);
		}
		recs_free(&rs);
	}

	/* not an array */
	put(tpath("sg/obj.json"), "{\"images\": []}");
	rs = read_all(tpath("sg/obj.json"), &o, 0);
	CHECK(rs.open_rc < 0);
	CHECKF(strstr(rs.err.msg, "not a ShareGPT4V file") != NULL, "%s", rs.err.msg);

	/* an element over max_record_bytes is skipped whole and rejected */
	char big[400];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	FILE *f = fopen(tpath("sg/big.json"), "wb");
	fprintf(f, "[{\"image\": \"i.jpg\", \"conversations\": [{}, {\"value\": \"%s, ]}\"}]}, %s]", big, el);
	fclose(f);
	struct ts_source_opts ob = { .format = TS_INPUT_SHAREGPT4V, .max_record_bytes = 128 };
	rs = read_all(tpath("sg/big.json"), &ob, 0);
	CHECK_EQ_INT(rs.rc, 0);
	CHECK_EQ_INT(rs.n, 2);
	if (rs.n == 2) {
		CHECK_EQ_STR(reason(&rs.r[0]), "record.bad_row");
		CHECK(rs.r[1].reject == TS_R_NONE && CAP_IS(&rs.r[1], 0, "v"));
	}
	recs_free(&rs);
}

static long max_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* 20000 elements streamed one at a time: every record comes back, in order,
 * and (outside sanitizer builds) memory does not grow with the file. */
static void sharegpt4v_large(void)
{
	enum { N = 20000 };
	static char caps[64][512];
	size_t ncaps = 0;
	char path[512], line[8192];
	snprintf(path, sizeof(path), "%s/data/captions/long_iiw_model.jsonl", t_shared());
	FILE *lf = fopen(path, "r");
	while (lf && ncaps < 64 && fgets(line, sizeof(line), lf)) {
		json_t *o = json_loads(line, 0, NULL);
		const char *c = json_string_value(json_object_get(o, "caption"));
		if (c && strlen(c) < 512)
			snprintf(caps[ncaps++], 512, "%s", c);
		json_decref(o);
	}
	if (lf)
		fclose(lf);
	if (!ncaps)        /* no shared data: synthetic long captions */
		for (; ncaps < 8; ncaps++)
			snprintf(caps[ncaps], 512, "Caption %zu. A \"long\" one,\nwith [brackets] and {braces} \\ %0300d",
				 ncaps, 0);

	put(tpath("sgl/coco/train2017/x.jpg"), "x");
	FILE *f = fopen(tpath("sgl/sharegpt4v_large.json"), "wb");
	fputs("[\n", f);
	for (int i = 0; i < N; i++) {
		json_t *e = json_pack("{sssss[{ssss}{ssss}]}", "id", "x", "image", "coco/train2017/x.jpg",
				      "conversations", "from", "human", "value", "<image>\nDescribe.",
				      "from", "gpt", "value", caps[i % ncaps]);
		char *s = json_dumps(e, JSON_COMPACT);
		fprintf(f, "%s%s\n", s, i + 1 < N ? "," : "");
		free(s);
		json_decref(e);
	}
	fputs("]\n", f);
	long fsize = ftell(f);
	fclose(f);

	struct ts_source *src = NULL;
	struct ts_err e = TS_ERR_INIT;
	struct ts_source_opts o = { .format = TS_INPUT_AUTO };
	CHECK_EQ_INT(ts_source_open(&src, tpath("sgl/sharegpt4v_large.json"), &o, 0, &e), 0);
	if (!src)
		return;
	struct ts_record rec;
	memset(&rec, 0, sizeof(rec));
	long rss0 = 0;
	size_t n = 0, bad = 0;
	int rc;
	while ((rc = ts_source_next(src, &rec, &e)) == 1) {
		if (n == 100)
			rss0 = max_rss_kb();
		if (rec.index != n || rec.reject != TS_R_NONE || rec.ncaptions != 1 ||
		    !CAP_IS(&rec, 0, caps[n % ncaps]))
			bad++;
		n++;
		ts_record_release(&rec);
	}
	ts_source_close(src);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(n, N);
	CHECK_EQ_INT(bad, 0);
	long grew = max_rss_kb() - rss0;
#if defined(__SANITIZE_ADDRESS__)
	(void)grew;
	(void)fsize;
#else
	CHECKF(grew * 1024 < fsize / 4, "max RSS grew by %ld KiB reading a %ld KiB file", grew,
	       fsize / 1024);
#endif
}


/* ---- issue: lists as datasets ship them ---- */

/* A TSV of real captions with quotes in every position (start, middle,
 * end, alone, unbalanced, doubled): literal fields give every row back
 * byte for byte, one record per line. */
static void tsv_real_quotes(void)
{
	static char caps[200][512];
	size_t n = flickr_captions(caps, 200);
	if (!n)
		SKIP("../shared/data/captions/flickr8k.jsonl not found");
	static const char *const forms[] = {
		"\"%s\" sign on a door", "%s \"quoted\" end", "%s ends in a quote\"",
		"\"%s", "%s \"\"doubled\"\"", "\"", "6\" pipe %s", "%s",
	};
	static char want[200][700];
	mkdirs_for(tpath("tq/list.tsv"));
	FILE *f = fopen(tpath("tq/list.tsv"), "wb");
	fputs("caption\timage\n", f);
	for (size_t i = 0; i < n; i++) {
		snprintf(want[i], sizeof(want[i]), forms[i % 8], caps[i]);
		fprintf(f, "%s\timg/%zu.jpg\n", want[i], i % 4);
	}
	fclose(f);
	for (int i = 0; i < 4; i++)
		put(tpath("tq/img/%d.jpg", i), "x");
	struct recs rs = read_all(tpath("tq/list.tsv"), NULL, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, n);
	size_t bad = 0;
	for (size_t i = 0; i < rs.n && i < n; i++) {
		int ok = rs.r[i].reject == TS_R_NONE && CAP_IS(&rs.r[i], 0, want[i]);
		if (!ok && bad++ < 5)
			CHECKF(ok, "row %zu: expected '%s', got %s '%.*s'", i + 2, want[i],
			       reason(&rs.r[i]), rs.r[i].ncaptions ? (int)rs.r[i].caption_lens[0] : 0,
			       rs.r[i].ncaptions ? rs.r[i].captions[0] : "");
	}
	CHECK_EQ_INT(bad, 0);
	recs_free(&rs);
}

/* 1,000 CSV rows, an unclosed quote on row 3: that row is record.bad_row
 * and the 999 others arrive (with no other quote in the file, and with a
 * quoted caption further down that the open quote would pair with). */
static void csv_unclosed_quote(void)
{
	static char caps[1000][512];
	size_t n = flickr_captions(caps, 1000);
	if (n < 1000)
		SKIP("../shared/data/captions/flickr8k.jsonl not found");
	put(tpath("uq/img/a.jpg"), "x");
	for (int variant = 0; variant < 2; variant++) {
		FILE *f = fopen(tpath("uq/list%d.csv", variant), "wb");
		fputs("image,caption\n", f);
		for (size_t i = 0; i < 1000; i++) {
			if (i == 2)
				fprintf(f, "img/a.jpg,\"%s\n", caps[i]);     /* never closed */
			else if (variant == 1 && i == 40)
				fputs("img/a.jpg,\"a sign that says \"\"open\"\"\"\n", f);
			else {
				fputs("img/a.jpg,", f);
				for (const char *p = caps[i]; *p; p++)
					if (*p != '"' && *p != ',')
						fputc(*p, f);
				fputc('\n', f);
			}
		}
		fclose(f);
		struct recs rs = read_all(tpath("uq/list%d.csv", variant), NULL, 0);
		CHECKF(rs.open_rc == 0 && rs.rc == 0, "%s", rs.err.msg);
		size_t good = 0, badrows = 0;
		for (size_t i = 0; i < rs.n; i++) {
			if (rs.r[i].reject == TS_R_NONE)
				good++;
			else if (rs.r[i].reject == TS_R_RECORD_BAD_ROW)
				badrows++;
		}
		CHECKF(good == 999 && badrows == 1 && rs.n == 1000,
		       "variant %d: %zu records, %zu accepted, %zu bad rows; expected 1000, 999, 1",
		       variant, rs.n, good, badrows);
		if (rs.n > 3) {
			CHECK(ends_with(rs.r[2].source, ":4"));
			CHECK_EQ_STR(reason(&rs.r[2]), "record.bad_row");
			CHECK(ends_with(rs.r[3].source, ":5"));
		}
		if (variant == 1 && rs.n > 40)
			CHECK(CAP_IS(&rs.r[40], 0, "a sign that says \"open\""));
		recs_free(&rs);
	}
	/* a quoted caption with newlines inside the limit is still one field */
	put(tpath("uq/ml.csv"), "image,caption\nimg/a.jpg,\"one\ntwo\nthree\"\nimg/a.jpg,next\n");
	struct ts_source_opts lim = { .max_quoted_lines = 3 };
	struct recs rs = read_all(tpath("uq/ml.csv"), &lim, 0);
	CHECK_EQ_INT(rs.n, 2);
	if (rs.n == 2)
		CHECK(CAP_IS(&rs.r[0], 0, "one\ntwo\nthree") && CAP_IS(&rs.r[1], 0, "next"));
	recs_free(&rs);
	/* ... and past it a bad row, then the lines after it are rows again */
	lim.max_quoted_lines = 2;
	rs = read_all(tpath("uq/ml.csv"), &lim, 0);
	CHECKF(rs.n == 4, "%zu records", rs.n);
	if (rs.n == 4) {
		CHECK_EQ_STR(reason(&rs.r[0]), "record.bad_row");
		CHECK(strstr(rs.r[0].reject_msg, "not closed within 2 lines") != NULL);
		CHECK_EQ_STR(reason(&rs.r[1]), "record.bad_row");      /* "two": one field */
		CHECK_EQ_STR(reason(&rs.r[2]), "record.bad_row");      /* three": one field */
		CHECK(CAP_IS(&rs.r[3], 0, "next"));
	}
	recs_free(&rs);
}

/* A row over the record cap is a reject, not the end of the run: both an
 * unquoted one and one inside quotes on a single line. */
static void csv_row_over_cap(void)
{
	size_t big = 3 << 20;
	char *row = malloc(big + 1);
	memset(row, 'a', big);
	row[big] = '\0';
	put(tpath("cap/img/a.jpg"), "x");
	FILE *f = fopen(tpath("cap/list.csv"), "wb");
	fprintf(f, "image,caption\nimg/a.jpg,first\nimg/a.jpg,%s\nimg/a.jpg,\"%s\"\nimg/a.jpg,last\n",
		row, row);
	fclose(f);
	free(row);
	struct ts_source_opts o = { .max_record_bytes = 1 << 20 };
	struct recs rs = read_all(tpath("cap/list.csv"), &o, 0);
	CHECKF(rs.open_rc == 0 && rs.rc == 0, "open %d, next %d: %s", rs.open_rc, rs.rc, rs.err.msg);
	CHECK_EQ_INT(rs.n, 4);
	if (rs.n == 4) {
		CHECK(CAP_IS(&rs.r[0], 0, "first"));
		CHECK_EQ_STR(reason(&rs.r[1]), "record.bad_row");
		CHECK(ends_with(rs.r[1].source, ":3"));
		CHECK_EQ_STR(reason(&rs.r[2]), "record.bad_row");
		CHECK(ends_with(rs.r[2].source, ":4"));
		CHECK(CAP_IS(&rs.r[3], 0, "last"));
		CHECK(ends_with(rs.r[3].source, ":5"));
	}
	recs_free(&rs);
	/* the default cap (64 MiB): a 65 MiB row was the end of the run */
	size_t huge = 65u << 20;
	f = fopen(tpath("cap/huge.csv"), "wb");
	fputs("image,caption\nimg/a.jpg,", f);
	char *chunk = malloc(1 << 20);
	memset(chunk, 'b', 1 << 20);
	for (size_t k = 0; k < huge >> 20; k++)
		fwrite(chunk, 1, 1 << 20, f);
	free(chunk);
	fputs("\nimg/a.jpg,after\n", f);
	fclose(f);
	rs = read_all(tpath("cap/huge.csv"), NULL, 0);
	CHECKF(rs.open_rc == 0 && rs.rc == 0, "open %d, next %d: %s", rs.open_rc, rs.rc, rs.err.msg);
	CHECK_EQ_INT(rs.n, 2);
	if (rs.n == 2) {
		CHECK_EQ_STR(reason(&rs.r[0]), "record.bad_row");
		CHECK(CAP_IS(&rs.r[1], 0, "after") && ends_with(rs.r[1].source, ":3"));
	}
	recs_free(&rs);
	unlink(tpath("cap/huge.csv"));
}

/* CC3M (caption, url) and CC12M (url, caption) lists have no header;
 * open_clip's CSV is tab-separated with filepath and title. */
static void no_header_presets(void)
{
	put(tpath("nh/img/1.jpg"), "x");
	put(tpath("nh/img/2.jpg"), "x");
	put(tpath("nh/cc3m.tsv"), "a \"quoted\" caption\timg/1.jpg\nsecond\timg/2.jpg\n");
	put(tpath("nh/cc12m.tsv"), "img/1.jpg\tfirst\nimg/2.jpg\t\"Hello\" sign on a door\n");
	static const struct {
		const char *file, *preset;
		const char *cap0, *cap1;
	} cases[] = {
		{ "nh/cc3m.tsv", "cc3m", "a \"quoted\" caption", "second" },
		{ "nh/cc12m.tsv", "cc12m", "first", "\"Hello\" sign on a door" },
	};
	for (size_t i = 0; i < 2; i++) {
		const struct ts_source_preset *p = ts_source_preset_find(cases[i].preset);
		CHECK(p != NULL);
		if (!p)
			continue;
		struct ts_source_opts o = { .no_header = 1, .columns = p->columns,
					    .image_col = p->image_col, .caption_col = p->caption_col };
		struct recs rs = read_all(tpath("%s", cases[i].file), &o, 0);
		CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
		CHECK_EQ_INT(rs.n, 2);
		if (rs.n == 2) {
			CHECK(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, cases[i].cap0));
			CHECK(rs.r[1].reject == TS_R_NONE && CAP_IS(&rs.r[1], 0, cases[i].cap1));
			CHECK(ends_with(rs.r[0].source, ":1"));
			CHECK(ends_with(rs.r[1].image_path, "/nh/img/2.jpg"));
		}
		recs_free(&rs);
		/* the same by position, without names */
		struct ts_source_opts pos = { .no_header = 1,
					      .image_col = i == 0 ? "2" : "1",
					      .caption_col = i == 0 ? "1" : "2" };
		rs = read_all(tpath("%s", cases[i].file), &pos, 0);
		CHECKF(rs.open_rc == 0 && rs.n == 2, "%s", rs.err.msg);
		if (rs.n == 2)
			CHECK(CAP_IS(&rs.r[1], 0, cases[i].cap1));
		recs_free(&rs);
	}
	/* without names or positions: a clear open error */
	struct ts_source_opts bare = { .no_header = 1 };
	struct recs rs = read_all(tpath("nh/cc3m.tsv"), &bare, 0);
	CHECK(rs.open_rc < 0);
	CHECKF(strstr(rs.err.msg, "--columns") != NULL, "%s", rs.err.msg);
	recs_free(&rs);
	/* open_clip: filepath<TAB>title in a .csv, absolute paths */
	char body[2048];
	snprintf(body, sizeof(body), "\xEF\xBB\xBF" "filepath\ttitle\n%s\ta title, with a comma\n",
		 tpath("nh/img/1.jpg"));
	put(tpath("nh/openclip.csv"), body);
	rs = read_all(tpath("nh/openclip.csv"), NULL, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, 1);
	if (rs.n == 1)
		CHECKF(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "a title, with a comma"),
		       "%s %s", reason(&rs.r[0]), rs.r[0].reject_msg ? rs.r[0].reject_msg : "");
	recs_free(&rs);
	CHECK(ts_source_preset_find("laion") && !ts_source_preset_find("laion")->columns);
	CHECK(ts_source_preset_find("nope") == NULL);
}

/* --keep-col copies columns into meta_json; a byte-order mark before a
 * JSONL file's first line does not cost its first record. */
static void keep_cols_and_bom(void)
{
	put(tpath("kc/img/a.jpg"), "x");
	put(tpath("kc/list.csv"), "image,caption,uid,similarity\nimg/a.jpg,cap,00ab,0.31\n");
	put(tpath("kc/list.jsonl"), "\xEF\xBB\xBF{\"image\": \"img/a.jpg\", \"caption\": \"c\", \"uid\": 7}\n"
	    "{\"image\": \"img/a.jpg\", \"caption\": \"d\"}\n");
	const char *keep[] = { "uid", "similarity" };
	struct ts_source_opts o = { .keep_cols = keep, .nkeep_cols = 2 };
	struct recs rs = read_all(tpath("kc/list.csv"), &o, 0);
	CHECKF(rs.open_rc == 0 && rs.n == 1, "%s", rs.err.msg);
	if (rs.n == 1)
		CHECK_EQ_STR(rs.r[0].meta_json, "{\"uid\":\"00ab\",\"similarity\":\"0.31\"}");
	recs_free(&rs);
	rs = read_all(tpath("kc/list.jsonl"), &o, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, 2);
	if (rs.n == 2) {
		CHECKF(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "c"), "%s %s",
		       reason(&rs.r[0]), rs.r[0].reject_msg ? rs.r[0].reject_msg : "");
		CHECK_EQ_STR(rs.r[0].meta_json, "{\"uid\":7,\"similarity\":null}");
	}
	recs_free(&rs);
	/* a column that is not there: an open error naming it */
	const char *nokeep[] = { "nope" };
	struct ts_source_opts o2 = { .keep_cols = nokeep, .nkeep_cols = 1 };
	rs = read_all(tpath("kc/list.csv"), &o2, 0);
	CHECK(rs.open_rc < 0 && strstr(rs.err.msg, "'nope'"));
	recs_free(&rs);
}

/* --group-by: rows of one image, consecutive or not, become one record
 * with all captions in row order; rejects stand alone; by a column too. */
static void group_by(void)
{
	for (int i = 0; i < 3; i++)
		put(tpath("gb/img/%d.jpg", i), "x");
	put(tpath("gb/list.csv"),
	    "image,caption,id\n"
	    "img/0.jpg,zero a,10\n"       /* 2 */
	    "img/1.jpg,one a,11\n"        /* 3 */
	    "img/0.jpg,zero b,10\n"       /* 4 */
	    "img/9.jpg,missing,19\n"      /* 5 */
	    "img/2.jpg,two a,12\n"        /* 6 */
	    "img/1.jpg,one b,11\n"        /* 7 */
	    "./img/0.jpg,zero c,10\n");   /* 8: the same file */
	struct ts_source_opts o = { .group_by = "image" };
	struct recs rs = read_all(tpath("gb/list.csv"), &o, 5);
	CHECKF(rs.open_rc == 0 && rs.rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, 4);
	if (rs.n == 4) {
		CHECK(rs.r[0].ncaptions == 3 && CAP_IS(&rs.r[0], 0, "zero a") &&
		      CAP_IS(&rs.r[0], 1, "zero b") && CAP_IS(&rs.r[0], 2, "zero c"));
		CHECK(ends_with(rs.r[0].source, ":2"));
		CHECK(rs.r[1].ncaptions == 2 && CAP_IS(&rs.r[1], 1, "one b"));
		CHECK_EQ_STR(reason(&rs.r[2]), "source.missing");
		CHECK(ends_with(rs.r[2].source, ":5"));
		CHECK(rs.r[3].ncaptions == 1 && CAP_IS(&rs.r[3], 0, "two a"));
		for (size_t i = 0; i < 4; i++)
			CHECK_EQ_INT(rs.r[i].index, 5 + i);
	}
	recs_free(&rs);
	struct ts_source_opts byid = { .group_by = "id" };
	rs = read_all(tpath("gb/list.csv"), &byid, 0);
	CHECK_EQ_INT(rs.n, 4);
	if (rs.n == 4)
		CHECK(rs.r[0].ncaptions == 3 && rs.r[1].ncaptions == 2);
	recs_free(&rs);
	/* a tiny memory bound: groups are flushed, nothing is lost */
	struct ts_source_opts tiny = { .group_by = "image", .max_group_bytes = 1 };
	rs = read_all(tpath("gb/list.csv"), &tiny, 0);
	CHECK_EQ_INT(rs.n, 7);
	recs_free(&rs);
	/* not for other formats */
	rs = read_all("tests/data/inputs/coco/captions.json", &o, 0);
	CHECK(rs.open_rc < 0 && strstr(rs.err.msg, "--group-by"));
	recs_free(&rs);
}

/* COCO: a byte-order mark, an integer beyond int64 in one image's id
 * (only that image is rejected), image ids into meta_json. */
static void coco_damaged(void)
{
	put(tpath("cd/i/1.jpg"), "x");
	put(tpath("cd/i/2.jpg"), "x");
	put(tpath("cd/c.json"),
	    "\xEF\xBB\xBF{\"images\": [{\"id\": 1, \"file_name\": \"i/1.jpg\"},"
	    " {\"id\": 99999999999999999999, \"file_name\": \"i/2.jpg\"},"
	    " {\"id\": \"s2\", \"file_name\": \"i/2.jpg\"}],"
	    " \"annotations\": [{\"image_id\": 1, \"id\": 5, \"caption\": \"one\"},"
	    " {\"image_id\": 99999999999999999999, \"caption\": \"huge\"},"
	    " {\"image_id\": \"s2\", \"caption\": \"two\"}]}");
	struct recs rs = read_all(tpath("cd/c.json"), NULL, 0);
	CHECKF(rs.open_rc == 0, "%s", rs.err.msg);
	CHECK_EQ_INT(rs.n, 3);
	if (rs.n == 3) {
		CHECK(rs.r[0].reject == TS_R_NONE && CAP_IS(&rs.r[0], 0, "one"));
		CHECK_EQ_STR(rs.r[0].meta_json, "{\"image_id\":1}");
		CHECK_EQ_STR(reason(&rs.r[1]), "record.missing_field");
		CHECK(rs.r[2].reject == TS_R_NONE && CAP_IS(&rs.r[2], 0, "two"));
		CHECK_EQ_STR(rs.r[2].meta_json, "{\"image_id\":\"s2\"}");
	}
	recs_free(&rs);
}

/* A folder whose subdirectory cannot be listed: that directory is one
 * source.unreadable record, the images next to it arrive.  Root reads any
 * directory, so the reading runs as nobody in a child process. */
static void folder_unlistable(void)
{
	put(tpath("ul/r/a/1.jpg"), "x");
	put(tpath("ul/r/a/1.txt"), "one");
	put(tpath("ul/r/b/2.jpg"), "x");
	put(tpath("ul/r/b/2.txt"), "two");
	put(tpath("ul/r/c/3.jpg"), "x");
	put(tpath("ul/r/c/3.txt"), "three");
	chmod(tmp(), 0755);
	chmod(tpath("ul/r/b"), 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(77);
		if (geteuid() == 0)
			_exit(77);
		struct recs rs = read_all(tpath("ul/r"), NULL, 0);
		int ok = rs.open_rc == 0 && rs.n == 3 && rs.r[0].reject == TS_R_NONE &&
			rs.r[1].reject == TS_R_SOURCE_UNREADABLE && !strcmp(rs.r[1].source, "b/") &&
			rs.r[2].reject == TS_R_NONE && CAP_IS(&rs.r[2], 0, "three");
		if (!ok)
			fprintf(stderr, "  open %d (%s), %zu records, second: %s %s\n", rs.open_rc,
				rs.err.msg, rs.n, rs.n > 1 ? rs.r[1].source : "-",
				rs.n > 1 ? reason(&rs.r[1]) : "-");
		_exit(ok ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	chmod(tpath("ul/r/b"), 0755);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		SKIP("cannot drop root privileges to make a directory unlistable");
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

/* ---- the scene-text readers of `tessera str` ---- */

/* gt lists: split once at the first run of white space, blank lines are
 * not records, a BOM opens the file, bad lines are rejects that keep
 * their index; sources are LIST:LINE. */
static void gtlist(void)
{
	static const char jpg[] = "\xff\xd8\xff\xe0 not really a JPEG";
	put_bytes(tpath("gt/img/a.jpg"), jpg, sizeof(jpg) - 1);
	put_bytes(tpath("gt/img/b c.jpg"), jpg, sizeof(jpg) - 1);
	put(tpath("gt/gt.txt"), "\xef\xbb\xbfimg/a.jpg SALMON\n\n \t\nimg/a.jpg  two  words \r\n"
	    "img/missing.jpg x\nimg/a.jpg\n../../etc/passwd root\nimg/a.jpg\x1f" "caf\xc3\xa9\n");
	struct ts_source_opts o = { .format = TS_INPUT_GTLIST };
	struct recs r = read_all(tpath("gt/gt.txt"), &o, 0);
	CHECKF(r.open_rc == 0, "%s", r.err.msg);
	CHECK_EQ_INT(r.rc, 0);
	CHECK_EQ_INT(r.n, 6);
	if (r.n == 6) {
		for (size_t i = 0; i < r.n; i++)
			CHECK_EQ_INT(r.r[i].index, i);
		CHECK_EQ_INT(r.r[0].reject, TS_R_NONE);
		CHECK_EQ_STR(r.r[0].captions[0], "SALMON");
		CHECK_EQ_STR(r.r[0].image_ref, "img/a.jpg");
		CHECK(r.r[0].image_path && strstr(r.r[0].image_path, "/gt/img/a.jpg"));
		CHECK(strstr(r.r[0].source, "gt.txt:1") != NULL);
		CHECK_EQ_STR(r.r[1].captions[0], "two  words ");   /* CR/LF go, inner and trailing spaces stay */
		CHECK(strstr(r.r[1].source, "gt.txt:4") != NULL);
		CHECK_EQ_INT(r.r[2].reject, TS_R_SOURCE_MISSING);
		CHECK_EQ_INT(r.r[3].reject, TS_R_RECORD_BAD_ROW);
		CHECK_EQ_STR(r.r[3].reject_msg, "no label after the image path");
		CHECK_EQ_INT(r.r[4].reject, TS_R_SOURCE_ESCAPES_ROOT);
		CHECK_EQ_STR(r.r[5].captions[0], "caf\xc3\xa9");   /* \x1f is white space */
		CHECK(strstr(r.r[5].source, "gt.txt:8") != NULL);
	}
	recs_free(&r);
	/* a missing --image-root rejects every line, not the list */
	o.image_root = tpath("gt/nowhere");
	r = read_all(tpath("gt/gt.txt"), &o, 0);
	CHECKF(r.open_rc == 0, "%s", r.err.msg);
	CHECK_EQ_INT(r.n, 6);
	if (r.n)
		CHECK_EQ_INT(r.r[0].reject, TS_R_SOURCE_MISSING);
	recs_free(&r);
	/* not detected: a .txt list is no format of ingest's */
	CHECK_EQ_INT(ts_source_detect(tpath("gt/gt.txt")), TS_INPUT_AUTO);
}

/* LMDB environments: index = key number - 1, the bytes copied out of the
 * reader, missing keys rejected with their reason, no damage after a
 * clean read. */
static void lmdb_env(void)
{
	struct ts_err e = TS_ERR_INIT;
	struct ts_lmdb *db = NULL;
	char k[32];
	const char *dir = tpath("env");
	mkdir(dir, 0755);
	CHECKF(ts_lmdb_create(&db, dir, 64 << 20, 1, &e) == 0, "%s", e.msg);
	if (!db)
		return;
	CHECK(ts_lmdb_put(db, ts_lmdb_key("image", 1, k, sizeof(k)), "\xff\xd8img1", 6, &e) == 0);
	CHECK(ts_lmdb_put(db, ts_lmdb_key("label", 1, k, sizeof(k)), "Hello", 5, &e) == 0);
	CHECK(ts_lmdb_put(db, ts_lmdb_key("label", 2, k, sizeof(k)), "nolabel", 7, &e) == 0);
	CHECK(ts_lmdb_put(db, ts_lmdb_key("image", 3, k, sizeof(k)), "x", 1, &e) == 0);
	CHECK(ts_lmdb_put(db, "num-samples", "3", 1, &e) == 0);
	CHECK(ts_lmdb_commit(db, &e) == 0);
	ts_lmdb_close(db);

	struct ts_source *src = NULL;
	struct ts_source_opts o = { .format = TS_INPUT_LMDB };
	CHECKF(ts_source_open(&src, dir, &o, 0, &e) == 0, "%s", e.msg);
	if (!src)
		return;
	CHECK_EQ_INT(ts_source_count(src), 3);
	struct ts_record rec;
	CHECK_EQ_INT(ts_source_next(src, &rec, &e), 1);
	CHECK_EQ_INT(rec.index, 0);
	CHECK_EQ_INT(rec.reject, TS_R_NONE);
	CHECK(rec.image_len == 6 && rec.image_data && !memcmp(rec.image_data, "\xff\xd8img1", 6));
	CHECK(rec.ncaptions == 1 && rec.caption_lens[0] == 5 && !strcmp(rec.captions[0], "Hello"));
	CHECK(rec.image_path == NULL);
	CHECK(strstr(rec.source, "env:000000001") != NULL);
	ts_record_release(&rec);
	CHECK_EQ_INT(ts_source_next(src, &rec, &e), 1);
	CHECK_EQ_INT(rec.index, 1);
	CHECK_EQ_INT(rec.reject, TS_R_SOURCE_MISSING);
	CHECK_EQ_STR(rec.reject_msg, "no key image-000000002");
	ts_record_release(&rec);
	CHECK_EQ_INT(ts_source_next(src, &rec, &e), 1);
	CHECK_EQ_INT(rec.index, 2);
	CHECK_EQ_INT(rec.reject, TS_R_RECORD_MISSING_FIELD);
	ts_record_release(&rec);
	CHECK_EQ_INT(ts_source_next(src, &rec, &e), 0);
	CHECK(ts_source_damage(src) == NULL);
	ts_source_close(src);
	/* a gt list is not a folder, an environment is not a file */
	CHECK(ts_source_open(&src, dir, &(struct ts_source_opts){ .format = TS_INPUT_GTLIST }, 0, &e) != 0);
	CHECK(ts_source_open(&src, tpath("gt/gt.txt"), &o, 0, &e) != 0);
}

static const struct t_case cases[] = {
	{ "format_names", format_names },
	{ "detect", detect },
	{ "resolve_under", resolve_under },
	{ "folder", folder },
	{ "csv_basic", csv_basic },
	{ "csv_columns", csv_columns },
	{ "tsv", tsv },
	{ "csv_real_captions", csv_real_captions },
	{ "jsonl", jsonl },
	{ "jsonl_real", jsonl_real },
	{ "urban1k", urban1k },
	{ "coco_fixture", coco_fixture },
	{ "coco_real", coco_real },
	{ "sharegpt4v_tricky", sharegpt4v_tricky },
	{ "sharegpt4v_edges", sharegpt4v_edges },
	{ "sharegpt4v_large", sharegpt4v_large },
	{ "tsv_real_quotes", tsv_real_quotes },
	{ "csv_unclosed_quote", csv_unclosed_quote },
	{ "csv_row_over_cap", csv_row_over_cap },
	{ "no_header_presets", no_header_presets },
	{ "keep_cols_and_bom", keep_cols_and_bom },
	{ "group_by", group_by },
	{ "coco_damaged", coco_damaged },
	{ "folder_unlistable", folder_unlistable },
	{ "gtlist", gtlist },
	{ "lmdb_env", lmdb_env },
	{ NULL, NULL },
};

int main(void)
{
	int rc = t_run("source", cases);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp());
	if (!getenv("T_KEEP") && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp());
	return rc;
}
