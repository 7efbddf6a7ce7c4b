/*
 * error.c — strand_err2str and friends: one table of every strand_errcode
 * with its name, its words and whether retrying may help (librdkafka's
 * rd_kafka_err2str and its retriable classification, Kafka's
 * RetriableException hierarchy for the broker codes).
 */
#include <string.h>

#include "client/error.h"

typedef struct err_entry {
	int         code;
	const char *name;        /* the broker's code for broker errors */
	int         retriable;
	const char *desc;
} err_entry_t;

static const err_entry_t err_table[] = {
	{ STRAND_ERR_NONE,                  "NONE",                  0, "success" },
	{ STRAND_ERR_INVALID_ARG,           "INVALID_ARG",           0, "invalid argument" },
	{ STRAND_ERR_UNKNOWN_CONFIG,        "UNKNOWN_CONFIG",        0, "unknown configuration name" },
	{ STRAND_ERR_INVALID_CONFIG,        "INVALID_CONFIG",        0, "invalid configuration value" },
	{ STRAND_ERR_NO_MEMORY,             "NO_MEMORY",             0, "out of memory" },
	{ STRAND_ERR_QUEUE_FULL,            "QUEUE_FULL",            1,
	  "producer buffer full (buffer.memory) for max.block.ms" },
	{ STRAND_ERR_MSG_TIMED_OUT,         "MSG_TIMED_OUT",         0,
	  "record not acknowledged within delivery.timeout.ms" },
	{ STRAND_ERR_TIMED_OUT,             "TIMED_OUT",             1, "operation timed out" },
	{ STRAND_ERR_TRANSPORT,             "TRANSPORT",             1,
	  "broker unreachable or connection lost" },
	{ STRAND_ERR_BAD_RESPONSE,          "BAD_RESPONSE",          0, "unexpected answer from the broker" },
	{ STRAND_ERR_DESTROYED,             "DESTROYED",             0, "client destroyed before completion" },
	{ STRAND_ERR_IO,                    "IO",                    0, "local file I/O failed" },
	{ STRAND_ERR_TLS,                   "TLS",                   0, "TLS handshake or certificate check failed" },
	{ STRAND_ERR_INVALID_REQUEST,       "INVALID_REQUEST",       0, "broker: invalid request" },
	{ STRAND_ERR_UNKNOWN_TOPIC,         "UNKNOWN_TOPIC",         0, "broker: unknown topic" },
	{ STRAND_ERR_UNKNOWN_PARTITION,     "UNKNOWN_PARTITION",     0, "broker: unknown partition" },
	{ STRAND_ERR_TOPIC_EXISTS,          "TOPIC_EXISTS",          0, "broker: topic already exists" },
	{ STRAND_ERR_OFFSET_OUT_OF_RANGE,   "OFFSET_OUT_OF_RANGE",   0, "broker: offset out of range" },
	{ STRAND_ERR_RECORD_TOO_LARGE,      "RECORD_TOO_LARGE",      0, "record too large" },
	{ STRAND_ERR_REQUEST_TOO_LARGE,     "REQUEST_TOO_LARGE",     0, "broker: request too large" },
	{ STRAND_ERR_NOT_LEADER,            "NOT_LEADER",            1, "broker: not the partition's leader" },
	{ STRAND_ERR_NOT_ENOUGH_REPLICAS,   "NOT_ENOUGH_REPLICAS",   1, "broker: not enough in-sync replicas" },
	{ STRAND_ERR_REQUEST_TIMED_OUT,     "REQUEST_TIMED_OUT",     1, "broker: request timed out" },
	{ STRAND_ERR_UNKNOWN_MEMBER,        "UNKNOWN_MEMBER",        0, "broker: unknown group member" },
	{ STRAND_ERR_ILLEGAL_GENERATION,    "ILLEGAL_GENERATION",    0, "broker: stale group generation" },
	{ STRAND_ERR_REBALANCE_IN_PROGRESS, "REBALANCE_IN_PROGRESS", 1, "broker: group rebalance in progress" },
	{ STRAND_ERR_GROUP_NOT_EMPTY,       "GROUP_NOT_EMPTY",       0, "broker: group not empty" },
	{ STRAND_ERR_OUT_OF_ORDER_SEQUENCE, "OUT_OF_ORDER_SEQUENCE", 0, "broker: out-of-order producer sequence" },
	{ STRAND_ERR_PRODUCER_FENCED,       "PRODUCER_FENCED",       0, "broker: producer fenced by a newer epoch" },
	{ STRAND_ERR_UNAUTHORIZED,          "UNAUTHORIZED",          0, "broker: missing or invalid bearer token" },
	{ STRAND_ERR_FORBIDDEN,             "FORBIDDEN",             0, "broker: not allowed by the ACLs" },
	{ STRAND_ERR_THROTTLED,             "THROTTLED",             1, "broker: throttled" },
	{ STRAND_ERR_STORAGE_FULL,          "STORAGE_FULL",          1, "broker: storage full" },
	{ STRAND_ERR_INTERNAL,              "INTERNAL",              1, "broker: internal error" },
	{ STRAND_ERR_UNKNOWN_BROKER_ERROR,  "UNKNOWN_BROKER_ERROR",  0, "broker: unknown error code" },
	{ STRAND_ERR_UNAVAILABLE,           "UNAVAILABLE",           1, "broker: unavailable now (no leader yet, stopping)" },
};
#define NERRS (sizeof err_table / sizeof err_table[0])

static const err_entry_t *err_find(int code)
{
	for (size_t i = 0; i < NERRS; i++)
		if (err_table[i].code == code)
			return &err_table[i];
	return NULL;
}

const char *strand_err2str(int code)
{
	const err_entry_t *e = err_find(code);
	return e ? e->desc : "unknown error code";
}

const char *strand_err_name(int code)
{
	const err_entry_t *e = err_find(code);
	return e ? e->name : "UNKNOWN";
}

int strand_err_is_retriable(int code)
{
	const err_entry_t *e = err_find(code);
	return e ? e->retriable : 0;
}

int client_err_from_code(const char *code)
{
	/* broker codes are the entries from INVALID_REQUEST on */
	for (size_t i = 0; i < NERRS; i++)
		if (err_table[i].code <= STRAND_ERR_INVALID_REQUEST &&
		    strcmp(err_table[i].name, code) == 0)
			return err_table[i].code;
	return STRAND_ERR_UNKNOWN_BROKER_ERROR;
}

int client_err_from_status(long status)
{
	switch (status) {
	case 400: return STRAND_ERR_INVALID_REQUEST;
	case 401: return STRAND_ERR_UNAUTHORIZED;
	case 403: return STRAND_ERR_FORBIDDEN;
	case 404: return STRAND_ERR_UNKNOWN_TOPIC;
	case 413: return STRAND_ERR_REQUEST_TOO_LARGE;
	case 416: return STRAND_ERR_OFFSET_OUT_OF_RANGE;
	case 421: return STRAND_ERR_NOT_LEADER;
	case 429: return STRAND_ERR_THROTTLED;
	case 503: return STRAND_ERR_REQUEST_TIMED_OUT;
	case 507: return STRAND_ERR_STORAGE_FULL;
	default:  return status >= 500 ? STRAND_ERR_INTERNAL : STRAND_ERR_BAD_RESPONSE;
	}
}
