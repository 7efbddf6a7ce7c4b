/*
 * metrics.h — the counters behind GET /metrics (Prometheus text format
 * 0.0.4). The core records every request (route, status, latency, bytes in
 * and out); handlers bump the record counters; gauges (per-partition log end
 * offset and size, parked long polls) are read from the broker and the core
 * at scrape time.
 *
 * Threading: every api_metrics_add_* / observe call is safe from any thread
 * and lock-free (relaxed atomics): they sit on hot paths.
 */
#ifndef STRAND_API_METRICS_H
#define STRAND_API_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "common/buf.h"

typedef struct api_metrics api_metrics_t;

/* Counters for nroutes routes (index = position in the route table) plus
 * one "unmatched" slot. The array is copied; the strings it points to are
 * borrowed (static route names). 0 or STRAND_ENOMEM. */
int  api_metrics_new(const char *const *route_names, size_t nroutes, api_metrics_t **out);
void api_metrics_free(api_metrics_t *m);

/* One finished request. route < 0: no route matched. */
void api_metrics_observe_request(api_metrics_t *m, int route, unsigned status,
                                 double seconds, uint64_t bytes_in, uint64_t bytes_out);

/* Records handed out by fetch (JSON, SSE, binary: count known records). */
void api_metrics_add_records_fetched(api_t *api, uint64_t n);
/* Records accepted by produce (acknowledged appends). */
void api_metrics_add_records_produced(api_t *api, uint64_t n);

/* The metrics of api (for the core). */
api_metrics_t *api_metrics(api_t *api);

/* Append the whole exposition to out. 0 or STRAND_ENOMEM. */
int api_metrics_render(api_t *api, buf_t *out);

#endif
