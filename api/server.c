/*
 * server.c — the HTTP edge's daemon: the route table (every endpoint of
 * API.md served by this broker, one line each), starting libmicrohttpd on the
 * listen address, and the orderly stop (refuse new connections, answer parked
 * requests, drain, stop MHD). Request handling itself is in http.c.
 */
#include "api/http_internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/forward.h"
#include "api/handlers.h"
#include "api/route.h"
#include "common/err.h"

/* ---- the route table --------------------------------------------------- */

static const api_route_t api_routes[] = {
	/* operations */
	/* the dashboard and other mounted files (api/static.c): `/`, and any
	 * GET/HEAD that no other pattern matches, outside /v1 */
	{ API_GET,    "/",             "static",  api_static_serve, API_BODY_NONE, API_ROUTE_FALLBACK },
	{ API_GET,    "/healthz",      "healthz", api_ops_healthz, API_BODY_NONE, 0 },
	{ API_GET,    "/readyz",       "readyz",  api_ops_readyz,  API_BODY_NONE, 0 },
	{ API_GET,    "/metrics",      "metrics", api_ops_metrics, API_BODY_NONE, 0 },
	{ API_GET,    "/openapi.yaml", "openapi", api_ops_openapi, API_BODY_NONE, 0 },
	{ API_GET,    "/v1/cluster",   "cluster", api_ops_cluster, API_BODY_NONE, 0 },
	/* topics */
	{ API_GET,    "/v1/topics",         "topics_list",    api_topics_list,    API_BODY_NONE, 0 },
	{ API_POST,   "/v1/topics",         "topics_create",  api_topics_create,  API_BODY_ADMIN_MAX, 0 },
	{ API_GET,    "/v1/topics/{topic}", "topic_describe", api_topic_describe, API_BODY_NONE, 0 },
	{ API_PATCH,  "/v1/topics/{topic}", "topic_alter",    api_topic_alter,    API_BODY_ADMIN_MAX, 0 },
	{ API_DELETE, "/v1/topics/{topic}", "topic_delete",   api_topic_delete,   API_BODY_NONE, 0 },
	/* produce and fetch (api/produce.c, api/fetch.c) */
	{ API_POST, "/v1/topics/{topic}/records", "produce",
	  api_produce_records, API_BODY_REQUEST_MAX, API_ROUTE_STREAM },
	{ API_POST, "/v1/topics/{topic}/partitions/{p}/records", "produce_partition",
	  api_produce_records, API_BODY_REQUEST_MAX, API_ROUTE_STREAM | API_ROUTE_LEADER },
	{ API_POST, "/v1/producers", "producers_create",
	  api_producers_create, API_BODY_ADMIN_MAX, 0 },
	{ API_GET,  "/v1/topics/{topic}/partitions/{p}/records", "fetch",
	  api_fetch_records, API_BODY_NONE, API_ROUTE_LEADER },
	{ API_GET,  "/v1/topics/{topic}/partitions/{p}/offsets", "list_offsets",
	  api_fetch_offsets, API_BODY_NONE, API_ROUTE_LEADER },
	/* groups (api/offsets.c, api/groups.c): served by the group's coordinator */
	{ API_GET,    "/v1/groups", "groups_list", api_groups_list,
	  API_BODY_NONE, API_ROUTE_COORDINATOR },
	{ API_GET,    "/v1/groups/{group}", "group_describe", api_group_describe,
	  API_BODY_NONE, API_ROUTE_COORDINATOR },
	{ API_DELETE, "/v1/groups/{group}", "group_delete", api_group_delete,
	  API_BODY_NONE, API_ROUTE_COORDINATOR },
	{ API_GET,    "/v1/groups/{group}/offsets", "offsets_fetch", api_group_offsets_get,
	  API_BODY_NONE, API_ROUTE_COORDINATOR },
	{ API_POST,   "/v1/groups/{group}/offsets", "offsets_commit", api_group_offsets_commit,
	  API_BODY_ADMIN_MAX, API_ROUTE_COORDINATOR },
	{ API_POST,   "/v1/groups/{group}/members", "group_join", api_group_join,
	  API_BODY_ADMIN_MAX, API_ROUTE_COORDINATOR },
	{ API_POST,   "/v1/groups/{group}/members/{member}/heartbeat", "group_heartbeat",
	  api_group_heartbeat, API_BODY_NONE, API_ROUTE_COORDINATOR },
	{ API_DELETE, "/v1/groups/{group}/members/{member}", "group_leave",
	  api_group_leave, API_BODY_NONE, API_ROUTE_COORDINATOR },
	{ API_GET,    "/v1/groups/{group}/members/{member}/records", "group_fetch",
	  api_group_member_fetch, API_BODY_NONE, API_ROUTE_COORDINATOR },
	/* broker to broker (api/internal.c): never forwarded */
	{ API_POST,   "/v1/internal/replica/epoch_end", "replica_epoch_end",
	  api_replica_epoch_end, API_BODY_ADMIN_MAX, 0 },
	{ API_POST,   "/v1/internal/replica/fetch", "replica_fetch",
	  api_replica_fetch, API_BODY_ADMIN_MAX, 0 },
};

#define API_NROUTES (sizeof api_routes / sizeof api_routes[0])

const api_route_t *api_route_table(size_t *nroutes)
{
	*nroutes = API_NROUTES;
	return api_routes;
}

/* ---- accessors --------------------------------------------------------- */

uint16_t api_port(const api_t *api) { return api->port; }
int api_is_stopping(const api_t *api) { return atomic_load(&((api_t *)api)->stopping); }
broker_t *api_broker(api_t *api) { return api->broker; }
const api_options_t *api_options(const api_t *api) { return &api->opts; }
void *api_parking_state(api_t *api) { return api->parking_state; }
void api_set_parking_state(api_t *api, void *state) { api->parking_state = state; }
void *api_flush_state(api_t *api) { return api->flush_state; }
void api_set_flush_state(api_t *api, void *state) { api->flush_state = state; }
void *api_forward_state(api_t *api) { return api->forward_state; }
void api_set_forward_state(api_t *api, void *state) { api->forward_state = state; }
api_metrics_t *api_metrics(api_t *api) { return api->metrics; }
void api_set_cluster(api_t *api, cluster_t *cluster) { atomic_store(&api->cluster, cluster); }
cluster_t *api_cluster(api_t *api) { return atomic_load(&api->cluster); }
void api_set_meta(api_t *api, meta_t *meta) { atomic_store(&api->meta, meta); }
meta_t *api_meta(api_t *api) { return atomic_load(&api->meta); }

/* ---- start ------------------------------------------------------------- */

static void api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "strand: http: %s\n", msg);
}

static void api_free(api_t *api)
{
	if (api == NULL)
		return;
	api_metrics_free(api->metrics);
	api_limits_free(api->limits);
	api_static_free(api->statics);
	pthread_mutex_destroy(&api->park_lock);
	pthread_rwlock_destroy(&api->acl_lock);
	acl_free(api->acl);
	if (api->peer_token != NULL)
		explicit_bzero(api->peer_token, strlen(api->peer_token));
	free(api->peer_token);
	free(api->listen_host);
	free(api->openapi_path);
	free(api->advertised_url);
	free(api->tls_cert);
	if (api->tls_key != NULL) {
		explicit_bzero(api->tls_key, strlen(api->tls_key));   /* private key */
		free(api->tls_key);
	}
	free(api);
}

/* Read a whole (PEM) file into a NUL-terminated heap string at *out. */
static int api_read_pem(const char *what, const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0, n;

	*out = NULL;
	if (f == NULL)
		return strand_err_set(err, errlen, STRAND_EIO, "cannot read TLS %s %s: %s", what,
		                      path, strerror(errno));
	do {
		if (cap - len < 4097) {
			char *p = cap > (1u << 20) ? NULL : realloc(text, cap ? cap * 2 : 8192);

			if (p == NULL) {
				free(text);
				fclose(f);
				return strand_err_set(err, errlen, STRAND_EINVAL,
				                      "TLS %s %s is larger than 1 MiB", what, path);
			}
			text = p;
			cap = cap ? cap * 2 : 8192;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	text[len] = '\0';
	if (strstr(text, "-----BEGIN ") == NULL) {
		free(text);
		return strand_err_set(err, errlen, STRAND_EINVAL, "TLS %s %s is not a PEM file",
		                      what, path);
	}
	*out = text;
	return 0;
}

/* Copy opts into api, with defaults. */
static int api_copy_options(api_t *api, const api_options_t *opts, char *err, size_t errlen)
{
	long ncpu;

	api->opts = *opts;
	api->opts.acl = NULL;   /* owned as api->acl */
	api->opts.peer_token = NULL;   /* owned as api->peer_token: reloadable */
	if (opts->peer_token != NULL && (api->peer_token = strdup(opts->peer_token)) == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	api->listen_host = strdup(opts->listen_host ? opts->listen_host : "127.0.0.1");
	api->openapi_path = opts->openapi_path ? strdup(opts->openapi_path) : NULL;
	api->advertised_url = opts->advertised_url ? strdup(opts->advertised_url) : NULL;
	if (api->listen_host == NULL || (opts->openapi_path && !api->openapi_path) ||
	    (opts->advertised_url && !api->advertised_url))
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	api->opts.listen_host = api->listen_host;
	api->opts.openapi_path = api->openapi_path;
	if (api->opts.threads <= 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		api->opts.threads = ncpu > 0 ? (int)ncpu : 1;
	}
	if (api->opts.threads > 256)
		return strand_err_set(err, errlen, STRAND_EINVAL, "threads must be at most 256");
	if (api->opts.max_request_bytes == 0)
		api->opts.max_request_bytes = BROKER_MAX_REQUEST_BYTES;
	if (api->opts.max_request_bytes > BROKER_MAX_REQUEST_BYTES)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "max_request_bytes must be at most %d", BROKER_MAX_REQUEST_BYTES);
	if (api->opts.connection_memory == 0)
		api->opts.connection_memory = 64 * 1024;
	if (api->opts.connection_memory < 8 * 1024)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "connection_memory must be at least 8192");
	if (api->opts.connection_timeout == 0)
		api->opts.connection_timeout = 60;
	if (api->opts.max_connections <= 0)
		api->opts.max_connections = 16384;
	if (api->opts.max_connections_per_client <= 0)
		api->opts.max_connections_per_client = 4096;
	if (api->opts.max_sse_per_client <= 0)
		api->opts.max_sse_per_client = 64;
	if (api->opts.max_url_bytes == 0)
		api->opts.max_url_bytes = 8192;
	if (api->opts.max_headers <= 0)
		api->opts.max_headers = 100;
	if (api->opts.max_header_bytes == 0)
		api->opts.max_header_bytes = 16384;
	if (api->opts.max_records_per_request == 0)
		api->opts.max_records_per_request = 1000000;
	if (api->opts.max_wait_ms <= 0 || api->opts.max_wait_ms > 60000)
		api->opts.max_wait_ms = 60000;   /* API.md: max_wait_ms at most 60000 */
	return 0;
}

/* Resolve host:port for MHD. */
static int api_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
                       char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char portstr[8];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "cannot resolve listen host %s: %s",
		                      host, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* The mount table: the dashboard at / (configured, else found), then the
 * extra mounts, then the API reference page at /docs (found). */
static int api_static_setup(api_t *api, const api_options_t *opts, char *err, size_t errlen)
{
	const char *www = opts->www_dir ? opts->www_dir : api_static_default_www_dir();
	const char *docs;
	int rc = api_static_new(&api->statics);

	if (rc)
		return strand_err_set(err, errlen, rc, "out of memory");
	if (www != NULL && www[0] != '\0') {
		rc = api_static_mount(api->statics, "/", www, err, errlen);
		if (rc)
			return rc;
	}
	if (opts->static_mounts != NULL)
		rc = api_static_mount_list(api->statics, opts->static_mounts, err, errlen);
	/* the API reference page, unless --mounts put something else at /docs */
	docs = api_static_default_docs_dir();
	if (rc == 0 && docs != NULL && !api_static_mounted(api->statics, "/docs"))
		rc = api_static_mount_flags(api->statics, "/docs", docs, API_STATIC_INLINE_STYLES,
		                            err, errlen);
	return rc;
}

/* MHD: a connection opened or closed; its socket context is its client's counts. */
static void api_connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                                  enum MHD_ConnectionNotificationCode toe)
{
	api_t *api = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		*socket_context = api_limits_connection_opened(api->limits,
		                                               ci != NULL ? ci->client_addr : NULL);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		api_limits_connection_closed(api->limits, *socket_context);
		*socket_context = NULL;
	}
}

int api_start(const api_options_t *opts, broker_t *broker, api_t **out,
              char *err, size_t errlen)
{
	const char *names[API_NROUTES];
	const union MHD_DaemonInfo *info;
	struct MHD_OptionItem tls_opts[3] = {
		{ MHD_OPTION_END, 0, NULL }, { MHD_OPTION_END, 0, NULL }, { MHD_OPTION_END, 0, NULL } };
	struct sockaddr_storage ss;
	unsigned flags;
	api_t *api;
	size_t i;
	int rc;

	*out = NULL;
	api = calloc(1, sizeof *api);
	if (api == NULL) {
		acl_free(opts->acl);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&api->park_lock, NULL);
	pthread_rwlock_init(&api->acl_lock, NULL);
	api->acl = opts->acl;       /* before MHD starts: no request is ever unchecked */
	atomic_init(&api->stopping, 0);
	atomic_init(&api->inflight, 0);
	atomic_init(&api->nparked, 0);
	api->broker = broker;
	api->routes = api_routes;
	api->nroutes = API_NROUTES;
	rc = api_copy_options(api, opts, err, errlen);
	if (rc)
		goto fail;
	for (i = 0; i < API_NROUTES; i++)
		names[i] = api_routes[i].name;
	rc = api_metrics_new(names, API_NROUTES, &api->metrics);
	if (rc) {
		strand_err_set(err, errlen, rc, "out of memory");
		goto fail;
	}
	if (api_limits_new(&api->limits) != 0) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto fail;
	}
	rc = api_static_setup(api, opts, err, errlen);
	if (rc)
		goto fail;
	rc = api_resolve(api->listen_host, opts->listen_port, &ss, err, errlen);
	if (rc)
		goto fail;
	rc = api_parking_init(api, err, errlen);
	if (rc)
		goto fail;
	rc = api_forward_init(api, err, errlen);
	if (rc) {
		api_parking_free(api);
		goto fail;
	}

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	        MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if ((opts->tls_cert_path == NULL) != (opts->tls_key_path == NULL)) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL,
		                    "TLS needs both a certificate and a key");
		api_parking_free(api);
		api_forward_free(api);
		goto fail;
	}
	if (opts->tls_cert_path != NULL) {
		rc = api_read_pem("certificate", opts->tls_cert_path, &api->tls_cert, err, errlen);
		if (rc == 0)
			rc = api_read_pem("key", opts->tls_key_path, &api->tls_key, err, errlen);
		if (rc) {
			api_parking_free(api);
			api_forward_free(api);
			goto fail;
		}
		flags |= MHD_USE_TLS;
		tls_opts[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, api->tls_cert };
		tls_opts[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, api->tls_key };
	}
	api->daemon = MHD_start_daemon(
		flags, opts->listen_port, NULL, NULL, api_access_handler, api,
		MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL,   /* first: MHD wants it so */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)api->opts.threads,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, api->opts.connection_memory,
		MHD_OPTION_CONNECTION_TIMEOUT, api->opts.connection_timeout,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		MHD_OPTION_NOTIFY_COMPLETED, api_request_completed, api,
		MHD_OPTION_NOTIFY_CONNECTION, api_connection_notify, api,
		/* MHD's own hard cap, above ours: past max_connections requests get
		 * a 429 (limits.c); past this MHD refuses the accept */
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(api->opts.max_connections + 256),
		MHD_OPTION_ARRAY, tls_opts,
		MHD_OPTION_END);
	if (api->daemon == NULL) {
		rc = strand_err_set(err, errlen, STRAND_EIO, api->tls_cert != NULL ?
		                    "cannot listen on %s:%u (or the TLS certificate and key were refused)" :
		                    "cannot listen on %s:%u",
		                    api->listen_host, (unsigned)opts->listen_port);
		api_parking_free(api);
		api_forward_free(api);
		goto fail;
	}
	info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
	api->port = info ? info->port : opts->listen_port;
	if (api->advertised_url == NULL) {
		char url[300];

		snprintf(url, sizeof url, ss.ss_family == AF_INET6 ? "%s://[%s]:%u" : "%s://%s:%u",
		         api->tls_cert != NULL ? "https" : "http", api->listen_host,
		         (unsigned)api->port);
		api->advertised_url = strdup(url);
	}
	api->opts.advertised_url = api->advertised_url;
	*out = api;
	return 0;
fail:
	api_free(api);
	return rc;
}

/* ---- stop -------------------------------------------------------------- */

void api_stop(api_t *api, int grace_ms)
{
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	int64_t deadline;
	MHD_socket lsock;

	if (api == NULL)
		return;
	/* 1. refuse new connections; new requests on open ones get 503 */
	atomic_store(&api->stopping, 1);
	lsock = MHD_quiesce_daemon(api->daemon);
	/* 2. parked long polls answer now (on_resume sees api_is_stopping) */
	api_parking_wake_all(api);
	api_resume_all(api);
	/* 3. let in-flight requests finish, within the grace period */
	deadline = api_now_ns() + (int64_t)(grace_ms > 0 ? grace_ms : 0) * 1000000;
	while (atomic_load(&api->inflight) > 0 && api_now_ns() < deadline) {
		api_resume_all(api);
		nanosleep(&pause, NULL);
	}
	/* MHD requires no suspended connection at stop */
	api_resume_all(api);
	MHD_stop_daemon(api->daemon);
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	api_forward_free(api);      /* no request is alive: relays still running end here */
	api_parking_free(api);
	api_free(api);
}
