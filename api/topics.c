/*
 * topics.c — /v1/topics: list, create, describe, alter (grow partitions,
 * change configs), delete (API.md "Topics"). Configs arrive as JSON numbers
 * or strings and go through topic_config_set one by one, so the broker's
 * config table is the only place that knows names, ranges and enums.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/jsonbody.h"
#include "common/err.h"

#define TOPIC_MAX_PARTITIONS 10000

/* ---- views ------------------------------------------------------------- */

/* Is s an integer literal that JSON can carry as is? */
static int is_integer_text(const char *s)
{
	if (*s == '-')
		s++;
	if (*s < '0' || *s > '9')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int add_config(const char *name, const char *value, int is_number, void *ctx)
{
	cJSON *obj = ctx, *item;

	/* Raw keeps 64-bit values exact (a cJSON number is a double) */
	item = is_number && is_integer_text(value) ? cJSON_CreateRaw(value)
	                                           : cJSON_CreateString(value);
	if (item == NULL)
		return STRAND_ENOMEM;
	cJSON_AddItemToObject(obj, name, item);
	return 0;
}

static cJSON *configs_view(topic_t *t)
{
	topic_config_t cfg;
	cJSON *obj = cJSON_CreateObject();

	if (obj == NULL)
		return NULL;
	topic_get_config(t, &cfg);
	if (topic_config_each(&cfg, add_config, obj) != 0) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

/* One broker, id 0: leader 0, replicas [0], isr [0]. */
static cJSON *partition_view(topic_t *t, int32_t p)
{
	log_t *log = topic_partition_log(t, p);
	cJSON *o = cJSON_CreateObject(), *ids;
	int ok;

	if (o == NULL || log == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	ok = cJSON_AddNumberToObject(o, "partition", p) &&
	     cJSON_AddNumberToObject(o, "leader", 0) != NULL;
	ids = cJSON_AddArrayToObject(o, "replicas");
	ok = ok && ids && cJSON_AddItemToArray(ids, cJSON_CreateNumber(0));
	ids = cJSON_AddArrayToObject(o, "isr");
	ok = ok && ids && cJSON_AddItemToArray(ids, cJSON_CreateNumber(0));
	ok = ok && cJSON_AddNumberToObject(o, "log_start_offset", (double)log_start_offset(log)) &&
	     cJSON_AddNumberToObject(o, "high_watermark", (double)topic_partition_hw(t, p)) &&
	     cJSON_AddNumberToObject(o, "log_end_offset", (double)log_end_offset(log)) &&
	     cJSON_AddNumberToObject(o, "size_bytes", (double)log_size_bytes(log));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The describe view of API.md; NULL on allocation failure. */
static cJSON *topic_view(topic_t *t)
{
	cJSON *o = cJSON_CreateObject(), *cfg, *parts, *pv;
	int32_t p, n = topic_partition_count(t);

	if (o == NULL)
		return NULL;
	if (!cJSON_AddStringToObject(o, "name", topic_name(t)) ||
	    !cJSON_AddNumberToObject(o, "replication_factor", topic_replication_factor(t)))
		goto fail;
	cfg = configs_view(t);
	if (cfg == NULL)
		goto fail;
	cJSON_AddItemToObject(o, "configs", cfg);
	parts = cJSON_AddArrayToObject(o, "partitions");
	if (parts == NULL)
		goto fail;
	for (p = 0; p < n; p++) {
		pv = partition_view(t, p);
		if (pv == NULL)
			goto fail;
		cJSON_AddItemToArray(parts, pv);
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* Answer with the topic's view (status 200 or 201). */
static int respond_topic(api_request_t *req, unsigned status, const char *name)
{
	topic_t *t = broker_topic_get(req->broker, name);
	cJSON *view;

	if (t == NULL)
		return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_TOPIC,
		                           "the topic was deleted meanwhile", NULL);
	view = topic_view(t);
	topic_release(t);
	if (view == NULL)
		return STRAND_ENOMEM;
	return api_respond_json(req, status, view);
}

static int unknown_topic(api_request_t *req)
{
	char detail[300];

	snprintf(detail, sizeof detail, "unknown topic %s", req->topic);
	return api_respond_problem(req, 404, API_PROBLEM_UNKNOWN_TOPIC, detail, NULL);
}

/* ---- configs from JSON --------------------------------------------------- */

/*
 * Apply every member of configs (an object of numbers or strings) to cfg.
 * 0, or STRAND_EINVAL after a 400 naming the config.
 */
static int configs_apply(api_request_t *req, const cJSON *configs, topic_config_t *cfg)
{
	const cJSON *m;
	char text[32], detail[400];
	const char *value;
	int64_t v;
	int rc;

	if (!cJSON_IsObject(configs)) {
		api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST,
		                    "\"configs\" must be an object", NULL);
		return STRAND_EINVAL;
	}
	cJSON_ArrayForEach(m, configs) {
		if (cJSON_IsString(m)) {
			value = m->valuestring;
		} else if (cJSON_IsNumber(m)) {
			if (api_json_number_to_int64(m, &v) != 0) {
				snprintf(detail, sizeof detail,
				         "config %.100s must be an integer (give values above 2^53 as strings)",
				         m->string);
				api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, detail, NULL);
				return STRAND_EINVAL;
			}
			snprintf(text, sizeof text, "%" PRId64, v);
			value = text;
		} else {
			snprintf(detail, sizeof detail, "config %.100s must be a number or a string",
			         m->string);
			api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, detail, NULL);
			return STRAND_EINVAL;
		}
		rc = topic_config_set(cfg, m->string, value, req->err, sizeof req->err);
		if (rc == STRAND_ENOENT) {
			snprintf(detail, sizeof detail, "unknown config %.100s", m->string);
			api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, detail, NULL);
			return STRAND_EINVAL;
		}
		if (rc != 0) {
			api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, req->err, NULL);
			return STRAND_EINVAL;
		}
	}
	rc = topic_config_validate(cfg, req->err, sizeof req->err);
	if (rc != 0) {
		api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, req->err, NULL);
		return STRAND_EINVAL;
	}
	return 0;
}

/* ---- handlers ---------------------------------------------------------- */

/* GET /v1/topics -> [{"name","partitions","replication_factor"}] */
int api_topics_list(api_request_t *req)
{
	char **names = NULL;
	size_t n = 0, i;
	cJSON *arr = NULL, *o;
	int rc = broker_topic_names(req->broker, &names, &n);

	if (rc)
		return rc;
	arr = cJSON_CreateArray();
	if (arr == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		topic_t *t = broker_topic_get(req->broker, names[i]);
		int ok;

		if (t == NULL)
			continue;   /* deleted meanwhile */
		o = cJSON_CreateObject();
		ok = o && cJSON_AddItemToArray(arr, o) &&
		     cJSON_AddStringToObject(o, "name", topic_name(t)) &&
		     cJSON_AddNumberToObject(o, "partitions", topic_partition_count(t)) &&
		     cJSON_AddNumberToObject(o, "replication_factor", topic_replication_factor(t));
		topic_release(t);
		if (!ok)
			goto nomem;
	}
	free(names);
	return api_respond_json(req, 200, arr);
nomem:
	free(names);
	cJSON_Delete(arr);
	return STRAND_ENOMEM;
}

/* POST /v1/topics {"name","partitions","replication_factor","configs"} -> 201 view */
int api_topics_create(api_request_t *req)
{
	static const char *const members[] = {
		"name", "partitions", "replication_factor", "configs", NULL
	};
	cJSON *body = NULL;
	const cJSON *name, *configs;
	topic_config_t cfg;
	int64_t partitions, rf;
	char location[300];
	int rc;

	rc = api_json_body_object(req, 0, &body);
	if (rc)
		return rc;
	rc = api_json_only_members(req, body, "topic", members);
	if (rc)
		goto out;
	name = cJSON_GetObjectItemCaseSensitive(body, "name");
	if (!cJSON_IsString(name) || !broker_name_valid(name->valuestring)) {
		api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST,
		                    "\"name\" must be a topic name: [A-Za-z0-9._-]{1,249}, not . or ..",
		                    NULL);
		rc = STRAND_EINVAL;
		goto out;
	}
	rc = api_json_int64(req, body, "partitions", 0, 1, 1, TOPIC_MAX_PARTITIONS, &partitions);
	if (rc)
		goto out;
	rc = api_json_int64(req, body, "replication_factor", 0, 1, 1, INT16_MAX, &rf);
	if (rc)
		goto out;
	topic_config_default(&cfg);
	configs = cJSON_GetObjectItemCaseSensitive(body, "configs");
	if (configs != NULL) {
		rc = configs_apply(req, configs, &cfg);
		if (rc)
			goto out;
	}
	rc = broker_topic_create(req->broker, name->valuestring, (int32_t)partitions,
	                         (int32_t)rf, &cfg, req->err, sizeof req->err);
	if (rc)
		goto out;   /* EEXIST -> 409 TOPIC_EXISTS, EINVAL -> 400 by the table */
	snprintf(location, sizeof location, "/v1/topics/%s", name->valuestring);
	api_add_header(req, "Location", location);
	rc = respond_topic(req, 201, name->valuestring);
out:
	cJSON_Delete(body);
	return rc;
}

/* GET /v1/topics/{topic} */
int api_topic_describe(api_request_t *req)
{
	topic_t *t = broker_topic_get(req->broker, req->topic);
	cJSON *view;

	if (t == NULL)
		return unknown_topic(req);
	view = topic_view(t);
	topic_release(t);
	if (view == NULL)
		return STRAND_ENOMEM;
	return api_respond_json(req, 200, view);
}

/* PATCH /v1/topics/{topic} {"partitions": n} and/or {"configs": {...}} -> 200 view */
int api_topic_alter(api_request_t *req)
{
	static const char *const members[] = { "partitions", "configs", NULL };
	cJSON *body = NULL;
	const cJSON *configs;
	topic_config_t cfg;
	topic_t *t;
	int64_t partitions;
	int rc;

	rc = api_json_body_object(req, 0, &body);
	if (rc)
		return rc;
	rc = api_json_only_members(req, body, "request", members);
	if (rc)
		goto out;
	rc = api_json_int64(req, body, "partitions", 0, 0, 1, TOPIC_MAX_PARTITIONS, &partitions);
	if (rc)
		goto out;
	configs = cJSON_GetObjectItemCaseSensitive(body, "configs");
	if (partitions == 0 && configs == NULL) {
		rc = STRAND_EINVAL;
		api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST,
		                    "give \"partitions\" and/or \"configs\"", NULL);
		goto out;
	}
	t = broker_topic_get(req->broker, req->topic);
	if (t == NULL) {
		rc = unknown_topic(req);
		goto out;
	}
	topic_get_config(t, &cfg);   /* PATCH: given configs change, others stay */
	topic_release(t);
	if (configs != NULL) {
		rc = configs_apply(req, configs, &cfg);
		if (rc)
			goto out;
	}
	rc = broker_topic_alter(req->broker, req->topic, (int32_t)partitions,
	                        configs ? &cfg : NULL, req->err, sizeof req->err);
	if (rc == STRAND_ENOENT)
		rc = unknown_topic(req);
	else if (rc == 0)
		rc = respond_topic(req, 200, req->topic);
out:
	cJSON_Delete(body);
	return rc;
}

/* DELETE /v1/topics/{topic} -> 204 */
int api_topic_delete(api_request_t *req)
{
	int rc = broker_topic_delete(req->broker, req->topic, req->err, sizeof req->err);

	if (rc == STRAND_ENOENT)
		return unknown_topic(req);
	if (rc)
		return rc;
	return api_respond_empty(req, 204);
}
