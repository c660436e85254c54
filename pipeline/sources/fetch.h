/*
 * fetch.h - the downloader of `tessera fetch`: HTTP(S) transfers on libcurl's
 * multi interface, with tessera's own per-host queues, deadlines, caps,
 * retries, circuit breakers and address checks.  It prints nothing and never
 * exits; every outcome is a struct ts_fetch_result with a reason code
 * (base/ts_error.h, fetch.*).
 *
 * One thread drives an engine (ts_fetch_add, ts_fetch_poll, ts_fetch_cancel);
 * ts_fetch_wakeup may be called from any thread.
 */
#ifndef TS_FETCH_H
#define TS_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/ts_error.h"

/* Opt-out signals honoured (--respect). */
enum {
	TS_RESPECT_NOAI = 1 << 0,          /* X-Robots-Tag: noai */
	TS_RESPECT_NOIMAGEAI = 1 << 1,     /* X-Robots-Tag: noimageai */
	TS_RESPECT_NOINDEX = 1 << 2,       /* X-Robots-Tag: noindex */
	TS_RESPECT_NOIMAGEINDEX = 1 << 3,  /* X-Robots-Tag: noimageindex */
	TS_RESPECT_NONE_DIRECTIVE = 1 << 4,/* X-Robots-Tag: none */
	TS_RESPECT_TDM = 1 << 5,           /* tdm-reservation: 1 */
	TS_RESPECT_ALL = (1 << 6) - 1,
};

/* "noai,tdm,..." or "all" or "none" into a mask; -1 for an unknown word. */
int ts_fetch_parse_respect(const char *s);

struct ts_fetch_opts {
	int concurrency;            /* transfers in flight (64) */
	int per_host;               /* transfers in flight per host (4) */
	long timeout_ms;            /* whole request (30000) */
	long connect_timeout_ms;    /* (10000) */
	long low_speed_bytes;       /* abort below this many bytes/s ... (1024) */
	long low_speed_secs;        /* ... for this long (10); 0 off */
	uint64_t max_bytes;         /* body cap (32 MiB) */
	int max_redirects;          /* (8) */
	int retries;                /* extra attempts for transient failures (2) */
	double backoff;             /* first retry wait in seconds, doubled each time (1) */
	double max_retry_after;     /* longest Retry-After waited for (60); longer: no retry */
	const char *user_agent;
	const char *const *resolve; /* "HOST:PORT:ADDR" entries (CURLOPT_RESOLVE) */
	int nresolve;
	const char *const *connect_to; /* "HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT" (CURLOPT_CONNECT_TO) */
	int nconnect_to;
	int allow_private;          /* 1: any address; 0: public only, plus allow_addrs */
	const char *allow_addrs;    /* comma-separated addresses allowed although not public */
	int insecure;               /* no TLS verification */
	unsigned respect;           /* TS_RESPECT_* */
	int host_failures;          /* breaker: consecutive connect/DNS/429 failures (5); 0 off */
	double host_pause;          /* seconds a tripped host is paused (30) */
	double host_rate;           /* requests started per second per host; 0 unlimited */
	uint64_t seed;              /* jitter of the retry waits */
};

void ts_fetch_opts_default(struct ts_fetch_opts *o);

struct ts_fetch_result {
	uint64_t id;
	enum ts_reason reason;      /* TS_R_NONE: body holds the response */
	char msg[320];
	uint8_t *body;              /* malloc'ed; the callback may take it (set NULL) */
	size_t len;
	long http_status;           /* 0 when no response */
	int curl_code;
	int attempts;
	long redirects;
	char *final_url;            /* malloc'ed or NULL; the callback may take it */
	char *content_type;         /* malloc'ed or NULL; likewise */
	int dns_failure;            /* this result (any attempt) failed to resolve */
};

/* Called for every finished id, on the thread that called ts_fetch_poll or
 * ts_fetch_cancel.  Whatever it leaves in r is freed afterwards. */
typedef void (*ts_fetch_done_fn)(void *user, struct ts_fetch_result *r);

struct ts_fetch;

int ts_fetch_new(struct ts_fetch **out, const struct ts_fetch_opts *o,
		 ts_fetch_done_fn done, void *user, struct ts_err *err);
/* Queue url under id (ids need not be ordered).  A URL that cannot be used
 * (bad scheme, no host) finishes at the next poll as fetch.bad_url.
 * Returns 0 or TS_ERR_NOMEM. */
int ts_fetch_add(struct ts_fetch *f, uint64_t id, const char *url, struct ts_err *err);
/* Start what may start, wait up to wait_ms for network activity, and
 * deliver finished transfers.  Returns 0 or a negative status (curl failed). */
int ts_fetch_poll(struct ts_fetch *f, int wait_ms, struct ts_err *err);
/* Finish every queued and running transfer now with reason (fetch.deferred
 * at the run's deadline). */
void ts_fetch_cancel(struct ts_fetch *f, enum ts_reason reason, const char *msg);
/* Make a ts_fetch_poll that is waiting return early (any thread). */
void ts_fetch_wakeup(struct ts_fetch *f);

struct ts_fetch_stats {
	unsigned in_flight, queued, hosts_backoff, hosts_down;
	double oldest_age;          /* seconds the oldest running transfer has run */
	uint64_t bytes;             /* body bytes received */
	uint64_t finished, ok, dns_failures;
	double busy_seconds;        /* time with transfers queued or running */
	double host_bound_seconds;  /* of it, with a transfer waiting only for a
				     * --per-host slot while fewer than --concurrency ran */
};
void ts_fetch_get_stats(const struct ts_fetch *f, struct ts_fetch_stats *st);
size_t ts_fetch_pending(const struct ts_fetch *f);   /* queued + running */

void ts_fetch_free(struct ts_fetch *f);   /* accepts NULL; cancels nothing, drops all */

/* 1 when the IPv4/IPv6 address (struct sockaddr *) is loopback, private,
 * link-local, multicast or otherwise not publicly routable. */
int ts_fetch_addr_private(const void *sockaddr);

/* Global libcurl set-up; call once before any thread starts. */
int ts_fetch_global_init(struct ts_err *err);

#endif
