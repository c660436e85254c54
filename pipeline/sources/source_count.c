/*
 * source_count.c - cheap record counts for progress totals (ts_source_count).
 *
 * One fast pass over a regular file, without parsing records: non-blank
 * lines of a JSONL file, non-blank lines after the header of a CSV/TSV
 * (a quoted field holding newlines makes it an overestimate), elements of
 * a ShareGPT4V array (bracket depth and string state only), samples of a
 * WebDataset tar (member headers only, data skipped, members grouped by
 * key as the reader does).  Formats that know their count at open (folder,
 * urban1k, coco) keep it.  What must hold: nothing here can fail a run; an
 * unreadable or odd file gives -1 (unknown), and a pipe or other
 * non-regular file is never read (that would consume its records).
 */
#include "pipeline/sources/source_impl.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COUNT_CHUNK (1 << 20)

/* Non-blank lines (a line of only spaces, tabs and CR is blank). */
static int64_t count_lines(FILE *f, char *buf)
{
	int64_t n = 0;
	int content = 0;       /* the current line has a non-blank byte */
	size_t got;
	while ((got = fread(buf, 1, COUNT_CHUNK, f)) > 0) {
		const char *p = buf, *end = buf + got;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *stop = nl ? nl : end;
			for (const char *q = p; !content && q < stop; q++)
				content = *q != ' ' && *q != '\t' && *q != '\r';
			if (!nl)
				break;
			n += content;
			content = 0;
			p = nl + 1;
		}
	}
	return ferror(f) ? -1 : n + content;
}

/* Elements of the top-level JSON array: commas at depth 1 outside strings,
 * plus one when the array holds anything (a trailing comma is tolerated). */
static int64_t count_array(FILE *f, char *buf)
{
	int64_t commas = 0;
	int depth = 0, in_str = 0, esc = 0, any = 0, last_comma = 0, done = 0;
	size_t got;
	while (!done && (got = fread(buf, 1, COUNT_CHUNK, f)) > 0) {
		for (size_t i = 0; i < got && !done; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (in_str) {
				if (esc)
					esc = 0;
				else if (c == '\\')
					esc = 1;
				else if (c == '"')
					in_str = 0;
				continue;
			}
			if (c == '"') {
				in_str = 1;
			} else if (c == '[' || c == '{') {
				depth++;
			} else if (c == ']' || c == '}') {
				if (--depth == 0)
					done = 1;
			} else if (c == ',' && depth == 1) {
				commas++;
				last_comma = 1;
				continue;
			}
			if (depth >= 1 && !(depth == 1 && (c == '[' || c == ' ' || c == '\n' || c == '\t' ||
							   c == '\r' || c == ']')))
				any = 1, last_comma = 0;
		}
	}
	if (ferror(f) || !done)
		return -1;
	return any ? commas + 1 - last_comma : 0;
}

/* The key of a member name (up to the first dot of its basename); its
 * length, or 0 when the name belongs to no sample. */
static size_t key_len(const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *dot = strchr(base, '.');
	return dot && dot != base ? (size_t)(dot - name) : 0;
}

/* Samples of a tar: runs of consecutive members with the same key. */
static int64_t count_tar(const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *prev = NULL;
	int64_t n = 0;
	int r;
	if (!a)
		return -1;
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
		archive_read_free(a);
		return -1;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(e);
		size_t k = name ? key_len(name) : 0;
		if (k && (!prev || strlen(prev) != k || strncmp(prev, name, k))) {
			free(prev);
			if (!(prev = strndup(name, k))) {
				n = -1;
				break;
			}
			n++;
		}
		if (archive_read_data_skip(a) != ARCHIVE_OK)
			break;
	}
	free(prev);
	archive_read_free(a);
	return n;
}

int64_t ts_src_count_cheap(const struct ts_source *src)
{
	struct stat st;
	int64_t n = -1;
	if (stat(src->input, &st) || !S_ISREG(st.st_mode))
		return -1;
	if (src->format == TS_INPUT_WDS)
		return count_tar(src->input);
	if (src->format != TS_INPUT_JSONL && src->format != TS_INPUT_CSV && src->format != TS_INPUT_TSV &&
	    src->format != TS_INPUT_SHAREGPT4V)
		return -1;
	FILE *f = fopen(src->input, "rb");
	char *buf = malloc(COUNT_CHUNK);
	if (f && buf) {
		if (src->format == TS_INPUT_SHAREGPT4V) {
			n = count_array(f, buf);
		} else {
			n = count_lines(f, buf);
			if (src->format != TS_INPUT_JSONL && n > 0)
				n--;    /* the header row */
		}
	}
	free(buf);
	if (f)
		fclose(f);
	return n;
}
