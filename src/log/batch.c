/*
 * batch.c — Kafka RecordBatch v2 (magic 2): header decode, full validation,
 * record and header iteration, and a reusable builder.
 * Every byte is described in docs/FORMAT.md; the contract is batch.h.
 *
 * Validation is the broker's only defence against bad bytes from producers,
 * followers and disks, so every read here is bounds-checked and every sum
 * of untrusted integers is done without signed overflow.
 */
#include "log/batch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "log/crc32c.h"

/* ---- big-endian integers ------------------------------------------------- */

static uint16_t batch_rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t batch_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t batch_rd64(const uint8_t *p)
{
	return (uint64_t)batch_rd32(p) << 32 | batch_rd32(p + 4);
}

static void batch_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void batch_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void batch_wr64(uint8_t *p, uint64_t v)
{
	batch_wr32(p, (uint32_t)(v >> 32));
	batch_wr32(p + 4, (uint32_t)v);
}

/* Wrapping add: offsets and timestamps of unvalidated input must not be UB. */
static int64_t batch_add_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* ---- zig-zag varints (Kafka's ByteUtils.readVarint / readVarlong) -------- */

#define VARINT32 0
#define VARINT64 1

/*
 * Decode the zig-zag varint at p (bytes up to end): at most 5 bytes whose
 * value fits an int32 (VARINT32), or at most 10 bytes fitting an int64
 * (VARINT64). Non-minimal encodings are accepted, as Kafka accepts them.
 * Returns the bytes consumed, or 0 when the varint is truncated, longer
 * than its maximum, or out of range.
 */
static size_t batch_varint_read(const uint8_t *p, const uint8_t *end, int width,
                                int64_t *out)
{
	size_t maxbytes = width == VARINT64 ? 10 : 5, avail = (size_t)(end - p), i;
	uint64_t z = 0;

	for (i = 0; i < maxbytes && i < avail; i++) {
		z |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] & 0x80)
			continue;
		if (width == VARINT32 && z > UINT32_MAX)
			return 0;
		if (width == VARINT64 && i == 9 && p[i] > 1)
			return 0;     /* bits beyond 64 */
		*out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
		return i + 1;
	}
	return 0;
}

/* Encode v as a zig-zag varint at p (room for 10 bytes); returns its size. */
static size_t batch_varint_write(uint8_t *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;

	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

static size_t batch_varint_size(int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 1;

	while (z >= 0x80) {
		z >>= 7;
		n++;
	}
	return n;
}

/* ---- header -------------------------------------------------------------- */

int batch_header_decode(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                        batch_header_t *h, char *err, size_t errlen)
{
	if (len < BATCH_HEADER_SIZE)
		return STRAND_EAGAIN;
	h->base_offset = (int64_t)batch_rd64(buf);
	h->batch_length = (int32_t)batch_rd32(buf + 8);
	h->leader_epoch = (int32_t)batch_rd32(buf + 12);
	h->magic = (int8_t)buf[16];
	h->crc = batch_rd32(buf + 17);
	h->attributes = (int16_t)batch_rd16(buf + 21);
	h->last_offset_delta = (int32_t)batch_rd32(buf + 23);
	h->base_timestamp = (int64_t)batch_rd64(buf + 27);
	h->max_timestamp = (int64_t)batch_rd64(buf + 35);
	h->producer_id = (int64_t)batch_rd64(buf + 43);
	h->producer_epoch = (int16_t)batch_rd16(buf + 51);
	h->base_sequence = (int32_t)batch_rd32(buf + 53);
	h->record_count = (int32_t)batch_rd32(buf + 57);
	if (h->magic != BATCH_MAGIC)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "bad magic %d at byte 16 (want %d)",
		                      h->magic, BATCH_MAGIC);
	if (h->batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "batch length %d at byte 8 is below the minimum %d",
		                      h->batch_length, BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD);
	if (max_batch_bytes != 0 && batch_total_size(h) > max_batch_bytes)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "batch of %zu bytes is over the limit of %zu",
		                      batch_total_size(h), max_batch_bytes);
	if (h->record_count < 0)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "negative record count %d at byte 57", h->record_count);
	if (h->last_offset_delta < 0)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "negative last offset delta %d at byte 23",
		                      h->last_offset_delta);
	return 0;
}

void batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
	batch_wr64(batch, (uint64_t)base_offset);
}

void batch_set_leader_epoch(uint8_t *batch, int32_t leader_epoch)
{
	batch_wr32(batch + 12, (uint32_t)leader_epoch);
}

/* ---- records ------------------------------------------------------------- */

/* One record as stored: its deltas and the fields callers see. */
typedef struct batch_raw_record {
	int64_t        ts_delta;
	int64_t        off_delta;
	const uint8_t *key, *value, *headers;
	int32_t        key_len, value_len, header_count;
	size_t         headers_len;
	const uint8_t *end;           /* first byte after the record */
} batch_raw_record_t;

/*
 * Read a varint length (-1 = null) and that many bytes at *pp, bounded by end.
 * Returns 0 and advances *pp, or STRAND_ECORRUPT leaving *pp at the length.
 */
static int batch_read_bytes(const uint8_t **pp, const uint8_t *end,
                            const uint8_t **data, int32_t *len)
{
	const uint8_t *p = *pp;
	int64_t n;
	size_t k = batch_varint_read(p, end, VARINT32, &n);

	if (k == 0 || n < -1 || (n > 0 && (uint64_t)(end - p - (ptrdiff_t)k) < (uint64_t)n))
		return STRAND_ECORRUPT;
	p += k;
	*data = n == -1 ? NULL : p;
	*len = (int32_t)n;
	*pp = p + (n > 0 ? n : 0);
	return 0;
}

/*
 * Parse the record at p (batch bytes up to end) into *r, leaving the header
 * section unparsed (r->headers, r->headers_len up to the record's end).
 * Returns 0, or STRAND_ECORRUPT with *bad at the offending field and *why
 * naming it.
 */
static int batch_record_parse(const uint8_t *p, const uint8_t *end,
                              batch_raw_record_t *r, const uint8_t **bad,
                              const char **why)
{
	const uint8_t *rend;
	int64_t len, nh;
	size_t k;

	*bad = p;
	if ((k = batch_varint_read(p, end, VARINT32, &len)) == 0) {
		*why = "bad record length varint";
		return STRAND_ECORRUPT;
	}
	if (len < 1 || (uint64_t)len > (uint64_t)(end - p - (ptrdiff_t)k)) {
		*why = "record length out of bounds";
		return STRAND_ECORRUPT;
	}
	p += k;
	rend = p + len;
	p++;                                   /* record attributes: unused by Kafka */
	*bad = p;
	if ((k = batch_varint_read(p, rend, VARINT64, &r->ts_delta)) == 0) {
		*why = "bad timestamp delta varlong";
		return STRAND_ECORRUPT;
	}
	p += k;
	*bad = p;
	if ((k = batch_varint_read(p, rend, VARINT32, &r->off_delta)) == 0) {
		*why = "bad offset delta varint";
		return STRAND_ECORRUPT;
	}
	p += k;
	*bad = p;
	if (batch_read_bytes(&p, rend, &r->key, &r->key_len)) {
		*why = "bad key length";
		return STRAND_ECORRUPT;
	}
	*bad = p;
	if (batch_read_bytes(&p, rend, &r->value, &r->value_len)) {
		*why = "bad value length";
		return STRAND_ECORRUPT;
	}
	*bad = p;
	if ((k = batch_varint_read(p, rend, VARINT32, &nh)) == 0 || nh < 0) {
		*why = "bad header count";
		return STRAND_ECORRUPT;
	}
	p += k;
	r->header_count = (int32_t)nh;
	r->headers = p;
	r->headers_len = (size_t)(rend - p);
	r->end = rend;
	return 0;
}

int batch_iter_init(batch_iter_t *it, const uint8_t *batch, size_t len)
{
	batch_header_t h;
	int rc = batch_header_decode(batch, len, 0, &h, NULL, 0);

	if (rc)
		return rc == STRAND_EAGAIN ? STRAND_ECORRUPT : rc;
	if (batch_total_size(&h) > len)
		return STRAND_ECORRUPT;
	it->p = batch + BATCH_HEADER_SIZE;
	it->end = batch + batch_total_size(&h);
	it->base_offset = h.base_offset;
	it->base_timestamp = h.base_timestamp;
	it->remaining = h.record_count;
	return 0;
}

/* Hot path (fetch views, timestamp lookups): no allocation. */
int batch_iter_next(batch_iter_t *it, batch_record_t *rec)
{
	batch_raw_record_t r;
	const uint8_t *bad;
	const char *why;

	if (it->remaining <= 0)
		return 0;
	if (batch_record_parse(it->p, it->end, &r, &bad, &why))
		return STRAND_ECORRUPT;
	rec->offset = batch_add_wrap(it->base_offset, r.off_delta);
	rec->timestamp = batch_add_wrap(it->base_timestamp, r.ts_delta);
	rec->key = r.key;
	rec->key_len = r.key_len;
	rec->value = r.value;
	rec->value_len = r.value_len;
	rec->headers = r.headers;
	rec->headers_len = r.headers_len;
	rec->header_count = r.header_count;
	it->p = r.end;
	it->remaining--;
	return 1;
}

void batch_header_iter_init(batch_header_iter_t *it, const batch_record_t *rec)
{
	it->p = rec->headers;
	it->end = rec->headers + rec->headers_len;
	it->remaining = rec->header_count;
}

int batch_header_iter_next(batch_header_iter_t *it, batch_rec_header_t *h)
{
	if (it->remaining <= 0)
		return 0;
	if (batch_read_bytes(&it->p, it->end, &h->key, &h->key_len) || h->key_len < 0 ||
	    batch_read_bytes(&it->p, it->end, &h->value, &h->value_len))
		return STRAND_ECORRUPT;
	it->remaining--;
	return 1;
}

/* ---- validation ---------------------------------------------------------- */

/*
 * Check record n (raw r) against the batch header h: offset delta n (in a
 * compacted batch: above the previous record's, prev_delta, and at most
 * last_offset_delta), timestamp within max_timestamp, headers parsing
 * exactly to the record end. buf is the batch start, for byte positions in
 * messages.
 */
static int batch_validate_record(const uint8_t *buf, const batch_header_t *h,
                                 int32_t n, const batch_raw_record_t *r, int compacted,
                                 int64_t prev_delta, char *err, size_t errlen)
{
	batch_header_iter_t hi;
	batch_rec_header_t rh;
	int64_t ts;
	int32_t i;

	if (compacted && (r->off_delta <= prev_delta || r->off_delta > h->last_offset_delta))
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "record %d has offset delta %lld (want above %lld, at most %d)",
		                      n, (long long)r->off_delta, (long long)prev_delta,
		                      h->last_offset_delta);
	if (!compacted && r->off_delta != n)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "record %d has offset delta %lld (want %d)",
		                      n, (long long)r->off_delta, n);
	if (__builtin_add_overflow(h->base_timestamp, r->ts_delta, &ts) ||
	    ts > h->max_timestamp)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "record %d timestamp delta %lld is above the batch max timestamp %lld",
		                      n, (long long)r->ts_delta, (long long)h->max_timestamp);
	hi.p = r->headers;
	hi.end = r->headers + r->headers_len;
	hi.remaining = r->header_count;
	for (i = 0; i < r->header_count; i++) {
		const uint8_t *at = hi.p;

		if (batch_header_iter_next(&hi, &rh) != 1)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "record %d header %d at byte %zu is malformed or has a null key",
			                      n, i, (size_t)(at - buf));
	}
	if (hi.p != hi.end)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "record %d length disagrees with its fields: %zu bytes left at byte %zu",
		                      n, (size_t)(hi.end - hi.p), (size_t)(hi.p - buf));
	return 0;
}

/* batch_validate and batch_validate_compacted (batch.h). */
static int batch_validate_mode(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                               int compacted, batch_header_t *out, char *err, size_t errlen)
{
	batch_header_t h;
	batch_raw_record_t r;
	const uint8_t *p, *end, *bad;
	const char *why;
	int64_t last;
	uint32_t crc;
	int64_t prev_delta = -1;
	int32_t n;
	int rc;

	rc = batch_header_decode(buf, len, max_batch_bytes, &h, err, errlen);
	if (rc)
		return rc;
	if (batch_total_size(&h) > len)
		return STRAND_EAGAIN;
	crc = crc32c(buf + BATCH_CRC_START, batch_total_size(&h) - BATCH_CRC_START);
	if (crc != h.crc)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "crc mismatch: stored 0x%08x computed 0x%08x",
		                      h.crc, crc);
	if (h.attributes & BATCH_ATTR_COMPRESSION_MASK)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "compressed batches are not supported (codec %d)",
		                      h.attributes & BATCH_ATTR_COMPRESSION_MASK);
	if (h.record_count < 1 && !compacted)
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "batch has no records");
	if (compacted && h.record_count > (int64_t)h.last_offset_delta + 1)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "record count %d is above last offset delta %d + 1",
		                      h.record_count, h.last_offset_delta);
	if (!compacted && h.last_offset_delta != h.record_count - 1)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "last offset delta %d does not match record count %d",
		                      h.last_offset_delta, h.record_count);
	if (__builtin_add_overflow(h.base_offset, (int64_t)h.last_offset_delta, &last))
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "base offset %lld overflows with last offset delta %d",
		                      (long long)h.base_offset, h.last_offset_delta);
	p = buf + BATCH_HEADER_SIZE;
	end = buf + batch_total_size(&h);
	for (n = 0; n < h.record_count; n++) {
		if (p == end)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "batch ends after %d of %d records", n, h.record_count);
		if (batch_record_parse(p, end, &r, &bad, &why))
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "record %d: %s at byte %zu", n, why,
			                      (size_t)(bad - buf));
		rc = batch_validate_record(buf, &h, n, &r, compacted, prev_delta, err, errlen);
		if (rc)
			return rc;
		prev_delta = r.off_delta;
		p = r.end;
	}
	if (p != end)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%zu bytes after the last of %d records, at byte %zu",
		                      (size_t)(end - p), h.record_count, (size_t)(p - buf));
	if (out != NULL)
		*out = h;
	return 0;
}

int batch_validate(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                   batch_header_t *out, char *err, size_t errlen)
{
	return batch_validate_mode(buf, len, max_batch_bytes, 0, out, err, errlen);
}

int batch_validate_compacted(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                             batch_header_t *out, char *err, size_t errlen)
{
	return batch_validate_mode(buf, len, max_batch_bytes, 1, out, err, errlen);
}

void batch_set_records(uint8_t *batch, size_t len, int32_t record_count)
{
	batch_wr32(batch + 8, (uint32_t)(len - BATCH_LOG_OVERHEAD));
	batch_wr32(batch + 57, (uint32_t)record_count);
	batch_wr32(batch + 17, crc32c(batch + BATCH_CRC_START, len - BATCH_CRC_START));
}

/* ---- builder ------------------------------------------------------------- */

void batch_builder_init(batch_builder_t *b)
{
	memset(b, 0, sizeof(*b));
}

void batch_builder_free(batch_builder_t *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

void batch_builder_reset(batch_builder_t *b)
{
	b->len = b->start = 0;
	b->count = 0;
}

/* A batch is open between begin and finish: its header space is reserved. */
static int batch_builder_is_open(const batch_builder_t *b)
{
	return b->len - b->start >= BATCH_HEADER_SIZE;
}

/* Make room for extra more bytes; doubles, so appends are amortised O(1). */
static int batch_builder_reserve(batch_builder_t *b, size_t extra)
{
	size_t need = b->len + extra, ncap;
	uint8_t *p;

	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 4096;
	while (ncap < need)
		ncap *= 2;
	p = realloc(b->buf, ncap);
	if (p == NULL)
		return STRAND_ENOMEM;
	b->buf = p;
	b->cap = ncap;
	return 0;
}

int batch_builder_begin(batch_builder_t *b, int64_t producer_id,
                        int16_t producer_epoch, int32_t base_sequence)
{
	if (batch_builder_is_open(b))
		b->len = b->start;             /* drop the unfinished batch */
	if (batch_builder_reserve(b, BATCH_HEADER_SIZE))
		return STRAND_ENOMEM;
	b->start = b->len;
	memset(b->buf + b->start, 0, BATCH_HEADER_SIZE);
	b->len += BATCH_HEADER_SIZE;
	b->count = 0;
	b->base_timestamp = b->max_timestamp = -1;
	b->producer_id = producer_id;
	b->producer_epoch = producer_epoch;
	b->base_sequence = base_sequence;
	return 0;
}

/* Write a length varint and the bytes (none for -1 or 0); returns the new p. */
static uint8_t *batch_put_bytes(uint8_t *p, const uint8_t *data, int32_t len)
{
	p += batch_varint_write(p, len);
	if (len > 0) {
		memcpy(p, data, (size_t)len);
		p += len;
	}
	return p;
}

/* Encoded size of a length-prefixed field, or -1 for a length below -1. */
static int64_t batch_bytes_size(const uint8_t *data, int32_t len)
{
	if (len < -1 || (len > 0 && data == NULL))
		return -1;
	return (int64_t)batch_varint_size(len) + (len > 0 ? len : 0);
}

/* Hot path: no allocation once the buffer has grown. */
int batch_builder_add(batch_builder_t *b, int64_t timestamp,
                      const uint8_t *key, int32_t key_len,
                      const uint8_t *value, int32_t value_len,
                      const batch_kv_t *headers, int32_t nheaders)
{
	int64_t ts_delta, body, kv, batch_len;
	uint8_t *p;
	int32_t i;

	if (!batch_builder_is_open(b) || nheaders < 0 || (nheaders > 0 && headers == NULL))
		return STRAND_EINVAL;
	if (b->count == INT32_MAX)
		return STRAND_ETOOBIG;
	if (b->count == 0)
		ts_delta = 0;
	else if (__builtin_sub_overflow(timestamp, b->base_timestamp, &ts_delta))
		return STRAND_EINVAL;
	body = 1 + (int64_t)batch_varint_size(ts_delta) + (int64_t)batch_varint_size(b->count) +
	       (int64_t)batch_varint_size(nheaders);
	if ((kv = batch_bytes_size(key, key_len)) < 0)
		return STRAND_EINVAL;
	body += kv;
	if ((kv = batch_bytes_size(value, value_len)) < 0)
		return STRAND_EINVAL;
	body += kv;
	for (i = 0; i < nheaders && body <= INT32_MAX; i++) {
		if (headers[i].key_len < 0)
			return STRAND_EINVAL;  /* header keys are never null */
		if ((kv = batch_bytes_size(headers[i].key, headers[i].key_len)) < 0)
			return STRAND_EINVAL;
		body += kv;
		if ((kv = batch_bytes_size(headers[i].value, headers[i].value_len)) < 0)
			return STRAND_EINVAL;
		body += kv;
	}
	batch_len = (int64_t)(b->len - b->start - BATCH_LOG_OVERHEAD) +
	            (int64_t)batch_varint_size(body) + body;
	if (body > INT32_MAX || batch_len > INT32_MAX)
		return STRAND_ETOOBIG;
	if (batch_builder_reserve(b, (size_t)body + batch_varint_size(body)))
		return STRAND_ENOMEM;
	p = b->buf + b->len;
	p += batch_varint_write(p, body);
	*p++ = 0;                              /* record attributes */
	p += batch_varint_write(p, ts_delta);
	p += batch_varint_write(p, b->count);  /* offset delta */
	p = batch_put_bytes(p, key, key_len);
	p = batch_put_bytes(p, value, value_len);
	p += batch_varint_write(p, nheaders);
	for (i = 0; i < nheaders; i++) {
		p = batch_put_bytes(p, headers[i].key, headers[i].key_len);
		p = batch_put_bytes(p, headers[i].value, headers[i].value_len);
	}
	b->len = (size_t)(p - b->buf);
	if (b->count == 0)
		b->base_timestamp = b->max_timestamp = timestamp;
	else if (timestamp > b->max_timestamp)
		b->max_timestamp = timestamp;
	b->count++;
	return 0;
}

int batch_builder_finish(batch_builder_t *b, size_t *size_out)
{
	uint8_t *h;
	size_t size;

	if (!batch_builder_is_open(b))
		return STRAND_EINVAL;
	if (b->count == 0) {
		b->len = b->start;
		return STRAND_EINVAL;
	}
	h = b->buf + b->start;
	size = b->len - b->start;
	batch_wr64(h, 0);
	batch_wr32(h + 8, (uint32_t)(size - BATCH_LOG_OVERHEAD));
	batch_wr32(h + 12, (uint32_t)-1);
	h[16] = BATCH_MAGIC;
	batch_wr16(h + 21, 0);
	batch_wr32(h + 23, (uint32_t)(b->count - 1));
	batch_wr64(h + 27, (uint64_t)b->base_timestamp);
	batch_wr64(h + 35, (uint64_t)b->max_timestamp);
	batch_wr64(h + 43, (uint64_t)b->producer_id);
	batch_wr16(h + 51, (uint16_t)b->producer_epoch);
	batch_wr32(h + 53, (uint32_t)b->base_sequence);
	batch_wr32(h + 57, (uint32_t)b->count);
	batch_wr32(h + 17, crc32c(h + BATCH_CRC_START, size - BATCH_CRC_START));
	if (size_out != NULL)
		*size_out = size;
	b->count = 0;
	b->start = b->len;
	return 0;
}

void batch_set_producer(uint8_t *batch, size_t len, int64_t producer_id,
                        int16_t producer_epoch, int32_t base_sequence)
{
	batch_wr64(batch + 43, (uint64_t)producer_id);
	batch_wr16(batch + 51, (uint16_t)producer_epoch);
	batch_wr32(batch + 53, (uint32_t)base_sequence);
	batch_wr32(batch + 17, crc32c(batch + BATCH_CRC_START, len - BATCH_CRC_START));
}

size_t batch_builder_pending_size(const batch_builder_t *b)
{
	return b->len - b->start;
}
