/*
 * cleaner.h — the two passes of log compaction (Kafka's LogCleaner,
 * cleanup.policy=compact), private to the log module: log.c's log_compact
 * takes the segments to clean under the log's lock, runs these passes on
 * dup'd descriptors without it, and swaps the result in (log.h).
 *
 *   1. cleaner_map_segment: the offset map, key hash -> last offset of the
 *      key in the cleaned range (Kafka's SkimpyOffsetMap), segment by
 *      segment, bounded by a memory limit fixed at cleaner_map_new;
 *   2. cleaner_write_group: one new segment from consecutive old ones,
 *      keeping a record when it is the last of its key (or has no key),
 *      a tombstone only while younger than delete_retention_ms.
 *
 * Keys are hashed to 128 bits (two 64-bit hashes; Kafka uses MD5's 128):
 * two keys of one partition colliding, which would drop the older one's
 * latest value, has a probability of about n^2 / 2^129.
 */
#ifndef STRAND_CLEANER_H
#define STRAND_CLEANER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "log/segment.h"

typedef struct cleaner_map cleaner_map_t;

/* Each entry takes this many bytes of the map's memory limit. */
#define CLEANER_MAP_ENTRY_BYTES 24
/* The map counts as full at this load (open addressing stays fast). */
#define CLEANER_MAP_LOAD_PERCENT 75

/* A map using at most bytes of memory (at least one entry). NULL: no memory. */
cleaner_map_t *cleaner_map_new(size_t bytes);
void cleaner_map_free(cleaner_map_t *map);
void cleaner_map_clear(cleaner_map_t *map);
/* Keys the map can hold before it is full. */
size_t cleaner_map_capacity(const cleaner_map_t *map);

/*
 * The I/O of one compaction, counted and throttled: Kafka's Throttler under
 * log.cleaner.io.max.bytes.per.second, measured from cleaner_io_init (the
 * start of the pass) rather than over 300 ms windows, so a pass that read
 * and wrote B bytes took at least B / max_bytes_per_second seconds. The
 * sleeps happen on the cleaning thread, which holds no log lock then.
 * Filled by the caller through cleaner_io_init; the passes add to it.
 */
typedef struct cleaner_io {
	int64_t          max_bytes_per_second;  /* 0: unlimited */
	const atomic_int *cancel;               /* NULL, or non-zero: stop sleeping */
	int64_t          start_ns;              /* CLOCK_MONOTONIC */
	int64_t          bytes_read;            /* batch bytes read, both passes */
	int64_t          bytes_written;         /* cleaned segment bytes written */
	int64_t          throttled_ns;          /* time slept to stay under the rate */
} cleaner_io_t;

/* Start counting (and the throttle's clock) now. */
void cleaner_io_init(cleaner_io_t *io, int64_t max_bytes_per_second, const atomic_int *cancel);

/*
 * Put every keyed record of the segment (size bytes of whole batches at fd)
 * into the map, later offsets replacing earlier ones. buf and cap are a
 * scratch buffer the caller owns (grown here, freed by the caller).
 * Returns 0, 1 when the map filled before the segment's end (its content
 * is then partial: clear it and map fewer segments), STRAND_EIO,
 * STRAND_ECORRUPT, STRAND_ENOMEM, STRAND_ECLOSED (io->cancel was set while
 * the throttle slept). Reads are counted (and throttled) in io.
 */
int cleaner_map_segment(cleaner_map_t *map, int fd, int64_t size, int sparse,
                        uint8_t **buf, size_t *cap, cleaner_io_t *io,
                        char *err, size_t errlen);

/* One old segment to rewrite: its data file (a dup'd descriptor) and extent. */
typedef struct cleaner_input {
	int     fd;
	int64_t base_offset, next_offset, size;
	int     sparse;
} cleaner_input_t;

typedef struct cleaner_counts {
	int64_t records_kept, records_removed, tombstones_removed, batches_removed;
} cleaner_counts_t;

/*
 * Write the records of in[0..n) that survive into a new cleaned segment
 * (segment_create_cleaned) based at in[0].base_offset, indexed, fsync'd.
 * A batch keeps its base offset, last_offset_delta, timestamps, producer
 * id/epoch/sequence, leader epoch and every kept record's bytes; its
 * length, record count and CRC are recomputed. A batch left with no
 * record is dropped, except the last one of the group, which stays empty
 * so that the segment still ends at in[n-1].next_offset. *changed_out says
 * whether anything differs from the input (a single segment kept whole
 * need not be swapped). *out gets the segment (the caller installs or
 * deletes it). Reads and writes are counted (and throttled) in io.
 * Returns 0, STRAND_EIO, STRAND_ENOSPC, STRAND_ECORRUPT, STRAND_ENOMEM,
 * STRAND_ECLOSED (io->cancel was set while the throttle slept).
 */
int cleaner_write_group(const char *dir, const cleaner_input_t *in, size_t n,
                        const cleaner_map_t *map, int64_t now_ms,
                        int64_t delete_retention_ms, int index_interval,
                        cleaner_io_t *io, segment_t **out, int *changed_out,
                        cleaner_counts_t *counts, char *err, size_t errlen);

#endif
