/*
 * fetch.h — the JSON read path of fetches, shared by the partition fetch
 * (api/fetch.c) and the group member fetch (api/groups.c), so both render
 * records the same way from the same slices.
 */
#ifndef STRAND_API_FETCH_H
#define STRAND_API_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "common/buf.h"
#include "log/log.h"

/*
 * Append the JSON objects of log's records from *next (below hw) to out,
 * comma-separated after the *count records already there (records.h
 * records_json_append_tagged; tag may be NULL), until *count reaches
 * max_records, *bytes (stored batch bytes read, accumulated) reaches
 * max_bytes, or hw. *next, *count and *bytes advance. raw is a scratch
 * buffer reused across calls.
 * Returns 0; STRAND_ERANGE when *next is outside the log and nothing was
 * appended by this call (out unchanged: answer 416 or reset the
 * position); STRAND_EIO, STRAND_ENOMEM, STRAND_ECORRUPT (message in err).
 */
int fetch_json_append(buf_t *out, buf_t *raw, log_t *log, int64_t hw, const char *tag,
                      record_format_t key_format, record_format_t value_format,
                      int64_t max_records, int64_t max_bytes, int64_t *next, size_t *count,
                      int64_t *bytes, char *err, size_t errlen);

#endif
