/*
 * utf8.h — strict UTF-8 (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF. Used wherever bytes must be
 * text: string-format keys and values, header values, JSON strings.
 */
#ifndef STRAND_UTF8_H
#define STRAND_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length (1..4) of the well-formed sequence that starts at s (len bytes
 * available), or 0 when it is ill-formed or cut short.
 */
size_t utf8_sequence_len(const uint8_t *s, size_t len);

/* 1 when all of s[0, len) is well-formed UTF-8, else 0. NUL bytes are valid. */
int utf8_is_valid(const void *s, size_t len);

/*
 * Encode code point cp into out (room for 4). Returns the length written,
 * or 0 for a surrogate or a value above U+10FFFF.
 */
size_t utf8_encode(uint32_t cp, uint8_t out[4]);

#endif
