/*
 * fetcher.h — the follower's side of replication (docs/REPLICATION.md,
 * issue 10): one thread that keeps, per leader, one long-polling
 * POST /v1/internal/replica/fetch open carrying every partition this
 * broker follows there, and appends what comes back.
 *
 * It learns what to follow from the broker's role hook (replica.h): a
 * partition this broker follows under a new leader or leader epoch first
 * truncates (POST /v1/internal/replica/epoch_end, KIP-279; follower.h),
 * then fetches from its log end offset with its leader epoch. A leader's
 * FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH / NOT_LEADER answer parks
 * the partition until the role hook brings a new state or a short backoff
 * passes (the leader may only be slower to learn its state); an
 * unreachable leader is retried with a bounded exponential backoff.
 * A leader's requests that start failing (unreachable, a TLS peer that
 * does not verify, 401/403 for a missing or wrong broker token) are logged
 * once with the reason, and once more when they succeed again.
 *
 * Threading: one thread drives every request through a libcurl multi
 * handle (keep-alive connections reused per leader). The role hook runs on
 * whichever thread applies a state (the etcd watch) and only updates the
 * partition table under the fetcher's lock and wakes the thread. No lock
 * is held across I/O: log appends and truncations happen on the fetcher's
 * thread with the table lock released.
 */
#ifndef STRAND_CLUSTER_FETCHER_H
#define STRAND_CLUSTER_FETCHER_H

#include <stddef.h>
#include <stdint.h>

struct broker;

typedef struct fetcher fetcher_t;

/* A broker's base URL ("http://host:port", no trailing slash) into url;
 * 0, or STRAND_ENOENT when the broker is not known (not registered now). */
typedef int (*fetcher_url_fn)(void *ctx, int32_t broker_id, char *url, size_t urllen);

#define FETCHER_MAX_WAIT_MS_DEFAULT   500      /* the leader's long poll */
#define FETCHER_MAX_BYTES_DEFAULT     8388608  /* per fetch answer, all partitions */
#define FETCHER_BACKOFF_MIN_MS        50       /* leader unreachable: first retry */
#define FETCHER_BACKOFF_MAX_MS        2000     /* ... doubling up to this */
#define FETCHER_PARK_MIN_MS           10       /* a fenced/not-leader partition's first retry */
#define FETCHER_PARK_MS               500      /* ... doubling up to this */
#define FETCHER_CONNECT_TIMEOUT_MS    2000
#define FETCHER_URL_MAX               512

typedef struct fetcher_options {
	struct broker *broker;        /* borrowed; outlives the fetcher */
	int32_t        self_id;       /* this broker's id (the requests' broker_id) */
	fetcher_url_fn url_of;        /* leader URLs (A's meta_broker_url) */
	void          *url_ctx;
	int            max_wait_ms;   /* 0: FETCHER_MAX_WAIT_MS_DEFAULT */
	int            max_bytes;     /* 0: FETCHER_MAX_BYTES_DEFAULT */
	const char    *token;         /* the broker's bearer token, sent to the leaders'
	                                 /v1/internal/ (copied into the headers); NULL: none */
	const char    *ca_file;       /* PEM CA file that https leaders are verified against
	                                 (copied); NULL: the system's CAs */
} fetcher_options_t;

/*
 * Start the fetcher thread and register it as the broker's role hook
 * (broker_set_role_hook). Partitions whose state was applied before are
 * not replayed: open the fetcher before the states are applied (A's meta
 * applies them at start). Returns 0, STRAND_EINVAL, STRAND_ENOMEM,
 * STRAND_EIO (thread or libcurl setup failed).
 */
int fetcher_open(const fetcher_options_t *opts, fetcher_t **out, char *err, size_t errlen);

/*
 * Unregister the role hook and stop the thread (requests in flight are
 * dropped): after it returns, url_of is not called any more. A role hook
 * call already under way may still finish: stop whatever applies states
 * (meta_close) before fetcher_close. Idempotent; NULL is a no-op.
 */
void fetcher_stop(fetcher_t *f);

/*
 * A new broker token (SIGHUP reload of --broker-token-file; copied, already
 * validated by the caller; NULL: none). Requests in flight finish with the
 * token they were sent with (libcurl reads their header list while it
 * sends, so the old list is freed only after the last of them); every
 * request the fetcher starts after it carries the new one. Any thread;
 * no lock is held while the headers are built. NULL f is a no-op.
 * Returns 0, STRAND_EINVAL (token too long), STRAND_ENOMEM (the old token
 * stays).
 */
int fetcher_set_token(fetcher_t *f, const char *token, char *err, size_t errlen);

/* fetcher_stop, then free. NULL is a no-op. */
void fetcher_close(fetcher_t *f);

/* What the fetcher has done, for /metrics and tests. */
typedef struct fetcher_stats {
	uint64_t fetches;          /* fetch answers processed */
	uint64_t epoch_requests;   /* epoch_end answers processed */
	uint64_t truncations;      /* truncation rounds applied */
	uint64_t records;          /* records appended */
	uint64_t errors;           /* failed requests (unreachable, bad answers) */
	int      partitions;       /* partitions followed now */
} fetcher_stats_t;

void fetcher_stats(fetcher_t *f, fetcher_stats_t *out);

/* ---- the fetch answer (B's encoder, api/internal.c) --------------------
 * For each requested partition, in request order (integers big-endian):
 *   u16 topic_len | topic | i32 partition | i16 error | i32 leader_epoch |
 *   i64 high_watermark | i64 log_start_offset | i64 log_end_offset |
 *   u32 records_len | records (whole stored batches)
 */
#define FETCH_FRAME_FIXED 40   /* the frame without topic bytes and records */

typedef struct fetch_frame {
	const char    *topic;     /* borrowed from the answer, not NUL-terminated */
	size_t         topic_len;
	int32_t        partition;
	int16_t        error;     /* FETCH_ERR_* */
	int32_t        leader_epoch;
	int64_t        high_watermark, log_start_offset, log_end_offset;
	const uint8_t *records;   /* borrowed */
	size_t         records_len;
} fetch_frame_t;

enum {
	FETCH_ERR_NONE = 0,
	FETCH_ERR_NOT_LEADER = 1,
	FETCH_ERR_FENCED_LEADER_EPOCH = 2,
	FETCH_ERR_UNKNOWN_LEADER_EPOCH = 3,
	FETCH_ERR_OFFSET_OUT_OF_RANGE = 4,
	FETCH_ERR_UNKNOWN_TOPIC_OR_PARTITION = 5,
	FETCH_ERR_STORAGE_ERROR = 6,
};

/*
 * Decode the frame at buf[*pos] (len bytes in all) and advance *pos past it.
 * Pure; pointers borrow from buf. Returns 0, STRAND_EAGAIN at the end
 * (*pos == len), STRAND_ECORRUPT (a frame cut short, or a length past the
 * end).
 */
int fetch_frame_decode(const uint8_t *buf, size_t len, size_t *pos, fetch_frame_t *out);

#endif
