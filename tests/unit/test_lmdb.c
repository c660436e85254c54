/*
 * test_lmdb.c - LMDB input safety (shards/lmdb_store.c): the crafted
 * data.mdb files of tests/data/lmdb/ (made by make_crafted.py from
 * environments python-lmdb wrote) each give a clear error or their
 * records, with the damaged ones reported and the records before (and
 * after) the damage delivered; the reader's watchdog stops a reader that
 * makes no progress; num-samples is bounded by the file; no signal
 * handler of the process is touched.
 */
#define _GNU_SOURCE
#include "tests/unit/t.h"

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shards/lmdb_store.h"

static char tmp_root[64];

static const char *tmp(void)
{
	if (!tmp_root[0]) {
		strcpy(tmp_root, "/tmp/ts-lmdb-XXXXXX");
		if (!mkdtemp(tmp_root)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return tmp_root;
}

/* tests/data/lmdb/NAME.mdb as TMP/NAME/data.mdb; the folder in buf. */
static const char *env_of(const char *name, char *buf, size_t n)
{
	char src[256], dst[300];
	size_t len;
	snprintf(src, sizeof(src), "tests/data/lmdb/%s.mdb", name);
	snprintf(buf, n, "%s/%s", tmp(), name);
	mkdir(buf, 0755);
	snprintf(dst, sizeof(dst), "%s/data.mdb", buf);
	unsigned char *d = t_slurp(src, &len);
	FILE *f = fopen(dst, "wb");
	if (!d || !f || fwrite(d, 1, len, f) != len)
		fprintf(stderr, "  cannot copy %s to %s\n", src, dst);
	if (f)
		fclose(f);
	free(d);
	return buf;
}

struct outcome {
	int open_rc;
	char open_msg[TS_ERR_MSG_MAX];
	uint64_t declared, bound;
	char note[TS_ERR_MSG_MAX], damage[TS_ERR_MSG_MAX];
	char labels[1024];           /* good records' labels, space-separated */
	char damaged[256];           /* damaged record numbers, space-separated */
	char first_msg[TS_ERR_MSG_MAX];
	int good;
};

static void read_env(const char *name, const struct ts_lmdb_read_opts *o, struct outcome *out)
{
	char dir[256];
	struct ts_lmdb_reader *r = NULL;
	struct ts_lmdb_rec rec;
	struct ts_err e = TS_ERR_INIT;
	memset(out, 0, sizeof(*out));
	out->open_rc = ts_lmdb_reader_open(&r, env_of(name, dir, sizeof(dir)), o, &e);
	if (out->open_rc) {
		snprintf(out->open_msg, sizeof(out->open_msg), "%s", e.msg);
		return;
	}
	ts_lmdb_reader_counts(r, &out->declared, &out->bound);
	if (ts_lmdb_reader_note(r))
		snprintf(out->note, sizeof(out->note), "%s", ts_lmdb_reader_note(r));
	while (ts_lmdb_reader_next(r, &rec, &e) == 1) {
		size_t l = strlen(out->labels), d = strlen(out->damaged);
		if (rec.damaged) {
			snprintf(out->damaged + d, sizeof(out->damaged) - d, "%s%llu", d ? " " : "",
				 (unsigned long long)rec.index);
			if (!out->first_msg[0])
				snprintf(out->first_msg, sizeof(out->first_msg), "%s", rec.msg);
		} else {
			out->good++;
			snprintf(out->labels + l, sizeof(out->labels) - l, "%s%.*s", l ? " " : "",
				 rec.has_label ? (int)rec.label_len : 1, rec.has_label ? (const char *)rec.label : "-");
		}
	}
	if (ts_lmdb_reader_damage(r))
		snprintf(out->damage, sizeof(out->damage), "%s", ts_lmdb_reader_damage(r));
	ts_lmdb_reader_close(r);
}

/* Meta-page damage: refused before liblmdb sees the file, naming the
 * file and the field. */
static void crafted_headers(void)
{
	static const struct { const char *name, *want; } cases[] = {
		{ "bad_magic", "not an LMDB file: no LMDB meta page at offset 0" },
		{ "bad_version", "format version 7" },
		{ "psize_zero", "page size 0" },
		{ "psize_odd", "page size 3000" },
		{ "mapsize_huge", "map size 4611686018427387904" },
		{ "last_pg_beyond", "is truncated: 24576 bytes, its meta page says" },
		{ "root_beyond", "the main tree's root is page 999, the file has pages 2..5" },
		{ "root_meta", "the main tree's root is page 1" },
		{ "depth_huge", "the main tree's depth is 200" },
		{ "entries_huge", "the main tree counts 1152921504606846976 entries" },
		{ "dupsort", "the main tree has flags 0x4" },
		{ "meta1_zeroed", "the second meta page (offset 4096) is damaged" },
		{ "truncated", "is truncated: 9192 bytes" },
		{ "short", "700 bytes, too short for its meta pages" },
		{ "leaf_lower", "the main tree's root page 2 is damaged" },
		{ "num_text", "num-samples is not a decimal number" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome out;
		read_env(cases[i].name, NULL, &out);
		CHECKF(out.open_rc < 0 && strstr(out.open_msg, cases[i].want) && strstr(out.open_msg, "data.mdb"),
		       "%s: expected an error with \"%s\", got rc %d \"%s\"", cases[i].name, cases[i].want,
		       out.open_rc, out.open_msg);
	}
}

/* Damage inside the tree: the damaged records come back as such, with a
 * message; the others arrive, before and after the damage. */
static void crafted_records(void)
{
	static const struct {
		const char *name;
		int in_process;         /* also safe without the child: liblmdb reports it */
		const char *labels, *damaged, *msg;
	} cases[] = {
		{ "base", 1, "CHEWBACCA rain Overflow last", "", "" },
		{ "overflow_beyond_file", 1, "CHEWBACCA rain last", "3", "MDB_PAGE_NOTFOUND" },
		{ "overflow_beyond_map", 1, "CHEWBACCA rain last", "3", "MDB_PAGE_NOTFOUND" },
		{ "overflow_size", 1, "CHEWBACCA rain last", "3",
		  "image-000000003 of 3221225472 bytes runs past the end of the file" },
		{ "label_size", 1, "CHEWBACCA Overflow last", "2", "label-000000002 of 65520 bytes runs past" },
		{ "leaf_ptrs_beyond", 0, NULL, "16 17 18 19 20 21 22 23 24", "the reader died of SIGBUS" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int mode = 0; mode <= cases[i].in_process; mode++) {
			struct ts_lmdb_read_opts o = { mode, 0, 0, 0 };
			struct outcome out;
			read_env(cases[i].name, &o, &out);
			CHECKF(out.open_rc == 0, "%s: %s", cases[i].name, out.open_msg);
			if (cases[i].labels)
				CHECKF(!strcmp(out.labels, cases[i].labels), "%s (%s): labels \"%s\", expected \"%s\"",
				       cases[i].name, mode ? "in process" : "child", out.labels, cases[i].labels);
			CHECKF(!strcmp(out.damaged, cases[i].damaged), "%s: damaged records \"%s\", expected \"%s\"",
			       cases[i].name, out.damaged, cases[i].damaged);
			CHECKF(strstr(out.first_msg, cases[i].msg) != NULL, "%s: message \"%s\", expected \"%s\"",
			       cases[i].name, out.first_msg, cases[i].msg);
		}
	}
	/* the reader that keeps dying: the 15 records before the damaged
	 * leaves arrive, then (8 restarts later) the reading stops and says so */
	struct outcome out;
	read_env("leaf_ptrs_beyond", NULL, &out);
	CHECK_EQ_INT(out.good, 15);
	CHECKF(strstr(out.labels, "w00 w01") == out.labels && strstr(out.labels, " w14") != NULL,
	       "labels \"%s\"", out.labels);
	CHECKF(strstr(out.damage, "died too often at record 24; 15 records were read, 9 damaged, records 25..60 not read"),
	       "damage \"%s\"", out.damage);
	/* allowed more restarts, it reads past the damaged leaf */
	struct ts_lmdb_read_opts more = { 0, 0, 0, 100 };
	read_env("leaf_ptrs_beyond", &more, &out);
	CHECKF(out.good > 15 && strstr(out.labels, "w59") && out.damage[0] == 0,
	       "good %d, labels \"%s\", damage \"%s\"", out.good, out.labels, out.damage);
	/* a branch pointing past the file or to itself: liblmdb reports the
	 * records under it, the rest arrive */
	read_env("branch_beyond", NULL, &out);
	CHECKF(out.open_rc == 0 && out.good > 0 && out.good < 60 && strstr(out.labels, "w00") && out.damaged[0],
	       "branch_beyond: rc %d good %d damaged \"%s\"", out.open_rc, out.good, out.damaged);
	read_env("branch_self", NULL, &out);
	CHECKF(out.open_rc == 0 && out.good > 0 && out.good < 60 && out.damaged[0],
	       "branch_self: rc %d good %d damaged \"%s\" %s", out.open_rc, out.good, out.damaged, out.open_msg);
}

/* num-samples 9999999999999999999 on a file of 4 records: 4 are read and
 * the note says why. */
static void num_samples_bound(void)
{
	struct outcome out;
	read_env("num_huge", NULL, &out);
	CHECKF(out.open_rc == 0, "%s", out.open_msg);
	CHECK_EQ_INT(out.bound, 4);
	CHECKF(out.declared == 9999999999999999999ULL, "declared %llu", (unsigned long long)out.declared);
	CHECK_EQ_STR(out.labels, "CHEWBACCA rain Overflow last");
	CHECKF(strstr(out.note, "num-samples says 9999999999999999999 but the last record in the file is 4: reading 4"),
	       "note \"%s\"", out.note);
	read_env("base", NULL, &out);
	CHECKF(out.bound == 4 && out.note[0] == 0, "bound %llu note \"%s\"", (unsigned long long)out.bound, out.note);
}

/* A reader that stops (SIGSTOP: it neither dies nor writes) is killed by
 * the watchdog; its record comes back damaged and the reading ends. */
static void watchdog(void)
{
	char dir[256], k[32];
	struct ts_lmdb *db = NULL;
	struct ts_err e = TS_ERR_INIT;
	static unsigned char val[4000];
	snprintf(dir, sizeof(dir), "%s/big", tmp());
	CHECKF(ts_lmdb_create(&db, dir, 64 << 20, 1, &e) == 0, "%s", e.msg);
	for (int i = 1; i <= 300 && db; i++) {
		memset(val, 'a' + i % 26, sizeof(val));
		CHECK(ts_lmdb_put(db, ts_lmdb_key("image", (uint64_t)i, k, sizeof(k)), val, sizeof(val), &e) == 0);
		CHECK(ts_lmdb_put(db, ts_lmdb_key("label", (uint64_t)i, k, sizeof(k)), "word", 4, &e) == 0);
	}
	if (db) {
		CHECK(ts_lmdb_put(db, "num-samples", "300", 3, &e) == 0);
		CHECK(ts_lmdb_commit(db, &e) == 0);
	}
	ts_lmdb_close(db);

	struct ts_lmdb_read_opts o = { 0, 300, 0, 0 };
	struct ts_lmdb_reader *r = NULL;
	struct ts_lmdb_rec rec;
	CHECKF(ts_lmdb_reader_open(&r, dir, &o, &e) == 0, "%s", e.msg);
	if (!r)
		return;
	pid_t pid = ts_lmdb_reader_pid(r);
	CHECK(pid > 0);
	CHECK(kill(pid, SIGSTOP) == 0);
	int good = 0, damaged = 0;
	char msg[TS_ERR_MSG_MAX] = "";
	while (ts_lmdb_reader_next(r, &rec, &e) == 1) {
		if (rec.damaged) {
			damaged++;
			snprintf(msg, sizeof(msg), "%s", rec.msg);
		} else {
			good++;
		}
	}
	/* the pipe holds what the reader wrote before it stopped: far fewer
	 * than 300 records of 4000 bytes */
	CHECKF(good < 300 && damaged == 1, "good %d damaged %d", good, damaged);
	CHECKF(strstr(msg, "made no progress for 300 ms and was stopped"), "record message \"%s\"", msg);
	CHECKF(ts_lmdb_reader_damage(r) && strstr(ts_lmdb_reader_damage(r), "the reader hung at record"),
	       "damage \"%s\"", ts_lmdb_reader_damage(r) ? ts_lmdb_reader_damage(r) : "(none)");
	CHECK(ts_lmdb_reader_pid(r) == 0);
	ts_lmdb_reader_close(r);
	/* the same file, not stopped: all 300 */
	CHECKF(ts_lmdb_reader_open(&r, dir, &o, &e) == 0, "%s", e.msg);
	good = 0;
	while (r && ts_lmdb_reader_next(r, &rec, &e) == 1)
		good += !rec.damaged && rec.image_len == sizeof(val);
	CHECK_EQ_INT(good, 300);
	ts_lmdb_reader_close(r);
}

/* Reading a file whose reader dies leaves this process's signal handlers
 * as they were (the old guard swapped SIGBUS/SIGSEGV handlers per call). */
static void no_signal_handlers(void)
{
	struct sigaction before[2], after[2];
	struct outcome out;
	sigaction(SIGBUS, NULL, &before[0]);
	sigaction(SIGSEGV, NULL, &before[1]);
	read_env("leaf_ptrs_beyond", NULL, &out);
	sigaction(SIGBUS, NULL, &after[0]);
	sigaction(SIGSEGV, NULL, &after[1]);
	CHECK(out.good == 15);
	CHECK(before[0].sa_handler == after[0].sa_handler && before[1].sa_handler == after[1].sa_handler);
}

/* Where 1 TiB of address space cannot be had (here a 16 GiB ulimit -v,
 * in a child), the default map is halved until it fits, and the
 * environment it writes reads back. Not under a sanitizer, which needs its own huge
 * mappings. */
static void map_fallback(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return;
#else
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/small-as", tmp());
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { (rlim_t)16 << 30, (rlim_t)16 << 30 };
		struct ts_lmdb *db = NULL;
		struct ts_err e = TS_ERR_INIT;
		char k[32];
		if (setrlimit(RLIMIT_AS, &rl) || ts_lmdb_create(&db, dir, 0, 1, &e) ||
		    ts_lmdb_put(db, ts_lmdb_key("label", 1, k, sizeof(k)), "word", 4, &e) ||
		    ts_lmdb_put(db, "num-samples", "1", 1, &e) || ts_lmdb_commit(db, &e))
			_exit(1);
		ts_lmdb_close(db);
		_exit(0);
	}
	int st = -1;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	struct ts_lmdb *db = NULL;
	struct ts_err e = TS_ERR_INIT;
	const void *v = NULL;
	size_t len = 0;
	CHECKF(ts_lmdb_open(&db, dir, &e) == 0, "%s", e.msg);
	CHECK(db && ts_lmdb_get(db, "label-000000001", &v, &len, &e) == 1 && len == 4 && !memcmp(v, "word", 4));
	ts_lmdb_close(db);
#endif
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "crafted_headers", crafted_headers },
		{ "crafted_records", crafted_records },
		{ "num_samples_bound", num_samples_bound },
		{ "watchdog", watchdog },
		{ "no_signal_handlers", no_signal_handlers },
		{ "map_fallback", map_fallback },
		{ NULL, NULL },
	};
	int rc = t_run("lmdb", cases);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp());
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp());
	return rc;
}
