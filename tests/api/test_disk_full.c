/*
 * test_disk_full.c — a full disk (issue 11: "ENOSPC during an append → 507
 * STORAGE_FULL, nothing partial stored, reads keep working, writes resume
 * by themselves once space is back").
 *
 * The broker's data directory is a small tmpfs mounted by the test (it
 * needs root, as CI has; elsewhere the suite exits 77, skipped). A filler
 * file takes most of the space; a producer appends with acks=all until the
 * broker answers 507. Then: the high watermark equals what was
 * acknowledged, every acknowledged record reads back, removing the filler
 * lets the next append land at exactly the next offset, and after a clean
 * stop `strand log check` finds the partition intact.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "harness.h"

#define FS_BYTES        (4L << 20)    /* the tmpfs */
#define LEFT_FREE_BYTES (300L << 10)  /* what the filler leaves */
#define PER_REQUEST     20
#define VALUE_BYTES     1000

static harness_t srv;
static char mount_dir[300];
static char filler[400];

/* Temp dir, a tmpfs on its data/, then the server on it. 0, or 77 (skip). */
static int start_on_tmpfs(void)
{
	char opts[64];

	memset(&srv, 0, sizeof srv);
	snprintf(srv.dir, sizeof srv.dir, "%s/strand-test-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(srv.dir) == NULL)
		return -1;
	snprintf(srv.data_dir, sizeof srv.data_dir, "%s/data", srv.dir);
	snprintf(srv.port_file, sizeof srv.port_file, "%s/port", srv.dir);
	snprintf(srv.log_path, sizeof srv.log_path, "%s/server.log", srv.dir);
	snprintf(mount_dir, sizeof mount_dir, "%s", srv.data_dir);
	snprintf(filler, sizeof filler, "%s/filler", srv.data_dir);
	if (mkdir(srv.data_dir, 0755) < 0)
		return -1;
	snprintf(opts, sizeof opts, "size=%ld,mode=0755", FS_BYTES);
	if (mount("tmpfs", mount_dir, "tmpfs", 0, opts) < 0) {
		fprintf(stderr, "test_disk_full: cannot mount a tmpfs (%s): skipped\n",
		        strerror(errno));
		rmdir(srv.data_dir);
		rmdir(srv.dir);
		mount_dir[0] = '\0';
		return 77;
	}
	return harness_restart(&srv) == 0 ? 0 : -1;
}

static void stop_and_unmount(void)
{
	if (srv.pid != 0)
		harness_stop(&srv, SIGTERM);
	if (mount_dir[0] != '\0')
		umount2(mount_dir, MNT_DETACH);
	harness_teardown(&srv);
}

/* Fill the filesystem until `left` bytes remain free. */
static void fill_leaving(long left)
{
	struct statvfs st;
	char block[64 << 10];
	long free_bytes;
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	memset(block, 'f', sizeof block);
	for (;;) {
		ck_assert_int_eq(statvfs(mount_dir, &st), 0);
		free_bytes = (long)(st.f_bavail * st.f_frsize);
		if (free_bytes <= left)
			break;
		size_t n = (size_t)(free_bytes - left) < sizeof block ? (size_t)(free_bytes - left)
		                                                      : sizeof block;
		ck_assert_int_eq(write(fd, block, n), (ssize_t)n);
	}
	close(fd);
}

/* One request of PER_REQUEST records of VALUE_BYTES each; value i names seq. */
static long produce_one(long seq, http_response_t *r)
{
	buf_t body;
	char pad[VALUE_BYTES];
	long status;

	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	buf_init(&body);
	buf_append_str(&body, "{\"records\":[");
	for (int i = 0; i < PER_REQUEST; i++) {
		char head[64];

		snprintf(head, sizeof head, "%s{\"value\":\"r%ld-%d-", i ? "," : "", seq, i);
		buf_append_str(&body, head);
		buf_append_str(&body, pad);
		buf_append_str(&body, "\"}");
	}
	buf_append_str(&body, "]}");
	status = http_request(&srv, "POST", "/v1/topics/full/partitions/0/records?acks=all",
	                      "application/json", body.data, body.len, NULL, r);
	buf_free(&body);
	return status;
}

static int64_t high_watermark(void)
{
	http_response_t r;
	cJSON *doc, *p0;
	int64_t hw;

	ck_assert_int_eq(http_get(&srv, "/v1/topics/full", &r), 200);
	doc = http_body_json(&r);
	p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "partitions"), 0);
	hw = (int64_t)cJSON_GetObjectItem(p0, "high_watermark")->valuedouble;
	cJSON_Delete(doc);
	http_response_free(&r);
	return hw;
}

/* Every record in [0, n) reads back, record i of request s valued "rs-i-...". */
static void check_readable(int64_t n)
{
	int64_t off = 0;

	while (off < n) {
		http_response_t r;
		char path[160];
		cJSON *doc, *recs, *rec;

		snprintf(path, sizeof path,
		         "/v1/topics/full/partitions/0/records?offset=%lld&max_records=200",
		         (long long)off);
		ck_assert_int_eq(http_get(&srv, path, &r), 200);
		doc = http_body_json(&r);
		recs = cJSON_GetObjectItem(doc, "records");
		ck_assert_int_gt(cJSON_GetArraySize(recs), 0);
		cJSON_ArrayForEach(rec, recs) {
			char want[48];
			const char *v = cJSON_GetObjectItem(rec, "value")->valuestring;

			ck_assert_int_eq((int64_t)cJSON_GetObjectItem(rec, "offset")->valuedouble, off);
			snprintf(want, sizeof want, "r%lld-%d-", (long long)(off / PER_REQUEST),
			         (int)(off % PER_REQUEST));
			ck_assert_msg(strncmp(v, want, strlen(want)) == 0,
			              "offset %lld holds %.20s, want %s", (long long)off, v, want);
			off++;
		}
		cJSON_Delete(doc);
		http_response_free(&r);
	}
}

START_TEST(test_full_disk_answers_507_keeps_reads_and_recovers)
{
	http_response_t r;
	long seq, status = 200;
	int64_t acked = 0;
	char cmd[700];

	ck_assert_int_eq(http_json(&srv, "POST", "/v1/topics",
	                           "{\"name\":\"full\",\"partitions\":1}", &r), 201);
	http_response_free(&r);
	fill_leaving(LEFT_FREE_BYTES);

	/* ~300 KiB free, ~20 KiB per request: full within a few dozen requests */
	for (seq = 0; seq < 1000; seq++) {
		status = produce_one(seq, &r);
		if (status != 200)
			break;
		acked += PER_REQUEST;
		http_response_free(&r);
	}
	ck_assert_msg(status == 507, "got %ld after %lld records: %s", status, (long long)acked,
	              r.body.data ? r.body.data : "");
	{ char why[256] = ""; ck_assert_msg(http_is_problem(&r, 507, "STORAGE_FULL", why, sizeof why), "%s: %s", why, r.body.data); }
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"retriable\":true"));
	http_response_free(&r);
	ck_assert_int_gt(acked, 0);
	printf("disk full after %lld acknowledged records (%ld requests)\n", (long long)acked, seq);

	/* nothing partial: the log ends exactly after the last acknowledged batch */
	ck_assert_int_eq(high_watermark(), acked);
	check_readable(acked);
	ck_assert_int_eq(http_get(&srv, "/readyz", &r), 200);
	http_response_free(&r);

	/* still full: still 507, still nothing stored */
	ck_assert_int_eq(produce_one(seq, &r), 507);
	http_response_free(&r);
	ck_assert_int_eq(high_watermark(), acked);

	/* space back: the next append lands at the next offset, no restart */
	ck_assert_int_eq(unlink(filler), 0);
	ck_assert_int_eq(produce_one(acked / PER_REQUEST, &r), 200);
	{
		cJSON *doc = http_body_json(&r);
		cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "offsets"), 0);

		ck_assert_msg(first != NULL, "%s", r.body.data);
		ck_assert_int_eq((int64_t)cJSON_GetObjectItem(first, "offset")->valuedouble, acked);
		cJSON_Delete(doc);
	}
	http_response_free(&r);
	acked += PER_REQUEST;
	ck_assert_int_eq(high_watermark(), acked);
	check_readable(acked);

	/* and the log on disk is whole */
	ck_assert_int_eq(harness_stop(&srv, SIGTERM), 0);
	snprintf(cmd, sizeof cmd, "\"%s\" log check \"%s/full-0\" >/dev/null",
	         getenv("STRAND_BIN") ? getenv("STRAND_BIN") : "./strand", srv.data_dir);
	ck_assert_msg(system(cmd) == 0, "%s: not clean", cmd);
}
END_TEST

int main(void)
{
	int rc = start_on_tmpfs(), failed;
	Suite *s;
	TCase *tc;
	SRunner *sr;

	if (rc == 77)
		return 77;
	if (rc != 0) {
		fprintf(stderr, "test_disk_full: could not start the broker: %s\n",
		        harness_log_tail(&srv));
		stop_and_unmount();
		return 99;
	}
	s = suite_create("disk_full");
	tc = tcase_create("tmpfs");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_full_disk_answers_507_keeps_reads_and_recovers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);   /* the server belongs to this process */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	stop_and_unmount();
	return failed ? 1 : 0;
}
