/*
 * handlers.h — every route handler of the HTTP edge, by file, so the route
 * table (api/server.c) can name them. Each is an api_handler_fn (http.h):
 * it answers through api_respond_*, parks with api_suspend, or returns a
 * negative STRAND_E* code for the core to answer.
 */
#ifndef STRAND_API_HANDLERS_H
#define STRAND_API_HANDLERS_H

#include <stddef.h>

#include "api/http.h"

/* ---- api/topics.c: /v1/topics ------------------------------------------ */
int api_topics_list(api_request_t *req);     /* GET    /v1/topics */
int api_topics_create(api_request_t *req);   /* POST   /v1/topics */
int api_topic_describe(api_request_t *req);  /* GET    /v1/topics/{topic} */
int api_topic_alter(api_request_t *req);     /* PATCH  /v1/topics/{topic} */
int api_topic_delete(api_request_t *req);    /* DELETE /v1/topics/{topic} */

/* ---- api/produce.c (streaming routes: API_ROUTE_STREAM) ----------------- */
/* POST /v1/topics/{topic}/records (req->partition -1) and
 * POST /v1/topics/{topic}/partitions/{p}/records */
int api_produce_records(api_request_t *req);
int api_producers_create(api_request_t *req);  /* POST /v1/producers */

/* ---- api/fetch.c ------------------------------------------------------- */
int api_fetch_records(api_request_t *req);   /* GET /v1/topics/{topic}/partitions/{p}/records */
int api_fetch_offsets(api_request_t *req);   /* GET /v1/topics/{topic}/partitions/{p}/offsets */

/* ---- api/parking.c: the waiter registry for long polls ------------------ */
/* Called by api_start before MHD starts: create the registry (store it with
 * api_set_parking_state), hook broker appends, start timers. 0 or STRAND_E*. */
int  api_parking_init(api_t *api, char *err, size_t errlen);
/* Called by api_stop after new connections are refused: resume every parked
 * request (their on_resume sees api_is_stopping and answers). */
void api_parking_wake_all(api_t *api);
/* Called by api_stop after MHD has stopped (no request is alive): free. */
void api_parking_free(api_t *api);
/* The registry key that waiters on a group's changes use ("group:<name>";
 * ':' cannot occur in topic names, so it never meets a partition's key). */
void api_group_wait_key(const char *group, char *out, size_t cap);

/* ---- api/offsets.c: group offsets (fenced commits) and group views ------ */
int api_group_offsets_commit(api_request_t *req); /* POST   /v1/groups/{group}/offsets */
int api_group_offsets_get(api_request_t *req);    /* GET    /v1/groups/{group}/offsets */
int api_groups_list(api_request_t *req);          /* GET    /v1/groups */
int api_group_describe(api_request_t *req);       /* GET    /v1/groups/{group} */
int api_group_delete(api_request_t *req);         /* DELETE /v1/groups/{group} */

/* ---- api/groups.c: consumer group members ------------------------------- */
int api_group_join(api_request_t *req);         /* POST   /v1/groups/{group}/members */
int api_group_heartbeat(api_request_t *req);    /* POST   .../members/{member}/heartbeat */
int api_group_leave(api_request_t *req);        /* DELETE .../members/{member} */
int api_group_member_fetch(api_request_t *req); /* GET    .../members/{member}/records */

/* ---- api/ops.c: operations --------------------------------------------- */
int api_ops_healthz(api_request_t *req);     /* GET /healthz */
int api_ops_readyz(api_request_t *req);      /* GET /readyz */
int api_ops_metrics(api_request_t *req);     /* GET /metrics */
int api_ops_openapi(api_request_t *req);     /* GET /openapi.yaml */
int api_ops_cluster(api_request_t *req);     /* GET /v1/cluster */

/* ---- api/internal.c: broker to broker (replication) --------------------- */
int api_replica_epoch_end(api_request_t *req);  /* POST /v1/internal/replica/epoch_end */
int api_replica_fetch(api_request_t *req);      /* POST /v1/internal/replica/fetch */
/* The registry key follower fetches of topic's partitions wait on
 * ("replica:<topic>"; ':' never occurs in topic names; api/parking_api.c). */
void api_replica_wait_key(const char *topic, char *out, size_t cap);

#endif
