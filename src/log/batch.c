/*
 * batch.c — Kafka RecordBatch v2: header decode, full validation, record
 * and header iteration, and a reusable builder. Bytes: docs/FORMAT.md.
 */
#include "log/batch.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "log/crc32c.h"

/* ---- big-endian and varints ---------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)(v >> 32)); wr32(p + 4, (uint32_t)v); }

/*
 * Zig-zag varint of at most maxbytes bytes (5 for int32, 10 for int64).
 * Returns bytes consumed, 0 on a truncated or overlong encoding.
 */
static size_t varint_read(const uint8_t *p, const uint8_t *end, int maxbytes, int64_t *out)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < maxbytes && p + i < end; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
			return (size_t)i + 1;
		}
	}
	return 0;
}

static size_t varint_write(uint8_t *p, int64_t v)
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

static size_t varint_size(int64_t v)
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
	h->base_offset = (int64_t)rd64(buf);
	h->batch_length = (int32_t)rd32(buf + 8);
	h->leader_epoch = (int32_t)rd32(buf + 12);
	h->magic = (int8_t)buf[16];
	h->crc = rd32(buf + 17);
	h->attributes = (int16_t)rd16(buf + 21);
	h->last_offset_delta = (int32_t)rd32(buf + 23);
	h->base_timestamp = (int64_t)rd64(buf + 27);
	h->max_timestamp = (int64_t)rd64(buf + 35);
	h->producer_id = (int64_t)rd64(buf + 43);
	h->producer_epoch = (int16_t)rd16(buf + 51);
	h->base_sequence = (int32_t)rd32(buf + 53);
	h->record_count = (int32_t)rd32(buf + 57);
	if (h->magic != BATCH_MAGIC)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "bad magic %d (want %d)", h->magic, BATCH_MAGIC);
	if (h->batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "batch length %d too small", h->batch_length);
	if (max_batch_bytes && batch_total_size(h) > max_batch_bytes)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "batch length %d over the limit of %zu",
		                      h->batch_length, max_batch_bytes);
	if (h->record_count < 0 || h->last_offset_delta < 0)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "negative record count or offset delta");
	return 0;
}

void batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
	wr64(batch, (uint64_t)base_offset);
}

void batch_set_leader_epoch(uint8_t *batch, int32_t leader_epoch)
{
	wr32(batch + 12, (uint32_t)leader_epoch);
}

/* ---- records ------------------------------------------------------------- */

/* Read a length-prefixed byte field (-1 = null). */
static int read_bytes(const uint8_t **pp, const uint8_t *end, const uint8_t **data, int32_t *len)
{
	int64_t n;
	size_t k = varint_read(*pp, end, 5, &n);

	if (k == 0 || n < -1 || n > INT32_MAX)
		return STRAND_ECORRUPT;
	*pp += k;
	if (n == -1) {
		*data = NULL;
		*len = -1;
		return 0;
	}
	if ((int64_t)(end - *pp) < n)
		return STRAND_ECORRUPT;
	*data = *pp;
	*len = (int32_t)n;
	*pp += n;
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

int batch_iter_next(batch_iter_t *it, batch_record_t *rec)
{
	const uint8_t *p = it->p, *rend;
	int64_t len, ts_delta, off_delta, nh;
	size_t k;

	if (it->remaining <= 0)
		return 0;
	k = varint_read(p, it->end, 5, &len);
	if (k == 0 || len < 1 || (int64_t)(it->end - p - (int64_t)k) < len)
		return STRAND_ECORRUPT;
	p += k;
	rend = p + len;
	p++;                                   /* record attributes (unused) */
	if ((k = varint_read(p, rend, 10, &ts_delta)) == 0)
		return STRAND_ECORRUPT;
	p += k;
	if ((k = varint_read(p, rend, 5, &off_delta)) == 0 || off_delta < 0)
		return STRAND_ECORRUPT;
	p += k;
	if (read_bytes(&p, rend, &rec->key, &rec->key_len) ||
	    read_bytes(&p, rend, &rec->value, &rec->value_len))
		return STRAND_ECORRUPT;
	if ((k = varint_read(p, rend, 5, &nh)) == 0 || nh < 0 || nh > INT32_MAX)
		return STRAND_ECORRUPT;
	p += k;
	rec->offset = it->base_offset + off_delta;
	rec->timestamp = it->base_timestamp + ts_delta;
	rec->headers = p;
	rec->headers_len = (size_t)(rend - p);
	rec->header_count = (int32_t)nh;
	it->p = rend;
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
	if (read_bytes(&it->p, it->end, &h->key, &h->key_len) || h->key_len < 0 ||
	    read_bytes(&it->p, it->end, &h->value, &h->value_len))
		return STRAND_ECORRUPT;
	it->remaining--;
	return 1;
}

int batch_validate(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                   batch_header_t *out, char *err, size_t errlen)
{
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	uint32_t crc;
	int32_t n = 0;
	int rc;

	rc = batch_header_decode(buf, len, max_batch_bytes, &h, err, errlen);
	if (rc)
		return rc;
	if (batch_total_size(&h) > len)
		return STRAND_EAGAIN;
	crc = crc32c(buf + BATCH_CRC_START, batch_total_size(&h) - BATCH_CRC_START);
	if (crc != h.crc)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "crc mismatch: stored 0x%08x computed 0x%08x", h.crc, crc);
	if (h.attributes & BATCH_ATTR_COMPRESSION_MASK)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "compressed batches are not supported");
	if (h.record_count < 1 || h.last_offset_delta != h.record_count - 1)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "record count %d does not match last offset delta %d",
		                      h.record_count, h.last_offset_delta);
	if ((rc = batch_iter_init(&it, buf, len)) != 0)
		return strand_err_set(err, errlen, rc, "unreadable batch");
	while ((rc = batch_iter_next(&it, &rec)) == 1) {
		batch_header_iter_t hi;
		batch_rec_header_t rh;

		if (rec.offset - h.base_offset != n)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "record %d has offset delta %lld", n,
			                      (long long)(rec.offset - h.base_offset));
		if (rec.timestamp > h.max_timestamp)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "record %d timestamp is above the batch max timestamp", n);
		batch_header_iter_init(&hi, &rec);
		while ((rc = batch_header_iter_next(&hi, &rh)) == 1)
			;
		if (rc || hi.p != hi.end)
			return strand_err_set(err, errlen, STRAND_ECORRUPT,
			                      "record %d: bad headers", n);
		n++;
	}
	if (rc)
		return strand_err_set(err, errlen, STRAND_ECORRUPT, "record %d is malformed", n);
	if (it.p != it.end)
		return strand_err_set(err, errlen, STRAND_ECORRUPT,
		                      "%zu bytes after the last record", (size_t)(it.end - it.p));
	if (out != NULL)
		*out = h;
	return 0;
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

static int builder_reserve(batch_builder_t *b, size_t extra)
{
	size_t need = b->len + extra, ncap;
	uint8_t *p;

	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap * 2 : 4096;
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
	if (builder_reserve(b, BATCH_HEADER_SIZE))
		return STRAND_ENOMEM;
	b->start = b->len;
	b->len += BATCH_HEADER_SIZE;
	b->count = 0;
	b->base_timestamp = b->max_timestamp = -1;
	b->producer_id = producer_id;
	b->producer_epoch = producer_epoch;
	b->base_sequence = base_sequence;
	return 0;
}

/* Hot path: no allocation once the buffer has grown. */
int batch_builder_add(batch_builder_t *b, int64_t timestamp,
                      const uint8_t *key, int32_t key_len,
                      const uint8_t *value, int32_t value_len,
                      const batch_kv_t *headers, int32_t nheaders)
{
	int64_t ts_delta, body;
	size_t need;
	uint8_t *p;
	int32_t i;

	if (b->count == 0)
		b->base_timestamp = b->max_timestamp = timestamp;
	ts_delta = timestamp - b->base_timestamp;
	body = 1 + (int64_t)varint_size(ts_delta) + (int64_t)varint_size(b->count) +
	       (int64_t)varint_size(key_len) + (key_len > 0 ? key_len : 0) +
	       (int64_t)varint_size(value_len) + (value_len > 0 ? value_len : 0) +
	       (int64_t)varint_size(nheaders);
	for (i = 0; i < nheaders; i++)
		body += (int64_t)varint_size(headers[i].key_len) + headers[i].key_len +
		        (int64_t)varint_size(headers[i].value_len) +
		        (headers[i].value_len > 0 ? headers[i].value_len : 0);
	need = (size_t)body + varint_size(body);
	if (builder_reserve(b, need))
		return STRAND_ENOMEM;
	p = b->buf + b->len;
	p += varint_write(p, body);
	*p++ = 0;
	p += varint_write(p, ts_delta);
	p += varint_write(p, b->count);
	p += varint_write(p, key_len);
	if (key_len > 0) {
		memcpy(p, key, (size_t)key_len);
		p += key_len;
	}
	p += varint_write(p, value_len);
	if (value_len > 0) {
		memcpy(p, value, (size_t)value_len);
		p += value_len;
	}
	p += varint_write(p, nheaders);
	for (i = 0; i < nheaders; i++) {
		p += varint_write(p, headers[i].key_len);
		memcpy(p, headers[i].key, (size_t)headers[i].key_len);
		p += headers[i].key_len;
		p += varint_write(p, headers[i].value_len);
		if (headers[i].value_len > 0) {
			memcpy(p, headers[i].value, (size_t)headers[i].value_len);
			p += headers[i].value_len;
		}
	}
	b->len = (size_t)(p - b->buf);
	b->count++;
	if (timestamp > b->max_timestamp)
		b->max_timestamp = timestamp;
	return 0;
}

int batch_builder_finish(batch_builder_t *b, size_t *size_out)
{
	uint8_t *h = b->buf + b->start;
	size_t size = b->len - b->start;

	if (b->count == 0) {
		b->len = b->start;
		return STRAND_EINVAL;
	}
	wr64(h, 0);
	wr32(h + 8, (uint32_t)(size - BATCH_LOG_OVERHEAD));
	wr32(h + 12, (uint32_t)-1);
	h[16] = BATCH_MAGIC;
	wr16(h + 21, 0);
	wr32(h + 23, (uint32_t)(b->count - 1));
	wr64(h + 27, (uint64_t)b->base_timestamp);
	wr64(h + 35, (uint64_t)b->max_timestamp);
	wr64(h + 43, (uint64_t)b->producer_id);
	wr16(h + 51, (uint16_t)b->producer_epoch);
	wr32(h + 53, (uint32_t)b->base_sequence);
	wr32(h + 57, (uint32_t)b->count);
	wr32(h + 17, crc32c(h + BATCH_CRC_START, size - BATCH_CRC_START));
	if (size_out != NULL)
		*size_out = size;
	b->count = 0;
	b->start = b->len;
	return 0;
}

size_t batch_builder_pending_size(const batch_builder_t *b)
{
	return b->len - b->start;
}
