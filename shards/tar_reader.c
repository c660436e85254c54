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
#include "shards.h"

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

static int ar_err(struct archive *a, struct ts_err *err, const char *path)
{
	const char *s = archive_error_string(a);
	int e = archive_errno(a);
	int status = e == ENOMEM ? TS_ERR_NOMEM :
		     (e == EIO || e == EACCES || e == ENOENT || e == EPERM || e == EISDIR) ?
		     TS_ERR_IO : TS_ERR_INVALID;   /* format errors: EILSEQ, -1 */
	return ts_err_set(err, status, TS_R_NONE, "cannot read '%s': %s", path,
			  s ? s : "unknown libarchive error");
}

struct ts_tar_reader {
	struct archive *a;
	char *path;
	uint8_t *buf;
	size_t cap;
	uint64_t file_size, member_end, max_member;
	int done;
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
		rc = ar_err(t->a, err, path);
		ts_tar_close(t);
		return rc;
	}
	*out = t;
	return TS_OK;
}

int ts_tar_next(struct ts_tar_reader *t, struct ts_tar_member *m, struct ts_err *err)
{
	struct archive *a = t->a;
	struct archive_entry *e;
	const char *path = t->path;
	uint64_t off;
	la_int64_t size;
	int r;

	if (t->done)
		return 0;
	r = archive_read_next_header(a, &e);
	if (r == ARCHIVE_EOF) {
		t->done = 1;
		/* libarchive takes a clean end of file after a member as the end of
		 * the archive; a tar written in full has the zero blocks after it. */
		if ((uint64_t)archive_filter_bytes(a, -1) <= t->member_end)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					  "cannot read '%s': truncated tar archive (no end-of-archive blocks)",
					  path);
		return 0;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return ar_err(a, err, path);
	off = (uint64_t)archive_filter_bytes(a, -1);
	size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	if (size < 0)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "cannot read '%s': member '%s' has a negative size",
				  path, archive_entry_pathname(e));
	if ((uint64_t)size > t->max_member || (uint64_t)size > SIZE_MAX - 1)
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_NONE,
				  "cannot read '%s': member '%s' is %lld bytes, more than the limit of %llu",
				  path, archive_entry_pathname(e), (long long)size,
				  (unsigned long long)t->max_member);
	if (off > t->file_size || (uint64_t)size > t->file_size - off)
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				  "cannot read '%s': truncated tar archive (member '%s' ends past the end of the file)",
				  path, archive_entry_pathname(e));
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
		if (n < 0)
			return ar_err(a, err, path);
		if (n == 0)
			return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					  "cannot read '%s': truncated tar archive (member '%s')",
					  path, archive_entry_pathname(e));
		got += (size_t)n;
	}
	t->buf[got] = 0;   /* handy for text members; not counted in size */
	t->member_end = off + (((uint64_t)size + 511) / 512) * 512;
	m->name = archive_entry_pathname(e);
	if (!m->name)
		m->name = "";
	m->data = t->buf;
	m->size = (size_t)size;
	m->data_offset = off;
	m->type = member_type(e);
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
