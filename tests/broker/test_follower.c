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
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/follower.h"
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
