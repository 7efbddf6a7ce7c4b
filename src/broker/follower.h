/*
 * follower.h — a broker as the follower of a partition (docs/REPLICATION.md,
 * issue 10): appending what it fetched from the leader, and truncating its
 * log where it diverges from the leader's before fetching (KIP-101, KIP-279).
 * The fetch loop itself (HTTP, one long poll per leader) is
 * src/cluster/fetcher.c; this is the engine side, no HTTP.
 *
 * Truncation, as Kafka's AbstractFetcherThread does it since KIP-279:
 *   1. the follower asks the leader for the end of its latest local epoch E
 *      (POST /v1/internal/replica/epoch_end, the leader's
 *      log_epoch_end_offset): the answer is (E', O), E' the largest epoch
 *      <= E the leader knows and O where E' ends in the leader's log;
 *   2. the follower looks up E' in its own log: (F, Of) = its
 *      log_epoch_end_offset(E');
 *   3. F == E': both logs agree up to min(O, Of): truncate there, done;
 *      F <  E': the follower never had E', so everything it wrote after F
 *      is suspect: truncate to min(Of, LEO) (which drops every epoch
 *      above F) and go back to 1 with its new latest epoch.
 *   A log with no epoch at all (empty) truncates to its high watermark
 *   (Kafka's rule before KIP-101), as does a leader that knows no epoch.
 * Every round strictly lowers the epoch asked about, so it ends; two quick
 * leadership changes (a follower that led an epoch the new leader never
 * saw) take two rounds instead of leaving the logs diverged (KIP-279).
 */
#ifndef STRAND_BROKER_FOLLOWER_H
#define STRAND_BROKER_FOLLOWER_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct topic;

/*
 * Append batches fetched from the partition's leader (log_append_replica:
 * offsets and epochs as the leader stored them; len 0 appends nothing),
 * note their idempotent producers (producer.h) so that this replica can
 * judge retries if it becomes leader, then set the high watermark to
 * min(leader_hw, LEO) (fires the append hook when it moved, which wakes
 * readers). Only while this broker follows the partition.
 * Returns 0, STRAND_ENOENT (no such partition), STRAND_ENOTLEADER (this
 * broker is not a follower of it now: nothing appended),
 * log_append_replica's codes (nothing appended).
 */
int broker_follower_append(struct broker *b, struct topic *t, int32_t p,
                           const uint8_t *buf, size_t len, int64_t leader_hw,
                           char *err, size_t errlen);

/*
 * Truncate the partition's log to offset (log_truncate_to: the batch
 * holding offset goes whole), rebuild its idempotent-producer state from
 * what remains, and lower the high watermark to the new LEO if it was
 * above. Returns 0, STRAND_ENOENT, STRAND_ENOTLEADER (not a follower now:
 * nothing cut), log_truncate_to's and producer_table_load's codes.
 */
int broker_follower_truncate(struct broker *b, struct topic *t, int32_t p,
                             int64_t offset, char *err, size_t errlen);

/*
 * Empty the partition's log and restart it at offset, past its end
 * (log_truncate_fully): the leader's log starts there, retention having
 * deleted what this replica lacks (the leader's OFFSET_OUT_OF_RANGE with
 * its log start above this LEO; Kafka's truncateFullyAndStartAt). The
 * producer state empties and the high watermark becomes offset.
 * Returns 0, STRAND_ENOENT, STRAND_ENOTLEADER, STRAND_EINVAL (offset not
 * past the LEO), log_truncate_fully's codes.
 */
int broker_follower_restart(struct broker *b, struct topic *t, int32_t p,
                            int64_t offset, char *err, size_t errlen);

/*
 * One truncation round on the partition (the rule below) given the
 * leader's epoch_end answer (leader_epoch, leader_end), or (-1, -1) when
 * the log has no epoch to ask about (log_latest_epoch < 0): looks the
 * answer up in the local log, truncates with broker_follower_truncate, and
 * says in *done whether fetching may start (else ask again about the new
 * log_latest_epoch). *fetch_offset (may be NULL) gets the LEO after it.
 * Returns broker_follower_truncate's codes.
 */
int broker_follower_truncation_round(struct broker *b, struct topic *t, int32_t p,
                                     int32_t leader_epoch, int64_t leader_end, int *done,
                                     int64_t *fetch_offset, char *err, size_t errlen);

/* What one truncation round decided. */
typedef struct follower_truncation {
	int64_t offset;   /* truncate the log to this offset (>= LEO: nothing to cut) */
	int     done;     /* 1: fetch from offset now; 0: truncate, then ask the
	                     leader again about the log's new latest epoch */
} follower_truncation_t;

/*
 * One round of the truncation above, as a pure function.
 * leader_epoch, leader_end: the leader's answer (E', O); (-1, -1) when the
 * leader knows no epoch <= the one asked, or when the follower had no
 * epoch to ask about. local_epoch, local_end: the follower's own
 * log_epoch_end_offset(leader_epoch). leo, hw: the follower's log end
 * offset and high watermark.
 */
void follower_truncation_step(int32_t leader_epoch, int64_t leader_end,
                              int32_t local_epoch, int64_t local_end,
                              int64_t leo, int64_t hw, follower_truncation_t *out);

#endif
