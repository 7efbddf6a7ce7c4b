/*
 * test_history.c — the fault tests' checker (history.h) must catch each
 * anomaly of Jepsen's list when fed a fabricated history that has it, and
 * pass a clean history: a checker that never fails proves nothing.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "tests/cluster/history.h"

static history_report_t rep;

/* A clean three-replica history of partition 0: values 1..6 acked at
 * offsets 0..5 by two producers, read by one consumer, the same two
 * batches on brokers 1, 2 and 3, high watermark 6. */
static history_t *clean(void)
{
	history_t *h = history_new();
	int64_t vals_a[3] = { 1, 2, 3 }, vals_b[3] = { 4, 5, 6 };
	int64_t offs[6] = { 0, 1, 2, 3, 4, 5 }, all[6] = { 1, 2, 3, 4, 5, 6 };
	int b;

	ck_assert_ptr_nonnull(h);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(history_send(h, i % 2, 0, i + 1, HISTORY_ACKED, i), 0);
	ck_assert_int_eq(history_poll(h, 0, 0, 0, 4, offs, all, 1, 100), 0);
	ck_assert_int_eq(history_poll(h, 0, 0, 4, 2, offs + 4, all + 4, 1, 100), 0);
	for (b = 1; b <= 3; b++) {
		ck_assert_int_eq(history_replica_batch(h, b, 0, 6, 0, 2, 111, vals_a), 0);
		ck_assert_int_eq(history_replica_batch(h, b, 0, 6, 3, 5, 222, vals_b), 0);
	}
	return h;
}

static void expect(history_t *h, int64_t anomalies, const int64_t *count, const char *text)
{
	int64_t n = history_check(h, &rep);

	ck_assert_msg(n == anomalies, "%lld anomalies, expected %lld:\n%s", (long long)n,
	              (long long)anomalies, rep.text);
	if (count != NULL)
		ck_assert_msg(*count >= 1, "not counted where expected:\n%s", rep.text);
	if (text != NULL)
		ck_assert_msg(strstr(rep.text, text) != NULL, "no \"%s\" in:\n%s", text, rep.text);
	history_free(h);
}

START_TEST(test_clean_history_passes)
{
	history_t *h = clean();

	expect(h, 0, NULL, NULL);
	ck_assert_int_eq(rep.acked, 6);
	ck_assert_int_eq(rep.polled, 6);
	ck_assert_int_eq(rep.replica_records, 18);
}
END_TEST

START_TEST(test_acked_record_missing_on_a_replica_is_lost)
{
	history_t *h = history_new();
	int64_t v[3] = { 1, 2, 3 };

	for (int i = 0; i < 4; i++)
		history_send(h, 0, 0, i + 1, HISTORY_ACKED, i);
	/* broker 1 has everything, broker 2 only the first batch though its
	 * high watermark says 4 (it lost value 4) */
	history_replica_batch(h, 1, 0, 4, 0, 2, 7, v);
	history_replica_batch(h, 1, 0, 4, 3, 3, 8, (int64_t[]){ 4 });
	history_replica_batch(h, 2, 0, 4, 0, 2, 7, v);
	expect(h, 2, &rep.lost, "value 4 acknowledged at partition 0 offset 3 is not there on broker 2");
	ck_assert_int_eq(rep.lost, 1);
	ck_assert_int_eq(rep.divergent, 1);   /* and broker 2's log is short of broker 1's */
}
END_TEST

START_TEST(test_acked_record_above_every_high_watermark_is_lost)
{
	history_t *h = history_new();

	history_send(h, 0, 0, 1, HISTORY_ACKED, 0);
	history_send(h, 0, 0, 2, HISTORY_ACKED, 1);
	history_replica_batch(h, 1, 0, 1, 0, 0, 7, (int64_t[]){ 1 });
	expect(h, 1, &rep.lost, "is above every replica's high watermark");
}
END_TEST

START_TEST(test_lost_write_without_replicas_is_found_from_reads)
{
	history_t *h = history_new();
	int64_t offs[2] = { 0, 2 }, vals[2] = { 1, 3 };

	for (int i = 0; i < 3; i++)
		history_send(h, 0, 0, i + 1, HISTORY_ACKED, i);
	/* the consumer read offsets 0 and 2, never 1: value 2 is lost (and
	 * the poll skipped an offset) */
	history_poll(h, 0, 0, 0, 2, offs, vals, 1, 100);
	expect(h, 2, &rep.lost, "value 2 acknowledged at partition 0 offset 1 was never read");
	ck_assert_int_eq(rep.nonmonotonic_poll, 1);
}
END_TEST

START_TEST(test_read_record_missing_later_is_lost)
{
	history_t *h = history_new();

	/* value 1 was sent with an unknown outcome, a consumer read it (so it
	 * was committed), and the final log does not have it */
	history_send(h, 0, 0, 1, HISTORY_UNKNOWN, -1);
	history_send(h, 0, 0, 2, HISTORY_ACKED, 0);
	history_poll(h, 0, 0, 0, 1, (int64_t[]){ 0 }, (int64_t[]){ 1 }, 1, 100);
	history_replica_batch(h, 1, 0, 1, 0, 0, 7, (int64_t[]){ 2 });
	expect(h, 2, &rep.inconsistent, "value 1 read at partition 0 offset 0 is not there");
	ck_assert_int_eq(rep.lost, 1);
}
END_TEST

START_TEST(test_divergent_offset_is_inconsistent)
{
	history_t *h = clean();

	/* broker 4 holds another value at offset 4 */
	history_replica_batch(h, 4, 0, 6, 0, 2, 111, (int64_t[]){ 1, 2, 3 });
	history_replica_batch(h, 4, 0, 6, 3, 5, 999, (int64_t[]){ 4, 7, 6 });
	history_send(h, 2, 0, 7, HISTORY_UNKNOWN, -1);
	expect(h, 5, &rep.inconsistent, "partition 0 offset 4 holds 5 and 7 (log of broker 4)");
	ck_assert_int_eq(rep.inconsistent, 1);
	ck_assert_int_eq(rep.lost, 1);        /* acked value 5 is not on broker 4 */
	ck_assert_int_eq(rep.divergent, 3);   /* against brokers 1, 2 and 3 */
}
END_TEST

START_TEST(test_two_acks_for_one_offset_are_inconsistent)
{
	history_t *h = history_new();

	/* two leaders at once, each acknowledging offset 0 */
	history_send(h, 0, 0, 1, HISTORY_ACKED, 0);
	history_send(h, 1, 0, 2, HISTORY_ACKED, 0);
	expect(h, 1, &rep.inconsistent, "offset 0 holds 1 and 2 (acknowledged)");
}
END_TEST

START_TEST(test_value_at_two_offsets_is_a_duplicate)
{
	history_t *h = history_new();
	int64_t offs[3] = { 0, 1, 2 }, vals[3] = { 1, 2, 1 };

	history_send(h, 0, 0, 1, HISTORY_UNKNOWN, -1);
	history_send(h, 0, 0, 2, HISTORY_ACKED, 1);
	history_poll(h, 0, 0, 0, 3, offs, vals, 1, 100);
	expect(h, 1, &rep.duplicate, "value 1 at partition 0 offset 0 and partition 0 offset 2");
	ck_assert_int_eq(rep.unknown_present, 1);
}
END_TEST

START_TEST(test_duplicate_across_partitions)
{
	history_t *h = history_new();

	history_send(h, 0, 0, 1, HISTORY_ACKED, 0);
	history_replica_batch(h, 1, 0, 1, 0, 0, 1, (int64_t[]){ 1 });
	history_replica_batch(h, 1, 1, 1, 0, 0, 1, (int64_t[]){ 1 });
	expect(h, 2, &rep.duplicate, NULL);
	ck_assert_int_eq(rep.phantom, 1);     /* value 1 was not sent to partition 1 */
}
END_TEST

START_TEST(test_refused_value_in_a_log_is_a_failed_read)
{
	history_t *h = history_new();

	history_send(h, 0, 0, 1, HISTORY_FAILED, -1);
	history_send(h, 0, 0, 2, HISTORY_ACKED, 1);
	history_replica_batch(h, 1, 0, 2, 0, 1, 5, (int64_t[]){ 1, 2 });
	expect(h, 1, &rep.failed_read, "value 1 was refused yet is at partition 0 offset 0");
}
END_TEST

START_TEST(test_value_never_sent_is_a_phantom)
{
	history_t *h = history_new();

	history_send(h, 0, 0, 1, HISTORY_ACKED, 0);
	history_poll(h, 0, 0, 0, 2, (int64_t[]){ 0, 1 }, (int64_t[]){ 1, 42 }, 1, 100);
	expect(h, 1, &rep.phantom, "value 42 at partition 0 offset 1 was never sent");
}
END_TEST

START_TEST(test_acks_going_backwards_are_nonmonotonic_sends)
{
	history_t *h = history_new();

	history_send(h, 0, 0, 1, HISTORY_ACKED, 5);
	history_send(h, 0, 0, 2, HISTORY_ACKED, 3);
	history_send(h, 1, 0, 3, HISTORY_ACKED, 4);   /* another producer: no order with these */
	history_send(h, 0, 1, 4, HISTORY_ACKED, 0);   /* another partition */
	expect(h, 1, &rep.nonmonotonic_send, "producer 0 partition 0 acked offset 3 after 5");
}
END_TEST

START_TEST(test_poll_out_of_order_is_nonmonotonic)
{
	history_t *h = history_new();

	for (int i = 0; i < 3; i++)
		history_send(h, 0, 0, i + 1, HISTORY_ACKED, i);
	history_poll(h, 0, 0, 0, 1, (int64_t[]){ 0 }, (int64_t[]){ 1 }, 1, 100);
	/* asked from 1, answered 2 then 1 */
	history_poll(h, 0, 0, 1, 2, (int64_t[]){ 2, 1 }, (int64_t[]){ 3, 2 }, 1, 100);
	expect(h, 1, &rep.nonmonotonic_poll, "asked 1, got offset 2 where 1 was due");
}
END_TEST

START_TEST(test_replica_bytes_differing_are_divergent)
{
	history_t *h = history_new();
	int64_t v[2] = { 1, 2 };

	history_send(h, 0, 0, 1, HISTORY_ACKED, 0);
	history_send(h, 0, 0, 2, HISTORY_ACKED, 1);
	history_send(h, 0, 0, 3, HISTORY_ACKED, 2);
	/* same offsets and values, other bytes (e.g. another leader epoch) */
	history_replica_batch(h, 1, 0, 2, 0, 1, 100, v);
	history_replica_batch(h, 2, 0, 2, 0, 1, 101, v);
	/* broker 3 has one batch more than broker 1, above their common high
	 * watermark: not a divergence between them */
	history_replica_batch(h, 3, 0, 3, 0, 1, 100, v);
	history_replica_batch(h, 3, 0, 3, 2, 2, 7, (int64_t[]){ 3 });
	expect(h, 2, &rep.divergent, "brokers 1 and 2 differ at the batch at offset 0");
	ck_assert(strstr(rep.text, "brokers 2 and 3 differ") != NULL);
	ck_assert(strstr(rep.text, "brokers 1 and 3") == NULL);
}
END_TEST

START_TEST(test_histories_merge)
{
	history_t *a = history_new(), *b = history_new();

	history_send(a, 0, 0, 1, HISTORY_ACKED, 0);
	history_poll(a, 0, 0, 0, 1, (int64_t[]){ 0 }, (int64_t[]){ 1 }, 1, 100);
	history_send(b, 1, 0, 2, HISTORY_ACKED, 1);
	history_poll(b, 1, 0, 1, 1, (int64_t[]){ 1 }, (int64_t[]){ 2 }, 1, 100);
	history_replica_batch(b, 1, 0, 2, 0, 1, 9, (int64_t[]){ 1, 2 });
	ck_assert_int_eq(history_merge(a, b), 0);
	history_free(b);
	expect(a, 0, NULL, NULL);
	ck_assert_int_eq(rep.acked, 2);
	ck_assert_int_eq(rep.polled, 2);
	ck_assert_int_eq(rep.replica_records, 2);
}
END_TEST

START_TEST(test_bad_input_is_refused)
{
	history_t *h = history_new();

	ck_assert_int_eq(history_send(h, 0, HISTORY_MAX_PARTITIONS, 1, HISTORY_ACKED, 0),
	                 STRAND_EINVAL);
	ck_assert_int_eq(history_send(h, 0, 0, 0, HISTORY_ACKED, 0), STRAND_EINVAL);
	ck_assert_int_eq(history_replica_batch(h, 1, 0, 1, 5, 4, 0, NULL), STRAND_EINVAL);
	history_free(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("checker");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_clean_history_passes);
	tcase_add_test(tc, test_acked_record_missing_on_a_replica_is_lost);
	tcase_add_test(tc, test_acked_record_above_every_high_watermark_is_lost);
	tcase_add_test(tc, test_lost_write_without_replicas_is_found_from_reads);
	tcase_add_test(tc, test_read_record_missing_later_is_lost);
	tcase_add_test(tc, test_divergent_offset_is_inconsistent);
	tcase_add_test(tc, test_two_acks_for_one_offset_are_inconsistent);
	tcase_add_test(tc, test_value_at_two_offsets_is_a_duplicate);
	tcase_add_test(tc, test_duplicate_across_partitions);
	tcase_add_test(tc, test_refused_value_in_a_log_is_a_failed_read);
	tcase_add_test(tc, test_value_never_sent_is_a_phantom);
	tcase_add_test(tc, test_acks_going_backwards_are_nonmonotonic_sends);
	tcase_add_test(tc, test_poll_out_of_order_is_nonmonotonic);
	tcase_add_test(tc, test_replica_bytes_differing_are_divergent);
	tcase_add_test(tc, test_histories_merge);
	tcase_add_test(tc, test_bad_input_is_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
