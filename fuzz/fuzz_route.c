/*
 * fuzz_route.c — libFuzzer target for the HTTP edge's path and query
 * handling (api/route.c): route matching over strand's real route table,
 * path parameter checks, the strict integer parser every query value and
 * Content-Length goes through, and the media-type matching of Accept and
 * Content-Type.
 *
 * Input: "METHOD URL\nACCEPT\nCONTENT-TYPE" (later parts optional), as
 * text up to the first NUL. The URL is split at '?', and the path and each
 * query name and value are decoded with libmicrohttpd's own
 * MHD_http_unescape, as the daemon does before strand sees them.
 *
 * What must hold, else the target aborts (a finding):
 *   - a chosen route has the request's method and a pattern with exactly
 *     the parameters filled in; {topic} and {group} are valid names, {p}
 *     in [0, INT32_MAX];
 *   - 405 only when other methods match the path, 404 only when none do;
 *   - api_parse_int64 accepts exactly what strtoll accepts whole with no
 *     blanks, no '+' and no overflow, and gives the same value.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api/route.h"
#include "broker/broker.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

/* The strtoll view of a strict decimal: 1 with *out, or 0. */
static int reference_int64(const char *s, int64_t *out)
{
	const char *d = s[0] == '-' ? s + 1 : s;
	char *end;
	long long v;

	if (*d == '\0' || strspn(d, "0123456789") != strlen(d))
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return 0;
	*out = v;
	return 1;
}

static void check_int64(const char *s)
{
	int64_t got = 0, want = 0;
	int ok = api_parse_int64(s, &got) == 0;

	FUZZ_CHECK(ok == reference_int64(s, &want));
	FUZZ_CHECK(!ok || got == want);
}

static void check_route(const char *method, const char *path)
{
	size_t n;
	const api_route_t *routes = api_route_table(&n);
	api_route_params_t rp;
	api_route_result_t res = api_route_find(routes, n, method, path, &rp);
	const api_route_t *r;

	switch (res) {
	case API_ROUTE_FOUND:
		FUZZ_CHECK(rp.index >= 0 && (size_t)rp.index < n);
		r = &routes[rp.index];
		FUZZ_CHECK(r->method == api_method_of(method) && (rp.allowed & r->method));
		FUZZ_CHECK((strstr(r->pattern, "{topic}") != NULL) == (rp.topic[0] != '\0'));
		FUZZ_CHECK((strstr(r->pattern, "{group}") != NULL) == (rp.group[0] != '\0'));
		FUZZ_CHECK((strstr(r->pattern, "{member}") != NULL) == (rp.member[0] != '\0'));
		FUZZ_CHECK((strstr(r->pattern, "{p}") != NULL) == (rp.partition >= 0));
		FUZZ_CHECK(rp.topic[0] == '\0' || broker_name_valid(rp.topic));
		FUZZ_CHECK(rp.group[0] == '\0' || broker_name_valid(rp.group));
		FUZZ_CHECK(strlen(rp.member) < API_ROUTE_PARAM_MAX);
		break;
	case API_ROUTE_BAD_METHOD:
		FUZZ_CHECK(rp.allowed != 0 && !(rp.allowed & api_method_of(method)));
		break;
	case API_ROUTE_NOT_FOUND:
		FUZZ_CHECK(rp.allowed == 0 && rp.index == -1);
		break;
	case API_ROUTE_BAD_PARAM:
		FUZZ_CHECK(rp.why != NULL && rp.index == -1);
		break;
	default:
		FUZZ_CHECK(!"unknown result");
	}
}

/* name=value&name&... : decode each part as MHD does, check the values. */
static void check_query(char *q)
{
	char *arg, *save = NULL;

	for (arg = strtok_r(q, "&", &save); arg != NULL; arg = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(arg, '=');

		if (eq != NULL) {
			*eq = '\0';
			MHD_http_unescape(eq + 1);
			check_int64(eq + 1);
		}
		MHD_http_unescape(arg);
		check_int64(arg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {
		"application/json", "application/x-ndjson", "application/vnd.strand.batch",
		"text/event-stream", "application/*", "*/*",
	};
	char *text, *method, *url, *accept = NULL, *ctype = NULL, *nl, *sp, *q;
	size_t i;

	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	if ((nl = strchr(text, '\n')) != NULL) {
		*nl = '\0';
		accept = nl + 1;
		if ((nl = strchr(accept, '\n')) != NULL) {
			*nl = '\0';
			ctype = nl + 1;
		}
	}
	method = text;
	sp = strchr(text, ' ');
	url = sp ? sp + 1 : text + strlen(text);
	if (sp)
		*sp = '\0';
	if ((q = strchr(url, '?')) != NULL)
		*q++ = '\0';
	MHD_http_unescape(url);
	check_route(method, url);
	check_int64(url);
	if (q != NULL)
		check_query(q);
	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (accept != NULL)
			(void)api_media_list_has(accept, types[i]);
		if (ctype != NULL)
			(void)api_media_type_eq(ctype, types[i]);
	}
	free(text);
	return 0;
}
