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

#include "api/forward.h"
#include "api/handlers.h"
#include "api/jsonbody.h"
#include "common/err.h"

#define TOPIC_MAX_PARTITIONS 10000
/* Cluster mode, describe through a broker that does not lead every
 * partition: each other leader's own answer, asked for in parallel, is
 * waited for at most this long (then this broker's view of its partitions
 * is given), and used only up to FORWARD_STREAM_BUF bytes. */
#define TOPIC_DESCRIBE_LEADER_TIMEOUT_MS 2000
#define TOPIC_DESCRIBE_MAX_LEADERS       64

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

	/* Raw keeps 64-bit values exact (a cJSON number is a double); the
	 * boolean configs (unclean_leader_election) are JSON booleans */
	if (is_number && is_integer_text(value))
		item = cJSON_CreateRaw(value);
	else if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
		item = cJSON_CreateBool(value[0] == 't');
	else
		item = cJSON_CreateString(value);
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
	/* the brokers compact the internal topic (its logs are opened so,
	 * broker.c); no create or alter can ask for it */
	if (broker_topic_is_internal(topic_name(t)) &&
	    !cJSON_ReplaceItemInObject(obj, "cleanup_policy", cJSON_CreateString("compact"))) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

static int add_ids(cJSON *o, const char *name, const int32_t *ids, int32_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, name);
	int32_t i;

	for (i = 0; arr != NULL && i < n; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i])))
			return 0;
	return arr != NULL;
}

/*
 * Cluster mode: "replica_states", what this broker knows of each replica
 * (replica.h: the leader tracks its followers' log end offsets from their
 * fetches; elsewhere only the broker's own is known, -1 the others).
 * Nothing is added while no state has been applied.
 */
static int add_replica_states(cJSON *o, topic_t *t, int32_t p)
{
	replica_progress_t rp[REPLICA_MAX];
	int32_t n, epoch;
	cJSON *arr;

	if (broker_partition_replicas(t, p, &epoch, rp, REPLICA_MAX, &n) != 0)
		return 1;
	arr = cJSON_AddArrayToObject(o, "replica_states");
	for (int32_t i = 0; arr != NULL && i < n; i++) {
		cJSON *e = cJSON_CreateObject();

		if (e == NULL || !cJSON_AddItemToArray(arr, e) ||
		    !cJSON_AddNumberToObject(e, "broker", rp[i].broker) ||
		    !cJSON_AddNumberToObject(e, "log_end_offset", (double)rp[i].log_end_offset) ||
		    !cJSON_AddBoolToObject(e, "in_isr", rp[i].in_isr))
			return 0;
	}
	return arr != NULL;
}

/*
 * A partition's view. Single node: broker 0 leads, replicas [0], isr [0],
 * epoch 0. Cluster mode: the state from etcd as this broker last saw it
 * (leader -1 and empty lists while it has none).
 */
static cJSON *partition_view(topic_t *t, int32_t p, meta_t *meta)
{
	log_t *log = topic_partition_log(t, p);
	partition_state_t st;
	cJSON *o = cJSON_CreateObject();
	int ok;

	if (o == NULL || log == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	memset(&st, 0, sizeof st);
	if (meta == NULL) {
		st.nreplicas = st.nisr = 1;   /* broker 0 alone */
	} else if (meta_partition_state(meta, topic_name(t), p, &st) != 0) {
		memset(&st, 0, sizeof st);
		st.leader = -1;
	}
	ok = cJSON_AddNumberToObject(o, "partition", p) &&
	     cJSON_AddNumberToObject(o, "leader", st.leader) &&
	     cJSON_AddNumberToObject(o, "leader_epoch", st.leader_epoch) &&
	     add_ids(o, "replicas", st.replicas, st.nreplicas) &&
	     add_ids(o, "isr", st.isr, st.nisr);
	if (meta != NULL)
		ok = ok && add_replica_states(o, t, p);
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
static cJSON *topic_view(topic_t *t, meta_t *meta)
{
	cJSON *o = cJSON_CreateObject(), *cfg, *parts, *pv;
	int32_t p, n = topic_partition_count(t);

	if (o == NULL)
		return NULL;
	if (!cJSON_AddStringToObject(o, "name", topic_name(t)) ||
	    !cJSON_AddNumberToObject(o, "replication_factor", topic_replication_factor(t)) ||
	    !cJSON_AddBoolToObject(o, "internal", broker_topic_is_internal(topic_name(t))))
		goto fail;
	cfg = configs_view(t);
	if (cfg == NULL)
		goto fail;
	cJSON_AddItemToObject(o, "configs", cfg);
	parts = cJSON_AddArrayToObject(o, "partitions");
	if (parts == NULL)
		goto fail;
	for (p = 0; p < n; p++) {
		pv = partition_view(t, p, meta);
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
	view = topic_view(t, api_meta(req->api));
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

/* Cluster mode: etcd could not be asked; the client retries (Retry-After). */
static int respond_meta_error(api_request_t *req, int rc)
{
	if (rc == STRAND_EUNAVAILABLE)
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, req->err, NULL);
	if (rc == STRAND_ENOENT)
		return unknown_topic(req);
	return rc;   /* EEXIST 409, EINVAL 400, ETIMEDOUT 503 by the table */
}

/* Cluster mode before the broker has read the topics from etcd. */
static int cluster_not_joined(api_request_t *req)
{
	return api_options(req->api)->cluster_mode && api_meta(req->api) == NULL;
}

static int respond_not_joined(api_request_t *req)
{
	return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, "joining the cluster: "
	                           "topics not yet read from etcd", NULL);
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
		} else if (cJSON_IsBool(m)) {
			value = cJSON_IsTrue(m) ? "true" : "false";
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
			snprintf(detail, sizeof detail, "config %.100s must be a number, a string or a "
			         "boolean",
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

/*
 * Cluster mode: the configs object (already checked by configs_apply) as
 * name/value texts for meta_topic_alter, which sets them over the configs
 * etcd holds. kv and texts have room for every member.
 */
static size_t configs_collect(const cJSON *configs, meta_config_kv_t *kv, char (*texts)[32])
{
	const cJSON *m;
	int64_t v;
	size_t n = 0;

	cJSON_ArrayForEach(m, configs) {
		kv[n].name = m->string;
		if (cJSON_IsString(m)) {
			kv[n].value = m->valuestring;
		} else if (cJSON_IsBool(m)) {
			kv[n].value = cJSON_IsTrue(m) ? "true" : "false";
		} else {
			(void)api_json_number_to_int64(m, &v);
			snprintf(texts[n], sizeof texts[n], "%" PRId64, v);
			kv[n].value = texts[n];
		}
		n++;
	}
	return n;
}

/* ---- handlers ---------------------------------------------------------- */

/* 400 for an admin change of an internal topic (broker.h BROKER_OFFSETS_TOPIC). */
static int internal_refused(api_request_t *req, const char *name, const char *what)
{
	snprintf(req->err, sizeof req->err, "topic %s is internal: the brokers %s it (it holds "
	         "consumer groups and committed offsets); it cannot be %s by a client",
	         name, strcmp(what, "created") == 0 ? "create" : "manage", what);
	return api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, req->err, NULL);
}

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
		     cJSON_AddNumberToObject(o, "replication_factor", topic_replication_factor(t)) &&
		     cJSON_AddBoolToObject(o, "internal", broker_topic_is_internal(topic_name(t)));
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

	if (cluster_not_joined(req))
		return respond_not_joined(req);
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
	if (broker_topic_is_internal(name->valuestring)) {
		rc = internal_refused(req, name->valuestring, "created");
		goto out;
	}
	rc = api_json_int64(req, body, "partitions", 0, 1, 1, TOPIC_MAX_PARTITIONS, &partitions);
	if (rc)
		goto out;
	rc = api_json_int64(req, body, "replication_factor", 0,
	                    broker_default_replication_factor(req->broker), 1, INT16_MAX, &rf);
	if (rc)
		goto out;
	broker_topic_config_default(req->broker, &cfg);   /* strand serve's defaults */
	configs = cJSON_GetObjectItemCaseSensitive(body, "configs");
	if (configs != NULL) {
		rc = configs_apply(req, configs, &cfg);
		if (rc)
			goto out;
	}
	if (api_meta(req->api) != NULL) {
		/* cluster mode: into etcd, then applied here by the watcher */
		rc = meta_topic_create(api_meta(req->api), name->valuestring, (int32_t)partitions,
		                       (int32_t)rf, &cfg, req->err, sizeof req->err);
		if (rc) {
			rc = respond_meta_error(req, rc);
			goto out;
		}
	} else {
		rc = broker_topic_create(req->broker, name->valuestring, (int32_t)partitions,
		                         (int32_t)rf, &cfg, req->err, sizeof req->err);
	}
	if (rc)
		goto out;   /* EEXIST -> 409 TOPIC_EXISTS, EINVAL -> 400 by the table */
	snprintf(location, sizeof location, "/v1/topics/%s", name->valuestring);
	api_add_header(req, "Location", location);
	rc = respond_topic(req, 201, name->valuestring);
out:
	cJSON_Delete(body);
	return rc;
}

/*
 * Describe through any broker (cluster mode). Only a partition's leader
 * knows its followers' log end offsets (replica_states) and the partition's
 * high watermark; a follower knows its own LEO and a HW that lags. So the
 * broker asked asks each other leader of the topic's partitions for its own
 * answer (`GET /v1/topics/{topic}` with `Strand-Route: direct`: the leader
 * answers from what it knows and asks no one), all at once, parked (no
 * thread waits), each bounded by TOPIC_DESCRIBE_LEADER_TIMEOUT_MS, and puts
 * the entry of each partition that leader says it leads into its answer in
 * place of its own. A leader that does not answer in time (or whose answer
 * is over FORWARD_STREAM_BUF) leaves this broker's own entry: leader, ISR and
 * epoch from etcd, -1 for the LEOs it does not know.
 */
typedef struct describe_ctx {
	cJSON         *view;      /* this broker's answer, leaders' entries put in */
	forward_set_t *fwd;
	int32_t        leader[TOPIC_DESCRIBE_MAX_LEADERS];
	size_t         call[TOPIC_DESCRIBE_MAX_LEADERS];
	size_t         n;
} describe_ctx_t;

static void describe_cleanup(api_request_t *req)
{
	describe_ctx_t *c = req->ctx;

	if (c == NULL)
		return;
	forward_set_free(c->fwd);   /* calls still running are abandoned */
	cJSON_Delete(c->view);
	free(c);
	req->ctx = NULL;
}

/* Put in the entries of the partitions the leader of call i says it leads. */
static void describe_merge_one(describe_ctx_t *c, size_t i)
{
	cJSON *parts = cJSON_GetObjectItemCaseSensitive(c->view, "partitions"), *doc, *p, *next;
	forward_answer_t a;
	const cJSON *num, *leader;

	forward_set_answer(c->fwd, c->call[i], &a);
	if (a.status != 200 || a.truncated)
		return;
	doc = cJSON_ParseWithLength(a.body, a.len);
	p = cJSON_GetObjectItemCaseSensitive(doc, "partitions");
	for (p = p != NULL ? p->child : NULL; p != NULL; p = next) {
		next = p->next;
		num = cJSON_GetObjectItemCaseSensitive(p, "partition");
		leader = cJSON_GetObjectItemCaseSensitive(p, "leader");
		if (!cJSON_IsNumber(num) || !cJSON_IsNumber(leader) ||
		    leader->valueint != c->leader[i] || num->valueint < 0 ||
		    num->valueint >= cJSON_GetArraySize(parts))
			continue;
		cJSON_DetachItemViaPointer(cJSON_GetObjectItemCaseSensitive(doc, "partitions"), p);
		cJSON_ReplaceItemInArray(parts, num->valueint, p);
	}
	cJSON_Delete(doc);
}

/* Answer with the view, the leaders' entries put in when all answered. */
static int describe_answer(api_request_t *req, int all_answered)
{
	describe_ctx_t *c = req->ctx;
	cJSON *view;
	size_t i;

	for (i = 0; all_answered && i < c->n; i++)
		describe_merge_one(c, i);
	view = c->view;
	c->view = NULL;
	return api_respond_json(req, 200, view);
}

static int describe_on_resume(api_request_t *req)
{
	describe_ctx_t *c = req->ctx;
	int rc = forward_set_wait(c->fwd);

	if (rc == 0)
		return 0;   /* parked again until the last leader answers */
	return describe_answer(req, rc == 1);   /* stopping: this broker's own view */
}

/* The other leaders of the view's partitions: ask each for its answer.
 * 1 when some were asked (req->ctx holds them), 0 when none need be. */
static int describe_ask_leaders(api_request_t *req, cJSON *view, describe_ctx_t **out)
{
	char path[300], url[256];
	describe_ctx_t *c;
	const cJSON *p;
	int32_t id;
	size_t i;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return STRAND_ENOMEM;
	snprintf(path, sizeof path, "/v1/topics/%s", req->topic);
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(view, "partitions")) {
		const cJSON *num = cJSON_GetObjectItemCaseSensitive(p, "partition");

		if (!cJSON_IsNumber(num) ||
		    api_forward_locate(req, req->topic, num->valueint, &id, url, sizeof url) != 1)
			continue;   /* led here, no leader now, or unknown */
		for (i = 0; i < c->n && c->leader[i] != id; i++)
			;
		if (i < c->n || c->n == TOPIC_DESCRIBE_MAX_LEADERS)
			continue;
		if (c->fwd == NULL && (rc = forward_set_new(req, &c->fwd)) != 0)
			goto fail;
		rc = forward_set_get(c->fwd, id, url, path, TOPIC_DESCRIBE_LEADER_TIMEOUT_MS,
		                     &c->call[c->n]);
		if (rc != 0 && rc != STRAND_EAGAIN)
			goto fail;      /* EAGAIN: kept as a call without an answer */
		c->leader[c->n++] = id;
	}
	if (c->n == 0) {
		forward_set_free(c->fwd);
		free(c);
		return 0;
	}
	c->view = view;
	*out = c;
	return 1;
fail:
	forward_set_free(c->fwd);
	free(c);
	return rc;
}

/* GET /v1/topics/{topic} */
int api_topic_describe(api_request_t *req)
{
	topic_t *t = broker_topic_get(req->broker, req->topic);
	describe_ctx_t *c;
	cJSON *view;
	int rc;

	if (t == NULL)
		return unknown_topic(req);
	view = topic_view(t, api_meta(req->api));
	topic_release(t);
	if (view == NULL)
		return STRAND_ENOMEM;
	if (api_meta(req->api) == NULL || api_forward_is_direct(req))
		return api_respond_json(req, 200, view);
	rc = describe_ask_leaders(req, view, &c);
	if (rc <= 0) {
		if (rc < 0)
			cJSON_Delete(view);
		return rc < 0 ? rc : api_respond_json(req, 200, view);
	}
	req->ctx = c;
	req->on_cleanup = describe_cleanup;
	req->on_resume = describe_on_resume;
	return describe_on_resume(req);
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

	if (cluster_not_joined(req))
		return respond_not_joined(req);
	if (broker_topic_is_internal(req->topic))
		return internal_refused(req, req->topic, "altered");
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
	if (api_meta(req->api) != NULL) {
		size_t nkv = configs ? (size_t)cJSON_GetArraySize(configs) : 0;
		meta_config_kv_t *kv = calloc(nkv + 1, sizeof *kv);
		char (*texts)[32] = calloc(nkv + 1, sizeof *texts);

		if (kv == NULL || texts == NULL) {
			rc = STRAND_ENOMEM;
		} else {
			nkv = configs ? configs_collect(configs, kv, texts) : 0;
			rc = meta_topic_alter(api_meta(req->api), req->topic, (int32_t)partitions,
			                      kv, nkv, req->err, sizeof req->err);
		}
		free(kv);
		free(texts);
		if (rc != 0 && rc != STRAND_ENOMEM) {
			rc = respond_meta_error(req, rc);
			goto out;
		}
	} else {
		rc = broker_topic_alter(req->broker, req->topic, (int32_t)partitions,
		                        configs ? &cfg : NULL, req->err, sizeof req->err);
	}
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
	meta_t *meta = api_meta(req->api);
	int rc;

	if (cluster_not_joined(req))
		return respond_not_joined(req);
	if (broker_topic_is_internal(req->topic))
		return internal_refused(req, req->topic, "deleted");
	if (meta != NULL) {
		rc = meta_topic_delete(meta, req->topic, req->err, sizeof req->err);
		if (rc)
			return respond_meta_error(req, rc);
		return api_respond_empty(req, 204);
	}
	rc = broker_topic_delete(req->broker, req->topic, req->err, sizeof req->err);

	if (rc == STRAND_ENOENT)
		return unknown_topic(req);
	if (rc)
		return rc;
	return api_respond_empty(req, 204);
}
