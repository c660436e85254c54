/*
 * shards_ops.c - `tessera shards verify`, `index` and `merge`.
 *
 * merge: partitions written by `ingest --part I/N` hold the records with
 * r % N == I, each in record order.  Merging them is a k-way merge by
 * record of their samples and rejects, fed to the same dataset writer
 * (dsw.c) that ingest uses, with the same shard limits; a tar shard's bytes
 * depend only on its member sequence, so the result is byte-identical to a
 * single run over the whole input, and so are the catalog rows.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shards/dataset.h"
#include "base/buf.h"
#include "shards/shards.h"
#include "shards/out.h"
#include "shards/writer.h"
#include "pipeline/drivers/shards_ops.h"
#include "pipeline/util.h"

/* ---- merge ------------------------------------------------------------------ */

struct part {
	const char *dir;
	struct ts_dataset *ds;
	struct ts_dataset_iter *si, *ri;
	const struct ts_dataset_sample *s;   /* current sample, NULL at end */
	const struct ts_dataset_reject *r;   /* current reject, NULL at end */
	uint64_t end_record;            /* end of the input as this part saw it */
	unsigned index, count;
	int fd;                         /* the tar shard being read, kept open */
	char fd_shard[32];
	uint8_t *buf;                   /* the current sample's members */
	size_t cap;
};

static int part_end_record(const struct ts_dataset_shard *s, void *user)
{
	struct part *p = user;
	if (s->end_record > p->end_record)
		p->end_record = s->end_record;
	return 0;
}

/* The options JSON without the partition fields, to compare partitions. */
static char *options_without_part(const char *opts, unsigned *index, unsigned *count)
{
	json_error_t je;
	json_t *j = json_loads(opts, 0, &je);
	char *s;
	if (!j)
		return NULL;
	*index = (unsigned)json_integer_value(json_object_get(j, "part_index"));
	*count = (unsigned)json_integer_value(json_object_get(j, "part_count"));
	json_object_set_new(j, "part_index", json_integer(0));
	json_object_set_new(j, "part_count", json_integer(0));
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static int advance_sample(struct part *p, struct ts_err *e)
{
	int r = ts_dataset_next_sample(p->si, &p->s, e);
	if (r <= 0)
		p->s = NULL;
	return r < 0 ? r : 0;
}

static int advance_reject(struct part *p, struct ts_err *e)
{
	int r = ts_dataset_next_reject(p->ri, &p->r, e);
	if (r <= 0)
		p->r = NULL;
	return r < 0 ? r : 0;
}

/* A tar sample's members lie together in their shard (data, the next
 * header, data...): one pread of that span from the shard file, kept open
 * while the part's samples are in it, instead of an open per member. */
static int read_tar_members(struct part *p, const struct ts_dataset_sample *s, const char *path,
			    struct ts_dsw_member *m, struct ts_err *e)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct ts_dataset_member *x = &s->members[i];
		if (x->offset > UINT64_MAX - x->size)
			return ts_err_set(e, TS_ERR_INVALID, TS_R_NONE, "'%s': member '%s' has a bad offset",
					  p->dir, x->name);
		if (x->offset < lo)
			lo = x->offset;
		if (x->offset + x->size > hi)
			hi = x->offset + x->size;
	}
	if (hi - lo > SIZE_MAX - 1)
		return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	size_t span = (size_t)(hi - lo);
	if (p->fd < 0 || strcmp(p->fd_shard, s->shard_name)) {
		if (p->fd >= 0)
			close(p->fd);
		p->fd_shard[0] = '\0';
		if ((p->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot open '%s': %s", path, strerror(errno));
		snprintf(p->fd_shard, sizeof(p->fd_shard), "%s", s->shard_name);
	}
	if (p->cap < span + 1) {
		uint8_t *nb = realloc(p->buf, span + 1);
		if (!nb)
			return ts_err_set(e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		p->buf = nb;
		p->cap = span + 1;
	}
	for (size_t got = 0; got < span;) {
		ssize_t r = pread(p->fd, p->buf + got, span - got, (off_t)(lo + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ts_err_set(e, TS_ERR_IO, TS_R_NONE, "cannot read the members of '%s' at %llu of '%s'",
					  s->key, (unsigned long long)lo, path);
		got += (size_t)r;
	}
	for (size_t i = 0; i < s->nmembers; i++) {
		m[i].data = p->buf + (s->members[i].offset - lo);
		m[i].len = (size_t)s->members[i].size;
	}
	return TS_OK;
}

static int merge_sample(struct part *p, struct ts_dsw *w, struct ts_err *e)
{
	const struct ts_dataset_sample *s = p->s;
	struct ts_dsw_member m[TS_DSW_MAX_MEMBERS];
	uint8_t *data[TS_DSW_MAX_MEMBERS] = { 0 };
	char path[PATH_MAX + 64];
	int rc = TS_OK;

	if (s->nmembers == 0 || s->nmembers > TS_DSW_MAX_MEMBERS)
		return ts_err_set(e, TS_ERR_INVALID, TS_R_NONE, "'%s': sample %s has %zu members",
				  p->dir, s->key, s->nmembers);
	ts_dataset_shard_path(p->ds, s->shard_name, path, sizeof(path));
	size_t nl = strlen(s->shard_name);
	int tar = nl > 4 && !strcmp(s->shard_name + nl - 4, ".tar");
	for (size_t i = 0; i < s->nmembers; i++) {
		const char *dot = strchr(s->members[i].name, '.');
		m[i].ext = dot ? dot + 1 : "";
	}
	if (tar)
		rc = read_tar_members(p, s, path, m, e);
	for (size_t i = 0; i < s->nmembers && !rc && !tar; i++) {
		rc = ts_shard_read_member(path, s->members[i].name, s->members[i].offset,
					  s->members[i].size, &data[i], &m[i].len, e);
		m[i].data = data[i];
	}
	if (!rc) {
		struct ts_dsw_sample ds;
		ts_dsw_sample_from(s, m, s->nmembers, &ds);
		rc = ts_dsw_sample(w, &ds, e);
	}
	for (size_t i = 0; i < s->nmembers; i++)
		free(data[i]);
	return rc;
}

int ts_shards_merge(const char **dirs, int n, const char *outdir, struct ts_merge_result *res,
		    struct ts_err *err)
{
	struct part *parts = calloc((size_t)n, sizeof(*parts));
	struct ts_catalog *cat = NULL;
	struct ts_dsw *w = NULL;
	struct ts_out *od = NULL;
	char *opts0 = NULL, *raw0 = NULL, *fp = NULL;
	uint64_t end = 0, nrej = 0, shard_samples = 10000, shard_bytes = 1ULL << 30, resume = 0;
	int store = TS_STORE_TAR, interrupted = 0;
	int rc = -1;   /* TS_OK once done or interrupted */
	double t0 = ts_now();

	memset(res, 0, sizeof(*res));
	if (!parts)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	for (int i = 0; i < n; i++) {
		char *raw, *o;
		parts[i].dir = dirs[i];
		parts[i].fd = -1;
		if (ts_dataset_open(&parts[i].ds, dirs[i], err)) {
			goto out;
		}
		raw = ts_dataset_meta(parts[i].ds, "ingest_options");
		o = raw ? options_without_part(raw, &parts[i].index, &parts[i].count) : NULL;
		if (!o) {
			ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' has no ingest options in its catalog", dirs[i]);
			free(raw);
			goto out;
		}
		if (i == 0) {
			opts0 = o;
			raw0 = raw;
		} else {
			int same = !strcmp(o, opts0);
			free(o);
			free(raw);
			if (!same) {
				ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' was made with other inputs or options than '%s'", dirs[i], dirs[0]);
				goto out;
			}
		}
		if (ts_dataset_foreach_shard(parts[i].ds, part_end_record, &parts[i], err)) {
			goto out;
		}
	}
	/* every partition 0..N-1 exactly once (a single unpartitioned dataset is fine too) */
	unsigned count = parts[0].count ? parts[0].count : 1;
	if ((unsigned)n != count) {
		ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "%d partition%s given, but they are %u-way partitions", n, n == 1 ? "" : "s", count);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < i; j++)
			if (parts[j].index == parts[i].index) {
				ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "'%s' and '%s' are both partition %u", dirs[j], dirs[i], parts[i].index);
				goto out;
			}
		if (parts[i].end_record > end)
			end = parts[i].end_record;
	}
	{
		json_t *j = json_loads(opts0, 0, NULL);
		if (j) {
			shard_samples = (uint64_t)json_integer_value(json_object_get(j, "shard_samples"));
			shard_bytes = (uint64_t)json_integer_value(json_object_get(j, "shard_bytes"));
			const char *sto = json_string_value(json_object_get(j, "store"));
			store = sto && !strcmp(sto, "sqlite") ? TS_STORE_SQLITE : TS_STORE_TAR;
			json_decref(j);
		}
	}

	/* the merge's identity: the partitions (by real path) and their options */
	{
		json_t *pj = json_array();
		for (int i = 0; i < n; i++) {
			char rp[PATH_MAX];
			json_array_append_new(pj, json_string(realpath(dirs[i], rp) ? rp : dirs[i]));
		}
		json_t *fj = json_pack("{s:o, s:s}", "partitions", pj, "options", opts0);
		fp = fj ? json_dumps(fj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(fj);
		if (!fp) {
			ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
			goto out;
		}
	}
	{
		struct ts_out_opts oo = {
			.dir = outdir, .meta_key = "merge_options", .fingerprint = fp,
			.store = store, .shard_samples = shard_samples, .shard_bytes = shard_bytes,
			.inputs = dirs, .ninputs = n,
			.command_line = "tessera shards merge", .version = TS_VERSION,
			.hook = ts_crash_hook,
		};
		if (ts_out_open(&od, &oo, err)) {
			goto out;
		}
	}
	cat = ts_out_catalog(od);
	w = ts_out_writer(od);
	resume = ts_out_resume_record(od);
	/* readers of the merged dataset take it as one ingest with these options */
	if (ts_catalog_meta_set(cat, "ingest_options", opts0, err))
		goto fail;
	if (resume)
		ts_info("resuming the merge into '%s' at record %" PRIu64, outdir, resume);
	ts_signals_catch();
	for (int i = 0; i < n; i++) {
		if (ts_dataset_iter_samples(parts[i].ds, -1, &parts[i].si, err) ||
		    ts_dataset_iter_rejects(parts[i].ds, &parts[i].ri, err) ||
		    advance_sample(&parts[i], err) || advance_reject(&parts[i], err))
			goto fail;
	}
	for (;;) {
		/* the smallest record among every part's next sample and reject */
		struct part *best = NULL;
		int is_sample = 0;
		uint64_t rec = UINT64_MAX;
		for (int i = 0; i < n; i++) {
			if (parts[i].r && parts[i].r->record < rec) {
				rec = parts[i].r->record;
				best = &parts[i];
				is_sample = 0;
			}
			if (parts[i].s && parts[i].s->record < rec) {
				rec = parts[i].s->record;
				best = &parts[i];
				is_sample = 1;
			}
		}
		if (!best)
			break;
		if (ts_stop_requested) {
			interrupted = 1;
			break;
		}
		if (rec < resume) {
			/* kept from the run that was killed */
			if (is_sample ? advance_sample(best, err) : advance_reject(best, err))
				goto fail;
			continue;
		}
		if (is_sample) {
			if (merge_sample(best, w, err) || advance_sample(best, err))
				goto fail;
		} else {
			const struct ts_dataset_reject *r = best->r;
			struct ts_reject_row rr = {
				.record = r->record, .source = r->source, .stage = r->stage,
				.reason = r->reason, .message = r->message,
				.path = r->path, .detail_json = r->detail_json,
			};
			if (ts_dsw_reject_row(w, &rr, err) ||
			    advance_reject(best, err))
				goto fail;
			nrej++;
		}
	}
	if (!interrupted && ts_out_finish(od, end, err))
		goto fail;
	struct ts_dsw_stats ds;
	ts_dsw_stats(w, &ds);
	res->partitions = n;
	res->samples = ds.samples;
	res->rejects = nrej;
	res->shards = ds.shards;
	res->bytes = ds.bytes;
	res->seconds = ts_now() - t0;
	res->interrupted = interrupted;
	json_t *sj = json_pack("{s:I, s:I, s:I, s:f}", "samples", (json_int_t)ds.samples,
			       "rejects", (json_int_t)nrej, "shards_written", (json_int_t)ds.shards,
			       "seconds", res->seconds);
	char *summary = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
	json_decref(sj);
	struct ts_out *tmp = od;
	od = NULL;
	if (ts_out_close(tmp, interrupted ? "interrupted" : "ok", summary, err) == TS_OK)
		rc = TS_OK;
	free(summary);
	goto out;
fail:
out:
	ts_signals_restore();
	ts_out_free(od);
	for (int i = 0; i < n; i++) {
		ts_dataset_iter_free(parts[i].si);
		ts_dataset_iter_free(parts[i].ri);
		ts_dataset_close(parts[i].ds);
		if (parts[i].fd >= 0)
			close(parts[i].fd);
		free(parts[i].buf);
	}
	free(parts);
	free(fp);
	free(opts0);
	free(raw0);
	if (rc == TS_OK)
		return TS_OK;
	return err->status ? err->status : ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "merge failed");
}

/* ---- index: the sidecars loaders read (shards/index.c) ---------------------------- */

int ts_shards_index(const char *outdir, int rehash, struct ts_err *err)
{
	int rc = ts_dataset_write_index_flags(outdir, rehash ? TS_INDEX_REHASH : 0, err);
	if (rc && !err->msg[0])
		ts_err_set(err, rc, TS_R_NONE, "cannot write the shard index");
	return rc;
}

/* ---- verify --------------------------------------------------------------------------- */

struct tar_entry {
	char *name;
	uint64_t offset, size;
	char hash[TS_HASH_HEX_LEN + 1];
	int seen;
};

struct verify_state {
	struct ts_dataset *ds;
	struct ts_err *e;
	uint64_t problems, shards, samples;
	json_t *list;               /* --json: problems */
	/* the shard being checked */
	const char *shard;
	struct tar_entry *ent;
	size_t nent, cent;
	int tar_failed;
	char tar_error[TS_ERR_MSG_MAX];
};

__attribute__((format(printf, 4, 5)))
static void problem(struct verify_state *v, const char *shard, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->problems++;
	if (v->list)
		json_array_append_new(v->list, json_pack("{s:s?, s:s?, s:s}", "shard", shard,
							 "key", key, "problem", msg));
	else if (!shard)
		printf("%s: %s\n", ts_dataset_dir(v->ds), msg);
	else if (key)
		printf("%s: sample %s: %s\n", shard, key, msg);
	else
		printf("%s: %s\n", shard, msg);
}

static int collect_member(const struct ts_tar_member *m, void *user)
{
	struct verify_state *v = user;
	if (TS_ALLOC_GROW(v->ent, v->cent, v->nent + 1))
		return ts_err_set(v->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	struct tar_entry *t = &v->ent[v->nent];
	t->name = strdup(m->name);
	if (!t->name)
		return ts_err_set(v->e, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	t->offset = m->data_offset;
	t->size = m->size;
	t->seen = 0;
	ts_hash_hex(m->data, m->size, t->hash);
	v->nent++;
	if (m->type != 0)
		problem(v, v->shard, NULL, "member '%s' is not a regular file", m->name);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct tar_entry *)a)->name, ((const struct tar_entry *)b)->name);
}

static int verify_sample(const struct ts_dataset_sample *s, void *user)
{
	struct verify_state *v = user;
	v->samples++;
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct ts_dataset_member *m = &s->members[i];
		struct tar_entry key = { .name = (char *)m->name }, *t;
		t = bsearch(&key, v->ent, v->nent, sizeof(*v->ent), cmp_entry);
		if (!t) {
			if (v->tar_failed)
				problem(v, v->shard, s->key, "member %s cannot be read: %s", m->name, v->tar_error);
			else
				problem(v, v->shard, s->key, "member %s is not in the shard", m->name);
			continue;
		}
		t->seen = 1;
		if (t->offset != m->offset || t->size != m->size)
			problem(v, v->shard, s->key, "member %s is at %" PRIu64 "+%" PRIu64
				", the catalog says %" PRIu64 "+%" PRIu64,
				m->name, t->offset, t->size, m->offset, m->size);
		else if (m->hash && m->hash[0] && strcmp(m->hash, t->hash))
			problem(v, v->shard, s->key, "member %s: data hash %s, the catalog says %s",
				m->name, t->hash, m->hash);
		const char *dot = strchr(m->name, '.');
		const char *ext = !strcmp(s->format, "jpeg") ? "jpg" : s->format;
		if (dot && !strcmp(dot + 1, ext) && strcmp(t->hash, s->content_hash))
			problem(v, v->shard, s->key, "image %s: content hash %s, the catalog says %s",
				m->name, t->hash, s->content_hash);
	}
	return 0;
}

static int verify_shard(const struct ts_dataset_shard *sh, void *user)
{
	struct verify_state *v = user;
	char path[PATH_MAX + 64], hash[TS_HASH_HEX_LEN + 1];
	struct ts_err te = TS_ERR_INIT;
	struct stat st;
	uint64_t before = v->samples;
	int rc;

	v->shards++;
	v->shard = sh->name;
	v->nent = 0;
	v->tar_failed = 0;
	ts_dataset_shard_path(v->ds, sh->name, path, sizeof(path));
	if (!sh->complete)
		problem(v, sh->name, NULL, "marked incomplete in the catalog");
	if (stat(path, &st)) {
		problem(v, sh->name, NULL, "file missing: %s", strerror(errno));
		return 0;
	}
	if ((uint64_t)st.st_size != sh->bytes)
		problem(v, sh->name, NULL, "%lld bytes, the catalog says %" PRIu64,
			(long long)st.st_size, sh->bytes);
	if (ts_file_hash_hex(path, hash, NULL, &te) == 0 && strcmp(hash, sh->hash))
		problem(v, sh->name, NULL, "file hash %s, the catalog says %s", hash, sh->hash);
	if (ts_shard_foreach(path, collect_member, v, &te)) {
		v->tar_failed = 1;
		snprintf(v->tar_error, sizeof(v->tar_error), "%s", te.msg);
		problem(v, sh->name, NULL, "tar read error: %s", te.msg);
	}
	qsort(v->ent, v->nent, sizeof(*v->ent), cmp_entry);
	rc = ts_dataset_foreach_sample(v->ds, (long)sh->idx, verify_sample, v, v->e);
	if (rc)
		goto out;
	if (v->samples - before != sh->samples)
		problem(v, sh->name, NULL, "%" PRIu64 " samples in the catalog, the shard row says %" PRIu64,
			v->samples - before, sh->samples);
	for (size_t i = 0; i < v->nent; i++)
		if (!v->ent[i].seen)
			problem(v, sh->name, NULL, "member '%s' is not in the catalog", v->ent[i].name);
out:
	for (size_t i = 0; i < v->nent; i++)
		free(v->ent[i].name);
	v->nent = 0;
	return rc;
}

int ts_shards_verify(struct ts_dataset *ds, int json, uint64_t *problems, struct ts_err *err)
{
	struct verify_state v = { .ds = ds, .e = err, .list = json ? json_array() : NULL };
	char *cmd = NULL, *status = NULL;
	/* complete, not only intact: the last run must have finished */
	if (ts_dataset_last_run(ds, &cmd, &status) > 0 && strcmp(status, "ok"))
		problem(&v, NULL, NULL, "incomplete: the last run ('%s') %s; run the same command again to finish it",
			cmd, !strcmp(status, "running") ? "did not finish (killed?)" : !strcmp(status, "interrupted")
			? "was interrupted" : "failed");
	free(cmd);
	free(status);
	*problems = 0;
	int rc = ts_dataset_foreach_shard(ds, verify_shard, &v, err);
	free(v.ent);
	if (rc) {
		json_decref(v.list);
		return err->status ? err->status : rc;
	}
	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:o}", "command", "shards verify",
				      "shards", (json_int_t)v.shards, "samples", (json_int_t)v.samples,
				      "problems", (json_int_t)v.problems, "details", v.list);
		char *s = json_dumps(j, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(j);
	} else {
		printf("verified %" PRIu64 " shards, %" PRIu64 " samples: %" PRIu64 " problem%s\n",
		       v.shards, v.samples, v.problems, v.problems == 1 ? "" : "s");
	}
	*problems = v.problems;
	return TS_OK;
}
