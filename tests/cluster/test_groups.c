/*
 * test_groups.c — consumer groups in a cluster (docs/GROUPS.md, issue 10
 * item 8) against three real `strand serve --etcd` processes
 * (cluster_harness.h): the internal topic __consumer_offsets, the routing
 * of a group to the leader of its partition of that topic, and committed
 * offsets that survive the coordinator's kill -9.
 *
 * Every wait polls a condition until a deadline. Exit 77 when etcd or the
 * strand binary is missing (tcluster_run_suite).
 */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/offsets_log.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/err.h"
#include "tests/cluster/cluster_harness.h"

#define NB         3
#define WAIT_MS    30000
#define HTTP_MS    10000

static tcluster_t *cl;
static char errbuf[8192];

static void cluster_teardown(void)
{
	tcluster_stop(cl);
	cl = NULL;
}

static void start_cluster(void)
{
	tcluster_options_t o;
	int rc;

	memset(&o, 0, sizeof o);
	o.brokers = NB;
	rc = tcluster_start(&o, &cl, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "cluster start: %s", errbuf);
}

/* Create topic through broker 1, again while its placement has not yet seen
 * every broker (its etcd watch may lag /v1/cluster just after start). */
static void create_topic(const char *topic, int partitions, int rf)
{
	int64_t end = clock_now_ms() + 10000;
	int rc;

	while ((rc = tcluster_create_topic(cl, 1, topic, partitions, rf, NULL, errbuf,
	                                   sizeof errbuf)) == 400 &&
	       strstr(errbuf, "live broker") != NULL && clock_now_ms() < end)
		clock_sleep_ms(50);
	ck_assert_msg(rc == 0, "%s", errbuf);
	/* the create is read-your-writes on broker 1 only: wait (deadline)
	 * until every broker's watch has brought the topic, as a Kafka client
	 * waits for metadata, so that a relayed produce finds it on its leader */
	for (int id = 1; id <= tcluster_brokers(cl); id++) {
		static const char *const direct[] = { "Strand-Route: direct", NULL };
		char path[160];

		snprintf(path, sizeof path, "/v1/topics/%s", topic);
		while (tcluster_http(cl, id, "GET", path, NULL, direct, HTTP_MS, NULL) != 200) {
			ck_assert_msg(clock_now_ms() < end, "broker %d never saw topic %s", id, topic);
			clock_sleep_ms(50);
		}
	}
}

/* A request to broker id, retried while it answers 503 or 421 (a leader
 * that has not yet applied a new state) or nothing, up to WAIT_MS; returns
 * the last status. */
static long http_until(int id, const char *method, const char *path, const char *body,
                       cJSON **json)
{
	int64_t end = clock_now_ms() + WAIT_MS;
	long st;

	for (;;) {
		*json = NULL;
		st = tcluster_http(cl, id, method, path, body, NULL, HTTP_MS, json);
		if ((st != 0 && st != 503 && st != 421) || clock_now_ms() >= end)
			return st;
		cJSON_Delete(*json);
		clock_sleep_ms(50);
	}
}

/* Partition count of __consumer_offsets as broker via lists it, 0 if absent. */
static int offsets_partitions(int via, int *internal)
{
	cJSON *arr = NULL, *t;
	int n = 0;

	*internal = 0;
	ck_assert_int_eq(tcluster_http(cl, via, "GET", "/v1/topics", NULL, NULL, HTTP_MS, &arr),
	                 200);
	cJSON_ArrayForEach(t, arr) {
		const cJSON *name = cJSON_GetObjectItem(t, "name");

		if (cJSON_IsString(name) && strcmp(name->valuestring, BROKER_OFFSETS_TOPIC) == 0) {
			n = cJSON_GetObjectItem(t, "partitions")->valueint;
			*internal = cJSON_IsTrue(cJSON_GetObjectItem(t, "internal"));
		} else {
			ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(t, "internal")));
		}
	}
	cJSON_Delete(arr);
	return n;
}

/* The coordinator of group: the leader of its partition of __consumer_offsets. */
static int coordinator_of(const char *group, int32_t nparts)
{
	tcluster_partition_t st;
	int32_t p = broker_group_partition(group, nparts);

	ck_assert_int_eq(tcluster_partition(cl, 1, BROKER_OFFSETS_TOPIC, p, &st), 0);
	return st.leader;
}

/* The committed offset of topic/p in a GET /v1/groups/{g}/offsets answer, -1 if none. */
static int64_t committed(const cJSON *doc, const char *topic, int p)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "offsets"))
		if (strcmp(cJSON_GetObjectItem(o, "topic")->valuestring, topic) == 0 &&
		    cJSON_GetObjectItem(o, "partition")->valueint == p)
			return (int64_t)cJSON_GetObjectItem(o, "offset")->valuedouble;
	return -1;
}

static int has_leader(const tcluster_partition_t *p, void *arg)
{
	(void)arg;
	return p->leader > 0;
}

START_TEST(test_offsets_topic_internal_and_routed)
{
	cJSON *json = NULL;
	const cJSON *url;
	char path[200];
	int internal, n, coord;
	long st;

	start_cluster();
	create_topic("t", 2, 3);
	ck_assert_int_eq(offsets_partitions(1, &internal), 0);
	/* the first group request creates __consumer_offsets */
	st = http_until(2, "POST", "/v1/groups/g1/offsets",
	                "{\"offsets\":[{\"topic\":\"t\",\"partition\":0,\"offset\":5}]}", &json);
	ck_assert_msg(st == 204, "commit: %ld", st);
	cJSON_Delete(json);
	for (int id = 1; id <= NB; id++) {
		int64_t end = clock_now_ms() + WAIT_MS;

		/* each broker's etcd watch brings the new topic in its own time */
		while ((n = offsets_partitions(id, &internal)) == 0 && clock_now_ms() < end)
			clock_sleep_ms(20);
		ck_assert_int_eq(n, 16);   /* META_OFFSETS_PARTITIONS_DEFAULT */
		ck_assert(internal);
	}
	for (int32_t p = 0; p < n; p++)
		ck_assert_int_eq(tcluster_wait_partition(cl, 1, BROKER_OFFSETS_TOPIC, p, has_leader,
		                                         NULL, WAIT_MS, NULL, errbuf,
		                                         sizeof errbuf), 0);
	coord = coordinator_of("g1", n);
	ck_assert_int_ge(coord, 1);

	/* any broker answers; Strand-Route: direct elsewhere is 421 naming it */
	for (int id = 1; id <= NB; id++) {
		static const char *const direct[] = { "Strand-Route: direct", NULL };

		st = http_until(id, "GET", "/v1/groups/g1/offsets", NULL, &json);
		ck_assert_int_eq(st, 200);
		ck_assert_int_eq(committed(json, "t", 0), 5);
		cJSON_Delete(json);
		json = NULL;
		st = tcluster_http(cl, id, "GET", "/v1/groups/g1/offsets", NULL, direct, HTTP_MS,
		                   &json);
		if (id == coord) {
			ck_assert_int_eq(st, 200);
		} else {
			ck_assert_int_eq(st, 421);
			url = cJSON_GetObjectItem(json, "leader_url");
			ck_assert(cJSON_IsString(url));
			ck_assert_msg(tcluster_advertises(cl, coord, url->valuestring),
			              "leader_url %s is not broker %d's", url->valuestring, coord);
		}
		cJSON_Delete(json);
		json = NULL;
	}

	/* the group list of any broker holds every coordinator's groups */
	for (int g = 2; g <= 8; g++) {
		snprintf(path, sizeof path, "/v1/groups/g%d/offsets", g);
		st = http_until(1 + g % NB, "POST", path,
		                "{\"offsets\":[{\"topic\":\"t\",\"partition\":1,\"offset\":2}]}",
		                &json);
		ck_assert_msg(st == 204, "commit g%d: %ld", g, st);
		cJSON_Delete(json);
	}
	{
		unsigned coords = 0;

		for (int g = 1; g <= 8; g++) {
			snprintf(path, sizeof path, "g%d", g);
			coords |= 1u << coordinator_of(path, n);
		}
		ck_assert_msg(__builtin_popcount(coords) >= 2, "all 8 groups on one coordinator");
	}
	for (int id = 1; id <= NB; id++) {
		const cJSON *item;
		int g = 1;

		st = http_until(id, "GET", "/v1/groups", NULL, &json);
		ck_assert_int_eq(st, 200);
		ck_assert_int_eq(cJSON_GetArraySize(json), 8);
		cJSON_ArrayForEach(item, json) {
			char name[16];

			snprintf(name, sizeof name, "g%d", g++);
			ck_assert_str_eq(cJSON_GetObjectItem(item, "group")->valuestring, name);
		}
		cJSON_Delete(json);
	}
	/* the merging broker tells each coordinator which partitions its view
	 * gives it (?partitions=): one that does not lead them answers 503, not
	 * a list short of their groups (seen in a leadership change) */
	{
		static const char *const direct[] = { "Strand-Route: direct", NULL };
		tcluster_partition_t pst;
		int other;

		ck_assert_int_eq(tcluster_partition(cl, 1, BROKER_OFFSETS_TOPIC, 0, &pst), 0);
		other = pst.leader % NB + 1;
		st = tcluster_http(cl, pst.leader, "GET", "/v1/groups?partitions=0", NULL, direct,
		                   HTTP_MS, &json);
		ck_assert_int_eq(st, 200);
		cJSON_Delete(json);
		st = tcluster_http(cl, other, "GET", "/v1/groups?partitions=0", NULL, direct, HTTP_MS,
		                   &json);
		ck_assert_int_eq(st, 503);
		ck_assert_str_eq(cJSON_GetObjectItem(json, "code")->valuestring, "UNAVAILABLE");
		cJSON_Delete(json);
		st = tcluster_http(cl, other, "GET", "/v1/groups?partitions=0,x", NULL, direct, HTTP_MS,
		                   &json);
		ck_assert_int_eq(st, 400);
		cJSON_Delete(json);
	}

	/* users may read it, not write, alter, delete or create it */
	snprintf(path, sizeof path, "/v1/topics/%s/partitions/0/records", BROKER_OFFSETS_TOPIC);
	st = tcluster_http(cl, 1, "POST", path, "{\"records\":[{\"value\":1}]}", NULL, HTTP_MS,
	                   &json);
	ck_assert_int_eq(st, 403);
	ck_assert_str_eq(cJSON_GetObjectItem(json, "code")->valuestring, "FORBIDDEN");
	cJSON_Delete(json);
	snprintf(path, sizeof path, "/v1/topics/%s", BROKER_OFFSETS_TOPIC);
	st = tcluster_http(cl, 1, "DELETE", path, NULL, NULL, HTTP_MS, &json);
	ck_assert_int_eq(st, 400);
	cJSON_Delete(json);
	st = tcluster_http(cl, 1, "PATCH", path, "{\"partitions\":20}", NULL, HTTP_MS, &json);
	ck_assert_int_eq(st, 400);
	cJSON_Delete(json);
	st = tcluster_http(cl, 1, "POST", "/v1/topics",
	                   "{\"name\":\"" BROKER_OFFSETS_TOPIC "\",\"partitions\":1}", NULL,
	                   HTTP_MS, &json);
	ck_assert_int_eq(st, 400);
	cJSON_Delete(json);
	ck_assert_int_eq(offsets_partitions(3, &internal), 16);
}
END_TEST

/* ---- the coordinator killed ------------------------------------------------ */

#define KT_PARTS    2
#define KT_RECORDS  30     /* per partition */

typedef struct consumer {
	char    member[80];
	int     generation;
	int     via;                        /* the broker it talks to */
	int64_t first[KT_PARTS];            /* first offset read per partition since it joined */
	int64_t next[KT_PARTS];             /* what it would commit: after the last read */
	int     seen[KT_PARTS][KT_RECORDS]; /* offsets read, ever */
} consumer_t;

static void consumer_join(consumer_t *c, int via)
{
	cJSON *json = NULL;
	long st;

	c->via = via;
	st = http_until(via, "POST", "/v1/groups/cg/members",
	                "{\"topics\":[\"t\"],\"auto_offset_reset\":\"earliest\","
	                "\"session_timeout_ms\":30000}", &json);
	ck_assert_msg(st == 200, "join via %d: %ld", via, st);
	snprintf(c->member, sizeof c->member, "%s",
	         cJSON_GetObjectItem(json, "member_id")->valuestring);
	c->generation = cJSON_GetObjectItem(json, "generation")->valueint;
	cJSON_Delete(json);
	for (int p = 0; p < KT_PARTS; p++) {
		c->first[p] = -1;
		c->next[p] = -1;
	}
}

/* One member fetch of at most max records; returns how many came. */
static int consumer_fetch(consumer_t *c, int max)
{
	char path[256];
	cJSON *json = NULL;
	const cJSON *r;
	int n = 0;
	long st;

	snprintf(path, sizeof path, "/v1/groups/cg/members/%s/records?max_records=%d&max_wait_ms=0",
	         c->member, max);
	st = http_until(c->via, "GET", path, NULL, &json);
	ck_assert_msg(st == 200, "fetch: %ld", st);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(json, "records")) {
		int p = cJSON_GetObjectItem(r, "partition")->valueint;
		int64_t off = (int64_t)cJSON_GetObjectItem(r, "offset")->valuedouble;

		ck_assert(p >= 0 && p < KT_PARTS && off >= 0 && off < KT_RECORDS);
		if (c->first[p] < 0)
			c->first[p] = off;
		c->seen[p][off] = 1;
		c->next[p] = off + 1;
		n++;
	}
	cJSON_Delete(json);
	return n;
}

/* Commit what was read; 204 expected. */
static void consumer_commit(consumer_t *c)
{
	char body[512];
	size_t pos;
	cJSON *json = NULL;
	long st;

	pos = (size_t)snprintf(body, sizeof body, "{\"member_id\":\"%s\",\"generation\":%d,"
	                       "\"offsets\":[", c->member, c->generation);
	for (int p = 0, k = 0; p < KT_PARTS; p++)
		if (c->next[p] >= 0)
			pos += (size_t)snprintf(body + pos, sizeof body - pos,
			                        "%s{\"topic\":\"t\",\"partition\":%d,\"offset\":%" PRId64 "}",
			                        k++ ? "," : "", p, c->next[p]);
	snprintf(body + pos, sizeof body - pos, "]}");
	st = tcluster_http(cl, c->via, "POST", "/v1/groups/cg/offsets", body, NULL, HTTP_MS, &json);
	ck_assert_msg(st == 204, "commit: %ld", st);
	cJSON_Delete(json);
}

/* The coordinator as broker via sees it. */
static int coordinator_of_via(int via, const char *group, int32_t nparts)
{
	tcluster_partition_t st;

	ck_assert_int_eq(tcluster_partition(cl, via, BROKER_OFFSETS_TOPIC,
	                                    broker_group_partition(group, nparts), &st), 0);
	return st.leader;
}

/* Leave the group (a simple commit needs it empty). */
static void consumer_leave(consumer_t *c)
{
	char path[200];
	cJSON *json = NULL;
	long st;

	snprintf(path, sizeof path, "/v1/groups/cg/members/%s", c->member);
	st = tcluster_http(cl, c->via, "DELETE", path, NULL, NULL, HTTP_MS, &json);
	ck_assert_msg(st == 204, "leave: %ld", st);
	cJSON_Delete(json);
}

/* Join group (a new member) through via: its generation. */
static int join_generation(int via, const char *group)
{
	char path[200];
	cJSON *json = NULL;
	int gen;
	long st;

	snprintf(path, sizeof path, "/v1/groups/%s/members", group);
	st = http_until(via, "POST", path, "{\"topics\":[\"t\"],\"session_timeout_ms\":30000}",
	                &json);
	ck_assert_msg(st == 200, "join %s via %d: %ld", group, via, st);
	gen = cJSON_GetObjectItem(json, "generation")->valueint;
	cJSON_Delete(json);
	return gen;
}

static int led_by_other(const tcluster_partition_t *p, void *arg)
{
	return p->leader > 0 && p->leader != *(const int *)arg;
}

START_TEST(test_coordinator_killed_offsets_survive)
{
	consumer_t c;
	cJSON *json = NULL;
	char path[160], body[160];
	int64_t committed_at[KT_PARTS];
	char joined_only[16];
	int internal, n, coord, other, gen_before, gen_joined;
	long st;

	start_cluster();
	create_topic("t", KT_PARTS, 3);
	for (int p = 0; p < KT_PARTS; p++) {
		snprintf(path, sizeof path, "/v1/topics/t/partitions/%d/records", p);
		for (int i = 0; i < KT_RECORDS; i++) {
			snprintf(body, sizeof body, "{\"records\":[{\"value\":\"%d-%d\"}]}", p, i);
			st = http_until(1, "POST", path, body, &json);
			ck_assert_msg(st == 200, "produce: %ld", st);
			cJSON_Delete(json);
		}
	}

	/* a consumer reads part of each partition and commits, twice */
	memset(&c, 0, sizeof c);
	consumer_join(&c, 1);
	{
		int64_t end = clock_now_ms() + WAIT_MS;

		/* small fetches (member fetches start at a different partition
		 * each time) until both partitions were read from, committing each */
		while ((c.next[0] < 0 || c.next[1] < 0) && clock_now_ms() < end)
			if (consumer_fetch(&c, 2) > 0)
				consumer_commit(&c);
	}
	for (int p = 0; p < KT_PARTS; p++) {
		committed_at[p] = c.next[p];
		ck_assert_msg(committed_at[p] > 0, "partition %d: read to %" PRId64 " before the kill",
		              p, committed_at[p]);
	}
	ck_assert_msg(committed_at[0] < KT_RECORDS || committed_at[1] < KT_RECORDS,
	              "everything read before the kill");
	gen_before = c.generation;

	/* the coordinator dies */
	n = offsets_partitions(1, &internal);
	ck_assert_int_eq(n, 16);
	coord = coordinator_of("cg", n);
	ck_assert_int_ge(coord, 1);
	/* and a group of the same coordinator that joined but never committed:
	 * its generation was written when its member collected it */
	for (int i = 0; i < 100; i++) {
		snprintf(joined_only, sizeof joined_only, "cj%d", i);
		if (coordinator_of(joined_only, n) == coord)
			break;
	}
	ck_assert_int_eq(coordinator_of(joined_only, n), coord);
	gen_joined = join_generation(1, joined_only);
	ck_assert_int_ge(gen_joined, 1);
	ck_assert_int_eq(tcluster_kill(cl, coord), 0);
	other = coord % NB + 1;
	ck_assert_msg(tcluster_wait_partition(cl, other, BROKER_OFFSETS_TOPIC,
	                                      broker_group_partition("cg", n), led_by_other, &coord,
	                                      WAIT_MS, NULL, errbuf, sizeof errbuf) == 0,
	              "no new coordinator: %s", errbuf);

	/* every live broker shows every committed offset (the new coordinator
	 * loaded them from its replica of the partition) */
	for (int id = 1; id <= NB; id++) {
		if (id == coord)
			continue;
		st = http_until(id, "GET", "/v1/groups/cg/offsets", NULL, &json);
		ck_assert_msg(st == 200, "offsets via %d: %ld", id, st);
		for (int p = 0; p < KT_PARTS; p++)
			ck_assert_msg(committed(json, "t", p) == committed_at[p],
			              "via %d partition %d: committed %" PRId64 ", shown %" PRId64, id, p,
			              committed_at[p], committed(json, "t", p));
		cJSON_Delete(json);
	}

	st = http_until(other, "GET", "/v1/groups", NULL, &json);
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq(cJSON_GetArraySize(json), 2);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(json, 0), "group")->valuestring,
	                 "cg");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(json, 1), "group")->valuestring,
	                 joined_only);
	cJSON_Delete(json);

	/* the old member is unknown to the new coordinator: it joins again and
	 * resumes from the committed offsets, nothing skipped */
	snprintf(path, sizeof path, "/v1/groups/cg/members/%s/heartbeat", c.member);
	st = http_until(other, "POST", path, "{}", &json);
	ck_assert_int_eq(st, 404);
	cJSON_Delete(json);
	consumer_join(&c, other);
	ck_assert_msg(c.generation > gen_before, "generation %d after %d", c.generation,
	              gen_before);
	ck_assert_int_gt(join_generation(other, joined_only), gen_joined);
	{
		int64_t end = clock_now_ms() + WAIT_MS;
		int done = 0;

		while (!done && clock_now_ms() < end) {
			consumer_fetch(&c, 100);
			done = 1;
			for (int p = 0; p < KT_PARTS; p++)
				done &= c.next[p] == KT_RECORDS;
		}
	}
	for (int p = 0; p < KT_PARTS; p++) {
		if (committed_at[p] < KT_RECORDS)
			ck_assert_int_eq(c.first[p], committed_at[p]);
		for (int i = 0; i < KT_RECORDS; i++)
			ck_assert_msg(c.seen[p][i], "partition %d offset %d never read", p, i);
	}
	consumer_commit(&c);
	st = http_until(other, "GET", "/v1/groups/cg/offsets", NULL, &json);
	ck_assert_int_eq(st, 200);
	for (int p = 0; p < KT_PARTS; p++)
		ck_assert_int_eq(committed(json, "t", p), KT_RECORDS);
	cJSON_Delete(json);

	/* alone, the new coordinator cannot get a commit replicated: 503 */
	{
		int coord2 = coordinator_of_via(other, "cg", n), last = 0;
		const cJSON *code;

		for (int id = 1; id <= NB; id++)
			if (id != coord && id != coord2)
				last = id;
		ck_assert_int_eq(tcluster_kill(cl, last), 0);
		c.via = coord2;
		snprintf(body, sizeof body, "{\"offsets\":[{\"topic\":\"t\",\"partition\":0,"
		         "\"offset\":1}]}");
		consumer_leave(&c);
		st = tcluster_http(cl, coord2, "POST", "/v1/groups/cg/offsets", body, NULL,
		                   HTTP_MS, &json);
		ck_assert_int_eq(st, 503);
		code = cJSON_GetObjectItem(json, "code");
		ck_assert_msg(strcmp(code->valuestring, "REQUEST_TIMED_OUT") == 0 ||
		              strcmp(code->valuestring, "NOT_ENOUGH_REPLICAS") == 0, "%s",
		              code->valuestring);
		ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(json, "retriable")));
		cJSON_Delete(json);
	}
}
END_TEST

/* ---- leadership moving back ------------------------------------------------ */

static int led_by(const tcluster_partition_t *p, void *arg)
{
	return p->leader == *(const int *)arg && tcluster_in_isr(p, p->leader) &&
	       p->nisr >= 2;
}

/*
 * The leader broker via itself holds for partition p of __consumer_offsets
 * (-1: none, or no answer). Its own view (Strand-Route: direct): a plain GET
 * /v1/topics/{topic} gives, for a partition led elsewhere, the leader's own
 * entry (docs/REPLICATION.md "Describe through any broker"), which says who
 * leads before via's metadata cache, which routes its group requests, does.
 */
static int own_view_leader(int via, int32_t p)
{
	static const char *const direct[] = { "Strand-Route: direct", NULL };
	cJSON *json = NULL, *x;
	int leader = -1;

	if (tcluster_http(cl, via, "GET", "/v1/topics/" BROKER_OFFSETS_TOPIC, NULL, direct, HTTP_MS,
	                  &json) == 200)
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(json, "partitions"))
			if (cJSON_GetObjectItem(x, "partition")->valueint == p)
				leader = cJSON_GetObjectItem(x, "leader")->valueint;
	cJSON_Delete(json);
	return leader;
}

/* The committed offset of mb's t/0 through broker via (-1: none). */
static int64_t mb_committed(int via)
{
	cJSON *json = NULL;
	int64_t off;
	long st = http_until(via, "GET", "/v1/groups/mb/offsets", NULL, &json);

	ck_assert_msg(st == 200, "offsets via %d: %ld", via, st);
	off = committed(json, "t", 0);
	cJSON_Delete(json);
	return off;
}

static void mb_commit(int via, int64_t offset)
{
	char body[160];
	cJSON *json = NULL;
	long st;

	snprintf(body, sizeof body, "{\"offsets\":[{\"topic\":\"t\",\"partition\":0,"
	         "\"offset\":%" PRId64 "}]}", offset);
	st = http_until(via, "POST", "/v1/groups/mb/offsets", body, &json);
	ck_assert_msg(st == 204, "commit %" PRId64 " via %d: %ld", offset, via, st);
	cJSON_Delete(json);
}

START_TEST(test_coordinator_returns_and_reloads)
{
	static const char *const direct[] = { "Strand-Route: direct", NULL };
	cJSON *json = NULL;
	int internal, n, first, second;
	int32_t p;
	long st;

	start_cluster();
	create_topic("t", 1, 3);
	mb_commit(1, 3);
	n = offsets_partitions(1, &internal);
	p = broker_group_partition("mb", n);
	first = coordinator_of("mb", n);

	/* the first coordinator dies; its successor takes a commit */
	ck_assert_int_eq(tcluster_kill(cl, first), 0);
	second = first % NB + 1;
	ck_assert_msg(tcluster_wait_partition(cl, second, BROKER_OFFSETS_TOPIC, p, led_by_other,
	                                      &first, WAIT_MS, NULL, errbuf, sizeof errbuf) == 0,
	              "no new coordinator: %s", errbuf);
	second = coordinator_of_via(second, "mb", n);
	mb_commit(second, 4);

	/* it returns, catches up as a follower, and the controller gives it
	 * back its preferred leadership: it loads the partition again, with
	 * the commit made while it was away; the other one dropped the group */
	ck_assert_msg(tcluster_restart(cl, first, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_msg(tcluster_wait_partition(cl, second, BROKER_OFFSETS_TOPIC, p, led_by, &first,
	                                      WAIT_MS, NULL, errbuf, sizeof errbuf) == 0,
	              "leadership not back on broker %d: %s", first, errbuf);
	for (int id = 1; id <= NB; id++)
		ck_assert_int_eq(mb_committed(id), 4);
	/* the wait above read the new leader's own entry through `second`:
	 * wait (deadline) until `second` itself knows, then it sends the
	 * group's requests there (a direct one gets 421) */
	{
		int64_t end = clock_now_ms() + WAIT_MS;

		while (own_view_leader(second, p) != first && clock_now_ms() < end)
			clock_sleep_ms(50);
		ck_assert_int_eq(own_view_leader(second, p), first);
	}
	st = tcluster_http(cl, second, "GET", "/v1/groups/mb/offsets", NULL, direct, HTTP_MS,
	                   &json);
	ck_assert_int_eq(st, 421);
	cJSON_Delete(json);
	st = http_until(second, "GET", "/v1/groups", NULL, &json);
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq(cJSON_GetArraySize(json), 1);
	cJSON_Delete(json);
	mb_commit(second, 5);
	ck_assert_int_eq(mb_committed(first), 5);
}
END_TEST

/* ---- compaction ------------------------------------------------------------ */

#define CP_COMMITS     300
#define CP_SEGMENT     4096
#define CP_BOUND       (6 * CP_SEGMENT)  /* live records + active + one dirty segment, with room */

/* Bytes of broker id's replica of __consumer_offsets-0 (its .log files). */
static int64_t replica_bytes(int id)
{
	char dir[1024], path[1400];
	struct dirent *de;
	struct stat st;
	int64_t sum = 0;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/%s-0", tcluster_data_dir(cl, id), BROKER_OFFSETS_TOPIC);
	d = opendir(dir);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".log") == 0 && stat(path, &st) == 0)
			sum += st.st_size;
	}
	closedir(d);
	return sum;
}

/* Simple commit of group g: t/0 at o0, t/1 at o1. */
static void simple_commit(int via, const char *g, int64_t o0, int64_t o1)
{
	char path[160], body[256];
	cJSON *json = NULL;
	long st;

	snprintf(path, sizeof path, "/v1/groups/%s/offsets", g);
	snprintf(body, sizeof body, "{\"offsets\":[{\"topic\":\"t\",\"partition\":0,\"offset\":%"
	         PRId64 "},{\"topic\":\"t\",\"partition\":1,\"offset\":%" PRId64 "}]}", o0, o1);
	st = http_until(via, "POST", path, body, &json);
	ck_assert_msg(st == 204, "commit %s via %d: %ld", g, via, st);
	cJSON_Delete(json);
}

/* Group g's generation as broker via describes it. */
static int group_generation(int via, const char *g)
{
	char path[160];
	cJSON *json = NULL;
	int gen;
	long st;

	snprintf(path, sizeof path, "/v1/groups/%s", g);
	st = http_until(via, "GET", path, NULL, &json);
	ck_assert_msg(st == 200, "describe %s via %d: %ld", g, via, st);
	gen = cJSON_GetObjectItem(json, "generation")->valueint;
	cJSON_Delete(json);
	return gen;
}

/*
 * The last record of __consumer_offsets-0 (read through broker via, from
 * offset 0 to its high watermark) whose key is the offset key (g, topic, p):
 * 1 a tombstone, 0 a value, -1 none.
 */
static int last_offset_record(int via, const char *g, const char *topic, int32_t p)
{
	int64_t next = 0, hw = 1;
	int found = -1;

	while (next < hw) {
		char path[200];
		cJSON *json = NULL;
		const cJSON *r;
		long st;

		snprintf(path, sizeof path, "/v1/topics/%s/partitions/0/records?offset=%" PRId64
		         "&max_records=1000", BROKER_OFFSETS_TOPIC, next);
		st = http_until(via, "GET", path, NULL, &json);
		ck_assert_msg(st == 200, "read %s: %ld", BROKER_OFFSETS_TOPIC, st);
		cJSON_ArrayForEach(r, cJSON_GetObjectItem(json, "records")) {
			const cJSON *k = cJSON_GetObjectItem(r, "key"), *v = cJSON_GetObjectItem(r, "value");
			uint8_t key[512], val[4096];
			size_t kl = 0, vl = 0;
			offsets_log_record_t rec;

			ck_assert(cJSON_IsString(k) && strlen(k->valuestring) < 600);
			ck_assert_int_eq(base64_decode(k->valuestring, strlen(k->valuestring), key, &kl), 0);
			if (cJSON_IsString(v)) {
				ck_assert(strlen(v->valuestring) < 5000);
				ck_assert_int_eq(base64_decode(v->valuestring, strlen(v->valuestring), val,
				                               &vl), 0);
			}
			if (offsets_log_decode(key, (int32_t)kl, val, cJSON_IsString(v) ? (int32_t)vl : -1,
			                       &rec) != 0 || rec.kind != OFFSETS_LOG_KEY_OFFSET)
				continue;
			if (strcmp(rec.group, g) == 0 && strcmp(rec.offset.topic, topic) == 0 &&
			    rec.offset.partition == p)
				found = rec.tombstone;
		}
		next = (int64_t)cJSON_GetObjectItem(json, "next_offset")->valuedouble;
		hw = (int64_t)cJSON_GetObjectItem(json, "high_watermark")->valuedouble;
		cJSON_Delete(json);
	}
	return found;
}

static int leads_alone(const tcluster_partition_t *p, void *arg)
{
	return p->leader == *(const int *)arg;
}

static int in_isr_of(const tcluster_partition_t *p, void *arg)
{
	return p->leader > 0 && tcluster_in_isr(p, *(const int *)arg);
}

static int out_of_isr(const tcluster_partition_t *p, void *arg)
{
	return p->leader > 0 && !tcluster_in_isr(p, *(const int *)arg);
}

/*
 * Issue 10: __consumer_offsets grew one batch per commit forever. With
 * compaction each replica's copy stays bounded however many commits come;
 * a follower whose copy is wiped catches up from offset 0 of the compacted
 * leader (across its gaps), and as the only survivor becomes coordinator
 * and restores every group's last committed offsets and generation from
 * its compacted log; a deleted group does not come back.
 */
START_TEST(test_offsets_compacted_bounded_and_restored)
{
	tcluster_options_t o;
	cJSON *json = NULL;
	char path[200];
	int leader, wiped, gen_a, gen_b;
	long st;

	memset(&o, 0, sizeof o);
	o.brokers = NB;
	o.extra_args[0] = "--offsets-partitions=1";
	o.extra_args[1] = "--offsets-segment-bytes=4096";
	o.extra_args[2] = "--log-cleaner-backoff-ms=100";
	ck_assert_msg(tcluster_start(&o, &cl, errbuf, sizeof errbuf) == 0, "start: %s", errbuf);
	create_topic("t", 2, 3);

	/* groups with a generation: a member joins, commits, leaves */
	gen_a = join_generation(1, "ga");
	st = http_until(2, "POST", "/v1/groups/gb/members",
	                "{\"topics\":[\"t\"],\"session_timeout_ms\":30000}", &json);
	ck_assert_msg(st == 200, "join gb: %ld", st);
	snprintf(path, sizeof path, "/v1/groups/gb/members/%s",
	         cJSON_GetObjectItem(json, "member_id")->valuestring);
	cJSON_Delete(json);
	st = http_until(2, "DELETE", path, NULL, &json);
	ck_assert_msg(st == 204, "leave gb: %ld", st);
	cJSON_Delete(json);
	gen_b = join_generation(2, "gb");       /* a later generation */
	ck_assert_int_gt(gen_b, gen_a);
	/* a group that is deleted: its tombstones must keep it deleted */
	simple_commit(3, "gdel", 1, 1);
	/* offsets of a topic that is deleted */
	create_topic("tdel", 1, 3);
	st = http_until(1, "POST", "/v1/groups/g1/offsets", "{\"offsets\":[{\"topic\":\"tdel\","
	                "\"partition\":0,\"offset\":0}]}", &json);
	ck_assert_msg(st == 204, "commit tdel: %ld", st);
	cJSON_Delete(json);
	ck_assert_int_eq(last_offset_record(1, "g1", "tdel", 0), 0);
	st = http_until(1, "DELETE", "/v1/topics/tdel", NULL, &json);
	ck_assert_msg(st == 204, "delete tdel: %ld", st);
	cJSON_Delete(json);
	/* many commits (the groups above are not empty: simple commits to others) */
	for (int i = 1; i <= CP_COMMITS; i++)
		simple_commit(1 + i % NB, i % 2 ? "g1" : "g2", i, 2 * i);
	st = http_until(1, "DELETE", "/v1/groups/gdel", NULL, &json);
	ck_assert_msg(st == 204, "delete gdel: %ld", st);
	cJSON_Delete(json);
	/* both deletes left tombstones for the offsets' keys (compaction keeps
	 * each key's last record: without them the values would stay) */
	ck_assert_int_eq(last_offset_record(2, "gdel", "t", 0), 1);
	ck_assert_int_eq(last_offset_record(2, "gdel", "t", 1), 1);
	{
		int64_t end = clock_now_ms() + WAIT_MS;   /* not waited for by the delete */

		while (last_offset_record(2, "g1", "tdel", 0) != 1 && clock_now_ms() < end)
			clock_sleep_ms(50);
		ck_assert_int_eq(last_offset_record(2, "g1", "tdel", 0), 1);
	}

	/* every replica's copy stays bounded (the cleaner runs every 100 ms) */
	for (int id = 1; id <= NB; id++) {
		int64_t end = clock_now_ms() + WAIT_MS, b;

		while ((b = replica_bytes(id)) > CP_BOUND && clock_now_ms() < end)
			clock_sleep_ms(50);
		ck_assert_msg(b >= 0 && b <= CP_BOUND, "broker %d holds %" PRId64 " bytes of %s-0 "
		              "after %d commits (bound %d)", id, b, BROKER_OFFSETS_TOPIC,
		              CP_COMMITS, CP_BOUND);
	}

	/* wipe a follower's copy: it fetches it again from offset 0 */
	leader = coordinator_of("g1", 1);
	wiped = leader % NB + 1;
	ck_assert_int_eq(tcluster_shutdown(cl, wiped), 0);
	/* the controller drops it first: an ISR still holding it from before
	 * would pass the wait below at once, and the leader could then commit
	 * without it and die with an ISR the wiped broker is not in */
	ck_assert_msg(tcluster_wait_partition(cl, leader, BROKER_OFFSETS_TOPIC, 0, out_of_isr,
	                                      &wiped, WAIT_MS, NULL, errbuf, sizeof errbuf) == 0,
	              "broker %d still in the ISR after its shutdown: %s", wiped, errbuf);
	snprintf(path, sizeof path, "rm -rf '%s/%s-0'", tcluster_data_dir(cl, wiped),
	         BROKER_OFFSETS_TOPIC);
	ck_assert_int_eq(system(path), 0);
	ck_assert_msg(tcluster_restart(cl, wiped, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_msg(tcluster_wait_partition(cl, leader, BROKER_OFFSETS_TOPIC, 0, in_isr_of,
	                                      &wiped, WAIT_MS, NULL, errbuf, sizeof errbuf) == 0,
	              "broker %d not back in sync: %s", wiped, errbuf);
	simple_commit(1, "g1", CP_COMMITS + 1, 7);   /* needs the rejoined replica's ack too */

	/* every other broker dies: the wiped one coordinates from its copy */
	for (int id = 1; id <= NB; id++)
		if (id != wiped)
			ck_assert_int_eq(tcluster_kill(cl, id), 0);
	ck_assert_msg(tcluster_wait_partition(cl, wiped, BROKER_OFFSETS_TOPIC, 0, leads_alone,
	                                      &wiped, WAIT_MS, NULL, errbuf, sizeof errbuf) == 0,
	              "broker %d does not lead %s-0: %s", wiped, BROKER_OFFSETS_TOPIC, errbuf);
	st = http_until(wiped, "GET", "/v1/groups/g1/offsets", NULL, &json);
	ck_assert_msg(st == 200, "g1 offsets: %ld", st);
	ck_assert_int_eq(committed(json, "t", 0), CP_COMMITS + 1);
	ck_assert_int_eq(committed(json, "t", 1), 7);
	cJSON_Delete(json);
	st = http_until(wiped, "GET", "/v1/groups/g2/offsets", NULL, &json);
	ck_assert_msg(st == 200, "g2 offsets: %ld", st);
	ck_assert_int_eq(committed(json, "t", 0), CP_COMMITS);
	ck_assert_int_eq(committed(json, "t", 1), 2 * CP_COMMITS);
	cJSON_Delete(json);
	ck_assert_int_eq(group_generation(wiped, "ga"), gen_a);
	ck_assert_int_eq(group_generation(wiped, "gb"), gen_b);
	st = http_until(wiped, "GET", "/v1/groups", NULL, &json);
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq(cJSON_GetArraySize(json), 4);      /* ga gb g1 g2; not gdel */
	for (int i = 0; i < 4; i++)
		ck_assert_str_ne(cJSON_GetObjectItem(cJSON_GetArrayItem(json, i),
		                                     "group")->valuestring, "gdel");
	cJSON_Delete(json);

	/* strand log check reads a compacted copy (gaps and all) as sound */
	{
		const char *bin = getenv("STRAND_BIN");
		int other = wiped % NB + 1;

		snprintf(path, sizeof path, "'%s' log check '%s/%s-0' >/dev/null",
		         bin != NULL && *bin != '\0' ? bin : "./strand", tcluster_data_dir(cl, other),
		         BROKER_OFFSETS_TOPIC);
		ck_assert_msg(system(path) == 0, "%s failed", path);
	}
}
END_TEST

static Suite *groups_suite(void)
{
	Suite *s = suite_create("cluster_groups");
	TCase *tc = tcase_create("routing");

	tcase_add_checked_fixture(tc, NULL, cluster_teardown);
	tcase_add_test(tc, test_offsets_topic_internal_and_routed);
	suite_add_tcase(s, tc);
	tc = tcase_create("failover");
	tcase_add_checked_fixture(tc, NULL, cluster_teardown);
	tcase_add_test(tc, test_coordinator_killed_offsets_survive);
	suite_add_tcase(s, tc);
	tc = tcase_create("moveback");
	tcase_add_checked_fixture(tc, NULL, cluster_teardown);
	tcase_add_test(tc, test_coordinator_returns_and_reloads);
	suite_add_tcase(s, tc);
	tc = tcase_create("compaction");
	tcase_add_checked_fixture(tc, NULL, cluster_teardown);
	tcase_add_test(tc, test_offsets_compacted_bounded_and_restored);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tcluster_run_suite(groups_suite());
}
