/*
 * test_records.c — the JSON faces of records (api/records.c) and the
 * base64 and UTF-8 modules under them.
 *
 * Produce parsers: each parsed record is written to a canonical text line
 * (bytes escaped), so a body fed whole and fed byte by byte can be compared
 * as two strings. Views: batches are built with batch_builder, rendered,
 * and parsed back with cJSON.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/records.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/utf8.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct collector {
	buf_t  out;        /* one canonical line per record */
	size_t n;
	size_t fail_at;    /* callback fails at this record index ... */
	int    fail_code;  /* ... with this code (0: never) */
} collector_t;

static void put_bytes(buf_t *b, const uint8_t *s, int32_t len)
{
	int32_t i;

	if (len < 0) {
		buf_append_str(b, "NULL");
		return;
	}
	buf_append_str(b, "'");
	for (i = 0; i < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf_append(b, &s[i], 1);
		else
			buf_appendf(b, "\\x%02x", s[i]);
	}
	buf_append_str(b, "'");
}

static int collect(void *ctx, const produce_record_t *rec)
{
	collector_t *c = ctx;
	int32_t i;

	if (c->fail_code && rec->index == c->fail_at)
		return c->fail_code;
	ck_assert_uint_eq(rec->index, c->n);
	buf_appendf(&c->out, "%zu k=", rec->index);
	put_bytes(&c->out, rec->key, rec->key_len);
	buf_append_str(&c->out, " v=");
	put_bytes(&c->out, rec->value, rec->value_len);
	buf_append_str(&c->out, " h={");
	for (i = 0; i < rec->nheaders; i++) {
		put_bytes(&c->out, rec->headers[i].key, rec->headers[i].key_len);
		buf_append_str(&c->out, ":");
		put_bytes(&c->out, rec->headers[i].value, rec->headers[i].value_len);
		buf_append_str(&c->out, ",");
	}
	buf_appendf(&c->out, "} t=%lld p=%d\n", (long long)rec->timestamp, rec->partition);
	c->n++;
	return 0;
}

static records_limits_t default_limits(void)
{
	records_limits_t l = { 1 << 20, 0, 64 };

	return l;
}

/* Feed body in chunks of chunk bytes (0: whole), then finish. */
static int parse_body(records_body_kind_t kind, record_format_t kf, record_format_t vf,
                      const records_limits_t *lim, const char *body, size_t len,
                      size_t chunk, collector_t *c, char *err, size_t errlen)
{
	records_parser_t *p;
	size_t i, n;
	int rc;

	ck_assert_int_eq(records_parser_new(kind, kf, vf, lim, &p), 0);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (i = 0; i < len; i += n) {
		n = len - i < chunk ? len - i : chunk;
		if ((rc = records_parser_feed(p, body + i, n, collect, c, err, errlen)))
			goto out;
	}
	rc = records_parser_finish(p, collect, c, err, errlen);
	if (rc == 0)
		ck_assert_uint_eq(records_parser_count(p), c->n);
out:
	records_parser_free(p);
	return rc;
}

/* Parse a whole body with default limits; return rc and leave c filled. */
static int parse_simple(records_body_kind_t kind, record_format_t kf, record_format_t vf,
                        const char *body, collector_t *c, char *err)
{
	records_limits_t l = default_limits();

	buf_reset(&c->out);
	c->n = 0;
	err[0] = '\0';
	return parse_body(kind, kf, vf, &l, body, strlen(body), 0, c, err, 256);
}

/* Expect body (json, given formats) to fail with code and a message containing want. */
static void expect_fail(record_format_t kf, record_format_t vf, const char *body,
                        int code, const char *want)
{
	collector_t c = { BUF_INIT, 0, 0, 0 };
	char err[256];
	int rc = parse_simple(RECORDS_BODY_JSON, kf, vf, body, &c, err);

	ck_assert_msg(rc == code, "body %s: expected rc %d, got %d (%s)", body, code, rc, err);
	ck_assert_msg(strstr(err, want) != NULL, "body %s: expected message with \"%s\", got \"%s\"",
	              body, want, err);
	buf_free(&c.out);
}

/* Expect the one-record body to parse to line want. */
static void expect_record(record_format_t kf, record_format_t vf, const char *body,
                          const char *want)
{
	collector_t c = { BUF_INIT, 0, 0, 0 };
	char err[256];
	int rc = parse_simple(RECORDS_BODY_JSON, kf, vf, body, &c, err);

	ck_assert_msg(rc == 0, "body %s: rc %d (%s)", body, rc, err);
	ck_assert_msg(c.out.len > 0 && strcmp(c.out.data, want) == 0,
	              "body %s:\n expected %s got      %s", body, want,
	              c.out.data ? c.out.data : "(nothing)");
	buf_free(&c.out);
}

/* ---- base64 and utf8 ----------------------------------------------------- */

START_TEST(test_base64_roundtrip_every_length)
{
	uint8_t data[64], back[64];
	buf_t b = BUF_INIT;
	size_t n, i, got;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 37 + 11);
	for (n = 0; n <= sizeof(data); n++) {
		buf_reset(&b);
		ck_assert_int_eq(base64_encode_append(&b, data, n), 0);
		ck_assert_uint_eq(b.len, base64_encoded_len(n));
		ck_assert_int_eq(base64_decode(b.data, b.len, back, &got), 0);
		ck_assert_uint_eq(got, n);
		ck_assert(memcmp(back, data, n) == 0);
	}
	buf_reset(&b);
	base64_encode_append(&b, "hello", 5);
	ck_assert_str_eq(b.data, "aGVsbG8=");
	buf_free(&b);
}
END_TEST

START_TEST(test_base64_decoder_is_strict)
{
	static const char *bad[] = {
		"aGVsbG8", "aGVsbG8==", "aGVs bG8=", "aGVsbG8=\n", "aGV=bG8=", "a===",
		"aGVsbG9=", "aR==", "aGVsbG8*", "====", "aGVsbG8=aGVs",
	};
	uint8_t out[64];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(base64_decode(bad[i], strlen(bad[i]), out, &n) == STRAND_EINVAL,
		              "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(base64_decode("", 0, out, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(base64_decode("/w==", 4, out, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out[0], 0xff);
}
END_TEST

START_TEST(test_utf8_rejects_overlong_surrogate_and_out_of_range)
{
	static const struct { const char *s; int ok; } cases[] = {
		{ "plain ascii", 1 },
		{ "\xc3\xa9", 1 },                /* é */
		{ "\xe2\x82\xac", 1 },            /* € */
		{ "\xf0\x9f\x98\x80", 1 },        /* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", 1 },        /* U+10FFFF */
		{ "\xed\x9f\xbf", 1 },            /* U+D7FF */
		{ "\xc0\x80", 0 },                /* overlong NUL */
		{ "\xc1\xbf", 0 },
		{ "\xe0\x80\x80", 0 },
		{ "\xe0\x9f\xbf", 0 },
		{ "\xf0\x8f\xbf\xbf", 0 },
		{ "\xed\xa0\x80", 0 },            /* U+D800 */
		{ "\xed\xbf\xbf", 0 },            /* U+DFFF */
		{ "\xf4\x90\x80\x80", 0 },        /* U+110000 */
		{ "\xf5\x80\x80\x80", 0 },
		{ "\x80", 0 },
		{ "\xc3", 0 },                    /* cut short */
		{ "\xe2\x82", 0 },
		{ "\xc3\x28", 0 },
		{ "\xff", 0 },
	};
	uint8_t enc[4];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(utf8_is_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok,
		              "case %zu: expected %d", i, cases[i].ok);
	ck_assert(utf8_is_valid("a\0b", 3));
	ck_assert_uint_eq(utf8_encode(0x1F600, enc), 4);
	ck_assert(memcmp(enc, "\xf0\x9f\x98\x80", 4) == 0);
	ck_assert_uint_eq(utf8_encode(0xD800, enc), 0);
	ck_assert_uint_eq(utf8_encode(0x110000, enc), 0);
}
END_TEST

/* ---- produce: JSON and NDJSON bodies ------------------------------------ */

static const char *rich_body =
	"{ \"records\" : [\n"
	"  {\"key\": \"k1\", \"value\": {\"a\" : [1, 2.50, 1.0, -3e2], \"s\": \"x\\\"y\"},"
	"   \"headers\": {\"h1\": \"v1\", \"h1\": \"v2\", \"\\u00e9\": \"\\ud83d\\ude00\"},"
	"   \"timestamp\": 1700000000000, \"partition\": 2},\n"
	"  {\"value\": null},\n"
	"  {\"key\": null, \"value\": \"br}ace{ [ \\\\\", \"headers\": {}},\n"
	"  {\"value\": [ ], \"timestamp\": 1e3, \"partition\": 0}\n"
	"] }\n";

static const char *rich_want =
	"0 k='\"k1\"' v='{\"a\":[1,2.50,1.0,-3e2],\"s\":\"x\\x5c\"y\"}' "
	"h={'h1':'v1','h1':'v2','\\xc3\\xa9':'\\xf0\\x9f\\x98\\x80',} t=1700000000000 p=2\n"
	"1 k=NULL v=NULL h={} t=-1 p=-1\n"
	"2 k=NULL v='\"br}ace{ [ \\x5c\\x5c\"' h={} t=-1 p=-1\n"
	"3 k=NULL v='[]' h={} t=1000 p=0\n";

START_TEST(test_json_body_whole_and_byte_by_byte_agree)
{
	records_limits_t l = default_limits();
	static const size_t chunks[] = { 0, 1, 2, 3, 7, 64 };
	collector_t whole = { BUF_INIT, 0, 0, 0 };
	char err[256] = "";
	size_t i;

	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                            &l, rich_body, strlen(rich_body), 0, &whole, err,
	                            sizeof(err)), 0);
	ck_assert_uint_eq(whole.n, 4);
	ck_assert_str_eq(whole.out.data, rich_want);
	for (i = 1; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		collector_t c = { BUF_INIT, 0, 0, 0 };

		ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_JSON,
		                            RECORD_FORMAT_JSON, &l, rich_body, strlen(rich_body),
		                            chunks[i], &c, err, sizeof(err)), 0);
		ck_assert_msg(strcmp(c.out.data, whole.out.data) == 0,
		              "chunk %zu: expected\n%sgot\n%s", chunks[i], whole.out.data,
		              c.out.data);
		buf_free(&c.out);
	}
	buf_free(&whole.out);
}
END_TEST

/*
 * Strings are scanned 16 bytes a step (SSE2) and then 8: an escape, a
 * non-ASCII character, a raw control byte or bad UTF-8 at any position of
 * a long string, and a chunk boundary anywhere, give the same answer.
 */
START_TEST(test_special_bytes_at_every_position_of_long_strings)
{
	static const struct { const char *raw; const char *decoded; int code; } sp[] = {
		{ "\\\"", "\"", 0 }, { "\\\\", "\\", 0 }, { "\\n", "\n", 0 },
		{ "\xc3\xa9", "\xc3\xa9", 0 }, { "\\u00e9", "\xc3\xa9", 0 },
		{ "\x01", NULL, STRAND_EINVAL }, { "\xff", NULL, STRAND_EINVAL },
	};
	static const size_t chunks[] = { 0, 1, 5, 17 };
	records_limits_t l = default_limits();
	char body[256], val[128], err[256];
	size_t k, pos, ch;

	for (k = 0; k < sizeof(sp) / sizeof(sp[0]); k++) {
		for (pos = 0; pos <= 40; pos++) {
			buf_t want = BUF_INIT;

			memset(val, 'a', pos);
			val[pos] = '\0';
			snprintf(body, sizeof(body), "{\"records\":[{\"value\":\"%s%s%.*s\"}]}", val,
			         sp[k].raw, (int)(40 - pos), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
			if (sp[k].decoded) {
				snprintf(val + pos, sizeof(val) - pos, "%s%.*s", sp[k].decoded,
				         (int)(40 - pos), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
				buf_append_str(&want, "0 k=NULL v=");
				put_bytes(&want, (const uint8_t *)val, (int32_t)strlen(val));
			}
			for (ch = 0; ch < sizeof(chunks) / sizeof(chunks[0]); ch++) {
				collector_t c = { BUF_INIT, 0, 0, 0 };
				int rc = parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_STRING,
				                    RECORD_FORMAT_STRING, &l, body, strlen(body),
				                    chunks[ch], &c, err, sizeof(err));

				ck_assert_msg(rc == sp[k].code, "special %zu at %zu, chunk %zu: rc %d (%s)",
				              k, pos, chunks[ch], rc, err);
				if (rc == 0)
					ck_assert_msg(strncmp(c.out.data, want.data, want.len) == 0,
					              "special %zu at %zu, chunk %zu: got %s want %s", k, pos,
					              chunks[ch], c.out.data, want.data);
				buf_free(&c.out);
			}
			buf_free(&want);
		}
	}
}
END_TEST

START_TEST(test_ndjson_crlf_and_blank_lines)
{
	const char *body =
		"\r\n"
		"{\"key\":\"a\",\"value\":\"one\"}\r\n"
		"   \n"
		"\n"
		"{\"value\":\"two\",\"partition\":1}\n"
		"\t\r\n"
		"{\"value\":\"three\"}";        /* no final newline: finish flushes it */
	const char *want =
		"0 k='a' v='one' h={} t=-1 p=-1\n"
		"1 k=NULL v='two' h={} t=-1 p=1\n"
		"2 k=NULL v='three' h={} t=-1 p=-1\n";
	records_limits_t l = default_limits();
	size_t chunk;
	char err[256];

	for (chunk = 0; chunk <= 5; chunk++) {
		collector_t c = { BUF_INIT, 0, 0, 0 };

		ck_assert_int_eq(parse_body(RECORDS_BODY_NDJSON, RECORD_FORMAT_STRING,
		                            RECORD_FORMAT_STRING, &l, body, strlen(body), chunk,
		                            &c, err, sizeof(err)), 0);
		ck_assert_str_eq(c.out.data, want);
		buf_free(&c.out);
	}
}
END_TEST

START_TEST(test_ndjson_errors_name_the_record)
{
	collector_t c = { BUF_INIT, 0, 0, 0 };
	char err[256];

	ck_assert_int_eq(parse_simple(RECORDS_BODY_NDJSON, RECORD_FORMAT_JSON,
	                              RECORD_FORMAT_STRING,
	                              "{\"value\":\"a\"}\n\n{\"value\":2}\n", &c, err),
	                 STRAND_EINVAL);
	ck_assert_str_eq(err, "record 1: value must be a string for value_format string");
	ck_assert_int_eq(parse_simple(RECORDS_BODY_NDJSON, RECORD_FORMAT_JSON,
	                              RECORD_FORMAT_JSON, "[1]\n", &c, err), STRAND_EINVAL);
	ck_assert_str_eq(err, "record 0: not a JSON object");
	ck_assert_int_eq(parse_simple(RECORDS_BODY_NDJSON, RECORD_FORMAT_JSON,
	                              RECORD_FORMAT_JSON, "{\"value\":1} {\"value\":2}\n",
	                              &c, err), STRAND_EINVAL);
	ck_assert_int_eq(parse_simple(RECORDS_BODY_NDJSON, RECORD_FORMAT_JSON,
	                              RECORD_FORMAT_JSON, "\n \r\n", &c, err), STRAND_EINVAL);
	ck_assert_str_eq(err, "no records");
	buf_free(&c.out);
}
END_TEST

START_TEST(test_json_format_keeps_raw_text)
{
	expect_record(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	              "{\"records\":[{\"key\":7,\"value\":9007199254740993}]}",
	              "0 k='7' v='9007199254740993' h={} t=-1 p=-1\n");
	expect_record(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	              "{\"records\":[{\"value\":\" a b \\n\"}]}",
	              "0 k=NULL v='\" a b \\x5cn\"' h={} t=-1 p=-1\n");
	expect_record(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	              "{\"records\":[{\"value\":true}]}",
	              "0 k=NULL v='true' h={} t=-1 p=-1\n");
	/* escaped member names are decoded */
	expect_record(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	              "{\"records\":[{\"val\\u0075e\":false}]}",
	              "0 k=NULL v='false' h={} t=-1 p=-1\n");
}
END_TEST

START_TEST(test_string_format)
{
	expect_record(RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	              "{\"records\":[{\"key\":\"\",\"value\":\"h\\u00e9\\u0000\\/\\t\"}]}",
	              "0 k='' v='h\\xc3\\xa9\\x00/\\x09' h={} t=-1 p=-1\n");
	expect_record(RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	              "{\"records\":[{\"value\":\"\xe2\x82\xac\"}]}",
	              "0 k=NULL v='\\xe2\\x82\\xac' h={} t=-1 p=-1\n");
	expect_fail(RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	            "{\"records\":[{\"value\":1}]}", STRAND_EINVAL,
	            "record 0: value must be a string for value_format string");
	expect_fail(RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	            "{\"records\":[{\"value\":\"a\"},{\"value\":\"a\",\"key\":{}}]}",
	            STRAND_EINVAL, "record 1: key must be a string for key_format string");
	/* cJSON would take these; we do not */
	expect_fail(RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	            "{\"records\":[{\"value\":\"\xff\xfe\"}]}", STRAND_EINVAL,
	            "invalid UTF-8");
	expect_fail(RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	            "{\"records\":[{\"value\":\"\xed\xa0\x80\"}]}", STRAND_EINVAL,
	            "invalid UTF-8");
	expect_fail(RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	            "{\"records\":[{\"value\":\"\\ud800\"}]}", STRAND_EINVAL,
	            "lone surrogate");
	expect_fail(RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	            "{\"records\":[{\"value\":\"a\tb\"}]}", STRAND_EINVAL,
	            "control character");
}
END_TEST

START_TEST(test_binary_format)
{
	expect_record(RECORD_FORMAT_BINARY, RECORD_FORMAT_BINARY,
	              "{\"records\":[{\"key\":\"\\/w==\",\"value\":\"aGVsbG8=\"}]}",
	              "0 k='\\xff' v='hello' h={} t=-1 p=-1\n");
	expect_record(RECORD_FORMAT_BINARY, RECORD_FORMAT_BINARY,
	              "{\"records\":[{\"value\":\"\"}]}",
	              "0 k=NULL v='' h={} t=-1 p=-1\n");
	expect_fail(RECORD_FORMAT_BINARY, RECORD_FORMAT_BINARY,
	            "{\"records\":[{\"value\":\"aGVsbG8\"}]}", STRAND_EINVAL,
	            "record 0: value is not valid base64");
	expect_fail(RECORD_FORMAT_BINARY, RECORD_FORMAT_BINARY,
	            "{\"records\":[{\"value\":\"aGVs bG8=\"}]}", STRAND_EINVAL,
	            "not valid base64");
	expect_fail(RECORD_FORMAT_BINARY, RECORD_FORMAT_BINARY,
	            "{\"records\":[{\"value\":\"aGVsbG8=\",\"key\":\"!!!!\"}]}", STRAND_EINVAL,
	            "record 0: key is not valid base64");
	expect_fail(RECORD_FORMAT_BINARY, RECORD_FORMAT_BINARY,
	            "{\"records\":[{\"value\":[\"aGVsbG8=\"]}]}", STRAND_EINVAL,
	            "value must be a base64 string for value_format binary");
}
END_TEST

START_TEST(test_bad_json_and_wrong_types)
{
	static const char *bad_json[] = {
		"{\"records\":[{\"value\":}]}",
		"{\"records\":[{\"value\":1,}]}",
		"{\"records\":[{\"value\":01}]}",
		"{\"records\":[{\"value\":1.}]}",
		"{\"records\":[{\"value\":tru}]}",
		"{\"records\":[{\"value\" 1}]}",
		"{\"records\":[{\"value\":[1,]}]}",
		"{\"records\":[{\"value\":[1}]}",
		"{\"records\":[{\"value\":\"\\x\"}]}",
		"{\"records\":[{value:1}]}",
		"{\"records\":[{\"value\":1]}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++)
		expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON, bad_json[i], STRAND_EINVAL,
		            "record 0: invalid JSON");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"key\":1}]}", STRAND_EINVAL, "record 0: missing \"value\"");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{}]}", STRAND_EINVAL, "missing \"value\"");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1,\"headers\":{\"a\":1}}]}", STRAND_EINVAL,
	            "headers must be an object of strings");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1,\"headers\":[\"a\"]}]}", STRAND_EINVAL,
	            "headers must be an object of strings");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1,\"headers\":{\"a\":null}}]}", STRAND_EINVAL,
	            "headers must be an object of strings");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1,\"timestamp\":\"5\"}]}", STRAND_EINVAL,
	            "timestamp must be an integer");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1,\"partition\":true}]}", STRAND_EINVAL,
	            "partition must be an integer");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[1]}", STRAND_EINVAL, "record 0: not a JSON object");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1} {\"value\":2}]}", STRAND_EINVAL,
	            "expected ',' or ']'");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":{}}", STRAND_EINVAL, "\"records\" must be an array");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "[{\"value\":1}]", STRAND_EINVAL, "expected {\"records\":[...]}");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1}]} x", STRAND_EINVAL, "data after the end");
}
END_TEST

START_TEST(test_unknown_and_duplicate_members)
{
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"topic\":\"x\",\"records\":[{\"value\":1}]}", STRAND_EINVAL,
	            "unknown member \"topic\"");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1}],\"extra\":[]}", STRAND_EINVAL,
	            "unknown member \"extra\"");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1}],\"records\":[{\"value\":1}]}", STRAND_EINVAL,
	            "duplicate member \"records\"");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1},{\"value\":1,\"offset\":3}]}", STRAND_EINVAL,
	            "record 1: unknown member \"offset\"");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	            "{\"records\":[{\"value\":1,\"value\":2}]}", STRAND_EINVAL,
	            "record 0: duplicate member \"value\"");
}
END_TEST

START_TEST(test_partition_and_timestamp_must_be_nonnegative_integers)
{
	static const struct { const char *member, *text; const char *want; } cases[] = {
		{ "partition", "-1", NULL }, { "partition", "1.5", NULL },
		{ "partition", "1e-1", NULL }, { "partition", "2147483648", NULL },
		{ "partition", "1e10", NULL }, { "partition", "\"1\"", NULL },
		{ "timestamp", "-5", NULL }, { "timestamp", "0.5", NULL },
		{ "timestamp", "9007199254740993", NULL }, { "timestamp", "1e300", NULL },
		{ "timestamp", "-1e3", NULL }, { "timestamp", "[]", NULL },
		{ "partition", "2147483647", "t=-1 p=2147483647" },
		{ "partition", "-0", "t=-1 p=0" },
		{ "partition", "3.000", "t=-1 p=3" },
		{ "partition", "null", "t=-1 p=-1" },
		{ "timestamp", "9007199254740992", "t=9007199254740992 p=-1" },
		{ "timestamp", "1.5e3", "t=1500 p=-1" },
		{ "timestamp", "25e-1e", NULL },
		{ "timestamp", "12300e-2", "t=123 p=-1" },
		{ "timestamp", "0.0e5", "t=0 p=-1" },
	};
	char body[256], want[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "{\"records\":[{\"value\":1,\"%s\":%s}]}",
		         cases[i].member, cases[i].text);
		if (cases[i].want == NULL) {
			expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON, body, STRAND_EINVAL,
			            "record 0: ");
		} else {
			snprintf(want, sizeof(want), "0 k=NULL v='1' h={} %s\n", cases[i].want);
			expect_record(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON, body, want);
		}
	}
}
END_TEST

START_TEST(test_empty_records_and_truncated_body)
{
	static const char *truncated[] = {
		"{", "{\"records\"", "{\"records\":[", "{\"records\":[{\"value\":1}",
		"{\"records\":[{\"value\":1},", "{\"records\":[{\"value\":1}]",
		"{\"records\":[{\"value\":\"abc",
	};
	collector_t c = { BUF_INIT, 0, 0, 0 };
	char err[256];
	size_t i;

	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON, "{\"records\":[]}", STRAND_EINVAL,
	            "no records");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON, "{}", STRAND_EINVAL, "no records");
	expect_fail(RECORD_FORMAT_JSON, RECORD_FORMAT_JSON, "", STRAND_EINVAL, "empty");
	for (i = 0; i < sizeof(truncated) / sizeof(truncated[0]); i++) {
		ck_assert_int_eq(parse_simple(RECORDS_BODY_JSON, RECORD_FORMAT_JSON,
		                              RECORD_FORMAT_JSON, truncated[i], &c, err),
		                 STRAND_EINVAL);
		ck_assert_msg(strstr(err, "truncated") != NULL, "%s: %s", truncated[i], err);
	}
	buf_free(&c.out);
}
END_TEST

START_TEST(test_depth_limit)
{
	records_limits_t l = default_limits();
	collector_t c = { BUF_INIT, 0, 0, 0 };
	const char *ok = "{\"records\":[{\"value\":[[1]]}]}";
	const char *deep = "{\"records\":[{\"value\":[[[1]]]}]}";
	const char *deep_nd = "{\"value\":{\"a\":[{}]}}\n";
	char err[256];

	l.max_depth = 3;   /* the record object is depth 1 */
	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                            &l, ok, strlen(ok), 0, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                            &l, deep, strlen(deep), 1, &c, err, sizeof(err)),
	                 STRAND_EINVAL);
	ck_assert_str_eq(err, "record 0: nesting deeper than 3");
	ck_assert_int_eq(parse_body(RECORDS_BODY_NDJSON, RECORD_FORMAT_JSON,
	                            RECORD_FORMAT_JSON, &l, deep_nd, strlen(deep_nd), 0, &c,
	                            err, sizeof(err)), STRAND_EINVAL);
	ck_assert_msg(strstr(err, "nesting") != NULL, "%s", err);
	buf_free(&c.out);
}
END_TEST

START_TEST(test_record_too_large_before_it_arrives)
{
	records_limits_t l = default_limits();
	records_parser_t *p;
	collector_t c = { BUF_INIT, 0, 0, 0 };
	char chunk[1024], err[256], body[512];
	const char *head = "{\"records\":[{\"value\":\"";
	int i, rc = 0;

	l.max_record_bytes = 100;
	memset(chunk, 'a', sizeof(chunk));
	/* JSON: an endless string value is refused while it streams */
	ck_assert_int_eq(records_parser_new(RECORDS_BODY_JSON, RECORD_FORMAT_JSON,
	                                    RECORD_FORMAT_STRING, &l, &p), 0);
	ck_assert_int_eq(records_parser_feed(p, head, strlen(head), collect, &c, err,
	                                     sizeof(err)), 0);
	for (i = 0; i < 100 && rc == 0; i++)
		rc = records_parser_feed(p, chunk, sizeof(chunk), collect, &c, err, sizeof(err));
	ck_assert_int_eq(rc, STRAND_ETOOBIG);
	ck_assert_int_lt(i, 10);
	ck_assert_str_eq(err, "record 0: larger than the limit of 100 bytes");
	/* the parser stays failed */
	ck_assert_int_eq(records_parser_feed(p, "\"}]}", 4, collect, &c, err, sizeof(err)),
	                 STRAND_ETOOBIG);
	ck_assert_int_eq(records_parser_finish(p, collect, &c, err, sizeof(err)),
	                 STRAND_ETOOBIG);
	records_parser_free(p);

	/* NDJSON: an endless line likewise */
	ck_assert_int_eq(records_parser_new(RECORDS_BODY_NDJSON, RECORD_FORMAT_JSON,
	                                    RECORD_FORMAT_STRING, &l, &p), 0);
	for (i = 0, rc = 0; i < 100 && rc == 0; i++)
		rc = records_parser_feed(p, chunk, sizeof(chunk), collect, &c, err, sizeof(err));
	ck_assert_int_eq(rc, STRAND_ETOOBIG);
	ck_assert_int_lt(i, 10);
	records_parser_free(p);

	/* a complete record just over the decoded limit: key + value + headers */
	snprintf(body, sizeof(body),
	         "{\"records\":[{\"value\":\"%.60s\",\"key\":\"%.20s\",\"headers\":{\"h\":\"%.19s\"}}]}",
	         chunk, chunk, chunk);
	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_STRING,
	                            RECORD_FORMAT_STRING, &l, body, strlen(body), 0, &c, err,
	                            sizeof(err)), 0);
	snprintf(body, sizeof(body),
	         "{\"records\":[{\"value\":\"%.60s\",\"key\":\"%.20s\",\"headers\":{\"h\":\"%.20s\"}}]}",
	         chunk, chunk, chunk);
	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_STRING,
	                            RECORD_FORMAT_STRING, &l, body, strlen(body), 0, &c, err,
	                            sizeof(err)), STRAND_ETOOBIG);
	ck_assert_str_eq(err, "record 0: 101 bytes of key, value and headers is over the "
	                      "limit of 100");
	buf_free(&c.out);
}
END_TEST

START_TEST(test_max_records)
{
	records_limits_t l = default_limits();
	collector_t c = { BUF_INIT, 0, 0, 0 };
	const char *body = "{\"records\":[{\"value\":1},{\"value\":2},{\"value\":3}]}";
	const char *nd = "{\"value\":1}\n{\"value\":2}\n\n{\"value\":3}\n";
	char err[256];

	l.max_records = 3;
	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                            &l, body, strlen(body), 0, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.n, 3);
	l.max_records = 2;
	c.n = 0;
	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                            &l, body, strlen(body), 0, &c, err, sizeof(err)),
	                 STRAND_ETOOBIG);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(err, "more than 2 records in the request");
	c.n = 0;
	ck_assert_int_eq(parse_body(RECORDS_BODY_NDJSON, RECORD_FORMAT_JSON,
	                            RECORD_FORMAT_JSON, &l, nd, strlen(nd), 1, &c, err,
	                            sizeof(err)), STRAND_ETOOBIG);
	ck_assert_uint_eq(c.n, 2);
	buf_free(&c.out);
}
END_TEST

START_TEST(test_callback_error_is_propagated)
{
	records_limits_t l = default_limits();
	collector_t c = { BUF_INIT, 0, 1, STRAND_ENOSPC };
	const char *body = "{\"records\":[{\"value\":1},{\"value\":2},{\"value\":3}]}";
	char err[256];

	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                            &l, body, strlen(body), 1, &c, err, sizeof(err)),
	                 STRAND_ENOSPC);
	ck_assert_uint_eq(c.n, 1);
	ck_assert(strstr(err, "record 1") != NULL);
	c.n = 0;
	ck_assert_int_eq(parse_body(RECORDS_BODY_NDJSON, RECORD_FORMAT_JSON,
	                            RECORD_FORMAT_JSON, &l, "{\"value\":1}\n{\"value\":2}", 23,
	                            0, &c, err, sizeof(err)), STRAND_ENOSPC);
	ck_assert_uint_eq(c.n, 1);
	buf_free(&c.out);
}
END_TEST

START_TEST(test_many_records_stream_through)
{
	records_limits_t l = default_limits();
	collector_t c = { BUF_INIT, 0, 0, 0 };
	buf_t body = BUF_INIT;
	char err[256];
	int i;

	buf_append_str(&body, "{\"records\":[");
	for (i = 0; i < 5000; i++)
		buf_appendf(&body, "%s{\"key\":\"k%d\",\"value\":{\"n\":%d}}", i ? "," : "", i, i);
	buf_append_str(&body, "]}");
	ck_assert_int_eq(parse_body(RECORDS_BODY_JSON, RECORD_FORMAT_STRING, RECORD_FORMAT_JSON,
	                            &l, body.data, body.len, 4096, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.n, 5000);
	ck_assert(strstr(c.out.data, "4999 k='k4999' v='{\"n\":4999}'") != NULL);
	buf_free(&body);
	buf_free(&c.out);
}
END_TEST

/* ---- fetch views ---------------------------------------------------------- */

typedef struct built {
	batch_builder_t b;
	size_t sizes[4];
	int nbatches;
} built_t;

/*
 * Two batches: offsets 0..2 and 3..4.
 *  0: key "k0", value {"a": 1} (spaces), headers h=v, g=w
 *  1: null key, value "plain text" (not JSON), header bad=\xff
 *  2: key \xff\xfe, null value, no headers
 *  3: key "k3", value "[1,2]", header with null value
 *  4: key "", value "\"s\""
 */
static void build_batches(built_t *t)
{
	batch_kv_t h0[] = {
		{ (const uint8_t *)"h", 1, (const uint8_t *)"v", 1 },
		{ (const uint8_t *)"g", 1, (const uint8_t *)"w", 1 },
	};
	batch_kv_t h1[] = { { (const uint8_t *)"bad", 3, (const uint8_t *)"\xff", 1 } };
	batch_kv_t h3[] = { { (const uint8_t *)"n", 1, NULL, -1 } };
	size_t first;

	batch_builder_init(&t->b);
	ck_assert_int_eq(batch_builder_begin(&t->b, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&t->b, 1000, (const uint8_t *)"k0", 2,
	                                   (const uint8_t *)" {\"a\": 1} ", 10, h0, 2), 0);
	ck_assert_int_eq(batch_builder_add(&t->b, 1001, NULL, -1,
	                                   (const uint8_t *)"plain text", 10, h1, 1), 0);
	ck_assert_int_eq(batch_builder_add(&t->b, 1002, (const uint8_t *)"\xff\xfe", 2,
	                                   NULL, -1, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&t->b, &t->sizes[0]), 0);
	first = t->b.len;
	ck_assert_int_eq(batch_builder_begin(&t->b, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&t->b, 2000, (const uint8_t *)"k3", 2,
	                                   (const uint8_t *)"[1,2]", 5, h3, 1), 0);
	ck_assert_int_eq(batch_builder_add(&t->b, 2001, (const uint8_t *)"", 0,
	                                   (const uint8_t *)"\"s\"", 3, NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&t->b, &t->sizes[1]), 0);
	ck_assert_uint_eq(first, t->sizes[0]);
	ck_assert_uint_eq(t->b.len, t->sizes[0] + t->sizes[1]);
	batch_set_base_offset(t->b.buf + first, 3);
	t->nbatches = 2;
}

static cJSON *parse_view(const buf_t *out)
{
	buf_t w = BUF_INIT;
	cJSON *arr;

	buf_append_str(&w, "[");
	buf_append(&w, out->data, out->len);
	buf_append_str(&w, "]");
	arr = cJSON_ParseWithLength(w.data, w.len);
	ck_assert_msg(arr != NULL, "view does not parse: %s", w.data);
	buf_free(&w);
	return arr;
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(m) ? m->valuestring : NULL;
}

static char *jprint(const cJSON *o, const char *name)
{
	return cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, name));
}

static void check_field(const cJSON *rec, const char *name, const char *want_json)
{
	char *got = jprint(rec, name);

	ck_assert_msg(got != NULL && strcmp(got, want_json) == 0, "%s: expected %s got %s",
	              name, want_json, got ? got : "(missing)");
	free(got);
}

START_TEST(test_json_view_json_format)
{
	built_t t;
	buf_t out = BUF_INIT;
	size_t count = 0;
	int64_t next = -1;
	cJSON *arr, *r;

	build_batches(&t);
	ck_assert_int_eq(records_json_append(&out, t.b.buf, t.b.len, 0, INT64_MAX, 0,
	                                     RECORD_FORMAT_STRING, RECORD_FORMAT_JSON,
	                                     &count, &next), 0);
	ck_assert_uint_eq(count, 5);
	ck_assert_int_eq(next, 5);
	arr = parse_view(&out);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 5);

	r = cJSON_GetArrayItem(arr, 0);
	check_field(r, "offset", "0");
	check_field(r, "timestamp", "1000");
	check_field(r, "key", "\"k0\"");
	check_field(r, "value", "{\"a\":1}");
	check_field(r, "headers", "{\"h\":\"v\",\"g\":\"w\"}");
	ck_assert_ptr_null(cJSON_GetObjectItem(r, "value_encoding"));
	ck_assert_ptr_null(cJSON_GetObjectItem(r, "headers_encoding"));

	r = cJSON_GetArrayItem(arr, 1);
	check_field(r, "key", "null");
	check_field(r, "value", "\"cGxhaW4gdGV4dA==\"");
	ck_assert_str_eq(jstr(r, "value_encoding"), "base64");
	check_field(r, "headers", "{\"YmFk\":\"/w==\"}");
	ck_assert_str_eq(jstr(r, "headers_encoding"), "base64");

	r = cJSON_GetArrayItem(arr, 2);
	check_field(r, "key", "\"//4=\"");
	ck_assert_str_eq(jstr(r, "key_encoding"), "base64");
	check_field(r, "value", "null");
	check_field(r, "headers", "{}");

	r = cJSON_GetArrayItem(arr, 3);
	check_field(r, "offset", "3");
	check_field(r, "timestamp", "2000");
	check_field(r, "value", "[1,2]");
	check_field(r, "headers", "{\"n\":null}");

	r = cJSON_GetArrayItem(arr, 4);
	check_field(r, "key", "\"\"");
	check_field(r, "value", "\"s\"");
	cJSON_Delete(arr);
	buf_free(&out);
	batch_builder_free(&t.b);
}
END_TEST

START_TEST(test_json_view_string_and_binary_formats)
{
	built_t t;
	buf_t out = BUF_INIT;
	size_t count = 0;
	int64_t next = -1;
	cJSON *arr, *r;

	build_batches(&t);
	ck_assert_int_eq(records_json_append(&out, t.b.buf, t.b.len, 0, INT64_MAX, 0,
	                                     RECORD_FORMAT_BINARY, RECORD_FORMAT_STRING,
	                                     &count, &next), 0);
	arr = parse_view(&out);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 5);
	r = cJSON_GetArrayItem(arr, 0);
	check_field(r, "key", "\"azA=\"");
	ck_assert_ptr_null(cJSON_GetObjectItem(r, "key_encoding"));   /* binary: no flag */
	check_field(r, "value", "\" {\\\"a\\\": 1} \"");
	r = cJSON_GetArrayItem(arr, 1);
	check_field(r, "value", "\"plain text\"");
	ck_assert_ptr_null(cJSON_GetObjectItem(r, "value_encoding"));
	r = cJSON_GetArrayItem(arr, 2);
	check_field(r, "key", "\"//4=\"");
	ck_assert_ptr_null(cJSON_GetObjectItem(r, "key_encoding"));
	cJSON_Delete(arr);

	/* non-UTF-8 bytes in a string topic: base64 and the flag */
	batch_builder_reset(&t.b);
	ck_assert_int_eq(batch_builder_begin(&t.b, -1, -1, -1), 0);
	ck_assert_int_eq(batch_builder_add(&t.b, 5, NULL, -1, (const uint8_t *)"a\xc0\x80", 3,
	                                   NULL, 0), 0);
	ck_assert_int_eq(batch_builder_finish(&t.b, NULL), 0);
	buf_reset(&out);
	count = 0;
	ck_assert_int_eq(records_json_append(&out, t.b.buf, t.b.len, 0, INT64_MAX, 0,
	                                     RECORD_FORMAT_STRING, RECORD_FORMAT_STRING,
	                                     &count, &next), 0);
	arr = parse_view(&out);
	r = cJSON_GetArrayItem(arr, 0);
	check_field(r, "value", "\"YcCA\"");
	ck_assert_str_eq(jstr(r, "value_encoding"), "base64");
	cJSON_Delete(arr);
	buf_free(&out);
	batch_builder_free(&t.b);
}
END_TEST

START_TEST(test_json_view_offsets_bounds_and_max_records)
{
	built_t t;
	buf_t out = BUF_INIT;
	size_t count = 0;
	int64_t next = -1;
	cJSON *arr;

	build_batches(&t);
	/* from inside the first batch, below inside the second */
	ck_assert_int_eq(records_json_append(&out, t.b.buf, t.b.len, 1, 4, 0,
	                                     RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                                     &count, &next), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(next, 4);
	arr = parse_view(&out);
	check_field(cJSON_GetArrayItem(arr, 0), "offset", "1");
	check_field(cJSON_GetArrayItem(arr, 2), "offset", "3");
	cJSON_Delete(arr);

	/* a second call continues the list: leading comma, max_records per call */
	ck_assert_int_eq(records_json_append(&out, t.b.buf, t.b.len, next, INT64_MAX, 1,
	                                     RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                                     &count, &next), 0);
	ck_assert_uint_eq(count, 4);
	ck_assert_int_eq(next, 5);
	arr = parse_view(&out);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 4);
	check_field(cJSON_GetArrayItem(arr, 3), "offset", "4");
	cJSON_Delete(arr);

	/* from past everything, and below before everything: nothing */
	buf_reset(&out);
	count = 0;
	next = 42;
	ck_assert_int_eq(records_json_append(&out, t.b.buf, t.b.len, 5, INT64_MAX, 0,
	                                     RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                                     &count, &next), 0);
	ck_assert_int_eq(records_json_append(&out, t.b.buf, t.b.len, 0, 0, 0,
	                                     RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                                     &count, &next), 0);
	ck_assert_uint_eq(count, 0);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(next, 42);

	/* max_records 2 from 0 */
	ck_assert_int_eq(records_json_append(&out, t.b.buf, t.b.len, 0, INT64_MAX, 2,
	                                     RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                                     &count, &next), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(next, 2);
	buf_free(&out);
	batch_builder_free(&t.b);
}
END_TEST

START_TEST(test_views_tolerate_truncated_input)
{
	built_t t;
	buf_t out = BUF_INIT;
	size_t count, cut;
	int64_t next;

	build_batches(&t);
	/* every cut: whole batches before the cut are shown, nothing past it is read */
	for (cut = 0; cut <= t.b.len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		size_t want = cut >= t.sizes[0] + t.sizes[1] ? 5 : cut >= t.sizes[0] ? 3 : 0;

		memcpy(copy, t.b.buf, cut);
		buf_reset(&out);
		count = 0;
		next = -1;
		ck_assert_int_eq(records_json_append(&out, copy, cut, 0, INT64_MAX, 0,
		                                     RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
		                                     &count, &next), 0);
		ck_assert_msg(count == want, "cut %zu: expected %zu records, got %zu", cut, want,
		              count);
		count = 0;
		ck_assert_int_eq(records_sse_append(&out, copy, cut, 0, INT64_MAX, 0,
		                                    RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
		                                    &count, &next), 0);
		ck_assert_uint_eq(count, want);
		free(copy);
	}
	buf_free(&out);
	batch_builder_free(&t.b);
}
END_TEST

START_TEST(test_sse_view_one_event_per_record)
{
	built_t t;
	buf_t out = BUF_INIT;
	size_t count = 0;
	int64_t next = -1, want_offset = 2;
	char *p, *nl, *end;
	cJSON *r;

	build_batches(&t);
	ck_assert_int_eq(records_sse_append(&out, t.b.buf, t.b.len, 2, INT64_MAX, 0,
	                                    RECORD_FORMAT_JSON, RECORD_FORMAT_JSON,
	                                    &count, &next), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(next, 5);
	p = out.data;
	end = out.data + out.len;
	while (p < end) {
		char idline[32];

		snprintf(idline, sizeof(idline), "id: %lld\ndata: ", (long long)want_offset);
		ck_assert_msg(strncmp(p, idline, strlen(idline)) == 0, "event: %s", p);
		p += strlen(idline);
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(nl[1] == '\n', "event not ended by a blank line");
		r = cJSON_ParseWithLength(p, (size_t)(nl - p));
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq((int64_t)cJSON_GetObjectItem(r, "offset")->valuedouble,
		                 want_offset);
		if (want_offset == 3)
			check_field(r, "value", "[1,2]");
		cJSON_Delete(r);
		p = nl + 2;
		want_offset++;
	}
	ck_assert_int_eq(want_offset, 5);
	buf_free(&out);
	batch_builder_free(&t.b);
}
END_TEST

static int add_to_builder(void *ctx, const produce_record_t *rec)
{
	return batch_builder_add(ctx, rec->timestamp < 0 ? 7 : rec->timestamp, rec->key,
	                         rec->key_len, rec->value, rec->value_len, rec->headers,
	                         rec->nheaders);
}

START_TEST(test_produce_then_view_round_trip)
{
	/* what produce stores, the view shows back, for every format */
	static const record_format_t fmts[] = {
		RECORD_FORMAT_JSON, RECORD_FORMAT_STRING, RECORD_FORMAT_BINARY,
	};
	static const char *values[] = {
		"{ \"a\" : [1, 2.50, {\"b\":null}], \"c\":\"\\u00e9\"}",
		"\"h\\u00e9llo\"", "\"aGVsbG8=\"",
	};
	static const char *shown[] = {
		"{\"a\":[1,2.50,{\"b\":null}],\"c\":\"\\u00e9\"}", "\"h\xc3\xa9llo\"", "\"aGVsbG8=\"",
	};
	size_t f;

	for (f = 0; f < 3; f++) {
		records_limits_t l = default_limits();
		records_parser_t *p;
		batch_builder_t b;
		buf_t body = BUF_INIT, out = BUF_INIT;
		size_t count = 0;
		int64_t next = 0;
		char err[256];
		cJSON *arr, *r;

		buf_appendf(&body, "{\"key\":%s,\"value\":%s,\"headers\":{\"x\":\"y\"}}\n",
		            values[f], values[f]);
		batch_builder_init(&b);
		ck_assert_int_eq(batch_builder_begin(&b, -1, -1, -1), 0);
		ck_assert_int_eq(records_parser_new(RECORDS_BODY_NDJSON, fmts[f], fmts[f], &l, &p),
		                 0);
		ck_assert_int_eq(records_parser_feed(p, body.data, body.len, add_to_builder, &b,
		                                     err, sizeof(err)), 0);
		ck_assert_int_eq(records_parser_finish(p, add_to_builder, &b, err, sizeof(err)), 0);
		records_parser_free(p);
		ck_assert_int_eq(batch_builder_finish(&b, NULL), 0);
		ck_assert_int_eq(records_json_append(&out, b.buf, b.len, 0, INT64_MAX, 0, fmts[f],
		                                     fmts[f], &count, &next), 0);
		ck_assert_uint_eq(count, 1);
		arr = parse_view(&out);
		r = cJSON_GetArrayItem(arr, 0);
		/* cJSON re-prints strings and numbers its own way: compare raw text */
		ck_assert_msg(strstr(out.data, shown[f]) != NULL, "format %zu: %s lacks %s", f,
		              out.data, shown[f]);
		check_field(r, "timestamp", "7");
		check_field(r, "headers", "{\"x\":\"y\"}");
		ck_assert_ptr_null(cJSON_GetObjectItem(r, "value_encoding"));
		ck_assert_ptr_null(cJSON_GetObjectItem(r, "key_encoding"));
		cJSON_Delete(arr);
		buf_free(&body);
		buf_free(&out);
		batch_builder_free(&b);
	}
}
END_TEST

static Suite *records_suite(void)
{
	Suite *s = suite_create("records");
	TCase *tc = tcase_create("produce");
	TCase *tv = tcase_create("views");

	tcase_add_test(tc, test_base64_roundtrip_every_length);
	tcase_add_test(tc, test_base64_decoder_is_strict);
	tcase_add_test(tc, test_utf8_rejects_overlong_surrogate_and_out_of_range);
	tcase_add_test(tc, test_json_body_whole_and_byte_by_byte_agree);
	tcase_add_test(tc, test_special_bytes_at_every_position_of_long_strings);
	tcase_add_test(tc, test_ndjson_crlf_and_blank_lines);
	tcase_add_test(tc, test_ndjson_errors_name_the_record);
	tcase_add_test(tc, test_json_format_keeps_raw_text);
	tcase_add_test(tc, test_string_format);
	tcase_add_test(tc, test_binary_format);
	tcase_add_test(tc, test_bad_json_and_wrong_types);
	tcase_add_test(tc, test_unknown_and_duplicate_members);
	tcase_add_test(tc, test_partition_and_timestamp_must_be_nonnegative_integers);
	tcase_add_test(tc, test_empty_records_and_truncated_body);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_record_too_large_before_it_arrives);
	tcase_add_test(tc, test_max_records);
	tcase_add_test(tc, test_callback_error_is_propagated);
	tcase_add_test(tc, test_many_records_stream_through);
	tcase_add_test(tv, test_json_view_json_format);
	tcase_add_test(tv, test_json_view_string_and_binary_formats);
	tcase_add_test(tv, test_json_view_offsets_bounds_and_max_records);
	tcase_add_test(tv, test_views_tolerate_truncated_input);
	tcase_add_test(tv, test_sse_view_one_event_per_record);
	tcase_add_test(tv, test_produce_then_view_round_trip);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tv);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(records_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
