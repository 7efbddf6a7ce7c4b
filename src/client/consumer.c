/*
 * consumer.c — strand_consumer: a consumer-group member over HTTP (issue
 * #5 item 6; the group protocol is docs/GROUPS.md, the user's story
 * docs/CLIENT.md).
 *
 *   strand_consumer_poll ── buffered records? ──▶ hand out the next one
 *          │ none
 *          ▼
 *   one long call in flight on a curl multi, carried across polls:
 *     not a member ─▶ POST /v1/groups/G/members      (parks until the rebalance ends)
 *     member       ─▶ GET  .../members/M/records?encoding=base64&max_wait_ms=W
 *          │ 409 REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION, 404 UNKNOWN_MEMBER
 *          ▼
 *   commit what was handed out (auto-commit), then rejoin with member_id
 *
 * No thread of its own, on purpose: every member call (join, fetch,
 * commit) refreshes the member's session on the broker, and a parked
 * member fetch keeps it alive for its wait plus the session timeout, so a
 * consumer that polls needs no separate heartbeat. Heartbeats are sent
 * from poll only while the application is working through buffered
 * records without fetching (every session.timeout.ms / 3, Kafka's ratio
 * of heartbeat.interval.ms). Without a thread there is no lock, and a
 * stalled application loses its partitions after session.timeout.ms, as
 * Kafka's max.poll.interval.ms intends.
 *
 * The long call stays in flight when poll's timeout passes, and the next
 * poll picks up its answer, so poll returns on time even while a join is
 * parked for a rebalance.
 *
 * Positions: the broker advances the member's fetch positions with every
 * answer; the consumer tracks, per assigned partition, the next offset it
 * will hand out (`next`) and commits that. Records of a partition that was
 * revoked meanwhile, or below `next` (the broker re-sent them), are
 * dropped at hand-out, so a rebalance never hands a record out twice.
 *
 * Records arrive as JSON with keys and values base64 (the member fetch's
 * encoding=base64), so the bytes come back exactly as stored. One fetch
 * answer becomes one message_block_t (message.h): no allocation per record
 * in this file (cJSON still allocates its tree per answer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "client/conf.h"
#include "client/error.h"
#include "client/message.h"
#include "client/transport.h"
#include "common/buf.h"
#include "common/clock.h"

#define CONSUMER_MAX_TOPICS        1000    /* the broker's limit per join */
#define CONSUMER_FETCH_WAIT_MAX_MS 5000    /* longest member-fetch park per request */
#define CONSUMER_FETCH_MAX_RECORDS 5000    /* records per fetch answer */
#define CONSUMER_MEMBER_ID_MAX     128

enum call_kind { CALL_NONE, CALL_JOIN, CALL_FETCH };

/* A partition assigned to this member in the current generation. */
typedef struct cpart {
	char    *topic;          /* owned */
	int32_t  partition;
	int64_t  next;           /* next offset to hand out; -1: none handed out yet */
	int64_t  committed;      /* last offset committed by this member; -1: none */
} cpart_t;

struct strand_consumer {
	struct strand_conf *conf;          /* own copy */
	transport_t        *tr;
	CURLM              *multi;
	transport_req_t     call;          /* the long call (join or fetch), in multi */
	enum call_kind      call_kind;
	transport_req_t     shortreq;      /* blocking calls: heartbeat, commit, leave */
	transport_req_t     asyncreq;      /* strand_commit(c, 1), in multi */
	int                 async_busy;    /* asyncreq in flight */
	int                 async_again;   /* another async commit asked meanwhile */
	buf_t               path, body, async_body;

	char              **topics;        /* subscription, owned */
	size_t              ntopics;
	int                 subscription_changed;

	char                member_id[CONSUMER_MEMBER_ID_MAX];   /* "" before the first join */
	int                 generation;
	int                 member;        /* joined: the assignment below is current */
	cpart_t            *parts;
	size_t              nparts;

	message_block_t    *blk;           /* the fetch answer being handed out */
	size_t              blk_next;

	int64_t             last_call_ms;  /* last answer from the broker (session refreshed) */
	int64_t             next_commit_ms;
	int64_t             retry_at_ms;   /* after an error: no new long call before this */
	int64_t             unknown_since_ms; /* first UNKNOWN_TOPIC of the current run of
	                                       * them, -1: the last call did not get one */
	int                 cluster_brokers;  /* brokers GET /v1/cluster listed, 0: not known */
	strand_message     *pending_err;   /* reported by the next poll */
};

/* ---- small helpers ------------------------------------------------------ */

static void report(strand_consumer *c, int err, const char *words)
{
	if (c->pending_err)
		return;                         /* the first error of a burst is enough */
	c->pending_err = message_error_new(err, words);
}

/*
 * Is this failure of a long call (join or fetch) retried without a report?
 * A subscribed topic unknown to the broker (404 UNKNOWN_TOPIC) may be one
 * just created on another broker of a cluster, which this one learns
 * through its etcd watch (docs/CLIENT.md): such answers are retried quietly
 * for topic.metadata.propagation.max.ms from the first of a run of them,
 * then reported (and still retried), as the producer waits for the topic.
 * A single broker's 404 is reported at once (it answers for its own
 * creates); the cluster's size is asked once (GET /v1/cluster, blocking,
 * as heartbeats are), and not known it counts as a cluster.
 */
static int unknown_topic_quiet(strand_consumer *c, int rc)
{
	int64_t now = clock_now_ms();
	cJSON *doc = NULL;
	char err[256];

	if (rc != STRAND_ERR_UNKNOWN_TOPIC) {
		c->unknown_since_ms = -1;
		return 0;
	}
	if (c->cluster_brokers == 0) {
		transport_get_cluster(c->tr, &c->shortreq, (long)c->conf->request_timeout_ms, &doc,
		                      &c->cluster_brokers, err, sizeof err);
		cJSON_Delete(doc);
	}
	if (c->cluster_brokers == 1)
		return 0;
	if (c->unknown_since_ms < 0)
		c->unknown_since_ms = now;
	return now - c->unknown_since_ms < c->conf->topic_metadata_propagation_max_ms;
}

static cpart_t *part_find(strand_consumer *c, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < c->nparts; i++)
		if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
			return &c->parts[i];
	return NULL;
}

static void parts_free(cpart_t *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(parts[i].topic);
	free(parts);
}

static void call_abort(strand_consumer *c)
{
	if (c->call_kind != CALL_NONE)
		curl_multi_remove_handle(c->multi, c->call.easy);
	c->call_kind = CALL_NONE;
}

/* The member lost its generation: forget the assignment's ownership (the
 * positions stay for a rejoin that keeps partitions) and join again. */
static void member_lost(strand_consumer *c, int unknown_member)
{
	c->member = 0;
	if (unknown_member)
		c->member_id[0] = '\0';
}

/* ---- commits ------------------------------------------------------------ */

/* {"member_id","generation","offsets":[...]} of what moved since the last
 * commit into c->body; 0 with an empty body when nothing moved. */
static int commit_body(strand_consumer *c)
{
	int rc = 0, any = 0;

	buf_reset(&c->body);
	for (size_t i = 0; rc == 0 && i < c->nparts; i++) {
		cpart_t *p = &c->parts[i];
		if (p->next < 0 || p->next == p->committed)
			continue;
		rc = buf_appendf(&c->body, "%s{\"topic\":\"%s\",\"partition\":%d,\"offset\":%" PRId64 "}",
		                 any ? "," : "", p->topic, (int)p->partition, p->next);
		any = 1;
	}
	if (rc || !any) {
		buf_reset(&c->body);
		return rc ? STRAND_ERR_NO_MEMORY : 0;
	}
	/* wrap: the offsets were appended first, so build the envelope around them */
	buf_t whole = BUF_INIT;
	if (buf_appendf(&whole, "{\"member_id\":\"%s\",\"generation\":%d,\"offsets\":[%s]}",
	                c->member_id, c->generation, c->body.data)) {
		buf_free(&whole);
		return STRAND_ERR_NO_MEMORY;
	}
	buf_free(&c->body);
	c->body = whole;
	return 0;
}

/*
 * Commit the handed-out positions now (blocking). Allowed while a
 * rebalance is only preparing (docs/GROUPS.md), so a member that learned
 * of a rebalance saves its progress before it rejoins.
 */
static int commit_now(strand_consumer *c, char *errbuf, size_t errlen)
{
	int rc;

	if (!c->member_id[0] || c->nparts == 0)
		return 0;
	if ((rc = commit_body(c)) || c->body.len == 0)
		return rc;
	buf_reset(&c->path);
	if (buf_appendf(&c->path, "/v1/groups/%s/offsets", c->conf->group_id))
		return STRAND_ERR_NO_MEMORY;
	rc = transport_call(c->tr, &c->shortreq, "POST", c->path.data, c->body.data,
	                    (long)c->conf->request_timeout_ms, NULL, errbuf, errlen);
	if (rc == 0) {
		c->last_call_ms = clock_now_ms();
		for (size_t i = 0; i < c->nparts; i++)
			if (c->parts[i].next >= 0)
				c->parts[i].committed = c->parts[i].next;
	}
	return rc;
}

static int is_member_error(int rc)
{
	return rc == STRAND_ERR_REBALANCE_IN_PROGRESS || rc == STRAND_ERR_ILLEGAL_GENERATION ||
	       rc == STRAND_ERR_UNKNOWN_MEMBER;
}

/* Auto-commit when it is due (and always before a rejoin: force). */
static void autocommit(strand_consumer *c, int force)
{
	char err[512];
	int64_t now = clock_now_ms();
	int rc;

	if (!c->conf->enable_auto_commit || (!force && now < c->next_commit_ms))
		return;
	c->next_commit_ms = now + c->conf->auto_commit_interval_ms;
	rc = commit_now(c, err, sizeof err);
	if (rc && is_member_error(rc))
		member_lost(c, rc == STRAND_ERR_UNKNOWN_MEMBER);
	else if (rc)
		report(c, rc, err);
}

/*
 * strand_commit(c, 1): the same body sent on its own handle in the multi;
 * poll drives it and reports its failure. `committed` is not advanced by
 * it (the assignment may change before the answer): a later commit may
 * send the same offsets again, which is harmless.
 */
static int commit_async_start(strand_consumer *c)
{
	int rc;

	if (c->async_busy) {
		c->async_again = 1;
		return 0;
	}
	c->async_again = 0;
	if (!c->member_id[0] || c->nparts == 0)
		return 0;
	if ((rc = commit_body(c)) || c->body.len == 0)
		return rc;
	buf_reset(&c->path);
	if (buf_appendf(&c->path, "/v1/groups/%s/offsets", c->conf->group_id))
		return STRAND_ERR_NO_MEMORY;
	/* the body must outlive the transfer: c->body is reused meanwhile */
	buf_t t = c->async_body;
	c->async_body = c->body;
	c->body = t;
	rc = transport_req_prepare(c->tr, &c->asyncreq, "POST", c->path.data, TRANSPORT_JSON,
	                           c->async_body.data, c->async_body.len,
	                           (long)c->conf->request_timeout_ms);
	if (rc)
		return rc;
	if (curl_multi_add_handle(c->multi, c->asyncreq.easy) != CURLM_OK)
		return STRAND_ERR_NO_MEMORY;
	c->async_busy = 1;
	return 0;
}

static void commit_async_done(strand_consumer *c, CURLcode cc)
{
	char err[512];
	int rc;

	curl_multi_remove_handle(c->multi, c->asyncreq.easy);
	c->async_busy = 0;
	rc = transport_req_result(c->tr, &c->asyncreq, cc, err, sizeof err);
	if (rc == 0)
		c->last_call_ms = clock_now_ms();
	else if (is_member_error(rc))
		member_lost(c, rc == STRAND_ERR_UNKNOWN_MEMBER);
	else
		report(c, rc, err);
	if (c->async_again && (rc = commit_async_start(c)))
		report(c, rc, strand_err2str(rc));
}

/* Run the multi once: finished transfers are acted on. 1 if one finished. */
static void call_done(strand_consumer *c, CURLcode cc);
static int multi_step(strand_consumer *c)
{
	CURLMsg *msg;
	int running = 0, left, finished = 0;

	curl_multi_perform(c->multi, &running);
	while ((msg = curl_multi_info_read(c->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		if (msg->easy_handle == c->call.easy)
			call_done(c, msg->data.result);
		else if (msg->easy_handle == c->asyncreq.easy)
			commit_async_done(c, msg->data.result);
		finished = 1;
	}
	return finished;
}

/* ---- the long call: join or fetch --------------------------------------- */

static int join_start(strand_consumer *c)
{
	int rc = 0;

	buf_reset(&c->body);
	rc |= buf_append_str(&c->body, "{\"topics\":[");
	for (size_t i = 0; i < c->ntopics; i++)
		rc |= buf_appendf(&c->body, "%s\"%s\"", i ? "," : "", c->topics[i]);
	/* rebalance_timeout_ms = session.timeout.ms: polling is this member's
	 * only sign of life, so a rebalance waits for it no longer than that */
	rc |= buf_appendf(&c->body, "],\"session_timeout_ms\":%" PRId64 ",\"rebalance_timeout_ms\":%"
	                  PRId64 ",\"auto_offset_reset\":\"%s\"", c->conf->session_timeout_ms,
	                  c->conf->session_timeout_ms,
	                  c->conf->auto_offset_reset_earliest ? "earliest" : "latest");
	if (c->member_id[0])
		rc |= buf_appendf(&c->body, ",\"member_id\":\"%s\"", c->member_id);
	rc |= buf_append_str(&c->body, "}");
	buf_reset(&c->path);
	rc |= buf_appendf(&c->path, "/v1/groups/%s/members", c->conf->group_id);
	if (rc)
		return STRAND_ERR_NO_MEMORY;
	rc = transport_req_prepare(c->tr, &c->call, "POST", c->path.data, TRANSPORT_JSON,
	                           c->body.data, c->body.len,
	                           (long)(c->conf->session_timeout_ms + c->conf->request_timeout_ms));
	if (rc)
		return rc;
	c->subscription_changed = 0;
	c->call_kind = CALL_JOIN;
	return curl_multi_add_handle(c->multi, c->call.easy) == CURLM_OK ? 0 : STRAND_ERR_NO_MEMORY;
}

static int fetch_start(strand_consumer *c, int64_t wait_ms)
{
	int rc;

	if (wait_ms > CONSUMER_FETCH_WAIT_MAX_MS)
		wait_ms = CONSUMER_FETCH_WAIT_MAX_MS;
	if (wait_ms < 0)
		wait_ms = 0;
	buf_reset(&c->path);
	if (buf_appendf(&c->path, "/v1/groups/%s/members/%s/records?encoding=base64&max_records=%d"
	                "&max_wait_ms=%" PRId64, c->conf->group_id, c->member_id,
	                CONSUMER_FETCH_MAX_RECORDS, wait_ms))
		return STRAND_ERR_NO_MEMORY;
	rc = transport_req_prepare(c->tr, &c->call, "GET", c->path.data, TRANSPORT_NONE, NULL, 0,
	                           (long)(wait_ms + c->conf->request_timeout_ms));
	if (rc)
		return rc;
	c->call_kind = CALL_FETCH;
	return curl_multi_add_handle(c->multi, c->call.easy) == CURLM_OK ? 0 : STRAND_ERR_NO_MEMORY;
}

/* The join's answer: the new generation and its assignment. Partitions
 * kept keep their positions; the others are forgotten. */
static int join_done(strand_consumer *c, cJSON *doc, char *errbuf, size_t errlen)
{
	cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "member_id");
	cJSON *gen = cJSON_GetObjectItemCaseSensitive(doc, "generation");
	cJSON *asg = cJSON_GetObjectItemCaseSensitive(doc, "assignment"), *e, *p;
	cpart_t *parts = NULL;
	size_t n = 0;

	if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof c->member_id ||
	    !cJSON_IsNumber(gen) || !cJSON_IsArray(asg))
		goto bad;
	cJSON_ArrayForEach(e, asg)
		n += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "partitions"));
	if (!(parts = calloc(n + 1, sizeof *parts)))
		return STRAND_ERR_NO_MEMORY;
	n = 0;
	cJSON_ArrayForEach(e, asg) {
		cJSON *topic = cJSON_GetObjectItemCaseSensitive(e, "topic");
		if (!cJSON_IsString(topic))
			goto bad;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(e, "partitions")) {
			if (!cJSON_IsNumber(p))
				goto bad;
			cpart_t *old = part_find(c, topic->valuestring, (int32_t)p->valueint);
			if (!(parts[n].topic = strdup(topic->valuestring))) {
				parts_free(parts, n);
				return STRAND_ERR_NO_MEMORY;
			}
			parts[n].partition = (int32_t)p->valueint;
			parts[n].next = old ? old->next : -1;
			parts[n].committed = old ? old->committed : -1;
			n++;
		}
	}
	parts_free(c->parts, c->nparts);
	c->parts = parts;
	c->nparts = n;
	snprintf(c->member_id, sizeof c->member_id, "%s", id->valuestring);
	c->generation = gen->valueint;
	c->member = 1;
	return 0;
bad:
	parts_free(parts, n);
	snprintf(errbuf, errlen, "join: the broker's answer has no member_id, generation and "
	         "assignment");
	return STRAND_ERR_BAD_RESPONSE;
}

/* The fetch's answer as one message block (message_block_from_records). */
static int fetch_done(strand_consumer *c, cJSON *doc, char *errbuf, size_t errlen)
{
	message_block_t *b = NULL;
	int rc = message_block_from_records(cJSON_GetObjectItemCaseSensitive(doc, "records"), NULL, -1,
	                                    &b, errbuf, errlen);

	if (rc == 0 && b) {
		c->blk = b;
		c->blk_next = 0;
	}
	return rc;
}

/* The finished long call: act on its answer. */
static void call_done(strand_consumer *c, CURLcode cc)
{
	enum call_kind kind = c->call_kind;
	char err[512];
	cJSON *doc = NULL;
	int rc;

	curl_multi_remove_handle(c->multi, c->call.easy);
	c->call_kind = CALL_NONE;
	rc = transport_req_result(c->tr, &c->call, cc, err, sizeof err);
	if (rc == 0) {
		c->last_call_ms = clock_now_ms();
		if (!(doc = cJSON_ParseWithLength(c->call.resp.data, c->call.resp.len))) {
			snprintf(err, sizeof err, "%s: the answer is not JSON", c->call.url.data);
			rc = STRAND_ERR_BAD_RESPONSE;
		} else {
			rc = kind == CALL_JOIN ? join_done(c, doc, err, sizeof err)
			                       : fetch_done(c, doc, err, sizeof err);
		}
		cJSON_Delete(doc);
	}
	if (rc == 0) {
		c->unknown_since_ms = -1;
		return;
	}
	if (is_member_error(rc)) {
		/* a rebalance: save what was handed out (still allowed while the
		 * rebalance prepares), then rejoin at once */
		if (rc != STRAND_ERR_UNKNOWN_MEMBER)
			autocommit(c, 1);
		member_lost(c, rc == STRAND_ERR_UNKNOWN_MEMBER);
		if (kind == CALL_JOIN && rc == STRAND_ERR_UNKNOWN_MEMBER)
			c->member_id[0] = '\0';
		return;
	}
	if (!unknown_topic_quiet(c, rc))
		report(c, rc, err);
	c->retry_at_ms = clock_now_ms() + c->conf->retry_backoff_ms;
}

/* ---- hand-out ------------------------------------------------------------ */

/*
 * The next buffered record that is still ours (its partition assigned and
 * not handed out before), or NULL. Records skipped here are dropped.
 * While the member rejoins nothing is handed out and nothing dropped: the
 * new assignment decides. A partition it keeps keeps its broker-side
 * position, which is past the buffer, so dropping its buffered records
 * would lose them; those of a partition that moved are dropped, and its
 * new owner starts from what was committed before the rejoin.
 */
static strand_message *next_buffered(strand_consumer *c)
{
	if (!c->member)
		return NULL;
	while (c->blk && c->blk_next < c->blk->nmsgs) {
		strand_message *m = &c->blk->msgs[c->blk_next++];
		cpart_t *p = part_find(c, m->topic, m->partition);

		if (!p || (p->next >= 0 && m->offset < p->next)) {
			message_block_release(c->blk);    /* the message's own reference */
			continue;
		}
		p->next = m->offset + 1;
		return m;
	}
	if (c->blk) {
		message_block_release(c->blk);        /* the consumer's reference */
		c->blk = NULL;
	}
	return NULL;
}

/* ---- heartbeat ------------------------------------------------------------ */

/* While records are being handed out without fetching, keep the session
 * (every session.timeout.ms / 3 since the broker last heard from us). */
static void heartbeat_if_due(strand_consumer *c)
{
	char err[512];
	int rc;

	if (!c->member || c->call_kind != CALL_NONE ||
	    clock_now_ms() - c->last_call_ms < c->conf->session_timeout_ms / 3)
		return;
	buf_reset(&c->path);
	if (buf_appendf(&c->path, "/v1/groups/%s/members/%s/heartbeat", c->conf->group_id,
	                c->member_id))
		return;
	rc = transport_call(c->tr, &c->shortreq, "POST", c->path.data, NULL,
	                    (long)c->conf->request_timeout_ms, NULL, err, sizeof err);
	if (rc == 0) {
		c->last_call_ms = clock_now_ms();
	} else if (is_member_error(rc)) {
		if (rc != STRAND_ERR_UNKNOWN_MEMBER)
			autocommit(c, 1);
		member_lost(c, rc == STRAND_ERR_UNKNOWN_MEMBER);
	} else {
		report(c, rc, err);
	}
}

/* ---- public API ------------------------------------------------------------ */

strand_consumer *strand_consumer_new(const strand_conf *conf, char *errbuf, size_t errlen)
{
	strand_consumer *c = NULL;
	char scratch[1];

	if (!errbuf || !errlen) {
		errbuf = scratch;
		errlen = sizeof scratch;
	}
	if (!conf) {
		snprintf(errbuf, errlen, "strand_consumer_new: NULL configuration");
		return NULL;
	}
	if (conf_check_consumer(conf, errbuf, errlen))
		return NULL;
	if (!(c = calloc(1, sizeof *c)) || !(c->conf = strand_conf_dup(conf)))
		goto nomem;
	buf_init(&c->path);
	buf_init(&c->body);
	buf_init(&c->async_body);
	if (transport_new(c->conf, &c->tr, errbuf, errlen))
		goto fail;
	if (!(c->multi = curl_multi_init()) || transport_req_init(c->tr, &c->call) ||
	    transport_req_init(c->tr, &c->shortreq) || transport_req_init(c->tr, &c->asyncreq))
		goto nomem;
	c->next_commit_ms = clock_now_ms() + c->conf->auto_commit_interval_ms;
	c->unknown_since_ms = -1;
	return c;
nomem:
	snprintf(errbuf, errlen, "out of memory");
fail:
	if (c) {
		transport_req_free(&c->call);
		transport_req_free(&c->shortreq);
		transport_req_free(&c->asyncreq);
		if (c->multi)
			curl_multi_cleanup(c->multi);
		transport_destroy(c->tr);
		strand_conf_destroy(c->conf);
		buf_free(&c->path);
		buf_free(&c->body);
		buf_free(&c->async_body);
		free(c);
	}
	return NULL;
}

int strand_subscribe(strand_consumer *c, const char *const *topics, size_t n)
{
	char **copy;

	if (!c || !topics || n == 0 || n > CONSUMER_MAX_TOPICS)
		return STRAND_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		if (!transport_name_ok(topics[i]))
			return STRAND_ERR_INVALID_ARG;
	if (!(copy = calloc(n, sizeof *copy)))
		return STRAND_ERR_NO_MEMORY;
	for (size_t i = 0; i < n; i++)
		if (!(copy[i] = strdup(topics[i]))) {
			while (i-- > 0)
				free(copy[i]);
			free(copy);
			return STRAND_ERR_NO_MEMORY;
		}
	for (size_t i = 0; i < c->ntopics; i++)
		free(c->topics[i]);
	free(c->topics);
	c->topics = copy;
	c->ntopics = n;
	/* a changed subscription is a rejoin (the broker rebalances) */
	call_abort(c);
	c->member = 0;
	return 0;
}

strand_message *strand_consumer_poll(strand_consumer *c, int timeout_ms)
{
	int64_t now = clock_now_ms();
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : now + timeout_ms;
	strand_message *m;

	if (!c)
		return NULL;
	if (c->ntopics == 0)
		return message_error_new(STRAND_ERR_INVALID_ARG, "poll before strand_subscribe");
	for (;;) {
		if (c->member) {
			autocommit(c, 0);
			heartbeat_if_due(c);   /* also while handing out a large buffer */
		}
		if ((m = next_buffered(c)))
			return m;
		if (c->pending_err) {
			m = c->pending_err;
			c->pending_err = NULL;
			return m;
		}
		now = clock_now_ms();
		if (c->call_kind == CALL_NONE && now >= c->retry_at_ms) {
			int rc = c->member ? fetch_start(c, deadline == INT64_MAX ? CONSUMER_FETCH_WAIT_MAX_MS
			                                                         : deadline - now)
			                   : join_start(c);
			if (rc) {
				report(c, rc, strand_err2str(rc));
				c->retry_at_ms = now + c->conf->retry_backoff_ms;
				continue;
			}
		}
		/* drive the long call until it finishes or the poll's time is up */
		int64_t until = deadline;
		int wait;
		if (c->call_kind == CALL_NONE && c->retry_at_ms < until)
			until = c->retry_at_ms;
		if (c->conf->enable_auto_commit && c->member && c->next_commit_ms < until)
			until = c->next_commit_ms;
		if (multi_step(c))
			continue;
		now = clock_now_ms();
		if (now >= deadline)
			return NULL;
		wait = until - now > 1000 ? 1000 : (int)(until - now);
		if (wait > 0)
			curl_multi_poll(c->multi, NULL, 0, wait, NULL);
	}
}

int strand_commit(strand_consumer *c, int async)
{
	char err[512];
	int rc;

	if (!c)
		return STRAND_ERR_INVALID_ARG;
	if (async)
		return commit_async_start(c);
	rc = commit_now(c, err, sizeof err);
	if (rc && is_member_error(rc))
		member_lost(c, rc == STRAND_ERR_UNKNOWN_MEMBER);
	return rc;
}

/* Drop the records not handed out, and the consumer's hold on the block. */
static void blk_drop(strand_consumer *c)
{
	if (!c->blk)
		return;
	while (c->blk_next < c->blk->nmsgs) {
		c->blk_next++;
		message_block_release(c->blk);
	}
	message_block_release(c->blk);
	c->blk = NULL;
}

int strand_consumer_close(strand_consumer *c)
{
	char err[512];
	int rc = 0;

	if (!c)
		return 0;
	call_abort(c);
	/* an async commit in flight finishes first (bounded by its timeout) */
	while (c->async_busy) {
		if (!multi_step(c))
			curl_multi_poll(c->multi, NULL, 0, 100, NULL);
	}
	if (c->conf->enable_auto_commit && c->member)
		rc = commit_now(c, err, sizeof err);
	if (c->member_id[0]) {
		buf_reset(&c->path);
		if (buf_appendf(&c->path, "/v1/groups/%s/members/%s", c->conf->group_id,
		                c->member_id) == 0)
			transport_call(c->tr, &c->shortreq, "DELETE", c->path.data, NULL,
			               (long)c->conf->request_timeout_ms, NULL, err, sizeof err);
	}
	blk_drop(c);
	strand_message_destroy(c->pending_err);
	transport_req_free(&c->call);
	transport_req_free(&c->shortreq);
	transport_req_free(&c->asyncreq);
	curl_multi_cleanup(c->multi);
	transport_destroy(c->tr);
	strand_conf_destroy(c->conf);
	for (size_t i = 0; i < c->ntopics; i++)
		free(c->topics[i]);
	free(c->topics);
	parts_free(c->parts, c->nparts);
	buf_free(&c->path);
	buf_free(&c->body);
	buf_free(&c->async_body);
	free(c);
	return rc;
}
