/*
 * transport.h — libstrand's HTTP layer (internal), shared by the producer
 * and the consumer: libcurl handles set up once with the client's TLS CA,
 * bearer token and keep-alive, problem+json answers turned into
 * strand_errcode plus the broker's words, and the bootstrap.servers list.
 *
 * A transport_req_t owns one libcurl easy handle that is reused request
 * after request, so its connection stays open (HTTP keep-alive); handles
 * added to one curl multi share that multi's connection pool.
 *
 * Threads: transport_t is immutable after transport_new except the current
 * broker index (atomic), so any thread may use it. A transport_req_t is
 * used by one thread at a time.
 */
#ifndef STRAND_CLIENT_TRANSPORT_H
#define STRAND_CLIENT_TRANSPORT_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "client/conf.h"
#include "common/buf.h"

typedef struct transport transport_t;

enum transport_body { TRANSPORT_NONE, TRANSPORT_JSON, TRANSPORT_BATCH };

typedef struct transport_req {
	CURL  *easy;                     /* owned; NULL until transport_req_init */
	buf_t  url;                      /* the current request's URL */
	buf_t  resp;                     /* the answer's body (NUL-terminated) */
	long   status;                   /* HTTP status of the answer, 0 when none */
	char   curl_err[CURL_ERROR_SIZE];
} transport_req_t;

/*
 * A transport for conf's bootstrap.servers, ssl.ca.location and
 * sasl.oauthbearer.token (copied). Returns 0, STRAND_ERR_INVALID_CONFIG
 * (no servers) or STRAND_ERR_NO_MEMORY.
 */
int  transport_new(const struct strand_conf *conf, transport_t **out, char *errbuf, size_t errlen);
void transport_destroy(transport_t *t);

/* The broker URL requests go to now (borrowed while t lives). */
const char *transport_broker(transport_t *t);
/* Move to the next URL of bootstrap.servers (after a transport error). */
void transport_next_broker(transport_t *t);

/* Make r's easy handle. Returns 0 or STRAND_ERR_NO_MEMORY. */
int  transport_req_init(transport_t *t, transport_req_t *r);
/* Free r's handle and buffers (r may be zeroed or never initialised). */
void transport_req_free(transport_req_t *r);

/*
 * Set r up for `method path` on the current broker (path begins with /v1,
 * query included). body (len bytes, may be NULL) is borrowed until the
 * transfer ends. timeout_ms bounds the whole transfer. Does not perform:
 * the caller runs curl_easy_perform or adds r->easy to a multi, then calls
 * transport_req_result. Returns 0 or STRAND_ERR_NO_MEMORY.
 */
int transport_req_prepare(transport_t *t, transport_req_t *r, const char *method,
                          const char *path, enum transport_body kind,
                          const void *body, size_t len, long timeout_ms);

/* The same to the broker at base ("http://host:port", e.g. a partition's
 * leader from the cluster's metadata) instead of the current one. */
int transport_req_prepare_at(transport_t *t, transport_req_t *r, const char *base,
                             const char *method, const char *path, enum transport_body kind,
                             const void *body, size_t len, long timeout_ms);

/*
 * Classify the finished transfer (cc: its CURLcode): 0 for a 2xx answer;
 * else STRAND_ERR_TRANSPORT (no answer; the transport moves to the next
 * broker), STRAND_ERR_TLS, or the broker's problem+json `code` as a
 * strand_errcode (by status when the body is not a problem), with the
 * broker's detail in errbuf.
 */
int transport_req_result(transport_t *t, transport_req_t *r, CURLcode cc,
                         char *errbuf, size_t errlen);

/*
 * The error a non-2xx answer (status, body of len bytes, may be NULL)
 * stands for: its problem+json `code` as a strand_errcode, else one by
 * status; "HTTP <status> <code>: <detail>" into errbuf (may be NULL).
 * Pure (no handle); transport_req_result's second half, fuzzed by
 * fuzz/fuzz_client.c.
 */
int transport_parse_problem(long status, const char *body, size_t len,
                            char *errbuf, size_t errlen);

/*
 * One blocking request: prepare, perform, result. With json != NULL a 2xx
 * answer with a body is parsed into *json (caller frees with cJSON_Delete;
 * NULL for an empty body); a body that is not JSON is STRAND_ERR_BAD_RESPONSE.
 * body is a JSON text (kind TRANSPORT_JSON) or NULL.
 */
int transport_call(transport_t *t, transport_req_t *r, const char *method, const char *path,
                   const char *json_body, long timeout_ms, cJSON **json,
                   char *errbuf, size_t errlen);

/*
 * GET /v1/cluster (blocking, as transport_call): 0 with *doc the answer
 * (caller frees) and *nbrokers the number of brokers it lists (0 when it
 * lists none), or transport_call's error. Clients use the count to tell a
 * cluster (two brokers or more, where a topic reaches each broker through
 * its own etcd watch) from a single broker.
 */
int transport_get_cluster(transport_t *t, transport_req_t *r, long timeout_ms, cJSON **doc,
                          int *nbrokers, char *errbuf, size_t errlen);

/* Is name a valid topic or group name ([A-Za-z0-9._-]{1,249}, not . or ..)?
 * Such names need no escaping in a URL path. */
int transport_name_ok(const char *name);

#endif
