/*
 * cluster.h — cluster mode's membership in etcd (docs/REPLICATION.md): the
 * cluster id, this broker's registration under a lease, the local lease
 * deadline, and the controller election with its fencing revision.
 *
 * Key layout (all under CLUSTER_ETCD_PREFIX, "/strand/"):
 *   cluster_id        the cluster's id, created once (txn: create_revision == 0)
 *   brokers/<id>      {"id","url"} of each live broker, attached to its lease
 *   controller        {"id"} of the controller, attached to its lease; the
 *                     key's create_revision is the controller's election
 *                     revision, its fencing token
 *
 * One session = one lease. A background thread renews it every
 * lease_ttl/3; when etcd says it expired (this process was paused, or cut
 * off), the thread starts a new session: new lease, registration again,
 * controllership lost (a new election is needed). While not controller it
 * campaigns whenever the controller key is deleted (it watches it).
 *
 * A lease is not a lock: etcd may expire it while this process is paused
 * and another broker takes over, with no message to us. So:
 *   - cluster_lease_valid says whether the lease may still be alive by OUR
 *     clock: last renewal *sent* + TTL - margin, on the monotonic clock. It
 *     turns false on time even while etcd is unreachable; a broker must not
 *     act as leader of anything once it is false.
 *   - every controller write goes through cluster_controller_txn, which
 *     compares the controller key's create_revision with our election
 *     revision inside etcd's transaction: a deposed controller's write
 *     fails there even if it still believes it leads.
 *
 * Threads: every function may be called from any thread.
 */
#ifndef STRAND_CLUSTER_H
#define STRAND_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/etcd.h"

typedef struct cluster cluster_t;

#define CLUSTER_ETCD_PREFIX          "/strand/"
#define CLUSTER_DEFAULT_LEASE_TTL_S  4       /* failover within ~this (issue 10: aim <= 5 s) */
#define CLUSTER_MAX_LEASE_TTL_S      300
#define CLUSTER_LEASE_MARGIN_MS      500     /* local deadline: this much before etcd's */
#define CLUSTER_MAX_BROKER_ID        1000000
#define CLUSTER_DEFAULT_JOIN_WAIT_MS 30000   /* a starting broker waits this long for etcd */
#define CLUSTER_MAX_ID_BYTES         128     /* the cluster id, with its NUL */
#define CLUSTER_MEMBERSHIP_FILE      "membership.json"  /* in DATA/meta (Kafka's meta.properties) */
#define CLUSTER_TOPICS_FILE          "etcd_topics.json" /* in DATA/meta: meta.c's topic
                                                         incarnations (cluster data) */

typedef struct cluster_options {
	const char *etcd_endpoints;   /* "http://h:p[,...]" (required) */
	const char *etcd_ca_file;     /* verifies https endpoints (etcd.h); NULL: system CAs */
	int32_t     broker_id;        /* >= 0, unique among live brokers */
	const char *advertised_url;   /* how other brokers and clients reach this one */
	const char *proposed_cluster_id; /* used if the cluster has none yet (the broker's own) */
	const char *required_cluster_id; /* set: the data directory's cluster (its membership
	                                    record); etcd must hold exactly this id and none
	                                    is ever created. NULL: a first join */
	int         lease_ttl_s;      /* 0: CLUSTER_DEFAULT_LEASE_TTL_S */
	int         keepalive_ms;     /* renewal period; 0: lease_ttl/3 (tests stretch it) */
	int         register_wait_ms; /* how long to wait for a previous holder of this
	                                 broker id to expire; 0: lease_ttl + 2 s */
	int         join_wait_ms;     /* how long to keep trying while etcd times out or
	                                 cannot be reached; 0: CLUSTER_DEFAULT_JOIN_WAIT_MS */
	int         unclean_shutdown; /* 1: the data directory had no clean-shutdown marker
	                                 (broker_unclean_shutdown); every registration of
	                                 this process says "unclean_shutdown":true, and the
	                                 controller takes it out of the ISRs it is in
	                                 (meta.h) until it catches up */
} cluster_options_t;

/* Fill the defaults (all zero: each field's comment says what zero means). */
void cluster_options_init(cluster_options_t *o);

/* ---- the data directory's membership (Kafka's meta.properties) ------------ */

/*
 * DATA/meta/membership.json records the cluster id and broker id a data
 * directory joined with, written once on its first join. A directory whose
 * record (or, from before the record existed, whose etcd_topics.json) says
 * it holds a cluster's replicas must not be started:
 *   - against an etcd holding another cluster id, or none (etcd wiped or
 *     --etcd naming another one: the empty topic list there would delete
 *     this directory's topics, the new cluster would know nothing of its
 *     epochs);
 *   - with another broker id (it would present broker N's replicas and
 *     leader-epoch history as another broker's);
 *   - single-node (every partition would take writes with this directory as
 *     its only replica, diverging from the cluster's other replicas at
 *     offsets below their high watermark that truncation cannot detect).
 * And a directory that holds a single-node broker's topics (topics.json, no
 * cluster data) must not join a cluster: the watcher deletes local topics
 * etcd does not have.
 */
typedef struct cluster_membership {
	int     recorded;       /* 1: membership.json exists (the fields below hold) */
	int     cluster_data;   /* 1: recorded, or the directory holds etcd_topics.json */
	char    cluster_id[CLUSTER_MAX_ID_BYTES];
	int32_t broker_id;
} cluster_membership_t;

/* Read DATA/meta's record into *m (zeroed first; nothing written or created).
 * 0, or STRAND_ECORRUPT naming the file. */
int cluster_membership_read(const char *data_dir, cluster_membership_t *m,
                            char *err, size_t errlen);

/* Write the record (atomically; DATA/meta must exist). 0 or STRAND_EIO. */
int cluster_membership_write(const char *data_dir, const char *cluster_id, int32_t broker_id,
                             char *err, size_t errlen);

/*
 * Before a broker opens data_dir: may it start single-node (etcd_endpoints
 * NULL) or as broker_id against the etcd at etcd_endpoints (https ones
 * verified with etcd_ca_file, NULL: the system's CAs)? Reads the record
 * and, in cluster mode when there is one, the cluster id etcd holds (a plain
 * read, tried again while etcd times out or cannot be reached for up to
 * CLUSTER_DEFAULT_JOIN_WAIT_MS as a join is: nothing is created in etcd nor
 * in the directory). *m gets the record.
 * 0: it may; STRAND_EINVAL with the reason in err: it must not; else the
 * etcd or file error.
 */
int cluster_check_data_dir(const char *data_dir, const char *etcd_endpoints,
                           const char *etcd_ca_file, int32_t broker_id, cluster_membership_t *m,
                           char *err, size_t errlen);

/*
 * Join the cluster: create the cluster id if there is none, grant the lease,
 * register brokers/<id> (waiting up to register_wait_ms while a live
 * registration of the same id from another lease exists), start the
 * session thread (with required_cluster_id: nothing is created, and etcd
 * must hold that id). While etcd times out or cannot be reached (a busy
 * machine, etcd starting or restarting beside the broker) the join is
 * tried again every 200 ms for up to join_wait_ms, with one line on
 * stderr. *out is freed by cluster_close. Returns 0 or
 *   STRAND_EINVAL   bad options, or etcd does not hold required_cluster_id
 *   STRAND_EEXIST   another live broker holds this broker id
 *   STRAND_EIO, STRAND_ETIMEDOUT   etcd still unreachable after join_wait_ms (etcd.h)
 */
int cluster_open(const cluster_options_t *opts, cluster_t **out, char *err, size_t errlen);

/* Stop the thread, resign (revoke the lease: registration and
 * controllership disappear at once, no waiting for the TTL). */
void cluster_close(cluster_t *c);

/* The cluster id from etcd (borrowed, lives as long as c). */
const char *cluster_id(const cluster_t *c);
int32_t cluster_broker_id(const cluster_t *c);

/* 1 while this broker's lease may still be alive by the local deadline. */
int cluster_lease_valid(cluster_t *c);

/* The monotonic-clock millisecond after which the lease may have expired
 * (0 before the first grant). */
int64_t cluster_lease_deadline_ms(cluster_t *c);

/* The current lease id (0 while there is none). */
int64_t cluster_lease_id(cluster_t *c);

/* 1 if this broker won the controller election and its lease is locally
 * valid; *election_revision (may be NULL) gets the fencing revision. */
int cluster_is_controller(cluster_t *c, int64_t *election_revision);

/*
 * A controller write: the compares and ops of etcd_txn, with one more
 * compare added: controller.create_revision == our election revision.
 * Returns 0 with res->succeeded saying whether the caller's compares held,
 * STRAND_EDEPOSED when this broker is not (or no longer) the controller —
 * locally known, or found by etcd's compare (then controllership is
 * dropped here too) — or an etcd error. *res as etcd_txn (caller frees kvs).
 */
int cluster_controller_txn(cluster_t *c, const etcd_compare_t *cmp, size_t ncmp,
                           const etcd_op_t *ops, size_t nops,
                           etcd_txn_result_t *res, char *err, size_t errlen);

/* ---- what the cluster looks like ---------------------------------------- */

typedef struct cluster_broker {
	int32_t id;
	char   *url;      /* owned */
} cluster_broker_t;

typedef struct cluster_view {
	int32_t           controller;  /* broker id, -1: none elected right now */
	cluster_broker_t *brokers;     /* live registrations, by id */
	size_t            n;
} cluster_view_t;

/* Read the live brokers and the controller from etcd (one consistent read:
 * a txn of two ranges). *out is freed by cluster_view_free. */
int cluster_describe(cluster_t *c, cluster_view_t *out, char *err, size_t errlen);
void cluster_view_free(cluster_view_t *v);

#endif
