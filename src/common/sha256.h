/*
 * sha256.h — SHA-256 (FIPS 180-4), incremental. Used for request
 * fingerprints (the Idempotency-Key window compares a retry's body with the
 * first request's by digest, src/broker/idempotency.h).
 */
#ifndef STRAND_SHA256_H
#define STRAND_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

typedef struct sha256 {
	uint32_t h[8];
	uint64_t len;          /* bytes hashed so far */
	uint8_t  block[64];
	size_t   used;         /* bytes waiting in block */
} sha256_t;

void sha256_init(sha256_t *s);
void sha256_update(sha256_t *s, const void *data, size_t len);
void sha256_final(sha256_t *s, uint8_t out[SHA256_DIGEST_SIZE]);

#endif
