/*
 * fetch.c - the downloader: libcurl's multi interface driven by one thread.
 *
 * Jobs wait in one queue in the order they were added.  Each poll starts,
 * in that order, every job whose host has a free slot (--per-host, counted
 * here, not only by CURLMOPT_MAX_HOST_CONNECTIONS, so no job spends its
 * timeout waiting inside curl for a connection), that is not waiting for a
 * retry or a paused host, while fewer than --concurrency run.  The caller
 * bounds the queue (the look-ahead window), so a slow host cannot starve
 * the others: the jobs behind its full slots are passed over, not waited on.
 *
 * What must always hold:
 * - every transfer has a whole-request deadline, a connect deadline, a
 *   low-speed abort, a byte cap counted in the write callback and a
 *   redirect limit, so no job can run forever; redirects go to http/https
 *   only; no Accept-Encoding is sent, bodies are never decompressed;
 * - the address curl is about to connect to is checked in the open-socket
 *   callback, for every connection (redirect hops included), and refused
 *   when it is not public unless allowed;
 * - opt-out headers and an oversized Content-Length end the transfer when
 *   the headers are complete, before any body byte is kept;
 * - permanent failures are never retried; transient ones at most --retries
 *   times, after an exponential wait with jitter drawn from a seeded hash of
 *   (seed, id, attempt), or after Retry-After;
 * - every id added is delivered exactly once to the done callback.
 */
#define _GNU_SOURCE
#include "pipeline/sources/fetch.h"
#include "base/buf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <ctype.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

/* libcurl is opened when fetch starts (dlopen), not linked: with the 30
 * libraries it brings (TLS, Kerberos, LDAP, IDN...) every process of
 * every other command paid about 20 ms of start-up for it, the largest
 * serial part of a `captions tokenize` run.  The soname is the one the
 * headers were built for (Debian's libcurl4 package). */
#define CURL_SYMBOLS(X) \
	X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) X(curl_easy_reset) \
	X(curl_easy_setopt) X(curl_easy_strerror) X(curl_free) X(curl_getdate) X(curl_global_init) \
	X(curl_multi_add_handle) X(curl_multi_cleanup) X(curl_multi_info_read) X(curl_multi_init) \
	X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_remove_handle) X(curl_multi_setopt) \
	X(curl_multi_wakeup) X(curl_slist_append) X(curl_slist_free_all) X(curl_url) \
	X(curl_url_cleanup) X(curl_url_get) X(curl_url_set)
#define CURL_DECLARE(f) static __typeof__(f) *sym_##f;
CURL_SYMBOLS(CURL_DECLARE)
#define LIBCURL_SONAME "libcurl.so.4"

/* Open libcurl and find every function above; once, before any thread
 * uses it.  $TESSERA_LIBCURL names another file (the tests use it to see
 * the error of a machine without libcurl). */
static int curl_load(struct ts_err *err)
{
	static void *lib;
	const char *name = getenv("TESSERA_LIBCURL");
	if (lib)
		return 0;
	if (!name || !*name)
		name = LIBCURL_SONAME;
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return ts_err_set(err, TS_ERR_UNSUPPORTED, TS_R_NONE,
				  "fetch needs libcurl, which cannot be loaded (%s); on Debian: apt install libcurl4",
				  dlerror());
#define CURL_FIND(f) \
	if (!(sym_##f = (__typeof__(f) *)dlsym(h, #f))) { \
		dlclose(h); \
		return ts_err_set(err, TS_ERR_UNSUPPORTED, TS_R_NONE, \
				  "fetch needs libcurl 7.68 or later: '%s' has no %s", name, #f); \
	}
	CURL_SYMBOLS(CURL_FIND)
#undef CURL_FIND
	lib = h;
	return 0;
}

enum job_state { J_QUEUED, J_RUNNING, J_DONE };

struct host {
	char *name;
	unsigned active;
	unsigned consec;          /* consecutive connect/DNS/429 failures */
	int state;                /* H_OK, H_PAUSED, H_PROBE, H_DOWN */
	double paused_until;
	double next_start;        /* --host-rate */
	struct host *next;        /* hash chain */
};

enum { H_OK, H_PAUSED, H_PROBE, H_DOWN };

struct job {
	struct ts_fetch *f;
	uint64_t id;
	char *url;
	struct host *host;
	int state;
	int attempts;
	double not_before;
	double started;
	CURL *easy;
	/* per attempt */
	uint8_t *buf;
	size_t len, cap;
	int private_refused;
	char refused_addr[64];
	enum ts_reason abort_reason;
	char abort_msg[160];
	long hdr_status;          /* status of the response whose headers are arriving */
	int optout;               /* opt-out header seen in this response */
	char optout_what[96];
	double retry_after;       /* seconds, -1 none */
	int64_t content_length;   /* -1 unknown */
	char content_type[128];
	char errbuf[CURL_ERROR_SIZE];
	int dns_failure;
	long last_status;
	int last_code;
	struct job *next, *prev;  /* queue (queued and running) */
};

struct ts_fetch {
	struct ts_fetch_opts o;
	CURLM *multi;
	struct curl_slist *resolve;
	struct curl_slist *connect_to;
	ts_fetch_done_fn done;
	void *user;
	struct job *head, *tail;
	unsigned running, queued;
	struct host **htab;
	size_t hcap, hcount;
	char **allow;             /* allowed non-public addresses */
	size_t nallow;
	struct job **finished;    /* jobs done but not yet delivered */
	size_t nfin, capfin;
	uint64_t bytes, nfinished, nok, ndns;
	unsigned hosts_paused, hosts_down;   /* hosts in H_PAUSED, H_DOWN */
	int host_bound;           /* the last schedule() left a job waiting only for a
				   * --per-host slot while fewer than --concurrency ran */
	double busy_s, host_bound_s;   /* poll time with transfers pending; of it, host-bound */
	CURL **pool;              /* idle easy handles */
	size_t npool, cappool;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ts_fetch_opts_default(struct ts_fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->concurrency = 64;
	o->per_host = 4;
	o->timeout_ms = 30000;
	o->connect_timeout_ms = 10000;
	o->low_speed_bytes = 1024;
	o->low_speed_secs = 10;
	o->max_bytes = 32ULL << 20;
	o->max_redirects = 8;
	o->retries = 2;
	o->backoff = 1.0;
	o->max_retry_after = 60.0;
	o->respect = TS_RESPECT_ALL;
	o->host_failures = 5;
	o->host_pause = 30.0;
}

int ts_fetch_parse_respect(const char *s)
{
	static const struct { const char *name; int bit; } words[] = {
		{ "noai", TS_RESPECT_NOAI }, { "noimageai", TS_RESPECT_NOIMAGEAI },
		{ "noindex", TS_RESPECT_NOINDEX }, { "noimageindex", TS_RESPECT_NOIMAGEINDEX },
		{ "none", TS_RESPECT_NONE_DIRECTIVE }, { "tdm", TS_RESPECT_TDM },
	};
	int mask = 0;
	if (!strcmp(s, "all"))
		return TS_RESPECT_ALL;
	if (!strcmp(s, "none"))
		return 0;
	const char *p = s;
	while (*p) {
		size_t n = strcspn(p, ",");
		size_t i;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].name) == n && !strncmp(p, words[i].name, n))
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			return -1;
		mask |= words[i].bit;
		p += n;
		if (*p == ',')
			p++;
	}
	return mask;
}

/* ---- addresses ---- */

static int v4_private(uint32_t a)
{
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
		(a >> 22) == (100u << 2 | 1) ||          /* 100.64.0.0/10 */
		(a >> 16) == (169u << 8 | 254) ||        /* 169.254.0.0/16 */
		(a >> 20) == (172u << 4 | 1) ||          /* 172.16.0.0/12 */
		(a >> 8) == (192u << 16 | 0 << 8 | 0) || /* 192.0.0.0/24 */
		(a >> 8) == (192u << 16 | 0 << 8 | 2) || /* 192.0.2.0/24 */
		(a >> 16) == (192u << 8 | 168) ||        /* 192.168.0.0/16 */
		(a >> 17) == (198u << 7 | 9) ||          /* 198.18.0.0/15 */
		(a >> 8) == (198u << 16 | 51 << 8 | 100) ||
		(a >> 8) == (203u << 16 | 0 << 8 | 113) ||
		(a >> 28) >= 14;                         /* multicast, reserved, broadcast */
}

int ts_fetch_addr_private(const void *sa_)
{
	const struct sockaddr *sa = sa_;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = sa_;
		return v4_private(ntohl(s4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = sa_;
		const uint8_t *b = s6->sin6_addr.s6_addr;
		static const uint8_t zero[16];
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) || IN6_IS_ADDR_V4COMPAT(&s6->sin6_addr)) {
			uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
			return v4_private(a);
		}
		if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1))
			return 1;                        /* :: and ::1 */
		if ((b[0] & 0xfe) == 0xfc)               /* fc00::/7 unique local */
			return 1;
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
			return 1;
		if (b[0] == 0xff)                        /* multicast */
			return 1;
		if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
			return 1;                        /* documentation */
		if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
			return 1;                        /* NAT64: not checkable here */
		return 0;
	}
	return 1;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	out[0] = '\0';
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)n);
}


static int addr_allowed(const struct ts_fetch *f, const struct sockaddr *sa, char *txt, size_t n)
{
	addr_text(sa, txt, n);
	if (f->o.allow_private || !ts_fetch_addr_private(sa))
		return 1;
	for (size_t i = 0; i < f->nallow; i++)
		if (!strcmp(f->allow[i], txt))
			return 1;
	return 0;
}

/* Every connection curl opens passes here, at every redirect hop. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct job *j = clientp;
	(void)purpose;
	if (!addr_allowed(j->f, &a->addr, j->refused_addr, sizeof(j->refused_addr))) {
		j->private_refused = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---- hosts ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static struct host *host_get(struct ts_fetch *f, const char *name)
{
	if (f->hcount * 2 >= f->hcap) {
		size_t ncap = f->hcap ? f->hcap * 2 : 1024;
		struct host **nt = calloc(ncap, sizeof(*nt));
		if (!nt)
			return NULL;
		for (size_t i = 0; i < f->hcap; i++) {
			struct host *h = f->htab[i], *nx;
			for (; h; h = nx) {
				nx = h->next;
				size_t b = hash_str(h->name) & (ncap - 1);
				h->next = nt[b];
				nt[b] = h;
			}
		}
		free(f->htab);
		f->htab = nt;
		f->hcap = ncap;
	}
	size_t b = hash_str(name) & (f->hcap - 1);
	for (struct host *h = f->htab[b]; h; h = h->next)
		if (!strcmp(h->name, name))
			return h;
	struct host *h = calloc(1, sizeof(*h));
	if (!h || !(h->name = strdup(name))) {
		free(h);
		return NULL;
	}
	h->next = f->htab[b];
	f->htab[b] = h;
	f->hcount++;
	return h;
}

/* ---- per-response header state ---- */

static int ieq(const char *a, size_t n, const char *b)
{
	return strlen(b) == n && !strncasecmp(a, b, n);
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
		      (*s)[*n - 1] == '\n'))
		(*n)--;
}

/* X-Robots-Tag: [agent:] directive, directive ...  An agent prefix other
 * than "tessera" means the directives are for someone else. */
static void robots_tag(struct job *j, const char *v, size_t n)
{
	static const struct { const char *d; unsigned bit; } dirs[] = {
		{ "noai", TS_RESPECT_NOAI }, { "noimageai", TS_RESPECT_NOIMAGEAI },
		{ "noindex", TS_RESPECT_NOINDEX }, { "noimageindex", TS_RESPECT_NOIMAGEINDEX },
		{ "none", TS_RESPECT_NONE_DIRECTIVE },
	};
	const char *colon = memchr(v, ':', n);
	if (colon) {
		const char *a = v;
		size_t an = (size_t)(colon - v);
		trim(&a, &an);
		int is_dir = ieq(a, an, "unavailable_after") || ieq(a, an, "max-snippet") ||
			ieq(a, an, "max-image-preview") || ieq(a, an, "max-video-preview");
		if (!is_dir && memchr(a, ',', an) == NULL) {
			if (!ieq(a, an, "tessera"))
				return;
			n -= (size_t)(colon + 1 - v);
			v = colon + 1;
		}
	}
	while (n) {
		const char *c = memchr(v, ',', n);
		size_t k = c ? (size_t)(c - v) : n;
		const char *d = v;
		size_t dn = k;
		trim(&d, &dn);
		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
			if (ieq(d, dn, dirs[i].d) && (j->f->o.respect & dirs[i].bit) && !j->optout) {
				j->optout = 1;
				snprintf(j->optout_what, sizeof(j->optout_what), "X-Robots-Tag: %s", dirs[i].d);
			}
		if (!c)
			break;
		n -= k + 1;
		v = c + 1;
	}
}

static double parse_retry_after(const char *v, size_t n)
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	char *end;
	double s = strtod(tmp, &end);
	if (end != tmp && *end == '\0' && s >= 0)
		return s;
	time_t t = sym_curl_getdate(tmp, NULL);
	if (t == (time_t)-1)
		return -1;
	double d = difftime(t, time(NULL));
	return d > 0 ? d : 0;
}

static enum ts_reason status_reason(long st)
{
	if (st == 404 || st == 410)
		return TS_R_FETCH_HTTP_GONE;
	if (st == 401 || st == 403 || st == 451)
		return TS_R_FETCH_HTTP_FORBIDDEN;
	if (st == 429)
		return TS_R_FETCH_RATE_LIMITED;
	if (st == 408 || st >= 500)
		return TS_R_FETCH_HTTP_SERVER;
	if (st >= 400)
		return TS_R_FETCH_HTTP_GONE;
	if (st >= 300)
		return TS_R_FETCH_REDIRECTS;
	return TS_R_NONE;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
	struct job *j = user;
	size_t n = size * nmemb;
	const char *v;
	size_t vn;

	if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* a new response (a redirect hop, or 100 Continue) */
		const char *sp = memchr(data, ' ', n);
		j->hdr_status = sp ? strtol(sp + 1, NULL, 10) : 0;
		j->optout = 0;
		j->optout_what[0] = '\0';
		j->retry_after = -1;
		j->content_length = -1;
		j->content_type[0] = '\0';
		return n;
	}
	if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		/* end of this response's headers */
		long st = j->hdr_status;
		if (st >= 100 && st < 200)
			return n;
		if (st >= 300 && st < 400)
			return n;          /* curl follows it, or reports it */
		if (st >= 400) {
			j->abort_reason = status_reason(st);
			snprintf(j->abort_msg, sizeof(j->abort_msg), "HTTP %ld", st);
			return 0;           /* the error page is not read */
		}
		if (j->optout) {
			j->abort_reason = TS_R_FETCH_OPT_OUT;
			snprintf(j->abort_msg, sizeof(j->abort_msg), "%s", j->optout_what);
			return 0;
		}
		if (j->content_length >= 0 && (uint64_t)j->content_length > j->f->o.max_bytes) {
			j->abort_reason = TS_R_FETCH_TOO_LARGE;
			snprintf(j->abort_msg, sizeof(j->abort_msg),
				 "Content-Length %lld is over --max-bytes %llu",
				 (long long)j->content_length, (unsigned long long)j->f->o.max_bytes);
			return 0;
		}
		if (j->content_length > 0 && (size_t)j->content_length > j->cap) {
			/* the body in one allocation, no copies while it grows */
			uint8_t *nb = realloc(j->buf, (size_t)j->content_length);
			if (nb) {
				j->buf = nb;
				j->cap = (size_t)j->content_length;
			}
		}
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon)
		return n;
	size_t nn = (size_t)(colon - data);
	v = colon + 1;
	vn = n - nn - 1;
	trim(&v, &vn);
	if (ieq(data, nn, "x-robots-tag"))
		robots_tag(j, v, vn);
	else if (ieq(data, nn, "tdm-reservation")) {
		if ((j->f->o.respect & TS_RESPECT_TDM) && vn == 1 && v[0] == '1' && !j->optout) {
			j->optout = 1;
			snprintf(j->optout_what, sizeof(j->optout_what), "tdm-reservation: 1");
		}
	} else if (ieq(data, nn, "retry-after"))
		j->retry_after = parse_retry_after(v, vn);
	else if (ieq(data, nn, "content-length")) {
		char tmp[32];
		if (vn < sizeof(tmp)) {
			memcpy(tmp, v, vn);
			tmp[vn] = '\0';
			j->content_length = strtoll(tmp, NULL, 10);
		}
	} else if (ieq(data, nn, "content-type")) {
		size_t k = vn < sizeof(j->content_type) - 1 ? vn : sizeof(j->content_type) - 1;
		memcpy(j->content_type, v, k);
		j->content_type[k] = '\0';
	}
	return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *user)
{
	struct job *j = user;
	size_t n = size * nmemb;
	uint64_t cap = j->f->o.max_bytes;

	if (j->hdr_status >= 300 && j->hdr_status < 400)
		return n;       /* a redirect's body: not kept */
	if ((uint64_t)j->len + n > cap) {
		j->abort_reason = TS_R_FETCH_TOO_LARGE;
		snprintf(j->abort_msg, sizeof(j->abort_msg), "body is over --max-bytes %llu",
			 (unsigned long long)cap);
		return 0;
	}
	if (j->len + n > j->cap) {
		size_t nc = j->cap ? j->cap : 64 * 1024;
		while (nc < j->len + n)
			nc *= 2;
		if (nc > cap)
			nc = (size_t)cap;
		uint8_t *nb = realloc(j->buf, nc);
		if (!nb) {
			j->abort_reason = TS_R_FETCH_TOO_LARGE;
			snprintf(j->abort_msg, sizeof(j->abort_msg), "out of memory for the body");
			return 0;
		}
		j->buf = nb;
		j->cap = nc;
	}
	memcpy(j->buf + j->len, data, n);
	j->len += n;
	j->f->bytes += n;
	return n;
}

/* ---- jobs ---- */

static void q_unlink(struct ts_fetch *f, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		f->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		f->tail = j->prev;
	j->next = j->prev = NULL;
}

static void q_append(struct ts_fetch *f, struct job *j)
{
	j->prev = f->tail;
	j->next = NULL;
	if (f->tail)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->url);
	free(j->buf);
	free(j);
}

/* Hand a finished job to the caller and free it. */
static void deliver(struct ts_fetch *f, struct job *j, enum ts_reason reason,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void deliver(struct ts_fetch *f, struct job *j, enum ts_reason reason,
		    const char *fmt, ...)
{
	struct ts_fetch_result r;
	va_list ap;
	memset(&r, 0, sizeof(r));
	r.id = j->id;
	r.reason = reason;
	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	r.attempts = j->attempts;
	r.http_status = j->last_status;
	r.curl_code = j->last_code;
	r.dns_failure = j->dns_failure;
	if (j->easy) {
		char *u = NULL;
		long rc = 0;
		sym_curl_easy_getinfo(j->easy, CURLINFO_EFFECTIVE_URL, &u);
		if (u)
			r.final_url = strdup(u);
		sym_curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_COUNT, &rc);
		r.redirects = rc;
	}
	if (!r.final_url && j->url)
		r.final_url = strdup(j->url);
	if (j->content_type[0])
		r.content_type = strdup(j->content_type);
	if (reason == TS_R_NONE) {
		r.body = j->buf;
		r.len = j->len;
		j->buf = NULL;
		f->nok++;
	}
	if (j->dns_failure)
		f->ndns++;
	f->nfinished++;
	f->done(f->user, &r);
	free(r.body);
	free(r.final_url);
	free(r.content_type);
}

static int host_of(const char *url, char **host, char *why, size_t whyn)
{
	CURLU *u = sym_curl_url();
	char *scheme = NULL, *h = NULL;
	int ok = 0;
	*host = NULL;
	if (!u)
		return -1;
	if (sym_curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)) {
		snprintf(why, whyn, "cannot parse the URL");
		goto out;
	}
	if (sym_curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
		snprintf(why, whyn, "scheme '%s' is not http or https", scheme ? scheme : "");
		goto out;
	}
	if (sym_curl_url_get(u, CURLUPART_HOST, &h, 0) || !h || !h[0]) {
		snprintf(why, whyn, "no host");
		goto out;
	}
	for (char *p = h; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	*host = strdup(h);
	ok = *host ? 1 : -1;
out:
	sym_curl_free(scheme);
	sym_curl_free(h);
	sym_curl_url_cleanup(u);
	return ok;
}

/* The URL as curl takes it: surrounding white space dropped, inner spaces
 * as %20 (lists carry them; browsers and img2dataset's requests send them
 * so).  malloc'ed, NULL when out of memory. */
static char *clean_url(const char *u)
{
	size_t n, spaces = 0;
	while (*u == ' ' || *u == '\t' || *u == '\r' || *u == '\n')
		u++;
	n = strlen(u);
	while (n && (u[n - 1] == ' ' || u[n - 1] == '\t' || u[n - 1] == '\r' || u[n - 1] == '\n'))
		n--;
	for (size_t i = 0; i < n; i++)
		spaces += u[i] == ' ';
	char *out = malloc(n + 2 * spaces + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (u[i] == ' ') {
			memcpy(o, "%20", 3);
			o += 3;
		} else {
			*o++ = u[i];
		}
	}
	*o = '\0';
	return out;
}

int ts_fetch_add(struct ts_fetch *f, uint64_t id, const char *url, struct ts_err *err)
{
	struct job *j = calloc(1, sizeof(*j));
	char why[128] = "", *host = NULL;
	if (!j || !(j->url = clean_url(url ? url : "")))
		goto nomem;
	j->f = f;
	j->id = id;
	j->retry_after = -1;
	int r = host_of(j->url, &host, why, sizeof(why));
	if (r < 0)
		goto nomem;
	if (r == 0) {
		/* finished at the next poll, so the caller sees one path */
		j->state = J_DONE;
		j->abort_reason = TS_R_FETCH_BAD_URL;
		snprintf(j->abort_msg, sizeof(j->abort_msg), "%s", why);
	} else {
		j->host = host_get(f, host);
		free(host);
		if (!j->host)
			goto nomem;
		if (j->host->state == H_DOWN) {
			j->state = J_DONE;
			j->abort_reason = TS_R_FETCH_HOST_DOWN;
			snprintf(j->abort_msg, sizeof(j->abort_msg), "host '%s' is down (circuit breaker open)",
				 j->host->name);
		}
	}
	if (j->state == J_DONE) {
		if (TS_ALLOC_GROW(f->finished, f->capfin, f->nfin + 1))
			goto nomem;
		f->finished[f->nfin++] = j;
		return 0;
	}
	j->state = J_QUEUED;
	q_append(f, j);
	f->queued++;
	return 0;
nomem:
	job_free(j);
	return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
}

static CURL *easy_get(struct ts_fetch *f)
{
	if (f->npool)
		return f->pool[--f->npool];
	return sym_curl_easy_init();
}

static void easy_put(struct ts_fetch *f, CURL *e)
{
	if (!e)
		return;
	if (TS_ALLOC_GROW(f->pool, f->cappool, f->npool + 1)) {
		sym_curl_easy_cleanup(e);
		return;
	}
	sym_curl_easy_reset(e);
	f->pool[f->npool++] = e;
}

static int job_start(struct ts_fetch *f, struct job *j, double now)
{
	const struct ts_fetch_opts *o = &f->o;
	CURL *e = easy_get(f);
	if (!e)
		return -1;
	j->easy = e;
	j->len = 0;
	j->private_refused = 0;
	j->abort_reason = TS_R_NONE;
	j->abort_msg[0] = '\0';
	j->hdr_status = 0;
	j->optout = 0;
	j->retry_after = -1;
	j->content_length = -1;
	j->content_type[0] = '\0';
	j->errbuf[0] = '\0';
	j->attempts++;
	j->started = now;
	sym_curl_easy_setopt(e, CURLOPT_URL, j->url);
	sym_curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	sym_curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	sym_curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
	sym_curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	sym_curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	sym_curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	sym_curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)o->max_redirects);
	sym_curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	sym_curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	if (o->low_speed_secs > 0) {
		sym_curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
		sym_curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, o->low_speed_secs);
	}
	sym_curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
	sym_curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
	sym_curl_easy_setopt(e, CURLOPT_PROXY, "");
	sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
	sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
	sym_curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	sym_curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	sym_curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	sym_curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	sym_curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	sym_curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	sym_curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j);
	if (f->resolve)
		sym_curl_easy_setopt(e, CURLOPT_RESOLVE, f->resolve);
	if (f->connect_to)
		sym_curl_easy_setopt(e, CURLOPT_CONNECT_TO, f->connect_to);
	if (sym_curl_multi_add_handle(f->multi, e) != CURLM_OK) {
		easy_put(f, e);
		j->easy = NULL;
		return -1;
	}
	j->state = J_RUNNING;
	j->host->active++;
	f->running++;
	f->queued--;
	if (o->host_rate > 0)
		j->host->next_start = now + 1.0 / o->host_rate;
	return 0;
}

static unsigned host_limit(const struct ts_fetch *f, const struct host *h)
{
	return h->state == H_PROBE ? 1u : (unsigned)f->o.per_host;
}

static void schedule(struct ts_fetch *f, double now)
{
	int held = 0;
	for (struct job *j = f->head, *nx; j && f->running < (unsigned)f->o.concurrency; j = nx) {
		nx = j->next;
		if (j->state != J_QUEUED)
			continue;
		struct host *h = j->host;
		if (h->state == H_PAUSED && now >= h->paused_until) {
			h->state = H_PROBE;
			f->hosts_paused--;
		}
		if (h->state == H_PAUSED || h->active >= host_limit(f, h) ||
		    j->not_before > now || (f->o.host_rate > 0 && h->next_start > now)) {
			held |= h->state == H_OK && h->active >= host_limit(f, h) && j->not_before <= now;
			continue;
		}
		if (job_start(f, j, now))
			break;
	}
	f->host_bound = held && f->running < (unsigned)f->o.concurrency;
}

/* jitter in [0.5, 1.5), the same for the same (seed, id, attempt) */
static double jitter(uint64_t seed, uint64_t id, int attempt)
{
	uint64_t z = seed ^ (id * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)attempt << 56);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return 0.5 + (double)(z >> 11) / 9007199254740992.0;
}

static void host_down_all(struct ts_fetch *f, struct host *h)
{
	for (struct job *j = f->head, *nx; j; j = nx) {
		nx = j->next;
		if (j->host != h || j->state != J_QUEUED)
			continue;
		q_unlink(f, j);
		f->queued--;
		deliver(f, j, TS_R_FETCH_HOST_DOWN, "host '%s' is down (circuit breaker open after %u failures)",
			h->name, h->consec);
		job_free(j);
	}
}

static int breaker_failure(enum ts_reason r)
{
	return r == TS_R_FETCH_DNS || r == TS_R_FETCH_CONNECT || r == TS_R_FETCH_RATE_LIMITED;
}

static enum ts_reason classify(struct job *j, CURLcode code, char *msg, size_t n)
{
	long st = 0, redirects = 0;
	double tconn = 0;
	sym_curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &st);
	sym_curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_COUNT, &redirects);
	j->last_status = st;
	j->last_code = (int)code;
	const char *cm = j->errbuf[0] ? j->errbuf : sym_curl_easy_strerror(code);

	if (j->private_refused) {
		snprintf(msg, n, "address %s is not public (use --allow-private to allow it)",
			 j->refused_addr);
		return TS_R_FETCH_PRIVATE_ADDRESS;
	}
	if (j->abort_reason != TS_R_NONE) {
		/* our own abort (status, opt-out, cap): curl's write error says nothing */
		j->last_code = 0;
		snprintf(msg, n, "%s", j->abort_msg);
		return j->abort_reason;
	}
	switch (code) {
	case CURLE_OK:
		if (st >= 300) {
			snprintf(msg, n, st < 400 ? "HTTP %ld without a usable Location" : "HTTP %ld", st);
			return status_reason(st);
		}
		return TS_R_NONE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		j->dns_failure = 1;
		snprintf(msg, n, "%s", cm);
		return TS_R_FETCH_DNS;
	case CURLE_COULDNT_CONNECT:
		snprintf(msg, n, "%s", cm);
		return TS_R_FETCH_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(msg, n, "%s", cm);
		sym_curl_easy_getinfo(j->easy, CURLINFO_CONNECT_TIME, &tconn);
		if (tconn <= 0)
			return TS_R_FETCH_CONNECT;
		if (strstr(cm, "too slow"))
			return TS_R_FETCH_STALLED;
		return TS_R_FETCH_TIMEOUT;
	case CURLE_TOO_MANY_REDIRECTS:
		snprintf(msg, n, "more than %ld redirects", redirects);
		return TS_R_FETCH_REDIRECTS;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		snprintf(msg, n, "%s", cm);
		return redirects > 0 || j->hdr_status / 100 == 3 ? TS_R_FETCH_REDIRECT_BLOCKED : TS_R_FETCH_BAD_URL;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		snprintf(msg, n, "%s", cm);
		return TS_R_FETCH_TLS;
	case CURLE_PARTIAL_FILE:
		snprintf(msg, n, "%s", cm);
		return TS_R_FETCH_TRUNCATED;
	case CURLE_FILESIZE_EXCEEDED:
		snprintf(msg, n, "body is over --max-bytes %llu", (unsigned long long)j->f->o.max_bytes);
		return TS_R_FETCH_TOO_LARGE;
	default:
		snprintf(msg, n, "%s", cm);
		return TS_R_FETCH_RESET;   /* recv/send errors, empty reply, ... */
	}
}

static void job_finished(struct ts_fetch *f, struct job *j, CURLcode code, double now)
{
	char msg[320];
	enum ts_reason r = classify(j, code, msg, sizeof(msg));
	struct host *h = j->host;
	double wait = -1;

	sym_curl_multi_remove_handle(f->multi, j->easy);
	h->active--;
	f->running--;

	/* the circuit breaker */
	if (f->o.host_failures > 0) {
		if (breaker_failure(r)) {
			h->consec++;
			if (h->state == H_PROBE) {
				h->state = H_DOWN;
				f->hosts_down++;
			} else if (h->state == H_OK && h->consec >= (unsigned)f->o.host_failures) {
				h->state = H_PAUSED;
				h->paused_until = now + f->o.host_pause;
				f->hosts_paused++;
			}
		} else if (r == TS_R_NONE || (r != TS_R_FETCH_TIMEOUT && r != TS_R_FETCH_STALLED)) {
			h->consec = 0;
			if (h->state == H_PROBE)
				h->state = H_OK;
		}
	}

	if (ts_reason_transient(r) && r != TS_R_FETCH_HOST_DOWN && j->attempts <= f->o.retries &&
	    h->state != H_DOWN) {
		wait = f->o.backoff * pow(2.0, j->attempts - 1) * jitter(f->o.seed, j->id, j->attempts);
		if (j->retry_after >= 0 && (j->last_status == 429 || j->last_status == 503)) {
			if (j->retry_after > f->o.max_retry_after)
				wait = -1;      /* longer than we wait: give up now */
			else
				wait = j->retry_after;
		}
	}
	if (wait >= 0) {
		easy_put(f, j->easy);
		j->easy = NULL;
		j->state = J_QUEUED;
		j->not_before = now + wait;
		f->queued++;
		if (h->state == H_DOWN)
			host_down_all(f, h);
		return;
	}
	q_unlink(f, j);
	if (r != TS_R_NONE)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (%d attempt%s)",
			 j->attempts, j->attempts == 1 ? "" : "s");
	deliver(f, j, r, "%s", msg);
	easy_put(f, j->easy);
	j->easy = NULL;
	job_free(j);
	if (h->state == H_DOWN)
		host_down_all(f, h);
}

int ts_fetch_poll(struct ts_fetch *f, int wait_ms, struct ts_err *err)
{
	double now = now_s();
	int still, nq;
	CURLMsg *m;

	/* jobs that finished without a transfer */
	for (size_t i = 0; i < f->nfin; i++) {
		struct job *j = f->finished[i];
		deliver(f, j, j->abort_reason, "%s", j->abort_msg);
		job_free(j);
	}
	f->nfin = 0;
	schedule(f, now);
	/* wake in time for the next retry or paused host */
	if (f->queued && wait_ms > 50)
		wait_ms = 50;
	int pending = f->running || f->queued, bound = f->host_bound;
	if (sym_curl_multi_poll(f->multi, NULL, 0, wait_ms, NULL) != CURLM_OK)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "curl_multi_poll failed");
	if (sym_curl_multi_perform(f->multi, &still) != CURLM_OK)
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "curl_multi_perform failed");
	double t = now_s();
	if (pending)
		f->busy_s += t - now;
	if (pending && bound)
		f->host_bound_s += t - now;
	now = t;
	while ((m = sym_curl_multi_info_read(f->multi, &nq))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct job *j = NULL;
		sym_curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
		CURLcode code = m->data.result;
		if (j)
			job_finished(f, j, code, now);
	}
	schedule(f, now);
	return 0;
}

void ts_fetch_cancel(struct ts_fetch *f, enum ts_reason reason, const char *msg)
{
	for (size_t i = 0; i < f->nfin; i++) {
		struct job *j = f->finished[i];
		deliver(f, j, j->abort_reason, "%s", j->abort_msg);
		job_free(j);
	}
	f->nfin = 0;
	while (f->head) {
		struct job *j = f->head;
		q_unlink(f, j);
		if (j->state == J_RUNNING) {
			sym_curl_multi_remove_handle(f->multi, j->easy);
			j->host->active--;
			f->running--;
		} else {
			f->queued--;
		}
		deliver(f, j, reason, "%s", msg);
		easy_put(f, j->easy);
		j->easy = NULL;
		job_free(j);
	}
}

void ts_fetch_wakeup(struct ts_fetch *f)
{
	if (f)
		sym_curl_multi_wakeup(f->multi);
}

void ts_fetch_get_stats(const struct ts_fetch *f, struct ts_fetch_stats *st)
{
	double now = now_s();
	memset(st, 0, sizeof(*st));
	st->in_flight = f->running;
	st->queued = f->queued;
	st->bytes = f->bytes;
	st->finished = f->nfinished;
	st->ok = f->nok;
	st->dns_failures = f->ndns;
	for (const struct job *j = f->head; j; j = j->next)
		if (j->state == J_RUNNING && now - j->started > st->oldest_age)
			st->oldest_age = now - j->started;
	st->hosts_backoff = f->hosts_paused;
	st->hosts_down = f->hosts_down;
	st->busy_seconds = f->busy_s;
	st->host_bound_seconds = f->host_bound_s;
}

size_t ts_fetch_pending(const struct ts_fetch *f)
{
	return f->running + f->queued + f->nfin;
}

int ts_fetch_global_init(struct ts_err *err)
{
	int rc = curl_load(err);
	if (rc)
		return rc;
	if (sym_curl_global_init(CURL_GLOBAL_DEFAULT))
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot initialise libcurl");
	return 0;
}

int ts_fetch_new(struct ts_fetch **out, const struct ts_fetch_opts *o,
		 ts_fetch_done_fn done, void *user, struct ts_err *err)
{
	struct ts_fetch *f = calloc(1, sizeof(*f));
	*out = NULL;
	if (!f)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	f->o = *o;
	f->done = done;
	f->user = user;
	if (!(f->multi = sym_curl_multi_init())) {
		free(f);
		return ts_err_set(err, TS_ERR_INTERNAL, TS_R_NONE, "cannot create a libcurl multi handle");
	}
	sym_curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->per_host);
	sym_curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->concurrency);
	sym_curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)o->concurrency * 2);
	for (int i = 0; i < o->nresolve; i++) {
		struct curl_slist *nl = sym_curl_slist_append(f->resolve, o->resolve[i]);
		if (!nl)
			goto nomem;
		f->resolve = nl;
	}
	for (int i = 0; i < o->nconnect_to; i++) {
		struct curl_slist *nl = sym_curl_slist_append(f->connect_to, o->connect_to[i]);
		if (!nl)
			goto nomem;
		f->connect_to = nl;
	}
	if (o->allow_addrs && *o->allow_addrs) {
		const char *p = o->allow_addrs;
		while (*p) {
			size_t n = strcspn(p, ",");
			char **na = realloc(f->allow, (f->nallow + 1) * sizeof(*na));
			if (!na)
				goto nomem;
			f->allow = na;
			if (!(f->allow[f->nallow] = strndup(p, n)))
				goto nomem;
			f->nallow++;
			p += n;
			if (*p == ',')
				p++;
		}
	}
	*out = f;
	return 0;
nomem:
	ts_fetch_free(f);
	return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
}

void ts_fetch_free(struct ts_fetch *f)
{
	if (!f)
		return;
	while (f->head) {
		struct job *j = f->head;
		q_unlink(f, j);
		if (j->easy) {
			sym_curl_multi_remove_handle(f->multi, j->easy);
			sym_curl_easy_cleanup(j->easy);
		}
		job_free(j);
	}
	for (size_t i = 0; i < f->nfin; i++)
		job_free(f->finished[i]);
	free(f->finished);
	for (size_t i = 0; i < f->npool; i++)
		sym_curl_easy_cleanup(f->pool[i]);
	free(f->pool);
	for (size_t i = 0; i < f->hcap; i++) {
		struct host *h = f->htab[i], *nx;
		for (; h; h = nx) {
			nx = h->next;
			free(h->name);
			free(h);
		}
	}
	free(f->htab);
	for (size_t i = 0; i < f->nallow; i++)
		free(f->allow[i]);
	free(f->allow);
	sym_curl_slist_free_all(f->resolve);
	sym_curl_slist_free_all(f->connect_to);
	sym_curl_multi_cleanup(f->multi);
	free(f);
}
