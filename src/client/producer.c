/*
 * producer.c — strand_producer: Kafka's producer machinery over HTTP
 * (issue #5 item 4; docs/CLIENT.md tells the story for users).
 *
 *   strand_produce ──copy──▶ partition's open batch ──close──▶ partition queue
 *        (caller thread)       (batch.size / linger.ms)            │
 *                                                        sender thread, libcurl multi
 *                                                                  ▼
 *                        POST /v1/topics/T/partitions/P/records (RecordBatch v2)
 *                                                                  │
 *             callbacks, once per record ◀── acknowledged / failed for good
 *
 * Memory: every record's bytes are encoded straight into its batch's
 * batch_builder (the engine's encoder, src/log/batch.c), and the sum of
 * those buffers is bounded by buffer.memory; strand_produce waits up to
 * max.block.ms for room. Batch objects (with their buffers, record arrays
 * and curl handles) are recycled through a free list, so a steady stream
 * of records allocates nothing.
 *
 * Ordering and retries: per partition at most max.in.flight requests are
 * in flight. A retriable failure puts the batch back into the queue in
 * sequence order and stops new sends on that partition until everything
 * in flight has come back; then the queue is sent again from its head.
 * With enable.idempotence the broker deduplicates what had already been
 * appended (Kafka's producer id, epoch and per-partition sequence), so a
 * retry neither duplicates nor reorders. A batch is retried while
 * retries and delivery.timeout.ms allow, and then fails.
 *
 * Locking: one mutex (p->lock) guards all producer state. It is never held
 * across I/O (metadata and producer-id requests, curl_multi_poll) nor while
 * a callback runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker.h"
#include "client/conf.h"
#include "client/error.h"
#include "client/message.h"
#include "client/producer_internal.h"
#include "client/transport.h"
#include "common/clock.h"
#include "common/err.h"
#include "log/batch.h"

/* bytes a record adds to a batch beyond key and value: varints of the
 * record length, offset/timestamp deltas, key/value lengths, header count,
 * and the attributes byte (at most) */
#define RECORD_OVERHEAD_MAX 32
/* what a batch costs before its first record: its header and its object */
#define BATCH_OVERHEAD (BATCH_HEADER_SIZE + sizeof(pbatch_t))

static int64_t now_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* absolute CLOCK_MONOTONIC deadline for pthread_cond_timedwait */
static void deadline_ts(struct timespec *ts, int64_t ms_from_now)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms_from_now / 1000;
	ts->tv_nsec += (ms_from_now % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* ---- batches ------------------------------------------------------------ */

static pbatch_t *pbatch_get(strand_producer *p, ppart_t *part)
{
	pbatch_t *b = p->free_batches;

	if (b) {
		p->free_batches = b->next;
	} else {
		if (!(b = calloc(1, sizeof *b)))
			return NULL;
		batch_builder_init(&b->builder);
	}
	batch_builder_reset(&b->builder);
	if (batch_builder_begin(&b->builder, -1, -1, -1)) {
		b->next = p->free_batches;
		p->free_batches = b;
		return NULL;
	}
	b->next = NULL;
	b->next_sent = NULL;
	b->on_sent_list = b->queued = b->in_multi = 0;
	b->part = part;
	b->nrecs = 0;
	b->bytes = 0;
	b->created_ms = clock_now_ms();
	b->deadline_ms = b->created_ms + p->conf->delivery_timeout_ms;
	b->retry_at_ms = 0;
	b->attempts = 0;
	b->oos_answers = 0;
	b->finished = 0;
	b->base_sequence = -1;
	b->producer_id = -1;
	b->producer_epoch = -1;
	b->err = 0;
	b->errstr[0] = '\0';
	b->base_offset = -1;
	return b;
}

static void pbatch_put(strand_producer *p, pbatch_t *b)
{
	b->next = p->free_batches;
	p->free_batches = b;
}

static void pbatch_free(pbatch_t *b)
{
	batch_builder_free(&b->builder);
	transport_req_free(&b->req);
	free(b->recs);
	free(b);
}

/* Append b to the partition's send queue, in send order for batches that
 * were sent before (retries), at the tail otherwise. */
static void queue_insert(ppart_t *part, pbatch_t *b)
{
	pbatch_t **pp = &part->qhead;

	if (b->finished)
		while (*pp && (*pp)->finished && (*pp)->order < b->order)
			pp = &(*pp)->next;
	else
		while (*pp)
			pp = &(*pp)->next;
	b->next = *pp;
	*pp = b;
	b->queued = 1;
}

/* Close the partition's open batch: it will be sent as it is. */
static void part_close_open(strand_producer *p, ppart_t *part)
{
	pbatch_t *b = part->open;

	if (!b)
		return;
	part->open = NULL;
	queue_insert(part, b);
	if (part->topic->sticky == part->id)       /* KIP-480: next keyless batch elsewhere */
		part->topic->sticky = -1;
}

/* ---- metadata ------------------------------------------------------------ */

static ptopic_t *topic_find(strand_producer *p, const char *name)
{
	for (ptopic_t *t = p->topics; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/*
 * GET /v1/cluster into *doc (caller frees; NULL on failure), and the
 * number of brokers it lists into p->cluster_brokers. meta_lock held.
 */
static int cluster_fetch(strand_producer *p, cJSON **doc)
{
	char err[256];
	int rc, n;

	rc = transport_get_cluster(p->tr, &p->meta_req,
	                           p->conf->max_block_ms > 0 ? (long)p->conf->max_block_ms : 1,
	                           doc, &n, err, sizeof err);
	if (rc == 0 && n > 0)
		atomic_store(&p->cluster_brokers, n);
	return rc;
}

/*
 * Cluster mode: each partition's leader URL into urls[partition] (GET
 * /v1/topics/{t} names leaders by id, GET /v1/cluster gives their URLs),
 * so that batches go straight to the leader instead of being relayed by
 * the bootstrap broker (docs/REPLICATION.md "Forwarding"). Only with two
 * brokers or more: a single broker's advertised URL need not be the
 * address this client reaches it by. Best effort: a URL left NULL means
 * the bootstrap broker. meta_lock held.
 */
static void topic_fetch_leaders(strand_producer *p, const cJSON *parts, int32_t n, char **urls)
{
	const cJSON *part, *b, *brokers, *leader, *idx, *id, *url;
	cJSON *doc = NULL;

	if (cluster_fetch(p, &doc) != 0) {
		cJSON_Delete(doc);
		return;
	}
	brokers = cJSON_GetObjectItemCaseSensitive(doc, "brokers");
	if (cJSON_GetArraySize(brokers) >= 2) {
		cJSON_ArrayForEach(part, parts) {
			leader = cJSON_GetObjectItemCaseSensitive(part, "leader");
			idx = cJSON_GetObjectItemCaseSensitive(part, "partition");
			if (!cJSON_IsNumber(leader) || !cJSON_IsNumber(idx) || idx->valuedouble < 0 ||
			    idx->valuedouble >= n || urls[(int32_t)idx->valuedouble] != NULL)
				continue;
			cJSON_ArrayForEach(b, brokers) {
				id = cJSON_GetObjectItemCaseSensitive(b, "id");
				url = cJSON_GetObjectItemCaseSensitive(b, "url");
				if (cJSON_IsNumber(id) && id->valuedouble == leader->valuedouble &&
				    cJSON_IsString(url))
					urls[(int32_t)idx->valuedouble] = strdup(url->valuestring);
			}
		}
	}
	cJSON_Delete(doc);
}

/* ---- the retry rule (producer_internal.h) ------------------------------------ */

int producer_err_retriable(strand_producer *p, int rc, int64_t since_ms, int64_t now, int block)
{
	if (strand_err_is_retriable(rc))
		return 1;
	if (rc != STRAND_ERR_UNKNOWN_TOPIC ||
	    now - since_ms >= p->conf->topic_metadata_propagation_max_ms)
		return 0;
	if (atomic_load(&p->cluster_brokers) == 0 && block) {
		cJSON *doc = NULL;
		pthread_mutex_lock(&p->meta_lock);
		cluster_fetch(p, &doc);
		pthread_mutex_unlock(&p->meta_lock);
		cJSON_Delete(doc);
	}
	/* not known (GET /v1/cluster refused): perhaps a cluster, so wait */
	return atomic_load(&p->cluster_brokers) != 1;
}

int producer_retry_bound(const strand_producer *p, int rc, int attempts, int64_t deadline_ms,
                         int64_t now, char *errbuf, size_t errlen)
{
	size_t n;

	if (attempts <= p->conf->retries && now + p->conf->retry_backoff_ms < deadline_ms)
		return 0;
	if (errbuf && errlen && (n = strlen(errbuf)) < errlen)
		snprintf(errbuf + n, errlen - n, " (gave up after %d attempts)", attempts);
	return attempts > p->conf->retries ? rc : STRAND_ERR_MSG_TIMED_OUT;
}

void producer_explain_unknown_topic(const strand_producer *p, int64_t since_ms, int64_t now,
                                    char *errbuf, size_t errlen)
{
	size_t n;

	if (atomic_load(&p->cluster_brokers) == 1 || !errbuf || (n = strlen(errbuf)) >= errlen)
		return;
	snprintf(errbuf + n, errlen - n,
	         " (still unknown %" PRId64 " ms after the record was produced; "
	         "topic.metadata.propagation.max.ms is %" PRId64 ")",
	         now - since_ms, p->conf->topic_metadata_propagation_max_ms);
}

/* ---- metadata: a topic's partitions ---------------------------------------- */

/*
 * GET /v1/topics/{name} into *doc, tried again by the producer's retry
 * rule (a topic just created on another broker of a cluster is waited
 * for) within max.block.ms; p->lock not held. Returns 0, or the last
 * error (STRAND_ERR_DESTROYED when the producer closes meanwhile).
 */
static int topic_fetch_doc(strand_producer *p, const char *name, cJSON **doc,
                           char *errbuf, size_t errlen)
{
	int64_t start = clock_now_ms(), deadline = start + p->conf->max_block_ms, now;
	char path[300];
	int rc, attempts = 0, closing;

	snprintf(path, sizeof path, "/v1/topics/%s", name);
	for (;;) {
		now = clock_now_ms();
		pthread_mutex_lock(&p->meta_lock);
		rc = transport_call(p->tr, &p->meta_req, "GET", path, NULL,
		                    deadline - now > 1 ? (long)(deadline - now) : 1,
		                    doc, errbuf, errlen);
		pthread_mutex_unlock(&p->meta_lock);
		attempts++;
		if (rc == 0)
			return 0;
		now = clock_now_ms();
		if (!producer_err_retriable(p, rc, start, now, 1)) {
			if (rc == STRAND_ERR_UNKNOWN_TOPIC)
				producer_explain_unknown_topic(p, start, now, errbuf, errlen);
			return rc;
		}
		if (producer_retry_bound(p, rc, attempts, deadline, now, errbuf, errlen))
			return rc;   /* the cause, not MSG_TIMED_OUT: no record was queued */
		clock_sleep_ms(p->conf->retry_backoff_ms);
		pthread_mutex_lock(&p->lock);
		closing = p->closing;
		pthread_mutex_unlock(&p->lock);
		if (closing)
			return STRAND_ERR_DESTROYED;
	}
}

/*
 * The topic's partition count from GET /v1/topics/{t} (blocking; p->lock
 * not held), and its partitions' leaders: *urls (n entries, each NULL or
 * a leader's URL; caller frees) as topic_fetch_leaders. Returns 0 with *n
 * set, or an error.
 */
static int topic_fetch_partitions(strand_producer *p, const char *name, int32_t *n,
                                  char ***urls, char *errbuf, size_t errlen)
{
	cJSON *doc = NULL, *parts;
	int rc;

	*urls = NULL;
	if ((rc = topic_fetch_doc(p, name, &doc, errbuf, errlen)))
		goto out;
	parts = cJSON_GetObjectItemCaseSensitive(doc, "partitions");
	if (!cJSON_IsArray(parts) || cJSON_GetArraySize(parts) < 1) {
		snprintf(errbuf, errlen, "GET /v1/topics/%.200s: no partitions array in the answer", name);
		rc = STRAND_ERR_BAD_RESPONSE;
		goto out;
	}
	*n = cJSON_GetArraySize(parts);
	*urls = calloc((size_t)*n, sizeof **urls);
	if (*urls == NULL) {
		rc = STRAND_ERR_NO_MEMORY;
		goto out;
	}
	pthread_mutex_lock(&p->meta_lock);
	topic_fetch_leaders(p, parts, *n, *urls);
	pthread_mutex_unlock(&p->meta_lock);
out:
	cJSON_Delete(doc);
	return rc;
}

static void leader_urls_free(char **urls, int32_t n)
{
	for (int32_t i = 0; urls != NULL && i < n; i++)
		free(urls[i]);
	free(urls);
}

/* Find or learn the topic. Called and returns with p->lock held; drops it
 * while asking the broker. */
static int topic_get(strand_producer *p, const char *name, ptopic_t **out,
                     char *errbuf, size_t errlen)
{
	ptopic_t *t;
	char **urls = NULL;
	int32_t n = 0;
	int rc;

	if ((t = topic_find(p, name))) {
		*out = t;
		return 0;
	}
	pthread_mutex_unlock(&p->lock);
	rc = topic_fetch_partitions(p, name, &n, &urls, errbuf, errlen);
	pthread_mutex_lock(&p->lock);
	if (rc) {
		leader_urls_free(urls, n);
		return rc;
	}
	if ((t = topic_find(p, name))) {     /* another thread learnt it meanwhile */
		leader_urls_free(urls, n);
		*out = t;
		return 0;
	}
	if (!(t = calloc(1, sizeof *t)) || !(t->name = strdup(name)) ||
	    !(t->parts = calloc((size_t)n, sizeof *t->parts))) {
		if (t)
			free(t->name);
		free(t);
		leader_urls_free(urls, n);
		return STRAND_ERR_NO_MEMORY;
	}
	t->nparts = n;
	t->sticky = -1;
	for (int32_t i = 0; i < n; i++) {
		t->parts[i].topic = t;
		t->parts[i].id = i;
		t->parts[i].leader_url = urls[i];   /* taken */
	}
	free(urls);
	t->next = p->topics;
	p->topics = t;
	*out = t;
	return 0;
}

/* ---- produce (caller threads) --------------------------------------------- */

static int32_t choose_partition(strand_producer *p, ptopic_t *t, int32_t partition,
                                const void *key, size_t key_len)
{
	if (partition >= 0)
		return partition;
	if (key)
		return broker_partition_for_key(key, key_len, t->nparts);
	if (t->sticky < 0)
		t->sticky = (int32_t)(p->round_robin++ % (uint32_t)t->nparts);
	return t->sticky;
}

static void sender_wake(strand_producer *p)
{
	curl_multi_wakeup(p->multi);
}

int strand_produce(strand_producer *p, const char *topic, int32_t partition,
                   const void *key, size_t key_len, const void *value, size_t value_len,
                   strand_delivery_cb *cb, void *opaque)
{
	char errbuf[256];
	ptopic_t *t;
	ppart_t *part;
	pbatch_t *b;
	size_t need, before;
	int rc = 0, wake = 0, sticky;

	if (!p || !topic || !transport_name_ok(topic) || partition < STRAND_PARTITION_ANY ||
	    key_len > INT32_MAX || value_len > INT32_MAX ||
	    (!key && key_len) || (!value && value_len))
		return STRAND_ERR_INVALID_ARG;
	need = key_len + value_len + RECORD_OVERHEAD_MAX;
	if (need + BATCH_OVERHEAD > (size_t)p->conf->buffer_memory)
		return STRAND_ERR_RECORD_TOO_LARGE;

	/* hot path: one lock, a copy into the open batch, no allocation once warm */
	pthread_mutex_lock(&p->lock);
	if (p->closing) {
		rc = STRAND_ERR_DESTROYED;
		goto out;
	}
	if ((rc = topic_get(p, topic, &t, errbuf, sizeof errbuf)))
		goto out;
	if (partition >= t->nparts) {
		rc = STRAND_ERR_UNKNOWN_PARTITION;
		goto out;
	}
	sticky = partition == STRAND_PARTITION_ANY && !key;
	partition = choose_partition(p, t, partition, key, key_len);
	part = &t->parts[partition];

	/* room in buffer.memory, waiting up to max.block.ms */
	if (p->used_bytes + need + BATCH_OVERHEAD > (size_t)p->conf->buffer_memory) {
		struct timespec until;
		deadline_ts(&until, p->conf->max_block_ms);
		while (p->used_bytes + need + BATCH_OVERHEAD > (size_t)p->conf->buffer_memory &&
		       !p->closing)
			if (pthread_cond_timedwait(&p->space_cv, &p->lock, &until) == ETIMEDOUT)
				break;
		if (p->closing) {
			rc = STRAND_ERR_DESTROYED;
			goto out;
		}
		if (p->used_bytes + need + BATCH_OVERHEAD > (size_t)p->conf->buffer_memory) {
			rc = STRAND_ERR_QUEUE_FULL;
			goto out;
		}
	}

	b = part->open;
	if (b && b->nrecs > 0 &&
	    batch_builder_pending_size(&b->builder) + need > (size_t)p->conf->batch_size) {
		part_close_open(p, part);
		wake = 1;
		if (sticky && t->sticky < 0 && t->nparts > 1) {
			/* a keyless record follows the sticky choice to its next partition */
			partition = choose_partition(p, t, STRAND_PARTITION_ANY, NULL, 0);
			part = &t->parts[partition];
		}
		b = part->open;
		if (b && b->nrecs > 0 &&
		    batch_builder_pending_size(&b->builder) + need > (size_t)p->conf->batch_size)
			part_close_open(p, part);
		b = part->open;
	}
	if (!b) {
		if (!(b = pbatch_get(p, part))) {
			rc = STRAND_ERR_NO_MEMORY;
			goto out;
		}
		part->open = b;
		/* the batch object counts too: buffer.memory bounds the real use */
		b->bytes = batch_builder_pending_size(&b->builder) + sizeof *b;
		p->used_bytes += b->bytes;
		if (p->conf->linger_ms == 0 || p->flushing)
			wake = 1;
	}
	if (b->nrecs == b->caprecs) {
		int32_t cap = b->caprecs ? b->caprecs * 2 : 64;
		precord_t *r = realloc(b->recs, (size_t)cap * sizeof *r);
		if (!r) {
			rc = STRAND_ERR_NO_MEMORY;
			goto out;
		}
		b->recs = r;
		b->caprecs = cap;
	}
	before = batch_builder_pending_size(&b->builder);
	rc = batch_builder_add(&b->builder, now_wall_ms(), key, key ? (int32_t)key_len : -1,
	                       value, value ? (int32_t)value_len : -1, NULL, 0);
	if (rc) {
		rc = rc == STRAND_ENOMEM ? STRAND_ERR_NO_MEMORY : STRAND_ERR_RECORD_TOO_LARGE;
		goto out;
	}
	b->recs[b->nrecs].cb = cb;
	b->recs[b->nrecs].opaque = opaque;
	b->nrecs++;
	b->bytes += batch_builder_pending_size(&b->builder) - before;
	p->used_bytes += batch_builder_pending_size(&b->builder) - before;
	p->outq++;
	if (batch_builder_pending_size(&b->builder) >= (size_t)p->conf->batch_size) {
		part_close_open(p, part);
		wake = 1;
	}
out:
	pthread_mutex_unlock(&p->lock);
	if (wake)
		sender_wake(p);
	return rc;
}

/* ---- produce_sync ---------------------------------------------------------- */

/* Shared by the waiting caller and the callback; the last one frees it. */
typedef struct sync_wait {
	int     refs;          /* under p->lock */
	int     done, err;
	int32_t partition;
	int64_t offset;
	strand_producer *p;
} sync_wait_t;

static void sync_on_delivery(const strand_message *m, void *opaque)
{
	sync_wait_t *w = opaque;
	strand_producer *p = w->p;

	pthread_mutex_lock(&p->lock);
	w->done = 1;
	w->err = m->err;
	w->partition = m->partition;
	w->offset = m->offset;
	if (--w->refs == 0)
		free(w);
	pthread_cond_broadcast(&p->done_cv);
	pthread_mutex_unlock(&p->lock);
}

int strand_produce_sync(strand_producer *p, const char *topic, int32_t partition,
                        const void *key, size_t key_len, const void *value, size_t value_len,
                        int32_t *partition_out, int64_t *offset_out, int timeout_ms)
{
	sync_wait_t *w;
	struct timespec until;
	int rc;

	if (!p)
		return STRAND_ERR_INVALID_ARG;
	if (!(w = calloc(1, sizeof *w)))
		return STRAND_ERR_NO_MEMORY;
	w->refs = 2;
	w->p = p;
	rc = strand_produce(p, topic, partition, key, key_len, value, value_len,
	                    sync_on_delivery, w);
	if (rc) {
		free(w);
		return rc;
	}
	sender_wake(p);     /* the caller waits: do not let linger.ms hold the batch */
	pthread_mutex_lock(&p->lock);
	p->flushing++;
	if (timeout_ms >= 0)
		deadline_ts(&until, timeout_ms);
	while (!w->done) {
		if (timeout_ms < 0)
			pthread_cond_wait(&p->done_cv, &p->lock);
		else if (pthread_cond_timedwait(&p->done_cv, &p->lock, &until) == ETIMEDOUT)
			break;
	}
	p->flushing--;
	rc = w->done ? w->err : STRAND_ERR_TIMED_OUT;
	if (w->done) {
		if (partition_out)
			*partition_out = w->partition;
		if (offset_out)
			*offset_out = w->offset;
	}
	if (--w->refs == 0)
		free(w);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int strand_flush(strand_producer *p, int timeout_ms)
{
	struct timespec until;
	int rc = 0;

	if (!p)
		return STRAND_ERR_INVALID_ARG;
	pthread_mutex_lock(&p->lock);
	p->flushing++;
	pthread_mutex_unlock(&p->lock);
	sender_wake(p);
	pthread_mutex_lock(&p->lock);
	if (timeout_ms >= 0)
		deadline_ts(&until, timeout_ms);
	while (p->outq > 0) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&p->done_cv, &p->lock);
		} else if (pthread_cond_timedwait(&p->done_cv, &p->lock, &until) == ETIMEDOUT) {
			rc = p->outq > 0 ? STRAND_ERR_TIMED_OUT : 0;
			break;
		}
	}
	p->flushing--;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

size_t strand_producer_outq_len(strand_producer *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->outq;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* ---- create / destroy --------------------------------------------------------- */

strand_producer *strand_producer_new(const strand_conf *conf, char *errbuf, size_t errlen)
{
	strand_producer *p;
	pthread_condattr_t ca;

	if (!conf) {
		snprintf(errbuf ? errbuf : (char[1]){0}, errbuf ? errlen : 1, "conf is NULL");
		return NULL;
	}
	if (conf_check_producer(conf, errbuf, errlen))
		return NULL;
	if (!(p = calloc(1, sizeof *p)))
		goto nomem;
	p->pid = -1;
	p->epoch = -1;
	if (!(p->conf = strand_conf_dup(conf)))
		goto nomem;
	if (transport_new(p->conf, &p->tr, errbuf, errlen))
		goto fail;
	if (transport_req_init(p->tr, &p->meta_req) || !(p->multi = curl_multi_init()))
		goto nomem;
	if (p->conf->dead_letter_path &&
	    deadletter_open(p->conf->dead_letter_path, &p->dead_letter, errbuf, errlen))
		goto fail;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->meta_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->space_cv, &ca);
	pthread_cond_init(&p->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	p->locks_ready = 1;
	if (pthread_create(&p->sender, NULL, producer_sender_main, p)) {
		snprintf(errbuf ? errbuf : (char[1]){0}, errbuf ? errlen : 1,
		         "cannot start the sender thread");
		goto fail;
	}
	p->sender_started = 1;
	return p;
nomem:
	snprintf(errbuf ? errbuf : (char[1]){0}, errbuf ? errlen : 1, "out of memory");
fail:
	strand_producer_destroy(p);
	return NULL;
}

void strand_producer_destroy(strand_producer *p)
{
	if (!p)
		return;
	if (p->sender_started) {
		strand_flush(p, (int)p->conf->delivery_timeout_ms);
		pthread_mutex_lock(&p->lock);
		p->closing = 1;
		pthread_cond_broadcast(&p->space_cv);
		pthread_mutex_unlock(&p->lock);
		sender_wake(p);
		pthread_join(p->sender, NULL);
	}
	for (ptopic_t *t = p->topics, *next; t; t = next) {
		next = t->next;
		for (int32_t i = 0; i < t->nparts; i++)
			free(t->parts[i].leader_url);
		free(t->parts);
		free(t->name);
		free(t);
	}
	for (pbatch_t *b = p->free_batches, *next; b; b = next) {
		next = b->next;
		pbatch_free(b);
	}
	if (p->multi)
		curl_multi_cleanup(p->multi);
	transport_req_free(&p->meta_req);
	transport_destroy(p->tr);
	deadletter_close(p->dead_letter);
	if (p->locks_ready) {
		pthread_mutex_destroy(&p->lock);
		pthread_mutex_destroy(&p->meta_lock);
		pthread_cond_destroy(&p->space_cv);
		pthread_cond_destroy(&p->done_cv);
	}
	strand_conf_destroy(p->conf);
	free(p);
}

/* exported for the sender (producer_internal.h) */
void producer_batch_recycle(strand_producer *p, pbatch_t *b)
{
	pbatch_put(p, b);
}

pbatch_t *producer_batch_new(strand_producer *p, ppart_t *part)
{
	return pbatch_get(p, part);
}

void producer_queue_insert(ppart_t *part, pbatch_t *b)
{
	queue_insert(part, b);
}

void producer_close_open(strand_producer *p, ppart_t *part)
{
	part_close_open(p, part);
}
