/*
 * broker.c — the single-node broker engine: the topic map and topic
 * handles, persisted metadata (topics.json, cluster_id), partition logs,
 * the append path, committed offsets' topic checks, and the ticker thread
 * that drives every log's flush/roll/retention (log_tick).
 *
 * Locks, in the order they may be taken:
 *   meta_lock  serialises every metadata change (topic create/delete/alter,
 *              offsets commit/delete) together with its file write. It IS
 *              held across I/O (fsync of the metadata files, opening logs),
 *              on purpose: metadata changes are rare, and holding it makes
 *              "check, write file, publish" one step. No hot path takes it.
 *   lock       guards the topic map, the graveyard and the ticker state;
 *              held only for in-memory work, never across I/O.
 *   topic->lock guards that topic's config.
 *   hook_lock  guards the append hook pair (taken alone).
 *   pid_lock   guards the producer id counter; held across the rare rewrite
 *              of DATA/meta/producer_ids (once per PRODUCER_ID_BLOCK ids).
 *   a partition's producer table lock (producer.h) serialises the check,
 *              append and record of idempotent batches; it is held across
 *              that log_append, as Kafka holds its log lock across the
 *              producer-state check and the append. Other batches skip it.
 *
 * Topic handles are reference counted (atomic). The map holds one
 * reference; broker_topic_get adds one under `lock`, so a topic in the map
 * never reaches zero. Deletion removes the topic from the map and metadata,
 * marks it deleted and moves it to the graveyard; the last release closes
 * its logs, removes its directories and only then leaves the graveyard, so a
 * topic re-created under the same name never shares directories with the
 * old one (create waits for the graveyard, see topic_wait_buried).
 *
 * Partitions: a topic's logs live in an immutable partitions_t array that
 * readers load with one atomic acquire. Growing the topic publishes a new,
 * larger array holding the same log pointers; the old array is kept (chained
 * by `prev`) until the topic is freed, so a reader that loaded it never sees
 * freed memory. Alters are rare, so the retained arrays stay small.
 */
#include "broker/broker_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/producer.h"
#include "cluster/cluster.h"
#include "common/err.h"
#include "common/file.h"

#define TOPICS_FILE        "topics.json"
#define OFFSETS_FILE       "offsets.json"
#define CLUSTER_ID_FILE    "cluster_id"
#define LOCK_FILE          "lock"
#define MAX_PARTITIONS     10000
#define BURY_WAIT_MS       10000   /* how long create waits for a deleted namesake's cleanup */
#define PRODUCER_IDS_FILE  "producer_ids"
#define IDEMPOTENCY_FILE   "idempotency.journal"
#define CLEAN_SHUTDOWN_FILE ".strand_cleanshutdown"  /* Kafka's .kafka_cleanshutdown */
#define PRODUCER_ID_BLOCK  1000    /* ids reserved per write of producer_ids (Kafka's block size) */
#define PRODUCER_EXPIRATION_DEFAULT_MS 86400000  /* Kafka's producer.id.expiration.ms */

/* One partition: its log, its idempotent producers (producer.h) and its
 * replication state (replica.c; idle on a single node). */
typedef struct partition_slot {
	log_t            *log;
	producer_table_t *producers;
	replica_part_t   *replica;
} partition_slot_t;

typedef struct partitions {
	int32_t            count;
	struct partitions *prev;   /* older, smaller array: freed with the topic */
	partition_slot_t   slot[]; /* count partitions, shared with the arrays before it */
} partitions_t;

struct topic {
	broker_t               *broker;
	char                   *name;
	int32_t                 replication_factor;
	atomic_int              refs;
	atomic_int              deleted;
	_Atomic(partitions_t *) parts;
	pthread_mutex_t         lock;       /* guards cfg */
	topic_config_t          cfg;
	struct topic           *next_dead;  /* graveyard link, under broker lock */
};

struct broker {
	char           *data_dir;
	char           *meta_dir;
	char           *advertised_url;
	int32_t         broker_id;
	int             tick_ms;
	char            cluster_id[64];
	int             lock_fd;            /* flock'd DATA/meta/lock: one broker per dir */

	pthread_mutex_t meta_lock;
	pthread_mutex_t lock;
	pthread_cond_t  tick_cond;          /* wakes the ticker (CLOCK_MONOTONIC) */
	pthread_cond_t  dead_cond;          /* a graveyard topic was cleaned up */
	topic_t       **topics;             /* sorted by name */
	size_t          ntopics, cap;
	topic_t        *dead;               /* deleted topics still held */
	atomic_int      stopping;
	pthread_t       ticker;
	int             ticker_started;
	int             opened;             /* broker_open finished: a close may be clean */
	int             unclean_shutdown;   /* the last run left no clean-shutdown marker */
	pthread_t       cleaner;            /* cluster mode: compacts __consumer_offsets */
	int             cleaner_started;
	int             cleaner_backoff_ms;
	broker_cleaner_opts_t     cleaner_opts;
	broker_cleaner_counters_t cleaner_counters;   /* broker_cleaner_stats */

	pthread_mutex_t       hook_lock;
	broker_append_hook_fn hook;
	void                 *hook_ctx;

	offsets_store_t *offsets;           /* cluster mode: memory only, olog is the store */
	offsets_log_t   *olog;              /* cluster mode: __consumer_offsets (offsets_log.h);
	                                       NULL: offsets.json */
	group_coord_t   *groups;            /* the group coordinator (group.h) */

	atomic_uint_fast64_t records_appended, bytes_appended;

	/* Producer ids (POST /v1/producers): handed out from a block reserved
	 * in DATA/meta/producer_ids, so an id is never given twice, even
	 * across restarts. pid_lock is held across that file's rare rewrite. */
	pthread_mutex_t pid_lock;
	int64_t         pid_next, pid_reserved;
	int64_t         producer_expiration_ms;   /* -1: never */
	broker_topic_defaults_t topic_defaults;   /* broker_options.topic_defaults */

	idem_store_t   *idempotency;              /* the Idempotency-Key window */
	replica_mgr_t  *replica;                  /* replication hooks (replica.c) */
};

/* ---- files ---------------------------------------------------------------- */

/* fsync the directory holding path. */
static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return file_fsync_dir(".");
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return file_fsync_dir(dir);
}

int broker_file_write_atomic(const char *path, const char *data, size_t len,
                             char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	size_t done = 0;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return strand_err_set(err, errlen, STRAND_EIO, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "open %s: %s", tmp, strerror(errno));
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	if (fsync_parent(path) < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "fsync directory of %s: %s",
		                      path, strerror(errno));
	return 0;
fail:
	{
		int e = errno;

		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return strand_err_set(err, errlen, e == ENOSPC ? STRAND_ENOSPC : STRAND_EIO,
		                      "write %s: %s", path, strerror(e));
	}
}

int broker_file_read(const char *path, char **out, size_t *len_out,
                     char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *data = NULL;
	size_t len = 0, cap;

	if (fd < 0) {
		if (errno == ENOENT)
			return STRAND_ENOENT;
		return strand_err_set(err, errlen, STRAND_EIO, "open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0)
		goto fail;
	cap = (size_t)st.st_size + 1;
	data = malloc(cap);
	if (data == NULL) {
		close(fd);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory reading %s", path);
	}
	for (;;) {
		ssize_t r = read(fd, data + len, cap - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0 || len + (size_t)r == cap - 1) {
			len += (size_t)r;
			break;
		}
		len += (size_t)r;
	}
	close(fd);
	data[len] = '\0';
	*out = data;
	if (len_out != NULL)
		*len_out = len;
	return 0;
fail:
	{
		int e = errno;

		close(fd);
		free(data);
		return strand_err_set(err, errlen, STRAND_EIO, "read %s: %s", path, strerror(e));
	}
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf path; a missing path is fine. */
static int rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int partition_dir(const broker_t *b, const char *topic, int32_t p,
                         char *out, size_t size)
{
	if (snprintf(out, size, "%s/%s-%d", b->data_dir, topic, (int)p) >= (int)size)
		return -1;
	return 0;
}

char **broker_names_pack(char *const *names, size_t n)
{
	size_t bytes = (n + 1) * sizeof(char *);
	char **out;
	char *text;

	for (size_t i = 0; i < n; i++)
		bytes += strlen(names[i]) + 1;
	out = malloc(bytes);
	if (out == NULL)
		return NULL;
	text = (char *)(out + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]) + 1;

		memcpy(text, names[i], len);
		out[i] = text;
		text += len;
	}
	out[n] = NULL;
	return out;
}

int64_t broker_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The group coordinator's clock (group.h: monotonic milliseconds). */
int64_t broker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_after_ms(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* ---- topics: handles ------------------------------------------------------ */

static partitions_t *partitions_new(int32_t count)
{
	partitions_t *parts = calloc(1, sizeof(*parts) + (size_t)count * sizeof(partition_slot_t));

	if (parts != NULL)
		parts->count = count;
	return parts;
}

static partitions_t *topic_parts(const topic_t *t)
{
	return atomic_load_explicit(&((topic_t *)t)->parts, memory_order_acquire);
}

static topic_t *topic_new(broker_t *b, const char *name, int32_t rf,
                          const topic_config_t *cfg, int32_t partitions)
{
	topic_t *t = calloc(1, sizeof(*t));
	partitions_t *parts = partitions_new(partitions);

	if (t == NULL || parts == NULL || (t->name = strdup(name)) == NULL) {
		free(t);
		free(parts);
		return NULL;
	}
	t->broker = b;
	t->replication_factor = rf;
	atomic_init(&t->refs, 1);
	atomic_init(&t->deleted, 0);
	atomic_init(&t->parts, parts);
	pthread_mutex_init(&t->lock, NULL);
	t->cfg = *cfg;
	return t;
}

/* Remove the partition directories [from, to) of topic name; fsync DATA. */
static void partition_dirs_remove(broker_t *b, const char *name, int32_t from, int32_t to)
{
	char dir[PATH_MAX];

	for (int32_t p = from; p < to; p++)
		if (partition_dir(b, name, p, dir, sizeof(dir)) == 0)
			rm_tree(dir);
	file_fsync_dir(b->data_dir);
}

/*
 * Free a topic whose last reference is gone: close its logs; a deleted
 * topic also loses its directories, then leaves the graveyard (waking a
 * create waiting for the name). Called with no broker lock held.
 */
static void topic_free(topic_t *t)
{
	broker_t *b = t->broker;
	partitions_t *parts = topic_parts(t);
	int32_t count = parts->count;

	for (int32_t p = 0; p < count; p++) {
		log_close(parts->slot[p].log);
		producer_table_free(parts->slot[p].producers);
		replica_part_free(parts->slot[p].replica);
	}
	while (parts != NULL) {
		partitions_t *prev = parts->prev;

		free(parts);
		parts = prev;
	}
	if (atomic_load(&t->deleted)) {
		partition_dirs_remove(b, t->name, 0, count);
		pthread_mutex_lock(&b->lock);
		for (topic_t **pp = &b->dead; *pp != NULL; pp = &(*pp)->next_dead) {
			if (*pp == t) {
				*pp = t->next_dead;
				break;
			}
		}
		pthread_cond_broadcast(&b->dead_cond);
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->name);
	free(t);
}

void topic_release(topic_t *t)
{
	if (t != NULL && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		topic_free(t);
}

const char *topic_name(const topic_t *t)
{
	return t->name;
}

int32_t topic_partition_count(topic_t *t)
{
	return topic_parts(t)->count;
}

int32_t topic_replication_factor(const topic_t *t)
{
	return t->replication_factor;
}

void topic_get_config(topic_t *t, topic_config_t *out)
{
	pthread_mutex_lock(&t->lock);
	*out = t->cfg;
	pthread_mutex_unlock(&t->lock);
}

replica_part_t *topic_replica_part(topic_t *t, int32_t p)
{
	partitions_t *parts = topic_parts(t);

	if (p < 0 || p >= parts->count)
		return NULL;
	return parts->slot[p].replica;
}

broker_t *topic_broker(topic_t *t)
{
	return t->broker;
}

replica_mgr_t *broker_replica_mgr(broker_t *b)
{
	return b->replica;
}

int32_t broker_self_id(broker_t *b)
{
	return b->broker_id;
}

log_t *topic_partition_log(topic_t *t, int32_t p)
{
	partitions_t *parts = topic_parts(t);

	if (p < 0 || p >= parts->count)
		return NULL;
	return parts->slot[p].log;
}

producer_table_t *topic_partition_producers(topic_t *t, int32_t p)
{
	partitions_t *parts = topic_parts(t);

	if (p < 0 || p >= parts->count)
		return NULL;
	return parts->slot[p].producers;
}

int64_t topic_partition_hw(topic_t *t, int32_t p)
{
	return replica_hw(t->broker, t, p);
}

/* ---- topics: the map (callers hold b->lock) ------------------------------- */

/* Index of name in the sorted map, or -1; *pos gets the insertion point. */
static long map_find(const broker_t *b, const char *name, size_t *pos)
{
	size_t lo = 0, hi = b->ntopics;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->topics[mid]->name, name);

		if (c == 0) {
			if (pos != NULL)
				*pos = mid;
			return (long)mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos != NULL)
		*pos = lo;
	return -1;
}

static int map_reserve(broker_t *b)
{
	topic_t **grown;
	size_t cap;

	if (b->ntopics < b->cap)
		return 0;
	cap = b->cap == 0 ? 16 : b->cap * 2;
	grown = realloc(b->topics, cap * sizeof(*grown));
	if (grown == NULL)
		return STRAND_ENOMEM;
	b->topics = grown;
	b->cap = cap;
	return 0;
}

/* Insert t (map_reserve succeeded and name is absent). */
static void map_insert(broker_t *b, topic_t *t)
{
	size_t pos;

	map_find(b, t->name, &pos);
	memmove(&b->topics[pos + 1], &b->topics[pos], (b->ntopics - pos) * sizeof(t));
	b->topics[pos] = t;
	b->ntopics++;
}

static void map_remove(broker_t *b, size_t idx)
{
	memmove(&b->topics[idx], &b->topics[idx + 1], (b->ntopics - idx - 1) * sizeof(topic_t *));
	b->ntopics--;
}

topic_t *broker_topic_get(broker_t *b, const char *name)
{
	topic_t *t = NULL;
	long idx;

	pthread_mutex_lock(&b->lock);
	idx = map_find(b, name, NULL);
	if (idx >= 0) {
		t = b->topics[idx];
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&b->lock);
	return t;
}

int broker_topic_names(broker_t *b, char ***names_out, size_t *n_out)
{
	char **names;
	size_t n;

	pthread_mutex_lock(&b->lock);
	n = b->ntopics;
	names = malloc((n + 1) * sizeof(*names));
	if (names != NULL) {
		for (size_t i = 0; i < n; i++)
			names[i] = b->topics[i]->name;
		*names_out = broker_names_pack(names, n);
	}
	pthread_mutex_unlock(&b->lock);
	free(names);
	if (names == NULL || *names_out == NULL)
		return STRAND_ENOMEM;
	*n_out = n;
	return 0;
}

/* ---- topics.json ------------------------------------------------------------ */

/*
 * A pending change to the topic list, applied while serialising it:
 * topics.json is written before the change becomes visible in memory.
 */
enum topics_change_op { TOPICS_ADD, TOPICS_REMOVE, TOPICS_REPLACE };

typedef struct topics_change {
	enum topics_change_op op;
	const char           *name;
	int32_t               partitions, replication_factor;
	const topic_config_t *cfg;
} topics_change_t;

static cJSON *topic_entry_json(const char *name, int32_t partitions, int32_t rf,
                               const topic_config_t *cfg)
{
	cJSON *e = cJSON_CreateObject(), *configs;

	if (e == NULL)
		return NULL;
	if (cJSON_AddStringToObject(e, "name", name) == NULL ||
	    cJSON_AddNumberToObject(e, "partitions", partitions) == NULL ||
	    cJSON_AddNumberToObject(e, "replication_factor", rf) == NULL ||
	    (configs = topic_config_to_json(cfg)) == NULL) {
		cJSON_Delete(e);
		return NULL;
	}
	cJSON_AddItemToObject(e, "configs", configs);
	return e;
}

/*
 * Serialise the topic list with change applied. Called under meta_lock (so
 * the map and configs cannot change meanwhile); takes b->lock for the walk.
 * Returns the text (caller frees) or NULL when out of memory.
 */
static char *topics_json(broker_t *b, const topics_change_t *change)
{
	cJSON *root = cJSON_CreateObject(), *arr, *e;
	char *text = NULL;
	int failed = 0;

	if (root == NULL || cJSON_AddNumberToObject(root, "version", 1) == NULL ||
	    (arr = cJSON_AddArrayToObject(root, "topics")) == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->ntopics && !failed; i++) {
		topic_t *t = b->topics[i];
		topic_config_t cfg;

		if (strcmp(t->name, change->name) == 0) {
			if (change->op == TOPICS_REMOVE)
				continue;
			e = topic_entry_json(t->name, change->partitions, t->replication_factor,
			                     change->cfg);
		} else {
			topic_get_config(t, &cfg);
			e = topic_entry_json(t->name, topic_partition_count(t),
			                     t->replication_factor, &cfg);
		}
		if (e == NULL)
			failed = 1;
		else
			cJSON_AddItemToArray(arr, e);
	}
	pthread_mutex_unlock(&b->lock);
	if (!failed && change->op == TOPICS_ADD) {
		e = topic_entry_json(change->name, change->partitions,
		                     change->replication_factor, change->cfg);
		if (e == NULL)
			failed = 1;
		else
			cJSON_AddItemToArray(arr, e);
	}
	if (!failed)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static int topics_write(broker_t *b, const topics_change_t *change, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char *text;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, TOPICS_FILE);
	text = topics_json(b, change);
	if (text == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	rc = broker_file_write_atomic(path, text, strlen(text), err, errlen);
	free(text);
	return rc;
}

/*
 * Open the logs of partitions [from, to) into parts->slot, with their
 * producer state. fresh: the
 * partitions are new, so any directory already there is debris of a crash
 * (a create or delete cut short) and is removed first.
 */
static int partitions_open(broker_t *b, const char *name, partitions_t *parts,
                           int32_t from, int32_t to, const log_config_t *cfg,
                           int fresh, char *err, size_t errlen)
{
	log_config_t lc = *cfg;
	char dir[PATH_MAX];
	int rc;

	/* the one compacted topic (offsets_log.h); every other one deletes */
	lc.compact = strcmp(name, BROKER_OFFSETS_TOPIC) == 0;
	for (int32_t p = from; p < to; p++) {
		if (partition_dir(b, name, p, dir, sizeof(dir)) < 0)
			return strand_err_set(err, errlen, STRAND_EINVAL, "path too long for %s", name);
		if (fresh && rm_tree(dir) < 0)
			return strand_err_set(err, errlen, STRAND_EIO, "remove stale %s: %s",
			                      dir, strerror(errno));
		rc = log_open(dir, &lc, &parts->slot[p].log, err, errlen);
		if (rc == 0)
			rc = producer_table_load(parts->slot[p].log, &parts->slot[p].producers, err, errlen);
		if (rc == 0 && (parts->slot[p].replica =
		                replica_part_new(dir, log_end_offset(parts->slot[p].log))) == NULL)
			rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		if (rc != 0)
			return rc;
	}
	if (fresh && file_fsync_dir(b->data_dir) < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "fsync %s: %s",
		                      b->data_dir, strerror(errno));
	return 0;
}

static void partitions_close(partitions_t *parts, int32_t from, int32_t to)
{
	for (int32_t p = from; p < to; p++) {
		log_close(parts->slot[p].log);
		parts->slot[p].log = NULL;
		producer_table_free(parts->slot[p].producers);
		parts->slot[p].producers = NULL;
		replica_part_free(parts->slot[p].replica);
		parts->slot[p].replica = NULL;
	}
}

/* Is a deleted topic named name still being cleaned up? Under b->lock. */
static int graveyard_has(const broker_t *b, const char *name)
{
	for (const topic_t *t = b->dead; t != NULL; t = t->next_dead)
		if (strcmp(t->name, name) == 0)
			return 1;
	return 0;
}

/*
 * Wait (under b->lock, up to BURY_WAIT_MS) until no deleted topic named name
 * is still held: its last release removes the directories the new topic is
 * about to use. Returns 0 or STRAND_EEXIST when it is still held.
 */
static int topic_wait_buried(broker_t *b, const char *name)
{
	struct timespec deadline;

	deadline_after_ms(&deadline, BURY_WAIT_MS);
	while (graveyard_has(b, name)) {
		if (pthread_cond_timedwait(&b->dead_cond, &b->lock, &deadline) == ETIMEDOUT)
			return graveyard_has(b, name) ? STRAND_EEXIST : 0;
	}
	return 0;
}

/* ---- topics: create, delete, alter ---------------------------------------- */

int broker_topic_create(broker_t *b, const char *name, int32_t partitions,
                        int32_t replication_factor, const topic_config_t *cfg,
                        char *err, size_t errlen)
{
	topic_config_t defaults;
	topics_change_t change;
	topic_t *t = NULL;
	int opened = 0, rc;

	if (!broker_name_valid(name))
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "topic names are [A-Za-z0-9._-]{1,249}, not . or ..");
	if (partitions < 1 || partitions > MAX_PARTITIONS)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "partitions must be in [1, %d]", MAX_PARTITIONS);
	if (!broker_replicated(b) && replication_factor != 1)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "replication_factor must be 1 on a single node");
	if (replication_factor < 1 || replication_factor > REPLICA_MAX)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "replication_factor must be in [1, %d]", REPLICA_MAX);
	if (cfg == NULL) {
		broker_topic_config_default(b, &defaults);
		cfg = &defaults;
	}
	rc = topic_config_validate(cfg, err, errlen);
	if (rc != 0)
		return rc;

	pthread_mutex_lock(&b->meta_lock);
	pthread_mutex_lock(&b->lock);
	if (map_find(b, name, NULL) >= 0)
		rc = strand_err_set(err, errlen, STRAND_EEXIST, "topic %s already exists", name);
	else if (topic_wait_buried(b, name) != 0)
		rc = strand_err_set(err, errlen, STRAND_EEXIST,
		                    "topic %s is still being deleted; retry later", name);
	else if (map_reserve(b) != 0)
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	pthread_mutex_unlock(&b->lock);
	if (rc != 0)
		goto out;

	t = topic_new(b, name, replication_factor, cfg, partitions);
	if (t == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto out;
	}
	/* Offsets left by an earlier topic of this name (a drop cut short) must not apply. */
	rc = offsets_store_drop_topic(b->offsets, name, 1, err, errlen);
	if (rc != 0)
		goto fail;
	opened = 1;
	rc = partitions_open(b, name, topic_parts(t), 0, partitions, &cfg->log, 1, err, errlen);
	if (rc != 0)
		goto fail;
	change = (topics_change_t){ TOPICS_ADD, name, partitions, replication_factor, cfg };
	rc = topics_write(b, &change, err, errlen);
	if (rc != 0)
		goto fail;
	pthread_mutex_lock(&b->lock);
	map_insert(b, t);
	pthread_mutex_unlock(&b->lock);
	goto out;
fail:
	partitions_close(topic_parts(t), 0, partitions);
	if (opened)
		partition_dirs_remove(b, name, 0, partitions);
	topic_free(t);
out:
	pthread_mutex_unlock(&b->meta_lock);
	return rc;
}

/*
 * Wake whoever waits on a deleted topic's partitions (the append hook with
 * hw = INT64_MAX, broker.h): a parked long poll then answers 404 at once
 * instead of at its deadline, and an SSE tail ends.
 */
static void broker_fire_deleted(broker_t *b, topic_t *t)
{
	for (int32_t p = 0; p < topic_partition_count(t); p++)
		broker_fire_append_hook(b, t->name, p, INT64_MAX);
}

int broker_topic_delete(broker_t *b, const char *name, char *err, size_t errlen)
{
	topics_change_t change = { TOPICS_REMOVE, name, 0, 0, NULL };
	topic_t *t;
	long idx;
	int rc;

	pthread_mutex_lock(&b->meta_lock);
	pthread_mutex_lock(&b->lock);
	idx = map_find(b, name, NULL);
	pthread_mutex_unlock(&b->lock);
	if (idx < 0) {
		rc = strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic %s", name);
		goto out;
	}
	rc = topics_write(b, &change, err, errlen);
	if (rc != 0)
		goto out;
	pthread_mutex_lock(&b->lock);
	t = b->topics[idx];     /* the map cannot change while we hold meta_lock */
	map_remove(b, (size_t)idx);
	atomic_store(&t->deleted, 1);
	t->next_dead = b->dead;
	b->dead = t;
	pthread_mutex_unlock(&b->lock);
	/*
	 * The topic is gone once topics.json says so. If dropping its offsets
	 * fails, broker_open and a later create of the name drop them again.
	 */
	offsets_log_topic_deleted_locked(b, name);
	offsets_store_drop_topic(b->offsets, name, 1, NULL, 0);
	pthread_mutex_unlock(&b->meta_lock);
	broker_fire_deleted(b, t);
	topic_release(t);       /* the map's reference: files go at the last release */
	return 0;
out:
	pthread_mutex_unlock(&b->meta_lock);
	return rc;
}

/* Apply a validated config to every log of parts, then to the topic. */
static int topic_apply_config(topic_t *t, partitions_t *parts, const topic_config_t *cfg,
                              char *err, size_t errlen)
{
	int rc;

	for (int32_t p = 0; p < parts->count; p++) {
		rc = log_set_config(parts->slot[p].log, &cfg->log, err, errlen);
		if (rc != 0)
			return rc;
	}
	pthread_mutex_lock(&t->lock);
	t->cfg = *cfg;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/*
 * new_partitions: the new count (>= the current one), or 0 to keep it.
 * The new partitions' logs are opened and topics.json written before the
 * larger array is published, so readers never see a partition that a crash
 * could forget.
 */
int broker_topic_alter(broker_t *b, const char *name, int32_t new_partitions,
                       const topic_config_t *cfg, char *err, size_t errlen)
{
	topic_config_t next_cfg;
	topics_change_t change;
	partitions_t *old, *grown = NULL;
	topic_t *t = NULL;
	int32_t cur, target;
	int rc;

	if (new_partitions < 0 || new_partitions > MAX_PARTITIONS)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "partitions must be in [1, %d]", MAX_PARTITIONS);
	if (cfg != NULL) {
		rc = topic_config_validate(cfg, err, errlen);
		if (rc != 0)
			return rc;
	}
	pthread_mutex_lock(&b->meta_lock);
	t = broker_topic_get(b, name);
	if (t == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic %s", name);
		goto out;
	}
	old = topic_parts(t);
	cur = old->count;
	if (new_partitions != 0 && new_partitions < cur) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL,
		                    "partitions can only grow (topic %s has %d)", name, (int)cur);
		goto out;
	}
	target = new_partitions > cur ? new_partitions : cur;
	if (cfg != NULL)
		next_cfg = *cfg;
	else
		topic_get_config(t, &next_cfg);
	rc = 0;
	if (target == cur && cfg == NULL)
		goto out;
	if (target > cur) {
		grown = partitions_new(target);
		if (grown == NULL) {
			rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(grown->slot, old->slot, (size_t)cur * sizeof(partition_slot_t));
		rc = partitions_open(b, name, grown, cur, target, &next_cfg.log, 1, err, errlen);
		if (rc != 0)
			goto fail;
	}
	change = (topics_change_t){ TOPICS_REPLACE, name, target, t->replication_factor, &next_cfg };
	rc = topics_write(b, &change, err, errlen);
	if (rc != 0)
		goto fail;
	if (cfg != NULL)
		rc = topic_apply_config(t, grown != NULL ? grown : old, &next_cfg, err, errlen);
	if (grown != NULL) {
		grown->prev = old;
		atomic_store_explicit(&t->parts, grown, memory_order_release);
	}
	goto out;
fail:
	if (grown != NULL) {
		partitions_close(grown, cur, target);
		partition_dirs_remove(b, name, cur, target);
		free(grown);
	}
out:
	pthread_mutex_unlock(&b->meta_lock);
	topic_release(t);
	return rc;
}

/* ---- loading metadata -------------------------------------------------------- */

static int json_int32(const cJSON *item, int32_t min, int32_t max, int32_t *out)
{
	if (!cJSON_IsNumber(item) || item->valuedouble < min || item->valuedouble > max ||
	    item->valuedouble != (double)(int32_t)item->valuedouble)
		return -1;
	*out = (int32_t)item->valuedouble;
	return 0;
}

/* Build and open one topic from its topics.json entry; inserted into the map. */
static int topic_load(broker_t *b, const char *path, const cJSON *e, char *err, size_t errlen)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
	int32_t partitions, rf;
	topic_config_t cfg;
	char why[256];
	topic_t *t;
	int rc;

	if (!cJSON_IsString(name) || !broker_name_valid(name->valuestring))
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "%s: a topic has a bad name", path);
	if (json_int32(cJSON_GetObjectItemCaseSensitive(e, "partitions"), 1, MAX_PARTITIONS,
	               &partitions) < 0 ||
	    json_int32(cJSON_GetObjectItemCaseSensitive(e, "replication_factor"), 1, INT32_MAX,
	               &rf) < 0)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: topic %s: bad partitions or replication_factor",
		                      path, name->valuestring);
	if (topic_config_from_json(&cfg, cJSON_GetObjectItemCaseSensitive(e, "configs"),
	                           why, sizeof(why)) != 0)
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "%s: topic %s: %s",
		                      path, name->valuestring, why);
	if (map_find(b, name->valuestring, NULL) >= 0)
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "%s: topic %s listed twice",
		                      path, name->valuestring);
	if (map_reserve(b) != 0)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	t = topic_new(b, name->valuestring, rf, &cfg, partitions);
	if (t == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	rc = partitions_open(b, t->name, topic_parts(t), 0, partitions, &cfg.log, 0, err, errlen);
	if (rc != 0) {
		topic_free(t);      /* closes the logs opened so far */
		return rc;
	}
	map_insert(b, t);       /* single-threaded during open: no lock needed */
	return 0;
}

static int topics_load(broker_t *b, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	const cJSON *arr, *e, *version;
	cJSON *root;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, TOPICS_FILE);
	rc = broker_file_read(path, &text, &len, err, errlen);
	if (rc == STRAND_ENOENT)
		return 0;       /* first start */
	if (rc != 0)
		return rc;
	root = cJSON_ParseWithLength(text, len);
	free(text);
	arr = cJSON_GetObjectItemCaseSensitive(root, "topics");
	version = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (root == NULL || !cJSON_IsArray(arr) ||
	    (version != NULL && !(cJSON_IsNumber(version) && version->valuedouble == 1))) {
		cJSON_Delete(root);
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: not a version 1 object with a topics array", path);
	}
	cJSON_ArrayForEach(e, arr) {
		rc = topic_load(b, path, e, err, errlen);
		if (rc != 0)
			break;
	}
	cJSON_Delete(root);
	return rc;
}

int broker_dir_topic_count(const char *data_dir, size_t *n, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	const cJSON *arr;
	cJSON *root;
	size_t len;
	int rc;

	*n = 0;
	snprintf(path, sizeof(path), "%s/meta/%s", data_dir, TOPICS_FILE);
	rc = broker_file_read(path, &text, &len, err, errlen);
	if (rc == STRAND_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	root = cJSON_ParseWithLength(text, len);
	free(text);
	arr = cJSON_GetObjectItemCaseSensitive(root, "topics");
	if (!cJSON_IsArray(arr))
		rc = strand_err_set(err, errlen, STRAND_ECORRUPT, "%s: no topics array", path);
	else
		*n = (size_t)cJSON_GetArraySize(arr);
	cJSON_Delete(root);
	return rc;
}

/* Forget committed offsets of topics that no longer exist (a delete cut short). */
static int offsets_prune(broker_t *b, char *err, size_t errlen)
{
	char **names;
	size_t n;
	int rc = offsets_store_topic_names(b->offsets, &names, &n);

	if (rc != 0)
		return strand_err_set(err, errlen, rc, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++)
		if (map_find(b, names[i], NULL) < 0)
			rc = offsets_store_drop_topic(b->offsets, names[i], 0, err, errlen);
	free(names);
	return rc;
}

static int cluster_id_valid(const char *id)
{
	size_t len = strlen(id);

	if (len == 0 || len >= 64)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* Read DATA/meta/cluster_id, or generate a random UUID (v4) at first start. */
static int cluster_id_load(broker_t *b, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	unsigned char r[16];
	size_t len;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, CLUSTER_ID_FILE);
	rc = broker_file_read(path, &text, &len, err, errlen);
	if (rc == 0) {
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
		                   text[len - 1] == ' '))
			text[--len] = '\0';
		if (!cluster_id_valid(text)) {
			free(text);
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "%s: not a cluster id", path);
		}
		memcpy(b->cluster_id, text, len + 1);
		free(text);
		return 0;
	}
	if (rc != STRAND_ENOENT)
		return rc;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		if (fd >= 0)
			close(fd);
		return strand_err_set(err, errlen, STRAND_EIO, "read /dev/urandom: %s",
		                      strerror(errno));
	}
	close(fd);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);  /* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
	snprintf(b->cluster_id, sizeof(b->cluster_id),
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
	         r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
	return broker_file_write_atomic(path, b->cluster_id, strlen(b->cluster_id), err, errlen);
}

/* ---- producer ids ------------------------------------------------------------ */

/*
 * DATA/meta/producer_ids: a version line (0) and the end of the last
 * reserved block. Ids below it may have been handed out before a restart,
 * so this run starts there (the rest of the old block is skipped).
 */
static int producer_ids_load(broker_t *b, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL, *end;
	long long v;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, PRODUCER_IDS_FILE);
	rc = broker_file_read(path, &text, NULL, err, errlen);
	if (rc == STRAND_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	errno = 0;
	v = strncmp(text, "0\n", 2) == 0 ? strtoll(text + 2, &end, 10) : -1;
	if (errno != 0 || v < 0 || (*end != '\n' && *end != '\0')) {
		free(text);
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: not a version line 0 and a producer id", path);
	}
	free(text);
	b->pid_next = b->pid_reserved = v;
	return 0;
}

/* Cluster mode: every broker id's ids stay below 2^53, so a JSON number
 * (a double: cJSON, JavaScript) carries them exactly. */
_Static_assert(((int64_t)CLUSTER_MAX_BROKER_ID + 1) << BROKER_PRODUCER_ID_SHIFT <= INT64_C(1) << 53,
               "broker id << BROKER_PRODUCER_ID_SHIFT must stay below 2^53");

int broker_producer_new(broker_t *b, int64_t *id_out, int16_t *epoch_out,
                        char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&b->pid_lock);
	if (b->broker_id >= 1 && b->pid_next >= BROKER_PRODUCER_IDS_PER_BROKER) {
		rc = strand_err_set(err, errlen, STRAND_ENOSPC,
		                    "broker %" PRId32 " has handed out all its %" PRId64
		                    " producer ids", b->broker_id, BROKER_PRODUCER_IDS_PER_BROKER);
		goto out;
	}
	if (b->pid_next == b->pid_reserved) {
		char path[PATH_MAX], text[32];
		int n;

		snprintf(path, sizeof(path), "%s/%s", b->meta_dir, PRODUCER_IDS_FILE);
		n = snprintf(text, sizeof(text), "0\n%" PRId64 "\n",
		             b->pid_reserved + PRODUCER_ID_BLOCK);
		rc = broker_file_write_atomic(path, text, (size_t)n, err, errlen);
		if (rc == 0)
			b->pid_reserved += PRODUCER_ID_BLOCK;
	}
	if (rc == 0) {
		int64_t n = b->pid_next++;

		/* cluster mode: the broker id in the high bits makes ids unique
		 * across brokers without asking anyone */
		*id_out = b->broker_id >= 1
		          ? ((int64_t)b->broker_id << BROKER_PRODUCER_ID_SHIFT) | n : n;
		*epoch_out = 0;
	}
out:
	pthread_mutex_unlock(&b->pid_lock);
	return rc;
}

/*
 * May a batch carry producer id id? Single-node: only ids this data
 * directory handed out. Cluster mode: ids this broker handed out, and any
 * id whose broker part names a valid broker id (another broker gave it: a
 * leader takes a producer it has no state for from its first batch, as
 * Kafka's leaders do).
 */
static int producer_id_issued(broker_t *b, int64_t id)
{
	int issued;

	if (id < 0)
		return 0;
	if (b->broker_id >= 1) {
		int64_t owner = id >> BROKER_PRODUCER_ID_SHIFT;
		int64_t n = id & (BROKER_PRODUCER_IDS_PER_BROKER - 1);

		if (owner < 1 || owner > CLUSTER_MAX_BROKER_ID)
			return 0;
		if (owner != b->broker_id)
			return 1;
		id = n;
	}
	pthread_mutex_lock(&b->pid_lock);
	issued = id < b->pid_next;
	pthread_mutex_unlock(&b->pid_lock);
	return issued;
}

/* ---- ticker ------------------------------------------------------------------- */

/* Tick every partition of t unless the broker is stopping. */
static void topic_tick(broker_t *b, topic_t *t, int64_t now)
{
	partitions_t *parts = topic_parts(t);
	char err[256];

	int64_t min_ts = b->producer_expiration_ms < 0 ? INT64_MIN
	                 : now - b->producer_expiration_ms;

	for (int32_t p = 0; p < parts->count && !atomic_load(&b->stopping); p++) {
		partition_slot_t *s = &parts->slot[p];

		log_tick(s->log, now, NULL, err, sizeof(err));  /* retried next tick */
		/* producers whose batches retention deleted, or idle too long */
		producer_table_lock(s->producers);
		producer_table_expire(s->producers, log_start_offset(s->log), min_ts);
		producer_table_unlock(s->producers);
	}
}

/* Replication's tick for every partition of t (cluster mode). */
static void topic_replica_tick(broker_t *b, topic_t *t, int64_t now)
{
	partitions_t *parts = topic_parts(t);

	for (int32_t p = 0; p < parts->count && !atomic_load(&b->stopping); p++)
		replica_tick(b, t, p, now);
}

/* The ticker's period: tick_ms, or REPLICA_TICK_MS in cluster mode when shorter. */
static int ticker_period_ms(broker_t *b)
{
	return broker_replicated(b) && b->tick_ms > REPLICA_TICK_MS ? REPLICA_TICK_MS : b->tick_ms;
}

/*
 * Every tick_ms: reference every topic under the lock, then tick their logs
 * without it (log_tick may fsync). In cluster mode it wakes every
 * REPLICA_TICK_MS for replication (ISR, HW, checkpoints: replica.c) and
 * does the rest every tick_ms. Wakes at once when broker_close signals.
 */
static void *ticker_main(void *arg)
{
	broker_t *b = arg;
	struct timespec deadline;
	int64_t next_full = broker_now_ms() + b->tick_ms;

	pthread_mutex_lock(&b->lock);
	deadline_after_ms(&deadline, ticker_period_ms(b));
	while (!atomic_load(&b->stopping)) {
		topic_t **snap;
		size_t n;
		int full;

		if (pthread_cond_timedwait(&b->tick_cond, &b->lock, &deadline) != ETIMEDOUT)
			continue;       /* signalled or spurious: recheck stopping */
		full = broker_now_ms() >= next_full;
		n = b->ntopics;
		snap = malloc((n + 1) * sizeof(*snap));
		if (snap != NULL) {
			for (size_t i = 0; i < n; i++) {
				snap[i] = b->topics[i];
				atomic_fetch_add_explicit(&snap[i]->refs, 1, memory_order_relaxed);
			}
		}
		pthread_mutex_unlock(&b->lock);
		if (snap != NULL) {
			int64_t now = broker_wall_ms(), mono = broker_now_ms();
			int replicated = broker_replicated(b);

			for (size_t i = 0; i < n; i++) {
				if (replicated)
					topic_replica_tick(b, snap[i], mono);
				if (full)
					topic_tick(b, snap[i], now);
				topic_release(snap[i]);
			}
			free(snap);
		}
		if (!full) {
			pthread_mutex_lock(&b->lock);
			deadline_after_ms(&deadline, ticker_period_ms(b));
			continue;
		}
		next_full = broker_now_ms() + b->tick_ms;
		{
			char err[256];

			if (idem_store_tick(b->idempotency, broker_wall_ms(), err, sizeof(err)) != 0)
				fprintf(stderr, "strand: idempotency window: %s\n", err);
		}
		/* sessions and rebalance deadlines (callers also tick their group) */
		group_coord_tick(b->groups, broker_now_ms());
		/* __consumer_offsets partitions no longer led here: drop their groups */
		offsets_log_tick(b);
		pthread_mutex_lock(&b->lock);
		deadline_after_ms(&deadline, ticker_period_ms(b));
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/*
 * The log cleaner (Kafka's log cleaner thread, log.cleaner.backoff.ms):
 * every cleaner_backoff_ms, compact __consumer_offsets where it is dirty
 * enough (offsets_log_clean). Its own thread: a compaction reads and
 * rewrites segments, which must not delay the ticker's ISR and HW work.
 */
static void *cleaner_main(void *arg)
{
	broker_t *b = arg;
	struct timespec deadline;

	pthread_mutex_lock(&b->lock);
	deadline_after_ms(&deadline, b->cleaner_backoff_ms);
	while (!atomic_load(&b->stopping)) {
		if (pthread_cond_timedwait(&b->tick_cond, &b->lock, &deadline) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&b->lock);
		offsets_log_clean(b, broker_wall_ms(), &b->cleaner_opts, &b->cleaner_counters);
		pthread_mutex_lock(&b->lock);
		deadline_after_ms(&deadline, b->cleaner_backoff_ms);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* ---- open / close ------------------------------------------------------------- */

/* The coordinator's partition-count callback (runs under its lock). */
static int32_t broker_group_partitions(void *ctx, const char *topic)
{
	topic_t *t = broker_topic_get(ctx, topic);
	int32_t n;

	if (t == NULL)
		return -1;
	n = topic_partition_count(t);
	topic_release(t);
	return n;
}

static int cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int rc;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rc = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}

/*
 * KIP-966's unclean shutdown: DATA/meta/.strand_cleanshutdown exists only
 * between a clean close (every log flushed and closed) and the next open.
 * Opening without it means the last run ended by a kill or a crash, and a
 * crash of the machine may have taken the unflushed tail of every log (the
 * page cache). The marker is removed here, durably (the directory fsynced),
 * so a crash of this run is never mistaken for a clean one.
 */
static int clean_shutdown_take(broker_t *b, char *err, size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, CLEAN_SHUTDOWN_FILE);
	if (unlink(path) == 0) {
		b->unclean_shutdown = 0;
		if (file_fsync_dir(b->meta_dir) < 0)
			return strand_err_set(err, errlen, STRAND_EIO, "fsync %s: %s", b->meta_dir,
			                      strerror(errno));
		return 0;
	}
	if (errno != ENOENT)
		return strand_err_set(err, errlen, STRAND_EIO, "unlink %s: %s", path,
		                      strerror(errno));
	b->unclean_shutdown = 1;
	return 0;
}

/* After a clean close: every log closed (flushed), the marker written durably. */
static void clean_shutdown_mark(broker_t *b)
{
	char path[PATH_MAX], err[256];

	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, CLEAN_SHUTDOWN_FILE);
	if (broker_file_write_atomic(path, "", 0, err, sizeof err) != 0)
		fprintf(stderr, "strand: cannot write the clean-shutdown marker: %s\n", err);
}

int broker_unclean_shutdown(broker_t *b)
{
	return b->unclean_shutdown;
}

/* Take DATA/meta/lock: two brokers on one directory would corrupt it. */
static int data_dir_lock(broker_t *b, char *err, size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, LOCK_FILE);
	b->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (b->lock_fd < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "open %s: %s", path, strerror(errno));
	if (flock(b->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return strand_err_set(err, errlen, STRAND_EIO,
		                      "%s is in use by another broker (%s)", b->data_dir,
		                      strerror(errno));
	return 0;
}

int broker_open(const broker_options_t *opts, broker_t **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	broker_t *b;
	int rc;

	if (opts == NULL || opts->data_dir == NULL || opts->data_dir[0] == '\0')
		return strand_err_set(err, errlen, STRAND_EINVAL, "no data directory");
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	b->lock_fd = -1;
	pthread_mutex_init(&b->meta_lock, NULL);
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->hook_lock, NULL);
	pthread_mutex_init(&b->pid_lock, NULL);
	cond_init_monotonic(&b->tick_cond);
	cond_init_monotonic(&b->dead_cond);
	atomic_init(&b->stopping, 0);
	atomic_init(&b->records_appended, 0);
	atomic_init(&b->bytes_appended, 0);
	b->broker_id = opts->broker_id;
	b->tick_ms = opts->tick_ms > 0 ? opts->tick_ms : 1000;
	b->topic_defaults = opts->topic_defaults;
	b->producer_expiration_ms = opts->producer_expiration_ms == 0
	                            ? PRODUCER_EXPIRATION_DEFAULT_MS : opts->producer_expiration_ms;
	b->data_dir = strdup(opts->data_dir);
	b->advertised_url = strdup(opts->advertised_url ? opts->advertised_url : "");
	if (b->data_dir == NULL || b->advertised_url == NULL ||
	    snprintf(path, sizeof(path), "%s/meta", opts->data_dir) >= (int)sizeof(path) ||
	    (b->meta_dir = strdup(path)) == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto fail;
	}
	if (mkdir_p(b->meta_dir) < 0) {
		rc = strand_err_set(err, errlen, STRAND_EIO, "mkdir %s: %s",
		                    b->meta_dir, strerror(errno));
		goto fail;
	}
	rc = data_dir_lock(b, err, errlen);
	if (rc == 0)
		rc = clean_shutdown_take(b, err, errlen);
	if (rc == 0 && replica_mgr_new(opts->cluster_mode != 0, &b->replica) != 0)
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	if (rc == 0)
		rc = cluster_id_load(b, err, errlen);
	if (rc == 0)
		rc = producer_ids_load(b, err, errlen);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/%s", b->meta_dir, IDEMPOTENCY_FILE);
		rc = idem_store_open(path, &opts->idempotency, broker_wall_ms(), &b->idempotency,
		                     err, errlen);
	}
	if (rc == 0)
		rc = topics_load(b, err, errlen);
	if (rc == 0 && opts->cluster_mode) {
		/* cluster mode: __consumer_offsets is the store (offsets_log.h) */
		rc = offsets_store_open(NULL, &b->offsets, err, errlen);
		if (rc == 0 && offsets_log_new(&b->olog) != 0)
			rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	} else if (rc == 0) {
		snprintf(path, sizeof(path), "%s/%s", b->meta_dir, OFFSETS_FILE);
		rc = offsets_store_open(path, &b->offsets, err, errlen);
	}
	if (rc == 0)
		rc = offsets_prune(b, err, errlen);
	if (rc == 0 && group_coord_new(broker_group_partitions, b, &b->groups) != 0)
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	if (rc != 0)
		goto fail;
	if (pthread_create(&b->ticker, NULL, ticker_main, b) != 0) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "cannot start the ticker thread");
		goto fail;
	}
	b->ticker_started = 1;
	if (b->olog != NULL) {
		b->cleaner_backoff_ms = opts->log_cleaner_backoff_ms > 0 ? opts->log_cleaner_backoff_ms
		                                                         : 15000;
		b->cleaner_opts.io_max_bytes_per_second =
			opts->log_cleaner_io_max_bytes_per_second > 0
			? opts->log_cleaner_io_max_bytes_per_second : 0;
		b->cleaner_opts.cancel = &b->stopping;
		if (pthread_create(&b->cleaner, NULL, cleaner_main, b) != 0) {
			rc = strand_err_set(err, errlen, STRAND_ENOMEM,
			                    "cannot start the log cleaner thread");
			goto fail;
		}
		b->cleaner_started = 1;
	}
	b->opened = 1;
	*out = b;
	return 0;
fail:
	broker_close(b);
	return rc;
}

/*
 * Every topic handle must have been released before this: a topic still
 * held (even a deleted one) cannot be freed here and would be left behind.
 */
void broker_close(broker_t *b)
{
	int clean;

	if (b == NULL)
		return;
	/* clean only when open finished and every log is closed here: no topic
	 * held elsewhere, none deleted but still held */
	pthread_mutex_lock(&b->lock);
	clean = b->opened && b->dead == NULL;
	pthread_mutex_unlock(&b->lock);
	if (b->ticker_started) {
		pthread_mutex_lock(&b->lock);
		atomic_store(&b->stopping, 1);
		pthread_cond_broadcast(&b->tick_cond);
		pthread_mutex_unlock(&b->lock);
		pthread_join(b->ticker, NULL);
		if (b->cleaner_started)
			pthread_join(b->cleaner, NULL);
	}
	for (size_t i = 0; i < b->ntopics; i++) {
		if (atomic_load(&b->topics[i]->refs) != 1)
			clean = 0;
		topic_release(b->topics[i]);
	}
	free(b->topics);
	offsets_store_close(b->offsets);
	offsets_log_free(b->olog);
	idem_store_close(b->idempotency);
	group_coord_free(b->groups);
	replica_mgr_free(b->replica);
	if (clean)
		clean_shutdown_mark(b);   /* before the flock goes: no other broker yet */
	if (b->lock_fd >= 0)
		close(b->lock_fd);     /* drops the flock */
	pthread_cond_destroy(&b->tick_cond);
	pthread_cond_destroy(&b->dead_cond);
	pthread_mutex_destroy(&b->hook_lock);
	pthread_mutex_destroy(&b->pid_lock);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->meta_lock);
	free(b->advertised_url);
	free(b->meta_dir);
	free(b->data_dir);
	free(b);
}

const char *broker_cluster_id(broker_t *b)
{
	return b->cluster_id;
}

void broker_topic_config_default(broker_t *b, topic_config_t *cfg)
{
	topic_config_default(cfg);
	if (b->topic_defaults.replica_lag_time_max_ms > 0)
		cfg->replica_lag_time_max_ms = b->topic_defaults.replica_lag_time_max_ms;
	if (b->topic_defaults.min_insync_replicas > 0)
		cfg->min_insync_replicas = b->topic_defaults.min_insync_replicas;
}

int32_t broker_default_replication_factor(broker_t *b)
{
	return b->topic_defaults.replication_factor > 0 ? b->topic_defaults.replication_factor : 1;
}

const char *broker_meta_dir(broker_t *b)
{
	return b->meta_dir;
}

/* ---- append ------------------------------------------------------------------- */

void broker_set_append_hook(broker_t *b, broker_append_hook_fn fn, void *ctx)
{
	pthread_mutex_lock(&b->hook_lock);
	b->hook = fn;
	b->hook_ctx = ctx;
	pthread_mutex_unlock(&b->hook_lock);
}

/*
 * Does buf hold an idempotent batch (producer_id != -1)? Walks the batch
 * headers only. Such a batch must come alone, as Kafka's produce v3+
 * requires (one batch per partition and request): *h gets its header.
 * Bodies that do not frame are left to log_append to refuse.
 */
static int append_find_idempotent(const uint8_t *buf, size_t len, batch_header_t *h,
                                  char *err, size_t errlen)
{
	size_t pos = 0, nbatches = 0;
	int idempotent = 0;
	batch_header_t cur;

	while (pos < len && batch_header_decode(buf + pos, len - pos, 0, &cur, NULL, 0) == 0 &&
	       batch_total_size(&cur) <= len - pos) {
		if (nbatches++ == 0)
			*h = cur;
		if (cur.producer_id != -1)
			idempotent = 1;
		pos += batch_total_size(&cur);
	}
	if (idempotent && (nbatches != 1 || pos != len))
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "a body with an idempotent batch (producer_id set) must hold "
		                      "that one batch only");
	return idempotent;
}

/*
 * An idempotent batch (producer.h): under the partition's producer lock,
 * judge it, then append and record it, or answer a duplicate with the
 * original's offsets (its base_offset in buf is set to the original's).
 */
static int append_idempotent(broker_t *b, partition_slot_t *s, uint8_t *buf, size_t len,
                             int32_t epoch, const batch_header_t *h, broker_append_info_t *info,
                             char *err, size_t errlen)
{
	producer_batch_meta_t dup;
	log_append_info_t done;
	batch_header_t stored;
	int rc;

	if (!producer_id_issued(b, h->producer_id))
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "unknown producer_id %" PRId64 ": take one from POST /v1/producers",
		                      h->producer_id);
	producer_table_lock(s->producers);
	rc = producer_table_check(s->producers, h, &dup, err, errlen);
	if (rc == 1) {
		/* a retry: answer as the first time, if it is a sound batch */
		rc = batch_validate(buf, len, 0, NULL, err, errlen);
		if (rc == 0) {
			batch_set_base_offset(buf, dup.first_offset);
			info->first_offset = dup.first_offset;
			info->last_offset = dup.last_offset;
			info->record_count = dup.last_offset - dup.first_offset + 1;
			info->max_timestamp = h->max_timestamp;
			info->duplicate = 1;
		}
		goto out;
	}
	if (rc == 0)
		rc = producer_table_reserve(s->producers);
	if (rc == 0)
		rc = log_append(s->log, buf, len, epoch, &done, err, errlen);
	if (rc == 0) {
		stored = *h;
		stored.base_offset = done.first_offset;
		producer_table_record(s->producers, &stored);   /* cannot fail: reserved */
		info->first_offset = done.first_offset;
		info->last_offset = done.last_offset;
		info->record_count = done.record_count;
		info->max_timestamp = done.max_timestamp;
	}
out:
	producer_table_unlock(s->producers);
	return rc;
}

/*
 * Hot path. The log assigns offsets (leader epoch 0 on a single node; in
 * cluster mode the partition's, under its fence: replica.c);
 * durable appends then wait for a group-committed fsync covering them. The
 * hook fires after any successful append, even when the flush then fails:
 * the records are in the log and readers may see them (up to the HW). A
 * duplicate idempotent batch appends nothing, and its flush wait covers the
 * original.
 */
void broker_fire_append_hook(broker_t *b, const char *topic, int32_t p, int64_t hw)
{
	broker_append_hook_fn hook;
	void *hook_ctx;

	pthread_mutex_lock(&b->hook_lock);
	hook = b->hook;
	hook_ctx = b->hook_ctx;
	pthread_mutex_unlock(&b->hook_lock);
	if (hook != NULL)
		hook(hook_ctx, topic, p, hw);
}

int broker_append(broker_t *b, topic_t *t, int32_t p, uint8_t *buf, size_t len,
                  unsigned flags, broker_append_info_t *info, char *err, size_t errlen)
{
	broker_append_info_t local;
	log_append_info_t plain;
	batch_header_t h;
	partitions_t *parts;
	int32_t epoch;
	log_t *log;
	int fenced, rc;

	if (atomic_load_explicit(&t->deleted, memory_order_relaxed))
		return strand_err_set(err, errlen, STRAND_ENOENT, "topic %s was deleted", t->name);
	parts = topic_parts(t);
	if (p < 0 || p >= parts->count)
		return strand_err_set(err, errlen, STRAND_ENOENT,
		                      "topic %s has no partition %d", t->name, (int)p);
	log = parts->slot[p].log;
	memset(&local, 0, sizeof(local));
	rc = append_find_idempotent(buf, len, &h, err, errlen);
	if (rc < 0)
		return rc;
	{
		int idempotent = rc;

		rc = replica_append_begin(b, t, p, flags, &epoch, &fenced, err, errlen);
		if (rc != 0)
			return rc;
		if (idempotent) {
			rc = append_idempotent(b, &parts->slot[p], buf, len, epoch, &h, &local,
			                       err, errlen);
		} else {
			rc = (flags & BROKER_APPEND_BUILT)
			     ? log_append_built(log, buf, len, epoch, &plain, err, errlen)
			     : log_append(log, buf, len, epoch, &plain, err, errlen);
			local.first_offset = plain.first_offset;
			local.last_offset = plain.last_offset;
			local.record_count = plain.record_count;
			local.max_timestamp = plain.max_timestamp;
		}
		local.leader_epoch = epoch;
		replica_append_end(b, t, p, fenced, rc == 0 && !local.duplicate);
	}
	if (rc != 0)
		return rc;
	if (info != NULL)
		*info = local;
	if (flags & BROKER_APPEND_DURABLE)
		rc = log_flush(log, local.last_offset + 1, err, errlen);
	if (local.duplicate)
		return rc;
	atomic_fetch_add_explicit(&b->records_appended, (uint64_t)local.record_count,
	                          memory_order_relaxed);
	atomic_fetch_add_explicit(&b->bytes_appended, (uint64_t)len, memory_order_relaxed);
	broker_fire_append_hook(b, t->name, p, topic_partition_hw(t, p));
	return rc;
}

int broker_partition_producer_count(topic_t *t, int32_t p)
{
	partitions_t *parts = topic_parts(t);
	size_t n;

	if (p < 0 || p >= parts->count)
		return -1;
	producer_table_lock(parts->slot[p].producers);
	n = producer_table_count(parts->slot[p].producers);
	producer_table_unlock(parts->slot[p].producers);
	return (int)n;
}

void broker_stats(broker_t *b, broker_stats_t *out)
{
	out->records_appended = atomic_load_explicit(&b->records_appended, memory_order_relaxed);
	out->bytes_appended = atomic_load_explicit(&b->bytes_appended, memory_order_relaxed);
}

void broker_cleaner_stats(broker_t *b, broker_cleaner_stats_t *out)
{
	broker_cleaner_counters_t *c = &b->cleaner_counters;

#define LOAD(f) atomic_load_explicit(&c->f, memory_order_relaxed)
	out->passes = LOAD(passes);
	out->failures = LOAD(failures);
	out->bytes_read = LOAD(bytes_read);
	out->bytes_written = LOAD(bytes_written);
	out->records_removed = LOAD(records_removed);
	out->tombstones_removed = LOAD(tombstones_removed);
	out->busy_ns = LOAD(busy_ns);
	out->throttled_ns = LOAD(throttled_ns);
	out->last_pass_ns = LOAD(last_pass_ns);
	out->last_pass_end_ms = LOAD(last_pass_end_ms);
	out->max_dirty_ratio = (double)LOAD(max_dirty_ppm) / 1e6;
#undef LOAD
}

/* ---- committed offsets -------------------------------------------------------- */

static int offsets_validate(broker_t *b, const committed_offset_t *offs, size_t n,
                            char *err, size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (strnlen(offs[i].topic, sizeof(offs[i].topic)) == sizeof(offs[i].topic) ||
		    strnlen(offs[i].metadata, sizeof(offs[i].metadata)) == sizeof(offs[i].metadata))
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "topic or metadata is not a string of < 256 bytes");
		if (offs[i].offset < 0)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "offset must be >= 0 (%s/%d)", offs[i].topic,
			                      (int)offs[i].partition);
	}
	/* Under meta_lock no topic can be created or deleted meanwhile. */
	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < n && rc == 0; i++) {
		long idx = map_find(b, offs[i].topic, NULL);

		if (idx < 0)
			rc = strand_err_set(err, errlen, STRAND_ENOENT, "unknown topic %s",
			                    offs[i].topic);
		else if (offs[i].partition < 0 ||
		         offs[i].partition >= topic_partition_count(b->topics[idx]))
			rc = strand_err_set(err, errlen, STRAND_ENOENT, "topic %s has no partition %d",
			                    offs[i].topic, (int)offs[i].partition);
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

int broker_offsets_commit(broker_t *b, const char *group,
                          const committed_offset_t *offs, size_t n,
                          char *err, size_t errlen)
{
	int rc;

	if (!broker_name_valid(group))
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "group names are [A-Za-z0-9._-]{1,249}, not . or ..");
	pthread_mutex_lock(&b->meta_lock);
	rc = offsets_validate(b, offs, n, err, errlen);
	if (rc == 0)
		rc = offsets_store_commit(b->offsets, group, offs, n, err, errlen);
	pthread_mutex_unlock(&b->meta_lock);
	return rc;
}

int broker_group_commit(broker_t *b, const char *group, const char *member_id,
                        int32_t generation, const committed_offset_t *offs, size_t n,
                        int64_t now_ms, broker_group_write_t *w, char *err, size_t errlen)
{
	const char **topics = malloc((n + 1) * sizeof *topics);
	int32_t *parts = malloc((n + 1) * sizeof *parts);
	int rc;

	w->partition = -1;
	if (topics == NULL || parts == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		topics[i] = offs[i].topic;
		parts[i] = offs[i].partition;
	}
	if (!broker_name_valid(group)) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL,
		                    "group names are [A-Za-z0-9._-]{1,249}, not . or ..");
		goto out;
	}
	/* Fence and write under one lock: once a newer generation owns a
	 * partition, no commit validated against the old one can land after
	 * the new owner's (they queue on meta_lock in check order). */
	pthread_mutex_lock(&b->meta_lock);
	rc = offsets_validate(b, offs, n, err, errlen);
	if (rc == 0)
		rc = group_commit_check(b->groups, group, member_id, generation, topics, parts, n,
		                        now_ms, err, errlen);
	/* cluster mode: the records first (the log is the store), then the view */
	if (rc == 0 && b->olog != NULL)
		rc = offsets_log_write_locked(b, group, offs, n, w, err, errlen);
	if (rc == 0)
		rc = offsets_store_commit(b->offsets, group, offs, n, err, errlen);
	pthread_mutex_unlock(&b->meta_lock);
out:
	free(topics);
	free(parts);
	return rc;
}

idem_store_t *broker_idempotency(broker_t *b)
{
	return b->idempotency;
}

pthread_mutex_t *broker_meta_lock(broker_t *b)
{
	return &b->meta_lock;
}

offsets_store_t *broker_offsets_store(broker_t *b)
{
	return b->offsets;
}

offsets_log_t *broker_offsets_log(broker_t *b)
{
	return b->olog;
}

group_coord_t *broker_groups(broker_t *b)
{
	return b->groups;
}

int broker_offsets_fetch(broker_t *b, const char *group,
                         committed_offset_t **out, size_t *n_out)
{
	return offsets_store_fetch(b->offsets, group, out, n_out);
}

int broker_group_names(broker_t *b, char ***names_out, size_t *n_out)
{
	return offsets_store_group_names(b->offsets, names_out, n_out);
}

int broker_group_delete(broker_t *b, const char *group, broker_group_write_t *w,
                        char *err, size_t errlen)
{
	committed_offset_t *offs = NULL;
	group_desc_t d;
	size_t n = 0;
	int rc, grc;

	w->partition = -1;
	pthread_mutex_lock(&b->meta_lock);
	if (b->olog != NULL) {
		/* cluster mode: refused, or the tombstone written, before anything goes */
		grc = group_describe(b->groups, group, broker_now_ms(), &d);
		rc = grc == 0 && d.nmembers > 0 ? STRAND_ENOTEMPTY : 0;
		if (grc == 0)
			group_desc_free(&d);
		if (rc == 0 && grc != 0 && offsets_store_fetch(b->offsets, group, &offs, &n) != 0)
			rc = STRAND_ENOENT;
		free(offs);
		if (rc == STRAND_ENOTEMPTY)
			rc = strand_err_set(err, errlen, rc, "group %s still has members", group);
		else if (rc == STRAND_ENOENT)
			rc = strand_err_set(err, errlen, rc, "unknown group %s", group);
		if (rc == 0)
			rc = offsets_log_write_locked(b, group, NULL, 0, w, err, errlen);
		if (rc != 0) {
			pthread_mutex_unlock(&b->meta_lock);
			return rc;
		}
	}
	/* the coordinator refuses while members remain; then the offsets go */
	grc = group_delete(b->groups, group, broker_now_ms());
	if (grc == STRAND_ENOTEMPTY) {
		rc = strand_err_set(err, errlen, STRAND_ENOTEMPTY,
		                    "group %s still has members", group);
	} else {
		rc = offsets_store_group_delete(b->offsets, group, err, errlen);
		if (rc == STRAND_ENOENT && grc == 0)
			rc = 0;    /* a group with members once, but no offsets */
	}
	pthread_mutex_unlock(&b->meta_lock);
	return rc;
}
