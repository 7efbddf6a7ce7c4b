/*
 * test_replica.c — Check suite for src/broker/replica.c: the partition
 * state applied from etcd (roles, version ordering), the role, ISR and
 * lease hooks, and cluster mode staying off on a single node. Every test
 * runs in its own temporary data directory, as broker id 1.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/broker.h"
#include "broker/replica.h"
#include "common/err.h"

static char data_dir[] = "/tmp/strand-replica-XXXXXX";
static char errbuf[512];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	strcpy(data_dir, "/tmp/strand-replica-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(data_dir));
	errbuf[0] = '\0';
}

static void teardown(void)
{
	nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static broker_t *open_broker(void)
{
	broker_options_t opts = { data_dir, 1, "http://127.0.0.1:0", 1000, 0, { 0, 0, 0 } };
	broker_t *b = NULL;
	int rc = broker_open(&opts, &b, errbuf, sizeof(errbuf));

	ck_assert_msg(rc == 0, "broker_open: %d %s", rc, errbuf);
	return b;
}

/* A state with replicas {1,2,3}, the given leader, epoch, isr and version. */
static partition_state_t state(int32_t leader, int32_t epoch, int32_t nisr, int64_t version)
{
	partition_state_t st;

	memset(&st, 0, sizeof(st));
	st.nreplicas = 3;
	st.replicas[0] = 1;
	st.replicas[1] = 2;
	st.replicas[2] = 3;
	st.leader = leader;
	st.leader_epoch = epoch;
	st.nisr = nisr;
	for (int32_t i = 0; i < nisr; i++)
		st.isr[i] = i + 1;
	st.version = version;
	return st;
}

/* A broker in cluster mode (a lease check set, always valid) with topic t of rf 3. */
static int always_valid(void *ctx)
{
	return 1;
}

static broker_t *open_cluster_broker(int32_t partitions)
{
	broker_t *b = open_broker();
	int rc;

	broker_set_lease_check(b, always_valid, NULL);
	rc = broker_topic_create(b, "t", partitions, 3, NULL, errbuf, sizeof(errbuf));
	ck_assert_msg(rc == 0, "create: %d %s", rc, errbuf);
	return b;
}

START_TEST(test_single_node_is_not_replicated)
{
	broker_t *b = open_broker();
	replica_role_t role = REPLICA_LEADER;

	ck_assert_int_eq(broker_replicated(b), 0);
	/* replication_factor > 1 needs cluster mode */
	ck_assert_int_eq(broker_topic_create(b, "t", 1, 3, NULL, errbuf, sizeof(errbuf)),
	                 STRAND_EINVAL);
	ck_assert_int_eq(broker_topic_create(b, "t", 1, 1, NULL, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, NULL, &role), STRAND_ENOENT);
	ck_assert_int_eq(role, REPLICA_NONE);
	ck_assert_int_eq(broker_replicated(b), 0);
	broker_close(b);
}
END_TEST

START_TEST(test_roles_follow_the_state)
{
	broker_t *b = open_cluster_broker(2);
	partition_state_t st = state(1, 0, 3, 10), got;
	replica_role_t role;

	ck_assert_int_eq(broker_replicated(b), 1);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &got, &role), STRAND_ENOENT);

	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &got, &role), 0);
	ck_assert_int_eq(role, REPLICA_LEADER);
	ck_assert_int_eq(got.leader, 1);
	ck_assert_int_eq(got.nisr, 3);
	ck_assert_int_eq(got.version, 10);

	st = state(2, 1, 2, 11);                        /* leadership moved to 2 */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &got, &role), 0);
	ck_assert_int_eq(role, REPLICA_FOLLOWER);
	ck_assert_int_eq(got.leader_epoch, 1);

	st = state(2, 2, 2, 12);                        /* reassigned away from 1 */
	st.replicas[0] = 4;
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &got, &role), 0);
	ck_assert_int_eq(role, REPLICA_NONE);

	st = state(-1, 3, 0, 13);                       /* offline: no leader */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &got, &role), 0);
	ck_assert_int_eq(role, REPLICA_FOLLOWER);
	ck_assert_int_eq(got.leader, -1);

	/* partition 1 is untouched; unknown topics and partitions are refused */
	ck_assert_int_eq(broker_partition_get_state(b, "t", 1, NULL, &role), STRAND_ENOENT);
	ck_assert_int_eq(broker_partition_set_state(b, "t", 2, &st, errbuf, sizeof(errbuf)),
	                 STRAND_ENOENT);
	ck_assert_int_eq(broker_partition_set_state(b, "nope", 0, &st, errbuf, sizeof(errbuf)),
	                 STRAND_ENOENT);
	ck_assert_int_eq(broker_partition_get_state(b, "nope", 0, NULL, &role), STRAND_ENOENT);
	st.nisr = REPLICA_MAX + 1;
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)),
	                 STRAND_EINVAL);
	broker_close(b);
}
END_TEST

START_TEST(test_older_versions_are_ignored)
{
	broker_t *b = open_cluster_broker(1);
	partition_state_t st = state(1, 4, 3, 50), got;
	replica_role_t role;

	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	st = state(2, 3, 3, 40);        /* an older revision arriving late */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	st = state(2, 5, 3, 50);        /* the same revision again */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &got, &role), 0);
	ck_assert_int_eq(role, REPLICA_LEADER);
	ck_assert_int_eq(got.leader_epoch, 4);
	ck_assert_int_eq(got.version, 50);

	st = state(1, 4, 2, 51);        /* newer: the ISR shrank */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &got, &role), 0);
	ck_assert_int_eq(got.nisr, 2);
	ck_assert_int_eq(got.version, 51);
	broker_close(b);
}
END_TEST

/* The role hook: records each call, and calls back into the broker (which
 * would deadlock if the hook ran under a broker or partition lock). */
typedef struct hook_log {
	broker_t         *b;
	int               calls;
	replica_role_t    last_role;
	partition_state_t last;
	int               reentrant_rc;
} hook_log_t;

static void role_hook(void *ctx, const char *topic, int32_t p, const partition_state_t *st,
                      replica_role_t role)
{
	hook_log_t *h = ctx;
	partition_state_t now;
	replica_role_t now_role;

	h->calls++;
	h->last_role = role;
	h->last = *st;
	ck_assert_str_eq(topic, "t");
	ck_assert_int_eq(p, 0);
	h->reentrant_rc = broker_partition_get_state(h->b, topic, p, &now, &now_role);
	ck_assert_int_eq(now.version, st->version);     /* applied before the hook */
	ck_assert_int_eq(now_role, role);
}

START_TEST(test_role_hook_fires_on_role_and_epoch_changes_only)
{
	broker_t *b = open_broker();
	hook_log_t h = { .b = b };
	partition_state_t st;

	broker_set_role_hook(b, role_hook, &h);
	ck_assert_int_eq(broker_replicated(b), 1);
	ck_assert_int_eq(broker_topic_create(b, "t", 1, 3, NULL, errbuf, sizeof(errbuf)), 0);

	st = state(2, 0, 3, 5);                 /* first state: follower */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(h.calls, 1);
	ck_assert_int_eq(h.last_role, REPLICA_FOLLOWER);
	ck_assert_int_eq(h.reentrant_rc, 0);

	st = state(2, 0, 2, 6);                 /* ISR only: no hook */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(h.calls, 1);

	st = state(3, 1, 2, 7);                 /* new leader, still follower: new epoch */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(h.calls, 2);
	ck_assert_int_eq(h.last.leader, 3);
	ck_assert_int_eq(h.last.leader_epoch, 1);

	st = state(1, 2, 2, 8);                 /* this broker leads */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(h.calls, 3);
	ck_assert_int_eq(h.last_role, REPLICA_LEADER);

	st = state(1, 2, 2, 7);                 /* stale: nothing */
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(h.calls, 3);

	broker_set_role_hook(b, NULL, NULL);    /* unset: no more calls */
	st = state(2, 3, 2, 9);
	ck_assert_int_eq(broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(h.calls, 3);
	broker_close(b);
}
END_TEST

static int isr_hook(void *ctx, const char *topic, int32_t p, const partition_state_t *st)
{
	return 0;
}

START_TEST(test_any_hook_turns_cluster_mode_on)
{
	broker_t *b = open_broker();

	ck_assert_int_eq(broker_replicated(b), 0);
	broker_set_isr_hook(b, isr_hook, NULL);
	ck_assert_int_eq(broker_replicated(b), 1);
	broker_close(b);

	teardown();
	setup();
	b = open_broker();
	broker_set_lease_check(b, always_valid, NULL);
	ck_assert_int_eq(broker_replicated(b), 1);
	broker_close(b);
}
END_TEST

static Suite *replica_suite(void)
{
	Suite *s = suite_create("replica");
	TCase *tc = tcase_create("state");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_single_node_is_not_replicated);
	tcase_add_test(tc, test_roles_follow_the_state);
	tcase_add_test(tc, test_older_versions_are_ignored);
	tcase_add_test(tc, test_role_hook_fires_on_role_and_epoch_changes_only);
	tcase_add_test(tc, test_any_hook_turns_cluster_mode_on);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(replica_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
