/*
 * offsets.c — the simple committed offsets store: per group, a sorted list
 * of (topic, partition, offset, metadata), kept in memory and persisted as
 * DATA/meta/offsets.json.
 *
 * Every change rewrites the whole file atomically (broker_file_write_atomic)
 * before it becomes visible, so a commit is all or nothing and durable when
 * it returns. That costs O(all offsets) per commit; Kafka keeps offsets in a
 * compacted internal log (__consumer_offsets). docs/GROUPS.md says why the
 * file stays for now and when it must go (replication).
 *
 * Changes are copy-on-write: a writer clones the state, changes the clone,
 * writes it to disk, then swaps it in under the store's mutex. Writers are
 * serialised by the caller (broker's metadata mutex); readers take only the
 * store's mutex, which is never held across I/O.
 *
 * Opened without a path it keeps the state in memory only: in cluster mode
 * __consumer_offsets is the store and this its in-memory view
 * (offsets_log.h).
 *
 * File format (int64 offsets as decimal strings: cJSON numbers are doubles):
 *   {"version":1,"groups":[{"group":"g","offsets":[
 *     {"topic":"t","partition":0,"offset":"42","metadata":""}, ...]}, ...]}
 */
#include "broker/broker_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

typedef struct offsets_group {
	char               *name;
	committed_offset_t *offs;   /* sorted by topic, then partition; n >= 1 */
	size_t              n;
} offsets_group_t;

typedef struct offsets_state {
	offsets_group_t *groups;    /* sorted by name */
	size_t           n;
} offsets_state_t;

struct offsets_store {
	pthread_mutex_t lock;       /* guards state for readers; never held across I/O */
	char           *path;
	offsets_state_t state;
};

/* ---- state helpers -------------------------------------------------------- */

static void state_free(offsets_state_t *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->groups[i].name);
		free(st->groups[i].offs);
	}
	free(st->groups);
	st->groups = NULL;
	st->n = 0;
}

static int state_clone(const offsets_state_t *src, offsets_state_t *dst)
{
	dst->n = 0;
	dst->groups = calloc(src->n + 1, sizeof(*dst->groups));
	if (dst->groups == NULL)
		return STRAND_ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		offsets_group_t *g = &dst->groups[i];

		g->name = strdup(src->groups[i].name);
		g->offs = malloc(src->groups[i].n * sizeof(*g->offs));
		g->n = src->groups[i].n;
		dst->n = i + 1;
		if (g->name == NULL || g->offs == NULL) {
			state_free(dst);
			return STRAND_ENOMEM;
		}
		memcpy(g->offs, src->groups[i].offs, g->n * sizeof(*g->offs));
	}
	return 0;
}

/* Index of group name, or -1; *pos gets where it would be inserted. */
static long state_find(const offsets_state_t *st, const char *name, size_t *pos)
{
	size_t lo = 0, hi = st->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(st->groups[mid].name, name);

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

static void state_remove(offsets_state_t *st, size_t i)
{
	free(st->groups[i].name);
	free(st->groups[i].offs);
	memmove(&st->groups[i], &st->groups[i + 1], (st->n - i - 1) * sizeof(st->groups[0]));
	st->n--;
}

static int offset_cmp(const committed_offset_t *a, const committed_offset_t *b)
{
	int c = strcmp(a->topic, b->topic);

	if (c != 0)
		return c;
	return (a->partition > b->partition) - (a->partition < b->partition);
}

typedef struct offset_seq {
	committed_offset_t o;
	size_t             seq;     /* order of arrival: the last one wins */
} offset_seq_t;

static int offset_seq_cmp(const void *pa, const void *pb)
{
	const offset_seq_t *a = pa, *b = pb;
	int c = offset_cmp(&a->o, &b->o);

	if (c != 0)
		return c;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/*
 * Merge offs into group (created if missing) in st: entries for the same
 * (topic, partition) are replaced, the later one winning.
 */
static int state_merge(offsets_state_t *st, const char *group,
                       const committed_offset_t *offs, size_t n)
{
	size_t pos, total, out = 0;
	long gi = state_find(st, group, &pos);
	offsets_group_t *g;
	offset_seq_t *tmp;
	committed_offset_t *merged;

	if (gi < 0) {
		offsets_group_t ng = { strdup(group), NULL, 0 };

		/* state_clone left room for one more group */
		if (ng.name == NULL)
			return STRAND_ENOMEM;
		memmove(&st->groups[pos + 1], &st->groups[pos], (st->n - pos) * sizeof(ng));
		st->groups[pos] = ng;
		st->n++;
		gi = (long)pos;
	}
	g = &st->groups[gi];
	total = g->n + n;
	tmp = malloc(total * sizeof(*tmp));
	merged = malloc(total * sizeof(*merged));
	if (tmp == NULL || merged == NULL) {
		free(tmp);
		free(merged);
		return STRAND_ENOMEM;
	}
	for (size_t i = 0; i < g->n; i++)
		tmp[i] = (offset_seq_t){ g->offs[i], i };
	for (size_t i = 0; i < n; i++)
		tmp[g->n + i] = (offset_seq_t){ offs[i], g->n + i };
	qsort(tmp, total, sizeof(*tmp), offset_seq_cmp);
	for (size_t i = 0; i < total; i++) {
		if (i + 1 < total && offset_cmp(&tmp[i].o, &tmp[i + 1].o) == 0)
			continue;       /* a later entry for the same partition follows */
		merged[out++] = tmp[i].o;
	}
	free(tmp);
	free(g->offs);
	g->offs = merged;
	g->n = out;
	return 0;
}

/* Remove topic's offsets everywhere; returns how many were removed. */
static size_t state_drop_topic(offsets_state_t *st, const char *topic)
{
	size_t dropped = 0;

	for (size_t i = st->n; i-- > 0;) {
		offsets_group_t *g = &st->groups[i];
		size_t out = 0;

		for (size_t j = 0; j < g->n; j++) {
			if (strcmp(g->offs[j].topic, topic) == 0)
				dropped++;
			else
				g->offs[out++] = g->offs[j];
		}
		g->n = out;
		if (g->n == 0)
			state_remove(st, i);
	}
	return dropped;
}

/* ---- JSON ------------------------------------------------------------------ */

static char *state_to_json(const offsets_state_t *st)
{
	cJSON *root = cJSON_CreateObject(), *groups;
	char num[32], *text = NULL;

	if (root == NULL || cJSON_AddNumberToObject(root, "version", 1) == NULL ||
	    (groups = cJSON_AddArrayToObject(root, "groups")) == NULL)
		goto out;
	for (size_t i = 0; i < st->n; i++) {
		cJSON *g = cJSON_CreateObject(), *arr;

		if (g == NULL)
			goto out;
		cJSON_AddItemToArray(groups, g);
		if (cJSON_AddStringToObject(g, "group", st->groups[i].name) == NULL ||
		    (arr = cJSON_AddArrayToObject(g, "offsets")) == NULL)
			goto out;
		for (size_t j = 0; j < st->groups[i].n; j++) {
			const committed_offset_t *o = &st->groups[i].offs[j];
			cJSON *e = cJSON_CreateObject();

			if (e == NULL)
				goto out;
			cJSON_AddItemToArray(arr, e);
			snprintf(num, sizeof(num), "%" PRId64, o->offset);
			if (cJSON_AddStringToObject(e, "topic", o->topic) == NULL ||
			    cJSON_AddNumberToObject(e, "partition", o->partition) == NULL ||
			    cJSON_AddStringToObject(e, "offset", num) == NULL ||
			    cJSON_AddStringToObject(e, "metadata", o->metadata) == NULL)
				goto out;
		}
	}
	text = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
}

static int copy_field(char *dst, size_t cap, const cJSON *item)
{
	size_t len;

	if (!cJSON_IsString(item))
		return -1;
	len = strlen(item->valuestring);
	if (len >= cap)
		return -1;
	memcpy(dst, item->valuestring, len + 1);
	return 0;
}

static int entry_from_json(const cJSON *e, committed_offset_t *o)
{
	const cJSON *part = cJSON_GetObjectItemCaseSensitive(e, "partition");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "offset");
	char *end;
	long long v;

	memset(o, 0, sizeof(*o));
	if (copy_field(o->topic, sizeof(o->topic), cJSON_GetObjectItemCaseSensitive(e, "topic")) < 0 ||
	    !broker_name_valid(o->topic) ||
	    copy_field(o->metadata, sizeof(o->metadata),
	               cJSON_GetObjectItemCaseSensitive(e, "metadata")) < 0)
		return -1;
	if (!cJSON_IsNumber(part) || part->valuedouble < 0 ||
	    part->valuedouble > INT32_MAX || part->valuedouble != (double)part->valueint)
		return -1;
	o->partition = part->valueint;
	if (!cJSON_IsString(off) || off->valuestring[0] < '0' || off->valuestring[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(off->valuestring, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	o->offset = v;
	return 0;
}

static int group_cmp(const void *pa, const void *pb)
{
	return strcmp(((const offsets_group_t *)pa)->name, ((const offsets_group_t *)pb)->name);
}

static int committed_cmp(const void *a, const void *b)
{
	return offset_cmp(a, b);
}

/* Parse offsets.json text into st. Any defect: STRAND_ECORRUPT naming path. */
static int state_from_json(const char *text, const char *path, offsets_state_t *st,
                           char *err, size_t errlen)
{
	cJSON *root = cJSON_Parse(text);
	const cJSON *groups, *g, *version;
	const char *why = "not JSON";
	size_t i = 0;

	st->groups = NULL;
	st->n = 0;
	if (root == NULL)
		goto corrupt;
	why = "not a version 1 object with a groups array";
	groups = cJSON_GetObjectItemCaseSensitive(root, "groups");
	version = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (!cJSON_IsArray(groups) ||
	    (version != NULL && !(cJSON_IsNumber(version) && version->valuedouble == 1)))
		goto corrupt;
	st->groups = calloc((size_t)cJSON_GetArraySize(groups) + 1, sizeof(*st->groups));
	if (st->groups == NULL) {
		cJSON_Delete(root);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory reading %s", path);
	}
	cJSON_ArrayForEach(g, groups) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(g, "group");
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(g, "offsets"), *e;
		offsets_group_t *grp = &st->groups[i];
		size_t j = 0;

		why = "bad group entry";
		if (!cJSON_IsString(name) || !broker_name_valid(name->valuestring) ||
		    !cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
			goto corrupt;
		grp->name = strdup(name->valuestring);
		grp->offs = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*grp->offs));
		st->n = ++i;
		if (grp->name == NULL || grp->offs == NULL) {
			why = "out of memory";
			goto corrupt;
		}
		why = "bad offset entry";
		cJSON_ArrayForEach(e, arr) {
			if (entry_from_json(e, &grp->offs[j]) < 0)
				goto corrupt;
			grp->n = ++j;
		}
		qsort(grp->offs, grp->n, sizeof(*grp->offs), committed_cmp);
		why = "duplicate partition";
		for (j = 1; j < grp->n; j++)
			if (offset_cmp(&grp->offs[j - 1], &grp->offs[j]) == 0)
				goto corrupt;
	}
	qsort(st->groups, st->n, sizeof(*st->groups), group_cmp);
	why = "duplicate group";
	for (i = 1; i < st->n; i++)
		if (strcmp(st->groups[i - 1].name, st->groups[i].name) == 0)
			goto corrupt;
	cJSON_Delete(root);
	return 0;
corrupt:
	cJSON_Delete(root);
	state_free(st);
	return strand_err_set(err, errlen, STRAND_ECORRUPT, "%s: %s", path, why);
}

/* ---- store ----------------------------------------------------------------- */

int offsets_store_open(const char *path, offsets_store_t **out, char *err, size_t errlen)
{
	offsets_store_t *s = calloc(1, sizeof(*s));
	char *text = NULL;
	size_t len;
	int rc;

	if (s == NULL || (path != NULL && (s->path = strdup(path)) == NULL)) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto fail;
	}
	rc = path == NULL ? STRAND_ENOENT : broker_file_read(path, &text, &len, err, errlen);
	if (rc == 0) {
		rc = state_from_json(text, path, &s->state, err, errlen);
		free(text);
		if (rc != 0)
			goto fail;
	} else if (rc != STRAND_ENOENT) {
		goto fail;
	}
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
fail:
	if (s != NULL)
		free(s->path);
	free(s);
	return rc;
}

void offsets_store_close(offsets_store_t *s)
{
	if (s == NULL)
		return;
	state_free(&s->state);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

/* Persist next, then make it the visible state. Frees next on failure. */
static int store_publish(offsets_store_t *s, offsets_state_t *next, char *err, size_t errlen)
{
	char *text = s->path != NULL ? state_to_json(next) : NULL;
	offsets_state_t old;
	int rc = 0;

	if (s->path == NULL)
		goto swap;     /* memory only: the log is the store (offsets_log.h) */
	if (text == NULL) {
		state_free(next);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	rc = broker_file_write_atomic(s->path, text, strlen(text), err, errlen);
	free(text);
	if (rc != 0) {
		state_free(next);
		return rc;
	}
swap:
	pthread_mutex_lock(&s->lock);
	old = s->state;
	s->state = *next;
	pthread_mutex_unlock(&s->lock);
	state_free(&old);
	return 0;
}

int offsets_store_commit(offsets_store_t *s, const char *group,
                         const committed_offset_t *offs, size_t n,
                         char *err, size_t errlen)
{
	offsets_state_t next;
	int rc;

	if (n == 0)
		return 0;
	/* Writers are serialised by the caller: reading s->state here is safe. */
	rc = state_clone(&s->state, &next);
	if (rc == 0)
		rc = state_merge(&next, group, offs, n);
	if (rc != 0) {
		state_free(&next);
		return strand_err_set(err, errlen, rc, "out of memory");
	}
	return store_publish(s, &next, err, errlen);
}

int offsets_store_fetch(offsets_store_t *s, const char *group,
                        committed_offset_t **out, size_t *n_out)
{
	long gi;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	pthread_mutex_lock(&s->lock);
	gi = state_find(&s->state, group, NULL);
	if (gi < 0) {
		rc = STRAND_ENOENT;
	} else {
		const offsets_group_t *g = &s->state.groups[gi];

		*out = malloc(g->n * sizeof(**out));
		if (*out == NULL) {
			rc = STRAND_ENOMEM;
		} else {
			memcpy(*out, g->offs, g->n * sizeof(**out));
			*n_out = g->n;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int offsets_store_group_names(offsets_store_t *s, char ***names_out, size_t *n_out)
{
	char **names;
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->state.n;
	names = malloc((n + 1) * sizeof(*names));
	if (names != NULL) {
		for (size_t i = 0; i < n; i++)
			names[i] = s->state.groups[i].name;
		*names_out = broker_names_pack(names, n);
	}
	pthread_mutex_unlock(&s->lock);
	free(names);
	if (names == NULL || *names_out == NULL)
		return STRAND_ENOMEM;
	*n_out = n;
	return 0;
}

int offsets_store_group_delete(offsets_store_t *s, const char *group,
                               char *err, size_t errlen)
{
	offsets_state_t next;
	long gi = state_find(&s->state, group, NULL);

	if (gi < 0)
		return strand_err_set(err, errlen, STRAND_ENOENT, "no committed offsets for group %s",
		                      group);
	if (state_clone(&s->state, &next) != 0)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	state_remove(&next, (size_t)gi);
	return store_publish(s, &next, err, errlen);
}

int offsets_store_drop_topic(offsets_store_t *s, const char *topic, int persist,
                             char *err, size_t errlen)
{
	offsets_state_t next;

	if (state_clone(&s->state, &next) != 0)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	if (state_drop_topic(&next, topic) == 0) {
		state_free(&next);
		return 0;
	}
	if (persist)
		return store_publish(s, &next, err, errlen);
	pthread_mutex_lock(&s->lock);
	{
		offsets_state_t old = s->state;

		s->state = next;
		pthread_mutex_unlock(&s->lock);
		state_free(&old);
	}
	return 0;
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int offsets_store_topic_names(offsets_store_t *s, char ***names_out, size_t *n_out)
{
	char **names;
	size_t total = 0, n = 0;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->state.n; i++)
		total += s->state.groups[i].n;
	names = malloc((total + 1) * sizeof(*names));
	if (names != NULL) {
		for (size_t i = 0; i < s->state.n; i++)
			for (size_t j = 0; j < s->state.groups[i].n; j++)
				names[n++] = s->state.groups[i].offs[j].topic;
		qsort(names, n, sizeof(*names), str_ptr_cmp);
		total = 0;
		for (size_t i = 0; i < n; i++)
			if (total == 0 || strcmp(names[total - 1], names[i]) != 0)
				names[total++] = names[i];
		*names_out = broker_names_pack(names, total);
		if (*names_out == NULL)
			rc = STRAND_ENOMEM;
	} else {
		rc = STRAND_ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	free(names);
	if (rc == 0)
		*n_out = total;
	return rc;
}
