/*
 * test_membership.c — a data directory belongs to the cluster it first
 * joined (DATA/meta/membership.json, Kafka's meta.properties): a real
 * `strand serve --etcd` (tests/api/harness.c) against a private etcd
 * (etcd_fixture.h) records its cluster id and broker id on the first join;
 * started again with another broker id, single-node, against an etcd
 * holding another cluster id, or against an etcd holding none (wiped), it
 * exits non-zero with a message that says why, and neither its data
 * directory nor etcd's cluster id has changed; started as it should be, it
 * rejoins its cluster. Every wait polls with a deadline.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "cluster/etcd.h"
#include "common/buf.h"
#include "common/clock.h"
#include "etcd_fixture.h"
#include "../api/harness.h"

#define RUN_DEADLINE_MS 30000
#define KEY_ID CLUSTER_ETCD_PREFIX "cluster_id"

/* ---- a refused start ----------------------------------------------------- */

/*
 * Run `strand serve --listen 127.0.0.1:0 --data-dir dir ARGS...` until it
 * exits (it must, within RUN_DEADLINE_MS: a broker that starts is killed
 * and the test fails). Returns the exit status; out gets its output.
 */
static int run_serve(const char *dir, const char *const *args, buf_t *out)
{
	char log[] = "/tmp/strand-membership-out-XXXXXX";
	const char *argv[16], *bin = getenv("STRAND_BIN") ? getenv("STRAND_BIN") : "./strand";
	int argc = 0, fd, status = 0, i;
	int64_t end = clock_now_ms() + RUN_DEADLINE_MS;
	char chunk[4096];
	ssize_t n;
	pid_t pid, r;

	fd = mkstemp(log);
	ck_assert_int_ge(fd, 0);
	argv[argc++] = bin;
	argv[argc++] = "serve";
	argv[argc++] = "--listen";
	argv[argc++] = "127.0.0.1:0";
	argv[argc++] = "--data-dir";
	argv[argc++] = dir;
	for (i = 0; args[i] != NULL; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && clock_now_ms() < end)
		clock_sleep_ms(20);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		ck_assert_int_eq(buf_append(out, chunk, (size_t)n), 0);
	ck_assert_int_eq(buf_append(out, "", 1), 0);
	close(fd);
	unlink(log);
	ck_assert_msg(r == pid, "strand serve started (it should have refused): %s", out->data);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ---- what a directory holds ------------------------------------------------ */

static buf_t snap;
static size_t snap_root;

static int snap_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)flag; (void)f;
	return buf_appendf(&snap, "%s %o %lld %lld.%09ld\n", path + snap_root, (unsigned)st->st_mode,
	                   (long long)st->st_size, (long long)st->st_mtim.tv_sec,
	                   st->st_mtim.tv_nsec) != 0;
}

/* Every entry under dir with its mode, size and modification time (malloc'd). */
static char *dir_snapshot(const char *dir)
{
	char *text;

	buf_init(&snap);
	snap_root = strlen(dir);
	ck_assert_int_eq(nftw(dir, snap_entry, 16, FTW_PHYS), 0);
	ck_assert_int_eq(buf_append(&snap, "", 1), 0);
	text = strdup(snap.data);
	buf_free(&snap);
	return text;
}

/* ---- etcd's cluster id ----------------------------------------------------- */

static etcd_t *etcd_handle(void)
{
	etcd_options_t eo;
	etcd_t *e = NULL;
	char err[256];

	memset(&eo, 0, sizeof eo);
	eo.endpoints = fixture_etcd.client_url;
	ck_assert_msg(etcd_open(&eo, &e, err, sizeof err) == 0, "%s", err);
	return e;
}

/* The id etcd holds ("" when none) into id[CLUSTER_MAX_ID_BYTES]. */
static void etcd_id(char *id)
{
	etcd_t *e = etcd_handle();
	etcd_kvs_t kvs;
	char err[256];

	ck_assert_msg(etcd_range(e, KEY_ID, 0, &kvs, err, sizeof err) == 0, "%s", err);
	id[0] = '\0';
	if (kvs.n == 1)
		snprintf(id, CLUSTER_MAX_ID_BYTES, "%s", kvs.kvs[0].value);
	etcd_kvs_free(&kvs);
	etcd_close(e);
}

/* Put id (NULL: delete the key). */
static void etcd_set_id(const char *id)
{
	etcd_t *e = etcd_handle();
	char err[256];

	if (id != NULL)
		ck_assert_msg(etcd_put(e, KEY_ID, id, strlen(id), 0, NULL, err, sizeof err) == 0,
		              "%s", err);
	else
		ck_assert_msg(etcd_delete(e, KEY_ID, 0, NULL, err, sizeof err) == 0, "%s", err);
	etcd_close(e);
}

/* Wait (deadline) until h has joined its cluster and read the topics: /readyz 200. */
static void wait_joined(harness_t *h)
{
	http_response_t r;
	int64_t end = clock_now_ms() + RUN_DEADLINE_MS;

	while (http_get(h, "/readyz", &r) != 200 && clock_now_ms() < end) {
		http_response_free(&r);
		clock_sleep_ms(20);
	}
	ck_assert_msg(r.status == 200, "%s never ready: %s", h->base_url, harness_log_tail(h));
	http_response_free(&r);
}

/* The cluster id a broker reports on GET /v1/cluster (malloc'd). */
static char *served_cluster_id(harness_t *h)
{
	http_response_t r;
	cJSON *doc;
	const cJSON *id;
	char *text;

	ck_assert_int_eq(http_get(h, "/v1/cluster", &r), 200);
	doc = http_body_json(&r);
	http_response_free(&r);
	id = cJSON_GetObjectItemCaseSensitive(doc, "cluster_id");
	ck_assert(cJSON_IsString(id));
	text = strdup(id->valuestring);
	cJSON_Delete(doc);
	return text;
}

/* A refused start: non-zero exit, its output says `why`, dir unchanged. */
static void assert_refused(harness_t *h, const char *const *args, const char *why,
                           const char *before)
{
	buf_t out = BUF_INIT;
	char *after;
	int status = run_serve(h->data_dir, args, &out);

	ck_assert_msg(status != 0, "exit status 0: %s", out.data);
	ck_assert_msg(strstr(out.data, why) != NULL, "no \"%s\" in: %s", why, out.data);
	after = dir_snapshot(h->data_dir);
	ck_assert_msg(strcmp(before, after) == 0, "the data directory changed:\n%s\n---\n%s",
	              before, after);
	free(after);
	buf_free(&out);
}

START_TEST(test_data_dir_keeps_its_cluster)
{
	harness_t h;
	cluster_membership_t m;
	char err[256], held[CLUSTER_MAX_ID_BYTES], *joined, *again, *before;
	const char *as_two[] = { "--etcd", fixture_etcd.client_url, "--broker-id", "2", NULL };
	const char *single[] = { "--broker-id", "1", NULL };
	const char *as_one[] = { "--etcd", fixture_etcd.client_url, "--broker-id", "1", NULL };

	memset(&h, 0, sizeof h);
	h.extra_args[0] = "--etcd";
	h.extra_args[1] = fixture_etcd.client_url;
	h.extra_args[2] = "--broker-id";
	h.extra_args[3] = "1";
	ck_assert_int_eq(harness_start(&h), 0);
	wait_joined(&h);
	joined = served_cluster_id(&h);
	etcd_id(held);
	ck_assert_str_eq(joined, held);
	/* the first join is recorded */
	ck_assert_msg(cluster_membership_read(h.data_dir, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(m.recorded, 1);
	ck_assert_str_eq(m.cluster_id, joined);
	ck_assert_int_eq(m.broker_id, 1);
	ck_assert_int_eq(harness_stop(&h, SIGTERM), 0);
	before = dir_snapshot(h.data_dir);

	/* another broker id, single-node: refused before anything is opened */
	assert_refused(&h, as_two, "start it with --broker-id 1", before);
	assert_refused(&h, single, "single-node", before);
	/* an etcd of another cluster */
	etcd_set_id("another-cluster");
	assert_refused(&h, as_one, "the wrong cluster", before);
	etcd_id(held);
	ck_assert_str_eq(held, "another-cluster");
	/* a wiped etcd: refused, and no cluster id is created there */
	etcd_set_id(NULL);
	assert_refused(&h, as_one, "holds no cluster id", before);
	etcd_id(held);
	ck_assert_str_eq(held, "");
	free(before);

	/* its own cluster again: it rejoins as it was */
	etcd_set_id(joined);
	ck_assert_int_eq(harness_restart(&h), 0);
	wait_joined(&h);
	again = served_cluster_id(&h);
	ck_assert_str_eq(again, joined);
	free(again);
	free(joined);
	harness_teardown(&h);
}
END_TEST

/*
 * A directory that never joined may start single-node. While it holds a
 * single-node broker's topics it may not join a cluster (the watcher would
 * delete them: etcd does not have them); emptied of topics, it joins (and
 * is recorded) on its first start with --etcd.
 */
START_TEST(test_single_node_dir_joins_once)
{
	harness_t h;
	http_response_t r;
	cluster_membership_t m;
	char err[256], held[CLUSTER_MAX_ID_BYTES], *before;
	const char *join[] = { "--etcd", fixture_etcd.client_url, "--broker-id", "3", NULL };

	memset(&h, 0, sizeof h);
	h.extra_args[0] = "--broker-id";
	h.extra_args[1] = "3";
	ck_assert_int_eq(harness_start(&h), 0);
	ck_assert_int_eq(http_json(&h, "POST", "/v1/topics", "{\"name\":\"local\"}", &r), 201);
	http_response_free(&r);
	ck_assert_int_eq(harness_stop(&h, SIGTERM), 0);
	before = dir_snapshot(h.data_dir);
	assert_refused(&h, join, "holds 1 topic of a single-node broker", before);
	free(before);
	ck_assert_int_eq(harness_restart(&h), 0);
	ck_assert_int_eq(http_json(&h, "DELETE", "/v1/topics/local", NULL, &r), 204);
	http_response_free(&r);
	ck_assert_int_eq(harness_stop(&h, SIGTERM), 0);
	ck_assert_msg(cluster_membership_read(h.data_dir, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(m.recorded, 0);
	ck_assert_int_eq(m.cluster_data, 0);
	h.extra_args[2] = "--etcd";
	h.extra_args[3] = fixture_etcd.client_url;
	ck_assert_int_eq(harness_restart(&h), 0);
	wait_joined(&h);
	ck_assert_msg(cluster_membership_read(h.data_dir, &m, err, sizeof err) == 0, "%s", err);
	etcd_id(held);
	ck_assert_int_eq(m.recorded, 1);
	ck_assert_int_eq(m.broker_id, 3);
	ck_assert_str_eq(m.cluster_id, held);
	harness_teardown(&h);
}
END_TEST

static Suite *membership_suite(void)
{
	Suite *s = suite_create("membership");
	TCase *tc = tcase_create("data_dir");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_data_dir_keeps_its_cluster);
	tcase_add_test(tc, test_single_node_dir_joins_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return etcd_fixture_run(membership_suite());
}
