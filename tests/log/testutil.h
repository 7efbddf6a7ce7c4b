/*
 * testutil.h — helpers for the partition-log Check suite (test_log.c).
 *
 * Written from the contract (log.h, batch.h, docs/FORMAT.md), not from
 * log.c: temporary directories, deterministic record content, reading a log
 * back through log_read + pread + batch_iter, scanning segment files, and
 * damaging files the way a crash or a bad disk would.
 *
 * Everything is static inline: the header is included by one test program.
 */
#ifndef STRAND_TESTS_LOG_TESTUTIL_H
#define STRAND_TESTS_LOG_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "log/batch.h"
#include "log/log.h"

/* ---- assertions ------------------------------------------------------------ */

/*
 * Check's ck_assert* record their location with a write(2) on every call,
 * passing or not; checking every record of every read that way costs
 * millions of syscalls. These call into Check only when they fail, with the
 * same "expected vs actual" output.
 */
#define tu_assert_msg(expr, ...) \
	do { if (!(expr)) ck_abort_msg(__VA_ARGS__); } while (0)
#define tu_assert(expr) \
	do { if (!(expr)) ck_abort_msg("Assertion '%s' failed", #expr); } while (0)
#define tu_assert_cmp(X, OP, Y)                                                   \
	do {                                                                      \
		intmax_t tu_x_ = (intmax_t)(X), tu_y_ = (intmax_t)(Y);            \
		if (!(tu_x_ OP tu_y_))                                            \
			ck_abort_msg("Assertion '%s' failed: %s == %jd, %s == %jd",   \
			             #X " " #OP " " #Y, #X, tu_x_, #Y, tu_y_);        \
	} while (0)
#define tu_assert_int_eq(X, Y) tu_assert_cmp(X, ==, Y)
#define tu_assert_int_ne(X, Y) tu_assert_cmp(X, !=, Y)
#define tu_assert_int_lt(X, Y) tu_assert_cmp(X, <, Y)
#define tu_assert_int_le(X, Y) tu_assert_cmp(X, <=, Y)
#define tu_assert_int_gt(X, Y) tu_assert_cmp(X, >, Y)
#define tu_assert_int_ge(X, Y) tu_assert_cmp(X, >=, Y)
#define tu_assert_uint_eq(X, Y) tu_assert_cmp(X, ==, Y)
#define tu_assert_uint_lt(X, Y) tu_assert_cmp(X, <, Y)
#define tu_assert_uint_le(X, Y) tu_assert_cmp(X, <=, Y)
#define tu_assert_uint_gt(X, Y) tu_assert_cmp(X, >, Y)
#define tu_assert_ptr_nonnull(P) tu_assert_msg((P) != NULL, "%s is NULL", #P)
#define tu_assert_mem_eq(X, Y, L) \
	tu_assert_msg(memcmp((X), (Y), (L)) == 0, "%s and %s differ in their %zu bytes", \
	              #X, #Y, (size_t)(L))

/* ---- temporary directories ------------------------------------------------ */

/*
 * The runner (parent process) makes one root directory; each test makes its
 * own directory under it. A test that fails exits its forked child before
 * its teardown runs, so main() removes the root at the end whatever happened.
 */
static char tu_root[PATH_MAX];

static inline int tu_rm_entry(const char *path, const struct stat *st, int flag,
                              struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	(void)remove(path);
	return 0;
}

static inline void tu_rm_rf(const char *path)
{
	if (path[0] != '\0')
		(void)nftw(path, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void tu_root_create(void)
{
	snprintf(tu_root, sizeof(tu_root), "/tmp/strand-test-log-XXXXXX");
	if (!mkdtemp(tu_root)) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
}

static inline void tu_root_remove(void)
{
	tu_rm_rf(tu_root);
}

/* A fresh empty directory under the root (or /tmp). */
static inline void tu_mkdtemp(char *out, size_t len)
{
	int n = snprintf(out, len, "%s/t-XXXXXX", tu_root[0] ? tu_root : "/tmp");

	tu_assert_msg(n > 0 && (size_t)n < len, "temporary path too long");
	tu_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s: %s", out, strerror(errno));
}

/* ---- paths and files ------------------------------------------------------ */

static inline void tu_path(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	tu_assert_msg(n > 0 && (size_t)n < len, "path too long: %s/%s", dir, name);
}

/* DIR/<20-digit base>.<ext> (ext "log", "index", "timeindex"). */
static inline void tu_seg_path(char *out, size_t len, const char *dir, int64_t base,
                               const char *ext)
{
	int n = snprintf(out, len, "%s/%020" PRId64 ".%s", dir, base, ext);

	tu_assert_msg(n > 0 && (size_t)n < len, "path too long");
}

static inline int64_t tu_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_size;
}

static inline int tu_file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static inline void tu_truncate_file(const char *path, int64_t size)
{
	tu_assert_msg(truncate(path, (off_t)size) == 0, "truncate %s to %" PRId64 ": %s",
	              path, size, strerror(errno));
}

static inline void tu_append_bytes(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	tu_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	tu_assert_msg(write(fd, data, n) == (ssize_t)n, "append to %s: %s", path,
	              strerror(errno));
	close(fd);
}

/* Invert every bit of the byte at pos. */
static inline void tu_flip_byte(const char *path, int64_t pos)
{
	uint8_t c;
	int fd = open(path, O_RDWR);

	tu_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	tu_assert_msg(pread(fd, &c, 1, (off_t)pos) == 1, "read %s at %" PRId64, path, pos);
	c ^= 0xff;
	tu_assert_msg(pwrite(fd, &c, 1, (off_t)pos) == 1, "write %s at %" PRId64, path, pos);
	close(fd);
}

/* Overwrite the whole file (same size) with seeded pseudo-random bytes. */
static inline void tu_scribble_file(const char *path, uint64_t seed)
{
	int64_t size = tu_file_size(path), i;
	int fd = open(path, O_WRONLY);

	tu_assert_msg(fd >= 0 && size >= 0, "open %s: %s", path, strerror(errno));
	for (i = 0; i < size; i++) {
		uint8_t c;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		c = (uint8_t)(seed >> 56);
		tu_assert_int_eq(pwrite(fd, &c, 1, (off_t)i), 1);
	}
	close(fd);
}

/* Whole file into a malloc'd buffer (caller frees); *len gets its size. */
static inline uint8_t *tu_read_file(const char *path, size_t *len)
{
	int64_t size = tu_file_size(path);
	uint8_t *buf;
	int fd;

	tu_assert_msg(size >= 0, "stat %s: %s", path, strerror(errno));
	buf = malloc((size_t)size + 1);
	tu_assert_ptr_nonnull(buf);
	fd = open(path, O_RDONLY);
	tu_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	tu_assert_msg(pread(fd, buf, (size_t)size, 0) == (ssize_t)size, "read %s", path);
	close(fd);
	*len = (size_t)size;
	return buf;
}

/*
 * Copy the regular files of src into dst (created), as they are right now:
 * what a process killed at this instant leaves on disk, since everything it
 * wrote with write(2) or into a shared mapping is in the page cache.
 */
static inline void tu_copy_dir(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *e;

	tu_assert_msg(d != NULL, "opendir %s: %s", src, strerror(errno));
	tu_assert_msg(mkdir(dst, 0755) == 0, "mkdir %s: %s", dst, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		char from[PATH_MAX], to[PATH_MAX];
		struct stat st;
		uint8_t *buf;
		size_t len;
		int fd;

		tu_path(from, sizeof(from), src, e->d_name);
		if (stat(from, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		tu_path(to, sizeof(to), dst, e->d_name);
		buf = tu_read_file(from, &len);
		fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		tu_assert_msg(fd >= 0, "create %s: %s", to, strerror(errno));
		tu_assert_msg(len == 0 || write(fd, buf, len) == (ssize_t)len, "write %s", to);
		close(fd);
		free(buf);
	}
	closedir(d);
}

static inline int tu_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Base offsets of the segments in dir (files named 20 digits + ".log"), sorted. */
static inline int tu_list_segments(const char *dir, int64_t *bases, int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	tu_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		int i;

		if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0)
			continue;
		for (i = 0; i < 20; i++)
			if (name[i] < '0' || name[i] > '9')
				break;
		if (i < 20)
			continue;
		tu_assert_int_lt(n, max);
		bases[n++] = strtoll(name, NULL, 10);
	}
	closedir(d);
	qsort(bases, (size_t)n, sizeof(*bases), tu_cmp_i64);
	return n;
}

static inline uint64_t tu_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	while (bytes-- > 0)
		v = (v << 8) | *p++;
	return v;
}

static inline void tu_put_be(uint8_t *p, uint64_t v, int bytes)
{
	while (bytes-- > 0)
		*p++ = (uint8_t)(v >> (8 * bytes));
}

/* Bit-at-a-time CRC-32C from the definition (docs/FORMAT.md section 5). */
static inline uint32_t tu_crc32c(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

/* Recompute the CRC of the batch at p after editing bytes in its CRC scope. */
static inline void tu_batch_reseal(uint8_t *p)
{
	size_t total = (size_t)tu_be(p + 8, 4) + BATCH_LOG_OVERHEAD;

	tu_put_be(p + 17, tu_crc32c(p + BATCH_CRC_START, total - BATCH_CRC_START), 4);
}

/* ---- scanning a segment file ---------------------------------------------- */

typedef struct tu_batch_pos {
	int64_t pos;           /* byte position in the .log file */
	size_t  size;          /* total size */
	int64_t base, last;    /* offsets */
	int32_t epoch;
	int64_t max_ts;
} tu_batch_pos_t;

/*
 * Every batch of a segment file, which must hold only valid batches back to
 * back (docs/FORMAT.md: "the file ends after the last whole batch").
 * Returns the count; *out is malloc'd (caller frees; may be NULL when 0).
 */
static inline int tu_scan_segment(const char *path, tu_batch_pos_t **out)
{
	size_t len, pos = 0;
	uint8_t *buf = tu_read_file(path, &len);
	tu_batch_pos_t *v = NULL;
	int n = 0, cap = 0;

	while (pos < len) {
		batch_header_t h;
		char err[256] = "";
		int rc = batch_validate(buf + pos, len - pos, 0, &h, err, sizeof(err));

		tu_assert_msg(rc == 0, "%s: batch at position %zu of %zu invalid (rc %d: %s)",
		              path, pos, len, rc, err);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, (size_t)cap * sizeof(*v));
			tu_assert_ptr_nonnull(v);
		}
		v[n].pos = (int64_t)pos;
		v[n].size = batch_total_size(&h);
		v[n].base = h.base_offset;
		v[n].last = batch_last_offset(&h);
		v[n].epoch = h.leader_epoch;
		v[n].max_ts = h.max_timestamp;
		n++;
		pos += batch_total_size(&h);
	}
	free(buf);
	*out = v;
	return n;
}

/* ---- deterministic record content ----------------------------------------- */

/*
 * A record is generated from an id: null keys every 7th id, null values every
 * 11th, values of varying lengths, 0-2 headers (the second with a null
 * value). The log tests remember only (offset -> id, timestamp) and check
 * every byte read back against what the id generates.
 */
#define TU_MAX_HEADERS 2

typedef struct tu_gen {
	char key[32];    int32_t key_len;
	char value[128]; int32_t value_len;
	char hkey[TU_MAX_HEADERS][8];
	char hval[TU_MAX_HEADERS][40];
	batch_kv_t headers[TU_MAX_HEADERS];
	int32_t nheaders;
} tu_gen_t;

static inline void tu_gen(uint64_t id, tu_gen_t *g)
{
	int32_t j;

	if (id % 7 == 3) {
		g->key_len = -1;
	} else {
		g->key_len = snprintf(g->key, sizeof(g->key), "key-%" PRIu64, id);
	}
	if (id % 11 == 5) {
		g->value_len = -1;
	} else {
		int n = snprintf(g->value, sizeof(g->value), "value-%" PRIu64 "-", id);
		int pad = (int)((id * 7) % 53);

		memset(g->value + n, 'a' + (int)(id % 26), (size_t)pad);
		g->value_len = n + pad;
	}
	g->nheaders = (int32_t)(id % 3);
	for (j = 0; j < g->nheaders; j++) {
		int kl = snprintf(g->hkey[j], sizeof(g->hkey[j]), "h%d", (int)j);

		g->headers[j].key = (const uint8_t *)g->hkey[j];
		g->headers[j].key_len = kl;
		if (j == 1) {
			g->headers[j].value = NULL;
			g->headers[j].value_len = -1;
		} else {
			g->headers[j].value_len = snprintf(g->hval[j], sizeof(g->hval[j]),
			                                   "hv-%" PRIu64 "-%d", id, (int)j);
			g->headers[j].value = (const uint8_t *)g->hval[j];
		}
	}
}

static inline void tu_add_gen(batch_builder_t *b, uint64_t id, int64_t ts)
{
	tu_gen_t g;
	int rc;

	tu_gen(id, &g);
	rc = batch_builder_add(b, ts,
	                       g.key_len < 0 ? NULL : (const uint8_t *)g.key, g.key_len,
	                       g.value_len < 0 ? NULL : (const uint8_t *)g.value, g.value_len,
	                       g.nheaders ? g.headers : NULL, g.nheaders);
	tu_assert_int_eq(rc, 0);
}

/*
 * Build one batch of n generated records (ids first_id, first_id+1, ...)
 * after whatever b already holds; record k gets timestamp ts[k], or ts0 + k
 * when ts is NULL. Returns the batch's total size.
 */
static inline size_t tu_batch_gen(batch_builder_t *b, uint64_t first_id, int n,
                                  const int64_t *ts, int64_t ts0)
{
	size_t size = 0;
	int k;

	tu_assert_int_eq(batch_builder_begin(b, -1, -1, -1), 0);
	for (k = 0; k < n; k++)
		tu_add_gen(b, first_id + (uint64_t)k, ts ? ts[k] : ts0 + k);
	tu_assert_int_eq(batch_builder_finish(b, &size), 0);
	return size;
}

/* One batch of n records with null keys, the given values and timestamps. */
static inline size_t tu_batch_values(batch_builder_t *b, int n, const int64_t *ts,
                                     const char *const *values)
{
	size_t size = 0;
	int k;

	tu_assert_int_eq(batch_builder_begin(b, -1, -1, -1), 0);
	for (k = 0; k < n; k++)
		tu_assert_int_eq(batch_builder_add(b, ts[k], NULL, -1,
		                                   (const uint8_t *)values[k],
		                                   (int32_t)strlen(values[k]), NULL, 0), 0);
	tu_assert_int_eq(batch_builder_finish(b, &size), 0);
	return size;
}

/* ---- reading the log back -------------------------------------------------- */

typedef struct tu_rec {
	int64_t  offset, timestamp;
	int64_t  batch_base;         /* base offset of the batch holding it */
	int32_t  epoch;              /* that batch's partition leader epoch */
	int32_t  key_len, value_len; /* -1: null */
	uint8_t *key, *value;
	uint8_t *headers;            /* raw header section */
	size_t   headers_len;
	int32_t  header_count;
} tu_rec_t;

typedef struct tu_recs {
	tu_rec_t *v;
	size_t    n, cap;
} tu_recs_t;

static inline uint8_t *tu_dup(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n + 1);

	tu_assert_ptr_nonnull(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static inline void tu_recs_free(tu_recs_t *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].value);
		free(r->v[i].headers);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static inline void tu_recs_push(tu_recs_t *r, const batch_header_t *h,
                                const batch_record_t *rec)
{
	tu_rec_t *t;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		tu_assert_ptr_nonnull(r->v);
	}
	t = &r->v[r->n++];
	t->offset = rec->offset;
	t->timestamp = rec->timestamp;
	t->batch_base = h->base_offset;
	t->epoch = h->leader_epoch;
	t->key_len = rec->key_len;
	t->key = rec->key_len >= 0 ? tu_dup(rec->key, (size_t)rec->key_len) : NULL;
	t->value_len = rec->value_len;
	t->value = rec->value_len >= 0 ? tu_dup(rec->value, (size_t)rec->value_len) : NULL;
	t->headers = tu_dup(rec->headers, rec->headers_len);
	t->headers_len = rec->headers_len;
	t->header_count = rec->header_count;
}

/* The slice's bytes (malloc'd, caller frees), read with pread as sendfile would. */
static inline uint8_t *tu_slice_bytes(const log_slice_t *s)
{
	uint8_t *buf = malloc(s->len + 1);
	ssize_t got;

	tu_assert_ptr_nonnull(buf);
	if (s->len == 0)
		return buf;
	tu_assert_int_ge(s->fd, 0);
	got = pread(s->fd, buf, s->len, s->pos);
	tu_assert_msg(got == (ssize_t)s->len, "pread of slice fd %d pos %jd len %zu gave %zd (%s)",
	              s->fd, (intmax_t)s->pos, s->len, got, strerror(errno));
	return buf;
}

/*
 * Check a slice's structure for a read at `offset`: whole valid batches back
 * to back, contiguous offsets, the first batch holding `offset`, first_offset
 * and next_offset matching the batches. Records at or above `offset` go to
 * recs (may be NULL). Returns the number of batches.
 */
static inline int tu_slice_collect(const log_slice_t *s, int64_t offset, tu_recs_t *recs)
{
	uint8_t *buf = tu_slice_bytes(s);
	size_t pos = 0;
	int64_t expect_base = s->first_offset;
	int nbatches = 0;

	while (pos < s->len) {
		batch_header_t h;
		batch_iter_t it;
		batch_record_t rec;
		char err[256] = "";
		int rc = batch_validate(buf + pos, s->len - pos, 0, &h, err, sizeof(err));

		tu_assert_msg(rc == 0, "read at %" PRId64 ": batch %d of the slice (position %zu of "
		              "%zu) invalid: rc %d (%s)", offset, nbatches, pos, s->len, rc, err);
		tu_assert_msg(h.base_offset == expect_base,
		              "read at %" PRId64 ": batch %d base offset expected %" PRId64
		              ", got %" PRId64, offset, nbatches, expect_base, h.base_offset);
		if (nbatches == 0)
			tu_assert_msg(h.base_offset <= offset && offset <= batch_last_offset(&h),
			              "read at %" PRId64 ": first batch [%" PRId64 ", %" PRId64
			              "] does not hold it", offset, h.base_offset,
			              batch_last_offset(&h));
		tu_assert_int_eq(batch_iter_init(&it, buf + pos, batch_total_size(&h)), 0);
		while ((rc = batch_iter_next(&it, &rec)) == 1)
			if (recs && rec.offset >= offset)
				tu_recs_push(recs, &h, &rec);
		tu_assert_int_eq(rc, 0);
		expect_base = batch_last_offset(&h) + 1;
		pos += batch_total_size(&h);
		nbatches++;
	}
	tu_assert_msg(pos == s->len, "slice of %zu bytes ends mid-batch at %zu", s->len, pos);
	tu_assert_msg(s->next_offset == expect_base,
	              "read at %" PRId64 ": next_offset expected %" PRId64 " (after the last "
	              "batch), got %" PRId64, offset, expect_base, s->next_offset);
	free(buf);
	return nbatches;
}

/*
 * Every record from the log start offset to the LEO, read in slices of
 * max_bytes (each slice whole batches, as the reader of a fetch would see).
 */
static inline void tu_read_all_bytes(log_t *log, size_t max_bytes, tu_recs_t *recs)
{
	int64_t offset = log_start_offset(log), leo = log_end_offset(log);

	memset(recs, 0, sizeof(*recs));
	while (offset < leo) {
		log_slice_t s;
		char err[256] = "";
		int rc = log_read(log, offset, max_bytes, -1, &s, err, sizeof(err));

		tu_assert_msg(rc == 0, "log_read at %" PRId64 " (start %" PRId64 ", LEO %" PRId64
		              "): rc %d (%s)", offset, log_start_offset(log), leo, rc, err);
		tu_assert_msg(s.len > 0, "log_read at %" PRId64 " below LEO %" PRId64
		              " gave an empty slice", offset, leo);
		tu_slice_collect(&s, offset, recs);
		tu_assert_msg(s.next_offset > offset, "log_read at %" PRId64 " made no progress",
		              offset);
		offset = s.next_offset;
		log_slice_release(&s);
	}
	tu_assert_int_eq(offset, leo);
}

static inline void tu_read_all(log_t *log, tu_recs_t *recs)
{
	tu_read_all_bytes(log, 1 << 20, recs);
}

/* Check a record read back against what generated it. */
static inline void tu_check_gen(const tu_rec_t *r, uint64_t id, int64_t ts)
{
	tu_gen_t g;
	batch_record_t br;
	batch_header_iter_t hi;
	batch_rec_header_t hh;
	int32_t j;

	tu_gen(id, &g);
	tu_assert_msg(r->timestamp == ts, "offset %" PRId64 ": timestamp expected %" PRId64
	              ", got %" PRId64, r->offset, ts, r->timestamp);
	tu_assert_msg(r->key_len == g.key_len &&
	              (g.key_len < 0 || memcmp(r->key, g.key, (size_t)g.key_len) == 0),
	              "offset %" PRId64 ": key expected '%.*s' (len %d), got '%.*s' (len %d)",
	              r->offset, g.key_len < 0 ? 0 : (int)g.key_len, g.key, (int)g.key_len,
	              r->key_len < 0 ? 0 : (int)r->key_len, r->key ? (char *)r->key : "",
	              (int)r->key_len);
	tu_assert_msg(r->value_len == g.value_len &&
	              (g.value_len < 0 || memcmp(r->value, g.value, (size_t)g.value_len) == 0),
	              "offset %" PRId64 ": value expected '%.*s' (len %d), got '%.*s' (len %d)",
	              r->offset, g.value_len < 0 ? 0 : (int)g.value_len, g.value,
	              (int)g.value_len, r->value_len < 0 ? 0 : (int)r->value_len,
	              r->value ? (char *)r->value : "", (int)r->value_len);
	tu_assert_msg(r->header_count == g.nheaders, "offset %" PRId64 ": %d headers expected, "
	              "got %d", r->offset, (int)g.nheaders, (int)r->header_count);
	memset(&br, 0, sizeof(br));
	br.headers = r->headers;
	br.headers_len = r->headers_len;
	br.header_count = r->header_count;
	batch_header_iter_init(&hi, &br);
	for (j = 0; j < g.nheaders; j++) {
		const batch_kv_t *e = &g.headers[j];

		tu_assert_int_eq(batch_header_iter_next(&hi, &hh), 1);
		tu_assert_int_eq(hh.key_len, e->key_len);
		tu_assert_mem_eq(hh.key, e->key, (size_t)e->key_len);
		tu_assert_int_eq(hh.value_len, e->value_len);
		if (e->value_len > 0)
			tu_assert_mem_eq(hh.value, e->value, (size_t)e->value_len);
	}
	tu_assert_int_eq(batch_header_iter_next(&hi, &hh), 0);
}

/* ---- replicas (log_append_replica) -------------------------------------- */

/* The bytes of every batch in [from, LEO) (malloc'd), read in slices of max_bytes. */
static inline uint8_t *tu_read_bytes(log_t *log, int64_t from, size_t *len_out)
{
	int64_t offset = from, leo = log_end_offset(log);
	uint8_t *all = NULL;
	size_t len = 0;

	while (offset < leo) {
		log_slice_t s;
		char err[256] = "";
		uint8_t *part;

		tu_assert_msg(log_read(log, offset, 1 << 20, -1, &s, err, sizeof(err)) == 0,
		              "log_read at %" PRId64 ": %s", offset, err);
		tu_assert_uint_gt(s.len, 0);
		part = tu_slice_bytes(&s);
		all = realloc(all, len + s.len);
		tu_assert_ptr_nonnull(all);
		memcpy(all + len, part, s.len);
		len += s.len;
		offset = s.next_offset;
		free(part);
		log_slice_release(&s);
	}
	*len_out = len;
	return all;
}

/*
 * Copy the leader to the follower as a fetcher does: slices of at most
 * max_bytes from the follower's LEO, appended as they come.
 * Returns the number of appends.
 */
static inline int tu_replicate(log_t *leader, log_t *follower, size_t max_bytes)
{
	int n = 0;

	while (log_end_offset(follower) < log_end_offset(leader)) {
		int64_t from = log_end_offset(follower);
		log_append_info_t info;
		log_slice_t s;
		char err[256] = "";
		uint8_t *buf;
		int rc;

		tu_assert_int_eq(log_read(leader, from, max_bytes, -1, &s, err, sizeof(err)), 0);
		buf = tu_slice_bytes(&s);
		rc = log_append_replica(follower, buf, s.len, &info, err, sizeof(err));
		tu_assert_msg(rc == 0, "log_append_replica at %" PRId64 " (%zu bytes): %d (%s)",
		              from, s.len, rc, err);
		tu_assert_int_eq(info.first_offset, from);
		tu_assert_int_eq(info.last_offset, s.next_offset - 1);
		tu_assert_int_eq(log_end_offset(follower), s.next_offset);
		free(buf);
		log_slice_release(&s);
		n++;
	}
	return n;
}

/* Same bytes from the log start, same LEO, same answers from the epoch cache
 * for every epoch from the first stored batch's on (retention may have left
 * one side entries for epochs below its log start). */
static inline void tu_expect_same_log(log_t *a, log_t *b)
{
	size_t la, lb;
	uint8_t *ba, *bb;
	int32_t first;

	tu_assert_int_eq(log_end_offset(a), log_end_offset(b));
	tu_assert_int_eq(log_latest_epoch(a), log_latest_epoch(b));
	ba = tu_read_bytes(a, log_start_offset(a), &la);
	bb = tu_read_bytes(b, log_start_offset(b), &lb);
	tu_assert_msg(la == lb, "logs hold %zu and %zu bytes", la, lb);
	tu_assert_msg(la == 0 || memcmp(ba, bb, la) == 0, "the logs' bytes differ");
	first = la >= BATCH_HEADER_SIZE ? (int32_t)tu_be(ba + 12, 4) : -1;
	free(ba);
	free(bb);
	for (int32_t e = first; e <= log_latest_epoch(a) + 1; e++) {
		int32_t ea, eb;
		int64_t oa, ob;

		log_epoch_end_offset(a, e, &ea, &oa);
		log_epoch_end_offset(b, e, &eb, &ob);
		tu_assert_msg(ea == eb && oa == ob, "epoch_end(%d): (%d, %" PRId64 ") vs (%d, %"
		              PRId64 ")", (int)e, (int)ea, oa, (int)eb, ob);
	}
}

/* Wall clock in ms, for tests where the engine may also look at the clock. */
static inline int64_t tu_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* xorshift64*: the random model test's generator (seed printed on failure). */
static inline uint64_t tu_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static inline int64_t tu_rand_range(uint64_t *s, int64_t lo, int64_t hi)  /* [lo, hi] */
{
	return lo + (int64_t)(tu_rand(s) % (uint64_t)(hi - lo + 1));
}

#endif
