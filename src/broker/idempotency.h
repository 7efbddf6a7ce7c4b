/*
 * idempotency.h — the Idempotency-Key window (IETF httpapi
 * draft-ietf-httpapi-idempotency-key-header): the first answer to each
 * keyed request, kept so that a retry with the same key is answered the
 * same way instead of being executed again. No HTTP here: api/produce.c
 * drives it with the key, a scope, the request's fingerprint and its answer.
 *
 * An entry is (scope, key) -> fingerprint (SHA-256 of what the request
 * asked: target, query, body) and the answer (status, content type, body).
 * It is *in progress* from idem_store_begin until idem_store_complete or
 * idem_store_release, and *done* after complete.
 *
 * The window: at most max_keys done entries, none older than max_age_ms
 * (since its answer was stored, wall clock), their answers at most
 * max_bytes in all; the oldest go first. In-progress entries are never
 * evicted (they end with their request).
 *
 * Persistence: every completed entry is appended to a journal (one record:
 * length, CRC32C, payload), written before the answer is sent and
 * fdatasync'd when the caller asks (acks=all). Open replays the journal
 * (a torn or corrupt tail is cut off) and applies the window again, which
 * is why evictions need no records. The journal is rewritten atomically
 * (temp file, fsync, rename) when it holds more than twice the live
 * entries' bytes.
 *
 * Threading: every call is safe from any thread. The map's lock is never
 * held across I/O; journal writes are serialised by a second lock, held
 * across that write (and its fdatasync), as the log holds its lock across
 * write(2).
 */
#ifndef STRAND_IDEMPOTENCY_H
#define STRAND_IDEMPOTENCY_H

#include <stddef.h>
#include <stdint.h>

#include "common/sha256.h"

/* Keys: 1..255 bytes of visible ASCII (the draft leaves the length to the server). */
#define IDEM_MAX_KEY_BYTES   255
/* Scopes ("principal\ntopic"): the principal's and the topic's limits and a separator. */
#define IDEM_MAX_SCOPE_BYTES 512

/* Defaults of the window's named limits (docs/PRODUCERS.md). */
#define IDEM_DEFAULT_MAX_KEYS   10000
#define IDEM_DEFAULT_MAX_AGE_MS 86400000            /* 24 hours */
#define IDEM_DEFAULT_MAX_BYTES  (64 * 1024 * 1024)  /* answers kept, in all */

typedef struct idem_limits {
	int64_t max_keys;       /* 0: default */
	int64_t max_age_ms;     /* 0: default */
	int64_t max_bytes;      /* 0: default */
} idem_limits_t;

typedef struct idem_store idem_store_t;
typedef struct idem_entry idem_entry_t;   /* an in-progress entry: the caller's ticket */

/* A stored answer (owned by whoever holds it; free with idem_answer_free). */
typedef struct idem_answer {
	uint8_t  fingerprint[SHA256_DIGEST_SIZE];
	unsigned status;
	char    *content_type;    /* "" for none */
	char    *body;
	size_t   len;
	int      flush;           /* IDEM_FLUSH: make the topic durable before replaying */
} idem_answer_t;

#define IDEM_FLUSH 1   /* acks=all whose records were appended but not yet known durable */

void idem_answer_free(idem_answer_t *a);

/*
 * Open the journal at path (created if missing) and replay it.
 * Returns 0, STRAND_EIO, STRAND_ENOMEM, STRAND_EINVAL (a limit < 0).
 */
int  idem_store_open(const char *path, const idem_limits_t *limits, int64_t now_ms,
                     idem_store_t **out, char *err, size_t errlen);
void idem_store_close(idem_store_t *s);

/*
 * A keyed request arrives. scope and key are copied.
 *   0: new (or its old entry expired): an in-progress entry is made and
 *      *ticket set; end it with idem_store_complete or idem_store_release.
 *   1: done before: *answer gets a copy of the stored answer (caller frees);
 *      the caller compares fingerprints once it has read the body.
 *   STRAND_EAGAIN: the same key is in progress (answer 409).
 *   STRAND_ENOMEM.
 */
int idem_store_begin(idem_store_t *s, const char *scope, const char *key, int64_t now_ms,
                     idem_entry_t **ticket, idem_answer_t *answer);

/*
 * Store the answer of an in-progress entry (copied) and journal it; with
 * sync, fdatasync the journal before returning. The entry is done even
 * when the journal write fails (it then lives in memory only; the code
 * says so). The ticket is spent. Returns 0, STRAND_EIO, STRAND_ENOSPC,
 * STRAND_ENOMEM (nothing stored: the entry is released).
 */
int idem_store_complete(idem_store_t *s, idem_entry_t *ticket, const idem_answer_t *answer,
                        int sync, int64_t now_ms, char *err, size_t errlen);

/* Forget an in-progress entry (the request failed and changed nothing). */
void idem_store_release(idem_store_t *s, idem_entry_t *ticket);

/*
 * Periodic work: drop entries past max_age_ms and rewrite the journal when
 * it holds more than twice the live bytes. Returns 0 or STRAND_EIO.
 */
int idem_store_tick(idem_store_t *s, int64_t now_ms, char *err, size_t errlen);

/* Done entries in the window (for tests and metrics). */
size_t idem_store_count(idem_store_t *s);

/*
 * Parse an Idempotency-Key field value: an RFC 8941 sf-string ("...",
 * with \" and \\ escapes), or, as many clients send it, a bare token of
 * visible ASCII. out gets the key (NUL-terminated, cap >= 256).
 * Returns 0 or STRAND_EINVAL (empty, over IDEM_MAX_KEY_BYTES, or other
 * bytes), with err saying why.
 */
int idem_key_parse(const char *value, char *out, size_t cap, char *err, size_t errlen);

#endif
