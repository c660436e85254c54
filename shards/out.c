/*
 * out.c - the output dataset (see out.h): one set-up, lock, resume and
 * close for every command that writes a dataset.
 *
 * What must always hold:
 * - nothing is removed before every check passed (ownership, inputs, lock,
 *   fingerprint);
 * - a file is removed only when tessera named it: the catalog and its
 *   journals, the lock, the shard files the catalog lists (with their
 *   temporary names and sidecars), sizes.json and shardindex.json;
 * - after a kill at any moment the same command resumes: an OUTDIR that
 *   holds only what tessera creates (lock, empty shards/, a catalog with
 *   no run finished) is ours to go on with.
 */
#include "shards/out.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shards/dataset.h"

struct ts_out {
	struct ts_out_opts o;
	char dir[PATH_MAX];
	char shards_dir[PATH_MAX + 16];
	int lockfd;
	struct ts_catalog *cat;
	struct ts_dsw *w;
	int64_t run_id;
	uint64_t resume_record;
	unsigned resume_shards;
	int finished;
};

static void hook(struct ts_out *o, const char *point)
{
	if (o->o.hook)
		o->o.hook(o->o.hook_user, point);
}

static int mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -1;
	return 0;
}

/* The names tessera creates at the top of OUTDIR. */
static int ours_top(const char *n)
{
	static const char *const names[] = {
		".tessera.lock", "catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm",
		"catalog.sqlite-journal", "shards", ".rewrite.tmp", NULL,
	};
	for (int i = 0; names[i]; i++)
		if (!strcmp(n, names[i]))
			return 1;
	return 0;
}

/* A shard-directory name tessera writes: NNNNNN.tar|sqlite (and the
 * temporary .NNNNNN.tar.tmp), NNNNNN.idx, NNNNNN_stats.json, sizes.json,
 * shardindex.json, and their ".tmp" while being written. */
static int ours_shard_name(const char *n)
{
	size_t len = strlen(n);
	if (len > 4 && !strcmp(n + len - 4, ".tmp"))
		len -= 4;
	if (n[0] == '.')
		n++, len--;
	if ((len == 10 && !strncmp(n, "sizes.json", 10)) || (len == 15 && !strncmp(n, "shardindex.json", 15)))
		return 1;
	if (len < 7 || strspn(n, "0123456789") != 6)
		return 0;
	const char *t = n + 6;
	size_t tl = len - 6;
	return (tl == 4 && !strncmp(t, ".tar", 4)) || (tl == 7 && !strncmp(t, ".sqlite", 7)) ||
	       (tl == 4 && !strncmp(t, ".idx", 4)) || (tl == 11 && !strncmp(t, "_stats.json", 11));
}

/* 1 when dir has entries tessera did not make (*what names one), 0 when
 * it holds only tessera's names (or nothing), -1 when it cannot be read. */
static int foreign_entry(const char *dir, int deep, char *what, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while (!found && (de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if (deep ? !ours_shard_name(nm) : !ours_top(nm)) {
			snprintf(what, n, "%s/%s", dir, nm);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

int ts_out_check_dir(const char *dir, struct ts_err *err)
{
	char what[PATH_MAX + 300], sd[PATH_MAX + 16];
	snprintf(sd, sizeof(sd), "%s/shards", dir);
	int f = foreign_entry(dir, 0, what, sizeof(what));
	if (f == 0)
		f = foreign_entry(sd, 1, what, sizeof(what));
	if (f < 0)
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read '%s': %s", dir, strerror(errno));
	if (f)
		return ts_err_set(err, TS_ERR_EXISTS, TS_R_NONE,
				  "'%s' is not empty and holds no tessera dataset (it has '%s'):"
				  " tessera writes only into a new or empty directory or its own dataset", dir, what);
	return TS_OK;
}

/* Is path (resolved) inside dir (resolved), or equal to it? */
static int path_within(const char *path, const char *dir)
{
	char rp[PATH_MAX], rd[PATH_MAX];
	if (!realpath(dir, rd))
		return 0;
	if (!realpath(path, rp)) {
		/* a missing input cannot be removed by us; a glob that is
		 * still unexpanded is not a file either */
		return 0;
	}
	size_t n = strlen(rd);
	return !strncmp(rp, rd, n) && (rp[n] == '/' || rp[n] == '\0');
}

/* Refuse inputs lying where this run may remove or rewrite files. */
static int check_inputs(const struct ts_out *o, struct ts_err *err)
{
	char cat[PATH_MAX + 32];
	snprintf(cat, sizeof(cat), "%s/catalog.sqlite", o->dir);
	for (int i = 0; i < o->o.ninputs; i++) {
		const char *in = o->o.inputs[i];
		if (!in)
			continue;
		if (path_within(in, o->shards_dir) || path_within(in, cat) || path_within(o->dir, in))
			return ts_err_set(err, TS_ERR_EXISTS, TS_R_NONE,
					  "input '%s' lies inside the output '%s' (or holds it): writing there could"
					  " remove or change it; write to another directory with -o", in, o->dir);
	}
	return TS_OK;
}

static int unlink_in(const char *dir, const char *name)
{
	char p[PATH_MAX + 300];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (unlink(p) && errno != ENOENT)
		return -1;
	return 0;
}

/* A shard the catalog dropped: its file, temporary file and sidecars. */
static int drop_shard(const char *name, void *user)
{
	const char *dir = user;
	char t[300];
	size_t base = strcspn(name, ".");
	if (strchr(name, '/') || name[0] == '.' || !ours_shard_name(name))
		return 0;   /* not a name we write: leave it alone */
	snprintf(t, sizeof(t), ".%s.tmp", name);
	int bad = unlink_in(dir, name) | unlink_in(dir, t);
	snprintf(t, sizeof(t), "%.*s.idx", (int)base, name);
	bad |= unlink_in(dir, t);
	snprintf(t, sizeof(t), "%.*s_stats.json", (int)base, name);
	bad |= unlink_in(dir, t);
	return bad;
}

/* --overwrite: every shard the catalog names, the sidecars, the catalog. */
static int remove_ours(struct ts_out *o, struct ts_err *err)
{
	char p[PATH_MAX + 64];
	struct ts_catalog *cat = NULL;
	snprintf(p, sizeof(p), "%s/catalog.sqlite", o->dir);
	if (access(p, F_OK) == 0) {
		int rc = ts_catalog_open(&cat, p, err);
		if (rc)
			return rc;
		rc = ts_catalog_foreach_shard_name(cat, -1, drop_shard, o->shards_dir, err);
		ts_catalog_close(cat);
		if (rc)
			return rc;
	}
	unlink_in(o->shards_dir, "sizes.json");
	unlink_in(o->shards_dir, "shardindex.json");
	static const char *const cat_files[] = {
		"catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.sqlite-journal", NULL,
	};
	for (int i = 0; cat_files[i]; i++)
		if (unlink_in(o->dir, cat_files[i]))
			return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot remove '%s/%s': %s",
					  o->dir, cat_files[i], strerror(errno));
	return TS_OK;
}

void ts_fingerprint_diff(const char *old_json, const char *new_json, char *buf, size_t n)
{
	json_t *a = json_loads(old_json ? old_json : "{}", 0, NULL);
	json_t *b = json_loads(new_json ? new_json : "{}", 0, NULL);
	size_t used = 0;
	const char *k;
	json_t *v;
	buf[0] = '\0';
	if (!json_is_object(a) || !json_is_object(b)) {
		snprintf(buf, n, "the catalog's options are not readable");
		goto out;
	}
	/* keys of either side, in the sorted order of the new one first */
	json_t *keys = json_object();
	json_object_foreach(a, k, v) json_object_set_new(keys, k, json_true());
	json_object_foreach(b, k, v) json_object_set_new(keys, k, json_true());
	void *iter;
	const char **names = calloc(json_object_size(keys) + 1, sizeof(*names));
	size_t nn = 0;
	for (iter = json_object_iter(keys); iter && names; iter = json_object_iter_next(keys, iter))
		names[nn++] = json_object_iter_key(iter);
	for (size_t i = 1; names && i < nn; i++)   /* insertion sort: a handful of keys */
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; names && i < nn; i++) {
		json_t *x = json_object_get(a, names[i]), *y = json_object_get(b, names[i]);
		if (x && y && json_equal(x, y))
			continue;
		char *xs = x ? json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
		char *ys = y ? json_dumps(y, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
		int w = snprintf(buf + used, used < n ? n - used : 0, "%s%s: %s -> %s", used ? "; " : "",
				 names[i], xs ? xs : "(unset)", ys ? ys : "(unset)");
		free(xs);
		free(ys);
		if (w > 0)
			used += (size_t)w;
		if (used >= n)
			break;
	}
	free(names);
	json_decref(keys);
	if (used >= n && n > 4)
		memcpy(buf + n - 4, "...", 4);
out:
	json_decref(a);
	json_decref(b);
}

int ts_out_open(struct ts_out **out, const struct ts_out_opts *opt, struct ts_err *err)
{
	struct ts_out *o;
	char p[PATH_MAX + 64];
	char *old = NULL;
	int rc = TS_OK, had_catalog;

	*out = NULL;
	if (!(o = calloc(1, sizeof(*o))))
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	o->o = *opt;
	o->lockfd = -1;
	if (snprintf(o->dir, sizeof(o->dir), "%s", opt->dir) >= (int)sizeof(o->dir) - 300) {
		free(o);
		return ts_err_set(err, TS_ERR_USAGE, TS_R_NONE, "output path too long: '%s'", opt->dir);
	}
	snprintf(o->shards_dir, sizeof(o->shards_dir), "%s/shards", o->dir);
	snprintf(p, sizeof(p), "%s/catalog.sqlite", o->dir);
	had_catalog = access(p, F_OK) == 0;

	/* 1. is it ours?  (before anything is created or removed) */
	if (!had_catalog && (rc = ts_out_check_dir(o->dir, err)))
		goto fail;
	if ((rc = check_inputs(o, err)))
		goto fail;

	/* 2. one writer at a time */
	if (mkdirs(o->shards_dir, 0755)) {
		rc = ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot create '%s': %s", o->shards_dir, strerror(errno));
		goto fail;
	}
	if ((o->lockfd = ts_dataset_lock(o->dir, 1, err)) < 0) {
		rc = err->status ? err->status : TS_ERR_IO;
		goto fail;
	}
	if (had_catalog && opt->no_resume) {
		rc = ts_err_set(err, TS_ERR_EXISTS, TS_R_NONE, "'%s' already holds a dataset; write into a new directory",
				o->dir);
		goto fail;
	}
	if (had_catalog && opt->overwrite && (rc = remove_ours(o, err)))
		goto fail;

	/* 3. the catalog, and whether this is the same job */
	if ((rc = ts_catalog_open(&o->cat, p, err)))
		goto fail;
	hook(o, "catalog-created");
	if ((rc = ts_catalog_meta_get(o->cat, opt->meta_key, &old, err)))
		goto fail;
	if (old && strcmp(old, opt->fingerprint)) {
		char diff[1024];
		ts_fingerprint_diff(old, opt->fingerprint, diff, sizeof(diff));
		rc = ts_err_set(err, TS_ERR_EXISTS, TS_R_NONE,
				"'%s' holds a dataset made with other inputs or options (%s);"
				" run the same command to resume it, or use another OUTDIR or --overwrite to start over",
				o->dir, diff);
		goto fail;
	}
	if (!old) {
		/* a catalog without this command's options: a fresh one (or one a
		 * kill left before they were stored), or another command's */
		char *any = NULL;
		static const char *const keys[] = { "ingest_options", "compose_options", "str_options",
						    "merge_options", NULL };
		for (int i = 0; !rc && keys[i] && !any; i++)
			if (strcmp(keys[i], opt->meta_key))
				rc = ts_catalog_meta_get(o->cat, keys[i], &any, err);
		if (!rc && any) {
			free(any);
			rc = ts_err_set(err, TS_ERR_EXISTS, TS_R_NONE,
					"'%s' holds a dataset written by another tessera command;"
					" use another OUTDIR (or --overwrite)", o->dir);
		}
		if (rc)
			goto fail;
		if ((rc = ts_catalog_meta_set(o->cat, opt->meta_key, opt->fingerprint, err)))
			goto fail;
	}
	if ((rc = ts_catalog_resume_drop(o->cat, &o->resume_shards, &o->resume_record, drop_shard,
					 o->shards_dir, err)))
		goto fail;
	/* temporary files of a killed run whose names the catalog holds */
	{
		DIR *d = opendir(o->shards_dir);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL)
			if (de->d_name[0] == '.' && ours_shard_name(de->d_name) && strlen(de->d_name) > 4 &&
			    !strcmp(de->d_name + strlen(de->d_name) - 4, ".tmp"))
				unlink_in(o->shards_dir, de->d_name);
		if (d)
			closedir(d);
	}
	if ((rc = ts_catalog_run_begin(o->cat, opt->command_line, opt->version, opt->fingerprint,
				       &o->run_id, err)))
		goto fail;
	hook(o, "run-begun");
	struct ts_dsw_opts dopts = {
		.shards_dir = o->shards_dir, .cat = o->cat,
		.first_shard = o->resume_shards, .first_record = o->resume_record,
		.shard_samples = opt->shard_samples, .shard_bytes = opt->shard_bytes,
		.store = opt->store, .name_digits = opt->name_digits,
		.hook = opt->hook, .hook_user = opt->hook_user,
		.retry = opt->retry, .catalog_thread = opt->catalog_thread,
	};
	if ((rc = ts_dsw_new(&o->w, &dopts, err)))
		goto fail;
	free(old);
	*out = o;
	return TS_OK;
fail:
	free(old);
	ts_catalog_close(o->cat);
	if (o->lockfd >= 0)
		close(o->lockfd);
	free(o);
	return rc;
}

uint64_t ts_out_resume_record(const struct ts_out *o) { return o->resume_record; }
unsigned ts_out_resume_shards(const struct ts_out *o) { return o->resume_shards; }
struct ts_catalog *ts_out_catalog(struct ts_out *o) { return o->cat; }
struct ts_dsw *ts_out_writer(struct ts_out *o) { return o->w; }

int ts_out_finish(struct ts_out *o, uint64_t end_record, struct ts_err *err)
{
	int rc = ts_dsw_finish(o->w, end_record, err);
	if (!rc)
		rc = ts_catalog_create_indexes(o->cat, err);
	if (!rc)
		rc = ts_dataset_write_index(o->dir, err);
	if (!rc)
		o->finished = 1;
	return rc;
}

/* Leave WAL mode so the file stands alone (read-only media have no -wal
 * or -shm to read). */
static void standalone(struct ts_catalog *cat)
{
	ts_catalog_exec(cat, "pragma wal_checkpoint(truncate)");
	ts_catalog_exec(cat, "pragma journal_mode = delete");
}

int ts_out_close(struct ts_out *o, const char *status, const char *summary_json,
		 struct ts_err *err)
{
	int rc = TS_OK;
	if (!o)
		return TS_OK;
	if (strcmp(status, "ok") || !o->finished)
		ts_dsw_discard(o->w);
	if (o->cat)
		rc = ts_catalog_run_end(o->cat, o->run_id, status, summary_json ? summary_json : "{}", err);
	ts_dsw_free(o->w);
	o->w = NULL;
	if (o->cat)
		standalone(o->cat);
	struct ts_err ce = TS_ERR_INIT;
	int crc = ts_catalog_close_checked(o->cat, &ce);
	if (crc && rc == TS_OK) {
		/* the runs row is in, but the file needs its -wal: say so (a
		 * re-run finishes the job) */
		*err = ce;
		rc = crc;
	}
	o->cat = NULL;
	if (o->lockfd >= 0)
		close(o->lockfd);
	free(o);
	return rc;
}

void ts_out_free(struct ts_out *o)
{
	struct ts_err e = TS_ERR_INIT;
	ts_out_close(o, "failed", NULL, &e);
}
