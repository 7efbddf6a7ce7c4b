/*
 * jsonbody.h — strict reading of small JSON request bodies (admin calls:
 * topics, offsets) with cJSON. Every failing check answers 400
 * INVALID_REQUEST itself, naming the member, and returns STRAND_EINVAL, so
 * a handler just returns the code.
 */
#ifndef STRAND_API_JSONBODY_H
#define STRAND_API_JSONBODY_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "api/http.h"

/*
 * Parse req->body as one JSON object (trailing whitespace allowed, nothing
 * else). *out is the caller's (cJSON_Delete). An empty body gives an empty
 * object when empty_ok. A body with a Content-Type other than
 * application/json is answered 415 UNSUPPORTED_MEDIA_TYPE (none at all is
 * taken as JSON); one that is not UTF-8, 400.
 * 0 or STRAND_EINVAL (answered) / STRAND_ENOMEM.
 */
int api_json_body_object(api_request_t *req, int empty_ok, cJSON **out);

/*
 * Every member of obj must be named in allowed (NULL-terminated); else 400
 * "unknown member". what names the object in the message ("request").
 */
int api_json_only_members(api_request_t *req, const cJSON *obj, const char *what,
                          const char *const *allowed);

/*
 * An integer member: absent -> *out = def (0 returned) when !required, else
 * 400. Must be a JSON number with an integral value in [min, max] (JSON
 * numbers are doubles: magnitudes above 2^53 are refused as inexact).
 */
int api_json_int64(api_request_t *req, const cJSON *obj, const char *name, int required,
                   int64_t def, int64_t min, int64_t max, int64_t *out);

/* A JSON number as an exact integer (|v| <= 2^53). 0 or -1. */
int api_json_number_to_int64(const cJSON *item, int64_t *out);

#endif
