/*
 * replica.c — a partition's place in a replicated cluster (replica.h,
 * docs/REPLICATION.md): the state applied from etcd, this broker's role
 * and leader epoch, and the hooks through which the cluster layer learns
 * of role changes and ISR proposals.
 *
 * Each partition slot of broker.c carries one replica_part_t; the broker
 * carries one replica_mgr_t (the hooks and the cluster-mode flag).
 *
 * Locks: a replica_part's lock guards its fields and is held only for
 * in-memory work (never across I/O or a hook call); the manager's lock
 * guards the hook pointers and is taken alone. Hooks are called with no
 * lock held, so a hook may call back into the broker.
 */
#include "broker/broker_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct replica_mgr {
	pthread_mutex_t     lock;         /* guards the hooks below */
	broker_role_hook_fn role_hook;
	void               *role_ctx;
	broker_isr_hook_fn  isr_hook;
	void               *isr_ctx;
	int               (*lease_valid)(void *ctx);
	void               *lease_ctx;
	atomic_int          replicated;   /* cluster mode seen */
};

struct replica_part {
	pthread_mutex_t   lock;
	int               have_state;
	partition_state_t st;             /* last applied state */
	replica_role_t    role;
	int64_t           epoch_start;    /* LEO when this leader epoch began here */
};

int replica_mgr_new(replica_mgr_t **out)
{
	replica_mgr_t *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return STRAND_ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	atomic_init(&m->replicated, 0);
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

replica_part_t *replica_part_new(void)
{
	replica_part_t *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->role = REPLICA_NONE;
	return r;
}

void replica_part_free(replica_part_t *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- the state API ------------------------------------------------------ */

static int state_has(const int32_t *ids, int32_t n, int32_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

static replica_role_t role_of(const partition_state_t *st, int32_t self)
{
	if (st->leader == self)
		return REPLICA_LEADER;
	if (state_has(st->replicas, st->nreplicas, self))
		return REPLICA_FOLLOWER;
	return REPLICA_NONE;
}

int broker_partition_set_state(broker_t *b, const char *topic, int32_t p,
                               const partition_state_t *st, char *err, size_t errlen)
{
	replica_mgr_t *m = broker_replica_mgr(b);
	broker_role_hook_fn hook = NULL;
	partition_state_t copy;
	replica_role_t role;
	replica_part_t *r;
	void *hook_ctx = NULL;
	int changed = 0;
	topic_t *t;

	if (st->nreplicas < 0 || st->nreplicas > REPLICA_MAX || st->nisr < 0 ||
	    st->nisr > REPLICA_MAX)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "%s/%d: replicas and isr hold at most %d brokers",
		                      topic, (int)p, REPLICA_MAX);
	t = broker_topic_get(b, topic);
	if (t == NULL)
		return strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic %s", topic);
	r = topic_replica_part(t, p);
	if (r == NULL) {
		topic_release(t);
		return strand_err_set(err, errlen, STRAND_ENOENT, "topic %s has no partition %d",
		                      topic, (int)p);
	}
	atomic_store(&m->replicated, 1);
	role = role_of(st, broker_self_id(b));
	pthread_mutex_lock(&r->lock);
	if (r->have_state && st->version <= r->st.version) {
		pthread_mutex_unlock(&r->lock);     /* an older or repeated state */
		topic_release(t);
		return 0;
	}
	changed = !r->have_state || role != r->role || st->leader_epoch != r->st.leader_epoch;
	if (role == REPLICA_LEADER && changed)
		r->epoch_start = log_end_offset(topic_partition_log(t, p));
	r->st = *st;
	r->role = role;
	r->have_state = 1;
	copy = r->st;
	pthread_mutex_unlock(&r->lock);

	if (changed) {
		pthread_mutex_lock(&m->lock);
		hook = m->role_hook;
		hook_ctx = m->role_ctx;
		pthread_mutex_unlock(&m->lock);
		if (hook != NULL)
			hook(hook_ctx, topic, p, &copy, role);
	}
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
