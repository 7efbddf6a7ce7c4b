/*
 * follower.c — a broker as the follower of a partition (follower.h): the
 * truncation rule of KIP-279.
 */
#include "broker/follower.h"

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* ---- truncation (KIP-101, KIP-279) ------------------------------------------ */

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
