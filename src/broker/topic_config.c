/*
 * topic_config.c — topic configs by their API.md names (Kafka's topic
 * configs with underscores), their defaults and ranges, their text form for
 * JSON views and topics.json, and topic/group name validation.
 *
 * One table lists every config: name, field, range. set, each and validate
 * all walk it, so a config added here is settable, shown and persisted.
 */
#include "broker/broker_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "log/batch.h"

enum config_kind {
	CONFIG_INT64,     /* int64_t field */
	CONFIG_INT32,     /* int32_t field */
	CONFIG_FORMAT,    /* record_format_t field: json|string|binary */
	CONFIG_CLEANUP,   /* no field: the only policy is "delete" */
	CONFIG_BOOL,      /* int field: true|false */
};

typedef struct config_def {
	const char      *name;
	enum config_kind kind;
	size_t           off;       /* offset of the field in topic_config_t */
	int64_t          min, max;  /* numbers: allowed range */
	int              minus_one; /* numbers: -1 also allowed ("never"/"no limit") */
} config_def_t;

#define FIELD(f) offsetof(topic_config_t, f)

/*
 * Ranges follow log_config's checks (log.c refuses anything else):
 * segment_bytes stays below 2 GiB because index positions are int32;
 * segment_ms/flush_* are > 0 or -1 ("never"); retention is >= 0 or -1.
 * max_message_bytes is bounded by the largest batch a request may carry.
 */
static const config_def_t config_defs[] = {
	{ "retention_ms",        CONFIG_INT64,  FIELD(log.retention_ms),    0, INT64_MAX, 1 },
	{ "retention_bytes",     CONFIG_INT64,  FIELD(log.retention_bytes), 0, INT64_MAX, 1 },
	{ "segment_bytes",       CONFIG_INT64,  FIELD(log.segment_bytes),   1024, INT32_MAX, 0 },
	{ "segment_ms",          CONFIG_INT64,  FIELD(log.segment_ms),      1, INT64_MAX, 1 },
	{ "max_message_bytes",   CONFIG_INT64,  FIELD(max_message_bytes),   1, TOPIC_MAX_MESSAGE_BYTES, 0 },
	{ "min_insync_replicas", CONFIG_INT32,  FIELD(min_insync_replicas), 1, INT32_MAX, 0 },
	{ "replica_lag_time_max_ms", CONFIG_INT64, FIELD(replica_lag_time_max_ms), 1, INT64_MAX, 0 },
	{ "cleanup_policy",      CONFIG_CLEANUP, 0,                         0, 0, 0 },
	{ "flush_messages",      CONFIG_INT64,  FIELD(log.flush_messages),  1, INT64_MAX, 1 },
	{ "flush_ms",            CONFIG_INT64,  FIELD(log.flush_ms),        1, INT64_MAX, 1 },
	{ "key_format",          CONFIG_FORMAT, FIELD(key_format),          0, 0, 0 },
	{ "value_format",        CONFIG_FORMAT, FIELD(value_format),        0, 0, 0 },
	{ "unclean_leader_election", CONFIG_BOOL, FIELD(unclean_leader_election), 0, 0, 0 },
};

#define CONFIG_COUNT (sizeof(config_defs) / sizeof(config_defs[0]))

static const char *const format_names[] = {
	[RECORD_FORMAT_JSON] = "json",
	[RECORD_FORMAT_STRING] = "string",
	[RECORD_FORMAT_BINARY] = "binary",
};

void topic_config_default(topic_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	log_config_default(&cfg->log);
	/*
	 * log.max_batch_bytes bounds one batch, and the HTTP produce path builds
	 * one batch per partition per request, so it must hold a whole request
	 * (BROKER_MAX_REQUEST_BYTES) plus the batch header and record framing.
	 * The per-record limit is max_message_bytes, enforced where records are
	 * built (api/); it is not the batch limit as in Kafka.
	 */
	cfg->log.max_batch_bytes = BROKER_MAX_BATCH_BYTES;
	cfg->max_message_bytes = 1048588;   /* Kafka's message.max.bytes */
	cfg->min_insync_replicas = 1;
	/*
	 * Kafka's replica.lag.time.max.ms is 30000. strand's default is 10000:
	 * its followers long-poll (at most 500 ms between fetches when idle), so
	 * a live follower is never near 10 s behind, and a dead or paused one
	 * holds acks=all (and the HW) for a third of the time before the ISR
	 * shrinks — the failover budget of issue 10 is 5 s for the leader, and
	 * a follower's death should not cost twice that per partition.
	 */
	cfg->replica_lag_time_max_ms = 10000;
	cfg->key_format = RECORD_FORMAT_JSON;
	cfg->value_format = RECORD_FORMAT_JSON;
}

static const config_def_t *config_find(const char *name)
{
	for (size_t i = 0; i < CONFIG_COUNT; i++)
		if (strcmp(config_defs[i].name, name) == 0)
			return &config_defs[i];
	return NULL;
}

static int64_t config_get_number(const topic_config_t *cfg, const config_def_t *d)
{
	const char *p = (const char *)cfg + d->off;

	if (d->kind == CONFIG_INT32)
		return *(const int32_t *)(const void *)p;
	return *(const int64_t *)(const void *)p;
}

static int number_in_range(const config_def_t *d, int64_t v)
{
	return (v >= d->min && v <= d->max) || (d->minus_one && v == -1);
}

static int range_error(const config_def_t *d, char *err, size_t errlen)
{
	if (d->minus_one)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "%s must be in [%" PRId64 ", %" PRId64 "] or -1",
		                      d->name, d->min, d->max);
	return strand_err_set(err, errlen, STRAND_EINVAL,
	                      "%s must be in [%" PRId64 ", %" PRId64 "]",
	                      d->name, d->min, d->max);
}

/* Strict decimal integer: -?[0-9]+, no spaces, no '+', no overflow. */
static int parse_int64(const char *s, int64_t *out)
{
	const char *p = s;
	char *end;
	long long v;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_format(const char *s, record_format_t *out)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(format_names[i], s) == 0) {
			*out = (record_format_t)i;
			return 0;
		}
	}
	return -1;
}

int topic_config_set(topic_config_t *cfg, const char *name, const char *value,
                     char *err, size_t errlen)
{
	const config_def_t *d = config_find(name);
	char *field;
	int64_t v;
	record_format_t fmt;

	if (d == NULL)
		return strand_err_set(err, errlen, STRAND_ENOENT, "unknown config %s", name);
	field = (char *)cfg + d->off;
	switch (d->kind) {
	case CONFIG_INT64:
	case CONFIG_INT32:
		if (parse_int64(value, &v) < 0)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "%s must be an integer", name);
		if (!number_in_range(d, v))
			return range_error(d, err, errlen);
		if (d->kind == CONFIG_INT32)
			*(int32_t *)(void *)field = (int32_t)v;
		else
			*(int64_t *)(void *)field = v;
		return 0;
	case CONFIG_FORMAT:
		if (parse_format(value, &fmt) < 0)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "%s must be json, string or binary", name);
		*(record_format_t *)(void *)field = fmt;
		return 0;
	case CONFIG_CLEANUP:
		if (strcmp(value, "delete") != 0)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "cleanup_policy must be delete");
		return 0;
	case CONFIG_BOOL:
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "%s must be true or false", name);
		*(int *)(void *)field = value[0] == 't';
		return 0;
	}
	return strand_err_set(err, errlen, STRAND_EINVAL, "bad config %s", name);
}

static int format_valid(record_format_t f)
{
	return f == RECORD_FORMAT_JSON || f == RECORD_FORMAT_STRING ||
	       f == RECORD_FORMAT_BINARY;
}

int topic_config_validate(const topic_config_t *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < CONFIG_COUNT; i++) {
		const config_def_t *d = &config_defs[i];

		if (d->kind == CONFIG_INT64 || d->kind == CONFIG_INT32) {
			if (!number_in_range(d, config_get_number(cfg, d)))
				return range_error(d, err, errlen);
		}
	}
	if (!format_valid(cfg->key_format) || !format_valid(cfg->value_format))
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "key_format/value_format must be json, string or binary");
	if (cfg->log.index_interval_bytes < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "index_interval_bytes must be >= 0");
	if (cfg->log.max_batch_bytes < BATCH_HEADER_SIZE)
		return strand_err_set(err, errlen, STRAND_EINVAL, "max_batch_bytes too small");
	return 0;
}

int topic_config_each(const topic_config_t *cfg,
                      int (*fn)(const char *name, const char *value, int is_number, void *ctx),
                      void *ctx)
{
	char text[32];
	int rc;

	for (size_t i = 0; i < CONFIG_COUNT; i++) {
		const config_def_t *d = &config_defs[i];
		const char *value = text;
		int is_number = 0;
		record_format_t f;

		switch (d->kind) {
		case CONFIG_INT64:
		case CONFIG_INT32:
			snprintf(text, sizeof(text), "%" PRId64, config_get_number(cfg, d));
			is_number = 1;
			break;
		case CONFIG_FORMAT:
			f = *(const record_format_t *)(const void *)((const char *)cfg + d->off);
			value = format_valid(f) ? format_names[f] : "json";
			break;
		case CONFIG_CLEANUP:
			value = "delete";
			break;
		case CONFIG_BOOL:
			value = *(const int *)(const void *)((const char *)cfg + d->off) ? "true"
			                                                                 : "false";
			break;
		}
		rc = fn(d->name, value, is_number, ctx);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- topics.json form ---------------------------------------------------- */

static int config_add_json(const char *name, const char *value, int is_number, void *ctx)
{
	return cJSON_AddStringToObject(ctx, name, value) == NULL ? STRAND_ENOMEM : 0;
}

cJSON *topic_config_to_json(const topic_config_t *cfg)
{
	cJSON *obj = cJSON_CreateObject();

	if (obj == NULL)
		return NULL;
	if (topic_config_each(cfg, config_add_json, obj) != 0) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

int topic_config_from_json(topic_config_t *cfg, const cJSON *obj,
                           char *err, size_t errlen)
{
	const cJSON *item;
	int rc;

	topic_config_default(cfg);
	if (!cJSON_IsObject(obj))
		return strand_err_set(err, errlen, STRAND_EINVAL, "configs is not an object");
	cJSON_ArrayForEach(item, obj) {
		if (!cJSON_IsString(item) || item->string == NULL)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "config %s is not a string",
			                      item->string ? item->string : "?");
		rc = topic_config_set(cfg, item->string, item->valuestring, err, errlen);
		if (rc != 0)
			return STRAND_EINVAL;
	}
	return topic_config_validate(cfg, err, errlen);
}

/* ---- names ---------------------------------------------------------------- */

/* Kafka's legal topic chars; 249 leaves room for "-<partition>" in a 255-byte file name. */
int broker_name_valid(const char *name)
{
	size_t len;

	if (name == NULL)
		return 0;
	for (len = 0; name[len] != '\0'; len++) {
		char c = name[len];

		if (len >= 249)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	return 1;
}
