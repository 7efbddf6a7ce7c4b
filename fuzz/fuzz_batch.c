/*
 * fuzz_batch.c — libFuzzer target for the RecordBatch v2 decoder and
 * validator (src/log/batch.c) as binary produce and log recovery use them,
 * and for the JSON and SSE views of whatever batch_validate accepts
 * (api/records.c), which is all a fetch ever shows.
 *
 * Input: one mode byte, then batches back to back. Mode bit 0: recompute
 * each batch's CRC32C first (random bytes almost never carry a right CRC,
 * so without this the fuzzer could not get past the check into the
 * records); bits 1-2 key format, bits 3-4 value format of the views; bit 5:
 * a small max_batch_bytes (4 KiB) instead of none.
 *
 * What must hold, else the target aborts (a finding):
 *   - batch_validate accepts only what batch_header_decode accepts, with
 *     the same header;
 *   - the records of an accepted batch iterate to exactly record_count,
 *     at consecutive offsets, with key, value and headers inside the batch;
 *   - the JSON view of an accepted batch is valid UTF-8 and parses as JSON
 *     with one object per record; every SSE event's data line likewise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/records.h"
#include "common/buf.h"
#include "common/utf8.h"
#include "log/batch.h"
#include "log/crc32c.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Write each batch's CRC32C over [21, end) as a well-behaved producer would. */
static void fix_crcs(uint8_t *buf, size_t len)
{
	size_t pos = 0;

	while (len - pos >= BATCH_HEADER_SIZE) {
		uint32_t blen = get_be32(buf + pos + 8);
		size_t total = (size_t)blen + BATCH_LOG_OVERHEAD;
		uint32_t crc;

		if (blen > len || total > len - pos || total < BATCH_HEADER_SIZE)
			return;
		crc = crc32c(buf + pos + BATCH_CRC_START, total - BATCH_CRC_START);
		buf[pos + 17] = (uint8_t)(crc >> 24);
		buf[pos + 18] = (uint8_t)(crc >> 16);
		buf[pos + 19] = (uint8_t)(crc >> 8);
		buf[pos + 20] = (uint8_t)crc;
		pos += total;
	}
}

static void check_records(const uint8_t *b, size_t total, const batch_header_t *h)
{
	batch_iter_t it;
	batch_record_t rec;
	int32_t n = 0;
	int rc;

	FUZZ_CHECK(batch_iter_init(&it, b, total) == 0);
	while ((rc = batch_iter_next(&it, &rec)) == 1) {
		batch_header_iter_t hi;
		batch_rec_header_t rh;
		int32_t nh = 0;

		FUZZ_CHECK(rec.offset == h->base_offset + n);
		FUZZ_CHECK(rec.key_len >= -1 && rec.value_len >= -1);
		if (rec.key_len > 0)
			FUZZ_CHECK(rec.key >= b && rec.key + rec.key_len <= b + total);
		if (rec.value_len > 0)
			FUZZ_CHECK(rec.value >= b && rec.value + rec.value_len <= b + total);
		batch_header_iter_init(&hi, &rec);
		while ((rc = batch_header_iter_next(&hi, &rh)) == 1) {
			if (rh.key_len > 0)
				FUZZ_CHECK(rh.key >= b && rh.key + rh.key_len <= b + total);
			if (rh.value_len > 0)
				FUZZ_CHECK(rh.value >= b && rh.value + rh.value_len <= b + total);
			nh++;
		}
		FUZZ_CHECK(rc == 0);   /* validated: headers parse */
		FUZZ_CHECK(nh == rec.header_count);
		n++;
	}
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(n == h->record_count);
}

/* The JSON view must be JSON with one object per record; SSE data lines too. */
static void check_views(const uint8_t *b, size_t total, const batch_header_t *h,
                        record_format_t kf, record_format_t vf)
{
	buf_t out = BUF_INIT;
	size_t count = 0;
	int64_t next = h->base_offset;
	cJSON *doc;
	char *line;

	FUZZ_CHECK(buf_append_str(&out, "[") == 0);
	FUZZ_CHECK(records_json_append(&out, b, total, h->base_offset, INT64_MAX, 0, kf, vf,
	                               &count, &next) == 0);
	FUZZ_CHECK(buf_append_str(&out, "]") == 0);
	FUZZ_CHECK(count == (size_t)h->record_count);
	FUZZ_CHECK(next == h->base_offset + h->record_count);
	FUZZ_CHECK(utf8_is_valid(out.data, out.len));
	doc = cJSON_ParseWithLength(out.data, out.len);
	if (doc == NULL)
		fprintf(stderr, "view is not JSON: %.*s\n", (int)(out.len > 2000 ? 2000 : out.len),
		        out.data);
	FUZZ_CHECK(doc != NULL);
	FUZZ_CHECK(cJSON_GetArraySize(doc) == h->record_count);
	cJSON_Delete(doc);

	buf_reset(&out);
	count = 0;
	next = h->base_offset;
	FUZZ_CHECK(records_sse_append(&out, b, total, h->base_offset, INT64_MAX, 0, kf, vf,
	                              &count, &next) == 0);
	FUZZ_CHECK(count == (size_t)h->record_count);
	FUZZ_CHECK(utf8_is_valid(out.data, out.len));
	for (line = out.data; line != NULL && *line; ) {
		char *eol = strchr(line, '\n');

		FUZZ_CHECK(eol != NULL);
		if (strncmp(line, "data: ", 6) == 0) {
			doc = cJSON_ParseWithLength(line + 6, (size_t)(eol - line - 6));
			FUZZ_CHECK(doc != NULL);
			cJSON_Delete(doc);
		}
		line = eol + 1;
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode, *buf;
	size_t len, pos = 0, max_batch;
	record_format_t kf, vf;
	char err[256];

	if (size < 1)
		return 0;
	mode = data[0];
	len = size - 1;
	buf = malloc(len ? len : 1);   /* exact size: ASan sees every overread */
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data + 1, len);
	if (mode & 1)
		fix_crcs(buf, len);
	kf = (record_format_t)(((mode >> 1) & 3) % 3);
	vf = (record_format_t)(((mode >> 3) & 3) % 3);
	max_batch = (mode & 0x20) ? 4096 : 0;

	while (pos < len) {
		batch_header_t h, hv;
		int rc = batch_header_decode(buf + pos, len - pos, max_batch, &h, err, sizeof err);
		int rv = batch_validate(buf + pos, len - pos, max_batch, &hv, err, sizeof err);

		if (rc != 0) {
			FUZZ_CHECK(rv != 0);
			break;
		}
		if (rv != 0)
			break;
		FUZZ_CHECK(h.base_offset == hv.base_offset && h.batch_length == hv.batch_length &&
		           h.crc == hv.crc && h.attributes == hv.attributes &&
		           h.last_offset_delta == hv.last_offset_delta &&
		           h.record_count == hv.record_count &&
		           h.base_timestamp == hv.base_timestamp &&
		           h.max_timestamp == hv.max_timestamp);
		FUZZ_CHECK(batch_total_size(&h) <= len - pos);
		check_records(buf + pos, batch_total_size(&h), &h);
		check_views(buf + pos, batch_total_size(&h), &h, kf, vf);
		pos += batch_total_size(&h);
	}
	free(buf);
	return 0;
}
