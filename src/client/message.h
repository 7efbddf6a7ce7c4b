/*
 * message.h — struct strand_message (internal): what a delivery callback
 * (producer) or strand_consumer_poll (consumer) hands back. A producer's
 * message borrows its pointers from the batch it was built for. A
 * consumer's message lives in a message_block_t: one allocation per fetch
 * answer holding all its messages, headers and bytes, freed when the last
 * of its messages is destroyed (no allocation per record). The public
 * accessors are in message.c.
 */
#ifndef STRAND_CLIENT_MESSAGE_H
#define STRAND_CLIENT_MESSAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "client/strand.h"

typedef struct message_header {
	const char *name;
	const void *value;        /* NULL: null value */
	size_t      value_len;
} message_header_t;

typedef struct message_block message_block_t;

struct strand_message {
	int         err;          /* strand_errcode */
	const char *errstr;       /* never NULL ("" when none) */
	const char *topic;
	int32_t     partition;
	int64_t     offset;       /* -1: unknown */
	int64_t     timestamp;
	const void *key;          /* NULL: null key */
	size_t      key_len;
	const void *value;        /* NULL: null value */
	size_t      value_len;
	const message_header_t *headers;
	size_t      nheaders;
	message_block_t *block;   /* consumer: the block it lives in; NULL: borrowed */
};

/* n messages, nh headers and len bytes of storage in one allocation. */
struct message_block {
	atomic_size_t     refs;   /* messages not destroyed, + 1 while the consumer holds it */
	size_t            nmsgs, nhdrs, len, used;
	strand_message   *msgs;
	message_header_t *hdrs;
	char             *bytes;
};

/* A block with room for n messages, nh headers and len bytes; refs = n + 1.
 * NULL when out of memory. */
message_block_t *message_block_new(size_t n, size_t nh, size_t len);

/* Drop one reference; the last one frees the block. */
void message_block_release(message_block_t *b);

/*
 * The records array of a fetch answer fetched with encoding=base64
 * (member fetch: each record tagged with "topic" and "partition"; pass
 * topic NULL) or of a partition fetch (untagged: pass its topic and
 * partition) as one block holding every message, header and byte: keys
 * and values base64-decoded, headers as strings (or base64 with
 * "headers_encoding"). *out is NULL when there are no records; the block
 * starts with n + 1 references (one per message, one for the caller, who
 * drops it with message_block_release once done handing messages out).
 * Returns 0, STRAND_ERR_NO_MEMORY, or STRAND_ERR_BAD_RESPONSE (a record
 * that does not parse; errbuf says so).
 */
int message_block_from_records(const cJSON *recs, const char *topic, int32_t partition,
                               message_block_t **out, char *errbuf, size_t errlen);

/* A standalone error message (its own block): err with errstr copied.
 * NULL when out of memory. */
strand_message *message_error_new(int err, const char *errstr);

#endif
