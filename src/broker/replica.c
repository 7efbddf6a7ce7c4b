/*
 * replica.c — a partition's place in a replicated cluster (replica.h,
 * docs/REPLICATION.md): the state applied from etcd, this broker's role
 * and leader epoch, the leader's knowledge of its followers (log end
 * offset, last caught-up time), the ISR it proposes through the ISR hook,
 * the high watermark and its checkpoint file, and the fence that keeps a
 * deposed leader from appending.
 *
 * Kafka's rules (Partition.scala: maybeExpandIsr, maybeShrinkIsr,
 * maybeIncrementLeaderHW; Replica.updateFetchState):
 *   - a follower's fetch at offset O says it holds everything below O
 *     (its LEO); it is "caught up" at that moment if O >= the leader's LEO,
 *     or, failing that, it was caught up at its previous fetch if O reached
 *     the leader's LEO as of that previous fetch;
 *   - it leaves the ISR once not caught up for replica_lag_time_max_ms
 *     (the ticker proposes the shrink); it joins once its LEO >= HW and
 *     >= the start offset of the leader's current epoch;
 *   - HW = min LEO over the ISR (the leader's own included), moved only
 *     forward and only while |ISR| >= min_insync_replicas; a follower whose
 *     LEO the new leader has not heard yet holds it still.
 *
 * Each partition slot of broker.c carries one replica_part_t; the broker
 * carries one replica_mgr_t (the hooks and the cluster-mode flag).
 *
 * Locks, in order: a partition's fence (rwlock, writer-preferring): read
 * side held by leader appends across their log_append (as Kafka holds
 * leaderIsrUpdateLock's read lock across appendAsLeader), write side by
 * state changes, so once broker_partition_set_state has made this broker a
 * follower no leader append is still running or can start; then the
 * partition's lock, held only for in-memory work; the manager's lock
 * guards the hook pointers and is taken alone. Hooks are called with no
 * lock held, so a hook may call back into the broker.
 *
 * HW checkpoint: DATA/<topic>-<p>/replication-offset-checkpoint ("0\n<hw>\n",
 * Kafka's replication-offset-checkpoint, one file per partition here),
 * written by the ticker at most every REPLICA_CHECKPOINT_MS when the HW
 * moved, and at close; read at open and clamped to the LEO. A stale
 * checkpoint is only lower, which is safe: it bounds a truncation.
 */
#include "broker/broker_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"

#define CHECKPOINT_FILE        "replication-offset-checkpoint"
#define REPLICA_CHECKPOINT_MS  5000   /* Kafka's replica.high.watermark.checkpoint.interval.ms */
#define ISR_RETRY_MS           1000   /* after a refused ISR proposal (conflict, etcd down) */

struct replica_mgr {
	pthread_mutex_t         lock;         /* guards the hooks below */
	broker_role_hook_fn     role_hook;
	void                   *role_ctx;
	broker_isr_hook_fn      isr_hook;
	void                   *isr_ctx;
	int                   (*lease_valid)(void *ctx);
	void                   *lease_ctx;
	broker_progress_hook_fn progress_hook;
	void                   *progress_ctx;
	atomic_int              replicated;   /* cluster mode seen */
};

/* What the leader knows of one follower (Kafka's Replica on the leader). */
typedef struct follower {
	int32_t id;
	int64_t leo;                  /* -1: not heard from since this leadership began */
	int64_t last_caught_up_ms;    /* broker_now_ms() */
	int64_t last_fetch_ms;
	int64_t last_fetch_leader_leo; /* the leader's LEO at that fetch */
	int64_t last_sent_hw;         /* the HW its last fetch answer carried; -1 none */
} follower_t;

struct replica_part {
	pthread_rwlock_t  fence;          /* read: leader appends; write: state changes */
	pthread_mutex_t   lock;           /* everything below */
	int               have_state;
	partition_state_t st;             /* last applied state */
	replica_role_t    role;
	int               stepped_down;   /* a fetch showed a newer epoch: wait for its state */
	int64_t           epoch_start;    /* LEO when this leader epoch began here */
	follower_t        f[REPLICA_MAX]; /* the other replicas, while leader */
	int32_t           nf;
	int64_t           isr_sent_version; /* state version an accepted proposal was based on */
	int32_t           isr_extra[REPLICA_MAX]; /* proposed additions not yet in st.isr */
	int32_t           nisr_extra;       /* (KIP-497's maximal ISR: the HW counts them) */
	int64_t           isr_retry_ms;     /* no proposal before this (broker_now_ms) */
	_Atomic int64_t   hw;             /* the high watermark (cluster mode) */
	int64_t           hw_saved;       /* as in the checkpoint file */
	int64_t           hw_saved_ms;
	char             *dir;            /* the partition directory */
};

int replica_mgr_new(int replicated, replica_mgr_t **out)
{
	replica_mgr_t *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return STRAND_ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	atomic_init(&m->replicated, replicated ? 1 : 0);
	*out = m;
	return 0;
}

void replica_mgr_free(replica_mgr_t *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* The checkpointed HW of the partition in dir, or 0 when none or unreadable. */
static int64_t checkpoint_read(const char *dir)
{
	char path[PATH_MAX], *text = NULL, *end;
	long long v;

	if (snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_FILE) >= (int)sizeof(path) ||
	    broker_file_read(path, &text, NULL, NULL, 0) != 0)
		return 0;
	errno = 0;
	v = strncmp(text, "0\n", 2) == 0 ? strtoll(text + 2, &end, 10) : -1;
	if (errno != 0 || v < 0 || (*end != '\n' && *end != '\0'))
		v = 0;      /* a torn or foreign file: start from nothing (only lower is safe) */
	free(text);
	return v;
}

static int checkpoint_write(const char *dir, int64_t hw, char *err, size_t errlen)
{
	char path[PATH_MAX], text[32];
	int n;

	if (snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_FILE) >= (int)sizeof(path))
		return strand_err_set(err, errlen, STRAND_EIO, "%s: path too long", dir);
	n = snprintf(text, sizeof(text), "0\n%" PRId64 "\n", hw);
	return broker_file_write_atomic(path, text, (size_t)n, err, errlen);
}

replica_part_t *replica_part_new(const char *dir, int64_t leo)
{
	replica_part_t *r = calloc(1, sizeof(*r));
	pthread_rwlockattr_t attr;
	int64_t hw;

	if (r == NULL || (r->dir = strdup(dir)) == NULL) {
		free(r);
		return NULL;
	}
	/* writer-preferring: a stream of appends must not starve a role change */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->fence, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&r->lock, NULL);
	r->role = REPLICA_NONE;
	hw = checkpoint_read(dir);
	if (hw > leo)
		hw = leo;   /* records past the LEO were lost with an unflushed tail */
	atomic_init(&r->hw, hw);
	r->hw_saved = hw;
	r->isr_sent_version = -1;
	return r;
}

void replica_part_free(replica_part_t *r)
{
	int64_t hw;

	if (r == NULL)
		return;
	hw = atomic_load(&r->hw);
	if (hw != r->hw_saved)
		checkpoint_write(r->dir, hw, NULL, 0);  /* best effort: a stale one is only lower */
	pthread_rwlock_destroy(&r->fence);
	pthread_mutex_destroy(&r->lock);
	free(r->dir);
	free(r);
}

/* ---- helpers -------------------------------------------------------------- */

void replica_ids_format(char *buf, size_t len, const int32_t *ids, int32_t n)
{
	int used;

	if (len == 0)
		return;
	used = snprintf(buf, len, "[");
	for (int32_t i = 0; i < n && used >= 0 && (size_t)used < len; i++)
		used += snprintf(buf + used, len - (size_t)used, "%s%" PRId32, i ? "," : "", ids[i]);
	if (used >= 0 && (size_t)used < len)
		snprintf(buf + used, len - (size_t)used, "]");
}

static const char *role_name(replica_role_t role)
{
	return role == REPLICA_LEADER ? "leader" : role == REPLICA_FOLLOWER ? "follower" : "none";
}

static int ids_have(const int32_t *ids, int32_t n, int32_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

static follower_t *follower_find(replica_part_t *r, int32_t id)
{
	for (int32_t i = 0; i < r->nf; i++)
		if (r->f[i].id == id)
			return &r->f[i];
	return NULL;
}

/* The progress hook: a leader's LEO or HW moved (followers' long polls). */
static void hooks_fire_progress(broker_t *b, const char *topic, int32_t p)
{
	replica_mgr_t *m = broker_replica_mgr(b);
	broker_progress_hook_fn fn;
	void *ctx;

	pthread_mutex_lock(&m->lock);
	fn = m->progress_hook;
	ctx = m->progress_ctx;
	pthread_mutex_unlock(&m->lock);
	if (fn != NULL)
		fn(ctx, topic, p);
}

/* The append hook with hw (INT64_MAX: wake every waiter to re-check), then
 * the progress hook when asked. No lock held. */
static void hooks_fire(broker_t *b, const char *topic, int32_t p, int64_t hw, int progress)
{
	broker_fire_append_hook(b, topic, p, hw);
	if (progress)
		hooks_fire_progress(b, topic, p);
}

static int lease_ok(broker_t *b)
{
	replica_mgr_t *m = broker_replica_mgr(b);
	int (*valid)(void *);
	void *ctx;

	pthread_mutex_lock(&m->lock);
	valid = m->lease_valid;
	ctx = m->lease_ctx;
	pthread_mutex_unlock(&m->lock);
	return valid == NULL || valid(ctx);
}

/*
 * Leader, under r->lock: HW = min LEO over the ISR, only forward and only
 * while |ISR| >= min_insync. Returns 1 when it moved.
 */
static int hw_update_locked(replica_part_t *r, int32_t self, int64_t leo, int32_t min_insync)
{
	int64_t hw = leo;

	if (r->role != REPLICA_LEADER || r->stepped_down || r->st.nisr < min_insync)
		return 0;
	/* over the maximal ISR (KIP-497): the applied one and any member this
	 * leader proposed to add; the controller may elect an added member as
	 * soon as etcd holds it, before the watch brings the state back here */
	for (int32_t i = 0; i < r->st.nisr + r->nisr_extra; i++) {
		int32_t id = i < r->st.nisr ? r->st.isr[i] : r->isr_extra[i - r->st.nisr];
		follower_t *f;

		if (id == self)
			continue;
		f = follower_find(r, id);
		if (f == NULL || f->leo < 0)
			return 0;           /* an ISR member not heard from: wait for it */
		if (f->leo < hw)
			hw = f->leo;
	}
	if (hw <= atomic_load(&r->hw))
		return 0;
	atomic_store(&r->hw, hw);
	return 1;
}

static int32_t topic_min_insync(topic_t *t)
{
	topic_config_t cfg;

	topic_get_config(t, &cfg);
	return cfg.min_insync_replicas;
}

/* ---- the state API ------------------------------------------------------ */

static int isr_same(const partition_state_t *a, const partition_state_t *b);

static replica_role_t role_of(const partition_state_t *st, int32_t self)
{
	if (st->leader == self)
		return REPLICA_LEADER;
	if (ids_have(st->replicas, st->nreplicas, self))
		return REPLICA_FOLLOWER;
	return REPLICA_NONE;
}

/*
 * A new leadership (role or epoch): forget what the previous one knew of
 * the followers. ISR members get lag_max from now to show up (Kafka resets
 * lastCaughtUpTime to now when it makes a leader); their LEO is unknown
 * until their first fetch, which holds the HW still meanwhile.
 */
static void followers_reset_locked(replica_part_t *r, int32_t self, int64_t now)
{
	r->nf = 0;
	for (int32_t i = 0; i < r->st.nreplicas; i++) {
		follower_t *f;

		if (r->st.replicas[i] == self)
			continue;
		f = &r->f[r->nf++];
		memset(f, 0, sizeof(*f));
		f->id = r->st.replicas[i];
		f->leo = -1;
		f->last_sent_hw = -1;
		f->last_caught_up_ms = ids_have(r->st.isr, r->st.nisr, f->id) ? now : 0;
	}
}

/*
 * Same leadership, a new state (ISR or replica list changed): keep what is
 * known of the followers; one that has just entered the ISR (not by this
 * leader's proposal) gets replica_lag_time_max_ms from now to fetch, as
 * Kafka's makeLeader gives every in-sync replica. One that has just left
 * it (the controller drops a dead broker) is out of sync from now on: only
 * a fetch after this that catches up brings it back, never what it showed
 * before it died.
 */
static void followers_resync_locked(replica_part_t *r, int32_t self,
                                    const partition_state_t *old, int64_t now)
{
	follower_t kept[REPLICA_MAX];
	int32_t n = 0;

	for (int32_t i = 0; i < r->st.nreplicas; i++) {
		follower_t *f;

		if (r->st.replicas[i] == self)
			continue;
		f = follower_find(r, r->st.replicas[i]);
		if (f != NULL) {
			kept[n] = *f;
			if (ids_have(r->st.isr, r->st.nisr, f->id) && !ids_have(old->isr, old->nisr, f->id) &&
			    kept[n].last_caught_up_ms < now)
				kept[n].last_caught_up_ms = now;
			if (!ids_have(r->st.isr, r->st.nisr, f->id) && ids_have(old->isr, old->nisr, f->id))
				kept[n].last_caught_up_ms = kept[n].last_fetch_ms = 0;
		} else {
			memset(&kept[n], 0, sizeof(kept[n]));
			kept[n].id = r->st.replicas[i];
			kept[n].leo = -1;
			kept[n].last_sent_hw = -1;
			kept[n].last_caught_up_ms = ids_have(r->st.isr, r->st.nisr, kept[n].id) ? now : 0;
		}
		n++;
	}
	memcpy(r->f, kept, (size_t)n * sizeof(kept[0]));
	r->nf = n;
}

int broker_partition_set_state(broker_t *b, const char *topic, int32_t p,
                               const partition_state_t *st, char *err, size_t errlen)
{
	replica_mgr_t *m = broker_replica_mgr(b);
	broker_role_hook_fn hook = NULL;
	partition_state_t copy, old;
	replica_role_t role, was;
	replica_part_t *r;
	void *hook_ctx = NULL;
	int32_t self = broker_self_id(b);
	int changed = 0, wake = 0, hw_moved = 0;
	int64_t hw;
	topic_t *t;
	log_t *log;

	if (st->nreplicas < 0 || st->nreplicas > REPLICA_MAX || st->nisr < 0 ||
	    st->nisr > REPLICA_MAX)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "%s/%d: replicas and isr hold at most %d brokers",
		                      topic, (int)p, REPLICA_MAX);
	t = broker_topic_get(b, topic);
	if (t == NULL)
		return strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic %s", topic);
	r = topic_replica_part(t, p);
	log = topic_partition_log(t, p);
	if (r == NULL) {
		topic_release(t);
		return strand_err_set(err, errlen, STRAND_ENOENT, "topic %s has no partition %d",
		                      topic, (int)p);
	}
	atomic_store(&m->replicated, 1);
	role = role_of(st, self);
	/* the fence: no leader append runs across a change of leadership */
	pthread_rwlock_wrlock(&r->fence);
	pthread_mutex_lock(&r->lock);
	if (r->have_state && st->version <= r->st.version) {
		pthread_mutex_unlock(&r->lock);     /* an older or repeated state */
		pthread_rwlock_unlock(&r->fence);
		topic_release(t);
		return 0;
	}
	was = r->have_state ? r->role : REPLICA_NONE;
	old = r->st;
	changed = !r->have_state || role != r->role || st->leader_epoch != r->st.leader_epoch;
	/* acks=all waiters re-check on any change a leader sees (lost, ISR moved) */
	wake = was == REPLICA_LEADER || role == REPLICA_LEADER;
	r->st = *st;
	r->role = role;
	r->have_state = 1;
	r->stepped_down = 0;
	r->isr_retry_ms = 0;
	r->nisr_extra = 0;          /* a proposal on the old version is in, or failed */
	if (role == REPLICA_LEADER && changed) {
		r->epoch_start = log_end_offset(log);
		followers_reset_locked(r, self, broker_now_ms());
	} else if (role == REPLICA_LEADER) {
		followers_resync_locked(r, self, &old, broker_now_ms());
		hw_moved = hw_update_locked(r, self, log_end_offset(log), topic_min_insync(t));
	}
	hw = atomic_load(&r->hw);
	copy = r->st;
	pthread_mutex_unlock(&r->lock);
	pthread_rwlock_unlock(&r->fence);
	if (changed || !isr_same(&old, st)) {
		char isr[96], was_isr[96];

		replica_ids_format(isr, sizeof isr, st->isr, st->nisr);
		replica_ids_format(was_isr, sizeof was_isr, old.isr, old.nisr);
		fprintf(stderr, "strand: [%" PRId64 "] replica: %s/%d: %s, leader %" PRId32
		        " epoch %" PRId32 " isr %s (was %s) version %" PRId64 "; leo %" PRId64
		        " hw %" PRId64 "\n", clock_now_ms(), topic, (int)p, role_name(role),
		        st->leader, st->leader_epoch, isr, was_isr, st->version,
		        log_end_offset(log), hw);
	}

	if (changed) {
		pthread_mutex_lock(&m->lock);
		hook = m->role_hook;
		hook_ctx = m->role_ctx;
		pthread_mutex_unlock(&m->lock);
		if (hook != NULL)
			hook(hook_ctx, topic, p, &copy, role);
	}
	if (wake || hw_moved)
		hooks_fire(b, topic, p, wake ? INT64_MAX : hw, 1);
	topic_release(t);
	return 0;
}

int broker_partition_get_state(broker_t *b, const char *topic, int32_t p,
                               partition_state_t *st, replica_role_t *role)
{
	replica_part_t *r;
	topic_t *t;
	int rc = STRAND_ENOENT;

	if (role != NULL)
		*role = REPLICA_NONE;
	t = broker_topic_get(b, topic);
	if (t == NULL)
		return STRAND_ENOENT;
	r = topic_replica_part(t, p);
	if (r != NULL) {
		pthread_mutex_lock(&r->lock);
		if (r->have_state) {
			if (st != NULL)
				*st = r->st;
			if (role != NULL)
				*role = r->role;
			rc = 0;
		}
		pthread_mutex_unlock(&r->lock);
	}
	topic_release(t);
	return rc;
}

void broker_set_role_hook(broker_t *b, broker_role_hook_fn fn, void *ctx)
{
	replica_mgr_t *m = broker_replica_mgr(b);

	pthread_mutex_lock(&m->lock);
	m->role_hook = fn;
	m->role_ctx = ctx;
	pthread_mutex_unlock(&m->lock);
	if (fn != NULL)
		atomic_store(&m->replicated, 1);
}

void broker_set_isr_hook(broker_t *b, broker_isr_hook_fn fn, void *ctx)
{
	replica_mgr_t *m = broker_replica_mgr(b);

	pthread_mutex_lock(&m->lock);
	m->isr_hook = fn;
	m->isr_ctx = ctx;
	pthread_mutex_unlock(&m->lock);
	if (fn != NULL)
		atomic_store(&m->replicated, 1);
}

void broker_set_lease_check(broker_t *b, int (*valid)(void *ctx), void *ctx)
{
	replica_mgr_t *m = broker_replica_mgr(b);

	pthread_mutex_lock(&m->lock);
	m->lease_valid = valid;
	m->lease_ctx = ctx;
	pthread_mutex_unlock(&m->lock);
	if (valid != NULL)
		atomic_store(&m->replicated, 1);
}

int broker_replicated(broker_t *b)
{
	return atomic_load(&broker_replica_mgr(b)->replicated);
}

int broker_replica_needs_flush(broker_t *b, topic_t *t, int32_t p)
{
	replica_part_t *r = topic_replica_part(t, p);
	int alone;

	if (!broker_replicated(b) || r == NULL)
		return 1;
	pthread_mutex_lock(&r->lock);
	alone = !r->have_state || r->st.nisr + r->nisr_extra <= 1;
	pthread_mutex_unlock(&r->lock);
	return alone;
}

void broker_set_progress_hook(broker_t *b, broker_progress_hook_fn fn, void *ctx)
{
	replica_mgr_t *m = broker_replica_mgr(b);

	pthread_mutex_lock(&m->lock);
	m->progress_hook = fn;
	m->progress_ctx = ctx;
	pthread_mutex_unlock(&m->lock);
}

/* ---- the leader's appends --------------------------------------------------- */

int replica_append_begin(broker_t *b, topic_t *t, int32_t p, unsigned flags,
                         int32_t *epoch_out, int *fenced_out, char *err, size_t errlen)
{
	replica_part_t *r = topic_replica_part(t, p);
	int32_t min_insync;
	int rc = 0;

	*epoch_out = 0;
	*fenced_out = 0;
	if (r == NULL || !broker_replicated(b))
		return 0;               /* single node: leader of epoch 0, as before */
	min_insync = topic_min_insync(t);
	pthread_rwlock_rdlock(&r->fence);
	pthread_mutex_lock(&r->lock);
	if (!r->have_state || r->role != REPLICA_LEADER || r->stepped_down)
		rc = strand_err_set(err, errlen, STRAND_ENOTLEADER,
		                    "this broker does not lead %s/%d", topic_name(t), (int)p);
	else if ((flags & BROKER_APPEND_ACKS_ALL) && r->st.nisr < min_insync)
		rc = strand_err_set(err, errlen, STRAND_ENOTENOUGH,
		                    "%s/%d has %d in-sync replicas, min_insync_replicas is %d",
		                    topic_name(t), (int)p, (int)r->st.nisr, (int)min_insync);
	*epoch_out = r->st.leader_epoch;
	pthread_mutex_unlock(&r->lock);
	if (rc == 0 && !lease_ok(b))
		rc = strand_err_set(err, errlen, STRAND_EUNAVAILABLE,
		                    "this broker's cluster lease may have expired: "
		                    "it cannot act as leader until it renews");
	if (rc != 0) {
		pthread_rwlock_unlock(&r->fence);
		return rc;
	}
	*fenced_out = 1;
	return 0;
}

void replica_append_end(broker_t *b, topic_t *t, int32_t p, int fenced, int appended)
{
	replica_part_t *r = topic_replica_part(t, p);
	int32_t min_insync;
	int64_t leo;

	if (!fenced)
		return;
	pthread_rwlock_unlock(&r->fence);
	if (!appended)
		return;
	/* the leader's LEO moved: the HW may follow (an ISR of the leader alone) */
	min_insync = topic_min_insync(t);
	leo = log_end_offset(topic_partition_log(t, p));
	pthread_mutex_lock(&r->lock);
	hw_update_locked(r, broker_self_id(b), leo, min_insync);
	pthread_mutex_unlock(&r->lock);
	/* followers' long polls (the caller fires the append hook with the HW) */
	hooks_fire_progress(b, topic_name(t), p);
}

int replica_follow_begin(broker_t *b, topic_t *t, int32_t p, char *err, size_t errlen)
{
	replica_part_t *r = topic_replica_part(t, p);
	int follows;

	if (r == NULL || !broker_replicated(b))
		return strand_err_set(err, errlen, STRAND_ENOTLEADER,
		                      "this broker does not follow %s/%d now", topic_name(t), (int)p);
	pthread_rwlock_rdlock(&r->fence);
	pthread_mutex_lock(&r->lock);
	follows = r->have_state && r->role == REPLICA_FOLLOWER;
	pthread_mutex_unlock(&r->lock);
	if (!follows) {
		pthread_rwlock_unlock(&r->fence);
		return strand_err_set(err, errlen, STRAND_ENOTLEADER,
		                      "this broker does not follow %s/%d now", topic_name(t), (int)p);
	}
	return 0;
}

void replica_follow_end(topic_t *t, int32_t p)
{
	pthread_rwlock_unlock(&topic_replica_part(t, p)->fence);
}

int64_t replica_hw(broker_t *b, topic_t *t, int32_t p)
{
	replica_part_t *r = topic_replica_part(t, p);
	log_t *log = topic_partition_log(t, p);

	if (r == NULL)
		return -1;
	if (!broker_replicated(b))
		return log_end_offset(log);
	return atomic_load(&r->hw);
}

void replica_follower_hw(broker_t *b, topic_t *t, int32_t p, int64_t leader_hw)
{
	replica_part_t *r = topic_replica_part(t, p);
	int64_t leo, hw;

	if (r == NULL)
		return;
	leo = log_end_offset(topic_partition_log(t, p));
	hw = leader_hw < leo ? leader_hw : leo;
	if (hw < 0)
		hw = 0;
	if (atomic_exchange(&r->hw, hw) != hw)
		broker_fire_append_hook(b, topic_name(t), p, hw);
}

/* ---- acks=all -------------------------------------------------------------- */

int broker_replica_committed(broker_t *b, topic_t *t, int32_t p, int64_t end_offset,
                             int32_t leader_epoch, char *err, size_t errlen)
{
	replica_part_t *r = topic_replica_part(t, p);
	int32_t min_insync;
	int rc;

	if (r == NULL)
		return strand_err_set(err, errlen, STRAND_ENOENT, "topic %s has no partition %d",
		                      topic_name(t), (int)p);
	if (!broker_replicated(b))
		return log_end_offset(topic_partition_log(t, p)) >= end_offset;
	min_insync = topic_min_insync(t);
	pthread_mutex_lock(&r->lock);
	if (atomic_load(&r->hw) >= end_offset && r->st.leader_epoch == leader_epoch)
		rc = 1;
	else if (!r->have_state || r->role != REPLICA_LEADER || r->stepped_down ||
	         r->st.leader_epoch != leader_epoch)
		rc = strand_err_set(err, errlen, STRAND_ENOTENOUGH,
		                    "%s/%d changed leader before the records were committed "
		                    "(they may still be)", topic_name(t), (int)p);
	else if (r->st.nisr < min_insync)
		rc = strand_err_set(err, errlen, STRAND_ENOTENOUGH,
		                    "%s/%d's ISR shrank to %d, below min_insync_replicas %d, before "
		                    "the records were committed", topic_name(t), (int)p,
		                    (int)r->st.nisr, (int)min_insync);
	else
		rc = 0;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- the leader's side of follower fetch ------------------------------------- */

int broker_replica_fetch(broker_t *b, topic_t *t, int32_t p, int32_t follower_id,
                         int64_t fetch_offset, int32_t leader_epoch, size_t max_bytes,
                         log_slice_t *out, replica_fetch_info_t *info, char *err, size_t errlen)
{
	replica_part_t *r = topic_replica_part(t, p);
	log_t *log = topic_partition_log(t, p);
	int32_t self = broker_self_id(b), min_insync;
	int64_t now = broker_now_ms(), leo, start;
	int moved = 0, stepped = 0, rc = 0;
	follower_t *f;

	if (out != NULL)
		memset(out, 0, sizeof(*out)), out->fd = -1;
	memset(info, 0, sizeof(*info));
	info->leader_epoch = -1;
	if (r == NULL)
		return strand_err_set(err, errlen, STRAND_ENOENT, "topic %s has no partition %d",
		                      topic_name(t), (int)p);
	min_insync = topic_min_insync(t);
	pthread_mutex_lock(&r->lock);
	leo = log_end_offset(log);
	start = log_start_offset(log);
	info->leader_epoch = r->have_state ? r->st.leader_epoch : -1;
	info->high_watermark = atomic_load(&r->hw);
	info->log_start_offset = start;
	info->log_end_offset = leo;
	if (!r->have_state || r->role != REPLICA_LEADER) {
		rc = strand_err_set(err, errlen, STRAND_ENOTLEADER,
		                    "this broker does not lead %s/%d", topic_name(t), (int)p);
	} else if (leader_epoch < r->st.leader_epoch) {
		rc = strand_err_set(err, errlen, STRAND_EEPOCH_FENCED,
		                    "leader epoch %d is older than %s/%d's %d", (int)leader_epoch,
		                    topic_name(t), (int)p, (int)r->st.leader_epoch);
	} else if (leader_epoch > r->st.leader_epoch) {
		/* the follower saw a newer leadership than ours: we are deposed and
		 * take no produce until that state reaches us (set_state clears it) */
		stepped = !r->stepped_down;
		r->stepped_down = 1;
		rc = strand_err_set(err, errlen, STRAND_EEPOCH_UNKNOWN,
		                    "leader epoch %d is newer than %s/%d's %d: stepping down",
		                    (int)leader_epoch, topic_name(t), (int)p, (int)r->st.leader_epoch);
	} else if (r->stepped_down) {
		rc = strand_err_set(err, errlen, STRAND_ENOTLEADER,
		                    "%s/%d has a newer leader epoch than this broker's %d",
		                    topic_name(t), (int)p, (int)r->st.leader_epoch);
	} else if ((f = follower_find(r, follower_id)) == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOENT, "broker %d is not a replica of %s/%d",
		                    (int)follower_id, topic_name(t), (int)p);
	} else if (fetch_offset < start || fetch_offset > leo) {
		rc = strand_err_set(err, errlen, STRAND_ERANGE,
		                    "fetch offset %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]",
		                    fetch_offset, start, leo);
	} else {
		/* Replica.updateFetchState: caught up now, or as of its previous fetch */
		if (fetch_offset >= leo)
			f->last_caught_up_ms = now;
		else if (fetch_offset >= f->last_fetch_leader_leo && f->last_fetch_ms > f->last_caught_up_ms)
			f->last_caught_up_ms = f->last_fetch_ms;
		f->leo = fetch_offset;
		f->last_fetch_leader_leo = leo;
		f->last_fetch_ms = now;
		moved = hw_update_locked(r, self, leo, min_insync);
		info->high_watermark = atomic_load(&r->hw);
		if (out != NULL)
			f->last_sent_hw = info->high_watermark;   /* this call builds the answer */
	}
	pthread_mutex_unlock(&r->lock);
	if (stepped || moved)
		hooks_fire(b, topic_name(t), p, stepped ? INT64_MAX : info->high_watermark, moved);
	if (rc != 0 || out == NULL || fetch_offset == leo)
		return rc;
	return log_read(log, fetch_offset, max_bytes, -1, out, err, errlen);
}

int broker_replica_pending(broker_t *b, topic_t *t, int32_t p, int32_t follower_id,
                           int64_t fetch_offset)
{
	replica_part_t *r = topic_replica_part(t, p);
	follower_t *f;
	int pending = 1;

	if (r == NULL)
		return 1;
	pthread_mutex_lock(&r->lock);
	if (r->have_state && r->role == REPLICA_LEADER && !r->stepped_down &&
	    (f = follower_find(r, follower_id)) != NULL &&
	    fetch_offset == log_end_offset(topic_partition_log(t, p)) &&
	    f->last_sent_hw == atomic_load(&r->hw))
		pending = 0;
	pthread_mutex_unlock(&r->lock);
	return pending;
}

/* ---- the views ------------------------------------------------------------- */

int broker_partition_replicas(topic_t *t, int32_t p, int32_t *leader_epoch,
                              replica_progress_t *out, int32_t cap, int32_t *n_out)
{
	replica_part_t *r = topic_replica_part(t, p);
	int32_t self = broker_self_id(topic_broker(t)), n = 0;
	int64_t leo;

	*n_out = 0;
	if (r == NULL)
		return STRAND_ENOENT;
	leo = log_end_offset(topic_partition_log(t, p));
	pthread_mutex_lock(&r->lock);
	if (!r->have_state) {
		pthread_mutex_unlock(&r->lock);
		return STRAND_ENOENT;
	}
	*leader_epoch = r->st.leader_epoch;
	for (int32_t i = 0; i < r->st.nreplicas && n < cap; i++) {
		int32_t id = r->st.replicas[i];
		follower_t *f = follower_find(r, id);

		out[n].broker = id;
		out[n].in_isr = ids_have(r->st.isr, r->st.nisr, id);
		if (id == self)
			out[n].log_end_offset = leo;
		else if (r->role == REPLICA_LEADER && f != NULL)
			out[n].log_end_offset = f->leo;
		else
			out[n].log_end_offset = -1;     /* only the leader knows */
		n++;
	}
	pthread_mutex_unlock(&r->lock);
	*n_out = n;
	return 0;
}

/* ---- the ticker ---------------------------------------------------------------- */

/* Add id to the ISR being built unless there. */
static void isr_add(partition_state_t *st, int32_t id)
{
	if (!ids_have(st->isr, st->nisr, id) && st->nisr < REPLICA_MAX)
		st->isr[st->nisr++] = id;
}

static int isr_same(const partition_state_t *a, const partition_state_t *b)
{
	if (a->nisr != b->nisr)
		return 0;
	for (int32_t i = 0; i < a->nisr; i++)
		if (!ids_have(b->isr, b->nisr, a->isr[i]))
			return 0;
	return 1;
}

/*
 * Leader, under r->lock: the ISR it wants (maybeShrinkIsr + maybeExpandIsr)
 * into *want. Returns 1 when it differs from the applied one and a
 * proposal is due.
 */
static int isr_wanted_locked(replica_part_t *r, int32_t self, int64_t now, int64_t lag_max,
                             partition_state_t *want)
{
	int64_t hw = atomic_load(&r->hw);

	if (r->role != REPLICA_LEADER || r->stepped_down || r->isr_sent_version == r->st.version ||
	    now < r->isr_retry_ms)
		return 0;
	*want = r->st;
	want->nisr = 0;
	isr_add(want, self);
	for (int32_t i = 0; i < r->st.nisr; i++) {
		follower_t *f = follower_find(r, r->st.isr[i]);

		/* stays while caught up within lag_max (a non-replica in the ISR goes) */
		if (f != NULL && now - f->last_caught_up_ms <= lag_max)
			isr_add(want, f->id);
	}
	for (int32_t i = 0; i < r->nf; i++) {
		follower_t *f = &r->f[i];

		if (!ids_have(r->st.isr, r->st.nisr, f->id) && f->leo >= 0 && f->leo >= hw &&
		    f->leo >= r->epoch_start && now - f->last_caught_up_ms <= lag_max)
			isr_add(want, f->id);
	}
	return !isr_same(want, &r->st);
}

/* One line per ISR proposal: the ISR asked for, the HW, what the leader
 * knows of each follower (LEO, ms since last caught up). */
static void isr_log_proposal(replica_part_t *r, const char *topic, int32_t p,
                             const partition_state_t *want, int64_t hw)
{
	char from[96], to[96], fl[256] = "";
	size_t used = 0;
	int64_t now = broker_now_ms();

	pthread_mutex_lock(&r->lock);
	replica_ids_format(from, sizeof from, r->st.isr, r->st.nisr);
	for (int32_t i = 0; i < r->nf && used < sizeof fl; i++) {
		int w = snprintf(fl + used, sizeof fl - used, " %" PRId32 ":leo %" PRId64 " lag %" PRId64
		                 "ms", r->f[i].id, r->f[i].leo, now - r->f[i].last_caught_up_ms);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	pthread_mutex_unlock(&r->lock);
	replica_ids_format(to, sizeof to, want->isr, want->nisr);
	fprintf(stderr, "strand: [%" PRId64 "] replica: %s/%d: proposing isr %s (was %s) at "
	        "version %" PRId64 ", epoch %" PRId32 ", hw %" PRId64 ";%s\n", clock_now_ms(), topic,
	        (int)p, to, from, want->version, want->leader_epoch, hw, fl);
}

void replica_tick(broker_t *b, topic_t *t, int32_t p, int64_t now_ms)
{
	replica_part_t *r = topic_replica_part(t, p);
	replica_mgr_t *m = broker_replica_mgr(b);
	broker_isr_hook_fn hook;
	partition_state_t want;
	topic_config_t cfg;
	int64_t hw, version;
	char err[256];
	void *ctx;
	int propose, moved;
	int32_t extra_before;

	if (r == NULL)
		return;
	topic_get_config(t, &cfg);
	pthread_mutex_lock(&m->lock);
	hook = m->isr_hook;
	ctx = m->isr_ctx;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_lock(&r->lock);
	moved = hw_update_locked(r, broker_self_id(b), log_end_offset(topic_partition_log(t, p)),
	                         cfg.min_insync_replicas);
	propose = isr_wanted_locked(r, broker_self_id(b), now_ms, cfg.replica_lag_time_max_ms,
	                            &want);
	version = r->st.version;
	hw = atomic_load(&r->hw);
	extra_before = r->nisr_extra;
	if (propose && hook != NULL) {
		/* count added members before etcd may hold them (even a failed
		 * write may have landed), until the next state is applied */
		for (int32_t i = 0; i < want.nisr; i++)
			if (!ids_have(r->st.isr, r->st.nisr, want.isr[i]) &&
			    !ids_have(r->isr_extra, r->nisr_extra, want.isr[i]) &&
			    r->nisr_extra < REPLICA_MAX)
				r->isr_extra[r->nisr_extra++] = want.isr[i];
	}
	pthread_mutex_unlock(&r->lock);
	if (moved)
		hooks_fire(b, topic_name(t), p, hw, 1);

	if (propose && hook != NULL && lease_ok(b)) {
		int rc;

		isr_log_proposal(r, topic_name(t), p, &want, hw);
		rc = hook(ctx, topic_name(t), p, &want);

		pthread_mutex_lock(&r->lock);
		if (r->st.version == version) {
			if (rc == 0)
				r->isr_sent_version = version;  /* its state comes back by the watch */
			else
				r->isr_retry_ms = now_ms + ISR_RETRY_MS;
			/* STRAND_EAGAIN: certainly not written (a CAS that failed, or
			 * refused before writing: an unregistered member, KIP-841), so
			 * its additions do not count for the HW. Kept, a dead follower
			 * proposed from a last fetch that showed it caught up held the
			 * HW at its LEO for good: every refusal re-added it (seen in
			 * test_faults 'unclean': acks=all timed out for 30 s). */
			if (rc == STRAND_EAGAIN && r->nisr_extra > extra_before)
				r->nisr_extra = extra_before;
		}
		pthread_mutex_unlock(&r->lock);
	}

	/* the HW checkpoint, every REPLICA_CHECKPOINT_MS when it moved */
	if (hw != r->hw_saved && now_ms - r->hw_saved_ms >= REPLICA_CHECKPOINT_MS) {
		if (checkpoint_write(r->dir, hw, err, sizeof(err)) == 0)
			r->hw_saved = hw;
		else
			fprintf(stderr, "strand: %s\n", err);
		r->hw_saved_ms = now_ms;
	}
}
