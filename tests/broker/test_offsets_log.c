/*
 * test_offsets_log.c — the records of __consumer_offsets (offsets_log.h):
 * every key and value kind round-trips, malformed bytes are refused, and
 * the loader reads a real partition log from start to end in offset order,
 * skipping records that do not decode.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "broker/offsets_log.h"
#include "tests/log/testutil.h"

static char errbuf[512];

static committed_offset_t off_of(const char *topic, int32_t p, int64_t offset, const char *meta)
{
	committed_offset_t o;

	memset(&o, 0, sizeof o);
	snprintf(o.topic, sizeof o.topic, "%s", topic);
	o.partition = p;
	o.offset = offset;
	snprintf(o.metadata, sizeof o.metadata, "%s", meta);
	return o;
}

START_TEST(test_offset_record_round_trips)
{
	committed_offset_t in = off_of("orders", 7, 123456789012LL, "m\"eta");
	offsets_log_record_t rec;
	buf_t k, v;

	buf_init(&k);
	buf_init(&v);
	ck_assert_int_eq(offsets_log_encode_offset_key(&k, "g-1", "orders", 7), 0);
	ck_assert_int_eq(offsets_log_encode_offset_value(&v, &in, 1700000000000LL), 0);
	/* int16 1 | "g-1" | "orders" | int32 7 */
	ck_assert_uint_eq(k.len, 2 + 2 + 3 + 2 + 6 + 4);
	ck_assert_int_eq((uint8_t)k.data[0], 0);
	ck_assert_int_eq((uint8_t)k.data[1], OFFSETS_LOG_KEY_OFFSET);
	ck_assert_int_eq(offsets_log_decode((const uint8_t *)k.data, (int32_t)k.len,
	                                    (const uint8_t *)v.data, (int32_t)v.len, &rec), 0);
	ck_assert_int_eq(rec.kind, OFFSETS_LOG_KEY_OFFSET);
	ck_assert_int_eq(rec.tombstone, 0);
	ck_assert_str_eq(rec.group, "g-1");
	ck_assert_str_eq(rec.offset.topic, "orders");
	ck_assert_int_eq(rec.offset.partition, 7);
	ck_assert_int_eq(rec.offset.offset, 123456789012LL);
	ck_assert_str_eq(rec.offset.metadata, "m\"eta");
	ck_assert_int_eq(rec.commit_ms, 1700000000000LL);

	/* a null value is the offset's tombstone */
	ck_assert_int_eq(offsets_log_decode((const uint8_t *)k.data, (int32_t)k.len, NULL, -1,
	                                    &rec), 0);
	ck_assert_int_eq(rec.tombstone, 1);
	ck_assert_str_eq(rec.offset.topic, "orders");
	buf_free(&k);
	buf_free(&v);
}
END_TEST

START_TEST(test_group_record_round_trips)
{
	char *topics[] = { (char *)"a", (char *)"b" };
	group_tp_t parts[] = { { 0, 0, -1 }, { 0, 2, -1 }, { 1, 1, -1 } };
	group_member_desc_t members[2];
	group_desc_t d;
	offsets_log_record_t rec;
	buf_t k, v;

	memset(members, 0, sizeof members);
	snprintf(members[0].info.member_id, GROUP_MEMBER_ID_MAX, "m-1");
	members[0].info.session_timeout_ms = 45000;
	members[0].info.topics = topics;
	members[0].info.ntopics = 2;
	members[0].info.parts = parts;
	members[0].info.nparts = 3;
	members[0].rebalance_timeout_ms = 60000;
	snprintf(members[1].info.member_id, GROUP_MEMBER_ID_MAX, "m-2");
	memset(&d, 0, sizeof d);
	d.state = GROUP_STABLE;
	d.generation = 42;
	d.assignor = GROUP_ASSIGNOR_STICKY;
	d.members = members;
	d.nmembers = 2;

	buf_init(&k);
	buf_init(&v);
	ck_assert_int_eq(offsets_log_encode_group_key(&k, "g"), 0);
	ck_assert_int_eq(offsets_log_encode_group_value(&v, &d), 0);
	ck_assert_int_eq(offsets_log_decode((const uint8_t *)k.data, (int32_t)k.len,
	                                    (const uint8_t *)v.data, (int32_t)v.len, &rec), 0);
	ck_assert_int_eq(rec.kind, OFFSETS_LOG_KEY_GROUP);
	ck_assert_str_eq(rec.group, "g");
	ck_assert_int_eq(rec.generation, 42);
	ck_assert_str_eq(rec.protocol, "sticky");
	ck_assert_str_eq(rec.leader, "m-1");
	ck_assert_int_eq(rec.nmembers, 2);

	/* every truncation of the value is refused, never read past */
	for (size_t cut = 0; cut < v.len; cut++)
		ck_assert_int_eq(offsets_log_decode((const uint8_t *)k.data, (int32_t)k.len,
		                                    (const uint8_t *)v.data, (int32_t)cut, &rec),
		                 STRAND_ECORRUPT);
	/* a trailing byte too */
	ck_assert_int_eq(buf_append(&v, "x", 1), 0);
	ck_assert_int_eq(offsets_log_decode((const uint8_t *)k.data, (int32_t)k.len,
	                                    (const uint8_t *)v.data, (int32_t)v.len, &rec),
	                 STRAND_ECORRUPT);
	buf_free(&k);
	buf_free(&v);
}
END_TEST

START_TEST(test_malformed_keys_refused)
{
	static const uint8_t unknown_version[] = { 0, 9, 0, 1, 'g' };
	static const uint8_t bad_group[] = { 0, 2, 0, 3, 'a', ' ', 'b' };
	static const uint8_t too_long[] = { 0, 2, 0, 9, 'g' };
	static const uint8_t negative_len[] = { 0, 2, 0xff, 0xff };
	static const uint8_t value_v2[] = { 0, 2, 0, 0, 0, 1 };
	offsets_log_record_t rec;
	buf_t k;

	ck_assert_int_eq(offsets_log_decode(unknown_version, sizeof unknown_version, NULL, -1, &rec),
	                 STRAND_ECORRUPT);
	ck_assert_int_eq(offsets_log_decode(bad_group, sizeof bad_group, NULL, -1, &rec),
	                 STRAND_ECORRUPT);
	ck_assert_int_eq(offsets_log_decode(too_long, sizeof too_long, NULL, -1, &rec),
	                 STRAND_ECORRUPT);
	ck_assert_int_eq(offsets_log_decode(negative_len, sizeof negative_len, NULL, -1, &rec),
	                 STRAND_ECORRUPT);
	ck_assert_int_eq(offsets_log_decode(NULL, -1, NULL, -1, &rec), STRAND_ECORRUPT);
	buf_init(&k);
	ck_assert_int_eq(offsets_log_encode_group_key(&k, "g"), 0);
	/* an unknown value version */
	ck_assert_int_eq(offsets_log_decode((const uint8_t *)k.data, (int32_t)k.len, value_v2,
	                                    sizeof value_v2, &rec), STRAND_ECORRUPT);
	buf_free(&k);
}
END_TEST

/* ---- the loader ---------------------------------------------------------- */

typedef struct seen {
	offsets_log_record_t recs[16];
	int                  n;
} seen_t;

static int collect(void *ctx, const offsets_log_record_t *rec)
{
	seen_t *s = ctx;

	ck_assert_int_lt(s->n, 16);
	s->recs[s->n++] = *rec;
	return 0;
}

static int count_only(void *ctx, const offsets_log_record_t *rec)
{
	(void)rec;
	(*(int64_t *)ctx)++;
	return 0;
}

/* Append one batch of (key, value) records built from the codec. */
static void append_batch(log_t *log, batch_builder_t *bb, buf_t *keys, buf_t *vals, int n,
                         const int *null_value)
{
	log_append_info_t info;

	batch_builder_reset(bb);
	ck_assert_int_eq(batch_builder_begin(bb, -1, -1, -1), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(batch_builder_add(bb, 1700000000000LL,
		                                   (const uint8_t *)keys[i].data, (int32_t)keys[i].len,
		                                   null_value[i] ? NULL : (const uint8_t *)vals[i].data,
		                                   null_value[i] ? -1 : (int32_t)vals[i].len, NULL, 0),
		                 0);
	ck_assert_int_eq(batch_builder_finish(bb, NULL), 0);
	ck_assert_int_eq(log_append(log, bb->buf, bb->len, 3, &info, errbuf, sizeof errbuf), 0);
}

START_TEST(test_load_reads_the_log_in_order)
{
	char dir[PATH_MAX];
	log_config_t cfg;
	log_t *log = NULL;
	batch_builder_t bb;
	buf_t keys[4], vals[4];
	committed_offset_t o1 = off_of("t", 0, 5, ""), o2 = off_of("t", 0, 7, "x");
	group_desc_t d;
	int nulls[4] = { 0, 0, 0, 0 };
	seen_t seen;
	int64_t records = 0, skipped = 0;

	tu_mkdtemp(dir, sizeof dir);
	log_config_default(&cfg);
	cfg.segment_bytes = 1024;      /* several segments: the loader crosses them */
	ck_assert_int_eq(log_open(dir, &cfg, &log, errbuf, sizeof errbuf), 0);
	batch_builder_init(&bb);
	for (int i = 0; i < 4; i++) {
		buf_init(&keys[i]);
		buf_init(&vals[i]);
	}
	memset(&d, 0, sizeof d);
	d.generation = 3;
	d.assignor = GROUP_ASSIGNOR_RANGE;
	/* batch 1: g's metadata and an offset */
	ck_assert_int_eq(offsets_log_encode_group_key(&keys[0], "g"), 0);
	ck_assert_int_eq(offsets_log_encode_group_value(&vals[0], &d), 0);
	ck_assert_int_eq(offsets_log_encode_offset_key(&keys[1], "g", "t", 0), 0);
	ck_assert_int_eq(offsets_log_encode_offset_value(&vals[1], &o1, 1), 0);
	append_batch(log, &bb, keys, vals, 2, nulls);
	/* batch 2: a record that does not decode, a newer offset, h's tombstone */
	for (int i = 0; i < 3; i++) {
		buf_reset(&keys[i]);
		buf_reset(&vals[i]);
	}
	ck_assert_int_eq(buf_append(&keys[0], "junk", 4), 0);
	ck_assert_int_eq(buf_append(&vals[0], "junk", 4), 0);
	ck_assert_int_eq(offsets_log_encode_offset_key(&keys[1], "g", "t", 0), 0);
	ck_assert_int_eq(offsets_log_encode_offset_value(&vals[1], &o2, 2), 0);
	ck_assert_int_eq(offsets_log_encode_group_key(&keys[2], "h"), 0);
	nulls[2] = 1;
	for (int rep = 0; rep < 20; rep++)    /* past segment_bytes */
		append_batch(log, &bb, keys, vals, 3, nulls);

	memset(&seen, 0, sizeof seen);
	ck_assert_int_eq(offsets_log_load(log, 2 + 3, collect, &seen, &records, &skipped,
	                                  errbuf, sizeof errbuf), 0);
	/* to offset 5 (exclusive): batch 1 and the first copy of batch 2 */
	ck_assert_int_eq(records, 5);
	ck_assert_int_eq(skipped, 1);
	ck_assert_int_eq(seen.n, 4);
	ck_assert_int_eq(seen.recs[0].kind, OFFSETS_LOG_KEY_GROUP);
	ck_assert_int_eq(seen.recs[0].generation, 3);
	ck_assert_int_eq(seen.recs[1].offset.offset, 5);
	ck_assert_int_eq(seen.recs[2].offset.offset, 7);
	ck_assert_str_eq(seen.recs[3].group, "h");
	ck_assert_int_eq(seen.recs[3].tombstone, 1);

	/* the whole log: every record once, in order, across segments */
	{
		int64_t total = 0, bad = 0;

		ck_assert_int_eq(offsets_log_load(log, log_end_offset(log), count_only, &total,
		                                  &records, &bad, errbuf, sizeof errbuf), 0);
		ck_assert_int_eq(records, 2 + 20 * 3);
		ck_assert_int_eq(bad, 20);
		ck_assert_int_eq(total, 2 + 20 * 2);
	}
	for (int i = 0; i < 4; i++) {
		buf_free(&keys[i]);
		buf_free(&vals[i]);
	}
	batch_builder_free(&bb);
	log_close(log);
	tu_rm_rf(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offsets_log");
	TCase *tc = tcase_create("codec");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_offset_record_round_trips);
	tcase_add_test(tc, test_group_record_round_trips);
	tcase_add_test(tc, test_malformed_keys_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("load");
	tcase_add_test(tc, test_load_reads_the_log_in_order);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
