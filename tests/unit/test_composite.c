/*
 * test_composite.c - CLIP-C compositions: the pixel layouts on synthetic
 * colour blocks (exact), and the caption join on real captions from
 * ../shared/data/captions (endings ".", "!", "?", acronyms).
 */
#include "t.h"

#include <jansson.h>
#include <math.h>

#include "../../captions/merge.h"
#include "../../compose/compose.h"

/* An S x S image whose four quadrants have distinct colours. */
static void blocks(struct ts_image *img, int s, uint8_t base)
{
	img->width = img->height = s;
	img->pixels = malloc((size_t)s * s * 3);
	img->cap = (size_t)s * s * 3;
	for (int y = 0; y < s; y++)
		for (int x = 0; x < s; x++) {
			uint8_t *p = img->pixels + ((size_t)y * s + x) * 3;
			int q = (y >= s / 2) * 2 + (x >= s / 2);
			p[0] = (uint8_t)(base + q * 10);
			p[1] = (uint8_t)(y & 0xff);
			p[2] = (uint8_t)(x & 0xff);
		}
}

static const uint8_t *px(const struct ts_image *i, int x, int y)
{
	return i->pixels + ((size_t)y * i->width + x) * 3;
}

static void halves(void)
{
	struct ts_image a = { 0 }, b = { 0 }, o = { 0 };
	struct ts_err e = TS_ERR_INIT;
	int rects[2][4];
	for (int s = 223; s <= 224; s++) {       /* odd and even sizes */
		blocks(&a, s, 100);
		blocks(&b, s, 200);
		CHECK(ts_composite_halves(&a, &b, 1, &o, rects, &e) == 0);
		int h1 = s / 2, h2 = s - h1;
		CHECK(rects[0][0] == 0 && rects[0][1] == 0 && rects[0][2] == s && rects[0][3] == h1);
		CHECK(rects[1][0] == 0 && rects[1][1] == h1 && rects[1][2] == s && rects[1][3] == s);
		int bad = 0;
		for (int y = 0; y < s; y++)
			for (int x = 0; x < s; x++) {
				/* top: a's rows [(s-h1)/2, +h1); bottom: b's center h2 rows */
				const uint8_t *want = y < h1 ? px(&a, x, (s - h1) / 2 + y) : px(&b, x, (s - h2) / 2 + y - h1);
				bad += memcmp(px(&o, x, y), want, 3) != 0;
			}
		CHECK_EQ_INT(bad, 0);
		CHECK(ts_composite_halves(&a, &b, 0, &o, rects, &e) == 0);
		CHECK(rects[0][2] == h1 && rects[1][0] == h1 && rects[1][3] == s);
		bad = 0;
		for (int y = 0; y < s; y++)
			for (int x = 0; x < s; x++) {
				const uint8_t *want = x < h1 ? px(&a, (s - h1) / 2 + x, y) : px(&b, (s - h2) / 2 + x - h1, y);
				bad += memcmp(px(&o, x, y), want, 3) != 0;
			}
		CHECK_EQ_INT(bad, 0);
		ts_image_release(&a);
		ts_image_release(&b);
	}
	/* sizes must agree */
	blocks(&a, 32, 0);
	blocks(&b, 16, 0);
	CHECK(ts_composite_halves(&a, &b, 1, &o, rects, &e) < 0);
	ts_image_release(&a);
	ts_image_release(&b);
	ts_image_release(&o);
}

static void cutmix_mixup(void)
{
	struct ts_image a = { 0 }, b = { 0 }, o = { 0 };
	struct ts_err e = TS_ERR_INIT;
	blocks(&a, 64, 10);
	blocks(&b, 64, 150);
	int box[4] = { 8, 20, 40, 50 }, bad = 0;
	CHECK(ts_composite_cutmix(&a, &b, box, &o, &e) == 0);
	for (int y = 0; y < 64; y++)
		for (int x = 0; x < 64; x++) {
			int in = x >= 8 && x < 40 && y >= 20 && y < 50;
			bad += memcmp(px(&o, x, y), in ? px(&b, x, y) : px(&a, x, y), 3) != 0;
		}
	CHECK_EQ_INT(bad, 0);
	int outside[4] = { 8, 20, 80, 50 };
	CHECK(ts_composite_cutmix(&a, &b, outside, &o, &e) < 0);
	const double lams[] = { 0.0, 0.25, 0.5, 0.7, 1.0 };
	for (size_t k = 0; k < 5; k++) {
		CHECK(ts_composite_mixup(&a, &b, lams[k], &o, &e) == 0);
		bad = 0;
		for (size_t i = 0; i < (size_t)64 * 64 * 3; i++) {
			double want = lams[k] * a.pixels[i] + (1 - lams[k]) * b.pixels[i];
			bad += fabs(o.pixels[i] - want) > 0.51;
		}
		CHECKF(bad == 0, "lambda %g: %d channels off", lams[k], bad);
	}
	CHECK(ts_composite_mixup(&a, &b, 1.5, &o, &e) < 0);
	ts_image_release(&a);
	ts_image_release(&b);
	ts_image_release(&o);
}

static const char *merge(const char *a, const char *b)
{
	static char buf[1024];
	const char *caps[2] = { a, b };
	size_t lens[2] = { strlen(a), strlen(b) }, st[2], en[2];
	char *o = NULL;
	struct ts_err e = TS_ERR_INIT;
	if (ts_caption_merge(caps, lens, 2, &o, st, en, &e))
		return "error";
	snprintf(buf, sizeof(buf), "%s", o);
	/* the spans point at each caption's text in the result */
	size_t la = strlen(a), lb = strlen(b);
	(void)la;
	(void)lb;
	CHECK(st[0] == 0 && en[0] <= st[1] && st[1] == en[0] + 5 && en[1] == strlen(o));
	free(o);
	return buf;
}

static void caption_rule(void)
{
	CHECK_EQ_STR(merge("A dog runs.", "A cat sleeps."), "A dog runs and a cat sleeps.");
	CHECK_EQ_STR(merge("A dog runs .  ", "  A cat sleeps ."), "A dog runs and a cat sleeps .");
	CHECK_EQ_STR(merge("What a view!", "Look at that?"), "What a view! and look at that?");
	CHECK_EQ_STR(merge("Is it a dog?", "NASA rocket on a pad."), "Is it a dog? and NASA rocket on a pad.");
	CHECK_EQ_STR(merge("A man", "TV screens in a row"), "A man and TV screens in a row");
	CHECK_EQ_STR(merge("A man", "U.S. flag"), "A man and U.S. flag");
	CHECK_EQ_STR(merge("A man", "I see"), "A man and i see");
	CHECK_EQ_STR(merge("Ünïcode start.", "Écoles fermées."), "Ünïcode start and écoles fermées.");
	CHECK_EQ_STR(merge("Only one period..", "b"), "Only one period. and b");
	/* four captions: "A, B, C and D" */
	const char *caps[4] = { "A dog.", "A cat.", "Two birds.", "NASA rocket." };
	size_t lens[4] = { 6, 6, 10, 12 };
	char *o = NULL;
	struct ts_err e = TS_ERR_INIT;
	CHECK(ts_caption_merge(caps, lens, 4, &o, NULL, NULL, &e) == 0);
	CHECK_EQ_STR(o, "A dog, a cat, two birds and NASA rocket.");
	free(o);
}

/* On real captions: the join keeps each caption's words, lower-cases only
 * B's first letter (unless an acronym), and A loses at most one final
 * period. */
static void real_captions(void)
{
	char p[512], line[1 << 16];
	snprintf(p, sizeof(p), "%s/data/captions/flickr8k.jsonl", t_shared());
	FILE *f = fopen(p, "r");
	if (!f)
		SKIP("../shared/data/captions not found");
	char prev[4096] = "";
	size_t n = 0, endings[3] = { 0 };
	while (fgets(line, sizeof(line), f) && n < 2000) {
		json_t *j = json_loads(line, 0, NULL);
		const char *c = json_string_value(json_object_get(j, "caption"));
		if (c && prev[0]) {
			const char *caps[2] = { prev, c };
			size_t lens[2] = { strlen(prev), strlen(c) }, st[2], en[2];
			char *o = NULL;
			struct ts_err e = TS_ERR_INIT;
			CHECK(ts_caption_merge(caps, lens, 2, &o, st, en, &e) == 0);
			if (o) {
				CHECK(!strncmp(o + st[1] + 1, c + 1, en[1] - st[1] - 1));
				CHECK(!strncmp(o + st[1] - 5, " and ", 5));
				CHECK(!strncmp(o, prev, en[0]));
				size_t pl = strlen(prev);
				while (pl && prev[pl - 1] == ' ')
					pl--;
				endings[prev[pl - 1] == '.' ? 0 : prev[pl - 1] == '!' ? 1 : 2]++;
				if (prev[pl - 1] != '.')
					CHECK(en[0] == pl);
				free(o);
			}
			n++;
		}
		if (c)
			snprintf(prev, sizeof(prev), "%s", c);
		json_decref(j);
	}
	fclose(f);
	printf("  %zu joins (A ending '.': %zu, '!': %zu, other: %zu)\n", n, endings[0], endings[1], endings[2]);
	CHECK(n == 2000 && endings[0] > 1000);
}

/* Grid: each quadrant of the output is exactly its source; the cutmix box
 * is the clipped square of side S * sqrt(1 - lambda) around its centre. */
static void grid_and_box(void)
{
	struct ts_image q[4] = { { 0 } }, out = { 0 };
	struct ts_err e = TS_ERR_INIT;
	int rects[4][4];
	for (int k = 0; k < 4; k++)
		blocks(&q[k], 16, (uint8_t)(40 * k));
	CHECKF(ts_composite_grid(q, &out, rects, &e) == 0, "%s", e.msg);
	CHECK_EQ_INT(out.width, 32);
	for (int k = 0; k < 4; k++) {
		CHECK_EQ_INT(rects[k][0], (k % 2) * 16);
		CHECK_EQ_INT(rects[k][1], (k / 2) * 16);
		for (int y = 0; y < 16; y++)
			for (int x = 0; x < 16; x++)
				if (memcmp(px(&out, rects[k][0] + x, rects[k][1] + y), px(&q[k], x, y), 3)) {
					CHECKF(0, "grid quadrant %d differs at %d,%d", k, x, y);
					goto done;
				}
	}
	/* a mismatched source is an error, not a smear */
	q[3].width = 15;
	CHECK(ts_composite_grid(q, &out, rects, &e) != 0);
	q[3].width = 16;
	int box[4];
	ts_cutmix_box(100, 0.75, 50, 50, box);          /* side 100 * 0.5 */
	CHECK(box[0] == 25 && box[1] == 25 && box[2] == 75 && box[3] == 75);
	ts_cutmix_box(100, 0.75, 5, 98, box);           /* clipped at the edges */
	CHECK(box[0] == 0 && box[1] == 73 && box[2] == 30 && box[3] == 100);
	ts_cutmix_box(100, 1.0, 50, 50, box);           /* lambda 1: an empty box */
	CHECK(box[0] == box[2] && box[1] == box[3]);
done:
	for (int k = 0; k < 4; k++)
		ts_image_release(&q[k]);
	ts_image_release(&out);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "halves", halves },
		{ "cutmix_mixup", cutmix_mixup },
		{ "grid_and_box", grid_and_box },
		{ "caption_rule", caption_rule },
		{ "real_captions", real_captions },
		{ NULL, NULL },
	};
	return t_run("composite", cases);
}
