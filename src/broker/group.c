/*
 * group.c — the group coordinator (contract in group.h): groups in a
 * sorted array under one mutex, each with its members, state, generation
 * and current assignment. Time only enters through now_ms arguments; every
 * call first lets time pass for the group it touches (group_advance), and
 * the broker's ticker does it for all groups, so expiry is never observed
 * late by a caller.
 *
 * Change notification: a call that changes a group bumps its version and
 * remembers the name; the hook runs after the mutex is released (api/
 * wakes parked joins and member fetches with it).
 */
#include "broker/group.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

/* A member's partition: topic indexes the group's atopics. */
typedef group_tp_t gpart_t;

typedef struct gmember {
	char          id[GROUP_MEMBER_ID_MAX];
	char        **subs;            /* subscription, sorted, distinct */
	size_t        nsubs;
	int64_t       session_ms, rebalance_ms;
	group_reset_t reset;
	int64_t       session_deadline;
	int           joined;          /* (re)joined the rebalance in progress */
	int           collected;       /* has its assignment of `generation` */
	int32_t       generation;      /* generation of parts; 0: none */
	gpart_t      *parts;           /* sorted by topic index, partition */
	size_t        nparts;
} gmember_t;

typedef struct group {
	char            *name;
	group_state_t    state;
	int32_t          generation;
	group_assignor_t assignor;
	int32_t          logged_generation; /* the last written to __consumer_offsets */
	uint64_t         version;
	int64_t          rebalance_deadline;
	gmember_t      **members;      /* sorted by id */
	size_t           nmembers;
	char           **atopics;      /* topics of the current assignment, sorted */
	int32_t         *acounts;      /* their partition counts then */
	size_t           natopics;
} group_t;

/* Groups whose hook is due once the lock is released. */
typedef struct notes {
	struct { char name[256]; uint64_t version; } *v;
	size_t n, cap;
} notes_t;

struct group_coord {
	pthread_mutex_t     lock;
	group_t           **groups;    /* sorted by name */
	size_t              n, cap;
	group_partitions_fn partitions;
	void               *ctx;
	pthread_mutex_t     hook_lock;
	group_changed_fn    hook;
	void               *hook_ctx;
	uint64_t            id_seed, id_counter;
};

static const char *const state_names[] = {
	"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead",
};

const char *group_state_name(group_state_t s)
{
	return (unsigned)s <= GROUP_DEAD ? state_names[s] : "?";
}

/* ---- small helpers -------------------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* Sorted, distinct copy of names. NULL on allocation failure. */
static char **strv_sorted_copy(const char *const *names, size_t n, size_t *n_out)
{
	char **v = calloc(n + 1, sizeof *v);
	size_t k = 0;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((v[i] = strdup(names[i])) == NULL) {
			strv_free(v, i);
			return NULL;
		}
	qsort(v, n, sizeof *v, str_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(v[k - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	*n_out = k;
	return v;
}

static long strv_find(char *const *v, size_t n, const char *s)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid], s);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void notes_add(notes_t *nt, const group_t *g)
{
	if (nt == NULL)
		return;
	for (size_t i = 0; i < nt->n; i++)
		if (strcmp(nt->v[i].name, g->name) == 0) {
			nt->v[i].version = g->version;
			return;
		}
	if (nt->n == nt->cap) {
		size_t cap = nt->cap ? nt->cap * 2 : 4;
		void *v = realloc(nt->v, cap * sizeof *nt->v);

		if (v == NULL)
			return;   /* parked requests still wake at their deadline */
		nt->v = v;
		nt->cap = cap;
	}
	snprintf(nt->v[nt->n].name, sizeof nt->v[nt->n].name, "%s", g->name);
	nt->v[nt->n++].version = g->version;
}

/* A change of g: bump its version, and note it for the hook. */
static void group_touch(group_t *g, notes_t *nt)
{
	g->version++;
	notes_add(nt, g);
}

/* Unlock, then run the hook for every noted group. */
static void unlock_and_notify(group_coord_t *gc, notes_t *nt)
{
	pthread_mutex_unlock(&gc->lock);
	if (nt->n > 0) {
		pthread_mutex_lock(&gc->hook_lock);
		for (size_t i = 0; i < nt->n && gc->hook != NULL; i++)
			gc->hook(gc->hook_ctx, nt->v[i].name, nt->v[i].version);
		pthread_mutex_unlock(&gc->hook_lock);
	}
	free(nt->v);
	nt->v = NULL;
	nt->n = nt->cap = 0;
}

/* ---- groups and members --------------------------------------------------- */

static void member_free(gmember_t *m)
{
	if (m == NULL)
		return;
	strv_free(m->subs, m->nsubs);
	free(m->parts);
	free(m);
}

static void group_free(group_t *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nmembers; i++)
		member_free(g->members[i]);
	free(g->members);
	strv_free(g->atopics, g->natopics);
	free(g->acounts);
	free(g->name);
	free(g);
}

static long group_index(group_coord_t *gc, const char *name, size_t *pos)
{
	size_t lo = 0, hi = gc->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(gc->groups[mid]->name, name);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos != NULL)
		*pos = lo;
	return -1;
}

static group_t *group_find(group_coord_t *gc, const char *name)
{
	long i = group_index(gc, name, NULL);

	return i < 0 ? NULL : gc->groups[i];
}

static group_t *group_create(group_coord_t *gc, const char *name, group_assignor_t assignor)
{
	size_t pos = 0;
	group_t *g;

	if (group_index(gc, name, &pos) >= 0)
		return NULL;
	if (gc->n == gc->cap) {
		size_t cap = gc->cap ? gc->cap * 2 : 16;
		group_t **v = realloc(gc->groups, cap * sizeof *v);

		if (v == NULL)
			return NULL;
		gc->groups = v;
		gc->cap = cap;
	}
	g = calloc(1, sizeof *g);
	if (g == NULL || (g->name = strdup(name)) == NULL) {
		free(g);
		return NULL;
	}
	g->state = GROUP_EMPTY;
	g->assignor = assignor;
	memmove(&gc->groups[pos + 1], &gc->groups[pos], (gc->n - pos) * sizeof *gc->groups);
	gc->groups[pos] = g;
	gc->n++;
	return g;
}

static long member_index(const group_t *g, const char *id, size_t *pos)
{
	size_t lo = 0, hi = g->nmembers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->members[mid]->id, id);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos != NULL)
		*pos = lo;
	return -1;
}

static gmember_t *member_find(const group_t *g, const char *id)
{
	long i;

	if (id == NULL || id[0] == '\0')
		return NULL;
	i = member_index(g, id, NULL);
	return i < 0 ? NULL : g->members[i];
}

static void member_remove_at(group_t *g, size_t i)
{
	member_free(g->members[i]);
	memmove(&g->members[i], &g->members[i + 1], (g->nmembers - i - 1) * sizeof *g->members);
	g->nmembers--;
}

/* splitmix64: a bijection, so distinct counters give distinct ids. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static gmember_t *member_add(group_coord_t *gc, group_t *g)
{
	gmember_t *m = calloc(1, sizeof *m), **v;
	size_t pos = 0;

	if (m == NULL)
		return NULL;
	do {
		snprintf(m->id, sizeof m->id, "member-%016" PRIx64,
		         splitmix64(gc->id_seed + gc->id_counter++));
	} while (member_index(g, m->id, &pos) >= 0);
	v = realloc(g->members, (g->nmembers + 1) * sizeof *v);
	if (v == NULL) {
		free(m);
		return NULL;
	}
	g->members = v;
	memmove(&g->members[pos + 1], &g->members[pos], (g->nmembers - pos) * sizeof *v);
	g->members[pos] = m;
	g->nmembers++;
	return m;
}

/* ---- rebalancing ---------------------------------------------------------- */

/* Start a rebalance (or join one). Members still waiting to collect an
 * assignment have a join outstanding: they count as rejoined. */
static void group_prepare(group_t *g, int64_t now, notes_t *nt)
{
	int64_t longest = 0;

	if (g->state != GROUP_PREPARING_REBALANCE) {
		for (size_t i = 0; i < g->nmembers; i++)
			g->members[i]->joined = !g->members[i]->collected &&
			                        g->members[i]->generation == g->generation &&
			                        g->generation > 0;
		for (size_t i = 0; i < g->nmembers; i++)
			if (g->members[i]->rebalance_ms > longest)
				longest = g->members[i]->rebalance_ms;
		g->state = GROUP_PREPARING_REBALANCE;
		g->rebalance_deadline = now + longest;
	}
	group_touch(g, nt);
}

/* The group lost its last member: a new (empty) generation. */
static void group_become_empty(group_t *g, notes_t *nt)
{
	g->state = GROUP_EMPTY;
	g->generation++;
	strv_free(g->atopics, g->natopics);
	free(g->acounts);
	g->atopics = NULL;
	g->acounts = NULL;
	g->natopics = 0;
	group_touch(g, nt);
}

/* Global index of (topic t, partition p) given the per-topic bases. */
static size_t gidx(const size_t *base, uint32_t t, int32_t p)
{
	return base[t] + (size_t)p;
}

/*
 * The join phase is over: drop members that did not rejoin, compute the
 * new generation's assignment (sticky sees the previous owners), carry the
 * positions of partitions a member keeps, and wait for members to collect.
 */
static int group_complete(group_coord_t *gc, group_t *g, int64_t now, notes_t *nt)
{
	char **all = NULL, **topics = NULL;
	int32_t *counts = NULL, *owner = NULL, *prev = NULL;
	int64_t *pos = NULL;
	size_t *base = NULL, nall = 0, ntopics = 0, total = 0, *nparts = NULL;
	uint8_t *subscribed = NULL;
	gpart_t **parts = NULL;
	assignor_input_t in;
	int rc = STRAND_ENOMEM;

	for (size_t i = g->nmembers; i-- > 0;)
		if (!g->members[i]->joined)
			member_remove_at(g, i);
	if (g->nmembers == 0) {
		group_become_empty(g, nt);
		return 0;
	}
	/* the topics: union of subscriptions */
	for (size_t i = 0; i < g->nmembers; i++)
		nall += g->members[i]->nsubs;
	all = malloc((nall + 1) * sizeof *all);
	if (all == NULL)
		goto out;
	nall = 0;
	for (size_t i = 0; i < g->nmembers; i++)
		for (size_t j = 0; j < g->members[i]->nsubs; j++)
			all[nall++] = g->members[i]->subs[j];
	topics = strv_sorted_copy((const char *const *)all, nall, &ntopics);
	counts = calloc(ntopics + 1, sizeof *counts);
	base = calloc(ntopics + 1, sizeof *base);
	subscribed = calloc(g->nmembers * ntopics + 1, 1);
	if (topics == NULL || counts == NULL || base == NULL || subscribed == NULL)
		goto out;
	for (size_t t = 0; t < ntopics; t++) {
		int32_t c = gc->partitions(gc->ctx, topics[t]);

		counts[t] = c > 0 ? c : 0;
		base[t] = total;
		total += (size_t)counts[t];
	}
	for (size_t i = 0; i < g->nmembers; i++)
		for (size_t j = 0; j < g->members[i]->nsubs; j++)
			subscribed[i * ntopics + (size_t)strv_find(topics, ntopics,
			                                           g->members[i]->subs[j])] = 1;
	owner = malloc((total + 1) * sizeof *owner);
	prev = malloc((total + 1) * sizeof *prev);
	pos = malloc((total + 1) * sizeof *pos);
	nparts = calloc(g->nmembers + 1, sizeof *nparts);
	parts = calloc(g->nmembers + 1, sizeof *parts);
	if (owner == NULL || prev == NULL || pos == NULL || nparts == NULL || parts == NULL)
		goto out;
	/* previous owners and positions, mapped onto the new numbering */
	for (size_t i = 0; i < total; i++) {
		prev[i] = -1;
		pos[i] = -1;
	}
	for (size_t i = 0; i < g->nmembers; i++) {
		gmember_t *m = g->members[i];

		for (size_t k = 0; m->generation == g->generation && k < m->nparts; k++) {
			long t = m->parts[k].topic < g->natopics
			         ? strv_find(topics, ntopics, g->atopics[m->parts[k].topic]) : -1;

			if (t < 0 || m->parts[k].partition >= counts[t])
				continue;
			prev[gidx(base, (uint32_t)t, m->parts[k].partition)] = (int32_t)i;
			pos[gidx(base, (uint32_t)t, m->parts[k].partition)] = m->parts[k].position;
		}
	}
	in.ntopics = ntopics;
	in.partitions = counts;
	in.nmembers = g->nmembers;
	in.subscribed = subscribed;
	in.previous = prev;
	rc = assignor_run(g->assignor, &in, owner);
	if (rc)
		goto out;
	for (size_t i = 0; i < total; i++)
		if (owner[i] >= 0)
			nparts[owner[i]]++;
	for (size_t i = 0; i < g->nmembers; i++)
		if ((parts[i] = malloc((nparts[i] + 1) * sizeof **parts)) == NULL) {
			rc = STRAND_ENOMEM;
			goto out;
		}
	/* commit: nothing below fails */
	for (size_t i = 0; i < g->nmembers; i++)
		nparts[i] = 0;
	for (size_t t = 0; t < ntopics; t++)
		for (int32_t p = 0; p < counts[t]; p++) {
			size_t i = gidx(base, (uint32_t)t, p);
			int32_t m = owner[i];

			if (m < 0)
				continue;
			parts[m][nparts[m]++] = (gpart_t){ (uint32_t)t, p,
			                                   prev[i] == m ? pos[i] : -1 };
		}
	g->generation++;
	for (size_t i = 0; i < g->nmembers; i++) {
		gmember_t *m = g->members[i];

		free(m->parts);
		m->parts = parts[i];
		m->nparts = nparts[i];
		parts[i] = NULL;
		m->generation = g->generation;
		m->joined = 0;
		m->collected = 0;
		m->session_deadline = now + m->session_ms;
	}
	strv_free(g->atopics, g->natopics);
	free(g->acounts);
	g->atopics = topics;
	g->acounts = counts;
	g->natopics = ntopics;
	topics = NULL;
	counts = NULL;
	g->state = GROUP_COMPLETING_REBALANCE;
	group_touch(g, nt);
	rc = 0;
out:
	for (size_t i = 0; parts != NULL && i < g->nmembers; i++)
		free(parts[i]);
	free(parts);
	free(nparts);
	free(pos);
	free(prev);
	free(owner);
	free(subscribed);
	free(base);
	free(counts);
	strv_free(topics, ntopics);
	free(all);
	return rc;
}

/* Did a topic of the current assignment change its partition count? */
static int group_metadata_changed(group_coord_t *gc, const group_t *g)
{
	for (size_t t = 0; t < g->natopics; t++) {
		int32_t c = gc->partitions(gc->ctx, g->atopics[t]);

		if ((c > 0 ? c : 0) != g->acounts[t])
			return 1;
	}
	return 0;
}

static int all_joined(const group_t *g)
{
	for (size_t i = 0; i < g->nmembers; i++)
		if (!g->members[i]->joined)
			return 0;
	return 1;
}

/*
 * Let time pass for g: expire sessions (members waiting in a rebalance
 * they joined are alive), finish a rebalance that is complete or past its
 * deadline, and rebalance on changed partition counts.
 */
static void group_advance(group_coord_t *gc, group_t *g, int64_t now, notes_t *nt)
{
	int removed = 0;

	for (size_t i = g->nmembers; i-- > 0;) {
		gmember_t *m = g->members[i];

		if (m->session_deadline <= now &&
		    !(g->state == GROUP_PREPARING_REBALANCE && m->joined)) {
			member_remove_at(g, i);
			removed = 1;
		}
	}
	if (removed && g->nmembers == 0 && g->state != GROUP_EMPTY) {
		group_become_empty(g, nt);
		return;
	}
	if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE) {
		if (removed || group_metadata_changed(gc, g))
			group_prepare(g, now, nt);
	}
	if (g->state == GROUP_PREPARING_REBALANCE &&
	    (all_joined(g) || now >= g->rebalance_deadline)) {
		if (group_complete(gc, g, now, nt) != 0)
			g->rebalance_deadline = now + 1000;   /* out of memory: retry later */
	}
}

/* The member has its assignment; the last one to collect makes the group Stable. */
static void member_collect(group_t *g, gmember_t *m, notes_t *nt)
{
	if (m->collected)
		return;
	m->collected = 1;
	for (size_t i = 0; i < g->nmembers; i++)
		if (!g->members[i]->collected)
			return;
	if (g->state == GROUP_COMPLETING_REBALANCE) {
		g->state = GROUP_STABLE;
		group_touch(g, nt);
	}
}

/* ---- member info ---------------------------------------------------------- */

void group_member_info_free(group_member_info_t *info)
{
	if (info == NULL)
		return;
	strv_free(info->topics, info->ntopics);
	free(info->parts);
	info->topics = NULL;
	info->parts = NULL;
	info->ntopics = info->nparts = 0;
}

/* Fill out with m's id and (when with_parts) its assignment. */
static int member_info(const group_t *g, const gmember_t *m, int with_parts,
                       group_member_info_t *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->member_id, sizeof out->member_id, "%s", m->id);
	out->generation = m->generation;
	out->reset = m->reset;
	out->session_timeout_ms = m->session_ms;
	out->version = g->version;
	out->wake_at_ms = g->state == GROUP_PREPARING_REBALANCE ? g->rebalance_deadline : -1;
	if (!with_parts || m->nparts == 0)
		return 0;
	out->topics = calloc(m->nparts + 1, sizeof *out->topics);
	out->parts = malloc(m->nparts * sizeof *out->parts);
	if (out->topics == NULL || out->parts == NULL)
		goto fail;
	for (size_t k = 0; k < m->nparts; k++) {
		const char *name = g->atopics[m->parts[k].topic];

		if (out->ntopics == 0 || strcmp(out->topics[out->ntopics - 1], name) != 0) {
			if ((out->topics[out->ntopics] = strdup(name)) == NULL)
				goto fail;
			out->ntopics++;
		}
		out->parts[k] = m->parts[k];
		out->parts[k].topic = (uint32_t)(out->ntopics - 1);
	}
	out->nparts = m->nparts;
	return 0;
fail:
	group_member_info_free(out);
	return STRAND_ENOMEM;
}

/* ---- the coordinator ------------------------------------------------------ */

int group_coord_new(group_partitions_fn partitions, void *ctx, group_coord_t **out)
{
	group_coord_t *gc = calloc(1, sizeof *gc);
	struct timespec ts;
	int fd;

	*out = NULL;
	if (gc == NULL)
		return STRAND_ENOMEM;
	pthread_mutex_init(&gc->lock, NULL);
	pthread_mutex_init(&gc->hook_lock, NULL);
	gc->partitions = partitions;
	gc->ctx = ctx;
	/* member ids: unpredictable across restarts, so an old id never matches */
	clock_gettime(CLOCK_REALTIME, &ts);
	gc->id_seed = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
	              ((uint64_t)getpid() << 32);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		uint64_t r;

		if (read(fd, &r, sizeof r) == (ssize_t)sizeof r)
			gc->id_seed ^= r;
		close(fd);
	}
	*out = gc;
	return 0;
}

void group_coord_free(group_coord_t *gc)
{
	if (gc == NULL)
		return;
	for (size_t i = 0; i < gc->n; i++)
		group_free(gc->groups[i]);
	free(gc->groups);
	pthread_mutex_destroy(&gc->hook_lock);
	pthread_mutex_destroy(&gc->lock);
	free(gc);
}

void group_coord_set_hook(group_coord_t *gc, group_changed_fn fn, void *ctx)
{
	pthread_mutex_lock(&gc->hook_lock);
	gc->hook = fn;
	gc->hook_ctx = ctx;
	pthread_mutex_unlock(&gc->hook_lock);
}

void group_coord_tick(group_coord_t *gc, int64_t now_ms)
{
	notes_t nt = { 0 };

	pthread_mutex_lock(&gc->lock);
	for (size_t i = 0; i < gc->n; i++)
		group_advance(gc, gc->groups[i], now_ms, &nt);
	unlock_and_notify(gc, &nt);
}

uint64_t group_version(group_coord_t *gc, const char *group)
{
	group_t *g;
	uint64_t v = 0;

	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g != NULL)
		v = g->version;
	pthread_mutex_unlock(&gc->lock);
	return v;
}

/* ---- join ----------------------------------------------------------------- */

static int join_validate(group_coord_t *gc, const group_join_params_t *p,
                         char *err, size_t errlen)
{
	if (p->ntopics == 0 || p->ntopics > GROUP_MAX_TOPICS)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "topics must list 1 to %d topics", GROUP_MAX_TOPICS);
	if (p->session_timeout_ms < GROUP_SESSION_MIN_MS ||
	    p->session_timeout_ms > GROUP_SESSION_MAX_MS ||
	    p->rebalance_timeout_ms < GROUP_SESSION_MIN_MS ||
	    p->rebalance_timeout_ms > GROUP_SESSION_MAX_MS)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "session_timeout_ms and rebalance_timeout_ms must be in "
		                      "[%d, %d]", GROUP_SESSION_MIN_MS, GROUP_SESSION_MAX_MS);
	if ((unsigned)p->assignor > GROUP_ASSIGNOR_STICKY)
		return strand_err_set(err, errlen, STRAND_EINVAL, "unknown assignor");
	for (size_t i = 0; i < p->ntopics; i++)
		if (gc->partitions(gc->ctx, p->topics[i]) < 0)
			return strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic %s",
			                      p->topics[i]);
	return 0;
}

/* Does m's subscription equal the sorted, distinct subs? */
static int same_subscription(const gmember_t *m, char *const *subs, size_t n)
{
	if (m->nsubs != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->subs[i], subs[i]) != 0)
			return 0;
	return 1;
}

/* Where a (re)joined member stands: collect its assignment, or wait. */
static int join_result(group_t *g, gmember_t *m, int64_t now, group_member_info_t *out,
                       notes_t *nt)
{
	if ((g->state == GROUP_COMPLETING_REBALANCE || g->state == GROUP_STABLE) &&
	    m->generation == g->generation) {
		member_collect(g, m, nt);
		m->session_deadline = now + m->session_ms;
		return member_info(g, m, 1, out);
	}
	if (member_info(g, m, 0, out) != 0)
		return STRAND_ENOMEM;
	return STRAND_EAGAIN;
}

int group_join(group_coord_t *gc, const char *group, const group_join_params_t *p,
               int64_t now_ms, group_member_info_t *out, char *err, size_t errlen)
{
	notes_t nt = { 0 };
	char **subs = NULL;
	size_t nsubs = 0;
	gmember_t *m = NULL;
	group_t *g;
	int rc, changed;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&gc->lock);
	rc = join_validate(gc, p, err, errlen);
	if (rc)
		goto out;
	subs = strv_sorted_copy(p->topics, p->ntopics, &nsubs);
	g = group_find(gc, group);
	if (g == NULL)
		g = group_create(gc, group, p->assignor);
	if (subs == NULL || g == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto out;
	}
	group_advance(gc, g, now_ms, &nt);
	if (p->member_id != NULL && p->member_id[0] != '\0') {
		m = member_find(g, p->member_id);
		if (m == NULL) {
			rc = strand_err_set(err, errlen, STRAND_ENOMEMBER,
			                    "unknown member %s in group %s (expired or left): "
			                    "join without member_id", p->member_id, group);
			goto out;
		}
	}
	if (g->nmembers > 0 && g->assignor != p->assignor && !(g->nmembers == 1 && m != NULL)) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL,
		                    "group %s uses assignor %s: join with the same assignor",
		                    group, assignor_name(g->assignor));
		goto out;
	}
	if (m == NULL && g->nmembers >= GROUP_MAX_MEMBERS) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL, "group %s has %d members, the most "
		                    "a group may have", group, GROUP_MAX_MEMBERS);
		goto out;
	}
	if (m == NULL) {
		m = member_add(gc, g);
		if (m == NULL) {
			rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
			goto out;
		}
		changed = 1;
	} else {
		changed = !same_subscription(m, subs, nsubs) || g->assignor != p->assignor;
	}
	g->assignor = p->assignor;
	strv_free(m->subs, m->nsubs);
	m->subs = subs;
	m->nsubs = nsubs;
	subs = NULL;
	m->session_ms = p->session_timeout_ms;
	m->rebalance_ms = p->rebalance_timeout_ms;
	m->reset = p->reset;
	m->session_deadline = now_ms + m->session_ms;
	if (g->state == GROUP_EMPTY || changed ||
	    (g->state != GROUP_PREPARING_REBALANCE && m->generation != g->generation))
		group_prepare(g, now_ms, &nt);
	if (g->state == GROUP_PREPARING_REBALANCE) {
		m->joined = 1;
		if (all_joined(g))
			group_advance(gc, g, now_ms, &nt);
	}
	rc = join_result(g, m, now_ms, out, &nt);
	if (rc < 0 && rc != STRAND_EAGAIN)
		strand_err_set(err, errlen, rc, "out of memory");
out:
	strv_free(subs, nsubs);
	unlock_and_notify(gc, &nt);
	return rc;
}

int group_join_poll(group_coord_t *gc, const char *group, const char *member_id,
                    int64_t now_ms, group_member_info_t *out)
{
	notes_t nt = { 0 };
	gmember_t *m;
	group_t *g;
	int rc = STRAND_ENOMEMBER;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g == NULL)
		goto out;
	group_advance(gc, g, now_ms, &nt);
	m = member_find(g, member_id);
	if (m == NULL)
		goto out;
	/* the waiting join is a join of whatever rebalance is running now */
	if (g->state == GROUP_PREPARING_REBALANCE && !m->joined) {
		m->joined = 1;
		if (all_joined(g))
			group_advance(gc, g, now_ms, &nt);
	}
	rc = join_result(g, m, now_ms, out, &nt);
out:
	unlock_and_notify(gc, &nt);
	return rc;
}

/* ---- heartbeat, fetch, leave ---------------------------------------------- */

/* The member's assignment if it is final, else EREBALANCE / ENOMEMBER. */
static int member_current(group_coord_t *gc, const char *group, const char *member_id,
                          int64_t now, int64_t alive_until, group_member_info_t *out,
                          notes_t *nt)
{
	gmember_t *m;
	group_t *g = group_find(gc, group);

	memset(out, 0, sizeof *out);
	if (g == NULL)
		return STRAND_ENOMEMBER;
	group_advance(gc, g, now, nt);
	m = member_find(g, member_id);
	if (m == NULL)
		return STRAND_ENOMEMBER;
	if (alive_until + m->session_ms > m->session_deadline)
		m->session_deadline = alive_until + m->session_ms;
	if (g->state == GROUP_PREPARING_REBALANCE || !m->collected ||
	    m->generation != g->generation)
		return STRAND_EREBALANCE;
	return member_info(g, m, 1, out);
}

int group_heartbeat(group_coord_t *gc, const char *group, const char *member_id,
                    int64_t now_ms, group_member_info_t *out)
{
	notes_t nt = { 0 };
	int rc;

	pthread_mutex_lock(&gc->lock);
	rc = member_current(gc, group, member_id, now_ms, now_ms, out, &nt);
	unlock_and_notify(gc, &nt);
	return rc;
}

int group_fetch_begin(group_coord_t *gc, const char *group, const char *member_id,
                      int64_t now_ms, int64_t wait_until_ms, group_member_info_t *out)
{
	notes_t nt = { 0 };
	int rc;

	pthread_mutex_lock(&gc->lock);
	rc = member_current(gc, group, member_id, now_ms,
	                    wait_until_ms > now_ms ? wait_until_ms : now_ms, out, &nt);
	unlock_and_notify(gc, &nt);
	return rc;
}

int group_fetch_advance(group_coord_t *gc, const char *group, const group_member_info_t *info,
                        int64_t now_ms)
{
	notes_t nt = { 0 };
	gmember_t *m;
	group_t *g;
	int rc = STRAND_ENOMEMBER;

	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g == NULL)
		goto out;
	group_advance(gc, g, now_ms, &nt);
	m = member_find(g, info->member_id);
	if (m == NULL)
		goto out;
	rc = STRAND_EREBALANCE;
	if (g->state == GROUP_PREPARING_REBALANCE || !m->collected ||
	    m->generation != g->generation || m->generation != info->generation ||
	    m->nparts != info->nparts)
		goto out;
	/* same generation: the same assignment, in the same order */
	for (size_t k = 0; k < m->nparts; k++)
		m->parts[k].position = info->parts[k].position;
	if (now_ms + m->session_ms > m->session_deadline)
		m->session_deadline = now_ms + m->session_ms;
	rc = 0;
out:
	unlock_and_notify(gc, &nt);
	return rc;
}

int group_leave(group_coord_t *gc, const char *group, const char *member_id, int64_t now_ms)
{
	notes_t nt = { 0 };
	group_t *g;
	long i;
	int rc = STRAND_ENOMEMBER;

	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g == NULL)
		goto out;
	group_advance(gc, g, now_ms, &nt);
	i = member_index(g, member_id, NULL);
	if (i < 0)
		goto out;
	member_remove_at(g, (size_t)i);
	if (g->nmembers == 0)
		group_become_empty(g, &nt);
	else
		group_prepare(g, now_ms, &nt);
	group_advance(gc, g, now_ms, &nt);   /* the others may all have joined */
	rc = 0;
out:
	unlock_and_notify(gc, &nt);
	return rc;
}

/* ---- commit fencing ------------------------------------------------------- */

static int member_owns(const group_t *g, const gmember_t *m, const char *topic, int32_t p)
{
	for (size_t k = 0; k < m->nparts; k++)
		if (m->parts[k].partition == p && strcmp(g->atopics[m->parts[k].topic], topic) == 0)
			return 1;
	return 0;
}

int group_commit_check(group_coord_t *gc, const char *group, const char *member_id,
                       int32_t generation, const char *const *topics,
                       const int32_t *partitions, size_t n, int64_t now_ms,
                       char *err, size_t errlen)
{
	notes_t nt = { 0 };
	gmember_t *m;
	group_t *g;
	int rc = 0;

	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g != NULL)
		group_advance(gc, g, now_ms, &nt);
	if (member_id == NULL) {
		if (g != NULL && g->nmembers > 0)
			rc = strand_err_set(err, errlen, STRAND_ENOTEMPTY,
			                    "group %s has %zu members: commit with member_id and "
			                    "generation", group, g->nmembers);
		goto out;
	}
	m = g != NULL ? member_find(g, member_id) : NULL;
	if (m == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEMBER,
		                    "unknown member %s in group %s (expired or left): rejoin",
		                    member_id, group);
		goto out;
	}
	if (now_ms + m->session_ms > m->session_deadline)
		m->session_deadline = now_ms + m->session_ms;
	if (generation != m->generation || m->generation != g->generation) {
		rc = strand_err_set(err, errlen, STRAND_EGENERATION,
		                    "generation %d is not the current generation %d of group %s",
		                    (int)generation, (int)g->generation, group);
		goto out;
	}
	/* Kafka lets a member commit what it owned while a rebalance prepares
	 * (before it rejoins), not before it has its new assignment. */
	if (!m->collected && g->state != GROUP_PREPARING_REBALANCE) {
		rc = strand_err_set(err, errlen, STRAND_EREBALANCE,
		                    "group %s is rebalancing: rejoin to get your assignment", group);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!member_owns(g, m, topics[i], partitions[i])) {
			rc = strand_err_set(err, errlen, STRAND_EGENERATION,
			                    "partition %s/%d is not assigned to member %s in "
			                    "generation %d", topics[i], (int)partitions[i],
			                    member_id, (int)generation);
			goto out;
		}
out:
	unlock_and_notify(gc, &nt);
	return rc;
}

/* ---- views ---------------------------------------------------------------- */

void group_desc_free(group_desc_t *d)
{
	for (size_t i = 0; d->members != NULL && i < d->nmembers; i++) {
		group_member_info_free(&d->members[i].info);
		strv_free(d->members[i].subscription, d->members[i].nsubscription);
	}
	free(d->members);
	memset(d, 0, sizeof *d);
}

int group_describe(group_coord_t *gc, const char *group, int64_t now_ms, group_desc_t *out)
{
	notes_t nt = { 0 };
	group_t *g;
	int rc = STRAND_ENOENT;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g == NULL)
		goto out;
	group_advance(gc, g, now_ms, &nt);
	out->state = g->state;
	out->generation = g->generation;
	out->assignor = g->assignor;
	rc = STRAND_ENOMEM;
	out->members = calloc(g->nmembers + 1, sizeof *out->members);
	if (out->members == NULL)
		goto out;
	for (size_t i = 0; i < g->nmembers; i++) {
		group_member_desc_t *d = &out->members[i];
		const gmember_t *m = g->members[i];

		out->nmembers = i + 1;
		if (member_info(g, m, m->generation == g->generation, &d->info) != 0)
			goto out;
		d->subscription = strv_sorted_copy((const char *const *)m->subs, m->nsubs,
		                                   &d->nsubscription);
		if (d->subscription == NULL)
			goto out;
		d->rebalance_timeout_ms = m->rebalance_ms;
		d->joined = m->joined;
	}
	rc = 0;
out:
	unlock_and_notify(gc, &nt);
	if (rc != 0)
		group_desc_free(out);
	return rc;
}

int group_list(group_coord_t *gc, int64_t now_ms, group_summary_t **out, size_t *n_out)
{
	notes_t nt = { 0 };
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_mutex_lock(&gc->lock);
	*out = calloc(gc->n + 1, sizeof **out);
	if (*out == NULL) {
		rc = STRAND_ENOMEM;
	} else {
		for (size_t i = 0; i < gc->n; i++) {
			group_t *g = gc->groups[i];

			group_advance(gc, g, now_ms, &nt);
			snprintf((*out)[i].name, sizeof (*out)[i].name, "%s", g->name);
			(*out)[i].state = g->state;
			(*out)[i].generation = g->generation;
			(*out)[i].nmembers = g->nmembers;
		}
		*n_out = gc->n;
	}
	unlock_and_notify(gc, &nt);
	return rc;
}

/* groups[i] becomes Dead (its waiters are noted) and leaves the coordinator. */
static void group_remove_at(group_coord_t *gc, size_t i, notes_t *nt)
{
	group_t *g = gc->groups[i];

	g->state = GROUP_DEAD;
	group_touch(g, nt);
	memmove(&gc->groups[i], &gc->groups[i + 1], (gc->n - i - 1) * sizeof *gc->groups);
	gc->n--;
	group_free(g);
}

int group_delete(group_coord_t *gc, const char *group, int64_t now_ms)
{
	notes_t nt = { 0 };
	group_t *g;
	long i;
	int rc = STRAND_ENOENT;

	pthread_mutex_lock(&gc->lock);
	i = group_index(gc, group, NULL);
	if (i < 0)
		goto out;
	g = gc->groups[i];
	group_advance(gc, g, now_ms, &nt);
	rc = STRAND_ENOTEMPTY;
	if (g->nmembers > 0)
		goto out;
	group_remove_at(gc, (size_t)i, &nt);
	rc = 0;
out:
	unlock_and_notify(gc, &nt);
	return rc;
}

int group_coord_drop(group_coord_t *gc, const char *group)
{
	notes_t nt = { 0 };
	long i;
	int rc = STRAND_ENOENT;

	pthread_mutex_lock(&gc->lock);
	i = group_index(gc, group, NULL);
	if (i >= 0) {
		/* parked joins and fetches wake, find no member: 404 */
		group_remove_at(gc, (size_t)i, &nt);
		rc = 0;
	}
	unlock_and_notify(gc, &nt);
	return rc;
}

int group_coord_restore(group_coord_t *gc, const char *group, int32_t generation,
                        group_assignor_t assignor)
{
	group_t *g;
	int rc = 0;

	if (generation < 0)
		return STRAND_EINVAL;
	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g == NULL)
		g = group_create(gc, group, assignor);
	if (g == NULL)
		rc = STRAND_ENOMEM;
	else if (g->generation < generation)
		g->generation = generation;
	if (g != NULL && g->logged_generation < generation)
		g->logged_generation = generation;
	pthread_mutex_unlock(&gc->lock);
	return rc;
}

int group_generation_unlogged(group_coord_t *gc, const char *group, int32_t *generation)
{
	group_t *g;
	int unlogged = 0;

	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g != NULL && g->generation > g->logged_generation) {
		*generation = g->generation;
		unlogged = 1;
	}
	pthread_mutex_unlock(&gc->lock);
	return unlogged;
}

void group_generation_logged(group_coord_t *gc, const char *group, int32_t generation)
{
	group_t *g;

	pthread_mutex_lock(&gc->lock);
	g = group_find(gc, group);
	if (g != NULL && g->logged_generation < generation)
		g->logged_generation = generation;
	pthread_mutex_unlock(&gc->lock);
}
