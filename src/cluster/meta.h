/*
 * meta.h — topics and partition state in etcd (docs/REPLICATION.md, issue
 * 10): the JSON codec of a partition's state, Kafka's replica placement,
 * topic create/delete/alter as etcd transactions through any broker, and a
 * watcher that keeps every broker's local topics and partition states in
 * step with etcd.
 *
 * Keys (under CLUSTER_ETCD_PREFIX):
 *   topics/<name>          {"name","partitions":N,"replication_factor":R,
 *                           "configs":{"retention_ms":"604800000",...}}
 *   partitions/<name>/<p>  {"replicas":[1,2,3],"leader":1,"leader_epoch":0,"isr":[1,2,3]}
 * The etcd mod_revision of a partition key is its state's version, the
 * token of every compare-and-swap on it.
 *
 * Every broker creates every topic locally (broker_topic_create with all
 * partitions), so lookups work everywhere; a broker that is not a replica
 * of a partition never writes to its log.
 *
 * One topic change is one etcd transaction whose LAST operation touches
 * topics/<name>; the watcher applies a topic when it sees that key, so by
 * then the partition keys of the same transaction are in its cache. A
 * broker that wrote a change waits (at most apply_wait_ms) until its own
 * watcher has applied the transaction's revision before answering: what a
 * client just created through a broker, that broker shows at once.
 *
 * The controller (the broker cluster_is_controller says, in the same
 * watcher thread): when a broker's registration disappears it elects new
 * leaders for the partitions it led and drops it from the ISRs where it
 * only followed, takes a broker that registered "unclean_shutdown" out
 * of the ISRs it is in (KIP-966), gives a leader that registered again after its
 * partition's state was written a new epoch (a new incarnation), when a
 * broker returns it gives
 * leaderless partitions back to it, every META_PREFERRED_CHECK_MS it moves
 * leadership back to preferred replicas in sync, and once elected it scans
 * everything. Every write is cluster_controller_txn (fenced by the
 * election revision) comparing the partition key's mod_revision.
 *
 * Threads: every function may be called from any thread; the watcher
 * thread is the only one that changes the local broker's topics.
 */
#ifndef STRAND_CLUSTER_META_H
#define STRAND_CLUSTER_META_H

#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/replica.h"
#include "cluster/cluster.h"

typedef struct meta meta_t;

#define META_KEY_TOPICS      CLUSTER_ETCD_PREFIX "topics/"
#define META_KEY_PARTITIONS  CLUSTER_ETCD_PREFIX "partitions/"
/* etcd refuses a transaction of more operations than its --max-txn-ops,
 * 128 by default: one topic change adds at most this many partitions. */
#define META_MAX_TXN_OPS          128
#define META_MAX_NEW_PARTITIONS   (META_MAX_TXN_OPS - 1)
#define META_DEFAULT_APPLY_WAIT_MS 10000   /* read-your-writes wait of an admin write */
#define META_CAS_RETRIES          8        /* alter: tries against concurrent changes */
#define META_WATCH_SLICE_MS       500      /* one bounded watch call; the controller's
                                              periodic work runs between two */
#define META_MAX_STATE_JSON       1024     /* a partition state's JSON, REPLICA_MAX ids */
#define META_PREFERRED_CHECK_MS   3000     /* the controller's preferred-leader check */
/* __consumer_offsets (BROKER_OFFSETS_TOPIC, docs/GROUPS.md): its partition
 * count unless strand serve --offsets-partitions says otherwise (Kafka's
 * offsets.topic.num.partitions is 50, sized for clusters of hundreds of
 * brokers; strand's are a handful), and its replication factor,
 * min(META_OFFSETS_MAX_RF, live brokers) at creation (Kafka's
 * offsets.topic.replication.factor, 3). */
#define META_OFFSETS_PARTITIONS_DEFAULT 16
#define META_OFFSETS_MAX_RF             3

/* ---- the codec (pure) ----------------------------------------------------- */

/* st as the JSON of its key (version not included) into out (NUL-terminated).
 * 0, or STRAND_ETOOBIG when outlen is too small, STRAND_EINVAL for a state
 * out of bounds (counts over REPLICA_MAX). */
int meta_state_encode(const partition_state_t *st, char *out, size_t outlen);

/* Parse a partition key's JSON; st->version = version. Checks: ids >= -1,
 * at most REPLICA_MAX replicas and ISR members, no duplicates, ISR within
 * the replicas, leader -1 or a replica, epoch >= 0. 0 or STRAND_ECORRUPT. */
int meta_state_decode(const char *json, size_t len, int64_t version, partition_state_t *st,
                      char *err, size_t errlen);

/* ---- placement (pure) ------------------------------------------------------- */

/*
 * Kafka's rack-unaware assignment (AdminUtils.assignReplicasToBrokers):
 * brokers sorted by id; partition p's first replica is
 * brokers[(p + start_index) % n]; the others follow it at a shift that
 * grows by one every n partitions, so that leaders and followers both
 * spread evenly. Partitions first_partition .. first_partition + count - 1
 * go to out[0 .. count) with leader = replicas[0], isr = replicas, epoch 0,
 * version 0. start_index and shift in [0, n). 0 or STRAND_EINVAL
 * (rf < 1, rf > n, rf > REPLICA_MAX, n == 0).
 */
int meta_assign_replicas(const int32_t *brokers_sorted, size_t n, int32_t first_partition,
                         int32_t count, int32_t rf, int32_t start_index, int32_t shift,
                         partition_state_t *out, char *err, size_t errlen);

/* ---- the controller's decisions (pure) -------------------------------------------- */

/*
 * What the controller does with one partition, given the live brokers
 * (sorted ids), their registrations' revisions (since[i] for live[i]: the
 * create_revision of brokers/<id>, Kafka's broker epoch; NULL: not known)
 * crashed[i] (1: live[i]'s registration says "unclean_shutdown"; NULL: none)
 * and the topic's min_insync_replicas. Returns 1 with *out the new state
 * (version kept: the CAS token) or 0 when nothing changes:
 *   - first (KIP-966's unclean shutdown): ISR members whose registration
 *     says unclean and came after the state was written (version < their
 *     since) leave the ISR, while another member stays — their logs may
 *     have lost a tail of committed records with their machine's page
 *     cache, so they must not be elected before they caught up (their
 *     leader takes them back then; its state is newer than their
 *     registration). A leader taken out so is replaced as a dead one is;
 *     an ISR of such members only is kept. The rules below then apply to
 *     the ISR left;
 *   - leader alive, registered after the state was written (version <
 *     its since: it restarted within its old lease, and this controller
 *     never saw the old registration expire): same leader, epoch + 1, so
 *     its followers truncate against its log again (KIP-101);
 *   - leader alive: its dead followers leave the ISR (Kafka's
 *     OfflineReplica), same leader and epoch — but the ISR keeps at least
 *     max(1, min_insync) members (dead ones that would take it lower stay:
 *     the HW cannot move below min ISR, so they hold every committed
 *     record and stay electable, as KIP-966's ELR);
 *   - leader dead (or -1): the first replica, in replica order, that is
 *     alive and in the ISR leads; ISR = ISR members alive; epoch + 1.
 *     None: with unclean, the first live replica leads, ISR = {it}; else
 *     leader -1 with the ISR kept (its members may return), epoch + 1
 *     (unchanged if it already was -1).
 *   - preferred (the periodic move-back) and the leader alive: replicas[0]
 *     leads again when it is alive, in the (new) ISR and not the leader;
 *     epoch + 1.
 */
int meta_elect(const partition_state_t *st, const int32_t *live, const int64_t *since,
               const uint8_t *crashed, size_t nlive, int unclean, int32_t min_insync,
               int preferred, partition_state_t *out);

/*
 * What broker self takes of a state (Kafka's KIP-380: a broker ignores
 * control requests from before its current broker epoch). A leadership
 * written before self's registration (st->version < self_since, the
 * create_revision of brokers/<self>; 0: not known) was its previous
 * incarnation's: one that may have lost its log's unflushed tail, whose
 * followers may hold records past its end. Leading in that epoch would
 * write over them with no epoch change to make them truncate; so self
 * takes such a state with leader -1 (a replica without a leader) until the
 * controller writes the new epoch meta_elect gives it. Returns 1 when *out
 * differs from *st.
 */
int meta_state_for_self(const partition_state_t *st, int32_t self, int64_t self_since,
                        partition_state_t *out);

/* ---- the handle ---------------------------------------------------------------- */

typedef struct meta_options {
	broker_t   *broker;           /* borrowed */
	cluster_t  *cluster;          /* borrowed: broker id, lease, controller */
	const char *etcd_endpoints;   /* the cluster's etcd */
	const char *etcd_ca_file;     /* verifies https endpoints (etcd.h); NULL: system CAs */
	int         apply_wait_ms;    /* 0: META_DEFAULT_APPLY_WAIT_MS */
	int32_t     offsets_partitions; /* 0: META_OFFSETS_PARTITIONS_DEFAULT; at most
	                                   META_MAX_NEW_PARTITIONS */
	int64_t     offsets_segment_bytes; /* segment_bytes of __consumer_offsets when this
	                                      broker creates it; 0:
	                                      META_OFFSETS_SEGMENT_BYTES_DEFAULT */
} meta_options_t;

/* Kafka's offsets.topic.segment.bytes: small enough that compaction
 * (which never cleans the active segment) keeps the topic small. */
#define META_OFFSETS_SEGMENT_BYTES_DEFAULT (100LL * 1024 * 1024)

/*
 * Read everything under /strand/ once, make the local topics what etcd
 * says (create missing ones, alter changed ones, delete local topics etcd
 * does not have: they were deleted while this broker was away), then
 * watch for changes in a thread. 0, or an etcd error (etcd.h), STRAND_EIO
 * (a local topic could not be changed), STRAND_ENOMEM.
 */
int meta_open(const meta_options_t *opts, meta_t **out, char *err, size_t errlen);

/* Stop the watcher (within META_WATCH_SLICE_MS) and free. NULL: no-op. */
void meta_close(meta_t *m);

/* ---- topic admin (any broker) ----------------------------------------------------- */

typedef struct meta_config_kv {
	const char *name;    /* a topic config's API.md name */
	const char *value;   /* its text */
} meta_config_kv_t;

/*
 * Create the topic in etcd (one txn: compare create_revision == 0, put
 * every partition then the topic) with replicas placed over the live
 * brokers, then wait until this broker applied it. cfg: every config
 * (validated by the caller). Returns 0 or
 *   STRAND_EEXIST       the topic exists
 *   STRAND_EINVAL       replication_factor over the live brokers or REPLICA_MAX,
 *                       or partitions over META_MAX_NEW_PARTITIONS (message says)
 *   STRAND_EUNAVAILABLE etcd unreachable (a create whose answer was lost may
 *                       have happened: the message says so)
 *   STRAND_ETIMEDOUT    written, not applied here within apply_wait_ms
 */
int meta_topic_create(meta_t *m, const char *name, int32_t partitions, int32_t rf,
                      const topic_config_t *cfg, char *err, size_t errlen);

/* Delete the topic and its partition states (one txn), then wait until
 * applied here. 0, STRAND_ENOENT, STRAND_EUNAVAILABLE, STRAND_ETIMEDOUT. */
int meta_topic_delete(meta_t *m, const char *name, char *err, size_t errlen);

/*
 * Grow the partition count to new_partitions (0: keep; never shrink) and
 * set the given configs over the ones stored in etcd, by CAS on the topic
 * key's mod_revision (retried META_CAS_RETRIES times against concurrent
 * changes); new partitions are placed as Kafka adds partitions (start at
 * partition 0's preferred leader). Then wait until applied here.
 * 0, STRAND_ENOENT, STRAND_EINVAL (shrink, bad config, rf over the live
 * brokers), STRAND_EUNAVAILABLE, STRAND_ETIMEDOUT.
 */
int meta_topic_alter(meta_t *m, const char *name, int32_t new_partitions,
                     const meta_config_kv_t *configs, size_t nconfigs,
                     char *err, size_t errlen);

/*
 * The broker's ISR hook (replica.h; registered by meta_open): write the
 * leader's proposed state by CAS, mod_revision == proposed->version. Only
 * for a partition this broker leads. 0 (the watch brings it back),
 * STRAND_EAGAIN (the state changed meanwhile, or it was written before this
 * broker's registration: the controller gives it a new epoch first, so an
 * ISR write must not make it look newer, or it adds a broker that is not
 * registered: KIP-841, a fenced broker joins no ISR), STRAND_EUNAVAILABLE (etcd),
 * STRAND_EINVAL (not ours to propose), STRAND_ECLOSED.
 */
int meta_propose_isr(meta_t *m, const char *topic, int32_t p,
                     const partition_state_t *proposed);

/*
 * The coordinator of group: the leader of partition
 * broker_group_partition(group, n) of BROKER_OFFSETS_TOPIC (Kafka's
 * partitionFor and FindCoordinator). The first call in a cluster creates
 * the topic (as Kafka does on the first FindCoordinator): offsets_partitions
 * partitions, replication factor min(META_OFFSETS_MAX_RF, live brokers),
 * min_insync_replicas 2 when that is 3 (else 1), retention_ms -1 (kept
 * forever: there is no compaction, docs/GROUPS.md "Retention"), binary
 * keys and values. *partition (may be NULL) gets the group's partition.
 * Returns as meta_partition_leader, or meta_topic_create's errors but
 * STRAND_EEXIST (another broker created it meanwhile: fine).
 */
int meta_group_coordinator(meta_t *m, const char *group, int32_t *partition,
                           int32_t *leader_id, char *url, size_t urllen,
                           char *err, size_t errlen);

/* ---- what this broker knows (its watcher's cache; no etcd call) --------------------- */

/* The partition's state as last seen. 0 or STRAND_ENOENT. */
int meta_partition_state(meta_t *m, const char *topic, int32_t p, partition_state_t *st);

/* The partition's leader and its URL (url may be NULL). 0, STRAND_ENOENT
 * (unknown partition), STRAND_ENOTLEADER (no leader now, or its broker is
 * not registered: *leader_id says which). */
int meta_partition_leader(meta_t *m, const char *topic, int32_t p,
                          int32_t *leader_id, char *url, size_t urllen);

/* A live broker's advertised URL. 0 or STRAND_ENOENT. */
int meta_broker_url(meta_t *m, int32_t id, char *url, size_t urllen);

/* Live brokers (registered in etcd) as last seen. */
size_t meta_live_brokers(meta_t *m);

/* The etcd revision this broker's topics and states reflect. */
int64_t meta_applied_revision(meta_t *m);

#endif
