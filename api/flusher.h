/*
 * flusher.h — group commit for acks=all without a thread per request
 * (Kafka's produce purgatory, DelayedProduce, waiting here for the local
 * fsync instead of for followers).
 *
 * A produce that must be durable appends without flushing, registers a
 * waiter in the flusher's registry (parking.h, keyed by partition: woken
 * once the partition's flushed offset passes the request's last offset),
 * asks for a flush of the partition with flusher_request and suspends its
 * connection. One flusher thread takes every partition asked for since its
 * last round, runs log_flush once per partition (one fdatasync covering
 * everything appended so far) and wakes that partition's waiters with the
 * new flushed offset. While one fdatasync runs, every append that comes in
 * joins the next: the more concurrent producers, the more each fsync
 * carries, and no HTTP worker ever blocks on the disk.
 *
 * A failed flush wakes every waiter of the partition; they find their
 * records still unflushed and answer with the error.
 *
 * Threading: every call is safe from any thread. A node is embedded in its
 * owner's state: once flusher_cancel returns, the flusher holds no pointer
 * to it (it copies what it needs under its lock).
 */
#ifndef STRAND_API_FLUSHER_H
#define STRAND_API_FLUSHER_H

#include <stdint.h>

#include "api/parking.h"
#include "broker/broker.h"

typedef struct flusher flusher_t;

/* A flush request, embedded in the requester's state; fields are flusher.c's. */
typedef struct flusher_node {
	struct flusher_node *prev, *next;
	const char          *topic;      /* borrowed while queued */
	int32_t              partition;
	int                  queued;
} flusher_node_t;

/*
 * Start the flusher thread over broker b (borrowed) with its own waiter
 * registry. Returns 0, STRAND_ENOMEM, STRAND_EIO (thread creation).
 */
int flusher_new(broker_t *b, flusher_t **out, char *err, size_t errlen);

/* Stop the thread and free (no owner may be alive). NULL is a no-op. */
void flusher_free(flusher_t *fl);

/* The registry durable produces wait in (woken with the flushed offset). */
parking_t *flusher_parking(flusher_t *fl);

/* Ask for a flush of (topic, partition) soon. A node already queued is
 * queued once, for the partition given last. */
void flusher_request(flusher_t *fl, flusher_node_t *n, const char *topic, int32_t partition);

/* Take n out of the queue if it is there. */
void flusher_cancel(flusher_t *fl, flusher_node_t *n);

#endif
