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

#endif
