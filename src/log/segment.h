/*
 * segment.h — one log segment: a .log file of batches plus its sparse
 * offset index and time index. Private to the log module (src/log/); the
 * log owns every segment and serialises access to it with its lock, except
 * where a function says it works on a dup'd descriptor without the lock.
 *
 * Indexes are kept in memory and appended to their files lazily
 * (segment_persist_index: at flush, roll, tick and close): recovery rebuilds
 * whatever part of an index a crash lost, so the append path writes data only.
 */
#ifndef STRAND_SEGMENT_H
#define STRAND_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log/batch.h"

typedef struct seg_index_entry {
	int32_t rel;        /* offset - base_offset of a batch's base offset */
	int32_t pos;        /* file position of that batch */
} seg_index_entry_t;

typedef struct seg_time_entry {
	int64_t ts;         /* largest timestamp in the segment up to and including this batch */
	int32_t rel;        /* relative base offset of that batch */
} seg_time_entry_t;

typedef struct segment {
	int64_t base_offset;
	int64_t next_offset;      /* offset after the last batch (== base when empty) */
	int64_t size;             /* bytes of valid batches; appends go here */
	int64_t max_timestamp;    /* -1 when empty */
	int64_t first_timestamp;  /* max timestamp of the first batch, for segment_ms; -1 */
	int64_t opened_ms;        /* wall clock when this process created or opened it */
	int     sparse;           /* a compacted log's segment (log_compact): offsets
	                             increase but may skip (gaps between and inside
	                             batches, empty batches); else contiguous */
	int     fd, index_fd, time_fd;
	char   *path;             /* ".../<base>.log"; index paths derive from it */

	seg_index_entry_t *idx;  size_t nidx, capidx, idx_persisted;
	seg_time_entry_t  *tidx; size_t ntidx, captidx, tidx_persisted;
	int64_t bytes_since_index;  /* data appended since the last index entry */
} segment_t;

/* Create an empty segment at base_offset in dir (files truncated). */
int segment_create(const char *dir, int64_t base_offset, int sparse, segment_t **out,
                   char *err, size_t errlen);

/*
 * The compaction's new segment (log_compact): files named
 * <base>.cleaned.log / .cleaned.index / .cleaned.timeindex, which the log's
 * recovery deletes unless the swap that installs them was committed.
 * Sparse. segment_set_path renames nothing: it records the name the data
 * file has after the log renamed it (<base>.log).
 */
#define SEGMENT_CLEANED_EXT ".cleaned.log"
int segment_create_cleaned(const char *dir, int64_t base_offset, segment_t **out,
                           char *err, size_t errlen);
int segment_set_path(segment_t *seg, const char *dir, char *err, size_t errlen);

/* seg->path with ".log" replaced by ext ("index" siblings); -1 when too long. */
int segment_sibling_path(const segment_t *seg, const char *ext, char *out, size_t n);

/*
 * Open an existing segment. With full_scan, every batch is validated
 * (length, CRC, contiguous offsets from base_offset), indexes are rebuilt
 * from the scan and a bad tail is cut off; *truncated_out says whether the
 * file was cut (the log must then drop every later segment). Without
 * full_scan, the index files are loaded and checked, and only the tail after
 * the last index entry is read (headers only); indexes that fail the check
 * are rebuilt by a full scan.
 */
int segment_open(const char *dir, int64_t base_offset, int full_scan,
                 int index_interval, int sparse, int *truncated_out, segment_t **out,
                 char *err, size_t errlen);

/* Close descriptors and free; with persist, write pending index entries first. */
void segment_close(segment_t *seg, int persist);

/* Close and unlink the segment's three files. */
void segment_delete(segment_t *seg);

/*
 * Record in the in-memory indexes that `len` bytes of validated batches (buf)
 * were written at file position seg->size, and advance size, next_offset,
 * timestamps. Hot path: no allocation unless an index array must grow.
 */
int segment_note_append(segment_t *seg, const uint8_t *buf, size_t len,
                        int index_interval);

/* Append index entries not yet in the files. */
int segment_persist_index(segment_t *seg, char *err, size_t errlen);

/* Floor lookups in the in-memory indexes (memory only, caller holds the log lock). */
int32_t segment_index_floor(const segment_t *seg, int64_t offset);   /* file position */
int64_t segment_time_floor(const segment_t *seg, int64_t ts);        /* offset to start scanning */

/*
 * Header scanning over a descriptor without the log lock: a small buffered
 * reader of batch headers between [pos, end).
 */
typedef struct seg_reader {
	int     fd;
	int     sparse;     /* accept compacted headers (record_count <= last delta + 1) */
	off_t   end;
	off_t   buf_off;
	size_t  buf_len;
	uint8_t buf[16384];
} seg_reader_t;

void seg_reader_init(seg_reader_t *r, int fd, off_t end, int sparse);
/* Decode the batch header at pos. Returns 0, STRAND_EAGAIN at end (no whole
 * header before end, or the batch runs past end), STRAND_ECORRUPT, STRAND_EIO. */
int seg_reader_header(seg_reader_t *r, off_t pos, batch_header_t *h,
                      char *err, size_t errlen);

/*
 * Cut the segment at file position pos (a batch boundary) whose batch
 * starts at offset next_offset: file, indexes and timestamps follow.
 */
int segment_truncate(segment_t *seg, off_t pos, int64_t next_offset,
                     char *err, size_t errlen);

/* fdatasync the data file. */
int segment_sync(int fd, char *err, size_t errlen);

#endif
