/*
 * records.h — the JSON faces of records (API.md "Records"): streaming
 * parsers for produce bodies (application/json {"records":[...]} and
 * application/x-ndjson) that turn each record into key/value bytes by the
 * topic's key_format/value_format, and the JSON and Server-Sent-Events
 * views of stored batches for fetch.
 *
 * Formats: json (any JSON value, stored as its compact text, shown
 * embedded), string (a JSON string, stored as UTF-8, shown as a string),
 * binary (base64 in JSON, stored decoded, shown base64). Stored bytes that
 * do not fit the topic's format are shown base64 with
 * "key_encoding"/"value_encoding": "base64".
 *
 * No HTTP here: these are pure transformations, fuzzable and unit-tested.
 */
#ifndef STRAND_RECORDS_H
#define STRAND_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "common/buf.h"
#include "log/batch.h"

typedef enum records_body_kind {
	RECORDS_BODY_JSON = 0,   /* {"records":[record, ...]} */
	RECORDS_BODY_NDJSON,     /* one record object per line; blank lines ignored */
} records_body_kind_t;

/* One parsed record; every pointer borrows from the parser until the callback returns. */
typedef struct produce_record {
	const uint8_t    *key;       /* NULL when key_len == -1 (no key / null) */
	int32_t           key_len;
	const uint8_t    *value;     /* value is required; JSON null gives value_len -1 */
	int32_t           value_len;
	const batch_kv_t *headers;   /* header name -> UTF-8 text */
	int32_t           nheaders;
	int64_t           timestamp; /* -1: none given (the broker stamps now) */
	int32_t           partition; /* -1: none given */
	size_t            index;     /* 0-based position in the request, for error messages */
} produce_record_t;

/* Called per record in request order; a non-zero return stops parsing and is returned by feed/finish. */
typedef int (*records_on_record_fn)(void *ctx, const produce_record_t *rec);

typedef struct records_limits {
	size_t max_record_bytes;   /* key + value + headers bytes after decoding: over -> STRAND_ETOOBIG */
	size_t max_records;        /* records per request: over -> STRAND_ETOOBIG; 0 = no limit */
	int    max_depth;          /* JSON nesting depth: over -> STRAND_EINVAL; default 64 */
} records_limits_t;

typedef struct records_parser records_parser_t;

/*
 * A parser for one request body. Returns 0 or STRAND_ENOMEM.
 * The parser keeps at most one record's text buffered at a time (plus the
 * partial line/element), so bodies of any length stream through.
 */
int  records_parser_new(records_body_kind_t kind, record_format_t key_format,
                        record_format_t value_format, const records_limits_t *limits,
                        records_parser_t **out);
void records_parser_free(records_parser_t *p);

/*
 * Feed the next chunk. Complete records are parsed and handed to on_record.
 * Errors: STRAND_EINVAL with a message naming the record index and the
 * problem (bad JSON, missing "value", wrong type, bad base64, value not a
 * string for format string, invalid UTF-8, unknown member, partition not an
 * integer >= 0, timestamp not an integer >= 0, headers not an object of
 * strings), STRAND_ETOOBIG (record or count over the limits), or the
 * callback's own code. After an error the parser must not be fed again.
 */
int records_parser_feed(records_parser_t *p, const char *data, size_t len,
                        records_on_record_fn on_record, void *ctx,
                        char *err, size_t errlen);

/* End of body: flushes a last NDJSON line without newline; STRAND_EINVAL
 * when the JSON document is incomplete (truncated body) or has no records. */
int records_parser_finish(records_parser_t *p, records_on_record_fn on_record,
                          void *ctx, char *err, size_t errlen);

/* Records parsed so far. */
size_t records_parser_count(const records_parser_t *p);

/*
 * Append the JSON objects of the records in batches[0, len) whose offsets
 * are in [from_offset, below_offset), at most max_records (0 = no limit),
 * comma-separated (a leading comma when *count is already > 0), to out:
 *   {"offset":N,"timestamp":T,"key":K,"value":V,"headers":{...}}
 * (plus "key_encoding"/"value_encoding":"base64" where bytes do not fit the
 * format; null key/value as null). *count and *next_offset advance with every
 * record written. Returns 0, STRAND_ENOMEM, STRAND_ECORRUPT.
 */
int records_json_append(buf_t *out, const uint8_t *batches, size_t len,
                        int64_t from_offset, int64_t below_offset, size_t max_records,
                        record_format_t key_format, record_format_t value_format,
                        size_t *count, int64_t *next_offset);

/*
 * As records_json_append, with tag (JSON members followed by a comma, e.g.
 * "\"topic\":\"t\",\"partition\":0,"; NULL: none) written first in
 * every record object. Member fetches tag records with their partition.
 */
int records_json_append_tagged(buf_t *out, const char *tag, const uint8_t *batches, size_t len,
                               int64_t from_offset, int64_t below_offset, size_t max_records,
                               record_format_t key_format, record_format_t value_format,
                               size_t *count, int64_t *next_offset);

/*
 * As records_json_append but as Server-Sent Events, one per record:
 *   "id: <offset>\ndata: <record JSON on one line>\n\n"
 */
int records_sse_append(buf_t *out, const uint8_t *batches, size_t len,
                       int64_t from_offset, int64_t below_offset, size_t max_records,
                       record_format_t key_format, record_format_t value_format,
                       size_t *count, int64_t *next_offset);

#endif
