/*
 * assignor.c — range, roundrobin and sticky assignment (contract in
 * assignor.h). The coordinator runs these itself instead of leaving them
 * to a client-side group leader as Kafka does (docs/GROUPS.md says why).
 */
#include "broker/assignor.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static const char *const assignor_names[] = { "range", "roundrobin", "sticky" };

int assignor_from_name(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, assignor_names[i]) == 0)
			return i;
	return -1;
}

const char *assignor_name(group_assignor_t kind)
{
	return (unsigned)kind < 3 ? assignor_names[kind] : "?";
}

size_t assignor_total(const assignor_input_t *in)
{
	size_t total = 0;

	for (size_t t = 0; t < in->ntopics; t++)
		total += (size_t)in->partitions[t];
	return total;
}

static int subscribes(const assignor_input_t *in, size_t m, size_t t)
{
	return in->subscribed[m * in->ntopics + t] != 0;
}

/* Kafka's RangeAssignor: per topic, the subscribers in member order each
 * take a contiguous range; the first (n % m) take one more. */
static void assign_range(const assignor_input_t *in, int32_t *owner, size_t *subs)
{
	size_t base = 0;

	for (size_t t = 0; t < in->ntopics; t++) {
		size_t n = (size_t)in->partitions[t], m = 0, p = 0;

		for (size_t i = 0; i < in->nmembers; i++)
			if (subscribes(in, i, t))
				subs[m++] = i;
		for (size_t k = 0; k < n; k++)
			owner[base + k] = -1;
		for (size_t j = 0; j < m; j++) {
			size_t take = n / m + (j < n % m ? 1 : 0);

			for (size_t k = 0; k < take; k++)
				owner[base + p++] = (int32_t)subs[j];
		}
		base += n;
	}
}

/* Kafka's RoundRobinAssignor: deal partitions in (topic, partition)
 * order round a circle of members, skipping those not subscribed. */
static void assign_roundrobin(const assignor_input_t *in, int32_t *owner)
{
	size_t base = 0, next = 0;

	for (size_t t = 0; t < in->ntopics; t++) {
		size_t n = (size_t)in->partitions[t];

		for (size_t k = 0; k < n; k++) {
			owner[base + k] = -1;
			for (size_t tries = 0; tries < in->nmembers; tries++) {
				size_t m = (next + tries) % in->nmembers;

				if (subscribes(in, m, t)) {
					owner[base + k] = (int32_t)m;
					next = m + 1;
					break;
				}
			}
		}
		base += n;
	}
}

/* ---- sticky ------------------------------------------------------------- */

typedef struct sticky {
	const assignor_input_t *in;
	int32_t  *owner;
	size_t   *topic_of;    /* global partition -> topic */
	size_t   *count;       /* per member */
	size_t  **list;        /* per member: its partitions (unordered) */
	size_t   *cap;
} sticky_t;

static int sticky_give(sticky_t *s, size_t m, size_t part)
{
	if (s->count[m] == s->cap[m]) {
		size_t cap = s->cap[m] ? s->cap[m] * 2 : 8;
		size_t *l = realloc(s->list[m], cap * sizeof *l);

		if (l == NULL)
			return STRAND_ENOMEM;
		s->list[m] = l;
		s->cap[m] = cap;
	}
	s->list[m][s->count[m]++] = part;
	s->owner[part] = (int32_t)m;
	return 0;
}

/* The eligible member (subscribed to topic t) with the fewest partitions;
 * ties go to the lowest index. -1 when nobody subscribes. */
static long sticky_least_loaded(const sticky_t *s, size_t t)
{
	long best = -1;

	for (size_t m = 0; m < s->in->nmembers; m++)
		if (subscribes(s->in, m, t) && (best < 0 || s->count[m] < s->count[best]))
			best = (long)m;
	return best;
}

/*
 * One balancing move: from the most loaded member that can give, one
 * partition to an eligible member holding at least two fewer. Moving from
 * the most loaded first is what keeps movement minimal. 1 moved, 0 none.
 */
static int sticky_move_one(sticky_t *s, int *failed)
{
	size_t nm = s->in->nmembers;
	size_t *order = malloc(nm * sizeof *order);

	if (order == NULL) {
		*failed = 1;
		return 0;
	}
	for (size_t i = 0; i < nm; i++)
		order[i] = i;
	/* members by decreasing count (insertion sort: nm is small) */
	for (size_t i = 1; i < nm; i++)
		for (size_t j = i; j > 0 && s->count[order[j]] > s->count[order[j - 1]]; j--) {
			size_t tmp = order[j];

			order[j] = order[j - 1];
			order[j - 1] = tmp;
		}
	for (size_t oi = 0; oi < nm; oi++) {
		size_t a = order[oi];

		/* the most recently given partitions first: previous owners' kept
		 * ones were given first, so newly placed ones move before them */
		for (size_t k = s->count[a]; k-- > 0;) {
			size_t part = s->list[a][k];
			long b = sticky_least_loaded(s, s->topic_of[part]);

			if (b < 0 || s->count[b] + 2 > s->count[a])
				continue;
			s->list[a][k] = s->list[a][--s->count[a]];
			if (sticky_give(s, (size_t)b, part) != 0) {
				*failed = 1;
				free(order);
				return 0;
			}
			free(order);
			return 1;
		}
	}
	free(order);
	return 0;
}

static int assign_sticky(const assignor_input_t *in, int32_t *owner)
{
	size_t total = assignor_total(in), nm = in->nmembers, base = 0;
	sticky_t s = { in, owner, NULL, NULL, NULL, NULL };
	int rc = STRAND_ENOMEM, failed = 0;

	s.topic_of = malloc((total + 1) * sizeof *s.topic_of);
	s.count = calloc(nm + 1, sizeof *s.count);
	s.cap = calloc(nm + 1, sizeof *s.cap);
	s.list = calloc(nm + 1, sizeof *s.list);
	if (s.topic_of == NULL || s.count == NULL || s.cap == NULL || s.list == NULL)
		goto out;
	for (size_t t = 0; t < in->ntopics; t++)
		for (int32_t p = 0; p < in->partitions[t]; p++)
			s.topic_of[base++] = t;
	/* 1. keep every partition whose previous owner still subscribes */
	for (size_t i = 0; i < total; i++) {
		int32_t prev = in->previous ? in->previous[i] : -1;

		owner[i] = -1;
		if (prev >= 0 && (size_t)prev < nm && subscribes(in, (size_t)prev, s.topic_of[i]) &&
		    sticky_give(&s, (size_t)prev, i) != 0)
			goto out;
	}
	/* 2. place the others on the least loaded eligible member */
	for (size_t i = 0; i < total; i++) {
		long m;

		if (owner[i] >= 0)
			continue;
		m = sticky_least_loaded(&s, s.topic_of[i]);
		if (m >= 0 && sticky_give(&s, (size_t)m, i) != 0)
			goto out;
	}
	/* 3. balance: move from the most loaded while counts differ by 2+ */
	while (sticky_move_one(&s, &failed))
		;
	rc = failed ? STRAND_ENOMEM : 0;
out:
	for (size_t m = 0; s.list != NULL && m < nm; m++)
		free(s.list[m]);
	free(s.list);
	free(s.cap);
	free(s.count);
	free(s.topic_of);
	return rc;
}

int assignor_run(group_assignor_t kind, const assignor_input_t *in, int32_t *owner)
{
	size_t total = assignor_total(in), *subs;

	if (in->nmembers == 0) {
		for (size_t i = 0; i < total; i++)
			owner[i] = -1;
		return 0;
	}
	switch (kind) {
	case GROUP_ASSIGNOR_RANGE:
		subs = malloc(in->nmembers * sizeof *subs);
		if (subs == NULL)
			return STRAND_ENOMEM;
		assign_range(in, owner, subs);
		free(subs);
		return 0;
	case GROUP_ASSIGNOR_ROUNDROBIN:
		assign_roundrobin(in, owner);
		return 0;
	case GROUP_ASSIGNOR_STICKY:
		return assign_sticky(in, owner);
	}
	return STRAND_EINVAL;
}
