/*
 * test_replication.c — brokers replicating over HTTP inside one test
 * process: each node is a broker with its own data directory and its own
 * HTTP edge (api_start on 127.0.0.1, port chosen at run time). Partition
 * states are set by hand with broker_partition_set_state, as the etcd
 * watcher (src/cluster/meta.c) would set them, so no etcd is needed.
 *
 * Covered: the leader's POST /v1/internal/replica/epoch_end (KIP-279
 * answers, epoch fencing, request checks).
 *
 * No sleeping to let things settle: every wait polls a condition with a
 * deadline.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "api/http.h"
#include "broker/broker.h"
#include "broker/replica.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"
#include "../log/testutil.h"

#define T0      ((int64_t)1700000000000)
#define NODES   3
#define WAIT_MS 20000

static char g_dir[PATH_MAX];

typedef struct node {
	int32_t   id;
	broker_t *b;
	api_t    *api;
	char      url[64];
	char      dir[PATH_MAX];
} node_t;

static node_t nodes[NODES + 1];   /* by broker id, 1..NODES */

static void setup(void)
{
	tu_mkdtemp(g_dir, sizeof(g_dir));
	memset(nodes, 0, sizeof nodes);
}

static void node_stop(node_t *n);

static void teardown(void)
{
	for (int i = 1; i <= NODES; i++)
		node_stop(&nodes[i]);
	tu_rm_rf(g_dir);
	g_dir[0] = '\0';
}

static int always_valid(void *ctx)
{
	(void)ctx;
	return 1;
}

/* Broker id with its HTTP edge, topic "t" (partitions, rf 3) created locally
 * as the etcd watcher would. */
static node_t *node_start(int32_t id, int32_t partitions)
{
	node_t *n = &nodes[id];
	broker_options_t bo;
	api_options_t ao;
	char err[512] = "";

	n->id = id;
	snprintf(n->dir, sizeof n->dir, "%s/broker-%d", g_dir, (int)id);
	memset(&bo, 0, sizeof bo);
	bo.data_dir = n->dir;
	bo.broker_id = id;
	bo.advertised_url = "http://127.0.0.1:0";
	bo.tick_ms = 1000;
	tu_assert_msg(broker_open(&bo, &n->b, err, sizeof err) == 0, "broker_open: %s", err);
	broker_set_lease_check(n->b, always_valid, NULL);
	tu_assert_msg(broker_topic_create(n->b, "t", partitions, 3, NULL, err, sizeof err) == 0,
	              "create: %s", err);
	memset(&ao, 0, sizeof ao);
	ao.listen_host = "127.0.0.1";
	ao.threads = 2;
	ao.www_dir = "";
	tu_assert_msg(api_start(&ao, n->b, &n->api, err, sizeof err) == 0, "api_start: %s", err);
	snprintf(n->url, sizeof n->url, "http://127.0.0.1:%u", (unsigned)api_port(n->api));
	return n;
}

static void node_stop(node_t *n)
{
	if (n->api != NULL)
		api_stop(n->api, 1000);
	n->api = NULL;
	broker_close(n->b);
	n->b = NULL;
}

/* Partition p's state on node n: replicas 1..3, this leader and epoch. */
static void node_set_state(node_t *n, int32_t p, int32_t leader, int32_t epoch, int64_t version)
{
	partition_state_t st;
	char err[256] = "";

	memset(&st, 0, sizeof st);
	st.nreplicas = st.nisr = NODES;
	for (int i = 0; i < NODES; i++)
		st.replicas[i] = st.isr[i] = i + 1;
	st.leader = leader;
	st.leader_epoch = epoch;
	st.version = version;
	tu_assert_msg(broker_partition_set_state(n->b, "t", p, &st, err, sizeof err) == 0,
	              "set_state on %d: %s", (int)n->id, err);
}

/* Write count records into partition p's log of node under leader epoch
 * epoch (as the leader's appends in that epoch would). */
static void node_write(node_t *n, int32_t p, int count, uint64_t first_id, int32_t epoch)
{
	batch_builder_t bb;
	topic_t *t = broker_topic_get(n->b, "t");
	char err[256] = "";
	int rc;

	batch_builder_init(&bb);
	tu_batch_gen(&bb, first_id, count, NULL, T0 + (int64_t)first_id);
	rc = log_append(topic_partition_log(t, p), bb.buf, bb.len, epoch, NULL, err, sizeof err);
	tu_assert_msg(rc == 0, "write on %d: %d %s", (int)n->id, rc, err);
	batch_builder_free(&bb);
	topic_release(t);
}

/* ---- HTTP ------------------------------------------------------------------------ */

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	return buf_append(ctx, data, size * n) == 0 ? size * n : 0;
}

/* POST json to node's path; the status, the answer in *answer (caller frees). */
static long post_json(node_t *n, const char *path, const char *json, buf_t *answer)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];
	CURL *c = curl_easy_init();
	long status = 0;

	buf_init(answer);
	snprintf(url, sizeof url, "%s%s", n->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return status;
}

/* Ask node for one partition's epoch end; check the answer. */
static void expect_epoch_end(node_t *n, int32_t p, int32_t ask, int32_t current,
                             const char *want_error, int32_t want_epoch, int64_t want_end)
{
	char json[256];
	buf_t answer;
	cJSON *doc, *e;
	long status;

	snprintf(json, sizeof json, "{\"broker_id\":9,\"partitions\":[{\"topic\":\"t\","
	         "\"partition\":%d,\"leader_epoch\":%d,\"current_leader_epoch\":%d}]}",
	         (int)p, (int)ask, (int)current);
	status = post_json(n, "/v1/internal/replica/epoch_end", json, &answer);
	tu_assert_msg(status == 200, "epoch_end %s: status %ld, %s", json, status,
	              answer.data ? answer.data : "");
	doc = cJSON_Parse(answer.data);
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "partitions"), 0);
	tu_assert_msg(e != NULL, "epoch_end answer %s", answer.data);
	tu_assert_msg(strcmp(cJSON_GetObjectItem(e, "error")->valuestring, want_error) == 0 &&
	              cJSON_GetObjectItem(e, "leader_epoch")->valueint == want_epoch &&
	              (int64_t)cJSON_GetObjectItem(e, "end_offset")->valuedouble == want_end &&
	              cJSON_GetObjectItem(e, "partition")->valueint == p &&
	              strcmp(cJSON_GetObjectItem(e, "topic")->valuestring, "t") == 0,
	              "epoch_end(p %d, epoch %d, current %d): expected %s (%d, %" PRId64
	              "), got %s", (int)p, (int)ask, (int)current, want_error, (int)want_epoch,
	              want_end, answer.data);
	cJSON_Delete(doc);
	buf_free(&answer);
}

/* ---- epoch_end -------------------------------------------------------------------- */

START_TEST(test_epoch_end_answers_as_the_leader)
{
	node_t *n = node_start(1, 2);

	/* led epoch 1 (2 records) and epoch 3 (3 records) */
	node_set_state(n, 0, 1, 3, 11);
	node_write(n, 0, 2, 1, 1);
	node_write(n, 0, 3, 10, 3);
	expect_epoch_end(n, 0, 3, 3, "NONE", 3, 5);
	expect_epoch_end(n, 0, 2, 3, "NONE", 1, 2);    /* the largest epoch <= 2 ends at 2 */
	expect_epoch_end(n, 0, 1, 3, "NONE", 1, 2);
	expect_epoch_end(n, 0, 0, 3, "NONE", 0, 0);    /* older than all: ends at the first's start */
	expect_epoch_end(n, 0, 7, 3, "NONE", 3, 5);    /* newer than the log: up to the LEO */
	expect_epoch_end(n, 0, -1, 3, "NONE", -1, -1); /* a follower without epochs */
	expect_epoch_end(n, 0, 3, 2, "FENCED_LEADER_EPOCH", -1, -1);
	expect_epoch_end(n, 0, 3, 4, "UNKNOWN_LEADER_EPOCH", -1, -1);
	expect_epoch_end(n, 7, 3, 3, "UNKNOWN_TOPIC_OR_PARTITION", -1, -1);
	/* partition 1 has no state here, and partition 0 moves to broker 2 */
	expect_epoch_end(n, 1, 0, 0, "NOT_LEADER", -1, -1);
	node_set_state(n, 0, 2, 4, 12);
	expect_epoch_end(n, 0, 3, 4, "NOT_LEADER", -1, -1);
}
END_TEST

START_TEST(test_epoch_end_refuses_bad_requests)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"leader_epoch\":0,"
		"\"current_leader_epoch\":0}]}",                                  /* no broker_id */
		"{\"broker_id\":2,\"partitions\":[]}",
		"{\"broker_id\":2,\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}",
		"{\"broker_id\":2,\"partitions\":[{\"topic\":\"a b\",\"partition\":0,"
		"\"leader_epoch\":0,\"current_leader_epoch\":0}]}",
		"{\"broker_id\":2,\"partitions\":[{\"topic\":\"t\",\"partition\":-1,"
		"\"leader_epoch\":0,\"current_leader_epoch\":0}]}",
		"{\"broker_id\":2,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
		"\"leader_epoch\":-2,\"current_leader_epoch\":0}]}",
		"{\"broker_id\":2,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
		"\"leader_epoch\":0,\"current_leader_epoch\":0,\"extra\":1}]}",
		"{\"broker_id\":2,\"partitions\":[7]}",
	};
	node_t *n = node_start(1, 1);

	node_set_state(n, 0, 1, 0, 10);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_t answer;
		long status = post_json(n, "/v1/internal/replica/epoch_end", bad[i], &answer);

		tu_assert_msg(status == 400 && answer.data != NULL &&
		              strstr(answer.data, "INVALID_REQUEST") != NULL,
		              "%s: expected 400 INVALID_REQUEST, got %ld %s", bad[i], status,
		              answer.data ? answer.data : "");
		buf_free(&answer);
	}
}
END_TEST

static Suite *replication_suite(void)
{
	Suite *s = suite_create("replication");
	TCase *tc = tcase_create("epoch_end");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_epoch_end_answers_as_the_leader);
	tcase_add_test(tc, test_epoch_end_refuses_bad_requests);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tu_root_create();
	sr = srunner_create(replication_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_root_remove();
	curl_global_cleanup();
	return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
