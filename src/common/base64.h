/*
 * base64.h — standard base64 (RFC 4648 section 4: A-Z a-z 0-9 + /, with
 * '=' padding), as binary keys and values travel in JSON.
 *
 * The decoder is strict: length a multiple of 4, only alphabet characters,
 * '=' only as the last one or two characters, unused bits of the last
 * character zero (so every byte string has exactly one accepted encoding),
 * no whitespace or line breaks.
 */
#ifndef STRAND_BASE64_H
#define STRAND_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Encoded length of len bytes (padding included). */
static inline size_t base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

/* Upper bound of the decoded length of len characters. */
static inline size_t base64_decoded_max(size_t len)
{
	return len / 4 * 3;
}

/* Append the encoding of data[0, len) to out. Returns 0 or STRAND_ENOMEM. */
int base64_encode_append(buf_t *out, const void *data, size_t len);

/*
 * Decode in[0, len) into out, which has room for base64_decoded_max(len)
 * bytes; *out_len gets the decoded length. Returns 0 or STRAND_EINVAL
 * (nothing else is reported: the caller names the field).
 */
int base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len);

#endif
