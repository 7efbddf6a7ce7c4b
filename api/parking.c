/*
 * parking.c — the waiter registry for long polls (contract in parking.h):
 * waiters hashed by (topic, partition) into bucket lists, a min-heap of
 * deadlines served by one timer thread, all under one mutex. No HTTP here
 * (api/parking_api.c wires it to the server and the broker).
 */
#include "api/parking.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

#define PARKING_BUCKETS 4096u   /* power of two */

struct parking {
	pthread_mutex_t    lock;
	pthread_cond_t     timer_cond;    /* CLOCK_MONOTONIC */
	pthread_t          timer;
	int                timer_started;
	int                stop_timer;
	int                closed;        /* parking_wake_all ran */
	size_t             count;
	parking_waiter_t  *buckets[PARKING_BUCKETS];
	parking_waiter_t **heap;          /* min-heap on deadline_ms */
	size_t             heap_len, heap_cap;
};

int64_t parking_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void parking_waiter_init(parking_waiter_t *w)
{
	memset(w, 0, sizeof *w);
	w->heap_index = SIZE_MAX;
}

/* FNV-1a over the topic name and the partition number. */
static uint32_t parking_bucket_of(const char *topic, int32_t partition)
{
	uint32_t h = 2166136261u;
	const unsigned char *s = (const unsigned char *)topic;

	for (; *s; s++)
		h = (h ^ *s) * 16777619u;
	h = (h ^ (uint32_t)partition) * 16777619u;
	return h & (PARKING_BUCKETS - 1);
}

/* ---- the deadline heap (lock held) -------------------------------------- */

static void heap_swap(parking_t *pk, size_t i, size_t j)
{
	parking_waiter_t *t = pk->heap[i];

	pk->heap[i] = pk->heap[j];
	pk->heap[j] = t;
	pk->heap[i]->heap_index = i;
	pk->heap[j]->heap_index = j;
}

static void heap_up(parking_t *pk, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (pk->heap[parent]->deadline_ms <= pk->heap[i]->deadline_ms)
			break;
		heap_swap(pk, i, parent);
		i = parent;
	}
}

static void heap_down(parking_t *pk, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < pk->heap_len && pk->heap[l]->deadline_ms < pk->heap[m]->deadline_ms)
			m = l;
		if (r < pk->heap_len && pk->heap[r]->deadline_ms < pk->heap[m]->deadline_ms)
			m = r;
		if (m == i)
			return;
		heap_swap(pk, i, m);
		i = m;
	}
}

static int heap_push(parking_t *pk, parking_waiter_t *w)
{
	if (pk->heap_len == pk->heap_cap) {
		size_t cap = pk->heap_cap ? pk->heap_cap * 2 : 256;
		parking_waiter_t **h = realloc(pk->heap, cap * sizeof *h);

		if (h == NULL)
			return STRAND_ENOMEM;
		pk->heap = h;
		pk->heap_cap = cap;
	}
	w->heap_index = pk->heap_len;
	pk->heap[pk->heap_len++] = w;
	heap_up(pk, w->heap_index);
	return 0;
}

static void heap_remove(parking_t *pk, parking_waiter_t *w)
{
	size_t i = w->heap_index;

	if (i == SIZE_MAX)
		return;
	pk->heap_len--;
	if (i != pk->heap_len) {
		pk->heap[i] = pk->heap[pk->heap_len];
		pk->heap[i]->heap_index = i;
		heap_down(pk, i);
		heap_up(pk, i);
	}
	w->heap_index = SIZE_MAX;
}

/* ---- registration (lock held) ------------------------------------------- */

static void waiter_unlink(parking_t *pk, parking_waiter_t *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		pk->buckets[w->bucket] = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	heap_remove(pk, w);
	w->registered = 0;
	pk->count--;
}

/* Unlink and call the owner back (the lock stays held: see parking.h). */
static void waiter_wake(parking_t *pk, parking_waiter_t *w, parking_reason_t why)
{
	waiter_unlink(pk, w);
	w->wake(w->ctx, why);
}

int parking_wait(parking_t *pk, parking_waiter_t *w, const char *topic, int32_t partition,
                 int64_t wait_offset, int64_t deadline_ms,
                 parking_arm_fn arm, parking_wake_fn wake, void *ctx)
{
	int rc;

	pthread_mutex_lock(&pk->lock);
	if (pk->closed) {
		rc = STRAND_ECLOSED;
		goto out;
	}
	if (w->registered) {
		rc = STRAND_EINVAL;
		goto out;
	}
	w->topic = topic;
	w->partition = partition;
	w->bucket = parking_bucket_of(topic, partition);
	w->wait_offset = wait_offset;
	w->deadline_ms = deadline_ms;
	w->wake = wake;
	w->ctx = ctx;
	w->heap_index = SIZE_MAX;
	/* Reserve the heap slot before arming: after arm the owner is
	 * committed (suspended) and must not see a failure. */
	if (deadline_ms >= 0) {
		rc = heap_push(pk, w);
		if (rc)
			goto out;
	}
	rc = arm ? arm(ctx) : 0;
	if (rc != 0) {
		heap_remove(pk, w);
		goto out;
	}
	w->prev = NULL;
	w->next = pk->buckets[w->bucket];
	if (w->next)
		w->next->prev = w;
	pk->buckets[w->bucket] = w;
	w->registered = 1;
	pk->count++;
	if (w->heap_index == 0)
		pthread_cond_signal(&pk->timer_cond);   /* a new earliest deadline */
out:
	pthread_mutex_unlock(&pk->lock);
	return rc;
}

int parking_cancel(parking_t *pk, parking_waiter_t *w)
{
	int was;

	pthread_mutex_lock(&pk->lock);
	was = w->registered;
	if (was)
		waiter_unlink(pk, w);
	pthread_mutex_unlock(&pk->lock);
	return was;
}

void parking_notify(parking_t *pk, const char *topic, int32_t partition, int64_t hw)
{
	uint32_t b = parking_bucket_of(topic, partition);
	parking_waiter_t *w, *next;

	pthread_mutex_lock(&pk->lock);
	for (w = pk->buckets[b]; w != NULL; w = next) {
		next = w->next;   /* w leaves the list when woken */
		if (w->partition == partition && hw > w->wait_offset &&
		    strcmp(w->topic, topic) == 0)
			waiter_wake(pk, w, PARKING_WOKEN_DATA);
	}
	pthread_mutex_unlock(&pk->lock);
}

void parking_wake_all(parking_t *pk)
{
	size_t i;

	pthread_mutex_lock(&pk->lock);
	pk->closed = 1;
	for (i = 0; i < PARKING_BUCKETS; i++)
		while (pk->buckets[i] != NULL)
			waiter_wake(pk, pk->buckets[i], PARKING_WOKEN_SHUTDOWN);
	pthread_mutex_unlock(&pk->lock);
}

size_t parking_count(parking_t *pk)
{
	size_t n;

	pthread_mutex_lock(&pk->lock);
	n = pk->count;
	pthread_mutex_unlock(&pk->lock);
	return n;
}

/* ---- the timer thread --------------------------------------------------- */

/* One thread for every deadline: sleeps until the earliest one. */
static void *parking_timer_main(void *arg)
{
	parking_t *pk = arg;
	struct timespec ts;
	int64_t now, until;

	pthread_mutex_lock(&pk->lock);
	while (!pk->stop_timer) {
		now = parking_now_ms();
		while (pk->heap_len > 0 && pk->heap[0]->deadline_ms <= now)
			waiter_wake(pk, pk->heap[0], PARKING_WOKEN_DEADLINE);
		if (pk->heap_len == 0) {
			pthread_cond_wait(&pk->timer_cond, &pk->lock);
			continue;
		}
		until = pk->heap[0]->deadline_ms;
		ts.tv_sec = (time_t)(until / 1000);
		ts.tv_nsec = (long)(until % 1000) * 1000000;
		pthread_cond_timedwait(&pk->timer_cond, &pk->lock, &ts);
	}
	pthread_mutex_unlock(&pk->lock);
	return NULL;
}

int parking_new(parking_t **out, char *err, size_t errlen)
{
	parking_t *pk = calloc(1, sizeof *pk);
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (pk == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	pthread_mutex_init(&pk->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pk->timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&pk->timer, NULL, parking_timer_main, pk);
	if (rc != 0) {
		parking_free(pk);
		return strand_err_set(err, errlen, STRAND_EIO,
		                      "cannot start the long-poll timer: %s", strerror(rc));
	}
	pk->timer_started = 1;
	*out = pk;
	return 0;
}

void parking_free(parking_t *pk)
{
	if (pk == NULL)
		return;
	if (pk->timer_started) {
		pthread_mutex_lock(&pk->lock);
		pk->stop_timer = 1;
		pthread_cond_signal(&pk->timer_cond);
		pthread_mutex_unlock(&pk->lock);
		pthread_join(pk->timer, NULL);
	}
	pthread_cond_destroy(&pk->timer_cond);
	pthread_mutex_destroy(&pk->lock);
	free(pk->heap);
	free(pk);
}
