/*
 * test_http_producers.c — idempotent producers over HTTP (KIP-98; API.md
 * "Produce") against a real `strand serve` (tests/api/harness.h):
 * POST /v1/producers, binary batches whose retries are answered with the
 * original offsets and append nothing, 409 OUT_OF_ORDER_SEQUENCE on a gap,
 * 409 PRODUCER_FENCED on a stale epoch, 400 for an unknown producer id and
 * for sequence parameters on JSON bodies, and the producer state and ids
 * surviving a restart (graceful and SIGKILL), rebuilt from the log.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "log/batch.h"

static harness_t srv;

static void server_up(void)
{
	memset(&srv, 0, sizeof srv);
	if (harness_start(&srv) != 0) {
		fprintf(stderr, "cannot start strand serve\n");
		exit(99);
	}
}

static void server_down(void)
{
	harness_teardown(&srv);
}

#define ASSERT_STATUS(r, want) \
	ck_assert_msg((r).status == (want), "%s:%d: status %ld, expected %d; body: %.400s%s%s", \
	              __FILE__, __LINE__, (r).status, (want), \
	              (r).body.data ? (r).body.data : "", (r).error[0] ? "; curl: " : "", (r).error)

#define ASSERT_PROBLEM(r, st, code) do { \
	char why_[600]; \
	ck_assert_msg(http_is_problem(&(r), (st), (code), why_, sizeof why_), \
	              "%s:%d: expected %d %s: %s", __FILE__, __LINE__, (st), (code), why_); \
} while (0)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void create_topic(const char *name, int partitions)
{
	http_response_t r;
	char json[256];

	snprintf(json, sizeof json, "{\"name\":\"%s\",\"partitions\":%d}", name, partitions);
	http_json(&srv, "POST", "/v1/topics", json, &r);
	ASSERT_STATUS(r, 201);
	http_response_free(&r);
}

/* POST /v1/producers: the new id (epoch must be 0). */
static int64_t new_producer(void)
{
	http_response_t r;
	cJSON *doc;
	int64_t id;

	http_request(&srv, "POST", "/v1/producers", NULL, NULL, 0, NULL, &r);
	ASSERT_STATUS(r, 200);
	doc = http_body_json(&r);
	ck_assert_ptr_nonnull(doc);
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(doc, "producer_id")));
	ck_assert_int_eq(cJSON_GetObjectItem(doc, "producer_epoch")->valueint, 0);
	id = (int64_t)cJSON_GetObjectItem(doc, "producer_id")->valuedouble;
	cJSON_Delete(doc);
	http_response_free(&r);
	return id;
}

/* Binary produce of one batch of n records; r is the caller's to free. */
static long produce_batch(const char *topic, int p, int64_t pid, int16_t epoch, int32_t seq,
                          int n, http_response_t *r)
{
	batch_builder_t bb;
	char path[256], v[32];
	long status;

	batch_builder_init(&bb);
	ck_assert_int_eq(batch_builder_begin(&bb, pid, epoch, seq), 0);
	for (int i = 0; i < n; i++) {
		int len = snprintf(v, sizeof v, "%d", seq + i);

		ck_assert_int_eq(batch_builder_add(&bb, now_ms(), NULL, -1, (const uint8_t *)v, len,
		                                   NULL, 0), 0);
	}
	ck_assert_int_eq(batch_builder_finish(&bb, NULL), 0);
	snprintf(path, sizeof path, "/v1/topics/%s/partitions/%d/records", topic, p);
	status = http_request(&srv, "POST", path, "application/vnd.strand.batch", bb.buf, bb.len,
	                      NULL, r);
	batch_builder_free(&bb);
	return status;
}

/* The offsets of a 200 produce answer, as "o1,o2,..." (for comparing answers). */
static void offsets_text(const http_response_t *r, char *out, size_t cap)
{
	cJSON *doc = http_body_json(r), *e;
	size_t len = 0;

	ck_assert_ptr_nonnull(doc);
	out[0] = '\0';
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "offsets"))
		len += (size_t)snprintf(out + len, cap - len, "%s%d", len ? "," : "",
		                        cJSON_GetObjectItem(e, "offset")->valueint);
	cJSON_Delete(doc);
}

static int64_t high_watermark(const char *topic, int p)
{
	http_response_t r;
	char path[256];
	cJSON *doc, *part;
	int64_t hw;

	snprintf(path, sizeof path, "/v1/topics/%s", topic);
	http_get(&srv, path, &r);
	ASSERT_STATUS(r, 200);
	doc = http_body_json(&r);
	part = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "partitions"), p);
	hw = (int64_t)cJSON_GetObjectItem(part, "high_watermark")->valuedouble;
	cJSON_Delete(doc);
	http_response_free(&r);
	return hw;
}

/* Produce and expect 200 with offsets first..first+n-1 (as text in out). */
static void produce_ok(const char *topic, int p, int64_t pid, int16_t epoch, int32_t seq, int n,
                       char *out, size_t cap)
{
	http_response_t r;

	produce_batch(topic, p, pid, epoch, seq, n, &r);
	ASSERT_STATUS(r, 200);
	offsets_text(&r, out, cap);
	http_response_free(&r);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_producer_ids_are_distinct)
{
	int64_t a = new_producer(), b = new_producer(), c = new_producer();

	ck_assert_int_ge(a, 0);
	ck_assert_int_gt(b, a);
	ck_assert_int_gt(c, b);
}
END_TEST

START_TEST(test_duplicate_batch_gets_original_offsets)
{
	char first[256], again[256], other[256];
	int64_t pid = new_producer(), other_pid = new_producer();

	create_topic("dup", 2);
	produce_ok("dup", 1, pid, 0, 0, 3, first, sizeof first);
	ck_assert_str_eq(first, "0,1,2");
	produce_ok("dup", 1, other_pid, 0, 0, 2, other, sizeof other);
	ck_assert_str_eq(other, "3,4");
	/* the answer was lost; the producer sends the very batch again */
	produce_ok("dup", 1, pid, 0, 0, 3, again, sizeof again);
	ck_assert_str_eq(again, first);
	ck_assert_int_eq(high_watermark("dup", 1), 5);
	/* and carries on in sequence */
	produce_ok("dup", 1, pid, 0, 3, 1, again, sizeof again);
	ck_assert_str_eq(again, "5");
	ck_assert_int_eq(high_watermark("dup", 1), 6);
}
END_TEST

START_TEST(test_gap_fence_and_unknown_producer_refused)
{
	http_response_t r;
	char out[256];
	int64_t pid = new_producer();

	create_topic("seq", 1);
	produce_ok("seq", 0, pid, 0, 0, 2, out, sizeof out);
	/* a gap: sequence 2 was expected */
	produce_batch("seq", 0, pid, 0, 3, 1, &r);
	ASSERT_PROBLEM(r, 409, "OUT_OF_ORDER_SEQUENCE");
	ck_assert_msg(strstr(r.body.data, "expected base_sequence 2") != NULL, "%s", r.body.data);
	http_response_free(&r);
	/* a new epoch must start at 0, then fences the old one */
	produce_batch("seq", 0, pid, 1, 2, 1, &r);
	ASSERT_PROBLEM(r, 409, "OUT_OF_ORDER_SEQUENCE");
	http_response_free(&r);
	produce_ok("seq", 0, pid, 1, 0, 1, out, sizeof out);
	ck_assert_str_eq(out, "2");
	produce_batch("seq", 0, pid, 0, 2, 1, &r);
	ASSERT_PROBLEM(r, 409, "PRODUCER_FENCED");
	http_response_free(&r);
	/* an id the broker never handed out */
	produce_batch("seq", 0, pid + 1000000, 0, 0, 1, &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	ck_assert_msg(strstr(r.body.data, "unknown producer_id") != NULL, "%s", r.body.data);
	http_response_free(&r);
	/* JSON bodies carry no sequences */
	http_json(&srv, "POST", "/v1/topics/seq/records?producer_id=1&base_sequence=0",
	          "{\"records\":[{\"value\":1}]}", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	ck_assert_int_eq(high_watermark("seq", 0), 3);
}
END_TEST

/* Stop with sig, restart on the same data: ids and sequences carry on. */
static void check_survives_restart(int sig)
{
	char first[256], second[256], out[256];
	int64_t pid = new_producer(), next;
	http_response_t r;

	create_topic("keep", 1);
	produce_ok("keep", 0, pid, 0, 0, 2, first, sizeof first);
	produce_ok("keep", 0, pid, 0, 2, 2, second, sizeof second);
	ck_assert_int_eq(harness_stop(&srv, sig), sig == SIGKILL ? 128 + SIGKILL : 0);
	ck_assert_msg(harness_restart(&srv) == 0, "restart: %s", harness_log_tail(&srv));

	produce_ok("keep", 0, pid, 0, 0, 2, out, sizeof out);
	ck_assert_str_eq(out, first);
	produce_ok("keep", 0, pid, 0, 2, 2, out, sizeof out);
	ck_assert_str_eq(out, second);
	ck_assert_int_eq(high_watermark("keep", 0), 4);
	produce_batch("keep", 0, pid, 0, 5, 1, &r);
	ASSERT_PROBLEM(r, 409, "OUT_OF_ORDER_SEQUENCE");
	http_response_free(&r);
	produce_ok("keep", 0, pid, 0, 4, 1, out, sizeof out);
	ck_assert_str_eq(out, "4");
	next = new_producer();
	ck_assert_int_gt(next, pid);
}

START_TEST(test_state_survives_graceful_restart)
{
	check_survives_restart(SIGTERM);
}
END_TEST

START_TEST(test_state_survives_kill)
{
	check_survives_restart(SIGKILL);
}
END_TEST

static Suite *producers_suite(void)
{
	Suite *s = suite_create("http_producers");
	TCase *tc = tcase_create("producers");

	tcase_add_checked_fixture(tc, server_up, server_down);
	tcase_add_test(tc, test_producer_ids_are_distinct);
	tcase_add_test(tc, test_duplicate_batch_gets_original_offsets);
	tcase_add_test(tc, test_gap_fence_and_unknown_producer_refused);
	tcase_add_test(tc, test_state_survives_graceful_restart);
	tcase_add_test(tc, test_state_survives_kill);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(producers_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
