/*
 * test_malformed.c — the malformed-input matrix (issue #11, item 4): every
 * endpoint that reads a body, a path parameter or a query value, sent
 * broken JSON, wrong types, huge and negative numbers, unknown enum values,
 * invalid UTF-8, bad base64, a wrong content type, a truncated body, and
 * binary batches with a wrong CRC, wrong magic, wrong record count, bad
 * varints, offsets that do not start at 0 and oversized records. Each must
 * get its documented 4xx as problem+json (API.md, openapi.yaml), and
 * afterwards nothing has changed: every partition's high watermark and log
 * end offset, the topic list and configs, the group's members and committed
 * offsets; and `strand log check` finds every partition directory clean
 * once the broker has stopped.
 *
 * One broker for the whole matrix (the point is that nothing accumulates);
 * a failing case names itself, what was expected and what came.
 */
#include <check.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "log/batch.h"
#include "log/crc32c.h"

static harness_t srv;
static char member_id[128];
static int64_t generation;

/* Three topics, one per value format; records over 1000 bytes are too large. */
static const char *const topics[] = { "mj", "ms", "mb" };
#define NTOPICS 3
#define NPARTS  2
#define MAX_MESSAGE_BYTES 1000

#define JSON "application/json"
#define NDJSON "application/x-ndjson"
#define BAD400 400, "INVALID_REQUEST"

/* ---- one case of the matrix ---------------------------------------------- */

typedef struct mcase {
	const char *what;      /* what is malformed (failure messages) */
	const char *method;
	const char *path;
	const char *ctype;     /* NULL: none */
	const char *body;      /* NULL: none */
	size_t      len;       /* 0: strlen(body) */
	long        status;
	const char *code;
} mcase_t;

/* Mismatches so far, all reported at the end (one run shows every one). */
static buf_t failures = BUF_INIT;
static int nfailures, ncases;

static void run_case(const mcase_t *c)
{
	http_response_t r;
	size_t len = c->len ? c->len : (c->body ? strlen(c->body) : 0);
	char why[600];

	ncases++;
	http_request(&srv, c->method, c->path, c->ctype, c->body, len, NULL, &r);
	if (!http_is_problem(&r, c->status, c->code, why, sizeof why)) {
		nfailures++;
		buf_appendf(&failures, "%s %.120s (%s): expected %ld %s: %s\n",
		            c->method, c->path, c->what, c->status, c->code, why);
	}
	http_response_free(&r);
}

static void run_cases(const mcase_t *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		run_case(&cases[i]);
}

/* ---- state that must not change --------------------------------------------- */

static cJSON *get_json(const char *path)
{
	http_response_t r;
	cJSON *doc;

	ck_assert_int_eq(http_get(&srv, path, &r), 200);
	doc = http_body_json(&r);
	ck_assert_ptr_nonnull(doc);
	http_response_free(&r);
	return doc;
}

/*
 * Everything a malformed request could have changed, as one string:
 * topics and their configs, each partition's offsets, the group's
 * generation, members and committed offsets.
 */
static char *snapshot(void)
{
	buf_t out = BUF_INIT;
	cJSON *doc, *p;
	char path[128], *text;
	int i;

	doc = get_json("/v1/topics");
	text = cJSON_PrintUnformatted(doc);
	buf_appendf(&out, "topics %s\n", text);
	free(text);
	cJSON_Delete(doc);
	for (i = 0; i < NTOPICS; i++) {
		snprintf(path, sizeof path, "/v1/topics/%s", topics[i]);
		doc = get_json(path);
		text = cJSON_PrintUnformatted(cJSON_GetObjectItem(doc, "configs"));
		buf_appendf(&out, "%s configs %s\n", topics[i], text);
		free(text);
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "partitions"))
			buf_appendf(&out, "%s-%d hw %.0f leo %.0f start %.0f\n", topics[i],
			            cJSON_GetObjectItem(p, "partition")->valueint,
			            cJSON_GetObjectItem(p, "high_watermark")->valuedouble,
			            cJSON_GetObjectItem(p, "log_end_offset")->valuedouble,
			            cJSON_GetObjectItem(p, "log_start_offset")->valuedouble);
		cJSON_Delete(doc);
	}
	doc = get_json("/v1/groups/g");
	cJSON_DeleteItemFromObject(doc, "lag");   /* derived; offsets are compared below */
	text = cJSON_PrintUnformatted(doc);
	buf_appendf(&out, "group %s\n", text);
	free(text);
	cJSON_Delete(doc);
	doc = get_json("/v1/groups/g/offsets");
	text = cJSON_PrintUnformatted(doc);
	buf_appendf(&out, "offsets %s\n", text);
	free(text);
	cJSON_Delete(doc);
	return out.data;
}

/* ---- binary batches ----------------------------------------------------------- */

/* Two records (value_len bytes each, 'v'), finished: a valid batch. */
static void build_batch(batch_builder_t *b, size_t value_len)
{
	char *v = malloc(value_len + 1);
	int i;

	memset(v, 'v', value_len);
	batch_builder_init(b);
	ck_assert_int_eq(batch_builder_begin(b, -1, -1, -1), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(batch_builder_add(b, 1700000000000 + i, (const uint8_t *)"k", 1,
		                                   (const uint8_t *)v, (int32_t)value_len, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(b, NULL), 0);
	free(v);
}

/* Recompute the CRC after an edit, so only the edit is wrong. */
static void fix_crc(uint8_t *batch, size_t len)
{
	uint32_t crc = crc32c(batch + BATCH_CRC_START, len - BATCH_CRC_START);

	batch[17] = (uint8_t)(crc >> 24);
	batch[18] = (uint8_t)(crc >> 16);
	batch[19] = (uint8_t)(crc >> 8);
	batch[20] = (uint8_t)crc;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void post_batch(const char *what, const uint8_t *buf, size_t len, long status,
                       const char *code)
{
	mcase_t c = { what, "POST", "/v1/topics/mb/partitions/0/records",
	              "application/vnd.strand.batch", (const char *)buf, len, status, code };

	ck_assert_uint_gt(len, 0);
	run_case(&c);
}

/* Every way a binary batch can be wrong; each is refused whole. */
static void binary_cases(void)
{
	batch_builder_t b, big;
	uint8_t m[512];
	size_t n;

	build_batch(&b, 10);
	n = b.len;
	ck_assert_uint_le(n + 16, sizeof m);

	memcpy(m, b.buf, n);
	m[n - 1] ^= 0xff;
	post_batch("wrong CRC", m, n, 400, "INVALID_REQUEST");

	memcpy(m, b.buf, n);
	m[16] = 1;   /* magic is outside the CRC's range */
	post_batch("wrong magic", m, n, 400, "INVALID_REQUEST");

	memcpy(m, b.buf, n);
	put_be32(m + 57, 3);
	fix_crc(m, n);
	post_batch("record count 3 for 2 records", m, n, 400, "INVALID_REQUEST");

	memcpy(m, b.buf, n);
	put_be32(m + 57, 1);
	fix_crc(m, n);
	post_batch("record count 1 for 2 records", m, n, 400, "INVALID_REQUEST");

	memcpy(m, b.buf, n);
	put_be32(m + 23, 5);
	fix_crc(m, n);
	post_batch("last offset delta 5 for 2 records", m, n, 400, "INVALID_REQUEST");

	/* the first record's length varint: ten continuation bytes never end */
	memcpy(m, b.buf, n);
	memset(m + BATCH_HEADER_SIZE, 0xff, 10);
	fix_crc(m, n);
	post_batch("unterminated varint", m, n, 400, "INVALID_REQUEST");

	/* the first record's length varint says more than the batch holds */
	memcpy(m, b.buf, n);
	m[BATCH_HEADER_SIZE] = 0x7e;   /* zig-zag 63 */
	fix_crc(m, n);
	post_batch("record length past the batch", m, n, 400, "INVALID_REQUEST");

	/* record layout: length varint (1 byte here), attributes (1),
	 * timestamp delta varint (1: 0), offset delta varint (1) */
	memcpy(m, b.buf, n);
	ck_assert_uint_eq(m[BATCH_HEADER_SIZE + 3], 0);
	m[BATCH_HEADER_SIZE + 3] = 2;   /* zig-zag 1: the first record's offset delta is 1 */
	fix_crc(m, n);
	post_batch("offset deltas starting at 1", m, n, 400, "INVALID_REQUEST");

	memcpy(m, b.buf, n);
	m[BATCH_HEADER_SIZE + 3] = 1;   /* zig-zag -1 */
	fix_crc(m, n);
	post_batch("offset delta -1", m, n, 400, "INVALID_REQUEST");

	memcpy(m, b.buf, n);
	m[22] |= 1;   /* attributes: gzip */
	fix_crc(m, n);
	post_batch("compressed batch", m, n, 400, "INVALID_REQUEST");

	memcpy(m, b.buf, n);
	put_be32(m + 8, (uint32_t)(n - BATCH_LOG_OVERHEAD + 8));
	post_batch("batch length past the body", m, n, 400, "INVALID_REQUEST");

	memcpy(m, b.buf, n);
	put_be32(m + 8, 0xffffffffu);
	post_batch("negative batch length", m, n, 400, "INVALID_REQUEST");

	post_batch("truncated batch", b.buf, n - 5, 400, "INVALID_REQUEST");
	post_batch("header only", b.buf, BATCH_HEADER_SIZE, 400, "INVALID_REQUEST");

	/* a good batch, then a bad one: nothing of the request is stored */
	memcpy(m, b.buf, n);
	memcpy(m + n, b.buf, 16);
	post_batch("good batch then garbage", m, n + 16, 400, "INVALID_REQUEST");

	build_batch(&big, MAX_MESSAGE_BYTES + 100);
	post_batch("record over max_message_bytes", big.buf, big.len, 413, "RECORD_TOO_LARGE");

	/* binary batches go to a partition path only */
	{
		mcase_t c = { "binary on the topic path", "POST", "/v1/topics/mb/records",
		              "application/vnd.strand.batch", (const char *)b.buf, n, 415,
		              "UNSUPPORTED_MEDIA_TYPE" };
		run_case(&c);
	}
	batch_builder_free(&b);
	batch_builder_free(&big);
}

/* Limits by length: built here rather than spelt out. */
static void size_cases(void)
{
	buf_t body = BUF_INIT, path = BUF_INIT;
	mcase_t c;
	int i;

	buf_append_str(&body, "{\"records\":[{\"value\":\"");
	for (i = 0; i < MAX_MESSAGE_BYTES + 1; i++)
		buf_append(&body, "x", 1);
	buf_append_str(&body, "\"}]}");
	c = (mcase_t){ "record over max_message_bytes", "POST", "/v1/topics/ms/records", JSON,
	               body.data, body.len, 413, "RECORD_TOO_LARGE" };
	run_case(&c);
	c.path = "/v1/topics/ms/records";
	c.ctype = NDJSON;
	c.body = body.data + strlen("{\"records\":[");
	c.len = body.len - strlen("{\"records\":[") - 2;
	c.what = "NDJSON record over max_message_bytes";
	run_case(&c);

	buf_append_str(&path, "/v1/topics/");
	for (i = 0; i < 250; i++)
		buf_append(&path, "a", 1);
	c = (mcase_t){ "topic name of 250 bytes", "GET", path.data, NULL, NULL, 0, BAD400 };
	run_case(&c);

	buf_reset(&path);
	buf_append_str(&path, "/v1/groups/g/members/");
	for (i = 0; i < 300; i++)
		buf_append(&path, "m", 1);
	buf_append_str(&path, "/heartbeat");
	c = (mcase_t){ "member id of 300 bytes", "POST", path.data, NULL, NULL, 0, BAD400 };
	run_case(&c);
	buf_free(&body);
	buf_free(&path);
}

/* ---- setup ------------------------------------------------------------------- */

static void post_ok(const char *path, const char *ctype, const char *body, long want)
{
	http_response_t r;

	http_request(&srv, "POST", path, ctype, body, strlen(body), NULL, &r);
	ck_assert_msg(r.status == want, "POST %s: %ld, expected %ld: %.300s", path, r.status,
	              want, r.body.data ? r.body.data : "");
	http_response_free(&r);
}

static void setup_state(void)
{
	static const char *const fmt[] = { "json", "string", "binary" };
	static const char *const rec[] = {
		"{\"records\":[{\"key\":1,\"value\":{\"a\":1}},{\"value\":[1,2]}]}",
		"{\"records\":[{\"key\":\"k\",\"value\":\"h\\u00e9\"},{\"value\":\"x\"}]}",
		"{\"records\":[{\"key\":\"AAEC\",\"value\":\"/w==\"},{\"value\":\"aGk=\"}]}",
	};
	char body[400], path[128];
	http_response_t r;
	cJSON *doc;
	int i, p;

	for (i = 0; i < NTOPICS; i++) {
		snprintf(body, sizeof body,
		         "{\"name\":\"%s\",\"partitions\":%d,\"configs\":{\"max_message_bytes\":%d,"
		         "\"key_format\":\"%s\",\"value_format\":\"%s\"}}",
		         topics[i], NPARTS, MAX_MESSAGE_BYTES, fmt[i], fmt[i]);
		post_ok("/v1/topics", "application/json", body, 201);
		for (p = 0; p < NPARTS; p++) {
			snprintf(path, sizeof path, "/v1/topics/%s/partitions/%d/records", topics[i], p);
			post_ok(path, "application/json", rec[i], 200);
		}
	}
	/* a group with one member and a committed offset */
	http_json(&srv, "POST", "/v1/groups/g/members",
	          "{\"topics\":[\"mj\"],\"session_timeout_ms\":60000,\"rebalance_timeout_ms\":60000}",
	          &r);
	ck_assert_msg(r.status == 200, "join: %ld %.300s", r.status, r.body.data);
	doc = http_body_json(&r);
	snprintf(member_id, sizeof member_id, "%s",
	         cJSON_GetObjectItem(doc, "member_id")->valuestring);
	generation = (int64_t)cJSON_GetObjectItem(doc, "generation")->valuedouble;
	cJSON_Delete(doc);
	http_response_free(&r);
	snprintf(body, sizeof body,
	         "{\"member_id\":\"%s\",\"generation\":%" PRId64 ",\"offsets\":"
	         "[{\"topic\":\"mj\",\"partition\":0,\"offset\":1,\"metadata\":\"m\"}]}",
	         member_id, generation);
	post_ok("/v1/groups/g/offsets", "application/json", body, 204);
}

static void server_up(void)
{
	memset(&srv, 0, sizeof srv);
	if (harness_start(&srv) != 0) {
		fprintf(stderr, "cannot start strand serve\n");
		exit(99);
	}
}


/* ---- the matrix, endpoint by endpoint --------------------------------------- */


static const mcase_t topic_cases[] = {
	/* POST /v1/topics */
	{ "broken JSON", "POST", "/v1/topics", JSON, "{\"name\":", 0, BAD400 },
	{ "trailing comma", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",}", 0, BAD400 },
	{ "truncated body", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",\"partitions\":3", 0, BAD400 },
	{ "not an object", "POST", "/v1/topics", JSON, "[\"x1\"]", 0, BAD400 },
	{ "name a number", "POST", "/v1/topics", JSON, "{\"name\":5}", 0, BAD400 },
	{ "partitions a string", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",\"partitions\":\"3\"}", 0, BAD400 },
	{ "configs an array", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",\"configs\":[]}", 0, BAD400 },
	{ "config value a boolean", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"configs\":{\"retention_ms\":true}}", 0, BAD400 },
	{ "config value a word", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"configs\":{\"retention_ms\":\"soon\"}}", 0, BAD400 },
	{ "partitions 1e30", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",\"partitions\":1e30}", 0, BAD400 },
	{ "partitions 2^53+1", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"partitions\":9007199254740993}", 0, BAD400 },
	{ "partitions 1.5", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",\"partitions\":1.5}", 0, BAD400 },
	{ "partitions -1", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",\"partitions\":-1}", 0, BAD400 },
	{ "partitions 0", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",\"partitions\":0}", 0, BAD400 },
	{ "replication_factor -1", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"replication_factor\":-1}", 0, BAD400 },
	{ "segment_bytes -5", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"configs\":{\"segment_bytes\":-5}}", 0, BAD400 },
	{ "retention_ms 1e300", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"configs\":{\"retention_ms\":1e300}}", 0, BAD400 },
	{ "cleanup_policy compact", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"configs\":{\"cleanup_policy\":\"compact\"}}", 0, BAD400 },
	{ "key_format xml", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"configs\":{\"key_format\":\"xml\"}}", 0, BAD400 },
	{ "unknown config", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"configs\":{\"compression\":\"gzip\"}}", 0, BAD400 },
	{ "unknown member", "POST", "/v1/topics", JSON, "{\"name\":\"x1\",\"shards\":3}", 0, BAD400 },
	{ "invalid UTF-8 name", "POST", "/v1/topics", JSON, "{\"name\":\"x\xff\"}", 0, BAD400 },
	{ "invalid UTF-8 in a config string", "POST", "/v1/topics", JSON,
	  "{\"name\":\"x1\",\"configs\":{\"key_format\":\"\xc3\x28\"}}", 0, BAD400 },
	{ "name ..", "POST", "/v1/topics", JSON, "{\"name\":\"..\"}", 0, BAD400 },
	{ "text/plain", "POST", "/v1/topics", "text/plain", "{\"name\":\"x1\"}", 0,
	  415, "UNSUPPORTED_MEDIA_TYPE" },
	{ "form-urlencoded", "POST", "/v1/topics", "application/x-www-form-urlencoded",
	  "{\"name\":\"x1\"}", 0, 415, "UNSUPPORTED_MEDIA_TYPE" },
	{ "empty body", "POST", "/v1/topics", JSON, "", 0, BAD400 },
	/* PATCH /v1/topics/{topic} */
	{ "broken JSON", "PATCH", "/v1/topics/mj", JSON, "{\"partitions\":", 0, BAD400 },
	{ "partitions decrease", "PATCH", "/v1/topics/mj", JSON, "{\"partitions\":1}", 0, BAD400 },
	{ "partitions a string", "PATCH", "/v1/topics/mj", JSON, "{\"partitions\":\"3\"}", 0, BAD400 },
	{ "partitions 1e12", "PATCH", "/v1/topics/mj", JSON, "{\"partitions\":1e12}", 0, BAD400 },
	{ "partitions -3", "PATCH", "/v1/topics/mj", JSON, "{\"partitions\":-3}", 0, BAD400 },
	{ "retention_ms -2", "PATCH", "/v1/topics/mj", JSON,
	  "{\"configs\":{\"retention_ms\":-2}}", 0, BAD400 },
	{ "value_format yaml", "PATCH", "/v1/topics/mj", JSON,
	  "{\"configs\":{\"value_format\":\"yaml\"}}", 0, BAD400 },
	{ "unknown config", "PATCH", "/v1/topics/mj", JSON, "{\"configs\":{\"nope\":1}}", 0, BAD400 },
	{ "invalid UTF-8", "PATCH", "/v1/topics/mj", JSON,
	  "{\"configs\":{\"cleanup_policy\":\"\xed\xa0\x80\"}}", 0, BAD400 },
	{ "text/plain", "PATCH", "/v1/topics/mj", "text/plain", "{\"partitions\":3}", 0,
	  415, "UNSUPPORTED_MEDIA_TYPE" },
	{ "truncated body", "PATCH", "/v1/topics/mj", JSON, "{\"configs\":{\"retention_ms\":1", 0, BAD400 },
	/* path parameters */
	{ "topic with a space", "GET", "/v1/topics/a%20b", NULL, NULL, 0, BAD400 },
	{ "topic ..", "DELETE", "/v1/topics/%2E%2E", NULL, NULL, 0, BAD400 },
	{ "topic with invalid UTF-8", "GET", "/v1/topics/a%FF", NULL, NULL, 0, BAD400 },
	{ "unknown topic", "DELETE", "/v1/topics/nope", NULL, NULL, 0, 404, "UNKNOWN_TOPIC" },
};

static const mcase_t produce_cases[] = {
	{ "broken JSON", "POST", "/v1/topics/mj/records", JSON, "{\"records\":[{\"value\":1},]}", 0, BAD400 },
	{ "truncated body", "POST", "/v1/topics/mj/records", JSON, "{\"records\":[{\"value\":1}", 0, BAD400 },
	{ "empty body", "POST", "/v1/topics/mj/records", JSON, "", 0, BAD400 },
	{ "no records", "POST", "/v1/topics/mj/records", JSON, "{\"records\":[]}", 0, BAD400 },
	{ "records an object", "POST", "/v1/topics/mj/records", JSON, "{\"records\":{\"value\":1}}", 0, BAD400 },
	{ "missing value", "POST", "/v1/topics/mj/records", JSON, "{\"records\":[{\"key\":1}]}", 0, BAD400 },
	{ "value not JSON", "POST", "/v1/topics/mj/records", JSON, "{\"records\":[{\"value\":tru}]}", 0, BAD400 },
	{ "partition a string", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"partition\":\"0\"}]}", 0, BAD400 },
	{ "timestamp a string", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"timestamp\":\"5\"}]}", 0, BAD400 },
	{ "header value a number", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"headers\":{\"a\":1}}]}", 0, BAD400 },
	{ "headers an array", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"headers\":[\"a\"]}]}", 0, BAD400 },
	{ "partition 2^64", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"partition\":18446744073709551616}]}", 0, BAD400 },
	{ "partition -1", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"partition\":-1}]}", 0, BAD400 },
	{ "partition 1.5", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"partition\":1.5}]}", 0, BAD400 },
	{ "partition 7 of 2", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1},{\"value\":1,\"partition\":7}]}", 0, 404, "UNKNOWN_PARTITION" },
	{ "timestamp -5", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"timestamp\":-5}]}", 0, BAD400 },
	{ "timestamp 1e300", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"timestamp\":1e300}]}", 0, BAD400 },
	{ "timestamp 2^63", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"timestamp\":9223372036854775808}]}", 0, BAD400 },
	{ "unknown member", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"offset\":3}]}", 0, BAD400 },
	{ "invalid UTF-8 in a JSON value", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":\"\xc3\x28\"}]}", 0, BAD400 },
	{ "invalid UTF-8 in a header", "POST", "/v1/topics/mj/records", JSON,
	  "{\"records\":[{\"value\":1,\"headers\":{\"h\":\"\xf0\x28\x8c\x28\"}}]}", 0, BAD400 },
	{ "lone surrogate escape in a string value", "POST", "/v1/topics/ms/records", JSON,
	  "{\"records\":[{\"value\":\"\\ud800\"}]}", 0, BAD400 },
	{ "invalid UTF-8 in a string value", "POST", "/v1/topics/ms/records", JSON,
	  "{\"records\":[{\"value\":\"\xff\"}]}", 0, BAD400 },
	{ "string value a number", "POST", "/v1/topics/ms/records", JSON,
	  "{\"records\":[{\"value\":5}]}", 0, BAD400 },
	{ "bad base64", "POST", "/v1/topics/mb/records", JSON,
	  "{\"records\":[{\"value\":\"!!!!\"}]}", 0, BAD400 },
	{ "base64 with bad padding", "POST", "/v1/topics/mb/records", JSON,
	  "{\"records\":[{\"value\":\"QQ=\"}]}", 0, BAD400 },
	{ "base64 key not a string", "POST", "/v1/topics/mb/records", JSON,
	  "{\"records\":[{\"key\":[1],\"value\":\"QQ==\"}]}", 0, BAD400 },
	{ "text/plain", "POST", "/v1/topics/mj/records", "text/plain", "{\"records\":[{\"value\":1}]}", 0,
	  415, "UNSUPPORTED_MEDIA_TYPE" },
	{ "no content type", "POST", "/v1/topics/mj/records", NULL, "{\"records\":[{\"value\":1}]}", 0,
	  415, "UNSUPPORTED_MEDIA_TYPE" },
	{ "acks=2", "POST", "/v1/topics/mj/records?acks=2", JSON, "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	{ "acks=ALL", "POST", "/v1/topics/mj/records?acks=ALL", JSON, "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	{ "timeout_ms=-1", "POST", "/v1/topics/mj/records?timeout_ms=-1", JSON,
	  "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	{ "timeout_ms=2^64", "POST", "/v1/topics/mj/records?timeout_ms=18446744073709551616", JSON,
	  "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	{ "timeout_ms=5s", "POST", "/v1/topics/mj/records?timeout_ms=5s", JSON,
	  "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	/* NDJSON */
	{ "NDJSON bad line", "POST", "/v1/topics/mj/records", NDJSON, "{\"value\":1}\n{\"value\":1,}\n", 0, BAD400 },
	{ "NDJSON truncated line", "POST", "/v1/topics/mj/records", NDJSON, "{\"value\":1}\n{\"val", 0, BAD400 },
	{ "NDJSON array line", "POST", "/v1/topics/mj/records", NDJSON, "[{\"value\":1}]\n", 0, BAD400 },
	{ "NDJSON invalid UTF-8", "POST", "/v1/topics/ms/records", NDJSON, "{\"value\":\"\xe2\x82\"}\n", 0, BAD400 },
	{ "NDJSON bad base64", "POST", "/v1/topics/mb/records", NDJSON, "{\"value\":\"QUJD=A==\"}\n", 0, BAD400 },
	{ "NDJSON empty", "POST", "/v1/topics/mj/records", NDJSON, "\n\n", 0, BAD400 },
	/* the partition path */
	{ "partition -1", "POST", "/v1/topics/mj/partitions/-1/records", JSON, "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	{ "partition abc", "POST", "/v1/topics/mj/partitions/abc/records", JSON, "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	{ "partition 2^31", "POST", "/v1/topics/mj/partitions/2147483648/records", JSON,
	  "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	{ "partition +1", "POST", "/v1/topics/mj/partitions/+1/records", JSON, "{\"records\":[{\"value\":1}]}", 0, BAD400 },
	{ "partition 7 of 2", "POST", "/v1/topics/mj/partitions/7/records", JSON,
	  "{\"records\":[{\"value\":1}]}", 0, 404, "UNKNOWN_PARTITION" },
	{ "record for another partition", "POST", "/v1/topics/mj/partitions/0/records", JSON,
	  "{\"records\":[{\"value\":1,\"partition\":1}]}", 0, BAD400 },
	{ "unknown topic", "POST", "/v1/topics/nope/records", JSON, "{\"records\":[{\"value\":1}]}", 0,
	  404, "UNKNOWN_TOPIC" },
};

static const mcase_t fetch_cases[] = {
	{ "offset abc", "GET", "/v1/topics/mj/partitions/0/records?offset=abc", NULL, NULL, 0, BAD400 },
	{ "offset -5", "GET", "/v1/topics/mj/partitions/0/records?offset=-5", NULL, NULL, 0, BAD400 },
	{ "offset 1e3", "GET", "/v1/topics/mj/partitions/0/records?offset=1e3", NULL, NULL, 0, BAD400 },
	{ "offset 2^63", "GET", "/v1/topics/mj/partitions/0/records?offset=9223372036854775808", NULL, NULL, 0, BAD400 },
	{ "offset past the end", "GET", "/v1/topics/mj/partitions/0/records?offset=99999", NULL, NULL, 0,
	  416, "OFFSET_OUT_OF_RANGE" },
	{ "offset oldest", "GET", "/v1/topics/mj/partitions/0/records?offset=oldest", NULL, NULL, 0, BAD400 },
	{ "max_records 0", "GET", "/v1/topics/mj/partitions/0/records?max_records=0", NULL, NULL, 0, BAD400 },
	{ "max_records abc", "GET", "/v1/topics/mj/partitions/0/records?max_records=abc", NULL, NULL, 0, BAD400 },
	{ "max_bytes -1", "GET", "/v1/topics/mj/partitions/0/records?max_bytes=-1", NULL, NULL, 0, BAD400 },
	{ "min_bytes -1", "GET", "/v1/topics/mj/partitions/0/records?min_bytes=-1", NULL, NULL, 0, BAD400 },
	{ "max_wait_ms 60001", "GET", "/v1/topics/mj/partitions/0/records?max_wait_ms=60001", NULL, NULL, 0, BAD400 },
	{ "max_wait_ms -1", "GET", "/v1/topics/mj/partitions/0/records?max_wait_ms=-1", NULL, NULL, 0, BAD400 },
	{ "partition 7 of 2", "GET", "/v1/topics/mj/partitions/7/records", NULL, NULL, 0, 404, "UNKNOWN_PARTITION" },
	{ "timestamp abc", "GET", "/v1/topics/mj/partitions/0/offsets?timestamp=abc", NULL, NULL, 0, BAD400 },
	{ "timestamp -2", "GET", "/v1/topics/mj/partitions/0/offsets?timestamp=-2", NULL, NULL, 0, BAD400 },
	{ "timestamp 2^64", "GET", "/v1/topics/mj/partitions/0/offsets?timestamp=18446744073709551616", NULL, NULL, 0, BAD400 },
	{ "timestamp newest", "GET", "/v1/topics/mj/partitions/0/offsets?timestamp=newest", NULL, NULL, 0, BAD400 },
};

/* Group cases; {M} and {G} in path and body are the member id and generation. */
static const mcase_t group_cases[] = {
	/* join */
	{ "broken JSON", "POST", "/v1/groups/g2/members", JSON, "{\"topics\":[\"mj\"", 0, BAD400 },
	{ "topics a string", "POST", "/v1/groups/g2/members", JSON, "{\"topics\":\"mj\"}", 0, BAD400 },
	{ "topics of numbers", "POST", "/v1/groups/g2/members", JSON, "{\"topics\":[5]}", 0, BAD400 },
	{ "no topics", "POST", "/v1/groups/g2/members", JSON, "{\"topics\":[]}", 0, BAD400 },
	{ "session_timeout_ms a string", "POST", "/v1/groups/g2/members", JSON,
	  "{\"topics\":[\"mj\"],\"session_timeout_ms\":\"x\"}", 0, BAD400 },
	{ "session_timeout_ms -1", "POST", "/v1/groups/g2/members", JSON,
	  "{\"topics\":[\"mj\"],\"session_timeout_ms\":-1}", 0, BAD400 },
	{ "session_timeout_ms 1e20", "POST", "/v1/groups/g2/members", JSON,
	  "{\"topics\":[\"mj\"],\"session_timeout_ms\":1e20}", 0, BAD400 },
	{ "rebalance_timeout_ms -5", "POST", "/v1/groups/g2/members", JSON,
	  "{\"topics\":[\"mj\"],\"rebalance_timeout_ms\":-5}", 0, BAD400 },
	{ "assignor fair", "POST", "/v1/groups/g2/members", JSON,
	  "{\"topics\":[\"mj\"],\"assignor\":\"fair\"}", 0, BAD400 },
	{ "auto_offset_reset middle", "POST", "/v1/groups/g2/members", JSON,
	  "{\"topics\":[\"mj\"],\"auto_offset_reset\":\"middle\"}", 0, BAD400 },
	{ "member_id a number", "POST", "/v1/groups/g2/members", JSON,
	  "{\"topics\":[\"mj\"],\"member_id\":5}", 0, BAD400 },
	{ "invalid UTF-8 topic", "POST", "/v1/groups/g2/members", JSON, "{\"topics\":[\"m\xffj\"]}", 0, BAD400 },
	{ "invalid UTF-8 member_id", "POST", "/v1/groups/g2/members", JSON,
	  "{\"topics\":[\"mj\"],\"member_id\":\"\xc0\xaf\"}", 0, BAD400 },
	{ "unknown member", "POST", "/v1/groups/g2/members", JSON, "{\"topics\":[\"mj\"],\"x\":1}", 0, BAD400 },
	{ "text/plain", "POST", "/v1/groups/g2/members", "text/plain", "{\"topics\":[\"mj\"]}", 0,
	  415, "UNSUPPORTED_MEDIA_TYPE" },
	{ "truncated body", "POST", "/v1/groups/g2/members", JSON, "{\"topics\":[\"mj\"],\"assignor\":\"ra", 0, BAD400 },
	{ "unknown topic", "POST", "/v1/groups/g2/members", JSON, "{\"topics\":[\"nope\"]}", 0, 404, "UNKNOWN_TOPIC" },
	{ "group name with a space", "POST", "/v1/groups/a%20b/members", JSON, "{\"topics\":[\"mj\"]}", 0, BAD400 },
	{ "group name with invalid UTF-8", "POST", "/v1/groups/%C3%28/members", JSON, "{\"topics\":[\"mj\"]}", 0, BAD400 },
	/* heartbeat, leave */
	{ "unknown member", "POST", "/v1/groups/g/members/nosuch/heartbeat", NULL, NULL, 0, 404, "UNKNOWN_MEMBER" },
	{ "unknown member", "DELETE", "/v1/groups/g/members/nosuch", NULL, NULL, 0, 404, "UNKNOWN_MEMBER" },
	{ "group ..", "POST", "/v1/groups/%2E%2E/members/{M}/heartbeat", NULL, NULL, 0, BAD400 },
	/* member fetch */
	{ "max_wait_ms -1", "GET", "/v1/groups/g/members/{M}/records?max_wait_ms=-1", NULL, NULL, 0, BAD400 },
	{ "max_wait_ms 1e9", "GET", "/v1/groups/g/members/{M}/records?max_wait_ms=1000000000", NULL, NULL, 0, BAD400 },
	{ "max_records abc", "GET", "/v1/groups/g/members/{M}/records?max_records=abc", NULL, NULL, 0, BAD400 },
	{ "max_bytes 0", "GET", "/v1/groups/g/members/{M}/records?max_bytes=0", NULL, NULL, 0, BAD400 },
	{ "unknown member", "GET", "/v1/groups/g/members/nosuch/records", NULL, NULL, 0, 404, "UNKNOWN_MEMBER" },
	/* commits */
	{ "broken JSON", "POST", "/v1/groups/g/offsets", JSON, "{\"offsets\":[", 0, BAD400 },
	{ "truncated body", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2", 0, BAD400 },
	{ "offsets an object", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":{\"topic\":\"mj\"}}", 0, BAD400 },
	{ "offset a string", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":\"2\"}]}", 0, BAD400 },
	{ "partition a string", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":\"0\",\"offset\":2}]}", 0, BAD400 },
	{ "generation a string", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":\"{G}\",\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2}]}", 0, BAD400 },
	{ "metadata a number", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2,\"metadata\":5}]}", 0, BAD400 },
	{ "offset 1e30", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":1e30}]}", 0, BAD400 },
	{ "offset -5", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":-5}]}", 0, BAD400 },
	{ "partition -1", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":-1,\"offset\":2}]}", 0, BAD400 },
	{ "generation -7", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":-7,\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2}]}", 0, BAD400 },
	{ "invalid UTF-8 metadata", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2,\"metadata\":\"\xed\xbf\xbf\"}]}", 0, BAD400 },
	{ "unknown member in the body", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2,\"leader_epoch\":1}]}", 0, BAD400 },
	{ "partition 7 of 2", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":7,\"offset\":2}]}", 0,
	  404, "UNKNOWN_PARTITION" },
	{ "unknown topic", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"nope\",\"partition\":0,\"offset\":2}]}", 0,
	  404, "UNKNOWN_TOPIC" },
	{ "text/plain", "POST", "/v1/groups/g/offsets", "text/plain",
	  "{\"member_id\":\"{M}\",\"generation\":{G},\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2}]}", 0,
	  415, "UNSUPPORTED_MEDIA_TYPE" },
	{ "a stale generation", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"member_id\":\"{M}\",\"generation\":12345,\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2}]}", 0,
	  409, "ILLEGAL_GENERATION" },
	{ "group-less commit while the group has members", "POST", "/v1/groups/g/offsets", JSON,
	  "{\"offsets\":[{\"topic\":\"mj\",\"partition\":0,\"offset\":2}]}", 0, 409, "GROUP_NOT_EMPTY" },
	{ "group ..", "DELETE", "/v1/groups/%2E%2E", NULL, NULL, 0, BAD400 },
};

/* Copy s with {M} and {G} replaced by the member id and generation. */
static char *expand(const char *s)
{
	buf_t out = BUF_INIT;

	if (s == NULL)
		return NULL;
	while (*s) {
		if (strncmp(s, "{M}", 3) == 0) {
			buf_append_str(&out, member_id);
			s += 3;
		} else if (strncmp(s, "{G}", 3) == 0) {
			buf_appendf(&out, "%" PRId64, generation);
			s += 3;
		} else {
			buf_append(&out, s++, 1);
		}
	}
	return out.data ? out.data : strdup("");
}

/* ---- the test ------------------------------------------------------------------ */

/* `strand log check DIR` on every partition directory: exit 0. */
static void log_check_all(void)
{
	const char *bin = getenv("STRAND_BIN") ? getenv("STRAND_BIN") : "./strand";
	char cmd[1024];
	int i, p, st;

	for (i = 0; i < NTOPICS; i++)
		for (p = 0; p < NPARTS; p++) {
			snprintf(cmd, sizeof cmd, "'%s' log check '%s/%s-%d' >/dev/null", bin,
			         srv.data_dir, topics[i], p);
			st = system(cmd);
			ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
			              "strand log check on %s-%d: status %d", topics[i], p, st);
		}
}

START_TEST(test_malformed_matrix_changes_nothing)
{
	char *before, *after;
	size_t i;

	server_up();
	setup_state();
	before = snapshot();

	run_cases(topic_cases, sizeof topic_cases / sizeof topic_cases[0]);
	run_cases(produce_cases, sizeof produce_cases / sizeof produce_cases[0]);
	binary_cases();
	size_cases();
	run_cases(fetch_cases, sizeof fetch_cases / sizeof fetch_cases[0]);
	for (i = 0; i < sizeof group_cases / sizeof group_cases[0]; i++) {
		mcase_t c = group_cases[i];
		char *path = expand(c.path), *body = expand(c.body);

		c.path = path;
		c.body = body;
		c.len = 0;
		run_case(&c);
		free(path);
		free(body);
	}
	ck_assert_msg(nfailures == 0, "%d of %d cases answered otherwise:\n%s", nfailures, ncases,
	              failures.data);
	printf("malformed matrix: %d cases, each refused with its documented problem\n", ncases);
	{
		/* no member was made by a refused join (the group may not exist at all) */
		http_response_t r;
		cJSON *doc, *members;

		if (http_get(&srv, "/v1/groups/g2", &r) != 404) {
			ck_assert_int_eq(r.status, 200);
			doc = http_body_json(&r);
			members = cJSON_GetObjectItem(doc, "members");
			ck_assert_msg(members == NULL || cJSON_GetArraySize(members) == 0,
			              "group g2 has members after refused joins: %s", r.body.data);
			cJSON_Delete(doc);
		}
		http_response_free(&r);
	}
	after = snapshot();
	ck_assert_msg(strcmp(before, after) == 0, "state changed:\nbefore:\n%s\nafter:\n%s", before, after);
	free(before);
	free(after);

	ck_assert_int_eq(harness_stop(&srv, SIGTERM), 0);
	log_check_all();
	harness_teardown(&srv);
}
END_TEST

static Suite *malformed_suite(void)
{
	Suite *s = suite_create("malformed");
	TCase *tc = tcase_create("matrix");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_malformed_matrix_changes_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(malformed_suite());
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
