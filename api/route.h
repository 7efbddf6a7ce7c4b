/*
 * route.h — matching a request's method and path against the route table,
 * and the strict text parsers the HTTP edge applies to path parameters,
 * query values and media-type headers. Pure functions: no libmicrohttpd, no
 * allocation, no state; http.c calls them per request and
 * fuzz/fuzz_route.c drives them with arbitrary bytes.
 */
#ifndef STRAND_API_ROUTE_H
#define STRAND_API_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "api/http.h"

typedef enum api_route_result {
	API_ROUTE_FOUND = 0,
	API_ROUTE_NOT_FOUND,     /* no pattern has this path's shape: 404 */
	API_ROUTE_BAD_METHOD,    /* patterns match, none for this method: 405 with allowed */
	API_ROUTE_BAD_PARAM,     /* a {topic} {group} {member} {p} is invalid: 400 with why */
} api_route_result_t;

#define API_ROUTE_PARAM_MAX 256   /* bytes of a path parameter, terminator included */

/* What api_route_find learnt. Absent parameters are "" (a present one
 * never is: an empty segment does not match a {param}). */
typedef struct api_route_params {
	int         index;       /* the chosen route (API_ROUTE_FOUND), else -1 */
	unsigned    allowed;     /* api_method_t bits of every route with this path's shape */
	char        topic[API_ROUTE_PARAM_MAX];   /* a valid name (broker_name_valid) */
	char        group[API_ROUTE_PARAM_MAX];   /* likewise */
	char        member[API_ROUTE_PARAM_MAX];  /* opaque, as given */
	int32_t     partition;   /* {p}: decimal in [0, INT32_MAX]; -1 when absent */
	const char *why;         /* API_ROUTE_BAD_PARAM: a static message naming the rule */
} api_route_params_t;

/*
 * The first route (in table order) whose pattern has path's shape and
 * whose method is method's ("HEAD" counts as GET; methods strand does not
 * serve match none). path is decoded, without the query string. Fills
 * *out and returns an api_route_result_t.
 */
api_route_result_t api_route_find(const api_route_t *routes, size_t nroutes,
                                  const char *method, const char *path,
                                  api_route_params_t *out);

/* "GET" -> API_GET ("HEAD" too), ...; 0 for any other method. */
api_method_t api_method_of(const char *method);

/* The route table (server.c), for the fuzz target and the server. */
const api_route_t *api_route_table(size_t *nroutes);

/* Strict decimal int64: optional '-', digits, nothing else (no spaces,
 * no '+', no overflow). 0 with *out set, or -1. */
int api_parse_int64(const char *s, int64_t *out);

/*
 * Does the media range at s (up to its ';' or ',', blanks around it
 * ignored) equal type, case-insensitively? For Content-Type.
 */
int api_media_type_eq(const char *s, const char *type);

/* Does the comma-separated list (an Accept header) name type? NULL: no. */
int api_media_list_has(const char *list, const char *type);

#endif
