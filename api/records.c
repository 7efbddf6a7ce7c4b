/*
 * records.c — the JSON faces of records (see records.h and API.md "Records").
 *
 * Produce: a byte-at-a-time scanner follows the outer document
 * ({"records":[ ... ]} or NDJSON lines) and captures one record's raw text
 * at a time; a strict JSON reader then checks that text and pulls out the
 * members, converting key and value by the topic's formats into scratch
 * buffers that are reused for every record.
 *
 * Why our own reader rather than cJSON for the record: cJSON builds a tree
 * (allocations per record on the hot path), cuts strings at "\u0000",
 * accepts raw control characters and invalid UTF-8 in strings, and loses
 * the raw text of a value, which json-format storage keeps (1.0 stays 1.0,
 * 9007199254740993 is not rounded). The reader allocates nothing.
 *
 * Choices the brief leaves open, made here:
 * - Record indices in messages are 0-based, as produce_record_t.index.
 * - A JSON null value is a null record value (value_len -1, a Kafka
 *   tombstone) for every value_format; a null or absent key is a null key.
 *   "headers", "timestamp" and "partition" given as null mean "absent".
 * - max_depth counts from the record object (depth 1), in both body kinds;
 *   <= 0 means 64, and it is capped at 1000 (the reader recurses).
 * - max_record_bytes 0 means Kafka's default max.message.bytes (1048588).
 *   A record's raw text may take at most 2 * max_record_bytes + 4 KiB:
 *   past that it is refused with STRAND_ETOOBIG before it has all arrived.
 *   (So a value made mostly of \u escapes can be refused below the limit.)
 * - Unknown members, duplicate members, and top-level members other than
 *   "records" are STRAND_EINVAL; header names may repeat (Kafka allows it)
 *   and all are kept.
 *
 * Fetch views: see records_json_append below.
 */
#include "api/records.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/err.h"
#include "common/utf8.h"

#define RECORDS_DEFAULT_MAX_DEPTH        64
#define RECORDS_MAX_DEPTH_CAP            1000
#define RECORDS_DEFAULT_MAX_RECORD_BYTES 1048588
#define RECORDS_RAW_SLACK                4096
#define RECORDS_NAME_MAX                 64
#define RECORDS_VIEW_MAX_DEPTH           512

/* ---- a strict JSON reader over a complete span -------------------------- */

typedef struct jreader {
	const char *p, *end;
	int depth, max_depth;
	const char *why;          /* what went wrong, for messages */
} jreader_t;

static int json_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void jr_ws(jreader_t *r)
{
	while (r->p < r->end && json_is_ws(*r->p))
		r->p++;
}

static int jr_fail(jreader_t *r, const char *why)
{
	r->why = why;
	return STRAND_EINVAL;
}

static int jr_at(const jreader_t *r, char c)
{
	return r->p < r->end && *r->p == c;
}

/* Four hex digits at s into *out; -1 when one is not a hex digit. */
static int json_hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* SWAR: the bytes of word w equal to c have their top bit set (bytes after
 * a match may be flagged too: callers only use "any" to leave a fast path). */
static inline uint64_t json_word_eq(uint64_t w, unsigned char c)
{
	uint64_t x = w ^ (0x0101010101010101ull * c);

	return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

#if defined(__SSE2__)
/*
 * Bit i set when byte i of p[0..15] is a quote or a backslash, or (with
 * ctl) a control or non-ASCII byte: the signed compare puts bytes >= 0x80
 * below 0x20 too.
 */
static inline unsigned json_mask16(const char *p, int ctl)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
	                           _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));

	if (ctl)
		hit = _mm_or_si128(hit, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
	return (unsigned)_mm_movemask_epi8(hit);
}
#endif

/*
 * Hot path: step over plain string text, stopping at the first quote,
 * backslash, control or non-ASCII byte (the byte-wise code handles those).
 * Values are mostly such text. SSE2 (every x86_64 has it) takes 16 bytes a
 * step and lands on the special byte itself; the rest goes 8 bytes at a
 * time, stopping at the first word holding one.
 */
static const char *json_skip_plain(const char *p, const char *end)
{
	uint64_t w;

#if defined(__SSE2__)
	while (end - p >= 16) {
		unsigned m = json_mask16(p, 1);

		if (m != 0)
			return p + __builtin_ctz(m);
		p += 16;
	}
#endif
	while (end - p >= 8) {
		memcpy(&w, p, 8);
		if ((w & 0x8080808080808080ull) ||
		    ((w - 0x2020202020202020ull) & ~w & 0x8080808080808080ull) ||
		    json_word_eq(w, '"') || json_word_eq(w, '\\'))
			break;
		p += 8;
	}
	return p;
}

/*
 * Check the string at r->p (on its opening quote) and step past it.
 * Rejects raw control characters, bad escapes, lone surrogate escapes and
 * ill-formed UTF-8, so that every accepted string decodes to valid UTF-8.
 */
static int jr_string(jreader_t *r)
{
	const char *p = r->p + 1;
	uint32_t u, lo;
	size_t n;

	while (p < r->end) {
		unsigned char c;

		p = json_skip_plain(p, r->end);
		if (p >= r->end)
			break;
		c = (unsigned char)*p;

		if (c == '"') {
			r->p = p + 1;
			return 0;
		}
		if (c == '\\') {
			if (r->end - p < 2)
				break;
			if (strchr("\"\\/bfnrt", p[1]) != NULL && p[1] != '\0') {
				p += 2;
				continue;
			}
			if (p[1] != 'u')
				return jr_fail(r, "bad escape in string");
			if (r->end - p < 6 || json_hex4(p + 2, &u))
				return jr_fail(r, "bad \\u escape in string");
			p += 6;
			if (u >= 0xDC00 && u <= 0xDFFF)
				return jr_fail(r, "lone surrogate in string");
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (r->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    json_hex4(p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					return jr_fail(r, "lone surrogate in string");
				p += 6;
			}
			continue;
		}
		if (c < 0x20)
			return jr_fail(r, "control character in string");
		if (c < 0x80) {
			p++;
			continue;
		}
		n = utf8_sequence_len((const uint8_t *)p, (size_t)(r->end - p));
		if (n == 0)
			return jr_fail(r, "invalid UTF-8 in string");
		p += n;
	}
	r->p = p;
	return jr_fail(r, "unterminated string");
}

static int jr_digits(jreader_t *r)
{
	const char *s = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > s ? 0 : jr_fail(r, "bad number");
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int jr_number(jreader_t *r)
{
	if (jr_at(r, '-'))
		r->p++;
	if (jr_at(r, '0'))
		r->p++;
	else if (r->p >= r->end || *r->p < '1' || *r->p > '9')
		return jr_fail(r, "bad number");
	else
		jr_digits(r);
	if (jr_at(r, '.')) {
		r->p++;
		if (jr_digits(r))
			return STRAND_EINVAL;
	}
	if (jr_at(r, 'e') || jr_at(r, 'E')) {
		r->p++;
		if (jr_at(r, '+') || jr_at(r, '-'))
			r->p++;
		if (jr_digits(r))
			return STRAND_EINVAL;
	}
	return 0;
}

static int jr_literal(jreader_t *r, const char *word, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return jr_fail(r, "unexpected character");
	r->p += n;
	return 0;
}

static int jr_value(jreader_t *r);

/* Object or array at r->p; close is '}' or ']'. */
static int jr_container(jreader_t *r, char close)
{
	int rc;

	if (++r->depth > r->max_depth)
		return jr_fail(r, "nesting too deep");
	r->p++;
	jr_ws(r);
	if (jr_at(r, close)) {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			if (!jr_at(r, '"'))
				return jr_fail(r, "expected a member name");
			if ((rc = jr_string(r)))
				return rc;
			jr_ws(r);
			if (!jr_at(r, ':'))
				return jr_fail(r, "expected ':'");
			r->p++;
			jr_ws(r);
		}
		if ((rc = jr_value(r)))
			return rc;
		jr_ws(r);
		if (jr_at(r, ',')) {
			r->p++;
			jr_ws(r);
			continue;
		}
		if (jr_at(r, close)) {
			r->p++;
			break;
		}
		return jr_fail(r, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	r->depth--;
	return 0;
}

/* Check one value at r->p and step past it. */
static int jr_value(jreader_t *r)
{
	if (r->p >= r->end)
		return jr_fail(r, "unexpected end");
	switch (*r->p) {
	case '"': return jr_string(r);
	case '{': return jr_container(r, '}');
	case '[': return jr_container(r, ']');
	case 't': return jr_literal(r, "true", 4);
	case 'f': return jr_literal(r, "false", 5);
	case 'n': return jr_literal(r, "null", 4);
	default:
		if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
			return jr_number(r);
		return jr_fail(r, "unexpected character");
	}
}

/* 1 when s[0, len) is exactly one JSON value (surrounding whitespace allowed). */
static int json_is_valid(const uint8_t *s, size_t len)
{
	jreader_t r = { (const char *)s, (const char *)s + len, 0, RECORDS_VIEW_MAX_DEPTH, NULL };

	jr_ws(&r);
	if (jr_value(&r))
		return 0;
	jr_ws(&r);
	return r.p == r.end;
}

/*
 * Append the decoded text of the string span [s, e) (quotes included),
 * which jr_string accepted. Decoding never makes a string longer, so this
 * reserves e - s and writes in place.
 */
static int json_string_decode_append(buf_t *out, const char *s, const char *e)
{
	const char *p = s + 1, *q = e - 1;
	uint32_t u, lo;
	char *o;

	if (buf_reserve(out, (size_t)(e - s)))
		return STRAND_ENOMEM;
	o = out->data + out->len;
	while (p < q) {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		switch (p[1]) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			json_hex4(p + 2, &u);
			if (u >= 0xD800 && u <= 0xDBFF) {
				json_hex4(p + 8, &lo);
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			o += utf8_encode(u, (uint8_t *)o);
			p += 4;
			break;
		default: *o++ = p[1]; break;     /* " \ / */
		}
		p += 2;
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/*
 * Append the valid JSON text s[0, len) minus insignificant whitespace: the
 * raw text is kept otherwise, so numbers are not reformatted.
 */
static int json_minify_append(buf_t *out, const char *s, size_t len)
{
	int in_string = 0, escape = 0;
	size_t i;
	char *o;

	if (buf_reserve(out, len))
		return STRAND_ENOMEM;
	o = out->data + out->len;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (in_string) {
			if (escape)
				escape = 0;
			else if (c == '\\')
				escape = 1;
			else if (c == '"')
				in_string = 0;
		} else if (json_is_ws(c)) {
			continue;
		} else if (c == '"') {
			in_string = 1;
		}
		*o++ = c;
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/*
 * The JSON number s[0, len) (jr_number accepted it) as an integer in
 * [0, max]. Exact, with no detour through double: 1.0 and 1e3 are
 * integers, 1.5 and 1e-1 are not. Returns 0, -1 (negative or not an
 * integer) or 1 (above max). max must be below 2^60.
 */
static int json_integer(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	const char *end = s + len, *ip, *fp = NULL;
	size_t il, fl = 0, nd, k, first, last;
	long exp = 0;
	int neg = 0, eneg = 0;
	uint64_t v = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	ip = s;
	while (s < end && *s >= '0' && *s <= '9')
		s++;
	il = (size_t)(s - ip);
	if (s < end && *s == '.') {
		fp = ++s;
		while (s < end && *s >= '0' && *s <= '9')
			s++;
		fl = (size_t)(s - fp);
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		s++;
		if (*s == '+' || *s == '-')
			eneg = *s++ == '-';
		for (; s < end; s++)
			if (exp < 100000)
				exp = exp * 10 + (*s - '0');
		if (eneg)
			exp = -exp;
	}
	/* the digits ip..fp read as one run d[0, nd), worth d * 10^(exp - fl) */
	nd = il + fl;
#define DIGIT(k) ((k) < il ? ip[(k)] : fp[(k) - il])
	for (first = 0; first < nd && DIGIT(first) == '0'; first++)
		;
	if (first == nd) {
		*out = 0;
		return 0;
	}
	if (neg)
		return -1;
	for (last = nd - 1; DIGIT(last) == '0'; last--)
		;
	exp += (long)(nd - 1 - last) - (long)fl;
	if (exp < 0)
		return -1;
	if ((long)(last - first + 1) + exp > 19)
		return 1;
	for (k = first; k <= last; k++) {
		v = v * 10 + (uint64_t)(DIGIT(k) - '0');
		if (v > max)
			return 1;
	}
#undef DIGIT
	for (; exp > 0; exp--) {
		v *= 10;
		if (v > max)
			return 1;
	}
	*out = v;
	return 0;
}

/* ---- the parser ----------------------------------------------------------- */

enum scan_state {
	SCAN_START,          /* before '{' */
	SCAN_OBJ_FIRST,      /* after '{': a member name or '}' */
	SCAN_OBJ_NEXT,       /* after ',': a member name */
	SCAN_NAME,           /* inside a top-level member name */
	SCAN_COLON,          /* after a member name */
	SCAN_RECORDS_VALUE,  /* after "records": */
	SCAN_ARR_FIRST,      /* after '[': '{' or ']' */
	SCAN_ARR_ELEM,       /* after ',': '{' */
	SCAN_ARR_NEXT,       /* after a record: ',' or ']' */
	SCAN_RECORD,         /* capturing a record object */
	SCAN_OBJ_AFTER,      /* after the records array: ',' or '}' */
	SCAN_DONE,           /* after the final '}': whitespace only */
};

enum record_member {
	MEMBER_KEY, MEMBER_VALUE, MEMBER_HEADERS, MEMBER_TIMESTAMP, MEMBER_PARTITION,
};

static const char *const record_member_names[] = {
	"key", "value", "headers", "timestamp", "partition",
};

struct records_parser {
	records_body_kind_t kind;
	record_format_t key_format, value_format;
	size_t max_record_bytes, max_records, raw_limit;
	int max_depth;

	/* outer document (JSON body) */
	enum scan_state state;
	int seen_records;
	char name[RECORDS_NAME_MAX + 1];
	size_t name_len;
	int name_escape;

	/* the record being captured: a JSON element or an NDJSON line */
	buf_t text;
	int depth, in_string, escape;

	size_t count;
	int failed;                /* first error; sticky */
	char failed_msg[160];

	/* scratch reused for every record: no growth once warm */
	buf_t key, value, tmp, hdr_text;
	batch_kv_t *hdrs;
	size_t hdrs_cap;
};

int records_parser_new(records_body_kind_t kind, record_format_t key_format,
                       record_format_t value_format, const records_limits_t *limits,
                       records_parser_t **out)
{
	records_parser_t *p = calloc(1, sizeof(*p));
	size_t m;

	if (p == NULL)
		return STRAND_ENOMEM;
	p->kind = kind;
	p->key_format = key_format;
	p->value_format = value_format;
	m = limits && limits->max_record_bytes ? limits->max_record_bytes
	                                       : RECORDS_DEFAULT_MAX_RECORD_BYTES;
	p->max_record_bytes = m;
	p->raw_limit = m > (SIZE_MAX - RECORDS_RAW_SLACK) / 2 ? SIZE_MAX
	                                                      : 2 * m + RECORDS_RAW_SLACK;
	p->max_records = limits ? limits->max_records : 0;
	p->max_depth = limits && limits->max_depth > 0 ? limits->max_depth
	                                               : RECORDS_DEFAULT_MAX_DEPTH;
	if (p->max_depth > RECORDS_MAX_DEPTH_CAP)
		p->max_depth = RECORDS_MAX_DEPTH_CAP;
	p->state = SCAN_START;
	buf_init(&p->text);
	buf_init(&p->key);
	buf_init(&p->value);
	buf_init(&p->tmp);
	buf_init(&p->hdr_text);
	*out = p;
	return 0;
}

void records_parser_free(records_parser_t *p)
{
	if (p == NULL)
		return;
	buf_free(&p->text);
	buf_free(&p->key);
	buf_free(&p->value);
	buf_free(&p->tmp);
	buf_free(&p->hdr_text);
	free(p->hdrs);
	free(p);
}

size_t records_parser_count(const records_parser_t *p)
{
	return p->count;
}

/* Copy a member name for a message: at most 32 bytes, printable ASCII only. */
static void name_for_message(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t i, n = len < 32 ? len : 32;

	if (n >= dstlen)
		n = dstlen - 1;
	for (i = 0; i < n; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[n] = '\0';
}

/*
 * Convert the key or value span [s, e) by format into out, and point
 * *ptr and *len at the bytes (NULL/-1 for JSON null). what is "key" or "value".
 */
static int field_convert(records_parser_t *p, record_format_t fmt, const char *s,
                         const char *e, buf_t *out, const uint8_t **ptr, int32_t *len,
                         const char *what, size_t idx, char *err, size_t errlen)
{
	size_t n;

	buf_reset(out);
	if (e - s == 4 && memcmp(s, "null", 4) == 0) {
		*ptr = NULL;
		*len = -1;
		return 0;
	}
	switch (fmt) {
	case RECORD_FORMAT_STRING:
		if (*s != '"')
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: %s must be a string for %s_format string",
			                      idx, what, what);
		if (json_string_decode_append(out, s, e))
			return STRAND_ENOMEM;
		break;
	case RECORD_FORMAT_BINARY:
		if (*s != '"')
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: %s must be a base64 string for %s_format binary",
			                      idx, what, what);
		buf_reset(&p->tmp);
		if (json_string_decode_append(&p->tmp, s, e) ||
		    buf_reserve(out, base64_decoded_max(p->tmp.len)))
			return STRAND_ENOMEM;
		if (base64_decode(p->tmp.data, p->tmp.len, (uint8_t *)out->data, &n))
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: %s is not valid base64", idx, what);
		out->len = n;
		out->data[n] = '\0';
		break;
	default:
		if (*s != '{' && *s != '[') {
			/* a string, number or literal has no insignificant whitespace:
			 * store the request's own bytes (hot path: no copy) */
			if (e - s > INT32_MAX)
				return strand_err_set(err, errlen, STRAND_ETOOBIG,
				                      "record %zu: %s too large", idx, what);
			*ptr = (const uint8_t *)s;
			*len = (int32_t)(e - s);
			return 0;
		}
		if (json_minify_append(out, s, (size_t)(e - s)))
			return STRAND_ENOMEM;
		break;
	}
	if (out->len > INT32_MAX)
		return strand_err_set(err, errlen, STRAND_ETOOBIG, "record %zu: %s too large",
		                      idx, what);
	*ptr = (const uint8_t *)out->data;
	*len = (int32_t)out->len;
	return 0;
}

/* "headers": an object of string values, decoded into hdr_text and hdrs. */
static int headers_convert(records_parser_t *p, const char *s, const char *e,
                           produce_record_t *rec, size_t idx, char *err, size_t errlen)
{
	jreader_t r = { s + 1, e, 0, RECORDS_MAX_DEPTH_CAP, NULL };
	const char *ns, *ne, *vs;
	size_t n = 0, i, off;

	if (*s != '{')
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "record %zu: headers must be an object of strings", idx);
	/* the span is valid JSON already: walk it without re-checking */
	jr_ws(&r);
	while (!jr_at(&r, '}')) {
		ns = r.p;
		jr_string(&r);
		ne = r.p;
		jr_ws(&r);
		r.p++;                      /* ':' */
		jr_ws(&r);
		vs = r.p;
		if (*vs != '"')
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: headers must be an object of strings", idx);
		jr_string(&r);
		if (n == p->hdrs_cap) {
			size_t ncap = p->hdrs_cap ? p->hdrs_cap * 2 : 8;
			batch_kv_t *nh = realloc(p->hdrs, ncap * sizeof(*nh));

			if (nh == NULL)
				return STRAND_ENOMEM;
			p->hdrs = nh;
			p->hdrs_cap = ncap;
		}
		off = p->hdr_text.len;
		if (json_string_decode_append(&p->hdr_text, ns, ne))
			return STRAND_ENOMEM;
		p->hdrs[n].key_len = (int32_t)(p->hdr_text.len - off);
		off = p->hdr_text.len;
		if (json_string_decode_append(&p->hdr_text, vs, r.p))
			return STRAND_ENOMEM;
		p->hdrs[n].value_len = (int32_t)(p->hdr_text.len - off);
		n++;
		jr_ws(&r);
		if (jr_at(&r, ',')) {
			r.p++;
			jr_ws(&r);
		}
	}
	if (n > INT32_MAX || p->hdr_text.len > INT32_MAX)
		return strand_err_set(err, errlen, STRAND_ETOOBIG,
		                      "record %zu: headers too large", idx);
	/* pointers only now: hdr_text may have moved while it grew */
	for (i = 0, off = 0; i < n; i++) {
		p->hdrs[i].key = (const uint8_t *)p->hdr_text.data + off;
		off += (size_t)p->hdrs[i].key_len;
		p->hdrs[i].value = (const uint8_t *)p->hdr_text.data + off;
		off += (size_t)p->hdrs[i].value_len;
	}
	rec->headers = n ? p->hdrs : NULL;
	rec->nheaders = (int32_t)n;
	return 0;
}

static int member_apply(records_parser_t *p, int member, const char *s, const char *e,
                        produce_record_t *rec, size_t idx, char *err, size_t errlen)
{
	int is_null = e - s == 4 && memcmp(s, "null", 4) == 0;
	int is_number = *s == '-' || (*s >= '0' && *s <= '9');
	uint64_t v;
	int rc;

	switch (member) {
	case MEMBER_KEY:
		return field_convert(p, p->key_format, s, e, &p->key, &rec->key, &rec->key_len,
		                     "key", idx, err, errlen);
	case MEMBER_VALUE:
		return field_convert(p, p->value_format, s, e, &p->value, &rec->value,
		                     &rec->value_len, "value", idx, err, errlen);
	case MEMBER_HEADERS:
		return is_null ? 0 : headers_convert(p, s, e, rec, idx, err, errlen);
	case MEMBER_TIMESTAMP:
		if (is_null)
			return 0;
		rc = is_number ? json_integer(s, (size_t)(e - s), (uint64_t)1 << 53, &v) : -1;
		if (rc < 0)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: timestamp must be an integer >= 0", idx);
		if (rc > 0)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: timestamp must be at most 2^53", idx);
		rec->timestamp = (int64_t)v;
		return 0;
	case MEMBER_PARTITION:
		if (is_null)
			return 0;
		rc = is_number ? json_integer(s, (size_t)(e - s), INT32_MAX, &v) : -1;
		if (rc != 0)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: partition must be an integer >= 0 and < 2^31",
			                      idx);
		rec->partition = (int32_t)v;
		return 0;
	}
	return STRAND_EINVAL;
}

/*
 * Parse one record object text[0, len) into *rec (pointers into the
 * parser's scratch). Messages name the record index.
 */
static int record_parse(records_parser_t *p, const char *text, size_t len,
                        produce_record_t *rec, char *err, size_t errlen)
{
	jreader_t r = { text, text + len, 0, p->max_depth, NULL };
	size_t idx = p->count, klen, vlen, total;
	unsigned seen = 0;
	const char *ns, *ne, *vs;
	char shown[40];
	int member, rc;

	memset(rec, 0, sizeof(*rec));
	rec->key_len = rec->value_len = -1;
	rec->timestamp = -1;
	rec->partition = -1;
	rec->index = idx;
	buf_reset(&p->hdr_text);

	jr_ws(&r);
	if (!jr_at(&r, '{'))
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "record %zu: not a JSON object", idx);
	r.p++;
	r.depth = 1;
	jr_ws(&r);
	while (!jr_at(&r, '}')) {
		if (!jr_at(&r, '"')) {
			jr_fail(&r, "expected a member name");
			goto bad_json;
		}
		ns = r.p;
		if (jr_string(&r))
			goto bad_json;
		ne = r.p;
		jr_ws(&r);
		if (!jr_at(&r, ':')) {
			jr_fail(&r, "expected ':'");
			goto bad_json;
		}
		r.p++;
		jr_ws(&r);
		vs = r.p;
		if (jr_value(&r))
			goto bad_json;

		buf_reset(&p->tmp);
		if (json_string_decode_append(&p->tmp, ns, ne))
			return STRAND_ENOMEM;
		for (member = 0; member <= MEMBER_PARTITION; member++)
			if (p->tmp.len == strlen(record_member_names[member]) &&
			    memcmp(p->tmp.data, record_member_names[member], p->tmp.len) == 0)
				break;
		if (member > MEMBER_PARTITION) {
			name_for_message(shown, sizeof(shown), p->tmp.data, p->tmp.len);
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: unknown member \"%s\"", idx, shown);
		}
		if (seen & (1u << member))
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: duplicate member \"%s\"", idx,
			                      record_member_names[member]);
		seen |= 1u << member;
		if ((rc = member_apply(p, member, vs, r.p, rec, idx, err, errlen)))
			return rc;

		jr_ws(&r);
		if (jr_at(&r, ',')) {
			r.p++;
			jr_ws(&r);
			if (jr_at(&r, '}')) {
				jr_fail(&r, "expected a member name");
				goto bad_json;
			}
		} else if (!jr_at(&r, '}')) {
			jr_fail(&r, "expected ',' or '}'");
			goto bad_json;
		}
	}
	r.p++;
	jr_ws(&r);
	if (r.p != r.end) {
		jr_fail(&r, "data after the record object");
		goto bad_json;
	}
	if (!(seen & (1u << MEMBER_VALUE)))
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "record %zu: missing \"value\"", idx);
	klen = rec->key_len > 0 ? (size_t)rec->key_len : 0;
	vlen = rec->value_len > 0 ? (size_t)rec->value_len : 0;
	total = klen + vlen + p->hdr_text.len;
	if (total > p->max_record_bytes)
		return strand_err_set(err, errlen, STRAND_ETOOBIG,
		                      "record %zu: %zu bytes of key, value and headers is over "
		                      "the limit of %zu", idx, total, p->max_record_bytes);
	return 0;

bad_json:
	return strand_err_set(err, errlen, STRAND_EINVAL,
	                      "record %zu: invalid JSON at byte %zu: %s", idx,
	                      (size_t)(r.p - text), r.why);
}

/* A whole record's text is in p->text: parse it and hand it on. */
static int record_complete(records_parser_t *p, records_on_record_fn on_record, void *ctx,
                           char *err, size_t errlen)
{
	produce_record_t rec;
	int rc;

	if ((rc = record_parse(p, p->text.data, p->text.len, &rec, err, errlen)))
		return rc;
	p->count++;
	if ((rc = on_record(ctx, &rec)))
		return strand_err_set(err, errlen, rc, "record %zu: rejected (%s)", rec.index,
		                      strand_strerror(rc));
	return 0;
}

/* A new record begins: enforce max_records before buffering any of it. */
static int record_begin(records_parser_t *p, char *err, size_t errlen)
{
	if (p->max_records && p->count >= p->max_records)
		return strand_err_set(err, errlen, STRAND_ETOOBIG,
		                      "more than %zu records in the request", p->max_records);
	return 0;
}

static int too_big(records_parser_t *p, char *err, size_t errlen)
{
	return strand_err_set(err, errlen, STRAND_ETOOBIG,
	                      "record %zu: larger than the limit of %zu bytes", p->count,
	                      p->max_record_bytes);
}

/*
 * Capture bytes of the record object from data[*i, len) until it closes
 * (depth back to 0). Returns 1 when the record is complete, 0 when the
 * chunk ran out first, or an error.
 */
static int json_capture(records_parser_t *p, const char *data, size_t len, size_t *i,
                        char *err, size_t errlen)
{
	size_t start = *i, room = p->raw_limit - p->text.len, k;
	int done = 0;

	/* hot loop: every byte of every record passes here; no allocation */
	for (k = start; k < len; k++) {
		char c;

		if (p->in_string && !p->escape) {
			/* skip string text up to a quote or backslash: 16 bytes a
			 * step landing on it (SSE2), then 8 bytes a step */
			uint64_t w;
			unsigned m = 0;

#if defined(__SSE2__)
			while (len - k >= 16 && k - start + 16 < room) {
				m = json_mask16(data + k, 0);
				if (m != 0) {
					k += (size_t)__builtin_ctz(m);
					break;
				}
				k += 16;
			}
#endif
			while (m == 0 && len - k >= 8 && k - start + 8 < room) {
				memcpy(&w, data + k, 8);
				if (json_word_eq(w, '"') || json_word_eq(w, '\\'))
					break;
				k += 8;
			}
			if (k >= len)
				break;
		}
		c = data[k];
		if (k - start >= room)
			return too_big(p, err, errlen);
		if (p->in_string) {
			if (p->escape)
				p->escape = 0;
			else if (c == '\\')
				p->escape = 1;
			else if (c == '"')
				p->in_string = 0;
		} else if (c == '"') {
			p->in_string = 1;
		} else if (c == '{' || c == '[') {
			if (++p->depth > p->max_depth)
				return strand_err_set(err, errlen, STRAND_EINVAL,
				                      "record %zu: nesting deeper than %d", p->count,
				                      p->max_depth);
		} else if (c == '}' || c == ']') {
			if (--p->depth == 0) {
				k++;
				done = 1;
				break;
			}
		}
	}
	if (buf_append(&p->text, data + start, k - start))
		return STRAND_ENOMEM;
	*i = k;
	return done;
}

static int json_bad(records_parser_t *p, char *err, size_t errlen, const char *what)
{
	return strand_err_set(err, errlen, STRAND_EINVAL, "invalid request body: %s", what);
}

/* One byte of the outer document (anything but a record's inside). */
static int json_outer_byte(records_parser_t *p, char c, char *err, size_t errlen)
{
	int rc;

	if (p->state == SCAN_NAME) {
		if (p->name_escape) {
			p->name_escape = 0;
		} else if (c == '\\') {
			p->name_escape = 1;
		} else if (c == '"') {
			p->state = SCAN_COLON;
			return 0;
		}
		if (p->name_len < RECORDS_NAME_MAX)
			p->name[p->name_len] = c;
		p->name_len++;
		return 0;
	}
	if (json_is_ws(c))
		return 0;
	switch (p->state) {
	case SCAN_START:
		if (c != '{')
			return json_bad(p, err, errlen, "expected {\"records\":[...]}");
		p->state = SCAN_OBJ_FIRST;
		return 0;
	case SCAN_OBJ_FIRST:
	case SCAN_OBJ_NEXT:
		if (c == '}' && p->state == SCAN_OBJ_FIRST)
			return strand_err_set(err, errlen, STRAND_EINVAL, "no records");
		if (c != '"')
			return json_bad(p, err, errlen, "expected a member name");
		p->state = SCAN_NAME;
		p->name_len = 0;
		p->name_escape = 0;
		return 0;
	case SCAN_COLON: {
		/* a name spelled with escapes is not recognized: it is "unknown" */
		size_t n = p->name_len < RECORDS_NAME_MAX ? p->name_len : RECORDS_NAME_MAX;
		char shown[40];

		if (c != ':')
			return json_bad(p, err, errlen, "expected ':'");
		if (p->name_len != 7 || memcmp(p->name, "records", 7) != 0) {
			name_for_message(shown, sizeof(shown), p->name, n);
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "unknown member \"%s\"", shown);
		}
		if (p->seen_records)
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "duplicate member \"records\"");
		p->seen_records = 1;
		p->state = SCAN_RECORDS_VALUE;
		return 0;
	}
	case SCAN_RECORDS_VALUE:
		if (c != '[')
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "\"records\" must be an array");
		p->state = SCAN_ARR_FIRST;
		return 0;
	case SCAN_ARR_FIRST:
	case SCAN_ARR_ELEM:
		if (c == ']' && p->state == SCAN_ARR_FIRST)
			return strand_err_set(err, errlen, STRAND_EINVAL, "no records");
		if (c != '{')
			return strand_err_set(err, errlen, STRAND_EINVAL,
			                      "record %zu: not a JSON object", p->count);
		if ((rc = record_begin(p, err, errlen)))
			return rc;
		buf_reset(&p->text);
		if (buf_append(&p->text, "{", 1))
			return STRAND_ENOMEM;
		p->depth = 1;
		p->in_string = p->escape = 0;
		p->state = SCAN_RECORD;
		return 0;
	case SCAN_ARR_NEXT:
		if (c == ',')
			p->state = SCAN_ARR_ELEM;
		else if (c == ']')
			p->state = SCAN_OBJ_AFTER;
		else
			return json_bad(p, err, errlen, "expected ',' or ']' after a record");
		return 0;
	case SCAN_OBJ_AFTER:
		if (c == ',')
			p->state = SCAN_OBJ_NEXT;
		else if (c == '}')
			p->state = SCAN_DONE;
		else
			return json_bad(p, err, errlen, "expected ',' or '}'");
		return 0;
	case SCAN_DONE:
		return json_bad(p, err, errlen, "data after the end of the document");
	default:
		return STRAND_EINVAL;
	}
}

static int json_feed(records_parser_t *p, const char *data, size_t len,
                     records_on_record_fn on_record, void *ctx, char *err, size_t errlen)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		if (p->state != SCAN_RECORD) {
			if ((rc = json_outer_byte(p, data[i++], err, errlen)))
				return rc;
			continue;
		}
		rc = json_capture(p, data, len, &i, err, errlen);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if ((rc = record_complete(p, on_record, ctx, err, errlen)))
				return rc;
			p->state = SCAN_ARR_NEXT;
		}
	}
	return 0;
}

/* One NDJSON line is in p->text ('\n' dropped): a record unless blank. */
static int ndjson_line(records_parser_t *p, records_on_record_fn on_record, void *ctx,
                       char *err, size_t errlen)
{
	size_t i;
	int rc;

	if (p->text.len > 0 && p->text.data[p->text.len - 1] == '\r')
		p->text.data[--p->text.len] = '\0';
	for (i = 0; i < p->text.len && json_is_ws(p->text.data[i]); i++)
		;
	if (i < p->text.len) {
		if ((rc = record_begin(p, err, errlen)) ||
		    (rc = record_complete(p, on_record, ctx, err, errlen)))
			return rc;
	}
	buf_reset(&p->text);
	return 0;
}

static int ndjson_feed(records_parser_t *p, const char *data, size_t len,
                       records_on_record_fn on_record, void *ctx, char *err, size_t errlen)
{
	size_t i = 0, n;
	const char *nl;
	int rc;

	/* hot loop: memchr over the chunk, one append per line piece */
	while (i < len) {
		nl = memchr(data + i, '\n', len - i);
		n = nl ? (size_t)(nl - (data + i)) : len - i;
		if (n > p->raw_limit - p->text.len)
			return too_big(p, err, errlen);
		if (buf_append(&p->text, data + i, n))
			return STRAND_ENOMEM;
		i += n;
		if (nl) {
			i++;
			if ((rc = ndjson_line(p, on_record, ctx, err, errlen)))
				return rc;
		}
	}
	return 0;
}

int records_parser_feed(records_parser_t *p, const char *data, size_t len,
                        records_on_record_fn on_record, void *ctx,
                        char *err, size_t errlen)
{
	int rc;

	if (p->failed)
		return strand_err_set(err, errlen, p->failed, "%s", p->failed_msg);
	rc = p->kind == RECORDS_BODY_NDJSON
	     ? ndjson_feed(p, data, len, on_record, ctx, err, errlen)
	     : json_feed(p, data, len, on_record, ctx, err, errlen);
	if (rc) {
		p->failed = rc;
		if (err != NULL && errlen > 0)
			strand_err_set(p->failed_msg, sizeof(p->failed_msg), rc, "%s", err);
		else
			strand_err_set(p->failed_msg, sizeof(p->failed_msg), rc, "%s",
			               strand_strerror(rc));
	}
	return rc;
}

int records_parser_finish(records_parser_t *p, records_on_record_fn on_record,
                          void *ctx, char *err, size_t errlen)
{
	int rc = 0;

	if (p->failed)
		return strand_err_set(err, errlen, p->failed, "%s", p->failed_msg);
	if (p->kind == RECORDS_BODY_NDJSON) {
		if (p->text.len > 0)
			rc = ndjson_line(p, on_record, ctx, err, errlen);
		if (rc == 0 && p->count == 0)
			rc = strand_err_set(err, errlen, STRAND_EINVAL, "no records");
	} else if (p->state != SCAN_DONE) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL, p->state == SCAN_START
		                    ? "empty request body"
		                    : "truncated body: the JSON document is incomplete");
	}
	if (rc) {
		p->failed = rc;
		strand_err_set(p->failed_msg, sizeof(p->failed_msg), rc, "%s",
		               err != NULL && errlen > 0 ? err : strand_strerror(rc));
	}
	return rc;
}

/* ---- fetch views ---------------------------------------------------------- */

static int buf_append_base64_string(buf_t *out, const uint8_t *s, size_t len)
{
	if (buf_append(out, "\"", 1) || base64_encode_append(out, s, len) ||
	    buf_append(out, "\"", 1))
		return STRAND_ENOMEM;
	return 0;
}

/*
 * Append a stored key or value as JSON by format. *base64 is set when the
 * bytes did not fit the format and were written base64 instead. JSON text
 * is embedded minified, so a record is always one line (SSE needs that).
 */
static int view_field(buf_t *out, const uint8_t *s, int32_t len, record_format_t fmt,
                      int *base64)
{
	*base64 = 0;
	if (len < 0)
		return buf_append(out, "null", 4);
	switch (fmt) {
	case RECORD_FORMAT_JSON:
		if (!json_is_valid(s, (size_t)len))
			break;
		/* hot path: a string, number or literal stored without surrounding
		 * whitespace (what JSON produce stores) is already minified */
		if (len > 0 && s[0] != '{' && s[0] != '[' && !json_is_ws((char)s[0]) &&
		    !json_is_ws((char)s[len - 1]))
			return buf_append(out, s, (size_t)len);
		return json_minify_append(out, (const char *)s, (size_t)len);
	case RECORD_FORMAT_STRING:
		if (utf8_is_valid(s, (size_t)len))
			return buf_append_json_string(out, (const char *)s, (size_t)len);
		break;
	case RECORD_FORMAT_BINARY:
		return buf_append_base64_string(out, s, (size_t)len);
	}
	*base64 = 1;
	return buf_append_base64_string(out, s, (size_t)len);
}

/*
 * "headers":{...}. Header names and values are shown as strings when all of
 * them are valid UTF-8; if any is not, every name and value of this record
 * is base64 and the record gets "headers_encoding":"base64" (one flag, one
 * rule for the client). A null header value is shown as null. Repeated
 * names are shown repeated, in stored order.
 */
static int view_headers(buf_t *out, const batch_record_t *rec, int *base64)
{
	batch_header_iter_t it;
	batch_rec_header_t h;
	int rc, first = 1;

	*base64 = 0;
	batch_header_iter_init(&it, rec);
	while ((rc = batch_header_iter_next(&it, &h)) == 1) {
		if (h.key_len < 0)
			return STRAND_ECORRUPT;   /* Kafka header keys are never null */
		if (!utf8_is_valid(h.key, (size_t)h.key_len) ||
		    (h.value_len > 0 && !utf8_is_valid(h.value, (size_t)h.value_len)))
			*base64 = 1;
	}
	if (rc < 0)
		return STRAND_ECORRUPT;
	if (buf_append_str(out, ",\"headers\":{"))
		return STRAND_ENOMEM;
	batch_header_iter_init(&it, rec);
	while ((rc = batch_header_iter_next(&it, &h)) == 1) {
		if (!first && buf_append(out, ",", 1))
			return STRAND_ENOMEM;
		first = 0;
		rc = *base64 ? buf_append_base64_string(out, h.key, (size_t)h.key_len)
		             : buf_append_json_string(out, (const char *)h.key, (size_t)h.key_len);
		if (rc || buf_append(out, ":", 1))
			return STRAND_ENOMEM;
		if (h.value_len < 0)
			rc = buf_append(out, "null", 4);
		else if (*base64)
			rc = buf_append_base64_string(out, h.value, (size_t)h.value_len);
		else
			rc = buf_append_json_string(out, (const char *)h.value, (size_t)h.value_len);
		if (rc)
			return STRAND_ENOMEM;
	}
	if (rc < 0)
		return STRAND_ECORRUPT;
	return buf_append(out, "}", 1);
}

/* One record's JSON object (SSE: its whole event). */
static int view_record(buf_t *out, const batch_record_t *rec, record_format_t key_format,
                       record_format_t value_format, int comma, int sse, const char *tag)
{
	int key_b64, value_b64, hdr_b64, rc;

	if (sse) {
		if (buf_append_str(out, "id: ") || buf_append_int64(out, rec->offset) ||
		    buf_append_str(out, "\ndata: "))
			return STRAND_ENOMEM;
	} else if (comma && buf_append(out, ",", 1)) {
		return STRAND_ENOMEM;
	}
	if (buf_append(out, "{", 1) || (tag != NULL && buf_append_str(out, tag)) ||
	    buf_append_str(out, "\"offset\":") || buf_append_int64(out, rec->offset) ||
	    buf_append_str(out, ",\"timestamp\":") || buf_append_int64(out, rec->timestamp) ||
	    buf_append_str(out, ",\"key\":") ||
	    view_field(out, rec->key, rec->key_len, key_format, &key_b64) ||
	    buf_append_str(out, ",\"value\":") ||
	    view_field(out, rec->value, rec->value_len, value_format, &value_b64))
		return STRAND_ENOMEM;
	if ((rc = view_headers(out, rec, &hdr_b64)))
		return rc;
	if ((key_b64 && buf_append_str(out, ",\"key_encoding\":\"base64\"")) ||
	    (value_b64 && buf_append_str(out, ",\"value_encoding\":\"base64\"")) ||
	    (hdr_b64 && buf_append_str(out, ",\"headers_encoding\":\"base64\"")) ||
	    buf_append(out, "}", 1) ||
	    (sse && buf_append(out, "\n\n", 2)))
		return STRAND_ENOMEM;
	return 0;
}

/*
 * Shared walk of records_json_append and records_sse_append. max_records
 * bounds the records this call writes (not *count, which may carry records
 * from earlier calls). A final batch cut short by len is not an error: the
 * walk stops at the last whole batch, and never reads past len.
 */
static int view_append(buf_t *out, const uint8_t *batches, size_t len,
                       int64_t from_offset, int64_t below_offset, size_t max_records,
                       record_format_t key_format, record_format_t value_format,
                       size_t *count, int64_t *next_offset, int sse, const char *tag)
{
	size_t pos = 0, total, written = 0, mark;
	batch_header_t h;
	batch_iter_t it;
	batch_record_t rec;
	int rc;

	while (len - pos >= BATCH_HEADER_SIZE) {
		rc = batch_header_decode(batches + pos, len - pos, 0, &h, NULL, 0);
		if (rc == STRAND_EAGAIN)
			break;
		if (rc)
			return STRAND_ECORRUPT;
		total = batch_total_size(&h);
		if (total > len - pos)
			break;
		if (h.base_offset >= below_offset)
			break;
		if (batch_last_offset(&h) < from_offset) {
			pos += total;
			continue;
		}
		if (h.attributes & BATCH_ATTR_COMPRESSION_MASK)
			return STRAND_ECORRUPT;   /* the log stores uncompressed batches only */
		if (batch_iter_init(&it, batches + pos, total) < 0)
			return STRAND_ECORRUPT;
		/* hot loop: one record per turn, appended to out; no allocation once warm */
		while ((rc = batch_iter_next(&it, &rec)) == 1) {
			if (rec.offset < from_offset)
				continue;
			if (rec.offset >= below_offset || (max_records && written >= max_records))
				return 0;
			mark = out->len;
			rc = view_record(out, &rec, key_format, value_format, *count > 0, sse, tag);
			if (rc) {
				out->len = mark;       /* no half record */
				if (out->data != NULL)
					out->data[mark] = '\0';
				return rc;
			}
			(*count)++;
			written++;
			*next_offset = rec.offset + 1;
		}
		if (rc < 0)
			return STRAND_ECORRUPT;
		pos += total;
	}
	return 0;
}

/*
 * See records.h. Formats: json bytes that are valid JSON are embedded
 * (minified), else base64 with "<field>_encoding":"base64"; string bytes
 * that are valid UTF-8 are a JSON string, else base64 and the flag;
 * binary is always base64, without a flag (that is the format).
 */
int records_json_append(buf_t *out, const uint8_t *batches, size_t len,
                        int64_t from_offset, int64_t below_offset, size_t max_records,
                        record_format_t key_format, record_format_t value_format,
                        size_t *count, int64_t *next_offset)
{
	return view_append(out, batches, len, from_offset, below_offset, max_records,
	                   key_format, value_format, count, next_offset, 0, NULL);
}

int records_json_append_tagged(buf_t *out, const char *tag, const uint8_t *batches, size_t len,
                               int64_t from_offset, int64_t below_offset, size_t max_records,
                               record_format_t key_format, record_format_t value_format,
                               size_t *count, int64_t *next_offset)
{
	return view_append(out, batches, len, from_offset, below_offset, max_records,
	                   key_format, value_format, count, next_offset, 0, tag);
}

int records_sse_append(buf_t *out, const uint8_t *batches, size_t len,
                       int64_t from_offset, int64_t below_offset, size_t max_records,
                       record_format_t key_format, record_format_t value_format,
                       size_t *count, int64_t *next_offset)
{
	return view_append(out, batches, len, from_offset, below_offset, max_records,
	                   key_format, value_format, count, next_offset, 1, NULL);
}
