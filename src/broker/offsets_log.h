/*
 * offsets_log.h — consumer groups and committed offsets kept in the
 * replicated internal topic __consumer_offsets (BROKER_OFFSETS_TOPIC), the
 * way Kafka's GroupMetadataManager keeps them (docs/GROUPS.md "Groups in a
 * cluster"):
 *
 *   - group g lives in partition broker_group_partition(g, N); the leader
 *     of that partition is g's coordinator;
 *   - a commit appends one record per offset (key: group, topic,
 *     partition) plus one group metadata record (key: group; value:
 *     generation, protocol, leader, members and their assignment) to that
 *     partition, and is answered once the high watermark passed them
 *     (acks=all); deleting a group appends a tombstone (null value) for its
 *     metadata key and for each of its offsets' keys, deleting a topic one
 *     for each of its offsets' keys (not waited for);
 *   - the topic is compacted (offsets_log_clean): only the last record of
 *     each key stays, tombstones for OFFSETS_LOG_DELETE_RETENTION_MS;
 *   - a broker that becomes the partition's leader loads the partition's
 *     groups by reading its log from start to end before it answers their
 *     requests (until then STRAND_EUNAVAILABLE: Kafka's
 *     COORDINATOR_LOAD_IN_PROGRESS); one that stops leading drops them.
 *
 * Record layout (big-endian; string = int16 length + bytes; docs/GROUPS.md
 * gives every field):
 *   key v1 (offset):    int16 1 | string group | string topic | int32 partition
 *   key v2 (group):     int16 2 | string group
 *   offset value v1:    int16 1 | int64 offset | string metadata | int64 commit_ms
 *   group value v1:     int16 1 | int32 generation | string protocol |
 *                       string leader | int32 members |
 *                       members × (string member_id | int32 session_timeout_ms |
 *                                  int32 rebalance_timeout_ms | int32 topics |
 *                                  topics × (string topic | int32 n | n × int32))
 *   a null value (length -1) is a tombstone: the group (key v2) or the
 *   offset (key v1) is gone.
 *
 * The codec and the loader are pure enough to test on a bare log; the rest
 * is the broker's (broker_group_ready, broker_group_commit and
 * broker_group_delete in broker.h).
 *
 * Threading: the codec is pure; offsets_log_load reads one log (no lock
 * held); the broker calls the rest under its metadata lock.
 */
#ifndef STRAND_BROKER_OFFSETS_LOG_H
#define STRAND_BROKER_OFFSETS_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/group.h"
#include "common/buf.h"
#include "log/log.h"

#define OFFSETS_LOG_KEY_OFFSET    1    /* key version: a committed offset */
#define OFFSETS_LOG_KEY_GROUP     2    /* key version: a group's metadata */
#define OFFSETS_LOG_VALUE_VERSION 1    /* the one value version of each kind */
#define OFFSETS_LOG_READ_BYTES    (1024 * 1024)  /* one log_read while loading */

/*
 * Compaction of the topic (cleanup.policy=compact, docs/GROUPS.md
 * "Retention: compaction"): each replica's cleaner compacts a partition
 * once this share of its cleanable bytes is dirty (Kafka's
 * min.cleanable.dirty.ratio), with an offset map of this many bytes
 * (log.cleaner.dedupe.buffer.size: about 520,000 keys), and removes a
 * tombstone once it is this old (delete.retention.ms); segments roll at
 * strand serve --offsets-segment-bytes (offsets.topic.segment.bytes).
 */
#define OFFSETS_LOG_MIN_DIRTY_RATIO      0.5
#define OFFSETS_LOG_CLEANER_MAP_BYTES    (16u * 1024 * 1024)
#define OFFSETS_LOG_DELETE_RETENTION_MS  86400000LL

/* ---- the codec (pure) ------------------------------------------------------ */

/* Append the key or value bytes to out. 0, STRAND_EINVAL (a string over
 * INT16_MAX bytes), STRAND_ENOMEM. */
int offsets_log_encode_offset_key(buf_t *out, const char *group, const char *topic,
                                  int32_t partition);
int offsets_log_encode_offset_value(buf_t *out, const committed_offset_t *o,
                                    int64_t commit_ms);
int offsets_log_encode_group_key(buf_t *out, const char *group);
int offsets_log_encode_group_value(buf_t *out, const group_desc_t *d);

typedef struct offsets_log_record {
	int                kind;        /* OFFSETS_LOG_KEY_OFFSET or OFFSETS_LOG_KEY_GROUP */
	int                tombstone;   /* the value was null */
	char               group[256];
	committed_offset_t offset;      /* kind OFFSET: topic, partition (and, unless a
	                                   tombstone, offset and metadata) */
	int64_t            commit_ms;
	int32_t            generation;  /* kind GROUP, unless a tombstone */
	char               protocol[32];
	char               leader[GROUP_MEMBER_ID_MAX];
	int32_t            nmembers;
} offsets_log_record_t;

/*
 * Decode one record (key bytes, value bytes; value_len -1: tombstone).
 * Every length is checked against what is left. Returns 0 or
 * STRAND_ECORRUPT (malformed, or an unknown key or value version).
 */
int offsets_log_decode(const uint8_t *key, int32_t key_len, const uint8_t *value,
                       int32_t value_len, offsets_log_record_t *out);

/* ---- loading ------------------------------------------------------------------- */

/* Called for every record of the partition, in offset order. Non-zero stops
 * the load with that code. */
typedef int (*offsets_log_record_fn)(void *ctx, const offsets_log_record_t *rec);

/*
 * Read log from its start offset to end_offset (its LEO when the load
 * began: the new leader's whole log, as Kafka loads to the log end) and
 * call fn for each record. Records that do not decode are skipped and
 * counted in *skipped (may be NULL). Returns 0, the first non-zero fn
 * result, log_read's codes, STRAND_EIO, STRAND_ENOMEM.
 */
int offsets_log_load(log_t *log, int64_t end_offset, offsets_log_record_fn fn, void *ctx,
                     int64_t *records, int64_t *skipped, char *err, size_t errlen);

#endif
