/*
 * cli_log.c — `strand log`: operator tools for a partition directory
 * (Kafka's kafka.tools.DumpLogSegments, plus a consistency check and a
 * throughput bench).
 *
 *   strand log dump [--batches] DIR|FILE   one JSON line per record / batch
 *   strand log check DIR|FILE              read-only validation, exit 1 at the first problem
 *   strand log bench DIR --records N ...   append + read-back rates through log.h
 *
 * A __consumer_offsets-<p> directory is read as a compacted log (offsets
 * increase with gaps, batches may have fewer records than offsets:
 * docs/FORMAT.md section 8); every other one must be contiguous.
 * dump and check never modify anything: they pread the segment files
 * themselves instead of calling log_open, whose recovery would truncate a
 * torn tail and rebuild indexes — hiding exactly what an operator looks
 * for. Each file is read up to its size when opened: on a directory a
 * broker is writing, a batch or index entry written meanwhile can show as a
 * torn tail, so check a stopped broker's directory (or a copy).
 * bench goes through the engine's API like the broker does.
 * Bytes on disk: docs/FORMAT.md, log/batch.h, log/log.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "cli/cli.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"
#include "log/batch.h"
#include "log/crc32c.h"
#include "log/log.h"

#define CLI_LOG_NAME_DIGITS  20                /* segment files: <20-digit base offset>.log */
#define CLI_LOG_NAME_LEN     (CLI_LOG_NAME_DIGITS + 4)
#define CLI_LOG_READ_CHUNK   (1u << 20)        /* pread size of dump and check */
#define CLI_LOG_OUT_FLUSH    (64u * 1024)      /* dump writes stdout in chunks this big */
#define CLI_LOG_INDEX_ENTRY  8                 /* .index: int32 relative offset, int32 position */
#define CLI_LOG_TIME_ENTRY   12                /* .timeindex: int64 timestamp, int32 relative offset */
#define CLI_LOG_FETCH_BYTES  (1u << 20)        /* bench reads: Kafka's max.partition.fetch.bytes */
#define CLI_LOG_BENCH_MAX_BATCH (256u << 20)   /* bench refuses batches above this */

static void cli_log_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand log dump [--batches] DIR|FILE\n"
	        "       strand log check DIR|FILE\n"
	        "       strand log bench DIR --records N --value-size B [--batch R] [--key-size K]\n"
	        "                            [--segment-bytes S]\n"
	        "\n"
	        "DIR is a partition directory, whose <20-digit base offset>.log segments are\n"
	        "read in offset order; FILE is one .log segment. dump and check only read.\n"
	        "\n"
	        "dump         one JSON line per record: offset, timestamp, key, value, headers\n"
	        "             (bytes that are not UTF-8 are base64, flagged \"key_encoding\",\n"
	        "             \"value_encoding\" or \"headers_encoding\":\"base64\")\n"
	        "  --batches  one JSON line per batch header instead; crc_valid recomputes CRC32C\n"
	        "check        validate every batch (length, CRC32C, records), offsets contiguous\n"
	        "             within and across segments, leader epochs never going back, and\n"
	        "             the .index/.timeindex entries; exit 0 with a summary line, or\n"
	        "             exit 1 naming the file and byte of the first problem\n"
	        "bench        append N records to a new log in DIR with log_append (no fsync),\n"
	        "             flush, read them all back with log_read; print the rates\n"
	        "  --batch R          records per batch (default 1000)\n"
	        "  --key-size K       key bytes (default 0: null keys)\n"
	        "  --segment-bytes S  roll segments past S bytes (default 1073741824)\n");
}

/* ---- arguments ----------------------------------------------------------- */

/*
 * Match `--flag VALUE` or `--flag=VALUE` at argv[*i]. Returns 1 with *value
 * set (and *i moved past a separate value), 0 when argv[*i] is another
 * argument, -1 when the value is missing (message printed).
 */
static int cli_log_flag(int argc, char **argv, int *i, const char *cmd,
                        const char *flag, const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(flag);

	if (strncmp(arg, flag, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
		return 0;
	if (arg[n] == '=') {
		*value = arg + n + 1;
		return 1;
	}
	if (*i + 1 >= argc) {
		fprintf(stderr, "strand: log %s: %s needs a value\n", cmd, flag);
		return -1;
	}
	*value = argv[++*i];
	return 1;
}

/*
 * Strict decimal integer in [min, max] (min >= 0 here): digits only, no
 * sign, no space, no suffix. Returns 0, or -1 with the message printed.
 */
static int cli_log_parse_i64(const char *cmd, const char *flag, const char *s,
                             int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9')
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "strand: log %s: %s must be an integer in [%" PRId64 ", %" PRId64
	        "], not \"%s\"\n", cmd, flag, min, max, s);
	return -1;
}

/* An argument that looks like an option but is none of the command's. */
static int cli_log_unknown(const char *cmd, const char *arg)
{
	fprintf(stderr, "strand: log %s: unknown option %s (see strand log --help)\n", cmd, arg);
	return 2;
}

static int cli_log_is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* ---- segment files ------------------------------------------------------- */

typedef struct cli_log_segment {
	int64_t base;   /* base offset from the file name; -1 when not a segment name */
	char   *path;   /* owned */
} cli_log_segment_t;

typedef struct cli_log_segments {
	cli_log_segment_t *v;
	size_t n, cap;
	int    is_dir;
} cli_log_segments_t;

/* Base offset of a segment file name "<20 digits>.log", or -1. */
static int64_t cli_log_segment_base(const char *name)
{
	int64_t base = 0;
	int i;

	if (strlen(name) != CLI_LOG_NAME_LEN || strcmp(name + CLI_LOG_NAME_DIGITS, ".log") != 0)
		return -1;
	for (i = 0; i < CLI_LOG_NAME_DIGITS; i++) {
		int d = name[i] - '0';

		if (d < 0 || d > 9 || base > (INT64_MAX - d) / 10)
			return -1;
		base = base * 10 + d;
	}
	return base;
}

static const char *cli_log_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void cli_log_segments_free(cli_log_segments_t *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cli_log_segments_push(cli_log_segments_t *s, int64_t base, const char *dir,
                                 const char *name)
{
	size_t len;
	char *path;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		cli_log_segment_t *v = realloc(s->v, ncap * sizeof(*v));

		if (v == NULL)
			return STRAND_ENOMEM;
		s->v = v;
		s->cap = ncap;
	}
	len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
	path = malloc(len);
	if (path == NULL)
		return STRAND_ENOMEM;
	if (dir)
		snprintf(path, len, "%s/%s", dir, name);
	else
		snprintf(path, len, "%s", name);
	s->v[s->n].base = base;
	s->v[s->n].path = path;
	s->n++;
	return 0;
}

static int cli_log_segment_cmp(const void *a, const void *b)
{
	int64_t x = ((const cli_log_segment_t *)a)->base, y = ((const cli_log_segment_t *)b)->base;

	return (x > y) - (x < y);
}

/*
 * The segments named by path: every <20 digits>.log in a directory, in
 * offset order (other files are not the log's), or the one file given.
 * Fills *out (free with cli_log_segments_free). Returns 0, STRAND_ENOENT,
 * STRAND_EIO, STRAND_ENOMEM.
 */
static int cli_log_segments_list(const char *path, cli_log_segments_t *out,
                                 char *err, size_t errlen)
{
	struct stat st;
	struct dirent *de;
	char *dir = NULL;
	size_t len;
	DIR *d = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (stat(path, &st) < 0)
		return strand_err_set(err, errlen, errno == ENOENT ? STRAND_ENOENT : STRAND_EIO,
		                      "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (!S_ISREG(st.st_mode))
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "%s: not a directory or a regular file", path);
		rc = cli_log_segments_push(out, cli_log_segment_base(cli_log_basename(path)),
		                           NULL, path);
		goto out;
	}
	out->is_dir = 1;
	/* "dir/" reads better in messages as "dir" */
	dir = strdup(path);
	if (dir == NULL) {
		rc = STRAND_ENOMEM;
		goto out;
	}
	for (len = strlen(dir); len > 1 && dir[len - 1] == '/'; len--)
		dir[len - 1] = '\0';
	d = opendir(dir);
	if (d == NULL) {
		rc = strand_err_set(err, errlen, STRAND_EIO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t base = cli_log_segment_base(de->d_name);

		if (base >= 0 && (rc = cli_log_segments_push(out, base, dir, de->d_name)) != 0)
			goto out;
	}
	qsort(out->v, out->n, sizeof(*out->v), cli_log_segment_cmp);
	if (out->n == 0)
		rc = strand_err_set(err, errlen, STRAND_ENOENT,
		                    "%s: no segment files (<20-digit base offset>.log)", dir);
out:
	if (d != NULL)
		closedir(d);
	free(dir);
	if (rc == STRAND_ENOMEM)
		strand_err_set(err, errlen, rc, "out of memory");
	if (rc)
		cli_log_segments_free(out);
	return rc;
}

/* ---- reading a segment file ---------------------------------------------- */

/* A read-only segment file read in chunks through one reused buffer. */
typedef struct cli_log_file {
	int      fd;
	int64_t  size;       /* at open: a live log may grow, we stop here */
	uint8_t *buf;        /* owned */
	size_t   cap, buf_len;
	int64_t  buf_pos;    /* file position of buf[0] */
} cli_log_file_t;

static int cli_log_file_open(cli_log_file_t *f, const char *path, char *err, size_t errlen)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return strand_err_set(err, errlen, errno == ENOENT ? STRAND_ENOENT : STRAND_EIO,
		                      "%s: %s", path, strerror(errno));
	if (fstat(f->fd, &st) < 0) {
		int e = errno;

		close(f->fd);
		f->fd = -1;
		return strand_err_set(err, errlen, STRAND_EIO, "%s: %s", path, strerror(e));
	}
	f->size = st.st_size;
	return 0;
}

static void cli_log_file_close(cli_log_file_t *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->buf);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

/*
 * Bytes [pos, pos + len) of the file (pos + len <= size), borrowed until
 * the next call. Returns 0, STRAND_EIO, STRAND_ENOMEM, STRAND_ECORRUPT
 * (the file shrank under us). Messages start "byte <pos>: ".
 */
static int cli_log_file_bytes(cli_log_file_t *f, int64_t pos, size_t len,
                              const uint8_t **out, char *err, size_t errlen)
{
	size_t want, got = 0;

	if (pos >= f->buf_pos && pos + (int64_t)len <= f->buf_pos + (int64_t)f->buf_len) {
		*out = f->buf + (pos - f->buf_pos);
		return 0;
	}
	want = len > CLI_LOG_READ_CHUNK ? len : CLI_LOG_READ_CHUNK;
	if ((int64_t)want > f->size - pos)
		want = (size_t)(f->size - pos);
	if (want > f->cap) {
		uint8_t *p = realloc(f->buf, want);

		if (p == NULL)
			return strand_err_set(err, errlen, STRAND_ENOMEM,
			                      "byte %" PRId64 ": out of memory for %zu bytes", pos, want);
		f->buf = p;
		f->cap = want;
	}
	f->buf_len = 0;
	while (got < want) {
		ssize_t n = pread(f->fd, f->buf + got, want - got, (off_t)(pos + (int64_t)got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return strand_err_set(err, errlen, STRAND_EIO, "byte %" PRId64 ": read: %s",
			                      pos + (int64_t)got, strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	f->buf_pos = pos;
	f->buf_len = got;
	if (got < len)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "byte %" PRId64 ": the file shrank while being read", pos + (int64_t)got);
	*out = f->buf;
	return 0;
}

/*
 * The batch at file position pos: its header decoded into *h and its whole
 * bytes in *batch (borrowed until the next call). Only the header is
 * checked here (batch_header_decode), and that the batch is whole.
 * Returns 0, 1 at the end of the file, or an error whose message starts
 * "byte <pos>: " (STRAND_ECORRUPT for a torn or garbage tail).
 */
static int cli_log_file_batch(cli_log_file_t *f, int64_t pos, batch_header_t *h,
                              const uint8_t **batch, char *err, size_t errlen)
{
	int64_t left = f->size - pos;
	const uint8_t *p;
	char why[256];
	int rc;

	if (left <= 0)
		return 1;
	if (left < BATCH_HEADER_SIZE)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "byte %" PRId64 ": torn tail: %" PRId64
		                      " bytes, fewer than a batch header (%d)",
		                      pos, left, BATCH_HEADER_SIZE);
	rc = cli_log_file_bytes(f, pos, BATCH_HEADER_SIZE, &p, err, errlen);
	if (rc)
		return rc;
	rc = batch_header_decode(p, BATCH_HEADER_SIZE, 0, h, why, sizeof(why));
	if (rc)
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "byte %" PRId64 ": %s", pos, why);
	if ((int64_t)batch_total_size(h) > left)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "byte %" PRId64 ": torn tail: batch of %zu bytes, only %" PRId64
		                      " left in the file", pos, batch_total_size(h), left);
	return cli_log_file_bytes(f, pos, batch_total_size(h), batch, err, errlen);
}

/* ---- dump ---------------------------------------------------------------- */

/* Write what out holds to stdout and empty it. Returns 0 or STRAND_EIO. */
static int cli_log_out_flush(buf_t *out)
{
	if (out->len > 0 && fwrite(out->data, 1, out->len, stdout) != out->len)
		return STRAND_EIO;
	buf_reset(out);
	return 0;
}

static int cli_log_json_base64(buf_t *out, const uint8_t *s, size_t len)
{
	if (buf_append(out, "\"", 1) || base64_encode_append(out, s, len) ||
	    buf_append(out, "\"", 1))
		return STRAND_ENOMEM;
	return 0;
}

/* Key or value: null, a JSON string when UTF-8, else base64 (*base64 = 1). */
static int cli_log_json_bytes(buf_t *out, const uint8_t *s, int32_t len, int *base64)
{
	*base64 = 0;
	if (len < 0)
		return buf_append(out, "null", 4);
	if (utf8_is_valid(s, (size_t)len))
		return buf_append_json_string(out, (const char *)s, (size_t)len);
	*base64 = 1;
	return cli_log_json_base64(out, s, (size_t)len);
}

/*
 * ,"headers":{...} — the fetch view's rule (api/records.c): names and
 * values are strings when every one of them is UTF-8; otherwise all are
 * base64 and *base64 = 1 ("headers_encoding":"base64"). Null values are
 * null; repeated names stay repeated, in stored order.
 */
static int cli_log_json_headers(buf_t *out, const batch_record_t *rec, int *base64)
{
	batch_header_iter_t it;
	batch_rec_header_t h;
	int rc, first = 1;

	*base64 = 0;
	batch_header_iter_init(&it, rec);
	while ((rc = batch_header_iter_next(&it, &h)) == 1)
		if (!utf8_is_valid(h.key, (size_t)h.key_len) ||
		    (h.value_len > 0 && !utf8_is_valid(h.value, (size_t)h.value_len)))
			*base64 = 1;
	if (rc < 0)
		return STRAND_ECORRUPT;
	if (buf_append_str(out, ",\"headers\":{"))
		return STRAND_ENOMEM;
	batch_header_iter_init(&it, rec);
	while ((rc = batch_header_iter_next(&it, &h)) == 1) {
		if (!first && buf_append(out, ",", 1))
			return STRAND_ENOMEM;
		first = 0;
		rc = *base64 ? cli_log_json_base64(out, h.key, (size_t)h.key_len)
		             : buf_append_json_string(out, (const char *)h.key, (size_t)h.key_len);
		if (rc || buf_append(out, ":", 1))
			return STRAND_ENOMEM;
		if (h.value_len < 0)
			rc = buf_append(out, "null", 4);
		else if (*base64)
			rc = cli_log_json_base64(out, h.value, (size_t)h.value_len);
		else
			rc = buf_append_json_string(out, (const char *)h.value, (size_t)h.value_len);
		if (rc)
			return STRAND_ENOMEM;
	}
	if (rc < 0)
		return STRAND_ECORRUPT;
	return buf_append(out, "}", 1);
}

/* One record as one JSON line. Returns 0, STRAND_ENOMEM, STRAND_ECORRUPT. */
static int cli_log_json_record(buf_t *out, const batch_record_t *rec)
{
	int key_b64, value_b64, hdr_b64, rc;

	if (buf_appendf(out, "{\"offset\":%" PRId64 ",\"timestamp\":%" PRId64 ",\"key\":",
	                rec->offset, rec->timestamp) ||
	    cli_log_json_bytes(out, rec->key, rec->key_len, &key_b64) ||
	    buf_append_str(out, ",\"value\":") ||
	    cli_log_json_bytes(out, rec->value, rec->value_len, &value_b64))
		return STRAND_ENOMEM;
	rc = cli_log_json_headers(out, rec, &hdr_b64);
	if (rc)
		return rc;
	if ((key_b64 && buf_append_str(out, ",\"key_encoding\":\"base64\"")) ||
	    (value_b64 && buf_append_str(out, ",\"value_encoding\":\"base64\"")) ||
	    (hdr_b64 && buf_append_str(out, ",\"headers_encoding\":\"base64\"")) ||
	    buf_append(out, "}\n", 2))
		return STRAND_ENOMEM;
	return 0;
}

/*
 * One batch header as one JSON line. length is the header's batch_length
 * (bytes after that field); size the whole batch on disk, so position +
 * size is the next batch's position in segment. crc_valid recomputes the
 * CRC32C; nothing else about the records is checked here (that is check).
 */
static int cli_log_json_batch(buf_t *out, const char *segment, int64_t pos,
                              const batch_header_t *h, const uint8_t *batch)
{
	size_t size = batch_total_size(h);
	uint32_t crc = crc32c(batch + BATCH_CRC_START, size - BATCH_CRC_START);

	if (buf_appendf(out, "{\"base_offset\":%" PRId64 ",\"last_offset\":%" PRId64
	                ",\"count\":%" PRId32 ",\"length\":%" PRId32 ",\"size\":%zu"
	                ",\"position\":%" PRId64 ",\"segment\":",
	                h->base_offset, batch_last_offset(h), h->record_count,
	                h->batch_length, size, pos) ||
	    buf_append_json_string(out, segment, strlen(segment)) ||
	    buf_appendf(out, ",\"leader_epoch\":%" PRId32 ",\"crc\":%" PRIu32
	                ",\"crc_valid\":%s,\"max_timestamp\":%" PRId64
	                ",\"producer_id\":%" PRId64 ",\"producer_epoch\":%d"
	                ",\"base_sequence\":%" PRId32 "}\n",
	                h->leader_epoch, h->crc, crc == h->crc ? "true" : "false",
	                h->max_timestamp, h->producer_id, (int)h->producer_epoch,
	                h->base_sequence))
		return STRAND_ENOMEM;
	return 0;
}

/*
 * Is the segment at path (a .log file) one of a compacted log, whose
 * offsets may have gaps (docs/FORMAT.md section 8)? The broker compacts
 * __consumer_offsets only, so its partition directories are recognised by
 * name: <dir>/__consumer_offsets-<p>/<base>.log.
 */
static int cli_log_compacted(const char *path)
{
	static const char prefix[] = "/" BROKER_OFFSETS_TOPIC "-";
	const char *slash = strrchr(path, '/'), *p;

	if (slash == NULL)
		return 0;
	for (p = slash; p > path && p[-1] != '/'; p--)
		;
	/* the parent directory's name, from p (after its '/') to slash */
	return (size_t)(slash - p) > sizeof(prefix) - 2 &&
	       strncmp(p, prefix + 1, sizeof(prefix) - 2) == 0;
}

/*
 * Dump one segment file to out (flushed to stdout as it fills). Records
 * mode validates each batch first (batch_iter trusts what it walks) and
 * stops at the first bad one; --batches mode shows a bad CRC as
 * crc_valid:false and stops only where no header can be read.
 * Returns 0 or an error with "<path>: byte <pos>: ..." in err.
 */
static int cli_log_dump_segment(const char *path, int batches, buf_t *out,
                                char *err, size_t errlen)
{
	const char *name = cli_log_basename(path);
	cli_log_file_t f;
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	const uint8_t *batch;
	int64_t pos = 0;
	char why[256];
	int rc;

	rc = cli_log_file_open(&f, path, err, errlen);
	if (rc)
		return rc;
	while ((rc = cli_log_file_batch(&f, pos, &h, &batch, why, sizeof(why))) == 0) {
		size_t size = batch_total_size(&h);

		if (batches) {
			rc = cli_log_json_batch(out, name, pos, &h, batch);
		} else {
			rc = (cli_log_compacted(path) ? batch_validate_compacted : batch_validate)
			        (batch, size, 0, NULL, why, sizeof(why));
			if (rc) {
				rc = strand_err_set(err, errlen, rc, "%s: byte %" PRId64 ": %s",
				                    path, pos, why);
				goto out;
			}
			(void)batch_iter_init(&it, batch, size);
			while ((rc = batch_iter_next(&it, &rec)) == 1)
				if ((rc = cli_log_json_record(out, &rec)) != 0)
					break;
		}
		if (rc == STRAND_ECORRUPT) {
			rc = strand_err_set(err, errlen, rc, "%s: byte %" PRId64 ": unreadable record",
			                    path, pos);
			goto out;
		}
		if (rc) {
			rc = strand_err_set(err, errlen, rc, "out of memory");
			goto out;
		}
		if (out->len >= CLI_LOG_OUT_FLUSH && cli_log_out_flush(out) != 0) {
			rc = strand_err_set(err, errlen, STRAND_EIO, "write to stdout: %s",
			                    strerror(errno));
			goto out;
		}
		pos += (int64_t)size;
	}
	if (rc == 1)
		rc = 0;
	else
		rc = strand_err_set(err, errlen, rc, "%s: %s", path, why);
out:
	cli_log_file_close(&f);
	return rc;
}

static int cli_log_dump(int argc, char **argv)
{
	cli_log_segments_t segs;
	const char *path = NULL;
	buf_t out = BUF_INIT;
	char err[512];
	int i, batches = 0, status = 1;
	size_t s;

	for (i = 1; i < argc; i++) {
		if (cli_log_is_help(argv[i])) {
			cli_log_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--batches") == 0) {
			batches = 1;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return cli_log_unknown("dump", argv[i]);
		} else if (path != NULL) {
			fprintf(stderr, "strand: log dump: one DIR or FILE, not \"%s\" too\n", argv[i]);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (path == NULL) {
		fprintf(stderr, "strand: log dump: which DIR or FILE?\n");
		cli_log_usage(stderr);
		return 2;
	}
	if (cli_log_segments_list(path, &segs, err, sizeof(err)) != 0) {
		fprintf(stderr, "strand: log dump: %s\n", err);
		return 1;
	}
	for (s = 0; s < segs.n; s++)
		if (cli_log_dump_segment(segs.v[s].path, batches, &out, err, sizeof(err)) != 0)
			goto out;
	status = 0;
out:
	/* what was read before a problem is shown, then the problem */
	if (cli_log_out_flush(&out) != 0 || fflush(stdout) != 0) {
		snprintf(err, sizeof(err), "write to stdout: %s", strerror(errno));
		status = 1;
	}
	if (status != 0)
		fprintf(stderr, "strand: log dump: %s\n", err);
	buf_free(&out);
	cli_log_segments_free(&segs);
	return status;
}

/* ---- check --------------------------------------------------------------- */

/* What check has seen so far, across segments. */
typedef struct cli_log_check {
	int     compacted;       /* cli_log_compacted: offsets increase, may skip */
	int64_t next_offset;     /* where the next batch must start (compacted: at the
	                            earliest); -1 before the first segment */
	int32_t last_epoch;      /* leader epoch of the previous batch, -1 at first */
	int64_t first_offset;    /* -1 until a batch is seen */
	int64_t segments, batches, records, bytes;
} cli_log_check_t;

/* One index file of a segment, read whole (they are small: sparse). */
typedef struct cli_log_index {
	char    *path;     /* owned */
	uint8_t *data;     /* owned; NULL when missing or empty */
	size_t   n;        /* whole entries */
} cli_log_index_t;

static uint32_t cli_log_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int32_t cli_log_idx_rel(const cli_log_index_t *x, size_t i)
{
	return (int32_t)cli_log_be32(x->data + i * CLI_LOG_INDEX_ENTRY);
}

static int32_t cli_log_idx_pos(const cli_log_index_t *x, size_t i)
{
	return (int32_t)cli_log_be32(x->data + i * CLI_LOG_INDEX_ENTRY + 4);
}

static int64_t cli_log_tidx_ts(const cli_log_index_t *x, size_t i)
{
	const uint8_t *p = x->data + i * CLI_LOG_TIME_ENTRY;

	return (int64_t)((uint64_t)cli_log_be32(p) << 32 | cli_log_be32(p + 4));
}

static int32_t cli_log_tidx_rel(const cli_log_index_t *x, size_t i)
{
	return (int32_t)cli_log_be32(x->data + i * CLI_LOG_TIME_ENTRY + 8);
}

static void cli_log_index_free(cli_log_index_t *x)
{
	free(x->path);
	free(x->data);
	memset(x, 0, sizeof(*x));
}

/*
 * Read the index file beside a segment ("<base>.log" -> "<base><ext>").
 * A missing file is fine (log_open rebuilds it): a note goes to stderr.
 * Returns 0, or an error naming the file: unreadable, or a size that is not
 * whole entries.
 */
static int cli_log_index_load(const char *seg_path, const char *ext, size_t entry,
                              cli_log_index_t *x, char *err, size_t errlen)
{
	size_t stem = strlen(seg_path) - 4, len = stem + strlen(ext) + 1;
	cli_log_file_t f;
	const uint8_t *p;
	int rc;

	memset(x, 0, sizeof(*x));
	x->path = malloc(len);
	if (x->path == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	memcpy(x->path, seg_path, stem);
	snprintf(x->path + stem, len - stem, "%s", ext);
	rc = cli_log_file_open(&f, x->path, err, errlen);
	if (rc == STRAND_ENOENT) {
		fprintf(stderr, "strand: log check: note: %s is missing (log_open rebuilds it)\n",
		        x->path);
		return 0;
	}
	if (rc)
		return rc;
	if (f.size % (int64_t)entry != 0) {
		rc = strand_err_set(err, errlen, STRAND_ECORRUPT,
		                    "%s: byte %" PRId64 ": %" PRId64 " trailing bytes, not a whole %zu-byte entry",
		                    x->path, f.size - f.size % (int64_t)entry, f.size % (int64_t)entry, entry);
		goto out;
	}
	x->n = (size_t)(f.size / (int64_t)entry);
	if (x->n > 0) {
		rc = cli_log_file_bytes(&f, 0, (size_t)f.size, &p, err, errlen);
		if (rc) {
			char why[256];

			snprintf(why, sizeof(why), "%s", err);
			rc = strand_err_set(err, errlen, rc, "%s: %s", x->path, why);
			goto out;
		}
		/* keep the file's buffer: it holds exactly the entries */
		x->data = f.buf;
		f.buf = NULL;
	}
out:
	cli_log_file_close(&f);
	return rc;
}

/* Order of the offset index on its own: relative offsets and positions strictly increase. */
static int cli_log_index_check_order(const cli_log_index_t *x, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		int32_t rel = cli_log_idx_rel(x, i), pos = cli_log_idx_pos(x, i);

		if (rel < 0 || pos < 0)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "%s: byte %zu: negative entry (relative offset %" PRId32
			                      ", position %" PRId32 ")", x->path, i * CLI_LOG_INDEX_ENTRY,
			                      rel, pos);
		if (i > 0 && (rel <= cli_log_idx_rel(x, i - 1) || pos <= cli_log_idx_pos(x, i - 1)))
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "%s: byte %zu: entry (relative offset %" PRId32 ", position %"
			                      PRId32 ") does not increase on the one before (%" PRId32
			                      ", %" PRId32 ")", x->path, i * CLI_LOG_INDEX_ENTRY, rel, pos,
			                      cli_log_idx_rel(x, i - 1), cli_log_idx_pos(x, i - 1));
	}
	return 0;
}

/* Order of the time index: relative offsets >= 0 and non-decreasing, timestamps non-decreasing. */
static int cli_log_timeindex_check_order(const cli_log_index_t *x, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		int64_t ts = cli_log_tidx_ts(x, i);
		int32_t rel = cli_log_tidx_rel(x, i);

		if (rel < 0)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "%s: byte %zu: negative relative offset %" PRId32,
			                      x->path, i * CLI_LOG_TIME_ENTRY, rel);
		if (i > 0 && (rel < cli_log_tidx_rel(x, i - 1) || ts < cli_log_tidx_ts(x, i - 1)))
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "%s: byte %zu: entry (timestamp %" PRId64 ", relative offset %"
			                      PRId32 ") goes back from the one before (%" PRId64 ", %" PRId32 ")",
			                      x->path, i * CLI_LOG_TIME_ENTRY, ts, rel,
			                      cli_log_tidx_ts(x, i - 1), cli_log_tidx_rel(x, i - 1));
	}
	return 0;
}

/* Where check is inside one segment: the batch walk and the two index cursors. */
typedef struct cli_log_check_seg {
	const char      *path;
	int64_t          base;
	cli_log_index_t  idx, tidx;
	size_t           ic, tc;        /* next index / time index entry to meet */
	int64_t          prev_pos;      /* position of the previous batch, -1 */
	int64_t          max_ts;        /* largest batch max timestamp so far, -1 */
} cli_log_check_seg_t;

/*
 * Match the index entries against the batch at pos, walking both in
 * position/offset order (no table of batches is kept, so a 1 GiB segment
 * costs no more memory than its index files):
 * - an offset index entry must name the position of a batch start, and that
 *   batch must hold base + relative offset;
 * - a time index entry (T, rel) says every record in the batches up to the
 *   one holding base + rel has a timestamp <= T (segment_time_floor relies
 *   on it): T below the largest max timestamp so far would make lookups by
 *   time skip records.
 */
static int cli_log_check_indexes(cli_log_check_seg_t *cs, int64_t pos,
                                 const batch_header_t *h, char *err, size_t errlen)
{
	const cli_log_index_t *x = &cs->idx, *t = &cs->tidx;

	if (cs->max_ts < h->max_timestamp)
		cs->max_ts = h->max_timestamp;
	if (cs->ic < x->n && cli_log_idx_pos(x, cs->ic) < pos)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: byte %zu: position %" PRId32 " is not a batch start "
		                      "(it falls inside the batch at position %" PRId64 ")",
		                      x->path, cs->ic * CLI_LOG_INDEX_ENTRY,
		                      cli_log_idx_pos(x, cs->ic), cs->prev_pos);
	if (cs->ic < x->n && cli_log_idx_pos(x, cs->ic) == pos) {
		int64_t off = cs->base + cli_log_idx_rel(x, cs->ic);

		if (off < h->base_offset || off > batch_last_offset(h))
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "%s: byte %zu: entry for offset %" PRId64 " points at "
			                      "position %" PRId64 ", whose batch holds offsets %" PRId64
			                      "..%" PRId64, x->path, cs->ic * CLI_LOG_INDEX_ENTRY, off,
			                      pos, h->base_offset, batch_last_offset(h));
		cs->ic++;
	}
	while (cs->tc < t->n && cs->base + cli_log_tidx_rel(t, cs->tc) <= batch_last_offset(h)) {
		int64_t ts = cli_log_tidx_ts(t, cs->tc);

		if (ts < cs->max_ts)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "%s: byte %zu: entry (timestamp %" PRId64 ", offset %" PRId64
			                      ") is below the largest timestamp %" PRId64 " of the batches "
			                      "up to that offset: lookups by time would skip records",
			                      t->path, cs->tc * CLI_LOG_TIME_ENTRY, ts,
			                      cs->base + cli_log_tidx_rel(t, cs->tc), cs->max_ts);
		cs->tc++;
	}
	cs->prev_pos = pos;
	return 0;
}

/* After the last batch: index entries left over point past the data. */
static int cli_log_check_indexes_end(const cli_log_check_seg_t *cs, int64_t size,
                                     int64_t next_offset, char *err, size_t errlen)
{
	if (cs->ic < cs->idx.n) {
		int32_t pos = cli_log_idx_pos(&cs->idx, cs->ic);

		if (pos < size)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "%s: byte %zu: position %" PRId32 " is not a batch start "
			                      "(it falls inside the batch at position %" PRId64 ")",
			                      cs->idx.path, cs->ic * CLI_LOG_INDEX_ENTRY, pos, cs->prev_pos);
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: byte %zu: position %" PRId32 " is past the last batch "
		                      "(the segment holds %" PRId64 " bytes)",
		                      cs->idx.path, cs->ic * CLI_LOG_INDEX_ENTRY, pos, size);
	}
	if (cs->tc < cs->tidx.n)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: byte %zu: offset %" PRId64 " is past the segment's last "
		                      "offset %" PRId64, cs->tidx.path, cs->tc * CLI_LOG_TIME_ENTRY,
		                      cs->base + cli_log_tidx_rel(&cs->tidx, cs->tc), next_offset - 1);
	return 0;
}

/*
 * Check one batch at pos against the log so far: whole and valid
 * (batch_validate: length, magic, CRC32C, records), at the offset that
 * follows the previous batch, relative offsets fitting the int32 indexes,
 * leader epoch not going back (log_append refuses older epochs).
 */
static int cli_log_check_batch(cli_log_check_t *c, cli_log_check_seg_t *cs,
                               const uint8_t *batch, int64_t pos, const batch_header_t *h,
                               char *err, size_t errlen)
{
	char why[256];
	int rc;

	rc = (c->compacted ? batch_validate_compacted : batch_validate)
	        (batch, batch_total_size(h), 0, NULL, why, sizeof(why));
	if (rc)
		return strand_err_set(err, errlen, rc, "%s: byte %" PRId64 ": %s", cs->path, pos, why);
	if (c->compacted ? h->base_offset < c->next_offset : h->base_offset != c->next_offset)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: byte %" PRId64 ": batch starts at offset %" PRId64
		                      ", expected %" PRId64 " (%s)", cs->path, pos, h->base_offset,
		                      c->next_offset, pos == 0 ? "the segment's base offset, from its name"
		                                               : "the previous batch's last offset + 1");
	if (batch_last_offset(h) - cs->base > INT32_MAX)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: byte %" PRId64 ": offset %" PRId64 " is too far from the "
		                      "segment base %" PRId64 " for the int32 index", cs->path, pos,
		                      batch_last_offset(h), cs->base);
	if (h->leader_epoch < c->last_epoch)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%s: byte %" PRId64 ": leader epoch %" PRId32 " is below the "
		                      "previous batch's %" PRId32, cs->path, pos, h->leader_epoch,
		                      c->last_epoch);
	return cli_log_check_indexes(cs, pos, h, err, errlen);
}

/* Check one segment and its indexes; c carries offsets and counts across segments. */
static int cli_log_check_segment(cli_log_check_t *c, const cli_log_segment_t *seg,
                                 char *err, size_t errlen)
{
	cli_log_check_seg_t cs;
	cli_log_file_t f;
	batch_header_t h;
	const uint8_t *batch;
	int64_t pos = 0;
	char why[256];
	int rc;

	memset(&cs, 0, sizeof(cs));
	cs.path = seg->path;
	cs.base = seg->base;
	cs.prev_pos = -1;
	cs.max_ts = -1;
	memset(&f, 0, sizeof(f));
	f.fd = -1;
	if (c->next_offset >= 0 && seg->base != c->next_offset) {
		rc = strand_err_set(err, errlen, STRAND_ECORRUPT,
		                    "%s: byte 0: segment base offset %" PRId64 " does not follow the "
		                    "previous segment, which ends at offset %" PRId64 " (%s)",
		                    seg->path, seg->base, c->next_offset - 1,
		                    seg->base > c->next_offset ? "a gap" : "an overlap");
		goto out;
	}
	c->next_offset = seg->base;
	if ((rc = cli_log_index_load(seg->path, ".index", CLI_LOG_INDEX_ENTRY, &cs.idx,
	                             err, errlen)) != 0 ||
	    (rc = cli_log_index_load(seg->path, ".timeindex", CLI_LOG_TIME_ENTRY, &cs.tidx,
	                             err, errlen)) != 0 ||
	    (rc = cli_log_index_check_order(&cs.idx, err, errlen)) != 0 ||
	    (rc = cli_log_timeindex_check_order(&cs.tidx, err, errlen)) != 0)
		goto out;
	if ((rc = cli_log_file_open(&f, seg->path, err, errlen)) != 0)
		goto out;
	while ((rc = cli_log_file_batch(&f, pos, &h, &batch, why, sizeof(why))) == 0) {
		rc = cli_log_check_batch(c, &cs, batch, pos, &h, err, errlen);
		if (rc)
			goto out;
		if (c->first_offset < 0)
			c->first_offset = h.base_offset;
		c->next_offset = batch_last_offset(&h) + 1;
		c->last_epoch = h.leader_epoch;
		c->batches++;
		c->records += h.record_count;
		pos += (int64_t)batch_total_size(&h);
	}
	if (rc != 1) {
		rc = strand_err_set(err, errlen, rc, "%s: %s", seg->path, why);
		goto out;
	}
	rc = cli_log_check_indexes_end(&cs, f.size, c->next_offset, err, errlen);
	c->bytes += f.size;
	c->segments++;
out:
	cli_log_file_close(&f);
	cli_log_index_free(&cs.idx);
	cli_log_index_free(&cs.tidx);
	return rc;
}

static int cli_log_check(int argc, char **argv)
{
	cli_log_segments_t segs;
	cli_log_check_t c;
	const char *path = NULL;
	char err[1024];
	size_t s;
	int i, status = 1;

	for (i = 1; i < argc; i++) {
		if (cli_log_is_help(argv[i])) {
			cli_log_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return cli_log_unknown("check", argv[i]);
		} else if (path != NULL) {
			fprintf(stderr, "strand: log check: one DIR or FILE, not \"%s\" too\n", argv[i]);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (path == NULL) {
		fprintf(stderr, "strand: log check: which DIR or FILE?\n");
		cli_log_usage(stderr);
		return 2;
	}
	if (cli_log_segments_list(path, &segs, err, sizeof(err)) != 0) {
		fprintf(stderr, "strand: log check: %s\n", err);
		return 1;
	}
	if (!segs.is_dir && segs.v[0].base < 0) {
		fprintf(stderr, "strand: log check: %s: not a segment file "
		        "(<20-digit base offset>.log names its first offset)\n", path);
		status = 2;
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.compacted = segs.n > 0 && cli_log_compacted(segs.v[0].path);
	c.next_offset = -1;
	c.last_epoch = -1;
	c.first_offset = -1;
	for (s = 0; s < segs.n; s++) {
		if (cli_log_check_segment(&c, &segs.v[s], err, sizeof(err)) != 0) {
			fprintf(stderr, "strand: log check: %s\n", err);
			goto out;
		}
	}
	printf("%s: ok: %" PRId64 " segment%s, %" PRId64 " batches, %" PRId64 " records, %"
	       PRId64 " bytes, ", path, c.segments, c.segments == 1 ? "" : "s", c.batches,
	       c.records, c.bytes);
	if (c.records > 0)
		printf("offsets %" PRId64 "..%" PRId64 "\n", c.first_offset, c.next_offset - 1);
	else
		printf("no records, log end offset %" PRId64 "\n", c.next_offset);
	status = 0;
out:
	cli_log_segments_free(&segs);
	return status;
}

/* ---- bench --------------------------------------------------------------- */

typedef struct cli_log_bench_opts {
	const char *dir;
	int64_t records, value_size, batch, key_size, segment_bytes;
} cli_log_bench_opts_t;

static int64_t cli_log_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cli_log_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns 0, 1 (--help printed) or 2 (usage error printed). */
static int cli_log_bench_args(int argc, char **argv, cli_log_bench_opts_t *o)
{
	static const struct {
		const char *flag;
		int64_t min, max;
		size_t field;
	} flags[] = {
		{ "--records",       1,    INT64_MAX / 2, offsetof(cli_log_bench_opts_t, records) },
		{ "--value-size",    0,    16 << 20,      offsetof(cli_log_bench_opts_t, value_size) },
		{ "--batch",         1,    1000000,       offsetof(cli_log_bench_opts_t, batch) },
		{ "--key-size",      0,    1 << 20,       offsetof(cli_log_bench_opts_t, key_size) },
		{ "--segment-bytes", 1024, INT32_MAX,     offsetof(cli_log_bench_opts_t, segment_bytes) },
	};
	const char *value;
	size_t f;
	int i, m;

	memset(o, 0, sizeof(*o));
	o->records = o->value_size = -1;
	o->batch = 1000;
	o->segment_bytes = 1073741824;
	for (i = 1; i < argc; i++) {
		if (cli_log_is_help(argv[i])) {
			cli_log_usage(stdout);
			return 1;
		}
		for (f = 0, m = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			m = cli_log_flag(argc, argv, &i, "bench", flags[f].flag, &value);
			if (m < 0)
				return 2;
			if (m > 0) {
				if (cli_log_parse_i64("bench", flags[f].flag, value, flags[f].min, flags[f].max,
				                      (int64_t *)((char *)o + flags[f].field)) != 0)
					return 2;
				break;
			}
		}
		if (m > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return cli_log_unknown("bench", argv[i]);
		if (o->dir != NULL) {
			fprintf(stderr, "strand: log bench: one DIR, not \"%s\" too\n", argv[i]);
			return 2;
		}
		o->dir = argv[i];
	}
	if (o->dir == NULL || o->records < 0 || o->value_size < 0) {
		fprintf(stderr, "strand: log bench: DIR, --records and --value-size are required\n");
		cli_log_usage(stderr);
		return 2;
	}
	/* upper bound of one record's framing: length, attributes, deltas, lengths, header count */
	if ((uint64_t)o->batch * (uint64_t)(o->value_size + o->key_size + 32) + BATCH_HEADER_SIZE >
	    CLI_LOG_BENCH_MAX_BATCH) {
		fprintf(stderr, "strand: log bench: %" PRId64 " records of %" PRId64 " bytes do not fit "
		        "a %u MiB batch: lower --batch\n", o->batch, o->value_size + o->key_size,
		        CLI_LOG_BENCH_MAX_BATCH >> 20);
		return 2;
	}
	return 0;
}

/* bench writes a log of its own: refuse a directory that holds anything. */
static int cli_log_bench_fresh_dir(const char *dir, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL && errno == ENOENT)
		return 0;   /* log_open creates it */
	if (d == NULL)
		return strand_err_set(err, errlen, STRAND_EIO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			break;
	closedir(d);
	if (de != NULL)
		return strand_err_set(err, errlen, STRAND_EEXIST,
		                      "%s is not empty: bench needs a new or empty directory", dir);
	return 0;
}

/* Totals of the read-back pass. */
typedef struct cli_log_bench_read {
	int64_t records, bytes, next_offset;
} cli_log_bench_read_t;

/*
 * Walk the records of the whole batches in buf[0, len): offsets must
 * continue from r->next_offset (records below it, from a slice that starts
 * before the asked offset, are skipped) and keys/values have the sizes
 * bench wrote. Hot path: no allocation, no syscall.
 */
static int cli_log_bench_verify(const uint8_t *buf, size_t len, const cli_log_bench_opts_t *o,
                                cli_log_bench_read_t *r, char *err, size_t errlen)
{
	int32_t key_len = o->key_size > 0 ? (int32_t)o->key_size : -1;
	size_t pos = 0;
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	int rc;

	while (pos < len) {
		if (batch_header_decode(buf + pos, len - pos, 0, &h, err, errlen) != 0 ||
		    batch_total_size(&h) > len - pos || batch_iter_init(&it, buf + pos, len - pos) != 0)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "read back: unreadable batch at offset %" PRId64, r->next_offset);
		while ((rc = batch_iter_next(&it, &rec)) == 1) {
			if (rec.offset < r->next_offset)
				continue;
			if (rec.offset != r->next_offset || rec.key_len != key_len ||
			    rec.value_len != (int32_t)o->value_size)
				return strand_err_set(err, errlen, STRAND_ECORRUPT,
				                      "read back: record at offset %" PRId64 " (expected %" PRId64
				                      ") has a %" PRId32 "-byte key and a %" PRId32 "-byte value "
				                      "(expected %" PRId32 " and %" PRId64 ")", rec.offset,
				                      r->next_offset, rec.key_len, rec.value_len, key_len,
				                      o->value_size);
			r->next_offset++;
			r->records++;
		}
		if (rc < 0)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "read back: unreadable record after offset %" PRId64,
			                      r->next_offset - 1);
		pos += batch_total_size(&h);
		r->bytes += (int64_t)batch_total_size(&h);
	}
	return 0;
}

/*
 * Read [start, end) back as a consumer would: log_read for the next slice
 * (at most CLI_LOG_FETCH_BYTES, within one segment), pread it into one
 * reused buffer, walk its records. CRCs are not recomputed here: check
 * does that; this measures the fetch path.
 */
static int cli_log_bench_read_back(log_t *log, const cli_log_bench_opts_t *o, int64_t start,
                                   int64_t end, cli_log_bench_read_t *r, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t cap = 0, got;
	log_slice_t slice;
	int rc = 0;

	r->next_offset = start;
	while (r->next_offset < end) {
		rc = log_read(log, r->next_offset, CLI_LOG_FETCH_BYTES, -1, &slice, err, errlen);
		if (rc)
			goto out;
		if (slice.len == 0) {
			rc = strand_err_set(err, errlen, STRAND_ECORRUPT, "read back: no batch at offset %"
			                    PRId64 " below the log end offset %" PRId64, r->next_offset, end);
			goto out;
		}
		if (slice.len > cap) {
			uint8_t *p = realloc(buf, slice.len);

			if (p == NULL) {
				log_slice_release(&slice);
				rc = strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
				goto out;
			}
			buf = p;
			cap = slice.len;
		}
		for (got = 0; got < slice.len; ) {
			ssize_t n = pread(slice.fd, buf + got, slice.len - got, slice.pos + (off_t)got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = strand_err_set(err, errlen, STRAND_EIO, "read back at offset %" PRId64 ": %s",
				                    r->next_offset, n < 0 ? strerror(errno) : "short read");
				log_slice_release(&slice);
				goto out;
			}
			got += (size_t)n;
		}
		log_slice_release(&slice);
		rc = cli_log_bench_verify(buf, got, o, r, err, errlen);
		if (rc)
			goto out;
	}
out:
	free(buf);
	return rc;
}

/* One bench run: its options, the reused builder and payloads, and what it measured. */
typedef struct cli_log_bench {
	cli_log_bench_opts_t o;
	batch_builder_t b;
	uint8_t *key, *value;           /* owned; printable, so dump shows strings */
	int32_t  key_len;               /* -1: null keys */
	size_t   size;                  /* of the batch last built in b */
	int64_t  batches, bytes, build_ns, append_ns, flush_ns, read_ns;
	int      segments;
	cli_log_bench_read_t read;
} cli_log_bench_t;

/*
 * Build one batch of n records into bn->b (reset first: the buffer is
 * reused, so nothing is allocated once it has grown to a batch). Every
 * record of a batch gets the batch's wall-clock time, read once per batch.
 * Timed into build_ns, which the append rate leaves out.
 */
static int cli_log_bench_build(cli_log_bench_t *bn, int64_t n)
{
	int64_t ts = cli_log_wall_ms(), t0 = cli_log_now_ns(), i;
	int rc;

	batch_builder_reset(&bn->b);
	rc = batch_builder_begin(&bn->b, -1, -1, -1);
	/* hot loop: one record per turn, varints and memcpy into the builder */
	for (i = 0; rc == 0 && i < n; i++)
		rc = batch_builder_add(&bn->b, ts, bn->key, bn->key_len, bn->value,
		                       (int32_t)bn->o.value_size, NULL, 0);
	if (rc == 0)
		rc = batch_builder_finish(&bn->b, &bn->size);
	bn->build_ns += cli_log_now_ns() - t0;
	return rc;
}

/*
 * Append o.records records in batches of o.batch, the first batch already
 * built. Only log_append is timed (validation, offsets, one pwrite, the
 * sparse index update): the append rate is the log's, not the builder's.
 */
static int cli_log_bench_append(cli_log_bench_t *bn, log_t *log, char *err, size_t errlen)
{
	log_append_info_t info;
	int64_t sent = 0, n, t0;
	int rc;

	while (sent < bn->o.records) {
		n = bn->o.records - sent < bn->o.batch ? bn->o.records - sent : bn->o.batch;
		if (sent > 0 && (rc = cli_log_bench_build(bn, n)) != 0)
			return strand_err_set(err, errlen, rc, "build a batch: %s", strand_strerror(rc));
		t0 = cli_log_now_ns();
		rc = log_append(log, bn->b.buf, bn->size, 0, &info, err, errlen);
		bn->append_ns += cli_log_now_ns() - t0;
		if (rc)
			return rc;
		if (info.first_offset != sent || info.record_count != n)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "append gave offsets %" PRId64 "..%" PRId64 " to %" PRId64
			                      " records, expected %" PRId64 "..%" PRId64, info.first_offset,
			                      info.last_offset, n, sent, sent + n - 1);
		sent += n;
		bn->batches++;
		bn->bytes += (int64_t)bn->size;
	}
	return 0;
}

/* Open a new log in o.dir, append, flush, read back, close. */
static int cli_log_bench_run(cli_log_bench_t *bn, char *err, size_t errlen)
{
	log_config_t cfg;
	log_t *log = NULL;
	int64_t t0;
	size_t i;
	int rc;

	bn->key = malloc((size_t)bn->o.key_size + 1);
	bn->value = malloc((size_t)bn->o.value_size + 1);
	if (bn->key == NULL || bn->value == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	for (i = 0; i < (size_t)bn->o.value_size; i++)
		bn->value[i] = (uint8_t)('a' + i % 26);
	for (i = 0; i < (size_t)bn->o.key_size; i++)
		bn->key[i] = (uint8_t)('A' + i % 26);
	bn->key_len = bn->o.key_size > 0 ? (int32_t)bn->o.key_size : -1;

	/* the first batch is the largest: it raises max_batch_bytes when over the default */
	rc = cli_log_bench_build(bn, bn->o.records < bn->o.batch ? bn->o.records : bn->o.batch);
	if (rc)
		return strand_err_set(err, errlen, rc, "build a batch: %s", strand_strerror(rc));
	log_config_default(&cfg);
	cfg.segment_bytes = bn->o.segment_bytes;
	cfg.segment_ms = -1;        /* rolls by size only, retention never: */
	cfg.retention_ms = -1;      /* the directory stays whole for check and dump */
	if (bn->size > (size_t)cfg.max_batch_bytes)
		cfg.max_batch_bytes = (int32_t)bn->size;
	rc = log_open(bn->o.dir, &cfg, &log, err, errlen);
	if (rc)
		return rc;
	rc = cli_log_bench_append(bn, log, err, errlen);
	if (rc)
		goto out;

	t0 = cli_log_now_ns();
	rc = log_flush(log, -1, err, errlen);
	bn->flush_ns = cli_log_now_ns() - t0;
	if (rc)
		goto out;

	t0 = cli_log_now_ns();
	rc = cli_log_bench_read_back(log, &bn->o, log_start_offset(log), log_end_offset(log),
	                             &bn->read, err, errlen);
	bn->read_ns = cli_log_now_ns() - t0;
	if (rc)
		goto out;
	if (bn->read.records != bn->o.records || bn->read.bytes != bn->bytes)
		rc = strand_err_set(err, errlen, STRAND_ECORRUPT,
		                    "read back %" PRId64 " records in %" PRId64 " bytes, appended %"
		                    PRId64 " in %" PRId64, bn->read.records, bn->read.bytes,
		                    bn->o.records, bn->bytes);
	bn->segments = log_segment_count(log);
out:
	log_close(log);
	return rc;
}

static double cli_log_rate(int64_t n, int64_t ns)
{
	return (double)n * 1e9 / (double)(ns > 0 ? ns : 1);
}

/* The report; its last line is the one scripts read. */
static void cli_log_bench_print(const cli_log_bench_t *bn)
{
	const cli_log_bench_opts_t *o = &bn->o;

	printf("bench: %" PRId64 " records, %" PRId64 "-byte values, ", o->records, o->value_size);
	if (o->key_size > 0)
		printf("%" PRId64 "-byte keys", o->key_size);
	else
		printf("null keys");
	printf(", %" PRId64 " per batch: %" PRId64 " batches, %" PRId64 " bytes, %d segment%s, in %s\n",
	       o->batch, bn->batches, bn->bytes, bn->segments, bn->segments == 1 ? "" : "s", o->dir);
	printf("build:  %.3f s  batch_builder (not in the append time)\n", bn->build_ns / 1e9);
	printf("append: %.3f s  log_append to the page cache, no fsync\n", bn->append_ns / 1e9);
	printf("flush:  %.3f s  log_flush: fdatasync (not in the append time)\n", bn->flush_ns / 1e9);
	printf("read:   %.3f s  log_read + pread of %u-byte fetches + batch_iter, every record checked\n",
	       bn->read_ns / 1e9, CLI_LOG_FETCH_BYTES);
	printf("MB = 1e6 bytes of whole batches as stored (headers and record framing included)\n");
	printf("append: %.0f records/s %.1f MB/s; read: %.0f records/s %.1f MB/s\n",
	       cli_log_rate(o->records, bn->append_ns), cli_log_rate(bn->bytes, bn->append_ns) / 1e6,
	       cli_log_rate(bn->read.records, bn->read_ns),
	       cli_log_rate(bn->read.bytes, bn->read_ns) / 1e6);
}

static int cli_log_bench(int argc, char **argv)
{
	cli_log_bench_t bn;
	char err[512];
	int rc;

	memset(&bn, 0, sizeof(bn));
	rc = cli_log_bench_args(argc, argv, &bn.o);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (cli_log_bench_fresh_dir(bn.o.dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "strand: log bench: %s\n", err);
		return 2;
	}
	batch_builder_init(&bn.b);
	rc = cli_log_bench_run(&bn, err, sizeof(err));
	if (rc == 0)
		cli_log_bench_print(&bn);
	else
		fprintf(stderr, "strand: log bench: %s\n", err);
	batch_builder_free(&bn.b);
	free(bn.key);
	free(bn.value);
	return rc == 0 ? 0 : 1;
}

/* ---- strand log ---------------------------------------------------------- */

int cli_log(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} subs[] = {
		{ "dump",  cli_log_dump },
		{ "check", cli_log_check },
		{ "bench", cli_log_bench },
	};
	size_t i;

	if (argc < 2) {
		cli_log_usage(stderr);
		return 2;
	}
	if (cli_log_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		cli_log_usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "strand: log: unknown subcommand \"%s\"\n\n", argv[1]);
	cli_log_usage(stderr);
	return 2;
}
