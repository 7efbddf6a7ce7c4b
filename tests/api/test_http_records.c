/*
 * test_http_records.c — integration tests of produce and fetch
 * (api/produce.c, api/fetch.c, api/parking.c) against a real `strand serve`
 * (tests/api/harness.h): every body kind and key/value format, Kafka's
 * murmur2 partitioning, offsets per record in request order, acks, every
 * error this path owns (and that a rejected request stores nothing), JSON,
 * binary (sendfile) and SSE fetches, Last-Event-ID resume, long polls woken
 * by an append (latency printed) or timing out, 200 parked long polls that
 * do not slow other requests, and offsets by timestamp.
 *
 * Waits are on conditions with deadlines (a /metrics gauge, a response),
 * never sleeps to let things settle.
 */
#include <check.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker.h"
#include "harness.h"
#include "log/batch.h"

/* The server's request cap for these tests (REQUEST_TOO_LARGE is testable). */
#define TEST_MAX_REQUEST "1048576"

static harness_t srv;

static void server_up(void)
{
	memset(&srv, 0, sizeof srv);
	srv.extra_args[0] = "--max-request-bytes";
	srv.extra_args[1] = TEST_MAX_REQUEST;
	if (harness_start(&srv) != 0) {
		fprintf(stderr, "cannot start strand serve\n");
		exit(99);
	}
}

static void server_down(void)
{
	harness_teardown(&srv);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- assertions and helpers ---------------------------------------------- */

#define ASSERT_STATUS(r, want) \
	ck_assert_msg((r).status == (want), "%s:%d: status %ld, expected %d; body: %.400s%s%s", \
	              __FILE__, __LINE__, (r).status, (want), \
	              (r).body.data ? (r).body.data : "", (r).error[0] ? "; curl: " : "", (r).error)

#define ASSERT_PROBLEM(r, st, code) do { \
	char why_[600]; \
	ck_assert_msg(http_is_problem(&(r), (st), (code), why_, sizeof why_), \
	              "%s:%d: expected %d %s: %s", __FILE__, __LINE__, (st), (code), why_); \
} while (0)

static void create_topic(const char *json)
{
	http_response_t r;

	http_json(&srv, "POST", "/v1/topics", json, &r);
	ASSERT_STATUS(r, 201);
	http_response_free(&r);
}

static cJSON *get_json(const char *path, int want)
{
	http_response_t r;
	cJSON *doc;

	http_get(&srv, path, &r);
	ASSERT_STATUS(r, want);
	doc = http_body_json(&r);
	ck_assert_msg(doc != NULL, "GET %s: not JSON: %.300s", path, r.body.data);
	http_response_free(&r);
	return doc;
}

/* POST a body; returns the parsed answer (NULL when none) and the status. */
static cJSON *produce(const char *path, const char *ctype, const void *body, size_t len,
                      long *status)
{
	http_response_t r;
	cJSON *doc;

	http_request(&srv, "POST", path, ctype, body, len, NULL, &r);
	*status = r.status;
	doc = http_body_json(&r);
	http_response_free(&r);
	return doc;
}

/* POST a body and expect a problem. */
static void produce_problem(const char *path, const char *ctype, const void *body,
                            size_t len, long status, const char *code)
{
	http_response_t r;
	char why[600];

	http_request(&srv, "POST", path, ctype, body, len, NULL, &r);
	ck_assert_msg(http_is_problem(&r, status, code, why, sizeof why),
	              "POST %s (%s) %.120s: expected %ld %s: %s", path, ctype ? ctype : "none",
	              ctype && strstr(ctype, "batch") ? "<binary>" : (const char *)body, status,
	              code, why);
	http_response_free(&r);
}

static void produce_json_problem(const char *path, const char *json, long status,
                                 const char *code)
{
	produce_problem(path, "application/json", json, strlen(json), status, code);
}

/* {"offsets":[...]}: the i-th (partition, offset). */
static void offset_at(cJSON *doc, int i, int *partition, int64_t *offset)
{
	cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "offsets"), i);

	ck_assert_msg(o != NULL, "no offsets[%d]", i);
	*partition = (int)cJSON_GetObjectItem(o, "partition")->valuedouble;
	*offset = (int64_t)cJSON_GetObjectItem(o, "offset")->valuedouble;
}

/* The high watermarks of a topic's partitions, as one string "hw0,hw1,...". */
static void topic_hws(const char *topic, char *out, size_t cap)
{
	char path[300];
	cJSON *doc, *p;
	size_t n = 0;

	snprintf(path, sizeof path, "/v1/topics/%s", topic);
	doc = get_json(path, 200);
	out[0] = '\0';
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "partitions"))
		n += (size_t)snprintf(out + n, cap - n, "%.0f,",
		                      cJSON_GetObjectItem(p, "high_watermark")->valuedouble);
	cJSON_Delete(doc);
}

/* Fetch JSON records and return the document (caller deletes). */
static cJSON *fetch_json(const char *path)
{
	return get_json(path, 200);
}

static cJSON *record_at(cJSON *fetch, int i)
{
	cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(fetch, "records"), i);

	ck_assert_msg(r != NULL, "no records[%d]", i);
	return r;
}

static int64_t num(cJSON *obj, const char *name)
{
	cJSON *v = cJSON_GetObjectItem(obj, name);

	ck_assert_msg(cJSON_IsNumber(v), "member %s is not a number", name);
	return (int64_t)v->valuedouble;
}

/* strand_http_parked_requests from /metrics. */
static long parked_gauge(void)
{
	http_response_t r;
	const char *p;
	long v = -1;

	http_get(&srv, "/metrics", &r);
	p = r.body.data ? strstr(r.body.data, "\nstrand_http_parked_requests ") : NULL;
	if (p != NULL)
		v = strtol(p + strlen("\nstrand_http_parked_requests "), NULL, 10);
	http_response_free(&r);
	return v;
}

/* Wait (deadline 10 s) until at least n requests are parked (count them
 * from a baseline read before starting them: an SSE stream a test left
 * behind stays parked until its next keep-alive). */
static void wait_parked(long n)
{
	int64_t until = now_ns() + 10 * 1000000000LL;
	long v = -1;

	while (now_ns() < until && (v = parked_gauge()) < n)
		;
	ck_assert_msg(v >= n, "expected %ld parked requests, saw %ld", n, v);
}

/* ---- a GET on its own thread, timed ---------------------------------------- */

typedef struct timed_get {
	char     url[512];
	buf_t    body;
	long     status;
	int64_t  done_ns;
	pthread_t thread;
} timed_get_t;

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	buf_append(ctx, data, size * n);
	return size * n;
}

static void *timed_get_main(void *arg)
{
	timed_get_t *g = arg;
	CURL *c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_URL, g->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 70000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g->body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	g->done_ns = now_ns();
	curl_easy_cleanup(c);
	return NULL;
}

static void timed_get_start(timed_get_t *g, const char *path)
{
	memset(g, 0, sizeof *g);
	snprintf(g->url, sizeof g->url, "%s%s", srv.base_url, path);
	ck_assert_int_eq(pthread_create(&g->thread, NULL, timed_get_main, g), 0);
}

/* ---- SSE: read events until n arrived, then abort ---------------------------- */

typedef struct sse_reader {
	buf_t  text;
	int    events;      /* events with an id seen */
	int    want;
} sse_reader_t;

static size_t sse_on_data(char *data, size_t size, size_t n, void *ctx)
{
	sse_reader_t *s = ctx;
	const char *p;

	buf_append(&s->text, data, size * n);
	s->events = 0;
	for (p = s->text.data; p && (p = strstr(p, "id: ")) != NULL; p += 4)
		if (strstr(p, "\n\n") != NULL)
			s->events++;
	return s->events >= s->want ? 0 : size * n;   /* 0 aborts the transfer */
}

/* GET path as text/event-stream until want events (or timeout_ms). */
static int sse_read(const char *path, const char *last_event_id, int want, long timeout_ms,
                    sse_reader_t *s)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	char url[512], hdr[128];

	memset(s, 0, sizeof *s);
	s->want = want;
	snprintf(url, sizeof url, "%s%s", srv.base_url, path);
	hl = curl_slist_append(hl, "Accept: text/event-stream");
	if (last_event_id != NULL) {
		snprintf(hdr, sizeof hdr, "Last-Event-ID: %s", last_event_id);
		hl = curl_slist_append(hl, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
	return s->events;
}

/* ---- produce --------------------------------------------------------------- */

START_TEST(test_offsets_per_record_in_request_order)
{
	const char *body = "{\"records\":[{\"value\":1,\"partition\":2},{\"value\":2,\"partition\":0},"
	                   "{\"value\":3,\"partition\":2},{\"value\":4,\"partition\":1},"
	                   "{\"value\":5,\"partition\":0}]}";
	const int want_p[] = { 2, 0, 2, 1, 0 };
	const int64_t want_o[] = { 0, 0, 1, 0, 1 };
	long status;
	cJSON *doc, *f;
	int i, p;
	int64_t o;

	create_topic("{\"name\":\"order\",\"partitions\":3}");
	doc = produce("/v1/topics/order/records", "application/json", body, strlen(body), &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "offsets")), 5);
	for (i = 0; i < 5; i++) {
		offset_at(doc, i, &p, &o);
		ck_assert_int_eq(p, want_p[i]);
		ck_assert_int_eq(o, want_o[i]);
	}
	cJSON_Delete(doc);
	f = fetch_json("/v1/topics/order/partitions/2/records");
	ck_assert_int_eq(num(record_at(f, 0), "value"), 1);
	ck_assert_int_eq(num(record_at(f, 1), "value"), 3);
	ck_assert_int_eq(num(f, "next_offset"), 2);
	ck_assert_int_eq(num(f, "high_watermark"), 2);
	cJSON_Delete(f);
}
END_TEST

START_TEST(test_keyed_records_land_on_kafka_murmur2_partition)
{
	/* Kafka's UtilsTest: murmur2("foobar") = -790332482, murmur2("21") = -973932308 */
	const char *body = "{\"records\":[{\"key\":\"foobar\",\"value\":\"a\"},"
	                   "{\"key\":\"a-little-bit-long-string\",\"value\":\"b\"},"
	                   "{\"key\":\"21\",\"value\":\"c\"},{\"key\":\"foobar\",\"value\":\"d\"}]}";
	long status;
	cJSON *doc;
	int p;
	int64_t o;

	ck_assert_int_eq((int32_t)broker_murmur2("foobar", 6), -790332482);
	ck_assert_int_eq((int32_t)broker_murmur2("21", 2), -973932308);
	create_topic("{\"name\":\"keyed\",\"partitions\":3,\"configs\":{\"key_format\":\"string\","
	             "\"value_format\":\"string\"}}");
	doc = produce("/v1/topics/keyed/records", "application/json", body, strlen(body), &status);
	ck_assert_int_eq(status, 200);
	offset_at(doc, 0, &p, &o);
	ck_assert_int_eq(p, 0);            /* (-790332482 & 0x7fffffff) % 3 */
	ck_assert_int_eq(p, broker_partition_for_key("foobar", 6, 3));
	offset_at(doc, 1, &p, &o);
	ck_assert_int_eq(p, 2);
	ck_assert_int_eq(p, broker_partition_for_key("a-little-bit-long-string", 24, 3));
	offset_at(doc, 2, &p, &o);
	ck_assert_int_eq(p, broker_partition_for_key("21", 2, 3));
	offset_at(doc, 3, &p, &o);         /* the same key, the same partition */
	ck_assert_int_eq(p, 0);
	ck_assert_int_eq(o, 2);            /* after "foobar" and "21", both on 0 */
	cJSON_Delete(doc);
}
END_TEST

START_TEST(test_unkeyed_records_stick_to_one_partition_per_request)
{
	const char *body = "{\"records\":[{\"value\":1},{\"value\":2},{\"value\":3},{\"value\":4}]}";
	int seen[4] = { 0 }, i, j, p, p0;
	long status;
	int64_t o;
	cJSON *doc;

	create_topic("{\"name\":\"sticky\",\"partitions\":4}");
	for (i = 0; i < 8; i++) {
		doc = produce("/v1/topics/sticky/records", "application/json", body, strlen(body),
		              &status);
		ck_assert_int_eq(status, 200);
		offset_at(doc, 0, &p0, &o);
		for (j = 1; j < 4; j++) {
			offset_at(doc, j, &p, &o);
			ck_assert_int_eq(p, p0);
		}
		seen[p0]++;
		cJSON_Delete(doc);
	}
	/* spread across requests: more than one partition got records */
	ck_assert_msg(!(seen[0] == 8 || seen[1] == 8 || seen[2] == 8 || seen[3] == 8),
	              "8 requests all went to one partition");
}
END_TEST

/* NDJSON sent chunked (no Content-Length): streamed through the parser. */
typedef struct chunked_src { const char *data; size_t len, pos, step; } chunked_src_t;

static size_t chunked_read(char *dst, size_t size, size_t n, void *ctx)
{
	chunked_src_t *s = ctx;
	size_t k = size * n;

	if (k > s->step)
		k = s->step;
	if (k > s->len - s->pos)
		k = s->len - s->pos;
	memcpy(dst, s->data + s->pos, k);
	s->pos += k;
	return k;
}

START_TEST(test_ndjson_streams_chunked_and_whole)
{
	buf_t body = BUF_INIT, out = BUF_INIT;
	chunked_src_t src;
	struct curl_slist *hl = NULL;
	CURL *c;
	long status = 0;
	char url[256];
	cJSON *doc, *f;
	int i, p;
	int64_t o;

	create_topic("{\"name\":\"nd\",\"partitions\":1}");
	for (i = 0; i < 20000; i++)
		buf_appendf(&body, "{\"value\":{\"n\":%d},\"headers\":{\"h\":\"v%d\"}}\n%s", i, i,
		            i % 1000 == 0 ? "\n" : "");
	/* chunked upload in 997-byte pieces, cut anywhere inside records */
	src.data = body.data;
	src.len = body.len;
	src.pos = 0;
	src.step = 997;
	snprintf(url, sizeof url, "%s/v1/topics/nd/partitions/0/records", srv.base_url);
	hl = curl_slist_append(hl, "Content-Type: application/x-ndjson");
	hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, chunked_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &src);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
	ck_assert_msg(status == 200, "chunked NDJSON: %ld %.300s", status, out.data);
	doc = cJSON_Parse(out.data);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "offsets")), 20000);
	offset_at(doc, 19999, &p, &o);
	ck_assert_int_eq(o, 19999);
	cJSON_Delete(doc);
	/* and the same body with a Content-Length */
	doc = produce("/v1/topics/nd/records", "application/x-ndjson", body.data, body.len, &status);
	ck_assert_int_eq(status, 200);
	offset_at(doc, 0, &p, &o);
	ck_assert_int_eq(o, 20000);
	cJSON_Delete(doc);
	f = fetch_json("/v1/topics/nd/partitions/0/records?offset=19998&max_records=3");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 3);
	ck_assert_int_eq(num(cJSON_GetObjectItem(record_at(f, 0), "value"), "n"), 19998);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(record_at(f, 1), "headers"),
	                                     "h")->valuestring, "v19999");
	ck_assert_int_eq(num(cJSON_GetObjectItem(record_at(f, 2), "value"), "n"), 0);
	ck_assert_int_eq(num(f, "next_offset"), 20001);
	cJSON_Delete(f);
	buf_free(&body);
	buf_free(&out);
}
END_TEST

START_TEST(test_string_and_binary_formats_round_trip)
{
	const char *sb = "{\"records\":[{\"key\":\"k\",\"value\":\"h\\u00e9llo\",\"timestamp\":1234}]}";
	const char *bb = "{\"records\":[{\"key\":\"AAEC\",\"value\":\"/w==\"}]}";
	long status;
	cJSON *doc, *f, *r;

	/* retention off: timestamp 1234 (1970) would race the ticker's retention */
	create_topic("{\"name\":\"fmt-s\",\"partitions\":1,\"configs\":{\"key_format\":\"string\","
	             "\"value_format\":\"string\",\"retention_ms\":-1}}");
	create_topic("{\"name\":\"fmt-b\",\"partitions\":1,\"configs\":{\"key_format\":\"binary\","
	             "\"value_format\":\"binary\",\"retention_ms\":-1}}");
	doc = produce("/v1/topics/fmt-s/records", "application/json", sb, strlen(sb), &status);
	ck_assert_int_eq(status, 200);
	cJSON_Delete(doc);
	doc = produce("/v1/topics/fmt-b/records", "application/json", bb, strlen(bb), &status);
	ck_assert_int_eq(status, 200);
	cJSON_Delete(doc);
	f = fetch_json("/v1/topics/fmt-s/partitions/0/records");
	r = record_at(f, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(r, "key")->valuestring, "k");
	ck_assert_str_eq(cJSON_GetObjectItem(r, "value")->valuestring, "h\xc3\xa9llo");
	ck_assert_int_eq(num(r, "timestamp"), 1234);
	cJSON_Delete(f);
	f = fetch_json("/v1/topics/fmt-b/partitions/0/records");
	r = record_at(f, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(r, "key")->valuestring, "AAEC");
	ck_assert_str_eq(cJSON_GetObjectItem(r, "value")->valuestring, "/w==");
	cJSON_Delete(f);
	/* format violations are 400 */
	produce_json_problem("/v1/topics/fmt-s/records", "{\"records\":[{\"value\":5}]}", 400,
	                     "INVALID_REQUEST");
	produce_json_problem("/v1/topics/fmt-b/records", "{\"records\":[{\"value\":\"!!\"}]}", 400,
	                     "INVALID_REQUEST");
}
END_TEST

/* One binary batch of n records "v<i>" built with the engine's builder. */
static void build_batch(batch_builder_t *b, int n, size_t value_len)
{
	char *v = malloc(value_len + 16);
	int i;

	batch_builder_init(b);
	ck_assert_int_eq(batch_builder_begin(b, -1, -1, -1), 0);
	for (i = 0; i < n; i++) {
		int k = snprintf(v, 16, "v%d", i);

		if (value_len > (size_t)k) {
			memset(v + k, 'x', value_len - (size_t)k);
			k = (int)value_len;
		}
		ck_assert_int_eq(batch_builder_add(b, 1700000000000 + i, NULL, -1, (uint8_t *)v, k,
		                                   NULL, 0), 0);
	}
	ck_assert_int_eq(batch_builder_finish(b, NULL), 0);
	free(v);
}

START_TEST(test_binary_batches_in_and_out)
{
	batch_builder_t b;
	http_response_t r;
	const char *accept[] = { "Accept: application/vnd.strand.batch", NULL };
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	char hdr[32], err[128];
	long status;
	cJSON *doc, *f;
	int p, n = 0;
	int64_t o;

	/* the batches carry 2023 timestamps: keep retention from deleting them mid-test */
	create_topic("{\"name\":\"bin\",\"partitions\":2,\"configs\":{\"retention_ms\":-1}}");
	build_batch(&b, 3, 0);
	doc = produce("/v1/topics/bin/partitions/1/records", "application/vnd.strand.batch",
	              b.buf, b.len, &status);
	ck_assert_int_eq(status, 200);
	offset_at(doc, 2, &p, &o);
	ck_assert_int_eq(p, 1);
	ck_assert_int_eq(o, 2);
	cJSON_Delete(doc);
	/* two batches back to back */
	{
		uint8_t *two = malloc(2 * b.len);

		memcpy(two, b.buf, b.len);
		memcpy(two + b.len, b.buf, b.len);
		doc = produce("/v1/topics/bin/partitions/1/records?acks=1",
		              "application/vnd.strand.batch", two, 2 * b.len, &status);
		ck_assert_int_eq(status, 200);
		ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "offsets")), 6);
		offset_at(doc, 5, &p, &o);
		ck_assert_int_eq(o, 8);
		cJSON_Delete(doc);
		free(two);
	}
	/* fetch binary from offset 4: the first batch starts at 3 (before it) */
	http_request(&srv, "GET", "/v1/topics/bin/partitions/1/records?offset=4", NULL, NULL, 0,
	             accept, &r);
	ASSERT_STATUS(r, 200);
	ck_assert_str_eq(http_header(&r, "Content-Type", hdr, sizeof hdr),
	                 "application/vnd.strand.batch");
	ck_assert_str_eq(http_header(&r, "Strand-High-Watermark", hdr, sizeof hdr), "9");
	ck_assert_str_eq(http_header(&r, "Strand-Log-Start-Offset", hdr, sizeof hdr), "0");
	ck_assert_ptr_nonnull(http_header(&r, "Strand-Next-Offset", hdr, sizeof hdr));
	ck_assert_int_gt(atoi(hdr), 4);
	ck_assert_int_eq(batch_validate((uint8_t *)r.body.data, r.body.len, 0, &h, err, sizeof err), 0);
	ck_assert_int_eq(h.base_offset, 3);
	ck_assert_int_eq(batch_iter_init(&it, (uint8_t *)r.body.data, batch_total_size(&h)), 0);
	while (batch_iter_next(&it, &rec) == 1) {
		char want[8];

		snprintf(want, sizeof want, "v%d", n++);
		ck_assert_int_eq(rec.value_len, (int32_t)strlen(want));
		ck_assert_int_eq(memcmp(rec.value, want, strlen(want)), 0);
	}
	ck_assert_int_eq(n, 3);
	http_response_free(&r);
	/* the JSON view shows bytes that are not JSON as base64 */
	f = fetch_json("/v1/topics/bin/partitions/1/records?offset=0&max_records=1");
	ck_assert_str_eq(cJSON_GetObjectItem(record_at(f, 0), "value_encoding")->valuestring,
	                 "base64");
	ck_assert_int_eq(num(f, "next_offset"), 1);
	cJSON_Delete(f);
	/* an empty partition answers an empty body with the headers */
	http_request(&srv, "GET", "/v1/topics/bin/partitions/0/records", NULL, NULL, 0, accept, &r);
	ASSERT_STATUS(r, 200);
	ck_assert_uint_eq(r.body.len, 0);
	ck_assert_str_eq(http_header(&r, "Strand-Next-Offset", hdr, sizeof hdr), "0");
	http_response_free(&r);
	batch_builder_free(&b);
}
END_TEST

START_TEST(test_binary_batch_errors_store_nothing)
{
	batch_builder_t b, big;
	char before[128], after[128];

	create_topic("{\"name\":\"binerr\",\"partitions\":2,\"configs\":{\"max_message_bytes\":100}}");
	build_batch(&b, 2, 0);
	topic_hws("binerr", before, sizeof before);
	/* only on the partition path */
	produce_problem("/v1/topics/binerr/records", "application/vnd.strand.batch", b.buf, b.len,
	                415, "UNSUPPORTED_MEDIA_TYPE");
	/* truncated */
	produce_problem("/v1/topics/binerr/partitions/0/records", "application/vnd.strand.batch",
	                b.buf, b.len - 3, 400, "INVALID_REQUEST");
	/* a good batch followed by garbage: nothing of it is stored */
	{
		uint8_t *two = malloc(b.len + 70);

		memcpy(two, b.buf, b.len);
		memset(two + b.len, 0x5a, 70);
		produce_problem("/v1/topics/binerr/partitions/0/records",
		                "application/vnd.strand.batch", two, b.len + 70, 400,
		                "INVALID_REQUEST");
		free(two);
	}
	/* bad CRC */
	b.buf[b.len - 1] ^= 0xff;
	produce_problem("/v1/topics/binerr/partitions/0/records", "application/vnd.strand.batch",
	                b.buf, b.len, 400, "INVALID_REQUEST");
	b.buf[b.len - 1] ^= 0xff;
	/* empty */
	produce_problem("/v1/topics/binerr/partitions/0/records", "application/vnd.strand.batch",
	                "", 0, 400, "INVALID_REQUEST");
	/* a record over max_message_bytes (100) */
	build_batch(&big, 2, 150);
	produce_problem("/v1/topics/binerr/partitions/1/records", "application/vnd.strand.batch",
	                big.buf, big.len, 413, "RECORD_TOO_LARGE");
	topic_hws("binerr", after, sizeof after);
	ck_assert_str_eq(before, after);
	batch_builder_free(&b);
	batch_builder_free(&big);
}
END_TEST

START_TEST(test_acks_levels)
{
	const char *body = "{\"records\":[{\"value\":1},{\"value\":2}]}";
	http_response_t r;
	long status;
	cJSON *doc, *f;

	create_topic("{\"name\":\"acks\",\"partitions\":1}");
	http_request(&srv, "POST", "/v1/topics/acks/records?acks=0", "application/json", body,
	             strlen(body), NULL, &r);
	ASSERT_STATUS(r, 202);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
	doc = produce("/v1/topics/acks/records?acks=1", "application/json", body, strlen(body),
	              &status);
	ck_assert_int_eq(status, 200);
	cJSON_Delete(doc);
	doc = produce("/v1/topics/acks/records?acks=all&timeout_ms=5000", "application/json", body,
	              strlen(body), &status);
	ck_assert_int_eq(status, 200);
	cJSON_Delete(doc);
	/* acks=0 still appended */
	f = fetch_json("/v1/topics/acks/partitions/0/records");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 6);
	cJSON_Delete(f);
	produce_json_problem("/v1/topics/acks/records?acks=2", body, 400, "INVALID_REQUEST");
	produce_json_problem("/v1/topics/acks/records?acks=", body, 400, "INVALID_REQUEST");
	produce_json_problem("/v1/topics/acks/records?timeout_ms=-1", body, 400, "INVALID_REQUEST");
	produce_json_problem("/v1/topics/acks/records?timeout_ms=abc", body, 400, "INVALID_REQUEST");
	produce_json_problem("/v1/topics/acks/records?timeout_ms=300001", body, 400,
	                     "INVALID_REQUEST");
}
END_TEST

START_TEST(test_produce_errors_store_nothing)
{
	static const char *bad[] = {
		"{\"records\":[{\"value\":1},{\"value\":}]}",                 /* bad JSON */
		"{\"records\":[{\"value\":1,\"partition\":0},{\"key\":\"x\"}]}", /* missing value */
		"{\"records\":[]}",                                           /* no records */
		"{\"records\":[{\"value\":1}",                                /* truncated */
		"{\"records\":[{\"value\":1,\"partition\":-1}]}",
		"{\"records\":[{\"value\":1,\"partition\":\"0\"}]}",
		"{\"records\":[{\"value\":1,\"timestamp\":-5}]}",
		"{\"records\":[{\"value\":1,\"headers\":{\"a\":1}}]}",
		"{\"records\":{\"value\":1}}",
		"[1,2,3]",
		"",
		"\xff\xfe",
	};
	char before[128], after[128], big[400];
	size_t i;
	char *huge;
	http_response_t r;

	create_topic("{\"name\":\"perr\",\"partitions\":3,\"configs\":{\"max_message_bytes\":200}}");
	topic_hws("perr", before, sizeof before);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		produce_json_problem("/v1/topics/perr/records", bad[i], 400, "INVALID_REQUEST");
	{
		const char *nd = "{\"value\":1}\n{\"value\":2,\"bogus\":1}\n";

		produce_problem("/v1/topics/perr/records", "application/x-ndjson", nd, strlen(nd),
		                400, "INVALID_REQUEST");
	}
	/* unknown topic and partitions */
	produce_json_problem("/v1/topics/nope/records", "{\"records\":[{\"value\":1}]}", 404,
	                     "UNKNOWN_TOPIC");
	produce_json_problem("/v1/topics/perr/partitions/3/records", "{\"records\":[{\"value\":1}]}",
	                     404, "UNKNOWN_PARTITION");
	produce_json_problem("/v1/topics/perr/records",
	                     "{\"records\":[{\"value\":1,\"partition\":0},{\"value\":1,\"partition\":3}]}",
	                     404, "UNKNOWN_PARTITION");
	/* a record's partition must match the path's */
	produce_json_problem("/v1/topics/perr/partitions/1/records",
	                     "{\"records\":[{\"value\":1,\"partition\":1},{\"value\":1,\"partition\":2}]}",
	                     400, "INVALID_REQUEST");
	/* content types */
	produce_problem("/v1/topics/perr/records", "text/plain", "{}", 2, 415,
	                "UNSUPPORTED_MEDIA_TYPE");
	produce_problem("/v1/topics/perr/records", NULL, "{}", 2, 415, "UNSUPPORTED_MEDIA_TYPE");
	/* a record over max_message_bytes (200), after good ones */
	snprintf(big, sizeof big, "{\"records\":[{\"value\":1,\"partition\":0},{\"value\":\"%0300d\"}]}", 7);
	produce_json_problem("/v1/topics/perr/records", big, 413, "RECORD_TOO_LARGE");
	/* a body over the server's cap, refused from its Content-Length */
	huge = malloc(2 * 1024 * 1024);
	memset(huge, ' ', 2 * 1024 * 1024);
	memcpy(huge, "{\"records\":[", 12);
	produce_problem("/v1/topics/perr/records", "application/json", huge, 2 * 1024 * 1024, 413,
	                "REQUEST_TOO_LARGE");
	free(huge);
	topic_hws("perr", after, sizeof after);
	ck_assert_str_eq(before, after);
	/* and the server still answers */
	http_get(&srv, "/healthz", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
}
END_TEST

/* ---- fetch ----------------------------------------------------------------- */

static void produce_n(const char *path, int n)
{
	buf_t body = BUF_INIT;
	long status;
	cJSON *doc;
	int i;

	buf_append_str(&body, "{\"records\":[");
	for (i = 0; i < n; i++)
		buf_appendf(&body, "%s{\"value\":%d}", i ? "," : "", i);
	buf_append_str(&body, "]}");
	doc = produce(path, "application/json", body.data, body.len, &status);
	ck_assert_msg(status == 200, "produce to %s: %ld", path, status);
	cJSON_Delete(doc);
	buf_free(&body);
}

START_TEST(test_fetch_json_bounds_and_errors)
{
	http_response_t r;
	cJSON *f;
	int i;

	create_topic("{\"name\":\"fj\",\"partitions\":2}");
	for (i = 0; i < 5; i++)
		produce_n("/v1/topics/fj/partitions/0/records", 10);   /* 5 batches of 10 */
	f = fetch_json("/v1/topics/fj/partitions/0/records?offset=13&max_records=4");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 4);
	ck_assert_int_eq(num(record_at(f, 0), "offset"), 13);
	ck_assert_int_eq(num(record_at(f, 0), "value"), 3);
	ck_assert_int_eq(num(f, "next_offset"), 17);
	ck_assert_int_eq(num(f, "high_watermark"), 50);
	ck_assert_int_eq(num(f, "log_start_offset"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(f, "topic")->valuestring, "fj");
	ck_assert_int_eq(num(f, "partition"), 0);
	cJSON_Delete(f);
	/* across batches, all of it */
	f = fetch_json("/v1/topics/fj/partitions/0/records?offset=earliest");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 50);
	ck_assert_int_eq(num(f, "next_offset"), 50);
	cJSON_Delete(f);
	/* max_bytes 1: still one whole batch */
	f = fetch_json("/v1/topics/fj/partitions/0/records?offset=5&max_bytes=1");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 5);
	ck_assert_int_eq(num(f, "next_offset"), 10);
	cJSON_Delete(f);
	/* latest and the end: empty */
	f = fetch_json("/v1/topics/fj/partitions/0/records?offset=latest");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 0);
	ck_assert_int_eq(num(f, "next_offset"), 50);
	cJSON_Delete(f);
	/* out of range: 416 with the bounds */
	http_get(&srv, "/v1/topics/fj/partitions/0/records?offset=51", &r);
	ASSERT_PROBLEM(r, 416, "OFFSET_OUT_OF_RANGE");
	f = http_body_json(&r);
	ck_assert_int_eq(num(f, "log_start_offset"), 0);
	ck_assert_int_eq(num(f, "high_watermark"), 50);
	cJSON_Delete(f);
	http_response_free(&r);
	http_get(&srv, "/v1/topics/fj/partitions/1/records?offset=1", &r);
	ASSERT_PROBLEM(r, 416, "OFFSET_OUT_OF_RANGE");
	http_response_free(&r);
	/* parameters */
	{
		static const char *bad[] = {
			"offset=abc", "offset=-1", "offset=", "max_records=0", "max_records=100001",
			"max_bytes=0", "min_bytes=-1", "max_wait_ms=60001", "max_wait_ms=-1",
			"max_wait_ms=1e3", "offset=1x",
		};
		char path[200];
		size_t i2;

		for (i2 = 0; i2 < sizeof bad / sizeof bad[0]; i2++) {
			snprintf(path, sizeof path, "/v1/topics/fj/partitions/0/records?%s", bad[i2]);
			http_get(&srv, path, &r);
			ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
			http_response_free(&r);
		}
	}
	http_get(&srv, "/v1/topics/fj/partitions/2/records", &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_PARTITION");
	http_response_free(&r);
	http_get(&srv, "/v1/topics/none/partitions/0/records", &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_TOPIC");
	http_response_free(&r);
	{
		const char *h[] = { "Accept: image/png", NULL };

		http_request(&srv, "GET", "/v1/topics/fj/partitions/0/records", NULL, NULL, 0, h, &r);
		ASSERT_PROBLEM(r, 406, "NOT_ACCEPTABLE");
		http_response_free(&r);
	}
}
END_TEST

START_TEST(test_sse_tail_and_last_event_id_resume)
{
	sse_reader_t s;
	const char *p;

	create_topic("{\"name\":\"sse\",\"partitions\":1}");
	produce_n("/v1/topics/sse/partitions/0/records", 5);
	/* from offset 1: events 1, 2, 3 */
	ck_assert_int_ge(sse_read("/v1/topics/sse/partitions/0/records?offset=1", NULL, 3, 10000, &s), 3);
	p = strstr(s.text.data, "id: 1\ndata: {\"offset\":1,");
	ck_assert_msg(p != NULL, "no event 1 in: %s", s.text.data);
	ck_assert_ptr_nonnull(strstr(p, "id: 2\n"));
	ck_assert_ptr_nonnull(strstr(p, "id: 3\n"));
	buf_free(&s.text);
	/* Last-Event-ID 2 resumes at 3 (and wins over offset) */
	ck_assert_int_eq(sse_read("/v1/topics/sse/partitions/0/records?offset=0", "2", 2, 10000, &s), 2);
	ck_assert_ptr_null(strstr(s.text.data, "id: 2\n"));
	ck_assert_ptr_nonnull(strstr(s.text.data, "id: 3\n"));
	ck_assert_ptr_nonnull(strstr(s.text.data, "id: 4\n"));
	buf_free(&s.text);
	/* a bad Last-Event-ID is 400 */
	{
		http_response_t r;
		const char *h[] = { "Accept: text/event-stream", "Last-Event-ID: x1", NULL };

		http_request(&srv, "GET", "/v1/topics/sse/partitions/0/records", NULL, NULL, 0, h, &r);
		ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
		http_response_free(&r);
	}
}
END_TEST

/* A live tail: parked while idle, the event arrives after the append. */
typedef struct sse_live { sse_reader_t s; int events; pthread_t thread; } sse_live_t;

static void *sse_live_main(void *arg)
{
	sse_live_t *l = arg;

	l->events = sse_read("/v1/topics/live/partitions/0/records", NULL, 2, 20000, &l->s);
	return NULL;
}

START_TEST(test_sse_live_tail_wakes_on_append)
{
	sse_live_t l;
	long base = parked_gauge();

	create_topic("{\"name\":\"live\",\"partitions\":1}");
	produce_n("/v1/topics/live/partitions/0/records", 3);   /* before: not sent (latest) */
	memset(&l, 0, sizeof l);
	ck_assert_int_eq(pthread_create(&l.thread, NULL, sse_live_main, &l), 0);
	wait_parked(base + 1);
	produce_n("/v1/topics/live/partitions/0/records", 2);
	pthread_join(l.thread, NULL);
	ck_assert_msg(l.events == 2, "events %d: %s", l.events, l.s.text.data);
	ck_assert_ptr_null(strstr(l.s.text.data, "id: 2\n"));
	ck_assert_ptr_nonnull(strstr(l.s.text.data, "id: 3\n"));
	ck_assert_ptr_nonnull(strstr(l.s.text.data, "id: 4\n"));
	buf_free(&l.s.text);
}
END_TEST

START_TEST(test_long_poll_answers_within_ms_of_the_append)
{
	timed_get_t g;
	int64_t t0;
	double ms;
	cJSON *f;

	create_topic("{\"name\":\"lp\",\"partitions\":1}");
	produce_n("/v1/topics/lp/partitions/0/records", 2);
	long base = parked_gauge();

	timed_get_start(&g, "/v1/topics/lp/partitions/0/records?offset=2&max_wait_ms=30000");
	wait_parked(base + 1);
	t0 = now_ns();
	produce_n("/v1/topics/lp/partitions/0/records", 1);
	pthread_join(g.thread, NULL);
	ms = (double)(g.done_ns - t0) / 1e6;
	printf("long poll answered %.2f ms after the append was sent (acks=all)\n", ms);
	ck_assert_int_eq(g.status, 200);
	ck_assert_msg(ms < 500.0, "long poll took %.1f ms after the append", ms);
	f = cJSON_Parse(g.body.data);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 1);
	ck_assert_int_eq(num(record_at(f, 0), "offset"), 2);
	cJSON_Delete(f);
	buf_free(&g.body);
}
END_TEST

static long delete_path(const char *path)
{
	http_response_t r;
	long status = http_request(&srv, "DELETE", path, NULL, NULL, 0, NULL, &r);

	http_response_free(&r);
	return status;
}

/* An SSE tail of path (wanting 2 events) that parks, then a DELETE of
 * topic_path: *ms is the time from the delete to the end of the stream. */
typedef struct sse_bg { sse_reader_t *s; const char *path; int64_t done_ns; pthread_t thread; } sse_bg_t;

static void *sse_bg_main(void *arg)
{
	sse_bg_t *b = arg;

	sse_read(b->path, NULL, 2, 20000, b->s);
	b->done_ns = now_ns();
	return NULL;
}

static void sse_tail_start_then_delete(long base, const char *path, const char *topic_path,
                                       sse_reader_t *s, double *ms)
{
	sse_bg_t b = { s, path, 0, 0 };
	int64_t t0;

	ck_assert_int_eq(pthread_create(&b.thread, NULL, sse_bg_main, &b), 0);
	wait_parked(base + 1);
	t0 = now_ns();
	ck_assert_int_eq(delete_path(topic_path), 204);
	pthread_join(b.thread, NULL);
	*ms = (double)(b.done_ns - t0) / 1e6;
}

/* Deleting a topic answers its parked long polls (404) and ends its SSE
 * tails at once, not at their deadlines. */
START_TEST(test_delete_topic_wakes_its_long_polls)
{
	timed_get_t g;
	sse_reader_t s;
	int64_t t0;
	double ms;
	long base;

	create_topic("{\"name\":\"gone\",\"partitions\":2}");
	base = parked_gauge();
	timed_get_start(&g, "/v1/topics/gone/partitions/1/records?offset=0&max_wait_ms=60000");
	wait_parked(base + 1);
	t0 = now_ns();
	ck_assert_int_eq(delete_path("/v1/topics/gone"), 204);
	pthread_join(g.thread, NULL);
	ms = (double)(g.done_ns - t0) / 1e6;
	ck_assert_msg(g.status == 404, "parked poll answered %ld, want 404", g.status);
	ck_assert_msg(strstr(g.body.data, "UNKNOWN_TOPIC") != NULL, "body: %s", g.body.data);
	ck_assert_msg(ms < 5000.0, "parked poll answered %.1f ms after the delete", ms);
	buf_free(&g.body);

	/* an SSE tail ends (the transfer completes well before its 20 s timeout) */
	create_topic("{\"name\":\"gone\",\"partitions\":1}");
	produce_n("/v1/topics/gone/partitions/0/records", 1);
	timed_get_start(&g, "/v1/topics/gone/partitions/0/records?offset=earliest&max_wait_ms=0");
	pthread_join(g.thread, NULL);
	ck_assert_int_eq(g.status, 200);
	buf_free(&g.body);
	base = parked_gauge();
	sse_tail_start_then_delete(base, "/v1/topics/gone/partitions/0/records?offset=earliest",
	                           "/v1/topics/gone", &s, &ms);
	ck_assert_int_eq(s.events, 1);
	ck_assert_msg(ms < 5000.0, "SSE tail ended %.1f ms after the delete", ms);
	buf_free(&s.text);
}
END_TEST

START_TEST(test_long_poll_times_out_empty_and_min_bytes_waits)
{
	timed_get_t g;
	int64_t t0 = now_ns();
	double ms;
	cJSON *f;

	create_topic("{\"name\":\"lpt\",\"partitions\":1}");
	timed_get_start(&g, "/v1/topics/lpt/partitions/0/records?offset=latest&max_wait_ms=300");
	pthread_join(g.thread, NULL);
	ms = (double)(g.done_ns - t0) / 1e6;
	ck_assert_int_eq(g.status, 200);
	/* the broker's deadline is on a millisecond clock: up to 1 ms short */
	ck_assert_msg(ms >= 299.0 && ms < 5000.0, "a 300 ms wait took %.1f ms", ms);
	f = cJSON_Parse(g.body.data);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 0);
	ck_assert_int_eq(num(f, "next_offset"), 0);
	cJSON_Delete(f);
	buf_free(&g.body);
	/* one small record is below min_bytes: the poll waits its full time, then
	 * answers with what is there */
	produce_n("/v1/topics/lpt/partitions/0/records", 1);
	t0 = now_ns();
	timed_get_start(&g, "/v1/topics/lpt/partitions/0/records?offset=0&min_bytes=100000&max_wait_ms=300");
	pthread_join(g.thread, NULL);
	ms = (double)(g.done_ns - t0) / 1e6;
	ck_assert_msg(ms >= 299.0 && ms < 5000.0, "min_bytes wait took %.1f ms", ms);
	f = cJSON_Parse(g.body.data);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "records")), 1);
	cJSON_Delete(f);
	buf_free(&g.body);
	/* min_bytes 0 never waits */
	t0 = now_ns();
	timed_get_start(&g, "/v1/topics/lpt/partitions/0/records?offset=1&min_bytes=0&max_wait_ms=10000");
	pthread_join(g.thread, NULL);
	ck_assert_int_eq(g.status, 200);
	ck_assert_msg(g.done_ns - t0 < 5000000000LL, "min_bytes=0 waited");
	buf_free(&g.body);
}
END_TEST

#define PARKED 200

START_TEST(test_200_parked_long_polls_do_not_slow_other_requests)
{
	CURLM *multi = curl_multi_init();
	CURL *e[PARKED];
	buf_t bodies[PARKED];
	char url[256];
	int i, running = 1, done = 0;
	int64_t t0, worst = 0, t;
	CURLMsg *m;
	int left;
	long base = parked_gauge();

	create_topic("{\"name\":\"many\",\"partitions\":1}");
	create_topic("{\"name\":\"other\",\"partitions\":1}");
	snprintf(url, sizeof url, "%s/v1/topics/many/partitions/0/records?offset=0&max_wait_ms=60000",
	         srv.base_url);
	for (i = 0; i < PARKED; i++) {
		buf_init(&bodies[i]);
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, url);
		curl_easy_setopt(e[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 70000L);
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &bodies[i]);
		curl_multi_add_handle(multi, e[i]);
	}
	/* drive the multi handle until all 200 are parked on the server */
	t0 = now_ns();
	while (parked_gauge() < base + PARKED && now_ns() - t0 < 20000000000LL) {
		curl_multi_perform(multi, &running);
		curl_multi_poll(multi, NULL, 0, 20, NULL);
	}
	ck_assert_int_ge(parked_gauge(), base + PARKED);
	/* other requests answer fast meanwhile */
	for (i = 0; i < 50; i++) {
		http_response_t r;

		t = now_ns();
		if (i % 2) {
			http_get(&srv, "/v1/topics/other", &r);
			ASSERT_STATUS(r, 200);
			http_response_free(&r);
		} else {
			produce_n("/v1/topics/other/records", 3);
		}
		t = now_ns() - t;
		if (t > worst)
			worst = t;
	}
	printf("200 parked long polls: slowest of 50 other requests took %.2f ms\n",
	       (double)worst / 1e6);
	ck_assert_msg(worst < 1000000000LL, "another request took %.1f ms", (double)worst / 1e6);
	/* one append answers all 200 */
	t0 = now_ns();
	produce_n("/v1/topics/many/partitions/0/records", 1);
	while (done < PARKED && now_ns() - t0 < 30000000000LL) {
		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE) {
				long st = 0;

				curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &st);
				ck_assert_int_eq(st, 200);
				done++;
			}
		if (done < PARKED)
			curl_multi_poll(multi, NULL, 0, 20, NULL);
	}
	printf("one append answered %d parked long polls in %.2f ms\n", done,
	       (double)(now_ns() - t0) / 1e6);
	ck_assert_int_eq(done, PARKED);
	for (i = 0; i < PARKED; i++) {
		ck_assert_ptr_nonnull(strstr(bodies[i].data, "\"offset\":0"));
		curl_multi_remove_handle(multi, e[i]);
		curl_easy_cleanup(e[i]);
		buf_free(&bodies[i]);
	}
	curl_multi_cleanup(multi);
}
END_TEST

START_TEST(test_offsets_by_timestamp)
{
	const char *body = "{\"records\":[{\"value\":1,\"timestamp\":1000},{\"value\":2,\"timestamp\":2000},"
	                   "{\"value\":3,\"timestamp\":3000}]}";
	http_response_t r;
	long status;
	cJSON *doc;

	/* retention off: these 1970 timestamps would race the ticker's retention */
	create_topic("{\"name\":\"ts\",\"partitions\":1,\"configs\":{\"retention_ms\":-1}}");
	doc = produce("/v1/topics/ts/records", "application/json", body, strlen(body), &status);
	ck_assert_int_eq(status, 200);
	cJSON_Delete(doc);
	doc = get_json("/v1/topics/ts/partitions/0/offsets?timestamp=1500", 200);
	ck_assert_int_eq(num(doc, "offset"), 1);
	ck_assert_int_eq(num(doc, "timestamp"), 2000);
	cJSON_Delete(doc);
	doc = get_json("/v1/topics/ts/partitions/0/offsets?timestamp=0", 200);
	ck_assert_int_eq(num(doc, "offset"), 0);
	ck_assert_int_eq(num(doc, "timestamp"), 1000);
	cJSON_Delete(doc);
	doc = get_json("/v1/topics/ts/partitions/0/offsets?timestamp=3001", 200);
	ck_assert_int_eq(num(doc, "offset"), 3);     /* none: the log end, timestamp -1 */
	ck_assert_int_eq(num(doc, "timestamp"), -1);
	cJSON_Delete(doc);
	doc = get_json("/v1/topics/ts/partitions/0/offsets?timestamp=earliest", 200);
	ck_assert_int_eq(num(doc, "offset"), 0);
	cJSON_Delete(doc);
	doc = get_json("/v1/topics/ts/partitions/0/offsets?timestamp=latest", 200);
	ck_assert_int_eq(num(doc, "offset"), 3);
	cJSON_Delete(doc);
	http_get(&srv, "/v1/topics/ts/partitions/0/offsets", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	http_get(&srv, "/v1/topics/ts/partitions/0/offsets?timestamp=yesterday", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	http_get(&srv, "/v1/topics/ts/partitions/1/offsets?timestamp=0", &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_PARTITION");
	http_response_free(&r);
	http_get(&srv, "/v1/topics/nots/partitions/0/offsets?timestamp=0", &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_TOPIC");
	http_response_free(&r);
}
END_TEST

START_TEST(test_metrics_count_records_produced_and_fetched)
{
	http_response_t r;
	cJSON *f;

	create_topic("{\"name\":\"met\",\"partitions\":1}");
	produce_n("/v1/topics/met/records", 7);
	f = fetch_json("/v1/topics/met/partitions/0/records");
	cJSON_Delete(f);
	http_get(&srv, "/metrics", &r);
	ASSERT_STATUS(r, 200);
	ck_assert_ptr_nonnull(strstr(r.body.data, "strand_records_produced_total "));
	ck_assert_ptr_nonnull(strstr(r.body.data, "strand_records_fetched_total "));
	ck_assert_ptr_null(strstr(r.body.data, "strand_records_produced_total 0\n"));
	ck_assert_ptr_null(strstr(r.body.data, "strand_records_fetched_total 0\n"));
	http_response_free(&r);
}
END_TEST

static Suite *records_http_suite(void)
{
	Suite *s = suite_create("http_records");
	TCase *tc = tcase_create("shared_server");

	tcase_add_unchecked_fixture(tc, server_up, server_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_offsets_per_record_in_request_order);
	tcase_add_test(tc, test_keyed_records_land_on_kafka_murmur2_partition);
	tcase_add_test(tc, test_unkeyed_records_stick_to_one_partition_per_request);
	tcase_add_test(tc, test_ndjson_streams_chunked_and_whole);
	tcase_add_test(tc, test_string_and_binary_formats_round_trip);
	tcase_add_test(tc, test_binary_batches_in_and_out);
	tcase_add_test(tc, test_binary_batch_errors_store_nothing);
	tcase_add_test(tc, test_acks_levels);
	tcase_add_test(tc, test_produce_errors_store_nothing);
	tcase_add_test(tc, test_fetch_json_bounds_and_errors);
	tcase_add_test(tc, test_long_poll_answers_within_ms_of_the_append);
	tcase_add_test(tc, test_delete_topic_wakes_its_long_polls);
	tcase_add_test(tc, test_long_poll_times_out_empty_and_min_bytes_waits);
	tcase_add_test(tc, test_200_parked_long_polls_do_not_slow_other_requests);
	tcase_add_test(tc, test_offsets_by_timestamp);
	tcase_add_test(tc, test_metrics_count_records_produced_and_fetched);
	/* last: a stream whose client left stays parked until its keep-alive */
	tcase_add_test(tc, test_sse_tail_and_last_event_id_resume);
	tcase_add_test(tc, test_sse_live_tail_wakes_on_append);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(records_http_suite());
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
