/*
 * buf.c - growable arrays and byte buffers (buf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/ts_error.h"

int ts_alloc_grow(void *ptr, size_t *alloc, size_t need, size_t elem)
{
	void **p = ptr;
	if (need <= *alloc)
		return 0;
	size_t n = *alloc ? *alloc : 16;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return TS_ERR_NOMEM;
		n *= 2;
	}
	if (elem && n > SIZE_MAX / elem)
		return TS_ERR_NOMEM;
	void *q = realloc(*p, n * elem);
	if (!q)
		return TS_ERR_NOMEM;
	*p = q;
	*alloc = n;
	return 0;
}

int ts_buf_grow(struct ts_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - 1 - b->len)
		return TS_ERR_NOMEM;
	if (b->max && b->len + extra > b->max)
		return TS_ERR_LIMIT;
	return ts_alloc_grow(&b->data, &b->alloc, b->len + extra + 1, 1);
}

int ts_buf_add(struct ts_buf *b, const void *data, size_t n)
{
	int rc = ts_buf_grow(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ts_buf_adds(struct ts_buf *b, const char *s)
{
	return ts_buf_add(b, s, strlen(s));
}

int ts_buf_addch(struct ts_buf *b, int c)
{
	char ch = (char)c;
	return ts_buf_add(b, &ch, 1);
}

int ts_buf_addf(struct ts_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return TS_ERR_INVALID;
	if ((size_t)n < sizeof(small))
		return ts_buf_add(b, small, (size_t)n);
	int rc = ts_buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void ts_buf_reset(struct ts_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ts_buf_release(struct ts_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

char *ts_buf_detach(struct ts_buf *b, size_t *len)
{
	char *d = b->data ? b->data : strdup("");
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->alloc = 0;
	return d;
}
