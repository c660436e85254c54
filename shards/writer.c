/*
 * writer.c - the shard writer (see writer.h).
 *
 * What must always hold:
 * - a shard closes after the sample that fills it to shard_samples, or
 *   before a sample that would take it past shard_bytes (unless empty);
 * - a shard's record range is [first, end): end is the record after its
 *   last sample (sample limit), the record of the sample that did not fit
 *   (byte limit), or the end of input (last shard);
 * - rows go into the catalog as they come, inside one open transaction
 *   per shard (so memory stays flat whatever the shard size); the shard
 *   file gets its final name before that transaction commits with the
 *   shard row, so the shard, its samples and members, and the rejects of
 *   its range become visible at once; resume relies on exactly this order;
 * - before a shard's temporary file is created, a row for it with
 *   complete = 0 is committed: every file name the writer ever creates is
 *   in the catalog first, so a resume removes only files that are ours.
 *
 * With opts.catalog_thread the rows are inserted by a catalog thread (see
 * "the catalog thread" below); the statements and their order are the
 * same, only the thread that runs the row inserts differs.
 */
#include "shards/writer.h"
#include "shards/dataset.h"

#include <inttypes.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shards/shards.h"
#include "base/buf.h"

/* CPU seconds of the calling thread (the writer's), for the time spent in
 * the catalog and the shards: ts_dsw_stats, printed by the ingest with
 * TESSERA_PROFILE=1.  Without the variable nothing is timed (0). */
static double thread_cpu(const struct ts_dsw *w);
struct catq;
struct ts_dsw {
	struct ts_dsw_opts o;
	struct ts_shard_writer *sw;
	unsigned shard_idx;
	uint64_t shard_first, shard_samples;
	int pending;               /* rows sent since the last commit */
	int profile;               /* TESSERA_PROFILE set: time the calls */
	struct catq *cq;           /* the catalog thread, or NULL */
	struct ts_dsw_stats st;
};

static double clock_s(clockid_t id)
{
	struct timespec t;
	if (clock_gettime(id, &t))
		return 0;
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double thread_cpu(const struct ts_dsw *w)
{
	return w->profile ? clock_s(CLOCK_THREAD_CPUTIME_ID) : 0;
}

/* ---- the catalog thread (opts.catalog_thread) -------------------------------
 * The writer copies each sample and reject row into the batch it fills and
 * hands a full batch to one catalog thread, which inserts the rows into the
 * shard's open transaction while the writer goes on with the shard file;
 * two batches, so one fills while the other is inserted.  The commit rules
 * do not move: before a shard's intent row and before its commit the
 * writer waits until every row it handed over is in (cq_drain) and then
 * makes that call itself, so the catalog gets the statements of the
 * one-thread writer in the same order.  The write-ahead log is not
 * checkpointed at commit (that would copy the shard's pages into the
 * database file on the writer's time) but by the first job after the next
 * shard's intent, on the catalog thread, by the same rule (when the log
 * has reached 1000 pages).  The first failed insert stops
 * the thread's work; the writer returns that error from its next call
 * that hands a batch over or drains. */

enum { JOB_SAMPLE, JOB_REJECT, JOB_CHECKPOINT };

#define BATCH_JOBS 512

struct job {
	int kind;
	size_t mem0;               /* JOB_SAMPLE: its first member in batch.mem */
	struct ts_sample_row s;    /* string fields are arena offsets + 1 (0: NULL) */
	struct ts_reject_row r;
};

struct batch {
	struct job *jobs;
	size_t n, alloc;
	struct ts_member_row *mem;
	size_t nmem, memalloc;
	struct ts_buf arena;
	int oom;                   /* a copy failed: the batch must not go in */
};

struct catq {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* work handed over, work done, or quit */
	struct ts_catalog *cat;
	struct batch b[2];
	int fill;                  /* the batch the writer fills (writer only) */
	struct batch *work;        /* handed over and not yet in (NULL: idle) */
	int quit, failed;
	struct ts_err err;         /* the first failure */
	int profile;
	double cpu;                /* CPU seconds of the thread inserting (profile) */
	struct ts_sample_row rows[BATCH_JOBS];   /* a batch's samples, with their strings */
};

/* str copied into the arena: its offset + 1 as a pointer (NULL for NULL). */
static const char *put_str(struct batch *b, const char *str)
{
	if (!str)
		return NULL;
	size_t off = b->arena.len;
	if (ts_buf_add(&b->arena, str, strlen(str) + 1)) {
		b->oom = 1;
		return NULL;
	}
	return (const char *)(uintptr_t)(off + 1);
}

static const char *get_str(const struct batch *b, const char *tag)
{
	return tag ? b->arena.data + ((uintptr_t)tag - 1) : NULL;
}

/* The string columns of a sample row (tags, scores and a composition are
 * not batched) and of a reject row: put_sample and put_reject move them
 * into the batch's arena, apply_batch takes them back. */
#define NSTRS(a) (sizeof(a) / sizeof((a)[0]))
static const size_t sample_strs[] = {
	offsetof(struct ts_sample_row, key), offsetof(struct ts_sample_row, format),
	offsetof(struct ts_sample_row, content_hash), offsetof(struct ts_sample_row, image_hash),
	offsetof(struct ts_sample_row, source), offsetof(struct ts_sample_row, caption),
	offsetof(struct ts_sample_row, captions_json), offsetof(struct ts_sample_row, path),
	offsetof(struct ts_sample_row, meta_json), offsetof(struct ts_sample_row, source_format),
	offsetof(struct ts_sample_row, fixes), offsetof(struct ts_sample_row, text.short_caption),
	offsetof(struct ts_sample_row, text.split_rule), offsetof(struct ts_sample_row, text.split_fallback),
};
static const size_t reject_strs[] = {
	offsetof(struct ts_reject_row, source), offsetof(struct ts_reject_row, stage),
	offsetof(struct ts_reject_row, reason), offsetof(struct ts_reject_row, message),
	offsetof(struct ts_reject_row, path), offsetof(struct ts_reject_row, detail_json),
};

static void strs_put(struct batch *b, void *row, const size_t *offs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char **f = (const char **)(void *)((char *)row + offs[i]);
		*f = put_str(b, *f);
	}
}

static void strs_get(const struct batch *b, void *row, const size_t *offs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char **f = (const char **)(void *)((char *)row + offs[i]);
		*f = get_str(b, *f);
	}
}

static struct job *new_job(struct batch *b, int kind)
{
	if (TS_ALLOC_GROW(b->jobs, b->alloc, b->n + 1)) {
		b->oom = 1;
		return NULL;
	}
	struct job *j = &b->jobs[b->n++];
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	return j;
}

static void batch_reset(struct batch *b)
{
	b->n = b->nmem = 0;
	b->oom = 0;
	ts_buf_reset(&b->arena);
}

static void batch_release(struct batch *b)
{
	free(b->jobs);
	free(b->mem);
	ts_buf_release(&b->arena);
}

/* A copy of a sample row without tags, scores or a composition. */
static void put_sample(struct batch *b, const struct ts_sample_row *r)
{
	struct job *j = new_job(b, JOB_SAMPLE);
	if (!j || TS_ALLOC_GROW(b->mem, b->memalloc, b->nmem + r->nmembers)) {
		b->oom = 1;
		return;
	}
	struct ts_sample_row *c = &j->s;
	*c = *r;
	strs_put(b, c, sample_strs, NSTRS(sample_strs));
	c->members = NULL;
	j->mem0 = b->nmem;
	for (size_t i = 0; i < r->nmembers; i++) {
		struct ts_member_row *m = &b->mem[b->nmem++];
		*m = r->members[i];
		m->name = put_str(b, r->members[i].name);
		m->hash = put_str(b, r->members[i].hash);
	}
}

static void put_reject(struct batch *b, const struct ts_reject_row *r)
{
	struct job *j = new_job(b, JOB_REJECT);
	if (!j)
		return;
	j->r = *r;
	strs_put(b, &j->r, reject_strs, NSTRS(reject_strs));
}

/* Insert a batch's rows (catalog thread).  Its samples go in together,
 * which groups their statements, after the rejects that came with them:
 * each table gets its rows in the batch's order (samples and rejects are
 * independent tables; the shard's commit is the writer's, after the
 * batch), and a checkpoint job still comes between the rows before it and
 * those after. */
static int apply_batch(struct ts_catalog *cat, struct batch *b, struct ts_sample_row *rows,
		       struct ts_err *err)
{
	int rc = TS_OK;
	size_t nrows = 0;
	for (size_t i = 0; rc == TS_OK && i <= b->n; i++) {
		struct job *j = i < b->n ? &b->jobs[i] : NULL;
		if (j && j->kind == JOB_REJECT) {
			struct ts_reject_row r = j->r;
			strs_get(b, &r, reject_strs, NSTRS(reject_strs));
			rc = ts_catalog_stream_reject(cat, &r, err);
			continue;
		}
		if (j && j->kind == JOB_SAMPLE && nrows < BATCH_JOBS) {
			struct ts_sample_row *s = &rows[nrows++];
			*s = j->s;
			strs_get(b, s, sample_strs, NSTRS(sample_strs));
			struct ts_member_row *m = &b->mem[j->mem0];
			for (size_t k = 0; k < s->nmembers; k++) {
				m[k].name = get_str(b, m[k].name);
				m[k].hash = get_str(b, m[k].hash);
			}
			s->members = m;
			continue;
		}
		/* the end, a checkpoint, or rows full */
		if (nrows && (rc = ts_catalog_stream_samples(cat, rows, nrows, err)))
			break;
		nrows = 0;
		if (!j)
			break;
		if (j->kind == JOB_CHECKPOINT)
			rc = ts_catalog_checkpoint(cat, err);
		else
			i--;               /* rows was full: this sample starts the next run */
	}
	return rc;
}

static void *catq_main(void *arg)
{
	struct catq *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->work && !q->quit)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->work)
			break;
		struct batch *b = q->work;
		int skip = q->failed;      /* after a failure nothing more goes in */
		pthread_mutex_unlock(&q->mu);
		struct ts_err e = TS_ERR_INIT;
		double t0 = q->profile ? clock_s(CLOCK_THREAD_CPUTIME_ID) : 0;
		int rc = skip ? TS_OK : apply_batch(q->cat, b, q->rows, &e);
		double t1 = q->profile ? clock_s(CLOCK_THREAD_CPUTIME_ID) : 0;
		batch_reset(b);
		pthread_mutex_lock(&q->mu);
		q->cpu += t1 - t0;
		if (rc && !q->failed) {
			q->failed = 1;
			q->err = e;
		}
		q->work = NULL;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Wait until the catalog thread is idle: 0, or its first failure. */
static int cq_wait(struct ts_dsw *w, struct ts_err *err)
{
	struct catq *q = w->cq;
	double t0 = w->profile ? clock_s(CLOCK_MONOTONIC) : 0;
	pthread_mutex_lock(&q->mu);
	while (q->work)
		pthread_cond_wait(&q->cv, &q->mu);
	int rc = TS_OK;
	if (q->failed) {
		if (err)
			*err = q->err;
		rc = q->err.status ? q->err.status : TS_ERR_INTERNAL;
	}
	pthread_mutex_unlock(&q->mu);
	if (w->profile)
		w->st.catalog_wait_seconds += clock_s(CLOCK_MONOTONIC) - t0;
	return rc;
}

/* Hand the batch being filled to the thread, once the one before is in. */
static int cq_hand_over(struct ts_dsw *w, struct ts_err *err)
{
	struct catq *q = w->cq;
	struct batch *b = &q->b[q->fill];
	int rc;
	if (b->oom) {
		batch_reset(b);
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	if ((rc = cq_wait(w, err)))
		return rc;
	if (b->n == 0)
		return TS_OK;
	pthread_mutex_lock(&q->mu);
	q->work = b;
	q->fill ^= 1;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return TS_OK;
}

/* Every row queued so far is in the catalog (or the first failure). */
static int cq_drain(struct ts_dsw *w, struct ts_err *err)
{
	int rc;
	if (!w->cq)
		return TS_OK;
	if ((rc = cq_hand_over(w, err)))
		return rc;
	return cq_wait(w, err);
}

/* A job queued: hand the batch over when it is full. */
static int cq_queued(struct ts_dsw *w, struct ts_err *err)
{
	struct batch *b = &w->cq->b[w->cq->fill];
	if (b->oom || b->n >= BATCH_JOBS)
		return cq_hand_over(w, err);
	return TS_OK;
}

/* Start the thread, with every signal blocked in it (they are the
 * caller's threads' business). */
static int cq_start(struct ts_dsw *w, struct ts_err *err)
{
	struct catq *q = calloc(1, sizeof(*q));
	sigset_t all, old;
	if (!q)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	q->cat = w->o.cat;
	q->profile = w->profile;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&q->th, NULL, catq_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		pthread_mutex_destroy(&q->mu);
		pthread_cond_destroy(&q->cv);
		free(q);
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot start the catalog thread");
	}
	w->cq = q;
	return TS_OK;
}

static void cq_stop(struct ts_dsw *w)
{
	struct catq *q = w->cq;
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	while (q->work)
		pthread_cond_wait(&q->cv, &q->mu);
	q->quit = 1;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->th, NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	batch_release(&q->b[0]);
	batch_release(&q->b[1]);
	w->st.catalog_seconds += q->cpu;
	w->st.catalog_thread_seconds += q->cpu;
	free(q);
	w->cq = NULL;
}

/* The thread's work is over (the end of the run, or a discard): from here
 * the writer makes every call itself, checkpoints as SQLite does by
 * default. */
static void cq_end(struct ts_dsw *w)
{
	if (!w->cq)
		return;
	cq_stop(w);
	ts_catalog_defer_checkpoints(w->o.cat, 0);
}

static void hook(struct ts_dsw *w, const char *point)
{
	if (w->o.hook)
		w->o.hook(w->o.hook_user, point);
}

int ts_dsw_new(struct ts_dsw **out, const struct ts_dsw_opts *o, struct ts_err *err)
{
	struct ts_dsw *w = calloc(1, sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	w->o = *o;
	w->profile = getenv("TESSERA_PROFILE") != NULL;
	w->shard_idx = o->first_shard;
	w->shard_first = o->first_record;
	if (o->catalog_thread && !o->retry) {
		int rc = cq_start(w, err);
		if (rc) {
			free(w);
			return rc;
		}
		ts_catalog_defer_checkpoints(o->cat, 1);
	}
	*out = w;
	return TS_OK;
}

/* Close the open shard with record range [shard_first, end_record): the
 * file gets its final name first, then one commit makes the shard row and
 * every row sent since the last commit visible. */
static int close_shard(struct ts_dsw *w, uint64_t end_record, struct ts_err *err)
{
	char name[32], hash[TS_HASH_HEX_LEN + 1], md5[TS_MD5_HEX_LEN + 1];
	uint64_t bytes;
	int rc;

	if (!w->sw)
		return TS_OK;
	ts_shard_name_fmt(w->shard_idx, w->o.name_digits, ts_store_ext((enum ts_store)w->o.store), name, sizeof(name));
	double t0 = thread_cpu(w);
	rc = ts_shard_writer_finish_md5(w->sw, &bytes, hash, md5, err);
	w->sw = NULL;
	double t1 = thread_cpu(w);
	w->st.shard_seconds += t1 - t0;
	if (rc)
		return rc;
	hook(w, "shard-renamed");
	if ((rc = cq_drain(w, err)))   /* the shard's rows are in */
		return rc;
	struct ts_shard_row sr = {
		.idx = w->shard_idx, .name = name,
		.samples = w->shard_samples, .bytes = bytes, .hash = hash,
		.first_record = w->shard_first, .end_record = w->o.retry ? w->shard_first : end_record,
		.md5 = md5,
	};
	t0 = thread_cpu(w);
	rc = ts_catalog_stream_commit(w->o.cat, &sr, err);
	w->st.catalog_seconds += thread_cpu(w) - t0;
	if (rc)
		return rc;
	w->pending = 0;
	w->st.shards++;
	w->st.last_samples = w->shard_samples;
	w->st.last_bytes = bytes;
	hook(w, "shard-committed");
	w->st.bytes += bytes;
	w->shard_idx++;
	if (!w->o.retry)
		w->shard_first = end_record;
	w->shard_samples = 0;
	return TS_OK;
}

static uint64_t tar_size(size_t len)
{
	return 512 + ((len + 511) / 512) * 512;
}

int ts_dsw_sample(struct ts_dsw *w, const struct ts_dsw_sample *s, struct ts_err *err)
{
	char key[24], names[TS_DSW_MAX_MEMBERS][48], hashes[TS_DSW_MAX_MEMBERS][TS_HASH_HEX_LEN + 1];
	struct ts_member_row mem[TS_DSW_MAX_MEMBERS];
	uint64_t need = 0;
	int rc;

	if (s->nmembers == 0 || s->nmembers > TS_DSW_MAX_MEMBERS)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE,
				  "a sample needs 1 to %d members", TS_DSW_MAX_MEMBERS);
	for (size_t i = 0; i < s->nmembers; i++)
		need += tar_size(s->members[i].len);
	if (w->sw && w->shard_samples > 0 &&
	    ts_shard_writer_bytes(w->sw) + need + 1024 > w->o.shard_bytes)
		if ((rc = close_shard(w, s->record, err)))
			return rc;
	if (!w->sw) {
		/* the name is in the catalog before the file exists */
		char name[32];
		ts_shard_name_fmt(w->shard_idx, w->o.name_digits, ts_store_ext((enum ts_store)w->o.store), name, sizeof(name));
		/* rows pending here are rejects of this shard's range: a resume
		 * drops them with the unfinished shard if it comes to that */
		if ((rc = cq_drain(w, err)))
			return rc;
		double t0 = thread_cpu(w);
		rc = ts_catalog_shard_intent(w->o.cat, w->shard_idx, name, err);
		w->st.catalog_seconds += thread_cpu(w) - t0;
		if (rc)
			return rc;
		w->pending = 0;
		/* the last shard's pages go into the database file on the
		 * catalog thread, while this one is written */
		if (w->cq && !new_job(&w->cq->b[w->cq->fill], JOB_CHECKPOINT))
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		hook(w, "shard-open");
		t0 = thread_cpu(w);
		rc = ts_shard_writer_open_store(&w->sw, w->o.shards_dir, w->shard_idx, w->o.name_digits,
						(enum ts_store)w->o.store, err);
		w->st.shard_seconds += thread_cpu(w) - t0;
		if (rc)
			return rc;
	}
	snprintf(key, sizeof(key), "%09" PRIu64, s->record);
	double t0 = thread_cpu(w);
	for (size_t i = 0; i < s->nmembers; i++) {
		snprintf(names[i], sizeof(names[i]), "%s.%s", key, s->members[i].ext);
		if (s->member_hashes && s->member_hashes[i])   /* hashed by the caller */
			snprintf(hashes[i], sizeof(hashes[i]), "%s", s->member_hashes[i]);
		else
			ts_hash_hex(s->members[i].data, s->members[i].len, hashes[i]);
		mem[i] = (struct ts_member_row){ .name = names[i], .size = s->members[i].len,
						 .hash = hashes[i] };
		if ((rc = ts_shard_writer_add_buffered(w->sw, names[i], s->members[i].data,
						       s->members[i].len, &mem[i].offset, err)))
			return rc;
	}
	if ((rc = ts_shard_writer_flush(w->sw, err)))
		return rc;
	struct ts_sample_row row = {
		.key = key, .record = s->record, .shard = w->shard_idx,
		.width = s->width, .height = s->height,
		.orig_width = s->orig_width, .orig_height = s->orig_height,
		.format = s->format ? s->format : "", .content_hash = s->content_hash,
		.image_hash = s->image_hash, .source = s->source ? s->source : "",
		.caption = s->caption ? s->caption : "",
		.captions_json = s->captions_json ? s->captions_json : "[]",
		.path = s->path, .meta_json = s->meta_json,
		.source_format = s->source_format, .fixes = s->fixes,
		.text = s->text,
		.tags = s->tags, .ntags = s->ntags,
		.scores = s->scores, .nscores = s->nscores,
		.comp = s->comp,
		.members = mem, .nmembers = s->nmembers,
	};
	double t1 = thread_cpu(w);
	w->st.shard_seconds += t1 - t0;
	if (w->cq && !s->ntags && !s->nscores && !s->comp) {
		put_sample(&w->cq->b[w->cq->fill], &row);
		rc = cq_queued(w, err);
	} else {
		/* rows of other tables: in order after what is queued */
		if ((rc = cq_drain(w, err)))
			return rc;
		if (w->o.retry && (rc = ts_catalog_stream_forget_rejects(w->o.cat, s->record, err)))
			return rc;
		rc = ts_catalog_stream_sample(w->o.cat, &row, err);
	}
	w->st.catalog_seconds += thread_cpu(w) - t1;
	if (rc)
		return rc;
	w->pending = 1;
	w->st.samples++;
	w->shard_samples++;
	hook(w, "sample");
	if (w->shard_samples >= w->o.shard_samples)
		return close_shard(w, s->record + 1, err);
	return TS_OK;
}

int ts_dsw_reject_row(struct ts_dsw *w, const struct ts_reject_row *row, struct ts_err *err)
{
	struct ts_reject_row r = *row;
	r.source = r.source ? r.source : "";
	r.stage = r.stage ? r.stage : "";
	r.reason = r.reason ? r.reason : "";
	r.message = r.message ? r.message : "";
	double t0 = thread_cpu(w);
	int rc;
	if (w->cq) {
		put_reject(&w->cq->b[w->cq->fill], &r);
		rc = cq_queued(w, err);
	} else {
		rc = w->o.retry ? ts_catalog_stream_forget_rejects(w->o.cat, r.record, err) : 0;
		if (rc == 0)
			rc = ts_catalog_stream_reject(w->o.cat, &r, err);
	}
	w->st.catalog_seconds += thread_cpu(w) - t0;
	if (rc == 0)
		w->pending = 1;
	return rc;
}

int ts_dsw_reject(struct ts_dsw *w, uint64_t record, const char *source,
		  const char *stage, const char *reason, const char *message,
		  struct ts_err *err)
{
	struct ts_reject_row r = {
		.record = record, .source = source, .stage = stage,
		.reason = reason, .message = message,
	};
	return ts_dsw_reject_row(w, &r, err);
}

static int finish(struct ts_dsw *w, uint64_t end_record, struct ts_err *err)
{
	int rc;
	if (w->sw)
		return close_shard(w, end_record, err);
	if (!w->pending)
		return TS_OK;
	/* rejects after a shard that closed on its sample count */
	if ((rc = cq_drain(w, err)))
		return rc;
	double t0 = thread_cpu(w);
	if ((rc = ts_catalog_stream_commit(w->o.cat, NULL, err)) == 0)
		w->pending = 0;
	w->st.catalog_seconds += thread_cpu(w) - t0;
	return rc;
}

int ts_dsw_finish(struct ts_dsw *w, uint64_t end_record, struct ts_err *err)
{
	int rc = finish(w, end_record, err);
	if (rc == TS_OK)
		cq_end(w);   /* else the caller discards, which ends it */
	return rc;
}

void ts_dsw_discard(struct ts_dsw *w)
{
	if (!w)
		return;
	if (w->cq) {
		/* what the thread is inserting goes in (and is rolled back
		 * below); what was not handed over is dropped */
		cq_wait(w, NULL);
		batch_reset(&w->cq->b[w->cq->fill]);
		cq_end(w);
	}
	ts_shard_writer_abort(w->sw);
	w->sw = NULL;
	ts_catalog_stream_rollback(w->o.cat);
	w->pending = 0;
}

void ts_dsw_stats(const struct ts_dsw *w, struct ts_dsw_stats *st)
{
	*st = w->st;
}

void ts_dsw_free(struct ts_dsw *w)
{
	ts_dsw_discard(w);
	free(w);
}

void ts_dsw_sample_from(const struct ts_dataset_sample *s, const struct ts_dsw_member *m, size_t nm,
			struct ts_dsw_sample *ds)
{
	*ds = (struct ts_dsw_sample){
		.record = s->record, .members = m, .nmembers = nm,
		.width = s->width, .height = s->height,
		.orig_width = s->orig_width, .orig_height = s->orig_height,
		.format = s->format, .content_hash = s->content_hash,
		.image_hash = s->image_hash, .source = s->source,
		.caption = s->caption, .captions_json = s->captions_json,
		.path = s->path, .meta_json = s->meta_json,
		.source_format = s->source_format, .fixes = s->fixes,
		.text = s->text,
		.tags = s->tags, .ntags = s->ntags,
		.scores = s->scores, .nscores = s->nscores,
		.comp = s->comp,
	};
}
