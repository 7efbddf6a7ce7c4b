/*
 * test_http_groups.c — consumer groups over HTTP against a real
 * `strand serve` (tests/api/harness.h): join, heartbeat, leave, member
 * fetch and fenced commits; concurrent joins get disjoint, complete
 * assignments; leave and session expiry reassign everything; stale
 * generations are refused; committed offsets survive a restart; and a
 * stress run of members joining, leaving and crashing at random while
 * consuming, which checks that no partition is ever owned by two members
 * of one generation and that every record is processed at least once.
 *
 * Waits are on conditions with deadlines, never sleeps to let things settle.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

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

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static void create_topic(harness_t *h, const char *name, int partitions)
{
	http_response_t r;
	char body[200];

	snprintf(body, sizeof body, "{\"name\":\"%s\",\"partitions\":%d}", name, partitions);
	http_json(h, "POST", "/v1/topics", body, &r);
	ASSERT_STATUS(r, 201);
	http_response_free(&r);
}

/* Produce n records with values first..first+n-1, spread by key. */
static void produce_ids(harness_t *h, const char *topic, int first, int n)
{
	buf_t body = BUF_INIT;
	http_response_t r;
	char path[200];

	buf_append_str(&body, "{\"records\":[");
	for (int i = 0; i < n; i++)
		buf_appendf(&body, "%s{\"key\":\"k%d\",\"value\":%d}", i ? "," : "", first + i,
		            first + i);
	buf_append_str(&body, "]}");
	snprintf(path, sizeof path, "/v1/topics/%s/records", topic);
	http_json(h, "POST", path, body.data, &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	buf_free(&body);
}

/* ---- a tiny consumer ---------------------------------------------------------- */

typedef struct consumer {
	harness_t *h;
	char       group[64];
	char       id[64];
	int        generation;
	int        nparts;
	int        parts[64];      /* partitions of the (single) topic */
} consumer_t;

/* Ownership seen in answers: owner[generation][partition] = member id. */
#define MAX_GEN  2048
#define MAX_PART 16
static pthread_mutex_t owners_lock = PTHREAD_MUTEX_INITIALIZER;
static char owners[MAX_GEN][MAX_PART][32];
static atomic_int conflicts;
static char conflict_msg[300];

static void owners_reset(void)
{
	pthread_mutex_lock(&owners_lock);
	memset(owners, 0, sizeof owners);
	atomic_store(&conflicts, 0);
	pthread_mutex_unlock(&owners_lock);
}

static void owners_record(int gen, int part, const char *id)
{
	if (gen <= 0 || gen >= MAX_GEN || part < 0 || part >= MAX_PART)
		return;
	pthread_mutex_lock(&owners_lock);
	if (owners[gen][part][0] == '\0') {
		snprintf(owners[gen][part], sizeof owners[gen][part], "%s", id);
	} else if (strcmp(owners[gen][part], id) != 0) {
		atomic_fetch_add(&conflicts, 1);
		snprintf(conflict_msg, sizeof conflict_msg,
		         "generation %d partition %d owned by %s and %s", gen, part,
		         owners[gen][part], id);
	}
	pthread_mutex_unlock(&owners_lock);
}

/* Read {"generation","assignment":[{"topic","partitions"}]} into c. */
static void consumer_take_assignment(consumer_t *c, const cJSON *doc)
{
	const cJSON *asg = cJSON_GetObjectItem(doc, "assignment"), *e, *p;

	c->generation = cJSON_GetObjectItem(doc, "generation")->valueint;
	c->nparts = 0;
	cJSON_ArrayForEach(e, asg)
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(e, "partitions")) {
			c->parts[c->nparts++] = p->valueint;
			owners_record(c->generation, p->valueint, c->id);
		}
}

/*
 * Join (rejoin when c->id is set). Returns the status; 200 fills c.
 * A 404 clears the id (the member expired: join anew next time).
 */
static long consumer_join(consumer_t *c, const char *topic, int session_ms, const char *assignor)
{
	http_response_t r;
	char path[128], body[400];
	cJSON *doc;
	long st;

	snprintf(path, sizeof path, "/v1/groups/%s/members", c->group);
	snprintf(body, sizeof body,
	         "{\"topics\":[\"%s\"],\"session_timeout_ms\":%d,\"rebalance_timeout_ms\":%d,"
	         "\"assignor\":\"%s\",\"auto_offset_reset\":\"earliest\"%s%s%s}",
	         topic, session_ms, session_ms, assignor, c->id[0] ? ",\"member_id\":\"" : "",
	         c->id, c->id[0] ? "\"" : "");
	st = http_json(c->h, "POST", path, body, &r);
	if (st == 200) {
		doc = http_body_json(&r);
		ck_assert_ptr_nonnull(doc);
		snprintf(c->id, sizeof c->id, "%s", cJSON_GetObjectItem(doc, "member_id")->valuestring);
		consumer_take_assignment(c, doc);
		cJSON_Delete(doc);
	} else if (st == 404) {
		c->id[0] = '\0';
	}
	http_response_free(&r);
	return st;
}

static long consumer_heartbeat(consumer_t *c)
{
	http_response_t r;
	char path[200];
	cJSON *doc;
	long st;

	snprintf(path, sizeof path, "/v1/groups/%s/members/%s/heartbeat", c->group, c->id);
	st = http_json(c->h, "POST", path, NULL, &r);
	if (st == 200) {
		doc = http_body_json(&r);
		consumer_take_assignment(c, doc);
		cJSON_Delete(doc);
	}
	http_response_free(&r);
	return st;
}

static long consumer_leave(consumer_t *c)
{
	http_response_t r;
	char path[200];
	long st;

	snprintf(path, sizeof path, "/v1/groups/%s/members/%s", c->group, c->id);
	st = http_request(c->h, "DELETE", path, NULL, NULL, 0, NULL, &r);
	http_response_free(&r);
	c->id[0] = '\0';
	return st;
}

/* Member fetch; on 200 *out is the document (caller deletes). */
static long consumer_fetch(consumer_t *c, int max_wait_ms, int max_records, cJSON **out)
{
	http_response_t r;
	char path[256];
	const cJSON *o;
	long st;

	*out = NULL;
	snprintf(path, sizeof path, "/v1/groups/%s/members/%s/records?max_wait_ms=%d&max_records=%d",
	         c->group, c->id, max_wait_ms, max_records);
	st = http_get(c->h, path, &r);
	if (st == 200) {
		*out = http_body_json(&r);
		ck_assert_ptr_nonnull(*out);
		c->generation = cJSON_GetObjectItem(*out, "generation")->valueint;
		cJSON_ArrayForEach(o, cJSON_GetObjectItem(*out, "offsets"))
			owners_record(c->generation, cJSON_GetObjectItem(o, "partition")->valueint, c->id);
	}
	http_response_free(&r);
	return st;
}

/* Commit the positions of a fetch answer, as the README's shell loop does. */
static long consumer_commit(consumer_t *c, const cJSON *fetched)
{
	http_response_t r;
	char path[128];
	cJSON *body = cJSON_CreateObject();
	char *text;
	long st;

	cJSON_AddStringToObject(body, "member_id", c->id);
	cJSON_AddNumberToObject(body, "generation",
	                        cJSON_GetObjectItem(fetched, "generation")->valueint);
	cJSON_AddItemToObject(body, "offsets",
	                      cJSON_Duplicate(cJSON_GetObjectItem(fetched, "offsets"), 1));
	text = cJSON_PrintUnformatted(body);
	snprintf(path, sizeof path, "/v1/groups/%s/offsets", c->group);
	st = http_json(c->h, "POST", path, text, &r);
	http_response_free(&r);
	free(text);
	cJSON_Delete(body);
	return st;
}

static cJSON *describe(harness_t *h, const char *group)
{
	http_response_t r;
	char path[128];
	cJSON *doc;

	snprintf(path, sizeof path, "/v1/groups/%s", group);
	http_get(h, path, &r);
	ASSERT_STATUS(r, 200);
	doc = http_body_json(&r);
	http_response_free(&r);
	return doc;
}

/* Describe says Stable with n members whose assignments cover nparts
 * partitions exactly once. */
static int stable_and_complete(harness_t *h, const char *group, int n, int nparts)
{
	int owners_count[64] = { 0 }, ok;
	http_response_t r;
	cJSON *doc, *m, *a, *p;
	char path[128];

	snprintf(path, sizeof path, "/v1/groups/%s", group);
	if (http_get(h, path, &r) != 200) {   /* 404 until the first join */
		http_response_free(&r);
		return 0;
	}
	doc = http_body_json(&r);
	http_response_free(&r);
	ok = strcmp(cJSON_GetObjectItem(doc, "state")->valuestring, "Stable") == 0 &&
	     cJSON_GetArraySize(cJSON_GetObjectItem(doc, "members")) == n;
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(doc, "members"))
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(m, "assignment"))
			cJSON_ArrayForEach(p, cJSON_GetObjectItem(a, "partitions"))
				owners_count[p->valueint]++;
	for (int i = 0; ok && i < nparts; i++)
		ok = owners_count[i] == 1;
	cJSON_Delete(doc);
	return ok;
}

/* ---- basics ------------------------------------------------------------------- */

START_TEST(test_join_heartbeat_fetch_commit_leave)
{
	consumer_t c = { &srv, "basic", "", 0, 0, { 0 } };
	http_response_t r;
	cJSON *doc, *recs, *rec;
	int seen[20] = { 0 }, n = 0;

	create_topic(&srv, "basic-t", 3);
	produce_ids(&srv, "basic-t", 0, 20);
	ck_assert_int_eq(consumer_join(&c, "basic-t", 10000, "range"), 200);
	ck_assert_int_eq(c.generation, 1);
	ck_assert_int_eq(c.nparts, 3);
	ck_assert_int_eq(consumer_heartbeat(&c), 200);
	/* one fetch reads across all partitions, each record tagged */
	ck_assert_int_eq(consumer_fetch(&c, 0, 1000, &doc), 200);
	recs = cJSON_GetObjectItem(doc, "records");
	cJSON_ArrayForEach(rec, recs) {
		ck_assert_str_eq(cJSON_GetObjectItem(rec, "topic")->valuestring, "basic-t");
		ck_assert_ptr_nonnull(cJSON_GetObjectItem(rec, "partition"));
		ck_assert_ptr_nonnull(cJSON_GetObjectItem(rec, "offset"));
		seen[cJSON_GetObjectItem(rec, "value")->valueint]++;
		n++;
	}
	ck_assert_int_eq(n, 20);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_int_eq(consumer_commit(&c, doc), 204);
	cJSON_Delete(doc);
	/* positions advanced: nothing more; lag 0 */
	ck_assert_int_eq(consumer_fetch(&c, 0, 1000, &doc), 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "records")), 0);
	cJSON_Delete(doc);
	doc = describe(&srv, "basic");
	ck_assert_str_eq(cJSON_GetObjectItem(doc, "state")->valuestring, "Stable");
	ck_assert_int_eq(cJSON_GetObjectItem(doc, "generation")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(doc, "lag")->valueint, 0);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "offsets")), 3);
	cJSON_Delete(doc);
	/* a member-less commit or a delete while a member exists: 409 */
	http_json(&srv, "POST", "/v1/groups/basic/offsets",
	          "{\"offsets\":[{\"topic\":\"basic-t\",\"partition\":0,\"offset\":0}]}", &r);
	ASSERT_PROBLEM(r, 409, "GROUP_NOT_EMPTY");
	http_response_free(&r);
	http_request(&srv, "DELETE", "/v1/groups/basic", NULL, NULL, 0, NULL, &r);
	ASSERT_PROBLEM(r, 409, "GROUP_NOT_EMPTY");
	http_response_free(&r);
	/* leave: 204, then the member is unknown everywhere */
	{
		char id[64];

		snprintf(id, sizeof id, "%s", c.id);
		ck_assert_int_eq(consumer_leave(&c), 204);
		snprintf(c.id, sizeof c.id, "%s", id);
	}
	http_json(&srv, "POST", "/v1/groups/basic/members/nobody/heartbeat", NULL, &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_MEMBER");
	http_response_free(&r);
	ck_assert_int_eq(consumer_heartbeat(&c), 404);
	ck_assert_int_eq(consumer_fetch(&c, 0, 10, &doc), 404);
	http_request(&srv, "DELETE", "/v1/groups/basic", NULL, NULL, 0, NULL, &r);
	ASSERT_STATUS(r, 204);
	http_response_free(&r);
}
END_TEST

START_TEST(test_join_errors)
{
	http_response_t r;

	create_topic(&srv, "err-t", 1);
	http_json(&srv, "POST", "/v1/groups/e/members", "{\"topics\":[\"nope\"]}", &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_TOPIC");
	http_response_free(&r);
	http_json(&srv, "POST", "/v1/groups/e/members", "{\"topics\":[]}", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	http_json(&srv, "POST", "/v1/groups/e/members", "{\"topics\":[\"err-t\"],\"assignor\":\"x\"}",
	          &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	http_json(&srv, "POST", "/v1/groups/e/members",
	          "{\"topics\":[\"err-t\"],\"session_timeout_ms\":1}", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	http_json(&srv, "POST", "/v1/groups/e/members",
	          "{\"topics\":[\"err-t\"],\"auto_offset_reset\":\"middle\"}", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	http_json(&srv, "POST", "/v1/groups/e/members", "{\"topics\":[\"err-t\"],\"extra\":1}", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	http_json(&srv, "POST", "/v1/groups/e/members",
	          "{\"topics\":[\"err-t\"],\"member_id\":\"member-gone\"}", &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_MEMBER");
	http_response_free(&r);
	http_json(&srv, "POST", "/v1/groups/e/offsets",
	          "{\"member_id\":\"m\",\"offsets\":[{\"topic\":\"err-t\",\"partition\":0,"
	          "\"offset\":0}]}", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");   /* member_id without generation */
	http_response_free(&r);
	http_get(&srv, "/v1/groups/e/members/x/records?max_wait_ms=-1", &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	http_get(&srv, "/v1/groups/e/members/x/records", &r);
	ASSERT_PROBLEM(r, 404, "UNKNOWN_MEMBER");
	http_response_free(&r);
}
END_TEST

/* ---- rebalancing ---------------------------------------------------------------- */

typedef struct worker {
	consumer_t       c;
	const char      *topic;
	const char      *assignor;
	atomic_int      *stop;
} worker_t;

/* A member that joins and then keeps heartbeating, rejoining when told. */
static void *heartbeat_worker(void *arg)
{
	worker_t *w = arg;
	long st;

	while (!atomic_load(w->stop)) {
		st = w->c.id[0] ? consumer_heartbeat(&w->c) : 0;
		if (st != 200)
			consumer_join(&w->c, w->topic, 10000, w->assignor);
	}
	return NULL;
}

START_TEST(test_concurrent_joins_get_disjoint_complete_assignments)
{
	enum { N = 4, PARTS = 10 };
	worker_t w[N];
	pthread_t th[N];
	atomic_int stop = 0;
	int64_t deadline = now_ms() + 30000;
	int ok = 0;

	create_topic(&srv, "conc-t", PARTS);
	owners_reset();
	for (int i = 0; i < N; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].c.h = &srv;
		snprintf(w[i].c.group, sizeof w[i].c.group, "conc");
		w[i].topic = "conc-t";
		w[i].assignor = "roundrobin";
		w[i].stop = &stop;
		pthread_create(&th[i], NULL, heartbeat_worker, &w[i]);
	}
	while (!ok && now_ms() < deadline)
		ok = stable_and_complete(&srv, "conc", N, PARTS);
	atomic_store(&stop, 1);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(ok, "the group never became Stable with %d members covering %d partitions",
	              N, PARTS);
	ck_assert_msg(atomic_load(&conflicts) == 0, "%s", conflict_msg);
	for (int i = 0; i < N; i++)
		consumer_leave(&w[i].c);
}
END_TEST

/* Run one member's join to completion while another must rejoin. */
static void rejoin_pair(consumer_t *waiting, consumer_t *other, const char *topic,
                        int session_ms)
{
	ck_assert_int_eq(consumer_heartbeat(other), 409);
	ck_assert_int_eq(consumer_join(other, topic, session_ms, "range"), 200);
	(void)waiting;
}

typedef struct join_arg {
	consumer_t  *c;
	const char  *topic;
	int          session_ms;
	long         status;
	int64_t      answered_ms;
} join_arg_t;

static void *join_thread(void *arg)
{
	join_arg_t *j = arg;

	j->status = consumer_join(j->c, j->topic, j->session_ms, "range");
	j->answered_ms = now_ms();
	return NULL;
}

START_TEST(test_leave_and_expiry_reassign_everything)
{
	consumer_t a = { &srv, "lx", "", 0, 0, { 0 } }, b = a, x = a;
	join_arg_t ja = { &b, "lx-t", 10000, 0, 0 }, jx = { &x, "lx-t", 500, 0, 0 };
	pthread_t th;
	int64_t deadline, rejoined;

	create_topic(&srv, "lx-t", 6);
	ck_assert_int_eq(consumer_join(&a, "lx-t", 10000, "range"), 200);
	/* b's join parks until a rejoins */
	pthread_create(&th, NULL, join_thread, &ja);
	deadline = now_ms() + 10000;
	while (consumer_heartbeat(&a) == 200 && now_ms() < deadline)
		;
	rejoined = now_ms();
	rejoin_pair(&b, &a, "lx-t", 10000);
	pthread_join(th, NULL);
	ck_assert_int_eq(ja.status, 200);
	printf("groups: parked join answered %lld ms after the other member rejoined\n",
	       (long long)(ja.answered_ms - rejoined));
	ck_assert_int_eq(a.nparts + b.nparts, 6);
	ck_assert_int_eq(a.generation, b.generation);
	/* b leaves: a gets everything */
	ck_assert_int_eq(consumer_leave(&b), 204);
	ck_assert_int_eq(consumer_heartbeat(&a), 409);
	ck_assert_int_eq(consumer_join(&a, "lx-t", 10000, "range"), 200);
	ck_assert_int_eq(a.nparts, 6);
	/* x joins with a 500 ms session and goes silent: it expires */
	pthread_create(&th, NULL, join_thread, &jx);
	deadline = now_ms() + 10000;
	while (consumer_heartbeat(&a) == 200 && now_ms() < deadline)
		;
	ck_assert_int_eq(consumer_join(&a, "lx-t", 10000, "range"), 200);
	pthread_join(th, NULL);
	ck_assert_int_eq(jx.status, 200);
	ck_assert_int_eq(a.nparts + x.nparts, 6);
	deadline = now_ms() + 10000;
	while (stable_and_complete(&srv, "lx", 2, 6) && now_ms() < deadline)
		ck_assert_int_eq(consumer_heartbeat(&a) == 200 || consumer_heartbeat(&a) == 409, 1);
	/* the coordinator dropped x; a rejoins and owns all six again */
	while (consumer_heartbeat(&a) == 200 && now_ms() < deadline)
		;
	ck_assert_int_eq(consumer_join(&a, "lx-t", 10000, "range"), 200);
	ck_assert_int_eq(a.nparts, 6);
	ck_assert_int_eq(consumer_heartbeat(&x), 404);
	ck_assert(stable_and_complete(&srv, "lx", 1, 6));
	consumer_leave(&a);
}
END_TEST

START_TEST(test_stale_generation_commit_is_refused)
{
	consumer_t a = { &srv, "fence", "", 0, 0, { 0 } }, b = a;
	join_arg_t jb = { &b, "fence-t", 10000, 0, 0 };
	http_response_t r;
	char body[400];
	pthread_t th;
	int old_gen, lost = -1;
	cJSON *doc, *o;

	create_topic(&srv, "fence-t", 4);
	produce_ids(&srv, "fence-t", 0, 8);
	ck_assert_int_eq(consumer_join(&a, "fence-t", 10000, "range"), 200);
	ck_assert_int_eq(consumer_fetch(&a, 0, 100, &doc), 200);
	old_gen = a.generation;
	/* b joins; a rejoins: a now owns half */
	pthread_create(&th, NULL, join_thread, &jb);
	while (consumer_heartbeat(&a) == 200)
		;
	ck_assert_int_eq(consumer_join(&a, "fence-t", 10000, "range"), 200);
	pthread_join(th, NULL);
	ck_assert_int_eq(jb.status, 200);
	ck_assert_int_gt(a.generation, old_gen);
	/* a's commit of its old fetch (old generation): refused, nothing stored */
	ck_assert_int_eq(consumer_commit(&a, doc), 409);
	snprintf(body, sizeof body, "{\"member_id\":\"%s\",\"generation\":%d,\"offsets\":"
	         "[{\"topic\":\"fence-t\",\"partition\":0,\"offset\":1}]}", a.id, old_gen);
	http_json(&srv, "POST", "/v1/groups/fence/offsets", body, &r);
	ASSERT_PROBLEM(r, 409, "ILLEGAL_GENERATION");
	http_response_free(&r);
	/* the current generation, but a partition a lost: refused too */
	for (int p = 0; p < 4 && lost < 0; p++) {
		int mine = 0;

		for (int k = 0; k < a.nparts; k++)
			mine |= a.parts[k] == p;
		if (!mine)
			lost = p;
	}
	snprintf(body, sizeof body, "{\"member_id\":\"%s\",\"generation\":%d,\"offsets\":"
	         "[{\"topic\":\"fence-t\",\"partition\":%d,\"offset\":1}]}", a.id, a.generation, lost);
	http_json(&srv, "POST", "/v1/groups/fence/offsets", body, &r);
	ASSERT_PROBLEM(r, 409, "ILLEGAL_GENERATION");
	http_response_free(&r);
	http_get(&srv, "/v1/groups/fence/offsets", &r);
	ASSERT_STATUS(r, 200);
	cJSON_Delete(doc);
	doc = http_body_json(&r);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "offsets")), 0);
	http_response_free(&r);
	cJSON_Delete(doc);
	/* the new owner's commit goes through */
	ck_assert_int_eq(consumer_fetch(&b, 0, 100, &doc), 200);
	ck_assert_int_eq(consumer_commit(&b, doc), 204);
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "offsets"))
		ck_assert_int_ne(cJSON_GetObjectItem(o, "partition")->valueint, -1);
	cJSON_Delete(doc);
	consumer_leave(&a);
	consumer_leave(&b);
}
END_TEST

START_TEST(test_member_fetch_long_poll_wakes_on_append_and_on_rebalance)
{
	consumer_t a = { &srv, "lp", "", 0, 0, { 0 } }, b = a;
	join_arg_t jb = { &b, "lp-t", 10000, 0, 0 };
	pthread_t th;
	int64_t t0, t1;
	cJSON *doc;

	create_topic(&srv, "lp-t", 2);
	ck_assert_int_eq(consumer_join(&a, "lp-t", 10000, "range"), 200);
	ck_assert_int_eq(consumer_fetch(&a, 0, 10, &doc), 200);
	cJSON_Delete(doc);
	/* nothing there: the poll parks; b's join starts a rebalance and the
	 * poll answers 409 at once, not at its 20 s deadline */
	pthread_create(&th, NULL, join_thread, &jb);
	t0 = now_ms();
	ck_assert_int_eq(consumer_fetch(&a, 20000, 10, &doc), 409);
	t1 = now_ms();
	printf("groups: a parked member fetch answered 409 %lld ms after another join\n",
	       (long long)(t1 - t0));
	ck_assert_int_lt(t1 - t0, 5000);
	ck_assert_int_eq(consumer_join(&a, "lp-t", 10000, "range"), 200);
	pthread_join(th, NULL);
	ck_assert_int_eq(consumer_leave(&b), 204);
	ck_assert_int_eq(consumer_heartbeat(&a), 409);
	ck_assert_int_eq(consumer_join(&a, "lp-t", 10000, "range"), 200);
	ck_assert_int_eq(a.nparts, 2);
	ck_assert_int_eq(consumer_fetch(&a, 0, 10, &doc), 200);
	cJSON_Delete(doc);
	consumer_leave(&a);
}
END_TEST

typedef struct producer_arg {
	harness_t *h;
	const char *topic;
	int64_t     produced_ms;
} producer_arg_t;

/* strand_http_parked_requests from /metrics. */
static long parked_gauge(harness_t *h)
{
	http_response_t r;
	const char *p;
	long v = -1;

	http_get(h, "/metrics", &r);
	p = r.body.data ? strstr(r.body.data, "\nstrand_http_parked_requests ") : NULL;
	if (p != NULL)
		v = strtol(p + strlen("\nstrand_http_parked_requests "), NULL, 10);
	http_response_free(&r);
	return v;
}

/* Produce one record once the consumer's poll is parked. */
static void *late_producer(void *arg)
{
	producer_arg_t *p = arg;
	int64_t until = now_ms() + 10000;

	while (parked_gauge(p->h) < 1 && now_ms() < until)
		;
	p->produced_ms = now_ms();
	produce_ids(p->h, p->topic, 1000, 1);
	return NULL;
}

START_TEST(test_member_fetch_wake_latency)
{
	consumer_t a = { &srv, "lat", "", 0, 0, { 0 } };
	producer_arg_t pa = { &srv, "lat-t", 0 };
	pthread_t th;
	int64_t answered;
	cJSON *doc;

	create_topic(&srv, "lat-t", 3);
	ck_assert_int_eq(consumer_join(&a, "lat-t", 10000, "range"), 200);
	ck_assert_int_eq(consumer_fetch(&a, 0, 10, &doc), 200);
	cJSON_Delete(doc);
	pthread_create(&th, NULL, late_producer, &pa);
	ck_assert_int_eq(consumer_fetch(&a, 20000, 10, &doc), 200);
	answered = now_ms();
	pthread_join(th, NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "records")), 1);
	cJSON_Delete(doc);
	printf("groups: a parked member fetch answered %lld ms after the produce began\n",
	       (long long)(answered - pa.produced_ms));
	ck_assert_int_lt(answered - pa.produced_ms, 2000);
	consumer_leave(&a);
}
END_TEST

/* ---- stress: members join, leave and crash at random while consuming ---------- */

#define STRESS_RECORDS 3000
#define STRESS_PARTS   6

static atomic_int processed[STRESS_RECORDS];

typedef struct stress_worker {
	harness_t  *h;
	unsigned    seed;
	atomic_int *stop;
	int         drain;     /* last phase: no more leaving */
	long        fetches, commits, refused, joins, leaves, crashes;
} stress_worker_t;

static void process(const cJSON *doc)
{
	const cJSON *rec;

	cJSON_ArrayForEach(rec, cJSON_GetObjectItem(doc, "records")) {
		int v = cJSON_GetObjectItem(rec, "value")->valueint;

		if (v >= 0 && v < STRESS_RECORDS)
			atomic_fetch_add(&processed[v], 1);
	}
}

static void *stress_member(void *arg)
{
	stress_worker_t *w = arg;
	consumer_t c = { w->h, "stress", "", 0, 0, { 0 } };
	cJSON *doc;
	long st;

	while (!atomic_load(w->stop)) {
		int rounds = 1 + (int)(rand_r(&w->seed) % 8), dice;

		if (c.id[0] == '\0' || rounds == 1) {
			st = consumer_join(&c, "stress-t", 1000, "sticky");
			w->joins++;
			if (st != 200)
				continue;
		}
		for (int i = 0; i < rounds && !atomic_load(w->stop); i++) {
			st = consumer_fetch(&c, 100, 50, &doc);
			w->fetches++;
			if (st == 409 || st == 404) {
				if (st == 404)
					c.id[0] = '\0';
				else
					consumer_join(&c, "stress-t", 1000, "sticky");
				continue;
			}
			ck_assert_int_eq(st, 200);
			dice = (int)(rand_r(&w->seed) % 100);
			if (w->drain || dice >= 4) {
				process(doc);
				if (consumer_commit(&c, doc) == 204)
					w->commits++;
				else
					w->refused++;
				cJSON_Delete(doc);
				continue;
			}
			/* crash between fetch and processing: the records are not
			 * processed, nothing is committed, the member just vanishes */
			cJSON_Delete(doc);
			c.id[0] = '\0';
			w->crashes++;
			break;
		}
		if (!w->drain && c.id[0] && rand_r(&w->seed) % 4 == 0) {
			consumer_leave(&c);
			w->leaves++;
		}
	}
	if (c.id[0])
		consumer_leave(&c);
	return NULL;
}

static int all_processed(void)
{
	for (int i = 0; i < STRESS_RECORDS; i++)
		if (atomic_load(&processed[i]) == 0)
			return 0;
	return 1;
}

START_TEST(test_stress_random_membership_processes_everything_once_owned)
{
	enum { N = 5 };
	stress_worker_t w[N];
	pthread_t th[N];
	atomic_int stop = 0;
	int64_t t0 = now_ms(), deadline;
	long fetches = 0, commits = 0, refused = 0, joins = 0, leaves = 0, crashes = 0;
	int dup = 0;

	create_topic(&srv, "stress-t", STRESS_PARTS);
	owners_reset();
	for (int i = 0; i < STRESS_RECORDS; i++)
		atomic_store(&processed[i], 0);
	for (int i = 0; i < N; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].h = &srv;
		w[i].seed = 1234u + (unsigned)i;
		w[i].stop = &stop;
		pthread_create(&th[i], NULL, stress_member, &w[i]);
	}
	/* produce in small batches while the members churn */
	for (int i = 0; i < STRESS_RECORDS; i += 10)
		produce_ids(&srv, "stress-t", i, 10);
	/* then stop leaving and crashing, and drain */
	for (int i = 0; i < N; i++)
		w[i].drain = 1;
	deadline = now_ms() + 60000;
	while (now_ms() < deadline && !all_processed())
		;
	atomic_store(&stop, 1);
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		fetches += w[i].fetches;
		commits += w[i].commits;
		refused += w[i].refused;
		joins += w[i].joins;
		leaves += w[i].leaves;
		crashes += w[i].crashes;
	}
	for (int i = 0; i < STRESS_RECORDS; i++) {
		ck_assert_msg(atomic_load(&processed[i]) > 0, "record %d was never processed", i);
		dup += atomic_load(&processed[i]) > 1;
	}
	ck_assert_msg(atomic_load(&conflicts) == 0, "%s", conflict_msg);
	printf("groups: stress %lld ms: %d records, %d members, %ld joins, %ld leaves, "
	       "%ld crashes, %ld fetches, %ld commits (%ld refused), %d records processed "
	       "more than once\n", (long long)(now_ms() - t0), STRESS_RECORDS, N, joins, leaves,
	       crashes, fetches, commits, refused, dup);
}
END_TEST

/* ---- restart ---------------------------------------------------------------------- */

START_TEST(test_restart_keeps_committed_offsets)
{
	harness_t h;
	consumer_t c;
	cJSON *doc;
	int first;

	memset(&h, 0, sizeof h);
	ck_assert_int_eq(harness_start(&h), 0);
	memset(&c, 0, sizeof c);
	c.h = &h;
	snprintf(c.group, sizeof c.group, "keep");
	create_topic(&h, "keep-t", 2);
	produce_ids(&h, "keep-t", 0, 10);
	ck_assert_int_eq(consumer_join(&c, "keep-t", 10000, "range"), 200);
	ck_assert_int_eq(consumer_fetch(&c, 0, 1000, &doc), 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "records")), 10);
	ck_assert_int_eq(consumer_commit(&c, doc), 204);
	cJSON_Delete(doc);
	ck_assert_int_eq(harness_stop(&h, SIGKILL), 128 + SIGKILL);
	ck_assert_int_eq(harness_restart(&h), 0);
	/* membership is gone (404: rejoin), the offsets are not */
	ck_assert_int_eq(consumer_heartbeat(&c), 404);
	doc = describe(&h, "keep");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "offsets")), 2);
	ck_assert_int_eq(cJSON_GetObjectItem(doc, "lag")->valueint, 0);
	cJSON_Delete(doc);
	produce_ids(&h, "keep-t", 10, 5);
	c.id[0] = '\0';
	ck_assert_int_eq(consumer_join(&c, "keep-t", 10000, "range"), 200);
	ck_assert_int_eq(consumer_fetch(&c, 0, 1000, &doc), 200);
	/* only the five new ones: the member starts at the committed offsets */
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "records")), 5);
	first = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "records"), 0),
	                            "value")->valueint;
	ck_assert_int_ge(first, 10);
	cJSON_Delete(doc);
	harness_teardown(&h);
}
END_TEST

/* encoding=base64: keys and values base64 whatever the topic's formats
 * (libstrand's consumer reads bytes exactly); a bad value is a 400 */
START_TEST(test_member_fetch_encoding_base64)
{
	consumer_t c = { &srv, "b64", "", 0, 0, { 0 } };
	http_response_t r;
	char path[256];
	cJSON *doc, *rec;

	create_topic(&srv, "b64-t", 1);
	http_json(&srv, "POST", "/v1/topics/b64-t/records",
	          "{\"records\":[{\"key\":\"k\",\"value\":{\"a\":1}},{\"value\":null}]}", &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
	ck_assert_int_eq(consumer_join(&c, "b64-t", 10000, "range"), 200);
	snprintf(path, sizeof path, "/v1/groups/b64/members/%s/records?encoding=base64", c.id);
	http_get(&srv, path, &r);
	ASSERT_STATUS(r, 200);
	doc = http_body_json(&r);
	rec = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "records"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(rec, "key")->valuestring, "Imsi");   /* "k" as its JSON text */
	ck_assert_str_eq(cJSON_GetObjectItem(rec, "value")->valuestring, "eyJhIjoxfQ=="); /* {"a":1} */
	ck_assert_ptr_null(cJSON_GetObjectItem(rec, "value_encoding"));
	rec = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "records"), 1);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(rec, "value")));
	cJSON_Delete(doc);
	http_response_free(&r);
	snprintf(path, sizeof path, "/v1/groups/b64/members/%s/records?encoding=hex", c.id);
	http_get(&srv, path, &r);
	ASSERT_PROBLEM(r, 400, "INVALID_REQUEST");
	http_response_free(&r);
	ck_assert_int_eq(consumer_leave(&c), 204);
}
END_TEST

static Suite *groups_http_suite(void)
{
	Suite *s = suite_create("groups_http");
	TCase *tc = tcase_create("shared_server"), *tr = tcase_create("restart");

	tcase_add_unchecked_fixture(tc, server_up, server_down);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_join_heartbeat_fetch_commit_leave);
	tcase_add_test(tc, test_member_fetch_encoding_base64);
	tcase_add_test(tc, test_join_errors);
	tcase_add_test(tc, test_concurrent_joins_get_disjoint_complete_assignments);
	tcase_add_test(tc, test_leave_and_expiry_reassign_everything);
	tcase_add_test(tc, test_stale_generation_commit_is_refused);
	tcase_add_test(tc, test_member_fetch_long_poll_wakes_on_append_and_on_rebalance);
	tcase_add_test(tc, test_member_fetch_wake_latency);
	tcase_add_test(tc, test_stress_random_membership_processes_everything_once_owned);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tr, 120);
	tcase_add_test(tr, test_restart_keeps_committed_offsets);
	suite_add_tcase(s, tr);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(groups_http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
