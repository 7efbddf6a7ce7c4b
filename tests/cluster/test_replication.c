/*
 * test_replication.c — brokers replicating over HTTP inside one test
 * process: each node is a broker with its own data directory and its own
 * HTTP edge (api_start on 127.0.0.1, port chosen at run time). Partition
 * states are set by hand with broker_partition_set_state, as the etcd
 * watcher (src/cluster/meta.c) would set them, so no etcd is needed.
 *
 * Covered: the leader's POST /v1/internal/replica/epoch_end (KIP-279
 * answers, epoch fencing, request checks); the fetch answer's frame
 * decoder; and replication end to end — a follower's fetcher copying its
 * leader's log byte for byte below the high watermark, and, after a
 * leader change, the old leader truncating its uncommitted tail and
 * copying the new leader's log.
 *
 * No sleeping to let things settle: every wait polls a condition with a
 * deadline.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "api/http.h"
#include "broker/broker.h"
#include "broker/replica.h"
#include "cluster/fetcher.h"
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
	int32_t    id;
	broker_t  *b;
	api_t     *api;
	fetcher_t *fetcher;
	char      url[64];
	char      dir[PATH_MAX];
} node_t;

static node_t nodes[NODES + 1];   /* by broker id, 1..NODES */
static pthread_mutex_t url_lock = PTHREAD_MUTEX_INITIALIZER;  /* nodes[].url, .api vs fetchers */

/* Point node n's URL somewhere (fetchers read it on their threads). */
static void node_set_url(node_t *n, const char *url)
{
	pthread_mutex_lock(&url_lock);
	snprintf(n->url, sizeof n->url, "%s", url);
	pthread_mutex_unlock(&url_lock);
}

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

/* The node's HTTP edge on a port chosen now. */
static void node_api_start(node_t *n)
{
	api_options_t ao;
	char err[512] = "", url[64];

	memset(&ao, 0, sizeof ao);
	ao.listen_host = "127.0.0.1";
	ao.threads = 2;
	ao.www_dir = "";
	tu_assert_msg(api_start(&ao, n->b, &n->api, err, sizeof err) == 0, "api_start: %s", err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)api_port(n->api));
	node_set_url(n, url);
}

/* Broker id with its HTTP edge, topic "t" (partitions, rf 3) created locally
 * as the etcd watcher would. */
static node_t *node_start(int32_t id, int32_t partitions)
{
	node_t *n = &nodes[id];
	broker_options_t bo;
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
	node_api_start(n);
	return n;
}

static void node_stop(node_t *n)
{
	fetcher_close(n->fetcher);
	n->fetcher = NULL;
	if (n->api != NULL)
		api_stop(n->api, 1000);
	n->api = NULL;
	broker_close(n->b);
	n->b = NULL;
}

/* Partition p's state on node n: replicas and ISR 1..nrep, this leader and epoch. */
static void node_set_state_n(node_t *n, int32_t p, int32_t nrep, int32_t leader,
                             int32_t epoch, int64_t version)
{
	partition_state_t st;
	char err[256] = "";

	memset(&st, 0, sizeof st);
	st.nreplicas = st.nisr = nrep;
	for (int i = 0; i < nrep; i++)
		st.replicas[i] = st.isr[i] = i + 1;
	st.leader = leader;
	st.leader_epoch = epoch;
	st.version = version;
	tu_assert_msg(broker_partition_set_state(n->b, "t", p, &st, err, sizeof err) == 0,
	              "set_state on %d: %s", (int)n->id, err);
}

static void node_set_state(node_t *n, int32_t p, int32_t leader, int32_t epoch, int64_t version)
{
	node_set_state_n(n, p, NODES, leader, epoch, version);
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

/* ---- the fetch answer's frames ----------------------------------------------- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

START_TEST(test_fetch_frames_decode)
{
	uint8_t buf[256];
	size_t len = 0, pos = 0;
	fetch_frame_t fr;

	/* "orders"/3: error 0, epoch 7, HW 40, start 2, LEO 50, 5 record bytes */
	put_be(buf, 6, 2);
	memcpy(buf + 2, "orders", 6);
	len = 8;
	put_be(buf + len, 3, 4);
	put_be(buf + len + 4, 0, 2);
	put_be(buf + len + 6, 7, 4);
	put_be(buf + len + 10, 40, 8);
	put_be(buf + len + 18, 2, 8);
	put_be(buf + len + 26, 50, 8);
	put_be(buf + len + 34, 5, 4);
	memcpy(buf + len + 38, "abcde", 5);
	len += 38 + 5;
	/* "t"/0: error 2 (fenced), epoch -1, nothing */
	put_be(buf + len, 1, 2);
	buf[len + 2] = 't';
	len += 3;
	memset(buf + len, 0, 38);
	put_be(buf + len + 4, 2, 2);
	put_be(buf + len + 6, 0xffffffffu, 4);
	len += 38;

	ck_assert_int_eq(fetch_frame_decode(buf, len, &pos, &fr), 0);
	ck_assert(fr.topic_len == 6 && memcmp(fr.topic, "orders", 6) == 0);
	ck_assert_int_eq(fr.partition, 3);
	ck_assert_int_eq(fr.error, 0);
	ck_assert_int_eq(fr.leader_epoch, 7);
	ck_assert_int_eq(fr.high_watermark, 40);
	ck_assert_int_eq(fr.log_start_offset, 2);
	ck_assert_int_eq(fr.log_end_offset, 50);
	ck_assert(fr.records_len == 5 && memcmp(fr.records, "abcde", 5) == 0);
	ck_assert_int_eq(fetch_frame_decode(buf, len, &pos, &fr), 0);
	ck_assert(fr.topic_len == 1 && fr.topic[0] == 't');
	ck_assert_int_eq(fr.error, FETCH_ERR_FENCED_LEADER_EPOCH);
	ck_assert_int_eq(fr.leader_epoch, -1);
	ck_assert_uint_eq(fr.records_len, 0);
	ck_assert_uint_eq(pos, len);
	ck_assert_int_eq(fetch_frame_decode(buf, len, &pos, &fr), STRAND_EAGAIN);

	/* every cut short is refused, never read past */
	for (size_t cut = 1; cut < 8 + 38 + 5; cut++) {
		pos = 0;
		ck_assert_msg(fetch_frame_decode(buf, cut, &pos, &fr) == STRAND_ECORRUPT,
		              "a frame cut at %zu bytes was accepted", cut);
	}
	/* a records length past the end */
	pos = 0;
	put_be(buf + 8 + 34, 6, 4);
	ck_assert_int_eq(fetch_frame_decode(buf, 8 + 38 + 5, &pos, &fr), STRAND_ECORRUPT);
}
END_TEST

/* ---- replication end to end ------------------------------------------------------ */

static int node_url(void *ctx, int32_t id, char *url, size_t urllen)
{
	int rc = 0;

	(void)ctx;
	pthread_mutex_lock(&url_lock);
	if (id < 1 || id > NODES || nodes[id].url[0] == '\0')
		rc = STRAND_ENOENT;
	else
		snprintf(url, urllen, "%s", nodes[id].url);
	pthread_mutex_unlock(&url_lock);
	return rc;
}

static void node_fetcher_start(node_t *n)
{
	fetcher_options_t fo;
	char err[256] = "";

	memset(&fo, 0, sizeof fo);
	fo.broker = n->b;
	fo.self_id = n->id;
	fo.url_of = node_url;
	fo.max_wait_ms = 200;
	tu_assert_msg(fetcher_open(&fo, &n->fetcher, err, sizeof err) == 0, "fetcher_open: %s",
	              err);
}

/* Produce count records to partition p of n as its leader (broker_append). */
static void node_produce(node_t *n, int32_t p, int count, uint64_t first_id)
{
	batch_builder_t bb;
	topic_t *t = broker_topic_get(n->b, "t");
	char err[256] = "";
	int rc;

	batch_builder_init(&bb);
	tu_batch_gen(&bb, first_id, count, NULL, T0 + (int64_t)first_id);
	rc = broker_append(n->b, t, p, bb.buf, bb.len, 0, NULL, err, sizeof err);
	tu_assert_msg(rc == 0, "produce on %d: %d %s", (int)n->id, rc, err);
	batch_builder_free(&bb);
	topic_release(t);
}

static log_t *node_log(node_t *n, int32_t p)
{
	topic_t *t = broker_topic_get(n->b, "t");
	log_t *log = topic_partition_log(t, p);

	topic_release(t);   /* the node's topic map keeps the topic alive */
	return log;
}

static int64_t node_hw(node_t *n, int32_t p)
{
	topic_t *t = broker_topic_get(n->b, "t");
	int64_t hw = topic_partition_hw(t, p);

	topic_release(t);
	return hw;
}

/* Wait until the follower holds the leader's whole log of partition p and
 * both agree on a high watermark at the leader's LEO. */
static void wait_caught_up(node_t *leader, node_t *follower, int32_t p)
{
	int64_t end = clock_now_ms() + WAIT_MS, leo = -1;

	while (clock_now_ms() < end) {
		leo = log_end_offset(node_log(leader, p));
		if (log_end_offset(node_log(follower, p)) == leo && node_hw(leader, p) == leo &&
		    node_hw(follower, p) == leo)
			return;
		clock_sleep_ms(5);
	}
	ck_abort_msg("p%d: follower %d not caught up with leader %d in %d ms: LEO %" PRId64
	             " vs %" PRId64 ", HW %" PRId64 " (leader) %" PRId64 " (follower)",
	             (int)p, (int)follower->id, (int)leader->id, WAIT_MS, leo,
	             log_end_offset(node_log(follower, p)), node_hw(leader, p),
	             node_hw(follower, p));
}

START_TEST(test_follower_copies_the_leader)
{
	node_t *a = node_start(1, 2), *b = node_start(2, 2);
	fetcher_stats_t st;

	node_fetcher_start(b);
	node_fetcher_start(a);      /* leads everything: follows nothing */
	for (int32_t p = 0; p < 2; p++) {
		node_set_state_n(a, p, 2, 1, 0, 10);
		node_set_state_n(b, p, 2, 1, 0, 10);
	}
	for (int i = 0; i < 20; i++)
		node_produce(a, i % 2, 1 + i % 4, (uint64_t)(100 * i + 1));
	wait_caught_up(a, b, 0);
	wait_caught_up(a, b, 1);
	tu_expect_same_log(node_log(a, 0), node_log(b, 0));
	tu_expect_same_log(node_log(a, 1), node_log(b, 1));

	/* more while the follower long-polls: it wakes and copies them */
	node_produce(a, 1, 7, 5000);
	wait_caught_up(a, b, 1);
	tu_expect_same_log(node_log(a, 1), node_log(b, 1));
	fetcher_stats(b->fetcher, &st);
	tu_assert_int_eq(st.partitions, 2);
	tu_assert_int_eq(st.records, log_end_offset(node_log(a, 0)) +
	                             log_end_offset(node_log(a, 1)));
	fetcher_stats(a->fetcher, &st);
	tu_assert_int_eq(st.partitions, 0);
}
END_TEST

/*
 * Broker 1 leads epoch 0 and appends a tail broker 2 never copies (its
 * fetcher is stopped: a network cut); broker 2 becomes leader of epoch 1
 * and appends its own. Broker 1, now follower, must cut its uncommitted
 * tail (KIP-279) and end with broker 2's log, byte for byte.
 */
START_TEST(test_old_leader_truncates_its_divergent_tail)
{
	node_t *a = node_start(1, 1), *b = node_start(2, 1);
	fetcher_stats_t st;
	int64_t committed;

	node_fetcher_start(a);
	node_fetcher_start(b);
	node_set_state_n(a, 0, 2, 1, 0, 10);
	node_set_state_n(b, 0, 2, 1, 0, 10);
	for (int i = 0; i < 5; i++)
		node_produce(a, 0, 2, (uint64_t)(10 * i + 1));
	wait_caught_up(a, b, 0);
	committed = log_end_offset(node_log(a, 0));

	fetcher_close(b->fetcher);          /* cut off */
	b->fetcher = NULL;
	for (int i = 0; i < 3; i++)
		node_produce(a, 0, 3, (uint64_t)(1000 + 10 * i));
	tu_assert_int_eq(node_hw(a, 0), committed);   /* not committed: 2 has not got them */

	/* the controller moves leadership to 2 (epoch 1); 2 appends */
	node_set_state_n(b, 0, 2, 2, 1, 11);
	node_set_state_n(a, 0, 2, 2, 1, 11);
	node_fetcher_start(b);
	for (int i = 0; i < 4; i++)
		node_produce(b, 0, 1, (uint64_t)(2000 + i));
	wait_caught_up(b, a, 0);
	tu_expect_same_log(node_log(b, 0), node_log(a, 0));
	tu_assert_int_eq(log_end_offset(node_log(a, 0)), committed + 4);
	tu_assert_int_eq(log_latest_epoch(node_log(a, 0)), 1);
	fetcher_stats(a->fetcher, &st);
	tu_assert_int_ge(st.truncations, 1);
}
END_TEST

/*
 * A follower away while retention deleted the leader's oldest segments: its
 * fetch is out of range below the leader's log start, so it restarts its
 * log there and copies the rest (Kafka's truncateFullyAndStartAt).
 */
START_TEST(test_follower_behind_retention_restarts_at_log_start)
{
	node_t *a = node_start(1, 1), *b = node_start(2, 1);
	log_config_t cfg;
	char err[256] = "";
	int deleted = 0;

	node_set_state_n(a, 0, 2, 1, 0, 10);
	node_set_state_n(b, 0, 2, 1, 0, 10);
	for (int i = 0; i < 30; i++)
		node_produce(a, 0, 3, (uint64_t)(10 * i + 1));
	log_config_default(&cfg);
	cfg.segment_bytes = 1024;
	cfg.retention_bytes = 2048;
	cfg.segment_ms = cfg.retention_ms = -1;
	tu_assert_int_eq(log_set_config(node_log(a, 0), &cfg, err, sizeof err), 0);
	/* roll into small segments, then let retention drop the oldest */
	for (int i = 0; i < 30; i++)
		node_produce(a, 0, 3, (uint64_t)(1000 + 10 * i));
	tu_assert_int_eq(log_tick(node_log(a, 0), clock_now_ms(), &deleted, err, sizeof err), 0);
	tu_assert_int_gt(log_start_offset(node_log(a, 0)), 0);

	node_fetcher_start(b);
	wait_caught_up(a, b, 0);
	tu_assert_int_eq(log_start_offset(node_log(b, 0)), log_start_offset(node_log(a, 0)));
	tu_expect_same_log(node_log(a, 0), node_log(b, 0));
}
END_TEST

/*
 * The leader unreachable: first not registered (no URL), then its port
 * refusing connections. The follower backs off and catches up once the
 * leader answers again, on a new port.
 */
START_TEST(test_follower_waits_out_an_unreachable_leader)
{
	node_t *a = node_start(1, 1), *b = node_start(2, 1);
	fetcher_stats_t st;
	char url[64];

	node_set_state_n(a, 0, 2, 1, 0, 10);
	node_set_state_n(b, 0, 2, 1, 0, 10);
	api_stop(a->api, 0);              /* gone: node_url says ENOENT */
	a->api = NULL;
	node_set_url(a, "");
	node_fetcher_start(b);
	node_produce(a, 0, 5, 1);
	node_api_start(a);
	wait_caught_up(a, b, 0);

	/* now a port where nothing listens: refused connections */
	snprintf(url, sizeof url, "%s", a->url);
	node_set_url(a, "http://127.0.0.1:1");
	node_produce(a, 0, 4, 100);
	{
		int64_t end = clock_now_ms() + WAIT_MS;

		do {
			fetcher_stats(b->fetcher, &st);
		} while (st.errors < 2 && clock_now_ms() < end && (clock_sleep_ms(5), 1));
		tu_assert_int_ge(st.errors, 2);
	}
	node_set_url(a, url);
	wait_caught_up(a, b, 0);
	tu_expect_same_log(node_log(a, 0), node_log(b, 0));
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
	tcase_add_test(tc, test_fetch_frames_decode);
	suite_add_tcase(s, tc);

	tc = tcase_create("fetch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_follower_copies_the_leader);
	tcase_add_test(tc, test_old_leader_truncates_its_divergent_tail);
	tcase_add_test(tc, test_follower_behind_retention_restarts_at_log_start);
	tcase_add_test(tc, test_follower_waits_out_an_unreachable_leader);
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
