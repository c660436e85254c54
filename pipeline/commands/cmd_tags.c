/*
 * cmd_tags.c - `tessera tags`: candidate tags for every caption of a
 * dataset (captions/tags.h), written as KEY.tags.json members and rows of
 * the catalog's tags table (through rewrite.c), and `tessera tags stats`.
 * docs/tags.md has the formats.
 */
#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/bpe.h"
#include "compose/compose.h"
#include "captions/tags.h"
#include "captions/wordnet.h"
#include "shards/dataset.h"
#include "pipeline/cmd.h"
#include "pipeline/opt.h"
#include "pipeline/drivers/rewrite.h"
#include "pipeline/util.h"
#include "pipeline/vocab.h"

void usage_tags(FILE *f)
{
	fputs(
"usage: tessera tags [options] OUTDIR\n"
"       tessera tags stats [options] OUTDIR\n"
"       tessera tags extract [options] [FILE]\n"
"       tessera tags import-scores [options] OUTDIR SCORES.jsonl\n"
"       tessera tags select --threshold T [options] OUTDIR\n"
"       tessera tags mask [options] OUTDIR KEY TAG -o OUT.png\n"
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
"      --keep-scene-words keep scene and appearance words (image, view, side, subject,\n"
"                         hue, pattern...) and places within a thing (its base)\n"
"      --all-nouns        keep abstract nouns too (trick, day, game...)\n"
"      --context N        mark tags past this CLIP context as truncated (default: 77)\n"
"      --vocab PATH       CLIP vocabulary (default: $TESSERA_VOCAB, else the copy\n"
"                         shipped with tessera)\n"
"\n"
"extract: one caption per line (or JSONL with --jsonl, field caption or\n"
"text) from FILE or standard input to one JSON array of tags per line.\n"
"      --jsonl            input lines are JSON objects\n"
"\n"
"import-scores: per-tag scores from a model run elsewhere, lines\n"
"{\"key\", \"tag\", \"score\"[, \"mask\": PNG path]}, into the tag_scores table\n"
"(masks become KEY.<n>.tagmask.png members); replaces earlier scores.\n"
"Unknown keys or tags and malformed lines are reported; the rest is imported.\n"
"\n"
"select: the training feed: per sample the image, KEY.txt and KEY.tags.json\n"
"with only the tags scored at least T (and their masks).\n"
"      --threshold T      the score a tag needs (required)\n"
"\n"
"mask: one tag's pixels as a binary 0/255 PNG (its region of the image).\n"
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
	uint8_t *mask;                 /* the last composite's KEY.mask.png */
	size_t mask_len;
	uint64_t composites;
	struct ts_tag_row *rows;
	size_t nrows, rows_cap;
	char *text;                    /* surface forms of rows, NUL-separated */
	size_t text_len, text_cap;
	uint64_t captions, tags, empty;
};

/* One element of a composite's "regions" (KEY.json, KEY.tags.json):
 * {"region": n, "rect": [x0, y0, x1, y1], "minus": [...]?}; -1 when it is
 * not one (the region number outside 1..255, a rect not of four numbers). */
static int region_from_json(const json_t *j, struct ts_region *r)
{
	const json_t *rect = json_object_get(j, "rect"), *minus = json_object_get(j, "minus");
	json_int_t idx = json_integer_value(json_object_get(j, "region"));
	memset(r, 0, sizeof(*r));
	if (idx <= 0 || idx >= 256 || json_array_size(rect) != 4 || (minus && json_array_size(minus) != 4))
		return -1;
	r->index = (int)idx;
	for (size_t k = 0; k < 4; k++) {
		r->rect[k] = (int)json_integer_value(json_array_get(rect, k));
		if (minus)
			r->minus[k] = (int)json_integer_value(json_array_get(minus, k));
	}
	r->has_minus = minus != NULL;
	return 0;
}

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
	free(r->mask);
	r->mask = NULL;
	r->nrows = 0;
	r->text_len = 0;
	if (!json_is_array(caps) || json_array_size(caps) == 0) {
		json_decref(caps);
		caps = json_pack("[s]", s->caption ? s->caption : "");
	}
	/* a composite of `tessera compose`: its KEY.json has the sources'
	 * regions and where each source's caption sits in the merged one */
	json_t *comp = NULL;
	for (size_t i = 0; i < nmembers && s->comp; i++)
		if (!strcmp(members[i].ext, "json"))
			comp = json_loadb(members[i].data, members[i].len, 0, NULL);
	json_t *join = comp ? json_object_get(comp, "join") : NULL;
	const char *mode = comp ? json_string_value(json_object_get(comp, "mode")) : NULL;
	json_object_set_new(out, "key", json_string(s->key));
	json_object_set_new(out, "width", json_integer(s->width));
	json_object_set_new(out, "height", json_integer(s->height));
	if (comp && mode && json_is_array(join) && json_is_array(json_object_get(comp, "regions"))) {
		/* exact pixel-tag annotation: each pixel's source, each tag's source */
		json_decref(regions);
		json_decref(reg);
		regions = json_deep_copy(json_object_get(comp, "regions"));
		int soft = !strcmp(mode, "mixup");
		json_object_set_new(out, "weak", json_false());
		json_object_set_new(out, "regions", regions);
		if (soft) {
			json_object_set_new(out, "soft", json_true());
		} else {
			int w = s->width, h = s->height;
			uint8_t *map = w > 0 && h > 0 ? calloc((size_t)w * h, 1) : NULL;
			json_t *rg;
			size_t ri;
			if (!map) {
				json_decref(comp);
				json_decref(out);
				json_decref(clist);
				json_decref(caps);
				return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			}
			json_array_foreach(regions, ri, rg) {
				struct ts_region one;
				if (region_from_json(rg, &one) == 0)
					ts_region_fill(map, w, h, &one, (uint8_t)one.index);
			}
			rc = ts_encode_gray_png(map, w, h, &r->mask, &r->mask_len, err);
			free(map);
			if (rc) {
				json_decref(comp);
				json_decref(out);
				json_decref(clist);
				json_decref(caps);
				return rc;
			}
			char name[48];
			snprintf(name, sizeof(name), "%s.mask.png", s->key);
			json_object_set_new(out, "mask", json_string(name));
		}
		r->composites++;
	} else {
		/* an ordinary image: one region, the whole frame, holding every tag */
		json_object_set_new(reg, "region", json_integer(1));
		json_object_set_new(reg, "rect", json_pack("[i,i,i,i]", 0, 0, s->width, s->height));
		json_array_append_new(regions, reg);
		json_object_set_new(out, "weak", json_true());
		json_object_set_new(out, "regions", regions);
		join = NULL;
	}
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
			/* in a composite's merged caption: the source whose text holds it */
			int region = 1;
			for (size_t q = 0; join && ci == 0 && q < json_array_size(join); q++) {
				json_t *sp = json_array_get(join, q);
				size_t a = (size_t)json_integer_value(json_array_get(sp, 0));
				size_t b = (size_t)json_integer_value(json_array_get(sp, 1));
				if (g->byte_start >= a && g->byte_end <= b)
					region = (int)q + 1;
			}
			json_t *t = json_pack("{s:s, s:s%, s:[I,I], s:[I,I], s:[I,I], s:b, s:i}",
					      "lemma", g->lemma,
					      "text", cap + g->byte_start, g->byte_end - g->byte_start,
					      "char", (json_int_t)g->char_start, (json_int_t)g->char_end,
					      "bytes", (json_int_t)g->byte_start, (json_int_t)g->byte_end,
					      "tokens", (json_int_t)g->tok_start, (json_int_t)g->tok_end,
					      "truncated", g->truncated, "region", region);
			json_array_append_new(tl, t);
			struct ts_tag_row row = {
				.caption = (long long)ci, .idx = (long long)k, .lemma = g->lemma,
				.char_start = (long long)g->char_start, .char_end = (long long)g->char_end,
				.byte_start = (long long)g->byte_start, .byte_end = (long long)g->byte_end,
				.tok_start = (long long)g->tok_start, .tok_end = (long long)g->tok_end,
				.truncated = g->truncated, .region = region,
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
	json_decref(comp);
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
	if (r->mask)
		res->add[res->nadd++] = (struct ts_rw_member){ "mask.png", r->mask, r->mask_len };
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
			if (ts_opt_int("context", optarg, 3, 1 << 20, "3 or more", &v))
				return TS_EXIT_USAGE;
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
	if (ts_wordnet_load(&wn, wndir, &e) || ts_vocab_load(&bpe, vocab, &e) ||
	    ts_tagger_new(&r.tagger, wn, &to, &e) || !(r.bpe = ts_bpe_ctx_new(bpe))) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		goto done;
	}
	char *meta = ts_json_canonical(json_pack("{s:o, s:b, s:b, s:I}",
			"wordnet", ts_json_string_lossy(wndir ? wndir : TS_WORDNET_DEFAULT_DIR),
			"keep_scene_words", to.keep_scene_words, "all_nouns", to.all_nouns,
			"context", (json_int_t)to.context));
	if (!meta) {
		ts_error("out of memory");
		goto done;
	}
	struct ts_rw_opts ro = { .indir = argv[optind], .outdir = out, .command = "tessera tags",
				 .meta_name = "tags", .meta_json = meta, .what = "tags" };
	rc = ts_rewrite(&ro, tag_one, &r, &st);
	free(meta);
	if (rc != TS_EXIT_OK)
		goto done;
	if (json)
		ts_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f}", "command", "tags",
					"outdir", out ? out : argv[optind], "samples", (json_int_t)st.samples,
					"captions", (json_int_t)r.captions, "tags", (json_int_t)r.tags,
					"captions_without_tags", (json_int_t)r.empty, "seconds", st.seconds));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "tags done: %" PRIu64 " samples, %" PRIu64 " captions, %" PRIu64
			" tags (%.2f per caption, %" PRIu64 " captions without any), %.1f s\n",
			st.samples, r.captions, r.tags, r.captions ? (double)r.tags / (double)r.captions : 0.0,
			r.empty, st.seconds);
done:
	free(r.json);
	free(r.mask);
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
			if (ts_opt_int("context", optarg, 3, 1 << 20, "3 or more", &v))
				return TS_EXIT_USAGE;
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
	if (ts_wordnet_load(&wn, wndir, &e) || ts_vocab_load(&bpe, vocab, &e) ||
	    ts_tagger_new(&tagger, wn, &to, &e) || !(ctx = ts_bpe_ctx_new(bpe))) {
		ts_error("%s", e.msg[0] ? e.msg : "out of memory");
		rc = TS_EXIT_FAIL;
		goto done;
	}
	while ((n = getline(&line, &cap, in)) >= 0) {
		const char *text;
		size_t len;
		json_t *j;
		struct ts_tag *tags = NULL;
		size_t nt = 0;
		char msg[200];
		lineno++;
		size_t bom = lineno == 1 ? ts_bom_len(line, (size_t)n) : 0;
		if (ts_caption_line(line + bom, (size_t)n - bom, jsonl, &text, &len, &j, msg, sizeof(msg))) {
			ts_error("line %zu: %s", lineno, msg);
			rc = TS_EXIT_FAIL;
			continue;
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

/* ---- import-scores ---------------------------------------------------------- */

struct score_in {
	char *tag, *mask;
	double score;
	size_t line;
	int used;
};

struct key_scores {
	char *key;
	struct score_in *s;
	size_t n, cap;
	int seen;
};

struct import_run {
	json_t *index;                 /* key -> index into keys */
	struct key_scores *keys;
	size_t nkeys, cap;
	struct ts_score_row rows[TS_RW_MAX_ADD];
	char names[TS_RW_MAX_ADD][64];
	uint8_t *masks[TS_RW_MAX_ADD];
	size_t nmasks;
	uint64_t imported, unknown_tags, bad_masks;
	const char *scores_path;
};

static int cmp_score(const void *a, const void *b)
{
	return strcmp(((const struct score_in *)a)->tag, ((const struct score_in *)b)->tag);
}

static int read_scores(struct import_run *r, const char *path, uint64_t *bad)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	if (!f) {
		ts_error("cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		json_error_t je;
		lineno++;
		size_t bom = lineno == 1 ? ts_bom_len(line, (size_t)n) : 0;
		json_t *j = json_loadb(line + bom, (size_t)n - bom, 0, &je);
		const char *key = json_string_value(json_object_get(j, "key"));
		const char *tag = json_string_value(json_object_get(j, "tag"));
		json_t *sc = json_object_get(j, "score"), *mk = json_object_get(j, "mask");
		if (!j || !key || !tag || !json_is_number(sc) || (mk && !json_is_string(mk) && !json_is_null(mk))) {
			ts_warning("%s:%zu: %s; line skipped", path, lineno,
				   !j ? je.text : "expected {\"key\": string, \"tag\": string, \"score\": number[, \"mask\": path]}");
			(*bad)++;
			json_decref(j);
			continue;
		}
		json_t *idx = json_object_get(r->index, key);
		size_t k;
		if (idx) {
			k = (size_t)json_integer_value(idx);
		} else {
			if (r->nkeys == r->cap) {
				size_t nc = r->cap ? r->cap * 2 : 256;
				struct key_scores *nk = realloc(r->keys, nc * sizeof(*nk));
				if (!nk)
					goto nomem;
				r->keys = nk;
				r->cap = nc;
			}
			k = r->nkeys++;
			memset(&r->keys[k], 0, sizeof(r->keys[k]));
			r->keys[k].key = strdup(key);
			json_object_set_new(r->index, key, json_integer((json_int_t)k));
		}
		struct key_scores *ks = &r->keys[k];
		if (ks->n == ks->cap) {
			size_t nc = ks->cap ? ks->cap * 2 : 8;
			struct score_in *ns = realloc(ks->s, nc * sizeof(*ns));
			if (!ns)
				goto nomem;
			ks->s = ns;
			ks->cap = nc;
		}
		ks->s[ks->n++] = (struct score_in){ strdup(tag), json_is_string(mk) ? strdup(json_string_value(mk)) : NULL,
						    json_number_value(sc), lineno, 0 };
		json_decref(j);
	}
	free(line);
	fclose(f);
	for (size_t k = 0; k < r->nkeys; k++)
		qsort(r->keys[k].s, r->keys[k].n, sizeof(*r->keys[k].s), cmp_score);
	return 0;
nomem:
	free(line);
	fclose(f);
	ts_error("out of memory");
	return -1;
}

static int import_one(void *user, const struct ts_ds_sample *s, const struct ts_rw_member *members,
		      size_t nmembers, struct ts_rw_result *res, struct ts_err *err)
{
	struct import_run *r = user;
	for (size_t i = 0; i < r->nmasks; i++)
		free(r->masks[i]);
	r->nmasks = 0;
	res->set_scores = 1;           /* the import replaces every sample's scores */
	res->drop_suffix = "tagmask.png";
	json_t *idx = json_object_get(r->index, s->key);
	if (!idx)
		return 0;
	struct key_scores *ks = &r->keys[json_integer_value(idx)];
	size_t nr = 0;
	ks->seen = 1;
	for (size_t i = 0; i < ks->n; i++) {
		struct score_in *sc = &ks->s[i];
		int known = 0, dup = i > 0 && !strcmp(ks->s[i - 1].tag, sc->tag);
		for (size_t k = 0; k < s->ntags && !known; k++)
			known = !strcmp(s->tags[k].lemma, sc->tag);
		if (!known || dup) {
			ts_warning("%s:%zu: sample %s has no tag '%s'%s; line skipped", r->scores_path, sc->line, s->key,
				   sc->tag, dup ? " (or it was scored twice)" : "");
			r->unknown_tags++;
			continue;
		}
		if (nr == TS_RW_MAX_ADD) {
			ts_warning("%s:%zu: more than %d scored tags for sample %s; line skipped", r->scores_path,
				   sc->line, TS_RW_MAX_ADD, s->key);
			r->unknown_tags++;
			continue;
		}
		struct ts_score_row *row = &r->rows[nr];
		row->tag = sc->tag;
		row->score = sc->score;
		row->mask = NULL;
		if (sc->mask) {
			/* the mask's bytes, checked to be a PNG the size of the image */
			struct ts_image_info info;
			struct ts_err me = TS_ERR_INIT;
			uint8_t *buf = NULL;
			size_t bcap = 0, blen = 0;
			if (ts_read_file(sc->mask, 64ull << 20, &buf, &bcap, &blen, &me) ||
			    ts_image_probe(buf, blen, &info, &me) || info.format != TS_FMT_PNG ||
			    info.width != s->width || info.height != s->height) {
				ts_warning("%s:%zu: mask '%s' of sample %s %s; imported without its mask", r->scores_path,
					   sc->line, sc->mask, s->key,
					   me.msg[0] ? me.msg : "is not a PNG the size of the image");
				r->bad_masks++;
				free(buf);
			} else {
				snprintf(r->names[r->nmasks], sizeof(r->names[0]), "%zu.tagmask.png", nr);
				res->add[res->nadd++] = (struct ts_rw_member){ r->names[r->nmasks], buf, blen };
				r->masks[r->nmasks++] = buf;
				/* the member's full name, as the members table has it */
				char *full = malloc(strlen(s->key) + 32);
				if (!full)
					return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
				sprintf(full, "%s.%zu.tagmask.png", s->key, nr);
				free(sc->mask);
				sc->mask = full;       /* kept until the end of the run */
				row->mask = full;
			}
		}
		nr++;
		r->imported++;
	}
	res->scores = r->rows;
	res->nscores = nr;
	return 0;
}

static void import_free(struct import_run *r)
{
	for (size_t k = 0; k < r->nkeys; k++) {
		for (size_t i = 0; i < r->keys[k].n; i++) {
			free(r->keys[k].s[i].tag);
			free(r->keys[k].s[i].mask);
		}
		free(r->keys[k].s);
		free(r->keys[k].key);
	}
	free(r->keys);
	for (size_t i = 0; i < r->nmasks; i++)
		free(r->masks[i]);
	json_decref(r->index);
}

static int tags_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct import_run r = { .index = json_object() };
	const char *out = NULL;
	int c, json = 0, rc = TS_EXIT_FAIL;
	uint64_t bad = 0, unknown_keys = 0;
	struct ts_rw_stats st;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'J': json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_tags(stdout); import_free(&r); return TS_EXIT_OK;
		default: fputs("see 'tessera tags --help'\n", stderr); import_free(&r); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		ts_error("tags import-scores takes OUTDIR and SCORES.jsonl");
		import_free(&r);
		return TS_EXIT_USAGE;
	}
	r.scores_path = argv[optind + 1];
	if (read_scores(&r, argv[optind + 1], &bad))
		goto done;
	struct ts_rw_opts ro = { .indir = argv[optind], .outdir = out, .command = "tessera tags import-scores",
				 .meta_name = NULL, .what = "import-scores" };
	if ((rc = ts_rewrite(&ro, import_one, &r, &st)) != TS_EXIT_OK)
		goto done;
	for (size_t k = 0; k < r.nkeys; k++)
		if (!r.keys[k].seen) {
			ts_warning("%s: %zu score%s for key '%s', which is not a sample of '%s'; skipped", r.scores_path,
				   r.keys[k].n, r.keys[k].n == 1 ? "" : "s", r.keys[k].key, argv[optind]);
			unknown_keys++;
		}
	if (json)
		ts_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "command", "tags import-scores",
					"imported", (json_int_t)r.imported, "malformed_lines", (json_int_t)bad,
					"unknown_keys", (json_int_t)unknown_keys, "unknown_tags", (json_int_t)r.unknown_tags,
					"bad_masks", (json_int_t)r.bad_masks));
	else if (ts_verbosity >= 1)
		fprintf(stderr, "imported %" PRIu64 " scores (%" PRIu64 " malformed lines, %" PRIu64
			" unknown keys, %" PRIu64 " unknown tags, %" PRIu64 " bad masks)\n",
			r.imported, bad, unknown_keys, r.unknown_tags, r.bad_masks);
done:
	import_free(&r);
	return rc;
}

/* ---- select ----------------------------------------------------------------- */

struct select_run {
	double threshold;
	char *json;
	struct ts_tag_row *tags;
	struct ts_score_row *scores;
	char keep_names[TS_RW_MAX_ADD][64];
	const char *keep[TS_RW_MAX_ADD + 8];
	uint64_t kept, dropped;
};

static int selected(const struct ts_ds_sample *s, const char *lemma, double t)
{
	for (size_t i = 0; i < s->nscores; i++)
		if (!strcmp(s->scores[i].tag, lemma))
			return s->scores[i].score >= t;
	return 0;
}

static int select_one(void *user, const struct ts_ds_sample *s, const struct ts_rw_member *members,
		      size_t nmembers, struct ts_rw_result *res, struct ts_err *err)
{
	struct select_run *r = user;
	const struct ts_rw_member *tj = NULL;
	size_t nk = 0;
	free(r->json);
	r->json = NULL;
	for (size_t i = 0; i < nmembers; i++)
		if (!strcmp(members[i].ext, "tags.json"))
			tj = &members[i];
	if (!tj)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "sample %s has no tags (run 'tessera tags' first)",
				  s->key);
	json_t *j = json_loadb(tj->data, tj->len, 0, NULL);
	json_t *caps = json_object_get(j, "captions"), *c;
	size_t ci;
	if (!json_is_array(caps)) {
		json_decref(j);
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "sample %s: KEY.tags.json is not tessera's", s->key);
	}
	json_array_foreach(caps, ci, c) {
		json_t *tl = json_object_get(c, "tags"), *keep = json_array(), *t;
		size_t ti;
		json_array_foreach(tl, ti, t) {
			if (selected(s, json_string_value(json_object_get(t, "lemma")), r->threshold)) {
				json_array_append(keep, t);
				r->kept++;
			} else {
				r->dropped++;
			}
		}
		json_object_set_new(c, "tags", keep);
	}
	r->json = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (!r->json)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	/* rows: the selected tags and scores */
	size_t nt = 0, ns = 0, nm = 0;
	free(r->tags);
	free(r->scores);
	r->tags = calloc(s->ntags + 1, sizeof(*r->tags));
	r->scores = calloc(s->nscores + 1, sizeof(*r->scores));
	if (!r->tags || !r->scores)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (size_t i = 0; i < s->ntags; i++)
		if (selected(s, s->tags[i].lemma, r->threshold))
			r->tags[nt++] = s->tags[i];
	/* the image, the caption, KEY.json, the composite's region map that
	 * KEY.tags.json names (KEY.mask.png), and the selected tags' masks */
	int has_map = 0;
	for (size_t i = 0; i < nmembers && nk < 4; i++) {
		if (!strcmp(members[i].ext, "jpg") || !strcmp(members[i].ext, "png") || !strcmp(members[i].ext, "webp"))
			r->keep[nk++] = members[i].ext;
		has_map |= !strcmp(members[i].ext, "mask.png");
	}
	r->keep[nk++] = "txt";
	r->keep[nk++] = "json";
	if (has_map)
		r->keep[nk++] = "mask.png";
	for (size_t i = 0; i < s->nscores; i++) {
		if (s->scores[i].score < r->threshold)
			continue;
		r->scores[ns] = s->scores[i];
		const char *m = s->scores[i].mask, *dot = m ? strchr(m, '.') : NULL;
		if (dot && nm < TS_RW_MAX_ADD) {
			snprintf(r->keep_names[nm], sizeof(r->keep_names[0]), "%s", dot + 1);
			r->keep[nk++] = r->keep_names[nm++];
		}
		ns++;
	}
	r->keep[nk] = NULL;
	res->add[0] = (struct ts_rw_member){ "tags.json", r->json, strlen(r->json) };
	res->nadd = 1;
	res->keep_exts = r->keep;
	res->set_tags = 1;
	res->tags = r->tags;
	res->ntags = nt;
	res->set_scores = 1;
	res->scores = r->scores;
	res->nscores = ns;
	return 0;
}

static int has_scores(const struct ts_ds_sample *s, void *user)
{
	return s->nscores > 0;
}

static int tags_select(int argc, char **argv)
{
	enum { O_THRESHOLD = 256, O_JSON };
	static const struct option opts[] = {
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct select_run r = { 0 };
	const char *out = NULL;
	int c, json = 0, have_t = 0, rc;
	struct ts_rw_stats st;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_THRESHOLD:
			r.threshold = strtod(optarg, &end);
			if (end == optarg || *end) {
				ts_error("invalid value '%s' for --threshold: expected a number", optarg);
				return TS_EXIT_USAGE;
			}
			have_t = 1;
			break;
		case 'o': out = optarg; break;
		case O_JSON: json = 1; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_tags(stdout); return TS_EXIT_OK;
		default: fputs("see 'tessera tags --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || !have_t) {
		ts_error("tags select takes --threshold T and one OUTDIR");
		return TS_EXIT_USAGE;
	}
	/* selecting by scores that are not there would keep no tag at all */
	struct ts_dataset *ds;
	struct ts_err e = TS_ERR_INIT;
	if (ts_dataset_open(&ds, argv[optind], &e)) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	int any = ts_dataset_foreach_sample(ds, -1, has_scores, NULL, &e);
	ts_dataset_close(ds);
	if (any < 0) {
		ts_error("%s", e.msg);
		return TS_EXIT_FAIL;
	}
	if (any == 0) {
		ts_error("'%s' has no tag scores: there is nothing to select by", argv[optind]);
		fprintf(stderr, "hint: score the tags with a model, then run "
			"'tessera tags import-scores %s SCORES.jsonl' (docs/tags.md)\n", argv[optind]);
		return TS_EXIT_FAIL;
	}
	char *meta = ts_json_canonical(json_pack("{s:f}", "threshold", r.threshold));
	if (!meta) {
		ts_error("out of memory");
		return TS_EXIT_FAIL;
	}
	struct ts_rw_opts ro = { .indir = argv[optind], .outdir = out, .command = "tessera tags select",
				 .meta_name = "tags_select", .meta_json = meta, .what = "select" };
	rc = ts_rewrite(&ro, select_one, &r, &st);
	free(meta);
	if (rc == TS_EXIT_OK && json)
		ts_print_json(json_pack("{s:s, s:f, s:I, s:I, s:I}", "command", "tags select",
					"threshold", r.threshold, "samples", (json_int_t)st.samples,
					"tags_kept", (json_int_t)r.kept, "tags_dropped", (json_int_t)r.dropped));
	else if (rc == TS_EXIT_OK && ts_verbosity >= 1)
		fprintf(stderr, "select done: %" PRIu64 " samples, %" PRIu64 " tags kept, %" PRIu64 " dropped\n",
			st.samples, r.kept, r.dropped);
	free(r.json);
	free(r.tags);
	free(r.scores);
	return rc;
}

/* ---- mask ------------------------------------------------------------------- */

static int tags_mask(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	int c, rc = TS_EXIT_FAIL;
	struct ts_dataset *ds = NULL;
	struct ts_err e = TS_ERR_INIT;
	uint8_t *tj = NULL, *mask = NULL, *png = NULL, *regmap = NULL;
	size_t tjl = 0, pngl = 0, regl = 0;
	json_t *j = NULL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'q': ts_verbosity = 0; break;
		case 'v': ts_verbosity = 2; break;
		case 'h': usage_tags(stdout); return TS_EXIT_OK;
		default: fputs("see 'tessera tags --help'\n", stderr); return TS_EXIT_USAGE;
		}
	}
	if (argc - optind != 3 || !out) {
		ts_error("tags mask takes OUTDIR KEY TAG and -o OUT.png");
		return TS_EXIT_USAGE;
	}
	const char *key = argv[optind + 1], *tag = argv[optind + 2];
	if (ts_dataset_open(&ds, argv[optind], &e) || ts_dataset_read_member(ds, key, "tags.json", &tj, &tjl, &e)) {
		ts_error("%s", e.msg);
		goto done;
	}
	j = json_loadb((const char *)tj, tjl, 0, NULL);
	/* the regions the tag belongs to (any caption) */
	int want[256] = { 0 }, found = 0;
	json_t *c1, *t;
	size_t i1, i2;
	json_array_foreach(json_object_get(j, "captions"), i1, c1) {
		json_array_foreach(json_object_get(c1, "tags"), i2, t) {
			const char *l = json_string_value(json_object_get(t, "lemma"));
			const char *x = json_string_value(json_object_get(t, "text"));
			json_int_t reg = json_integer_value(json_object_get(t, "region"));
			if (((l && !strcmp(l, tag)) || (x && !strcmp(x, tag))) && reg > 0 && reg < 256) {
				want[reg] = 1;
				found = 1;
			}
		}
	}
	if (!found) {
		ts_error("sample %s has no tag '%s'", key, tag);
		goto done;
	}
	json_t *regs = json_object_get(j, "regions"), *r;
	int w = 0, h = 0;
	json_array_foreach(regs, i1, r) {
		json_t *rect = json_object_get(r, "rect");
		int x1 = (int)json_integer_value(json_array_get(rect, 2)), y1 = (int)json_integer_value(json_array_get(rect, 3));
		w = x1 > w ? x1 : w;
		h = y1 > h ? y1 : h;
	}
	if (json_is_integer(json_object_get(j, "width"))) {
		w = (int)json_integer_value(json_object_get(j, "width"));
		h = (int)json_integer_value(json_object_get(j, "height"));
	}
	if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > (1u << 28) || !(mask = calloc((size_t)w * h, 1))) {
		ts_error("sample %s: no usable image size in KEY.tags.json", key);
		goto done;
	}
	/* a mixup composite (soft: every pixel is a blend of the sources): the
	 * soft mask, each pixel 255 x the summed blend weights of the tag's
	 * regions; a composite's KEY.mask.png gives each pixel's region;
	 * otherwise the regions' rectangles do */
	if (json_is_true(json_object_get(j, "soft"))) {
		double wsum = 0;
		int weighted = 0;
		json_array_foreach(regs, i1, r) {
			json_int_t reg = json_integer_value(json_object_get(r, "region"));
			json_t *wt = json_object_get(r, "weight");
			if (reg > 0 && reg < 256 && want[reg] && json_is_number(wt)) {
				wsum += json_number_value(wt);
				weighted = 1;
			}
		}
		if (!weighted || wsum < 0) {
			ts_error("sample %s: a soft (mixup) composite whose regions carry no blend weight", key);
			goto done;
		}
		long v = lround(255.0 * (wsum > 1 ? 1 : wsum));
		memset(mask, (int)v, (size_t)w * h);
	} else if (ts_dataset_read_member(ds, key, "mask.png", &regmap, &regl, &e) == 0) {
		struct ts_pixctx *px = ts_pixctx_new();
		struct ts_image img = { 0 };
		struct ts_image_info info;
		if (!px || ts_decode(px, regmap, regl, 1ull << 28, 0, 0, &img, &info, &e) || img.width != w || img.height != h) {
			ts_error("sample %s: KEY.mask.png: %s", key, e.msg[0] ? e.msg : "not the image's size");
			ts_image_release(&img);
			ts_pixctx_free(px);
			goto done;
		}
		for (size_t p = 0; p < (size_t)w * h; p++)
			mask[p] = want[img.pixels[3 * p]] ? 255 : 0;
		ts_image_release(&img);
		ts_pixctx_free(px);
	} else {
		json_array_foreach(regs, i1, r) {
			struct ts_region reg;
			if (region_from_json(r, &reg) == 0 && want[reg.index])
				ts_region_fill(mask, w, h, &reg, 255);
		}
	}
	if (ts_encode_gray_png(mask, w, h, &png, &pngl, &e)) {
		ts_error("%s", e.msg);
		goto done;
	}
	FILE *f = fopen(out, "wb");
	if (!f || fwrite(png, 1, pngl, f) != pngl || fclose(f)) {
		ts_error("cannot write '%s': %s", out, strerror(errno));
		goto done;
	}
	rc = TS_EXIT_OK;
done:
	json_decref(j);
	free(tj);
	free(regmap);
	free(mask);
	free(png);
	ts_dataset_close(ds);
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
	static const struct ts_subcmd subs[] = {
		{ "stats", tags_stats },
		{ "extract", tags_extract },
		{ "import-scores", tags_import },
		{ "select", tags_select },
		{ "mask", tags_mask },
		{ NULL, NULL },
	};
	/* no subcommand: `tessera tags [options] DATASET` tags it */
	return ts_subcmd_run("tags", subs, tags_run, usage_tags, argc, argv);
}
