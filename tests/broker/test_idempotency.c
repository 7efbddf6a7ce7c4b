/*
 * test_idempotency.c — Check suite for src/broker/idempotency.c, the
 * Idempotency-Key window: begin/complete/release, in-progress keys, the
 * window by count, bytes and age, the journal replayed on reopen (a torn
 * tail cut off, a reused key's later answer winning), compaction, key
 * parsing; and SHA-256 against FIPS 180-4's examples.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/idempotency.h"
#include "common/err.h"
#include "common/sha256.h"

static char dir[] = "/tmp/strand-idem-XXXXXX";
static char path[300];
static char errbuf[512];

static void setup(void)
{
	strcpy(dir, "/tmp/strand-idem-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/idempotency.journal", dir);
}

static void teardown(void)
{
	char tmp[320];

	unlink(path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	rmdir(dir);
}

static idem_store_t *open_store(int64_t keys, int64_t age, int64_t bytes, int64_t now)
{
	idem_limits_t lim = { keys, age, bytes };
	idem_store_t *s = NULL;

	ck_assert_msg(idem_store_open(path, &lim, now, &s, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	return s;
}

/* Run one keyed request to completion with answer body (fingerprint from body). */
static void put(idem_store_t *s, const char *key, const char *body, int64_t now)
{
	idem_entry_t *t = NULL;
	idem_answer_t a, seen;

	memset(&a, 0, sizeof a);
	memset(&seen, 0, sizeof seen);
	ck_assert_int_eq(idem_store_begin(s, "alice\ntopic", key, now, &t, &seen), 0);
	memset(a.fingerprint, body[0], sizeof a.fingerprint);
	a.status = 200;
	a.content_type = "application/json";
	a.body = (char *)body;
	a.len = strlen(body);
	ck_assert_int_eq(idem_store_complete(s, t, &a, 0, now, errbuf, sizeof errbuf), 0);
}

/* 1 with the stored body in out, or 0 (the key is new: released again). */
static int get(idem_store_t *s, const char *key, char *out, size_t cap, int64_t now)
{
	idem_entry_t *t = NULL;
	idem_answer_t a;
	int rc;

	memset(&a, 0, sizeof a);
	rc = idem_store_begin(s, "alice\ntopic", key, now, &t, &a);
	ck_assert_int_ge(rc, 0);
	if (rc == 0) {
		idem_store_release(s, t);
		return 0;
	}
	ck_assert_uint_eq(a.status, 200);
	ck_assert_str_eq(a.content_type, "application/json");
	snprintf(out, cap, "%.*s", (int)a.len, a.body);
	idem_answer_free(&a);
	return 1;
}

START_TEST(test_sha256_known_answers)
{
	static const char *const in[] = { "", "abc",
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" };
	static const char *const want[] = {
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" };
	uint8_t d[SHA256_DIGEST_SIZE];
	char hex[65];
	sha256_t h;

	for (int i = 0; i < 3; i++) {
		sha256_init(&h);
		for (const char *p = in[i]; *p; p++)      /* byte by byte: the buffering path */
			sha256_update(&h, p, 1);
		sha256_final(&h, d);
		for (int j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", d[j]);
		ck_assert_str_eq(hex, want[i]);
	}
}
END_TEST

START_TEST(test_begin_complete_release)
{
	idem_store_t *s = open_store(0, 0, 0, 1000);
	idem_entry_t *t = NULL, *t2 = NULL;
	idem_answer_t a;
	char out[64];

	memset(&a, 0, sizeof a);
	ck_assert_int_eq(idem_store_begin(s, "alice\ntopic", "k", 1000, &t, &a), 0);
	/* the same key in the same scope is in progress; another scope is not */
	ck_assert_int_eq(idem_store_begin(s, "alice\ntopic", "k", 1000, &t2, &a), STRAND_EAGAIN);
	ck_assert_int_eq(idem_store_begin(s, "bob\ntopic", "k", 1000, &t2, &a), 0);
	idem_store_release(s, t2);
	idem_store_release(s, t);
	ck_assert_int_eq(get(s, "k", out, sizeof out, 1000), 0);
	put(s, "k", "{\"offsets\":[]}", 1000);
	ck_assert_int_eq(get(s, "k", out, sizeof out, 1000), 1);
	ck_assert_str_eq(out, "{\"offsets\":[]}");
	ck_assert_uint_eq(idem_store_count(s), 1);
	idem_store_close(s);
}
END_TEST

START_TEST(test_window_by_count_bytes_and_age)
{
	idem_store_t *s = open_store(3, 10000, 0, 0);
	char out[64], key[16];

	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof key, "k%d", i);
		put(s, key, "body", 100 * i);
	}
	ck_assert_uint_eq(idem_store_count(s), 3);
	ck_assert_int_eq(get(s, "k1", out, sizeof out, 500), 0);
	ck_assert_int_eq(get(s, "k2", out, sizeof out, 500), 1);
	/* k2 was stored at 200: gone past 10200 */
	ck_assert_int_eq(idem_store_tick(s, 10250, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(get(s, "k2", out, sizeof out, 10250), 0);
	ck_assert_int_eq(get(s, "k3", out, sizeof out, 10250), 1);
	idem_store_close(s);

	/* bytes: each entry counts scope + key + content type + body (11+2+16+10) */
	unlink(path);
	s = open_store(100, 10000, 100, 0);
	put(s, "b1", "0123456789", 0);
	put(s, "b2", "0123456789", 0);
	put(s, "b3", "0123456789", 0);
	ck_assert_uint_eq(idem_store_count(s), 2);
	ck_assert_int_eq(get(s, "b1", out, sizeof out, 0), 0);
	idem_store_close(s);
}
END_TEST

START_TEST(test_journal_replayed_and_torn_tail_cut)
{
	idem_store_t *s = open_store(0, 0, 0, 1000);
	char out[64];
	struct stat st;
	int fd;

	put(s, "a", "first", 1000);
	put(s, "b", "second", 1000);
	idem_store_close(s);

	/* a crash mid-record: half a record at the end */
	ck_assert_int_eq(stat(path, &st), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "\0\0\0\x40garbage", 11), 11);
	close(fd);

	s = open_store(0, 0, 0, 2000);
	ck_assert_int_eq(get(s, "a", out, sizeof out, 2000), 1);
	ck_assert_str_eq(out, "first");
	ck_assert_int_eq(get(s, "b", out, sizeof out, 2000), 1);
	ck_assert_str_eq(out, "second");
	{
		struct stat now;

		ck_assert_int_eq(stat(path, &now), 0);
		ck_assert_int_eq(now.st_size, st.st_size);      /* the tail was cut */
	}
	put(s, "c", "third", 2000);
	idem_store_close(s);

	/* reopened with a smaller window: the oldest go; later limits apply too */
	s = open_store(2, 0, 0, 3000);
	ck_assert_int_eq(get(s, "a", out, sizeof out, 3000), 0);
	ck_assert_int_eq(get(s, "c", out, sizeof out, 3000), 1);
	ck_assert_str_eq(out, "third");
	idem_store_close(s);
	/* and with a short age, all are gone */
	s = open_store(0, 500, 0, 5000);
	ck_assert_uint_eq(idem_store_count(s), 0);
	idem_store_close(s);
}
END_TEST

START_TEST(test_journal_compacted)
{
	idem_store_t *s = open_store(10, 0, 0, 0);
	char out[64], key[16], body[2048];
	struct stat st;

	memset(body, 'x', sizeof body - 1);
	body[sizeof body - 1] = '\0';
	for (int i = 0; i < 1000; i++) {           /* ~2 MiB journaled, 10 kept */
		snprintf(key, sizeof key, "k%d", i);
		put(s, key, body, i);
	}
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_gt(st.st_size, 2 * 1000 * 1000);
	ck_assert_int_eq(idem_store_tick(s, 1000, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_lt(st.st_size, 10 * 2200);
	put(s, "after", "y", 1000);               /* appends go to the new file */
	idem_store_close(s);
	s = open_store(10, 0, 0, 1000);
	ck_assert_uint_eq(idem_store_count(s), 10);
	ck_assert_int_eq(get(s, "k999", out, sizeof out, 1000), 1);
	ck_assert_int_eq(get(s, "after", out, sizeof out, 1000), 1);
	ck_assert_str_eq(out, "y");
	ck_assert_int_eq(get(s, "k990", out, sizeof out, 1000), 0);
	idem_store_close(s);
}
END_TEST

START_TEST(test_key_parsing)
{
	char key[IDEM_MAX_KEY_BYTES + 1], big[300];

	ck_assert_int_eq(idem_key_parse("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", key, sizeof key,
	                                NULL, 0), 0);
	ck_assert_str_eq(key, "8e03978e-40d5-43e8-bc93-6894a57f9324");
	ck_assert_int_eq(idem_key_parse("bare-token_1", key, sizeof key, NULL, 0), 0);
	ck_assert_str_eq(key, "bare-token_1");
	ck_assert_int_eq(idem_key_parse(" \"a \\\"q\\\" \\\\\" ", key, sizeof key, NULL, 0), 0);
	ck_assert_str_eq(key, "a \"q\" \\");
	ck_assert_int_eq(idem_key_parse("\"\"", key, sizeof key, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(idem_key_parse("", key, sizeof key, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(idem_key_parse("\"open", key, sizeof key, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(idem_key_parse("\"a\" b", key, sizeof key, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(idem_key_parse("\"\x01\"", key, sizeof key, NULL, 0), STRAND_EINVAL);
	ck_assert_int_eq(idem_key_parse("\"\\n\"", key, sizeof key, NULL, 0), STRAND_EINVAL);
	memset(big, 'k', 255);
	big[255] = '\0';
	ck_assert_int_eq(idem_key_parse(big, key, sizeof key, NULL, 0), 0);
	big[255] = 'k';
	big[256] = '\0';
	ck_assert_int_eq(idem_key_parse(big, key, sizeof key, errbuf, sizeof errbuf), STRAND_EINVAL);
	ck_assert_msg(strstr(errbuf, "255") != NULL, "%s", errbuf);
}
END_TEST

static Suite *idem_suite(void)
{
	Suite *s = suite_create("idempotency");
	TCase *tc = tcase_create("store");

	tcase_add_test(tc, test_sha256_known_answers);
	tcase_add_test(tc, test_key_parsing);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_begin_complete_release);
	tcase_add_test(tc, test_window_by_count_bytes_and_age);
	tcase_add_test(tc, test_journal_replayed_and_torn_tail_cut);
	tcase_add_test(tc, test_journal_compacted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(idem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
