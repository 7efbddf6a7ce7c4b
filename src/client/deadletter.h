/*
 * deadletter.h — libstrand's dead-letter file (dead.letter.path; internal):
 * records that finally failed, appended with their error, and read back by
 * `strand replay` (src/cli/cli_client.c). The format is this module's alone
 * (docs/CLIENT.md shows it): one JSON object per line,
 *   {"topic":"t","partition":0,"timestamp":1700000000000,
 *    "key":"base64 or null","value":"base64 or null",
 *    "error":"MSG_TIMED_OUT","detail":"the broker's or library's words"}
 * Keys and values are base64 because they are bytes.
 */
#ifndef STRAND_CLIENT_DEADLETTER_H
#define STRAND_CLIENT_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"

typedef struct deadletter deadletter_t;

/* Open path for appending (created 0600 if missing). Returns 0 or
 * STRAND_ERR_IO with the reason in errbuf. */
int  deadletter_open(const char *path, deadletter_t **out, char *errbuf, size_t errlen);
void deadletter_close(deadletter_t *dl);

/*
 * Append one record. key/value NULL for null. Not thread-safe: the
 * producer's sender thread is the only writer. The line is complete in
 * the file once deadletter_flush returns. Returns 0 or STRAND_ERR_IO.
 */
int deadletter_write(deadletter_t *dl, const char *topic, int32_t partition, int64_t timestamp,
                     const void *key, size_t key_len, const void *value, size_t value_len,
                     int err, const char *detail);
int deadletter_flush(deadletter_t *dl);

/* One record read back. key/value point into the entry's own buffers. */
typedef struct deadletter_entry {
	char     topic[256];
	int32_t  partition;
	int64_t  timestamp;
	uint8_t *key;   size_t key_len;    /* key NULL: null key */
	uint8_t *value; size_t value_len;
	char     error[64];
	buf_t    storage;                  /* owns key and value bytes */
} deadletter_entry_t;

/*
 * Read the next line of f into e (e->storage reused across calls; free it
 * with buf_free). Returns 1 with e filled, 0 at the end of the file, or
 * STRAND_ERR_BAD_RESPONSE for a line that is not a dead-letter record
 * (errbuf says which line and why).
 */
int deadletter_read(FILE *f, deadletter_entry_t *e, size_t *lineno, char *errbuf, size_t errlen);

#endif
