/*
 * t.h - the unit test harness: a table of test functions, CHECK macros that
 * count failures, SKIP with a reason, and the closing line
 * "N passed, N failed, N skipped" that tests/run.sh adds up.
 */
#ifndef TS_T_H
#define TS_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_fail_count;   /* failures inside the current test */
static const char *t_skip_reason;
static int t_extra_skipped;   /* checks skipped inside a case that otherwise ran */

#define CHECK(cond) do { if (!(cond)) { t_fail_count++; \
	fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (!(cond)) { t_fail_count++; \
	fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { t_fail_count++; fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", \
	__FILE__, __LINE__, #a, #b, _a, _b); } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b)) { t_fail_count++; fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
	__FILE__, __LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)
#define SKIP(reason) do { t_skip_reason = (reason); return; } while (0)

struct t_case {
	const char *name;
	void (*fn)(void);
};

/* Path of ../shared relative to the project root (tests run from there). */
static inline const char *t_shared(void)
{
	const char *s = getenv("TS_SHARED");
	return s ? s : "../shared";
}

/* Read a whole file into a malloc'ed buffer (NULL when missing). */
static inline unsigned char *t_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long n;
	*len = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n >= 0 && (b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b)
		b[n] = 0;   /* text files can be used as strings */
	*len = n > 0 ? (size_t)n : 0;
	return b;
}

static inline int t_run(const char *suite, const struct t_case *cases)
{
	int passed = 0, failed = 0, skipped = 0;
	const char *only = getenv("T_ONLY");
	for (const struct t_case *c = cases; c->name; c++) {
		if (only && !strstr(c->name, only))
			continue;
		t_fail_count = 0;
		t_skip_reason = NULL;
		c->fn();
		/* a check that failed before a SKIP is still a failure */
		if (t_fail_count) {
			printf("FAIL unit.%s.%s\n", suite, c->name);
			failed++;
		} else if (t_skip_reason) {
			printf("SKIPPED unit.%s.%s: %s\n", suite, c->name, t_skip_reason);
			skipped++;
		} else {
			printf("ok unit.%s.%s\n", suite, c->name);
			passed++;
		}
	}
	skipped += t_extra_skipped;
	printf("unit.%s: %d passed, %d failed, %d skipped\n", suite, passed, failed, skipped);
	return failed ? 1 : 0;
}

#endif
