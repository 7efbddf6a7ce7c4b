/*
 * conf.h — libstrand's configuration as the library reads it (internal).
 *
 * strand.h keeps struct strand_conf opaque; the producer, the consumer and
 * the transport read its typed fields here. Every field is set only through
 * strand_conf_set, which validates it (conf.c holds the one table of
 * names, defaults and ranges).
 */
#ifndef STRAND_CLIENT_CONF_H
#define STRAND_CLIENT_CONF_H

#include <stdint.h>

#include "client/strand.h"

/* acks as sent in the query string: 0, 1, all (-1 is Kafka's spelling of all) */
enum conf_acks { CONF_ACKS_NONE = 0, CONF_ACKS_LEADER = 1, CONF_ACKS_ALL = -1 };

struct strand_conf {
	char   *bootstrap_servers;        /* NULL: unset */
	int     acks;                     /* enum conf_acks */
	int64_t batch_size;
	int64_t linger_ms;
	int64_t buffer_memory;
	int64_t max_block_ms;
	int64_t retries;
	int64_t delivery_timeout_ms;
	int64_t request_timeout_ms;
	int64_t retry_backoff_ms;
	int64_t topic_metadata_propagation_max_ms; /* librdkafka's name: how long an unknown
	                                            * topic is waited for in a cluster */
	int64_t max_in_flight;            /* max.in.flight.requests.per.connection */
	int     enable_idempotence;
	char   *dead_letter_path;
	char   *group_id;
	int     auto_offset_reset_earliest;
	int     enable_auto_commit;
	int64_t auto_commit_interval_ms;
	int64_t session_timeout_ms;
	char   *ssl_ca_location;
	char   *bearer_token;             /* sasl.oauthbearer.token */
};

/*
 * Checks that span several settings, made when a client is created (each
 * strand_conf_set checks only its own value): bootstrap.servers set and
 * every URL http:// or https://; delivery.timeout.ms >= linger.ms +
 * request.timeout.ms (Kafka's rule); with enable.idempotence, acks=all,
 * retries > 0 and max.in.flight <= 5 (KIP-679). Returns 0 or
 * STRAND_ERR_INVALID_CONFIG with a message.
 */
int conf_check_producer(const struct strand_conf *c, char *errbuf, size_t errlen);

/*
 * The consumer's cross-setting checks, made by strand_consumer_new:
 * bootstrap.servers set; group.id set and a valid group name
 * ([A-Za-z0-9._-]{1,249}); session.timeout.ms within the broker's range
 * [100, 1800000] (Kafka's group.min/max.session.timeout.ms); with
 * enable.auto.commit, auto.commit.interval.ms >= 1. Returns 0 or
 * STRAND_ERR_INVALID_CONFIG with a message.
 */
int conf_check_consumer(const struct strand_conf *c, char *errbuf, size_t errlen);

#endif
