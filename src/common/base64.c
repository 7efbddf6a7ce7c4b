/* base64.c — standard padded base64, strict decoding (see base64.h). */
#include "common/base64.h"

#include "common/err.h"

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of an alphabet character, or -1. */
static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_encode_append(buf_t *out, const void *data, size_t len)
{
	const uint8_t *s = data;
	size_t i;
	char *o;

	if (buf_reserve(out, base64_encoded_len(len)))
		return STRAND_ENOMEM;
	o = out->data + out->len;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		*o++ = base64_alphabet[v >> 18];
		*o++ = base64_alphabet[(v >> 12) & 63];
		*o++ = base64_alphabet[(v >> 6) & 63];
		*o++ = base64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;

		*o++ = base64_alphabet[v >> 18];
		*o++ = base64_alphabet[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

		*o++ = base64_alphabet[v >> 18];
		*o++ = base64_alphabet[(v >> 12) & 63];
		*o++ = base64_alphabet[(v >> 6) & 63];
		*o++ = '=';
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

int base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i, n = 0;

	if (len % 4 != 0)
		return STRAND_EINVAL;
	for (i = 0; i < len; i += 4) {
		int a = base64_value(s[i]), b = base64_value(s[i + 1]);
		int c = base64_value(s[i + 2]), d = base64_value(s[i + 3]);
		int last = i + 4 == len;

		if (a < 0 || b < 0)
			return STRAND_EINVAL;
		if (c >= 0 && d >= 0) {
			out[n++] = (uint8_t)(a << 2 | b >> 4);
			out[n++] = (uint8_t)((b & 15) << 4 | c >> 2);
			out[n++] = (uint8_t)((c & 3) << 6 | d);
			continue;
		}
		/* padding: only in the last quad, "xx==" or "xxx=", unused bits zero */
		if (!last || s[i + 3] != '=')
			return STRAND_EINVAL;
		if (c < 0) {
			if (s[i + 2] != '=' || (b & 15) != 0)
				return STRAND_EINVAL;
			out[n++] = (uint8_t)(a << 2 | b >> 4);
		} else {
			if ((c & 3) != 0)
				return STRAND_EINVAL;
			out[n++] = (uint8_t)(a << 2 | b >> 4);
			out[n++] = (uint8_t)((b & 15) << 4 | c >> 2);
		}
	}
	*out_len = n;
	return 0;
}
