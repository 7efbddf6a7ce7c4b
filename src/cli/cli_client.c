/*
 * cli_client.c — the client subcommands, built on libstrand (src/client/):
 *   strand produce TOPIC --broker URL [--key-separator C] [--partition P] [--acks A] [-X name=value]
 *   strand replay FILE --broker URL [-X name=value]
 *   strand topic create|list|describe|delete ... --broker URL
 * produce and replay go through the producer (batches, retries,
 * idempotence); topic talks to the admin endpoints through the library's
 * transport (the same TLS, token and error handling).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "client/conf.h"
#include "client/deadletter.h"
#include "client/strand.h"
#include "client/transport.h"

/* ---- shared options --------------------------------------------------------- */

int client_conf(strand_conf *conf, const client_opts_t *o, const char *cmd)
{
	char err[512];

	if (!o->broker) {
		fprintf(stderr, "strand %s: --broker URL is required (or -X bootstrap.servers=URL)\n", cmd);
		return 2;
	}
	if (strand_conf_set(conf, "bootstrap.servers", o->broker, err, sizeof err)) {
		fprintf(stderr, "strand %s: --broker: %s\n", cmd, err);
		return 2;
	}
	for (int i = 0; i < o->nx; i++) {
		char name[128];
		const char *eq = strchr(o->x[i], '=');
		if (!eq || (size_t)(eq - o->x[i]) >= sizeof name) {
			fprintf(stderr, "strand %s: -X %s: expected name=value\n", cmd, o->x[i]);
			return 2;
		}
		snprintf(name, sizeof name, "%.*s", (int)(eq - o->x[i]), o->x[i]);
		if (strand_conf_set(conf, name, eq + 1, err, sizeof err)) {
			fprintf(stderr, "strand %s: -X %s\n", cmd, err);
			return 2;
		}
	}
	return 0;
}

/* Delivery outcomes counted by the callback (sender thread). */
typedef struct outcome {
	pthread_mutex_t lock;
	uint64_t        ok, failed;
	int             first_err;
	char            first_errstr[512];
} outcome_t;

static void on_delivery(const strand_message *m, void *opaque)
{
	outcome_t *o = opaque;

	pthread_mutex_lock(&o->lock);
	if (strand_message_err(m) == 0) {
		o->ok++;
	} else {
		if (o->failed++ == 0) {
			o->first_err = strand_message_err(m);
			snprintf(o->first_errstr, sizeof o->first_errstr, "%s", strand_message_errstr(m));
		}
	}
	pthread_mutex_unlock(&o->lock);
}

/* Flush, destroy, say what happened. Returns the exit status. */
static int client_finish(strand_producer *p, outcome_t *o, const char *cmd, uint64_t queued)
{
	strand_producer_destroy(p);      /* flushes within delivery.timeout.ms */
	if (o->failed) {
		fprintf(stderr, "strand %s: %" PRIu64 " of %" PRIu64 " records failed; first: %s: %s\n",
		        cmd, o->failed, queued, strand_err_name(o->first_err), o->first_errstr);
		return 1;
	}
	fprintf(stderr, "strand %s: %" PRIu64 " records delivered\n", cmd, o->ok);
	return 0;
}

int client_parse_common(int c, const char *arg, client_opts_t *o)
{
	if (c == 'b') {
		o->broker = arg;
		return 1;
	}
	if (c == 'X') {
		if (o->nx == CLI_MAX_X)
			return -1;
		o->x[o->nx++] = arg;
		return 1;
	}
	return 0;
}

/* ---- strand produce ------------------------------------------------------------ */

static void produce_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand produce TOPIC --broker URL [--key-separator C] [--partition P]\n"
	        "                      [--acks 0|1|all] [-X name=value ...]\n\n"
	        "Sends one record per line of standard input (the line without its newline).\n"
	        "With --key-separator C, the text before the first C is the key.\n"
	        "-X sets any libstrand setting (docs/CLIENT.md), e.g. -X linger.ms=5,\n"
	        "-X ssl.ca.location=ca.pem, -X sasl.oauthbearer.token=TOKEN.\n"
	        "--acks 0 or 1 turns enable.idempotence off (it needs acks=all).\n"
	        "Exit status 1 when any record failed (the first error on stderr).\n");
}

int cli_produce(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "key-separator", required_argument, NULL, 'k' },
		{ "partition", required_argument, NULL, 'p' },
		{ "acks", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	client_opts_t o = { 0 };
	const char *sep = NULL, *acks = NULL;
	long partition = STRAND_PARTITION_ANY;
	char err[512], *line = NULL, *end;
	size_t cap = 0;
	ssize_t n;
	uint64_t queued = 0;
	outcome_t out = { .lock = PTHREAD_MUTEX_INITIALIZER };
	strand_conf *conf;
	strand_producer *p;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
		if ((rc = client_parse_common(c, optarg, &o)) == 1)
			continue;
		switch (c) {
		case 'k':
			if (strlen(optarg) != 1) {
				fprintf(stderr, "strand produce: --key-separator takes one character\n");
				return 2;
			}
			sep = optarg;
			break;
		case 'p':
			errno = 0;
			partition = strtol(optarg, &end, 10);
			if (errno || *end || partition < 0 || partition > INT32_MAX) {
				fprintf(stderr, "strand produce: --partition: '%s' is not a partition number\n",
				        optarg);
				return 2;
			}
			break;
		case 'a':
			acks = optarg;
			break;
		case 'h':
			produce_usage(stdout);
			return 0;
		default:
			produce_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		produce_usage(stderr);
		return 2;
	}
	if (!(conf = strand_conf_new()))
		return 1;
	if (acks && (strcmp(acks, "0") == 0 || strcmp(acks, "1") == 0))
		strand_conf_set(conf, "enable.idempotence", "false", NULL, 0);
	if (acks && strand_conf_set(conf, "acks", acks, err, sizeof err)) {
		fprintf(stderr, "strand produce: --acks: %s\n", err);
		strand_conf_destroy(conf);
		return 2;
	}
	if ((rc = client_conf(conf, &o, "produce"))) {
		strand_conf_destroy(conf);
		return rc;
	}
	p = strand_producer_new(conf, err, sizeof err);
	strand_conf_destroy(conf);
	if (!p) {
		fprintf(stderr, "strand produce: %s\n", err);
		return 1;
	}
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		const char *key = NULL, *value = line;
		size_t klen = 0, vlen;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		vlen = (size_t)n;
		if (sep) {
			char *s = memchr(line, sep[0], (size_t)n);
			if (s) {
				key = line;
				klen = (size_t)(s - line);
				value = s + 1;
				vlen = (size_t)n - klen - 1;
			}
		}
		rc = strand_produce(p, argv[optind], (int32_t)partition, key, klen, value, vlen,
		                    on_delivery, &out);
		if (rc) {
			fprintf(stderr, "strand produce: record %" PRIu64 ": %s\n", queued + 1,
			        strand_err2str(rc));
			free(line);
			strand_producer_destroy(p);   /* what was queued before is still delivered */
			return 1;
		}
		queued++;
	}
	free(line);
	return client_finish(p, &out, "produce", queued);
}

/* ---- strand replay -------------------------------------------------------------- */

static void replay_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand replay FILE --broker URL [-X name=value ...]\n\n"
	        "Sends again the records of a dead-letter file (libstrand's dead.letter.path),\n"
	        "each to the topic and partition it was meant for. Records that fail again\n"
	        "are reported (and, with -X dead.letter.path=OTHER, written there).\n");
}

int cli_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	client_opts_t o = { 0 };
	char err[512];
	deadletter_entry_t e = { .storage = BUF_INIT };
	outcome_t out = { .lock = PTHREAD_MUTEX_INITIALIZER };
	uint64_t queued = 0;
	size_t lineno = 0;
	strand_conf *conf;
	strand_producer *p;
	FILE *f;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
		if (client_parse_common(c, optarg, &o) == 1)
			continue;
		if (c == 'h') {
			replay_usage(stdout);
			return 0;
		}
		replay_usage(stderr);
		return 2;
	}
	if (optind != argc - 1) {
		replay_usage(stderr);
		return 2;
	}
	if (!(f = fopen(argv[optind], "r"))) {
		fprintf(stderr, "strand replay: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (!(conf = strand_conf_new())) {
		fclose(f);
		return 1;
	}
	if ((rc = client_conf(conf, &o, "replay"))) {
		strand_conf_destroy(conf);
		fclose(f);
		return rc;
	}
	p = strand_producer_new(conf, err, sizeof err);
	strand_conf_destroy(conf);
	if (!p) {
		fprintf(stderr, "strand replay: %s\n", err);
		fclose(f);
		return 1;
	}
	while ((rc = deadletter_read(f, &e, &lineno, err, sizeof err)) == 1) {
		rc = strand_produce(p, e.topic, e.partition, e.key, e.key_len, e.value, e.value_len,
		                    on_delivery, &out);
		if (rc) {
			fprintf(stderr, "strand replay: %s line %zu: %s\n", argv[optind], lineno,
			        strand_err2str(rc));
			break;
		}
		queued++;
	}
	if (rc == STRAND_ERR_BAD_RESPONSE)
		fprintf(stderr, "strand replay: %s %s\n", argv[optind], err);
	buf_free(&e.storage);
	fclose(f);
	int status = client_finish(p, &out, "replay", queued);
	return rc < 0 ? 1 : status;
}

/* ---- strand topic ---------------------------------------------------------------- */

static void topic_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand topic create NAME --broker URL [--partitions N] [--replication-factor R]\n"
	        "                           [--config name=value ...]\n"
	        "       strand topic list --broker URL\n"
	        "       strand topic describe NAME --broker URL\n"
	        "       strand topic delete NAME --broker URL\n"
	        "All take -X name=value for libstrand settings (ssl.ca.location, sasl.oauthbearer.token).\n");
}

int client_call(transport_t *t, const char *cmd, const char *method, const char *path,
                const char *body, cJSON **json)
{
	transport_req_t r;
	char err[512];
	int rc;

	if (transport_req_init(t, &r))
		return 1;
	rc = transport_call(t, &r, method, path, body, 30000, json, err, sizeof err);
	transport_req_free(&r);
	if (rc) {
		fprintf(stderr, "strand %s: %s %s: %s: %s\n", cmd, method, path, strand_err_name(rc), err);
		return 1;
	}
	return 0;
}

/* {"name","partitions","replication_factor","configs":{...}} from the options. */
static char *topic_create_body(const char *name, long partitions, long rf, char **configs, int n)
{
	cJSON *doc = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
	char *out = NULL;

	cJSON_AddStringToObject(doc, "name", name);
	cJSON_AddNumberToObject(doc, "partitions", (double)partitions);
	cJSON_AddNumberToObject(doc, "replication_factor", (double)rf);
	for (int i = 0; i < n; i++) {
		char *eq = strchr(configs[i], '=');
		if (!eq) {
			fprintf(stderr, "strand topic: --config %s: expected name=value\n", configs[i]);
			goto out;
		}
		*eq = '\0';
		/* numbers go as numbers, the rest as strings (the broker checks them) */
		char *end;
		double v = strtod(eq + 1, &end);
		if (eq[1] && !*end)
			cJSON_AddNumberToObject(cfg, configs[i], v);
		else
			cJSON_AddStringToObject(cfg, configs[i], eq + 1);
		*eq = '=';
	}
	cJSON_AddItemToObject(doc, "configs", cfg);
	cfg = NULL;
	out = cJSON_PrintUnformatted(doc);
out:
	cJSON_Delete(cfg);
	cJSON_Delete(doc);
	return out;
}

int cli_topic(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "replication-factor", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	client_opts_t o = { 0 };
	long partitions = 1, rf = 1;
	char *configs[64], *end, path[300], err[512];
	int nconfigs = 0, c, rc = 1;
	const char *verb;
	strand_conf *conf = NULL;
	transport_t *t = NULL;
	cJSON *doc = NULL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
		if (client_parse_common(c, optarg, &o) == 1)
			continue;
		switch (c) {
		case 'p':
		case 'r': {
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > INT32_MAX) {
				fprintf(stderr, "strand topic: '%s' is not a positive count\n", optarg);
				return 2;
			}
			*(c == 'p' ? &partitions : &rf) = v;
			break;
		}
		case 'c':
			if (nconfigs == 64)
				return 2;
			configs[nconfigs++] = optarg;
			break;
		case 'h':
			topic_usage(stdout);
			return 0;
		default:
			topic_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		topic_usage(stderr);
		return 2;
	}
	verb = argv[optind];
	int needs_name = strcmp(verb, "list") != 0;
	if (argc - optind != (needs_name ? 2 : 1) ||
	    (strcmp(verb, "create") && strcmp(verb, "list") && strcmp(verb, "describe") &&
	     strcmp(verb, "delete"))) {
		topic_usage(stderr);
		return 2;
	}
	if (needs_name && !transport_name_ok(argv[optind + 1])) {
		fprintf(stderr, "strand topic: '%s' is not a topic name ([A-Za-z0-9._-]{1,249})\n",
		        argv[optind + 1]);
		return 2;
	}
	if (!(conf = strand_conf_new()))
		return 1;
	if ((rc = client_conf(conf, &o, "topic")))
		goto out;
	rc = 1;
	if (transport_new(conf, &t, err, sizeof err)) {
		fprintf(stderr, "strand topic: %s\n", err);
		goto out;
	}
	if (strcmp(verb, "list") == 0) {
		cJSON *it;
		if (client_call(t, "topic", "GET", "/v1/topics", NULL, &doc))
			goto out;
		cJSON_ArrayForEach(it, doc) {
			cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
			cJSON *np = cJSON_GetObjectItemCaseSensitive(it, "partitions");
			cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "replication_factor");
			printf("%s\tpartitions=%d\treplication_factor=%d\n",
			       cJSON_IsString(name) ? name->valuestring : "?",
			       cJSON_IsNumber(np) ? np->valueint : 0, cJSON_IsNumber(r) ? r->valueint : 0);
		}
		rc = 0;
		goto out;
	}
	snprintf(path, sizeof path, "/v1/topics/%s", argv[optind + 1]);
	if (strcmp(verb, "describe") == 0) {
		if (client_call(t, "topic", "GET", path, NULL, &doc))
			goto out;
		char *text = cJSON_Print(doc);
		printf("%s\n", text ? text : "");
		free(text);
		rc = 0;
	} else if (strcmp(verb, "delete") == 0) {
		rc = client_call(t, "topic", "DELETE", path, NULL, NULL);
		if (rc == 0)
			fprintf(stderr, "strand topic: deleted %s\n", argv[optind + 1]);
	} else {
		char *body = topic_create_body(argv[optind + 1], partitions, rf, configs, nconfigs);
		if (!body) {
			rc = 2;
			goto out;
		}
		rc = client_call(t, "topic", "POST", "/v1/topics", body, NULL);
		free(body);
		if (rc == 0)
			fprintf(stderr, "strand topic: created %s (%ld partitions)\n", argv[optind + 1],
			        partitions);
	}
out:
	cJSON_Delete(doc);
	transport_destroy(t);
	strand_conf_destroy(conf);
	return rc;
}
