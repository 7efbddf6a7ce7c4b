/*
 * workload.h — the clients of a fault test: producer threads that post
 * acks=all records with unique values to a cluster (tcluster), and
 * consumer threads that read every partition from the start, all of them
 * recording what they saw into a history (history.h) for the checker.
 *
 * Producers never retry a send: a value goes out once, and its outcome is
 * acknowledged (200, with its offset), failed (4xx, or no connection could
 * be made: nothing was appended) or unknown (5xx, timeout, connection lost
 * after sending). So no value may ever be at
 * two offsets. A producer follows 421 NOT_LEADER's leader_url, and moves
 * to the next broker after a connection error or a 503 other than
 * NOT_ENOUGH_REPLICAS; it backs off a little after an error (a client's
 * retry.backoff.ms), never to let the cluster settle.
 *
 * Consumers ask with `Strand-Route: direct` (the leader answers; a follower
 * says 421 with leader_url), move to the next broker after a poll that
 * brought nothing, and record every poll: whichever broker answers, what
 * it returns must be committed and consistent.
 */
#ifndef STRAND_TESTS_WORKLOAD_H
#define STRAND_TESTS_WORKLOAD_H

#include <stdint.h>

#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/history.h"

#define WORKLOAD_MAX_THREADS 32

typedef struct workload workload_t;

typedef struct workload_options {
	const char *topic;
	int partitions;
	int producers;             /* threads; 0: none */
	int consumers;             /* threads, each reading every partition */
	int records_per_request;   /* 1..100; 0: 1 */
	int timeout_ms;            /* produce's timeout_ms; the client gives up 3 s later */
	int direct;                /* producers send `Strand-Route: direct` too */
} workload_options_t;

typedef struct workload_stats {
	int64_t acked, failed, unknown, polled;
	int64_t status_421, status_503;
} workload_stats_t;

/* Start the threads. 0, STRAND_EINVAL, STRAND_ENOMEM. */
int  workload_start(tcluster_t *c, const workload_options_t *o, workload_t **out);

/* Counts so far (any thread). */
void workload_stats(workload_t *w, workload_stats_t *out);

/* Wait until `more` records have been acknowledged after this call's start,
 * up to deadline_ms. 0 or STRAND_ETIMEDOUT. */
int  workload_wait_acked(workload_t *w, int64_t more, int deadline_ms);

/* Failover time: workload_mark notes now; workload_wait_mark_acked waits
 * until a send started after the mark is acknowledged and returns the ms
 * from the mark to that acknowledgement (-1 when none within deadline_ms). */
void workload_mark(workload_t *w);
int64_t workload_wait_mark_acked(workload_t *w, int deadline_ms);

/* Stop the producers (each finishes the request in flight). The consumers
 * go on until they have read up to the high watermark of every partition
 * as it was after the producers stopped, or deadline_ms passes, then stop.
 * Every thread's history is moved into `into`. 0, or STRAND_ETIMEDOUT when
 * the consumers did not catch up in time (they are stopped anyway). */
int  workload_stop(workload_t *w, history_t *into, int deadline_ms);

/*
 * Read partition p of `topic` from the data directory of broker id — which
 * must be stopped (tcluster_shutdown) — below hw, into h as that replica's
 * batches (history_replica_batch: offsets, a digest of the bytes, values).
 * 0, or an error with err filled.
 */
int  workload_read_replica(tcluster_t *c, int id, const char *topic, int32_t p, int64_t hw,
                           history_t *h, char *err, size_t errlen);

#endif
