/*
 * fuzz_wordnet.c - libFuzzer target for the WordNet reader
 * (captions/wordnet.c): the input, split at NUL bytes, becomes the files
 * of a WordNet directory in the order below (missing parts are empty
 * files), which ts_wordnet_load reads; then a few look-ups of words taken
 * from the input.  Inputs are capped at 256 KiB.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "captions/wordnet.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *files[] = {
		"index.noun", "index.verb", "index.adj", "index.adv", "noun.exc", "verb.exc",
		"adj.exc", "adv.exc", "cntlist.rev", "data.noun",
	};
	char p[600], name[64], dirp[600];
	struct ts_wordnet *wn = NULL;
	struct ts_err e = TS_ERR_INIT;
	size_t at = 0;

	if (size > (256u << 10))
		return 0;
	mkdir(fuzz_path("wn", dirp, sizeof(dirp)), 0755);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const uint8_t *end = at < size ? memchr(data + at, 0, size - at) : NULL;
		size_t n = at >= size ? 0 : end ? (size_t)(end - (data + at)) : size - at;
		snprintf(name, sizeof(name), "wn/%s", files[i]);
		if (!fuzz_file(name, data + (at < size ? at : 0), n, p, sizeof(p)))
			return 0;
		at += n + 1;
	}
	if (ts_wordnet_load(&wn, dirp, &e) == 0) {
		char w[64], out[128];
		size_t n = 0;
		/* the first word of the input, lower case letters and '_' only */
		for (size_t i = 0; i < size && n + 1 < sizeof(w); i++) {
			char c = (char)data[i];
			if ((c >= 'a' && c <= 'z') || c == '_')
				w[n++] = c;
			else if (n)
				break;
		}
		w[n] = '\0';
		for (int pos = 0; pos < 4; pos++) {
			ts_wordnet_has(wn, w, (enum ts_pos)pos);
			ts_wordnet_morphy(wn, w, (enum ts_pos)pos, out, sizeof(out));
			ts_wordnet_count(wn, w, (enum ts_pos)pos);
		}
		ts_wordnet_concrete(wn, w);
	}
	ts_wordnet_free(wn);
	return 0;
}
