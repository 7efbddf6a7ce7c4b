/*
 * history.h — a Jepsen-style history of a produce/consume workload against a
 * replicated topic, and the checker that looks for the anomalies Jepsen's
 * Kafka workload (jepsen.tests.kafka, used for Kafka, Redpanda and
 * Bufstream) names:
 *
 *   lost          an acknowledged record, or one a consumer read (only
 *                 committed records are readable), is missing at its offset
 *                 on a replica whose high watermark passed that offset, or
 *                 no replica's high watermark passed it (Jepsen's lost-write
 *                 and unseen: acks=all promised it was committed)
 *   inconsistent  one offset of a partition holds two values, across
 *                 acknowledgements, consumer reads and replica logs
 *                 (inconsistent-offsets: the replicas' logs diverged)
 *   duplicate     one value at two offsets (the workload never retries a
 *                 send, so no value may be appended twice)
 *   failed_read   a value whose send was definitely refused (4xx) is in a
 *                 log or a read (Jepsen's G1a, aborted read)
 *   phantom       a value in a log or a read that the workload never sent
 *   nonmonotonic_send  one producer's acknowledged offsets in one partition
 *                 do not grow in the order it sent them
 *   nonmonotonic_poll  a consumer poll's records are out of order, or start
 *                 elsewhere than the offset asked for (poll-skip)
 *   divergent     two replicas' batches below their common high watermark
 *                 differ in bytes (followers store the leader's batches
 *                 untouched, so they must be identical)
 *
 * Values are int64 (the workload sends them as JSON numbers), unique per
 * send; 0 is never a value. A record's partition is where it was sent.
 *
 * Not thread-safe: the workload keeps one history per thread and merges
 * them with history_merge before checking.
 */
#ifndef STRAND_TESTS_HISTORY_H
#define STRAND_TESTS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

typedef struct history history_t;

#define HISTORY_MAX_PARTITIONS 64

/* How one send ended, as the client saw it. */
typedef enum history_outcome {
	HISTORY_ACKED = 1,     /* 200 with an offset: committed (acks=all) */
	HISTORY_FAILED,        /* 4xx: refused, nothing appended */
	HISTORY_UNKNOWN,       /* 5xx, timeout, connection lost: may or may not be there */
} history_outcome_t;

typedef struct history_report {
	int64_t sent, acked, failed, unknown;
	int64_t unknown_present;     /* unknown sends found in a log (committed after all) */
	int64_t polled;              /* records read by consumers */
	int64_t replica_records;     /* records read from replica logs below their HW */
	int64_t lost, inconsistent, duplicate, failed_read, phantom;
	int64_t nonmonotonic_send, nonmonotonic_poll, divergent;
	int64_t anomalies;           /* the sum of the eight counts above */
	char    text[4096];          /* the first anomalies found, one per line */
} history_report_t;

/* A new empty history; NULL when out of memory. */
history_t *history_new(void);
void history_free(history_t *h);

/* One send of one record: producer proc, partition, value, outcome, offset
 * (acked only; else -1). Sends of one proc are recorded in the order sent.
 * 0 or STRAND_ENOMEM / STRAND_EINVAL (partition out of range). */
int history_send(history_t *h, int proc, int32_t partition, int64_t value,
                 history_outcome_t outcome, int64_t offset);

/* One consumer poll that asked partition from offset `asked` of broker
 * `broker`, which answered n records (offsets[i], values[i]) in answer
 * order and high watermark hw (both for the anomaly notes). */
int history_poll(history_t *h, int consumer, int32_t partition, int64_t asked, size_t n,
                 const int64_t *offsets, const int64_t *values, int broker, int64_t hw);

/* One batch of a replica's log (broker, partition) below its high watermark
 * hw: offsets [base, last], digest of its bytes, and its records' values
 * (count = last - base + 1). Batches of one replica are given in offset
 * order; hw is the same for all batches of that replica. */
int history_replica_batch(history_t *h, int broker, int32_t partition, int64_t hw,
                          int64_t base, int64_t last, uint64_t digest, const int64_t *values);

/* Declare replica (broker, partition) with its hw even when it holds no
 * batch (an empty log must still be checked against the acks). */
int history_replica(history_t *h, int broker, int32_t partition, int64_t hw);

/* Move everything recorded in src into dst (src is left empty). 0 or ENOMEM. */
int history_merge(history_t *dst, history_t *src);

/* Check everything recorded. Fills rep; returns rep->anomalies (0: valid),
 * or STRAND_ENOMEM. With no replica declared for a partition, acked records
 * are checked against the consumers' reads instead: an acknowledged record
 * below the highest offset read and never read is lost (Jepsen's lost-write),
 * one never read at all is not counted (reads may simply have stopped). */
int64_t history_check(history_t *h, history_report_t *rep);

/* FNV-1a 64 of bytes, chained: digest = history_digest(digest, p, n);
 * start from HISTORY_DIGEST_INIT. */
#define HISTORY_DIGEST_INIT 0xcbf29ce484222325ull
uint64_t history_digest(uint64_t digest, const void *p, size_t n);

#endif
