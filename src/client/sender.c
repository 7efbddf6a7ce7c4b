/*
 * sender.c — the producer's sender thread (producer.c has the overview).
 *
 * One loop: close batches that are full or have lingered, send queued
 * batches while each partition has fewer than max.in.flight requests out,
 * wait in curl_multi_poll until an answer, a deadline or a wake-up
 * (curl_multi_wakeup from strand_produce/flush/destroy), then handle the
 * answers: acknowledged, retried with backoff, or failed for good; and run
 * the callbacks of finished batches with the lock released.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conf.h"
#include "client/error.h"
#include "client/message.h"
#include "client/producer_internal.h"
#include "common/clock.h"

#define SENDER_MAX_WAIT_MS 1000

typedef struct done_list {
	pbatch_t *head, **tail;
} done_list_t;

static void done_push(done_list_t *d, pbatch_t *b, int err)
{
	b->err = err;
	b->next = NULL;
	*d->tail = b;
	d->tail = &b->next;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static void part_pop_answered(ppart_t *part, done_list_t *done);
static int part_acked_after(const ppart_t *part, const pbatch_t *b);

/*
 * b has its final outcome. Answers on parallel connections come back in
 * any order, but callbacks run in the partition's send order: a batch
 * that was sent waits in the sent list until every batch sent before it
 * has its outcome (a batch being retried keeps its place there).
 */
static void sender_complete(strand_producer *p, ppart_t *part, pbatch_t *b, int err,
                            done_list_t *done)
{
	b->err = err;
	b->answered = 1;
	if (!b->on_sent_list) {
		done_push(done, b, err);
		return;
	}
	/* a sent batch that fails for good leaves a hole in the sequences: the
	 * next ones would get OUT_OF_ORDER_SEQUENCE, so bump the epoch first */
	if (err && b->producer_id >= 0)
		p->need_bump = 1;
	part_pop_answered(part, done);
}

/* ---- the producer id (enable.idempotence) ---------------------------------- */

/*
 * Ask the broker for a producer id (POST /v1/producers) with p->lock
 * released. Returns 0, or an error with words in errbuf.
 */
static int sender_fetch_pid(strand_producer *p, char *errbuf, size_t errlen)
{
	cJSON *doc = NULL, *id, *epoch;
	int rc;

	pthread_mutex_unlock(&p->lock);
	pthread_mutex_lock(&p->meta_lock);
	rc = transport_call(p->tr, &p->meta_req, "POST", "/v1/producers", "{}",
	                     (long)p->conf->request_timeout_ms, &doc, errbuf, errlen);
	pthread_mutex_unlock(&p->meta_lock);
	pthread_mutex_lock(&p->lock);
	if (rc)
		goto out;
	id = cJSON_GetObjectItemCaseSensitive(doc, "producer_id");
	epoch = cJSON_GetObjectItemCaseSensitive(doc, "producer_epoch");
	if (!cJSON_IsNumber(id) || !cJSON_IsNumber(epoch) || id->valuedouble < 0) {
		snprintf(errbuf, errlen, "POST /v1/producers: no producer_id/producer_epoch in the answer");
		rc = STRAND_ERR_BAD_RESPONSE;
		goto out;
	}
	p->pid = (int64_t)id->valuedouble;
	p->epoch = (int16_t)epoch->valueint;
out:
	cJSON_Delete(doc);
	return rc;
}

/* ---- sending ---------------------------------------------------------------- */

/* The lowest sequence of this partition still unacknowledged, INT32_MAX if none. */
static int32_t part_lowest_unacked(const ppart_t *part)
{
	int32_t low = INT32_MAX;

	for (const pbatch_t *b = part->sent; b; b = b->next_sent)
		if (!b->answered) {
			low = b->base_sequence;
			break;
		}
	if (part->qhead && part->qhead->finished && part->qhead->base_sequence < low)
		low = part->qhead->base_sequence;
	return low;
}

/*
 * Fix the batch's bytes before its first send, and stamp the producer id,
 * epoch and sequence: once, so that every retry sends the very same batch;
 * again only after an epoch bump (KIP-360), when every unacknowledged batch
 * gets the new epoch and sequences from 0 in send order.
 */
static void sender_stamp(strand_producer *p, pbatch_t *b)
{
	ppart_t *part = b->part;
	int idem = p->conf->enable_idempotence && p->pid >= 0;

	if (!b->finished) {
		b->order = part->next_order++;
		batch_builder_finish(&b->builder, &b->size);
		b->finished = 1;
		b->producer_id = -1;
		b->producer_epoch = -1;
	}
	if (idem && (b->producer_id != p->pid || b->producer_epoch != p->epoch)) {
		b->producer_id = p->pid;
		b->producer_epoch = p->epoch;
		b->base_sequence = part->next_seq;
		batch_set_producer(b->builder.buf, b->size, p->pid, p->epoch, part->next_seq);
		/* Kafka wraps sequences at INT32_MAX */
		part->next_seq = (int32_t)(((int64_t)part->next_seq + b->nrecs) % INT32_MAX);
	}
}

static int sender_launch(strand_producer *p, pbatch_t *b)
{
	ppart_t *part = b->part;
	char path[400];
	int rc;

	sender_stamp(p, b);
	if (!b->req.easy && (rc = transport_req_init(p->tr, &b->req)))
		return rc;
	snprintf(path, sizeof path, "/v1/topics/%s/partitions/%" PRId32 "/records?acks=%s&timeout_ms=%" PRId64,
	         part->topic->name, part->id,
	         p->conf->acks == CONF_ACKS_ALL ? "all" : p->conf->acks == CONF_ACKS_LEADER ? "1" : "0",
	         p->conf->request_timeout_ms);
	/* to the partition's leader when the metadata named one (else the
	 * bootstrap broker relays it) */
	if ((rc = transport_req_prepare_at(p->tr, &b->req,
	                                   part->leader_url ? part->leader_url : transport_broker(p->tr),
	                                   "POST", path, TRANSPORT_BATCH, b->builder.buf, b->size,
	                                   (long)p->conf->request_timeout_ms)))
		return rc;
	if (curl_multi_add_handle(p->multi, b->req.easy) != CURLM_OK)
		return STRAND_ERR_NO_MEMORY;
	b->attempts++;
	b->answered = 0;
	b->in_multi = 1;
	p->ninflight++;
	part->ninflight++;
	if (!b->on_sent_list) {
		/* the sent list is in send order, which is sequence order */
		pbatch_t **pp = &part->sent;
		while (*pp)
			pp = &(*pp)->next_sent;
		b->next_sent = NULL;
		*pp = b;
		b->on_sent_list = 1;
	}
	return 0;
}

/* KIP-360: a new epoch and sequences from 0 on every partition; at the
 * epoch's end, a new producer id. Only with nothing in flight. */
static void sender_bump_epoch(strand_producer *p)
{
	if (p->epoch >= INT16_MAX) {
		p->pid = -1;
		p->epoch = -1;
	} else {
		p->epoch++;
	}
	for (ptopic_t *t = p->topics; t; t = t->next)
		for (int32_t i = 0; i < t->nparts; i++) {
			t->parts[i].next_seq = 0;
			t->parts[i].broker_knows = 0;
		}
	p->need_bump = 0;
}

/* Could the partition send one more request now? */
static int part_may_take(strand_producer *p, const ppart_t *part)
{
	if (part->ninflight >= p->conf->max_in_flight)
		return 0;
	return !(p->conf->enable_idempotence && !part->broker_knows && part->ninflight > 0);
}

/* May the partition send its queue head now? */
static int part_may_send(strand_producer *p, const ppart_t *part, int64_t now)
{
	const pbatch_t *b = part->qhead;

	if (!b || part->ninflight >= p->conf->max_in_flight || b->retry_at_ms > now)
		return 0;
	/* a retried batch goes alone, after everything before it came back, so
	 * that the partition's order holds (Kafka's producer does the same) */
	if (b->attempts > 0 && part->ninflight > 0)
		return 0;
	/* a broker that knows nothing of this producer id and epoch on the
	 * partition takes any sequence as the first: the first batch must
	 * arrive alone, or a later one overtaking it would be taken as first */
	if (p->conf->enable_idempotence && !part->broker_knows && part->ninflight > 0)
		return 0;
	return 1;
}

/*
 * One pass over every partition (p->lock held): close lingering batches,
 * expire what waited past delivery.timeout.ms, send what may be sent.
 * Returns the next time anything becomes due.
 */
static int64_t sender_pass(strand_producer *p, done_list_t *done, int64_t now)
{
	int64_t next = now + SENDER_MAX_WAIT_MS;
	int hurry = p->flushing > 0 || p->closing;
	int need_pid;

	if (p->need_bump && p->ninflight == 0)
		sender_bump_epoch(p);
	/* while a bump waits for the requests in flight, nothing new is sent */
	need_pid = (p->conf->enable_idempotence && p->pid < 0) || p->need_bump;

	for (ptopic_t *t = p->topics; t; t = t->next) {
		for (int32_t i = 0; i < t->nparts; i++) {
			ppart_t *part = &t->parts[i];
			pbatch_t *b = part->open;

			/* A batch that has lingered is closed only when it could go
			 * now: while the partition's requests are all out, it keeps
			 * filling (up to batch.size) instead of queueing as many tiny
			 * batches — Kafka's accumulator closes batches as it drains. */
			if (b && (hurry || now >= b->created_ms + p->conf->linger_ms)) {
				if (!part->qhead && part_may_take(p, part))
					producer_close_open(p, part);
			} else if (b) {
				next = min64(next, b->created_ms + p->conf->linger_ms);
			}

			/* delivery.timeout.ms: give up on queued batches that waited too long */
			while (part->qhead && part->qhead->deadline_ms <= now) {
				b = part->qhead;
				part->qhead = b->next;
				b->queued = 0;
				if (b->producer_id >= 0)
					p->need_bump = 1;
				if (!b->errstr[0])
					snprintf(b->errstr, sizeof b->errstr,
					         "not sent within delivery.timeout.ms (%" PRId64 " ms)",
					         p->conf->delivery_timeout_ms);
				sender_complete(p, part, b, STRAND_ERR_MSG_TIMED_OUT, done);
			}
			while (!need_pid && part_may_send(p, part, now)) {
				b = part->qhead;
				part->qhead = b->next;
				b->queued = 0;
				int rc = sender_launch(p, b);
				if (rc) {
					snprintf(b->errstr, sizeof b->errstr, "cannot send: %s",
					         strand_err2str(rc));
					sender_complete(p, part, b, rc, done);
				}
			}
			if (part->qhead) {
				next = min64(next, part->qhead->deadline_ms);
				if (part->qhead->retry_at_ms > now)
					next = min64(next, part->qhead->retry_at_ms);
				/* waiting for a producer id: the next try; waiting for the
				 * requests in flight before an epoch bump: their answers wake us */
				if (p->conf->enable_idempotence && p->pid < 0)
					next = min64(next, p->pid_retry_at_ms);
			}
		}
	}
	return next;
}

/* Anything queued that waits for a producer id? */
static int sender_has_queued(strand_producer *p)
{
	for (ptopic_t *t = p->topics; t; t = t->next)
		for (int32_t i = 0; i < t->nparts; i++)
			if (t->parts[i].qhead)
				return 1;
	return 0;
}

/* Fail every queued batch with err (a fatal producer-id error). */
static void sender_fail_queued(strand_producer *p, done_list_t *done, int err, const char *why)
{
	for (ptopic_t *t = p->topics; t; t = t->next)
		for (int32_t i = 0; i < t->nparts; i++)
			while (t->parts[i].qhead) {
				pbatch_t *b = t->parts[i].qhead;
				t->parts[i].qhead = b->next;
				b->queued = 0;
				snprintf(b->errstr, sizeof b->errstr, "%s", why);
				sender_complete(p, &t->parts[i], b, err, done);
			}
}

/* ---- answers ------------------------------------------------------------------ */

int producer_parse_offsets(const char *body, size_t len, int32_t nrecs, int64_t *base_offset)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	cJSON *offs = cJSON_GetObjectItemCaseSensitive(doc, "offsets");
	cJSON *off = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(offs, 0), "offset");
	int rc = STRAND_ERR_BAD_RESPONSE;
	double v;

	/* A double outside int64 would be undefined to convert: only exact
	 * integers (|v| <= 2^53, as JSON numbers are) that are offsets pass. */
	if (cJSON_IsArray(offs) && cJSON_GetArraySize(offs) == nrecs && cJSON_IsNumber(off)) {
		v = off->valuedouble;
		if (v >= 0 && v <= 9007199254740992.0 && v == (double)(int64_t)v) {
			*base_offset = (int64_t)v;
			rc = 0;
		}
	}
	cJSON_Delete(doc);
	return rc;
}

/* The first offset of a 200 answer into b->base_offset. */
static int sender_parse_offset(pbatch_t *b)
{
	int rc = producer_parse_offsets(b->req.resp.data, b->req.resp.len, b->nrecs,
	                                &b->base_offset);

	if (rc)
		snprintf(b->errstr, sizeof b->errstr, "%s: answer without one offset per record",
		         b->req.url.data);
	return rc;
}

/* Was a batch sent after b, under b's producer id and epoch, acknowledged? */
static int part_acked_after(const ppart_t *part, const pbatch_t *b)
{
	for (const pbatch_t *x = b->next_sent; x; x = x->next_sent)
		if (x->answered && x->err == 0 && x->producer_id == b->producer_id &&
		    x->producer_epoch == b->producer_epoch && b->producer_id >= 0)
			return 1;
	return 0;
}

/* Deliver the answered batches at the head of the sent list. */
static void part_pop_answered(ppart_t *part, done_list_t *done)
{
	while (part->sent && part->sent->answered) {
		pbatch_t *head = part->sent;
		part->sent = head->next_sent;
		head->on_sent_list = 0;
		done_push(done, head, head->err);
	}
}

/* An answer (or a transport failure) for b (p->lock held). */
static void sender_on_answer(strand_producer *p, pbatch_t *b, CURLcode cc, done_list_t *done)
{
	ppart_t *part = b->part;
	int64_t now = clock_now_ms();
	int rc, retriable, final;

	curl_multi_remove_handle(p->multi, b->req.easy);
	b->in_multi = 0;
	part->ninflight--;
	p->ninflight--;
	rc = transport_req_result(p->tr, &b->req, cc, b->errstr, sizeof b->errstr);
	if (rc == STRAND_ERR_TRANSPORT && part->leader_url != NULL) {
		/* the leader is gone or unreachable from here: back to the
		 * bootstrap brokers, which relay to whoever leads now */
		free(part->leader_url);
		part->leader_url = NULL;
	}
	if (rc == 0) {
		b->errstr[0] = '\0';
		if (b->producer_id >= 0 && b->producer_id == p->pid && b->producer_epoch == p->epoch)
			part->broker_knows = 1;
		if (p->conf->acks != CONF_ACKS_NONE)
			rc = sender_parse_offset(b);
		sender_complete(p, part, b, rc, done);
		return;
	}
	/*
	 * OUT_OF_ORDER_SEQUENCE is retried when it is not this batch's fault:
	 * an earlier batch of the partition is still unacknowledged (it failed
	 * and is retried, or it is overtaken on another connection), or the
	 * earlier batch was acknowledged only just now (its answer crossed ours
	 * on parallel connections: Kafka's one ordered connection per broker
	 * never sees that) — the latter at most twice per batch.
	 */
	if (rc == STRAND_ERR_OUT_OF_ORDER_SEQUENCE && part_acked_after(part, b)) {
		/* The broker refuses gaps, so a later batch of this epoch acknowledged
		 * means this one is stored: this answer is a late copy of it (libcurl
		 * sends a request again by itself when a reused connection closes
		 * before any answer) that came after the broker's window of 5
		 * batches. Delivered, offsets unknown (Kafka's
		 * DUPLICATE_SEQUENCE_NUMBER case). */
		b->errstr[0] = '\0';
		b->base_offset = -1;
		sender_complete(p, part, b, 0, done);
		return;
	}
	if (rc == STRAND_ERR_OUT_OF_ORDER_SEQUENCE)
		b->oos_answers++;
	retriable = producer_err_retriable(p, rc, b->created_ms, now, 0) ||
	            (rc == STRAND_ERR_OUT_OF_ORDER_SEQUENCE &&
	             (part_lowest_unacked(part) < b->base_sequence || b->oos_answers <= 2));
	if (!retriable) {
		if (rc == STRAND_ERR_UNKNOWN_TOPIC)
			producer_explain_unknown_topic(p, b->created_ms, now, b->errstr, sizeof b->errstr);
		sender_complete(p, part, b, rc, done);
		return;
	}
	if ((final = producer_retry_bound(p, rc, b->attempts, b->deadline_ms, now, b->errstr,
	                                  sizeof b->errstr))) {
		sender_complete(p, part, b, final, done);
		return;
	}
	b->retry_at_ms = now + p->conf->retry_backoff_ms;
	producer_queue_insert(part, b);
}

/* ---- callbacks ------------------------------------------------------------------- */

/* Run the callbacks of every batch in done (p->lock NOT held), then
 * release their memory and wake waiters. */
static void sender_deliver(strand_producer *p, done_list_t *done)
{
	size_t bytes = 0, recs = 0;
	pbatch_t *b, *next;

	for (b = done->head; b; b = b->next) {
		batch_iter_t it;
		batch_record_t rec;
		strand_message m = { .err = b->err, .errstr = b->errstr,
		                     .topic = b->part->topic->name, .partition = b->part->id };
		int32_t i = 0;
		int dead = 0;

		if (!b->finished) {                  /* never sent: finish only to read it back */
			batch_builder_finish(&b->builder, &b->size);
			b->finished = 1;
		}
		batch_iter_init(&it, b->builder.buf, b->size);
		while (i < b->nrecs && batch_iter_next(&it, &rec) == 1) {
			m.offset = b->err == 0 && b->base_offset >= 0 ? b->base_offset + i : -1;
			m.timestamp = rec.timestamp;
			m.key = rec.key;
			m.key_len = rec.key_len > 0 ? (size_t)rec.key_len : 0;
			m.value = rec.value;
			m.value_len = rec.value_len > 0 ? (size_t)rec.value_len : 0;
			/* the last resort first, so that a callback that exits finds it written */
			if (b->err && p->dead_letter &&
			    deadletter_write(p->dead_letter, m.topic, m.partition, m.timestamp,
			                     m.key, m.key_len, m.value, m.value_len, b->err, b->errstr) == 0)
				dead = 1;
			if (b->recs[i].cb)
				b->recs[i].cb(&m, b->recs[i].opaque);
			i++;
		}
		if (dead)
			deadletter_flush(p->dead_letter);
		bytes += b->bytes;
		recs += (size_t)b->nrecs;
	}
	if (!done->head)
		return;
	pthread_mutex_lock(&p->lock);
	for (b = done->head; b; b = next) {
		next = b->next;
		producer_batch_recycle(p, b);
	}
	p->used_bytes -= bytes;
	p->outq -= recs;
	pthread_cond_broadcast(&p->space_cv);
	pthread_cond_broadcast(&p->done_cv);
	pthread_mutex_unlock(&p->lock);
	done->head = NULL;
	done->tail = &done->head;
}

/* At close: fail whatever is left (open, queued, in flight). p->lock held. */
static void sender_fail_all(strand_producer *p, done_list_t *done)
{
	for (ptopic_t *t = p->topics; t; t = t->next)
		for (int32_t i = 0; i < t->nparts; i++) {
			ppart_t *part = &t->parts[i];
			producer_close_open(p, part);
			/* in flight: abandoned; answered: their outcome; queued for a
			 * retry: left to the queue pass below */
			for (pbatch_t *b = part->sent; b; b = b->next_sent) {
				if (b->in_multi) {
					curl_multi_remove_handle(p->multi, b->req.easy);
					b->in_multi = 0;
					part->ninflight--;
					p->ninflight--;
					snprintf(b->errstr, sizeof b->errstr, "producer destroyed while in flight");
					b->err = STRAND_ERR_DESTROYED;
					b->answered = 1;
				}
			}
			while (part->sent) {
				pbatch_t *b = part->sent;
				part->sent = b->next_sent;
				b->on_sent_list = 0;
				if (!b->queued)
					done_push(done, b, b->err);
			}
		}
	sender_fail_queued(p, done, STRAND_ERR_DESTROYED, "producer destroyed before sending");
}

void *producer_sender_main(void *arg)
{
	strand_producer *p = arg;
	done_list_t done = { NULL, &done.head };
	char why[256];

	pthread_mutex_lock(&p->lock);
	while (!p->closing) {
		int64_t now = clock_now_ms();

		if (p->conf->enable_idempotence && p->pid < 0 && now >= p->pid_retry_at_ms &&
		    sender_has_queued(p)) {
			int rc = sender_fetch_pid(p, why, sizeof why);
			now = clock_now_ms();
			if (rc && !strand_err_is_retriable(rc))
				sender_fail_queued(p, &done, rc, why);
			else if (rc)
				p->pid_retry_at_ms = now + p->conf->retry_backoff_ms;
		}
		int64_t next = sender_pass(p, &done, now);
		pthread_mutex_unlock(&p->lock);

		sender_deliver(p, &done);
		int64_t wait = next - clock_now_ms();
		int running, left;
		curl_multi_poll(p->multi, NULL, 0, wait < 0 ? 0 : (int)min64(wait, SENDER_MAX_WAIT_MS), NULL);
		curl_multi_perform(p->multi, &running);
		pthread_mutex_lock(&p->lock);
		for (CURLMsg *msg; (msg = curl_multi_info_read(p->multi, &left));) {
			transport_req_t *r = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			/* req is the first-class member of its batch: recover the batch */
			pbatch_t *b = (pbatch_t *)((char *)r - offsetof(pbatch_t, req));
			sender_on_answer(p, b, msg->data.result, &done);
		}
	}
	sender_fail_all(p, &done);
	pthread_mutex_unlock(&p->lock);
	sender_deliver(p, &done);
	return NULL;
}
