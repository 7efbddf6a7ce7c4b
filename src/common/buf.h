/*
 * buf.h — a growable byte buffer (length + pointer, never strlen'd).
 * Reused across requests: buf_reset keeps the memory, so hot paths stop
 * allocating once the buffer has grown to its working size.
 */
#ifndef STRAND_BUF_H
#define STRAND_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
	char  *data;   /* owned; NUL-terminated after every append (not counted in len) */
	size_t len, cap;
} buf_t;

#define BUF_INIT { NULL, 0, 0 }

void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_reset(buf_t *b);
/* Make room for extra more bytes (plus the terminator). 0 or STRAND_ENOMEM. */
int  buf_reserve(buf_t *b, size_t extra);
int  buf_append(buf_t *b, const void *data, size_t len);
int  buf_append_str(buf_t *b, const char *s);
/* Append v in decimal. No printf: hot paths format one number per record. */
int  buf_append_int64(buf_t *b, int64_t v);
int  buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal (quotes, escapes; bytes >= 0x80 copied as they are). */
int  buf_append_json_string(buf_t *b, const char *s, size_t len);

#endif
