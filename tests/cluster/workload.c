/*
 * workload.c — producer and consumer threads of the fault tests
 * (workload.h), and the reader of a stopped replica's log.
 */
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"
#include "tests/cluster/workload.h"

#define WL_MAX_RECORDS     100
#define WL_CLIENT_SLACK_MS 3000    /* the client waits timeout_ms + this */
#define WL_BACKOFF_MS      20      /* after an error: Kafka's retry.backoff.ms, shortened */
#define WL_POLL_WAIT_MS    200     /* a consumer's long poll */
#define WL_POLL_RECORDS    1000
#define WL_NOT_SENT        (-1)   /* wl_request: connection refused */
#define WL_VALUE_STRIDE    1000000000LL   /* value = (thread + 1) * stride + sequence */

typedef struct wl_thread {
	struct workload *w;
	pthread_t  thread;
	int        index;          /* producer proc number, or consumer number */
	int        started;
	history_t *h;
	CURL      *curl;
	int        target[HISTORY_MAX_PARTITIONS];   /* broker to ask next, per partition */
	int64_t    pos[HISTORY_MAX_PARTITIONS];   /* consumers: next offset */
} wl_thread_t;

struct workload {
	tcluster_t        *c;
	workload_options_t o;
	char               topic[256];
	pthread_mutex_t    lock;
	int                stop_producers, stop_consumers;
	int64_t            goal[HISTORY_MAX_PARTITIONS];   /* consumers read up to here, then stop; -1 */
	workload_stats_t   stats;
	int64_t            mark_ms, mark_acked_ms;   /* workload_mark; -1: none yet */
	wl_thread_t        producers[WORKLOAD_MAX_THREADS], consumers[WORKLOAD_MAX_THREADS];
};

static void wl_count(struct workload *w, int64_t *field, int64_t n)
{
	pthread_mutex_lock(&w->lock);
	*field += n;
	pthread_mutex_unlock(&w->lock);
}

static int wl_flag(struct workload *w, const int *flag)
{
	int v;

	pthread_mutex_lock(&w->lock);
	v = *flag;
	pthread_mutex_unlock(&w->lock);
	return v;
}

static size_t wl_on_body(char *p, size_t size, size_t n, void *ud)
{
	return buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

/* The next running broker after `from` (ids wrap), or `from`. */
static int wl_next_broker(struct workload *w, int from)
{
	int n = tcluster_brokers(w->c), i;

	for (i = 1; i <= n; i++) {
		int id = (from - 1 + i) % n + 1;

		if (tcluster_running(w->c, id))
			return id;
	}
	return from;
}

/* The broker whose URL (direct or advertised relay) is url; 0 when unknown. */
static int wl_broker_of_url(struct workload *w, const char *url)
{
	int n = tcluster_brokers(w->c), id;

	for (id = 1; id <= n; id++)
		if (tcluster_advertises(w->c, id, url))
			return id;
	return 0;
}

/* One request with the thread's keep-alive handle. Returns the status, 0 on
 * no answer, WL_NOT_SENT when no connection could be made (nothing reached
 * a broker: a definite failure); body gets the answer. */
static long wl_request(wl_thread_t *t, const char *url, const char *post, size_t postlen,
                       int timeout_ms, buf_t *body)
{
	struct curl_slist *hl = NULL;
	long status = 0;
	CURLcode cc;

	buf_reset(body);
	curl_easy_reset(t->curl);
	curl_easy_setopt(t->curl, CURLOPT_URL, url);
	curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, wl_on_body);
	curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, body);
	if (post != NULL) {
		/* a fresh connection per send: libcurl sends a request again by
		 * itself when a reused connection turns out dead, which for a
		 * produce that reached a broker just before it died would be a
		 * retry this workload promises not to make (and a connection
		 * refused would no longer mean "never sent") */
		curl_easy_setopt(t->curl, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(t->curl, CURLOPT_FORBID_REUSE, 1L);
		hl = curl_slist_append(hl, "Content-Type: application/json");
		curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)postlen);
	}
	if (post == NULL || t->w->o.direct)
		hl = curl_slist_append(hl, "Strand-Route: direct");
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, hl);
	cc = curl_easy_perform(t->curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
	else if (cc == CURLE_COULDNT_CONNECT)
		status = WL_NOT_SENT;
	curl_slist_free_all(hl);
	return status;
}

/* After a 421 from broker `from`: the leader it names, else the next broker. */
static int wl_redirect(wl_thread_t *t, int from, const cJSON *doc)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "leader_url");
	int id = cJSON_IsString(u) ? wl_broker_of_url(t->w, u->valuestring) : 0;

	return id > 0 ? id : wl_next_broker(t->w, from);
}

static const char *wl_problem_code(const cJSON *doc)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "code");

	return cJSON_IsString(c) ? c->valuestring : "";
}

/* ---- producers ----------------------------------------------------------- */

static void wl_produce_once(wl_thread_t *t, int32_t p, int64_t *seq, buf_t *body)
{
	struct workload *w = t->w;
	int n = w->o.records_per_request, i;
	int64_t values[WL_MAX_RECORDS];
	char post[WL_MAX_RECORDS * 40 + 32], url[512];
	size_t len = 0;
	long status;
	cJSON *doc = NULL;
	history_outcome_t outcome;
	int64_t started;

	len += (size_t)snprintf(post + len, sizeof post - len, "{\"records\":[");
	for (i = 0; i < n; i++) {
		values[i] = (int64_t)(t->index + 1) * WL_VALUE_STRIDE + ++*seq;
		len += (size_t)snprintf(post + len, sizeof post - len, "%s{\"value\":%" PRId64 "}",
		                        i ? "," : "", values[i]);
	}
	len += (size_t)snprintf(post + len, sizeof post - len, "]}");
	snprintf(url, sizeof url, "%s/v1/topics/%s/partitions/%d/records?acks=all&timeout_ms=%d",
	         tcluster_url(w->c, t->target[p]), w->topic, (int)p, w->o.timeout_ms);
	started = clock_now_ms();
	status = wl_request(t, url, post, len, w->o.timeout_ms + WL_CLIENT_SLACK_MS, body);
	if (status != 0 && body->len > 0)
		doc = cJSON_ParseWithLength(body->data, body->len);
	if (status == 200) {
		pthread_mutex_lock(&w->lock);
		if (w->mark_acked_ms < 0 && started >= w->mark_ms)
			w->mark_acked_ms = clock_now_ms();
		pthread_mutex_unlock(&w->lock);
		const cJSON *offs = cJSON_GetObjectItemCaseSensitive(doc, "offsets");

		if (cJSON_GetArraySize(offs) != n) {
			/* an answer the contract does not allow: record nothing as acked */
			fprintf(stderr, "workload: 200 with %d offsets for %d records: %.*s\n",
			        cJSON_GetArraySize(offs), n, (int)body->len, body->data);
			for (i = 0; i < n; i++)
				history_send(t->h, t->index, p, values[i], HISTORY_UNKNOWN, -1);
			wl_count(w, &w->stats.unknown, n);
		} else {
			for (i = 0; i < n; i++) {
				const cJSON *o = cJSON_GetArrayItem(offs, i);
				const cJSON *off = cJSON_GetObjectItemCaseSensitive(o, "offset");

				history_send(t->h, t->index, p, values[i], HISTORY_ACKED,
				             cJSON_IsNumber(off) ? (int64_t)off->valuedouble : -1);
			}
			wl_count(w, &w->stats.acked, n);
		}
		cJSON_Delete(doc);
		return;
	}
	outcome = (status >= 400 && status < 500) || status == WL_NOT_SENT ? HISTORY_FAILED
	                                                                  : HISTORY_UNKNOWN;
	for (i = 0; i < n; i++)
		history_send(t->h, t->index, p, values[i], outcome, -1);
	wl_count(w, outcome == HISTORY_FAILED ? &w->stats.failed : &w->stats.unknown, n);
	if (status == 421) {
		int was = t->target[p];

		wl_count(w, &w->stats.status_421, 1);
		t->target[p] = wl_redirect(t, was, doc);
		if (t->target[p] == was)
			clock_sleep_ms(WL_BACKOFF_MS);   /* no better idea: a client refreshes metadata */
	} else {
		if (status == 503)
			wl_count(w, &w->stats.status_503, 1);
		if (status <= 0 ||
		    (status >= 500 && strcmp(wl_problem_code(doc), "NOT_ENOUGH_REPLICAS") != 0))
			t->target[p] = wl_next_broker(w, t->target[p]);
		clock_sleep_ms(WL_BACKOFF_MS);
	}
	cJSON_Delete(doc);
}

static void *wl_producer_main(void *arg)
{
	wl_thread_t *t = arg;
	struct workload *w = t->w;
	buf_t body = BUF_INIT;
	int64_t seq = 0, round = 0;

	while (!wl_flag(w, &w->stop_producers))
		wl_produce_once(t, (int32_t)((t->index + round++) % w->o.partitions), &seq, &body);
	buf_free(&body);
	return NULL;
}

/* ---- consumers ----------------------------------------------------------- */

/* One poll of partition p from t->pos[p]; records it. */
static void wl_poll_once(wl_thread_t *t, int32_t p, buf_t *body)
{
	struct workload *w = t->w;
	char url[512];
	long status;
	cJSON *doc = NULL, *r;
	int64_t offs[WL_POLL_RECORDS], vals[WL_POLL_RECORDS];
	size_t n = 0;

	snprintf(url, sizeof url, "%s/v1/topics/%s/partitions/%d/records?offset=%" PRId64
	         "&max_records=%d&max_wait_ms=%d", tcluster_url(w->c, t->target[p]), w->topic, (int)p,
	         t->pos[p], WL_POLL_RECORDS, WL_POLL_WAIT_MS);
	status = wl_request(t, url, NULL, 0, WL_POLL_WAIT_MS + WL_CLIENT_SLACK_MS, body);
	if (status != 0 && body->len > 0)
		doc = cJSON_ParseWithLength(body->data, body->len);
	if (status == 200) {
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "records")) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, "offset");
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "value");

			if (n == WL_POLL_RECORDS || !cJSON_IsNumber(o))
				break;
			offs[n] = (int64_t)o->valuedouble;
			vals[n] = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;  /* -1: phantom */
			n++;
		}
		const cJSON *hw = cJSON_GetObjectItemCaseSensitive(doc, "high_watermark");

		history_poll(t->h, t->index, p, t->pos[p], n, offs, vals, t->target[p],
		             cJSON_IsNumber(hw) ? (int64_t)hw->valuedouble : -1);
		if (n > 0)
			t->pos[p] = offs[n - 1] + 1;
		else
			/* nothing new here: the end of the log, or a broker that
			 * answers for a partition it does not lead (a follower below
			 * its own high watermark, a broker that is no replica):
			 * try the next one */
			t->target[p] = wl_next_broker(w, t->target[p]);
		wl_count(w, &w->stats.polled, (int64_t)n);
	} else if (status == 421) {
		int was = t->target[p];

		t->target[p] = wl_redirect(t, was, doc);
		if (t->target[p] == was)
			clock_sleep_ms(WL_BACKOFF_MS);
	} else {
		/* 416 (a follower that is behind, a broker that is no replica),
		 * 503, no answer: ask another broker */
		t->target[p] = wl_next_broker(w, t->target[p]);
		clock_sleep_ms(WL_BACKOFF_MS);
	}
	cJSON_Delete(doc);
}

static int wl_consumer_done(wl_thread_t *t)
{
	struct workload *w = t->w;
	int done = 1, p;

	pthread_mutex_lock(&w->lock);
	if (!w->stop_consumers) {
		for (p = 0; p < w->o.partitions; p++)
			if (w->goal[p] < 0 || t->pos[p] < w->goal[p])
				done = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return done;
}

static void *wl_consumer_main(void *arg)
{
	wl_thread_t *t = arg;
	struct workload *w = t->w;
	buf_t body = BUF_INIT;
	int32_t p = 0;

	while (!wl_consumer_done(t)) {
		wl_poll_once(t, p, &body);
		p = (p + 1) % w->o.partitions;
	}
	buf_free(&body);
	return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

int workload_start(tcluster_t *c, const workload_options_t *o, workload_t **out)
{
	struct workload *w;
	int i, p;

	*out = NULL;
	if (o->topic == NULL || o->partitions < 1 || o->partitions > HISTORY_MAX_PARTITIONS ||
	    o->producers < 0 || o->producers > WORKLOAD_MAX_THREADS || o->consumers < 0 ||
	    o->consumers > WORKLOAD_MAX_THREADS || o->records_per_request < 0 ||
	    o->records_per_request > WL_MAX_RECORDS)
		return STRAND_EINVAL;
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return STRAND_ENOMEM;
	w->c = c;
	w->o = *o;
	if (w->o.records_per_request == 0)
		w->o.records_per_request = 1;
	if (w->o.timeout_ms <= 0)
		w->o.timeout_ms = 5000;
	snprintf(w->topic, sizeof w->topic, "%s", o->topic);
	w->o.topic = w->topic;
	pthread_mutex_init(&w->lock, NULL);
	w->mark_ms = 0;
	w->mark_acked_ms = 0;
	for (p = 0; p < HISTORY_MAX_PARTITIONS; p++)
		w->goal[p] = -1;
	for (i = 0; i < o->producers + o->consumers; i++) {
		int producer = i < o->producers;
		wl_thread_t *t = producer ? &w->producers[i] : &w->consumers[i - o->producers];

		t->w = w;
		t->index = producer ? i : i - o->producers;
		t->h = history_new();
		t->curl = curl_easy_init();
		for (p = 0; p < o->partitions; p++)
			t->target[p] = wl_next_broker(w, (i + p) % tcluster_brokers(c));
		if (t->h == NULL || t->curl == NULL)
			goto fail;
		if (pthread_create(&t->thread, NULL, producer ? wl_producer_main : wl_consumer_main, t))
			goto fail;
		t->started = 1;
	}
	*out = w;
	return 0;
fail:
	workload_stop(w, NULL, 0);
	return STRAND_ENOMEM;
}

void workload_stats(workload_t *w, workload_stats_t *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}

int workload_wait_acked(workload_t *w, int64_t more, int deadline_ms)
{
	int64_t end = clock_now_ms() + deadline_ms;
	workload_stats_t s;
	int64_t goal;

	workload_stats(w, &s);
	goal = s.acked + more;
	for (;;) {
		workload_stats(w, &s);
		if (s.acked >= goal)
			return 0;
		if (clock_now_ms() >= end)
			return STRAND_ETIMEDOUT;
		clock_sleep_ms(10);
	}
}

void workload_mark(workload_t *w)
{
	pthread_mutex_lock(&w->lock);
	w->mark_ms = clock_now_ms();
	w->mark_acked_ms = -1;
	pthread_mutex_unlock(&w->lock);
}

int64_t workload_wait_mark_acked(workload_t *w, int deadline_ms)
{
	int64_t end = clock_now_ms() + deadline_ms, at, mark;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		at = w->mark_acked_ms;
		mark = w->mark_ms;
		pthread_mutex_unlock(&w->lock);
		if (at >= 0)
			return at - mark;
		if (clock_now_ms() >= end)
			return -1;
		clock_sleep_ms(5);
	}
}

/* The partitions' high watermarks now, from any broker that answers. */
static void wl_set_goals(struct workload *w)
{
	int p, id;

	for (p = 0; p < w->o.partitions; p++) {
		int64_t hw = -1;

		for (id = 1; id <= tcluster_brokers(w->c) && hw < 0; id++) {
			tcluster_partition_t st;

			if (tcluster_running(w->c, id) && !tcluster_paused(w->c, id) &&
			    tcluster_partition(w->c, id, w->topic, p, &st) == 0 && st.leader == id)
				hw = st.high_watermark;
		}
		pthread_mutex_lock(&w->lock);
		w->goal[p] = hw < 0 ? 0 : hw;
		pthread_mutex_unlock(&w->lock);
	}
}

static void wl_join(wl_thread_t *t, history_t *into, int *rc)
{
	if (t->started)
		pthread_join(t->thread, NULL);
	t->started = 0;
	if (into != NULL && t->h != NULL && history_merge(into, t->h) != 0)
		*rc = STRAND_ENOMEM;
	history_free(t->h);
	t->h = NULL;
	if (t->curl != NULL)
		curl_easy_cleanup(t->curl);
	t->curl = NULL;
}

int workload_stop(workload_t *w, history_t *into, int deadline_ms)
{
	int64_t end = clock_now_ms() + deadline_ms;
	int i, rc = 0, all_done;

	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->lock);
	w->stop_producers = 1;
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < WORKLOAD_MAX_THREADS; i++)
		wl_join(&w->producers[i], into, &rc);
	wl_set_goals(w);
	/* let the consumers catch up to the goals, within the deadline */
	do {
		all_done = 1;
		for (i = 0; i < w->o.consumers; i++)
			if (w->consumers[i].started && !wl_consumer_done(&w->consumers[i]))
				all_done = 0;
		if (all_done)
			break;
		clock_sleep_ms(10);
	} while (clock_now_ms() < end);
	if (!all_done && rc == 0)
		rc = STRAND_ETIMEDOUT;
	pthread_mutex_lock(&w->lock);
	w->stop_consumers = 1;
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < WORKLOAD_MAX_THREADS; i++)
		wl_join(&w->consumers[i], into, &rc);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return rc;
}

/* ---- a stopped replica's log ------------------------------------------- */

/* The values of a batch's records, as the workload wrote them (JSON numbers);
 * -1 for a record that is not one (a phantom to the checker). */
static int wl_batch_values(const uint8_t *batch, size_t len, int64_t *values, int32_t count)
{
	batch_iter_t it;
	batch_record_t rec;
	int32_t i = 0;
	int rc = batch_iter_init(&it, batch, len);

	while (rc == 0 && (rc = batch_iter_next(&it, &rec)) == 1 && i < count) {
		char text[32];
		char *end = NULL;

		values[i] = -1;
		if (rec.value_len > 0 && (size_t)rec.value_len < sizeof text) {
			memcpy(text, rec.value, (size_t)rec.value_len);
			text[rec.value_len] = '\0';
			values[i] = strtoll(text, &end, 10);
			if (end == NULL || *end != '\0' || values[i] <= 0)
				values[i] = -1;
		}
		i++;
		rc = 0;
	}
	return rc < 0 ? rc : (i == count ? 0 : STRAND_ECORRUPT);
}

int workload_read_replica(tcluster_t *c, int id, const char *topic, int32_t p, int64_t hw,
                          history_t *h, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	log_config_t cfg;
	log_t *log = NULL;
	int64_t off;
	uint8_t *buf = NULL;
	int64_t *values = NULL;
	int rc;

	if (tcluster_running(c, id))
		return strand_err_set(err, errlen, STRAND_EINVAL, "broker %d still runs", id);
	snprintf(dir, sizeof dir, "%s/%s-%d", tcluster_data_dir(c, id), topic, (int)p);
	log_config_default(&cfg);
	rc = log_open(dir, &cfg, &log, err, errlen);
	if (rc)
		return rc;
	rc = history_replica(h, id, p, hw);
	off = log_start_offset(log);
	while (rc == 0 && off < hw) {
		log_slice_t s;
		size_t pos = 0;

		rc = log_read(log, off, 1 << 20, hw, &s, err, errlen);
		if (rc || s.len == 0) {
			log_slice_release(&s);
			break;
		}
		buf = realloc(buf, s.len);
		if (buf == NULL || pread(s.fd, buf, s.len, s.pos) != (ssize_t)s.len) {
			log_slice_release(&s);
			rc = strand_err_set(err, errlen, STRAND_EIO, "broker %d %s-%d: short read", id,
			                    topic, (int)p);
			break;
		}
		while (rc == 0 && pos < s.len) {
			batch_header_t bh;
			size_t size;

			rc = batch_header_decode(buf + pos, s.len - pos, 0, &bh, err, errlen);
			if (rc)
				break;
			size = batch_total_size(&bh);
			values = realloc(values, ((size_t)bh.record_count + 1) * sizeof *values);
			if (values == NULL) {
				rc = STRAND_ENOMEM;
				break;
			}
			rc = wl_batch_values(buf + pos, size, values, bh.record_count);
			if (rc == 0 && bh.record_count > 0)
				rc = history_replica_batch(h, id, p, hw, bh.base_offset, batch_last_offset(&bh),
				                           history_digest(HISTORY_DIGEST_INIT, buf + pos, size),
				                           values);
			pos += size;
		}
		off = s.next_offset;
		log_slice_release(&s);
	}
	free(buf);
	free(values);
	log_close(log);
	return rc;
}
