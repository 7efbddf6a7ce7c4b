/* harness.c — a real `strand serve` for integration tests (see harness.h). */
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_DEADLINE_MS 30000
#define STOP_DEADLINE_MS  15000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *strand_bin(void)
{
	const char *b = getenv("STRAND_BIN");

	return b && *b ? b : "./strand";
}

/* Read the port file; 0 until it holds a number. */
static uint16_t read_port(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned port = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%u", &port) != 1)
		port = 0;
	fclose(f);
	return port > 0 && port < 65536 ? (uint16_t)port : 0;
}

const char *harness_log_tail(harness_t *h)
{
	static char tail[4096];
	FILE *f = fopen(h->log_path, "r");
	long size;
	size_t n;

	tail[0] = '\0';
	if (f == NULL)
		return tail;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0, SEEK_SET);
	n = fread(tail, 1, sizeof tail - 1, f);
	tail[n] = '\0';
	fclose(f);
	return tail;
}

static int spawn(harness_t *h)
{
	const char *argv[32];
	int argc = 0, i, fd;
	pid_t pid;

	unlink(h->port_file);
	argv[argc++] = strand_bin();
	argv[argc++] = "serve";
	argv[argc++] = "--listen";
	argv[argc++] = "127.0.0.1:0";
	argv[argc++] = "--data-dir";
	argv[argc++] = h->data_dir;
	argv[argc++] = "--port-file";
	argv[argc++] = h->port_file;
	for (i = 0; i < 8 && h->extra_args[i] != NULL; i++)
		argv[argc++] = h->extra_args[i];
	argv[argc] = NULL;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
			close(fd);
		}
		for (i = 0; i < 8 && h->extra_env[i] != NULL; i++)
			putenv((char *)h->extra_env[i]);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	h->pid = pid;
	return 0;
}

/* Poll until the port file appears and /healthz answers 200. */
static int wait_ready(harness_t *h)
{
	int64_t deadline = now_ms() + START_DEADLINE_MS;
	http_response_t r;
	int status;

	while (now_ms() < deadline) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = 0;
			fprintf(stderr, "harness: strand exited during start; log:\n%s\n",
			        harness_log_tail(h));
			return -1;
		}
		if (h->port == 0)
			h->port = read_port(h->port_file);
		if (h->port != 0) {
			snprintf(h->base_url, sizeof h->base_url, "%s://127.0.0.1:%u",
			         h->tls_ca != NULL ? "https" : "http", (unsigned)h->port);
			if (http_get(h, "/healthz", &r) == 200) {
				http_response_free(&r);
				return 0;
			}
			http_response_free(&r);
		}
		pause_ms(10);
	}
	fprintf(stderr, "harness: strand not ready after %d ms; log:\n%s\n",
	        START_DEADLINE_MS, harness_log_tail(h));
	return -1;
}

int harness_start(harness_t *h)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(h->dir, sizeof h->dir, "%s/strand-test-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(h->dir) == NULL) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(h->data_dir, sizeof h->data_dir, "%s/data", h->dir);
	snprintf(h->port_file, sizeof h->port_file, "%s/port", h->dir);
	snprintf(h->log_path, sizeof h->log_path, "%s/server.log", h->dir);
	return harness_restart(h);
}

int harness_restart(harness_t *h)
{
	h->port = 0;
	if (spawn(h) != 0)
		return -1;
	return wait_ready(h);
}

int harness_stop(harness_t *h, int sig)
{
	int64_t deadline = now_ms() + STOP_DEADLINE_MS;
	int status;
	pid_t r;

	if (h->pid == 0)
		return -1;
	kill(h->pid, sig);
	for (;;) {
		r = waitpid(h->pid, &status, WNOHANG);
		if (r == h->pid)
			break;
		if (r < 0 || now_ms() > deadline) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			h->pid = 0;
			return -1;
		}
		pause_ms(5);
	}
	h->pid = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

void harness_teardown(harness_t *h)
{
	char cmd[400];

	if (h->pid != 0)
		harness_stop(h, SIGTERM);
	if (h->dir[0] != '\0' && strncmp(h->dir, "/", 1) == 0 && strstr(h->dir, "strand-test-")) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "harness: could not remove %s\n", h->dir);
	}
	h->dir[0] = '\0';
}

/* ---- HTTP ---------------------------------------------------------------- */

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	return buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	buf_t *b = ud;

	/* keep only the final response's headers (not those of 100 Continue) */
	if (size * n > 5 && strncmp(p, "HTTP/", 5) == 0)
		buf_reset(b);
	return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

long http_request(harness_t *h, const char *method, const char *path,
                  const char *content_type, const void *body, size_t len,
                  const char *const *headers, http_response_t *out)
{
	struct curl_slist *hl = NULL;
	char url[16384], line[256];   /* url: room for over-limit URLs (test_limits) */
	CURLcode cc;
	CURL *c;
	size_t i;

	memset(out, 0, sizeof *out);
	buf_init(&out->headers);
	buf_init(&out->body);
	c = curl_easy_init();
	if (c == NULL)
		return 0;
	snprintf(url, sizeof url, "%s%s", h->base_url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);   /* send ".." and "//" as written */
	if (h->tls_ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->tls_ca);   /* verify against the test CA */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (content_type != NULL) {
		snprintf(line, sizeof line, "Content-Type: %s", content_type);
		hl = curl_slist_append(hl, line);
	}
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		hl = curl_slist_append(hl, headers[i]);
	if (hl != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	else
		snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(cc));
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return out->status;
}

long http_get(harness_t *h, const char *path, http_response_t *out)
{
	return http_request(h, "GET", path, NULL, NULL, 0, NULL, out);
}

long http_json(harness_t *h, const char *method, const char *path, const char *json,
               http_response_t *out)
{
	return http_request(h, method, path, "application/json", json, json ? strlen(json) : 0,
	                    NULL, out);
}

void http_response_free(http_response_t *r)
{
	buf_free(&r->headers);
	buf_free(&r->body);
}

const char *http_header(const http_response_t *r, const char *name, char *out, size_t cap)
{
	const char *p = r->headers.data, *end, *v;
	size_t nlen = strlen(name), vlen;

	while (p != NULL && *p) {
		end = strstr(p, "\r\n");
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			v = p + nlen + 1;
			while (*v == ' ')
				v++;
			vlen = (size_t)(end - v);
			if (vlen >= cap)
				vlen = cap - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return out;
		}
		p = *end ? end + 2 : end;
	}
	return NULL;
}

cJSON *http_body_json(const http_response_t *r)
{
	if (r->body.data == NULL)
		return NULL;
	return cJSON_ParseWithLength(r->body.data, r->body.len);
}

int http_is_problem(const http_response_t *r, long status, const char *code,
                    char *why, size_t whylen)
{
	char ct[128], ra[32];
	cJSON *doc, *m;
	int ok = 0;

	if (r->status != status) {
		snprintf(why, whylen, "status %ld, expected %ld; body: %.300s", r->status, status,
		         r->body.data ? r->body.data : "");
		return 0;
	}
	if (!http_header(r, "Content-Type", ct, sizeof ct) ||
	    strcmp(ct, "application/problem+json") != 0) {
		snprintf(why, whylen, "content type \"%s\", expected application/problem+json",
		         http_header(r, "Content-Type", ct, sizeof ct) ? ct : "(none)");
		return 0;
	}
	doc = http_body_json(r);
	if (doc == NULL) {
		snprintf(why, whylen, "body is not JSON: %.300s", r->body.data ? r->body.data : "");
		return 0;
	}
	if (!cJSON_IsString(cJSON_GetObjectItem(doc, "type")) ||
	    !cJSON_IsString(cJSON_GetObjectItem(doc, "title")) ||
	    !cJSON_IsString(cJSON_GetObjectItem(doc, "detail")) ||
	    !cJSON_IsBool(cJSON_GetObjectItem(doc, "retriable"))) {
		snprintf(why, whylen, "missing or mistyped problem members: %.300s", r->body.data);
		goto out;
	}
	m = cJSON_GetObjectItem(doc, "status");
	if (!cJSON_IsNumber(m) || (long)m->valuedouble != status) {
		snprintf(why, whylen, "member status differs from %ld: %.300s", status, r->body.data);
		goto out;
	}
	m = cJSON_GetObjectItem(doc, "code");
	if (!cJSON_IsString(m) || strcmp(m->valuestring, code) != 0) {
		snprintf(why, whylen, "code %s, expected %s: %.300s",
		         cJSON_IsString(m) ? m->valuestring : "(none)", code, r->body.data);
		goto out;
	}
	if ((status == 503 || status == 429) && !http_header(r, "Retry-After", ra, sizeof ra)) {
		snprintf(why, whylen, "no Retry-After on %ld", status);
		goto out;
	}
	ok = 1;
out:
	cJSON_Delete(doc);
	return ok;
}
