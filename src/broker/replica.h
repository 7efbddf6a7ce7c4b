/*
 * replica.h — a partition's place in a replicated cluster, as the broker
 * engine sees it (docs/REPLICATION.md, issue 10). No etcd and no HTTP here:
 * the cluster layer (src/cluster/meta.c) reads partition state from etcd and
 * hands it to the broker with broker_partition_set_state; the HTTP edge
 * (api/) asks the broker what to do with a request; the follower fetcher
 * (src/cluster/fetcher.c) learns which partitions to follow through the
 * role hook.
 *
 * Single-node mode (no --etcd) never calls any of this: every partition
 * behaves as a leader of epoch 0 whose ISR is {this broker} and whose high
 * watermark is its log end offset, exactly as before.
 *
 * Kafka's rules (Partition.scala, KIP-101/279/320), as strand applies them:
 *   - leader_epoch grows by one at every leadership change; the leader
 *     stamps it on every batch it appends; a replica refuses fetches from a
 *     lower epoch (STRAND_EEPOCH_FENCED) and steps down when it sees a
 *     higher one (STRAND_EEPOCH_UNKNOWN);
 *   - the high watermark is the smallest log end offset in the ISR, and
 *     moves only while |ISR| >= min_insync_replicas;
 *   - a follower joins the ISR when its LEO >= HW and >= the start offset
 *     of the leader's current epoch; it leaves after
 *     replica_lag_time_max_ms without having caught up to the leader's LEO.
 *
 * Threading: every call is safe from any thread; none holds a lock across
 * I/O (etcd writes go through the ISR hook, called without broker locks).
 */
#ifndef STRAND_BROKER_REPLICA_H
#define STRAND_BROKER_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "log/log.h"

struct broker;
struct topic;

#define REPLICA_MAX 16   /* replication factor limit (named in docs/REPLICATION.md) */

/* One partition's state as etcd holds it under /strand/partitions/<topic>/<p>. */
typedef struct partition_state {
	int32_t replicas[REPLICA_MAX];   /* broker ids; replicas[0] is the preferred leader */
	int32_t nreplicas;
	int32_t isr[REPLICA_MAX];        /* in-sync replicas, leader included */
	int32_t nisr;
	int32_t leader;                  /* broker id; -1: no leader (offline) */
	int32_t leader_epoch;            /* grows at every leadership change */
	int64_t version;                 /* etcd mod_revision of this state: the CAS token */
} partition_state_t;

/*
 * "[1,2,3]" into buf (truncated to len): how the operational log lines
 * (state changes, ISR proposals, elections, truncations) show a broker list.
 */
void replica_ids_format(char *buf, size_t len, const int32_t *ids, int32_t n);

/* What a broker is for a partition. */
typedef enum replica_role {
	REPLICA_NONE = 0,   /* not a replica, or no state yet */
	REPLICA_LEADER,
	REPLICA_FOLLOWER,
} replica_role_t;

/* ---- the state API (src/broker/replica.c) -------------------------------
 * A (src/cluster/meta.c) applies etcd's partition state; C's fetcher
 * follows role changes; the HTTP edge asks for roles. Nothing here is
 * called in single-node mode. */

/*
 * Apply the state read from etcd (A calls it for every change, in revision
 * order, and once for every partition at start). The topic must exist
 * locally (broker_topic_create first): else STRAND_ENOENT. A state whose
 * version is <= the one applied is ignored (returns 0). The broker's own
 * id is broker_options.broker_id: role LEADER when st->leader is it,
 * FOLLOWER when it is among st->replicas, else NONE.
 * Becoming leader (or a new epoch while leader): the next appends carry
 * st->leader_epoch (the log's epoch cache gets (epoch, LEO) at the first
 * one); the current epoch's start offset is the LEO now; follower progress
 * is reset; the HW is kept. Becoming follower or none: produce is refused.
 * The role hook fires after every role or epoch change, without locks.
 * Returns 0, STRAND_ENOENT, STRAND_EINVAL (nreplicas/nisr out of
 * [0, REPLICA_MAX]).
 */
int broker_partition_set_state(struct broker *b, const char *topic, int32_t p,
                               const partition_state_t *st, char *err, size_t errlen);

/*
 * The last applied state (*st, may be NULL) and this broker's role (*role,
 * may be NULL: REPLICA_NONE while no state was applied).
 * Returns 0 or STRAND_ENOENT (no such topic or partition, or no state yet;
 * *role is REPLICA_NONE then).
 */
int broker_partition_get_state(struct broker *b, const char *topic, int32_t p,
                               partition_state_t *st, replica_role_t *role);

/* Role hook: after every role or epoch change of a partition (C's fetcher
 * registers it; one hook). Called without broker locks held, on the thread
 * that applied the state. */
typedef void (*broker_role_hook_fn)(void *ctx, const char *topic, int32_t p,
                                    const partition_state_t *st, replica_role_t role);
void broker_set_role_hook(struct broker *b, broker_role_hook_fn fn, void *ctx);

/* ISR hook: the leader proposes a new ISR (A writes it by CAS: compare
 * mod_revision == proposed->version; leader and epoch unchanged). Returns
 * 0 when written (the watch brings it back through set_state), or an
 * error (conflict, etcd down): the leader proposes again at a later tick.
 * Called from the broker's ticker thread, no broker lock held. */
typedef int (*broker_isr_hook_fn)(void *ctx, const char *topic, int32_t p,
                                  const partition_state_t *proposed);
void broker_set_isr_hook(struct broker *b, broker_isr_hook_fn fn, void *ctx);

/* Lease: leader-only actions ask valid(ctx) (A wires cluster_lease_valid);
 * non-zero means valid. NULL: always valid. */
void broker_set_lease_check(struct broker *b, int (*valid)(void *ctx), void *ctx);

/* Is cluster mode on: broker_options.cluster_mode, or any state applied or
 * any of the three hooks set. */
int broker_replicated(struct broker *b);

/*
 * acks=all's durability rule: does committing t/p's records also need the
 * local fsync? 1 on a single node, and in cluster mode while the ISR the
 * high watermark counts (the applied ISR plus proposed additions) is this
 * broker alone; 0 while other replicas count, whose copies are the
 * durability (Kafka's: no replica fsyncs per write). Any thread.
 */
int broker_replica_needs_flush(struct broker *b, struct topic *t, int32_t p);


/*
 * Progress hook: a leader's log end offset or high watermark moved, or
 * its role changed (api/internal.c wakes followers' long polls with it).
 * Called without broker locks held. One hook.
 */
typedef void (*broker_progress_hook_fn)(void *ctx, const char *topic, int32_t p);
void broker_set_progress_hook(struct broker *b, broker_progress_hook_fn fn, void *ctx);

/* ---- the leader (replica.c) -------------------------------------------------
 * broker_append in cluster mode (broker.h): STRAND_ENOTLEADER unless this
 * broker leads the partition; STRAND_EUNAVAILABLE when the lease check
 * fails; with BROKER_APPEND_ACKS_ALL, STRAND_ENOTENOUGH before appending
 * while |ISR| < min_insync_replicas; batches get the current leader epoch.
 * topic_partition_hw is the replicated high watermark.
 */

typedef struct replica_fetch_info {
	int32_t leader_epoch;       /* the leader's, -1 when it has no state */
	int64_t high_watermark, log_start_offset, log_end_offset;
} replica_fetch_info_t;

/*
 * A follower's fetch (POST /v1/internal/replica/fetch): record that
 * follower_id holds everything below fetch_offset (its LEO; may expand the
 * ISR at the next tick, advance the HW and wake waiters), then read whole
 * stored batches from fetch_offset up to the LEO, at most max_bytes (at
 * least one batch) into *out (out NULL: no read, only the progress: a
 * probe, as a long poll makes before it parks; an empty slice at the LEO).
 * A call with out is the answer: its HW is what broker_replica_pending
 * compares with later. *info is filled whatever the result.
 * Returns 0, STRAND_ENOTLEADER, STRAND_EEPOCH_FENCED (leader_epoch < ours),
 * STRAND_EEPOCH_UNKNOWN (> ours: this broker steps down until a newer state
 * is applied), STRAND_ENOENT (not a replica / no such partition),
 * STRAND_ERANGE (fetch_offset outside [log start, LEO]), log_read's codes.
 */
int broker_replica_fetch(struct broker *b, struct topic *t, int32_t p, int32_t follower_id,
                         int64_t fetch_offset, int32_t leader_epoch, size_t max_bytes,
                         log_slice_t *out, replica_fetch_info_t *info, char *err, size_t errlen);

/*
 * Would a fetch by follower_id at fetch_offset tell it anything? 1 when
 * the leader has records at or after fetch_offset, or an HW other than
 * the one its last answer carried, or is no longer a plain leader (the
 * answer carries an error); 0 when the fetch may wait (long poll).
 */
int broker_replica_pending(struct broker *b, struct topic *t, int32_t p, int32_t follower_id,
                           int64_t fetch_offset);

/*
 * acks=all: are the records below end_offset, appended in leader_epoch
 * (broker_append_info_t.leader_epoch), committed? 1: the HW passed them;
 * 0: not yet; STRAND_ENOTENOUGH: they may never be by this leader (it lost
 * the leadership, or the ISR is below min_insync_replicas). Single node:
 * 1 once appended.
 */
int broker_replica_committed(struct broker *b, struct topic *t, int32_t p, int64_t end_offset,
                             int32_t leader_epoch, char *err, size_t errlen);

/* One replica as the views show it (GET /v1/topics/{t}). */
typedef struct replica_progress {
	int32_t broker;
	int64_t log_end_offset;     /* -1: unknown here (only the leader tracks followers) */
	int     in_isr;
} replica_progress_t;

/*
 * The partition's replicas in state order with what this broker knows of
 * them (the leader: every follower's LEO from its fetches), and the leader
 * epoch. Returns 0 or STRAND_ENOENT (no state applied).
 */
int broker_partition_replicas(struct topic *t, int32_t p, int32_t *leader_epoch,
                              replica_progress_t *out, int32_t cap, int32_t *n_out);

#endif
