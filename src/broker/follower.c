/*
 * follower.c — a broker as the follower of a partition (follower.h):
 * appending what the leader sent, truncating to the leader's log (the
 * KIP-279 rule), and keeping the partition's idempotent-producer state and
 * high watermark true to the log after either.
 *
 * Only the fetcher (src/cluster/fetcher.c, one thread) calls the append and
 * the truncation, and only while this broker follows the partition, so they
 * never race each other; a leader append is refused meanwhile
 * (broker_append in cluster mode), and readers cope with truncation
 * (log.h). Both hold the read side of the partition's fence (replica.c),
 * as a leader append does, so that neither lands after a change of
 * leadership made this broker the leader. No other lock is held across
 * I/O: the producer table's lock is taken
 * for the in-memory record after the append and for the pointer swap after
 * a rebuild.
 */
#include "broker/follower.h"

#include <inttypes.h>
#include <stdio.h>

#include "broker/broker_internal.h"
#include "broker/producer.h"
#include "common/clock.h"
#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* The partition's log, when this broker follows it now. */
static int follower_log(broker_t *b, topic_t *t, int32_t p, log_t **log,
                        char *err, size_t errlen)
{
	replica_role_t role = REPLICA_NONE;

	*log = topic_partition_log(t, p);
	if (*log == NULL)
		return strand_err_set(err, errlen, STRAND_ENOENT, "topic %s has no partition %d",
		                      topic_name(t), (int)p);
	broker_partition_get_state(b, topic_name(t), p, NULL, &role);
	if (role != REPLICA_FOLLOWER)
		return strand_err_set(err, errlen, STRAND_ENOTLEADER,
		                      "this broker does not follow %s/%d now", topic_name(t), (int)p);
	return 0;
}

/* follower_log, holding the fence (replica_follow_begin) when it returns 0:
 * what it writes cannot land after this broker became the leader. */
static int follower_log_fenced(broker_t *b, topic_t *t, int32_t p, log_t **log,
                               char *err, size_t errlen)
{
	*log = topic_partition_log(t, p);
	if (*log == NULL)
		return strand_err_set(err, errlen, STRAND_ENOENT, "topic %s has no partition %d",
		                      topic_name(t), (int)p);
	return replica_follow_begin(b, t, p, err, errlen);
}

/* ---- append ------------------------------------------------------------------ */

/* Note the idempotent batches of buf (validated, appended) in the producer table. */
static void producers_note(producer_table_t *pt, const uint8_t *buf, size_t len)
{
	batch_header_t h;
	int locked = 0;

	for (size_t off = 0; off < len; off += batch_total_size(&h)) {
		(void)batch_header_decode(buf + off, len - off, 0, &h, NULL, 0);
		if (h.producer_id < 0)
			continue;
		if (!locked) {
			producer_table_lock(pt);
			locked = 1;
		}
		/* out of memory loses this producer's dedup window here only: it
		 * starts afresh at its next batch, as after expiration */
		(void)producer_table_record(pt, &h);
	}
	if (locked)
		producer_table_unlock(pt);
}

/* Hot path: one log_append_replica, a header walk, the HW. */
int broker_follower_append(broker_t *b, topic_t *t, int32_t p, const uint8_t *buf,
                           size_t len, int64_t leader_hw, char *err, size_t errlen)
{
	log_t *log;
	int rc;

	rc = follower_log_fenced(b, t, p, &log, err, errlen);
	if (rc)
		return rc;
	if (len > 0)
		rc = log_append_replica(log, buf, len, NULL, err, errlen);
	if (rc == 0 && len > 0)
		producers_note(topic_partition_producers(t, p), buf, len);
	if (rc == 0)
		replica_follower_hw(b, t, p, leader_hw);
	replica_follow_end(t, p);
	return rc;
}

/* ---- truncation (KIP-101, KIP-279) ------------------------------------------ */

/*
 * After batches left the log: the producers' last batches may be gone, so
 * read them back from the log (headers only, no lock held), then swap the
 * table in; Kafka reloads its producer-state snapshot at or below the
 * truncation point the same way. The HW never stays above the LEO.
 */
static int after_cut(broker_t *b, topic_t *t, int32_t p, log_t *log, int64_t hw,
                     char *err, size_t errlen)
{
	producer_table_t *fresh = NULL, *pt;
	int rc;

	rc = producer_table_load(log, &fresh, err, errlen);
	if (rc)
		return rc;
	pt = topic_partition_producers(t, p);
	producer_table_lock(pt);
	producer_table_replace(pt, fresh);
	producer_table_unlock(pt);
	producer_table_free(fresh);
	replica_follower_hw(b, t, p, hw);
	return 0;
}

int broker_follower_truncate(broker_t *b, topic_t *t, int32_t p, int64_t offset,
                             char *err, size_t errlen)
{
	log_t *log;
	int rc;

	rc = follower_log_fenced(b, t, p, &log, err, errlen);
	if (rc)
		return rc;
	if (offset < log_end_offset(log)) {
		fprintf(stderr, "strand: [%" PRId64 "] follower: %s/%d: truncating from %" PRId64
		        " to %" PRId64 " (hw %" PRId64 ")\n", clock_now_ms(), topic_name(t), (int)p,
		        log_end_offset(log), offset, replica_hw(b, t, p));
		rc = log_truncate_to(log, offset, err, errlen);
		if (rc == 0)
			rc = after_cut(b, t, p, log, replica_hw(b, t, p), err, errlen);
	}
	replica_follow_end(t, p);
	return rc;
}

int broker_follower_restart(broker_t *b, topic_t *t, int32_t p, int64_t offset,
                            char *err, size_t errlen)
{
	log_t *log;
	int rc;

	rc = follower_log_fenced(b, t, p, &log, err, errlen);
	if (rc)
		return rc;
	if (offset <= log_end_offset(log)) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL,
		                    "a restart at %" PRId64 " is not past the log end %" PRId64,
		                    offset, log_end_offset(log));
		goto out;
	}
	fprintf(stderr, "strand: [%" PRId64 "] follower: %s/%d: emptying the log (end %" PRId64
	        ") to restart at the leader's log start %" PRId64 "\n", clock_now_ms(), topic_name(t),
	        (int)p, log_end_offset(log), offset);
	rc = log_truncate_fully(log, offset, err, errlen);
	if (rc == 0)
		rc = after_cut(b, t, p, log, offset, err, errlen);
out:
	replica_follow_end(t, p);
	return rc;
}

int broker_follower_truncation_round(broker_t *b, topic_t *t, int32_t p,
                                     int32_t leader_epoch, int64_t leader_end, int *done,
                                     int64_t *fetch_offset, char *err, size_t errlen)
{
	follower_truncation_t tr;
	int32_t local_epoch = -1;
	int64_t local_end = -1;
	log_t *log;
	int rc;

	rc = follower_log(b, t, p, &log, err, errlen);
	if (rc)
		return rc;
	if (leader_epoch >= 0)
		log_epoch_end_offset(log, leader_epoch, &local_epoch, &local_end);
	follower_truncation_step(leader_epoch, leader_end, local_epoch, local_end,
	                         log_end_offset(log), replica_hw(b, t, p), &tr);
	fprintf(stderr, "strand: [%" PRId64 "] follower: %s/%d: leader's epoch %" PRId32 " ends at %"
	        PRId64 ", here epoch %" PRId32 " ends at %" PRId64 "; leo %" PRId64 " hw %" PRId64
	        ": cut to %" PRId64 "%s\n", clock_now_ms(), topic_name(t), (int)p, leader_epoch,
	        leader_end, local_epoch, local_end, log_end_offset(log), replica_hw(b, t, p),
	        tr.offset, tr.done ? "" : ", another round");
	rc = broker_follower_truncate(b, t, p, tr.offset, err, errlen);
	if (rc)
		return rc;
	*done = tr.done;
	if (fetch_offset != NULL)
		*fetch_offset = log_end_offset(log);
	return 0;
}

void follower_truncation_step(int32_t leader_epoch, int64_t leader_end,
                              int32_t local_epoch, int64_t local_end,
                              int64_t leo, int64_t hw, follower_truncation_t *out)
{
	out->done = 1;
	if (leader_epoch < 0 || leader_end < 0) {
		/* nothing to compare epochs with: keep what was committed */
		out->offset = min64(hw, leo);
	} else if (local_epoch == leader_epoch) {
		/* the same epoch on both sides: equal up to where the shorter ends */
		out->offset = min64(min64(leader_end, local_end), leo);
	} else if (local_epoch < 0) {
		/* no local epoch at or below the leader's (cannot happen with a
		 * log_epoch_end_offset that knows any epoch): the leader's end */
		out->offset = min64(leader_end, leo);
	} else {
		/* the follower never saw leader_epoch: what it wrote after
		 * local_epoch came from leaders the current one does not follow */
		out->offset = min64(local_end, leo);
		out->done = 0;
	}
}
