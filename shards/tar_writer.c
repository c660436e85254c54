/*
 * tar_writer.c - write one WebDataset shard with libarchive.
 *
 * Header choices (docs/formats.md, "Shards"), fixed so identical calls give
 * identical bytes:
 *   format   POSIX ustar via archive_write_set_format_pax_restricted: a plain
 *            ustar header per member; libarchive adds a pax extended header
 *            ("PaxHeader/NAME") only when a field does not fit ustar (a
 *            name longer than 100 bytes that cannot be split at a '/', a
 *            non-ASCII name)
 *   mtime    0 (1970-01-01T00:00:00Z); no atime/ctime
 *   owner    uid 0, gid 0, uname and gname empty
 *   mode     0444, regular files only
 *   blocking none (bytes_per_block 0, bytes_in_last_block 1): the file ends
 *            right after the two 512-byte zero blocks
 *   names    printable ASCII only (WebDataset keys and extensions).  Other
 *            bytes would go through libarchive's locale conversion, which
 *            makes the output depend on LC_CTYPE (and in 3.6.2 crashes on
 *            UTF-8 names under the C locale); "hdrcharset=BINARY" would
 *            avoid that but adds a pax header to every member.
 *
 * libarchive writes straight through our callback (no blocking buffer), so
 * the byte counter after archive_write_header() is the member's data
 * offset.  The callback collects the bytes in a 1 MiB buffer, written when
 * full and at the end of every add (the shard writer of writer.c adds a
 * sample's members buffered and flushes once): a header, a member and its
 * padding are three callbacks, so one write(2) per sample instead of three
 * per member, while a failed write still fails the call that made it.  The callback also feeds a streaming XXH3-128 and MD5 (libmd) of
 * the whole file, so nothing reads a shard back to hash it: the MD5 goes
 * into the catalog for the wids index (shardindex.json's md5sum).
 * The file is written as shards_dir/.NNNNNN.tar.tmp; finish writes the end
 * blocks, fsyncs, renames to NNNNNN.tar and fsyncs the directory, so a
 * final name always means a complete file.
 */
#include "base/ts_io.h"
#include "shards/shards.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shards/sqlite_shard.h"

#define TAR_MTIME 0
#define TAR_MODE 0444

struct ts_shard_writer {
	struct ts_sqlshard *sql;   /* --store sqlite: every call goes there */
	struct archive *a;
	int fd;
	int failed;        /* a write failed: only abort is possible */
	int discard;       /* aborting: drop whatever libarchive still writes */
	int write_errno;   /* errno of the failed write(2) */
	uint64_t bytes;            /* accepted from libarchive (written + buffered) */
	uint8_t *buf;              /* bytes not yet written */
	size_t blen;
	struct ts_hasher *hash;
	MD5_CTX md5;
	char dir[PATH_MAX];
	char tmp[PATH_MAX];
	char final[PATH_MAX];
};

char *ts_shard_name_fmt(unsigned index, int digits, const char *ext, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%0*u.%s", digits > 0 ? digits : TS_SHARD_DIGITS, index, ext);
	return buf;
}

char *ts_shard_name(unsigned index, char *buf, size_t bufsz)
{
	return ts_shard_name_fmt(index, TS_SHARD_DIGITS, "tar", buf, bufsz);
}

#define TAR_BUF (1u << 20)

/* Write the buffered bytes: 0, or -1 with errno. */
static int flush_buf(struct ts_shard_writer *w)
{
	size_t off = 0;
	while (off < w->blen) {
		ssize_t n = ts_io_write(w->fd, w->buf + off, w->blen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->write_errno = errno;
			return -1;
		}
		off += (size_t)n;
	}
	w->blen = 0;
	return 0;
}

static la_ssize_t write_cb(struct archive *a, void *user, const void *buf, size_t len)
{
	struct ts_shard_writer *w = user;
	const uint8_t *p = buf;
	size_t left = len;

	if (w->discard)
		return (la_ssize_t)len;
	if (w->write_errno) {
		archive_set_error(a, w->write_errno, "%s", strerror(w->write_errno));
		return -1;
	}
	ts_hasher_update(w->hash, p, len);
	MD5Update(&w->md5, p, len);
	while (left > 0) {
		size_t n = TAR_BUF - w->blen < left ? TAR_BUF - w->blen : left;
		memcpy(w->buf + w->blen, p, n);
		w->blen += n;
		p += n;
		left -= n;
		if (w->blen == TAR_BUF && flush_buf(w)) {
			archive_set_error(a, w->write_errno, "%s", strerror(w->write_errno));
			return -1;
		}
	}
	w->bytes += (uint64_t)len;
	return (la_ssize_t)len;
}

static int close_cb(struct archive *a, void *user)
{
	return ARCHIVE_OK;   /* the fd is ours: fsync and close in finish */
}

static void writer_free(struct ts_shard_writer *w, int remove_tmp)
{
	if (!w)
		return;
	if (w->a) {
		w->discard = 1;
		archive_write_free(w->a);
	}
	if (w->fd >= 0)
		close(w->fd);
	if (remove_tmp && w->tmp[0])
		unlink(w->tmp);
	ts_hasher_free(w->hash);
	free(w->buf);
	free(w);
}

static int ar_err(struct ts_shard_writer *w, struct ts_err *err, const char *what)
{
	const char *s = archive_error_string(w->a);
	int status = archive_errno(w->a) == ENOMEM ? TS_ERR_NOMEM :
		     w->write_errno ? TS_ERR_IO : TS_ERR_INTERNAL;
	w->failed = 1;
	return ts_err_set(err, status, TS_R_NONE, "cannot %s '%s': %s", what, w->tmp,
			  s ? s : "unknown libarchive error");
}

static int writer_open(struct ts_shard_writer **out, const char *shards_dir,
		       unsigned index, int digits, struct ts_err *err);

int ts_shard_writer_open(struct ts_shard_writer **out, const char *shards_dir,
			 unsigned index, struct ts_err *err)
{
	return writer_open(out, shards_dir, index, TS_SHARD_DIGITS, err);
}

static int writer_open(struct ts_shard_writer **out, const char *shards_dir,
		       unsigned index, int digits, struct ts_err *err)
{
	struct ts_shard_writer *w;
	char name[32];
	int n1, n2;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	w->fd = -1;
	ts_shard_name_fmt(index, digits, "tar", name, sizeof(name));
	n1 = snprintf(w->tmp, sizeof(w->tmp), "%s/.%s.tmp", shards_dir, name);
	n2 = snprintf(w->final, sizeof(w->final), "%s/%s", shards_dir, name);
	snprintf(w->dir, sizeof(w->dir), "%s", shards_dir);
	if (n1 < 0 || (size_t)n1 >= sizeof(w->tmp) || n2 < 0 || (size_t)n2 >= sizeof(w->final)) {
		w->tmp[0] = '\0';
		writer_free(w, 0);
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
				  "cannot create a shard in '%s': path too long", shards_dir);
	}
	w->hash = ts_hasher_new();
	MD5Init(&w->md5);
	w->buf = malloc(TAR_BUF);
	w->a = archive_write_new();
	if (!w->hash || !w->a || !w->buf) {
		w->tmp[0] = '\0';
		writer_free(w, 0);
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	w->fd = ts_io_open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int e = errno;
		w->tmp[0] = '\0';   /* not ours to remove */
		ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot create '%s/.%s.tmp': %s",
			   shards_dir, name, strerror(e));
		writer_free(w, 0);
		return TS_ERR_IO;
	}
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open(w->a, w, NULL, write_cb, close_cb) != ARCHIVE_OK) {
		int rc = ar_err(w, err, "create");
		writer_free(w, 1);
		return rc;
	}
	*out = w;
	return TS_OK;
}

static int add_member(struct ts_shard_writer *w, const char *name, const void *data, size_t len,
		      uint64_t *data_offset, int flush, struct ts_err *err)
{
	struct archive_entry *e;
	const char *p = data;
	size_t left = len;
	int rc = TS_OK;

	if (w->sql)
		return ts_sqlshard_add(w->sql, name, data, len, data_offset, err);
	if (w->failed)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "cannot write '%s': an earlier write failed", w->tmp);
	if (!name || !*name)
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
				  "cannot write '%s': empty member name", w->tmp);
	for (const char *c = name; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE,
					  "cannot write '%s': member name '%s' is not printable ASCII",
					  w->tmp, name);
	e = archive_entry_new();
	if (!e)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	archive_entry_copy_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, TAR_MODE);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, TAR_MTIME, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		rc = ar_err(w, err, "write a header to");
		goto out;
	}
	if (data_offset)
		*data_offset = w->bytes;
	while (left > 0) {
		la_ssize_t n = archive_write_data(w->a, p, left);
		if (n <= 0) {
			rc = ar_err(w, err, "write");
			goto out;
		}
		p += n;
		left -= (size_t)n;
	}
	if (archive_write_finish_entry(w->a) != ARCHIVE_OK) {
		rc = ar_err(w, err, "write");
		goto out;
	}
	if (flush)
		rc = ts_shard_writer_flush(w, err);
out:
	archive_entry_free(e);
	return rc;
}

int ts_shard_writer_add(struct ts_shard_writer *w, const char *name,
			const void *data, size_t len, uint64_t *data_offset,
			struct ts_err *err)
{
	return add_member(w, name, data, len, data_offset, 1, err);
}

int ts_shard_writer_add_buffered(struct ts_shard_writer *w, const char *name,
				 const void *data, size_t len, uint64_t *data_offset,
				 struct ts_err *err)
{
	return add_member(w, name, data, len, data_offset, 0, err);
}

int ts_shard_writer_flush(struct ts_shard_writer *w, struct ts_err *err)
{
	if (w->sql || !w->blen)
		return TS_OK;
	if (w->failed)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "cannot write '%s': an earlier write failed", w->tmp);
	if (flush_buf(w)) {
		w->failed = 1;
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot write '%s': %s", w->tmp,
				  strerror(w->write_errno));
	}
	return TS_OK;
}

uint64_t ts_shard_writer_bytes(const struct ts_shard_writer *w)
{
	if (w->sql)
		return ts_sqlshard_bytes(w->sql);
	return w->bytes;
}

static int fsync_dir(const char *dir, struct ts_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s",
				  dir, strerror(errno));
	if (ts_io_fsync(fd) && errno != EINVAL && errno != EROFS) {
		int e = errno;
		close(fd);
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot sync '%s': %s",
				  dir, strerror(e));
	}
	close(fd);
	return TS_OK;
}

int ts_shard_writer_finish(struct ts_shard_writer *w, uint64_t *total_bytes,
			   char *hash_hex, struct ts_err *err)
{
	return ts_shard_writer_finish_md5(w, total_bytes, hash_hex, NULL, err);
}

int ts_shard_writer_finish_md5(struct ts_shard_writer *w, uint64_t *total_bytes,
			       char *hash_hex, char *md5_hex, struct ts_err *err)
{
	int rc = TS_OK;

	if (md5_hex)
		md5_hex[0] = '\0';
	if (w->sql) {
		rc = ts_sqlshard_finish(w->sql, total_bytes, hash_hex, err);
		free(w);
		return rc;
	}
	if (w->failed) {
		rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				"cannot finish '%s': an earlier write failed", w->tmp);
		goto fail;
	}
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		rc = ar_err(w, err, "finish");
		goto fail;
	}
	if (flush_buf(w)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot write '%s': %s", w->tmp,
				strerror(w->write_errno));
		goto fail;
	}
	if (w->bytes % 512) {
		rc = ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				"cannot finish '%s': size %llu is not a multiple of 512",
				w->tmp, (unsigned long long)w->bytes);
		goto fail;
	}
	if (ts_io_fsync(w->fd)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot sync '%s': %s",
				w->tmp, strerror(errno));
		goto fail;
	}
	if (close(w->fd)) {
		w->fd = -1;
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot close '%s': %s",
				w->tmp, strerror(errno));
		goto fail;
	}
	w->fd = -1;
	if (ts_io_rename(w->tmp, w->final)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot rename '%s' to '%s': %s",
				w->tmp, w->final, strerror(errno));
		goto fail;
	}
	w->tmp[0] = '\0';   /* renamed: nothing left to remove */
	if ((rc = fsync_dir(w->dir, err)))
		goto fail;
	if (total_bytes)
		*total_bytes = w->bytes;
	if (hash_hex)
		ts_hasher_hex(w->hash, hash_hex);
	if (md5_hex) {
		static const char digits[] = "0123456789abcdef";
		uint8_t dig[MD5_DIGEST_LENGTH];
		MD5Final(dig, &w->md5);
		for (int i = 0; i < MD5_DIGEST_LENGTH; i++) {
			md5_hex[2 * i] = digits[dig[i] >> 4];
			md5_hex[2 * i + 1] = digits[dig[i] & 15];
		}
		md5_hex[2 * MD5_DIGEST_LENGTH] = '\0';
	}
	writer_free(w, 0);
	return TS_OK;
fail:
	writer_free(w, 1);
	return rc;
}

void ts_shard_writer_abort(struct ts_shard_writer *w)
{
	if (w && w->sql) {
		ts_sqlshard_abort(w->sql);
		free(w);
		return;
	}
	writer_free(w, 1);
}

const char *ts_store_ext(enum ts_store store)
{
	return store == TS_STORE_SQLITE ? "sqlite" : "tar";
}

int ts_shard_writer_open_store(struct ts_shard_writer **out, const char *shards_dir,
			       unsigned index, int digits, enum ts_store store, struct ts_err *err)
{
	struct ts_shard_writer *w;
	int rc;
	if (store != TS_STORE_SQLITE)
		return writer_open(out, shards_dir, index, digits, err);
	w = calloc(1, sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	w->fd = -1;
	if ((rc = ts_sqlshard_open(&w->sql, shards_dir, index, digits, err))) {
		free(w);
		return rc;
	}
	*out = w;
	return TS_OK;
}

static int is_sqlite_shard(const char *path)
{
	size_t n = strlen(path);
	return n > 7 && !strcmp(path + n - 7, ".sqlite");
}

int ts_shard_foreach(const char *path, int (*fn)(const struct ts_tar_member *m, void *user),
		     void *user, struct ts_err *err)
{
	if (is_sqlite_shard(path))
		return ts_sqlshard_foreach(path, fn, user, err);
	return ts_tar_foreach(path, 1ULL << 36, fn, user, err);
}

int ts_shard_read_member(const char *path, const char *name, uint64_t offset, uint64_t size,
			 uint8_t **data, size_t *len, struct ts_err *err)
{
	int fd;
	size_t got = 0;
	if (is_sqlite_shard(path))
		return ts_sqlshard_read(path, name, data, len, err);
	if (size > SIZE_MAX - 1 || !(*data = malloc(size ? (size_t)size : 1)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(*data);
		*data = NULL;
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", path, strerror(errno));
	}
	while (got < size) {
		ssize_t r = pread(fd, *data + got, (size_t)size - got, (off_t)(offset + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			free(*data);
			*data = NULL;
			return ts_err_set(err, TS_ERR_IO, TS_R_NONE,
					  "cannot read member '%s' at %llu of '%s'", name,
					  (unsigned long long)offset, path);
		}
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return TS_OK;
}
