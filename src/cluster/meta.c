/*
 * meta.c — topics and partition state in etcd (meta.h): the state codec,
 * replica placement, topic admin transactions, and the watcher that keeps
 * the local broker's topics and the cache of states and live brokers.
 *
 * The cache (topics with their partition states, live brokers) is guarded
 * by one mutex held only to copy in or out: no etcd call and no broker call
 * happens under it. Only the watcher thread (and meta_open before it
 * starts) changes local topics.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cluster/meta.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"

#define KEY_BROKERS       CLUSTER_ETCD_PREFIX "brokers/"
#define META_RETRY_MS     200   /* between tries while etcd fails */
#define META_RETRY_APPLY_MS 1000 /* a local topic change that failed: read all again */
#define INCARNATIONS_FILE CLUSTER_TOPICS_FILE   /* in the broker's DATA/meta */
#define META_MAX_KEY      (sizeof META_KEY_PARTITIONS + 256 + 16)

typedef struct mtopic {
	char              *name;          /* owned */
	int                has_topic;     /* topics/<name> seen (partition keys may come first) */
	int32_t            partitions, rf;
	int                unclean;       /* config unclean_leader_election is true */
	int32_t            min_insync;    /* config min_insync_replicas (1 when unset) */
	int64_t            create_revision; /* of topics/<name>: this incarnation's id */
	char              *value;         /* owned: the topic key's JSON */
	int64_t            mod_revision;
	partition_state_t *parts;         /* parts[p]; version 0: no state seen */
	int32_t            nparts;        /* entries allocated */
} mtopic_t;

typedef struct mbroker {
	int32_t id;
	char   *url;                      /* owned */
	int64_t since;                    /* create_revision of brokers/<id>: this
	                                     registration's revision (Kafka's broker epoch) */
	uint8_t unclean;                  /* the registration says "unclean_shutdown":true */
} mbroker_t;

typedef struct mcache {
	mtopic_t  *topics;                /* sorted by name */
	size_t     ntopics, captopics;
	mbroker_t *brokers;               /* sorted by id */
	size_t     nbrokers, capbrokers;
} mcache_t;

struct meta {
	broker_t       *broker;
	cluster_t      *cluster;
	etcd_t         *etcd;
	int32_t         self;
	int             apply_wait_ms;
	int64_t         offsets_segment_bytes; /* of BROKER_OFFSETS_TOPIC likewise */
	int32_t         offsets_partitions; /* of BROKER_OFFSETS_TOPIC when this broker
	                                       creates it */

	pthread_mutex_t lock;             /* guards everything below */
	pthread_cond_t  applied;          /* CLOCK_MONOTONIC; applied_rev grew, or stopping */
	mcache_t        cache;
	int64_t         applied_rev;
	uint64_t        rng;
	int             stopping;
	int             hooks_running;    /* ISR hook calls in progress (close waits) */

	pthread_t       thread;
	int             thread_started;
	/* watcher thread only: */
	int64_t         watch_from;
	int64_t         ctl_rev;          /* election revision the last scan ran under; 0: not
	                                     controller */
	int             ctl_dirty;        /* brokers came or went since the last scan */
	int             apply_failed;     /* a local topic change failed: read all again */
	cJSON          *incarnations;     /* {"name": create revision} of the local topics:
	                                     which etcd topic each was made from
	                                     (INCARNATIONS_FILE) */
	int64_t         ctl_preferred_at; /* next preferred-leader check (monotonic ms) */
};

/* ---- the codec -------------------------------------------------------------- */

static int ids_append(char *out, size_t outlen, size_t *pos, const int32_t *ids, int32_t n)
{
	int32_t i;
	int w;

	for (i = 0; i < n; i++) {
		w = snprintf(out + *pos, outlen - *pos, "%s%" PRId32, i ? "," : "", ids[i]);
		if (w < 0 || (size_t)w >= outlen - *pos)
			return STRAND_ETOOBIG;
		*pos += (size_t)w;
	}
	return 0;
}

int meta_state_encode(const partition_state_t *st, char *out, size_t outlen)
{
	size_t pos = 0;
	int w;

	if (st->nreplicas < 0 || st->nreplicas > REPLICA_MAX || st->nisr < 0 ||
	    st->nisr > REPLICA_MAX)
		return STRAND_EINVAL;
#define PUT(...) do { \
		w = snprintf(out + pos, outlen - pos, __VA_ARGS__); \
		if (w < 0 || (size_t)w >= outlen - pos) \
			return STRAND_ETOOBIG; \
		pos += (size_t)w; \
	} while (0)
	if (outlen == 0)
		return STRAND_ETOOBIG;
	PUT("{\"replicas\":[");
	if (ids_append(out, outlen, &pos, st->replicas, st->nreplicas))
		return STRAND_ETOOBIG;
	PUT("],\"leader\":%" PRId32 ",\"leader_epoch\":%" PRId32 ",\"isr\":[",
	    st->leader, st->leader_epoch);
	if (ids_append(out, outlen, &pos, st->isr, st->nisr))
		return STRAND_ETOOBIG;
	PUT("]}");
#undef PUT
	return 0;
}

static int ids_contain(const int32_t *ids, int32_t n, int32_t id)
{
	int32_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* A JSON array of distinct broker ids (>= 0), at most REPLICA_MAX. */
static int ids_decode(const cJSON *arr, int32_t *ids, int32_t *n)
{
	const cJSON *it;

	*n = 0;
	if (!cJSON_IsArray(arr))
		return -1;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsNumber(it) || it->valuedouble < 0 ||
		    it->valuedouble > CLUSTER_MAX_BROKER_ID ||
		    it->valuedouble != (double)(int32_t)it->valuedouble || *n == REPLICA_MAX ||
		    ids_contain(ids, *n, (int32_t)it->valuedouble))
			return -1;
		ids[(*n)++] = (int32_t)it->valuedouble;
	}
	return 0;
}

static int json_int32_in(const cJSON *v, int64_t min, int64_t max, int32_t *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -1;
	*out = (int32_t)v->valuedouble;
	return 0;
}

int meta_state_decode(const char *json, size_t len, int64_t version, partition_state_t *st,
                      char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(json, len);
	const char *why = NULL;
	int32_t i;

	memset(st, 0, sizeof *st);
	st->version = version;
	if (!cJSON_IsObject(doc))
		why = "not a JSON object";
	else if (ids_decode(cJSON_GetObjectItemCaseSensitive(doc, "replicas"), st->replicas,
	                    &st->nreplicas) != 0 || st->nreplicas == 0)
		why = "\"replicas\" must be 1 to 16 distinct broker ids";
	else if (ids_decode(cJSON_GetObjectItemCaseSensitive(doc, "isr"), st->isr, &st->nisr) != 0)
		why = "\"isr\" must be up to 16 distinct broker ids";
	else if (json_int32_in(cJSON_GetObjectItemCaseSensitive(doc, "leader"), -1,
	                       CLUSTER_MAX_BROKER_ID, &st->leader) != 0)
		why = "\"leader\" must be a broker id or -1";
	else if (json_int32_in(cJSON_GetObjectItemCaseSensitive(doc, "leader_epoch"), 0,
	                       INT32_MAX, &st->leader_epoch) != 0)
		why = "\"leader_epoch\" must be an integer >= 0";
	else if (st->leader >= 0 && !ids_contain(st->replicas, st->nreplicas, st->leader))
		why = "the leader is not a replica";
	for (i = 0; why == NULL && i < st->nisr; i++)
		if (!ids_contain(st->replicas, st->nreplicas, st->isr[i]))
			why = "an ISR member is not a replica";
	cJSON_Delete(doc);
	if (why != NULL)
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "partition state: %s", why);
	return 0;
}

/* ---- placement ------------------------------------------------------------------ */

int meta_assign_replicas(const int32_t *brokers, size_t n, int32_t first_partition,
                         int32_t count, int32_t rf, int32_t start_index, int32_t shift,
                         partition_state_t *out, char *err, size_t errlen)
{
	int32_t i, j, p, first, s, nb = (int32_t)n;

	if (n == 0 || n > INT32_MAX || rf < 1 || rf > REPLICA_MAX || rf > nb)
		return strand_err_set(err, errlen, STRAND_EINVAL, "replication_factor %" PRId32
		                      " needs as many live brokers (%zu live, at most %d replicas)",
		                      rf, n, REPLICA_MAX);
	if (first_partition < 0 || count < 0 || start_index < 0 || start_index >= nb ||
	    shift < 0 || shift >= nb)
		return strand_err_set(err, errlen, STRAND_EINVAL, "bad placement arguments");
	s = shift;
	for (i = 0; i < count; i++) {
		partition_state_t *st = &out[i];

		p = first_partition + i;
		if (p > 0 && p % nb == 0)   /* AdminUtils: the next round of n partitions */
			s++;
		memset(st, 0, sizeof *st);
		first = (p + start_index) % nb;
		st->replicas[0] = brokers[first];
		for (j = 0; j < rf - 1; j++) {
			int32_t step = nb > 1 ? 1 + (s + j) % (nb - 1) : 0;

			st->replicas[j + 1] = brokers[(first + step) % nb];
		}
		st->nreplicas = rf;
		memcpy(st->isr, st->replicas, sizeof st->isr);
		st->nisr = rf;
		st->leader = st->replicas[0];
		st->leader_epoch = 0;
	}
	return 0;
}

/* ---- the controller's decisions ----------------------------------------------------- */

/* Index of id in the sorted ids, or -1. */
static ssize_t ids_sorted_find(const int32_t *ids, size_t n, int32_t id)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (ids[mid] == id)
			return (ssize_t)mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int ids_sorted_contain(const int32_t *ids, size_t n, int32_t id)
{
	return ids_sorted_find(ids, n, id) >= 0;
}

/*
 * A live leader's ISR without its dead followers (Kafka's OfflineReplica
 * transition, removeReplicasFromIsr), into out->isr, in ISR order — but
 * never below max(1, min_insync) members: dead members that would take it
 * lower stay. While |ISR| < min_insync_replicas the HW cannot move, so such
 * a member holds every committed record; kept in the ISR it stays
 * electable if the leader dies too (what KIP-966 keeps in its ELR), and the
 * ISR is never empty (Kafka keeps the last member). The leader is alive,
 * so it is never dropped. Returns 1 when the ISR changed.
 */
static int isr_drop_dead(const partition_state_t *st, const int32_t *live, size_t nlive,
                         int32_t min_insync, partition_state_t *out)
{
	int32_t keep = min_insync > 1 ? min_insync : 1, dead = 0, drop, i, n = 0;

	for (i = 0; i < st->nisr; i++)
		if (!ids_sorted_contain(live, nlive, st->isr[i]))
			dead++;
	drop = st->nisr - keep < dead ? st->nisr - keep : dead;
	if (drop <= 0)
		return 0;
	for (i = 0; i < st->nisr; i++) {
		if (drop > 0 && !ids_sorted_contain(live, nlive, st->isr[i])) {
			drop--;
			continue;
		}
		out->isr[n++] = st->isr[i];
	}
	out->nisr = n;
	return 1;
}

/*
 * KIP-966's unclean shutdown: live ISR members registered with
 * "unclean_shutdown" after this state was written (so not yet handled: a
 * member the leader took back after it caught up is in a newer state) may
 * have lost their logs' unflushed tail, committed records included. They
 * leave the ISR, into cur->isr, while another member (alive or not) stays
 * in it; an ISR of such members only is kept (KIP-966's ELR would choose
 * better; strand keeps the partition available there). Returns 1 when the
 * ISR changed.
 */
static int isr_drop_unclean(const partition_state_t *st, const int32_t *live,
                            const int64_t *since, const uint8_t *crashed, size_t nlive,
                            partition_state_t *cur)
{
	int32_t i, n = 0;
	ssize_t at;

	if (since == NULL || crashed == NULL)
		return 0;
	for (i = 0; i < st->nisr; i++) {
		at = ids_sorted_find(live, nlive, st->isr[i]);
		if (at < 0 || !crashed[at] || st->version >= since[at])
			cur->isr[n++] = st->isr[i];
	}
	if (n == st->nisr || n == 0) {
		cur->nisr = st->nisr;
		memcpy(cur->isr, st->isr, (size_t)st->nisr * sizeof *st->isr);
		return 0;
	}
	cur->nisr = n;
	return 1;
}

int meta_elect(const partition_state_t *st_in, const int32_t *live, const int64_t *since,
               const uint8_t *crashed, size_t nlive, int unclean, int32_t min_insync,
               int preferred, partition_state_t *out)
{
	partition_state_t cur = *st_in;
	const partition_state_t *st = &cur;
	int32_t i, r, pick = -1, n = 0;
	int fenced = isr_drop_unclean(st_in, live, since, crashed, nlive, &cur);
	/* a leader that left its ISR so is replaced like a dead one */
	ssize_t at = st->leader >= 0 && ids_contain(st->isr, st->nisr, st->leader)
	             ? ids_sorted_find(live, nlive, st->leader) : -1;
	int changed;

	*out = *st;
	if (at >= 0) {
		/* dead followers out, same leader and epoch: the leader applies it as
		 * an ISR change of its own leadership */
		changed = isr_drop_dead(st, live, nlive, min_insync, out) || fenced;
		if (since != NULL && st->version < since[at]) {
			/* the leader registered after this state was written: a new
			 * incarnation (a restart within its old lease whose expiry this
			 * controller did not see). A new epoch, so that every follower
			 * truncates against its log again (KIP-101) */
			out->leader_epoch = st->leader_epoch + 1;
			changed = 1;
		}
		r = st->replicas[0];
		if (preferred && r != st->leader && ids_sorted_contain(live, nlive, r) &&
		    ids_contain(out->isr, out->nisr, r)) {
			out->leader = r;   /* back to the preferred replica; the ISR stays */
			out->leader_epoch = st->leader_epoch + 1;   /* one new epoch, not two */
			changed = 1;
		}
		return changed;
	}
	/* Kafka's clean election: the assignment's order, alive and in sync */
	for (i = 0; i < st->nreplicas && pick < 0; i++) {
		r = st->replicas[i];
		if (ids_sorted_contain(live, nlive, r) && ids_contain(st->isr, st->nisr, r))
			pick = r;
	}
	if (pick >= 0) {
		for (i = 0; i < st->nisr; i++)
			if (ids_sorted_contain(live, nlive, st->isr[i]))
				out->isr[n++] = st->isr[i];
		out->nisr = n;
	} else if (unclean) {
		for (i = 0; i < st->nreplicas && pick < 0; i++)
			if (ids_sorted_contain(live, nlive, st->replicas[i]))
				pick = st->replicas[i];
		if (pick >= 0) {
			out->isr[0] = pick;
			out->nisr = 1;
		}
	}
	if (pick < 0 && st->leader < 0)
		return fenced;   /* still nobody to lead; only the ISR may have changed */
	out->leader = pick;   /* -1: offline; the ISR is kept for its members' return */
	out->leader_epoch = st->leader_epoch + 1;
	return 1;
}

int meta_state_for_self(const partition_state_t *st, int32_t self, int64_t self_since,
                        partition_state_t *out)
{
	*out = *st;
	if (st->leader != self || self_since <= 0 || st->version >= self_since)
		return 0;
	out->leader = -1;
	return 1;
}

/* ---- the cache --------------------------------------------------------------------- */

static void mtopic_clear(mtopic_t *t)
{
	free(t->name);
	free(t->value);
	free(t->parts);
	memset(t, 0, sizeof *t);
}

static void mcache_free(mcache_t *c)
{
	size_t i;

	for (i = 0; i < c->ntopics; i++)
		mtopic_clear(&c->topics[i]);
	free(c->topics);
	for (i = 0; i < c->nbrokers; i++)
		free(c->brokers[i].url);
	free(c->brokers);
	memset(c, 0, sizeof *c);
}

/* Index of name, or -(insertion point) - 1. */
static ssize_t mcache_find(const mcache_t *c, const char *name)
{
	size_t lo = 0, hi = c->ntopics, mid;
	int cmp;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		cmp = strcmp(c->topics[mid].name, name);
		if (cmp == 0)
			return (ssize_t)mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(ssize_t)lo - 1;
}

static mtopic_t *mcache_topic(const mcache_t *c, const char *name)
{
	ssize_t i = mcache_find(c, name);

	return i >= 0 ? &c->topics[i] : NULL;
}

/* Find or add the topic entry; NULL on allocation failure. */
static mtopic_t *mcache_topic_add(mcache_t *c, const char *name)
{
	ssize_t i = mcache_find(c, name);
	size_t at;

	if (i >= 0)
		return &c->topics[i];
	at = (size_t)(-i - 1);
	if (c->ntopics == c->captopics) {
		size_t cap = c->captopics ? c->captopics * 2 : 16;
		mtopic_t *grown = realloc(c->topics, cap * sizeof *grown);

		if (grown == NULL)
			return NULL;
		c->topics = grown;
		c->captopics = cap;
	}
	memmove(&c->topics[at + 1], &c->topics[at], (c->ntopics - at) * sizeof *c->topics);
	memset(&c->topics[at], 0, sizeof *c->topics);
	c->topics[at].name = strdup(name);
	if (c->topics[at].name == NULL) {
		memmove(&c->topics[at], &c->topics[at + 1], (c->ntopics - at) * sizeof *c->topics);
		return NULL;
	}
	c->ntopics++;
	return &c->topics[at];
}

static void mcache_topic_remove(mcache_t *c, const char *name)
{
	ssize_t i = mcache_find(c, name);

	if (i < 0)
		return;
	mtopic_clear(&c->topics[i]);
	memmove(&c->topics[i], &c->topics[i + 1],
	        (c->ntopics - (size_t)i - 1) * sizeof *c->topics);
	c->ntopics--;
}

static int mtopic_reserve_parts(mtopic_t *t, int32_t n)
{
	partition_state_t *grown;

	if (n <= t->nparts)
		return 0;
	grown = realloc(t->parts, (size_t)n * sizeof *grown);
	if (grown == NULL)
		return STRAND_ENOMEM;
	memset(&grown[t->nparts], 0, (size_t)(n - t->nparts) * sizeof *grown);
	t->parts = grown;
	t->nparts = n;
	return 0;
}

static ssize_t mcache_broker_find(const mcache_t *c, int32_t id)
{
	size_t i;

	for (i = 0; i < c->nbrokers && c->brokers[i].id <= id; i++)
		if (c->brokers[i].id == id)
			return (ssize_t)i;
	return -1;
}

static int mcache_broker_put(mcache_t *c, int32_t id, const char *url, int64_t since,
                             int unclean)
{
	ssize_t i = mcache_broker_find(c, id);
	char *copy = strdup(url);
	size_t at;

	if (copy == NULL)
		return STRAND_ENOMEM;
	if (i >= 0) {
		free(c->brokers[i].url);
		c->brokers[i].url = copy;
		c->brokers[i].since = since;
		c->brokers[i].unclean = unclean != 0;
		return 0;
	}
	if (c->nbrokers == c->capbrokers) {
		size_t cap = c->capbrokers ? c->capbrokers * 2 : 8;
		mbroker_t *grown = realloc(c->brokers, cap * sizeof *grown);

		if (grown == NULL) {
			free(copy);
			return STRAND_ENOMEM;
		}
		c->brokers = grown;
		c->capbrokers = cap;
	}
	for (at = 0; at < c->nbrokers && c->brokers[at].id < id; at++)
		;
	memmove(&c->brokers[at + 1], &c->brokers[at], (c->nbrokers - at) * sizeof *c->brokers);
	c->brokers[at].id = id;
	c->brokers[at].url = copy;
	c->brokers[at].since = since;
	c->brokers[at].unclean = unclean != 0;
	c->nbrokers++;
	return 0;
}

static void mcache_broker_remove(mcache_t *c, int32_t id)
{
	ssize_t i = mcache_broker_find(c, id);

	if (i < 0)
		return;
	free(c->brokers[i].url);
	memmove(&c->brokers[i], &c->brokers[i + 1],
	        (c->nbrokers - (size_t)i - 1) * sizeof *c->brokers);
	c->nbrokers--;
}

/* ---- keys and values ------------------------------------------------------------ */

typedef enum key_kind {
	KEY_OTHER,
	KEY_TOPIC,       /* topics/<name> */
	KEY_PARTITION,   /* partitions/<name>/<p> */
	KEY_BROKER,      /* brokers/<id> */
} key_kind_t;

/* Which of our keys is this; name (topic) and *num (partition or broker id). */
static key_kind_t key_parse(const char *key, char *name, size_t namelen, int32_t *num)
{
	const char *rest, *slash;
	char *end;
	long v;

	if (strncmp(key, META_KEY_TOPICS, strlen(META_KEY_TOPICS)) == 0) {
		rest = key + strlen(META_KEY_TOPICS);
		if (strlen(rest) >= namelen || !broker_name_valid(rest))
			return KEY_OTHER;
		strcpy(name, rest);
		return KEY_TOPIC;
	}
	if (strncmp(key, META_KEY_PARTITIONS, strlen(META_KEY_PARTITIONS)) == 0) {
		rest = key + strlen(META_KEY_PARTITIONS);
		slash = strrchr(rest, '/');
		if (slash == NULL || (size_t)(slash - rest) >= namelen)
			return KEY_OTHER;
		memcpy(name, rest, (size_t)(slash - rest));
		name[slash - rest] = '\0';
		v = strtol(slash + 1, &end, 10);
		if (!broker_name_valid(name) || end == slash + 1 || *end != '\0' || v < 0 ||
		    v >= INT32_MAX)
			return KEY_OTHER;
		*num = (int32_t)v;
		return KEY_PARTITION;
	}
	if (strncmp(key, KEY_BROKERS, strlen(KEY_BROKERS)) == 0) {
		rest = key + strlen(KEY_BROKERS);
		v = strtol(rest, &end, 10);
		if (end == rest || *end != '\0' || v < 0 || v > CLUSTER_MAX_BROKER_ID)
			return KEY_OTHER;
		*num = (int32_t)v;
		return KEY_BROKER;
	}
	return KEY_OTHER;
}

/* A topic key's value: partitions, replication factor, whether unclean
 * leader election is on, min_insync_replicas (1 when unset or not a number;
 * other configs are read when applied). 0 or -1. */
static int topic_value_parse(const char *value, size_t len, int32_t *partitions, int32_t *rf,
                             int *unclean, int32_t *min_insync)
{
	cJSON *doc = cJSON_ParseWithLength(value, len);
	const cJSON *configs = cJSON_GetObjectItemCaseSensitive(doc, "configs");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(configs, "unclean_leader_election");
	const cJSON *mi = cJSON_GetObjectItemCaseSensitive(configs, "min_insync_replicas");
	int rc = -1;

	if (unclean != NULL)
		*unclean = cJSON_IsString(u) && strcmp(u->valuestring, "true") == 0;
	if (min_insync != NULL) {
		long long v = cJSON_IsString(mi) ? strtoll(mi->valuestring, NULL, 10) : 1;

		*min_insync = v > INT32_MAX ? INT32_MAX : v > 1 ? (int32_t)v : 1;
	}
	if (cJSON_IsObject(doc) &&
	    json_int32_in(cJSON_GetObjectItemCaseSensitive(doc, "partitions"), 1, INT32_MAX,
	                  partitions) == 0 &&
	    json_int32_in(cJSON_GetObjectItemCaseSensitive(doc, "replication_factor"), 1,
	                  REPLICA_MAX, rf) == 0 &&
	    (cJSON_GetObjectItemCaseSensitive(doc, "configs") == NULL ||
	     cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "configs"))))
		rc = 0;
	cJSON_Delete(doc);
	return rc;
}

/* The topic's configs: defaults, then the stored ones, then extra (may be
 * NULL). 0 or STRAND_EINVAL naming the config. */
static int topic_config_build(const char *value, size_t len, const meta_config_kv_t *extra,
                              size_t nextra, topic_config_t *cfg, char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(value, len);
	const cJSON *m;
	size_t i;
	int rc = 0;

	topic_config_default(cfg);
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "configs")) {
		if (!cJSON_IsString(m)) {
			rc = strand_err_set(err, errlen, STRAND_EINVAL, "stored config %s is not a "
			                    "string", m->string);
			goto out;
		}
		rc = topic_config_set(cfg, m->string, m->valuestring, err, errlen);
		if (rc == STRAND_ENOENT)
			rc = 0;   /* a config this version does not know: written by a newer one */
		if (rc)
			goto out;
	}
	for (i = 0; i < nextra; i++) {
		rc = topic_config_set(cfg, extra[i].name, extra[i].value, err, errlen);
		if (rc == STRAND_ENOENT)
			rc = strand_err_set(err, errlen, STRAND_EINVAL, "unknown config %s",
			                    extra[i].name);
		if (rc)
			goto out;
	}
	rc = topic_config_validate(cfg, err, errlen);
out:
	cJSON_Delete(doc);
	return rc ? STRAND_EINVAL : 0;
}

static int config_to_json(const char *name, const char *value, int is_number, void *ctx)
{
	(void)is_number;
	return cJSON_AddStringToObject(ctx, name, value) != NULL ? 0 : STRAND_ENOMEM;
}

/* The topic key's JSON (malloc'd), NULL on allocation failure. */
static char *topic_value_build(const char *name, int32_t partitions, int32_t rf,
                               const topic_config_t *cfg)
{
	cJSON *doc = cJSON_CreateObject(), *configs;
	char *text = NULL;

	configs = doc != NULL ? cJSON_CreateObject() : NULL;
	if (configs == NULL)
		goto out;
	cJSON_AddItemToObject(doc, "configs", configs);
	if (cJSON_AddStringToObject(doc, "name", name) &&
	    cJSON_AddNumberToObject(doc, "partitions", partitions) &&
	    cJSON_AddNumberToObject(doc, "replication_factor", rf) &&
	    topic_config_each(cfg, config_to_json, configs) == 0)
		text = cJSON_PrintUnformatted(doc);
out:
	cJSON_Delete(doc);
	return text;
}

/*
 * Put one key-value into a cache. *kind says which key it was; for a topic
 * or a partition, name gets the topic. A value that does not parse is
 * skipped with a line on stderr (not ours to judge, nothing to apply).
 */
static int mcache_apply_put(mcache_t *c, const etcd_kv_t *kv, key_kind_t *kind, char *name,
                            size_t namelen, int32_t *num)
{
	partition_state_t st;
	mtopic_t *t;
	char why[256];
	int32_t partitions, rf;
	cJSON *doc;
	const cJSON *url;
	int rc = 0, unclean = 0;
	int32_t min_insync = 1;

	*kind = key_parse(kv->key, name, namelen, num);
	switch (*kind) {
	case KEY_TOPIC:
		if (topic_value_parse(kv->value, kv->value_len, &partitions, &rf, &unclean,
		                      &min_insync) != 0) {
			fprintf(stderr, "strand: meta: ignoring %s: not a topic's JSON\n", kv->key);
			*kind = KEY_OTHER;
			return 0;
		}
		t = mcache_topic_add(c, name);
		if (t == NULL)
			return STRAND_ENOMEM;
		free(t->value);
		t->value = strdup(kv->value);
		if (t->value == NULL)
			return STRAND_ENOMEM;
		t->has_topic = 1;
		t->partitions = partitions;
		t->rf = rf;
		t->unclean = unclean;
		t->min_insync = min_insync;
		t->mod_revision = kv->mod_revision;
		t->create_revision = kv->create_revision;
		return mtopic_reserve_parts(t, partitions);
	case KEY_PARTITION:
		if (meta_state_decode(kv->value, kv->value_len, kv->mod_revision, &st, why,
		                      sizeof why) != 0) {
			fprintf(stderr, "strand: meta: ignoring %s: %s\n", kv->key, why);
			*kind = KEY_OTHER;
			return 0;
		}
		t = mcache_topic_add(c, name);
		if (t == NULL || mtopic_reserve_parts(t, *num + 1) != 0)
			return STRAND_ENOMEM;
		t->parts[*num] = st;
		return 0;
	case KEY_BROKER:
		doc = cJSON_ParseWithLength(kv->value, kv->value_len);
		url = cJSON_GetObjectItemCaseSensitive(doc, "url");
		if (cJSON_IsString(url))
			rc = mcache_broker_put(c, *num, url->valuestring, kv->create_revision,
			                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			                               doc, "unclean_shutdown")));
		else
			*kind = KEY_OTHER;
		cJSON_Delete(doc);
		return rc;
	default:
		return 0;
	}
}

static void mcache_apply_delete(mcache_t *c, const etcd_kv_t *kv, key_kind_t *kind, char *name,
                                size_t namelen, int32_t *num)
{
	mtopic_t *t;

	*kind = key_parse(kv->key, name, namelen, num);
	switch (*kind) {
	case KEY_TOPIC:
		mcache_topic_remove(c, name);
		break;
	case KEY_PARTITION:
		t = mcache_topic(c, name);
		if (t != NULL && *num < t->nparts)
			t->parts[*num].version = 0;
		break;
	case KEY_BROKER:
		mcache_broker_remove(c, *num);
		break;
	default:
		break;
	}
}

static void meta_controller_tick(meta_t *m);

/* ---- applying to the local broker (watcher thread) --------------------------------- */

/* Hand partition p's cached state to the broker (it ignores one it has),
 * without a leadership granted before this broker's registration. */
static void meta_apply_state(meta_t *m, const char *name, const partition_state_t *cached,
                             int32_t p)
{
	partition_state_t st;
	int64_t since = 0;
	char err[256];
	ssize_t self;

	pthread_mutex_lock(&m->lock);
	self = mcache_broker_find(&m->cache, m->self);
	if (self >= 0)
		since = m->cache.brokers[self].since;
	pthread_mutex_unlock(&m->lock);
	if (meta_state_for_self(cached, m->self, since, &st))
		fprintf(stderr, "strand: [%" PRId64 "] meta: %s/%" PRId32 ": epoch %" PRId32 " was "
		        "granted to this broker before it registered (version %" PRId64 " < %" PRId64
		        "): no leader here until the controller's new epoch\n", clock_now_ms(), name,
		        p, cached->leader_epoch, cached->version, since);
	if (broker_partition_set_state(m->broker, name, p, &st, err, sizeof err) != 0)
		fprintf(stderr, "strand: meta: cannot apply the state of %s/%" PRId32 ": %s\n",
		        name, p, err);
}

/* Every known state of the topic's partitions, to the broker. */
static void meta_apply_states(meta_t *m, const char *name)
{
	partition_state_t *copy = NULL;
	const mtopic_t *t;
	int32_t n = 0, p;

	pthread_mutex_lock(&m->lock);
	t = mcache_topic(&m->cache, name);
	if (t != NULL && t->has_topic) {
		n = t->partitions < t->nparts ? t->partitions : t->nparts;
		copy = malloc((size_t)(n > 0 ? n : 1) * sizeof *copy);
		if (copy != NULL)
			memcpy(copy, t->parts, (size_t)n * sizeof *copy);
	}
	pthread_mutex_unlock(&m->lock);
	if (copy == NULL)
		return;
	for (p = 0; p < n; p++)
		if (copy[p].version > 0)
			meta_apply_state(m, name, &copy[p], p);
	free(copy);
}

/*
 * Which etcd topic each local topic was made from: the create_revision of
 * topics/<name> when it was created here (Kafka's topic id, KIP-516). A
 * topic deleted and made again while this broker was away has a new one,
 * so the local one — the old topic's records — is replaced, never mixed
 * with the new topic's. Kept in DATA/meta/etcd_topics.json (watcher thread).
 */
static int64_t incarnation_get(meta_t *m, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->incarnations, name);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static void incarnation_save(meta_t *m)
{
	char path[4096], err[256], *text = cJSON_PrintUnformatted(m->incarnations);

	snprintf(path, sizeof path, "%s/" INCARNATIONS_FILE, broker_meta_dir(m->broker));
	if (text == NULL ||
	    broker_file_write_atomic(path, text, strlen(text), err, sizeof err) != 0)
		fprintf(stderr, "strand: meta: cannot record topic incarnations in %s: %s\n", path,
		        text == NULL ? "out of memory" : err);
	free(text);
}

/* Record name's incarnation (0: forget it) and save when it changed. */
static void incarnation_set(meta_t *m, const char *name, int64_t rev)
{
	if (incarnation_get(m, name) == rev)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(m->incarnations, name);
	if (rev != 0)
		cJSON_AddNumberToObject(m->incarnations, name, (double)rev);
	incarnation_save(m);
}

static int incarnation_load(meta_t *m, char *err, size_t errlen)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof path, "%s/" INCARNATIONS_FILE, broker_meta_dir(m->broker));
	rc = broker_file_read(path, &text, &len, err, errlen);
	if (rc == 0) {
		m->incarnations = cJSON_ParseWithLength(text, len);
		free(text);
		if (!cJSON_IsObject(m->incarnations)) {
			/* unreadable: local topics are adopted as they are, as before */
			fprintf(stderr, "strand: meta: %s is not a JSON object: ignored\n", path);
			cJSON_Delete(m->incarnations);
			m->incarnations = NULL;
		}
	} else if (rc != STRAND_ENOENT) {
		return rc;
	}
	if (m->incarnations == NULL)
		m->incarnations = cJSON_CreateObject();
	return m->incarnations != NULL ? 0
	       : strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
}

static int config_text(const char *name, const char *value, int is_number, void *ctx)
{
	(void)is_number;
	return buf_appendf(ctx, "%s=%s;", name, value);
}

/* Do two configs say the same (every config by its text)? */
static int config_same(const topic_config_t *a, const topic_config_t *b)
{
	buf_t x = BUF_INIT, y = BUF_INIT;
	int same = topic_config_each(a, config_text, &x) == 0 &&
	           topic_config_each(b, config_text, &y) == 0 && x.len == y.len &&
	           (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);

	buf_free(&x);
	buf_free(&y);
	return same;
}

/*
 * Make the local topic what the cache says (create, grow, configs), then
 * hand it its partitions' states. A failure is logged and retried later
 * (the watcher reads everything again after META_RETRY_APPLY_MS).
 */
static void meta_apply_topic(meta_t *m, const char *name)
{
	char err[512], *value = NULL;
	int32_t partitions = 0, rf = 0, cur, cur_rf;
	int64_t incarnation = 0, had;
	topic_config_t cfg, local;
	mtopic_t *t;
	topic_t *lt;
	int rc;

	pthread_mutex_lock(&m->lock);
	t = mcache_topic(&m->cache, name);
	if (t != NULL && t->has_topic) {
		partitions = t->partitions;
		rf = t->rf;
		incarnation = t->create_revision;
		value = strdup(t->value);
	}
	pthread_mutex_unlock(&m->lock);
	if (value == NULL)
		return;
	if (topic_config_build(value, strlen(value), NULL, 0, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "strand: meta: topic %s: stored configs refused (%s): defaults "
		        "used\n", name, err);
		topic_config_default(&cfg);
	}
	lt = broker_topic_get(m->broker, name);
	if (lt != NULL) {
		cur = topic_partition_count(lt);
		cur_rf = topic_replication_factor(lt);
		topic_get_config(lt, &local);
		topic_release(lt);
		had = incarnation_get(m, name);
		if ((had != 0 && had != incarnation) || cur > partitions || cur_rf != rf) {
			/* not the topic etcd has: deleted and made again while we were away */
			fprintf(stderr, "strand: meta: topic %s here (incarnation %" PRId64 ", %" PRId32
			        " partitions, replication factor %" PRId32 ") is not etcd's (%" PRId64
			        ", %" PRId32 ", %" PRId32 "): replacing it\n", name, had, cur, cur_rf,
			        incarnation, partitions, rf);
			rc = broker_topic_delete(m->broker, name, err, sizeof err);
			if (rc != 0 && rc != STRAND_ENOENT)
				goto fail;
			lt = NULL;
		} else if (partitions > cur || !config_same(&cfg, &local)) {
			rc = broker_topic_alter(m->broker, name, partitions > cur ? partitions : 0,
			                        &cfg, err, sizeof err);
			if (rc != 0)
				goto fail;
		}
	}
	if (lt == NULL) {
		rc = broker_topic_create(m->broker, name, partitions, rf, &cfg, err, sizeof err);
		if (rc != 0)
			goto fail;
	}
	incarnation_set(m, name, incarnation);   /* made here, or adopted as it was */
	free(value);
	meta_apply_states(m, name);
	return;
fail:
	fprintf(stderr, "strand: meta: cannot apply topic %s here: %s (trying again in %d ms)\n",
	        name, err, META_RETRY_APPLY_MS);
	m->apply_failed = 1;
	free(value);
}

static void meta_apply_topic_delete(meta_t *m, const char *name)
{
	char err[512];
	int rc = broker_topic_delete(m->broker, name, err, sizeof err);

	if (rc != 0 && rc != STRAND_ENOENT)
		fprintf(stderr, "strand: meta: cannot delete topic %s here: %s\n", name, err);
	else
		incarnation_set(m, name, 0);
}

static void meta_set_applied(meta_t *m, int64_t rev)
{
	pthread_mutex_lock(&m->lock);
	if (rev > m->applied_rev) {
		m->applied_rev = rev;
		pthread_cond_broadcast(&m->applied);
	}
	pthread_mutex_unlock(&m->lock);
}

/* One watched change: into the cache, then to the broker. */
static int meta_on_event(void *arg, const etcd_event_t *ev)
{
	meta_t *m = arg;
	char name[256];
	int32_t num = 0;
	key_kind_t kind;
	partition_state_t st;
	const mtopic_t *t;
	int rc = 0, apply_state = 0;

	pthread_mutex_lock(&m->lock);
	if (ev->type == ETCD_EVENT_PUT)
		rc = mcache_apply_put(&m->cache, ev->kv, &kind, name, sizeof name, &num);
	else
		mcache_apply_delete(&m->cache, ev->kv, &kind, name, sizeof name, &num);
	if (rc == 0 && kind == KEY_PARTITION && ev->type == ETCD_EVENT_PUT) {
		/* a partition of a topic already applied here; the partitions a
		 * create or alter adds are applied with their topic key, last */
		t = mcache_topic(&m->cache, name);
		if (t != NULL && t->has_topic && num < t->partitions && num < t->nparts) {
			st = t->parts[num];
			apply_state = 1;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (apply_state)
		meta_apply_state(m, name, &st, num);
	if (kind == KEY_BROKER) {
		/* a broker came or went: the controller acts at once */
		m->ctl_dirty = 1;
		meta_controller_tick(m);
	}
	if (rc != 0)
		fprintf(stderr, "strand: meta: out of memory applying %s\n", ev->kv->key);
	if (kind == KEY_TOPIC && ev->type == ETCD_EVENT_PUT)
		meta_apply_topic(m, name);
	else if (kind == KEY_TOPIC)
		meta_apply_topic_delete(m, name);
	/*
	 * A topic change's last event is its topic key: the revision is applied
	 * once that is. A partition key may be followed by more of its
	 * revision; the end of the watch slice marks it applied.
	 */
	meta_set_applied(m, kind == KEY_PARTITION ? ev->kv->mod_revision - 1
	                                          : ev->kv->mod_revision);
	return 0;
}

/*
 * Read everything, replace the cache, reconcile the local topics with it.
 * *revision gets the read's revision.
 */
static int meta_list(meta_t *m, int64_t *revision, char *err, size_t errlen)
{
	etcd_kvs_t kvs;
	mcache_t fresh, old;
	char name[256], **names = NULL;
	size_t i, n = 0;
	int32_t num;
	key_kind_t kind;
	int rc;

	memset(&fresh, 0, sizeof fresh);
	rc = etcd_range(m->etcd, CLUSTER_ETCD_PREFIX, 1, &kvs, err, errlen);
	if (rc)
		return rc;
	for (i = 0; i < kvs.n && rc == 0; i++)
		rc = mcache_apply_put(&fresh, &kvs.kvs[i], &kind, name, sizeof name, &num);
	*revision = kvs.revision;
	etcd_kvs_free(&kvs);
	if (rc) {
		mcache_free(&fresh);
		return strand_err_set(err, errlen, rc, "meta: out of memory reading etcd");
	}
	pthread_mutex_lock(&m->lock);
	old = m->cache;
	m->cache = fresh;
	pthread_mutex_unlock(&m->lock);
	mcache_free(&old);

	/* local topics etcd does not have were deleted while we were away */
	rc = broker_topic_names(m->broker, &names, &n);
	if (rc)
		return strand_err_set(err, errlen, rc, "meta: cannot list local topics");
	for (i = 0; i < n; i++) {
		int known;

		pthread_mutex_lock(&m->lock);
		known = mcache_topic(&m->cache, names[i]) != NULL &&
		        mcache_topic(&m->cache, names[i])->has_topic;
		pthread_mutex_unlock(&m->lock);
		if (!known) {
			fprintf(stderr, "strand: meta: topic %s is not in etcd (deleted while this "
			        "broker was away): deleting it here\n", names[i]);
			meta_apply_topic_delete(m, names[i]);
		}
	}
	free(names);
	for (i = 0;; i++) {
		pthread_mutex_lock(&m->lock);
		if (i < m->cache.ntopics)
			snprintf(name, sizeof name, "%s", m->cache.topics[i].name);
		n = m->cache.ntopics;
		pthread_mutex_unlock(&m->lock);
		if (i >= n)
			break;
		meta_apply_topic(m, name);
	}
	pthread_mutex_lock(&m->lock);
	m->applied_rev = *revision;   /* may go down after a re-list: nobody waits below it */
	pthread_cond_broadcast(&m->applied);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ---- the controller (watcher thread) --------------------------------------------------- */

typedef struct ctl_change {
	char              name[256];
	int32_t           p;
	partition_state_t from, to;
} ctl_change_t;

/* The partitions whose state the controller changes now, from the cache. */
static ctl_change_t *meta_controller_plan(meta_t *m, int preferred, size_t *n)
{
	ctl_change_t *changes = NULL, *grown;
	int32_t *live = NULL, p;
	int64_t *since = NULL;
	uint8_t *crashed = NULL;
	size_t nlive, i, cap = 0;
	partition_state_t to;
	const mtopic_t *t;

	*n = 0;
	pthread_mutex_lock(&m->lock);
	nlive = m->cache.nbrokers;
	live = malloc((nlive > 0 ? nlive : 1) * sizeof *live);
	since = malloc((nlive > 0 ? nlive : 1) * sizeof *since);
	crashed = malloc(nlive > 0 ? nlive : 1);
	if (since == NULL || crashed == NULL) {
		free(live);
		live = NULL;
	}
	for (i = 0; live != NULL && i < nlive; i++) {
		live[i] = m->cache.brokers[i].id;   /* sorted by id */
		since[i] = m->cache.brokers[i].since;
		crashed[i] = m->cache.brokers[i].unclean;
	}
	for (i = 0; live != NULL && i < m->cache.ntopics; i++) {
		t = &m->cache.topics[i];
		for (p = 0; t->has_topic && p < t->partitions && p < t->nparts; p++) {
			if (t->parts[p].version == 0 ||
			    !meta_elect(&t->parts[p], live, since, crashed, nlive, t->unclean,
			                t->min_insync, preferred, &to))
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				grown = realloc(changes, cap * sizeof *grown);
				if (grown == NULL)
					goto out;
				changes = grown;
			}
			snprintf(changes[*n].name, sizeof changes[*n].name, "%s", t->name);
			changes[*n].p = p;
			changes[*n].from = t->parts[p];
			changes[*n].to = to;
			(*n)++;
		}
	}
out:
	pthread_mutex_unlock(&m->lock);
	free(live);
	free(since);
	free(crashed);
	return changes;
}

/*
 * The controller's work, when this broker is the controller: after an
 * election (everything), when brokers came or went (ctl_dirty), and every
 * META_PREFERRED_CHECK_MS (preferred leaders). One fenced CAS per
 * partition; one that fails (changed meanwhile, etcd down) is planned
 * again at the next tick from the state the watch brings.
 */
static void meta_controller_tick(meta_t *m)
{
	char key[META_MAX_KEY], value[META_MAX_STATE_JSON], err[512];
	etcd_compare_t same = { key, ETCD_TARGET_MOD, ETCD_CMP_EQUAL, 0 };
	etcd_op_t put = { ETCD_OP_PUT, key, 0, value, 0, 0 };
	etcd_txn_result_t res;
	ctl_change_t *changes;
	int64_t rev, now = clock_now_ms();
	int preferred, rc;
	size_t n, i;

	if (!cluster_is_controller(m->cluster, &rev)) {
		m->ctl_rev = 0;
		return;
	}
	preferred = now >= m->ctl_preferred_at;
	if (rev == m->ctl_rev && !m->ctl_dirty && !preferred)
		return;
	if (rev != m->ctl_rev)
		fprintf(stderr, "strand: meta: broker %" PRId32 " controls partition leadership "
		        "(election revision %" PRId64 "): checking every partition\n", m->self, rev);
	m->ctl_rev = rev;
	m->ctl_dirty = 0;
	if (preferred)
		m->ctl_preferred_at = now + META_PREFERRED_CHECK_MS;
	changes = meta_controller_plan(m, preferred, &n);
	for (i = 0; i < n; i++) {
		const ctl_change_t *c = &changes[i];

		snprintf(key, sizeof key, META_KEY_PARTITIONS "%s/%" PRId32, c->name, c->p);
		if (meta_state_encode(&c->to, value, sizeof value) != 0)
			continue;
		put.value_len = strlen(value);
		same.number = c->from.version;
		rc = cluster_controller_txn(m->cluster, &same, 1, &put, 1, &res, err, sizeof err);
		if (rc == STRAND_EDEPOSED) {
			fprintf(stderr, "strand: meta: %s\n", err);
			m->ctl_rev = 0;
			break;
		}
		if (rc != 0 || !res.succeeded) {
			m->ctl_dirty = 1;   /* again at the next tick, from fresher state */
			if (rc != 0)
				fprintf(stderr, "strand: meta: controller: %s/%" PRId32 ": %s\n", c->name,
				        c->p, err);
		} else {
			char from_isr[96], to_isr[96];

			replica_ids_format(from_isr, sizeof from_isr, c->from.isr, c->from.nisr);
			replica_ids_format(to_isr, sizeof to_isr, c->to.isr, c->to.nisr);
			fprintf(stderr, "strand: [%" PRId64 "] meta: controller: %s/%" PRId32 " leader %"
			        PRId32 " -> %" PRId32 ", epoch %" PRId32 ", isr %s -> %s (version %" PRId64
			        ")\n", clock_now_ms(), c->name, c->p, c->from.leader, c->to.leader,
			        c->to.leader_epoch, from_isr, to_isr, c->from.version);
		}
		etcd_kvs_free(&res.kvs);
	}
	free(changes);
}

/* ---- the watcher thread ------------------------------------------------------------ */

/* Wait ms or until close. 1 when stopping. */
static int meta_pause(meta_t *m, int64_t ms)
{
	int64_t deadline = clock_now_ms() + ms;
	struct timespec ts;
	int stopping;

	ts.tv_sec = (time_t)(deadline / 1000);
	ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
	pthread_mutex_lock(&m->lock);
	while (!m->stopping && clock_now_ms() < deadline)
		pthread_cond_timedwait(&m->applied, &m->lock, &ts);
	stopping = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return stopping;
}

static int meta_stopping(meta_t *m)
{
	int s;

	pthread_mutex_lock(&m->lock);
	s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

static void *meta_thread(void *arg)
{
	meta_t *m = arg;
	char err[512], last[512] = "";
	int64_t next, rev;
	int rc, relist = 0;

	while (!meta_stopping(m)) {
		if (m->apply_failed) {
			m->apply_failed = 0;
			if (meta_pause(m, META_RETRY_APPLY_MS))
				break;
			relist = 1;
		}
		if (relist) {
			rc = meta_list(m, &rev, err, sizeof err);
			if (rc != 0) {
				if (strcmp(err, last) != 0)
					fprintf(stderr, "strand: meta: cannot read etcd: %s\n", err);
				snprintf(last, sizeof last, "%s", err);
				if (meta_pause(m, META_RETRY_MS))
					break;
				continue;
			}
			m->watch_from = rev + 1;
			m->ctl_dirty = 1;
			relist = 0;
		}
		next = m->watch_from;
		rc = etcd_watch(m->etcd, CLUSTER_ETCD_PREFIX, 1, m->watch_from, META_WATCH_SLICE_MS,
		                meta_on_event, m, &next, err, sizeof err);
		m->watch_from = next;
		meta_set_applied(m, next - 1);   /* every event before next is applied */
		meta_controller_tick(m);
		if (rc == 0 || rc == STRAND_ETIMEDOUT) {
			last[0] = '\0';
			continue;
		}
		if (rc == STRAND_ERANGE) {
			fprintf(stderr, "strand: meta: %s: reading everything again\n", err);
			relist = 1;
			continue;
		}
		if (strcmp(err, last) != 0)
			fprintf(stderr, "strand: meta: watch: %s (retrying)\n", err);
		snprintf(last, sizeof last, "%s", err);
		if (meta_pause(m, META_RETRY_MS))
			break;
	}
	return NULL;
}

/* ---- hooks the broker calls ------------------------------------------------------- */

static int meta_lease_valid(void *ctx)
{
	return cluster_lease_valid(ctx);
}

/*
 * Does the proposal add to the ISR a broker that is not registered (its
 * lease expired: the controller dropped it, or would)? KIP-841: a fenced
 * broker does not join an ISR, even while it still fetches (cut off from
 * etcd only) — else the leader and the controller would take turns adding
 * and dropping it. Members already in the cached state's ISR are not
 * judged (a dead one kept for min_insync_replicas may stay). Under m->lock.
 */
static int isr_adds_unregistered(const mcache_t *c, const char *topic, int32_t p,
                                 const partition_state_t *proposed)
{
	const mtopic_t *t = mcache_topic(c, topic);
	const partition_state_t *cur;

	if (t == NULL || p < 0 || p >= t->nparts || t->parts[p].version == 0)
		return 0;
	cur = &t->parts[p];
	for (int32_t i = 0; i < proposed->nisr; i++)
		if (!ids_contain(cur->isr, cur->nisr, proposed->isr[i]) &&
		    mcache_broker_find(c, proposed->isr[i]) < 0)
			return 1;
	return 0;
}

/*
 * The leader's ISR change (replica.h): one CAS on the partition key, its
 * mod_revision == the state's version. The watch brings the new state
 * back to every broker, this one included.
 */
int meta_propose_isr(meta_t *m, const char *topic, int32_t p,
                     const partition_state_t *proposed)
{
	char key[META_MAX_KEY], value[META_MAX_STATE_JSON], err[256];
	etcd_compare_t same = { key, ETCD_TARGET_MOD, ETCD_CMP_EQUAL, proposed->version };
	etcd_op_t put = { ETCD_OP_PUT, key, 0, value, 0, 0 };
	etcd_txn_result_t res;
	const mtopic_t *cur;
	ssize_t self;
	int rc;

	if (proposed->leader != m->self || proposed->version <= 0)
		return STRAND_EINVAL;
	rc = meta_state_encode(proposed, value, sizeof value);
	if (rc)
		return rc;
	put.value_len = strlen(value);
	snprintf(key, sizeof key, META_KEY_PARTITIONS "%s/%" PRId32, topic, p);
	pthread_mutex_lock(&m->lock);
	if (m->stopping) {
		pthread_mutex_unlock(&m->lock);
		return STRAND_ECLOSED;
	}
	self = mcache_broker_find(&m->cache, m->self);
	if ((self >= 0 && proposed->version < m->cache.brokers[self].since) ||
	    isr_adds_unregistered(&m->cache, topic, p, proposed)) {
		/* a leadership granted before this registration (a restart within
		 * the old lease): the controller gives it a new epoch first (an ISR
		 * write would make the state newer than the registration); or a
		 * member added that is not registered (KIP-841) */
		pthread_mutex_unlock(&m->lock);
		return STRAND_EAGAIN;
	}
	cur = mcache_topic(&m->cache, topic);
	for (int32_t i = 0; cur != NULL && p < cur->nparts &&
	                    cur->parts[p].version == proposed->version && i < proposed->nisr; i++) {
		ssize_t at = mcache_broker_find(&m->cache, proposed->isr[i]);

		if (at >= 0 && m->cache.brokers[at].unclean &&
		    proposed->version < m->cache.brokers[at].since &&
		    ids_contain(cur->parts[p].isr, cur->parts[p].nisr, proposed->isr[i])) {
			/* a member back from an unclean shutdown that the controller
			 * has not taken out yet (isr_drop_unclean): a write keeping it
			 * would make the state newer than its registration, and keep
			 * it electable. (One the leader adds has caught up since.) */
			pthread_mutex_unlock(&m->lock);
			return STRAND_EAGAIN;
		}
	}
	m->hooks_running++;
	pthread_mutex_unlock(&m->lock);
	rc = etcd_txn(m->etcd, &same, 1, &put, 1, NULL, 0, &res, err, sizeof err);
	if (rc == 0) {
		etcd_kvs_free(&res.kvs);
		rc = res.succeeded ? 0 : STRAND_EAGAIN;   /* changed meanwhile: propose again */
	} else {
		rc = STRAND_EUNAVAILABLE;
	}
	pthread_mutex_lock(&m->lock);
	m->hooks_running--;
	pthread_cond_broadcast(&m->applied);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int meta_isr_hook(void *ctx, const char *topic, int32_t p,
                         const partition_state_t *proposed)
{
	return meta_propose_isr(ctx, topic, p, proposed);
}

/* ---- open, close ------------------------------------------------------------------ */

int meta_open(const meta_options_t *opts, meta_t **out, char *err, size_t errlen)
{
	etcd_options_t eo;
	pthread_condattr_t ca;
	meta_t *m;
	int64_t rev;
	int rc;

	*out = NULL;
	if (opts->broker == NULL || opts->cluster == NULL || opts->etcd_endpoints == NULL)
		return strand_err_set(err, errlen, STRAND_EINVAL, "meta: broker, cluster and etcd "
		                      "endpoints are required");
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->applied, &ca);
	pthread_condattr_destroy(&ca);
	m->broker = opts->broker;
	m->cluster = opts->cluster;
	m->self = cluster_broker_id(opts->cluster);
	m->apply_wait_ms = opts->apply_wait_ms > 0 ? opts->apply_wait_ms
	                                           : META_DEFAULT_APPLY_WAIT_MS;
	m->offsets_partitions = opts->offsets_partitions > 0 ? opts->offsets_partitions
	                                                     : META_OFFSETS_PARTITIONS_DEFAULT;
	m->offsets_segment_bytes = opts->offsets_segment_bytes > 0
	                           ? opts->offsets_segment_bytes : META_OFFSETS_SEGMENT_BYTES_DEFAULT;
	if (m->offsets_partitions > META_MAX_NEW_PARTITIONS) {
		free(m);
		return strand_err_set(err, errlen, STRAND_EINVAL, "offsets_partitions must be 1..%d",
		                      META_MAX_NEW_PARTITIONS);
	}
	m->rng = (uint64_t)clock_now_ms() * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() ^
	         ((uint64_t)m->self << 32);
	if (m->rng == 0)
		m->rng = 1;
	memset(&eo, 0, sizeof eo);
	eo.endpoints = opts->etcd_endpoints;
	eo.ca_file = opts->etcd_ca_file;
	rc = etcd_open(&eo, &m->etcd, err, errlen);
	if (rc)
		goto fail;
	rc = incarnation_load(m, err, errlen);
	if (rc)
		goto fail;
	/* cluster mode from here on (broker_replicated): topics may have rf > 1 */
	broker_set_lease_check(m->broker, meta_lease_valid, m->cluster);
	broker_set_isr_hook(m->broker, meta_isr_hook, m);
	rc = meta_list(m, &rev, err, errlen);
	if (rc)
		goto fail;
	m->watch_from = rev + 1;
	if (pthread_create(&m->thread, NULL, meta_thread, m) != 0) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "meta: cannot start its thread");
		goto fail;
	}
	m->thread_started = 1;
	*out = m;
	return 0;
fail:
	meta_close(m);
	return rc;
}

void meta_close(meta_t *m)
{
	if (m == NULL)
		return;
	if (m->broker != NULL)   /* the hook points at m */
		broker_set_isr_hook(m->broker, NULL, NULL);
	pthread_mutex_lock(&m->lock);
	m->stopping = 1;
	pthread_cond_broadcast(&m->applied);
	while (m->hooks_running > 0)
		pthread_cond_wait(&m->applied, &m->lock);
	pthread_mutex_unlock(&m->lock);
	if (m->thread_started)
		pthread_join(m->thread, NULL);
	etcd_close(m->etcd);
	mcache_free(&m->cache);
	cJSON_Delete(m->incarnations);
	pthread_cond_destroy(&m->applied);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ---- topic admin ------------------------------------------------------------------- */

/* etcd could not be asked (or did not answer): 503 territory. */
static int meta_etcd_failed(int rc, const char *what, const char *detail, char *err,
                            size_t errlen)
{
	if (rc == STRAND_ENOMEM)
		return strand_err_set(err, errlen, rc, "out of memory");
	return strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "etcd unreachable: %s%s (%s)",
	                      what, rc == STRAND_ETIMEDOUT ? " may or may not have happened" : "",
	                      detail);
}

/* Wait until the watcher applied revision rev. */
static int meta_wait_applied(meta_t *m, int64_t rev, char *err, size_t errlen)
{
	int64_t deadline = clock_now_ms() + m->apply_wait_ms;
	struct timespec ts;
	int ok;

	ts.tv_sec = (time_t)(deadline / 1000);
	ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
	pthread_mutex_lock(&m->lock);
	while (m->applied_rev < rev && !m->stopping && clock_now_ms() < deadline)
		pthread_cond_timedwait(&m->applied, &m->lock, &ts);
	ok = m->applied_rev >= rev;
	pthread_mutex_unlock(&m->lock);
	if (!ok)
		return strand_err_set(err, errlen, STRAND_ETIMEDOUT, "written to etcd (revision %"
		                      PRId64 ") but not yet applied by this broker within %d ms",
		                      rev, m->apply_wait_ms);
	return 0;
}

static uint64_t meta_random(meta_t *m)
{
	uint64_t x;

	pthread_mutex_lock(&m->lock);
	x = m->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	m->rng = x;
	pthread_mutex_unlock(&m->lock);
	return x;
}

/* The live broker ids (sorted), malloc'd; *n may be 0. */
static int32_t *meta_broker_ids(meta_t *m, size_t *n)
{
	int32_t *ids;
	size_t i;

	pthread_mutex_lock(&m->lock);
	*n = m->cache.nbrokers;
	ids = malloc((*n > 0 ? *n : 1) * sizeof *ids);
	for (i = 0; ids != NULL && i < *n; i++)
		ids[i] = m->cache.brokers[i].id;
	pthread_mutex_unlock(&m->lock);
	return ids;
}

/*
 * The txn ops putting states[0..count) as partitions first..first+count-1
 * of name, then the topic value: ops and keys/values in one allocation.
 */
typedef struct txn_build {
	etcd_op_t *ops;
	size_t     nops;
	char      *mem;
} txn_build_t;

static int txn_build_puts(txn_build_t *tb, const char *name, int32_t first,
                          const partition_state_t *states, int32_t count, const char *topic_key,
                          const char *topic_value)
{
	size_t slot = META_MAX_KEY + META_MAX_STATE_JSON;
	int32_t i;

	tb->ops = calloc((size_t)count + 1, sizeof *tb->ops);
	tb->mem = malloc((size_t)(count > 0 ? count : 1) * slot);
	if (tb->ops == NULL || tb->mem == NULL)
		return STRAND_ENOMEM;
	for (i = 0; i < count; i++) {
		char *key = tb->mem + (size_t)i * slot, *val = key + META_MAX_KEY;

		snprintf(key, META_MAX_KEY, META_KEY_PARTITIONS "%s/%" PRId32, name, first + i);
		if (meta_state_encode(&states[i], val, META_MAX_STATE_JSON) != 0)
			return STRAND_EINVAL;
		tb->ops[i] = (etcd_op_t){ ETCD_OP_PUT, key, 0, val, strlen(val), 0 };
	}
	tb->ops[count] = (etcd_op_t){ ETCD_OP_PUT, topic_key, 0, topic_value, strlen(topic_value),
	                              0 };
	tb->nops = (size_t)count + 1;
	return 0;
}

static void txn_build_free(txn_build_t *tb)
{
	free(tb->ops);
	free(tb->mem);
	memset(tb, 0, sizeof *tb);
}

/*
 * The live broker ids (sorted) read from etcd now, for a placement that the
 * cache finds short of brokers: the watch may not yet have brought a broker
 * that registered a moment ago (a create right after a cluster starts).
 * NULL on an etcd error or allocation failure.
 */
static int32_t *meta_broker_ids_fresh(meta_t *m, size_t *n)
{
	cluster_view_t v;
	int32_t *ids;
	size_t i;

	if (cluster_describe(m->cluster, &v, NULL, 0) != 0)
		return NULL;
	*n = v.n;
	ids = malloc((v.n > 0 ? v.n : 1) * sizeof *ids);
	for (i = 0; ids != NULL && i < v.n; i++)
		ids[i] = v.brokers[i].id;   /* cluster_describe lists them by id */
	cluster_view_free(&v);
	return ids;
}

/* Place count partitions from first over the live brokers. start < 0: random. */
static int meta_place(meta_t *m, int32_t first, int32_t count, int32_t rf, int32_t start,
                      partition_state_t **out, char *err, size_t errlen)
{
	size_t n, i;
	int32_t *ids = meta_broker_ids(m, &n), shift;
	int rc;

	*out = NULL;
	if (ids == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	if ((size_t)rf > n && rf <= REPLICA_MAX) {
		size_t fresh_n;
		int32_t *fresh = meta_broker_ids_fresh(m, &fresh_n);

		if (fresh != NULL && fresh_n > n) {
			free(ids);
			ids = fresh;
			n = fresh_n;
		} else {
			free(fresh);
		}
	}
	if (rf > REPLICA_MAX) {
		free(ids);
		return strand_err_set(err, errlen, STRAND_EINVAL, "replication_factor must be at "
		                      "most %d", REPLICA_MAX);
	}
	if ((size_t)rf > n) {
		char list[256] = "";
		size_t pos = 0;

		for (i = 0; i < n && pos < sizeof list - 16; i++)
			pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s%" PRId32,
			                        i ? ", " : "", ids[i]);
		free(ids);
		return strand_err_set(err, errlen, STRAND_EINVAL, "replication_factor %" PRId32
		                      " is more than the %zu live broker%s (%s%s)", rf, n,
		                      n == 1 ? "" : "s", n ? "ids " : "none", list);
	}
	if (start >= 0) {
		/* Kafka adds partitions starting at partition 0's preferred leader */
		for (i = 0; i < n && ids[i] != start; i++)
			;
		start = i < n ? (int32_t)i : -1;
	}
	if (start < 0)
		start = (int32_t)(meta_random(m) % n);
	shift = start;
	if (first == 0)
		shift = (int32_t)(meta_random(m) % n);
	*out = calloc((size_t)(count > 0 ? count : 1), sizeof **out);
	if (*out == NULL) {
		free(ids);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	rc = meta_assign_replicas(ids, n, first, count, rf, start, shift, *out, err, errlen);
	free(ids);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int meta_topic_create(meta_t *m, const char *name, int32_t partitions, int32_t rf,
                      const topic_config_t *cfg, char *err, size_t errlen)
{
	char topic_key[META_MAX_KEY], *value = NULL;
	partition_state_t *states = NULL;
	txn_build_t tb = { 0 };
	etcd_compare_t absent = { topic_key, ETCD_TARGET_CREATE, ETCD_CMP_EQUAL, 0 };
	etcd_txn_result_t res;
	char detail[256];
	int rc;

	if (!broker_name_valid(name))
		return strand_err_set(err, errlen, STRAND_EINVAL, "bad topic name");
	if (partitions < 1 || partitions > META_MAX_NEW_PARTITIONS)
		return strand_err_set(err, errlen, STRAND_EINVAL, "in cluster mode a topic is "
		                      "created with 1 to %d partitions (one etcd transaction; grow "
		                      "it with PATCH afterwards)", META_MAX_NEW_PARTITIONS);
	snprintf(topic_key, sizeof topic_key, META_KEY_TOPICS "%s", name);
	rc = meta_place(m, 0, partitions, rf, -1, &states, err, errlen);
	if (rc)
		return rc;
	value = topic_value_build(name, partitions, rf, cfg);
	if (value == NULL || txn_build_puts(&tb, name, 0, states, partitions, topic_key, value)) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto out;
	}
	rc = etcd_txn(m->etcd, &absent, 1, tb.ops, tb.nops, NULL, 0, &res, detail, sizeof detail);
	if (rc) {
		rc = meta_etcd_failed(rc, "the create", detail, err, errlen);
		goto out;
	}
	etcd_kvs_free(&res.kvs);
	if (!res.succeeded) {
		rc = strand_err_set(err, errlen, STRAND_EEXIST, "topic %s already exists", name);
		goto out;
	}
	rc = meta_wait_applied(m, res.revision, err, errlen);
out:
	txn_build_free(&tb);
	free(value);
	free(states);
	return rc;
}

/* Create BROKER_OFFSETS_TOPIC (meta.h, meta_group_coordinator). */
static int meta_offsets_topic_create(meta_t *m, char *err, size_t errlen)
{
	topic_config_t cfg;
	size_t live = meta_live_brokers(m), fresh_n = 0;
	int32_t *fresh = meta_broker_ids_fresh(m, &fresh_n), rf;
	int rc;

	/* the watch may lag a broker that registered a moment ago: ask etcd */
	if (fresh != NULL && fresh_n > live)
		live = fresh_n;
	free(fresh);
	rf = live < META_OFFSETS_MAX_RF ? (int32_t)(live > 0 ? live : 1) : META_OFFSETS_MAX_RF;

	topic_config_default(&cfg);
	/* compacted, never deleted by age or size (offsets_log.h) */
	cfg.log.retention_ms = -1;
	cfg.log.retention_bytes = -1;
	cfg.log.segment_bytes = m->offsets_segment_bytes;
	cfg.min_insync_replicas = rf >= 3 ? 2 : 1;
	cfg.key_format = RECORD_FORMAT_BINARY;
	cfg.value_format = RECORD_FORMAT_BINARY;
	rc = meta_topic_create(m, BROKER_OFFSETS_TOPIC, m->offsets_partitions, rf, &cfg,
	                       err, errlen);
	return rc == STRAND_EEXIST ? 0 : rc;
}

int meta_group_coordinator(meta_t *m, const char *group, int32_t *partition,
                           int32_t *leader_id, char *url, size_t urllen,
                           char *err, size_t errlen)
{
	mtopic_t *t;
	int32_t n, p;
	int rc;

	pthread_mutex_lock(&m->lock);
	t = mcache_topic(&m->cache, BROKER_OFFSETS_TOPIC);
	n = t != NULL && t->has_topic ? t->partitions : 0;
	pthread_mutex_unlock(&m->lock);
	if (n < 1) {
		rc = meta_offsets_topic_create(m, err, errlen);
		if (rc)
			return rc;
		pthread_mutex_lock(&m->lock);
		t = mcache_topic(&m->cache, BROKER_OFFSETS_TOPIC);
		n = t != NULL && t->has_topic ? t->partitions : 0;
		pthread_mutex_unlock(&m->lock);
		if (n < 1)
			return strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "%s is being created",
			                      BROKER_OFFSETS_TOPIC);
	}
	p = broker_group_partition(group, n);
	if (partition != NULL)
		*partition = p;
	return meta_partition_leader(m, BROKER_OFFSETS_TOPIC, p, leader_id, url, urllen);
}

/*
 * Delete the topic: read it, then delete that incarnation only (its
 * create_revision, KIP-516's topic id). A write whose answer is lost (etcd
 * paused or cut off: 503 "may or may not have happened") can still be
 * applied by etcd later, after the client has moved on — a delete that
 * compared only "exists" then removed a topic created after it, e.g. the
 * client's own create retried once etcd was back (the flake of
 * test_meta_http's etcd-pause case, docs/REPLICATION.md). A read that fails
 * sends no write at all; a lost delete can only ever remove the topic it
 * read.
 */
int meta_topic_delete(meta_t *m, const char *name, char *err, size_t errlen)
{
	char topic_key[META_MAX_KEY], parts_prefix[META_MAX_KEY], detail[256];
	etcd_compare_t same = { topic_key, ETCD_TARGET_CREATE, ETCD_CMP_EQUAL, 0 };
	etcd_op_t ops[2] = {
		{ ETCD_OP_DELETE, parts_prefix, 1, NULL, 0, 0 },
		{ ETCD_OP_DELETE, topic_key, 0, NULL, 0, 0 },   /* last: the watcher applies here */
	};
	etcd_txn_result_t res;
	etcd_kvs_t kvs;
	int attempt, rc;

	if (!broker_name_valid(name))
		return strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic");
	snprintf(topic_key, sizeof topic_key, META_KEY_TOPICS "%s", name);
	snprintf(parts_prefix, sizeof parts_prefix, META_KEY_PARTITIONS "%s/", name);
	for (attempt = 0; attempt < META_CAS_RETRIES; attempt++) {
		rc = etcd_range(m->etcd, topic_key, 0, &kvs, detail, sizeof detail);
		if (rc == STRAND_ENOMEM)
			return strand_err_set(err, errlen, rc, "out of memory");
		if (rc)
			return strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "etcd unreachable: "
			                      "nothing was deleted (reading the topic: %s)", detail);
		same.number = kvs.n == 1 ? kvs.kvs[0].create_revision : 0;
		etcd_kvs_free(&kvs);
		if (same.number == 0)
			return strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic %s", name);
		rc = etcd_txn(m->etcd, &same, 1, ops, 2, NULL, 0, &res, detail, sizeof detail);
		if (rc)
			return meta_etcd_failed(rc, "the delete", detail, err, errlen);
		etcd_kvs_free(&res.kvs);
		if (res.succeeded)
			return meta_wait_applied(m, res.revision, err, errlen);
		/* deleted, or deleted and made again, since the read: read again */
	}
	return strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "topic %s changed under %d "
	                      "deletes in a row; nothing was deleted", name, META_CAS_RETRIES);
}

int meta_topic_alter(meta_t *m, const char *name, int32_t new_partitions,
                     const meta_config_kv_t *configs, size_t nconfigs,
                     char *err, size_t errlen)
{
	char topic_key[META_MAX_KEY], detail[256], *value = NULL;
	etcd_compare_t same = { topic_key, ETCD_TARGET_MOD, ETCD_CMP_EQUAL, 0 };
	etcd_txn_result_t res;
	etcd_kvs_t kvs;
	topic_config_t cfg;
	partition_state_t *states = NULL;
	txn_build_t tb = { 0 };
	int32_t cur, rf, target, leader0;
	mtopic_t *t;
	int attempt, rc = 0;

	if (!broker_name_valid(name))
		return strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic");
	snprintf(topic_key, sizeof topic_key, META_KEY_TOPICS "%s", name);
	for (attempt = 0; attempt < META_CAS_RETRIES; attempt++) {
		rc = etcd_range(m->etcd, topic_key, 0, &kvs, detail, sizeof detail);
		if (rc)
			return meta_etcd_failed(rc, "reading the topic", detail, err, errlen);
		if (kvs.n != 1 || topic_value_parse(kvs.kvs[0].value, kvs.kvs[0].value_len, &cur,
		                                    &rf, NULL, NULL) != 0) {
			rc = strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic %s", name);
			etcd_kvs_free(&kvs);
			return rc;
		}
		same.number = kvs.kvs[0].mod_revision;
		rc = topic_config_build(kvs.kvs[0].value, kvs.kvs[0].value_len, configs, nconfigs,
		                        &cfg, err, errlen);
		etcd_kvs_free(&kvs);
		if (rc)
			return rc;
		target = new_partitions > 0 ? new_partitions : cur;
		if (target < cur)
			return strand_err_set(err, errlen, STRAND_EINVAL, "partitions can only grow "
			                      "(topic %s has %" PRId32 ")", name, cur);
		if (target - cur > META_MAX_NEW_PARTITIONS)
			return strand_err_set(err, errlen, STRAND_EINVAL, "in cluster mode one change "
			                      "adds at most %d partitions (one etcd transaction)",
			                      META_MAX_NEW_PARTITIONS);
		if (target > cur) {
			pthread_mutex_lock(&m->lock);
			t = mcache_topic(&m->cache, name);
			leader0 = t != NULL && t->nparts > 0 && t->parts[0].version > 0
			          ? t->parts[0].replicas[0] : -1;
			pthread_mutex_unlock(&m->lock);
			rc = meta_place(m, cur, target - cur, rf, leader0, &states, err, errlen);
			if (rc)
				return rc;
		}
		value = topic_value_build(name, target, rf, &cfg);
		if (value == NULL ||
		    txn_build_puts(&tb, name, cur, states, target - cur, topic_key, value) != 0) {
			rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
			goto out;
		}
		rc = etcd_txn(m->etcd, &same, 1, tb.ops, tb.nops, NULL, 0, &res, detail,
		              sizeof detail);
		txn_build_free(&tb);
		free(value);
		value = NULL;
		free(states);
		states = NULL;
		if (rc)
			return meta_etcd_failed(rc, "the change", detail, err, errlen);
		etcd_kvs_free(&res.kvs);
		if (res.succeeded)
			return meta_wait_applied(m, res.revision, err, errlen);
	}
	return strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "topic %s kept changing under "
	                      "%d tries: retry", name, META_CAS_RETRIES);
out:
	txn_build_free(&tb);
	free(value);
	free(states);
	return rc;
}

/* ---- the cache, read ------------------------------------------------------------------ */

int meta_partition_state(meta_t *m, const char *topic, int32_t p, partition_state_t *st)
{
	const mtopic_t *t;
	int rc = STRAND_ENOENT;

	pthread_mutex_lock(&m->lock);
	t = mcache_topic(&m->cache, topic);
	if (t != NULL && t->has_topic && p >= 0 && p < t->partitions && p < t->nparts &&
	    t->parts[p].version > 0) {
		*st = t->parts[p];
		rc = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int meta_partition_leader(meta_t *m, const char *topic, int32_t p,
                          int32_t *leader_id, char *url, size_t urllen)
{
	const mtopic_t *t;
	ssize_t b;
	int rc = STRAND_ENOENT;

	*leader_id = -1;
	pthread_mutex_lock(&m->lock);
	t = mcache_topic(&m->cache, topic);
	if (t != NULL && t->has_topic && p >= 0 && p < t->partitions && p < t->nparts &&
	    t->parts[p].version > 0) {
		*leader_id = t->parts[p].leader;
		b = *leader_id >= 0 ? mcache_broker_find(&m->cache, *leader_id) : -1;
		rc = b >= 0 ? 0 : STRAND_ENOTLEADER;
		if (b >= 0 && url != NULL)
			snprintf(url, urllen, "%s", m->cache.brokers[b].url);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int meta_broker_url(meta_t *m, int32_t id, char *url, size_t urllen)
{
	ssize_t b;

	pthread_mutex_lock(&m->lock);
	b = mcache_broker_find(&m->cache, id);
	if (b >= 0 && url != NULL)
		snprintf(url, urllen, "%s", m->cache.brokers[b].url);
	pthread_mutex_unlock(&m->lock);
	return b >= 0 ? 0 : STRAND_ENOENT;
}

size_t meta_live_brokers(meta_t *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->cache.nbrokers;
	pthread_mutex_unlock(&m->lock);
	return n;
}

int64_t meta_applied_revision(meta_t *m)
{
	int64_t r;

	pthread_mutex_lock(&m->lock);
	r = m->applied_rev;
	pthread_mutex_unlock(&m->lock);
	return r;
}
