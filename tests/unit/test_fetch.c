/* test_fetch.c - the downloader's pure parts: which addresses are public,
 * the --respect words, transient versus permanent reasons, and that every
 * fetch.* reason is marked permanent or transient in docs/formats.md. */
#include "tests/unit/t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/ts_error.h"
#include "pipeline/sources/fetch.h"

static int priv(const char *a)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, a, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return ts_fetch_addr_private(&s4);
	}
	if (inet_pton(AF_INET6, a, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		return ts_fetch_addr_private(&s6);
	}
	return -1;
}

static void addresses(void)
{
	static const struct { const char *addr; int priv; } cases[] = {
		{ "127.0.0.1", 1 }, { "127.0.0.9", 1 }, { "10.1.2.3", 1 }, { "172.16.0.1", 1 },
		{ "172.31.255.255", 1 }, { "172.32.0.1", 0 }, { "192.168.1.1", 1 }, { "169.254.169.254", 1 },
		{ "100.64.0.1", 1 }, { "100.128.0.1", 0 }, { "0.0.0.0", 1 }, { "224.0.0.1", 1 },
		{ "255.255.255.255", 1 }, { "192.0.2.7", 1 }, { "198.18.0.1", 1 }, { "8.8.8.8", 0 },
		{ "93.184.216.34", 0 }, { "::1", 1 }, { "::", 1 }, { "fe80::1", 1 }, { "fd00::1", 1 },
		{ "ff02::1", 1 }, { "::ffff:127.0.0.1", 1 }, { "::ffff:10.0.0.1", 1 },
		{ "::ffff:8.8.8.8", 0 }, { "2001:db8::1", 1 }, { "2606:4700::1111", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECKF(priv(cases[i].addr) == cases[i].priv, "%s: expected %s", cases[i].addr,
		       cases[i].priv ? "not public" : "public");
}

static void respect_words(void)
{
	CHECK_EQ_INT(ts_fetch_parse_respect("all"), TS_RESPECT_ALL);
	CHECK_EQ_INT(ts_fetch_parse_respect("none"), 0);
	CHECK_EQ_INT(ts_fetch_parse_respect("noai,tdm"), TS_RESPECT_NOAI | TS_RESPECT_TDM);
	CHECK_EQ_INT(ts_fetch_parse_respect("noimageindex"), TS_RESPECT_NOIMAGEINDEX);
	CHECK_EQ_INT(ts_fetch_parse_respect("noai,bogus"), -1);
	CHECK_EQ_INT(ts_fetch_parse_respect("noa"), -1);
}

static void transient_or_permanent(void)
{
	static const char *const transient[] = { "fetch.dns", "fetch.connect", "fetch.timeout",
		"fetch.stalled", "fetch.reset", "fetch.truncated", "fetch.http_server",
		"fetch.rate_limited", "fetch.host_down", "fetch.deferred" };
	static const char *const permanent[] = { "fetch.http_gone", "fetch.http_forbidden",
		"fetch.opt_out", "fetch.redirects", "fetch.redirect_blocked", "fetch.private_address",
		"fetch.too_large", "fetch.tls", "fetch.hash_mismatch", "fetch.bad_url",
		"image.truncated", "source.missing" };
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
		enum ts_reason r = ts_reason_from_name(transient[i]);
		CHECKF(r != TS_R__COUNT && ts_reason_transient(r), "%s should be transient", transient[i]);
	}
	for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++) {
		enum ts_reason r = ts_reason_from_name(permanent[i]);
		CHECKF(r != TS_R__COUNT && !ts_reason_transient(r), "%s should be permanent", permanent[i]);
	}
}

/* docs/formats.md says "permanent" or "transient" for each fetch code, as the code does */
static void kinds_documented(void)
{
	size_t n;
	char *doc = (char *)t_slurp("docs/formats.md", &n);
	CHECKF(doc != NULL, "docs/formats.md not found");
	if (!doc)
		return;
	for (int i = 1; i < TS_R__COUNT; i++) {
		const char *name = ts_reason_name((enum ts_reason)i);
		char want[96];
		if (strncmp(name, "fetch.", 6))
			continue;
		snprintf(want, sizeof(want), "| `%s` | %s", name,
			 ts_reason_transient((enum ts_reason)i) ? "transient" : "permanent");
		CHECKF(strstr(doc, want) != NULL, "docs/formats.md does not say '%s'", want);
	}
	free(doc);
}

int main(void)
{
	static const struct t_case cases[] = {
		{ "addresses", addresses },
		{ "respect_words", respect_words },
		{ "transient_or_permanent", transient_or_permanent },
		{ "kinds_documented", kinds_documented },
		{ NULL, NULL },
	};
	return t_run("fetch", cases);
}
