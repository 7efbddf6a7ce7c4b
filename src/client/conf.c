/*
 * conf.c — strand_conf_*: Kafka's producer and consumer settings by their
 * own names, set as strings and validated (issue #5, item 3).
 *
 * One table holds every name, its kind, its range and its default; the
 * defaults are applied through the same parser as user values, so a
 * default can never be a value the parser would refuse.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/conf.h"
#include "client/transport.h"

enum conf_kind { KIND_STR, KIND_INT, KIND_BOOL, KIND_ACKS, KIND_RESET, KIND_URLS };

typedef struct conf_prop {
	const char    *name;
	enum conf_kind kind;
	size_t         off;     /* field in struct strand_conf */
	int64_t        min, max;
	const char    *dflt;    /* NULL: unset string */
} conf_prop_t;

#define F(field) offsetof(struct strand_conf, field)
#define I64MAX INT64_MAX

static const conf_prop_t conf_props[] = {
	{ "bootstrap.servers",       KIND_URLS,  F(bootstrap_servers),     0, 0, NULL },
	{ "acks",                    KIND_ACKS,  F(acks),                  0, 0, "all" },
	{ "batch.size",              KIND_INT,   F(batch_size),            1, 1 << 30, "16384" },
	{ "linger.ms",               KIND_INT,   F(linger_ms),             0, 900000, "0" },
	{ "buffer.memory",           KIND_INT,   F(buffer_memory),         1024, (int64_t)1 << 40, "33554432" },
	{ "max.block.ms",            KIND_INT,   F(max_block_ms),          0, INT32_MAX, "60000" },
	{ "retries",                 KIND_INT,   F(retries),               0, INT32_MAX, "2147483647" },
	{ "delivery.timeout.ms",     KIND_INT,   F(delivery_timeout_ms),   1, INT32_MAX, "120000" },
	{ "request.timeout.ms",      KIND_INT,   F(request_timeout_ms),    1, 300000, "30000" },
	{ "retry.backoff.ms",        KIND_INT,   F(retry_backoff_ms),      0, 300000, "100" },
	{ "topic.metadata.propagation.max.ms",
	                             KIND_INT,   F(topic_metadata_propagation_max_ms), 0, INT32_MAX, "30000" },
	{ "max.in.flight.requests.per.connection",
	                             KIND_INT,   F(max_in_flight),         1, 1000, "5" },
	{ "enable.idempotence",      KIND_BOOL,  F(enable_idempotence),    0, 0, "true" },
	{ "dead.letter.path",        KIND_STR,   F(dead_letter_path),      0, 0, NULL },
	{ "group.id",                KIND_STR,   F(group_id),              0, 0, NULL },
	{ "auto.offset.reset",       KIND_RESET, F(auto_offset_reset_earliest), 0, 0, "latest" },
	{ "enable.auto.commit",      KIND_BOOL,  F(enable_auto_commit),    0, 0, "true" },
	{ "auto.commit.interval.ms", KIND_INT,   F(auto_commit_interval_ms), 0, INT32_MAX, "5000" },
	{ "session.timeout.ms",      KIND_INT,   F(session_timeout_ms),    1, INT32_MAX, "45000" },
	{ "ssl.ca.location",         KIND_STR,   F(ssl_ca_location),       0, 0, NULL },
	{ "sasl.oauthbearer.token",  KIND_STR,   F(bearer_token),          0, 0, NULL },
};
#define NPROPS (sizeof conf_props / sizeof conf_props[0])

static const conf_prop_t *conf_find(const char *name)
{
	for (size_t i = 0; i < NPROPS; i++)
		if (strcmp(conf_props[i].name, name) == 0)
			return &conf_props[i];
	return NULL;
}

static int conf_fail(char *errbuf, size_t errlen, int code, const char *fmt, const char *a,
                     const char *b)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, fmt, a, b);
	return code;
}

/* Each URL of a comma list must start with http:// or https:// and have a host. */
static int conf_check_urls(const char *v, char *errbuf, size_t errlen)
{
	const char *p = v;

	if (*v == '\0')
		return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
		                 "bootstrap.servers: empty%s%s", "", "");
	while (*p) {
		size_t n = strcspn(p, ",");
		size_t scheme = strncmp(p, "http://", 7) == 0 ? 7 :
		                strncmp(p, "https://", 8) == 0 ? 8 : 0;
		if (scheme == 0 || n <= scheme || memchr(p, ' ', n)) {
			if (errbuf && errlen)
				snprintf(errbuf, errlen, "bootstrap.servers: '%.*s' is not an http:// "
				         "or https:// URL (a comma-separated list of broker URLs)",
				         (int)n, p);
			return STRAND_ERR_INVALID_CONFIG;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int conf_parse_int(const char *v, int64_t *out)
{
	char *end;

	if (*v == '\0' || strchr(" \t+", *v))
		return -1;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || *end)
		return -1;
	*out = x;
	return 0;
}

static int conf_parse_bool(const char *v, int *out)
{
	if (strcasecmp(v, "true") == 0)
		*out = 1;
	else if (strcasecmp(v, "false") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Parse value for prop into conf. On error conf is unchanged. */
static int conf_apply(struct strand_conf *c, const conf_prop_t *pr, const char *v,
                      char *errbuf, size_t errlen)
{
	char *field = (char *)c + pr->off;
	int64_t n;
	int b;

	switch (pr->kind) {
	case KIND_URLS:
	case KIND_STR: {
		if (pr->kind == KIND_URLS) {
			int rc = conf_check_urls(v, errbuf, errlen);
			if (rc)
				return rc;
		}
		char *copy = *v ? strdup(v) : NULL;
		if (*v && !copy)
			return conf_fail(errbuf, errlen, STRAND_ERR_NO_MEMORY, "%s: out of memory%s",
			                 pr->name, "");
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case KIND_INT:
		if (conf_parse_int(v, &n) || n < pr->min || n > pr->max) {
			if (errbuf && errlen)
				snprintf(errbuf, errlen, "%s: '%s' is not an integer in [%" PRId64
				         ", %" PRId64 "]", pr->name, v, pr->min, pr->max);
			return STRAND_ERR_INVALID_CONFIG;
		}
		*(int64_t *)field = n;
		return 0;
	case KIND_BOOL:
		if (conf_parse_bool(v, &b))
			return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
			                 "%s: '%s' is not true or false", pr->name, v);
		*(int *)field = b;
		return 0;
	case KIND_ACKS:
		if (strcmp(v, "all") == 0 || strcmp(v, "-1") == 0)
			*(int *)field = CONF_ACKS_ALL;
		else if (strcmp(v, "1") == 0)
			*(int *)field = CONF_ACKS_LEADER;
		else if (strcmp(v, "0") == 0)
			*(int *)field = CONF_ACKS_NONE;
		else
			return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
			                 "%s: '%s' is not 0, 1, all or -1", pr->name, v);
		return 0;
	case KIND_RESET:
		if (strcmp(v, "earliest") == 0)
			*(int *)field = 1;
		else if (strcmp(v, "latest") == 0)
			*(int *)field = 0;
		else
			return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
			                 "%s: '%s' is not earliest or latest", pr->name, v);
		return 0;
	}
	return STRAND_ERR_INVALID_CONFIG;
}

strand_conf *strand_conf_new(void)
{
	struct strand_conf *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	for (size_t i = 0; i < NPROPS; i++)
		if (conf_props[i].dflt && conf_apply(c, &conf_props[i], conf_props[i].dflt, NULL, 0)) {
			strand_conf_destroy(c);
			return NULL;
		}
	return c;
}

void strand_conf_destroy(strand_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NPROPS; i++)
		if (conf_props[i].kind == KIND_STR || conf_props[i].kind == KIND_URLS)
			free(*(char **)((char *)c + conf_props[i].off));
	free(c);
}

strand_conf *strand_conf_dup(const strand_conf *src)
{
	struct strand_conf *c;

	if (!src || !(c = malloc(sizeof *c)))
		return NULL;
	*c = *src;
	for (size_t i = 0; i < NPROPS; i++) {
		if (conf_props[i].kind != KIND_STR && conf_props[i].kind != KIND_URLS)
			continue;
		char **f = (char **)((char *)c + conf_props[i].off);
		if (*f && !(*f = strdup(*f))) {
			/* free only the copies made so far, then the rest is borrowed: clear it */
			for (size_t j = i + 1; j < NPROPS; j++)
				if (conf_props[j].kind == KIND_STR || conf_props[j].kind == KIND_URLS)
					*(char **)((char *)c + conf_props[j].off) = NULL;
			strand_conf_destroy(c);
			return NULL;
		}
	}
	return c;
}

int strand_conf_set(strand_conf *c, const char *name, const char *value,
                    char *errbuf, size_t errlen)
{
	const conf_prop_t *pr;

	if (!c || !name || !value)
		return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_ARG,
		                 "strand_conf_set: NULL argument%s%s", "", "");
	if (!(pr = conf_find(name)))
		return conf_fail(errbuf, errlen, STRAND_ERR_UNKNOWN_CONFIG,
		                 "unknown configuration name '%s'%s (docs/CLIENT.md lists them)",
		                 name, "");
	return conf_apply(c, pr, value, errbuf, errlen);
}

int strand_conf_get(const strand_conf *c, const char *name, char *buf, size_t size)
{
	const conf_prop_t *pr;
	const char *field;
	int n = 0;

	if (!c || !name || !buf || size == 0)
		return STRAND_ERR_INVALID_ARG;
	if (!(pr = conf_find(name)))
		return STRAND_ERR_UNKNOWN_CONFIG;
	field = (const char *)c + pr->off;
	switch (pr->kind) {
	case KIND_STR:
	case KIND_URLS: {
		const char *s = *(char *const *)field;
		n = snprintf(buf, size, "%s", s ? s : "");
		break;
	}
	case KIND_INT:
		n = snprintf(buf, size, "%" PRId64, *(const int64_t *)field);
		break;
	case KIND_BOOL:
		n = snprintf(buf, size, "%s", *(const int *)field ? "true" : "false");
		break;
	case KIND_ACKS: {
		int a = *(const int *)field;
		n = snprintf(buf, size, "%s", a == CONF_ACKS_ALL ? "all" : a == 1 ? "1" : "0");
		break;
	}
	case KIND_RESET:
		n = snprintf(buf, size, "%s", *(const int *)field ? "earliest" : "latest");
		break;
	}
	return n < 0 || (size_t)n >= size ? STRAND_ERR_INVALID_ARG : 0;
}

int conf_check_producer(const struct strand_conf *c, char *errbuf, size_t errlen)
{
	if (!c->bootstrap_servers)
		return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
		                 "bootstrap.servers is required%s%s", "", "");
	if (c->delivery_timeout_ms < c->linger_ms + c->request_timeout_ms) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "delivery.timeout.ms (%" PRId64 ") must be at least "
			         "linger.ms + request.timeout.ms (%" PRId64 ")",
			         c->delivery_timeout_ms, c->linger_ms + c->request_timeout_ms);
		return STRAND_ERR_INVALID_CONFIG;
	}
	if (c->enable_idempotence) {
		if (c->acks != CONF_ACKS_ALL)
			return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
			                 "enable.idempotence=true needs acks=all%s%s", "", "");
		if (c->retries == 0)
			return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
			                 "enable.idempotence=true needs retries > 0%s%s", "", "");
		if (c->max_in_flight > 5)
			return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
			                 "enable.idempotence=true needs "
			                 "max.in.flight.requests.per.connection <= 5%s%s", "", "");
	}
	return 0;
}

/* the broker's bounds of session_timeout_ms (src/broker/group.h) */
#define CONF_SESSION_MIN_MS 100
#define CONF_SESSION_MAX_MS 1800000

int conf_check_consumer(const struct strand_conf *c, char *errbuf, size_t errlen)
{
	const char *g = c->group_id;

	if (!c->bootstrap_servers)
		return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
		                 "bootstrap.servers is required%s%s", "", "");
	if (!g)
		return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
		                 "group.id is required for a consumer%s%s", "", "");
	if (!transport_name_ok(g))
		return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
		                 "group.id: '%s' is not a group name ([A-Za-z0-9._-]{1,249})%s", g, "");
	if (c->session_timeout_ms < CONF_SESSION_MIN_MS || c->session_timeout_ms > CONF_SESSION_MAX_MS) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "session.timeout.ms: %" PRId64 " is outside the broker's "
			         "range [%d, %d]", c->session_timeout_ms, CONF_SESSION_MIN_MS,
			         CONF_SESSION_MAX_MS);
		return STRAND_ERR_INVALID_CONFIG;
	}
	if (c->enable_auto_commit && c->auto_commit_interval_ms < 1)
		return conf_fail(errbuf, errlen, STRAND_ERR_INVALID_CONFIG,
		                 "auto.commit.interval.ms must be at least 1 with "
		                 "enable.auto.commit=true%s%s", "", "");
	return 0;
}
