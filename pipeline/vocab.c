/*
 * vocab.c - locating the CLIP vocabulary (see vocab.h).
 *
 * Order: --vocab, $TESSERA_VOCAB, then the installed copy next to the
 * binary (../share/tessera from the binary's real path, so a moved or
 * DESTDIR-staged install finds its own copy), the source tree the binary
 * was built from (data/), and the configured PREFIX/share/tessera.  What
 * must hold: the current directory plays no part.
 */
#include "pipeline/vocab.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "captions/bpe.h"

#ifndef TS_SRCDIR
#define TS_SRCDIR NULL
#endif
#ifndef TS_DATADIR
#define TS_DATADIR NULL
#endif

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int ts_vocab_locate(const char *opt, const char *env, const char *exe, const char *srcdir,
		    const char *datadir, char *buf, size_t n)
{
	char cand[3][PATH_MAX + 64];
	int k = 0;

	if (opt || (env && *env)) {
		snprintf(buf, n, "%s", opt ? opt : env);
		return 1;
	}
	if (exe && *exe) {
		const char *slash = strrchr(exe, '/');
		if (slash)
			snprintf(cand[k++], sizeof(cand[0]), "%.*s/../share/tessera/%s",
				 (int)(slash - exe), exe, TS_VOCAB_NAME);
	}
	if (srcdir && *srcdir)
		snprintf(cand[k++], sizeof(cand[0]), "%s/data/%s", srcdir, TS_VOCAB_NAME);
	if (datadir && *datadir)
		snprintf(cand[k++], sizeof(cand[0]), "%s/%s", datadir, TS_VOCAB_NAME);
	for (int i = 0; i < k; i++)
		if (is_file(cand[i])) {
			snprintf(buf, n, "%s", cand[i]);
			return 1;
		}
	size_t len = 0;
	buf[0] = 0;
	for (int i = 0; i < k && len < n; i++) {
		int w = snprintf(buf + len, n - len, "%s'%s'", i ? ", " : "", cand[i]);
		len += w > 0 ? (size_t)w : 0;
	}
	return 0;
}

int ts_vocab_path(const char *opt, char *buf, size_t n)
{
	char exe[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[l > 0 ? l : 0] = 0;
	return ts_vocab_locate(opt, getenv("TESSERA_VOCAB"), exe, TS_SRCDIR, TS_DATADIR, buf, n);
}

int ts_vocab_load(struct ts_bpe **out, const char *opt, struct ts_err *err)
{
	char path[4 * PATH_MAX];
	*out = NULL;
	if (!ts_vocab_path(opt, path, sizeof(path))) {
		ts_err_set(err, TS_ERR_IO, TS_R_NONE,
			   "cannot find the CLIP vocabulary %s (looked in %s); "
			   "give --vocab PATH or set TESSERA_VOCAB", TS_VOCAB_NAME, path);
		return 1;
	}
	return ts_bpe_load(out, path, err);
}
