/*
 * producer.h — idempotent producers (Kafka KIP-98): one partition's table
 * of producer state, and the sequence and epoch rules that decide whether
 * a batch is appended, answered as a duplicate, or refused.
 *
 * A batch is idempotent when its header's producer_id is >= 0; it then
 * carries producer_epoch and base_sequence (docs/FORMAT.md). Per partition
 * and producer the table keeps the epoch and the last PRODUCER_BATCHES_KEPT
 * batches (first and last sequence, first and last offset), as Kafka's
 * ProducerStateEntry does. The rules, as Kafka's ProducerAppendInfo:
 *   - an epoch older than the one seen here: STRAND_EFENCED;
 *   - the same epoch, sequences equal to one of the kept batches: a
 *     duplicate (a retry whose answer was lost): not appended again, the
 *     original's offsets are the answer;
 *   - the same epoch: base_sequence must be the last sequence + 1
 *     (sequences wrap from INT32_MAX to 0), else STRAND_ESEQUENCE;
 *   - a newer epoch (the producer bumped it, KIP-360): base_sequence must
 *     be 0, else STRAND_ESEQUENCE; the older epoch is fenced from then on;
 *   - no state for the producer (its first batch here, or its state left
 *     with the log's old segments or expired): any sequence is accepted, as
 *     Kafka does since KIP-360.
 * The state is derived from the log alone (the headers of the stored
 * batches), so the broker rebuilds it at open by scanning the log, and
 * drops producers whose last batch fell below the log start offset.
 *
 * Threading: a table is not thread-safe by itself; producer_table_lock
 * serialises a check, the append it allows and the record that follows.
 */
#ifndef STRAND_PRODUCER_H
#define STRAND_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "log/batch.h"

/* Batches kept per producer and partition: Kafka's NumBatchesToRetain, which
 * is also why a producer may have at most 5 requests in flight. */
#define PRODUCER_BATCHES_KEPT 5

typedef struct producer_table producer_table_t;

/* One stored batch of a producer. */
typedef struct producer_batch_meta {
	int32_t first_seq, last_seq;
	int64_t first_offset, last_offset;
} producer_batch_meta_t;

/* 0 or STRAND_ENOMEM. Free with producer_table_free (NULL is a no-op). */
int  producer_table_new(producer_table_t **out);
void producer_table_free(producer_table_t *t);

void producer_table_lock(producer_table_t *t);
void producer_table_unlock(producer_table_t *t);

/*
 * Judge batch h (its header as sent) against the table (lock held).
 * Returns 0 (append it; also for a batch with producer_id -1),
 * 1 (a duplicate: *dup gets the original batch, nothing is to be appended),
 * STRAND_EFENCED, STRAND_ESEQUENCE, or STRAND_EINVAL (producer_id >= 0 with a
 * negative epoch or base sequence, or producer_id < -1). err says why.
 */
int producer_table_check(const producer_table_t *t, const batch_header_t *h,
                         producer_batch_meta_t *dup, char *err, size_t errlen);

/*
 * Make room for one more producer, so that the producer_table_record after
 * an append cannot fail. Lock held. Returns 0 or STRAND_ENOMEM.
 */
int producer_table_reserve(producer_table_t *t);

/*
 * Note an appended (or, at open, a stored) batch whose header h carries
 * the offset it was given. Batches without a producer id, and batches from
 * an epoch older than the producer's, are ignored. Lock held.
 * Returns 0 or STRAND_ENOMEM (the table is unchanged; never after
 * producer_table_reserve).
 */
int producer_table_record(producer_table_t *t, const batch_header_t *h);

/*
 * Forget producers whose last batch ends below log_start_offset (retention
 * deleted it: a rebuild from the log would not know them either) or whose
 * last batch's max timestamp is below min_timestamp (Kafka's
 * producer.id.expiration.ms; pass INT64_MIN for none). Lock held.
 * Returns how many were forgotten.
 */
size_t producer_table_expire(producer_table_t *t, int64_t log_start_offset,
                             int64_t min_timestamp);

/*
 * A partition's producer table rebuilt from the headers of its stored
 * batches (the log is the only record of it): at open, and after a
 * follower's truncation removed batches. Reads the log (I/O), so no table
 * lock is involved: the caller installs the result with
 * producer_table_replace. *out is new; free with producer_table_free.
 * Returns 0, STRAND_ENOMEM, log_scan_headers' STRAND_EIO/STRAND_ECORRUPT.
 */
struct log;
int producer_table_load(struct log *log, producer_table_t **out, char *err, size_t errlen);

/*
 * Give dst src's producers (dst's lock held; src is not shared), and src
 * dst's old ones, for the caller to free with src. O(1): pointers swap.
 */
void producer_table_replace(producer_table_t *dst, producer_table_t *src);

/* Producers known (lock held). */
size_t producer_table_count(const producer_table_t *t);

/* Kafka's sequence arithmetic: seq + n, wrapping past INT32_MAX to 0. */
int32_t producer_sequence_add(int32_t seq, int32_t n);

#endif
