/*
 * producer.c — one partition's idempotent-producer table (producer.h): an
 * open-addressing hash of producer id -> epoch and the ring of its last
 * PRODUCER_BATCHES_KEPT batches, and Kafka's sequence/epoch rules.
 */
#include "broker/producer.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "log/log.h"

#define TABLE_MIN_CAP 16       /* slots; always a power of two, at most half full */

typedef struct producer_entry {
	int64_t producer_id;       /* -1: empty slot */
	int16_t epoch;
	uint8_t nbatches;          /* kept batches, <= PRODUCER_BATCHES_KEPT */
	uint8_t next;              /* ring slot the next batch goes to */
	int64_t last_timestamp;    /* max timestamp of the newest batch (expiration) */
	producer_batch_meta_t batches[PRODUCER_BATCHES_KEPT];
} producer_entry_t;

struct producer_table {
	pthread_mutex_t   lock;
	producer_entry_t *slots;
	size_t            cap, count;
};

int32_t producer_sequence_add(int32_t seq, int32_t n)
{
	if (seq > INT32_MAX - n)
		return n - (INT32_MAX - seq) - 1;
	return seq + n;
}

static size_t slot_of(int64_t id, size_t cap)
{
	uint64_t x = (uint64_t)id * UINT64_C(0x9E3779B97F4A7C15);   /* Fibonacci hashing */

	return (size_t)(x >> 32) & (cap - 1);
}

static producer_entry_t *slots_new(size_t cap)
{
	producer_entry_t *s = malloc(cap * sizeof *s);

	if (s != NULL)
		for (size_t i = 0; i < cap; i++)
			s[i].producer_id = -1;
	return s;
}

int producer_table_new(producer_table_t **out)
{
	producer_table_t *t = calloc(1, sizeof *t);

	if (t == NULL || (t->slots = slots_new(TABLE_MIN_CAP)) == NULL) {
		free(t);
		return STRAND_ENOMEM;
	}
	t->cap = TABLE_MIN_CAP;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void producer_table_free(producer_table_t *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t);
}

void producer_table_lock(producer_table_t *t)
{
	pthread_mutex_lock(&t->lock);
}

void producer_table_unlock(producer_table_t *t)
{
	pthread_mutex_unlock(&t->lock);
}

size_t producer_table_count(const producer_table_t *t)
{
	return t->count;
}

static producer_entry_t *find(const producer_table_t *t, int64_t id)
{
	for (size_t i = slot_of(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].producer_id == id)
			return &t->slots[i];
		if (t->slots[i].producer_id == -1)
			return NULL;
	}
}

/* Place e in slots (cap a power of two, room guaranteed). */
static producer_entry_t *place(producer_entry_t *slots, size_t cap, const producer_entry_t *e)
{
	size_t i = slot_of(e->producer_id, cap);

	while (slots[i].producer_id != -1)
		i = (i + 1) & (cap - 1);
	slots[i] = *e;
	return &slots[i];
}

/* Rehash into cap slots, keeping the entries keep() accepts (NULL: all). */
static int rehash(producer_table_t *t, size_t cap,
                  int (*keep)(const producer_entry_t *e, const void *ctx), const void *ctx)
{
	producer_entry_t *slots = slots_new(cap);
	size_t count = 0;

	if (slots == NULL)
		return STRAND_ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slots[i].producer_id == -1 || (keep != NULL && !keep(&t->slots[i], ctx)))
			continue;
		place(slots, cap, &t->slots[i]);
		count++;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	t->count = count;
	return 0;
}

/* The newest kept batch of e (nbatches > 0). */
static const producer_batch_meta_t *newest(const producer_entry_t *e)
{
	return &e->batches[(e->next + PRODUCER_BATCHES_KEPT - 1) % PRODUCER_BATCHES_KEPT];
}

int producer_table_check(const producer_table_t *t, const batch_header_t *h,
                         producer_batch_meta_t *dup, char *err, size_t errlen)
{
	const producer_entry_t *e;
	int32_t last_seq, expected;

	if (h->producer_id == -1)
		return 0;
	if (h->producer_id < -1 || h->producer_epoch < 0 || h->base_sequence < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "an idempotent batch needs producer_id >= 0, producer_epoch >= 0 "
		                      "and base_sequence >= 0 (got %" PRId64 ", %d, %d)",
		                      h->producer_id, (int)h->producer_epoch, (int)h->base_sequence);
	e = find(t, h->producer_id);
	if (e == NULL)
		return 0;               /* no state here: any sequence starts it (KIP-360) */
	if (h->producer_epoch < e->epoch)
		return strand_err_set(err, errlen, STRAND_EFENCED,
		                      "producer %" PRId64 " epoch %d is fenced: this partition has "
		                      "seen its epoch %d", h->producer_id, (int)h->producer_epoch,
		                      (int)e->epoch);
	if (h->producer_epoch > e->epoch) {
		if (h->base_sequence != 0)
			return strand_err_set(err, errlen, STRAND_ESEQUENCE,
			                      "producer %" PRId64 " epoch %d is new here: its first "
			                      "batch must have base_sequence 0, not %d",
			                      h->producer_id, (int)h->producer_epoch,
			                      (int)h->base_sequence);
		return 0;
	}
	last_seq = producer_sequence_add(h->base_sequence, h->last_offset_delta);
	for (unsigned i = 0; i < e->nbatches; i++) {
		const producer_batch_meta_t *m = &e->batches[i];

		if (m->first_seq == h->base_sequence && m->last_seq == last_seq) {
			*dup = *m;
			return 1;
		}
	}
	if (e->nbatches == 0)
		return 0;
	expected = producer_sequence_add(newest(e)->last_seq, 1);
	if (h->base_sequence != expected)
		return strand_err_set(err, errlen, STRAND_ESEQUENCE,
		                      "producer %" PRId64 " epoch %d: expected base_sequence %d, got "
		                      "%d (a gap, or a retry older than the last %d batches)",
		                      h->producer_id, (int)h->producer_epoch, (int)expected,
		                      (int)h->base_sequence, PRODUCER_BATCHES_KEPT);
	return 0;
}

int producer_table_reserve(producer_table_t *t)
{
	if ((t->count + 1) * 2 > t->cap)
		return rehash(t, t->cap * 2, NULL, NULL);
	return 0;
}

int producer_table_record(producer_table_t *t, const batch_header_t *h)
{
	producer_entry_t *e, fresh;
	producer_batch_meta_t *m;

	if (h->producer_id < 0)
		return 0;
	e = find(t, h->producer_id);
	if (e == NULL) {
		if (producer_table_reserve(t) != 0)
			return STRAND_ENOMEM;
		memset(&fresh, 0, sizeof fresh);
		fresh.producer_id = h->producer_id;
		fresh.epoch = h->producer_epoch;
		e = place(t->slots, t->cap, &fresh);
		t->count++;
	} else if (h->producer_epoch < e->epoch) {
		return 0;               /* cannot come from the append path: check fenced it */
	} else if (h->producer_epoch > e->epoch) {
		e->epoch = h->producer_epoch;
		e->nbatches = 0;
		e->next = 0;
	}
	m = &e->batches[e->next];
	m->first_seq = h->base_sequence;
	m->last_seq = producer_sequence_add(h->base_sequence, h->last_offset_delta);
	m->first_offset = h->base_offset;
	m->last_offset = batch_last_offset(h);
	e->next = (uint8_t)((e->next + 1) % PRODUCER_BATCHES_KEPT);
	if (e->nbatches < PRODUCER_BATCHES_KEPT)
		e->nbatches++;
	e->last_timestamp = h->max_timestamp;
	return 0;
}

typedef struct expire_bounds {
	int64_t log_start_offset, min_timestamp;
} expire_bounds_t;

static int expire_keep(const producer_entry_t *e, const void *ctx)
{
	const expire_bounds_t *b = ctx;

	return e->nbatches > 0 && newest(e)->last_offset >= b->log_start_offset &&
	       e->last_timestamp >= b->min_timestamp;
}

size_t producer_table_expire(producer_table_t *t, int64_t log_start_offset,
                             int64_t min_timestamp)
{
	expire_bounds_t bounds = { log_start_offset, min_timestamp };
	size_t before = t->count, gone = 0, cap = t->cap;

	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].producer_id != -1 && !expire_keep(&t->slots[i], &bounds))
			gone++;
	if (gone == 0)
		return 0;
	while (cap > TABLE_MIN_CAP && (before - gone) * 4 < cap)
		cap /= 2;
	if (rehash(t, cap, expire_keep, &bounds) != 0)
		return 0;               /* no memory now: the next tick tries again */
	return gone;
}

/* ---- rebuilding from the log ---------------------------------------------- */

static int load_one(void *ctx, const batch_header_t *h)
{
	return producer_table_record(ctx, h);
}

int producer_table_load(struct log *log, producer_table_t **out, char *err, size_t errlen)
{
	producer_table_t *t;
	int rc;

	if (producer_table_new(&t) != 0)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	rc = log_scan_headers(log, 0, load_one, t, err, errlen);
	if (rc == STRAND_ENOMEM)
		strand_err_set(err, errlen, rc, "out of memory rebuilding producer state");
	if (rc != 0) {
		producer_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void producer_table_replace(producer_table_t *dst, producer_table_t *src)
{
	producer_entry_t *slots = dst->slots;
	size_t cap = dst->cap, count = dst->count;

	dst->slots = src->slots;
	dst->cap = src->cap;
	dst->count = src->count;
	src->slots = slots;
	src->cap = cap;
	src->count = count;
}
