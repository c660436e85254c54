/*
 * ts_io.c - fault-injecting wrappers of write-side system calls (see
 * ts_io.h).  The configuration is read once from TESSERA_FAULT; counters
 * are atomic because several threads may write (shards on the writer
 * thread, sidecars at the end, SQLite on the writer thread).
 */
#include "base/ts_io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FAULTS 8

static const char *const kind_names[TS_IO__COUNT] = { "write", "fsync", "rename", "open", "read" };

static struct {
	int kind;
	unsigned long long n;
	int err;
} faults[MAX_FAULTS];
static int nfaults, counting, enabled;
static unsigned long long calls[TS_IO__COUNT];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void print_counts(void)
{
	fprintf(stderr, "tessera: io calls:");
	for (int k = 0; k < TS_IO__COUNT; k++)
		fprintf(stderr, " %s=%llu", kind_names[k], __atomic_load_n(&calls[k], __ATOMIC_RELAXED));
	fputc('\n', stderr);
}

static int parse_errno(const char *s)
{
	static const struct { const char *name; int v; } t[] = {
		{ "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS }, { "EACCES", EACCES },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].name))
			return t[i].v;
	return EIO;
}

static void init(void)
{
	const char *env = getenv("TESSERA_FAULT");
	char buf[256];
	if (!env || !*env)
		return;
	enabled = 1;
	if (!strcmp(env, "count")) {
		counting = 1;
		atexit(print_counts);
		return;
	}
	snprintf(buf, sizeof(buf), "%s", env);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && nfaults < MAX_FAULTS;
	     tok = strtok_r(NULL, ",", &save)) {
		char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c1)
			continue;
		*c1 = '\0';
		if (c2)
			*c2 = '\0';
		for (int k = 0; k < TS_IO__COUNT; k++)
			if (!strcmp(tok, kind_names[k])) {
				faults[nfaults].kind = k;
				faults[nfaults].n = strtoull(c1 + 1, NULL, 10);
				faults[nfaults].err = c2 ? parse_errno(c2 + 1) : EIO;
				nfaults++;
			}
	}
}

int ts_io_fault(enum ts_io_kind kind)
{
	pthread_once(&once, init);
	if (!enabled)
		return 0;
	unsigned long long n = __atomic_add_fetch(&calls[kind], 1, __ATOMIC_RELAXED);
	for (int i = 0; i < nfaults; i++)
		if (faults[i].kind == (int)kind && faults[i].n == n)
			return faults[i].err;
	return 0;
}

ssize_t ts_io_write(int fd, const void *buf, size_t n)
{
	int e = ts_io_fault(TS_IO_WRITE);
	if (e) {
		errno = e;
		return -1;
	}
	return write(fd, buf, n);
}

int ts_io_fsync(int fd)
{
	int e = ts_io_fault(TS_IO_FSYNC);
	if (e) {
		errno = e;
		return -1;
	}
	return fsync(fd);
}

int ts_io_rename(const char *from, const char *to)
{
	int e = ts_io_fault(TS_IO_RENAME);
	if (e) {
		errno = e;
		return -1;
	}
	return rename(from, to);
}

int ts_io_open(const char *path, int flags, int mode)
{
	int e = ts_io_fault(TS_IO_OPEN);
	if (e) {
		errno = e;
		return -1;
	}
	return open(path, flags, mode);
}
