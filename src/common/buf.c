/* buf.c — growable byte buffer (see buf.h). */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void buf_init(buf_t *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_free(buf_t *b)
{
	free(b->data);
	buf_init(b);
}

void buf_reset(buf_t *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int buf_reserve(buf_t *b, size_t extra)
{
	size_t need = b->len + extra + 1, ncap;
	char *p;

	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	p = realloc(b->data, ncap);
	if (p == NULL)
		return STRAND_ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int buf_append(buf_t *b, const void *data, size_t len)
{
	if (buf_reserve(b, len))
		return STRAND_ENOMEM;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_int64(buf_t *b, int64_t v)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char tmp[24], *o = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	/* two digits per division: offsets and timestamps go out per record */
	while (u >= 100) {
		o -= 2;
		memcpy(o, pairs + 2 * (u % 100), 2);
		u /= 100;
	}
	if (u >= 10) {
		o -= 2;
		memcpy(o, pairs + 2 * u, 2);
	} else {
		*--o = (char)('0' + u);
	}
	if (v < 0)
		*--o = '-';
	return buf_append(b, o, (size_t)(tmp + sizeof(tmp) - o));
}

int buf_append_str(buf_t *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_appendf(buf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n))
		return STRAND_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int buf_append_json_string(buf_t *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	/* worst case: every byte becomes \u00XX */
	if (buf_reserve(b, len * 6 + 2))
		return STRAND_ENOMEM;
	b->data[b->len++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char *o = b->data + b->len;

		switch (c) {
		case '"':  o[0] = '\\'; o[1] = '"';  b->len += 2; break;
		case '\\': o[0] = '\\'; o[1] = '\\'; b->len += 2; break;
		case '\n': o[0] = '\\'; o[1] = 'n';  b->len += 2; break;
		case '\r': o[0] = '\\'; o[1] = 'r';  b->len += 2; break;
		case '\t': o[0] = '\\'; o[1] = 't';  b->len += 2; break;
		default:
			if (c < 0x20) {
				o[0] = '\\'; o[1] = 'u'; o[2] = '0'; o[3] = '0';
				o[4] = hex[c >> 4]; o[5] = hex[c & 15];
				b->len += 6;
			} else {
				o[0] = (char)c;
				b->len += 1;
			}
		}
	}
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
	return 0;
}
