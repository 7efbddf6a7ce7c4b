/*
 * harness.h — integration tests against a real `strand serve`: start the
 * binary ($STRAND_BIN, else ./strand) on 127.0.0.1 port 0 with a fresh
 * temporary data directory, read the bound port from its --port-file, wait
 * (polling with a deadline) until /healthz answers; drive it with libcurl;
 * stop it with SIGTERM or SIGKILL and restart it on the same data; remove
 * everything at teardown. As libmicrohttpd's own src/testcurl does, every
 * test talks to a port chosen at run time.
 *
 * Not thread-safe: one harness per test process (Check forks per test).
 */
#ifndef STRAND_TEST_HARNESS_H
#define STRAND_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "common/buf.h"

typedef struct harness {
	char     dir[256];        /* temp root: data/, port, server.log */
	char     data_dir[300];
	char     port_file[300];
	char     log_path[300];
	pid_t    pid;             /* 0 when not running */
	uint16_t port;
	char     base_url[64];    /* "http://127.0.0.1:PORT" */
	const char *extra_env[8]; /* "NAME=value" added to the server's environment */
	const char *extra_args[8];/* more `strand serve` arguments */
	const char *tls_ca;       /* set: the server speaks HTTPS; requests verify with this CA file */
	/* Contract mode (tests/contract/README.md): when STRAND_CONTRACT_PRISM
	 * names Prism's CLI, a validating proxy (`prism proxy --errors`) runs in
	 * front of the server, on a port chosen at run time, and http_request
	 * goes through it. Every answer is checked against STRAND_CONTRACT_SPEC;
	 * a disagreement either way is a violation, counted here, printed, and
	 * appended to the file STRAND_CONTRACT_LOG (when set). base_url stays
	 * the server's own: tests that drive libcurl themselves go direct. */
	pid_t    proxy_pid;         /* 0 when no proxy runs */
	char     proxy_url[64];     /* "http://127.0.0.1:PORT"; "" when off */
	char     proxy_log[300];
	int      contract_violations;
	int      contract_validated;/* answers that went through the proxy */
	int      contract_direct;   /* requests sent direct, for a listed reason */
} harness_t;

/* Make the temp dir and start the server. 0, or -1 with a message on stderr. */
int harness_start(harness_t *h);

/* Start again on the same data directory (after a stop). */
int harness_restart(harness_t *h);

/* Send sig (SIGTERM or SIGKILL) and wait for the exit. Returns the exit
 * status (0..255), 128+signal when killed by a signal, -1 on error. */
int harness_stop(harness_t *h, int sig);

/* Stop (SIGTERM, then SIGKILL after 10 s) and remove the temp dir. */
void harness_teardown(harness_t *h);

/* Contract mode: disagreements between the server and the spec seen by
 * this harness so far (0 when contract mode is off). */
int harness_contract_violations(const harness_t *h);

/* Last bytes of the server's log (for failure messages); static buffer. */
const char *harness_log_tail(harness_t *h);

typedef struct http_response {
	long  status;      /* 0 when the transfer failed (connection closed ...) */
	buf_t headers;     /* raw "Name: value\r\n" lines of the final response */
	buf_t body;
	char  error[256];  /* curl's message when status is 0 */
} http_response_t;

/*
 * One request to the harness's server. content_type and body may be NULL;
 * headers is a NULL-terminated list of "Name: value" (may be NULL).
 * Returns the status (also in out->status); out is freed with
 * http_response_free.
 * Contract mode: through the validating proxy, except the requests Prism
 * cannot carry intact (harness.c lists each kind with its reason), which go
 * direct. A request the spec refuses is sent again direct, and the server
 * must refuse it too; out is then the server's own answer.
 */
long http_request(harness_t *h, const char *method, const char *path,
                  const char *content_type, const void *body, size_t len,
                  const char *const *headers, http_response_t *out);

/* Shorthands: GET, and a JSON body from a string. */
long http_get(harness_t *h, const char *path, http_response_t *out);
long http_json(harness_t *h, const char *method, const char *path, const char *json,
               http_response_t *out);

void http_response_free(http_response_t *r);

/* A response header's value (case-insensitive name) copied into out; NULL if absent. */
const char *http_header(const http_response_t *r, const char *name, char *out, size_t cap);

/* The body parsed as JSON (caller deletes); NULL when it is not JSON. */
cJSON *http_body_json(const http_response_t *r);

/*
 * Is r an RFC 9457 problem with this status and code? Checks the content
 * type, the members type/title/status/detail/code/retriable and their types,
 * Retry-After on 503/429. On mismatch, why says what differed; returns 0.
 */
int http_is_problem(const http_response_t *r, long status, const char *code,
                    char *why, size_t whylen);

#endif
