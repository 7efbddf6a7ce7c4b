/*
 * test_internal.c — POST /v1/internal/replica/fetch over HTTP, with a
 * follower written here: a broker (id 1) and its HTTP edge run in this
 * process on 127.0.0.1 and a port chosen at run time; the partition state
 * that etcd would bring is applied with broker_partition_set_state; the
 * test plays brokers 2 and 3, decodes the frames (docs/REPLICATION.md) and
 * checks records, epochs, errors, the high watermark and the long poll;
 * then acks=all produce over HTTP against those followers (the answer
 * waits for the HW, and for the leader's fsync only while the ISR is the
 * leader alone; 421, 503 NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT).
 */
#include <check.h>
#include <curl/curl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "broker/broker.h"
#include "broker/replica.h"
#include "cluster/fetcher.h"
#include "common/buf.h"
#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"

static char data_dir[] = "/tmp/strand-internal-XXXXXX";
static char errbuf[512];
static broker_t *broker;
static api_t *api;
static char base_url[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int always_valid(void *ctx)
{
	return 1;
}

static void setup(void)
{
	broker_options_t opts = { data_dir, 1, "http://127.0.0.1:0", 1000, 0, { 0, 0, 0 }, 0, { 0, 0, 0 }, 0, 0 };
	api_options_t aopts;
	int rc;

	strcpy(data_dir, "/tmp/strand-internal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(data_dir));
	rc = broker_open(&opts, &broker, errbuf, sizeof(errbuf));
	ck_assert_msg(rc == 0, "broker_open: %s", errbuf);
	broker_set_lease_check(broker, always_valid, NULL);     /* cluster mode */
	rc = broker_topic_create(broker, "t", 2, 3, NULL, errbuf, sizeof(errbuf));
	ck_assert_msg(rc == 0, "create: %s", errbuf);
	memset(&aopts, 0, sizeof(aopts));
	aopts.listen_host = "127.0.0.1";
	aopts.threads = 2;
	aopts.www_dir = "";
	rc = api_start(&aopts, broker, &api, errbuf, sizeof(errbuf));
	ck_assert_msg(rc == 0, "api_start: %s", errbuf);
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%u", (unsigned)api_port(api));
}

static void teardown(void)
{
	api_stop(api, 1000);
	broker_close(broker);
	nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* State: replicas {1,2,3}, leader, epoch, ISR {1..nisr}, version. */
static void apply(int32_t p, int32_t leader, int32_t epoch, int32_t nisr, int64_t version)
{
	partition_state_t st;
	int rc;

	memset(&st, 0, sizeof(st));
	st.nreplicas = 3;
	for (int i = 0; i < 3; i++)
		st.replicas[i] = i + 1;
	st.leader = leader;
	st.leader_epoch = epoch;
	st.nisr = nisr;
	for (int i = 0; i < nisr; i++)
		st.isr[i] = i + 1;
	st.version = version;
	rc = broker_partition_set_state(broker, "t", p, &st, errbuf, sizeof(errbuf));
	ck_assert_msg(rc == 0, "set_state: %s", errbuf);
}

/* Append n records to t/p as the leader would (acks=1). */
static void append_n(int32_t p, int n)
{
	batch_builder_t bb;
	topic_t *t = broker_topic_get(broker, "t");
	broker_append_info_t info;
	char value[32];
	int rc;

	batch_builder_init(&bb);
	ck_assert_int_eq(batch_builder_begin(&bb, -1, -1, -1), 0);
	for (int i = 0; i < n; i++) {
		int vl = snprintf(value, sizeof(value), "v%d", i);

		/* timestamps of now: retention (7 days) must not take the segment */
		ck_assert_int_eq(batch_builder_add(&bb, broker_wall_ms() + i, NULL, -1,
		                                   (uint8_t *)value, vl, NULL, 0), 0);
	}
	ck_assert_int_eq(batch_builder_finish(&bb, NULL), 0);
	rc = broker_append(broker, t, p, bb.buf, bb.len, 0, &info, errbuf, sizeof(errbuf));
	ck_assert_msg(rc == 0, "append: %d %s", rc, errbuf);
	batch_builder_free(&bb);
	topic_release(t);
}

static int64_t hw_of(int32_t p)
{
	topic_t *t = broker_topic_get(broker, "t");
	int64_t hw = topic_partition_hw(t, p);

	topic_release(t);
	return hw;
}

/* ---- a follower's HTTP side -------------------------------------------- */

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
	return buf_append(ud, ptr, size * n) == 0 ? size * n : 0;
}

typedef struct answer {
	long  status;
	char  content_type[128];
	buf_t body;
	int64_t elapsed_ms;
} answer_t;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* POST json to path (json NULL: GET path). */
static void post(const char *path, const char *json, answer_t *a)
{
	CURL *curl = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];
	char *ct = NULL;
	int64_t start = mono_ms();
	CURLcode cc;

	memset(a, 0, sizeof(*a));
	buf_init(&a->body);
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (json != NULL)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a->body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
	cc = curl_easy_perform(curl);
	ck_assert_msg(cc == CURLE_OK, "%s %s: %s", json ? "POST" : "GET", path,
	              curl_easy_strerror(cc));
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(a->content_type, sizeof(a->content_type), "%s", ct ? ct : "");
	a->elapsed_ms = mono_ms() - start;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
}

/* One decoded frame. */
typedef struct frame {
	char          topic[256];
	int32_t       partition;
	int16_t       error;
	int32_t       leader_epoch;
	int64_t       hw, log_start, leo;
	uint32_t      records_len;
	const uint8_t *records;
} frame_t;

/* Decode every frame of a 200 answer with the follower's own decoder
 * (fetcher.h), so the encoder here and the fetcher's reading of it are
 * checked against each other; returns the count. */
static int decode(const answer_t *a, frame_t *out, int cap)
{
	const uint8_t *buf = (const uint8_t *)a->body.data;
	size_t pos = 0;
	fetch_frame_t fr;
	int n = 0, rc;

	ck_assert_int_eq(a->status, 200);
	ck_assert_str_eq(a->content_type, "application/vnd.strand.replica");
	while ((rc = fetch_frame_decode(buf, a->body.len, &pos, &fr)) == 0) {
		frame_t *f = &out[n];

		ck_assert_int_lt(n, cap);
		ck_assert_uint_lt(fr.topic_len, sizeof f->topic);
		memcpy(f->topic, fr.topic, fr.topic_len);
		f->topic[fr.topic_len] = '\0';
		f->partition = fr.partition;
		f->error = fr.error;
		f->leader_epoch = fr.leader_epoch;
		f->hw = fr.high_watermark;
		f->log_start = fr.log_start_offset;
		f->leo = fr.log_end_offset;
		f->records_len = (uint32_t)fr.records_len;
		f->records = fr.records;
		n++;
	}
	ck_assert_msg(rc == STRAND_EAGAIN, "the answer does not frame: %d after %d frames", rc, n);
	return n;
}

/* The record count of whole batches in a frame, checking each batch. */
static int64_t count_records(const frame_t *f, int64_t *first_base, int32_t *epoch)
{
	size_t pos = 0;
	int64_t count = 0;
	batch_header_t h;

	*first_base = -1;
	while (pos < f->records_len) {
		ck_assert_int_eq(batch_validate(f->records + pos, f->records_len - pos, 0, &h,
		                                errbuf, sizeof(errbuf)), 0);
		if (*first_base < 0)
			*first_base = h.base_offset;
		*epoch = h.leader_epoch;
		count += h.record_count;
		pos += batch_total_size(&h);
	}
	return count;
}

static void fetch_req(char *json, size_t cap, int32_t broker_id, int wait_ms, int64_t max_bytes,
                      const char *parts)
{
	snprintf(json, cap, "{\"broker_id\":%d,\"max_wait_ms\":%d,\"max_bytes\":%lld,"
	         "\"partitions\":[%s]}", (int)broker_id, wait_ms, (long long)max_bytes, parts);
}

START_TEST(test_fetch_frames_records_and_hw)
{
	char json[1024];
	answer_t a;
	frame_t f[4];
	int64_t base;
	int32_t epoch = -1;

	apply(0, 1, 3, 3, 10);
	apply(1, 1, 3, 3, 11);
	append_n(0, 5);
	append_n(0, 2);
	append_n(1, 1);

	/* broker 2 asks for both from 0 */
	fetch_req(json, sizeof json, 2, 0, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":3},"
	          "{\"topic\":\"t\",\"partition\":1,\"fetch_offset\":0,\"leader_epoch\":3}");
	post("/v1/internal/replica/fetch", json, &a);
	ck_assert_int_eq(decode(&a, f, 4), 2);
	ck_assert_str_eq(f[0].topic, "t");
	ck_assert_int_eq(f[0].partition, 0);
	ck_assert_int_eq(f[0].error, 0);
	ck_assert_int_eq(f[0].leader_epoch, 3);
	ck_assert_int_eq(f[0].hw, 0);             /* broker 3 has not fetched */
	ck_assert_int_eq(f[0].log_start, 0);
	ck_assert_int_eq(f[0].leo, 7);
	ck_assert_int_eq(count_records(&f[0], &base, &epoch), 7);
	ck_assert_int_eq(base, 0);
	ck_assert_int_eq(epoch, 3);               /* stamped by the leader, kept untouched */
	ck_assert_int_eq(f[1].partition, 1);
	ck_assert_int_eq(f[1].leo, 1);
	ck_assert_int_eq(count_records(&f[1], &base, &epoch), 1);
	buf_free(&a.body);

	/* both followers at the LEO of partition 0: the HW moves to 7 */
	fetch_req(json, sizeof json, 2, 0, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":7,\"leader_epoch\":3}");
	post("/v1/internal/replica/fetch", json, &a);
	buf_free(&a.body);
	fetch_req(json, sizeof json, 3, 0, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":7,\"leader_epoch\":3}");
	post("/v1/internal/replica/fetch", json, &a);
	ck_assert_int_eq(decode(&a, f, 4), 1);
	ck_assert_int_eq(f[0].hw, 7);
	ck_assert_int_eq(f[0].records_len, 0);
	ck_assert_int_eq(hw_of(0), 7);
	buf_free(&a.body);
}
END_TEST

START_TEST(test_fetch_errors_per_partition)
{
	char json[2048];
	answer_t a;
	frame_t f[8];

	apply(0, 1, 5, 3, 10);
	apply(1, 2, 6, 3, 11);                /* led elsewhere */
	append_n(0, 3);
	fetch_req(json, sizeof json, 2, 0, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":4},"
	          "{\"topic\":\"t\",\"partition\":1,\"fetch_offset\":0,\"leader_epoch\":6},"
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":9,\"leader_epoch\":5},"
	          "{\"topic\":\"nope\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":5},"
	          "{\"topic\":\"t\",\"partition\":7,\"fetch_offset\":0,\"leader_epoch\":5},"
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":5}");
	post("/v1/internal/replica/fetch", json, &a);
	ck_assert_int_eq(decode(&a, f, 8), 6);
	ck_assert_int_eq(f[0].error, 2);          /* FENCED_LEADER_EPOCH */
	ck_assert_int_eq(f[0].leader_epoch, 5);
	ck_assert_int_eq(f[0].records_len, 0);
	ck_assert_int_eq(f[1].error, 1);          /* NOT_LEADER */
	ck_assert_int_eq(f[2].error, 4);          /* OFFSET_OUT_OF_RANGE */
	ck_assert_int_eq(f[2].leo, 3);
	ck_assert_int_eq(f[3].error, 5);          /* UNKNOWN_TOPIC_OR_PARTITION */
	ck_assert_str_eq(f[3].topic, "nope");
	ck_assert_int_eq(f[4].error, 5);
	ck_assert_int_eq(f[5].error, 0);          /* in request order, the good one last */
	ck_assert_int_gt(f[5].records_len, 0);
	buf_free(&a.body);

	/* a newer epoch than the leader's: it steps down (no produce) */
	fetch_req(json, sizeof json, 2, 0, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":3,\"leader_epoch\":6}");
	post("/v1/internal/replica/fetch", json, &a);
	ck_assert_int_eq(decode(&a, f, 8), 1);
	ck_assert_int_eq(f[0].error, 3);          /* UNKNOWN_LEADER_EPOCH */
	buf_free(&a.body);
	{
		topic_t *t = broker_topic_get(broker, "t");
		uint8_t junk[1] = { 0 };

		ck_assert_int_eq(broker_append(broker, t, 0, junk, sizeof junk, 0, NULL, errbuf,
		                               sizeof errbuf), STRAND_ENOTLEADER);
		topic_release(t);
	}

	/* bad requests are 400 */
	post("/v1/internal/replica/fetch", "{\"max_wait_ms\":0,\"partitions\":[]}", &a);
	ck_assert_int_eq(a.status, 400);
	buf_free(&a.body);
	post("/v1/internal/replica/fetch",
	     "{\"broker_id\":2,\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}", &a);
	ck_assert_int_eq(a.status, 400);
	buf_free(&a.body);
	post("/v1/internal/replica/fetch", "{\"broker_id\":2,\"max_wait_ms\":60001,"
	     "\"partitions\":[]}", &a);
	ck_assert_int_eq(a.status, 400);
	buf_free(&a.body);
}
END_TEST

START_TEST(test_max_bytes_bounds_all_but_the_first_batch)
{
	char json[1024];
	answer_t a;
	frame_t f[4];
	int64_t base;
	int32_t epoch;

	apply(0, 1, 0, 3, 10);
	apply(1, 1, 0, 3, 11);
	append_n(0, 50);
	append_n(0, 50);
	append_n(1, 50);
	/* max_bytes 1: partition 0 still gets one whole batch, partition 1 none */
	fetch_req(json, sizeof json, 2, 0, 1,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":0},"
	          "{\"topic\":\"t\",\"partition\":1,\"fetch_offset\":0,\"leader_epoch\":0}");
	post("/v1/internal/replica/fetch", json, &a);
	ck_assert_int_eq(decode(&a, f, 4), 2);
	ck_assert_int_eq(count_records(&f[0], &base, &epoch), 50);
	ck_assert_int_eq(f[1].records_len, 0);
	ck_assert_int_eq(f[1].leo, 50);           /* it learns there is more */
	buf_free(&a.body);
}
END_TEST

/* A long poll in a thread. */
typedef struct poll_arg {
	char     json[1024];
	answer_t a;
} poll_arg_t;

static void *poll_main(void *arg)
{
	poll_arg_t *pa = arg;

	post("/v1/internal/replica/fetch", pa->json, &pa->a);
	return NULL;
}

/* Start pa's request in *th and wait (deadline 5 s) until it is parked. */
static void poll_start(poll_arg_t *pa, pthread_t *th)
{
	int64_t start = mono_ms();

	ck_assert_int_eq(pthread_create(th, NULL, poll_main, pa), 0);
	while (api_parked_count(api) == 0 && mono_ms() - start < 5000)
		usleep(5000);       /* polling a condition, bounded by the deadline */
	ck_assert_int_eq(api_parked_count(api), 1);
}

START_TEST(test_long_poll_answers_on_append)
{
	poll_arg_t pa;
	pthread_t th;
	frame_t f[4];
	int64_t base;
	int32_t epoch;

	apply(0, 1, 2, 3, 10);
	apply(1, 1, 2, 3, 11);
	/* both partitions caught up (LEO 0, HW 0 already told): the poll parks */
	fetch_req(pa.json, sizeof pa.json, 2, 10000, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":2},"
	          "{\"topic\":\"t\",\"partition\":1,\"fetch_offset\":0,\"leader_epoch\":2}");
	{
		answer_t a;

		/* a first answer tells broker 2 the HW (0) */
		char json0[1024];

		fetch_req(json0, sizeof json0, 2, 0, 1 << 20,
		          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":2},"
		          "{\"topic\":\"t\",\"partition\":1,\"fetch_offset\":0,\"leader_epoch\":2}");
		post("/v1/internal/replica/fetch", json0, &a);
		buf_free(&a.body);
	}
	poll_start(&pa, &th);
	append_n(1, 4);                           /* the second partition gets data */
	pthread_join(th, NULL);
	ck_assert_int_lt(pa.a.elapsed_ms, 5000);  /* well before max_wait_ms */
	ck_assert_int_eq(decode(&pa.a, f, 4), 2);
	ck_assert_int_eq(f[0].records_len, 0);
	ck_assert_int_eq(count_records(&f[1], &base, &epoch), 4);
	ck_assert_int_eq(epoch, 2);
	buf_free(&pa.a.body);
}
END_TEST

START_TEST(test_long_poll_answers_on_hw_change_and_times_out)
{
	poll_arg_t pa;
	pthread_t th;
	frame_t f[4];
	answer_t a;
	char json[1024];

	apply(0, 1, 0, 3, 10);
	append_n(0, 3);
	/* broker 2 catches up and is told HW 0 */
	fetch_req(json, sizeof json, 2, 0, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":3,\"leader_epoch\":0}");
	post("/v1/internal/replica/fetch", json, &a);
	ck_assert_int_eq(decode(&a, f, 4), 1);
	ck_assert_int_eq(f[0].hw, 0);
	buf_free(&a.body);
	/* broker 2 polls; broker 3's fetch then moves the HW to 3: 2 hears of it */
	fetch_req(pa.json, sizeof pa.json, 2, 10000, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":3,\"leader_epoch\":0}");
	poll_start(&pa, &th);
	fetch_req(json, sizeof json, 3, 0, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":3,\"leader_epoch\":0}");
	post("/v1/internal/replica/fetch", json, &a);
	buf_free(&a.body);
	pthread_join(th, NULL);
	ck_assert_int_lt(pa.a.elapsed_ms, 5000);
	ck_assert_int_eq(decode(&pa.a, f, 4), 1);
	ck_assert_int_eq(f[0].hw, 3);
	buf_free(&pa.a.body);

	/* nothing more to say: the poll lasts max_wait_ms and answers empty */
	fetch_req(json, sizeof json, 2, 300, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":3,\"leader_epoch\":0}");
	post("/v1/internal/replica/fetch", json, &a);
	ck_assert_int_ge(a.elapsed_ms, 290);      /* the registry's clock is in ms */
	ck_assert_int_eq(decode(&a, f, 4), 1);
	ck_assert_int_eq(f[0].records_len, 0);
	ck_assert_int_eq(f[0].hw, 3);
	buf_free(&a.body);
}
END_TEST

START_TEST(test_long_poll_answers_when_leadership_moves)
{
	poll_arg_t pa;
	pthread_t th;
	frame_t f[4];
	answer_t a;
	char json[1024];

	apply(0, 1, 0, 3, 10);
	fetch_req(json, sizeof json, 2, 0, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":0}");
	post("/v1/internal/replica/fetch", json, &a);
	buf_free(&a.body);
	fetch_req(pa.json, sizeof pa.json, 2, 10000, 1 << 20,
	          "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":0,\"leader_epoch\":0}");
	poll_start(&pa, &th);
	apply(0, 3, 1, 2, 11);                    /* broker 3 leads now */
	pthread_join(th, NULL);
	ck_assert_int_lt(pa.a.elapsed_ms, 5000);
	ck_assert_int_eq(decode(&pa.a, f, 4), 1);
	ck_assert_int_eq(f[0].error, 1);          /* NOT_LEADER: go ask broker 3 */
	buf_free(&pa.a.body);
}
END_TEST

/* ---- acks=all in cluster mode, over HTTP --------------------------------- */

/* A produce of n JSON records to t/0 (in a thread for the waiting cases). */
typedef struct produce_arg {
	char     path[256];
	int      n;
	answer_t a;
} produce_arg_t;

static void *produce_main(void *arg)
{
	produce_arg_t *pa = arg;
	char body[1024];
	size_t len = 0;

	len += (size_t)snprintf(body + len, sizeof body - len, "{\"records\":[");
	for (int i = 0; i < pa->n; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s{\"value\":%d}",
		                        i ? "," : "", i);
	snprintf(body + len, sizeof body - len, "]}");
	post(pa->path, body, &pa->a);
	return NULL;
}

/* The problem code of an error answer ("" when none), and Retry-After seen. */
static const char *problem_code(const answer_t *a, char *out, size_t cap)
{
	const char *p = strstr(a->body.data ? a->body.data : "", "\"code\":\"");

	out[0] = '\0';
	if (p != NULL)
		sscanf(p + 8, "%63[A-Z_]", out);
	(void)cap;
	return out;
}

/* Follower `id` fetches t/0 at `offset` with epoch (no wait). */
static void follower_fetch(int32_t id, int64_t offset, int32_t epoch, frame_t *f)
{
	char json[512], part[160];
	answer_t a;

	snprintf(part, sizeof part, "{\"topic\":\"t\",\"partition\":0,\"fetch_offset\":%lld,"
	         "\"leader_epoch\":%d}", (long long)offset, (int)epoch);
	fetch_req(json, sizeof json, id, 0, 1 << 20, part);
	post("/v1/internal/replica/fetch", json, &a);
	ck_assert_int_eq(decode(&a, f, 1), 1);
	buf_free(&a.body);
}

START_TEST(test_acks_all_answers_once_the_followers_have_it)
{
	produce_arg_t pa = { .path = "/v1/topics/t/partitions/0/records?acks=all&timeout_ms=10000", .n = 3 };
	pthread_t th;
	frame_t f;
	char code[64];

	apply(0, 1, 4, 3, 10);                    /* ISR {1,2,3}, min_insync 1 */
	ck_assert_int_eq(pthread_create(&th, NULL, produce_main, &pa), 0);
	/* the records reach the log; the answer waits for the followers */
	{
		int64_t start = mono_ms();
		topic_t *t = broker_topic_get(broker, "t");

		while (log_end_offset(topic_partition_log(t, 0)) < 3 && mono_ms() - start < 5000)
			usleep(5000);
		ck_assert_int_eq(log_end_offset(topic_partition_log(t, 0)), 3);
		topic_release(t);
	}
	follower_fetch(2, 3, 4, &f);
	ck_assert_int_eq(f.hw, 0);                /* 3 has not fetched: not committed */
	follower_fetch(3, 3, 4, &f);
	ck_assert_int_eq(f.hw, 3);
	pthread_join(th, NULL);
	ck_assert_msg(pa.a.status == 200, "acks=all: %ld %s", pa.a.status, problem_code(&pa.a, code,
	              sizeof code));
	ck_assert_msg(strstr(pa.a.body.data, "{\"partition\":0,\"offset\":2}]") != NULL, "answer: %s",
	              pa.a.body.data);
	buf_free(&pa.a.body);
	/* the followers' copies are the durability: the answer did not wait
	 * for an fsync here (none runs: flush_messages/flush_ms are off) */
	{
		topic_t *t = broker_topic_get(broker, "t");

		ck_assert_int_lt(log_flushed_offset(topic_partition_log(t, 0)), 3);
		topic_release(t);
	}
}
END_TEST

/* An ISR of the leader alone: acks=all commits at once, and is answered
 * only once the leader's own fsync covers the records, as on a single node. */
START_TEST(test_acks_all_with_the_leader_alone_in_the_isr_fsyncs)
{
	produce_arg_t pa = { .path = "/v1/topics/t/partitions/0/records?acks=all&timeout_ms=10000", .n = 2 };
	topic_t *t;
	char code[64];

	apply(0, 1, 2, 1, 10);                    /* ISR {1}, min_insync 1 */
	t = broker_topic_get(broker, "t");
	ck_assert_int_eq(log_flushed_offset(topic_partition_log(t, 0)), 0);
	produce_main(&pa);
	ck_assert_msg(pa.a.status == 200, "acks=all: %ld %s", pa.a.status, problem_code(&pa.a, code,
	              sizeof code));
	ck_assert_int_ge(log_flushed_offset(topic_partition_log(t, 0)), 2);
	ck_assert_int_eq(hw_of(0), 2);
	buf_free(&pa.a.body);

	/* the ISR grows to {1,2} (broker 2 caught up): the next one does not
	 * wait for a flush, only for broker 2 */
	apply(0, 1, 2, 2, 11);
	{
		frame_t f;
		pthread_t th;
		int64_t start = mono_ms();

		ck_assert_int_eq(pthread_create(&th, NULL, produce_main, &pa), 0);
		while (log_end_offset(topic_partition_log(t, 0)) < 4 && mono_ms() - start < 5000)
			usleep(5000);
		ck_assert_int_eq(log_end_offset(topic_partition_log(t, 0)), 4);
		follower_fetch(2, 4, 2, &f);
		ck_assert_int_eq(f.hw, 4);
		pthread_join(th, NULL);
	}
	ck_assert_int_eq(pa.a.status, 200);
	ck_assert_int_lt(log_flushed_offset(topic_partition_log(t, 0)), 4);
	buf_free(&pa.a.body);
	topic_release(t);
}
END_TEST

START_TEST(test_acks_all_refusals_and_timeouts)
{
	produce_arg_t pa = { .path = "/v1/topics/t/partitions/0/records?acks=all&timeout_ms=10000", .n = 1 };
	pthread_t th;
	topic_config_t cfg;
	topic_t *t;
	char code[64];

	/* not the leader: 421 NOT_LEADER */
	apply(0, 2, 0, 3, 10);
	produce_main(&pa);
	ck_assert_int_eq(pa.a.status, 421);
	ck_assert_str_eq(problem_code(&pa.a, code, sizeof code), "NOT_LEADER");
	buf_free(&pa.a.body);

	/* min_insync_replicas 2, ISR {1}: 503 before anything is appended */
	t = broker_topic_get(broker, "t");
	topic_get_config(t, &cfg);
	topic_release(t);
	cfg.min_insync_replicas = 2;
	ck_assert_int_eq(broker_topic_alter(broker, "t", 0, &cfg, errbuf, sizeof errbuf), 0);
	apply(0, 1, 1, 1, 11);
	produce_main(&pa);
	ck_assert_int_eq(pa.a.status, 503);
	ck_assert_str_eq(problem_code(&pa.a, code, sizeof code), "NOT_ENOUGH_REPLICAS");
	buf_free(&pa.a.body);
	t = broker_topic_get(broker, "t");
	ck_assert_int_eq(log_end_offset(topic_partition_log(t, 0)), 0);
	topic_release(t);

	/* ISR {1,2}: appended, waiting; the ISR shrinks below 2: 503 */
	apply(0, 1, 1, 2, 12);
	ck_assert_int_eq(pthread_create(&th, NULL, produce_main, &pa), 0);
	{
		int64_t start = mono_ms();

		while (api_parked_count(api) == 0 && mono_ms() - start < 5000)
			usleep(5000);
		ck_assert_int_eq(api_parked_count(api), 1);
	}
	apply(0, 1, 1, 1, 13);
	pthread_join(th, NULL);
	ck_assert_int_eq(pa.a.status, 503);
	ck_assert_str_eq(problem_code(&pa.a, code, sizeof code), "NOT_ENOUGH_REPLICAS");
	ck_assert_int_lt(pa.a.elapsed_ms, 5000);
	buf_free(&pa.a.body);

	/* ISR {1,2} and broker 2 silent: 503 REQUEST_TIMED_OUT at timeout_ms */
	apply(0, 1, 1, 2, 14);
	snprintf(pa.path, sizeof pa.path, "/v1/topics/t/partitions/0/records?acks=all&timeout_ms=300");
	produce_main(&pa);
	ck_assert_int_eq(pa.a.status, 503);
	ck_assert_str_eq(problem_code(&pa.a, code, sizeof code), "REQUEST_TIMED_OUT");
	ck_assert_int_ge(pa.a.elapsed_ms, 290);
	buf_free(&pa.a.body);

	/* acks=1 is answered at once, but readers see nothing past the HW */
	snprintf(pa.path, sizeof pa.path, "/v1/topics/t/partitions/0/records?acks=1");
	produce_main(&pa);
	ck_assert_int_eq(pa.a.status, 200);
	buf_free(&pa.a.body);
	ck_assert_int_eq(hw_of(0), 0);
}
END_TEST

/*
 * /metrics gives the dirty ratio (log_dirty_ratio) of compacted partitions
 * only: __consumer_offsets, not an ordinary topic.
 */
START_TEST(test_metrics_show_the_dirty_ratio_of_compacted_partitions_only)
{
	answer_t a;

	ck_assert_msg(broker_topic_create(broker, BROKER_OFFSETS_TOPIC, 2, 3, NULL, errbuf,
	                                  sizeof(errbuf)) == 0, "create: %s", errbuf);
	post("/metrics", NULL, &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert_ptr_nonnull(strstr(a.body.data, "# TYPE strand_partition_dirty_ratio gauge\n"));
	ck_assert_ptr_nonnull(strstr(a.body.data, "strand_partition_dirty_ratio{topic=\""
	                             BROKER_OFFSETS_TOPIC "\",partition=\"1\"} 0.000000\n"));
	ck_assert_ptr_null(strstr(a.body.data, "strand_partition_dirty_ratio{topic=\"t\""));
	buf_free(&a.body);
}
END_TEST

static Suite *internal_suite(void)
{
	Suite *s = suite_create("internal");
	TCase *tc = tcase_create("replica_fetch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fetch_frames_records_and_hw);
	tcase_add_test(tc, test_fetch_errors_per_partition);
	tcase_add_test(tc, test_max_bytes_bounds_all_but_the_first_batch);
	tcase_add_test(tc, test_long_poll_answers_on_append);
	tcase_add_test(tc, test_long_poll_answers_on_hw_change_and_times_out);
	tcase_add_test(tc, test_long_poll_answers_when_leadership_moves);
	suite_add_tcase(s, tc);

	tc = tcase_create("acks_all");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_acks_all_answers_once_the_followers_have_it);
	tcase_add_test(tc, test_acks_all_refusals_and_timeouts);
	tcase_add_test(tc, test_acks_all_with_the_leader_alone_in_the_isr_fsyncs);
	tcase_add_test(tc, test_metrics_show_the_dirty_ratio_of_compacted_partitions_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(internal_suite());
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
