/*
 * test_broker.c — Check suite for src/broker/: Kafka's murmur2 partitioner,
 * topic configs and names, topic lifecycle persisted across reopen, the
 * append path (hook, durability, stats), committed offsets, corrupt
 * metadata and the ticker. Every test runs in its own temporary data dir.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/err.h"
#include "log/batch.h"

static char data_dir[] = "/tmp/strand-broker-XXXXXX";
static char errbuf[512];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	strcpy(data_dir, "/tmp/strand-broker-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(data_dir));
	errbuf[0] = '\0';
}

static void teardown(void)
{
	nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static broker_t *open_broker_tick(int tick_ms)
{
	broker_options_t opts = { data_dir, 0, "http://127.0.0.1:0", tick_ms, 0, { 0, 0, 0 }, 0, { 0, 0, 0 }, 0, 0 };
	broker_t *b = NULL;
	int rc = broker_open(&opts, &b, errbuf, sizeof(errbuf));

	ck_assert_msg(rc == 0, "broker_open: %d %s", rc, errbuf);
	return b;
}

static broker_t *open_broker(void)
{
	return open_broker_tick(1000);
}

static int path_exists(const char *fmt, const char *name, int p)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), fmt, data_dir, name, p);
	return stat(path, &st) == 0;
}

static int partition_dir_exists(const char *topic, int p)
{
	return path_exists("%s/%s-%d", topic, p);
}

static void create_topic(broker_t *b, const char *name, int32_t partitions)
{
	int rc = broker_topic_create(b, name, partitions, 1, NULL, errbuf, sizeof(errbuf));

	ck_assert_msg(rc == 0, "create %s: %d %s", name, rc, errbuf);
}

/* Build one batch of n records "k<i>" -> "v<i>" into bb (reset first). */
static void build_batch(batch_builder_t *bb, int n)
{
	char key[32], value[32];

	batch_builder_reset(bb);
	ck_assert_int_eq(batch_builder_begin(bb, -1, -1, -1), 0);
	for (int i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "k%d", i);
		int vl = snprintf(value, sizeof(value), "v%d", i);

		ck_assert_int_eq(batch_builder_add(bb, 1700000000000LL + i, (uint8_t *)key, kl,
		                                   (uint8_t *)value, vl, NULL, 0), 0);
	}
	ck_assert_int_eq(batch_builder_finish(bb, NULL), 0);
}

/* ---- partitioner --------------------------------------------------------- */

/* Kafka's UtilsTest.testMurmur2. */
START_TEST(test_murmur2_matches_kafka)
{
	static const struct { const char *key; int32_t want; } cases[] = {
		{ "21", -973932308 },
		{ "foobar", -790332482 },
		{ "a-little-bit-long-string", -985981536 },
		{ "a-little-bit-longer-string", -1486304829 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
		{ "abc", 479470107 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int32_t got = (int32_t)broker_murmur2(cases[i].key, strlen(cases[i].key));

		ck_assert_msg(got == cases[i].want, "murmur2(%s): want %d, got %d",
		              cases[i].key, cases[i].want, got);
	}
}
END_TEST

START_TEST(test_partition_for_key_is_stable_and_in_range)
{
	int hits[7] = { 0 };
	char key[32];

	/* toPositive(murmur2("foobar")) % 7, by hand */
	ck_assert_int_eq(broker_partition_for_key("foobar", 6, 7),
	                 (int32_t)(((uint32_t)-790332482 & 0x7fffffffU) % 7));
	ck_assert_int_eq(broker_partition_for_key("abc", 3, 1), 0);
	ck_assert_int_eq(broker_partition_for_key("abc", 3, 0), -1);
	ck_assert_int_eq(broker_partition_for_key("", 0, 5),
	                 broker_partition_for_key("", 0, 5));
	for (int i = 0; i < 1000; i++) {
		int len = snprintf(key, sizeof(key), "user-%d", i);
		int32_t p = broker_partition_for_key(key, (size_t)len, 7);

		ck_assert_int_ge(p, 0);
		ck_assert_int_lt(p, 7);
		ck_assert_int_eq(p, broker_partition_for_key(key, (size_t)len, 7));
		hits[p]++;
	}
	for (int p = 0; p < 7; p++)
		ck_assert_msg(hits[p] > 50, "partition %d got only %d of 1000 keys", p, hits[p]);
}
END_TEST

/* ---- configs ---------------------------------------------------------------- */

typedef struct config_dump {
	char text[2048];
	int  count;
} config_dump_t;

static int dump_config(const char *name, const char *value, int is_number, void *ctx)
{
	config_dump_t *d = ctx;
	size_t len = strlen(d->text);

	snprintf(d->text + len, sizeof(d->text) - len, "%s=%s%s;", name, value,
	         is_number ? "#" : "");
	d->count++;
	return 0;
}

static int stop_at_third(const char *name, const char *value, int is_number, void *ctx)
{
	return ++*(int *)ctx == 3 ? 42 : 0;
}

START_TEST(test_config_defaults)
{
	topic_config_t cfg;
	config_dump_t d = { "", 0 };

	topic_config_default(&cfg);
	ck_assert_int_eq(topic_config_validate(&cfg, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(cfg.log.max_batch_bytes, BROKER_MAX_BATCH_BYTES);
	ck_assert_int_eq(cfg.max_message_bytes, 1048588);
	ck_assert_int_eq(cfg.min_insync_replicas, 1);
	ck_assert_int_eq(cfg.key_format, RECORD_FORMAT_JSON);
	topic_config_each(&cfg, dump_config, &d);
	ck_assert_int_eq(d.count, 13);
	ck_assert_str_eq(d.text,
	                 "retention_ms=604800000#;retention_bytes=-1#;segment_bytes=1073741824#;"
	                 "segment_ms=604800000#;max_message_bytes=1048588#;"
	                 "min_insync_replicas=1#;replica_lag_time_max_ms=10000#;"
	                 "cleanup_policy=delete;flush_messages=-1#;"
	                 "flush_ms=-1#;key_format=json;value_format=json;"
	                 "unclean_leader_election=false;");
}
END_TEST

START_TEST(test_config_set_each_round_trip)
{
	static const char *const sets[][2] = {
		{ "retention_ms", "3600000" }, { "retention_bytes", "1000000" },
		{ "segment_bytes", "1024" }, { "segment_ms", "-1" },
		{ "max_message_bytes", "67108864" }, { "min_insync_replicas", "2" },
		{ "replica_lag_time_max_ms", "30000" }, { "cleanup_policy", "delete" },
		{ "flush_messages", "10" },
		{ "flush_ms", "250" }, { "key_format", "string" }, { "value_format", "binary" },
		{ "unclean_leader_election", "true" },
	};
	topic_config_t cfg, again;
	config_dump_t d1 = { "", 0 }, d2 = { "", 0 };
	char scratch[sizeof(d1.text)];
	int calls = 0;

	topic_config_default(&cfg);
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		ck_assert_msg(topic_config_set(&cfg, sets[i][0], sets[i][1], errbuf,
		                               sizeof(errbuf)) == 0,
		              "set %s=%s: %s", sets[i][0], sets[i][1], errbuf);
	ck_assert_int_eq(cfg.log.retention_ms, 3600000);
	ck_assert_int_eq(cfg.log.segment_bytes, 1024);
	ck_assert_int_eq(cfg.log.segment_ms, -1);
	ck_assert_int_eq(cfg.max_message_bytes, 64 * 1024 * 1024);
	ck_assert_int_eq(cfg.min_insync_replicas, 2);
	ck_assert_int_eq(cfg.key_format, RECORD_FORMAT_STRING);
	ck_assert_int_eq(cfg.value_format, RECORD_FORMAT_BINARY);
	ck_assert_int_eq(cfg.unclean_leader_election, 1);
	ck_assert_int_eq(topic_config_validate(&cfg, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(topic_config_set(&again, "unclean_leader_election", "yes", errbuf,
	                                  sizeof(errbuf)), STRAND_EINVAL);

	topic_config_each(&cfg, dump_config, &d1);
	/* replay the dump onto defaults: the same config comes back */
	memcpy(scratch, d1.text, sizeof(scratch));
	topic_config_default(&again);
	for (char *item = strtok(scratch, ";"); item != NULL; item = strtok(NULL, ";")) {
		char *eq = strchr(item, '='), *hash = strchr(item, '#');

		*eq = '\0';
		if (hash != NULL)
			*hash = '\0';
		ck_assert_int_eq(topic_config_set(&again, item, eq + 1, errbuf, sizeof(errbuf)), 0);
	}
	topic_config_each(&again, dump_config, &d2);
	ck_assert_str_eq(d2.text, d1.text);
	ck_assert_int_eq(memcmp(&again.log, &cfg.log, sizeof(cfg.log)), 0);
	ck_assert_int_eq(topic_config_each(&cfg, stop_at_third, &calls), 42);
	ck_assert_int_eq(calls, 3);
}
END_TEST

START_TEST(test_config_rejects_every_invalid_value)
{
	static const char *const bad[][2] = {
		{ "retention_ms", "-2" }, { "retention_ms", "abc" }, { "retention_ms", "" },
		{ "retention_ms", " 5" }, { "retention_ms", "5 " }, { "retention_ms", "+5" },
		{ "retention_ms", "1.5" }, { "retention_ms", "1e3" }, { "retention_ms", "-" },
		{ "retention_ms", "99999999999999999999" }, { "retention_ms", "0x10" },
		{ "retention_bytes", "-2" },
		{ "segment_bytes", "1023" }, { "segment_bytes", "2147483648" },
		{ "segment_bytes", "-1" }, { "segment_bytes", "0" },
		{ "segment_ms", "0" }, { "segment_ms", "-2" },
		{ "max_message_bytes", "0" }, { "max_message_bytes", "67108865" },
		{ "max_message_bytes", "-1" },
		{ "min_insync_replicas", "0" }, { "min_insync_replicas", "-1" },
		{ "min_insync_replicas", "2147483648" },
		{ "cleanup_policy", "compact" }, { "cleanup_policy", "" },
		{ "cleanup_policy", "DELETE" },
		{ "flush_messages", "0" }, { "flush_messages", "-2" },
		{ "flush_ms", "0" }, { "flush_ms", "-5" },
		{ "key_format", "xml" }, { "key_format", "JSON" }, { "key_format", "" },
		{ "value_format", "avro" },
	};
	topic_config_t cfg, orig;
	config_dump_t d1 = { "", 0 }, d2 = { "", 0 };

	topic_config_default(&cfg);
	orig = cfg;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = topic_config_set(&cfg, bad[i][0], bad[i][1], errbuf, sizeof(errbuf));

		ck_assert_msg(rc == STRAND_EINVAL, "%s=\"%s\": want EINVAL, got %d",
		              bad[i][0], bad[i][1], rc);
		ck_assert_msg(strstr(errbuf, bad[i][0]) != NULL, "message names the config: %s",
		              errbuf);
	}
	ck_assert_int_eq(topic_config_set(&cfg, "retention.ms", "1", errbuf, sizeof(errbuf)),
	                 STRAND_ENOENT);
	ck_assert_int_eq(topic_config_set(&cfg, "compression_type", "none", NULL, 0),
	                 STRAND_ENOENT);
	topic_config_each(&orig, dump_config, &d1);
	topic_config_each(&cfg, dump_config, &d2);
	ck_assert_str_eq(d1.text, d2.text);   /* nothing changed */

	/* hand-built configs are checked as a whole */
	cfg.log.segment_bytes = 100;
	ck_assert_int_eq(topic_config_validate(&cfg, errbuf, sizeof(errbuf)), STRAND_EINVAL);
	cfg = orig;
	cfg.max_message_bytes = 0;
	ck_assert_int_eq(topic_config_validate(&cfg, errbuf, sizeof(errbuf)), STRAND_EINVAL);
	cfg = orig;
	cfg.value_format = (record_format_t)7;
	ck_assert_int_eq(topic_config_validate(&cfg, errbuf, sizeof(errbuf)), STRAND_EINVAL);
	cfg = orig;
	cfg.log.flush_ms = 0;
	ck_assert_int_eq(topic_config_validate(&cfg, errbuf, sizeof(errbuf)), STRAND_EINVAL);
}
END_TEST

START_TEST(test_name_validation)
{
	char longest[251];

	ck_assert(broker_name_valid("orders"));
	ck_assert(broker_name_valid("a.b_c-D9"));
	ck_assert(broker_name_valid("..."));
	ck_assert(broker_name_valid("_"));
	ck_assert(broker_name_valid(".a"));
	memset(longest, 'x', 249);
	longest[249] = '\0';
	ck_assert(broker_name_valid(longest));
	longest[249] = 'x';
	longest[250] = '\0';
	ck_assert(!broker_name_valid(longest));
	ck_assert(!broker_name_valid(""));
	ck_assert(!broker_name_valid(NULL));
	ck_assert(!broker_name_valid("."));
	ck_assert(!broker_name_valid(".."));
	ck_assert(!broker_name_valid("a/b"));
	ck_assert(!broker_name_valid("/"));
	ck_assert(!broker_name_valid("a b"));
	ck_assert(!broker_name_valid(" "));
	ck_assert(!broker_name_valid("caf\xc3\xa9"));
	ck_assert(!broker_name_valid("a\tb"));
	ck_assert(!broker_name_valid("a\nb"));
	ck_assert(!broker_name_valid("a:b"));
	ck_assert(!broker_name_valid("a\\b"));
}
END_TEST

/* ---- topics ------------------------------------------------------------------ */

START_TEST(test_topic_create_list_describe_persist)
{
	broker_t *b = open_broker();
	topic_config_t cfg, got;
	char **names, cluster_id[64];
	size_t n;
	topic_t *t;

	snprintf(cluster_id, sizeof(cluster_id), "%s", broker_cluster_id(b));
	ck_assert_int_eq(strlen(cluster_id), 36);
	topic_config_default(&cfg);
	ck_assert_int_eq(topic_config_set(&cfg, "retention_ms", "3600000", NULL, 0), 0);
	ck_assert_int_eq(topic_config_set(&cfg, "value_format", "string", NULL, 0), 0);
	ck_assert_int_eq(broker_topic_create(b, "orders", 3, 1, &cfg, errbuf, sizeof(errbuf)), 0);
	create_topic(b, "a.b_c-1", 1);
	ck_assert_int_eq(broker_topic_create(b, "orders", 1, 1, NULL, errbuf, sizeof(errbuf)),
	                 STRAND_EEXIST);
	ck_assert_int_eq(broker_topic_create(b, "bad name", 1, 1, NULL, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(broker_topic_create(b, "..", 1, 1, NULL, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(broker_topic_create(b, "zero", 0, 1, NULL, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(broker_topic_create(b, "many", 10001, 1, NULL, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(broker_topic_create(b, "rf2", 1, 2, NULL, NULL, 0), STRAND_EINVAL);
	cfg.log.segment_bytes = 10;
	ck_assert_int_eq(broker_topic_create(b, "badcfg", 1, 1, &cfg, NULL, 0), STRAND_EINVAL);
	ck_assert(!partition_dir_exists("badcfg", 0));
	ck_assert(partition_dir_exists("orders", 2));
	ck_assert(!partition_dir_exists("orders", 3));

	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(broker_topic_names(b, &names, &n), 0);
		ck_assert_int_eq(n, 2);
		ck_assert_str_eq(names[0], "a.b_c-1");
		ck_assert_str_eq(names[1], "orders");
		free(names);

		t = broker_topic_get(b, "orders");
		ck_assert_ptr_nonnull(t);
		ck_assert_str_eq(topic_name(t), "orders");
		ck_assert_int_eq(topic_partition_count(t), 3);
		ck_assert_int_eq(topic_replication_factor(t), 1);
		ck_assert_ptr_nonnull(topic_partition_log(t, 2));
		ck_assert_ptr_null(topic_partition_log(t, 3));
		ck_assert_ptr_null(topic_partition_log(t, -1));
		ck_assert_int_eq(topic_partition_hw(t, 0), 0);
		topic_get_config(t, &got);
		ck_assert_int_eq(got.log.retention_ms, 3600000);
		ck_assert_int_eq(got.value_format, RECORD_FORMAT_STRING);
		ck_assert_int_eq(got.key_format, RECORD_FORMAT_JSON);
		topic_release(t);
		ck_assert_ptr_null(broker_topic_get(b, "nope"));

		broker_close(b);
		b = open_broker();
		ck_assert_str_eq(broker_cluster_id(b), cluster_id);
	}
	broker_close(b);
}
END_TEST

START_TEST(test_topic_alter_grows_and_persists)
{
	broker_t *b = open_broker();
	topic_config_t cfg;
	topic_t *t;

	create_topic(b, "grow", 2);
	t = broker_topic_get(b, "grow");
	ck_assert_int_eq(broker_topic_alter(b, "grow", 5, NULL, errbuf, sizeof(errbuf)), 0);
	/* a handle taken before the alter sees the new partitions */
	ck_assert_int_eq(topic_partition_count(t), 5);
	ck_assert_ptr_nonnull(topic_partition_log(t, 4));
	ck_assert(partition_dir_exists("grow", 4));
	ck_assert_int_eq(broker_topic_alter(b, "grow", 3, NULL, errbuf, sizeof(errbuf)),
	                 STRAND_EINVAL);
	ck_assert_int_eq(broker_topic_alter(b, "grow", -1, NULL, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(broker_topic_alter(b, "grow", 10001, NULL, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(broker_topic_alter(b, "missing", 5, NULL, NULL, 0), STRAND_ENOENT);
	ck_assert_int_eq(broker_topic_alter(b, "grow", 5, NULL, NULL, 0), 0);
	topic_get_config(t, &cfg);
	ck_assert_int_eq(topic_config_set(&cfg, "retention_bytes", "123456", NULL, 0), 0);
	ck_assert_int_eq(topic_config_set(&cfg, "key_format", "binary", NULL, 0), 0);
	ck_assert_int_eq(broker_topic_alter(b, "grow", 0, &cfg, errbuf, sizeof(errbuf)), 0);
	cfg.log.segment_ms = 0;
	ck_assert_int_eq(broker_topic_alter(b, "grow", 0, &cfg, NULL, 0), STRAND_EINVAL);
	topic_get_config(t, &cfg);
	ck_assert_int_eq(cfg.log.retention_bytes, 123456);
	ck_assert_int_eq(cfg.log.segment_ms, 604800000LL);
	topic_release(t);
	broker_close(b);

	b = open_broker();
	t = broker_topic_get(b, "grow");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(topic_partition_count(t), 5);
	topic_get_config(t, &cfg);
	ck_assert_int_eq(cfg.log.retention_bytes, 123456);
	ck_assert_int_eq(cfg.key_format, RECORD_FORMAT_BINARY);
	topic_release(t);
	broker_close(b);
}
END_TEST

START_TEST(test_topic_delete_removes_dirs_and_persists)
{
	broker_t *b = open_broker();
	char **names;
	size_t n;

	create_topic(b, "doomed", 3);
	create_topic(b, "kept", 1);
	ck_assert(partition_dir_exists("doomed", 0));
	ck_assert_int_eq(broker_topic_delete(b, "doomed", errbuf, sizeof(errbuf)), 0);
	for (int p = 0; p < 3; p++)
		ck_assert_msg(!partition_dir_exists("doomed", p), "doomed-%d still there", p);
	ck_assert_int_eq(broker_topic_delete(b, "doomed", NULL, 0), STRAND_ENOENT);
	ck_assert_ptr_null(broker_topic_get(b, "doomed"));
	broker_close(b);

	b = open_broker();
	ck_assert_int_eq(broker_topic_names(b, &names, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(names[0], "kept");
	free(names);
	ck_assert(partition_dir_exists("kept", 0));
	broker_close(b);
}
END_TEST

static void *release_later(void *arg)
{
	usleep(200 * 1000);
	topic_release(arg);
	return NULL;
}

START_TEST(test_deleted_topic_handle_usable_until_release)
{
	broker_t *b = open_broker();
	batch_builder_t bb;
	broker_append_info_t info;
	pthread_t thr;
	topic_t *t, *again;

	batch_builder_init(&bb);
	create_topic(b, "ghost", 2);
	t = broker_topic_get(b, "ghost");
	build_batch(&bb, 4);
	ck_assert_int_eq(broker_append(b, t, 1, bb.buf, bb.len, 0, &info, errbuf,
	                               sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_topic_delete(b, "ghost", errbuf, sizeof(errbuf)), 0);
	ck_assert_ptr_null(broker_topic_get(b, "ghost"));

	/* still held: readable, files still there */
	ck_assert(partition_dir_exists("ghost", 1));
	ck_assert_str_eq(topic_name(t), "ghost");
	ck_assert_int_eq(topic_partition_count(t), 2);
	ck_assert_int_eq(topic_partition_hw(t, 1), 4);
	ck_assert_int_eq(log_end_offset(topic_partition_log(t, 1)), 4);
	build_batch(&bb, 1);
	ck_assert_int_eq(broker_append(b, t, 1, bb.buf, bb.len, 0, &info, NULL, 0),
	                 STRAND_ENOENT);

	/* a create of the same name waits for the old files to go */
	ck_assert_int_eq(pthread_create(&thr, NULL, release_later, t), 0);
	create_topic(b, "ghost", 1);
	pthread_join(thr, NULL);
	ck_assert(!partition_dir_exists("ghost", 1));
	again = broker_topic_get(b, "ghost");
	ck_assert_ptr_nonnull(again);
	ck_assert_int_eq(topic_partition_count(again), 1);
	ck_assert_int_eq(topic_partition_hw(again, 0), 0);
	topic_release(again);

	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

/* ---- append ------------------------------------------------------------------- */

typedef struct hook_seen {
	int     calls;
	char    topic[64];
	int32_t partition;
	int64_t hw;
} hook_seen_t;

static void record_hook(void *ctx, const char *topic, int32_t partition, int64_t hw)
{
	hook_seen_t *seen = ctx;

	seen->calls++;
	snprintf(seen->topic, sizeof(seen->topic), "%s", topic);
	seen->partition = partition;
	seen->hw = hw;
}

START_TEST(test_append_fires_hook_with_hw)
{
	broker_t *b = open_broker();
	hook_seen_t seen = { 0 };
	batch_builder_t bb;
	broker_append_info_t info;
	broker_stats_t stats;
	size_t total = 0;
	topic_t *t;

	batch_builder_init(&bb);
	broker_set_append_hook(b, record_hook, &seen);
	create_topic(b, "events", 3);
	t = broker_topic_get(b, "events");

	build_batch(&bb, 3);
	total += bb.len;
	ck_assert_int_eq(broker_append(b, t, 2, bb.buf, bb.len, 0, &info, errbuf,
	                               sizeof(errbuf)), 0);
	ck_assert_int_eq(info.first_offset, 0);
	ck_assert_int_eq(info.last_offset, 2);
	ck_assert_int_eq(info.record_count, 3);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.topic, "events");
	ck_assert_int_eq(seen.partition, 2);
	ck_assert_int_eq(seen.hw, 3);

	build_batch(&bb, 5);
	total += bb.len;
	ck_assert_int_eq(broker_append(b, t, 2, bb.buf, bb.len, 0, &info, errbuf,
	                               sizeof(errbuf)), 0);
	ck_assert_int_eq(info.first_offset, 3);
	ck_assert_int_eq(seen.calls, 2);
	ck_assert_int_eq(seen.hw, 8);
	ck_assert_int_eq(topic_partition_hw(t, 2), 8);
	ck_assert_int_eq(topic_partition_hw(t, 0), 0);

	/* failures fire nothing */
	ck_assert_int_eq(broker_append(b, t, 3, bb.buf, bb.len, 0, &info, NULL, 0),
	                 STRAND_ENOENT);
	bb.buf[30] ^= 0xff;   /* inside the CRC's scope */
	ck_assert_int_ne(broker_append(b, t, 0, bb.buf, bb.len, 0, &info, NULL, 0), 0);
	ck_assert_int_eq(seen.calls, 2);
	ck_assert_int_eq(topic_partition_hw(t, 0), 0);

	broker_stats(b, &stats);
	ck_assert_int_eq(stats.records_appended, 8);
	ck_assert_int_eq(stats.bytes_appended, total);

	broker_set_append_hook(b, NULL, NULL);
	build_batch(&bb, 1);
	ck_assert_int_eq(broker_append(b, t, 0, bb.buf, bb.len, 0, NULL, NULL, 0), 0);
	ck_assert_int_eq(seen.calls, 2);

	topic_release(t);
	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

START_TEST(test_durable_append_is_flushed)
{
	broker_t *b = open_broker();
	batch_builder_t bb;
	broker_append_info_t info;
	topic_t *t;
	log_t *log;

	batch_builder_init(&bb);
	create_topic(b, "durable", 1);
	t = broker_topic_get(b, "durable");
	log = topic_partition_log(t, 0);
	for (int i = 0; i < 3; i++) {
		build_batch(&bb, 10);
		ck_assert_int_eq(broker_append(b, t, 0, bb.buf, bb.len, 1, &info, errbuf,
		                               sizeof(errbuf)), 0);
		ck_assert_int_ge(log_flushed_offset(log), info.last_offset + 1);
		ck_assert_int_ge(log_flushed_offset(log), log_end_offset(log));
	}
	ck_assert_int_eq(log_end_offset(log), 30);
	topic_release(t);
	broker_close(b);

	/* and it is all there after reopen */
	b = open_broker();
	t = broker_topic_get(b, "durable");
	ck_assert_int_eq(topic_partition_hw(t, 0), 30);
	topic_release(t);
	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

/*
 * A failed fsync fences the partition (log.h, log_flush): the acks=all
 * append that saw it fails, later appends (any acks) fail without writing,
 * log_write_failed says so; other partitions keep working; a reopen
 * recovers and takes writes again, with everything flushed before intact.
 */
START_TEST(test_failed_fsync_fences_partition_until_reopen)
{
	broker_t *b = open_broker();
	batch_builder_t bb;
	broker_append_info_t info;
	topic_t *t;
	log_t *log;
	int64_t leo;

	batch_builder_init(&bb);
	create_topic(b, "fsync", 2);
	t = broker_topic_get(b, "fsync");
	log = topic_partition_log(t, 0);
	build_batch(&bb, 10);
	ck_assert_int_eq(broker_append(b, t, 0, bb.buf, bb.len, 1, &info, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(log_write_failed(log), 0);

	log_inject_sync_failure(log);
	build_batch(&bb, 5);
	ck_assert_int_eq(broker_append(b, t, 0, bb.buf, bb.len, 1, &info, errbuf, sizeof(errbuf)),
	                 STRAND_EIO);
	ck_assert_int_ne(log_write_failed(log), 0);
	ck_assert_int_eq(log_flushed_offset(log), 10);
	leo = log_end_offset(log);

	/* fenced: no write at any acks level, no flush pretending to work */
	build_batch(&bb, 5);
	ck_assert_int_eq(broker_append(b, t, 0, bb.buf, bb.len, 0, &info, errbuf, sizeof(errbuf)),
	                 STRAND_EIO);
	ck_assert_ptr_nonnull(strstr(errbuf, "fsync"));
	ck_assert_int_eq(log_end_offset(log), leo);
	ck_assert_int_eq(log_flush(log, -1, errbuf, sizeof(errbuf)), STRAND_EIO);
	ck_assert_int_eq(log_flushed_offset(log), 10);

	/* the other partition is not affected */
	build_batch(&bb, 3);
	ck_assert_int_eq(broker_append(b, t, 1, bb.buf, bb.len, 1, &info, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(log_write_failed(topic_partition_log(t, 1)), 0);
	topic_release(t);
	broker_close(b);

	/* reopen: recovery, then writes again; the flushed records are there */
	b = open_broker();
	t = broker_topic_get(b, "fsync");
	log = topic_partition_log(t, 0);
	ck_assert_int_eq(log_write_failed(log), 0);
	ck_assert_int_ge(log_end_offset(log), 10);
	build_batch(&bb, 2);
	ck_assert_int_eq(broker_append(b, t, 0, bb.buf, bb.len, 1, &info, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(info.first_offset, leo);
	topic_release(t);
	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

/* ---- committed offsets ---------------------------------------------------------- */

static committed_offset_t offset_of(const char *topic, int32_t p, int64_t off, const char *meta)
{
	committed_offset_t o;

	memset(&o, 0, sizeof(o));
	snprintf(o.topic, sizeof(o.topic), "%s", topic);
	o.partition = p;
	o.offset = off;
	snprintf(o.metadata, sizeof(o.metadata), "%s", meta);
	return o;
}

START_TEST(test_offsets_commit_fetch_persist)
{
	broker_t *b = open_broker();
	committed_offset_t in[3], *out;
	broker_group_write_t w;
	char **names;
	size_t n;

	create_topic(b, "t", 3);
	create_topic(b, "a", 1);
	in[0] = offset_of("t", 2, 20, "two");
	in[1] = offset_of("t", 0, 5, "m\"eta\xc3\xa9");
	in[2] = offset_of("a", 0, 1, "");
	ck_assert_int_eq(broker_offsets_commit(b, "g1", in, 3, errbuf, sizeof(errbuf)), 0);
	in[0] = offset_of("t", 0, 9, "again");
	ck_assert_int_eq(broker_offsets_commit(b, "g2", in, 1, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(broker_offsets_commit(b, "g1", in, 1, errbuf, sizeof(errbuf)), 0);

	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(broker_offsets_fetch(b, "g1", &out, &n), 0);
		ck_assert_int_eq(n, 3);
		ck_assert_str_eq(out[0].topic, "a");
		ck_assert_int_eq(out[0].offset, 1);
		ck_assert_str_eq(out[1].topic, "t");
		ck_assert_int_eq(out[1].partition, 0);
		ck_assert_int_eq(out[1].offset, 9);
		ck_assert_str_eq(out[1].metadata, "again");
		ck_assert_int_eq(out[2].partition, 2);
		ck_assert_int_eq(out[2].offset, 20);
		ck_assert_str_eq(out[2].metadata, "two");
		free(out);
		ck_assert_int_eq(broker_offsets_fetch(b, "nobody", &out, &n), STRAND_ENOENT);
		ck_assert_int_eq(n, 0);
		ck_assert_int_eq(broker_group_names(b, &names, &n), 0);
		ck_assert_int_eq(n, 2);
		ck_assert_str_eq(names[0], "g1");
		ck_assert_str_eq(names[1], "g2");
		free(names);
		broker_close(b);
		b = open_broker();
	}

	ck_assert_int_eq(broker_group_delete(b, "g1", &w, errbuf, sizeof(errbuf)), 0);
	ck_assert_int_eq(w.partition, -1);   /* single node: offsets.json, nothing to wait for */
	ck_assert_int_eq(broker_group_delete(b, "g1", &w, NULL, 0), STRAND_ENOENT);
	ck_assert_int_eq(broker_offsets_fetch(b, "g1", &out, &n), STRAND_ENOENT);
	broker_close(b);
	b = open_broker();
	ck_assert_int_eq(broker_offsets_fetch(b, "g1", &out, &n), STRAND_ENOENT);
	ck_assert_int_eq(broker_offsets_fetch(b, "g2", &out, &n), 0);
	ck_assert_int_eq(n, 1);
	free(out);
	broker_close(b);
}
END_TEST

START_TEST(test_offsets_commit_is_all_or_nothing)
{
	broker_t *b = open_broker();
	committed_offset_t in[2], *out;
	size_t n;

	create_topic(b, "t", 2);
	in[0] = offset_of("t", 0, 1, "");
	in[1] = offset_of("t", 2, 1, "");
	ck_assert_int_eq(broker_offsets_commit(b, "g", in, 2, errbuf, sizeof(errbuf)),
	                 STRAND_ENOENT);
	ck_assert_msg(strstr(errbuf, "partition 2") != NULL, "message: %s", errbuf);
	in[1] = offset_of("missing", 0, 1, "");
	ck_assert_int_eq(broker_offsets_commit(b, "g", in, 2, NULL, 0), STRAND_ENOENT);
	in[1] = offset_of("t", -1, 1, "");
	ck_assert_int_eq(broker_offsets_commit(b, "g", in, 2, NULL, 0), STRAND_ENOENT);
	in[1] = offset_of("t", 1, -1, "");
	ck_assert_int_eq(broker_offsets_commit(b, "g", in, 2, NULL, 0), STRAND_EINVAL);
	in[1] = offset_of("t", 1, 1, "");
	memset(in[1].metadata, 'x', sizeof(in[1].metadata));   /* not terminated */
	ck_assert_int_eq(broker_offsets_commit(b, "g", in, 2, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(broker_offsets_commit(b, "bad group", in, 1, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(broker_offsets_fetch(b, "g", &out, &n), STRAND_ENOENT);

	broker_close(b);
	b = open_broker();
	ck_assert_int_eq(broker_offsets_fetch(b, "g", &out, &n), STRAND_ENOENT);
	broker_close(b);
}
END_TEST

START_TEST(test_offsets_dropped_with_topic)
{
	broker_t *b = open_broker();
	committed_offset_t in[2], *out;
	size_t n;

	create_topic(b, "gone", 1);
	create_topic(b, "stays", 1);
	in[0] = offset_of("gone", 0, 3, "");
	in[1] = offset_of("stays", 0, 4, "");
	ck_assert_int_eq(broker_offsets_commit(b, "g", in, 2, NULL, 0), 0);
	ck_assert_int_eq(broker_offsets_commit(b, "only-gone", in, 1, NULL, 0), 0);
	ck_assert_int_eq(broker_topic_delete(b, "gone", NULL, 0), 0);
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(broker_offsets_fetch(b, "g", &out, &n), 0);
		ck_assert_int_eq(n, 1);
		ck_assert_str_eq(out[0].topic, "stays");
		free(out);
		ck_assert_int_eq(broker_offsets_fetch(b, "only-gone", &out, &n), STRAND_ENOENT);
		broker_close(b);
		b = open_broker();
	}
	/* a new topic of the old name starts without the old offsets */
	create_topic(b, "gone", 1);
	ck_assert_int_eq(broker_offsets_fetch(b, "only-gone", &out, &n), STRAND_ENOENT);
	broker_close(b);
}
END_TEST

/* ---- corrupt metadata, locking, ticker ------------------------------------------ */

static void write_meta(const char *file, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/meta/%s", data_dir, file);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void expect_corrupt(const char *file)
{
	broker_options_t opts = { data_dir, 0, "", 1000, 0, { 0, 0, 0 }, 0, { 0, 0, 0 }, 0, 0 };
	broker_t *b = NULL;
	int rc = broker_open(&opts, &b, errbuf, sizeof(errbuf));

	ck_assert_msg(rc == STRAND_ECORRUPT, "want ECORRUPT, got %d (%s)", rc, errbuf);
	ck_assert_ptr_null(b);
	ck_assert_msg(strstr(errbuf, file) != NULL, "message names %s: %s", file, errbuf);
}

START_TEST(test_corrupt_metadata_is_refused)
{
	static const char *const bad_topics[] = {
		"{not json",
		"[]",
		"{\"version\":1}",
		"{\"version\":2,\"topics\":[]}",
		"{\"topics\":[{\"name\":\"x\",\"partitions\":0,\"replication_factor\":1,\"configs\":{}}]}",
		"{\"topics\":[{\"name\":\"x\",\"partitions\":1.5,\"replication_factor\":1,\"configs\":{}}]}",
		"{\"topics\":[{\"name\":\"a b\",\"partitions\":1,\"replication_factor\":1,\"configs\":{}}]}",
		"{\"topics\":[{\"name\":\"x\",\"partitions\":1,\"replication_factor\":1,"
		"\"configs\":{\"segment_bytes\":\"1\"}}]}",
		"{\"topics\":[{\"name\":\"x\",\"partitions\":1,\"replication_factor\":1,"
		"\"configs\":{\"no_such\":\"1\"}}]}",
		"{\"topics\":[{\"name\":\"x\",\"partitions\":1,\"replication_factor\":1,\"configs\":{}},"
		"{\"name\":\"x\",\"partitions\":1,\"replication_factor\":1,\"configs\":{}}]}",
	};
	broker_t *b = open_broker();
	topic_t *t;

	create_topic(b, "precious", 1);
	broker_close(b);
	for (size_t i = 0; i < sizeof(bad_topics) / sizeof(bad_topics[0]); i++) {
		write_meta("topics.json", bad_topics[i]);
		expect_corrupt("topics.json");
	}
	/* the partition data was left alone */
	ck_assert(partition_dir_exists("precious", 0));

	write_meta("topics.json",
	           "{\"version\":1,\"topics\":[{\"name\":\"precious\",\"partitions\":1,"
	           "\"replication_factor\":1,\"configs\":{\"flush_ms\":\"5\"}}]}");
	write_meta("offsets.json", "{\"groups\":[{\"group\":\"g\",\"offsets\":[{\"topic\":\"precious\","
	                           "\"partition\":0,\"offset\":\"x\",\"metadata\":\"\"}]}]}");
	expect_corrupt("offsets.json");
	write_meta("offsets.json", "garbage");
	expect_corrupt("offsets.json");
	write_meta("offsets.json", "{\"version\":1,\"groups\":[]}");
	write_meta("cluster_id", "not a/valid id\n");
	expect_corrupt("cluster_id");
	write_meta("cluster_id", "abc-123\n");

	b = open_broker();
	ck_assert_str_eq(broker_cluster_id(b), "abc-123");
	t = broker_topic_get(b, "precious");
	ck_assert_ptr_nonnull(t);
	topic_release(t);
	broker_close(b);
}
END_TEST

START_TEST(test_second_broker_on_same_dir_is_refused)
{
	broker_options_t opts = { data_dir, 0, "", 1000, 0, { 0, 0, 0 }, 0, { 0, 0, 0 }, 0, 0 };
	broker_t *b = open_broker(), *b2 = NULL;

	ck_assert_int_eq(broker_open(&opts, &b2, errbuf, sizeof(errbuf)), STRAND_EIO);
	ck_assert_ptr_null(b2);
	broker_close(b);
}
END_TEST

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(test_ticker_stops_promptly)
{
	broker_t *b = open_broker_tick(60000);
	double start;

	create_topic(b, "idle", 2);
	usleep(50 * 1000);
	start = now_s();
	broker_close(b);
	ck_assert_msg(now_s() - start < 1.0, "close took %.3f s", now_s() - start);
}
END_TEST

START_TEST(test_ticker_flushes_by_flush_ms)
{
	broker_t *b = open_broker_tick(20);
	topic_config_t cfg;
	batch_builder_t bb;
	topic_t *t;
	log_t *log;
	double deadline;

	topic_config_default(&cfg);
	ck_assert_int_eq(topic_config_set(&cfg, "flush_ms", "1", NULL, 0), 0);
	ck_assert_int_eq(broker_topic_create(b, "flushy", 1, 1, &cfg, errbuf, sizeof(errbuf)), 0);
	t = broker_topic_get(b, "flushy");
	log = topic_partition_log(t, 0);
	batch_builder_init(&bb);
	build_batch(&bb, 2);
	ck_assert_int_eq(broker_append(b, t, 0, bb.buf, bb.len, 0, NULL, errbuf,
	                               sizeof(errbuf)), 0);
	deadline = now_s() + 5;
	while (log_flushed_offset(log) < 2 && now_s() < deadline)
		usleep(10 * 1000);
	ck_assert_int_ge(log_flushed_offset(log), 2);
	topic_release(t);
	batch_builder_free(&bb);
	broker_close(b);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------------- */

typedef struct churn_ctx {
	broker_t  *b;
	atomic_int stop;
	atomic_int appended;
} churn_ctx_t;

static void *churn_appender(void *arg)
{
	churn_ctx_t *c = arg;
	batch_builder_t bb;

	batch_builder_init(&bb);
	for (int i = 0; !atomic_load(&c->stop); i++) {
		topic_t *t = broker_topic_get(c->b, "churn");
		int rc;

		if (t == NULL)
			continue;
		build_batch(&bb, 2);
		rc = broker_append(c->b, t, i % topic_partition_count(t), bb.buf, bb.len, i % 4 == 0,
		                   NULL, NULL, 0);
		ck_assert_msg(rc == 0 || rc == STRAND_ENOENT, "append: %d", rc);
		if (rc == 0)
			c->appended++;
		topic_release(t);
	}
	batch_builder_free(&bb);
	return NULL;
}

/* Appenders, the ticker and create/alter/delete of the same topic race. */
START_TEST(test_topic_churn_under_concurrent_appends)
{
	churn_ctx_t c = { open_broker_tick(5), 0, 0 };
	pthread_t thr[4];
	char **names;
	size_t n;

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&thr[i], NULL, churn_appender, &c), 0);
	for (int round = 0; round < 15; round++) {
		create_topic(c.b, "churn", 2);
		usleep(5000);
		ck_assert_int_eq(broker_topic_alter(c.b, "churn", 4, NULL, errbuf, sizeof(errbuf)), 0);
		usleep(5000);
		ck_assert_int_eq(broker_topic_delete(c.b, "churn", errbuf, sizeof(errbuf)), 0);
	}
	atomic_store(&c.stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(thr[i], NULL);
	ck_assert_int_gt(atomic_load(&c.appended), 0);
	ck_assert_int_eq(broker_topic_names(c.b, &names, &n), 0);
	ck_assert_int_eq(n, 0);
	free(names);
	broker_close(c.b);   /* joins the ticker, which may hold the last reference */
	ck_assert(!partition_dir_exists("churn", 0));
	ck_assert(!partition_dir_exists("churn", 3));
}
END_TEST

static Suite *broker_suite(void)
{
	Suite *s = suite_create("broker");
	TCase *tc = tcase_create("broker");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_murmur2_matches_kafka);
	tcase_add_test(tc, test_partition_for_key_is_stable_and_in_range);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_set_each_round_trip);
	tcase_add_test(tc, test_config_rejects_every_invalid_value);
	tcase_add_test(tc, test_name_validation);
	tcase_add_test(tc, test_topic_create_list_describe_persist);
	tcase_add_test(tc, test_topic_alter_grows_and_persists);
	tcase_add_test(tc, test_topic_delete_removes_dirs_and_persists);
	tcase_add_test(tc, test_deleted_topic_handle_usable_until_release);
	tcase_add_test(tc, test_append_fires_hook_with_hw);
	tcase_add_test(tc, test_durable_append_is_flushed);
	tcase_add_test(tc, test_failed_fsync_fences_partition_until_reopen);
	tcase_add_test(tc, test_offsets_commit_fetch_persist);
	tcase_add_test(tc, test_offsets_commit_is_all_or_nothing);
	tcase_add_test(tc, test_offsets_dropped_with_topic);
	tcase_add_test(tc, test_corrupt_metadata_is_refused);
	tcase_add_test(tc, test_second_broker_on_same_dir_is_refused);
	tcase_add_test(tc, test_ticker_stops_promptly);
	tcase_add_test(tc, test_ticker_flushes_by_flush_ms);
	tcase_add_test(tc, test_topic_churn_under_concurrent_appends);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(broker_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
