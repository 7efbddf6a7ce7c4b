/*
 * cleaner.c — log compaction's offset map and segment rewriting
 * (cleaner.h). Runs on the cleaning thread over dup'd descriptors, without
 * the log's lock; the files it writes are <base>.cleaned.* until log.c
 * swaps them in.
 */
#include "log/cleaner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "log/batch.h"

#define CLEANER_WRITE_BUF (256 * 1024)   /* output gathered per pwrite */
#define CLEANER_SLEEP_MAX_NS 100000000LL  /* longest throttle sleep between looks
                                             at io->cancel (a stopping broker) */

/* ---- the offset map ------------------------------------------------------ */

typedef struct map_entry {
	uint64_t h1, h2;
	int64_t  offset;       /* -1: empty slot */
} map_entry_t;

struct cleaner_map {
	map_entry_t *slots;
	size_t       nslots;   /* a power of two */
	size_t       count, max_count;
};

/* MurmurHash3's 64-bit finalizer: spreads FNV's weak low bits. */
static uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

/* Two independent 64-bit hashes of the key (FNV-1a from two bases). */
static void key_hash(const uint8_t *key, int32_t len, uint64_t *h1, uint64_t *h2)
{
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;

	for (int32_t i = 0; i < len; i++) {
		a = (a ^ key[i]) * 0x100000001b3ULL;
		b = (b ^ key[i]) * 0x100000001b3ULL;
		b ^= b >> 29;
	}
	*h1 = fmix64(a ^ (uint64_t)len);
	*h2 = fmix64(b + 0x9e3779b97f4a7c15ULL);
}

cleaner_map_t *cleaner_map_new(size_t bytes)
{
	cleaner_map_t *map = calloc(1, sizeof(*map));
	size_t n = 1;

	if (map == NULL)
		return NULL;
	while (n * 2 * CLEANER_MAP_ENTRY_BYTES <= bytes)
		n *= 2;
	map->slots = malloc(n * sizeof(*map->slots));
	if (map->slots == NULL) {
		free(map);
		return NULL;
	}
	map->nslots = n;
	map->max_count = n * CLEANER_MAP_LOAD_PERCENT / 100;
	if (map->max_count == 0)
		map->max_count = 1 < n ? 1 : 0;
	cleaner_map_clear(map);
	return map;
}

void cleaner_map_free(cleaner_map_t *map)
{
	if (map == NULL)
		return;
	free(map->slots);
	free(map);
}

void cleaner_map_clear(cleaner_map_t *map)
{
	for (size_t i = 0; i < map->nslots; i++)
		map->slots[i].offset = -1;
	map->count = 0;
}

size_t cleaner_map_capacity(const cleaner_map_t *map)
{
	return map->max_count;
}

/* The slot of (h1, h2): its entry, or the empty slot where it would go. */
static map_entry_t *map_slot(const cleaner_map_t *map, uint64_t h1, uint64_t h2)
{
	size_t mask = map->nslots - 1, i = (size_t)h1 & mask;

	for (;;) {
		map_entry_t *e = &map->slots[i];

		if (e->offset < 0 || (e->h1 == h1 && e->h2 == h2))
			return e;
		i = (i + 1) & mask;    /* linear probing; the load bound keeps a free slot */
	}
}

/* Returns 0, or 1 when the map is full (nothing added). */
static int map_put(cleaner_map_t *map, const uint8_t *key, int32_t len, int64_t offset)
{
	uint64_t h1, h2;
	map_entry_t *e;

	key_hash(key, len, &h1, &h2);
	e = map_slot(map, h1, h2);
	if (e->offset < 0) {
		if (map->count >= map->max_count)
			return 1;
		map->count++;
		e->h1 = h1;
		e->h2 = h2;
	}
	e->offset = offset;
	return 0;
}

/* The last offset of key in the map, -1 when absent. */
static int64_t map_get(const cleaner_map_t *map, const uint8_t *key, int32_t len)
{
	uint64_t h1, h2;

	key_hash(key, len, &h1, &h2);
	return map_slot(map, h1, h2)->offset;
}

/* ---- counted, throttled I/O --------------------------------------------- */

void cleaner_io_init(cleaner_io_t *io, int64_t max_bytes_per_second, const atomic_int *cancel)
{
	memset(io, 0, sizeof(*io));
	io->max_bytes_per_second = max_bytes_per_second > 0 ? max_bytes_per_second : 0;
	io->cancel = cancel;
	io->start_ns = clock_now_ns();
}

/*
 * Kafka's Throttler.maybeThrottle, called after each batch read and each
 * pwrite: sleep until the pass has lasted (bytes so far / the rate). One
 * clock read per batch, no sleep while under the rate.
 */
static int io_throttle(cleaner_io_t *io, char *err, size_t errlen)
{
	int64_t due, now;

	if (io->max_bytes_per_second == 0)
		return 0;
	due = io->start_ns + (int64_t)((double)(io->bytes_read + io->bytes_written) * 1e9 /
	                               (double)io->max_bytes_per_second);
	while ((now = clock_now_ns()) < due) {
		int64_t d = due - now < CLEANER_SLEEP_MAX_NS ? due - now : CLEANER_SLEEP_MAX_NS;
		struct timespec ts = { (time_t)(d / 1000000000LL), (long)(d % 1000000000LL) };

		if (io->cancel != NULL && atomic_load(io->cancel))
			return strand_err_set(err, errlen, STRAND_ECLOSED,
			                      "compaction stopped while throttled");
		(void)nanosleep(&ts, NULL);   /* EINTR: the loop sleeps the rest */
		io->throttled_ns += clock_now_ns() - now;
	}
	return 0;
}

/* ---- reading batches ----------------------------------------------------- */

/* Read the whole batch at pos (header h) into *buf. */
static int read_batch(int fd, off_t pos, const batch_header_t *h, uint8_t **buf,
                      size_t *cap, cleaner_io_t *io, char *err, size_t errlen)
{
	size_t size = batch_total_size(h), got = 0;

	if (size > *cap) {
		uint8_t *nb = realloc(*buf, size);

		if (nb == NULL)
			return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		*buf = nb;
		*cap = size;
	}
	while (got < size) {
		ssize_t n = pread(fd, *buf + got, size - got, pos + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return strand_err_set(err, errlen, STRAND_EIO, "read at %lld: %s",
			                      (long long)pos, n < 0 ? strerror(errno) : "short read");
		got += (size_t)n;
	}
	io->bytes_read += (int64_t)size;
	return io_throttle(io, err, errlen);
}

/* A scan of a closed segment that met its end (STRAND_EAGAIN) must be at its size. */
static int scan_end(int rc, off_t pos, int64_t size, char *err, size_t errlen)
{
	if (rc != STRAND_EAGAIN)
		return rc;
	if (pos == (off_t)size)
		return 0;
	return strand_err_set(err, errlen, STRAND_ECORRUPT,
	                      "torn batch at byte %lld of a closed segment", (long long)pos);
}

int cleaner_map_segment(cleaner_map_t *map, int fd, int64_t size, int sparse,
                        uint8_t **buf, size_t *cap, cleaner_io_t *io,
                        char *err, size_t errlen)
{
	seg_reader_t *r = malloc(sizeof(*r));
	batch_header_t h;
	off_t pos = 0;
	int rc;

	if (r == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	seg_reader_init(r, fd, (off_t)size, sparse);
	while ((rc = seg_reader_header(r, pos, &h, err, errlen)) == 0) {
		batch_iter_t it;
		batch_record_t rec;

		rc = read_batch(fd, pos, &h, buf, cap, io, err, errlen);
		if (rc == 0)
			rc = batch_iter_init(&it, *buf, batch_total_size(&h));
		while (rc == 0 && (rc = batch_iter_next(&it, &rec)) == 1) {
			rc = 0;
			if (rec.key != NULL && map_put(map, rec.key, rec.key_len, rec.offset)) {
				rc = 1;
				goto out;
			}
		}
		if (rc)
			goto out;
		pos += (off_t)batch_total_size(&h);
	}
	rc = scan_end(rc, pos, size, err, errlen);
out:
	free(r);
	return rc;
}

/* ---- writing the cleaned segment ----------------------------------------- */

typedef struct cleaner_out {
	segment_t *seg;
	uint8_t   *wbuf;       /* batches noted but not yet written */
	size_t     wlen;
	int        index_interval;
	cleaner_io_t *io;
} cleaner_out_t;

static int out_flush(cleaner_out_t *o, char *err, size_t errlen)
{
	off_t pos = (off_t)(o->seg->size - (int64_t)o->wlen);
	size_t done = 0;

	while (done < o->wlen) {
		ssize_t n = pwrite(o->seg->fd, o->wbuf + done, o->wlen - done, pos + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return strand_err_set(err, errlen,
			                      errno == ENOSPC || errno == EDQUOT ? STRAND_ENOSPC
			                                                         : STRAND_EIO,
			                      "write %s: %s", o->seg->path, strerror(errno));
		done += (size_t)n;
	}
	o->io->bytes_written += (int64_t)o->wlen;
	o->wlen = 0;
	return io_throttle(o->io, err, errlen);
}

/* Append one finished batch (len bytes) to the output. */
static int out_batch(cleaner_out_t *o, const uint8_t *batch, size_t len,
                     char *err, size_t errlen)
{
	int rc;

	if (o->wlen + len > CLEANER_WRITE_BUF && o->wlen > 0) {
		rc = out_flush(o, err, errlen);
		if (rc)
			return rc;
	}
	if (len > CLEANER_WRITE_BUF) {          /* a batch larger than the buffer */
		rc = segment_note_append(o->seg, batch, len, o->index_interval);
		o->wlen = 0;
		if (rc == 0) {
			uint8_t *saved = o->wbuf;

			o->wbuf = (uint8_t *)(uintptr_t)batch;
			o->wlen = len;
			rc = out_flush(o, err, errlen);
			o->wbuf = saved;
		}
		return rc;
	}
	memcpy(o->wbuf + o->wlen, batch, len);
	o->wlen += len;
	return segment_note_append(o->seg, batch, len, o->index_interval);
}

/*
 * Does the record survive? Not when a later record has its key; a
 * tombstone (null value) that is the last of its key survives until it is
 * delete_retention_ms old (-1: forever), so that readers part-way through
 * the log still see the delete (Kafka's delete.retention.ms).
 */
static int record_keep(const cleaner_map_t *map, const batch_record_t *rec, int64_t now_ms,
                       int64_t delete_retention_ms, cleaner_counts_t *c)
{
	int64_t last;

	if (rec->key == NULL)
		return 1;                        /* nothing can replace it */
	last = map_get(map, rec->key, rec->key_len);
	if (last > rec->offset) {
		c->records_removed++;
		return 0;
	}
	if (rec->value == NULL && delete_retention_ms >= 0 &&
	    now_ms - rec->timestamp > delete_retention_ms) {
		c->tombstones_removed++;
		return 0;
	}
	return 1;
}

/* Filter the batch at b (header h) into scratch and write what is left. */
static int clean_batch(cleaner_out_t *o, const uint8_t *b, const batch_header_t *h,
                       int last_of_group, uint8_t *scratch, const cleaner_map_t *map,
                       int64_t now_ms, int64_t delete_retention_ms, int *changed,
                       cleaner_counts_t *c, char *err, size_t errlen)
{
	size_t size = batch_total_size(h), olen = BATCH_HEADER_SIZE;
	int32_t kept = 0, all = 1;
	batch_iter_t it;
	batch_record_t rec;
	int rc;

	rc = batch_iter_init(&it, b, size);
	for (const uint8_t *start = it.p; rc == 0 && (rc = batch_iter_next(&it, &rec)) == 1;
	     start = it.p) {
		rc = 0;
		if (!record_keep(map, &rec, now_ms, delete_retention_ms, c)) {
			all = 0;
			continue;
		}
		memcpy(scratch + olen, start, (size_t)(it.p - start));
		olen += (size_t)(it.p - start);
		kept++;
	}
	if (rc < 0)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "batch at offset %lld: records do not parse",
		                      (long long)h->base_offset);
	c->records_kept += kept;
	if (all)
		return out_batch(o, b, size, err, errlen);
	*changed = 1;
	if (kept == 0 && !last_of_group) {
		c->batches_removed++;
		return 0;
	}
	/* same header (offsets, timestamps, producer, epoch); fewer records */
	memcpy(scratch, b, BATCH_HEADER_SIZE);
	batch_set_records(scratch, olen, kept);
	return out_batch(o, scratch, olen, err, errlen);
}

/* Rewrite one input segment into the output. */
static int clean_segment(cleaner_out_t *o, const cleaner_input_t *in, int last_input,
                         const cleaner_map_t *map, int64_t now_ms,
                         int64_t delete_retention_ms, uint8_t **buf, size_t *cap,
                         uint8_t **scratch, size_t *scap, int *changed,
                         cleaner_counts_t *c, char *err, size_t errlen)
{
	seg_reader_t *r = malloc(sizeof(*r));
	batch_header_t h;
	off_t pos = 0;
	int rc;

	if (r == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	seg_reader_init(r, in->fd, (off_t)in->size, in->sparse);
	while ((rc = seg_reader_header(r, pos, &h, err, errlen)) == 0) {
		size_t size = batch_total_size(&h);
		int last = last_input && pos + (off_t)size == (off_t)in->size;

		rc = read_batch(in->fd, pos, &h, buf, cap, o->io, err, errlen);
		if (rc == 0 && size > *scap) {
			uint8_t *ns = realloc(*scratch, size);

			if (ns == NULL)
				rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
			else {
				*scratch = ns;
				*scap = size;
			}
		}
		if (rc == 0)
			rc = clean_batch(o, *buf, &h, last, *scratch, map, now_ms,
			                 delete_retention_ms, changed, c, err, errlen);
		if (rc)
			break;
		pos += (off_t)size;
	}
	rc = scan_end(rc, pos, in->size, err, errlen);
	free(r);
	return rc;
}

int cleaner_write_group(const char *dir, const cleaner_input_t *in, size_t n,
                        const cleaner_map_t *map, int64_t now_ms,
                        int64_t delete_retention_ms, int index_interval,
                        cleaner_io_t *io, segment_t **out, int *changed_out,
                        cleaner_counts_t *counts, char *err, size_t errlen)
{
	cleaner_out_t o = { .index_interval = index_interval, .io = io };
	uint8_t *buf = NULL, *scratch = NULL;
	size_t cap = 0, scap = 0;
	int rc, changed = n > 1;

	*out = NULL;
	o.wbuf = malloc(CLEANER_WRITE_BUF);
	if (o.wbuf == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	rc = segment_create_cleaned(dir, in[0].base_offset, &o.seg, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = clean_segment(&o, &in[i], i + 1 == n, map, now_ms, delete_retention_ms,
		                   &buf, &cap, &scratch, &scap, &changed, counts, err, errlen);
	if (rc == 0)
		rc = out_flush(&o, err, errlen);
	if (rc == 0 && o.seg->next_offset != in[n - 1].next_offset && o.seg->size > 0)
		rc = strand_err_set(err, errlen, STRAND_ECORRUPT,
		                    "cleaned segment %lld ends at %lld, not %lld",
		                    (long long)in[0].base_offset, (long long)o.seg->next_offset,
		                    (long long)in[n - 1].next_offset);
	if (rc == 0)
		rc = segment_persist_index(o.seg, err, errlen);
	if (rc == 0)
		rc = segment_sync(o.seg->fd, err, errlen);
	if (rc == 0 && (fsync(o.seg->index_fd) < 0 || fsync(o.seg->time_fd) < 0))
		rc = strand_err_set(err, errlen, STRAND_EIO, "fsync index of %s: %s",
		                    o.seg->path, strerror(errno));
	free(buf);
	free(scratch);
	free(o.wbuf);
	if (rc) {
		segment_delete(o.seg);
		return rc;
	}
	*out = o.seg;
	*changed_out = changed;
	return 0;
}
