/*
 * sqlite_shard.c - a shard stored as an SQLite file instead of a tar
 * (--store sqlite), for random access by key:
 *
 *   create table members(name text primary key, key text not null,
 *                        data blob not null);
 *   create index members_key on members(key);
 *
 * One row per member, inserted in the same order as the tar store would
 * write them; a member's rowid (1, 2, ...) is what the catalog's `offset`
 * column holds for such shards.  Written as .NNNNNN.sqlite.tmp with the
 * journal off in one transaction, closed, fsync'ed and renamed, so a final
 * name always means a complete file.  Identical calls give identical bytes
 * with the same SQLite library.
 */
#include "base/ts_io.h"
#include "shards/shards.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shards/sqlite_shard.h"


struct ts_sqlshard {
	sqlite3 *db;
	sqlite3_stmt *ins;
	uint64_t bytes;
	int64_t rows;
	char dir[PATH_MAX];
	char tmp[PATH_MAX + 32];
	char final[PATH_MAX + 32];
};

static int db_err(sqlite3 *db, const char *path, const char *what, struct ts_err *err)
{
	return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot %s '%s': %s", what, path,
			  db ? sqlite3_errmsg(db) : "out of memory");
}

void ts_sqlshard_abort(struct ts_sqlshard *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->ins);
	sqlite3_close(s->db);
	unlink(s->tmp);
	free(s);
}

int ts_sqlshard_open(struct ts_sqlshard **out, const char *dir, unsigned index, int digits,
		     struct ts_err *err)
{
	struct ts_sqlshard *s = calloc(1, sizeof(*s));
	int rc;
	if (!s)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (digits <= 0)
		digits = 6;
	snprintf(s->tmp, sizeof(s->tmp), "%s/.%0*u.sqlite.tmp", dir, digits, index);
	snprintf(s->final, sizeof(s->final), "%s/%0*u.sqlite", dir, digits, index);
	unlink(s->tmp);
	if (sqlite3_open_v2(s->tmp, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) ||
	    sqlite3_exec(s->db, "pragma journal_mode = off; pragma synchronous = off;"
			 " pragma page_size = 4096; pragma user_version = 1;"
			 " create table members(name text primary key, key text not null,"
			 " data blob not null);"
			 " create index members_key on members(key);"
			 " begin;", NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(s->db, "insert into members(name, key, data) values(?1, ?2, ?3)",
			       -1, &s->ins, NULL)) {
		rc = db_err(s->db, s->tmp, "create", err);
		ts_sqlshard_abort(s);
		return rc;
	}
	*out = s;
	return TS_OK;
}

int ts_sqlshard_add(struct ts_sqlshard *s, const char *name, const void *data, size_t len,
		    uint64_t *rowid, struct ts_err *err)
{
	const char *dot = strchr(name, '.');
	size_t klen = dot ? (size_t)(dot - name) : strlen(name);
	sqlite3_reset(s->ins);
	sqlite3_bind_text(s->ins, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->ins, 2, name, (int)klen, SQLITE_STATIC);
	sqlite3_bind_blob64(s->ins, 3, len ? data : "", len, SQLITE_STATIC);
	if (sqlite3_step(s->ins) != SQLITE_DONE)
		return db_err(s->db, s->tmp, "write to", err);
	s->rows++;
	if (rowid)
		*rowid = (uint64_t)sqlite3_last_insert_rowid(s->db);
	s->bytes += len + strlen(name) * 2 + 16;
	return TS_OK;
}

uint64_t ts_sqlshard_bytes(const struct ts_sqlshard *s)
{
	return s->bytes;
}

int ts_sqlshard_finish(struct ts_sqlshard *s, uint64_t *total_bytes, char *hash_hex,
		       struct ts_err *err)
{
	int rc, fd;
	sqlite3_finalize(s->ins);
	s->ins = NULL;
	if (sqlite3_exec(s->db, "commit", NULL, NULL, NULL)) {
		rc = db_err(s->db, s->tmp, "write to", err);
		ts_sqlshard_abort(s);
		return rc;
	}
	if (sqlite3_close(s->db) != SQLITE_OK) {
		s->db = NULL;
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot close '%s'", s->tmp);
		ts_sqlshard_abort(s);
		return rc;
	}
	s->db = NULL;
	fd = open(s->tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ts_io_fsync(fd)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot sync '%s': %s", s->tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		ts_sqlshard_abort(s);
		return rc;
	}
	close(fd);
	if ((total_bytes || hash_hex) && (rc = ts_file_hash_hex(s->tmp, hash_hex, NULL, err))) {
		ts_sqlshard_abort(s);
		return rc;
	}
	if (total_bytes) {
		struct stat st;
		*total_bytes = stat(s->tmp, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	if (ts_io_rename(s->tmp, s->final)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot rename '%s': %s", s->tmp, strerror(errno));
		ts_sqlshard_abort(s);
		return rc;
	}
	fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(s);
	return TS_OK;
}

int ts_sqlshard_foreach(const char *path, int (*fn)(const struct ts_tar_member *m, void *user),
			void *user, struct ts_err *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = 0, st;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ||
	    sqlite3_prepare_v2(db, "select rowid, name, data from members order by rowid", -1, &q, NULL)) {
		rc = db_err(db, path, "read", err);
		goto out;
	}
	while ((st = sqlite3_step(q)) == SQLITE_ROW) {
		struct ts_tar_member m = {
			.name = (const char *)sqlite3_column_text(q, 1),
			.data = sqlite3_column_blob(q, 2),
			.size = (size_t)sqlite3_column_bytes(q, 2),
			.data_offset = (uint64_t)sqlite3_column_int64(q, 0),
			.type = 0,
		};
		if (!m.name)
			m.name = "";
		if (!m.data)
			m.data = (const uint8_t *)"";
		if ((rc = fn(&m, user)))
			goto out;
	}
	if (st != SQLITE_DONE)
		rc = db_err(db, path, "read", err);
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}

int ts_sqlshard_read(const char *path, const char *name, uint8_t **data, size_t *len,
		     struct ts_err *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ||
	    sqlite3_prepare_v2(db, "select data from members where name = ?", -1, &q, NULL)) {
		rc = db_err(db, path, "read", err);
		goto out;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_ROW) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "no member '%s' in '%s'", name, path);
		goto out;
	}
	*len = (size_t)sqlite3_column_bytes(q, 0);
	*data = malloc(*len ? *len : 1);
	if (!*data) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto out;
	}
	if (*len)
		memcpy(*data, sqlite3_column_blob(q, 0), *len);
	rc = TS_OK;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}
