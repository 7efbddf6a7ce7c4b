/*
 * err.h — the one error convention of strand.
 *
 * Every engine function returns 0 on success or a negative STRAND_E* code,
 * and, when the caller wants words, fills a caller-provided message buffer
 * (char *err, size_t errlen; err may be NULL). The HTTP edge maps these codes
 * to problem+json in one table (api/), never here.
 */
#ifndef STRAND_ERR_H
#define STRAND_ERR_H

#include <stddef.h>

enum strand_err {
	STRAND_OK         = 0,
	STRAND_EAGAIN     = -1,  /* not done yet: call again (non-blocking paths) */
	STRAND_EINVAL     = -2,  /* malformed input or argument */
	STRAND_ENOENT     = -3,  /* no such thing (topic, file, offset for timestamp) */
	STRAND_EEXIST     = -4,  /* already exists */
	STRAND_EIO        = -5,  /* an I/O call failed (errno in the message) */
	STRAND_ENOMEM     = -6,  /* allocation failed */
	STRAND_ECORRUPT   = -7,  /* stored or received bytes fail validation (CRC, length) */
	STRAND_ERANGE     = -8,  /* offset outside [log start offset, log end offset] */
	STRAND_ETOOBIG    = -9,  /* record or request over a configured limit */
	STRAND_ENOSPC     = -10, /* storage full */
	STRAND_ETIMEDOUT  = -11, /* deadline passed */
	STRAND_ECLOSED    = -12, /* object is closing or closed */
	/* consumer groups (src/broker/group.h) */
	STRAND_ENOMEMBER  = -13, /* unknown or expired group member */
	STRAND_EGENERATION = -14, /* stale generation: fenced by a newer one */
	STRAND_EREBALANCE = -15, /* the group is rebalancing: rejoin */
	STRAND_ENOTEMPTY  = -16, /* the group still has members */
	/* idempotent producers (src/broker/producer.h, KIP-98) */
	STRAND_ESEQUENCE  = -17, /* a batch's sequence does not follow its producer's last one */
	STRAND_EFENCED    = -18, /* a batch from an older producer epoch than one already seen */
	/* cluster mode (src/cluster/cluster.h) */
	STRAND_EDEPOSED   = -19, /* a newer controller (or, later, leader) has taken over */
	/* replication (src/broker/replica.h, docs/REPLICATION.md) */
	STRAND_ENOTLEADER = -20, /* this broker does not lead the partition (HTTP 421 NOT_LEADER) */
	STRAND_ENOTENOUGH = -21, /* the ISR is smaller than min_insync_replicas (503 NOT_ENOUGH_REPLICAS) */
	STRAND_EEPOCH_FENCED  = -22, /* a request from an older leader epoch than ours */
	STRAND_EEPOCH_UNKNOWN = -23, /* a request from a newer leader epoch than we know */
	STRAND_EUNAVAILABLE   = -24, /* coordination unreachable or lease lapsed: retry later (503) */
};

/* A short constant description of an error code ("corrupt data", ...). */
const char *strand_strerror(int code);

/*
 * Format a message into err (size errlen) and return code, so that a failing
 * path reads `return strand_err_set(err, errlen, STRAND_EINVAL, "bad %s", x);`.
 * err may be NULL or errlen 0: the message is dropped.
 */
int strand_err_set(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
