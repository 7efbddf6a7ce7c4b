/*
 * fetch.c — GET /v1/topics/{topic}/partitions/{p}/records (JSON, binary
 * batches by sendfile, or a Server-Sent Events tail) with long polling, and
 * GET /v1/topics/{topic}/partitions/{p}/offsets (API.md "Fetch").
 *
 * Long poll (Kafka's fetch.min.bytes / fetch.max.wait.ms): when fewer than
 * min_bytes are available, the request registers a waiter in the parking
 * registry (api/parking.h) and suspends its connection; the append hook or
 * the registry's timer resumes it, and on_resume answers with what is
 * there or parks again. The check and the suspension happen under the
 * registry's lock (fetch_arm), so an append cannot slip between them.
 * The topic handle is held only while a callback runs, never while parked.
 *
 * SSE: a chunked callback response whose reader sends the records it finds
 * and, when there are none, parks the same way (the reader suspends and
 * returns 0; MHD calls it again after the resume). The waiter's deadline is
 * the next keep-alive comment (every 15 s), which is also how a client gone
 * away is noticed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/fetch.h"
#include "api/handlers.h"
#include "api/metrics.h"
#include "api/parking.h"
#include "api/records.h"
#include "common/err.h"

#define FETCH_DEFAULT_MAX_RECORDS 500
#define FETCH_MAX_MAX_RECORDS     100000
#define FETCH_DEFAULT_MAX_BYTES   (1024 * 1024)     /* Kafka's max.partition.fetch.bytes */
#define FETCH_SSE_KEEPALIVE_MS    15000
#define FETCH_SSE_READ_BYTES      (256 * 1024)      /* log bytes per SSE fill */

typedef enum fetch_mode { FETCH_JSON, FETCH_BINARY, FETCH_SSE } fetch_mode_t;

typedef struct fetch_ctx {
	api_request_t   *req;
	parking_t       *pk;
	parking_waiter_t waiter;
	fetch_mode_t     mode;
	topic_t         *topic;         /* held while a callback runs only */
	record_format_t  key_format, value_format;
	int              base64;          /* encoding=base64: keys and values always base64 */
	int64_t          offset;        /* next offset to hand out */
	int64_t          max_records, max_bytes, min_bytes;
	int64_t          max_wait_ms;
	int64_t          deadline_ms;   /* long poll end (parking clock) */
	int64_t          wait_hw;       /* fetch_arm: ready once hw > wait_hw */
	buf_t            raw;           /* batches read from the log; reused */
	buf_t            out;           /* SSE: bytes not yet handed to MHD */
	size_t           out_pos;
	int64_t          keepalive_ms;  /* SSE: next keep-alive comment due */
} fetch_ctx_t;

/* ---- request state ----------------------------------------------------- */

static void fetch_cleanup(api_request_t *req)
{
	fetch_ctx_t *c = req->ctx;

	if (c == NULL)
		return;
	/* after this no wake can touch req (parking.h: wake runs under the lock) */
	if (c->pk != NULL)
		parking_cancel(c->pk, &c->waiter);
	if (c->mode == FETCH_SSE)
		api_sse_release(req);
	topic_release(c->topic);
	buf_free(&c->raw);
	buf_free(&c->out);
	free(c);
	req->ctx = NULL;
}

/* (Re)take the topic handle; 404 answered when it is gone. */
static int fetch_hold_topic(fetch_ctx_t *c)
{
	api_request_t *req = c->req;
	topic_config_t cfg;

	if (c->topic != NULL)
		return 0;
	c->topic = broker_topic_get(req->broker, req->topic);
	if (c->topic == NULL)
		return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_TOPIC, NULL, NULL);
	if (req->partition >= topic_partition_count(c->topic)) {
		snprintf(req->err, sizeof req->err, "topic %s has no partition %d (it has %d)",
		         req->topic, (int)req->partition, (int)topic_partition_count(c->topic));
		return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_PARTITION, req->err, NULL);
	}
	topic_get_config(c->topic, &cfg);
	c->key_format = c->base64 ? RECORD_FORMAT_BINARY : cfg.key_format;
	c->value_format = c->base64 ? RECORD_FORMAT_BINARY : cfg.value_format;
	return 0;
}

static void fetch_drop_topic(fetch_ctx_t *c)
{
	topic_release(c->topic);
	c->topic = NULL;
}

/* 416 with the bounds a consumer needs to reset its position. */
static int fetch_respond_out_of_range(fetch_ctx_t *c, int64_t offset)
{
	api_request_t *req = c->req;
	log_t *log = topic_partition_log(c->topic, req->partition);
	int64_t lso = log_start_offset(log), leo = log_end_offset(log);
	cJSON *extra = cJSON_CreateObject();

	snprintf(req->err, sizeof req->err, "offset %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]",
	         offset, lso, leo);
	if (extra != NULL) {
		cJSON_AddNumberToObject(extra, "log_start_offset", (double)lso);
		cJSON_AddNumberToObject(extra, "high_watermark",
		                        (double)topic_partition_hw(c->topic, req->partition));
		cJSON_AddNumberToObject(extra, "log_end_offset", (double)leo);
	}
	return api_respond_problem(req, 416, API_PROBLEM_OFFSET_OUT_OF_RANGE, req->err, extra);
}

/* Read a slice's bytes into raw (one pread per slice, not per record). */
static int fetch_read_slice(buf_t *raw, const log_slice_t *s, char *err, size_t errlen)
{
	size_t got = 0;
	ssize_t n;

	buf_reset(raw);
	if (buf_reserve(raw, s->len) != 0)
		return STRAND_ENOMEM;
	while (got < s->len) {
		n = pread(s->fd, raw->data + got, s->len - got, s->pos + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return strand_err_set(err, errlen, STRAND_EIO,
			                      "reading the log: %s", strerror(errno));
		if (n == 0)
			break;   /* truncated meanwhile: the view stops at the last whole batch */
		got += (size_t)n;
	}
	raw->len = got;
	return 0;
}

/*
 * See fetch.h. Slices are read across segments until max_records or
 * max_bytes (of stored batches) is reached or the high watermark.
 * Hot path: one pread per slice, records rendered into one buffer.
 */
int fetch_json_append(buf_t *out, buf_t *raw, log_t *log, int64_t hw, const char *tag,
                      record_format_t key_format, record_format_t value_format,
                      int64_t max_records, int64_t max_bytes, int64_t *next, size_t *count,
                      int64_t *bytes, char *err, size_t errlen)
{
	size_t first = *count, before, slice_len;
	int64_t slice_next;
	log_slice_t s;
	int rc = 0;

	while ((int64_t)*count < max_records && *next < hw && *bytes < max_bytes) {
		rc = log_read(log, *next, (size_t)(max_bytes - *bytes), hw, &s, err, errlen);
		if (rc == STRAND_ERANGE && *count == first)
			return rc;
		if (rc == STRAND_ERANGE) {   /* retention moved under us: answer what we have */
			rc = 0;
			break;
		}
		if (rc || s.len == 0)
			break;
		slice_len = s.len;
		slice_next = s.next_offset;
		rc = fetch_read_slice(raw, &s, err, errlen);
		log_slice_release(&s);
		if (rc)
			break;
		before = *count;
		rc = records_json_append_tagged(out, tag, (const uint8_t *)raw->data, raw->len, *next,
		                                hw, (size_t)(max_records - (int64_t)*count),
		                                key_format, value_format, count, next);
		*bytes += (int64_t)slice_len;
		if (rc == 0 && (int64_t)*count < max_records && *next < slice_next)
			*next = slice_next;   /* the slice's tail held nothing more for us */
		if (rc == 0 && *count == before && *next < slice_next)
			break;
	}
	return rc;
}

/* ---- long polls --------------------------------------------------------- */

/* Are at least min_bytes of batches available past c->offset (below hw)? */
static int fetch_has_min_bytes(fetch_ctx_t *c, log_t *log, int64_t hw)
{
	int64_t pos = c->offset, sum = 0;
	log_slice_t s;

	if (hw <= c->offset)
		return c->min_bytes == 0;
	if (c->min_bytes <= 1)
		return 1;
	while (pos < hw && sum < c->min_bytes) {
		if (log_read(log, pos, (size_t)(c->min_bytes - sum), hw, &s, NULL, 0) != 0 ||
		    s.len == 0)
			return 1;   /* let the answer path see the error or the end */
		sum += (int64_t)s.len;
		pos = s.next_offset;
		log_slice_release(&s);
	}
	return sum >= c->min_bytes;
}

/* Under the registry lock: data arrived since the check, or suspend. */
static int fetch_arm(void *ctx)
{
	fetch_ctx_t *c = ctx;

	if (topic_partition_hw(c->topic, c->req->partition) > c->wait_hw)
		return 1;
	return api_suspend(c->req);
}

/* Under the registry lock, on the appending or timer thread. */
static void fetch_wake(void *ctx, parking_reason_t why)
{
	fetch_ctx_t *c = ctx;

	(void)why;
	api_resume(c->req);
}

/* ---- answers ------------------------------------------------------------ */

static int fetch_add_offset_header(api_request_t *req, const char *name, int64_t v)
{
	char text[24];

	snprintf(text, sizeof text, "%" PRId64, v);
	return api_add_header(req, name, text);
}

/* The stored batches, zero copy (sendfile): one slice of one segment. */
static int fetch_respond_binary(fetch_ctx_t *c, log_t *log, int64_t hw)
{
	api_request_t *req = c->req;
	log_slice_t s;
	int64_t next;
	int rc;

	rc = log_read(log, c->offset, (size_t)c->max_bytes, hw, &s, req->err, sizeof req->err);
	if (rc == STRAND_ERANGE)
		return fetch_respond_out_of_range(c, c->offset);
	if (rc)
		return rc;
	next = s.len ? s.next_offset : c->offset;
	rc = fetch_add_offset_header(req, "Strand-Next-Offset", next);
	rc = rc ? rc : fetch_add_offset_header(req, "Strand-High-Watermark", hw);
	rc = rc ? rc : fetch_add_offset_header(req, "Strand-Log-Start-Offset", log_start_offset(log));
	if (rc) {
		log_slice_release(&s);
		return rc;
	}
	if (next > c->offset)
		api_metrics_add_records_fetched(req->api, (uint64_t)(next - c->offset));
	/* Hot path: the fd goes to MHD, which sends the range with sendfile. */
	return api_respond_fd(req, 200, "application/vnd.strand.batch", s.fd, s.pos, s.len);
}

/* The JSON view (fetch_json_append). */
static int fetch_respond_json(fetch_ctx_t *c, log_t *log, int64_t hw)
{
	api_request_t *req = c->req;
	buf_t out = BUF_INIT;
	size_t count = 0;
	int64_t next = c->offset, bytes = 0;
	int rc;

	rc = buf_appendf(&out, "{\"topic\":\"%s\",\"partition\":%d,\"records\":[", req->topic,
	                 (int)req->partition);
	if (rc == 0)
		rc = fetch_json_append(&out, &c->raw, log, hw, NULL, c->key_format, c->value_format,
		                       c->max_records, c->max_bytes, &next, &count, &bytes,
		                       req->err, sizeof req->err);
	if (rc == STRAND_ERANGE) {
		buf_free(&out);
		return fetch_respond_out_of_range(c, next);
	}
	if (rc == 0)
		rc = buf_appendf(&out, "],\"next_offset\":%" PRId64 ",\"high_watermark\":%" PRId64
		                 ",\"log_start_offset\":%" PRId64 "}",
		                 next, hw, log_start_offset(log));
	if (rc == 0) {
		api_metrics_add_records_fetched(req->api, count);
		rc = api_respond_buf(req, 200, "application/json", &out);
	}
	buf_free(&out);
	return rc;
}

/*
 * Answer now if enough is there, the wait is over or the server stops;
 * else park until an append or the deadline. Runs in the handler and in
 * on_resume; the topic is held on entry and released when parked.
 */
static int fetch_answer_or_park(fetch_ctx_t *c)
{
	api_request_t *req = c->req;
	log_t *log = topic_partition_log(c->topic, req->partition);
	int64_t hw;
	int rc;

	for (;;) {
		hw = topic_partition_hw(c->topic, req->partition);
		if (c->offset < log_start_offset(log) || c->offset > log_end_offset(log))
			return fetch_respond_out_of_range(c, c->offset);
		if (c->max_wait_ms == 0 || fetch_has_min_bytes(c, log, hw) ||
		    parking_now_ms() >= c->deadline_ms || api_is_stopping(req->api))
			break;
		/* wake on any append past what we saw; the answer path re-checks */
		c->wait_hw = hw;
		rc = parking_wait(c->pk, &c->waiter, req->topic, req->partition, hw,
		                  c->deadline_ms, fetch_arm, fetch_wake, c);
		if (rc == 1)
			continue;           /* appended meanwhile: look again */
		if (rc == STRAND_ECLOSED)
			break;              /* stopping: answer with what is there */
		if (rc)
			return rc;
		fetch_drop_topic(c);    /* parked: hold nothing */
		return 0;
	}
	if (c->mode == FETCH_BINARY)
		return fetch_respond_binary(c, log, hw);
	return fetch_respond_json(c, log, hw);
}

static int fetch_on_resume(api_request_t *req)
{
	fetch_ctx_t *c = req->ctx;
	int rc = fetch_hold_topic(c);

	if (rc || api_responded(req))
		return rc;
	return fetch_answer_or_park(c);
}

/* ---- Server-Sent Events ------------------------------------------------- */

/*
 * Render records from c->offset into c->out. Returns 1 when something was
 * added, 0 when there is nothing new, -1 when the stream must end (topic
 * gone, offset no longer in the log), or a negative STRAND_E* code.
 */
static int fetch_sse_fill(fetch_ctx_t *c)
{
	api_request_t *req = c->req;
	log_t *log = topic_partition_log(c->topic, req->partition);
	int64_t hw = topic_partition_hw(c->topic, req->partition), next = c->offset, slice_next;
	size_t count = 0;
	log_slice_t s;
	int rc;

	if (next < log_start_offset(log))
		next = log_start_offset(log);   /* retention passed us: continue at the start */
	if (next >= hw) {
		c->offset = next;
		return 0;
	}
	rc = log_read(log, next, FETCH_SSE_READ_BYTES, hw, &s, req->err, sizeof req->err);
	if (rc == STRAND_ERANGE)
		return -1;
	if (rc)
		return rc;
	slice_next = s.next_offset;
	rc = fetch_read_slice(&c->raw, &s, req->err, sizeof req->err);
	log_slice_release(&s);
	if (rc)
		return rc;
	/* Hot path: one event per record, appended to the pending output. */
	rc = records_sse_append(&c->out, (const uint8_t *)c->raw.data, c->raw.len, next, hw, 0,
	                        c->key_format, c->value_format, &count, &next);
	if (rc)
		return rc;
	if (next < slice_next)
		next = slice_next;
	c->offset = next;
	api_metrics_add_records_fetched(req->api, count);
	return count > 0;
}

/* Under the registry lock: data arrived since the check, or suspend. */
static int fetch_sse_arm(void *ctx)
{
	fetch_ctx_t *c = ctx;

	if (topic_partition_hw(c->topic, c->req->partition) > c->offset)
		return 1;
	return api_suspend(c->req);
}

/* Park the stream until an append or the next keep-alive. 0 parked,
 * 1 data arrived meanwhile, STRAND_ECLOSED stopping. */
static int fetch_sse_park(fetch_ctx_t *c)
{
	return parking_wait(c->pk, &c->waiter, c->req->topic, c->req->partition, c->offset,
	                    c->keepalive_ms, fetch_sse_arm, fetch_wake, c);
}

/* MHD's content reader for the stream (the connection's worker thread). */
static ssize_t fetch_sse_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	fetch_ctx_t *c = cls;
	size_t n;
	int rc;

	(void)pos;
	for (;;) {
		if (c->out_pos < c->out.len) {
			n = c->out.len - c->out_pos;
			if (n > max)
				n = max;
			memcpy(dst, c->out.data + c->out_pos, n);
			c->out_pos += n;
			if (c->out_pos == c->out.len) {
				buf_reset(&c->out);
				c->out_pos = 0;
			}
			c->keepalive_ms = parking_now_ms() + FETCH_SSE_KEEPALIVE_MS;
			return (ssize_t)n;
		}
		if (api_is_stopping(c->req->api))
			return -1;   /* MHD_CONTENT_READER_END_OF_STREAM */
		c->topic = broker_topic_get(c->req->broker, c->req->topic);
		if (c->topic == NULL)
			return -1;   /* deleted: end the stream */
		rc = fetch_sse_fill(c);
		if (rc == 0 && parking_now_ms() >= c->keepalive_ms)
			rc = buf_append_str(&c->out, ": keep-alive\n\n") == 0 ? 1 : STRAND_ENOMEM;
		if (rc == 0) {
			rc = fetch_sse_park(c);
			if (rc == 0) {
				fetch_drop_topic(c);
				return 0;    /* suspended: MHD calls again after the resume */
			}
			/* 1: appended meanwhile, fill again */
			if (rc == STRAND_ECLOSED)
				rc = -1;
		}
		fetch_drop_topic(c);
		if (rc == -1)
			return -1;
		if (rc < 0)
			return -2;       /* MHD_CONTENT_READER_END_WITH_ERROR */
	}
}

static int fetch_sse_start(fetch_ctx_t *c)
{
	api_request_t *req = c->req;
	int rc;

	if (api_sse_acquire(req) != 0)
		return api_respond_problem(req, 429, API_PROBLEM_THROTTLED,
		                           "this client address holds as many live tails (SSE) "
		                           "as allowed; close one first", NULL);
	/* a comment first, so the client sees the headers before any record */
	rc = buf_appendf(&c->out, ": tail of %s/%d from offset %" PRId64 "\n\n", req->topic,
	                 (int)req->partition, c->offset);
	rc = rc ? rc : api_add_header(req, "Cache-Control", "no-cache");
	rc = rc ? rc : api_add_header(req, "X-Accel-Buffering", "no");
	if (rc)
		return rc;
	c->keepalive_ms = parking_now_ms() + FETCH_SSE_KEEPALIVE_MS;
	fetch_drop_topic(c);   /* the reader takes it per call */
	return api_respond_callback(req, 200, "text/event-stream", (uint64_t)-1, fetch_sse_read,
	                            c, NULL);
}

/* ---- the handlers ------------------------------------------------------- */

/*
 * An offset parameter: earliest | latest | int64 >= 0; def when absent
 * (-1 earliest, -2 latest). Answers 400 itself.
 */
static int fetch_parse_offset(fetch_ctx_t *c, const char *text, int def, int64_t *out)
{
	log_t *log = topic_partition_log(c->topic, c->req->partition);
	int64_t v;

	if (text == NULL)
		v = def;
	else if (strcmp(text, "earliest") == 0)
		v = -1;
	else if (strcmp(text, "latest") == 0)
		v = -2;
	else
		return api_query_int64(c->req, "offset", 0, 0, INT64_MAX, out);
	*out = v == -1 ? log_start_offset(log) : topic_partition_hw(c->topic, c->req->partition);
	return 0;
}

/* SSE resume point: Last-Event-ID (the last offset received) + 1. */
static int fetch_parse_last_event_id(fetch_ctx_t *c, const char *text, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v == INT64_MAX)
		return api_respond_problem(c->req, 400, API_PROBLEM_INVALID_REQUEST,
		                           "Last-Event-ID must be the offset of the last event received",
		                           NULL);
	*out = v + 1;
	return 0;
}

/* Which representation the client asked for (Accept); 406 when none fits. */
static int fetch_choose_mode(api_request_t *req, fetch_mode_t *mode)
{
	const char *accept = api_header(req, "Accept");

	if (api_accepts(req, "application/vnd.strand.batch"))
		*mode = FETCH_BINARY;
	else if (api_accepts(req, "text/event-stream"))
		*mode = FETCH_SSE;
	else if (accept == NULL || api_accepts(req, "application/json") ||
	         api_accepts(req, "application/*") || api_accepts(req, "*/*"))
		*mode = FETCH_JSON;
	else
		return api_respond_problem(req, 406, API_PROBLEM_NOT_ACCEPTABLE,
		                           "Accept must allow application/json, "
		                           "application/vnd.strand.batch or text/event-stream", NULL);
	return 0;
}

int api_fetch_records(api_request_t *req)
{
	/* JSON and SSE views: "format" by the topic's key_format/value_format,
	 * "base64" every key and value base64 (the stored bytes exactly) */
	static const char *const fetch_encodings[] = { "format", "base64", NULL };
	fetch_ctx_t *c;
	fetch_mode_t mode = FETCH_JSON;
	const char *last_id;
	int64_t hw, lso;
	int rc;

	rc = fetch_choose_mode(req, &mode);
	if (rc || api_responded(req))
		return rc;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return STRAND_ENOMEM;
	req->ctx = c;
	req->on_cleanup = fetch_cleanup;
	req->on_resume = fetch_on_resume;
	c->req = req;
	c->mode = mode;
	c->pk = api_parking_state(req->api);
	parking_waiter_init(&c->waiter);
	if ((rc = api_query_int64(req, "max_records", FETCH_DEFAULT_MAX_RECORDS, 1,
	                          FETCH_MAX_MAX_RECORDS, &c->max_records)) ||
	    (rc = api_query_int64(req, "max_bytes", FETCH_DEFAULT_MAX_BYTES, 1,
	                          BROKER_MAX_REQUEST_BYTES, &c->max_bytes)) ||
	    (rc = api_query_int64(req, "min_bytes", 1, 0, BROKER_MAX_REQUEST_BYTES,
	                          &c->min_bytes)) ||
	    (rc = api_query_int64(req, "max_wait_ms", 0, 0, api_options(req->api)->max_wait_ms,
	                          &c->max_wait_ms)) ||
	    (rc = api_query_choice(req, "encoding", fetch_encodings, 0, &c->base64)))
		return rc;
	rc = fetch_hold_topic(c);
	if (rc || api_responded(req))
		return rc;
	last_id = api_header(req, "Last-Event-ID");
	if (mode == FETCH_SSE && last_id != NULL)
		rc = fetch_parse_last_event_id(c, last_id, &c->offset);
	else   /* a tail starts at the end unless told; a fetch at the start */
		rc = fetch_parse_offset(c, api_query(req, "offset"), mode == FETCH_SSE ? -2 : -1,
		                        &c->offset);
	if (rc || api_responded(req))
		return rc;
	lso = log_start_offset(topic_partition_log(c->topic, req->partition));
	hw = topic_partition_hw(c->topic, req->partition);
	if (c->offset < lso || c->offset > hw)
		return fetch_respond_out_of_range(c, c->offset);
	if (mode == FETCH_SSE)
		return fetch_sse_start(c);
	c->deadline_ms = parking_now_ms() + c->max_wait_ms;
	return fetch_answer_or_park(c);
}

/* GET .../offsets?timestamp=ms|earliest|latest (Kafka's ListOffsets). */
int api_fetch_offsets(api_request_t *req)
{
	const char *ts_text = api_query(req, "timestamp");
	topic_t *t;
	log_t *log;
	int64_t ts, offset = 0, found_ts = -1;
	cJSON *doc;
	int rc = 0;

	if (ts_text == NULL)
		return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST,
		                           "query parameter timestamp is required "
		                           "(milliseconds, earliest or latest)", NULL);
	t = broker_topic_get(req->broker, req->topic);
	if (t == NULL)
		return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_TOPIC, NULL, NULL);
	log = topic_partition_log(t, req->partition);
	if (log == NULL) {
		snprintf(req->err, sizeof req->err, "topic %s has no partition %d (it has %d)",
		         req->topic, (int)req->partition, (int)topic_partition_count(t));
		rc = api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_PARTITION, req->err, NULL);
		goto out;
	}
	if (strcmp(ts_text, "earliest") == 0) {
		offset = log_start_offset(log);
	} else if (strcmp(ts_text, "latest") == 0) {
		offset = topic_partition_hw(t, req->partition);
	} else {
		rc = api_query_int64(req, "timestamp", 0, 0, INT64_MAX, &ts);
		if (rc)
			goto out;
		rc = log_offset_for_timestamp(log, ts, &offset, &found_ts, req->err, sizeof req->err);
		if (rc == STRAND_ENOENT) {   /* none that late: the end, as ListOffsets */
			offset = log_end_offset(log);
			found_ts = -1;
			rc = 0;
		}
		if (rc)
			goto out;
	}
	doc = cJSON_CreateObject();
	if (doc == NULL || !cJSON_AddNumberToObject(doc, "offset", (double)offset) ||
	    !cJSON_AddNumberToObject(doc, "timestamp", (double)found_ts)) {
		cJSON_Delete(doc);
		rc = STRAND_ENOMEM;
		goto out;
	}
	rc = api_respond_json(req, 200, doc);
out:
	topic_release(t);
	return rc;
}
