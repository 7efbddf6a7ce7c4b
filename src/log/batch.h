/*
 * batch.h — Kafka RecordBatch v2 (magic 2): the unit strand stores and sends.
 *
 * Batches are kept on disk exactly as they travel (docs/FORMAT.md gives every
 * byte). All integers in the header are big-endian; records inside use
 * zig-zag varints. The CRC32C covers the bytes from `attributes` (offset 21)
 * to the end of the batch, so the broker may rewrite base offset and
 * partition leader epoch without recomputing it.
 *
 * Header layout (61 bytes):
 *   0 base_offset int64 | 8 batch_length int32 (bytes after this field)
 *  12 partition_leader_epoch int32 | 16 magic int8 (=2) | 17 crc uint32
 *  21 attributes int16 | 23 last_offset_delta int32 | 27 base_timestamp int64
 *  35 max_timestamp int64 | 43 producer_id int64 | 51 producer_epoch int16
 *  53 base_sequence int32 | 57 record_count int32 | 61 records...
 *
 * Nothing here allocates except batch_builder_*, whose buffer is reused
 * across batches (no allocation per record once it has grown).
 */
#ifndef STRAND_BATCH_H
#define STRAND_BATCH_H

#include <stddef.h>
#include <stdint.h>

#define BATCH_HEADER_SIZE    61
#define BATCH_LOG_OVERHEAD   12   /* base_offset + batch_length: bytes not counted in batch_length */
#define BATCH_MAGIC          2
#define BATCH_CRC_START      21   /* CRC32C covers [21, 12 + batch_length) */

/* attributes bits (Kafka): 0-2 compression, 3 timestamp type, 4 transactional, 5 control */
#define BATCH_ATTR_COMPRESSION_MASK 0x07
#define BATCH_ATTR_LOG_APPEND_TIME  0x08
#define BATCH_ATTR_TRANSACTIONAL    0x10
#define BATCH_ATTR_CONTROL          0x20

typedef struct batch_header {
	int64_t  base_offset;
	int32_t  batch_length;      /* bytes after the batch_length field */
	int32_t  leader_epoch;      /* partition_leader_epoch */
	int8_t   magic;
	uint32_t crc;
	int16_t  attributes;
	int32_t  last_offset_delta;
	int64_t  base_timestamp;
	int64_t  max_timestamp;
	int64_t  producer_id;       /* -1: none */
	int16_t  producer_epoch;    /* -1: none */
	int32_t  base_sequence;     /* -1: none */
	int32_t  record_count;
} batch_header_t;

/* Size of the whole batch on disk, from its header. */
static inline size_t batch_total_size(const batch_header_t *h)
{
	return (size_t)h->batch_length + BATCH_LOG_OVERHEAD;
}

/* Last offset covered by the batch. */
static inline int64_t batch_last_offset(const batch_header_t *h)
{
	return h->base_offset + h->last_offset_delta;
}

/*
 * Decode the 61-byte header at buf (len bytes available). Checks only what
 * the header alone can show: len >= 61, magic == 2, batch_length within
 * [49, max_batch_bytes] (pass 0 for no upper bound), record_count >= 0,
 * last_offset_delta >= 0. Does not check the CRC or the records.
 * Returns 0, STRAND_EAGAIN when len < BATCH_HEADER_SIZE, or STRAND_ECORRUPT.
 */
int batch_header_decode(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                        batch_header_t *out, char *err, size_t errlen);

/*
 * Validate one whole batch at buf (len >= its total size): header as above,
 * CRC32C, compression = none (strand stores uncompressed batches; others get
 * STRAND_EINVAL), records that parse exactly to the batch end, record_count
 * records whose offset deltas are 0,1,2,...; last_offset_delta == count - 1;
 * every timestamp_delta such that base_timestamp + delta <= max_timestamp;
 * base_offset + last_offset_delta within int64.
 * On success fills *out (may be NULL). Returns 0, STRAND_EAGAIN when len is
 * shorter than the batch, STRAND_ECORRUPT or STRAND_EINVAL (compressed).
 */
int batch_validate(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                   batch_header_t *out, char *err, size_t errlen);

/*
 * batch_validate for a batch of a compacted log (log_compact, Kafka's log
 * cleaner): the cleaner removes records but keeps the batch's base offset,
 * last_offset_delta and every kept record's offset delta, so offsets are
 * preserved and gaps appear. Accepted besides what batch_validate accepts:
 * record_count from 0 (an empty batch the cleaner kept so that its segment
 * still ends where the next begins) to last_offset_delta + 1, and offset
 * deltas strictly increasing within [0, last_offset_delta]. For the batches
 * of compacted logs only (a follower's copy, recovery): producers' batches
 * go through batch_validate.
 */
int batch_validate_compacted(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                             batch_header_t *out, char *err, size_t errlen);

/*
 * After the cleaner rewrote a batch's records (len bytes in all, the
 * header's other fields kept): set batch_length, record_count and the CRC.
 */
void batch_set_records(uint8_t *batch, size_t len, int32_t record_count);

/* Rewrite fields outside the CRC scope in place. */
void batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void batch_set_leader_epoch(uint8_t *batch, int32_t leader_epoch);

/*
 * Rewrite the idempotent-producer fields of a finished batch (total size
 * len) and recompute its CRC: a client that gets a new producer id sends
 * its unacknowledged batches again under the new id and sequences.
 */
void batch_set_producer(uint8_t *batch, size_t len, int64_t producer_id,
                        int16_t producer_epoch, int32_t base_sequence);

/* ---- reading records ---------------------------------------------------- */

typedef struct batch_record {
	int64_t        offset;        /* base_offset + offset_delta */
	int64_t        timestamp;     /* base_timestamp + timestamp_delta */
	const uint8_t *key;           /* NULL when key_len == -1 */
	int32_t        key_len;       /* -1: null key */
	const uint8_t *value;         /* NULL when value_len == -1 */
	int32_t        value_len;     /* -1: null value */
	const uint8_t *headers;       /* raw header section, read with batch_header_iter */
	size_t         headers_len;
	int32_t        header_count;
} batch_record_t;

typedef struct batch_iter {
	const uint8_t *p, *end;
	int64_t base_offset, base_timestamp;
	int32_t remaining;
} batch_iter_t;

/*
 * Iterate the records of a batch that batch_validate accepted (or that came
 * from the log, which only stores validated batches). Pointers in records
 * borrow from the batch buffer.
 * batch_iter_next returns 1 with *rec filled, 0 at the end, STRAND_ECORRUPT.
 */
int batch_iter_init(batch_iter_t *it, const uint8_t *batch, size_t len);
int batch_iter_next(batch_iter_t *it, batch_record_t *rec);

typedef struct batch_rec_header {
	const uint8_t *key;   int32_t key_len;
	const uint8_t *value; int32_t value_len;   /* -1: null */
} batch_rec_header_t;

typedef struct batch_header_iter {
	const uint8_t *p, *end;
	int32_t remaining;
} batch_header_iter_t;

void batch_header_iter_init(batch_header_iter_t *it, const batch_record_t *rec);
/* Returns 1 with *h filled, 0 at the end, STRAND_ECORRUPT. */
int  batch_header_iter_next(batch_header_iter_t *it, batch_rec_header_t *h);

/* ---- building batches --------------------------------------------------- */

typedef struct batch_builder {
	uint8_t *buf;          /* owned; grows, reused after batch_builder_reset */
	size_t   len, cap;
	size_t   start;        /* where the current batch begins in buf */
	int32_t  count;
	int64_t  base_timestamp, max_timestamp;
	int64_t  producer_id;
	int16_t  producer_epoch;
	int32_t  base_sequence;
} batch_builder_t;

typedef struct batch_kv {
	const uint8_t *key;   int32_t key_len;     /* key_len -1: null */
	const uint8_t *value; int32_t value_len;
} batch_kv_t;

void batch_builder_init(batch_builder_t *b);
/* Frees the buffer. */
void batch_builder_free(batch_builder_t *b);
/* Drop every batch built so far; keeps the buffer. */
void batch_builder_reset(batch_builder_t *b);

/*
 * Start a new batch after whatever is already in the buffer (several batches
 * may be built back to back). producer_id -1 etc. for a non-idempotent batch.
 * A batch begun and not finished is dropped first. Returns 0 or STRAND_ENOMEM.
 */
int batch_builder_begin(batch_builder_t *b, int64_t producer_id,
                        int16_t producer_epoch, int32_t base_sequence);

/*
 * Append one record (timestamp in ms). headers may be NULL when nheaders is 0.
 * The first record's timestamp becomes base_timestamp; a later record with a
 * smaller timestamp is stored with a negative delta, as Kafka allows.
 * Returns 0, STRAND_ENOMEM, STRAND_EINVAL (no batch begun, a length below -1,
 * a NULL pointer with a positive length, a null header key, nheaders < 0,
 * or a timestamp delta overflowing int64),
 * or STRAND_ETOOBIG (the batch would pass INT32_MAX bytes). On error the
 * batch is unchanged.
 */
int batch_builder_add(batch_builder_t *b, int64_t timestamp,
                      const uint8_t *key, int32_t key_len,
                      const uint8_t *value, int32_t value_len,
                      const batch_kv_t *headers, int32_t nheaders);

/*
 * Finish the current batch: fills count, deltas, timestamps, length and CRC.
 * base_offset is written as 0 and leader epoch as -1 (the log assigns them).
 * An empty batch (no records) is dropped and STRAND_EINVAL returned, as is
 * a finish with no batch begun.
 * *size_out (may be NULL) gets the batch's total size.
 */
int batch_builder_finish(batch_builder_t *b, size_t *size_out);

/* Size in bytes of what the current (unfinished) batch would occupy. */
size_t batch_builder_pending_size(const batch_builder_t *b);

#endif
