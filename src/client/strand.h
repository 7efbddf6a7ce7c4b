/*
 * strand.h — libstrand, the C client of the strand broker (docs/CLIENT.md).
 *
 * Build against the installed library with
 *     cc prog.c $(pkg-config --cflags --libs strand)
 *
 * Conventions (read once, they hold for every function below):
 * - Handles are opaque: strand_conf, strand_producer, strand_message.
 * - Functions that can fail return an int: 0 (STRAND_ERR_NONE) or one of
 *   the negative strand_errcode values, and fill errbuf (errlen bytes,
 *   NUL-terminated, may be NULL) with words for a person when they have it.
 *   strand_err2str names a code; strand_err_is_retriable classifies it.
 * - Ownership is stated on each function: "copied" means the library keeps
 *   its own copy and the caller may free or reuse its memory on return;
 *   "borrowed" means the pointer stays valid only for the stated span.
 * - Configuration uses Kafka's own names and defaults (see strand_conf_set).
 *
 * ABI: this interface only grows. Existing functions, their signatures and
 * the numeric values of error codes never change; new codes and functions
 * are added at the end. The shared object's soname changes only if that
 * promise is ever broken.
 */
#ifndef STRAND_H
#define STRAND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors --------------------------------------------------------------
 * Local errors (detected by the library) and broker errors (the `code` of
 * the broker's problem+json answer, shared/API.md) share one enum, as in
 * librdkafka. Values are fixed forever.
 */
typedef enum strand_errcode {
	STRAND_ERR_NONE                  = 0,
	/* local */
	STRAND_ERR_INVALID_ARG           = -1,   /* fatal: a bad argument (NULL, negative length ...) */
	STRAND_ERR_UNKNOWN_CONFIG        = -2,   /* fatal: strand_conf_set with a name it does not know */
	STRAND_ERR_INVALID_CONFIG        = -3,   /* fatal: a config value out of range or malformed */
	STRAND_ERR_NO_MEMORY             = -4,   /* fatal: allocation failed */
	STRAND_ERR_QUEUE_FULL            = -5,   /* retriable: buffer.memory stayed full for max.block.ms */
	STRAND_ERR_MSG_TIMED_OUT         = -6,   /* fatal: delivery.timeout.ms passed before an acknowledgement */
	STRAND_ERR_TIMED_OUT             = -7,   /* retriable: a call's own timeout passed (flush, produce_sync, metadata) */
	STRAND_ERR_TRANSPORT             = -8,   /* retriable: connection refused, reset, or no answer */
	STRAND_ERR_BAD_RESPONSE          = -9,   /* fatal: the broker's answer could not be understood */
	STRAND_ERR_DESTROYED             = -10,  /* fatal: the producer was destroyed before the record was sent */
	STRAND_ERR_IO                    = -11,  /* fatal: a local file could not be read or written */
	STRAND_ERR_TLS                   = -12,  /* fatal: TLS handshake or certificate check failed */
	/* broker (API.md error codes) */
	STRAND_ERR_INVALID_REQUEST       = -100, /* fatal */
	STRAND_ERR_UNKNOWN_TOPIC         = -101, /* fatal */
	STRAND_ERR_UNKNOWN_PARTITION     = -102, /* fatal */
	STRAND_ERR_TOPIC_EXISTS          = -103, /* fatal */
	STRAND_ERR_OFFSET_OUT_OF_RANGE   = -104, /* fatal */
	STRAND_ERR_RECORD_TOO_LARGE      = -105, /* fatal (also local: a record over buffer.memory) */
	STRAND_ERR_REQUEST_TOO_LARGE     = -106, /* fatal */
	STRAND_ERR_NOT_LEADER            = -107, /* retriable */
	STRAND_ERR_NOT_ENOUGH_REPLICAS   = -108, /* retriable */
	STRAND_ERR_REQUEST_TIMED_OUT     = -109, /* retriable */
	STRAND_ERR_UNKNOWN_MEMBER        = -110, /* fatal for the member: join again */
	STRAND_ERR_ILLEGAL_GENERATION    = -111, /* fatal for the member: join again */
	STRAND_ERR_REBALANCE_IN_PROGRESS = -112, /* retriable: rejoin */
	STRAND_ERR_GROUP_NOT_EMPTY       = -113, /* fatal */
	STRAND_ERR_OUT_OF_ORDER_SEQUENCE = -114, /* fatal (retried inside while an earlier batch is retried) */
	STRAND_ERR_PRODUCER_FENCED       = -115, /* fatal */
	STRAND_ERR_UNAUTHORIZED          = -116, /* fatal: missing or bad bearer token */
	STRAND_ERR_FORBIDDEN             = -117, /* fatal: the ACLs refuse */
	STRAND_ERR_THROTTLED             = -118, /* retriable */
	STRAND_ERR_STORAGE_FULL          = -119, /* retriable: the broker's disk is full */
	STRAND_ERR_INTERNAL              = -120, /* retriable: the broker failed (5xx) */
	STRAND_ERR_UNKNOWN_BROKER_ERROR  = -121, /* fatal: a code this library does not know */
	STRAND_ERR_UNAVAILABLE           = -122  /* retriable: the broker cannot serve it now (no
	                                            leader elected yet, stopping, its cluster
	                                            lease in doubt); 503 UNAVAILABLE */
} strand_errcode;

/* A constant, human-readable description of code; never NULL. */
const char *strand_err2str(int code);
/* The code's name without the STRAND_ERR_ prefix ("QUEUE_FULL"); never NULL. */
const char *strand_err_name(int code);
/* 1 when retrying the same operation may succeed, 0 when it cannot. */
int strand_err_is_retriable(int code);

/* ---- configuration -------------------------------------------------------
 * Names and defaults (Kafka's; docs/CLIENT.md explains each):
 *   bootstrap.servers                      (none: required) comma-separated http:// or https:// URLs
 *   acks                                   all       0 | 1 | all | -1
 *   batch.size                             16384     bytes per partition batch, 1..2^30
 *   linger.ms                              0         wait for more records, 0..900000
 *   buffer.memory                          33554432  bytes of unsent records, 1024..2^40
 *   max.block.ms                           60000     strand_produce's wait for room / metadata
 *   retries                                2147483647
 *   delivery.timeout.ms                    120000    produce call to final outcome, >= linger.ms + request.timeout.ms
 *   request.timeout.ms                     30000     one HTTP request
 *   retry.backoff.ms                       100
 *   topic.metadata.propagation.max.ms      30000     cluster: how long a topic unknown to the broker asked is waited for
 *   max.in.flight.requests.per.connection  5         1..5 with enable.idempotence
 *   enable.idempotence                     true
 *   dead.letter.path                       (none)    file where records that finally fail are appended
 *   group.id                               (none)
 *   auto.offset.reset                      latest    earliest | latest
 *   enable.auto.commit                     true
 *   auto.commit.interval.ms                5000
 *   session.timeout.ms                     45000
 *   ssl.ca.location                        (none)    PEM CA file to verify https:// brokers with
 *   sasl.oauthbearer.token                 (none)    a static bearer token sent as "Authorization: Bearer"
 * Booleans accept true/false; integers are decimal.
 */
typedef struct strand_conf strand_conf;

/* A configuration holding every default. NULL only when out of memory. */
strand_conf *strand_conf_new(void);
/* Frees conf (NULL is fine). */
void strand_conf_destroy(strand_conf *conf);
/* An independent copy (NULL when out of memory). */
strand_conf *strand_conf_dup(const strand_conf *conf);

/*
 * Set name to value (both copied). Returns 0, STRAND_ERR_UNKNOWN_CONFIG
 * for a name not in the list above, STRAND_ERR_INVALID_CONFIG for a value
 * that does not parse or is out of range (errbuf says which and why), or
 * STRAND_ERR_INVALID_ARG for a NULL argument. On error conf is unchanged.
 */
int strand_conf_set(strand_conf *conf, const char *name, const char *value,
                    char *errbuf, size_t errlen);

/*
 * The current value of name as text, written into buf (size bytes, always
 * NUL-terminated). An unset string setting gives "". Returns 0,
 * STRAND_ERR_UNKNOWN_CONFIG, or STRAND_ERR_INVALID_ARG (buf too small).
 */
int strand_conf_get(const strand_conf *conf, const char *name, char *buf, size_t size);

/* ---- messages ------------------------------------------------------------
 * A record as the library hands it back: to a delivery callback (borrowed
 * for the duration of the callback only) or, for the consumer, owned by the
 * caller. Accessors never fail on a valid handle.
 */
typedef struct strand_message strand_message;

/* STRAND_ERR_NONE when delivered (or fetched), else why it failed. */
int strand_message_err(const strand_message *m);
/* The broker's or library's words about the error ("" when none); borrowed like m. */
const char *strand_message_errstr(const strand_message *m);
const char *strand_message_topic(const strand_message *m);
int32_t strand_message_partition(const strand_message *m);
/* The record's offset; -1 when unknown (failed, or acks=0). */
int64_t strand_message_offset(const strand_message *m);
/* Milliseconds since the epoch (the producer's create time). */
int64_t strand_message_timestamp(const strand_message *m);
/* Key and value bytes, borrowed like m; NULL with *len 0 for a null key/value. len may be NULL. */
const void *strand_message_key(const strand_message *m, size_t *len);
const void *strand_message_value(const strand_message *m, size_t *len);
/* Number of headers of a fetched record (0 for delivery callbacks' messages). */
size_t strand_message_header_count(const strand_message *m);
/*
 * Header idx (0-based, in stored order; names may repeat): *name (a
 * NUL-terminated string), *value and *value_len (NULL and 0 for a null
 * value), all borrowed like m; any out-pointer may be NULL. Returns 0, or
 * STRAND_ERR_INVALID_ARG when idx >= strand_message_header_count(m).
 */
int strand_message_headers(const strand_message *m, size_t idx, const char **name,
                           const void **value, size_t *value_len);
/*
 * Free a message returned by strand_consumer_poll (NULL is fine). Never
 * call it on a delivery callback's message (that one is borrowed). Any
 * thread; messages of one consumer may be destroyed in any order, also
 * after strand_consumer_close.
 */
void strand_message_destroy(strand_message *m);

/* ---- producer ------------------------------------------------------------
 * strand_produce copies the record into its partition's open batch in a
 * buffer bounded by buffer.memory and returns at once; a sender thread
 * sends a batch when it reaches batch.size or linger.ms has passed, as a
 * binary RecordBatch v2 over keep-alive HTTP connections, retries
 * retriable failures with retry.backoff.ms until delivery.timeout.ms, and
 * then calls the record's callback exactly once with the outcome.
 *
 * Threads: every producer function may be called from any thread at once,
 * except strand_producer_destroy. Callbacks run on the producer's sender
 * thread, one at a time, in per-partition order; a callback may call
 * strand_produce but must not call strand_flush, strand_produce_sync or
 * strand_producer_destroy on its own producer.
 */
typedef struct strand_producer strand_producer;

/* Delivery callback: m is borrowed for the call; opaque is strand_produce's. */
typedef void strand_delivery_cb(const strand_message *m, void *opaque);

/* Special partition: choose with the partitioner (murmur2 of the key, as
 * Kafka's; keyless records stick to one partition per batch). */
#define STRAND_PARTITION_ANY (-1)

/*
 * A producer configured by conf (copied: the caller still destroys conf).
 * Needs bootstrap.servers. Starts the sender thread. Connects to nothing
 * yet. Returns NULL with errbuf filled on a bad configuration or no memory.
 */
strand_producer *strand_producer_new(const strand_conf *conf, char *errbuf, size_t errlen);

/*
 * Queue one record for topic. partition: a partition number or
 * STRAND_PARTITION_ANY. key (key_len bytes) may be NULL for a null key;
 * value likewise. Both are copied before return. cb (may be NULL) is
 * called once, later, with the outcome and opaque.
 * Blocks up to max.block.ms for the topic's partition count (first use of a
 * topic; retriable errors are retried, and in a cluster a topic the broker
 * does not know yet is waited for up to topic.metadata.propagation.max.ms)
 * and for room in buffer.memory.
 * Returns 0 (queued: cb will be called), or, without queueing and without
 * calling cb: STRAND_ERR_QUEUE_FULL (still no room after max.block.ms),
 * STRAND_ERR_RECORD_TOO_LARGE (bigger than buffer.memory), STRAND_ERR_TIMED_OUT
 * or a broker error while reading the topic's metadata (e.g.
 * STRAND_ERR_UNKNOWN_TOPIC), STRAND_ERR_UNKNOWN_PARTITION, STRAND_ERR_INVALID_ARG,
 * STRAND_ERR_DESTROYED (the producer is being destroyed).
 */
int strand_produce(strand_producer *p, const char *topic, int32_t partition,
                   const void *key, size_t key_len, const void *value, size_t value_len,
                   strand_delivery_cb *cb, void *opaque);

/*
 * strand_produce and wait for the outcome (Kafka's future.get()), up to
 * timeout_ms (-1: until delivery.timeout.ms settles it). partition_out and
 * offset_out (may be NULL) get where the record landed. Returns 0, an error
 * of strand_produce, the record's delivery error, or STRAND_ERR_TIMED_OUT
 * when timeout_ms passed first (the record stays queued and its outcome is
 * then dropped).
 */
int strand_produce_sync(strand_producer *p, const char *topic, int32_t partition,
                        const void *key, size_t key_len, const void *value, size_t value_len,
                        int32_t *partition_out, int64_t *offset_out, int timeout_ms);

/*
 * Send every queued record now (linger.ms ignored) and wait until each has
 * had its callback, up to timeout_ms (-1: no limit). Returns 0 or
 * STRAND_ERR_TIMED_OUT.
 */
int strand_flush(strand_producer *p, int timeout_ms);

/* Records queued or in flight whose callback has not run yet. */
size_t strand_producer_outq_len(strand_producer *p);

/*
 * Flush (bounded by delivery.timeout.ms), stop the sender thread, fail what
 * is still queued with STRAND_ERR_DESTROYED, free everything. NULL is fine.
 */
void strand_producer_destroy(strand_producer *p);

/* ---- consumer ------------------------------------------------------------
 * A member of a consumer group (group.id): the broker's coordinator gives
 * it partitions of the subscribed topics (docs/GROUPS.md), and
 * strand_consumer_poll hands their records back one at a time, in offset
 * order per partition.
 *
 * Threads: a consumer has no thread of its own. Joining, rejoining after a
 * rebalance, heartbeats and auto-commits all happen inside
 * strand_consumer_poll (and strand_commit / strand_consumer_close), so
 * the application must call strand_consumer_poll more often than
 * session.timeout.ms, or the broker drops the member and gives its
 * partitions to others (the role of Kafka's max.poll.interval.ms). One
 * consumer is used by one thread at a time.
 */
typedef struct strand_consumer strand_consumer;

/*
 * A consumer configured by conf (copied). Needs bootstrap.servers and
 * group.id. Connects to nothing yet. Returns NULL with errbuf filled on a
 * bad configuration or no memory.
 */
strand_consumer *strand_consumer_new(const strand_conf *conf, char *errbuf, size_t errlen);

/*
 * Subscribe to n topics (names copied), replacing an earlier subscription;
 * the consumer (re)joins the group at the next poll. Returns 0 or
 * STRAND_ERR_INVALID_ARG (no topics, more than 1000, or a bad name).
 */
int strand_subscribe(strand_consumer *c, const char *const *topics, size_t n);

/*
 * The next record, or NULL when none came within timeout_ms (0: only what
 * is already here; -1: wait without limit). Caller frees the message with
 * strand_message_destroy. A message whose strand_message_err is not 0
 * reports a consumer error (the broker unreachable, a fatal answer);
 * retriable errors are retried inside and not reported. Records are
 * handed out at least once: after a crash or a failed commit, records
 * since the last commit come again.
 */
strand_message *strand_consumer_poll(strand_consumer *c, int timeout_ms);

/*
 * Commit the positions of the records handed out so far (each partition's
 * last polled offset + 1). async = 0 waits for the broker's answer;
 * async = 1 starts the request and returns: later polls drive it, and its
 * failure comes out of a poll as an error message. Returns 0 (also when
 * there is nothing to commit), STRAND_ERR_INVALID_ARG (c is NULL), or
 * (async = 0) the broker's or transport's error; ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER and REBALANCE_IN_PROGRESS mean the partitions moved: the
 * consumer rejoins at the next poll.
 */
int strand_commit(strand_consumer *c, int async);

/*
 * Commit (when enable.auto.commit is on), leave the group (its partitions
 * go to the other members at once, not after session.timeout.ms) and free
 * the consumer. Messages not yet destroyed stay valid. Returns 0 or the
 * error of the final commit (the consumer is freed all the same). NULL is
 * fine.
 */
int strand_consumer_close(strand_consumer *c);

#ifdef __cplusplus
}
#endif

#endif
