/*
 * test_forward.c — relaying requests to the broker that serves them
 * (api/forward.c) between two brokers in this process, without etcd: each
 * runs the real HTTP edge (api_start) on 127.0.0.1 port 0 over its own
 * data directory, and a locator set by the test says who leads what —
 * partition 0 of every topic on broker 2, partition 1 on broker 1,
 * partition 2 on nobody, groups on broker 2, and for topic "loop" each
 * broker believes the other leads (a stale view on both sides).
 *
 * Checked: a request to the non-leader gets the leader's answer with
 * Strand-Served-By naming the leader (produce JSON and binary, fetch JSON,
 * binary and SSE, list offsets, group join), local answers name the local
 * broker, `Strand-Route: direct` gets 421 NOT_LEADER with leader_url, a
 * request is relayed at most once (the "loop" topic gets 421, not a
 * ping-pong), a 421 naming a third broker (the relaying broker's view was
 * stale) is sent on there once, a relayed long poll is woken by an append on the leader, a
 * large answer streams through to a slow reader byte for byte, a leader
 * that is down gives 503 UNAVAILABLE with Retry-After at once,
 * answers with no leader give 503, and with authentication a relay sends
 * its own token and its client's principal, whom the leader checks
 * against its own rules (a produce the relay allows and the leader does
 * not is refused 403, whole or split).
 *
 * Waits are on conditions with deadlines, never sleeps.
 */
#include <check.h>
#include <curl/curl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/forward.h"
#include "api/http.h"
#include "broker/broker.h"
#include "common/err.h"
#include "harness.h"

typedef struct node {
	int32_t   id;
	char      dir[64];
	broker_t *broker;
	api_t    *api;
	harness_t h;          /* only base_url is used: http_request's target */
} node_t;

static node_t nodes[3];   /* nodes[i] is broker i + 1; the third only where a test starts it */

/* ---- the test's locator ---------------------------------------------------- */

static int locate_partition(void *ctx, const char *topic, int32_t p, int32_t *id,
                            char *url, size_t urllen)
{
	node_t *self = ctx, *leader;

	if (strcmp(topic, "loop") == 0)
		leader = self == &nodes[0] ? &nodes[1] : &nodes[0];
	else if (strcmp(topic, "moved") == 0)   /* broker 1's view is stale */
		leader = self == &nodes[0] ? &nodes[1] : &nodes[2];
	else if (p == 0)
		leader = &nodes[1];
	else if (p == 1)
		leader = &nodes[0];
	else
		return STRAND_ENOTLEADER;   /* no leader now */
	*id = leader->id;
	snprintf(url, urllen, "%s", leader->h.base_url);
	return 0;
}

static int locate_group(void *ctx, const char *group, int32_t *id, char *url, size_t urllen)
{
	(void)ctx;
	(void)group;
	*id = nodes[1].id;
	snprintf(url, urllen, "%s", nodes[1].h.base_url);
	return 0;
}

/* ---- set-up ------------------------------------------------------------------ */

static void write_text(const char *dir, const char *name, const char *text, char *path,
                       size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/*
 * Start broker id; with tokens (a token file's text) it authenticates, with
 * acls it enforces those rules, and peer_token is its own token for the
 * requests it relays (api_options_t.peer_token).
 */
static void node_start_auth(node_t *n, int32_t id, const char *tokens, const char *acls,
                            const char *peer_token)
{
	broker_options_t bo;
	api_options_t ao;
	api_locator_t loc;
	char err[512], data[128], tpath[128], apath[128];
	acl_t *acl = NULL;

	memset(n, 0, sizeof *n);
	n->id = id;
	snprintf(n->dir, sizeof n->dir, "/tmp/strand-fwd-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(n->dir));
	if (tokens != NULL) {
		write_text(n->dir, "tokens", tokens, tpath, sizeof tpath);
		if (acls != NULL)
			write_text(n->dir, "acls", acls, apath, sizeof apath);
		ck_assert_msg(acl_load(tpath, acls ? apath : NULL, &acl, err, sizeof err) == 0,
		              "acl_load: %s", err);
	}
	snprintf(data, sizeof data, "%s/data", n->dir);
	memset(&bo, 0, sizeof bo);
	bo.data_dir = data;
	ck_assert_msg(broker_open(&bo, &n->broker, err, sizeof err) == 0, "broker_open: %s", err);
	memset(&ao, 0, sizeof ao);
	ao.threads = 2;
	ao.www_dir = "";
	ao.acl = acl;
	ao.peer_token = peer_token;
	ck_assert_msg(api_start(&ao, n->broker, &n->api, err, sizeof err) == 0,
	              "api_start: %s", err);
	snprintf(n->h.base_url, sizeof n->h.base_url, "http://127.0.0.1:%u",
	         (unsigned)api_port(n->api));
	loc.self_id = id;
	loc.partition_leader = locate_partition;
	loc.group_coordinator = locate_group;
	loc.ctx = n;
	api_set_locator(n->api, &loc);
}

static void node_start(node_t *n, int32_t id)
{
	node_start_auth(n, id, NULL, NULL, NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(path);
}

static void node_stop(node_t *n)
{
	api_stop(n->api, 2000);
	n->api = NULL;
	broker_close(n->broker);
	n->broker = NULL;
}

static void setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&nodes[2], 0, sizeof nodes[2]);
	node_start(&nodes[0], 1);
	node_start(&nodes[1], 2);
}

static void teardown(void)
{
	for (int i = 0; i < 3; i++) {
		if (nodes[i].api != NULL)
			node_stop(&nodes[i]);
		if (nodes[i].dir[0] != '\0')
			nftw(nodes[i].dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- helpers ----------------------------------------------------------------- */

#define ASSERT_STATUS(r, want) \
	ck_assert_msg((r).status == (want), "%s:%d: status %ld, expected %d; body: %.400s%s%s", \
	              __FILE__, __LINE__, (r).status, (want), \
	              (r).body.data ? (r).body.data : "", (r).error[0] ? "; curl: " : "", (r).error)

#define ASSERT_PROBLEM(r, st, code) do { \
	char why_[600]; \
	ck_assert_msg(http_is_problem(&(r), (st), (code), why_, sizeof why_), \
	              "%s:%d: expected %d %s: %s", __FILE__, __LINE__, (st), (code), why_); \
} while (0)

#define ASSERT_SERVED_BY(r, want) do { \
	char sb_[32]; \
	ck_assert_msg(http_header(&(r), "Strand-Served-By", sb_, sizeof sb_) != NULL, \
	              "%s:%d: no Strand-Served-By", __FILE__, __LINE__); \
	ck_assert_msg(atoi(sb_) == (want), "%s:%d: Strand-Served-By %s, expected %d", \
	              __FILE__, __LINE__, sb_, (want)); \
} while (0)

/* The topic on every broker running (each has every topic, REPL-PLAN.md). */
static void create_topic_everywhere(const char *name, int partitions)
{
	char json[160];

	snprintf(json, sizeof json, "{\"name\":\"%s\",\"partitions\":%d}", name, partitions);
	for (int i = 0; i < 3 && nodes[i].api != NULL; i++) {
		http_response_t r;

		http_json(&nodes[i].h, "POST", "/v1/topics", json, &r);
		ASSERT_STATUS(r, 201);
		http_response_free(&r);
	}
}

static int64_t local_end_offset(node_t *n, const char *topic, int32_t p)
{
	topic_t *t = broker_topic_get(n->broker, topic);
	int64_t leo;

	ck_assert_ptr_nonnull(t);
	leo = log_end_offset(topic_partition_log(t, p));
	topic_release(t);
	return leo;
}

static const char *const direct_hdr[] = { "Strand-Route: direct", NULL };

/* ---- tests ------------------------------------------------------------------- */

START_TEST(test_produce_and_fetch_relayed)
{
	http_response_t r;
	cJSON *doc, *recs;
	char v[64];

	create_topic_everywhere("t", 3);
	/* broker 1 relays partition 0 to its leader, broker 2 */
	http_json(&nodes[0].h, "POST", "/v1/topics/t/partitions/0/records",
	          "{\"records\":[{\"value\":1},{\"value\":2},{\"value\":3}]}", &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 2);
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"offset\":2"));
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 0), 3);
	ck_assert_int_eq(local_end_offset(&nodes[0], "t", 0), 0);

	/* fetched through broker 1: broker 2's records */
	http_get(&nodes[0].h, "/v1/topics/t/partitions/0/records?offset=0", &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 2);
	doc = http_body_json(&r);
	ck_assert_ptr_nonnull(doc);
	recs = cJSON_GetObjectItem(doc, "records");
	ck_assert_int_eq(cJSON_GetArraySize(recs), 3);
	ck_assert_int_eq((int)cJSON_GetObjectItem(doc, "next_offset")->valuedouble, 3);
	cJSON_Delete(doc);
	http_response_free(&r);

	/* binary fetch: the offset headers come through too */
	{
		const char *const accept[] = { "Accept: application/vnd.strand.batch", NULL };

		http_request(&nodes[0].h, "GET", "/v1/topics/t/partitions/0/records?offset=0", NULL,
		             NULL, 0, accept, &r);
		ASSERT_STATUS(r, 200);
		ASSERT_SERVED_BY(r, 2);
		ck_assert_ptr_nonnull(http_header(&r, "Strand-Next-Offset", v, sizeof v));
		ck_assert_str_eq(v, "3");
		ck_assert_ptr_nonnull(http_header(&r, "Content-Type", v, sizeof v));
		ck_assert_str_eq(v, "application/vnd.strand.batch");
		ck_assert_uint_gt(r.body.len, 61);
		http_response_free(&r);
	}

	/* list offsets, relayed */
	http_get(&nodes[0].h, "/v1/topics/t/partitions/0/offsets?timestamp=latest", &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 2);
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"offset\":3"));
	http_response_free(&r);

	/* partition 1 is broker 1's own: served where it is asked */
	http_json(&nodes[0].h, "POST", "/v1/topics/t/partitions/1/records",
	          "{\"records\":[{\"value\":\"x\"}]}", &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 1);
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[0], "t", 1), 1);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 1), 0);

	/* every answer names its broker, errors and topic-level ones too */
	http_get(&nodes[0].h, "/v1/topics/nope", &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_TOPIC");
	ASSERT_SERVED_BY(r, 1);
	http_response_free(&r);
}
END_TEST

START_TEST(test_direct_gets_421)
{
	http_response_t r;
	cJSON *doc;

	create_topic_everywhere("t", 3);
	http_request(&nodes[0].h, "POST", "/v1/topics/t/partitions/0/records", "application/json",
	             "{\"records\":[{\"value\":1}]}", 24, direct_hdr, &r);
	ASSERT_PROBLEM(r, 421, "NOT_LEADER");
	ASSERT_SERVED_BY(r, 1);
	doc = http_body_json(&r);
	ck_assert_str_eq(cJSON_GetObjectItem(doc, "leader_url")->valuestring, nodes[1].h.base_url);
	ck_assert_int_eq((int)cJSON_GetObjectItem(doc, "leader")->valuedouble, 2);
	cJSON_Delete(doc);
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[0], "t", 0), 0);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 0), 0);

	/* a fetch likewise; and direct to the leader is served */
	http_request(&nodes[0].h, "GET", "/v1/topics/t/partitions/0/records?offset=0", NULL, NULL,
	             0, direct_hdr, &r);
	ASSERT_PROBLEM(r, 421, "NOT_LEADER");
	http_response_free(&r);
	http_request(&nodes[1].h, "GET", "/v1/topics/t/partitions/0/records?offset=0", NULL, NULL,
	             0, direct_hdr, &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 2);
	http_response_free(&r);

	/* no leader right now: 503 with Retry-After, direct or not */
	http_json(&nodes[0].h, "POST", "/v1/topics/t/partitions/2/records",
	          "{\"records\":[{\"value\":1}]}", &r);
	ASSERT_PROBLEM(r, 503, "UNAVAILABLE");
	http_response_free(&r);
}
END_TEST

START_TEST(test_relayed_once)
{
	http_response_t r;

	/* each broker thinks the other leads "loop": broker 1 relays to 2,
	 * which sees the relay mark and answers 421 instead of relaying back */
	create_topic_everywhere("loop", 1);
	http_json(&nodes[0].h, "POST", "/v1/topics/loop/partitions/0/records",
	          "{\"records\":[{\"value\":1}]}", &r);
	ASSERT_PROBLEM(r, 421, "NOT_LEADER");
	ASSERT_SERVED_BY(r, 2);
	ck_assert_ptr_nonnull(strstr(r.body.data, nodes[0].h.base_url));
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[0], "loop", 0), 0);
	ck_assert_int_eq(local_end_offset(&nodes[1], "loop", 0), 0);
}
END_TEST

typedef struct poll_arg {
	http_response_t r;
	int64_t         elapsed_ms;
} poll_arg_t;

static void *long_poll(void *arg)
{
	poll_arg_t *a = arg;
	int64_t t0 = now_ms();

	http_get(&nodes[0].h, "/v1/topics/t/partitions/0/records?offset=0&max_wait_ms=20000",
	         &a->r);
	a->elapsed_ms = now_ms() - t0;
	return NULL;
}

START_TEST(test_relayed_long_poll)
{
	poll_arg_t a;
	pthread_t th;
	http_response_t r;
	int64_t deadline;

	memset(&a, 0, sizeof a);
	create_topic_everywhere("t", 3);
	ck_assert_int_eq(pthread_create(&th, NULL, long_poll, &a), 0);
	/* the relayed poll is parked on the leader, and the client's on broker 1 */
	deadline = now_ms() + 10000;
	while ((api_parked_count(nodes[1].api) < 1 || api_parked_count(nodes[0].api) < 1) &&
	       now_ms() < deadline)
		sched_yield();
	ck_assert_int_ge(api_parked_count(nodes[1].api), 1);
	http_json(&nodes[1].h, "POST", "/v1/topics/t/partitions/0/records",
	          "{\"records\":[{\"value\":\"wake\"}]}", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	pthread_join(th, NULL);
	ASSERT_STATUS(a.r, 200);
	ASSERT_SERVED_BY(a.r, 2);
	ck_assert_ptr_nonnull(strstr(a.r.body.data, "wake"));
	ck_assert_int_lt(a.elapsed_ms, 15000);
	fprintf(stderr, "relayed long poll answered %" PRId64 " ms after it was sent\n",
	        a.elapsed_ms);
	http_response_free(&a.r);
}
END_TEST

/* A client that reads slowly: the relay must pause the leader's transfer. */
typedef struct slow_reader {
	buf_t   body;
	int64_t chunks;
} slow_reader_t;

static size_t slow_on_data(char *p, size_t size, size_t n, void *arg)
{
	slow_reader_t *s = arg;

	s->chunks++;
	return buf_append(&s->body, p, size * n) == 0 ? size * n : 0;
}

START_TEST(test_large_answer_streams)
{
	const size_t nrec = 3000, vlen = 1000;
	http_response_t direct, r;
	slow_reader_t slow;
	buf_t body = BUF_INIT;
	char path[160];
	long status = 0;
	CURL *c;

	create_topic_everywhere("t", 3);
	buf_append_str(&body, "{\"records\":[");
	for (size_t i = 0; i < nrec; i++) {
		buf_appendf(&body, "%s{\"value\":\"", i ? "," : "");
		for (size_t j = 0; j < vlen; j++)
			buf_append(&body, "abcdefghijklmnopqrstuvwxyz" + (i + j) % 26, 1);
		buf_append_str(&body, "\"}");
	}
	buf_append_str(&body, "]}");
	/* through broker 1: the request body is relayed whole */
	http_request(&nodes[0].h, "POST", "/v1/topics/t/partitions/0/records", "application/json",
	             body.data, body.len, NULL, &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	buf_free(&body);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 0), (int64_t)nrec);

	snprintf(path, sizeof path, "/v1/topics/t/partitions/0/records?offset=0&max_records=%zu"
	         "&max_bytes=16000000", nrec);
	http_get(&nodes[1].h, path, &direct);
	ASSERT_STATUS(direct, 200);
	ck_assert_uint_gt(direct.body.len, nrec * vlen);

	/* the same through broker 1, read at 8 MB/s: many times the relay's buffer */
	memset(&slow, 0, sizeof slow);
	c = curl_easy_init();
	{
		char url[256];

		snprintf(url, sizeof url, "%s%s", nodes[0].h.base_url, path);
		curl_easy_setopt(c, CURLOPT_URL, url);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, slow_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &slow);
	curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)8 * 1024 * 1024);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 16384L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	ck_assert_int_eq(status, 200);
	ck_assert_uint_eq(slow.body.len, direct.body.len);
	ck_assert_int_eq(memcmp(slow.body.data, direct.body.data, direct.body.len), 0);
	buf_free(&slow.body);
	http_response_free(&direct);
}
END_TEST

/* SSE through the relay: the first events arrive while the stream is open. */
typedef struct sse_reader {
	buf_t text;
	int   seen;
} sse_reader_t;

static size_t sse_on_data(char *p, size_t size, size_t n, void *arg)
{
	sse_reader_t *s = arg;

	buf_append(&s->text, p, size * n);
	if (strstr(s->text.data, "id: 1\n") != NULL) {
		s->seen = 1;
		return 0;   /* enough: hang up */
	}
	return size * n;
}

START_TEST(test_sse_relayed)
{
	struct curl_slist *hl = NULL;
	sse_reader_t s;
	http_response_t r;
	char url[256];
	CURL *c;

	create_topic_everywhere("t", 3);
	http_json(&nodes[1].h, "POST", "/v1/topics/t/partitions/0/records",
	          "{\"records\":[{\"value\":\"a\"},{\"value\":\"b\"}]}", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	memset(&s, 0, sizeof s);
	c = curl_easy_init();
	snprintf(url, sizeof url, "%s/v1/topics/t/partitions/0/records?offset=0",
	         nodes[0].h.base_url);
	hl = curl_slist_append(hl, "Accept: text/event-stream");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_WRITE_ERROR);   /* we hung up */
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
	ck_assert_int_eq(s.seen, 1);
	ck_assert_ptr_nonnull(strstr(s.text.data, "id: 0\n"));
	buf_free(&s.text);
}
END_TEST

START_TEST(test_group_relayed)
{
	http_response_t r;
	char path[300];
	cJSON *doc;

	create_topic_everywhere("t", 3);
	http_json(&nodes[0].h, "POST", "/v1/groups/g/members",
	          "{\"topics\":[\"t\"],\"rebalance_timeout_ms\":5000}", &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 2);
	doc = http_body_json(&r);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(doc, "member_id"));
	snprintf(path, sizeof path, "/v1/groups/g/members/%s",
	         cJSON_GetObjectItem(doc, "member_id")->valuestring);
	cJSON_Delete(doc);
	http_response_free(&r);
	/* the group lives on broker 2: described through either broker */
	http_get(&nodes[0].h, "/v1/groups/g", &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 2);
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"members\""));
	http_response_free(&r);
	/* leave (204, no body) through broker 1; the group is empty on broker 2 */
	http_request(&nodes[0].h, "DELETE", path, NULL, NULL, 0, NULL, &r);
	ASSERT_STATUS(r, 204);
	ASSERT_SERVED_BY(r, 2);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
	http_get(&nodes[1].h, "/v1/groups/g", &r);
	ASSERT_STATUS(r, 200);
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"members\":[]"));
	http_response_free(&r);
}
END_TEST

START_TEST(test_leader_down_503)
{
	http_response_t r;
	int64_t t0;

	create_topic_everywhere("t", 3);
	node_stop(&nodes[1]);
	t0 = now_ms();
	http_json(&nodes[0].h, "POST", "/v1/topics/t/partitions/0/records",
	          "{\"records\":[{\"value\":1}]}", &r);
	ASSERT_PROBLEM(r, 503, "UNAVAILABLE");
	ASSERT_SERVED_BY(r, 1);
	ck_assert_ptr_nonnull(strstr(r.body.data, "broker 2"));
	ck_assert_int_lt(now_ms() - t0, FORWARD_CONNECT_TIMEOUT_MS + 1000);
	http_response_free(&r);
	http_get(&nodes[0].h, "/v1/topics/t/partitions/0/records?offset=0&max_wait_ms=5000", &r);
	ASSERT_PROBLEM(r, 503, "UNAVAILABLE");
	http_response_free(&r);
	/* what broker 1 leads is not affected */
	http_json(&nodes[0].h, "POST", "/v1/topics/t/partitions/1/records",
	          "{\"records\":[{\"value\":1}]}", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
}
END_TEST

START_TEST(test_produce_split_by_leader)
{
	static const char body[] =
		"{\"records\":[{\"value\":\"a\",\"partition\":1},{\"value\":\"b\",\"partition\":0},"
		"{\"value\":\"c\",\"partition\":1},{\"value\":\"d\",\"partition\":0}]}";
	http_response_t r;

	create_topic_everywhere("t", 3);
	/* partition 1 is appended here, partition 0 sent to broker 2 as a
	 * binary batch; the offsets come back in request order */
	http_json(&nodes[0].h, "POST", "/v1/topics/t/records", body, &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 1);
	ck_assert_str_eq(r.body.data, "{\"offsets\":[{\"partition\":1,\"offset\":0},"
	                 "{\"partition\":0,\"offset\":0},{\"partition\":1,\"offset\":1},"
	                 "{\"partition\":0,\"offset\":1}]}");
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[0], "t", 1), 2);
	ck_assert_int_eq(local_end_offset(&nodes[0], "t", 0), 0);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 0), 2);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 1), 0);
	/* the same again: offsets move on on both sides */
	http_json(&nodes[0].h, "POST", "/v1/topics/t/records?acks=1", body, &r);
	ASSERT_STATUS(r, 200);
	ck_assert_ptr_nonnull(strstr(r.body.data, "{\"partition\":0,\"offset\":3}"));
	ck_assert_ptr_nonnull(strstr(r.body.data, "{\"partition\":1,\"offset\":3}"));
	http_response_free(&r);
	/* the records are the values sent, on the leader */
	http_get(&nodes[1].h, "/v1/topics/t/partitions/0/records?offset=0", &r);
	ASSERT_STATUS(r, 200);
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"value\":\"b\""));
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"value\":\"d\""));
	ck_assert_ptr_null(strstr(r.body.data, "\"value\":\"a\""));
	http_response_free(&r);
	/* acks=0: 202 once both are sent and answered */
	http_json(&nodes[0].h, "POST", "/v1/topics/t/records?acks=0", body, &r);
	ASSERT_STATUS(r, 202);
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 0), 6);
	ck_assert_int_eq(local_end_offset(&nodes[0], "t", 1), 6);

	/* direct with a partition led elsewhere: 421, and nothing appended */
	http_request(&nodes[0].h, "POST", "/v1/topics/t/records", "application/json", body,
	             strlen(body), direct_hdr, &r);
	ASSERT_PROBLEM(r, 421, "NOT_LEADER");
	ck_assert_ptr_nonnull(strstr(r.body.data, nodes[1].h.base_url));
	http_response_free(&r);
	/* a partition without a leader: 503, and nothing appended */
	http_json(&nodes[0].h, "POST", "/v1/topics/t/records",
	          "{\"records\":[{\"value\":1,\"partition\":1},{\"value\":2,\"partition\":2}]}", &r);
	ASSERT_PROBLEM(r, 503, "UNAVAILABLE");
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 0), 6);
	ck_assert_int_eq(local_end_offset(&nodes[0], "t", 1), 6);

	/* the leader refuses its part: its answer is the request's */
	node_stop(&nodes[1]);
	http_json(&nodes[0].h, "POST", "/v1/topics/t/records", body, &r);
	ASSERT_PROBLEM(r, 503, "UNAVAILABLE");
	ck_assert_ptr_nonnull(strstr(r.body.data, "broker 2"));
	http_response_free(&r);
}
END_TEST

START_TEST(test_stale_view_sent_on_once)
{
	http_response_t r;

	/* broker 1 believes broker 2 leads "moved"; brokers 2 and 3 know it is 3 */
	node_start(&nodes[2], 3);
	create_topic_everywhere("moved", 1);
	http_json(&nodes[0].h, "POST", "/v1/topics/moved/partitions/0/records",
	          "{\"records\":[{\"value\":1},{\"value\":2}]}", &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 3);
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[2], "moved", 0), 2);
	ck_assert_int_eq(local_end_offset(&nodes[1], "moved", 0), 0);
	ck_assert_int_eq(local_end_offset(&nodes[0], "moved", 0), 0);
	http_get(&nodes[0].h, "/v1/topics/moved/partitions/0/records?offset=0", &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 3);
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"next_offset\":2"));
	http_response_free(&r);
	/* direct: broker 1 answers from its own (stale) view */
	http_request(&nodes[0].h, "GET", "/v1/topics/moved/partitions/0/records?offset=0", NULL,
	             NULL, 0, direct_hdr, &r);
	ASSERT_PROBLEM(r, 421, "NOT_LEADER");
	ck_assert_ptr_nonnull(strstr(r.body.data, nodes[1].h.base_url));
	http_response_free(&r);
}
END_TEST

/*
 * A relay authenticates as itself and names its client (KIP-590): the
 * leader applies the client's ACLs, its own copy of them, never the
 * relay's rights. Here the two brokers' files differ on purpose: broker 1
 * lets alice write topic t, broker 2 (partition 0's leader) does not;
 * and alice's token is not even the same on both, so the leader can only
 * have taken her principal from the relay, not her token.
 */
START_TEST(test_relay_carries_the_client_not_its_rights)
{
	static const char *const alice1[] = { "Authorization: Bearer alice-token-on-broker-1", NULL };
	static const char body[] = "{\"records\":[{\"value\":\"x\",\"partition\":0}]}";
	static const char create[] = "{\"name\":\"t\",\"partitions\":3}";
	const char *acl_2_read = "broker-1 cluster_action cluster *\n"
	                         "broker-2 cluster_action cluster *\n"
	                         "alice read topic t\n"
	                         "admin admin cluster *\n";
	http_response_t r;

	node_stop(&nodes[0]);
	node_stop(&nodes[1]);
	nftw(nodes[0].dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	nftw(nodes[1].dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	node_start_auth(&nodes[0], 1,
	                "alice-token-on-broker-1 alice\nbroker-1-token-0123456789 broker-1\n",
	                "broker-1 cluster_action cluster *\n"
	                "alice write topic t\nalice read topic t\nalice admin cluster *\n",
	                "broker-1-token-0123456789");
	node_start_auth(&nodes[1], 2,
	                "alice-token-on-broker-2 alice\nbroker-1-token-0123456789 broker-1\n"
	                "admin-token-0123456789 admin\n", acl_2_read, NULL);
	http_request(&nodes[0].h, "POST", "/v1/topics", "application/json",
	             create, strlen(create), alice1, &r);
	ASSERT_STATUS(r, 201);
	http_response_free(&r);
	{
		static const char *const admin[] = { "Authorization: Bearer admin-token-0123456789",
		                                     NULL };

		http_request(&nodes[1].h, "POST", "/v1/topics", "application/json",
		             create, strlen(create), admin, &r);
		ASSERT_STATUS(r, 201);
		http_response_free(&r);
	}
	/* relayed whole (partition path) and split (topic path): the leader says no */
	http_request(&nodes[0].h, "POST", "/v1/topics/t/partitions/0/records", "application/json",
	             body, strlen(body), alice1, &r);
	ASSERT_PROBLEM(r, 403, "FORBIDDEN");
	ck_assert_msg(strstr(r.body.data, "alice may not write topic t") != NULL, "%s", r.body.data);
	ASSERT_SERVED_BY(r, 2);
	http_response_free(&r);
	http_request(&nodes[0].h, "POST", "/v1/topics/t/records", "application/json",
	             body, strlen(body), alice1, &r);
	ASSERT_PROBLEM(r, 403, "FORBIDDEN");
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 0), 0);
	/* what the leader grants her goes through: a relayed fetch */
	http_request(&nodes[0].h, "GET", "/v1/topics/t/partitions/0/records?offset=0", NULL, NULL,
	             0, alice1, &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 2);
	http_response_free(&r);
	/* the leader gives her write (a SIGHUP's swap): the same produce is taken */
	{
		char tpath[128], apath[128], err[256];
		acl_t *acl = NULL;

		write_text(nodes[1].dir, "tokens2", "alice-token-on-broker-2 alice\n"
		           "broker-1-token-0123456789 broker-1\n", tpath, sizeof tpath);
		write_text(nodes[1].dir, "acls2", "broker-1 cluster_action cluster *\n"
		           "alice write topic t\n", apath, sizeof apath);
		ck_assert_msg(acl_load(tpath, apath, &acl, err, sizeof err) == 0, "%s", err);
		api_set_acl(nodes[1].api, acl);
	}
	http_request(&nodes[0].h, "POST", "/v1/topics/t/partitions/0/records", "application/json",
	             body, strlen(body), alice1, &r);
	ASSERT_STATUS(r, 200);
	ASSERT_SERVED_BY(r, 2);
	http_response_free(&r);
	ck_assert_int_eq(local_end_offset(&nodes[1], "t", 0), 1);
}
END_TEST

static Suite *forward_suite(void)
{
	Suite *s = suite_create("forward");
	TCase *tc = tcase_create("two brokers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_produce_and_fetch_relayed);
	tcase_add_test(tc, test_direct_gets_421);
	tcase_add_test(tc, test_relayed_once);
	tcase_add_test(tc, test_relayed_long_poll);
	tcase_add_test(tc, test_large_answer_streams);
	tcase_add_test(tc, test_sse_relayed);
	tcase_add_test(tc, test_group_relayed);
	tcase_add_test(tc, test_leader_down_503);
	tcase_add_test(tc, test_produce_split_by_leader);
	tcase_add_test(tc, test_stale_view_sent_on_once);
	tcase_add_test(tc, test_relay_carries_the_client_not_its_rights);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(forward_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
