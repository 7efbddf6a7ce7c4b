/*
 * cli_serve.c — `strand serve`: open the broker on a data directory (which
 * recovers every partition log), start the HTTP edge, and run until SIGTERM
 * or SIGINT; then stop accepting, answer parked requests, stop HTTP, flush
 * and close the broker, exit 0.
 *
 * Every option comes from, in order of precedence: a command-line flag
 * (--data-dir), a STRAND_* environment variable (STRAND_DATA_DIR), a line
 * `data_dir = ./data` of the config file (--config FILE or STRAND_CONFIG),
 * and the default. The one option table below is the only place that knows
 * names, flags and defaults.
 *
 * Logs: one line on stderr per start, stop and error, prefixed "strand: ".
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api/http.h"
#include "api/static.h"
#include "broker/broker.h"
#include "cli/cli.h"
#include "cluster/cluster.h"
#include "cluster/fetcher.h"
#include "cluster/meta.h"
#include "common/err.h"

/* ---- the option table -------------------------------------------------- */

typedef enum serve_opt {
	OPT_LISTEN,
	OPT_DATA_DIR,
	OPT_CONFIG,
	OPT_PORT_FILE,
	OPT_MAX_REQUEST_BYTES,
	OPT_THREADS,
	OPT_OPENAPI_PATH,
	OPT_ADVERTISED_URL,
	OPT_TICK_MS,
	OPT_SHUTDOWN_GRACE_MS,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_AUTH_FILE,
	OPT_ACL_FILE,
	OPT_BROKER_TOKEN_FILE,
	OPT_TLS_CA_FILE,
	OPT_METRICS_REQUIRE_AUTH,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_CONNECTIONS_PER_CLIENT,
	OPT_MAX_SSE_PER_CLIENT,
	OPT_MAX_URL_BYTES,
	OPT_MAX_HEADERS,
	OPT_MAX_HEADER_BYTES,
	OPT_MAX_RECORDS_PER_REQUEST,
	OPT_MAX_WAIT_MS,
	OPT_IDLE_TIMEOUT_S,
	OPT_CONNECTION_MEMORY,
	OPT_WWW_DIR,
	OPT_MOUNTS,
	OPT_PRODUCER_EXPIRATION_MS,
	OPT_BROKER_ID,
	OPT_ETCD,
	OPT_LEASE_TTL_S,
	OPT_OFFSETS_PARTITIONS,
	OPT_OFFSETS_SEGMENT_BYTES,
	OPT_LOG_CLEANER_BACKOFF_MS,
	OPT_LOG_CLEANER_IO_MAX_BYTES,
	OPT_IDEMPOTENCY_MAX_KEYS,
	OPT_IDEMPOTENCY_MAX_AGE_MS,
	OPT_IDEMPOTENCY_MAX_BYTES,
	OPT_REPLICA_LAG_TIME_MAX_MS,
	OPT_MIN_INSYNC_REPLICAS,
	OPT_DEFAULT_REPLICATION_FACTOR,
	OPT__COUNT
} serve_opt_t;

typedef struct serve_opt_def {
	const char *key;      /* config file key */
	const char *flag;     /* --flag VALUE */
	const char *env;      /* environment variable */
	const char *def;      /* default, NULL: unset */
	const char *help;
	const char *alias;    /* a second flag (--advertise for --advertised-url); NULL: none */
} serve_opt_def_t;

static const serve_opt_def_t serve_opts[OPT__COUNT] = {
	[OPT_LISTEN]            = { "listen", "--listen", "STRAND_LISTEN", "127.0.0.1:8080",
	                            "HOST:PORT to listen on ([::1]:8080 for IPv6; port 0: any free port)" },
	[OPT_DATA_DIR]          = { "data_dir", "--data-dir", "STRAND_DATA_DIR", "./data",
	                            "directory holding topics, logs and metadata" },
	[OPT_CONFIG]            = { "config", "--config", "STRAND_CONFIG", NULL,
	                            "file of `key = value` lines setting any option here" },
	[OPT_PORT_FILE]         = { "port_file", "--port-file", "STRAND_PORT_FILE", NULL,
	                            "write the bound port to this file once listening" },
	[OPT_MAX_REQUEST_BYTES] = { "max_request_bytes", "--max-request-bytes",
	                            "STRAND_MAX_REQUEST_BYTES", "67108864",
	                            "largest produce request body (413 REQUEST_TOO_LARGE above)" },
	[OPT_THREADS]           = { "threads", "--threads", "STRAND_THREADS", "0",
	                            "HTTP worker threads (0: one per CPU)" },
	[OPT_OPENAPI_PATH]      = { "openapi_path", "--openapi-path", "STRAND_OPENAPI_PATH", NULL,
	                            "openapi.yaml to serve (default: the installed one)" },
	[OPT_ADVERTISED_URL]    = { "advertised_url", "--advertised-url", "STRAND_ADVERTISED_URL",
	                            NULL, "URL clients and brokers reach this broker at "
	                            "(default: from listen; also --advertise)", "--advertise" },
	[OPT_TICK_MS]           = { "tick_ms", "--tick-ms", "STRAND_TICK_MS", "1000",
	                            "period of background flush/roll/retention work" },
	[OPT_SHUTDOWN_GRACE_MS] = { "shutdown_grace_ms", "--shutdown-grace-ms",
	                            "STRAND_SHUTDOWN_GRACE_MS", "5000",
	                            "how long a stop waits for in-flight requests" },
	[OPT_TLS_CERT]          = { "tls_cert", "--tls-cert", "STRAND_TLS_CERT", NULL,
	                            "PEM certificate (chain): serve HTTPS (needs --tls-key)" },
	[OPT_TLS_KEY]           = { "tls_key", "--tls-key", "STRAND_TLS_KEY", NULL,
	                            "PEM private key of --tls-cert" },
	[OPT_AUTH_FILE]         = { "auth_file", "--auth-file", "STRAND_AUTH_FILE", NULL,
	                            "`TOKEN PRINCIPAL` lines: requests need a bearer token (SIGHUP re-reads)" },
	[OPT_ACL_FILE]          = { "acl_file", "--acl-file", "STRAND_ACL_FILE", NULL,
	                            "`PRINCIPAL OPERATION RESOURCE_TYPE PATTERN` rules (needs --auth-file)" },
	[OPT_BROKER_TOKEN_FILE] = { "broker_token_file", "--broker-token-file",
	                            "STRAND_BROKER_TOKEN_FILE", NULL,
	                            "file (mode 0600) holding this broker's own token, sent to other "
	                            "brokers; its principal needs `cluster_action cluster *` "
	                            "(SIGHUP re-reads)" },
	[OPT_TLS_CA_FILE]       = { "tls_ca_file", "--tls-ca-file", "STRAND_TLS_CA_FILE", NULL,
	                            "PEM CA file that other brokers and https etcd are verified "
	                            "against (default: the system's CAs)" },
	[OPT_METRICS_REQUIRE_AUTH] = { "metrics_require_auth", "--metrics-require-auth",
	                            "STRAND_METRICS_REQUIRE_AUTH", "0",
	                            "1: /metrics needs a token with describe on the cluster" },
	[OPT_MAX_CONNECTIONS]   = { "max_connections", "--max-connections", "STRAND_MAX_CONNECTIONS",
	                            "16384", "open connections in all (over: 429; capped by the fd limit)" },
	[OPT_MAX_CONNECTIONS_PER_CLIENT] = { "max_connections_per_client",
	                            "--max-connections-per-client", "STRAND_MAX_CONNECTIONS_PER_CLIENT",
	                            "4096", "open connections per client address (over: 429)" },
	[OPT_MAX_SSE_PER_CLIENT] = { "max_sse_per_client", "--max-sse-per-client",
	                            "STRAND_MAX_SSE_PER_CLIENT", "64",
	                            "live SSE tails per client address (over: 429)" },
	[OPT_MAX_URL_BYTES]     = { "max_url_bytes", "--max-url-bytes", "STRAND_MAX_URL_BYTES", "8192",
	                            "path and query bytes (over: 414)" },
	[OPT_MAX_HEADERS]       = { "max_headers", "--max-headers", "STRAND_MAX_HEADERS", "100",
	                            "request headers (over: 431)" },
	[OPT_MAX_HEADER_BYTES]  = { "max_header_bytes", "--max-header-bytes", "STRAND_MAX_HEADER_BYTES",
	                            "16384", "request header bytes in all (over: 431)" },
	[OPT_MAX_RECORDS_PER_REQUEST] = { "max_records_per_request", "--max-records-per-request",
	                            "STRAND_MAX_RECORDS_PER_REQUEST", "1000000",
	                            "records in one JSON/NDJSON produce request (over: 413)" },
	[OPT_MAX_WAIT_MS]       = { "max_wait_ms", "--max-wait-ms", "STRAND_MAX_WAIT_MS", "60000",
	                            "ceiling of a long poll's max_wait_ms (at most 60000)" },
	[OPT_IDLE_TIMEOUT_S]    = { "idle_timeout_s", "--idle-timeout-s", "STRAND_IDLE_TIMEOUT_S", "60",
	                            "close a connection idle (or sending headers) this long" },
	[OPT_CONNECTION_MEMORY] = { "connection_memory_bytes", "--connection-memory-bytes",
	                            "STRAND_CONNECTION_MEMORY_BYTES", "65536",
	                            "libmicrohttpd's buffer per connection: request line, headers, "
	                            "I/O (resident per keep-alive connection)" },
	[OPT_WWW_DIR]           = { "www_dir", "--www-dir", "STRAND_WWW_DIR", NULL,
	                            "the dashboard's built files, served at / (default: the installed "
	                            "ones, else the build tree's from `make www`; \"\": none)" },
	[OPT_MOUNTS]            = { "mounts", "--mounts", "STRAND_MOUNTS", NULL,
	                            "more files or directories to serve: PREFIX=PATH[,PREFIX=PATH...] "
	                            "(e.g. /docs=/srv/docs)" },
	[OPT_PRODUCER_EXPIRATION_MS] = { "producer_id_expiration_ms", "--producer-id-expiration-ms",
	                            "STRAND_PRODUCER_ID_EXPIRATION_MS", "86400000",
	                            "forget an idempotent producer's sequences after this long "
	                            "without a batch (-1: never)" },
	[OPT_BROKER_ID]         = { "broker_id", "--broker-id", "STRAND_BROKER_ID", "0",
	                            "this broker's id, unique in its cluster (docs/REPLICATION.md)" },
	[OPT_ETCD]              = { "etcd", "--etcd", "STRAND_ETCD", NULL,
	                            "etcd client URLs, comma-separated: cluster mode (unset: single node)" },
	[OPT_LEASE_TTL_S]       = { "lease_ttl_s", "--lease-ttl-s", "STRAND_LEASE_TTL_S", "4",
	                            "cluster mode: the broker's etcd lease; it stops leading once "
	                            "this may have lapsed" },
	[OPT_OFFSETS_PARTITIONS] = { "offsets_partitions", "--offsets-partitions",
	                            "STRAND_OFFSETS_PARTITIONS", "16",
	                            "cluster mode: partitions of __consumer_offsets when this broker "
	                            "creates it (groups and committed offsets; docs/GROUPS.md)" },
	[OPT_OFFSETS_SEGMENT_BYTES] = { "offsets_segment_bytes", "--offsets-segment-bytes",
	                            "STRAND_OFFSETS_SEGMENT_BYTES", "104857600",
	                            "cluster mode: segment_bytes of __consumer_offsets when this "
	                            "broker creates it (compaction cleans closed segments only)" },
	[OPT_LOG_CLEANER_BACKOFF_MS] = { "log_cleaner_backoff_ms", "--log-cleaner-backoff-ms",
	                            "STRAND_LOG_CLEANER_BACKOFF_MS", "15000",
	                            "cluster mode: how often the log cleaner looks for "
	                            "__consumer_offsets partitions to compact" },
	[OPT_LOG_CLEANER_IO_MAX_BYTES] = { "log_cleaner_io_max_bytes_per_second",
	                            "--log-cleaner-io-max-bytes-per-second",
	                            "STRAND_LOG_CLEANER_IO_MAX_BYTES_PER_SECOND", "0",
	                            "cluster mode: the log cleaner's reads and writes together "
	                            "stay under this many bytes a second (0: no limit)" },
	[OPT_IDEMPOTENCY_MAX_KEYS] = { "idempotency_max_keys", "--idempotency-max-keys",
	                            "STRAND_IDEMPOTENCY_MAX_KEYS", "10000",
	                            "Idempotency-Key answers kept (the oldest go first)" },
	[OPT_IDEMPOTENCY_MAX_AGE_MS] = { "idempotency_max_age_ms", "--idempotency-max-age-ms",
	                            "STRAND_IDEMPOTENCY_MAX_AGE_MS", "86400000",
	                            "how long an Idempotency-Key answer is kept" },
	[OPT_IDEMPOTENCY_MAX_BYTES] = { "idempotency_max_bytes", "--idempotency-max-bytes",
	                            "STRAND_IDEMPOTENCY_MAX_BYTES", "67108864",
	                            "bytes of Idempotency-Key answers kept in all (the oldest go "
	                            "first)" },
	[OPT_REPLICA_LAG_TIME_MAX_MS] = { "replica_lag_time_max_ms", "--replica-lag-time-max-ms",
	                            "STRAND_REPLICA_LAG_TIME_MAX_MS", "10000",
	                            "cluster mode: a new topic's replica_lag_time_max_ms when its "
	                            "create sets none (a follower this far behind leaves the ISR)" },
	[OPT_MIN_INSYNC_REPLICAS] = { "min_insync_replicas", "--min-insync-replicas",
	                            "STRAND_MIN_INSYNC_REPLICAS", "1",
	                            "a new topic's min_insync_replicas when its create sets none "
	                            "(acks=all needs this many in sync)" },
	[OPT_DEFAULT_REPLICATION_FACTOR] = { "default_replication_factor",
	                            "--default-replication-factor",
	                            "STRAND_DEFAULT_REPLICATION_FACTOR", "1",
	                            "a new topic's replication_factor when its create names none "
	                            "(above 1: cluster mode only)" },
};

typedef struct serve_values {
	char *v[OPT__COUNT];              /* owned; NULL: unset */
	const char *source[OPT__COUNT];   /* "flag", "environment", file path, "default" */
} serve_values_t;

static void serve_values_free(serve_values_t *sv)
{
	int i;

	for (i = 0; i < OPT__COUNT; i++)
		free(sv->v[i]);
}

/* Set option i unless a stronger source already set it (callers go strongest first). */
static int serve_set(serve_values_t *sv, int i, const char *value, const char *source)
{
	if (sv->v[i] != NULL)
		return 0;
	sv->v[i] = strdup(value);
	if (sv->v[i] == NULL)
		return STRAND_ENOMEM;
	sv->source[i] = source;
	return 0;
}

static void serve_usage(FILE *f)
{
	int i;

	fprintf(f, "usage: strand serve [--listen HOST:PORT] [--data-dir DIR] [--config FILE] [options]\n"
	           "       cluster mode: --broker-id N --etcd URL[,URL...] [--advertise URL]\n"
	           "options (flag, environment variable, config file key):\n");
	for (i = 0; i < OPT__COUNT; i++)
		fprintf(f, "  %-22s %-26s %-18s %s%s%s\n", serve_opts[i].flag, serve_opts[i].env,
		        serve_opts[i].key, serve_opts[i].help,
		        serve_opts[i].def ? "; default " : "", serve_opts[i].def ? serve_opts[i].def : "");
}

/* Flags: --name VALUE or --name=VALUE. Returns 0, 1 (--help) or -1 (error, printed). */
static int serve_parse_flags(int argc, char **argv, serve_values_t *sv)
{
	int a, i;

	for (a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq = strchr(arg, '='), *value;
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return 1;
		for (i = 0; i < OPT__COUNT; i++)
			if ((strlen(serve_opts[i].flag) == nlen &&
			     strncmp(arg, serve_opts[i].flag, nlen) == 0) ||
			    (serve_opts[i].alias != NULL && strlen(serve_opts[i].alias) == nlen &&
			     strncmp(arg, serve_opts[i].alias, nlen) == 0))
				break;
		if (i == OPT__COUNT) {
			fprintf(stderr, "strand: serve: unknown option %s (see strand serve --help)\n", arg);
			return -1;
		}
		if (eq != NULL) {
			value = eq + 1;
		} else if (a + 1 < argc) {
			value = argv[++a];
		} else {
			fprintf(stderr, "strand: serve: %s needs a value\n", serve_opts[i].flag);
			return -1;
		}
		free(sv->v[i]);
		sv->v[i] = NULL;
		if (serve_set(sv, i, value, "flag") != 0)
			return -1;
	}
	return 0;
}

static int serve_load_env(serve_values_t *sv)
{
	int i;
	const char *v;

	for (i = 0; i < OPT__COUNT; i++) {
		v = getenv(serve_opts[i].env);
		if (v != NULL && serve_set(sv, i, v, "environment") != 0)
			return -1;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* The config file: `key = value` lines, # comments, optional "quotes". */
static int serve_load_file(serve_values_t *sv, const char *path)
{
	char line[4096], *key, *value, *eq;
	int lineno = 0, i, rc = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "strand: serve: cannot open config file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
		lineno++;
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			fprintf(stderr, "strand: serve: %s:%d: expected `key = value`\n", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		if (value[0] == '"' && strlen(value) >= 2 && value[strlen(value) - 1] == '"') {
			value[strlen(value) - 1] = '\0';
			value++;
		}
		for (i = 0; i < OPT__COUNT; i++)
			if (strcmp(key, serve_opts[i].key) == 0)
				break;
		if (i == OPT__COUNT || i == OPT_CONFIG) {
			fprintf(stderr, "strand: serve: %s:%d: unknown key %s\n", path, lineno, key);
			rc = -1;
			break;
		}
		if (serve_set(sv, i, value, path) != 0)
			rc = -1;
	}
	fclose(f);
	return rc;
}

/* Integer option in [min, max]. 0 or -1 (printed). */
static int serve_int(const serve_values_t *sv, int i, int64_t min, int64_t max, int64_t *out)
{
	const char *s = sv->v[i];
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "strand: serve: %s (from %s) must be an integer in [%" PRId64
		        ", %" PRId64 "], not \"%s\"\n", serve_opts[i].key, sv->source[i], min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces). host is a copy. */
static int serve_parse_listen(const char *s, char **host, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	long p;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - s);
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p < 0 || p > 65535)
		return -1;
	*host = hlen ? strndup(h, hlen) : strdup("0.0.0.0");
	if (*host == NULL)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* Write the port atomically (temp file, rename) so a reader never sees half. */
static int serve_write_port_file(const char *path, uint16_t port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return -1;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%u\n", (unsigned)port);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- the command ------------------------------------------------------- */

/* Load the token and ACL files named by the options; NULL *out when auth is off. */
static int serve_load_acl(serve_values_t *sv, acl_t **out, char *err, size_t errlen)
{
	*out = NULL;
	if (sv->v[OPT_AUTH_FILE] == NULL) {
		if (sv->v[OPT_ACL_FILE] != NULL)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "--acl-file needs --auth-file (who is who)");
		return 0;
	}
	return acl_load(sv->v[OPT_AUTH_FILE], sv->v[OPT_ACL_FILE], out, err, errlen);
}

#define SERVE_TOKEN_FILE_MAX 4096   /* --broker-token-file: a longer file is refused */

/*
 * The broker's own token (--broker-token-file): the first line that is not
 * blank or a # comment, trimmed. The file is a secret: a regular file that
 * neither group nor others may read or write (as ssh keys are), else the
 * start stops. *out is owned (wipe and free it). 0 or STRAND_EINVAL/EIO.
 */
static int serve_read_broker_token(const char *path, char **out, char *err, size_t errlen)
{
	char text[SERVE_TOKEN_FILE_MAX + 1], *line, *save = NULL, *tok = NULL;
	struct stat st;
	size_t n;
	FILE *f;
	int rc = 0;

	*out = NULL;
	f = fopen(path, "r");
	if (f == NULL)
		return strand_err_set(err, errlen, STRAND_EIO, "cannot read --broker-token-file %s: %s",
		                      path, strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return strand_err_set(err, errlen, STRAND_EINVAL, "--broker-token-file %s is not a "
		                      "regular file", path);
	}
	if (st.st_mode & 077) {
		fclose(f);
		return strand_err_set(err, errlen, STRAND_EINVAL, "--broker-token-file %s is open to "
		                      "group or others (mode %03o): it is a secret, chmod 600 it",
		                      path, (unsigned)(st.st_mode & 0777));
	}
	n = fread(text, 1, sizeof text, f);
	fclose(f);
	if (n > SERVE_TOKEN_FILE_MAX) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL, "--broker-token-file %s is larger "
		                    "than %d bytes", path, SERVE_TOKEN_FILE_MAX);
		goto out;
	}
	text[n] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL && tok == NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		line = trim(line);
		if (*line != '\0' && *line != '#')
			tok = line;
	}
	if (tok == NULL || strlen(tok) < ACL_MIN_TOKEN || strlen(tok) > ACL_MAX_TOKEN ||
	    strpbrk(tok, " \t\r") != NULL) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL, "--broker-token-file %s must hold one "
		                    "token of %d to %d characters without spaces", path,
		                    ACL_MIN_TOKEN, ACL_MAX_TOKEN);
		goto out;
	}
	*out = strdup(tok);
	if (*out == NULL)
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
out:
	explicit_bzero(text, sizeof text);
	return rc;
}

/*
 * Will the other brokers take this broker's token? They share the auth
 * and ACL files, so ask ours: the token must name a principal, and with
 * ACL rules that principal must hold cluster_action on the cluster. Else
 * 0 is returned with why filled (the start stops; on SIGHUP a new token is
 * refused, and the one in force only warned about when new rules drop it).
 */
static int serve_broker_token_ok(const acl_t *acl, const char *token, char *why, size_t len)
{
	const char *principal;

	if (acl == NULL || token == NULL)
		return 1;
	principal = acl_authenticate(acl, token, strlen(token));
	if (principal == NULL) {
		snprintf(why, len, "the --broker-token-file token is not in --auth-file: the other "
		         "brokers would refuse it (401)");
		return 0;
	}
	if (!acl_allows(acl, principal, ACL_CLUSTER_ACTION, ACL_CLUSTER, NULL)) {
		snprintf(why, len, "the broker's principal %s lacks `%s cluster_action cluster *` in "
		         "--acl-file: the other brokers would refuse its replica fetches (403)",
		         principal, principal);
		return 0;
	}
	return 1;
}

/* Wipe and free a token. */
static void serve_token_free(char *token)
{
	if (token != NULL)
		explicit_bzero(token, strlen(token));
	free(token);
}

/*
 * SIGHUP: read --broker-token-file (path) again. The new token is taken
 * only when the file passes every check the start makes (a regular file
 * of mode 0600 holding one token of 16 to 512 characters) and the rules in
 * force accept it (its principal in the auth file, with cluster_action);
 * else the old token stays and the log says why. The replica fetcher and
 * the relays (api) each copy it, and each keeps the old token for the
 * requests already sent with it: no request changes token midway. *token
 * is the serve's own copy, replaced on success.
 */
static void serve_reload_broker_token(const char *path, const acl_t *rules, api_t *api,
                                      fetcher_t *fetcher, char **token)
{
	char *fresh = NULL, err[512];

	if (serve_read_broker_token(path, &fresh, err, sizeof err) != 0) {
		fprintf(stderr, "strand: error: SIGHUP: %s (keeping the previous broker token)\n", err);
		return;
	}
	if (*token != NULL && strcmp(fresh, *token) == 0) {
		serve_token_free(fresh);   /* unchanged */
		return;
	}
	if (!serve_broker_token_ok(rules, fresh, err, sizeof err)) {
		fprintf(stderr, "strand: error: SIGHUP: new broker token refused: %s (keeping the "
		        "previous broker token)\n", err);
		serve_token_free(fresh);
		return;
	}
	/* the fetcher first: when the api then fails (no memory), the fetcher
	 * goes back to the old token, so both always send the same one */
	if (fetcher_set_token(fetcher, fresh, err, sizeof err) != 0 ||
	    api_set_peer_token(api, fresh) != 0) {
		if (fetcher_set_token(fetcher, *token, err, sizeof err) != 0)
			fprintf(stderr, "strand: error: SIGHUP: %s\n", err);
		fprintf(stderr, "strand: error: SIGHUP: out of memory taking the new broker token "
		        "(keeping the previous one)\n");
		serve_token_free(fresh);
		return;
	}
	serve_token_free(*token);
	*token = fresh;
	fprintf(stderr, "strand: SIGHUP: broker token reloaded from %s\n", path);
}

/*
 * Raise the open-file limit to its hard maximum and fit max_connections
 * under it (segments, indexes and listening sockets need descriptors too:
 * a quarter is kept for them). Says so when it has to lower the limit.
 */
static int64_t serve_fit_fd_limit(int64_t max_conn)
{
	struct rlimit rl;
	int64_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return max_conn;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return max_conn;
	room = (int64_t)rl.rlim_cur - (int64_t)rl.rlim_cur / 4;
	if (max_conn > room) {
		fprintf(stderr, "strand: max_connections lowered from %" PRId64 " to %" PRId64
		        " to fit the open-file limit of %" PRId64 "\n", max_conn, room,
		        (int64_t)rl.rlim_cur);
		return room < 16 ? 16 : room;
	}
	return max_conn;
}

/* Is host a loopback address (127.0.0.0/8, ::1, localhost)? */
static int serve_host_is_loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "localhost") == 0;
}

/*
 * Cluster mode: join through etcd as broker_id, advertising the API's URL
 * (known only once it listens: port 0), and let /v1/cluster read from etcd;
 * then take topics and partition states from etcd (meta) and route topic
 * admin there.
 */
static int serve_join_cluster(serve_values_t *sv, broker_t *broker, api_t *api,
                              int32_t broker_id, int lease_ttl_s, int32_t offsets_partitions,
                              int64_t offsets_segment_bytes,
                              const cluster_membership_t *member, cluster_t **out,
                              meta_t **meta_out)
{
	cluster_options_t co;
	meta_options_t mo;
	char err[512];
	int rc;

	cluster_options_init(&co);
	co.etcd_endpoints = sv->v[OPT_ETCD];
	co.etcd_ca_file = sv->v[OPT_TLS_CA_FILE];
	co.broker_id = broker_id;
	co.advertised_url = api_options(api)->advertised_url;
	co.proposed_cluster_id = broker_cluster_id(broker);
	co.required_cluster_id = member->recorded ? member->cluster_id : NULL;
	co.lease_ttl_s = lease_ttl_s;
	co.unclean_shutdown = broker_unclean_shutdown(broker);
	rc = cluster_open(&co, out, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "strand: error: cannot join the cluster at %s: %s\n",
		        sv->v[OPT_ETCD], err);
		return rc;
	}
	if (!member->recorded) {
		/* the first join: from now on this directory belongs to this cluster */
		rc = cluster_membership_write(sv->v[OPT_DATA_DIR], cluster_id(*out), broker_id,
		                              err, sizeof err);
		if (rc != 0) {
			fprintf(stderr, "strand: error: cannot record the cluster membership: %s\n",
			        err);
			return rc;
		}
		fprintf(stderr, "strand: cluster: data directory %s recorded as broker %" PRId32
		        " of cluster %s (meta/%s)\n", sv->v[OPT_DATA_DIR], broker_id,
		        cluster_id(*out), CLUSTER_MEMBERSHIP_FILE);
	}
	api_set_cluster(api, *out);
	fprintf(stderr, "strand: cluster: broker %" PRId32 " joined cluster %s as %s\n",
	        broker_id, cluster_id(*out), co.advertised_url);
	memset(&mo, 0, sizeof mo);
	mo.broker = broker;
	mo.cluster = *out;
	mo.etcd_endpoints = sv->v[OPT_ETCD];
	mo.etcd_ca_file = sv->v[OPT_TLS_CA_FILE];
	mo.offsets_partitions = offsets_partitions;
	mo.offsets_segment_bytes = offsets_segment_bytes;
	rc = meta_open(&mo, meta_out, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "strand: error: cannot read topics from etcd: %s\n", err);
		return rc;
	}
	api_set_meta(api, *meta_out);
	return 0;
}

/* The fetcher's leader URLs: the live registrations meta keeps. */
static int serve_broker_url(void *ctx, int32_t id, char *url, size_t urllen)
{
	return meta_broker_url(ctx, id, url, urllen);
}

/* Cluster mode: follow the partitions this broker is a follower of. */
static int serve_start_fetcher(broker_t *broker, meta_t *meta, int32_t broker_id,
                               const char *token, const char *ca_file, fetcher_t **out)
{
	fetcher_options_t fo;
	char err[512];
	int rc;

	memset(&fo, 0, sizeof fo);
	fo.broker = broker;
	fo.self_id = broker_id;
	fo.url_of = serve_broker_url;
	fo.url_ctx = meta;
	fo.token = token;
	fo.ca_file = ca_file;
	rc = fetcher_open(&fo, out, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "strand: error: cannot start the replica fetcher: %s\n", err);
	return rc;
}

int cli_serve(int argc, char **argv)
{
	serve_values_t sv;
	broker_options_t bopts;
	api_options_t aopts;
	broker_t *broker = NULL;
	api_t *api = NULL;
	sigset_t sigs;
	char err[512], *host = NULL;
	int64_t max_req, threads, tick, grace = 0, metrics_auth = 0;
	int64_t max_conn, max_conn_client, max_sse, max_url, max_hdrs, max_hdr_bytes, max_recs;
	int64_t max_wait, idle_s, conn_mem, producer_exp, broker_id, lease_ttl, offsets_parts;
	int64_t offsets_seg_bytes, cleaner_backoff, cleaner_io_max;
	int64_t idem_keys, idem_age, idem_bytes, lag_max, min_isr, default_rf;
	acl_t *acl = NULL;
	const acl_t *rules = NULL;  /* the set the api enforces (it owns it); only this
	                             * thread replaces it, so it stays valid between SIGHUPs */
	const char *www;
	cluster_t *cluster = NULL;
	cluster_membership_t member;
	meta_t *meta = NULL;
	fetcher_t *fetcher = NULL;
	char *broker_token = NULL;
	int i, sig, rc, status = 1;

	/* Request bodies, batches and answers are 0.1-64 MiB and freed per
	 * request. glibc would mmap each one past 128 KiB and return freed heap
	 * tops to the kernel, so every request page-faults its buffers in
	 * afresh; keep such memory in the heap for reuse instead. */
	mallopt(M_MMAP_THRESHOLD, BROKER_MAX_BATCH_BYTES);
	mallopt(M_TRIM_THRESHOLD, 4 * BROKER_MAX_BATCH_BYTES);
	memset(&sv, 0, sizeof sv);
	rc = serve_parse_flags(argc, argv, &sv);
	if (rc != 0) {
		if (rc == 1)
			serve_usage(stdout);
		else
			serve_usage(stderr);
		serve_values_free(&sv);
		return rc == 1 ? 0 : 2;
	}
	if (serve_load_env(&sv) != 0)
		goto out;
	if (sv.v[OPT_CONFIG] != NULL && serve_load_file(&sv, sv.v[OPT_CONFIG]) != 0) {
		status = 2;
		goto out;
	}
	for (i = 0; i < OPT__COUNT; i++)
		if (serve_opts[i].def != NULL && serve_set(&sv, i, serve_opts[i].def, "default") != 0)
			goto out;
	status = 2;
	if (serve_parse_listen(sv.v[OPT_LISTEN], &host, &aopts.listen_port) != 0) {
		fprintf(stderr, "strand: serve: listen (from %s) must be HOST:PORT, not \"%s\"\n",
		        sv.source[OPT_LISTEN], sv.v[OPT_LISTEN]);
		goto out;
	}
	if (serve_int(&sv, OPT_MAX_REQUEST_BYTES, 1024, BROKER_MAX_REQUEST_BYTES, &max_req) ||
	    serve_int(&sv, OPT_THREADS, 0, 256, &threads) ||
	    serve_int(&sv, OPT_TICK_MS, 10, 3600000, &tick) ||
	    serve_int(&sv, OPT_SHUTDOWN_GRACE_MS, 0, 600000, &grace) ||
	    serve_int(&sv, OPT_METRICS_REQUIRE_AUTH, 0, 1, &metrics_auth) ||
	    serve_int(&sv, OPT_MAX_CONNECTIONS, 16, 1000000, &max_conn) ||
	    serve_int(&sv, OPT_MAX_CONNECTIONS_PER_CLIENT, 1, 1000000, &max_conn_client) ||
	    serve_int(&sv, OPT_MAX_SSE_PER_CLIENT, 1, 100000, &max_sse) ||
	    serve_int(&sv, OPT_MAX_URL_BYTES, 256, 60000, &max_url) ||
	    serve_int(&sv, OPT_MAX_HEADERS, 8, 10000, &max_hdrs) ||
	    serve_int(&sv, OPT_MAX_HEADER_BYTES, 1024, 60000, &max_hdr_bytes) ||
	    serve_int(&sv, OPT_MAX_RECORDS_PER_REQUEST, 1, 100000000, &max_recs) ||
	    serve_int(&sv, OPT_MAX_WAIT_MS, 0, 60000, &max_wait) ||
	    serve_int(&sv, OPT_IDLE_TIMEOUT_S, 1, 86400, &idle_s) ||
	    serve_int(&sv, OPT_CONNECTION_MEMORY, 8192, 16 << 20, &conn_mem) ||
	    serve_int(&sv, OPT_PRODUCER_EXPIRATION_MS, -1, INT64_MAX / 2, &producer_exp) ||
	    serve_int(&sv, OPT_BROKER_ID, 0, CLUSTER_MAX_BROKER_ID, &broker_id) ||
	    serve_int(&sv, OPT_LEASE_TTL_S, 1, CLUSTER_MAX_LEASE_TTL_S, &lease_ttl) ||
	    serve_int(&sv, OPT_OFFSETS_PARTITIONS, 1, META_MAX_NEW_PARTITIONS, &offsets_parts) ||
	    serve_int(&sv, OPT_OFFSETS_SEGMENT_BYTES, 1024, INT32_MAX, &offsets_seg_bytes) ||
	    serve_int(&sv, OPT_LOG_CLEANER_BACKOFF_MS, 10, 3600000, &cleaner_backoff) ||
	    serve_int(&sv, OPT_LOG_CLEANER_IO_MAX_BYTES, 0, INT64_MAX / 4, &cleaner_io_max) ||
	    serve_int(&sv, OPT_IDEMPOTENCY_MAX_KEYS, 1, 100000000, &idem_keys) ||
	    serve_int(&sv, OPT_IDEMPOTENCY_MAX_AGE_MS, 1, INT64_MAX / 4, &idem_age) ||
	    serve_int(&sv, OPT_IDEMPOTENCY_MAX_BYTES, 1024, INT64_MAX / 4, &idem_bytes) ||
	    serve_int(&sv, OPT_REPLICA_LAG_TIME_MAX_MS, 1, INT64_MAX / 4, &lag_max) ||
	    serve_int(&sv, OPT_MIN_INSYNC_REPLICAS, 1, REPLICA_MAX, &min_isr) ||
	    serve_int(&sv, OPT_DEFAULT_REPLICATION_FACTOR, 1, REPLICA_MAX, &default_rf))
		goto out;
	if (default_rf > 1 && sv.v[OPT_ETCD] == NULL) {
		fprintf(stderr, "strand: serve: default_replication_factor (from %s) is %" PRId64
		        ": a single node keeps one replica (give --etcd for cluster mode)\n",
		        sv.source[OPT_DEFAULT_REPLICATION_FACTOR], default_rf);
		goto out;
	}
	max_conn = serve_fit_fd_limit(max_conn);
	if (serve_load_acl(&sv, &acl, err, sizeof err) != 0) {
		fprintf(stderr, "strand: serve: %s\n", err);
		goto out;
	}
	if (sv.v[OPT_BROKER_TOKEN_FILE] != NULL &&
	    serve_read_broker_token(sv.v[OPT_BROKER_TOKEN_FILE], &broker_token, err, sizeof err)) {
		fprintf(stderr, "strand: serve: %s\n", err);
		goto out;
	}
	if (sv.v[OPT_ETCD] != NULL && acl != NULL && broker_token == NULL) {
		fprintf(stderr, "strand: serve: a cluster with --auth-file needs --broker-token-file: "
		        "this broker's own token for replica fetches and relayed requests "
		        "(docs/SECURITY.md)\n");
		goto out;
	}
	if (!serve_broker_token_ok(acl, broker_token, err, sizeof err)) {
		fprintf(stderr, "strand: serve: %s\n", err);
		goto out;
	}
	if (sv.v[OPT_TLS_CA_FILE] != NULL && access(sv.v[OPT_TLS_CA_FILE], R_OK) != 0) {
		fprintf(stderr, "strand: serve: cannot read --tls-ca-file %s: %s\n",
		        sv.v[OPT_TLS_CA_FILE], strerror(errno));
		goto out;
	}
	if (sv.v[OPT_TLS_CERT] != NULL && sv.v[OPT_ADVERTISED_URL] != NULL &&
	    strncmp(sv.v[OPT_ADVERTISED_URL], "https://", 8) != 0)
		fprintf(stderr, "strand: warning: --advertise %s is not https:// but this broker "
		        "serves TLS: other brokers and clients will fail to reach it\n",
		        sv.v[OPT_ADVERTISED_URL]);
	status = 1;
	/* Which cluster the data directory belongs to, before anything opens
	 * (or changes) it: a directory of another cluster, of another broker
	 * id, or of a cluster started single-node is refused (cluster.h). */
	if (sv.v[OPT_ETCD] != NULL)
		curl_global_init(CURL_GLOBAL_DEFAULT);   /* the etcd client is libcurl */
	if (cluster_check_data_dir(sv.v[OPT_DATA_DIR], sv.v[OPT_ETCD], sv.v[OPT_TLS_CA_FILE],
	                           (int32_t)broker_id, &member, err, sizeof err) != 0) {
		fprintf(stderr, "strand: error: %s\n", err);
		goto out;
	}

	/* Signals go to sigwait below: block them before any thread starts. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	memset(&bopts, 0, sizeof bopts);
	bopts.data_dir = sv.v[OPT_DATA_DIR];
	bopts.broker_id = (int32_t)broker_id;
	/* with --etcd, cluster mode before the API listens: a broker restarted
	 * while its old lease still holds its registration waits in
	 * serve_join_cluster, and meanwhile must not take writes as a single
	 * node (it acknowledged acks=all records that the leader elected in its
	 * absence never had, and then truncated them) */
	bopts.cluster_mode = sv.v[OPT_ETCD] != NULL;
	bopts.advertised_url = sv.v[OPT_ADVERTISED_URL];
	bopts.tick_ms = (int)tick;
	bopts.log_cleaner_backoff_ms = (int)cleaner_backoff;
	bopts.log_cleaner_io_max_bytes_per_second = cleaner_io_max;
	bopts.producer_expiration_ms = producer_exp == 0 ? 1 : producer_exp;
	bopts.idempotency.max_keys = idem_keys;
	bopts.idempotency.max_age_ms = idem_age;
	bopts.idempotency.max_bytes = idem_bytes;
	bopts.topic_defaults.replica_lag_time_max_ms = lag_max;
	bopts.topic_defaults.min_insync_replicas = (int32_t)min_isr;
	bopts.topic_defaults.replication_factor = (int32_t)default_rf;
	rc = broker_open(&bopts, &broker, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "strand: error: cannot open data directory %s: %s\n",
		        bopts.data_dir, err);
		goto out;
	}
	aopts.listen_host = host;
	aopts.threads = (int)threads;
	aopts.max_request_bytes = (size_t)max_req;
	aopts.connection_memory = (size_t)conn_mem;
	aopts.connection_timeout = (unsigned)idle_s;
	aopts.max_connections = (int)max_conn;
	aopts.max_connections_per_client = (int)max_conn_client;
	aopts.max_sse_per_client = (int)max_sse;
	aopts.max_url_bytes = (size_t)max_url;
	aopts.max_headers = (int)max_hdrs;
	aopts.max_header_bytes = (size_t)max_hdr_bytes;
	aopts.max_records_per_request = (size_t)max_recs;
	aopts.max_wait_ms = max_wait > 0 ? max_wait : 1;   /* 0 would mean the default */
	aopts.openapi_path = sv.v[OPT_OPENAPI_PATH];
	aopts.advertised_url = sv.v[OPT_ADVERTISED_URL];
	aopts.www_dir = sv.v[OPT_WWW_DIR];
	aopts.static_mounts = sv.v[OPT_MOUNTS];
	aopts.tls_cert_path = sv.v[OPT_TLS_CERT];
	aopts.tls_key_path = sv.v[OPT_TLS_KEY];
	aopts.metrics_require_auth = (int)metrics_auth;
	aopts.peer_token = broker_token;
	aopts.peer_ca_file = sv.v[OPT_TLS_CA_FILE];
	aopts.cluster_mode = sv.v[OPT_ETCD] != NULL;
	if (acl != NULL)
		fprintf(stderr, "strand: auth: %zu tokens from %s%s\n", acl_token_count(acl),
		        sv.v[OPT_AUTH_FILE], acl_enforced(acl) ? "; ACL rules enforced" :
		        "; no ACL file: every authenticated principal may do everything");
	else if (!serve_host_is_loopback(host))
		fprintf(stderr, "strand: warning: listening on %s without --auth-file: anyone who "
		        "reaches this port may read, write and delete everything\n", host);
	aopts.acl = acl;
	rules = acl;
	acl = NULL;                 /* api_start takes it */
	rc = api_start(&aopts, broker, &api, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "strand: error: %s\n", err);
		goto out;
	}
	if (sv.v[OPT_PORT_FILE] != NULL && serve_write_port_file(sv.v[OPT_PORT_FILE], api_port(api))) {
		fprintf(stderr, "strand: error: cannot write port file %s: %s\n",
		        sv.v[OPT_PORT_FILE], strerror(errno));
		goto out;
	}
	if (sv.v[OPT_ETCD] != NULL && serve_join_cluster(&sv, broker, api, (int32_t)broker_id,
	                                                 (int)lease_ttl, (int32_t)offsets_parts,
		                                                 offsets_seg_bytes,
	                                                 &member, &cluster, &meta) != 0)
		goto out;
	if (meta != NULL && serve_start_fetcher(broker, meta, (int32_t)broker_id, broker_token,
	                                        sv.v[OPT_TLS_CA_FILE], &fetcher) != 0)
		goto out;
	fprintf(stderr, strchr(host, ':') ? "strand: listening on %s://[%s]:%u\n"
	                                  : "strand: listening on %s://%s:%u\n",
	        aopts.tls_cert_path != NULL ? "https" : "http", host, (unsigned)api_port(api));
	www = aopts.www_dir != NULL ? aopts.www_dir : api_static_default_www_dir();
	if (www != NULL && www[0] != '\0')
		fprintf(stderr, "strand: dashboard at / (files from %s)\n", www);
	else
		fprintf(stderr, "strand: no dashboard built (make www): / lists the API\n");

	do {
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGTERM;
		if (sig == SIGHUP && sv.v[OPT_AUTH_FILE] != NULL) {
			/* re-read tokens and ACLs; a bad file keeps the old set */
			if (serve_load_acl(&sv, &acl, err, sizeof err) != 0) {
				fprintf(stderr, "strand: error: SIGHUP: %s (keeping the previous rules)\n", err);
			} else {
				fprintf(stderr, "strand: SIGHUP: %zu tokens, %zu ACL rules loaded\n",
				        acl_token_count(acl), acl_rule_count(acl));
				rules = acl;
				api_set_acl(api, acl);
				acl = NULL;
			}
		}
		if (sig == SIGHUP && sv.v[OPT_BROKER_TOKEN_FILE] != NULL) {
			/* then this broker's own token, checked against those rules */
			serve_reload_broker_token(sv.v[OPT_BROKER_TOKEN_FILE], rules, api, fetcher,
			                          &broker_token);
			if (!serve_broker_token_ok(rules, broker_token, err, sizeof err))
				fprintf(stderr, "strand: warning: SIGHUP: %s\n", err);
		}
	} while (sig != SIGTERM && sig != SIGINT);
	fprintf(stderr, "strand: %s received, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	status = 0;
out:
	api_stop(api, (int)grace);
	fetcher_stop(fetcher);      /* no more meta_broker_url calls */
	meta_close(meta);           /* after the API: it reads meta and cluster until stopped */
	fetcher_close(fetcher);     /* after meta: no role hook call is under way */
	cluster_close(cluster);
	broker_close(broker);
	if (status == 0)
		fprintf(stderr, "strand: stopped\n");
	acl_free(acl);
	serve_token_free(broker_token);
	free(host);
	serve_values_free(&sv);
	return status;
}
