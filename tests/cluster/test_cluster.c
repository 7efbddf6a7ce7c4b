/*
 * test_cluster.c — Check suite for src/cluster/cluster.c against a real
 * etcd (etcd_fixture.h): the cluster id created once, registration and the
 * live-broker view, a duplicate broker id refused, one controller and its
 * successor, a deposed controller's writes fenced by etcd, and the local
 * lease deadline running out while etcd is paused (SIGSTOP), and the
 * broker carrying on by itself after etcd is killed and restarted; a join
 * that outlives a paused etcd, and gives up after join_wait_ms.
 *
 * Every test works in the same etcd: each one closes its brokers (which
 * revokes their leases), so the next starts from no brokers and no
 * controller; the cluster id stays, as it does in a real cluster.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cluster/cluster.h"
#include "cluster/etcd.h"
#include "common/clock.h"
#include "common/err.h"
#include "etcd_fixture.h"

static char errbuf[512];

static cluster_t *join(int32_t id, int ttl_s, int keepalive_ms)
{
	char url[64];
	cluster_options_t o;
	cluster_t *c = NULL;
	int rc;

	snprintf(url, sizeof url, "http://127.0.0.1:%d", 9000 + id);
	cluster_options_init(&o);
	o.etcd_endpoints = fixture_etcd.client_url;
	o.broker_id = id;
	o.advertised_url = url;
	o.proposed_cluster_id = id == 1 ? "cluster-one" : "cluster-other";
	o.lease_ttl_s = ttl_s;
	o.keepalive_ms = keepalive_ms;
	rc = cluster_open(&o, &c, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "broker %d: cluster_open: %s", id, errbuf);
	return c;
}

static etcd_t *raw_etcd(void)
{
	etcd_options_t o = { fixture_etcd.client_url, 2000, 0, NULL };
	etcd_t *e = NULL;

	ck_assert_int_eq(etcd_open(&o, &e, errbuf, sizeof errbuf), 0);
	return e;
}

/* Wait (deadline ms) until exactly one of cs[0..n) is controller; its index or -1. */
static int wait_one_controller(cluster_t **cs, int n, int64_t ms)
{
	int64_t end = clock_now_ms() + ms;
	int i, count, who;

	do {
		count = 0;
		who = -1;
		for (i = 0; i < n; i++)
			if (cs[i] != NULL && cluster_is_controller(cs[i], NULL)) {
				count++;
				who = i;
			}
		if (count == 1)
			return who;
		ck_assert_msg(count <= 1, "%d controllers at once", count);
		clock_sleep_ms(20);
	} while (clock_now_ms() < end);
	return -1;
}

START_TEST(test_cluster_id_is_created_once)
{
	cluster_t *a = join(1, 0, 0), *b = join(2, 0, 0);

	/* the first proposal in this etcd wins; the second broker adopts it */
	ck_assert_str_eq(cluster_id(a), "cluster-one");
	ck_assert_str_eq(cluster_id(b), "cluster-one");
	cluster_close(b);
	cluster_close(a);
}
END_TEST

START_TEST(test_live_brokers_are_listed_and_leave_on_close)
{
	cluster_t *a = join(1, 0, 0), *b = join(2, 0, 0), *c = join(10, 0, 0);
	cluster_t *all[] = { a, b, c };
	cluster_view_t v;
	int who;

	who = wait_one_controller(all, 3, 5000);
	ck_assert_int_ge(who, 0);
	ck_assert_int_eq(cluster_describe(a, &v, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(v.n, 3);
	ck_assert_int_eq(v.brokers[0].id, 1);           /* by id, not by key text */
	ck_assert_int_eq(v.brokers[1].id, 2);
	ck_assert_int_eq(v.brokers[2].id, 10);
	ck_assert_str_eq(v.brokers[2].url, "http://127.0.0.1:9010");
	ck_assert_int_eq(v.controller, cluster_broker_id(all[who]));
	cluster_view_free(&v);

	cluster_close(b);                                 /* revokes: gone at once */
	ck_assert_int_eq(cluster_describe(a, &v, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(v.n, 2);
	ck_assert_int_eq(v.brokers[0].id, 1);
	ck_assert_int_eq(v.brokers[1].id, 10);
	cluster_view_free(&v);
	cluster_close(c);
	cluster_close(a);
}
END_TEST

START_TEST(test_duplicate_broker_id_is_refused)
{
	cluster_t *a = join(3, 0, 0), *dup = NULL;
	cluster_options_t o;
	int64_t t0 = clock_now_ms();

	cluster_options_init(&o);
	o.etcd_endpoints = fixture_etcd.client_url;
	o.broker_id = 3;
	o.advertised_url = "http://127.0.0.1:9999";
	o.proposed_cluster_id = "x";
	o.register_wait_ms = 600;
	ck_assert_int_eq(cluster_open(&o, &dup, errbuf, sizeof errbuf), STRAND_EEXIST);
	ck_assert_ptr_null(dup);
	ck_assert_msg(strstr(errbuf, "broker id 3") != NULL, "%s", errbuf);
	ck_assert_int_ge(clock_now_ms() - t0, 600);      /* it waited for the holder to expire */
	ck_assert(cluster_lease_valid(a));
	cluster_close(a);

	/* once the holder has left, the id is free */
	ck_assert_int_eq(cluster_open(&o, &dup, errbuf, sizeof errbuf), 0);
	cluster_close(dup);
}
END_TEST

START_TEST(test_id_of_a_crashed_broker_is_taken_once_its_lease_expires)
{
	etcd_t *e = raw_etcd();
	cluster_options_t o;
	cluster_t *c = NULL;
	cluster_view_t v;
	int64_t lease, ttl, t0;
	const char *stale = "{\"id\":4,\"url\":\"http://127.0.0.1:1\"}";

	/* what a broker killed with -9 leaves behind: its registration, its
	 * lease no longer renewed */
	ck_assert_int_eq(etcd_lease_grant(e, 2, &lease, &ttl, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(etcd_put(e, "/strand/brokers/4", stale, strlen(stale), lease, NULL,
	                          errbuf, sizeof errbuf), 0);
	cluster_options_init(&o);
	o.etcd_endpoints = fixture_etcd.client_url;
	o.broker_id = 4;
	o.advertised_url = "http://127.0.0.1:9004";
	o.proposed_cluster_id = "x";
	o.register_wait_ms = (int)ttl * 1000 + 3000;
	t0 = clock_now_ms();
	ck_assert_msg(cluster_open(&o, &c, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_int_le(clock_now_ms() - t0, ttl * 1000 + 3000);
	ck_assert_int_eq(cluster_describe(c, &v, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(v.n, 1);
	ck_assert_int_eq(v.brokers[0].id, 4);
	ck_assert_str_eq(v.brokers[0].url, "http://127.0.0.1:9004");   /* the new one's */
	cluster_view_free(&v);
	cluster_close(c);
	etcd_close(e);
}
END_TEST

START_TEST(test_controller_moves_when_it_leaves)
{
	cluster_t *cs[3] = { join(1, 0, 0), join(2, 0, 0), join(3, 0, 0) };
	int64_t rev_old, rev_new, t0;
	int first, second;

	first = wait_one_controller(cs, 3, 5000);
	ck_assert_int_ge(first, 0);
	ck_assert(cluster_is_controller(cs[first], &rev_old));
	t0 = clock_now_ms();
	cluster_close(cs[first]);
	cs[first] = NULL;
	/* the others watch the controller key: a deletion elects at once */
	second = wait_one_controller(cs, 3, 3000);
	ck_assert_msg(second >= 0, "no new controller within 3 s");
	ck_assert_int_lt(clock_now_ms() - t0, 1500);
	ck_assert(cluster_is_controller(cs[second], &rev_new));
	ck_assert_int_gt(rev_new, rev_old);
	for (int i = 0; i < 3; i++)
		cluster_close(cs[i]);
}
END_TEST

START_TEST(test_deposed_controller_writes_are_fenced)
{
	/* a renews only every 20 s: it will not notice losing its lease */
	cluster_t *a = join(1, 60, 20000), *b;
	cluster_t *both[2];
	etcd_t *e = raw_etcd();
	etcd_op_t put = { ETCD_OP_PUT, "/strand/test/state", 0, "from-a", 6, 0 };
	etcd_txn_result_t r;
	etcd_kvs_t kvs;
	int64_t rev_a, rev_b;

	both[0] = a;
	both[1] = NULL;
	ck_assert_int_eq(wait_one_controller(both, 1, 5000), 0);
	ck_assert(cluster_is_controller(a, &rev_a));
	ck_assert_int_eq(cluster_controller_txn(a, NULL, 0, &put, 1, &r, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(r.succeeded, 1);
	etcd_kvs_free(&r.kvs);

	/* a is cut off as a pause would: etcd drops its lease; b takes over */
	b = join(2, 0, 0);
	ck_assert_int_eq(etcd_lease_revoke(e, cluster_lease_id(a), errbuf, sizeof errbuf), 0);
	both[0] = NULL;
	both[1] = b;
	ck_assert_int_eq(wait_one_controller(both, 2, 3000), 1);
	ck_assert(cluster_is_controller(b, &rev_b));
	ck_assert_int_gt(rev_b, rev_a);

	/* a still believes it leads (its local deadline is far off) ... */
	ck_assert(cluster_is_controller(a, NULL));
	/* ... but etcd refuses its write */
	put.value = "from-deposed-a";
	put.value_len = strlen(put.value);
	ck_assert_int_eq(cluster_controller_txn(a, NULL, 0, &put, 1, &r, errbuf, sizeof errbuf),
	                 STRAND_EDEPOSED);
	ck_assert(!cluster_is_controller(a, NULL));        /* and now it knows */
	ck_assert_int_eq(etcd_range(e, "/strand/test/state", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 1);
	ck_assert_str_eq(kvs.kvs[0].value, "from-a");
	etcd_kvs_free(&kvs);

	/* the new controller writes; its own compares still decide success */
	put.value = "from-b";
	put.value_len = 6;
	{
		etcd_compare_t stale = { "/strand/test/state", ETCD_TARGET_VERSION, ETCD_CMP_EQUAL, 99 };

		ck_assert_int_eq(cluster_controller_txn(b, &stale, 1, &put, 1, &r, errbuf,
		                                        sizeof errbuf), 0);
		ck_assert_int_eq(r.succeeded, 0);
		ck_assert(cluster_is_controller(b, NULL));  /* a failed compare is not fencing */
	}
	ck_assert_int_eq(cluster_controller_txn(b, NULL, 0, &put, 1, &r, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(r.succeeded, 1);
	etcd_kvs_free(&r.kvs);

	ck_assert_int_eq(etcd_delete(e, "/strand/test/", 1, NULL, errbuf, sizeof errbuf), 0);
	etcd_close(e);
	cluster_close(b);
	cluster_close(a);
}
END_TEST

/* cluster_open in a thread, for the join-while-etcd-is-paused test */
typedef struct join_job {
	cluster_options_t o;
	cluster_t        *c;
	int               rc;
	_Atomic int       done;
	char              err[512];
} join_job_t;

static void *join_thread(void *arg)
{
	join_job_t *j = arg;

	j->rc = cluster_open(&j->o, &j->c, j->err, sizeof j->err);
	atomic_store(&j->done, 1);
	return NULL;
}

START_TEST(test_join_waits_for_a_paused_etcd)
{
	join_job_t j;
	pthread_t t;
	int64_t end;

	memset(&j, 0, sizeof j);
	cluster_options_init(&j.o);
	j.o.etcd_endpoints = fixture_etcd.client_url;
	j.o.broker_id = 6;
	j.o.advertised_url = "http://127.0.0.1:9006";
	j.o.proposed_cluster_id = "x";
	j.o.lease_ttl_s = 2;        /* etcd calls time out after 2000/3 ms */
	j.o.join_wait_ms = 20000;
	/* stopped before the join starts: a join that etcd still answered in
	 * the moment before the stop took effect succeeded "while paused" */
	ck_assert_msg(etcd_fixture_pause(), "etcd never stopped: %c", proc_state(fixture_etcd.pid));
	ck_assert_int_eq(pthread_create(&t, NULL, join_thread, &j), 0);
	/* the fault lasts several call timeouts: the join must outlive them */
	end = clock_now_ms() + 2500;
	while (!atomic_load(&j.done) && clock_now_ms() < end)
		clock_sleep_ms(20);
	ck_assert_msg(!atomic_load(&j.done), "join gave up while etcd was paused: %d %s",
	              j.rc, j.err);
	etcd_fixture_resume();
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(j.rc == 0, "join after etcd resumed: %s", j.err);
	ck_assert(cluster_lease_valid(j.c));
	cluster_close(j.c);

	/* bounded: an etcd that never answers fails the join after join_wait_ms */
	memset(&j, 0, sizeof j);
	cluster_options_init(&j.o);
	j.o.etcd_endpoints = fixture_etcd.client_url;
	j.o.broker_id = 6;
	j.o.advertised_url = "http://127.0.0.1:9006";
	j.o.proposed_cluster_id = "x";
	j.o.lease_ttl_s = 2;
	j.o.join_wait_ms = 1500;
	ck_assert_msg(etcd_fixture_pause(), "etcd never stopped: %c", proc_state(fixture_etcd.pid));
	end = clock_now_ms();
	j.rc = cluster_open(&j.o, &j.c, j.err, sizeof j.err);
	end = clock_now_ms() - end;
	etcd_fixture_resume();
	ck_assert_msg(j.rc == STRAND_ETIMEDOUT || j.rc == STRAND_EIO, "%d %s", j.rc, j.err);
	ck_assert_ptr_null(j.c);
	ck_assert_int_ge(end, 1500 - 200 - 700);   /* the last try starts before the deadline */
	ck_assert_int_le(end, 1500 + 3 * 700);     /* and ends within a few call timeouts */
}
END_TEST

START_TEST(test_lease_runs_out_locally_while_etcd_is_paused)
{
	cluster_t *a = join(1, 2, 0);
	cluster_t *one[1] = { a };
	cluster_view_t v;
	int64_t paused_at, invalid_at, valid_at = 0, deadline, end, before;
	int valid;

	ck_assert_int_eq(wait_one_controller(one, 1, 5000), 0);
	ck_assert(cluster_lease_valid(a));
	/* stopped for certain from paused_at on: no renewal sent after it succeeds */
	ck_assert_msg(etcd_fixture_pause(), "etcd never stopped: %c", proc_state(fixture_etcd.pid));
	paused_at = clock_now_ms();
	deadline = cluster_lease_deadline_ms(a);
	/* no renewal can succeed now: the deadline is at most one TTL away */
	ck_assert_int_le(deadline, paused_at + 2000);
	end = paused_at + 2000 + 1000;
	/* valid_at: a moment before the last call that said valid; invalid_at:
	 * one after the call that said invalid */
	for (;;) {
		before = clock_now_ms();
		valid = cluster_lease_valid(a);
		invalid_at = clock_now_ms();
		if (!valid || invalid_at >= end)
			break;
		valid_at = before;
		clock_sleep_ms(10);
	}
	ck_assert_msg(!valid, "lease still valid %" PRId64 " ms after the pause",
	              invalid_at - paused_at);
	/* the deadline it ran out at: a renewal etcd answered just before it
	 * stopped, whose answer the session thread read only after the pause
	 * began, moved it past the one read above (by up to a renewal period,
	 * 667 ms) — it was sent before the pause, so still within one TTL */
	deadline = cluster_lease_deadline_ms(a);
	ck_assert_int_le(deadline, paused_at + 2000);
	/* on time, by the local clock: valid only before that deadline, invalid
	 * once it passed. (It asserted the poll saw it within 100 ms of it,
	 * which measured how soon a loaded machine woke this loop.) */
	ck_assert_int_lt(valid_at, deadline);
	ck_assert_int_ge(invalid_at, deadline);
	ck_assert(!cluster_is_controller(a, NULL));        /* a stale leader stops at once */

	/* etcd back: the broker renews or registers again, and is listed */
	etcd_fixture_resume();
	end = clock_now_ms() + 8000;
	while (!cluster_lease_valid(a) && clock_now_ms() < end)
		clock_sleep_ms(20);
	ck_assert_msg(cluster_lease_valid(a), "no valid lease 8 s after etcd resumed");
	ck_assert_int_ge(wait_one_controller(one, 1, 5000), 0);
	ck_assert_int_eq(cluster_describe(a, &v, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(v.n, 1);
	ck_assert_int_eq(v.brokers[0].id, 1);
	ck_assert_int_eq(v.controller, 1);
	cluster_view_free(&v);
	cluster_close(a);
}
END_TEST

/* CPU time this process has used, in ms (its session threads included). */
static int64_t cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_broker_survives_an_etcd_restart)
{
	cluster_t *a = join(1, 2, 0), *b;
	cluster_t *one[1] = { a };
	cluster_view_t v;
	int64_t end, cpu0, wall0, cpu_used;

	ck_assert_int_eq(wait_one_controller(one, 1, 5000), 0);
	b = join(2, 2, 0);                      /* not controller: it watches and campaigns */
	/* etcd gone (kill -9: connections refused at once) until the brokers'
	 * own deadlines have passed; they retry without spinning */
	ck_assert_int_eq(proc_stop(fixture_etcd.pid, SIGKILL, 5000), 0);
	cpu0 = cpu_ms();
	wall0 = clock_now_ms();
	end = clock_now_ms() + 2000 + 1000;
	while ((cluster_lease_valid(a) || cluster_lease_valid(b)) && clock_now_ms() < end)
		clock_sleep_ms(10);
	ck_assert(!cluster_lease_valid(a));
	ck_assert(!cluster_lease_valid(b));
	ck_assert(!cluster_is_controller(a, NULL));
	cpu_used = cpu_ms() - cpu0;
	ck_assert_msg(cpu_used * 10 < clock_now_ms() - wall0, "%" PRId64 " ms of CPU in %" PRId64
	              " ms while etcd was down: busy retrying", cpu_used, clock_now_ms() - wall0);

	/* back on the same ports and data: no restart of the broker needed */
	ck_assert_msg(etcd_fixture_kill_and_restart(errbuf, sizeof errbuf) == 0, "%s", errbuf);
	end = clock_now_ms() + 10000;
	while (!cluster_lease_valid(a) && clock_now_ms() < end)
		clock_sleep_ms(20);
	ck_assert_msg(cluster_lease_valid(a), "no valid lease 10 s after etcd came back");
	cluster_close(b);                       /* revokes: a is alone again */
	ck_assert_int_ge(wait_one_controller(one, 1, 5000), 0);
	ck_assert_int_eq(cluster_describe(a, &v, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(v.n, 1);
	ck_assert_int_eq(v.controller, 1);
	ck_assert_str_eq(cluster_id(a), "cluster-one");   /* persisted by etcd */
	cluster_view_free(&v);
	cluster_close(a);
}
END_TEST

static Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("membership");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_cluster_id_is_created_once);
	tcase_add_test(tc, test_live_brokers_are_listed_and_leave_on_close);
	tcase_add_test(tc, test_duplicate_broker_id_is_refused);
	tcase_add_test(tc, test_id_of_a_crashed_broker_is_taken_once_its_lease_expires);
	tcase_add_test(tc, test_controller_moves_when_it_leaves);
	tcase_add_test(tc, test_deposed_controller_writes_are_fenced);
	suite_add_tcase(s, tc);

	tc = tcase_create("paused");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, NULL, etcd_fixture_resume);
	tcase_add_test(tc, test_lease_runs_out_locally_while_etcd_is_paused);
	tcase_add_test(tc, test_join_waits_for_a_paused_etcd);
	suite_add_tcase(s, tc);

	/* last: the etcd it restarts has a pid the other tests do not know */
	tc = tcase_create("restart");
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_broker_survives_an_etcd_restart);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return etcd_fixture_run(cluster_suite());
}
