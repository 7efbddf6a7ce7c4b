/*
 * test_group.c — Check suite for the group coordinator (src/broker/group.h)
 * and the assignors (assignor.h), without HTTP and with a fake clock: the
 * state machine and generations, joins that wait for a rebalance, leave
 * and session expiry reassigning everything, rebalance timeouts dropping
 * members that do not rejoin, commit fencing, sticky assignment, and the
 * assignors' "each partition exactly one owner" rule over many shapes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/assignor.h"
#include "broker/group.h"
#include "common/err.h"

/* ---- a fake topic catalogue ------------------------------------------------ */

typedef struct catalog {
	const char *names[8];
	int32_t     counts[8];
	int         n;
} catalog_t;

static catalog_t cat;

static int32_t cat_partitions(void *ctx, const char *topic)
{
	catalog_t *c = ctx;

	for (int i = 0; i < c->n; i++)
		if (strcmp(c->names[i], topic) == 0)
			return c->counts[i];
	return -1;
}

static int hook_calls;
static uint64_t hook_version;

static void on_change(void *ctx, const char *group, uint64_t version)
{
	(void)ctx;
	(void)group;
	hook_calls++;
	hook_version = version;
}

static group_coord_t *gc;
static char err[256];

static void setup(void)
{
	memset(&cat, 0, sizeof cat);
	cat.names[0] = "orders";
	cat.counts[0] = 6;
	cat.names[1] = "clicks";
	cat.counts[1] = 3;
	cat.n = 2;
	hook_calls = 0;
	ck_assert_int_eq(group_coord_new(cat_partitions, &cat, &gc), 0);
	group_coord_set_hook(gc, on_change, NULL);
}

static void teardown(void)
{
	group_coord_free(gc);
}

static const char *const orders_only[] = { "orders" };

static group_join_params_t params(const char *member_id, group_assignor_t assignor)
{
	group_join_params_t p = { member_id, orders_only, 1, 10000, 5000, assignor,
	                          GROUP_RESET_EARLIEST };
	return p;
}

/* Join and expect rc; the member id is copied to id_out (may be NULL). */
static int join(const char *group, const char *member_id, int64_t now, group_assignor_t a,
                group_member_info_t *info, char *id_out)
{
	group_join_params_t p = params(member_id, a);
	int rc = group_join(gc, group, &p, now, info, err, sizeof err);

	if (id_out != NULL && (rc == 0 || rc == STRAND_EAGAIN))
		snprintf(id_out, GROUP_MEMBER_ID_MAX, "%s", info->member_id);
	return rc;
}

/* Describe g and check: each partition of the group's topics has exactly
 * one owner; returns the owner table (member index per orders partition). */
static void check_complete_disjoint(const char *group, int64_t now, int nparts)
{
	group_desc_t d;
	int owners[64] = { 0 };

	ck_assert_int_eq(group_describe(gc, group, now, &d), 0);
	for (size_t i = 0; i < d.nmembers; i++) {
		const group_member_info_t *m = &d.members[i].info;

		ck_assert_int_eq(m->generation, d.generation);
		for (size_t k = 0; k < m->nparts; k++)
			owners[m->parts[k].partition]++;
	}
	for (int p = 0; p < nparts; p++)
		ck_assert_msg(owners[p] == 1, "partition %d has %d owners", p, owners[p]);
	group_desc_free(&d);
}

/* ---- state machine ----------------------------------------------------------- */

START_TEST(test_first_join_completes_at_once)
{
	group_member_info_t info;
	group_desc_t d;

	ck_assert_int_eq(join("g", NULL, 1000, GROUP_ASSIGNOR_RANGE, &info, NULL), 0);
	ck_assert_int_eq(info.generation, 1);
	ck_assert_uint_eq(info.nparts, 6);
	ck_assert_str_eq(info.topics[0], "orders");
	group_member_info_free(&info);
	ck_assert_int_eq(group_describe(gc, "g", 1000, &d), 0);
	ck_assert_int_eq(d.state, GROUP_STABLE);
	ck_assert_str_eq(group_state_name(d.state), "Stable");
	group_desc_free(&d);
	ck_assert_int_gt(hook_calls, 0);
}
END_TEST

START_TEST(test_join_waits_for_rebalance_then_both_assigned)
{
	group_member_info_t a, b, hb;
	char ida[64], idb[64];
	group_desc_t d;

	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_RANGE, &a, ida), 0);
	group_member_info_free(&a);
	/* a second member: the rebalance waits for the first to rejoin */
	ck_assert_int_eq(join("g", NULL, 10, GROUP_ASSIGNOR_RANGE, &b, idb), STRAND_EAGAIN);
	ck_assert_int_eq(b.wake_at_ms, 10 + 5000);
	group_member_info_free(&b);
	ck_assert_int_eq(group_describe(gc, "g", 20, &d), 0);
	ck_assert_int_eq(d.state, GROUP_PREPARING_REBALANCE);
	group_desc_free(&d);
	/* the first learns it by heartbeat, then rejoins: both complete */
	ck_assert_int_eq(group_heartbeat(gc, "g", ida, 30, &hb), STRAND_EREBALANCE);
	ck_assert_int_eq(join("g", ida, 40, GROUP_ASSIGNOR_RANGE, &a, NULL), 0);
	ck_assert_int_eq(a.generation, 2);
	ck_assert_uint_eq(a.nparts, 3);
	ck_assert_int_eq(group_describe(gc, "g", 41, &d), 0);
	ck_assert_int_eq(d.state, GROUP_COMPLETING_REBALANCE);
	group_desc_free(&d);
	ck_assert_int_eq(group_join_poll(gc, "g", idb, 50, &b), 0);
	ck_assert_int_eq(b.generation, 2);
	ck_assert_uint_eq(b.nparts, 3);
	ck_assert_int_eq(group_describe(gc, "g", 51, &d), 0);
	ck_assert_int_eq(d.state, GROUP_STABLE);
	group_desc_free(&d);
	check_complete_disjoint("g", 60, 6);
	ck_assert_int_eq(group_heartbeat(gc, "g", ida, 70, &hb), 0);
	ck_assert_int_eq(hb.generation, 2);
	group_member_info_free(&hb);
	group_member_info_free(&a);
	group_member_info_free(&b);
}
END_TEST

START_TEST(test_rebalance_timeout_drops_members_that_do_not_rejoin)
{
	group_member_info_t a, b, hb;
	char ida[64], idb[64];

	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_RANGE, &a, ida), 0);
	group_member_info_free(&a);
	ck_assert_int_eq(join("g", NULL, 100, GROUP_ASSIGNOR_RANGE, &b, idb), STRAND_EAGAIN);
	group_member_info_free(&b);
	/* a keeps heartbeating (alive) but never rejoins */
	ck_assert_int_eq(group_heartbeat(gc, "g", ida, 3000, &hb), STRAND_EREBALANCE);
	ck_assert_int_eq(group_join_poll(gc, "g", idb, 5099, &b), STRAND_EAGAIN);
	group_member_info_free(&b);
	ck_assert_int_eq(group_join_poll(gc, "g", idb, 5100, &b), 0);
	ck_assert_uint_eq(b.nparts, 6);
	ck_assert_int_eq(b.generation, 2);
	group_member_info_free(&b);
	ck_assert_int_eq(group_heartbeat(gc, "g", ida, 5200, &hb), STRAND_ENOMEMBER);
	ck_assert_int_eq(join("g", ida, 5300, GROUP_ASSIGNOR_RANGE, &a, NULL), STRAND_ENOMEMBER);
}
END_TEST

START_TEST(test_leave_reassigns_everything)
{
	group_member_info_t info[3];
	char id[3][64];
	group_desc_t d;

	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_ROUNDROBIN, &info[0], id[0]), 0);
	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_ROUNDROBIN, &info[1], id[1]),
	                 STRAND_EAGAIN);
	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_ROUNDROBIN, &info[2], id[2]),
	                 STRAND_EAGAIN);
	for (int i = 0; i < 3; i++)
		group_member_info_free(&info[i]);
	ck_assert_int_eq(join("g", id[0], 1, GROUP_ASSIGNOR_ROUNDROBIN, &info[0], NULL), 0);
	ck_assert_uint_eq(info[0].nparts, 2);
	group_member_info_free(&info[0]);
	for (int i = 1; i < 3; i++) {
		ck_assert_int_eq(group_join_poll(gc, "g", id[i], 2, &info[i]), 0);
		group_member_info_free(&info[i]);
	}
	check_complete_disjoint("g", 2, 6);
	/* one leaves: the others rejoin and share all six */
	ck_assert_int_eq(group_leave(gc, "g", id[1], 10), 0);
	ck_assert_int_eq(group_leave(gc, "g", id[1], 10), STRAND_ENOMEMBER);
	ck_assert_int_eq(group_heartbeat(gc, "g", id[0], 11, &info[0]), STRAND_EREBALANCE);
	ck_assert_int_eq(join("g", id[0], 12, GROUP_ASSIGNOR_ROUNDROBIN, &info[0], NULL),
	                 STRAND_EAGAIN);
	group_member_info_free(&info[0]);
	ck_assert_int_eq(join("g", id[2], 13, GROUP_ASSIGNOR_ROUNDROBIN, &info[2], NULL), 0);
	ck_assert_uint_eq(info[2].nparts, 3);
	ck_assert_int_eq(info[2].generation, 3);
	group_member_info_free(&info[2]);
	ck_assert_int_eq(group_join_poll(gc, "g", id[0], 14, &info[0]), 0);
	ck_assert_uint_eq(info[0].nparts, 3);
	group_member_info_free(&info[0]);
	check_complete_disjoint("g", 15, 6);
	/* the last ones leave: Empty, with a new generation */
	ck_assert_int_eq(group_leave(gc, "g", id[0], 20), 0);
	ck_assert_int_eq(group_leave(gc, "g", id[2], 21), 0);
	ck_assert_int_eq(group_describe(gc, "g", 22, &d), 0);
	ck_assert_int_eq(d.state, GROUP_EMPTY);
	ck_assert_uint_eq(d.nmembers, 0);
	ck_assert_int_gt(d.generation, 3);
	group_desc_free(&d);
}
END_TEST

START_TEST(test_session_expiry_reassigns_everything)
{
	group_member_info_t a, b, hb;
	char ida[64], idb[64];

	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_RANGE, &a, ida), 0);
	group_member_info_free(&a);
	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_RANGE, &b, idb), STRAND_EAGAIN);
	group_member_info_free(&b);
	ck_assert_int_eq(join("g", ida, 1, GROUP_ASSIGNOR_RANGE, &a, NULL), 0);
	group_member_info_free(&a);
	ck_assert_int_eq(group_join_poll(gc, "g", idb, 1, &b), 0);
	group_member_info_free(&b);
	/* b heartbeats, a goes silent: after its 10 s session a is dropped */
	ck_assert_int_eq(group_heartbeat(gc, "g", idb, 6000, &hb), 0);
	group_member_info_free(&hb);
	ck_assert_int_eq(group_heartbeat(gc, "g", idb, 10001, &hb), STRAND_EREBALANCE);
	ck_assert_int_eq(group_heartbeat(gc, "g", ida, 10002, &hb), STRAND_ENOMEMBER);
	ck_assert_int_eq(join("g", idb, 10003, GROUP_ASSIGNOR_RANGE, &b, NULL), 0);
	ck_assert_uint_eq(b.nparts, 6);
	group_member_info_free(&b);
	/* the ticker alone expires b too: the group becomes Empty */
	group_coord_tick(gc, 30000);
	ck_assert_int_eq(group_heartbeat(gc, "g", idb, 30001, &hb), STRAND_ENOMEMBER);
}
END_TEST

START_TEST(test_fetch_keeps_a_member_alive_while_parked)
{
	group_member_info_t a, hb;
	char ida[64];

	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_RANGE, &a, ida), 0);
	group_member_info_free(&a);
	/* a long poll until 30 s: alive until 30 s + the 10 s session */
	ck_assert_int_eq(group_fetch_begin(gc, "g", ida, 1000, 30000, &a), 0);
	group_member_info_free(&a);
	group_coord_tick(gc, 39000);
	ck_assert_int_eq(group_heartbeat(gc, "g", ida, 39001, &hb), 0);
	group_member_info_free(&hb);
}
END_TEST

/* ---- fencing ------------------------------------------------------------------- */

START_TEST(test_stale_generation_commits_are_refused)
{
	const char *topics[] = { "orders" };
	int32_t p0[] = { 0 }, p5[] = { 5 }, mine[1], theirs[1];
	group_member_info_t a, b;
	char ida[64], idb[64];

	ck_assert_int_eq(group_commit_check(gc, "g", NULL, -1, topics, p0, 1, 0, err, sizeof err), 0);
	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_RANGE, &a, ida), 0);
	group_member_info_free(&a);
	ck_assert_int_eq(group_commit_check(gc, "g", ida, 1, topics, p5, 1, 1, err, sizeof err), 0);
	ck_assert_int_eq(group_commit_check(gc, "g", NULL, -1, topics, p0, 1, 1, err, sizeof err),
	                 STRAND_ENOTEMPTY);
	/* a rebalance starts: a may still commit what it owned in generation 1 */
	ck_assert_int_eq(join("g", NULL, 2, GROUP_ASSIGNOR_RANGE, &b, idb), STRAND_EAGAIN);
	group_member_info_free(&b);
	ck_assert_int_eq(group_commit_check(gc, "g", ida, 1, topics, p5, 1, 3, err, sizeof err), 0);
	ck_assert_int_eq(join("g", ida, 4, GROUP_ASSIGNOR_RANGE, &a, NULL), 0);
	/* generation 2: a owns half (range: by member id), b the other half
	 * but has not collected it yet */
	ck_assert_uint_eq(a.nparts, 3);
	mine[0] = a.parts[0].partition;
	theirs[0] = mine[0] == 0 ? 5 : 0;
	group_member_info_free(&a);
	ck_assert_int_eq(group_commit_check(gc, "g", ida, 1, topics, mine, 1, 5, err, sizeof err),
	                 STRAND_EGENERATION);
	ck_assert_int_eq(group_commit_check(gc, "g", ida, 2, topics, theirs, 1, 5, err, sizeof err),
	                 STRAND_EGENERATION);
	ck_assert_msg(strstr(err, "orders/") != NULL, "message names the partition: %s", err);
	ck_assert_int_eq(group_commit_check(gc, "g", idb, 2, topics, theirs, 1, 5, err, sizeof err),
	                 STRAND_EREBALANCE);
	ck_assert_int_eq(group_join_poll(gc, "g", idb, 6, &b), 0);
	group_member_info_free(&b);
	ck_assert_int_eq(group_commit_check(gc, "g", idb, 2, topics, theirs, 1, 7, err, sizeof err), 0);
	ck_assert_int_eq(group_commit_check(gc, "g", ida, 2, topics, mine, 1, 7, err, sizeof err), 0);
	ck_assert_int_eq(group_commit_check(gc, "g", "member-nope", 2, topics, mine, 1, 7, err,
	                                    sizeof err), STRAND_ENOMEMBER);
	ck_assert_int_eq(group_delete(gc, "g", 8), STRAND_ENOTEMPTY);
}
END_TEST

/* ---- assignment ------------------------------------------------------------------ */

START_TEST(test_sticky_keeps_assignments_when_a_member_joins)
{
	group_member_info_t info[3];
	char id[3][64];
	int before[6], after[6], kept = 0;
	group_desc_t d;

	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_STICKY, &info[0], id[0]), 0);
	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_STICKY, &info[1], id[1]), STRAND_EAGAIN);
	group_member_info_free(&info[0]);
	group_member_info_free(&info[1]);
	ck_assert_int_eq(join("g", id[0], 1, GROUP_ASSIGNOR_STICKY, &info[0], NULL), 0);
	group_member_info_free(&info[0]);
	ck_assert_int_eq(group_join_poll(gc, "g", id[1], 1, &info[1]), 0);
	group_member_info_free(&info[1]);
	ck_assert_int_eq(group_describe(gc, "g", 2, &d), 0);
	/* before[p]: which of id[0], id[1] owns p (describe lists by member id) */
	for (size_t i = 0; i < d.nmembers; i++)
		for (size_t k = 0; k < d.members[i].info.nparts; k++)
			before[d.members[i].info.parts[k].partition] =
				strcmp(d.members[i].info.member_id, id[0]) == 0 ? 0 : 1;
	group_desc_free(&d);
	/* a third member joins: each of the two gives one partition */
	ck_assert_int_eq(join("g", NULL, 3, GROUP_ASSIGNOR_STICKY, &info[2], id[2]), STRAND_EAGAIN);
	group_member_info_free(&info[2]);
	ck_assert_int_eq(join("g", id[0], 4, GROUP_ASSIGNOR_STICKY, &info[0], NULL), STRAND_EAGAIN);
	group_member_info_free(&info[0]);
	ck_assert_int_eq(join("g", id[1], 5, GROUP_ASSIGNOR_STICKY, &info[1], NULL), 0);
	group_member_info_free(&info[1]);
	ck_assert_int_eq(group_describe(gc, "g", 6, &d), 0);
	ck_assert_uint_eq(d.nmembers, 3);
	for (size_t i = 0; i < d.nmembers; i++) {
		ck_assert_uint_eq(d.members[i].info.nparts, 2);
		for (size_t k = 0; k < d.members[i].info.nparts; k++)
			after[d.members[i].info.parts[k].partition] =
				strcmp(d.members[i].info.member_id, id[0]) == 0 ? 0 :
				strcmp(d.members[i].info.member_id, id[1]) == 0 ? 1 : 2;
	}
	for (int p = 0; p < 6; p++)
		kept += before[p] == after[p];
	group_desc_free(&d);
	ck_assert_msg(kept == 4, "sticky kept %d of 6 partitions, expected 4", kept);
}
END_TEST

START_TEST(test_sticky_positions_survive_a_rebalance)
{
	group_member_info_t a, b;
	char ida[64], idb[64];

	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_STICKY, &a, ida), 0);
	group_member_info_free(&a);
	ck_assert_int_eq(group_fetch_begin(gc, "g", ida, 1, 1, &a), 0);
	for (size_t k = 0; k < a.nparts; k++)
		a.parts[k].position = 100 + a.parts[k].partition;
	ck_assert_int_eq(group_fetch_advance(gc, "g", &a, 2), 0);
	group_member_info_free(&a);
	ck_assert_int_eq(join("g", NULL, 3, GROUP_ASSIGNOR_STICKY, &b, idb), STRAND_EAGAIN);
	group_member_info_free(&b);
	/* positions cannot be stored while the group rebalances */
	ck_assert_int_eq(group_fetch_begin(gc, "g", ida, 4, 4, &a), STRAND_EREBALANCE);
	ck_assert_int_eq(join("g", ida, 5, GROUP_ASSIGNOR_STICKY, &a, NULL), 0);
	ck_assert_uint_eq(a.nparts, 3);
	for (size_t k = 0; k < a.nparts; k++)
		ck_assert_int_eq(a.parts[k].position, 100 + a.parts[k].partition);
	group_member_info_free(&a);
	ck_assert_int_eq(group_join_poll(gc, "g", idb, 6, &b), 0);
	for (size_t k = 0; k < b.nparts; k++)
		ck_assert_int_eq(b.parts[k].position, -1);   /* new owner: from the commit */
	group_member_info_free(&b);
}
END_TEST

START_TEST(test_partition_growth_triggers_rebalance)
{
	group_member_info_t a, hb;
	char ida[64];

	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_RANGE, &a, ida), 0);
	group_member_info_free(&a);
	cat.counts[0] = 8;
	group_coord_tick(gc, 10);
	ck_assert_int_eq(group_heartbeat(gc, "g", ida, 11, &hb), STRAND_EREBALANCE);
	ck_assert_int_eq(join("g", ida, 12, GROUP_ASSIGNOR_RANGE, &a, NULL), 0);
	ck_assert_uint_eq(a.nparts, 8);
	group_member_info_free(&a);
}
END_TEST

START_TEST(test_join_errors)
{
	group_member_info_t a;
	const char *const nope[] = { "nope" };
	group_join_params_t p = params(NULL, GROUP_ASSIGNOR_RANGE);
	char ida[64];

	p.topics = nope;
	ck_assert_int_eq(group_join(gc, "g", &p, 0, &a, err, sizeof err), STRAND_ENOENT);
	p = params(NULL, GROUP_ASSIGNOR_RANGE);
	p.session_timeout_ms = 5;
	ck_assert_int_eq(group_join(gc, "g", &p, 0, &a, err, sizeof err), STRAND_EINVAL);
	ck_assert_int_eq(join("g", "member-unknown", 0, GROUP_ASSIGNOR_RANGE, &a, NULL),
	                 STRAND_ENOMEMBER);
	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_RANGE, &a, ida), 0);
	group_member_info_free(&a);
	ck_assert_int_eq(join("g", NULL, 0, GROUP_ASSIGNOR_STICKY, &a, NULL), STRAND_EINVAL);
	ck_assert_msg(strstr(err, "range") != NULL, "message names the assignor: %s", err);
	/* an unchanged rejoin of a stable member answers at once, same generation */
	ck_assert_int_eq(join("g", ida, 1, GROUP_ASSIGNOR_RANGE, &a, NULL), 0);
	ck_assert_int_eq(a.generation, 1);
	group_member_info_free(&a);
	ck_assert_int_eq(group_delete(gc, "unknown", 2), STRAND_ENOENT);
	ck_assert_int_eq(group_leave(gc, "g", ida, 3), 0);
	ck_assert_int_eq(group_delete(gc, "g", 4), 0);
	ck_assert_int_eq(group_describe(gc, "g", 5, &(group_desc_t){ 0 }), STRAND_ENOENT);
}
END_TEST

/* Every assignor over many shapes: each partition of a subscribed topic
 * has exactly one owner, who subscribes to it; range and sticky balance. */
START_TEST(test_assignors_complete_and_disjoint)
{
	int32_t counts[3] = { 7, 1, 4 }, owner[64], prev[64];
	uint8_t subs[10 * 3];
	unsigned seed = 42;

	for (int round = 0; round < 300; round++) {
		size_t nm = 1 + (size_t)(rand_r(&seed) % 10), total;
		assignor_input_t in = { 3, counts, nm, subs, NULL };
		int kind = round % 3, homogeneous = round % 2;
		size_t cnt[10] = { 0 };

		for (size_t m = 0; m < nm; m++)
			for (int t = 0; t < 3; t++)
				subs[m * 3 + t] = homogeneous ? 1 : (uint8_t)(rand_r(&seed) % 2);
		total = assignor_total(&in);
		for (size_t i = 0; i < total; i++)
			prev[i] = (int32_t)(rand_r(&seed) % (nm + 1)) - 1;
		in.previous = prev;
		ck_assert_int_eq(assignor_run((group_assignor_t)kind, &in, owner), 0);
		for (size_t i = 0, base = 0; i < 3; base += (size_t)counts[i], i++)
			for (int32_t p = 0; p < counts[i]; p++) {
				int32_t o = owner[base + (size_t)p];
				int any = 0;

				for (size_t m = 0; m < nm; m++)
					any |= subs[m * 3 + i];
				if (!any) {
					ck_assert_int_eq(o, -1);
					continue;
				}
				ck_assert_msg(o >= 0 && (size_t)o < nm && subs[(size_t)o * 3 + i],
				              "round %d: partition %zu/%d has owner %d", round, i, (int)p, o);
				cnt[o]++;
			}
		if (homogeneous && kind == GROUP_ASSIGNOR_STICKY) {
			size_t lo = total, hi = 0;

			for (size_t m = 0; m < nm; m++) {
				lo = cnt[m] < lo ? cnt[m] : lo;
				hi = cnt[m] > hi ? cnt[m] : hi;
			}
			ck_assert_msg(hi - lo <= 1, "sticky unbalanced: %zu..%zu", lo, hi);
		}
	}
	ck_assert_int_eq(assignor_from_name("sticky"), GROUP_ASSIGNOR_STICKY);
	ck_assert_int_eq(assignor_from_name("nope"), -1);
}
END_TEST

START_TEST(test_range_matches_kafka)
{
	int32_t counts[1] = { 7 }, owner[7];
	uint8_t subs[3] = { 1, 1, 1 };
	assignor_input_t in = { 1, counts, 3, subs, NULL };
	const int32_t want[7] = { 0, 0, 0, 1, 1, 2, 2 };
	const int32_t want_rr[7] = { 0, 1, 2, 0, 1, 2, 0 };

	ck_assert_int_eq(assignor_run(GROUP_ASSIGNOR_RANGE, &in, owner), 0);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(owner[i], want[i]);
	ck_assert_int_eq(assignor_run(GROUP_ASSIGNOR_ROUNDROBIN, &in, owner), 0);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(owner[i], want_rr[i]);
}
END_TEST

static Suite *group_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("coordinator");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_first_join_completes_at_once);
	tcase_add_test(tc, test_join_waits_for_rebalance_then_both_assigned);
	tcase_add_test(tc, test_rebalance_timeout_drops_members_that_do_not_rejoin);
	tcase_add_test(tc, test_leave_reassigns_everything);
	tcase_add_test(tc, test_session_expiry_reassigns_everything);
	tcase_add_test(tc, test_fetch_keeps_a_member_alive_while_parked);
	tcase_add_test(tc, test_stale_generation_commits_are_refused);
	tcase_add_test(tc, test_sticky_keeps_assignments_when_a_member_joins);
	tcase_add_test(tc, test_sticky_positions_survive_a_rebalance);
	tcase_add_test(tc, test_partition_growth_triggers_rebalance);
	tcase_add_test(tc, test_join_errors);
	tcase_add_test(tc, test_assignors_complete_and_disjoint);
	tcase_add_test(tc, test_range_matches_kafka);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(group_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
