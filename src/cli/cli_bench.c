/*
 * cli_bench.c — `strand bench produce|consume|e2e`: load a running broker
 * over HTTP and report records/s, MB/s and latency percentiles.
 *
 *   produce  POST batches (JSON {"records":[...]} to the topic path, or
 *            binary RecordBatch v2 to partition paths, round-robin) over
 *            --connections keep-alive connections, flat out or at --rate;
 *            latency is request latency, measured from the moment a request
 *            was due (at a fixed rate a late send counts against us, so a
 *            stall is not hidden: no coordinated omission).
 *   consume  fetch every partition from its log start to the high
 *            watermark seen at start (JSON or binary batches).
 *   e2e      a producer at --rate and one long-poll fetch per partition in
 *            the same loop; each value carries the time its record was due,
 *            and latency is "due" to "seen by the consumer".
 *
 * One thread drives everything with libcurl multi (no thread per
 * connection); bodies are built once (produce) or per request (e2e), never
 * per record on the hot path. Binary batches come from log/batch.h's
 * builder, the one encoder of the format. Percentiles come from a
 * log-bucketed histogram (HDR-like: 128 sub-buckets per power of two, under
 * 1 % error) that never allocates per sample.
 *
 * Output: a live progress line on stderr when it is a terminal, then one
 * summary line on stdout (`--kv`: key=value pairs, for scripts).
 */
#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/err.h"
#include "log/batch.h"

#define BENCH_MAX_CONNECTIONS 1024
#define BENCH_MAX_PARTITIONS  10000
#define BENCH_TAIL            160      /* JSON fetch: bytes kept to find next_offset */
#define BENCH_STAMP_DIGITS    20       /* e2e: due time in ns as 20 ASCII digits */
#define BENCH_LEADER_WAIT_MS  15000    /* --leaders: a new topic's leaders to know it */
#define BENCH_NOT_LEADER_BACKOFF_MS 20 /* --leaders: a 421 at start, sent again after */

/* ---- histogram ------------------------------------------------------------ */

#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct bench_hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t n, max;
} bench_hist_t;

static unsigned hist_index(uint64_t v)
{
	unsigned msb;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return (msb - HIST_SUB_BITS + 1) * HIST_SUB +
	       (unsigned)(v >> (msb - HIST_SUB_BITS)) - HIST_SUB;
}

/* The middle of bucket idx's value range. */
static uint64_t hist_value(unsigned idx)
{
	unsigned g = idx / HIST_SUB;
	uint64_t sub = idx % HIST_SUB + HIST_SUB;

	if (g == 0)
		return idx;
	return (sub << (g - 1)) + ((1ull << (g - 1)) >> 1);
}

/* Hot path: one increment, no allocation. */
static void hist_add(bench_hist_t *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static uint64_t hist_percentile(const bench_hist_t *h, double pct)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (h->n == 0)
		return 0;
	want = (uint64_t)((double)h->n * pct / 100.0);
	if ((double)want < (double)h->n * pct / 100.0 || want == 0)
		want++;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= want)
			return hist_value(i) < h->max ? hist_value(i) : h->max;
	}
	return h->max;
}

/* ---- options -------------------------------------------------------------- */

typedef enum bench_mode { BENCH_PRODUCE, BENCH_CONSUME, BENCH_E2E } bench_mode_t;

typedef struct bench_opts {
	bench_mode_t mode;
	const char  *url;
	const char  *topic;
	int          create;
	int64_t      partitions;     /* for --create; else read from the topic */
	int64_t      records;        /* total to move; 0: until --duration */
	double       duration;       /* seconds; 0: until --records */
	int64_t      record_size;
	int64_t      batch;          /* records per produce request / JSON fetch */
	const char  *acks;
	int64_t      connections;
	int          binary;         /* --format binary */
	double       rate;           /* records/s; 0: flat out */
	int64_t      fetch_bytes;
	int          leaders;        /* --leaders: each partition's requests to its leader */
	int          kv, quiet;
} bench_opts_t;

static void bench_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand bench produce|consume|e2e [options]\n"
	        "       strand bench failover --help   (leader kill -9 -> acks=all writes again)\n"
	        "\n"
	        "  --url URL            broker (default http://127.0.0.1:8080)\n"
	        "  --topic NAME         topic (default bench)\n"
	        "  --create             create the topic with --partitions if it does not exist\n"
	        "  --partitions N       partitions of a created topic (default 1)\n"
	        "  --records N          records to move (default: produce 1000000, consume: all,\n"
	        "                       e2e: until --duration)\n"
	        "  --duration S         stop after S seconds (e2e default 10)\n"
	        "  --record-size B      bytes of each stored value (default 100)\n"
	        "  --batch N            records per produce request / JSON fetch (default 1000;\n"
	        "                       e2e 10)\n"
	        "  --acks 0|1|all       produce acks (default 1)\n"
	        "  --connections C      concurrent keep-alive connections (default 8; e2e:\n"
	        "                       producer connections, default 4)\n"
	        "  --format json|binary produce JSON to the topic path or binary batches to\n"
	        "                       partition paths; fetch JSON or binary (default json)\n"
	        "  --rate R             records/s (default 0: flat out; e2e 10000)\n"
	        "  --fetch-bytes B      max_bytes of a fetch (default 1048576)\n"
	        "  --leaders            cluster mode: send each partition's requests straight to\n"
	        "                       its leader (GET /v1/cluster and the topic's leaders, as\n"
	        "                       libstrand does) with Strand-Route: direct; JSON produce\n"
	        "                       goes to partition paths, round-robin\n"
	        "  --kv                 summary as key=value pairs\n"
	        "  --quiet              no progress line\n"
	        "\n"
	        "Latency is per request for produce and consume (from when it was due, so a\n"
	        "fixed rate that falls behind shows it), and record due -> consumed for e2e.\n"
	        "MB/s counts value bytes for produce and e2e, response bytes for consume.\n");
}

static int bench_parse_i64(const char *flag, const char *v, int64_t min, int64_t max,
                           int64_t *out)
{
	char *end;
	long long x;

	x = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || x < min || x > max) {
		fprintf(stderr, "strand: bench: %s must be an integer in [%" PRId64 ", %" PRId64
		        "], not \"%s\"\n", flag, min, max, v);
		return -1;
	}
	*out = x;
	return 0;
}

static int bench_parse_double(const char *flag, const char *v, double *out)
{
	char *end;
	double x = strtod(v, &end);

	if (*v == '\0' || *end != '\0' || !(x >= 0) || x > 1e12) {
		fprintf(stderr, "strand: bench: %s must be a number >= 0, not \"%s\"\n", flag, v);
		return -1;
	}
	*out = x;
	return 0;
}

static int bench_args(int argc, char **argv, bench_opts_t *o)
{
	int i;

	if (argc < 2) {
		bench_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		bench_usage(stdout);
		return 1;
	}
	if (strcmp(argv[1], "produce") == 0)
		o->mode = BENCH_PRODUCE;
	else if (strcmp(argv[1], "consume") == 0)
		o->mode = BENCH_CONSUME;
	else if (strcmp(argv[1], "e2e") == 0)
		o->mode = BENCH_E2E;
	else {
		fprintf(stderr, "strand: bench: unknown mode \"%s\" (produce, consume, e2e, failover)\n",
		        argv[1]);
		return 2;
	}
	o->url = "http://127.0.0.1:8080";
	o->topic = "bench";
	o->partitions = 1;
	o->records = -1;
	o->record_size = 100;
	o->batch = o->mode == BENCH_E2E ? 10 : 1000;
	o->acks = "1";
	o->connections = o->mode == BENCH_E2E ? 4 : 8;
	o->rate = o->mode == BENCH_E2E ? 10000 : 0;
	o->duration = o->mode == BENCH_E2E ? 10 : 0;
	o->fetch_bytes = 1 << 20;
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0, takes = 1;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			bench_usage(stdout);
			return 1;
		} else if (strcmp(a, "--create") == 0) {
			o->create = 1; takes = 0;
		} else if (strcmp(a, "--kv") == 0) {
			o->kv = 1; takes = 0;
		} else if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1; takes = 0;
		} else if (strcmp(a, "--leaders") == 0) {
			o->leaders = 1; takes = 0;
		} else if (v == NULL) {
			fprintf(stderr, "strand: bench: unknown option or missing value: %s\n", a);
			return 2;
		} else if (strcmp(a, "--url") == 0) {
			o->url = v;
		} else if (strcmp(a, "--topic") == 0) {
			o->topic = v;
		} else if (strcmp(a, "--partitions") == 0) {
			rc = bench_parse_i64(a, v, 1, BENCH_MAX_PARTITIONS, &o->partitions);
		} else if (strcmp(a, "--records") == 0) {
			rc = bench_parse_i64(a, v, 1, INT64_MAX / 2, &o->records);
		} else if (strcmp(a, "--duration") == 0) {
			rc = bench_parse_double(a, v, &o->duration);
		} else if (strcmp(a, "--record-size") == 0) {
			rc = bench_parse_i64(a, v, BENCH_STAMP_DIGITS + 2, 16 << 20, &o->record_size);
		} else if (strcmp(a, "--batch") == 0) {
			rc = bench_parse_i64(a, v, 1, 100000, &o->batch);
		} else if (strcmp(a, "--acks") == 0) {
			if (strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "all")) {
				fprintf(stderr, "strand: bench: --acks must be 0, 1 or all\n");
				return 2;
			}
			o->acks = v;
		} else if (strcmp(a, "--connections") == 0) {
			rc = bench_parse_i64(a, v, 1, BENCH_MAX_CONNECTIONS, &o->connections);
		} else if (strcmp(a, "--format") == 0) {
			if (strcmp(v, "json") && strcmp(v, "binary")) {
				fprintf(stderr, "strand: bench: --format must be json or binary\n");
				return 2;
			}
			o->binary = strcmp(v, "binary") == 0;
		} else if (strcmp(a, "--rate") == 0) {
			rc = bench_parse_double(a, v, &o->rate);
		} else if (strcmp(a, "--fetch-bytes") == 0) {
			rc = bench_parse_i64(a, v, 1, 64 << 20, &o->fetch_bytes);
		} else {
			fprintf(stderr, "strand: bench: unknown option %s (see strand bench --help)\n", a);
			return 2;
		}
		if (rc)
			return 2;
		i += takes;
	}
	if (o->records < 0)
		o->records = o->mode == BENCH_PRODUCE && o->duration == 0 ? 1000000 : 0;
	if (o->mode == BENCH_E2E && o->duration == 0 && o->records == 0) {
		fprintf(stderr, "strand: bench: e2e needs --duration or --records\n");
		return 2;
	}
	return 0;
}

/* ---- clocks and the topic ------------------------------------------------- */

static int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t bench_collect(char *data, size_t size, size_t n, void *cls)
{
	return buf_append(cls, data, size * n) == 0 ? size * n : 0;
}

long cli_http_simple(const char *url, const char *method, const char *body, long timeout_ms,
                     buf_t *out)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *e = curl_easy_init();
	long status = -1;

	if (e == NULL || hdrs == NULL)
		goto out;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (body != NULL)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, bench_collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
out:
	curl_slist_free_all(hdrs);
	if (e)
		curl_easy_cleanup(e);
	return status;
}

/* A setup request of the benchmark: at most 30 s. */
static long bench_simple(const char *url, const char *method, const char *body, buf_t *out)
{
	return cli_http_simple(url, method, body, 30000L, out);
}

typedef struct bench_part {
	int64_t start, end;      /* consume: log start and the high watermark at start */
	int64_t next;            /* next offset to fetch */
	int     busy;
	int64_t leader;          /* broker id leading it (cluster mode), -1 none */
	char   *url;             /* --leaders: its leader's base URL; else NULL (--url) */
} bench_part_t;

/*
 * --leaders: each partition's leader URL from GET /v1/cluster (broker id ->
 * URL) and the leader ids bench_topic read. Fails, naming the partition,
 * when one has no live leader: a route measured must be a direct one.
 */
static int bench_leader_urls(const bench_opts_t *o, bench_part_t *parts, int32_t n)
{
	char url[2048];
	buf_t out = BUF_INIT;
	cJSON *doc = NULL, *b;
	int32_t i;
	int rc = -1;

	snprintf(url, sizeof url, "%s/v1/cluster", o->url);
	if (bench_simple(url, "GET", NULL, &out) != 200 || (doc = cJSON_Parse(out.data)) == NULL) {
		fprintf(stderr, "strand: bench: --leaders: GET %s failed\n", url);
		goto out;
	}
	for (i = 0; i < n; i++) {
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(doc, "brokers")) {
			cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
			cJSON *bu = cJSON_GetObjectItemCaseSensitive(b, "url");

			if (cJSON_IsNumber(id) && (int64_t)id->valuedouble == parts[i].leader &&
			    cJSON_IsString(bu) && (parts[i].url = strdup(bu->valuestring)) == NULL)
				goto out;
		}
		if (parts[i].url == NULL) {
			fprintf(stderr, "strand: bench: --leaders: partition %d has no live leader "
			        "(leader %" PRId64 ")\n", (int)i, parts[i].leader);
			goto out;
		}
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	buf_free(&out);
	return rc;
}

static void bench_parts_free(bench_part_t *parts, int32_t n)
{
	int32_t i;

	for (i = 0; parts != NULL && i < n; i++)
		free(parts[i].url);
	free(parts);
}

/* GET base/v1/topics/topic into *doc (parsed). Returns the HTTP status;
 * a failure is said on stderr unless quiet. */
static long bench_get_topic(const char *base, const char *topic, cJSON **doc, int quiet)
{
	char url[2048];
	buf_t out = BUF_INIT;
	long st;

	snprintf(url, sizeof url, "%s/v1/topics/%s", base, topic);
	st = bench_simple(url, "GET", NULL, &out);
	*doc = st == 200 ? cJSON_Parse(out.data) : NULL;
	if (st != 200 && !quiet)
		fprintf(stderr, "strand: bench: topic %s at %s: HTTP %ld %s%s\n", topic, base, st,
		        out.data ? out.data : "", st == 404 ? " (use --create)" : "");
	buf_free(&out);
	return *doc != NULL ? st : -1;
}

/* Offsets and leader of the topic view's partitions into parts (only
 * partition `only`, or all when -1). */
static void bench_apply_view(const cJSON *doc, bench_part_t *parts, int32_t n, int32_t only)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "partitions")) {
		cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "partition");
		cJSON *ls = cJSON_GetObjectItemCaseSensitive(it, "log_start_offset");
		cJSON *hw = cJSON_GetObjectItemCaseSensitive(it, "high_watermark");
		cJSON *ld = cJSON_GetObjectItemCaseSensitive(it, "leader");

		if (!cJSON_IsNumber(p) || p->valueint < 0 || p->valueint >= n ||
		    (only >= 0 && p->valueint != only))
			continue;
		parts[p->valueint].start = cJSON_IsNumber(ls) ? (int64_t)ls->valuedouble : 0;
		parts[p->valueint].end = cJSON_IsNumber(hw) ? (int64_t)hw->valuedouble : 0;
		parts[p->valueint].next = parts[p->valueint].start;
		parts[p->valueint].leader = cJSON_IsNumber(ld) ? (int64_t)ld->valuedouble : -1;
	}
}

/* Create the topic if asked, then read its partitions' offsets; with
 * --leaders, where their leaders are, and each partition's offsets as its
 * leader sees them (another broker's view of a partition it does not
 * replicate has no high watermark). */
static int bench_topic(const bench_opts_t *o, bench_part_t **parts_out, int32_t *n_out)
{
	char url[2048];
	buf_t out = BUF_INIT;
	cJSON *doc = NULL;
	bench_part_t *parts = NULL;
	long st;
	int32_t n = 0, i;

	if (o->create) {
		char body[600];

		snprintf(url, sizeof url, "%s/v1/topics", o->url);
		snprintf(body, sizeof body, "{\"name\":\"%s\",\"partitions\":%" PRId64 "}", o->topic,
		         o->partitions);
		st = bench_simple(url, "POST", body, &out);
		if (st != 201 && st != 409) {
			fprintf(stderr, "strand: bench: creating topic %s at %s: HTTP %ld %s\n", o->topic,
			        o->url, st, out.data ? out.data : "");
			goto fail;
		}
	}
	if (bench_get_topic(o->url, o->topic, &doc, 0) != 200)
		goto fail;
	n = (int32_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "partitions"));
	if (n <= 0 || (parts = calloc((size_t)n, sizeof *parts)) == NULL) {
		fprintf(stderr, "strand: bench: cannot read topic %s's partitions\n", o->topic);
		goto fail;
	}
	bench_apply_view(doc, parts, n, -1);
	if (o->leaders && bench_leader_urls(o, parts, n) != 0)
		goto fail;
	for (i = 0; o->leaders && i < n; i++) {
		/* a topic just created: its leader's watcher may not have applied
		 * it yet (404, or not leading yet, which would answer 421) */
		int64_t want = parts[i].leader, end = bench_now_ns() + (int64_t)BENCH_LEADER_WAIT_MS * 1000000;
		long got;

		for (;;) {
			cJSON_Delete(doc);
			got = bench_get_topic(parts[i].url, o->topic, &doc, bench_now_ns() < end);
			if (got == 200) {
				bench_apply_view(doc, parts, n, i);
				if (parts[i].leader == want)
					break;
			}
			if (bench_now_ns() >= end) {
				if (got == 200)
					fprintf(stderr, "strand: bench: --leaders: broker %" PRId64 " does not "
					        "lead partition %d of %s after %d s\n", want, (int)i, o->topic,
					        BENCH_LEADER_WAIT_MS / 1000);
				goto fail;
			}
			usleep(20000);
		}
	}
	cJSON_Delete(doc);
	buf_free(&out);
	*parts_out = parts;
	*n_out = n;
	return 0;
fail:
	cJSON_Delete(doc);
	buf_free(&out);
	bench_parts_free(parts, n);
	return -1;
}

/* ---- bodies --------------------------------------------------------------- */

/* A value of size bytes as stored: for JSON a string literal (quotes count). */
static void bench_fill_value(char *v, size_t size, int json)
{
	size_t i;

	for (i = 0; i < size; i++)
		v[i] = (char)('a' + i % 26);
	if (json) {
		v[0] = '"';
		v[size - 1] = '"';
	}
}

/* Stamp a value (e2e): due time as 20 digits right after the opening byte. */
static void bench_stamp(char *v, int64_t due_ns)
{
	char digits[BENCH_STAMP_DIGITS + 1];

	snprintf(digits, sizeof digits, "%020" PRId64, due_ns);
	memcpy(v + 1, digits, BENCH_STAMP_DIGITS);
}

static int64_t bench_unstamp(const uint8_t *v, int32_t len)
{
	int64_t x = 0;
	int i;

	if (len < BENCH_STAMP_DIGITS + 1)
		return -1;
	for (i = 1; i <= BENCH_STAMP_DIGITS; i++) {
		if (!isdigit(v[i]))
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/*
 * One produce body of `batch` records into out (reset first). due_ns >= 0
 * stamps every value (e2e). JSON: {"records":[{"value":"..."},...]}; binary:
 * one RecordBatch v2 built by log/batch.h.
 */
static int bench_body(const bench_opts_t *o, batch_builder_t *bb, char *value,
                      int64_t due_ns, buf_t *out)
{
	int64_t i, now_ms = (int64_t)time(NULL) * 1000;
	size_t size = (size_t)o->record_size;
	int rc = 0;

	buf_reset(out);
	if (due_ns >= 0)
		bench_stamp(value, due_ns);
	if (o->binary) {
		rc = batch_builder_begin(bb, -1, -1, -1);
		for (i = 0; rc == 0 && i < o->batch; i++)
			rc = batch_builder_add(bb, now_ms, NULL, -1, (const uint8_t *)value,
			                       (int32_t)size, NULL, 0);
		rc = rc ? rc : batch_builder_finish(bb, NULL);
		rc = rc ? rc : buf_append(out, bb->buf, bb->len);
		batch_builder_reset(bb);
		return rc;
	}
	rc = buf_reserve(out, (size_t)o->batch * (size + 16) + 16);
	rc = rc ? rc : buf_append_str(out, "{\"records\":[");
	for (i = 0; rc == 0 && i < o->batch; i++) {
		rc = buf_append(out, i ? ",{\"value\":" : "{\"value\":", i ? 10 : 9);
		rc = rc ? rc : buf_append(out, value, size);
		rc = rc ? rc : buf_append(out, "}", 1);
	}
	return rc ? rc : buf_append_str(out, "]}");
}

/* ---- the load loop -------------------------------------------------------- */

typedef enum conn_role { ROLE_PRODUCE, ROLE_FETCH, ROLE_POLL } conn_role_t;

typedef struct bench_conn {
	CURL        *easy;
	conn_role_t  role;
	int          busy;
	int32_t      partition;
	int64_t      offset;       /* fetch: offset asked */
	int64_t      due_ns;       /* when the request was due */
	int64_t      not_before_ns; /* --leaders: after a 421, no send before this */
	int64_t      records;      /* produce: records in the body */
	int64_t      next_hdr;     /* Strand-Next-Offset, -1 none */
	uint64_t     bytes_in;
	char         tail[BENCH_TAIL];
	size_t       tail_len;
	buf_t        resp;         /* e2e polls: the whole body (binary batches) */
	buf_t        body;         /* e2e produce: this request's body */
	char         url[2300];
} bench_conn_t;

typedef struct bench_run {
	const bench_opts_t *o;
	CURLM             *multi;
	bench_conn_t      *conns;
	int                nconns;
	bench_part_t      *parts;
	int32_t            nparts;
	struct curl_slist *hdr_json, *hdr_binary, *hdr_accept_binary;
	struct curl_slist *hdr_route;     /* --leaders, JSON fetch: Strand-Route only */
	buf_t              body;          /* produce: the shared body */
	char              *value;
	batch_builder_t    bb;
	bench_hist_t       hist;
	int64_t            start_ns, end_ns;
	int64_t            records, requests, errors, bytes;
	int64_t            not_leader;    /* --leaders: 421s sent again (a new topic) */
	int64_t            produced, sent_records;
	int64_t            next_due_ns;   /* at a rate: when the next request is due */
	int32_t            rr;            /* round-robin partition of binary produce */
	int                timer_fd;      /* at a rate: wakes the loop at the next send */
	int                stop;
} bench_run_t;

static volatile sig_atomic_t bench_interrupted;

static void bench_on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

static size_t bench_header_cb(char *data, size_t size, size_t n, void *cls)
{
	bench_conn_t *c = cls;
	size_t len = size * n;
	static const char name[] = "strand-next-offset:";

	if (len > sizeof name && strncasecmp(data, name, sizeof name - 1) == 0)
		c->next_hdr = strtoll(data + sizeof name - 1, NULL, 10);
	return len;
}

/* Response bytes: counted; the tail kept (JSON next_offset); polls keep all. */
static size_t bench_write_cb(char *data, size_t size, size_t n, void *cls)
{
	bench_conn_t *c = cls;
	size_t len = size * n;

	c->bytes_in += len;
	if (c->role == ROLE_POLL)
		return buf_append(&c->resp, data, len) == 0 ? len : 0;
	if (len >= BENCH_TAIL) {
		memcpy(c->tail, data + len - BENCH_TAIL, BENCH_TAIL);
		c->tail_len = BENCH_TAIL;
	} else {
		size_t keep = c->tail_len + len > BENCH_TAIL ? BENCH_TAIL - len : c->tail_len;

		memmove(c->tail, c->tail + c->tail_len - keep, keep);
		memcpy(c->tail + keep, data, len);
		c->tail_len = keep + len;
	}
	return len;
}

static int bench_conn_init(bench_run_t *r, bench_conn_t *c, conn_role_t role)
{
	c->role = role;
	c->easy = curl_easy_init();
	if (c->easy == NULL)
		return -1;
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, bench_write_cb);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, bench_header_cb);
	curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	if (role == ROLE_PRODUCE)
		curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER,
		                 r->o->binary ? r->hdr_binary : r->hdr_json);
	else if (role == ROLE_POLL || r->o->binary)
		curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, r->hdr_accept_binary);
	else if (r->hdr_route)
		curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, r->hdr_route);
	return 0;
}

/* Start a produce request due at due_ns. */
static int bench_send_produce(bench_run_t *r, bench_conn_t *c, int64_t due_ns)
{
	const bench_opts_t *o = r->o;
	const buf_t *body = &r->body;

	if (o->binary || o->leaders) {
		int32_t p = r->rr++ % r->nparts;

		snprintf(c->url, sizeof c->url, "%s/v1/topics/%s/partitions/%d/records?acks=%s",
		         r->parts[p].url ? r->parts[p].url : o->url, o->topic, (int)p, o->acks);
	} else {
		snprintf(c->url, sizeof c->url, "%s/v1/topics/%s/records?acks=%s", o->url, o->topic,
		         o->acks);
	}
	if (o->mode == BENCH_E2E) {
		if (bench_body(o, &r->bb, r->value, due_ns, &c->body) != 0)
			return -1;
		body = &c->body;
	}
	curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	c->records = o->batch;
	r->sent_records += o->batch;
	return 0;
}

/* Start a fetch (consume) or a long poll (e2e) of c->partition. */
static void bench_send_fetch(bench_run_t *r, bench_conn_t *c)
{
	const bench_opts_t *o = r->o;
	bench_part_t *p = &r->parts[c->partition];
	const char *base = p->url ? p->url : o->url;

	c->offset = p->next;
	if (c->role == ROLE_POLL)
		snprintf(c->url, sizeof c->url, "%s/v1/topics/%s/partitions/%d/records?offset=%" PRId64
		         "&max_bytes=%" PRId64 "&max_wait_ms=1000", base, o->topic,
		         (int)c->partition, c->offset, o->fetch_bytes);
	else if (o->binary)
		snprintf(c->url, sizeof c->url, "%s/v1/topics/%s/partitions/%d/records?offset=%" PRId64
		         "&max_bytes=%" PRId64, base, o->topic, (int)c->partition, c->offset,
		         o->fetch_bytes);
	else
		snprintf(c->url, sizeof c->url, "%s/v1/topics/%s/partitions/%d/records?offset=%" PRId64
		         "&max_records=%" PRId64 "&max_bytes=%" PRId64, base, o->topic,
		         (int)c->partition, c->offset, o->batch, o->fetch_bytes);
	curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
	p->busy = 1;
}

static void bench_start(bench_run_t *r, bench_conn_t *c, int64_t due_ns)
{
	c->busy = 1;
	c->due_ns = due_ns;
	c->next_hdr = -1;
	c->bytes_in = 0;
	c->tail_len = 0;
	buf_reset(&c->resp);
	curl_multi_add_handle(r->multi, c->easy);
}

/* Pick a partition with data left that nobody is fetching; -1 none. */
static int32_t bench_pick_partition(bench_run_t *r)
{
	int32_t i;

	for (i = 0; i < r->nparts; i++) {
		int32_t p = (r->rr + i) % r->nparts;

		if (!r->parts[p].busy && r->parts[p].next < r->parts[p].end) {
			r->rr = p + 1;
			return p;
		}
	}
	return -1;
}

/* Send whatever is due on idle connections. */
static void bench_dispatch(bench_run_t *r, int64_t now)
{
	const bench_opts_t *o = r->o;
	int i;

	for (i = 0; i < r->nconns && !r->stop; i++) {
		bench_conn_t *c = &r->conns[i];

		if (c->busy)
			continue;
		if (c->role == ROLE_POLL) {
			bench_send_fetch(r, c);
			bench_start(r, c, now);
		} else if (c->role == ROLE_FETCH) {
			int32_t p = bench_pick_partition(r);

			if (p < 0)
				continue;
			c->partition = p;
			bench_send_fetch(r, c);
			bench_start(r, c, now);
		} else {
			int64_t due = now;

			if (c->not_before_ns > now)
				continue;

			if (o->records > 0 && r->sent_records >= o->records)
				continue;
			if (o->rate > 0) {
				if (r->next_due_ns > now)
					continue;
				due = r->next_due_ns;
				r->next_due_ns += (int64_t)(1e9 * (double)o->batch / o->rate);
			}
			if (bench_send_produce(r, c, due) != 0) {
				r->errors++;
				r->stop = 1;
				return;
			}
			bench_start(r, c, due);
		}
	}
}

/* Offset after a JSON fetch's records: "next_offset":N in the body's tail. */
static int64_t bench_json_next(const bench_conn_t *c)
{
	static const char key[] = "\"next_offset\":";
	char tail[BENCH_TAIL + 1];
	const char *at;

	memcpy(tail, c->tail, c->tail_len);
	tail[c->tail_len] = '\0';
	at = strstr(tail, key);
	return at ? strtoll(at + sizeof key - 1, NULL, 10) : -1;
}

/* e2e: one latency sample per record of the polled batches. */
static void bench_poll_records(bench_run_t *r, bench_conn_t *c, int64_t now)
{
	const uint8_t *p = (const uint8_t *)c->resp.data;
	size_t pos = 0, len = c->resp.len;
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;

	while (pos < len && batch_header_decode(p + pos, len - pos, 0, &h, NULL, 0) == 0 &&
	       batch_total_size(&h) <= len - pos) {
		if (batch_iter_init(&it, p + pos, batch_total_size(&h)) == 0) {
			while (batch_iter_next(&it, &rec) == 1) {
				int64_t due = bench_unstamp(rec.value, rec.value_len);

				if (rec.offset < c->offset)
					continue;
				if (due >= 0 && now >= r->start_ns) {
					hist_add(&r->hist, (uint64_t)(now > due ? now - due : 0));
					r->records++;
					r->bytes += rec.value_len;
				}
			}
		}
		pos += batch_total_size(&h);
	}
}

static void bench_report_error(bench_run_t *r, bench_conn_t *c, CURLcode cc, long status)
{
	r->errors++;
	if (r->errors <= 3)
		fprintf(stderr, "\nstrand: bench: %s: %s%ld %.*s\n", c->url,
		        cc != CURLE_OK ? curl_easy_strerror(cc) : "HTTP ", cc != CURLE_OK ? 0L : status,
		        (int)c->tail_len, c->tail);
}

/* A finished transfer. */
static void bench_done(bench_run_t *r, bench_conn_t *c, CURLcode cc, int64_t now)
{
	const bench_opts_t *o = r->o;
	long status = 0;

	curl_multi_remove_handle(r->multi, c->easy);
	c->busy = 0;
	if (c->role != ROLE_PRODUCE)
		r->parts[c->partition].busy = 0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	/* --leaders on a topic just created: a leader may answer 421 until its
	 * replica has applied the state its topic view already shows; sent again
	 * (nothing was appended), as libstrand retries NOT_LEADER. Later in the
	 * run a 421 is a wrong route: an error. */
	if (cc == CURLE_OK && status == 421 && o->leaders && c->role == ROLE_PRODUCE &&
	    now - r->start_ns < (int64_t)BENCH_LEADER_WAIT_MS * 1000000) {
		r->sent_records -= c->records;
		r->not_leader++;
		c->not_before_ns = now + BENCH_NOT_LEADER_BACKOFF_MS * 1000000;
		return;
	}
	if (cc != CURLE_OK || status < 200 || status > 299) {
		bench_report_error(r, c, cc, status);
		if (c->role == ROLE_PRODUCE)
			r->sent_records -= c->records;
		if (r->errors > 100)
			r->stop = 1;
		return;
	}
	r->requests++;
	if (c->role == ROLE_PRODUCE) {
		r->produced += c->records;
		if (o->mode == BENCH_PRODUCE) {
			hist_add(&r->hist, (uint64_t)(now - c->due_ns));
			r->records += c->records;
			r->bytes += c->records * o->record_size;
		}
		return;
	}
	if (c->role == ROLE_POLL) {
		bench_poll_records(r, c, now);
		if (c->next_hdr > c->offset)
			r->parts[c->partition].next = c->next_hdr;
		return;
	}
	{
		int64_t next = o->binary ? c->next_hdr : bench_json_next(c);
		bench_part_t *p = &r->parts[c->partition];

		if (next <= c->offset) {
			fprintf(stderr, "\nstrand: bench: %s made no progress (next offset %" PRId64 ")\n",
			        c->url, next);
			r->errors++;
			r->stop = 1;
			return;
		}
		if (next > p->end)
			next = p->end;
		hist_add(&r->hist, (uint64_t)(now - c->due_ns));
		r->records += next - c->offset;
		r->bytes += (int64_t)c->bytes_in;
		p->next = next;
	}
}

static const char *bench_mode_name(bench_mode_t m)
{
	return m == BENCH_PRODUCE ? "produce" : m == BENCH_CONSUME ? "consume" : "e2e";
}

static void bench_progress(bench_run_t *r, int64_t now, int64_t *last_ns, int64_t *last_records)
{
	double dt = (double)(now - *last_ns) / 1e9;
	double rate = (double)(r->records - *last_records) / dt;

	fprintf(stderr, "\r%s %6.1f s  %10.0f records/s  %8.1f MB/s  p99 %7.2f ms  errors %" PRId64
	        "   ", bench_mode_name(r->o->mode), (double)(now - r->start_ns) / 1e9, rate,
	        rate * (double)r->o->record_size / 1e6,
	        (double)hist_percentile(&r->hist, 99) / 1e6, r->errors);
	*last_ns = now;
	*last_records = r->records;
}

/* Is the run over? */
static int bench_finished(bench_run_t *r, int64_t now)
{
	const bench_opts_t *o = r->o;
	int32_t i;

	if (r->stop || bench_interrupted)
		return 1;
	if (o->duration > 0 && now - r->start_ns >= (int64_t)(o->duration * 1e9))
		return 1;
	if (o->mode == BENCH_PRODUCE)
		return o->records > 0 && r->produced >= o->records;
	if (o->mode == BENCH_E2E)
		return o->records > 0 && r->records >= o->records;
	for (i = 0; i < r->nparts; i++)
		if (r->parts[i].next < r->parts[i].end)
			return 0;
	return 1;
}

static int bench_loop(bench_run_t *r)
{
	const int tty = !r->o->quiet && isatty(STDERR_FILENO);
	int64_t now, last_ns, last_records = 0;
	int running = 0, i;

	r->start_ns = last_ns = now = bench_now_ns();
	r->next_due_ns = now;
	while (!bench_finished(r, now)) {
		CURLMsg *msg;
		int left, timeout_ms = 100;

		bench_dispatch(r, now);
		curl_multi_perform(r->multi, &running);
		while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
			bench_conn_t *c;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			bench_done(r, c, msg->data.result, bench_now_ns());
		}
		now = bench_now_ns();
		bench_dispatch(r, now);
		if (r->o->rate > 0 && r->next_due_ns > now && r->timer_fd >= 0) {
			/* wake at the next send to the microsecond, without spinning
			 * (the broker shares the machine's cores): a timerfd polled
			 * alongside curl's sockets */
			struct itimerspec its;
			struct curl_waitfd wfd = { r->timer_fd, CURL_WAIT_POLLIN, 0 };
			uint64_t ticks;

			memset(&its, 0, sizeof its);
			its.it_value.tv_sec = r->next_due_ns / 1000000000;
			its.it_value.tv_nsec = r->next_due_ns % 1000000000;
			timerfd_settime(r->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
			curl_multi_poll(r->multi, &wfd, 1, timeout_ms, NULL);
			if (read(r->timer_fd, &ticks, sizeof ticks) < 0)
				ticks = 0;   /* not fired yet: nothing to drain */
		} else {
			curl_multi_poll(r->multi, NULL, 0, r->o->rate > 0 ? 0 : timeout_ms, NULL);
		}
		now = bench_now_ns();
		if (tty && now - last_ns >= 1000000000)
			bench_progress(r, now, &last_ns, &last_records);
	}
	r->end_ns = bench_now_ns();
	if (tty)
		fputc('\n', stderr);
	/* abandon what is in flight (its records are not counted) */
	for (i = 0; i < r->nconns; i++)
		if (r->conns[i].busy)
			curl_multi_remove_handle(r->multi, r->conns[i].easy);
	return 0;
}

static void bench_summary(const bench_run_t *r)
{
	const bench_opts_t *o = r->o;
	double secs = (double)(r->end_ns - r->start_ns) / 1e9;
	double rps = secs > 0 ? (double)r->records / secs : 0;
	double mbps = secs > 0 ? (double)r->bytes / secs / 1e6 : 0;
	double qps = secs > 0 ? (double)r->requests / secs : 0;
	double p50 = (double)hist_percentile(&r->hist, 50) / 1e6;
	double p99 = (double)hist_percentile(&r->hist, 99) / 1e6;
	double p999 = (double)hist_percentile(&r->hist, 99.9) / 1e6;
	double max = (double)r->hist.max / 1e6;

	if (o->kv) {
		printf("mode=%s format=%s records=%" PRId64 " seconds=%.3f records_per_s=%.0f "
		       "mb_per_s=%.3f requests_per_s=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
		       "max_ms=%.3f errors=%" PRId64 " not_leader=%" PRId64 "\n",
		       bench_mode_name(o->mode), o->binary ? "binary" : "json", r->records, secs, rps,
		       mbps, qps, p50, p99, p999, max, r->errors, r->not_leader);
		return;
	}
	printf("%s (%s, %" PRId64 "-byte records, batch %" PRId64 ", %" PRId64 " connections%s%s): "
	       "%" PRId64 " records in %.2f s\n"
	       "  %.0f records/s  %.1f MB/s  %.0f requests/s\n"
	       "  latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f   errors %" PRId64 "\n",
	       bench_mode_name(o->mode), o->binary ? "binary" : "json", o->record_size, o->batch,
	       o->connections, o->mode == BENCH_CONSUME ? "" : ", acks=",
	       o->mode == BENCH_CONSUME ? "" : o->acks, r->records, secs, rps, mbps, qps, p50,
	       p99, p999, max, r->errors);
	if (r->not_leader > 0)
		printf("  %" PRId64 " requests answered 421 at the start (a new topic's leader not "
		       "ready yet) and sent again\n", r->not_leader);
}

static void bench_free(bench_run_t *r)
{
	int i;

	for (i = 0; r->conns && i < r->nconns; i++) {
		if (r->conns[i].easy)
			curl_easy_cleanup(r->conns[i].easy);
		buf_free(&r->conns[i].resp);
		buf_free(&r->conns[i].body);
	}
	free(r->conns);
	if (r->multi)
		curl_multi_cleanup(r->multi);
	curl_slist_free_all(r->hdr_json);
	curl_slist_free_all(r->hdr_binary);
	curl_slist_free_all(r->hdr_accept_binary);
	curl_slist_free_all(r->hdr_route);
	buf_free(&r->body);
	batch_builder_free(&r->bb);
	free(r->value);
	bench_parts_free(r->parts, r->nparts);
	if (r->timer_fd >= 0)
		close(r->timer_fd);
}

static int bench_setup(bench_run_t *r, const bench_opts_t *o)
{
	int nprod = 0, i;

	r->o = o;
	batch_builder_init(&r->bb);
	r->timer_fd = o->rate > 0 ? timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC) : -1;
	if (bench_topic(o, &r->parts, &r->nparts) != 0)
		return -1;
	if (o->mode == BENCH_E2E) {
		/* start at the end: only records produced now are measured */
		for (i = 0; i < r->nparts; i++)
			r->parts[i].next = r->parts[i].end;
	}
	r->value = malloc((size_t)o->record_size);
	r->multi = curl_multi_init();
	r->hdr_json = curl_slist_append(NULL, "Content-Type: application/json");
	r->hdr_json = curl_slist_append(r->hdr_json, "Expect:");
	r->hdr_binary = curl_slist_append(NULL, "Content-Type: application/vnd.strand.batch");
	r->hdr_binary = curl_slist_append(r->hdr_binary, "Expect:");
	r->hdr_accept_binary = curl_slist_append(NULL, "Accept: application/vnd.strand.batch");
	if (o->leaders) {
		/* a stale route must fail (421), not be relayed and measured as direct */
		r->hdr_json = curl_slist_append(r->hdr_json, "Strand-Route: direct");
		r->hdr_binary = curl_slist_append(r->hdr_binary, "Strand-Route: direct");
		r->hdr_accept_binary = curl_slist_append(r->hdr_accept_binary, "Strand-Route: direct");
		if ((r->hdr_route = curl_slist_append(NULL, "Strand-Route: direct")) == NULL)
			return -1;
	}
	if (r->value == NULL || r->multi == NULL || !r->hdr_json || !r->hdr_binary ||
	    !r->hdr_accept_binary)
		return -1;
	bench_fill_value(r->value, (size_t)o->record_size, !o->binary);
	if (o->mode == BENCH_PRODUCE && bench_body(o, &r->bb, r->value, -1, &r->body) != 0)
		return -1;
	if (o->mode != BENCH_CONSUME)
		nprod = (int)o->connections;
	r->nconns = nprod + (o->mode == BENCH_E2E ? r->nparts
	                     : o->mode == BENCH_CONSUME ? (int)o->connections : 0);
	r->conns = calloc((size_t)r->nconns, sizeof *r->conns);
	if (r->conns == NULL)
		return -1;
	/* --leaders: each connection sends to every leader in turn (rr over the
	 * partitions), so the cache must keep one connection per (connection,
	 * partition's broker) pair; sized for nconns alone it closed and
	 * reopened about one connection in four (777 accepts per 3000 requests
	 * over 3 brokers), a cost the single-node figures it is set against
	 * do not pay */
	curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS,
	                  (long)r->nconns * (o->leaders ? r->nparts : 1) + 4);
	for (i = 0; i < r->nconns; i++) {
		conn_role_t role = i < nprod ? ROLE_PRODUCE
		                   : o->mode == BENCH_E2E ? ROLE_POLL : ROLE_FETCH;

		if (bench_conn_init(r, &r->conns[i], role) != 0)
			return -1;
		if (role == ROLE_POLL)
			r->conns[i].partition = i - nprod;
	}
	return 0;
}

int cli_bench(int argc, char **argv)
{
	bench_opts_t o;
	bench_run_t *r;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "failover") == 0)
		return cli_bench_failover(argc, argv);
	memset(&o, 0, sizeof o);
	rc = bench_args(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	r = calloc(1, sizeof *r);
	if (r == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(r);
		return 1;
	}
	signal(SIGINT, bench_on_signal);
	signal(SIGPIPE, SIG_IGN);
	rc = bench_setup(r, &o);
	if (rc == 0) {
		bench_loop(r);
		bench_summary(r);
	} else {
		fprintf(stderr, "strand: bench: setup failed\n");
	}
	rc = rc == 0 && r->errors == 0 && r->records > 0 ? 0 : 1;
	bench_free(r);
	free(r);
	curl_global_cleanup();
	return rc;
}
