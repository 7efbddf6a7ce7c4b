/*
 * test_follower.c — Check suite for src/broker/follower.c: the KIP-279
 * truncation rule (follower_truncation_step) over real logs.
 *
 * Each case writes two logs from a history of runs (epoch, batches,
 * records per batch, writer): a record's bytes depend on its writer and
 * offset only, so two logs hold the same record at an offset exactly when
 * the same leader wrote it there. The test then plays the follower's side
 * of the protocol as the fetcher does — ask the leader about the latest
 * local epoch, look the answer up locally, truncate, repeat until done —
 * and checks the truncation point and the number of rounds. Finally it
 * copies the leader's tail with log_append_replica: a wrong truncation
 * point shows as logs whose bytes differ.
 *
 * The broker cases run a real broker (id 1) made follower of a partition by
 * broker_partition_set_state, fed from a plain log standing in for the
 * leader: appends keep the leader's bytes and idempotent producers, the
 * high watermark follows min(leader's, LEO), and truncation rebuilds the
 * producer state so that a retry after a leadership change is judged
 * against what the log still holds.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/follower.h"
#include "broker/replica.h"
#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"
#include "../log/testutil.h"

#define T0       ((int64_t)1700000000000)
#define MAX_RUNS 6

static char g_dir[PATH_MAX];

static void setup(void)
{
	tu_mkdtemp(g_dir, sizeof(g_dir));
}

static void teardown(void)
{
	tu_rm_rf(g_dir);
	g_dir[0] = '\0';
}

/* nbatches batches of per_batch records in epoch, written by leader `writer`. */
typedef struct run {
	int32_t epoch;
	int     nbatches, per_batch;
	char    writer;
} run_t;

typedef struct truncation_case {
	const char *name;
	run_t       leader[MAX_RUNS];   /* ends at the first run with nbatches 0 */
	run_t       follower[MAX_RUNS];
	int64_t     follower_hw;
	int64_t     want_offset;        /* where the follower's log must end */
	int         want_rounds;        /* epoch_end questions asked */
} truncation_case_t;

static const truncation_case_t cases[] = {
	{ "follower behind in the same epoch",
	  { { 0, 5, 1, 'a' } }, { { 0, 3, 1, 'a' } }, 3, 3, 1 },
	{ "KIP-101: the old leader's uncommitted tail goes",
	  { { 0, 2, 1, 'a' }, { 1, 2, 1, 'b' } }, { { 0, 3, 1, 'a' } }, 2, 2, 1 },
	{ "KIP-101 scenario 1: a follower whose HW lags keeps what the leader has",
	  { { 0, 2, 1, 'a' } }, { { 0, 2, 1, 'a' } }, 1, 2, 1 },
	/* A leads epoch 0 and writes 2, B copies 1; A dies, B leads epoch 1
	 * and writes 1, dies at once; A leads epoch 2 and writes 1. B comes
	 * back: its offset 1 (epoch 1) is not A's offset 1 (epoch 0). KIP-101
	 * alone (end of epoch 1 = start of epoch 2 = 2) would keep it. */
	{ "KIP-279: two leader changes in quick succession",
	  { { 0, 2, 1, 'a' }, { 2, 1, 1, 'c' } },
	  { { 0, 1, 1, 'a' }, { 1, 1, 1, 'b' } }, 1, 1, 1 },
	/* the follower never saw epoch 1: the first answer only tells it that
	 * its epoch 2 is foreign; the second finds where epoch 0 ends */
	{ "KIP-279: the follower lacks the leader's epoch, two rounds",
	  { { 0, 3, 1, 'x' }, { 1, 3, 1, 'l' }, { 3, 1, 1, 'm' } },
	  { { 0, 4, 1, 'x' }, { 2, 2, 1, 'f' } }, 3, 3, 2 },
	{ "KIP-279: three epochs the leader never saw, three rounds",
	  { { 0, 2, 1, 'x' }, { 2, 1, 1, 'l' }, { 4, 1, 1, 'm' }, { 6, 1, 1, 'n' } },
	  { { 0, 2, 1, 'x' }, { 1, 1, 1, 'f' }, { 3, 1, 1, 'g' }, { 5, 2, 1, 'h' } }, 2, 2, 3 },
	{ "the follower's first epoch is newer than the leader's answer",
	  { { 3, 4, 1, 'l' }, { 7, 1, 1, 'm' } }, { { 5, 4, 1, 'f' } }, 0, 0, 1 },
	{ "the follower's only epoch is older than all of the leader's",
	  { { 2, 2, 1, 'l' } }, { { 1, 3, 1, 'f' } }, 0, 0, 1 },
	{ "multi-record batches, cut at an epoch boundary",
	  { { 0, 2, 3, 'a' }, { 2, 1, 2, 'c' }, { 4, 2, 1, 'e' } },
	  { { 0, 2, 3, 'a' }, { 2, 1, 2, 'c' }, { 3, 2, 2, 'd' } }, 6, 8, 1 },
	{ "a common epoch the leader holds less of",
	  { { 0, 5, 1, 'a' }, { 3, 2, 1, 'l' } }, { { 0, 7, 1, 'a' }, { 2, 2, 1, 'f' } }, 5, 5, 1 },
	{ "an empty follower asks nothing",
	  { { 0, 3, 1, 'a' } }, { { 0, 0, 0, 0 } }, 0, 0, 0 },
	{ "identical logs stay whole",
	  { { 0, 2, 2, 'a' }, { 1, 3, 1, 'b' } }, { { 0, 2, 2, 'a' }, { 1, 3, 1, 'b' } }, 4, 7, 1 },
};

/* Write a history of runs with log_append (each batch's offsets assigned in turn). */
static void write_runs(log_t *log, const run_t *runs)
{
	batch_builder_t b;
	char err[256] = "";

	batch_builder_init(&b);
	for (int r = 0; r < MAX_RUNS && runs[r].nbatches > 0; r++) {
		for (int i = 0; i < runs[r].nbatches; i++) {
			int64_t at = log_end_offset(log);
			uint64_t id = (uint64_t)runs[r].writer * 1000000 + (uint64_t)at;

			batch_builder_reset(&b);
			tu_batch_gen(&b, id, runs[r].per_batch, NULL, T0 + at);
			tu_assert_msg(log_append(log, b.buf, b.len, runs[r].epoch, NULL, err,
			                         sizeof(err)) == 0, "append: %s", err);
		}
	}
	batch_builder_free(&b);
}

static log_t *open_sub(const char *name)
{
	char dir[PATH_MAX], err[256] = "";
	log_config_t cfg;
	log_t *log = NULL;

	log_config_default(&cfg);
	cfg.segment_bytes = 1024;
	tu_path(dir, sizeof(dir), g_dir, name);
	tu_assert_msg(log_open(dir, &cfg, &log, err, sizeof(err)) == 0, "log_open: %s", err);
	return log;
}

/*
 * The follower's side, as src/cluster/fetcher.c plays it against a leader's
 * epoch_end endpoint (which answers with log_epoch_end_offset). Returns the
 * number of questions asked.
 */
static int truncate_against(log_t *follower, log_t *leader, int64_t hw, const char *name)
{
	int rounds = 0;

	for (;;) {
		follower_truncation_t tr;
		int32_t ask = log_latest_epoch(follower), le = -1, fe = -1;
		int64_t lend = -1, fend = -1, leo = log_end_offset(follower);
		char err[256] = "";

		if (ask >= 0) {
			log_epoch_end_offset(leader, ask, &le, &lend);
			log_epoch_end_offset(follower, le, &fe, &fend);
			rounds++;
		}
		follower_truncation_step(le, lend, fe, fend, leo, hw, &tr);
		tu_assert_msg(tr.offset <= leo, "%s: truncation to %" PRId64 " past the LEO %" PRId64,
		              name, tr.offset, leo);
		tu_assert_int_eq(log_truncate_to(follower, tr.offset, err, sizeof(err)), 0);
		if (hw > tr.offset)
			hw = tr.offset;
		if (tr.done)
			return rounds;
		tu_assert_msg(log_latest_epoch(follower) < ask, "%s: round %d asked epoch %d and "
		              "left it the latest: no progress", name, rounds, (int)ask);
	}
}

START_TEST(test_truncation_table)
{
	const truncation_case_t *c = &cases[_i];
	log_t *leader, *follower;
	int rounds;

	leader = open_sub("leader");
	follower = open_sub("follower");
	write_runs(leader, c->leader);
	write_runs(follower, c->follower);
	rounds = truncate_against(follower, leader, c->follower_hw, c->name);
	tu_assert_msg(log_end_offset(follower) == c->want_offset && rounds == c->want_rounds,
	              "%s: expected truncation to %" PRId64 " in %d rounds, got %" PRId64
	              " in %d", c->name, c->want_offset, c->want_rounds,
	              log_end_offset(follower), rounds);
	/* what is left is the leader's prefix: the leader's tail makes them equal */
	tu_replicate(leader, follower, 1 << 20);
	tu_expect_same_log(leader, follower);
	log_close(follower);
	log_close(leader);
}
END_TEST

START_TEST(test_truncation_step_rules)
{
	follower_truncation_t tr;

	/* the leader knows no epoch: back to the high watermark */
	follower_truncation_step(-1, -1, -1, -1, 10, 4, &tr);
	ck_assert_int_eq(tr.offset, 4);
	ck_assert_int_eq(tr.done, 1);
	/* same epoch: the shorter end, never past the LEO */
	follower_truncation_step(3, 20, 3, 15, 12, 0, &tr);
	ck_assert_int_eq(tr.offset, 12);
	ck_assert_int_eq(tr.done, 1);
	follower_truncation_step(3, 9, 3, 15, 15, 0, &tr);
	ck_assert_int_eq(tr.offset, 9);
	ck_assert_int_eq(tr.done, 1);
	/* an epoch the follower lacks: cut to its own epoch's end and ask again */
	follower_truncation_step(3, 9, 2, 7, 15, 0, &tr);
	ck_assert_int_eq(tr.offset, 7);
	ck_assert_int_eq(tr.done, 0);
}
END_TEST

/* ---- the broker as follower ---------------------------------------------------- */

static int always_valid(void *ctx)
{
	(void)ctx;
	return 1;
}

/* Broker 1 in cluster mode with topic "t" (1 partition, rf 3), following broker 2. */
static broker_t *open_follower(void)
{
	char dir[PATH_MAX], err[256] = "";
	broker_options_t opts;
	broker_t *b = NULL;

	tu_path(dir, sizeof(dir), g_dir, "broker");
	memset(&opts, 0, sizeof opts);
	opts.data_dir = dir;
	opts.broker_id = 1;
	opts.advertised_url = "http://127.0.0.1:0";
	opts.tick_ms = 1000;
	tu_assert_msg(broker_open(&opts, &b, err, sizeof err) == 0, "broker_open: %s", err);
	broker_set_lease_check(b, always_valid, NULL);
	tu_assert_msg(broker_topic_create(b, "t", 1, 3, NULL, err, sizeof err) == 0,
	              "create: %s", err);
	return b;
}

static void set_state(broker_t *b, int32_t leader, int32_t epoch, int64_t version)
{
	partition_state_t st;
	char err[256] = "";

	memset(&st, 0, sizeof st);
	st.nreplicas = st.nisr = 3;
	for (int i = 0; i < 3; i++)
		st.replicas[i] = st.isr[i] = i + 1;
	st.leader = leader;
	st.leader_epoch = epoch;
	st.version = version;
	tu_assert_msg(broker_partition_set_state(b, "t", 0, &st, err, sizeof err) == 0,
	              "set_state: %s", err);
}

/* Append one idempotent batch (n records of producer pid from seq) to the leader log. */
static void leader_append_idem(log_t *log, batch_builder_t *bb, int64_t pid, int32_t seq,
                               int n, int32_t epoch)
{
	char err[256] = "";

	batch_builder_reset(bb);
	tu_assert_int_eq(batch_builder_begin(bb, pid, 0, seq), 0);
	for (int k = 0; k < n; k++)
		tu_add_gen(bb, (uint64_t)(pid * 100 + seq + k), T0 + k);
	tu_assert_int_eq(batch_builder_finish(bb, NULL), 0);
	tu_assert_msg(log_append(log, bb->buf, bb->len, epoch, NULL, err, sizeof err) == 0,
	              "leader append: %s", err);
}

/* Feed the follower from the leader log until it has everything; leader_hw each time. */
static void follow(broker_t *b, topic_t *t, log_t *leader, int64_t leader_hw)
{
	log_t *mine = topic_partition_log(t, 0);

	while (log_end_offset(mine) < log_end_offset(leader)) {
		log_slice_t s;
		char err[256] = "";
		uint8_t *buf;

		tu_assert_int_eq(log_read(leader, log_end_offset(mine), 300, -1, &s, err,
		                          sizeof err), 0);
		buf = tu_slice_bytes(&s);
		tu_assert_msg(broker_follower_append(b, t, 0, buf, s.len, leader_hw, err,
		                                     sizeof err) == 0, "follower append: %s", err);
		free(buf);
		log_slice_release(&s);
	}
}

START_TEST(test_follower_append_keeps_bytes_producers_and_hw)
{
	broker_t *b = open_follower();
	batch_builder_t bb;
	log_t *leader = open_sub("leader");
	topic_t *t;
	int64_t pid1, pid2;
	int16_t pe;
	char err[256] = "";

	batch_builder_init(&bb);
	tu_assert_int_eq(broker_producer_new(b, &pid1, &pe, err, sizeof err), 0);
	tu_assert_int_eq(broker_producer_new(b, &pid2, &pe, err, sizeof err), 0);
	set_state(b, 2, 4, 10);
	t = broker_topic_get(b, "t");
	leader_append_idem(leader, &bb, pid1, 0, 3, 3);
	write_runs(leader, (const run_t[]){ { 4, 2, 2, 'a' }, { 0, 0, 0, 0 } });
	leader_append_idem(leader, &bb, pid2, 0, 2, 4);

	follow(b, t, leader, 5);
	tu_expect_same_log(leader, topic_partition_log(t, 0));
	tu_assert_int_eq(topic_partition_hw(t, 0), 5);           /* the leader's HW */
	tu_assert_int_eq(broker_partition_producer_count(t, 0), 2);
	/* an HW past what the follower holds is capped at its LEO */
	tu_assert_int_eq(broker_follower_append(b, t, 0, NULL, 0, 100, err, sizeof err), 0);
	tu_assert_int_eq(topic_partition_hw(t, 0), log_end_offset(leader));

	/* no longer a follower: nothing is appended */
	leader_append_idem(leader, &bb, pid2, 2, 1, 4);
	set_state(b, 1, 5, 11);
	{
		log_slice_t s;
		uint8_t *buf;
		int64_t leo = log_end_offset(topic_partition_log(t, 0));

		tu_assert_int_eq(log_read(leader, leo, 1 << 20, -1, &s, err, sizeof err), 0);
		buf = tu_slice_bytes(&s);
		tu_assert_int_eq(broker_follower_append(b, t, 0, buf, s.len, 0, err, sizeof err),
		                 STRAND_ENOTLEADER);
		tu_assert_int_eq(broker_follower_truncate(b, t, 0, 0, err, sizeof err),
		                 STRAND_ENOTLEADER);
		tu_assert_int_eq(log_end_offset(topic_partition_log(t, 0)), leo);
		free(buf);
		log_slice_release(&s);
	}
	topic_release(t);
	log_close(leader);
	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

/*
 * A follower that copied producer 2's batch truncates it away (it was the
 * old leader's uncommitted tail), then becomes leader: producer 1's retry of
 * its last kept batch is a duplicate, producer 2's resend is appended anew,
 * because the producer state was rebuilt from what the log still holds.
 */
START_TEST(test_follower_truncate_rebuilds_producers_and_hw)
{
	broker_t *b = open_follower();
	batch_builder_t bb;
	log_t *leader = open_sub("leader");
	broker_append_info_t info;
	topic_t *t;
	int64_t pid1, pid2, cut;
	int16_t pe;
	uint8_t *p2batch;
	size_t p2len;
	char err[256] = "";

	batch_builder_init(&bb);
	tu_assert_int_eq(broker_producer_new(b, &pid1, &pe, err, sizeof err), 0);
	tu_assert_int_eq(broker_producer_new(b, &pid2, &pe, err, sizeof err), 0);
	set_state(b, 2, 1, 10);
	t = broker_topic_get(b, "t");
	leader_append_idem(leader, &bb, pid1, 0, 2, 1);
	leader_append_idem(leader, &bb, pid1, 2, 2, 1);
	cut = log_end_offset(leader);
	leader_append_idem(leader, &bb, pid2, 0, 3, 1);
	p2batch = tu_dup(bb.buf, bb.len);
	p2len = bb.len;
	follow(b, t, leader, log_end_offset(leader));
	tu_assert_int_eq(topic_partition_hw(t, 0), 7);
	tu_assert_int_eq(broker_partition_producer_count(t, 0), 2);

	tu_assert_int_eq(broker_follower_truncate(b, t, 0, cut, err, sizeof err), 0);
	tu_assert_int_eq(log_end_offset(topic_partition_log(t, 0)), cut);
	tu_assert_int_eq(topic_partition_hw(t, 0), cut);
	tu_assert_int_eq(broker_partition_producer_count(t, 0), 1);

	set_state(b, 1, 2, 11);                 /* this broker leads epoch 2 */
	leader_append_idem(leader, &bb, pid1, 2, 2, 1);   /* same bytes as pid1's 2nd batch */
	tu_assert_int_eq(broker_append(b, t, 0, bb.buf, bb.len, 0, &info, err, sizeof err), 0);
	tu_assert_int_eq(info.duplicate, 1);
	tu_assert_int_eq(info.first_offset, 2);
	tu_assert_int_eq(broker_append(b, t, 0, p2batch, p2len, 0, &info, err, sizeof err), 0);
	tu_assert_int_eq(info.duplicate, 0);
	tu_assert_int_eq(info.first_offset, cut);
	free(p2batch);
	topic_release(t);
	log_close(leader);
	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

/* broker_follower_truncation_round on a real broker: a follower that never
 * saw the leader's epoch 1 needs two rounds. */
START_TEST(test_follower_truncation_rounds_on_broker)
{
	broker_t *b = open_follower();
	log_t *leader = open_sub("leader");
	topic_t *t;
	int done = -1, rounds = 0;
	int64_t fetch_offset = -1;
	char err[256] = "";

	set_state(b, 1, 0, 10);
	t = broker_topic_get(b, "t");
	write_runs(topic_partition_log(t, 0), (const run_t[]){ { 0, 4, 1, 'x' }, { 2, 2, 1, 'f' },
	                                                      { 0, 0, 0, 0 } });
	write_runs(leader, (const run_t[]){ { 0, 3, 1, 'x' }, { 1, 3, 1, 'l' }, { 3, 1, 1, 'm' },
	                                    { 0, 0, 0, 0 } });
	set_state(b, 2, 3, 11);
	while (done != 1) {
		int32_t ask = log_latest_epoch(topic_partition_log(t, 0)), le = -1;
		int64_t lend = -1;

		if (ask >= 0)
			log_epoch_end_offset(leader, ask, &le, &lend);
		tu_assert_int_eq(broker_follower_truncation_round(b, t, 0, le, lend, &done,
		                                                  &fetch_offset, err, sizeof err), 0);
		tu_assert_int_lt(++rounds, 5);
	}
	tu_assert_int_eq(fetch_offset, 3);
	tu_assert_int_eq(rounds, 2);
	follow(b, t, leader, 3);
	tu_expect_same_log(leader, topic_partition_log(t, 0));
	topic_release(t);
	log_close(leader);
	broker_close(b);
}
END_TEST

static Suite *follower_suite(void)
{
	Suite *s = suite_create("follower");
	TCase *tc = tcase_create("truncation");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_truncation_step_rules);
	tcase_add_loop_test(tc, test_truncation_table, 0,
	                    (int)(sizeof(cases) / sizeof(cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("broker");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_follower_append_keeps_bytes_producers_and_hw);
	tcase_add_test(tc, test_follower_truncate_rebuilds_producers_and_hw);
	tcase_add_test(tc, test_follower_truncation_rounds_on_broker);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	tu_root_create();
	sr = srunner_create(follower_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_root_remove();
	return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
