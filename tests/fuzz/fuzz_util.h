/*
 * fuzz_util.h - what the file-reading fuzz targets share: a private
 * scratch directory made once per process, and writing the input into a
 * file there.  Included by every target and by the replay driver
 * (tests/unit/test_fuzz_replay.c), so it is guarded and all static.
 */
#ifndef TS_FUZZ_UTIL_H
#define TS_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_dir_buf[512];

/* Remove path and what it holds (the scratch tree is two levels deep). */
static void fuzz_rm_tree(const char *path, int depth)
{
	DIR *d = depth < 4 ? opendir(path) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[1024];
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (unlink(p))
			fuzz_rm_tree(p, depth + 1);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

static void fuzz_dir_remove(void)
{
	if (fuzz_dir_buf[0])
		fuzz_rm_tree(fuzz_dir_buf, 0);
}

/* The scratch directory under $TMPDIR or /tmp, made on first use and
 * removed at exit (a killed fuzzer leaves it behind). */
static const char *fuzz_dir(void)
{
	char *dir = fuzz_dir_buf;
	if (!dir[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(dir, sizeof(fuzz_dir_buf), "%s/tessera-fuzz-XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			abort();
		}
		atexit(fuzz_dir_remove);
	}
	return dir;
}

/* dir/name as a path in buf. */
static const char *fuzz_path(const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", fuzz_dir(), name);
	return buf;
}

/* Write data to dir/name (replacing it); returns the path in buf or NULL. */
static const char *fuzz_file(const char *name, const uint8_t *data, size_t size, char *buf, size_t n)
{
	FILE *f = fopen(fuzz_path(name, buf, n), "wb");
	if (!f)
		return NULL;
	if (size && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return NULL;
	}
	if (fclose(f))
		return NULL;
	return buf;
}

#endif
