/*
 * test_producer.c — libstrand's producer (src/client/) against a real
 * `strand serve` (tests/api/harness.h): every record's callback fires
 * exactly once with the offset the broker stored it at, keyed records land
 * on Kafka's murmur2 partition, per-partition order holds, linger.ms and
 * batch.size form batches, strand_produce_sync and strand_flush wait for
 * the outcome, and the failure paths give their documented errors within
 * their bounds: unknown topic/partition, a broker that went away
 * (delivery.timeout.ms), a full buffer (buffer.memory + max.block.ms).
 *
 * Waits are on conditions with deadlines, never sleeps.
 */
#include <check.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker.h"
#include "client/producer_internal.h"
#include "client/strand.h"
#include "tests/api/harness.h"
#include "common/clock.h"
#include "tests/client/faultproxy.h"

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


/* POST /v1/topics; configs is a JSON object's members or "" */
static void create_topic_with(const char *name, int partitions, const char *configs)
{
	http_response_t r;
	char body[300];

	snprintf(body, sizeof body, "{\"name\":\"%s\",\"partitions\":%d,\"configs\":{%s}}",
	         name, partitions, configs);
	http_json(&srv, "POST", "/v1/topics", body, &r);
	ck_assert_msg(r.status == 201, "create %s: %ld %s", name, r.status, r.body.data);
	http_response_free(&r);
}

static void create_topic(const char *name, int partitions)
{
	create_topic_with(name, partitions, "");
}

/* values stored as text, so that stored_values can read them back */
static void create_string_topic(const char *name, int partitions)
{
	create_topic_with(name, partitions, "\"value_format\":\"string\"");
}

/* a producer on url with overrides given as name, value pairs */
static strand_producer *producer_at(const char *url, const char *name, va_list ap)
{
	char err[256];
	strand_conf *c = strand_conf_new();

	ck_assert_int_eq(strand_conf_set(c, "bootstrap.servers", url, err, sizeof err), 0);
	for (const char *n = name; n; n = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		ck_assert_msg(strand_conf_set(c, n, v, err, sizeof err) == 0, "%s=%s: %s", n, v, err);
	}
	strand_producer *p = strand_producer_new(c, err, sizeof err);
	ck_assert_msg(p != NULL, "producer_new: %s", err);
	strand_conf_destroy(c);
	return p;
}

/* a producer on srv: producer_with("linger.ms", "5", ..., NULL) */
static strand_producer *producer_with(const char *name, ...)
{
	va_list ap;
	va_start(ap, name);
	strand_producer *p = producer_at(srv.base_url, name, ap);
	va_end(ap);
	return p;
}

/* high watermark of topic/partition over HTTP */
static int64_t high_watermark(const char *topic, int partition)
{
	http_response_t r;
	char path[200];
	int64_t hw = -1;

	snprintf(path, sizeof path, "/v1/topics/%s", topic);
	http_get(&srv, path, &r);
	cJSON *doc = http_body_json(&r);
	cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "partitions"), partition);
	cJSON *h = cJSON_GetObjectItem(p, "high_watermark");
	if (cJSON_IsNumber(h))
		hw = (int64_t)h->valuedouble;
	cJSON_Delete(doc);
	http_response_free(&r);
	return hw;
}

/* ---- delivery bookkeeping shared by the callbacks -------------------------- */

#define MAXREC 20000

typedef struct tally {
	pthread_mutex_t lock;
	pthread_cond_t  cv;            /* broadcast on every callback */
	int      calls[MAXREC];
	int      err[MAXREC];
	int32_t  partition[MAXREC];
	int64_t  offset[MAXREC];
	int64_t  at_ms[MAXREC];
	int      total;
	int      order_broken;
	char     first_errstr[300];  /* the first failure's words */
	int      unknown_offsets;
	int64_t  last_offset[16];      /* per partition, in callback order */
} tally_t;

static tally_t *tally_new(void)
{
	tally_t *t = calloc(1, sizeof *t);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cv, NULL);
	for (int i = 0; i < 16; i++)
		t->last_offset[i] = -1;
	return t;
}

typedef struct rec_ref {
	tally_t *t;
	int      i;
} rec_ref_t;

static void on_delivery(const strand_message *m, void *opaque)
{
	rec_ref_t *ref = opaque;
	tally_t *t = ref->t;
	size_t vlen;
	const char *v = strand_message_value(m, &vlen);
	char want[32];

	pthread_mutex_lock(&t->lock);
	t->calls[ref->i]++;
	t->total++;
	t->err[ref->i] = strand_message_err(m);
	if (strand_message_err(m) && !t->first_errstr[0])
		snprintf(t->first_errstr, sizeof t->first_errstr, "%s", strand_message_errstr(m));
	t->partition[ref->i] = strand_message_partition(m);
	t->offset[ref->i] = strand_message_offset(m);
	t->at_ms[ref->i] = clock_now_ms();
	/* the callback sees the record's own bytes */
	snprintf(want, sizeof want, "value-%d", ref->i);
	if (vlen != strlen(want) || memcmp(v, want, vlen) != 0)
		t->order_broken |= 2;
	if (strand_message_err(m) == 0 && strand_message_offset(m) < 0) {
		t->unknown_offsets++;           /* stored, offset unknown (a late duplicate's answer) */
	} else if (strand_message_err(m) == 0) {
		int32_t p = strand_message_partition(m);
		if (p >= 0 && p < 16) {
			if (strand_message_offset(m) <= t->last_offset[p])
				t->order_broken |= 1;
			t->last_offset[p] = strand_message_offset(m);
		}
	}
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->lock);
}

/* Wait until n callbacks ran or timeout_ms passed; returns the count. */
static int tally_wait(tally_t *t, int n, int timeout_ms)
{
	struct timespec until;
	int got;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->lock);
	while (t->total < n && pthread_cond_timedwait(&t->cv, &t->lock, &until) == 0)
		;
	got = t->total;
	pthread_mutex_unlock(&t->lock);
	return got;
}

static rec_ref_t *refs_new(tally_t *t, int n)
{
	rec_ref_t *r = calloc((size_t)n, sizeof *r);
	for (int i = 0; i < n; i++) {
		r[i].t = t;
		r[i].i = i;
	}
	return r;
}

static int produce_numbered(strand_producer *p, const char *topic, int32_t partition,
                            int i, int keyed, rec_ref_t *refs)
{
	char key[32], value[32];
	snprintf(key, sizeof key, "key-%d", i % 97);
	snprintf(value, sizeof value, "value-%d", i);
	return strand_produce(p, topic, partition, keyed ? key : NULL, keyed ? strlen(key) : 0,
	                      value, strlen(value), on_delivery, &refs[i]);
}

/* ---- tests ---------------------------------------------------------------------- */

START_TEST(test_every_callback_fires_once_with_the_stored_offset)
{
	const int n = 10000;
	tally_t *t = tally_new();
	rec_ref_t *refs = refs_new(t, n);

	create_topic("cb", 3);
	/* without idempotence only one request in flight keeps the order (as in Kafka) */
	strand_producer *p = producer_with("enable.idempotence", "false", "linger.ms", "5",
	                                   "max.in.flight.requests.per.connection", "1", NULL);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(produce_numbered(p, "cb", STRAND_PARTITION_ANY, i, 1, refs), 0);
	ck_assert_int_eq(strand_flush(p, 30000), 0);
	ck_assert_int_eq(strand_producer_outq_len(p), 0);
	strand_producer_destroy(p);

	int64_t per_part[3] = { 0, 0, 0 };
	for (int i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof key, "key-%d", i % 97);
		ck_assert_msg(t->calls[i] == 1, "record %d: %d callbacks", i, t->calls[i]);
		ck_assert_msg(t->err[i] == 0, "record %d: %s", i, strand_err2str(t->err[i]));
		ck_assert_int_eq(t->partition[i], broker_partition_for_key(key, strlen(key), 3));
		per_part[t->partition[i]]++;
	}
	ck_assert_int_eq(t->total, n);
	ck_assert_msg(t->order_broken == 0, "offsets out of order per partition or wrong bytes (%d)",
	              t->order_broken);
	for (int q = 0; q < 3; q++)
		ck_assert_int_eq(high_watermark("cb", q), per_part[q]);
	free(refs);
	free(t);
}
END_TEST

START_TEST(test_fetched_records_match_what_was_produced)
{
	char value[64];
	strand_producer *p;
	http_response_t r;

	create_topic("roundtrip", 1);
	/* without idempotence only one request in flight keeps the order
	 * (docs/CLIENT.md: parallel connections may reorder, as in Kafka) */
	p = producer_with("enable.idempotence", "false",
	                  "max.in.flight.requests.per.connection", "1", NULL);
	for (int i = 0; i < 50; i++) {
		snprintf(value, sizeof value, "\"v%d\"", i);
		ck_assert_int_eq(strand_produce(p, "roundtrip", 0, "k", 1, value, strlen(value),
		                                NULL, NULL), 0);
	}
	ck_assert_int_eq(strand_flush(p, 10000), 0);
	strand_producer_destroy(p);
	http_get(&srv, "/v1/topics/roundtrip/partitions/0/records?offset=0&max_records=100", &r);
	cJSON *doc = http_body_json(&r);
	cJSON *recs = cJSON_GetObjectItem(doc, "records");
	ck_assert_int_eq(cJSON_GetArraySize(recs), 50);
	for (int i = 0; i < 50; i++) {
		cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(recs, i), "value");
		snprintf(value, sizeof value, "v%d", i);
		ck_assert_msg(cJSON_IsString(v) && strcmp(v->valuestring, value) == 0,
		              "record %d: %s", i, cJSON_PrintUnformatted(v));
	}
	cJSON_Delete(doc);
	http_response_free(&r);
}
END_TEST

START_TEST(test_produce_sync_returns_partition_and_offset)
{
	int32_t part = -2;
	int64_t off = -2;
	strand_producer *p;

	create_topic("sync", 2);
	p = producer_with("enable.idempotence", "false", "linger.ms", "10000",
	                  "delivery.timeout.ms", "60000", NULL);
	int64_t t0 = clock_now_ms();
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(strand_produce_sync(p, "sync", 1, NULL, 0, "1", 1, &part, &off, 10000), 0);
		ck_assert_int_eq(part, 1);
		ck_assert_int_eq(off, i);
	}
	/* linger.ms=10 s does not hold a record someone waits for */
	ck_assert_msg(clock_now_ms() - t0 < 5000, "produce_sync lingered %" PRId64 " ms", clock_now_ms() - t0);
	ck_assert_int_eq(strand_produce_sync(p, "sync", 7, NULL, 0, "1", 1, NULL, NULL, 1000),
	                 STRAND_ERR_UNKNOWN_PARTITION);
	/* a single broker's 404 is final: not waited for as in a cluster
	 * (topic.metadata.propagation.max.ms, 30 s by default) */
	t0 = clock_now_ms();
	ck_assert_int_eq(strand_produce_sync(p, "nosuch", -1, NULL, 0, "1", 1, NULL, NULL, 1000),
	                 STRAND_ERR_UNKNOWN_TOPIC);
	ck_assert_msg(clock_now_ms() - t0 < 10000, "UNKNOWN_TOPIC after %" PRId64 " ms",
	              clock_now_ms() - t0);
	ck_assert_int_eq(strand_produce(p, "bad/name", -1, NULL, 0, "1", 1, NULL, NULL),
	                 STRAND_ERR_INVALID_ARG);
	strand_producer_destroy(p);
}
END_TEST

START_TEST(test_linger_and_batch_size_form_batches)
{
	/* linger.ms=200 and a large batch.size: 100 records go as one batch,
	 * which the broker stores as one RecordBatch (one binary fetch batch) */
	tally_t *t = tally_new();
	rec_ref_t *refs = refs_new(t, 100);
	http_response_t r;

	create_topic("linger", 1);
	strand_producer *p = producer_with("enable.idempotence", "false", "linger.ms", "200",
	                                   "batch.size", "1000000", NULL);
	int64_t t0 = clock_now_ms();
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(produce_numbered(p, "linger", 0, i, 0, refs), 0);
	/* wait for the callbacks, not with flush (which would not linger) */
	tally_wait(t, 100, 10000);
	ck_assert_int_eq(t->total, 100);
	ck_assert_msg(t->at_ms[0] - t0 >= 190, "first callback after %" PRId64 " ms, linger.ms is 200",
	              t->at_ms[0] - t0);
	strand_producer_destroy(p);

	const char *hdr[] = { "Accept: application/vnd.strand.batch", NULL };
	http_request(&srv, "GET", "/v1/topics/linger/partitions/0/records?offset=0", NULL, NULL, 0,
	             hdr, &r);
	ck_assert_int_eq(r.status, 200);
	{
		/* one batch: its header says 100 records and it spans the whole body */
		const uint8_t *b = (const uint8_t *)r.body.data;
		ck_assert_uint_ge(r.body.len, 61);
		uint32_t len = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
		uint32_t count = (uint32_t)b[57] << 24 | (uint32_t)b[58] << 16 | (uint32_t)b[59] << 8 | b[60];
		ck_assert_uint_eq(len + 12, r.body.len);
		ck_assert_uint_eq(count, 100);
	}
	http_response_free(&r);

	/* batch.size small: the same 100 records need several requests */
	create_topic("small", 1);
	p = producer_with("enable.idempotence", "false", "linger.ms", "200", "batch.size", "300", NULL);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(strand_produce(p, "small", 0, NULL, 0, "0123456789", 10, NULL, NULL), 0);
	ck_assert_int_eq(strand_flush(p, 10000), 0);
	strand_producer_destroy(p);
	http_request(&srv, "GET", "/v1/topics/small/partitions/0/records?offset=0", NULL, NULL, 0,
	             hdr, &r);
	int batches = 0;
	for (size_t off = 0; off + 12 <= r.body.len; batches++) {
		const uint8_t *b = (const uint8_t *)r.body.data + off;
		uint32_t len = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
		ck_assert_uint_le(len + 12, 300 + 32);
		off += len + 12;
	}
	ck_assert_msg(batches >= 5, "%d batches for 100 records with batch.size=300", batches);
	http_response_free(&r);
	free(refs);
	free(t);
}
END_TEST

START_TEST(test_keyless_records_stick_to_a_partition_per_batch)
{
	strand_producer *p;
	int32_t part;
	int64_t off;

	create_topic("sticky", 4);
	p = producer_with("enable.idempotence", "false", NULL);
	int seen[4] = { 0 };
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(strand_produce_sync(p, "sticky", -1, NULL, 0, "x", 1, &part, &off, 5000), 0);
		ck_assert(part >= 0 && part < 4);
		seen[part] = 1;
	}
	/* each sync record closes its batch, so the sticky choice moves on */
	ck_assert_int_ge(seen[0] + seen[1] + seen[2] + seen[3], 2);
	strand_producer_destroy(p);
}
END_TEST

/* A broker that went away: records fail with MSG_TIMED_OUT within
 * delivery.timeout.ms (plus one retry backoff), each callback once. */
START_TEST(test_delivery_timeout_bounds_a_dead_broker)
{
	tally_t *t = tally_new();
	rec_ref_t *refs = refs_new(t, 20);

	create_topic("gone", 1);
	strand_producer *p = producer_with("enable.idempotence", "false", "delivery.timeout.ms", "1500",
	                                   "request.timeout.ms", "500", "retry.backoff.ms", "50", NULL);
	ck_assert_int_eq(strand_produce_sync(p, "gone", 0, NULL, 0, "a", 1, NULL, NULL, 5000), 0);
	ck_assert_int_eq(harness_stop(&srv, SIGKILL), 128 + SIGKILL);
	int64_t t0 = clock_now_ms();
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(produce_numbered(p, "gone", 0, i, 0, refs), 0);
	ck_assert_int_eq(strand_flush(p, 10000), 0);
	int64_t took = clock_now_ms() - t0;
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(t->calls[i], 1);
		ck_assert_msg(t->err[i] == STRAND_ERR_MSG_TIMED_OUT, "record %d: %s", i,
		              strand_err_name(t->err[i]));
		ck_assert_int_eq(t->offset[i], -1);
	}
	ck_assert_msg(took >= 1000 && took <= 1500 + 500 + 300,
	              "records failed after %" PRId64 " ms with delivery.timeout.ms=1500", took);
	strand_producer_destroy(p);
	ck_assert_int_eq(harness_restart(&srv), 0);
	free(refs);
	free(t);
}
END_TEST

START_TEST(test_producer_new_refuses_bad_combinations)
{
	char err[256];
	strand_conf *c = strand_conf_new();

	ck_assert_ptr_null(strand_producer_new(c, err, sizeof err));
	ck_assert_msg(strstr(err, "bootstrap.servers"), "%s", err);
	strand_conf_set(c, "bootstrap.servers", srv.base_url, NULL, 0);
	strand_conf_set(c, "acks", "1", NULL, 0);
	ck_assert_ptr_null(strand_producer_new(c, err, sizeof err));
	ck_assert_msg(strstr(err, "acks=all"), "%s", err);
	strand_conf_set(c, "enable.idempotence", "false", NULL, 0);
	strand_conf_set(c, "delivery.timeout.ms", "1000", NULL, 0);
	ck_assert_ptr_null(strand_producer_new(c, err, sizeof err));
	ck_assert_msg(strstr(err, "delivery.timeout.ms"), "%s", err);
	strand_conf_set(c, "delivery.timeout.ms", "40000", NULL, 0);
	strand_producer *p = strand_producer_new(c, err, sizeof err);
	ck_assert_msg(p != NULL, "%s", err);
	strand_producer_destroy(p);
	strand_conf_destroy(c);
}
END_TEST


/* ---- faults: the same broker behind tests/client/faultproxy ------------------- */

static faultproxy_t *proxy;

static void proxy_up(void)
{
	ck_assert_int_eq(faultproxy_start(srv.base_url, &proxy), 0);
}

static void proxy_down(void)
{
	faultproxy_stop(proxy);
	proxy = NULL;
}

/* a producer on the fault proxy in front of srv */
static strand_producer *proxied_producer(const char *name, ...)
{
	va_list ap;
	va_start(ap, name);
	strand_producer *p = producer_at(faultproxy_url(proxy), name, ap);
	va_end(ap);
	return p;
}

static void set_rules(int drop_every, int fail_every, int delay_max_ms)
{
	faultproxy_rules_t r = { drop_every, fail_every, delay_max_ms, 0 };
	faultproxy_set_rules(proxy, &r);
}

/* The values stored in topic/partition, in offset order, checked against
 * "value-0".."value-(n-1)": returns how many there are, and sets *in_order. */
static int stored_values(const char *topic, int partition, int n, int *in_order, int *dups)
{
	char path[256];
	int64_t next = 0;
	int count = 0, last = -1;
	char *seen = calloc((size_t)n, 1);

	*in_order = 1;
	*dups = 0;
	for (;;) {
		http_response_t r;
		snprintf(path, sizeof path, "/v1/topics/%s/partitions/%d/records?offset=%" PRId64
		         "&max_records=1000", topic, partition, next);
		http_get(&srv, path, &r);
		ck_assert_int_eq(r.status, 200);
		cJSON *doc = http_body_json(&r);
		cJSON *recs = cJSON_GetObjectItem(doc, "records"), *rec;
		int got = cJSON_GetArraySize(recs);
		cJSON_ArrayForEach(rec, recs) {
			cJSON *v = cJSON_GetObjectItem(rec, "value");
			/* "value-i" as produced (the topic's value_format is string) */
			const char *txt = cJSON_IsString(v) ? v->valuestring : "";
			int i = -1;
			ck_assert_msg(sscanf(txt, "value-%d", &i) == 1, "unexpected stored value %s", txt);
			if (i <= last)
				*in_order = 0;
			if (i >= 0 && i < n) {
				if (seen[i])
					(*dups)++;
				seen[i] = 1;
			}
			last = i;
			count++;
		}
		next = (int64_t)cJSON_GetObjectItem(doc, "next_offset")->valuedouble;
		cJSON_Delete(doc);
		http_response_free(&r);
		if (got == 0)
			break;
	}
	free(seen);
	return count;
}

/*
 * Produce "value-0".."value-(n-1)" through p to partitions i % nparts,
 * flush, destroy p, clear the proxy's rules, and check that every record
 * had exactly one callback, a success. Returns the tally (caller frees)
 * and the proxy's counters in *st.
 */
static tally_t *produce_through_faults(strand_producer *p, const char *topic, int nparts, int n,
                                       faultproxy_stats_t *st)
{
	tally_t *t = tally_new();
	rec_ref_t *refs = refs_new(t, n);

	for (int i = 0; i < n; i++)
		ck_assert_int_eq(produce_numbered(p, topic, i % nparts, i, 0, refs), 0);
	ck_assert_int_eq(strand_flush(p, 90000), 0);
	strand_producer_destroy(p);
	faultproxy_get_stats(proxy, st);
	set_rules(0, 0, 0);
	for (int i = 0; i < n; i++)
		ck_assert_msg(t->calls[i] == 1 && t->err[i] == 0, "record %d: %d callbacks, %s (%s)", i,
		              t->calls[i], strand_err_name(t->err[i]), t->first_errstr);
	free(refs);
	return t;
}

START_TEST(test_503_answers_are_retried_and_each_callback_fires_once)
{
	const int n = 2000;
	faultproxy_stats_t st;
	int in_order, dups;

	create_string_topic("f503", 1);
	set_rules(0, 3, 0);
	strand_producer *p = proxied_producer("enable.idempotence", "false", "retry.backoff.ms", "5",
	                                      "max.in.flight.requests.per.connection", "1",
	                                      "batch.size", "2000", NULL);
	free(produce_through_faults(p, "f503", 1, n, &st));
	ck_assert_msg(st.failed_503 >= 5, "only %" PRIu64 " injected 503s", st.failed_503);
	ck_assert_int_eq(stored_values("f503", 0, n, &in_order, &dups), n);
	ck_assert(in_order);
	ck_assert_int_eq(dups, 0);
}
END_TEST

/* The proxy's dropped answers are real: without idempotence a retry of an
 * appended batch stores its records twice (what idempotence is for). */
START_TEST(test_dropped_answers_duplicate_without_idempotence)
{
	const int n = 1000;
	faultproxy_stats_t st;
	int in_order, dups;

	create_string_topic("fdup", 1);
	set_rules(4, 0, 0);
	strand_producer *p = proxied_producer("enable.idempotence", "false", "retry.backoff.ms", "5",
	                                      "max.in.flight.requests.per.connection", "1",
	                                      "batch.size", "2000", NULL);
	free(produce_through_faults(p, "fdup", 1, n, &st));
	ck_assert_uint_ge(st.dropped, 2);
	int stored = stored_values("fdup", 0, n, &in_order, &dups);
	ck_assert_msg(dups > 0 && stored > n, "%d stored, %d duplicates after %" PRIu64 " drops",
	              stored, dups, st.dropped);
}
END_TEST

/* Every produce answered 503: each record fails once, MSG_TIMED_OUT, within
 * delivery.timeout.ms plus one backoff and one request. */
START_TEST(test_delivery_timeout_bounds_total_time_under_503s)
{
	tally_t *t = tally_new();
	rec_ref_t *refs = refs_new(t, 50);

	create_string_topic("ftime", 2);
	set_rules(0, 1, 0);
	strand_producer *p = proxied_producer("enable.idempotence", "false", "retry.backoff.ms", "20",
	                                      "delivery.timeout.ms", "1200",
	                                      "request.timeout.ms", "1000", NULL);
	int64_t t0 = clock_now_ms();
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(produce_numbered(p, "ftime", i % 2, i, 0, refs), 0);
	ck_assert_int_eq(tally_wait(t, 50, 10000), 50);
	int64_t took = clock_now_ms() - t0;
	strand_producer_destroy(p);
	set_rules(0, 0, 0);
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(t->calls[i], 1);
		ck_assert_msg(t->err[i] == STRAND_ERR_MSG_TIMED_OUT, "record %d: %s", i,
		              strand_err_name(t->err[i]));
		ck_assert_msg(t->at_ms[i] - t0 <= 1200 + 20 + 300,
		              "record %d failed after %" PRId64 " ms", i, t->at_ms[i] - t0);
	}
	ck_assert_msg(took >= 1100, "gave up after %" PRId64 " ms, before delivery.timeout.ms", took);
	ck_assert_int_eq(high_watermark("ftime", 0) + high_watermark("ftime", 1), 0);
	free(refs);
	free(t);
}
END_TEST

/* With enable.idempotence (the default) the same dropped answers store
 * every record once, in order, with 5 requests in flight. */
START_TEST(test_dropped_answers_create_no_duplicates_with_idempotence)
{
	const int n = 3000;
	faultproxy_stats_t st;
	int in_order, dups;

	create_string_topic("fidem", 1);
	set_rules(4, 0, 0);
	strand_producer *p = proxied_producer("retry.backoff.ms", "5", "batch.size", "2000", NULL);
	tally_t *t = produce_through_faults(p, "fidem", 1, n, &st);
	ck_assert_uint_ge(st.dropped, 5);
	ck_assert_msg(t->order_broken == 0, "callbacks out of offset order (%d)", t->order_broken);
	ck_assert_int_eq(stored_values("fidem", 0, n, &in_order, &dups), n);
	ck_assert_int_eq(dups, 0);
	ck_assert(in_order);
	free(t);
}
END_TEST

/* 5 requests in flight per partition reach the broker out of order (random
 * delays) and some get 503: the stored order is still the produce order. */
START_TEST(test_partition_order_holds_with_5_in_flight)
{
	const int n = 4000;
	faultproxy_stats_t st;
	int in_order, dups;

	create_string_topic("forder", 2);
	set_rules(0, 7, 15);
	strand_producer *p = proxied_producer("retry.backoff.ms", "2", "batch.size", "600",
	                                      "max.in.flight.requests.per.connection", "5", NULL);
	tally_t *t = produce_through_faults(p, "forder", 2, n, &st);
	ck_assert_uint_ge(st.failed_503, 5);
	ck_assert_msg(t->order_broken == 0, "callbacks out of offset order (%d)", t->order_broken);
	for (int q = 0; q < 2; q++) {
		ck_assert_int_eq(stored_values("forder", q, n, &in_order, &dups), n / 2);
		ck_assert_msg(in_order, "partition %d stored out of produce order", q);
		ck_assert_int_eq(dups, 0);
	}
	free(t);
}
END_TEST

/* Batches that failed for good after being sent leave a sequence gap; the
 * producer bumps its epoch (KIP-360) and goes on without OUT_OF_ORDER_SEQUENCE. */
START_TEST(test_epoch_bump_after_failed_batches)
{
	int64_t off = -1;

	create_string_topic("fbump", 1);
	strand_producer *p = proxied_producer("retry.backoff.ms", "20", "delivery.timeout.ms", "800",
	                                      "request.timeout.ms", "500", NULL);
	ck_assert_int_eq(strand_produce_sync(p, "fbump", 0, NULL, 0, "value-0", 7, NULL, &off, 5000), 0);
	ck_assert_int_eq(off, 0);
	set_rules(0, 1, 0);
	ck_assert_int_eq(strand_produce_sync(p, "fbump", 0, NULL, 0, "value-1", 7, NULL, NULL, 5000),
	                 STRAND_ERR_MSG_TIMED_OUT);
	set_rules(0, 0, 0);
	ck_assert_int_eq(strand_produce_sync(p, "fbump", 0, NULL, 0, "value-2", 7, NULL, &off, 5000), 0);
	ck_assert_int_eq(off, 1);
	strand_producer_destroy(p);
}
END_TEST

/* A broker that stops answering fills the buffer: strand_produce blocks
 * max.block.ms, then fails with QUEUE_FULL (retriable); what was queued is
 * delivered once the broker answers again. */
START_TEST(test_full_buffer_blocks_max_block_ms_then_queue_full)
{
	char value[200];
	int rc = 0, queued = 0;
	tally_t *t = tally_new();
	rec_ref_t *refs = refs_new(t, 1000);
	faultproxy_rules_t stall = { 0, 0, 0, 1 };

	memset(value, 'v', sizeof value);
	create_string_topic("full", 1);
	strand_producer *p = proxied_producer("enable.idempotence", "false", "buffer.memory", "4096",
	                                      "max.block.ms", "300", "delivery.timeout.ms", "60000",
	                                      /* one open batch holds them all: with the
	                                       * default linger the sender's timing decides
	                                       * how many batch objects share the buffer */
	                                      "linger.ms", "10000", NULL);
	ck_assert_int_eq(strand_produce_sync(p, "full", 0, NULL, 0, "a", 1, NULL, NULL, 5000), 0);
	faultproxy_set_rules(proxy, &stall);
	int64_t t_fail = 0;
	while (queued < 1000) {
		int64_t before = clock_now_ms();
		rc = strand_produce(p, "full", 0, NULL, 0, value, sizeof value, on_delivery, &refs[queued]);
		if (rc) {
			t_fail = clock_now_ms() - before;
			break;
		}
		queued++;
	}
	ck_assert_msg(rc == STRAND_ERR_QUEUE_FULL, "after %d records: %s (%d callbacks: %s)", queued,
	              strand_err_name(rc), t->total, t->first_errstr);
	ck_assert_msg(queued >= 10 && queued < 4096 / 200, "%d records fit in 4096 bytes", queued);
	ck_assert_msg(t_fail >= 290 && t_fail < 3000, "blocked %" PRId64 " ms, max.block.ms is 300",
	              t_fail);
	ck_assert(strand_err_is_retriable(rc));
	/* too large for the buffer at all: at once */
	static char big[8192];
	ck_assert_int_eq(strand_produce(p, "full", 0, NULL, 0, big, sizeof big, NULL, NULL),
	                 STRAND_ERR_RECORD_TOO_LARGE);
	set_rules(0, 0, 0);
	ck_assert_int_eq(strand_flush(p, 30000), 0);
	strand_producer_destroy(p);
	ck_assert_int_eq(t->total, queued);
	for (int i = 0; i < queued; i++)
		ck_assert_int_eq(t->err[i], 0);
	ck_assert_int_eq(high_watermark("full", 0), 1 + queued);
	free(refs);
	free(t);
}
END_TEST

/*
 * Regression (fuzz_client): a produce answer's offset is a JSON number, a
 * double; 1e300 or -1 from a broken peer was converted to int64 unchecked
 * (undefined behaviour). Only exact integers in [0, 2^53] are offsets.
 */
START_TEST(test_produce_answer_offsets_are_exact_integers)
{
	static const struct { const char *body; int32_t nrecs; int rc; int64_t off; } cases[] = {
		{ "{\"offsets\":[{\"partition\":0,\"offset\":41},{\"partition\":0,\"offset\":42}]}", 2, 0, 41 },
		{ "{\"offsets\":[{\"partition\":0,\"offset\":9007199254740992}]}", 1, 0, 9007199254740992 },
		{ "{\"offsets\":[{\"partition\":0,\"offset\":1e300}]}", 1, STRAND_ERR_BAD_RESPONSE, -7 },
		{ "{\"offsets\":[{\"partition\":0,\"offset\":-1e300}]}", 1, STRAND_ERR_BAD_RESPONSE, -7 },
		{ "{\"offsets\":[{\"partition\":0,\"offset\":-1}]}", 1, STRAND_ERR_BAD_RESPONSE, -7 },
		{ "{\"offsets\":[{\"partition\":0,\"offset\":1.5}]}", 1, STRAND_ERR_BAD_RESPONSE, -7 },
		{ "{\"offsets\":[{\"partition\":0,\"offset\":\"5\"}]}", 1, STRAND_ERR_BAD_RESPONSE, -7 },
		{ "{\"offsets\":[{\"partition\":0,\"offset\":5}]}", 2, STRAND_ERR_BAD_RESPONSE, -7 },
		{ "{\"offsets\":{\"offset\":5}}", 0, STRAND_ERR_BAD_RESPONSE, -7 },
		{ "not json", 1, STRAND_ERR_BAD_RESPONSE, -7 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t off = -7;
		int rc = producer_parse_offsets(cases[i].body, strlen(cases[i].body), cases[i].nrecs, &off);

		ck_assert_msg(rc == cases[i].rc && off == cases[i].off,
		              "%s (%d records): rc %d offset %" PRId64 ", expected rc %d offset %" PRId64,
		              cases[i].body, (int)cases[i].nrecs, rc, off, cases[i].rc, cases[i].off);
	}
	ck_assert_int_eq(producer_parse_offsets(NULL, 0, 1, &(int64_t){ 0 }), STRAND_ERR_BAD_RESPONSE);
}
END_TEST

static Suite *producer_suite(void)
{
	Suite *s = suite_create("client_producer");
	TCase *tc = tcase_create("shared_server");

	tcase_add_unchecked_fixture(tc, server_up, server_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_every_callback_fires_once_with_the_stored_offset);
	tcase_add_test(tc, test_produce_answer_offsets_are_exact_integers);
	tcase_add_test(tc, test_fetched_records_match_what_was_produced);
	tcase_add_test(tc, test_produce_sync_returns_partition_and_offset);
	tcase_add_test(tc, test_linger_and_batch_size_form_batches);
	tcase_add_test(tc, test_keyless_records_stick_to_a_partition_per_batch);
	tcase_add_test(tc, test_producer_new_refuses_bad_combinations);
	tcase_add_test(tc, test_delivery_timeout_bounds_a_dead_broker);
	suite_add_tcase(s, tc);

	TCase *tf = tcase_create("faults");
	tcase_add_unchecked_fixture(tf, server_up, server_down);
	tcase_add_checked_fixture(tf, proxy_up, proxy_down);
	tcase_set_timeout(tf, 120);
	tcase_add_test(tf, test_503_answers_are_retried_and_each_callback_fires_once);
	tcase_add_test(tf, test_dropped_answers_duplicate_without_idempotence);
	tcase_add_test(tf, test_delivery_timeout_bounds_total_time_under_503s);
	tcase_add_test(tf, test_dropped_answers_create_no_duplicates_with_idempotence);
	tcase_add_test(tf, test_partition_order_holds_with_5_in_flight);
	tcase_add_test(tf, test_epoch_bump_after_failed_batches);
	tcase_add_test(tf, test_full_buffer_blocks_max_block_ms_then_queue_full);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(producer_suite());
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* the server is shared: run the tests in this process, in order */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
