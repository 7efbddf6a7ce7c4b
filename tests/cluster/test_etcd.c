/*
 * test_etcd.c — Check suite for src/cluster/etcd.c against a real etcd
 * (etcd_fixture.h): keys and prefixes, txn compares on create_revision and
 * mod_revision down both branches, leases (renewal, expiry deleting their
 * keys, revocation), watches from a revision, endpoint failover, and bounded
 * errors from an etcd that is gone or paused.
 */
#include <arpa/inet.h>
#include <check.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cluster/etcd.h"
#include "common/clock.h"
#include "common/err.h"
#include "etcd_fixture.h"

static char errbuf[512];

/* A client of the fixture's etcd (endpoints: extra first, when given). */
static etcd_t *client(const char *extra, int timeout_ms)
{
	char eps[512];
	etcd_options_t o = { eps, timeout_ms, 0, NULL };
	etcd_t *e = NULL;
	int rc;

	if (extra != NULL)
		snprintf(eps, sizeof eps, "%s,%s", extra, fixture_etcd.client_url);
	else
		snprintf(eps, sizeof eps, "%s", fixture_etcd.client_url);
	rc = etcd_open(&o, &e, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "etcd_open: %s", errbuf);
	return e;
}

/* A loopback URL where nothing listens (a port just released). */
static void dead_url(char *out, size_t cap)
{
	/* port 1 on loopback: never an etcd, refused at once */
	snprintf(out, cap, "http://127.0.0.1:1");
}

static void put_str(etcd_t *e, const char *key, const char *value, int64_t lease, int64_t *rev)
{
	int rc = etcd_put(e, key, value, strlen(value), lease, rev, errbuf, sizeof errbuf);

	ck_assert_msg(rc == 0, "put %s: %s", key, errbuf);
}

START_TEST(test_put_get_and_prefix_range)
{
	etcd_t *e = client(NULL, 2000);
	etcd_kvs_t kvs;
	int64_t rev1, rev2, deleted = -1;
	static const char binary[] = { 'a', '\0', (char)0xff, 'z' };

	put_str(e, "/t1/a", "one", 0, &rev1);
	put_str(e, "/t1/b", "two", 0, &rev2);
	put_str(e, "/t10", "outside the prefix /t1/", 0, NULL);
	ck_assert_int_gt(rev2, rev1);
	ck_assert_int_eq(etcd_put(e, "/t1/bin", binary, sizeof binary, 0, NULL,
	                          errbuf, sizeof errbuf), 0);

	ck_assert_int_eq(etcd_range(e, "/t1/a", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 1);
	ck_assert_str_eq(kvs.kvs[0].key, "/t1/a");
	ck_assert_str_eq(kvs.kvs[0].value, "one");
	ck_assert_int_eq(kvs.kvs[0].create_revision, rev1);
	ck_assert_int_eq(kvs.kvs[0].mod_revision, rev1);
	ck_assert_int_eq(kvs.kvs[0].version, 1);
	ck_assert_int_ge(kvs.revision, rev2);
	etcd_kvs_free(&kvs);

	ck_assert_int_eq(etcd_range(e, "/t1/", 1, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 3);
	ck_assert_str_eq(kvs.kvs[0].key, "/t1/a");
	ck_assert_str_eq(kvs.kvs[1].key, "/t1/b");
	ck_assert_str_eq(kvs.kvs[2].key, "/t1/bin");
	ck_assert_uint_eq(kvs.kvs[2].value_len, sizeof binary);
	ck_assert(memcmp(kvs.kvs[2].value, binary, sizeof binary) == 0);
	etcd_kvs_free(&kvs);

	ck_assert_int_eq(etcd_range(e, "/t1/missing", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 0);
	etcd_kvs_free(&kvs);

	ck_assert_int_eq(etcd_delete(e, "/t1/", 1, &deleted, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(deleted, 3);
	ck_assert_int_eq(etcd_range(e, "/t1", 1, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 1);             /* only /t10 is left */
	ck_assert_str_eq(kvs.kvs[0].key, "/t10");
	etcd_kvs_free(&kvs);
	etcd_close(e);
}
END_TEST

START_TEST(test_txn_create_revision_zero_creates_once)
{
	etcd_t *e = client(NULL, 2000);
	etcd_compare_t absent = { "/t2/id", ETCD_TARGET_CREATE, ETCD_CMP_EQUAL, 0 };
	etcd_op_t put_a = { ETCD_OP_PUT, "/t2/id", 0, "first", 5, 0 };
	etcd_op_t put_b = { ETCD_OP_PUT, "/t2/id", 0, "second", 6, 0 };
	etcd_op_t get = { ETCD_OP_RANGE, "/t2/id", 0, NULL, 0, 0 };
	etcd_txn_result_t r;

	ck_assert_int_eq(etcd_txn(e, &absent, 1, &put_a, 1, &get, 1, &r, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(r.succeeded, 1);
	ck_assert_uint_eq(r.kvs.n, 0);           /* the success branch read nothing */
	etcd_kvs_free(&r.kvs);

	/* second creator: compare fails, the failure branch reads the winner */
	ck_assert_int_eq(etcd_txn(e, &absent, 1, &put_b, 1, &get, 1, &r, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(r.succeeded, 0);
	ck_assert_uint_eq(r.kvs.n, 1);
	ck_assert_str_eq(r.kvs.kvs[0].value, "first");
	etcd_kvs_free(&r.kvs);
	etcd_close(e);
}
END_TEST

START_TEST(test_txn_mod_revision_compare_and_swap)
{
	etcd_t *e = client(NULL, 2000);
	etcd_compare_t cas = { "/t3/state", ETCD_TARGET_MOD, ETCD_CMP_EQUAL, 0 };
	etcd_op_t put = { ETCD_OP_PUT, "/t3/state", 0, "v2", 2, 0 };
	etcd_op_t get = { ETCD_OP_RANGE, "/t3/state", 0, NULL, 0, 0 };
	etcd_txn_result_t r;
	etcd_kvs_t kvs;
	int64_t rev1;

	put_str(e, "/t3/state", "v1", 0, &rev1);
	cas.number = rev1;
	ck_assert_int_eq(etcd_txn(e, &cas, 1, &put, 1, NULL, 0, &r, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(r.succeeded, 1);
	ck_assert_int_gt(r.revision, rev1);
	etcd_kvs_free(&r.kvs);

	/* the same compare again: stale now, nothing written */
	put.value = "v3";
	ck_assert_int_eq(etcd_txn(e, &cas, 1, &put, 1, &get, 1, &r, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(r.succeeded, 0);
	ck_assert_uint_eq(r.kvs.n, 1);
	ck_assert_str_eq(r.kvs.kvs[0].value, "v2");
	etcd_kvs_free(&r.kvs);

	ck_assert_int_eq(etcd_range(e, "/t3/state", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_str_eq(kvs.kvs[0].value, "v2");
	ck_assert_int_eq(kvs.kvs[0].version, 2);
	etcd_kvs_free(&kvs);
	etcd_close(e);
}
END_TEST

/* Wait until key is gone, up to ms; returns the milliseconds it took or -1. */
static int64_t wait_key_gone(etcd_t *e, const char *key, int64_t ms)
{
	int64_t start = clock_now_ms();
	etcd_kvs_t kvs;
	size_t n;

	for (;;) {
		ck_assert_int_eq(etcd_range(e, key, 0, &kvs, errbuf, sizeof errbuf), 0);
		n = kvs.n;
		etcd_kvs_free(&kvs);
		if (n == 0)
			return clock_now_ms() - start;
		if (clock_now_ms() - start > ms)
			return -1;
		clock_sleep_ms(50);
	}
}

START_TEST(test_lease_keepalive_expiry_and_revoke)
{
	etcd_t *e = client(NULL, 2000);
	int64_t id, ttl, left, gone;
	etcd_kvs_t kvs;

	ck_assert_int_eq(etcd_lease_grant(e, 2, &id, &ttl, errbuf, sizeof errbuf), 0);
	ck_assert_int_ge(ttl, 2);
	put_str(e, "/t4/owned", "x", id, NULL);
	ck_assert_int_eq(etcd_range(e, "/t4/owned", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 1);
	ck_assert_int_eq(kvs.kvs[0].lease, id);
	etcd_kvs_free(&kvs);

	/* renewing for longer than the TTL keeps the key */
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(etcd_lease_keepalive(e, id, &left, errbuf, sizeof errbuf), 0);
		ck_assert_int_eq(left, ttl);
		clock_sleep_ms(ttl * 1000 / 3);
	}
	ck_assert_int_eq(etcd_range(e, "/t4/owned", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 1);
	etcd_kvs_free(&kvs);

	/* left alone it expires and takes the key with it */
	gone = wait_key_gone(e, "/t4/owned", ttl * 1000 + 5000);
	ck_assert_msg(gone >= 0, "the leased key outlived its lease");
	ck_assert_int_eq(etcd_lease_keepalive(e, id, NULL, errbuf, sizeof errbuf), STRAND_ENOENT);
	ck_assert_int_eq(etcd_put(e, "/t4/late", "y", 1, id, NULL, errbuf, sizeof errbuf),
	                 STRAND_ENOENT);

	/* revoking deletes at once */
	ck_assert_int_eq(etcd_lease_grant(e, 30, &id, NULL, errbuf, sizeof errbuf), 0);
	put_str(e, "/t4/revoked", "z", id, NULL);
	ck_assert_int_eq(etcd_lease_revoke(e, id, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(etcd_range(e, "/t4/revoked", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 0);
	etcd_kvs_free(&kvs);
	ck_assert_int_eq(etcd_lease_revoke(e, id, errbuf, sizeof errbuf), STRAND_ENOENT);
	etcd_close(e);
}
END_TEST

#define MAX_SEEN 16

typedef struct seen {
	int     n, stop_after;
	int     type[MAX_SEEN];
	char    key[MAX_SEEN][32];
	char    value[MAX_SEEN][32];
	int64_t rev[MAX_SEEN];
} seen_t;

static int record_event(void *arg, const etcd_event_t *ev)
{
	seen_t *s = arg;

	if (s->n < MAX_SEEN) {
		s->type[s->n] = ev->type;
		snprintf(s->key[s->n], sizeof s->key[0], "%s", ev->kv->key);
		snprintf(s->value[s->n], sizeof s->value[0], "%s", ev->kv->value);
		s->rev[s->n] = ev->kv->mod_revision;
	}
	s->n++;
	return s->n >= s->stop_after;
}

START_TEST(test_watch_from_revision_sees_puts_and_deletes_in_order)
{
	etcd_t *e = client(NULL, 2000);
	seen_t s;
	int64_t r1, r2, r3, next;
	int rc;

	put_str(e, "/t5/a", "1", 0, &r1);
	put_str(e, "/t5/b", "2", 0, &r2);
	put_str(e, "/t6/other", "not watched", 0, NULL);
	ck_assert_int_eq(etcd_delete(e, "/t5/a", 0, NULL, errbuf, sizeof errbuf), 0);
	put_str(e, "/t5/b", "3", 0, &r3);

	memset(&s, 0, sizeof s);
	s.stop_after = 4;
	rc = etcd_watch(e, "/t5/", 1, r1, 5000, record_event, &s, &next, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "watch: %d %s", rc, errbuf);
	ck_assert_int_eq(s.n, 4);
	ck_assert_int_eq(s.type[0], ETCD_EVENT_PUT);
	ck_assert_str_eq(s.key[0], "/t5/a");
	ck_assert_int_eq(s.rev[0], r1);
	ck_assert_int_eq(s.type[1], ETCD_EVENT_PUT);
	ck_assert_str_eq(s.key[1], "/t5/b");
	ck_assert_int_eq(s.type[2], ETCD_EVENT_DELETE);
	ck_assert_str_eq(s.key[2], "/t5/a");
	ck_assert_int_eq(s.type[3], ETCD_EVENT_PUT);
	ck_assert_str_eq(s.value[3], "3");
	ck_assert_int_eq(s.rev[3], r3);
	ck_assert_int_eq(next, r3 + 1);
	for (int i = 1; i < 4; i++)
		ck_assert_int_gt(s.rev[i], s.rev[i - 1]);

	/* resuming from next with nothing new: a bounded wait, no event, same next */
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	int64_t t0 = clock_now_ms();
	rc = etcd_watch(e, "/t5/", 1, r3 + 1, 300, record_event, &s, &next, errbuf, sizeof errbuf);
	ck_assert_int_eq(rc, STRAND_ETIMEDOUT);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(next, r3 + 1);
	ck_assert_int_lt(clock_now_ms() - t0, 2000);
	etcd_close(e);
}
END_TEST

START_TEST(test_failover_to_the_next_endpoint)
{
	char dead[64];
	etcd_t *e;
	etcd_kvs_t kvs;
	int64_t t0;

	dead_url(dead, sizeof dead);
	e = client(dead, 2000);
	ck_assert_str_eq(etcd_current_endpoint(e), dead);
	t0 = clock_now_ms();
	put_str(e, "/t7/k", "v", 0, NULL);            /* refused by the first, done by the second */
	ck_assert_str_eq(etcd_current_endpoint(e), fixture_etcd.client_url);
	ck_assert_int_eq(etcd_range(e, "/t7/k", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 1);
	etcd_kvs_free(&kvs);
	ck_assert_int_lt(clock_now_ms() - t0, 2000);
	etcd_close(e);
}
END_TEST

/*
 * A listening socket that never accepts: connections complete (the kernel's
 * backlog) and requests are never answered, as with a member that hangs.
 * Its URL into out; the socket to close.
 */
static int blackhole(char *out, size_t cap)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(out, cap, "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	return fd;
}

START_TEST(test_hung_endpoint_reads_fail_over_writes_are_not_replayed)
{
	char hung[64];
	int fd = blackhole(hung, sizeof hung);
	etcd_t *e = client(hung, 300);
	etcd_compare_t absent = { "/t9/once", ETCD_TARGET_CREATE, ETCD_CMP_EQUAL, 0 };
	etcd_op_t put = { ETCD_OP_PUT, "/t9/once", 0, "x", 1, 0 };
	etcd_txn_result_t r;
	etcd_kvs_t kvs;
	int64_t t0 = clock_now_ms();

	/* a write txn sent to the hung member may have been applied: not replayed */
	ck_assert_int_eq(etcd_txn(e, &absent, 1, &put, 1, NULL, 0, &r, errbuf, sizeof errbuf),
	                 STRAND_ETIMEDOUT);
	ck_assert_str_eq(etcd_current_endpoint(e), hung);
	/* a read times out there and is answered by the next member */
	ck_assert_int_eq(etcd_range(e, "/t9/once", 0, &kvs, errbuf, sizeof errbuf), 0);
	ck_assert_uint_eq(kvs.n, 0);
	etcd_kvs_free(&kvs);
	ck_assert_str_eq(etcd_current_endpoint(e), fixture_etcd.client_url);
	/* from now on the live member is asked first: no more waiting */
	ck_assert_int_eq(etcd_txn(e, &absent, 1, &put, 1, NULL, 0, &r, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(r.succeeded, 1);
	etcd_kvs_free(&r.kvs);
	ck_assert_int_lt(clock_now_ms() - t0, 3 * 300 + 500);
	etcd_close(e);
	close(fd);
}
END_TEST

START_TEST(test_unreachable_etcd_fails_fast)
{
	char dead[64];
	etcd_t *e;
	etcd_options_t o = { dead, 500, 0, NULL };
	int64_t t0, id;
	etcd_kvs_t kvs;

	dead_url(dead, sizeof dead);
	ck_assert_int_eq(etcd_open(&o, &e, errbuf, sizeof errbuf), 0);
	t0 = clock_now_ms();
	ck_assert_int_eq(etcd_range(e, "/x", 0, &kvs, errbuf, sizeof errbuf), STRAND_EIO);
	ck_assert_msg(strstr(errbuf, "127.0.0.1:1") != NULL, "message names the endpoint: %s",
	              errbuf);
	ck_assert_int_eq(etcd_lease_grant(e, 5, &id, NULL, errbuf, sizeof errbuf), STRAND_EIO);
	ck_assert_int_lt(clock_now_ms() - t0, 1000);
	etcd_close(e);
}
END_TEST

START_TEST(test_paused_etcd_times_out_in_bound)
{
	etcd_t *e = client(NULL, 300);
	etcd_kvs_t kvs;
	int64_t t0, took, ttl;
	seen_t s;

	put_str(e, "/t8/k", "v", 0, NULL);          /* connected while it runs */
	ck_assert_int_eq(kill(fixture_etcd.pid, SIGSTOP), 0);
	/* a stop takes effect when each of etcd's threads next runs: on a
	 * loaded machine that is not at once, so wait until the kernel says
	 * the process is stopped before timing anything */
	ck_assert_msg(proc_wait_stopped(fixture_etcd.pid, 10000), "etcd (pid %ld) never stopped: %c",
	              (long)fixture_etcd.pid, proc_state(fixture_etcd.pid));
	t0 = clock_now_ms();
	ck_assert_int_eq(etcd_range(e, "/t8/k", 0, &kvs, errbuf, sizeof errbuf), STRAND_ETIMEDOUT);
	ck_assert_int_eq(etcd_lease_keepalive(e, 1, &ttl, errbuf, sizeof errbuf), STRAND_ETIMEDOUT);
	/* a write that timed out may or may not have happened: ETIMEDOUT says so */
	ck_assert_int_eq(etcd_put(e, "/t8/k", "w", 1, 0, NULL, errbuf, sizeof errbuf),
	                 STRAND_ETIMEDOUT);
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	ck_assert_int_eq(etcd_watch(e, "/t8/", 1, 0, 300, record_event, &s, NULL,
	                            errbuf, sizeof errbuf), STRAND_ETIMEDOUT);
	took = clock_now_ms() - t0;
	ck_assert_msg(took < 4 * 300 + 700, "4 calls of 300 ms took %" PRId64 " ms", took);
	etcd_fixture_resume();
	ck_assert_int_eq(etcd_range(e, "/t8/k", 0, &kvs, errbuf, sizeof errbuf), 0);
	etcd_kvs_free(&kvs);
	etcd_close(e);
}
END_TEST

START_TEST(test_bad_endpoint_lists_are_refused)
{
	etcd_t *e = NULL;
	etcd_options_t o = { "", 0, 0, NULL };

	ck_assert_int_eq(etcd_open(&o, &e, errbuf, sizeof errbuf), STRAND_EINVAL);
	o.endpoints = "127.0.0.1:2379";
	ck_assert_int_eq(etcd_open(&o, &e, errbuf, sizeof errbuf), STRAND_EINVAL);
	ck_assert_msg(strstr(errbuf, "http://") != NULL, "%s", errbuf);
	o.endpoints = ",,";
	ck_assert_int_eq(etcd_open(&o, &e, errbuf, sizeof errbuf), STRAND_EINVAL);
	ck_assert_ptr_null(e);
	o.endpoints = "http://a:1/,http://b:2";
	ck_assert_int_eq(etcd_open(&o, &e, errbuf, sizeof errbuf), 0);
	ck_assert_str_eq(etcd_current_endpoint(e), "http://a:1");
	etcd_close(e);
}
END_TEST

static Suite *etcd_suite(void)
{
	Suite *s = suite_create("etcd");
	TCase *tc = tcase_create("client");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_put_get_and_prefix_range);
	tcase_add_test(tc, test_txn_create_revision_zero_creates_once);
	tcase_add_test(tc, test_txn_mod_revision_compare_and_swap);
	tcase_add_test(tc, test_lease_keepalive_expiry_and_revoke);
	tcase_add_test(tc, test_watch_from_revision_sees_puts_and_deletes_in_order);
	tcase_add_test(tc, test_failover_to_the_next_endpoint);
	tcase_add_test(tc, test_hung_endpoint_reads_fail_over_writes_are_not_replayed);
	tcase_add_test(tc, test_unreachable_etcd_fails_fast);
	tcase_add_test(tc, test_bad_endpoint_lists_are_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("paused");
	tcase_set_timeout(tc, 30);
	/* runs in the forked test process too: etcd resumes even if the test fails */
	tcase_add_checked_fixture(tc, NULL, etcd_fixture_resume);
	tcase_add_test(tc, test_paused_etcd_times_out_in_bound);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return etcd_fixture_run(etcd_suite());
}
