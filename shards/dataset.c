/*
 * dataset.c - read-only access to a tessera dataset (see dataset.h).
 *
 * Opens OUTDIR/catalog.sqlite read-only (mode=ro), so a reader never
 * changes a dataset; on read-only media where SQLite cannot open a WAL
 * catalog (no -shm can be made) it falls back to immutable=1.  A reader
 * holds a shared lock on OUTDIR/.tessera.lock, so a rewrite in place (which
 * takes it exclusively) never runs under it.  Every query is in record
 * order so callers can merge several datasets with a simple k-way merge.
 * Names read from the catalog are checked before they become paths.
 */
#include "base/buf.h"
#include "shards/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include "shards/shards.h"


struct ts_dataset {
	int lockfd;                /* shared lock, or < 0 */
	char dir[PATH_MAX];
	char catalog[PATH_MAX + 32];
	sqlite3 *db;
	int version;               /* PRAGMA user_version */
	int extra_tables;          /* tags, tag_scores and compositions exist */
};

static int db_err(struct ts_dataset *ds, struct ts_err *err, const char *what)
{
	return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot %s '%s': %s", what,
			  ds->catalog, sqlite3_errmsg(ds->db));
}

/* "file:PATH?immutable=1" with the URI's special characters escaped. */
static void immutable_uri(const char *path, char *buf, size_t n)
{
	size_t u = 0;
	u += (size_t)snprintf(buf, n, "file:");
	for (const char *p = path; *p && u + 4 < n; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f)
			u += (size_t)snprintf(buf + u, n - u, "%%%02X", c);
		else
			buf[u++] = (char)c;
	}
	snprintf(buf + (u < n ? u : n - 1), n - (u < n ? u : n - 1), "?immutable=1");
}

/* Open read-only; a catalog SQLite cannot read that way (WAL on read-only
 * media) is opened immutable. */
static int open_db(struct ts_dataset *ds)
{
	int rc = sqlite3_open_v2(ds->catalog, &ds->db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_stmt *q = NULL;
		rc = sqlite3_prepare_v2(ds->db, "select count(*) from sqlite_master", -1, &q, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(q) == SQLITE_ROW ? SQLITE_OK : sqlite3_errcode(ds->db);
		sqlite3_finalize(q);
		if (rc == SQLITE_OK)
			return SQLITE_OK;
	}
	if ((rc & 0xff) != SQLITE_CANTOPEN && (rc & 0xff) != SQLITE_READONLY && (rc & 0xff) != SQLITE_IOERR &&
	    (rc & 0xff) != SQLITE_BUSY)
		return rc;
	char uri[PATH_MAX * 3 + 64];
	immutable_uri(ds->catalog, uri, sizeof(uri));
	sqlite3_close(ds->db);
	ds->db = NULL;
	return sqlite3_open_v2(uri, &ds->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
}

int ts_dataset_open(struct ts_dataset **out, const char *outdir, struct ts_err *err)
{
	return ts_dataset_open_flags(out, outdir, 0, err);
}

int ts_dataset_open_flags(struct ts_dataset **out, const char *outdir, int flags,
			  struct ts_err *err)
{
	struct ts_dataset *ds;
	struct stat st;
	sqlite3_stmt *q = NULL;
	int ok = 0;

	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	ds->lockfd = -1;
	snprintf(ds->dir, sizeof(ds->dir), "%s", outdir);
	snprintf(ds->catalog, sizeof(ds->catalog), "%s/catalog.sqlite", outdir);
	snprintf(ds->catalog, sizeof(ds->catalog), "%s/.rewrite.tmp/READY", outdir);
	if (stat(ds->catalog, &st) == 0) {
		ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
			   "'%s' is half-way through a rewrite by 'tessera captions split' or 'tessera tags'"
			   " (it was interrupted): run the same command again to finish it", outdir);
		free(ds);
		return TS_ERR_INVALID;
	}
	snprintf(ds->catalog, sizeof(ds->catalog), "%s/catalog.sqlite", outdir);
	if (stat(ds->catalog, &st)) {
		ts_err_set(err, TS_ERR_IO, TS_R_NONE,
			   "'%s' is not a tessera dataset (no catalog.sqlite)", outdir);
		free(ds);
		return TS_ERR_IO;
	}
	if (!(flags & TS_DS_NOLOCK)) {
		ds->lockfd = ts_dataset_lock(outdir, 0, err);
		if (ds->lockfd == -1) {
			free(ds);
			return err->status ? err->status : TS_ERR_EXISTS;
		}
	}
	if (open_db(ds) != SQLITE_OK) {
		int rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
				    "'%s' is not a tessera catalog (cannot open it: %s)", ds->catalog,
				    ds->db ? sqlite3_errmsg(ds->db) : "out of memory");
		sqlite3_close(ds->db);
		if (ds->lockfd >= 0)
			close(ds->lockfd);
		free(ds);
		return rc;
	}
	sqlite3_busy_timeout(ds->db, 10000);
	/* readers walk the catalog once, in order: a small cache is enough */
	sqlite3_exec(ds->db, "pragma cache_size = -256", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(ds->db, "select count(*) from sqlite_master where type = 'table'"
			       " and name in ('shards', 'samples', 'members', 'rejects')",
			       -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 4)
		ok = 1;
	sqlite3_finalize(q);
	q = NULL;
	if (ok && sqlite3_prepare_v2(ds->db, "pragma user_version", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		ds->version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	q = NULL;
	/* the text and compose tables (version 2; read only when present) */
	if (ok && sqlite3_prepare_v2(ds->db, "select count(*) from sqlite_master where type = 'table'"
				     " and name in ('tags', 'tag_scores', 'compositions')", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		ds->extra_tables = sqlite3_column_int(q, 0) == 3;
	sqlite3_finalize(q);
	if (!ok) {
		ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
			   "'%s' is not a tessera catalog (tables missing or file not SQLite)",
			   ds->catalog);
		sqlite3_close(ds->db);
		if (ds->lockfd >= 0)
			close(ds->lockfd);
		free(ds);
		return TS_ERR_INVALID;
	}
	*out = ds;
	return TS_OK;
}

void ts_dataset_close(struct ts_dataset *ds)
{
	if (!ds)
		return;
	sqlite3_close(ds->db);
	if (ds->lockfd >= 0)
		close(ds->lockfd);
	free(ds);
}

const char *ts_dataset_dir(const struct ts_dataset *ds)
{
	return ds->dir;
}

char *ts_dataset_shard_path(const struct ts_dataset *ds, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/shards/%s", ds->dir, name);
	return buf;
}

static const char *col_text(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return t ? (const char *)t : "";
}

int ts_dataset_last_run(struct ts_dataset *ds, char **command, char **status)
{
	sqlite3_stmt *q = NULL;
	int found = 0;
	*command = *status = NULL;
	if (sqlite3_prepare_v2(ds->db, "select command, status from runs order by id desc limit 1",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW) {
		*command = strdup(col_text(q, 0));
		*status = strdup(col_text(q, 1));
		found = *command && *status ? 1 : -1;
	}
	sqlite3_finalize(q);
	return found;
}

char *ts_dataset_meta(struct ts_dataset *ds, const char *name)
{
	sqlite3_stmt *q = NULL;
	char *v = NULL;
	if (sqlite3_prepare_v2(ds->db, "select value from meta where name = ?", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW)
			v = strdup(col_text(q, 0));
	}
	sqlite3_finalize(q);
	return v;
}

int ts_shard_name_ok(const char *name)
{
	/* 6 digits (8 with --shard-digits 8), more once the number needs them */
	size_t n = name ? strspn(name, "0123456789") : 0;
	if (n < 5 || n > 12)
		return 0;
	return !strcmp(name + n, ".tar") || !strcmp(name + n, ".sqlite");
}

static int bad_name(struct ts_dataset *ds, const char *name, struct ts_err *err)
{
	return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
			  "'%s' names a shard '%.64s', which is not a shard name (NNNNNN.tar or NNNNNN.sqlite):"
			  " the catalog is damaged or was edited", ds->catalog, name ? name : "");
}

int ts_dataset_foreach_shard(struct ts_dataset *ds,
			     int (*fn)(const struct ts_dataset_shard *s, void *user),
			     void *user, struct ts_err *err)
{
	sqlite3_stmt *q = NULL;
	int rc = 0, st;
	/* md5: NULL in catalogs written before the shard writer streamed it */
	int has_md5 = ts_dataset_has_column(ds, "shards", "md5");
	if (sqlite3_prepare_v2(ds->db, has_md5 ?
			       "select idx, name, samples, bytes, hash, complete,"
			       " first_record, end_record, md5 from shards order by idx" :
			       "select idx, name, samples, bytes, hash, complete,"
			       " first_record, end_record, null from shards order by idx",
			       -1, &q, NULL) != SQLITE_OK)
		return db_err(ds, err, "read");
	while ((st = sqlite3_step(q)) == SQLITE_ROW) {
		struct ts_dataset_shard s = {
			.idx = (unsigned)sqlite3_column_int64(q, 0), .name = col_text(q, 1),
			.samples = (uint64_t)sqlite3_column_int64(q, 2),
			.bytes = (uint64_t)sqlite3_column_int64(q, 3), .hash = col_text(q, 4),
			.complete = sqlite3_column_int(q, 5),
			.first_record = (uint64_t)sqlite3_column_int64(q, 6),
			.end_record = (uint64_t)sqlite3_column_int64(q, 7),
			.md5 = (const char *)sqlite3_column_text(q, 8),
		};
		if (!ts_shard_name_ok(s.name)) {
			rc = bad_name(ds, s.name, err);
			break;
		}
		if ((rc = fn(&s, user)))
			break;
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_err(ds, err, "read");
	sqlite3_finalize(q);
	return rc;
}

struct ts_dataset_iter {
	struct ts_dataset *ds;
	sqlite3_stmt *q, *m, *t, *sc, *cp;
	struct ts_comp_row comp;
	char *comp_text;
	int has_comp;
	struct ts_score_row *scores;
	size_t nscores, scores_cap;
	char *score_text;
	size_t score_text_cap;
	struct ts_tag_row *tags;   /* this sample's tags; strings in tag_text */
	size_t ntags, tags_cap;
	char *tag_text;
	size_t tag_text_cap;
	struct ts_dataset_member *mem;
	char (*names)[64];
	char (*hashes)[TS_HASH_HEX_LEN + 1];
	size_t cap;
	struct ts_dataset_sample s;
	struct ts_dataset_reject r;
};

void ts_dataset_iter_free(struct ts_dataset_iter *it)
{
	if (!it)
		return;
	sqlite3_finalize(it->q);
	sqlite3_finalize(it->m);
	sqlite3_finalize(it->t);
	sqlite3_finalize(it->sc);
	sqlite3_finalize(it->cp);
	free(it->comp_text);
	free(it->scores);
	free(it->score_text);
	free(it->tags);
	free(it->tag_text);
	free(it->mem);
	free(it->names);
	free(it->hashes);
	free(it);
}

int ts_dataset_iter_samples(struct ts_dataset *ds, long shard, struct ts_dataset_iter **out,
		       struct ts_err *err)
{
	struct ts_dataset_iter *it = calloc(1, sizeof(*it));
	if (!it)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	it->ds = ds;
	/* version 1 catalogs have no caption columns */
	const char *sql = ds->version >= 4
		? "select key, record, shard, width, height, orig_width,"
		  " orig_height, format, content_hash, image_hash, source, caption,"
		  " captions, (select name from shards where idx = samples.shard),"
		  " tokens, short_caption, short_tokens, split_rule, split_fallback, path, meta,"
		  " source_format, fixes"
		  " from samples where ?1 < 0 or shard = ?1 order by record"
		: ds->version == 3
		? "select key, record, shard, width, height, orig_width,"
		  " orig_height, format, content_hash, image_hash, source, caption,"
		  " captions, (select name from shards where idx = samples.shard),"
		  " tokens, short_caption, short_tokens, split_rule, split_fallback, path, meta,"
		  " null, null"
		  " from samples where ?1 < 0 or shard = ?1 order by record"
		: ds->version == 2
		? "select key, record, shard, width, height, orig_width,"
		  " orig_height, format, content_hash, image_hash, source, caption,"
		  " captions, (select name from shards where idx = samples.shard),"
		  " tokens, short_caption, short_tokens, split_rule, split_fallback, null, null, null, null"
		  " from samples where ?1 < 0 or shard = ?1 order by record"
		: "select key, record, shard, width, height, orig_width,"
		  " orig_height, format, content_hash, image_hash, source, caption,"
		  " captions, (select name from shards where idx = samples.shard),"
		  " null, null, null, null, null, null, null, null, null"
		  " from samples where ?1 < 0 or shard = ?1 order by record";
	if (sqlite3_prepare_v2(ds->db, sql, -1, &it->q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ds->db, "select name, offset, size, hash from members where key = ?"
			       " order by offset", -1, &it->m, NULL) != SQLITE_OK ||
	    (ds->extra_tables &&
	     sqlite3_prepare_v2(ds->db, "select caption, idx, lemma, text, char_start, char_end,"
				" byte_start, byte_end, tok_start, tok_end, truncated, region"
				" from tags where key = ?1 order by caption, idx", -1, &it->t, NULL) != SQLITE_OK) ||
	    (ds->extra_tables &&
	     sqlite3_prepare_v2(ds->db, "select tag, score, mask from tag_scores where key = ?1 order by tag",
				-1, &it->sc, NULL) != SQLITE_OK) ||
	    (ds->extra_tables &&
	     sqlite3_prepare_v2(ds->db, ds->version >= 6
				? "select mode, sources, regions, epoch, seed, path, join_spans from compositions where key = ?1"
				: ds->version == 5
				? "select mode, sources, regions, epoch, seed, path, null from compositions where key = ?1"
				: "select mode, sources, regions, epoch, seed, null, null from compositions where key = ?1",
				-1, &it->cp, NULL) != SQLITE_OK)) {
		int rc = db_err(ds, err, "read");
		ts_dataset_iter_free(it);
		return rc;
	}
	sqlite3_bind_int64(it->q, 1, shard);
	*out = it;
	return TS_OK;
}

/* The tags rows of key into it->tags (strings copied into it->tag_text). */
static int load_tags(struct ts_dataset_iter *it, const char *key)
{
	size_t used = 0;
	it->ntags = 0;
	if (!it->t)
		return 0;
	sqlite3_reset(it->t);
	sqlite3_bind_text(it->t, 1, key, -1, SQLITE_TRANSIENT);
	/* two passes over the rows would cost a second query; instead strings
	 * are stored as offsets first and turned into pointers at the end */
	while (sqlite3_step(it->t) == SQLITE_ROW) {
		sqlite3_stmt *t = it->t;
		const char *lemma = col_text(t, 2), *text = col_text(t, 3);
		size_t ll = strlen(lemma) + 1, tl = strlen(text) + 1;
		if (TS_ALLOC_GROW(it->tags, it->tags_cap, it->ntags + 1) ||
		    TS_ALLOC_GROW(it->tag_text, it->tag_text_cap, used + ll + tl))
			return -1;
		memcpy(it->tag_text + used, lemma, ll);
		memcpy(it->tag_text + used + ll, text, tl);
		it->tags[it->ntags++] = (struct ts_tag_row){
			.caption = sqlite3_column_int64(t, 0), .idx = sqlite3_column_int64(t, 1),
			.lemma = (const char *)(uintptr_t)used, .text = (const char *)(uintptr_t)(used + ll),
			.char_start = sqlite3_column_int64(t, 4), .char_end = sqlite3_column_int64(t, 5),
			.byte_start = sqlite3_column_int64(t, 6), .byte_end = sqlite3_column_int64(t, 7),
			.tok_start = sqlite3_column_int64(t, 8), .tok_end = sqlite3_column_int64(t, 9),
			.truncated = sqlite3_column_int(t, 10), .region = sqlite3_column_int64(t, 11),
		};
		used += ll + tl;
	}
	for (size_t i = 0; i < it->ntags; i++) {
		it->tags[i].lemma = it->tag_text + (uintptr_t)it->tags[i].lemma;
		it->tags[i].text = it->tag_text + (uintptr_t)it->tags[i].text;
	}
	return 0;
}

/* The compositions row of key, if any, into it->comp. */
static int load_comp(struct ts_dataset_iter *it, const char *key)
{
	it->has_comp = 0;
	if (!it->cp)
		return 0;
	sqlite3_reset(it->cp);
	sqlite3_bind_text(it->cp, 1, key, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(it->cp) != SQLITE_ROW)
		return 0;
	const char *m = col_text(it->cp, 0), *s = col_text(it->cp, 1), *r = col_text(it->cp, 2);
	const char *p = (const char *)sqlite3_column_text(it->cp, 5);
	const char *j = (const char *)sqlite3_column_text(it->cp, 6);
	size_t a = strlen(m) + 1, b = strlen(s) + 1, c = strlen(r) + 1, d = p ? strlen(p) + 1 : 0;
	size_t e = j ? strlen(j) + 1 : 0;
	char *t = realloc(it->comp_text, a + b + c + d + e);
	if (!t)
		return -1;
	it->comp_text = t;
	memcpy(t, m, a);
	memcpy(t + a, s, b);
	memcpy(t + a + b, r, c);
	if (p)
		memcpy(t + a + b + c, p, d);
	if (j)
		memcpy(t + a + b + c + d, j, e);
	it->comp = (struct ts_comp_row){ .mode = t, .sources_json = t + a, .regions_json = t + a + b,
					 .epoch = sqlite3_column_int64(it->cp, 3),
					 .seed = sqlite3_column_int64(it->cp, 4),
					 .path = p ? t + a + b + c : NULL,
					 .join_json = j ? t + a + b + c + d : NULL };
	it->has_comp = 1;
	return 0;
}

/* The tag_scores rows of key into it->scores. */
static int load_scores(struct ts_dataset_iter *it, const char *key)
{
	size_t used = 0;
	it->nscores = 0;
	if (!it->sc)
		return 0;
	sqlite3_reset(it->sc);
	sqlite3_bind_text(it->sc, 1, key, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(it->sc) == SQLITE_ROW) {
		const char *tag = col_text(it->sc, 0);
		const char *mask = sqlite3_column_type(it->sc, 2) == SQLITE_NULL ? NULL : col_text(it->sc, 2);
		size_t tl = strlen(tag) + 1, ml = mask ? strlen(mask) + 1 : 0;
		if (TS_ALLOC_GROW(it->scores, it->scores_cap, it->nscores + 1) ||
		    TS_ALLOC_GROW(it->score_text, it->score_text_cap, used + tl + ml))
			return -1;
		memcpy(it->score_text + used, tag, tl);
		if (mask)
			memcpy(it->score_text + used + tl, mask, ml);
		it->scores[it->nscores++] = (struct ts_score_row){
			.tag = (const char *)(uintptr_t)used, .score = sqlite3_column_double(it->sc, 1),
			.mask = mask ? (const char *)(uintptr_t)(used + tl + 1) : NULL,
		};
		used += tl + ml;
	}
	for (size_t i = 0; i < it->nscores; i++) {
		it->scores[i].tag = it->score_text + (uintptr_t)it->scores[i].tag;
		if (it->scores[i].mask)
			it->scores[i].mask = it->score_text + (uintptr_t)it->scores[i].mask - 1;
	}
	return 0;
}

int ts_dataset_next_sample(struct ts_dataset_iter *it, const struct ts_dataset_sample **out, struct ts_err *err)
{
	sqlite3_stmt *q = it->q, *m = it->m;
	size_t n = 0;
	int st = sqlite3_step(q);

	if (st == SQLITE_DONE)
		return 0;
	if (st != SQLITE_ROW)
		return db_err(it->ds, err, "read");
	if (sqlite3_column_type(q, 13) != SQLITE_NULL && !ts_shard_name_ok(col_text(q, 13)))
		return bad_name(it->ds, col_text(q, 13), err);
	sqlite3_reset(m);
	sqlite3_bind_text(m, 1, col_text(q, 0), -1, SQLITE_TRANSIENT);
	while (sqlite3_step(m) == SQLITE_ROW) {
		if (n == it->cap) {
			/* three parallel arrays of one capacity */
			size_t c1 = it->cap, c2 = it->cap, c3 = it->cap;
			if (TS_ALLOC_GROW(it->mem, c1, n + 1) || TS_ALLOC_GROW(it->names, c2, n + 1) ||
			    TS_ALLOC_GROW(it->hashes, c3, n + 1))
				return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			it->cap = c1;
		}
		snprintf(it->names[n], sizeof(it->names[n]), "%s", col_text(m, 0));
		snprintf(it->hashes[n], sizeof(it->hashes[n]), "%s", col_text(m, 3));
		it->mem[n].offset = (uint64_t)sqlite3_column_int64(m, 1);
		it->mem[n].size = (uint64_t)sqlite3_column_int64(m, 2);
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		it->mem[i].name = it->names[i];
		it->mem[i].hash = it->hashes[i];
	}
	if (load_tags(it, col_text(q, 0)) || load_scores(it, col_text(q, 0)) || load_comp(it, col_text(q, 0)))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	it->s = (struct ts_dataset_sample){
		.key = col_text(q, 0), .record = (uint64_t)sqlite3_column_int64(q, 1),
		.shard = (unsigned)sqlite3_column_int64(q, 2),
		.shard_name = col_text(q, 13),
		.width = sqlite3_column_int(q, 3), .height = sqlite3_column_int(q, 4),
		.orig_width = sqlite3_column_int(q, 5), .orig_height = sqlite3_column_int(q, 6),
		.format = col_text(q, 7), .content_hash = col_text(q, 8),
		.image_hash = col_text(q, 9), .source = col_text(q, 10),
		.caption = col_text(q, 11), .captions_json = col_text(q, 12),
		.text = {
			.tokens = sqlite3_column_type(q, 14) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 14),
			.short_caption = sqlite3_column_type(q, 15) == SQLITE_NULL ? NULL : col_text(q, 15),
			.short_tokens = sqlite3_column_type(q, 16) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 16),
			.split_rule = sqlite3_column_type(q, 17) == SQLITE_NULL ? NULL : col_text(q, 17),
			.split_fallback = sqlite3_column_type(q, 18) == SQLITE_NULL ? NULL : col_text(q, 18),
		},
		.path = sqlite3_column_type(q, 19) == SQLITE_NULL ? NULL : col_text(q, 19),
		.meta_json = sqlite3_column_type(q, 20) == SQLITE_NULL ? NULL : col_text(q, 20),
		.source_format = sqlite3_column_type(q, 21) == SQLITE_NULL ? NULL : col_text(q, 21),
		.fixes = sqlite3_column_type(q, 22) == SQLITE_NULL ? NULL : col_text(q, 22),
		.tags = it->tags, .ntags = it->ntags,
		.scores = it->scores, .nscores = it->nscores,
		.comp = it->has_comp ? &it->comp : NULL,
		.members = it->mem, .nmembers = n,
	};
	*out = &it->s;
	return 1;
}

int ts_dataset_iter_rejects(struct ts_dataset *ds, struct ts_dataset_iter **out, struct ts_err *err)
{
	struct ts_dataset_iter *it = calloc(1, sizeof(*it));
	if (!it)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	it->ds = ds;
	if (sqlite3_prepare_v2(ds->db, ds->version >= 3
			       ? "select record, source, stage, reason, message, path, detail"
				 " from rejects order by record"
			       : "select record, source, stage, reason, message, null, null"
				 " from rejects order by record", -1, &it->q, NULL) != SQLITE_OK) {
		int rc = db_err(ds, err, "read");
		ts_dataset_iter_free(it);
		return rc;
	}
	*out = it;
	return TS_OK;
}

int ts_dataset_next_reject(struct ts_dataset_iter *it, const struct ts_dataset_reject **out, struct ts_err *err)
{
	sqlite3_stmt *q = it->q;
	int st = sqlite3_step(q);
	if (st == SQLITE_DONE)
		return 0;
	if (st != SQLITE_ROW)
		return db_err(it->ds, err, "read");
	it->r = (struct ts_dataset_reject){
		.record = (uint64_t)sqlite3_column_int64(q, 0), .source = col_text(q, 1),
		.stage = col_text(q, 2), .reason = col_text(q, 3), .message = col_text(q, 4),
		.path = sqlite3_column_type(q, 5) == SQLITE_NULL ? NULL : col_text(q, 5),
		.detail_json = sqlite3_column_type(q, 6) == SQLITE_NULL ? NULL : col_text(q, 6),
	};
	*out = &it->r;
	return 1;
}

/* ts_dataset_sample_dup in two passes over the same walk: the first (base
 * NULL) only adds up the sizes, the second copies into the block. */
struct dup {
	char *base;
	size_t at;
};

static void *dup_take(struct dup *d, size_t n, size_t align)
{
	d->at = (d->at + align - 1) / align * align;
	void *p = d->base ? d->base + d->at : NULL;
	d->at += n;
	return p;
}

static const char *dup_str(struct dup *d, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = dup_take(d, n, 1);
	if (p)
		memcpy(p, s, n);
	return p;
}

static void dup_walk(struct dup *d, const struct ts_dataset_sample *s)
{
	const size_t al = _Alignof(max_align_t);
	struct ts_dataset_sample *c = dup_take(d, sizeof(*c), al);
	struct ts_dataset_sample tmp;
	if (!c)
		c = &tmp;
	*c = *s;
	struct ts_tag_row *tags = dup_take(d, s->ntags * sizeof(*tags), al);
	struct ts_score_row *scores = dup_take(d, s->nscores * sizeof(*scores), al);
	struct ts_comp_row *comp = s->comp ? dup_take(d, sizeof(*comp), al) : NULL;
	struct ts_dataset_member *members = dup_take(d, s->nmembers * sizeof(*members), al);
	struct ts_tag_row tr;
	struct ts_score_row sr;
	struct ts_comp_row cr;
	struct ts_dataset_member mr;
	c->key = dup_str(d, s->key);
	c->shard_name = dup_str(d, s->shard_name);
	c->format = dup_str(d, s->format);
	c->content_hash = dup_str(d, s->content_hash);
	c->image_hash = dup_str(d, s->image_hash);
	c->source = dup_str(d, s->source);
	c->caption = dup_str(d, s->caption);
	c->captions_json = dup_str(d, s->captions_json);
	c->path = dup_str(d, s->path);
	c->meta_json = dup_str(d, s->meta_json);
	c->source_format = dup_str(d, s->source_format);
	c->fixes = dup_str(d, s->fixes);
	c->text.short_caption = dup_str(d, s->text.short_caption);
	c->text.split_rule = dup_str(d, s->text.split_rule);
	c->text.split_fallback = dup_str(d, s->text.split_fallback);
	for (size_t i = 0; i < s->ntags; i++) {
		struct ts_tag_row *t = tags ? &tags[i] : &tr;
		*t = s->tags[i];
		t->lemma = dup_str(d, s->tags[i].lemma);
		t->text = dup_str(d, s->tags[i].text);
	}
	for (size_t i = 0; i < s->nscores; i++) {
		struct ts_score_row *t = scores ? &scores[i] : &sr;
		*t = s->scores[i];
		t->tag = dup_str(d, s->scores[i].tag);
		t->mask = dup_str(d, s->scores[i].mask);
	}
	if (s->comp) {
		struct ts_comp_row *t = comp ? comp : &cr;
		*t = *s->comp;
		t->mode = dup_str(d, s->comp->mode);
		t->sources_json = dup_str(d, s->comp->sources_json);
		t->regions_json = dup_str(d, s->comp->regions_json);
		t->path = dup_str(d, s->comp->path);
		t->join_json = dup_str(d, s->comp->join_json);
	}
	for (size_t i = 0; i < s->nmembers; i++) {
		struct ts_dataset_member *t = members ? &members[i] : &mr;
		*t = s->members[i];
		t->name = dup_str(d, s->members[i].name);
		t->hash = dup_str(d, s->members[i].hash);
	}
	c->tags = s->ntags ? tags : NULL;
	c->scores = s->nscores ? scores : NULL;
	c->comp = comp;
	c->members = s->nmembers ? members : NULL;
}

struct ts_dataset_sample *ts_dataset_sample_dup(const struct ts_dataset_sample *s)
{
	struct dup d = { NULL, 0 };
	dup_walk(&d, s);
	if (!(d.base = malloc(d.at)))
		return NULL;
	d.at = 0;
	dup_walk(&d, s);
	return (struct ts_dataset_sample *)d.base;    /* the copy is the block's start */
}

int ts_dataset_foreach_sample(struct ts_dataset *ds, long shard,
			      int (*fn)(const struct ts_dataset_sample *s, void *user),
			      void *user, struct ts_err *err)
{
	struct ts_dataset_iter *it;
	const struct ts_dataset_sample *s;
	int rc = ts_dataset_iter_samples(ds, shard, &it, err);
	if (rc)
		return rc;
	while ((rc = ts_dataset_next_sample(it, &s, err)) == 1)
		if ((rc = fn(s, user)))
			break;
	ts_dataset_iter_free(it);
	return rc;
}

int ts_dataset_foreach_reject(struct ts_dataset *ds,
			      int (*fn)(const struct ts_dataset_reject *r, void *user),
			      void *user, struct ts_err *err)
{
	struct ts_dataset_iter *it;
	const struct ts_dataset_reject *r;
	int rc = ts_dataset_iter_rejects(ds, &it, err);
	if (rc)
		return rc;
	while ((rc = ts_dataset_next_reject(it, &r, err)) == 1)
		if ((rc = fn(r, user)))
			break;
	ts_dataset_iter_free(it);
	return rc;
}

int ts_read_at(const char *path, uint64_t offset, void *buf, size_t len, struct ts_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	if (fd < 0)
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", path, strerror(errno));
	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(offset + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : 0;
			close(fd);
			return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read %zu bytes at %llu of '%s': %s",
					  len, (unsigned long long)offset, path,
					  e ? strerror(e) : "file too short");
		}
		got += (size_t)r;
	}
	close(fd);
	return TS_OK;
}

int ts_dataset_read_member(struct ts_dataset *ds, const char *key, const char *ext,
			   uint8_t **data, size_t *len, struct ts_err *err)
{
	sqlite3_stmt *q = NULL;
	char path[PATH_MAX + 64], pat[128];
	int rc;

	/* the image member is the one that is neither .txt nor .json-like text */
	if (ext)
		snprintf(pat, sizeof(pat), "%s.%s", key, ext);
	if (sqlite3_prepare_v2(ds->db, ext ?
			       "select s.name, m.offset, m.size, m.name from members m join shards s on s.idx = m.shard"
			       " where m.key = ?1 and m.name = ?2" :
			       "select s.name, m.offset, m.size, m.name from members m join shards s on s.idx = m.shard"
			       " join samples x on x.key = m.key where m.key = ?1"
			       " and m.name = m.key || '.' || (case x.format when 'jpeg' then 'jpg' else x.format end)",
			       -1, &q, NULL) != SQLITE_OK)
		return db_err(ds, err, "read");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (ext)
		sqlite3_bind_text(q, 2, pat, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_ROW) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "no member %s%s%s in '%s'",
				key, ext ? "." : " image", ext ? ext : "", ds->dir);
		sqlite3_finalize(q);
		return rc;
	}
	if (!ts_shard_name_ok(col_text(q, 0))) {
		rc = bad_name(ds, col_text(q, 0), err);
		sqlite3_finalize(q);
		return rc;
	}
	ts_dataset_shard_path(ds, col_text(q, 0), path, sizeof(path));
	uint64_t off = (uint64_t)sqlite3_column_int64(q, 1);
	uint64_t sz = (uint64_t)sqlite3_column_int64(q, 2);
	char *name = strdup(col_text(q, 3));
	sqlite3_finalize(q);
	if (!name)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	rc = ts_shard_read_member(path, name, off, sz, data, len, err);
	free(name);
	return rc;
}

/* ---- read-only queries (tessera report) ---- */

struct ts_dataset_row {
	sqlite3_stmt *q;
};

int ts_dataset_row_columns(const struct ts_dataset_row *r)
{
	return sqlite3_column_count(r->q);
}

const char *ts_dataset_row_text(const struct ts_dataset_row *r, int i)
{
	return (const char *)sqlite3_column_text(r->q, i);
}

size_t ts_dataset_row_bytes(const struct ts_dataset_row *r, int i)
{
	return (size_t)sqlite3_column_bytes(r->q, i);
}

int64_t ts_dataset_row_int(const struct ts_dataset_row *r, int i)
{
	return sqlite3_column_int64(r->q, i);
}

double ts_dataset_row_real(const struct ts_dataset_row *r, int i)
{
	return sqlite3_column_double(r->q, i);
}

int ts_dataset_row_type(const struct ts_dataset_row *r, int i)
{
	switch (sqlite3_column_type(r->q, i)) {
	case SQLITE_NULL: return 'n';
	case SQLITE_INTEGER: return 'i';
	case SQLITE_FLOAT: return 'r';
	default: return 't';
	}
}

int ts_dataset_row_is_null(const struct ts_dataset_row *r, int i)
{
	return sqlite3_column_type(r->q, i) == SQLITE_NULL;
}

int ts_dataset_query(struct ts_dataset *ds, const char *sql, const char *const *params, int nparams,
		     int (*fn)(const struct ts_dataset_row *r, void *user), void *user, struct ts_err *err)
{
	struct ts_dataset_row row = { NULL };
	int rc = 0, st;
	if (sqlite3_prepare_v2(ds->db, sql, -1, &row.q, NULL) != SQLITE_OK)
		return db_err(ds, err, "query");
	if (!sqlite3_stmt_readonly(row.q)) {
		sqlite3_finalize(row.q);
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "refusing a statement that writes to '%s'",
				  ds->catalog);
	}
	for (int i = 0; i < nparams; i++)
		sqlite3_bind_text(row.q, i + 1, params[i], -1, SQLITE_STATIC);
	while ((st = sqlite3_step(row.q)) == SQLITE_ROW)
		if ((rc = fn(&row, user)))
			break;
	if (!rc && st != SQLITE_DONE)
		rc = db_err(ds, err, "query");
	sqlite3_finalize(row.q);
	return rc;
}

int ts_dataset_has_column(struct ts_dataset *ds, const char *table, const char *column)
{
	sqlite3_stmt *q = NULL;
	int found = 0;
	if (sqlite3_prepare_v2(ds->db, "select 1 from pragma_table_info(?1) where name = ?2", -1, &q,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, column, -1, SQLITE_STATIC);
		found = sqlite3_step(q) == SQLITE_ROW;
	}
	if (!column && q) {
		sqlite3_finalize(q);
		q = NULL;
		if (sqlite3_prepare_v2(ds->db, "select 1 from sqlite_master where type = 'table' and name = ?1",
				       -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
			found = sqlite3_step(q) == SQLITE_ROW;
		}
	}
	sqlite3_finalize(q);
	return found;
}

int ts_dataset_version(const struct ts_dataset *ds)
{
	return ds->version;
}

int ts_dataset_lock(const char *dir, int exclusive, struct ts_err *err)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/.tessera.lock", dir);
	int fd = open(path, exclusive ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0644);
	if (fd < 0 && !exclusive)
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (!exclusive && (errno == EROFS || errno == EACCES || errno == ENOENT))
			return -2;   /* read-only media: nobody can be writing it */
		ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot create '%s': %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB)) {
		close(fd);
		ts_err_set(err, TS_ERR_EXISTS, TS_R_NONE,
			   exclusive ? "'%s' is in use by another tessera process"
				     : "'%s' is being written by another tessera process; try again when it is done",
			   dir);
		return -1;
	}
	return fd;
}
