/*
 * parking.h — the waiter registry behind long polls (Kafka's "purgatory"
 * for fetches, DelayedFetch): requests that wait for data on a partition
 * register a waiter here and cost no thread while they wait.
 *
 * A waiter names a partition (topic, partition), an offset it waits to see
 * passed (it is woken when the partition's high watermark, hw, becomes
 * > wait_offset) and a deadline. It is woken exactly once, by the first of:
 *   - parking_notify (the broker's append hook: hw moved past wait_offset);
 *   - the registry's one timer thread, at the deadline;
 *   - parking_wake_all (shutdown).
 * Waking removes the waiter from the registry; the owner re-checks what it
 * waits for (e.g. min_bytes) and waits again if it must. Waking only on
 * "some append beyond my offset" keeps the registry ignorant of byte counts.
 *
 * The race between "checked: no data" and "parked" is closed by
 * parking_wait: it runs the owner's arm callback (re-check, then suspend)
 * with the registry lock held, and parking_notify takes the same lock, so an
 * append either is seen by the re-check or finds the waiter registered.
 *
 * Memory: waiters are embedded in their owner's state (no allocation per
 * wait except when the deadline heap grows). The topic string is borrowed
 * while the waiter is registered.
 *
 * Threading: every call is safe from any thread. Callbacks (arm, wake) run
 * with the registry lock held: they must be short and must not call
 * parking_* on the same registry. Because wake runs under the lock that
 * parking_cancel takes, once parking_cancel returns no wake of that waiter
 * is running or will run: the owner may free it (http.h "Lifetime").
 */
#ifndef STRAND_API_PARKING_H
#define STRAND_API_PARKING_H

#include <stddef.h>
#include <stdint.h>

typedef struct parking parking_t;

typedef enum parking_reason {
	PARKING_WOKEN_NONE = 0,
	PARKING_WOKEN_DATA,       /* hw passed wait_offset */
	PARKING_WOKEN_DEADLINE,   /* deadline reached */
	PARKING_WOKEN_SHUTDOWN,   /* parking_wake_all */
} parking_reason_t;

/* Wake-up: runs under the registry lock on the waking thread (appender,
 * timer or wake_all caller). The waiter has already left the registry. */
typedef void (*parking_wake_fn)(void *ctx, parking_reason_t why);

/* Commit to waiting: runs under the registry lock inside parking_wait.
 * Returns 0 to park (the owner is now waiting, e.g. suspended), 1 when
 * what it waits for is already there (not parked), or a negative STRAND_E*
 * code (not parked; returned by parking_wait). */
typedef int (*parking_arm_fn)(void *ctx);

/* Embedded in the owner's state; fields are parking.c's. */
typedef struct parking_waiter {
	const char             *topic;       /* borrowed while registered */
	int32_t                 partition;
	uint32_t                bucket;
	int64_t                 wait_offset;
	int64_t                 deadline_ms;  /* parking_now_ms() clock; < 0: none */
	parking_wake_fn         wake;
	void                   *ctx;
	struct parking_waiter  *prev, *next;  /* bucket list */
	size_t                  heap_index;   /* SIZE_MAX: not in the deadline heap */
	int                     registered;
} parking_waiter_t;

/* Zero a waiter before its first use. */
void parking_waiter_init(parking_waiter_t *w);

/*
 * Create a registry and start its timer thread. *out is freed with
 * parking_free. Returns 0, STRAND_ENOMEM, STRAND_EIO (thread creation).
 */
int parking_new(parking_t **out, char *err, size_t errlen);

/*
 * Stop the timer thread and free. Waiters still registered are dropped
 * without a wake: call only when no owner is alive (after parking_wake_all
 * and the end of every request). NULL is a no-op.
 */
void parking_free(parking_t *pk);

/*
 * Register w for (topic, partition) until hw > wait_offset or deadline_ms
 * (parking_now_ms() clock; < 0: none; already past: the timer wakes it at
 * once). arm(ctx) runs under the lock first (see above); wake(ctx, why)
 * runs later, once. w must not be registered already.
 * Returns 0 (parked), 1 (arm said ready: not parked), STRAND_ECLOSED
 * (after parking_wake_all: not parked, arm not called), STRAND_ENOMEM,
 * or arm's negative code.
 */
int parking_wait(parking_t *pk, parking_waiter_t *w, const char *topic, int32_t partition,
                 int64_t wait_offset, int64_t deadline_ms,
                 parking_arm_fn arm, parking_wake_fn wake, void *ctx);

/* Remove w if registered (no wake). Returns 1 when it was, else 0. */
int parking_cancel(parking_t *pk, parking_waiter_t *w);

/* The partition's high watermark is now hw: wake its waiters with
 * wait_offset < hw. Any thread (the broker's append hook). */
void parking_notify(parking_t *pk, const char *topic, int32_t partition, int64_t hw);

/* Wake every waiter (PARKING_WOKEN_SHUTDOWN) and refuse later waits. */
void parking_wake_all(parking_t *pk);

/* Waiters registered right now. */
size_t parking_count(parking_t *pk);

/* The registry's clock: CLOCK_MONOTONIC in milliseconds. */
int64_t parking_now_ms(void);

#endif
