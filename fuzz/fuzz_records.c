/*
 * fuzz_records.c — libFuzzer target for the streaming produce-body parsers
 * (api/records.c): {"records":[...]} when built with FUZZ_RECORDS_KIND=
 * RECORDS_BODY_JSON (fuzz_records_json), one record per line with
 * RECORDS_BODY_NDJSON (fuzz_records_ndjson).
 *
 * Input: one mode byte, then the body. Mode bits 0-1 key format, bits 2-3
 * value format (json, string, binary), bits 4-7 the chunk size the body
 * is fed in (1 << n bytes), as libmicrohttpd may cut a body anywhere.
 * Limits are small (1 KiB per record, 64 records, depth 16) so the fuzzer
 * reaches them.
 *
 * What must hold, else the target aborts (a finding):
 *   - the body fed in chunks gives the same records and the same result
 *     as the body fed whole (the parser keeps no state that depends on
 *     where a chunk ends);
 *   - every record handed on respects the limits; a json-format key or
 *     value is one JSON value, a string-format one valid UTF-8, header
 *     names and values valid UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/records.h"
#include "common/buf.h"
#include "common/utf8.h"

#ifndef FUZZ_RECORDS_KIND
#error "build with -DFUZZ_RECORDS_KIND=RECORDS_BODY_JSON or RECORDS_BODY_NDJSON"
#endif

#define FUZZ_CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

#define FUZZ_MAX_RECORD_BYTES 1024
#define FUZZ_MAX_RECORDS      64
#define FUZZ_MAX_DEPTH        16

typedef struct collector {
	buf_t           digest;   /* every record's fields, framed */
	size_t          n;
	record_format_t kf, vf;
} collector_t;

static void check_bytes(record_format_t f, const uint8_t *p, int32_t len)
{
	cJSON *doc;

	if (len <= 0 || f == RECORD_FORMAT_BINARY)
		return;
	FUZZ_CHECK(utf8_is_valid(p, (size_t)len));
	if (f != RECORD_FORMAT_JSON)
		return;
	doc = cJSON_ParseWithLength((const char *)p, (size_t)len);
	FUZZ_CHECK(doc != NULL);
	cJSON_Delete(doc);
}

static void digest_field(buf_t *d, const uint8_t *p, int32_t len)
{
	FUZZ_CHECK(buf_append_int64(d, len) == 0);
	FUZZ_CHECK(buf_append(d, ":", 1) == 0);
	if (len > 0)
		FUZZ_CHECK(buf_append(d, p, (size_t)len) == 0);
}

static int collect(void *ctx, const produce_record_t *rec)
{
	collector_t *c = ctx;
	size_t total = 0;
	int32_t i;

	FUZZ_CHECK(rec->index == c->n);
	FUZZ_CHECK(rec->key_len >= -1 && rec->value_len >= -1);
	FUZZ_CHECK(rec->key_len <= 0 || rec->key != NULL);
	FUZZ_CHECK(rec->value_len <= 0 || rec->value != NULL);
	FUZZ_CHECK(rec->timestamp >= -1 && rec->partition >= -1);
	FUZZ_CHECK(rec->nheaders >= 0);
	check_bytes(c->kf, rec->key, rec->key_len);
	check_bytes(c->vf, rec->value, rec->value_len);
	total += rec->key_len > 0 ? (size_t)rec->key_len : 0;
	total += rec->value_len > 0 ? (size_t)rec->value_len : 0;
	digest_field(&c->digest, rec->key, rec->key_len);
	digest_field(&c->digest, rec->value, rec->value_len);
	for (i = 0; i < rec->nheaders; i++) {
		const batch_kv_t *h = &rec->headers[i];

		FUZZ_CHECK(h->key_len >= 0 && h->value_len >= -1);
		FUZZ_CHECK(utf8_is_valid(h->key, (size_t)h->key_len));
		if (h->value_len > 0)
			FUZZ_CHECK(utf8_is_valid(h->value, (size_t)h->value_len));
		total += (size_t)h->key_len + (h->value_len > 0 ? (size_t)h->value_len : 0);
		digest_field(&c->digest, h->key, h->key_len);
		digest_field(&c->digest, h->value, h->value_len);
	}
	FUZZ_CHECK(total <= FUZZ_MAX_RECORD_BYTES);
	FUZZ_CHECK(buf_appendf(&c->digest, "t%lld p%d;", (long long)rec->timestamp,
	                       (int)rec->partition) == 0);
	c->n++;
	FUZZ_CHECK(c->n <= FUZZ_MAX_RECORDS);
	return 0;
}

/* Parse body fed in chunks of chunk bytes; the parser's result code. */
static int parse(const char *body, size_t len, size_t chunk, collector_t *c)
{
	records_limits_t lim = { FUZZ_MAX_RECORD_BYTES, FUZZ_MAX_RECORDS, FUZZ_MAX_DEPTH };
	records_parser_t *p;
	char err[256];
	size_t i, n;
	int rc = 0;

	FUZZ_CHECK(records_parser_new(FUZZ_RECORDS_KIND, c->kf, c->vf, &lim, &p) == 0);
	for (i = 0; i < len && rc == 0; i += n) {
		n = len - i < chunk ? len - i : chunk;
		rc = records_parser_feed(p, body + i, n, collect, c, err, sizeof err);
	}
	if (rc == 0)
		rc = records_parser_finish(p, collect, c, err, sizeof err);
	if (rc == 0)
		FUZZ_CHECK(records_parser_count(p) == c->n);
	else
		FUZZ_CHECK(err[0] != '\0');   /* every refusal says why */
	records_parser_free(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	collector_t whole = { BUF_INIT, 0, 0, 0 }, cut = { BUF_INIT, 0, 0, 0 };
	size_t len, chunk;
	char *body;
	int rw, rc;

	if (size < 1)
		return 0;
	whole.kf = cut.kf = (record_format_t)((data[0] & 3) % 3);
	whole.vf = cut.vf = (record_format_t)(((data[0] >> 2) & 3) % 3);
	chunk = (size_t)1 << (data[0] >> 4);
	len = size - 1;
	body = malloc(len ? len : 1);   /* exact size: ASan sees every overread */
	FUZZ_CHECK(body != NULL);
	memcpy(body, data + 1, len);

	rw = parse(body, len, len ? len : 1, &whole);
	rc = parse(body, len, chunk, &cut);
	if (rw != rc || whole.n != cut.n || whole.digest.len != cut.digest.len ||
	    (whole.digest.len && memcmp(whole.digest.data, cut.digest.data, whole.digest.len))) {
		fprintf(stderr, "whole: rc %d, %zu records; in chunks of %zu: rc %d, %zu records\n",
		        rw, whole.n, chunk, rc, cut.n);
		abort();
	}
	buf_free(&whole.digest);
	buf_free(&cut.digest);
	free(body);
	return 0;
}
