/*
 * cmd_tags.c - `tessera tags`: candidate tags for every caption of a
 * dataset (captions/tags.h), written as KEY.tags.json members and rows of
 * the catalog's tags table (through rewrite.c), and `tessera tags stats`.
 * docs/tags.md has the formats.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../captions/bpe.h"
#include "../captions/tags.h"
#include "../captions/wordnet.h"
#include "../shards/dataset.h"
#include "cmd.h"
#include "rewrite.h"
#include "util.h"

void usage_tags(FILE *f)
{
	fputs(
"usage: tessera tags [options] OUTDIR\n"
"       tessera tags stats [options] OUTDIR\n"
"       tessera tags extract [options] [FILE]\n"
"\n"
"Candidate tags for text-tag self-distillation (TTD): the nouns and noun\n"
"compounds of every caption that name things in the image, found with\n"
"WordNet, each with its span in the caption (code points and bytes) and in\n"
"its CLIP tokens (SOT at 0).  Writes KEY.tags.json for every sample and the\n"
"catalog's tags table (docs/tags.md).\n"
"\n"
"tags:\n"
"  -o, --output DIR       write a new dataset to DIR instead of rewriting OUTDIR\n"
"      --wordnet DIR      WordNet 3.0 database (default: /usr/share/wordnet,\n"
"                         Debian's wordnet-base)\n"
"      --keep-scene-words keep image, photo, picture, view, background, side, front\n"
"      --all-nouns        keep abstract nouns too (trick, day, game...)\n"
"      --context N        mark tags past this CLIP context as truncated (default: 77)\n"
"      --vocab PATH       CLIP vocabulary (default: $TESSERA_VOCAB, the installed\n"
"                         copy, then ../shared/tokenizer/)\n"
"\n"
"extract: one caption per line (or JSONL with --jsonl, field caption or\n"
"text) from FILE or standard input to one JSON array of tags per line.\n"
"      --jsonl            input lines are JSON objects\n"
"\n"
"stats: distinct tags, the most frequent, tags per caption, captions with 0\n"
"or 1 tag.\n"
"      --top N            how many of the most frequent tags (default: 20)\n"
"      --json             one JSON object (tags: a summary line)\n"
"\n"
"  -q, --quiet            fewer messages\n"
"  -v, --verbose          more messages\n"
"  -h, --help             this help\n"
"\n"
"A dataset directory named like a subcommand is given as ./stats.\n"
"Exit status: 0 ok, 1 an error, 2 a usage error.\n", f);
}

/* ---- tags ------------------------------------------------------------------ */

struct tag_run {
	struct ts_tagger *tagger;
	struct ts_bpe_ctx *bpe;
	char *json;                    /* the last sample's KEY.tags.json */
	struct ts_tag_row *rows;
	size_t nrows, rows_cap;
	char *text;                    /* surface forms of rows, NUL-separated */
	size_t text_len, text_cap;
	uint64_t captions, tags, empty;
};

static int add_row(struct tag_run *r, const struct ts_tag_row *row, const char *surface, size_t n)
{
	if (r->nrows == r->rows_cap) {
		size_t nc = r->rows_cap ? r->rows_cap * 2 : 32;
		struct ts_tag_row *p = realloc(r->rows, nc * sizeof(*p));
		if (!p)
			return -1;
		r->rows = p;
		r->rows_cap = nc;
	}
	size_t ll = strlen(row->lemma) + 1;
	if (r->text_len + n + 1 + ll > r->text_cap) {
		size_t nc = r->text_cap ? r->text_cap : 4096;
		while (nc < r->text_len + n + 1 + ll)
			nc *= 2;
		char *p = realloc(r->text, nc);
		if (!p)
			return -1;
		r->text = p;
		r->text_cap = nc;
	}
	/* offsets for now; pointers once every row is in (text may move) */
	r->rows[r->nrows] = *row;
	r->rows[r->nrows].text = (const char *)(uintptr_t)r->text_len;
	memcpy(r->text + r->text_len, surface, n);
	r->text[r->text_len + n] = 0;
	r->text_len += n + 1;
	r->rows[r->nrows].lemma = (const char *)(uintptr_t)r->text_len;
	memcpy(r->text + r->text_len, row->lemma, ll);
	r->text_len += ll;
	r->nrows++;
	return 0;
}

static int tag_one(void *user, const struct ts_ds_sample *s, const struct ts_rw_member *members,
		   size_t nmembers, struct ts_rw_result *res, struct ts_err *err)
{
	struct tag_run *r = user;
	json_t *caps = json_loads(s->captions_json ? s->captions_json : "[]", 0, NULL);
	json_t *out = json_object(), *clist = json_array(), *regions = json_array(), *reg = json_object();
	int rc = TS_OK;

	free(r->json);
	r->json = NULL;
	r->nrows = 0;
	r->text_len = 0;
	if (!json_is_array(caps) || json_array_size(caps) == 0) {
		json_decref(caps);
		caps = json_pack("[s]", s->caption ? s->caption : "");
	}
	/* an ordinary image: one region, the whole frame, holding every tag */
	json_object_set_new(reg, "region", json_integer(1));
	json_object_set_new(reg, "rect", json_pack("[i,i,i,i]", 0, 0, s->width, s->height));
	json_array_append_new(regions, reg);
	json_object_set_new(out, "key", json_string(s->key));
	json_object_set_new(out, "weak", json_true());
	json_object_set_new(out, "regions", regions);
	for (size_t ci = 0; ci < json_array_size(caps) && rc == TS_OK; ci++) {
		const char *cap = json_string_value(json_array_get(caps, ci));
		size_t len = cap ? json_string_length(json_array_get(caps, ci)) : 0;
		struct ts_tag *tags = NULL;
		size_t n = 0;
		json_t *cj = json_object(), *tl = json_array();
		if (cap && (rc = ts_tags_extract(r->tagger, r->bpe, cap, len, &tags, &n, err))) {
			json_decref(cj);
			json_decref(tl);
			break;
		}
		for (size_t k = 0; k < n; k++) {
			const struct ts_tag *g = &tags[k];
			json_t *t = json_pack("{s:s, s:s%, s:[I,I], s:[I,I], s:[I,I], s:b, s:i}",
					      "lemma", g->lemma,
					      "text", cap + g->byte_start, g->byte_end - g->byte_start,
					      "char", (json_int_t)g->char_start, (json_int_t)g->char_end,
					      "bytes", (json_int_t)g->byte_start, (json_int_t)g->byte_end,
					      "tokens", (json_int_t)g->tok_start, (json_int_t)g->tok_end,
					      "truncated", g->truncated, "region", 1);
			json_array_append_new(tl, t);
			struct ts_tag_row row = {
				.caption = (long long)ci, .idx = (long long)k, .lemma = g->lemma,
				.char_start = (long long)g->char_start, .char_end = (long long)g->char_end,
				.byte_start = (long long)g->byte_start, .byte_end = (long long)g->byte_end,
				.tok_start = (long long)g->tok_start, .tok_end = (long long)g->tok_end,
				.truncated = g->truncated, .region = 1,
			};
			if (add_row(r, &row, cap + g->byte_start, g->byte_end - g->byte_start))
				rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		}
		free(tags);
		json_object_set_new(cj, "caption", json_integer((json_int_t)ci));
		json_object_set_new(cj, "tags", tl);
		json_array_append_new(clist, cj);
		r->captions++;
		r->tags += n;
		r->empty += n == 0;
	}
	json_object_set_new(out, "captions", clist);
	if (rc == TS_OK && !(r->json = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII)))
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	json_decref(out);
	json_decref(caps);
	if (rc)
		return rc;
	for (size_t i = 0; i < r->nrows; i++) {
		r->rows[i].text = r->text + (uintptr_t)r->rows[i].text;
		r->rows[i].lemma = r->text + (uintptr_t)r->rows[i].lemma;
	}
	res->add[0] = (struct ts_rw_member){ "tags.json", r->json, strlen(r->json) };
	res->nadd = 1;
	res->set_tags = 1;
	res->tags = r->rows;
	res->ntags = r->nrows;
	return 0;
}

static int tags_run(int argc, char **argv)
{
	enum { O_WORDNET = 256, O_KEEP_SCENE, O_ALL_NOUNS, O_CONTEXT, O_VOCAB, O_JSON };
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "wordnet", required_argument, NULL, O_WORDNET },
		{ "keep-scene-words", no_argument, NULL, O_KEEP_SCENE },
		{ "all-nouns", no_argument, NULL, O_ALL_NOUNS },
		{ "context", required_argument, NULL, O_CONTEXT },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_tagger_opts to = { .context = 77 };
	struct tag_run r = { 0 };
	struct ts_wordnet *wn = NULL;
	struct ts_bpe *bpe = NULL;
	struct ts_err e = TS_ERR_INIT;
	struct ts_rw_stats st;
	const char *out = NULL, *wndir = NULL, *vocab = NULL;
	int json = 0, c, rc = TS_EXIT_FAIL;
	long v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case O_WORDNET: wndir = optarg; break;
		case O_KEEP_SCENE: to.keep_scene_words = 1; break;
		case O_ALL_NOUNS: to.all_nouns = 1; break;
		case O_CONTEXT:
			if (ts_parse_int(optarg, 3, 1 << 20, &v)) {
				ts_error("invalid value '%s' for --context: expected 3 or more", optarg);
				return TS_EXIT_USAGE;
			}
			to.context = (size_t)v;
			break;
		case O_VOCAB: vocab = optarg; break;
		case O_JSON: json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_tags(stdout); return TS_EXIT_OK;
		default: fputs("see 'tessera tags --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ts_error("tags takes one OUTDIR (a tessera dataset)");
		fputs("see 'tessera tags --help'\n", stderr);
		return TS_EXIT_USAGE;
	}
	if (ts_wordnet_load(&wn, wndir, &e) || ts_bpe_load(&bpe, vocab, &e) ||
	    ts_tagger_new(&r.tagger, wn, &to, &e) || !(r.bpe = ts_bpe_ctx_new(bpe))) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		goto done;
	}
	char meta[256];
	snprintf(meta, sizeof(meta), "{\"wordnet\":\"%s\",\"keep_scene_words\":%s,\"all_nouns\":%s,\"context\":%zu}",
		 wndir ? wndir : TS_WORDNET_DEFAULT_DIR, to.keep_scene_words ? "true" : "false",
		 to.all_nouns ? "true" : "false", to.context);
	struct ts_rw_opts ro = { .indir = argv[optind], .outdir = out, .command = "tessera tags",
				 .meta_name = "tags", .meta_json = meta, .what = "tags" };
	rc = ts_rewrite(&ro, tag_one, &r, &st);
	if (rc != TS_EXIT_OK)
		goto done;
	if (json)
		printf("{\"command\": \"tags\", \"outdir\": \"%s\", \"samples\": %" PRIu64 ", \"captions\": %" PRIu64
		       ", \"tags\": %" PRIu64 ", \"captions_without_tags\": %" PRIu64 ", \"seconds\": %.3f}\n",
		       out ? out : argv[optind], st.samples, r.captions, r.tags, r.empty, st.seconds);
	else if (ts_verbosity >= 1)
		fprintf(stderr, "tags done: %" PRIu64 " samples, %" PRIu64 " captions, %" PRIu64
			" tags (%.2f per caption, %" PRIu64 " captions without any), %.1f s\n",
			st.samples, r.captions, r.tags, r.captions ? (double)r.tags / (double)r.captions : 0.0,
			r.empty, st.seconds);
done:
	free(r.json);
	free(r.rows);
	free(r.text);
	ts_bpe_ctx_free(r.bpe);
	ts_tagger_free(r.tagger);
	ts_bpe_free(bpe);
	ts_wordnet_free(wn);
	return rc;
}

/* ---- extract ------------------------------------------------------------- */

static int tags_extract(int argc, char **argv)
{
	enum { O_WORDNET = 256, O_KEEP_SCENE, O_ALL_NOUNS, O_CONTEXT, O_VOCAB, O_JSONL };
	static const struct option opts[] = {
		{ "wordnet", required_argument, NULL, O_WORDNET },
		{ "keep-scene-words", no_argument, NULL, O_KEEP_SCENE },
		{ "all-nouns", no_argument, NULL, O_ALL_NOUNS },
		{ "context", required_argument, NULL, O_CONTEXT },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "jsonl", no_argument, NULL, O_JSONL },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ts_tagger_opts to = { .context = 77 };
	struct ts_tagger *tagger = NULL;
	struct ts_wordnet *wn = NULL;
	struct ts_bpe *bpe = NULL;
	struct ts_bpe_ctx *ctx = NULL;
	struct ts_err e = TS_ERR_INIT;
	const char *wndir = NULL, *vocab = NULL;
	int jsonl = 0, c, rc = TS_EXIT_OK;
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	long v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_WORDNET: wndir = optarg; break;
		case O_KEEP_SCENE: to.keep_scene_words = 1; break;
		case O_ALL_NOUNS: to.all_nouns = 1; break;
		case O_CONTEXT:
			if (ts_parse_int(optarg, 3, 1 << 20, &v)) {
				ts_error("invalid value '%s' for --context: expected 3 or more", optarg);
				return TS_EXIT_USAGE;
			}
			to.context = (size_t)v;
			break;
		case O_VOCAB: vocab = optarg; break;
		case O_JSONL: jsonl = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_tags(stdout); return TS_EXIT_OK;
		default: fputs("see 'tessera tags --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		ts_error("tags extract takes at most one FILE");
		return TS_EXIT_USAGE;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") && !(in = fopen(argv[optind], "r"))) {
		ts_error("cannot open '%s': %s", argv[optind], strerror(errno));
		return TS_EXIT_FAIL;
	}
	if (ts_wordnet_load(&wn, wndir, &e) || ts_bpe_load(&bpe, vocab, &e) ||
	    ts_tagger_new(&tagger, wn, &to, &e) || !(ctx = ts_bpe_ctx_new(bpe))) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		rc = TS_EXIT_FAIL;
		goto done;
	}
	while ((n = getline(&line, &cap, in)) >= 0) {
		const char *text = line;
		size_t len = (size_t)n;
		json_t *j = NULL;
		struct ts_tag *tags = NULL;
		size_t nt = 0;
		lineno++;
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			len--;
		if (jsonl) {
			json_error_t je;
			json_t *val;
			j = json_loadb(text, len, 0, &je);
			val = j ? json_object_get(j, "caption") : NULL;
			if (!json_is_string(val))
				val = j ? json_object_get(j, "text") : NULL;
			if (!json_is_string(val)) {
				ts_error("line %zu: %s", lineno, j ? "no caption or text string" : je.text);
				json_decref(j);
				rc = TS_EXIT_FAIL;
				continue;
			}
			text = json_string_value(val);
			len = json_string_length(val);
		}
		if (ts_tags_extract(tagger, ctx, text, len, &tags, &nt, &e)) {
			ts_error("line %zu: %s", lineno, e.msg);
			json_decref(j);
			rc = TS_EXIT_FAIL;
			continue;
		}
		json_t *arr = json_array();
		for (size_t k = 0; k < nt; k++) {
			const struct ts_tag *g = &tags[k];
			json_array_append_new(arr, json_pack("{s:s, s:s%, s:[I,I], s:[I,I], s:[I,I], s:b}",
							     "lemma", g->lemma, "text", text + g->byte_start,
							     g->byte_end - g->byte_start,
							     "char", (json_int_t)g->char_start, (json_int_t)g->char_end,
							     "bytes", (json_int_t)g->byte_start, (json_int_t)g->byte_end,
							     "tokens", (json_int_t)g->tok_start, (json_int_t)g->tok_end,
							     "truncated", g->truncated));
		}
		char *s = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (s)
			puts(s);
		free(s);
		json_decref(arr);
		json_decref(j);
		free(tags);
	}
done:
	free(line);
	ts_bpe_ctx_free(ctx);
	ts_tagger_free(tagger);
	ts_bpe_free(bpe);
	ts_wordnet_free(wn);
	if (in != stdin)
		fclose(in);
	return rc;
}

/* ---- stats ------------------------------------------------------------------ */

struct tstats {
	json_t *counts;               /* lemma -> count */
	uint64_t captions, tags, samples, tagged_samples;
	uint64_t per_caption[33];     /* 0..31, then 32 and more */
};

static int stat_sample(const struct ts_ds_sample *s, void *user)
{
	struct tstats *t = user;
	json_t *caps = json_loads(s->captions_json ? s->captions_json : "[]", 0, NULL);
	size_t ncap = json_is_array(caps) && json_array_size(caps) ? json_array_size(caps) : 1;
	json_decref(caps);
	t->samples++;
	/* a sample never tagged has no tags.json member */
	int tagged = 0;
	for (size_t i = 0; i < s->nmembers; i++) {
		const char *dot = strchr(s->members[i].name, '.');
		tagged |= dot && !strcmp(dot, ".tags.json");
	}
	if (!tagged)
		return 0;
	t->tagged_samples++;
	size_t k = 0;
	for (size_t ci = 0; ci < ncap; ci++) {
		size_t n = 0;
		while (k < s->ntags && s->tags[k].caption == (long long)ci) {
			json_t *v = json_object_get(t->counts, s->tags[k].lemma);
			json_object_set_new(t->counts, s->tags[k].lemma,
					    json_integer((v ? json_integer_value(v) : 0) + 1));
			n++;
			k++;
		}
		t->per_caption[n < 32 ? n : 32]++;
		t->captions++;
		t->tags += n;
	}
	return 0;
}

struct lc {
	const char *lemma;
	json_int_t n;
};

static int cmp_lc(const void *a, const void *b)
{
	const struct lc *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->lemma, y->lemma);
}

static int tags_stats(int argc, char **argv)
{
	enum { O_TOP = 256, O_JSON };
	static const struct option opts[] = {
		{ "top", required_argument, NULL, O_TOP },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long top = 20;
	int json = 0, c, rc = TS_EXIT_FAIL;
	struct ts_dataset *ds = NULL;
	struct ts_err e = TS_ERR_INIT;
	struct tstats t = { .counts = json_object() };

	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_TOP:
			if (ts_parse_int(optarg, 0, 1 << 20, &top)) {
				ts_error("invalid value '%s' for --top: expected 0 or more", optarg);
				json_decref(t.counts);
				return TS_EXIT_USAGE;
			}
			break;
		case O_JSON: json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_tags(stdout); json_decref(t.counts); return TS_EXIT_OK;
		default: fputs("see 'tessera tags --help'\n", stderr); json_decref(t.counts); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ts_error("tags stats takes one OUTDIR (a tessera dataset)");
		json_decref(t.counts);
		return TS_EXIT_USAGE;
	}
	if (ts_dataset_open(&ds, argv[optind], &e) || ts_dataset_foreach_sample(ds, -1, stat_sample, &t, &e)) {
		ts_error("%s", e.msg);
		goto done;
	}
	if (t.tagged_samples == 0) {
		ts_error("'%s' has no tags yet: run 'tessera tags %s' first", argv[optind], argv[optind]);
		goto done;
	}
	size_t nd = json_object_size(t.counts), i = 0;
	struct lc *all = calloc(nd ? nd : 1, sizeof(*all));
	const char *key;
	json_t *val;
	json_object_foreach(t.counts, key, val) {
		all[i].lemma = key;
		all[i++].n = json_integer_value(val);
	}
	qsort(all, nd, sizeof(*all), cmp_lc);
	size_t shown = (size_t)top < nd ? (size_t)top : nd;
	double share0 = t.captions ? (double)t.per_caption[0] / (double)t.captions : 0;
	double share1 = t.captions ? (double)t.per_caption[1] / (double)t.captions : 0;
	if (json) {
		json_t *j = json_object(), *tops = json_array(), *hist = json_object();
		for (size_t k = 0; k < shown; k++)
			json_array_append_new(tops, json_pack("{s:s, s:I}", "lemma", all[k].lemma, "count", all[k].n));
		for (int k = 0; k <= 32; k++)
			if (t.per_caption[k]) {
				char b[16];
				snprintf(b, sizeof(b), k == 32 ? "32+" : "%d", k);
				json_object_set_new(hist, b, json_integer((json_int_t)t.per_caption[k]));
			}
		json_object_set_new(j, "samples", json_integer((json_int_t)t.tagged_samples));
		json_object_set_new(j, "captions", json_integer((json_int_t)t.captions));
		json_object_set_new(j, "tags", json_integer((json_int_t)t.tags));
		json_object_set_new(j, "distinct", json_integer((json_int_t)nd));
		json_object_set_new(j, "tags_per_caption", json_real(t.captions ? (double)t.tags / (double)t.captions : 0));
		json_object_set_new(j, "share_0_tags", json_real(share0));
		json_object_set_new(j, "share_1_tag", json_real(share1));
		json_object_set_new(j, "histogram", hist);
		json_object_set_new(j, "top", tops);
		char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
		if (s)
			puts(s);
		free(s);
		json_decref(j);
	} else {
		printf("%s: %" PRIu64 " samples, %" PRIu64 " captions, %" PRIu64 " tags, %zu distinct\n",
		       argv[optind], t.tagged_samples, t.captions, t.tags, nd);
		printf("tags per caption: mean %.2f; captions with 0 tags %.1f%%, with 1 tag %.1f%%\n\n",
		       t.captions ? (double)t.tags / (double)t.captions : 0, 100 * share0, 100 * share1);
		printf("tags per caption, histogram\n");
		uint64_t mx = 1;
		for (int k = 0; k <= 32; k++)
			mx = t.per_caption[k] > mx ? t.per_caption[k] : mx;
		for (int k = 0; k <= 32; k++)
			if (t.per_caption[k])
				printf("  %3d%s %-50.*s %" PRIu64 "\n", k, k == 32 ? "+" : " ",
				       (int)((t.per_caption[k] * 50 + mx - 1) / mx),
				       "##################################################", t.per_caption[k]);
		if (shown) {
			printf("\ntop %zu tags\n", shown);
			for (size_t k = 0; k < shown; k++)
				printf("  %-24s %" JSON_INTEGER_FORMAT "\n", all[k].lemma, all[k].n);
		}
	}
	free(all);
	rc = TS_EXIT_OK;
done:
	json_decref(t.counts);
	ts_dataset_close(ds);
	return rc;
}

int cmd_tags(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "stats"))
		return tags_stats(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "extract"))
		return tags_extract(argc - 1, argv + 1);
	return tags_run(argc, argv);
}
