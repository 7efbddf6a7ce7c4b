/*
 * ops.c — operations endpoints: /healthz (the process answers), /readyz
 * (able to serve: not stopping), /metrics (Prometheus text), /openapi.yaml
 * (the contract, served from the installed file with sendfile), /v1/cluster
 * (one broker, id 0, its own controller). The dashboard and other files
 * are api/static.c's.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/handlers.h"
#include "api/metrics.h"
#include "common/err.h"

#ifndef STRAND_DATADIR
#define STRAND_DATADIR "/usr/local/share/strand"
#endif

int api_ops_healthz(api_request_t *req)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc == NULL || !cJSON_AddStringToObject(doc, "status", "ok")) {
		cJSON_Delete(doc);
		return STRAND_ENOMEM;
	}
	return api_respond_json(req, 200, doc);
}

/*
 * Partitions fenced by a failed fsync (log.h, log_flush) as
 * [{"topic","partition"}], or NULL when there are none (or on ENOMEM).
 */
static cJSON *ops_failed_partitions(broker_t *b)
{
	cJSON *list = NULL;
	char **names = NULL;
	size_t n = 0, i;

	if (broker_topic_names(b, &names, &n) != 0)
		return NULL;
	for (i = 0; i < n; i++) {
		topic_t *t = broker_topic_get(b, names[i]);

		if (t == NULL)
			continue;   /* deleted meanwhile */
		for (int32_t p = 0; p < topic_partition_count(t); p++) {
			log_t *log = topic_partition_log(t, p);
			cJSON *item;

			if (log == NULL || !log_write_failed(log))
				continue;
			if (list == NULL)
				list = cJSON_CreateArray();
			item = cJSON_CreateObject();
			cJSON_AddStringToObject(item, "topic", names[i]);
			cJSON_AddNumberToObject(item, "partition", p);
			cJSON_AddItemToArray(list, item);
		}
		topic_release(t);
	}
	free(names);
	return list;
}

int api_ops_readyz(api_request_t *req)
{
	cJSON *doc, *failed;

	if (api_is_stopping(req->api))
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, "shutting down", NULL);
	if (api_options(req->api)->cluster_mode && api_meta(req->api) == NULL)
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, "joining the cluster: "
		                           "topics not yet read from etcd", NULL);
	failed = ops_failed_partitions(req->broker);
	if (failed != NULL) {
		doc = cJSON_CreateObject();
		cJSON_AddItemToObject(doc, "failed_partitions", failed);
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE,
		                           "an fsync failed: these partitions take no writes until "
		                           "the broker restarts and recovers them", doc);
	}
	doc = cJSON_CreateObject();
	if (doc == NULL || !cJSON_AddStringToObject(doc, "status", "ready")) {
		cJSON_Delete(doc);
		return STRAND_ENOMEM;
	}
	return api_respond_json(req, 200, doc);
}

int api_ops_metrics(api_request_t *req)
{
	buf_t out = BUF_INIT;
	int rc = api_metrics_render(req->api, &out);

	if (rc) {
		buf_free(&out);
		return rc;
	}
	return api_respond_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &out);
}

/* Open the contract: the configured path, else the installed one, else the
 * source tree's (running from a build directory). -1 when none opens. */
static int openapi_open(const api_options_t *opts)
{
	const char *candidates[3];
	size_t i, n = 0;
	int fd;

	if (opts->openapi_path != NULL)
		candidates[n++] = opts->openapi_path;
	else {
		candidates[n++] = STRAND_DATADIR "/openapi.yaml";
#ifdef STRAND_SRCDIR
		candidates[n++] = STRAND_SRCDIR "/openapi.yaml";
#endif
	}
	for (i = 0; i < n; i++) {
		fd = open(candidates[i], O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

int api_ops_openapi(api_request_t *req)
{
	struct stat st;
	int fd = openapi_open(api_options(req->api));

	if (fd < 0)
		return api_respond_problem(req, 404, API_PROBLEM_NOT_FOUND,
		                           "openapi.yaml is not installed (see the openapi_path option)",
		                           NULL);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return api_respond_problem(req, 404, API_PROBLEM_NOT_FOUND,
		                           "openapi.yaml is not a regular file", NULL);
	}
	return api_respond_fd(req, 200, "application/yaml", fd, 0, (size_t)st.st_size);
}

/* GET /v1/cluster in cluster mode: the live registrations in etcd (every
 * one alive: a broker's key goes with its lease) and the controller's id,
 * -1 while none is elected. 503 while etcd cannot be read. */
static int ops_cluster_from_etcd(api_request_t *req, cluster_t *c)
{
	cJSON *doc, *brokers, *b;
	cluster_view_t v;
	char err[256];
	size_t i;
	int ok;

	if (cluster_describe(c, &v, err, sizeof err) != 0)
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, err, NULL);
	doc = cJSON_CreateObject();
	ok = doc && cJSON_AddStringToObject(doc, "cluster_id", cluster_id(c)) &&
	     cJSON_AddNumberToObject(doc, "controller", v.controller);
	brokers = ok ? cJSON_AddArrayToObject(doc, "brokers") : NULL;
	ok = brokers != NULL;
	for (i = 0; ok && i < v.n; i++) {
		b = cJSON_CreateObject();
		ok = b && cJSON_AddItemToArray(brokers, b) &&
		     cJSON_AddNumberToObject(b, "id", v.brokers[i].id) &&
		     cJSON_AddStringToObject(b, "url", v.brokers[i].url) &&
		     cJSON_AddBoolToObject(b, "alive", 1);
	}
	cluster_view_free(&v);
	if (!ok) {
		cJSON_Delete(doc);
		return STRAND_ENOMEM;
	}
	return api_respond_json(req, 200, doc);
}

/* GET /v1/cluster: single node, this broker alone, controller of itself. */
int api_ops_cluster(api_request_t *req)
{
	const api_options_t *opts = api_options(req->api);
	cluster_t *cluster = api_cluster(req->api);
	cJSON *doc, *brokers, *b;
	int ok;

	if (cluster != NULL)
		return ops_cluster_from_etcd(req, cluster);
	doc = cJSON_CreateObject();

	ok = doc && cJSON_AddStringToObject(doc, "cluster_id", broker_cluster_id(req->broker)) &&
	     cJSON_AddNumberToObject(doc, "controller", 0);
	brokers = ok ? cJSON_AddArrayToObject(doc, "brokers") : NULL;
	b = brokers ? cJSON_CreateObject() : NULL;
	ok = b && cJSON_AddItemToArray(brokers, b) &&
	     cJSON_AddNumberToObject(b, "id", 0) &&
	     cJSON_AddStringToObject(b, "url", opts->advertised_url ? opts->advertised_url : "") &&
	     cJSON_AddBoolToObject(b, "alive", 1);
	if (!ok) {
		cJSON_Delete(doc);
		return STRAND_ENOMEM;
	}
	return api_respond_json(req, 200, doc);
}
