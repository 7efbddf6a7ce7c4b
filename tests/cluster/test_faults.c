/*
 * test_faults.c — fault scenarios against a real cluster (cluster_harness.h):
 * producers posting acks=all records and consumers reading them run
 * throughout while the test kills, pauses and restarts brokers; at the end
 * the cluster is healed, every replica's log is read from its data
 * directory, and the checker (history.h) looks for Jepsen's anomalies: an
 * acknowledged record lost, an offset with two values, a value at two
 * offsets, a refused record present, reads out of order, replicas that
 * differ below the high watermark.
 *
 * Check runs these in one process (CK_NOFORK): the cluster of a test that
 * fails is stopped by the teardown fixture, and brokers die with the test
 * process anyway (PR_SET_PDEATHSIG). Exit 77 when etcd or the strand
 * binary is missing.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cluster/etcd_local.h"
#include "common/clock.h"
#include "common/err.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/history.h"
#include "tests/cluster/workload.h"

#define SETTLE_MS   30000    /* healed cluster: ISR full, replicas caught up */
#define PROGRESS_MS 30000    /* producers make progress again */

static tcluster_t *cl;
static workload_t *wl;          /* the running workload, stopped before the cluster */
static char errbuf[8192];

static void cluster_teardown(void)
{
	workload_stop(wl, NULL, 0);
	wl = NULL;
	tcluster_stop(cl);
	cl = NULL;
}

static void start_cluster(const tcluster_options_t *o)
{
	int rc = tcluster_start(o, &cl, errbuf, sizeof errbuf);

	ck_assert_msg(rc == 0, "cluster start: %s", errbuf);
}

/*
 * Create a topic through broker 1. Placement counts live brokers from the
 * broker's watch of etcd, which can lag /v1/cluster (read from etcd) by a
 * moment just after start: a 400 saying fewer brokers are live than
 * tcluster_start saw is tried again, within a deadline, and said.
 */
static void create_topic(const char *topic, int partitions, int rf, const char *configs)
{
	int64_t end = clock_now_ms() + 10000;
	int rc;

	while ((rc = tcluster_create_topic(cl, 1, topic, partitions, rf, configs, errbuf,
	                                   sizeof errbuf)) == 400 &&
	       strstr(errbuf, "live broker") != NULL && clock_now_ms() < end) {
		fprintf(stderr, "%s: not all brokers known yet to broker 1's placement: %s\n", topic,
		        errbuf);
		clock_sleep_ms(50);
	}
	ck_assert_msg(rc == 0, "%s", errbuf);
}

/* The brokers that hold partition p as the API lists them. A broker
 * without replication reports itself as broker 0, replica of everything:
 * then the one broker of the test. */
static int replicas_of(const tcluster_partition_t *st, int32_t *ids)
{
	int i;

	if (st->nreplicas == 1 && st->replicas[0] == 0 && tcluster_brokers(cl) == 1) {
		ids[0] = 1;
		return 1;
	}
	for (i = 0; i < st->nreplicas; i++)
		ids[i] = st->replicas[i];
	return st->nreplicas;
}

/*
 * Wait until partition p has settled: every replica in the ISR, and each
 * one's log end offset and high watermark equal. Returns that high
 * watermark; fills ids with the replicas.
 */
static int64_t wait_settled(const char *topic, int32_t p, int32_t *ids, int *nids)
{
	int64_t end = clock_now_ms() + SETTLE_MS, hw = -1;
	tcluster_partition_t st, r;
	char last[512] = "nothing read";

	for (;;) {
		int ok = 0, i, via;

		for (via = 1; via <= tcluster_brokers(cl) && !ok; via++) {
			if (!tcluster_running(cl, via) || tcluster_paused(cl, via) ||
			    tcluster_partition(cl, via, topic, p, &st) != 0)
				continue;
			*nids = replicas_of(&st, ids);
			ok = st.leader >= 0 && st.nisr == st.nreplicas && *nids > 0;
			snprintf(last, sizeof last, "broker %d says leader %d isr %d of %d replicas", via,
			         st.leader, st.nisr, st.nreplicas);
		}
		for (i = 0; ok && i < *nids; i++) {
			if (!tcluster_running(cl, ids[i]) ||
			    tcluster_partition(cl, ids[i], topic, p, &r) != 0 ||
			    r.high_watermark != r.log_end_offset || (i > 0 && r.high_watermark != hw)) {
				snprintf(last + strlen(last), sizeof last - strlen(last),
				         "; replica %d hw %" PRId64 " leo %" PRId64, ids[i], r.high_watermark,
				         r.log_end_offset);
				ok = 0;
			}
			hw = r.high_watermark;
		}
		if (ok)
			return hw;
		ck_assert_msg(clock_now_ms() < end, "%s/%d not settled in %d ms: %s", topic, p, SETTLE_MS,
		              last);
		clock_sleep_ms(20);
	}
}

/*
 * The end of every scenario: stop the workload (consumers read up to the
 * high watermark), wait until every partition has settled, stop the
 * brokers cleanly, read every replica's log and check the whole history.
 * min_acked: the scenario must have had this many acknowledgements.
 */
static void finish_and_check(workload_t *w, const char *topic, int partitions, int64_t min_acked)
{
	history_t *h = history_new();
	history_report_t rep;
	int32_t ids[HISTORY_MAX_PARTITIONS][TCLUSTER_MAX_BROKERS];
	int nids[HISTORY_MAX_PARTITIONS];
	int64_t hw[HISTORY_MAX_PARTITIONS];
	int p, i, rc;

	ck_assert_ptr_nonnull(h);
	wl = NULL;
	rc = workload_stop(w, h, SETTLE_MS);
	ck_assert_msg(rc == 0, "workload stop: %s (the consumers did not reach the high watermark)",
	              strand_strerror(rc));
	for (p = 0; p < partitions; p++)
		hw[p] = wait_settled(topic, p, ids[p], &nids[p]);
	for (i = 1; i <= tcluster_brokers(cl); i++)
		ck_assert_int_eq(tcluster_shutdown(cl, i), 0);
	for (p = 0; p < partitions; p++)
		for (i = 0; i < nids[p]; i++) {
			rc = workload_read_replica(cl, ids[p][i], topic, p, hw[p], h, errbuf, sizeof errbuf);
			ck_assert_msg(rc == 0, "read broker %d %s-%d: %s", ids[p][i], topic, p, errbuf);
		}
	rc = (int)history_check(h, &rep);
	fprintf(stderr, "%s: sent %" PRId64 ", acked %" PRId64 ", failed %" PRId64 ", unknown %"
	        PRId64 " (%" PRId64 " of them committed), polled %" PRId64 ", replica records %"
	        PRId64 ", anomalies %" PRId64 "\n", topic, rep.sent, rep.acked, rep.failed,
	        rep.unknown, rep.unknown_present, rep.polled, rep.replica_records, rep.anomalies);
	if (rc != 0)
		fprintf(stderr, "%s: the first anomalies:\n%s", topic, rep.text);
	ck_assert_msg(rc == 0, "%d anomalies (listed above): lost %" PRId64 ", inconsistent %" PRId64
	              ", duplicate %" PRId64 ", failed_read %" PRId64 ", phantom %" PRId64
	              ", nonmonotonic_send %" PRId64 ", nonmonotonic_poll %" PRId64 ", divergent %"
	              PRId64, rc, rep.lost, rep.inconsistent, rep.duplicate, rep.failed_read,
	              rep.phantom, rep.nonmonotonic_send, rep.nonmonotonic_poll, rep.divergent);
	ck_assert_msg(rep.acked >= min_acked, "only %" PRId64 " records acknowledged, expected %"
	              PRId64 " at least", rep.acked, min_acked);
	ck_assert_int_gt(rep.polled, 0);
	history_free(h);
}

static workload_t *start_workload(const char *topic, int partitions, int producers)
{
	workload_options_t o = { topic, partitions, producers, 1, 5, 5000, 0 };
	workload_t *w = NULL;

	ck_assert_int_eq(workload_start(cl, &o, &w), 0);
	wl = w;
	return w;
}

static void wait_acked(workload_t *w, int64_t n, const char *when)
{
	workload_stats_t s;

	if (workload_wait_acked(w, n, PROGRESS_MS) == 0)
		return;
	workload_stats(w, &s);
	ck_abort_msg("%s: not %" PRId64 " more records acknowledged in %d ms (acked %" PRId64
	             ", failed %" PRId64 ", unknown %" PRId64 ", 421s %" PRId64 ", 503s %" PRId64
	             ")\nbroker 1 log:\n%s", when, n, PROGRESS_MS, s.acked, s.failed, s.unknown,
	             s.status_421, s.status_503, tcluster_log_tail(cl, 1));
}

#define FAILOVER_MS 20000      /* a new leader, a broker back in the ISR */

/* A leader, and every replica in the ISR. */
static int pred_full(const tcluster_partition_t *p, void *arg)
{
	(void)arg;
	return p->leader >= 1 && p->nreplicas > 0 && p->nisr == p->nreplicas;
}

/* Wait for pred on topic/p as broker via (0: any live one) sees it. */
static tcluster_partition_t wait_part(const char *topic, int32_t p, int via,
                                      tcluster_partition_pred pred, int arg, const char *what)
{
	tcluster_partition_t st;
	int rc = tcluster_wait_partition(cl, via, topic, p, pred, &arg, FAILOVER_MS, &st, errbuf,
	                                 sizeof errbuf);

	ck_assert_msg(rc == 0, "%s (%d): %s", what, arg, errbuf);
	return st;
}

/* ---- smoke: the harness, the workload and the checker end to end --------- */

START_TEST(test_smoke_one_broker)
{
	tcluster_options_t o = { .brokers = 1 };
	workload_t *w;

	start_cluster(&o);
	create_topic("smoke", 2, 1, NULL);
	w = start_workload("smoke", 2, 2);
	wait_acked(w, 1000, "smoke");
	finish_and_check(w, "smoke", 2, 1000);
}
END_TEST

/* Three brokers, replication factor 1: each partition lives on one broker
 * (spread by the placement), producers find its leader through 421s or
 * forwarding, and each log holds exactly what was acknowledged there. */
START_TEST(test_smoke_three_brokers_rf1)
{
	tcluster_options_t o = { .brokers = 3 };
	workload_t *w;
	int p;

	start_cluster(&o);
	create_topic("spread", 3, 1, NULL);
	for (p = 0; p < 3; p++)
		wait_part("spread", p, 0, pred_full, 0, "a leader for every partition");
	w = start_workload("spread", 3, 3);
	wait_acked(w, 1000, "spread");
	finish_and_check(w, "spread", 3, 1000);
}
END_TEST

/* kill -9 of the only broker while producers run: every acknowledged
 * record is there after the restart (acks=all, replication factor 1). */
START_TEST(test_kill_and_restart_one_broker)
{
	tcluster_options_t o = { .brokers = 1 };
	workload_t *w;
	int rc;

	start_cluster(&o);
	create_topic("crash1", 1, 1, NULL);
	w = start_workload("crash1", 1, 3);
	wait_acked(w, 300, "before the kill");
	ck_assert_int_eq(tcluster_kill(cl, 1), 0);
	rc = tcluster_restart(cl, 1, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "restart: %s", errbuf);
	wait_acked(w, 300, "after the restart");
	finish_and_check(w, "crash1", 1, 600);
}
END_TEST

/* ---- the harness's own faults ------------------------------------------- */

/* GET url (a relay's), status or 0, within timeout_ms */
static long get_status(const char *url, int timeout_ms)
{
	CURL *h = curl_easy_init();
	long status = 0;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return status;
}

/* strand_cluster_lease_valid from broker id's /metrics; -1 unreadable */
static int lease_valid(int id)
{
	char *text = NULL;
	int v = -1;
	CURL *h = curl_easy_init();
	char url[128];
	FILE *f;
	size_t len = 0;

	snprintf(url, sizeof url, "%s/metrics", tcluster_url(cl, id));
	f = open_memstream(&text, &len);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	if (curl_easy_perform(h) == CURLE_OK) {
		fclose(f);
		f = NULL;
		if (strstr(text, "\nstrand_cluster_lease_valid 1\n"))
			v = 1;
		else if (strstr(text, "\nstrand_cluster_lease_valid 0\n"))
			v = 0;
	}
	if (f != NULL)
		fclose(f);
	free(text);
	curl_easy_cleanup(h);
	return v;
}

static int wait_lease(int id, int want, int deadline_ms)
{
	int64_t end = clock_now_ms() + deadline_ms;

	while (lease_valid(id) != want)
		if (clock_now_ms() >= end)
			return 0;
		else
			clock_sleep_ms(20);
	return 1;
}

/* The relays carry what crosses them, and cut it when told: a broker cut
 * from etcd loses its lease on its own clock and gets it back when the
 * relay passes again; its advertised URL refuses (RESET) or hangs
 * (BLACKHOLE) and answers again after. */
START_TEST(test_relays_cut_and_heal)
{
	tcluster_options_t o = { .brokers = 1, .relays = 1 };
	uint32_t alive;
	int32_t ctl;
	char url[160];
	int64_t t0;
	cJSON *doc = NULL, *b;

	start_cluster(&o);
	/* broker 1 advertises its relay, which leads to it */
	ck_assert_int_eq(tcluster_http(cl, 1, "GET", "/v1/cluster", NULL, NULL, 2000, &doc), 200);
	b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "brokers"), 0);
	ck_assert_ptr_nonnull(b);
	snprintf(url, sizeof url, "%s/healthz",
	         cJSON_GetObjectItemCaseSensitive(b, "url")->valuestring);
	cJSON_Delete(doc);
	ck_assert(tcluster_advertises(cl, 1, url));
	ck_assert_int_eq(get_status(url, 2000), 200);

	ck_assert_int_eq(tcluster_net_inbound(cl, 1, TCLUSTER_NET_RESET), 0);
	ck_assert_int_eq(get_status(url, 2000), 0);
	ck_assert_int_eq(tcluster_net_inbound(cl, 1, TCLUSTER_NET_BLACKHOLE), 0);
	t0 = clock_now_ms();
	ck_assert_int_eq(get_status(url, 300), 0);
	ck_assert_int_ge(clock_now_ms() - t0, 290);     /* it hung until the client gave up */
	ck_assert_int_eq(tcluster_net_inbound(cl, 1, TCLUSTER_NET_PASS), 0);
	ck_assert_int_eq(get_status(url, 2000), 200);

	ck_assert(wait_lease(1, 1, 5000));
	ck_assert_int_eq(tcluster_net_etcd(cl, 1, TCLUSTER_NET_BLACKHOLE), 0);
	ck_assert_msg(wait_lease(1, 0, 5000), "lease still valid 5 s after etcd was cut off");
	ck_assert_int_eq(tcluster_net_etcd(cl, 1, TCLUSTER_NET_PASS), 0);
	ck_assert_msg(wait_lease(1, 1, 10000), "no lease 10 s after etcd came back");
	ck_assert_int_eq(tcluster_wait_members(cl, 1, 1u << 1, 10000, &ctl, errbuf, sizeof errbuf), 0);
	ck_assert_int_eq(tcluster_members(cl, 1, &alive, &ctl), 0);
	ck_assert_int_eq(ctl, 1);
}
END_TEST

/* One case per scenario (CK_RUN_CASE=<name> runs one), stopped by the
 * teardown if it fails. */
static void add_scenario(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, NULL, cluster_teardown);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("smoke");

	tcase_add_checked_fixture(tc, NULL, cluster_teardown);
	tcase_add_test(tc, test_smoke_one_broker);
	tcase_add_test(tc, test_kill_and_restart_one_broker);
	tcase_add_test(tc, test_relays_cut_and_heal);
	suite_add_tcase(s, tc);

	add_scenario(s, "smoke3", test_smoke_three_brokers_rf1);
	return s;
}

int main(void)
{
	const char *bin = getenv("STRAND_BIN");
	SRunner *sr;
	int failed;

	if (!etcd_local_available()) {
		fprintf(stderr, "etcd not installed (scripts/deps.sh): skipping\n");
		return 77;
	}
	if (access(bin != NULL && *bin ? bin : "./strand", X_OK) != 0) {
		fprintf(stderr, "no strand binary (set STRAND_BIN): skipping\n");
		return 77;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(faults_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
