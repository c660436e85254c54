/*
 * util.c - number parsing, directories, file reads and messages for the
 * command layer.  Messages go to stderr in git's style: "tessera: error:
 * cannot open 'x': reason" (lower case, no full stop).
 */
#include "pipeline/util.h"

#include <jansson.h>
#include <utf8proc.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ts_verbosity = 1;
const char *ts_command;

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	char buf[2048];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "tessera: %s%s\n", prefix, buf);
}

void ts_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("error: ", fmt, ap);
	va_end(ap);
}

void ts_warning(const char *fmt, ...)
{
	va_list ap;
	if (ts_verbosity < 1)
		return;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void ts_info(const char *fmt, ...)
{
	va_list ap;
	if (ts_verbosity < 2)
		return;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

int ts_parse_u64(const char *s, int binary, uint64_t *out)
{
	static const char units[] = "kmgt";
	uint64_t v = 0, mul = 1, base = binary ? 1024 : 1000;
	const char *p = s, *u;

	if (!s || !*s)
		return -1;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		p++;
	}
	if (p == s)
		return -1;
	if (*p && (u = strchr(units, *p | 0x20)) != NULL) {
		p++;
		if (*p == 'i') {           /* KiB, MiB: always binary */
			base = 1024;
			p++;
		}
		for (const char *q = units; q <= u; q++)
			mul *= base;
		if (*p == 'B')
			p++;
	}
	if (*p)
		return -1;
	if (v && mul > UINT64_MAX / v)
		return -1;
	*out = v * mul;
	return 0;
}

int ts_parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;
	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int ts_mkdirs(const char *path, int mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, (mode_t)mode) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, (mode_t)mode) && errno != EEXIST)
		return -1;
	return 0;
}

int ts_read_file(const char *path, uint64_t max_bytes, uint8_t **buf,
		 size_t *cap, size_t *len, struct ts_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return ts_err_set(err, TS_ERR_IO, TS_R_SOURCE_MISSING,
					  "cannot open '%s': %s", path, strerror(errno));
		return ts_err_set(err, TS_ERR_IO, TS_R_SOURCE_UNREADABLE,
				  "cannot open '%s': %s", path, strerror(errno));
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return ts_err_set(err, TS_ERR_IO, TS_R_SOURCE_UNREADABLE,
				  "cannot read '%s': not a regular file", path);
	}
	if (max_bytes && (uint64_t)st.st_size > max_bytes) {
		close(fd);
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_SOURCE_TOO_LARGE,
				  "'%s' has %lld bytes, more than the limit of %llu",
				  path, (long long)st.st_size, (unsigned long long)max_bytes);
	}
	size_t want = (size_t)st.st_size + 1;
	if (*cap < want) {
		uint8_t *nb = realloc(*buf, want);
		if (!nb) {
			close(fd);
			return ts_err_set(err, TS_ERR_NOMEM, TS_R_SOURCE_UNREADABLE,
					  "out of memory reading '%s'", path);
		}
		*buf = nb;
		*cap = want;
	}
	for (;;) {
		ssize_t r = read(fd, *buf + got, *cap - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return ts_err_set(err, TS_ERR_IO, TS_R_SOURCE_UNREADABLE,
					  "cannot read '%s': %s", path, strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == *cap) {
			/* the file grew while we read it: honour the cap */
			if (max_bytes && got > max_bytes) {
				close(fd);
				return ts_err_set(err, TS_ERR_LIMIT, TS_R_SOURCE_TOO_LARGE,
						  "'%s' grew past the limit of %llu bytes",
						  path, (unsigned long long)max_bytes);
			}
			uint8_t *nb = realloc(*buf, *cap * 2);
			if (!nb) {
				close(fd);
				return ts_err_set(err, TS_ERR_NOMEM, TS_R_SOURCE_UNREADABLE,
						  "out of memory reading '%s'", path);
			}
			*buf = nb;
			*cap *= 2;
		}
	}
	close(fd);
	*len = got;
	return TS_OK;
}

double ts_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void ts_utc_iso(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ts_caption_line(const char *line, size_t len, int jsonl, const char **text, size_t *text_len,
		    json_t **json, char *msg, size_t msg_len)
{
	json_error_t je;
	json_t *v;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	*json = NULL;
	*text = line;
	*text_len = len;
	if (!jsonl)
		return 0;
	*json = json_loadb(line, len, 0, &je);
	v = *json ? json_object_get(*json, "caption") : NULL;
	if (!json_is_string(v))
		v = *json ? json_object_get(*json, "text") : NULL;
	if (!json_is_string(v)) {
		snprintf(msg, msg_len, "%s", *json ? "no caption or text string" : je.text);
		json_decref(*json);
		*json = NULL;
		return -1;
	}
	*text = json_string_value(v);
	*text_len = json_string_length(v);
	return 0;
}

int ts_opt_int(const char *name, const char *arg, long lo, long hi, const char *want, long *out)
{
	if (ts_parse_int(arg, lo, hi, out) == 0)
		return 0;
	ts_error("invalid value '%s' for --%s: expected %s", arg, name, want);
	if (ts_command)
		fprintf(stderr, "see 'tessera %s --help'\n", ts_command);
	return -1;
}

size_t ts_bom_len(const void *p, size_t n)
{
	return n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3) ? 3 : 0;
}

int ts_skip_bom(FILE *fp)
{
	unsigned char b[3];
	size_t n = fread(b, 1, sizeof(b), fp);
	if (n < sizeof(b) && ferror(fp))
		return -1;
	if (ts_bom_len(b, n))
		return 0;
	if (fseek(fp, 0, SEEK_SET) == 0)
		return 0;
	/* a pipe cannot seek: push the bytes back (glibc keeps several) */
	for (size_t i = n; i > 0; i--)
		if (ungetc(b[i - 1], fp) == EOF)
			return -1;
	clearerr(fp);
	return 0;
}

void ts_crash_hook(void *user, const char *point)
{
	static unsigned long long count;
	const char *c = getenv("TESSERA_CRASH_AT");
	size_t n = strlen(point);
	(void)user;
	if (c && !strncmp(c, point, n) && (c[n] == 0 || c[n] == ':')) {
		unsigned long long want = c[n] == ':' ? strtoull(c + n + 1, NULL, 10) : 1;
		if (++count == want) {
			/* TESSERA_CRASH_SIGNAL=TERM or INT: a clean stop instead */
			const char *sg = getenv("TESSERA_CRASH_SIGNAL");
			int sig = sg && !strcmp(sg, "TERM") ? SIGTERM : sg && !strcmp(sg, "INT") ? SIGINT : SIGKILL;
			fflush(NULL);
			kill(getpid(), sig);
		}
	}
}

volatile sig_atomic_t ts_stop_requested;
static struct sigaction old_int, old_term;
static int caught;

static void on_stop_signal(int sig)
{
	(void)sig;
	ts_stop_requested = 1;
}

void ts_signals_catch(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	ts_stop_requested = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	caught = 1;
}

void ts_signals_restore(void)
{
	if (!caught)
		return;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	caught = 0;
}

json_t *ts_json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	size_t n = strlen(s), o = 0;
	char *b = malloc(n * 3 + 1);
	if (!b)
		return NULL;
	for (size_t i = 0; i < n;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k > 0 && cp != 0) {
			memcpy(b + o, s + i, (size_t)k);
			o += (size_t)k;
			i += (size_t)k;
		} else {
			memcpy(b + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(b, o);
	free(b);
	return j;
}

int ts_print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(j);
	if (!s) {
		ts_error("out of memory");
		return -1;
	}
	puts(s);
	free(s);
	return 0;
}

char *ts_json_canonical(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return s;
}
