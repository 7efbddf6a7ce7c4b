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
