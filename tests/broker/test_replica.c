/*
 * test_replica.c — Check suite for src/broker/replica.c: the partition
 * state applied from etcd (roles, version ordering), the role, ISR and
 * lease hooks, and cluster mode staying off on a single node; then the
 * leader (produce gating, epochs stamped, the HW as min LEO over the ISR
 * and min_insync_replicas, follower fetch with its epoch checks, ISR
 * shrink and expand through the hook, acks=all commit checks, the HW
 * checkpoint), with followers simulated by broker_replica_fetch. Every
 * test runs in its own temporary data directory, as broker id 1.
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/broker_internal.h"   /* replica_follower_hw, as follower.c uses it */
#include "broker/offsets_log.h"        /* OFFSETS_LOG_MIN_DIRTY_RATIO */
#include "broker/replica.h"
#include "common/clock.h"
#include "common/err.h"
#include "log/batch.h"

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
	broker_options_t opts = { data_dir, 1, "http://127.0.0.1:0", 1000, 0, { 0, 0, 0 }, 0, { 0, 0, 0 }, 0, 0 };
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

/* ---- the leader ------------------------------------------------------------ */

/* Append n records to t/0 with flags; returns broker_append's code. */
static int append_n(broker_t *b, int n, unsigned flags, broker_append_info_t *info)
{
	batch_builder_t bb;
	topic_t *t = broker_topic_get(b, "t");
	char value[32];
	int rc;

	ck_assert_ptr_nonnull(t);
	batch_builder_init(&bb);
	ck_assert_int_eq(batch_builder_begin(&bb, -1, -1, -1), 0);
	for (int i = 0; i < n; i++) {
		int vl = snprintf(value, sizeof(value), "v%d", i);

		/* timestamps of now: retention (7 days) must not take the segment */
		ck_assert_int_eq(batch_builder_add(&bb, broker_wall_ms() + i, NULL, -1,
		                                   (uint8_t *)value, vl, NULL, 0), 0);
	}
	ck_assert_int_eq(batch_builder_finish(&bb, NULL), 0);
	rc = broker_append(b, t, 0, bb.buf, bb.len, flags, info, errbuf, sizeof(errbuf));
	batch_builder_free(&bb);
	topic_release(t);
	return rc;
}

static int64_t hw_of(broker_t *b)
{
	topic_t *t = broker_topic_get(b, "t");
	int64_t hw = topic_partition_hw(t, 0);

	topic_release(t);
	return hw;
}

/* A follower's fetch (no read unless out). */
static int follower_fetch(broker_t *b, int32_t id, int64_t offset, int32_t epoch,
                          replica_fetch_info_t *info, log_slice_t *out)
{
	topic_t *t = broker_topic_get(b, "t");
	replica_fetch_info_t local;
	int rc = broker_replica_fetch(b, t, 0, id, offset, epoch, 1 << 20, out,
	                              info != NULL ? info : &local, errbuf, sizeof(errbuf));

	topic_release(t);
	return rc;
}

static void apply(broker_t *b, partition_state_t st)
{
	int rc = broker_partition_set_state(b, "t", 0, &st, errbuf, sizeof(errbuf));

	ck_assert_msg(rc == 0, "set_state: %d %s", rc, errbuf);
}

static void set_min_insync(broker_t *b, int32_t min_insync, int64_t lag_ms)
{
	topic_config_t cfg;
	topic_t *t = broker_topic_get(b, "t");

	topic_get_config(t, &cfg);
	topic_release(t);
	cfg.min_insync_replicas = min_insync;
	cfg.replica_lag_time_max_ms = lag_ms;
	ck_assert_int_eq(broker_topic_alter(b, "t", 0, &cfg, errbuf, sizeof(errbuf)), 0);
}

START_TEST(test_append_only_as_leader_with_its_epoch)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;
	topic_t *t;

	ck_assert_int_eq(append_n(b, 1, 0, &info), STRAND_ENOTLEADER);   /* no state yet */
	apply(b, state(2, 3, 3, 10));
	ck_assert_int_eq(append_n(b, 1, 0, &info), STRAND_ENOTLEADER);   /* follower */
	apply(b, state(1, 4, 3, 11));
	ck_assert_int_eq(append_n(b, 2, 0, &info), 0);
	ck_assert_int_eq(info.leader_epoch, 4);
	ck_assert_int_eq(info.first_offset, 0);
	t = broker_topic_get(b, "t");
	ck_assert_int_eq(log_latest_epoch(topic_partition_log(t, 0)), 4);
	topic_release(t);
	apply(b, state(1, 6, 3, 12));
	ck_assert_int_eq(append_n(b, 1, 0, &info), 0);
	ck_assert_int_eq(info.leader_epoch, 6);
	t = broker_topic_get(b, "t");
	{
		int32_t e;
		int64_t end;

		/* epoch 4 ends where epoch 6 began: KIP-101's cache, fed by the appends */
		log_epoch_end_offset(topic_partition_log(t, 0), 4, &e, &end);
		ck_assert_int_eq(e, 4);
		ck_assert_int_eq(end, 2);
	}
	topic_release(t);
	broker_close(b);
}
END_TEST

static atomic_int lease;

static int lease_check(void *ctx)
{
	return atomic_load(&lease);
}

START_TEST(test_append_needs_a_valid_lease)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;

	atomic_store(&lease, 0);
	broker_set_lease_check(b, lease_check, NULL);
	apply(b, state(1, 0, 1, 10));
	ck_assert_int_eq(append_n(b, 1, 0, &info), STRAND_EUNAVAILABLE);
	atomic_store(&lease, 1);
	ck_assert_int_eq(append_n(b, 1, 0, &info), 0);
	broker_close(b);
}
END_TEST

START_TEST(test_acks_all_refused_up_front_below_min_isr)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;

	set_min_insync(b, 2, 10000);
	apply(b, state(1, 0, 1, 10));          /* ISR {1} */
	ck_assert_int_eq(append_n(b, 1, BROKER_APPEND_ACKS_ALL, &info), STRAND_ENOTENOUGH);
	ck_assert_int_eq(append_n(b, 1, 0, &info), 0);   /* acks=1 still goes in ... */
	ck_assert_int_eq(hw_of(b), 0);                   /* ... but does not commit */
	apply(b, state(1, 0, 2, 11));          /* ISR {1,2} */
	ck_assert_int_eq(append_n(b, 1, BROKER_APPEND_ACKS_ALL, &info), 0);
	broker_close(b);
}
END_TEST

/* The append hook: the last HW it carried. */
static _Atomic int64_t hook_hw;
static atomic_int progress_calls;

static void append_hook(void *ctx, const char *topic, int32_t p, int64_t hw)
{
	atomic_store(&hook_hw, hw);
}

static void progress_hook(void *ctx, const char *topic, int32_t p)
{
	atomic_fetch_add(&progress_calls, 1);
}

START_TEST(test_hw_is_min_leo_over_the_isr)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;
	replica_fetch_info_t fi;
	log_slice_t slice;

	atomic_store(&hook_hw, -1);
	atomic_store(&progress_calls, 0);
	broker_set_append_hook(b, append_hook, NULL);
	broker_set_progress_hook(b, progress_hook, NULL);
	set_min_insync(b, 2, 10000);
	apply(b, state(1, 2, 3, 10));
	ck_assert_int_eq(append_n(b, 10, 0, &info), 0);
	ck_assert_int_ge(atomic_load(&progress_calls), 1);   /* followers' polls woken */
	ck_assert_int_eq(hw_of(b), 0);          /* followers not heard from */

	/* follower 2 reads from 0: gets the batch, and the leader's LEO and epoch */
	ck_assert_int_eq(follower_fetch(b, 2, 0, 2, &fi, &slice), 0);
	ck_assert_int_gt(slice.len, 0);
	ck_assert_int_eq(slice.first_offset, 0);
	ck_assert_int_eq(slice.next_offset, 10);
	log_slice_release(&slice);
	ck_assert_int_eq(fi.leader_epoch, 2);
	ck_assert_int_eq(fi.log_end_offset, 10);
	ck_assert_int_eq(fi.high_watermark, 0);

	ck_assert_int_eq(follower_fetch(b, 2, 10, 2, &fi, NULL), 0);
	ck_assert_int_eq(fi.high_watermark, 0);  /* 3 still unknown */
	ck_assert_int_eq(follower_fetch(b, 3, 4, 2, &fi, NULL), 0);
	ck_assert_int_eq(fi.high_watermark, 4);  /* min(10, 10, 4) */
	ck_assert_int_eq(hw_of(b), 4);
	ck_assert_int_eq(atomic_load(&hook_hw), 4);
	ck_assert_int_eq(follower_fetch(b, 3, 10, 2, &fi, NULL), 0);
	ck_assert_int_eq(hw_of(b), 10);
	ck_assert_int_eq(atomic_load(&hook_hw), 10);

	/* the HW never goes back, even when a follower's fetch does */
	ck_assert_int_eq(follower_fetch(b, 3, 7, 2, &fi, NULL), 0);
	ck_assert_int_eq(hw_of(b), 10);

	/* ISR down to {1,2}, still >= 2: only 2 counts */
	apply(b, state(1, 2, 2, 11));
	ck_assert_int_eq(append_n(b, 5, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 15, 2, &fi, NULL), 0);
	ck_assert_int_eq(hw_of(b), 15);

	/* ISR {1} < min 2: the HW stays however far the leader goes */
	apply(b, state(1, 2, 1, 12));
	ck_assert_int_eq(append_n(b, 5, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 20, 2, &fi, NULL), 0);
	ck_assert_int_eq(hw_of(b), 15);
	broker_set_append_hook(b, NULL, NULL);
	broker_close(b);
}
END_TEST

START_TEST(test_fetch_checks_epochs_roles_and_ranges)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;
	replica_fetch_info_t fi;

	ck_assert_int_eq(follower_fetch(b, 2, 0, 0, &fi, NULL), STRAND_ENOTLEADER);
	apply(b, state(1, 5, 3, 10));
	ck_assert_int_eq(append_n(b, 3, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 0, 4, &fi, NULL), STRAND_EEPOCH_FENCED);
	ck_assert_int_eq(fi.leader_epoch, 5);
	ck_assert_int_eq(follower_fetch(b, 2, 4, 5, &fi, NULL), STRAND_ERANGE);
	ck_assert_int_eq(follower_fetch(b, 2, -1, 5, &fi, NULL), STRAND_ERANGE);
	ck_assert_int_eq(follower_fetch(b, 9, 0, 5, &fi, NULL), STRAND_ENOENT);  /* not a replica */
	ck_assert_int_eq(follower_fetch(b, 2, 3, 5, &fi, NULL), 0);

	/* a follower knows a newer epoch: this leader stops taking produce */
	ck_assert_int_eq(follower_fetch(b, 2, 3, 6, &fi, NULL), STRAND_EEPOCH_UNKNOWN);
	ck_assert_int_eq(append_n(b, 1, 0, &info), STRAND_ENOTLEADER);
	ck_assert_int_eq(follower_fetch(b, 3, 0, 5, &fi, NULL), STRAND_ENOTLEADER);
	/* ... until the newer state reaches it (here: it leads epoch 6) */
	apply(b, state(1, 6, 3, 11));
	ck_assert_int_eq(append_n(b, 1, 0, &info), 0);
	ck_assert_int_eq(info.leader_epoch, 6);
	broker_close(b);
}
END_TEST

/* The ISR hook as etcd would: apply the proposal as the next version. */
typedef struct isr_log {
	broker_t         *b;
	atomic_int        calls;
	atomic_int        last_nisr;
	int               refuse;     /* fail every write: with STRAND_EUNAVAILABLE, or refuse_rc */
	int               refuse_rc;
} isr_log_t;

static int isr_apply_hook(void *ctx, const char *topic, int32_t p, const partition_state_t *st)
{
	isr_log_t *h = ctx;
	partition_state_t next = *st;

	atomic_fetch_add(&h->calls, 1);
	atomic_store(&h->last_nisr, st->nisr);
	if (h->refuse)
		return h->refuse_rc != 0 ? h->refuse_rc : STRAND_EUNAVAILABLE;
	next.version = st->version + 1;
	return broker_partition_set_state(h->b, topic, p, &next, NULL, 0);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait (deadline 10 s) until the partition's applied ISR has n members. */
static int wait_isr_size(broker_t *b, int32_t n)
{
	int64_t deadline = mono_ms() + 10000;
	partition_state_t st;

	while (mono_ms() < deadline) {
		if (broker_partition_get_state(b, "t", 0, &st, NULL) == 0 && st.nisr == n)
			return 1;
		usleep(10000);      /* polling a condition, bounded by the deadline */
	}
	return 0;
}

START_TEST(test_isr_shrinks_after_lag_and_expands_when_caught_up)
{
	broker_t *b = open_cluster_broker(1);
	isr_log_t h = { .b = b };
	broker_append_info_t info;
	partition_state_t st;
	int64_t start;

	set_min_insync(b, 2, 300);             /* replica_lag_time_max_ms 300 */
	apply(b, state(1, 0, 3, 10));
	ck_assert_int_eq(append_n(b, 4, 0, &info), 0);
	broker_set_isr_hook(b, isr_apply_hook, &h);
	start = mono_ms();
	/* follower 2 keeps up; follower 3 never fetches */
	while (!(broker_partition_get_state(b, "t", 0, &st, NULL) == 0 && st.nisr == 2) &&
	       mono_ms() - start < 10000) {
		ck_assert_int_eq(follower_fetch(b, 2, 4, 0, NULL, NULL), 0);
		usleep(20000);
	}
	ck_assert_int_eq(st.nisr, 2);
	ck_assert_msg(mono_ms() - start >= 300, "shrunk after %lld ms, before the lag limit",
	              (long long)(mono_ms() - start));
	ck_assert(st.isr[0] == 1 && st.isr[1] == 2);
	ck_assert_int_eq(st.leader_epoch, 0);          /* same leadership, new version */
	ck_assert_int_eq(st.version, 11);
	ck_assert_int_eq(hw_of(b), 4);                 /* min(4, 4) over {1,2} */

	/* follower 3 catches up: it joins at a later tick */
	ck_assert_int_eq(follower_fetch(b, 3, 0, 0, NULL, NULL), 0);
	ck_assert_int_eq(follower_fetch(b, 3, 4, 0, NULL, NULL), 0);
	ck_assert(wait_isr_size(b, 3));
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &st, NULL), 0);
	ck_assert_int_eq(st.isr[2], 3);
	broker_set_isr_hook(b, NULL, NULL);
	broker_close(b);
}
END_TEST

START_TEST(test_isr_proposal_refused_is_retried)
{
	broker_t *b = open_cluster_broker(1);
	isr_log_t h = { .b = b, .refuse = 1 };
	int64_t deadline;

	set_min_insync(b, 1, 100);
	apply(b, state(1, 0, 3, 10));
	broker_set_isr_hook(b, isr_apply_hook, &h);
	deadline = mono_ms() + 10000;
	while (atomic_load(&h.calls) < 2 && mono_ms() < deadline)
		usleep(10000);
	ck_assert_int_ge(atomic_load(&h.calls), 2);     /* refused, then proposed again */
	ck_assert_int_eq(atomic_load(&h.last_nisr), 1); /* {1}: neither follower fetched */
	h.refuse = 0;
	ck_assert(wait_isr_size(b, 1));
	broker_set_isr_hook(b, NULL, NULL);
	broker_close(b);
}
END_TEST

START_TEST(test_committed_follows_the_hw_and_the_leadership)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;
	topic_t *t;

	set_min_insync(b, 2, 10000);
	apply(b, state(1, 1, 2, 10));           /* ISR {1,2} */
	ck_assert_int_eq(append_n(b, 3, BROKER_APPEND_ACKS_ALL, &info), 0);
	t = broker_topic_get(b, "t");
	ck_assert_int_eq(broker_replica_committed(b, t, 0, 3, 1, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 3, 1, NULL, NULL), 0);
	ck_assert_int_eq(broker_replica_committed(b, t, 0, 3, 1, errbuf, sizeof(errbuf)), 1);

	ck_assert_int_eq(append_n(b, 2, BROKER_APPEND_ACKS_ALL, &info), 0);
	apply(b, state(1, 1, 1, 11));           /* the ISR shrinks below min */
	ck_assert_int_eq(broker_replica_committed(b, t, 0, 5, 1, errbuf, sizeof(errbuf)),
	                 STRAND_ENOTENOUGH);
	apply(b, state(1, 1, 2, 12));
	ck_assert_int_eq(broker_replica_committed(b, t, 0, 5, 1, errbuf, sizeof(errbuf)), 0);
	apply(b, state(2, 2, 2, 13));           /* leadership lost before the commit */
	ck_assert_int_eq(broker_replica_committed(b, t, 0, 5, 1, errbuf, sizeof(errbuf)),
	                 STRAND_ENOTENOUGH);
	topic_release(t);
	broker_close(b);
}
END_TEST

START_TEST(test_hw_checkpoint_survives_a_restart)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;

	apply(b, state(1, 0, 2, 10));
	ck_assert_int_eq(append_n(b, 7, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 6, 0, NULL, NULL), 0);
	ck_assert_int_eq(hw_of(b), 6);
	broker_close(b);

	b = open_broker();
	ck_assert_int_eq(hw_of(b), 7);          /* single-node until cluster mode: the LEO */
	broker_set_lease_check(b, always_valid, NULL);
	ck_assert_int_eq(hw_of(b), 6);          /* the checkpoint */
	/* a new leadership keeps the HW */
	apply(b, state(1, 1, 2, 20));
	ck_assert_int_eq(hw_of(b), 6);
	broker_close(b);
}
END_TEST

/*
 * A broker restarted with --etcd is in cluster mode from broker_open on,
 * before it has joined etcd and been handed any state. The random fault
 * run caught a leader killed and restarted at once: its old lease still
 * held its registration, so serve_join_cluster waited for it to expire
 * while the API already listened — as a single node then, it appended the
 * producers' records in epoch 0 and acknowledged acks=all ones at once;
 * the leader elected meanwhile never had them, and the restarted broker
 * truncated them when it followed (hundreds of acknowledged records lost).
 */
START_TEST(test_cluster_mode_from_the_open_leads_nothing_without_state)
{
	broker_options_t opts = { data_dir, 1, "http://127.0.0.1:0", 1000, 0, { 0, 0, 0 }, 1, { 0, 0, 0 }, 0, 0 };
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;
	topic_t *t;

	apply(b, state(1, 0, 2, 10));
	ck_assert_int_eq(append_n(b, 7, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 6, 0, NULL, NULL), 0);
	ck_assert_int_eq(hw_of(b), 6);
	broker_close(b);

	b = NULL;
	ck_assert_int_eq(broker_open(&opts, &b, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_replicated(b), 1);
	ck_assert_int_eq(hw_of(b), 6);          /* reads stop at the checkpoint, not the LEO */
	ck_assert_int_eq(append_n(b, 3, BROKER_APPEND_ACKS_ALL, &info), STRAND_ENOTLEADER);
	ck_assert_int_eq(append_n(b, 3, 0, &info), STRAND_ENOTLEADER);
	t = broker_topic_get(b, "t");
	ck_assert_int_eq(log_end_offset(topic_partition_log(t, 0)), 7);   /* nothing appended */
	ck_assert_int_ne(broker_replica_committed(b, t, 0, 7, 0, errbuf, sizeof(errbuf)), 1);
	topic_release(t);
	broker_close(b);
}
END_TEST

/*
 * A group commit in cluster mode is appended without an fsync (none under
 * meta_lock): with another ISR member its copy is the durability, as for a
 * produce with acks=all; with the ISR of this broker alone,
 * broker_group_flush fsyncs it once it is committed.
 */
START_TEST(test_group_commit_flushed_only_by_an_isr_alone)
{
	broker_options_t opts = { data_dir, 1, "http://127.0.0.1:0", 1000, 0, { 0, 0, 0 }, 1, { 0, 0, 0 }, 0, 0 };
	committed_offset_t off;
	broker_group_write_t w;
	partition_state_t st = state(1, 0, 2, 10);
	broker_t *b = NULL;
	topic_t *t;
	log_t *log;
	int64_t end;

	ck_assert_int_eq(broker_open(&opts, &b, errbuf, sizeof(errbuf)), 0);
	broker_set_lease_check(b, always_valid, NULL);
	ck_assert_int_eq(broker_topic_create(b, "t", 1, 3, NULL, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_topic_create(b, BROKER_OFFSETS_TOPIC, 1, 3, NULL, errbuf,
	                                     sizeof(errbuf)), 0);
	apply(b, st);
	ck_assert_int_eq(broker_partition_set_state(b, BROKER_OFFSETS_TOPIC, 0, &st, errbuf,
	                                            sizeof(errbuf)), 0);
	ck_assert_msg(broker_group_ready(b, "g", errbuf, sizeof(errbuf)) == 0, "%s", errbuf);
	t = broker_topic_get(b, BROKER_OFFSETS_TOPIC);
	log = topic_partition_log(t, 0);
	memset(&off, 0, sizeof(off));
	strcpy(off.topic, "t");

	/* ISR {1,2}: committed once 2 has it; nothing to flush then */
	off.offset = 1;
	ck_assert_msg(broker_group_commit(b, "g", NULL, -1, &off, 1, 1000, &w, errbuf,
	                                  sizeof(errbuf)) == 0, "commit: %s", errbuf);
	ck_assert_int_eq(w.partition, 0);
	end = w.end_offset;
	ck_assert_int_gt(end, 0);
	ck_assert_int_lt(log_flushed_offset(log), end);       /* appended, not fsync'd */
	ck_assert_int_eq(broker_group_committed(b, &w, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_replica_fetch(b, t, 0, 2, end, 0, 1 << 20, NULL,
	                                      &(replica_fetch_info_t){ 0 }, errbuf,
	                                      sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_group_committed(b, &w, errbuf, sizeof(errbuf)), 1);
	ck_assert_int_eq(broker_group_flush(b, &w, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_lt(log_flushed_offset(log), end);       /* 2's copy is the durability */

	/* the ISR shrinks to this broker alone: committed at once, then flushed */
	st = state(1, 0, 1, 11);
	ck_assert_int_eq(broker_partition_set_state(b, BROKER_OFFSETS_TOPIC, 0, &st, errbuf,
	                                            sizeof(errbuf)), 0);
	off.offset = 2;
	ck_assert_msg(broker_group_commit(b, "g", NULL, -1, &off, 1, 1000, &w, errbuf,
	                                  sizeof(errbuf)) == 0, "commit: %s", errbuf);
	ck_assert_int_gt(w.end_offset, end);
	ck_assert_int_lt(log_flushed_offset(log), w.end_offset);
	ck_assert_int_eq(broker_group_committed(b, &w, errbuf, sizeof(errbuf)), 1);
	ck_assert_int_eq(broker_group_flush(b, &w, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_ge(log_flushed_offset(log), w.end_offset);
	topic_release(t);
	broker_close(b);
}
END_TEST

START_TEST(test_replica_progress_for_the_views)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;
	replica_progress_t rp[REPLICA_MAX];
	int32_t n, epoch;
	topic_t *t;

	apply(b, state(1, 3, 2, 10));
	ck_assert_int_eq(append_n(b, 5, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 5, 3, NULL, NULL), 0);
	t = broker_topic_get(b, "t");
	ck_assert_int_eq(broker_partition_replicas(t, 0, &epoch, rp, REPLICA_MAX, &n), 0);
	topic_release(t);
	ck_assert_int_eq(epoch, 3);
	ck_assert_int_eq(n, 3);
	ck_assert(rp[0].broker == 1 && rp[0].log_end_offset == 5 && rp[0].in_isr);
	ck_assert(rp[1].broker == 2 && rp[1].log_end_offset == 5 && rp[1].in_isr);
	ck_assert(rp[2].broker == 3 && rp[2].log_end_offset == -1 && !rp[2].in_isr);
	broker_close(b);
}
END_TEST

START_TEST(test_follower_hw_is_bounded_by_its_leo)
{
	broker_t *b = open_cluster_broker(1);
	broker_append_info_t info;
	topic_t *t;

	apply(b, state(1, 0, 3, 10));           /* lead, to have records to follow */
	ck_assert_int_eq(append_n(b, 4, 0, &info), 0);
	apply(b, state(2, 1, 3, 11));           /* now a follower of 2 */
	atomic_store(&hook_hw, -1);
	broker_set_append_hook(b, append_hook, NULL);
	t = broker_topic_get(b, "t");
	replica_follower_hw(b, t, 0, 9);        /* the leader's HW is past our LEO */
	ck_assert_int_eq(topic_partition_hw(t, 0), 4);
	ck_assert_int_eq(atomic_load(&hook_hw), 4);
	replica_follower_hw(b, t, 0, 2);
	ck_assert_int_eq(topic_partition_hw(t, 0), 2);
	atomic_store(&hook_hw, -1);
	replica_follower_hw(b, t, 0, 2);        /* unchanged: no hook */
	ck_assert_int_eq(atomic_load(&hook_hw), -1);
	topic_release(t);
	broker_set_append_hook(b, NULL, NULL);
	broker_close(b);
}
END_TEST

/* KIP-497: a member the leader proposed to add counts for the HW at once
 * (etcd may hold it, and the controller elect it, before the state is back). */
START_TEST(test_hw_counts_a_proposed_isr_member)
{
	broker_t *b = open_cluster_broker(1);
	isr_log_t h = { .b = b, .refuse = 1 };   /* the write "fails": it may have landed */
	broker_append_info_t info;
	int64_t deadline;

	set_min_insync(b, 1, 10000);
	apply(b, state(1, 0, 2, 10));            /* ISR {1,2} */
	ck_assert_int_eq(append_n(b, 4, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 4, 0, NULL, NULL), 0);
	ck_assert_int_eq(hw_of(b), 4);
	ck_assert_int_eq(follower_fetch(b, 3, 4, 0, NULL, NULL), 0);   /* 3 caught up */
	broker_set_isr_hook(b, isr_apply_hook, &h);
	deadline = mono_ms() + 10000;
	while (atomic_load(&h.calls) < 1 && mono_ms() < deadline)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&h.last_nisr), 3);  /* proposed {1,2,3} */
	ck_assert_int_eq(append_n(b, 2, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 6, 0, NULL, NULL), 0);
	ck_assert_int_eq(hw_of(b), 4);           /* 3 (at 4) holds it: it may lead next */
	ck_assert_int_eq(follower_fetch(b, 3, 6, 0, NULL, NULL), 0);
	ck_assert_int_eq(hw_of(b), 6);
	broker_set_isr_hook(b, NULL, NULL);
	broker_close(b);
}
END_TEST

/* One tick of the leader's ISR work now, on this thread (the broker's own
 * ticker runs it too: both see the same state). */
static void tick(broker_t *b)
{
	topic_t *t = broker_topic_get(b, "t");

	replica_tick(b, t, 0, broker_now_ms());
	topic_release(t);
}

/*
 * The controller drops a dead follower from the ISR (same leader and
 * epoch, a newer version): the leader applies it at once — the HW moves
 * over the remaining members, never past what one of them holds — and does
 * not propose the dead member back from what it showed before it died,
 * however recently (replica_lag_time_max_ms 60 s); a fetch after the
 * removal that catches up brings it back.
 */
START_TEST(test_controller_drops_a_dead_follower)
{
	broker_t *b = open_cluster_broker(1);
	isr_log_t h = { .b = b };
	broker_append_info_t info;
	partition_state_t st;

	set_min_insync(b, 2, 60000);
	apply(b, state(1, 0, 3, 10));            /* ISR {1,2,3} */
	ck_assert_int_eq(append_n(b, 6, 0, &info), 0);
	ck_assert_int_eq(follower_fetch(b, 3, 4, 0, NULL, NULL), 0);   /* 3 at 4, then dies */
	ck_assert_int_eq(follower_fetch(b, 2, 5, 0, NULL, NULL), 0);
	ck_assert_int_eq(hw_of(b), 4);           /* 3 holds it */
	broker_set_isr_hook(b, isr_apply_hook, &h);

	/* the controller's write: ISR {1,2}, epoch 0, version 11 */
	apply(b, state(1, 0, 2, 11));
	ck_assert_int_eq(hw_of(b), 5);           /* min(6, 5) over {1,2}: 2's, not the LEO */
	/* 3 back: fetches that catch up bring it into the ISR */
	ck_assert_int_eq(follower_fetch(b, 3, 6, 0, NULL, NULL), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 6, 0, NULL, NULL), 0);
	tick(b);
	ck_assert(wait_isr_size(b, 3));
	ck_assert_int_eq(hw_of(b), 6);

	/* now 3 dies caught up (LEO 8 >= the HW 7 when it is dropped) */
	ck_assert_int_eq(append_n(b, 2, 0, &info), 0);                 /* LEO 8 */
	ck_assert_int_eq(follower_fetch(b, 3, 8, 0, NULL, NULL), 0);
	ck_assert_int_eq(follower_fetch(b, 2, 7, 0, NULL, NULL), 0);
	ck_assert_int_eq(hw_of(b), 7);
	atomic_store(&h.calls, 0);
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &st, NULL), 0);
	apply(b, state(1, 0, 2, st.version + 1));
	tick(b);
	ck_assert_msg(atomic_load(&h.calls) == 0, "the dead follower was proposed back from the "
	              "fetch it made before it was dropped");
	ck_assert_int_eq(broker_partition_get_state(b, "t", 0, &st, NULL), 0);
	ck_assert_int_eq(st.nisr, 2);
	ck_assert_int_eq(follower_fetch(b, 3, 8, 0, NULL, NULL), 0);   /* alive again */
	tick(b);
	ck_assert(wait_isr_size(b, 3));
	broker_set_isr_hook(b, NULL, NULL);
	broker_close(b);
}
END_TEST

/*
 * A proposal refused before it was written (STRAND_EAGAIN: a failed CAS,
 * or an unregistered member, KIP-841) adds nothing to the HW's maximal
 * ISR. A follower dropped by the controller whose parked fetch was still
 * answered afterwards looked caught up at LEO 0, was proposed back every
 * second, refused every time, and held the HW at 0 (test_faults 'unclean').
 */
START_TEST(test_refused_addition_does_not_hold_the_hw)
{
	broker_t *b = open_cluster_broker(1);
	isr_log_t h = { .b = b, .refuse = 1, .refuse_rc = STRAND_EAGAIN };
	broker_append_info_t info;

	set_min_insync(b, 1, 60000);
	apply(b, state(1, 0, 2, 10));            /* ISR {1,2} */
	ck_assert_int_eq(follower_fetch(b, 2, 0, 0, NULL, NULL), 0);
	broker_set_isr_hook(b, isr_apply_hook, &h);
	apply(b, state(1, 0, 1, 11));            /* the controller dropped 2 */
	ck_assert_int_eq(follower_fetch(b, 2, 0, 0, NULL, NULL), 0);   /* a late answer */
	tick(b);
	ck_assert_int_ge(atomic_load(&h.calls), 1);                    /* proposed, refused */
	ck_assert_int_eq(append_n(b, 3, 0, &info), 0);
	tick(b);
	ck_assert_int_eq(hw_of(b), 3);           /* the ISR {1} alone, min_insync 1 */
	broker_set_isr_hook(b, NULL, NULL);
	broker_close(b);
}
END_TEST

/* log_scan_headers: add up the records of each batch. */
static int add_records(void *ctx, const batch_header_t *h)
{
	*(int64_t *)ctx += h->record_count;
	return 0;
}

/*
 * The cleaner thread compacts __consumer_offsets and counts it
 * (broker_cleaner_stats, shown by /metrics): the records it says it
 * removed are exactly those the partition lost (every offset below the
 * LEO was one appended record), and its I/O limit made it sleep.
 */
START_TEST(test_cleaner_counts_what_the_partition_lost)
{
	/* cleaner every 10 ms, at most 50 kB/s (~40 kB to clean: ~1 s) */
	broker_options_t opts = { data_dir, 1, "http://127.0.0.1:0", 1000, 0, { 0, 0, 0 }, 1,
	                          { 0, 0, 0 }, 10, 50000 };
	partition_state_t st = state(1, 0, 1, 10);
	broker_cleaner_stats_t before, after;
	committed_offset_t off;
	broker_group_write_t w;
	topic_config_t cfg;
	broker_t *b = NULL;
	int64_t leo, present = 0, deadline;
	topic_t *t;

	ck_assert_int_eq(broker_open(&opts, &b, errbuf, sizeof(errbuf)), 0);
	broker_set_lease_check(b, always_valid, NULL);
	broker_cleaner_stats(b, &before);
	ck_assert_uint_eq(before.passes, 0);
	ck_assert_int_eq(before.last_pass_end_ms, 0);
	topic_config_default(&cfg);
	cfg.log.segment_bytes = 1024;          /* many closed segments to clean */
	ck_assert_int_eq(broker_topic_create(b, "t", 1, 3, NULL, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_topic_create(b, BROKER_OFFSETS_TOPIC, 1, 3, &cfg, errbuf,
	                                     sizeof(errbuf)), 0);
	apply(b, st);
	ck_assert_int_eq(broker_partition_set_state(b, BROKER_OFFSETS_TOPIC, 0, &st, errbuf,
	                                            sizeof(errbuf)), 0);
	ck_assert_msg(broker_group_ready(b, "g", errbuf, sizeof(errbuf)) == 0, "%s", errbuf);
	memset(&off, 0, sizeof(off));
	strcpy(off.topic, "t");
	for (int i = 0; i < 200; i++) {      /* one key, 200 values: 199 duplicates */
		off.offset = i;
		ck_assert_msg(broker_group_commit(b, "g", NULL, -1, &off, 1, 1000, &w, errbuf,
		                                  sizeof(errbuf)) == 0, "commit: %s", errbuf);
	}
	t = broker_topic_get(b, BROKER_OFFSETS_TOPIC);
	leo = log_end_offset(topic_partition_log(t, 0));
	ck_assert_int_ge(leo, 200);
	/* wait (deadline) for the cleaner to have cleaned all it will (the
	 * dirty ratio under its threshold) and be between runs: the counters
	 * then match the log */
	for (deadline = clock_now_ms() + 30000;; clock_sleep_ms(5)) {
		broker_cleaner_stats(b, &before);
		present = 0;
		ck_assert_int_eq(log_scan_headers(topic_partition_log(t, 0), 0, add_records, &present,
		                                  errbuf, sizeof(errbuf)), 0);
		broker_cleaner_stats(b, &after);
		if (log_dirty_ratio(topic_partition_log(t, 0), -1) < OFFSETS_LOG_MIN_DIRTY_RATIO &&
		    after.passes > 0 && after.passes == before.passes &&
		    after.last_pass_end_ms == before.last_pass_end_ms &&
		    (int64_t)after.records_removed == leo - present)
			break;
		ck_assert_msg(clock_now_ms() < deadline, "after %llu passes the cleaner counts %llu "
		              "records removed; the partition lost %lld",
		              (unsigned long long)after.passes,
		              (unsigned long long)after.records_removed, (long long)(leo - present));
	}
	topic_release(t);
	ck_assert_uint_gt(after.records_removed, 150);
	ck_assert_uint_eq(after.failures, 0);
	ck_assert_uint_eq(after.tombstones_removed, 0);
	ck_assert_uint_gt(after.bytes_read, after.bytes_written);   /* read twice, shrunk */
	ck_assert_uint_gt(after.bytes_written, 0);
	/* the limit held: the runs took at least their bytes over the rate */
	ck_assert_msg((double)after.busy_ns >= (double)(after.bytes_read + after.bytes_written) *
	              1e9 / (double)opts.log_cleaner_io_max_bytes_per_second,
	              "%llu bytes in %llu ns at %lld B/s",
	              (unsigned long long)(after.bytes_read + after.bytes_written),
	              (unsigned long long)after.busy_ns,
	              (long long)opts.log_cleaner_io_max_bytes_per_second);
	ck_assert_int_gt(after.last_pass_ns, 0);
	ck_assert_int_ge(after.last_pass_end_ms, broker_wall_ms() - 60000);
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

	tc = tcase_create("leader");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_append_only_as_leader_with_its_epoch);
	tcase_add_test(tc, test_append_needs_a_valid_lease);
	tcase_add_test(tc, test_acks_all_refused_up_front_below_min_isr);
	tcase_add_test(tc, test_hw_is_min_leo_over_the_isr);
	tcase_add_test(tc, test_fetch_checks_epochs_roles_and_ranges);
	tcase_add_test(tc, test_isr_shrinks_after_lag_and_expands_when_caught_up);
	tcase_add_test(tc, test_isr_proposal_refused_is_retried);
	tcase_add_test(tc, test_committed_follows_the_hw_and_the_leadership);
	tcase_add_test(tc, test_hw_checkpoint_survives_a_restart);
	tcase_add_test(tc, test_cluster_mode_from_the_open_leads_nothing_without_state);
	tcase_add_test(tc, test_replica_progress_for_the_views);
	tcase_add_test(tc, test_follower_hw_is_bounded_by_its_leo);
	tcase_add_test(tc, test_hw_counts_a_proposed_isr_member);
	tcase_add_test(tc, test_controller_drops_a_dead_follower);
	tcase_add_test(tc, test_refused_addition_does_not_hold_the_hw);
	tcase_add_test(tc, test_group_commit_flushed_only_by_an_isr_alone);
	tcase_add_test(tc, test_cleaner_counts_what_the_partition_lost);
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
