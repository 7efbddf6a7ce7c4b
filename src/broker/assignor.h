/*
 * assignor.h — partition assignment strategies of consumer groups (Kafka's
 * partition.assignment.strategy): range, roundrobin and sticky. Pure
 * functions over indexes, no strings and no locks, so the group
 * coordinator (group.c) can run them under its lock and tests can check
 * them exhaustively.
 *
 * Partitions are numbered globally: topic t's partition p is
 * base[t] + p, where base[t] is the sum of the partition counts of the
 * topics before t. Members are numbered 0..nmembers-1 in member-id order
 * (range and roundrobin follow that order, as Kafka's assignors sort
 * member ids).
 */
#ifndef STRAND_ASSIGNOR_H
#define STRAND_ASSIGNOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum group_assignor {
	GROUP_ASSIGNOR_RANGE = 0,    /* per topic, contiguous ranges (Kafka's default RangeAssignor) */
	GROUP_ASSIGNOR_ROUNDROBIN,   /* all partitions dealt one by one */
	GROUP_ASSIGNOR_STICKY,       /* balanced, keeping as many previous owners as it can */
} group_assignor_t;

/* "range" -> GROUP_ASSIGNOR_RANGE ...; -1 for an unknown name. */
int assignor_from_name(const char *name);
const char *assignor_name(group_assignor_t kind);

typedef struct assignor_input {
	size_t         ntopics;
	const int32_t *partitions;   /* per topic: partition count (0: topic gone) */
	size_t         nmembers;
	const uint8_t *subscribed;   /* nmembers x ntopics, row-major: 1 = member subscribes */
	const int32_t *previous;     /* per global partition: previous owner or -1; NULL: none.
	                                Only sticky reads it. */
} assignor_input_t;

/* Total partitions of the input (the length of owner arrays). */
size_t assignor_total(const assignor_input_t *in);

/*
 * Assign every partition of every topic some member subscribes to:
 * owner[i] = member index, or -1 when no member subscribes to the topic.
 * Each partition gets exactly one owner (the group's central rule).
 * Sticky: the counts of members with the same subscriptions differ by at
 * most one, and among such balanced assignments it moves few partitions
 * away from their previous owner.
 * owner has assignor_total(in) entries. Returns 0, STRAND_ENOMEM,
 * STRAND_EINVAL (unknown kind).
 */
int assignor_run(group_assignor_t kind, const assignor_input_t *in, int32_t *owner);

#endif
