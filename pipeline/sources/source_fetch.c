/*
 * source_fetch.c - the fetch source decorator (see source_fetch.h).
 *
 * A network thread reads the inner list reader ahead into a ring of
 * `window` slots, queues each URL in the engine and drives it; the caller's
 * next() takes slots strictly in record order and waits for the head one.
 * The ring is the bounded reorder buffer: the network thread stops reading
 * when it is full or when the finished bodies waiting behind the head pass
 * buffer_bytes, but keeps driving the transfers already running, so a slow
 * consumer never stalls a transfer into a low-speed abort.
 *
 * What must always hold:
 * - records come out in the inner reader's order, one for one, so keys and
 *   shard bytes do not depend on timing;
 * - a record the inner reader rejected, or one the ingest will skip (below
 *   the resume point, another partition, not selected by --retry-failed),
 *   is passed on without a download;
 * - after the deadline nothing new is read: running and queued transfers
 *   end as fetch.deferred and the source ends, so the run commits and exits;
 * - the only thread touching the inner reader and the engine is the
 *   network thread.
 */
#define _GNU_SOURCE
#include "pipeline/sources/source_fetch.h"
#include "pipeline/sources/source_impl.h"

#include <ctype.h>
#include <jansson.h>
#include <md5.h>
#include <pthread.h>
#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipeline/util.h"

struct ts_fetch_ctx {
	struct ts_fetch_ctx_opts o;
	struct ts_fetch *eng;
	pthread_mutex_t mu;          /* guards the fields below and every wrapper's ring */
	struct ts_fetch_stats snap;  /* engine stats, copied by the network thread */
	uint64_t fetched_ok;
	int deadline_hit;
	int dns_warned;
	double t0;
	struct fsrc *cur;            /* the wrapper whose thread drives the engine */
};

enum { S_EMPTY, S_PENDING, S_DONE };

struct fslot {
	struct ts_record rec;
	int state;
	struct ts_fetch_result res;   /* copied from the engine, body owned here */
	int fetched;
};

struct fsrc {
	struct ts_fetch_ctx *c;
	struct ts_source *inner;
	uint64_t resume_record;
	struct fslot *slots;
	size_t nslots;
	uint64_t head, tail;          /* head: next to hand out; tail: next to read */
	uint64_t buffered;            /* body bytes in DONE slots */
	int inner_eof, finished, stop, fatal;
	struct ts_err fatal_err;
	pthread_cond_t cv;            /* head slot done / finished (with c->mu) */
	pthread_t th;
	int started;
};

/* ---- engine callback (network thread, c->mu not held) ---- */

static void on_done(void *user, struct ts_fetch_result *r)
{
	struct ts_fetch_ctx *c = user;
	struct fsrc *s = c->cur;
	pthread_mutex_lock(&c->mu);
	struct fslot *sl = &s->slots[r->id % s->nslots];
	sl->res = *r;
	r->body = NULL;
	r->final_url = NULL;
	r->content_type = NULL;
	sl->fetched = 1;
	sl->state = S_DONE;
	s->buffered += sl->res.len;
	if (r->reason == TS_R_NONE)
		c->fetched_ok++;
	if (r->id == s->head)
		pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&c->mu);
}

static int wanted(const struct fsrc *s, const struct ts_record *rec)
{
	const struct ts_fetch_ctx_opts *o = &s->c->o;
	if (rec->reject != TS_R_NONE || (!o->only && rec->index < s->resume_record))
		return 0;
	if (o->part_count > 1 && rec->index % o->part_count != o->part_index)
		return 0;
	if (o->only) {
		size_t lo = 0, hi = o->nonly;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (o->only[mid] < rec->index)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo < o->nonly && o->only[lo] == rec->index;
	}
	return 1;
}

/* After the first 1,000 downloads, one warning when over 20% failed to
 * resolve: the resolver, not the hosts, is the likely cause. */
static void dns_check(struct ts_fetch_ctx *c, const struct ts_fetch_stats *st)
{
	pthread_mutex_lock(&c->mu);
	int warn = !c->dns_warned && st->finished >= 1000 &&
		(double)st->dns_failures > 0.2 * (double)st->finished;
	if (warn)
		c->dns_warned = 1;
	pthread_mutex_unlock(&c->mu);
	if (warn)
		ts_warning("%llu of %llu downloads failed to resolve their host name: the resolver "
			   "is likely overloaded or unreachable; run a local caching resolver (such as "
			   "unbound) and point /etc/resolv.conf at it, or lower --concurrency",
			   (unsigned long long)st->dns_failures, (unsigned long long)st->finished);
}

static void *net_main(void *arg)
{
	struct fsrc *s = arg;
	struct ts_fetch_ctx *c = s->c;
	struct ts_err e = TS_ERR_INIT;
	double last_stats = 0;

	for (;;) {
		/* read ahead */
		for (;;) {
			pthread_mutex_lock(&c->mu);
			int room = !s->stop && !s->inner_eof && !c->deadline_hit &&
				s->tail - s->head < s->nslots &&
				(s->buffered < c->o.buffer_bytes || s->tail == s->head);
			pthread_mutex_unlock(&c->mu);
			if (!room)
				break;
			struct ts_record rec;
			int r = ts_source_next(s->inner, &rec, &e);
			if (r <= 0) {
				pthread_mutex_lock(&c->mu);
				s->inner_eof = 1;
				if (r < 0) {
					s->fatal = 1;
					s->fatal_err = e;
				}
				pthread_mutex_unlock(&c->mu);
				break;
			}
			int want = wanted(s, &rec);
			uint64_t pos = s->tail;
			pthread_mutex_lock(&c->mu);
			struct fslot *sl = &s->slots[pos % s->nslots];
			sl->rec = rec;
			sl->fetched = 0;
			sl->state = want ? S_PENDING : S_DONE;
			s->tail++;
			if (!want && pos == s->head)
				pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&c->mu);
			if (want && ts_fetch_add(c->eng, pos, rec.image_ref, &e)) {
				pthread_mutex_lock(&c->mu);
				s->fatal = 1;
				s->fatal_err = e;
				s->inner_eof = 1;
				pthread_mutex_unlock(&c->mu);
				break;
			}
		}
		/* deadline */
		if (c->o.deadline > 0 && !c->deadline_hit && ts_now() >= c->o.deadline) {
			pthread_mutex_lock(&c->mu);
			c->deadline_hit = 1;
			pthread_mutex_unlock(&c->mu);
			ts_fetch_cancel(c->eng, TS_R_FETCH_DEFERRED, "the run's --deadline passed before this record was fetched");
		}
		pthread_mutex_lock(&c->mu);
		int stop = s->stop;
		int drained = (s->inner_eof || c->deadline_hit) && ts_fetch_pending(c->eng) == 0;
		if (stop || drained) {
			ts_fetch_get_stats(c->eng, &c->snap);
			struct ts_fetch_stats fin = c->snap;
			s->finished = 1;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&c->mu);
			if (!stop)
				dns_check(c, &fin);
			break;
		}
		pthread_mutex_unlock(&c->mu);
		if (ts_fetch_poll(c->eng, 200, &e)) {
			pthread_mutex_lock(&c->mu);
			s->fatal = 1;
			s->fatal_err = e;
			s->finished = 1;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&c->mu);
			break;
		}
		struct ts_fetch_stats st;
		double tnow = ts_now();
		if (tnow - last_stats < 0.25)
			continue;
		last_stats = tnow;
		ts_fetch_get_stats(c->eng, &st);
		pthread_mutex_lock(&c->mu);
		c->snap = st;
		pthread_mutex_unlock(&c->mu);
		dns_check(c, &st);
	}
	return NULL;
}

/* ---- consumer side ---- */

static int hex_eq(const char *want, const uint8_t *dig, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	if (strlen(want) != n * 2)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)want[2 * i]) != hx[dig[i] >> 4] ||
		    tolower((unsigned char)want[2 * i + 1]) != hx[dig[i] & 15])
			return 0;
	return 1;
}

/* The expected hash from meta_json ("sha256" or "md5"), checked. 0 ok or none. */
static int check_hash(struct ts_record *rec, const uint8_t *b, size_t n, char *why, size_t whyn)
{
	json_t *m, *v;
	int bad = 0;
	if (!rec->meta_json || !(m = json_loads(rec->meta_json, 0, NULL)))
		return 0;
	if ((v = json_object_get(m, "sha256")) && json_is_string(v) && json_string_length(v)) {
		uint8_t dig[SHA256_DIGEST_LENGTH];
		SHA2_CTX x;
		SHA256Init(&x);
		SHA256Update(&x, b, n);
		SHA256Final(dig, &x);
		if (!hex_eq(json_string_value(v), dig, sizeof(dig))) {
			bad = 1;
			snprintf(why, whyn, "sha256 of the %zu bytes is not %s", n, json_string_value(v));
		}
	} else if ((v = json_object_get(m, "md5")) && json_is_string(v) && json_string_length(v)) {
		uint8_t dig[MD5_DIGEST_LENGTH];
		MD5_CTX x;
		MD5Init(&x);
		MD5Update(&x, b, n);
		MD5Final(dig, &x);
		if (!hex_eq(json_string_value(v), dig, sizeof(dig))) {
			bad = 1;
			snprintf(why, whyn, "md5 of the %zu bytes is not %s", n, json_string_value(v));
		}
	}
	json_decref(m);
	return bad;
}

static char *merge_meta(const char *old, json_t *add)
{
	json_t *m = old ? json_loads(old, 0, NULL) : NULL;
	char *s;
	if (!m)
		m = json_object();
	json_object_update(m, add);
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return s;
}

/* Move a finished slot's outcome into its record. 0 or TS_ERR_NOMEM. */
static int finish_record(struct fslot *sl)
{
	struct ts_record *rec = &sl->rec;
	struct ts_fetch_result *r = &sl->res;
	char why[256];
	char *s;

	if (!sl->fetched)
		return 0;
	if (r->reason == TS_R_NONE && check_hash(rec, r->body, r->len, why, sizeof(why))) {
		r->reason = TS_R_FETCH_HASH_MISMATCH;
		snprintf(r->msg, sizeof(r->msg), "%s", why);
	}
	if (r->reason == TS_R_NONE) {
		json_t *add = json_pack("{s:s?, s:I, s:s?, s:I, s:I, s:i}",
					"final_url", r->final_url,
					"http_status", (json_int_t)r->http_status,
					"content_type", r->content_type,
					"bytes", (json_int_t)r->len,
					"redirects", (json_int_t)r->redirects,
					"attempts", r->attempts);
		if (!add || !(s = merge_meta(rec->meta_json, add))) {
			json_decref(add);
			return TS_ERR_NOMEM;
		}
		json_decref(add);
		free(rec->meta_json);
		rec->meta_json = s;
		rec->image_data = r->body;
		rec->image_len = r->len;
		r->body = NULL;
		if (r->len == 0 && !rec->image_data)
			rec->image_data = malloc(1);   /* empty body: image.empty downstream */
		return rec->image_data ? 0 : TS_ERR_NOMEM;
	}
	json_t *d = json_pack("{s:I, s:i, s:i, s:s?}", "http_status", (json_int_t)r->http_status,
			      "curl_code", r->curl_code, "attempts", r->attempts,
			      "final_url", r->final_url);
	if (!d)
		return TS_ERR_NOMEM;
	s = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	if (!s)
		return TS_ERR_NOMEM;
	free(rec->reject_detail);
	rec->reject_detail = s;
	int rc = ts_src_reject(rec, r->reason, "cannot fetch '%s': %s",
			       rec->image_ref ? rec->image_ref : "", r->msg);
	return rc == 1 ? 0 : rc;
}

static int fsrc_next(struct ts_source *src, struct ts_record *rec, struct ts_err *err)
{
	struct fsrc *s = src->priv;
	struct ts_fetch_ctx *c = s->c;
	int rc;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (s->head < s->tail && s->slots[s->head % s->nslots].state == S_DONE)
			break;
		if (s->finished && s->head == s->tail) {
			int fatal = s->fatal;
			if (fatal)
				*err = s->fatal_err;
			pthread_mutex_unlock(&c->mu);
			return fatal ? (err->status ? err->status : TS_ERR_INTERNAL) : 0;
		}
		pthread_cond_wait(&s->cv, &c->mu);
	}
	struct fslot *sl = &s->slots[s->head % s->nslots];
	struct fslot mine = *sl;
	memset(sl, 0, sizeof(*sl));
	s->buffered -= mine.res.len;
	s->head++;
	pthread_mutex_unlock(&c->mu);
	ts_fetch_wakeup(c->eng);

	rc = finish_record(&mine);
	free(mine.res.body);
	free(mine.res.final_url);
	free(mine.res.content_type);
	if (rc) {
		ts_record_release(&mine.rec);
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	*rec = mine.rec;
	return 1;
}

static void fsrc_close(struct ts_source *src)
{
	struct fsrc *s = src->priv;
	if (!s)
		return;
	struct ts_fetch_ctx *c = s->c;
	if (s->started) {
		pthread_mutex_lock(&c->mu);
		s->stop = 1;
		pthread_mutex_unlock(&c->mu);
		ts_fetch_wakeup(c->eng);
		pthread_join(s->th, NULL);
	}
	/* an interrupted run: what is still queued is dropped */
	ts_fetch_cancel(c->eng, TS_R_FETCH_DEFERRED, "interrupted");
	if (s->slots) {
		for (size_t i = 0; i < s->nslots; i++) {
			ts_record_release(&s->slots[i].rec);
			free(s->slots[i].res.body);
			free(s->slots[i].res.final_url);
			free(s->slots[i].res.content_type);
		}
		free(s->slots);
	}
	ts_source_close(s->inner);
	pthread_cond_destroy(&s->cv);
	c->cur = NULL;
	free(s);
	src->priv = NULL;
}

static int fsrc_open(struct ts_source *src, struct ts_err *err)
{
	(void)src;
	(void)err;
	return 0;
}

static const struct ts_source_ops fsrc_ops = { fsrc_open, fsrc_next, fsrc_close };

int ts_source_fetch_wrap(struct ts_source **srcp, struct ts_fetch_ctx *c,
			 uint64_t resume_record, struct ts_err *err)
{
	struct ts_source *inner = *srcp, *outer = calloc(1, sizeof(*outer));
	struct fsrc *s = calloc(1, sizeof(*s));
	if (!outer || !s)
		goto nomem;
	s->c = c;
	s->resume_record = resume_record;
	s->nslots = c->o.window;
	if (!(s->slots = calloc(s->nslots, sizeof(*s->slots))))
		goto nomem;
	outer->format = inner->format;
	outer->ops = &fsrc_ops;
	outer->next_index = inner->next_index;
	outer->count = inner->count;
	outer->max_bytes = inner->max_bytes;
	if (!(outer->input = strdup(inner->input)))
		goto nomem;
	s->inner = inner;
	pthread_cond_init(&s->cv, NULL);
	outer->priv = s;
	c->cur = s;
	if (pthread_create(&s->th, NULL, net_main, s)) {
		ts_source_close(outer);
		*srcp = NULL;
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot start the network thread");
	}
	s->started = 1;
	*srcp = outer;
	return 0;
nomem:
	if (s)
		free(s->slots);
	free(s);
	free(outer);
	return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
}

int ts_fetch_ctx_new(struct ts_fetch_ctx **out, const struct ts_fetch_ctx_opts *o,
		     struct ts_err *err)
{
	struct ts_fetch_ctx *c = calloc(1, sizeof(*c));
	int rc;
	*out = NULL;
	if (!c)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	c->o = *o;
	if (!c->o.window)
		c->o.window = (size_t)c->o.net.concurrency * 16;
	if (c->o.window < 16)
		c->o.window = 16;
	if (!c->o.buffer_bytes)
		c->o.buffer_bytes = 512ULL << 20;
	pthread_mutex_init(&c->mu, NULL);
	c->t0 = ts_now();
	if ((rc = ts_fetch_new(&c->eng, &c->o.net, on_done, c, err))) {
		pthread_mutex_destroy(&c->mu);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void ts_fetch_ctx_free(struct ts_fetch_ctx *c)
{
	if (!c)
		return;
	ts_fetch_free(c->eng);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void ts_fetch_ctx_summary(struct ts_fetch_ctx *c, struct ts_fetch_summary *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&c->mu);
	/* as the network thread last saw them (what an interrupted run drops
	 * after it ended is not counted) */
	s->net = c->snap;
	s->fetched_ok = c->fetched_ok;
	s->deadline_hit = c->deadline_hit;
	s->fetch_seconds = ts_now() - c->t0;
	pthread_mutex_unlock(&c->mu);
}

void ts_fetch_ctx_progress(void *ctx, char *buf, size_t n)
{
	struct ts_fetch_ctx *c = ctx;
	pthread_mutex_lock(&c->mu);
	struct ts_fetch_stats st = c->snap;
	uint64_t ok = c->fetched_ok;
	pthread_mutex_unlock(&c->mu);
	double el = ts_now() - c->t0;
	snprintf(buf, n, " | %u in flight, %.1f MB/s, %.0f%% ok, %u hosts in backoff, oldest %.0f s",
		 st.in_flight, el > 0 ? (double)st.bytes / el / 1e6 : 0.0,
		 st.finished ? 100.0 * (double)ok / (double)st.finished : 100.0,
		 st.hosts_backoff + st.hosts_down, st.oldest_age);
}
