/*
 * test_log_replica.c — Check suite for log_append_replica (src/log/log.h):
 * a follower's append of batches as its leader stored them.
 *
 * The leader is a real log filled with log_append under several leader
 * epochs; the follower copies it with log_read slices, as the fetcher does,
 * and must end up with the same bytes, the same epoch cache (also after a
 * reopen), and refuse, writing nothing, anything that does not continue
 * its log exactly.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"
#include "testutil.h"

#define T0 ((int64_t)1700000000000)

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

static void cfg_plain(log_config_t *c, int64_t segment_bytes)
{
	log_config_default(c);
	c->segment_bytes = segment_bytes;
	c->index_interval_bytes = 256;
	c->segment_ms = -1;
	c->retention_ms = -1;
}

static log_t *open_sub(const char *name, const log_config_t *cfg)
{
	char dir[PATH_MAX], err[256] = "";
	log_t *log = NULL;
	int rc;

	tu_path(dir, sizeof(dir), g_dir, name);
	rc = log_open(dir, cfg, &log, err, sizeof(err));
	tu_assert_msg(rc == 0, "log_open %s: %d (%s)", dir, rc, err);
	return log;
}

/* Append n batches of k generated records each under epoch, as a leader. */
static void leader_append(log_t *log, batch_builder_t *b, int n, int k, int32_t epoch)
{
	static uint64_t next_id = 1;
	log_append_info_t info;
	char err[256] = "";

	for (int i = 0; i < n; i++) {
		batch_builder_reset(b);
		tu_batch_gen(b, next_id, k, NULL, T0 + (int64_t)next_id);
		next_id += (uint64_t)k;
		tu_assert_msg(log_append(log, b->buf, b->len, epoch, &info, err, sizeof(err)) == 0,
		              "leader append: %s", err);
	}
}

/* A log's observable size: LEO, bytes, latest epoch. */
typedef struct shape {
	int64_t leo, bytes;
	int32_t epoch;
} shape_t;

static shape_t shape_of(log_t *log)
{
	shape_t s = { log_end_offset(log), log_size_bytes(log), log_latest_epoch(log) };

	return s;
}

static void expect_refused(log_t *log, const uint8_t *buf, size_t len, int want,
                           const char *why)
{
	shape_t before = shape_of(log), after;
	char err[256] = "";
	int rc = log_append_replica(log, buf, len, NULL, err, sizeof(err));

	after = shape_of(log);
	tu_assert_msg(rc == want, "%s: expected %d, got %d (%s)", why, want, rc, err);
	tu_assert_msg(err[0] != '\0', "%s: no message", why);
	tu_assert_msg(after.leo == before.leo && after.bytes == before.bytes &&
	              after.epoch == before.epoch,
	              "%s: the log changed (LEO %" PRId64 " -> %" PRId64 ", bytes %" PRId64
	              " -> %" PRId64 ", epoch %d -> %d)", why, before.leo, after.leo,
	              before.bytes, after.bytes, (int)before.epoch, (int)after.epoch);
}

/* One generated batch of k records carrying base offset and epoch (CRC intact). */
static uint8_t *make_batch(batch_builder_t *b, int k, int64_t base, int32_t epoch, size_t *len)
{
	uint8_t *copy;

	batch_builder_reset(b);
	*len = tu_batch_gen(b, 1000, k, NULL, T0);
	batch_set_base_offset(b->buf, base);
	batch_set_leader_epoch(b->buf, epoch);
	copy = tu_dup(b->buf, *len);
	return copy;
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_replica_copies_leader_bytes_and_epochs)
{
	static const size_t max_bytes[] = { 1, 700, 1 << 20 };
	log_config_t cfg;
	batch_builder_t b;
	log_t *leader, *follower;
	char name[32];
	size_t mb = max_bytes[_i];

	cfg_plain(&cfg, 1024);   /* several segments on both sides */
	batch_builder_init(&b);
	leader = open_sub("leader", &cfg);
	leader_append(leader, &b, 6, 3, 0);
	leader_append(leader, &b, 4, 5, 2);
	leader_append(leader, &b, 1, 1, 3);
	leader_append(leader, &b, 7, 2, 7);
	snprintf(name, sizeof(name), "follower-%zu", mb);
	follower = open_sub(name, &cfg);
	tu_assert_int_gt(tu_replicate(leader, follower, mb), 0);
	tu_expect_same_log(leader, follower);
	tu_assert_int_gt(log_segment_count(follower), 1);

	/* the leader goes on; the follower catches up from where it was */
	leader_append(leader, &b, 3, 4, 7);
	leader_append(leader, &b, 2, 4, 9);
	tu_replicate(leader, follower, mb);
	tu_expect_same_log(leader, follower);

	/* recovery reads back the same log and the same epoch cache */
	log_close(follower);
	follower = open_sub(name, &cfg);
	tu_expect_same_log(leader, follower);

	log_close(follower);
	log_close(leader);
	batch_builder_free(&b);
}
END_TEST

START_TEST(test_replica_refuses_what_does_not_continue_the_log)
{
	log_config_t cfg;
	batch_builder_t b;
	log_t *log;
	uint8_t *one, *two, *pair;
	size_t l1, l2;

	cfg_plain(&cfg, 1 << 20);
	batch_builder_init(&b);
	log = open_sub("f", &cfg);
	one = make_batch(&b, 3, 0, 4, &l1);            /* offsets 0-2, epoch 4 */
	tu_assert_int_eq(log_append_replica(log, one, l1, NULL, NULL, 0), 0);
	free(one);

	one = make_batch(&b, 2, 4, 4, &l1);
	expect_refused(log, one, l1, STRAND_EINVAL, "a gap after the LEO");
	free(one);
	one = make_batch(&b, 2, 2, 4, &l1);
	expect_refused(log, one, l1, STRAND_EINVAL, "an overlap with the log");
	free(one);
	one = make_batch(&b, 2, 3, 3, &l1);
	expect_refused(log, one, l1, STRAND_EINVAL, "an epoch below the log's latest");
	free(one);
	one = make_batch(&b, 2, 3, -1, &l1);
	expect_refused(log, one, l1, STRAND_EINVAL, "no leader epoch");
	free(one);
	expect_refused(log, NULL, 0, STRAND_EINVAL, "nothing");

	/* two batches: the second one wrong, so nothing at all is written */
	one = make_batch(&b, 2, 3, 5, &l1);            /* 3-4, epoch 5: fine alone */
	two = make_batch(&b, 2, 6, 5, &l2);            /* gap at 5 */
	pair = malloc(l1 + l2);
	memcpy(pair, one, l1);
	memcpy(pair + l1, two, l2);
	expect_refused(log, pair, l1 + l2, STRAND_EINVAL, "a gap between two batches");
	batch_set_base_offset(pair + l1, 5);
	batch_set_leader_epoch(pair + l1, 4);
	expect_refused(log, pair, l1 + l2, STRAND_EINVAL, "an epoch going down between batches");
	batch_set_leader_epoch(pair + l1, 6);
	pair[l1 + l2 - 1] ^= 0x01;                     /* a record byte: the CRC fails */
	expect_refused(log, pair, l1 + l2, STRAND_ECORRUPT, "a corrupt second batch");
	expect_refused(log, pair, l1 + l2 - 5, STRAND_ECORRUPT, "a second batch cut short");
	pair[l1 + l2 - 1] ^= 0x01;

	/* and right: both land, each new epoch where its first batch starts */
	tu_assert_int_eq(log_append_replica(log, pair, l1 + l2, NULL, NULL, 0), 0);
	tu_assert_int_eq(log_end_offset(log), 7);
	{
		int32_t e;
		int64_t end;

		log_epoch_end_offset(log, 4, &e, &end);
		tu_assert_int_eq(e, 4);
		tu_assert_int_eq(end, 3);
		log_epoch_end_offset(log, 5, &e, &end);
		tu_assert_int_eq(e, 5);
		tu_assert_int_eq(end, 5);
		log_epoch_end_offset(log, 6, &e, &end);
		tu_assert_int_eq(e, 6);
		tu_assert_int_eq(end, 7);
	}
	free(one);
	free(two);
	free(pair);
	log_close(log);
	batch_builder_free(&b);
}
END_TEST

/* A follower truncated to a divergence point takes the new leader's tail. */
START_TEST(test_replica_after_truncation_takes_new_tail)
{
	log_config_t cfg;
	batch_builder_t b;
	log_t *old_leader, *new_leader;
	char err[256] = "";

	cfg_plain(&cfg, 4096);
	batch_builder_init(&b);
	old_leader = open_sub("old", &cfg);
	new_leader = open_sub("new", &cfg);
	leader_append(old_leader, &b, 5, 3, 1);
	tu_replicate(old_leader, new_leader, 1 << 20);
	/* epoch 1's leader appends a tail nobody copied, then loses leadership */
	leader_append(old_leader, &b, 4, 3, 1);
	/* epoch 2's leader appends its own */
	leader_append(new_leader, &b, 6, 2, 2);
	tu_assert_int_eq(log_truncate_to(old_leader, 15, err, sizeof(err)), 0);
	tu_assert_int_eq(log_latest_epoch(old_leader), 1);
	tu_replicate(new_leader, old_leader, 1 << 20);
	tu_expect_same_log(new_leader, old_leader);
	log_close(old_leader);
	old_leader = open_sub("old", &cfg);
	tu_expect_same_log(new_leader, old_leader);
	log_close(old_leader);
	log_close(new_leader);
	batch_builder_free(&b);
}
END_TEST

/* A leader's batch over the follower's max_batch_bytes still replicates. */
START_TEST(test_replica_ignores_max_batch_bytes)
{
	log_config_t cfg, small;
	batch_builder_t b;
	log_t *leader, *follower;

	cfg_plain(&cfg, 1 << 20);
	small = cfg;
	small.max_batch_bytes = 200;
	batch_builder_init(&b);
	leader = open_sub("leader", &cfg);
	follower = open_sub("follower", &small);
	leader_append(leader, &b, 2, 20, 0);
	tu_replicate(leader, follower, 1 << 20);
	tu_expect_same_log(leader, follower);
	log_close(follower);
	log_close(leader);
	batch_builder_free(&b);
}
END_TEST

/* A follower whose log ends below the leader's log start restarts there. */
START_TEST(test_truncate_fully_restarts_past_the_end)
{
	log_config_t cfg;
	batch_builder_t b;
	log_t *leader, *follower;
	char err[256] = "";
	int deleted = 0;

	cfg_plain(&cfg, 1024);
	batch_builder_init(&b);
	leader = open_sub("leader", &cfg);
	follower = open_sub("follower", &cfg);
	leader_append(leader, &b, 3, 3, 0);
	tu_replicate(leader, follower, 1 << 20);
	leader_append(leader, &b, 20, 3, 2);
	/* retention on the leader deletes segments the follower never copied */
	cfg.retention_bytes = 1500;
	tu_assert_int_eq(log_set_config(leader, &cfg, err, sizeof err), 0);
	tu_assert_int_eq(log_tick(leader, T0, &deleted, err, sizeof err), 0);
	tu_assert_int_gt(log_start_offset(leader), log_end_offset(follower));

	tu_assert_int_eq(log_truncate_fully(follower, log_start_offset(leader), err, sizeof err), 0);
	tu_assert_int_eq(log_start_offset(follower), log_start_offset(leader));
	tu_assert_int_eq(log_end_offset(follower), log_start_offset(leader));
	tu_assert_int_eq(log_latest_epoch(follower), -1);
	tu_replicate(leader, follower, 700);
	tu_expect_same_log(leader, follower);
	log_close(follower);
	follower = open_sub("follower", &cfg);
	tu_assert_int_eq(log_start_offset(follower), log_start_offset(leader));
	tu_assert_int_eq(log_latest_epoch(follower), 2);
	tu_expect_same_log(leader, follower);
	tu_assert_int_eq(log_truncate_fully(follower, -1, err, sizeof err), STRAND_EINVAL);
	log_close(follower);
	log_close(leader);
	batch_builder_free(&b);
}
END_TEST

static Suite *replica_suite(void)
{
	Suite *s = suite_create("log_replica");
	TCase *tc = tcase_create("append_replica");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_replica_copies_leader_bytes_and_epochs, 0, 3);
	tcase_add_test(tc, test_replica_refuses_what_does_not_continue_the_log);
	tcase_add_test(tc, test_replica_after_truncation_takes_new_tail);
	tcase_add_test(tc, test_replica_ignores_max_batch_bytes);
	tcase_add_test(tc, test_truncate_fully_restarts_past_the_end);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	tu_root_create();
	sr = srunner_create(replica_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_root_remove();
	return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
