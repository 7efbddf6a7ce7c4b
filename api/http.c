/*
 * http.c — the request side of the HTTP edge (contract in http.h): the MHD
 * access handler that routes a request and drives its body and handler
 * callbacks, the per-request context and its one cleanup, the response
 * helpers, the problem+json table (the ONE place STRAND_E* codes become HTTP
 * answers), and parking through MHD suspend/resume.
 */
#include "api/http_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api/forward.h"
#include "api/route.h"
#include "common/err.h"

/* A no-body route still tolerates a small ignored body (some clients send
 * "{}" with DELETE); past this it is 413. */
#define API_BODY_IGNORED_MAX ((size_t)64 * 1024)

typedef struct api_header_node {
	char                   *name, *value;
	struct api_header_node *next;
} api_header_node_t;

/* The request as the core sees it; handlers see .pub (http.h). */
typedef struct api_req {
	api_request_t          pub;
	struct MHD_Connection *conn;
	int                    route_index;   /* -1: no route matched */
	int64_t                start_ns;
	uint64_t               content_length; /* UINT64_MAX: not given (chunked) */
	size_t                 cap;            /* body cap */

	struct MHD_Response   *response;       /* set, not yet queued */
	unsigned               status;         /* status of the set/queued response */
	int                    queued;
	int                    completed_called; /* end-of-body hook already run */
	uint64_t               bytes_out;
	api_header_node_t     *headers;

	/* parking: suspended and the links are guarded by api->park_lock;
	 * parked_local is the worker's own view ("a callback of mine parked
	 * the request"), cleared at the first call after the resume */
	int                    suspended;
	int                    parked_local;
	struct api_req        *park_prev, *park_next;
	atomic_int             resume_pending;  /* set by api_resume, read by the worker */

	api_route_params_t     params;         /* pub.topic, group, member point in here */
	char                  *path_copy;

	api_client_t          *client;         /* the connection's client address (limits.c) */
	int                    sse_held;       /* counted as one of its SSE streams */
} api_req_t;

#define REQ(p) ((api_req_t *)(p))   /* pub is the first member */

int64_t api_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the problem table ------------------------------------------------- */

typedef struct api_problem_info {
	const char *name;       /* wire code */
	unsigned    status;
	const char *title;
	int         retriable;
} api_problem_info_t;

static const api_problem_info_t problem_table[API_PROBLEM__COUNT] = {
	[API_PROBLEM_INVALID_REQUEST]        = { "INVALID_REQUEST", 400, "Invalid request", 0 },
	[API_PROBLEM_UNAUTHORIZED]           = { "UNAUTHORIZED", 401, "Authentication required", 0 },
	[API_PROBLEM_FORBIDDEN]              = { "FORBIDDEN", 403, "Forbidden", 0 },
	[API_PROBLEM_NOT_FOUND]              = { "NOT_FOUND", 404, "No such resource", 0 },
	[API_PROBLEM_UNKNOWN_TOPIC]          = { "UNKNOWN_TOPIC", 404, "Unknown topic", 0 },
	[API_PROBLEM_UNKNOWN_PARTITION]      = { "UNKNOWN_PARTITION", 404, "Unknown partition", 0 },
	[API_PROBLEM_UNKNOWN_GROUP]          = { "UNKNOWN_GROUP", 404, "Unknown group", 0 },
	[API_PROBLEM_UNKNOWN_MEMBER]         = { "UNKNOWN_MEMBER", 404, "Unknown group member", 0 },
	[API_PROBLEM_METHOD_NOT_ALLOWED]     = { "METHOD_NOT_ALLOWED", 405, "Method not allowed", 0 },
	[API_PROBLEM_NOT_ACCEPTABLE]         = { "NOT_ACCEPTABLE", 406, "Not acceptable", 0 },
	[API_PROBLEM_TOPIC_EXISTS]           = { "TOPIC_EXISTS", 409, "Topic already exists", 0 },
	[API_PROBLEM_ILLEGAL_GENERATION]     = { "ILLEGAL_GENERATION", 409, "Illegal generation", 0 },
	[API_PROBLEM_REBALANCE_IN_PROGRESS]  = { "REBALANCE_IN_PROGRESS", 409, "Rebalance in progress", 1 },
	[API_PROBLEM_GROUP_NOT_EMPTY]        = { "GROUP_NOT_EMPTY", 409, "Group not empty", 0 },
	[API_PROBLEM_OUT_OF_ORDER_SEQUENCE]  = { "OUT_OF_ORDER_SEQUENCE", 409, "Out of order sequence", 0 },
	[API_PROBLEM_PRODUCER_FENCED]        = { "PRODUCER_FENCED", 409, "Producer fenced", 0 },
	[API_PROBLEM_IDEMPOTENCY_KEY_IN_PROGRESS] = { "IDEMPOTENCY_KEY_IN_PROGRESS", 409,
	                                              "Request with this key in progress", 1 },
	[API_PROBLEM_RECORD_TOO_LARGE]       = { "RECORD_TOO_LARGE", 413, "Record too large", 0 },
	[API_PROBLEM_REQUEST_TOO_LARGE]      = { "REQUEST_TOO_LARGE", 413, "Request too large", 0 },
	[API_PROBLEM_UNSUPPORTED_MEDIA_TYPE] = { "UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported media type", 0 },
	[API_PROBLEM_OFFSET_OUT_OF_RANGE]    = { "OFFSET_OUT_OF_RANGE", 416, "Offset out of range", 0 },
	[API_PROBLEM_IDEMPOTENCY_KEY_REUSED] = { "IDEMPOTENCY_KEY_REUSED", 422,
	                                         "Idempotency key reused", 0 },
	[API_PROBLEM_NOT_LEADER]             = { "NOT_LEADER", 421, "Not the leader", 1 },
	[API_PROBLEM_THROTTLED]              = { "THROTTLED", 429, "Throttled", 1 },
	[API_PROBLEM_INTERNAL]               = { "INTERNAL", 500, "Internal error", 0 },
	[API_PROBLEM_NOT_ENOUGH_REPLICAS]    = { "NOT_ENOUGH_REPLICAS", 503, "Not enough replicas", 1 },
	[API_PROBLEM_REQUEST_TIMED_OUT]      = { "REQUEST_TIMED_OUT", 503, "Request timed out", 1 },
	[API_PROBLEM_UNAVAILABLE]            = { "UNAVAILABLE", 503, "Service unavailable", 1 },
	[API_PROBLEM_STORAGE_FULL]           = { "STORAGE_FULL", 507, "Storage full", 1 },
};

/* STRAND_E* -> problem: the one mapping (http.h, api_respond_error). */
static api_problem_t problem_for_rc(int rc)
{
	switch (rc) {
	case STRAND_EINVAL:    return API_PROBLEM_INVALID_REQUEST;
	case STRAND_ENOENT:    return API_PROBLEM_UNKNOWN_TOPIC;
	case STRAND_EEXIST:    return API_PROBLEM_TOPIC_EXISTS;
	case STRAND_ERANGE:    return API_PROBLEM_OFFSET_OUT_OF_RANGE;
	case STRAND_ETOOBIG:   return API_PROBLEM_RECORD_TOO_LARGE;
	case STRAND_ENOSPC:    return API_PROBLEM_STORAGE_FULL;
	case STRAND_ETIMEDOUT: return API_PROBLEM_REQUEST_TIMED_OUT;
	case STRAND_ECLOSED:   return API_PROBLEM_UNAVAILABLE;
	case STRAND_ENOMEMBER: return API_PROBLEM_UNKNOWN_MEMBER;
	case STRAND_EGENERATION: return API_PROBLEM_ILLEGAL_GENERATION;
	case STRAND_EREBALANCE: return API_PROBLEM_REBALANCE_IN_PROGRESS;
	case STRAND_ENOTEMPTY: return API_PROBLEM_GROUP_NOT_EMPTY;
	case STRAND_ESEQUENCE: return API_PROBLEM_OUT_OF_ORDER_SEQUENCE;
	case STRAND_EFENCED:   return API_PROBLEM_PRODUCER_FENCED;
	case STRAND_ENOTLEADER: return API_PROBLEM_NOT_LEADER;
	case STRAND_ENOTENOUGH: return API_PROBLEM_NOT_ENOUGH_REPLICAS;
	case STRAND_EUNAVAILABLE: return API_PROBLEM_UNAVAILABLE;
	default:               return API_PROBLEM_INTERNAL;  /* EIO, ECORRUPT, ENOMEM, EAGAIN */
	}
}

const char *api_problem_name(api_problem_t code)
{
	if ((unsigned)code >= API_PROBLEM__COUNT)
		code = API_PROBLEM_INTERNAL;
	return problem_table[code].name;
}

/* ---- small helpers ----------------------------------------------------- */

static const char *route_name(const api_req_t *r)
{
	return r->pub.route ? r->pub.route->name : "unmatched";
}

static void log_5xx(const api_req_t *r, unsigned status, const char *code, const char *detail)
{
	fprintf(stderr, "strand: error: %s (route %s): %u %s: %s\n",
	        r->pub.path ? r->pub.path : "?", route_name(r), status, code,
	        detail ? detail : "");
}

/* ---- responses --------------------------------------------------------- */

int api_responded(const api_request_t *req)
{
	const api_req_t *r = (const api_req_t *)req;

	return r->response != NULL || r->queued;
}

int api_add_header(api_request_t *req, const char *name, const char *value)
{
	api_req_t *r = REQ(req);
	api_header_node_t *h = calloc(1, sizeof *h);

	if (h == NULL)
		return STRAND_ENOMEM;
	h->name = strdup(name);
	h->value = strdup(value);
	if (h->name == NULL || h->value == NULL) {
		free(h->name);
		free(h->value);
		free(h);
		return STRAND_ENOMEM;
	}
	h->next = r->headers;
	r->headers = h;
	return 0;
}

static void headers_free(api_req_t *r)
{
	api_header_node_t *h = r->headers, *next;

	for (; h != NULL; h = next) {
		next = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
	r->headers = NULL;
}

/*
 * Make resp THE response of r (consumed: destroyed here on any failure).
 * Adds content type and the pending headers now, queues later (set_response
 * may run mid-body, when MHD cannot queue yet).
 */
static int set_response(api_req_t *r, unsigned status, const char *content_type,
                        struct MHD_Response *resp, uint64_t body_len)
{
	api_header_node_t *h;
	int served_by = 0;
	int32_t self;

	if (resp == NULL)
		return STRAND_ENOMEM;
	if (api_responded(&r->pub)) {
		fprintf(stderr, "strand: bug: second response for %s (route %s) ignored\n",
		        r->pub.path, route_name(r));
		MHD_destroy_response(resp);
		return 0;
	}
	if (content_type != NULL &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES)
		goto fail;
	for (h = r->headers; h != NULL; h = h->next) {
		if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
			goto fail;
		if (strcasecmp(h->name, "Strand-Served-By") == 0)
			served_by = 1;   /* relayed: the broker that served it says so */
	}
	/* cluster mode: every answer names the broker that served it */
	self = served_by ? -1 : api_self_id(r->pub.api);
	if (self >= 0) {
		char id[16];

		snprintf(id, sizeof id, "%" PRId32, self);
		if (MHD_add_response_header(resp, "Strand-Served-By", id) != MHD_YES)
			goto fail;
	}
	r->response = resp;
	r->status = status;
	r->bytes_out += body_len;
	return 0;
fail:
	MHD_destroy_response(resp);
	return STRAND_ENOMEM;
}

int api_respond_buf(api_request_t *req, unsigned status, const char *content_type,
                    buf_t *body)
{
	struct MHD_Response *resp;
	size_t len = body->len;

	if (body->data == NULL)
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(len, body->data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		return STRAND_ENOMEM;
	buf_init(body);   /* MHD owns the memory now */
	return set_response(REQ(req), status,
	                    content_type ? content_type : "application/json", resp, len);
}

int api_respond_json(api_request_t *req, unsigned status, cJSON *doc)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	buf_t b = BUF_INIT;

	cJSON_Delete(doc);
	if (text == NULL)
		return STRAND_ENOMEM;
	b.data = text;
	b.len = strlen(text);
	b.cap = b.len + 1;
	return api_respond_buf(req, status, "application/json", &b);
}

int api_respond_empty(api_request_t *req, unsigned status)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);

	return set_response(REQ(req), status, NULL, resp, 0);
}

int api_respond_problem(api_request_t *req, unsigned status, api_problem_t code,
                        const char *detail, cJSON *extra)
{
	api_req_t *r = REQ(req);
	const api_problem_info_t *pi;
	cJSON *doc = NULL, *m;
	char type[96], *text = NULL;
	buf_t b = BUF_INIT;
	size_t i;

	if ((unsigned)code >= API_PROBLEM__COUNT)
		code = API_PROBLEM_INTERNAL;
	pi = &problem_table[code];
	if (status == 0)
		status = pi->status;
	if (detail == NULL || detail[0] == '\0')
		detail = pi->title;
	/* urn:strand:problem:unknown-topic */
	snprintf(type, sizeof type, "urn:strand:problem:%s", pi->name);
	for (i = strlen("urn:strand:problem:"); type[i]; i++)
		type[i] = type[i] == '_' ? '-' : (char)(type[i] | 0x20);

	doc = cJSON_CreateObject();
	if (doc == NULL ||
	    !cJSON_AddStringToObject(doc, "type", type) ||
	    !cJSON_AddStringToObject(doc, "title", pi->title) ||
	    !cJSON_AddNumberToObject(doc, "status", status) ||
	    !cJSON_AddStringToObject(doc, "detail", detail) ||
	    !cJSON_AddStringToObject(doc, "code", pi->name) ||
	    !cJSON_AddBoolToObject(doc, "retriable", pi->retriable))
		goto fail;
	while (extra != NULL && (m = extra->child) != NULL) {
		cJSON_DetachItemViaPointer(extra, m);
		if (m->string == NULL || cJSON_GetObjectItemCaseSensitive(doc, m->string)) {
			cJSON_Delete(m);   /* never overwrite the standard members */
			continue;
		}
		cJSON_AddItemToObject(doc, m->string, m);
	}
	cJSON_Delete(extra);
	extra = NULL;
	/* broker faults are logged; 503s are load or shutdown, answered by design */
	if (status >= 500 && status != 503)
		log_5xx(r, status, pi->name, detail);
	if (status == 503 || status == 429)
		if (api_add_header(req, "Retry-After", "1"))
			goto fail;
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (text == NULL)
		return STRAND_ENOMEM;
	b.data = text;
	b.len = strlen(text);
	b.cap = b.len + 1;
	return api_respond_buf(req, status, "application/problem+json", &b);
fail:
	cJSON_Delete(doc);
	cJSON_Delete(extra);
	return STRAND_ENOMEM;
}

int api_respond_error(api_request_t *req, int rc, const char *message)
{
	if (message == NULL || message[0] == '\0')
		message = strand_strerror(rc);
	return api_respond_problem(req, 0, problem_for_rc(rc), message, NULL);
}

int api_respond_fd(api_request_t *req, unsigned status, const char *content_type,
                   int fd, off_t pos, size_t len)
{
	struct MHD_Response *resp;

	if (len == 0) {
		if (fd >= 0)
			close(fd);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		/* Hot path: MHD sends the range with sendfile(2), no user-space copy. */
		resp = MHD_create_response_from_fd_at_offset64(len, fd, (uint64_t)pos);
		if (resp == NULL)
			close(fd);
	}
	return set_response(REQ(req), status, content_type, resp, len);
}

/* Wraps a handler's reader so streamed bytes reach the request's metrics. */
typedef struct api_reader_wrap {
	api_reader_fn read;
	void         *cls;
	void        (*free_cls)(void *);
	api_req_t    *req;     /* valid while MHD reads (before completion) */
} api_reader_wrap_t;

static ssize_t reader_wrap_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	api_reader_wrap_t *w = cls;
	ssize_t n = w->read(w->cls, pos, buf, max);

	if (n > 0)
		w->req->bytes_out += (uint64_t)n;
	return n;
}

static void reader_wrap_free(void *cls)
{
	api_reader_wrap_t *w = cls;

	if (w->free_cls)
		w->free_cls(w->cls);
	free(w);
}

int api_respond_callback(api_request_t *req, unsigned status, const char *content_type,
                         uint64_t size, api_reader_fn read, void *cls,
                         void (*free_cls)(void *cls))
{
	api_reader_wrap_t *w = calloc(1, sizeof *w);
	struct MHD_Response *resp;

	if (w == NULL) {
		if (free_cls)
			free_cls(cls);
		return STRAND_ENOMEM;
	}
	w->read = read;
	w->cls = cls;
	w->free_cls = free_cls;
	w->req = REQ(req);
	resp = MHD_create_response_from_callback(size == (uint64_t)-1 ? MHD_SIZE_UNKNOWN : size,
	                                         16 * 1024, reader_wrap_read, w,
	                                         reader_wrap_free);
	if (resp == NULL) {
		reader_wrap_free(w);
		return STRAND_ENOMEM;
	}
	return set_response(REQ(req), status, content_type, resp, 0);
}

/* ---- request accessors ------------------------------------------------- */

const char *api_header(api_request_t *req, const char *name)
{
	return MHD_lookup_connection_value(REQ(req)->conn, MHD_HEADER_KIND, name);
}

const char *api_query(api_request_t *req, const char *name)
{
	return MHD_lookup_connection_value(REQ(req)->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct each_ctx { api_value_fn fn; void *ctx; } each_ctx_t;

static enum MHD_Result each_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	each_ctx_t *e = cls;

	(void)kind;
	return e->fn(e->ctx, key, value) == 0 ? MHD_YES : MHD_NO;
}

void api_each_header(api_request_t *req, api_value_fn fn, void *ctx)
{
	each_ctx_t e = { fn, ctx };

	MHD_get_connection_values(REQ(req)->conn, MHD_HEADER_KIND, each_value, &e);
}

void api_each_query(api_request_t *req, api_value_fn fn, void *ctx)
{
	each_ctx_t e = { fn, ctx };

	MHD_get_connection_values(REQ(req)->conn, MHD_GET_ARGUMENT_KIND, each_value, &e);
}

int api_content_type_is(api_request_t *req, const char *type)
{
	const char *ct = api_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);

	return ct != NULL && api_media_type_eq(ct, type);
}

int api_accepts(api_request_t *req, const char *type)
{
	return api_media_list_has(api_header(req, MHD_HTTP_HEADER_ACCEPT), type);
}

int api_query_int64(api_request_t *req, const char *name, int64_t def,
                    int64_t min, int64_t max, int64_t *out)
{
	const char *s = api_query(req, name);
	char detail[256];
	int64_t v;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	if (api_parse_int64(s, &v) != 0 || v < min || v > max) {
		snprintf(detail, sizeof detail,
		         "query parameter %s must be an integer in [%" PRId64 ", %" PRId64 "]",
		         name, min, max);
		api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, detail, NULL);
		return STRAND_EINVAL;
	}
	*out = v;
	return 0;
}

int api_query_choice(api_request_t *req, const char *name,
                     const char *const *choices, int def, int *out)
{
	const char *s = api_query(req, name);
	buf_t msg = BUF_INIT;
	int i;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	for (i = 0; choices[i] != NULL; i++)
		if (strcmp(s, choices[i]) == 0) {
			*out = i;
			return 0;
		}
	buf_appendf(&msg, "query parameter %s must be one of", name);
	for (i = 0; choices[i] != NULL; i++)
		buf_appendf(&msg, "%s %s", i ? "," : "", choices[i]);
	api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, msg.data, NULL);
	buf_free(&msg);
	return STRAND_EINVAL;
}

/* ---- parking ----------------------------------------------------------- */

int api_suspend(api_request_t *req)
{
	api_req_t *r = REQ(req);
	api_t *api = req->api;

	pthread_mutex_lock(&api->park_lock);
	if (atomic_load(&api->stopping)) {
		pthread_mutex_unlock(&api->park_lock);
		return STRAND_ECLOSED;
	}
	r->suspended = 1;
	r->parked_local = 1;
	r->park_prev = NULL;
	r->park_next = api->parked;
	if (api->parked)
		api->parked->park_prev = r;
	api->parked = r;
	atomic_fetch_add(&api->nparked, 1);
	MHD_suspend_connection(r->conn);
	pthread_mutex_unlock(&api->park_lock);
	return 0;
}

/* With park_lock held. */
static void resume_locked(api_t *api, api_req_t *r)
{
	if (!r->suspended)
		return;
	r->suspended = 0;
	if (r->park_prev)
		r->park_prev->park_next = r->park_next;
	else
		api->parked = r->park_next;
	if (r->park_next)
		r->park_next->park_prev = r->park_prev;
	r->park_prev = r->park_next = NULL;
	atomic_fetch_sub(&api->nparked, 1);
	atomic_store(&r->resume_pending, 1);
	MHD_resume_connection(r->conn);
}

void api_resume(api_request_t *req)
{
	api_t *api = req->api;

	pthread_mutex_lock(&api->park_lock);
	resume_locked(api, REQ(req));
	pthread_mutex_unlock(&api->park_lock);
}

void api_resume_all(api_t *api)
{
	pthread_mutex_lock(&api->park_lock);
	while (api->parked != NULL)
		resume_locked(api, api->parked);
	pthread_mutex_unlock(&api->park_lock);
}

int64_t api_parked_count(const api_t *api)
{
	return atomic_load(&((api_t *)api)->nparked);
}

/* ---- routing ----------------------------------------------------------- */

static void append_allow(buf_t *allow, unsigned methods)
{
	static const struct { unsigned m; const char *s; } names[] = {
		{ API_GET, "GET, HEAD" }, { API_POST, "POST" }, { API_PUT, "PUT" },
		{ API_PATCH, "PATCH" }, { API_DELETE, "DELETE" },
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (methods & names[i].m)
			buf_appendf(allow, "%s%s", allow->len ? ", " : "", names[i].s);
}

/*
 * Pick the route for r, fill path params; or answer 404/405/400 here.
 * Returns 0 when a route is chosen.
 */
static int request_route(api_req_t *r, const char *method)
{
	api_t *api = r->pub.api;
	api_route_params_t *rp = &r->params;
	api_route_result_t res;
	size_t i;

	res = api_route_find(api->routes, api->nroutes, method, r->pub.path, rp);
	if (res == API_ROUTE_NOT_FOUND && api_method_of(method) == API_GET &&
	    api_static_claims(api->statics, r->pub.path)) {
		for (i = 0; i < api->nroutes; i++)
			if (api->routes[i].flags & API_ROUTE_FALLBACK) {
				rp->index = (int)i;
				res = API_ROUTE_FOUND;
				break;
			}
	}
	switch (res) {
	case API_ROUTE_FOUND:
		break;
	case API_ROUTE_NOT_FOUND:
		api_respond_problem(&r->pub, 404, API_PROBLEM_NOT_FOUND,
		                    "no such resource; see /openapi.yaml", NULL);
		return -1;
	case API_ROUTE_BAD_METHOD: {
		buf_t allow = BUF_INIT;
		char detail[128];

		append_allow(&allow, rp->allowed);
		snprintf(detail, sizeof detail, "method %.16s not allowed here; allowed: %s",
		         method, allow.data ? allow.data : "");
		if (allow.data)
			api_add_header(&r->pub, MHD_HTTP_HEADER_ALLOW, allow.data);
		buf_free(&allow);
		api_respond_problem(&r->pub, 405, API_PROBLEM_METHOD_NOT_ALLOWED, detail, NULL);
		return -1;
	}
	case API_ROUTE_BAD_PARAM:
		api_respond_problem(&r->pub, 400, API_PROBLEM_INVALID_REQUEST, rp->why, NULL);
		return -1;
	}
	r->route_index = rp->index;
	r->pub.route = &api->routes[rp->index];
	r->pub.method = api_method_of(method);
	r->pub.topic = rp->topic[0] ? rp->topic : NULL;
	r->pub.group = rp->group[0] ? rp->group : NULL;
	r->pub.member = rp->member[0] ? rp->member : NULL;
	r->pub.partition = rp->partition;
	return 0;
}

/* ---- the request lifecycle --------------------------------------------- */

static api_req_t *request_new(api_t *api, struct MHD_Connection *conn, const char *url)
{
	api_req_t *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->path_copy = strdup(url);
	if (r->path_copy == NULL) {
		free(r);
		return NULL;
	}
	r->conn = conn;
	r->route_index = -1;
	r->start_ns = api_now_ns();
	r->content_length = UINT64_MAX;
	r->pub.api = api;
	r->pub.broker = api->broker;
	r->pub.path = r->path_copy;
	r->pub.partition = -1;
	buf_init(&r->pub.body);
	atomic_init(&r->resume_pending, 0);
	atomic_fetch_add(&api->inflight, 1);
	return r;
}

/* The route's body cap. */
static size_t route_cap(const api_t *api, const api_route_t *route)
{
	if (route->max_body == API_BODY_NONE)
		return API_BODY_IGNORED_MAX;
	if (route->max_body == API_BODY_REQUEST_MAX)
		return api->opts.max_request_bytes;
	return route->max_body;
}

/* Check Content-Length against the cap at headers time. 0 ok, -1 answered. */
static int request_check_length(api_req_t *r)
{
	const char *cl = api_header(&r->pub, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int64_t v;
	char detail[160];

	r->cap = route_cap(r->pub.api, r->pub.route);
	if (cl == NULL)
		return 0;
	if (api_parse_int64(cl, &v) || v < 0)
		return 0;   /* MHD rejects malformed lengths itself */
	r->content_length = (uint64_t)v;
	if ((uint64_t)v > r->cap) {
		snprintf(detail, sizeof detail,
		         "request body of %" PRId64 " bytes is over the limit of %zu bytes",
		         v, r->cap);
		api_respond_problem(&r->pub, 413, API_PROBLEM_REQUEST_TOO_LARGE, detail, NULL);
		return -1;
	}
	return 0;
}

/*
 * After a handler/hook returned rc: a negative code without a response is
 * answered from the error table. must_finish: the hook was expected to
 * respond or suspend (buffered handler, on_complete, on_resume).
 */
static void after_callback(api_req_t *r, int rc, int must_finish)
{
	if (api_responded(&r->pub) || r->parked_local)
		return;
	if (rc < 0) {
		api_respond_error(&r->pub, rc, r->pub.err);
		return;
	}
	if (must_finish) {
		fprintf(stderr, "strand: bug: route %s returned without answering\n", route_name(r));
		api_respond_problem(&r->pub, 500, API_PROBLEM_INTERNAL,
		                    "the handler did not answer", NULL);
	}
}

/* Queue the set response (only where MHD allows: before or after the body). */
static enum MHD_Result request_flush(api_req_t *r)
{
	enum MHD_Result ok;

	if (r->response == NULL)
		return MHD_YES;
	ok = MHD_queue_response(r->conn, r->status, r->response);
	MHD_destroy_response(r->response);   /* MHD holds its own reference */
	r->response = NULL;
	r->queued = 1;
	return ok;
}

/* ---- limits ------------------------------------------------------------ */

typedef struct size_count { size_t bytes; int count; } size_count_t;

static enum MHD_Result sum_values(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	size_count_t *sc = cls;

	(void)kind;
	sc->bytes += strlen(key) + (value ? strlen(value) + 1 : 0) + 1;
	sc->count++;
	return MHD_YES;
}

/*
 * The limits a request meets before routing (docs/SECURITY.md): connections
 * in all and per client (429, and the connection is closed), URL length
 * (414), header count and size (431). Larger request lines and header
 * blocks than MHD's connection pool holds are answered by MHD itself.
 * Returns 0, or -1 with the answer set.
 */
static int request_check_limits(api_req_t *r, const char *url)
{
	api_t *api = r->pub.api;
	const api_options_t *o = &api->opts;
	const union MHD_ConnectionInfo *ci;
	size_count_t q = { 0, 0 }, h = { 0, 0 };
	char why[160];

	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	r->client = ci != NULL ? ci->socket_context : NULL;
	if (api_limits_check_connection(api->limits, r->client, o->max_connections,
	                                o->max_connections_per_client, why, sizeof why) != 0) {
		api_add_header(&r->pub, MHD_HTTP_HEADER_CONNECTION, "close");
		api_respond_problem(&r->pub, 429, API_PROBLEM_THROTTLED, why, NULL);
		return -1;
	}
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, sum_values, &q);
	if (strlen(url) + q.bytes > o->max_url_bytes) {
		snprintf(why, sizeof why, "the URL (path and query) is longer than %zu bytes",
		         o->max_url_bytes);
		api_respond_problem(&r->pub, 414, API_PROBLEM_INVALID_REQUEST, why, NULL);
		return -1;
	}
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, sum_values, &h);
	if (h.count > o->max_headers || h.bytes > o->max_header_bytes) {
		snprintf(why, sizeof why, "%d headers of %zu bytes: the limits are %d headers and %zu bytes",
		         h.count, h.bytes, o->max_headers, o->max_header_bytes);
		api_respond_problem(&r->pub, 431, API_PROBLEM_INVALID_REQUEST, why, NULL);
		return -1;
	}
	return 0;
}

int api_sse_acquire(api_request_t *req)
{
	api_req_t *r = REQ(req);
	int rc;

	if (r->sse_held)
		return 0;
	rc = api_limits_sse_acquire(req->api->limits, r->client, req->api->opts.max_sse_per_client);
	if (rc == 0)
		r->sse_held = 1;
	return rc;
}

void api_sse_release(api_request_t *req)
{
	api_req_t *r = REQ(req);

	if (!r->sse_held)
		return;
	api_limits_sse_release(req->api->limits, r->client);
	r->sse_held = 0;
}

/* Does the request announce a body (Content-Length > 0 or chunked)? */
static int request_has_body(api_req_t *r)
{
	const char *cl = api_header(&r->pub, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (api_header(&r->pub, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return 1;
	return cl != NULL && strcmp(cl, "0") != 0;
}

/*
 * Run the route's handler, unless another broker serves the request
 * (API_ROUTE_LEADER, API_ROUTE_COORDINATOR): then it is relayed there, or
 * answered 421/503 (api/forward.h).
 */
static int request_dispatch(api_req_t *r)
{
	int rc = api_forward_route(&r->pub);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	return r->pub.route->handler(&r->pub);
}

/* First call: route, check limits, and for streaming routes run the handler. */
static enum MHD_Result request_start(api_t *api, struct MHD_Connection *conn,
                                     const char *url, const char *method, void **con_cls)
{
	api_req_t *r = request_new(api, conn, url);

	if (r == NULL)
		return MHD_NO;
	*con_cls = r;
	if (atomic_load(&api->stopping)) {
		api_respond_problem(&r->pub, 503, API_PROBLEM_UNAVAILABLE, "shutting down", NULL);
		return request_flush(r);
	}
	if (request_check_limits(r, url) == 0 && request_route(r, method) == 0 &&
	    api_auth_check(&r->pub) == 0 &&
	    request_check_length(r) == 0 &&
	    (r->pub.route->flags & API_ROUTE_STREAM))
		after_callback(r, request_dispatch(r), 0);
	/* An early answer to a request with a body is sent now, so the body is
	 * never read; without a body, wait for MHD's final call, where answering
	 * keeps the connection alive. */
	if (request_has_body(r))
		return request_flush(r);
	return MHD_YES;
}

/* One upload chunk. */
static enum MHD_Result request_body(api_req_t *r, const char *data, size_t len)
{
	int rc;

	r->pub.body_bytes += len;
	if (r->pub.body_bytes > r->cap) {
		/* Only a chunked body gets here (Content-Length was checked at
		 * headers time). MHD 0.9.75 cannot answer mid-body (http.h
		 * step 3), so stop reading. */
		fprintf(stderr, "strand: %s (route %s): chunked body over %zu bytes, connection closed\n",
		        r->pub.path, route_name(r), r->cap);
		return MHD_NO;
	}
	if (api_responded(&r->pub))
		return MHD_YES;   /* draining until the end of the body */
	if (r->pub.route->flags & API_ROUTE_STREAM) {
		if (r->pub.on_body == NULL) {
			api_respond_problem(&r->pub, 413, API_PROBLEM_REQUEST_TOO_LARGE,
			                    "this request takes no body", NULL);
			return MHD_YES;
		}
		rc = r->pub.on_body(&r->pub, data, len);
		after_callback(r, rc, 0);
		return MHD_YES;
	}
	if (r->pub.route->max_body == API_BODY_NONE)
		return MHD_YES;   /* ignored */
	if (buf_append(&r->pub.body, data, len) != 0)
		api_respond_error(&r->pub, STRAND_ENOMEM, "out of memory buffering the body");
	return MHD_YES;
}

/* End of body (or a later call after a resume). */
static enum MHD_Result request_finish(api_req_t *r)
{
	const api_route_t *route = r->pub.route;
	int rc;

	if (api_responded(&r->pub) || r->parked_local)
		return request_flush(r);
	if (!r->completed_called) {
		r->completed_called = 1;
		if (route->flags & API_ROUTE_STREAM) {
			if (r->pub.on_complete == NULL) {
				after_callback(r, 0, 1);
				return request_flush(r);
			}
			rc = r->pub.on_complete(&r->pub);
		} else {
			rc = request_dispatch(r);
		}
		after_callback(r, rc, 1);
		return request_flush(r);
	}
	/* called again with nothing set: MHD would spin; a handler bug */
	after_callback(r, 0, 1);
	return request_flush(r);
}

enum MHD_Result api_access_handler(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
	api_t *api = cls;
	api_req_t *r = *con_cls;

	if (r == NULL)
		return request_start(api, conn, url, method, con_cls);
	if (r->queued)
		return MHD_YES;  /* response already with MHD; swallow what is left */
	if (atomic_exchange(&r->resume_pending, 0) && !api_responded(&r->pub)) {
		r->parked_local = 0;
		if (r->pub.on_resume != NULL) {
			int must = *upload_data_size == 0 && r->completed_called;

			after_callback(r, r->pub.on_resume(&r->pub), must);
		} else if (*upload_data_size == 0 && r->completed_called) {
			after_callback(r, 0, 1);
		}
		if (r->parked_local)
			return MHD_YES;
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		return request_body(r, upload_data, n);
	}
	return request_finish(r);
}

void api_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
	api_t *api = cls;
	api_req_t *r = *con_cls;
	double seconds;

	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->pub.on_cleanup)
		r->pub.on_cleanup(&r->pub);
	api_sse_release(&r->pub);   /* if on_cleanup did not */
	seconds = (double)(api_now_ns() - r->start_ns) / 1e9;
	/* status 0: no answer was sent (connection lost, or closed by us) */
	api_metrics_observe_request(api->metrics, r->route_index, r->queued ? r->status : 0,
	                            seconds, r->pub.body_bytes, r->bytes_out);
	if (r->response)
		MHD_destroy_response(r->response);
	/* MHD never completes a parked request; unlink defensively anyway */
	pthread_mutex_lock(&api->park_lock);
	if (r->suspended) {
		r->suspended = 0;
		if (r->park_prev)
			r->park_prev->park_next = r->park_next;
		else
			api->parked = r->park_next;
		if (r->park_next)
			r->park_next->park_prev = r->park_prev;
		atomic_fetch_sub(&api->nparked, 1);
	}
	pthread_mutex_unlock(&api->park_lock);
	headers_free(r);
	buf_free(&r->pub.body);
	free(r->path_copy);
	free(r);
	atomic_fetch_sub(&api->inflight, 1);
}
