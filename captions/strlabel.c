/*
 * strlabel.c - charsets, the CLIP4STR label filter and character ids
 * (see strlabel.h for the steps).
 *
 * What must always hold: the filter gives, for every label, what the
 * training code's loader keeps (or drops) - the same steps in the same
 * order, the length limit checked before the charset step.  Unicode data
 * (NFKD, case mappings, categories, bidirectional classes) comes from
 * utf8proc; nothing here is a hand-written Unicode table.
 */
#include "captions/strlabel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct ts_charset {
	char *name;
	int32_t *cps;          /* in id order */
	size_t n;
	struct cs_ent { int32_t cp; size_t idx; } *sorted;   /* by code point */
	enum ts_charset_case kase;
};

size_t ts_utf8_put(int32_t cp, char *buf)
{
	utf8proc_ssize_t n = utf8proc_encode_char(cp, (utf8proc_uint8_t *)buf);
	if (n <= 0) {           /* not a code point: U+FFFD */
		memcpy(buf, "\xef\xbf\xbd", 3);
		n = 3;
	}
	buf[n] = '\0';
	return (size_t)n;
}

int ts_str_isspace(int32_t cp)
{
	const utf8proc_property_t *p = utf8proc_get_property(cp);
	return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
	       p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* Decode s[0..len) into a malloc'ed code point array. */
static int decode(const char *s, size_t len, int32_t **out, size_t *n, struct ts_err *err)
{
	int32_t *cps = malloc((len + 1) * sizeof(*cps));
	size_t k = 0, i = 0;
	if (!cps)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
						      (utf8proc_ssize_t)(len - i), &cp);
		if (r <= 0) {
			free(cps);
			return ts_err_set(err, TS_ERR_INVALID, TS_R_CAPTION_INVALID_UTF8,
					  "not valid UTF-8 at byte %zu", i);
		}
		cps[k++] = cp;
		i += (size_t)r;
	}
	*out = cps;
	*n = k;
	return TS_OK;
}

static int cmp_ent(const void *a, const void *b)
{
	int32_t x = ((const struct cs_ent *)a)->cp, y = ((const struct cs_ent *)b)->cp;
	return (x > y) - (x < y);
}

int ts_charset_from_chars(struct ts_charset **out, const char *name,
			  const char *chars, size_t len, struct ts_err *err)
{
	struct ts_charset *cs = calloc(1, sizeof(*cs));
	int rc, lower = 1, upper = 1;
	*out = NULL;
	if (!cs)
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	if ((rc = decode(chars, len, &cs->cps, &cs->n, err))) {
		if (rc == TS_ERR_INVALID)
			ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "charset '%s' is not valid UTF-8", name);
		goto fail;
	}
	if (cs->n == 0) {
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE, "charset '%s' is empty", name);
		goto fail;
	}
	cs->name = strdup(name);
	cs->sorted = malloc(cs->n * sizeof(*cs->sorted));
	if (!cs->name || !cs->sorted) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < cs->n; i++) {
		cs->sorted[i].cp = cs->cps[i];
		cs->sorted[i].idx = i;
		/* Python: charset == charset.lower() / charset.upper() */
		if (utf8proc_tolower(cs->cps[i]) != cs->cps[i])
			lower = 0;
		if (utf8proc_toupper(cs->cps[i]) != cs->cps[i])
			upper = 0;
	}
	qsort(cs->sorted, cs->n, sizeof(*cs->sorted), cmp_ent);
	for (size_t i = 1; i < cs->n; i++)
		if (cs->sorted[i].cp == cs->sorted[i - 1].cp) {
			char c[8];
			ts_utf8_put(cs->sorted[i].cp, c);
			rc = ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					"charset '%s' holds '%s' (U+%04X) twice", name, c,
					(unsigned)cs->sorted[i].cp);
			goto fail;
		}
	cs->kase = lower ? TS_CASE_LOWER : upper ? TS_CASE_UPPER : TS_CASE_MIXED;
	*out = cs;
	return TS_OK;
fail:
	ts_charset_free(cs);
	return rc;
}

int ts_charset_new(struct ts_charset **out, const char *spec, struct ts_err *err)
{
	const char *builtin = !strcmp(spec, "94") ? TS_CHARSET_94 :
			      !strcmp(spec, "36") ? TS_CHARSET_36 :
			      !strcmp(spec, "62") ? TS_CHARSET_62 : NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	*out = NULL;
	if (builtin)
		return ts_charset_from_chars(out, spec, builtin, strlen(builtin), err);
	if (!(f = fopen(spec, "rb")))
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE,
				  "cannot open charset file '%s': %s (built-in charsets: 94, 36, 62)",
				  spec, strerror(errno));
	buf = malloc(TS_CHARSET_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	len = fread(buf, 1, TS_CHARSET_MAX_BYTES + 1, f);
	rc = ferror(f);
	fclose(f);
	if (rc) {
		free(buf);
		return ts_err_set(err, TS_ERR_IO, TS_R_NONE, "cannot read charset file '%s'", spec);
	}
	if (len > TS_CHARSET_MAX_BYTES) {
		free(buf);
		return ts_err_set(err, TS_ERR_LIMIT, TS_R_NONE,
				  "charset file '%s' is larger than %d bytes", spec, TS_CHARSET_MAX_BYTES);
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	rc = ts_charset_from_chars(out, spec, buf, len, err);
	free(buf);
	return rc;
}

void ts_charset_free(struct ts_charset *cs)
{
	if (!cs)
		return;
	free(cs->name);
	free(cs->cps);
	free(cs->sorted);
	free(cs);
}

const char *ts_charset_name(const struct ts_charset *cs) { return cs->name; }
size_t ts_charset_size(const struct ts_charset *cs) { return cs->n; }
int32_t ts_charset_at(const struct ts_charset *cs, size_t i) { return i < cs->n ? cs->cps[i] : -1; }
enum ts_charset_case ts_charset_case(const struct ts_charset *cs) { return cs->kase; }

long ts_charset_index(const struct ts_charset *cs, int32_t cp)
{
	size_t lo = 0, hi = cs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int32_t v = cs->sorted[mid].cp;
		if (v == cp)
			return (long)cs->sorted[mid].idx;
		if (v < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int32_t adapt_case(const struct ts_charset *cs, int32_t cp)
{
	if (cs->kase == TS_CASE_LOWER)
		return utf8proc_tolower(cp);
	if (cs->kase == TS_CASE_UPPER)
		return utf8proc_toupper(cp);
	return cp;
}

/* A label for messages: its text as UTF-8 ("'日本語'", not "\xe6..."),
 * with only control and format characters and bytes that are not UTF-8
 * escaped as \xNN, and never a code point cut at the end of buf. */
static void quote(const char *s, size_t len, char *buf, size_t n)
{
	size_t k = 0, i = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		utf8proc_category_t c = l > 0 ? utf8proc_category(cp) : UTF8PROC_CATEGORY_CN;
		int shown = l > 0 && c != UTF8PROC_CATEGORY_CC && c != UTF8PROC_CATEGORY_CF &&
			    c != UTF8PROC_CATEGORY_ZL && c != UTF8PROC_CATEGORY_ZP && c != UTF8PROC_CATEGORY_CS;
		size_t bytes = l > 0 ? (size_t)l : 1;
		if (k + (shown ? bytes : 4 * bytes) + 1 > n)
			break;
		if (shown) {
			memcpy(buf + k, s + i, bytes);
			k += bytes;
		} else {
			for (size_t b = 0; b < bytes; b++)
				k += (size_t)snprintf(buf + k, n - k, "\\x%02x", (unsigned char)s[i + b]);
		}
		i += bytes;
	}
	buf[k] = '\0';
}

int ts_strlabel_filter(const struct ts_charset *cs, long max_len,
		       const char *label, size_t len, char **out, size_t *out_len,
		       struct ts_err *err)
{
	int32_t *cps = NULL;
	utf8proc_uint8_t *nfkd = NULL;
	char *res = NULL, *joined = NULL, q[160];
	size_t n = 0, k = 0, m = 0;
	utf8proc_ssize_t nl;
	int rc;

	*out = NULL;
	*out_len = 0;
	if ((rc = decode(label, len, &cps, &n, err)))
		return rc;
	/* 1. ''.join(label.split()) */
	joined = malloc(n * 4 + 1);
	if (!joined) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!ts_str_isspace(cps[i]))
			k += ts_utf8_put(cps[i], joined + k);
	/* 2. NFKD, then encode('ascii', 'ignore') */
	nl = utf8proc_map((const utf8proc_uint8_t *)joined, (utf8proc_ssize_t)k, &nfkd,
			  UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
	if (nl < 0) {
		rc = nl == UTF8PROC_ERROR_NOMEM ?
			ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory") :
			ts_err_set(err, TS_ERR_INVALID, TS_R_CAPTION_INVALID_UTF8, "%s",
				   utf8proc_errmsg(nl));
		goto out;
	}
	res = malloc((size_t)nl + 1);
	if (!res) {
		rc = ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
		goto out;
	}
	for (utf8proc_ssize_t i = 0; i < nl; i++)
		if (nfkd[i] < 0x80)
			res[m++] = (char)nfkd[i];
	res[m] = '\0';
	/* 3. the length, before the charset step */
	if ((long)m > max_len) {
		quote(res, m, q, sizeof(q));
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_LABEL_TOO_LONG,
				"label has %zu characters after whitespace removal and NFKD "
				"('%s'), more than %ld", m, q, max_len);
		goto out;
	}
	/* 4. the charset adapter (everything is ASCII now) */
	k = 0;
	for (size_t i = 0; i < m; i++) {
		int32_t c = adapt_case(cs, (unsigned char)res[i]);
		if (c < 0x80 && ts_charset_index(cs, c) >= 0)
			res[k++] = (char)c;
	}
	res[k] = '\0';
	/* 5. nothing left */
	if (k == 0) {
		quote(label, len, q, sizeof(q));
		rc = ts_err_set(err, TS_ERR_INVALID, TS_R_LABEL_EMPTY,
				"no character of '%s' is in charset %s", q, cs->name);
		goto out;
	}
	*out = res;
	*out_len = k;
	res = NULL;
	rc = TS_OK;
out:
	free(cps);
	free(joined);
	free(nfkd);
	free(res);
	return rc;
}

int ts_strlabel_ids(const struct ts_charset *cs, const char *label, size_t len,
		    int32_t **ids, size_t *n, struct ts_err *err)
{
	int32_t *cps = NULL, *v;
	size_t k = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = decode(label, len, &cps, &k, err)))
		return rc;
	v = malloc((k + 2) * sizeof(*v));
	if (!v) {
		free(cps);
		return ts_err_set(err, TS_ERR_NOMEM, TS_R_NONE, "out of memory");
	}
	v[0] = (int32_t)cs->n + 1;                 /* [B] */
	for (size_t i = 0; i < k; i++) {
		long idx = ts_charset_index(cs, cps[i]);
		if (idx < 0) {
			char c[8];
			unsigned u = (unsigned)cps[i];
			ts_utf8_put(cps[i], c);
			free(cps);
			free(v);
			return ts_err_set(err, TS_ERR_INVALID, TS_R_NONE,
					  "'%s' (U+%04X) is not in charset %s", c, u, cs->name);
		}
		v[i + 1] = (int32_t)idx + 1;
	}
	v[k + 1] = 0;                              /* [E] */
	free(cps);
	*ids = v;
	*n = k + 2;
	return TS_OK;
}

int ts_strlabel_outside(const struct ts_charset *cs, const char *label, size_t len,
			void (*fn)(int32_t cp, void *user), void *user, struct ts_err *err)
{
	int32_t *cps;
	size_t n;
	int rc = decode(label, len, &cps, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!ts_str_isspace(cps[i]) && ts_charset_index(cs, cps[i]) < 0 &&
		    ts_charset_index(cs, adapt_case(cs, cps[i])) < 0)
			fn(cps[i], user);
	free(cps);
	return TS_OK;
}
