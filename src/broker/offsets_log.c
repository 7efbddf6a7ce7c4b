/*
 * offsets_log.c — groups and committed offsets in __consumer_offsets
 * (offsets_log.h): the record codec, the loader, and the coordinator's side
 * of it (which partitions this broker has loaded, commits and deletes
 * written as records, partitions dropped when their leadership goes).
 */
#include "broker/offsets_log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker_internal.h"
#include "broker/replica.h"
#include "common/clock.h"
#include "common/err.h"
#include "log/batch.h"

/* ---- the codec ------------------------------------------------------------------ */

static int put_i16(buf_t *b, int16_t v)
{
	uint8_t x[2] = { (uint8_t)((uint16_t)v >> 8), (uint8_t)v };

	return buf_append(b, x, 2);
}

static int put_i32(buf_t *b, int32_t v)
{
	uint32_t u = (uint32_t)v;
	uint8_t x[4] = { (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u };

	return buf_append(b, x, 4);
}

static int put_i64(buf_t *b, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(u >> (56 - 8 * i));
	return buf_append(b, x, 8);
}

static int put_str(buf_t *b, const char *s)
{
	size_t len = strlen(s);

	if (len > INT16_MAX)
		return STRAND_EINVAL;
	if (put_i16(b, (int16_t)len) != 0 || buf_append(b, s, len) != 0)
		return STRAND_ENOMEM;
	return 0;
}

int offsets_log_encode_offset_key(buf_t *out, const char *group, const char *topic,
                                  int32_t partition)
{
	int rc = put_i16(out, OFFSETS_LOG_KEY_OFFSET) ? STRAND_ENOMEM : 0;

	if (rc == 0)
		rc = put_str(out, group);
	if (rc == 0)
		rc = put_str(out, topic);
	if (rc == 0 && put_i32(out, partition) != 0)
		rc = STRAND_ENOMEM;
	return rc;
}

int offsets_log_encode_offset_value(buf_t *out, const committed_offset_t *o, int64_t commit_ms)
{
	int rc = put_i16(out, OFFSETS_LOG_VALUE_VERSION) || put_i64(out, o->offset)
	         ? STRAND_ENOMEM : 0;

	if (rc == 0)
		rc = put_str(out, o->metadata);
	if (rc == 0 && put_i64(out, commit_ms) != 0)
		rc = STRAND_ENOMEM;
	return rc;
}

int offsets_log_encode_group_key(buf_t *out, const char *group)
{
	if (put_i16(out, OFFSETS_LOG_KEY_GROUP) != 0)
		return STRAND_ENOMEM;
	return put_str(out, group);
}

/* One member: id, timeouts, assignment by topic. */
static int put_member(buf_t *out, const group_member_desc_t *md)
{
	const group_member_info_t *m = &md->info;
	int32_t ntopics = 0;
	size_t k, j;
	int rc = put_str(out, m->member_id);

	if (rc == 0 && (put_i32(out, (int32_t)m->session_timeout_ms) ||
	                put_i32(out, (int32_t)md->rebalance_timeout_ms)))
		rc = STRAND_ENOMEM;
	for (k = 0; k < m->nparts; k++)
		if (k == 0 || m->parts[k].topic != m->parts[k - 1].topic)
			ntopics++;
	if (rc == 0 && put_i32(out, ntopics) != 0)
		rc = STRAND_ENOMEM;
	for (k = 0; rc == 0 && k < m->nparts; k = j) {
		for (j = k; j < m->nparts && m->parts[j].topic == m->parts[k].topic; j++)
			;
		rc = put_str(out, m->topics[m->parts[k].topic]);
		if (rc == 0 && put_i32(out, (int32_t)(j - k)) != 0)
			rc = STRAND_ENOMEM;
		for (size_t i = k; rc == 0 && i < j; i++)
			if (put_i32(out, m->parts[i].partition) != 0)
				rc = STRAND_ENOMEM;
	}
	return rc;
}

int offsets_log_encode_group_value(buf_t *out, const group_desc_t *d)
{
	int rc = put_i16(out, OFFSETS_LOG_VALUE_VERSION) || put_i32(out, d->generation)
	         ? STRAND_ENOMEM : 0;

	if (rc == 0)
		rc = put_str(out, assignor_name(d->assignor));
	/* Kafka's group leader; strand's coordinator assigns, so the first member */
	if (rc == 0)
		rc = put_str(out, d->nmembers > 0 ? d->members[0].info.member_id : "");
	if (rc == 0 && put_i32(out, (int32_t)d->nmembers) != 0)
		rc = STRAND_ENOMEM;
	for (size_t i = 0; rc == 0 && i < d->nmembers; i++)
		rc = put_member(out, &d->members[i]);
	return rc;
}

typedef struct rd {
	const uint8_t *p, *end;
	int            bad;
} rd_t;

static int64_t get_n(rd_t *r, int bytes)
{
	uint64_t v = 0;

	if (r->bad || r->end - r->p < bytes) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v = v << 8 | r->p[i];
	r->p += bytes;
	if (bytes == 2)
		return (int16_t)v;
	if (bytes == 4)
		return (int32_t)v;
	return (int64_t)v;
}

/* A string into dst (cap bytes with the NUL), or skipped when dst is NULL. */
static void get_str(rd_t *r, char *dst, size_t cap)
{
	int64_t len = get_n(r, 2);

	if (r->bad || len < 0 || r->end - r->p < len || (dst != NULL && (size_t)len >= cap)) {
		r->bad = 1;
		return;
	}
	if (dst != NULL) {
		memcpy(dst, r->p, (size_t)len);
		dst[len] = '\0';
	}
	r->p += len;
}

/* Walk (and check) the members of a group value. */
static void skip_members(rd_t *r, int32_t n)
{
	for (int32_t i = 0; i < n && !r->bad; i++) {
		int32_t ntopics;

		get_str(r, NULL, 0);
		get_n(r, 4);
		get_n(r, 4);
		ntopics = (int32_t)get_n(r, 4);
		if (ntopics < 0)
			r->bad = 1;
		for (int32_t t = 0; t < ntopics && !r->bad; t++) {
			int32_t np;

			get_str(r, NULL, 0);
			np = (int32_t)get_n(r, 4);
			if (np < 0 || r->end - r->p < (ptrdiff_t)np * 4)
				r->bad = 1;
			else
				r->p += (size_t)np * 4;
		}
	}
}

int offsets_log_decode(const uint8_t *key, int32_t key_len, const uint8_t *value,
                       int32_t value_len, offsets_log_record_t *out)
{
	rd_t k = { key, key + (key_len > 0 ? key_len : 0), key == NULL || key_len < 2 };
	rd_t v = { value, value + (value_len > 0 ? value_len : 0), 0 };

	memset(out, 0, sizeof *out);
	out->kind = (int)get_n(&k, 2);
	get_str(&k, out->group, sizeof out->group);
	if (out->kind == OFFSETS_LOG_KEY_OFFSET) {
		get_str(&k, out->offset.topic, sizeof out->offset.topic);
		out->offset.partition = (int32_t)get_n(&k, 4);
	} else if (out->kind != OFFSETS_LOG_KEY_GROUP) {
		return STRAND_ECORRUPT;
	}
	if (k.bad || k.p != k.end || !broker_name_valid(out->group) ||
	    (out->kind == OFFSETS_LOG_KEY_OFFSET &&
	     (!broker_name_valid(out->offset.topic) || out->offset.partition < 0)))
		return STRAND_ECORRUPT;
	if (value == NULL || value_len < 0) {
		out->tombstone = 1;
		return 0;
	}
	if (get_n(&v, 2) != OFFSETS_LOG_VALUE_VERSION)
		return STRAND_ECORRUPT;
	if (out->kind == OFFSETS_LOG_KEY_OFFSET) {
		out->offset.offset = get_n(&v, 8);
		get_str(&v, out->offset.metadata, sizeof out->offset.metadata);
		out->commit_ms = get_n(&v, 8);
		if (out->offset.offset < 0)
			v.bad = 1;
	} else {
		out->generation = (int32_t)get_n(&v, 4);
		get_str(&v, out->protocol, sizeof out->protocol);
		get_str(&v, out->leader, sizeof out->leader);
		out->nmembers = (int32_t)get_n(&v, 4);
		if (out->generation < 0 || out->nmembers < 0 || out->nmembers > GROUP_MAX_MEMBERS)
			v.bad = 1;
		skip_members(&v, out->nmembers);
	}
	return v.bad || v.p != v.end ? STRAND_ECORRUPT : 0;
}

/* ---- the loader ------------------------------------------------------------------ */

/* pread a slice whole into *buf (grown as needed). */
static int slice_read(const log_slice_t *s, uint8_t **buf, size_t *cap, char *err, size_t errlen)
{
	size_t got = 0;

	if (s->len > *cap) {
		uint8_t *p = realloc(*buf, s->len);

		if (p == NULL)
			return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		*buf = p;
		*cap = s->len;
	}
	while (got < s->len) {
		ssize_t n = pread(s->fd, *buf + got, s->len - got, s->pos + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return strand_err_set(err, errlen, STRAND_EIO, "reading %s: %s",
			                      BROKER_OFFSETS_TOPIC, n < 0 ? strerror(errno) : "short read");
		got += (size_t)n;
	}
	return 0;
}

int offsets_log_load(log_t *log, int64_t end_offset, offsets_log_record_fn fn, void *ctx,
                     int64_t *records, int64_t *skipped, char *err, size_t errlen)
{
	int64_t next = log_start_offset(log), nrec = 0, nskip = 0;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0;

	while (rc == 0 && next < end_offset) {
		log_slice_t s;
		size_t pos = 0, len;
		int64_t slice_next;

		rc = log_read(log, next, OFFSETS_LOG_READ_BYTES, end_offset, &s, err, errlen);
		if (rc)
			break;
		if (s.len == 0) {
			log_slice_release(&s);
			break;
		}
		rc = slice_read(&s, &buf, &cap, err, errlen);
		len = s.len;
		slice_next = s.next_offset;
		log_slice_release(&s);        /* clears s */
		while (rc == 0 && pos < len) {
			batch_header_t h;
			batch_iter_t it;
			batch_record_t r;
			offsets_log_record_t rec;

			rc = batch_header_decode(buf + pos, len - pos, 0, &h, NULL, 0);
			if (rc || batch_total_size(&h) > len - pos) {
				rc = strand_err_set(err, errlen, STRAND_ECORRUPT, "%s: a bad batch at "
				                    "offset %" PRId64, BROKER_OFFSETS_TOPIC, next);
				break;
			}
			rc = batch_iter_init(&it, buf + pos, batch_total_size(&h));
			while (rc == 0 && (rc = batch_iter_next(&it, &r)) == 1) {
				rc = 0;
				if (r.offset < next || r.offset >= end_offset)
					continue;
				nrec++;
				if (offsets_log_decode(r.key, r.key_len, r.value, r.value_len, &rec) != 0) {
					nskip++;
					continue;
				}
				rc = fn(ctx, &rec);
			}
			pos += batch_total_size(&h);
			if (batch_last_offset(&h) + 1 > next)
				next = batch_last_offset(&h) + 1;
		}
		if (rc == 0 && slice_next > next)
			next = slice_next;
	}
	free(buf);
	if (records != NULL)
		*records = nrec;
	if (skipped != NULL)
		*skipped = nskip;
	return rc;
}

/* ---- the coordinator's side ---------------------------------------------------------- */

/* Per partition of __consumer_offsets: the leader epoch whose groups are
 * loaded here (-1: none), and whether a load runs. */
struct offsets_log {
	pthread_mutex_t lock;        /* taken after the broker's meta_lock, never across I/O */
	int32_t        *loaded;      /* loaded[p]: epoch, or -1 */
	uint8_t        *loading;
	int32_t         n;
	batch_builder_t builder;     /* under meta_lock: the commit batch */
	buf_t           key, value;  /* under meta_lock */
};

int offsets_log_new(offsets_log_t **out)
{
	offsets_log_t *ol = calloc(1, sizeof *ol);

	if (ol == NULL)
		return STRAND_ENOMEM;
	pthread_mutex_init(&ol->lock, NULL);
	batch_builder_init(&ol->builder);
	buf_init(&ol->key);
	buf_init(&ol->value);
	*out = ol;
	return 0;
}

void offsets_log_free(offsets_log_t *ol)
{
	if (ol == NULL)
		return;
	batch_builder_free(&ol->builder);
	buf_free(&ol->key);
	buf_free(&ol->value);
	free(ol->loaded);
	free(ol->loading);
	pthread_mutex_destroy(&ol->lock);
	free(ol);
}

/* Size the per-partition arrays for n partitions (under ol->lock). */
static int ol_size(offsets_log_t *ol, int32_t n)
{
	int32_t *l;
	uint8_t *g;

	if (n <= ol->n)
		return 0;
	l = realloc(ol->loaded, (size_t)n * sizeof *l);
	if (l == NULL)
		return STRAND_ENOMEM;
	ol->loaded = l;
	g = realloc(ol->loading, (size_t)n);
	if (g == NULL)
		return STRAND_ENOMEM;
	ol->loading = g;
	for (int32_t p = ol->n; p < n; p++) {
		ol->loaded[p] = -1;
		ol->loading[p] = 0;
	}
	ol->n = n;
	return 0;
}

/* The leader epoch of partition p if this broker leads it: 0, else STRAND_ENOTLEADER. */
static int ol_epoch(broker_t *b, int32_t p, int32_t *epoch)
{
	partition_state_t st;
	replica_role_t role;

	if (broker_partition_get_state(b, BROKER_OFFSETS_TOPIC, p, &st, &role) != 0 ||
	    role != REPLICA_LEADER)
		return STRAND_ENOTLEADER;
	*epoch = st.leader_epoch;
	return 0;
}

/*
 * Where group lives: *t (held: release it) and *p, and whether this broker
 * leads it now (*epoch). STRAND_EUNAVAILABLE when the topic is not here
 * yet, STRAND_ENOTLEADER when another broker leads the partition.
 */
static int ol_locate(broker_t *b, const char *group, topic_t **t, int32_t *p, int32_t *epoch,
                     char *err, size_t errlen)
{
	*t = broker_topic_get(b, BROKER_OFFSETS_TOPIC);
	if (*t == NULL)
		return strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "%s is not known to this "
		                      "broker yet; retry shortly", BROKER_OFFSETS_TOPIC);
	*p = broker_group_partition(group, topic_partition_count(*t));
	if (ol_epoch(b, *p, epoch) != 0) {
		topic_release(*t);
		*t = NULL;
		return strand_err_set(err, errlen, STRAND_ENOTLEADER, "this broker is not the "
		                      "coordinator of group %s (partition %d of %s) now; retry "
		                      "shortly", group, (int)*p, BROKER_OFFSETS_TOPIC);
	}
	return 0;
}

/* ---- drop and load ---- */

/* Forget every group of partition p (under meta_lock). */
static void ol_drop_partition(broker_t *b, int32_t p, int32_t n)
{
	group_summary_t *sums = NULL;
	char **names = NULL;
	size_t ns = 0, nn = 0;

	if (group_list(broker_groups(b), broker_now_ms(), &sums, &ns) == 0)
		for (size_t i = 0; i < ns; i++)
			if (broker_group_partition(sums[i].name, n) == p)
				group_coord_drop(broker_groups(b), sums[i].name);
	if (offsets_store_group_names(broker_offsets_store(b), &names, &nn) == 0)
		for (size_t i = 0; i < nn; i++)
			if (broker_group_partition(names[i], n) == p)
				offsets_store_group_delete(broker_offsets_store(b), names[i], NULL, 0);
	free(sums);
	free(names);
}

/* What a load found for one group. */
typedef struct ol_group {
	char               name[256];
	int32_t            generation;     /* -1: no metadata record */
	group_assignor_t   assignor;
	committed_offset_t *offs;
	size_t             n, cap;
} ol_group_t;

typedef struct ol_load {
	int32_t     partition, npartitions;
	ol_group_t *groups;
	size_t      n, cap;
} ol_load_t;

static ol_group_t *load_group(ol_load_t *ld, const char *name)
{
	for (size_t i = ld->n; i-- > 0;)
		if (strcmp(ld->groups[i].name, name) == 0)
			return &ld->groups[i];
	if (ld->n == ld->cap) {
		size_t cap = ld->cap ? ld->cap * 2 : 16;
		ol_group_t *v = realloc(ld->groups, cap * sizeof *v);

		if (v == NULL)
			return NULL;
		ld->groups = v;
		ld->cap = cap;
	}
	memset(&ld->groups[ld->n], 0, sizeof ld->groups[0]);
	snprintf(ld->groups[ld->n].name, sizeof ld->groups[0].name, "%s", name);
	ld->groups[ld->n].generation = -1;
	return &ld->groups[ld->n++];
}

static void load_group_clear(ol_group_t *g)
{
	free(g->offs);
	g->offs = NULL;
	g->n = g->cap = 0;
	g->generation = -1;
}

/* One record of the partition: the latest value of each key wins. */
static int load_apply(void *ctx, const offsets_log_record_t *rec)
{
	ol_load_t *ld = ctx;
	ol_group_t *g;
	size_t i;

	if (broker_group_partition(rec->group, ld->npartitions) != ld->partition)
		return 0;    /* not this partition's (cannot happen unless the count changed) */
	g = load_group(ld, rec->group);
	if (g == NULL)
		return STRAND_ENOMEM;
	if (rec->kind == OFFSETS_LOG_KEY_GROUP) {
		if (rec->tombstone) {
			load_group_clear(g);   /* the group was deleted: its offsets too */
		} else {
			int a = assignor_from_name(rec->protocol);

			g->generation = rec->generation;
			g->assignor = a >= 0 ? (group_assignor_t)a : GROUP_ASSIGNOR_RANGE;
		}
		return 0;
	}
	for (i = 0; i < g->n; i++)
		if (g->offs[i].partition == rec->offset.partition &&
		    strcmp(g->offs[i].topic, rec->offset.topic) == 0)
			break;
	if (rec->tombstone) {
		if (i < g->n)
			g->offs[i] = g->offs[--g->n];
		return 0;
	}
	if (i == g->n) {
		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 8;
			committed_offset_t *v = realloc(g->offs, cap * sizeof *v);

			if (v == NULL)
				return STRAND_ENOMEM;
			g->offs = v;
			g->cap = cap;
		}
		g->n++;
	}
	g->offs[i] = rec->offset;
	return 0;
}

static void load_free(ol_load_t *ld)
{
	for (size_t i = 0; i < ld->n; i++)
		free(ld->groups[i].offs);
	free(ld->groups);
}

/* Install what a load found (under meta_lock); offsets of topics that are
 * gone are left out. */
static int load_install(broker_t *b, ol_load_t *ld, char *err, size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < ld->n; i++) {
		ol_group_t *g = &ld->groups[i];
		size_t keep = 0;

		for (size_t j = 0; j < g->n; j++) {
			topic_t *t = broker_topic_get(b, g->offs[j].topic);

			if (t != NULL && g->offs[j].partition < topic_partition_count(t))
				g->offs[keep++] = g->offs[j];
			if (t != NULL)
				topic_release(t);
		}
		g->n = keep;
		if (g->generation >= 0)
			rc = group_coord_restore(broker_groups(b), g->name, g->generation, g->assignor);
		if (rc == 0 && g->n > 0)
			rc = offsets_store_commit(broker_offsets_store(b), g->name, g->offs, g->n,
			                          err, errlen);
	}
	if (rc == STRAND_ENOMEM)
		strand_err_set(err, errlen, rc, "out of memory loading %s", BROKER_OFFSETS_TOPIC);
	return rc;
}

/* Load partition p of t (held) if this broker leads it and has not loaded
 * it at the current epoch; what = the group asked for, or NULL. */
static int ol_ready(broker_t *b, topic_t *t, int32_t p, int32_t epoch, const char *what,
                    char *err, size_t errlen)
{
	offsets_log_t *ol = broker_offsets_log(b);
	ol_load_t ld = { 0 };
	int32_t epoch_now;
	int64_t end, nrec = 0, nskip = 0;
	int rc;

	pthread_mutex_lock(&ol->lock);
	rc = ol_size(ol, topic_partition_count(t));
	if (rc == 0 && ol->loaded[p] == epoch) {
		pthread_mutex_unlock(&ol->lock);
		return 0;
	}
	if (rc == 0 && ol->loading[p])
		rc = strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "the coordinator of %s%s is "
		                    "loading its groups from %s partition %d "
		                    "(COORDINATOR_LOAD_IN_PROGRESS); retry shortly",
		                    what ? "group " : "the groups", what ? what : "",
		                    BROKER_OFFSETS_TOPIC, (int)p);
	else if (rc == 0)
		ol->loading[p] = 1;
	pthread_mutex_unlock(&ol->lock);
	if (rc)
		return rc == STRAND_ENOMEM ? strand_err_set(err, errlen, rc, "out of memory") : rc;

	/* Load without locks: only this partition's leader writes it, and it
	 * writes nothing for these groups until they are marked loaded. */
	ld.partition = p;
	ld.npartitions = topic_partition_count(t);
	end = log_end_offset(topic_partition_log(t, p));
	rc = offsets_log_load(topic_partition_log(t, p), end, load_apply, &ld, &nrec, &nskip,
	                      err, errlen);
	pthread_mutex_lock(broker_meta_lock(b));
	if (rc == 0 && (ol_epoch(b, p, &epoch_now) != 0 || epoch_now != epoch))
		rc = strand_err_set(err, errlen, STRAND_ENOTLEADER, "the leadership of %s partition "
		                    "%d moved while loading; retry", BROKER_OFFSETS_TOPIC, (int)p);
	if (rc == 0) {
		ol_drop_partition(b, p, ld.npartitions);   /* whatever an older epoch left */
		rc = load_install(b, &ld, err, errlen);
	}
	pthread_mutex_lock(&ol->lock);
	ol->loading[p] = 0;
	if (rc == 0)
		ol->loaded[p] = epoch;
	pthread_mutex_unlock(&ol->lock);
	pthread_mutex_unlock(broker_meta_lock(b));
	if (rc == 0 && nskip > 0)
		fprintf(stderr, "strand: %s partition %d: %" PRId64 " of %" PRId64 " records did not "
		        "decode and were skipped\n", BROKER_OFFSETS_TOPIC, (int)p, nskip, nrec);
	load_free(&ld);
	return rc;
}

int broker_group_ready(broker_t *b, const char *group, char *err, size_t errlen)
{
	topic_t *t;
	int32_t p, epoch;
	int rc;

	if (broker_offsets_log(b) == NULL)
		return 0;              /* single node: offsets.json */
	rc = ol_locate(b, group, &t, &p, &epoch, err, errlen);
	if (rc)
		return rc;
	rc = ol_ready(b, t, p, epoch, group, err, errlen);
	topic_release(t);
	return rc;
}

int broker_groups_ready_here(broker_t *b, const int32_t *expect, size_t nexpect,
                             char *err, size_t errlen)
{
	topic_t *t;
	int32_t epoch;
	int rc = 0;

	if (broker_offsets_log(b) == NULL)
		return 0;
	t = broker_topic_get(b, BROKER_OFFSETS_TOPIC);
	if (t == NULL && nexpect > 0)
		return strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "this broker does not "
		                      "know %s yet; retry shortly", BROKER_OFFSETS_TOPIC);
	if (t == NULL)
		return 0;              /* no group was ever used */
	for (size_t i = 0; rc == 0 && i < nexpect; i++)
		if (ol_epoch(b, expect[i], &epoch) != 0)
			rc = strand_err_set(err, errlen, STRAND_ENOTLEADER, "this broker does not lead "
			                    "%s partition %d (yet): the leadership is moving; retry "
			                    "shortly", BROKER_OFFSETS_TOPIC, (int)expect[i]);
	for (int32_t p = 0; rc == 0 && p < topic_partition_count(t); p++)
		if (ol_epoch(b, p, &epoch) == 0)
			rc = ol_ready(b, t, p, epoch, NULL, err, errlen);
	topic_release(t);
	return rc;
}

int broker_group_coordinated_here(broker_t *b, const char *group)
{
	offsets_log_t *ol = broker_offsets_log(b);
	topic_t *t;
	int32_t p, epoch;
	int here;

	if (ol == NULL)
		return 1;
	t = broker_topic_get(b, BROKER_OFFSETS_TOPIC);
	if (t == NULL)
		return 0;
	p = broker_group_partition(group, topic_partition_count(t));
	topic_release(t);
	pthread_mutex_lock(&ol->lock);
	here = p < ol->n && ol->loaded[p] >= 0 && ol_epoch(b, p, &epoch) == 0 &&
	       epoch == ol->loaded[p];
	pthread_mutex_unlock(&ol->lock);
	return here;
}

/* ---- writes ---------------------------------------------------------------------- */

/* Add one record (key in ol->key, value in ol->value or null) to the batch. */
static int ol_add(offsets_log_t *ol, int null_value, int64_t now)
{
	return batch_builder_add(&ol->builder, now, (const uint8_t *)ol->key.data,
	                         (int32_t)ol->key.len,
	                         null_value ? NULL : (const uint8_t *)ol->value.data,
	                         null_value ? -1 : (int32_t)ol->value.len, NULL, 0);
}

/*
 * Append group's records (offsets_log_write_locked, broker_internal.h):
 * kind OL_COMMIT, OL_DELETE (the group's tombstone and one per offset the
 * store holds for it, so that compaction, which keeps each key's last
 * record, cannot bring them back once the group's tombstone is gone), or
 * OL_FORGET (tombstones for offs alone: a deleted topic's offsets).
 */
typedef enum ol_write_kind { OL_COMMIT, OL_DELETE, OL_FORGET } ol_write_kind_t;

static int ol_write(broker_t *b, const char *group, ol_write_kind_t kind,
                    const committed_offset_t *offs, size_t n, broker_group_write_t *w,
                    char *err, size_t errlen)
{
	offsets_log_t *ol = broker_offsets_log(b);
	broker_append_info_t info;
	group_desc_t desc;
	committed_offset_t *stored = NULL;
	int64_t now = broker_wall_ms();
	topic_t *t;
	int32_t p, epoch;
	int rc, loaded, described;

	rc = ol_locate(b, group, &t, &p, &epoch, err, errlen);
	if (rc)
		return rc;
	pthread_mutex_lock(&ol->lock);
	loaded = p < ol->n && ol->loaded[p] == epoch;
	pthread_mutex_unlock(&ol->lock);
	if (!loaded) {
		topic_release(t);
		return strand_err_set(err, errlen, STRAND_EUNAVAILABLE, "the coordinator of group %s "
		                      "has not loaded it (leader epoch %d of %s partition %d); retry",
		                      group, (int)epoch, BROKER_OFFSETS_TOPIC, (int)p);
	}
	described = kind == OL_COMMIT &&
	            group_describe(broker_groups(b), group, broker_now_ms(), &desc) == 0;
	if (kind == OL_DELETE && offsets_store_fetch(broker_offsets_store(b), group, &stored,
	                                             &n) == 0)
		offs = stored;
	else if (kind == OL_DELETE)
		n = 0;
	batch_builder_reset(&ol->builder);
	rc = batch_builder_begin(&ol->builder, -1, -1, -1);
	buf_reset(&ol->key);
	if (rc == 0)
		rc = offsets_log_encode_group_key(&ol->key, group);
	if (rc == 0 && kind == OL_DELETE) {
		rc = ol_add(ol, 1, now);     /* the group's tombstone */
	} else if (rc == 0 && described) {
		/* the group's metadata with its offsets: a new coordinator continues
		 * the generation numbering from it */
		buf_reset(&ol->value);
		rc = offsets_log_encode_group_value(&ol->value, &desc);
		if (rc == 0)
			rc = ol_add(ol, 0, now);
	}
	for (size_t i = 0; rc == 0 && offs != NULL && i < n; i++) {
		buf_reset(&ol->key);
		buf_reset(&ol->value);
		rc = offsets_log_encode_offset_key(&ol->key, group, offs[i].topic, offs[i].partition);
		if (rc == 0 && kind == OL_COMMIT)
			rc = offsets_log_encode_offset_value(&ol->value, &offs[i], now);
		if (rc == 0)
			rc = ol_add(ol, kind != OL_COMMIT, now);
	}
	free(stored);
	if (rc == 0)
		rc = batch_builder_finish(&ol->builder, NULL);
	if (rc) {
		if (described)
			group_desc_free(&desc);
		topic_release(t);
		return strand_err_set(err, errlen, rc, "cannot encode the records of group %s: %s",
		                      group, strand_strerror(rc));
	}
	if (rc == 0)
		/* not BROKER_APPEND_DURABLE: no fsync under meta_lock; the ISR's
		 * copies are the durability, as for a produce with acks=all, and
		 * an ISR of this broker alone is flushed by broker_group_flush */
		rc = broker_append(b, t, p, ol->builder.buf, ol->builder.len,
		                   BROKER_APPEND_BUILT | BROKER_APPEND_ACKS_ALL, &info, err, errlen);
	if (rc == 0 && described)
		group_generation_logged(broker_groups(b), group, desc.generation);
	if (described)
		group_desc_free(&desc);
	topic_release(t);
	if (rc)
		return rc;
	w->partition = p;
	w->end_offset = info.last_offset + 1;
	w->leader_epoch = info.leader_epoch;
	return 0;
}

int offsets_log_write_locked(broker_t *b, const char *group, const committed_offset_t *offs,
                             size_t n, broker_group_write_t *w, char *err, size_t errlen)
{
	return ol_write(b, group, offs == NULL ? OL_DELETE : OL_COMMIT, offs, n, w, err, errlen);
}

void offsets_log_topic_deleted_locked(broker_t *b, const char *topic)
{
	offsets_store_t *store = broker_offsets_store(b);
	char **names = NULL, err[256];
	size_t nn = 0;

	if (broker_offsets_log(b) == NULL || offsets_store_group_names(store, &names, &nn) != 0)
		return;
	for (size_t i = 0; i < nn; i++) {
		committed_offset_t *offs = NULL;
		broker_group_write_t w;
		size_t n = 0, k = 0;
		int rc;

		if (!broker_group_coordinated_here(b, names[i]) ||
		    offsets_store_fetch(store, names[i], &offs, &n) != 0)
			continue;
		for (size_t j = 0; j < n; j++)
			if (strcmp(offs[j].topic, topic) == 0)
				offs[k++] = offs[j];
		/* not waited for: a tombstone lost with its leader leaves offsets
		 * that the load skips while the topic does not exist */
		rc = k == 0 ? 0 : ol_write(b, names[i], OL_FORGET, offs, k, &w, err, sizeof err);
		if (rc)
			fprintf(stderr, "strand: group %s: the offsets of deleted topic %s stay in %s: "
			        "%s\n", names[i], topic, BROKER_OFFSETS_TOPIC, err);
		free(offs);
	}
	free(names);
}

int broker_group_log_generation(broker_t *b, const char *group, broker_group_write_t *w,
                                char *err, size_t errlen)
{
	static const committed_offset_t none;   /* offs non-NULL, n 0: metadata alone */
	int32_t generation;
	int rc = 0;

	w->partition = -1;
	if (broker_offsets_log(b) == NULL)
		return 0;
	pthread_mutex_lock(broker_meta_lock(b));
	if (group_generation_unlogged(broker_groups(b), group, &generation))
		rc = offsets_log_write_locked(b, group, &none, 0, w, err, errlen);
	pthread_mutex_unlock(broker_meta_lock(b));
	return rc;
}

int broker_group_committed(broker_t *b, const broker_group_write_t *w, char *err,
                           size_t errlen)
{
	topic_t *t;
	int rc;

	if (w->partition < 0)
		return 1;
	t = broker_topic_get(b, BROKER_OFFSETS_TOPIC);
	if (t == NULL)
		return strand_err_set(err, errlen, STRAND_ENOTENOUGH, "%s is gone",
		                      BROKER_OFFSETS_TOPIC);
	rc = broker_replica_committed(b, t, w->partition, w->end_offset, w->leader_epoch,
	                              err, errlen);
	topic_release(t);
	return rc;
}

int broker_group_flush(broker_t *b, const broker_group_write_t *w, char *err, size_t errlen)
{
	topic_t *t;
	int rc = 0;

	if (w->partition < 0)
		return 0;
	t = broker_topic_get(b, BROKER_OFFSETS_TOPIC);
	if (t == NULL)
		return 0;   /* deleted meanwhile: nothing left to make durable */
	if (broker_replica_needs_flush(b, t, w->partition)) {
		log_t *log = topic_partition_log(t, w->partition);

		if (log != NULL && log_flushed_offset(log) < w->end_offset)
			rc = log_flush(log, w->end_offset, err, errlen);
	}
	topic_release(t);
	return rc;
}

/* Partition p is loaded here at an epoch this broker no longer leads (under ol->lock). */
static int ol_stale(broker_t *b, offsets_log_t *ol, int32_t p)
{
	int32_t epoch;

	return ol->loaded[p] >= 0 && (ol_epoch(b, p, &epoch) != 0 || epoch != ol->loaded[p]);
}

void offsets_log_tick(broker_t *b)
{
	offsets_log_t *ol = broker_offsets_log(b);
	int32_t n, p;
	int any = 0;

	if (ol == NULL)
		return;
	/* a look without meta_lock first: the ticker must not queue behind a
	 * metadata change for nothing */
	pthread_mutex_lock(&ol->lock);
	for (p = 0; p < ol->n && !any; p++)
		any = ol_stale(b, ol, p);
	pthread_mutex_unlock(&ol->lock);
	if (!any)
		return;
	pthread_mutex_lock(broker_meta_lock(b));
	pthread_mutex_lock(&ol->lock);
	n = ol->n;
	for (p = 0; p < n; p++) {
		if (!ol_stale(b, ol, p))
			continue;
		/* no longer the leader of this epoch: its groups are another's now */
		ol->loaded[p] = -1;
		pthread_mutex_unlock(&ol->lock);
		ol_drop_partition(b, p, n);
		pthread_mutex_lock(&ol->lock);
	}
	pthread_mutex_unlock(&ol->lock);
	pthread_mutex_unlock(broker_meta_lock(b));
}

/* ---- compaction ------------------------------------------------------------------ */

/* Add one log_compact run (rc, st, ns long) to the cleaner's counters. */
static void ol_count_pass(broker_cleaner_counters_t *c, int rc, const log_compact_stats_t *st,
                          int64_t ns)
{
#define ADD(f, v) atomic_fetch_add_explicit(&c->f, (uint64_t)(v), memory_order_relaxed)
	ADD(passes, 1);
	ADD(failures, rc != 0 && rc != STRAND_EAGAIN && rc != STRAND_ECLOSED);
	ADD(bytes_read, st->bytes_read);
	ADD(bytes_written, st->bytes_written);
	ADD(busy_ns, ns);
	ADD(throttled_ns, st->throttled_ns);
	ADD(records_removed, st->records_removed);     /* swapped in, whatever came after */
	ADD(tombstones_removed, st->tombstones_removed);
#undef ADD
	atomic_store_explicit(&c->last_pass_ns, ns, memory_order_relaxed);
	atomic_store_explicit(&c->last_pass_end_ms, broker_wall_ms(), memory_order_relaxed);
}

void offsets_log_clean(broker_t *b, int64_t now_ms, const broker_cleaner_opts_t *opts,
                       broker_cleaner_counters_t *c)
{
	topic_t *t;
	double max_dirty = 0;

	if (broker_offsets_log(b) == NULL || (t = broker_topic_get(b, BROKER_OFFSETS_TOPIC)) == NULL)
		return;
	for (int32_t p = 0; p < topic_partition_count(t); p++) {
		log_t *log = topic_partition_log(t, p);
		int64_t hw = replica_hw(b, t, p), t0;
		log_compact_opts_t o = { .now_ms = now_ms, .clean_below = hw,
		                         .delete_retention_ms = OFFSETS_LOG_DELETE_RETENTION_MS,
		                         .map_bytes = OFFSETS_LOG_CLEANER_MAP_BYTES,
		                         .io_max_bytes_per_second = opts->io_max_bytes_per_second,
		                         .cancel = opts->cancel };
		log_compact_stats_t st = { 0 };
		char err[256];
		double dirty;
		int rc;

		/* every replica cleans its own copy (as Kafka's), below its HW */
		if (log == NULL)
			continue;
		dirty = log_dirty_ratio(log, hw);
		if (dirty > max_dirty)
			max_dirty = dirty;
		if (dirty < OFFSETS_LOG_MIN_DIRTY_RATIO)
			continue;
		t0 = clock_now_ns();
		rc = log_compact(log, &o, &st, err, sizeof err);
		ol_count_pass(c, rc, &st, clock_now_ns() - t0);
		if (rc == STRAND_ECLOSED)
			break;      /* the broker is stopping */
		if (rc != 0 && rc != STRAND_EAGAIN)
			fprintf(stderr, "strand: %s partition %d: compaction failed: %s\n",
			        BROKER_OFFSETS_TOPIC, (int)p, err);
		else if (rc == 0 && st.segments_before > 0)
			fprintf(stderr, "strand: %s partition %d: compacted below offset %" PRId64
			        ": %d segments of %" PRId64 " bytes -> %d of %" PRId64 " (%" PRId64
			        " records and %" PRId64 " tombstones removed)\n", BROKER_OFFSETS_TOPIC,
			        (int)p, st.cleaned_to, st.segments_before, st.bytes_before,
			        st.segments_after, st.bytes_after, st.records_removed,
			        st.tombstones_removed);
	}
	/* Kafka's max-dirty-percent: as it was before this look's cleaning */
	atomic_store_explicit(&c->max_dirty_ppm, (int64_t)(max_dirty * 1e6), memory_order_relaxed);
	topic_release(t);
}
