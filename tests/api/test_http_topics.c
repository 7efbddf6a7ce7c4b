/*
 * test_http_topics.c — integration tests of the HTTP edge's own endpoints
 * against a real `strand serve` (tests/api/harness.h): topics, simple group
 * offsets, operations (health, metrics, openapi, cluster, index), routing
 * errors, limits, problem+json on every error path, no 5xx for malformed
 * input, and persistence across SIGTERM and SIGKILL restarts.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "harness.h"

static harness_t srv;   /* one server for the shared tcases (unchecked fixture) */

static void server_up(void)
{
	memset(&srv, 0, sizeof srv);
	if (harness_start(&srv) != 0) {
		fprintf(stderr, "cannot start strand serve\n");
		exit(99);   /* automake: hard error */
	}
}

static void server_down(void)
{
	harness_teardown(&srv);
}

/* ---- assertions --------------------------------------------------------- */

#define ASSERT_STATUS(r, want) \
	ck_assert_msg((r).status == (want), "%s:%d: status %ld, expected %d; body: %.400s%s%s", \
	              __FILE__, __LINE__, (r).status, (want), \
	              (r).body.data ? (r).body.data : "", (r).error[0] ? "; curl: " : "", (r).error)

#define ASSERT_PROBLEM(r, st, code) do { \
	char why_[600]; \
	ck_assert_msg(http_is_problem(&(r), (st), (code), why_, sizeof why_), \
	              "%s:%d: expected %d %s: %s", __FILE__, __LINE__, (st), (code), why_); \
} while (0)

/* Send a request and expect a problem; frees the response. */
static void expect_problem_on(harness_t *h, const char *method, const char *path,
                              const char *json, int status, const char *code)
{
	http_response_t r;
	char why[600];

	http_json(h, method, path, json, &r);
	ck_assert_msg(http_is_problem(&r, status, code, why, sizeof why),
	              "%s %s %.200s: expected %d %s: %s%s%s", method, path, json ? json : "",
	              status, code, why, r.error[0] ? "; curl: " : "", r.error);
	http_response_free(&r);
}

static void expect_problem(const char *method, const char *path, const char *json,
                           int status, const char *code)
{
	expect_problem_on(&srv, method, path, json, status, code);
}

static void create_topic(harness_t *h, const char *json)
{
	http_response_t r;

	http_json(h, "POST", "/v1/topics", json, &r);
	ASSERT_STATUS(r, 201);
	http_response_free(&r);
}

static cJSON *get_json(harness_t *h, const char *path, int want_status)
{
	http_response_t r;
	cJSON *doc;

	http_get(h, path, &r);
	ASSERT_STATUS(r, want_status);
	doc = http_body_json(&r);
	ck_assert_msg(doc != NULL, "GET %s: body is not JSON: %.300s", path,
	              r.body.data ? r.body.data : "");
	http_response_free(&r);
	return doc;
}

static int64_t num(const cJSON *obj, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

	ck_assert_msg(cJSON_IsNumber(m), "member %s is not a number", name);
	return (int64_t)m->valuedouble;
}

static const char *str(const cJSON *obj, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

	ck_assert_msg(cJSON_IsString(m), "member %s is not a string", name);
	return m->valuestring;
}

/* ---- operations ---------------------------------------------------------- */

START_TEST(test_healthz_and_readyz_answer_ok)
{
	cJSON *doc = get_json(&srv, "/healthz", 200);

	ck_assert_str_eq(str(doc, "status"), "ok");
	cJSON_Delete(doc);
	doc = get_json(&srv, "/readyz", 200);
	ck_assert_str_eq(str(doc, "status"), "ready");
	cJSON_Delete(doc);
}
END_TEST

START_TEST(test_cluster_describes_one_broker)
{
	cJSON *doc = get_json(&srv, "/v1/cluster", 200), *brokers, *b;
	char url[80];

	ck_assert(strlen(str(doc, "cluster_id")) > 0);
	ck_assert_int_eq(num(doc, "controller"), 0);
	brokers = cJSON_GetObjectItem(doc, "brokers");
	ck_assert_int_eq(cJSON_GetArraySize(brokers), 1);
	b = cJSON_GetArrayItem(brokers, 0);
	ck_assert_int_eq(num(b, "id"), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)srv.port);
	ck_assert_str_eq(str(b, "url"), url);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(b, "alive")));
	cJSON_Delete(doc);
}
END_TEST

START_TEST(test_openapi_yaml_is_served)
{
	http_response_t r;
	char ct[64];

	http_get(&srv, "/openapi.yaml", &r);
	ASSERT_STATUS(r, 200);
	ck_assert_str_eq(http_header(&r, "Content-Type", ct, sizeof ct), "application/yaml");
	ck_assert_msg(strncmp(r.body.data, "openapi: 3.1", 12) == 0, "starts: %.40s", r.body.data);
	ck_assert(strstr(r.body.data, "/v1/topics/{topic}/partitions/{p}/records") != NULL);
	http_response_free(&r);
}
END_TEST

START_TEST(test_index_page_links_the_api)
{
	http_response_t r;
	char ct[64];

	http_get(&srv, "/", &r);
	ASSERT_STATUS(r, 200);
	ck_assert(strncmp(http_header(&r, "Content-Type", ct, sizeof ct), "text/html", 9) == 0);
	ck_assert(strstr(r.body.data, "/v1/topics") != NULL);
	http_response_free(&r);
}
END_TEST

START_TEST(test_metrics_have_the_documented_series)
{
	static const char *const series[] = {
		"strand_http_requests_total{route=\"topics_list\",status=\"200\"}",
		"strand_http_requests_total{route=\"unmatched\",status=\"404\"}",
		"strand_http_request_duration_seconds_bucket{route=\"topics_list\",status=\"200\",le=\"+Inf\"}",
		"strand_http_request_duration_seconds_sum{route=\"topics_list\",status=\"200\"}",
		"strand_http_request_bytes_total ",
		"strand_http_response_bytes_total ",
		"strand_records_appended_total ",
		"strand_records_produced_total ",
		"strand_records_fetched_total ",
		"strand_http_parked_requests 0",
		"strand_partition_log_end_offset{topic=\"metrics-t\",partition=\"1\"} 0",
		"strand_partition_size_bytes{topic=\"metrics-t\",partition=\"0\"} 0",
		"strand_partition_high_watermark{topic=\"metrics-t\",partition=\"0\"} 0",
		/* a single node has no log cleaner: its families show zeros */
		"# TYPE strand_log_cleaner_passes_total counter\nstrand_log_cleaner_passes_total 0\n",
		"strand_log_cleaner_failures_total 0\n",
		"strand_log_cleaner_bytes_read_total 0\n",
		"strand_log_cleaner_bytes_written_total 0\n",
		"strand_log_cleaner_records_removed_total 0\n",
		"strand_log_cleaner_tombstones_removed_total 0\n",
		"# TYPE strand_log_cleaner_throttled_seconds_total counter\n",
		"strand_log_cleaner_busy_seconds_total 0.000000\n",
		"strand_log_cleaner_last_pass_duration_seconds 0.000000\n",
		"# TYPE strand_log_cleaner_last_pass_timestamp_seconds gauge\n",
		"strand_log_cleaner_max_dirty_ratio 0.000000\n",
		"# TYPE strand_http_request_duration_seconds histogram",
		NULL
	};
	http_response_t r;
	char ct[80];
	size_t i;

	create_topic(&srv, "{\"name\":\"metrics-t\",\"partitions\":2}");
	http_get(&srv, "/v1/topics", &r);
	http_response_free(&r);
	http_get(&srv, "/v1/no/such/thing", &r);   /* outside /v1 the static files answer */
	http_response_free(&r);
	/* A request is counted when libmicrohttpd reports it complete, which
	 * can come after its answer reached us: look again until a deadline. */
	for (int64_t deadline = clock_now_ms() + 10000;;) {
		http_get(&srv, "/metrics", &r);
		ASSERT_STATUS(r, 200);
		ck_assert(strncmp(http_header(&r, "Content-Type", ct, sizeof ct), "text/plain", 10) == 0);
		for (i = 0; series[i] != NULL; i++)
			if (strstr(r.body.data, series[i]) == NULL)
				break;
		if (series[i] == NULL || clock_now_ms() >= deadline)
			break;
		http_response_free(&r);
	}
	for (i = 0; series[i] != NULL; i++)
		ck_assert_msg(strstr(r.body.data, series[i]) != NULL, "missing series %s", series[i]);
	http_response_free(&r);
}
END_TEST

/* ---- routing ------------------------------------------------------------- */

START_TEST(test_unknown_route_is_404_problem)
{
	expect_problem("GET", "/v2/topics", NULL, 404, "NOT_FOUND");
	expect_problem("GET", "/v1/topics/", NULL, 404, "NOT_FOUND");
	expect_problem("GET", "/v1/topics/a/b/c/d/e", NULL, 404, "NOT_FOUND");
	expect_problem("POST", "/nothing", "{}", 404, "NOT_FOUND");
}
END_TEST

START_TEST(test_wrong_method_is_405_with_allow)
{
	http_response_t r;
	char allow[128];

	http_json(&srv, "PUT", "/v1/topics", "{}", &r);
	ASSERT_PROBLEM(r, 405, "METHOD_NOT_ALLOWED");
	ck_assert_ptr_nonnull(http_header(&r, "Allow", allow, sizeof allow));
	ck_assert_str_eq(allow, "GET, HEAD, POST");
	http_response_free(&r);

	http_request(&srv, "POST", "/v1/topics/x", NULL, NULL, 0, NULL, &r);
	ASSERT_PROBLEM(r, 405, "METHOD_NOT_ALLOWED");
	ck_assert_str_eq(http_header(&r, "Allow", allow, sizeof allow), "GET, HEAD, PATCH, DELETE");
	http_response_free(&r);

	http_request(&srv, "BREW", "/healthz", NULL, NULL, 0, NULL, &r);
	ASSERT_PROBLEM(r, 405, "METHOD_NOT_ALLOWED");
	http_response_free(&r);
}
END_TEST

START_TEST(test_head_is_served_as_get)
{
	http_response_t r;

	http_request(&srv, "HEAD", "/healthz", NULL, NULL, 0, NULL, &r);
	ASSERT_STATUS(r, 200);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
}
END_TEST

START_TEST(test_bad_path_parameters_are_400)
{
	expect_problem("GET", "/v1/topics/bad%24name", NULL, 400, "INVALID_REQUEST");
	expect_problem("GET", "/v1/topics/%2e%2e", NULL, 400, "INVALID_REQUEST");
	expect_problem("GET", "/v1/topics/..", NULL, 400, "INVALID_REQUEST");
	expect_problem("GET", "/v1/topics/a%20b", NULL, 400, "INVALID_REQUEST");
	expect_problem("GET", "/v1/topics/t/partitions/x/records", NULL, 400, "INVALID_REQUEST");
	expect_problem("GET", "/v1/topics/t/partitions/-1/records", NULL, 400, "INVALID_REQUEST");
	expect_problem("GET", "/v1/topics/t/partitions/2147483648/offsets", NULL, 400,
	               "INVALID_REQUEST");
	expect_problem("GET", "/v1/topics/t/partitions/1x/offsets", NULL, 400, "INVALID_REQUEST");
	expect_problem("GET", "/v1/groups/bad*group", NULL, 400, "INVALID_REQUEST");
	expect_problem("GET", "/v1/groups/bad*group/offsets", NULL, 400, "INVALID_REQUEST");
}
END_TEST

START_TEST(test_too_long_topic_name_in_path_is_400)
{
	char path[600];

	memset(path, 0, sizeof path);
	strcpy(path, "/v1/topics/");
	memset(path + strlen(path), 'a', 250);
	expect_problem("GET", path, NULL, 400, "INVALID_REQUEST");
	path[strlen(path) - 1] = '\0';   /* 249: valid, unknown */
	expect_problem("GET", path, NULL, 404, "UNKNOWN_TOPIC");
}
END_TEST

/* ---- topics --------------------------------------------------------------- */

START_TEST(test_topic_create_list_describe)
{
	http_response_t r;
	cJSON *doc, *parts, *p, *cfg, *list, *it;
	char loc[128];
	int i, found = 0;

	http_json(&srv, "POST", "/v1/topics",
	          "{\"name\":\"orders\",\"partitions\":3,\"replication_factor\":1,"
	          "\"configs\":{\"retention_ms\":86400000,\"segment_bytes\":\"1048576\","
	          "\"key_format\":\"string\",\"value_format\":\"binary\",\"cleanup_policy\":\"delete\"}}",
	          &r);
	ASSERT_STATUS(r, 201);
	ck_assert_str_eq(http_header(&r, "Location", loc, sizeof loc), "/v1/topics/orders");
	doc = http_body_json(&r);
	ck_assert_str_eq(str(doc, "name"), "orders");
	cJSON_Delete(doc);
	http_response_free(&r);

	doc = get_json(&srv, "/v1/topics/orders", 200);
	ck_assert_str_eq(str(doc, "name"), "orders");
	ck_assert_int_eq(num(doc, "replication_factor"), 1);
	cfg = cJSON_GetObjectItem(doc, "configs");
	ck_assert_int_eq(num(cfg, "retention_ms"), 86400000);
	ck_assert_int_eq(num(cfg, "segment_bytes"), 1048576);
	ck_assert_str_eq(str(cfg, "key_format"), "string");
	ck_assert_str_eq(str(cfg, "value_format"), "binary");
	ck_assert_str_eq(str(cfg, "cleanup_policy"), "delete");
	ck_assert(cJSON_GetObjectItem(cfg, "max_message_bytes") != NULL);
	parts = cJSON_GetObjectItem(doc, "partitions");
	ck_assert_int_eq(cJSON_GetArraySize(parts), 3);
	for (i = 0; i < 3; i++) {
		p = cJSON_GetArrayItem(parts, i);
		ck_assert_int_eq(num(p, "partition"), i);
		ck_assert_int_eq(num(p, "leader"), 0);
		ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(p, "replicas")), 1);
		ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(p, "isr")), 1);
		ck_assert_int_eq(num(p, "log_start_offset"), 0);
		ck_assert_int_eq(num(p, "high_watermark"), 0);
		ck_assert_int_eq(num(p, "log_end_offset"), 0);
		ck_assert_int_eq(num(p, "size_bytes"), 0);
	}
	cJSON_Delete(doc);

	list = get_json(&srv, "/v1/topics", 200);
	ck_assert(cJSON_IsArray(list));
	cJSON_ArrayForEach(it, list)
		if (strcmp(str(it, "name"), "orders") == 0) {
			found = 1;
			ck_assert_int_eq(num(it, "partitions"), 3);
			ck_assert_int_eq(num(it, "replication_factor"), 1);
		}
	ck_assert(found);
	cJSON_Delete(list);
}
END_TEST

START_TEST(test_topic_create_defaults)
{
	cJSON *doc;

	create_topic(&srv, "{\"name\":\"plain\"}");
	doc = get_json(&srv, "/v1/topics/plain", 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "partitions")), 1);
	ck_assert_str_eq(str(cJSON_GetObjectItem(doc, "configs"), "key_format"), "json");
	cJSON_Delete(doc);
}
END_TEST

START_TEST(test_topic_create_existing_is_409)
{
	create_topic(&srv, "{\"name\":\"twice\",\"partitions\":2}");
	expect_problem("POST", "/v1/topics", "{\"name\":\"twice\"}", 409, "TOPIC_EXISTS");
}
END_TEST

START_TEST(test_topic_create_invalid_bodies_are_400)
{
	static const char *const bodies[] = {
		"", "   ", "{", "not json", "[]", "\"x\"", "42", "null", "{} x",
		"{\"name\":\"ok1\"}{}",
		"{\"name\":42}", "{\"name\":null}", "{\"name\":\"\"}", "{\"name\":\".\"}",
		"{\"name\":\"..\"}", "{\"name\":\"a/b\"}", "{\"name\":\"sp ace\"}",
		"{\"name\":\"caf\xc3\xa9\"}",
		"{\"partitions\":1}",
		"{\"name\":\"ok2\",\"partitions\":0}", "{\"name\":\"ok2\",\"partitions\":-3}",
		"{\"name\":\"ok2\",\"partitions\":10001}", "{\"name\":\"ok2\",\"partitions\":1.5}",
		"{\"name\":\"ok2\",\"partitions\":\"3\"}", "{\"name\":\"ok2\",\"partitions\":1e400}",
		"{\"name\":\"ok2\",\"partitions\":true}",
		"{\"name\":\"ok2\",\"replication_factor\":2}",
		"{\"name\":\"ok2\",\"replication_factor\":0}",
		"{\"name\":\"ok2\",\"surprise\":1}",
		"{\"name\":\"ok2\",\"configs\":[]}", "{\"name\":\"ok2\",\"configs\":\"x\"}",
		"{\"name\":\"ok2\",\"configs\":{\"no_such_config\":1}}",
		"{\"name\":\"ok2\",\"configs\":{\"retention_ms\":\"soon\"}}",
		"{\"name\":\"ok2\",\"configs\":{\"retention_ms\":1.25}}",
		"{\"name\":\"ok2\",\"configs\":{\"retention_ms\":true}}",
		"{\"name\":\"ok2\",\"configs\":{\"retention_ms\":null}}",
		"{\"name\":\"ok2\",\"configs\":{\"retention_ms\":{}}}",
		"{\"name\":\"ok2\",\"configs\":{\"segment_bytes\":-5}}",
		"{\"name\":\"ok2\",\"configs\":{\"segment_bytes\":\"99999999999999999999999\"}}",
		"{\"name\":\"ok2\",\"configs\":{\"key_format\":\"xml\"}}",
		"{\"name\":\"ok2\",\"configs\":{\"cleanup_policy\":\"compact\"}}",
		"{\"name\":\"ok2\",\"configs\":{\"max_message_bytes\":0}}",
		NULL
	};
	http_response_t r;
	size_t i;

	for (i = 0; bodies[i] != NULL; i++)
		expect_problem("POST", "/v1/topics", bodies[i], 400, "INVALID_REQUEST");
	/* none of them created anything */
	expect_problem("GET", "/v1/topics/ok1", NULL, 404, "UNKNOWN_TOPIC");
	expect_problem("GET", "/v1/topics/ok2", NULL, 404, "UNKNOWN_TOPIC");
	/* a 249-character name is fine, 250 is not */
	{
		char body[400], name[260];

		memset(name, 'n', 250);
		name[250] = '\0';
		snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
		expect_problem("POST", "/v1/topics", body, 400, "INVALID_REQUEST");
		name[249] = '\0';
		snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
		http_json(&srv, "POST", "/v1/topics", body, &r);
		ASSERT_STATUS(r, 201);
		http_response_free(&r);
	}
}
END_TEST

START_TEST(test_unknown_topic_is_404)
{
	expect_problem("GET", "/v1/topics/nope", NULL, 404, "UNKNOWN_TOPIC");
	expect_problem("PATCH", "/v1/topics/nope", "{\"partitions\":4}", 404, "UNKNOWN_TOPIC");
	expect_problem("DELETE", "/v1/topics/nope", NULL, 404, "UNKNOWN_TOPIC");
}
END_TEST

START_TEST(test_topic_patch_grows_and_changes_configs)
{
	http_response_t r;
	cJSON *doc, *cfg;

	create_topic(&srv, "{\"name\":\"grow\",\"partitions\":2,\"configs\":{\"retention_ms\":1000}}");
	http_json(&srv, "PATCH", "/v1/topics/grow",
	          "{\"partitions\":5,\"configs\":{\"segment_ms\":60000}}", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	doc = get_json(&srv, "/v1/topics/grow", 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "partitions")), 5);
	cfg = cJSON_GetObjectItem(doc, "configs");
	ck_assert_int_eq(num(cfg, "segment_ms"), 60000);
	ck_assert_int_eq(num(cfg, "retention_ms"), 1000);   /* kept: PATCH merges */
	cJSON_Delete(doc);

	/* configs only */
	http_json(&srv, "PATCH", "/v1/topics/grow", "{\"configs\":{\"retention_ms\":\"2000\"}}", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	doc = get_json(&srv, "/v1/topics/grow", 200);
	ck_assert_int_eq(num(cJSON_GetObjectItem(doc, "configs"), "retention_ms"), 2000);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "partitions")), 5);
	cJSON_Delete(doc);

	expect_problem("PATCH", "/v1/topics/grow", "{\"partitions\":3}", 400, "INVALID_REQUEST");
	expect_problem("PATCH", "/v1/topics/grow", "{}", 400, "INVALID_REQUEST");
	expect_problem("PATCH", "/v1/topics/grow", "", 400, "INVALID_REQUEST");
	expect_problem("PATCH", "/v1/topics/grow", "{\"partitions\":\"9\"}", 400, "INVALID_REQUEST");
	expect_problem("PATCH", "/v1/topics/grow", "{\"name\":\"other\"}", 400, "INVALID_REQUEST");
	expect_problem("PATCH", "/v1/topics/grow", "{\"configs\":{\"bogus\":1}}", 400,
	               "INVALID_REQUEST");
	expect_problem("PATCH", "/v1/topics/grow", "{\"configs\":{\"value_format\":7}}", 400,
	               "INVALID_REQUEST");
	/* rejected patches changed nothing */
	doc = get_json(&srv, "/v1/topics/grow", 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "partitions")), 5);
	ck_assert_str_eq(str(cJSON_GetObjectItem(doc, "configs"), "value_format"), "json");
	cJSON_Delete(doc);
}
END_TEST

START_TEST(test_topic_delete_then_recreate)
{
	http_response_t r;
	cJSON *doc;

	create_topic(&srv, "{\"name\":\"gone\",\"partitions\":4}");
	http_request(&srv, "DELETE", "/v1/topics/gone", NULL, NULL, 0, NULL, &r);
	ASSERT_STATUS(r, 204);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
	expect_problem("GET", "/v1/topics/gone", NULL, 404, "UNKNOWN_TOPIC");
	expect_problem("DELETE", "/v1/topics/gone", NULL, 404, "UNKNOWN_TOPIC");
	create_topic(&srv, "{\"name\":\"gone\",\"partitions\":1}");
	doc = get_json(&srv, "/v1/topics/gone", 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "partitions")), 1);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(test_request_too_large_is_413_before_the_body)
{
	size_t len = 2 * 1024 * 1024;
	char *big = malloc(len);
	http_response_t r;

	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	http_request(&srv, "POST", "/v1/topics", "application/json", big, len, NULL, &r);
	ASSERT_PROBLEM(r, 413, "REQUEST_TOO_LARGE");
	http_response_free(&r);
	/* the server is fine afterwards */
	http_get(&srv, "/healthz", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	free(big);
}
END_TEST

/* ---- offsets and groups --------------------------------------------------- */

START_TEST(test_offsets_commit_and_read_with_lag)
{
	http_response_t r;
	cJSON *doc, *offs, *o;
	const char *commit =
		"{\"offsets\":[{\"topic\":\"clicks\",\"partition\":0,\"offset\":0,\"metadata\":\"m0\"},"
		"{\"topic\":\"clicks\",\"partition\":1,\"offset\":0}]}";

	create_topic(&srv, "{\"name\":\"clicks\",\"partitions\":2}");
	http_json(&srv, "POST", "/v1/groups/readers/offsets", commit, &r);
	ASSERT_STATUS(r, 204);
	http_response_free(&r);

	doc = get_json(&srv, "/v1/groups/readers/offsets", 200);
	ck_assert_str_eq(str(doc, "group"), "readers");
	offs = cJSON_GetObjectItem(doc, "offsets");
	ck_assert_int_eq(cJSON_GetArraySize(offs), 2);
	o = cJSON_GetArrayItem(offs, 0);
	ck_assert_str_eq(str(o, "topic"), "clicks");
	ck_assert_int_eq(num(o, "partition"), 0);
	ck_assert_int_eq(num(o, "offset"), 0);
	ck_assert_str_eq(str(o, "metadata"), "m0");
	ck_assert_int_eq(num(o, "high_watermark"), 0);
	ck_assert_int_eq(num(o, "lag"), 0);
	cJSON_Delete(doc);

	doc = get_json(&srv, "/v1/groups/readers", 200);
	ck_assert_str_eq(str(doc, "group"), "readers");
	ck_assert_str_eq(str(doc, "state"), "Empty");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "members")), 0);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "offsets")), 2);
	cJSON_Delete(doc);

	doc = get_json(&srv, "/v1/groups", 200);
	ck_assert(cJSON_IsArray(doc));
	{
		cJSON *it;
		int found = 0;

		cJSON_ArrayForEach(it, doc)
			found |= strcmp(str(it, "group"), "readers") == 0;
		ck_assert(found);
	}
	cJSON_Delete(doc);

	/* a group nobody committed for has no offsets (Kafka's OffsetFetch) */
	doc = get_json(&srv, "/v1/groups/fresh/offsets", 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "offsets")), 0);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(test_offsets_commit_errors)
{
	create_topic(&srv, "{\"name\":\"views\",\"partitions\":1}");
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"offsets\":[{\"topic\":\"nope\",\"partition\":0,\"offset\":1}]}",
	               404, "UNKNOWN_TOPIC");
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"offsets\":[{\"topic\":\"views\",\"partition\":1,\"offset\":1}]}",
	               404, "UNKNOWN_PARTITION");
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"member_id\":\"m-1\",\"generation\":1,"
	               "\"offsets\":[{\"topic\":\"views\",\"partition\":0,\"offset\":1}]}",
	               404, "UNKNOWN_MEMBER");
	expect_problem("POST", "/v1/groups/g/offsets", "{}", 400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets", "{\"offsets\":[]}", 400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets", "{\"offsets\":{}}", 400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets", "{\"offsets\":[1]}", 400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"offsets\":[{\"topic\":\"views\",\"partition\":0,\"offset\":-1}]}",
	               400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"offsets\":[{\"topic\":\"views\",\"partition\":0,\"offset\":\"5\"}]}",
	               400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"offsets\":[{\"topic\":\"views\",\"offset\":5}]}", 400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"offsets\":[{\"topic\":\"views\",\"partition\":0,\"offset\":5,\"x\":1}]}",
	               400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"offsets\":[{\"topic\":\"views\",\"partition\":0,\"offset\":5,"
	               "\"metadata\":7}]}", 400, "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets", "{\"member_id\":5,\"offsets\":[]}", 400,
	               "INVALID_REQUEST");
	expect_problem("POST", "/v1/groups/g/offsets", "[", 400, "INVALID_REQUEST");
	/* all-or-nothing: a bad entry after a good one stores nothing */
	expect_problem("POST", "/v1/groups/g/offsets",
	               "{\"offsets\":[{\"topic\":\"views\",\"partition\":0,\"offset\":3},"
	               "{\"topic\":\"views\",\"partition\":9,\"offset\":3}]}",
	               404, "UNKNOWN_PARTITION");
	expect_problem("GET", "/v1/groups/g", NULL, 404, "UNKNOWN_GROUP");
}
END_TEST

START_TEST(test_group_delete)
{
	http_response_t r;

	create_topic(&srv, "{\"name\":\"del-g\",\"partitions\":1}");
	http_json(&srv, "POST", "/v1/groups/tmp-group/offsets",
	          "{\"offsets\":[{\"topic\":\"del-g\",\"partition\":0,\"offset\":0}]}", &r);
	ASSERT_STATUS(r, 204);
	http_response_free(&r);
	http_request(&srv, "DELETE", "/v1/groups/tmp-group", NULL, NULL, 0, NULL, &r);
	ASSERT_STATUS(r, 204);
	http_response_free(&r);
	expect_problem("GET", "/v1/groups/tmp-group", NULL, 404, "UNKNOWN_GROUP");
	expect_problem("DELETE", "/v1/groups/tmp-group", NULL, 404, "UNKNOWN_GROUP");
}
END_TEST

/* ---- malformed input never gets a 5xx -------------------------------------- */

START_TEST(test_malformed_requests_never_5xx)
{
	static const char *const paths[] = {
		"/v1/topics", "/v1/topics/m5", "/v1/groups/m5/offsets", "/v1/groups/m5",
		"/v1/topics/m5/partitions/0/offsets?timestamp=%ff%fe",
		"/v1/topics/%00", "/v1/topics/%ff%fe", "/v1/topics/m5?x=%zz&&=&a",
		"/v1/cluster?x", "/metrics?%%", "//", "/v1//topics", "/v1/groups/%2e%2e",
		NULL
	};
	static const char *const methods[] = { "GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", NULL };
	static const char *const bodies[] = {
		"\x00\x01\x02", "{\"name\":\"\\ud800\"}", "{\"name\":\"m5\",\"partitions\":1e308}",
		"{\"name\":\"m5\",\"configs\":{\"retention_ms\":-1e308}}",
		"{\"offsets\":[{\"topic\":\"m5\",\"partition\":0,\"offset\":1e30}]}",
		"\xff\xfe\xfd", "{\"a\":", "{\"name\":\"m5\",\"configs\":{\"\":\"\"}}",
		NULL
	};
	http_response_t r;
	char deep[4096];
	size_t i, j, k;

	create_topic(&srv, "{\"name\":\"m5\",\"partitions\":1}");
	for (i = 0; paths[i]; i++)
		for (j = 0; methods[j]; j++)
			for (k = 0; bodies[k]; k++) {
				http_request(&srv, methods[j], paths[i], "application/json", bodies[k],
				             strlen(bodies[k]) + (k == 0 ? 3 : 0), NULL, &r);
				ck_assert_msg(r.status >= 200 && r.status < 500,
				              "%s %s body #%zu: status %ld (%s) %.200s", methods[j],
				              paths[i], k, r.status, r.error,
				              r.body.data ? r.body.data : "");
				http_response_free(&r);
			}
	/* deep nesting */
	memset(deep, '[', sizeof deep - 1);
	deep[sizeof deep - 1] = '\0';
	http_json(&srv, "POST", "/v1/topics", deep, &r);
	ck_assert_int_eq(r.status, 400);
	http_response_free(&r);
	/* a header line too large for the connection pool */
	{
		char *hdr = malloc(100 * 1024);
		const char *hl[2] = { hdr, NULL };

		memcpy(hdr, "X-Big: ", 7);
		memset(hdr + 7, 'b', 100 * 1024 - 8);
		hdr[100 * 1024 - 1] = '\0';
		http_request(&srv, "GET", "/healthz", NULL, NULL, 0, hl, &r);
		ck_assert_msg(r.status == 0 || (r.status >= 400 && r.status < 500),
		              "huge header: status %ld", r.status);
		http_response_free(&r);
		free(hdr);
	}
	/* still alive and serving */
	http_get(&srv, "/healthz", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	http_get(&srv, "/v1/topics", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
}
END_TEST

/* ---- restarts ---------------------------------------------------------------- */

/* Topic metadata, configs and committed offsets as seen over HTTP. */
static void check_state(harness_t *h)
{
	cJSON *doc = get_json(h, "/v1/topics/kept", 200), *offs;

	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "partitions")), 3);
	ck_assert_int_eq(num(cJSON_GetObjectItem(doc, "configs"), "retention_ms"), 123456);
	cJSON_Delete(doc);
	doc = get_json(h, "/v1/groups/keepers/offsets", 200);
	offs = cJSON_GetObjectItem(doc, "offsets");
	ck_assert_int_eq(cJSON_GetArraySize(offs), 1);
	ck_assert_int_eq(num(cJSON_GetArrayItem(offs, 0), "partition"), 2);
	cJSON_Delete(doc);
	expect_problem_on(h, "GET", "/v1/topics/dropped", NULL, 404, "UNKNOWN_TOPIC");
}

START_TEST(test_state_survives_sigterm_and_sigkill_restarts)
{
	harness_t h;
	http_response_t r;
	char cid[128];
	cJSON *doc;
	int rc;

	memset(&h, 0, sizeof h);
	ck_assert_int_eq(harness_start(&h), 0);
	create_topic(&h, "{\"name\":\"kept\",\"partitions\":3,\"configs\":{\"retention_ms\":123456}}");
	create_topic(&h, "{\"name\":\"dropped\"}");
	http_request(&h, "DELETE", "/v1/topics/dropped", NULL, NULL, 0, NULL, &r);
	ASSERT_STATUS(r, 204);
	http_response_free(&r);
	http_json(&h, "POST", "/v1/groups/keepers/offsets",
	          "{\"offsets\":[{\"topic\":\"kept\",\"partition\":2,\"offset\":0}]}", &r);
	ASSERT_STATUS(r, 204);
	http_response_free(&r);
	doc = get_json(&h, "/v1/cluster", 200);
	snprintf(cid, sizeof cid, "%s", str(doc, "cluster_id"));
	cJSON_Delete(doc);

	rc = harness_stop(&h, SIGTERM);
	ck_assert_msg(rc == 0, "SIGTERM exit status %d; log:\n%s", rc, harness_log_tail(&h));
	ck_assert_msg(strstr(harness_log_tail(&h), "strand: stopped") != NULL,
	              "no stop line in the log:\n%s", harness_log_tail(&h));
	ck_assert_int_eq(harness_restart(&h), 0);
	check_state(&h);
	doc = get_json(&h, "/v1/cluster", 200);
	ck_assert_str_eq(str(doc, "cluster_id"), cid);   /* stable across restarts */
	cJSON_Delete(doc);

	rc = harness_stop(&h, SIGKILL);
	ck_assert_int_eq(rc, 128 + SIGKILL);
	ck_assert_int_eq(harness_restart(&h), 0);
	check_state(&h);
	harness_teardown(&h);
}
END_TEST

START_TEST(test_config_sources_and_precedence)
{
	harness_t h;
	http_response_t r;
	char cfg[400];
	FILE *f;
	cJSON *doc;

	/* file says one advertised URL, the environment another: env wins;
	 * the file's max_request_bytes applies (nothing overrides it) */
	memset(&h, 0, sizeof h);
	snprintf(cfg, sizeof cfg, "%s/strand-cfg-%d.conf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
	         (int)getpid());
	f = fopen(cfg, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "# test config\nadvertised_url = http://file.example:1\n"
	           "max_request_bytes = 2048\n\n");
	fclose(f);
	h.extra_args[0] = "--config";
	h.extra_args[1] = cfg;
	h.extra_env[0] = "STRAND_ADVERTISED_URL=http://env.example:2";
	ck_assert_int_eq(harness_start(&h), 0);
	doc = get_json(&h, "/v1/cluster", 200);
	ck_assert_str_eq(str(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "brokers"), 0), "url"),
	                 "http://env.example:2");
	cJSON_Delete(doc);
	create_topic(&h, "{\"name\":\"small\"}");
	{
		char body[4096];

		memset(body, 'x', sizeof body);
		http_request(&h, "POST", "/v1/topics/small/records", "application/x-ndjson",
		             body, sizeof body, NULL, &r);
		ASSERT_PROBLEM(r, 413, "REQUEST_TOO_LARGE");
		http_response_free(&r);
	}
	harness_teardown(&h);
	unlink(cfg);
}
END_TEST

/* A config that is a number, as its text (configs come back as numbers). */
static long long config_of(const cJSON *doc, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "configs"), name);

	ck_assert_msg(cJSON_IsNumber(v), "config %s missing", name);
	return (long long)v->valuedouble;
}

/* strand serve's topic defaults fill what a create leaves out; a create's
 * own configs win; a default replication factor above 1 needs --etcd. */
START_TEST(test_broker_topic_defaults)
{
	harness_t h;
	cJSON *doc;

	memset(&h, 0, sizeof h);
	h.extra_args[0] = "--replica-lag-time-max-ms";
	h.extra_args[1] = "2500";
	h.extra_args[2] = "--min-insync-replicas";
	h.extra_args[3] = "2";
	h.extra_env[0] = "STRAND_DEFAULT_REPLICATION_FACTOR=1";
	ck_assert_int_eq(harness_start(&h), 0);
	create_topic(&h, "{\"name\":\"plain\"}");
	doc = get_json(&h, "/v1/topics/plain", 200);
	ck_assert_int_eq(config_of(doc, "replica_lag_time_max_ms"), 2500);
	ck_assert_int_eq(config_of(doc, "min_insync_replicas"), 2);
	ck_assert_int_eq(cJSON_GetObjectItem(doc, "replication_factor")->valueint, 1);
	cJSON_Delete(doc);
	create_topic(&h, "{\"name\":\"own\",\"configs\":{\"replica_lag_time_max_ms\":7000}}");
	doc = get_json(&h, "/v1/topics/own", 200);
	ck_assert_int_eq(config_of(doc, "replica_lag_time_max_ms"), 7000);
	ck_assert_int_eq(config_of(doc, "min_insync_replicas"), 2);
	cJSON_Delete(doc);
	/* stored with the topic: a restart with other defaults keeps them */
	ck_assert_int_eq(harness_stop(&h, SIGTERM), 0);
	h.extra_args[1] = "9000";
	ck_assert_int_eq(harness_restart(&h), 0);
	doc = get_json(&h, "/v1/topics/plain", 200);
	ck_assert_int_eq(config_of(doc, "replica_lag_time_max_ms"), 2500);
	cJSON_Delete(doc);
	create_topic(&h, "{\"name\":\"after\"}");
	doc = get_json(&h, "/v1/topics/after", 200);
	ck_assert_int_eq(config_of(doc, "replica_lag_time_max_ms"), 9000);
	cJSON_Delete(doc);
	harness_teardown(&h);

	memset(&h, 0, sizeof h);
	h.extra_args[0] = "--default-replication-factor";
	h.extra_args[1] = "3";
	ck_assert_int_ne(harness_start(&h), 0);
	ck_assert_msg(strstr(harness_log_tail(&h), "default_replication_factor") != NULL,
	              "log: %s", harness_log_tail(&h));
	harness_teardown(&h);
}
END_TEST

START_TEST(test_bad_options_fail_to_start)
{
	harness_t h;

	memset(&h, 0, sizeof h);
	h.extra_args[0] = "--threads";
	h.extra_args[1] = "many";
	ck_assert_int_ne(harness_start(&h), 0);
	ck_assert_msg(strstr(harness_log_tail(&h), "threads") != NULL, "log: %s",
	              harness_log_tail(&h));
	harness_teardown(&h);
}
END_TEST

static Suite *http_topics_suite(void)
{
	Suite *s = suite_create("http_topics");
	TCase *tc = tcase_create("shared_server"), *solo = tcase_create("own_server");

	tcase_add_unchecked_fixture(tc, server_up, server_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_healthz_and_readyz_answer_ok);
	tcase_add_test(tc, test_cluster_describes_one_broker);
	tcase_add_test(tc, test_openapi_yaml_is_served);
	tcase_add_test(tc, test_index_page_links_the_api);
	tcase_add_test(tc, test_metrics_have_the_documented_series);
	tcase_add_test(tc, test_unknown_route_is_404_problem);
	tcase_add_test(tc, test_wrong_method_is_405_with_allow);
	tcase_add_test(tc, test_head_is_served_as_get);
	tcase_add_test(tc, test_bad_path_parameters_are_400);
	tcase_add_test(tc, test_too_long_topic_name_in_path_is_400);
	tcase_add_test(tc, test_topic_create_list_describe);
	tcase_add_test(tc, test_topic_create_defaults);
	tcase_add_test(tc, test_topic_create_existing_is_409);
	tcase_add_test(tc, test_topic_create_invalid_bodies_are_400);
	tcase_add_test(tc, test_unknown_topic_is_404);
	tcase_add_test(tc, test_topic_patch_grows_and_changes_configs);
	tcase_add_test(tc, test_topic_delete_then_recreate);
	tcase_add_test(tc, test_request_too_large_is_413_before_the_body);
	tcase_add_test(tc, test_offsets_commit_and_read_with_lag);
	tcase_add_test(tc, test_offsets_commit_errors);
	tcase_add_test(tc, test_group_delete);
	tcase_add_test(tc, test_malformed_requests_never_5xx);
	suite_add_tcase(s, tc);

	tcase_set_timeout(solo, 180);
	tcase_add_test(solo, test_state_survives_sigterm_and_sigkill_restarts);
	tcase_add_test(solo, test_config_sources_and_precedence);
	tcase_add_test(solo, test_bad_options_fail_to_start);
	tcase_add_test(solo, test_broker_topic_defaults);
	suite_add_tcase(s, solo);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_topics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
