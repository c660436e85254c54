/*
 * buf.h - growable memory, in the spirit of git's strbuf and ALLOC_GROW and
 * curl's dynbuf: one way to grow an array, and a byte buffer with a cap.
 * Both check the size arithmetic for overflow; nothing here prints.
 */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Make room for need elements of size elem in *ptr (capacity *alloc,
 * doubled from 16 as it grows).  0, or TS_ERR_NOMEM with *ptr unchanged
 * (also when need * elem would overflow). */
int ts_alloc_grow(void *ptr, size_t *alloc, size_t need, size_t elem);
#define TS_ALLOC_GROW(p, alloc, need) ts_alloc_grow(&(p), &(alloc), (need), sizeof(*(p)))

/* Bytes, always NUL-terminated after len (so text can be used as a C
 * string); max caps len (0: no cap beyond memory). */
struct ts_buf {
	char *data;      /* NULL until the first byte */
	size_t len;
	size_t alloc;
	size_t max;
};
#define TS_BUF_INIT { NULL, 0, 0, 0 }

/* Room for extra more bytes (and the NUL): 0, TS_ERR_NOMEM, or
 * TS_ERR_LIMIT when len + extra would pass max. */
int ts_buf_grow(struct ts_buf *b, size_t extra);
int ts_buf_add(struct ts_buf *b, const void *data, size_t n);
int ts_buf_adds(struct ts_buf *b, const char *s);
int ts_buf_addch(struct ts_buf *b, int c);
int ts_buf_addf(struct ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ts_buf_reset(struct ts_buf *b);     /* len = 0, memory kept */
void ts_buf_release(struct ts_buf *b);   /* memory freed, b reusable (max kept) */
/* The bytes, now the caller's (free()); b is empty.  Never NULL unless out
 * of memory: an empty buffer gives "". */
char *ts_buf_detach(struct ts_buf *b, size_t *len);

#endif
