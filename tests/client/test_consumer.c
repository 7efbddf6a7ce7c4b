/*
 * test_consumer.c — libstrand's consumer (src/client/consumer.c) against a
 * real `strand serve` (tests/api/harness.h): two members of one group
 * split the partitions and together see every record exactly once; a
 * member that closes hands its partitions to the other; a member the
 * broker expired rejoins and resumes; a commit survives
 * a restart of the consumer; auto.offset.reset earliest and latest; key,
 * value and header bytes come back exactly; poll's timeout holds; bad
 * configurations are refused with words.
 *
 * Each consumer runs in its own thread (a join parks until every member
 * has rejoined, so two members cannot share one thread). Waits are on
 * conditions with deadlines, never sleeps.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/strand.h"
#include "common/clock.h"
#include "tests/api/harness.h"

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

static void create_topic(const char *name, int partitions)
{
	http_response_t r;
	char body[300];

	snprintf(body, sizeof body, "{\"name\":\"%s\",\"partitions\":%d}", name, partitions);
	http_json(&srv, "POST", "/v1/topics", body, &r);
	ck_assert_msg(r.status == 201, "create %s: %ld %s", name, r.status, r.body.data);
	http_response_free(&r);
}

/* values "<tag>-<i>" for i in [from, to), spread over the partitions by key */
static void produce_range(const char *topic, const char *tag, int from, int to)
{
	char err[256], key[32], value[64];
	strand_conf *conf = strand_conf_new();

	ck_assert_int_eq(strand_conf_set(conf, "bootstrap.servers", srv.base_url, err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "linger.ms", "5", err, sizeof err), 0);
	strand_producer *p = strand_producer_new(conf, err, sizeof err);
	ck_assert_msg(p != NULL, "%s", err);
	strand_conf_destroy(conf);
	for (int i = from; i < to; i++) {
		snprintf(key, sizeof key, "k%d", i);
		snprintf(value, sizeof value, "%s-%d", tag, i);
		ck_assert_int_eq(strand_produce(p, topic, STRAND_PARTITION_ANY, key, strlen(key), value,
		                                strlen(value), NULL, NULL), 0);
	}
	ck_assert_int_eq(strand_flush(p, 30000), 0);
	strand_producer_destroy(p);
}

/* a consumer of group on srv subscribed to topic; overrides as name, value pairs */
static strand_consumer *consumer_with(const char *group, const char *topic, const char *name, ...)
{
	char err[256];
	va_list ap;
	strand_conf *conf = strand_conf_new();

	ck_assert_int_eq(strand_conf_set(conf, "bootstrap.servers", srv.base_url, err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "group.id", group, err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "session.timeout.ms", "10000", err, sizeof err), 0);
	va_start(ap, name);
	for (const char *n = name; n; n = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		ck_assert_msg(strand_conf_set(conf, n, v, err, sizeof err) == 0, "%s=%s: %s", n, v, err);
	}
	va_end(ap);
	strand_consumer *c = strand_consumer_new(conf, err, sizeof err);
	ck_assert_msg(c != NULL, "consumer_new: %s", err);
	strand_conf_destroy(conf);
	ck_assert_int_eq(strand_subscribe(c, &topic, 1), 0);
	return c;
}

/* the index i of a value "<tag>-<i>", or -1 */
static int value_index(const strand_message *m, const char *tag)
{
	size_t len, tl = strlen(tag);
	const char *v = strand_message_value(m, &len);
	char text[64];

	if (!v || len <= tl + 1 || len >= sizeof text || memcmp(v, tag, tl) != 0 || v[tl] != '-')
		return -1;
	memcpy(text, v + tl + 1, len - tl - 1);
	text[len - tl - 1] = '\0';
	return atoi(text);
}

/* Poll c until n records of tag arrived or timeout_ms; seen[i] counts each. */
static int consume_n(strand_consumer *c, const char *tag, int n, int *seen, int timeout_ms)
{
	int64_t end = clock_now_ms() + timeout_ms;
	int got = 0;

	while (got < n && clock_now_ms() < end) {
		strand_message *m = strand_consumer_poll(c, 200);
		if (!m)
			continue;
		ck_assert_msg(strand_message_err(m) == 0, "poll: %s", strand_message_errstr(m));
		int i = value_index(m, tag);
		ck_assert_msg(i >= 0, "unexpected record at offset %" PRId64, strand_message_offset(m));
		if (seen)
			seen[i]++;
		got++;
		strand_message_destroy(m);
	}
	return got;
}

/* ---- two members in one group ----------------------------------------------- */

#define SPLIT_N 4000

typedef struct member_run {
	strand_consumer *c;
	const char      *tag;
	atomic_int      *seen;          /* per record, shared */
	atomic_int      *total;         /* shared */
	int              target;        /* stop when *total reaches it */
	atomic_int       stop;          /* 1: close now */
	int              parts_seen;    /* bit per partition */
	int              got, errors;
	char             first_err[256];
} member_run_t;

static void *member_main(void *arg)
{
	member_run_t *r = arg;

	while (!atomic_load(&r->stop)) {
		strand_message *m = strand_consumer_poll(r->c, 100);
		if (!m)
			continue;
		if (strand_message_err(m)) {
			if (r->errors++ == 0)
				snprintf(r->first_err, sizeof r->first_err, "%s", strand_message_errstr(m));
		} else {
			int i = value_index(m, r->tag);
			if (i >= 0 && i < SPLIT_N * 2)
				atomic_fetch_add(&r->seen[i], 1);
			r->parts_seen |= 1 << strand_message_partition(m);
			r->got++;
			atomic_fetch_add(r->total, 1);
		}
		strand_message_destroy(m);
	}
	strand_consumer_close(r->c);
	return NULL;
}

/* GET /v1/groups/{g}: Stable with n members, each holding a partition */
static int group_stable_with(const char *group, int n)
{
	http_response_t r;
	char path[200];
	int ok = 0;

	snprintf(path, sizeof path, "/v1/groups/%s", group);
	http_get(&srv, path, &r);
	cJSON *doc = http_body_json(&r);
	cJSON *state = cJSON_GetObjectItem(doc, "state"), *members = cJSON_GetObjectItem(doc, "members");
	if (cJSON_IsString(state) && strcmp(state->valuestring, "Stable") == 0 &&
	    cJSON_GetArraySize(members) == n) {
		cJSON *m;
		ok = 1;
		cJSON_ArrayForEach(m, members)
			if (cJSON_GetArraySize(cJSON_GetObjectItem(m, "assignment")) == 0)
				ok = 0;
	}
	cJSON_Delete(doc);
	http_response_free(&r);
	return ok;
}

static int wait_total(atomic_int *total, int n, int timeout_ms)
{
	int64_t end = clock_now_ms() + timeout_ms;
	while (atomic_load(total) < n && clock_now_ms() < end) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);            /* polling a counter with a deadline */
	}
	return atomic_load(total);
}

START_TEST(test_two_members_split_partitions_then_one_hands_over_on_close)
{
	static atomic_int seen[SPLIT_N * 2];
	atomic_int total = 0;
	member_run_t a = { 0 }, b = { 0 };
	pthread_t ta, tb;
	int64_t end;

	create_topic("split", 4);
	a.c = consumer_with("g-split", "split", "auto.offset.reset", "earliest",
	                    "auto.commit.interval.ms", "200", NULL);
	b.c = consumer_with("g-split", "split", "auto.offset.reset", "earliest",
	                    "auto.commit.interval.ms", "200", NULL);
	a.tag = b.tag = "s";
	a.seen = b.seen = seen;
	a.total = b.total = &total;
	ck_assert_int_eq(pthread_create(&ta, NULL, member_main, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, member_main, &b), 0);
	end = clock_now_ms() + 20000;
	while (!group_stable_with("g-split", 2) && clock_now_ms() < end) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);            /* between checks of a condition with a deadline */
	}
	ck_assert_msg(group_stable_with("g-split", 2), "the group never became stable with 2 members");

	/* phase 1: both members, disjoint partitions, every record once */
	produce_range("split", "s", 0, SPLIT_N);
	ck_assert_int_eq(wait_total(&total, SPLIT_N, 30000), SPLIT_N);
	ck_assert_msg(a.got > 0 && b.got > 0, "one member got nothing: %d / %d", a.got, b.got);
	ck_assert_msg((a.parts_seen & b.parts_seen) == 0 && (a.parts_seen | b.parts_seen) == 0xf,
	              "partitions seen: a %#x b %#x", a.parts_seen, b.parts_seen);

	/* phase 2: a closes; b takes a's partitions and sees the rest */
	atomic_store(&a.stop, 1);
	pthread_join(ta, NULL);
	produce_range("split", "s", SPLIT_N, 2 * SPLIT_N);
	ck_assert_int_eq(wait_total(&total, 2 * SPLIT_N, 30000), 2 * SPLIT_N);
	ck_assert_int_eq(b.parts_seen, 0xf);
	atomic_store(&b.stop, 1);
	pthread_join(tb, NULL);
	ck_assert_msg(a.errors == 0 && b.errors == 0, "errors: %s %s", a.first_err, b.first_err);
	for (int i = 0; i < 2 * SPLIT_N; i++)
		ck_assert_msg(atomic_load(&seen[i]) == 1, "record %d seen %d times", i,
		              atomic_load(&seen[i]));
	ck_assert_int_eq(atomic_load(&total), 2 * SPLIT_N);
}
END_TEST

/* ---- commits ------------------------------------------------------------------ */

START_TEST(test_commit_then_restart_resumes_after_the_committed_offset)
{
	int seen[100] = { 0 };
	strand_consumer *c;

	create_topic("resume", 1);
	produce_range("resume", "r", 0, 100);
	c = consumer_with("g-resume", "resume", "auto.offset.reset", "earliest",
	                  "enable.auto.commit", "false", NULL);
	ck_assert_int_eq(consume_n(c, "r", 30, seen, 20000), 30);
	ck_assert_int_eq(strand_commit(c, 0), 0);
	ck_assert_int_eq(strand_consumer_close(c), 0);

	/* a new consumer of the group starts at offset 30 */
	c = consumer_with("g-resume", "resume", "auto.offset.reset", "earliest",
	                  "enable.auto.commit", "false", NULL);
	strand_message *m = NULL;
	for (int64_t end = clock_now_ms() + 20000; !m && clock_now_ms() < end;)
		m = strand_consumer_poll(c, 200);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(strand_message_err(m), 0);
	ck_assert_int_eq(strand_message_offset(m), 30);
	ck_assert_int_eq(value_index(m, "r"), 30);
	strand_message_destroy(m);
	/* not committed: closing without auto-commit keeps offset 30 */
	strand_consumer_close(c);

	/* auto-commit on close: the next consumer resumes after what was polled */
	c = consumer_with("g-resume", "resume", "auto.offset.reset", "earliest", NULL);
	ck_assert_int_eq(consume_n(c, "r", 50, seen, 20000), 50);   /* 30..79 */
	ck_assert_int_eq(strand_consumer_close(c), 0);
	c = consumer_with("g-resume", "resume", "auto.offset.reset", "earliest", NULL);
	ck_assert_int_eq(consume_n(c, "r", 20, seen, 20000), 20);   /* 80..99 */
	strand_consumer_close(c);
	for (int i = 0; i < 100; i++)
		ck_assert_msg(seen[i] == 1, "record %d seen %d times", i, seen[i]);
}
END_TEST

START_TEST(test_async_commit_is_sent_by_poll)
{
	http_response_t r;
	strand_consumer *c;

	create_topic("acommit", 1);
	produce_range("acommit", "a", 0, 10);
	c = consumer_with("g-acommit", "acommit", "auto.offset.reset", "earliest",
	                  "enable.auto.commit", "false", NULL);
	ck_assert_int_eq(consume_n(c, "a", 10, NULL, 20000), 10);
	ck_assert_int_eq(strand_commit(c, 1), 0);
	/* the committed offset shows once poll has driven the request */
	int64_t committed = -1, end = clock_now_ms() + 10000;
	while (committed != 10 && clock_now_ms() < end) {
		strand_message *m = strand_consumer_poll(c, 50);
		ck_assert_msg(m == NULL, "unexpected message");
		http_get(&srv, "/v1/groups/g-acommit/offsets", &r);
		cJSON *doc = http_body_json(&r);
		cJSON *first = cJSON_GetArrayItem(cJSON_IsArray(doc) ? doc : cJSON_GetObjectItem(doc, "offsets"), 0);
		cJSON *off = cJSON_GetObjectItem(first, "offset");
		committed = cJSON_IsNumber(off) ? (int64_t)off->valuedouble : -1;
		cJSON_Delete(doc);
		http_response_free(&r);
	}
	ck_assert_int_eq(committed, 10);
	strand_consumer_close(c);
}
END_TEST

/* The broker drops a member that stopped polling for session.timeout.ms;
 * its next poll meets 404 UNKNOWN_MEMBER, joins anew and goes on from the
 * committed offset, reporting nothing. */
START_TEST(test_expired_member_rejoins_and_resumes)
{
	http_response_t r;
	int seen[15] = { 0 };

	create_topic("expire", 1);
	produce_range("expire", "e", 0, 10);
	strand_consumer *c = consumer_with("g-expire", "expire", "auto.offset.reset", "earliest",
	                                   "session.timeout.ms", "300", "enable.auto.commit", "false",
	                                   NULL);
	ck_assert_int_eq(consume_n(c, "e", 10, seen, 20000), 10);
	ck_assert_int_eq(strand_commit(c, 0), 0);
	/* not polling: wait until the broker has dropped the member */
	int members = -1;
	for (int64_t end = clock_now_ms() + 10000; members != 0 && clock_now_ms() < end;) {
		http_get(&srv, "/v1/groups/g-expire", &r);
		cJSON *doc = http_body_json(&r);
		members = cJSON_GetArraySize(cJSON_GetObjectItem(doc, "members"));
		cJSON_Delete(doc);
		http_response_free(&r);
		if (members != 0) {
			struct timespec ts = { 0, 50 * 1000000 };
			nanosleep(&ts, NULL);        /* between checks of a condition with a deadline */
		}
	}
	ck_assert_int_eq(members, 0);
	produce_range("expire", "e", 10, 15);
	ck_assert_int_eq(consume_n(c, "e", 5, seen, 20000), 5);   /* errors fail inside */
	for (int i = 0; i < 15; i++)
		ck_assert_msg(seen[i] == 1, "record %d seen %d times", i, seen[i]);
	strand_consumer_close(c);
}
END_TEST

/* An application slower than session.timeout.ms over one fetch answer
 * keeps its membership: poll heartbeats while it hands out the buffer, so
 * the group never rebalances (generation stays 1). */
START_TEST(test_heartbeats_while_handing_out_a_buffer)
{
	http_response_t r;

	create_topic("slow", 1);
	produce_range("slow", "w", 0, 40);
	strand_consumer *c = consumer_with("g-slow", "slow", "auto.offset.reset", "earliest",
	                                   "session.timeout.ms", "600", NULL);
	int64_t t0 = clock_now_ms();
	for (int i = 0; i < 40; i++) {
		strand_message *m = NULL;
		for (int64_t end = clock_now_ms() + 10000; !m && clock_now_ms() < end;)
			m = strand_consumer_poll(c, 200);
		ck_assert_ptr_nonnull(m);
		ck_assert_int_eq(strand_message_err(m), 0);
		ck_assert_int_eq(strand_message_offset(m), i);
		strand_message_destroy(m);
		struct timespec ts = { 0, 60 * 1000000 };
		nanosleep(&ts, NULL);            /* the application's slow work per record */
	}
	ck_assert_msg(clock_now_ms() - t0 > 4 * 600, "the run was shorter than 4 sessions");
	http_get(&srv, "/v1/groups/g-slow", &r);
	cJSON *doc = http_body_json(&r);
	ck_assert_int_eq(cJSON_GetObjectItem(doc, "generation")->valueint, 1);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "members")), 1);
	cJSON_Delete(doc);
	http_response_free(&r);
	strand_consumer_close(c);
}
END_TEST

/* ---- auto.offset.reset ------------------------------------------------------------ */

START_TEST(test_auto_offset_reset_earliest_and_latest)
{
	strand_consumer *early, *late;
	strand_message *m = NULL;

	create_topic("reset", 1);
	produce_range("reset", "old", 0, 5);
	early = consumer_with("g-early", "reset", "auto.offset.reset", "earliest", NULL);
	late = consumer_with("g-late", "reset", "auto.offset.reset", "latest", NULL);
	ck_assert_int_eq(consume_n(early, "old", 5, NULL, 20000), 5);
	/* latest: the old records are skipped; poll until the member has its position */
	for (int64_t end = clock_now_ms() + 3000; clock_now_ms() < end;) {
		m = strand_consumer_poll(late, 100);
		ck_assert_msg(m == NULL, "latest handed out an old record");
	}
	produce_range("reset", "new", 5, 8);
	int seen[8] = { 0 };
	ck_assert_int_eq(consume_n(late, "new", 3, seen, 20000), 3);
	ck_assert_int_eq(seen[5] + seen[6] + seen[7], 3);
	strand_consumer_close(early);
	strand_consumer_close(late);
}
END_TEST

/* ---- bytes, timestamps, headers --------------------------------------------------- */

START_TEST(test_key_value_and_headers_come_back_exactly)
{
	static const unsigned char key[] = { 0x00, 0xff, 0x80, 'k', 0x00 };
	static const unsigned char value[] = { 0xc3, 0x28, 0x00, 0x01, '{', 0xfe };
	char err[256];
	int32_t part;
	int64_t off;
	http_response_t r;

	create_topic("bytes", 1);
	strand_conf *conf = strand_conf_new();
	strand_conf_set(conf, "bootstrap.servers", srv.base_url, err, sizeof err);
	strand_producer *p = strand_producer_new(conf, err, sizeof err);
	strand_conf_destroy(conf);
	ck_assert_int_eq(strand_produce_sync(p, "bytes", 0, key, sizeof key, value, sizeof value,
	                                     &part, &off, 10000), 0);
	ck_assert_int_eq(strand_produce_sync(p, "bytes", 0, NULL, 0, NULL, 0, NULL, NULL, 10000), 0);
	strand_producer_destroy(p);
	/* headers through the JSON produce (the producer API sends none) */
	http_json(&srv, "POST", "/v1/topics/bytes/partitions/0/records",
	          "{\"records\":[{\"value\":1,\"headers\":{\"trace\":\"abc\",\"empty\":\"\"}}]}", &r);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);

	strand_consumer *c = consumer_with("g-bytes", "bytes", "auto.offset.reset", "earliest", NULL);
	strand_message *m[3] = { NULL };
	int64_t end = clock_now_ms() + 20000;
	for (int i = 0; i < 3 && clock_now_ms() < end;)
		if ((m[i] = strand_consumer_poll(c, 200)))
			i++;
	for (int i = 0; i < 3; i++) {
		ck_assert_ptr_nonnull(m[i]);
		ck_assert_int_eq(strand_message_err(m[i]), 0);
		ck_assert_int_eq(strand_message_offset(m[i]), i);
		ck_assert_str_eq(strand_message_topic(m[i]), "bytes");
		ck_assert_int_eq(strand_message_partition(m[i]), 0);
		ck_assert_msg(strand_message_timestamp(m[i]) > 1700000000000LL, "timestamp %" PRId64,
		              strand_message_timestamp(m[i]));
	}
	size_t kl, vl;
	const void *k = strand_message_key(m[0], &kl), *v = strand_message_value(m[0], &vl);
	ck_assert(kl == sizeof key && memcmp(k, key, kl) == 0);
	ck_assert(vl == sizeof value && memcmp(v, value, vl) == 0);
	ck_assert_ptr_null(strand_message_key(m[1], &kl));
	ck_assert_ptr_null(strand_message_value(m[1], &vl));
	ck_assert_int_eq(vl, 0);
	ck_assert_int_eq(strand_message_header_count(m[1]), 0);
	ck_assert_int_eq(strand_message_header_count(m[2]), 2);
	const char *name;
	const void *hv;
	size_t hl;
	ck_assert_int_eq(strand_message_headers(m[2], 0, &name, &hv, &hl), 0);
	ck_assert_str_eq(name, "trace");
	ck_assert(hl == 3 && memcmp(hv, "abc", 3) == 0);
	ck_assert_int_eq(strand_message_headers(m[2], 1, &name, &hv, &hl), 0);
	ck_assert_str_eq(name, "empty");
	ck_assert_int_eq(hl, 0);
	ck_assert_int_eq(strand_message_headers(m[2], 2, &name, &hv, &hl), STRAND_ERR_INVALID_ARG);
	v = strand_message_value(m[2], &vl);
	ck_assert(vl == 1 && memcmp(v, "1", 1) == 0);
	/* messages outlive their consumer */
	strand_consumer_close(c);
	ck_assert_str_eq(strand_message_topic(m[0]), "bytes");
	for (int i = 0; i < 3; i++)
		strand_message_destroy(m[i]);
}
END_TEST

/* ---- timeouts and configuration ------------------------------------------------------ */

START_TEST(test_poll_timeout_returns_null_in_time)
{
	create_topic("quiet", 2);
	strand_consumer *c = consumer_with("g-quiet", "quiet", NULL);
	/* the first poll joins; later ones park on the member fetch */
	for (int i = 0; i < 5; i++) {
		int64_t t0 = clock_now_ms();
		strand_message *m = strand_consumer_poll(c, 300);
		int64_t took = clock_now_ms() - t0;
		ck_assert_ptr_null(m);
		ck_assert_msg(took >= 290 && took < 1300, "poll(300) took %" PRId64 " ms", took);
	}
	int64_t t0 = clock_now_ms();
	ck_assert_ptr_null(strand_consumer_poll(c, 0));
	ck_assert_msg(clock_now_ms() - t0 < 1000, "poll(0) took %" PRId64 " ms", clock_now_ms() - t0);
	strand_consumer_close(c);
}
END_TEST

START_TEST(test_consumer_new_refuses_bad_configurations)
{
	char err[256];
	strand_conf *conf = strand_conf_new();

	ck_assert_int_eq(strand_conf_set(conf, "bootstrap.servers", srv.base_url, err, sizeof err), 0);
	ck_assert_ptr_null(strand_consumer_new(conf, err, sizeof err));
	ck_assert_msg(strstr(err, "group.id") != NULL, "%s", err);
	ck_assert_int_eq(strand_conf_set(conf, "group.id", "bad/name", err, sizeof err), 0);
	ck_assert_ptr_null(strand_consumer_new(conf, err, sizeof err));
	ck_assert_msg(strstr(err, "group name") != NULL, "%s", err);
	ck_assert_int_eq(strand_conf_set(conf, "group.id", "g", err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "session.timeout.ms", "50", err, sizeof err), 0);
	ck_assert_ptr_null(strand_consumer_new(conf, err, sizeof err));
	ck_assert_msg(strstr(err, "session.timeout.ms") != NULL, "%s", err);
	ck_assert_int_eq(strand_conf_set(conf, "session.timeout.ms", "10000", err, sizeof err), 0);
	ck_assert_int_eq(strand_conf_set(conf, "auto.commit.interval.ms", "0", err, sizeof err), 0);
	ck_assert_ptr_null(strand_consumer_new(conf, err, sizeof err));
	ck_assert_msg(strstr(err, "auto.commit.interval.ms") != NULL, "%s", err);
	ck_assert_int_eq(strand_conf_set(conf, "enable.auto.commit", "false", err, sizeof err), 0);
	strand_consumer *c = strand_consumer_new(conf, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	const char *bad = "no/such";
	ck_assert_int_eq(strand_subscribe(c, &bad, 1), STRAND_ERR_INVALID_ARG);
	ck_assert_int_eq(strand_subscribe(c, NULL, 0), STRAND_ERR_INVALID_ARG);
	/* a topic that does not exist: the join's error comes out of poll */
	const char *missing = "missing";
	ck_assert_int_eq(strand_subscribe(c, &missing, 1), 0);
	strand_message *m = strand_consumer_poll(c, 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_msg(strand_message_err(m) != 0, "joined a missing topic?");
	strand_message_destroy(m);
	strand_consumer_close(c);
	strand_conf_destroy(conf);
}
END_TEST

static Suite *consumer_suite(void)
{
	Suite *s = suite_create("client_consumer");
	TCase *tc = tcase_create("consumer");

	tcase_add_unchecked_fixture(tc, server_up, server_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_two_members_split_partitions_then_one_hands_over_on_close);
	tcase_add_test(tc, test_commit_then_restart_resumes_after_the_committed_offset);
	tcase_add_test(tc, test_async_commit_is_sent_by_poll);
	tcase_add_test(tc, test_expired_member_rejoins_and_resumes);
	tcase_add_test(tc, test_heartbeats_while_handing_out_a_buffer);
	tcase_add_test(tc, test_auto_offset_reset_earliest_and_latest);
	tcase_add_test(tc, test_key_value_and_headers_come_back_exactly);
	tcase_add_test(tc, test_poll_timeout_returns_null_in_time);
	tcase_add_test(tc, test_consumer_new_refuses_bad_configurations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(consumer_suite());
	int failed;

	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
