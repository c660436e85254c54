/*
 * test_sentence.c - the sentence splitter and the short/long caption rules
 * of `tessera captions split` (docs/captions.md): hand-made edges, then
 * properties over the real long captions in ../shared/data/captions.
 */
#include "tests/unit/t.h"

#include <jansson.h>
#include <unistd.h>

#include "captions/bpe.h"
#include "captions/sentence.h"

static struct ts_sentences *sp;
static struct ts_bpe *bpe;

static struct ts_sentences *splitter(void)
{
	struct ts_err e = TS_ERR_INIT;
	if (!sp && ts_sentences_new(&sp, &e))
		return NULL;
	return sp;
}

static int load_bpe(void)
{
	char p[512];
	struct ts_err e = TS_ERR_INIT;
	if (bpe)
		return 1;
	snprintf(p, sizeof(p), "%s/tokenizer/bpe_simple_vocab_16e6.txt.gz", t_shared());
	return access(p, R_OK) == 0 && ts_bpe_load(&bpe, p, &e) == 0;
}

/* The sentences of s joined with " | ". */
static char *sentences(const char *s)
{
	static char out[4096];
	size_t from = 0, st, en, nx, o = 0, len = strlen(s);
	out[0] = 0;
	while (ts_sentence_next(splitter(), s, len, from, &st, &en, &nx)) {
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s", o ? " | " : "", (int)(en - st), s + st);
		from = nx;
	}
	return out;
}

static void edges(void)
{
	static const char *const cases[][2] = {
		{ "A dog runs. A cat sleeps.", "A dog runs. | A cat sleeps." },
		{ "What a view! Mountains rise behind the lake? Yes.", "What a view! | Mountains rise behind the lake? | Yes." },
		{ "Mr. Smith and Dr. Jones stand on St. Mark's square. They talk.",
		  "Mr. Smith and Dr. Jones stand on St. Mark's square. | They talk." },
		{ "Fruit, e.g. apples, and tools, i.e. knives, lie there. Done.",
		  "Fruit, e.g. apples, and tools, i.e. knives, lie there. | Done." },
		{ "A U.S. flag waves in the wind. The sky is blue.", "A U.S. flag waves in the wind. | The sky is blue." },
		{ "A book by J. R. R. Tolkien lies on a table. A cup stands by it.",
		  "A book by J. R. R. Tolkien lies on a table. | A cup stands by it." },
		{ "The bottle holds 3.5 liters. It is blue.", "The bottle holds 3.5 liters. | It is blue." },
		{ "A dog waits... and waits. Then it leaves.", "A dog waits... and waits. | Then it leaves." },
		{ "A dog waits\xe2\x80\xa6 and waits. Then it leaves.", "A dog waits\xe2\x80\xa6 and waits. | Then it leaves." },
		{ "A sign reads \"Stop. Go back.\" next to a road. Cars pass.",
		  "A sign reads \"Stop. Go back.\" next to a road. | Cars pass." },
		{ "He shouted \"Run!\" The dog ran.", "He shouted \"Run!\" | The dog ran." },
		{ "A sign says \xe2\x80\x9cNo. Entry.\xe2\x80\x9d on it. Ok.",
		  "A sign says \xe2\x80\x9cNo. Entry.\xe2\x80\x9d on it. | Ok." },
		{ "A cat (seen from above.) Sleeps.", "A cat (seen from above.) | Sleeps." },
		/* both kinds of quotes pair, also with each other */
		{ "A menu lists \"Coffee\xe2\x80\x9d then \"tea. milk. juice\" for sale. Next.",
		  "A menu lists \"Coffee\xe2\x80\x9d then \"tea. milk. juice\" for sale. | Next." },
		{ "He read \xe2\x80\x9cStop. Go\" aloud. Then he left.",
		  "He read \xe2\x80\x9cStop. Go\" aloud. | Then he left." },
		{ "Signs read \xe2\x80\x9cOpen.\xe2\x80\x9d and \"Closed.\" on the door. A cat.",
		  "Signs read \xe2\x80\x9cOpen.\xe2\x80\x9d and \"Closed.\" on the door. | A cat." },
		{ "A mug says \xe2\x80\x9c" "Best \"Dad. Ever\" mug.\xe2\x80\x9d on it. Fine.",
		  "A mug says \xe2\x80\x9c" "Best \"Dad. Ever\" mug.\xe2\x80\x9d on it. | Fine." },
		{ "A 6\" pipe lies here. A cat sits.", "A 6\" pipe lies here. | A cat sits." },
		{ "The text reads \"chase o sapphire. \" She smiles. Ok.",
		  "The text reads \"chase o sapphire. \" She smiles. | Ok." },
		{ "First paragraph without a stop\n\nSecond one.", "First paragraph without a stop | Second one." },
		{ "  no punctuation at all  ", "no punctuation at all" },
		{ "Trailing stop.   ", "Trailing stop." },
		{ "", "" },
		{ " \n\t ", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_EQ_STR(sentences(cases[i][0]), cases[i][1]);
	CHECK_EQ_INT(ts_sentence_count(splitter(), "One. Two. Three.", 16), 3);
	CHECK_EQ_INT(ts_sentence_count(splitter(), "", 0), 0);
}

static void split_rules(void)
{
	if (!load_bpe())
		SKIP("../shared/tokenizer not found");
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	struct ts_err e = TS_ERR_INIT;
	struct ts_split s;
	const char *t = "A dog runs on the beach. It is\nhappy.";
	/* Long-CLIP: long = \n to space; short = before the first ". " */
	CHECK(ts_caption_split(splitter(), c, TS_SPLIT_LONGCLIP, 77, t, strlen(t), &s, &e) == 0);
	CHECK_EQ_STR(s.long_text, "A dog runs on the beach. It is happy.");
	CHECK_EQ_STR(s.short_text, "A dog runs on the beach");
	CHECK(s.fallback == NULL && s.short_tokens == 8 && s.long_tokens == 13);
	ts_split_release(&s);
	/* the sentence rule keeps the full stop */
	CHECK(ts_caption_split(splitter(), c, TS_SPLIT_SENTENCE, 77, t, strlen(t), &s, &e) == 0);
	CHECK_EQ_STR(s.short_text, "A dog runs on the beach.");
	CHECK(s.fallback == NULL && s.short_tokens == 9);
	ts_split_release(&s);
	/* Long-CLIP on text that starts with ". ": the long caption stands in */
	t = ". Odd start. More.";
	CHECK(ts_caption_split(splitter(), c, TS_SPLIT_LONGCLIP, 77, t, strlen(t), &s, &e) == 0);
	CHECK_EQ_STR(s.short_text, ". Odd start. More.");
	CHECK(s.fallback && !strcmp(s.fallback, "empty_short"));
	ts_split_release(&s);
	/* over --short-max: cut at the last word boundary that fits, trailing
	 * comma dropped */
	t = "A dog, a cat, a bird, a fish, a horse and a cow stand in a field. Sun.";
	CHECK(ts_caption_split(splitter(), c, TS_SPLIT_SENTENCE, 10, t, strlen(t), &s, &e) == 0);
	CHECK_EQ_STR(s.short_text, "A dog, a cat, a bird");
	CHECK(s.short_tokens == 10 && s.fallback && !strcmp(s.fallback, "cut_at_word"));
	ts_split_release(&s);
	/* one word longer than the budget: cut inside it */
	t = "Pneumonoultramicroscopicsilicovolcanoconiosis everywhere.";
	CHECK(ts_caption_split(splitter(), c, TS_SPLIT_SENTENCE, 5, t, strlen(t), &s, &e) == 0);
	CHECK(s.short_tokens <= 5 && s.short_text[0] && !strchr(s.short_text, ' '));
	CHECK(!strncmp(t, s.short_text, strlen(s.short_text)));
	CHECK(s.fallback && !strcmp(s.fallback, "cut_in_word"));
	ts_split_release(&s);
	ts_bpe_ctx_free(c);
}

/* Over real long captions: the sentences are the text in order (nothing
 * lost, nothing doubled), none ends on a listed abbreviation, and the
 * sentence-rule short caption is the first sentence or fits its budget. */
static void real_captions(void)
{
	char p[512], line[1 << 16];
	snprintf(p, sizeof(p), "%s/data/captions/long_iiw_model.jsonl", t_shared());
	FILE *f = fopen(p, "r");
	if (!f || !load_bpe()) {
		if (f)
			fclose(f);
		SKIP("../shared/data/captions or ../shared/tokenizer not found");
	}
	struct ts_bpe_ctx *c = ts_bpe_ctx_new(bpe);
	size_t n = 0, multi = 0, total = 0;
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *t = json_string_value(json_object_get(j, "caption"));
		size_t len = t ? strlen(t) : 0, from = 0, st, en, nx, k = 0, covered = 0;
		while (t && ts_sentence_next(splitter(), t, len, from, &st, &en, &nx)) {
			CHECK(st >= from && en > st && nx >= en);
			/* only white space between sentences */
			for (size_t i = from; i < st; i++)
				CHECK(strchr(" \t\r\n", t[i]));
			covered += en - st;
			CHECK(!(en - st >= 4 && !strncmp(t + en - 4, " Mr.", 4)));
			CHECK(!(en - st >= 4 && !strncmp(t + en - 4, " Dr.", 4)));
			CHECK(!(en - st >= 5 && !strncmp(t + en - 5, " e.g.", 5)));
			from = nx;
			k++;
		}
		multi += k > 1;
		total += k;
		CHECK(covered <= len && k >= 1);
		struct ts_split s;
		struct ts_err e = TS_ERR_INIT;
		if (t && ts_caption_split(splitter(), c, TS_SPLIT_SENTENCE, 40, t, len, &s, &e) == 0) {
			CHECK(s.short_tokens <= 40 && s.short_text[0]);
			CHECK(!strncmp(s.long_text, s.short_text, strlen(s.short_text)));
			ts_split_release(&s);
		} else {
			CHECK(0);
		}
		json_decref(j);
		n++;
	}
	fclose(f);
	ts_bpe_ctx_free(c);
	printf("  %zu captions, %zu sentences, %zu with more than one\n", n, total, multi);
	CHECK(n > 1000 && multi > n / 2);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "edges", edges },
		{ "split_rules", split_rules },
		{ "real_captions", real_captions },
		{ NULL, NULL },
	};
	int rc = t_run("sentence", cases);
	ts_sentences_free(sp);
	ts_bpe_free(bpe);
	return rc;
}
