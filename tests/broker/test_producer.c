/*
 * test_producer.c — Check suite for idempotent producers (KIP-98):
 * src/broker/producer.c's sequence and epoch rules checked against Kafka's
 * (duplicates of the last 5 batches, gaps, fencing, epoch bumps, wrap-around),
 * and the broker around them: producer ids unique across reopen, duplicates
 * appending nothing, the state rebuilt from the log after a reopen, and
 * expiration; in cluster mode, ids that carry the broker id and leaders
 * that take other brokers' ids. Every broker test runs in its own
 * temporary data dir.
 */
#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/producer.h"
#include "broker/replica.h"
#include "cluster/cluster.h"
#include "common/err.h"
#include "log/batch.h"

static char data_dir[] = "/tmp/strand-producer-XXXXXX";
static char errbuf[512];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	strcpy(data_dir, "/tmp/strand-producer-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(data_dir));
	errbuf[0] = '\0';
}

static void teardown(void)
{
	nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A header as producer_table_check sees one (only the fields it reads). */
static batch_header_t hdr(int64_t pid, int16_t epoch, int32_t seq, int32_t nrecords,
                          int64_t base_offset)
{
	batch_header_t h;

	memset(&h, 0, sizeof h);
	h.producer_id = pid;
	h.producer_epoch = epoch;
	h.base_sequence = seq;
	h.last_offset_delta = nrecords - 1;
	h.record_count = nrecords;
	h.base_offset = base_offset;
	h.max_timestamp = 1700000000000;
	return h;
}

static int check(producer_table_t *t, batch_header_t h, producer_batch_meta_t *dup)
{
	producer_batch_meta_t local;

	return producer_table_check(t, &h, dup != NULL ? dup : &local, errbuf, sizeof errbuf);
}

/* ---- the rules ---------------------------------------------------------- */

START_TEST(test_sequence_rules_follow_kafka)
{
	producer_table_t *t;
	producer_batch_meta_t dup;
	batch_header_t h;

	ck_assert_int_eq(producer_table_new(&t), 0);
	/* no state: any first sequence, and non-idempotent batches pass */
	ck_assert_int_eq(check(t, hdr(-1, -1, -1, 3, 0), NULL), 0);
	ck_assert_int_eq(check(t, hdr(7, 0, 42, 3, 0), NULL), 0);
	ck_assert_int_eq(check(t, hdr(7, -1, 0, 1, 0), NULL), STRAND_EINVAL);
	ck_assert_int_eq(check(t, hdr(7, 0, -1, 1, 0), NULL), STRAND_EINVAL);
	ck_assert_int_eq(check(t, hdr(-2, 0, 0, 1, 0), NULL), STRAND_EINVAL);

	/* six batches of 2 records: sequences 0-1, 2-3, ..., 10-11 at offsets 100.. */
	for (int i = 0; i < 6; i++) {
		h = hdr(7, 0, 2 * i, 2, 100 + 10 * i);
		ck_assert_int_eq(check(t, h, NULL), 0);
		ck_assert_int_eq(producer_table_record(t, &h), 0);
	}
	ck_assert_uint_eq(producer_table_count(t), 1);
	/* the last five are duplicates, answered with their offsets */
	for (int i = 1; i < 6; i++) {
		ck_assert_int_eq(check(t, hdr(7, 0, 2 * i, 2, 0), &dup), 1);
		ck_assert_int_eq(dup.first_offset, 100 + 10 * i);
		ck_assert_int_eq(dup.last_offset, 100 + 10 * i + 1);
		ck_assert_int_eq(dup.first_seq, 2 * i);
		ck_assert_int_eq(dup.last_seq, 2 * i + 1);
	}
	/* the oldest fell out of the window; a same-start, other-length batch is no duplicate */
	ck_assert_int_eq(check(t, hdr(7, 0, 0, 2, 0), NULL), STRAND_ESEQUENCE);
	ck_assert_int_eq(check(t, hdr(7, 0, 10, 1, 0), NULL), STRAND_ESEQUENCE);
	/* in sequence, and a gap */
	ck_assert_int_eq(check(t, hdr(7, 0, 12, 5, 0), NULL), 0);
	ck_assert_int_eq(check(t, hdr(7, 0, 13, 1, 0), NULL), STRAND_ESEQUENCE);
	ck_assert_msg(strstr(errbuf, "expected base_sequence 12") != NULL, "%s", errbuf);
	/* an older epoch is fenced; a newer one must start at 0 */
	h = hdr(7, 1, 0, 1, 200);
	ck_assert_int_eq(check(t, hdr(7, 1, 12, 1, 0), NULL), STRAND_ESEQUENCE);
	ck_assert_int_eq(check(t, h, NULL), 0);
	ck_assert_int_eq(producer_table_record(t, &h), 0);
	ck_assert_int_eq(check(t, hdr(7, 0, 12, 1, 0), NULL), STRAND_EFENCED);
	ck_assert_int_eq(check(t, hdr(7, 1, 1, 1, 0), NULL), 0);
	/* the new epoch's window holds only its own batch */
	ck_assert_int_eq(check(t, hdr(7, 1, 0, 1, 0), &dup), 1);
	ck_assert_int_eq(dup.first_offset, 200);
	/* other producers are independent */
	ck_assert_int_eq(check(t, hdr(8, 0, 5, 1, 0), NULL), 0);
	producer_table_free(t);
}
END_TEST

START_TEST(test_sequences_wrap_past_int32_max)
{
	producer_table_t *t;
	producer_batch_meta_t dup;
	batch_header_t h = hdr(3, 0, INT32_MAX - 1, 4, 0);

	ck_assert_int_eq(producer_sequence_add(INT32_MAX, 1), 0);
	ck_assert_int_eq(producer_sequence_add(INT32_MAX - 1, 3), 1);
	ck_assert_int_eq(producer_table_new(&t), 0);
	ck_assert_int_eq(producer_table_record(t, &h), 0);      /* sequences MAX-1 .. 1 */
	ck_assert_int_eq(check(t, hdr(3, 0, INT32_MAX - 1, 4, 0), &dup), 1);
	ck_assert_int_eq(dup.last_seq, 1);
	ck_assert_int_eq(check(t, hdr(3, 0, 2, 1, 0), NULL), 0);
	ck_assert_int_eq(check(t, hdr(3, 0, 0, 1, 0), NULL), STRAND_ESEQUENCE);
	producer_table_free(t);
}
END_TEST

START_TEST(test_table_grows_and_expires)
{
	producer_table_t *t;
	batch_header_t h;

	ck_assert_int_eq(producer_table_new(&t), 0);
	for (int64_t pid = 0; pid < 1000; pid++) {
		h = hdr(pid, 0, 0, 1, pid);
		h.max_timestamp = pid;
		ck_assert_int_eq(producer_table_record(t, &h), 0);
	}
	ck_assert_uint_eq(producer_table_count(t), 1000);
	for (int64_t pid = 0; pid < 1000; pid += 97)
		ck_assert_int_eq(check(t, hdr(pid, 0, 0, 1, 0), NULL), 1);
	/* below the log start offset, or idle since before min_timestamp */
	ck_assert_uint_eq(producer_table_expire(t, 100, INT64_MIN), 100);
	ck_assert_uint_eq(producer_table_expire(t, 0, 900), 800);
	ck_assert_uint_eq(producer_table_count(t), 100);
	ck_assert_int_eq(check(t, hdr(899, 0, 5, 1, 0), NULL), 0);        /* forgotten */
	ck_assert_int_eq(check(t, hdr(950, 0, 5, 1, 0), NULL), STRAND_ESEQUENCE);
	ck_assert_int_eq(check(t, hdr(950, 0, 0, 1, 0), NULL), 1);
	producer_table_free(t);
}
END_TEST

/* ---- through the broker ------------------------------------------------- */

static broker_t *open_broker_opts(int tick_ms, int64_t expiration_ms)
{
	broker_options_t opts = { data_dir, 0, "", tick_ms, expiration_ms, { 0, 0, 0 }, 0, { 0, 0, 0 }, 0, 0 };
	broker_t *b = NULL;
	int rc = broker_open(&opts, &b, errbuf, sizeof(errbuf));

	ck_assert_msg(rc == 0, "broker_open: %d %s", rc, errbuf);
	return b;
}

static broker_t *open_broker(void)
{
	return open_broker_opts(1000, 0);
}

static void create_topic(broker_t *b, const char *name, int32_t partitions)
{
	topic_config_t cfg;

	topic_config_default(&cfg);
	ck_assert_int_eq(broker_topic_create(b, name, partitions, 1, &cfg, errbuf,
	                                     sizeof(errbuf)), 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One batch of n records for producer pid at sequence seq, timestamp ts. */
static void build(batch_builder_t *bb, int64_t pid, int16_t epoch, int32_t seq, int n,
                  int64_t ts)
{
	char v[32];

	batch_builder_reset(bb);
	ck_assert_int_eq(batch_builder_begin(bb, pid, epoch, seq), 0);
	for (int i = 0; i < n; i++) {
		int len = snprintf(v, sizeof v, "v%d-%d", seq, i);

		ck_assert_int_eq(batch_builder_add(bb, ts, NULL, -1, (const uint8_t *)v, len,
		                                   NULL, 0), 0);
	}
	ck_assert_int_eq(batch_builder_finish(bb, NULL), 0);
}

static int append(broker_t *b, topic_t *t, int32_t p, batch_builder_t *bb,
                  broker_append_info_t *info)
{
	memset(info, 0, sizeof *info);
	return broker_append(b, t, p, bb->buf, bb->len, 0, info, errbuf, sizeof errbuf);
}

START_TEST(test_producer_ids_unique_across_reopen)
{
	broker_t *b = open_broker();
	int64_t id, prev = -1;
	int16_t epoch;

	for (int i = 0; i < 1500; i++) {       /* crosses a reserved block */
		ck_assert_int_eq(broker_producer_new(b, &id, &epoch, errbuf, sizeof errbuf), 0);
		ck_assert_int_gt(id, prev);
		ck_assert_int_eq(epoch, 0);
		prev = id;
	}
	broker_close(b);
	b = open_broker();
	ck_assert_int_eq(broker_producer_new(b, &id, &epoch, errbuf, sizeof errbuf), 0);
	ck_assert_int_gt(id, prev);
	broker_close(b);
}
END_TEST

START_TEST(test_duplicate_appends_nothing_and_answers_original_offsets)
{
	broker_t *b = open_broker();
	batch_builder_t bb, other;
	broker_append_info_t info;
	int64_t pid;
	int16_t epoch;
	topic_t *t;

	batch_builder_init(&bb);
	batch_builder_init(&other);
	create_topic(b, "idem", 2);
	t = broker_topic_get(b, "idem");
	ck_assert_int_eq(broker_producer_new(b, &pid, &epoch, errbuf, sizeof errbuf), 0);

	build(&other, -1, -1, -1, 2, now_ms());        /* someone else's records first */
	ck_assert_int_eq(append(b, t, 1, &other, &info), 0);
	build(&bb, pid, epoch, 0, 3, now_ms());
	ck_assert_int_eq(append(b, t, 1, &bb, &info), 0);
	ck_assert_int_eq(info.first_offset, 2);
	ck_assert_int_eq(info.duplicate, 0);
	build(&other, -1, -1, -1, 4, now_ms());
	ck_assert_int_eq(append(b, t, 1, &other, &info), 0);
	ck_assert_int_eq(topic_partition_hw(t, 1), 9);

	/* the retry: same offsets, nothing appended, base_offset rewritten */
	build(&bb, pid, epoch, 0, 3, now_ms());
	ck_assert_int_eq(append(b, t, 1, &bb, &info), 0);
	ck_assert_int_eq(info.duplicate, 1);
	ck_assert_int_eq(info.first_offset, 2);
	ck_assert_int_eq(info.last_offset, 4);
	ck_assert_int_eq(info.record_count, 3);
	ck_assert_int_eq(topic_partition_hw(t, 1), 9);
	{
		batch_header_t h;

		ck_assert_int_eq(batch_header_decode(bb.buf, bb.len, 0, &h, NULL, 0), 0);
		ck_assert_int_eq(h.base_offset, 2);
	}
	/* gap, stale epoch, a producer id never handed out, two batches in one body */
	build(&bb, pid, epoch, 4, 1, now_ms());
	ck_assert_int_eq(append(b, t, 1, &bb, &info), STRAND_ESEQUENCE);
	build(&bb, pid, 1, 0, 1, now_ms());
	ck_assert_int_eq(append(b, t, 1, &bb, &info), 0);
	build(&bb, pid, 0, 3, 1, now_ms());
	ck_assert_int_eq(append(b, t, 1, &bb, &info), STRAND_EFENCED);
	build(&bb, pid + 1, 0, 0, 1, now_ms());
	ck_assert_int_eq(append(b, t, 1, &bb, &info), STRAND_EINVAL);
	ck_assert_msg(strstr(errbuf, "unknown producer_id") != NULL, "%s", errbuf);
	build(&bb, pid, 1, 1, 1, now_ms());
	ck_assert_int_eq(batch_builder_begin(&bb, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&bb, 1, NULL, -1, (const uint8_t *)"x", 1, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&bb, NULL), 0);
	ck_assert_int_eq(append(b, t, 1, &bb, &info), STRAND_EINVAL);
	ck_assert_int_eq(topic_partition_hw(t, 1), 10);
	/* partitions keep separate state: partition 0 has none for pid */
	build(&bb, pid, 0, 3, 1, now_ms());
	ck_assert_int_eq(append(b, t, 0, &bb, &info), 0);

	topic_release(t);
	batch_builder_free(&bb);
	batch_builder_free(&other);
	broker_close(b);
}
END_TEST

START_TEST(test_state_rebuilt_from_the_log_on_reopen)
{
	broker_t *b = open_broker();
	batch_builder_t bb;
	broker_append_info_t info;
	int64_t pid, first[7];
	int16_t epoch;
	topic_t *t;

	batch_builder_init(&bb);
	create_topic(b, "again", 1);
	t = broker_topic_get(b, "again");
	ck_assert_int_eq(broker_producer_new(b, &pid, &epoch, errbuf, sizeof errbuf), 0);
	for (int i = 0; i < 7; i++) {
		build(&bb, pid, epoch, 2 * i, 2, now_ms());
		ck_assert_int_eq(append(b, t, 0, &bb, &info), 0);
		first[i] = info.first_offset;
	}
	topic_release(t);
	broker_close(b);

	b = open_broker();
	t = broker_topic_get(b, "again");
	ck_assert_int_eq(broker_partition_producer_count(t, 0), 1);
	for (int i = 2; i < 7; i++) {
		build(&bb, pid, epoch, 2 * i, 2, now_ms());
		ck_assert_int_eq(append(b, t, 0, &bb, &info), 0);
		ck_assert_int_eq(info.duplicate, 1);
		ck_assert_int_eq(info.first_offset, first[i]);
	}
	build(&bb, pid, epoch, 2, 2, now_ms());           /* out of the window */
	ck_assert_int_eq(append(b, t, 0, &bb, &info), STRAND_ESEQUENCE);
	build(&bb, pid, epoch, 15, 1, now_ms());          /* gap */
	ck_assert_int_eq(append(b, t, 0, &bb, &info), STRAND_ESEQUENCE);
	build(&bb, pid, epoch, 14, 1, now_ms());
	ck_assert_int_eq(append(b, t, 0, &bb, &info), 0);
	ck_assert_int_eq(info.first_offset, 14);
	ck_assert_int_eq(topic_partition_hw(t, 0), 15);
	topic_release(t);
	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

START_TEST(test_idle_producers_expire)
{
	broker_t *b = open_broker_opts(20, 60000);   /* tick every 20 ms, expire after 60 s */
	batch_builder_t bb;
	broker_append_info_t info;
	int64_t old_pid, new_pid, deadline;
	int16_t epoch;
	topic_t *t;

	batch_builder_init(&bb);
	create_topic(b, "idle", 1);
	t = broker_topic_get(b, "idle");
	ck_assert_int_eq(broker_producer_new(b, &old_pid, &epoch, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(broker_producer_new(b, &new_pid, &epoch, errbuf, sizeof errbuf), 0);
	build(&bb, old_pid, 0, 0, 1, now_ms() - 120000);      /* last wrote two minutes ago */
	ck_assert_int_eq(append(b, t, 0, &bb, &info), 0);
	build(&bb, new_pid, 0, 0, 1, now_ms());
	ck_assert_int_eq(append(b, t, 0, &bb, &info), 0);

	deadline = now_ms() + 10000;
	while (broker_partition_producer_count(t, 0) != 1 && now_ms() < deadline)
		usleep(5000);
	ck_assert_int_eq(broker_partition_producer_count(t, 0), 1);
	/* the expired producer starts afresh at any sequence; the live one is held to its own */
	build(&bb, old_pid, 0, 9, 1, now_ms());
	ck_assert_int_eq(append(b, t, 0, &bb, &info), 0);
	build(&bb, new_pid, 0, 9, 1, now_ms());
	ck_assert_int_eq(append(b, t, 0, &bb, &info), STRAND_ESEQUENCE);
	topic_release(t);
	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

/* ---- cluster mode: ids carry the broker id ------------------------------ */

static int always_valid(void *ctx)
{
	(void)ctx;
	return 1;
}

/* A cluster-mode broker (broker id id, lease always valid) in data_dir/sub. */
static broker_t *open_cluster_broker(int32_t id, const char *sub)
{
	char dir[sizeof data_dir + 16];
	broker_options_t opts = { dir, id, "http://127.0.0.1:0", 1000, 0, { 0, 0, 0 }, 0, { 0, 0, 0 }, 0, 0 };
	broker_t *b = NULL;
	int rc;

	snprintf(dir, sizeof dir, "%s/%s", data_dir, sub);
	rc = broker_open(&opts, &b, errbuf, sizeof(errbuf));
	ck_assert_msg(rc == 0, "broker_open: %d %s", rc, errbuf);
	broker_set_lease_check(b, always_valid, NULL);
	return b;
}

START_TEST(test_cluster_ids_differ_across_brokers_and_restarts)
{
	broker_t *b1 = open_cluster_broker(1, "b1"), *b2 = open_cluster_broker(2, "b2");
	int64_t id1, id2, again;
	int16_t epoch;

	ck_assert_int_eq(broker_producer_new(b1, &id1, &epoch, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(broker_producer_new(b2, &id2, &epoch, errbuf, sizeof errbuf), 0);
	ck_assert_int_ne(id1, id2);
	ck_assert_int_eq(id1 >> BROKER_PRODUCER_ID_SHIFT, 1);
	ck_assert_int_eq(id2 >> BROKER_PRODUCER_ID_SHIFT, 2);
	broker_close(b1);
	b1 = open_cluster_broker(1, "b1");           /* the block counter persists */
	ck_assert_int_eq(broker_producer_new(b1, &again, &epoch, errbuf, sizeof errbuf), 0);
	ck_assert_int_gt(again, id1);
	ck_assert_int_eq(again >> BROKER_PRODUCER_ID_SHIFT, 1);
	broker_close(b1);
	broker_close(b2);

	/* single-node: small ids as before, and another broker's id is unknown */
	{
		broker_t *b = open_broker();
		batch_builder_t bb;
		broker_append_info_t info;
		topic_t *t;

		ck_assert_int_eq(broker_producer_new(b, &again, &epoch, errbuf, sizeof errbuf), 0);
		ck_assert_int_lt(again, BROKER_PRODUCER_IDS_PER_BROKER);
		batch_builder_init(&bb);
		create_topic(b, "solo", 1);
		t = broker_topic_get(b, "solo");
		build(&bb, id1, 0, 0, 1, now_ms());
		ck_assert_int_eq(append(b, t, 0, &bb, &info), STRAND_EINVAL);
		ck_assert_msg(strstr(errbuf, "unknown producer_id") != NULL, "%s", errbuf);
		build(&bb, again, 0, 0, 1, now_ms());
		ck_assert_int_eq(append(b, t, 0, &bb, &info), 0);
		topic_release(t);
		batch_builder_free(&bb);
		broker_close(b);
	}
}
END_TEST

START_TEST(test_cluster_leader_takes_another_brokers_id)
{
	broker_t *b1 = open_cluster_broker(1, "b1"), *b2 = open_cluster_broker(2, "b2");
	partition_state_t st;
	batch_builder_t bb;
	broker_append_info_t info;
	int64_t pid, own;
	int16_t epoch;
	topic_t *t;

	ck_assert_int_eq(broker_producer_new(b1, &pid, &epoch, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(broker_producer_new(b2, &own, &epoch, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(broker_topic_create(b2, "c", 1, 1, NULL, errbuf, sizeof errbuf), 0);
	memset(&st, 0, sizeof st);                   /* broker 2 leads c-0 alone */
	st.nreplicas = 1;
	st.replicas[0] = 2;
	st.leader = 2;
	st.nisr = 1;
	st.isr[0] = 2;
	st.version = 1;
	ck_assert_int_eq(broker_partition_set_state(b2, "c", 0, &st, errbuf, sizeof errbuf), 0);
	t = broker_topic_get(b2, "c");
	batch_builder_init(&bb);

	/* broker 1's producer, first seen on broker 2: state from its first batch */
	build(&bb, pid, epoch, 0, 3, now_ms());
	ck_assert_msg(append(b2, t, 0, &bb, &info) == 0, "%s", errbuf);
	ck_assert_int_eq(info.first_offset, 0);
	ck_assert_int_eq(info.duplicate, 0);
	build(&bb, pid, epoch, 0, 3, now_ms());      /* the retry of that first batch */
	ck_assert_int_eq(append(b2, t, 0, &bb, &info), 0);
	ck_assert_int_eq(info.duplicate, 1);
	ck_assert_int_eq(info.first_offset, 0);
	ck_assert_int_eq(info.last_offset, 2);
	build(&bb, pid, epoch, 3, 2, now_ms());
	ck_assert_int_eq(append(b2, t, 0, &bb, &info), 0);
	ck_assert_int_eq(info.first_offset, 3);
	build(&bb, pid, epoch, 9, 1, now_ms());      /* a gap */
	ck_assert_int_eq(append(b2, t, 0, &bb, &info), STRAND_ESEQUENCE);
	build(&bb, own, epoch, 0, 1, now_ms());      /* its own ids still work */
	ck_assert_int_eq(append(b2, t, 0, &bb, &info), 0);
	ck_assert_int_eq(topic_partition_hw(t, 0), 6);

	/* ids no broker can have given: broker part 0 or past the limit, or
	 * one of broker 2's own it has not handed out yet */
	build(&bb, 5, 0, 0, 1, now_ms());
	ck_assert_int_eq(append(b2, t, 0, &bb, &info), STRAND_EINVAL);
	build(&bb, ((int64_t)CLUSTER_MAX_BROKER_ID + 1) << BROKER_PRODUCER_ID_SHIFT, 0, 0, 1,
	      now_ms());
	ck_assert_int_eq(append(b2, t, 0, &bb, &info), STRAND_EINVAL);
	build(&bb, own + 1, 0, 0, 1, now_ms());
	ck_assert_int_eq(append(b2, t, 0, &bb, &info), STRAND_EINVAL);
	ck_assert_int_eq(topic_partition_hw(t, 0), 6);

	topic_release(t);
	batch_builder_free(&bb);
	broker_close(b1);
	broker_close(b2);
}
END_TEST

static Suite *producer_suite(void)
{
	Suite *s = suite_create("producer");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_sequence_rules_follow_kafka);
	tcase_add_test(tc, test_sequences_wrap_past_int32_max);
	tcase_add_test(tc, test_table_grows_and_expires);
	suite_add_tcase(s, tc);
	tc = tcase_create("broker");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_producer_ids_unique_across_reopen);
	tcase_add_test(tc, test_duplicate_appends_nothing_and_answers_original_offsets);
	tcase_add_test(tc, test_state_rebuilt_from_the_log_on_reopen);
	tcase_add_test(tc, test_idle_producers_expire);
	tcase_add_test(tc, test_cluster_ids_differ_across_brokers_and_restarts);
	tcase_add_test(tc, test_cluster_leader_takes_another_brokers_id);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(producer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
