/*
 * test_http_idempotency.c — safe produce retries (API.md "Produce";
 * docs/PRODUCERS.md) against a real `strand serve` (tests/api/harness.h).
 *
 * The Idempotency-Key header (IETF httpapi idempotency-key draft): a retry
 * gets the first answer with Idempotent-Replayed: true and appends nothing
 * (JSON, NDJSON, binary, acks=0); a different request under the same key
 * gets 422; a retry while the first is still being processed gets 409; the
 * window forgets by count and by age; it survives a graceful restart and a
 * SIGKILL; concurrent requests with one key append once; keys are checked
 * and scoped per principal when authentication is on.
 *
 * Idempotent producers (KIP-98): POST /v1/producers, binary batches whose
 * retries get the original offsets and append nothing, 409
 * OUT_OF_ORDER_SEQUENCE on a gap, 409 PRODUCER_FENCED on a stale epoch,
 * 400 for an unknown producer id and for sequence parameters on JSON
 * bodies, and the producer state and ids surviving a restart (graceful and
 * SIGKILL), rebuilt from the log.
 *
 * Waits are on conditions with deadlines, never sleeps to let things settle.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "log/batch.h"

static harness_t srv;

static void server_start(const char *const *args)
{
	memset(&srv, 0, sizeof srv);
	for (int i = 0; args != NULL && args[i] != NULL && i < 8; i++)
		srv.extra_args[i] = args[i];
	if (harness_start(&srv) != 0) {
		fprintf(stderr, "cannot start strand serve\n");
		exit(99);
	}
}

static void server_up(void)
{
	server_start(NULL);
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

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
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

/* Sum of the topic's high watermarks. */
static int64_t records_in(const char *topic)
{
	http_response_t r;
	char path[256];
	cJSON *doc, *part;
	int64_t sum = 0;

	snprintf(path, sizeof path, "/v1/topics/%s", topic);
	http_get(&srv, path, &r);
	ASSERT_STATUS(r, 200);
	doc = http_body_json(&r);
	cJSON_ArrayForEach(part, cJSON_GetObjectItem(doc, "partitions"))
		sum += (int64_t)cJSON_GetObjectItem(part, "high_watermark")->valuedouble;
	cJSON_Delete(doc);
	http_response_free(&r);
	return sum;
}

/* POST a body with an Idempotency-Key header (raw value). */
static long keyed(const char *path, const char *content_type, const void *body, size_t len,
                  const char *key_value, http_response_t *r)
{
	char hdr[600];
	const char *headers[] = { hdr, NULL };

	snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key_value);
	return http_request(&srv, "POST", path, content_type, body, len, headers, r);
}

static long keyed_json(const char *path, const char *json, const char *key, http_response_t *r)
{
	return keyed(path, "application/json", json, strlen(json), key, r);
}

/* A keyed JSON produce that must be refused with this problem. */
#define keyed_refused(path, json, key, status, code) do { \
	http_response_t r_; \
	keyed_json((path), (json), (key), &r_); \
	ASSERT_PROBLEM(r_, (status), (code)); \
	http_response_free(&r_); \
} while (0)

/* A keyed JSON produce that must be answered 200. */
#define keyed_ok(path, json, key) do { \
	http_response_t r_; \
	keyed_json((path), (json), (key), &r_); \
	ASSERT_STATUS(r_, 200); \
	http_response_free(&r_); \
} while (0)

static int replayed(const http_response_t *r)
{
	char v[32];

	return http_header(r, "Idempotent-Replayed", v, sizeof v) != NULL &&
	       strcmp(v, "true") == 0;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_retry_gets_first_answer_and_appends_nothing)
{
	const char *json = "{\"records\":[{\"value\":1},{\"key\":\"k\",\"value\":2},{\"value\":3}]}";
	const char *ndjson = "{\"value\":4}\n{\"value\":5}\n";
	http_response_t a, b;
	int64_t before;

	create_topic("replay", 3);
	keyed_json("/v1/topics/replay/records", json, "\"order-1\"", &a);
	ASSERT_STATUS(a, 200);
	ck_assert(!replayed(&a));
	before = records_in("replay");
	ck_assert_int_eq(before, 3);
	for (int i = 0; i < 3; i++) {
		keyed_json("/v1/topics/replay/records", json, "\"order-1\"", &b);
		ASSERT_STATUS(b, 200);
		ck_assert_msg(replayed(&b), "no Idempotent-Replayed: true on the retry");
		ck_assert_str_eq(b.body.data, a.body.data);
		http_response_free(&b);
	}
	ck_assert_int_eq(records_in("replay"), before);
	http_response_free(&a);

	/* NDJSON, a bare-token key, acks=1 */
	keyed("/v1/topics/replay/partitions/1/records?acks=1", "application/x-ndjson", ndjson,
	      strlen(ndjson), "nd-1", &a);
	ASSERT_STATUS(a, 200);
	keyed("/v1/topics/replay/partitions/1/records?acks=1", "application/x-ndjson", ndjson,
	      strlen(ndjson), "nd-1", &b);
	ASSERT_STATUS(b, 200);
	ck_assert(replayed(&b));
	ck_assert_str_eq(b.body.data, a.body.data);
	http_response_free(&a);
	http_response_free(&b);

	/* acks=0: 202 again, no body */
	keyed_json("/v1/topics/replay/records?acks=0", json, "\"fire\"", &a);
	ASSERT_STATUS(a, 202);
	keyed_json("/v1/topics/replay/records?acks=0", json, "\"fire\"", &b);
	ASSERT_STATUS(b, 202);
	ck_assert(replayed(&b));
	http_response_free(&a);
	http_response_free(&b);
	ck_assert_int_eq(records_in("replay"), before + 2 + 3);
}
END_TEST

START_TEST(test_binary_body_replayed)
{
	batch_builder_t bb;
	http_response_t a, b;

	create_topic("binkey", 1);
	batch_builder_init(&bb);
	ck_assert_int_eq(batch_builder_begin(&bb, -1, -1, -1), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(batch_builder_add(&bb, 1700000000000 + i, NULL, -1,
		                                   (const uint8_t *)"v", 1, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&bb, NULL), 0);
	keyed("/v1/topics/binkey/partitions/0/records", "application/vnd.strand.batch", bb.buf,
	      bb.len, "\"b-1\"", &a);
	ASSERT_STATUS(a, 200);
	keyed("/v1/topics/binkey/partitions/0/records", "application/vnd.strand.batch", bb.buf,
	      bb.len, "\"b-1\"", &b);
	ASSERT_STATUS(b, 200);
	ck_assert(replayed(&b));
	ck_assert_str_eq(b.body.data, a.body.data);
	ck_assert_int_eq(records_in("binkey"), 4);
	http_response_free(&a);
	http_response_free(&b);
	batch_builder_free(&bb);
}
END_TEST

START_TEST(test_same_key_other_request_gets_422)
{
	http_response_t r;

	create_topic("reuse", 1);
	create_topic("other", 1);
	keyed_ok("/v1/topics/reuse/records", "{\"records\":[{\"value\":1}]}", "\"k\"");
	/* another body, another query, another target */
	keyed_refused("/v1/topics/reuse/records", "{\"records\":[{\"value\":2}]}", "\"k\"", 422, "IDEMPOTENCY_KEY_REUSED");
	keyed_refused("/v1/topics/reuse/records?acks=1", "{\"records\":[{\"value\":1}]}", "\"k\"", 422, "IDEMPOTENCY_KEY_REUSED");
	keyed_refused("/v1/topics/reuse/partitions/0/records", "{\"records\":[{\"value\":1}]}",
	           "\"k\"", 422, "IDEMPOTENCY_KEY_REUSED");
	ck_assert_int_eq(records_in("reuse"), 1);
	/* keys are scoped per topic */
	keyed_json("/v1/topics/other/records", "{\"records\":[{\"value\":2}]}", "\"k\"", &r);
	ASSERT_STATUS(r, 200);
	ck_assert(!replayed(&r));
	http_response_free(&r);
	ck_assert_int_eq(records_in("other"), 1);
}
END_TEST

START_TEST(test_bad_keys_refused)
{
	char longkey[300], hdr[320];

	create_topic("keys", 1);
	memset(longkey, 'a', 256);
	longkey[256] = '\0';
	keyed_refused("/v1/topics/keys/records", "{\"records\":[{\"value\":1}]}", longkey, 400, "INVALID_REQUEST");
	longkey[255] = '\0';                               /* 255 bytes: the limit */
	keyed_ok("/v1/topics/keys/records", "{\"records\":[{\"value\":1}]}", longkey);
	snprintf(hdr, sizeof hdr, "\"a\\\"b\"");          /* sf-string with an escape */
	keyed_ok("/v1/topics/keys/records", "{\"records\":[{\"value\":1}]}", hdr);
	keyed_refused("/v1/topics/keys/records", "{\"records\":[{\"value\":1}]}", "\"unterminated", 400, "INVALID_REQUEST");
	keyed_refused("/v1/topics/keys/records", "{\"records\":[{\"value\":1}]}", "two words", 400, "INVALID_REQUEST");
	ck_assert_int_eq(records_in("keys"), 2);
}
END_TEST

/* A failed first attempt stores nothing: the retry runs anew. */
START_TEST(test_failed_request_keeps_no_answer)
{
	http_response_t r;

	create_topic("fails", 1);
	keyed_refused("/v1/topics/fails/records", "{\"records\":[{\"value\": }]}", "\"f\"", 400, "INVALID_REQUEST");
	keyed_json("/v1/topics/fails/records", "{\"records\":[{\"value\":1}]}", "\"f\"", &r);
	ASSERT_STATUS(r, 200);
	ck_assert(!replayed(&r));
	http_response_free(&r);
	ck_assert_int_eq(records_in("fails"), 1);
}
END_TEST

/* ---- in progress ----------------------------------------------------------- */

static int connect_server(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(srv.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* Read from fd until needle shows up (deadline 10 s); the text read goes to buf. */
static void read_until(int fd, const char *needle, char *buf, size_t cap)
{
	size_t len = 0;
	int64_t deadline = mono_ms() + 10000;

	buf[0] = '\0';
	while (strstr(buf, needle) == NULL) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		ck_assert_msg(mono_ms() < deadline, "no \"%s\" within 10 s; got: %s", needle, buf);
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, cap - 1 - len);
		ck_assert_msg(n > 0, "connection closed; got: %s", buf);
		len += (size_t)n;
		buf[len] = '\0';
	}
}

/*
 * Send the headers of a keyed JSON produce to topic and wait for 100
 * Continue: by then the broker has taken the key, and the body has not come
 * yet. Returns the connection; the caller sends body (or closes).
 */
static int start_keyed_request(const char *topic, const char *key, const char *body,
                               char *resp, size_t cap)
{
	char req[512];
	int fd = connect_server();

	snprintf(req, sizeof req,
	         "POST /v1/topics/%s/records HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	         "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	         "Expect: 100-continue\r\nIdempotency-Key: \"%s\"\r\n\r\n", topic,
	         strlen(body), key);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	read_until(fd, "100 Continue", resp, cap);
	return fd;
}

START_TEST(test_retry_while_in_progress_gets_409)
{
	const char *body = "{\"records\":[{\"value\":1}]}";
	char resp[4096];
	http_response_t r;
	int fd;

	create_topic("busy", 1);
	fd = start_keyed_request("busy", "slow", body, resp, sizeof resp);

	keyed_refused("/v1/topics/busy/records", body, "\"slow\"", 409, "IDEMPOTENCY_KEY_IN_PROGRESS");
	ck_assert_int_eq(records_in("busy"), 0);

	ck_assert_int_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	read_until(fd, "\"offsets\"", resp, sizeof resp);
	ck_assert_msg(strstr(resp, "200 OK") != NULL, "%s", resp);
	close(fd);

	keyed_json("/v1/topics/busy/records", body, "\"slow\"", &r);
	ASSERT_STATUS(r, 200);
	ck_assert(replayed(&r));
	http_response_free(&r);
	ck_assert_int_eq(records_in("busy"), 1);
}
END_TEST

/* A client that goes away mid-body leaves the key free. */
START_TEST(test_abandoned_request_frees_key)
{
	const char *body = "{\"records\":[{\"value\":1}]}";
	char resp[4096];
	http_response_t r;
	int64_t deadline;
	int fd;

	create_topic("gone", 1);
	fd = start_keyed_request("gone", "g", body, resp, sizeof resp);
	close(fd);
	/* the broker notices the close and releases the key (409 until then) */
	deadline = mono_ms() + 10000;
	for (;;) {
		keyed_json("/v1/topics/gone/records", body, "\"g\"", &r);
		if (r.status != 409 || mono_ms() > deadline)
			break;
		http_response_free(&r);
		usleep(20000);
	}
	ASSERT_STATUS(r, 200);
	ck_assert(!replayed(&r));
	http_response_free(&r);
	ck_assert_int_eq(records_in("gone"), 1);
}
END_TEST

typedef struct racer {
	pthread_t thr;
	long      status;
	int       replayed;
	char      body[512];
} racer_t;

static void *race_one(void *arg)
{
	racer_t *x = arg;
	http_response_t r;

	keyed_json("/v1/topics/race/records", "{\"records\":[{\"value\":1},{\"value\":2}]}",
	           "\"same\"", &r);
	x->status = r.status;
	x->replayed = replayed(&r);
	snprintf(x->body, sizeof x->body, "%s", r.body.data ? r.body.data : "");
	http_response_free(&r);
	return NULL;
}

START_TEST(test_concurrent_same_key_appends_once)
{
	racer_t racers[8];
	int executed = 0, ok = 0;
	const char *first = NULL;

	create_topic("race", 1);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&racers[i].thr, NULL, race_one, &racers[i]), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(racers[i].thr, NULL);
	for (int i = 0; i < 8; i++) {
		ck_assert_msg(racers[i].status == 200 || racers[i].status == 409,
		              "racer %d: %ld %s", i, racers[i].status, racers[i].body);
		if (racers[i].status != 200)
			continue;
		ok++;
		executed += !racers[i].replayed;
		if (first == NULL)
			first = racers[i].body;
		ck_assert_str_eq(racers[i].body, first);
	}
	ck_assert_int_eq(executed, 1);
	ck_assert_int_ge(ok, 1);
	ck_assert_int_eq(records_in("race"), 2);
}
END_TEST

/* ---- the window ------------------------------------------------------------- */

START_TEST(test_window_forgets_by_count)
{
	static const char *const args[] = { "--idempotency-max-keys", "3", NULL };
	const char *json = "{\"records\":[{\"value\":1}]}";
	char key[16];
	http_response_t r;

	server_start(args);
	create_topic("count", 1);
	for (int i = 1; i <= 4; i++) {
		snprintf(key, sizeof key, "\"k%d\"", i);
		keyed_json("/v1/topics/count/records", json, key, &r);
		ASSERT_STATUS(r, 200);
		http_response_free(&r);
	}
	ck_assert_int_eq(records_in("count"), 4);
	/* k2..k4 are kept: replayed */
	keyed_json("/v1/topics/count/records", json, "\"k4\"", &r);
	ck_assert(replayed(&r));
	http_response_free(&r);
	keyed_json("/v1/topics/count/records", json, "\"k2\"", &r);
	ck_assert(replayed(&r));
	http_response_free(&r);
	ck_assert_int_eq(records_in("count"), 4);
	/* k1, the oldest, is gone: its retry runs again */
	keyed_json("/v1/topics/count/records", json, "\"k1\"", &r);
	ASSERT_STATUS(r, 200);
	ck_assert(!replayed(&r));
	http_response_free(&r);
	ck_assert_int_eq(records_in("count"), 5);
}
END_TEST

START_TEST(test_window_forgets_by_age)
{
	static const char *const args[] = { "--idempotency-max-age-ms", "300", NULL };
	http_response_t r;
	int64_t start, deadline;

	server_start(args);
	create_topic("age", 1);
	start = mono_ms();
	keyed_ok("/v1/topics/age/records", "{\"records\":[{\"value\":1}]}", "\"a\"");
	/* a different request under the key is 422 while the answer is kept,
	 * and runs once it has aged out */
	deadline = mono_ms() + 10000;
	for (;;) {
		keyed_json("/v1/topics/age/records", "{\"records\":[{\"value\":2}]}", "\"a\"", &r);
		if (r.status != 422 || mono_ms() > deadline)
			break;
		http_response_free(&r);
		usleep(20000);
	}
	ASSERT_STATUS(r, 200);
	ck_assert(!replayed(&r));
	http_response_free(&r);
	ck_assert_int_ge(mono_ms() - start, 300);
	ck_assert_int_eq(records_in("age"), 2);
}
END_TEST

static void check_window_survives(int sig)
{
	const char *json = "{\"records\":[{\"value\":\"x\"},{\"value\":\"y\"}]}";
	http_response_t a, b;

	create_topic("durable", 2);
	keyed_json("/v1/topics/durable/records", json, "\"before-restart\"", &a);
	ASSERT_STATUS(a, 200);
	keyed_json("/v1/topics/durable/records?acks=1", json, "\"acks1\"", &b);
	ASSERT_STATUS(b, 200);
	http_response_free(&b);
	ck_assert_int_eq(harness_stop(&srv, sig), sig == SIGKILL ? 128 + SIGKILL : 0);
	ck_assert_msg(harness_restart(&srv) == 0, "restart: %s", harness_log_tail(&srv));

	keyed_json("/v1/topics/durable/records", json, "\"before-restart\"", &b);
	ASSERT_STATUS(b, 200);
	ck_assert(replayed(&b));
	ck_assert_str_eq(b.body.data, a.body.data);
	http_response_free(&b);
	keyed_json("/v1/topics/durable/records?acks=1", json, "\"acks1\"", &b);
	ASSERT_STATUS(b, 200);
	ck_assert(replayed(&b));
	http_response_free(&b);
	keyed_json("/v1/topics/durable/records", "{\"records\":[]}", "\"before-restart\"", &b);
	ASSERT_PROBLEM(b, 422, "IDEMPOTENCY_KEY_REUSED");
	http_response_free(&b);
	ck_assert_int_eq(records_in("durable"), 4);
	http_response_free(&a);
}

START_TEST(test_window_survives_graceful_restart)
{
	check_window_survives(SIGTERM);
}
END_TEST

START_TEST(test_window_survives_kill)
{
	check_window_survives(SIGKILL);
}
END_TEST

/* With authentication on, keys are scoped per principal too. */
START_TEST(test_keys_scoped_per_principal)
{
	static const char *const body = "{\"records\":[{\"value\":1}]}";
	static const char *const tokens_text =
		"alice-token-0123456789 alice\nbob-token-0123456789abcd bob\n";
	char tokens[] = "/tmp/strand-idem-tokens-XXXXXX";
	const char *args[] = { "--auth-file", tokens, NULL };
	const char *alice[] = { "Authorization: Bearer alice-token-0123456789", "Idempotency-Key: \"shared\"",
	                        NULL };
	const char *bob[] = { "Authorization: Bearer bob-token-0123456789abcd", "Idempotency-Key: \"shared\"",
	                      NULL };
	const char *alice_admin[] = { "Authorization: Bearer alice-token-0123456789", NULL };
	http_response_t r;
	int fd = mkstemp(tokens);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(write(fd, tokens_text, strlen(tokens_text)), 0);
	close(fd);
	server_start(args);
	http_request(&srv, "POST", "/v1/topics", "application/json",
	             "{\"name\":\"shared\",\"partitions\":1}",
	             strlen("{\"name\":\"shared\",\"partitions\":1}"), alice_admin, &r);
	ASSERT_STATUS(r, 201);
	http_response_free(&r);
	http_request(&srv, "POST", "/v1/topics/shared/records", "application/json", body,
	             strlen(body), alice, &r);
	ASSERT_STATUS(r, 200);
	ck_assert(!replayed(&r));
	http_response_free(&r);
	/* bob's request under the same key is his own: it runs */
	http_request(&srv, "POST", "/v1/topics/shared/records", "application/json", body,
	             strlen(body), bob, &r);
	ASSERT_STATUS(r, 200);
	ck_assert(!replayed(&r));
	http_response_free(&r);
	http_request(&srv, "POST", "/v1/topics/shared/records", "application/json", body,
	             strlen(body), alice, &r);
	ASSERT_STATUS(r, 200);
	ck_assert(replayed(&r));
	http_response_free(&r);
	http_request(&srv, "GET", "/v1/topics/shared", NULL, NULL, 0, alice_admin, &r);
	ASSERT_STATUS(r, 200);
	ck_assert_msg(strstr(r.body.data, "\"high_watermark\":2") != NULL, "%s", r.body.data);
	http_response_free(&r);
	unlink(tokens);
}
END_TEST

/* ---- idempotent producers (binary batches, KIP-98) -------------------------- */

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

		ck_assert_int_eq(batch_builder_add(&bb, wall_ms(), NULL, -1, (const uint8_t *)v, len,
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
	ck_assert_int_eq(records_in("dup"), 5);
	/* and carries on in sequence */
	produce_ok("dup", 1, pid, 0, 3, 1, again, sizeof again);
	ck_assert_str_eq(again, "5");
	ck_assert_int_eq(records_in("dup"), 6);
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
	ck_assert_int_eq(records_in("seq"), 3);
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
	ck_assert_int_eq(records_in("keep"), 4);
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

static Suite *idempotency_suite(void)
{
	Suite *s = suite_create("http_idempotency");
	TCase *tc = tcase_create("key");
	TCase *win = tcase_create("window");

	tcase_add_checked_fixture(tc, server_up, server_down);
	tcase_add_test(tc, test_retry_gets_first_answer_and_appends_nothing);
	tcase_add_test(tc, test_binary_body_replayed);
	tcase_add_test(tc, test_same_key_other_request_gets_422);
	tcase_add_test(tc, test_bad_keys_refused);
	tcase_add_test(tc, test_failed_request_keeps_no_answer);
	tcase_add_test(tc, test_retry_while_in_progress_gets_409);
	tcase_add_test(tc, test_abandoned_request_frees_key);
	tcase_add_test(tc, test_concurrent_same_key_appends_once);
	tcase_add_test(tc, test_window_survives_graceful_restart);
	tcase_add_test(tc, test_window_survives_kill);
	suite_add_tcase(s, tc);
	/* these start their own server with a small window */
	tcase_add_checked_fixture(win, NULL, server_down);
	tcase_add_test(win, test_window_forgets_by_count);
	tcase_add_test(win, test_window_forgets_by_age);
	tcase_add_test(win, test_keys_scoped_per_principal);
	suite_add_tcase(s, win);
	tc = tcase_create("producers");
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
	SRunner *sr = srunner_create(idempotency_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
