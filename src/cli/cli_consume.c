/*
 * cli_consume.c — the reading subcommands, built on libstrand (src/client/):
 *   strand consume TOPIC --broker URL [--group G] [--from-beginning] [--count N]
 *                  [--format value|json] [-X name=value]
 *   strand group list|describe [GROUP] --broker URL
 * With --group, consume is a member of the group through libstrand's
 * consumer (partitions shared with the other members, positions committed
 * at exit). Without it, it reads every partition of the topic directly
 * (partition fetch) from the start or the end, and commits nothing.
 * Both print the stored bytes: records come base64 (encoding=base64) and
 * are decoded by the library's own decoder into strand_message handles.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "client/conf.h"
#include "client/message.h"
#include "client/strand.h"
#include "client/transport.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/utf8.h"

#define CONSUME_DIRECT_MAX_RECORDS 1000   /* per partition fetch without a group */
#define CONSUME_DIRECT_WAIT_MS     200    /* per partition long poll when idle */
#define CONSUME_POLL_MS            500

static volatile sig_atomic_t consume_stop;

static void consume_on_signal(int sig)
{
	(void)sig;
	consume_stop = 1;
}

/* ---- printing ------------------------------------------------------------------ */

/* bytes as a JSON string when UTF-8, else base64 (and *b64 set) */
static int print_bytes_json(buf_t *out, const void *p, size_t len, int *b64)
{
	*b64 = 0;
	if (!p)
		return buf_append_str(out, "null");
	if (utf8_is_valid(p, len))
		return buf_append_json_string(out, p, len);
	*b64 = 1;
	return buf_append(out, "\"", 1) || base64_encode_append(out, p, len) ||
	       buf_append(out, "\"", 1);
}

/* One record on one line: the value's bytes, or a JSON object. */
static int print_message(const strand_message *m, int json, buf_t *line)
{
	size_t klen, vlen;
	const void *k = strand_message_key(m, &klen), *v = strand_message_value(m, &vlen);
	int kb, vb, hb = 0, rc = 0;

	buf_reset(line);
	if (!json) {
		rc = v ? buf_append(line, v, vlen) : 0;
	} else {
		rc = buf_append_str(line, "{\"topic\":") ||
		     buf_append_json_string(line, strand_message_topic(m), strlen(strand_message_topic(m))) ||
		     buf_appendf(line, ",\"partition\":%d,\"offset\":%" PRId64 ",\"timestamp\":%" PRId64
		                 ",\"key\":", (int)strand_message_partition(m), strand_message_offset(m),
		                 strand_message_timestamp(m)) ||
		     print_bytes_json(line, k, klen, &kb) || buf_append_str(line, ",\"value\":") ||
		     print_bytes_json(line, v, vlen, &vb) || buf_append_str(line, ",\"headers\":{");
		for (size_t i = 0; rc == 0 && i < strand_message_header_count(m); i++) {
			const char *name;
			const void *hv;
			size_t hl;
			int b;
			strand_message_headers(m, i, &name, &hv, &hl);
			rc = (i && buf_append(line, ",", 1)) ||
			     buf_append_json_string(line, name, strlen(name)) || buf_append(line, ":", 1) ||
			     print_bytes_json(line, hv, hl, &b);
			hb |= b;
		}
		rc = rc || buf_append(line, "}", 1) ||
		     (kb && buf_append_str(line, ",\"key_encoding\":\"base64\"")) ||
		     (vb && buf_append_str(line, ",\"value_encoding\":\"base64\"")) ||
		     (hb && buf_append_str(line, ",\"header_values_encoding\":\"base64\"")) ||
		     buf_append(line, "}", 1);
	}
	if (rc || buf_append(line, "\n", 1))
		return -1;
	return fwrite(line->data, 1, line->len, stdout) == line->len ? 0 : -1;
}

/* ---- strand consume ----------------------------------------------------------- */

static void consume_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand consume TOPIC --broker URL [--group G] [--from-beginning]\n"
	        "                      [--count N] [--format value|json] [-X name=value ...]\n\n"
	        "Prints one record per line until --count records (or Ctrl-C).\n"
	        "--group G: a member of consumer group G (partitions shared with its other\n"
	        "  members; what was printed is committed at exit; a group without committed\n"
	        "  offsets starts at the end, or the start with --from-beginning).\n"
	        "Without --group: every partition, from its end (or start), nothing committed.\n"
	        "--format value: the value's bytes (default); json: one object per line with\n"
	        "  topic, partition, offset, timestamp, key, value, headers (bytes that are not\n"
	        "  UTF-8 are base64, flagged by key_encoding / value_encoding).\n"
	        "-X sets any libstrand setting (docs/CLIENT.md).\n");
}

typedef struct consume_opts {
	client_opts_t common;
	const char   *topic, *group;
	int           from_beginning, json;
	long long     count;             /* -1: no limit */
} consume_opts_t;

/* As a member of the group, through libstrand's consumer. */
static int consume_group(const consume_opts_t *o)
{
	char err[512];
	long long printed = 0;
	buf_t line = BUF_INIT;
	strand_conf *conf = strand_conf_new();
	strand_consumer *c;
	int rc;

	if (!conf)
		return 1;
	strand_conf_set(conf, "auto.offset.reset", o->from_beginning ? "earliest" : "latest", NULL, 0);
	if ((rc = client_conf(conf, &o->common, "consume")))
		goto out_conf;
	if (strand_conf_set(conf, "group.id", o->group, err, sizeof err)) {
		fprintf(stderr, "strand consume: --group: %s\n", err);
		rc = 2;
		goto out_conf;
	}
	rc = 1;
	if (!(c = strand_consumer_new(conf, err, sizeof err))) {
		fprintf(stderr, "strand consume: %s\n", err);
		goto out_conf;
	}
	if (strand_subscribe(c, &o->topic, 1)) {
		fprintf(stderr, "strand consume: cannot subscribe to %s\n", o->topic);
		goto out;
	}
	rc = 0;
	while (!consume_stop && (o->count < 0 || printed < o->count)) {
		strand_message *m = strand_consumer_poll(c, CONSUME_POLL_MS);
		if (!m) {
			fflush(stdout);
			continue;
		}
		int e = strand_message_err(m);
		if (e) {
			fprintf(stderr, "strand consume: %s: %s\n", strand_err_name(e),
			        strand_message_errstr(m));
			if (!strand_err_is_retriable(e) && e != STRAND_ERR_TRANSPORT)
				rc = 1;
		} else if (print_message(m, o->json, &line)) {
			rc = 1;                            /* stdout closed (| head): stop */
		} else {
			printed++;
		}
		strand_message_destroy(m);
		if (rc)
			break;
	}
	fflush(stdout);
out:
	if (strand_consumer_close(c) && rc == 0)   /* commits what was printed */
		rc = 1;
out_conf:
	strand_conf_destroy(conf);
	buf_free(&line);
	return rc;
}

/* The offset of partition p at "earliest" or "latest". */
static int direct_start(transport_t *t, transport_req_t *r, const char *topic, int p,
                        int earliest, int64_t *out)
{
	char path[400], err[512];
	cJSON *doc = NULL, *off;
	int rc;

	snprintf(path, sizeof path, "/v1/topics/%s/partitions/%d/offsets?timestamp=%s", topic, p,
	         earliest ? "earliest" : "latest");
	rc = transport_call(t, r, "GET", path, NULL, 30000, &doc, err, sizeof err);
	off = cJSON_GetObjectItemCaseSensitive(doc, "offset");
	if (rc == 0 && cJSON_IsNumber(off))
		*out = (int64_t)off->valuedouble;
	else
		fprintf(stderr, "strand consume: %s: %s\n", path, rc ? err : "no offset in the answer");
	cJSON_Delete(doc);
	return rc == 0 && cJSON_IsNumber(off) ? 0 : 1;
}

/* Every partition directly (no group), round-robin, long-polling when idle. */
static int consume_direct(const consume_opts_t *o)
{
	char path[400], err[512];
	strand_conf *conf = strand_conf_new();
	transport_t *t = NULL;
	transport_req_t r = { 0 };
	cJSON *doc = NULL;
	int64_t *pos = NULL;
	long long printed = 0;
	int nparts, idle = 0, rc;
	buf_t line = BUF_INIT;

	if (!conf)
		return 1;
	if ((rc = client_conf(conf, &o->common, "consume")))
		goto out;
	rc = 1;
	if (transport_new(conf, &t, err, sizeof err) || transport_req_init(t, &r)) {
		fprintf(stderr, "strand consume: %s\n", err);
		goto out;
	}
	snprintf(path, sizeof path, "/v1/topics/%s", o->topic);
	if (transport_call(t, &r, "GET", path, NULL, 30000, &doc, err, sizeof err)) {
		fprintf(stderr, "strand consume: %s\n", err);
		goto out;
	}
	nparts = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "partitions"));
	cJSON_Delete(doc);
	doc = NULL;
	if (nparts < 1 || !(pos = calloc((size_t)nparts, sizeof *pos)))
		goto out;
	for (int p = 0; p < nparts; p++)
		if (direct_start(t, &r, o->topic, p, o->from_beginning, &pos[p]))
			goto out;
	rc = 0;
	while (rc == 0 && !consume_stop && (o->count < 0 || printed < o->count)) {
		int got = 0;
		for (int p = 0; rc == 0 && p < nparts && (o->count < 0 || printed < o->count); p++) {
			long long want = o->count < 0 ? CONSUME_DIRECT_MAX_RECORDS : o->count - printed;
			message_block_t *b = NULL;
			cJSON *next;

			if (want > CONSUME_DIRECT_MAX_RECORDS)
				want = CONSUME_DIRECT_MAX_RECORDS;
			snprintf(path, sizeof path, "/v1/topics/%s/partitions/%d/records?offset=%" PRId64
			         "&max_records=%lld&encoding=base64&max_wait_ms=%d", o->topic, p, pos[p],
			         want, idle ? CONSUME_DIRECT_WAIT_MS : 0);
			if (transport_call(t, &r, "GET", path, NULL, 30000 + CONSUME_DIRECT_WAIT_MS, &doc,
			                   err, sizeof err) ||
			    message_block_from_records(cJSON_GetObjectItemCaseSensitive(doc, "records"),
			                               o->topic, p, &b, err, sizeof err)) {
				fprintf(stderr, "strand consume: %s\n", err);
				rc = 1;
			}
			for (size_t i = 0; b && i < b->nmsgs; i++) {
				if (rc == 0 && print_message(&b->msgs[i], o->json, &line) == 0) {
					printed++;
					got++;
				} else {
					rc = 1;
				}
				message_block_release(b);        /* the message's reference */
			}
			message_block_release(b);            /* ours */
			next = cJSON_GetObjectItemCaseSensitive(doc, "next_offset");
			if (cJSON_IsNumber(next))
				pos[p] = (int64_t)next->valuedouble;
			cJSON_Delete(doc);
			doc = NULL;
		}
		idle = got == 0;
		if (idle)
			fflush(stdout);
	}
	fflush(stdout);
out:
	cJSON_Delete(doc);
	free(pos);
	transport_req_free(&r);
	transport_destroy(t);
	strand_conf_destroy(conf);
	buf_free(&line);
	return rc;
}

int cli_consume(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "group", required_argument, NULL, 'g' },
		{ "from-beginning", no_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	consume_opts_t o = { .count = -1 };
	struct sigaction sa = { .sa_handler = consume_on_signal };
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
		if (client_parse_common(c, optarg, &o.common) == 1)
			continue;
		switch (c) {
		case 'g':
			o.group = optarg;
			break;
		case 'f':
			o.from_beginning = 1;
			break;
		case 'n':
			errno = 0;
			o.count = strtoll(optarg, &end, 10);
			if (errno || *end || o.count < 1) {
				fprintf(stderr, "strand consume: --count: '%s' is not a positive number\n",
				        optarg);
				return 2;
			}
			break;
		case 'F':
			if (strcmp(optarg, "value") && strcmp(optarg, "json")) {
				fprintf(stderr, "strand consume: --format is value or json\n");
				return 2;
			}
			o.json = strcmp(optarg, "json") == 0;
			break;
		case 'h':
			consume_usage(stdout);
			return 0;
		default:
			consume_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		consume_usage(stderr);
		return 2;
	}
	o.topic = argv[optind];
	if (!transport_name_ok(o.topic)) {
		fprintf(stderr, "strand consume: '%s' is not a topic name ([A-Za-z0-9._-]{1,249})\n",
		        o.topic);
		return 2;
	}
	consume_stop = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);                  /* | head: a write error ends the loop */
	return o.group ? consume_group(&o) : consume_direct(&o);
}

/* ---- strand group ------------------------------------------------------------------ */

static void group_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand group list --broker URL\n"
	        "       strand group describe GROUP --broker URL\n"
	        "list: one line per group (state, generation, members); describe: the group's\n"
	        "state, members with their assignments, committed offsets and lag (JSON).\n"
	        "Both take -X name=value for libstrand settings (ssl.ca.location, sasl.oauthbearer.token).\n");
}

int cli_group(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	client_opts_t o = { 0 };
	char path[300], err[512];
	strand_conf *conf = NULL;
	transport_t *t = NULL;
	cJSON *doc = NULL, *it;
	const char *verb;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:X:h", longopts, NULL)) != -1) {
		if (client_parse_common(c, optarg, &o) == 1)
			continue;
		if (c == 'h') {
			group_usage(stdout);
			return 0;
		}
		group_usage(stderr);
		return 2;
	}
	verb = optind < argc ? argv[optind] : "";
	if (!((strcmp(verb, "list") == 0 && argc - optind == 1) ||
	      (strcmp(verb, "describe") == 0 && argc - optind == 2))) {
		group_usage(stderr);
		return 2;
	}
	if (argc - optind == 2 && !transport_name_ok(argv[optind + 1])) {
		fprintf(stderr, "strand group: '%s' is not a group name ([A-Za-z0-9._-]{1,249})\n",
		        argv[optind + 1]);
		return 2;
	}
	if (!(conf = strand_conf_new()))
		return 1;
	if ((rc = client_conf(conf, &o, "group")))
		goto out;
	rc = 1;
	if (transport_new(conf, &t, err, sizeof err)) {
		fprintf(stderr, "strand group: %s\n", err);
		goto out;
	}
	if (strcmp(verb, "list") == 0) {
		if (client_call(t, "group", "GET", "/v1/groups", NULL, &doc))
			goto out;
		cJSON_ArrayForEach(it, doc) {
			cJSON *g = cJSON_GetObjectItemCaseSensitive(it, "group");
			cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "state");
			cJSON *gen = cJSON_GetObjectItemCaseSensitive(it, "generation");
			cJSON *m = cJSON_GetObjectItemCaseSensitive(it, "members");
			printf("%s\tstate=%s\tgeneration=%d\tmembers=%d\n",
			       cJSON_IsString(g) ? g->valuestring : "?",
			       cJSON_IsString(s) ? s->valuestring : "?",
			       cJSON_IsNumber(gen) ? gen->valueint : 0, cJSON_IsNumber(m) ? m->valueint : 0);
		}
	} else {
		snprintf(path, sizeof path, "/v1/groups/%s", argv[optind + 1]);
		if (client_call(t, "group", "GET", path, NULL, &doc))
			goto out;
		char *text = cJSON_Print(doc);
		printf("%s\n", text ? text : "");
		free(text);
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	transport_destroy(t);
	strand_conf_destroy(conf);
	return rc;
}
