/*
 * catalog.c - the SQLite catalog (schema in shards.h and docs/formats.md).
 *
 * Written by one thread.  WAL journal while open (DELETE again at close, so
 * a finished catalog is one self-contained file), synchronous=NORMAL, schema version 6
 * in PRAGMA user_version (version 1 to 5 catalogs are upgraded in place:
 * version 2 added the samples' caption columns, version 3 the image path
 * and extra metadata of samples and rejects, version 4 the source format
 * and what decoding fixed, version 5 the path that made each composite,
 * compositions.path, version 6 where each source's caption sits in a
 * composite's caption, compositions.join_spans); a file with a newer version, or a
 * non-empty database without one, is refused rather than touched.  Every statement
 * is prepared once at open and kept in the struct.  A shard, its samples,
 * members and rejects go in one transaction, so after a crash the catalog
 * holds a shard with all of its rows or none of them (ts_catalog_resume
 * drops anything past the last complete prefix).  Times are ISO-8601 UTC
 * ("2024-05-01T12:34:56Z").  Besides the documented tables the schema has
 * indexes on samples(shard), members(shard) and rejects(record), which the
 * resume deletes and record-ordered readers use.  The first two are made
 * after the bulk load, by ts_catalog_create_indexes() at the end of a run
 * (one sorted pass instead of an index insert per row); a catalog that a
 * kill left without them resumes the same way (the resume's deletes scan
 * instead of seeking), and one that has them keeps them up to date.
 * The connection is used by one thread at a time (SQLITE_OPEN_NOMUTEX).
 */
#include "shards/shards.h"

#include "base/ts_io.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CATALOG_VERSION 6

/* Version 2: the tags table (created by the upgrade from version 1 too). */
#define TAGS_SQL \
	"create table if not exists tags(key text, shard integer, caption integer, idx integer," \
	" lemma text, text text, char_start integer, char_end integer," \
	" byte_start integer, byte_end integer, tok_start integer, tok_end integer," \
	" truncated integer, region integer, primary key(key, caption, idx));\n" \
	"create index if not exists tags_shard on tags(shard);\n" \
	"create index if not exists tags_lemma on tags(lemma);\n" \
	"create table if not exists tag_scores(key text, shard integer, tag text, score real, mask text," \
	" primary key(key, tag));\n" \
	"create index if not exists tag_scores_shard on tag_scores(shard);\n" \
	"create table if not exists compositions(key text primary key, shard integer, mode text, sources text," \
	" regions text, epoch integer, seed integer, path text, join_spans text);\n" \
	"create index if not exists compositions_shard on compositions(shard);\n"

static const char schema_sql[] =
	"create table meta(name text primary key, value text);\n"
	"create table runs(id integer primary key, command text, version text,"
	" options text, started text, ended text, status text, summary text);\n"
	"create table shards(idx integer primary key, name text unique,"
	" samples integer, bytes integer, hash text, complete integer,"
	" first_record integer, end_record integer, md5 text);\n"
	"create table samples(key text primary key, record integer unique,"
	" shard integer, width integer, height integer, orig_width integer,"
	" orig_height integer, format text, content_hash text, image_hash text,"
	" source text, caption text, captions text, tokens integer,"
	" short_caption text, short_tokens integer, split_rule text,"
	" split_fallback text, path text, meta text, source_format text, fixes text);\n"
	"create table members(key text, shard integer, name text,"
	" offset integer, size integer, hash text, primary key(key, name));\n"
	"create table rejects(record integer, source text, stage text,"
	" reason text, message text, path text, detail text);\n"
	"create index rejects_record on rejects(record);\n"
	TAGS_SQL;

enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_META_GET, Q_META_SET,
	Q_RUN_BEGIN, Q_RUN_END,
	Q_SHARD, Q_SAMPLE, Q_MEMBER, Q_REJECT,
	Q_SHARD_LIST,
	Q_INTENT, Q_DROPPED,
	Q_DEL_SHARDS, Q_DEL_SAMPLES, Q_DEL_MEMBERS, Q_DEL_REJECTS, Q_TAG, Q_DEL_TAGS, Q_SCORE, Q_DEL_SCORES, Q_COMP, Q_DEL_COMPS,
	Q_DEL_REJECT_ONE, Q_MEMBER3,
	Q_SAMPLES, Q_MEMBERS,       /* GROUP_ROWS samples, their 3 * GROUP_ROWS members */
	Q__COUNT
};

/* Samples inserted GROUP_ROWS to a statement (ts_catalog_stream_samples):
 * the same rows in the same order as one statement each, with the cursors
 * on the table and its indexes opened once per group. */
#define GROUP_ROWS 8
#define SAMPLE_COLS 22
#define MEMBER_COLS 6

/* the column lists of the row inserts, one and grouped */
#define SAMPLE_INSERT "insert into samples(key, record, shard, width, height," \
	" orig_width, orig_height, format, content_hash, image_hash," \
	" source, caption, captions, tokens, short_caption, short_tokens," \
	" split_rule, split_fallback, path, meta, source_format, fixes)"
#define MEMBER_INSERT "insert into members(key, shard, name, offset, size, hash)"

static const char *const stmt_sql[Q__COUNT] = {
	[Q_BEGIN] = "begin immediate",
	[Q_COMMIT] = "commit",
	[Q_ROLLBACK] = "rollback",
	[Q_META_GET] = "select value from meta where name = ?1",
	[Q_META_SET] = "insert into meta(name, value) values(?1, ?2)"
		       " on conflict(name) do update set value = excluded.value",
	[Q_RUN_BEGIN] = "insert into runs(command, version, options, started, status)"
			" values(?1, ?2, ?3, ?4, 'running')",
	[Q_RUN_END] = "update runs set ended = ?2, status = ?3, summary = ?4 where id = ?1",
	[Q_SHARD] = "insert or replace into shards(idx, name, samples, bytes, hash,"
		    " complete, first_record, end_record, md5) values(?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8)",
	[Q_SAMPLE] = SAMPLE_INSERT " values(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
		     " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
	[Q_MEMBER] = MEMBER_INSERT " values(?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_REJECT] = "insert into rejects(record, source, stage, reason, message, path, detail)"
		     " values(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_SHARD_LIST] = "select idx, complete, end_record from shards order by idx",
	[Q_INTENT] = "insert or replace into shards(idx, name, samples, bytes, hash, complete,"
		     " first_record, end_record) values(?1, ?2, 0, 0, null, 0, null, null)",
	[Q_DROPPED] = "select name from shards where idx >= ?1 order by idx",
	[Q_DEL_SHARDS] = "delete from shards where idx >= ?1",
	[Q_DEL_SAMPLES] = "delete from samples where shard >= ?1",
	[Q_DEL_MEMBERS] = "delete from members where shard >= ?1",
	[Q_DEL_REJECTS] = "delete from rejects where record >= ?1",
	[Q_TAG] = "insert into tags(key, shard, caption, idx, lemma, text, char_start, char_end,"
		  " byte_start, byte_end, tok_start, tok_end, truncated, region)"
		  " values(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[Q_DEL_TAGS] = "delete from tags where shard >= ?1",
	[Q_SCORE] = "insert into tag_scores(key, shard, tag, score, mask) values(?1, ?2, ?3, ?4, ?5)",
	[Q_DEL_SCORES] = "delete from tag_scores where shard >= ?1",
	[Q_COMP] = "insert into compositions(key, shard, mode, sources, regions, epoch, seed, path, join_spans)"
		   " values(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[Q_DEL_COMPS] = "delete from compositions where shard >= ?1",
	[Q_DEL_REJECT_ONE] = "delete from rejects where record = ?1",
	/* three members in one statement (an image, KEY.txt, KEY.json): the
	 * same rows in the same order, a third of the statement overhead */
	[Q_MEMBER3] = MEMBER_INSERT " values(?1, ?2, ?3, ?4, ?5, ?6), (?1, ?2, ?7, ?8, ?9, ?10),"
		      " (?1, ?2, ?11, ?12, ?13, ?14)",
	/* Q_SAMPLES and Q_MEMBERS: made by group_sql() */
};

/* "HEAD values(?, ...), (...), ..." with rows rows of cols parameters. */
static const char *group_sql(char *buf, size_t n, const char *head, int cols, int rows)
{
	size_t k = (size_t)snprintf(buf, n, "%s values", head);
	for (int r = 0; r < rows && k < n; r++)
		for (int c = 0; c < cols && k < n; c++)
			k += (size_t)snprintf(buf + k, n - k, "%s?%s", c ? "" : r ? ", (" : "(",
					      c == cols - 1 ? ")" : ", ");
	return k < n ? buf : NULL;
}

/* SQLite's default: a commit that leaves this many pages in the
 * write-ahead log checkpoints it */
#define WAL_AUTOCHECKPOINT 1000

struct ts_catalog {
	sqlite3 *db;
	sqlite3_stmt *q[Q__COUNT];
	int wal_frames;            /* pages in the log after the last commit (deferred checkpoints) */
	char path[PATH_MAX];
};

static int sqlite_status(int code)
{
	switch (code & 0xff) {
	case SQLITE_NOMEM: return TS_ERR_NOMEM;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
	case SQLITE_FORMAT: return TS_ERR_INVALID;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISUSE:
	case SQLITE_ERROR:
	case SQLITE_RANGE: return TS_ERR_INTERNAL;
	default: return TS_ERR_IO;   /* IOERR, FULL, CANTOPEN, BUSY, READONLY, ... */
	}
}

/* "cannot WHAT 'PATH': sqlite3_errmsg" with a status from the error code. */
static int db_err(struct ts_catalog *cat, struct ts_err *err, const char *what)
{
	return ts_err_set(err, sqlite_status(sqlite3_extended_errcode(cat->db)), TS_R_NONE,
			  "cannot %s '%s': %s", what, cat->path, sqlite3_errmsg(cat->db));
}

static void now_iso(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int bind_text(sqlite3_stmt *q, int i, const char *s)
{
	return s ? sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(q, i);
}

/* Values above INT64_MAX do not fit an SQLite integer; callers check with
 * fits_i64() first, so the cast here never wraps. */
static int bind_u64(sqlite3_stmt *q, int i, uint64_t v)
{
	return sqlite3_bind_int64(q, i, (sqlite3_int64)v);
}

static int fits_i64(uint64_t v)
{
	return v <= (uint64_t)INT64_MAX;
}

/* Step a write statement to completion and reset it. */
static int run(struct ts_catalog *cat, sqlite3_stmt *q, struct ts_err *err, const char *what)
{
	int r = sqlite3_step(q);
	int rc = r == SQLITE_DONE ? TS_OK : db_err(cat, err, what);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

static int tx_begin(struct ts_catalog *cat, struct ts_err *err)
{
	return run(cat, cat->q[Q_BEGIN], err, "begin a transaction in");
}

static int tx_end(struct ts_catalog *cat, int rc, struct ts_err *err)
{
	if (rc == TS_OK)
		rc = run(cat, cat->q[Q_COMMIT], err, "commit to");
	if (rc != TS_OK && !sqlite3_get_autocommit(cat->db)) {
		sqlite3_step(cat->q[Q_ROLLBACK]);
		sqlite3_reset(cat->q[Q_ROLLBACK]);
	}
	return rc;
}

/* Run SQL without results (pragmas, schema). */
static int exec(struct ts_catalog *cat, const char *sql, struct ts_err *err, const char *what)
{
	if (sqlite3_exec(cat->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(cat, err, what);
	return TS_OK;
}

/* One integer from a query such as "pragma user_version". */
static int query_int(struct ts_catalog *cat, const char *sql, sqlite3_int64 *v,
		     struct ts_err *err, const char *what)
{
	sqlite3_stmt *q = NULL;
	int rc = TS_OK;
	if (sqlite3_prepare_v2(cat->db, sql, -1, &q, NULL) != SQLITE_OK)
		return db_err(cat, err, what);
	if (sqlite3_step(q) == SQLITE_ROW)
		*v = sqlite3_column_int64(q, 0);
	else
		rc = db_err(cat, err, what);
	sqlite3_finalize(q);
	return rc;
}

/* shards.md5 (the file's MD5, streamed by the shard writer for the wids
 * index) came within versions 4 and 5: a catalog written before gets the column
 * (NULL for its shards, whose MD5 the index then reads from the file). */
static int ensure_md5_column(struct ts_catalog *cat, struct ts_err *err)
{
	sqlite3_int64 has = 0;
	int rc = query_int(cat, "select count(*) from pragma_table_info('shards') where name = 'md5'",
			   &has, err, "open");
	if (rc || has)
		return rc;
	return exec(cat, "alter table shards add column md5 text", err, "upgrade the schema of");
}

/* Add the text column name to a compositions table that lacks it (one
 * made by an older version); nothing when there is no such table yet. */
static int ensure_comp_column(struct ts_catalog *cat, const char *name, struct ts_err *err)
{
	sqlite3_int64 has_comp = 0, has = 0;
	char sql[128];
	int rc = query_int(cat, "select count(*) from sqlite_master where type = 'table'"
			   " and name = 'compositions'", &has_comp, err, "upgrade the schema of");
	if (rc || !has_comp)
		return rc;
	snprintf(sql, sizeof(sql), "select count(*) from pragma_table_info('compositions') where name = '%s'", name);
	if ((rc = query_int(cat, sql, &has, err, "upgrade the schema of")) || has)
		return rc;
	snprintf(sql, sizeof(sql), "alter table compositions add column %s text", name);
	return exec(cat, sql, err, "upgrade the schema of");
}

static int setup_schema(struct ts_catalog *cat, struct ts_err *err)
{
	sqlite3_int64 version = 0, objects = 0;
	int rc;

	if ((rc = query_int(cat, "pragma user_version", &version, err, "open")))
		return rc;
	if (version > CATALOG_VERSION)
		return ts_err_set(err, TS_ERR_UNSUPPORTED, TS_R_NONE,
				  "cannot open '%s': catalog schema version %lld is newer than this tessera supports (%d)",
				  cat->path, (long long)version, CATALOG_VERSION);
	if (version == CATALOG_VERSION) {
		/* tables and columns the version gained while it was being written */
		if ((rc = exec(cat, TAGS_SQL, err, "open")))
			return rc;
		return ensure_md5_column(cat, err);
	}
	if (version >= 1 && version <= 5) {
		/* version 2 added the caption columns of the text layer, version
		 * 3 the image path and extra metadata of samples and rejects,
		 * version 4 the source format and what decoding fixed, version 5
		 * compositions.path, version 6 compositions.join_spans */
		if ((rc = exec(cat, "begin immediate", err, "upgrade the schema of")))
			return rc;
		if (version == 1)
			rc = exec(cat, "alter table samples add column tokens integer;"
				  " alter table samples add column short_caption text;"
				  " alter table samples add column short_tokens integer;"
				  " alter table samples add column split_rule text;"
				  " alter table samples add column split_fallback text;", err,
				  "upgrade the schema of");
		if (rc == TS_OK && version <= 2)
			rc = exec(cat, "alter table samples add column path text;"
				  " alter table samples add column meta text;"
				  " alter table rejects add column path text;"
				  " alter table rejects add column detail text;", err,
				  "upgrade the schema of");
		if (rc == TS_OK && version <= 3)
			rc = exec(cat, "alter table samples add column source_format text;"
				  " alter table samples add column fixes text;", err, "upgrade the schema of");
		/* a compositions table made before version 5 lacks path, one
		 * made before version 6 join_spans; one created just now by
		 * TAGS_SQL has both */
		if (rc == TS_OK)
			rc = ensure_comp_column(cat, "path", err);
		if (rc == TS_OK)
			rc = ensure_comp_column(cat, "join_spans", err);
		if (rc == TS_OK)
			rc = exec(cat, TAGS_SQL " pragma user_version = 6", err, "upgrade the schema of");
		if (rc == TS_OK)
			rc = ensure_md5_column(cat, err);
		if (rc == TS_OK)
			rc = exec(cat, "commit", err, "upgrade the schema of");
		if (rc != TS_OK)
			sqlite3_exec(cat->db, "rollback", NULL, NULL, NULL);
		return rc;
	}
	if ((rc = query_int(cat, "select count(*) from sqlite_master", &objects, err, "open")))
		return rc;
	if (version != 0 || objects != 0)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "cannot open '%s': an SQLite database that is not a tessera catalog",
				  cat->path);
	if ((rc = exec(cat, "begin immediate", err, "create the schema in")))
		return rc;
	rc = exec(cat, schema_sql, err, "create the schema in");
	if (rc == TS_OK)
		rc = exec(cat, "pragma user_version = 6", err, "create the schema in");
	if (rc == TS_OK)
		rc = exec(cat, "commit", err, "create the schema in");
	if (rc != TS_OK)
		sqlite3_exec(cat->db, "rollback", NULL, NULL, NULL);
	return rc;
}

static int set_pragmas(struct ts_catalog *cat, struct ts_err *err)
{
	sqlite3_stmt *q = NULL;
	const unsigned char *mode;
	int rc = TS_OK;

	if (sqlite3_prepare_v2(cat->db, "pragma journal_mode = wal", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		rc = db_err(cat, err, "open");
	} else {
		mode = sqlite3_column_text(q, 0);
		if (!mode || strcmp((const char *)mode, "wal"))
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE,
					"cannot open '%s': cannot switch to WAL journal mode (got '%s')",
					cat->path, mode ? (const char *)mode : "");
	}
	sqlite3_finalize(q);
	if (rc == TS_OK)
		rc = exec(cat, "pragma synchronous = normal; pragma cache_size = -16384", err, "open");
	return rc;
}

/* ---- fault injection (TESSERA_FAULT, base/ts_io.h) ---------------------------
 * When the variable is set, catalogs are opened through a VFS that wraps
 * the default one and passes each write and sync through ts_io_fault(), so
 * the tests can fail the catalog's N-th write like a shard's. */

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real;        /* follows this struct in the same allocation */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;

#define REAL(f) (((struct fault_file *)(f))->real)
static int ff_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int ff_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int ff_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	int e = ts_io_fault(TS_IO_WRITE);
	if (e)
		return e == ENOSPC || e == EDQUOT ? SQLITE_FULL : SQLITE_IOERR_WRITE;
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int ff_sync(sqlite3_file *f, int flags)
{
	if (ts_io_fault(TS_IO_FSYNC))
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int ff_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int ff_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int ff_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int ff_check(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int ff_fctl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int ff_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int ff_dev(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int ff_shmmap(sqlite3_file *f, int i, int sz, int ext, void volatile **p) { return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p); }
static int ff_shmlock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void ff_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int ff_shmunmap(sqlite3_file *f, int d) { return REAL(f)->pMethods->xShmUnmap(REAL(f), d); }
static int ff_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) { return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int ff_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods fault_methods = {
	3, ff_close, ff_read, ff_write, ff_truncate, ff_sync, ff_size, ff_lock, ff_unlock, ff_check,
	ff_fctl, ff_sector, ff_dev, ff_shmmap, ff_shmlock, ff_shmbarrier, ff_shmunmap, ff_fetch, ff_unfetch,
};

static int ff_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct fault_file *ff = (struct fault_file *)f;
	ff->real = (sqlite3_file *)(ff + 1);
	int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	ff->base.pMethods = ff->real->pMethods ? &fault_methods : NULL;
	return rc;
}

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

static void fault_vfs_init(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (!real_vfs)
		return;
	fault_vfs = *real_vfs;
	fault_vfs.zName = "tessera-fault";
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
	fault_vfs.xOpen = ff_open;
	fault_vfs.pNext = NULL;
	if (sqlite3_vfs_register(&fault_vfs, 0) != SQLITE_OK)
		real_vfs = NULL;
}

/* The VFS to open catalogs with: NULL (the default) unless TESSERA_FAULT is set. */
static const char *catalog_vfs(void)
{
	const char *f = getenv("TESSERA_FAULT");
	if (!f || !*f)
		return NULL;
	pthread_once(&fault_once, fault_vfs_init);
	return real_vfs ? "tessera-fault" : NULL;
}

int ts_catalog_open(struct ts_catalog **out, const char *path,
		    struct ts_err *err)
{
	struct ts_catalog *cat;
	int rc, n;

	*out = NULL;
	cat = calloc(1, sizeof(*cat));
	if (!cat)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	n = snprintf(cat->path, sizeof(cat->path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(cat->path)) {
		free(cat);
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "cannot open '%s': path too long", path);
	}
	if (sqlite3_open_v2(path, &cat->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, catalog_vfs()) != SQLITE_OK) {
		if (!cat->db) {
			free(cat);
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		}
		rc = db_err(cat, err, "open");
		goto fail;
	}
	sqlite3_extended_result_codes(cat->db, 1);
	sqlite3_busy_timeout(cat->db, 10000);
	/* the version check reads the header first: a garbage file fails here,
	 * before any pragma could write to it */
	if ((rc = setup_schema(cat, err)) || (rc = set_pragmas(cat, err)))
		goto fail;
	char gs[4096], gm[4096];
	const char *group[Q__COUNT] = {
		[Q_SAMPLES] = group_sql(gs, sizeof(gs), SAMPLE_INSERT, SAMPLE_COLS, GROUP_ROWS),
		[Q_MEMBERS] = group_sql(gm, sizeof(gm), MEMBER_INSERT, MEMBER_COLS, 3 * GROUP_ROWS),
	};
	for (int i = 0; i < Q__COUNT; i++) {
		const char *sql = stmt_sql[i] ? stmt_sql[i] : group[i];
		if (!sql || sqlite3_prepare_v3(cat->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				       &cat->q[i], NULL) != SQLITE_OK) {
			rc = db_err(cat, err, "prepare a statement for");
			goto fail;
		}
	}
	*out = cat;
	return TS_OK;
fail:
	ts_catalog_close(cat);
	return rc;
}

int ts_catalog_close_checked(struct ts_catalog *cat, struct ts_err *err)
{
	int rc = TS_OK;
	if (!cat)
		return TS_OK;
	for (int i = 0; i < Q__COUNT; i++)
		sqlite3_finalize(cat->q[i]);
	/* leave WAL mode: the closed file stands alone, so it opens on
	 * read-only storage (where no -wal or -shm can be created); when the
	 * log cannot be folded back (a failed write), the file is not whole
	 * without its -wal, and the caller must know */
	if (cat->db && sqlite3_get_autocommit(cat->db)) {
		sqlite3_stmt *q = NULL;
		char mode[16] = "";
		sqlite3_busy_timeout(cat->db, 1000);
		if (sqlite3_prepare_v2(cat->db, "pragma journal_mode = delete", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
			snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
		if (strcmp(mode, "delete"))
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE,
					"cannot close '%s': its write-ahead log was not folded back (%s)",
					cat->path, sqlite3_errmsg(cat->db));
	}
	if (sqlite3_close_v2(cat->db) != SQLITE_OK && rc == TS_OK)
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot close '%s'", cat->path);
	free(cat);
	return rc;
}

void ts_catalog_close(struct ts_catalog *cat)
{
	struct ts_err e = TS_ERR_INIT;
	ts_catalog_close_checked(cat, &e);
}

int ts_catalog_meta_get(struct ts_catalog *cat, const char *name,
			char **value, struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_META_GET];
	int r, rc = TS_OK;

	*value = NULL;
	bind_text(q, 1, name);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(q, 0);
		if (t && !(*value = strdup((const char *)t)))
			rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	} else if (r != SQLITE_DONE) {
		rc = db_err(cat, err, "read");
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

int ts_catalog_meta_set(struct ts_catalog *cat, const char *name,
			const char *value, struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_META_SET];
	bind_text(q, 1, name);
	bind_text(q, 2, value);
	return run(cat, q, err, "write to");
}

int ts_catalog_run_begin(struct ts_catalog *cat, const char *command,
			 const char *version, const char *options_json,
			 int64_t *run_id, struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_RUN_BEGIN];
	char now[32];
	int rc;

	now_iso(now, sizeof(now));
	bind_text(q, 1, command);
	bind_text(q, 2, version);
	bind_text(q, 3, options_json);
	bind_text(q, 4, now);
	if ((rc = run(cat, q, err, "write to")))
		return rc;
	if (run_id)
		*run_id = sqlite3_last_insert_rowid(cat->db);
	return TS_OK;
}

int ts_catalog_run_end(struct ts_catalog *cat, int64_t run_id,
		       const char *status, const char *summary_json,
		       struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_RUN_END];
	char now[32];
	int rc;

	now_iso(now, sizeof(now));
	sqlite3_bind_int64(q, 1, run_id);
	bind_text(q, 2, now);
	bind_text(q, 3, status);
	bind_text(q, 4, summary_json);
	if ((rc = run(cat, q, err, "write to")))
		return rc;
	if (sqlite3_changes(cat->db) != 1)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "cannot write to '%s': no run with id %lld",
				  cat->path, (long long)run_id);
	return TS_OK;
}

int ts_catalog_resume(struct ts_catalog *cat, unsigned *next_shard,
		      uint64_t *next_record, struct ts_err *err)
{
	return ts_catalog_resume_drop(cat, next_shard, next_record, NULL, NULL, err);
}

int ts_catalog_resume_drop(struct ts_catalog *cat, unsigned *next_shard,
			   uint64_t *next_record,
			   int (*dropped)(const char *name, void *user), void *user,
			   struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_SHARD_LIST];
	sqlite3_int64 n = 0, end = 0;
	int r, rc;

	if ((rc = tx_begin(cat, err)))
		return rc;
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite3_int64 idx = sqlite3_column_int64(q, 0);
		sqlite3_int64 e = sqlite3_column_int64(q, 2);
		if (idx != n || sqlite3_column_int(q, 1) != 1 ||
		    sqlite3_column_type(q, 2) != SQLITE_INTEGER || e < end ||
		    n >= (sqlite3_int64)UINT_MAX)
			break;
		end = e;
		n++;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = db_err(cat, err, "read");
	sqlite3_reset(q);
	if (rc == TS_OK && dropped) {
		/* the files of the rows about to go: every one was named here
		 * before it was created */
		sqlite3_stmt *d = cat->q[Q_DROPPED];
		sqlite3_bind_int64(d, 1, n);
		while (rc == TS_OK && (r = sqlite3_step(d)) == SQLITE_ROW) {
			const unsigned char *name = sqlite3_column_text(d, 0);
			if (name && dropped((const char *)name, user))
				rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE,
						"cannot remove the unfinished shard '%s' of '%s'",
						(const char *)name, cat->path);
		}
		if (rc == TS_OK && r != SQLITE_DONE)
			rc = db_err(cat, err, "read");
		sqlite3_reset(d);
	}
	static const int del[] = { Q_DEL_SHARDS, Q_DEL_SAMPLES, Q_DEL_MEMBERS, Q_DEL_TAGS, Q_DEL_SCORES, Q_DEL_COMPS };
	for (size_t i = 0; rc == TS_OK && i < sizeof(del) / sizeof(del[0]); i++) {
		sqlite3_bind_int64(cat->q[del[i]], 1, n);
		rc = run(cat, cat->q[del[i]], err, "write to");
	}
	if (rc == TS_OK) {
		/* no shard: every reject goes (negative records included) */
		sqlite3_bind_int64(cat->q[Q_DEL_REJECTS], 1, n ? end : INT64_MIN);
		rc = run(cat, cat->q[Q_DEL_REJECTS], err, "write to");
	}
	if ((rc = tx_end(cat, rc, err)))
		return rc;
	*next_shard = (unsigned)n;
	*next_record = (uint64_t)end;
	return TS_OK;
}

static int insert_reject(struct ts_catalog *cat, const struct ts_reject_row *r,
			 struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_REJECT];
	if (!fits_i64(r->record))
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "cannot write to '%s': record %llu out of range",
				  cat->path, (unsigned long long)r->record);
	bind_u64(q, 1, r->record);
	bind_text(q, 2, r->source);
	bind_text(q, 3, r->stage);
	bind_text(q, 4, r->reason);
	bind_text(q, 5, r->message);
	bind_text(q, 6, r->path);
	bind_text(q, 7, r->detail_json);
	return run(cat, q, err, "write to");
}

/* The 22 columns of a samples row, from parameter o + 1. */
static void bind_sample(sqlite3_stmt *q, int o, const struct ts_sample_row *s)
{
	bind_text(q, o + 1, s->key);
	bind_u64(q, o + 2, s->record);
	sqlite3_bind_int64(q, o + 3, s->shard);
	sqlite3_bind_int(q, o + 4, s->width);
	sqlite3_bind_int(q, o + 5, s->height);
	sqlite3_bind_int(q, o + 6, s->orig_width);
	sqlite3_bind_int(q, o + 7, s->orig_height);
	bind_text(q, o + 8, s->format);
	bind_text(q, o + 9, s->content_hash);
	bind_text(q, o + 10, s->image_hash);
	bind_text(q, o + 11, s->source);
	bind_text(q, o + 12, s->caption);
	bind_text(q, o + 13, s->captions_json);
	if (s->text.tokens > 0)
		sqlite3_bind_int64(q, o + 14, s->text.tokens);
	bind_text(q, o + 15, s->text.short_caption);
	if (s->text.short_tokens > 0)
		sqlite3_bind_int64(q, o + 16, s->text.short_tokens);
	bind_text(q, o + 17, s->text.split_rule);
	bind_text(q, o + 18, s->text.split_fallback);
	bind_text(q, o + 19, s->path);
	bind_text(q, o + 20, s->meta_json);
	bind_text(q, o + 21, s->source_format);
	bind_text(q, o + 22, s->fixes);
}

static int check_members(struct ts_catalog *cat, const struct ts_sample_row *s, struct ts_err *err)
{
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct ts_member_row *m = &s->members[i];
		if (!fits_i64(m->offset) || !fits_i64(m->size))
			return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
					  "cannot write to '%s': member '%s' out of range",
					  cat->path, m->name ? m->name : "");
	}
	return TS_OK;
}

static int insert_sample(struct ts_catalog *cat, const struct ts_sample_row *s,
			 struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_SAMPLE];
	int rc;

	bind_sample(q, 0, s);
	if ((rc = run(cat, q, err, "write to")))
		return rc;
	if ((rc = check_members(cat, s, err)))
		return rc;
	for (size_t i = 0; i < s->nmembers;) {
		size_t k = s->nmembers - i >= 3 ? 3 : 1;
		q = cat->q[k == 3 ? Q_MEMBER3 : Q_MEMBER];
		bind_text(q, 1, s->key);
		sqlite3_bind_int64(q, 2, s->shard);
		for (size_t j = 0; j < k; j++) {
			const struct ts_member_row *m = &s->members[i + j];
			int b = 3 + 4 * (int)j;
			bind_text(q, b, m->name);
			bind_u64(q, b + 1, m->offset);
			bind_u64(q, b + 2, m->size);
			bind_text(q, b + 3, m->hash);
		}
		if ((rc = run(cat, q, err, "write to")))
			return rc;
		i += k;
	}
	q = cat->q[Q_TAG];
	for (size_t i = 0; i < s->ntags; i++) {
		const struct ts_tag_row *t = &s->tags[i];
		bind_text(q, 1, s->key);
		sqlite3_bind_int64(q, 2, s->shard);
		sqlite3_bind_int64(q, 3, t->caption);
		sqlite3_bind_int64(q, 4, t->idx);
		bind_text(q, 5, t->lemma);
		bind_text(q, 6, t->text);
		sqlite3_bind_int64(q, 7, t->char_start);
		sqlite3_bind_int64(q, 8, t->char_end);
		sqlite3_bind_int64(q, 9, t->byte_start);
		sqlite3_bind_int64(q, 10, t->byte_end);
		sqlite3_bind_int64(q, 11, t->tok_start);
		sqlite3_bind_int64(q, 12, t->tok_end);
		sqlite3_bind_int(q, 13, t->truncated);
		sqlite3_bind_int64(q, 14, t->region);
		if ((rc = run(cat, q, err, "write to")))
			return rc;
	}
	q = cat->q[Q_SCORE];
	for (size_t i = 0; i < s->nscores; i++) {
		bind_text(q, 1, s->key);
		sqlite3_bind_int64(q, 2, s->shard);
		bind_text(q, 3, s->scores[i].tag);
		sqlite3_bind_double(q, 4, s->scores[i].score);
		bind_text(q, 5, s->scores[i].mask);
		if ((rc = run(cat, q, err, "write to")))
			return rc;
	}
	if (s->comp) {
		q = cat->q[Q_COMP];
		bind_text(q, 1, s->key);
		sqlite3_bind_int64(q, 2, s->shard);
		bind_text(q, 3, s->comp->mode);
		bind_text(q, 4, s->comp->sources_json);
		bind_text(q, 5, s->comp->regions_json);
		sqlite3_bind_int64(q, 6, s->comp->epoch);
		sqlite3_bind_int64(q, 7, s->comp->seed);
		bind_text(q, 8, s->comp->path);
		bind_text(q, 9, s->comp->join_json);
		if ((rc = run(cat, q, err, "write to")))
			return rc;
	}
	return TS_OK;
}

/* The contract of commit_shard, checked before anything is written. */
static int check_shard(struct ts_catalog *cat, const struct ts_shard_row *sh,
		       const struct ts_sample_row *samples, size_t nsamples,
		       const struct ts_reject_row *rejects, size_t nrejects,
		       struct ts_err *err)
{
	if (!fits_i64(sh->end_record) || !fits_i64(sh->bytes) || !fits_i64(sh->samples) ||
	    sh->first_record > sh->end_record)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "cannot write to '%s': shard %u has a bad record range or size",
				  cat->path, sh->idx);
	for (size_t i = 0; i < nsamples; i++)
		if (samples[i].shard != sh->idx || !samples[i].key ||
		    samples[i].record < sh->first_record || samples[i].record >= sh->end_record)
			return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
					  "cannot write to '%s': sample '%s' (record %llu) is not in shard %u [%llu, %llu)",
					  cat->path, samples[i].key ? samples[i].key : "",
					  (unsigned long long)samples[i].record, sh->idx,
					  (unsigned long long)sh->first_record,
					  (unsigned long long)sh->end_record);
	for (size_t i = 0; i < nrejects; i++)
		if (rejects[i].record < sh->first_record || rejects[i].record >= sh->end_record)
			return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
					  "cannot write to '%s': reject of record %llu is not in shard %u [%llu, %llu)",
					  cat->path, (unsigned long long)rejects[i].record, sh->idx,
					  (unsigned long long)sh->first_record,
					  (unsigned long long)sh->end_record);
	return TS_OK;
}

/* The shard row, complete = 1. */
static int insert_shard(struct ts_catalog *cat, const struct ts_shard_row *shard,
			struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_SHARD];
	sqlite3_bind_int64(q, 1, shard->idx);
	bind_text(q, 2, shard->name);
	bind_u64(q, 3, shard->samples);
	bind_u64(q, 4, shard->bytes);
	bind_text(q, 5, shard->hash);
	bind_u64(q, 6, shard->first_record);
	bind_u64(q, 7, shard->end_record);
	bind_text(q, 8, shard->md5 && shard->md5[0] ? shard->md5 : NULL);
	return run(cat, q, err, "write to");
}

int ts_catalog_commit_shard(struct ts_catalog *cat,
			    const struct ts_shard_row *shard,
			    const struct ts_sample_row *samples, size_t nsamples,
			    const struct ts_reject_row *rejects, size_t nrejects,
			    struct ts_err *err)
{
	int rc;

	if ((rc = check_shard(cat, shard, samples, nsamples, rejects, nrejects, err)))
		return rc;
	if ((rc = tx_begin(cat, err)))
		return rc;
	rc = insert_shard(cat, shard, err);
	for (size_t i = 0; rc == TS_OK && i < nsamples; i++)
		rc = insert_sample(cat, &samples[i], err);
	for (size_t i = 0; rc == TS_OK && i < nrejects; i++)
		rc = insert_reject(cat, &rejects[i], err);
	return tx_end(cat, rc, err);
}

int ts_catalog_add_rejects(struct ts_catalog *cat,
			   const struct ts_reject_row *rejects, size_t n,
			   struct ts_err *err)
{
	int rc;
	if (n == 0)
		return TS_OK;
	if ((rc = tx_begin(cat, err)))
		return rc;
	for (size_t i = 0; rc == TS_OK && i < n; i++)
		rc = insert_reject(cat, &rejects[i], err);
	return tx_end(cat, rc, err);
}

/* ---- streaming: one open transaction per shard ------------------------------
 * The dataset writer inserts each sample and reject as it comes, inside a
 * transaction that ts_catalog_stream_commit() closes together with the
 * shard row, so memory does not grow with the shard size and the shard
 * still becomes visible atomically.  A crash rolls the open transaction
 * back (WAL), exactly like a commit_shard that never happened. */

int ts_catalog_stream_begin(struct ts_catalog *cat, struct ts_err *err)
{
	if (!sqlite3_get_autocommit(cat->db))
		return TS_OK;       /* already open */
	return tx_begin(cat, err);
}

int ts_catalog_stream_sample(struct ts_catalog *cat, const struct ts_sample_row *s,
			     struct ts_err *err)
{
	int rc = ts_catalog_stream_begin(cat, err);
	return rc ? rc : insert_sample(cat, s, err);
}

/* A row the grouped statements take: three members and nothing else. */
static int plain_row(const struct ts_sample_row *s)
{
	return s->nmembers == 3 && !s->ntags && !s->nscores && !s->comp;
}

/* GROUP_ROWS plain rows: the samples in one statement, then their members
 * in another (each table gets its rows in the order one at a time gives). */
static int insert_group(struct ts_catalog *cat, const struct ts_sample_row *s, struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_SAMPLES];
	int rc;
	for (int i = 0; i < GROUP_ROWS; i++)
		if ((rc = check_members(cat, &s[i], err)))
			return rc;
	for (int i = 0; i < GROUP_ROWS; i++)
		bind_sample(q, i * SAMPLE_COLS, &s[i]);
	if ((rc = run(cat, q, err, "write to")))
		return rc;
	q = cat->q[Q_MEMBERS];
	for (int i = 0, p = 0; i < GROUP_ROWS; i++)
		for (int k = 0; k < 3; k++, p += MEMBER_COLS) {
			const struct ts_member_row *m = &s[i].members[k];
			bind_text(q, p + 1, s[i].key);
			sqlite3_bind_int64(q, p + 2, s[i].shard);
			bind_text(q, p + 3, m->name);
			bind_u64(q, p + 4, m->offset);
			bind_u64(q, p + 5, m->size);
			bind_text(q, p + 6, m->hash);
		}
	return run(cat, q, err, "write to");
}

int ts_catalog_stream_samples(struct ts_catalog *cat, const struct ts_sample_row *s, size_t n,
			      struct ts_err *err)
{
	int rc = ts_catalog_stream_begin(cat, err);
	for (size_t i = 0; rc == TS_OK && i < n;) {
		size_t k = 0;
		while (k < GROUP_ROWS && i + k < n && plain_row(&s[i + k]))
			k++;
		if (k == GROUP_ROWS) {
			rc = insert_group(cat, &s[i], err);
			i += k;
		} else {
			rc = insert_sample(cat, &s[i], err);
			i++;
		}
	}
	return rc;
}

int ts_catalog_stream_reject(struct ts_catalog *cat, const struct ts_reject_row *r,
			     struct ts_err *err)
{
	int rc = ts_catalog_stream_begin(cat, err);
	return rc ? rc : insert_reject(cat, r, err);
}

int ts_catalog_stream_forget_rejects(struct ts_catalog *cat, uint64_t record,
				     struct ts_err *err)
{
	int rc = ts_catalog_stream_begin(cat, err);
	if (rc)
		return rc;
	if (!fits_i64(record))
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "cannot write to '%s': record %llu out of range",
				  cat->path, (unsigned long long)record);
	bind_u64(cat->q[Q_DEL_REJECT_ONE], 1, record);
	return run(cat, cat->q[Q_DEL_REJECT_ONE], err, "write to");
}

int ts_catalog_stream_commit(struct ts_catalog *cat, const struct ts_shard_row *shard,
			     struct ts_err *err)
{
	int rc = ts_catalog_stream_begin(cat, err);
	if (rc)
		return rc;
	if (shard) {
		rc = insert_shard(cat, shard, err);
	}
	return tx_end(cat, rc, err);
}

int ts_catalog_foreach_shard_name(struct ts_catalog *cat, long long from_idx,
				  int (*fn)(const char *name, void *user), void *user,
				  struct ts_err *err)
{
	sqlite3_stmt *d = cat->q[Q_DROPPED];
	int r, rc = TS_OK;
	sqlite3_bind_int64(d, 1, from_idx);
	while (rc == TS_OK && (r = sqlite3_step(d)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(d, 0);
		if (name && fn((const char *)name, user))
			rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot remove the shard '%s' of '%s'",
					(const char *)name, cat->path);
	}
	if (rc == TS_OK && r != SQLITE_DONE)
		rc = db_err(cat, err, "read");
	sqlite3_reset(d);
	return rc;
}

int ts_catalog_create_indexes(struct ts_catalog *cat, struct ts_err *err)
{
	return exec(cat, "create index if not exists samples_shard on samples(shard);"
		    " create index if not exists members_shard on members(shard);", err,
		    "index");
}

void ts_catalog_exec(struct ts_catalog *cat, const char *sql)
{
	if (cat)
		sqlite3_exec(cat->db, sql, NULL, NULL, NULL);
}

int ts_catalog_shard_intent(struct ts_catalog *cat, unsigned idx, const char *name,
			    struct ts_err *err)
{
	sqlite3_stmt *q = cat->q[Q_INTENT];
	int rc = ts_catalog_stream_begin(cat, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(q, 1, idx);
	bind_text(q, 2, name);
	rc = run(cat, q, err, "write to");
	return tx_end(cat, rc, err);
}

/* The commit hook while checkpoints are deferred: note the log's size. */
static int wal_note(void *user, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((struct ts_catalog *)user)->wal_frames = frames;
	return SQLITE_OK;
}

void ts_catalog_defer_checkpoints(struct ts_catalog *cat, int defer)
{
	if (defer) {
		cat->wal_frames = 0;
		sqlite3_wal_hook(cat->db, wal_note, cat);
	} else {
		sqlite3_wal_autocheckpoint(cat->db, WAL_AUTOCHECKPOINT);
	}
}

int ts_catalog_checkpoint(struct ts_catalog *cat, struct ts_err *err)
{
	if (cat->wal_frames < WAL_AUTOCHECKPOINT)
		return TS_OK;
	int r = sqlite3_wal_checkpoint_v2(cat->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	cat->wal_frames = 0;
	if (r != SQLITE_OK && r != SQLITE_BUSY)   /* busy: a reader; the next one goes further */
		return db_err(cat, err, "checkpoint");
	return TS_OK;
}

void ts_catalog_stream_rollback(struct ts_catalog *cat)
{
	if (cat && !sqlite3_get_autocommit(cat->db)) {
		sqlite3_step(cat->q[Q_ROLLBACK]);
		sqlite3_reset(cat->q[Q_ROLLBACK]);
	}
}
