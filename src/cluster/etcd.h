/*
 * etcd.h — an etcd v3 client over etcd's JSON gateway (HTTP/1.1, libcurl,
 * cJSON): no gRPC. Cluster mode's only way to talk to its coordination
 * store (docs/REPLICATION.md).
 *
 * The gateway maps etcd's protobuf messages to JSON: keys and values travel
 * base64-encoded, int64s as JSON strings, enum fields and false booleans
 * are left out when they hold their zero value. Paths are those of etcd
 * 3.4 (/v3/kv/range, /v3/kv/txn, /v3/lease/..., /v3/watch); the watch is a
 * streaming response of newline-separated {"result": WatchResponse}.
 *
 * Endpoints and failover: the handle holds one or more client URLs and
 * remembers the last one that answered. A call that cannot reach it (no
 * connection, or etcd answering "unavailable", e.g. no raft leader) moves to
 * the next. A call that may already have been applied (a write whose answer
 * timed out) is NOT retried elsewhere: it fails with STRAND_ETIMEDOUT and
 * the caller, who knows what the write meant, reads back to find out.
 *
 * Timeouts: every call is bounded. One attempt takes at most timeout_ms
 * (connecting at most connect_timeout_ms of it); a call tries each endpoint
 * at most once, so it returns within n_endpoints * timeout_ms.
 *
 * Errors: 0 or a negative STRAND_E* code, with words in err:
 *   STRAND_ETIMEDOUT  no endpoint answered in time (or a write's outcome is unknown)
 *   STRAND_EIO        no endpoint could be reached, or etcd failed the call
 *   STRAND_ENOENT     the key or the lease does not exist (where stated)
 *   STRAND_ERANGE     a watch's start revision has been compacted away
 *   STRAND_ECORRUPT   an answer that is not the JSON etcd sends
 *   STRAND_EINVAL     bad arguments; STRAND_ENOMEM
 *
 * Threads: one handle may be used by any number of threads at once (each
 * call borrows its own libcurl handle from a small pool). curl_global_init
 * must have run before etcd_open (cli main and the tests do it).
 */
#ifndef STRAND_ETCD_H
#define STRAND_ETCD_H

#include <stddef.h>
#include <stdint.h>

typedef struct etcd etcd_t;

/* Limits (named, checked): */
#define ETCD_MAX_ENDPOINTS    16
#define ETCD_MAX_URL_BYTES    256
#define ETCD_MAX_RESPONSE     (16u << 20)   /* one unary answer; a bigger one is ETOOBIG */
#define ETCD_DEFAULT_TIMEOUT_MS         2000
#define ETCD_DEFAULT_CONNECT_TIMEOUT_MS 500

typedef struct etcd_options {
	const char *endpoints;      /* "http://h:p[,http://h:p...]" (required) */
	int timeout_ms;             /* per attempt; 0: ETCD_DEFAULT_TIMEOUT_MS */
	int connect_timeout_ms;     /* 0: ETCD_DEFAULT_CONNECT_TIMEOUT_MS */
	const char *ca_file;        /* PEM CA file that https endpoints are verified
	                               against (copied); NULL: the system's CAs */
} etcd_options_t;

/* Parse the endpoints and make the handle; *out is freed with etcd_close.
 * Nothing is contacted yet. STRAND_EINVAL for a bad endpoint list. */
int etcd_open(const etcd_options_t *opts, etcd_t **out, char *err, size_t errlen);
void etcd_close(etcd_t *e);

/* The endpoint that answered last (borrowed; stable until etcd_close). */
const char *etcd_current_endpoint(etcd_t *e);

/* GET /health of one endpoint after another: 0 once one says healthy. */
int etcd_health(etcd_t *e, char *err, size_t errlen);

/* ---- keys ------------------------------------------------------------ */

/* One key-value (mvccpb.KeyValue). key and value are owned, NUL-terminated
 * (not counted in the lengths). */
typedef struct etcd_kv {
	char   *key;
	size_t  key_len;
	char   *value;
	size_t  value_len;
	int64_t create_revision;   /* revision that created the key (0: never) */
	int64_t mod_revision;      /* revision of the last change */
	int64_t version;           /* changes since creation */
	int64_t lease;             /* attached lease id, 0: none */
} etcd_kv_t;

/* A list of key-values, in key order; revision is the store's revision at
 * the time of the read. Free with etcd_kvs_free. */
typedef struct etcd_kvs {
	etcd_kv_t *kvs;
	size_t     n;
	int64_t    revision;
} etcd_kvs_t;

void etcd_kvs_free(etcd_kvs_t *kvs);

/* Read key (prefix 0) or every key starting with key (prefix 1) into *out
 * (zeroed first; caller frees). A missing key is an empty list, not an error. */
int etcd_range(etcd_t *e, const char *key, int prefix, etcd_kvs_t *out,
               char *err, size_t errlen);

/* Put key = value[0, len), attached to lease (0: none). *revision (may be
 * NULL) gets the revision of the write. STRAND_ENOENT: no such lease. */
int etcd_put(etcd_t *e, const char *key, const void *value, size_t len, int64_t lease,
             int64_t *revision, char *err, size_t errlen);

/* Delete key, or every key under the prefix. *deleted (may be NULL) gets the count. */
int etcd_delete(etcd_t *e, const char *key, int prefix, int64_t *deleted,
                char *err, size_t errlen);

/* ---- transactions ---------------------------------------------------- */

typedef enum etcd_target {
	ETCD_TARGET_CREATE,   /* compare create_revision (0: the key does not exist) */
	ETCD_TARGET_MOD,      /* compare mod_revision */
	ETCD_TARGET_VERSION,
	ETCD_TARGET_LEASE,
} etcd_target_t;

typedef enum etcd_cmp_result {
	ETCD_CMP_EQUAL,
	ETCD_CMP_GREATER,
	ETCD_CMP_LESS,
	ETCD_CMP_NOT_EQUAL,
} etcd_cmp_result_t;

typedef struct etcd_compare {
	const char        *key;
	etcd_target_t      target;
	etcd_cmp_result_t  result;
	int64_t            number;   /* the revision, version or lease compared with */
} etcd_compare_t;

typedef enum etcd_op_type {
	ETCD_OP_RANGE,
	ETCD_OP_PUT,
	ETCD_OP_DELETE,
} etcd_op_type_t;

typedef struct etcd_op {
	etcd_op_type_t type;
	const char    *key;
	int            prefix;       /* RANGE, DELETE: the whole prefix */
	const void    *value;        /* PUT */
	size_t         value_len;
	int64_t        lease;        /* PUT: 0 none */
} etcd_op_t;

typedef struct etcd_txn_result {
	int        succeeded;   /* 1: every compare held and the success ops ran */
	int64_t    revision;    /* store revision after the txn */
	etcd_kvs_t kvs;         /* what the branch's RANGE ops read, concatenated */
} etcd_txn_result_t;

/*
 * If every compare holds, run the success ops, else the failure ops; all
 * atomically (etcd's mini-transaction). *res is zeroed first; caller frees
 * res->kvs with etcd_kvs_free. A false compare is not an error:
 * res->succeeded says which branch ran.
 */
int etcd_txn(etcd_t *e, const etcd_compare_t *cmp, size_t ncmp,
             const etcd_op_t *success, size_t nsuccess,
             const etcd_op_t *failure, size_t nfailure,
             etcd_txn_result_t *res, char *err, size_t errlen);

/* ---- leases ---------------------------------------------------------- */

/* Grant a lease of ttl_s seconds: *id, and *granted_ttl_s (may be NULL). */
int etcd_lease_grant(etcd_t *e, int64_t ttl_s, int64_t *id, int64_t *granted_ttl_s,
                     char *err, size_t errlen);

/* Renew the lease to its granted TTL; *ttl_s (may be NULL) gets it.
 * STRAND_ENOENT: the lease has expired or was revoked. */
int etcd_lease_keepalive(etcd_t *e, int64_t id, int64_t *ttl_s, char *err, size_t errlen);

/* Revoke the lease (its keys are deleted). STRAND_ENOENT: no such lease. */
int etcd_lease_revoke(etcd_t *e, int64_t id, char *err, size_t errlen);

/* ---- watches --------------------------------------------------------- */

typedef enum etcd_event_type {
	ETCD_EVENT_PUT,
	ETCD_EVENT_DELETE,
} etcd_event_type_t;

/* One change. kv is borrowed for the callback's duration; a DELETE's kv
 * has the key and mod_revision (the deleting revision) only. */
typedef struct etcd_event {
	etcd_event_type_t type;
	const etcd_kv_t  *kv;
} etcd_event_t;

/* Called for each event in revision order; a nonzero return ends the watch. */
typedef int (*etcd_watch_fn)(void *arg, const etcd_event_t *ev);

/*
 * Watch key (or the prefix) from start_revision (inclusive; 0: from now),
 * calling fn for every change, for at most max_ms. Returns 0 when fn ended
 * it, STRAND_ETIMEDOUT when max_ms passed (resume from *next_revision),
 * STRAND_ERANGE when start_revision is compacted, else an error.
 * *next_revision (may be NULL) gets the revision to resume from: one past
 * the last event delivered (start_revision when none was).
 * Bounded calls keep the thread that watches stoppable: it loops, checking
 * its own stop flag between calls, and loses no change doing so.
 */
int etcd_watch(etcd_t *e, const char *key, int prefix, int64_t start_revision, int max_ms,
               etcd_watch_fn fn, void *arg, int64_t *next_revision,
               char *err, size_t errlen);

#endif
