/* jsonbody.c — strict reading of small JSON request bodies (see jsonbody.h). */
#include "api/jsonbody.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

#define JSON_EXACT_MAX 9007199254740992.0   /* 2^53 */

static int invalid(api_request_t *req, const char *detail)
{
	api_respond_problem(req, 400, API_PROBLEM_INVALID_REQUEST, detail, NULL);
	return STRAND_EINVAL;
}

int api_json_body_object(api_request_t *req, int empty_ok, cJSON **out)
{
	const char *end = NULL, *p;
	size_t len = req->body.len;
	cJSON *doc;

	*out = NULL;
	for (p = req->body.data; p != NULL && p < req->body.data + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			break;
	if (req->body.data == NULL || p == req->body.data + len) {
		if (!empty_ok)
			return invalid(req, "a JSON object body is required");
		*out = cJSON_CreateObject();
		return *out ? 0 : STRAND_ENOMEM;
	}
	/* A body in another type is not read as JSON (curl -d sends form
	 * encoding); no Content-Type at all is taken as JSON. */
	if (api_header(req, "Content-Type") != NULL && !api_content_type_is(req, "application/json")) {
		api_respond_problem(req, 415, API_PROBLEM_UNSUPPORTED_MEDIA_TYPE,
		                    "send the body as Content-Type: application/json", NULL);
		return STRAND_EINVAL;
	}
	/* cJSON does not check UTF-8 (RFC 8259 §8.1); names and metadata taken
	 * from the body are echoed in answers, which must be UTF-8 too. */
	if (!utf8_is_valid(req->body.data, len))
		return invalid(req, "body is not valid UTF-8");
	doc = cJSON_ParseWithLengthOpts(req->body.data, len, &end, 0);
	if (doc == NULL) {
		char detail[128];
		const char *at = cJSON_GetErrorPtr();
		long off = at && at >= req->body.data && at <= req->body.data + len ?
		           (long)(at - req->body.data) : -1;

		snprintf(detail, sizeof detail, "body is not valid JSON (near byte %ld)", off);
		return invalid(req, detail);
	}
	for (; end != NULL && end < req->body.data + len; end++)
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
			cJSON_Delete(doc);
			return invalid(req, "body has bytes after the JSON document");
		}
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return invalid(req, "body must be a JSON object");
	}
	*out = doc;
	return 0;
}

int api_json_only_members(api_request_t *req, const cJSON *obj, const char *what,
                          const char *const *allowed)
{
	const cJSON *m;
	size_t i;
	char detail[320];

	cJSON_ArrayForEach(m, obj) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(m->string, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			snprintf(detail, sizeof detail, "unknown member \"%.200s\" in %s", m->string, what);
			return invalid(req, detail);
		}
	}
	return 0;
}

int api_json_number_to_int64(const cJSON *item, int64_t *out)
{
	double v;

	if (!cJSON_IsNumber(item))
		return -1;
	v = item->valuedouble;
	if (!isfinite(v) || v != floor(v) || fabs(v) > JSON_EXACT_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int api_json_int64(api_request_t *req, const cJSON *obj, const char *name, int required,
                   int64_t def, int64_t min, int64_t max, int64_t *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	char detail[200];
	int64_t v;

	if (item == NULL) {
		if (!required) {
			*out = def;
			return 0;
		}
		snprintf(detail, sizeof detail, "member \"%s\" is required", name);
		return invalid(req, detail);
	}
	if (api_json_number_to_int64(item, &v) != 0 || v < min || v > max) {
		snprintf(detail, sizeof detail,
		         "member \"%s\" must be an integer in [%" PRId64 ", %" PRId64 "]", name, min, max);
		return invalid(req, detail);
	}
	*out = v;
	return 0;
}
