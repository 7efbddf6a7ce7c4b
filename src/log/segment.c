/*
 * segment.c — one segment of a partition log: the .log file of batches, its
 * sparse offset index (.index) and time index (.timeindex), the scans that
 * recover them after a crash, and truncation. See segment.h and
 * docs/FORMAT.md for the bytes.
 */
#include "log/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

#define INDEX_ENTRY_SIZE 8
#define TIME_ENTRY_SIZE  12

/* ---- small helpers ------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static int io_error(char *err, size_t errlen, const char *what, const char *path)
{
	int code = (errno == ENOSPC || errno == EDQUOT) ? STRAND_ENOSPC : STRAND_EIO;

	return strand_err_set(err, errlen, code, "%s %s: %s", what, path,
	                      strerror(errno));
}

/* Write all of buf at pos, retrying short writes. */
static int pwrite_all(int fd, const void *buf, size_t len, off_t pos)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, pos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n; len -= (size_t)n; pos += n;
	}
	return 0;
}

/* "<dir>/<20-digit base><ext>" into a new string (caller frees). */
static char *segment_path(const char *dir, int64_t base, const char *ext)
{
	size_t n = strlen(dir) + 1 + 20 + strlen(ext) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%020lld%s", dir, (long long)base, ext);
	return p;
}

/* Path of an index file beside seg->path: replace ".log" by ext. */
static int sibling_path(const segment_t *seg, const char *ext, char *out, size_t n)
{
	size_t len = strlen(seg->path);

	if (len < 4 || len - 4 + strlen(ext) + 1 > n)
		return -1;
	memcpy(out, seg->path, len - 4);
	snprintf(out + len - 4, n - (len - 4), "%s", ext);
	return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return STRAND_ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- in-memory index maintenance ----------------------------------------- */

/*
 * Account one batch written at file position pos. The first batch of a
 * segment is always indexed; afterwards one entry per index_interval bytes
 * (Kafka's index.interval.bytes). A time entry is added with an offset entry
 * whenever the segment's largest timestamp has grown since the last one.
 */
static int segment_note_batch(segment_t *seg, const batch_header_t *h,
                              int64_t pos, int index_interval)
{
	int32_t rel = (int32_t)(h->base_offset - seg->base_offset);
	int rc;

	if (seg->max_timestamp < h->max_timestamp)
		seg->max_timestamp = h->max_timestamp;
	if (seg->first_timestamp < 0)
		seg->first_timestamp = h->max_timestamp;
	if (seg->nidx == 0 || seg->bytes_since_index >= index_interval) {
		rc = grow((void **)&seg->idx, &seg->capidx, seg->nidx + 1, sizeof(*seg->idx));
		if (rc)
			return rc;
		seg->idx[seg->nidx].rel = rel;
		seg->idx[seg->nidx].pos = (int32_t)pos;
		seg->nidx++;
		seg->bytes_since_index = 0;
		if (seg->ntidx == 0 || seg->tidx[seg->ntidx - 1].ts < seg->max_timestamp) {
			rc = grow((void **)&seg->tidx, &seg->captidx, seg->ntidx + 1,
			          sizeof(*seg->tidx));
			if (rc)
				return rc;
			seg->tidx[seg->ntidx].ts = seg->max_timestamp;
			seg->tidx[seg->ntidx].rel = rel;
			seg->ntidx++;
		}
	}
	seg->bytes_since_index += (int64_t)batch_total_size(h);
	seg->next_offset = batch_last_offset(h) + 1;
	return 0;
}

/* Hot path: one header decode per batch, no allocation unless arrays grow. */
int segment_note_append(segment_t *seg, const uint8_t *buf, size_t len,
                        int index_interval)
{
	size_t off = 0;
	batch_header_t h;
	int rc;

	while (off < len) {
		rc = batch_header_decode(buf + off, len - off, 0, &h, NULL, 0);
		if (rc)
			return STRAND_ECORRUPT;
		rc = segment_note_batch(seg, &h, seg->size + (int64_t)off, index_interval);
		if (rc)
			return rc;
		off += batch_total_size(&h);
	}
	seg->size += (int64_t)len;
	return 0;
}

int segment_persist_index(segment_t *seg, char *err, size_t errlen)
{
	uint8_t buf[4096];
	size_t n, i;

	while (seg->idx_persisted < seg->nidx) {
		n = 0;
		for (i = seg->idx_persisted; i < seg->nidx && n + INDEX_ENTRY_SIZE <= sizeof(buf); i++) {
			put_be32(buf + n, (uint32_t)seg->idx[i].rel);
			put_be32(buf + n + 4, (uint32_t)seg->idx[i].pos);
			n += INDEX_ENTRY_SIZE;
		}
		if (pwrite_all(seg->index_fd, buf, n,
		               (off_t)(seg->idx_persisted * INDEX_ENTRY_SIZE)) < 0)
			return io_error(err, errlen, "write index of", seg->path);
		seg->idx_persisted = i;
	}
	while (seg->tidx_persisted < seg->ntidx) {
		n = 0;
		for (i = seg->tidx_persisted; i < seg->ntidx && n + TIME_ENTRY_SIZE <= sizeof(buf); i++) {
			put_be64(buf + n, (uint64_t)seg->tidx[i].ts);
			put_be32(buf + n + 8, (uint32_t)seg->tidx[i].rel);
			n += TIME_ENTRY_SIZE;
		}
		if (pwrite_all(seg->time_fd, buf, n,
		               (off_t)(seg->tidx_persisted * TIME_ENTRY_SIZE)) < 0)
			return io_error(err, errlen, "write time index of", seg->path);
		seg->tidx_persisted = i;
	}
	return 0;
}

/* Rewrite both index files from the in-memory arrays. */
static int segment_rewrite_index(segment_t *seg, char *err, size_t errlen)
{
	if (ftruncate(seg->index_fd, 0) < 0 || ftruncate(seg->time_fd, 0) < 0)
		return io_error(err, errlen, "truncate index of", seg->path);
	seg->idx_persisted = 0;
	seg->tidx_persisted = 0;
	return segment_persist_index(seg, err, errlen);
}

int32_t segment_index_floor(const segment_t *seg, int64_t offset)
{
	size_t lo = 0, hi = seg->nidx;
	int64_t rel = offset - seg->base_offset;

	/* largest entry with entry.rel <= rel */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (seg->idx[mid].rel <= rel)
			lo = mid;
		else
			hi = mid;
	}
	if (seg->nidx == 0 || seg->idx[lo].rel > rel)
		return 0;
	return seg->idx[lo].pos;
}

int64_t segment_time_floor(const segment_t *seg, int64_t ts)
{
	size_t lo = 0, hi = seg->ntidx;

	/* Entry (T, O): every record in batches up to O has a timestamp <= T.
	 * The last entry with T < ts proves nothing before O qualifies. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (seg->tidx[mid].ts < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return seg->base_offset;
	return seg->base_offset + seg->tidx[lo - 1].rel;
}

/* ---- header reader (no lock: works on a descriptor) ---------------------- */

void seg_reader_init(seg_reader_t *r, int fd, off_t end, int sparse)
{
	r->fd = fd;
	r->sparse = sparse;
	r->end = end;
	r->buf_off = 0;
	r->buf_len = 0;
}

int seg_reader_header(seg_reader_t *r, off_t pos, batch_header_t *h,
                      char *err, size_t errlen)
{
	int rc;

	if (pos + BATCH_HEADER_SIZE > r->end)
		return STRAND_EAGAIN;
	if (pos < r->buf_off || pos + BATCH_HEADER_SIZE > r->buf_off + (off_t)r->buf_len) {
		size_t want = sizeof(r->buf);
		ssize_t n;

		if ((off_t)want > r->end - pos)
			want = (size_t)(r->end - pos);
		do {
			n = pread(r->fd, r->buf, want, pos);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			return strand_err_set(err, errlen, STRAND_EIO, "read at %lld: %s",
			                      (long long)pos, strerror(errno));
		r->buf_off = pos;
		r->buf_len = (size_t)n;
		if (n < BATCH_HEADER_SIZE)
			return STRAND_EAGAIN;   /* the file shrank under us */
	}
	rc = batch_header_decode(r->buf + (pos - r->buf_off), BATCH_HEADER_SIZE, 0,
	                         h, err, errlen);
	if (rc)
		return rc == STRAND_EAGAIN ? STRAND_ECORRUPT : rc;
	/* The one header field a header-only scan would otherwise believe
	 * blindly: how many offsets the batch covers. Every stored batch
	 * passed batch_validate, which holds it to record_count - 1, so a
	 * mismatch is damage (and a forged delta would move the LEO by up to
	 * 2^31 offsets at an open that reads only headers). */
	if (r->sparse ? h->last_offset_delta < (int64_t)h->record_count - 1
	              : h->record_count < 1 || h->last_offset_delta != h->record_count - 1)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "batch at byte %lld: last offset delta %d does not "
		                      "match record count %d", (long long)pos,
		                      h->last_offset_delta, h->record_count);
	if (pos + (off_t)batch_total_size(h) > r->end)
		return STRAND_EAGAIN;
	return 0;
}

/* ---- open, create, scan -------------------------------------------------- */

static int segment_alloc(const char *dir, int64_t base, const char *ext, int trunc,
                         int sparse, segment_t **out, char *err, size_t errlen)
{
	segment_t *seg = calloc(1, sizeof(*seg));
	char path[4096];
	int flags = O_RDWR | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : 0);

	if (seg == NULL)
		return STRAND_ENOMEM;
	seg->fd = seg->index_fd = seg->time_fd = -1;
	seg->base_offset = base;
	seg->next_offset = base;
	seg->sparse = sparse;
	seg->max_timestamp = -1;
	seg->first_timestamp = -1;
	{
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		seg->opened_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	}
	seg->path = segment_path(dir, base, ext);
	if (seg->path == NULL)
		goto nomem;
	seg->fd = open(seg->path, flags, 0644);
	if (seg->fd < 0)
		goto ioerr;
	if (sibling_path(seg, ".index", path, sizeof(path)) < 0)
		goto nomem;
	seg->index_fd = open(path, flags, 0644);
	if (seg->index_fd < 0)
		goto ioerr;
	if (sibling_path(seg, ".timeindex", path, sizeof(path)) < 0)
		goto nomem;
	seg->time_fd = open(path, flags, 0644);
	if (seg->time_fd < 0)
		goto ioerr;
	*out = seg;
	return 0;
ioerr:
	{
		int rc = io_error(err, errlen, "open", seg->path ? seg->path : dir);
		segment_close(seg, 0);
		return rc;
	}
nomem:
	segment_close(seg, 0);
	return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
}

int segment_create(const char *dir, int64_t base_offset, int sparse, segment_t **out,
                   char *err, size_t errlen)
{
	return segment_alloc(dir, base_offset, ".log", 1, sparse, out, err, errlen);
}

int segment_create_cleaned(const char *dir, int64_t base_offset, segment_t **out,
                           char *err, size_t errlen)
{
	return segment_alloc(dir, base_offset, SEGMENT_CLEANED_EXT, 1, 1, out, err, errlen);
}

int segment_set_path(segment_t *seg, const char *dir, char *err, size_t errlen)
{
	char *path = segment_path(dir, seg->base_offset, ".log");

	if (path == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	free(seg->path);
	seg->path = path;
	return 0;
}

int segment_sibling_path(const segment_t *seg, const char *ext, char *out, size_t n)
{
	return sibling_path(seg, ext, out, n);
}

static void segment_reset_index(segment_t *seg)
{
	seg->nidx = seg->ntidx = 0;
	seg->idx_persisted = seg->tidx_persisted = 0;
	seg->max_timestamp = -1;
	seg->first_timestamp = -1;
	seg->next_offset = seg->base_offset;
	seg->size = 0;
	seg->bytes_since_index = 0;
}

/*
 * Validate every batch from position 0 (CRC included) and rebuild the
 * indexes. Stops at the first batch that is torn, corrupt or out of
 * sequence and cuts the file there.
 */
static int segment_full_scan(segment_t *seg, int64_t file_size, int interval,
                             int *truncated, char *err, size_t errlen)
{
	const uint8_t *map = NULL;
	int64_t pos = 0;
	batch_header_t h;
	int rc = 0;

	segment_reset_index(seg);
	if (file_size > 0) {
		map = mmap(NULL, (size_t)file_size, PROT_READ, MAP_SHARED, seg->fd, 0);
		if (map == MAP_FAILED)
			return io_error(err, errlen, "mmap", seg->path);
	}
	while (pos < file_size) {
		if ((seg->sparse ? batch_validate_compacted : batch_validate)
		        (map + pos, (size_t)(file_size - pos), 0, &h, NULL, 0) != 0)
			break;
		/* offsets run on: contiguous, or (sparse) increasing past gaps */
		if (seg->sparse ? h.base_offset < seg->next_offset : h.base_offset != seg->next_offset)
			break;
		if (batch_last_offset(&h) - seg->base_offset > INT32_MAX)
			break;
		rc = segment_note_batch(seg, &h, pos, interval);
		if (rc)
			goto out;
		pos += (int64_t)batch_total_size(&h);
		seg->size = pos;
	}
	*truncated = pos < file_size;
	if (*truncated && ftruncate(seg->fd, pos) < 0) {
		rc = io_error(err, errlen, "truncate", seg->path);
		goto out;
	}
	rc = segment_rewrite_index(seg, err, errlen);
out:
	if (map != NULL)
		munmap((void *)map, (size_t)file_size);
	return rc;
}

/* Read a whole small file into a new buffer (caller frees). */
static int read_file(int fd, uint8_t **buf_out, size_t *len_out)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return STRAND_EIO;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return STRAND_ENOMEM;
	n = st.st_size ? pread(fd, buf, (size_t)st.st_size, 0) : 0;
	if (n != st.st_size) {
		free(buf);
		return STRAND_EIO;
	}
	*buf_out = buf;
	*len_out = (size_t)n;
	return 0;
}

/*
 * Load the index files and check them against the data file: sizes are
 * whole entries, offsets and positions strictly increase and stay inside
 * the file, and the last offset entry points at a batch header with the
 * offset it claims. Returns 0 when usable, STRAND_ECORRUPT when not.
 */
static int segment_load_index(segment_t *seg, int64_t file_size)
{
	uint8_t *ib = NULL, *tb = NULL;
	size_t ilen, tlen, i, n;
	int rc = STRAND_ECORRUPT;

	if (read_file(seg->index_fd, &ib, &ilen) || read_file(seg->time_fd, &tb, &tlen))
		goto out;
	if (ilen % INDEX_ENTRY_SIZE || tlen % TIME_ENTRY_SIZE)
		goto out;
	n = ilen / INDEX_ENTRY_SIZE;
	if (grow((void **)&seg->idx, &seg->capidx, n, sizeof(*seg->idx)))
		goto out;
	for (i = 0; i < n; i++) {
		int32_t rel = (int32_t)get_be32(ib + i * INDEX_ENTRY_SIZE);
		int32_t pos = (int32_t)get_be32(ib + i * INDEX_ENTRY_SIZE + 4);

		if (rel < 0 || pos < 0 || pos >= file_size)
			goto out;
		if (i == 0 && (pos != 0 || (rel != 0 && !seg->sparse)))
			goto out;
		if (i > 0 && (rel <= seg->idx[i - 1].rel || pos <= seg->idx[i - 1].pos))
			goto out;
		seg->idx[i].rel = rel;
		seg->idx[i].pos = pos;
	}
	seg->nidx = seg->idx_persisted = n;
	n = tlen / TIME_ENTRY_SIZE;
	if (grow((void **)&seg->tidx, &seg->captidx, n, sizeof(*seg->tidx)))
		goto out;
	for (i = 0; i < n; i++) {
		int64_t ts = (int64_t)get_be64(tb + i * TIME_ENTRY_SIZE);
		int32_t rel = (int32_t)get_be32(tb + i * TIME_ENTRY_SIZE + 8);

		if (rel < 0 || (i > 0 && (ts < seg->tidx[i - 1].ts || rel < seg->tidx[i - 1].rel)))
			goto out;
		if (seg->nidx == 0 || rel > seg->idx[seg->nidx - 1].rel)
			goto out;
		seg->tidx[i].ts = ts;
		seg->tidx[i].rel = rel;
	}
	seg->ntidx = seg->tidx_persisted = n;
	/* batch 0 always gets both entries: one index without the other is damage */
	if ((seg->nidx == 0) != (seg->ntidx == 0))
		goto out;
	rc = 0;
out:
	free(ib);
	free(tb);
	if (rc)
		segment_reset_index(seg);
	return rc;
}

/*
 * After a good index load: read headers from the last indexed batch to the
 * end of the file, adding the index entries the files lacked, and learn
 * next_offset and the largest timestamp. Returns STRAND_ECORRUPT when the
 * tail does not chain (the caller then falls back to a full scan).
 */
static int segment_tail_scan(segment_t *seg, int64_t file_size, int interval)
{
	seg_reader_t *r = malloc(sizeof(*r));
	batch_header_t h;
	int64_t pos;
	size_t keep_idx;
	int rc = 0;

	if (r == NULL)
		return STRAND_ENOMEM;
	seg_reader_init(r, seg->fd, file_size, seg->sparse);
	if (seg->nidx == 0) {
		pos = 0;
		seg->next_offset = seg->base_offset;
	} else {
		/* Re-note the last indexed batch so counters restart from it. */
		pos = seg->idx[seg->nidx - 1].pos;
		seg->next_offset = seg->base_offset + seg->idx[seg->nidx - 1].rel;
	}
	seg->max_timestamp = seg->ntidx ? seg->tidx[seg->ntidx - 1].ts : -1;
	keep_idx = seg->nidx;
	seg->bytes_since_index = 0;
	while (pos < file_size) {
		rc = seg_reader_header(r, pos, &h, NULL, 0);
		if (rc || (seg->sparse ? h.base_offset < seg->next_offset
		                       : h.base_offset != seg->next_offset)) {
			rc = STRAND_ECORRUPT;
			break;
		}
		if (keep_idx > 0 && pos == seg->idx[keep_idx - 1].pos) {
			/* the already indexed batch: account it without a new entry */
			if (seg->max_timestamp < h.max_timestamp)
				seg->max_timestamp = h.max_timestamp;
			seg->bytes_since_index = (int64_t)batch_total_size(&h);
			seg->next_offset = batch_last_offset(&h) + 1;
		} else if ((rc = segment_note_batch(seg, &h, pos, interval)) != 0) {
			break;
		}
		pos += (int64_t)batch_total_size(&h);
	}
	seg->size = pos;
	/* the first timestamp for segment_ms: the first time entry is batch 0's */
	seg->first_timestamp = seg->ntidx ? seg->tidx[0].ts : seg->max_timestamp;
	free(r);
	return rc;
}

int segment_open(const char *dir, int64_t base_offset, int full_scan,
                 int index_interval, int sparse, int *truncated_out, segment_t **out,
                 char *err, size_t errlen)
{
	segment_t *seg = NULL;
	struct stat st;
	int rc;

	*truncated_out = 0;
	rc = segment_alloc(dir, base_offset, ".log", 0, sparse, &seg, err, errlen);
	if (rc)
		return rc;
	if (fstat(seg->fd, &st) < 0) {
		rc = io_error(err, errlen, "stat", seg->path);
		goto fail;
	}
	if (!full_scan) {
		rc = segment_load_index(seg, st.st_size);
		if (rc == 0)
			rc = segment_tail_scan(seg, st.st_size, index_interval);
		if (rc == 0 && seg->size == st.st_size) {
			/* write back entries the tail scan had to recreate */
			rc = segment_persist_index(seg, err, errlen);
			if (rc)
				goto fail;
			*out = seg;
			return 0;
		}
		/* the indexes or the tail do not match the data: rebuild */
	}
	rc = segment_full_scan(seg, st.st_size, index_interval, truncated_out,
	                       err, errlen);
	if (rc)
		goto fail;
	*out = seg;
	return 0;
fail:
	segment_close(seg, 0);
	return rc;
}

void segment_close(segment_t *seg, int persist)
{
	if (seg == NULL)
		return;
	if (persist && seg->index_fd >= 0)
		(void)segment_persist_index(seg, NULL, 0);
	if (seg->fd >= 0)
		close(seg->fd);
	if (seg->index_fd >= 0)
		close(seg->index_fd);
	if (seg->time_fd >= 0)
		close(seg->time_fd);
	free(seg->idx);
	free(seg->tidx);
	free(seg->path);
	free(seg);
}

void segment_delete(segment_t *seg)
{
	char path[4096];

	if (seg == NULL)
		return;
	if (seg->path != NULL) {
		unlink(seg->path);
		if (sibling_path(seg, ".index", path, sizeof(path)) == 0)
			unlink(path);
		if (sibling_path(seg, ".timeindex", path, sizeof(path)) == 0)
			unlink(path);
	}
	segment_close(seg, 0);
}

/* ---- truncation ---------------------------------------------------------- */

int segment_truncate(segment_t *seg, off_t pos, int64_t next_offset,
                     char *err, size_t errlen)
{
	int32_t rel = (int32_t)(next_offset - seg->base_offset);
	int64_t size;
	int rc;

	if (ftruncate(seg->fd, pos) < 0)
		return io_error(err, errlen, "truncate", seg->path);
	/* keep index entries strictly below the cut, then re-read the tail */
	while (seg->nidx > 0 && seg->idx[seg->nidx - 1].pos >= pos)
		seg->nidx--;
	while (seg->ntidx > 0 && seg->tidx[seg->ntidx - 1].rel >= rel)
		seg->ntidx--;
	if (seg->idx_persisted > seg->nidx)
		seg->idx_persisted = seg->nidx;
	if (seg->tidx_persisted > seg->ntidx)
		seg->tidx_persisted = seg->ntidx;
	if (ftruncate(seg->index_fd, (off_t)(seg->idx_persisted * INDEX_ENTRY_SIZE)) < 0 ||
	    ftruncate(seg->time_fd, (off_t)(seg->tidx_persisted * TIME_ENTRY_SIZE)) < 0)
		return io_error(err, errlen, "truncate index of", seg->path);
	size = pos;
	if (seg->nidx == 0) {
		segment_reset_index(seg);
		if (size == 0)
			return 0;
	}
	rc = segment_tail_scan(seg, size, INT32_MAX);
	/* sparse: a gap may lie before the cut, so the log ends below it */
	if (rc == 0 && seg->sparse && seg->next_offset < next_offset)
		return 0;
	if (rc || seg->next_offset != next_offset)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: truncation at byte %lld left no batch boundary",
		                      seg->path, (long long)pos);
	return 0;
}

int segment_sync(int fd, char *err, size_t errlen)
{
	if (fdatasync(fd) < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "fdatasync: %s",
		                      strerror(errno));
	return 0;
}
