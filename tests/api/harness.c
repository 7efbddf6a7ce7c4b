/* harness.c — a real `strand serve` for integration tests (see harness.h). */
#include "harness.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/utf8.h"

#define START_DEADLINE_MS 30000
#define STOP_DEADLINE_MS  15000
#define PROXY_DEADLINE_MS 60000          /* Prism reads the spec at start: slow */
#define PROXY_BODY_MAX    (10u << 20)    /* Prism's request body limit (micri) */

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

static int  proxy_start(harness_t *h);
static void proxy_stop(harness_t *h);

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
	if (wait_ready(h) != 0)
		return -1;
	return proxy_start(h);   /* contract mode only; the port is new */
}

int harness_stop(harness_t *h, int sig)
{
	int64_t deadline = now_ms() + STOP_DEADLINE_MS;
	int status;
	pid_t r;

	proxy_stop(h);   /* it points at this server's port */
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
	proxy_stop(h);
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

/* One request to base (the server's URL or the proxy's). */
static long request_at(harness_t *h, const char *base, const char *method, const char *path,
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
	snprintf(url, sizeof url, "%s%s", base, path);
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

/* ---- contract mode: the validating proxy (tests/contract/README.md) ----- */

/* One line to stderr (when loud) and to $STRAND_CONTRACT_LOG, in one write
 * (O_APPEND) so that parallel test processes do not interleave lines. */
static void contract_note(int loud, const char *kind, const char *method, const char *path,
                          const char *fmt, ...)
{
	const char *log = getenv("STRAND_CONTRACT_LOG");
	char line[8192];
	va_list ap;
	int n, fd;

	n = snprintf(line, sizeof line, "%s %s %s: ", kind, method, path);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	if (loud)
		fprintf(stderr, "contract: %.*s", n, line);
	if (log == NULL || *log == '\0')
		return;
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "contract: could not write %s\n", log);
	close(fd);
}

static void contract_violation(harness_t *h, const char *method, const char *path,
                               const char *what, const char *detail)
{
	h->contract_violations++;
	contract_note(1, "VIOLATION", method, path, "%s: %s", what, detail);
}

int harness_contract_violations(const harness_t *h)
{
	return h->contract_violations;
}

/* Start `prism proxy SPEC http://127.0.0.1:PORT --errors` on a port of its
 * choosing and read that port from its log. 0 also when contract mode is off. */
static int proxy_start(harness_t *h)
{
	const char *prism = getenv("STRAND_CONTRACT_PRISM");
	const char *spec = getenv("STRAND_CONTRACT_SPEC");
	const char *mark = "Prism is listening on http://127.0.0.1:";
	int64_t deadline = now_ms() + PROXY_DEADLINE_MS;
	char upstream[64], text[65536], *at;
	unsigned port;
	int fd, status;
	FILE *f;
	size_t n;
	pid_t pid;

	h->proxy_url[0] = '\0';
	if (prism == NULL || *prism == '\0')
		return 0;
	if (spec == NULL || *spec == '\0') {
		fprintf(stderr, "harness: STRAND_CONTRACT_PRISM needs STRAND_CONTRACT_SPEC\n");
		return -1;
	}
	snprintf(h->proxy_log, sizeof h->proxy_log, "%s/prism.log", h->dir);
	snprintf(upstream, sizeof upstream, "%s", h->base_url);
	unlink(h->proxy_log);   /* the last proxy's "listening" line is not this one's */
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* a test that dies (failed assertion in a forked Check test)
		 * must not leave a node process behind */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open(h->proxy_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(prism, prism, "proxy", spec, upstream, "--errors", "--no-cors",
		      "--host", "127.0.0.1", "--port", "0", (char *)NULL);
		fprintf(stderr, "harness: exec %s: %s\n", prism, strerror(errno));
		_exit(127);
	}
	h->proxy_pid = pid;
	while (now_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			h->proxy_pid = 0;
			break;
		}
		f = fopen(h->proxy_log, "r");
		if (f != NULL) {
			n = fread(text, 1, sizeof text - 1, f);
			text[n] = '\0';
			fclose(f);
			at = strstr(text, mark);
			if (at != NULL && sscanf(at + strlen(mark), "%u", &port) == 1) {
				snprintf(h->proxy_url, sizeof h->proxy_url, "http://127.0.0.1:%u", port);
				return 0;
			}
		}
		pause_ms(20);
	}
	fprintf(stderr, "harness: the Prism proxy did not start; its log:\n");
	f = fopen(h->proxy_log, "r");
	if (f != NULL) {
		n = fread(text, 1, sizeof text - 1, f);
		text[n] = '\0';
		fclose(f);
		fprintf(stderr, "%s\n", text);
	}
	proxy_stop(h);
	return -1;
}

static void proxy_stop(harness_t *h)
{
	int64_t deadline = now_ms() + STOP_DEADLINE_MS;
	int status;

	h->proxy_url[0] = '\0';
	if (h->proxy_pid == 0)
		return;
	kill(h->proxy_pid, SIGTERM);
	while (waitpid(h->proxy_pid, &status, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(h->proxy_pid, SIGKILL);
			waitpid(h->proxy_pid, &status, 0);
			break;
		}
		pause_ms(5);
	}
	h->proxy_pid = 0;
}

/* The value of header name in a "Name: value" list (NULL-terminated). */
static const char *list_header(const char *const *headers, const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':') {
			const char *v = headers[i] + n + 1;

			while (*v == ' ')
				v++;
			return v;
		}
	return NULL;
}

static int media_is(const char *value, const char *type)
{
	size_t n = strlen(type);

	return value != NULL && strncasecmp(value, type, n) == 0 &&
	       (value[n] == '\0' || value[n] == ';' || value[n] == ' ' || value[n] == ',');
}

static int list_has_media(const char *value, const char *type)
{
	for (; value != NULL; value = strchr(value, ',') ? strchr(value, ',') + 1 : NULL) {
		while (*value == ' ')
			value++;
		if (media_is(value, type))
			return 1;
	}
	return 0;
}

/*
 * Would Prism hand the server this JSON body with the same meaning? It
 * parses bodies with JSON.parse and sends JSON.stringify of the result, so
 * duplicate member names collapse and numbers go through doubles. Returns
 * the reason it would not, or NULL. Strictness first: a body JSON.parse
 * refuses never reaches the server (Prism leaves the request unanswered).
 */
static const char *json_rewrite_reason(const char *body, size_t len)
{
	const char *end = NULL, *p, *e;
	cJSON *doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	int in_str = 0;

	if (doc == NULL)
		return "malformed JSON body: Prism parses JSON bodies before forwarding and "
		       "never answers one it cannot parse";
	cJSON_Delete(doc);
	for (p = end; p < body + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return "text after the JSON body: Prism parses JSON bodies before forwarding "
			       "and never answers one it cannot parse";
	for (p = body; p < body + len; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = 0;
			continue;
		}
		if (*p == '"') {
			in_str = 1;
			continue;
		}
		if (*p != '-' && (*p < '0' || *p > '9'))
			continue;
		for (e = p; e < body + len && strchr("-+.eE0123456789", *e) != NULL; e++)
			;
		if (memchr(p, '.', (size_t)(e - p)) || memchr(p, 'e', (size_t)(e - p)) ||
		    memchr(p, 'E', (size_t)(e - p)) || e - p > 15 + (*p == '-'))
			return "a JSON number Prism would rewrite (fraction, exponent, or beyond "
			       "2^53: JavaScript doubles)";
		p = e - 1;
	}
	return NULL;
}

/* Duplicate member names anywhere in a parsed JSON document? */
static int json_has_duplicates(const cJSON *item)
{
	const cJSON *a, *b;

	for (a = item ? item->child : NULL; a != NULL; a = a->next) {
		if (cJSON_IsObject(item))
			for (b = a->next; b != NULL; b = b->next)
				if (a->string && b->string && strcmp(a->string, b->string) == 0)
					return 1;
		if (json_has_duplicates(a))
			return 1;
	}
	return 0;
}

/* Do the path's %XX escapes (before any query) decode to UTF-8? */
static int path_escapes_are_utf8(const char *path)
{
	unsigned char bytes[1024];
	size_t n = 0;
	unsigned v;

	for (; *path != '\0' && *path != '?' && n < sizeof bytes; path++) {
		if (*path == '%' && isxdigit((unsigned char)path[1]) &&
		    isxdigit((unsigned char)path[2]) && sscanf(path + 1, "%2x", &v) == 1) {
			bytes[n++] = (unsigned char)v;
			path += 2;
		} else {
			bytes[n++] = (unsigned char)*path;
		}
	}
	return utf8_is_valid(bytes, n);
}

/* The paths outside /v1 that openapi.yaml lists (query string ignored). */
static int documented_outside_v1(const char *path)
{
	static const char *const paths[] = {
		"/", "/healthz", "/readyz", "/metrics", "/openapi.yaml", NULL
	};
	size_t n = strcspn(path, "?"), i;

	for (i = 0; paths[i] != NULL; i++)
		if (strlen(paths[i]) == n && strncmp(paths[i], path, n) == 0)
			return 1;
	return 0;
}

/*
 * The requests Prism cannot carry or check intact, each with its reason:
 * they go straight to the server (and are counted as such in the log).
 * NULL: send it through the proxy.
 */
static const char *contract_direct_reason(const char *method, const char *path,
                                          const char *content_type, const void *body,
                                          size_t len, const char *const *headers)
{
	const char *accept = list_header(headers, "Accept");
	const char *ct = content_type ? content_type : list_header(headers, "Content-Type");
	const char *reason;
	cJSON *doc;

	if (strcmp(method, "HEAD") == 0)
		return "HEAD: answered as GET without a body (RFC 9110); OpenAPI documents GET only";
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 &&
	    strcmp(method, "PATCH") != 0 && strcmp(method, "DELETE") != 0 &&
	    strcmp(method, "OPTIONS") != 0)
		return "a method HTTP does not define: Node's HTTP parser (under Prism) answers "
		       "400 itself";
	if (!path_escapes_are_utf8(path))
		return "percent-escapes that are not UTF-8 in the path: Prism decodes the path "
		       "and drops the connection on them";
	if (strstr(path, "//") || strstr(path, "/./") || strstr(path, "/../") ||
	    (strlen(path) >= 2 && strcmp(path + strlen(path) - 2, "/.") == 0) ||
	    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
		return "path with empty or dot segments: Prism normalises it, so the server "
		       "would see another path";
	if (strncmp(path, "/v1", 3) != 0 && !documented_outside_v1(path))
		return "a file of the dashboard or a mount: any path outside /v1 (api/static.c), "
		       "which OpenAPI paths cannot template";
	if (list_has_media(accept, "text/event-stream"))
		return "text/event-stream: Prism reads the whole answer before it validates, "
		       "and a live SSE tail never ends";
	if (list_has_media(accept, "application/vnd.strand.batch"))
		return "binary batches answered (sendfile): Prism reads answers as UTF-8 text and "
		       "would not return the bytes intact";
	if (body == NULL || len == 0)
		return NULL;
	if (strcmp(method, "GET") == 0)
		return "GET with a body: Prism refuses to forward one";
	if (len > PROXY_BODY_MAX)
		return "body over 10 MiB: Prism's request body limit";
	if (!utf8_is_valid(body, len))
		return "body that is not UTF-8: Prism decodes bodies as UTF-8 text and would "
		       "replace the bad bytes";
	if (media_is(ct, "application/json") || (ct && strstr(ct, "+json"))) {
		reason = json_rewrite_reason(body, len);
		if (reason != NULL)
			return reason;
		doc = cJSON_ParseWithLength(body, len);
		reason = json_has_duplicates(doc) ?
		         "duplicate JSON member names: Prism's JSON.parse keeps only the last" : NULL;
		cJSON_Delete(doc);
		return reason;
	}
	return NULL;
}

/* "UNPROCESSABLE_ENTITY" from a problem Prism made itself; NULL otherwise. */
static const char *prism_problem_kind(const http_response_t *r, char *out, size_t cap)
{
	static const char prefix[] = "https://stoplight.io/prism/errors#";
	cJSON *doc, *type;
	char ct[128];

	if (!http_header(r, "Content-Type", ct, sizeof ct) || !media_is(ct, "application/problem+json"))
		return NULL;
	doc = http_body_json(r);
	type = cJSON_GetObjectItemCaseSensitive(doc, "type");
	if (!cJSON_IsString(type) || strncmp(type->valuestring, prefix, sizeof prefix - 1) != 0) {
		cJSON_Delete(doc);
		return NULL;
	}
	snprintf(out, cap, "%s", type->valuestring + sizeof prefix - 1);
	cJSON_Delete(doc);
	return out;
}

long http_request(harness_t *h, const char *method, const char *path,
                  const char *content_type, const void *body, size_t len,
                  const char *const *headers, http_response_t *out)
{
	char violations[8192], kind[96], refused[1024];
	const char *why;

	if (h->proxy_url[0] == '\0')
		return request_at(h, h->base_url, method, path, content_type, body, len, headers, out);
	why = contract_direct_reason(method, path, content_type, body, len, headers);
	if (why != NULL) {
		h->contract_direct++;
		contract_note(0, "DIRECT", method, path, "%s", why);
		return request_at(h, h->base_url, method, path, content_type, body, len, headers, out);
	}
	request_at(h, h->proxy_url, method, path, content_type, body, len, headers, out);
	h->contract_validated++;
	/* Prism lists what it found in sl-violations, warnings included (an
	 * undocumented 4xx status is only a warning to it, a violation to us). */
	if (http_header(out, "sl-violations", violations, sizeof violations)) {
		char what[64];

		snprintf(what, sizeof what, "the server answered %ld against the spec", out->status);
		contract_violation(h, method, path, what, violations);
		return out->status;
	}
	if (prism_problem_kind(out, kind, sizeof kind) == NULL) {
		contract_note(0, "VALIDATED", method, path, "%ld", out->status);
		return out->status;
	}
	/* Prism refused the request (the spec does not allow it) and did not
	 * forward it: the server must refuse it as well. */
	snprintf(refused, sizeof refused, "%s: %.900s", kind, out->body.data ? out->body.data : "");
	http_response_free(out);
	request_at(h, h->base_url, method, path, content_type, body, len, headers, out);
	if (out->status >= 200 && out->status < 400) {
		char what[96];

		snprintf(what, sizeof what, "the spec refuses this request, the server answered %ld",
		         out->status);
		contract_violation(h, method, path, what, refused);
	} else {
		contract_note(0, "REFUSED", method, path, "spec and server (%ld) both refuse: %s",
		              out->status, kind);
	}
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
