/*
 * fetcher.c — the follower's fetch loop (fetcher.h): the partition table
 * the role hook fills, one libcurl multi handle driving one request per
 * leader at a time (an epoch_end round while any of the leader's
 * partitions truncates, else a long-polling fetch), and the decoding and
 * applying of the answers.
 *
 * Per partition, the phases (Kafka's PartitionFetchState):
 *   TRUNCATE  new leader or epoch: ask epoch_end, truncate (follower.h),
 *             until a round says done;
 *   FETCH     in the leader's fetch, from the local LEO;
 *   PARKED    the leader refused it (fenced, not leader, unknown epoch,
 *             out of range above its end, storage) or the append failed
 *             (a follower below the leader's log start restarts its log
 *             there instead and goes on fetching): wait for a new
 *             state or a pause (part_park: 10 ms doubling to
 *             FETCHER_PARK_MS), then TRUNCATE again (cheap, and right
 *             whatever changed).
 * Every state change from the hook bumps the partition's generation; an
 * answer to a request built under an older generation is dropped.
 *
 * Locks: f->lock guards the partition table, the leader table and the
 * counters; the thread holds it to build requests (in-memory: the log's
 * LEO and epoch) and releases it around every append and truncation. The
 * role hook takes it briefly. Order: f->lock, then broker/log locks.
 */
#include "cluster/fetcher.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "broker/broker.h"
#include "broker/follower.h"
#include "broker/replica.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "log/log.h"

#define EPOCH_TIMEOUT_MS   5000    /* an epoch_end request */
#define FETCH_SLACK_MS     5000    /* a fetch: the long poll plus this */
#define POLL_MAX_MS        1000    /* the loop looks at the clock at least this often */
#define ANSWER_MAX_SLACK   (1 << 20) /* answer bytes beyond max_bytes (frames, JSON) */

typedef enum phase { PHASE_TRUNCATE, PHASE_FETCH, PHASE_PARKED } phase_t;
typedef enum req_kind { REQ_NONE, REQ_EPOCH, REQ_FETCH } req_kind_t;

/* A partition this broker follows. */
typedef struct fpart {
	char    *topic;
	int32_t  partition;
	int32_t  leader, leader_epoch;
	uint64_t gen;              /* bumped at every state change */
	phase_t  phase;
	int64_t  park_until_ms;
	int      park_ms;          /* the next pause; 0: FETCHER_PARK_MIN_MS */
} fpart_t;

/* One partition of a request in flight: what the answer is matched with. */
typedef struct req_part {
	char    *topic;            /* owned copy */
	int32_t  partition;
	uint64_t gen;
} req_part_t;

/* A leader this broker fetches from. */
typedef struct fleader {
	int32_t     id;
	CURL       *easy;          /* one per leader: keep-alive reuse */
	req_kind_t  busy;          /* the request in flight */
	int         dirty;         /* its partition set changed during a fetch */
	int64_t     retry_at_ms;   /* backoff: no request before */
	int         backoff_ms;
	uint64_t    headers_gen;   /* f->headers_gen when its request in flight started */
	buf_t       body, answer;
	size_t      answer_max;    /* a longer answer is refused (aborted) */
	req_part_t *req;
	size_t      nreq, capreq;
	char        url[FETCHER_URL_MAX + 64];
	char        curl_err[CURL_ERROR_SIZE];
	char        failing[300];  /* why its requests fail, as last logged; "": they work */
} fleader_t;

struct fetcher {
	fetcher_options_t opts;
	struct curl_slist *headers;       /* every request's: JSON in, Expect off, token */
	uint64_t           headers_gen;   /* bumped when a new token's headers take over */
	struct curl_slist *old_headers;   /* the previous ones, until no request in flight
	                                   * started with them (libcurl reads them while it
	                                   * sends); fetcher thread only */
	struct curl_slist *new_headers;   /* fetcher_set_token's, under lock, taken by the
	                                   * thread when old_headers is free */
	char              *ca_file;       /* owned copy of opts.ca_file */
	pthread_mutex_t   lock;
	fpart_t          *parts;
	size_t            nparts, capparts;
	fleader_t       **leaders;
	size_t            nleaders, capleaders;
	uint64_t          gen;
	fetcher_stats_t   stats;
	CURLM            *multi;
	pthread_t         thread;
	atomic_int        stopping;
};

static int64_t now_ms(void)
{
	return clock_now_ms();
}

/* ---- the fetch answer -------------------------------------------------------- */

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int fetch_frame_decode(const uint8_t *buf, size_t len, size_t *pos, fetch_frame_t *out)
{
	const uint8_t *p;
	size_t left, tlen, rlen;

	if (*pos >= len)
		return STRAND_EAGAIN;
	p = buf + *pos;
	left = len - *pos;
	if (left < 2)
		return STRAND_ECORRUPT;
	tlen = (size_t)be(p, 2);
	if (left - 2 < tlen || left - 2 - tlen < FETCH_FRAME_FIXED - 2)
		return STRAND_ECORRUPT;
	out->topic = (const char *)p + 2;
	out->topic_len = tlen;
	p += 2 + tlen;
	out->partition = (int32_t)be(p, 4);
	out->error = (int16_t)be(p + 4, 2);
	out->leader_epoch = (int32_t)be(p + 6, 4);
	out->high_watermark = (int64_t)be(p + 10, 8);
	out->log_start_offset = (int64_t)be(p + 18, 8);
	out->log_end_offset = (int64_t)be(p + 26, 8);
	rlen = (size_t)be(p + 34, 4);
	if (left - 2 - tlen - (FETCH_FRAME_FIXED - 2) < rlen)
		return STRAND_ECORRUPT;
	out->records = p + 38;
	out->records_len = rlen;
	*pos += FETCH_FRAME_FIXED + tlen + rlen;
	return 0;
}

/* ---- tables (f->lock held) ------------------------------------------------------ */

static fpart_t *part_find(fetcher_t *f, const char *topic, int32_t p)
{
	for (size_t i = 0; i < f->nparts; i++)
		if (f->parts[i].partition == p && strcmp(f->parts[i].topic, topic) == 0)
			return &f->parts[i];
	return NULL;
}

static void part_remove(fetcher_t *f, fpart_t *fp)
{
	free(fp->topic);
	*fp = f->parts[--f->nparts];
}

static fleader_t *leader_find(fetcher_t *f, int32_t id)
{
	for (size_t i = 0; i < f->nleaders; i++)
		if (f->leaders[i]->id == id)
			return f->leaders[i];
	return NULL;
}

static void req_clear(fleader_t *l)
{
	for (size_t i = 0; i < l->nreq; i++)
		free(l->req[i].topic);
	l->nreq = 0;
}

static fleader_t *leader_get(fetcher_t *f, int32_t id)
{
	fleader_t *l = leader_find(f, id), **v;

	if (l != NULL)
		return l;
	if (f->nleaders == f->capleaders) {
		size_t cap = f->capleaders ? f->capleaders * 2 : 4;

		v = realloc(f->leaders, cap * sizeof *v);
		if (v == NULL)
			return NULL;
		f->leaders = v;
		f->capleaders = cap;
	}
	l = calloc(1, sizeof *l);
	if (l == NULL || (l->easy = curl_easy_init()) == NULL) {
		free(l);
		return NULL;
	}
	l->id = id;
	l->backoff_ms = FETCHER_BACKOFF_MIN_MS;
	buf_init(&l->body);
	buf_init(&l->answer);
	f->leaders[f->nleaders++] = l;
	return l;
}

static void leader_free(fleader_t *l)
{
	req_clear(l);
	free(l->req);
	buf_free(&l->body);
	buf_free(&l->answer);
	curl_easy_cleanup(l->easy);
	free(l);
}

static int req_push(fleader_t *l, const fpart_t *fp)
{
	if (l->nreq == l->capreq) {
		size_t cap = l->capreq ? l->capreq * 2 : 8;
		req_part_t *v = realloc(l->req, cap * sizeof *v);

		if (v == NULL)
			return STRAND_ENOMEM;
		l->req = v;
		l->capreq = cap;
	}
	l->req[l->nreq].topic = strdup(fp->topic);
	if (l->req[l->nreq].topic == NULL)
		return STRAND_ENOMEM;
	l->req[l->nreq].partition = fp->partition;
	l->req[l->nreq].gen = fp->gen;
	l->nreq++;
	return 0;
}

/* The partition a request entry stood for, if its state is still the one the
 * request was built under and it is in phase `phase`. */
static fpart_t *part_current(fetcher_t *f, const req_part_t *rp, phase_t phase)
{
	fpart_t *fp = part_find(f, rp->topic, rp->partition);

	return fp != NULL && fp->gen == rp->gen && fp->phase == phase ? fp : NULL;
}

/*
 * Pause a partition the leader refused, FETCHER_PARK_MIN_MS the first time
 * and twice as long each time after, up to FETCHER_PARK_MS: a leader whose
 * etcd watch is a few ms behind the follower's (it answers not-leader or
 * an unknown epoch until it applies the same state) is asked again at
 * once, a leader that keeps refusing is not hammered. A fetch that brings
 * records, or a new leader or epoch, starts the pauses over.
 */
static void part_park(fpart_t *fp, int64_t now)
{
	int ms = fp->park_ms > 0 ? fp->park_ms : FETCHER_PARK_MIN_MS;

	fp->phase = PHASE_PARKED;
	fp->park_until_ms = now + ms;
	fp->park_ms = ms * 2 > FETCHER_PARK_MS ? FETCHER_PARK_MS : ms * 2;
}

/* ---- the role hook -------------------------------------------------------------- */

static void leader_mark_dirty(fetcher_t *f, int32_t id)
{
	fleader_t *l = leader_find(f, id);

	if (l != NULL)
		l->dirty = 1;
}

static void on_role(void *ctx, const char *topic, int32_t p, const partition_state_t *st,
                    replica_role_t role)
{
	fetcher_t *f = ctx;
	int follow = role == REPLICA_FOLLOWER && st != NULL && st->leader >= 0 &&
	             st->leader != f->opts.self_id;
	fpart_t *fp;

	pthread_mutex_lock(&f->lock);
	fp = part_find(f, topic, p);
	if (follow && fp == NULL && f->nparts == f->capparts) {
		size_t cap = f->capparts ? f->capparts * 2 : 16;
		fpart_t *v = realloc(f->parts, cap * sizeof *v);

		if (v != NULL) {
			f->parts = v;
			f->capparts = cap;
		}
	}
	if (follow && fp == NULL && f->nparts < f->capparts) {
		fp = &f->parts[f->nparts];
		memset(fp, 0, sizeof *fp);
		fp->topic = strdup(topic);
		if (fp->topic != NULL) {
			fp->partition = p;
			fp->leader = -1;
			f->nparts++;
		} else {
			fp = NULL;
		}
	}
	if (follow && fp != NULL &&
	    (fp->leader != st->leader || fp->leader_epoch != st->leader_epoch ||
	     fp->phase == PHASE_PARKED)) {
		/* KAFKA-7164: truncate after every leader or epoch change */
		if (fp->leader >= 0)
			leader_mark_dirty(f, fp->leader);
		leader_mark_dirty(f, st->leader);
		if (fp->leader != st->leader || fp->leader_epoch != st->leader_epoch)
			fp->park_ms = 0;
		fp->leader = st->leader;
		fp->leader_epoch = st->leader_epoch;
		fp->gen = ++f->gen;
		fp->phase = PHASE_TRUNCATE;
	} else if (!follow && fp != NULL) {
		leader_mark_dirty(f, fp->leader);
		part_remove(f, fp);
	}
	f->stats.partitions = (int)f->nparts;
	pthread_mutex_unlock(&f->lock);
	curl_multi_wakeup(f->multi);
}

/* ---- requests (f->lock held) ---------------------------------------------------- */

static int body_partition(buf_t *b, const fpart_t *fp, int first)
{
	int rc = buf_append_str(b, first ? "{\"topic\":" : ",{\"topic\":");

	if (rc == 0)
		rc = buf_append_json_string(b, fp->topic, strlen(fp->topic));
	if (rc == 0)
		rc = buf_appendf(b, ",\"partition\":%d", (int)fp->partition);
	return rc;
}

/*
 * The leader's next request: epoch_end for its truncating partitions, else
 * a fetch for its fetching ones. Returns the kind, REQ_NONE when there is
 * nothing to ask (or no memory: the next loop tries again).
 */
static req_kind_t build_request(fetcher_t *f, fleader_t *l, int64_t now)
{
	broker_t *b = f->opts.broker;
	req_kind_t kind = REQ_NONE;
	int rc = 0;

	req_clear(l);
	buf_reset(&l->body);
	for (size_t i = 0; i < f->nparts; i++) {
		fpart_t *fp = &f->parts[i];

		if (fp->leader == l->id && fp->phase == PHASE_PARKED && now >= fp->park_until_ms)
			fp->phase = PHASE_TRUNCATE;
		if (fp->leader == l->id && fp->phase == PHASE_TRUNCATE)
			kind = REQ_EPOCH;
		else if (fp->leader == l->id && fp->phase == PHASE_FETCH && kind == REQ_NONE)
			kind = REQ_FETCH;
	}
	if (kind == REQ_NONE)
		return REQ_NONE;
	rc = buf_appendf(&l->body, "{\"broker_id\":%d,", (int)f->opts.self_id);
	if (rc == 0 && kind == REQ_FETCH)
		rc = buf_appendf(&l->body, "\"max_wait_ms\":%d,\"max_bytes\":%d,",
		                 f->opts.max_wait_ms, f->opts.max_bytes);
	if (rc == 0)
		rc = buf_append_str(&l->body, "\"partitions\":[");
	for (size_t i = 0; rc == 0 && i < f->nparts; i++) {
		fpart_t *fp = &f->parts[i];
		topic_t *t;
		log_t *log;

		if (fp->leader != l->id ||
		    fp->phase != (kind == REQ_EPOCH ? PHASE_TRUNCATE : PHASE_FETCH))
			continue;
		t = broker_topic_get(b, fp->topic);
		log = t != NULL ? topic_partition_log(t, fp->partition) : NULL;
		if (log == NULL) {
			/* deleted here: nothing left to follow */
			topic_release(t);
			part_remove(f, fp);
			i--;
			continue;
		}
		rc = body_partition(&l->body, fp, l->nreq == 0);
		if (rc == 0 && kind == REQ_EPOCH)   /* -1: no epoch, the leader answers (-1, -1) */
			rc = buf_appendf(&l->body, ",\"leader_epoch\":%d,\"current_leader_epoch\":%d}",
			                 (int)log_latest_epoch(log), (int)fp->leader_epoch);
		else if (rc == 0)
			rc = buf_appendf(&l->body, ",\"fetch_offset\":%" PRId64 ",\"leader_epoch\":%d}",
			                 log_end_offset(log), (int)fp->leader_epoch);
		topic_release(t);
		if (rc == 0)
			rc = req_push(l, fp);
	}
	if (rc == 0)
		rc = buf_append_str(&l->body, "]}");
	f->stats.partitions = (int)f->nparts;
	if (rc != 0 || l->nreq == 0)
		return REQ_NONE;
	return kind;
}

static size_t answer_write(char *data, size_t size, size_t n, void *ctx)
{
	fleader_t *l = ctx;
	size_t len = size * n;

	if (len > l->answer_max - l->answer.len || buf_append(&l->answer, data, len) != 0)
		return 0;    /* aborts the transfer: CURLE_WRITE_ERROR */
	return len;
}

/* Start l's request (built into l->body). 0, or an error: back off. */
static int start_request(fetcher_t *f, fleader_t *l, req_kind_t kind)
{
	char base[FETCHER_URL_MAX];
	CURL *c = l->easy;
	long timeout;
	int rc;

	rc = f->opts.url_of(f->opts.url_ctx, l->id, base, sizeof base);
	if (rc != 0)
		return rc;
	snprintf(l->url, sizeof l->url, "%s/v1/internal/replica/%s", base,
	         kind == REQ_FETCH ? "fetch" : "epoch_end");
	timeout = kind == REQ_FETCH ? f->opts.max_wait_ms + FETCH_SLACK_MS : EPOCH_TIMEOUT_MS;
	buf_reset(&l->answer);
	l->answer_max = (size_t)f->opts.max_bytes + ANSWER_MAX_SLACK;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, l->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)FETCHER_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, l->body.data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)l->body.len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, answer_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, l);
	curl_easy_setopt(c, CURLOPT_PRIVATE, l);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, f->headers);
	l->headers_gen = f->headers_gen;
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, l->curl_err);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (f->opts.ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, f->opts.ca_file);
	l->curl_err[0] = '\0';
	if (curl_multi_add_handle(f->multi, c) != CURLM_OK)
		return STRAND_EIO;
	l->busy = kind;
	l->dirty = 0;
	return 0;
}

/* ---- answers ------------------------------------------------------------------- */

static int16_t epoch_error_code(const char *name)
{
	static const struct { const char *name; int16_t code; } map[] = {
		{ "NONE", FETCH_ERR_NONE },
		{ "NOT_LEADER", FETCH_ERR_NOT_LEADER },
		{ "FENCED_LEADER_EPOCH", FETCH_ERR_FENCED_LEADER_EPOCH },
		{ "UNKNOWN_LEADER_EPOCH", FETCH_ERR_UNKNOWN_LEADER_EPOCH },
		{ "UNKNOWN_TOPIC_OR_PARTITION", FETCH_ERR_UNKNOWN_TOPIC_OR_PARTITION },
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(name, map[i].name) == 0)
			return map[i].code;
	return FETCH_ERR_STORAGE_ERROR;
}

static int json_int64(const cJSON *obj, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(v))
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

/*
 * One truncation round for rp with the leader's answer, the fetcher's lock
 * released around it. The partition moves to FETCH when done.
 */
static void apply_epoch_answer(fetcher_t *f, const req_part_t *rp, int16_t error,
                               int32_t leader_epoch, int64_t end_offset, int64_t now)
{
	char err[256] = "";
	fpart_t *fp;
	topic_t *t;
	int done = 0, rc;

	if (error != FETCH_ERR_NONE) {
		pthread_mutex_lock(&f->lock);
		if ((fp = part_current(f, rp, PHASE_TRUNCATE)) != NULL)
			part_park(fp, now);
		pthread_mutex_unlock(&f->lock);
		return;
	}
	t = broker_topic_get(f->opts.broker, rp->topic);
	rc = t == NULL ? STRAND_ENOENT
	               : broker_follower_truncation_round(f->opts.broker, t, rp->partition,
	                                                  leader_epoch, end_offset, &done, NULL,
	                                                  err, sizeof err);
	topic_release(t);
	pthread_mutex_lock(&f->lock);
	f->stats.truncations++;
	fp = part_current(f, rp, PHASE_TRUNCATE);
	if (fp != NULL && rc != 0) {
		fprintf(stderr, "strand: fetcher: truncating %s/%d: %s\n", rp->topic,
		        (int)rp->partition, err);
		part_park(fp, now);
	} else if (fp != NULL && done) {
		fp->phase = PHASE_FETCH;
	}
	pthread_mutex_unlock(&f->lock);
}

static int handle_epoch_answer(fetcher_t *f, fleader_t *l, int64_t now)
{
	cJSON *root = cJSON_ParseWithLength(l->answer.data, l->answer.len), *list, *item;
	size_t i = 0;

	list = cJSON_GetObjectItemCaseSensitive(root, "partitions");
	if (!cJSON_IsArray(list) || (size_t)cJSON_GetArraySize(list) != l->nreq) {
		cJSON_Delete(root);
		return STRAND_ECORRUPT;
	}
	cJSON_ArrayForEach(item, list) {
		const req_part_t *rp = &l->req[i++];
		const cJSON *topic = cJSON_GetObjectItemCaseSensitive(item, "topic");
		const cJSON *error = cJSON_GetObjectItemCaseSensitive(item, "error");
		int64_t part, epoch, end;

		if (!cJSON_IsString(topic) || strcmp(topic->valuestring, rp->topic) != 0 ||
		    json_int64(item, "partition", &part) != 0 || part != rp->partition ||
		    !cJSON_IsString(error) || json_int64(item, "leader_epoch", &epoch) != 0 ||
		    json_int64(item, "end_offset", &end) != 0) {
			cJSON_Delete(root);
			return STRAND_ECORRUPT;
		}
		apply_epoch_answer(f, rp, epoch_error_code(error->valuestring), (int32_t)epoch,
		                   end, now);
	}
	cJSON_Delete(root);
	pthread_mutex_lock(&f->lock);
	f->stats.epoch_requests++;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* Count the records of whole batches in buf (appended, so well framed). */
static uint64_t records_in(const uint8_t *buf, size_t len)
{
	uint64_t n = 0;

	for (size_t off = 0; off + 61 <= len;) {
		uint32_t blen = (uint32_t)be(buf + off + 8, 4);

		n += (uint32_t)be(buf + off + 57, 4);
		off += 12 + (size_t)blen;
	}
	return n;
}

/* One frame of a fetch answer for rp. The lock is released around the append. */
static void apply_fetch_frame(fetcher_t *f, const req_part_t *rp, const fetch_frame_t *fr,
                              int64_t now)
{
	char err[256] = "";
	fpart_t *fp;
	topic_t *t;
	int rc, start_past = 0;

	if (fr->error == FETCH_ERR_OFFSET_OUT_OF_RANGE) {
		t = broker_topic_get(f->opts.broker, rp->topic);
		start_past = t != NULL && topic_partition_log(t, rp->partition) != NULL &&
		             fr->log_start_offset >
		             log_end_offset(topic_partition_log(t, rp->partition));
		topic_release(t);
	}

	pthread_mutex_lock(&f->lock);
	fp = part_current(f, rp, PHASE_FETCH);
	/* OFFSET_OUT_OF_RANGE below the leader's log start: restart there
	 * (below); above its end, truncation after the pause finds where */
	if (fp != NULL && fr->error != FETCH_ERR_NONE && !start_past)
		part_park(fp, now);
	pthread_mutex_unlock(&f->lock);
	if (fp == NULL || (fr->error != FETCH_ERR_NONE && !start_past))
		return;

	t = broker_topic_get(f->opts.broker, rp->topic);
	if (t == NULL)
		rc = STRAND_ENOENT;
	else if (start_past)
		rc = broker_follower_restart(f->opts.broker, t, rp->partition,
		                             fr->log_start_offset, err, sizeof err);
	else
		rc = broker_follower_append(f->opts.broker, t, rp->partition, fr->records,
		                            fr->records_len, fr->high_watermark, err, sizeof err);
	topic_release(t);
	pthread_mutex_lock(&f->lock);
	if (rc == 0 && !start_past) {
		f->stats.records += records_in(fr->records, fr->records_len);
		if (fr->records_len > 0 && (fp = part_current(f, rp, PHASE_FETCH)) != NULL)
			fp->park_ms = 0;
	} else if (rc == 0) {
		f->stats.truncations++;
	} else if ((fp = part_current(f, rp, PHASE_FETCH)) != NULL) {
		/* not where the log ends (a leader change raced the fetch), or a
		 * local failure: find the divergence again, after a pause */
		fprintf(stderr, "strand: fetcher: appending to %s/%d: %s\n", rp->topic,
		        (int)rp->partition, err);
		part_park(fp, now);
	}
	pthread_mutex_unlock(&f->lock);
}

static int handle_fetch_answer(fetcher_t *f, fleader_t *l, int64_t now)
{
	const uint8_t *buf = (const uint8_t *)l->answer.data;
	size_t pos = 0, i = 0;
	fetch_frame_t fr;
	int rc;

	while ((rc = fetch_frame_decode(buf, l->answer.len, &pos, &fr)) == 0) {
		const req_part_t *rp;

		if (i == l->nreq)
			return STRAND_ECORRUPT;
		rp = &l->req[i++];
		if (fr.partition != rp->partition || fr.topic_len != strlen(rp->topic) ||
		    memcmp(fr.topic, rp->topic, fr.topic_len) != 0)
			return STRAND_ECORRUPT;
		apply_fetch_frame(f, rp, &fr, now);
	}
	if (rc != STRAND_EAGAIN || i != l->nreq)
		return STRAND_ECORRUPT;
	pthread_mutex_lock(&f->lock);
	f->stats.fetches++;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/*
 * Say on stderr when l's requests start failing, or fail for another
 * reason, and when they work again: a follower that cannot fetch (its CA
 * does not verify the leader, its token is refused) stays out of the ISR,
 * and the operator must be able to see why without a log line per retry.
 */
static void log_outcome(fleader_t *l, req_kind_t kind, CURLcode res, long status, int rc)
{
	char why[sizeof l->failing];

	if (rc == 0) {
		if (l->failing[0] != '\0')
			fprintf(stderr, "strand: fetcher: requests to broker %d work again\n", (int)l->id);
		l->failing[0] = '\0';
		return;
	}
	if (res != CURLE_OK)
		snprintf(why, sizeof why, "%s", l->curl_err[0] ? l->curl_err : curl_easy_strerror(res));
	else if (status == 401 || status == 403)
		snprintf(why, sizeof why, "HTTP %ld: the leader refuses this broker's token "
		         "(--broker-token-file; its principal needs cluster_action on the cluster)",
		         status);
	else if (status != 200)
		snprintf(why, sizeof why, "HTTP %ld", status);
	else
		snprintf(why, sizeof why, "an answer that does not decode");
	if (strcmp(why, l->failing) == 0)
		return;
	snprintf(l->failing, sizeof l->failing, "%s", why);
	fprintf(stderr, "strand: fetcher: %s to broker %d (%s) failed: %s; retrying with backoff\n",
	        kind == REQ_FETCH ? "fetch" : "epoch_end", (int)l->id, l->url, why);
}

/* A finished transfer of l: apply it, or back off. */
static void handle_done(fetcher_t *f, fleader_t *l, CURLcode res, int64_t now)
{
	req_kind_t kind = l->busy;
	long status = 0;
	int rc = STRAND_EIO;

	curl_multi_remove_handle(f->multi, l->easy);
	l->busy = REQ_NONE;
	if (res == CURLE_OK)
		curl_easy_getinfo(l->easy, CURLINFO_RESPONSE_CODE, &status);
	if (res == CURLE_OK && status == 200)
		rc = kind == REQ_FETCH ? handle_fetch_answer(f, l, now)
		                       : handle_epoch_answer(f, l, now);
	log_outcome(l, kind, res, status, rc);
	pthread_mutex_lock(&f->lock);
	if (rc == 0) {
		l->backoff_ms = FETCHER_BACKOFF_MIN_MS;
	} else {
		/* unreachable, refused (404 before the leader has the endpoint,
		 * 401, 503) or a garbled answer: retry later, doubling the pause */
		f->stats.errors++;
		l->retry_at_ms = now + l->backoff_ms;
		l->backoff_ms = l->backoff_ms * 2 > FETCHER_BACKOFF_MAX_MS ? FETCHER_BACKOFF_MAX_MS
		                                                          : l->backoff_ms * 2;
	}
	req_clear(l);
	pthread_mutex_unlock(&f->lock);
}

/* ---- the thread --------------------------------------------------------------------- */

/*
 * Start what can start (lock held): every idle leader past its backoff with
 * something to ask; a long poll whose partition set changed, or whose
 * leader has a partition whose pause is over, is abandoned (its answer
 * would be dropped anyway) so that a new partition or epoch does not wait
 * for it. Drops idle leaders nobody follows. Returns the
 * poll timeout.
 */
static int schedule(fetcher_t *f, int64_t now)
{
	int64_t wait = POLL_MAX_MS;

	/* a pause that is over: its truncation round goes out now, not when
	 * the leader's long poll for the other partitions ends (up to
	 * max_wait_ms later, when they are idle) */
	for (size_t i = 0; i < f->nparts; i++) {
		fpart_t *fp = &f->parts[i];

		if (fp->phase == PHASE_PARKED && now >= fp->park_until_ms)
			leader_mark_dirty(f, fp->leader);
	}
	for (size_t i = 0; i < f->nleaders; i++) {
		fleader_t *l = f->leaders[i];

		if (l->busy == REQ_FETCH && l->dirty) {
			curl_multi_remove_handle(f->multi, l->easy);
			l->busy = REQ_NONE;
			req_clear(l);
		}
	}
	for (size_t i = 0; i < f->nparts; i++) {
		fpart_t *fp = &f->parts[i];

		if (leader_get(f, fp->leader) == NULL)
			continue;    /* no memory: the next round tries again */
		if (fp->phase == PHASE_PARKED && fp->park_until_ms - now < wait)
			wait = fp->park_until_ms - now;
	}
	for (size_t i = 0; i < f->nleaders; i++) {
		fleader_t *l = f->leaders[i];
		req_kind_t kind;
		int followed = 0;

		for (size_t j = 0; j < f->nparts && !followed; j++)
			followed = f->parts[j].leader == l->id;
		if (!followed && l->busy == REQ_NONE) {
			leader_free(l);
			f->leaders[i--] = f->leaders[--f->nleaders];
			continue;
		}
		if (l->busy != REQ_NONE)
			continue;
		if (now < l->retry_at_ms) {
			if (l->retry_at_ms - now < wait)
				wait = l->retry_at_ms - now;
			continue;
		}
		kind = build_request(f, l, now);
		if (kind != REQ_NONE && start_request(f, l, kind) != 0) {
			req_clear(l);
			f->stats.errors++;
			l->retry_at_ms = now + l->backoff_ms;
			if (l->backoff_ms < wait)
				wait = l->backoff_ms;
			l->backoff_ms = l->backoff_ms * 2 > FETCHER_BACKOFF_MAX_MS
			                ? FETCHER_BACKOFF_MAX_MS : l->backoff_ms * 2;
		}
	}
	return wait < 0 ? 0 : (int)wait;
}

/*
 * Fetcher thread, lock held: let a new token's headers take over once the
 * previous ones are no longer read by a request in flight; free old ones
 * when the last request that started with them has finished.
 */
static void headers_rotate(fetcher_t *f)
{
	for (int step = 0; step < 2; step++) {
		if (f->old_headers != NULL) {
			for (size_t i = 0; i < f->nleaders; i++)
				if (f->leaders[i]->busy != REQ_NONE &&
				    f->leaders[i]->headers_gen != f->headers_gen)
					return;   /* still sending with them */
			curl_slist_free_all(f->old_headers);
			f->old_headers = NULL;
		}
		if (f->new_headers == NULL)
			return;
		f->old_headers = f->headers;
		f->headers = f->new_headers;
		f->new_headers = NULL;
		f->headers_gen++;
	}
}

static void *fetcher_main(void *arg)
{
	fetcher_t *f = arg;

	while (!atomic_load(&f->stopping)) {
		int64_t now = now_ms();
		int running = 0, timeout, left;
		CURLMsg *msg;

		pthread_mutex_lock(&f->lock);
		headers_rotate(f);
		timeout = schedule(f, now);
		pthread_mutex_unlock(&f->lock);
		curl_multi_poll(f->multi, NULL, 0, timeout, NULL);
		curl_multi_perform(f->multi, &running);
		now = now_ms();
		while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
			fleader_t *l = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&l);
			if (l != NULL)
				handle_done(f, l, msg->data.result, now);
		}
	}
	return NULL;
}

/* ---- open / close ------------------------------------------------------------------ */

/* The hook for every partition whose state was applied before the fetcher
 * registered (A's meta may apply states before serve opens the fetcher). */
static void replay_states(fetcher_t *f)
{
	char **names = NULL;
	size_t n = 0;

	if (broker_topic_names(f->opts.broker, &names, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		topic_t *t = broker_topic_get(f->opts.broker, names[i]);
		int32_t count = t != NULL ? topic_partition_count(t) : 0;

		for (int32_t p = 0; p < count; p++) {
			partition_state_t st;
			replica_role_t role;

			if (broker_partition_get_state(f->opts.broker, names[i], p, &st, &role) == 0)
				on_role(f, names[i], p, &st, role);
		}
		topic_release(t);
	}
	free(names);
}

/*
 * Every request's headers: JSON in, no 100-continue wait, the token (may
 * be NULL). 0 with *out set (caller frees), STRAND_EINVAL (token too long),
 * STRAND_ENOMEM.
 */
static int headers_build(const char *token, struct curl_slist **out)
{
	struct curl_slist *h, *n;
	char auth[1024];
	int rc = 0;

	*out = NULL;
	h = curl_slist_append(NULL, "Content-Type: application/json");
	n = h != NULL ? curl_slist_append(h, "Expect:") : NULL;
	if (n != NULL && token != NULL) {
		if (snprintf(auth, sizeof auth, "Authorization: Bearer %s", token) >= (int)sizeof auth)
			rc = STRAND_EINVAL;
		else
			n = curl_slist_append(n, auth);
		explicit_bzero(auth, sizeof auth);
	}
	if (rc == 0 && n == NULL)
		rc = STRAND_ENOMEM;
	if (rc != 0) {
		curl_slist_free_all(h);
		return rc;
	}
	*out = n;
	return 0;
}

int fetcher_set_token(fetcher_t *f, const char *token, char *err, size_t errlen)
{
	struct curl_slist *h, *pending;
	int rc;

	if (f == NULL)
		return 0;
	if ((rc = headers_build(token, &h)) != 0)
		return strand_err_set(err, errlen, rc, rc == STRAND_EINVAL ? "fetcher: token too long"
		                                                         : "fetcher: out of memory");
	pthread_mutex_lock(&f->lock);
	pending = f->new_headers;      /* a newer token replaces one not taken yet */
	f->new_headers = h;
	pthread_mutex_unlock(&f->lock);
	curl_slist_free_all(pending);
	curl_multi_wakeup(f->multi);
	return 0;
}

int fetcher_open(const fetcher_options_t *opts, fetcher_t **out, char *err, size_t errlen)
{
	fetcher_t *f;
	int rc = STRAND_ENOMEM;

	*out = NULL;
	if (opts == NULL || opts->broker == NULL || opts->url_of == NULL || opts->self_id < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "fetcher: a broker, its id and a URL lookup are needed");
	if (opts->max_wait_ms < 0 || opts->max_wait_ms > 60000 || opts->max_bytes < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "fetcher: max_wait_ms must be in [0, 60000], max_bytes >= 0");
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "fetcher: out of memory");
	f->opts = *opts;
	f->opts.token = NULL;
	f->opts.ca_file = NULL;
	if (opts->ca_file != NULL && (f->ca_file = strdup(opts->ca_file)) == NULL) {
		free(f);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "fetcher: out of memory");
	}
	f->opts.ca_file = f->ca_file;
	if (f->opts.max_wait_ms == 0)
		f->opts.max_wait_ms = FETCHER_MAX_WAIT_MS_DEFAULT;
	if (f->opts.max_bytes == 0)
		f->opts.max_bytes = FETCHER_MAX_BYTES_DEFAULT;
	pthread_mutex_init(&f->lock, NULL);
	if ((rc = headers_build(opts->token, &f->headers)) == STRAND_EINVAL) {
		strand_err_set(err, errlen, rc, "fetcher: token too long");
		goto fail;
	}
	rc = STRAND_ENOMEM;
	f->multi = curl_multi_init();
	if (f->headers == NULL || f->multi == NULL) {
		strand_err_set(err, errlen, rc, "fetcher: out of memory");
		goto fail;
	}
	if (pthread_create(&f->thread, NULL, fetcher_main, f) != 0) {
		rc = strand_err_set(err, errlen, STRAND_EIO, "fetcher: thread: %s", strerror(errno));
		goto fail;
	}
	broker_set_role_hook(f->opts.broker, on_role, f);
	replay_states(f);
	*out = f;
	return 0;
fail:
	if (f->multi != NULL)
		curl_multi_cleanup(f->multi);
	curl_slist_free_all(f->headers);
	pthread_mutex_destroy(&f->lock);
	free(f->ca_file);
	free(f);
	return rc;
}

void fetcher_stop(fetcher_t *f)
{
	if (f == NULL || atomic_exchange(&f->stopping, 1))
		return;
	broker_set_role_hook(f->opts.broker, NULL, NULL);
	curl_multi_wakeup(f->multi);
	pthread_join(f->thread, NULL);
}

void fetcher_close(fetcher_t *f)
{
	if (f == NULL)
		return;
	fetcher_stop(f);
	for (size_t i = 0; i < f->nleaders; i++) {
		if (f->leaders[i]->busy != REQ_NONE)
			curl_multi_remove_handle(f->multi, f->leaders[i]->easy);
		leader_free(f->leaders[i]);
	}
	free(f->leaders);
	for (size_t i = 0; i < f->nparts; i++)
		free(f->parts[i].topic);
	free(f->parts);
	curl_multi_cleanup(f->multi);
	curl_slist_free_all(f->headers);
	curl_slist_free_all(f->old_headers);
	curl_slist_free_all(f->new_headers);
	pthread_mutex_destroy(&f->lock);
	free(f->ca_file);
	free(f);
}

void fetcher_stats(fetcher_t *f, fetcher_stats_t *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->stats;
	out->partitions = (int)f->nparts;
	pthread_mutex_unlock(&f->lock);
}
