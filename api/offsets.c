/*
 * offsets.c — simple (member-less) group offsets and the group views of
 * API.md "Consumer groups": commit, read back with lag, list, describe,
 * delete. Group membership comes in a later issue: until then every group
 * is "Empty" (Kafka's state for a group with committed offsets and no
 * members), a commit with a member_id answers 404 UNKNOWN_MEMBER, and a
 * member-less commit is always allowed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/jsonbody.h"
#include "common/err.h"

#define OFFSETS_MAX_PER_COMMIT 100000

static int invalid(api_request_t *req, const char *detail)
{
	api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, detail, NULL);
	return STRAND_EINVAL;
}

/* Parse one {"topic","partition","offset","metadata"} into o. */
static int parse_offset(api_request_t *req, const cJSON *item, size_t i, committed_offset_t *o)
{
	static const char *const members[] = { "topic", "partition", "offset", "metadata", NULL };
	const cJSON *topic, *meta;
	char what[48], detail[200];
	int64_t v;
	int rc;

	snprintf(what, sizeof what, "offsets[%zu]", i);
	if (!cJSON_IsObject(item)) {
		snprintf(detail, sizeof detail, "%s must be an object", what);
		return invalid(req, detail);
	}
	rc = api_json_only_members(req, item, what, members);
	if (rc)
		return rc;
	topic = cJSON_GetObjectItemCaseSensitive(item, "topic");
	if (!cJSON_IsString(topic) || !broker_name_valid(topic->valuestring)) {
		snprintf(detail, sizeof detail, "%s.topic must be a topic name", what);
		return invalid(req, detail);
	}
	snprintf(o->topic, sizeof o->topic, "%s", topic->valuestring);
	rc = api_json_int64(req, item, "partition", 1, 0, 0, INT32_MAX, &v);
	if (rc)
		return rc;
	o->partition = (int32_t)v;
	rc = api_json_int64(req, item, "offset", 1, 0, 0, INT64_MAX, &o->offset);
	if (rc)
		return rc;
	meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
	o->metadata[0] = '\0';
	if (meta != NULL && !cJSON_IsNull(meta)) {
		if (!cJSON_IsString(meta) || strlen(meta->valuestring) >= sizeof o->metadata) {
			snprintf(detail, sizeof detail, "%s.metadata must be a string of at most %zu bytes",
			         what, sizeof o->metadata - 1);
			return invalid(req, detail);
		}
		snprintf(o->metadata, sizeof o->metadata, "%s", meta->valuestring);
	}
	return 0;
}

/* Precise 404s: which of topic / partition is unknown. */
static int check_exists(api_request_t *req, const committed_offset_t *o)
{
	topic_t *t = broker_topic_get(req->broker, o->topic);
	char detail[320];
	int32_t n;

	if (t == NULL) {
		snprintf(detail, sizeof detail, "unknown topic %s", o->topic);
		api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_TOPIC, detail, NULL);
		return STRAND_ENOENT;
	}
	n = topic_partition_count(t);
	topic_release(t);
	if (o->partition >= n) {
		snprintf(detail, sizeof detail, "topic %s has no partition %d (it has %d)",
		         o->topic, (int)o->partition, (int)n);
		api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_PARTITION, detail, NULL);
		return STRAND_ENOENT;
	}
	return 0;
}

/* POST /v1/groups/{group}/offsets -> 204 */
int api_group_offsets_commit(api_request_t *req)
{
	static const char *const members[] = { "member_id", "generation", "offsets", NULL };
	committed_offset_t *offs = NULL;
	const cJSON *member, *list, *item;
	cJSON *body = NULL;
	int64_t generation;
	size_t n, i = 0;
	int rc;

	rc = api_json_body_object(req, 0, &body);
	if (rc)
		return rc;
	rc = api_json_only_members(req, body, "request", members);
	if (rc)
		goto out;
	member = cJSON_GetObjectItemCaseSensitive(body, "member_id");
	if (member != NULL && !cJSON_IsNull(member) && !cJSON_IsString(member)) {
		rc = invalid(req, "member_id must be a string");
		goto out;
	}
	rc = api_json_int64(req, body, "generation", 0, -1, -1, INT32_MAX, &generation);
	if (rc)
		goto out;
	if (cJSON_IsString(member)) {
		rc = api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_MEMBER,
		                         "unknown member: this group has no members; "
		                         "commit without member_id", NULL);
		goto out;
	}
	list = cJSON_GetObjectItemCaseSensitive(body, "offsets");
	n = (size_t)cJSON_GetArraySize(list);
	if (!cJSON_IsArray(list) || n == 0 || n > OFFSETS_MAX_PER_COMMIT) {
		rc = invalid(req, "\"offsets\" must be a non-empty array of "
		                  "{\"topic\",\"partition\",\"offset\",\"metadata\"}");
		goto out;
	}
	offs = calloc(n, sizeof *offs);
	if (offs == NULL) {
		rc = STRAND_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(item, list) {
		rc = parse_offset(req, item, i, &offs[i]);
		if (rc == 0)
			rc = check_exists(req, &offs[i]);
		if (rc)
			goto out;
		i++;
	}
	rc = broker_offsets_commit(req->broker, req->group, offs, n, req->err, sizeof req->err);
	if (rc == 0)
		rc = api_respond_empty(req, 204);
out:
	free(offs);
	cJSON_Delete(body);
	return rc;
}

/*
 * The committed offsets of group with lag (high watermark - committed,
 * never negative) per partition, into arr; *total_lag sums them.
 * A topic deleted since the commit shows high_watermark and lag as null.
 */
static int offsets_view(api_request_t *req, const committed_offset_t *offs, size_t n,
                        cJSON *arr, int64_t *total_lag)
{
	size_t i;

	*total_lag = 0;
	for (i = 0; i < n; i++) {
		topic_t *t = broker_topic_get(req->broker, offs[i].topic);
		cJSON *o = cJSON_CreateObject();
		int64_t hw = -1, lag = -1;
		int ok;

		if (t != NULL && offs[i].partition < topic_partition_count(t)) {
			hw = topic_partition_hw(t, offs[i].partition);
			lag = hw > offs[i].offset ? hw - offs[i].offset : 0;
			*total_lag += lag;
		}
		if (t != NULL)
			topic_release(t);
		ok = o && cJSON_AddItemToArray(arr, o) &&
		     cJSON_AddStringToObject(o, "topic", offs[i].topic) &&
		     cJSON_AddNumberToObject(o, "partition", offs[i].partition) &&
		     cJSON_AddNumberToObject(o, "offset", (double)offs[i].offset) &&
		     cJSON_AddStringToObject(o, "metadata", offs[i].metadata) &&
		     (hw >= 0 ? cJSON_AddNumberToObject(o, "high_watermark", (double)hw) != NULL
		              : cJSON_AddNullToObject(o, "high_watermark") != NULL) &&
		     (lag >= 0 ? cJSON_AddNumberToObject(o, "lag", (double)lag) != NULL
		               : cJSON_AddNullToObject(o, "lag") != NULL);
		if (!ok)
			return STRAND_ENOMEM;
	}
	return 0;
}

/*
 * The group document: {"group", ["state","members",] "offsets", "lag"}.
 * describe adds the state and members. *found 0 when the group has no
 * committed offsets.
 */
static int group_doc(api_request_t *req, int describe, cJSON **out, int *found)
{
	committed_offset_t *offs = NULL;
	size_t n = 0;
	cJSON *doc = cJSON_CreateObject(), *arr;
	int64_t total;
	int rc;

	*out = NULL;
	rc = broker_offsets_fetch(req->broker, req->group, &offs, &n);
	*found = rc == 0;
	if (rc == STRAND_ENOENT) {
		rc = 0;
		n = 0;
	}
	if (rc)
		goto fail;
	rc = STRAND_ENOMEM;
	if (doc == NULL || !cJSON_AddStringToObject(doc, "group", req->group))
		goto fail;
	if (describe && (!cJSON_AddStringToObject(doc, "state", "Empty") ||
	                 !cJSON_AddArrayToObject(doc, "members")))
		goto fail;
	arr = cJSON_AddArrayToObject(doc, "offsets");
	if (arr == NULL)
		goto fail;
	rc = offsets_view(req, offs, n, arr, &total);
	if (rc)
		goto fail;
	if (!cJSON_AddNumberToObject(doc, "lag", (double)total)) {
		rc = STRAND_ENOMEM;
		goto fail;
	}
	free(offs);
	*out = doc;
	return 0;
fail:
	free(offs);
	cJSON_Delete(doc);
	return rc;
}

/* GET /v1/groups/{group}/offsets (an unknown group has no offsets: 200, empty) */
int api_group_offsets_get(api_request_t *req)
{
	cJSON *doc;
	int found, rc = group_doc(req, 0, &doc, &found);

	if (rc)
		return rc;
	return api_respond_json(req, 200, doc);
}

static int unknown_group(api_request_t *req)
{
	char detail[300];

	snprintf(detail, sizeof detail, "unknown group %s", req->group);
	return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_GROUP, detail, NULL);
}

/* GET /v1/groups/{group} */
int api_group_describe(api_request_t *req)
{
	cJSON *doc;
	int found, rc = group_doc(req, 1, &doc, &found);

	if (rc)
		return rc;
	if (!found) {
		cJSON_Delete(doc);
		return unknown_group(req);
	}
	return api_respond_json(req, 200, doc);
}

/* GET /v1/groups -> [{"group","state"}] */
int api_groups_list(api_request_t *req)
{
	char **names = NULL;
	size_t n = 0, i;
	cJSON *arr, *o;
	int rc = broker_group_names(req->broker, &names, &n);

	if (rc)
		return rc;
	arr = cJSON_CreateArray();
	for (i = 0; arr != NULL && i < n; i++) {
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
		    !cJSON_AddStringToObject(o, "group", names[i]) ||
		    !cJSON_AddStringToObject(o, "state", "Empty")) {
			cJSON_Delete(arr);
			arr = NULL;
		}
	}
	free(names);
	if (arr == NULL)
		return STRAND_ENOMEM;
	return api_respond_json(req, 200, arr);
}

/* DELETE /v1/groups/{group} -> 204 (no members exist yet, so never GROUP_NOT_EMPTY) */
int api_group_delete(api_request_t *req)
{
	int rc = broker_group_delete(req->broker, req->group, req->err, sizeof req->err);

	if (rc == STRAND_ENOENT)
		return unknown_group(req);
	if (rc)
		return rc;
	return api_respond_empty(req, 204);
}
