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
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/jsonbody.h"
#include "broker/broker.h"
#include "broker/replica.h"
#include "common/err.h"
#include "log/log.h"

#define EPOCH_END_MAX_PARTITIONS 10000   /* per request (the body is <= 1 MiB) */

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
