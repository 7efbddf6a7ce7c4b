/*
 * test_crash.c — acknowledged records survive kill -9 (issue 3, "Done
 * when"): a producer thread appends with acks=all and remembers every
 * acknowledged (partition, offset, value); the broker is killed with
 * SIGKILL at a random moment, over and over, sometimes with garbage
 * appended to a partition's last segment (a torn write the recovery must
 * cut); after every restart each acknowledged record must be at its offset
 * with its value, and offsets must stay contiguous. At the end,
 * `strand log check` must find every partition directory clean.
 *
 * Seeded from the clock (printed) so a failure can be replayed with
 * STRAND_CRASH_SEED; STRAND_CRASH_ITERATIONS overrides the 20 rounds.
 */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define CRASH_TOPIC       "crash"
#define CRASH_PARTITIONS  2
#define CRASH_PER_REQUEST 4

typedef struct acked {
	int32_t partition;
	int64_t offset;
	char    value[32];
} acked_t;

typedef struct producer {
	char        base_url[64];
	atomic_int  stop;
	pthread_t   thread;
	acked_t    *acked;        /* grows; owned by the test */
	size_t      nacked, cap;
	long        seq;          /* request sequence, across rounds */
	int         round;
} producer_t;

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	buf_append(ctx, data, size * n);
	return size * n;
}

/* Remember what the broker acknowledged: offsets[i] is record i's. */
static void producer_record(producer_t *pr, int32_t p, const char *body, long seq)
{
	cJSON *doc = cJSON_Parse(body), *o;
	int i = 0;

	ck_assert_msg(doc != NULL, "a 200 answer that is not JSON: %.200s", body);
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "offsets")) {
		acked_t *a;

		if (pr->nacked == pr->cap) {
			pr->cap = pr->cap ? pr->cap * 2 : 1024;
			pr->acked = realloc(pr->acked, pr->cap * sizeof *pr->acked);
		}
		a = &pr->acked[pr->nacked++];
		a->partition = (int32_t)cJSON_GetObjectItem(o, "partition")->valuedouble;
		a->offset = (int64_t)cJSON_GetObjectItem(o, "offset")->valuedouble;
		snprintf(a->value, sizeof a->value, "r%d-%ld-%d", pr->round, seq, i++);
		ck_assert_int_eq(a->partition, p);
	}
	ck_assert_int_eq(i, CRASH_PER_REQUEST);
	cJSON_Delete(doc);
}

/* Append with acks=all until told to stop; connection errors (the kill)
 * just end or repeat the attempt, they acknowledge nothing. */
static void *producer_main(void *arg)
{
	producer_t *pr = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
	buf_t body = BUF_INIT, out = BUF_INIT;
	char url[160];
	long status;
	int i;

	while (!atomic_load(&pr->stop)) {
		long seq = pr->seq++;
		int32_t p = (int32_t)(seq % CRASH_PARTITIONS);

		buf_reset(&body);
		buf_reset(&out);
		buf_append_str(&body, "{\"records\":[");
		for (i = 0; i < CRASH_PER_REQUEST; i++)
			buf_appendf(&body, "%s{\"value\":\"r%d-%ld-%d\"}", i ? "," : "", pr->round, seq, i);
		buf_append_str(&body, "]}");
		snprintf(url, sizeof url, "%s/v1/topics/" CRASH_TOPIC "/partitions/%d/records?acks=all",
		         pr->base_url, (int)p);
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
		status = 0;
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			producer_record(pr, p, out.data, seq);
	}
	buf_free(&body);
	buf_free(&out);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return NULL;
}

/* Every record of a partition, by offset (values[o] is offset o's value). */
static char **fetch_all(harness_t *h, int32_t p, int64_t *hw_out)
{
	char path[200];
	char **values = NULL;
	int64_t next = 0, hw = 0;
	http_response_t r;
	cJSON *doc, *rec;

	do {
		snprintf(path, sizeof path, "/v1/topics/" CRASH_TOPIC "/partitions/%d/records"
		         "?offset=%lld&max_records=100000&max_bytes=67108864", (int)p, (long long)next);
		http_get(h, path, &r);
		ck_assert_msg(r.status == 200, "fetch %s: %ld %.300s", path, r.status, r.body.data);
		doc = http_body_json(&r);
		http_response_free(&r);
		hw = (int64_t)cJSON_GetObjectItem(doc, "high_watermark")->valuedouble;
		ck_assert_int_eq((int64_t)cJSON_GetObjectItem(doc, "log_start_offset")->valuedouble, 0);
		if (values == NULL)
			values = calloc((size_t)hw + 1, sizeof *values);
		cJSON_ArrayForEach(rec, cJSON_GetObjectItem(doc, "records")) {
			int64_t o = (int64_t)cJSON_GetObjectItem(rec, "offset")->valuedouble;

			ck_assert_msg(o == next, "partition %d: offset %lld where %lld was expected",
			              (int)p, (long long)o, (long long)next);
			ck_assert_int_lt(o, hw);
			values[o] = strdup(cJSON_GetObjectItem(rec, "value")->valuestring);
			next++;
		}
		ck_assert_int_eq((int64_t)cJSON_GetObjectItem(doc, "next_offset")->valuedouble, next);
		cJSON_Delete(doc);
	} while (next < hw);
	*hw_out = hw;
	return values;
}

static void verify_acked(harness_t *h, producer_t *pr, int round)
{
	char **values[CRASH_PARTITIONS];
	int64_t hw[CRASH_PARTITIONS], o;
	size_t i;
	int32_t p;

	for (p = 0; p < CRASH_PARTITIONS; p++)
		values[p] = fetch_all(h, p, &hw[p]);
	for (i = 0; i < pr->nacked; i++) {
		acked_t *a = &pr->acked[i];

		ck_assert_msg(a->offset < hw[a->partition],
		              "round %d: acknowledged %s at %d/%lld is gone (high watermark %lld)",
		              round, a->value, (int)a->partition, (long long)a->offset,
		              (long long)hw[a->partition]);
		ck_assert_msg(values[a->partition][a->offset] != NULL &&
		              strcmp(values[a->partition][a->offset], a->value) == 0,
		              "round %d: at %d/%lld expected %s, found %s", round, (int)a->partition,
		              (long long)a->offset, a->value,
		              values[a->partition][a->offset] ? values[a->partition][a->offset] : "(none)");
	}
	for (p = 0; p < CRASH_PARTITIONS; p++) {
		for (o = 0; o < hw[p]; o++)
			free(values[p][o]);
		free(values[p]);
	}
}

/* Append garbage to the last segment of a partition: a torn write. */
static void tear_last_segment(harness_t *h, int32_t p, unsigned *seed)
{
	char dir[400], last[300] = "", path[720];
	unsigned char junk[200];
	struct dirent *de;
	DIR *d;
	int fd, n = 1 + (int)(rand_r(seed) % sizeof junk), i;

	snprintf(dir, sizeof dir, "%s/" CRASH_TOPIC "-%d", h->data_dir, (int)p);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".log") == 0 &&
		    strcmp(de->d_name, last) > 0)
			snprintf(last, sizeof last, "%s", de->d_name);
	}
	closedir(d);
	ck_assert_msg(last[0] != '\0', "no segment in %s", dir);
	/* sometimes something that starts like a batch header, else noise */
	for (i = 0; i < n; i++)
		junk[i] = (unsigned char)rand_r(seed);
	if (n > 17 && rand_r(seed) % 2) {
		memset(junk, 0, 12);
		junk[11] = 100;     /* batch_length 100 */
		junk[16] = 2;       /* magic */
	}
	snprintf(path, sizeof path, "%s/%s", dir, last);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, junk, (size_t)n), n);
	close(fd);
}

START_TEST(test_acknowledged_records_survive_kill_9)
{
	harness_t h;
	producer_t pr;
	http_response_t r;
	const char *env;
	unsigned seed = (unsigned)time(NULL);
	int rounds = 20, round, torn = 0;
	char cmd[1200];
	int32_t p;

	if ((env = getenv("STRAND_CRASH_SEED")) != NULL)
		seed = (unsigned)strtoul(env, NULL, 10);
	if ((env = getenv("STRAND_CRASH_ITERATIONS")) != NULL)
		rounds = atoi(env);
	printf("crash test: seed %u, %d rounds\n", seed, rounds);
	memset(&h, 0, sizeof h);
	memset(&pr, 0, sizeof pr);
	ck_assert_int_eq(harness_start(&h), 0);
	http_json(&h, "POST", "/v1/topics", "{\"name\":\"" CRASH_TOPIC "\",\"partitions\":2,"
	          "\"configs\":{\"value_format\":\"string\",\"segment_bytes\":65536}}", &r);
	ck_assert_int_eq(r.status, 201);
	http_response_free(&r);
	for (round = 0; round < rounds; round++) {
		/* produce for 50..550 ms, then kill -9 wherever the broker is */
		snprintf(pr.base_url, sizeof pr.base_url, "%s", h.base_url);
		pr.round = round;
		atomic_store(&pr.stop, 0);
		ck_assert_int_eq(pthread_create(&pr.thread, NULL, producer_main, &pr), 0);
		usleep(50000 + (useconds_t)(rand_r(&seed) % 500) * 1000);
		ck_assert_int_eq(harness_stop(&h, SIGKILL), 128 + SIGKILL);
		atomic_store(&pr.stop, 1);
		pthread_join(pr.thread, NULL);
		if (round % 3 == 1) {
			tear_last_segment(&h, (int32_t)(rand_r(&seed) % CRASH_PARTITIONS), &seed);
			torn++;
		}
		ck_assert_msg(harness_restart(&h) == 0, "restart %d failed: %s", round,
		              harness_log_tail(&h));
		verify_acked(&h, &pr, round);
	}
	printf("crash test: %d kills (%d with a torn tail), %zu acknowledged records all present\n",
	       rounds, torn, pr.nacked);
	ck_assert_uint_gt(pr.nacked, 0);
	ck_assert_int_eq(harness_stop(&h, SIGTERM), 0);
	for (p = 0; p < CRASH_PARTITIONS; p++) {
		snprintf(cmd, sizeof cmd, "\"%s\" log check \"%s/" CRASH_TOPIC "-%d\"",
		         getenv("STRAND_BIN") ? getenv("STRAND_BIN") : "./strand", h.data_dir, (int)p);
		ck_assert_msg(system(cmd) == 0, "%s: not clean", cmd);
	}
	free(pr.acked);
	harness_teardown(&h);
}
END_TEST

static Suite *crash_suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("kill9");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_acknowledged_records_survive_kill_9);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crash_suite());
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
