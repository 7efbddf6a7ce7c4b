/*
 * forward.h — any broker answers any request (issue 10, item 7;
 * docs/REPLICATION.md "Forwarding"): produce, fetch and group requests for
 * a partition or group served elsewhere are relayed to the broker that
 * serves it, and its answer is streamed back.
 *
 * Who serves what comes from a locator: in cluster mode (api_set_meta and
 * api_set_cluster done) the partition leaders come from the metadata
 * watcher's cache (meta_partition_leader, no etcd call) and a group's
 * coordinator is the leader of its partition of __consumer_offsets
 * (meta_group_coordinator); a test may install its own (api_set_locator),
 * which takes precedence. Single node: nothing is ever forwarded.
 *
 * How a request is relayed (the forwarder, one per api):
 *   - One libcurl multi handle driven by one thread. Its connection cache is
 *     the pool of keep-alive connections to the other brokers, shared by
 *     every MHD worker: a worker hands the transfer over and parks its
 *     request (api_suspend); it never waits on another broker. A forwarded
 *     long poll therefore costs one pooled connection and no thread, like a
 *     local one. (A blocking libcurl call on the worker would stall every
 *     connection the worker owns for as long as the other broker takes:
 *     up to 60 s for a long poll.)
 *   - The request body is collected first (the route's cap as for a local
 *     request: max_request_bytes for produce, 1 MiB for admin JSON), then
 *     sent. The answer is streamed: status and headers when they arrive,
 *     then the body through an MHD callback response, at most
 *     FORWARD_STREAM_BUF bytes held per request (the upstream transfer is
 *     paused while the client reads slower than the leader sends).
 *   - Bounds: FORWARD_MAX_TRANSFERS transfers at once (over: 503
 *     UNAVAILABLE); connect within FORWARD_CONNECT_TIMEOUT_MS; the whole
 *     transfer within the request's own wait (timeout_ms of a produce,
 *     max_wait_ms of a fetch, rebalance_timeout_ms of a join) plus
 *     FORWARD_SLACK_MS; an SSE tail has no end but is dropped after
 *     FORWARD_SSE_IDLE_S seconds without a byte (it sends a comment every
 *     15 s). A leader that cannot be reached or does not answer in time
 *     gives 503 UNAVAILABLE (nothing sent yet) or REQUEST_TIMED_OUT (sent,
 *     no answer: a produce may have been appended), with Retry-After.
 *   - Loops cannot happen: a relayed request carries `Strand-Route: direct`
 *     and `Strand-Forwarded-By: <id>`, and a request carrying either is
 *     never relayed again (it gets 421 NOT_LEADER with leader_url instead).
 *
 * Threading: the decision functions run on the request's worker; the
 * forwarder thread resumes parked requests through api_resume under the
 * per-request lock that on_cleanup takes (http.h "Lifetime").
 */
#ifndef STRAND_API_FORWARD_H
#define STRAND_API_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "api/http.h"

#define FORWARD_MAX_TRANSFERS      4096     /* relayed requests in flight per broker */
#define FORWARD_MAX_IDLE_CONNS     64       /* keep-alive connections kept in the pool */
#define FORWARD_STREAM_BUF         (256 * 1024) /* answer bytes held per relayed request */
#define FORWARD_CONNECT_TIMEOUT_MS 2000
#define FORWARD_SLACK_MS           10000    /* over the request's own wait */
#define FORWARD_SSE_IDLE_S         45

/* ---- where requests go --------------------------------------------------- */

/*
 * A locator answers "which broker serves this?". Every function returns 0
 * with the broker's id and base URL ("http://host:port", no trailing
 * slash), STRAND_ENOENT (unknown here: the request is served locally and
 * gets its 404), STRAND_ENOTLEADER (no leader right now) or
 * STRAND_EUNAVAILABLE (cannot tell now); both answer 503 UNAVAILABLE.
 * Called on MHD workers: must not block for long.
 */
typedef struct api_locator {
	int32_t self_id;   /* this broker's id (Strand-Served-By) */
	int (*partition_leader)(void *ctx, const char *topic, int32_t partition,
	                        int32_t *id, char *url, size_t urllen);
	/* The coordinator of group (NULL: where the group list is kept). */
	int (*group_coordinator)(void *ctx, const char *group,
	                         int32_t *id, char *url, size_t urllen);
	void *ctx;
} api_locator_t;

/* Install (copied) or remove (NULL) the locator. Before traffic, or any
 * thread with the caller keeping ctx alive until api_stop. */
void api_set_locator(api_t *api, const api_locator_t *loc);

/* This broker's id when it is part of a cluster (cluster or locator
 * set), else -1. Answers carry it as Strand-Served-By. */
int32_t api_self_id(api_t *api);

/* ---- the core's decision -------------------------------------------------- */

/*
 * Called by the core (http.c) instead of the handler's first call on
 * routes flagged API_ROUTE_LEADER (produce to a partition, fetch, list
 * offsets: the leader of {topic}/{p}) or API_ROUTE_COORDINATOR (group
 * routes: the coordinator of {group}). Returns 0: serve here (call the
 * handler); 1: answered elsewhere — relayed, or 421 NOT_LEADER with
 * leader_url when the request says `Strand-Route: direct` or was relayed
 * already, or 503 UNAVAILABLE when there is no leader now; negative: an
 * error for the core to answer.
 */
int api_forward_route(api_request_t *req);

/*
 * Who leads partition p of topic, for a handler that splits a request by
 * leader (produce to /v1/topics/{t}/records): 0 here (or single node), 1
 * elsewhere (*id and url filled), STRAND_ENOTLEADER (no leader now) or
 * STRAND_EUNAVAILABLE (cannot tell now).
 */
int api_forward_locate(api_request_t *req, const char *topic, int32_t p,
                       int32_t *id, char *url, size_t urllen);

/* Non-zero when req may not be relayed (`Strand-Route: direct`, or it was
 * relayed here already). */
int api_forward_is_direct(api_request_t *req);

/*
 * Answer 421 NOT_LEADER for `what` (e.g. "partition 0 of topic t"), naming
 * broker id and its url as leader_url. Returns as api_respond_problem.
 */
int api_forward_not_leader(api_request_t *req, int32_t id, const char *url, const char *what);

/*
 * Relay req as it is to the broker id at base_url and stream its answer
 * back (the engine under the two above; tests call it directly). Returns 0
 * (the request is parked or answered) or a negative STRAND_E* code.
 */
int api_forward_to(api_request_t *req, int32_t id, const char *base_url);

/* ---- calls made on a request's behalf (produce across leaders) ----------- */

typedef struct forward_set forward_set_t;

/* The calls of one request (one lock, one wake-up). Free it from the
 * request's on_cleanup (forward_set_free). Returns 0 or STRAND_ENOMEM. */
int forward_set_new(api_request_t *req, forward_set_t **out);

/*
 * Start `POST base_url path_query` with body (copied) and content_type
 * (body NULL: `GET base_url path_query`),
 * carrying req's Authorization header, `Strand-Route: direct` and
 * `Strand-Forwarded-By`, within timeout_ms + FORWARD_SLACK_MS. The answer
 * is collected (at most FORWARD_STREAM_BUF bytes kept). *index is the
 * call's number in the set. Returns 0, STRAND_EAGAIN (FORWARD_MAX_TRANSFERS
 * reached) or STRAND_ENOMEM.
 */
int forward_set_call(forward_set_t *s, int32_t id, const char *base_url,
                     const char *path_query, const char *content_type,
                     const void *body, size_t len, int64_t timeout_ms, size_t *index);

/* As forward_set_call, a `GET base_url path_query` (no body) bounded by
 * timeout_ms in all (no slack added): a question this broker asks (describe
 * through any broker), not a relay, so not counted in forward_stats. */
int forward_set_get(forward_set_t *s, int32_t id, const char *base_url,
                    const char *path_query, int64_t timeout_ms, size_t *index);

/*
 * Park the request until every call of s has finished: returns 1 when all
 * have (nothing parked), 0 when parked (req->on_resume runs once the last
 * one finishes: call again), STRAND_ECLOSED when the server is stopping.
 * A set whose calls have all finished never resumes the request again.
 */
int forward_set_wait(forward_set_t *s);

/* A finished call's answer (borrowed until forward_set_free). */
typedef struct forward_answer {
	long          status;        /* 0: no answer (problem and detail say why) */
	const char   *content_type;  /* "" when none */
	const char   *body;          /* NUL-terminated */
	size_t        len;
	int           truncated;     /* the body was longer than what was kept */
	api_problem_t problem;       /* status 0: UNAVAILABLE or REQUEST_TIMED_OUT */
	char          detail[300];   /* status 0: what went wrong, naming the broker */
} forward_answer_t;
void forward_set_answer(forward_set_t *s, size_t index, forward_answer_t *a);

/* Answer the set's request with call index's answer as it came (status,
 * headers, body), or its 503 when it got none. Returns as api_respond_*. */
int forward_set_relay(forward_set_t *s, size_t index);

/* Abandon the calls still running and free (NULL is a no-op). */
void forward_set_free(forward_set_t *s);

/* ---- what the forwarder did (GET /metrics) --------------------------------- */

typedef struct forward_stats {
	uint64_t relayed;    /* transfers started (whole requests and produce parts) */
	uint64_t failed;     /* of those, finished without an answer (503 given) */
	uint64_t retried;    /* sent on once more after a 421 naming another leader */
	int64_t  inflight;   /* transfers running now (at most FORWARD_MAX_TRANSFERS) */
} forward_stats_t;

/* Any thread; zeros when the forwarder is not running. */
void api_forward_stats(api_t *api, forward_stats_t *out);

/* ---- the forwarder's life (api_start / api_stop) -------------------------- */

int  api_forward_init(api_t *api, char *err, size_t errlen);
/* After MHD has stopped (no request alive): stop the thread, free. */
void api_forward_free(api_t *api);

#endif
