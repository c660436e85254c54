/*
 * lmdb_store.c - read and write LMDB environments (liblmdb; see
 * lmdb_store.h for the key convention).
 *
 * What must always hold:
 * - a reader never writes: environments are opened MDB_RDONLY |
 *   MDB_NOLOCK (datasets often live on read-only media), and before any
 *   page is touched data.mdb is checked to be at least as long as its
 *   meta page says, so a cut file gives an error instead of SIGBUS;
 * - every liblmdb error is translated with mdb_strerror() into the
 *   caller's struct ts_err together with the file it concerns;
 * - a writer keeps its values unchanged, byte for byte.
 *
 * liblmdb trusts the page numbers it finds in branch pages: a damaged page
 * can send it past the end of the file, where the mapping raises SIGBUS.
 * Every read of a map is therefore guarded: while liblmdb walks the tree
 * a SIGBUS/SIGSEGV handler jumps back with "is corrupt", and every page of
 * every key and value returned is touched under the same guard (a damaged
 * overflow page can claim a value longer than the file).  The guard is per thread and
 * restores the previous handlers after each call.
 */
#include "lmdb_store.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ts_lmdb {
	MDB_env *env;
	MDB_txn *txn;          /* the read transaction, or the open write one */
	MDB_dbi dbi;
	int writer;
	char path[4096];       /* DIR/data.mdb, for messages */
};

static __thread sigjmp_buf *fault_jmp;

static void on_fault(int sig)
{
	if (fault_jmp)
		siglongjmp(*fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

struct guard {
	struct sigaction old_bus, old_segv;
};

static void guard_on(struct guard *g)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, &g->old_bus);
	sigaction(SIGSEGV, &sa, &g->old_segv);
}

static void guard_off(struct guard *g)
{
	fault_jmp = NULL;
	sigaction(SIGBUS, &g->old_bus, NULL);
	sigaction(SIGSEGV, &g->old_segv, NULL);
}

/* Read one byte of every page of p[0..n). */
static void touch(const void *p, size_t n)
{
	const volatile unsigned char *c = p;
	unsigned char sink = 0;
	for (size_t i = 0; i < n; i += 4096)
		sink ^= c[i];
	if (n)
		sink ^= c[n - 1];
	(void)sink;
}

/* mdb_get / mdb_cursor_get under the guard; MDB_CORRUPTED on a fault. */
static int guarded_get(struct ts_lmdb *db, MDB_cursor *cur, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
	struct guard g;
	sigjmp_buf jb;
	volatile int rc = MDB_PAGE_NOTFOUND;   /* a fault: a page outside the file */
	guard_on(&g);
	if (sigsetjmp(jb, 1) == 0) {
		fault_jmp = &jb;
		int r = cur ? mdb_cursor_get(cur, k, v, op) : mdb_get(db->txn, db->dbi, k, v);
		if (r == 0) {
			touch(k->mv_data, k->mv_size);
			touch(v->mv_data, v->mv_size);
		}
		rc = r;   /* only once everything was read without a fault */
	}
	guard_off(&g);
	return rc;
}

int ts_lmdb_is_env(const char *dir)
{
	char p[4200];
	struct stat st;
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

char *ts_lmdb_key(const char *kind, uint64_t index, char *buf, size_t n)
{
	snprintf(buf, n, "%s-%09" PRIu64, kind, index);
	return buf;
}

static int lmdb_fail(struct ts_lmdb *db, int rc, const char *what, struct ts_err *err)
{
	int st = rc == ENOMEM ? TS_ERR_NOMEM :
		 rc == MDB_MAP_FULL ? TS_ERR_LIMIT :
		 (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ||
		  rc == MDB_VERSION_MISMATCH || rc == MDB_BAD_TXN) ? TS_ERR_INVALID : TS_ERR_IO;
	if (st == TS_ERR_INVALID)
		return ts_err_set(err, st, TS_R_NONE, "'%s' is corrupt or not an LMDB file (%s): %s",
				  db->path, what, mdb_strerror(rc));
	return ts_err_set(err, st, TS_R_NONE, "cannot %s '%s': %s", what, db->path, mdb_strerror(rc));
}

static struct ts_lmdb *db_new(const char *dir, struct ts_err *err)
{
	struct ts_lmdb *db = calloc(1, sizeof(*db));
	if (!db) {
		ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		return NULL;
	}
	snprintf(db->path, sizeof(db->path), "%s/data.mdb", dir);
	return db;
}

int ts_lmdb_open(struct ts_lmdb **out, const char *dir, struct ts_err *err)
{
	struct ts_lmdb *db;
	MDB_envinfo info;
	MDB_stat mst;
	struct stat st;
	int rc;

	*out = NULL;
	if (!(db = db_new(dir, err)))
		return TS_ERR_NOMEM;
	if (stat(db->path, &st) || !S_ISREG(st.st_mode)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "'%s' is not an LMDB environment: no data.mdb file",
				dir);
		goto fail;
	}
	if (st.st_size < 8192) {   /* two meta pages of at least 4 KiB */
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is not an LMDB file: %lld bytes, too short for its meta pages",
				db->path, (long long)st.st_size);
		goto fail;
	}
	if ((rc = mdb_env_create(&db->env)) ||
	    (rc = mdb_env_open(db->env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NORDAHEAD | MDB_NOTLS, 0444))) {
		rc = lmdb_fail(db, rc, "open", err);
		goto fail;
	}
	if ((rc = mdb_env_info(db->env, &info)) || (rc = mdb_env_stat(db->env, &mst))) {
		rc = lmdb_fail(db, rc, "read the header of", err);
		goto fail;
	}
	if ((uint64_t)(info.me_last_pgno + 1) * mst.ms_psize > (uint64_t)st.st_size) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is truncated: %" PRIu64 " bytes, its meta page says %" PRIu64,
				db->path, (uint64_t)st.st_size,
				(uint64_t)(info.me_last_pgno + 1) * mst.ms_psize);
		goto fail;
	}
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &db->txn))) {
		rc = lmdb_fail(db, rc, "begin a read transaction on", err);
		goto fail;
	}
	if ((rc = mdb_dbi_open(db->txn, NULL, 0, &db->dbi))) {
		rc = lmdb_fail(db, rc, "open the main database of", err);
		goto fail;
	}
	*out = db;
	return TS_OK;
fail:
	ts_lmdb_close(db);
	return rc;
}

int ts_lmdb_get(struct ts_lmdb *db, const char *key, const void **val, size_t *len,
		struct ts_err *err)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc = guarded_get(db, NULL, &k, &v, MDB_SET);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return lmdb_fail(db, rc, "read", err);
	*val = v.mv_data;
	*len = v.mv_size;
	return 1;
}

int ts_lmdb_num_samples(struct ts_lmdb *db, uint64_t *n, struct ts_err *err)
{
	const void *v;
	size_t len;
	uint64_t x = 0;
	int rc = ts_lmdb_get(db, "num-samples", &v, &len, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' has no num-samples key", db->path);
	const char *s = v;
	if (len == 0 || len > 19)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*n = x;
	return TS_OK;
bad:
	return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
			  "'%s': num-samples is not a decimal number (%zu bytes)", db->path, len);
}

int ts_lmdb_foreach(struct ts_lmdb *db,
		    int (*fn)(const void *key, size_t klen, const void *val, size_t vlen, void *user),
		    void *user, struct ts_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(db->txn, db->dbi, &c), r = 0;
	if (rc)
		return lmdb_fail(db, rc, "read", err);
	while ((rc = guarded_get(db, c, &k, &v, MDB_NEXT)) == 0)
		if ((r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, user)))
			break;
	mdb_cursor_close(c);
	if (r)
		return r;
	if (rc != MDB_NOTFOUND)
		return lmdb_fail(db, rc, "read", err);
	return TS_OK;
}

static int mkdirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++)
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0755) && errno != EEXIST)
				return -1;
			buf[i] = c;
		}
	return 0;
}

int ts_lmdb_create(struct ts_lmdb **out, const char *dir, uint64_t map_size, int overwrite,
		   struct ts_err *err)
{
	struct ts_lmdb *db;
	char lock[4200];
	int rc;

	*out = NULL;
	if (!(db = db_new(dir, err)))
		return TS_ERR_NOMEM;
	db->writer = 1;
	if (mkdirs(dir)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot create '%s': %s", dir, strerror(errno));
		goto fail;
	}
	if (ts_lmdb_is_env(dir)) {
		if (!overwrite) {
			rc = ts_err_set(err, TS_ERR_EXISTS, TS_R_NONE,
					"'%s' already exists; use another output or --overwrite", db->path);
			goto fail;
		}
		snprintf(lock, sizeof(lock), "%s/lock.mdb", dir);
		if (unlink(db->path) || (unlink(lock) && errno != ENOENT)) {
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot remove '%s': %s", db->path,
					strerror(errno));
			goto fail;
		}
	}
	if ((rc = mdb_env_create(&db->env)) ||
	    (rc = mdb_env_set_mapsize(db->env, map_size ? map_size : (size_t)1 << 40)) ||
	    (rc = mdb_env_open(db->env, dir, MDB_NOTLS, 0644))) {
		rc = lmdb_fail(db, rc, "create", err);
		goto fail;
	}
	*out = db;
	return TS_OK;
fail:
	ts_lmdb_close(db);
	return rc;
}

int ts_lmdb_put(struct ts_lmdb *db, const char *key, const void *val, size_t len,
		struct ts_err *err)
{
	MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)val };
	int rc;
	if (!db->writer)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "'%s' is open read-only", db->path);
	if (!db->txn) {
		if ((rc = mdb_txn_begin(db->env, NULL, 0, &db->txn)))
			return lmdb_fail(db, rc, "write", err);
		if ((rc = mdb_dbi_open(db->txn, NULL, 0, &db->dbi))) {
			mdb_txn_abort(db->txn);
			db->txn = NULL;
			return lmdb_fail(db, rc, "write", err);
		}
	}
	if ((rc = mdb_put(db->txn, db->dbi, &k, &v, 0))) {
		mdb_txn_abort(db->txn);
		db->txn = NULL;
		return lmdb_fail(db, rc, "write", err);
	}
	return TS_OK;
}

int ts_lmdb_commit(struct ts_lmdb *db, struct ts_err *err)
{
	int rc;
	if (!db->writer || !db->txn)
		return TS_OK;
	rc = mdb_txn_commit(db->txn);
	db->txn = NULL;
	if (rc)
		return lmdb_fail(db, rc, "commit to", err);
	return TS_OK;
}

void ts_lmdb_close(struct ts_lmdb *db)
{
	if (!db)
		return;
	if (db->txn)
		mdb_txn_abort(db->txn);
	if (db->env)
		mdb_env_close(db->env);
	free(db);
}
