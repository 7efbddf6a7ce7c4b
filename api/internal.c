/*
 * internal.c — broker-to-broker endpoints under /v1/internal/ (openapi.yaml
 * tag `internal`, docs/REPLICATION.md). Only brokers call them; with
 * authentication on they need ADMIN on the cluster (api/auth.c derives it
 * from the route).
 *
 * POST /v1/internal/replica/epoch_end — Kafka's OffsetsForLeaderEpoch
 * (KIP-101, KIP-279), asked by a follower before it fetches:
 *   {"broker_id":2,"partitions":[{"topic":"t","partition":0,
 *     "leader_epoch":4,"current_leader_epoch":5}]}
 * answers, in request order,
 *   {"partitions":[{"topic":"t","partition":0,"error":"NONE",
 *     "leader_epoch":3,"end_offset":120}]}
 * where (leader_epoch, end_offset) is log_epoch_end_offset(leader_epoch) on
 * this broker's log: the largest epoch <= the asked one it knows and where
 * that epoch ends here; (-1, -1) for leader_epoch -1 (a follower with no
 * epoch, which then truncates to its high watermark). Only the leader
 * answers; current_leader_epoch is checked as in fetch: lower than ours is
 * FENCED_LEADER_EPOCH (the follower's state is stale), higher is
 * UNKNOWN_LEADER_EPOCH (ours is).
 *
 * POST /v1/internal/replica/fetch — the leader's side of follower fetch
 * (Kafka's Fetch from a replica). One request covers every partition a
 * follower follows on this leader:
 *   {"broker_id":2,"max_wait_ms":500,"max_bytes":8388608,
 *    "partitions":[{"topic":"t","partition":0,"fetch_offset":123,"leader_epoch":5}]}
 * Each partition's fetch_offset records the follower's LEO on the leader
 * (broker_replica_fetch: ISR, HW), then the answer (application/
 * vnd.strand.replica) holds one frame per requested partition, in request
 * order, integers big-endian:
 *   u16 topic_len | topic | i32 partition | i16 error | i32 leader_epoch |
 *   i64 high_watermark | i64 log_start_offset | i64 log_end_offset |
 *   u32 records_len | records (whole stored batches, untouched)
 * Records total at most max_bytes, except that the first partition with
 * data always gets at least one batch (a batch larger than max_bytes cannot
 * stall a follower).
 *
 * Long poll: while no partition has records past its fetch_offset, an HW
 * other than the one its last answer carried, or an error to report, the
 * request parks (no thread) up to max_wait_ms, one waiter per partition
 * under the key "replica:<topic>" (':' never occurs in topic names), which
 * the broker's progress hook wakes on every leader append, HW move and
 * leadership change (api/parking_api.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/handlers.h"
#include "api/jsonbody.h"
#include "api/parking.h"
#include "broker/broker.h"
#include "broker/replica.h"
#include "cluster/fetcher.h"
#include "common/err.h"
#include "log/log.h"

#define EPOCH_END_MAX_PARTITIONS 10000   /* per request (the body is <= 1 MiB) */
#define RFETCH_MAX_PARTITIONS    10000               /* per request (the body is <= 1 MiB) */
#define RFETCH_MAX_PARTITIONS_TEXT "10000"
#define RFETCH_MAX_WAIT_MS       60000               /* longest long poll */
#define RFETCH_DEFAULT_MAX_BYTES (8 * 1024 * 1024)   /* Kafka's replica.fetch.response.max.bytes is 10 MiB */

/* The frame's error codes are FETCH_ERR_* (cluster/fetcher.h): the
 * follower's decoder and this encoder share one definition of the wire. */

static int invalid(api_request_t *req, const char *detail)
{
	api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, detail, NULL);
	return STRAND_EINVAL;
}

/* ---- epoch_end ---------------------------------------------------------- */

/* One partition's answer: error name, epoch and end offset. */
static const char *epoch_end_of(broker_t *b, const char *topic, int32_t p, int32_t epoch,
                                int32_t current, int32_t *epoch_out, int64_t *end_out)
{
	partition_state_t st;
	replica_role_t role = REPLICA_NONE;
	topic_t *t = broker_topic_get(b, topic);
	log_t *log = t != NULL ? topic_partition_log(t, p) : NULL;
	const char *error = "NONE";

	*epoch_out = -1;
	*end_out = -1;
	if (log == NULL)
		error = "UNKNOWN_TOPIC_OR_PARTITION";
	else if (broker_partition_get_state(b, topic, p, &st, &role) != 0 ||
	         role != REPLICA_LEADER)
		error = "NOT_LEADER";
	else if (current < st.leader_epoch)
		error = "FENCED_LEADER_EPOCH";
	else if (current > st.leader_epoch)
		error = "UNKNOWN_LEADER_EPOCH";
	else
		log_epoch_end_offset(log, epoch, epoch_out, end_out);
	topic_release(t);
	return error;
}

/* Read one request partition; answers 400 itself on a bad one. */
static int epoch_end_parse(api_request_t *req, const cJSON *item, size_t i,
                           const char **topic, int32_t *p, int32_t *epoch, int32_t *current)
{
	static const char *const members[] = { "topic", "partition", "leader_epoch",
	                                       "current_leader_epoch", NULL };
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "topic");
	int64_t v[3];
	int rc;

	if (!cJSON_IsObject(item))
		return invalid(req, "\"partitions\" must hold {\"topic\",\"partition\","
		                    "\"leader_epoch\",\"current_leader_epoch\"} objects");
	rc = api_json_only_members(req, item, "partition", members);
	if (rc)
		return rc;
	if (!cJSON_IsString(name) || !broker_name_valid(name->valuestring)) {
		char detail[96];

		snprintf(detail, sizeof detail, "partitions[%zu].topic must be a topic name", i);
		return invalid(req, detail);
	}
	rc = api_json_int64(req, item, "partition", 1, 0, 0, INT32_MAX, &v[0]);
	if (rc == 0)
		rc = api_json_int64(req, item, "leader_epoch", 1, 0, -1, INT32_MAX, &v[1]);
	if (rc == 0)
		rc = api_json_int64(req, item, "current_leader_epoch", 1, 0, 0, INT32_MAX, &v[2]);
	if (rc)
		return rc;
	*topic = name->valuestring;
	*p = (int32_t)v[0];
	*epoch = (int32_t)v[1];
	*current = (int32_t)v[2];
	return 0;
}

int api_replica_epoch_end(api_request_t *req)
{
	static const char *const members[] = { "broker_id", "partitions", NULL };
	cJSON *body = NULL, *doc = NULL, *out;
	const cJSON *list, *item;
	int64_t broker_id;
	size_t n, i = 0;
	int rc;

	rc = api_json_body_object(req, 0, &body);
	if (rc)
		return rc;
	rc = api_json_only_members(req, body, "request", members);
	if (rc == 0)
		rc = api_json_int64(req, body, "broker_id", 1, 0, 0, INT32_MAX, &broker_id);
	if (rc)
		goto out;
	list = cJSON_GetObjectItemCaseSensitive(body, "partitions");
	n = (size_t)cJSON_GetArraySize(list);
	if (!cJSON_IsArray(list) || n == 0 || n > EPOCH_END_MAX_PARTITIONS) {
		rc = invalid(req, "\"partitions\" must be a non-empty array of at most 10000 "
		                  "{\"topic\",\"partition\",\"leader_epoch\",\"current_leader_epoch\"}");
		goto out;
	}
	doc = cJSON_CreateObject();
	out = cJSON_AddArrayToObject(doc, "partitions");
	if (out == NULL) {
		rc = STRAND_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(item, list) {
		const char *topic, *error;
		int32_t p, epoch, current, end_epoch;
		int64_t end;
		cJSON *e;

		rc = epoch_end_parse(req, item, i++, &topic, &p, &epoch, &current);
		if (rc)
			goto out;
		error = epoch_end_of(req->broker, topic, p, epoch, current, &end_epoch, &end);
		e = cJSON_CreateObject();
		if (e == NULL || !cJSON_AddItemToArray(out, e) ||
		    cJSON_AddStringToObject(e, "topic", topic) == NULL ||
		    cJSON_AddNumberToObject(e, "partition", p) == NULL ||
		    cJSON_AddStringToObject(e, "error", error) == NULL ||
		    cJSON_AddNumberToObject(e, "leader_epoch", end_epoch) == NULL ||
		    cJSON_AddNumberToObject(e, "end_offset", (double)end) == NULL) {
			rc = STRAND_ENOMEM;
			goto out;
		}
	}
	rc = api_respond_json(req, 200, doc);
	doc = NULL;
out:
	cJSON_Delete(doc);
	cJSON_Delete(body);
	return rc;
}

/* ---- replica fetch ------------------------------------------------------- */

typedef struct rfetch_part {
	char   *topic;
	char   *key;            /* "replica:<topic>": the waiter's registry key */
	int32_t partition;
	int32_t leader_epoch;
	int64_t fetch_offset;
} rfetch_part_t;

typedef struct rfetch_ctx {
	api_request_t    *req;
	parking_t        *pk;
	rfetch_part_t    *parts;
	size_t            nparts;
	parking_waiter_t *waiters;      /* one per part */
	size_t            nwaiters;     /* registered (or being registered) */
	int               woken;        /* set by a wake, under the registry lock */
	int32_t           broker_id;
	int64_t           max_bytes, max_wait_ms, deadline_ms;
	buf_t             out;
} rfetch_ctx_t;

static void rfetch_cancel(rfetch_ctx_t *c)
{
	for (size_t i = 0; i < c->nwaiters; i++)
		parking_cancel(c->pk, &c->waiters[i]);
	c->nwaiters = 0;
}

static void rfetch_cleanup(api_request_t *req)
{
	rfetch_ctx_t *c = req->ctx;

	if (c == NULL)
		return;
	rfetch_cancel(c);       /* after this no wake can touch req */
	for (size_t i = 0; i < c->nparts; i++) {
		free(c->parts[i].topic);
		free(c->parts[i].key);
	}
	free(c->parts);
	free(c->waiters);
	buf_free(&c->out);
	free(c);
	req->ctx = NULL;
}

static int rfetch_error_of(int rc)
{
	switch (rc) {
	case 0:                     return FETCH_ERR_NONE;
	case STRAND_ENOTLEADER:     return FETCH_ERR_NOT_LEADER;
	case STRAND_EEPOCH_FENCED:  return FETCH_ERR_FENCED_LEADER_EPOCH;
	case STRAND_EEPOCH_UNKNOWN: return FETCH_ERR_UNKNOWN_LEADER_EPOCH;
	case STRAND_ERANGE:         return FETCH_ERR_OFFSET_OUT_OF_RANGE;
	case STRAND_ENOENT:         return FETCH_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	default:                    return FETCH_ERR_STORAGE_ERROR;
	}
}

/* ---- waiting ------------------------------------------------------------ */

/* Does part k have something to say? Any thread; may run under the registry lock. */
static int rfetch_pending(rfetch_ctx_t *c, size_t k)
{
	const rfetch_part_t *p = &c->parts[k];
	topic_t *t = broker_topic_get(c->req->broker, p->topic);
	int pending = 1;

	if (t != NULL) {
		pending = broker_replica_pending(c->req->broker, t, p->partition, c->broker_id,
		                                 p->fetch_offset);
		topic_release(t);
	}
	return pending;
}

static void rfetch_wake(void *ctx, parking_reason_t why)
{
	rfetch_ctx_t *c = ctx;

	(void)why;
	c->woken = 1;
	api_resume(c->req);
}

/* A waiter's arm (not the last): something to say already, or keep registering. */
static int rfetch_arm_part(void *ctx)
{
	rfetch_ctx_t *c = ctx;

	return c->woken || rfetch_pending(c, c->nwaiters) ? 1 : 0;
}

/* The last waiter's arm: anything to say, or suspend. */
static int rfetch_arm_last(void *ctx)
{
	rfetch_ctx_t *c = ctx;

	if (c->woken || rfetch_pending(c, c->nwaiters))
		return 1;
	return api_suspend(c->req);
}

/* Park on every partition. 0 parked, 1 look again, STRAND_ECLOSED, or an error. */
static int rfetch_park(rfetch_ctx_t *c)
{
	size_t n = c->nparts;
	int rc = 0;

	c->woken = 0;
	for (c->nwaiters = 0; c->nwaiters < n; c->nwaiters++) {
		const rfetch_part_t *p = &c->parts[c->nwaiters];
		int last = c->nwaiters == n - 1;

		parking_waiter_init(&c->waiters[c->nwaiters]);
		rc = parking_wait(c->pk, &c->waiters[c->nwaiters], p->key, p->partition,
		                  p->fetch_offset, last ? c->deadline_ms : -1,
		                  last ? rfetch_arm_last : rfetch_arm_part, rfetch_wake, c);
		if (rc != 0)
			break;
	}
	if (rc == 0)
		return 0;
	rfetch_cancel(c);
	return rc;
}

/* ---- the answer --------------------------------------------------------- */

static int put_be(buf_t *b, uint64_t v, int bytes)
{
	uint8_t x[8];

	for (int i = 0; i < bytes; i++)
		x[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	return buf_append(b, x, (size_t)bytes);
}

/* Append the slice's bytes (pread from its segment). */
static int append_slice(buf_t *b, const log_slice_t *s, char *err, size_t errlen)
{
	size_t done = 0;
	int rc = buf_reserve(b, s->len);

	if (rc)
		return rc;
	while (done < s->len) {
		ssize_t r = pread(s->fd, b->data + b->len + done, s->len - done,
		                  s->pos + (off_t)done);

		if (r <= 0)
			return strand_err_set(err, errlen, STRAND_EIO, "reading a segment for a "
			                      "follower failed");
		done += (size_t)r;
	}
	b->len += done;
	b->data[b->len] = '\0';
	return 0;
}

/* One partition's frame: fetch (recording progress), read within the budget. */
static int rfetch_frame(rfetch_ctx_t *c, const rfetch_part_t *p, int64_t *used)
{
	api_request_t *req = c->req;
	replica_fetch_info_t info = { -1, 0, 0, 0 };
	log_slice_t slice = { -1, 0, 0, 0, 0 };
	int64_t budget = c->max_bytes - *used;
	size_t len_at;
	topic_t *t;
	int rc, err_code, read = *used == 0 || budget > 0;

	t = broker_topic_get(req->broker, p->topic);
	if (t == NULL) {
		rc = STRAND_ENOENT;
	} else {
		rc = broker_replica_fetch(req->broker, t, p->partition, c->broker_id, p->fetch_offset,
		                          p->leader_epoch, read ? (size_t)(budget > 0 ? budget : 1) : 0,
		                          read ? &slice : NULL, &info, req->err, sizeof req->err);
		topic_release(t);
	}
	/* past the budget only the first partition with data gets its batch */
	if (slice.len > 0 && *used > 0 && (int64_t)slice.len > budget)
		log_slice_release(&slice);
	err_code = rfetch_error_of(rc);
	if (err_code == FETCH_ERR_STORAGE_ERROR)
		fprintf(stderr, "strand: replica fetch of %s-%d for broker %d: %s\n", p->topic,
		        (int)p->partition, (int)c->broker_id, req->err);
	if ((rc = put_be(&c->out, strlen(p->topic), 2)) ||
	    (rc = buf_append(&c->out, p->topic, strlen(p->topic))) ||
	    (rc = put_be(&c->out, (uint32_t)p->partition, 4)) ||
	    (rc = put_be(&c->out, (uint16_t)err_code, 2)) ||
	    (rc = put_be(&c->out, (uint32_t)info.leader_epoch, 4)) ||
	    (rc = put_be(&c->out, (uint64_t)info.high_watermark, 8)) ||
	    (rc = put_be(&c->out, (uint64_t)info.log_start_offset, 8)) ||
	    (rc = put_be(&c->out, (uint64_t)info.log_end_offset, 8)))
		goto out;
	len_at = c->out.len;
	if ((rc = put_be(&c->out, 0, 4)))
		goto out;
	if (slice.len > 0) {
		rc = append_slice(&c->out, &slice, req->err, sizeof req->err);
		if (rc)
			goto out;
		for (int i = 0; i < 4; i++)     /* records_len, now known */
			c->out.data[len_at + (size_t)i] = (char)(uint8_t)(slice.len >> (8 * (3 - i)));
		*used += (int64_t)slice.len;
	}
out:
	log_slice_release(&slice);
	return rc;
}

static int rfetch_respond(rfetch_ctx_t *c)
{
	int64_t used = 0;
	int rc;

	buf_reset(&c->out);
	for (size_t k = 0; k < c->nparts; k++) {
		rc = rfetch_frame(c, &c->parts[k], &used);
		if (rc)
			return rc;
	}
	return api_respond_buf(c->req, 200, "application/vnd.strand.replica", &c->out);
}

/*
 * Record every partition's progress, then answer if any has something to
 * say (or the wait is over), else park. Runs in the handler and on resume.
 */
static int rfetch_attempt(rfetch_ctx_t *c)
{
	api_request_t *req = c->req;
	int say = 0, rc;

	for (;;) {
		for (size_t k = 0; k < c->nparts; k++) {
			const rfetch_part_t *p = &c->parts[k];
			replica_fetch_info_t info;
			topic_t *t = broker_topic_get(req->broker, p->topic);

			if (t == NULL) {
				say = 1;
				continue;
			}
			/* the follower's LEO counts now, even if the answer waits */
			if (broker_replica_fetch(req->broker, t, p->partition, c->broker_id,
			                         p->fetch_offset, p->leader_epoch, 0, NULL, &info,
			                         NULL, 0) != 0 ||
			    broker_replica_pending(req->broker, t, p->partition, c->broker_id,
			                           p->fetch_offset))
				say = 1;
			topic_release(t);
		}
		if (say || c->nparts == 0 || c->max_wait_ms == 0 ||
		    parking_now_ms() >= c->deadline_ms || api_is_stopping(req->api))
			break;
		rc = rfetch_park(c);
		if (rc == 1)
			continue;       /* something happened meanwhile: look again */
		if (rc == STRAND_ECLOSED)
			break;
		return rc;          /* 0: parked */
	}
	return rfetch_respond(c);
}

static int rfetch_on_resume(api_request_t *req)
{
	rfetch_ctx_t *c = req->ctx;

	rfetch_cancel(c);
	return rfetch_attempt(c);
}

/* Parse the partitions array into c->parts. Answers 400 itself. */
static int rfetch_parse_parts(rfetch_ctx_t *c, const cJSON *arr)
{
	static const char *const members[] = { "topic", "partition", "fetch_offset",
		                                   "leader_epoch", NULL };
	api_request_t *req = c->req;
	const cJSON *e;
	char key[300];
	int n, rc;

	if (!cJSON_IsArray(arr))
		return invalid(req, "partitions must be an array");
	n = cJSON_GetArraySize(arr);
	if (n > RFETCH_MAX_PARTITIONS)
		return invalid(req, "at most " RFETCH_MAX_PARTITIONS_TEXT " partitions per replica fetch");
	c->parts = calloc((size_t)n + 1, sizeof *c->parts);
	c->waiters = calloc((size_t)n + 1, sizeof *c->waiters);
	if (c->parts == NULL || c->waiters == NULL)
		return STRAND_ENOMEM;
	cJSON_ArrayForEach(e, arr) {
		rfetch_part_t *p = &c->parts[c->nparts];
		const cJSON *topic = cJSON_GetObjectItemCaseSensitive(e, "topic");
		int64_t part, offset, epoch;

		if (!cJSON_IsObject(e))
			return invalid(req, "each partition must be an object");
		if ((rc = api_json_only_members(req, e, "partition", members)))
			return rc;
		if (!cJSON_IsString(topic) || !broker_name_valid(topic->valuestring))
			return invalid(req, "topic must be a topic name");
		if ((rc = api_json_int64(req, e, "partition", 1, 0, 0, INT32_MAX, &part)) ||
		    (rc = api_json_int64(req, e, "fetch_offset", 1, 0, 0, INT64_MAX, &offset)) ||
		    (rc = api_json_int64(req, e, "leader_epoch", 1, 0, 0, INT32_MAX, &epoch)))
			return rc;
		api_replica_wait_key(topic->valuestring, key, sizeof key);
		p->topic = strdup(topic->valuestring);
		p->key = strdup(key);
		if (p->topic == NULL || p->key == NULL) {
			free(p->topic);
			free(p->key);
			return STRAND_ENOMEM;
		}
		p->partition = (int32_t)part;
		p->fetch_offset = offset;
		p->leader_epoch = (int32_t)epoch;
		c->nparts++;
	}
	return 0;
}

/* POST /v1/internal/replica/fetch */
int api_replica_fetch(api_request_t *req)
{
	static const char *const members[] = { "broker_id", "max_wait_ms", "max_bytes",
		                                   "partitions", NULL };
	rfetch_ctx_t *c;
	cJSON *body = NULL;
	int64_t id;
	int rc;

	c = calloc(1, sizeof *c);
	if (c == NULL)
		return STRAND_ENOMEM;
	req->ctx = c;
	req->on_cleanup = rfetch_cleanup;
	req->on_resume = rfetch_on_resume;
	c->req = req;
	c->pk = api_parking_state(req->api);
	buf_init(&c->out);
	rc = api_json_body_object(req, 0, &body);
	if (rc)
		return rc;
	if ((rc = api_json_only_members(req, body, "request", members)) ||
	    (rc = api_json_int64(req, body, "broker_id", 1, 0, 0, INT32_MAX, &id)) ||
	    (rc = api_json_int64(req, body, "max_wait_ms", 0, 0, 0, RFETCH_MAX_WAIT_MS,
	                         &c->max_wait_ms)) ||
	    (rc = api_json_int64(req, body, "max_bytes", 0, RFETCH_DEFAULT_MAX_BYTES, 1,
	                         BROKER_MAX_REQUEST_BYTES, &c->max_bytes)) ||
	    (rc = rfetch_parse_parts(c, cJSON_GetObjectItemCaseSensitive(body, "partitions"))))
		goto out;
	c->broker_id = (int32_t)id;
	c->deadline_ms = parking_now_ms() + c->max_wait_ms;
	rc = rfetch_attempt(c);
out:
	cJSON_Delete(body);
	return rc;
}
