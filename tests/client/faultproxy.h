/*
 * faultproxy.h — a fault-injecting HTTP/1.1 proxy for client tests.
 *
 * Listens on 127.0.0.1 on a port chosen at run time and forwards every
 * request to an upstream broker (libcurl, one keep-alive upstream handle
 * per client connection). Produce requests (POST .../records) can be
 * disturbed by rules that a test changes at any time:
 *   - drop_answer_every N: every Nth produce is forwarded (so the broker
 *     appends it) and then the client's connection is closed without an
 *     answer — the case that makes a naive retry duplicate records;
 *   - fail_503_every N: every Nth produce is answered 503
 *     NOT_ENOUGH_REPLICAS or UNAVAILABLE, in turn (both retriable), without
 *     being forwarded;
 *   - delay_max_ms D: each produce waits a pseudo-random 0..D ms before
 *     being forwarded, so parallel requests reach the broker out of order;
 *   - stall: produce requests are held, neither forwarded nor answered,
 *     until the rules change (a broker that stopped answering).
 * Counters say how many produce requests came and how many were disturbed.
 * The proxy's threads are stopped and joined by faultproxy_stop.
 */
#ifndef STRAND_TEST_FAULTPROXY_H
#define STRAND_TEST_FAULTPROXY_H

#include <stdint.h>

typedef struct faultproxy faultproxy_t;

typedef struct faultproxy_rules {
	int drop_answer_every;   /* 0: never */
	int fail_503_every;      /* 0: never; 1: every produce */
	int delay_max_ms;        /* 0: none */
	int stall;               /* 1: hold produce requests */
} faultproxy_rules_t;

typedef struct faultproxy_stats {
	uint64_t produce_requests;
	uint64_t dropped;        /* forwarded, answer dropped */
	uint64_t failed_503;
	uint64_t delayed;
	uint64_t stalled;        /* produce requests held now */
} faultproxy_stats_t;

/* Start a proxy in front of upstream ("http://127.0.0.1:PORT"). 0 or -1. */
int  faultproxy_start(const char *upstream, faultproxy_t **out);
/* "http://127.0.0.1:PORT" of the proxy (borrowed). */
const char *faultproxy_url(faultproxy_t *fp);
void faultproxy_set_rules(faultproxy_t *fp, const faultproxy_rules_t *rules);
void faultproxy_get_stats(faultproxy_t *fp, faultproxy_stats_t *out);
/* Close every connection, join every thread, free. */
void faultproxy_stop(faultproxy_t *fp);

#endif
