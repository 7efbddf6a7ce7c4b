/*
 * test_compact.c — log compaction (log_compact, cleanup.policy=compact):
 * what survives (the last record of every key, at its original offset),
 * tombstones and delete_retention_ms, reads and replication across the
 * gaps, the offset map's limit, readers of replaced segments, and recovery
 * after a crash at every step of the swap (a child process stops there and
 * exits without closing anything).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "testutil.h"

#define NKEYS       10
#define PID         7
#define PEPOCH      3
#define LEADER_EP   5
#define T0          1700000000000LL

/* What was appended, record by record: the model compaction is checked against. */
typedef struct model_rec {
	int64_t offset, ts;
	int     key;           /* -1: no key */
	int64_t value;         /* -1: tombstone */
	int32_t base_sequence; /* of its batch */
} model_rec_t;

typedef struct model {
	model_rec_t v[8192];
	size_t      n;
	int32_t     next_seq;
} model_t;

static void cfg_compact(log_config_t *cfg)
{
	log_config_default(cfg);
	cfg->segment_bytes = 1024;
	cfg->retention_ms = -1;
	cfg->index_interval_bytes = 256;
	cfg->compact = 1;
}

static log_t *open_log(const char *dir)
{
	log_config_t cfg;
	log_t *log = NULL;
	char err[256] = "";

	cfg_compact(&cfg);
	tu_assert_msg(log_open(dir, &cfg, &log, err, sizeof(err)) == 0, "log_open: %s", err);
	return log;
}

/* Append one batch of n records: keys[i] (-1 none), values[i] (-1 tombstone). */
static void append_kv(log_t *log, model_t *m, const int *keys, const int64_t *values, int n,
                      int64_t ts)
{
	batch_builder_t b;
	log_append_info_t info;
	char kbuf[16][16], vbuf[16][32], err[256] = "";
	size_t size;

	batch_builder_init(&b);
	tu_assert_int_eq(batch_builder_begin(&b, PID, PEPOCH, m->next_seq), 0);
	for (int i = 0; i < n; i++) {
		int kl = keys[i] < 0 ? -1 : snprintf(kbuf[i], sizeof(kbuf[i]), "k%d", keys[i]);
		int vl = values[i] < 0 ? -1
		         : snprintf(vbuf[i], sizeof(vbuf[i]), "v%lld", (long long)values[i]);

		tu_assert_int_eq(batch_builder_add(&b, ts + i, kl < 0 ? NULL : (uint8_t *)kbuf[i], kl,
		                                   vl < 0 ? NULL : (uint8_t *)vbuf[i], vl, NULL, 0), 0);
	}
	tu_assert_int_eq(batch_builder_finish(&b, &size), 0);
	tu_assert_msg(log_append(log, b.buf, size, LEADER_EP, &info, err, sizeof(err)) == 0,
	              "append: %s", err);
	for (int i = 0; i < n; i++) {
		model_rec_t *r = &m->v[m->n++];

		r->offset = info.first_offset + i;
		r->ts = ts + i;
		r->key = keys[i];
		r->value = values[i];
		r->base_sequence = m->next_seq;
	}
	m->next_seq += n;
	batch_builder_free(&b);
}

/* nbatches batches of 3 records, keys cycling over NKEYS, values = a counter. */
static void append_many(log_t *log, model_t *m, int nbatches, int64_t ts)
{
	for (int i = 0; i < nbatches; i++) {
		int keys[3];
		int64_t values[3];

		for (int j = 0; j < 3; j++) {
			keys[j] = (int)((m->n + (size_t)j) % NKEYS);
			values[j] = (int64_t)(m->n + (size_t)j) + 1000;
		}
		append_kv(log, m, keys, values, 3, ts);
	}
}

/*
 * Mark in keep[] the records that survive a compaction of [0, cleaned_to)
 * at now, among those keep[] holds already (what the log had).
 */
static void model_compact(const model_t *m, char *keep, int64_t cleaned_to, int64_t now,
                          int64_t delete_retention_ms)
{
	for (size_t i = 0; i < m->n; i++) {
		const model_rec_t *r = &m->v[i];

		if (!keep[i] || r->offset >= cleaned_to || r->key < 0)
			continue;
		for (size_t j = i + 1; j < m->n && m->v[j].offset < cleaned_to; j++)
			if (keep[j] && m->v[j].key == r->key) {
				keep[i] = 0;
				break;
			}
		if (keep[i] && r->value < 0 && delete_retention_ms >= 0 &&
		    now - r->ts > delete_retention_ms)
			keep[i] = 0;
	}
}

/* A record read back. */
typedef struct got_rec {
	int64_t offset, ts;
	int     key;
	int64_t value;
} got_rec_t;

/*
 * Read the whole log through log_read, from every batch's next offset,
 * checking each batch (compacted validation: CRC, deltas), its preserved
 * header fields, and that reads make progress across gaps.
 */
static size_t read_back(log_t *log, const model_t *m, got_rec_t *out, size_t max)
{
	int64_t offset = log_start_offset(log), leo = log_end_offset(log);
	size_t n = 0;

	while (offset < leo) {
		log_slice_t s;
		char err[256] = "";
		uint8_t *buf;
		size_t pos = 0;

		tu_assert_msg(log_read(log, offset, 512, -1, &s, err, sizeof(err)) == 0,
		              "log_read at %" PRId64 ": %s", offset, err);
		tu_assert_msg(s.len > 0, "empty read at %" PRId64 " below the LEO %" PRId64,
		              offset, leo);
		buf = tu_slice_bytes(&s);
		while (pos < s.len) {
			batch_header_t h;
			batch_iter_t it;
			batch_record_t rec;
			int rc = batch_validate_compacted(buf + pos, s.len - pos, 0, &h, err,
			                                  sizeof(err));

			tu_assert_msg(rc == 0, "batch at position %zu of a read at %" PRId64
			              ": %s", pos, offset, err);
			tu_assert_int_eq(h.producer_id, PID);
			tu_assert_int_eq(h.producer_epoch, PEPOCH);
			tu_assert_int_eq(h.leader_epoch, LEADER_EP);
			tu_assert_int_ge(batch_last_offset(&h), offset);
			for (size_t i = 0; i < m->n; i++)
				if (m->v[i].offset == h.base_offset)
					tu_assert_int_eq(h.base_sequence, m->v[i].base_sequence);
			tu_assert_int_eq(batch_iter_init(&it, buf + pos, batch_total_size(&h)), 0);
			while ((rc = batch_iter_next(&it, &rec)) == 1) {
				if (rec.offset < offset)
					continue;
				tu_assert_uint_lt(n, max);
				out[n].offset = rec.offset;
				out[n].ts = rec.timestamp;
				out[n].key = rec.key ? atoi((const char *)rec.key + 1) : -1;
				out[n].value = rec.value ? strtoll((const char *)rec.value + 1, NULL, 10)
				                         : -1;
				n++;
			}
			tu_assert_int_eq(rc, 0);
			pos += batch_total_size(&h);
		}
		tu_assert_int_gt(s.next_offset, offset);
		offset = s.next_offset;
		free(buf);
		log_slice_release(&s);
	}
	return n;
}

/*
 * The log holds exactly the model's survivors, at their offsets: of its own
 * compaction up to cleaned_to and, for offsets from copied_from on (a
 * follower that copied them from a compacted leader), of the leader's up
 * to leader_cleaned_to.
 */
static void expect_compacted_copy(log_t *log, const model_t *m, int64_t cleaned_to,
                                  int64_t now, int64_t delete_retention_ms,
                                  int64_t leader_cleaned_to, int64_t copied_from)
{
	static got_rec_t got[8192];
	static char keep[8192], lkeep[8192];
	size_t n = read_back(log, m, got, 8192), k = 0;

	/* what the log held: its own records below copied_from, the compacted
	 * leader's from there on; then its own compaction */
	memset(lkeep, 1, sizeof(lkeep));
	model_compact(m, lkeep, leader_cleaned_to, now, delete_retention_ms);
	for (size_t i = 0; i < m->n; i++)
		keep[i] = m->v[i].offset < copied_from || lkeep[i];
	model_compact(m, keep, cleaned_to, now, delete_retention_ms);
	for (size_t i = 0; i < m->n; i++) {
		const model_rec_t *r = &m->v[i];

		if (!keep[i])
			continue;
		tu_assert_msg(k < n, "offset %" PRId64 " (key %d) missing: only %zu records read",
		              r->offset, r->key, n);
		tu_assert_msg(got[k].offset == r->offset, "expected offset %" PRId64 " (key %d), "
		              "got %" PRId64 " (key %d)", r->offset, r->key, got[k].offset,
		              got[k].key);
		tu_assert_int_eq(got[k].key, r->key);
		tu_assert_int_eq(got[k].value, r->value);
		tu_assert_int_eq(got[k].ts, r->ts);
		k++;
	}
	tu_assert_msg(k == n, "%zu records read, %zu expected", n, k);
}

static void expect_compacted(log_t *log, const model_t *m, int64_t cleaned_to, int64_t now,
                             int64_t delete_retention_ms)
{
	expect_compacted_copy(log, m, cleaned_to, now, delete_retention_ms, 0, 0);
}

/* Copy the leader to the follower from its LEO as a fetcher does (gaps allowed). */
static void replicate(log_t *leader, log_t *f)
{
	char err[256] = "";

	while (log_end_offset(f) < log_end_offset(leader)) {
		log_slice_t s;
		uint8_t *buf;

		tu_assert_int_eq(log_read(leader, log_end_offset(f), 300, -1, &s, err, sizeof(err)), 0);
		buf = tu_slice_bytes(&s);
		tu_assert_msg(log_append_replica(f, buf, s.len, NULL, err, sizeof(err)) == 0,
		              "replica append at %" PRId64 ": %s", log_end_offset(f), err);
		tu_assert_int_eq(log_end_offset(f), s.next_offset);
		free(buf);
		log_slice_release(&s);
	}
}

static void compact(log_t *log, int64_t now, int64_t delete_retention_ms,
                    log_compact_stats_t *st)
{
	log_compact_opts_t o = { .now_ms = now, .clean_below = -1,
	                         .delete_retention_ms = delete_retention_ms,
	                         .map_bytes = 1 << 20 };
	char err[256] = "";
	int rc = log_compact(log, &o, st, err, sizeof(err));

	tu_assert_msg(rc == 0, "log_compact: %d (%s)", rc, err);
}

/* ---- what survives -------------------------------------------------------- */

START_TEST(test_compact_keeps_last_value_per_key_at_its_offset)
{
	static model_t m;
	char dir[PATH_MAX];
	log_compact_stats_t st;
	int64_t size_before, leo;
	log_t *log;

	tu_mkdtemp(dir, sizeof(dir));
	log = open_log(dir);
	append_many(log, &m, 120, T0);
	size_before = log_size_bytes(log);
	leo = log_end_offset(log);
	tu_assert_int_gt(log_segment_count(log), 10);
	tu_assert_msg(log_dirty_ratio(log, -1) == 1.0, "dirty ratio %f before any cleaning",
	              log_dirty_ratio(log, -1));

	compact(log, T0, -1, &st);
	tu_assert_int_gt(st.cleaned_to, 0);
	tu_assert_int_gt(st.records_removed, 300);
	tu_assert_int_lt(st.bytes_after, st.bytes_before);
	tu_assert_int_lt(log_size_bytes(log), size_before / 4);
	/* groups are formed from the input sizes (Kafka's groupSegmentsBySize):
	 * full segments are cleaned one by one, then merged at the next pass */
	tu_assert_int_eq(st.segments_after, st.segments_before);
	tu_assert_int_eq(log_end_offset(log), leo);
	tu_assert_int_eq(log_start_offset(log), 0);
	tu_assert_msg(log_dirty_ratio(log, -1) == 0.0, "dirty ratio %f after cleaning",
	              log_dirty_ratio(log, -1));
	expect_compacted(log, &m, st.cleaned_to, T0, -1);

	/* the same after a reopen (recovery accepts the gaps), and still clean
	 * (cleaner-offset-checkpoint) */
	log_close(log);
	log = open_log(dir);
	tu_assert_int_eq(log_end_offset(log), leo);
	expect_compacted(log, &m, st.cleaned_to, T0, -1);
	tu_assert_msg(log_dirty_ratio(log, -1) == 0.0, "dirty ratio %f after a reopen",
	              log_dirty_ratio(log, -1));

	/* appends go on; a second pass cleans what came since */
	append_many(log, &m, 60, T0);
	tu_assert_msg(log_dirty_ratio(log, -1) > 0.5, "dirty ratio %f", log_dirty_ratio(log, -1));
	compact(log, T0, -1, &st);
	expect_compacted(log, &m, st.cleaned_to, T0, -1);
	tu_assert_int_lt(st.segments_after, st.segments_before / 2);
	tu_assert_int_lt(log_segment_count(log), 10);
	tu_assert_int_lt(log_size_bytes(log), size_before / 4);
	log_close(log);
}
END_TEST

START_TEST(test_compact_drops_tombstones_after_delete_retention)
{
	static model_t m;
	char dir[PATH_MAX];
	log_compact_stats_t st;
	int keys[2] = { 101, 102 };          /* keys append_many never writes */
	int64_t values[2] = { 11, 22 }, tomb[1] = { -1 };
	int nokey[1] = { -1 };
	log_t *log;

	tu_mkdtemp(dir, sizeof(dir));
	log = open_log(dir);
	append_kv(log, &m, keys, values, 2, T0);
	append_kv(log, &m, nokey, values, 1, T0);              /* no key: always kept */
	append_many(log, &m, 20, T0);                           /* other keys, rolls */
	append_kv(log, &m, keys, tomb, 1, T0 + 100);            /* delete key 1 */
	append_many(log, &m, 20, T0);                           /* the tombstone's segment closes */

	/* young tombstone: the value goes, the tombstone stays */
	compact(log, T0 + 1000, 10000, &st);
	tu_assert_int_eq(st.tombstones_removed, 0);
	expect_compacted(log, &m, st.cleaned_to, T0 + 1000, 10000);

	/* older than delete_retention_ms: gone too */
	compact(log, T0 + 100 + 10001, 10000, &st);
	tu_assert_int_eq(st.tombstones_removed, 1);
	expect_compacted(log, &m, st.cleaned_to, T0 + 100 + 10001, 10000);
	log_close(log);
}
END_TEST

START_TEST(test_compact_checkpoint_survives_reopen_and_resets_on_truncation)
{
	static model_t m;
	char dir[PATH_MAX], err[256] = "";
	log_compact_stats_t st;
	double ratio;
	log_t *log;

	tu_mkdtemp(dir, sizeof(dir));
	log = open_log(dir);
	append_many(log, &m, 60, T0);
	compact(log, T0, -1, &st);
	append_many(log, &m, 5, T0);            /* a little more, maybe a closed segment */
	ratio = log_dirty_ratio(log, -1);
	tu_assert_msg(ratio < 1.0, "dirty ratio %f after cleaning", ratio);
	log_close(log);
	log = open_log(dir);
	tu_assert_msg(log_dirty_ratio(log, -1) == ratio, "dirty ratio %f after a reopen, %f "
	              "before", log_dirty_ratio(log, -1), ratio);
	/* below the cleaned end: what follows is new, all of it dirty */
	tu_assert_int_eq(log_truncate_to(log, st.cleaned_to / 2, err, sizeof(err)), 0);
	append_many(log, &m, 60, T0);
	tu_assert_msg(log_dirty_ratio(log, -1) == 1.0, "dirty ratio %f after a truncation",
	              log_dirty_ratio(log, -1));
	log_close(log);
	log = open_log(dir);
	tu_assert_msg(log_dirty_ratio(log, -1) == 1.0, "dirty ratio %f after a truncation "
	              "and a reopen", log_dirty_ratio(log, -1));
	log_close(log);
}
END_TEST

START_TEST(test_compact_map_limit_is_named)
{
	static model_t m;
	char dir[PATH_MAX], err[256] = "";
	log_compact_opts_t o = { .now_ms = T0, .clean_below = -1, .delete_retention_ms = -1,
	                         .map_bytes = 4 * 24 };   /* 24 bytes a key (log.h) */
	log_t *log;

	tu_mkdtemp(dir, sizeof(dir));
	log = open_log(dir);
	append_many(log, &m, 30, T0);
	/* a map of 4 slots holds 3 keys; the first segment has 10 */
	tu_assert_int_eq(log_compact(log, &o, NULL, err, sizeof(err)), STRAND_ETOOBIG);
	tu_assert_msg(strstr(err, "offset map") != NULL, "error: %s", err);
	expect_compacted(log, &m, 0, T0, -1);        /* untouched */
	log_close(log);
}
END_TEST

START_TEST(test_compact_only_below_the_bound_and_never_active)
{
	static model_t m;
	char dir[PATH_MAX], err[256] = "";
	log_compact_opts_t o = { .now_ms = T0, .delete_retention_ms = -1, .map_bytes = 1 << 20 };
	log_compact_stats_t st;
	log_config_t cfg;
	log_t *log, *plain = NULL;

	tu_mkdtemp(dir, sizeof(dir));
	log = open_log(dir);
	append_many(log, &m, 40, T0);
	o.clean_below = m.v[m.n / 2].offset;
	tu_assert_int_eq(log_compact(log, &o, &st, err, sizeof(err)), 0);
	tu_assert_int_le(st.cleaned_to, o.clean_below);
	tu_assert_int_gt(st.cleaned_to, 0);
	expect_compacted(log, &m, st.cleaned_to, T0, -1);
	log_close(log);

	/* a delete-policy log refuses */
	tu_mkdtemp(dir, sizeof(dir));
	log_config_default(&cfg);
	tu_assert_int_eq(log_open(dir, &cfg, &plain, err, sizeof(err)), 0);
	tu_assert_int_eq(log_compact(plain, &o, NULL, err, sizeof(err)), STRAND_EINVAL);
	log_close(plain);
}
END_TEST

/* ---- readers and followers ------------------------------------------------- */

START_TEST(test_compact_reads_and_replicas_cross_the_gaps)
{
	static model_t m;
	char dir[PATH_MAX], fdir[PATH_MAX], pdir[PATH_MAX], err[256] = "";
	log_compact_stats_t st, pst;
	int64_t copied;
	log_slice_t old;
	uint8_t *before, *after;
	log_t *log, *f, *partial;

	tu_mkdtemp(dir, sizeof(dir));
	tu_mkdtemp(fdir, sizeof(fdir));
	tu_mkdtemp(pdir, sizeof(pdir));
	log = open_log(dir);
	partial = open_log(pdir);
	append_many(log, &m, 60, T0);
	replicate(log, partial);          /* a follower before cleaning */
	copied = log_end_offset(partial);
	append_many(log, &m, 60, T0);

	/* a reader holding a slice of a segment the compaction replaces */
	tu_assert_int_eq(log_read(log, 0, 4096, -1, &old, err, sizeof(err)), 0);
	before = tu_slice_bytes(&old);
	compact(log, T0, -1, &st);
	after = tu_slice_bytes(&old);
	tu_assert_mem_eq(before, after, old.len);
	log_slice_release(&old);
	free(before);
	free(after);

	/* every offset reads: the batch holding it or the next one after a gap */
	for (int64_t o = 0; o < log_end_offset(log); o++) {
		log_slice_t s;

		tu_assert_msg(log_read(log, o, 1, -1, &s, err, sizeof(err)) == 0, "read %" PRId64
		              ": %s", o, err);
		tu_assert_msg(s.len > 0 && s.next_offset > o, "read at %" PRId64 " gave %zu bytes, "
		              "next %" PRId64, o, s.len, s.next_offset);
		log_slice_release(&s);
	}

	/* a new follower copies the compacted leader from offset 0 */
	f = open_log(fdir);
	replicate(log, f);
	expect_compacted(f, &m, st.cleaned_to, T0, -1);
	/* the older follower continues past the leader's gaps */
	replicate(log, partial);
	tu_assert_int_eq(log_end_offset(partial), log_end_offset(log));
	/* followers compact on their own, and survive a reopen with gaps in
	 * their active segment; a truncation into a gap leaves a readable log */
	compact(partial, T0, -1, &pst);
	expect_compacted_copy(partial, &m, pst.cleaned_to, T0, -1, st.cleaned_to, copied);
	log_close(f);
	f = open_log(fdir);
	tu_assert_int_eq(log_end_offset(f), log_end_offset(log));
	tu_assert_int_eq(log_truncate_to(f, m.v[m.n - 40].offset, err, sizeof(err)), 0);
	tu_assert_int_le(log_end_offset(f), m.v[m.n - 40].offset);
	replicate(log, f);
	expect_compacted(f, &m, st.cleaned_to, T0, -1);
	log_close(f);
	log_close(partial);
	log_close(log);
}
END_TEST

/* ---- concurrency ------------------------------------------------------------ */

typedef struct race {
	log_t      *log;
	model_t    *m;
	atomic_int  compacting;     /* 1 while the test compacts: the threads go on */
	atomic_int  appended;       /* batches the appender added */
	atomic_int  reads, bad_reads;
	char        why[256];
} race_t;

static void *race_append(void *arg)
{
	race_t *r = arg;

	/* the model holds 8192 records: at most 2600 batches of 3 in all */
	while (atomic_load(&r->compacting) && r->m->n + 3 <= 7800) {
		append_many(r->log, r->m, 1, T0);
		atomic_fetch_add(&r->appended, 1);
	}
	return NULL;
}

/* Whole-log reads while segments are swapped: every slice is whole, valid
 * batches (CRC included) and reads always progress. */
static void *race_read(void *arg)
{
	race_t *r = arg;

	while (atomic_load(&r->compacting)) {
		int64_t offset = log_start_offset(r->log), leo = log_end_offset(r->log);

		while (offset < leo) {
			log_slice_t s;
			char err[256] = "";
			uint8_t *buf;
			size_t pos = 0;

			if (log_read(r->log, offset, 700, -1, &s, err, sizeof(err)) != 0 || s.len == 0 ||
			    s.next_offset <= offset) {
				snprintf(r->why, sizeof(r->why), "read at %" PRId64 ": %s (%zu bytes)",
				         offset, err, s.len);
				atomic_fetch_add(&r->bad_reads, 1);
				log_slice_release(&s);
				return NULL;
			}
			buf = tu_slice_bytes(&s);
			while (pos < s.len) {
				batch_header_t h;

				if (batch_validate_compacted(buf + pos, s.len - pos, 0, &h, err,
				                             sizeof(err)) != 0) {
					snprintf(r->why, sizeof(r->why), "batch in a read at %" PRId64
					         ": %s", offset, err);
					atomic_fetch_add(&r->bad_reads, 1);
					break;
				}
				pos += batch_total_size(&h);
			}
			offset = s.next_offset;
			free(buf);
			log_slice_release(&s);
		}
		atomic_fetch_add(&r->reads, 1);
	}
	return NULL;
}

START_TEST(test_compact_runs_beside_appends_and_reads)
{
	static model_t m;
	race_t r = { .m = &m };
	char dir[PATH_MAX];
	pthread_t appender, reader;
	log_compact_stats_t st;

	tu_mkdtemp(dir, sizeof(dir));
	r.log = open_log(dir);
	append_many(r.log, &m, 60, T0);
	atomic_store(&r.compacting, 1);
	tu_assert_int_eq(pthread_create(&appender, NULL, race_append, &r), 0);
	tu_assert_int_eq(pthread_create(&reader, NULL, race_read, &r), 0);
	/* appends go on during the passes: the cleaner holds the log's lock
	 * only for its swaps */
	for (int pass = 0; pass < 10; pass++) {
		log_compact_opts_t o = { .now_ms = T0, .clean_below = -1,
		                         .delete_retention_ms = -1, .map_bytes = 1 << 20 };
		char err[256] = "";
		int rc;

		rc = log_compact(r.log, &o, &st, err, sizeof(err));
		tu_assert_msg(rc == 0 || rc == STRAND_EAGAIN, "log_compact: %d (%s)", rc, err);
	}
	atomic_store(&r.compacting, 0);
	pthread_join(appender, NULL);
	pthread_join(reader, NULL);
	tu_assert_msg(atomic_load(&r.bad_reads) == 0, "%s", r.why);
	tu_assert_int_gt(atomic_load(&r.reads), 0);
	tu_assert_int_gt(atomic_load(&r.appended), 10);
	compact(r.log, T0, -1, &st);
	expect_compacted(r.log, &m, st.cleaned_to, T0, -1);
	log_close(r.log);
	r.log = open_log(dir);
	expect_compacted(r.log, &m, st.cleaned_to, T0, -1);
	log_close(r.log);
}
END_TEST

/* ---- counters and the I/O throttle ------------------------------------------ */

static int count_files(const char *dir, const char *suffix);

START_TEST(test_compact_counts_what_it_read_wrote_and_removed)
{
	static model_t m;
	char dir[PATH_MAX];
	log_compact_stats_t st;
	log_t *log;

	tu_mkdtemp(dir, sizeof(dir));
	log = open_log(dir);
	/* 360 records cycling over NKEYS keys, no gap: below cleaned_to, every
	 * record but the last of each key is a duplicate */
	append_many(log, &m, 120, T0);
	compact(log, T0, -1, &st);
	tu_assert_int_gt(st.cleaned_to, 3 * NKEYS);
	tu_assert_int_eq(st.records_removed, st.cleaned_to - NKEYS);
	tu_assert_int_eq(st.records_kept, NKEYS);
	tu_assert_int_eq(st.tombstones_removed, 0);
	/* the map holds every key: both passes read every cleaned byte */
	tu_assert_int_eq(st.bytes_read, 2 * st.bytes_before);
	tu_assert_int_eq(st.bytes_written, st.bytes_after);
	tu_assert_int_eq(st.throttled_ns, 0);
	log_close(log);
}
END_TEST

START_TEST(test_compact_throttle_holds_the_rate)
{
	static model_t m;
	char dir[PATH_MAX], err[256] = "";
	log_compact_stats_t st;
	log_compact_opts_t o = { .now_ms = T0, .clean_below = -1, .delete_retention_ms = -1,
	                         .map_bytes = 1 << 20 };
	int64_t t0, took, bytes, min_ns;
	log_t *log;

	tu_mkdtemp(dir, sizeof(dir));
	log = open_log(dir);
	append_many(log, &m, 120, T0);
	/* about 2 x the log's bytes of I/O at 4 x them a second: ~0.5 s */
	o.io_max_bytes_per_second = 4 * log_size_bytes(log);
	t0 = clock_now_ns();
	tu_assert_msg(log_compact(log, &o, &st, err, sizeof(err)) == 0, "log_compact: %s", err);
	took = clock_now_ns() - t0;
	bytes = st.bytes_read + st.bytes_written;
	min_ns = (int64_t)((double)bytes * 1e9 / (double)o.io_max_bytes_per_second);
	tu_assert_int_gt(bytes, log_size_bytes(log));
	tu_assert_msg(took >= min_ns, "%" PRId64 " bytes at %" PRId64 " B/s took %" PRId64
	              " ns, under the %" PRId64 " ns the rate allows", bytes,
	              o.io_max_bytes_per_second, took, min_ns);
	tu_assert_int_gt(st.throttled_ns, 0);
	expect_compacted(log, &m, st.cleaned_to, T0, -1);
	log_close(log);
}
END_TEST

typedef struct slow_pass {
	log_t     *log;
	int64_t    rate;
	atomic_int cancel, done;
	int        rc;
	char       err[256];
} slow_pass_t;

static void *slow_compact(void *arg)
{
	slow_pass_t *p = arg;
	log_compact_opts_t o = { .now_ms = T0, .clean_below = -1, .delete_retention_ms = -1,
	                         .map_bytes = 1 << 20, .io_max_bytes_per_second = p->rate,
	                         .cancel = &p->cancel };

	p->rc = log_compact(p->log, &o, NULL, p->err, sizeof(p->err));
	atomic_store(&p->done, 1);
	return NULL;
}

START_TEST(test_compact_throttled_pass_lets_appends_in_and_stops_on_cancel)
{
	static model_t m;
	static slow_pass_t p;
	char dir[PATH_MAX];
	log_compact_stats_t st;
	pthread_t th;
	int keys[1] = { 4 };
	int64_t values[1] = { 77 }, deadline;

	tu_mkdtemp(dir, sizeof(dir));
	p.log = open_log(dir);
	append_many(p.log, &m, 120, T0);
	/* pass 1 alone takes ~1 s, pass 2 as long again */
	p.rate = log_size_bytes(p.log);
	tu_assert_int_eq(pthread_create(&th, NULL, slow_compact, &p), 0);
	/* pass 2 writing a cleaned segment (after pass 1's throttled reads) */
	for (deadline = clock_now_ns() + 30000000000LL;
	     count_files(dir, ".cleaned.log") == 0 && !atomic_load(&p.done);) {
		tu_assert_msg(clock_now_ns() < deadline, "no cleaned segment appeared");
		clock_sleep_ms(1);
	}
	/* the throttle sleeps without the log's lock: appends and reads go on */
	append_kv(p.log, &m, keys, values, 1, T0);
	tu_assert_msg(!atomic_load(&p.done), "the throttled pass ended before an append "
	              "could run beside it");
	atomic_store(&p.cancel, 1);
	pthread_join(th, NULL);
	tu_assert_msg(p.rc == STRAND_ECLOSED, "a cancelled pass gave %d (%s)", p.rc, p.err);
	tu_assert_int_eq(count_files(dir, ".cleaned.log"), 0);
	tu_assert_int_eq(count_files(dir, ".cleaned.index"), 0);
	/* nothing lost: an unthrottled pass gives the usual result */
	compact(p.log, T0, -1, &st);
	expect_compacted(p.log, &m, st.cleaned_to, T0, -1);
	log_close(p.log);
}
END_TEST

/* ---- crash safety ---------------------------------------------------------- */

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	tu_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);

		if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

START_TEST(test_compact_recovers_from_a_crash_at_every_step)
{
	for (int step = 1; step <= 4; step++) {
		static model_t m;
		char dir[PATH_MAX];
		log_t *log;
		pid_t pid;
		int status;

		memset(&m, 0, sizeof(m));
		tu_mkdtemp(dir, sizeof(dir));
		log = open_log(dir);
		append_many(log, &m, 80, T0);
		log_close(log);

		pid = fork();
		tu_assert_int_ge(pid, 0);
		if (pid == 0) {
			/* the child cleans and "crashes": exits at the step, closing nothing */
			log_compact_opts_t o = { .now_ms = T0, .clean_below = -1,
			                         .delete_retention_ms = -1, .map_bytes = 1 << 20,
			                         .stop_after_step = step };
			char err[256] = "";
			log_t *c = open_log(dir);
			int rc = log_compact(c, &o, NULL, err, sizeof(err));

			_exit(rc == STRAND_EIO && strstr(err, "injected") ? 0 : 1);
		}
		tu_assert_int_eq(waitpid(pid, &status, 0), pid);
		tu_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "child did not stop at step %d", step);
		if (step < 4)
			tu_assert_int_eq(count_files(dir, ".swap"), 1);

		/* recovery finishes the committed swap: first group cleaned, the rest not */
		log = open_log(dir);
		tu_assert_int_eq(count_files(dir, ".swap"), 0);
		tu_assert_int_eq(count_files(dir, ".cleaned.log"), 0);
		tu_assert_int_eq(count_files(dir, ".cleaned.index"), 0);
		tu_assert_int_eq(log_end_offset(log), m.v[m.n - 1].offset + 1);
		{
			/* cleaning again gives the same result as one clean run */
			log_compact_stats_t st;

			compact(log, T0, -1, &st);
			expect_compacted(log, &m, st.cleaned_to, T0, -1);
		}
		log_close(log);
		log = open_log(dir);
		{
			int keys[1] = { 3 };
			int64_t values[1] = { 5 };

			append_kv(log, &m, keys, values, 1, T0);
		}
		tu_assert_int_eq(log_end_offset(log), m.v[m.n - 1].offset + 1);
		log_close(log);
	}
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	tu_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_compact_uncommitted_files_are_deleted_at_open)
{
	static model_t m;
	char dir[PATH_MAX], path[PATH_MAX];
	log_t *log;

	tu_mkdtemp(dir, sizeof(dir));
	log = open_log(dir);
	append_many(log, &m, 30, T0);
	log_close(log);
	/* a crash while writing the cleaned files (before the commit rename) */
	snprintf(path, sizeof(path), "%s/%020d.cleaned.log", dir, 0);
	write_file(path, "torn");
	snprintf(path, sizeof(path), "%s/%020d.cleaned.index", dir, 0);
	write_file(path, "x");
	log = open_log(dir);
	tu_assert_int_eq(count_files(dir, ".cleaned.log"), 0);
	tu_assert_int_eq(count_files(dir, ".cleaned.index"), 0);
	expect_compacted(log, &m, 0, T0, -1);
	log_close(log);
}
END_TEST

static Suite *compact_suite(void)
{
	Suite *s = suite_create("compact");
	TCase *tc = tcase_create("compact");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_compact_keeps_last_value_per_key_at_its_offset);
	tcase_add_test(tc, test_compact_drops_tombstones_after_delete_retention);
	tcase_add_test(tc, test_compact_map_limit_is_named);
	tcase_add_test(tc, test_compact_checkpoint_survives_reopen_and_resets_on_truncation);
	tcase_add_test(tc, test_compact_only_below_the_bound_and_never_active);
	tcase_add_test(tc, test_compact_reads_and_replicas_cross_the_gaps);
	tcase_add_test(tc, test_compact_runs_beside_appends_and_reads);
	tcase_add_test(tc, test_compact_counts_what_it_read_wrote_and_removed);
	tcase_add_test(tc, test_compact_throttle_holds_the_rate);
	tcase_add_test(tc, test_compact_throttled_pass_lets_appends_in_and_stops_on_cancel);
	tcase_add_test(tc, test_compact_recovers_from_a_crash_at_every_step);
	tcase_add_test(tc, test_compact_uncommitted_files_are_deleted_at_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	tu_root_create();
	sr = srunner_create(compact_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_root_remove();
	return failed == 0 ? 0 : 1;
}
