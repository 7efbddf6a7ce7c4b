/*
 * producer_internal.h — the producer's state, shared by producer.c (the
 * caller-side API: produce, flush, create, destroy) and sender.c (the
 * sender thread). Everything here is guarded by strand_producer.lock
 * unless a field says otherwise.
 */
#ifndef STRAND_CLIENT_PRODUCER_INTERNAL_H
#define STRAND_CLIENT_PRODUCER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#include "client/deadletter.h"
#include "client/strand.h"
#include "client/transport.h"
#include "log/batch.h"

/* What a record needs besides its bytes (which live in the batch). */
typedef struct precord {
	strand_delivery_cb *cb;
	void               *opaque;
} precord_t;

struct ppart;

/* A producer batch: one RecordBatch v2 for one partition, with its records'
 * callbacks and, once sent, the request carrying it. */
typedef struct pbatch {
	struct pbatch   *next;          /* in its partition's queue, a done list or the free list */
	struct pbatch   *next_sent;     /* in its partition's sent list */
	int              on_sent_list;  /* sent at least once, callbacks not run yet */
	int              queued;        /* in its partition's queue */
	int              in_multi;      /* a request is in flight */
	struct ppart    *part;
	batch_builder_t  builder;       /* the encoded batch */
	precord_t       *recs;
	int32_t          nrecs, caprecs;
	size_t           bytes;         /* accounted in used_bytes */
	int64_t          created_ms;    /* monotonic */
	int64_t          deadline_ms;   /* created + delivery.timeout.ms */
	int64_t          retry_at_ms;   /* not sent again before this */
	int              attempts;
	int              oos_answers;   /* OUT_OF_ORDER_SEQUENCE answers so far */
	int              finished;      /* header written: bytes and sequence fixed */
	int              answered;      /* outcome known, waiting for earlier batches' */
	size_t           size;          /* finished batch's size */
	uint64_t         order;         /* the partition's send order, fixed at first send */
	int64_t          producer_id;   /* as stamped in the header */
	int16_t          producer_epoch;
	int32_t          base_sequence;
	int              err;           /* final outcome */
	char             errstr[256];   /* last failure's words */
	int64_t          base_offset;   /* from the broker, -1 when unknown */
	transport_req_t  req;           /* reused with the batch object (keep-alive) */
} pbatch_t;

typedef struct ptopic ptopic_t;

typedef struct ppart {
	ptopic_t *topic;
	int32_t   id;
	pbatch_t *open;                 /* accepting records */
	pbatch_t *qhead;                /* closed, waiting to be sent, in sequence order */
	pbatch_t *sent;                 /* sent at least once, callbacks not run yet, in send
	                                 * order: answered ones wait here for earlier ones,
	                                 * retried ones keep their place (linked by next_sent) */
	int       ninflight;            /* requests in flight */
	int32_t   next_seq;             /* idempotence: next batch's base_sequence */
	uint64_t  next_order;
	int       broker_knows;         /* a batch of the current producer id and epoch was acknowledged */
	char     *leader_url;           /* cluster mode: the partition's leader, where its
	                                 * batches go (owned); NULL: the current bootstrap
	                                 * broker, which relays them (docs/REPLICATION.md) */
} ppart_t;

struct ptopic {
	ptopic_t *next;
	char     *name;
	int32_t   nparts;
	int32_t   sticky;               /* keyless records' partition, -1: choose anew */
	ppart_t  *parts;
};

struct strand_producer {
	struct strand_conf *conf;       /* own copy, read-only */
	transport_t        *tr;
	CURLM              *multi;      /* sender thread only (curl_multi_wakeup: any thread) */
	pthread_t           sender;
	int                 sender_started, locks_ready;

	pthread_mutex_t     lock;
	pthread_cond_t      space_cv;   /* used_bytes went down, or closing */
	pthread_cond_t      done_cv;    /* callbacks ran (outq went down) */
	ptopic_t           *topics;
	pbatch_t           *free_batches;
	size_t              used_bytes; /* bytes of batches whose callbacks have not run */
	size_t              outq;       /* records whose callbacks have not run */
	int                 flushing;   /* callers waiting in flush/produce_sync: no lingering */
	int                 closing;
	uint32_t            round_robin;
	int64_t             pid;        /* idempotence: producer id, -1 until known */
	int16_t             epoch;
	int64_t             pid_retry_at_ms;
	int                 need_bump;  /* a sent batch failed: sequences have a gap (KIP-360) */
	int                 ninflight;  /* requests in flight, all partitions */

	deadletter_t       *dead_letter; /* dead.letter.path, NULL: none; sender thread only */

	pthread_mutex_t     meta_lock;  /* guards meta_req (metadata, producer id) */
	transport_req_t     meta_req;
	atomic_int          cluster_brokers; /* brokers GET /v1/cluster listed, 0: not known
	                                      * yet (any thread; no lock) */
};

void    *producer_sender_main(void *arg);

/*
 * The producer's one retry rule, used for a batch's produce request
 * (sender.c) and for a topic's metadata (strand_produce) alike.
 *
 * producer_err_retriable: is a failure rc of a request for records produced
 * at since_ms worth another try at now? Retriable errors
 * (strand_err_is_retriable: transport, 503, 429, NOT_LEADER, ...) are, and
 * so is UNKNOWN_TOPIC in a cluster (two brokers or more) until
 * topic.metadata.propagation.max.ms after since_ms: each broker learns a
 * created topic through its own etcd watch, so for a moment brokers other
 * than the one that created it answer 404 (docs/CLIENT.md). On a single
 * broker a 404 is final. May ask GET /v1/cluster (blocking) when the
 * cluster's size is not known yet and block is set; else treats an unknown
 * size as a cluster. Any lock but p->meta_lock may be held when !block.
 *
 * producer_retry_bound: may the retry go at now + retry.backoff.ms?
 * 0 when attempts <= retries and that is before deadline_ms; else the code
 * the records fail with (rc when retries ran out, STRAND_ERR_MSG_TIMED_OUT
 * when the deadline did), with " (gave up after N attempts)" added to
 * errbuf (may be NULL).
 */
int producer_err_retriable(strand_producer *p, int rc, int64_t since_ms, int64_t now, int block);
int producer_retry_bound(const strand_producer *p, int rc, int attempts, int64_t deadline_ms,
                         int64_t now, char *errbuf, size_t errlen);
/* Add to errbuf why an UNKNOWN_TOPIC is final (the propagation bound passed). */
void producer_explain_unknown_topic(const strand_producer *p, int64_t since_ms, int64_t now,
                                    char *errbuf, size_t errlen);
pbatch_t *producer_batch_new(strand_producer *p, ppart_t *part);
void     producer_batch_recycle(strand_producer *p, pbatch_t *b);
void     producer_queue_insert(ppart_t *part, pbatch_t *b);
void     producer_close_open(strand_producer *p, ppart_t *part);

/*
 * The first offset of a produce answer {"offsets":[{"partition","offset"},...]}
 * (body: len bytes, may be NULL) that holds one offset per record (nrecs):
 * 0 with *base_offset set, or STRAND_ERR_BAD_RESPONSE when the body is not
 * that or the first offset is not an exact integer in [0, 2^53]. Pure (no
 * producer state); fuzzed by fuzz/fuzz_client.c.
 */
int producer_parse_offsets(const char *body, size_t len, int32_t nrecs, int64_t *base_offset);

#endif
