/*
 * group.h — the group coordinator: consumer group membership, generations,
 * rebalancing, assignment, fencing and member fetch positions (Kafka's
 * GroupCoordinator, classic protocol). No HTTP and no threads here: a pure
 * state machine under one mutex, driven by calls that each carry the time
 * (now_ms, a monotonic clock in milliseconds), so tests run it with a fake
 * clock. The broker owns one (broker_groups) and ticks it; api/ turns its
 * answers into HTTP and parks the requests that must wait.
 *
 * States (Kafka's names):
 *   Empty                no members (committed offsets may exist)
 *   PreparingRebalance   a rebalance started (join, leave, expiry, changed
 *                        subscription or partition count): waiting until
 *                        every member has (re)joined, or the rebalance
 *                        deadline (start + the largest rebalance_timeout_ms)
 *                        passes; members that did not rejoin are dropped
 *   CompletingRebalance  the new generation and its assignment are
 *                        computed; members collect them (their parked join
 *                        is answered; Kafka's SyncGroup)
 *   Stable               every member of the generation has its assignment
 *   Dead                 deleted; the group is gone from the coordinator
 * Every completed rebalance increments the generation. The coordinator
 * computes the assignment itself (range, roundrobin, sticky: assignor.h);
 * Kafka leaves that to a client-side group leader (docs/GROUPS.md says why).
 *
 * Liveness: every member call (join, heartbeat, fetch, commit) refreshes the
 * member's session; a member not heard from for session_timeout_ms is
 * dropped and the group rebalances. A member whose join is parked, or whose
 * long poll is parked, counts as alive while it waits.
 *
 * Errors (negative STRAND_E*): STRAND_ENOMEMBER unknown (or expired)
 * member, STRAND_EGENERATION stale generation or a partition the member does
 * not own, STRAND_EREBALANCE the member must rejoin, STRAND_ENOTEMPTY the
 * group has members, STRAND_ENOENT unknown group or topic, STRAND_EINVAL bad
 * parameters, STRAND_EAGAIN a join not complete yet, STRAND_ENOMEM.
 *
 * Threading: every call is safe from any thread. The partition-count
 * callback runs with the coordinator lock held; the change hook runs
 * without it.
 */
#ifndef STRAND_GROUP_H
#define STRAND_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "broker/assignor.h"

typedef struct group_coord group_coord_t;

typedef enum group_state {
	GROUP_EMPTY = 0,
	GROUP_PREPARING_REBALANCE,
	GROUP_COMPLETING_REBALANCE,
	GROUP_STABLE,
	GROUP_DEAD,
} group_state_t;

/* "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead". */
const char *group_state_name(group_state_t s);

/* Kafka's auto.offset.reset: where a member starts on a partition without a
 * committed offset (or whose position left the log). */
typedef enum group_reset {
	GROUP_RESET_LATEST = 0,
	GROUP_RESET_EARLIEST,
} group_reset_t;

#define GROUP_MEMBER_ID_MAX      64
#define GROUP_MAX_MEMBERS        1000
#define GROUP_MAX_TOPICS         1000    /* per member subscription */
#define GROUP_SESSION_MIN_MS     100
#define GROUP_SESSION_MAX_MS     1800000 /* Kafka's group.max.session.timeout.ms */
#define GROUP_SESSION_DEFAULT_MS 45000   /* Kafka 3's session.timeout.ms */
#define GROUP_REBALANCE_DEFAULT_MS 60000

/*
 * Partition count of topic, -1 when it does not exist. Runs under the
 * coordinator lock: it must not call the coordinator.
 */
typedef int32_t (*group_partitions_fn)(void *ctx, const char *topic);

/*
 * A group changed (membership, state or generation): version is the group's
 * new change counter (it only grows). Runs without the coordinator lock, on
 * the thread that made the change. api/ wakes parked requests with it.
 */
typedef void (*group_changed_fn)(void *ctx, const char *group, uint64_t version);

/* Create a coordinator. 0 or STRAND_ENOMEM. */
int  group_coord_new(group_partitions_fn partitions, void *ctx, group_coord_t **out);
void group_coord_free(group_coord_t *gc);

/* Install (or clear, fn NULL) the change hook. */
void group_coord_set_hook(group_coord_t *gc, group_changed_fn fn, void *ctx);

/*
 * Time passes: expire sessions, end rebalances whose deadline passed,
 * start a rebalance where a subscribed topic's partition count changed
 * (created, grown, deleted). Every call below also does this for its group.
 */
void group_coord_tick(group_coord_t *gc, int64_t now_ms);

/* ---- a member's view ------------------------------------------------------ */

typedef struct group_tp {
	uint32_t topic;       /* index into group_member_info_t.topics */
	int32_t  partition;
	int64_t  position;    /* member fetch position; -1: none yet */
} group_tp_t;

typedef struct group_member_info {
	char          member_id[GROUP_MEMBER_ID_MAX];
	int32_t       generation;
	group_reset_t reset;
	int64_t       session_timeout_ms;
	char        **topics;      /* distinct topic names of parts, sorted */
	size_t        ntopics;
	group_tp_t   *parts;       /* the assignment, by topic then partition */
	size_t        nparts;
	uint64_t      version;     /* the group's change counter when this was taken */
	int64_t       wake_at_ms;  /* join pending: poll again at the latest then */
} group_member_info_t;

/* Free what a call filled in (the struct itself is the caller's). */
void group_member_info_free(group_member_info_t *info);

typedef struct group_join_params {
	const char        *member_id;        /* NULL or "": a new member */
	const char *const *topics;           /* subscription: existing topics */
	size_t             ntopics;
	int64_t            session_timeout_ms;   /* [GROUP_SESSION_MIN_MS, GROUP_SESSION_MAX_MS] */
	int64_t            rebalance_timeout_ms; /* same range */
	group_assignor_t   assignor;         /* must match the group's while it has members */
	group_reset_t      reset;
} group_join_params_t;

/*
 * Join (or rejoin) group (created if unknown). 0: the member has its
 * assignment (out filled). STRAND_EAGAIN: a rebalance is in progress and
 * the member waits for it: out->member_id, version and wake_at_ms are set;
 * call group_join_poll when the group changes or at wake_at_ms. A known
 * member rejoining a Stable group with an unchanged subscription gets its
 * current assignment without a rebalance.
 * Errors: STRAND_ENOMEMBER (member_id given but unknown: join without it),
 * STRAND_ENOENT (a topic does not exist), STRAND_EINVAL (parameters,
 * assignor differs from the group's, too many members), STRAND_ENOMEM.
 * out is filled (and must be freed) on 0 and STRAND_EAGAIN.
 */
int group_join(group_coord_t *gc, const char *group, const group_join_params_t *p,
               int64_t now_ms, group_member_info_t *out, char *err, size_t errlen);

/* A pending join: 0 done (out filled), STRAND_EAGAIN still waiting (out's
 * version/wake_at_ms refreshed), STRAND_ENOMEMBER dropped meanwhile. */
int group_join_poll(group_coord_t *gc, const char *group, const char *member_id,
                    int64_t now_ms, group_member_info_t *out);

/*
 * Heartbeat: 0 with the generation and assignment (positions included),
 * STRAND_EREBALANCE (rejoin with the member id), STRAND_ENOMEMBER.
 */
int group_heartbeat(group_coord_t *gc, const char *group, const char *member_id,
                    int64_t now_ms, group_member_info_t *out);

/*
 * Member fetch, first step: as heartbeat, and the member counts as alive
 * until wait_until_ms (its long poll) plus its session timeout.
 */
int group_fetch_begin(group_coord_t *gc, const char *group, const char *member_id,
                      int64_t now_ms, int64_t wait_until_ms, group_member_info_t *out);

/*
 * Member fetch, last step: record positions (parts of a group_fetch_begin
 * result, topics indexing info->topics) if the member still holds them in
 * generation. 0, STRAND_EREBALANCE (a rebalance began: the caller answers
 * 409 and hands out nothing), STRAND_ENOMEMBER.
 */
int group_fetch_advance(group_coord_t *gc, const char *group, const group_member_info_t *info,
                        int64_t now_ms);

/* Leave: 0 (the group rebalances, or becomes Empty), STRAND_ENOMEMBER. */
int group_leave(group_coord_t *gc, const char *group, const char *member_id, int64_t now_ms);

/*
 * Offset commit fencing. member_id NULL: a simple commit, allowed only
 * while the group has no members (else STRAND_ENOTEMPTY). Otherwise the
 * member must exist (STRAND_ENOMEMBER), generation must be its current one
 * (STRAND_EGENERATION), its assignment must be final (STRAND_EREBALANCE
 * while it has not collected a new one) and it must own every (topics[i],
 * partitions[i]) (STRAND_EGENERATION naming the partition). Message in err.
 */
int group_commit_check(group_coord_t *gc, const char *group, const char *member_id,
                       int32_t generation, const char *const *topics,
                       const int32_t *partitions, size_t n, int64_t now_ms,
                       char *err, size_t errlen);

/* The group's change counter (0 when unknown). For parked requests. */
uint64_t group_version(group_coord_t *gc, const char *group);

/* ---- views ---------------------------------------------------------------- */

typedef struct group_member_desc {
	group_member_info_t info;          /* id, generation, assignment, positions */
	char              **subscription;  /* topic names */
	size_t              nsubscription;
	int64_t             rebalance_timeout_ms;
	int                 joined;        /* rejoined the current rebalance */
} group_member_desc_t;

typedef struct group_desc {
	group_state_t        state;
	int32_t              generation;
	group_assignor_t     assignor;
	group_member_desc_t *members;      /* by member id */
	size_t               nmembers;
} group_desc_t;

/* Describe group: 0 or STRAND_ENOENT (unknown), STRAND_ENOMEM. */
int  group_describe(group_coord_t *gc, const char *group, int64_t now_ms, group_desc_t *out);
void group_desc_free(group_desc_t *d);

typedef struct group_summary {
	char          name[256];
	group_state_t state;
	int32_t       generation;
	size_t        nmembers;
} group_summary_t;

/* Every known group, sorted by name (*out: one allocation, caller frees). */
int group_list(group_coord_t *gc, int64_t now_ms, group_summary_t **out, size_t *n_out);

/*
 * Delete group (it becomes Dead and leaves the coordinator): 0,
 * STRAND_ENOTEMPTY (members remain), STRAND_ENOENT (unknown).
 */
int group_delete(group_coord_t *gc, const char *group, int64_t now_ms);

/* ---- moving between coordinators (cluster mode, offsets_log.h) ----------- */

/*
 * Forget group whatever its members (this broker stopped coordinating it):
 * parked requests wake and find no member (404 UNKNOWN_MEMBER).
 * 0 or STRAND_ENOENT.
 */
int group_coord_drop(group_coord_t *gc, const char *group);

/*
 * A group loaded from __consumer_offsets: created Empty (no members: they
 * rejoin) if unknown, its generation raised to generation so that the next
 * rebalance continues the numbering (a member of an older generation is
 * fenced). 0, STRAND_EINVAL (generation < 0), STRAND_ENOMEM.
 */
int group_coord_restore(group_coord_t *gc, const char *group, int32_t generation,
                        group_assignor_t assignor);

/*
 * The generation written to __consumer_offsets (offsets_log.h): 1 with
 * *generation when the group's current generation is newer than the last
 * one noted with group_generation_logged (or restored), else 0.
 */
int  group_generation_unlogged(group_coord_t *gc, const char *group, int32_t *generation);
void group_generation_logged(group_coord_t *gc, const char *group, int32_t generation);

#endif
