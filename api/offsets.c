/*
 * offsets.c — group offsets and the group views of API.md "Consumer
 * groups": commits (fenced by member and generation, or simple while the
 * group has no members), committed offsets with lag, list, describe (state,
 * generation, members, assignments, lag), delete. Membership itself is
 * api/groups.c over the coordinator (src/broker/group.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/forward.h"
#include "api/handlers.h"
#include "api/jsonbody.h"
#include "api/parking.h"
#include "cluster/meta.h"
#include "common/buf.h"
#include "common/err.h"

#define OFFSETS_MAX_PER_COMMIT 100000
/* cluster mode: how long a commit or group delete waits for the in-sync
 * replicas (Kafka's offsets.commit.timeout.ms) before 503 REQUEST_TIMED_OUT */
#define GROUP_WRITE_TIMEOUT_MS 5000
/* the group list: other coordinators asked at most (brokers in a cluster) */
#define FORWARD_LIST_MAX 64

/* ---- acks=all: a group write waits for the high watermark ---------------- */

typedef struct group_wait {
	api_request_t       *req;
	broker_group_write_t w;
	parking_t           *pk;
	parking_waiter_t     waiter;
	int64_t              deadline_ms;
} group_wait_t;

static void group_wait_cleanup(api_request_t *req)
{
	group_wait_t *gw = req->ctx;

	if (gw == NULL)
		return;
	parking_cancel(gw->pk, &gw->waiter);   /* after it, no wake can touch gw */
	free(gw);
}

/* Under the registry's lock: committed (or never will be here), or park. */
static int group_wait_arm(void *ctx)
{
	group_wait_t *gw = ctx;

	if (broker_group_committed(gw->req->broker, &gw->w, NULL, 0) != 0)
		return 1;
	return api_suspend(gw->req);
}

static void group_wait_wake(void *ctx, parking_reason_t why)
{
	group_wait_t *gw = ctx;

	(void)why;
	api_resume(gw->req);
}

/* 204 once the records are below the high watermark; 503 when they may
 * never be (NOT_ENOUGH_REPLICAS) or not within GROUP_WRITE_TIMEOUT_MS. */
static int group_wait_check(api_request_t *req)
{
	group_wait_t *gw = req->ctx;
	int rc;

	for (;;) {
		rc = broker_group_committed(req->broker, &gw->w, req->err, sizeof req->err);
		if (rc == 1) {
			/* committed: fsync'd too where the ISR's copies are not enough */
			rc = broker_group_flush(req->broker, &gw->w, req->err, sizeof req->err);
			return rc ? api_respond_error(req, rc, req->err) : api_respond_empty(req, 204);
		}
		if (rc < 0)
			return api_respond_error(req, rc, req->err);
		if (parking_now_ms() >= gw->deadline_ms || api_is_stopping(req->api))
			return api_respond_problem(req, 503, API_PROBLEM_REQUEST_TIMED_OUT,
			                           "the group's records were appended to "
			                           BROKER_OFFSETS_TOPIC " but not committed by its "
			                           "in-sync replicas in time; retry the request", NULL);
		rc = parking_wait(gw->pk, &gw->waiter, BROKER_OFFSETS_TOPIC, gw->w.partition,
		                  gw->w.end_offset - 1, gw->deadline_ms, group_wait_arm,
		                  group_wait_wake, gw);
		if (rc == 1)
			continue;                 /* committed (or refused) meanwhile: look */
		if (rc == STRAND_ECLOSED)
			return api_respond_problem(req, 503, API_PROBLEM_REQUEST_TIMED_OUT,
			                           "the broker is stopping: the group's records are "
			                           "not committed yet", NULL);
		return rc;                        /* 0: parked */
	}
}

/* Answer a group write 204: at once on a single node (offsets.json is
 * durable), else once w is committed (acks=all; docs/GROUPS.md). */
static int group_write_answer(api_request_t *req, const broker_group_write_t *w)
{
	group_wait_t *gw;

	if (w->partition < 0)
		return api_respond_empty(req, 204);
	gw = calloc(1, sizeof *gw);
	if (gw == NULL)
		return STRAND_ENOMEM;
	gw->req = req;
	gw->w = *w;
	gw->pk = api_parking_state(req->api);
	parking_waiter_init(&gw->waiter);
	gw->deadline_ms = parking_now_ms() + GROUP_WRITE_TIMEOUT_MS;
	req->ctx = gw;
	req->on_cleanup = group_wait_cleanup;
	req->on_resume = group_wait_check;
	return group_wait_check(req);
}

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
	broker_group_write_t w;
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
	if (cJSON_IsString(member) && generation < 0) {
		rc = invalid(req, "a commit with member_id needs the member's generation");
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
		if (rc == 0)   /* Kafka's OffsetCommit: read on the group (route) and topic */
			rc = api_auth_require(req, ACL_READ, ACL_TOPIC, offs[i].topic);
		if (rc == 0)
			rc = check_exists(req, &offs[i]);
		if (rc)
			goto out;
		i++;
	}
	/* fenced: UNKNOWN_MEMBER, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
	 * GROUP_NOT_EMPTY come back as codes the core's table answers */
	rc = broker_group_commit(req->broker, req->group,
	                         cJSON_IsString(member) ? member->valuestring : NULL,
	                         (int32_t)generation, offs, n, broker_now_ms(), &w,
	                         req->err, sizeof req->err);
	if (rc == 0)
		rc = group_write_answer(req, &w);
out:
	free(offs);
	cJSON_Delete(body);
	return rc;
}

/* The member owning (topic, p) in the described generation, or NULL. */
static const char *owner_of(const group_desc_t *d, const char *topic, int32_t p)
{
	for (size_t i = 0; i < d->nmembers; i++) {
		const group_member_info_t *m = &d->members[i].info;

		for (size_t k = 0; k < m->nparts; k++)
			if (m->parts[k].partition == p && strcmp(m->topics[m->parts[k].topic], topic) == 0)
				return m->member_id;
	}
	return NULL;
}

/* One member of a describe: id, subscription, timeouts, assignment. */
static cJSON *member_view(const group_member_desc_t *md)
{
	const group_member_info_t *m = &md->info;
	cJSON *o = cJSON_CreateObject(), *subs, *asg, *entry = NULL, *parts = NULL;
	uint32_t cur = UINT32_MAX;

	if (o == NULL || !cJSON_AddStringToObject(o, "member_id", m->member_id) ||
	    !cJSON_AddNumberToObject(o, "generation", m->generation) ||
	    (subs = cJSON_AddArrayToObject(o, "topics")) == NULL ||
	    !cJSON_AddNumberToObject(o, "session_timeout_ms", (double)m->session_timeout_ms) ||
	    !cJSON_AddNumberToObject(o, "rebalance_timeout_ms", (double)md->rebalance_timeout_ms) ||
	    !cJSON_AddStringToObject(o, "auto_offset_reset",
	                             m->reset == GROUP_RESET_EARLIEST ? "earliest" : "latest") ||
	    (asg = cJSON_AddArrayToObject(o, "assignment")) == NULL)
		goto fail;
	for (size_t i = 0; i < md->nsubscription; i++)
		if (!cJSON_AddItemToArray(subs, cJSON_CreateString(md->subscription[i])))
			goto fail;
	for (size_t k = 0; k < m->nparts; k++) {
		if (m->parts[k].topic != cur) {
			cur = m->parts[k].topic;
			entry = cJSON_CreateObject();
			if (entry == NULL || !cJSON_AddItemToArray(asg, entry) ||
			    !cJSON_AddStringToObject(entry, "topic", m->topics[cur]) ||
			    (parts = cJSON_AddArrayToObject(entry, "partitions")) == NULL)
				goto fail;
		}
		if (!cJSON_AddItemToArray(parts, cJSON_CreateNumber(m->parts[k].partition)))
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/*
 * The committed offsets of group with lag (high watermark - committed,
 * never negative) per partition, into arr; *total_lag sums them.
 * A topic deleted since the commit shows high_watermark and lag as null.
 */
static int offsets_view(api_request_t *req, const committed_offset_t *offs, size_t n,
                        const group_desc_t *desc, cJSON *arr, int64_t *total_lag)
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
		if (ok && desc != NULL) {
			const char *owner = owner_of(desc, offs[i].topic, offs[i].partition);

			ok = owner ? cJSON_AddStringToObject(o, "member_id", owner) != NULL
			           : cJSON_AddNullToObject(o, "member_id") != NULL;
		}
		if (!ok)
			return STRAND_ENOMEM;
	}
	return 0;
}

/*
 * The group document: {"group", [describe: "state","generation","assignor",
 * "members",] "offsets", "lag"}. *found 0 when the group has neither
 * committed offsets nor coordinator state.
 */
static int group_doc(api_request_t *req, int describe, cJSON **out, int *found)
{
	committed_offset_t *offs = NULL;
	group_desc_t desc;
	size_t n = 0;
	cJSON *doc = cJSON_CreateObject(), *arr, *members;
	int64_t total;
	int rc, known;

	*out = NULL;
	rc = group_describe(broker_groups(req->broker), req->group, broker_now_ms(), &desc);
	known = rc == 0;
	if (rc != 0 && rc != STRAND_ENOENT) {
		cJSON_Delete(doc);
		return rc;
	}
	rc = broker_offsets_fetch(req->broker, req->group, &offs, &n);
	*found = rc == 0 || known;
	if (rc == STRAND_ENOENT) {
		rc = 0;
		n = 0;
	}
	if (rc)
		goto fail;
	rc = STRAND_ENOMEM;
	if (doc == NULL || !cJSON_AddStringToObject(doc, "group", req->group))
		goto fail;
	if (describe) {
		if (!cJSON_AddStringToObject(doc, "state",
		                             group_state_name(known ? desc.state : GROUP_EMPTY)) ||
		    !cJSON_AddNumberToObject(doc, "generation", known ? desc.generation : 0) ||
		    !(known ? cJSON_AddStringToObject(doc, "assignor", assignor_name(desc.assignor))
		            : cJSON_AddNullToObject(doc, "assignor")) ||
		    (members = cJSON_AddArrayToObject(doc, "members")) == NULL)
			goto fail;
		for (size_t i = 0; known && i < desc.nmembers; i++)
			if (!cJSON_AddItemToArray(members, member_view(&desc.members[i])))
				goto fail;
	}
	arr = cJSON_AddArrayToObject(doc, "offsets");
	if (arr == NULL)
		goto fail;
	rc = offsets_view(req, offs, n, describe && known ? &desc : NULL, arr, &total);
	if (rc)
		goto fail;
	if (!cJSON_AddNumberToObject(doc, "lag", (double)total)) {
		rc = STRAND_ENOMEM;
		goto fail;
	}
	free(offs);
	if (known)
		group_desc_free(&desc);
	*out = doc;
	return 0;
fail:
	free(offs);
	if (known)
		group_desc_free(&desc);
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

static int list_add(cJSON *arr, const char *name, const group_summary_t *s)
{
	cJSON *o = cJSON_CreateObject();

	return o != NULL && cJSON_AddItemToArray(arr, o) &&
	       cJSON_AddStringToObject(o, "group", name) &&
	       cJSON_AddStringToObject(o, "state", group_state_name(s ? s->state : GROUP_EMPTY)) &&
	       cJSON_AddNumberToObject(o, "generation", s ? s->generation : 0) &&
	       cJSON_AddNumberToObject(o, "members", s ? (double)s->nmembers : 0);
}

/*
 * The groups this broker knows (its coordinator's and those with committed
 * offsets, merged by name) into arr; in cluster mode only those it
 * coordinates now, after loading the partitions of __consumer_offsets it
 * leads, and 503 when it does not lead one of expect (the partitions the
 * asking broker's view gave it: their groups would be missing).
 */
static int groups_list_local(api_request_t *req, const int32_t *expect, size_t nexpect,
                             cJSON *arr)
{
	group_summary_t *sums = NULL;
	char **names = NULL;
	size_t n = 0, ns = 0, i = 0, j = 0;
	int rc, c, ok = 1;

	rc = broker_groups_ready_here(req->broker, expect, nexpect, req->err, sizeof req->err);
	if (rc == STRAND_ENOTLEADER || rc == STRAND_EUNAVAILABLE) {
		api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, req->err, NULL);
		return rc;
	}
	if (rc == 0)
		rc = broker_group_names(req->broker, &names, &n);
	if (rc == 0)
		rc = group_list(broker_groups(req->broker), broker_now_ms(), &sums, &ns);
	while (rc == 0 && ok && (i < n || j < ns)) {
		const char *name;

		c = i == n ? 1 : j == ns ? -1 : strcmp(names[i], sums[j].name);
		name = c < 0 ? names[i] : sums[j].name;
		if (broker_group_coordinated_here(req->broker, name))
			ok = list_add(arr, name, c < 0 ? NULL : &sums[j]);
		if (c < 0) {
			i++;
		} else {
			i += c == 0;
			j++;
		}
	}
	free(names);
	free(sums);
	return rc == 0 && !ok ? STRAND_ENOMEM : rc;
}

static int group_item_cmp(const void *a, const void *b)
{
	const cJSON *ga = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)a, "group");
	const cJSON *gb = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)b, "group");

	return strcmp(cJSON_IsString(ga) ? ga->valuestring : "",
	              cJSON_IsString(gb) ? gb->valuestring : "");
}

/* Sort arr's items by "group" (they come from several coordinators). */
static int groups_sort(cJSON *arr)
{
	int n = cJSON_GetArraySize(arr);
	cJSON **items = malloc((size_t)(n > 0 ? n : 1) * sizeof *items);

	if (items == NULL)
		return STRAND_ENOMEM;
	for (int i = n; i-- > 0;)
		items[i] = cJSON_DetachItemFromArray(arr, i);
	qsort(items, (size_t)n, sizeof *items, group_item_cmp);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, items[i]);
	free(items);
	return 0;
}

/* GET /v1/groups in a cluster: the other coordinators asked. */
typedef struct groups_fanout {
	forward_set_t *set;
	size_t         ncalls;
	int32_t       *mine;      /* the __consumer_offsets partitions our view says we lead */
	size_t         nmine;
} groups_fanout_t;

static void groups_list_cleanup(api_request_t *req)
{
	groups_fanout_t *f = req->ctx;

	forward_set_free(f->set);
	free(f->mine);
	free(f);
}

/*
 * ?partitions=1,5,9 (a broker asking another with Strand-Route: direct):
 * the partitions of __consumer_offsets the asker's view says this broker
 * leads, into *out (malloc'd). 400 itself on a bad list.
 */
static int groups_expect_parse(api_request_t *req, int32_t **out, size_t *n)
{
	const char *q = api_query(req, "partitions");
	int32_t *v = NULL;
	size_t k = 0, cap = 0;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return 0;
	cap = strlen(q) / 2 + 1;
	v = malloc(cap * sizeof *v);
	if (v == NULL)
		return STRAND_ENOMEM;
	while (*q != '\0') {
		char *end;
		long x;

		errno = 0;
		x = strtol(q, &end, 10);
		if (end == q || errno != 0 || x < 0 || x > INT32_MAX || k == cap ||
		    (*end != ',' && *end != '\0') || (*end == ',' && end[1] == '\0')) {
			free(v);
			api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, "partitions must be "
			                    "a comma-separated list of partition numbers", NULL);
			return STRAND_EINVAL;
		}
		v[k++] = (int32_t)x;
		q = *end == ',' ? end + 1 : end;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Every coordinator answered (or failed): merge their lists with ours. */
static int groups_list_merge(api_request_t *req)
{
	groups_fanout_t *f = req->ctx;
	cJSON *arr, *part, *item;
	forward_answer_t a;
	int rc = forward_set_wait(f->set);

	if (rc != 1)
		return rc;                 /* 0: parked until the last call finishes */
	arr = cJSON_CreateArray();
	if (arr == NULL)
		return STRAND_ENOMEM;
	rc = groups_list_local(req, f->mine, f->nmine, arr);
	for (size_t i = 0; rc == 0 && i < f->ncalls; i++) {
		forward_set_answer(f->set, i, &a);
		if (a.status != 200) {
			cJSON_Delete(arr);
			return forward_set_relay(f->set, i);   /* its 503 (or error) as it came */
		}
		part = cJSON_Parse(a.body);
		while (cJSON_IsArray(part) && (item = cJSON_DetachItemFromArray(part, 0)) != NULL)
			cJSON_AddItemToArray(arr, item);
		cJSON_Delete(part);
	}
	if (rc == 0)
		rc = groups_sort(arr);
	if (rc) {
		cJSON_Delete(arr);
		return api_responded(req) ? 0 : rc;
	}
	return api_respond_json(req, 200, arr);
}

/*
 * GET /v1/groups -> [{"group","state","generation","members"}]. Single
 * node: every group. Cluster mode: the broker asked lists its own groups
 * and asks every other leader of a __consumer_offsets partition for theirs
 * (`Strand-Route: direct`: its own only), as Kafka's admin client asks
 * every broker (ListGroups).
 */
int api_groups_list(api_request_t *req)
{
	meta_t *m = api_meta(req->api);
	int32_t ids[FORWARD_LIST_MAX], self = api_self_id(req->api), *leader = NULL, *expect;
	char url[512];
	size_t nids = 0, k, idx, nexpect;
	int32_t nparts = 0;
	buf_t path = BUF_INIT;
	groups_fanout_t *f;
	topic_t *t;
	cJSON *arr;
	int rc = 0;

	if (m == NULL || api_forward_is_direct(req) ||
	    (t = broker_topic_get(req->broker, BROKER_OFFSETS_TOPIC)) == NULL) {
		rc = groups_expect_parse(req, &expect, &nexpect);
		if (rc)
			return api_responded(req) ? 0 : rc;
		arr = cJSON_CreateArray();
		rc = arr == NULL ? STRAND_ENOMEM : groups_list_local(req, expect, nexpect, arr);
		free(expect);
		if (rc) {
			cJSON_Delete(arr);
			return api_responded(req) ? 0 : rc;
		}
		return api_respond_json(req, 200, arr);
	}
	f = calloc(1, sizeof *f);
	rc = f == NULL ? STRAND_ENOMEM : forward_set_new(req, &f->set);
	if (rc) {
		free(f);
		topic_release(t);
		return rc;
	}
	req->ctx = f;
	req->on_cleanup = groups_list_cleanup;
	req->on_resume = groups_list_merge;
	nparts = topic_partition_count(t);
	topic_release(t);
	leader = malloc((size_t)(nparts > 0 ? nparts : 1) * sizeof *leader);
	f->mine = malloc((size_t)(nparts > 0 ? nparts : 1) * sizeof *f->mine);
	if (leader == NULL || f->mine == NULL) {
		free(leader);
		return STRAND_ENOMEM;
	}
	/* who leads each partition in our view; ours are checked here, and
	 * each other coordinator is told which ones it must lead to answer */
	for (int32_t p = 0; rc == 0 && p < nparts; p++) {
		rc = meta_partition_leader(m, BROKER_OFFSETS_TOPIC, p, &leader[p], url, sizeof url);
		if (rc)
			snprintf(req->err, sizeof req->err, "partition %d of " BROKER_OFFSETS_TOPIC
			         " has no leader right now; retry shortly", (int)p);
		else if (leader[p] == self)
			f->mine[f->nmine++] = p;
	}
	for (int32_t p = 0; rc == 0 && p < nparts; p++) {
		int32_t id = leader[p];

		for (k = 0; k < nids && ids[k] != id; k++)
			;
		if (k < nids || id == self)
			continue;
		if (nids == FORWARD_LIST_MAX)
			break;             /* cannot be: a cluster has fewer live brokers */
		ids[nids++] = id;
		buf_reset(&path);
		rc = buf_append_str(&path, "/v1/groups?partitions=");
		for (int32_t q = p; rc == 0 && q < nparts; q++)
			if (leader[q] == id)
				rc = buf_appendf(&path, "%s%d", q == p ? "" : ",", (int)q);
		if (rc == 0)
			rc = meta_partition_leader(m, BROKER_OFFSETS_TOPIC, p, &id, url, sizeof url);
		if (rc == 0 && id != leader[p])
			rc = STRAND_ENOTLEADER;   /* it moved meanwhile */
		if (rc == STRAND_ENOTLEADER || rc == STRAND_EUNAVAILABLE || rc == STRAND_ENOENT)
			snprintf(req->err, sizeof req->err, "the leadership of " BROKER_OFFSETS_TOPIC
			         " partition %d is moving; retry shortly", (int)p);
		if (rc == 0)
			rc = forward_set_call(f->set, id, url, path.data, "application/json", NULL, 0,
			                      GROUP_WRITE_TIMEOUT_MS, &idx);
		if (rc == 0 || rc == STRAND_EAGAIN)
			f->ncalls = idx + 1;   /* a refused call is kept, finished, in the set */
	}
	buf_free(&path);
	free(leader);
	if (rc == STRAND_ENOTLEADER || rc == STRAND_EUNAVAILABLE || rc == STRAND_ENOENT)
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, req->err, NULL);
	if (rc && rc != STRAND_EAGAIN)
		return rc;
	return groups_list_merge(req);
}

/* DELETE /v1/groups/{group} -> 204; 409 GROUP_NOT_EMPTY while members remain */
int api_group_delete(api_request_t *req)
{
	broker_group_write_t w;
	int rc = broker_group_delete(req->broker, req->group, &w, req->err, sizeof req->err);

	if (rc == STRAND_ENOENT)
		return unknown_group(req);
	if (rc)
		return rc;
	return group_write_answer(req, &w);
}
