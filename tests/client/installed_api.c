/*
 * installed_api.c — compiled by tests/client/test_install.sh against the
 * INSTALLED strand.h and libstrand.so, found only through
 * `pkg-config --cflags --libs strand`, as a user's program would be.
 * Checks the configuration contract (every name of issue #5 with Kafka's
 * default, bad names and values refused with words, conf unchanged on
 * error), the consumer's constructor checks, and the error table. Prints "N passed, N failed".
 */
#include <stdio.h>
#include <string.h>

#include <strand.h>

static int passed, failed;

#define CHECK(cond, ...) do { \
	if (cond) { passed++; } else { failed++; \
		printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		printf(__VA_ARGS__); printf("\n"); } \
} while (0)

static const struct { const char *name, *dflt; } defaults[] = {
	{ "bootstrap.servers", "" },
	{ "acks", "all" },
	{ "batch.size", "16384" },
	{ "linger.ms", "0" },
	{ "buffer.memory", "33554432" },
	{ "max.block.ms", "60000" },
	{ "retries", "2147483647" },
	{ "delivery.timeout.ms", "120000" },
	{ "request.timeout.ms", "30000" },
	{ "retry.backoff.ms", "100" },
	{ "topic.metadata.propagation.max.ms", "30000" },
	{ "max.in.flight.requests.per.connection", "5" },
	{ "enable.idempotence", "true" },
	{ "dead.letter.path", "" },
	{ "group.id", "" },
	{ "auto.offset.reset", "latest" },
	{ "enable.auto.commit", "true" },
	{ "auto.commit.interval.ms", "5000" },
	{ "session.timeout.ms", "45000" },
	{ "ssl.ca.location", "" },
	{ "sasl.oauthbearer.token", "" },
};

/* name, a value that must be refused */
static const struct { const char *name, *bad; } bad_values[] = {
	{ "bootstrap.servers", "localhost:8080" },
	{ "bootstrap.servers", "http://a:1,ftp://b" },
	{ "bootstrap.servers", "" },
	{ "acks", "2" },
	{ "batch.size", "0" },
	{ "batch.size", "12x" },
	{ "linger.ms", "-1" },
	{ "buffer.memory", "10" },
	{ "max.block.ms", "99999999999" },
	{ "retries", "-1" },
	{ "delivery.timeout.ms", "0" },
	{ "request.timeout.ms", "" },
	{ "retry.backoff.ms", " 5" },
	{ "topic.metadata.propagation.max.ms", "-1" },
	{ "max.in.flight.requests.per.connection", "0" },
	{ "enable.idempotence", "yes" },
	{ "auto.offset.reset", "none" },
	{ "enable.auto.commit", "1" },
	{ "auto.commit.interval.ms", "-5" },
	{ "session.timeout.ms", "0" },
};

int main(void)
{
	char buf[256], err[256];
	strand_conf *c = strand_conf_new();

	CHECK(c != NULL, "strand_conf_new");
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
		int rc = strand_conf_get(c, defaults[i].name, buf, sizeof buf);
		CHECK(rc == 0 && strcmp(buf, defaults[i].dflt) == 0,
		      "%s: expected default '%s', got rc %d '%s'", defaults[i].name,
		      defaults[i].dflt, rc, buf);
	}
	for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
		char before[256];
		strand_conf_get(c, bad_values[i].name, before, sizeof before);
		err[0] = '\0';
		int rc = strand_conf_set(c, bad_values[i].name, bad_values[i].bad, err, sizeof err);
		strand_conf_get(c, bad_values[i].name, buf, sizeof buf);
		CHECK(rc == STRAND_ERR_INVALID_CONFIG && strstr(err, bad_values[i].name) &&
		      strcmp(before, buf) == 0,
		      "%s='%s': expected INVALID_CONFIG naming the setting, value kept; got %d '%s' "
		      "(value now '%s')", bad_values[i].name, bad_values[i].bad, rc, err, buf);
	}
	int rc = strand_conf_set(c, "batch.sise", "1", err, sizeof err);
	CHECK(rc == STRAND_ERR_UNKNOWN_CONFIG && strstr(err, "batch.sise"), "got %d '%s'", rc, err);
	CHECK(strand_conf_set(c, "acks", NULL, err, sizeof err) == STRAND_ERR_INVALID_ARG, "NULL value");

	/* good values round-trip */
	CHECK(strand_conf_set(c, "bootstrap.servers", "http://127.0.0.1:1,https://b:2", err, sizeof err) == 0, "%s", err);
	CHECK(strand_conf_set(c, "acks", "-1", err, sizeof err) == 0, "%s", err);
	strand_conf_get(c, "acks", buf, sizeof buf);
	CHECK(strcmp(buf, "all") == 0, "acks -1 reads back as '%s'", buf);
	CHECK(strand_conf_set(c, "linger.ms", "5", err, sizeof err) == 0, "%s", err);
	CHECK(strand_conf_set(c, "enable.idempotence", "FALSE", err, sizeof err) == 0, "%s", err);
	strand_conf_get(c, "enable.idempotence", buf, sizeof buf);
	CHECK(strcmp(buf, "false") == 0, "enable.idempotence reads back as '%s'", buf);

	/* the consumer needs group.id, and a valid one */
	CHECK(strand_consumer_new(c, err, sizeof err) == NULL && strstr(err, "group.id"),
	      "consumer without group.id: '%s'", err);
	CHECK(strand_conf_set(c, "group.id", "billing", err, sizeof err) == 0, "%s", err);
	strand_consumer *cons = strand_consumer_new(c, err, sizeof err);
	CHECK(cons != NULL, "consumer_new: %s", err);
	CHECK(strand_subscribe(cons, NULL, 0) == STRAND_ERR_INVALID_ARG, "subscribe to nothing");
	CHECK(strand_commit(cons, 0) == 0, "commit before joining: nothing to commit");
	CHECK(strand_consumer_close(cons) == 0, "close before joining");
	strand_message_destroy(NULL);

	strand_conf *d = strand_conf_dup(c);
	CHECK(d != NULL, "dup");
	strand_conf_set(c, "bootstrap.servers", "http://other:3", err, sizeof err);
	strand_conf_get(d, "bootstrap.servers", buf, sizeof buf);
	CHECK(strcmp(buf, "http://127.0.0.1:1,https://b:2") == 0, "dup is independent: '%s'", buf);
	CHECK(strand_conf_get(d, "linger.ms", buf, 1) == STRAND_ERR_INVALID_ARG, "short buffer");
	strand_conf_destroy(d);
	strand_conf_destroy(c);
	strand_conf_destroy(NULL);

	/* errors: names, words, classification */
	CHECK(strcmp(strand_err2str(STRAND_ERR_NONE), "success") == 0, "NONE");
	CHECK(strcmp(strand_err_name(STRAND_ERR_QUEUE_FULL), "QUEUE_FULL") == 0, "name");
	CHECK(strcmp(strand_err_name(STRAND_ERR_OUT_OF_ORDER_SEQUENCE), "OUT_OF_ORDER_SEQUENCE") == 0, "name");
	CHECK(strcmp(strand_err2str(12345), "unknown error code") == 0, "unknown code");
	CHECK(strand_err_is_retriable(STRAND_ERR_NOT_ENOUGH_REPLICAS), "retriable");
	CHECK(strand_err_is_retriable(STRAND_ERR_TRANSPORT), "retriable");
	CHECK(!strand_err_is_retriable(STRAND_ERR_MSG_TIMED_OUT), "fatal");
	CHECK(!strand_err_is_retriable(STRAND_ERR_PRODUCER_FENCED), "fatal");
	CHECK(strand_err_is_retriable(STRAND_ERR_UNAVAILABLE), "UNAVAILABLE is retriable");
	for (int code = STRAND_ERR_INVALID_ARG; code >= STRAND_ERR_TLS; code--)
		CHECK(strcmp(strand_err_name(code), "UNKNOWN") != 0, "local code %d has a name", code);
	for (int code = STRAND_ERR_INVALID_REQUEST; code >= STRAND_ERR_UNAVAILABLE; code--)
		CHECK(strcmp(strand_err_name(code), "UNKNOWN") != 0, "broker code %d has a name", code);

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
