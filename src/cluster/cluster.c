/*
 * cluster.c — membership in etcd (cluster.h): the cluster id, the broker's
 * session (lease + registration), the local lease deadline, the controller
 * election and its fenced writes, and the view of live brokers.
 *
 * One thread per broker runs the session: it renews the lease every
 * keepalive_ms, starts a new session when etcd says the lease is gone,
 * campaigns for controller and, between renewals, watches the controller
 * key so that a deletion (the controller's lease expired or was revoked)
 * starts a campaign at once instead of at the next renewal.
 */
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "broker/broker.h"
#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/err.h"

#define KEY_CLUSTER_ID  CLUSTER_ETCD_PREFIX "cluster_id"
#define KEY_BROKERS     CLUSTER_ETCD_PREFIX "brokers/"
#define KEY_CONTROLLER  CLUSTER_ETCD_PREFIX "controller"
#define CLUSTER_RETRY_MS     200   /* between tries while etcd refuses or fails */

struct cluster {
	etcd_t         *etcd;
	int32_t         broker_id;
	char           *url;                /* owned */
	char            reg_key[64];        /* /strand/brokers/<id> */
	char           *reg_value;          /* owned: {"id","url","unclean_shutdown"} */
	char            cluster_id[CLUSTER_MAX_ID_BYTES];
	int             ttl_s, keepalive_ms;

	pthread_mutex_t lock;               /* guards the fields below */
	pthread_cond_t  wake;               /* CLOCK_MONOTONIC; signalled by close */
	int             stopping;
	int64_t         lease_id;           /* 0: no session */
	int64_t         election_rev;       /* 0: not controller */
	int64_t         watch_from;         /* controller watch resumes here; 0: read first */
	pthread_t       thread;
	int             thread_started;

	_Atomic int64_t lease_deadline;     /* monotonic ms; read without the lock */
};

void cluster_options_init(cluster_options_t *o)
{
	memset(o, 0, sizeof *o);
}

/* ---- small helpers ----------------------------------------------------- */

const char *cluster_id(const cluster_t *c)
{
	return c->cluster_id;
}

int32_t cluster_broker_id(const cluster_t *c)
{
	return c->broker_id;
}

int64_t cluster_lease_deadline_ms(cluster_t *c)
{
	return atomic_load(&c->lease_deadline);
}

int cluster_lease_valid(cluster_t *c)
{
	return clock_now_ms() < atomic_load(&c->lease_deadline);
}

int64_t cluster_lease_id(cluster_t *c)
{
	int64_t id;

	pthread_mutex_lock(&c->lock);
	id = c->lease_id;
	pthread_mutex_unlock(&c->lock);
	return id;
}

int cluster_is_controller(cluster_t *c, int64_t *election_revision)
{
	int64_t rev;

	pthread_mutex_lock(&c->lock);
	rev = c->election_rev;
	pthread_mutex_unlock(&c->lock);
	if (rev == 0 || !cluster_lease_valid(c))
		return 0;
	if (election_revision != NULL)
		*election_revision = rev;
	return 1;
}

/*
 * The lease was renewed by a request sent at sent_ms with ttl_s: etcd
 * renewed it at some moment after sending, so it lives at least until
 * sent_ms + ttl. The margin covers the two clocks' rates and the time
 * between noticing and acting.
 */
static void cluster_lease_renewed(cluster_t *c, int64_t sent_ms, int64_t ttl_s)
{
	atomic_store(&c->lease_deadline, sent_ms + ttl_s * 1000 - CLUSTER_LEASE_MARGIN_MS);
}

/* Forget the session: no lease, not controller, locally invalid at once. */
static void cluster_session_lost(cluster_t *c)
{
	atomic_store(&c->lease_deadline, 0);
	pthread_mutex_lock(&c->lock);
	c->lease_id = 0;
	c->election_rev = 0;
	c->watch_from = 0;
	pthread_mutex_unlock(&c->lock);
}

/* ---- the data directory's membership ---------------------------------------- */

/* The cluster id of a read of KEY_CLUSTER_ID (kvs) into id[CLUSTER_MAX_ID_BYTES]:
 * 0, STRAND_ENOENT (no key) or STRAND_ECORRUPT. */
static int cluster_id_from(const etcd_kvs_t *kvs, char *id, char *err, size_t errlen)
{
	if (kvs->n == 0)
		return strand_err_set(err, errlen, STRAND_ENOENT, "etcd holds no cluster id");
	if (kvs->n != 1 || kvs->kvs[0].value_len == 0 ||
	    kvs->kvs[0].value_len >= CLUSTER_MAX_ID_BYTES)
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "etcd key %s is empty or over "
		                      "%d bytes", KEY_CLUSTER_ID, CLUSTER_MAX_ID_BYTES - 1);
	memcpy(id, kvs->kvs[0].value, kvs->kvs[0].value_len + 1);
	return 0;
}

int cluster_membership_read(const char *data_dir, cluster_membership_t *m,
                            char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	cJSON *doc = NULL;
	const cJSON *id, *broker;
	int rc;

	memset(m, 0, sizeof *m);
	m->broker_id = -1;
	snprintf(path, sizeof path, "%s/meta/" CLUSTER_TOPICS_FILE, data_dir);
	rc = broker_file_read(path, &text, &len, err, errlen);
	if (rc != 0 && rc != STRAND_ENOENT)
		return rc;
	m->cluster_data = rc == 0;
	free(text);
	text = NULL;
	snprintf(path, sizeof path, "%s/meta/" CLUSTER_MEMBERSHIP_FILE, data_dir);
	rc = broker_file_read(path, &text, &len, err, errlen);
	if (rc == STRAND_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	doc = cJSON_ParseWithLength(text, len);
	id = cJSON_GetObjectItemCaseSensitive(doc, "cluster_id");
	broker = cJSON_GetObjectItemCaseSensitive(doc, "broker_id");
	if (!cJSON_IsString(id) || id->valuestring[0] == '\0' ||
	    strlen(id->valuestring) >= CLUSTER_MAX_ID_BYTES || !cJSON_IsNumber(broker) ||
	    broker->valuedouble < 0 || broker->valuedouble > CLUSTER_MAX_BROKER_ID ||
	    broker->valuedouble != (double)(int32_t)broker->valuedouble) {
		rc = strand_err_set(err, errlen, STRAND_ECORRUPT, "%s: not {\"cluster_id\": "
		                    "\"...\", \"broker_id\": N}", path);
		goto out;
	}
	snprintf(m->cluster_id, sizeof m->cluster_id, "%s", id->valuestring);
	m->broker_id = (int32_t)broker->valuedouble;
	m->recorded = m->cluster_data = 1;
out:
	cJSON_Delete(doc);
	free(text);
	return rc;
}

int cluster_membership_write(const char *data_dir, const char *cluster_id, int32_t broker_id,
                             char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	cJSON *doc = cJSON_CreateObject();
	int rc = STRAND_ENOMEM;

	if (doc != NULL && cJSON_AddNumberToObject(doc, "version", 1) &&
	    cJSON_AddStringToObject(doc, "cluster_id", cluster_id) &&
	    cJSON_AddNumberToObject(doc, "broker_id", broker_id))
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (text == NULL)
		return strand_err_set(err, errlen, rc, "out of memory");
	snprintf(path, sizeof path, "%s/meta/" CLUSTER_MEMBERSHIP_FILE, data_dir);
	rc = broker_file_write_atomic(path, text, strlen(text), err, errlen);
	free(text);
	return rc;
}

int cluster_check_data_dir(const char *data_dir, const char *etcd_endpoints,
                           const char *etcd_ca_file, int32_t broker_id, cluster_membership_t *m,
                           char *err, size_t errlen)
{
	char held[CLUSTER_MAX_ID_BYTES], what[CLUSTER_MAX_ID_BYTES + 64];
	etcd_options_t eo;
	etcd_kvs_t kvs;
	etcd_t *e = NULL;
	int64_t deadline;
	int warned = 0, rc = cluster_membership_read(data_dir, m, err, errlen);

	if (rc)
		return rc;
	if (m->recorded)
		snprintf(what, sizeof what, "broker %" PRId32 " of cluster %s", m->broker_id,
		         m->cluster_id);
	else
		snprintf(what, sizeof what, "a cluster (it has %s)", CLUSTER_TOPICS_FILE);
	if (etcd_endpoints == NULL) {
		if (!m->cluster_data)
			return 0;
		return strand_err_set(err, errlen, STRAND_EINVAL, "data directory %s holds the "
		                      "replicas of %s: single-node, each of its partitions would "
		                      "take writes with this directory as its only replica and "
		                      "diverge from the cluster's other replicas; start it with "
		                      "--etcd%s", data_dir, what,
		                      m->recorded ? " and its --broker-id" : "");
	}
	if (!m->cluster_data) {
		size_t topics = 0;

		rc = broker_dir_topic_count(data_dir, &topics, err, errlen);
		if (rc)
			return rc;
		if (topics > 0)
			return strand_err_set(err, errlen, STRAND_EINVAL, "data directory %s holds %zu "
			                      "topic%s of a single-node broker: in a cluster, topics "
			                      "live in etcd and a broker deletes local topics etcd does "
			                      "not have, so joining would delete them; start it without "
			                      "--etcd, or give the broker an empty data directory",
			                      data_dir, topics, topics == 1 ? "" : "s");
	}
	if (!m->recorded)
		return 0;   /* a first join (or one from before the record): written on join */
	if (m->broker_id != broker_id)
		return strand_err_set(err, errlen, STRAND_EINVAL, "data directory %s holds the "
		                      "replicas of %s, not of broker %" PRId32 ": start it with "
		                      "--broker-id %" PRId32 " (if you moved the data, the broker id "
		                      "must move with it)", data_dir, what, broker_id, m->broker_id);
	memset(&eo, 0, sizeof eo);
	eo.endpoints = etcd_endpoints;
	eo.ca_file = etcd_ca_file;
	rc = etcd_open(&eo, &e, err, errlen);
	/* as a join does (cluster_open): wait for an etcd that is slow or not
	 * up yet, CLUSTER_DEFAULT_JOIN_WAIT_MS at most */
	deadline = clock_now_ms() + CLUSTER_DEFAULT_JOIN_WAIT_MS;
	while (rc == 0) {
		rc = etcd_range(e, KEY_CLUSTER_ID, 0, &kvs, err, errlen);
		if ((rc != STRAND_ETIMEDOUT && rc != STRAND_EIO) ||
		    clock_now_ms() + CLUSTER_RETRY_MS >= deadline)
			break;
		if (!warned)
			fprintf(stderr, "strand: cluster: cannot read the cluster id yet (%s); trying "
			        "again until etcd answers\n", err);
		warned = 1;
		clock_sleep_ms(CLUSTER_RETRY_MS);
	}
	etcd_close(e);
	if (rc)
		return rc;
	rc = cluster_id_from(&kvs, held, err, errlen);
	etcd_kvs_free(&kvs);
	if (rc == STRAND_ENOENT)
		return strand_err_set(err, errlen, STRAND_EINVAL, "etcd at %s holds no cluster id, "
		                      "but data directory %s holds the replicas of %s: etcd was "
		                      "wiped or --etcd names another one (a new cluster there would "
		                      "know nothing of this directory's topics and delete them)",
		                      etcd_endpoints, data_dir, what);
	if (rc)
		return rc;
	if (strcmp(held, m->cluster_id) != 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "the cluster id %s in etcd at %s "
		                      "is not the one data directory %s joined: it holds the "
		                      "replicas of %s (%s/meta/%s); the broker is trying to join "
		                      "the wrong cluster: check --etcd", held, etcd_endpoints,
		                      data_dir, what, data_dir, CLUSTER_MEMBERSHIP_FILE);
	return 0;
}

/* ---- joining ------------------------------------------------------------ */

/*
 * Without required: create the cluster id if absent (txn on
 * create_revision == 0), then adopt whatever etcd holds: the first broker's
 * proposal wins for everyone. With required (the data directory's cluster):
 * read only, and etcd must hold exactly that id.
 */
static int cluster_id_settle(cluster_t *c, const char *proposed, const char *required,
                             char *err, size_t errlen)
{
	etcd_compare_t absent = { KEY_CLUSTER_ID, ETCD_TARGET_CREATE, ETCD_CMP_EQUAL, 0 };
	etcd_op_t put = { ETCD_OP_PUT, KEY_CLUSTER_ID, 0, proposed, strlen(proposed), 0 };
	etcd_op_t get = { ETCD_OP_RANGE, KEY_CLUSTER_ID, 0, NULL, 0, 0 };
	etcd_txn_result_t r;
	int rc;

	if (required != NULL) {
		rc = etcd_range(c->etcd, KEY_CLUSTER_ID, 0, &r.kvs, err, errlen);
		if (rc)
			return rc;
		rc = cluster_id_from(&r.kvs, c->cluster_id, err, errlen);
		etcd_kvs_free(&r.kvs);
		if (rc == 0 && strcmp(c->cluster_id, required) != 0)
			rc = strand_err_set(err, errlen, STRAND_EINVAL, "etcd holds cluster id %s, "
			                    "the data directory joined %s", c->cluster_id, required);
		else if (rc == STRAND_ENOENT)
			rc = strand_err_set(err, errlen, STRAND_EINVAL, "etcd holds no cluster id, "
			                    "the data directory joined %s", required);
		return rc;
	}
	rc = etcd_txn(c->etcd, &absent, 1, &put, 1, &get, 1, &r, err, errlen);
	if (rc)
		return rc;
	if (r.succeeded)
		snprintf(c->cluster_id, sizeof c->cluster_id, "%s", proposed);
	else
		rc = cluster_id_from(&r.kvs, c->cluster_id, err, errlen);
	etcd_kvs_free(&r.kvs);
	return rc;
}

/*
 * Register brokers/<id> under lease, unless a live registration of the id
 * holds it under another lease (STRAND_EEXIST). A registration under our
 * own lease is ours: a first try whose answer was lost.
 */
static int cluster_register(cluster_t *c, int64_t lease, char *err, size_t errlen)
{
	etcd_compare_t absent = { c->reg_key, ETCD_TARGET_CREATE, ETCD_CMP_EQUAL, 0 };
	etcd_op_t put = { ETCD_OP_PUT, c->reg_key, 0, c->reg_value, strlen(c->reg_value), lease };
	etcd_op_t get = { ETCD_OP_RANGE, c->reg_key, 0, NULL, 0, 0 };
	etcd_txn_result_t r;
	int rc = etcd_txn(c->etcd, &absent, 1, &put, 1, &get, 1, &r, err, errlen);

	if (rc)
		return rc;
	if (!r.succeeded && !(r.kvs.n == 1 && r.kvs.kvs[0].lease == lease))
		rc = strand_err_set(err, errlen, STRAND_EEXIST, "broker id %" PRId32 " is "
		                    "registered by another live broker (lease %" PRId64 ")",
		                    c->broker_id, r.kvs.n == 1 ? r.kvs.kvs[0].lease : 0);
	etcd_kvs_free(&r.kvs);
	return rc;
}

/*
 * A new session: grant a lease, register under it, retrying EEXIST until
 * wait_ms has passed (a previous process with this id may have died
 * without revoking; its lease runs out within its TTL). A lease left over
 * from a failed attempt is revoked.
 */
static int cluster_session_start(cluster_t *c, int wait_ms, char *err, size_t errlen)
{
	int64_t deadline = clock_now_ms() + wait_ms, sent, lease = 0, ttl = 0;
	int rc;

	sent = clock_now_ms();
	rc = etcd_lease_grant(c->etcd, c->ttl_s, &lease, &ttl, err, errlen);
	if (rc)
		return rc;
	for (;;) {
		rc = cluster_register(c, lease, err, errlen);
		if (rc != STRAND_EEXIST || clock_now_ms() >= deadline)
			break;
		clock_sleep_ms(200);
		/* keep our own lease alive while we wait */
		sent = clock_now_ms();
		rc = etcd_lease_keepalive(c->etcd, lease, &ttl, err, errlen);
		if (rc)
			break;
	}
	if (rc) {
		char ignored[64];

		(void)etcd_lease_revoke(c->etcd, lease, ignored, sizeof ignored);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	c->lease_id = lease;
	c->election_rev = 0;
	c->watch_from = 0;
	pthread_mutex_unlock(&c->lock);
	cluster_lease_renewed(c, sent, ttl);
	return 0;
}

/* ---- the election --------------------------------------------------------- */

/*
 * Stand for controller: create the controller key under our lease if it
 * does not exist. Winning makes its create_revision our election revision.
 * Losing leaves watch_from at the revision after the read, so the watch
 * sees the key's deletion even if it happens before the watch starts.
 */
static int cluster_campaign(cluster_t *c, int64_t lease)
{
	char value[48], err[256];
	etcd_compare_t absent = { KEY_CONTROLLER, ETCD_TARGET_CREATE, ETCD_CMP_EQUAL, 0 };
	etcd_op_t put = { ETCD_OP_PUT, KEY_CONTROLLER, 0, value, 0, lease };
	etcd_op_t get = { ETCD_OP_RANGE, KEY_CONTROLLER, 0, NULL, 0, 0 };
	etcd_txn_result_t r;
	int64_t won = 0;

	snprintf(value, sizeof value, "{\"id\":%" PRId32 "}", c->broker_id);
	put.value_len = strlen(value);
	if (etcd_txn(c->etcd, &absent, 1, &put, 1, &get, 1, &r, err, sizeof err) != 0)
		return STRAND_EIO;   /* etcd unreachable: the caller retries later */
	if (r.succeeded)
		won = r.revision;
	else if (r.kvs.n == 1 && r.kvs.kvs[0].lease == lease)
		won = r.kvs.kvs[0].create_revision;   /* our earlier try, its answer lost */
	pthread_mutex_lock(&c->lock);
	if (c->lease_id == lease) {
		c->election_rev = won;
		c->watch_from = won ? 0 : r.revision + 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (won)
		fprintf(stderr, "strand: cluster: broker %" PRId32 " is the controller (election "
		        "revision %" PRId64 ")\n", c->broker_id, won);
	etcd_kvs_free(&r.kvs);
	return 0;
}

static int cluster_on_controller_event(void *arg, const etcd_event_t *ev)
{
	(void)arg;
	return ev->type == ETCD_EVENT_DELETE;   /* gone: campaign now */
}

int cluster_controller_txn(cluster_t *c, const etcd_compare_t *cmp, size_t ncmp,
                           const etcd_op_t *ops, size_t nops,
                           etcd_txn_result_t *res, char *err, size_t errlen)
{
	etcd_compare_t *all;
	etcd_op_t get = { ETCD_OP_RANGE, KEY_CONTROLLER, 0, NULL, 0, 0 };
	int64_t rev;
	int rc, fenced;

	memset(res, 0, sizeof *res);
	if (!cluster_is_controller(c, &rev))
		return strand_err_set(err, errlen, STRAND_EDEPOSED, "broker %" PRId32 " is not the "
		                      "controller (or its lease may have expired)", c->broker_id);
	all = calloc(ncmp + 1, sizeof *all);
	if (all == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	if (ncmp > 0)
		memcpy(all, cmp, ncmp * sizeof *all);
	all[ncmp] = (etcd_compare_t){ KEY_CONTROLLER, ETCD_TARGET_CREATE, ETCD_CMP_EQUAL, rev };
	rc = etcd_txn(c->etcd, all, ncmp + 1, ops, nops, &get, 1, res, err, errlen);
	free(all);
	if (rc || res->succeeded)
		return rc;
	/* which compare failed? the failure branch read the controller key */
	fenced = !(res->kvs.n == 1 && res->kvs.kvs[0].create_revision == rev);
	etcd_kvs_free(&res->kvs);
	res->kvs.revision = res->revision;
	if (!fenced)
		return 0;
	pthread_mutex_lock(&c->lock);
	if (c->election_rev == rev) {
		c->election_rev = 0;
		c->watch_from = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return strand_err_set(err, errlen, STRAND_EDEPOSED, "broker %" PRId32 " was deposed: "
	                      "the controller key no longer has election revision %" PRId64,
	                      c->broker_id, rev);
}

/* ---- the session thread ---------------------------------------------------- */

/* Renew; a lease etcd no longer knows ends the session. */
static void cluster_keepalive(cluster_t *c, int64_t lease)
{
	char err[256];
	int64_t sent = clock_now_ms(), ttl = 0;
	int rc = etcd_lease_keepalive(c->etcd, lease, &ttl, err, sizeof err);

	if (rc == 0) {
		cluster_lease_renewed(c, sent, ttl);
	} else if (rc == STRAND_ENOENT) {
		fprintf(stderr, "strand: cluster: broker %" PRId32 "'s lease expired in etcd: "
		        "registering again\n", c->broker_id);
		cluster_session_lost(c);
	}
	/* other errors: etcd unreachable; the local deadline runs out by itself */
}

/* Wait until deadline_ms (monotonic) or close. Returns 1 when stopping. */
static int cluster_wait_until(cluster_t *c, int64_t deadline_ms)
{
	struct timespec ts;
	int stopping;

	ts.tv_sec = (time_t)(deadline_ms / 1000);
	ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
	pthread_mutex_lock(&c->lock);
	while (!c->stopping && clock_now_ms() < deadline_ms)
		pthread_cond_timedwait(&c->wake, &c->lock, &ts);
	stopping = c->stopping;
	pthread_mutex_unlock(&c->lock);
	return stopping;
}

/* When to try etcd again after a failed call: soon, not after the renewal. */
static int64_t retry_at(int64_t next_renewal)
{
	int64_t t = clock_now_ms() + CLUSTER_RETRY_MS;

	return t < next_renewal ? t : next_renewal;
}

static void *cluster_thread(void *arg)
{
	cluster_t *c = arg;
	char err[256];
	int64_t next_renewal = clock_now_ms() + c->keepalive_ms, lease, rev, from, now;
	int stopping, rc;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		stopping = c->stopping;
		lease = c->lease_id;
		rev = c->election_rev;
		from = c->watch_from;
		pthread_mutex_unlock(&c->lock);
		if (stopping)
			break;
		now = clock_now_ms();
		if (lease == 0) {
			if (cluster_session_start(c, 0, err, sizeof err) != 0)
				fprintf(stderr, "strand: cluster: cannot register again: %s\n", err);
			next_renewal = clock_now_ms() + c->keepalive_ms;
			if (cluster_lease_id(c) == 0 && cluster_wait_until(c, next_renewal))
				break;
			continue;
		}
		if (now >= next_renewal) {
			next_renewal = now + c->keepalive_ms;
			cluster_keepalive(c, lease);
			continue;
		}
		if (rev == 0 && cluster_lease_valid(c)) {
			if (from == 0) {
				rc = cluster_campaign(c, lease);
				/* etcd unreachable (refusals come back at once): do not spin */
				if (rc != 0 && cluster_wait_until(c, retry_at(next_renewal)))
					break;
				pthread_mutex_lock(&c->lock);
				from = c->watch_from;
				pthread_mutex_unlock(&c->lock);
				if (from == 0)   /* won, or etcd unreachable */
					continue;
			}
			/* between renewals, wait for the controller key to go */
			rc = etcd_watch(c->etcd, KEY_CONTROLLER, 0, from, (int)(next_renewal - now),
			                cluster_on_controller_event, NULL, &from, err, sizeof err);
			if (rc != STRAND_ETIMEDOUT)
				from = 0;    /* deleted, or the watch failed: read and campaign again */
			if (rc != 0 && rc != STRAND_ETIMEDOUT &&
			    cluster_wait_until(c, retry_at(next_renewal)))
				break;
			pthread_mutex_lock(&c->lock);
			if (c->lease_id == lease && c->election_rev == 0)
				c->watch_from = from;
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		if (cluster_wait_until(c, next_renewal))
			break;
	}
	return NULL;
}

/* ---- open, close ------------------------------------------------------------ */

int cluster_open(const cluster_options_t *opts, cluster_t **out, char *err, size_t errlen)
{
	etcd_options_t eo;
	pthread_condattr_t ca;
	cluster_t *c;
	cJSON *reg;
	int rc, wait_ms, warned = 0;
	int64_t join_deadline;

	*out = NULL;
	if (opts->broker_id < 0 || opts->broker_id > CLUSTER_MAX_BROKER_ID)
		return strand_err_set(err, errlen, STRAND_EINVAL, "broker id must be in [0, %d]",
		                      CLUSTER_MAX_BROKER_ID);
	if (opts->advertised_url == NULL || opts->proposed_cluster_id == NULL ||
	    opts->proposed_cluster_id[0] == '\0' ||
	    strlen(opts->proposed_cluster_id) >= CLUSTER_MAX_ID_BYTES)
		return strand_err_set(err, errlen, STRAND_EINVAL, "cluster mode needs an advertised "
		                      "URL and a cluster id under %d bytes", CLUSTER_MAX_ID_BYTES);
	if (opts->lease_ttl_s < 0 || opts->lease_ttl_s > CLUSTER_MAX_LEASE_TTL_S)
		return strand_err_set(err, errlen, STRAND_EINVAL, "lease TTL must be in [1, %d] s",
		                      CLUSTER_MAX_LEASE_TTL_S);
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	c->broker_id = opts->broker_id;
	c->ttl_s = opts->lease_ttl_s > 0 ? opts->lease_ttl_s : CLUSTER_DEFAULT_LEASE_TTL_S;
	c->keepalive_ms = opts->keepalive_ms > 0 ? opts->keepalive_ms : c->ttl_s * 1000 / 3;
	snprintf(c->reg_key, sizeof c->reg_key, KEY_BROKERS "%" PRId32, c->broker_id);
	c->url = strdup(opts->advertised_url);
	reg = cJSON_CreateObject();
	if (reg != NULL && cJSON_AddNumberToObject(reg, "id", c->broker_id) &&
	    cJSON_AddStringToObject(reg, "url", opts->advertised_url) &&
	    cJSON_AddBoolToObject(reg, "unclean_shutdown", opts->unclean_shutdown != 0))
		c->reg_value = cJSON_PrintUnformatted(reg);
	cJSON_Delete(reg);
	if (c->url == NULL || c->reg_value == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto fail;
	}
	/* every etcd call of the session fits in one renewal period */
	memset(&eo, 0, sizeof eo);
	eo.endpoints = opts->etcd_endpoints;
	eo.ca_file = opts->etcd_ca_file;
	eo.timeout_ms = c->keepalive_ms < ETCD_DEFAULT_TIMEOUT_MS ? c->keepalive_ms
	                                                          : ETCD_DEFAULT_TIMEOUT_MS;
	rc = etcd_open(&eo, &c->etcd, err, errlen);
	if (rc)
		goto fail;
	wait_ms = opts->register_wait_ms > 0 ? opts->register_wait_ms : c->ttl_s * 1000 + 2000;
	join_deadline = clock_now_ms() + (opts->join_wait_ms > 0 ? opts->join_wait_ms
	                                                         : CLUSTER_DEFAULT_JOIN_WAIT_MS);
	for (;;) {
		/* both steps are safe to repeat: the id is created only if absent,
		 * and a session that failed revoked its lease (or its lease runs
		 * out and the next registration waits for it, as for a crash) */
		rc = cluster_id_settle(c, opts->proposed_cluster_id, opts->required_cluster_id,
		                       err, errlen);
		if (rc == 0)
			rc = cluster_session_start(c, wait_ms, err, errlen);
		if ((rc != STRAND_ETIMEDOUT && rc != STRAND_EIO) ||
		    clock_now_ms() + CLUSTER_RETRY_MS >= join_deadline)
			break;
		if (!warned)
			fprintf(stderr, "strand: cluster: broker %" PRId32 " cannot join yet (%s); "
			        "trying again until etcd answers\n", c->broker_id, err);
		warned = 1;
		clock_sleep_ms(CLUSTER_RETRY_MS);
	}
	if (rc)
		goto fail;
	if (pthread_create(&c->thread, NULL, cluster_thread, c) != 0) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "cannot start the cluster thread");
		goto fail;
	}
	c->thread_started = 1;
	*out = c;
	return 0;
fail:
	cluster_close(c);
	return rc;
}

void cluster_close(cluster_t *c)
{
	char err[64];
	int64_t lease;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	lease = c->lease_id;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	atomic_store(&c->lease_deadline, 0);
	/* revoking first deletes the controller key, which ends a watch in progress */
	if (lease != 0)
		(void)etcd_lease_revoke(c->etcd, lease, err, sizeof err);
	if (c->thread_started)
		pthread_join(c->thread, NULL);
	if (c->lease_id != 0 && c->lease_id != lease)   /* a session started meanwhile */
		(void)etcd_lease_revoke(c->etcd, c->lease_id, err, sizeof err);
	etcd_close(c->etcd);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->reg_value);
	free(c->url);
	free(c);
}

/* ---- the view ------------------------------------------------------------ */

static int cluster_broker_cmp(const void *a, const void *b)
{
	const cluster_broker_t *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* The "id" of a registration or controller value; -1 if absent. */
static int32_t cluster_value_id(const etcd_kv_t *kv, char **url)
{
	cJSON *doc = cJSON_ParseWithLength(kv->value, kv->value_len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "url");
	int32_t v = cJSON_IsNumber(id) ? (int32_t)id->valuedouble : -1;

	if (url != NULL)
		*url = cJSON_IsString(u) ? strdup(u->valuestring) : NULL;
	cJSON_Delete(doc);
	return v;
}

int cluster_describe(cluster_t *c, cluster_view_t *out, char *err, size_t errlen)
{
	etcd_op_t reads[2] = {
		{ ETCD_OP_RANGE, KEY_BROKERS, 1, NULL, 0, 0 },
		{ ETCD_OP_RANGE, KEY_CONTROLLER, 0, NULL, 0, 0 },
	};
	etcd_txn_result_t r;
	etcd_kvs_t kvs;
	size_t i, blen = strlen(KEY_BROKERS);
	int rc;

	memset(out, 0, sizeof *out);
	out->controller = -1;
	rc = etcd_txn(c->etcd, NULL, 0, reads, 2, NULL, 0, &r, err, errlen);
	if (rc)
		return rc;
	kvs = r.kvs;
	out->brokers = calloc(kvs.n > 0 ? kvs.n : 1, sizeof *out->brokers);
	if (out->brokers == NULL) {
		etcd_kvs_free(&kvs);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	for (i = 0; i < kvs.n; i++) {
		const etcd_kv_t *kv = &kvs.kvs[i];
		cluster_broker_t *b = &out->brokers[out->n];

		if (strcmp(kv->key, KEY_CONTROLLER) == 0) {
			out->controller = cluster_value_id(kv, NULL);
		} else if (strncmp(kv->key, KEY_BROKERS, blen) == 0) {
			b->id = cluster_value_id(kv, &b->url);
			if (b->id < 0 || b->url == NULL) {
				free(b->url);
				continue;   /* not ours to judge: skip what we cannot read */
			}
			out->n++;
		}
	}
	etcd_kvs_free(&kvs);
	qsort(out->brokers, out->n, sizeof *out->brokers, cluster_broker_cmp);
	return 0;
}

void cluster_view_free(cluster_view_t *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++)
		free(v->brokers[i].url);
	free(v->brokers);
	memset(v, 0, sizeof *v);
}
