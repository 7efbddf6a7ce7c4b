/*
 * metrics.c — GET /metrics in the Prometheus text format (0.0.4): request
 * counts and latency histograms by route and status, bytes in and out,
 * records appended (the broker's own count), produced and fetched, and
 * gauges read at scrape time (per-partition offsets and sizes, parked long
 * polls, in-flight requests; in cluster mode the broker's lease and
 * controllership, from its own state: a scrape never waits on etcd), and
 * the log cleaner's work (broker_cleaner_stats).
 *
 * Hot path: api_metrics_observe_request runs once per request on MHD's
 * workers: relaxed atomic adds into fixed arrays, no lock, no allocation.
 */
#include "api/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/forward.h"
#include "api/http_internal.h"
#include "common/clock.h"
#include "common/err.h"

/* Statuses with their own series; anything else counts as "other". */
static const unsigned status_codes[] = {
	0, 200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 405, 406, 409, 413,
	414, 415, 416, 421, 429, 431, 500, 503, 507,
};
#define NSTATUS (sizeof status_codes / sizeof status_codes[0] + 1)   /* + other */

/* Latency bucket bounds in seconds (long polls reach 60 s). */
static const double bucket_le[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60,
};
#define NBUCKET (sizeof bucket_le / sizeof bucket_le[0])

typedef struct series {
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_ns;
	atomic_uint_fast64_t bucket[NBUCKET];   /* not cumulative; +Inf = count */
} series_t;

struct api_metrics {
	const char *const   *route_names;
	size_t               nroutes;         /* + 1 "unmatched" slot at the end */
	series_t            *series;          /* [(nroutes + 1) * NSTATUS] */
	atomic_uint_fast64_t bytes_in, bytes_out;
	atomic_uint_fast64_t records_fetched, records_produced;
};

int api_metrics_new(const char *const *route_names, size_t nroutes, api_metrics_t **out)
{
	api_metrics_t *m = calloc(1, sizeof *m);

	*out = NULL;
	if (m == NULL)
		return STRAND_ENOMEM;
	m->nroutes = nroutes;
	m->series = calloc((nroutes + 1) * NSTATUS, sizeof *m->series);
	if (m->series == NULL) {
		free(m);
		return STRAND_ENOMEM;
	}
	m->route_names = calloc(nroutes, sizeof *route_names);
	if (m->route_names == NULL) {
		free(m->series);
		free(m);
		return STRAND_ENOMEM;
	}
	memcpy((void *)m->route_names, route_names, nroutes * sizeof *route_names);
	*out = m;
	return 0;
}

void api_metrics_free(api_metrics_t *m)
{
	if (m == NULL)
		return;
	free((void *)m->route_names);
	free(m->series);
	free(m);
}

static size_t status_index(unsigned status)
{
	size_t i;

	for (i = 0; i < NSTATUS - 1; i++)
		if (status_codes[i] == status)
			return i;
	return NSTATUS - 1;
}

void api_metrics_observe_request(api_metrics_t *m, int route, unsigned status,
                                 double seconds, uint64_t bytes_in, uint64_t bytes_out)
{
	size_t r = route < 0 || (size_t)route >= m->nroutes ? m->nroutes : (size_t)route;
	series_t *s = &m->series[r * NSTATUS + status_index(status)];
	size_t b;

	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
	for (b = 0; b < NBUCKET; b++)
		if (seconds <= bucket_le[b]) {
			atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
			break;
		}
	atomic_fetch_add_explicit(&m->bytes_in, bytes_in, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->bytes_out, bytes_out, memory_order_relaxed);
}

void api_metrics_add_records_fetched(api_t *api, uint64_t n)
{
	atomic_fetch_add_explicit(&api->metrics->records_fetched, n, memory_order_relaxed);
}

void api_metrics_add_records_produced(api_t *api, uint64_t n)
{
	atomic_fetch_add_explicit(&api->metrics->records_produced, n, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* ---- rendering ---------------------------------------------------------- */

static int render_requests(api_metrics_t *m, buf_t *out)
{
	size_t r, st, b;
	int rc = 0;

	rc |= buf_append_str(out,
		"# HELP strand_http_requests_total HTTP requests answered, by route and status (0: no answer sent).\n"
		"# TYPE strand_http_requests_total counter\n");
	for (r = 0; r <= m->nroutes; r++)
		for (st = 0; st < NSTATUS; st++) {
			series_t *s = &m->series[r * NSTATUS + st];
			uint64_t n = load(&s->count);
			const char *route = r < m->nroutes ? m->route_names[r] : "unmatched";

			if (n == 0)
				continue;
			if (st == NSTATUS - 1)
				rc |= buf_appendf(out, "strand_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
				                  route, (unsigned long long)n);
			else
				rc |= buf_appendf(out, "strand_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
				                  route, status_codes[st], (unsigned long long)n);
		}
	rc |= buf_append_str(out,
		"# HELP strand_http_request_duration_seconds Time from request headers to the end of the answer.\n"
		"# TYPE strand_http_request_duration_seconds histogram\n");
	for (r = 0; r <= m->nroutes; r++)
		for (st = 0; st < NSTATUS; st++) {
			series_t *s = &m->series[r * NSTATUS + st];
			uint64_t n = load(&s->count), cum = 0;
			const char *route = r < m->nroutes ? m->route_names[r] : "unmatched";
			char labels[160];

			if (n == 0)
				continue;
			if (st == NSTATUS - 1)
				snprintf(labels, sizeof labels, "route=\"%s\",status=\"other\"", route);
			else
				snprintf(labels, sizeof labels, "route=\"%s\",status=\"%u\"", route,
				         status_codes[st]);
			for (b = 0; b < NBUCKET; b++) {
				cum += load(&s->bucket[b]);
				rc |= buf_appendf(out, "strand_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
				                  labels, bucket_le[b], (unsigned long long)cum);
			}
			rc |= buf_appendf(out, "strand_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n",
			                  labels, (unsigned long long)n);
			rc |= buf_appendf(out, "strand_http_request_duration_seconds_sum{%s} %.9f\n",
			                  labels, (double)load(&s->sum_ns) / 1e9);
			rc |= buf_appendf(out, "strand_http_request_duration_seconds_count{%s} %llu\n",
			                  labels, (unsigned long long)n);
		}
	return rc ? STRAND_ENOMEM : 0;
}

static int render_counter(buf_t *out, const char *name, const char *help, uint64_t v)
{
	return buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
	                   name, help, name, name, (unsigned long long)v);
}

static int render_gauge(buf_t *out, const char *name, const char *help, int64_t v)
{
	return buf_appendf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n",
	                   name, help, name, name, (long long)v);
}

/* A gauge or counter with a fractional value (seconds, ratios). */
static int render_real(buf_t *out, const char *name, const char *type, const char *help,
                       double v)
{
	return buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.6f\n",
	                   name, help, name, type, name, v);
}

/* The log cleaner: Kafka's LogCleaner and LogCleanerManager metrics. */
static int render_cleaner(broker_t *b, buf_t *out)
{
	broker_cleaner_stats_t cs;
	int rc = 0;

	broker_cleaner_stats(b, &cs);
	{
		const struct { const char *name, *help; uint64_t v; } c[] = {
			{ "strand_log_cleaner_passes_total", "Log cleaner runs, one partition each.",
			  cs.passes },
			{ "strand_log_cleaner_failures_total",
			  "Log cleaner runs that failed (the reason is on stderr).", cs.failures },
			{ "strand_log_cleaner_bytes_read_total",
			  "Batch bytes the log cleaner read (its map pass and its copy pass).",
			  cs.bytes_read },
			{ "strand_log_cleaner_bytes_written_total",
			  "Bytes of cleaned segments the log cleaner wrote.", cs.bytes_written },
			{ "strand_log_cleaner_records_removed_total",
			  "Records the log cleaner removed: a later record has their key.",
			  cs.records_removed },
			{ "strand_log_cleaner_tombstones_removed_total",
			  "Tombstones the log cleaner removed after delete.retention.ms.",
			  cs.tombstones_removed },
		};
		const struct { const char *name, *type, *help; double v; } r[] = {
			{ "strand_log_cleaner_busy_seconds_total", "counter",
			  "Time the log cleaner's runs took, throttling sleeps included.",
			  (double)cs.busy_ns / 1e9 },
			{ "strand_log_cleaner_throttled_seconds_total", "counter",
			  "Time the log cleaner slept under --log-cleaner-io-max-bytes-per-second.",
			  (double)cs.throttled_ns / 1e9 },
			{ "strand_log_cleaner_last_pass_duration_seconds", "gauge",
			  "How long the latest log cleaner run took.", (double)cs.last_pass_ns / 1e9 },
			{ "strand_log_cleaner_last_pass_timestamp_seconds", "gauge",
			  "Unix time the latest log cleaner run ended (0: none yet).",
			  (double)cs.last_pass_end_ms / 1e3 },
			{ "strand_log_cleaner_max_dirty_ratio", "gauge",
			  "Largest dirty ratio of a compacted partition at the cleaner's latest look.",
			  cs.max_dirty_ratio },
		};

		for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
			rc |= render_counter(out, c[i].name, c[i].help, c[i].v);
		for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
			rc |= render_real(out, r[i].name, r[i].type, r[i].help, r[i].v);
	}
	return rc;
}

/* Per-partition gauges, read from the broker now. */
static int render_partitions(api_t *api, buf_t *out)
{
	static const struct { const char *name, *help; } g[] = {
		{ "strand_partition_log_end_offset", "Log end offset (next offset to assign)." },
		{ "strand_partition_log_start_offset", "First offset still stored." },
		{ "strand_partition_high_watermark", "High watermark (last committed offset + 1)." },
		{ "strand_partition_size_bytes", "Bytes stored in the partition's segments." },
		{ "strand_partition_write_failed",
		  "1 when an fsync failed and the partition takes no writes until restart." },
		{ "strand_partition_dirty_ratio",
		  "Compacted partitions: share of the closed segments' bytes below the high "
		  "watermark written since the last cleaning (the cleaner runs from 0.5)." },
	};
	char **names = NULL;
	size_t n = 0, i, k;
	int32_t p, np;
	int rc = broker_topic_names(api->broker, &names, &n);

	if (rc)
		return rc;
	for (k = 0; k < sizeof g / sizeof g[0] && rc == 0; k++) {
		rc |= buf_appendf(out, "# HELP %s %s\n# TYPE %s gauge\n", g[k].name, g[k].help, g[k].name);
		for (i = 0; i < n && rc == 0; i++) {
			topic_t *t = broker_topic_get(api->broker, names[i]);

			if (t == NULL)
				continue;   /* deleted meanwhile */
			np = topic_partition_count(t);
			for (p = 0; p < np && rc == 0; p++) {
				log_t *log = topic_partition_log(t, p);
				int64_t v;

				if (log == NULL || (k == 5 && !log_compacted(log)))
					continue;
				if (k == 5) {   /* Kafka's per-log dirty ratio, a fraction */
					rc |= buf_appendf(out, "%s{topic=\"%s\",partition=\"%d\"} %.6f\n",
					                  g[k].name, names[i], (int)p,
					                  log_dirty_ratio(log, topic_partition_hw(t, p)));
					continue;
				}
				switch (k) {
				case 0:  v = log_end_offset(log); break;
				case 1:  v = log_start_offset(log); break;
				case 2:  v = topic_partition_hw(t, p); break;
				case 3:  v = log_size_bytes(log); break;
				default: v = log_write_failed(log) ? 1 : 0; break;
				}
				rc |= buf_appendf(out, "%s{topic=\"%s\",partition=\"%d\"} %lld\n",
				                  g[k].name, names[i], (int)p, (long long)v);
			}
			topic_release(t);
		}
	}
	free(names);
	return rc ? STRAND_ENOMEM : 0;
}

/* Cluster mode: what this broker believes about its own standing
 * (docs/REPLICATION.md, the local-deadline rule). */
static int render_cluster(cluster_t *c, buf_t *out)
{
	int64_t left = cluster_lease_deadline_ms(c) - clock_now_ms();
	int rc;

	rc = render_gauge(out, "strand_cluster_lease_valid",
	                  "1 while this broker's etcd lease may still be alive by its own clock.",
	                  cluster_lease_valid(c));
	rc |= render_gauge(out, "strand_cluster_lease_remaining_ms",
	                   "Milliseconds until the lease may have expired (0: it may have).",
	                   left > 0 ? left : 0);
	rc |= render_gauge(out, "strand_cluster_controller",
	                   "1 while this broker is the elected controller.",
	                   cluster_is_controller(c, NULL));
	return rc;
}

int api_metrics_render(api_t *api, buf_t *out)
{
	api_metrics_t *m = api->metrics;
	broker_stats_t bs;
	int rc;

	broker_stats(api->broker, &bs);
	rc = render_requests(m, out);
	rc |= render_counter(out, "strand_http_request_bytes_total",
	                     "Request body bytes received.", load(&m->bytes_in));
	rc |= render_counter(out, "strand_http_response_bytes_total",
	                     "Response body bytes sent (file ranges included).", load(&m->bytes_out));
	rc |= render_counter(out, "strand_records_appended_total",
	                     "Records appended to partition logs.", bs.records_appended);
	rc |= render_counter(out, "strand_bytes_appended_total",
	                     "Bytes appended to partition logs (batch framing included).",
	                     bs.bytes_appended);
	rc |= render_counter(out, "strand_records_produced_total",
	                     "Records acknowledged to producers over HTTP.", load(&m->records_produced));
	rc |= render_counter(out, "strand_records_fetched_total",
	                     "Records handed to consumers over HTTP.", load(&m->records_fetched));
	rc |= render_gauge(out, "strand_http_parked_requests",
	                   "Long polls parked (suspended) waiting for data.", api_parked_count(api));
	rc |= render_gauge(out, "strand_http_inflight_requests",
	                   "Requests being served now.", atomic_load(&api->inflight));
	if (atomic_load(&api->cluster) != NULL) {
		forward_stats_t fs;

		rc |= render_cluster(atomic_load(&api->cluster), out);
		api_forward_stats(api, &fs);
		rc |= render_counter(out, "strand_forward_requests_total",
		                     "Requests (and parts of produces) relayed to the broker serving "
		                     "them.", fs.relayed);
		rc |= render_counter(out, "strand_forward_failures_total",
		                     "Relays that got no answer (answered 503).", fs.failed);
		rc |= render_counter(out, "strand_forward_retries_total",
		                     "Relays sent on once more after a 421 naming another leader.",
		                     fs.retried);
		rc |= render_gauge(out, "strand_forward_inflight",
		                   "Relays running now.", fs.inflight);
	}
	rc |= render_cleaner(api->broker, out);
	if (rc == 0)
		rc = render_partitions(api, out);
	return rc ? STRAND_ENOMEM : 0;
}
