/*
 * log.h — the partition log: an append-only sequence of RecordBatch v2
 * batches addressed by offsets, kept in one directory.
 *
 * Layout of a partition directory (docs/FORMAT.md):
 *   00000000000000000000.log        segment: batches back to back, as sent
 *   00000000000000000000.index      sparse offset index: (int32 relative offset, int32 position)
 *   00000000000000000000.timeindex  sparse time index:   (int64 max timestamp, int32 relative offset)
 *   leader-epoch-checkpoint         epoch -> start offset (Kafka's LeaderEpochFileCache, KIP-101)
 *   recovery-point-offset-checkpoint offset below which data was flushed and indexed
 * A segment is named by its base offset (20 digits). Segments roll by size
 * (segment_bytes) and age (segment_ms); retention deletes whole old segments
 * and advances the log start offset.
 *
 * Words (Kafka's): LEO = log end offset (the next offset to be assigned);
 * log start offset = first offset still stored. Single-node, the high
 * watermark is the LEO; replication will pass a smaller bound to log_read.
 *
 * Threading: all calls are safe from any thread. Appends, rolls, truncation
 * and retention are serialised by the log's lock, which is held across the
 * write(2) of an append (as Kafka holds its log lock) but never across fsync.
 * Reads take the lock only to find the segment and dup its descriptor; the
 * read itself happens without it. log_flush implements group commit: many
 * concurrent callers, one fdatasync.
 */
#ifndef STRAND_LOG_H
#define STRAND_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct log log_t;

typedef struct log_config {
	int64_t segment_bytes;        /* roll past this size; default 1 GiB */
	int64_t segment_ms;           /* roll a segment this old; default 7 days; -1 never */
	int64_t retention_ms;         /* delete segments older; default 7 days; -1 keep */
	int64_t retention_bytes;      /* delete oldest segments while over; default -1 (no limit) */
	int64_t flush_messages;       /* flush after this many unflushed records; -1 never */
	int64_t flush_ms;             /* flush data older than this (log_tick); -1 never */
	int32_t index_interval_bytes; /* bytes between sparse index entries; default 4096 */
	int32_t max_batch_bytes;      /* largest batch accepted by log_append; default 1 MiB + overhead */
	int     compact;              /* cleanup.policy=compact: log_compact may run, so offsets
	                                 may have gaps (recovery and follower appends accept
	                                 them); default 0 (delete). Fixed at log_open:
	                                 log_set_config keeps the log's value */
} log_config_t;

/* Kafka's defaults (log.segment.bytes, log.retention.ms, ...). */
void log_config_default(log_config_t *cfg);

/*
 * Open (creating if needed) the partition log in dir with cfg (copied).
 * Runs crash recovery: every batch after the recovery checkpoint is checked
 * (length, magic, CRC32C, contiguous offsets); a torn or corrupt tail is
 * truncated and later segments removed; indexes that do not match their
 * segment are rebuilt. *out gets the handle; free with log_close.
 * Returns 0, STRAND_EIO, STRAND_ENOMEM, STRAND_EINVAL (bad config).
 */
int log_open(const char *dir, const log_config_t *cfg, log_t **out,
             char *err, size_t errlen);

/* Flush, write checkpoints and free. NULL is a no-op. */
void log_close(log_t *log);

/* Replace the configuration (topic config change). Returns 0 or STRAND_EINVAL. */
int log_set_config(log_t *log, const log_config_t *cfg, char *err, size_t errlen);

typedef struct log_append_info {
	int64_t first_offset;   /* offset given to the first record */
	int64_t last_offset;    /* offset given to the last record */
	int64_t record_count;
	int64_t max_timestamp;
} log_append_info_t;

/*
 * Append one or more batches (buf holds them back to back, len bytes).
 * Every batch is validated (batch_validate) before anything is written;
 * then each gets the next offsets by rewriting its base offset, and its
 * partition leader epoch is set to leader_epoch (>= 0). The whole buffer is
 * written at once: all batches are appended, or none (a short write is
 * undone by truncation). buf is modified in place (offsets, epoch).
 * One index update per batch at most (sparse). Hot path: no allocation.
 * Returns 0, STRAND_ECORRUPT/STRAND_EINVAL (bad batch: nothing written),
 * STRAND_ETOOBIG (batch over max_batch_bytes), STRAND_ENOSPC, STRAND_EIO.
 */
int log_append(log_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
               log_append_info_t *info, char *err, size_t errlen);

/*
 * log_append for batches this process has just built with batch_builder
 * (JSON produce): the same append, each batch's header decoded and sized,
 * but its CRC not recomputed and its records not parsed again: the builder
 * wrote both a moment ago, and checking them cost ~14 % of a JSON produce's
 * instructions. Never for bytes from outside the process (a client's
 * binary body, a replica's fetch, a file): those go through log_append.
 */
int log_append_built(log_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
                     log_append_info_t *info, char *err, size_t errlen);

/*
 * Append batches fetched from the partition's leader exactly as the leader
 * stored them (a follower's append, Kafka's appendAsFollower): base offsets
 * and partition leader epochs are kept, not assigned. The first batch must
 * start at the LEO and each next one right after the previous one; epochs
 * must be >= 0, never lower than the log's latest nor than an earlier
 * batch's. Every batch is validated (CRC, records) before anything is
 * written, all or nothing as log_append; max_batch_bytes does not apply (the
 * leader accepted the batch under its own configuration). Each batch
 * bringing an epoch newer than the log's latest adds (epoch, its base
 * offset) to the epoch cache (KIP-101). buf is not modified.
 * Returns 0, STRAND_EINVAL (first offset is not the LEO, a gap or overlap
 * between batches, a lower or negative epoch; nothing written),
 * STRAND_ECORRUPT (bad batch, nothing written), STRAND_ENOSPC, STRAND_EIO.
 */
int log_append_replica(log_t *log, const uint8_t *buf, size_t len,
                       log_append_info_t *info, char *err, size_t errlen);

/*
 * A contiguous file range of whole batches, ready for sendfile.
 * fd is a dup of the segment's descriptor: the caller owns it and closes
 * it (or hands it to libmicrohttpd, which closes it). It stays valid even if
 * retention deletes the segment meanwhile.
 */
typedef struct log_slice {
	int     fd;             /* -1 when len == 0 */
	off_t   pos;            /* file position of the first batch */
	size_t  len;            /* bytes of whole batches */
	int64_t first_offset;   /* base offset of the first batch (may be < requested) */
	int64_t next_offset;    /* offset after the last batch in the slice */
} log_slice_t;

/*
 * Find the batches holding offset and after, up to max_bytes (always at least
 * one whole batch if any is available, as Kafka does, so a large batch cannot
 * stall a reader), not reaching max_offset (exclusive: the high watermark;
 * pass -1 for the LEO), within one segment. An offset equal to the bound
 * gives an empty slice (len 0, next_offset = offset).
 * Returns 0, STRAND_ERANGE when offset < log start offset or > LEO,
 * STRAND_EIO. The slice may start before offset (the batch containing it):
 * readers skip records below the offset they asked for.
 */
int log_read(log_t *log, int64_t offset, size_t max_bytes, int64_t max_offset,
             log_slice_t *out, char *err, size_t errlen);

/* Close a slice's fd if any and clear it. */
void log_slice_release(log_slice_t *slice);

/*
 * First offset whose record timestamp is >= ts, and that record's timestamp.
 * Returns 0, STRAND_ENOENT when no record has such a timestamp (then
 * *offset_out is the LEO, as Kafka's ListOffsets answers), STRAND_EIO.
 */
int log_offset_for_timestamp(log_t *log, int64_t ts, int64_t *offset_out,
                             int64_t *ts_out, char *err, size_t errlen);

/*
 * Call fn with the header of every batch holding offsets at or after
 * from_offset (clamped to the log start offset), in offset order, up to the
 * log end offset as it was when each segment was reached. Only headers are
 * read (a buffered reader, no record parsing): the broker rebuilds its
 * idempotent-producer state this way at open. fn returning non-zero stops
 * the scan with that value. Returns 0, fn's value, STRAND_EIO,
 * STRAND_ECORRUPT, STRAND_ENOMEM.
 */
struct batch_header;
int log_scan_headers(log_t *log, int64_t from_offset,
                     int (*fn)(void *ctx, const struct batch_header *h), void *ctx,
                     char *err, size_t errlen);

int64_t log_start_offset(log_t *log);
int64_t log_end_offset(log_t *log);
int64_t log_size_bytes(log_t *log);
int     log_segment_count(log_t *log);
/* 1 when opened with cfg.compact (log_compact may run), else 0. */
int     log_compacted(log_t *log);
/* Offset below which every record has been fdatasync'd. */
int64_t log_flushed_offset(log_t *log);

/*
 * Remove every batch at or after offset (a batch containing offset goes
 * whole, so the LEO becomes that batch's base offset, as Kafka's truncateTo).
 * Leader-epoch entries starting at or after the new LEO are dropped.
 * Truncating below the log start offset empties the log and restarts it at
 * offset. Returns 0 or STRAND_EIO.
 */
int log_truncate_to(log_t *log, int64_t offset, char *err, size_t errlen);

/*
 * Empty the log and restart it at offset, which may lie past the LEO
 * (Kafka's truncateFullyAndStartAt): a follower whose log ends below its
 * leader's log start offset (retention deleted what it lacks) continues
 * from there. Every segment and every leader-epoch entry goes.
 * Returns 0, STRAND_EINVAL (offset < 0), STRAND_EIO, STRAND_ENOMEM.
 */
int log_truncate_fully(log_t *log, int64_t offset, char *err, size_t errlen);

/*
 * Make every record below offset durable (fdatasync), group-commit style:
 * if a flush covering offset is already running, wait for it instead of
 * starting another. Pass -1 for "everything appended so far".
 * Returns 0 or STRAND_EIO (the fsync failed: the data may not be durable).
 *
 * A failed fsync is never retried as if it had worked: after one, the
 * kernel may have dropped the dirty pages and a later fsync would succeed
 * without them ("fsyncgate", PostgreSQL 2018). The log therefore fences
 * itself: every later log_append and log_flush fails with STRAND_EIO until
 * the log is closed and reopened, whose recovery reads back what is really
 * on disk. log_write_failed says so.
 */
int log_flush(log_t *log, int64_t offset, char *err, size_t errlen);

/* Non-zero once an fsync of this log failed (see log_flush); any thread. */
int log_write_failed(log_t *log);

/*
 * Fault injection for tests (as SQLite's I/O error tests): the next fsync
 * of this log fails with EIO without calling the kernel. Any thread.
 */
void log_inject_sync_failure(log_t *log);

/*
 * Periodic work, called by the owner about once a second: flush by
 * flush_ms, time-based roll of an idle segment, retention by time and size,
 * recovery checkpoint. *deleted_out (may be NULL) gets the number of
 * segments deleted. Returns 0 or STRAND_EIO.
 */
int log_tick(log_t *log, int64_t now_ms, int *deleted_out, char *err, size_t errlen);

/* ---- compaction (cleanup.policy=compact, Kafka's log cleaner) ------------ */

typedef struct log_compact_opts {
	int64_t now_ms;              /* wall clock, for tombstone age */
	int64_t clean_below;         /* clean only closed segments ending at or below this
	                                offset (the high watermark); -1: the LEO */
	int64_t delete_retention_ms; /* Kafka's delete.retention.ms: a tombstone that is the
	                                last of its key goes once its timestamp is older;
	                                -1 keeps tombstones */
	size_t  map_bytes;           /* memory limit of the offset map (Kafka's
	                                log.cleaner.dedupe.buffer.size), 24 bytes a key */
	int64_t io_max_bytes_per_second; /* Kafka's log.cleaner.io.max.bytes.per.second:
	                                the pass sleeps (never holding the log's lock) so
	                                that the bytes it read and wrote stay under this
	                                rate, measured from the pass's start; 0: no limit */
	const atomic_int *cancel;    /* NULL, or a flag that, once non-zero, ends a sleep
	                                of the throttle within 100 ms and the pass with
	                                STRAND_ECLOSED (a broker shutting down) */
	int     stop_after_step;     /* tests only (crash injection): 0 runs to the end;
	                                k in 1..4 returns STRAND_EIO right after swap step k
	                                of the first group, leaving files as a crash would;
	                                the handle must then be abandoned (the process exits) */
} log_compact_opts_t;

typedef struct log_compact_stats {
	int64_t cleaned_to;          /* offsets below it were cleaned (0: nothing to do) */
	int64_t bytes_before, bytes_after;   /* of the cleaned segments */
	int     segments_before, segments_after;
	int64_t records_kept, records_removed, tombstones_removed;
	/* the fields above count the groups swapped in, also when a later one
	 * fails; the pass's I/O below counts everything (Kafka's CleanerStats) */
	int64_t bytes_read;          /* batch bytes read: pass 1 reads the mapped segments,
	                                pass 2 the cleaned ones */
	int64_t bytes_written;       /* bytes of cleaned segments written (indexes aside),
	                                including a rewrite found unchanged and dropped */
	int64_t throttled_ns;        /* time slept under io_max_bytes_per_second */
} log_compact_stats_t;

/*
 * Compact the closed segments of a log opened with cfg.compact (Kafka's
 * Cleaner.clean): never the active segment, only segments ending at or
 * below opts->clean_below. Pass 1 maps every key of those segments to its
 * last offset (as many leading segments as the map holds: at least the
 * first, else STRAND_ETOOBIG). Pass 2 rewrites them, in groups of
 * consecutive segments totalling at most segment_bytes, each into one new
 * segment (cleaner.h): a keyed record stays only if it is the last of its
 * key, a tombstone only until delete_retention_ms; offsets are preserved,
 * so gaps appear; every segment still ends where the next begins.
 *
 * Each group is swapped in crash-safely (docs/FORMAT.md "Compaction"):
 * <base>.cleaned.* written and fsync'd; step 1 rename to <base>-<end>.swap
 * and fsync the directory (the commit point: recovery deletes .cleaned
 * files and finishes a .swap); step 2 delete the old segments; step 3 the
 * new indexes take their names; step 4 the .swap becomes <base>.log and the
 * directory is fsync'd. Only the swap holds the log's lock (renames,
 * unlinks, two directory fsyncs); both passes read dup'd descriptors
 * without it, so appends and reads go on meanwhile, and a reader holding a
 * slice of an old segment keeps reading its unlinked file. A retention or
 * truncation that changes the closed segments meanwhile makes the cleaner
 * drop its work (STRAND_EAGAIN: try again later). With
 * io_max_bytes_per_second, a pass that read and wrote B bytes lasts at
 * least B / io_max_bytes_per_second seconds (the sleeps fall between
 * batches of the passes, outside the swap).
 *
 * One caller at a time per log (the broker's cleaner). stats may be NULL.
 * Returns 0, STRAND_EINVAL (not a compacted log), STRAND_ETOOBIG (the map
 * holds fewer keys than the first segment has), STRAND_EAGAIN, STRAND_ECLOSED
 * (opts->cancel set: nothing of the unfinished group is kept), STRAND_EIO,
 * STRAND_ENOSPC, STRAND_ECORRUPT, STRAND_ENOMEM.
 */
int log_compact(log_t *log, const log_compact_opts_t *opts, log_compact_stats_t *stats,
                char *err, size_t errlen);

/*
 * Kafka's cleanable ratio: the bytes of closed segments ending at or below
 * clean_below (-1: the LEO) written since the last log_compact, over all
 * such bytes; 0 when there are none. Where the last compaction ended is
 * kept in cleaner-offset-checkpoint (docs/FORMAT.md), so a restart keeps
 * the ratio; a truncation below it starts over (everything dirty).
 * Compare with min.cleanable.dirty.ratio.
 */
double log_dirty_ratio(log_t *log, int64_t clean_below);

/* ---- leader epochs (KIP-101, KIP-279) ----------------------------------- */

/* Latest leader epoch recorded in the log, -1 when none. */
int32_t log_latest_epoch(log_t *log);

/*
 * For a follower that last wrote in `epoch`: the largest epoch <= epoch that
 * the log knows (*epoch_out) and the offset where that epoch ends (the start
 * offset of the next higher epoch, or the LEO for the latest epoch). As
 * Kafka's LeaderEpochFileCache.endOffsetFor: an epoch >= 0 older than every
 * known one gets (epoch, start offset of the first known epoch); with no
 * epoch known at all, or epoch < 0, *epoch_out = -1 and *end_out = -1.
 */
void log_epoch_end_offset(log_t *log, int32_t epoch, int32_t *epoch_out,
                          int64_t *end_out);

#endif
