/*
 * test_shards.c - the storage layer: XXH3-128 hashes, the tar shard writer
 * (deterministic bytes, exact data offsets, readable by tar and Python's
 * tarfile), the tar reader (types, limits, truncation) and the SQLite
 * catalog (schema, runs, commits, crash resume).
 *
 * Everything is written under one mkdtemp directory, removed at the end.
 * External tools (xxhsum, tar, python3) are optional: a missing one skips
 * only the check that needs it, with a SKIP line saying so.
 */
#define _GNU_SOURCE   /* memmem */
#include "tests/unit/t.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "shards/shards.h"
#include "shards/dataset.h"
#include "shards/writer.h"

/* ---- helpers ---- */

static char tmp_root[64];

static const char *tmp(void)
{
	if (!tmp_root[0]) {
		strcpy(tmp_root, "/tmp/ts-shards-XXXXXX");
		if (!mkdtemp(tmp_root)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return tmp_root;
}

/* A fresh directory under the temp root. */
static const char *subdir(const char *name)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];
	snprintf(p, 256, "%s/%s", tmp(), name);
	mkdir(p, 0755);
	return p;
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;
	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(data, 1, len, f);
	return fclose(f) || n != len ? -1 : 0;
}

/* Does the shell find this program? */
static int have(const char *prog)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* First line of a command's stdout into buf; -1 when it fails. */
static int run_cmd(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	size_t got;
	if (!p)
		return -1;
	got = fread(out, 1, n - 1, p);
	out[got] = '\0';
	return pclose(p) == 0 ? 0 : -1;
}

/* The member set used by the writer tests: short names, an empty member,
 * one over a block, and a 150-character name (needs a pax header). */
#define NMEMBERS 5
static char long_name[151];
static uint8_t big[3000];

struct member { const char *name; const void *data; size_t len; };

static void members(struct member *m)
{
	memset(long_name, 'n', 146);
	memcpy(long_name + 146, ".txt", 5);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	m[0] = (struct member){ "000000000.jpg", big, sizeof(big) };
	m[1] = (struct member){ "000000000.txt", "a dog on a beach", 16 };
	m[2] = (struct member){ "000000000.json", "{}", 2 };
	m[3] = (struct member){ "000000001.txt", "", 0 };
	m[4] = (struct member){ long_name, "long", 4 };
}

/* Write the member set as shard index into dir; offsets into off. */
static int write_shard(const char *dir, unsigned index, uint64_t *off,
		       uint64_t *bytes, char *hash)
{
	struct member m[NMEMBERS];
	struct ts_shard_writer *w = NULL;
	struct ts_err e = TS_ERR_INIT;
	members(m);
	if (ts_shard_writer_open(&w, dir, index, &e)) {
		fprintf(stderr, "  open: %s\n", e.msg);
		return -1;
	}
	for (int i = 0; i < NMEMBERS; i++)
		if (ts_shard_writer_add(w, m[i].name, m[i].data, m[i].len, &off[i], &e)) {
			fprintf(stderr, "  add: %s\n", e.msg);
			ts_shard_writer_abort(w);
			return -1;
		}
	if (ts_shard_writer_finish(w, bytes, hash, &e)) {
		fprintf(stderr, "  finish: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* ---- hashes ---- */

static void hash_known(void)
{
	char a[TS_HASH_HEX_LEN + 1], b[TS_HASH_HEX_LEN + 1];
	struct ts_hasher *h;
	static uint8_t buf[100003];

	/* XXH3-128 of the empty string, from the xxHash reference test vectors */
	ts_hash_hex("", 0, a);
	CHECK_EQ_STR(a, "99aa06d3014798d86001c324468d497f");
	ts_hash_hex(NULL, 0, b);
	CHECK_EQ_STR(b, a);

	/* streaming in odd-sized pieces equals one-shot */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 8));
	ts_hash_hex(buf, sizeof(buf), a);
	CHECK_EQ_INT(strlen(a), TS_HASH_HEX_LEN);
	CHECK(strspn(a, "0123456789abcdef") == TS_HASH_HEX_LEN);
	h = ts_hasher_new();
	CHECK(h != NULL);
	if (!h)
		return;
	for (size_t off = 0, step = 1; off < sizeof(buf); off += step, step = step * 3 + 1) {
		size_t n = step < sizeof(buf) - off ? step : sizeof(buf) - off;
		ts_hasher_update(h, buf + off, n);
	}
	ts_hasher_hex(h, b);
	CHECK_EQ_STR(b, a);
	ts_hasher_hex(h, b);   /* does not reset */
	CHECK_EQ_STR(b, a);
	ts_hasher_free(h);
	ts_hasher_free(NULL);

	h = ts_hasher_new();
	ts_hasher_update(h, "ab", 2);
	ts_hasher_update(h, "c", 1);
	ts_hasher_hex(h, b);
	ts_hasher_free(h);
	ts_hash_hex("abc", 3, a);
	CHECK_EQ_STR(b, a);
	CHECK(strcmp(a, "99aa06d3014798d86001c324468d497f") != 0);
}

/* An independent implementation: the xxhsum CLI (Debian package xxhash). */
static void hash_xxhsum(void)
{
	char a[TS_HASH_HEX_LEN + 1], path[300], cmd[400], out[256];

	if (!have("xxhsum"))
		SKIP("xxhsum not installed (Debian package xxhash): CLI cross-check not run");
	const char *inputs[] = { "", "abc", "a dog on a beach" };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/hash-%d", tmp(), i);
		CHECK(spit(path, inputs[i], strlen(inputs[i])) == 0);
		snprintf(cmd, sizeof(cmd), "xxhsum -H2 '%s' 2>/dev/null", path);
		CHECK(run_cmd(cmd, out, sizeof(out)) == 0);
		out[strcspn(out, " \n")] = '\0';
		ts_hash_hex(inputs[i], strlen(inputs[i]), a);
		CHECK_EQ_STR(out, a);
	}
}

/* ---- tar writer ---- */

static void shard_name(void)
{
	char buf[32];
	CHECK_EQ_STR(ts_shard_name(0, buf, sizeof(buf)), "000000.tar");
	CHECK_EQ_STR(ts_shard_name(42, buf, sizeof(buf)), "000042.tar");
	CHECK_EQ_STR(ts_shard_name(1234567, buf, sizeof(buf)), "1234567.tar");
}

static void writer_deterministic(void)
{
	const char *d1 = subdir("det1"), *d2 = subdir("det2");
	uint64_t off1[NMEMBERS], off2[NMEMBERS], bytes1 = 0, bytes2 = 0;
	char h1[TS_HASH_HEX_LEN + 1] = "", h2[TS_HASH_HEX_LEN + 1] = "", hf[TS_HASH_HEX_LEN + 1];
	char p1[300], p2[300];
	size_t n1, n2;

	CHECK(write_shard(d1, 3, off1, &bytes1, h1) == 0);
	sleep(1);   /* a different wall clock must not change a byte */
	CHECK(write_shard(d2, 3, off2, &bytes2, h2) == 0);
	snprintf(p1, sizeof(p1), "%s/000003.tar", d1);
	snprintf(p2, sizeof(p2), "%s/000003.tar", d2);
	uint8_t *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
	CHECK(b1 && b2);
	if (!b1 || !b2)
		goto out;
	CHECK_EQ_INT(n1, n2);
	CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
	CHECK_EQ_INT(bytes1, n1);
	CHECK_EQ_STR(h1, h2);
	ts_hash_hex(b1, n1, hf);
	CHECK_EQ_STR(h1, hf);   /* the streamed hash is the hash of the file */
	for (int i = 0; i < NMEMBERS; i++)
		CHECK_EQ_INT(off1[i], off2[i]);
	/* unblocked: the file ends right after the two zero blocks */
	CHECK_EQ_INT(n1 % 512, 0);
	CHECK(n1 >= 1024);
	int zero = 1;
	for (size_t i = n1 - 1024; i < n1; i++)
		zero &= b1[i] == 0;
	CHECK(zero);
	/* the last member's data block sits right before the end blocks */
	CHECK_EQ_INT(off1[NMEMBERS - 1] + 512, n1 - 1024);
out:
	free(b1);
	free(b2);
}

/* Octal header field as a number. */
static unsigned long long octal(const uint8_t *f, size_t n)
{
	unsigned long long v = 0;
	for (size_t i = 0; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (f[i] - '0');
	return v;
}

static void writer_offsets_and_headers(void)
{
	const char *d = subdir("offsets");
	struct member m[NMEMBERS];
	uint64_t off[NMEMBERS], bytes;
	char hash[TS_HASH_HEX_LEN + 1], path[300];
	size_t n;

	members(m);
	CHECK(write_shard(d, 0, off, &bytes, hash) == 0);
	snprintf(path, sizeof(path), "%s/000000.tar", d);
	uint8_t *b = slurp(path, &n);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ_INT(off[0], 512);   /* first header, then data */
	for (int i = 0; i < NMEMBERS; i++) {
		CHECKF(off[i] % 512 == 0 && off[i] + m[i].len <= n, "member %d at %llu", i,
		       (unsigned long long)off[i]);
		if (off[i] + m[i].len > n)
			continue;
		CHECKF(memcmp(b + off[i], m[i].data, m[i].len) == 0, "member %d bytes", i);
		/* padding after the data is zero */
		for (size_t j = off[i] + m[i].len; j % 512; j++)
			if (b[j]) {
				CHECKF(0, "member %d padding byte %zu", i, j);
				break;
			}
		/* the ustar header right before the data */
		const uint8_t *hd = b + off[i] - 512;
		CHECKF(memcmp(hd + 257, "ustar\0" "00", 8) == 0, "member %d magic", i);
		CHECK_EQ_INT(hd[156], '0');                     /* regular file */
		CHECK_EQ_INT(octal(hd + 100, 8), 0444);         /* mode */
		CHECK_EQ_INT(octal(hd + 108, 8), 0);            /* uid */
		CHECK_EQ_INT(octal(hd + 116, 8), 0);            /* gid */
		CHECK_EQ_INT(octal(hd + 124, 12), m[i].len);    /* size */
		CHECK_EQ_INT(octal(hd + 136, 12), 0);           /* mtime */
		CHECK_EQ_INT(hd[265], 0);                       /* uname empty */
		CHECK_EQ_INT(hd[297], 0);                       /* gname empty */
		if (strlen(m[i].name) <= 100)
			CHECK(strncmp((const char *)hd, m[i].name, 100) == 0);
	}
	/* short names: nothing but ustar headers, no pax header before them */
	CHECK_EQ_INT(off[1], off[0] + 512 + 3072);
	CHECK_EQ_INT(off[2], off[1] + 512 + 512);
	CHECK_EQ_INT(off[3], off[2] + 512 + 512);
	/* the 150-character name: a pax 'x' header and its data block come
	 * first (the empty member before it has no data block) */
	CHECK_EQ_INT(off[4], off[3] + 3 * 512);
	const uint8_t *x = b + off[3];
	CHECK_EQ_INT(x[156], 'x');
	CHECK(memmem(x + 512, 512, long_name, 150) != NULL);
	CHECK(memmem(x, 512, "PaxHeader", 9) != NULL);
	CHECK(memmem(b, n, "atime", 5) == NULL && memmem(b, n, "ctime", 5) == NULL);
	free(b);
}

/* Write the member set as shard 1 of a fresh directory; its path into path. */
static int external_shard(const char *name, char *path, size_t n, struct member *m,
			  uint64_t *off)
{
	uint64_t bytes;
	char hash[TS_HASH_HEX_LEN + 1];
	const char *d = subdir(name);
	members(m);
	snprintf(path, n, "%s/000001.tar", d);
	return write_shard(d, 1, off, &bytes, hash);
}

static void writer_tar_tf(void)
{
	char path[300], cmd[1200], out[4096], want[1024];
	struct member m[NMEMBERS];
	uint64_t off[NMEMBERS];

	if (!have("tar"))
		SKIP("tar not installed: listing by tar(1) not checked");
	CHECK(external_shard("tar-tf", path, sizeof(path), m, off) == 0);
	snprintf(cmd, sizeof(cmd), "tar tf '%s' | tr '\\n' '|'", path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0);
	snprintf(want, sizeof(want), "%s|%s|%s|%s|%s|", m[0].name, m[1].name,
		 m[2].name, m[3].name, m[4].name);
	CHECK_EQ_STR(out, want);
	/* the verbose listing shows the fixed metadata */
	snprintf(cmd, sizeof(cmd), "tar tvf '%s' --numeric-owner --full-time 2>/dev/null | head -n 1", path);
	if (run_cmd(cmd, out, sizeof(out)) == 0)   /* GNU options; busybox tar lacks them */
		CHECKF(strstr(out, "-r--r--r--") && strstr(out, "0/0") && strstr(out, "1970-01-01"),
		       "tar tvf: %s", out);
	/* tar extracts the bytes unchanged */
	snprintf(cmd, sizeof(cmd), "tar xOf '%s' 000000000.txt", path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "a dog on a beach");
}

static void writer_python_tarfile(void)
{
	char path[300], cmd[1200], out[4096], want[1024];
	struct member m[NMEMBERS];
	uint64_t off[NMEMBERS];

	if (!have("python3"))
		SKIP("python3 not installed: reading with Python's tarfile not checked");
	CHECK(external_shard("py-tarfile", path, sizeof(path), m, off) == 0);
	/* names, sizes, modes, mtimes and data offsets as tarfile sees them */
	snprintf(cmd, sizeof(cmd),
		 "python3 -c \"import sys, tarfile\n"
		 "t = tarfile.open(sys.argv[1])\n"
		 "print('|'.join('%%s:%%d:%%o:%%d:%%d:%%s' %% (i.name, i.size, i.mode, i.mtime,"
		 " i.offset_data, t.extractfile(i).read()[:3].hex()) for i in t.getmembers()))\n"
		 "\" '%s'", path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0);
	out[strcspn(out, "\n")] = '\0';
	snprintf(want, sizeof(want),
		 "%s:3000:444:0:%llu:%02x%02x%02x|%s:16:444:0:%llu:612064|%s:2:444:0:%llu:7b7d|"
		 "%s:0:444:0:%llu:|%s:4:444:0:%llu:6c6f6e",
		 m[0].name, (unsigned long long)off[0], big[0], big[1], big[2],
		 m[1].name, (unsigned long long)off[1], m[2].name, (unsigned long long)off[2],
		 m[3].name, (unsigned long long)off[3], m[4].name, (unsigned long long)off[4]);
	CHECK_EQ_STR(out, want);

	/* the way webdataset reads a shard (webdataset is not installed here):
	 * tarfile in stream mode, regular files only, samples grouped by the
	 * name up to the first dot of the last path component */
	snprintf(cmd, sizeof(cmd),
		 "python3 -c \"import re, sys, tarfile\n"
		 "samples = []\n"
		 "with open(sys.argv[1], 'rb') as f:\n"
		 "  t = tarfile.open(fileobj=f, mode='r|*')\n"
		 "  for ti in t:\n"
		 "    if not ti.isreg(): continue\n"
		 "    n = len(t.extractfile(ti).read())\n"
		 "    key, ext = re.match(r'^((?:.*/|)[^.]+)[.]([^/]*)$', ti.name).groups()\n"
		 "    if not samples or samples[-1][0] != key: samples.append((key, []))\n"
		 "    samples[-1][1].append('%%s:%%d' %% (ext, n))\n"
		 "print(';'.join(k[:12] + '=' + ','.join(e) for k, e in samples))\n"
		 "\" '%s'", path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0);
	out[strcspn(out, "\n")] = '\0';
	CHECK_EQ_STR(out, "000000000=jpg:3000,txt:16,json:2;000000001=txt:0;nnnnnnnnnnnn=txt:4");
}

static void writer_abort_and_temp(void)
{
	const char *d = subdir("abort");
	struct ts_shard_writer *w = NULL;
	struct ts_err e = TS_ERR_INIT;
	char tmpname[300], final[300];
	uint64_t off;

	snprintf(tmpname, sizeof(tmpname), "%s/.000007.tar.tmp", d);
	snprintf(final, sizeof(final), "%s/000007.tar", d);
	/* a stale temp file is truncated, not appended to */
	CHECK(spit(tmpname, "stale garbage", 13) == 0);
	CHECK_EQ_INT(ts_shard_writer_open(&w, d, 7, &e), 0);
	CHECK(exists(tmpname));
	CHECK_EQ_INT(ts_shard_writer_bytes(w), 0);
	CHECK_EQ_INT(ts_shard_writer_add(w, "a.txt", "x", 1, &off, &e), 0);
	CHECK_EQ_INT(off, 512);
	CHECK_EQ_INT(ts_shard_writer_bytes(w), 1024);
	CHECK(!exists(final));
	ts_shard_writer_abort(w);
	CHECK(!exists(tmpname));
	CHECK(!exists(final));
	ts_shard_writer_abort(NULL);

	/* finish leaves the final file and no temp file */
	CHECK_EQ_INT(ts_shard_writer_open(&w, d, 7, &e), 0);
	CHECK_EQ_INT(ts_shard_writer_add(w, "a.txt", "x", 1, NULL, &e), 0);
	CHECK_EQ_INT(ts_shard_writer_finish(w, NULL, NULL, &e), 0);
	CHECK(!exists(tmpname));
	CHECK(exists(final));
	struct stat st;
	CHECK(stat(final, &st) == 0 && st.st_size == 2048);

	/* an empty shard is just the two end blocks */
	uint64_t bytes = 1;
	char hash[TS_HASH_HEX_LEN + 1], want[TS_HASH_HEX_LEN + 1];
	static const uint8_t zeros[1024];
	CHECK_EQ_INT(ts_shard_writer_open(&w, d, 8, &e), 0);
	CHECK_EQ_INT(ts_shard_writer_finish(w, &bytes, hash, &e), 0);
	CHECK_EQ_INT(bytes, 1024);
	ts_hash_hex(zeros, sizeof(zeros), want);
	CHECK_EQ_STR(hash, want);

	/* a missing directory is a clear error naming the path */
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/no/such/dir", d);
	w = (struct ts_shard_writer *)1;
	CHECK_EQ_INT(ts_shard_writer_open(&w, missing, 0, &e), TS_ERR_IO);
	CHECK(w == NULL);
	CHECKF(strstr(e.msg, "cannot create '") && strstr(e.msg, "no/such/dir/.000000.tar.tmp'"),
	       "%s", e.msg);

	/* an empty member name is refused, the writer stays usable */
	CHECK_EQ_INT(ts_shard_writer_open(&w, d, 9, &e), 0);
	CHECK(ts_shard_writer_add(w, "", "x", 1, NULL, &e) < 0);
	/* so is a name that is not printable ASCII (the bytes would depend
	 * on the locale) */
	CHECK_EQ_INT(ts_shard_writer_add(w, "caf\xc3\xa9.txt", "x", 1, NULL, &e), TS_ERR_USAGE);
	CHECKF(strstr(e.msg, "not printable ASCII") != NULL, "%s", e.msg);
	CHECK_EQ_INT(ts_shard_writer_add(w, "tab\t.txt", "x", 1, NULL, &e), TS_ERR_USAGE);
	CHECK_EQ_INT(ts_shard_writer_add(w, "b.txt", "y", 1, &off, &e), 0);
	CHECK_EQ_INT(off, 512);
	ts_shard_writer_abort(w);
}

/* A write that fails half way (a file size limit stands in for a full
 * disk): clear error, later calls fail, finish removes the temp file. */
static void writer_io_error(void)
{
	const char *d = subdir("ioerr");
	struct ts_shard_writer *w = NULL;
	struct ts_err e = TS_ERR_INIT;
	struct rlimit old, lim;
	char tmpname[300], final[300];
	static uint8_t data[20000];

	snprintf(tmpname, sizeof(tmpname), "%s/.000000.tar.tmp", d);
	snprintf(final, sizeof(final), "%s/000000.tar", d);
	if (getrlimit(RLIMIT_FSIZE, &old))
		SKIP("getrlimit failed");
	void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 8192;
	if (setrlimit(RLIMIT_FSIZE, &lim)) {
		signal(SIGXFSZ, old_sig);
		SKIP("setrlimit failed");
	}
	CHECK_EQ_INT(ts_shard_writer_open(&w, d, 0, &e), 0);
	CHECK_EQ_INT(ts_shard_writer_add(w, "a.bin", data, 1000, NULL, &e), 0);
	CHECK_EQ_INT(ts_shard_writer_add(w, "b.bin", data, sizeof(data), NULL, &e), TS_ERR_IO);
	CHECKF(strstr(e.msg, ".000000.tar.tmp'") && strstr(e.msg, "too large"), "%s", e.msg);
	CHECK(ts_shard_writer_add(w, "c.bin", data, 10, NULL, &e) < 0);
	CHECK(ts_shard_writer_finish(w, NULL, NULL, &e) < 0);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, old_sig);
	CHECK(!exists(tmpname));
	CHECK(!exists(final));
}

/* ---- tar reader ---- */

struct seen {
	int n;
	char names[16][200];
	size_t sizes[16];
	uint64_t offs[16];
	int types[16];
	char first_bytes[16][8];
	int stop_at;
};

static int collect(const struct ts_tar_member *m, void *user)
{
	struct seen *s = user;
	if (s->n < 16) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", m->name);
		s->sizes[s->n] = m->size;
		s->offs[s->n] = m->data_offset;
		s->types[s->n] = m->type;
		memset(s->first_bytes[s->n], 0, 8);
		memcpy(s->first_bytes[s->n], m->data, m->size < 7 ? m->size : 7);
	}
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

static void reader_round_trip(void)
{
	const char *d = subdir("reader");
	struct member m[NMEMBERS];
	uint64_t off[NMEMBERS], bytes;
	char hash[TS_HASH_HEX_LEN + 1], path[300];
	struct ts_err e = TS_ERR_INIT;
	struct seen s;

	members(m);
	CHECK(write_shard(d, 0, off, &bytes, hash) == 0);
	snprintf(path, sizeof(path), "%s/000000.tar", d);
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(ts_tar_foreach(path, 1 << 20, collect, &s, &e), 0);
	CHECK_EQ_INT(s.n, NMEMBERS);
	for (int i = 0; i < NMEMBERS && i < s.n; i++) {
		CHECK_EQ_STR(s.names[i], m[i].name);
		CHECK_EQ_INT(s.sizes[i], m[i].len);
		CHECK_EQ_INT(s.offs[i], off[i]);
		CHECK_EQ_INT(s.types[i], 0);
		CHECK(memcmp(s.first_bytes[i], m[i].data, m[i].len < 7 ? m[i].len : 7) == 0);
	}
	/* a non-zero callback value stops the walk and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	CHECK_EQ_INT(ts_tar_foreach(path, 1 << 20, collect, &s, &e), 42);
	CHECK_EQ_INT(s.n, 2);
	/* the cap */
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(ts_tar_foreach(path, 2999, collect, &s, &e), TS_ERR_LIMIT);
	CHECK_EQ_INT(s.n, 0);
	CHECKF(strstr(e.msg, "000000000.jpg") != NULL, "%s", e.msg);
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(ts_tar_foreach(path, 3000, collect, &s, &e), 0);
}

/* Write a tar with libarchive directly in the given format: a directory,
 * a file, a symlink, a hard link and a file with a long name. */
static int write_foreign(const char *path, int format, uint64_t *file_off)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char longn[200];
	int rc = 0;

	memset(longn, 'q', 180);
	strcpy(longn + 180, ".bin");
	archive_write_set_format(a, format);
	archive_write_add_filter_none(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		rc = -1;

	archive_entry_set_pathname(e, "dir/");
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	rc |= archive_write_header(a, e) != ARCHIVE_OK;

	archive_entry_clear(e);
	archive_entry_set_pathname(e, "dir/file.txt");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 5);
	rc |= archive_write_header(a, e) != ARCHIVE_OK;
	rc |= archive_write_data(a, "hello", 5) != 5;

	archive_entry_clear(e);
	archive_entry_set_pathname(e, "dir/link");
	archive_entry_set_filetype(e, AE_IFLNK);
	archive_entry_set_perm(e, 0777);
	archive_entry_set_symlink(e, "file.txt");
	rc |= archive_write_header(a, e) != ARCHIVE_OK;

	archive_entry_clear(e);
	archive_entry_set_pathname(e, "dir/hard");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_hardlink(e, "dir/file.txt");
	rc |= archive_write_header(a, e) != ARCHIVE_OK;

	archive_entry_clear(e);
	archive_entry_set_pathname(e, longn);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 600);
	rc |= archive_write_header(a, e) != ARCHIVE_OK;
	char data[600];
	memset(data, 'Z', sizeof(data));
	memcpy(data, "START", 5);
	rc |= archive_write_data(a, data, sizeof(data)) != 600;

	rc |= archive_write_close(a) != ARCHIVE_OK;
	archive_write_free(a);
	archive_entry_free(e);
	(void)file_off;
	return rc ? -1 : 0;
}

static void reader_types_and_formats(void)
{
	static const struct { int format; const char *name; } formats[] = {
		{ ARCHIVE_FORMAT_TAR_USTAR, "ustar" },
		{ ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, "pax" },
		{ ARCHIVE_FORMAT_TAR_GNUTAR, "gnutar" },
	};
	struct ts_err e = TS_ERR_INIT;
	char path[300];

	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		struct seen s;
		size_t n;
		snprintf(path, sizeof(path), "%s/foreign-%s.tar", tmp(), formats[f].name);
		if (write_foreign(path, formats[f].format, NULL)) {
			/* ustar cannot hold the 184-byte name without a '/' */
			if (formats[f].format != ARCHIVE_FORMAT_TAR_USTAR)
				CHECKF(0, "writing a %s tar failed", formats[f].name);
			continue;
		}
		memset(&s, 0, sizeof(s));
		CHECKF(ts_tar_foreach(path, 1 << 20, collect, &s, &e) == 0, "%s: %s",
		       formats[f].name, e.msg);
		CHECKF(s.n == 5, "%s: %d members", formats[f].name, s.n);
		if (s.n != 5)
			continue;
		CHECK_EQ_STR(s.names[0], "dir/");
		CHECK_EQ_INT(s.types[0], 1);
		CHECK_EQ_STR(s.names[1], "dir/file.txt");
		CHECK_EQ_INT(s.types[1], 0);
		CHECK_EQ_INT(s.sizes[1], 5);
		CHECK_EQ_STR(s.first_bytes[1], "hello");
		CHECK_EQ_STR(s.names[2], "dir/link");
		CHECK_EQ_INT(s.types[2], 2);
		CHECK_EQ_INT(s.sizes[2], 0);
		CHECK_EQ_STR(s.names[3], "dir/hard");
		CHECK_EQ_INT(s.types[3], 3);
		CHECK_EQ_INT(strlen(s.names[4]), 184);
		CHECK_EQ_INT(s.types[4], 0);
		CHECK_EQ_INT(s.sizes[4], 600);
		/* data offsets point at the bytes, extension headers or not */
		uint8_t *b = slurp(path, &n);
		CHECK(b != NULL);
		if (b) {
			CHECKF(s.offs[1] + 5 <= n && memcmp(b + s.offs[1], "hello", 5) == 0,
			       "%s: offset %llu", formats[f].name, (unsigned long long)s.offs[1]);
			CHECKF(s.offs[4] + 600 <= n && memcmp(b + s.offs[4], "START", 5) == 0,
			       "%s: offset %llu", formats[f].name, (unsigned long long)s.offs[4]);
		}
		free(b);
	}
}

static void reader_corrupt(void)
{
	const char *d = subdir("corrupt");
	uint64_t off[NMEMBERS], bytes;
	char hash[TS_HASH_HEX_LEN + 1], path[300], cut[300];
	struct ts_err e = TS_ERR_INIT;
	struct seen s;
	size_t n;
	int rc;

	CHECK(write_shard(d, 0, off, &bytes, hash) == 0);
	snprintf(path, sizeof(path), "%s/000000.tar", d);
	snprintf(cut, sizeof(cut), "%s/cut.tar", d);
	uint8_t *b = slurp(path, &n);
	CHECK(b != NULL);
	if (!b)
		return;
	/* every truncation, at block boundaries and in between, is an error
	 * as long as a member or the first end block is cut */
	int bad = 0;
	for (size_t len = 0; len < n - 512; len += (len % 512 == 0) ? 100 : 412) {
		CHECK(spit(cut, b, len) == 0);
		memset(&s, 0, sizeof(s));
		ts_err_clear(&e);
		rc = ts_tar_foreach(cut, 1 << 20, collect, &s, &e);
		if (rc >= 0 || !strstr(e.msg, "cut.tar")) {
			CHECKF(0, "truncated at %zu: rc %d, '%s'", len, rc, e.msg);
			if (++bad > 3)
				break;
		}
	}
	/* one end block still counts as an end */
	CHECK(spit(cut, b, n - 512) == 0);
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(ts_tar_foreach(cut, 1 << 20, collect, &s, &e), 0);
	CHECK_EQ_INT(s.n, NMEMBERS);

	/* a damaged header checksum */
	b[off[1] - 512 + 148] ^= 0x11;
	CHECK(spit(cut, b, n) == 0);
	memset(&s, 0, sizeof(s));
	CHECK(ts_tar_foreach(cut, 1 << 20, collect, &s, &e) < 0);
	CHECK(s.n <= 1);
	/* a header that claims a huge member */
	b[off[1] - 512 + 148] ^= 0x11;
	memcpy(b + off[1] - 512 + 124, "77777777777", 11);
	CHECK(spit(cut, b, n) == 0);
	memset(&s, 0, sizeof(s));
	CHECK(ts_tar_foreach(cut, UINT64_MAX, collect, &s, &e) < 0);
	free(b);

	/* not a tar at all, a missing file, a directory */
	static const char junk[] = "this is not a tar file, just some text that goes on and on";
	CHECK(spit(cut, junk, sizeof(junk)) == 0);
	CHECK(ts_tar_foreach(cut, 1 << 20, collect, &s, &e) < 0);
	CHECKF(strstr(e.msg, "cannot read '") != NULL, "%s", e.msg);
	snprintf(cut, sizeof(cut), "%s/missing.tar", d);
	CHECK_EQ_INT(ts_tar_foreach(cut, 1 << 20, collect, &s, &e), TS_ERR_IO);
	CHECK(ts_tar_foreach(d, 1 << 20, collect, &s, &e) < 0);
}

/* Damaged bytes anywhere in the headers: an error or a clean walk, never a
 * crash (run under SANITIZE=address,undefined), and every member handed
 * out lies inside the file. */
struct bounds { uint64_t file_size; int bad; };

static int in_bounds(const struct ts_tar_member *m, void *user)
{
	struct bounds *b = user;
	if (m->data_offset > b->file_size || m->size > b->file_size - m->data_offset)
		b->bad++;
	return 0;
}

static void reader_mutations(void)
{
	const char *d = subdir("mutate");
	uint64_t off[NMEMBERS], bytes;
	char hash[TS_HASH_HEX_LEN + 1], path[300], mut[300];
	struct ts_err e = TS_ERR_INIT;
	uint32_t rng = 12345;
	size_t n;
	int errors = 0;

	CHECK(write_shard(d, 0, off, &bytes, hash) == 0);
	snprintf(path, sizeof(path), "%s/000000.tar", d);
	snprintf(mut, sizeof(mut), "%s/mutated.tar", d);
	uint8_t *orig = slurp(path, &n), *b = malloc(n ? n : 1);
	CHECK(orig && b);
	if (!orig || !b)
		goto out;
	/* header blocks: the one before every member's data, and the pax one */
	uint64_t headers[NMEMBERS + 1];
	for (int i = 0; i < NMEMBERS; i++)
		headers[i] = off[i] - 512;
	headers[NMEMBERS] = off[NMEMBERS - 1] - 1536;
	for (int iter = 0; iter < 400; iter++) {
		memcpy(b, orig, n);
		for (int k = 0; k < 1 + iter % 4; k++) {
			rng = rng * 1103515245u + 12345u;
			uint64_t h = headers[(rng >> 8) % (NMEMBERS + 1)];
			rng = rng * 1103515245u + 12345u;
			size_t at = h + (rng >> 8) % (iter % 2 ? 512 : 160);
			rng = rng * 1103515245u + 12345u;
			b[at] = (iter % 3 == 0) ? (uint8_t)('0' + (rng >> 16) % 10) : (uint8_t)(rng >> 16);
		}
		CHECK(spit(mut, b, n) == 0);
		struct bounds bd = { n, 0 };
		int rc = ts_tar_foreach(mut, 1 << 20, in_bounds, &bd, &e);
		CHECKF(rc <= 0, "iteration %d: rc %d", iter, rc);
		CHECKF(bd.bad == 0, "iteration %d: member outside the file", iter);
		if (rc < 0) {
			errors++;
			CHECKF(strstr(e.msg, "mutated.tar") != NULL, "iteration %d: '%s'", iter, e.msg);
		}
	}
	CHECK(errors > 0);
out:
	free(orig);
	free(b);
}

/* ---- catalog ---- */

static long long count(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	long long v = -1;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	else
		fprintf(stderr, "  sql '%s': %s\n", sql, sqlite3_errmsg(h));
	sqlite3_finalize(q);
	sqlite3_close(h);
	return v;
}

static void text(const char *db, const char *sql, char *out, size_t n)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	out[0] = '\0';
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(h);
}

static int exec_sql(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	int rc = sqlite3_open(db, &h) == SQLITE_OK &&
		 sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	if (rc)
		fprintf(stderr, "  sql '%s': %s\n", sql, sqlite3_errmsg(h));
	sqlite3_close(h);
	return rc;
}

/* Commit shard idx with samples at the given records (3 members each) and
 * rejects at the given records, covering [first, end). */
static int commit(struct ts_catalog *cat, unsigned idx, uint64_t first, uint64_t end,
		  const uint64_t *recs, size_t nrecs, const uint64_t *rej, size_t nrej,
		  struct ts_err *e)
{
	struct ts_sample_row rows[8];
	struct ts_reject_row rj[8];
	struct ts_member_row mem[8][3];
	char keys[8][16], names[8][3][24], shard_name[32];
	static const char *ext[3] = { "jpg", "txt", "json" };

	for (size_t i = 0; i < nrecs; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%09llu", (unsigned long long)recs[i]);
		for (int j = 0; j < 3; j++) {
			snprintf(names[i][j], sizeof(names[i][j]), "%s.%s", keys[i], ext[j]);
			mem[i][j] = (struct ts_member_row){ names[i][j], 512 + 1024 * (i * 3 + j), 10 + j, NULL };
		}
		rows[i] = (struct ts_sample_row){
			.key = keys[i], .record = recs[i], .shard = idx,
			.width = 256, .height = 192, .orig_width = 1024, .orig_height = 768,
			.format = "jpeg", .content_hash = "00112233445566778899aabbccddeeff",
			.image_hash = "ffeeddccbbaa99887766554433221100", .source = "photos/x.jpg",
			.caption = "a caption", .captions_json = "[\"a caption\"]",
			.members = mem[i], .nmembers = 3,
		};
	}
	for (size_t i = 0; i < nrej; i++)
		rj[i] = (struct ts_reject_row){ rej[i], "bad.jpg", "image", "image.corrupt",
						 "cannot decode 'bad.jpg': corrupt", "/data/bad.jpg",
						 "{\"offset\":512}" };
	struct ts_shard_row sh = {
		.idx = idx, .name = ts_shard_name(idx, shard_name, sizeof(shard_name)),
		.samples = nrecs, .bytes = 4096 * (idx + 1), .hash = "0123456789abcdef0123456789abcdef",
		.first_record = first, .end_record = end,
	};
	return ts_catalog_commit_shard(cat, &sh, rows, nrecs, rj, nrej, e);
}

static void catalog_basics(void)
{
	const char *d = subdir("cat-basic");
	char db[300], v[256];
	struct ts_catalog *cat = NULL;
	struct ts_err e = TS_ERR_INIT;
	char *val = (char *)1;
	int64_t run = 0, run2 = 0;

	snprintf(db, sizeof(db), "%s/catalog.sqlite", d);
	CHECKF(ts_catalog_open(&cat, db, &e) == 0, "%s", e.msg);
	if (!cat)
		return;
	CHECK_EQ_INT(count(db, "pragma user_version"), 6);
	text(db, "pragma journal_mode", v, sizeof(v));
	CHECK_EQ_STR(v, "wal");
	CHECK_EQ_INT(count(db, "select count(*) from sqlite_master where type = 'table' and name in"
			 " ('meta', 'runs', 'shards', 'samples', 'members', 'rejects')"), 6);

	CHECK_EQ_INT(ts_catalog_meta_get(cat, "ingest_options", &val, &e), 0);
	CHECK(val == NULL);
	CHECK_EQ_INT(ts_catalog_meta_set(cat, "ingest_options", "{\"a\":1}", &e), 0);
	CHECK_EQ_INT(ts_catalog_meta_get(cat, "ingest_options", &val, &e), 0);
	CHECK_EQ_STR(val, "{\"a\":1}");
	free(val);
	CHECK_EQ_INT(ts_catalog_meta_set(cat, "ingest_options", "{\"a\":2}", &e), 0);
	CHECK_EQ_INT(ts_catalog_meta_get(cat, "ingest_options", &val, &e), 0);
	CHECK_EQ_STR(val, "{\"a\":2}");
	free(val);
	CHECK_EQ_INT(count(db, "select count(*) from meta"), 1);

	CHECK_EQ_INT(ts_catalog_run_begin(cat, "tessera ingest x -o y", "0.1.0", "{}", &run, &e), 0);
	CHECK(run > 0);
	CHECK_EQ_INT(ts_catalog_run_begin(cat, "tessera ingest x -o y", "0.1.0", "{}", &run2, &e), 0);
	CHECK(run2 > run);
	text(db, "select status from runs order by id limit 1", v, sizeof(v));
	CHECK_EQ_STR(v, "running");
	text(db, "select started from runs order by id limit 1", v, sizeof(v));
	/* ISO-8601 UTC: 2024-05-01T12:34:56Z */
	CHECKF(strlen(v) == 20 && v[4] == '-' && v[7] == '-' && v[10] == 'T' &&
	       v[13] == ':' && v[16] == ':' && v[19] == 'Z', "started '%s'", v);
	CHECK_EQ_INT(ts_catalog_run_end(cat, run, "ok", "{\"samples\":2}", &e), 0);
	text(db, "select status || ' ' || summary || ' ' || length(ended) from runs order by id limit 1",
	     v, sizeof(v));
	CHECK_EQ_STR(v, "ok {\"samples\":2} 20");
	CHECK(ts_catalog_run_end(cat, 999, "ok", "{}", &e) < 0);
	CHECKF(strstr(e.msg, db) != NULL, "%s", e.msg);

	/* commit: shard rows, samples, members, rejects */
	uint64_t r0[] = { 0, 2 }, j0[] = { 1, 3 }, r1[] = { 4, 5 }, j1[] = { 6 };
	CHECKF(commit(cat, 0, 0, 4, r0, 2, j0, 2, &e) == 0, "%s", e.msg);
	CHECKF(commit(cat, 1, 4, 7, r1, 2, j1, 1, &e) == 0, "%s", e.msg);
	CHECK_EQ_INT(count(db, "select count(*) from shards where complete = 1"), 2);
	CHECK_EQ_INT(count(db, "select count(*) from samples"), 4);
	CHECK_EQ_INT(count(db, "select count(*) from members"), 12);
	CHECK_EQ_INT(count(db, "select count(*) from rejects"), 3);
	text(db, "select name || ' ' || first_record || ' ' || end_record || ' ' || samples"
	     " from shards where idx = 1", v, sizeof(v));
	CHECK_EQ_STR(v, "000001.tar 4 7 2");
	text(db, "select key || ' ' || shard || ' ' || width || 'x' || height || ' ' || format"
	     " || ' ' || captions from samples where record = 5", v, sizeof(v));
	CHECK_EQ_STR(v, "000000005 1 256x192 jpeg [\"a caption\"]");
	text(db, "select shard || ' ' || offset || ' ' || size from members"
	     " where key = '000000005' and name = '000000005.txt'", v, sizeof(v));
	CHECK_EQ_STR(v, "1 4608 11");
	text(db, "select reason from rejects where record = 6", v, sizeof(v));
	CHECK_EQ_STR(v, "image.corrupt");

	/* a failed commit leaves nothing behind: a duplicate key, and a
	 * reject outside the shard's record range */
	uint64_t dup[] = { 7, 5 }, j2[] = { 8 }, out_of_range[] = { 3 };
	CHECK(commit(cat, 2, 7, 9, dup, 2, j2, 1, &e) < 0);
	CHECK(commit(cat, 2, 7, 9, dup, 1, out_of_range, 1, &e) < 0);
	CHECK_EQ_INT(count(db, "select count(*) from shards"), 2);
	CHECK_EQ_INT(count(db, "select count(*) from samples"), 4);
	CHECK_EQ_INT(count(db, "select count(*) from rejects"), 3);

	struct ts_reject_row tail[] = {
		{ 9, "a", "read", "source.missing", "m", "img/a.jpg", NULL },
		{ 10, "b", "caption", "caption.empty", "m", NULL, NULL },
	};
	CHECK_EQ_INT(ts_catalog_add_rejects(cat, tail, 2, &e), 0);
	CHECK_EQ_INT(ts_catalog_add_rejects(cat, tail, 0, &e), 0);
	CHECK_EQ_INT(count(db, "select count(*) from rejects"), 5);
	/* version 3 columns: the image path and the detail object */
	CHECK_EQ_INT(count(db, "select count(*) from rejects where path = 'img/a.jpg' and detail is null"), 1);
	CHECK_EQ_INT(count(db, "select count(*) from rejects where path = '/data/bad.jpg'"
			   " and json_extract(detail, '$.offset') = 512"), 3);
	ts_catalog_close(cat);
	ts_catalog_close(NULL);

	/* reopen keeps everything */
	cat = NULL;
	CHECKF(ts_catalog_open(&cat, db, &e) == 0, "%s", e.msg);
	if (!cat)
		return;
	CHECK_EQ_INT(ts_catalog_meta_get(cat, "ingest_options", &val, &e), 0);
	CHECK_EQ_STR(val, "{\"a\":2}");
	free(val);
	CHECK_EQ_INT(count(db, "select count(*) from runs"), 2);
	CHECK_EQ_INT(count(db, "select count(*) from samples"), 4);
	CHECK_EQ_INT(count(db, "select count(*) from rejects"), 5);
	ts_catalog_close(cat);
}

static void catalog_resume(void)
{
	const char *d = subdir("cat-resume");
	char db[300];
	struct ts_catalog *cat = NULL;
	struct ts_err e = TS_ERR_INIT;
	unsigned next_shard = 99;
	uint64_t next_record = 99;

	snprintf(db, sizeof(db), "%s/catalog.sqlite", d);
	CHECKF(ts_catalog_open(&cat, db, &e) == 0, "%s", e.msg);
	if (!cat)
		return;
	/* empty catalog: start from scratch */
	CHECK_EQ_INT(ts_catalog_resume(cat, &next_shard, &next_record, &e), 0);
	CHECK_EQ_INT(next_shard, 0);
	CHECK_EQ_INT(next_record, 0);

	uint64_t r0[] = { 0, 2 }, j0[] = { 1, 3 }, r1[] = { 4, 5 }, j1[] = { 6 };
	CHECK_EQ_INT(commit(cat, 0, 0, 4, r0, 2, j0, 2, &e), 0);
	CHECK_EQ_INT(commit(cat, 1, 4, 7, r1, 2, j1, 1, &e), 0);
	ts_catalog_close(cat);

	/* the state a crash leaves: shard 2 started but not complete (its row,
	 * samples and members present), rejects beyond shard 1 */
	CHECK(exec_sql(db,
		"insert into shards(idx, name, samples, bytes, hash, complete, first_record, end_record) values(2, '000002.tar', 1, 0, NULL, 0, 7, 9);"
		"insert into samples(key, record, shard) values('000000007', 7, 2);"
		"insert into members values('000000007', 2, '000000007.jpg', 512, 10, NULL);"
		"insert into rejects(record, reason) values(8, 'image.corrupt');"
		"insert into rejects(record, reason) values(9, 'duplicate');") == 0);
	cat = NULL;
	CHECKF(ts_catalog_open(&cat, db, &e) == 0, "%s", e.msg);
	if (!cat)
		return;
	CHECK_EQ_INT(ts_catalog_resume(cat, &next_shard, &next_record, &e), 0);
	CHECK_EQ_INT(next_shard, 2);
	CHECK_EQ_INT(next_record, 7);
	CHECK_EQ_INT(count(db, "select count(*) from shards"), 2);
	CHECK_EQ_INT(count(db, "select max(idx) from shards"), 1);
	CHECK_EQ_INT(count(db, "select count(*) from samples"), 4);
	CHECK_EQ_INT(count(db, "select count(*) from samples where shard >= 2"), 0);
	CHECK_EQ_INT(count(db, "select count(*) from members"), 12);
	CHECK_EQ_INT(count(db, "select count(*) from rejects"), 3);
	CHECK_EQ_INT(count(db, "select max(record) from rejects"), 6);

	/* resuming twice changes nothing */
	CHECK_EQ_INT(ts_catalog_resume(cat, &next_shard, &next_record, &e), 0);
	CHECK_EQ_INT(next_shard, 2);
	CHECK_EQ_INT(next_record, 7);
	CHECK_EQ_INT(count(db, "select count(*) from samples"), 4);

	/* a gap: shard 3 complete but shard 2 missing, so shard 3 goes too */
	uint64_t r3[] = { 10 }, j3[] = { 11 };
	CHECK_EQ_INT(commit(cat, 3, 10, 12, r3, 1, j3, 1, &e), 0);
	CHECK_EQ_INT(ts_catalog_resume(cat, &next_shard, &next_record, &e), 0);
	CHECK_EQ_INT(next_shard, 2);
	CHECK_EQ_INT(next_record, 7);
	CHECK_EQ_INT(count(db, "select count(*) from shards"), 2);
	CHECK_EQ_INT(count(db, "select count(*) from samples"), 4);
	CHECK_EQ_INT(count(db, "select count(*) from members"), 12);
	CHECK_EQ_INT(count(db, "select count(*) from rejects"), 3);

	/* shard 0 incomplete: nothing is kept, rejects included */
	CHECK(exec_sql(db, "update shards set complete = 0 where idx = 0") == 0);
	CHECK_EQ_INT(ts_catalog_resume(cat, &next_shard, &next_record, &e), 0);
	CHECK_EQ_INT(next_shard, 0);
	CHECK_EQ_INT(next_record, 0);
	CHECK_EQ_INT(count(db, "select count(*) from shards"), 0);
	CHECK_EQ_INT(count(db, "select count(*) from samples"), 0);
	CHECK_EQ_INT(count(db, "select count(*) from members"), 0);
	CHECK_EQ_INT(count(db, "select count(*) from rejects"), 0);

	/* after resume the same shard can be committed again */
	CHECK_EQ_INT(commit(cat, 0, 0, 4, r0, 2, j0, 2, &e), 0);
	CHECK_EQ_INT(count(db, "select count(*) from samples"), 2);
	ts_catalog_close(cat);
}

static void catalog_bad_files(void)
{
	const char *d = subdir("cat-bad");
	char db[300];
	struct ts_catalog *cat = (struct ts_catalog *)1;
	struct ts_err e = TS_ERR_INIT;
	size_t n;

	/* garbage: a clear error naming the file, and the file untouched */
	snprintf(db, sizeof(db), "%s/garbage.sqlite", d);
	char junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)('a' + i % 26);
	CHECK(spit(db, junk, sizeof(junk)) == 0);
	CHECK(ts_catalog_open(&cat, db, &e) < 0);
	CHECK(cat == NULL);
	CHECKF(strstr(e.msg, "cannot open '") && strstr(e.msg, "garbage.sqlite'") &&
	       strstr(e.msg, "not a database"), "%s", e.msg);
	uint8_t *b = slurp(db, &n);
	CHECK(b && n == sizeof(junk) && memcmp(b, junk, n) == 0);
	free(b);

	/* a newer schema version is refused */
	snprintf(db, sizeof(db), "%s/newer.sqlite", d);
	CHECK(exec_sql(db, "pragma user_version = 7; create table meta(name, value)") == 0);
	CHECK_EQ_INT(ts_catalog_open(&cat, db, &e), TS_ERR_UNSUPPORTED);
	CHECKF(strstr(e.msg, "newer.sqlite") && strstr(e.msg, "version 7"), "%s", e.msg);

	/* a version 1 catalog (before the caption columns) is upgraded in place,
	 * its rows kept */
	snprintf(db, sizeof(db), "%s/v1.sqlite", d);
	CHECK(exec_sql(db, "create table meta(name text primary key, value text);"
		       " create table runs(id integer primary key, command text, version text,"
		       " options text, started text, ended text, status text, summary text);"
		       " create table shards(idx integer primary key, name text unique,"
		       " samples integer, bytes integer, hash text, complete integer,"
		       " first_record integer, end_record integer);"
		       " create table samples(key text primary key, record integer unique,"
		       " shard integer, width integer, height integer, orig_width integer,"
		       " orig_height integer, format text, content_hash text, image_hash text,"
		       " source text, caption text, captions text);"
		       " create table members(key text, shard integer, name text,"
		       " offset integer, size integer, hash text, primary key(key, name));"
		       " create table rejects(record integer, source text, stage text,"
		       " reason text, message text);"
		       " insert into samples(key, record, shard, caption) values('000000000', 0, 0, 'A dog.');"
		       " pragma user_version = 1") == 0);
	CHECK_EQ_INT(ts_catalog_open(&cat, db, &e), 0);
	ts_catalog_close(cat);
	cat = NULL;
	CHECK_EQ_INT(count(db, "pragma user_version"), 6);
	CHECK_EQ_INT(count(db, "select count(*) from samples where caption = 'A dog.' and tokens is null"
			   " and short_caption is null and split_rule is null and path is null"
			   " and meta is null and source_format is null and fixes is null"), 1);
	CHECK_EQ_INT(count(db, "select count(*) from pragma_table_info('rejects')"
			   " where name in ('path', 'detail')"), 2);
	CHECK_EQ_INT(count(db, "select count(*) from pragma_table_info('compositions')"
			   " where name in ('path', 'join_spans')"), 2);

	/* a version 3 catalog with compositions (before their path column):
	 * the column is added, the rows kept with no path */
	snprintf(db, sizeof(db), "%s/v3.sqlite", d);
	CHECK(exec_sql(db, "create table meta(name text primary key, value text);"
		       " create table runs(id integer primary key, command text, version text,"
		       " options text, started text, ended text, status text, summary text);"
		       " create table shards(idx integer primary key, name text unique,"
		       " samples integer, bytes integer, hash text, complete integer,"
		       " first_record integer, end_record integer);"
		       " create table samples(key text primary key, record integer unique,"
		       " shard integer, width integer, height integer, orig_width integer,"
		       " orig_height integer, format text, content_hash text, image_hash text,"
		       " source text, caption text, captions text, tokens integer,"
		       " short_caption text, short_tokens integer, split_rule text,"
		       " split_fallback text, path text, meta text);"
		       " create table members(key text, shard integer, name text,"
		       " offset integer, size integer, hash text, primary key(key, name));"
		       " create table rejects(record integer, source text, stage text,"
		       " reason text, message text, path text, detail text);"
		       " create table compositions(key text primary key, shard integer, mode text,"
		       " sources text, regions text, epoch integer, seed integer);"
		       " insert into compositions values('000000000', 0, 'halves', '[]', '[]', 0, 7);"
		       " pragma user_version = 3") == 0);
	CHECK_EQ_INT(ts_catalog_open(&cat, db, &e), 0);
	ts_catalog_close(cat);
	cat = NULL;
	CHECK_EQ_INT(count(db, "pragma user_version"), 6);
	CHECK_EQ_INT(count(db, "select count(*) from compositions where seed = 7 and path is null"
			   " and join_spans is null"), 1);

	/* a version 5 catalog (compositions before join_spans): the column is
	 * added, the rows kept with no spans, the other columns as they were */
	snprintf(db, sizeof(db), "%s/v5.sqlite", d);
	CHECK(exec_sql(db, "create table meta(name text primary key, value text);"
		       " create table runs(id integer primary key, command text, version text,"
		       " options text, started text, ended text, status text, summary text);"
		       " create table shards(idx integer primary key, name text unique,"
		       " samples integer, bytes integer, hash text, complete integer,"
		       " first_record integer, end_record integer, md5 text);"
		       " create table samples(key text primary key, record integer unique,"
		       " shard integer, width integer, height integer, orig_width integer,"
		       " orig_height integer, format text, content_hash text, image_hash text,"
		       " source text, caption text, captions text, tokens integer,"
		       " short_caption text, short_tokens integer, split_rule text,"
		       " split_fallback text, path text, meta text, source_format text, fixes text);"
		       " create table members(key text, shard integer, name text,"
		       " offset integer, size integer, hash text, primary key(key, name));"
		       " create table rejects(record integer, source text, stage text,"
		       " reason text, message text, path text, detail text);"
		       " create table compositions(key text primary key, shard integer, mode text,"
		       " sources text, regions text, epoch integer, seed integer, path text);"
		       " insert into compositions values('000000003', 0, 'cutmix', '[\"a\",\"b\"]',"
		       " '[{\"source\":\"a\",\"region\":1,\"rect\":[0,0,8,8]}]', 1, 9, 'pixels');"
		       " pragma user_version = 5") == 0);
	CHECK_EQ_INT(ts_catalog_open(&cat, db, &e), 0);
	ts_catalog_close(cat);
	cat = NULL;
	CHECK_EQ_INT(count(db, "pragma user_version"), 6);
	CHECK_EQ_INT(count(db, "select count(*) from compositions where key = '000000003' and mode = 'cutmix'"
			   " and regions = '[{\"source\":\"a\",\"region\":1,\"rect\":[0,0,8,8]}]' and epoch = 1"
			   " and seed = 9 and path = 'pixels' and join_spans is null"), 1);
	/* opened again: nothing more to do */
	CHECK_EQ_INT(ts_catalog_open(&cat, db, &e), 0);
	ts_catalog_close(cat);
	cat = NULL;
	CHECK_EQ_INT(count(db, "select count(*) from pragma_table_info('compositions') where name = 'join_spans'"), 1);

	/* somebody else's SQLite database */
	snprintf(db, sizeof(db), "%s/other.sqlite", d);
	CHECK(exec_sql(db, "create table t(x)") == 0);
	CHECK_EQ_INT(ts_catalog_open(&cat, db, &e), TS_ERR_INVALID);
	CHECKF(strstr(e.msg, "other.sqlite") && strstr(e.msg, "not a tessera catalog"), "%s", e.msg);

	/* a directory that does not exist */
	snprintf(db, sizeof(db), "%s/no/such/catalog.sqlite", d);
	CHECK_EQ_INT(ts_catalog_open(&cat, db, &e), TS_ERR_IO);
	CHECKF(strstr(e.msg, "cannot open '") && strstr(e.msg, "no/such/catalog.sqlite'"),
	       "%s", e.msg);
}

/* ts_dataset_sample_dup: every string and row copied (none points into the
 * original, which the cursor reuses), NULL columns kept NULL. */
static void sample_dup(void)
{
	char key[] = "000000042", cap[] = "a dog on a beach", lemma[] = "dog", text[] = "dog";
	char tag[] = "dog", mask[] = "000000042.0.tagmask.png", mode[] = "cutmix", mname[] = "000000042.jpg";
	struct ts_tag_row tags[2] = {
		{ .caption = 0, .idx = 0, .lemma = lemma, .text = text, .byte_start = 2, .byte_end = 5, .region = 1 },
		{ .caption = 1, .idx = 0, .lemma = "beach", .text = "beach", .truncated = 1, .region = 2 },
	};
	struct ts_score_row scores[1] = { { tag, 0.75, mask } };
	char join[] = "[[0,5],[10,16]]";
	struct ts_comp_row comp = { .mode = mode, .sources_json = "[\"a\",\"b\"]", .regions_json = "[]", .epoch = 3,
				    .seed = 7, .path = NULL, .join_json = join };
	struct ts_dataset_member members[2] = { { mname, 512, 4096, "h1" }, { "000000042.txt", 5120, 16, "h2" } };
	struct ts_dataset_sample s = {
		.key = key, .record = 42, .shard = 3, .shard_name = "000003.tar", .width = 224, .height = 160,
		.format = "jpeg", .caption = cap, .captions_json = NULL, .text = { 9, "a dog", 4, "sentence", NULL },
		.tags = tags, .ntags = 2, .scores = scores, .nscores = 1, .comp = &comp,
		.members = members, .nmembers = 2,
	};
	struct ts_dataset_sample *d = ts_dataset_sample_dup(&s);
	CHECK(d != NULL);
	if (!d)
		return;
	/* the original's buffers change, as a cursor's do */
	memset(key, 'x', sizeof(key) - 1);
	memset(cap, 'x', sizeof(cap) - 1);
	memset(lemma, 'x', sizeof(lemma) - 1);
	memset(mask, 'x', sizeof(mask) - 1);
	memset(mode, 'x', sizeof(mode) - 1);
	memset(join, 'x', sizeof(join) - 1);
	memset(mname, 'x', sizeof(mname) - 1);
	tags[0].byte_end = 99;
	CHECK_EQ_STR(d->key, "000000042");
	CHECK_EQ_INT(d->record, 42);
	CHECK_EQ_INT(d->shard, 3);
	CHECK_EQ_STR(d->shard_name, "000003.tar");
	CHECK_EQ_INT(d->width, 224);
	CHECK_EQ_STR(d->caption, "a dog on a beach");
	CHECK(d->captions_json == NULL && d->path == NULL && d->text.split_fallback == NULL);
	CHECK_EQ_STR(d->text.short_caption, "a dog");
	CHECK_EQ_INT(d->text.tokens, 9);
	CHECK_EQ_INT(d->ntags, 2);
	CHECK(d->tags != tags);
	CHECK_EQ_STR(d->tags[0].lemma, "dog");
	CHECK_EQ_INT(d->tags[0].byte_end, 5);
	CHECK_EQ_STR(d->tags[1].text, "beach");
	CHECK_EQ_INT(d->tags[1].truncated, 1);
	CHECK_EQ_STR(d->scores[0].mask, "000000042.0.tagmask.png");
	CHECK(d->scores[0].score == 0.75);
	CHECK(d->comp && d->comp != &comp);
	CHECK_EQ_STR(d->comp->mode, "cutmix");
	CHECK(d->comp->path == NULL);
	CHECK_EQ_STR(d->comp->join_json, "[[0,5],[10,16]]");
	CHECK_EQ_INT(d->comp->seed, 7);
	CHECK_EQ_STR(d->members[0].name, "000000042.jpg");
	CHECK_EQ_INT(d->members[0].offset, 512);
	CHECK_EQ_STR(d->members[1].hash, "h2");
	free(d);
	/* a sample without rows */
	struct ts_dataset_sample bare = { .key = "k", .shard_name = "000000.tar" };
	d = ts_dataset_sample_dup(&bare);
	CHECK(d && d->ntags == 0 && d->comp == NULL && d->nmembers == 0);
	if (d)
		CHECK_EQ_STR(d->key, "k");
	free(d);
}

/* Every row of a query, columns and rows separated, as one malloc'd string. */
static char *dump(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = '\0';
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK) {
		while (sqlite3_step(q) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(q); c++) {
				const char *t = (const char *)sqlite3_column_text(q, c);
				size_t n = strlen(t ? t : "NULL") + 2;
				if (len + n + 1 > cap) {
					char *nb = realloc(out, cap = (len + n + 1) * 2);
					if (!nb)
						break;
					out = nb;
				}
				len += (size_t)snprintf(out + len, cap - len, "%s%c", t ? t : "NULL",
							c + 1 < sqlite3_column_count(q) ? '|' : '\n');
			}
		}
	} else {
		fprintf(stderr, "  sql '%s': %s\n", sql, sqlite3_errmsg(h));
	}
	sqlite3_finalize(q);
	sqlite3_close(h);
	return out;
}

/* 1500 records through the shard writer into dir: a sample (3 members,
 * one of 3000 bytes every 5th record, so shards also close on bytes) or a
 * reject (every 7th record), shards of 600 samples or 400 KB; with
 * dup, record 1000 comes twice.  0, or the first failing call's status. */
static int dsw_sequence(const char *dir, int catalog_thread, int dup, struct ts_err *e)
{
	char db[300], shards_dir[300];
	struct ts_catalog *cat = NULL;
	struct ts_dsw *w = NULL;
	static char img[3000];
	int rc;

	snprintf(db, sizeof(db), "%s/catalog.sqlite", dir);
	snprintf(shards_dir, sizeof(shards_dir), "%s/shards", dir);
	mkdir(shards_dir, 0755);
	if ((rc = ts_catalog_open(&cat, db, e)))
		return rc;
	struct ts_dsw_opts o = {
		.shards_dir = shards_dir, .cat = cat, .shard_samples = 600, .shard_bytes = 400000,
		.catalog_thread = catalog_thread,
	};
	if ((rc = ts_dsw_new(&w, &o, e))) {
		ts_catalog_close(cat);
		return rc;
	}
	for (uint64_t r = 0; rc == 0 && r < 1500; r++) {
		uint64_t rec = dup && r > 1000 ? r - 1 : r;
		char caption[64], source[32];
		snprintf(caption, sizeof(caption), "caption of record %llu", (unsigned long long)rec);
		snprintf(source, sizeof(source), "list.csv:%llu", (unsigned long long)rec + 2);
		if (rec % 7 == 3) {
			struct ts_reject_row rj = { rec, source, "image", "image.corrupt", "corrupt",
						    rec % 2 ? "/data/x.jpg" : NULL, NULL };
			rc = ts_dsw_reject_row(w, &rj, e);
			continue;
		}
		struct ts_dsw_member m[3] = {
			{ "jpg", img, rec % 5 ? 100 + rec % 300 : sizeof(img) },
			{ "txt", caption, strlen(caption) },
			{ "json", "{}", 2 },
		};
		struct ts_dsw_sample ds = {
			/* every 11th with two members: the catalog thread's groups of
			 * samples are broken by rows they do not take */
			.record = rec, .members = m, .nmembers = rec % 11 ? 3 : 2, .width = 24, .height = 24,
			.orig_width = 48, .orig_height = 48, .format = "jpeg",
			.content_hash = "00112233445566778899aabbccddeeff",
			.image_hash = "ffeeddccbbaa99887766554433221100", .source = source,
			.caption = caption, .captions_json = "[\"x\"]",
			.path = rec % 3 ? "/data/x.jpg" : NULL, .meta_json = rec % 4 ? NULL : "{\"uid\":1}",
			.fixes = "", .text = { .tokens = (long long)(rec % 20) - 1 },
		};
		rc = ts_dsw_sample(w, &ds, e);
	}
	if (rc == 0)
		rc = ts_dsw_finish(w, 1500, e);
	ts_dsw_free(w);
	ts_catalog_close(cat);
	return rc;
}

static void dsw_catalog_thread(void)
{
	const char *a = subdir("dsw-one"), *b = subdir("dsw-two");
	struct ts_err e = TS_ERR_INIT;
	char da[300], dbb[300];
	CHECKF(dsw_sequence(a, 0, 0, &e) == 0, "%s", e.msg);
	CHECKF(dsw_sequence(b, 1, 0, &e) == 0, "%s", e.msg);
	snprintf(da, sizeof(da), "%s/catalog.sqlite", a);
	snprintf(dbb, sizeof(dbb), "%s/catalog.sqlite", b);
	CHECK(count(da, "select count(*) from shards") >= 4);
	CHECK_EQ_INT(count(dbb, "select count(*) from rejects"), 214);
	static const char *const q[] = {
		"select * from shards order by idx",
		"select * from samples order by record",
		"select * from members order by key, name",
		"select * from rejects order by rowid",
		/* the order the rows went in (grouped statements keep it) */
		"select rowid, key, record from samples order by rowid",
		"select rowid, key, name, offset from members order by rowid",
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		char *x = dump(da, q[i]), *y = dump(dbb, q[i]);
		CHECKF(x && y && strlen(x) > 0 && !strcmp(x, y), "'%s' differs with a catalog thread", q[i]);
		free(x);
		free(y);
	}
	/* a failed insert on the catalog thread (record 1000 twice: unique)
	 * is the error of a later call, and nothing of its shard is kept */
	const char *c = subdir("dsw-dup");
	char dc[300];
	snprintf(dc, sizeof(dc), "%s/catalog.sqlite", c);
	e = (struct ts_err)TS_ERR_INIT;
	CHECK(dsw_sequence(c, 1, 1, &e) < 0);
	CHECKF(strstr(e.msg, "catalog.sqlite") && strstr(e.msg, "UNIQUE"), "%s", e.msg);
	CHECK_EQ_INT(count(dc, "select count(*) from samples where record >= 1000"), 0);
	CHECK_EQ_INT(count(dc, "select count(*) from shards where complete = 1 and end_record > 1000"), 0);
	char ic[64];
	text(dc, "pragma integrity_check", ic, sizeof(ic));
	CHECK_EQ_STR(ic, "ok");
}

static const struct t_case cases[] = {
	{ "hash_known", hash_known },
	{ "hash_xxhsum", hash_xxhsum },
	{ "shard_name", shard_name },
	{ "writer_deterministic", writer_deterministic },
	{ "writer_offsets_and_headers", writer_offsets_and_headers },
	{ "writer_tar_tf", writer_tar_tf },
	{ "writer_python_tarfile", writer_python_tarfile },
	{ "writer_abort_and_temp", writer_abort_and_temp },
	{ "writer_io_error", writer_io_error },
	{ "reader_round_trip", reader_round_trip },
	{ "reader_types_and_formats", reader_types_and_formats },
	{ "reader_corrupt", reader_corrupt },
	{ "reader_mutations", reader_mutations },
	{ "catalog_basics", catalog_basics },
	{ "catalog_resume", catalog_resume },
	{ "catalog_bad_files", catalog_bad_files },
	{ "sample_dup", sample_dup },
	{ "dsw_catalog_thread", dsw_catalog_thread },
	{ NULL, NULL },
};

int main(void)
{
	int rc = t_run("shards", cases);
	if (tmp_root[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove '%s'\n", tmp_root);
	}
	return rc;
}
