/*
 * test_log.c — Check suite for the partition log (src/log/log.h): offsets,
 * reads, indexes, timestamps, segment rolls, retention, truncation, leader
 * epochs, group commit and crash recovery.
 *
 * Written from the contract (log.h, batch.h, docs/FORMAT.md), not from
 * log.c. Every test keeps a model of what the log must hold (offset -> the
 * id that generated the record, its timestamp, epoch and batch) and compares
 * the whole log against it, as Redis's stream tests compare XRANGE with a
 * simulated range. test_model_random drives thousands of random operations;
 * its seed is printed and can be replayed with STRAND_TEST_SEED=<n>.
 *
 * No test sleeps: time passes through log_tick's now_ms and through record
 * timestamps.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"
#include "testutil.h"

#define T0        ((int64_t)1700000000000)  /* 2023-11-14: base of record timestamps */
#define MAXOFF    200000            /* offsets a test may reach */
#define MAXSEGS   4096
#define MAXEPOCHS 512

static char g_dir[PATH_MAX];

static void setup(void)
{
	tu_mkdtemp(g_dir, sizeof(g_dir));
}

static void teardown(void)
{
	tu_rm_rf(g_dir);
	g_dir[0] = '\0';
}

/* Defaults with every time- or size-driven background behaviour off. */
static void cfg_plain(log_config_t *c, int64_t segment_bytes, int32_t index_interval)
{
	log_config_default(c);
	c->segment_bytes = segment_bytes;
	c->index_interval_bytes = index_interval;
	c->segment_ms = -1;
	c->retention_ms = -1;
	c->retention_bytes = -1;
	c->flush_messages = -1;
	c->flush_ms = -1;
}

static log_t *open_log(const char *dir, const log_config_t *cfg)
{
	log_t *log = NULL;
	char err[256] = "";
	int rc = log_open(dir, cfg, &log, err, sizeof(err));

	tu_assert_msg(rc == 0, "log_open %s: expected 0, got %d (%s)", dir, rc, err);
	tu_assert_ptr_nonnull(log);
	return log;
}

static log_t *reopen(log_t *log, const char *dir, const log_config_t *cfg)
{
	log_close(log);
	return open_log(dir, cfg);
}

/* ---- the model ------------------------------------------------------------ */

typedef struct model {
	const char *dir;
	int64_t  start, leo;
	uint64_t next_id;
	uint64_t *id;        /* by offset: the id that generated the record */
	int64_t  *ts;        /* record timestamp */
	int32_t  *epoch;     /* leader epoch of its batch */
	int64_t  *base;      /* base offset of its batch */
	size_t   *bsize;     /* at a batch's base offset: the batch's total size */
	int32_t  ep[MAXEPOCHS];        /* leader-epoch cache: epoch ... */
	int64_t  ep_start[MAXEPOCHS];  /* ... and its start offset */
	int      nep;
} model_t;

static void model_init(model_t *m, const char *dir)
{
	memset(m, 0, sizeof(*m));
	m->dir = dir;
	m->next_id = 1;
	m->id = calloc(MAXOFF, sizeof(*m->id));
	m->ts = calloc(MAXOFF, sizeof(*m->ts));
	m->epoch = calloc(MAXOFF, sizeof(*m->epoch));
	m->base = calloc(MAXOFF, sizeof(*m->base));
	m->bsize = calloc(MAXOFF, sizeof(*m->bsize));
	tu_assert(m->id && m->ts && m->epoch && m->base && m->bsize);
}

static void model_free(model_t *m)
{
	free(m->id);
	free(m->ts);
	free(m->epoch);
	free(m->base);
	free(m->bsize);
}

/* The log lost everything at or after new_leo (truncation or recovery). */
static void model_cut(model_t *m, int64_t new_leo)
{
	if (new_leo < m->start)
		m->start = new_leo;
	m->leo = new_leo;
	while (m->nep > 0 && m->ep_start[m->nep - 1] >= new_leo)
		m->nep--;
}

/*
 * Append nb batches of counts[i] generated records in ONE log_append call.
 * ts gives every record's timestamp (NULL: T0 + 10 * offset). Checks the
 * append info and that the log rewrote each batch's base offset and epoch
 * in buf, then records everything in the model.
 */
static void model_append_ts(model_t *m, log_t *log, batch_builder_t *b, const int *counts,
                            int nb, const int64_t *ts, int32_t epoch, log_append_info_t *out)
{
	static int64_t tsv[8192];
	size_t starts[64], sizes[64];
	log_append_info_t info;
	char err[256] = "";
	int64_t total = 0, off = m->leo, max_ts = INT64_MIN, j;
	int i, rc;

	tu_assert_int_le(nb, 64);
	for (i = 0; i < nb; i++)
		total += counts[i];
	tu_assert_int_le(total, 8192);
	tu_assert_int_lt(m->leo + total, MAXOFF);
	for (j = 0; j < total; j++) {
		tsv[j] = ts ? ts[j] : T0 + 10 * (m->leo + j);
		if (tsv[j] > max_ts)
			max_ts = tsv[j];
	}
	batch_builder_reset(b);
	for (i = 0, j = 0; i < nb; j += counts[i], i++) {
		starts[i] = b->len;
		sizes[i] = tu_batch_gen(b, m->next_id + (uint64_t)j, counts[i], tsv + j, 0);
	}
	rc = log_append(log, b->buf, b->len, epoch, &info, err, sizeof(err));
	tu_assert_msg(rc == 0, "log_append of %d batches (%" PRId64 " records) at LEO %" PRId64
	              ": expected 0, got %d (%s)", nb, total, m->leo, rc, err);
	tu_assert_int_eq(info.first_offset, m->leo);
	tu_assert_int_eq(info.last_offset, m->leo + total - 1);
	tu_assert_int_eq(info.record_count, total);
	tu_assert_int_eq(info.max_timestamp, max_ts);
	tu_assert_int_eq(log_end_offset(log), m->leo + total);

	for (i = 0, j = 0; i < nb; j += counts[i], i++) {
		int64_t base = m->leo + j, k;

		tu_assert_msg((int64_t)tu_be(b->buf + starts[i], 8) == base,
		              "batch %d: log_append must rewrite base offset in buf to %" PRId64
		              ", buf has %" PRId64, i, base, (int64_t)tu_be(b->buf + starts[i], 8));
		tu_assert_msg((int32_t)tu_be(b->buf + starts[i] + 12, 4) == epoch,
		              "batch %d: leader epoch in buf expected %d, got %d", i, (int)epoch,
		              (int)(int32_t)tu_be(b->buf + starts[i] + 12, 4));
		m->bsize[base] = sizes[i];
		for (k = 0; k < counts[i]; k++) {
			m->id[off] = m->next_id + (uint64_t)(j + k);
			m->ts[off] = tsv[j + k];
			m->epoch[off] = epoch;
			m->base[off] = base;
			off++;
		}
	}
	m->next_id += (uint64_t)total;
	if (m->nep == 0 || epoch > m->ep[m->nep - 1]) {
		tu_assert_int_lt(m->nep, MAXEPOCHS);
		m->ep[m->nep] = epoch;
		m->ep_start[m->nep] = m->leo;
		m->nep++;
	}
	m->leo += total;
	if (out)
		*out = info;
}

/* One batch of n records, timestamps T0 + 10 * offset. */
static void model_append(model_t *m, log_t *log, batch_builder_t *b, int n, int32_t epoch)
{
	model_append_ts(m, log, b, &n, 1, NULL, epoch, NULL);
}

/* One batch of n records, all with timestamp ts. */
static void model_append_at(model_t *m, log_t *log, batch_builder_t *b, int n, int64_t ts,
                            int32_t epoch)
{
	int64_t tsv[64];
	int k;

	tu_assert_int_le(n, 64);
	for (k = 0; k < n; k++)
		tsv[k] = ts;
	model_append_ts(m, log, b, &n, 1, tsv, epoch, NULL);
}

static void model_check_bounds(const model_t *m, log_t *log)
{
	tu_assert_msg(log_start_offset(log) == m->start, "log start offset expected %" PRId64
	              ", got %" PRId64, m->start, log_start_offset(log));
	tu_assert_msg(log_end_offset(log) == m->leo, "log end offset expected %" PRId64
	              ", got %" PRId64, m->leo, log_end_offset(log));
}

/* The whole log, read front to back in slices of max_bytes, equals the model. */
static void model_check_all_bytes(const model_t *m, log_t *log, size_t max_bytes)
{
	tu_recs_t r;
	size_t i;

	model_check_bounds(m, log);
	tu_read_all_bytes(log, max_bytes, &r);
	tu_assert_msg((int64_t)r.n == m->leo - m->start, "read back %zu records, expected %"
	              PRId64, r.n, m->leo - m->start);
	for (i = 0; i < r.n; i++) {
		const tu_rec_t *rec = &r.v[i];
		int64_t o = m->start + (int64_t)i;

		tu_assert_msg(rec->offset == o, "record %zu: offset expected %" PRId64 ", got %"
		              PRId64, i, o, rec->offset);
		tu_check_gen(rec, m->id[o], m->ts[o]);
		tu_assert_msg(rec->epoch == m->epoch[o], "offset %" PRId64 ": batch epoch expected "
		              "%d, got %d", o, (int)m->epoch[o], (int)rec->epoch);
		tu_assert_msg(rec->batch_base == m->base[o], "offset %" PRId64 ": batch base "
		              "expected %" PRId64 ", got %" PRId64, o, m->base[o], rec->batch_base);
	}
	tu_recs_free(&r);
}

static void model_check_all(const model_t *m, log_t *log)
{
	model_check_all_bytes(m, log, 1 << 20);
}

static int is_batch_boundary(const model_t *m, int64_t off)
{
	return off == m->leo || (off >= m->start && off < m->leo && m->base[off] == off);
}

/*
 * One log_read, checked against everything log.h promises: ERANGE outside
 * [start, LEO]; empty slice at the bound; otherwise whole batches from the
 * one holding offset, within one segment (the fd is that segment's file),
 * under max_bytes unless a single batch, filled up to max_bytes, not
 * reaching max_offset, and the records equal the model.
 */
static void model_check_read_in(const model_t *m, log_t *log, int64_t offset, size_t max_bytes,
                                int64_t max_offset, const int64_t *segs, int nseg)
{
	int64_t bound = max_offset < 0 ? m->leo : max_offset;
	int64_t seg_next = INT64_MAX;
	char err[256] = "", path[PATH_MAX];
	struct stat st_fd, st_seg;
	log_slice_t s;
	tu_recs_t r;
	size_t i;
	int rc, nb, j;

	memset(&s, 0, sizeof(s));
	rc = log_read(log, offset, max_bytes, max_offset, &s, err, sizeof(err));
	if (offset < m->start || offset > m->leo) {
		tu_assert_msg(rc == STRAND_ERANGE, "log_read at %" PRId64 " outside [%" PRId64 ", %"
		              PRId64 "]: expected STRAND_ERANGE (%d), got %d", offset, m->start,
		              m->leo, STRAND_ERANGE, rc);
		return;
	}
	tu_assert_msg(rc == 0, "log_read at %" PRId64 " (start %" PRId64 ", LEO %" PRId64
	              ", max_bytes %zu, max_offset %" PRId64 "): expected 0, got %d (%s)",
	              offset, m->start, m->leo, max_bytes, max_offset, rc, err);
	if (offset >= bound) {
		tu_assert_msg(s.len == 0 && s.fd == -1 && s.next_offset == offset,
		              "log_read at the bound %" PRId64 ": expected an empty slice (len 0, "
		              "fd -1, next_offset %" PRId64 "), got len %zu fd %d next_offset %"
		              PRId64, bound, offset, s.len, s.fd, s.next_offset);
		log_slice_release(&s);
		return;
	}
	tu_assert_msg(s.len > 0, "log_read at %" PRId64 " below bound %" PRId64 " gave an empty "
	              "slice", offset, bound);
	tu_assert_msg(s.first_offset == m->base[offset], "log_read at %" PRId64 ": first_offset "
	              "expected %" PRId64 " (base of the batch holding it), got %" PRId64,
	              offset, m->base[offset], s.first_offset);
	memset(&r, 0, sizeof(r));
	nb = tu_slice_collect(&s, offset, &r);
	tu_assert_msg((int64_t)r.n == s.next_offset - offset, "log_read at %" PRId64 ": %zu "
	              "records at or after it, next_offset %" PRId64, offset, r.n, s.next_offset);
	for (i = 0; i < r.n; i++) {
		int64_t o = offset + (int64_t)i;

		tu_assert_int_eq(r.v[i].offset, o);
		tu_check_gen(&r.v[i], m->id[o], m->ts[o]);
		tu_assert_int_eq(r.v[i].epoch, m->epoch[o]);
	}
	tu_recs_free(&r);

	if (is_batch_boundary(m, bound))
		tu_assert_msg(s.next_offset <= bound, "log_read at %" PRId64 " with max_offset %"
		              PRId64 ": slice reaches %" PRId64 ", past the bound", offset, bound,
		              s.next_offset);
	else
		tu_assert_msg(s.first_offset < bound, "log_read at %" PRId64 ": slice starts at %"
		              PRId64 ", at or past max_offset %" PRId64, offset, s.first_offset, bound);
	tu_assert_msg(s.len <= max_bytes || nb == 1, "log_read at %" PRId64 ": %d batches, %zu "
	              "bytes, over max_bytes %zu (only a single batch may exceed it)", offset, nb,
	              s.len, max_bytes);

	/* within one segment, and the fd is that segment's file */
	for (j = nseg - 1; j >= 0 && segs[j] > s.first_offset; j--)
		;
	tu_assert_msg(j >= 0, "no segment holds offset %" PRId64, s.first_offset);
	if (j + 1 < nseg)
		seg_next = segs[j + 1];
	tu_assert_msg(s.next_offset <= seg_next, "log_read at %" PRId64 ": slice [%" PRId64 ", %"
	              PRId64 ") crosses into segment %" PRId64, offset, s.first_offset,
	              s.next_offset, seg_next);
	tu_seg_path(path, sizeof(path), m->dir, segs[j], "log");
	tu_assert_int_eq(fstat(s.fd, &st_fd), 0);
	tu_assert_int_eq(stat(path, &st_seg), 0);
	tu_assert_msg(st_fd.st_ino == st_seg.st_ino && st_fd.st_dev == st_seg.st_dev,
	              "log_read at %" PRId64 ": slice fd is not segment %s", offset, path);

	/* filled up to max_bytes: the next batch would not have fitted */
	if (is_batch_boundary(m, bound) && s.next_offset < bound && s.next_offset < seg_next)
		tu_assert_msg(s.len + m->bsize[s.next_offset] > max_bytes,
		              "log_read at %" PRId64 " max_bytes %zu stopped at %" PRId64 " with %zu "
		              "bytes although the next batch (%zu bytes) fits", offset, max_bytes,
		              s.next_offset, s.len, m->bsize[s.next_offset]);
	log_slice_release(&s);
	tu_assert_int_eq(s.fd, -1);
}

static void model_check_read(const model_t *m, log_t *log, int64_t offset, size_t max_bytes,
                             int64_t max_offset)
{
	static int64_t segs[MAXSEGS];
	int nseg = tu_list_segments(m->dir, segs, MAXSEGS);

	model_check_read_in(m, log, offset, max_bytes, max_offset, segs, nseg);
}

/* Read at every offset from start-1 to LEO+1, with max_bytes 1 and large. */
static void model_check_read_every_offset(const model_t *m, log_t *log)
{
	static int64_t segs[MAXSEGS];
	int nseg = tu_list_segments(m->dir, segs, MAXSEGS);
	int64_t o;

	for (o = m->start - 1; o <= m->leo + 1; o++) {
		model_check_read_in(m, log, o, 1, -1, segs, nseg);
		model_check_read_in(m, log, o, 1 << 20, -1, segs, nseg);
	}
}

/* Brute force: first offset whose timestamp >= t. */
static int model_offset_for_ts(const model_t *m, int64_t t, int64_t *off, int64_t *ts)
{
	int64_t o;

	for (o = m->start; o < m->leo; o++)
		if (m->ts[o] >= t) {
			*off = o;
			*ts = m->ts[o];
			return 0;
		}
	*off = m->leo;
	return STRAND_ENOENT;
}

static void model_check_ts(const model_t *m, log_t *log, int64_t t)
{
	int64_t want_off = -2, want_ts = -2, off = -7, ts = -7;
	int want = model_offset_for_ts(m, t, &want_off, &want_ts);
	char err[256] = "";
	int rc = log_offset_for_timestamp(log, t, &off, &ts, err, sizeof(err));

	tu_assert_msg(rc == want, "offset_for_timestamp(%" PRId64 " = T0%+" PRId64 "): expected "
	              "rc %d, got %d (%s)", t, t - T0, want, rc, err);
	tu_assert_msg(off == want_off, "offset_for_timestamp(%" PRId64 " = T0%+" PRId64 "): "
	              "expected offset %" PRId64 ", got %" PRId64, t, t - T0, want_off, off);
	if (want == 0)
		tu_assert_msg(ts == want_ts, "offset_for_timestamp(%" PRId64 "): expected timestamp %"
		              PRId64 ", got %" PRId64, t, want_ts, ts);
}

/* Every record's timestamp and its neighbours, plus below and above all. */
static void model_check_ts_all(const model_t *m, log_t *log)
{
	int64_t o, step = (m->leo - m->start) / 700 + 1, max = T0;

	model_check_ts(m, log, 0);
	model_check_ts(m, log, T0 - 1000000);
	for (o = m->start; o < m->leo; o++)
		if (m->ts[o] > max)
			max = m->ts[o];
	for (o = m->start; o < m->leo; o += step) {
		model_check_ts(m, log, m->ts[o] - 1);
		model_check_ts(m, log, m->ts[o]);
		model_check_ts(m, log, m->ts[o] + 1);
	}
	model_check_ts(m, log, max);
	model_check_ts(m, log, max + 1);
	model_check_ts(m, log, INT64_MAX);
}

static void model_check_epochs(const model_t *m, log_t *log)
{
	int32_t q, maxq = m->nep ? m->ep[m->nep - 1] + 2 : 3;

	tu_assert_msg(log_latest_epoch(log) == (m->nep ? m->ep[m->nep - 1] : -1),
	              "log_latest_epoch: expected %d, got %d", m->nep ? (int)m->ep[m->nep - 1] : -1,
	              (int)log_latest_epoch(log));
	for (q = -1; q <= maxq; q++) {
		int32_t want_ep = -1, got_ep = -9;
		int64_t want_end = -1, got_end = -9;
		int i;

		for (i = m->nep - 1; i >= 0; i--)
			if (m->ep[i] <= q) {
				want_ep = m->ep[i];
				want_end = i == m->nep - 1 ? m->leo : m->ep_start[i + 1];
				break;
			}
		if (i < 0 && q >= 0 && m->nep > 0) {
			/* below every known epoch: it ends where the first known one starts */
			want_ep = q;
			want_end = m->ep_start[0];
		}
		log_epoch_end_offset(log, q, &got_ep, &got_end);
		tu_assert_msg(got_ep == want_ep && got_end == want_end,
		              "log_epoch_end_offset(%d): expected (epoch %d, end %" PRId64 "), got "
		              "(epoch %d, end %" PRId64 ")", (int)q, (int)want_ep, want_end,
		              (int)got_ep, got_end);
	}
}

static void model_truncate(model_t *m, log_t *log, int64_t offset)
{
	char err[256] = "";
	int rc = log_truncate_to(log, offset, err, sizeof(err));

	tu_assert_msg(rc == 0, "log_truncate_to(%" PRId64 "): expected 0, got %d (%s)", offset,
	              rc, err);
	if (offset < m->start) {
		m->start = offset;
		model_cut(m, offset);
	} else if (offset < m->leo) {
		model_cut(m, m->base[offset]);
	}
	model_check_bounds(m, log);
}

/*
 * The segment files agree with the log and docs/FORMAT.md: named by the base
 * offset of their first batch, contiguous, the first at the log start offset,
 * the last ending at the LEO, log_segment_count and log_size_bytes matching
 * the files, every batch's epoch as appended, and (segment_bytes > 0) no
 * segment over segment_bytes unless it holds a single batch.
 */
static void check_segments(const model_t *m, log_t *log, int64_t segment_bytes)
{
	int64_t segs[MAXSEGS], total = 0;
	char path[PATH_MAX];
	int n = tu_list_segments(m->dir, segs, MAXSEGS), i, k;

	tu_assert_msg(log_segment_count(log) == n, "log_segment_count: %d, files: %d",
	              log_segment_count(log), n);
	if (n > 0)
		tu_assert_msg(segs[0] == m->start, "first segment %" PRId64 " is not at the log start"
		              " offset %" PRId64, segs[0], m->start);
	for (i = 0; i < n; i++) {
		tu_batch_pos_t *bp;
		int64_t end = i + 1 < n ? segs[i + 1] : m->leo, size;
		int nb;

		tu_seg_path(path, sizeof(path), m->dir, segs[i], "log");
		size = tu_file_size(path);
		total += size;
		nb = tu_scan_segment(path, &bp);
		if (nb == 0) {
			tu_assert_msg(segs[i] == end, "empty segment %" PRId64 " but the next offset is %"
			              PRId64, segs[i], end);
		} else {
			tu_assert_msg(bp[0].base == segs[i], "segment %s starts with offset %" PRId64,
			              path, bp[0].base);
			tu_assert_msg(bp[nb - 1].last + 1 == end, "segment %s ends at %" PRId64 ", the "
			              "next segment (or LEO) is %" PRId64, path, bp[nb - 1].last + 1, end);
		}
		for (k = 0; k < nb; k++) {
			tu_assert_int_eq(bp[k].epoch, m->epoch[bp[k].base]);
			tu_assert_int_eq(bp[k].base, m->base[bp[k].base]);
			if (k > 0)
				tu_assert_int_eq(bp[k].base, bp[k - 1].last + 1);
		}
		if (segment_bytes > 0)
			tu_assert_msg(size <= segment_bytes || nb == 1, "segment %s holds %d batches in %"
			              PRId64 " bytes, over segment_bytes %" PRId64, path, nb, size,
			              segment_bytes);
		free(bp);
	}
	tu_assert_msg(log_size_bytes(log) == total, "log_size_bytes %" PRId64 ", the .log files "
	              "hold %" PRId64, log_size_bytes(log), total);
}

/*
 * Index files of a closed log, per docs/FORMAT.md: 8-byte (relative offset,
 * position) entries, ascending, the first (0, 0), each pointing at a batch
 * whose base offset matches; one per batch with index_interval_bytes 1, one
 * per segment when the interval is huge. 12-byte time entries with strictly
 * increasing timestamps, each the largest timestamp of the segment up to and
 * including the batch it names.
 */
static void check_index_files(const char *dir, int32_t interval)
{
	int64_t segs[MAXSEGS];
	char path[PATH_MAX];
	int n = tu_list_segments(dir, segs, MAXSEGS), i, k, e;

	for (i = 0; i < n; i++) {
		tu_batch_pos_t *bp;
		uint8_t *idx;
		size_t len, ne;
		int64_t prev_rel = -1, prev_pos = -1, prev_ts = INT64_MIN;
		int nb;

		tu_seg_path(path, sizeof(path), dir, segs[i], "log");
		nb = tu_scan_segment(path, &bp);
		if (nb == 0) {
			free(bp);
			continue;
		}
		tu_seg_path(path, sizeof(path), dir, segs[i], "index");
		tu_assert_msg(tu_file_exists(path), "%s missing after close", path);
		idx = tu_read_file(path, &len);
		tu_assert_msg(len % 8 == 0, "%s: %zu bytes, not whole 8-byte entries", path, len);
		ne = len / 8;
		tu_assert_msg(ne >= 1, "%s: no entry for the segment's first batch", path);
		for (e = 0; e < (int)ne; e++) {
			int64_t rel = (int32_t)tu_be(idx + 8 * e, 4), pos = (int32_t)tu_be(idx + 8 * e + 4, 4);

			tu_assert_msg(rel > prev_rel && pos > prev_pos, "%s entry %d (%" PRId64 ", %" PRId64
			              ") not ascending", path, e, rel, pos);
			for (k = 0; k < nb && bp[k].pos != pos; k++)
				;
			tu_assert_msg(k < nb, "%s entry %d: position %" PRId64 " is not a batch start",
			              path, e, pos);
			tu_assert_msg(bp[k].base - segs[i] == rel, "%s entry %d: relative offset %" PRId64
			              ", the batch at %" PRId64 " has %" PRId64, path, e, rel, pos,
			              bp[k].base - segs[i]);
			prev_rel = rel;
			prev_pos = pos;
		}
		tu_assert_msg(tu_be(idx, 8) == 0, "%s: first entry is not (0, 0)", path);
		if (interval == 1)
			tu_assert_msg((int)ne == nb, "%s: interval 1 wants one entry per batch: %d "
			              "batches, %zu entries", path, nb, ne);
		if (interval >= (1 << 30))
			tu_assert_msg(ne == 1, "%s: huge interval wants one entry, got %zu", path, ne);
		free(idx);

		tu_seg_path(path, sizeof(path), dir, segs[i], "timeindex");
		tu_assert_msg(tu_file_exists(path), "%s missing after close", path);
		idx = tu_read_file(path, &len);
		tu_assert_msg(len % 12 == 0, "%s: %zu bytes, not whole 12-byte entries", path, len);
		tu_assert_msg(len >= 12, "%s: no entry", path);
		for (e = 0; e < (int)(len / 12); e++) {
			int64_t ts = (int64_t)tu_be(idx + 12 * e, 8), rel = (int32_t)tu_be(idx + 12 * e + 8, 4);
			int64_t run = INT64_MIN;

			tu_assert_msg(ts > prev_ts, "%s entry %d: timestamp %" PRId64 " not above %" PRId64,
			              path, e, ts, prev_ts);
			for (k = 0; k < nb; k++) {
				if (bp[k].max_ts > run)
					run = bp[k].max_ts;
				if (bp[k].base - segs[i] == rel)
					break;
			}
			tu_assert_msg(k < nb, "%s entry %d: relative offset %" PRId64 " is no batch's",
			              path, e, rel);
			tu_assert_msg(ts == run, "%s entry %d: timestamp %" PRId64 ", the segment's largest "
			              "up to that batch is %" PRId64, path, e, ts, run);
			prev_ts = ts;
		}
		free(idx);
		free(bp);
	}
}

/* ---- opening, appending, reading ----------------------------------------- */

START_TEST(test_open_creates_empty_log_and_rejects_bad_config)
{
	char dir[PATH_MAX], err[256] = "";
	log_config_t cfg, bad;
	log_t *log, *other = NULL;
	log_slice_t s;
	int64_t off = 99, ts = 99, end = 99;
	int32_t ep = 99;
	int rc;

	tu_path(dir, sizeof(dir), g_dir, "topic-0");
	cfg_plain(&cfg, 1 << 20, 4096);
	log = open_log(dir, &cfg);
	tu_assert_msg(tu_file_exists(dir), "log_open did not create %s", dir);
	tu_assert_int_eq(log_start_offset(log), 0);
	tu_assert_int_eq(log_end_offset(log), 0);
	tu_assert_int_eq(log_size_bytes(log), 0);
	tu_assert_int_le(log_segment_count(log), 1);

	memset(&s, 0, sizeof(s));
	tu_assert_int_eq(log_read(log, 0, 4096, -1, &s, err, sizeof(err)), 0);
	tu_assert_uint_eq(s.len, 0);
	tu_assert_int_eq(s.fd, -1);
	tu_assert_int_eq(s.next_offset, 0);
	log_slice_release(&s);
	tu_assert_int_eq(log_read(log, 1, 4096, -1, &s, err, sizeof(err)), STRAND_ERANGE);
	tu_assert_int_eq(log_read(log, -1, 4096, -1, &s, err, sizeof(err)), STRAND_ERANGE);

	tu_assert_int_eq(log_offset_for_timestamp(log, 0, &off, &ts, err, sizeof(err)),
	                 STRAND_ENOENT);
	tu_assert_int_eq(off, 0);
	tu_assert_int_eq(log_latest_epoch(log), -1);
	log_epoch_end_offset(log, 5, &ep, &end);
	tu_assert_int_eq(ep, -1);
	tu_assert_int_eq(end, -1);
	tu_assert_int_eq(log_flush(log, -1, err, sizeof(err)), 0);

	bad = cfg;
	bad.segment_bytes = -1;
	tu_assert_int_eq(log_set_config(log, &bad, err, sizeof(err)), STRAND_EINVAL);
	bad = cfg;
	bad.index_interval_bytes = -1;
	tu_assert_int_eq(log_set_config(log, &bad, err, sizeof(err)), STRAND_EINVAL);
	tu_assert_int_eq(log_set_config(log, &cfg, err, sizeof(err)), 0);
	log_close(log);
	log_close(NULL);

	bad = cfg;
	bad.segment_bytes = -1;
	rc = log_open(dir, &bad, &other, err, sizeof(err));
	tu_assert_msg(rc == STRAND_EINVAL, "log_open with segment_bytes -1: expected "
	              "STRAND_EINVAL, got %d", rc);
	if (rc == 0)
		log_close(other);

	/* reopening an empty log gives an empty log */
	log = open_log(dir, &cfg);
	tu_assert_int_eq(log_end_offset(log), 0);
	tu_assert_int_eq(log_start_offset(log), 0);
	log_close(log);
}
END_TEST

START_TEST(test_append_assigns_contiguous_offsets)
{
	static const int sizes[] = {1, 2, 5, 1, 17, 50, 3};
	static const int multi[] = {3, 1, 4};
	int64_t ts[8] = {T0 + 50, T0 + 10, T0 + 70, T0 + 20, T0 + 30, T0 + 5, T0 + 60, T0 + 1};
	log_append_info_t info;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	size_t i, bytes = 0;

	cfg_plain(&cfg, 1 << 20, 4096);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		model_append(&m, log, &b, sizes[i], 0);
		bytes += b.len;
	}
	/* out-of-order timestamps: max_timestamp is the largest, not the last */
	model_append_ts(&m, log, &b, multi, 1, ts, 0, &info);
	bytes += b.len;
	tu_assert_int_eq(info.max_timestamp, T0 + 70);
	/* several batches in one call: one contiguous range */
	model_append_ts(&m, log, &b, multi, 3, ts, 0, &info);
	bytes += b.len;
	tu_assert_int_eq(info.record_count, 8);
	tu_assert_int_eq(info.max_timestamp, T0 + 70);

	tu_assert_int_eq(log_end_offset(log), 79 + 3 + 8);
	tu_assert_int_eq(log_size_bytes(log), (int64_t)bytes);
	model_check_all(&m, log);
	check_segments(&m, log, 0);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/*
 * log_append_built (JSON produce's path: batches from our own builder) skips
 * the CRC and record checks, nothing else: it stores exactly what
 * log_append stores, and still refuses a batch cut short or over the size
 * limit.
 */
START_TEST(test_append_built_stores_what_append_stores)
{
	static const int sizes[] = {1, 7, 100, 3};
	char da[PATH_MAX], db[PATH_MAX], fa[PATH_MAX], fb[PATH_MAX], err[256];
	log_append_info_t ia, ib;
	batch_builder_t b;
	log_config_t cfg;
	log_t *la, *lb;
	uint8_t *ca, *cb, *copy;
	size_t i, na, nb;

	cfg_plain(&cfg, 1 << 20, 4096);
	tu_path(da, sizeof(da), g_dir, "checked");
	tu_path(db, sizeof(db), g_dir, "built");
	la = open_log(da, &cfg);
	lb = open_log(db, &cfg);
	batch_builder_init(&b);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		batch_builder_reset(&b);
		tu_batch_gen(&b, 1000 * i, sizes[i], NULL, T0 + (int64_t)i);
		copy = malloc(b.len);
		tu_assert(copy != NULL);
		memcpy(copy, b.buf, b.len);
		tu_assert_int_eq(log_append(la, b.buf, b.len, 0, &ia, err, sizeof(err)), 0);
		tu_assert_int_eq(log_append_built(lb, copy, b.len, 0, &ib, err, sizeof(err)), 0);
		tu_assert_int_eq(ib.first_offset, ia.first_offset);
		tu_assert_int_eq(ib.last_offset, ia.last_offset);
		tu_assert_int_eq(ib.record_count, ia.record_count);
		tu_assert_int_eq(ib.max_timestamp, ia.max_timestamp);
		tu_assert(memcmp(copy, b.buf, b.len) == 0);   /* same offsets written in */
		free(copy);
	}
	tu_assert_int_eq(log_end_offset(lb), 111);
	tu_path(fa, sizeof(fa), da, "00000000000000000000.log");
	tu_path(fb, sizeof(fb), db, "00000000000000000000.log");
	ca = tu_read_file(fa, &na);
	cb = tu_read_file(fb, &nb);
	tu_assert_int_eq(nb, na);
	tu_assert(memcmp(ca, cb, na) == 0);
	free(ca);
	free(cb);

	/* cut short: refused, nothing written */
	batch_builder_reset(&b);
	tu_batch_gen(&b, 0, 10, NULL, T0);
	tu_assert_int_eq(log_append_built(lb, b.buf, b.len - 1, 0, &ib, err, sizeof(err)),
	                 STRAND_ECORRUPT);
	tu_assert_int_eq(log_append_built(lb, b.buf, 20, 0, &ib, err, sizeof(err)),
	                 STRAND_ECORRUPT);
	/* over max_batch_bytes: refused */
	log_close(lb);
	cfg.max_batch_bytes = (int32_t)(b.len - 1);
	lb = open_log(db, &cfg);
	tu_assert_int_eq(log_append_built(lb, b.buf, b.len, 0, &ib, err, sizeof(err)),
	                 STRAND_ETOOBIG);
	tu_assert_int_eq(log_end_offset(lb), 111);
	tu_assert_int_eq(log_size_bytes(lb), (int64_t)na);

	batch_builder_free(&b);
	log_close(la);
	log_close(lb);
}
END_TEST

START_TEST(test_roundtrip_across_segment_rolls)
{
	const int64_t seg_bytes = 1024;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i;

	cfg_plain(&cfg, seg_bytes, 256);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);

	for (i = 0; i < 200; i++) {
		if (i % 10 == 9) {
			static const int two[] = {2, 1};

			model_append_ts(&m, log, &b, two, 2, NULL, 0, NULL);
		} else if (i % 50 == 25) {
			model_append(&m, log, &b, 50, 0);   /* one batch bigger than a segment */
			tu_assert_uint_gt(b.len, (size_t)seg_bytes);
		} else {
			model_append(&m, log, &b, 1 + (i * 37) % 8, 0);
		}
	}
	tu_assert_msg(log_segment_count(log) > 10, "segment_bytes %" PRId64 ": expected many "
	              "segments, got %d", seg_bytes, log_segment_count(log));
	model_check_all(&m, log);
	model_check_all_bytes(&m, log, 1);   /* one batch per read */
	check_segments(&m, log, seg_bytes);

	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);
	check_segments(&m, log, seg_bytes);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

START_TEST(test_read_at_every_offset)
{
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int64_t o, bounds[3];
	int i, k;

	cfg_plain(&cfg, 2048, 300);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 60; i++)
		model_append(&m, log, &b, 1 + (i * 5) % 6, 0);
	tu_assert_int_gt(log_segment_count(log), 2);

	model_check_read_every_offset(&m, log);
	for (o = 0; o < m.leo; o++) {
		model_check_read(&m, log, o, 700, -1);
		model_check_read(&m, log, o, 0, -1);   /* still one whole batch */
	}

	/* max_offset (a high watermark) at batch boundaries, and at the LEO */
	bounds[0] = m.base[m.leo / 4];
	bounds[1] = m.base[m.leo / 2];
	bounds[2] = m.leo;
	for (k = 0; k < 3; k++)
		for (o = 0; o <= bounds[k]; o++) {
			model_check_read(&m, log, o, 1 << 20, bounds[k]);
			model_check_read(&m, log, o, 1, bounds[k]);
		}
	/* a bound inside a batch: nothing starts at or above it */
	for (o = m.leo / 2; o < m.leo && m.base[o] == o; o++)
		;
	for (k = 0; k < (int)o && k < 40; k++)
		model_check_read(&m, log, k, 1 << 20, o);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

START_TEST(test_index_lookup_at_boundaries)
{
	static const int32_t intervals[] = {1, 100, 1 << 30};
	int32_t interval = intervals[_i];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i;

	cfg_plain(&cfg, 4096, interval);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 80; i++)
		model_append(&m, log, &b, 1 + (i * 7) % 9, 0);
	tu_assert_int_gt(log_segment_count(log), 3);

	model_check_read_every_offset(&m, log);
	model_check_ts_all(&m, log);
	log_close(log);
	check_index_files(g_dir, interval);

	/* indexes loaded from disk answer the same */
	log = open_log(g_dir, &cfg);
	model_check_read_every_offset(&m, log);
	model_check_ts_all(&m, log);
	for (i = 0; i < 20; i++)
		model_append(&m, log, &b, 1 + i % 4, 0);
	model_check_read_every_offset(&m, log);

	batch_builder_free(&b);
	log_close(log);
	check_index_files(g_dir, interval);
	model_free(&m);
}
END_TEST

/* ---- timestamps ------------------------------------------------------------ */

START_TEST(test_offset_for_timestamp)
{
	/* out of order within and across batches (in units after T0) */
	static const int64_t order[] = {50, 10, 40, 20, /**/ 30, 60, 5, /**/ 100, /**/ 70, 80,
	                                /**/ 60, 60, 60, /**/ 200};
	static const int counts[] = {4, 3, 1, 2, 3, 1};
	static const struct { int64_t seg; int32_t interval; } layouts[] = {
		{1 << 20, 4096}, {1024, 1}, {2048, 1 << 30}};
	uint64_t seed = 42;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int64_t t, tsv[64];
	int i, k, l, j;

	batch_builder_init(&b);
	for (l = 0; l < 3; l++) {
		char dir[PATH_MAX], name[16];

		snprintf(name, sizeof(name), "p%d", l);
		tu_path(dir, sizeof(dir), g_dir, name);
		cfg_plain(&cfg, layouts[l].seg, layouts[l].interval);
		log = open_log(dir, &cfg);
		model_init(&m, dir);

		for (i = 0, j = 0; i < 6; j += counts[i], i++) {
			for (k = 0; k < counts[i]; k++)
				tsv[k] = T0 + order[j + k];
			model_append_ts(&m, log, &b, &counts[i], 1, tsv, 0, NULL);
		}
		for (t = T0 - 2; t <= T0 + 202; t++)
			model_check_ts(&m, log, t);
		model_check_ts_all(&m, log);

		/* equal timestamps: the first of them */
		model_append_at(&m, log, &b, 5, T0 + 300, 0);
		model_append_at(&m, log, &b, 3, T0 + 300, 0);
		model_append_at(&m, log, &b, 2, T0 + 400, 0);
		for (t = T0 + 250; t <= T0 + 450; t += 10)
			model_check_ts(&m, log, t);

		/* increasing, then random jitter across many batches */
		for (i = 0; i < 80; i++) {
			int n = 1 + (int)(tu_rand(&seed) % 8);

			for (k = 0; k < n; k++)
				tsv[k] = T0 + 1000 + i * 20 + tu_rand_range(&seed, -60, 60);
			model_append_ts(&m, log, &b, &n, 1, tsv, 0, NULL);
		}
		for (t = T0 + 900; t <= T0 + 2700; t += 7)
			model_check_ts(&m, log, t);
		model_check_ts_all(&m, log);

		log = reopen(log, dir, &cfg);
		for (t = T0 - 2; t <= T0 + 2700; t += 3)
			model_check_ts(&m, log, t);
		model_check_ts_all(&m, log);
		log_close(log);
		model_free(&m);
	}
	batch_builder_free(&b);
}
END_TEST

/* ---- retention and rolls --------------------------------------------------- */

static int64_t model_segment_max_ts(const model_t *m, const int64_t *segs, int n, int i)
{
	int64_t end = i + 1 < n ? segs[i + 1] : m->leo, o, max = INT64_MIN;

	for (o = segs[i]; o < end; o++)
		if (m->ts[o] > max)
			max = m->ts[o];
	return max;
}

START_TEST(test_retention_by_time)
{
	const int64_t retention = 10000;
	int64_t segs[MAXSEGS], now, old_leo;
	char err[256] = "", path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	log_slice_t old;
	model_t m;
	log_t *log;
	int i, n, keep, deleted = -1;

	cfg_plain(&cfg, 1024, 128);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 40; i++)   /* batch i: 3 records at T0 + i s */
		model_append_at(&m, log, &b, 3, T0 + i * 1000, 0);
	n = tu_list_segments(g_dir, segs, MAXSEGS);
	tu_assert_int_ge(n, 5);

	/* segments whose newest record is older than now - retention go */
	now = T0 + 25500 + retention;
	for (keep = 0; keep < n && model_segment_max_ts(&m, segs, n, keep) < now - retention; keep++)
		;
	tu_assert_msg(keep > 0 && keep < n - 1, "test layout: keep %d of %d", keep, n);

	memset(&old, 0, sizeof(old));
	tu_assert_int_eq(log_read(log, 0, 1 << 20, -1, &old, err, sizeof(err)), 0);

	/* ticking with retention off deletes nothing */
	tu_assert_int_eq(log_tick(log, now, &deleted, err, sizeof(err)), 0);
	tu_assert_int_eq(deleted, 0);

	cfg.retention_ms = retention;
	tu_assert_int_eq(log_set_config(log, &cfg, err, sizeof(err)), 0);
	tu_assert_int_eq(log_tick(log, now, &deleted, err, sizeof(err)), 0);
	tu_assert_msg(deleted == keep, "retention_ms %" PRId64 " at now=T0+%" PRId64 ": expected %d"
	              " segments deleted, got %d", retention, now - T0, keep, deleted);
	m.start = segs[keep];
	model_check_bounds(&m, log);
	for (i = 0; i < keep; i++) {
		tu_seg_path(path, sizeof(path), g_dir, segs[i], "log");
		tu_assert_msg(!tu_file_exists(path), "%s still there after retention", path);
		tu_seg_path(path, sizeof(path), g_dir, segs[i], "index");
		tu_assert_msg(!tu_file_exists(path), "%s still there after retention", path);
		tu_seg_path(path, sizeof(path), g_dir, segs[i], "timeindex");
		tu_assert_msg(!tu_file_exists(path), "%s still there after retention", path);
	}
	model_check_read(&m, log, m.start - 1, 1 << 20, -1);   /* ERANGE */
	model_check_read(&m, log, 0, 1 << 20, -1);
	model_check_read_every_offset(&m, log);
	model_check_all(&m, log);
	model_check_ts_all(&m, log);
	check_segments(&m, log, 0);

	/* a slice handed out before the deletion still reads its bytes */
	tu_slice_collect(&old, 0, NULL);
	log_slice_release(&old);

	tu_assert_int_eq(log_tick(log, now, &deleted, err, sizeof(err)), 0);
	tu_assert_int_eq(deleted, 0);
	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);

	/* everything expires, the active segment too: the log empties at its LEO */
	old_leo = m.leo;
	now = T0 + 39000 + retention + 500;
	tu_assert_int_eq(log_tick(log, now, &deleted, err, sizeof(err)), 0);
	tu_assert_int_eq(deleted, n - keep);
	m.start = m.leo;
	model_check_bounds(&m, log);
	tu_assert_int_eq(log_size_bytes(log), 0);
	tu_assert_int_le(log_segment_count(log), 1);
	model_check_read(&m, log, old_leo - 1, 1 << 20, -1);   /* ERANGE */
	model_check_read(&m, log, old_leo, 1 << 20, -1);       /* empty */
	model_check_ts(&m, log, 0);                             /* ENOENT, LEO */

	model_append_at(&m, log, &b, 4, now, 0);
	tu_assert_int_eq(m.base[m.leo - 1], old_leo);
	model_check_all(&m, log);
	check_segments(&m, log, 0);
	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);
	model_check_ts_all(&m, log);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

START_TEST(test_retention_by_size)
{
	const int64_t limit = 5000;
	int64_t segs[MAXSEGS], size_before, size_after, first_size, last_deleted_size;
	char err[256] = "", path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i, n, deleted = -1;

	cfg_plain(&cfg, 2048, 512);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 60; i++)
		model_append(&m, log, &b, 3, 0);
	n = tu_list_segments(g_dir, segs, MAXSEGS);
	size_before = log_size_bytes(log);
	tu_assert_int_gt(size_before, 2 * limit);
	tu_assert_int_ge(n, 6);

	cfg.retention_bytes = limit;
	tu_assert_int_eq(log_set_config(log, &cfg, err, sizeof(err)), 0);
	tu_assert_int_eq(log_tick(log, T0, &deleted, err, sizeof(err)), 0);
	tu_assert_int_gt(deleted, 0);
	tu_assert_int_lt(deleted, n);
	m.start = segs[deleted];
	model_check_bounds(&m, log);

	/* only whole segments, oldest first, and only while over the limit */
	size_after = log_size_bytes(log);
	tu_seg_path(path, sizeof(path), g_dir, segs[deleted], "log");
	first_size = tu_file_size(path);
	tu_assert_msg(size_after - first_size < limit, "retention_bytes %" PRId64 ": %" PRId64
	              " bytes left and the oldest segment (%" PRId64 " bytes) could still go",
	              limit, size_after, first_size);
	tu_seg_path(path, sizeof(path), g_dir, segs[deleted - 1], "log");
	tu_assert(!tu_file_exists(path));
	last_deleted_size = 0;
	{
		/* the size of the last deleted segment, from the model's batches */
		int64_t o;

		for (o = segs[deleted - 1]; o < segs[deleted]; o++)
			if (m.base[o] == o)
				last_deleted_size += (int64_t)m.bsize[o];
	}
	tu_assert_msg(size_after + last_deleted_size > limit, "retention_bytes %" PRId64 ": %"
	              PRId64 " bytes left; the log was not over the limit before the last "
	              "deletion (%" PRId64 " bytes)", limit, size_after, last_deleted_size);

	model_check_read(&m, log, m.start - 1, 1 << 20, -1);
	model_check_all(&m, log);
	check_segments(&m, log, 2048);
	tu_assert_int_eq(log_tick(log, T0, &deleted, err, sizeof(err)), 0);
	tu_assert_int_eq(deleted, 0);
	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);
	for (i = 0; i < 5; i++)
		model_append(&m, log, &b, 3, 0);
	model_check_all(&m, log);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

static int count_empty_segments(const char *dir)
{
	int64_t segs[MAXSEGS];
	char path[PATH_MAX];
	int n = tu_list_segments(dir, segs, MAXSEGS), i, empty = 0;

	for (i = 0; i < n; i++) {
		tu_seg_path(path, sizeof(path), dir, segs[i], "log");
		empty += tu_file_size(path) == 0;
	}
	return empty;
}

/*
 * segment_ms: the timestamps are the wall clock's so that an engine aging a
 * segment by its records or by its creation time sees the same age.
 */
START_TEST(test_segment_ms_rolls)
{
	const int64_t hour = 3600 * 1000;
	int64_t now = tu_now_ms(), first;
	char err[256] = "", path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int deleted;

	cfg_plain(&cfg, 1 << 20, 4096);
	cfg.segment_ms = hour;
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);

	model_append_at(&m, log, &b, 2, now, 0);
	tu_assert_int_eq(log_tick(log, now + 1000, &deleted, err, sizeof(err)), 0);
	model_append_at(&m, log, &b, 2, now + 1000, 0);
	tu_assert_msg(log_segment_count(log) == 1, "a segment younger than segment_ms rolled: %d"
	              " segments", log_segment_count(log));

	/* an hour later the segment is rolled: the next batch starts a new one */
	tu_assert_int_eq(log_tick(log, now + hour + 5000, &deleted, err, sizeof(err)), 0);
	first = m.leo;
	model_append_at(&m, log, &b, 2, now + hour + 5000, 0);
	tu_assert_msg(log_segment_count(log) == 2, "after segment_ms: expected 2 segments, got %d",
	              log_segment_count(log));
	tu_seg_path(path, sizeof(path), g_dir, first, "log");
	tu_assert_msg(tu_file_exists(path), "%s not created by the time roll", path);

	/* idle ticks much later: at most one (empty) new segment, never a pile */
	tu_assert_int_eq(log_tick(log, now + 10 * hour, &deleted, err, sizeof(err)), 0);
	tu_assert_int_eq(log_tick(log, now + 20 * hour, &deleted, err, sizeof(err)), 0);
	tu_assert_int_eq(log_tick(log, now + 30 * hour, &deleted, err, sizeof(err)), 0);
	tu_assert_int_le(count_empty_segments(g_dir), 1);
	tu_assert_int_le(log_segment_count(log), 3);
	check_segments(&m, log, 0);
	model_append_at(&m, log, &b, 3, now + 30 * hour, 0);
	model_check_all(&m, log);
	check_segments(&m, log, 0);
	tu_assert_int_eq(count_empty_segments(g_dir), 0);
	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);
	model_check_read_every_offset(&m, log);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/* ---- truncation ------------------------------------------------------------ */

START_TEST(test_truncate_to_middle_and_batch_boundary)
{
	int64_t segs[MAXSEGS], before;
	char path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i, n;

	cfg_plain(&cfg, 1024, 1);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 20; i++)
		model_append(&m, log, &b, 5, i < 10 ? 0 : 1);   /* offsets 5i .. 5i+4 */
	tu_assert_int_gt(log_segment_count(log), 2);

	before = log_size_bytes(log);
	model_truncate(&m, log, m.leo);                    /* at the LEO: nothing */
	tu_assert_int_eq(log_size_bytes(log), before);
	model_truncate(&m, log, 57);                       /* inside [55, 59]: LEO 55 */
	tu_assert_int_eq(m.leo, 55);
	model_check_all(&m, log);
	model_check_read_every_offset(&m, log);
	model_check_ts(&m, log, T0 + 10 * 56);            /* gone: ENOENT, LEO */
	model_check_epochs(&m, log);
	check_segments(&m, log, 1024);

	model_append(&m, log, &b, 7, 1);
	tu_assert_int_eq(m.base[55], 55);
	model_check_all(&m, log);
	model_check_read_every_offset(&m, log);
	model_check_ts_all(&m, log);
	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);
	tu_assert_int_eq(log_end_offset(log), 62);

	model_truncate(&m, log, 40);                       /* at a batch boundary */
	tu_assert_int_eq(m.leo, 40);
	model_check_all(&m, log);
	model_check_epochs(&m, log);

	/* across segments: later segment files go */
	model_truncate(&m, log, 12);
	tu_assert_int_eq(m.leo, 10);
	n = tu_list_segments(g_dir, segs, MAXSEGS);
	for (i = 0; i < n; i++)
		tu_assert_msg(segs[i] <= m.leo, "segment %" PRId64 " survived truncation to %" PRId64,
		              segs[i], m.leo);
	check_segments(&m, log, 1024);
	model_check_all(&m, log);
	model_check_ts_all(&m, log);
	model_check_epochs(&m, log);
	for (i = 0; i < 15; i++)
		model_append(&m, log, &b, 1 + i % 5, 2);
	model_check_read_every_offset(&m, log);
	model_check_ts_all(&m, log);
	check_segments(&m, log, 1024);
	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);
	model_check_epochs(&m, log);
	log_close(log);
	check_index_files(g_dir, 1);
	tu_seg_path(path, sizeof(path), g_dir, 0, "log");
	tu_assert(tu_file_exists(path));

	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

START_TEST(test_truncate_below_start_restarts_log)
{
	char err[256] = "";
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i, deleted;
	int64_t start;

	cfg_plain(&cfg, 1024, 256);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 30; i++)
		model_append(&m, log, &b, 4, 0);
	cfg.retention_bytes = 2048;
	tu_assert_int_eq(log_set_config(log, &cfg, err, sizeof(err)), 0);
	tu_assert_int_eq(log_tick(log, T0, &deleted, err, sizeof(err)), 0);
	tu_assert_int_gt(deleted, 0);
	m.start = log_start_offset(log);
	tu_assert_int_gt(m.start, 10);
	start = m.start;
	cfg.retention_bytes = -1;
	tu_assert_int_eq(log_set_config(log, &cfg, err, sizeof(err)), 0);
	model_check_all(&m, log);

	/* truncating to the start offset removes everything, keeps the start */
	model_truncate(&m, log, start);
	tu_assert_int_eq(log_start_offset(log), start);
	tu_assert_int_eq(log_end_offset(log), start);
	tu_assert_int_eq(log_size_bytes(log), 0);
	model_check_read(&m, log, start, 1 << 20, -1);
	model_append(&m, log, &b, 3, 0);
	model_check_all(&m, log);

	/* below the start: the log restarts at that offset */
	model_truncate(&m, log, start - 7);
	tu_assert_int_eq(log_start_offset(log), start - 7);
	tu_assert_int_eq(log_end_offset(log), start - 7);
	tu_assert_int_eq(log_size_bytes(log), 0);
	model_check_read(&m, log, start - 8, 1 << 20, -1);
	model_check_read(&m, log, start - 7, 1 << 20, -1);
	model_append(&m, log, &b, 5, 0);
	model_append(&m, log, &b, 2, 0);
	tu_assert_int_eq(m.base[start - 7], start - 7);
	model_check_all(&m, log);
	check_segments(&m, log, 1024);
	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);
	model_check_read_every_offset(&m, log);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/* A flushed offset must never cover records written after a truncation. */
START_TEST(test_truncate_lowers_flushed_offset)
{
	char err[256] = "";
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i;

	cfg_plain(&cfg, 1 << 20, 4096);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 20; i++)
		model_append(&m, log, &b, 5, 0);
	tu_assert_int_eq(log_flush(log, -1, err, sizeof(err)), 0);
	tu_assert_int_eq(log_flushed_offset(log), 100);

	model_truncate(&m, log, 50);
	tu_assert_msg(log_flushed_offset(log) <= 50, "after truncation to 50 the flushed offset "
	              "is %" PRId64 ", past the LEO", log_flushed_offset(log));
	model_append(&m, log, &b, 30, 0);   /* 50..79, not flushed */
	tu_assert_msg(log_flushed_offset(log) <= 50, "records 50..79 were never flushed but "
	              "log_flushed_offset says %" PRId64, log_flushed_offset(log));
	tu_assert_int_eq(log_flush(log, 80, err, sizeof(err)), 0);
	tu_assert_int_ge(log_flushed_offset(log), 80);
	tu_assert_int_le(log_flushed_offset(log), log_end_offset(log));

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/* ---- reopen and recovery --------------------------------------------------- */

START_TEST(test_reopen_keeps_everything)
{
	char err[256] = "";
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i, deleted;
	int64_t size, segs;

	cfg_plain(&cfg, 1500, 200);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 80; i++)
		model_append(&m, log, &b, 1 + i % 6, i / 20);
	cfg.retention_bytes = 6000;
	tu_assert_int_eq(log_set_config(log, &cfg, err, sizeof(err)), 0);
	tu_assert_int_eq(log_tick(log, T0, &deleted, err, sizeof(err)), 0);
	m.start = log_start_offset(log);
	tu_assert_int_gt(m.start, 0);
	size = log_size_bytes(log);
	segs = log_segment_count(log);

	for (i = 0; i < 3; i++) {
		log = reopen(log, g_dir, &cfg);
		model_check_all(&m, log);
		tu_assert_int_eq(log_size_bytes(log), size);
		tu_assert_int_eq(log_segment_count(log), segs);
		tu_assert_int_eq(log_latest_epoch(log), 3);
		model_check_ts_all(&m, log);
	}
	model_check_read_every_offset(&m, log);
	check_segments(&m, log, 1500);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/* A closed log of many segments, for the recovery tests. */
static void build_closed_log(model_t *m, log_config_t *cfg, batch_builder_t *b, int nbatches)
{
	log_t *log;
	int i;

	cfg_plain(cfg, 2048, 100);
	log = open_log(g_dir, cfg);
	model_init(m, g_dir);
	for (i = 0; i < nbatches; i++)
		model_append(m, log, b, 1 + (i * 5) % 7, 0);
	tu_assert_int_ge(log_segment_count(log), 4);
	log_close(log);
}

static int64_t last_segment(const char *dir, char *path, size_t len)
{
	int64_t segs[MAXSEGS];
	int n = tu_list_segments(dir, segs, MAXSEGS);

	tu_assert_int_gt(n, 0);
	tu_seg_path(path, len, dir, segs[n - 1], "log");
	return segs[n - 1];
}

static void remove_recovery_checkpoint(void)
{
	char path[PATH_MAX];

	tu_path(path, sizeof(path), g_dir, "recovery-point-offset-checkpoint");
	tu_assert_msg(tu_file_exists(path), "a closed log has no %s (docs/FORMAT.md)", path);
	tu_assert_int_eq(unlink(path), 0);
}

/*
 * After recovery the log holds exactly what the model keeps, reads and
 * timestamp lookups are right, and it takes appends, flushes and survives
 * another close and open.
 */
static void check_after_recovery(model_t *m, const log_config_t *cfg, batch_builder_t *b)
{
	char err[256] = "";
	log_t *log = open_log(g_dir, cfg);
	int i;

	model_check_all(m, log);
	check_segments(m, log, 0);
	model_check_ts_all(m, log);
	model_check_epochs(m, log);

	for (i = 0; i < 6; i++)
		model_append(m, log, b, 1 + i, m->nep ? m->ep[m->nep - 1] : 0);
	tu_assert_int_eq(log_flush(log, -1, err, sizeof(err)), 0);
	tu_assert_int_eq(log_flushed_offset(log), m->leo);
	model_check_read_every_offset(m, log);
	log = reopen(log, g_dir, cfg);
	model_check_all(m, log);
	check_segments(m, log, 0);
	model_check_ts_all(m, log);
	log_close(log);
	check_index_files(g_dir, 100);
}

/* Cut inside the last batch at several depths: LEO = its base offset. */
START_TEST(test_recovery_truncates_torn_tail)
{
	char path[PATH_MAX];
	tu_batch_pos_t *bp;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	int nb;
	int64_t cut, last_pos;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 45);
	last_segment(g_dir, path, sizeof(path));
	nb = tu_scan_segment(path, &bp);
	tu_assert_int_ge(nb, 2);
	last_pos = bp[nb - 1].pos;
	switch (_i) {
	case 0: cut = last_pos + 1; break;
	case 1: cut = last_pos + BATCH_LOG_OVERHEAD; break;
	case 2: cut = last_pos + BATCH_HEADER_SIZE; break;
	default: cut = last_pos + (int64_t)bp[nb - 1].size - 1; break;
	}
	tu_truncate_file(path, cut);
	model_cut(&m, bp[nb - 1].base);
	{
		log_t *log = open_log(g_dir, &cfg);

		model_check_bounds(&m, log);
		tu_assert_msg(tu_file_size(path) == last_pos, "torn tail not cut: %s is %" PRId64
		              " bytes, the last whole batch ends at %" PRId64, path,
		              tu_file_size(path), last_pos);
		log_close(log);
	}
	check_after_recovery(&m, &cfg, &b);
	free(bp);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

START_TEST(test_recovery_of_emptied_last_segment)
{
	char path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	int64_t base;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 45);
	base = last_segment(g_dir, path, sizeof(path));
	tu_truncate_file(path, 0);
	model_cut(&m, base);
	check_after_recovery(&m, &cfg, &b);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

/* Garbage of several kinds after the last batch is cut; nothing is lost. */
START_TEST(test_recovery_cuts_garbage_after_last_batch)
{
	char path[PATH_MAX];
	uint8_t junk[4096];
	tu_batch_pos_t *bp;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	size_t n = 0, len;
	int64_t size;
	uint64_t seed = 7;
	int nb;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 45);
	last_segment(g_dir, path, sizeof(path));
	size = tu_file_size(path);
	nb = tu_scan_segment(path, &bp);
	switch (_i) {
	case 0:   /* zeros, as a crash after extending the file leaves them */
		n = 100;
		memset(junk, 0, n);
		break;
	case 1:   /* random bytes */
		for (n = 0; n < 300; n++)
			junk[n] = (uint8_t)(tu_rand(&seed) >> 56);
		break;
	case 2:   /* a few bytes: not even a batch header */
		n = 5;
		memset(junk, 0x41, n);
		break;
	case 3: { /* a valid copy of the last batch: offsets not contiguous */
		uint8_t *all = tu_read_file(path, &len);

		n = bp[nb - 1].size;
		memcpy(junk, all + bp[nb - 1].pos, n);
		free(all);
		break;
	}
	default: { /* the last batch again, with the next offsets but a bad CRC */
		uint8_t *all = tu_read_file(path, &len);

		n = bp[nb - 1].size;
		memcpy(junk, all + bp[nb - 1].pos, n);
		tu_put_be(junk, (uint64_t)m.leo, 8);
		junk[n - 1] ^= 0x01;
		free(all);
		break;
	}
	}
	tu_append_bytes(path, junk, n);
	{
		log_t *log = open_log(g_dir, &cfg);

		model_check_bounds(&m, log);
		tu_assert_msg(tu_file_size(path) == size, "garbage not cut: %s is %" PRId64 " bytes, "
		              "expected %" PRId64, path, tu_file_size(path), size);
		log_close(log);
	}
	check_after_recovery(&m, &cfg, &b);
	free(bp);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

START_TEST(test_recovery_drops_last_batch_with_flipped_byte)
{
	char path[PATH_MAX];
	tu_batch_pos_t *bp;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	int nb;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 45);
	last_segment(g_dir, path, sizeof(path));
	nb = tu_scan_segment(path, &bp);
	/* _i 0: a record byte; 1: max_timestamp in the header (both under the CRC) */
	tu_flip_byte(path, bp[nb - 1].pos + (_i == 0 ? BATCH_HEADER_SIZE + 2 : 40));
	model_cut(&m, bp[nb - 1].base);
	check_after_recovery(&m, &cfg, &b);
	free(bp);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

START_TEST(test_recovery_truncates_from_corrupt_earlier_batch_in_last_segment)
{
	char path[PATH_MAX];
	tu_batch_pos_t *bp;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	int nb;
	log_t *log;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 45);
	/* make sure the last segment holds several batches */
	log = open_log(g_dir, &cfg);
	for (;;) {
		last_segment(g_dir, path, sizeof(path));
		nb = tu_scan_segment(path, &bp);
		free(bp);
		if (nb >= 5)
			break;
		model_append(&m, log, &b, 1, 0);
	}
	log_close(log);
	nb = tu_scan_segment(path, &bp);
	tu_assert_int_ge(nb, 5);
	tu_flip_byte(path, bp[1].pos + (int64_t)bp[1].size - 1);
	model_cut(&m, bp[1].base);
	check_after_recovery(&m, &cfg, &b);
	free(bp);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

/*
 * A batch below the recovery checkpoint whose header claims more offsets
 * than it holds, with a right CRC (fuzz_recovery's finding, docs/SECURITY.md):
 * the open that trusts the segment reads only headers, and used to believe
 * the jump there and cut at the next open, losing what was appended in
 * between. Now the header-only scan holds last_offset_delta to
 * record_count - 1 as batch_validate does, so the first open already cuts
 * the log at that batch, and a reopen keeps what came after the cut.
 */
START_TEST(test_recovery_cuts_at_forged_offset_delta_below_checkpoint)
{
	char path[PATH_MAX];
	int64_t segs[MAXSEGS];
	tu_batch_pos_t *bp;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	uint8_t *data;
	size_t len;
	int n, nb;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 45);
	n = tu_list_segments(g_dir, segs, MAXSEGS);
	tu_assert_int_ge(n, 4);
	tu_seg_path(path, sizeof(path), g_dir, segs[1], "log");   /* trusted: below the checkpoint */
	nb = tu_scan_segment(path, &bp);
	tu_assert_int_ge(nb, 2);
	data = tu_read_file(path, &len);
	/* the segment's last batch: the one the open's tail scan reads */
	tu_put_be(data + bp[nb - 1].pos + 23, 16 * 1024 * 1024, 4);   /* last_offset_delta */
	tu_batch_reseal(data + bp[nb - 1].pos);
	tu_truncate_file(path, 0);
	tu_append_bytes(path, data, len);
	free(data);
	model_cut(&m, bp[nb - 1].base);
	check_after_recovery(&m, &cfg, &b);
	free(bp);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

/* Without the checkpoint every segment is scanned: damage in an old one cuts the log there. */
START_TEST(test_recovery_without_checkpoint_scans_every_segment)
{
	int64_t segs[MAXSEGS];
	char path[PATH_MAX];
	tu_batch_pos_t *bp;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	int nb, n, i;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 60);
	n = tu_list_segments(g_dir, segs, MAXSEGS);
	tu_assert_int_ge(n, 4);
	tu_seg_path(path, sizeof(path), g_dir, segs[1], "log");
	nb = tu_scan_segment(path, &bp);
	tu_assert_int_ge(nb, 3);
	tu_flip_byte(path, bp[2].pos + BATCH_HEADER_SIZE + 1);
	remove_recovery_checkpoint();
	model_cut(&m, bp[2].base);
	{
		log_t *log = open_log(g_dir, &cfg);

		model_check_bounds(&m, log);
		tu_assert_int_eq(log_segment_count(log), 2);
		log_close(log);
	}
	for (i = 2; i < n; i++) {
		tu_seg_path(path, sizeof(path), g_dir, segs[i], "log");
		tu_assert_msg(!tu_file_exists(path), "%s after the corrupt batch was not removed", path);
	}
	check_after_recovery(&m, &cfg, &b);
	free(bp);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

START_TEST(test_recovery_without_checkpoint_keeps_intact_log)
{
	batch_builder_t b;
	log_config_t cfg;
	model_t m;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 60);
	remove_recovery_checkpoint();
	check_after_recovery(&m, &cfg, &b);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

START_TEST(test_recovery_rebuilds_missing_indexes)
{
	int64_t segs[MAXSEGS];
	char path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	int n, i;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 60);
	n = tu_list_segments(g_dir, segs, MAXSEGS);
	for (i = 0; i < n; i++) {
		/* _i 0: both indexes, 1: offset index only, 2: time index only */
		tu_seg_path(path, sizeof(path), g_dir, segs[i], "index");
		if (_i != 2)
			tu_assert_int_eq(unlink(path), 0);
		tu_seg_path(path, sizeof(path), g_dir, segs[i], "timeindex");
		if (_i != 1)
			tu_assert_int_eq(unlink(path), 0);
	}
	check_after_recovery(&m, &cfg, &b);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

/*
 * Indexes that do not match their segment are rebuilt (log.h, FORMAT.md):
 * _i 0: random bytes over every index (same sizes); 1: every index cut to an
 * odd size; 2: random bytes over the last segment's indexes only; 3: every
 * index cut to odd size with the recovery checkpoint gone.
 */
START_TEST(test_recovery_rebuilds_corrupt_indexes)
{
	static const char *const exts[] = {"index", "timeindex"};
	int64_t segs[MAXSEGS];
	char path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	int n, i, e;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 60);
	n = tu_list_segments(g_dir, segs, MAXSEGS);
	for (i = (_i == 2 ? n - 1 : 0); i < n; i++)
		for (e = 0; e < 2; e++) {
			int64_t size;

			tu_seg_path(path, sizeof(path), g_dir, segs[i], exts[e]);
			size = tu_file_size(path);
			tu_assert_msg(size > 0, "%s: %" PRId64 " bytes after close", path, size);
			if (_i == 0 || _i == 2)
				tu_scribble_file(path, (uint64_t)(i * 2 + e + 1));
			else
				tu_truncate_file(path, size > 8 ? size - 3 : size - 1);
		}
	if (_i == 3)
		remove_recovery_checkpoint();
	check_after_recovery(&m, &cfg, &b);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

/* A segment file gone from the middle: offsets no longer run on, the log ends before the gap. */
START_TEST(test_recovery_cuts_at_missing_segment)
{
	static const char *const exts[] = {"log", "index", "timeindex"};
	int64_t segs[MAXSEGS];
	char path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	int n, e;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 60);
	n = tu_list_segments(g_dir, segs, MAXSEGS);
	tu_assert_int_ge(n, 4);
	for (e = 0; e < 3; e++) {
		tu_seg_path(path, sizeof(path), g_dir, segs[2], exts[e]);
		tu_assert_int_eq(unlink(path), 0);
	}
	if (_i == 1)
		remove_recovery_checkpoint();
	model_cut(&m, segs[2]);
	check_after_recovery(&m, &cfg, &b);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

/* A crash while replacing a checkpoint leaves its temporary file: open ignores it. */
START_TEST(test_recovery_ignores_leftover_files)
{
	static const char *const names[] = {
		"recovery-point-offset-checkpoint.tmp", "leader-epoch-checkpoint.tmp",
		"recovery-point-offset-checkpoint.tmp.1234", "notes.txt", "123.log.bak"};
	char path[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	size_t i;
	int fd;

	batch_builder_init(&b);
	build_closed_log(&m, &cfg, &b, 30);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		tu_path(path, sizeof(path), g_dir, names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		tu_assert_int_ge(fd, 0);
		tu_assert_int_eq(write(fd, "0\n9x", 4), 4);   /* half written */
		close(fd);
	}
	check_after_recovery(&m, &cfg, &b);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

/* Epoch entries of batches lost to recovery are dropped as on truncation. */
START_TEST(test_recovery_drops_epochs_of_cut_batches)
{
	char path[PATH_MAX];
	tu_batch_pos_t *bp;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int nb, i;

	batch_builder_init(&b);
	cfg_plain(&cfg, 2048, 100);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	for (i = 0; i < 30; i++)
		model_append(&m, log, &b, 3, 1);
	model_append(&m, log, &b, 3, 4);
	model_check_epochs(&m, log);
	log_close(log);

	last_segment(g_dir, path, sizeof(path));
	nb = tu_scan_segment(path, &bp);
	tu_assert_int_eq(bp[nb - 1].epoch, 4);
	tu_truncate_file(path, bp[nb - 1].pos + 20);
	model_cut(&m, bp[nb - 1].base);
	log = open_log(g_dir, &cfg);
	model_check_bounds(&m, log);
	model_check_epochs(&m, log);
	log_close(log);
	check_after_recovery(&m, &cfg, &b);
	free(bp);
	batch_builder_free(&b);
	model_free(&m);
}
END_TEST

/*
 * A process killed now leaves on disk what a copy of its directory holds
 * now. Opening that copy must give back every record the model holds:
 * each append reached the page cache with write(2), so a process crash
 * (unlike a power cut) loses nothing, whatever the checkpoints and the
 * lazily written indexes say.
 */
static void check_crash_copy(const model_t *m, const log_config_t *cfg, int n)
{
	char dir[PATH_MAX], name[32];
	model_t c = *m;
	log_t *log;

	snprintf(name, sizeof(name), "crash-%d", n);
	tu_path(dir, sizeof(dir), g_dir, name);
	tu_rm_rf(dir);
	tu_copy_dir(m->dir, dir);
	c.dir = dir;
	log = open_log(dir, cfg);
	model_check_all(&c, log);
	check_segments(&c, log, 0);
	{
		int64_t o, step = (c.leo - c.start) / 150 + 1;

		for (o = c.start; o < c.leo; o += step) {
			model_check_read(&c, log, o, 1, -1);
			model_check_read(&c, log, o, 1 << 20, -1);
			model_check_ts(&c, log, c.ts[o]);
		}
		model_check_read(&c, log, c.leo, 1 << 20, -1);
		model_check_ts(&c, log, T0 + 10 * c.leo + 1000);
	}
	model_check_epochs(&c, log);
	log_close(log);
	tu_rm_rf(dir);
}

START_TEST(test_recovery_after_crash_keeps_every_written_record)
{
	char err[256] = "", dir[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i, deleted;

	tu_path(dir, sizeof(dir), g_dir, "log");
	cfg_plain(&cfg, 2048, 100);
	log = open_log(dir, &cfg);
	model_init(&m, dir);
	batch_builder_init(&b);
	for (i = 0; i < 60; i++)
		model_append(&m, log, &b, 1 + i % 6, 0);
	check_crash_copy(&m, &cfg, 1);   /* nothing flushed, no checkpoint yet */

	ck_assert_int_eq(log_flush(log, -1, err, sizeof(err)), 0);
	ck_assert_int_eq(log_tick(log, T0, &deleted, err, sizeof(err)), 0);
	for (i = 0; i < 10; i++)
		model_append(&m, log, &b, 2, 0);
	check_crash_copy(&m, &cfg, 2);   /* flushed and checkpointed, then more */

	/* truncated below the checkpoint, rewritten with other records */
	model_truncate(&m, log, m.leo / 2 + 1);
	for (i = 0; i < 30; i++)
		model_append(&m, log, &b, 1 + i % 4, 1);
	check_crash_copy(&m, &cfg, 3);

	ck_assert_int_eq(log_tick(log, T0, &deleted, err, sizeof(err)), 0);
	model_truncate(&m, log, 7);
	for (i = 0; i < 40; i++)
		model_append(&m, log, &b, 3, 2);
	check_crash_copy(&m, &cfg, 4);
	ck_assert_int_eq(log_flush(log, -1, err, sizeof(err)), 0);
	check_crash_copy(&m, &cfg, 5);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/*
 * A segment whose .timeindex is lost must still know its timestamps: its
 * first batch holds the newest record (T0+50000), the later batches older
 * ones, index_interval_bytes 1. Builds the log and deletes segment 0's
 * .timeindex.
 */
static void build_log_without_timeindex(model_t *m, log_config_t *cfg, batch_builder_t *b)
{
	char path[PATH_MAX];
	log_t *log;
	int i;

	cfg_plain(cfg, 1024, 1);
	log = open_log(g_dir, cfg);
	model_init(m, g_dir);
	model_append_at(m, log, b, 3, T0 + 50000, 0);
	for (i = 0; log_segment_count(log) < 3; i++)
		model_append_at(m, log, b, 3, T0 + i, 0);
	log_close(log);
	tu_seg_path(path, sizeof(path), g_dir, 0, "timeindex");
	ck_assert_int_eq(unlink(path), 0);
}

START_TEST(test_recovery_missing_timeindex_keeps_timestamp_lookup)
{
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;

	batch_builder_init(&b);
	build_log_without_timeindex(&m, &cfg, &b);
	log = open_log(g_dir, &cfg);
	model_check_ts(&m, log, T0 + 49999);   /* offset 0 */
	model_check_ts_all(&m, log);
	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/* Retention by time must not delete segment 0: it holds a record newer than the period. */
START_TEST(test_recovery_missing_timeindex_keeps_retention_right)
{
	char err[256] = "";
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int deleted = -1;

	batch_builder_init(&b);
	build_log_without_timeindex(&m, &cfg, &b);
	cfg.retention_ms = 10000;
	log = open_log(g_dir, &cfg);
	ck_assert_int_eq(log_tick(log, T0 + 30000, &deleted, err, sizeof(err)), 0);
	ck_assert_msg(deleted == 0 && log_start_offset(log) == 0, "segment 0 holds a record at "
	              "T0+50000, retention 10 s, now T0+30000: expected nothing deleted, got %d "
	              "segments deleted, log start %" PRId64, deleted, log_start_offset(log));
	model_check_all(&m, log);
	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/* ---- leader epochs --------------------------------------------------------- */

static void expect_epoch_end(log_t *log, int32_t ask, int32_t want_ep, int64_t want_end)
{
	int32_t ep = -9;
	int64_t end = -9;

	log_epoch_end_offset(log, ask, &ep, &end);
	tu_assert_msg(ep == want_ep && end == want_end, "log_epoch_end_offset(%d): expected "
	              "(%d, %" PRId64 "), got (%d, %" PRId64 ")", (int)ask, (int)want_ep, want_end,
	              (int)ep, end);
}

START_TEST(test_leader_epochs)
{
	static const int32_t epochs[] = {0, 0, 1, 1, 3};
	char path[PATH_MAX], dir2[PATH_MAX];
	uint8_t *text;
	size_t len;
	long v[16];
	int nv = 0;
	char *p, *endp;
	batch_builder_t b;
	log_config_t cfg;
	model_t m, m2;
	log_t *log;
	int i;

	cfg_plain(&cfg, 1 << 20, 4096);
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 5; i++)
		model_append(&m, log, &b, 4, epochs[i]);   /* epoch 0 at 0, 1 at 8, 3 at 16 */
	tu_assert_int_eq(log_latest_epoch(log), 3);
	expect_epoch_end(log, -1, -1, -1);
	expect_epoch_end(log, 0, 0, 8);
	expect_epoch_end(log, 1, 1, 16);
	expect_epoch_end(log, 2, 1, 16);
	expect_epoch_end(log, 3, 3, 20);
	expect_epoch_end(log, 4, 3, 20);
	model_check_epochs(&m, log);
	model_check_all(&m, log);   /* each batch carries its epoch */
	log_close(log);

	/* leader-epoch-checkpoint: "0", count, then "<epoch> <start>" lines */
	tu_path(path, sizeof(path), g_dir, "leader-epoch-checkpoint");
	tu_assert_msg(tu_file_exists(path), "%s missing after close", path);
	text = tu_read_file(path, &len);
	text[len] = '\0';
	for (p = (char *)text; nv < 16; p = endp) {
		long x = strtol(p, &endp, 10);

		if (endp == p)
			break;
		v[nv++] = x;
	}
	tu_assert_msg(nv == 8 && v[0] == 0 && v[1] == 3 && v[2] == 0 && v[3] == 0 && v[4] == 1 &&
	              v[5] == 8 && v[6] == 3 && v[7] == 16,
	              "leader-epoch-checkpoint expected \"0 3 0 0 1 8 3 16\", got \"%s\"", text);
	free(text);

	log = open_log(g_dir, &cfg);
	model_check_epochs(&m, log);
	expect_epoch_end(log, 2, 1, 16);

	model_truncate(&m, log, 17);   /* LEO 16: epoch 3 gone */
	tu_assert_int_eq(log_latest_epoch(log), 1);
	expect_epoch_end(log, 1, 1, 16);
	expect_epoch_end(log, 3, 1, 16);
	model_truncate(&m, log, 9);    /* LEO 8: epoch 1 gone */
	tu_assert_int_eq(log_latest_epoch(log), 0);
	expect_epoch_end(log, 0, 0, 8);
	expect_epoch_end(log, 5, 0, 8);
	model_append(&m, log, &b, 2, 5);
	expect_epoch_end(log, 4, 0, 8);
	expect_epoch_end(log, 5, 5, 10);
	model_check_epochs(&m, log);
	log = reopen(log, g_dir, &cfg);
	model_check_epochs(&m, log);
	model_check_all(&m, log);
	log_close(log);

	/* a log whose first epoch is 2 knows nothing of epoch 1: epoch 1 ends
	 * where epoch 2 starts (Kafka's endOffsetFor), no epoch -1 at all */
	tu_path(dir2, sizeof(dir2), g_dir, "second");
	log = open_log(dir2, &cfg);
	model_init(&m2, dir2);
	model_append(&m2, log, &b, 3, 2);
	expect_epoch_end(log, 1, 1, 0);
	expect_epoch_end(log, -1, -1, -1);
	expect_epoch_end(log, 2, 2, 3);
	model_check_epochs(&m2, log);
	log_close(log);

	batch_builder_free(&b);
	model_free(&m);
	model_free(&m2);
}
END_TEST

/* ---- flushing -------------------------------------------------------------- */

#define FLUSH_THREADS 4
#define FLUSH_ROUNDS  25

typedef struct flush_worker {
	log_t *log;
	int    id;
	int    failed;
	char   why[512];
} flush_worker_t;

static atomic_int g_appenders_done;

static void *flush_append_thread(void *arg)
{
	flush_worker_t *w = arg;
	batch_builder_t b;
	int i;

	batch_builder_init(&b);
	for (i = 0; i < FLUSH_ROUNDS && !w->failed; i++) {
		char v0[32], v1[32], v2[32], err[128] = "";
		const char *vals[3] = {v0, v1, v2};
		int64_t ts[3] = {T0 + i, T0 + i, T0 + i};
		log_append_info_t info;
		int rc;

		snprintf(v0, sizeof(v0), "t%d-%03d-0", w->id, i);
		snprintf(v1, sizeof(v1), "t%d-%03d-1", w->id, i);
		snprintf(v2, sizeof(v2), "t%d-%03d-2", w->id, i);
		batch_builder_reset(&b);
		tu_batch_values(&b, 3, ts, vals);
		rc = log_append(w->log, b.buf, b.len, 0, &info, err, sizeof(err));
		if (rc != 0 || info.last_offset != info.first_offset + 2) {
			w->failed = 1;
			snprintf(w->why, sizeof(w->why), "append: rc %d (%s), [%" PRId64 ", %" PRId64 "]",
			         rc, err, info.first_offset, info.last_offset);
			break;
		}
		rc = log_flush(w->log, info.last_offset + 1, err, sizeof(err));
		if (rc != 0 || log_flushed_offset(w->log) < info.last_offset + 1) {
			w->failed = 1;
			snprintf(w->why, sizeof(w->why), "log_flush(%" PRId64 "): rc %d (%s), flushed "
			         "offset %" PRId64, info.last_offset + 1, rc, err,
			         log_flushed_offset(w->log));
		}
		if (i % 5 == 4 && log_flush(w->log, -1, err, sizeof(err)) != 0) {
			w->failed = 1;
			snprintf(w->why, sizeof(w->why), "log_flush(-1) failed: %s", err);
		}
	}
	batch_builder_free(&b);
	atomic_fetch_add(&g_appenders_done, 1);
	return NULL;
}

/* Reads while appends run: every slice is whole valid batches holding the offset. */
static void *flush_read_thread(void *arg)
{
	flush_worker_t *w = arg;
	uint64_t seed = 99;

	while (atomic_load(&g_appenders_done) < FLUSH_THREADS && !w->failed) {
		int64_t leo = log_end_offset(w->log), off = tu_rand_range(&seed, 0, leo);
		log_slice_t s;
		char err[128] = "";
		int rc = log_read(w->log, off, 4096, -1, &s, err, sizeof(err));
		uint8_t *buf;
		batch_header_t h;

		if (rc != 0) {
			w->failed = 1;
			snprintf(w->why, sizeof(w->why), "concurrent log_read at %" PRId64 " (LEO %" PRId64
			         "): rc %d (%s)", off, leo, rc, err);
			break;
		}
		if (s.len == 0) {
			log_slice_release(&s);
			continue;
		}
		buf = malloc(s.len);
		if (!buf || pread(s.fd, buf, s.len, s.pos) != (ssize_t)s.len ||
		    batch_validate(buf, s.len, 0, &h, err, sizeof(err)) != 0 ||
		    h.base_offset > off || batch_last_offset(&h) < off) {
			w->failed = 1;
			snprintf(w->why, sizeof(w->why), "concurrent log_read at %" PRId64 ": slice does "
			         "not start with a valid batch holding it (%s)", off, err);
		}
		free(buf);
		log_slice_release(&s);
	}
	return NULL;
}

START_TEST(test_flush_group_commit)
{
	flush_worker_t w[FLUSH_THREADS + 1];
	pthread_t th[FLUSH_THREADS + 1];
	char err[256] = "";
	int seen[FLUSH_THREADS][FLUSH_ROUNDS * 3];
	int64_t last_off[FLUSH_THREADS];
	log_config_t cfg;
	tu_recs_t r;
	log_t *log;
	size_t i;
	int t;

	cfg_plain(&cfg, 4096, 512);
	log = open_log(g_dir, &cfg);
	atomic_store(&g_appenders_done, 0);
	memset(w, 0, sizeof(w));
	for (t = 0; t <= FLUSH_THREADS; t++) {
		w[t].log = log;
		w[t].id = t;
		tu_assert_int_eq(pthread_create(&th[t], NULL, t < FLUSH_THREADS ?
		                                flush_append_thread : flush_read_thread, &w[t]), 0);
	}
	for (t = 0; t <= FLUSH_THREADS; t++)
		pthread_join(th[t], NULL);
	for (t = 0; t <= FLUSH_THREADS; t++)
		tu_assert_msg(!w[t].failed, "thread %d: %s", t, w[t].why);

	tu_assert_int_eq(log_end_offset(log), FLUSH_THREADS * FLUSH_ROUNDS * 3);
	tu_assert_int_eq(log_flush(log, -1, err, sizeof(err)), 0);
	tu_assert_int_eq(log_flushed_offset(log), log_end_offset(log));

	/* every record exactly once, each thread's in its own order */
	memset(seen, 0, sizeof(seen));
	for (t = 0; t < FLUSH_THREADS; t++)
		last_off[t] = -1;
	tu_read_all(log, &r);
	tu_assert_int_eq(r.n, FLUSH_THREADS * FLUSH_ROUNDS * 3);
	for (i = 0; i < r.n; i++) {
		int th_id, round, k;
		char v[64];

		tu_assert_int_ge(r.v[i].value_len, 0);
		tu_assert_int_lt(r.v[i].value_len, (int)sizeof(v));
		memcpy(v, r.v[i].value, (size_t)r.v[i].value_len);
		v[r.v[i].value_len] = '\0';
		tu_assert_msg(sscanf(v, "t%d-%d-%d", &th_id, &round, &k) == 3, "value '%s'", v);
		tu_assert(th_id >= 0 && th_id < FLUSH_THREADS && round >= 0 && round < FLUSH_ROUNDS);
		tu_assert_msg(seen[th_id][round * 3 + k]++ == 0, "value %s read twice", v);
		tu_assert_msg(r.v[i].offset > last_off[th_id], "thread %d's records out of order", th_id);
		last_off[th_id] = r.v[i].offset;
	}
	tu_recs_free(&r);
	log_close(log);
}
END_TEST

/*
 * Readers racing retention and truncation: every read answers 0 with whole
 * valid batches holding the offset, or STRAND_ERANGE when the offset fell
 * below the start or above the LEO meanwhile; a slice's fd stays readable
 * after its segment is deleted (log.h). A truncation may cut bytes a slice
 * names before they are read (log.h promises nothing there), so a read that
 * overlapped one is not judged.
 */
typedef struct race {
	log_t     *log;
	atomic_int stop;
	atomic_int truncating;   /* odd while a truncation runs; bumped around each */
	atomic_int  failed;
	atomic_long reads;
	char        why[512];    /* written by the first thread to fail */
} race_t;

static void race_fail(race_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void race_fail(race_t *r, const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&r->failed, 1) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void *race_read_thread(void *arg)
{
	race_t *r = arg;
	uint64_t seed = 1234;

	while (!atomic_load(&r->stop) && !atomic_load(&r->failed)) {
		int gen = atomic_load(&r->truncating);
		int64_t start = log_start_offset(r->log), leo = log_end_offset(r->log);
		int64_t off = tu_rand_range(&seed, start, leo > start ? leo : start);
		log_slice_t s;
		char err[128] = "";
		int rc = log_read(r->log, off, 1 + (size_t)(tu_rand(&seed) % 8192), -1, &s, err,
		                  sizeof(err));
		uint8_t *buf;
		size_t pos = 0;

		atomic_fetch_add(&r->reads, 1);
		if (rc == STRAND_ERANGE)
			continue;
		if (rc != 0) {
			race_fail(r, "log_read at %" PRId64 ": rc %d (%s)", off, rc, err);
			break;
		}
		if (s.len == 0) {
			log_slice_release(&s);
			continue;
		}
		buf = malloc(s.len);
		if (buf == NULL || pread(s.fd, buf, s.len, s.pos) != (ssize_t)s.len) {
			if (gen % 2 == 0 && gen == atomic_load(&r->truncating))
				race_fail(r, "pread of a slice at %" PRId64 " failed", off);
			pos = s.len;   /* cut under us by a truncation: nothing to judge */
		}
		while (pos < s.len) {
			batch_header_t h;

			if (batch_validate(buf + pos, s.len - pos, 0, &h, err, sizeof(err)) != 0 ||
			    (pos == 0 && (h.base_offset > off || batch_last_offset(&h) < off))) {
				race_fail(r, "slice for %" PRId64 " holds a bad batch at %zu (%s)", off,
				          pos, err);
				break;
			}
			pos += batch_total_size(&h);
		}
		free(buf);
		log_slice_release(&s);
	}
	return NULL;
}

START_TEST(test_reads_race_retention_and_truncation)
{
	char err[256] = "";
	pthread_t th[2];
	race_t r;
	batch_builder_t b;
	log_config_t cfg;
	model_t m;
	log_t *log;
	int i, t, deleted;

	cfg_plain(&cfg, 1024, 64);
	cfg.retention_bytes = 8192;
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	for (i = 0; i < 20; i++)
		model_append(&m, log, &b, 3, 0);
	memset(&r, 0, sizeof(r));
	r.log = log;
	atomic_store(&r.stop, 0);
	atomic_store(&r.truncating, 0);
	for (t = 0; t < 2; t++)
		tu_assert_int_eq(pthread_create(&th[t], NULL, race_read_thread, &r), 0);
	for (i = 0; i < 600 && !atomic_load(&r.failed); i++) {
		model_append(&m, log, &b, 1 + i % 5, 0);
		if (i % 7 == 0) {
			tu_assert_int_eq(log_tick(log, T0, &deleted, err, sizeof(err)), 0);
			m.start = log_start_offset(log);
		}
		if (i % 50 == 49) {
			atomic_fetch_add(&r.truncating, 1);
			model_truncate(&m, log, m.leo - 4);
			atomic_fetch_add(&r.truncating, 1);
		}
	}
	atomic_store(&r.stop, 1);
	for (t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	tu_assert_msg(!atomic_load(&r.failed), "%s", r.why);
	tu_assert_int_gt(atomic_load(&r.reads), 100);
	tu_assert_int_gt(m.start, 0);
	model_check_all(&m, log);
	check_segments(&m, log, 1024);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

START_TEST(test_flush_by_messages_and_ms)
{
	char err[256] = "", dir2[PATH_MAX];
	batch_builder_t b;
	log_config_t cfg;
	model_t m, m2;
	log_t *log;
	int i;

	batch_builder_init(&b);
	cfg_plain(&cfg, 1 << 20, 4096);
	cfg.flush_messages = 10;
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	for (i = 0; i < 10; i++)
		model_append(&m, log, &b, 1, 0);
	tu_assert_int_eq(log_tick(log, tu_now_ms(), NULL, err, sizeof(err)), 0);
	tu_assert_msg(log_flushed_offset(log) == 10, "flush_messages 10: 10 records appended, "
	              "flushed offset %" PRId64, log_flushed_offset(log));
	log_close(log);

	tu_path(dir2, sizeof(dir2), g_dir, "by-ms");
	cfg_plain(&cfg, 1 << 20, 4096);
	cfg.flush_ms = 1000;
	log = open_log(dir2, &cfg);
	model_init(&m2, dir2);
	for (i = 0; i < 5; i++)
		model_append(&m2, log, &b, 2, 0);
	tu_assert_int_eq(log_tick(log, tu_now_ms() + 3600 * 1000, NULL, err, sizeof(err)), 0);
	tu_assert_msg(log_flushed_offset(log) == 10, "flush_ms 1000: an hour later the flushed "
	              "offset is %" PRId64 ", LEO 10", log_flushed_offset(log));
	model_check_all(&m2, log);
	log_close(log);

	batch_builder_free(&b);
	model_free(&m);
	model_free(&m2);
}
END_TEST

/* ---- rejected appends ------------------------------------------------------ */

/* Append buf; it must fail with want (0 = any error) and change nothing. */
static void expect_append_rejected(const model_t *m, log_t *log, uint8_t *buf, size_t len,
                                   int want, const char *what)
{
	char err[256] = "", path[PATH_MAX];
	log_append_info_t info;
	int64_t size = log_size_bytes(log), fsize;
	int rc;

	tu_seg_path(path, sizeof(path), m->dir, 0, "log");
	fsize = tu_file_size(path);
	rc = log_append(log, buf, len, 0, &info, err, sizeof(err));
	if (want != 0)
		tu_assert_msg(rc == want, "%s: expected rc %d, got %d (%s)", what, want, rc, err);
	else
		tu_assert_msg(rc < 0, "%s: expected an error, got %d", what, rc);
	tu_assert_msg(log_end_offset(log) == m->leo, "%s: LEO moved to %" PRId64, what,
	              log_end_offset(log));
	tu_assert_msg(log_size_bytes(log) == size, "%s: size went from %" PRId64 " to %" PRId64,
	              what, size, log_size_bytes(log));
	tu_assert_msg(tu_file_size(path) == fsize, "%s: segment file went from %" PRId64 " to %"
	              PRId64 " bytes", what, fsize, tu_file_size(path));
}

START_TEST(test_append_rejects_bad_batch_writes_nothing)
{
	batch_builder_t b;
	log_config_t cfg;
	size_t starts[3], sizes[3];
	model_t m;
	log_t *log;
	int i;

	cfg_plain(&cfg, 1 << 20, 4096);
	cfg.max_batch_bytes = 2000;
	log = open_log(g_dir, &cfg);
	model_init(&m, g_dir);
	batch_builder_init(&b);
	model_append(&m, log, &b, 3, 0);
	model_append(&m, log, &b, 2, 0);

#define BUILD3(n2)                                                              \
	do {                                                                    \
		batch_builder_reset(&b);                                        \
		for (i = 0; i < 3; i++) {                                       \
			starts[i] = b.len;                                      \
			sizes[i] = tu_batch_gen(&b, 1000 + 100 * i, i == 2 ? (n2) : 3, \
			                        NULL, T0);                      \
		}                                                               \
	} while (0)

	/* a flipped byte in the middle batch of three */
	BUILD3(3);
	b.buf[starts[1] + BATCH_HEADER_SIZE + 3] ^= 0x10;
	expect_append_rejected(&m, log, b.buf, b.len, STRAND_ECORRUPT, "CRC-failing middle batch");

	/* the last batch cut short */
	BUILD3(3);
	expect_append_rejected(&m, log, b.buf, b.len - 10, 0, "truncated last batch");
	/* trailing bytes that are not a batch */
	BUILD3(3);
	expect_append_rejected(&m, log, b.buf, starts[2] + 30, 0, "half a header at the end");

	/* a compressed batch (valid CRC) */
	BUILD3(3);
	b.buf[starts[2] + 22] |= 0x01;
	tu_batch_reseal(b.buf + starts[2]);
	expect_append_rejected(&m, log, b.buf, b.len, STRAND_EINVAL, "gzip attribute");

	/* a batch over max_batch_bytes, alone and after good ones */
	BUILD3(40);
	tu_assert_uint_gt(sizes[2], 2000);
	expect_append_rejected(&m, log, b.buf, b.len, STRAND_ETOOBIG, "batch over max_batch_bytes");
	expect_append_rejected(&m, log, b.buf + starts[2], sizes[2], STRAND_ETOOBIG,
	                       "single batch over max_batch_bytes");

	/* a bad magic */
	BUILD3(3);
	b.buf[starts[0] + 16] = 1;
	expect_append_rejected(&m, log, b.buf, b.len, 0, "magic 1");
#undef BUILD3

	/* the log is untouched and goes on */
	model_append(&m, log, &b, 4, 0);
	tu_assert_int_eq(m.base[m.leo - 1], 5);
	model_check_all(&m, log);
	log = reopen(log, g_dir, &cfg);
	model_check_all(&m, log);
	check_segments(&m, log, 0);

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/* ---- random operations against the model --------------------------------- */

START_TEST(test_model_random)
{
	static const int64_t seg_choices[] = {4096, 16384, 65536};
	static const int32_t idx_choices[] = {1, 200, 4096};
	static const size_t byte_choices[] = {1, 200, 5000, 1 << 20};
	const char *env = getenv("STRAND_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)tu_now_ms() ^
	                ((uint64_t)getpid() << 32);
	uint64_t s;
	char err[256] = "", dir[PATH_MAX];
	int crashes = 0;
	batch_builder_t b;
	log_config_t cfg;
	int64_t tsv[256];
	int32_t epoch = 0;
	model_t m;
	log_t *log;
	int op, ops = 2000;

	if (seed == 0)
		seed = 1;
	s = seed;
	fprintf(stderr, "test_model_random: seed %" PRIu64 " (replay: STRAND_TEST_SEED=%" PRIu64
	        ")\n", seed, seed);
	tu_path(dir, sizeof(dir), g_dir, "log");
	cfg_plain(&cfg, seg_choices[tu_rand(&s) % 3], idx_choices[tu_rand(&s) % 3]);
	log = open_log(dir, &cfg);
	model_init(&m, dir);
	batch_builder_init(&b);

	for (op = 0; op < ops; op++) {
		int r = (int)(tu_rand(&s) % 100);

		if (r < 38) {                               /* append 1-3 batches */
			int counts[3], nb = tu_rand(&s) % 4 == 0 ? 2 + (int)(tu_rand(&s) % 2) : 1;
			int i, total = 0;

			for (i = 0; i < nb; i++) {
				counts[i] = 1 + (int)(tu_rand(&s) % 50);
				total += counts[i];
			}
			for (i = 0; i < total; i++) {
				tsv[i] = T0 + 10 * (m.leo + i);
				if (tu_rand(&s) % 5 == 0)
					tsv[i] += tu_rand_range(&s, -500, 500);
			}
			if (tu_rand(&s) % 40 == 0)
				epoch++;
			model_append_ts(&m, log, &b, counts, nb, tsv, epoch, NULL);
		} else if (r < 68) {                        /* read */
			int64_t off = tu_rand_range(&s, m.start - 2, m.leo + 2), bound = -1;

			if (tu_rand(&s) % 5 == 0 && off >= m.start && off <= m.leo) {
				bound = tu_rand_range(&s, off, m.leo);
				while (!is_batch_boundary(&m, bound))
					bound++;
			}
			model_check_read(&m, log, off, byte_choices[tu_rand(&s) % 4], bound);
		} else if (r < 78) {                        /* timestamp lookup */
			model_check_ts(&m, log, tu_rand_range(&s, T0 - 1000, T0 + 10 * m.leo + 1000));
		} else if (r < 83) {
			model_check_epochs(&m, log);
		} else if (r < 87) {                        /* truncate */
			int64_t lo = tu_rand(&s) % 30 == 0 ? m.start : m.leo - 300;

			model_truncate(&m, log, tu_rand_range(&s, lo < m.start ? m.start : lo, m.leo));
		} else if (r < 88) {                        /* reopen */
			log = reopen(log, dir, &cfg);
			model_check_bounds(&m, log);
		} else if (r < 89) {                        /* kill -9 */
			check_crash_copy(&m, &cfg, ++crashes);
			model_check_bounds(&m, log);
		} else if (r < 93) {                        /* flush */
			tu_assert_int_eq(log_flush(log, -1, err, sizeof(err)), 0);
			tu_assert_int_eq(log_flushed_offset(log), m.leo);
		} else if (r < 96) {                        /* tick: nothing configured to happen */
			int deleted = -1;

			tu_assert_int_eq(log_tick(log, T0 + 10 * m.leo, &deleted, err, sizeof(err)), 0);
			tu_assert_int_eq(deleted, 0);
			model_check_bounds(&m, log);
		} else if (r < 97) {
			check_segments(&m, log, 0);
		} else {                                    /* a slice of the whole log */
			model_check_read(&m, log, m.start, 1 << 20, -1);
		}
	}
	model_check_all(&m, log);
	check_segments(&m, log, 0);
	model_check_ts_all(&m, log);
	model_check_epochs(&m, log);
	check_crash_copy(&m, &cfg, ++crashes);
	log = reopen(log, dir, &cfg);
	model_check_all(&m, log);
	model_check_epochs(&m, log);
	fprintf(stderr, "test_model_random: seed %" PRIu64 ": %d operations, LEO %" PRId64
	        ", %d segments\n", seed, ops, m.leo, log_segment_count(log));

	batch_builder_free(&b);
	log_close(log);
	model_free(&m);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

static TCase *tcase_new(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	return tc;
}

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *basic = tcase_new("append_read");
	TCase *ts = tcase_new("timestamps");
	TCase *ret = tcase_new("retention_rolls");
	TCase *trunc = tcase_new("truncation");
	TCase *rec = tcase_new("recovery");
	TCase *ep = tcase_new("epochs");
	TCase *flush = tcase_new("flush");
	TCase *model = tcase_new("model");

	/* 2000 random operations with reopen and crash copies take ~20 s under
	 * the sanitizers on an idle machine, minutes on a loaded shared one */
	tcase_set_timeout(model, 300);

	tcase_add_test(basic, test_open_creates_empty_log_and_rejects_bad_config);
	tcase_add_test(basic, test_append_assigns_contiguous_offsets);
	tcase_add_test(basic, test_append_built_stores_what_append_stores);
	tcase_add_test(basic, test_roundtrip_across_segment_rolls);
	tcase_add_test(basic, test_read_at_every_offset);
	tcase_add_loop_test(basic, test_index_lookup_at_boundaries, 0, 3);
	tcase_add_test(basic, test_append_rejects_bad_batch_writes_nothing);
	tcase_add_test(basic, test_reopen_keeps_everything);
	suite_add_tcase(s, basic);

	tcase_add_test(ts, test_offset_for_timestamp);
	suite_add_tcase(s, ts);

	tcase_add_test(ret, test_retention_by_time);
	tcase_add_test(ret, test_retention_by_size);
	tcase_add_test(ret, test_segment_ms_rolls);
	suite_add_tcase(s, ret);

	tcase_add_test(trunc, test_truncate_to_middle_and_batch_boundary);
	tcase_add_test(trunc, test_truncate_below_start_restarts_log);
	tcase_add_test(trunc, test_truncate_lowers_flushed_offset);
	suite_add_tcase(s, trunc);

	tcase_add_loop_test(rec, test_recovery_truncates_torn_tail, 0, 4);
	tcase_add_test(rec, test_recovery_of_emptied_last_segment);
	tcase_add_loop_test(rec, test_recovery_cuts_garbage_after_last_batch, 0, 5);
	tcase_add_loop_test(rec, test_recovery_drops_last_batch_with_flipped_byte, 0, 2);
	tcase_add_test(rec, test_recovery_truncates_from_corrupt_earlier_batch_in_last_segment);
	tcase_add_test(rec, test_recovery_cuts_at_forged_offset_delta_below_checkpoint);
	tcase_add_test(rec, test_recovery_without_checkpoint_scans_every_segment);
	tcase_add_test(rec, test_recovery_without_checkpoint_keeps_intact_log);
	tcase_add_loop_test(rec, test_recovery_rebuilds_missing_indexes, 0, 3);
	tcase_add_loop_test(rec, test_recovery_rebuilds_corrupt_indexes, 0, 4);
	tcase_add_loop_test(rec, test_recovery_cuts_at_missing_segment, 0, 2);
	tcase_add_test(rec, test_recovery_ignores_leftover_files);
	tcase_add_test(rec, test_recovery_drops_epochs_of_cut_batches);
	tcase_add_test(rec, test_recovery_after_crash_keeps_every_written_record);
	tcase_add_test(rec, test_recovery_missing_timeindex_keeps_timestamp_lookup);
	tcase_add_test(rec, test_recovery_missing_timeindex_keeps_retention_right);
	suite_add_tcase(s, rec);

	tcase_add_test(ep, test_leader_epochs);
	suite_add_tcase(s, ep);

	tcase_add_test(flush, test_flush_group_commit);
	tcase_add_test(flush, test_flush_by_messages_and_ms);
	tcase_add_test(flush, test_reads_race_retention_and_truncation);
	suite_add_tcase(s, flush);

	tcase_add_test(model, test_model_random);
	suite_add_tcase(s, model);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	tu_root_create();
	sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_root_remove();
	return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
