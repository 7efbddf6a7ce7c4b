/*
 * broker.h — the single-node broker engine: topics, their partitions' logs,
 * topic configs, persisted metadata, simple committed offsets, and the
 * background ticker that runs each log's flush/roll/retention.
 * No HTTP here (api/ calls this).
 *
 * Metadata lives in DATA/meta/topics.json and offsets in
 * DATA/meta/offsets.json, each written atomically (temp file, fsync,
 * rename, fsync dir); in cluster mode (cluster_mode) groups and offsets
 * live in the internal topic BROKER_OFFSETS_TOPIC instead (offsets_log.h). Partition logs live in DATA/<topic>-<p>/.
 * DATA/meta/producer_ids reserves idempotent producer ids and
 * DATA/meta/idempotency.journal keeps the Idempotency-Key window
 * (docs/PRODUCERS.md).
 *
 * Threading: every call is safe from any thread. Topic handles are
 * reference counted: a topic deleted while a request holds it stays valid
 * until released (its files are removed at the last release).
 */
#ifndef STRAND_BROKER_H
#define STRAND_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "broker/group.h"
#include "broker/idempotency.h"
#include "log/log.h"

typedef struct broker broker_t;
typedef struct topic topic_t;

/* How a topic's keys/values map between JSON and stored bytes (API.md "Records"). */
typedef enum record_format {
	RECORD_FORMAT_JSON = 0,
	RECORD_FORMAT_STRING,
	RECORD_FORMAT_BINARY,
} record_format_t;

typedef struct topic_config {
	log_config_t    log;                 /* segment/retention/flush/max batch */
	int64_t         max_message_bytes;   /* per record (key+value+headers); default 1048588 */
	int32_t         min_insync_replicas; /* default 1 */
	int64_t         replica_lag_time_max_ms; /* a follower not caught up this long leaves
	                                            the ISR; default 10000 (replica.h) */
	record_format_t key_format, value_format;
	/* cleanup_policy: only "delete" exists; kept implicit */
	int             unclean_leader_election; /* cluster mode: 1 lets an out-of-sync replica
	                                            lead when no in-sync one lives (may lose
	                                            acknowledged records); default 0 */
} topic_config_t;

/* Defaults for a new topic (Kafka's). */
void topic_config_default(topic_config_t *cfg);

/*
 * Set one config by its API.md name from a string value ("retention_ms",
 * "604800000"). Numbers must be integers in range; enums by name
 * (key_format: json|string|binary; cleanup_policy: delete).
 * Returns 0, STRAND_ENOENT (unknown name), STRAND_EINVAL (bad value).
 */
int topic_config_set(topic_config_t *cfg, const char *name, const char *value,
                     char *err, size_t errlen);

/*
 * Visit every config as (name, value text, is_number) in a stable order,
 * for the JSON views. Returns the first non-zero fn result, else 0.
 */
int topic_config_each(const topic_config_t *cfg,
                      int (*fn)(const char *name, const char *value, int is_number, void *ctx),
                      void *ctx);

/*
 * Check every field of a config built by hand (topic_config_set checks one
 * value at a time). Returns 0 or STRAND_EINVAL naming the field.
 */
int topic_config_validate(const topic_config_t *cfg, char *err, size_t errlen);

/*
 * Size limits. A produce request becomes one batch per partition, so the
 * log's max_batch_bytes must hold a whole request plus framing; the
 * per-record limit is max_message_bytes (at most TOPIC_MAX_MESSAGE_BYTES).
 */
#define BROKER_MAX_REQUEST_BYTES (64 * 1024 * 1024)
#define BROKER_MAX_BATCH_BYTES   (BROKER_MAX_REQUEST_BYTES + 4096)
#define TOPIC_MAX_MESSAGE_BYTES  (64 * 1024 * 1024)

/* Topic and group names: [A-Za-z0-9._-]{1,249}, not "." or "..". */
int broker_name_valid(const char *name);

/*
 * The internal topic that holds consumer groups and committed offsets in
 * cluster mode (Kafka's __consumer_offsets, docs/GROUPS.md). Users may read
 * it but not create, produce to, alter or delete it (api/ refuses with
 * 400/403, single node included: the name is reserved everywhere).
 */
#define BROKER_OFFSETS_TOPIC "__consumer_offsets"

/* 1 when name is an internal topic (BROKER_OFFSETS_TOPIC), else 0. */
int broker_topic_is_internal(const char *name);

/*
 * The partition of BROKER_OFFSETS_TOPIC that holds group (Kafka's
 * partitionFor(groupId)): murmur2 of the name's bytes, positive, modulo
 * npartitions (as a keyed record). Stable: it depends only on the name and
 * the partition count, which never changes. -1 when npartitions < 1.
 */
int32_t broker_group_partition(const char *group, int32_t npartitions);

/*
 * The broker's defaults for what a topic create leaves out (strand serve
 * --replica-lag-time-max-ms, --min-insync-replicas,
 * --default-replication-factor; Kafka's broker configs of those names).
 * They are filled in when the topic is created and stored with it, so a
 * topic keeps its values whichever broker leads it later; a create that
 * names a config keeps its own. 0: the built-in default.
 */
typedef struct broker_topic_defaults {
	int64_t replica_lag_time_max_ms;  /* 0: 10000 (topic_config_default) */
	int32_t min_insync_replicas;      /* 0: 1 */
	int32_t replication_factor;       /* 0: 1 (cluster mode only may say more) */
} broker_topic_defaults_t;

typedef struct broker_options {
	const char *data_dir;
	int32_t     broker_id;       /* 0 single-node */
	const char *advertised_url;  /* e.g. "http://127.0.0.1:8080" */
	int         tick_ms;         /* background tick period; default 1000 */
	int64_t     producer_expiration_ms; /* forget an idempotent producer idle this long
	                                       (its newest batch's max timestamp); 0: the
	                                       default 86400000 (Kafka's
	                                       producer.id.expiration.ms); -1: never */
	idem_limits_t idempotency;   /* the Idempotency-Key window (0s: defaults) */
	int         cluster_mode;    /* 1 (--etcd given): cluster mode from the open on
	                                (broker_replicated), so no partition is led and
	                                reads stop at the checkpointed HW until etcd's
	                                state is applied; 0: single node until a cluster
	                                hook or a state is set. Also: groups and committed
	                                offsets live in BROKER_OFFSETS_TOPIC
	                                (offsets_log.h), not in DATA/meta/offsets.json */
	broker_topic_defaults_t topic_defaults; /* what a topic create leaves out */
	int         log_cleaner_backoff_ms; /* cluster mode: how often the log cleaner looks
	                                       for __consumer_offsets partitions to compact
	                                       (offsets_log.h); 0: 15000 (Kafka's
	                                       log.cleaner.backoff.ms) */
	int64_t     log_cleaner_io_max_bytes_per_second; /* cluster mode: the log cleaner's
	                                       reads and writes together stay under this
	                                       rate, it sleeping as needed (Kafka's
	                                       log.cleaner.io.max.bytes.per.second);
	                                       0: no limit */
} broker_options_t;

/*
 * Open the data directory (created if missing), load metadata and recover
 * every partition log, start the ticker thread. Returns 0, STRAND_EIO,
 * STRAND_ECORRUPT (unreadable metadata: message says which file).
 */
int broker_open(const broker_options_t *opts, broker_t **out, char *err, size_t errlen);

/*
 * Stop the ticker, flush and close every log, free. NULL is a no-op.
 * Release every topic handle first: a topic still held is left behind.
 */
void broker_close(broker_t *b);

/*
 * How many topics DATA/meta/topics.json lists, read without opening the
 * broker (nothing is written; 0 when there is no such file). 0 or
 * STRAND_ECORRUPT / STRAND_EIO naming the file.
 */
int broker_dir_topic_count(const char *data_dir, size_t *n, char *err, size_t errlen);

/* A new topic's configs before the create's own: topic_config_default with
 * this broker's topic_defaults over it. */
void broker_topic_config_default(broker_t *b, topic_config_t *cfg);

/* A new topic's replication factor when the create names none. */
int32_t broker_default_replication_factor(broker_t *b);

/* Stable cluster id (generated at first start, stored in DATA/meta/cluster_id). */
const char *broker_cluster_id(broker_t *b);

/* DATA/meta: the broker's metadata files, and those of the modules that
 * keep small state beside them (src/cluster/meta.c's etcd_topics.json). */
const char *broker_meta_dir(broker_t *b);

/*
 * 1 when this open found no clean-shutdown marker (DATA/meta/
 * .strand_cleanshutdown, Kafka's .kafka_cleanshutdown): the last run was
 * killed or its machine crashed, and the unflushed tail of its logs may be
 * gone. broker_close writes the marker after closing every log.
 */
int broker_unclean_shutdown(broker_t *b);

/*
 * Replace the file at path with data, atomically and durably: write
 * "<path>.tmp", fsync it, rename it over path, fsync the directory. A crash
 * leaves either the old or the new content, never a mix.
 * Returns 0 or STRAND_EIO (message names the file and errno).
 */
int broker_file_write_atomic(const char *path, const char *data, size_t len,
                             char *err, size_t errlen);

/*
 * Read a whole file into a NUL-terminated allocation (*out, caller frees).
 * Returns 0, STRAND_ENOENT (no such file: nothing allocated), STRAND_EIO,
 * STRAND_ENOMEM.
 */
int broker_file_read(const char *path, char **out, size_t *len_out,
                     char *err, size_t errlen);

/*
 * Create a topic. name must pass broker_name_valid; partitions in
 * [1, 10000]; replication_factor must be 1 on a single node, in
 * [1, REPLICA_MAX] in cluster mode (broker_replicated: every broker holds
 * every topic, replica.h).
 * Returns 0, STRAND_EEXIST, STRAND_EINVAL, STRAND_EIO.
 */
int broker_topic_create(broker_t *b, const char *name, int32_t partitions,
                        int32_t replication_factor, const topic_config_t *cfg,
                        char *err, size_t errlen);

/*
 * Delete a topic and (at last release) its files; its committed offsets go
 * too. A create of the same name waits (up to 10 s, else STRAND_EEXIST)
 * until the old topic's files are gone, so hold handles only for the span
 * of one operation. Returns 0, STRAND_ENOENT, STRAND_EIO.
 */
int broker_topic_delete(broker_t *b, const char *name, char *err, size_t errlen);

/*
 * Grow the partition count (never shrink: STRAND_EINVAL) and/or replace
 * the config (cfg NULL: keep). new_partitions 0 keeps the count.
 * Returns 0, STRAND_ENOENT, STRAND_EINVAL, STRAND_EIO.
 */
int broker_topic_alter(broker_t *b, const char *name, int32_t new_partitions,
                       const topic_config_t *cfg, char *err, size_t errlen);

/* Look a topic up; NULL when unknown. Caller releases with topic_release. */
topic_t *broker_topic_get(broker_t *b, const char *name);
void     topic_release(topic_t *t);

/*
 * Names of all topics, sorted. *names_out is an array of n strings in one
 * allocation: the caller frees it with free(*names_out) once.
 */
int broker_topic_names(broker_t *b, char ***names_out, size_t *n_out);

const char *topic_name(const topic_t *t);
int32_t     topic_partition_count(topic_t *t);
int32_t     topic_replication_factor(const topic_t *t);
/* Copy of the current config. */
void        topic_get_config(topic_t *t, topic_config_t *out);
/* The partition's log (borrowed while the topic is held); NULL if p out of range. */
log_t      *topic_partition_log(topic_t *t, int32_t p);
/* The high watermark: on a single node, the log end offset; in cluster
 * mode the replicated one (replica.h): readers never see records at or
 * past it. */
int64_t     topic_partition_hw(topic_t *t, int32_t p);

/*
 * Kafka's default partitioner for keyed records: murmur2 of the key bytes,
 * made positive (& 0x7fffffff), modulo n.
 */
uint32_t broker_murmur2(const void *key, size_t len);
int32_t  broker_partition_for_key(const void *key, size_t len, int32_t n);

/*
 * Append hook: called after every successful append with the topic, the
 * partition and the new high watermark, on the appending thread, with no
 * broker lock held. api/ uses it to wake parked long polls. One hook.
 * broker_topic_delete also calls it, with hw = INT64_MAX for every
 * partition of the deleted topic, so that its waiters wake and see it gone.
 */
typedef void (*broker_append_hook_fn)(void *ctx, const char *topic, int32_t partition,
                                      int64_t hw);
void broker_set_append_hook(broker_t *b, broker_append_hook_fn fn, void *ctx);

typedef struct broker_append_info {
	int64_t first_offset;   /* offset of the first record (as log_append_info_t) */
	int64_t last_offset;
	int64_t record_count;
	int64_t max_timestamp;
	int     duplicate;      /* 1: an idempotent retry; nothing was appended and the
	                           offsets are the original batch's */
	int32_t leader_epoch;   /* the epoch stamped (0 single-node; replica.h) */
} broker_append_info_t;

/*
 * Append batches to a partition and, with BROKER_APPEND_DURABLE in flags,
 * wait until they are fsync'd (group commit: log_flush). With
 * BROKER_APPEND_BUILT the batches come from this process's batch_builder
 * and are not validated again (log_append_built); never set it for bytes
 * a client or a replica sent. Offsets are assigned
 * by the log and written into buf's base_offset fields. Fires the append
 * hook (not for a duplicate).
 *
 * Idempotent producers (KIP-98, src/broker/producer.h): a batch whose
 * producer_id is set must be the body's only batch and its producer id one
 * that broker_producer_new handed out (in cluster mode: on any broker, judged
 * by the id's broker part; else STRAND_EINVAL); it is checked
 * against the partition's producer state: a duplicate of one of the
 * producer's last 5 batches is not appended again (info->duplicate, the
 * original's offsets, buf's base_offset set to the original's); a stale
 * epoch is STRAND_EFENCED; a sequence that does not follow is
 * STRAND_ESEQUENCE.
 * Cluster mode (replica.h): STRAND_ENOTLEADER, STRAND_EUNAVAILABLE,
 * STRAND_ENOTENOUGH, and the batches carry the partition's leader epoch.
 * Returns 0, log_append's codes, those above, STRAND_ENOENT (partition out
 * of range), STRAND_EIO when the flush failed.
 */
#define BROKER_APPEND_DURABLE 1u   /* wait for the group-committed fsync */
#define BROKER_APPEND_BUILT   2u   /* batches from our own batch_builder */
#define BROKER_APPEND_ACKS_ALL 4u  /* cluster mode: refuse while |ISR| < min_insync_replicas */
int broker_append(broker_t *b, topic_t *t, int32_t p, uint8_t *buf, size_t len,
                  unsigned flags, broker_append_info_t *info, char *err, size_t errlen);

/*
 * A new idempotent producer (POST /v1/producers): a producer id never
 * handed out before by this data directory (ids are reserved in blocks in
 * DATA/meta/producer_ids, so a restart skips the rest of a block) and
 * epoch 0. A producer bumps its epoch itself (KIP-360) and restarts its
 * sequences at 0.
 * Cluster mode (broker_id >= 1): the id is broker_id << BROKER_PRODUCER_ID_SHIFT
 * | n, n from that same counter, so ids are unique across the cluster's
 * brokers without coordination; a broker hands out at most
 * BROKER_PRODUCER_IDS_PER_BROKER ids (then STRAND_ENOSPC). broker_append on
 * a leader accepts ids of any broker id 1..CLUSTER_MAX_BROKER_ID.
 * Returns 0 or STRAND_EIO/STRAND_ENOSPC (the block could not be reserved,
 * or the ids are used up).
 */
#define BROKER_PRODUCER_ID_SHIFT       32   /* ids < 2^53 (JSON numbers) up to CLUSTER_MAX_BROKER_ID */
#define BROKER_PRODUCER_IDS_PER_BROKER (INT64_C(1) << BROKER_PRODUCER_ID_SHIFT)
int broker_producer_new(broker_t *b, int64_t *id_out, int16_t *epoch_out,
                        char *err, size_t errlen);

/*
 * The Idempotency-Key window (idempotency.h), journaled in
 * DATA/meta/idempotency.journal; borrowed, lives as long as the broker.
 * The ticker expires it and compacts its journal.
 */
idem_store_t *broker_idempotency(broker_t *b);

/* Wall clock in milliseconds (the idempotency window's clock). */
int64_t broker_wall_ms(void);

/* Idempotent producers the partition keeps state for; -1 if p is out of range. */
int broker_partition_producer_count(topic_t *t, int32_t p);

/* Totals since broker_open, for /metrics (read without locks: relaxed atomics). */
typedef struct broker_stats {
	uint64_t records_appended;   /* records in successfully appended batches */
	uint64_t bytes_appended;     /* their bytes as stored (batch framing included) */
} broker_stats_t;
void broker_stats(broker_t *b, broker_stats_t *out);

/*
 * The log cleaner's work since broker_open, for /metrics: Kafka's
 * LogCleaner and LogCleanerManager metrics. Cluster mode only moves them
 * (the cleaner compacts __consumer_offsets); a single node reports zeros.
 * Read without locks (relaxed atomics): one field may be a pass ahead of
 * another.
 */
typedef struct broker_cleaner_stats {
	uint64_t passes;             /* log_compact runs, one partition each */
	uint64_t failures;           /* runs that failed (their message went to stderr);
	                                not those given up because the log changed or
	                                the broker stopped */
	uint64_t bytes_read;         /* batch bytes read by both passes */
	uint64_t bytes_written;      /* cleaned segment bytes written */
	uint64_t records_removed;    /* records replaced by a later one of their key */
	uint64_t tombstones_removed; /* tombstones past delete.retention.ms */
	uint64_t busy_ns;            /* time the runs took, sleeps included */
	uint64_t throttled_ns;       /* slept under log_cleaner_io_max_bytes_per_second */
	int64_t  last_pass_ns;       /* duration of the latest run (max-clean-time-secs) */
	int64_t  last_pass_end_ms;   /* wall clock when it ended; 0: no run yet */
	double   max_dirty_ratio;    /* the largest dirty ratio (log_dirty_ratio) at the
	                                cleaner's latest look (max-dirty-percent / 100) */
} broker_cleaner_stats_t;
void broker_cleaner_stats(broker_t *b, broker_cleaner_stats_t *out);

/* ---- committed offsets and the group coordinator ------------------------ */

typedef struct committed_offset {
	char    topic[256];
	int32_t partition;
	int64_t offset;
	char    metadata[256];
} committed_offset_t;

/*
 * Store offsets for a group, all or nothing, durably (atomic file rewrite).
 * Topics/partitions must exist (STRAND_ENOENT) and offsets be >= 0 (EINVAL).
 * Single node only: with cluster_mode it changes the in-memory view
 * alone; commits go through broker_group_commit there.
 */
int broker_offsets_commit(broker_t *b, const char *group,
                          const committed_offset_t *offs, size_t n,
                          char *err, size_t errlen);

/*
 * Committed offsets of a group, sorted by topic then partition; *out is one
 * allocation the caller frees. n 0 and STRAND_ENOENT for an unknown group.
 */
int broker_offsets_fetch(broker_t *b, const char *group,
                         committed_offset_t **out, size_t *n_out);

/* Sorted names of groups with committed offsets (one allocation, as topic names). */
int broker_group_names(broker_t *b, char ***names_out, size_t *n_out);

/*
 * What a group write appended to BROKER_OFFSETS_TOPIC (cluster_mode), for
 * the caller to wait until it is committed (acks=all): partition -1 when
 * nothing needs waiting for (single node: offsets.json is durable already).
 */
typedef struct broker_group_write {
	int32_t partition;
	int64_t end_offset;      /* the offset after the records */
	int32_t leader_epoch;    /* they were appended in */
} broker_group_write_t;

/*
 * Delete a group: its committed offsets and its coordinator state (it
 * becomes Dead). Returns 0, STRAND_ENOTEMPTY (members remain),
 * STRAND_ENOENT (neither offsets nor coordinator state). With
 * cluster_mode a tombstone is appended first (*w: wait for it as for a
 * commit), and the codes of broker_group_commit's append apply.
 */
int broker_group_delete(broker_t *b, const char *group, broker_group_write_t *w,
                        char *err, size_t errlen);

/* The group coordinator (borrowed; lives as long as the broker). It is
 * ticked by the broker's ticker thread with broker_now_ms(). */
group_coord_t *broker_groups(broker_t *b);

/* The coordinator's clock: CLOCK_MONOTONIC in milliseconds. */
int64_t broker_now_ms(void);

/*
 * A group offset commit, fenced (group_commit_check) and written under the
 * same lock, so a commit checked against a generation is on disk before any
 * commit of a later generation. member_id NULL: a simple commit, refused
 * with STRAND_ENOTEMPTY while the group has members. Otherwise as
 * group_commit_check (STRAND_ENOMEMBER, STRAND_EGENERATION,
 * STRAND_EREBALANCE), then as broker_offsets_commit.
 * cluster_mode: the group's metadata and one record per offset are
 * appended to its partition of BROKER_OFFSETS_TOPIC (in log order, under
 * the same lock: the fencing above holds across coordinators) and *w says
 * what to wait for; the commit is acknowledged once broker_group_committed
 * says 1. Also STRAND_ENOTLEADER / STRAND_EUNAVAILABLE (not the
 * coordinator, or not loaded: broker_group_ready), STRAND_ENOTENOUGH
 * (|ISR| < min_insync_replicas), STRAND_EIO.
 */
int broker_group_commit(broker_t *b, const char *group, const char *member_id,
                        int32_t generation, const committed_offset_t *offs, size_t n,
                        int64_t now_ms, broker_group_write_t *w, char *err, size_t errlen);

/*
 * cluster_mode: make this broker ready to serve group (call before any
 * group request is served here): 0 when it leads group's partition of
 * BROKER_OFFSETS_TOPIC and has loaded that partition's groups at the
 * current leader epoch; the first call after leadership came loads them
 * (reads the partition from its start to its end: docs/GROUPS.md), while
 * other calls for the same partition get STRAND_EUNAVAILABLE (Kafka's
 * COORDINATOR_LOAD_IN_PROGRESS). STRAND_ENOTLEADER: another broker leads
 * it; STRAND_EUNAVAILABLE: the topic is not here yet. 0 at once without
 * cluster_mode.
 */
int broker_group_ready(broker_t *b, const char *group, char *err, size_t errlen);

/*
 * offsets_in_log: broker_group_ready for every partition of
 * BROKER_OFFSETS_TOPIC this broker leads (the group list), and for each of
 * expect[0..nexpect) (the partitions another broker's view says it leads):
 * one it does not lead (yet) is STRAND_ENOTLEADER, so that a list asked of
 * it in a leadership change is refused rather than short. 0, or the first
 * partition's STRAND_EUNAVAILABLE / STRAND_ENOTLEADER / load error.
 */
int broker_groups_ready_here(broker_t *b, const int32_t *expect, size_t nexpect,
                             char *err, size_t errlen);

/* 1 when this broker coordinates group now (offsets_in_log: its partition
 * is loaded at the current leader epoch; always without offsets_in_log). */
int broker_group_coordinated_here(broker_t *b, const char *group);

/*
 * cluster_mode: append group's metadata record (generation, protocol,
 * members, assignment) when its current generation is not yet in
 * BROKER_OFFSETS_TOPIC: a member collecting a new generation's assignment
 * calls it (Kafka writes the group at SyncGroup), so a new coordinator
 * continues the numbering even from a generation that committed nothing.
 * *w: what to wait for (partition -1: nothing was written). 0, or
 * broker_group_commit's append errors.
 */
int broker_group_log_generation(broker_t *b, const char *group, broker_group_write_t *w,
                                char *err, size_t errlen);

/* Is a group write committed (acks=all): 1 yes (or nothing to wait for),
 * 0 not yet, STRAND_ENOTENOUGH it may never be (broker_replica_committed). */
int broker_group_committed(broker_t *b, const broker_group_write_t *w, char *err,
                           size_t errlen);

/*
 * After broker_group_committed said 1: fsync the records where the ISR's
 * copies are not enough (an ISR of this broker alone,
 * broker_replica_needs_flush), as acks=all does for a produce. Blocking
 * I/O: call it with no lock held. 0, or STRAND_EIO (the records may not be
 * durable).
 */
int broker_group_flush(broker_t *b, const broker_group_write_t *w, char *err, size_t errlen);

#endif
