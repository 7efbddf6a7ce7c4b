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

/* Is cluster mode on: any state applied or any of the three hooks set. */
int broker_replicated(struct broker *b);

#endif
