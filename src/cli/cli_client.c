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
	        "       strand topic describe NAME --broker URL [--json]\n"
	        "       strand topic delete NAME --broker URL\n"
	        "All take -X name=value for libstrand settings (ssl.ca.location, sasl.oauthbearer.token).\n"
	        "describe prints each partition's leader, leader epoch, replicas and ISR, then each\n"
	        "replica's log end offset against the high watermark; --json the broker's answer.\n");
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

/* ---- strand topic describe: two tables ------------------------------------------ */

/*
 * The partitions table (leader, leader epoch, replicas, ISR, the replicas
 * out of sync, the partition's log start / high watermark / log end as the
 * broker asked knows them) and the replicas table (each replica's role,
 * whether it is in the ISR, its log end offset and how far that is from the
 * high watermark). A replica's log end offset is known only from the
 * partition's replica_states (the leader's view in cluster mode; another
 * broker knows only its own and says -1 for the rest, shown "-"). Without
 * it, a broker alone in its cluster (single node) is the leader of every
 * partition and the answer's own log end offset is its own; otherwise the
 * replica rows say "-" and the partition row's offsets stand.
 * Each table is laid out in two passes over the answer: widths, then rows.
 */
#define DESCRIBE_CELL 64   /* longer cells (a replica list of many brokers) are cut */
#define DESCRIBE_COLS 9

typedef struct describe_table {
	int  ncols;
	int  width[DESCRIBE_COLS];
	char cell[DESCRIBE_COLS][DESCRIBE_CELL];
} describe_table_t;

static const char *const partition_heads[] = {
	"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OUT OF SYNC",
	"LOG START", "HIGH WATERMARK", "LOG END",
};
static const char *const replica_heads[] = {
	"PARTITION", "REPLICA", "ROLE", "ISR", "LOG END", "VS HIGH WATERMARK",
};

/* pass 0 widens the columns to the current cells, pass 1 prints them */
static void describe_row(describe_table_t *tb, int pass)
{
	for (int i = 0; i < tb->ncols; i++) {
		int n = (int)strlen(tb->cell[i]);
		if (pass == 0 && n > tb->width[i])
			tb->width[i] = n;
		if (pass == 1 && i + 1 < tb->ncols)
			printf("%-*s  ", tb->width[i], tb->cell[i]);
		else if (pass == 1)
			printf("%s\n", tb->cell[i]);
	}
}

static long long json_ll(const cJSON *o, const char *name, long long dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : dflt;
}

static int ids_contain(const cJSON *ids, long long id)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, ids)
		if (cJSON_IsNumber(it) && (long long)it->valuedouble == id)
			return 1;
	return 0;
}

/* "1,2,3" of the ids in `ids` (all, or only those not in `except`); "-" if none */
static void ids_text(const cJSON *ids, const cJSON *except, char *out, size_t len)
{
	const cJSON *it;
	size_t used = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(it, ids) {
		if (!cJSON_IsNumber(it) || (except && ids_contain(except, (long long)it->valuedouble)))
			continue;
		int n = snprintf(out + used, len - used, "%s%lld", used ? "," : "",
		                 (long long)it->valuedouble);
		if (n < 0 || (size_t)n >= len - used)
			break;   /* cut: the cell is full */
		used += (size_t)n;
	}
	if (!out[0])
		snprintf(out, len, "-");
}

/* replica_states[] entry of broker `id`, or NULL */
static const cJSON *replica_state(const cJSON *part, long long id)
{
	const cJSON *it, *states = cJSON_GetObjectItemCaseSensitive(part, "replica_states");

	cJSON_ArrayForEach(it, states)
		if (json_ll(it, "broker", -2) == id)
			return it;
	return NULL;
}

static void describe_partitions(const cJSON *parts, long long sole, describe_table_t *tb, int pass)
{
	const cJSON *pt;

	cJSON_ArrayForEach(pt, parts) {
		const cJSON *replicas = cJSON_GetObjectItemCaseSensitive(pt, "replicas");
		const cJSON *isr = cJSON_GetObjectItemCaseSensitive(pt, "isr");
		long long leader = json_ll(pt, "leader", -1);

		snprintf(tb->cell[0], DESCRIBE_CELL, "%lld", json_ll(pt, "partition", -1));
		if (leader < 0)
			snprintf(tb->cell[1], DESCRIBE_CELL, "none");
		else
			snprintf(tb->cell[1], DESCRIBE_CELL, "%lld", leader);
		snprintf(tb->cell[2], DESCRIBE_CELL, "%lld", json_ll(pt, "leader_epoch", 0));
		ids_text(replicas, NULL, tb->cell[3], DESCRIBE_CELL);
		ids_text(isr, NULL, tb->cell[4], DESCRIBE_CELL);
		ids_text(replicas, isr, tb->cell[5], DESCRIBE_CELL);
		snprintf(tb->cell[6], DESCRIBE_CELL, "%lld", json_ll(pt, "log_start_offset", 0));
		snprintf(tb->cell[7], DESCRIBE_CELL, "%lld", json_ll(pt, "high_watermark", 0));
		snprintf(tb->cell[8], DESCRIBE_CELL, "%lld", json_ll(pt, "log_end_offset", 0));
		describe_row(tb, pass);
	}
}

/* rows of the replicas table; `sole` is the id of the broker alone in its cluster, else -2 */
static void describe_replicas(const cJSON *parts, long long sole, describe_table_t *tb, int pass)
{
	const cJSON *pt, *id;

	cJSON_ArrayForEach(pt, parts) {
		const cJSON *isr = cJSON_GetObjectItemCaseSensitive(pt, "isr");
		long long leader = json_ll(pt, "leader", -1), hw = json_ll(pt, "high_watermark", 0);

		cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(pt, "replicas")) {
			long long rid = (long long)id->valuedouble;
			const cJSON *st = replica_state(pt, rid);
			const cJSON *in = st ? cJSON_GetObjectItemCaseSensitive(st, "in_isr") : NULL;
			int in_isr = cJSON_IsBool(in) ? cJSON_IsTrue(in) : ids_contain(isr, rid);
			long long leo = st ? json_ll(st, "log_end_offset", -1) : -1;

			if (!st && rid == sole)
				leo = json_ll(pt, "log_end_offset", -1);

			snprintf(tb->cell[0], DESCRIBE_CELL, "%lld", json_ll(pt, "partition", -1));
			snprintf(tb->cell[1], DESCRIBE_CELL, "%lld", rid);
			snprintf(tb->cell[2], DESCRIBE_CELL, "%s", rid == leader ? "leader" : "follower");
			snprintf(tb->cell[3], DESCRIBE_CELL, "%s", in_isr ? "in sync" : "OUT OF SYNC");
			if (leo < 0) {
				snprintf(tb->cell[4], DESCRIBE_CELL, "-");
				snprintf(tb->cell[5], DESCRIBE_CELL, "-");
			} else {
				snprintf(tb->cell[4], DESCRIBE_CELL, "%lld", leo);
				/* above: not yet committed (the leader's tail); below: behind */
				if (leo > hw)
					snprintf(tb->cell[5], DESCRIBE_CELL, "%lld above", leo - hw);
				else if (leo < hw)
					snprintf(tb->cell[5], DESCRIBE_CELL, "%lld below", hw - leo);
				else
					snprintf(tb->cell[5], DESCRIBE_CELL, "at");
			}
			describe_row(tb, pass);
		}
	}
}

static void describe_table(const cJSON *parts, long long sole, const char *const *heads, int ncols,
                           void (*rows)(const cJSON *, long long, describe_table_t *, int))
{
	describe_table_t tb = { .ncols = ncols };

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < ncols; i++)
			snprintf(tb.cell[i], DESCRIBE_CELL, "%s", heads[i]);
		describe_row(&tb, pass);
		rows(parts, sole, &tb, pass);
	}
}

/* The readable form of GET /v1/topics/{topic}; `cluster` is GET /v1/cluster's
 * answer or NULL. */
static void describe_print(const cJSON *doc, const cJSON *cluster)
{
	const cJSON *brokers = cJSON_GetObjectItemCaseSensitive(cluster, "brokers");
	long long sole = cJSON_GetArraySize(brokers) == 1 ?
	                 json_ll(cJSON_GetArrayItem(brokers, 0), "id", -2) : -2;
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(doc, "partitions");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");

	printf("topic %s: %d partitions, replication factor %lld\n\n",
	       cJSON_IsString(name) ? name->valuestring : "?", cJSON_GetArraySize(parts),
	       json_ll(doc, "replication_factor", 0));
	describe_table(parts, sole, partition_heads, 9, describe_partitions);
	printf("\n");
	describe_table(parts, sole, replica_heads, 6, describe_replicas);
}

int cli_topic(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "replication-factor", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	client_opts_t o = { 0 };
	long partitions = 1, rf = 1;
	char *configs[64], *end, path[300], err[512];
	int nconfigs = 0, json = 0, c, rc = 1;
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
		case 'j':
			json = 1;
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
		if (json) {
			char *text = cJSON_Print(doc);
			printf("%s\n", text ? text : "");
			free(text);
		} else {
			/* only to know whether the broker is alone: quiet if it fails */
			cJSON *cluster = NULL;
			transport_req_t r;
			if (transport_req_init(t, &r) == 0) {
				transport_call(t, &r, "GET", "/v1/cluster", NULL, 30000, &cluster, err,
				               sizeof err);
				transport_req_free(&r);
			}
			describe_print(doc, cluster);
			cJSON_Delete(cluster);
		}
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
