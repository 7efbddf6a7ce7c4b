/*
 * http.h — the HTTP edge's core, as seen by request handlers: the
 * libmicrohttpd (MHD 0.9.75) daemon, the route table, the per-request
 * context, body streaming, responses (JSON, RFC 9457 problem+json, zero-copy
 * file ranges, streamed callbacks) and parking (suspend/resume) for long polls.
 *
 * How a request flows
 *   1. MHD has parsed the request line and headers. The core matches the
 *      route (unknown path: 404 NOT_FOUND; known path, other method: 405 with
 *      Allow), validates path parameters ({topic} and {group} must pass
 *      broker_name_valid, {p} must be a decimal int32 >= 0: else 400
 *      INVALID_REQUEST), and checks Content-Length against the route's body
 *      cap (over: 413 REQUEST_TOO_LARGE, answered before any body byte is read,
 *      so "Expect: 100-continue" clients never send it).
 *   2. Buffered routes (flags without API_ROUTE_STREAM): the core accumulates
 *      the body in req->body, at most the cap, then calls route->handler
 *      once with the whole body. A chunked body (no Content-Length) that
 *      passes the cap cannot be answered mid-body (see 3): the connection
 *      is closed and nothing more is read.
 *      Streaming routes (API_ROUTE_STREAM): route->handler is called at step 1,
 *      before any body byte; it sets req->on_body (called per upload chunk as
 *      it arrives, in order) and req->on_complete (called once after the last
 *      chunk; with an empty body, right after the handler). The core still
 *      counts the bytes against the cap before each on_body call.
 *   3. A handler (or on_body/on_complete/on_resume) ends in exactly one of:
 *      - a response: one api_respond_* call. The response is queued to MHD by
 *        the core when the callback returns; the callback should return 0.
 *        Once a response is set, no body callback runs again. MHD 0.9.75
 *        can send an answer only before the first body byte or after the
 *        last one, so an answer set mid-body waits while the core reads and
 *        discards the rest of the body (never past the route's cap: a
 *        chunked body that outgrows it gets its connection closed instead).
 *      - api_suspend(req) (parking: see below), returning 0;
 *      - (handler of a streaming route, or on_body) returning 0 with no
 *        response: continue reading;
 *      - returning a negative STRAND_E* code without having responded: the
 *        core answers api_respond_error(req, rc, req->err) — so a handler can
 *        write `rc = broker_x(..., req->err, sizeof req->err); if (rc) return rc;`.
 *      Returning 0 from a buffered handler, on_complete or on_resume with
 *      neither a response nor a suspension is a bug: the core answers 500
 *      INTERNAL and logs the route.
 *   4. When MHD is done with the request (answer sent, or connection lost),
 *      the core calls req->on_cleanup (if set), records the metrics (route,
 *      status, latency, bytes) and frees the request: this is the ONE place
 *      per-request memory is released. It runs even for requests that were
 *      parked and resumed, and for connections closed mid-body.
 *
 * Threading
 *   The daemon runs MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
 *   MHD_ALLOW_SUSPEND_RESUME with a pool of `threads` workers (default: the
 *   number of CPUs). All callbacks of one request (handler, on_body,
 *   on_complete, on_resume, on_cleanup, a callback response's reader) run on
 *   the worker thread owning its connection, one at a time, never
 *   concurrently. Handlers must not block for long (no sleeping, no waiting
 *   on other requests): a blocked worker stalls every connection it owns.
 *   The engine calls they make (broker_append with fsync, log_read) are
 *   allowed: they are bounded I/O. Waiting for data is done by parking.
 *   The only calls allowed from other threads are api_resume and the
 *   api_metrics_* counters.
 *
 * Parking (long polls, DESIGN.md "no thread per waiting request")
 *   A callback calls api_suspend(req) and returns 0: MHD stops polling the
 *   connection (it costs no thread, and MHD does not notice a client
 *   disconnect while it is parked). Any thread later calls api_resume(req);
 *   the core then calls req->on_resume(req) on the connection's worker, which
 *   must respond or suspend again. A callback-response reader (SSE) may also
 *   call api_suspend and return 0; after api_resume MHD calls the reader
 *   again (on_resume is not used for that case).
 *   Lifetime: a suspended request stays allocated until it is resumed and
 *   completes. The waiter registry (api/parking.c) must call api_resume
 *   while holding the lock its on_cleanup takes to unregister the request,
 *   so no thread resumes a request that has been freed. api_resume is
 *   idempotent per suspension (a second resume of the same suspension is
 *   ignored).
 *   Shutdown (api_stop): the core stops accepting connections, sets
 *   api_is_stopping(), calls the parking module's api_parking_wake_all (see
 *   handlers.h), then resumes any request still suspended; on_resume must
 *   answer (e.g. a fetch answers with what it has) instead of suspending
 *   again — api_suspend fails with STRAND_ECLOSED while stopping. The core
 *   waits (bounded) for in-flight requests to finish, then stops MHD.
 *
 * Memory
 *   MHD_OPTION_CONNECTION_MEMORY_LIMIT stays small (64 KiB): MHD resets each
 *   connection's pool per request, so a large pool costs throughput
 *   (DESIGN.md). Bodies are therefore never buffered in MHD's pool: buffered
 *   routes use req->body (heap, capped), streaming routes consume chunks as
 *   they come.
 */
#ifndef STRAND_API_HTTP_H
#define STRAND_API_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "broker/acl.h"
#include "broker/broker.h"
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/buf.h"

typedef struct api api_t;
typedef struct api_request api_request_t;

/* ---- the server -------------------------------------------------------- */

typedef struct api_options {
	const char *listen_host;         /* "127.0.0.1", "0.0.0.0", "::1"; NULL: 127.0.0.1 */
	uint16_t    listen_port;         /* 0: the kernel picks (read it with api_port) */
	int         threads;             /* MHD worker threads; <= 0: number of CPUs */
	size_t      max_request_bytes;   /* cap of produce bodies (API_BODY_REQUEST_MAX); 0: 64 MiB */
	size_t      connection_memory;   /* MHD pool per connection; 0: 64 KiB */
	unsigned    connection_timeout;  /* idle seconds before MHD closes; 0: 60 */
	const char *openapi_path;        /* file served at /openapi.yaml; NULL: built-in search */
	const char *www_dir;             /* the dashboard, served at / (api/static.h); NULL:
	                                    api_static_default_www_dir(); "": none */
	const char *static_mounts;       /* more: "PREFIX=PATH[,PREFIX=PATH...]"; NULL: none */
	const char *advertised_url;      /* this broker's URL in /v1/cluster; NULL: from listen */
	const char *tls_cert_path;       /* PEM certificate (chain): serve HTTPS; NULL: plain HTTP */
	const char *tls_key_path;        /* PEM private key of tls_cert_path (both or neither) */
	acl_t      *acl;                 /* tokens and ACLs (api/auth.c); taken by api_start
	                                    even on failure; NULL: no authentication */
	int         metrics_require_auth;/* /metrics needs `describe cluster` (else open) */
	const char *peer_token;          /* this broker's own bearer token, sent on the requests
	                                    it relays (with Strand-Principal, api/auth.c);
	                                    copied (api_set_peer_token replaces it; the copy
	                                    in api_options() is NULL); NULL: relays pass the
	                                    client's on */
	const char *peer_ca_file;        /* PEM CA file that https brokers it relays to are
	                                    verified against; borrowed; NULL: system CAs */
	int         cluster_mode;        /* --etcd given: /readyz and topic admin answer 503
	                                    until api_set_meta (the broker joined the cluster) */
	/* Limits (docs/SECURITY.md); 0 takes the default in brackets. */
	int         max_connections;     /* in all; over: 429 THROTTLED [16384] */
	int         max_connections_per_client; /* per client address; over: 429 [4096] */
	int         max_sse_per_client;  /* SSE streams per client address; over: 429 [64] */
	size_t      max_url_bytes;       /* path + query; over: 414 [8192] */
	int         max_headers;         /* request header count; over: 431 [100] */
	size_t      max_header_bytes;    /* names + values in all; over: 431 [16384] */
	size_t      max_records_per_request; /* produce; over: 413 REQUEST_TOO_LARGE [1000000] */
	int64_t     max_wait_ms;         /* long-poll ceiling, <= 60000 [60000] */
} api_options_t;

/*
 * Start the HTTP edge on an open broker (borrowed: it must outlive the api).
 * Calls api_parking_init, then starts MHD. On success *out is the running
 * server. Returns 0, STRAND_EINVAL (bad option: message says which),
 * STRAND_EIO (bind/listen failed, or a TLS file unreadable or refused by
 * GnuTLS: message carries the reason).
 * With TLS, libmicrohttpd encrypts through GnuTLS; file responses (binary
 * fetch) are then read and encrypted in user space instead of sendfile.
 */
int api_start(const api_options_t *opts, broker_t *broker, api_t **out,
              char *err, size_t errlen);

/*
 * Swap in a new token/ACL set (SIGHUP reload; NULL: authentication off).
 * Takes acl; frees the old set once no request is checking against it.
 * Any thread. Returns 0.
 */
int api_set_acl(api_t *api, acl_t *acl);

/*
 * Replace this broker's own token (SIGHUP reload of --broker-token-file;
 * token copied, already validated by the caller; NULL: none). A relay
 * copies the token into its request's headers when it builds them, so
 * requests in flight keep the token they were sent with and every later
 * one carries the new. A broker that has a token keeps one: token NULL is
 * STRAND_EINVAL. Any thread. Returns 0, STRAND_EINVAL or STRAND_ENOMEM (the
 * old token stays).
 */
int api_set_peer_token(api_t *api, const char *token);

/* Has this broker a token of its own (relays go up as the broker)? */
int api_has_peer_token(api_t *api);

/*
 * "Authorization: Bearer <this broker's token>" appended to out, under the
 * token's lock (the copy is the caller's: wipe it with explicit_bzero).
 * Returns 1 when appended, 0 when this broker has no token of its own,
 * STRAND_ENOMEM.
 */
int api_peer_token_header(api_t *api, buf_t *out);

/*
 * Cluster mode (src/cluster/cluster.h): /v1/cluster reads the live brokers
 * from etcd through cluster. Borrowed: call api_stop before cluster_close.
 * Any thread; NULL (the default): single node.
 */
void api_set_cluster(api_t *api, cluster_t *cluster);
cluster_t *api_cluster(api_t *api);

/*
 * Cluster mode: topics and partition state from etcd (src/cluster/meta.h):
 * topic admin goes to etcd, partition views show the replicated state,
 * forwarding finds leaders. Borrowed: call api_stop before meta_close.
 * Any thread; NULL (the default): single node.
 */
void api_set_meta(api_t *api, meta_t *meta);
meta_t *api_meta(api_t *api);

/*
 * For resources beyond the route's own (the topics a group member reads or
 * commits, checked as Kafka's OffsetCommit and Fetch check them): 0 when
 * the request's principal holds op on (type, name) or authentication is
 * off; else answers 403 FORBIDDEN naming what is missing and returns
 * STRAND_EINVAL (the handler just returns it). The rules are read at the
 * time of the call, so a SIGHUP reload applies to parked requests too.
 */
int api_auth_require(api_request_t *req, acl_op_t op, acl_resource_t type, const char *name);

/* The bound TCP port (the real one when listen_port was 0). */
uint16_t api_port(const api_t *api);

/*
 * Stop: no new connections, wake and answer parked requests, wait up to
 * grace_ms for in-flight requests, stop MHD, api_parking_free, free api.
 * The broker is not closed (the caller does that next). NULL is a no-op.
 */
void api_stop(api_t *api, int grace_ms);

/* Non-zero once api_stop has begun (any thread). */
int api_is_stopping(const api_t *api);

broker_t   *api_broker(api_t *api);
const api_options_t *api_options(const api_t *api);

/* The parking module's state slot (api/parking.c owns what it points to). */
void *api_parking_state(api_t *api);
void  api_set_parking_state(api_t *api, void *state);
/* The acks=all flusher's slot (api/flusher.h; set up by api_parking_init). */
void *api_flush_state(api_t *api);
void  api_set_flush_state(api_t *api, void *state);
/* The forwarder's slot (api/forward.h; set up by api_forward_init). */
void *api_forward_state(api_t *api);
void  api_set_forward_state(api_t *api, void *state);

/* ---- routes ------------------------------------------------------------ */

typedef enum api_method {
	API_GET    = 1 << 0,   /* HEAD is served as GET (MHD drops the body) */
	API_POST   = 1 << 1,
	API_PUT    = 1 << 2,
	API_PATCH  = 1 << 3,
	API_DELETE = 1 << 4,
} api_method_t;

/*
 * A handler or hook: 0 (responded, suspended, or carry on as step 3 above)
 * or a negative STRAND_E* code (the core answers api_respond_error).
 */
typedef int (*api_handler_fn)(api_request_t *req);
/* One upload chunk (borrowed for the duration of the call); same returns. */
typedef int (*api_body_fn)(api_request_t *req, const char *data, size_t len);

#define API_ROUTE_STREAM 1u       /* handler runs at headers; body via on_body */
#define API_ROUTE_FALLBACK 2u     /* GET/HEAD of a path no route's pattern matches and
                                     the static mounts claim (api/static.h) */
#define API_ROUTE_LEADER 4u       /* served by the leader of {topic}/{p}: elsewhere, the
                                     core relays it there instead of calling the handler
                                     (api/forward.h) */
#define API_ROUTE_COORDINATOR 8u  /* served by the coordinator of {group} (likewise) */

/* Route body caps: bytes, or the server-wide max_request_bytes option. */
#define API_BODY_NONE        ((size_t)0)          /* any body byte: 413 */
#define API_BODY_ADMIN_MAX   ((size_t)1 << 20)    /* admin JSON: 1 MiB */
#define API_BODY_REQUEST_MAX ((size_t)-1)         /* api_options.max_request_bytes */

typedef struct api_route {
	unsigned       method;     /* one api_method_t */
	const char    *pattern;    /* "/v1/topics/{topic}/partitions/{p}/records";
	                              params: {topic} {p} {group} {member} */
	const char    *name;       /* metrics label, e.g. "fetch_records" */
	api_handler_fn handler;
	size_t         max_body;   /* API_BODY_* or a byte count */
	unsigned       flags;      /* API_ROUTE_* */
} api_route_t;

/* ---- the request ------------------------------------------------------- */

struct api_request {
	/* Set by the core before the handler runs; read-only for handlers. */
	api_t             *api;
	broker_t          *broker;
	const api_route_t *route;
	api_method_t       method;
	const char        *path;        /* decoded path without the query string */
	const char        *topic;       /* {topic}, valid name; NULL when the route has none */
	int32_t            partition;   /* {p}; -1 when the route has none */
	const char        *group;       /* {group}, valid name; NULL when none */
	const char        *member;      /* {member} as given (opaque id); NULL when none */
	char               principal[ACL_MAX_PRINCIPAL + 1]; /* authenticated caller; ""
	                                    when auth is off or the route is open */

	/* Buffered routes: the whole body (NUL-terminated, len bytes) when the
	 * handler runs. Owned by the core; a handler may take body.data (set it
	 * NULL) if it frees it. */
	buf_t              body;
	uint64_t           body_bytes;  /* body bytes received so far (both kinds) */

	/* Set by handlers. All optional; all run on the connection's worker. */
	api_body_fn        on_body;     /* streaming routes only */
	api_handler_fn     on_complete; /* streaming routes: end of body */
	api_handler_fn     on_resume;   /* after api_resume of an api_suspend */
	void             (*on_cleanup)(api_request_t *req); /* free ctx; runs once, always */
	void              *ctx;         /* handler state, owned by the handler */

	/* Message buffer for engine calls (err, errlen); see step 3. */
	char               err[512];
};

/* Request headers (case-insensitive name); NULL when absent. Borrowed from
 * MHD until the request completes. */
const char *api_header(api_request_t *req, const char *name);

/*
 * Non-zero when the request's Content-Type media type (parameters such as
 * charset ignored, case-insensitive) equals type.
 */
int api_content_type_is(api_request_t *req, const char *type);

/* Non-zero when the Accept header lists type (or its exact media range). */
int api_accepts(api_request_t *req, const char *type);

/* A query argument (decoded) or NULL; borrowed like api_header. */
const char *api_query(api_request_t *req, const char *name);

/*
 * Every request header (api_each_header) or query argument (api_each_query,
 * decoded; value NULL for a bare "?name"), in the order received, until fn
 * returns non-zero. Borrowed like api_header. (Relaying: api/forward.c.)
 */
typedef int (*api_value_fn)(void *ctx, const char *name, const char *value);
void api_each_header(api_request_t *req, api_value_fn fn, void *ctx);
void api_each_query(api_request_t *req, api_value_fn fn, void *ctx);

/*
 * Query argument as a decimal int64 in [min, max]; *out = def when absent.
 * Returns 0, or STRAND_EINVAL after having answered 400 INVALID_REQUEST
 * naming the parameter (garbage, trailing bytes, out of range): the caller
 * just returns the code. Keywords ("earliest", "latest") are the caller's:
 * check api_query first.
 */
int api_query_int64(api_request_t *req, const char *name, int64_t def,
                    int64_t min, int64_t max, int64_t *out);

/*
 * Query argument as one of choices (NULL-terminated, exact match);
 * *out = index, or def when absent. Returns 0 or STRAND_EINVAL after having
 * answered 400 listing the allowed values.
 */
int api_query_choice(api_request_t *req, const char *name,
                     const char *const *choices, int def, int *out);

/* ---- responses ----------------------------------------------------------
 * Each api_respond_* sets THE response of the request (a second one is a bug:
 * ignored and logged) and returns 0, or STRAND_ENOMEM (then the core closes
 * the connection). Headers added with api_add_header go on it. */

/* Add a response header (name and value copied). 0 or STRAND_ENOMEM. */
int api_add_header(api_request_t *req, const char *name, const char *value);

/* application/json from a cJSON document; doc is consumed (deleted) always. */
int api_respond_json(api_request_t *req, unsigned status, cJSON *doc);

/*
 * A body from a buffer with the given content type (NULL: application/json).
 * Takes body->data (the buf is left empty and reusable).
 */
int api_respond_buf(api_request_t *req, unsigned status, const char *content_type,
                    buf_t *body);

/* No body (204, 202 ...). */
int api_respond_empty(api_request_t *req, unsigned status);

/* The problem codes of API.md (plus the transport ones the router needs). */
typedef enum api_problem {
	API_PROBLEM_INVALID_REQUEST = 0,  /* 400 */
	API_PROBLEM_UNAUTHORIZED,         /* 401 */
	API_PROBLEM_FORBIDDEN,            /* 403 */
	API_PROBLEM_NOT_FOUND,            /* 404 no such route */
	API_PROBLEM_UNKNOWN_TOPIC,        /* 404 */
	API_PROBLEM_UNKNOWN_PARTITION,    /* 404 */
	API_PROBLEM_UNKNOWN_GROUP,        /* 404 */
	API_PROBLEM_UNKNOWN_MEMBER,       /* 404 */
	API_PROBLEM_METHOD_NOT_ALLOWED,   /* 405 with Allow */
	API_PROBLEM_NOT_ACCEPTABLE,       /* 406 Accept not servable */
	API_PROBLEM_TOPIC_EXISTS,         /* 409 */
	API_PROBLEM_ILLEGAL_GENERATION,   /* 409 */
	API_PROBLEM_REBALANCE_IN_PROGRESS,/* 409 */
	API_PROBLEM_GROUP_NOT_EMPTY,      /* 409 */
	API_PROBLEM_OUT_OF_ORDER_SEQUENCE,/* 409 */
	API_PROBLEM_PRODUCER_FENCED,      /* 409 */
	API_PROBLEM_IDEMPOTENCY_KEY_IN_PROGRESS, /* 409, retriable: the same key's request runs */
	API_PROBLEM_RECORD_TOO_LARGE,     /* 413 */
	API_PROBLEM_REQUEST_TOO_LARGE,    /* 413 */
	API_PROBLEM_UNSUPPORTED_MEDIA_TYPE, /* 415 */
	API_PROBLEM_OFFSET_OUT_OF_RANGE,  /* 416 */
	API_PROBLEM_NOT_LEADER,           /* 421 */
	API_PROBLEM_IDEMPOTENCY_KEY_REUSED, /* 422: the key's first request differed */
	API_PROBLEM_THROTTLED,            /* 429, Retry-After */
	API_PROBLEM_INTERNAL,             /* 500 */
	API_PROBLEM_NOT_ENOUGH_REPLICAS,  /* 503, Retry-After */
	API_PROBLEM_REQUEST_TIMED_OUT,    /* 503, Retry-After */
	API_PROBLEM_UNAVAILABLE,          /* 503, Retry-After: shutting down */
	API_PROBLEM_STORAGE_FULL,         /* 507 */
	API_PROBLEM__COUNT
} api_problem_t;

/* "UNKNOWN_TOPIC" for API_PROBLEM_UNKNOWN_TOPIC (the wire name). */
const char *api_problem_name(api_problem_t code);

/*
 * application/problem+json (RFC 9457):
 *   {"type","title","status","detail","code","retriable"} + extra's members.
 * status 0 takes the code's own status. detail may be NULL (title used).
 * extra (an object, may be NULL) is consumed: its members are moved into
 * the problem (e.g. log_start_offset, high_watermark, leader_url).
 * 503 and 429 answers carry Retry-After: 1.
 */
int api_respond_problem(api_request_t *req, unsigned status, api_problem_t code,
                        const char *detail, cJSON *extra);

/*
 * Answer an engine error: STRAND_E* -> problem through the one table in
 * http.c (EINVAL 400 INVALID_REQUEST, ENOENT 404 UNKNOWN_TOPIC, EEXIST 409
 * TOPIC_EXISTS, ERANGE 416 OFFSET_OUT_OF_RANGE, ETOOBIG 413
 * RECORD_TOO_LARGE, ENOSPC 507 STORAGE_FULL, ETIMEDOUT 503
 * REQUEST_TIMED_OUT, ECLOSED 503 UNAVAILABLE, ENOMEMBER 404 UNKNOWN_MEMBER,
 * EGENERATION 409 ILLEGAL_GENERATION, EREBALANCE 409 REBALANCE_IN_PROGRESS,
 * ENOTEMPTY 409 GROUP_NOT_EMPTY, ESEQUENCE 409 OUT_OF_ORDER_SEQUENCE, EFENCED
 * 409 PRODUCER_FENCED, ENOTLEADER 421 NOT_LEADER, ENOTENOUGH 503
 * NOT_ENOUGH_REPLICAS, EUNAVAILABLE 503 UNAVAILABLE, others 500 INTERNAL).
 * ENOENT is ambiguous: handlers that know it means a partition, group or
 * member call api_respond_problem with the precise code instead.
 * message may be NULL or empty (strand_strerror(rc) is used).
 * 5xx answers other than 503 are logged with the route.
 */
int api_respond_error(api_request_t *req, int rc, const char *message);

/*
 * Zero-copy body from a file range (MHD sendfile): len bytes at pos of fd.
 * Takes ownership of fd (MHD closes it when done; closed here on failure).
 * len 0 with fd -1 is an empty body. For log_slice_t: pass slice.fd,
 * slice.pos, slice.len and then forget the fd (do not log_slice_release).
 */
int api_respond_fd(api_request_t *req, unsigned status, const char *content_type,
                   int fd, off_t pos, size_t len);

/*
 * Streamed body (SSE, large views). read is MHD's content reader: it fills
 * buf with at most max bytes and returns the count, -1 (end of stream) or
 * -2 (error: connection closed). It must not return 0 unless it called
 * api_suspend(req) first (MHD's internal polling would spin). size is the
 * total length or (uint64_t)-1 when unknown (chunked). free_cls (may be NULL)
 * runs when MHD drops the response. Bytes are counted for /metrics.
 */
typedef ssize_t (*api_reader_fn)(void *cls, uint64_t pos, char *buf, size_t max);
int api_respond_callback(api_request_t *req, unsigned status, const char *content_type,
                         uint64_t size, api_reader_fn read, void *cls,
                         void (*free_cls)(void *cls));

/* Non-zero once a response has been set for req. */
int api_responded(const api_request_t *req);

/* ---- parking ----------------------------------------------------------- */

/*
 * Park the request (MHD_suspend_connection). Only from the request's own
 * callbacks (handler, on_body, on_complete, on_resume, its reader).
 * Returns 0, or STRAND_ECLOSED while the server is stopping (answer now).
 */
int api_suspend(api_request_t *req);

/*
 * Unpark (MHD_resume_connection): on_resume (or the reader) runs soon on the
 * connection's worker. Any thread; see "Lifetime" above for the locking
 * rule. A request not currently suspended is left alone.
 */
void api_resume(api_request_t *req);

/*
 * Count the request as one of its client address's SSE streams (limit
 * max_sse_per_client): 0, or STRAND_EAGAIN when the client has as many as
 * allowed (answer 429). api_sse_release (safe to call when not acquired)
 * gives it back; call it from on_cleanup.
 */
int  api_sse_acquire(api_request_t *req);
void api_sse_release(api_request_t *req);

/* Number of parked requests right now (the /metrics gauge). */
int64_t api_parked_count(const api_t *api);

#endif
