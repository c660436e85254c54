/*
 * lmdb_store.c - read and write LMDB environments (liblmdb; see
 * lmdb_store.h for the key convention).
 *
 * What must always hold:
 * - a reader never writes: environments are opened MDB_RDONLY |
 *   MDB_NOLOCK (datasets often live on read-only media);
 * - every liblmdb error is translated with mdb_strerror() into the
 *   caller's struct ts_err together with the file it concerns;
 * - a writer keeps its values unchanged, byte for byte;
 * - a crafted data.mdb never takes the process down.
 *
 * liblmdb trusts its file: the page size, map size and page numbers of the
 * meta pages, and every page number it finds in a branch page.  So before
 * liblmdb sees a file, ts_lmdb_check reads the two meta pages with pread
 * (no mapping) and checks them against the file's size (magic, version,
 * page size, map size, last page, each tree's root, depth and counts, the
 * main tree's root page header).  What the check cannot see, a damaged
 * page deep in the tree, can still make liblmdb fault, abort or loop; so
 * untrusted environments are read by ts_lmdb_reader in a child process
 * that streams the records back over a pipe.  The parent waits with a
 * watchdog (no byte for stall_ms is a hang), turns a dead or stopped
 * child into a damaged record that says what was delivered, and starts a
 * new child after it.  No signal handler is installed anywhere: the
 * process-wide handlers stay the caller's.
 */
#define _GNU_SOURCE
#include "shards/lmdb_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct ts_lmdb {
	MDB_env *env;
	MDB_txn *txn;          /* the read transaction, or the open write one */
	MDB_dbi dbi;
	int writer;
	char path[4096];       /* DIR/data.mdb, for messages */
};

/* ---- the meta pages -------------------------------------------------------
 *
 * liblmdb 0.9 on a 64-bit host: a page starts with a 16-byte header
 * (pgno u64, pad u16, flags u16, lower u16, upper u16); pages 0 and 1 are
 * meta pages (flags P_META) holding, after the header, MDB_meta: magic
 * u32, version u32, address, mapsize, two MDB_db (free list, main tree:
 * pad/page size u32, flags u16, depth u16, branch, leaf and overflow page
 * counts, entries, root), last page, txnid.  liblmdb uses the meta with
 * the larger txnid.
 */
#define MDB_FILE_MAGIC 0xBEEFC0DEu
#define MDB_FILE_VERSION 1u
#define PG_HDR 16
#define P_BRANCH_F 0x01
#define P_LEAF_F 0x02
#define P_META_F 0x08
#define P_INVALID_PG UINT64_MAX
#define MAX_DEPTH 32               /* liblmdb's cursor stack */

struct meta_db {
	uint32_t pad;
	uint16_t flags, depth;
	uint64_t branch, leaf, overflow, entries, root;
};

struct meta {
	uint16_t page_flags;
	uint32_t magic, version;
	uint64_t mapsize;
	struct meta_db db[2];
	uint64_t last_pg, txnid;
};

static uint16_t rd16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void parse_meta(const unsigned char *pg, struct meta *m)
{
	const unsigned char *p = pg + PG_HDR;
	m->page_flags = rd16(pg + 10);
	m->magic = rd32(p);
	m->version = rd32(p + 4);
	m->mapsize = rd64(p + 16);
	for (int i = 0; i < 2; i++) {
		const unsigned char *d = p + 24 + 48 * i;
		m->db[i].pad = rd32(d);
		m->db[i].flags = rd16(d + 4);
		m->db[i].depth = rd16(d + 6);
		m->db[i].branch = rd64(d + 8);
		m->db[i].leaf = rd64(d + 16);
		m->db[i].overflow = rd64(d + 24);
		m->db[i].entries = rd64(d + 32);
		m->db[i].root = rd64(d + 40);
	}
	m->last_pg = rd64(p + 120);
	m->txnid = rd64(p + 128);
}

static void msgf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

static int bad_file(struct ts_err *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad_file(struct ts_err *err, const char *path, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' is corrupt or not an LMDB file: %s",
			  path, why);
}

static int check_db(const struct meta_db *d, const char *name, uint64_t pages, uint64_t size,
		    const char *path, struct ts_err *err)
{
	if (d->root == P_INVALID_PG) {
		if (d->depth || d->entries || d->branch || d->leaf || d->overflow)
			return bad_file(err, path, "the %s tree is empty but counts %" PRIu64 " entries",
					name, d->entries);
		return 0;
	}
	if (d->root < 2 || d->root >= pages)
		return bad_file(err, path, "the %s tree's root is page %" PRIu64 ", the file has pages 2..%" PRIu64,
				name, d->root, pages - 1);
	if (d->depth < 1 || d->depth > MAX_DEPTH)
		return bad_file(err, path, "the %s tree's depth is %u", name, (unsigned)d->depth);
	if (d->leaf < 1 || d->branch > pages || d->leaf > pages || d->overflow > pages ||
	    d->branch + d->leaf + d->overflow > pages)
		return bad_file(err, path, "the %s tree counts more pages than the file holds (%" PRIu64 ")",
				name, pages);
	if (d->entries > size / 8)
		return bad_file(err, path, "the %s tree counts %" PRIu64 " entries in %" PRIu64 " bytes",
				name, d->entries, size);
	return 0;
}

int ts_lmdb_check(const char *dir, struct ts_lmdb_info *info, struct ts_err *err)
{
	char path[4200];
	unsigned char pg[2][PG_HDR + 136], root[PG_HDR];
	struct meta m[2];
	struct stat st;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, errno == ENOENT ?
				  "'%s' is not an LMDB environment: no data.mdb file" :
				  "cannot open '%s': %s", errno == ENOENT ? dir : path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "'%s' is not a regular file", path);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (size < 2 * 512) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is not an LMDB file: %" PRIu64 " bytes, too short for its meta pages",
				path, size);
		goto out;
	}
	if (pread(fd, pg[0], sizeof(pg[0]), 0) != (ssize_t)sizeof(pg[0])) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	parse_meta(pg[0], &m[0]);
	uint32_t psize = m[0].db[0].pad;
	if (m[0].magic != MDB_FILE_MAGIC || !(m[0].page_flags & P_META_F)) {
		rc = bad_file(err, path, "no LMDB meta page at offset 0");
		goto out;
	}
	if (m[0].version != MDB_FILE_VERSION) {
		rc = bad_file(err, path, "format version %u, this liblmdb reads version %u",
			      m[0].version, MDB_FILE_VERSION);
		goto out;
	}
	if (psize < 512 || psize > 65536 || (psize & (psize - 1))) {
		rc = bad_file(err, path, "page size %u (a power of two from 512 to 65536 was expected)", psize);
		goto out;
	}
	if (size < 2 * (uint64_t)psize) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is truncated: %" PRIu64 " bytes, less than its two meta pages of %u",
				path, size, psize);
		goto out;
	}
	if (pread(fd, pg[1], sizeof(pg[1]), psize) != (ssize_t)sizeof(pg[1])) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	parse_meta(pg[1], &m[1]);
	if (m[1].magic != MDB_FILE_MAGIC || !(m[1].page_flags & P_META_F) ||
	    m[1].version != MDB_FILE_VERSION || m[1].db[0].pad != psize) {
		rc = bad_file(err, path, "the second meta page (offset %u) is damaged", psize);
		goto out;
	}
	/* both metas: liblmdb may use either (the newer one now, the other
	 * after a rollback), so both must describe something inside the file */
	uint64_t pages = size / psize;
	for (int i = 0; i < 2; i++) {
		const struct meta *x = &m[i];
		if (x->last_pg < 1 || x->last_pg >= pages) {
			rc = x->last_pg >= pages ?
				ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					   "'%s' is truncated: %" PRIu64 " bytes, its meta page says %" PRIu64,
					   path, size, (x->last_pg + 1) * (uint64_t)psize) :
				bad_file(err, path, "meta page %d names last page %" PRIu64, i, x->last_pg);
			goto out;
		}
		if (x->mapsize > ((uint64_t)1 << 48)) {
			rc = bad_file(err, path, "map size %" PRIu64 " (more than 256 TiB)", x->mapsize);
			goto out;
		}
		if (x->db[0].flags & ~(uint16_t)0x09) {   /* the free list's MDB_INTEGERKEY, MDB_FIXEDMAP */
			rc = bad_file(err, path, "environment flags 0x%x", (unsigned)x->db[0].flags);
			goto out;
		}
		if (x->db[1].flags) {   /* the convention: plain byte-string keys, one value each */
			rc = bad_file(err, path, "the main tree has flags 0x%x (sorted duplicates or integer keys)",
				      (unsigned)x->db[1].flags);
			goto out;
		}
		uint64_t in = x->last_pg + 1;
		if ((rc = check_db(&x->db[0], "free-page", in, size, path, err)) ||
		    (rc = check_db(&x->db[1], "main", in, size, path, err)))
			goto out;
	}
	const struct meta *cur = &m[m[0].txnid < m[1].txnid];
	if (cur->db[1].root != P_INVALID_PG) {
		if (pread(fd, root, sizeof(root), (off_t)(cur->db[1].root * psize)) != (ssize_t)sizeof(root)) {
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		uint16_t fl = rd16(root + 10), lo = rd16(root + 12), up = rd16(root + 14);
		int want = cur->db[1].depth == 1 ? P_LEAF_F : P_BRANCH_F;
		if (rd64(root) != cur->db[1].root || !(fl & want) || lo < PG_HDR || lo > up || up > psize) {
			rc = bad_file(err, path, "the main tree's root page %" PRIu64 " is damaged", cur->db[1].root);
			goto out;
		}
	}
	if (info) {
		info->file_size = size;
		info->page_size = psize;
		info->last_page = cur->last_pg;
		info->entries = cur->db[1].entries;
		info->map_size = cur->mapsize;
	}
out:
	close(fd);
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
	int rc;

	*out = NULL;
	if (!(db = db_new(dir, err)))
		return TS_ERR_NOMEM;
	if ((rc = ts_lmdb_check(dir, NULL, err)))
		goto fail;
	const unsigned flags = MDB_RDONLY | MDB_NOLOCK | MDB_NORDAHEAD | MDB_NOTLS;
	if (!(rc = mdb_env_create(&db->env)))
		rc = mdb_env_open(db->env, dir, flags, 0444);
	if (rc == ENOMEM) {
		/* no room for the writer's map size (often 1 TiB) in this address
		 * space (a ulimit -v, a sanitizer's reserved ranges): map what the
		 * file holds, which is all a reader needs */
		struct stat st;
		mdb_env_close(db->env);
		db->env = NULL;
		if (stat(db->path, &st) == 0 && st.st_size > 0 && !(rc = mdb_env_create(&db->env)) &&
		    !(rc = mdb_env_set_mapsize(db->env, (size_t)st.st_size)))
			rc = mdb_env_open(db->env, dir, flags, 0444);
	}
	if (rc) {
		rc = lmdb_fail(db, rc, "open", err);
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
	int rc = mdb_get(db->txn, db->dbi, &k, &v);
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
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
		if ((r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, user)))
			break;
	mdb_cursor_close(c);
	if (r)
		return r;
	if (rc != MDB_NOTFOUND)
		return lmdb_fail(db, rc, "read", err);
	return TS_OK;
}

/* ---- the isolated reader --------------------------------------------------
 *
 * The producer is the code that touches the map: it opens the environment,
 * bounds num-samples by the highest record index present, and yields the
 * records from `start` on.  In-process mode calls it directly; otherwise a
 * child runs it and writes frames to a pipe:
 *   HELLO  declared, bound, entries, note length, note
 *   REC    index, flags, label length, image length, label, image
 *   END
 * Every frame starts with a 32-byte header (type, flags, three u64s).
 */
enum { FR_HELLO = 1, FR_REC = 2, FR_END = 3, FR_FAIL = 4 };
#define REC_LABEL 1u
#define REC_IMAGE 2u
#define REC_BIG 4u          /* a value over max_value: lengths only */
#define REC_BAD 8u          /* liblmdb reported the record's page damaged: message as label */

struct frame {
	uint32_t type, flags;
	uint64_t a, b, c;
};

struct producer {
	struct ts_lmdb *db;
	const struct ts_lmdb_read_opts *o;
	struct ts_lmdb_info info;
	const char *map;         /* the mapping, for bounds checks on values */
	uint64_t declared, bound, next, missing;
	char note[TS_ERR_MSG_MAX];
};

/* Highest N of a `kind-N` key (0 when none): the last key below "kind-\xff". */
static int last_index(struct ts_lmdb *db, const char *kind, uint64_t *out)
{
	MDB_cursor *c;
	char hi[32];
	size_t kl = strlen(kind);
	MDB_val k, v;
	int rc;
	*out = 0;
	snprintf(hi, sizeof(hi), "%s-\xff", kind);
	k.mv_size = strlen(hi);
	k.mv_data = hi;
	if ((rc = mdb_cursor_open(db->txn, db->dbi, &c)))
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	rc = rc == MDB_NOTFOUND ? mdb_cursor_get(c, &k, &v, MDB_LAST) :
	     rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : rc;
	if (rc == 0 && k.mv_size > kl + 1 && k.mv_size <= kl + 20 &&
	    !memcmp(k.mv_data, kind, kl) && ((const char *)k.mv_data)[kl] == '-') {
		uint64_t x = 0;
		const char *d = (const char *)k.mv_data + kl + 1;
		size_t i, n = k.mv_size - kl - 1;
		for (i = 0; i < n && d[i] >= '0' && d[i] <= '9' && x <= (UINT64_MAX - 9) / 10; i++)
			x = x * 10 + (uint64_t)(d[i] - '0');
		if (i == n)
			*out = x;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Where liblmdb mapped data.mdb (inode ino) in this process, from
 * /proc/self/maps (liblmdb does not say: mdb_env_info gives the address
 * the meta page asks for); NULL when it cannot be found. */
static const char *find_map(ino_t ino)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4400];
	const char *base = NULL;
	while (f && !base && fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, inode;
		char perms[8], dev[16];
		int n = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %n", &start, &end, perms, &off, dev, &inode, &n) >= 6 &&
		    inode == (unsigned long long)ino && off == 0 && strstr(line + n, "data.mdb"))
			base = (const char *)(uintptr_t)start;
	}
	if (f)
		fclose(f);
	return base;
}

static int producer_open(struct producer *p, const char *dir, const struct ts_lmdb_read_opts *o,
			 uint64_t start, struct ts_err *err)
{
	uint64_t li, ii;
	struct stat st;
	int rc;
	memset(p, 0, sizeof(*p));
	p->o = o;
	if ((rc = ts_lmdb_check(dir, &p->info, err)) || (rc = ts_lmdb_open(&p->db, dir, err)) ||
	    (rc = ts_lmdb_num_samples(p->db, &p->declared, err)))
		return rc;
	if (stat(p->db->path, &st) == 0)
		p->map = find_map(st.st_ino);
	if ((rc = last_index(p->db, "label", &li)) || (rc = last_index(p->db, "image", &ii)))
		return lmdb_fail(p->db, rc, "read", err);
	uint64_t top = li > ii ? li : ii;
	p->bound = p->declared < top ? p->declared : top;
	if (p->declared > top)
		msgf(p->note, sizeof(p->note),
			 "'%s': num-samples says %" PRIu64 " but the last record in the file is %" PRIu64
			 ": reading %" PRIu64, p->db->path, p->declared, top, p->bound);
	p->next = start;
	return TS_OK;
}

/* A value inside the file (not only inside the map: past the file's end
 * the map raises SIGBUS, and write() from there fails with EFAULT). */
static int in_file(const struct producer *p, const MDB_val *v)
{
	const char *d = v->mv_data;
	if (!p->map)
		return 1;   /* not found: in a child, a fault past the end kills only the child */
	return d >= p->map && (uint64_t)(d - p->map) <= p->info.file_size &&
	       v->mv_size <= p->info.file_size - (uint64_t)(d - p->map);
}

/* One value: 1 found (*out set, or *flags |= REC_BIG), 0 absent, <0 damaged
 * (message in err). */
static int produce_value(struct producer *p, const char *kind, uint64_t idx, MDB_val *out,
			 unsigned *flags, struct ts_err *err)
{
	char k[32];
	MDB_val kv, v;
	ts_lmdb_key(kind, idx, k, sizeof(k));
	kv.mv_size = strlen(k);
	kv.mv_data = k;
	int rc = mdb_get(p->db->txn, p->db->dbi, &kv, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc) {
		/* the transaction is unusable after an error: a fresh one for the
		 * next record, whose pages may be fine */
		rc = lmdb_fail(p->db, rc, "read", err);
		mdb_txn_reset(p->db->txn);
		mdb_txn_renew(p->db->txn);
		return rc;
	}
	if (!in_file(p, &v))
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "'%s' is corrupt: %s of %zu bytes runs past the end of the file",
				  p->db->path, k, v.mv_size);
	if (v.mv_size > p->o->max_value)
		*flags |= REC_BIG;
	*out = v;
	return 1;
}

/* Next record: 1 (rec filled; damaged records have REC_BAD and the
 * message in err), 0 at the end. */
static int produce_next(struct producer *p, struct frame *f, MDB_val *lab, MDB_val *img,
			struct ts_err *err)
{
	if (p->next > p->bound)
		return 0;
	memset(f, 0, sizeof(*f));
	memset(lab, 0, sizeof(*lab));
	memset(img, 0, sizeof(*img));
	f->type = FR_REC;
	f->a = p->next++;
	int rl = produce_value(p, "label", f->a, lab, &f->flags, err);
	int ri = rl < 0 ? 0 : produce_value(p, "image", f->a, img, &f->flags, err);
	if (rl < 0 || ri < 0) {
		f->flags = REC_BAD;
		return 1;
	}
	f->flags |= (rl ? REC_LABEL : 0) | (ri ? REC_IMAGE : 0);
	f->b = lab->mv_size;
	f->c = img->mv_size;
	return 1;
}

static void producer_close(struct producer *p)
{
	ts_lmdb_close(p->db);
	p->db = NULL;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int child_fd = -1;

/* liblmdb's assertion hook: say what failed, then liblmdb aborts. */
static void child_assert(MDB_env *env, const char *msg)
{
	struct frame f = { FR_FAIL, 0, strlen(msg), 0, 0 };
	if (child_fd >= 0 && write_all(child_fd, &f, sizeof(f)) == 0)
		write_all(child_fd, msg, f.a);
}

static void child_main(int fd, const char *dir, const struct ts_lmdb_read_opts *o, uint64_t start)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGPIPE };
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct producer p;
	struct ts_err e = TS_ERR_INIT;
	struct frame f;
	MDB_val lab, img;
	int devnull;

	/* die of a fault itself, quietly, and with the parent; a Ctrl-C is the
	 * parent's to handle (it stops reading and closes the reader), so the
	 * child never reports one as damage */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(3);
	if ((devnull = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(devnull, 2);   /* liblmdb prints its assertions; they come back as FR_FAIL */
		close(devnull);
	}
	child_fd = fd;
	if (producer_open(&p, dir, o, start, &e)) {
		f = (struct frame){ FR_FAIL, 0, strlen(e.msg), 0, 0 };
		write_all(fd, &f, sizeof(f));
		write_all(fd, e.msg, f.a);
		_exit(0);
	}
	mdb_env_set_assert(p.db->env, child_assert);
	f = (struct frame){ FR_HELLO, 0, p.declared, p.bound, strlen(p.note) };
	if (write_all(fd, &f, sizeof(f)) || write_all(fd, p.note, f.c))
		_exit(1);
	for (;;) {
		e = (struct ts_err)TS_ERR_INIT;
		if (!produce_next(&p, &f, &lab, &img, &e))
			break;
		if (f.flags & REC_BAD) {
			f.b = strlen(e.msg);
			if (write_all(fd, &f, sizeof(f)) || write_all(fd, e.msg, f.b))
				_exit(1);
			continue;
		}
		if (write_all(fd, &f, sizeof(f)))
			_exit(1);
		if (!(f.flags & REC_BIG) &&
		    (write_all(fd, lab.mv_data, lab.mv_size) || write_all(fd, img.mv_data, img.mv_size)))
			_exit(1);
	}
	f = (struct frame){ FR_END, 0, 0, 0, 0 };
	write_all(fd, &f, sizeof(f));
	_exit(0);
}

struct ts_lmdb_reader {
	struct ts_lmdb_read_opts o;
	char dir[4096], path[4200];
	struct producer prod;       /* in-process mode */
	pid_t pid;                  /* the child, or 0 */
	int fd;
	uint64_t declared, bound;
	uint64_t next;              /* the index the next record should have */
	uint64_t good;              /* records handed to the caller undamaged */
	unsigned damaged;           /* records handed to the caller damaged */
	unsigned restarts;
	int done;
	char note[TS_ERR_MSG_MAX], damage[TS_ERR_MSG_MAX];
	unsigned char *lab, *img;
	size_t lab_cap, img_cap;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read n bytes from the child: 0, 1 when the child closed the pipe
 * first, 2 when no byte came for stall_ms. */
static int read_child(struct ts_lmdb_reader *r, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		struct pollfd pf = { r->fd, POLLIN, 0 };
		int64_t t0 = now_ms();
		int pr = poll(&pf, 1, (int)r->o.stall_ms);
		if (pr < 0 && errno == EINTR) {
			if (now_ms() - t0 >= r->o.stall_ms)
				return 2;
			continue;
		}
		if (pr == 0)
			return 2;
		ssize_t got = read(r->fd, p, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Stop and reap the child; what it died of into why (may be NULL). */
static void child_stop(struct ts_lmdb_reader *r, int kill_it, char *why, size_t n)
{
	int st = 0;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->pid <= 0)
		return;
	if (kill_it)
		kill(r->pid, SIGKILL);
	while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (why) {
		if (WIFSIGNALED(st) && !kill_it)
			snprintf(why, n, "the reader died of SIG%s (%s)",
				 sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?", strsignal(WTERMSIG(st)));
		else if (WIFEXITED(st) && !kill_it)
			snprintf(why, n, "the reader exited with status %d", WEXITSTATUS(st));
		else
			snprintf(why, n, "the reader was stopped");
	}
	r->pid = 0;
}

static int child_start(struct ts_lmdb_reader *r, uint64_t start, struct ts_err *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': pipe: %s", r->path, strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': fork: %s", r->path, strerror(errno));
	}
	if (pid == 0) {
		close(p[0]);
		child_main(p[1], r->dir, &r->o, start);
	}
	close(p[1]);
	r->pid = pid;
	r->fd = p[0];
	return 0;
}

static int grow(unsigned char **buf, size_t *cap, uint64_t n)
{
	if (n + 1 <= *cap)
		return 0;
	unsigned char *nb = realloc(*buf, (size_t)n + 1);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = (size_t)n + 1;
	return 0;
}

/* The child's failure message (FR_FAIL payload), bounded. */
static void read_fail(struct ts_lmdb_reader *r, const struct frame *f, char *msg, size_t n)
{
	size_t want = f->a < n - 1 ? (size_t)f->a : n - 1;
	if (read_child(r, msg, want))
		want = 0;
	msg[want] = '\0';
}

int ts_lmdb_reader_open(struct ts_lmdb_reader **out, const char *dir,
			const struct ts_lmdb_read_opts *o, struct ts_err *err)
{
	struct ts_lmdb_reader *r;
	struct frame f;
	int rc;

	*out = NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (o)
		r->o = *o;
	if (!r->o.stall_ms)
		r->o.stall_ms = 30000;
	if (!r->o.max_value)
		r->o.max_value = (uint64_t)256 << 20;
	if (!r->o.max_restarts)
		r->o.max_restarts = 8;
	r->fd = -1;
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(r->path, sizeof(r->path), "%s/data.mdb", dir);
	r->next = 1;
	/* the meta pages first, in this process: most damage is caught here
	 * with a precise message, and nothing is mapped */
	if ((rc = ts_lmdb_check(dir, NULL, err)))
		goto fail;
	if (r->o.in_process) {
		if ((rc = producer_open(&r->prod, dir, &r->o, 1, err)))
			goto fail;
		r->declared = r->prod.declared;
		r->bound = r->prod.bound;
		snprintf(r->note, sizeof(r->note), "%s", r->prod.note);
		*out = r;
		return TS_OK;
	}
	if ((rc = child_start(r, 1, err)))
		goto fail;
	int got = read_child(r, &f, sizeof(f));
	if (got == 0 && f.type == FR_FAIL) {
		char msg[TS_ERR_MSG_MAX];
		read_fail(r, &f, msg, sizeof(msg));
		child_stop(r, 1, NULL, 0);
		/* the producer's own message (no num-samples key, a liblmdb error) */
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "%s", msg);
		goto fail;
	}
	if (got || f.type != FR_HELLO || f.c >= sizeof(r->note) || read_child(r, r->note, (size_t)f.c)) {
		char why[128];
		child_stop(r, got == 2, why, sizeof(why));
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				"'%s' is corrupt: %s while opening it%s", r->path, why,
				got == 2 ? " (no progress)" : "");
		goto fail;
	}
	r->note[f.c] = '\0';
	r->declared = f.a;
	r->bound = f.b;
	*out = r;
	return TS_OK;
fail:
	ts_lmdb_reader_close(r);
	return rc;
}

void ts_lmdb_reader_counts(const struct ts_lmdb_reader *r, uint64_t *declared, uint64_t *bound)
{
	*declared = r->declared;
	*bound = r->bound;
}

const char *ts_lmdb_reader_note(const struct ts_lmdb_reader *r)
{
	return r->note[0] ? r->note : NULL;
}

const char *ts_lmdb_reader_damage(const struct ts_lmdb_reader *r)
{
	return r->damage[0] ? r->damage : NULL;
}

pid_t ts_lmdb_reader_pid(const struct ts_lmdb_reader *r)
{
	return r->pid;
}

static void rec_damaged(struct ts_lmdb_rec *rec, uint64_t idx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void rec_damaged(struct ts_lmdb_rec *rec, uint64_t idx, const char *fmt, ...)
{
	va_list ap;
	memset(rec, 0, sizeof(*rec));
	rec->index = idx;
	rec->damaged = 1;
	va_start(ap, fmt);
	vsnprintf(rec->msg, sizeof(rec->msg), fmt, ap);
	va_end(ap);
}

/* Fill rec from a frame whose payload comes from src (child) or lab/img. */
static int take_record(struct ts_lmdb_reader *r, const struct frame *f, const MDB_val *lab,
		       const MDB_val *img, struct ts_lmdb_rec *rec, struct ts_err *err)
{
	memset(rec, 0, sizeof(*rec));
	rec->index = f->a;
	if (f->flags & REC_BAD) {
		rec->damaged = 1;
		if (lab)
			snprintf(rec->msg, sizeof(rec->msg), "%.*s", (int)lab->mv_size, (const char *)lab->mv_data);
		else
			read_fail(r, &(struct frame){ FR_FAIL, 0, f->b, 0, 0 }, rec->msg, sizeof(rec->msg));
		return 0;
	}
	if (f->flags & REC_BIG) {
		rec->too_large = 1;
		rec->label_len = (size_t)f->b;
		rec->image_len = (size_t)f->c;
		return 0;
	}
	if (f->b > r->o.max_value || f->c > r->o.max_value)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "'%s': the reader sent a value over the cap", r->path);
	if (grow(&r->lab, &r->lab_cap, f->b) || grow(&r->img, &r->img_cap, f->c))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if (lab) {
		memcpy(r->lab, lab->mv_data, (size_t)f->b);
		memcpy(r->img, img->mv_data, (size_t)f->c);
	} else {
		int got = read_child(r, r->lab, (size_t)f->b);
		if (!got)
			got = read_child(r, r->img, (size_t)f->c);
		if (got)
			return got;      /* the caller treats the record as lost */
	}
	r->lab[f->b] = r->img[f->c] = 0;
	rec->has_label = !!(f->flags & REC_LABEL);
	rec->has_image = !!(f->flags & REC_IMAGE);
	rec->label = r->lab;
	rec->label_len = (size_t)f->b;
	rec->image = r->img;
	rec->image_len = (size_t)f->c;
	return 0;
}

int ts_lmdb_reader_next(struct ts_lmdb_reader *r, struct ts_lmdb_rec *rec, struct ts_err *err)
{
	struct frame f;
	int rc;

	if (r->done)
		return 0;
	if (r->o.in_process) {
		MDB_val lab, img;
		struct ts_err e = TS_ERR_INIT;
		if (!produce_next(&r->prod, &f, &lab, &img, &e)) {
			r->done = 1;
			return 0;
		}
		if (f.flags & REC_BAD) {
			lab.mv_data = e.msg;
			lab.mv_size = strlen(e.msg);
		}
		if ((rc = take_record(r, &f, &lab, &img, rec, err)))
			return rc;
		r->next = f.a + 1;
		r->good += !rec->damaged;
		r->damaged += rec->damaged;
		return 1;
	}
	for (;;) {
		char why[160] = "";
		int got;
		if (r->pid == 0) {                  /* after a damaged record: a new reader */
			if (r->next > r->bound) {
				r->done = 1;
				return 0;
			}
			if ((rc = child_start(r, r->next, err)))
				return rc;
			got = read_child(r, &f, sizeof(f));
			if (got == 0 && f.type == FR_HELLO && f.c < sizeof(why) && read_child(r, why, (size_t)f.c) == 0)
				continue;
			/* it opened the first time: now it cannot, so stop here */
			child_stop(r, got == 2, why, sizeof(why));
			msgf(r->damage, sizeof(r->damage),
			     "'%s' is corrupt: %s reopening it at record %" PRIu64 "; %" PRIu64
			     " records were read, %u damaged, records %" PRIu64 "..%" PRIu64 " not read",
			     r->path, why, r->next, r->good, r->damaged, r->next, r->bound);
			r->done = 1;
			return 0;
		}
		got = read_child(r, &f, sizeof(f));
		if (got == 0 && f.type == FR_END) {
			child_stop(r, 0, NULL, 0);
			r->done = 1;
			return 0;
		}
		if (got == 0 && f.type == FR_REC && f.a == r->next) {
			got = take_record(r, &f, NULL, NULL, rec, err);
			if (got < 0)
				return got;
			if (got == 0) {
				r->next = f.a + 1;
				r->good += !rec->damaged;
				r->damaged += rec->damaged;
				return 1;
			}
		}
		/* the child died, hung, failed an assertion or sent nonsense
		 * while reading record r->next */
		uint64_t bad = r->next;
		char amsg[TS_ERR_MSG_MAX] = "";
		if (got == 0 && f.type == FR_FAIL)
			read_fail(r, &f, amsg, sizeof(amsg));
		child_stop(r, got != 1 || amsg[0], why, sizeof(why));
		if (got == 2)
			snprintf(why, sizeof(why), "the reader made no progress for %u ms and was stopped",
				 r->o.stall_ms);
		rec_damaged(rec, bad, "'%s' is corrupt: %s reading record %" PRIu64 "%s%s", r->path,
			    amsg[0] ? "liblmdb failed an assertion" : why, bad, amsg[0] ? ": " : "", amsg);
		r->next = bad + 1;
		r->damaged++;
		if (got == 2 || ++r->restarts > r->o.max_restarts) {
			msgf(r->damage, sizeof(r->damage),
			     "'%s' is corrupt: %s at record %" PRIu64 "; %" PRIu64 " records were read, %u damaged%s",
			     r->path, got == 2 ? "the reader hung" : "the reader died too often", bad, r->good,
			     r->damaged, "");
			if (bad < r->bound) {
				size_t l = strlen(r->damage);
				msgf(r->damage + l, sizeof(r->damage) - l, ", records %" PRIu64 "..%" PRIu64 " not read",
				     bad + 1, r->bound);
			}
			r->done = 1;
		}
		return 1;
	}
}

void ts_lmdb_reader_close(struct ts_lmdb_reader *r)
{
	if (!r)
		return;
	child_stop(r, 1, NULL, 0);
	producer_close(&r->prod);
	free(r->lab);
	free(r->img);
	free(r);
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
	/* The default map is 1 TiB of address space, not of memory.  Where no
	 * such hole is left (ThreadSanitizer's smaller address space with
	 * worker stacks in it, a ulimit -v) mmap fails with ENOMEM: halve it,
	 * down to 1 GiB, rather than fail.  Only then does the meta page's map
	 * size (and so data.mdb's bytes) differ. */
	for (uint64_t size = map_size ? map_size : (uint64_t)1 << 40;; size /= 2) {
		if ((rc = mdb_env_create(&db->env)) ||
		    (rc = mdb_env_set_mapsize(db->env, (size_t)size)) ||
		    (rc = mdb_env_open(db->env, dir, MDB_NOTLS, 0644))) {
			if (rc == ENOMEM && !map_size && size > ((uint64_t)1 << 30) && db->env) {
				mdb_env_close(db->env);
				db->env = NULL;
				continue;
			}
			rc = lmdb_fail(db, rc, "create", err);
			goto fail;
		}
		break;
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
