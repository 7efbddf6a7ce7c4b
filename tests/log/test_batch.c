/*
 * test_batch.c — Check suite for CRC-32C (src/log/crc32c.c) and RecordBatch
 * v2 (src/log/batch.c): known vectors, both CRC paths, builder round trips,
 * and validation of hand-forged bad batches.
 *
 * Bad batches are forged with this file's own encoder (forge_*), written
 * from docs/FORMAT.md rather than from batch.c, so a bug shared by the
 * builder and the decoder cannot hide. A forged batch is resealed (length
 * and CRC recomputed) so that each test reaches the check it aims at.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "log/batch.h"
#include "log/crc32c.h"

/* ---- reference CRC and a forging encoder ---------------------------------- */

/* Bit-at-a-time CRC-32C straight from the definition. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

typedef struct forge {
	uint8_t buf[4096];
	size_t  len;
} forge_t;

static void forge_u8(forge_t *f, uint8_t v)
{
	ck_assert_uint_lt(f->len, sizeof(f->buf));
	f->buf[f->len++] = v;
}

static void forge_be(forge_t *f, uint64_t v, int bytes)
{
	while (bytes-- > 0)
		forge_u8(f, (uint8_t)(v >> (8 * bytes)));
}

static void forge_put_be(uint8_t *p, uint64_t v, int bytes)
{
	while (bytes-- > 0)
		*p++ = (uint8_t)(v >> (8 * bytes));
}

static void forge_raw(forge_t *f, const void *data, size_t len)
{
	ck_assert_uint_le(f->len + len, sizeof(f->buf));
	memcpy(f->buf + f->len, data, len);
	f->len += len;
}

static void forge_varint(forge_t *f, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (z >= 0x80) {
		forge_u8(f, (uint8_t)(z | 0x80));
		z >>= 7;
	}
	forge_u8(f, (uint8_t)z);
}

/* A length-prefixed field; NULL data means the null encoding (-1). */
static void forge_bytes(forge_t *f, const char *s)
{
	if (s == NULL) {
		forge_varint(f, -1);
		return;
	}
	forge_varint(f, (int64_t)strlen(s));
	forge_raw(f, s, strlen(s));
}

/* The 61-byte header; length and CRC are filled by forge_seal. */
static void forge_header(forge_t *f, int32_t count, int32_t last_delta,
                         int64_t base_ts, int64_t max_ts, int16_t attributes)
{
	f->len = 0;
	forge_be(f, 0, 8);                     /* base offset */
	forge_be(f, 0, 4);                     /* batch length */
	forge_be(f, (uint32_t)-1, 4);          /* leader epoch */
	forge_u8(f, 2);                        /* magic */
	forge_be(f, 0, 4);                     /* crc */
	forge_be(f, (uint16_t)attributes, 2);
	forge_be(f, (uint32_t)last_delta, 4);
	forge_be(f, (uint64_t)base_ts, 8);
	forge_be(f, (uint64_t)max_ts, 8);
	forge_be(f, (uint64_t)-1, 8);          /* producer id */
	forge_be(f, (uint16_t)-1, 2);          /* producer epoch */
	forge_be(f, (uint32_t)-1, 4);          /* base sequence */
	forge_be(f, (uint32_t)count, 4);
	ck_assert_uint_eq(f->len, BATCH_HEADER_SIZE);
}

/* Append a record: body is the bytes after the length varint. */
static void forge_record_body(forge_t *f, const forge_t *body)
{
	forge_varint(f, (int64_t)body->len);
	forge_raw(f, body->buf, body->len);
}

/* A record with key and value, no headers. */
static void forge_record(forge_t *f, int64_t ts_delta, int64_t off_delta,
                         const char *key, const char *value)
{
	forge_t body = { .len = 0 };

	forge_u8(&body, 0);
	forge_varint(&body, ts_delta);
	forge_varint(&body, off_delta);
	forge_bytes(&body, key);
	forge_bytes(&body, value);
	forge_varint(&body, 0);
	forge_record_body(f, &body);
}

/* Recompute batch_length and CRC so only the intended defect remains. */
static void forge_seal(forge_t *f)
{
	forge_put_be(f->buf + 8, f->len - BATCH_LOG_OVERHEAD, 4);
	forge_put_be(f->buf + 17, crc32c_bitwise(f->buf + BATCH_CRC_START,
	                                         f->len - BATCH_CRC_START), 4);
}

/* A valid two-record batch: deltas 0,1, timestamps 100, 101. */
static void forge_good(forge_t *f)
{
	forge_header(f, 2, 1, 100, 101, 0);
	forge_record(f, 0, 0, "k0", "v0");
	forge_record(f, 1, 1, NULL, "v1");
	forge_seal(f);
}

static int validate(const forge_t *f, char *err, size_t errlen)
{
	return batch_validate(f->buf, f->len, 0, NULL, err, errlen);
}

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* ---- CRC-32C ------------------------------------------------------------- */

START_TEST(test_crc32c_known_vector)
{
	static const uint8_t zeros[32], ones[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint8_t incr[32];
	int table, i;

	for (i = 0; i < 32; i++)
		incr[i] = (uint8_t)i;
	for (table = 0; table <= 1; table++) {
		crc32c_force_table(table);
		ck_assert_uint_eq(crc32c("123456789", 9), 0xE3069283u);
		ck_assert_uint_eq(crc32c("", 0), 0);
		/* RFC 3720 (iSCSI) appendix B.4 vectors */
		ck_assert_uint_eq(crc32c(zeros, 32), 0x8A9136AAu);
		ck_assert_uint_eq(crc32c(ones, 32), 0x62A8AB43u);
		ck_assert_uint_eq(crc32c(incr, 32), 0x46DD794Eu);
		ck_assert_uint_eq(crc32c_extend(crc32c("1234", 4), "56789", 5), 0xE3069283u);
	}
	crc32c_force_table(0);
}
END_TEST

START_TEST(test_crc32c_hw_matches_table)
{
	enum { MAXLEN = 1100, ALIGNS = 16 };
	uint8_t *buf = malloc(MAXLEN + ALIGNS);
	size_t len, align;

	ck_assert_ptr_nonnull(buf);
	fill_random(buf, MAXLEN + ALIGNS, 7);
	for (align = 0; align < ALIGNS; align++) {
		for (len = 0; len <= MAXLEN; len += (len < 80 ? 1 : 37)) {
			const uint8_t *p = buf + align;
			uint32_t want = crc32c_bitwise(p, len), hw, sw, split;
			size_t cut = len / 3;

			crc32c_force_table(0);
			hw = crc32c(p, len);
			split = crc32c_extend(crc32c(p, cut), p + cut, len - cut);
			crc32c_force_table(1);
			sw = crc32c(p, len);
			crc32c_force_table(0);
			ck_assert_msg(hw == want && sw == want && split == want,
			              "len %zu align %zu: default 0x%08x table 0x%08x split 0x%08x, "
			              "want 0x%08x", len, align, hw, sw, split, want);
		}
	}
	free(buf);
}
END_TEST

/* ---- builder round trip -------------------------------------------------- */

typedef struct expect_rec {
	int64_t     ts;
	const char *key, *value;   /* NULL: null */
	int         nheaders;
	const char *hkey[2], *hvalue[2];
} expect_rec_t;

static const expect_rec_t roundtrip_recs[] = {
	{ 1700000000000LL, "key-0", "value-0", 2, { "trace", "empty" }, { "abc", NULL } },
	{ 1700000000005LL, NULL, "value-1", 0, { NULL, NULL }, { NULL, NULL } },
	{ 1700000000003LL, "key-2", NULL, 1, { "h", NULL }, { "", NULL } },
	{ 1700000000004LL, "", "", 1, { "", NULL }, { "x", NULL } },
};
#define NROUNDTRIP ((int)(sizeof(roundtrip_recs) / sizeof(roundtrip_recs[0])))

static int32_t slen(const char *s)
{
	return s == NULL ? -1 : (int32_t)strlen(s);
}

static void add_expected(batch_builder_t *b, const expect_rec_t *r)
{
	batch_kv_t h[2];
	int i;

	for (i = 0; i < r->nheaders; i++) {
		h[i].key = (const uint8_t *)r->hkey[i];
		h[i].key_len = slen(r->hkey[i]);
		h[i].value = (const uint8_t *)r->hvalue[i];
		h[i].value_len = slen(r->hvalue[i]);
	}
	ck_assert_int_eq(batch_builder_add(b, r->ts, (const uint8_t *)r->key, slen(r->key),
	                                   (const uint8_t *)r->value, slen(r->value),
	                                   r->nheaders ? h : NULL, r->nheaders), 0);
}

static void assert_field(const uint8_t *got, int32_t got_len, const char *want)
{
	ck_assert_int_eq(got_len, slen(want));
	if (want == NULL)
		ck_assert_ptr_null(got);
	else
		ck_assert_mem_eq(got, want, strlen(want));
}

START_TEST(test_builder_roundtrip_keys_values_headers_nulls)
{
	batch_builder_t b;
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	char err[256] = "";
	size_t size;
	int i, rc;

	batch_builder_init(&b);
	ck_assert_int_eq(batch_builder_begin(&b, 4242, 3, 17), 0);
	for (i = 0; i < NROUNDTRIP; i++)
		add_expected(&b, &roundtrip_recs[i]);
	ck_assert_int_eq(batch_builder_finish(&b, &size), 0);
	ck_assert_uint_eq(size, b.len);
	ck_assert_int_eq(batch_validate(b.buf, size, 0, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(h.base_offset, 0);
	ck_assert_int_eq(h.leader_epoch, -1);
	ck_assert_int_eq(h.magic, 2);
	ck_assert_int_eq(h.attributes, 0);
	ck_assert_int_eq(h.batch_length, (int64_t)size - BATCH_LOG_OVERHEAD);
	ck_assert_int_eq(h.record_count, NROUNDTRIP);
	ck_assert_int_eq(h.last_offset_delta, NROUNDTRIP - 1);
	ck_assert_int_eq(h.base_timestamp, 1700000000000LL);
	ck_assert_int_eq(h.max_timestamp, 1700000000005LL);
	ck_assert_int_eq(h.producer_id, 4242);
	ck_assert_int_eq(h.producer_epoch, 3);
	ck_assert_int_eq(h.base_sequence, 17);
	ck_assert_uint_eq(h.crc, crc32c_bitwise(b.buf + BATCH_CRC_START, size - BATCH_CRC_START));

	ck_assert_int_eq(batch_iter_init(&it, b.buf, size), 0);
	for (i = 0; (rc = batch_iter_next(&it, &rec)) == 1; i++) {
		const expect_rec_t *e = &roundtrip_recs[i];
		batch_header_iter_t hi;
		batch_rec_header_t rh;
		int j;

		ck_assert_int_lt(i, NROUNDTRIP);
		ck_assert_int_eq(rec.offset, i);
		ck_assert_int_eq(rec.timestamp, e->ts);
		assert_field(rec.key, rec.key_len, e->key);
		assert_field(rec.value, rec.value_len, e->value);
		ck_assert_int_eq(rec.header_count, e->nheaders);
		batch_header_iter_init(&hi, &rec);
		for (j = 0; (rc = batch_header_iter_next(&hi, &rh)) == 1; j++) {
			ck_assert_int_lt(j, e->nheaders);
			assert_field(rh.key, rh.key_len, e->hkey[j]);
			assert_field(rh.value, rh.value_len, e->hvalue[j]);
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(j, e->nheaders);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(i, NROUNDTRIP);
	batch_builder_free(&b);
}
END_TEST

/* The builder's bytes are exactly what an independent encoder produces. */
START_TEST(test_builder_bytes_match_format_doc)
{
	batch_builder_t b;
	forge_t f;
	size_t size;

	forge_good(&f);
	batch_builder_init(&b);
	ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&b, 100, (const uint8_t *)"k0", 2,
	                                   (const uint8_t *)"v0", 2, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_add(&b, 101, NULL, -1,
	                                   (const uint8_t *)"v1", 2, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&b, &size), 0);
	ck_assert_uint_eq(size, f.len);
	ck_assert_mem_eq(b.buf, f.buf, f.len);
	batch_builder_free(&b);
}
END_TEST

START_TEST(test_builder_rejects_bad_arguments)
{
	batch_builder_t b;
	batch_kv_t nullkey = { NULL, -1, (const uint8_t *)"v", 1 };
	const uint8_t v[] = "v";

	batch_builder_init(&b);
	ck_assert_int_eq(batch_builder_add(&b, 1, NULL, -1, v, 1, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(batch_builder_finish(&b, NULL), STRAND_EINVAL);
	ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&b, 1, NULL, -2, v, 1, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(batch_builder_add(&b, 1, NULL, -1, v, -5, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(batch_builder_add(&b, 1, NULL, -1, v, 1, &nullkey, 1), STRAND_EINVAL);
	ck_assert_int_eq(batch_builder_add(&b, 1, NULL, -1, v, 1, NULL, 1), STRAND_EINVAL);
	ck_assert_int_eq(batch_builder_add(&b, INT64_MIN, NULL, -1, v, 1, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_add(&b, INT64_MAX, NULL, -1, v, 1, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(batch_builder_finish(&b, NULL), 0);
	/* an empty batch is dropped */
	ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
	ck_assert_uint_eq(batch_builder_pending_size(&b), BATCH_HEADER_SIZE);
	ck_assert_int_eq(batch_builder_finish(&b, NULL), STRAND_EINVAL);
	ck_assert_uint_eq(batch_builder_pending_size(&b), 0);
	batch_builder_free(&b);
}
END_TEST

/* begin while a batch is open drops the unfinished batch, not the finished ones. */
START_TEST(test_builder_begin_drops_unfinished_batch)
{
	batch_builder_t b;
	size_t first;

	batch_builder_init(&b);
	ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&b, 1, NULL, -1, (const uint8_t *)"a", 1, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&b, &first), 0);
	ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&b, 1, NULL, -1, (const uint8_t *)"b", 1, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
	ck_assert_uint_eq(b.len, first + BATCH_HEADER_SIZE);
	ck_assert_int_eq(batch_builder_add(&b, 1, NULL, -1, (const uint8_t *)"c", 1, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&b, NULL), 0);
	ck_assert_int_eq(batch_validate(b.buf, first, 0, NULL, NULL, 0), 0);
	ck_assert_int_eq(batch_validate(b.buf + first, b.len - first, 0, NULL, NULL, 0), 0);
	batch_builder_free(&b);
}
END_TEST

/* ---- validation ---------------------------------------------------------- */

START_TEST(test_validate_rejects_flipped_byte)
{
	forge_t f, g;
	char err[256];
	size_t i;

	forge_good(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), 0);
	for (i = 0; i < f.len; i++) {
		int outside_crc = i < 8 || (i >= 12 && i < 16);
		int rc;

		g = f;
		g.buf[i] ^= 0x5a;
		err[0] = '\0';
		rc = validate(&g, err, sizeof(err));
		if (outside_crc)
			ck_assert_msg(rc == 0, "byte %zu (outside the CRC) flipped: rc %d (%s), want 0",
			              i, rc, err);
		else
			ck_assert_msg(rc == STRAND_ECORRUPT || rc == STRAND_EAGAIN,
			              "byte %zu flipped: rc %d, want ECORRUPT or EAGAIN", i, rc);
		if (i >= BATCH_CRC_START)
			ck_assert_msg(rc == STRAND_ECORRUPT && strstr(err, "crc mismatch") != NULL,
			              "byte %zu flipped: rc %d \"%s\", want a crc mismatch", i, rc, err);
	}
}
END_TEST

START_TEST(test_validate_rejects_truncated)
{
	forge_t f;
	batch_iter_t it;
	size_t len;

	forge_good(&f);
	for (len = 0; len < f.len; len++) {
		ck_assert_int_eq(batch_validate(f.buf, len, 0, NULL, NULL, 0), STRAND_EAGAIN);
		ck_assert_int_eq(batch_iter_init(&it, f.buf, len), STRAND_ECORRUPT);
	}
	/* the batch length itself cut short: records no longer fit */
	f.len--;
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* a batch length below the header's own 49 bytes */
	forge_good(&f);
	forge_put_be(f.buf + 8, 48, 4);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	forge_put_be(f.buf + 8, (uint32_t)-1, 4);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
}
END_TEST

START_TEST(test_validate_enforces_max_batch_bytes)
{
	forge_t f;
	char err[256] = "";

	forge_good(&f);
	ck_assert_int_eq(batch_validate(f.buf, f.len, f.len, NULL, NULL, 0), 0);
	ck_assert_int_eq(batch_validate(f.buf, f.len, f.len - 1, NULL, err, sizeof(err)),
	                 STRAND_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(err, "over the limit"));
}
END_TEST

START_TEST(test_validate_rejects_bad_magic)
{
	static const int magics[] = { 0, 1, 3, 255 };
	batch_header_t h;
	forge_t f;
	char err[256] = "";
	size_t i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		forge_good(&f);
		f.buf[16] = (uint8_t)magics[i];
		forge_seal(&f);
		ck_assert_int_eq(batch_header_decode(f.buf, f.len, 0, &h, err, sizeof(err)),
		                 STRAND_ECORRUPT);
		ck_assert_ptr_nonnull(strstr(err, "magic"));
		ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	}
}
END_TEST

START_TEST(test_validate_rejects_compressed_attribute)
{
	forge_t f;
	char err[256];
	int codec;

	for (codec = 1; codec <= 7; codec++) {
		forge_header(&f, 1, 0, 5, 5, (int16_t)codec);
		forge_record(&f, 0, 0, "k", "v");
		forge_seal(&f);
		err[0] = '\0';
		ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_EINVAL);
		ck_assert_msg(strstr(err, "compressed batches are not supported") != NULL,
		              "codec %d: message \"%s\"", codec, err);
	}
	/* the other attribute bits are not compression */
	forge_header(&f, 1, 0, 5, 5, BATCH_ATTR_TRANSACTIONAL);
	forge_record(&f, 0, 0, "k", "v");
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), 0);
}
END_TEST

START_TEST(test_validate_rejects_wrong_record_count)
{
	forge_t f;
	char err[256] = "";

	/* header says 3, two records follow */
	forge_header(&f, 3, 2, 100, 101, 0);
	forge_record(&f, 0, 0, "k0", "v0");
	forge_record(&f, 1, 1, "k1", "v1");
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_ECORRUPT);
	ck_assert_msg(strstr(err, "after 2 of 3") != NULL, "message \"%s\"", err);
	/* header says 1, two records follow */
	forge_header(&f, 1, 0, 100, 101, 0);
	forge_record(&f, 0, 0, "k0", "v0");
	forge_record(&f, 1, 1, "k1", "v1");
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_ECORRUPT);
	ck_assert_msg(strstr(err, "after the last") != NULL, "message \"%s\"", err);
	/* last offset delta disagrees with the count */
	forge_header(&f, 2, 5, 100, 101, 0);
	forge_record(&f, 0, 0, "k0", "v0");
	forge_record(&f, 1, 1, "k1", "v1");
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* no records at all */
	forge_header(&f, 0, 0, 100, 100, 0);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* negative count */
	forge_header(&f, -1, 0, 100, 100, 0);
	forge_record(&f, 0, 0, "k0", "v0");
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
}
END_TEST

/*
 * A one-record batch body whose field (0 timestamp delta, 1 offset delta,
 * 2 key length and key) is replaced by the raw bytes bad.
 */
static void forge_record_with(forge_t *f, const uint8_t *bad, size_t badlen, int field)
{
	forge_t body = { .len = 0 };

	forge_u8(&body, 0);
	if (field == 0)
		forge_raw(&body, bad, badlen);
	else
		forge_varint(&body, 0);
	if (field == 1)
		forge_raw(&body, bad, badlen);
	else
		forge_varint(&body, 0);
	if (field == 2)
		forge_raw(&body, bad, badlen);
	else
		forge_bytes(&body, "k");
	forge_bytes(&body, "v");
	forge_varint(&body, 0);
	forge_record_body(f, &body);
}

START_TEST(test_validate_rejects_overlong_varint)
{
	static const uint8_t six[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	                                  0x80, 0x80, 0x00 };
	static const uint8_t int32_overflow[] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
	static const uint8_t int64_overflow[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                          0xff, 0xff, 0x03 };
	static const uint8_t nonminimal_zero[] = { 0x80, 0x00 };
	forge_t f;
	char err[256] = "";

	/* offset delta: 6-byte varint */
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_record_with(&f, six, sizeof(six), 1);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_ECORRUPT);
	ck_assert_msg(strstr(err, "offset delta") != NULL && strstr(err, "byte 64") != NULL,
	              "message \"%s\"", err);
	/* key length: 5 bytes but above int32 */
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_record_with(&f, int32_overflow, sizeof(int32_overflow), 2);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* timestamp delta: 11-byte varlong, and a 10-byte one above int64 */
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_record_with(&f, eleven, sizeof(eleven), 0);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_record_with(&f, int64_overflow, sizeof(int64_overflow), 0);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* header count 2^31: five bytes, but not an int32 */
	forge_header(&f, 1, 0, 5, 5, 0);
	{
		static const uint8_t big[] = { 0x80, 0x80, 0x80, 0x80, 0x10 };
		forge_t body = { .len = 0 };

		forge_u8(&body, 0);
		forge_varint(&body, 0);
		forge_varint(&body, 0);
		forge_bytes(&body, "k");
		forge_bytes(&body, "v");
		forge_raw(&body, big, sizeof(big));
		forge_record_body(&f, &body);
	}
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_ECORRUPT);
	ck_assert_msg(strstr(err, "header count") != NULL, "message \"%s\"", err);
	/* a varint running off the end of the batch */
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_u8(&f, 0x80);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* Kafka accepts non-minimal encodings within the maximum length */
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_record_with(&f, nonminimal_zero, sizeof(nonminimal_zero), 1);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_validate_rejects_noncontiguous_offset_deltas)
{
	static const int64_t bad[][2] = { { 0, 2 }, { 1, 0 }, { 0, 0 }, { 1, 2 }, { 0, -1 } };
	forge_t f;
	char err[256] = "";
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		forge_header(&f, 2, 1, 100, 101, 0);
		forge_record(&f, 0, bad[i][0], "k0", "v0");
		forge_record(&f, 1, bad[i][1], "k1", "v1");
		forge_seal(&f);
		ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_ECORRUPT);
		ck_assert_msg(strstr(err, "offset delta") != NULL, "message \"%s\"", err);
	}
}
END_TEST

START_TEST(test_validate_allows_negative_timestamp_deltas)
{
	batch_builder_t b;
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	static const int64_t ts[] = { 1000, 900, 1100, -5 };
	size_t size;
	forge_t f;
	int i;

	batch_builder_init(&b);
	ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(batch_builder_add(&b, ts[i], NULL, -1,
		                                   (const uint8_t *)"v", 1, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&b, &size), 0);
	ck_assert_int_eq(batch_validate(b.buf, size, 0, &h, NULL, 0), 0);
	ck_assert_int_eq(h.base_timestamp, 1000);
	ck_assert_int_eq(h.max_timestamp, 1100);
	ck_assert_int_eq(batch_iter_init(&it, b.buf, size), 0);
	for (i = 0; batch_iter_next(&it, &rec) == 1; i++)
		ck_assert_int_eq(rec.timestamp, ts[i]);
	ck_assert_int_eq(i, 4);
	batch_builder_free(&b);

	/* a record above the batch's max timestamp is corrupt */
	forge_header(&f, 2, 1, 100, 101, 0);
	forge_record(&f, 0, 0, "k0", "v0");
	forge_record(&f, 2, 1, "k1", "v1");
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
}
END_TEST

START_TEST(test_validate_rejects_bad_key_value_and_headers)
{
	forge_t f, body;
	char err[256] = "";

	/* key length beyond the record */
	forge_header(&f, 1, 0, 5, 5, 0);
	body.len = 0;
	forge_u8(&body, 0); forge_varint(&body, 0); forge_varint(&body, 0);
	forge_varint(&body, 50); forge_raw(&body, "kk", 2);
	forge_record_body(&f, &body);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_ECORRUPT);
	ck_assert_msg(strstr(err, "key length") != NULL, "message \"%s\"", err);
	/* value length -2 */
	forge_header(&f, 1, 0, 5, 5, 0);
	body.len = 0;
	forge_u8(&body, 0); forge_varint(&body, 0); forge_varint(&body, 0);
	forge_bytes(&body, "k"); forge_varint(&body, -2); forge_varint(&body, 0);
	forge_record_body(&f, &body);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* negative header count */
	forge_header(&f, 1, 0, 5, 5, 0);
	body.len = 0;
	forge_u8(&body, 0); forge_varint(&body, 0); forge_varint(&body, 0);
	forge_bytes(&body, "k"); forge_bytes(&body, "v"); forge_varint(&body, -1);
	forge_record_body(&f, &body);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* a header with a null key */
	forge_header(&f, 1, 0, 5, 5, 0);
	body.len = 0;
	forge_u8(&body, 0); forge_varint(&body, 0); forge_varint(&body, 0);
	forge_bytes(&body, "k"); forge_bytes(&body, "v"); forge_varint(&body, 1);
	forge_bytes(&body, NULL); forge_bytes(&body, "hv");
	forge_record_body(&f, &body);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_ECORRUPT);
	ck_assert_msg(strstr(err, "null key") != NULL, "message \"%s\"", err);
	/* a null header value is fine */
	forge_header(&f, 1, 0, 5, 5, 0);
	body.len = 0;
	forge_u8(&body, 0); forge_varint(&body, 0); forge_varint(&body, 0);
	forge_bytes(&body, "k"); forge_bytes(&body, "v"); forge_varint(&body, 1);
	forge_bytes(&body, "hk"); forge_bytes(&body, NULL);
	forge_record_body(&f, &body);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), 0);
	/* header count larger than the headers present */
	forge_header(&f, 1, 0, 5, 5, 0);
	body.len = 0;
	forge_u8(&body, 0); forge_varint(&body, 0); forge_varint(&body, 0);
	forge_bytes(&body, "k"); forge_bytes(&body, "v"); forge_varint(&body, 2);
	forge_bytes(&body, "hk"); forge_bytes(&body, "hv");
	forge_record_body(&f, &body);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
}
END_TEST

START_TEST(test_validate_rejects_record_length_mismatch)
{
	forge_t f, body;
	char err[256] = "";

	/* the length claims one byte more than the fields use */
	forge_header(&f, 1, 0, 5, 5, 0);
	body.len = 0;
	forge_u8(&body, 0); forge_varint(&body, 0); forge_varint(&body, 0);
	forge_bytes(&body, "k"); forge_bytes(&body, "v"); forge_varint(&body, 0);
	forge_u8(&body, 0x00);
	forge_record_body(&f, &body);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, err, sizeof(err)), STRAND_ECORRUPT);
	ck_assert_msg(strstr(err, "record 0 length") != NULL, "message \"%s\"", err);
	/* the length claims one byte less: the header count falls outside */
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_record(&f, 0, 0, "k", "v");
	f.buf[BATCH_HEADER_SIZE] -= 2;         /* zig-zag length, one byte: len - 1 */
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	/* zero and negative lengths */
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_varint(&f, 0);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	forge_header(&f, 1, 0, 5, 5, 0);
	forge_varint(&f, -3);
	forge_raw(&f, "\0\0\0", 3);
	forge_seal(&f);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
}
END_TEST

START_TEST(test_validate_rejects_base_offset_overflow)
{
	forge_t f;

	forge_good(&f);
	forge_put_be(f.buf, INT64_MAX, 8);
	ck_assert_int_eq(validate(&f, NULL, 0), STRAND_ECORRUPT);
	forge_put_be(f.buf, INT64_MAX - 1, 8);
	ck_assert_int_eq(validate(&f, NULL, 0), 0);
}
END_TEST

START_TEST(test_set_base_offset_and_leader_epoch_keep_crc_valid)
{
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	forge_t f;
	uint32_t crc_before;
	int i;

	forge_good(&f);
	crc_before = crc32c(f.buf + BATCH_CRC_START, f.len - BATCH_CRC_START);
	batch_set_base_offset(f.buf, 12345678901LL);
	batch_set_leader_epoch(f.buf, 7);
	ck_assert_uint_eq(crc32c(f.buf + BATCH_CRC_START, f.len - BATCH_CRC_START), crc_before);
	ck_assert_int_eq(batch_validate(f.buf, f.len, 0, &h, NULL, 0), 0);
	ck_assert_int_eq(h.base_offset, 12345678901LL);
	ck_assert_int_eq(h.leader_epoch, 7);
	ck_assert_int_eq(batch_last_offset(&h), 12345678902LL);
	ck_assert_int_eq(batch_iter_init(&it, f.buf, f.len), 0);
	for (i = 0; batch_iter_next(&it, &rec) == 1; i++)
		ck_assert_int_eq(rec.offset, 12345678901LL + i);
	ck_assert_int_eq(i, 2);
}
END_TEST

START_TEST(test_multiple_batches_back_to_back)
{
	enum { NBATCH = 5 };
	batch_builder_t b;
	batch_header_t h;
	size_t sizes[NBATCH], pos = 0;
	int64_t next = 1000;
	int i, r;

	batch_builder_init(&b);
	for (i = 0; i < NBATCH; i++) {
		ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
		for (r = 0; r <= i; r++) {
			char v[32];
			int n = snprintf(v, sizeof(v), "batch %d record %d", i, r);

			ck_assert_int_eq(batch_builder_add(&b, 10 * i + r, NULL, -1,
			                                   (const uint8_t *)v, n, NULL, 0), 0);
		}
		ck_assert_uint_gt(batch_builder_pending_size(&b), BATCH_HEADER_SIZE);
		ck_assert_int_eq(batch_builder_finish(&b, &sizes[i]), 0);
		ck_assert_uint_eq(batch_builder_pending_size(&b), 0);
	}
	/* walk the buffer as log_append does: header, validate, assign offsets */
	for (i = 0; pos < b.len; i++) {
		ck_assert_int_lt(i, NBATCH);
		ck_assert_int_eq(batch_header_decode(b.buf + pos, b.len - pos, 0, &h, NULL, 0), 0);
		ck_assert_uint_eq(batch_total_size(&h), sizes[i]);
		ck_assert_int_eq(batch_validate(b.buf + pos, b.len - pos, 0, &h, NULL, 0), 0);
		ck_assert_int_eq(h.record_count, i + 1);
		ck_assert_int_eq(h.base_timestamp, 10 * i);
		batch_set_base_offset(b.buf + pos, next);
		next += h.record_count;
		pos += sizes[i];
	}
	ck_assert_int_eq(i, NBATCH);
	ck_assert_uint_eq(pos, b.len);
	ck_assert_int_eq(next, 1000 + NBATCH * (NBATCH + 1) / 2);
	for (pos = 0, i = 0; pos < b.len; pos += sizes[i++])
		ck_assert_int_eq(batch_validate(b.buf + pos, b.len - pos, 0, NULL, NULL, 0), 0);
	batch_builder_free(&b);
}
END_TEST

START_TEST(test_builder_reuse_after_reset_does_not_reallocate)
{
	static uint8_t value[1000];
	batch_builder_t b;
	uint8_t *buf;
	size_t cap, size1, size2;
	int round, i;

	batch_builder_init(&b);
	for (round = 0; round < 3; round++) {
		batch_builder_reset(&b);
		ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
		for (i = 0; i < 100; i++)
			ck_assert_int_eq(batch_builder_add(&b, i, NULL, -1, value, sizeof(value),
			                                   NULL, 0), 0);
		ck_assert_int_eq(batch_builder_finish(&b, round ? &size2 : &size1), 0);
		if (round == 0) {
			buf = b.buf;
			cap = b.cap;
			continue;
		}
		ck_assert_ptr_eq(b.buf, buf);
		ck_assert_uint_eq(b.cap, cap);
		ck_assert_uint_eq(size2, size1);
		ck_assert_int_eq(batch_validate(b.buf, size2, 0, NULL, NULL, 0), 0);
	}
	batch_builder_free(&b);
	ck_assert_ptr_null(b.buf);
}
END_TEST

START_TEST(test_header_decode_wants_61_bytes)
{
	batch_header_t h;
	forge_t f;

	forge_good(&f);
	ck_assert_int_eq(batch_header_decode(f.buf, BATCH_HEADER_SIZE - 1, 0, &h, NULL, 0),
	                 STRAND_EAGAIN);
	ck_assert_int_eq(batch_header_decode(f.buf, BATCH_HEADER_SIZE, 0, &h, NULL, 0), 0);
	ck_assert_int_eq(h.record_count, 2);
	ck_assert_uint_eq(batch_total_size(&h), f.len);
	/* negative last offset delta is visible from the header alone */
	forge_put_be(f.buf + 23, (uint32_t)-1, 4);
	ck_assert_int_eq(batch_header_decode(f.buf, f.len, 0, &h, NULL, 0), STRAND_ECORRUPT);
}
END_TEST

/* Random garbage after a valid header never crashes validation (ASan/UBSan). */
START_TEST(test_validate_survives_random_records)
{
	forge_t f;
	uint64_t seed;
	size_t n;

	for (seed = 1; seed <= 3000; seed++) {
		forge_header(&f, (int32_t)(seed % 4) + 1, (int32_t)(seed % 4), 0, INT64_MAX, 0);
		n = (size_t)(seed % 200);
		fill_random(f.buf + f.len, n, seed);
		f.len += n;
		forge_seal(&f);
		(void)validate(&f, NULL, 0);
	}
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

static Suite *batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *crc = tcase_create("crc32c");
	TCase *build = tcase_create("builder");
	TCase *valid = tcase_create("validate");

	tcase_add_test(crc, test_crc32c_known_vector);
	tcase_add_test(crc, test_crc32c_hw_matches_table);
	suite_add_tcase(s, crc);

	tcase_add_test(build, test_builder_roundtrip_keys_values_headers_nulls);
	tcase_add_test(build, test_builder_bytes_match_format_doc);
	tcase_add_test(build, test_builder_rejects_bad_arguments);
	tcase_add_test(build, test_builder_begin_drops_unfinished_batch);
	tcase_add_test(build, test_multiple_batches_back_to_back);
	tcase_add_test(build, test_builder_reuse_after_reset_does_not_reallocate);
	suite_add_tcase(s, build);

	tcase_add_test(valid, test_header_decode_wants_61_bytes);
	tcase_add_test(valid, test_validate_rejects_flipped_byte);
	tcase_add_test(valid, test_validate_rejects_truncated);
	tcase_add_test(valid, test_validate_enforces_max_batch_bytes);
	tcase_add_test(valid, test_validate_rejects_bad_magic);
	tcase_add_test(valid, test_validate_rejects_compressed_attribute);
	tcase_add_test(valid, test_validate_rejects_wrong_record_count);
	tcase_add_test(valid, test_validate_rejects_overlong_varint);
	tcase_add_test(valid, test_validate_rejects_noncontiguous_offset_deltas);
	tcase_add_test(valid, test_validate_allows_negative_timestamp_deltas);
	tcase_add_test(valid, test_validate_rejects_bad_key_value_and_headers);
	tcase_add_test(valid, test_validate_rejects_record_length_mismatch);
	tcase_add_test(valid, test_validate_rejects_base_offset_overflow);
	tcase_add_test(valid, test_set_base_offset_and_leader_epoch_keep_crc_valid);
	tcase_add_test(valid, test_validate_survives_random_records);
	suite_add_tcase(s, valid);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(batch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
