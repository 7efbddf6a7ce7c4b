/*
 * groups.c — consumer group members over HTTP (API.md "Consumer groups"):
 * join, heartbeat, leave and the member fetch, over the broker's group
 * coordinator (src/broker/group.h). Members are broker state addressed by
 * ids, so any connection (behind any load balancer) can serve any member.
 *
 * Parking: a join that must wait for the rebalance parks in the waiter
 * registry (api/parking.h) under the group's key (api_group_wait_key),
 * woken by the coordinator's change hook or at the rebalance deadline.
 * A member fetch with nothing to return parks on each assigned partition
 * and on the group key at once: the first wake resumes it, and a group
 * change (a rebalance starting) answers 409 REBALANCE_IN_PROGRESS at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fetch.h"
#include "api/handlers.h"
#include "api/jsonbody.h"
#include "api/metrics.h"
#include "api/parking.h"
#include "common/err.h"

#define MFETCH_DEFAULT_MAX_RECORDS 500
#define MFETCH_MAX_MAX_RECORDS     100000
#define MFETCH_DEFAULT_MAX_BYTES   (1024 * 1024)
#define JOIN_RETRY_MS              1000   /* re-poll a join without a known deadline */

static int invalid(api_request_t *req, const char *detail)
{
	api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, detail, NULL);
	return STRAND_EINVAL;
}

/* {"generation","assignment":[{"topic","partitions":[...]}]} (+ member_id). */
static cJSON *member_doc(const group_member_info_t *info, int with_id)
{
	cJSON *doc = cJSON_CreateObject(), *arr, *entry = NULL, *parts = NULL;
	uint32_t cur = UINT32_MAX;

	if (doc == NULL ||
	    (with_id && !cJSON_AddStringToObject(doc, "member_id", info->member_id)) ||
	    !cJSON_AddNumberToObject(doc, "generation", info->generation) ||
	    (arr = cJSON_AddArrayToObject(doc, "assignment")) == NULL)
		goto fail;
	for (size_t k = 0; k < info->nparts; k++) {
		if (info->parts[k].topic != cur) {
			cur = info->parts[k].topic;
			entry = cJSON_CreateObject();
			if (entry == NULL || !cJSON_AddItemToArray(arr, entry) ||
			    !cJSON_AddStringToObject(entry, "topic", info->topics[cur]) ||
			    (parts = cJSON_AddArrayToObject(entry, "partitions")) == NULL)
				goto fail;
		}
		if (!cJSON_AddItemToArray(parts, cJSON_CreateNumber(info->parts[k].partition)))
			goto fail;
	}
	return doc;
fail:
	cJSON_Delete(doc);
	return NULL;
}

static int respond_member(api_request_t *req, const group_member_info_t *info, int with_id)
{
	cJSON *doc = member_doc(info, with_id);

	if (doc == NULL)
		return STRAND_ENOMEM;
	return api_respond_json(req, 200, doc);
}

/* Coordinator errors with their precise problem (others: the core's table). */
static int respond_group_error(api_request_t *req, int rc)
{
	char detail[400];

	switch (rc) {
	case STRAND_ENOMEMBER:
		snprintf(detail, sizeof detail, "unknown member %s in group %s (expired or left): "
		         "join again", req->member ? req->member : "", req->group);
		return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_MEMBER, detail, NULL);
	case STRAND_EREBALANCE:
		snprintf(detail, sizeof detail, "group %s is rebalancing: rejoin with your member_id",
		         req->group);
		return api_respond_problem(req, 409, API_PROBLEM_REBALANCE_IN_PROGRESS, detail, NULL);
	default:
		return rc;
	}
}

/* ---- join ----------------------------------------------------------------- */

/* cluster mode: how long a join answer waits for its generation's record
 * in __consumer_offsets to be committed; the member gets its assignment
 * at the latest then (docs/GROUPS.md) */
#define JOIN_LOG_WAIT_MS 5000

typedef struct join_ctx {
	api_request_t   *req;
	parking_t       *pk;
	parking_waiter_t waiter;
	char             key[300];
	char             member_id[GROUP_MEMBER_ID_MAX];
	uint64_t         version;
	cJSON           *answer;        /* ready, waiting for w to be committed */
	broker_group_write_t w;
	int64_t          log_deadline_ms;
} join_ctx_t;

static void join_cleanup(api_request_t *req)
{
	join_ctx_t *c = req->ctx;

	if (c == NULL)
		return;
	parking_cancel(c->pk, &c->waiter);
	cJSON_Delete(c->answer);
	free(c);
	req->ctx = NULL;
}

/* Under the registry lock: the group changed since we looked, or suspend. */
static int join_arm(void *ctx)
{
	join_ctx_t *c = ctx;

	if (group_version(broker_groups(c->req->broker), c->req->group) > c->version)
		return 1;
	return api_suspend(c->req);
}

static void join_wake(void *ctx, parking_reason_t why)
{
	join_ctx_t *c = ctx;

	(void)why;
	api_resume(c->req);
}

/* Under the registry lock: the generation's record is committed (or never
 * will be here), or suspend. */
static int join_log_arm(void *ctx)
{
	join_ctx_t *c = ctx;

	if (broker_group_committed(c->req->broker, &c->w, NULL, 0) != 0)
		return 1;
	return api_suspend(c->req);
}

/*
 * Answer the join once its generation's metadata record is committed, as
 * Kafka's SyncGroup waits for the group's append, or at log_deadline_ms:
 * the member gets its assignment either way (a record lost with its leader
 * only lets a new coordinator number from an older generation).
 */
static int join_answer_logged(join_ctx_t *c)
{
	api_request_t *req = c->req;
	cJSON *answer;
	int rc;

	for (;;) {
		if (broker_group_committed(req->broker, &c->w, NULL, 0) != 0 ||
		    parking_now_ms() >= c->log_deadline_ms || api_is_stopping(req->api))
			break;
		rc = parking_wait(c->pk, &c->waiter, BROKER_OFFSETS_TOPIC, c->w.partition,
		                  c->w.end_offset - 1, c->log_deadline_ms, join_log_arm, join_wake, c);
		if (rc == 0)
			return 0;                     /* parked */
		if (rc != 1)
			break;
	}
	/* the member gets its assignment even if this fails (as at the deadline) */
	if (broker_group_committed(req->broker, &c->w, NULL, 0) == 1 &&
	    broker_group_flush(req->broker, &c->w, req->err, sizeof req->err) != 0)
		fprintf(stderr, "strand: group %s: its generation's record: %s\n", req->group,
		        req->err);
	answer = c->answer;
	c->answer = NULL;
	return api_respond_json(req, 200, answer);
}

/* The join answered now (rc 0), or keep waiting until the group changes. */
static int join_answer_or_park(join_ctx_t *c, int rc, group_member_info_t *info)
{
	api_request_t *req = c->req;
	group_coord_t *gc = broker_groups(req->broker);
	int64_t deadline;

	for (;;) {
		if (rc != STRAND_EAGAIN)
			break;
		if (api_is_stopping(req->api)) {
			group_member_info_free(info);
			return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE,
			                           "shutting down: rejoin with your member_id", NULL);
		}
		snprintf(c->member_id, sizeof c->member_id, "%s", info->member_id);
		c->version = info->version;
		deadline = info->wake_at_ms >= 0 ? info->wake_at_ms
		                                 : parking_now_ms() + JOIN_RETRY_MS;
		group_member_info_free(info);
		rc = parking_wait(c->pk, &c->waiter, c->key, 0, (int64_t)c->version, deadline,
		                  join_arm, join_wake, c);
		if (rc == 0)
			return 0;                     /* parked */
		if (rc != 1 && rc != STRAND_ECLOSED)
			return rc;
		rc = group_join_poll(gc, req->group, c->member_id, broker_now_ms(), info);
	}
	if (rc == 0 && broker_group_log_generation(req->broker, req->group, &c->w, NULL, 0) == 0 &&
	    c->w.partition >= 0) {
		/* cluster mode: a new generation, written to __consumer_offsets
		 * (best effort: on an error the member is answered at once, and
		 * its next commit writes the generation too) */
		c->answer = member_doc(info, 1);
		group_member_info_free(info);
		if (c->answer == NULL)
			return STRAND_ENOMEM;
		c->log_deadline_ms = parking_now_ms() + JOIN_LOG_WAIT_MS;
		return join_answer_logged(c);
	}
	if (rc == 0) {
		rc = respond_member(req, info, 1);
		group_member_info_free(info);
		return rc;
	}
	req->member = c->member_id[0] ? c->member_id : req->member;
	return respond_group_error(req, rc);
}

static int join_on_resume(api_request_t *req)
{
	join_ctx_t *c = req->ctx;
	group_member_info_t info;
	int rc;

	if (c->answer != NULL)
		return join_answer_logged(c);   /* woken by the HW, or its deadline */
	rc = group_join_poll(broker_groups(req->broker), req->group, c->member_id,
	                     broker_now_ms(), &info);
	return join_answer_or_park(c, rc, &info);
}

/* Parse the join body into p (topics point into body). */
static int join_parse(api_request_t *req, const cJSON *body, group_join_params_t *p,
                      const char **topics)
{
	static const char *const members[] = { "topics", "session_timeout_ms",
		"rebalance_timeout_ms", "assignor", "auto_offset_reset", "member_id", NULL };
	const cJSON *list, *item, *v;
	int rc, kind;

	rc = api_json_only_members(req, body, "request", members);
	if (rc)
		return rc;
	list = cJSON_GetObjectItemCaseSensitive(body, "topics");
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1 ||
	    cJSON_GetArraySize(list) > GROUP_MAX_TOPICS)
		return invalid(req, "\"topics\" must be an array of 1 to 1000 topic names");
	p->ntopics = 0;
	cJSON_ArrayForEach(item, list) {
		if (!cJSON_IsString(item) || !broker_name_valid(item->valuestring))
			return invalid(req, "\"topics\" must hold topic names ([A-Za-z0-9._-]{1,249})");
		topics[p->ntopics++] = item->valuestring;
	}
	p->topics = topics;
	rc = api_json_int64(req, body, "session_timeout_ms", 0, GROUP_SESSION_DEFAULT_MS,
	                    GROUP_SESSION_MIN_MS, GROUP_SESSION_MAX_MS, &p->session_timeout_ms);
	if (rc == 0)
		rc = api_json_int64(req, body, "rebalance_timeout_ms", 0, GROUP_REBALANCE_DEFAULT_MS,
		                    GROUP_SESSION_MIN_MS, GROUP_SESSION_MAX_MS,
		                    &p->rebalance_timeout_ms);
	if (rc)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(body, "assignor");
	p->assignor = GROUP_ASSIGNOR_RANGE;
	if (v != NULL && !cJSON_IsNull(v)) {
		kind = cJSON_IsString(v) ? assignor_from_name(v->valuestring) : -1;
		if (kind < 0)
			return invalid(req, "\"assignor\" must be range, roundrobin or sticky");
		p->assignor = (group_assignor_t)kind;
	}
	v = cJSON_GetObjectItemCaseSensitive(body, "auto_offset_reset");
	p->reset = GROUP_RESET_LATEST;
	if (v != NULL && !cJSON_IsNull(v)) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, "earliest") == 0)
			p->reset = GROUP_RESET_EARLIEST;
		else if (!cJSON_IsString(v) || strcmp(v->valuestring, "latest") != 0)
			return invalid(req, "\"auto_offset_reset\" must be earliest or latest");
	}
	v = cJSON_GetObjectItemCaseSensitive(body, "member_id");
	p->member_id = NULL;
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) || strlen(v->valuestring) >= GROUP_MEMBER_ID_MAX)
			return invalid(req, "\"member_id\" must be a member id string");
		p->member_id = v->valuestring;
	}
	return 0;
}

/* POST /v1/groups/{group}/members */
int api_group_join(api_request_t *req)
{
	const char *topics[GROUP_MAX_TOPICS];
	group_join_params_t p;
	group_member_info_t info;
	cJSON *body = NULL;
	join_ctx_t *c;
	int rc;

	rc = api_json_body_object(req, 0, &body);
	if (rc)
		return rc;
	rc = join_parse(req, body, &p, topics);
	for (size_t t = 0; rc == 0 && t < p.ntopics; t++)
		rc = api_auth_require(req, ACL_READ, ACL_TOPIC, topics[t]);
	if (rc)
		goto out;
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		rc = STRAND_ENOMEM;
		goto out;
	}
	c->req = req;
	c->pk = api_parking_state(req->api);
	parking_waiter_init(&c->waiter);
	api_group_wait_key(req->group, c->key, sizeof c->key);
	req->ctx = c;
	req->on_cleanup = join_cleanup;
	req->on_resume = join_on_resume;
	rc = group_join(broker_groups(req->broker), req->group, &p, broker_now_ms(), &info,
	                req->err, sizeof req->err);
	if (rc == STRAND_ENOMEMBER) {
		rc = api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_MEMBER, req->err, NULL);
		goto out;
	}
	if (rc == 0 || rc == STRAND_EAGAIN)
		rc = join_answer_or_park(c, rc, &info);
out:
	cJSON_Delete(body);
	return rc;
}

/* ---- heartbeat and leave -------------------------------------------------- */

/* POST /v1/groups/{group}/members/{member}/heartbeat -> {"generation","assignment"} */
int api_group_heartbeat(api_request_t *req)
{
	group_member_info_t info;
	int rc = group_heartbeat(broker_groups(req->broker), req->group, req->member,
	                         broker_now_ms(), &info);

	if (rc)
		return respond_group_error(req, rc);
	rc = respond_member(req, &info, 0);
	group_member_info_free(&info);
	return rc;
}

/* DELETE /v1/groups/{group}/members/{member} -> 204 */
int api_group_leave(api_request_t *req)
{
	int rc = group_leave(broker_groups(req->broker), req->group, req->member, broker_now_ms());

	if (rc)
		return respond_group_error(req, rc);
	return api_respond_empty(req, 204);
}

/* ---- member fetch ---------------------------------------------------------- */

typedef struct mfetch_ctx {
	api_request_t      *req;
	parking_t          *pk;
	group_member_info_t info;          /* this attempt's assignment and positions */
	topic_t           **topics;        /* per info.topics; held while a callback runs */
	parking_waiter_t   *waiters;       /* per part, then one for the group */
	size_t              nwaiters;      /* registered (or being registered) */
	size_t              waiters_cap;
	int                 woken;         /* set by a wake, under the registry lock */
	char                key[300];
	int64_t             max_records, max_bytes, max_wait_ms, deadline_ms;
	int                 base64;        /* encoding=base64: keys and values always base64 */
	buf_t               raw, out;
} mfetch_ctx_t;

static void mfetch_release_topics(mfetch_ctx_t *c)
{
	for (size_t t = 0; c->topics != NULL && t < c->info.ntopics; t++)
		topic_release(c->topics[t]);
	free(c->topics);
	c->topics = NULL;
}

/* Drop this attempt's state; no waiter may be registered (they borrow
 * the topic names of info). */
static void mfetch_release(mfetch_ctx_t *c)
{
	mfetch_release_topics(c);
	group_member_info_free(&c->info);
}

static void mfetch_cancel(mfetch_ctx_t *c)
{
	for (size_t i = 0; i < c->nwaiters; i++)
		parking_cancel(c->pk, &c->waiters[i]);
}

static void mfetch_cleanup(api_request_t *req)
{
	mfetch_ctx_t *c = req->ctx;

	if (c == NULL)
		return;
	mfetch_cancel(c);   /* after this no wake can touch req */
	mfetch_release(c);
	free(c->waiters);
	buf_free(&c->raw);
	buf_free(&c->out);
	free(c);
	req->ctx = NULL;
}

static void mfetch_wake(void *ctx, parking_reason_t why)
{
	mfetch_ctx_t *c = ctx;

	(void)why;
	c->woken = 1;
	api_resume(c->req);
}

/* A partition waiter's arm: data already there, or keep registering. */
static int mfetch_arm_part(void *ctx)
{
	mfetch_ctx_t *c = ctx;
	size_t k = c->nwaiters;   /* the part being registered */
	topic_t *t = c->topics[c->info.parts[k].topic];

	if (c->woken || (t != NULL && topic_partition_hw(t, c->info.parts[k].partition) >
	                              c->info.parts[k].position))
		return 1;
	return 0;
}

/* The group waiter's arm, last: anything woken us meanwhile, or suspend. */
static int mfetch_arm_group(void *ctx)
{
	mfetch_ctx_t *c = ctx;

	if (c->woken ||
	    group_version(broker_groups(c->req->broker), c->req->group) > c->info.version)
		return 1;
	return api_suspend(c->req);
}

/*
 * Park on every assigned partition and on the group. 0 parked, 1 woken
 * before parking (look again), STRAND_ECLOSED stopping, or an error.
 */
static int mfetch_park(mfetch_ctx_t *c)
{
	size_t n = c->info.nparts;
	int rc;

	if (c->waiters_cap < n + 1) {     /* none is registered here */
		free(c->waiters);
		c->waiters_cap = 0;
		c->waiters = calloc(n + 1, sizeof *c->waiters);
		if (c->waiters == NULL)
			return STRAND_ENOMEM;
		c->waiters_cap = n + 1;
	}
	c->woken = 0;
	for (c->nwaiters = 0; c->nwaiters < n; c->nwaiters++) {
		const group_tp_t *tp = &c->info.parts[c->nwaiters];

		parking_waiter_init(&c->waiters[c->nwaiters]);
		rc = parking_wait(c->pk, &c->waiters[c->nwaiters], c->info.topics[tp->topic],
		                  tp->partition, tp->position, -1, mfetch_arm_part, mfetch_wake, c);
		if (rc != 0)
			goto unwind;
	}
	parking_waiter_init(&c->waiters[n]);
	rc = parking_wait(c->pk, &c->waiters[n], c->key, 0, (int64_t)c->info.version,
	                  c->deadline_ms, mfetch_arm_group, mfetch_wake, c);
	if (rc == 0) {
		c->nwaiters = n + 1;
		return 0;
	}
unwind:
	mfetch_cancel(c);
	c->nwaiters = 0;
	return rc;
}

/* The committed offset of (topic, partition) in offs, or -1. */
static int64_t committed_for(const committed_offset_t *offs, size_t n, const char *topic,
                             int32_t p)
{
	for (size_t i = 0; i < n; i++)
		if (offs[i].partition == p && strcmp(offs[i].topic, topic) == 0)
			return offs[i].offset;
	return -1;
}

/*
 * Take the topic handles, and give every partition without a usable
 * position one: the committed offset, else auto_offset_reset (also when
 * the position has left the log, as Kafka's consumer does). New positions
 * are stored at once, so a later wait never re-resolves "latest".
 */
static int mfetch_prepare(mfetch_ctx_t *c)
{
	api_request_t *req = c->req;
	committed_offset_t *offs = NULL;
	size_t noffs = 0;
	int fetched = 0, changed = 0, rc = 0;

	c->topics = calloc(c->info.ntopics + 1, sizeof *c->topics);
	if (c->topics == NULL)
		return STRAND_ENOMEM;
	for (size_t t = 0; t < c->info.ntopics; t++)
		c->topics[t] = broker_topic_get(req->broker, c->info.topics[t]);
	for (size_t k = 0; k < c->info.nparts; k++) {
		group_tp_t *tp = &c->info.parts[k];
		topic_t *t = c->topics[tp->topic];
		log_t *log = t ? topic_partition_log(t, tp->partition) : NULL;
		int64_t lso, leo, pos = tp->position;

		if (log == NULL)
			continue;   /* topic gone: the next rebalance drops it */
		lso = log_start_offset(log);
		leo = log_end_offset(log);
		if (pos >= lso && pos <= leo)
			continue;
		if (pos < 0 && !fetched) {
			fetched = 1;
			if (broker_offsets_fetch(req->broker, req->group, &offs, &noffs) != 0)
				noffs = 0;
		}
		if (pos < 0)
			pos = committed_for(offs, noffs, c->info.topics[tp->topic], tp->partition);
		if (pos < lso || pos > leo)
			pos = c->info.reset == GROUP_RESET_EARLIEST ? lso
			                                            : topic_partition_hw(t, tp->partition);
		tp->position = pos;
		changed = 1;
	}
	free(offs);
	if (changed)
		rc = group_fetch_advance(broker_groups(req->broker), req->group, &c->info,
		                         broker_now_ms());
	return rc;
}

static int mfetch_has_data(const mfetch_ctx_t *c)
{
	for (size_t k = 0; k < c->info.nparts; k++) {
		const group_tp_t *tp = &c->info.parts[k];
		topic_t *t = c->topics[tp->topic];

		if (t != NULL && tp->partition < topic_partition_count(t) &&
		    topic_partition_hw(t, tp->partition) > tp->position)
			return 1;
	}
	return 0;
}

/*
 * The answer: records across the assigned partitions from their positions
 * (starting at a different partition each time, so a busy one cannot
 * starve the others), then the new positions, stored only if the member
 * still owns them in this generation.
 */
static int mfetch_respond(mfetch_ctx_t *c)
{
	api_request_t *req = c->req;
	size_t n = c->info.nparts, count = 0, start = n ? (size_t)broker_now_ms() % n : 0;
	int64_t bytes = 0;
	char tag[320];
	int rc;

	buf_reset(&c->out);
	rc = buf_appendf(&c->out, "{\"member_id\":\"%s\",\"generation\":%d,\"records\":[",
	                 c->info.member_id, (int)c->info.generation);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		group_tp_t *tp = &c->info.parts[(start + i) % n];
		topic_t *t = c->topics[tp->topic];
		log_t *log = t ? topic_partition_log(t, tp->partition) : NULL;
		topic_config_t cfg;

		if (log == NULL || (int64_t)count >= c->max_records || bytes >= c->max_bytes)
			continue;
		topic_get_config(t, &cfg);
		if (c->base64)          /* the bytes exactly, whatever the topic's formats */
			cfg.key_format = cfg.value_format = RECORD_FORMAT_BINARY;
		snprintf(tag, sizeof tag, "\"topic\":\"%s\",\"partition\":%d,",
		         c->info.topics[tp->topic], (int)tp->partition);
		rc = fetch_json_append(&c->out, &c->raw, log, topic_partition_hw(t, tp->partition),
		                       tag, cfg.key_format, cfg.value_format, c->max_records,
		                       c->max_bytes, &tp->position, &count, &bytes,
		                       req->err, sizeof req->err);
		if (rc == STRAND_ERANGE)
			rc = 0;   /* retention passed the position meanwhile: reset next time */
	}
	rc = rc ? rc : buf_append_str(&c->out, "],\"offsets\":[");
	for (size_t k = 0; rc == 0 && k < n; k++)
		rc = buf_appendf(&c->out, "%s{\"topic\":\"%s\",\"partition\":%d,\"offset\":%" PRId64 "}",
		                 k ? "," : "", c->info.topics[c->info.parts[k].topic],
		                 (int)c->info.parts[k].partition, c->info.parts[k].position);
	rc = rc ? rc : buf_append_str(&c->out, "]}");
	if (rc)
		return rc;
	rc = group_fetch_advance(broker_groups(req->broker), req->group, &c->info, broker_now_ms());
	if (rc)
		return respond_group_error(req, rc);   /* hand out nothing: positions unchanged */
	api_metrics_add_records_fetched(req->api, count);
	return api_respond_buf(req, 200, "application/json", &c->out);
}

/* One attempt: the member's current assignment, then answer or park. */
static int mfetch_attempt(mfetch_ctx_t *c)
{
	api_request_t *req = c->req;
	int rc;

	for (;;) {
		mfetch_release(c);
		rc = group_fetch_begin(broker_groups(req->broker), req->group, req->member,
		                       broker_now_ms(), c->deadline_ms, &c->info);
		if (rc)
			return respond_group_error(req, rc);
		/* the topics were checked at join; a reloaded ACL may have
		 * taken one away since */
		for (size_t t = 0; t < c->info.ntopics; t++)
			if ((rc = api_auth_require(req, ACL_READ, ACL_TOPIC, c->info.topics[t])))
				return rc;
		rc = mfetch_prepare(c);
		if (rc)
			return respond_group_error(req, rc);
		if (c->max_wait_ms == 0 || mfetch_has_data(c) || parking_now_ms() >= c->deadline_ms ||
		    api_is_stopping(req->api))
			break;
		rc = mfetch_park(c);
		if (rc == 1)
			continue;       /* something happened meanwhile: look again */
		if (rc == STRAND_ECLOSED)
			break;
		if (rc)
			return rc;
		mfetch_release_topics(c);  /* parked: hold no topic */
		return 0;
	}
	rc = mfetch_respond(c);
	mfetch_release(c);
	return rc;
}

static int mfetch_on_resume(api_request_t *req)
{
	mfetch_ctx_t *c = req->ctx;

	mfetch_cancel(c);
	c->nwaiters = 0;
	return mfetch_attempt(c);
}

/* GET /v1/groups/{group}/members/{member}/records */
int api_group_member_fetch(api_request_t *req)
{
	/* "format": keys and values by the topic's key_format/value_format;
	 * "base64": always base64 (libstrand's consumer: bytes round-trip) */
	static const char *const encodings[] = { "format", "base64", NULL };
	mfetch_ctx_t *c = calloc(1, sizeof *c);
	int rc;

	if (c == NULL)
		return STRAND_ENOMEM;
	req->ctx = c;
	req->on_cleanup = mfetch_cleanup;
	req->on_resume = mfetch_on_resume;
	c->req = req;
	c->pk = api_parking_state(req->api);
	buf_init(&c->raw);
	buf_init(&c->out);
	api_group_wait_key(req->group, c->key, sizeof c->key);
	if ((rc = api_query_int64(req, "max_records", MFETCH_DEFAULT_MAX_RECORDS, 1,
	                          MFETCH_MAX_MAX_RECORDS, &c->max_records)) ||
	    (rc = api_query_int64(req, "max_bytes", MFETCH_DEFAULT_MAX_BYTES, 1,
	                          BROKER_MAX_REQUEST_BYTES, &c->max_bytes)) ||
	    (rc = api_query_int64(req, "max_wait_ms", 0, 0, api_options(req->api)->max_wait_ms,
	                          &c->max_wait_ms)) ||
	    (rc = api_query_choice(req, "encoding", encodings, 0, &c->base64)))
		return rc;
	c->deadline_ms = parking_now_ms() + c->max_wait_ms;
	return mfetch_attempt(c);
}
