/*
 * route.c — path matching and the strict value parsers of the HTTP edge
 * (contract in route.h). A pattern is literal segments and {param}
 * segments; a path matches when it has exactly the pattern's segments, no
 * {param} empty. Parameters are then checked: {topic} and {group} by the
 * broker's name rule, {p} as a partition number, {member} by length.
 */
#include "api/route.h"

#include <string.h>
#include <strings.h>

#include "broker/broker.h"

/* Next path segment of *p: [*seg, *seg + *len); advances *p. 0 at end. */
static int next_segment(const char **p, const char **seg, size_t *len)
{
	const char *s = *p, *e;

	if (*s != '/')
		return 0;
	s++;
	e = strchr(s, '/');
	if (e == NULL)
		e = s + strlen(s);
	*seg = s;
	*len = (size_t)(e - s);
	*p = e;
	return 1;
}

typedef struct slices {
	const char *topic, *p, *group, *member;
	size_t      topic_len, p_len, group_len, member_len;
} slices_t;

/* Does path have pattern's shape? Fills the {param} slices. */
static int route_match(const char *pattern, const char *path, slices_t *sl)
{
	const char *ps = NULL, *qs = NULL;   /* set by next_segment before use; */
	size_t pl = 0, ql = 0;               /* gcc -O2 cannot see that */

	memset(sl, 0, sizeof *sl);
	if (strcmp(pattern, "/") == 0)
		return strcmp(path, "/") == 0;
	for (;;) {
		int more_p = next_segment(&pattern, &ps, &pl);
		int more_q = next_segment(&path, &qs, &ql);

		if (!more_p || !more_q)
			return !more_p && !more_q && *path == '\0';
		if (pl > 2 && ps[0] == '{') {
			if (ql == 0)
				return 0;
			if (strncmp(ps, "{topic}", pl) == 0) { sl->topic = qs; sl->topic_len = ql; }
			else if (strncmp(ps, "{p}", pl) == 0) { sl->p = qs; sl->p_len = ql; }
			else if (strncmp(ps, "{group}", pl) == 0) { sl->group = qs; sl->group_len = ql; }
			else if (strncmp(ps, "{member}", pl) == 0) { sl->member = qs; sl->member_len = ql; }
			continue;
		}
		if (pl != ql || memcmp(ps, qs, pl) != 0)
			return 0;
	}
}

api_method_t api_method_of(const char *m)
{
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) return API_GET;
	if (strcmp(m, "POST") == 0) return API_POST;
	if (strcmp(m, "PUT") == 0) return API_PUT;
	if (strcmp(m, "PATCH") == 0) return API_PATCH;
	if (strcmp(m, "DELETE") == 0) return API_DELETE;
	return 0;
}

/* Copy a slice into a parameter buffer. 0, or -1 when too long. */
static int copy_param(char *dst, const char *s, size_t len)
{
	if (len >= API_ROUTE_PARAM_MAX)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static api_route_result_t bad_param(api_route_params_t *out, const char *why)
{
	out->index = -1;
	out->why = why;
	return API_ROUTE_BAD_PARAM;
}

/* Check and copy the chosen route's parameters into out. */
static api_route_result_t take_params(const slices_t *sl, api_route_params_t *out)
{
	if (sl->topic && (copy_param(out->topic, sl->topic, sl->topic_len) ||
	                  !broker_name_valid(out->topic)))
		return bad_param(out, "invalid topic name: use [A-Za-z0-9._-]{1,249}, not . or ..");
	if (sl->group && (copy_param(out->group, sl->group, sl->group_len) ||
	                  !broker_name_valid(out->group)))
		return bad_param(out, "invalid group name: use [A-Za-z0-9._-]{1,249}, not . or ..");
	if (sl->member && copy_param(out->member, sl->member, sl->member_len))
		return bad_param(out, "member id too long");
	if (sl->p) {
		char tmp[16];
		int64_t v;

		if (sl->p_len >= sizeof tmp)
			return bad_param(out, "partition must be an integer in [0, 2147483647]");
		memcpy(tmp, sl->p, sl->p_len);
		tmp[sl->p_len] = '\0';
		if (tmp[0] == '-' || api_parse_int64(tmp, &v) || v > INT32_MAX)
			return bad_param(out, "partition must be an integer in [0, 2147483647]");
		out->partition = (int32_t)v;
	}
	return API_ROUTE_FOUND;
}

api_route_result_t api_route_find(const api_route_t *routes, size_t nroutes,
                                  const char *method, const char *path,
                                  api_route_params_t *out)
{
	api_method_t m = api_method_of(method);
	slices_t sl, chosen;
	size_t i;

	memset(&chosen, 0, sizeof chosen);
	out->index = -1;
	out->allowed = 0;
	out->topic[0] = out->group[0] = out->member[0] = '\0';
	out->partition = -1;
	out->why = NULL;
	for (i = 0; i < nroutes; i++) {
		if (!route_match(routes[i].pattern, path, &sl))
			continue;
		out->allowed |= routes[i].method;
		if (out->index < 0 && m != 0 && routes[i].method == m) {
			out->index = (int)i;
			chosen = sl;
		}
	}
	if (out->index < 0)
		return out->allowed ? API_ROUTE_BAD_METHOD : API_ROUTE_NOT_FOUND;
	return take_params(&chosen, out);
}

int api_parse_int64(const char *s, int64_t *out)
{
	int neg = 0;
	uint64_t v = 0, lim;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s == '\0')
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (lim - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int api_media_type_eq(const char *s, const char *type)
{
	size_t n = strlen(type);

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, type, n) != 0)
		return 0;
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == ';' || *s == ',';
}

int api_media_list_has(const char *list, const char *type)
{
	while (list != NULL) {
		if (api_media_type_eq(list, type))
			return 1;
		list = strchr(list, ',');
		if (list != NULL)
			list++;
	}
	return 0;
}
