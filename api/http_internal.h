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

struct api_req;

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

	atomic_int         stopping;
	atomic_int_fast64_t inflight;     /* requests created and not yet completed */

	/* Authentication (api/auth.c): read-locked per request, swapped on reload. */
	pthread_rwlock_t   acl_lock;
	acl_t             *acl;           /* owned; NULL: open */

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

/* After routing: 0 when the request may go on, else -1 with 401/403 answered (auth.c). */
int api_auth_check(api_request_t *req);

/* Resume every parked request (shutdown). */
void api_resume_all(api_t *api);

/* Monotonic clock in nanoseconds. */
int64_t api_now_ns(void);

#endif
