/*
 * http_internal.h — what the core's own files (http.c: requests and
 * responses; server.c: daemon and routes; metrics.c) share about the server
 * object. Handlers use http.h only.
 */
#ifndef STRAND_API_HTTP_INTERNAL_H
#define STRAND_API_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <microhttpd.h>

#include "api/http.h"
#include "api/metrics.h"
#include "api/static.h"

struct api_req;
typedef struct api_limits api_limits_t;   /* limits.c */
typedef struct api_client api_client_t;   /* one client address's counts */

struct api {
	api_options_t      opts;          /* strings point to the copies below */
	char              *listen_host;   /* owned copies */
	char              *openapi_path;
	char              *advertised_url;
	char              *tls_cert, *tls_key;   /* PEM texts, owned (MHD borrows them) */
	broker_t          *broker;        /* borrowed */
	struct MHD_Daemon *daemon;
	uint16_t           port;
	const api_route_t *routes;        /* static table (server.c) */
	size_t             nroutes;
	api_metrics_t     *metrics;
	void              *parking_state; /* api/parking.c's */
	void              *flush_state;   /* api/flusher.c's (acks=all group commit) */
	void              *forward_state; /* api/forward.c's (relaying to other brokers) */

	atomic_int         stopping;
	atomic_int_fast64_t inflight;     /* requests created and not yet completed */

	api_limits_t      *limits;        /* per-client connection and stream counts */
	api_static_t      *statics;       /* files served outside /v1 (api/static.c) */
	cluster_t *_Atomic cluster;       /* borrowed; NULL: single node (api_set_cluster) */
	meta_t *_Atomic    meta;          /* borrowed; NULL: single node (api_set_meta) */

	/* Authentication (api/auth.c): read-locked per request, swapped on reload. */
	pthread_rwlock_t   acl_lock;
	acl_t             *acl;           /* owned; NULL: open */
	char              *peer_token;    /* owned copy of opts.peer_token, under acl_lock
	                                     (api_set_peer_token); NULL: none */

	/* Parked requests, so shutdown can resume every one of them. */
	pthread_mutex_t    park_lock;
	struct api_req    *parked;        /* doubly linked through api_req.park_prev/next */
	atomic_int_fast64_t nparked;
};

/* MHD callbacks installed by server.c, implemented in http.c. */
enum MHD_Result api_access_handler(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls);
void api_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe);

/* ---- per-client limits (limits.c) ---- */

int  api_limits_new(api_limits_t **out);
void api_limits_free(api_limits_t *l);
/* A connection from sa opened / closed (MHD's notify callback). The entry
 * returned (NULL on ENOMEM) is the connection's socket context. */
api_client_t *api_limits_connection_opened(api_limits_t *l, const struct sockaddr *sa);
void api_limits_connection_closed(api_limits_t *l, api_client_t *c);
/* 0, or STRAND_EAGAIN (why says which limit) when the broker or this client
 * holds more connections than allowed (<= 0: no limit). */
int  api_limits_check_connection(api_limits_t *l, const api_client_t *c, int max_total,
                                 int max_per_client, char *why, size_t whylen);
/* One more SSE stream for c: 0, or STRAND_EAGAIN at max_per_client. */
int  api_limits_sse_acquire(api_limits_t *l, api_client_t *c, int max_per_client);
void api_limits_sse_release(api_limits_t *l, api_client_t *c);
int  api_limits_connections(api_limits_t *l);

/* After routing: 0 when the request may go on, else -1 with 401/403 answered (auth.c). */
int api_auth_check(api_request_t *req);

/* Resume every parked request (shutdown). */
void api_resume_all(api_t *api);

/* Monotonic clock in nanoseconds. */
int64_t api_now_ns(void);

#endif
