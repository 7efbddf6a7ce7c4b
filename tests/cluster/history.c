/*
 * history.c — the workload's history and the anomaly checker (history.h).
 *
 * The checker builds, as Jepsen's Kafka checker does, one "version order"
 * per partition (offset -> value) from every source at once —
 * acknowledgements, consumer reads and replica logs — and a value -> offset
 * map; a second value at an offset or a second offset for a value is an
 * anomaly whichever sources disagree.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tests/cluster/history.h"

typedef struct h_send {
	int32_t proc, partition;
	int64_t value, offset;
	int     outcome;
} h_send_t;

typedef struct h_poll {
	int32_t consumer, partition, broker;
	int64_t asked, hw;
	size_t  n, start;        /* records at offs/vals[start .. start+n) */
} h_poll_t;

typedef struct h_batch {
	int32_t  broker, partition;
	int64_t  hw, base, last;
	uint64_t digest;
	size_t   start;          /* values at vals[start .. start+last-base] */
} h_batch_t;

typedef struct h_replica {
	int32_t broker, partition;
	int64_t hw;
} h_replica_t;

/* A growable array of fixed-size items. */
typedef struct h_vec {
	void  *items;
	size_t n, cap, size;
} h_vec_t;

struct history {
	h_vec_t sends, polls, batches, replicas;
	h_vec_t offs, vals;      /* int64: the records of polls and batches */
};

static void *vec_push(h_vec_t *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		void *p = realloc(v->items, cap * v->size);

		if (p == NULL)
			return NULL;
		v->items = p;
		v->cap = cap;
	}
	return (char *)v->items + v->size * v->n++;
}

static int vec_append(h_vec_t *dst, const h_vec_t *src)
{
	while (dst->cap < dst->n + src->n) {
		size_t cap = dst->cap ? dst->cap * 2 : 256;
		void *p = realloc(dst->items, cap * dst->size);

		if (p == NULL)
			return STRAND_ENOMEM;
		dst->items = p;
		dst->cap = cap;
	}
	if (src->n > 0)
		memcpy((char *)dst->items + dst->n * dst->size, src->items, src->n * src->size);
	dst->n += src->n;
	return 0;
}

#define VEC_AT(v, type, i) (((type *)(v).items)[i])

history_t *history_new(void)
{
	history_t *h = calloc(1, sizeof *h);

	if (h == NULL)
		return NULL;
	h->sends.size = sizeof(h_send_t);
	h->polls.size = sizeof(h_poll_t);
	h->batches.size = sizeof(h_batch_t);
	h->replicas.size = sizeof(h_replica_t);
	h->offs.size = sizeof(int64_t);
	h->vals.size = sizeof(int64_t);
	return h;
}

static void history_clear(history_t *h)
{
	free(h->sends.items);
	free(h->polls.items);
	free(h->batches.items);
	free(h->replicas.items);
	free(h->offs.items);
	free(h->vals.items);
	h->sends.items = h->polls.items = h->batches.items = NULL;
	h->replicas.items = h->offs.items = h->vals.items = NULL;
	h->sends.n = h->polls.n = h->batches.n = h->replicas.n = h->offs.n = h->vals.n = 0;
	h->sends.cap = h->polls.cap = h->batches.cap = h->replicas.cap = 0;
	h->offs.cap = h->vals.cap = 0;
}

void history_free(history_t *h)
{
	if (h == NULL)
		return;
	history_clear(h);
	free(h);
}

uint64_t history_digest(uint64_t digest, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		digest ^= *b++;
		digest *= 0x100000001b3ull;
	}
	return digest;
}

static int partition_ok(int32_t p)
{
	return p >= 0 && p < HISTORY_MAX_PARTITIONS;
}

int history_send(history_t *h, int proc, int32_t partition, int64_t value,
                 history_outcome_t outcome, int64_t offset)
{
	h_send_t *s;

	if (!partition_ok(partition) || value == 0 || proc < 0)
		return STRAND_EINVAL;
	s = vec_push(&h->sends);
	if (s == NULL)
		return STRAND_ENOMEM;
	s->proc = proc;
	s->partition = partition;
	s->value = value;
	s->outcome = outcome;
	s->offset = outcome == HISTORY_ACKED ? offset : -1;
	return 0;
}

int history_poll(history_t *h, int consumer, int32_t partition, int64_t asked, size_t n,
                 const int64_t *offsets, const int64_t *values, int broker, int64_t hw)
{
	h_poll_t *p;
	size_t i;

	if (!partition_ok(partition))
		return STRAND_EINVAL;
	p = vec_push(&h->polls);
	if (p == NULL)
		return STRAND_ENOMEM;
	p->consumer = consumer;
	p->partition = partition;
	p->asked = asked;
	p->broker = broker;
	p->hw = hw;
	p->n = n;
	p->start = h->offs.n;
	for (i = 0; i < n; i++) {
		int64_t *o = vec_push(&h->offs), *v = vec_push(&h->vals);

		if (o == NULL || v == NULL)
			return STRAND_ENOMEM;
		*o = offsets[i];
		*v = values[i];
	}
	return 0;
}

int history_replica(history_t *h, int broker, int32_t partition, int64_t hw)
{
	h_replica_t *r;
	size_t i;

	if (!partition_ok(partition))
		return STRAND_EINVAL;
	for (i = 0; i < h->replicas.n; i++) {
		r = &VEC_AT(h->replicas, h_replica_t, i);
		if (r->broker == broker && r->partition == partition) {
			r->hw = hw;
			return 0;
		}
	}
	r = vec_push(&h->replicas);
	if (r == NULL)
		return STRAND_ENOMEM;
	r->broker = broker;
	r->partition = partition;
	r->hw = hw;
	return 0;
}

int history_replica_batch(history_t *h, int broker, int32_t partition, int64_t hw,
                          int64_t base, int64_t last, uint64_t digest, const int64_t *values)
{
	h_batch_t *b;
	int64_t i;
	int rc = history_replica(h, broker, partition, hw);

	if (rc)
		return rc;
	if (last < base)
		return STRAND_EINVAL;
	b = vec_push(&h->batches);
	if (b == NULL)
		return STRAND_ENOMEM;
	b->broker = broker;
	b->partition = partition;
	b->hw = hw;
	b->base = base;
	b->last = last;
	b->digest = digest;
	b->start = h->vals.n;
	for (i = 0; i <= last - base; i++) {
		int64_t *v = vec_push(&h->vals), *o = vec_push(&h->offs);

		if (v == NULL || o == NULL)
			return STRAND_ENOMEM;
		*v = values[i];
		*o = base + i;   /* keeps offs and vals the same length */
	}
	return 0;
}

int history_merge(history_t *dst, history_t *src)
{
	size_t base = dst->offs.n, i, npolls = dst->polls.n, nbatches = dst->batches.n;
	int rc;

	if ((rc = vec_append(&dst->sends, &src->sends)) || (rc = vec_append(&dst->polls, &src->polls)) ||
	    (rc = vec_append(&dst->batches, &src->batches)) ||
	    (rc = vec_append(&dst->offs, &src->offs)) || (rc = vec_append(&dst->vals, &src->vals)))
		return rc;
	for (i = npolls; i < dst->polls.n; i++)
		VEC_AT(dst->polls, h_poll_t, i).start += base;
	for (i = nbatches; i < dst->batches.n; i++)
		VEC_AT(dst->batches, h_batch_t, i).start += base;
	for (i = 0; i < src->replicas.n; i++) {
		h_replica_t *r = &VEC_AT(src->replicas, h_replica_t, i);

		if ((rc = history_replica(dst, r->broker, r->partition, r->hw)))
			return rc;
	}
	history_clear(src);
	return 0;
}

/* ---- the checker ---------------------------------------------------------- */

enum {
	V_SEEN        = 1,   /* in a log or a read */
	V_READ        = 2,   /* read by a consumer */
	V_REPORTED    = 4,   /* a duplicate already counted */
	V_BAD_REPORTED = 8,  /* failed_read / phantom already counted */
};

typedef struct v_entry {
	int64_t value;        /* 0: empty slot */
	int64_t ack_offset;   /* -1 unless acknowledged */
	int64_t seen_offset;
	int64_t read_offset;  /* where a consumer first read it */
	int64_t read_hw;      /* the high watermark of that answer */
	int32_t read_broker;  /* the broker that gave that answer */
	int32_t partition, seen_partition;
	int32_t outcome;      /* 0: never sent */
	int32_t flags;
} v_entry_t;

typedef struct v_map {
	v_entry_t *slots;
	size_t     cap, n;
} v_map_t;

static size_t v_hash(int64_t v, size_t cap)
{
	uint64_t x = (uint64_t)v * 0x9e3779b97f4a7c15ull;

	return (size_t)(x >> 17) & (cap - 1);
}

static v_entry_t *v_find(v_map_t *m, int64_t value, int create)
{
	size_t i;

	if (create && (m->n + 1) * 2 > m->cap) {
		v_map_t bigger = { calloc(m->cap ? m->cap * 2 : 1024, sizeof(v_entry_t)),
		                   m->cap ? m->cap * 2 : 1024, 0 };

		if (bigger.slots == NULL)
			return NULL;
		for (i = 0; i < m->cap; i++)
			if (m->slots[i].value != 0) {
				size_t j = v_hash(m->slots[i].value, bigger.cap);

				while (bigger.slots[j].value != 0)
					j = (j + 1) & (bigger.cap - 1);
				bigger.slots[j] = m->slots[i];
				bigger.n++;
			}
		free(m->slots);
		*m = bigger;
	}
	if (m->cap == 0)
		return NULL;
	for (i = v_hash(value, m->cap); m->slots[i].value != 0; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].value == value)
			return &m->slots[i];
	if (!create)
		return NULL;
	memset(&m->slots[i], 0, sizeof m->slots[i]);
	m->slots[i].value = value;
	m->slots[i].ack_offset = -1;
	m->slots[i].seen_offset = -1;
	m->slots[i].read_offset = -1;
	m->slots[i].seen_partition = -1;
	m->n++;
	return &m->slots[i];
}

/* offset -> value of one partition; conflict marks an offset already counted */
typedef struct v_order {
	int64_t *values;
	uint8_t *conflict;
	int64_t  cap;
	int64_t  max_read;    /* highest offset a consumer read, -1 */
} v_order_t;

typedef struct checker {
	history_t        *h;
	history_report_t *rep;
	v_map_t           values;
	v_order_t         order[HISTORY_MAX_PARTITIONS];
	int               nomem;
} checker_t;

static void note(checker_t *c, const char *fmt, ...)
{
	size_t used = strlen(c->rep->text);
	va_list ap;

	if (used + 2 >= sizeof c->rep->text)
		return;
	va_start(ap, fmt);
	vsnprintf(c->rep->text + used, sizeof c->rep->text - used - 1, fmt, ap);
	va_end(ap);
	used = strlen(c->rep->text);
	c->rep->text[used] = '\n';
	c->rep->text[used + 1] = '\0';
}

static int order_grow(v_order_t *o, int64_t offset)
{
	int64_t cap = o->cap ? o->cap : 1024;
	int64_t *v;
	uint8_t *cf;

	while (cap <= offset)
		cap *= 2;
	if (cap == o->cap)
		return 0;
	v = realloc(o->values, (size_t)cap * sizeof *v);
	if (v == NULL)
		return STRAND_ENOMEM;
	o->values = v;
	cf = realloc(o->conflict, (size_t)cap);
	if (cf == NULL)
		return STRAND_ENOMEM;
	o->conflict = cf;
	memset(o->values + o->cap, 0, (size_t)(cap - o->cap) * sizeof *v);
	memset(o->conflict + o->cap, 0, (size_t)(cap - o->cap));
	o->cap = cap;
	return 0;
}

/* One source says partition p holds value at offset. */
static void observe(checker_t *c, int32_t p, int64_t offset, int64_t value, const char *src)
{
	v_order_t *o = &c->order[p];
	v_entry_t *e;

	if (offset < 0 || order_grow(o, offset) != 0) {
		c->nomem |= offset >= 0;
		return;
	}
	if (o->values[offset] == 0) {
		o->values[offset] = value;
	} else if (o->values[offset] != value && !o->conflict[offset]) {
		o->conflict[offset] = 1;
		c->rep->inconsistent++;
		note(c, "inconsistent: partition %d offset %" PRId64 " holds %" PRId64 " and %" PRId64
		     " (%s)", p, offset, o->values[offset], value, src);
	}
	e = v_find(&c->values, value, 1);
	if (e == NULL) {
		c->nomem = 1;
		return;
	}
	if (e->outcome == 0 && !(e->flags & V_BAD_REPORTED)) {
		e->flags |= V_BAD_REPORTED;
		c->rep->phantom++;
		note(c, "phantom: value %" PRId64 " at partition %d offset %" PRId64
		     " was never sent (%s)", value, p, offset, src);
	}
	if (e->outcome == HISTORY_FAILED && !(e->flags & V_BAD_REPORTED)) {
		e->flags |= V_BAD_REPORTED;
		c->rep->failed_read++;
		note(c, "failed_read: value %" PRId64 " was refused yet is at partition %d offset %"
		     PRId64 " (%s)", value, p, offset, src);
	}
	if (e->outcome != 0 && e->partition != p && !(e->flags & V_BAD_REPORTED)) {
		e->flags |= V_BAD_REPORTED;
		c->rep->phantom++;
		note(c, "phantom: value %" PRId64 " sent to partition %d is in partition %d (%s)",
		     value, e->partition, p, src);
	}
	if (e->seen_offset < 0) {
		e->seen_offset = offset;
		e->seen_partition = p;
	} else if ((e->seen_offset != offset || e->seen_partition != p) &&
	           !(e->flags & V_REPORTED)) {
		e->flags |= V_REPORTED;
		c->rep->duplicate++;
		note(c, "duplicate: value %" PRId64 " at partition %d offset %" PRId64
		     " and partition %d offset %" PRId64 " (%s)", value, e->seen_partition,
		     e->seen_offset, p, offset, src);
	}
	e->flags |= V_SEEN;
}

static void check_sends(checker_t *c)
{
	history_t *h = c->h;
	size_t i;
	int32_t maxproc = -1;
	int64_t *last;

	for (i = 0; i < h->sends.n; i++) {
		h_send_t *s = &VEC_AT(h->sends, h_send_t, i);
		v_entry_t *e = v_find(&c->values, s->value, 1);

		if (e == NULL) {
			c->nomem = 1;
			return;
		}
		c->rep->sent++;
		if (s->proc > maxproc)
			maxproc = s->proc;
		if (e->outcome != 0)
			continue;   /* the workload sends each value once; keep the first */
		e->outcome = s->outcome;
		e->partition = s->partition;
		c->rep->acked += s->outcome == HISTORY_ACKED;
		c->rep->failed += s->outcome == HISTORY_FAILED;
		c->rep->unknown += s->outcome == HISTORY_UNKNOWN;
	}
	/* acknowledged offsets: one more source of the version order, and per
	 * producer and partition they must grow in send order */
	last = malloc((size_t)(maxproc + 1) * HISTORY_MAX_PARTITIONS * sizeof *last);
	if (last == NULL && maxproc >= 0) {
		c->nomem = 1;
		return;
	}
	for (i = 0; i < (size_t)(maxproc + 1) * HISTORY_MAX_PARTITIONS; i++)
		last[i] = -1;
	for (i = 0; i < h->sends.n; i++) {
		h_send_t *s = &VEC_AT(h->sends, h_send_t, i);
		int64_t *l = &last[(size_t)s->proc * HISTORY_MAX_PARTITIONS + (size_t)s->partition];
		v_entry_t *e;

		if (s->outcome != HISTORY_ACKED)
			continue;
		e = v_find(&c->values, s->value, 0);
		if (e->ack_offset < 0)
			e->ack_offset = s->offset;
		if (s->offset <= *l) {
			c->rep->nonmonotonic_send++;
			note(c, "nonmonotonic_send: producer %d partition %d acked offset %" PRId64
			     " after %" PRId64, s->proc, s->partition, s->offset, *l);
		}
		*l = s->offset;
	}
	free(last);
	for (i = 0; i < h->sends.n; i++) {
		h_send_t *s = &VEC_AT(h->sends, h_send_t, i);

		if (s->outcome == HISTORY_ACKED)
			observe(c, s->partition, s->offset, s->value, "acknowledged");
	}
}

static void check_polls(checker_t *c)
{
	history_t *h = c->h;
	size_t i, j;
	char src[128];

	for (i = 0; i < h->polls.n; i++) {
		h_poll_t *p = &VEC_AT(h->polls, h_poll_t, i);
		int64_t expect = p->asked;
		int bad = 0;

		snprintf(src, sizeof src, "read by consumer %d from broker %d, high watermark %" PRId64,
		         p->consumer, p->broker, p->hw);
		for (j = 0; j < p->n; j++) {
			int64_t off = VEC_AT(h->offs, int64_t, p->start + j);
			int64_t val = VEC_AT(h->vals, int64_t, p->start + j);
			v_entry_t *e;

			if (off != expect && !bad) {
				bad = 1;
				c->rep->nonmonotonic_poll++;
				note(c, "nonmonotonic_poll: consumer %d partition %d asked %" PRId64
				     ", got offset %" PRId64 " where %" PRId64 " was due", p->consumer,
				     p->partition, p->asked, off, expect);
			}
			expect = off + 1;
			observe(c, p->partition, off, val, src);
			if (off > c->order[p->partition].max_read)
				c->order[p->partition].max_read = off;
			e = v_find(&c->values, val, 0);
			if (e != NULL && !(e->flags & V_READ)) {
				e->flags |= V_READ;
				e->read_offset = off;
				e->read_broker = p->broker;
				e->read_hw = p->hw;
			}
			c->rep->polled++;
		}
	}
}

/* One replica's batches in offset order, for looking up an offset. */
typedef struct r_index {
	const h_batch_t **b;
	size_t n;
} r_index_t;

/* The value held at offset, 0 when none. */
static int64_t replica_value(const history_t *h, const r_index_t *x, int64_t offset)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (x->b[mid]->last < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->n && x->b[lo]->base <= offset)
		return VEC_AT(h->vals, int64_t, x->b[lo]->start + (size_t)(offset - x->b[lo]->base));
	return 0;
}

static void check_replicas(checker_t *c)
{
	history_t *h = c->h;
	size_t i, j;
	char src[64];

	for (i = 0; i < h->batches.n; i++) {
		h_batch_t *b = &VEC_AT(h->batches, h_batch_t, i);
		int64_t k;

		snprintf(src, sizeof src, "log of broker %d", b->broker);
		for (k = 0; k <= b->last - b->base && b->base + k < b->hw; k++) {
			observe(c, b->partition, b->base + k,
			        VEC_AT(h->vals, int64_t, b->start + (size_t)k), src);
			c->rep->replica_records++;
		}
	}
	/* divergence: each replica's batches against the first replica's, below
	 * their common high watermark, in order */
	for (i = 0; i < h->replicas.n; i++) {
		h_replica_t *a = &VEC_AT(h->replicas, h_replica_t, i);

		for (j = i + 1; j < h->replicas.n; j++) {
			h_replica_t *b = &VEC_AT(h->replicas, h_replica_t, j);
			int64_t common = a->hw < b->hw ? a->hw : b->hw;
			size_t x = 0, y = 0;
			const h_batch_t *ba, *bb;

			if (a->partition != b->partition)
				continue;
			for (;;) {
				ba = bb = NULL;
				for (; x < h->batches.n && !ba; x++) {
					h_batch_t *t = &VEC_AT(h->batches, h_batch_t, x);
					if (t->broker == a->broker && t->partition == a->partition &&
					    t->base < common)
						ba = t;
				}
				for (; y < h->batches.n && !bb; y++) {
					h_batch_t *t = &VEC_AT(h->batches, h_batch_t, y);
					if (t->broker == b->broker && t->partition == b->partition &&
					    t->base < common)
						bb = t;
				}
				if (ba == NULL && bb == NULL)
					break;
				if (ba == NULL || bb == NULL || ba->base != bb->base ||
				    ba->last != bb->last || ba->digest != bb->digest) {
					c->rep->divergent++;
					note(c, "divergent: partition %d, brokers %d and %d differ at the batch "
					     "at offset %" PRId64 " (common high watermark %" PRId64 ")",
					     a->partition, a->broker, b->broker, ba ? ba->base : bb->base, common);
					break;
				}
			}
		}
	}
}

/* A committed record — acknowledged, or read by a consumer — must be at its
 * offset on every replica whose high watermark passed it, and some replica's
 * must have. */
static void check_lost(checker_t *c)
{
	history_t *h = c->h;
	int has_replica[HISTORY_MAX_PARTITIONS] = { 0 };
	r_index_t *idx = calloc(h->replicas.n + 1, sizeof *idx);
	size_t i, j;

	if (idx == NULL) {
		c->nomem = 1;
		return;
	}
	for (j = 0; j < h->replicas.n; j++) {
		h_replica_t *r = &VEC_AT(h->replicas, h_replica_t, j);

		has_replica[r->partition] = 1;
		idx[j].b = malloc((h->batches.n + 1) * sizeof *idx[j].b);
		if (idx[j].b == NULL) {
			c->nomem = 1;
			goto out;
		}
		for (i = 0; i < h->batches.n; i++) {
			h_batch_t *b = &VEC_AT(h->batches, h_batch_t, i);

			if (b->broker == r->broker && b->partition == r->partition)
				idx[j].b[idx[j].n++] = b;
		}
	}
	for (i = 0; i < c->values.cap; i++) {
		v_entry_t *e = &c->values.slots[i];
		int64_t off = e->ack_offset >= 0 ? e->ack_offset : e->read_offset;
		int32_t p = e->ack_offset >= 0 ? e->partition : e->seen_partition;
		const char *what = e->ack_offset >= 0 ? "acknowledged" : "read";
		int covered = 0, missing_on = -1;

		if (e->value == 0)
			continue;
		if (e->outcome == HISTORY_UNKNOWN && (e->flags & V_SEEN))
			c->rep->unknown_present++;
		if (off < 0 || p < 0 || e->outcome == 0 || e->outcome == HISTORY_FAILED)
			continue;   /* not committed, or already an anomaly of its own */
		if (!has_replica[p]) {
			if (e->ack_offset < 0)
				continue;
			if (!(e->flags & V_READ) && off < c->order[p].max_read) {
				c->rep->lost++;
				note(c, "lost: value %" PRId64 " acknowledged at partition %d offset %" PRId64
				     " was never read, though offset %" PRId64 " was", e->value, p, off,
				     c->order[p].max_read);
			}
			continue;
		}
		for (j = 0; j < h->replicas.n; j++) {
			h_replica_t *r = &VEC_AT(h->replicas, h_replica_t, j);

			if (r->partition != p || r->hw <= off)
				continue;
			covered = 1;
			if (replica_value(h, &idx[j], off) != e->value && missing_on < 0)
				missing_on = r->broker;
		}
		if (!covered || missing_on >= 0) {
			c->rep->lost++;
			if (!covered)
				note(c, "lost: value %" PRId64 " %s at partition %d offset %" PRId64
				     " is above every replica's high watermark", e->value, what, p, off);
			else if (e->ack_offset >= 0)
				note(c, "lost: value %" PRId64 " %s at partition %d offset %" PRId64
				     " is not there on broker %d", e->value, what, p, off, missing_on);
			else
				note(c, "lost: value %" PRId64 " %s at partition %d offset %" PRId64
				     " is not there on broker %d (read from broker %d, high watermark %"
				     PRId64 ")", e->value, what, p, off, missing_on, e->read_broker,
				     e->read_hw);
		}
	}
out:
	for (j = 0; j < h->replicas.n; j++)
		free(idx[j].b);
	free(idx);
}

int64_t history_check(history_t *h, history_report_t *rep)
{
	checker_t c;
	int p;

	memset(rep, 0, sizeof *rep);
	memset(&c, 0, sizeof c);
	c.h = h;
	c.rep = rep;
	for (p = 0; p < HISTORY_MAX_PARTITIONS; p++)
		c.order[p].max_read = -1;
	check_sends(&c);
	check_polls(&c);
	check_replicas(&c);
	check_lost(&c);
	for (p = 0; p < HISTORY_MAX_PARTITIONS; p++) {
		free(c.order[p].values);
		free(c.order[p].conflict);
	}
	free(c.values.slots);
	if (c.nomem)
		return STRAND_ENOMEM;
	rep->anomalies = rep->lost + rep->inconsistent + rep->duplicate + rep->failed_read +
	                 rep->phantom + rep->nonmonotonic_send + rep->nonmonotonic_poll +
	                 rep->divergent;
	return rep->anomalies;
}
