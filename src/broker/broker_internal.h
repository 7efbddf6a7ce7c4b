/*
 * broker_internal.h — what the files of src/broker/ share and nobody else
 * sees: the metadata file helpers (atomic rewrite, whole-file read), the
 * topic config <-> JSON mapping used by topics.json, and the committed
 * offsets store behind broker_offsets_*.
 */
#ifndef STRAND_BROKER_INTERNAL_H
#define STRAND_BROKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "broker/broker.h"

/* ---- topic configs in topics.json (topic_config.c) ---------------------- */

/*
 * The config as a JSON object {name: "value text", ...}: every config in
 * topic_config_each order, values as strings so that int64 values survive
 * exactly (cJSON numbers are doubles). Returns NULL on allocation failure.
 */
cJSON *topic_config_to_json(const topic_config_t *cfg);

/*
 * Start from the defaults and apply every member of obj (an object of
 * strings, as topic_config_to_json writes) through topic_config_set; then
 * topic_config_validate. Returns 0 or STRAND_EINVAL (unknown name, bad value).
 */
int topic_config_from_json(topic_config_t *cfg, const cJSON *obj,
                           char *err, size_t errlen);

/* ---- committed offsets store (offsets.c) -------------------------------- */

typedef struct offsets_store offsets_store_t;

/*
 * Load the store from path (a missing file is an empty store).
 * Returns 0, STRAND_ECORRUPT (message names the file), STRAND_EIO,
 * STRAND_ENOMEM.
 */
int  offsets_store_open(const char *path, offsets_store_t **out, char *err, size_t errlen);
void offsets_store_close(offsets_store_t *s);

/*
 * Writers: offsets_store_commit, offsets_store_drop_topic and
 * offsets_store_group_delete rewrite the file, and must be serialised by
 * the caller (the broker's metadata mutex), which also makes topic checks
 * and the commit one step. Readers (fetch, names) may run at any time: they
 * take only the store's own mutex, which is never held across I/O.
 */

/* Merge offs (already validated) into group: all or nothing, durable. */
int offsets_store_commit(offsets_store_t *s, const char *group,
                         const committed_offset_t *offs, size_t n,
                         char *err, size_t errlen);
int offsets_store_fetch(offsets_store_t *s, const char *group,
                        committed_offset_t **out, size_t *n_out);
int offsets_store_group_names(offsets_store_t *s, char ***names_out, size_t *n_out);
int offsets_store_group_delete(offsets_store_t *s, const char *group,
                               char *err, size_t errlen);
/*
 * Drop every offset of topic (deleted topic); groups left empty go too.
 * persist 0 changes memory only (used at open to forget offsets of topics
 * that no longer exist; the next write persists it).
 */
int offsets_store_drop_topic(offsets_store_t *s, const char *topic, int persist,
                             char *err, size_t errlen);

/*
 * Names of topics that have committed offsets (sorted, one allocation as
 * broker_topic_names). Used at open to find offsets of vanished topics.
 */
int offsets_store_topic_names(offsets_store_t *s, char ***names_out, size_t *n_out);

/* ---- __consumer_offsets (offsets_log.c; cluster mode) -------------------- */

typedef struct offsets_log offsets_log_t;

int  offsets_log_new(offsets_log_t **out);
void offsets_log_free(offsets_log_t *ol);

/* The broker's parts offsets_log.c works with. meta_lock serialises every
 * group write with its fences (broker.c's lock order). */
pthread_mutex_t *broker_meta_lock(broker_t *b);
offsets_store_t *broker_offsets_store(broker_t *b);
offsets_log_t   *broker_offsets_log(broker_t *b);   /* NULL: single node */

/*
 * Under meta_lock, after the fences: append group's records to its
 * partition (offs NULL: the group's tombstone; else its metadata, when the
 * coordinator knows the group, and one record per offset), with
 * acks=all's ISR check and the local fsync; *w says what to wait for.
 * 0, STRAND_ENOTLEADER (not the coordinator now), STRAND_EUNAVAILABLE
 * (not loaded), broker_append's codes.
 */
int offsets_log_write_locked(broker_t *b, const char *group, const committed_offset_t *offs,
                             size_t n, broker_group_write_t *w, char *err, size_t errlen);

/*
 * Under meta_lock, before a deleted topic's offsets leave the store: for
 * every group this broker coordinates that committed offsets of topic,
 * append their tombstones (not waited for), so compaction removes them.
 */
void offsets_log_topic_deleted_locked(broker_t *b, const char *topic);

/*
 * What the log cleaner did (broker_cleaner_stats reads it): relaxed
 * atomics in the broker, written by the cleaner thread only.
 */
typedef struct broker_cleaner_counters {
	atomic_uint_fast64_t passes, failures, bytes_read, bytes_written;
	atomic_uint_fast64_t records_removed, tombstones_removed, busy_ns, throttled_ns;
	atomic_int_fast64_t  last_pass_ns, last_pass_end_ms;
	atomic_int_fast64_t  max_dirty_ppm;    /* max dirty ratio, parts per million */
} broker_cleaner_counters_t;

/* The log cleaner's settings, fixed at broker_open. */
typedef struct broker_cleaner_opts {
	int64_t           io_max_bytes_per_second;  /* 0: no limit (log.h) */
	const atomic_int *cancel;                   /* the broker is stopping */
} broker_cleaner_opts_t;

/*
 * The log cleaner (its own thread, every log_cleaner_backoff_ms): compact
 * each partition of __consumer_offsets whose dirty ratio (log.h) is at
 * least OFFSETS_LOG_MIN_DIRTY_RATIO, below its high watermark, adding
 * each run to c. Takes no broker lock (a throttled run sleeps).
 */
void offsets_log_clean(broker_t *b, int64_t now_ms, const broker_cleaner_opts_t *opts,
                       broker_cleaner_counters_t *c);

/* The ticker: drop the groups of partitions this broker no longer leads
 * (or leads in a newer epoch: they are loaded again). Takes meta_lock. */
void offsets_log_tick(broker_t *b);

/* ---- partitions (broker.c) ----------------------------------------------- */

/* The partition's idempotent-producer table (producer.h; borrowed while t
 * is held); NULL if p is out of range. follower.c rebuilds it after a
 * truncation. */
struct producer_table;
struct producer_table *topic_partition_producers(topic_t *t, int32_t p);

/* Pack n strings into one allocation: an array of n pointers followed by the text. */
char **broker_names_pack(char *const *names, size_t n);


/* ---- replication state (replica.c, replica.h) --------------------------- */

#include "broker/replica.h"

/* One partition's replication state, hung on its slot in broker.c. */
typedef struct replica_part replica_part_t;
/* The broker's replication hooks and cluster-mode flag. */
typedef struct replica_mgr replica_mgr_t;

int  replica_mgr_new(int replicated, replica_mgr_t **out);
void replica_mgr_free(replica_mgr_t *m);
/* A partition's state, its HW read from dir's checkpoint (clamped to leo);
 * NULL when out of memory. Freed with the partition (writing the HW). */
replica_part_t *replica_part_new(const char *dir, int64_t leo);
void replica_part_free(replica_part_t *r);

/*
 * broker_append's fence (replica.h): in cluster mode check leadership,
 * lease and (BROKER_APPEND_ACKS_ALL) the ISR size, and hold the fence's
 * read side (*fenced = 1) until replica_append_end. *epoch gets the leader
 * epoch to stamp (0 single-node). Returns 0, STRAND_ENOTLEADER,
 * STRAND_EUNAVAILABLE, STRAND_ENOTENOUGH (nothing held).
 */
int  replica_append_begin(broker_t *b, topic_t *t, int32_t p, unsigned flags,
                          int32_t *epoch, int *fenced, char *err, size_t errlen);
/* Release the fence; appended: the LEO moved (HW, followers' polls). */
void replica_append_end(broker_t *b, topic_t *t, int32_t p, int fenced, int appended);
/*
 * The follower's side of the same fence: 0 with the read side held when
 * this broker follows partition p now (until replica_follow_end), else
 * STRAND_ENOTLEADER (nothing held). An append or truncation under it cannot
 * land after broker_partition_set_state made this broker the leader: a
 * fetch answered by the old leader, checked just before that change, is
 * refused instead of written into the new leader's log.
 */
int  replica_follow_begin(broker_t *b, topic_t *t, int32_t p, char *err, size_t errlen);
void replica_follow_end(topic_t *t, int32_t p);
/* topic_partition_hw: the LEO single-node, else the replicated HW. */
int64_t replica_hw(broker_t *b, topic_t *t, int32_t p);
/* A follower's HW after an append or truncation: min(leader_hw, LEO);
 * fires the append hook when it moved (C's follower.c). */
void replica_follower_hw(broker_t *b, topic_t *t, int32_t p, int64_t leader_hw);
/* The ticker, every REPLICA_TICK_MS in cluster mode: HW, ISR proposals,
 * the HW checkpoint. */
void replica_tick(broker_t *b, topic_t *t, int32_t p, int64_t now_ms);
#define REPLICA_TICK_MS 200

/* Fire the append hook (broker.h) with hw, no lock held. */
void broker_fire_append_hook(broker_t *b, const char *topic, int32_t p, int64_t hw);

/* broker.c's accessors for replica.c. */
replica_mgr_t  *broker_replica_mgr(broker_t *b);
int32_t         broker_self_id(broker_t *b);
/* The partition's replication state (borrowed while t is held); NULL if p is out of range. */
replica_part_t *topic_replica_part(topic_t *t, int32_t p);
/* The broker holding t. */
broker_t       *topic_broker(topic_t *t);

#endif
