/*
 * rewrite.c - rewrite every sample of a dataset (see rewrite.h for the
 * protocol).
 *
 * The calling thread reads the samples shard by shard and submits each (a
 * copy, with the shard's path) to the ordered pool; workers read the
 * sample's members and run the command's work; this thread takes the
 * results back in record order and alone writes them, with the input's
 * rejects between them, through the shard writer.  A shard's samples are
 * all written before the shard is closed, so shard boundaries, commit
 * order and every byte are those of one thread.
 */
#include "pipeline/drivers/rewrite.h"
#include "base/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/drivers/shards_ops.h"
#include "pipeline/pool.h"
#include "shards/out.h"
#include "shards/writer.h"
#include "pipeline/util.h"

#define TMPDIR_NAME ".rewrite.tmp"

struct run {
	struct ts_dataset *ds;
	struct ts_dsw *w;
	struct ts_dataset_iter *ri;
	const struct ts_dataset_reject *r;
	const struct ts_rw_ops *ops;
	struct ts_pool *pool;
	size_t depth;              /* samples in flight at most */
	uint64_t samples, rejects;
	struct ts_err e;
};

/* One sample on the pool: the copy, its members' bytes, the work's result. */
struct item {
	struct ts_dataset_sample *s;
	char path[PATH_MAX + 64];  /* its shard */
	struct ts_rw_member in[TS_DSW_MAX_MEMBERS];
	uint8_t *data[TS_DSW_MAX_MEMBERS];
	size_t nin;
	struct ts_rw_result res;
	int rc, ran;               /* ran: the work was called (done is owed) */
	struct ts_err e;
};

/* A worker thread's context on the pool: the run and the command's own. */
struct wctx {
	const struct ts_rw_ops *ops;
	void *user;
};


static int fsync_path(const char *path, int dir)
{
	int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Remove dir and the files in it and in its shards/ (what a rewrite writes). */
static void remove_tmp(const char *dir)
{
	char p[PATH_MAX + 300];
	const char *subs[] = { "shards", "" };
	for (int k = 0; k < 2; k++) {
		snprintf(p, sizeof(p), "%s/%s", dir, subs[k]);
		DIR *d = opendir(p);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char f[PATH_MAX + 600];
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "shards"))
				continue;
			snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
			unlink(f);
		}
		if (d)
			closedir(d);
		if (k == 0)
			rmdir(p);
	}
	rmdir(dir);
}

/* Step 3 of the protocol above; safe to repeat after a crash at any point. */
static int roll_forward(const char *outdir, struct ts_err *err)
{
	char tmp[PATH_MAX], from[PATH_MAX + 300], to[PATH_MAX + 300];
	snprintf(tmp, sizeof(tmp), "%s/" TMPDIR_NAME "/shards", outdir);
	DIR *d = opendir(tmp);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || !((l > 4 && !strcmp(de->d_name + l - 4, ".tar")) ||
					      (l > 7 && !strcmp(de->d_name + l - 7, ".sqlite"))))
			continue;
		snprintf(from, sizeof(from), "%s/%s", tmp, de->d_name);
		snprintf(to, sizeof(to), "%s/shards/%s", outdir, de->d_name);
		if (rename(from, to)) {
			ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot move '%s' to '%s': %s", from, to, strerror(errno));
			closedir(d);
			return -1;
		}
		ts_crash_hook(NULL, "rewrite-moved");
	}
	if (d)
		closedir(d);
	snprintf(to, sizeof(to), "%s/shards", outdir);
	fsync_path(to, 1);
	snprintf(from, sizeof(from), "%s/" TMPDIR_NAME "/catalog.sqlite", outdir);
	if (access(from, F_OK) == 0) {
		/* the old catalog was checkpointed and closed: its -wal and -shm are
		 * empty or gone, and must not be applied to the new file */
		snprintf(to, sizeof(to), "%s/catalog.sqlite-wal", outdir);
		unlink(to);
		snprintf(to, sizeof(to), "%s/catalog.sqlite-shm", outdir);
		unlink(to);
		snprintf(to, sizeof(to), "%s/catalog.sqlite", outdir);
		if (rename(from, to))
			return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot move '%s' to '%s': %s", from, to,
					  strerror(errno));
		fsync_path(outdir, 1);
	}
	/* the dataset is whole again: READY becomes INDEX (readers may open
	 * it), and a crash before the sidecars are rewritten leaves INDEX for
	 * the next rewrite to finish */
	snprintf(from, sizeof(from), "%s/" TMPDIR_NAME "/READY", outdir);
	snprintf(to, sizeof(to), "%s/" TMPDIR_NAME "/INDEX", outdir);
	if (access(from, F_OK) == 0 && rename(from, to))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot rename '%s': %s", from, strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s/" TMPDIR_NAME, outdir);
	fsync_path(tmp, 1);
	if (ts_shards_index(outdir, 0, err))
		return -1;
	remove_tmp(tmp);
	fsync_path(outdir, 1);
	return 0;
}

static int next_reject(struct run *r)
{
	int k = ts_dataset_next_reject(r->ri, &r->r, &r->e);
	if (k <= 0)
		r->r = NULL;
	return k < 0 ? -1 : 0;
}

/* Copy the rejects with record < end. */
static int rejects_before(struct run *r, uint64_t end)
{
	while (r->r && r->r->record < end) {
		struct ts_reject_row rr = {
			.record = r->r->record, .source = r->r->source, .stage = r->r->stage,
			.reason = r->r->reason, .message = r->r->message,
			.path = r->r->path, .detail_json = r->r->detail_json,
		};
		if (ts_dsw_reject_row(r->w, &rr, &r->e) || next_reject(r))
			return -1;
		r->rejects++;
	}
	return 0;
}


/* On a worker: the sample's members, then the command's work. */
static void work_item(void *worker, void *v)
{
	struct wctx *w = worker;
	struct item *it = v;
	const struct ts_dataset_sample *s = it->s;
	int rc = TS_OK;

	if (s->nmembers > TS_DSW_MAX_MEMBERS) {
		it->rc = ts_err_set(&it->e, TS_ERR_INVALID, TS_R_NONE, "sample %s has too many members (%zu)",
				    s->key, s->nmembers);
		return;
	}
	for (size_t i = 0; i < s->nmembers && !rc; i++) {
		const char *dot = strchr(s->members[i].name, '.');
		it->in[it->nin].ext = dot ? dot + 1 : "";
		rc = ts_shard_read_member(it->path, s->members[i].name, s->members[i].offset,
					  s->members[i].size, &it->data[it->nin], &it->in[it->nin].len, &it->e);
		it->in[it->nin].data = it->data[it->nin];
		it->nin++;
	}
	if (!rc) {
		rc = w->ops->work(w->user, s, it->in, it->nin, &it->res, &it->e);
		it->ran = 1;
	}
	it->rc = rc;
}

static void item_free(struct run *r, struct item *it, int written)
{
	if (!it)
		return;
	if (it->ran && r->ops->done)
		r->ops->done(r->ops->user, it->s, &it->res, written);
	for (size_t i = 0; i < it->nin; i++)
		free(it->data[i]);
	free(it->s);
	free(it);
}

/* On this thread, in record order: the rejects before it, then the sample
 * with the members and rows the work gave. */
static int write_item(struct run *r, struct item *it)
{
	const struct ts_dataset_sample *s = it->s;
	const struct ts_rw_member *in = it->in;
	const struct ts_rw_result *res = &it->res;
	struct ts_dsw_member m[TS_DSW_MAX_MEMBERS];
	size_t nm = 0;
	int rc = TS_OK;

	if (it->rc) {
		r->e = it->e;
		return -1;
	}
	if (rejects_before(r, s->record))
		return -1;
	for (size_t i = 0; i < it->nin; i++) {
		int replaced = 0;
		for (size_t k = 0; k < res->nadd; k++)
			replaced |= !strcmp(in[i].ext, res->add[k].ext);
		int kept = !res->keep_exts;
		for (size_t k = 0; res->keep_exts && res->keep_exts[k]; k++)
			kept |= !strcmp(in[i].ext, res->keep_exts[k]);
		if (res->drop_suffix) {
			size_t a = strlen(in[i].ext), b = strlen(res->drop_suffix);
			kept &= !(a >= b && !strcmp(in[i].ext + a - b, res->drop_suffix));
		}
		if (!replaced && kept)
			m[nm++] = (struct ts_dsw_member){ in[i].ext, in[i].data, in[i].len };
	}
	for (size_t k = 0; k < res->nadd; k++) {
		if (nm == TS_DSW_MAX_MEMBERS)
			return ts_err_set(&r->e, TS_ERR_INVALID, TS_R_NONE, "sample %s would have more than %d members",
					  s->key, TS_DSW_MAX_MEMBERS);
		m[nm++] = (struct ts_dsw_member){ res->add[k].ext, res->add[k].data, res->add[k].len };
	}
	struct ts_dsw_sample ds;
	ts_dsw_sample_from(s, m, nm, &ds);
	if (res->set_text)
		ds.text = res->text;
	if (res->set_tags) {
		ds.tags = res->tags;
		ds.ntags = res->ntags;
	}
	if (res->set_scores) {
		ds.scores = res->scores;
		ds.nscores = res->nscores;
	}
	rc = ts_dsw_sample(r->w, &ds, &r->e);
	r->samples++;
	return rc ? -1 : 0;
}

/* Take back the oldest sample and write it; -1 when it or the write failed
 * (r->e says why). */
static int take_one(struct run *r)
{
	struct item *it = ts_pool_next(r->pool, 1);
	int rc = write_item(r, it);
	item_free(r, it, rc == 0);
	return rc;
}

/* Every sample in flight, written; after a failure, only freed. */
static int drain(struct run *r, int write)
{
	int rc = 0;
	while (ts_pool_inflight(r->pool) > 0) {
		if (write && rc == 0) {
			rc = take_one(r);
		} else {
			item_free(r, ts_pool_next(r->pool, 1), 0);
		}
	}
	return rc;
}

/* One shard's samples: submitted in order, written in order as they come
 * back, all of them before the shard closes. */
static int rewrite_shard(struct run *r, unsigned idx)
{
	struct ts_dataset_iter *si = NULL;
	const struct ts_dataset_sample *s;
	int n, rc = 0;
	if (ts_dataset_iter_samples(r->ds, (long)idx, &si, &r->e))
		return -1;
	while ((n = ts_dataset_next_sample(si, &s, &r->e)) == 1) {
		struct item *it = calloc(1, sizeof(*it));
		if (it && !(it->s = ts_dataset_sample_dup(s))) {
			free(it);
			it = NULL;
		}
		if (!it) {
			ts_err_set(&r->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			rc = -1;
			break;
		}
		it->e = (struct ts_err)TS_ERR_INIT;
		ts_dataset_shard_path(r->ds, s->shard_name, it->path, sizeof(it->path));
		if (ts_pool_inflight(r->pool) >= r->depth && (rc = take_one(r))) {
			item_free(r, it, 0);
			break;
		}
		ts_pool_submit(r->pool, it);
	}
	ts_dataset_iter_free(si);
	if (n < 0)
		rc = -1;
	/* the rest of the shard, or (after a failure) what is still in flight */
	if (drain(r, rc == 0))
		rc = -1;
	return rc;
}

struct shard_list {
	struct { unsigned idx; uint64_t end; } *v;   /* each shard and its end record */
	size_t n, alloc;
};

static int collect_shard(const struct ts_dataset_shard *s, void *user)
{
	struct shard_list *l = user;
	if (TS_ALLOC_GROW(l->v, l->alloc, l->n + 1))
		return -1;
	l->v[l->n].idx = s->idx;
	l->v[l->n++].end = s->end_record;
	return 0;
}

static int lock_dir(const char *dir, struct ts_err *err)
{
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/.tessera.lock", dir);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
		ts_err_set(err, TS_ERR_EXISTS, TS_R_NONE,
			   "'%s' is in use by another tessera process (or cannot be locked: %s)", dir,
			   strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Did a killed in-place rewrite of dir get past its decision (READY or
 * INDEX in its work directory), so that ts_rewrite_recover must finish it? */
static int rewrite_pending(const char *dir)
{
	char a[PATH_MAX + 64], b[PATH_MAX + 64];
	snprintf(a, sizeof(a), "%s/" TMPDIR_NAME "/READY", dir);
	snprintf(b, sizeof(b), "%s/" TMPDIR_NAME "/INDEX", dir);
	return access(a, F_OK) == 0 || access(b, F_OK) == 0;
}

int ts_rewrite_recover(const char *dir, struct ts_err *err)
{
	char work[PATH_MAX];
	snprintf(work, sizeof(work), "%s/" TMPDIR_NAME, dir);
	if (rewrite_pending(dir)) {
		ts_info("finishing an interrupted rewrite of '%s'", dir);
		return roll_forward(dir, err);
	}
	if (access(work, F_OK) == 0)
		remove_tmp(work);     /* an interrupted rewrite that had not decided */
	return 0;
}

/* Does the finished dataset `dir` hold this rewrite (the same meta row)
 * of the same input (the same ingest options, carried over)? */
static int same_rewrite(const char *dir, const struct ts_rw_opts *o, const char *in_opts)
{
	struct ts_dataset *fin = NULL;
	struct ts_err e = TS_ERR_INIT;
	char *m = NULL, *io = NULL;
	int same = 0;
	if (o->meta_name && o->meta_json && ts_dataset_open_flags(&fin, dir, TS_DS_NOLOCK, &e) == 0) {
		m = ts_dataset_meta(fin, o->meta_name);
		io = ts_dataset_meta(fin, "ingest_options");
		same = m && !strcmp(m, o->meta_json) &&
		       ((!io && !in_opts) || (io && in_opts && !strcmp(io, in_opts)));
	}
	free(m);
	free(io);
	ts_dataset_close(fin);
	return same;
}

int ts_rewrite(const struct ts_rw_opts *o, const struct ts_rw_ops *ops, struct ts_rw_stats *st,
	       struct ts_err *err)
{
	struct run r = { .ops = ops, .e = TS_ERR_INIT };
	struct wctx *wc = NULL;
	void **wv = NULL;
	int threads = ops->threads > 1 ? ops->threads : 0;
	struct shard_list sl = { 0 };
	struct ts_catalog *cat = NULL;
	const char *indir = o->indir, *out = o->outdir;
	char work[PATH_MAX], path[PATH_MAX + 64], *opts_meta = NULL;
	int rc = TS_ERR_IO, lock_in = -1, lock_out = -1, store = TS_STORE_TAR;
	int64_t run_id = 0;
	double t0 = ts_now();
	struct stat sb;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/catalog.sqlite", indir);
	if (stat(path, &sb)) {
		return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' is not a tessera dataset (no catalog.sqlite)",
				  indir);
	}
	if (!out || rewrite_pending(indir)) {
		/* in place (or an in-place rewrite a kill left, finished first):
		 * INDIR is ours to write; its catalog is checkpointed (and an old
		 * schema upgraded) before it is read */
		if ((lock_in = lock_dir(indir, err)) < 0)
			return TS_ERR_EXISTS;
		if (ts_rewrite_recover(indir, &r.e) || ts_catalog_open(&cat, path, &r.e))
			goto done;
		ts_catalog_close(cat);
		cat = NULL;
	} else if ((lock_in = ts_dataset_lock(indir, 0, err)) == -1) {
		/* with -o, INDIR is only read, as by any reader: a shared lock
		 * (none on read-only storage), nothing written, so a dataset on a
		 * read-only mount can be rewritten into a new one */
		return err->status ? err->status : TS_ERR_EXISTS;
	}
	if (ts_dataset_open_flags(&r.ds, indir, TS_DS_NOLOCK, &r.e))
		goto done;
	opts_meta = ts_dataset_meta(r.ds, "ingest_options");
	if (opts_meta) {
		json_t *j = json_loads(opts_meta, 0, NULL);
		const char *sto = json_string_value(json_object_get(j, "store"));
		store = sto && !strcmp(sto, "sqlite") ? TS_STORE_SQLITE : TS_STORE_TAR;
		json_decref(j);
	}
	if (out) {
		snprintf(path, sizeof(path), "%s/catalog.sqlite", out);
		if (stat(path, &sb) == 0) {
			/* finish a move a killed run left (its sidecars), then: the
			 * same rewrite of the same input, finished, is nothing to do */
			if ((lock_out = lock_dir(out, &r.e)) < 0 || ts_rewrite_recover(out, &r.e))
				goto done;
			if (same_rewrite(out, o, opts_meta)) {
				ts_info("'%s' already holds this %s of '%s'", out, o->what, indir);
				st->already = 1;
				rc = TS_OK;
			} else {
				rc = ts_err_set(&r.e, TS_ERR_EXISTS, TS_R_NONE,
						"'%s' already holds a dataset; write into a new directory", out);
			}
			goto done;
		}
		/* a killed rewrite's .rewrite.tmp is ours; anything else is not */
		if (ts_out_check_dir(out, &r.e))
			goto done;
		if (ts_mkdirs(out, 0755)) {
			ts_err_set(&r.e, TS_ERR_IO, TS_R_NONE, "cannot create '%s': %s", out, strerror(errno));
			goto done;
		}
		if ((lock_out = lock_dir(out, &r.e)) < 0 || ts_rewrite_recover(out, &r.e))
			goto done;
		/* finished by the recovery (an earlier run was killed after READY):
		 * done, when that run was this same command */
		if (stat(path, &sb) == 0) {
			if (same_rewrite(out, o, opts_meta)) {
				ts_info("'%s': finished the interrupted %s", out, o->what);
				st->already = 1;
				rc = TS_OK;
			} else {
				rc = ts_err_set(&r.e, TS_ERR_EXISTS, TS_R_NONE,
						"'%s' already holds a dataset; write into a new directory", out);
			}
			goto done;
		}
		snprintf(path, sizeof(path), "%s/shards", out);
		if (ts_mkdirs(path, 0755)) {
			ts_err_set(&r.e, TS_ERR_IO, TS_R_NONE, "cannot create '%s': %s", path, strerror(errno));
			goto done;
		}
	}
	/* the new dataset is built aside in TARGET/.rewrite.tmp and moved in
	 * once complete, also for -o: a killed run never leaves a dataset
	 * that looks whole */
	snprintf(work, sizeof(work), "%s/" TMPDIR_NAME, out ? out : indir);
	if (ts_dataset_foreach_shard(r.ds, collect_shard, &sl, &r.e)) {
		if (!r.e.msg[0])
			ts_err_set(&r.e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto done;
	}
	snprintf(path, sizeof(path), "%s/shards", work);
	if (ts_mkdirs(path, 0755)) {
		ts_err_set(&r.e, TS_ERR_IO, TS_R_NONE, "cannot create '%s': %s", path, strerror(errno));
		goto done;
	}
	snprintf(path, sizeof(path), "%s/catalog.sqlite", work);
	{
		/* the meta rows of the input carry over */
		struct ts_dataset *ds = r.ds;
		static const char *const keep[] = { "ingest_options", "split", "tags" };
		if (ts_catalog_open(&cat, path, &r.e))
			goto done;
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
			char *v = ts_dataset_meta(ds, keep[k]);
			int bad = v && ts_catalog_meta_set(cat, keep[k], v, &r.e);
			free(v);
			if (bad)
				goto done;
		}
	}
	if ((o->meta_name && ts_catalog_meta_set(cat, o->meta_name, o->meta_json, &r.e)) ||
	    ts_catalog_run_begin(cat, o->command, TS_VERSION, o->meta_json ? o->meta_json : "{}", &run_id, &r.e))
		goto done;
	snprintf(path, sizeof(path), "%s/shards", work);
	struct ts_dsw_opts dopts = { .shards_dir = path, .cat = cat, .shard_samples = UINT64_MAX,
				     .shard_bytes = UINT64_MAX, .store = store,
				     .hook = ts_crash_hook };
	if (ts_dsw_new(&r.w, &dopts, &r.e) || ts_dataset_iter_rejects(r.ds, &r.ri, &r.e) || next_reject(&r))
		goto fail;
	/* one pool for the run; -j 1: every sample on this thread */
	r.depth = threads ? 4 * (size_t)threads + 4 : 1;
	wc = calloc(threads ? (size_t)threads : 1, sizeof(*wc));
	wv = calloc(threads ? (size_t)threads : 1, sizeof(*wv));
	for (int t = 0; wc && wv && t < (threads ? threads : 1); t++) {
		wc[t] = (struct wctx){ ops, ops->workers ? ops->workers[t] : NULL };
		wv[t] = &wc[t];
	}
	if (!wc || !wv || ts_pool_new(&r.pool, threads, r.depth, work_item, wv)) {
		ts_err_set(&r.e, TS_ERR_NOMEM, TS_R_NONE, "cannot start worker threads");
		goto fail;
	}
	uint64_t end = 0;
	int tty = ts_verbosity >= 1 && isatty(2);
	ts_signals_catch();
	for (size_t k = 0; k < sl.n; k++) {
		if (ts_stop_requested)
			goto fail;
		if (rewrite_shard(&r, sl.v[k].idx) || rejects_before(&r, sl.v[k].end) ||
		    ts_dsw_finish(r.w, sl.v[k].end, &r.e))
			goto fail;
		end = sl.v[k].end;
		if (tty)
			fprintf(stderr, "\r%s: %zu/%zu shards, %" PRIu64 " samples", o->what, k + 1, sl.n, r.samples);
	}
	if (tty && sl.n)
		fputc('\n', stderr);
	if (rejects_before(&r, UINT64_MAX) || ts_dsw_finish(r.w, end, &r.e) ||
	    ts_catalog_create_indexes(cat, &r.e))
		goto fail;
	struct ts_dsw_stats ds;
	ts_dsw_stats(r.w, &ds);
	char *summary = ts_json_canonical(json_pack("{s:I, s:I, s:f}", "samples", (json_int_t)r.samples,
						    "rejects", (json_int_t)r.rejects, "seconds", ts_now() - t0));
	ts_catalog_run_end(cat, run_id, "ok", summary ? summary : "{}", &r.e);
	free(summary);
	ts_dsw_free(r.w);
	r.w = NULL;
	int crc = ts_catalog_close_checked(cat, &r.e);
	cat = NULL;
	if (crc) {
		/* the new catalog is not whole without its -wal: start over next time */
		remove_tmp(work);
		goto done;
	}
	ts_dataset_iter_free(r.ri);
	r.ri = NULL;
	ts_dataset_close(r.ds);
	r.ds = NULL;
	{
		snprintf(path, sizeof(path), "%s/catalog.sqlite", work);
		fsync_path(path, 0);
		snprintf(path, sizeof(path), "%s/READY", work);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || fsync(fd)) {
			ts_err_set(&r.e, TS_ERR_IO, TS_R_NONE, "cannot create '%s': %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto done;
		}
		close(fd);
		fsync_path(work, 1);
		ts_crash_hook(NULL, "rewrite-ready");
		if (roll_forward(out ? out : indir, &r.e))
			goto done;
	}
	st->samples = r.samples;
	st->rejects = r.rejects;
	st->shards = ds.shards;
	st->seconds = ts_now() - t0;
	rc = TS_OK;
	goto done;
fail:
	if (r.pool)
		drain(&r, 0);
	if (ts_stop_requested && !r.e.msg[0]) {
		/* nothing was decided: the dataset stays as it was */
		ts_info("%s interrupted: '%s' is unchanged", o->what, out ? out : indir);
		rc = TS_RW_INTERRUPTED;
	} else if (!r.e.msg[0]) {
		ts_err_set(&r.e, TS_ERR_INTERNAL, TS_R_NONE, "rewrite failed");
	}
	ts_dsw_discard(r.w);
	if (cat) {
		struct ts_err e2 = TS_ERR_INIT;      /* r.e says why it failed */
		ts_catalog_run_end(cat, run_id, ts_stop_requested ? "interrupted" : "failed", "{}", &e2);
	}
	ts_dsw_free(r.w);
	r.w = NULL;
	ts_catalog_close(cat);
	cat = NULL;
	remove_tmp(work);
done:
	ts_signals_restore();
	ts_pool_free(r.pool);     /* before the workers' contexts go */
	free(wc);
	free(wv);
	ts_dsw_free(r.w);
	ts_dataset_iter_free(r.ri);
	ts_catalog_close(cat);
	ts_dataset_close(r.ds);
	free(sl.v);
	free(opts_meta);
	if (lock_out >= 0)
		close(lock_out);
	if (lock_in >= 0)
		close(lock_in);
	if (rc < 0) {
		if (!r.e.msg[0])
			ts_err_set(&r.e, rc, TS_R_NONE, "rewrite failed");
		*err = r.e;
		rc = err->status < 0 ? err->status : TS_ERR_IO;
	}
	return rc;
}
