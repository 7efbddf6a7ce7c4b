/*
 * log.c — the partition log: an ordered list of segments, the append path
 * that assigns offsets, reads that hand out file ranges for sendfile, lookup
 * by timestamp, retention, truncation, the leader-epoch cache and
 * group-committed flushes. The contract is in log.h; the bytes in
 * docs/FORMAT.md.
 */
#include "log/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/file.h"
#include "log/batch.h"
#include "log/cleaner.h"
#include "log/segment.h"

#define EPOCH_FILE     "leader-epoch-checkpoint"
#define RECOVERY_FILE  "recovery-point-offset-checkpoint"
#define CLEANER_FILE   "cleaner-offset-checkpoint"   /* compacted logs: clean_offset */

typedef struct epoch_entry {
	int32_t epoch;
	int64_t start_offset;
} epoch_entry_t;

struct log {
	char        *dir;
	log_config_t cfg;
	int          compact;      /* cfg.compact at open; never changes, read without a lock */

	/* lock guards everything below up to the flush section */
	pthread_mutex_t lock;
	segment_t **segs;          /* ascending base offsets; the last is active */
	size_t      nsegs, capsegs;
	int64_t     size_bytes;
	int64_t     unflushed_records;
	epoch_entry_t *epochs;     /* ascending epochs and start offsets */
	size_t      nepochs, capepochs;
	uint64_t    layout;        /* bumped whenever closed segments change (retention,
	                              truncation, a compaction's swap) */
	int64_t     clean_offset;  /* log_compact: offsets below it were cleaned */

	/* group commit: flush_lock + flush_cond; never held across the fsync */
	pthread_mutex_t flush_lock;
	pthread_cond_t  flush_cond;
	int         flushing;
	int64_t     flushed_offset;
	int64_t     last_flush_ms;
	int64_t     checkpointed;  /* recovery point last written to disk */

	/* fsync failure fence (log_flush): set once, never cleared while open */
	atomic_int  write_failed;
	atomic_int  inject_sync_failure;
};

/* ---- helpers ------------------------------------------------------------- */

/* The answer of a log fenced by a failed fsync (log.h, log_flush). */
static int log_fenced_error(log_t *log, char *err, size_t errlen)
{
	return strand_err_set(err, errlen, STRAND_EIO,
	                      "an fsync of %s failed earlier: the partition takes no writes "
	                      "until the broker restarts and recovers it", log->dir);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static segment_t *active(log_t *log)
{
	return log->segs[log->nsegs - 1];
}

static int64_t leo_locked(log_t *log)
{
	return active(log)->next_offset;
}

static int segs_push(log_t *log, segment_t *seg)
{
	if (log->nsegs == log->capsegs) {
		size_t ncap = log->capsegs ? log->capsegs * 2 : 16;
		segment_t **p = realloc(log->segs, ncap * sizeof(*p));
		if (p == NULL)
			return STRAND_ENOMEM;
		log->segs = p;
		log->capsegs = ncap;
	}
	log->segs[log->nsegs++] = seg;
	return 0;
}

/* Remove the first n segments from the list (they are already deleted). */
static void segs_drop_front(log_t *log, size_t n)
{
	memmove(log->segs, log->segs + n, (log->nsegs - n) * sizeof(*log->segs));
	log->nsegs -= n;
}

/* Segment holding offset: the last one whose base <= offset. */
static size_t seg_find(log_t *log, int64_t offset)
{
	size_t lo = 0, hi = log->nsegs;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (log->segs[mid]->base_offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Write a small file atomically: temp file, fsync, rename, fsync the
 * directory. Used for the checkpoints, which are rare.
 */
static int write_atomic(const char *dir, const char *name, const char *text,
                        char *err, size_t errlen)
{
	char tmp[4096], dst[4096];
	size_t len = strlen(text);
	int fd;

	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (rename(tmp, dst) < 0)
		goto fail;
	(void)file_fsync_dir(dir);
	return 0;
fail:
	return strand_err_set(err, errlen, errno == ENOSPC ? STRAND_ENOSPC : STRAND_EIO,
	                      "write %s: %s", dst, strerror(errno));
}

/* ---- configuration ------------------------------------------------------- */

void log_config_default(log_config_t *cfg)
{
	cfg->segment_bytes = 1024LL * 1024 * 1024;      /* log.segment.bytes */
	cfg->segment_ms = 7LL * 24 * 3600 * 1000;       /* log.roll.ms */
	cfg->retention_ms = 7LL * 24 * 3600 * 1000;     /* log.retention.ms */
	cfg->retention_bytes = -1;                      /* log.retention.bytes */
	cfg->flush_messages = -1;                       /* log.flush.interval.messages */
	cfg->flush_ms = -1;                             /* log.flush.interval.ms */
	cfg->index_interval_bytes = 4096;               /* index.interval.bytes */
	cfg->max_batch_bytes = 1048588;                 /* message.max.bytes */
	cfg->compact = 0;                               /* cleanup.policy=delete */
}

static int config_check(const log_config_t *cfg, char *err, size_t errlen)
{
	/* index positions are int32: a segment must stay below 2 GiB */
	if (cfg->segment_bytes < 1024 || cfg->segment_bytes > INT32_MAX)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "segment_bytes must be in [1024, %d]", INT32_MAX);
	if (cfg->segment_ms == 0 || cfg->segment_ms < -1)
		return strand_err_set(err, errlen, STRAND_EINVAL, "segment_ms must be > 0 or -1");
	if (cfg->retention_ms < -1 || cfg->retention_bytes < -1)
		return strand_err_set(err, errlen, STRAND_EINVAL, "retention must be >= 0 or -1");
	if (cfg->flush_messages == 0 || cfg->flush_messages < -1 ||
	    cfg->flush_ms == 0 || cfg->flush_ms < -1)
		return strand_err_set(err, errlen, STRAND_EINVAL, "flush settings must be > 0 or -1");
	if (cfg->index_interval_bytes < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "index_interval_bytes must be >= 0");
	if (cfg->max_batch_bytes < BATCH_HEADER_SIZE)
		return strand_err_set(err, errlen, STRAND_EINVAL, "max_batch_bytes too small");
	return 0;
}

int log_set_config(log_t *log, const log_config_t *cfg, char *err, size_t errlen)
{
	int rc = config_check(cfg, err, errlen);

	if (rc)
		return rc;
	pthread_mutex_lock(&log->lock);
	log->cfg = *cfg;
	log->cfg.compact = log->compact;   /* fixed at open: it decides what recovery accepts */
	pthread_mutex_unlock(&log->lock);
	return 0;
}

/* ---- checkpoints --------------------------------------------------------- */

/* An offset checkpoint (version 0, offset); 0 when missing or unreadable. */
static int64_t read_offset_checkpoint(const char *dir, const char *name)
{
	char path[4096];
	long long version, offset;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fscanf(f, "%lld %lld", &version, &offset);
	fclose(f);
	if (n != 2 || version != 0 || offset < 0)
		return 0;
	return offset;
}

static int write_offset_checkpoint(log_t *log, const char *name, int64_t offset,
                                   char *err, size_t errlen)
{
	char text[64];

	snprintf(text, sizeof(text), "0\n%" PRId64 "\n", offset);
	return write_atomic(log->dir, name, text, err, errlen);
}

static int write_recovery_point(log_t *log, int64_t offset, char *err, size_t errlen)
{
	return write_offset_checkpoint(log, RECOVERY_FILE, offset, err, errlen);
}

/*
 * After a truncation (lock held): a cleaner checkpoint past the new end
 * would count what is appended next as clean; start over (all dirty), as
 * Kafka resets its cleaner checkpoint then.
 */
static int clean_offset_truncated_locked(log_t *log, char *err, size_t errlen)
{
	if (!log->compact || log->clean_offset <= leo_locked(log))
		return 0;
	log->clean_offset = log->segs[0]->base_offset;
	return write_offset_checkpoint(log, CLEANER_FILE, log->clean_offset, err, errlen);
}

/* Kafka's leader-epoch-checkpoint: version, count, then "epoch start" lines. */
static int write_epochs_locked(log_t *log, char *err, size_t errlen)
{
	size_t cap = 32 + log->nepochs * 40, n, i;
	char *text = malloc(cap);
	int rc;

	if (text == NULL)
		return STRAND_ENOMEM;
	n = (size_t)snprintf(text, cap, "0\n%zu\n", log->nepochs);
	for (i = 0; i < log->nepochs; i++)
		n += (size_t)snprintf(text + n, cap - n, "%d %" PRId64 "\n",
		                      log->epochs[i].epoch, log->epochs[i].start_offset);
	rc = write_atomic(log->dir, EPOCH_FILE, text, err, errlen);
	free(text);
	return rc;
}

static int epochs_push(log_t *log, int32_t epoch, int64_t start)
{
	if (log->nepochs == log->capepochs) {
		size_t ncap = log->capepochs ? log->capepochs * 2 : 8;
		epoch_entry_t *p = realloc(log->epochs, ncap * sizeof(*p));
		if (p == NULL)
			return STRAND_ENOMEM;
		log->epochs = p;
		log->capepochs = ncap;
	}
	log->epochs[log->nepochs].epoch = epoch;
	log->epochs[log->nepochs].start_offset = start;
	log->nepochs++;
	return 0;
}

static int read_epochs(log_t *log)
{
	char path[4096];
	long long version, count, epoch, start;
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", log->dir, EPOCH_FILE);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%lld %lld", &version, &count) != 2 || version != 0)
		goto out;
	while (count-- > 0 && fscanf(f, "%lld %lld", &epoch, &start) == 2) {
		if (epoch < 0 || epoch > INT32_MAX || start < 0)
			break;
		if (log->nepochs > 0 &&
		    (epoch <= log->epochs[log->nepochs - 1].epoch ||
		     start < log->epochs[log->nepochs - 1].start_offset))
			break;
		rc = epochs_push(log, (int32_t)epoch, start);
		if (rc)
			break;
	}
out:
	fclose(f);
	return rc;
}

/* Drop epoch entries that start at or after leo (after truncation). */
static int epochs_truncate_locked(log_t *log, int64_t leo, char *err, size_t errlen)
{
	size_t n = log->nepochs;

	while (log->nepochs > 0 && log->epochs[log->nepochs - 1].start_offset >= leo)
		log->nepochs--;
	if (n == log->nepochs)
		return 0;
	return write_epochs_locked(log, err, errlen);
}

/* ---- open / close -------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Base offsets of the *.log files in dir, sorted (caller frees *out). */
static int list_segments(const char *dir, int64_t **out, size_t *n_out,
                         char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int64_t *bases = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL)
		return strand_err_set(err, errlen, STRAND_EIO, "opendir %s: %s",
		                      dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		char *end;
		long long base;

		if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0)
			continue;
		errno = 0;
		base = strtoll(name, &end, 10);
		if (errno || end != name + 20 || base < 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			int64_t *p = realloc(bases, ncap * sizeof(*p));
			if (p == NULL) {
				closedir(d);
				free(bases);
				return STRAND_ENOMEM;
			}
			bases = p;
			cap = ncap;
		}
		bases[n++] = base;
	}
	closedir(d);
	if (n > 1)
		qsort(bases, n, sizeof(*bases), cmp_i64);
	*out = bases;
	*n_out = n;
	return 0;
}

/* ---- compaction swaps: names and recovery -------------------------------- */

/* "<dir>/<20-digit base>-<20-digit end>.swap": a committed compaction group. */
#define SWAP_NAME_LEN 46

static void swap_path(const char *dir, int64_t base, int64_t end, char *out, size_t n)
{
	snprintf(out, n, "%s/%020" PRId64 "-%020" PRId64 ".swap", dir, base, end);
}

static void seg_file_path(const char *dir, int64_t base, const char *ext, char *out, size_t n)
{
	snprintf(out, n, "%s/%020" PRId64 "%s", dir, base, ext);
}

/* Unlink the three files of the segment based at base; missing ones are fine. */
static void seg_files_unlink(const char *dir, int64_t base)
{
	static const char *const exts[] = { ".log", ".index", ".timeindex" };
	char path[4096];

	for (size_t i = 0; i < 3; i++) {
		seg_file_path(dir, base, exts[i], path, sizeof(path));
		(void)unlink(path);
	}
}

/*
 * Before the segments are listed (log_compact's protocol, log.h): files of
 * an uncommitted group (<base>.cleaned.*) are deleted; a committed one
 * (<base>-<end>.swap) is finished: every segment based in [base, end) is
 * deleted and the .swap becomes <base>.log (its indexes are rebuilt by the
 * open that follows). Idempotent: a crash in here is recovered the same way.
 */
static int compact_recover(const char *dir, char *err, size_t errlen)
{
	int64_t swaps[64][2], *bases = NULL;
	size_t nswaps = 0, n = 0;
	char path[4096], dst[4096];
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL)
		return strand_err_set(err, errlen, STRAND_EIO, "opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		long long base, end;

		if (strlen(name) > 20 && strncmp(name + 20, ".cleaned.", 9) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			(void)unlink(path);
		} else if (strlen(name) == SWAP_NAME_LEN && name[20] == '-' &&
		           strcmp(name + 41, ".swap") == 0 && nswaps < 64 &&
		           sscanf(name, "%20lld-%20lld", &base, &end) == 2 && base >= 0 &&
		           end > base) {
			swaps[nswaps][0] = base;
			swaps[nswaps][1] = end;
			nswaps++;
		}
	}
	closedir(d);
	if (nswaps == 0)
		return 0;
	rc = list_segments(dir, &bases, &n, err, errlen);
	for (size_t s = 0; rc == 0 && s < nswaps; s++) {
		for (size_t i = 0; i < n; i++)
			if (bases[i] >= swaps[s][0] && bases[i] < swaps[s][1])
				seg_files_unlink(dir, bases[i]);
		swap_path(dir, swaps[s][0], swaps[s][1], path, sizeof(path));
		seg_file_path(dir, swaps[s][0], ".log", dst, sizeof(dst));
		if (rename(path, dst) < 0)
			rc = strand_err_set(err, errlen, STRAND_EIO, "rename %s: %s", path,
			                    strerror(errno));
		else
			fprintf(stderr, "strand: %s: finished the compaction of offsets %lld..%lld "
			        "that a crash interrupted\n", dir, (long long)swaps[s][0],
			        (long long)swaps[s][1] - 1);
	}
	if (rc == 0 && file_fsync_dir(dir) < 0)
		rc = strand_err_set(err, errlen, STRAND_EIO, "fsync %s: %s", dir, strerror(errno));
	free(bases);
	return rc;
}

/*
 * Recovery (DESIGN.md "Crash recovery"): every segment that may hold
 * offsets at or past the recovery point, and always the last one, is
 * scanned batch by batch with CRC checks; older segments only have their
 * indexes checked. The first bad batch ends the log: its segment is cut
 * there and every later segment is deleted, so the log never has a hole.
 */
static int log_recover(log_t *log, char *err, size_t errlen)
{
	int64_t *bases = NULL, recovery_point = read_offset_checkpoint(log->dir, RECOVERY_FILE);
	size_t n = 0, i;
	int rc, truncated = 0;

	rc = compact_recover(log->dir, err, errlen);
	if (rc == 0)
		rc = list_segments(log->dir, &bases, &n, err, errlen);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		segment_t *seg = NULL;
		int full = i + 1 == n || bases[i + 1] > recovery_point;

		if (!truncated && log->compact && log->nsegs > 0 && bases[i] < leo_locked(log)) {
			/* inside the previous segment: an old segment a finished
			 * compaction swap could not unlink (debris, not a cut) */
			segment_t *old = NULL;

			if (segment_open(log->dir, bases[i], 0, log->cfg.index_interval_bytes, 1,
			                 &truncated, &old, NULL, 0) == 0)
				segment_delete(old);
			truncated = 0;
			continue;
		}

		if (truncated || (log->nsegs > 0 && bases[i] != leo_locked(log))) {
			/* after a cut, or not following on: this segment cannot be trusted */
			rc = segment_open(log->dir, bases[i], 1, log->cfg.index_interval_bytes,
			                  log->compact, &truncated, &seg, err, errlen);
			if (rc == 0)
				segment_delete(seg);
			truncated = 1;
			continue;
		}
		rc = segment_open(log->dir, bases[i], full, log->cfg.index_interval_bytes,
		                  log->compact, &truncated, &seg, err, errlen);
		if (rc)
			goto out;
		rc = segs_push(log, seg);
		if (rc) {
			segment_close(seg, 0);
			goto out;
		}
		log->size_bytes += seg->size;
	}
	if (log->nsegs == 0) {
		segment_t *seg = NULL;

		rc = segment_create(log->dir, 0, log->compact, &seg, err, errlen);
		if (rc)
			goto out;
		rc = segs_push(log, seg);
		if (rc) {
			segment_close(seg, 0);
			goto out;
		}
	}
	rc = read_epochs(log);
	if (rc == 0)
		rc = epochs_truncate_locked(log, leo_locked(log), err, errlen);
out:
	free(bases);
	return rc;
}

int log_open(const char *dir, const log_config_t *cfg, log_t **out,
             char *err, size_t errlen)
{
	log_t *log;
	int rc;

	rc = config_check(cfg, err, errlen);
	if (rc)
		return rc;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return strand_err_set(err, errlen, STRAND_EIO, "mkdir %s: %s",
		                      dir, strerror(errno));
	log = calloc(1, sizeof(*log));
	if (log == NULL || (log->dir = strdup(dir)) == NULL) {
		free(log);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	log->cfg = *cfg;
	log->compact = cfg->compact;
	pthread_mutex_init(&log->lock, NULL);
	pthread_mutex_init(&log->flush_lock, NULL);
	pthread_cond_init(&log->flush_cond, NULL);
	rc = log_recover(log, err, errlen);
	if (rc) {
		log_close(log);
		return rc;
	}
	/* What recovery accepted is what the disk holds: treat it as flushed. */
	log->flushed_offset = leo_locked(log);
	if (log->compact) {
		log->clean_offset = read_offset_checkpoint(dir, CLEANER_FILE);
		if (log->clean_offset > leo_locked(log))
			log->clean_offset = log->segs[0]->base_offset;
	}
	log->checkpointed = -1;
	log->last_flush_ms = wall_ms();
	*out = log;
	return 0;
}

void log_close(log_t *log)
{
	size_t i;

	if (log == NULL)
		return;
	if (log->nsegs > 0) {
		(void)log_flush(log, -1, NULL, 0);
		for (i = 0; i < log->nsegs; i++)
			(void)segment_persist_index(log->segs[i], NULL, 0);
		(void)write_recovery_point(log, log->flushed_offset, NULL, 0);
	}
	for (i = 0; i < log->nsegs; i++)
		segment_close(log->segs[i], 0);
	free(log->segs);
	free(log->epochs);
	pthread_mutex_destroy(&log->lock);
	pthread_mutex_destroy(&log->flush_lock);
	pthread_cond_destroy(&log->flush_cond);
	free(log->dir);
	free(log);
}

/* ---- append -------------------------------------------------------------- */

/* Start a new active segment at the LEO. Caller holds the lock. */
static int roll_locked(log_t *log, char *err, size_t errlen)
{
	segment_t *seg = NULL, *old = active(log);
	int rc;

	if (old->size == 0)
		return 0;
	/* The old segment's index is complete now: write it out. */
	rc = segment_persist_index(old, err, errlen);
	if (rc)
		return rc;
	rc = segment_create(log->dir, old->next_offset, log->compact, &seg, err, errlen);
	if (rc)
		return rc;
	rc = segs_push(log, seg);
	if (rc) {
		segment_delete(seg);
		return strand_err_set(err, errlen, rc, "out of memory");
	}
	return 0;
}

/*
 * segment_ms (Kafka's log.roll.ms): on append, a segment is old when the
 * incoming batch's timestamp is segment_ms past the segment's first batch
 * (Kafka's rollingBasedTimestamp); in log_tick, when the segment has been
 * open that long by the wall clock and its records are that old too, so
 * producers sending old timestamps cannot cause a roll per tick.
 */
static int segment_expired(const log_t *log, const segment_t *seg, int64_t ts)
{
	return log->cfg.segment_ms > 0 && seg->size > 0 &&
	       seg->first_timestamp >= 0 && ts - seg->first_timestamp >= log->cfg.segment_ms;
}

/* How an append treats the batches it is given. */
typedef enum append_mode {
	APPEND_LEADER,    /* log_append: validated, offsets and epoch assigned here */
	APPEND_BUILT,     /* log_append_built: our own builder's output, offsets assigned */
	APPEND_REPLICA,   /* log_append_replica: validated, offsets and epochs kept */
} append_mode_t;

/* What validation learnt about a buffer of batches. */
typedef struct append_plan {
	int64_t records, max_ts;
	int64_t first_offset, last_offset;   /* APPEND_REPLICA: as the batches carry them */
	int32_t first_epoch, last_epoch;     /* APPEND_REPLICA */
} append_plan_t;

/*
 * A replica's batches must follow one another as the leader stored them:
 * contiguous offsets, and partition leader epochs >= 0 that never go down
 * (the leader's epoch cache only grows).
 */
static int replica_batch_check(const batch_header_t *h, size_t off, int first, int sparse,
                               append_plan_t *plan, char *err, size_t errlen)
{
	if (h->leader_epoch < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "batch at byte %zu carries no leader epoch (%d)",
		                      off, (int)h->leader_epoch);
	if (first) {
		plan->first_offset = h->base_offset;
		plan->first_epoch = h->leader_epoch;
	} else if (sparse ? h->base_offset <= plan->last_offset
	                  : h->base_offset != plan->last_offset + 1) {
		/* a compacted leader's batches may skip offsets, never go back */
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "batch at byte %zu starts at offset %" PRId64 ", not %" PRId64
		                      " right after the previous batch", off, h->base_offset,
		                      plan->last_offset + 1);
	} else if (h->leader_epoch < plan->last_epoch) {
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "batch at byte %zu has leader epoch %d, below the previous "
		                      "batch's %d", off, (int)h->leader_epoch, (int)plan->last_epoch);
	}
	if (h->base_offset > INT64_MAX - h->last_offset_delta)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "batch at byte %zu: offsets past INT64_MAX", off);
	plan->last_offset = batch_last_offset(h);
	plan->last_epoch = h->leader_epoch;
	return 0;
}

/*
 * Validate every batch before anything is written, so a bad batch anywhere
 * in the buffer leaves the log untouched (all or nothing). A replica's
 * batches are not held to max_batch_bytes: the leader accepted them under
 * its configuration, and a follower refusing one would stop replicating
 * the partition for good (Kafka's followers skip the size check too).
 */
static int validate_batches(log_t *log, const uint8_t *buf, size_t len, append_mode_t mode,
                            append_plan_t *plan, char *err, size_t errlen)
{
	size_t off = 0, max = mode == APPEND_REPLICA ? 0 : (size_t)log->cfg.max_batch_bytes;
	batch_header_t h;
	int rc;

	plan->records = 0;
	plan->max_ts = -1;
	if (len == 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "no batch to append");
	while (off < len) {
		rc = batch_header_decode(buf + off, len - off, 0, &h, err, errlen);
		if (rc == STRAND_EAGAIN)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "batch at byte %zu: truncated header", off);
		if (rc)
			return rc;
		if (max > 0 && batch_total_size(&h) > max)
			return strand_err_set(err, errlen, STRAND_ETOOBIG,
			                      "batch at byte %zu is %zu bytes, over the limit of %zu",
			                      off, batch_total_size(&h), max);
		if (mode == APPEND_BUILT && batch_total_size(&h) > len - off)
			rc = STRAND_EAGAIN;
		else if (mode == APPEND_BUILT)
			rc = 0;      /* our own builder's output: CRC and records are right */
		else if (mode == APPEND_REPLICA && log->compact)
			rc = batch_validate_compacted(buf + off, len - off, max, &h, err, errlen);
		else
			rc = batch_validate(buf + off, len - off, max, &h, err, errlen);
		if (rc == STRAND_EAGAIN)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "batch at byte %zu: truncated", off);
		if (rc == 0 && mode == APPEND_REPLICA)
			rc = replica_batch_check(&h, off, off == 0, log->compact, plan, err, errlen);
		if (rc)
			return rc;
		plan->records += h.record_count;
		if (h.max_timestamp > plan->max_ts)
			plan->max_ts = h.max_timestamp;
		off += batch_total_size(&h);
	}
	return 0;
}

/*
 * Write len bytes of validated batches whose last offset is last_offset at
 * the LEO, rolling first when the active segment is full, too old, or could
 * not index last_offset (relative offsets are int32), and index them.
 * A failed write is undone (all or nothing). Lock held. Hot path.
 */
static int write_batches_locked(log_t *log, const uint8_t *buf, size_t len,
                                int64_t last_offset, int64_t max_ts, char *err, size_t errlen)
{
	segment_t *seg = active(log);
	const uint8_t *p = buf;
	size_t left = len;
	off_t pos;
	int rc;

	if ((seg->size > 0 && seg->size + (int64_t)len > log->cfg.segment_bytes) ||
	    segment_expired(log, seg, max_ts) ||
	    last_offset - seg->base_offset > INT32_MAX) {
		rc = roll_locked(log, err, errlen);
		if (rc)
			return rc;
		seg = active(log);
	}
	pos = (off_t)seg->size;
	while (left > 0) {
		ssize_t n = pwrite(seg->fd, p, left, pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			/* undo a partial write: all or nothing */
			(void)ftruncate(seg->fd, (off_t)seg->size);
			return strand_err_set(err, errlen,
			                      (e == ENOSPC || e == EDQUOT) ? STRAND_ENOSPC : STRAND_EIO,
			                      "append to %s: %s", seg->path, strerror(e));
		}
		p += n; left -= (size_t)n; pos += n;
	}
	rc = segment_note_append(seg, buf, len, log->cfg.index_interval_bytes);
	if (rc)
		return rc;
	log->size_bytes += (int64_t)len;
	return 0;
}

/*
 * After a write: count unflushed records (flush_messages) and fill info.
 * Returns whether the caller must flush. Lock held.
 */
static int append_done_locked(log_t *log, const append_plan_t *plan, int64_t first,
                              log_append_info_t *info)
{
	int need_flush = 0;

	log->unflushed_records += plan->records;
	if (log->cfg.flush_messages > 0 && log->unflushed_records >= log->cfg.flush_messages) {
		need_flush = 1;
		log->unflushed_records = 0;
	}
	if (info != NULL) {
		info->first_offset = first;
		info->last_offset = leo_locked(log) - 1;
		info->record_count = plan->records;
		info->max_timestamp = plan->max_ts;
	}
	return need_flush;
}

/* Hot path: validation, one pwrite, one in-memory index update per batch. */
static int log_append_batches(log_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
                              append_mode_t mode, log_append_info_t *info,
                              char *err, size_t errlen)
{
	append_plan_t plan;
	batch_header_t h;
	int64_t offset, first, leo_after = 0;
	size_t off;
	int rc, need_flush = 0;

	if (leader_epoch < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "leader epoch must be >= 0");
	if (atomic_load_explicit(&log->write_failed, memory_order_relaxed))
		return log_fenced_error(log, err, errlen);
	rc = validate_batches(log, buf, len, mode, &plan, err, errlen);
	if (rc)
		return rc;

	pthread_mutex_lock(&log->lock);
	if (log->nepochs > 0 && leader_epoch < log->epochs[log->nepochs - 1].epoch) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL,
		                    "leader epoch %d is older than the log's %d",
		                    leader_epoch, log->epochs[log->nepochs - 1].epoch);
		goto out;
	}
	first = offset = leo_locked(log);
	for (off = 0; off < len; off += batch_total_size(&h)) {
		(void)batch_header_decode(buf + off, len - off, 0, &h, NULL, 0);
		batch_set_base_offset(buf + off, offset);
		batch_set_leader_epoch(buf + off, leader_epoch);
		offset += h.last_offset_delta + 1;
	}
	rc = write_batches_locked(log, buf, len, offset - 1, plan.max_ts, err, errlen);
	if (rc)
		goto out;
	if (log->nepochs == 0 || leader_epoch > log->epochs[log->nepochs - 1].epoch) {
		/* KIP-101: remember where each epoch starts (rare: once per epoch) */
		rc = epochs_push(log, leader_epoch, first);
		if (rc == 0)
			rc = write_epochs_locked(log, err, errlen);
		if (rc)
			goto out;
	}
	need_flush = append_done_locked(log, &plan, first, info);
	leo_after = leo_locked(log);
out:
	pthread_mutex_unlock(&log->lock);
	if (rc == 0 && need_flush)
		rc = log_flush(log, leo_after, err, errlen);
	return rc;
}

int log_append(log_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
               log_append_info_t *info, char *err, size_t errlen)
{
	return log_append_batches(log, buf, len, leader_epoch, APPEND_LEADER, info, err, errlen);
}

int log_append_built(log_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
                     log_append_info_t *info, char *err, size_t errlen)
{
	return log_append_batches(log, buf, len, leader_epoch, APPEND_BUILT, info, err, errlen);
}

/*
 * A follower's append (KIP-101): the batches keep the offsets and epochs
 * the leader gave them, and every epoch they bring that is newer than the
 * log's latest gets an entry starting at its first batch, so the follower's
 * epoch cache matches the leader's for everything it holds.
 */
int log_append_replica(log_t *log, const uint8_t *buf, size_t len,
                       log_append_info_t *info, char *err, size_t errlen)
{
	append_plan_t plan;
	batch_header_t h;
	int64_t leo, leo_after = 0;
	size_t off, nepochs_before;
	int rc, need_flush = 0;

	if (atomic_load_explicit(&log->write_failed, memory_order_relaxed))
		return log_fenced_error(log, err, errlen);
	rc = validate_batches(log, buf, len, APPEND_REPLICA, &plan, err, errlen);
	if (rc)
		return rc;

	pthread_mutex_lock(&log->lock);
	leo = leo_locked(log);
	nepochs_before = log->nepochs;
	/* a compacted leader may have removed what follows our LEO */
	if (log->compact ? plan.first_offset < leo : plan.first_offset != leo) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL,
		                    "the first batch starts at offset %" PRId64 ", but the log "
		                    "ends at %" PRId64, plan.first_offset, leo);
		goto out;
	}
	if (log->nepochs > 0 && plan.first_epoch < log->epochs[log->nepochs - 1].epoch) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL,
		                    "leader epoch %d is older than the log's %d",
		                    (int)plan.first_epoch, log->epochs[log->nepochs - 1].epoch);
		goto out;
	}
	rc = write_batches_locked(log, buf, len, plan.last_offset, plan.max_ts, err, errlen);
	if (rc)
		goto out;
	for (off = 0; off < len && rc == 0; off += batch_total_size(&h)) {
		(void)batch_header_decode(buf + off, len - off, 0, &h, NULL, 0);
		if (log->nepochs == 0 || h.leader_epoch > log->epochs[log->nepochs - 1].epoch)
			rc = epochs_push(log, h.leader_epoch, h.base_offset);
	}
	if (rc == 0 && log->nepochs != nepochs_before)
		rc = write_epochs_locked(log, err, errlen);
	if (rc)
		goto out;
	need_flush = append_done_locked(log, &plan, leo, info);
	leo_after = leo_locked(log);
out:
	pthread_mutex_unlock(&log->lock);
	if (rc == 0 && need_flush)
		rc = log_flush(log, leo_after, err, errlen);
	return rc;
}

/* ---- read ---------------------------------------------------------------- */

void log_slice_release(log_slice_t *slice)
{
	if (slice->fd >= 0)
		close(slice->fd);
	slice->fd = -1;
	slice->len = 0;
}

int log_read(log_t *log, int64_t offset, size_t max_bytes, int64_t max_offset,
             log_slice_t *out, char *err, size_t errlen)
{
	seg_reader_t *r = NULL;
	segment_t *seg;
	batch_header_t h;
	int64_t start, leo, end_size;
	off_t pos, first_pos = -1;
	int fd, rc = 0;

	out->fd = -1;
	out->pos = 0;
	out->len = 0;
	out->first_offset = offset;
	out->next_offset = offset;

	pthread_mutex_lock(&log->lock);
	start = log->segs[0]->base_offset;
	leo = leo_locked(log);
	if (offset < start || offset > leo) {
		pthread_mutex_unlock(&log->lock);
		return strand_err_set(err, errlen, STRAND_ERANGE,
		                      "offset %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]",
		                      offset, start, leo);
	}
	if (max_offset < 0 || max_offset > leo)
		max_offset = leo;
	if (offset >= max_offset) {
		pthread_mutex_unlock(&log->lock);
		return 0;
	}
	seg = log->segs[seg_find(log, offset)];
	pos = segment_index_floor(seg, offset);
	end_size = seg->size;
	fd = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&log->lock);
	if (fd < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "dup: %s", strerror(errno));

	/* The lock is released: scan headers on our own descriptor. */
	r = malloc(sizeof(*r));
	if (r == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto fail;
	}
	seg_reader_init(r, fd, end_size, log->compact);
	while ((rc = seg_reader_header(r, pos, &h, err, errlen)) == 0) {
		if (h.base_offset >= max_offset)
			break;
		if (first_pos < 0) {
			if (batch_last_offset(&h) < offset) {
				pos += (off_t)batch_total_size(&h);
				continue;
			}
			first_pos = pos;
			out->first_offset = h.base_offset;
		} else if ((size_t)(pos - first_pos) + batch_total_size(&h) > max_bytes ||
		           batch_last_offset(&h) >= max_offset) {
			/* whole batches only; the first one always goes (KIP-74) */
			break;
		}
		pos += (off_t)batch_total_size(&h);
		out->next_offset = batch_last_offset(&h) + 1;
		if (out->next_offset >= max_offset)
			break;
	}
	if (rc == STRAND_EAGAIN)
		rc = 0;
	if (rc)
		goto fail;
	free(r);
	if (first_pos < 0) {
		close(fd);
		return 0;
	}
	out->fd = fd;
	out->pos = first_pos;
	out->len = (size_t)(pos - first_pos);
	return 0;
fail:
	free(r);
	close(fd);
	return rc;
}

/* ---- offsets by time ----------------------------------------------------- */

/*
 * Scan [pos, end) of fd for the first record with timestamp >= ts. Whole
 * batches are read only when their max timestamp reaches ts.
 */
static int scan_for_timestamp(int fd, off_t pos, off_t end, int sparse, int64_t ts,
                              int64_t *offset_out, int64_t *ts_out,
                              char *err, size_t errlen)
{
	seg_reader_t *r = malloc(sizeof(*r));
	uint8_t *buf = NULL;
	batch_header_t h;
	int rc;

	if (r == NULL)
		return STRAND_ENOMEM;
	seg_reader_init(r, fd, end, sparse);
	while ((rc = seg_reader_header(r, pos, &h, err, errlen)) == 0) {
		size_t size = batch_total_size(&h);

		if (h.max_timestamp >= ts) {
			batch_iter_t it;
			batch_record_t rec;
			uint8_t *nb = realloc(buf, size);

			if (nb == NULL) {
				rc = STRAND_ENOMEM;
				break;
			}
			buf = nb;
			if (pread(fd, buf, size, pos) != (ssize_t)size) {
				rc = strand_err_set(err, errlen, STRAND_EIO, "read: %s", strerror(errno));
				break;
			}
			rc = batch_iter_init(&it, buf, size);
			while (rc == 0 && (rc = batch_iter_next(&it, &rec)) == 1) {
				if (rec.timestamp >= ts) {
					*offset_out = rec.offset;
					*ts_out = rec.timestamp;
					rc = 0;
					goto out;
				}
				rc = 0;
			}
			if (rc)
				break;
		}
		pos += (off_t)size;
	}
	if (rc == STRAND_EAGAIN)
		rc = STRAND_ENOENT;
out:
	free(buf);
	free(r);
	return rc;
}

int log_offset_for_timestamp(log_t *log, int64_t ts, int64_t *offset_out,
                             int64_t *ts_out, char *err, size_t errlen)
{
	size_t i;
	int rc = STRAND_ENOENT;

	pthread_mutex_lock(&log->lock);
	*offset_out = leo_locked(log);
	*ts_out = -1;
	for (i = 0; i < log->nsegs; i++) {
		segment_t *seg = log->segs[i];
		int64_t from;
		int fd;
		off_t end;

		if (seg->size == 0 || seg->max_timestamp < ts)
			continue;
		from = segment_time_floor(seg, ts);
		end = (off_t)seg->size;
		fd = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
		{
			off_t pos = segment_index_floor(seg, from);
			pthread_mutex_unlock(&log->lock);
			if (fd < 0)
				return strand_err_set(err, errlen, STRAND_EIO, "dup: %s", strerror(errno));
			rc = scan_for_timestamp(fd, pos, end, log->compact, ts, offset_out, ts_out,
			                        err, errlen);
			close(fd);
		}
		if (rc != STRAND_ENOENT)
			return rc;
		/* raced with truncation: answer as if nothing matched */
		pthread_mutex_lock(&log->lock);
		*offset_out = leo_locked(log);
		break;
	}
	pthread_mutex_unlock(&log->lock);
	return rc;
}

/* ---- header scan ---------------------------------------------------------- */

int log_scan_headers(log_t *log, int64_t from_offset,
                     int (*fn)(void *ctx, const batch_header_t *h), void *ctx,
                     char *err, size_t errlen)
{
	seg_reader_t *r = malloc(sizeof(*r));
	int64_t next = from_offset;
	int rc = 0;

	if (r == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	for (;;) {
		segment_t *seg;
		batch_header_t h;
		int64_t seg_next;
		off_t pos, end;
		int fd;

		pthread_mutex_lock(&log->lock);
		if (next < log->segs[0]->base_offset)
			next = log->segs[0]->base_offset;
		if (next >= leo_locked(log)) {
			pthread_mutex_unlock(&log->lock);
			break;
		}
		seg = log->segs[seg_find(log, next)];
		pos = segment_index_floor(seg, next);
		end = (off_t)seg->size;
		seg_next = seg->next_offset;
		fd = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
		pthread_mutex_unlock(&log->lock);
		if (fd < 0) {
			rc = strand_err_set(err, errlen, STRAND_EIO, "dup: %s", strerror(errno));
			break;
		}
		seg_reader_init(r, fd, end, log->compact);
		while ((rc = seg_reader_header(r, pos, &h, err, errlen)) == 0) {
			if (batch_last_offset(&h) >= next && (rc = fn(ctx, &h)) != 0)
				break;
			pos += (off_t)batch_total_size(&h);
		}
		close(fd);
		if (rc == STRAND_EAGAIN)
			rc = 0;         /* the segment's end */
		if (rc != 0 || seg_next <= next)
			break;
		next = seg_next;
	}
	free(r);
	return rc;
}

/* ---- accessors ----------------------------------------------------------- */

int64_t log_start_offset(log_t *log)
{
	int64_t v;

	pthread_mutex_lock(&log->lock);
	v = log->segs[0]->base_offset;
	pthread_mutex_unlock(&log->lock);
	return v;
}

int64_t log_end_offset(log_t *log)
{
	int64_t v;

	pthread_mutex_lock(&log->lock);
	v = leo_locked(log);
	pthread_mutex_unlock(&log->lock);
	return v;
}

int64_t log_size_bytes(log_t *log)
{
	int64_t v;

	pthread_mutex_lock(&log->lock);
	v = log->size_bytes;
	pthread_mutex_unlock(&log->lock);
	return v;
}

int log_segment_count(log_t *log)
{
	int v;

	pthread_mutex_lock(&log->lock);
	v = (int)log->nsegs;
	pthread_mutex_unlock(&log->lock);
	return v;
}

int64_t log_flushed_offset(log_t *log)
{
	int64_t v;

	pthread_mutex_lock(&log->flush_lock);
	v = log->flushed_offset;
	pthread_mutex_unlock(&log->flush_lock);
	return v;
}

/* ---- truncation ---------------------------------------------------------- */

/* Delete every segment and start an empty one at offset. Caller holds lock. */
static int reset_to_locked(log_t *log, int64_t offset, char *err, size_t errlen)
{
	segment_t *seg = NULL;
	size_t i;
	int rc;

	for (i = 0; i < log->nsegs; i++)
		segment_delete(log->segs[i]);
	log->nsegs = 0;
	log->size_bytes = 0;
	log->layout++;
	rc = segment_create(log->dir, offset, log->compact, &seg, err, errlen);
	if (rc)
		return rc;
	return segs_push(log, seg);
}

int log_truncate_to(log_t *log, int64_t offset, char *err, size_t errlen)
{
	seg_reader_t *r = NULL;
	segment_t *seg;
	batch_header_t h;
	off_t pos;
	int rc = 0;

	pthread_mutex_lock(&log->lock);
	if (offset >= leo_locked(log))
		goto out;
	if (offset <= log->segs[0]->base_offset) {
		rc = reset_to_locked(log, offset < 0 ? 0 : offset, err, errlen);
		goto epochs;
	}
	log->layout++;
	/* drop whole segments that start at or after offset */
	while (log->nsegs > 1 && active(log)->base_offset >= offset) {
		log->size_bytes -= active(log)->size;
		segment_delete(active(log));
		log->nsegs--;
	}
	seg = active(log);
	/* find the batch containing offset; cut at its start (Kafka truncateTo) */
	r = malloc(sizeof(*r));
	if (r == NULL) {
		rc = STRAND_ENOMEM;
		goto out;
	}
	seg_reader_init(r, seg->fd, (off_t)seg->size, log->compact);
	pos = segment_index_floor(seg, offset);
	while ((rc = seg_reader_header(r, pos, &h, err, errlen)) == 0 &&
	       batch_last_offset(&h) < offset)
		pos += (off_t)batch_total_size(&h);
	if (rc == STRAND_EAGAIN) {
		rc = 0;          /* offset at the segment end: nothing to cut here */
		goto epochs;
	}
	if (rc)
		goto out;
	log->size_bytes -= seg->size - (int64_t)pos;
	rc = segment_truncate(seg, pos, h.base_offset, err, errlen);
	if (rc)
		goto out;
epochs:
	if (rc == 0)
		rc = epochs_truncate_locked(log, leo_locked(log), err, errlen);
	if (rc == 0)
		rc = clean_offset_truncated_locked(log, err, errlen);
	pthread_mutex_lock(&log->flush_lock);
	if (log->flushed_offset > leo_locked(log))
		log->flushed_offset = leo_locked(log);
	pthread_mutex_unlock(&log->flush_lock);
	log->checkpointed = -1;   /* rewrite at the next tick */
out:
	pthread_mutex_unlock(&log->lock);
	free(r);
	return rc;
}

int log_truncate_fully(log_t *log, int64_t offset, char *err, size_t errlen)
{
	int rc;

	if (offset < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "offset must be >= 0");
	pthread_mutex_lock(&log->lock);
	rc = reset_to_locked(log, offset, err, errlen);
	if (rc != 0) {
		pthread_mutex_unlock(&log->lock);
		return rc;
	}
	if (log->nepochs > 0) {
		log->nepochs = 0;
		rc = write_epochs_locked(log, err, errlen);
	}
	if (rc == 0)
		rc = clean_offset_truncated_locked(log, err, errlen);
	pthread_mutex_lock(&log->flush_lock);
	log->flushed_offset = leo_locked(log);   /* nothing left to flush */
	pthread_mutex_unlock(&log->flush_lock);
	log->unflushed_records = 0;
	log->checkpointed = -1;
	pthread_mutex_unlock(&log->lock);
	return rc;
}

/* ---- flush (group commit) ------------------------------------------------ */

/*
 * One flusher at a time; others wait on flush_cond and usually find their
 * offset covered when it finishes. The flusher syncs dup'd descriptors so
 * retention cannot close them under it, and covers everything appended so
 * far (not only its own target), which is what makes the commit a group one.
 */
int log_write_failed(log_t *log)
{
	return atomic_load(&log->write_failed);
}

void log_inject_sync_failure(log_t *log)
{
	atomic_store(&log->inject_sync_failure, 1);
}

int log_flush(log_t *log, int64_t offset, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&log->lock);
	if (offset < 0 || offset > leo_locked(log))
		offset = leo_locked(log);
	pthread_mutex_unlock(&log->lock);

	pthread_mutex_lock(&log->flush_lock);
	while (rc == 0 && log->flushed_offset < offset) {
		if (atomic_load(&log->write_failed)) {
			rc = log_fenced_error(log, err, errlen);
			break;
		}
		int fds[64], nfds = 0, i;
		int64_t target, from;

		if (log->flushing) {
			pthread_cond_wait(&log->flush_cond, &log->flush_lock);
			continue;
		}
		log->flushing = 1;
		from = log->flushed_offset;
		pthread_mutex_unlock(&log->flush_lock);

		pthread_mutex_lock(&log->lock);
		target = leo_locked(log);
		for (i = (int)log->nsegs - 1; i >= 0 && nfds < 64; i--) {
			segment_t *seg = log->segs[i];
			int fd;

			if (seg->next_offset <= from && seg->size > 0)
				break;
			fd = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
			if (fd >= 0)
				fds[nfds++] = fd;
		}
		log->unflushed_records = 0;
		pthread_mutex_unlock(&log->lock);

		for (i = 0; i < nfds; i++) {
			if (rc == 0 && atomic_exchange(&log->inject_sync_failure, 0))
				rc = strand_err_set(err, errlen, STRAND_EIO,
				                    "fdatasync: Input/output error (injected)");
			else if (rc == 0)
				rc = segment_sync(fds[i], err, errlen);
			close(fds[i]);
		}
		if (rc != 0)
			atomic_store(&log->write_failed, 1);

		pthread_mutex_lock(&log->flush_lock);
		log->flushing = 0;
		if (rc == 0 && target > log->flushed_offset)
			log->flushed_offset = target;
		log->last_flush_ms = wall_ms();
		pthread_cond_broadcast(&log->flush_cond);
	}
	pthread_mutex_unlock(&log->flush_lock);
	return rc;
}

/* ---- periodic work: flush_ms, roll, retention, checkpoint ---------------- */

/* Is segment i (not the active one) past retention? Caller holds lock. */
static int retention_deletes_front(log_t *log, int64_t now, int64_t *size_left)
{
	segment_t *seg = log->segs[0];

	if (log->cfg.retention_ms >= 0 && seg->size > 0 && seg->max_timestamp >= 0 &&
	    now - seg->max_timestamp > log->cfg.retention_ms)
		return 1;
	if (log->cfg.retention_bytes >= 0 &&
	    *size_left - seg->size >= log->cfg.retention_bytes) {
		return 1;
	}
	return 0;
}

int log_tick(log_t *log, int64_t now_ms, int *deleted_out, char *err, size_t errlen)
{
	int64_t size_left, flushed, last_flush, checkpoint = -1;
	int deleted = 0, rc = 0, want_flush = 0;
	size_t i;

	pthread_mutex_lock(&log->flush_lock);
	flushed = log->flushed_offset;
	last_flush = log->last_flush_ms;
	pthread_mutex_unlock(&log->flush_lock);

	pthread_mutex_lock(&log->lock);
	if (segment_expired(log, active(log), now_ms) &&
	    now_ms - active(log)->opened_ms >= log->cfg.segment_ms)
		rc = roll_locked(log, err, errlen);
	/* Retention: whole segments from the front (Kafka's deleteOldSegments).
	 * When even the active segment is due, roll first so it can go too. */
	size_left = log->size_bytes;
	while (rc == 0 && retention_deletes_front(log, now_ms, &size_left)) {
		if (log->nsegs == 1) {
			rc = roll_locked(log, err, errlen);
			if (rc || log->nsegs == 1)
				break;
		}
		size_left -= log->segs[0]->size;
		log->size_bytes -= log->segs[0]->size;
		log->layout++;
		segment_delete(log->segs[0]);
		segs_drop_front(log, 1);
		deleted++;
	}
	if (log->cfg.flush_ms > 0 && flushed < leo_locked(log) &&
	    now_ms - last_flush >= log->cfg.flush_ms)
		want_flush = 1;
	/* Index entries of flushed data go to disk before the checkpoint says so. */
	for (i = 0; rc == 0 && i < log->nsegs; i++)
		rc = segment_persist_index(log->segs[i], err, errlen);
	if (flushed != log->checkpointed) {
		checkpoint = flushed;
		log->checkpointed = flushed;
	}
	pthread_mutex_unlock(&log->lock);

	if (rc == 0 && want_flush)
		rc = log_flush(log, -1, err, errlen);
	if (rc == 0 && checkpoint >= 0)
		rc = write_recovery_point(log, checkpoint, err, errlen);
	if (deleted_out != NULL)
		*deleted_out = deleted;
	return rc;
}

/* ---- compaction ----------------------------------------------------------- */

/* Test hook: stop after swap step `step` as a crash there would. */
static int compact_stopped(int stop_after, int step, char *err, size_t errlen)
{
	if (stop_after != step)
		return 0;
	return strand_err_set(err, errlen, STRAND_EIO, "compaction stopped after step %d "
	                      "(injected)", step);
}

/*
 * Install the cleaned segment seg in place of the n segments from the one
 * based at seg->base_offset, which end at `end` (log.h, log_compact, steps
 * 1-4). Lock held. On an error before step 1's rename, seg is deleted; after
 * it, recovery finishes the swap. Consumes seg.
 */
static int swap_locked(log_t *log, segment_t *seg, size_t n, int64_t end, int stop_after,
                       char *err, size_t errlen)
{
	char swap[4096], src[4096], dst[4096];
	size_t first = seg_find(log, seg->base_offset), k;
	int rc;

	if (log->segs[first]->base_offset != seg->base_offset || first + n >= log->nsegs ||
	    log->segs[first + n - 1]->next_offset != end) {
		segment_delete(seg);
		return strand_err_set(err, errlen, STRAND_EAGAIN, "%s changed while it was cleaned",
		                      log->dir);
	}
	/* step 1, the commit point */
	swap_path(log->dir, seg->base_offset, end, swap, sizeof(swap));
	if (rename(seg->path, swap) < 0) {
		rc = strand_err_set(err, errlen, STRAND_EIO, "rename %s: %s", seg->path,
		                    strerror(errno));
		segment_delete(seg);
		return rc;
	}
	if (file_fsync_dir(log->dir) < 0) {
		/* the rename may or may not be durable: take it back, so a later
		 * truncation cannot be undone by recovery finishing this swap */
		rc = strand_err_set(err, errlen, STRAND_EIO, "fsync %s: %s", log->dir,
		                    strerror(errno));
		(void)unlink(swap);
		segment_delete(seg);
		return rc;
	}
	if ((rc = compact_stopped(stop_after, 1, err, errlen)) != 0) {
		segment_close(seg, 0);      /* files stay as a crash leaves them */
		return rc;
	}
	/* step 2: readers keep their dup'd descriptors of the unlinked files */
	for (k = 0; k < n; k++) {
		log->size_bytes -= log->segs[first + k]->size;
		segment_delete(log->segs[first + k]);
		log->segs[first + k] = NULL;
	}
	memmove(log->segs + first + 1, log->segs + first + n,
	        (log->nsegs - first - n) * sizeof(*log->segs));
	log->nsegs -= n - 1;
	log->segs[first] = seg;
	log->size_bytes += seg->size;
	log->layout++;
	if ((rc = compact_stopped(stop_after, 2, err, errlen)) != 0)
		return rc;
	/* step 3 */
	if (segment_sibling_path(seg, ".index", src, sizeof(src)) == 0) {
		seg_file_path(log->dir, seg->base_offset, ".index", dst, sizeof(dst));
		(void)rename(src, dst);
	}
	if (segment_sibling_path(seg, ".timeindex", src, sizeof(src)) == 0) {
		seg_file_path(log->dir, seg->base_offset, ".timeindex", dst, sizeof(dst));
		(void)rename(src, dst);
	}
	if ((rc = compact_stopped(stop_after, 3, err, errlen)) != 0)
		return rc;
	/* step 4 */
	seg_file_path(log->dir, seg->base_offset, ".log", dst, sizeof(dst));
	if (rename(swap, dst) < 0 || file_fsync_dir(log->dir) < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "rename %s: %s", swap,
		                      strerror(errno));
	rc = segment_set_path(seg, log->dir, err, errlen);
	if (rc == 0)
		rc = compact_stopped(stop_after, 4, err, errlen);
	return rc;
}

/* Clean in[0..n) into one segment and swap it in (unless nothing changed). */
static int compact_group(log_t *log, const cleaner_input_t *in, size_t n,
                         const cleaner_map_t *map, const log_compact_opts_t *opts,
                         int interval, uint64_t *layout, cleaner_io_t *io,
                         log_compact_stats_t *st, char *err, size_t errlen)
{
	cleaner_counts_t c = { 0 };
	segment_t *seg = NULL;
	int changed = 0, rc;
	int64_t size;

	rc = cleaner_write_group(log->dir, in, n, map, opts->now_ms, opts->delete_retention_ms,
	                         interval, io, &seg, &changed, &c, err, errlen);
	if (rc)
		return rc;
	size = seg->size;
	if (!changed) {
		segment_delete(seg);
		size = in[0].size;
		goto counted;
	}
	pthread_mutex_lock(&log->lock);
	if (log->layout != *layout) {
		pthread_mutex_unlock(&log->lock);
		segment_delete(seg);
		return strand_err_set(err, errlen, STRAND_EAGAIN,
		                      "%s changed while it was cleaned", log->dir);
	}
	rc = swap_locked(log, seg, n, in[n - 1].next_offset, opts->stop_after_step, err, errlen);
	*layout = log->layout;
	pthread_mutex_unlock(&log->lock);
	if (rc)
		return rc;
counted:
	/* only a group now in the log counts (a later group's failure leaves it) */
	st->records_kept += c.records_kept;
	st->records_removed += c.records_removed;
	st->tombstones_removed += c.tombstones_removed;
	st->segments_before += (int)n;
	st->segments_after++;
	for (size_t i = 0; i < n; i++)
		st->bytes_before += in[i].size;
	st->bytes_after += size;
	return 0;
}

/*
 * Pass 1 over in[0..n): map as many leading segments as the map holds.
 * *mapped gets their number (>= 1), the map their keys.
 */
static int compact_map(cleaner_map_t *map, const cleaner_input_t *in, size_t n,
                       cleaner_io_t *io, size_t *mapped, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t cap = 0, i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		rc = cleaner_map_segment(map, in[i].fd, in[i].size, in[i].sparse, &buf, &cap,
		                         io, err, errlen);
		if (rc)
			break;
	}
	if (rc == 1 && i == 0)
		rc = strand_err_set(err, errlen, STRAND_ETOOBIG,
		                    "the offset map (%zu keys) cannot hold the keys of the first "
		                    "segment", cleaner_map_capacity(map));
	if (rc == 1) {
		/* the map filled in segment i: keep the segments before it only */
		cleaner_map_clear(map);
		n = i;
		for (i = 0, rc = 0; rc == 0 && i < n; i++)
			rc = cleaner_map_segment(map, in[i].fd, in[i].size, in[i].sparse, &buf, &cap,
			                         io, err, errlen);
		if (rc == 1)
			rc = strand_err_set(err, errlen, STRAND_EIO, "the offset map filled twice");
	}
	free(buf);
	*mapped = i;
	return rc;
}

int log_compact(log_t *log, const log_compact_opts_t *opts, log_compact_stats_t *stats,
                char *err, size_t errlen)
{
	log_compact_stats_t st = { 0 };
	cleaner_input_t *in = NULL;
	cleaner_map_t *map = NULL;
	cleaner_io_t io;
	size_t n = 0, mapped = 0, i, g;
	int64_t below, seg_bytes;
	uint64_t layout;
	int rc = 0, interval;

	if (!log->compact)
		return strand_err_set(err, errlen, STRAND_EINVAL, "%s is not a compacted log",
		                      log->dir);
	cleaner_io_init(&io, opts->io_max_bytes_per_second, opts->cancel);
	/* the closed segments to clean: a prefix, each ending at or below the bound */
	pthread_mutex_lock(&log->lock);
	below = opts->clean_below < 0 || opts->clean_below > leo_locked(log)
	        ? leo_locked(log) : opts->clean_below;
	while (n + 1 < log->nsegs && log->segs[n]->next_offset <= below)
		n++;
	in = n ? calloc(n, sizeof(*in)) : NULL;
	for (i = 0; in != NULL && i < n; i++) {
		segment_t *seg = log->segs[i];

		in[i].fd = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
		in[i].base_offset = seg->base_offset;
		in[i].next_offset = seg->next_offset;
		in[i].size = seg->size;
		in[i].sparse = seg->sparse;
		if (in[i].fd < 0)
			rc = STRAND_EIO;
	}
	seg_bytes = log->cfg.segment_bytes;
	interval = log->cfg.index_interval_bytes;
	layout = log->layout;
	pthread_mutex_unlock(&log->lock);
	if (n == 0)
		goto out;
	if (in == NULL || rc) {
		rc = strand_err_set(err, errlen, in == NULL ? STRAND_ENOMEM : STRAND_EIO,
		                    "cannot take the segments of %s", log->dir);
		goto out;
	}
	map = cleaner_map_new(opts->map_bytes);
	if (map == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		goto out;
	}
	rc = compact_map(map, in, n, &io, &mapped, err, errlen);
	/* pass 2, group by group (Kafka's groupSegmentsBySize) */
	for (i = 0; rc == 0 && i < mapped; i = g) {
		int64_t sum = in[i].size;

		for (g = i + 1; g < mapped && sum + in[g].size <= seg_bytes &&
		                in[g].next_offset - 1 - in[i].base_offset <= INT32_MAX; g++)
			sum += in[g].size;
		rc = compact_group(log, in + i, g - i, map, opts, interval, &layout, &io, &st,
		                   err, errlen);
	}
	if (rc == 0) {
		int raised = 0;

		st.cleaned_to = in[mapped - 1].next_offset;
		pthread_mutex_lock(&log->lock);
		/* not after a truncation meanwhile (it reset the checkpoint) */
		if (log->layout == layout && log->clean_offset < st.cleaned_to) {
			log->clean_offset = st.cleaned_to;
			raised = 1;
		}
		pthread_mutex_unlock(&log->lock);
		/* Kafka's cleaner-offset-checkpoint: a restart keeps the dirty
		 * ratio; a lost write only makes the next pass come sooner */
		if (raised)
			rc = write_offset_checkpoint(log, CLEANER_FILE, st.cleaned_to, err, errlen);
	}
out:
	for (i = 0; in != NULL && i < n; i++)
		if (in[i].fd >= 0)
			close(in[i].fd);
	free(in);
	cleaner_map_free(map);
	st.bytes_read = io.bytes_read;
	st.bytes_written = io.bytes_written;
	st.throttled_ns = io.throttled_ns;
	if (stats != NULL)
		*stats = st;
	return rc;
}

int log_compacted(log_t *log)
{
	return log->compact;
}

double log_dirty_ratio(log_t *log, int64_t clean_below)
{
	int64_t below, total = 0, dirty = 0;

	pthread_mutex_lock(&log->lock);
	below = clean_below < 0 || clean_below > leo_locked(log) ? leo_locked(log) : clean_below;
	for (size_t i = 0; i + 1 < log->nsegs && log->segs[i]->next_offset <= below; i++) {
		total += log->segs[i]->size;
		if (log->segs[i]->base_offset >= log->clean_offset)
			dirty += log->segs[i]->size;
	}
	pthread_mutex_unlock(&log->lock);
	return total > 0 ? (double)dirty / (double)total : 0.0;
}

/* ---- leader epochs ------------------------------------------------------- */

int32_t log_latest_epoch(log_t *log)
{
	int32_t v;

	pthread_mutex_lock(&log->lock);
	v = log->nepochs ? log->epochs[log->nepochs - 1].epoch : -1;
	pthread_mutex_unlock(&log->lock);
	return v;
}

void log_epoch_end_offset(log_t *log, int32_t epoch, int32_t *epoch_out,
                          int64_t *end_out)
{
	size_t i;

	pthread_mutex_lock(&log->lock);
	*epoch_out = -1;
	*end_out = -1;
	/* KIP-279: the largest known epoch <= the asked one, ending where the
	 * next higher epoch starts (or at the LEO for the latest). */
	for (i = log->nepochs; i-- > 0;) {
		if (log->epochs[i].epoch <= epoch) {
			*epoch_out = log->epochs[i].epoch;
			*end_out = i + 1 < log->nepochs ? log->epochs[i + 1].start_offset
			                                : leo_locked(log);
			break;
		}
	}
	if (*epoch_out < 0 && epoch >= 0 && log->nepochs > 0) {
		/* older than every known epoch (Kafka's endOffsetFor): nothing
		 * from the first known epoch's start on can belong to it */
		*epoch_out = epoch;
		*end_out = log->epochs[0].start_offset;
	}
	pthread_mutex_unlock(&log->lock);
}
