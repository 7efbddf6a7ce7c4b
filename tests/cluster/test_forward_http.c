/*
 * test_forward_http.c — any broker answers any request (issue 10, item 7)
 * in a real cluster: three `strand serve --etcd` processes
 * (tests/api/harness.c, ports chosen at run time) and a private etcd
 * (etcd_fixture.h). A topic of replication factor 1 puts each partition
 * on one broker, so every broker but one must relay to reach it.
 *
 * Checked: produce and fetch through every broker reach the partition's
 * leader (as GET /v1/topics/{t} names it) and say so in Strand-Served-By;
 * `Strand-Route: direct` to a non-leader is 421 NOT_LEADER with the
 * leader's URL; a long poll relayed to the leader is woken by an append
 * there; group calls go to the controller; with the leader killed, a
 * relayed request gets 503 UNAVAILABLE with Retry-After within a bound,
 * not a hang; a topic-path acks=all produce split over several leaders
 * is answered 200 by the broker asked; libstrand's producer sends each partition to its leader,
 * so the broker it was given relays none of them. Every wait polls a condition with a deadline.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "broker/broker.h"
#include "client/strand.h"
#include "common/clock.h"
#include "etcd_fixture.h"
#include "../api/harness.h"

#define WAIT_MS 15000
#define NB 3

static harness_t hs[NB];
static char id_args[NB][16];

static void start_brokers(void)
{
	http_response_t r;
	int64_t end;
	int i;

	memset(hs, 0, sizeof hs);
	for (i = 0; i < NB; i++) {
		snprintf(id_args[i], sizeof id_args[i], "%d", i + 1);
		hs[i].extra_args[0] = "--etcd";
		hs[i].extra_args[1] = fixture_etcd.client_url;
		hs[i].extra_args[2] = "--broker-id";
		hs[i].extra_args[3] = id_args[i];
		ck_assert_int_eq(harness_start(&hs[i]), 0);
	}
	for (i = 0; i < NB; i++) {
		end = clock_now_ms() + WAIT_MS;
		while (http_get(&hs[i], "/readyz", &r) != 200 && clock_now_ms() < end) {
			http_response_free(&r);
			clock_sleep_ms(20);
		}
		ck_assert_int_eq(r.status, 200);
		http_response_free(&r);
	}
}

static void stop_brokers(void)
{
	for (int i = 0; i < NB; i++)
		harness_teardown(&hs[i]);
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

static int served_by(const http_response_t *r)
{
	char v[32];

	return http_header(r, "Strand-Served-By", v, sizeof v) != NULL ? atoi(v) : -1;
}

static const char *const direct_hdr[] = { "Strand-Route: direct", NULL };

/*
 * Does broker `id` (h) act on the topic at path as created: its own view
 * (Strand-Route: direct: not asked of the leaders) names leaders[p] for
 * every partition, and for the partitions it leads its replica layer has
 * the state (replica_states, present only then)? Each broker applies a new
 * topic, then its partitions' states, from its etcd watch: before that, a
 * leader named in etcd answers a produce 421 NOT_LEADER, or a broker not
 * knowing the leader yet serves it itself. Tests here count relays and
 * offsets exactly, and a client retrying such a 421 makes a second relay
 * (test_any_broker_answers' relay count was one over under load) and
 * sends a topic-path produce again whose other partitions had already
 * appended (test_topic_path_split_acks_all saw offset 1 for offset 0).
 */
static int leaders_ready(harness_t *h, int id, const char *path, int partitions,
                         const int *leaders)
{
	http_response_t r;
	cJSON *doc = NULL, *p;
	int ok = 0, seen = 0;

	if (http_request(h, "GET", path, NULL, NULL, 0, direct_hdr, &r) == 200 &&
	    (doc = http_body_json(&r)) != NULL) {
		ok = 1;
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "partitions")) {
			cJSON *leader = cJSON_GetObjectItem(p, "leader");
			int idx = cJSON_GetObjectItem(p, "partition")->valueint;

			seen++;
			if (!cJSON_IsNumber(leader) || idx < 0 || idx >= partitions ||
			    leader->valueint != leaders[idx] ||
			    (leaders[idx] == id &&
			     !cJSON_IsArray(cJSON_GetObjectItem(p, "replica_states"))))
				ok = 0;
		}
	}
	cJSON_Delete(doc);
	http_response_free(&r);
	return ok && seen == partitions;
}

/* Create topic `name` (partitions, rf 1) through broker 1; every broker
 * acts on it (leaders_ready); leaders[p] gets partition p's leader (broker id). */
static void create_topic(const char *name, int partitions, int *leaders)
{
	http_response_t r;
	char json[200], path[128];
	cJSON *doc, *p;
	int64_t end;

	snprintf(json, sizeof json, "{\"name\":\"%s\",\"partitions\":%d,\"replication_factor\":1}",
	         name, partitions);
	http_json(&hs[0], "POST", "/v1/topics", json, &r);
	ASSERT_STATUS(r, 201);
	doc = http_body_json(&r);
	http_response_free(&r);
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "partitions"))
		leaders[cJSON_GetObjectItem(p, "partition")->valueint] =
			cJSON_GetObjectItem(p, "leader")->valueint;
	cJSON_Delete(doc);
	/* every broker acts on it: see leaders_ready */
	snprintf(path, sizeof path, "/v1/topics/%s", name);
	for (int i = 0; i < NB; i++) {
		end = clock_now_ms() + WAIT_MS;
		while (!leaders_ready(&hs[i], i + 1, path, partitions, leaders) &&
		       clock_now_ms() < end)
			clock_sleep_ms(20);
		ck_assert_msg(leaders_ready(&hs[i], i + 1, path, partitions, leaders),
		              "broker %d does not act on %s's leaders within %d ms", i + 1, name,
		              WAIT_MS);
	}
}

/*
 * POST a produce as a client that follows the API does: a 421 right after
 * the topic was created is retried (a partition's leader answers 421 until
 * its watcher has applied the new state, which may trail the topic itself by
 * a few milliseconds, longer under load; Kafka's clients likewise retry
 * NOT_LEADER_OR_FOLLOWER after a create). Any other answer is returned.
 */
static void produce_retrying_421(harness_t *h, const char *path, const char *json,
                                 http_response_t *r)
{
	int64_t end = clock_now_ms() + WAIT_MS;

	for (;;) {
		http_json(h, "POST", path, json, r);
		if (r->status != 421 || clock_now_ms() >= end)
			return;
		http_response_free(r);
		clock_sleep_ms(20);
	}
}

START_TEST(test_any_broker_answers)
{
	int leaders[NB] = { 0 }, p, i;
	http_response_t r;
	char path[160], json[160];
	cJSON *doc;

	create_topic("fw", NB, leaders);
	for (p = 0; p < NB; p++) {
		/* produce through every broker: all land on the leader */
		for (i = 0; i < NB; i++) {
			snprintf(path, sizeof path, "/v1/topics/fw/partitions/%d/records", p);
			snprintf(json, sizeof json, "{\"records\":[{\"value\":\"p%d-via-%d\"}]}", p, i + 1);
			produce_retrying_421(&hs[i], path, json, &r);
			ASSERT_STATUS(r, 200);
			ck_assert_int_eq(served_by(&r), leaders[p]);
			snprintf(json, sizeof json, "\"offset\":%d", i);
			ck_assert_msg(strstr(r.body.data, json) != NULL, "offset %d expected: %s", i,
			              r.body.data);
			http_response_free(&r);
		}
		/* fetch through every broker: the leader's three records */
		for (i = 0; i < NB; i++) {
			snprintf(path, sizeof path, "/v1/topics/fw/partitions/%d/records?offset=0", p);
			http_get(&hs[i], path, &r);
			ASSERT_STATUS(r, 200);
			ck_assert_int_eq(served_by(&r), leaders[p]);
			doc = http_body_json(&r);
			ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "records")), NB);
			cJSON_Delete(doc);
			http_response_free(&r);
			/* direct: the leader serves, the others say where to go */
			http_request(&hs[i], "GET", path, NULL, NULL, 0, direct_hdr, &r);
			if (i + 1 == leaders[p]) {
				ASSERT_STATUS(r, 200);
			} else {
				ASSERT_PROBLEM(r, 421, "NOT_LEADER");
				ck_assert_int_eq(served_by(&r), i + 1);
				doc = http_body_json(&r);
				ck_assert_str_eq(cJSON_GetObjectItem(doc, "leader_url")->valuestring,
				                 hs[leaders[p] - 1].base_url);
				cJSON_Delete(doc);
			}
			http_response_free(&r);
		}
	}
	/* each broker relayed a produce and a fetch (and a direct GET answered
	 * 421 does not count) for each of the two partitions it does not lead */
	for (i = 0; i < NB; i++) {
		const char *at;

		http_get(&hs[i], "/metrics", &r);
		ASSERT_STATUS(r, 200);
		at = strstr(r.body.data, "\nstrand_forward_requests_total ");
		ck_assert_ptr_nonnull(at);
		ck_assert_int_eq(atoi(at + strlen("\nstrand_forward_requests_total ")), 2 * (NB - 1));
		ck_assert_ptr_nonnull(strstr(r.body.data, "\nstrand_forward_failures_total 0\n"));
		http_response_free(&r);
	}
	/* answers that are nobody's in particular name the broker asked */
	http_get(&hs[1], "/v1/topics", &r);
	ASSERT_STATUS(r, 200);
	ck_assert_int_eq(served_by(&r), 2);
	http_response_free(&r);
}
END_TEST

typedef struct poll_arg {
	harness_t      *via;
	char            path[160];
	http_response_t r;
	int64_t         ms;
} poll_arg_t;

static void *long_poll(void *arg)
{
	poll_arg_t *a = arg;
	int64_t t0 = clock_now_ms();

	http_get(a->via, a->path, &a->r);
	a->ms = clock_now_ms() - t0;
	return NULL;
}

/* strand_http_parked_requests of broker h (from /metrics). */
static int parked(harness_t *h)
{
	http_response_t r;
	const char *at;
	int n = -1;

	if (http_get(h, "/metrics", &r) == 200 &&
	    (at = strstr(r.body.data, "\nstrand_http_parked_requests ")) != NULL)
		n = atoi(at + strlen("\nstrand_http_parked_requests "));
	http_response_free(&r);
	return n;
}

START_TEST(test_relayed_long_poll_and_groups)
{
	int leaders[NB] = { 0 }, via, coordinator;
	http_response_t r;
	poll_arg_t a;
	pthread_t th;
	char path[160];
	int64_t end;
	cJSON *doc;

	create_topic("lp", 1, leaders);
	via = leaders[0] % NB;   /* a broker that is not the leader (index) */
	memset(&a, 0, sizeof a);
	a.via = &hs[via];
	snprintf(a.path, sizeof a.path, "/v1/topics/lp/partitions/0/records?offset=0&max_wait_ms=20000");
	ck_assert_int_eq(pthread_create(&th, NULL, long_poll, &a), 0);
	end = clock_now_ms() + WAIT_MS;
	while (parked(&hs[leaders[0] - 1]) < 1 && clock_now_ms() < end)
		clock_sleep_ms(10);
	ck_assert_int_ge(parked(&hs[leaders[0] - 1]), 1);
	produce_retrying_421(&hs[leaders[0] - 1], "/v1/topics/lp/partitions/0/records",
	                     "{\"records\":[{\"value\":\"wake\"}]}", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	pthread_join(th, NULL);
	ASSERT_STATUS(a.r, 200);
	ck_assert_int_eq(served_by(&a.r), leaders[0]);
	ck_assert_ptr_nonnull(strstr(a.r.body.data, "wake"));
	ck_assert_int_lt(a.ms, 15000);
	http_response_free(&a.r);

	/* groups: served by their coordinator, the leader of the group's
	 * partition of __consumer_offsets, whichever broker is asked (the first
	 * group request creates that topic) */
	coordinator = -1;
	for (int i = 0; i < NB; i++) {
		end = clock_now_ms() + WAIT_MS;
		for (;;) {
			http_json(&hs[i], "POST", "/v1/groups/g1/offsets",
			          "{\"offsets\":[{\"topic\":\"lp\",\"partition\":0,\"offset\":1}]}",
			          &r);
			if (r.status != 503 || clock_now_ms() >= end)
				break;
			http_response_free(&r);    /* its leader is not yet known everywhere */
			clock_sleep_ms(20);
		}
		ASSERT_STATUS(r, 204);
		if (coordinator < 0)
			coordinator = served_by(&r);
		ck_assert_int_eq(served_by(&r), coordinator);
		http_response_free(&r);
		snprintf(path, sizeof path, "/v1/groups/g1/offsets");
		http_get(&hs[i], path, &r);
		ASSERT_STATUS(r, 200);
		ck_assert_int_eq(served_by(&r), coordinator);
		ck_assert_ptr_nonnull(strstr(r.body.data, "\"offset\":1"));
		http_response_free(&r);
	}
	http_get(&hs[0], "/v1/topics/" BROKER_OFFSETS_TOPIC, &r);
	ASSERT_STATUS(r, 200);
	doc = http_body_json(&r);
	http_response_free(&r);
	{
		cJSON *parts = cJSON_GetObjectItem(doc, "partitions");
		int32_t gp = broker_group_partition("g1", cJSON_GetArraySize(parts));

		ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(parts, gp),
		                                     "leader")->valueint, coordinator);
	}
	cJSON_Delete(doc);
}
END_TEST

/* Partition 0's leader of topic as broker h's own metadata says (-2: no answer). */
static int own_leader(harness_t *h, const char *topic)
{
	http_response_t r;
	char path[128];
	cJSON *doc = NULL;
	int leader = -2;

	snprintf(path, sizeof path, "/v1/topics/%s", topic);
	if (http_request(h, "GET", path, NULL, NULL, 0, direct_hdr, &r) == 200 &&
	    (doc = http_body_json(&r)) != NULL)
		leader = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "partitions"),
		                                                0), "leader")->valueint;
	cJSON_Delete(doc);
	http_response_free(&r);
	return leader;
}

START_TEST(test_leader_down_is_503)
{
	int leaders[NB] = { 0 }, via;
	http_response_t r;
	int64_t t0, end;

	create_topic("down", 1, leaders);
	via = leaders[0] % NB;
	ck_assert_int_eq(harness_stop(&hs[leaders[0] - 1], SIGKILL), 128 + SIGKILL);
	/* before and after the controller notices, never a hang: refused
	 * connection, or no leader (replication factor 1: no one to elect) */
	for (int k = 0; k < 2; k++) {
		t0 = clock_now_ms();
		http_json(&hs[via], "POST", "/v1/topics/down/partitions/0/records",
		          "{\"records\":[{\"value\":1}]}", &r);
		ASSERT_PROBLEM(r, 503, "UNAVAILABLE");
		ck_assert_int_eq(served_by(&r), via + 1);
		ck_assert_int_lt(clock_now_ms() - t0, 5000);
		http_response_free(&r);
		http_get(&hs[via], "/v1/topics/down/partitions/0/records?offset=0&max_wait_ms=30000", &r);
		ASSERT_PROBLEM(r, 503, "UNAVAILABLE");
		http_response_free(&r);
		/* the second round after the controller noticed: without this wait
		 * both ran at once, within the dead leader's lease, while via still
		 * named it */
		end = clock_now_ms() + WAIT_MS;
		while (k == 0 && own_leader(&hs[via], "down") != -1 && clock_now_ms() < end)
			clock_sleep_ms(20);
		ck_assert_int_eq(own_leader(&hs[via], "down"), -1);
	}
}
END_TEST

/* A topic-path produce with acks=all split over partitions led by other
 * brokers: each leader answers once its part is committed, and the broker
 * asked answers 200 with every offset. (It used to check the remote parts
 * against its own replica too and answer 503 "changed leader" for records
 * that were stored and committed.) */
START_TEST(test_topic_path_split_acks_all)
{
	int leaders[NB] = { 0 }, i, p;
	http_response_t r;
	char want[64];

	create_topic("split", NB, leaders);
	for (i = 0; i < NB; i++) {
		produce_retrying_421(&hs[i], "/v1/topics/split/records?acks=all",
		                     "{\"records\":[{\"partition\":0,\"value\":0},"
		                     "{\"partition\":1,\"value\":1},{\"partition\":2,\"value\":2}]}", &r);
		ASSERT_STATUS(r, 200);
		ck_assert_int_eq(served_by(&r), i + 1);
		for (p = 0; p < NB; p++) {
			snprintf(want, sizeof want, "{\"partition\":%d,\"offset\":%d}", p, i);
			ck_assert_msg(strstr(r.body.data, want) != NULL, "%s expected: %s", want,
			              r.body.data);
		}
		http_response_free(&r);
	}
}
END_TEST

static int64_t forward_count(harness_t *h)
{
	http_response_t r;
	const char *at;
	int64_t n = -1;

	if (http_get(h, "/metrics", &r) == 200 &&
	    (at = strstr(r.body.data, "\nstrand_forward_requests_total ")) != NULL)
		n = strtoll(at + strlen("\nstrand_forward_requests_total "), NULL, 10);
	http_response_free(&r);
	return n;
}

typedef struct deliveries {
	pthread_mutex_t mu;
	int             ok, failed;
	char            first_error[300];
} deliveries_t;

static void on_delivery(const strand_message *m, void *opaque)
{
	deliveries_t *d = opaque;

	pthread_mutex_lock(&d->mu);
	if (strand_message_err(m) == 0) {
		d->ok++;
	} else if (d->failed++ == 0) {
		snprintf(d->first_error, sizeof d->first_error, "%s",
		         strand_message_errstr(m) ? strand_message_errstr(m) : "?");
	}
	pthread_mutex_unlock(&d->mu);
}

/* libstrand's producer sends each partition's batches to its leader:
 * the bootstrap broker relays none of them. */
START_TEST(test_libstrand_routes_to_leaders)
{
	int leaders[NB] = { 0 }, p, total = 0;
	strand_conf *conf = strand_conf_new();
	strand_producer *prod;
	http_response_t r;
	char err[512], key[16], path[160];
	deliveries_t d = { PTHREAD_MUTEX_INITIALIZER, 0, 0, "" };
	int64_t before;
	cJSON *doc;

	create_topic("lib", NB, leaders);
	before = forward_count(&hs[0]);
	ck_assert_int_eq(strand_conf_set(conf, "bootstrap.servers", hs[0].base_url, err, sizeof err), 0);
	/* idempotent (the default): the bootstrap broker hands out the producer
	 * id, the other leaders take it by its broker part */
	ck_assert_int_eq(strand_conf_set(conf, "enable.idempotence", "true", err, sizeof err), 0);
	prod = strand_producer_new(conf, err, sizeof err);
	ck_assert_msg(prod != NULL, "%s", err);
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_int_eq(strand_produce(prod, "lib", -1, key, strlen(key), "v", 1, on_delivery,
		                                &d), 0);
	}
	ck_assert_int_eq(strand_flush(prod, 30000), 0);
	strand_producer_destroy(prod);
	strand_conf_destroy(conf);
	ck_assert_msg(d.ok == 300 && d.failed == 0, "%d delivered, %d failed (first: %s)", d.ok,
	              d.failed, d.first_error);
	ck_assert_int_eq(forward_count(&hs[0]), before);
	for (p = 0; p < NB; p++) {
		snprintf(path, sizeof path, "/v1/topics/lib/partitions/%d/offsets?timestamp=latest", p);
		http_get(&hs[leaders[p] - 1], path, &r);
		ASSERT_STATUS(r, 200);
		doc = http_body_json(&r);
		total += cJSON_GetObjectItem(doc, "offset")->valueint;
		cJSON_Delete(doc);
		http_response_free(&r);
	}
	ck_assert_int_eq(total, 300);
}
END_TEST

/* ---- libstrand and topics new to the broker asked ------------------------- */

/* The value of one /metrics series of broker h (its full name with labels), 0 if absent. */
static int64_t metric(harness_t *h, const char *series)
{
	http_response_t r;
	char want[300];
	const char *at;
	int64_t n = 0;

	snprintf(want, sizeof want, "\n%s ", series);
	if (http_get(h, "/metrics", &r) == 200 && (at = strstr(r.body.data, want)) != NULL)
		n = strtoll(at + strlen(want), NULL, 10);
	http_response_free(&r);
	return n;
}

#define DESCRIBE_404 "strand_http_requests_total{route=\"topic_describe\",status=\"404\"}"
#define PRODUCE_404  "strand_http_requests_total{route=\"produce_partition\",status=\"404\"}"
#define JOIN_404     "strand_http_requests_total{route=\"group_join\",status=\"404\"}"

/* Wait (deadline) until metric(h, series) >= want. */
static void wait_metric(harness_t *h, const char *series, int64_t want)
{
	int64_t end = clock_now_ms() + WAIT_MS, n;

	while ((n = metric(h, series)) < want && clock_now_ms() < end)
		clock_sleep_ms(20);
	ck_assert_msg(n >= want, "%s on %s: %" PRId64 ", expected >= %" PRId64, series,
	              h->base_url, n, want);
}

static strand_producer *producer_at(const char *url, const char *propagation_ms)
{
	strand_conf *conf = strand_conf_new();
	strand_producer *prod;
	char err[512];

	ck_assert_int_eq(strand_conf_set(conf, "bootstrap.servers", url, err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "topic.metadata.propagation.max.ms", propagation_ms,
	                                 err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "retry.backoff.ms", "20", err, sizeof err), 0);
	prod = strand_producer_new(conf, err, sizeof err);
	ck_assert_msg(prod != NULL, "%s", err);
	strand_conf_destroy(conf);
	return prod;
}

/* POST /v1/topics through h, nothing waited for: 201. */
static void create_at(harness_t *h, const char *name)
{
	http_response_t r;
	char json[200];

	snprintf(json, sizeof json, "{\"name\":\"%s\",\"partitions\":%d,\"replication_factor\":1}",
	         name, NB);
	http_json(h, "POST", "/v1/topics", json, &r);
	ASSERT_STATUS(r, 201);
	http_response_free(&r);
}

/* DELETE the topic through broker 1, then wait until h answers 404 for it. */
static void delete_seen_by(harness_t *h, const char *name)
{
	http_response_t r;
	char path[160];
	int64_t end = clock_now_ms() + WAIT_MS;

	snprintf(path, sizeof path, "/v1/topics/%s", name);
	http_request(&hs[0], "DELETE", path, NULL, NULL, 0, NULL, &r);
	ck_assert_msg(r.status == 200 || r.status == 204, "DELETE %s: %ld", name, r.status);
	http_response_free(&r);
	while (http_get(h, path, &r) != 404 && clock_now_ms() < end) {
		http_response_free(&r);
		clock_sleep_ms(20);
	}
	ASSERT_STATUS(r, 404);
	http_response_free(&r);
}

typedef struct blocked_produce {
	strand_producer *prod;
	const char      *topic;
	deliveries_t    *d;
	int              rc;
} blocked_produce_t;

static void *produce_blocking(void *arg)
{
	blocked_produce_t *a = arg;

	a->rc = strand_produce(a->prod, a->topic, STRAND_PARTITION_ANY, "k", 1, "v", 1, on_delivery,
	                       a->d);
	return NULL;
}

/*
 * Each broker learns a created topic through its own etcd watch, so right
 * after a create the others may answer 404 for it: libstrand waits for the
 * topic up to topic.metadata.propagation.max.ms (metadata and batches alike)
 * and then fails with UNKNOWN_TOPIC, saying so.
 */
START_TEST(test_libstrand_waits_for_a_new_topic)
{
	deliveries_t d = { PTHREAD_MUTEX_INITIALIZER, 0, 0, "" };
	strand_producer *prod = producer_at(hs[1].base_url, "30000"), *quick;
	blocked_produce_t late = { prod, "late", &d, -99 };
	int leaders[NB] = { 0 }, expect = 0;
	char name[32], key[16];
	int64_t before, t0;
	pthread_t th;

	/* created through broker 1, produced through broker 2 at once */
	for (int k = 0; k < 5; k++) {
		snprintf(name, sizeof name, "new%d", k);
		create_at(&hs[0], name);
		for (int i = 0; i < 50; i++, expect++) {
			snprintf(key, sizeof key, "k%d", i);
			ck_assert_int_eq(strand_produce(prod, name, STRAND_PARTITION_ANY, key, strlen(key),
			                                "v", 1, on_delivery, &d), 0);
		}
	}
	ck_assert_int_eq(strand_flush(prod, 30000), 0);
	ck_assert_msg(d.ok == expect && d.failed == 0, "%d of %d delivered, %d failed (first: %s)",
	              d.ok, expect, d.failed, d.first_error);

	/* the metadata path, for certain: broker 2 answered 404 twice before
	 * the topic was created */
	before = metric(&hs[1], DESCRIBE_404);
	ck_assert_int_eq(pthread_create(&th, NULL, produce_blocking, &late), 0);
	wait_metric(&hs[1], DESCRIBE_404, before + 2);
	create_at(&hs[0], "late");
	pthread_join(th, NULL);
	ck_assert_int_eq(late.rc, 0);
	expect++;

	/* the batch path, for certain: the topic is known to the producer, then
	 * deleted; partition 0's leader answers its batch 404 until the topic
	 * is created again */
	create_topic("again", NB, leaders);
	ck_assert_int_eq(strand_produce_sync(prod, "again", 0, NULL, 0, "1", 1, NULL, NULL, 30000), 0);
	delete_seen_by(&hs[leaders[0] - 1], "again");
	before = metric(&hs[leaders[0] - 1], PRODUCE_404);
	ck_assert_int_eq(strand_produce(prod, "again", 0, NULL, 0, "2", 1, on_delivery, &d), 0);
	expect++;
	wait_metric(&hs[leaders[0] - 1], PRODUCE_404, before + 2);
	create_at(&hs[0], "again");
	ck_assert_int_eq(strand_flush(prod, 30000), 0);
	ck_assert_msg(d.ok == expect && d.failed == 0, "%d of %d delivered, %d failed (first: %s)",
	              d.ok, expect, d.failed, d.first_error);
	strand_producer_destroy(prod);

	/* a topic that does not come: UNKNOWN_TOPIC after the bound, in
	 * strand_produce (metadata) and in the callback (a deleted topic) */
	quick = producer_at(hs[1].base_url, "500");
	t0 = clock_now_ms();
	ck_assert_int_eq(strand_produce(quick, "never", STRAND_PARTITION_ANY, NULL, 0, "v", 1, NULL,
	                                NULL), STRAND_ERR_UNKNOWN_TOPIC);
	ck_assert_msg(clock_now_ms() - t0 >= 500 && clock_now_ms() - t0 < 10000,
	              "UNKNOWN_TOPIC after %" PRId64 " ms, the bound is 500", clock_now_ms() - t0);
	create_topic("gone", NB, leaders);
	ck_assert_int_eq(strand_produce_sync(quick, "gone", 0, NULL, 0, "1", 1, NULL, NULL, 30000), 0);
	delete_seen_by(&hs[leaders[0] - 1], "gone");
	memset(&d, 0, sizeof d);
	pthread_mutex_init(&d.mu, NULL);
	t0 = clock_now_ms();
	ck_assert_int_eq(strand_produce(quick, "gone", 0, NULL, 0, "2", 1, on_delivery, &d), 0);
	ck_assert_int_eq(strand_flush(quick, 30000), 0);
	ck_assert_msg(d.failed == 1 && d.ok == 0, "%d delivered, %d failed", d.ok, d.failed);
	ck_assert_msg(clock_now_ms() - t0 >= 500, "failed after %" PRId64 " ms, the bound is 500",
	              clock_now_ms() - t0);
	ck_assert_msg(strstr(d.first_error, "UNKNOWN_TOPIC") != NULL &&
	              strstr(d.first_error, "topic.metadata.propagation.max.ms is 500") != NULL,
	              "the error says why: %s", d.first_error);
	strand_producer_destroy(quick);
}
END_TEST

static strand_consumer *consumer_at(const char *url, const char *group, const char *topic,
                                    const char *propagation_ms)
{
	strand_conf *conf = strand_conf_new();
	strand_consumer *c;
	const char *topics[] = { topic };
	char err[512];

	ck_assert_int_eq(strand_conf_set(conf, "bootstrap.servers", url, err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "group.id", group, err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "retry.backoff.ms", "20", err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "topic.metadata.propagation.max.ms", propagation_ms,
	                                 err, sizeof err), 0);
	c = strand_consumer_new(conf, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	strand_conf_destroy(conf);
	ck_assert_int_eq(strand_subscribe(c, topics, 1), 0);
	return c;
}

/*
 * The consumer likewise: a subscribed topic its coordinator does not know
 * yet (404 UNKNOWN_TOPIC at the join) is retried without an error message
 * for topic.metadata.propagation.max.ms, then reported (and still retried).
 */
START_TEST(test_libstrand_consumer_waits_for_a_new_topic)
{
	strand_consumer *c = consumer_at(hs[1].base_url, "early", "soon", "30000"), *quick;
	strand_message *m = NULL;
	int leaders[NB] = { 0 };
	http_response_t r;
	int64_t end, t0, before = 0;
	int errors = 0;

	/* subscribed before the topic exists: its joins get 404 (twice, from
	 * the brokers' /metrics, summed: a relayed answer counts where it is
	 * served and where it is relayed) and polls bring no error ... */
	for (int i = 0; i < NB; i++)
		before += metric(&hs[i], JOIN_404);
	end = clock_now_ms() + WAIT_MS;
	for (;;) {
		int64_t now404 = 0;

		if ((m = strand_consumer_poll(c, 50)) != NULL) {
			/* (a 503 while __consumer_offsets is made is reported, as ever) */
			ck_assert_msg(strand_message_err(m) != STRAND_ERR_UNKNOWN_TOPIC,
			              "poll before the create: %s", strand_message_errstr(m));
			strand_message_destroy(m);
		}
		for (int i = 0; i < NB; i++)
			now404 += metric(&hs[i], JOIN_404);
		if (now404 >= before + 4)
			break;
		ck_assert_msg(clock_now_ms() < end, "joins answered 404: %" PRId64 " in %d ms",
		              now404 - before, WAIT_MS);
	}
	/* ... and once it is created through broker 1 and written, a record
	 * (created with the wait for every broker: the test's own produce is
	 * plain HTTP, which a leader that has not seen the topic answers 404).
	 * One per partition: with replication factor 1 the member fetch sees
	 * only the partition its coordinator holds (docs/REPLICATION.md). */
	create_topic("soon", NB, leaders);
	for (int p = 0; p < NB; p++) {
		char path[96];

		snprintf(path, sizeof path, "/v1/topics/soon/partitions/%d/records", p);
		produce_retrying_421(&hs[0], path, "{\"records\":[{\"value\":\"first\"}]}", &r);
		ASSERT_STATUS(r, 200);
		http_response_free(&r);
	}
	end = clock_now_ms() + WAIT_MS;
	m = NULL;
	while (clock_now_ms() < end && m == NULL) {
		m = strand_consumer_poll(c, 200);
		if (m != NULL && strand_message_err(m) != 0) {
			errors += strand_message_err(m) == STRAND_ERR_UNKNOWN_TOPIC;
			strand_message_destroy(m);
			m = NULL;
		}
	}
	ck_assert_msg(m != NULL, "no record within %d ms", WAIT_MS);
	ck_assert_int_eq(errors, 0);
	ck_assert_int_eq(strand_message_offset(m), 0);
	strand_message_destroy(m);
	strand_consumer_close(c);

	/* a topic that does not come: reported after the bound */
	quick = consumer_at(hs[1].base_url, "late", "never", "500");
	t0 = clock_now_ms();
	end = t0 + WAIT_MS;
	m = NULL;
	while (clock_now_ms() < end &&
	       (m == NULL || strand_message_err(m) != STRAND_ERR_UNKNOWN_TOPIC)) {
		strand_message_destroy(m);   /* NULL, or a 503 meanwhile (above) */
		m = strand_consumer_poll(quick, 200);
	}
	ck_assert_ptr_nonnull(m);
	ck_assert_msg(strand_message_err(m) == STRAND_ERR_UNKNOWN_TOPIC, "%s",
	              strand_err_name(strand_message_err(m)));
	ck_assert_msg(clock_now_ms() - t0 >= 500, "reported after %" PRId64 " ms, the bound is 500",
	              clock_now_ms() - t0);
	strand_message_destroy(m);
	strand_consumer_close(quick);
}
END_TEST

static Suite *forward_http_suite(void)
{
	Suite *s = suite_create("forward_http");
	TCase *tc = tcase_create("three brokers");

	tcase_add_checked_fixture(tc, start_brokers, stop_brokers);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_any_broker_answers);
	tcase_add_test(tc, test_relayed_long_poll_and_groups);
	tcase_add_test(tc, test_leader_down_is_503);
	tcase_add_test(tc, test_topic_path_split_acks_all);
	tcase_add_test(tc, test_libstrand_routes_to_leaders);
	tcase_add_test(tc, test_libstrand_waits_for_a_new_topic);
	tcase_add_test(tc, test_libstrand_consumer_waits_for_a_new_topic);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return etcd_fixture_run(forward_http_suite());
}
