/*
 * transport.c — libcurl set-up, broker rotation and problem+json answers
 * for libstrand (see transport.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/error.h"
#include "client/transport.h"

#define TRANSPORT_MAX_BROKERS 64

struct transport {
	char   *servers;                   /* owned copy of bootstrap.servers, split in place */
	char   *urls[TRANSPORT_MAX_BROKERS];
	int     nurls;
	atomic_int current;
	char   *ca_file;                   /* ssl.ca.location, NULL: system CAs */
	/* header lists built once and shared by every request (curl only reads them) */
	struct curl_slist *hdr_none, *hdr_json, *hdr_batch;
};

static struct curl_slist *transport_headers(const char *content_type, const char *token)
{
	struct curl_slist *l = NULL, *n;
	char line[600];

	/* no "Expect: 100-continue" round trip before a body */
	if (!(l = curl_slist_append(l, "Expect:")))
		return NULL;
	if (!(n = curl_slist_append(l, "Accept: application/json, application/problem+json")))
		goto fail;
	l = n;
	if (content_type) {
		snprintf(line, sizeof line, "Content-Type: %s", content_type);
		if (!(n = curl_slist_append(l, line)))
			goto fail;
		l = n;
	}
	if (token) {
		snprintf(line, sizeof line, "Authorization: Bearer %s", token);
		n = curl_slist_append(l, line);
		explicit_bzero(line, sizeof line);
		if (!n)
			goto fail;
		l = n;
	}
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

int transport_new(const struct strand_conf *conf, transport_t **out, char *errbuf, size_t errlen)
{
	transport_t *t;
	char *save = NULL, *tok;

	*out = NULL;
	if (!conf->bootstrap_servers) {
		snprintf(errbuf ? errbuf : (char[1]){0}, errbuf ? errlen : 1,
		         "bootstrap.servers is required");
		return STRAND_ERR_INVALID_CONFIG;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);   /* idempotent; thread-safe since 7.84 */
	if (!(t = calloc(1, sizeof *t)) || !(t->servers = strdup(conf->bootstrap_servers)))
		goto nomem;
	for (tok = strtok_r(t->servers, ",", &save); tok && t->nurls < TRANSPORT_MAX_BROKERS;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(tok);
		while (n > 0 && tok[n - 1] == '/')
			tok[--n] = '\0';            /* "http://h:1/" and "http://h:1" alike */
		t->urls[t->nurls++] = tok;
	}
	if (conf->ssl_ca_location && !(t->ca_file = strdup(conf->ssl_ca_location)))
		goto nomem;
	t->hdr_none  = transport_headers(NULL, conf->bearer_token);
	t->hdr_json  = transport_headers("application/json", conf->bearer_token);
	t->hdr_batch = transport_headers("application/vnd.strand.batch", conf->bearer_token);
	if (!t->hdr_none || !t->hdr_json || !t->hdr_batch)
		goto nomem;
	*out = t;
	return 0;
nomem:
	transport_destroy(t);
	snprintf(errbuf ? errbuf : (char[1]){0}, errbuf ? errlen : 1, "out of memory");
	return STRAND_ERR_NO_MEMORY;
}

void transport_destroy(transport_t *t)
{
	if (!t)
		return;
	curl_slist_free_all(t->hdr_none);
	curl_slist_free_all(t->hdr_json);
	curl_slist_free_all(t->hdr_batch);
	free(t->ca_file);
	free(t->servers);
	free(t);
}

const char *transport_broker(transport_t *t)
{
	return t->urls[atomic_load(&t->current) % t->nurls];
}

void transport_next_broker(transport_t *t)
{
	if (t->nurls > 1)
		atomic_fetch_add(&t->current, 1);
}

static size_t transport_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	transport_req_t *r = arg;
	return buf_append(&r->resp, data, size * nmemb) == 0 ? size * nmemb : 0;
}

int transport_req_init(transport_t *t, transport_req_t *r)
{
	memset(r, 0, sizeof *r);
	if (!(r->easy = curl_easy_init()))
		return STRAND_ERR_NO_MEMORY;
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, transport_on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	if (t->ca_file)
		curl_easy_setopt(r->easy, CURLOPT_CAINFO, t->ca_file);
	return 0;
}

void transport_req_free(transport_req_t *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	r->easy = NULL;
	buf_free(&r->url);
	buf_free(&r->resp);
}

int transport_req_prepare(transport_t *t, transport_req_t *r, const char *method,
                          const char *path, enum transport_body kind,
                          const void *body, size_t len, long timeout_ms)
{
	return transport_req_prepare_at(t, r, transport_broker(t), method, path, kind, body, len,
	                                timeout_ms);
}

int transport_req_prepare_at(transport_t *t, transport_req_t *r, const char *base,
                             const char *method, const char *path, enum transport_body kind,
                             const void *body, size_t len, long timeout_ms)
{
	CURL *e = r->easy;
	int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;

	buf_reset(&r->url);
	buf_reset(&r->resp);
	r->status = 0;
	r->curl_err[0] = '\0';
	if (buf_append_str(&r->url, base) || buf_append_str(&r->url, path))
		return STRAND_ERR_NO_MEMORY;
	curl_easy_setopt(e, CURLOPT_URL, r->url.data);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, kind == TRANSPORT_JSON ? t->hdr_json :
	                 kind == TRANSPORT_BATCH ? t->hdr_batch : t->hdr_none);
	if (get || (!post && !body)) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	}
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, (get || post) ? NULL : method);
	return 0;
}

int transport_req_result(transport_t *t, transport_req_t *r, CURLcode cc,
                         char *errbuf, size_t errlen)
{
	if (cc != CURLE_OK) {
		int tls = cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ||
		          cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: %s", r->url.data ? r->url.data : "",
			         r->curl_err[0] ? r->curl_err : curl_easy_strerror(cc));
		if (!tls)
			transport_next_broker(t);
		return tls ? STRAND_ERR_TLS : STRAND_ERR_TRANSPORT;
	}
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status >= 200 && r->status < 300)
		return 0;
	return transport_parse_problem(r->status, r->resp.data, r->resp.len, errbuf, errlen);
}

int transport_parse_problem(long status, const char *body, size_t len,
                            char *errbuf, size_t errlen)
{
	cJSON *doc, *code, *detail;
	int rc;

	doc = len ? cJSON_ParseWithLength(body, len) : NULL;
	code = cJSON_GetObjectItemCaseSensitive(doc, "code");
	detail = cJSON_GetObjectItemCaseSensitive(doc, "detail");
	rc = cJSON_IsString(code) ? client_err_from_code(code->valuestring)
	                          : client_err_from_status(status);
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "HTTP %ld %s: %s", status,
		         cJSON_IsString(code) ? code->valuestring : "",
		         cJSON_IsString(detail) ? detail->valuestring : strand_err2str(rc));
	cJSON_Delete(doc);
	return rc;
}

int transport_call(transport_t *t, transport_req_t *r, const char *method, const char *path,
                   const char *json_body, long timeout_ms, cJSON **json,
                   char *errbuf, size_t errlen)
{
	int rc;

	if (json)
		*json = NULL;
	rc = transport_req_prepare(t, r, method, path, json_body ? TRANSPORT_JSON : TRANSPORT_NONE,
	                           json_body, json_body ? strlen(json_body) : 0, timeout_ms);
	if (rc)
		return rc;
	rc = transport_req_result(t, r, curl_easy_perform(r->easy), errbuf, errlen);
	if (rc || !json || r->resp.len == 0)
		return rc;
	if (!(*json = cJSON_ParseWithLength(r->resp.data, r->resp.len))) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: the answer is not JSON", r->url.data);
		return STRAND_ERR_BAD_RESPONSE;
	}
	return 0;
}

int transport_get_cluster(transport_t *t, transport_req_t *r, long timeout_ms, cJSON **doc,
                          int *nbrokers, char *errbuf, size_t errlen)
{
	const cJSON *brokers;
	int rc;

	*nbrokers = 0;
	if ((rc = transport_call(t, r, "GET", "/v1/cluster", NULL, timeout_ms, doc, errbuf, errlen)))
		return rc;
	brokers = cJSON_GetObjectItemCaseSensitive(*doc, "brokers");
	if (cJSON_IsArray(brokers))
		*nbrokers = cJSON_GetArraySize(brokers);
	return 0;
}

int transport_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}
