/*
 * tar_reader.c - walk the members of a tar file with libarchive.
 *
 * Reads ustar, pax and GNU tar (uncompressed, so data offsets are offsets
 * in the file).  A member's data offset is the raw stream position right
 * after archive_read_next_header(), which has consumed every header block
 * of the member (extended ones included) and nothing of its data; the
 * writer's tests check this against the bytes.  Nothing is allocated for a
 * member before its size has been checked against max_member and against
 * what is left of the file, so a corrupt header cannot ask for gigabytes.
 * A file that ends without the two zero blocks is reported as truncated.
 */
#include "shards/shards.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int member_type(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return 3;
	switch (archive_entry_filetype(e)) {
	case AE_IFREG: return 0;
	case AE_IFDIR: return 1;
	case AE_IFLNK: return 2;
	default: return 4;
	}
}

static int ar_err(struct archive *a, struct ts_err *err, const char *path, uint64_t at)
{
	const char *s = archive_error_string(a);
	int e = archive_errno(a);
	int status = e == ENOMEM ? TS_ERR_NOMEM :
		     (e == EIO || e == EACCES || e == ENOENT || e == EPERM || e == EISDIR) ?
		     TS_ERR_IO : TS_ERR_INVALID;   /* format errors: EILSEQ, -1 */
	enum ts_reason why = status != TS_ERR_INVALID ? TS_R_NONE
		: s && strstr(s, "runcated") ? TS_R_RECORD_TRUNCATED_TAR : TS_R_RECORD_BAD_TAR;
	return ts_err_set(err, status, why, "cannot read '%s' at byte %llu: %s", path,
			  (unsigned long long)at, s ? s : "unknown libarchive error");
}

struct ts_tar_reader {
	struct archive *a;
	char *path;
	uint8_t *buf;
	size_t cap;
	uint64_t file_size, member_end, max_member;
	int done;
	int failed;             /* a format error: nothing more is read */
};

void ts_tar_close(struct ts_tar_reader *t)
{
	if (!t)
		return;
	if (t->a)
		archive_read_free(t->a);
	free(t->buf);
	free(t->path);
	free(t);
}

int ts_tar_open(struct ts_tar_reader **out, const char *path, uint64_t max_member,
		struct ts_err *err)
{
	struct ts_tar_reader *t;
	struct stat st;
	int rc;

	if (stat(path, &st))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s",
				  path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "cannot read '%s': not a regular file", path);
	t = calloc(1, sizeof(*t));
	if (!t || !(t->path = strdup(path)) || !(t->a = archive_read_new())) {
		ts_tar_close(t);
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	t->file_size = (uint64_t)st.st_size;
	t->max_member = max_member;
	archive_read_support_format_tar(t->a);
	archive_read_support_format_gnutar(t->a);
	if (archive_read_open_filename(t->a, path, 64 * 1024) != ARCHIVE_OK) {
		rc = ar_err(t->a, err, path, 0);
		ts_tar_close(t);
		return rc;
	}
	*out = t;
	return TS_OK;
}

uint64_t ts_tar_position(const struct ts_tar_reader *t)
{
	return t ? t->member_end : 0;
}

int ts_tar_next(struct ts_tar_reader *t, struct ts_tar_member *m, struct ts_err *err)
{
	struct archive *a = t->a;
	struct archive_entry *e;
	const char *path = t->path;
	uint64_t off, at = t->member_end;
	la_int64_t size;
	int r;

	if (t->done)
		return 0;
	if (t->failed)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_RECORD_BAD_TAR,
				  "cannot read '%s': damaged at byte %llu", path,
				  (unsigned long long)at);
	r = archive_read_next_header(a, &e);
	if (r == ARCHIVE_EOF) {
		t->done = 1;
		/* libarchive takes a clean end of file after a member as the end of
		 * the archive; a tar written in full has the zero blocks after it. */
		if ((uint64_t)archive_filter_bytes(a, -1) <= t->member_end)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_RECORD_TRUNCATED_TAR,
					  "cannot read '%s': truncated tar archive at byte %llu "
					  "(no end-of-archive blocks)", path, (unsigned long long)at);
		return 0;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		t->failed = 1;
		return ar_err(a, err, path, at);
	}
	off = (uint64_t)archive_filter_bytes(a, -1);
	size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	m->name = archive_entry_pathname(e);
	if (!m->name)
		m->name = "";
	m->data = NULL;
	m->size = 0;
	m->data_offset = off;
	m->type = member_type(e);
	if (size < 0) {
		t->failed = 1;
		return ts_err_set(err, TS_ERR_INVALID, TS_R_RECORD_BAD_TAR,
				  "cannot read '%s' at byte %llu: member '%s' has a negative size",
				  path, (unsigned long long)at, m->name);
	}
	if (archive_entry_sparse_count(e) > 0) {
		/* the data stored is not the member's bytes; skip it (its stored
		 * length is not size, so the end is only known from the next
		 * header) */
		t->member_end = off;
		return ts_err_set(err, TS_ERR_UNSUPPORTED, TS_R_RECORD_BAD_TAR,
				  "cannot read '%s' at byte %llu: member '%s' is a sparse file",
				  path, (unsigned long long)at, m->name);
	}
	if (off > t->file_size || (uint64_t)size > t->file_size - off) {
		t->failed = 1;
		return ts_err_set(err, TS_ERR_INVALID, TS_R_RECORD_TRUNCATED_TAR,
				  "cannot read '%s' at byte %llu: truncated tar archive (member '%s' "
				  "of %lld bytes ends past the end of the file)",
				  path, (unsigned long long)at, m->name, (long long)size);
	}
	if ((uint64_t)size > t->max_member || (uint64_t)size > SIZE_MAX - 1) {
		/* a valid member, only too big: the next call skips its data */
		m->size = (size_t)size;
		t->member_end = off + (((uint64_t)size + 511) / 512) * 512;
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_RECORD_MEMBER_TOO_LARGE,
				  "cannot read '%s' at byte %llu: member '%s' is %lld bytes, more than "
				  "the limit of %llu", path, (unsigned long long)at, m->name,
				  (long long)size, (unsigned long long)t->max_member);
	}
	if ((size_t)size + 1 > t->cap) {
		uint8_t *nb = realloc(t->buf, (size_t)size + 1);
		if (!nb)
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		t->buf = nb;
		t->cap = (size_t)size + 1;
	}
	size_t got = 0;
	while (got < (size_t)size) {
		la_ssize_t n = archive_read_data(a, t->buf + got, (size_t)size - got);
		if (n < 0) {
			t->failed = 1;
			return ar_err(a, err, path, at);
		}
		if (n == 0) {
			t->failed = 1;
			return ts_err_set(err, TS_ERR_INVALID, TS_R_RECORD_TRUNCATED_TAR,
					  "cannot read '%s' at byte %llu: truncated tar archive (member '%s')",
					  path, (unsigned long long)at, m->name);
		}
		got += (size_t)n;
	}
	t->buf[got] = 0;   /* handy for text members; not counted in size */
	t->member_end = off + (((uint64_t)size + 511) / 512) * 512;
	m->data = t->buf;
	m->size = (size_t)size;
	return 1;
}

int ts_tar_foreach(const char *path, uint64_t max_member,
		   int (*fn)(const struct ts_tar_member *m, void *user),
		   void *user, struct ts_err *err)
{
	struct ts_tar_reader *t;
	struct ts_tar_member m;
	int rc = ts_tar_open(&t, path, max_member, err);
	if (rc)
		return rc;
	while ((rc = ts_tar_next(t, &m, err)) == 1)
		if ((rc = fn(&m, user)))
			break;
	ts_tar_close(t);
	return rc;
}
