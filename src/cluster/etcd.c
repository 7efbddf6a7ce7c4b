/*
 * etcd.c — the etcd v3 JSON-gateway client (etcd.h): request building,
 * the endpoint loop with failover, answer parsing, and the streaming watch.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cluster/etcd.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"

#define ETCD_POOL_MAX 8          /* idle libcurl handles kept for reuse */

struct etcd {
	char           *endpoints[ETCD_MAX_ENDPOINTS];  /* owned, no trailing '/' */
	size_t          n_endpoints;
	int             timeout_ms, connect_timeout_ms;
	char           *ca_file;     /* owned; NULL: the system's CAs */
	pthread_mutex_t lock;        /* guards current and pool */
	size_t          current;     /* index of the endpoint that answered last */
	CURL           *pool[ETCD_POOL_MAX];
	size_t          pool_len;
};

/* gRPC status codes the gateway returns in {"code": N} */
#define GRPC_DEADLINE_EXCEEDED 4
#define GRPC_NOT_FOUND         5
#define GRPC_UNAVAILABLE       14

/* ---- the handle ------------------------------------------------------ */

int etcd_open(const etcd_options_t *opts, etcd_t **out, char *err, size_t errlen)
{
	etcd_t *e;
	const char *p, *comma;
	size_t len;
	int rc = STRAND_EINVAL;

	*out = NULL;
	if (opts == NULL || opts->endpoints == NULL || opts->endpoints[0] == '\0')
		return strand_err_set(err, errlen, STRAND_EINVAL, "etcd: no endpoints given");
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	pthread_mutex_init(&e->lock, NULL);
	e->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;
	e->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
	                                                     : ETCD_DEFAULT_CONNECT_TIMEOUT_MS;
	if (e->connect_timeout_ms > e->timeout_ms)
		e->connect_timeout_ms = e->timeout_ms;
	if (opts->ca_file != NULL && (e->ca_file = strdup(opts->ca_file)) == NULL) {
		rc = strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
		goto fail;
	}
	for (p = opts->endpoints; *p != '\0'; p = *comma ? comma + 1 : comma) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		len = (size_t)(comma - p);
		while (len > 0 && p[len - 1] == '/')
			len--;
		if (len == 0)
			continue;
		if (len >= ETCD_MAX_URL_BYTES ||
		    (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)) {
			strand_err_set(err, errlen, STRAND_EINVAL,
			               "etcd: endpoint \"%.*s\" must be an http:// or https:// URL "
			               "under %d bytes", (int)(len > 80 ? 80 : len), p,
			               ETCD_MAX_URL_BYTES);
			goto fail;
		}
		if (e->n_endpoints == ETCD_MAX_ENDPOINTS) {
			strand_err_set(err, errlen, STRAND_EINVAL, "etcd: more than %d endpoints",
			               ETCD_MAX_ENDPOINTS);
			goto fail;
		}
		e->endpoints[e->n_endpoints] = strndup(p, len);
		if (e->endpoints[e->n_endpoints] == NULL) {
			rc = strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
			goto fail;
		}
		e->n_endpoints++;
	}
	if (e->n_endpoints == 0) {
		strand_err_set(err, errlen, STRAND_EINVAL, "etcd: no endpoints given");
		goto fail;
	}
	*out = e;
	return 0;
fail:
	etcd_close(e);
	return rc;
}

void etcd_close(etcd_t *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->pool_len; i++)
		curl_easy_cleanup(e->pool[i]);
	for (i = 0; i < e->n_endpoints; i++)
		free(e->endpoints[i]);
	free(e->ca_file);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

const char *etcd_current_endpoint(etcd_t *e)
{
	size_t i;

	pthread_mutex_lock(&e->lock);
	i = e->current;
	pthread_mutex_unlock(&e->lock);
	return e->endpoints[i];
}

/* Borrow a libcurl handle (reset, so no option leaks between calls; its
 * connection cache stays, so calls reuse keep-alive connections). */
static CURL *etcd_curl_get(etcd_t *e)
{
	CURL *c = NULL;

	pthread_mutex_lock(&e->lock);
	if (e->pool_len > 0)
		c = e->pool[--e->pool_len];
	pthread_mutex_unlock(&e->lock);
	if (c != NULL)
		curl_easy_reset(c);
	else
		c = curl_easy_init();
	return c;
}

static void etcd_curl_put(etcd_t *e, CURL *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&e->lock);
	if (e->pool_len < ETCD_POOL_MAX) {
		e->pool[e->pool_len++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&e->lock);
	if (c != NULL)
		curl_easy_cleanup(c);
}

static size_t etcd_first_endpoint(etcd_t *e)
{
	size_t i;

	pthread_mutex_lock(&e->lock);
	i = e->current;
	pthread_mutex_unlock(&e->lock);
	return i;
}

static void etcd_set_current(etcd_t *e, size_t i)
{
	pthread_mutex_lock(&e->lock);
	e->current = i;
	pthread_mutex_unlock(&e->lock);
}

/* ---- JSON helpers ---------------------------------------------------- */

/* An int64 field: the gateway sends strings; absent means 0. */
static int64_t json_int64(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	return 0;
}

static int json_add_int64(cJSON *obj, const char *name, int64_t v)
{
	char s[24];

	snprintf(s, sizeof s, "%" PRId64, v);
	return cJSON_AddStringToObject(obj, name, s) != NULL ? 0 : STRAND_ENOMEM;
}

static int json_add_b64(cJSON *obj, const char *name, const void *data, size_t len)
{
	buf_t b = BUF_INIT;
	int rc = base64_encode_append(&b, data, len);

	if (rc == 0 && cJSON_AddStringToObject(obj, name, b.data != NULL ? b.data : "") == NULL)
		rc = STRAND_ENOMEM;
	buf_free(&b);
	return rc;
}

/* Decode a base64 field into a new NUL-terminated string; absent: "". */
static int json_b64_dup(const cJSON *obj, const char *name, char **out, size_t *out_len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	const char *s = cJSON_IsString(v) ? v->valuestring : "";
	size_t slen = strlen(s), n = 0;
	char *d = malloc(base64_decoded_max(slen) + 1);

	if (d == NULL)
		return STRAND_ENOMEM;
	if (base64_decode(s, slen, (uint8_t *)d, &n) != 0) {
		free(d);
		return STRAND_ECORRUPT;
	}
	d[n] = '\0';
	*out = d;
	*out_len = n;
	return 0;
}

/* key (prefix 0), or key and the range end covering every key starting with
 * it (prefix 1): the key with its last byte below 0xff incremented; the
 * empty prefix is etcd's "\0" .. "\0", every key. */
static int json_add_key_range(cJSON *obj, const char *key, int prefix)
{
	size_t len = strlen(key);
	char *end;
	int rc;

	if (!prefix)
		return json_add_b64(obj, "key", key, len);
	if (len == 0)
		return json_add_b64(obj, "key", "", 1) || json_add_b64(obj, "range_end", "", 1)
		       ? STRAND_ENOMEM : 0;
	rc = json_add_b64(obj, "key", key, len);
	if (rc)
		return rc;
	end = strndup(key, len);
	if (end == NULL)
		return STRAND_ENOMEM;
	while (len > 0 && (unsigned char)end[len - 1] == 0xff)
		len--;
	if (len == 0)
		rc = json_add_b64(obj, "range_end", "", 1);
	else {
		end[len - 1]++;
		rc = json_add_b64(obj, "range_end", end, len);
	}
	free(end);
	return rc;
}

static void etcd_kv_clear(etcd_kv_t *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof *kv);
}

void etcd_kvs_free(etcd_kvs_t *kvs)
{
	size_t i;

	if (kvs == NULL)
		return;
	for (i = 0; i < kvs->n; i++)
		etcd_kv_clear(&kvs->kvs[i]);
	free(kvs->kvs);
	memset(kvs, 0, sizeof *kvs);
}

static int etcd_kv_parse(const cJSON *o, etcd_kv_t *kv)
{
	int rc;

	memset(kv, 0, sizeof *kv);
	rc = json_b64_dup(o, "key", &kv->key, &kv->key_len);
	if (rc == 0)
		rc = json_b64_dup(o, "value", &kv->value, &kv->value_len);
	if (rc) {
		etcd_kv_clear(kv);
		return rc;
	}
	kv->create_revision = json_int64(o, "create_revision");
	kv->mod_revision = json_int64(o, "mod_revision");
	kv->version = json_int64(o, "version");
	kv->lease = json_int64(o, "lease");
	return 0;
}

/* Append the "kvs" array of a RangeResponse to out. */
static int etcd_kvs_append(etcd_kvs_t *out, const cJSON *range_resp)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(range_resp, "kvs"), *item;
	int n = cJSON_GetArraySize(arr), rc;
	etcd_kv_t *grown;

	if (n <= 0)
		return 0;
	grown = realloc(out->kvs, (out->n + (size_t)n) * sizeof *grown);
	if (grown == NULL)
		return STRAND_ENOMEM;
	out->kvs = grown;
	cJSON_ArrayForEach(item, arr) {
		rc = etcd_kv_parse(item, &out->kvs[out->n]);
		if (rc)
			return rc;
		out->n++;
	}
	return 0;
}

static int64_t etcd_header_revision(const cJSON *resp)
{
	return json_int64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
}

/* ---- one call over the endpoints -------------------------------------- */

typedef struct etcd_body {
	buf_t  data;
	size_t cap;
	int    too_big;
} etcd_body_t;

static size_t etcd_body_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	etcd_body_t *b = arg;
	size_t n = size * nmemb;

	if (b->data.len + n > b->cap) {
		b->too_big = 1;
		return 0;
	}
	return buf_append(&b->data, ptr, n) == 0 ? n : 0;
}

/* Was nothing sent (so any call may go to the next endpoint)? */
static int etcd_curl_not_connected(CURLcode cc)
{
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	       cc == CURLE_COULDNT_RESOLVE_PROXY;
}

/* Did the request not leave (e.g. the connection never completed)? Then
 * even a write may go to the next endpoint. */
static int etcd_curl_sent_nothing(CURL *c)
{
	long sent = 0;

	return curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent == 0;
}

static void etcd_curl_setup(etcd_t *e, CURL *c, const char *url, int timeout_ms)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	if (e->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
}

/*
 * POST body (JSON text) to path on the endpoints in turn; *resp gets the
 * parsed answer (caller deletes). idempotent: the call may be repeated on
 * another endpoint after a timeout or a broken connection.
 */
static int etcd_call(etcd_t *e, const char *path, const char *body, int idempotent,
                     cJSON **resp, char *err, size_t errlen)
{
	char url[ETCD_MAX_URL_BYTES + 64];
	size_t first = etcd_first_endpoint(e), k, i;
	etcd_body_t answer;
	struct curl_slist *hdrs = NULL;
	CURL *c = etcd_curl_get(e);
	CURLcode cc;
	long status = 0;
	int rc = STRAND_EIO;
	cJSON *doc, *code;

	*resp = NULL;
	if (c == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	memset(&answer, 0, sizeof answer);
	answer.cap = ETCD_MAX_RESPONSE;
	for (k = 0; k < e->n_endpoints; k++) {
		i = (first + k) % e->n_endpoints;
		snprintf(url, sizeof url, "%s%s", e->endpoints[i], path);
		buf_reset(&answer.data);
		answer.too_big = 0;
		etcd_curl_setup(e, c, url, e->timeout_ms);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_body_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
		cc = curl_easy_perform(c);
		if (cc != CURLE_OK) {
			if (answer.too_big) {
				rc = strand_err_set(err, errlen, STRAND_ETOOBIG,
				                    "etcd %s%s: answer over %u bytes", e->endpoints[i],
				                    path, ETCD_MAX_RESPONSE);
				goto out;
			}
			rc = strand_err_set(err, errlen, cc == CURLE_OPERATION_TIMEDOUT ?
			                    STRAND_ETIMEDOUT : STRAND_EIO, "etcd %s%s: %s",
			                    e->endpoints[i], path, curl_easy_strerror(cc));
			if (etcd_curl_not_connected(cc) || etcd_curl_sent_nothing(c) || idempotent)
				continue;
			if (cc != CURLE_OPERATION_TIMEDOUT)
				rc = STRAND_ETIMEDOUT;   /* sent, answer lost: outcome unknown */
			goto out;
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		doc = cJSON_ParseWithLength(answer.data.data != NULL ? answer.data.data : "",
		                            answer.data.len);
		if (doc == NULL) {
			rc = strand_err_set(err, errlen, STRAND_ECORRUPT,
			                    "etcd %s%s: HTTP %ld with a body that is not JSON",
			                    e->endpoints[i], path, status);
			continue;
		}
		code = cJSON_GetObjectItemCaseSensitive(doc, "code");
		if (status != 200 || cJSON_IsNumber(code)) {
			const cJSON *msg = cJSON_GetObjectItemCaseSensitive(doc, "message");
			int grpc = cJSON_IsNumber(code) ? code->valueint : -1;

			rc = grpc == GRPC_NOT_FOUND ? STRAND_ENOENT :
			     grpc == GRPC_DEADLINE_EXCEEDED ? STRAND_ETIMEDOUT : STRAND_EIO;
			strand_err_set(err, errlen, rc, "etcd %s%s: HTTP %ld: %s", e->endpoints[i],
			               path, status, cJSON_IsString(msg) ? msg->valuestring : "error");
			cJSON_Delete(doc);
			/* this member cannot serve (no raft leader, stopping): try another */
			if (grpc == GRPC_UNAVAILABLE && idempotent)
				continue;
			goto out;
		}
		etcd_set_current(e, i);
		*resp = doc;
		rc = 0;
		goto out;
	}
out:
	buf_free(&answer.data);
	curl_slist_free_all(hdrs);
	etcd_curl_put(e, c);
	return rc;
}

/* Serialize req (deleted here) and call. */
static int etcd_call_json(etcd_t *e, const char *path, cJSON *req, int idempotent,
                          cJSON **resp, char *err, size_t errlen)
{
	char *body = req != NULL ? cJSON_PrintUnformatted(req) : NULL;
	int rc;

	cJSON_Delete(req);
	if (body == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	rc = etcd_call(e, path, body, idempotent, resp, err, errlen);
	free(body);
	return rc;
}

int etcd_health(etcd_t *e, char *err, size_t errlen)
{
	char url[ETCD_MAX_URL_BYTES + 16];
	etcd_body_t answer;
	CURL *c = etcd_curl_get(e);
	CURLcode cc;
	size_t k, i, first = etcd_first_endpoint(e);
	long status;
	int rc = STRAND_EIO;

	if (c == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	memset(&answer, 0, sizeof answer);
	answer.cap = 4096;
	for (k = 0; k < e->n_endpoints; k++) {
		i = (first + k) % e->n_endpoints;
		snprintf(url, sizeof url, "%s/health", e->endpoints[i]);
		buf_reset(&answer.data);
		etcd_curl_setup(e, c, url, e->timeout_ms);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_body_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
		cc = curl_easy_perform(c);
		status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_OK && status == 200 && answer.data.data != NULL &&
		    strstr(answer.data.data, "\"true\"") != NULL) {
			etcd_set_current(e, i);
			rc = 0;
			break;
		}
		rc = strand_err_set(err, errlen, cc == CURLE_OPERATION_TIMEDOUT ? STRAND_ETIMEDOUT :
		                    STRAND_EIO, "etcd %s/health: %s", e->endpoints[i],
		                    cc != CURLE_OK ? curl_easy_strerror(cc) : "not healthy");
	}
	buf_free(&answer.data);
	etcd_curl_put(e, c);
	return rc;
}

/* ---- keys ------------------------------------------------------------ */

int etcd_range(etcd_t *e, const char *key, int prefix, etcd_kvs_t *out,
               char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if (req == NULL || json_add_key_range(req, key, prefix) != 0) {
		cJSON_Delete(req);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	}
	rc = etcd_call_json(e, "/v3/kv/range", req, 1, &resp, err, errlen);
	if (rc)
		return rc;
	out->revision = etcd_header_revision(resp);
	rc = etcd_kvs_append(out, resp);
	cJSON_Delete(resp);
	if (rc) {
		etcd_kvs_free(out);
		return strand_err_set(err, errlen, rc, "etcd range: %s", strand_strerror(rc));
	}
	return 0;
}

/* The fields of a PutRequest into obj. */
static int etcd_put_fields(cJSON *obj, const char *key, const void *value, size_t len,
                           int64_t lease)
{
	if (json_add_b64(obj, "key", key, strlen(key)) ||
	    json_add_b64(obj, "value", value, len))
		return STRAND_ENOMEM;
	return lease != 0 ? json_add_int64(obj, "lease", lease) : 0;
}

int etcd_put(etcd_t *e, const char *key, const void *value, size_t len, int64_t lease,
             int64_t *revision, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int rc;

	if (req == NULL || etcd_put_fields(req, key, value, len, lease) != 0) {
		cJSON_Delete(req);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	}
	/* a put repeated is the same put: retry it elsewhere */
	rc = etcd_call_json(e, "/v3/kv/put", req, 1, &resp, err, errlen);
	if (rc)
		return rc;
	if (revision != NULL)
		*revision = etcd_header_revision(resp);
	cJSON_Delete(resp);
	return 0;
}

int etcd_delete(etcd_t *e, const char *key, int prefix, int64_t *deleted,
                char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int rc;

	if (req == NULL || json_add_key_range(req, key, prefix) != 0) {
		cJSON_Delete(req);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	}
	rc = etcd_call_json(e, "/v3/kv/deleterange", req, 1, &resp, err, errlen);
	if (rc)
		return rc;
	if (deleted != NULL)
		*deleted = json_int64(resp, "deleted");
	cJSON_Delete(resp);
	return 0;
}

/* ---- transactions ---------------------------------------------------- */

static const char *const etcd_target_names[] = { "CREATE", "MOD", "VERSION", "LEASE" };
static const char *const etcd_target_fields[] = {
	"create_revision", "mod_revision", "version", "lease"
};
static const char *const etcd_result_names[] = { "EQUAL", "GREATER", "LESS", "NOT_EQUAL" };

static cJSON *etcd_compare_json(const etcd_compare_t *c)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || json_add_b64(o, "key", c->key, strlen(c->key)) ||
	    !cJSON_AddStringToObject(o, "target", etcd_target_names[c->target]) ||
	    !cJSON_AddStringToObject(o, "result", etcd_result_names[c->result]) ||
	    json_add_int64(o, etcd_target_fields[c->target], c->number)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *etcd_op_json(const etcd_op_t *op)
{
	cJSON *o = cJSON_CreateObject(), *inner = cJSON_CreateObject();
	const char *name;
	int rc;

	if (o == NULL || inner == NULL)
		goto fail;
	switch (op->type) {
	case ETCD_OP_RANGE:
		name = "request_range";
		rc = json_add_key_range(inner, op->key, op->prefix);
		break;
	case ETCD_OP_PUT:
		name = "request_put";
		rc = etcd_put_fields(inner, op->key, op->value, op->value_len, op->lease);
		break;
	case ETCD_OP_DELETE:
		name = "request_delete_range";
		rc = json_add_key_range(inner, op->key, op->prefix);
		break;
	default:
		goto fail;
	}
	if (rc != 0)
		goto fail;
	cJSON_AddItemToObject(o, name, inner);
	return o;
fail:
	cJSON_Delete(inner);
	cJSON_Delete(o);
	return NULL;
}

static int etcd_ops_json(cJSON *req, const char *name, const etcd_op_t *ops, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(req, name), *o;
	size_t i;

	if (arr == NULL)
		return STRAND_ENOMEM;
	for (i = 0; i < n; i++) {
		o = etcd_op_json(&ops[i]);
		if (o == NULL || !cJSON_AddItemToArray(arr, o))
			return STRAND_ENOMEM;
	}
	return 0;
}

int etcd_txn(etcd_t *e, const etcd_compare_t *cmp, size_t ncmp,
             const etcd_op_t *success, size_t nsuccess,
             const etcd_op_t *failure, size_t nfailure,
             etcd_txn_result_t *res, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL, *arr, *o;
	const cJSON *item, *range;
	size_t i;
	int rc = STRAND_ENOMEM, writes = 0;

	memset(res, 0, sizeof *res);
	arr = req != NULL ? cJSON_AddArrayToObject(req, "compare") : NULL;
	if (arr == NULL)
		goto fail;
	for (i = 0; i < ncmp; i++) {
		o = etcd_compare_json(&cmp[i]);
		if (o == NULL || !cJSON_AddItemToArray(arr, o))
			goto fail;
	}
	if (etcd_ops_json(req, "success", success, nsuccess) ||
	    etcd_ops_json(req, "failure", failure, nfailure))
		goto fail;
	for (i = 0; i < nsuccess; i++)
		writes |= success[i].type != ETCD_OP_RANGE;
	for (i = 0; i < nfailure; i++)
		writes |= failure[i].type != ETCD_OP_RANGE;
	/* a txn that writes is not repeated after a timeout: its first try may
	 * have been applied, and the repeat's compare would then see its own write */
	rc = etcd_call_json(e, "/v3/kv/txn", req, !writes, &resp, err, errlen);
	req = NULL;
	if (rc)
		return rc;
	res->succeeded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "succeeded"));
	res->revision = etcd_header_revision(resp);
	res->kvs.revision = res->revision;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(resp, "responses")) {
		range = cJSON_GetObjectItemCaseSensitive(item, "response_range");
		if (range != NULL && (rc = etcd_kvs_append(&res->kvs, range)) != 0) {
			etcd_kvs_free(&res->kvs);
			cJSON_Delete(resp);
			return strand_err_set(err, errlen, rc, "etcd txn: %s", strand_strerror(rc));
		}
	}
	cJSON_Delete(resp);
	return 0;
fail:
	cJSON_Delete(req);
	return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
}

/* ---- leases ---------------------------------------------------------- */

int etcd_lease_grant(etcd_t *e, int64_t ttl_s, int64_t *id, int64_t *granted_ttl_s,
                     char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int rc;

	if (ttl_s <= 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "etcd: lease TTL must be > 0");
	if (req == NULL || json_add_int64(req, "TTL", ttl_s) != 0) {
		cJSON_Delete(req);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	}
	/* a repeated grant would only leave an unused lease to expire */
	rc = etcd_call_json(e, "/v3/lease/grant", req, 1, &resp, err, errlen);
	if (rc)
		return rc;
	*id = json_int64(resp, "ID");
	if (granted_ttl_s != NULL)
		*granted_ttl_s = json_int64(resp, "TTL");
	cJSON_Delete(resp);
	if (*id == 0)
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "etcd: lease grant without an ID");
	return 0;
}

int etcd_lease_keepalive(etcd_t *e, int64_t id, int64_t *ttl_s, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int64_t ttl;
	int rc;

	if (req == NULL || json_add_int64(req, "ID", id) != 0) {
		cJSON_Delete(req);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	}
	/* a streaming RPC in gRPC; the gateway answers one renewal per request */
	rc = etcd_call_json(e, "/v3/lease/keepalive", req, 1, &resp, err, errlen);
	if (rc)
		return rc;
	/* an expired lease comes back as a result without a TTL (TTL <= 0) */
	ttl = json_int64(cJSON_GetObjectItemCaseSensitive(resp, "result"), "TTL");
	cJSON_Delete(resp);
	if (ttl <= 0)
		return strand_err_set(err, errlen, STRAND_ENOENT,
		                      "etcd: lease %" PRId64 " has expired", id);
	if (ttl_s != NULL)
		*ttl_s = ttl;
	return 0;
}

int etcd_lease_revoke(etcd_t *e, int64_t id, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int rc;

	if (req == NULL || json_add_int64(req, "ID", id) != 0) {
		cJSON_Delete(req);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "etcd: out of memory");
	}
	rc = etcd_call_json(e, "/v3/lease/revoke", req, 1, &resp, err, errlen);
	cJSON_Delete(resp);
	return rc;
}

/* ---- watches --------------------------------------------------------- */

typedef struct etcd_watch_state {
	buf_t         line;        /* bytes of the message being received */
	etcd_watch_fn fn;
	void         *arg;
	int64_t       next;        /* revision to resume from */
	int           created;     /* the server confirmed the watch */
	int           stopped;     /* fn asked to stop */
	int           rc;          /* error found in the stream */
	char          msg[256];
} etcd_watch_state_t;

/* One streamed message: {"result": WatchResponse} or {"error": ...}. */
static int etcd_watch_message(etcd_watch_state_t *w, const char *text, size_t len)
{
	cJSON *doc = cJSON_ParseWithLength(text, len), *result, *ev;
	etcd_event_t event;
	etcd_kv_t kv;
	int rc = 0;

	if (doc == NULL) {
		snprintf(w->msg, sizeof w->msg, "watch: a streamed message is not JSON");
		return STRAND_ECORRUPT;
	}
	result = cJSON_GetObjectItemCaseSensitive(doc, "result");
	if (result == NULL) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "message");

		snprintf(w->msg, sizeof w->msg, "watch: %s", cJSON_IsString(m) ? m->valuestring
		                                                               : "error");
		rc = STRAND_EIO;
		goto out;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "created")))
		w->created = 1;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "canceled"))) {
		int64_t compact = json_int64(result, "compact_revision");

		snprintf(w->msg, sizeof w->msg, "watch canceled: revision %" PRId64 " is "
		         "compacted (oldest kept: %" PRId64 ")", w->next, compact);
		rc = compact > 0 ? STRAND_ERANGE : STRAND_EIO;
		goto out;
	}
	cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(result, "events")) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");

		rc = etcd_kv_parse(cJSON_GetObjectItemCaseSensitive(ev, "kv"), &kv);
		if (rc) {
			snprintf(w->msg, sizeof w->msg, "watch: bad event: %s", strand_strerror(rc));
			goto out;
		}
		event.type = cJSON_IsString(type) && strcmp(type->valuestring, "DELETE") == 0
		             ? ETCD_EVENT_DELETE : ETCD_EVENT_PUT;
		event.kv = &kv;
		if (kv.mod_revision >= w->next)
			w->next = kv.mod_revision + 1;
		if (w->fn(w->arg, &event) != 0)
			w->stopped = 1;
		etcd_kv_clear(&kv);
		if (w->stopped)
			break;
	}
out:
	cJSON_Delete(doc);
	return rc;
}

static size_t etcd_watch_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	etcd_watch_state_t *w = arg;
	size_t n = size * nmemb, start = 0, i;

	for (i = 0; i < n; i++) {
		if (ptr[i] != '\n')
			continue;
		if (buf_append(&w->line, ptr + start, i - start) != 0)
			return 0;
		start = i + 1;
		if (w->line.len > 0)
			w->rc = etcd_watch_message(w, w->line.data, w->line.len);
		buf_reset(&w->line);
		if (w->rc != 0 || w->stopped)
			return 0;   /* ends the transfer */
	}
	if (w->line.len + (n - start) > ETCD_MAX_RESPONSE) {
		snprintf(w->msg, sizeof w->msg, "watch: message over %u bytes", ETCD_MAX_RESPONSE);
		w->rc = STRAND_ETOOBIG;
		return 0;
	}
	return buf_append(&w->line, ptr + start, n - start) == 0 ? n : 0;
}

int etcd_watch(etcd_t *e, const char *key, int prefix, int64_t start_revision, int max_ms,
               etcd_watch_fn fn, void *arg, int64_t *next_revision,
               char *err, size_t errlen)
{
	char url[ETCD_MAX_URL_BYTES + 16], *body = NULL;
	cJSON *req = cJSON_CreateObject(), *create;
	etcd_watch_state_t w;
	struct curl_slist *hdrs = NULL;
	CURL *c = NULL;
	CURLcode cc;
	size_t k, i, first = etcd_first_endpoint(e);
	int rc = STRAND_ENOMEM;

	memset(&w, 0, sizeof w);
	w.fn = fn;
	w.arg = arg;
	w.next = start_revision;
	create = req != NULL ? cJSON_AddObjectToObject(req, "create_request") : NULL;
	if (create == NULL || json_add_key_range(create, key, prefix) != 0 ||
	    (start_revision > 0 && json_add_int64(create, "start_revision", start_revision)))
		goto out;
	body = cJSON_PrintUnformatted(req);
	c = etcd_curl_get(e);
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (body == NULL || c == NULL || hdrs == NULL)
		goto out;
	for (k = 0; k < e->n_endpoints; k++) {
		i = (first + k) % e->n_endpoints;
		snprintf(url, sizeof url, "%s/v3/watch", e->endpoints[i]);
		etcd_curl_setup(e, c, url, max_ms);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_watch_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
		cc = curl_easy_perform(c);
		if (w.stopped) {
			rc = 0;
			goto out;
		}
		if (w.rc != 0) {
			rc = strand_err_set(err, errlen, w.rc, "etcd %s: %s", e->endpoints[i], w.msg);
			goto out;
		}
		if (cc == CURLE_OPERATION_TIMEDOUT && w.created) {
			etcd_set_current(e, i);
			rc = strand_err_set(err, errlen, STRAND_ETIMEDOUT,
			                    "etcd watch: %d ms passed", max_ms);
			goto out;
		}
		rc = strand_err_set(err, errlen, cc == CURLE_OPERATION_TIMEDOUT ? STRAND_ETIMEDOUT
		                    : STRAND_EIO, "etcd %s/v3/watch: %s", e->endpoints[i],
		                    cc != CURLE_OK ? curl_easy_strerror(cc)
		                                   : "the stream ended");
		/* events already delivered stay delivered; the caller resumes from w.next */
		if (w.created || !etcd_curl_not_connected(cc))
			goto out;
	}
out:
	if (rc == STRAND_ENOMEM)
		strand_err_set(err, errlen, rc, "etcd: out of memory");
	if (next_revision != NULL)
		*next_revision = w.next;
	buf_free(&w.line);
	curl_slist_free_all(hdrs);
	etcd_curl_put(e, c);
	free(body);
	cJSON_Delete(req);
	return rc;
}
