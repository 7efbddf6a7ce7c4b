/*
 * test_parking.c — the long-poll waiter registry (api/parking.c), without
 * HTTP: owners are plain structs whose wake callback signals a condition
 * variable. Every wait has a deadline (a failed test times out, it never
 * hangs) and no test sleeps to let things settle.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/parking.h"
#include "common/err.h"

/* ---- an owner ----------------------------------------------------------- */

typedef struct owner {
	parking_waiter_t  w;
	pthread_mutex_t   mu;
	pthread_cond_t    cv;     /* CLOCK_MONOTONIC */
	int               wakes;
	parking_reason_t  why;
	int64_t           woken_at_ms;
	atomic_int_fast64_t *hw; /* for arm: the partition's simulated hw */
	int64_t           want;   /* arm: ready when *hw > want */
	int               arm_rc; /* arm's answer when hw is not there */
	int               armed;
} owner_t;

static void owner_init(owner_t *o)
{
	pthread_condattr_t ca;

	memset(o, 0, sizeof *o);
	parking_waiter_init(&o->w);
	pthread_mutex_init(&o->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cv, &ca);
	pthread_condattr_destroy(&ca);
}

static void owner_destroy(owner_t *o)
{
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
}

static void owner_wake(void *ctx, parking_reason_t why)
{
	owner_t *o = ctx;

	pthread_mutex_lock(&o->mu);
	o->wakes++;
	o->why = why;
	o->woken_at_ms = parking_now_ms();
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

static int owner_arm(void *ctx)
{
	owner_t *o = ctx;

	o->armed++;
	if (o->hw != NULL && atomic_load(o->hw) > o->want)
		return 1;
	return o->arm_rc;
}

/* Wait until the owner has been woken at least n times, or timeout_ms. */
static int owner_wait_wakes(owner_t *o, int n, int timeout_ms)
{
	int64_t until = parking_now_ms() + timeout_ms;
	struct timespec ts = { (time_t)(until / 1000), (long)(until % 1000) * 1000000 };
	int ok;

	pthread_mutex_lock(&o->mu);
	while (o->wakes < n)
		if (pthread_cond_timedwait(&o->cv, &o->mu, &ts) != 0)
			break;
	ok = o->wakes >= n;
	pthread_mutex_unlock(&o->mu);
	return ok;
}

static int owner_wakes(owner_t *o)
{
	int n;

	pthread_mutex_lock(&o->mu);
	n = o->wakes;
	pthread_mutex_unlock(&o->mu);
	return n;
}

static parking_t *new_registry(void)
{
	parking_t *pk = NULL;
	char err[128] = "";

	ck_assert_msg(parking_new(&pk, err, sizeof err) == 0, "parking_new: %s", err);
	return pk;
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_append_past_the_offset_wakes_only_that_partition)
{
	parking_t *pk = new_registry();
	owner_t o;

	owner_init(&o);
	ck_assert_int_eq(parking_wait(pk, &o.w, "orders", 2, 5, -1, owner_arm, owner_wake, &o), 0);
	ck_assert_int_eq(o.armed, 1);
	ck_assert_uint_eq(parking_count(pk), 1);
	parking_notify(pk, "orders", 2, 5);    /* not past 5 */
	parking_notify(pk, "orders", 1, 100);  /* other partition */
	parking_notify(pk, "order", 2, 100);   /* other topic */
	parking_notify(pk, "orders2", 2, 100);
	ck_assert_int_eq(owner_wakes(&o), 0);
	parking_notify(pk, "orders", 2, 6);
	ck_assert_int_eq(owner_wakes(&o), 1);   /* synchronous: on the notifying thread */
	ck_assert_int_eq(o.why, PARKING_WOKEN_DATA);
	ck_assert_uint_eq(parking_count(pk), 0);
	parking_notify(pk, "orders", 2, 7);     /* woken once only */
	ck_assert_int_eq(owner_wakes(&o), 1);
	parking_free(pk);
	owner_destroy(&o);
}
END_TEST

START_TEST(test_deadline_wakes_through_the_timer)
{
	parking_t *pk = new_registry();
	owner_t past, soon, later;
	int64_t t0 = parking_now_ms();

	owner_init(&past);
	owner_init(&soon);
	owner_init(&later);
	ck_assert_int_eq(parking_wait(pk, &later.w, "t", 0, 0, t0 + 60000, NULL, owner_wake, &later), 0);
	ck_assert_int_eq(parking_wait(pk, &past.w, "t", 0, 0, t0 - 10, NULL, owner_wake, &past), 0);
	ck_assert_int_eq(parking_wait(pk, &soon.w, "t", 0, 0, t0 + 20, NULL, owner_wake, &soon), 0);
	ck_assert_msg(owner_wait_wakes(&past, 1, 5000), "a past deadline was not woken");
	ck_assert_msg(owner_wait_wakes(&soon, 1, 5000), "a 20 ms deadline was not woken");
	ck_assert_int_eq(past.why, PARKING_WOKEN_DEADLINE);
	ck_assert_int_eq(soon.why, PARKING_WOKEN_DEADLINE);
	ck_assert_msg(soon.woken_at_ms >= t0 + 20, "woken %lld ms early",
	              (long long)(t0 + 20 - soon.woken_at_ms));
	printf("deadline of 20 ms woken after %lld ms\n", (long long)(soon.woken_at_ms - t0));
	ck_assert_int_eq(owner_wakes(&later), 0);
	ck_assert_uint_eq(parking_count(pk), 1);
	ck_assert_int_eq(parking_cancel(pk, &later.w), 1);
	ck_assert_int_eq(parking_cancel(pk, &later.w), 0);
	ck_assert_uint_eq(parking_count(pk), 0);
	parking_free(pk);
	owner_destroy(&past);
	owner_destroy(&soon);
	owner_destroy(&later);
}
END_TEST

START_TEST(test_arm_decides_under_the_lock)
{
	parking_t *pk = new_registry();
	atomic_int_fast64_t hw = 10;
	owner_t o;

	owner_init(&o);
	o.hw = &hw;
	o.want = 9;      /* data already there: not parked */
	ck_assert_int_eq(parking_wait(pk, &o.w, "t", 0, 9, parking_now_ms() + 1000,
	                              owner_arm, owner_wake, &o), 1);
	ck_assert_uint_eq(parking_count(pk), 0);
	o.want = 10;
	o.arm_rc = STRAND_ECLOSED;   /* arm's own failure: not parked */
	ck_assert_int_eq(parking_wait(pk, &o.w, "t", 0, 10, parking_now_ms() + 1000,
	                              owner_arm, owner_wake, &o), STRAND_ECLOSED);
	ck_assert_uint_eq(parking_count(pk), 0);
	o.arm_rc = 0;
	ck_assert_int_eq(parking_wait(pk, &o.w, "t", 0, 10, parking_now_ms() + 60000,
	                              owner_arm, owner_wake, &o), 0);
	ck_assert_int_eq(parking_wait(pk, &o.w, "t", 0, 10, -1, owner_arm, owner_wake, &o),
	                 STRAND_EINVAL);   /* already registered */
	ck_assert_uint_eq(parking_count(pk), 1);
	ck_assert_int_eq(owner_wakes(&o), 0);
	parking_free(pk);
	owner_destroy(&o);
}
END_TEST

/* ---- no lost wake-ups ----------------------------------------------------- */

#define RACE_APPENDERS   4
#define RACE_CONSUMERS   8
#define RACE_APPENDS     3000   /* per appender */

typedef struct race {
	parking_t           *pk;
	atomic_int_fast64_t  hw;
	owner_t              owners[RACE_CONSUMERS];
	int                  lost[RACE_CONSUMERS];
	int64_t              parks[RACE_CONSUMERS];
} race_t;

typedef struct race_arg { race_t *r; int i; } race_arg_t;

static void *race_appender(void *arg)
{
	race_t *r = arg;
	int i;

	for (i = 0; i < RACE_APPENDS; i++) {
		/* as broker_append: the append is visible, then the hook runs */
		int64_t hw = atomic_fetch_add(&r->hw, 1) + 1;

		parking_notify(r->pk, "race", 0, hw);
	}
	return NULL;
}

/* A consumer reads up to hw, then waits for more, as a long poll does. */
static void *race_consumer(void *arg)
{
	race_arg_t *a = arg;
	race_t *r = a->r;
	owner_t *o = &r->owners[a->i];
	const int64_t total = (int64_t)RACE_APPENDERS * RACE_APPENDS;
	int64_t seen = 0;
	int rc, waited = 0;

	while (seen < total) {
		seen = atomic_load(&r->hw);
		if (seen >= total)
			break;
		o->want = seen;
		/* no deadline: only an append can wake it, so a lost wake-up hangs */
		rc = parking_wait(r->pk, &o->w, "race", 0, seen, -1, owner_arm, owner_wake, o);
		if (rc == 1)
			continue;
		ck_assert_int_eq(rc, 0);
		r->parks[a->i]++;
		if (!owner_wait_wakes(o, ++waited, 10000)) {
			r->lost[a->i] = 1;
			parking_cancel(r->pk, &o->w);
			return NULL;
		}
	}
	return NULL;
}

START_TEST(test_no_lost_wakeups_under_concurrent_appends)
{
	race_t *r = calloc(1, sizeof *r);
	pthread_t app[RACE_APPENDERS], con[RACE_CONSUMERS];
	race_arg_t args[RACE_CONSUMERS];
	int64_t parks = 0;
	int i;

	r->pk = new_registry();
	atomic_init(&r->hw, 0);
	for (i = 0; i < RACE_CONSUMERS; i++) {
		owner_init(&r->owners[i]);
		r->owners[i].hw = &r->hw;
		args[i].r = r;
		args[i].i = i;
		ck_assert_int_eq(pthread_create(&con[i], NULL, race_consumer, &args[i]), 0);
	}
	for (i = 0; i < RACE_APPENDERS; i++)
		ck_assert_int_eq(pthread_create(&app[i], NULL, race_appender, r), 0);
	for (i = 0; i < RACE_APPENDERS; i++)
		pthread_join(app[i], NULL);
	for (i = 0; i < RACE_CONSUMERS; i++) {
		pthread_join(con[i], NULL);
		ck_assert_msg(!r->lost[i], "consumer %d lost a wake-up (hw %lld)", i,
		              (long long)atomic_load(&r->hw));
		parks += r->parks[i];
	}
	printf("race: %d consumers parked %lld times over %d appends, none lost\n",
	       RACE_CONSUMERS, (long long)parks, RACE_APPENDERS * RACE_APPENDS);
	ck_assert_uint_eq(parking_count(r->pk), 0);
	parking_free(r->pk);
	for (i = 0; i < RACE_CONSUMERS; i++)
		owner_destroy(&r->owners[i]);
	free(r);
}
END_TEST

START_TEST(test_shutdown_wakes_all_and_refuses_new_waits)
{
	parking_t *pk = new_registry();
	owner_t *o = calloc(100, sizeof *o);
	owner_t late;
	int i;

	for (i = 0; i < 100; i++) {
		owner_init(&o[i]);
		ck_assert_int_eq(parking_wait(pk, &o[i].w, "t", i % 7, 0,
		                              i % 2 ? -1 : parking_now_ms() + 60000,
		                              NULL, owner_wake, &o[i]), 0);
	}
	ck_assert_uint_eq(parking_count(pk), 100);
	parking_wake_all(pk);
	ck_assert_uint_eq(parking_count(pk), 0);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(owner_wakes(&o[i]), 1);
		ck_assert_int_eq(o[i].why, PARKING_WOKEN_SHUTDOWN);
	}
	owner_init(&late);
	ck_assert_int_eq(parking_wait(pk, &late.w, "t", 0, 0, -1, owner_arm, owner_wake, &late),
	                 STRAND_ECLOSED);
	ck_assert_int_eq(late.armed, 0);
	parking_free(pk);
	for (i = 0; i < 100; i++)
		owner_destroy(&o[i]);
	owner_destroy(&late);
	free(o);
}
END_TEST

/* ---- 10,000 waiters ------------------------------------------------------- */

#define MANY 10000

static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_deadline_woken;
static int deadline_order_ok = 1;

/* Deadline wakes must come earliest first (the heap's order). */
static void many_wake(void *ctx, parking_reason_t why)
{
	owner_t *o = ctx;

	if (why == PARKING_WOKEN_DEADLINE) {
		pthread_mutex_lock(&order_mu);
		if (o->w.deadline_ms < last_deadline_woken)
			deadline_order_ok = 0;
		last_deadline_woken = o->w.deadline_ms;
		pthread_mutex_unlock(&order_mu);
	}
	owner_wake(ctx, why);
}

START_TEST(test_ten_thousand_waiters)
{
	parking_t *pk = new_registry();
	owner_t *o = calloc(MANY, sizeof *o);
	int64_t t0 = parking_now_ms();
	char topics[4][8] = { "a", "b", "c", "d" };
	int i, data = 0, deadline = 0, cancelled = 0;

	srand(7);
	for (i = 0; i < MANY; i++) {
		owner_init(&o[i]);
		/* deadlines spread over 5000..5200 ms, in random order (registering
		 * 10,000 under sanitizers must not outlast the first one: it took
		 * over a second on a loaded shared machine) */
		ck_assert_int_eq(parking_wait(pk, &o[i].w, topics[i % 4], i % 25, i % 10,
		                              t0 + 5000 + rand() % 200, NULL, many_wake, &o[i]), 0);
	}
	ck_assert_uint_eq(parking_count(pk), MANY);
	/* cancel every 7th (removal from the middle of the heap) */
	for (i = 0; i < MANY; i += 7) {
		ck_assert_int_eq(parking_cancel(pk, &o[i].w), 1);
		cancelled++;
	}
	/* topic "a", partitions 0..24: hw 5 wakes those waiting at offsets < 5 */
	for (i = 0; i < 25; i++)
		parking_notify(pk, "a", i, 5);
	for (i = 0; i < MANY; i++) {
		if (i % 7 == 0)
			continue;
		if (i % 4 == 0 && i % 10 < 5) {
			ck_assert_int_eq(owner_wakes(&o[i]), 1);
			ck_assert_int_eq(o[i].why, PARKING_WOKEN_DATA);
			data++;
		}
	}
	ck_assert_uint_eq(parking_count(pk), (size_t)(MANY - cancelled - data));
	for (i = 0; i < MANY; i++) {
		if (i % 7 == 0 || (i % 4 == 0 && i % 10 < 5))
			continue;
		ck_assert_msg(owner_wait_wakes(&o[i], 1, 10000), "waiter %d never woken", i);
		ck_assert_int_eq(o[i].why, PARKING_WOKEN_DEADLINE);
		deadline++;
	}
	ck_assert_uint_eq(parking_count(pk), 0);
	ck_assert_msg(deadline_order_ok, "deadlines were not woken earliest first");
	for (i = 0; i < MANY; i++) {
		ck_assert_int_le(owner_wakes(&o[i]), 1);
		if (i % 7 == 0)
			ck_assert_int_eq(owner_wakes(&o[i]), 0);
		owner_destroy(&o[i]);
	}
	printf("10000 waiters: %d by data, %d by deadline, %d cancelled\n", data, deadline,
	       cancelled);
	parking_free(pk);
	free(o);
}
END_TEST

static Suite *parking_suite(void)
{
	Suite *s = suite_create("parking");
	TCase *tc = tcase_create("registry");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_append_past_the_offset_wakes_only_that_partition);
	tcase_add_test(tc, test_deadline_wakes_through_the_timer);
	tcase_add_test(tc, test_arm_decides_under_the_lock);
	tcase_add_test(tc, test_no_lost_wakeups_under_concurrent_appends);
	tcase_add_test(tc, test_shutdown_wakes_all_and_refuses_new_waits);
	tcase_add_test(tc, test_ten_thousand_waiters);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(parking_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
