/*
 * test_meta.c — Check suite for src/cluster/meta.c: the partition state
 * codec and Kafka's replica placement (pure), then three in-process brokers
 * (each its own data directory, cluster session and watcher) against a real
 * etcd (etcd_fixture.h): a topic created through one broker is created on
 * all three with the same placement; delete and alter likewise; create
 * conflicts; concurrent alters lose no change (CAS); replication factor
 * over the live brokers refused; a broker that was away re-reads
 * everything when it comes back.
 *
 * No sleeping to let things settle: every wait polls a condition with a
 * deadline.
 */
#include <check.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "broker/broker.h"
#include "broker/replica.h"
#include "cluster/cluster.h"
#include "cluster/etcd.h"
#include "cluster/meta.h"
#include "common/clock.h"
#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"
#include "etcd_fixture.h"

#define WAIT_MS 10000

static char errbuf[512];

/* ---- the codec ------------------------------------------------------------------ */

START_TEST(test_state_round_trip)
{
	partition_state_t st, back;
	char json[META_MAX_STATE_JSON];

	memset(&st, 0, sizeof st);
	st.nreplicas = 3;
	st.replicas[0] = 2; st.replicas[1] = 3; st.replicas[2] = 1;
	st.nisr = 2;
	st.isr[0] = 2; st.isr[1] = 1;
	st.leader = 2;
	st.leader_epoch = 7;
	ck_assert_int_eq(meta_state_encode(&st, json, sizeof json), 0);
	ck_assert_str_eq(json, "{\"replicas\":[2,3,1],\"leader\":2,\"leader_epoch\":7,\"isr\":[2,1]}");
	ck_assert_int_eq(meta_state_decode(json, strlen(json), 42, &back, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(back.version, 42);
	st.version = 42;
	ck_assert(memcmp(&st, &back, sizeof st) == 0);

	/* no leader, empty ISR */
	st.leader = -1;
	st.nisr = 0;
	ck_assert_int_eq(meta_state_encode(&st, json, sizeof json), 0);
	ck_assert_int_eq(meta_state_decode(json, strlen(json), 1, &back, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(back.leader, -1);
	ck_assert_int_eq(back.nisr, 0);

	/* too small a buffer */
	ck_assert_int_eq(meta_state_encode(&st, json, 10), STRAND_ETOOBIG);
}
END_TEST

START_TEST(test_state_decode_refuses_bad_states)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"replicas\":[],\"leader\":-1,\"leader_epoch\":0,\"isr\":[]}",
		"{\"replicas\":[1,1],\"leader\":1,\"leader_epoch\":0,\"isr\":[1]}",
		"{\"replicas\":[1,2],\"leader\":3,\"leader_epoch\":0,\"isr\":[1]}",
		"{\"replicas\":[1,2],\"leader\":1,\"leader_epoch\":0,\"isr\":[1,4]}",
		"{\"replicas\":[1,2],\"leader\":1,\"leader_epoch\":-1,\"isr\":[1]}",
		"{\"replicas\":[1,2],\"leader\":1.5,\"leader_epoch\":0,\"isr\":[1]}",
		"{\"replicas\":[1,-2],\"leader\":1,\"leader_epoch\":0,\"isr\":[1]}",
		"{\"replicas\":[1,2],\"leader_epoch\":0,\"isr\":[1]}",
		"{\"replicas\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],\"leader\":1,"
		"\"leader_epoch\":0,\"isr\":[1]}",
	};
	partition_state_t st;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(meta_state_decode(bad[i], strlen(bad[i]), 1, &st, errbuf,
		                                sizeof errbuf) == STRAND_ECORRUPT, "accepted %s", bad[i]);
}
END_TEST

/* ---- placement ------------------------------------------------------------------ */

/* The example in Kafka's AdminUtils.assignReplicasToBrokers comment: five
 * brokers, ten partitions, three replicas, start index 0, shift 0. */
START_TEST(test_placement_matches_kafkas_example)
{
	static const int32_t expect[10][3] = {
		{ 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 4 }, { 3, 4, 0 }, { 4, 0, 1 },
		{ 0, 2, 3 }, { 1, 3, 4 }, { 2, 4, 0 }, { 3, 0, 1 }, { 4, 1, 2 },
	};
	int32_t brokers[5] = { 0, 1, 2, 3, 4 };
	partition_state_t out[10];
	int p, j;

	ck_assert_int_eq(meta_assign_replicas(brokers, 5, 0, 10, 3, 0, 0, out, errbuf,
	                                      sizeof errbuf), 0);
	for (p = 0; p < 10; p++) {
		ck_assert_int_eq(out[p].nreplicas, 3);
		for (j = 0; j < 3; j++)
			ck_assert_msg(out[p].replicas[j] == expect[p][j], "p%d replica %d: %d, not %d",
			              p, j, out[p].replicas[j], expect[p][j]);
		ck_assert_int_eq(out[p].leader, out[p].replicas[0]);
		ck_assert_int_eq(out[p].nisr, 3);
		ck_assert(memcmp(out[p].isr, out[p].replicas, 3 * sizeof(int32_t)) == 0);
		ck_assert_int_eq(out[p].leader_epoch, 0);
	}
}
END_TEST

/* Leaders and replicas spread evenly for any start and shift; ids are the
 * brokers' own (not 0..n-1); replicas of a partition are distinct. */
START_TEST(test_placement_spreads_leaders_and_replicas)
{
	int32_t brokers[4] = { 3, 7, 10, 42 };
	partition_state_t out[16];
	int start, shift, p, j, b, leads[4], holds[4];

	for (start = 0; start < 4; start++)
		for (shift = 0; shift < 4; shift++) {
			ck_assert_int_eq(meta_assign_replicas(brokers, 4, 0, 16, 3, start, shift, out,
			                                      errbuf, sizeof errbuf), 0);
			memset(leads, 0, sizeof leads);
			memset(holds, 0, sizeof holds);
			for (p = 0; p < 16; p++)
				for (j = 0; j < 3; j++) {
					for (b = 0; b < 4 && brokers[b] != out[p].replicas[j]; b++)
						;
					ck_assert_int_lt(b, 4);
					holds[b]++;
					leads[b] += j == 0;
					ck_assert(j == 0 || out[p].replicas[j] != out[p].replicas[0]);
					ck_assert(j < 2 || out[p].replicas[j] != out[p].replicas[1]);
				}
			for (b = 0; b < 4; b++) {
				ck_assert_int_eq(leads[b], 4);    /* 16 leaders over 4 brokers */
				ck_assert_int_eq(holds[b], 12);   /* 48 replicas over 4 brokers */
			}
		}
	/* more replicas than brokers, none, too many */
	ck_assert_int_eq(meta_assign_replicas(brokers, 4, 0, 1, 5, 0, 0, out, errbuf,
	                                      sizeof errbuf), STRAND_EINVAL);
	ck_assert_int_eq(meta_assign_replicas(brokers, 0, 0, 1, 1, 0, 0, out, errbuf,
	                                      sizeof errbuf), STRAND_EINVAL);
	ck_assert_int_eq(meta_assign_replicas(brokers, 4, 0, 1, 1, 4, 0, out, errbuf,
	                                      sizeof errbuf), STRAND_EINVAL);
}
END_TEST

/* ---- the controller's decisions ------------------------------------------------------ */

static partition_state_t mkstate(int32_t leader, int32_t epoch, const char *replicas,
                                 const char *isr)
{
	partition_state_t st;
	const char *c;

	memset(&st, 0, sizeof st);
	for (c = replicas; *c; c++)
		st.replicas[st.nreplicas++] = *c - '0';
	for (c = isr; *c; c++)
		st.isr[st.nisr++] = *c - '0';
	st.leader = leader;
	st.leader_epoch = epoch;
	st.version = 77;
	return st;
}

/* out has this leader, epoch and ISR (digits, in order). */
static void expect_state(const partition_state_t *out, int32_t leader, int32_t epoch,
                         const char *isr)
{
	int32_t i, n = (int32_t)strlen(isr);

	ck_assert_int_eq(out->leader, leader);
	ck_assert_int_eq(out->leader_epoch, epoch);
	ck_assert_int_eq(out->nisr, n);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(out->isr[i], isr[i] - '0');
}

START_TEST(test_elect_rules)
{
	int32_t live12[] = { 1, 2 }, live23[] = { 2, 3 }, live3[] = { 3 }, live123[] = { 1, 2, 3 };
	int32_t live14[] = { 1, 4 };
	int64_t since_new[] = { 50, 100, 60 }, since_old[] = { 50, 70, 60 };   /* of 1, 2, 3 */
	partition_state_t st, out;

	/* leader alive: nothing, unless the preferred replica is in sync */
	st = mkstate(2, 4, "123", "123");
	ck_assert_int_eq(meta_elect(&st, live123, NULL, NULL, 3, 0, 1, 0, &out), 0);
	ck_assert_int_eq(meta_elect(&st, live123, NULL, NULL, 3, 0, 1, 1, &out), 1);
	ck_assert_int_eq(out.leader, 1);
	ck_assert_int_eq(out.leader_epoch, 5);
	ck_assert_int_eq(out.nisr, 3);
	ck_assert_int_eq(out.version, 77);          /* the CAS token stays */
	st = mkstate(2, 4, "123", "23");            /* preferred out of sync: stays */
	ck_assert_int_eq(meta_elect(&st, live123, NULL, NULL, 3, 0, 1, 1, &out), 0);
	ck_assert_int_eq(meta_elect(&st, live23, NULL, NULL, 2, 0, 1, 1, &out), 0);

	/* leader dead: first live in-sync replica in replica order, ISR = live members */
	st = mkstate(1, 0, "132", "123");
	ck_assert_int_eq(meta_elect(&st, live23, NULL, NULL, 2, 0, 1, 0, &out), 1);
	ck_assert_int_eq(out.leader, 3);            /* replicas order: 3 before 2 */
	ck_assert_int_eq(out.leader_epoch, 1);
	ck_assert_int_eq(out.nisr, 2);
	ck_assert_int_eq(out.isr[0], 2);
	ck_assert_int_eq(out.isr[1], 3);

	/* no live ISR member: offline, ISR kept; unclean: a live replica leads alone */
	st = mkstate(1, 3, "12", "1");
	ck_assert_int_eq(meta_elect(&st, live23, NULL, NULL, 2, 0, 1, 0, &out), 1);
	ck_assert_int_eq(out.leader, -1);
	ck_assert_int_eq(out.leader_epoch, 4);
	ck_assert_int_eq(out.nisr, 1);
	ck_assert_int_eq(out.isr[0], 1);
	ck_assert_int_eq(meta_elect(&st, live23, NULL, NULL, 2, 1, 1, 0, &out), 1);
	ck_assert_int_eq(out.leader, 2);
	ck_assert_int_eq(out.nisr, 1);
	ck_assert_int_eq(out.isr[0], 2);

	/* offline stays offline until an ISR member returns; then it leads */
	st = mkstate(-1, 4, "12", "1");
	ck_assert_int_eq(meta_elect(&st, live23, NULL, NULL, 2, 0, 1, 1, &out), 0);
	ck_assert_int_eq(meta_elect(&st, live3, NULL, NULL, 1, 1, 1, 0, &out), 0);   /* no replica alive */
	ck_assert_int_eq(meta_elect(&st, live12, NULL, NULL, 2, 0, 1, 0, &out), 1);
	ck_assert_int_eq(out.leader, 1);
	ck_assert_int_eq(out.leader_epoch, 5);
	ck_assert_int_eq(out.nisr, 1);

	/* leader alive, a follower dead: it leaves the ISR, same leader and
	 * epoch (Kafka's OfflineReplica), the CAS token kept */
	st = mkstate(2, 4, "123", "213");
	ck_assert_int_eq(meta_elect(&st, live12, NULL, NULL, 2, 0, 2, 0, &out), 1);
	expect_state(&out, 2, 4, "21");
	ck_assert_int_eq(out.version, 77);
	ck_assert_int_eq(out.nreplicas, 3);         /* still a replica: it comes back */
	/* ... but never below min_insync_replicas: the member that would take it
	 * lower stays (the HW cannot pass it; it stays electable) */
	ck_assert_int_eq(meta_elect(&st, live23, NULL, NULL, 2, 0, 3, 0, &out), 0);
	st = mkstate(2, 4, "123", "21");
	ck_assert_int_eq(meta_elect(&st, live23, NULL, NULL, 2, 0, 2, 0, &out), 0);
	ck_assert_int_eq(meta_elect(&st, live23, NULL, NULL, 2, 0, 1, 0, &out), 1);
	expect_state(&out, 2, 4, "2");
	/* two dead of [1,2,3,4] with min 3: one goes (the first in ISR order) */
	st = mkstate(1, 0, "1234", "1234");
	ck_assert_int_eq(meta_elect(&st, live14, NULL, NULL, 2, 0, 3, 0, &out), 1);
	expect_state(&out, 1, 0, "134");
	/* the leader is never dropped; a dead follower and the preferred move
	 * in one change: the preferred replica must be in the new ISR */
	st = mkstate(2, 4, "123", "231");
	ck_assert_int_eq(meta_elect(&st, live12, NULL, NULL, 2, 0, 1, 1, &out), 1);
	expect_state(&out, 1, 5, "21");
	/* the leader registered after the state was written (since > version 77):
	 * a new incarnation, a new epoch, same leader and ISR; registered before
	 * it: nothing; with the preferred move: one new epoch, not two */
	st = mkstate(2, 4, "123", "213");
	ck_assert_int_eq(meta_elect(&st, live123, since_new, NULL, 3, 0, 1, 0, &out), 1);
	expect_state(&out, 2, 5, "213");
	ck_assert_int_eq(out.version, 77);
	ck_assert_int_eq(meta_elect(&st, live123, since_old, NULL, 3, 0, 1, 0, &out), 0);
	ck_assert_int_eq(meta_elect(&st, live123, since_new, NULL, 3, 0, 1, 1, &out), 1);
	expect_state(&out, 1, 5, "213");
	/* an offline partition's ISR is left alone (its members may return) */
	st = mkstate(-1, 4, "123", "12");
	ck_assert_int_eq(meta_elect(&st, live3, NULL, NULL, 1, 0, 1, 0, &out), 0);
}
END_TEST

/* KIP-966's unclean shutdown: a member registered "unclean_shutdown" after
 * the state was written leaves the ISR before anything is elected */
START_TEST(test_elect_unclean_shutdown)
{
	int32_t live12[] = { 1, 2 }, live2[] = { 2 }, live123[] = { 1, 2, 3 };
	int64_t since_new[] = { 50, 100, 60 }, since_old[] = { 50, 70, 60 };   /* of 1, 2, 3 */
	int64_t since2[] = { 100 }, since_both[] = { 90, 100, 60 };
	uint8_t crashed2[] = { 0, 1, 0 }, none[] = { 0, 0, 0 }, only2[] = { 1 };
	uint8_t crashed12[] = { 1, 1, 0 };
	partition_state_t st, out;

	/* a follower: it leaves, same leader and epoch, even below min ISR */
	st = mkstate(1, 4, "123", "123");
	ck_assert_int_eq(meta_elect(&st, live123, since_new, crashed2, 3, 0, 2, 0, &out), 1);
	expect_state(&out, 1, 4, "13");
	ck_assert_int_eq(out.version, 77);
	st = mkstate(1, 4, "123", "12");
	ck_assert_int_eq(meta_elect(&st, live123, since_new, crashed2, 3, 0, 2, 0, &out), 1);
	expect_state(&out, 1, 4, "1");
	/* registered before the state was written (taken back after catching
	 * up), or clean: it stays */
	ck_assert_int_eq(meta_elect(&st, live123, since_old, crashed2, 3, 0, 2, 0, &out), 0);
	ck_assert_int_eq(meta_elect(&st, live123, since_new, none, 3, 0, 2, 0, &out), 0);
	/* the loss case: the leader (1) is dead and the unclean member (2) is
	 * the only live one in the ISR: it leaves, nobody leads */
	ck_assert_int_eq(meta_elect(&st, live2, since2, only2, 1, 0, 2, 0, &out), 1);
	expect_state(&out, -1, 5, "1");
	/* it was the leader: another live member leads, epoch + 1 */
	st = mkstate(2, 4, "123", "213");
	ck_assert_int_eq(meta_elect(&st, live123, since_new, crashed2, 3, 0, 1, 0, &out), 1);
	expect_state(&out, 1, 5, "13");
	/* the only member: kept (availability; KIP-966's ELR would do better),
	 * and the leader it is stays */
	st = mkstate(2, 4, "12", "2");
	ck_assert_int_eq(meta_elect(&st, live12, since_new, crashed2, 2, 0, 1, 0, &out), 1);
	expect_state(&out, 2, 5, "2");   /* only the new-incarnation epoch */
	/* every member unclean: the ISR is kept (the leader, registered anew,
	 * only gets a new epoch) */
	st = mkstate(1, 4, "123", "12");
	ck_assert_int_eq(meta_elect(&st, live123, since_both, crashed12, 3, 0, 1, 0, &out), 1);
	expect_state(&out, 1, 5, "12");
	/* offline, the unclean member back: it does not lead */
	st = mkstate(-1, 5, "123", "12");
	ck_assert_int_eq(meta_elect(&st, live2, since2, only2, 1, 0, 1, 0, &out), 1);
	expect_state(&out, -1, 5, "1");
	/* the unclean leader of election would: a live replica with unclean_leader_election */
	ck_assert_int_eq(meta_elect(&st, live2, since2, only2, 1, 1, 1, 0, &out), 1);
	expect_state(&out, 2, 6, "2");
}
END_TEST

/* KIP-380: a leadership written before this broker registered is its
 * previous incarnation's; it takes the state without a leader until the
 * controller's new epoch (meta_elect's new-incarnation rule) */
START_TEST(test_state_for_self_masks_an_older_incarnations_leadership)
{
	partition_state_t st = mkstate(2, 4, "123", "213"), out;   /* version 77 */

	ck_assert_int_eq(meta_state_for_self(&st, 2, 100, &out), 1);
	expect_state(&out, -1, 4, "213");
	ck_assert_int_eq(out.version, 77);
	ck_assert_int_eq(out.nreplicas, 3);
	/* registered before the state was written, unknown, or not the leader */
	ck_assert_int_eq(meta_state_for_self(&st, 2, 77, &out), 0);
	expect_state(&out, 2, 4, "213");
	ck_assert_int_eq(meta_state_for_self(&st, 2, 50, &out), 0);
	ck_assert_int_eq(meta_state_for_self(&st, 2, 0, &out), 0);
	ck_assert_int_eq(meta_state_for_self(&st, 1, 100, &out), 0);
	expect_state(&out, 2, 4, "213");
	/* the new epoch meta_elect writes for it is newer than the registration */
	ck_assert_int_eq(meta_elect(&st, (int32_t[]){ 1, 2, 3 }, (int64_t[]){ 50, 100, 60 }, NULL,
	                            3, 0, 1, 0, &out), 1);
	out.version = 101;
	ck_assert_int_eq(meta_state_for_self(&out, 2, 100, &st), 0);
	expect_state(&st, 2, 5, "213");
}
END_TEST

/* ---- three brokers in this process ---------------------------------------------------- */

typedef struct node {
	int32_t    id;
	char       dir[64];
	broker_t  *broker;
	cluster_t *cluster;
	meta_t    *meta;
} node_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(path);
}

/* Start node n's watcher (its broker and session are open): it reads
 * everything, then watches; as controller it scans every partition first. */
static void node_meta_open(node_t *n)
{
	meta_options_t mo;

	memset(&mo, 0, sizeof mo);
	mo.broker = n->broker;
	mo.cluster = n->cluster;
	mo.etcd_endpoints = fixture_etcd.client_url;
	ck_assert_msg(meta_open(&mo, &n->meta, errbuf, sizeof errbuf) == 0, "%s", errbuf);
}

/* Start (or restart, same data) broker id's broker, session and watcher. */
static void node_start(node_t *n, int32_t id)
{
	broker_options_t bo;
	cluster_options_t co;
	char url[64];

	if (n->dir[0] == '\0') {
		snprintf(n->dir, sizeof n->dir, "/tmp/strand-meta-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(n->dir));
	}
	n->id = id;
	memset(&bo, 0, sizeof bo);
	bo.data_dir = n->dir;
	bo.broker_id = id;
	ck_assert_msg(broker_open(&bo, &n->broker, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", 9100 + id);
	cluster_options_init(&co);
	co.etcd_endpoints = fixture_etcd.client_url;
	co.broker_id = id;
	co.advertised_url = url;
	co.proposed_cluster_id = "meta-test";
	ck_assert_msg(cluster_open(&co, &n->cluster, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	node_meta_open(n);
}

static void node_stop(node_t *n)
{
	meta_close(n->meta);
	cluster_close(n->cluster);
	broker_close(n->broker);
	n->meta = NULL;
	n->cluster = NULL;
	n->broker = NULL;
}

static void node_remove(node_t *n)
{
	if (n->broker != NULL)
		node_stop(n);
	if (n->dir[0] != '\0')
		nftw(n->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	n->dir[0] = '\0';
}

static node_t nodes[3];

/* Wait until every node's cache holds all three brokers. */
static void wait_brokers(int count)
{
	int64_t end = clock_now_ms() + WAIT_MS;
	int i, ok;

	do {
		ok = 1;
		for (i = 0; i < 3; i++)
			if (nodes[i].meta != NULL && meta_live_brokers(nodes[i].meta) != (size_t)count)
				ok = 0;
		if (ok)
			return;
		clock_sleep_ms(10);
	} while (clock_now_ms() < end);
	ck_abort_msg("brokers never saw %d live brokers", count);
}

static void three_up(void)
{
	etcd_options_t o = { fixture_etcd.client_url, 2000, 0, NULL };
	etcd_t *e = NULL;
	int i;

	/* every test starts from no topics (the etcd is the program's) */
	ck_assert_int_eq(etcd_open(&o, &e, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(etcd_delete(e, META_KEY_TOPICS, 1, NULL, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(etcd_delete(e, META_KEY_PARTITIONS, 1, NULL, errbuf, sizeof errbuf), 0);
	etcd_close(e);
	memset(nodes, 0, sizeof nodes);
	for (i = 0; i < 3; i++)
		node_start(&nodes[i], i + 1);
	wait_brokers(3);
}

static void three_down(void)
{
	int i;

	for (i = 0; i < 3; i++)
		node_remove(&nodes[i]);
}

/* Wait until node n has the topic locally with `partitions` partitions
 * (0: until it does not have it). */
static void wait_local_topic(node_t *n, const char *name, int32_t partitions)
{
	int64_t end = clock_now_ms() + WAIT_MS;
	topic_t *t;
	int32_t have;

	do {
		t = broker_topic_get(n->broker, name);
		have = t != NULL ? topic_partition_count(t) : 0;
		if (t != NULL)
			topic_release(t);
		if (have == partitions)
			return;
		clock_sleep_ms(10);
	} while (clock_now_ms() < end);
	ck_abort_msg("broker %d has topic %s with %d partitions, not %d", n->id, name, have,
	             partitions);
}

static void default_config(topic_config_t *cfg)
{
	topic_config_default(cfg);
}

START_TEST(test_create_through_one_broker_reaches_all)
{
	topic_config_t cfg;
	partition_state_t a, b;
	topic_t *t;
	int i, p, leads[3] = { 0, 0, 0 };

	three_up();
	default_config(&cfg);
	cfg.log.retention_ms = 12345;
	ck_assert_msg(meta_topic_create(nodes[0].meta, "orders", 6, 3, &cfg, errbuf,
	                                sizeof errbuf) == 0, "%s", errbuf);
	/* read-your-writes: broker 1 has it the moment the create returns */
	t = broker_topic_get(nodes[0].broker, "orders");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(topic_partition_count(t), 6);
	ck_assert_int_eq(topic_replication_factor(t), 3);
	topic_release(t);
	for (p = 0; p < 6; p++) {
		ck_assert_int_eq(meta_partition_state(nodes[0].meta, "orders", p, &a), 0);
		leads[a.leader - 1]++;
	}
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(leads[i], 2);   /* six leaders over three brokers */

	for (i = 1; i < 3; i++) {
		wait_local_topic(&nodes[i], "orders", 6);
		t = broker_topic_get(nodes[i].broker, "orders");
		topic_get_config(t, &cfg);
		ck_assert_int_eq(topic_replication_factor(t), 3);
		topic_release(t);
		ck_assert_int_eq(cfg.log.retention_ms, 12345);
		for (p = 0; p < 6; p++) {
			int32_t leader;
			char url[64];

			ck_assert_int_eq(meta_partition_state(nodes[0].meta, "orders", p, &a), 0);
			ck_assert_int_eq(meta_partition_state(nodes[i].meta, "orders", p, &b), 0);
			ck_assert(memcmp(&a, &b, sizeof a) == 0);   /* same placement, same version */
			ck_assert_int_eq(meta_partition_leader(nodes[i].meta, "orders", p, &leader, url,
			                                       sizeof url), 0);
			ck_assert_int_eq(leader, a.leader);
			ck_assert_int_eq(atoi(strrchr(url, ':') + 1), 9100 + leader);
		}
	}
	/* every broker's partitions took the state: roles follow the placement */
	for (i = 0; i < 3; i++)
		for (p = 0; p < 6; p++) {
			replica_role_t role;

			int64_t end = clock_now_ms() + WAIT_MS;

			ck_assert_int_eq(meta_partition_state(nodes[i].meta, "orders", p, &a), 0);
			/* broker 1 applied it before its create returned; the others
			 * apply it right after they create the topic: wait for it */
			while (broker_partition_get_state(nodes[i].broker, "orders", p, &b, &role) != 0) {
				ck_assert_msg(i > 0 && clock_now_ms() < end, "broker %d: no state for "
				              "orders/%d", i + 1, p);
				clock_sleep_ms(10);
			}
			ck_assert_int_eq(b.version, a.version);
			ck_assert_int_eq(b.leader, a.leader);
			ck_assert_int_eq(role, a.leader == nodes[i].id ? REPLICA_LEADER
			                                               : REPLICA_FOLLOWER);
		}
	ck_assert_int_eq(meta_partition_state(nodes[1].meta, "orders", 6, &a), STRAND_ENOENT);
	ck_assert_int_eq(meta_broker_url(nodes[1].meta, 99, NULL, 0), STRAND_ENOENT);

	/* the same name again, through another broker */
	ck_assert_int_eq(meta_topic_create(nodes[2].meta, "orders", 1, 1, &cfg, errbuf,
	                                   sizeof errbuf), STRAND_EEXIST);
	/* more replicas than live brokers */
	ck_assert_int_eq(meta_topic_create(nodes[1].meta, "wide", 1, 4, &cfg, errbuf,
	                                   sizeof errbuf), STRAND_EINVAL);
	ck_assert_msg(strstr(errbuf, "3 live brokers") != NULL, "%s", errbuf);
	three_down();
}
END_TEST

START_TEST(test_delete_and_alter_reach_all)
{
	meta_config_kv_t kv[] = { { "retention_ms", "999" }, { "min_insync_replicas", "2" } };
	meta_config_kv_t bad[] = { { "no_such_config", "1" } };
	topic_config_t cfg;
	partition_state_t st;
	topic_t *t;
	int i;

	three_up();
	default_config(&cfg);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "grow", 2, 2, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "gone", 1, 1, &cfg, errbuf,
	                                   sizeof errbuf), 0);

	/* alter through broker 2: four more partitions and two configs */
	ck_assert_msg(meta_topic_alter(nodes[1].meta, "grow", 6, kv, 2, errbuf,
	                               sizeof errbuf) == 0, "%s", errbuf);
	t = broker_topic_get(nodes[1].broker, "grow");
	ck_assert_int_eq(topic_partition_count(t), 6);
	topic_release(t);
	for (i = 0; i < 3; i++) {
		wait_local_topic(&nodes[i], "grow", 6);
		ck_assert_int_eq(meta_partition_state(nodes[i].meta, "grow", 5, &st), 0);
		ck_assert_int_eq(st.nreplicas, 2);
	}
	for (i = 0; i < 3; i++) {
		int64_t end = clock_now_ms() + WAIT_MS;

		do {
			t = broker_topic_get(nodes[i].broker, "grow");
			topic_get_config(t, &cfg);
			topic_release(t);
		} while ((cfg.log.retention_ms != 999 || cfg.min_insync_replicas != 2) &&
		         clock_now_ms() < end && (clock_sleep_ms(10), 1));
		ck_assert_int_eq(cfg.log.retention_ms, 999);
		ck_assert_int_eq(cfg.min_insync_replicas, 2);
	}
	/* never shrink; unknown configs; unknown topics */
	ck_assert_int_eq(meta_topic_alter(nodes[0].meta, "grow", 3, NULL, 0, errbuf,
	                                  sizeof errbuf), STRAND_EINVAL);
	ck_assert_int_eq(meta_topic_alter(nodes[0].meta, "grow", 0, bad, 1, errbuf,
	                                  sizeof errbuf), STRAND_EINVAL);
	ck_assert_int_eq(meta_topic_alter(nodes[0].meta, "nope", 9, NULL, 0, errbuf,
	                                  sizeof errbuf), STRAND_ENOENT);

	/* delete through broker 3 */
	for (i = 0; i < 3; i++)
		wait_local_topic(&nodes[i], "gone", 1);
	ck_assert_int_eq(meta_topic_delete(nodes[2].meta, "gone", errbuf, sizeof errbuf), 0);
	ck_assert_ptr_null(broker_topic_get(nodes[2].broker, "gone"));
	ck_assert_int_eq(meta_partition_state(nodes[2].meta, "gone", 0, &st), STRAND_ENOENT);
	for (i = 0; i < 3; i++)
		wait_local_topic(&nodes[i], "gone", 0);
	ck_assert_int_eq(meta_topic_delete(nodes[0].meta, "gone", errbuf, sizeof errbuf),
	                 STRAND_ENOENT);
	three_down();
}
END_TEST

/* The leader's ISR proposal: CAS on the state's version; the new state
 * reaches every broker's partition. */
START_TEST(test_isr_change_by_cas_reaches_all)
{
	topic_config_t cfg;
	partition_state_t st, stale, seen;
	node_t *leader;
	int i;

	three_up();
	default_config(&cfg);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "isr", 1, 3, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_partition_state(nodes[0].meta, "isr", 0, &st), 0);
	leader = &nodes[st.leader - 1];
	for (i = 0; i < 3; i++)
		wait_local_topic(&nodes[i], "isr", 1);
	stale = st;
	/* not the leader: refused without writing */
	ck_assert_int_eq(meta_propose_isr(nodes[st.leader % 3].meta, "isr", 0, &st),
	                 STRAND_EINVAL);
	st.nisr = 1;
	st.isr[0] = st.leader;
	ck_assert_int_eq(meta_propose_isr(leader->meta, "isr", 0, &st), 0);
	/* the same base version again: someone changed it meanwhile */
	stale.nisr = 2;
	ck_assert_int_eq(meta_propose_isr(leader->meta, "isr", 0, &stale), STRAND_EAGAIN);
	for (i = 0; i < 3; i++) {
		int64_t end = clock_now_ms() + WAIT_MS;
		int rc;

		/* a broker makes the topic, then applies its states: ENOENT until then */
		do {
			rc = broker_partition_get_state(nodes[i].broker, "isr", 0, &seen, NULL);
		} while ((rc != 0 || seen.nisr != 1) && clock_now_ms() < end &&
		         (clock_sleep_ms(10), 1));
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(seen.nisr, 1);
		ck_assert_int_eq(seen.isr[0], st.leader);
		ck_assert_int_gt(seen.version, st.version);
		ck_assert_int_eq(seen.leader_epoch, 0);
	}
	three_down();
}
END_TEST

/* Wait until node's cache holds a state of topic/p that check accepts. */
static partition_state_t wait_state(node_t *n, const char *topic, int32_t p,
                                    int (*check)(const partition_state_t *st, int32_t arg),
                                    int32_t arg, const char *what)
{
	int64_t end = clock_now_ms() + WAIT_MS;
	partition_state_t st;

	memset(&st, 0, sizeof st);
	do {
		if (meta_partition_state(n->meta, topic, p, &st) == 0 && check(&st, arg))
			return st;
		clock_sleep_ms(10);
	} while (clock_now_ms() < end);
	ck_abort_msg("broker %d: %s/%d never %s (leader %d, epoch %d, isr of %d)", n->id, topic,
	             p, what, st.leader, st.leader_epoch, st.nisr);
	return st;
}

/* Wait until node's broker has applied a state making it `role` for topic/p
 * (the watcher updates its cache, then hands the state to the broker). */
static void wait_role(node_t *n, const char *topic, int32_t p, replica_role_t role)
{
	int64_t end = clock_now_ms() + WAIT_MS;
	replica_role_t have = REPLICA_NONE;

	do {
		if (broker_partition_get_state(n->broker, topic, p, NULL, &have) == 0 && have == role)
			return;
		clock_sleep_ms(10);
	} while (clock_now_ms() < end);
	ck_abort_msg("broker %d: %s/%d role %d, not %d", n->id, topic, p, have, role);
}

static int led_by_other_than(const partition_state_t *st, int32_t id)
{
	return st->leader >= 0 && st->leader != id;
}

static int led_by(const partition_state_t *st, int32_t id)
{
	return st->leader == id;
}

static int in_isr(const partition_state_t *st, int32_t id)
{
	int32_t i;

	for (i = 0; i < st->nisr; i++)
		if (st->isr[i] == id)
			return 1;
	return 0;
}

static int out_of_isr(const partition_state_t *st, int32_t id)
{
	return st->leader >= 0 && !in_isr(st, id);
}

/*
 * A stopped follower: the controller drops it from the ISR (its leader
 * alive, same epoch). While it is not registered the leader may not add it
 * back (KIP-841: the leader tries again later); registered again, it may.
 */
START_TEST(test_dead_follower_dropped_and_not_added_back_unregistered)
{
	topic_config_t cfg;
	partition_state_t st, prop;
	int32_t leader, f;

	three_up();
	default_config(&cfg);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "fenced", 1, 3, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_partition_state(nodes[0].meta, "fenced", 0, &st), 0);
	leader = st.leader;
	f = leader % 3 + 1;
	for (int i = 0; i < 3; i++)
		wait_local_topic(&nodes[i], "fenced", 1);
	node_stop(&nodes[f - 1]);
	st = wait_state(&nodes[leader - 1], "fenced", 0, out_of_isr, f, "dropped the stopped "
	                "follower");
	ck_assert_int_eq(st.leader, leader);
	ck_assert_int_eq(st.leader_epoch, 0);
	ck_assert_int_eq(st.nisr, 2);
	prop = st;
	prop.isr[prop.nisr++] = f;
	ck_assert_int_eq(meta_propose_isr(nodes[leader - 1].meta, "fenced", 0, &prop),
	                 STRAND_EAGAIN);
	node_start(&nodes[f - 1], f);
	wait_brokers(3);
	ck_assert_int_eq(meta_propose_isr(nodes[leader - 1].meta, "fenced", 0, &prop), 0);
	wait_state(&nodes[0], "fenced", 0, in_isr, f, "took the follower back");
	three_down();
}
END_TEST

/* A broker leaves: its partitions get a live in-sync leader with the next
 * epoch; back and in sync again, it gets its preferred partitions back. */
START_TEST(test_failover_and_preferred_leader_return)
{
	topic_config_t cfg;
	partition_state_t st, before[3];
	int32_t p, mine = -1;

	three_up();
	default_config(&cfg);
	ck_assert_int_eq(meta_topic_create(nodes[1].meta, "fo", 3, 3, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	for (p = 0; p < 3; p++) {
		ck_assert_int_eq(meta_partition_state(nodes[1].meta, "fo", p, &before[p]), 0);
		if (before[p].leader == 1)
			mine = p;
	}
	ck_assert_int_ge(mine, 0);
	wait_local_topic(&nodes[0], "fo", 3);
	node_stop(&nodes[0]);                       /* broker 1 leaves */

	st = wait_state(&nodes[1], "fo", mine, led_by_other_than, 1, "got a new leader");
	ck_assert_int_eq(st.leader_epoch, 1);
	ck_assert_int_eq(st.nisr, 2);
	ck_assert(!in_isr(&st, 1));
	ck_assert_int_eq(st.leader, before[mine].replicas[1]);   /* next in replica order */
	wait_state(&nodes[2], "fo", mine, led_by, st.leader, "showed the new leader");
	wait_role(&nodes[st.leader - 1], "fo", mine, REPLICA_LEADER);
	for (p = 0; p < 3; p++) {
		partition_state_t other;

		if (p == mine)
			continue;
		ck_assert_int_eq(meta_partition_state(nodes[1].meta, "fo", p, &other), 0);
		ck_assert_int_eq(other.leader, before[p].leader);   /* not its partitions */
		ck_assert_int_eq(other.leader_epoch, 0);
	}

	node_start(&nodes[0], 1);                   /* back, same data */
	/* the leader adds only a broker its cache shows registered (KIP-841:
	 * EAGAIN before; seen once under load) */
	wait_brokers(3);
	/* not in sync yet: leadership stays; its leader (B's engine, here by
	 * hand) takes it back into the ISR once caught up */
	ck_assert_int_eq(meta_partition_state(nodes[0].meta, "fo", mine, &st), 0);
	ck_assert_int_eq(st.leader_epoch, 1);
	st.isr[st.nisr++] = 1;
	ck_assert_int_eq(meta_propose_isr(nodes[st.leader - 1].meta, "fo", mine, &st), 0);
	st = wait_state(&nodes[0], "fo", mine, led_by, 1, "went back to its preferred leader");
	ck_assert_int_eq(st.leader_epoch, 2);
	ck_assert_int_eq(st.nisr, 3);
	wait_role(&nodes[0], "fo", mine, REPLICA_LEADER);
	three_down();
}
END_TEST

/* The only in-sync replica leaves: offline (leader -1) unless the topic
 * allows unclean elections; it comes back: it leads again. */
START_TEST(test_offline_partition_and_unclean_election)
{
	static const char clean_state[] =
		"{\"replicas\":[1,2],\"leader\":1,\"leader_epoch\":0,\"isr\":[1]}";
	meta_config_kv_t unclean = { "unclean_leader_election", "true" };
	etcd_options_t o = { fixture_etcd.client_url, 2000, 0, NULL };
	topic_config_t cfg;
	partition_state_t st;
	etcd_t *e = NULL;
	int32_t leader;
	char url[64];
	int i;

	three_up();
	default_config(&cfg);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "clean", 1, 2, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "dirty", 1, 2, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_alter(nodes[0].meta, "dirty", 0, &unclean, 1, errbuf,
	                                  sizeof errbuf), 0);
	/* both: replicas [1,2], broker 2 fallen out of the ISR (set as a leader would) */
	ck_assert_int_eq(etcd_open(&o, &e, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(etcd_put(e, META_KEY_PARTITIONS "clean/0", clean_state,
	                          strlen(clean_state), 0, NULL, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(etcd_put(e, META_KEY_PARTITIONS "dirty/0", clean_state,
	                          strlen(clean_state), 0, NULL, errbuf, sizeof errbuf), 0);
	etcd_close(e);
	for (i = 0; i < 3; i++) {
		wait_state(&nodes[i], "clean", 0, led_by, 1, "took the test state");
		wait_state(&nodes[i], "dirty", 0, led_by, 1, "took the test state");
	}
	node_stop(&nodes[0]);

	st = wait_state(&nodes[1], "clean", 0, led_by, -1, "went offline");
	ck_assert_int_eq(st.leader_epoch, 1);
	ck_assert_int_eq(st.nisr, 1);
	ck_assert_int_eq(st.isr[0], 1);             /* kept for its return */
	ck_assert_int_eq(meta_partition_leader(nodes[1].meta, "clean", 0, &leader, url, sizeof url),
	                 STRAND_ENOTLEADER);
	ck_assert_int_eq(leader, -1);
	st = wait_state(&nodes[2], "dirty", 0, led_by, 2, "elected the out-of-sync replica");
	ck_assert_int_eq(st.leader_epoch, 1);
	ck_assert_int_eq(st.nisr, 1);
	ck_assert_int_eq(st.isr[0], 2);

	node_start(&nodes[0], 1);
	st = wait_state(&nodes[1], "clean", 0, led_by, 1, "came back with its in-sync replica");
	ck_assert_int_eq(st.leader_epoch, 2);
	ck_assert_int_eq(meta_partition_leader(nodes[1].meta, "clean", 0, &leader, url, sizeof url),
	                 0);
	ck_assert_int_eq(atoi(strrchr(url, ':') + 1), 9101);
	three_down();
}
END_TEST

typedef struct alter_arg {
	meta_t     *meta;
	const char *name, *value;
	int         rc;
} alter_arg_t;

static void *alter_thread(void *p)
{
	alter_arg_t *a = p;
	meta_config_kv_t kv = { a->name, a->value };
	char err[512];

	a->rc = meta_topic_alter(a->meta, "cas", 0, &kv, 1, err, sizeof err);
	return NULL;
}

/* Alters of different configs through different brokers at once: CAS on
 * the topic key means none overwrites the other's change. */
START_TEST(test_concurrent_alters_lose_nothing)
{
	static const char *const names[3] = { "retention_ms", "segment_ms", "flush_ms" };
	static const char *const values[3] = { "111", "222", "333" };
	alter_arg_t args[3];
	pthread_t th[3];
	topic_config_t cfg;
	topic_t *t;
	int i, round;

	three_up();
	default_config(&cfg);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "cas", 1, 3, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	for (i = 0; i < 3; i++)
		wait_local_topic(&nodes[i], "cas", 1);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 3; i++) {
			args[i] = (alter_arg_t){ nodes[i].meta, names[(i + round) % 3], values[i], -1 };
			ck_assert_int_eq(pthread_create(&th[i], NULL, alter_thread, &args[i]), 0);
		}
		for (i = 0; i < 3; i++) {
			pthread_join(th[i], NULL);
			ck_assert_int_eq(args[i].rc, 0);
		}
		/* each broker waited for its own write: the last writer sees all three */
		for (i = 0; i < 3; i++) {
			int64_t end = clock_now_ms() + WAIT_MS;
			int k, ok;

			do {
				t = broker_topic_get(nodes[i].broker, "cas");
				topic_get_config(t, &cfg);
				topic_release(t);
				ok = 1;
				for (k = 0; k < 3; k++) {
					int64_t want = atoll(values[k]);
					const char *n = names[(k + round) % 3];
					int64_t have = strcmp(n, "retention_ms") == 0 ? cfg.log.retention_ms :
					               strcmp(n, "segment_ms") == 0 ? cfg.log.segment_ms :
					               cfg.log.flush_ms;
					ok &= have == want;
				}
			} while (!ok && clock_now_ms() < end && (clock_sleep_ms(10), 1));
			ck_assert_msg(ok, "round %d: broker %d lost a concurrent change", round, i + 1);
		}
	}
	three_down();
}
END_TEST

/* One record straight into node n's local log of topic/p (as a replica's
 * data would be); the log end offset after it. */
static int64_t put_local_record(node_t *n, const char *topic, int32_t p)
{
	batch_builder_t bb;
	log_append_info_t info;
	size_t size;
	topic_t *t = broker_topic_get(n->broker, topic);
	log_t *log;
	int64_t leo;

	ck_assert_ptr_nonnull(t);
	log = topic_partition_log(t, p);
	batch_builder_init(&bb);
	ck_assert_int_eq(batch_builder_begin(&bb, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&bb, 1, NULL, -1, (const uint8_t *)"old", 3, NULL, 0),
	                 0);
	ck_assert_int_eq(batch_builder_finish(&bb, &size), 0);
	ck_assert_int_eq(log_append(log, bb.buf, size, 0, &info, errbuf, sizeof errbuf), 0);
	leo = log_end_offset(log);
	batch_builder_free(&bb);
	topic_release(t);
	return leo;
}

static int64_t local_leo(node_t *n, const char *topic, int32_t p)
{
	topic_t *t = broker_topic_get(n->broker, topic);
	int64_t leo;

	ck_assert_ptr_nonnull(t);
	leo = log_end_offset(topic_partition_log(t, p));
	topic_release(t);
	return leo;
}

/* A broker away while topics change re-reads everything at start: topics
 * deleted meanwhile go, new ones come, grown ones grow, and a topic
 * deleted and made again under the same name and shape is a new topic
 * (the old records go), while one that stayed keeps its records. */
START_TEST(test_restarted_broker_relists)
{
	topic_config_t cfg;
	partition_state_t a, b;
	topic_t *t;

	three_up();
	default_config(&cfg);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "stays", 3, 2, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "leaves", 1, 3, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "again", 1, 2, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	wait_local_topic(&nodes[2], "leaves", 1);
	wait_local_topic(&nodes[2], "stays", 3);
	wait_local_topic(&nodes[2], "again", 1);
	ck_assert_int_eq(put_local_record(&nodes[2], "stays", 0), 1);
	ck_assert_int_eq(put_local_record(&nodes[2], "again", 0), 1);
	node_stop(&nodes[2]);
	wait_brokers(2);

	ck_assert_int_eq(meta_topic_delete(nodes[0].meta, "again", errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_create(nodes[1].meta, "again", 1, 2, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_delete(nodes[0].meta, "leaves", errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_create(nodes[1].meta, "arrives", 2, 2, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	ck_assert_int_eq(meta_topic_alter(nodes[1].meta, "stays", 5, NULL, 0, errbuf,
	                                  sizeof errbuf), 0);

	node_start(&nodes[2], 3);   /* same data directory */
	/* meta_open read everything before returning: no waiting needed */
	ck_assert_ptr_null(broker_topic_get(nodes[2].broker, "leaves"));
	t = broker_topic_get(nodes[2].broker, "arrives");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(topic_partition_count(t), 2);
	topic_release(t);
	t = broker_topic_get(nodes[2].broker, "stays");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(topic_partition_count(t), 5);
	topic_release(t);
	ck_assert_int_eq(meta_partition_state(nodes[0].meta, "stays", 4, &a), 0);
	ck_assert_int_eq(meta_partition_state(nodes[2].meta, "stays", 4, &b), 0);
	ck_assert(memcmp(&a, &b, sizeof a) == 0);
	ck_assert_int_eq(local_leo(&nodes[2], "stays", 0), 1);   /* the same topic: kept */
	ck_assert_int_eq(local_leo(&nodes[2], "again", 0), 0);   /* a new topic: replaced */
	/* and again after a restart with nothing changed: nothing replaced */
	ck_assert_int_eq(put_local_record(&nodes[2], "again", 0), 1);
	node_stop(&nodes[2]);
	node_start(&nodes[2], 3);
	ck_assert_int_eq(local_leo(&nodes[2], "again", 0), 1);
	ck_assert_int_eq(local_leo(&nodes[2], "stays", 0), 1);
	three_down();
}
END_TEST

static int epoch_above(const partition_state_t *st, int32_t epoch)
{
	return st->leader_epoch > epoch;
}

/*
 * A leader that registers again while no controller saw its old
 * registration go (Kafka: a new broker epoch; in strand a restart within
 * its old lease, seen first by a controller elected meanwhile): the state
 * that made it leader is older than its registration, so the controller
 * gives it a new leader epoch — same leader, ISR kept — and its followers
 * truncate against it again (KIP-101). Partitions it does not lead keep
 * their epoch.
 */
START_TEST(test_reregistered_leader_gets_a_new_epoch)
{
	topic_config_t cfg;
	partition_state_t st, before[3];
	int32_t p, mine = -1, ctl = -1, leader = -1;
	int i;

	three_up();
	default_config(&cfg);
	ck_assert_int_eq(meta_topic_create(nodes[0].meta, "reinc", 3, 3, &cfg, errbuf,
	                                   sizeof errbuf), 0);
	for (i = 0; i < 3; i++) {
		wait_local_topic(&nodes[i], "reinc", 3);
		if (cluster_is_controller(nodes[i].cluster, NULL))
			ctl = i;
	}
	ck_assert_int_ge(ctl, 0);
	for (p = 0; p < 3; p++) {
		ck_assert_int_eq(meta_partition_state(nodes[0].meta, "reinc", p, &before[p]), 0);
		if (before[p].leader != ctl + 1 && mine < 0)
			mine = p;   /* led by a broker that is not the controller */
	}
	ck_assert_int_ge(mine, 0);
	leader = before[mine].leader;

	/* the controller's watcher stops: it sees neither the old registration
	 * go nor the new one come; the leader restarts meanwhile */
	meta_close(nodes[ctl].meta);
	nodes[ctl].meta = NULL;
	node_stop(&nodes[leader - 1]);
	node_start(&nodes[leader - 1], leader);
	/* the old state, whose leadership was its previous incarnation's: it
	 * takes it without a leader (KIP-380), and does not lead in that epoch */
	wait_role(&nodes[leader - 1], "reinc", mine, REPLICA_FOLLOWER);
	ck_assert_int_eq(broker_partition_get_state(nodes[leader - 1].broker, "reinc", mine, &st,
	                                            NULL), 0);
	ck_assert_int_eq(st.leader, -1);
	ck_assert_int_eq(st.leader_epoch, before[mine].leader_epoch);
	node_meta_open(&nodes[ctl]);    /* its first scan finds the new registration */

	st = wait_state(&nodes[leader - 1], "reinc", mine, epoch_above, before[mine].leader_epoch,
	                "got a new epoch");
	ck_assert_int_eq(st.leader, leader);
	ck_assert_int_eq(st.leader_epoch, before[mine].leader_epoch + 1);
	ck_assert_int_eq(st.nisr, 3);
	wait_role(&nodes[leader - 1], "reinc", mine, REPLICA_LEADER);   /* leads in the new one */
	for (p = 0; p < 3; p++) {
		if (before[p].leader == leader)
			continue;
		ck_assert_int_eq(meta_partition_state(nodes[ctl].meta, "reinc", p, &st), 0);
		ck_assert_int_eq(st.leader, before[p].leader);
		ck_assert_int_eq(st.leader_epoch, before[p].leader_epoch);
	}
	three_down();
}
END_TEST

static Suite *meta_suite(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_state_round_trip);
	tcase_add_test(tc, test_state_decode_refuses_bad_states);
	tcase_add_test(tc, test_placement_matches_kafkas_example);
	tcase_add_test(tc, test_placement_spreads_leaders_and_replicas);
	tcase_add_test(tc, test_elect_rules);
	tcase_add_test(tc, test_elect_unclean_shutdown);
	tcase_add_test(tc, test_state_for_self_masks_an_older_incarnations_leadership);
	suite_add_tcase(s, tc);

	tc = tcase_create("etcd");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_create_through_one_broker_reaches_all);
	tcase_add_test(tc, test_delete_and_alter_reach_all);
	tcase_add_test(tc, test_concurrent_alters_lose_nothing);
	tcase_add_test(tc, test_isr_change_by_cas_reaches_all);
	tcase_add_test(tc, test_restarted_broker_relists);
	tcase_add_test(tc, test_failover_and_preferred_leader_return);
	tcase_add_test(tc, test_offline_partition_and_unclean_election);
	tcase_add_test(tc, test_reregistered_leader_gets_a_new_epoch);
	tcase_add_test(tc, test_dead_follower_dropped_and_not_added_back_unregistered);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return etcd_fixture_run(meta_suite());
}
