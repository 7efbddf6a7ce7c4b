/*
 * produce.c — POST /v1/topics/{topic}/records and
 * POST /v1/topics/{topic}/partitions/{p}/records (API.md "Produce").
 *
 * A streaming route: the handler runs at headers time (topic, partition,
 * acks, content type checked before any body byte), then each upload chunk
 * goes through records_parser_feed, and every parsed record is added to the
 * batch being built for its partition (one batch_builder per partition the
 * request touches). Nothing is appended until the whole body has parsed:
 * a malformed record anywhere leaves every partition untouched. Then each
 * partition's batch is appended once (broker_append), so a request is
 * atomic per partition, and the answer lists one offset per record in
 * request order, computed from each partition's first offset and the
 * record's index within its partition.
 *
 * Binary bodies (application/vnd.strand.batch, partition path only) are
 * collected (bounded by the route's cap, the broker-wide max request size),
 * validated batch by batch, checked record by record against
 * max_message_bytes, and appended as sent. A batch with a producer id is
 * an idempotent producer's (KIP-98; broker_append checks its epoch and
 * sequence): a duplicate is answered with the original offsets, a gap is
 * 409 OUT_OF_ORDER_SEQUENCE, a stale epoch 409 PRODUCER_FENCED. JSON and
 * NDJSON bodies have no sequences: producer_id, producer_epoch and
 * base_sequence query parameters are refused (400) there, and their safe
 * retry is the Idempotency-Key header.
 *
 * POST /v1/producers hands out producer ids (api_producers_create).
 *
 * acks=all (durability on a single node): the batches are appended
 * without flushing, then the request parks in the flusher's registry
 * (api/flusher.h) until one group-committed fdatasync covers its records.
 * No worker thread waits on the disk, so one fsync carries the records of
 * every producer that appended meanwhile. In cluster mode (replica.h) it
 * parks instead in the long-poll registry, which the broker's append hook
 * wakes at every HW move and leadership change, until the high watermark
 * passes its records (Kafka's DelayedProduce): 503 NOT_ENOUGH_REPLICAS up
 * front while the ISR is below min_insync_replicas (broker_append), or
 * when the ISR shrinks below it or the leader loses its leadership before
 * the records commit; 503 REQUEST_TIMED_OUT at timeout_ms. The copies on
 * the other ISR members are then the durability, as in Kafka, and no
 * replica fsyncs for the request; only when the ISR is the leader alone
 * does it also wait for the fsync (broker_replica_needs_flush).
 *
 * Partitioning (Kafka's DefaultPartitioner): explicit "partition" first,
 * then murmur2 of the key, then one partition per request for the rest
 * (sticky per request, round-robin across requests; KIP-480's idea).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/flusher.h"
#include "api/forward.h"
#include "api/handlers.h"
#include "api/metrics.h"
#include "api/records.h"
#include "broker/idempotency.h"
#include "broker/replica.h"
#include "common/err.h"
#include "common/sha256.h"
#include "log/batch.h"

#define PRODUCE_DEFAULT_TIMEOUT_MS 30000
#define PRODUCE_MAX_TIMEOUT_MS     300000

enum produce_acks { PRODUCE_ACKS_NONE = 0, PRODUCE_ACKS_LEADER = 1, PRODUCE_ACKS_ALL = 2 };

/* One partition the request touches, and the batch built for it. */
typedef struct produce_slot {
	int32_t         partition;
	int32_t         count;          /* records added so far */
	int64_t         first_offset;   /* from the append */
	int32_t         leader_epoch;   /* the append's (cluster mode) */
	batch_builder_t builder;
	int             remote;         /* led by another broker: sent there (call) */
	int32_t         leader;         /* remote: its leader's id and URL (owned) */
	char           *leader_url;
	size_t          call;           /* its call in produce_ctx.fwd */
} produce_slot_t;

/* One record of the request: where it went. */
typedef struct produce_entry {
	uint32_t slot;
	uint32_t index;                 /* within its partition's batch */
} produce_entry_t;

typedef struct produce_ctx {
	api_request_t    *req;
	topic_t          *topic;        /* held for the request */
	topic_config_t    cfg;
	int32_t           npartitions;
	int32_t           sticky;       /* partition of unkeyed records */
	int               acks;
	int               binary;       /* application/vnd.strand.batch */
	int64_t           now_ms;       /* timestamp of records that give none */
	records_parser_t *parser;
	buf_t             body;         /* binary bodies */
	int32_t          *slot_of;      /* partition -> slot + 1 (0: none yet) */
	produce_slot_t   *slots;
	size_t            nslots, slots_cap;
	produce_entry_t  *entries;
	size_t            nentries, entries_cap;
	int64_t           binary_first, binary_count;  /* a binary body's append */
	int32_t           binary_epoch;
	size_t            nappended;    /* partitions appended to (binary: 0 or 1) */
	int64_t           timeout_ms;

	/* cluster mode, topic path: batches of partitions led elsewhere are
	 * sent to their leaders (api/forward.h); answered once all have */
	forward_set_t    *fwd;
	int               waiting_remote;

	/* Idempotency-Key (src/broker/idempotency.h) */
	int               replay;       /* the key's answer is stored: only hash the body */
	idem_entry_t     *idem_ticket;  /* in progress: ours to complete or release */
	idem_answer_t     idem_answer;  /* replay: the stored answer */
	sha256_t          idem_hash;    /* target, query and body */
	uint8_t           idem_fp[SHA256_DIGEST_SIZE];

	/* acks=all: in cluster mode parked until committed (the long-poll
	 * registry, woken by HW moves), then where a flush is still needed
	 * until flushed (api/flusher.h) */
	flusher_t        *flusher;
	parking_t        *wait_pk;      /* the registry waiter was last parked in */
	parking_waiter_t  waiter;
	flusher_node_t    flush_node;
	int64_t           deadline_ms;  /* parking clock: timeout_ms after the start */
	size_t            wait_index;   /* which partition of the request is awaited */
	log_t            *wait_log;
	int64_t           wait_target;  /* flushed offset (or HW) it needs */
	int32_t           wait_partition, wait_epoch;
	int               committed;    /* cluster mode: the HW passed every partition's records */
} produce_ctx_t;

/* Round-robin start for unkeyed records, across requests. */
static atomic_uint produce_sticky_counter;

static int64_t produce_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- request state ----------------------------------------------------- */

static void produce_idem_abandon(produce_ctx_t *c);
static int produce_on_resume(api_request_t *req);

static void produce_cleanup(api_request_t *req)
{
	produce_ctx_t *c = req->ctx;
	size_t i;

	if (c == NULL)
		return;
	if (c->idem_ticket != NULL)
		produce_idem_abandon(c);
	idem_answer_free(&c->idem_answer);
	forward_set_free(c->fwd);   /* calls still running are abandoned */
	/* after these, neither the registry nor the flusher can touch c */
	if (c->flusher != NULL) {
		if (c->wait_pk != NULL)
			parking_cancel(c->wait_pk, &c->waiter);
		flusher_cancel(c->flusher, &c->flush_node);
	}
	for (i = 0; i < c->nslots; i++) {
		batch_builder_free(&c->slots[i].builder);
		free(c->slots[i].leader_url);
	}
	free(c->slots);
	free(c->slot_of);
	free(c->entries);
	records_parser_free(c->parser);
	buf_free(&c->body);
	topic_release(c->topic);
	free(c);
	req->ctx = NULL;
}

/* The slot of partition p, created at its first record. NULL: no memory. */
static produce_slot_t *produce_slot_for(produce_ctx_t *c, int32_t p)
{
	produce_slot_t *s;

	if (c->slot_of[p] != 0)
		return &c->slots[c->slot_of[p] - 1];
	if (c->nslots == c->slots_cap) {
		size_t cap = c->slots_cap ? c->slots_cap * 2 : 4;
		produce_slot_t *n = realloc(c->slots, cap * sizeof *n);

		if (n == NULL)
			return NULL;
		c->slots = n;
		c->slots_cap = cap;
	}
	s = &c->slots[c->nslots];
	memset(s, 0, sizeof *s);
	s->partition = p;
	batch_builder_init(&s->builder);
	if (batch_builder_begin(&s->builder, -1, -1, -1) != 0) {
		batch_builder_free(&s->builder);
		return NULL;
	}
	c->slot_of[p] = (int32_t)++c->nslots;
	return s;
}

static int produce_entry_push(produce_ctx_t *c, uint32_t slot, uint32_t index)
{
	if (c->nentries == c->entries_cap) {
		size_t cap = c->entries_cap ? c->entries_cap * 2 : 64;
		produce_entry_t *e = realloc(c->entries, cap * sizeof *e);

		if (e == NULL)
			return STRAND_ENOMEM;
		c->entries = e;
		c->entries_cap = cap;
	}
	c->entries[c->nentries].slot = slot;
	c->entries[c->nentries].index = index;
	c->nentries++;
	return 0;
}

/* ---- JSON and NDJSON bodies -------------------------------------------- */

/*
 * records_parser callback: choose the record's partition and add it to that
 * partition's batch. Hot path: no allocation once the builders and the
 * entry array have grown to the request's size.
 */
static int produce_on_record(void *ctx, const produce_record_t *rec)
{
	produce_ctx_t *c = ctx;
	api_request_t *req = c->req;
	produce_slot_t *s;
	int32_t p;
	int rc;

	if (req->partition >= 0) {
		if (rec->partition >= 0 && rec->partition != req->partition) {
			snprintf(req->err, sizeof req->err,
			         "record %zu: partition %d differs from the path's partition %d",
			         rec->index, (int)rec->partition, (int)req->partition);
			api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, req->err, NULL);
			return STRAND_EINVAL;
		}
		p = req->partition;
	} else if (rec->partition >= 0) {
		if (rec->partition >= c->npartitions) {
			snprintf(req->err, sizeof req->err,
			         "record %zu: topic %s has no partition %d (it has %d)",
			         rec->index, req->topic, (int)rec->partition, (int)c->npartitions);
			api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_PARTITION, req->err, NULL);
			return STRAND_ENOENT;
		}
		p = rec->partition;
	} else if (rec->key != NULL) {
		p = broker_partition_for_key(rec->key, (size_t)rec->key_len, c->npartitions);
	} else {
		p = c->sticky;
	}
	s = produce_slot_for(c, p);
	if (s == NULL)
		return STRAND_ENOMEM;
	rc = batch_builder_add(&s->builder, rec->timestamp >= 0 ? rec->timestamp : c->now_ms,
	                       rec->key, rec->key_len, rec->value, rec->value_len,
	                       rec->headers, rec->nheaders);
	if (rc)
		return rc;
	return produce_entry_push(c, (uint32_t)(s - c->slots), (uint32_t)s->count++);
}

/*
 * The parser says ETOOBIG both for a record over max_message_bytes (413
 * RECORD_TOO_LARGE, the core's mapping) and for one record more than
 * max_records_per_request: that one is the request's size (413
 * REQUEST_TOO_LARGE).
 */
static int produce_parse_error(produce_ctx_t *c, int rc)
{
	size_t max = api_options(c->req->api)->max_records_per_request;

	if (rc == STRAND_ETOOBIG && max > 0 && records_parser_count(c->parser) >= max)
		return api_respond_problem(c->req, 413, API_PROBLEM_REQUEST_TOO_LARGE, c->req->err,
		                           NULL);
	return rc;
}

static int produce_body_run(api_request_t *req, const char *data, size_t len)
{
	produce_ctx_t *c = req->ctx;

	int rc;

	if (c->replay || c->idem_ticket != NULL)
		sha256_update(&c->idem_hash, data, len);
	if (c->replay)
		return 0;           /* answered from the window: nothing to parse */
	if (c->binary)
		return buf_append(&c->body, data, len);
	rc = records_parser_feed(c->parser, data, len, produce_on_record, c,
	                         req->err, sizeof req->err);
	return produce_parse_error(c, rc);
}

/* ---- answers ------------------------------------------------------------ */

/* An append failure: what the engine's code means for a produce request. */
static int produce_respond_append_error(api_request_t *req, int rc)
{
	switch (rc) {
	case STRAND_ESEQUENCE:
	case STRAND_EFENCED:
		return api_respond_error(req, rc, req->err);
	case STRAND_ECORRUPT:
	case STRAND_EINVAL:   /* a batch the client sent failed validation */
		return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, req->err, NULL);
	case STRAND_ETOOBIG:  /* the partition's batch is over max_batch_bytes */
		return api_respond_problem(req, 413, API_PROBLEM_REQUEST_TOO_LARGE, req->err, NULL);
	default:
		return api_respond_error(req, rc, req->err);
	}
}

/*
 * A number >= 0 as decimal text that counts up in place: the answer's
 * offsets are mostly consecutive, so each costs a digit bump, not a
 * division per digit.
 */
typedef struct produce_dec {
	char   d[24];
	size_t start;          /* the text is d[start, 24) */
	int64_t value;
} produce_dec_t;

static void produce_dec_set(produce_dec_t *x, int64_t v)
{
	x->value = v;
	x->start = sizeof x->d;
	do {
		x->d[--x->start] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
}

static void produce_dec_next(produce_dec_t *x, int64_t v)
{
	size_t i = sizeof x->d;

	if (v != x->value + 1) {
		produce_dec_set(x, v);
		return;
	}
	x->value = v;
	while (i > x->start && x->d[i - 1] == '9')
		x->d[--i] = '0';
	if (i == x->start)
		x->d[--x->start] = '1';
	else
		x->d[i - 1]++;
}

#define PRODUCE_ENTRY_MAX 56   /* ,{"partition":<10>,"offset":<19>} */

/* One {"partition":p,"offset":o} into room reserved by the caller. Hot path. */
static void produce_put_offset(buf_t *out, int first, const produce_dec_t *p,
                               const produce_dec_t *o)
{
	char *w = out->data + out->len;
	size_t pn = sizeof p->d - p->start, on = sizeof o->d - o->start;

	if (!first)
		*w++ = ',';
	memcpy(w, "{\"partition\":", 13);
	w += 13;
	memcpy(w, p->d + p->start, pn);
	w += pn;
	memcpy(w, ",\"offset\":", 10);
	w += 10;
	memcpy(w, o->d + o->start, on);
	w += on;
	*w++ = '}';
	out->len = (size_t)(w - out->data);
}

/* {"offsets":[{"partition":p,"offset":o},...]} in request order into out. */
static int produce_offsets_build(produce_ctx_t *c, int64_t binary_first, int64_t binary_count,
                                 buf_t *out_buf)
{
	api_request_t *req = c->req;
	produce_dec_t pd, od;
	buf_t out = BUF_INIT;
	size_t i;
	int rc;

	rc = buf_reserve(&out, 16 + (c->nentries + (size_t)binary_count) * PRODUCE_ENTRY_MAX);
	rc = rc ? rc : buf_append_str(&out, "{\"offsets\":[");
	/* nothing yet: the first entry sets both (offsets and partitions are >= 0) */
	pd.start = od.start = sizeof pd.d;
	pd.value = od.value = -2;
	for (i = 0; rc == 0 && i < c->nentries; i++) {
		const produce_slot_t *s = &c->slots[c->entries[i].slot];

		if (pd.value != s->partition)
			produce_dec_set(&pd, s->partition);
		produce_dec_next(&od, s->first_offset + c->entries[i].index);
		produce_put_offset(&out, i == 0, &pd, &od);
	}
	if (rc == 0 && binary_count > 0) {
		produce_dec_set(&pd, req->partition);
		produce_dec_set(&od, binary_first);
	}
	for (i = 0; rc == 0 && i < (size_t)binary_count; i++) {
		if (i > 0)
			produce_dec_next(&od, binary_first + (int64_t)i);
		produce_put_offset(&out, i == 0, &pd, &od);
	}
	rc = rc ? rc : buf_append_str(&out, "]}");
	if (rc == 0) {
		*out_buf = out;
		return 0;
	}
	buf_free(&out);
	return rc;
}

/* ---- Idempotency-Key ---------------------------------------------------- */

/*
 * Keep the request's answer in the window (journaled; fdatasync'd with
 * acks=all, as durable as the records). A failure to journal leaves the
 * answer in memory only: logged, the request is still answered.
 */
static void produce_idem_store(produce_ctx_t *c, unsigned status, const char *content_type,
                               const buf_t *body, int flags)
{
	idem_answer_t a;
	char err[256];

	if (c->idem_ticket == NULL)
		return;
	memset(&a, 0, sizeof a);
	memcpy(a.fingerprint, c->idem_fp, sizeof a.fingerprint);
	a.status = status;
	a.content_type = (char *)content_type;
	a.body = body->data;
	a.len = body->len;
	a.flush = flags;
	if (idem_store_complete(broker_idempotency(c->req->broker), c->idem_ticket, &a,
	                        c->acks == PRODUCE_ACKS_ALL, broker_wall_ms(), err, sizeof err))
		fprintf(stderr, "strand: idempotency window: %s\n", err);
	c->idem_ticket = NULL;
}

/*
 * The request ends without a stored answer. Appended everywhere it meant
 * to (acks=all timed out or failed its flush): the offsets are its answer,
 * kept with IDEM_FLUSH so a replay first makes them durable. Appended
 * nowhere: forget the key, a retry runs anew. Appended to some partitions
 * only (an I/O error between two): forgotten too (docs/PRODUCERS.md).
 */
static void produce_idem_abandon(produce_ctx_t *c)
{
	size_t want = c->binary ? 1 : c->nslots;
	buf_t out = BUF_INIT;

	if (want > 0 && c->nappended == want && c->acks != PRODUCE_ACKS_NONE &&
	    produce_offsets_build(c, c->binary_first, c->binary_count, &out) == 0) {
		produce_idem_store(c, 200, "application/json", &out, IDEM_FLUSH);
		buf_free(&out);
		return;
	}
	idem_store_release(broker_idempotency(c->req->broker), c->idem_ticket);
	c->idem_ticket = NULL;
}

/*
 * Headers time: a request with an Idempotency-Key either takes the key
 * (in progress until answered), finds its answer (replayed once the body
 * proves to be the same request), or finds it in progress (409).
 * The fingerprint covers the target (path, content type, acks, timeout_ms)
 * and, as it streams, the body.
 */
static int produce_idem_begin(produce_ctx_t *c)
{
	api_request_t *req = c->req;
	const char *value = api_header(req, "Idempotency-Key");
	const char *parts[4];
	char key[IDEM_MAX_KEY_BYTES + 1], scope[IDEM_MAX_SCOPE_BYTES + 1];
	int rc;

	if (value == NULL)
		return 0;
	rc = idem_key_parse(value, key, sizeof key, req->err, sizeof req->err);
	if (rc)
		return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, req->err, NULL);
	/* per principal (when authentication is on) and topic */
	snprintf(scope, sizeof scope, "%s\n%s", req->principal, req->topic);
	sha256_init(&c->idem_hash);
	parts[0] = req->path;
	parts[1] = api_header(req, "Content-Type");
	parts[2] = api_query(req, "acks");
	parts[3] = api_query(req, "timeout_ms");
	for (size_t i = 0; i < 4; i++) {
		const char *v = parts[i] != NULL ? parts[i] : "";

		sha256_update(&c->idem_hash, v, strlen(v) + 1);   /* with its NUL: unambiguous */
	}
	rc = idem_store_begin(broker_idempotency(req->broker), scope, key, broker_wall_ms(),
	                      &c->idem_ticket, &c->idem_answer);
	if (rc == STRAND_EAGAIN)
		return api_respond_problem(req, 409, API_PROBLEM_IDEMPOTENCY_KEY_IN_PROGRESS,
		                           "a request with this Idempotency-Key is still being "
		                           "processed; retry once it has been answered", NULL);
	if (rc == 1)
		c->replay = 1;
	return rc < 0 ? rc : 0;
}

/* The stored answer, if this request is the first one again (else 422). */
static int produce_replay(produce_ctx_t *c)
{
	api_request_t *req = c->req;
	const idem_answer_t *a = &c->idem_answer;
	buf_t body = BUF_INIT;
	int rc;

	if (memcmp(c->idem_fp, a->fingerprint, sizeof c->idem_fp) != 0)
		return api_respond_problem(req, 422, API_PROBLEM_IDEMPOTENCY_KEY_REUSED,
		                           "this Idempotency-Key was first used for a different "
		                           "request (target, query or body); a new request needs a "
		                           "new key", NULL);
	if (a->flush) {
		/* the first attempt appended but did not see its fsync: make it durable */
		for (int32_t p = 0; p < c->npartitions; p++) {
			rc = log_flush(topic_partition_log(c->topic, p), -1, req->err, sizeof req->err);
			if (rc)
				return rc;
		}
	}
	rc = api_add_header(req, "Idempotent-Replayed", "true");
	if (rc)
		return rc;
	if (a->content_type[0] == '\0')
		return api_respond_empty(req, a->status);
	rc = buf_append(&body, a->body, a->len);
	if (rc == 0)
		rc = api_respond_buf(req, a->status, a->content_type, &body);
	buf_free(&body);
	return rc;
}

/* 200 {"offsets":[...]} in request order, or 202; kept for the key if any. */
static int produce_respond(produce_ctx_t *c, int64_t binary_first, int64_t binary_count)
{
	api_request_t *req = c->req;
	buf_t out = BUF_INIT;
	int rc;

	if (c->acks == PRODUCE_ACKS_NONE) {
		produce_idem_store(c, 202, "", &out, 0);
		return api_respond_empty(req, 202);
	}
	rc = produce_offsets_build(c, binary_first, binary_count, &out);
	if (rc)
		return rc;
	produce_idem_store(c, 200, "application/json", &out, 0);
	rc = api_respond_buf(req, 200, "application/json", &out);
	buf_free(&out);
	return rc;
}

/* ---- acks=all: waiting for the group commit ----------------------------- */

/* Under the flusher registry's lock: flushed meanwhile, or suspend. */
static int produce_arm(void *ctx)
{
	produce_ctx_t *c = ctx;

	if (log_flushed_offset(c->wait_log) >= c->wait_target)
		return 1;
	return api_suspend(c->req);
}

/* Under the registry lock, on the flusher or timer thread. */
static void produce_wake(void *ctx, parking_reason_t why)
{
	produce_ctx_t *c = ctx;

	(void)why;
	api_resume(c->req);
}

/* Under the long-poll registry's lock: committed, lost, or suspend. */
static int produce_hw_arm(void *ctx)
{
	produce_ctx_t *c = ctx;

	if (broker_replica_committed(c->req->broker, c->topic, c->wait_partition, c->wait_target,
	                             c->wait_epoch, NULL, 0) != 0)
		return 1;     /* committed, or never will be here: look again */
	return api_suspend(c->req);
}

/*
 * Cluster mode, acks=all: answer once the high
 * watermark of every partition appended to passes its records, else park
 * until an HW move or a leadership change wakes the request.
 * Returns 1 when all are committed, 0 when parked or answered.
 */
static int produce_wait_committed(produce_ctx_t *c)
{
	api_request_t *req = c->req;
	size_t i, n = c->binary ? 1 : c->nslots;
	int rc;

	for (i = 0; i < n; i++) {
		int32_t p = c->binary ? req->partition : c->slots[i].partition;
		int32_t epoch = c->binary ? c->binary_epoch : c->slots[i].leader_epoch;
		int64_t target = c->binary ? c->binary_first + c->binary_count
		                           : c->slots[i].first_offset + c->slots[i].count;

		if (!c->binary && c->slots[i].remote)
			continue;   /* its leader answered 200 only once it was committed */
		rc = broker_replica_committed(req->broker, c->topic, p, target, epoch,
		                              req->err, sizeof req->err);
		if (rc == 1)
			continue;
		if (rc < 0)
			return api_respond_error(req, rc, req->err);
		if (parking_now_ms() >= c->deadline_ms || api_is_stopping(req->api))
			return api_respond_problem(req, 503, API_PROBLEM_REQUEST_TIMED_OUT,
			                           "the records were appended but not committed by "
			                           "the in-sync replicas within timeout_ms", NULL);
		c->wait_partition = p;
		c->wait_target = target;
		c->wait_epoch = epoch;
		c->wait_pk = api_parking_state(req->api);
		rc = parking_wait(c->wait_pk, &c->waiter, req->topic, p, target - 1, c->deadline_ms,
		                  produce_hw_arm, produce_wake, c);
		if (rc == 1) {
			i--;                      /* changed meanwhile: look at it again */
			continue;
		}
		if (rc == STRAND_ECLOSED)
			return api_respond_problem(req, 503, API_PROBLEM_REQUEST_TIMED_OUT,
			                           "the broker is stopping: the records were appended "
			                           "but not yet committed", NULL);
		return rc;                        /* 0: parked */
	}
	return 1;
}

/*
 * acks=all: answer once every partition the request appended to has its
 * records durable, else park. In cluster mode first committed (the high
 * watermark passed them: every ISR member has them, produce_wait_committed);
 * then flushed past them where broker_replica_needs_flush says the copies
 * alone are not enough (a single node, or an ISR of this broker alone),
 * parked until the flusher says so. resumed: called after a wake-up, which
 * for a partition awaiting its flush means flushed, timed out or a failed
 * flush (the flusher's registry wakes a waiter for nothing else).
 */
static int produce_finish(produce_ctx_t *c, int resumed)
{
	api_request_t *req = c->req;
	size_t i, n = c->binary ? 1 : c->nslots;
	int rc;

	if (c->acks != PRODUCE_ACKS_ALL)
		return produce_respond(c, c->binary_first, c->binary_count);
	if (broker_replicated(req->broker) && !c->committed) {
		rc = produce_wait_committed(c);
		if (rc != 1)
			return rc;                /* parked or answered */
		c->committed = 1;
		resumed = 0;                      /* that wake-up was the commit's */
	}
	for (i = 0; i < n; i++) {
		int32_t p = c->binary ? req->partition : c->slots[i].partition;
		int64_t target = c->binary ? c->binary_first + c->binary_count
		                           : c->slots[i].first_offset + c->slots[i].count;
		log_t *log = topic_partition_log(c->topic, p);

		if (!c->binary && c->slots[i].remote)
			continue;   /* its leader answered once it had it as acks said */
		if (log_flushed_offset(log) >= target ||
		    !broker_replica_needs_flush(req->broker, c->topic, p))
			continue;
		if (api_is_stopping(req->api)) {
			/* shutting down: flush here (bounded I/O) and answer */
			rc = log_flush(log, target, req->err, sizeof req->err);
			if (rc)
				return rc;
			continue;
		}
		if (resumed && i == c->wait_index && c->wait_pk == flusher_parking(c->flusher)) {
			if (parking_now_ms() >= c->deadline_ms)
				return api_respond_problem(req, 503, API_PROBLEM_REQUEST_TIMED_OUT,
				                           "the records were appended but not flushed "
				                           "within timeout_ms", NULL);
			return api_respond_error(req, STRAND_EIO, "flushing the partition failed: "
			                         "the records may not be durable");
		}
		c->wait_index = i;
		c->wait_log = log;
		c->wait_target = target;
		c->wait_pk = flusher_parking(c->flusher);
		rc = parking_wait(c->wait_pk, &c->waiter, req->topic, p,
		                  target - 1, c->deadline_ms, produce_arm, produce_wake, c);
		if (rc == 1)
			continue;                 /* flushed meanwhile */
		if (rc == STRAND_ECLOSED) {
			rc = log_flush(log, target, req->err, sizeof req->err);
			if (rc)
				return rc;
			continue;
		}
		if (rc)
			return rc;
		flusher_request(c->flusher, &c->flush_node, req->topic, p);
		return 0;                         /* parked */
	}
	return produce_respond(c, c->binary_first, c->binary_count);
}

/* ---- cluster mode: partitions led elsewhere (topic path) ----------------- */

/*
 * Before anything is appended: which partitions of the request are led by
 * another broker (marked remote). A partition with no leader now is 503
 * UNAVAILABLE, and with `Strand-Route: direct` a partition led elsewhere
 * is 421 NOT_LEADER — both before any append, so nothing is stored.
 * Then each remote partition's built batch goes to its leader as a binary
 * produce with the request's acks and timeout_ms.
 */
static int produce_route(produce_ctx_t *c)
{
	api_request_t *req = c->req;
	const char *acks = api_query(req, "acks");
	char url[512], what[320], path[400];
	size_t i, nremote = 0;
	int32_t id = -1;
	int rc;

	if (req->partition >= 0)
		return 0;   /* the partition path: the core relayed it, or it is ours */
	for (i = 0; i < c->nslots; i++) {
		produce_slot_t *s = &c->slots[i];

		rc = api_forward_locate(req, req->topic, s->partition, &id, url, sizeof url);
		snprintf(what, sizeof what, "partition %d of topic %s", (int)s->partition, req->topic);
		if (rc < 0) {
			snprintf(req->err, sizeof req->err, "%s has no leader right now; nothing was "
			         "appended; retry shortly", what);
			return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, req->err, NULL);
		}
		if (rc == 1 && api_forward_is_direct(req))
			return api_forward_not_leader(req, id, url, what);
		if (rc == 1) {
			s->remote = 1;
			s->leader = id;
			s->leader_url = strdup(url);
			if (s->leader_url == NULL)
				return STRAND_ENOMEM;
			nremote++;
		}
	}
	if (nremote == 0)
		return 0;
	rc = forward_set_new(req, &c->fwd);
	for (i = 0; rc == 0 && i < c->nslots; i++) {
		produce_slot_t *s = &c->slots[i];

		if (!s->remote)
			continue;
		snprintf(path, sizeof path, "/v1/topics/%s/partitions/%d/records?acks=%s&timeout_ms=%lld",
		         req->topic, (int)s->partition, acks ? acks : "all", (long long)c->timeout_ms);
		rc = forward_set_call(c->fwd, s->leader, s->leader_url, path,
		                      "application/vnd.strand.batch", s->builder.buf, s->builder.len,
		                      c->timeout_ms, &s->call);
		if (rc == STRAND_EAGAIN)
			rc = 0;   /* kept as a call without an answer: 503 for that partition */
	}
	return rc;
}

/*
 * Once every leader has answered: their first offsets, or the first
 * failure in request order answered as the leader gave it (the request's
 * other partitions may have been appended: atomic per partition only, as
 * on a single node). Then what is local waits for its flush as usual.
 */
static int produce_remote_wait(produce_ctx_t *c)
{
	api_request_t *req = c->req;
	forward_answer_t a;
	const char *at;
	size_t i;
	int rc;

	c->waiting_remote = 1;
	req->on_resume = produce_on_resume;
	rc = forward_set_wait(c->fwd);
	if (rc == 0)
		return 0;   /* parked until the last answer */
	if (rc == STRAND_ECLOSED)
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE,
		                           "shutting down while other brokers appended parts of the "
		                           "request; they may have been appended", NULL);
	if (rc < 0)
		return rc;
	c->waiting_remote = 0;
	for (i = 0; i < c->nslots; i++) {
		produce_slot_t *s = &c->slots[i];

		if (!s->remote)
			continue;
		forward_set_answer(c->fwd, s->call, &a);
		if (a.status == 202 && c->acks == PRODUCE_ACKS_NONE) {
			c->nappended++;
			continue;
		}
		if (a.status != 200)
			return forward_set_relay(c->fwd, s->call);
		at = strstr(a.body, "\"offset\":");
		if (at == NULL)
			return api_respond_problem(req, 500, API_PROBLEM_INTERNAL,
			                           "a leader's produce answer had no offsets", NULL);
		s->first_offset = strtoll(at + strlen("\"offset\":"), NULL, 10);
		c->nappended++;
	}
	return produce_finish(c, 0);
}

static int produce_resume_run(api_request_t *req)
{
	produce_ctx_t *c = req->ctx;

	if (c->waiting_remote)
		return produce_remote_wait(c);
	return produce_finish(c, 1);
}

/* ---- end of body -------------------------------------------------------- */

/*
 * Check a binary body before anything is appended: whole batches back to
 * back, every record within max_message_bytes (key + value + headers).
 * *count gets the number of records. Answers 400/413 itself.
 * Hot path: a batch no larger than max_message_bytes cannot hold a record
 * over it, so only its header is read here; log_append validates every
 * batch (CRC, records) before writing anything, so validating here too
 * would parse each record twice. Larger batches are validated and walked.
 */
static int produce_binary_check(produce_ctx_t *c, int64_t *count)
{
	api_request_t *req = c->req;
	const uint8_t *p = (const uint8_t *)c->body.data;
	size_t pos = 0, len = c->body.len;
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	int rc;

	*count = 0;
	if (len == 0)
		return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST,
		                           "empty body: send one or more record batches", NULL);
	while (pos < len) {
		rc = batch_header_decode(p + pos, len - pos, (size_t)c->cfg.log.max_batch_bytes, &h,
		                         req->err, sizeof req->err);
		if (rc == 0 && batch_total_size(&h) > len - pos)
			rc = STRAND_EAGAIN;
		if (rc == 0 && (int64_t)batch_total_size(&h) <= c->cfg.max_message_bytes) {
			*count += h.record_count;
			pos += batch_total_size(&h);
			continue;
		}
		if (rc == 0)
			rc = batch_validate(p + pos, len - pos, (size_t)c->cfg.log.max_batch_bytes, &h,
			                    req->err, sizeof req->err);
		if (rc) {
			char msg[sizeof req->err + 64];

			if (rc == STRAND_EAGAIN)
				snprintf(msg, sizeof msg, "truncated record batch at byte %zu "
				         "(%zu bytes left)", pos, len - pos);
			else
				snprintf(msg, sizeof msg, "batch at byte %zu: %s", pos, req->err);
			return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, msg, NULL);
		}
		rc = batch_iter_init(&it, p + pos, batch_total_size(&h));
		while (rc == 0 && (rc = batch_iter_next(&it, &rec)) == 1) {
			int64_t size = (int64_t)(rec.key_len > 0 ? rec.key_len : 0) +
			               (rec.value_len > 0 ? rec.value_len : 0) +
			               (int64_t)rec.headers_len;

			if (size > c->cfg.max_message_bytes) {
				snprintf(req->err, sizeof req->err,
				         "record at offset delta %lld of the batch at byte %zu has %lld bytes; "
				         "max_message_bytes is %lld",
				         (long long)(rec.offset - h.base_offset), pos, (long long)size,
				         (long long)c->cfg.max_message_bytes);
				return api_respond_problem(req, 413, API_PROBLEM_RECORD_TOO_LARGE,
				                           req->err, NULL);
			}
			rc = 0;
		}
		if (rc < 0)
			return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST,
			                           "a record batch's records do not parse", NULL);
		*count += h.record_count;
		pos += batch_total_size(&h);
	}
	if (*count == 0)
		return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST,
		                           "the batches hold no records", NULL);
	return 0;
}

static int produce_complete_binary(produce_ctx_t *c)
{
	api_request_t *req = c->req;
	broker_append_info_t info;
	int64_t count;
	int rc;

	rc = produce_binary_check(c, &count);
	if (rc || api_responded(req))
		return rc;
	rc = broker_append(req->broker, c->topic, req->partition, (uint8_t *)c->body.data,
	                   c->body.len, c->acks == PRODUCE_ACKS_ALL ? BROKER_APPEND_ACKS_ALL : 0,
	                   &info, req->err, sizeof req->err);
	if (rc)
		return produce_respond_append_error(req, rc);
	c->nappended = 1;
	if (!info.duplicate)     /* a retry of an idempotent batch: the original's offsets */
		api_metrics_add_records_produced(req->api, (uint64_t)count);
	c->binary_first = info.first_offset;
	c->binary_count = count;
	c->binary_epoch = info.leader_epoch;
	return produce_finish(c, 0);
}

static int produce_complete_run(api_request_t *req)
{
	produce_ctx_t *c = req->ctx;
	broker_append_info_t info;
	size_t i, local = 0;
	int rc;

	if (c->replay || c->idem_ticket != NULL)
		sha256_final(&c->idem_hash, c->idem_fp);
	if (c->replay)
		return produce_replay(c);
	if (c->binary)
		return produce_complete_binary(c);
	rc = records_parser_finish(c->parser, produce_on_record, c, req->err, sizeof req->err);
	if (rc)
		return produce_parse_error(c, rc);
	/* The whole body parsed: only now touch the logs, one batch per partition. */
	for (i = 0; i < c->nslots; i++) {
		rc = batch_builder_finish(&c->slots[i].builder, NULL);
		if (rc)
			return rc;
	}
	/* cluster mode: partitions led elsewhere are sent to their leaders,
	 * while the local ones are appended here */
	rc = produce_route(c);
	if (rc || api_responded(req))
		return rc;
	for (i = 0; i < c->nslots; i++) {
		produce_slot_t *s = &c->slots[i];

		if (s->remote)
			continue;
		rc = broker_append(req->broker, c->topic, s->partition, s->builder.buf,
		                   s->builder.len,
		                   BROKER_APPEND_BUILT |
		                   (c->acks == PRODUCE_ACKS_ALL ? BROKER_APPEND_ACKS_ALL : 0),
		                   &info, req->err,
		                   sizeof req->err);
		if (rc)
			return produce_respond_append_error(req, rc);
		s->first_offset = info.first_offset;
		s->leader_epoch = info.leader_epoch;
		c->nappended++;
		local += (size_t)s->count;
	}
	api_metrics_add_records_produced(req->api, local);   /* the leaders count theirs */
	if (c->fwd != NULL)
		return produce_remote_wait(c);
	return produce_finish(c, 0);
}

/*
 * The request callbacks. A request that ends here without a stored answer
 * (an error answered, or a code the core will answer) settles its
 * Idempotency-Key before the answer can leave: a client retrying at once
 * must find the key free, not still in progress.
 */
static int produce_idem_settle(api_request_t *req, int rc)
{
	produce_ctx_t *c = req->ctx;

	if (c->idem_ticket != NULL && (rc < 0 || api_responded(req)))
		produce_idem_abandon(c);
	return rc;
}

static int produce_on_body(api_request_t *req, const char *data, size_t len)
{
	return produce_idem_settle(req, produce_body_run(req, data, len));
}

static int produce_on_complete(api_request_t *req)
{
	return produce_idem_settle(req, produce_complete_run(req));
}

static int produce_on_resume(api_request_t *req)
{
	return produce_idem_settle(req, produce_resume_run(req));
}

/* ---- the handler -------------------------------------------------------- */

static int produce_content_kind(api_request_t *req, int *binary, records_body_kind_t *kind)
{
	*binary = 0;
	if (api_content_type_is(req, "application/json"))
		*kind = RECORDS_BODY_JSON;
	else if (api_content_type_is(req, "application/x-ndjson"))
		*kind = RECORDS_BODY_NDJSON;
	else if (api_content_type_is(req, "application/vnd.strand.batch") && req->partition >= 0)
		*binary = 1;
	else if (api_content_type_is(req, "application/vnd.strand.batch"))
		return api_respond_problem(req, 415, API_PROBLEM_UNSUPPORTED_MEDIA_TYPE,
		                           "binary batches go to /v1/topics/{topic}/partitions/{p}/records",
		                           NULL);
	else
		return api_respond_problem(req, 415, API_PROBLEM_UNSUPPORTED_MEDIA_TYPE,
		                           req->partition >= 0
		                           ? "Content-Type must be application/json, application/x-ndjson "
		                             "or application/vnd.strand.batch"
		                           : "Content-Type must be application/json or application/x-ndjson",
		                           NULL);
	return 0;
}

int api_produce_records(api_request_t *req)
{
	static const char *const acks_choices[] = { "0", "1", "all", NULL };
	records_body_kind_t kind = RECORDS_BODY_JSON;
	records_limits_t limits;
	produce_ctx_t *c;
	int64_t timeout_ms;
	int acks, binary, rc;

	if (broker_topic_is_internal(req->topic))
		return api_respond_problem(req, 403, API_PROBLEM_FORBIDDEN, "topic "
		                           BROKER_OFFSETS_TOPIC " is internal: only the group "
		                           "coordinators write to it (commit offsets through "
		                           "/v1/groups/{group}/offsets)", NULL);
	rc = api_query_choice(req, "acks", acks_choices, PRODUCE_ACKS_ALL, &acks);
	if (rc)
		return rc;
	/* Single node: acks=all waits only for the local fsync (group commit),
	 * answered 503 REQUEST_TIMED_OUT when that takes over timeout_ms. */
	rc = api_query_int64(req, "timeout_ms", PRODUCE_DEFAULT_TIMEOUT_MS, 0,
	                     PRODUCE_MAX_TIMEOUT_MS, &timeout_ms);
	if (rc)
		return rc;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return STRAND_ENOMEM;
	req->ctx = c;
	req->on_cleanup = produce_cleanup;
	c->req = req;
	c->acks = acks;
	c->timeout_ms = timeout_ms;
	if (acks == PRODUCE_ACKS_ALL) {
		c->flusher = api_flush_state(req->api);
		parking_waiter_init(&c->waiter);
		c->deadline_ms = parking_now_ms() + timeout_ms;
		req->on_resume = produce_on_resume;
	}
	c->topic = broker_topic_get(req->broker, req->topic);
	if (c->topic == NULL)
		return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_TOPIC, NULL, NULL);
	c->npartitions = topic_partition_count(c->topic);
	if (req->partition >= c->npartitions) {
		snprintf(req->err, sizeof req->err, "topic %s has no partition %d (it has %d)",
		         req->topic, (int)req->partition, (int)c->npartitions);
		return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_PARTITION, req->err, NULL);
	}
	rc = produce_content_kind(req, &binary, &kind);
	if (rc || api_responded(req))
		return rc;
	if (!binary && (api_query(req, "producer_id") != NULL ||
	                api_query(req, "producer_epoch") != NULL ||
	                api_query(req, "base_sequence") != NULL))
		return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST,
		                           "producer_id, producer_epoch and base_sequence travel in "
		                           "binary batch headers (application/vnd.strand.batch); "
		                           "retry JSON and NDJSON produce safely with an "
		                           "Idempotency-Key header", NULL);
	c->binary = binary;
	if (binary && api_header(req, "Content-Length") != NULL) {
		/* The core checked the length against the route's cap: take the
		 * body's memory at once instead of regrowing it chunk by chunk. */
		unsigned long long n = strtoull(api_header(req, "Content-Length"), NULL, 10);

		if (n > 0 && buf_reserve(&c->body, (size_t)n) != 0)
			return STRAND_ENOMEM;
	}
	topic_get_config(c->topic, &c->cfg);
	c->now_ms = produce_wall_ms();
	c->sticky = (int32_t)(atomic_fetch_add_explicit(&produce_sticky_counter, 1,
	                                                memory_order_relaxed) %
	                      (unsigned)c->npartitions);
	if (!binary) {
		c->slot_of = calloc((size_t)c->npartitions, sizeof *c->slot_of);
		if (c->slot_of == NULL)
			return STRAND_ENOMEM;
		memset(&limits, 0, sizeof limits);
		limits.max_record_bytes = (size_t)c->cfg.max_message_bytes;
		limits.max_records = api_options(req->api)->max_records_per_request;
		rc = records_parser_new(kind, c->cfg.key_format, c->cfg.value_format, &limits,
		                        &c->parser);
		if (rc)
			return rc;
	}
	rc = produce_idem_begin(c);
	if (rc || api_responded(req))
		return rc;
	req->on_body = produce_on_body;
	req->on_complete = produce_on_complete;
	return 0;
}

/* ---- POST /v1/producers ------------------------------------------------- */

/* {"producer_id","producer_epoch"}: a new idempotent producer (KIP-98). */
int api_producers_create(api_request_t *req)
{
	cJSON *doc;
	int64_t id;
	int16_t epoch;
	int rc;

	rc = broker_producer_new(req->broker, &id, &epoch, req->err, sizeof req->err);
	if (rc)
		return rc;
	doc = cJSON_CreateObject();
	if (doc == NULL || cJSON_AddNumberToObject(doc, "producer_id", (double)id) == NULL ||
	    cJSON_AddNumberToObject(doc, "producer_epoch", epoch) == NULL) {
		cJSON_Delete(doc);
		return STRAND_ENOMEM;
	}
	return api_respond_json(req, 200, doc);
}
