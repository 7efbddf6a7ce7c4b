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
#include <sys/stat.h>
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
static history_t *uh;           /* the unclean scenario's history */
static char errbuf[8192];

static void cluster_teardown(void)
{
	workload_stop(wl, NULL, 0);
	wl = NULL;
	history_free(uh);
	uh = NULL;
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
 * watermark; fills ids with the replicas. Each replica's numbers are its
 * own (Strand-Route: direct): a plain describe through a follower answers
 * with the leader's entry, so it compared the leader with itself and let
 * a follower that had not caught up be read below the high watermark.
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
			    tcluster_partition_own(cl, ids[i], topic, p, &r) != 0 ||
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
static void finish_and_check_into(history_t *h, workload_t *w, const char *topic, int partitions,
                                  int64_t min_acked)
{
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
	if (rc != 0) {
		/* what each broker said of the partitions: their leaderships,
		 * ISR changes and truncations tell how the history went wrong */
		for (p = 0; p < partitions; p++)
			for (i = 1; i <= tcluster_brokers(cl); i++) {
				char needle[200];

				snprintf(needle, sizeof needle, " %s/%d", topic, p);
				tcluster_log_print(cl, i, needle, 16);
			}
		fprintf(stderr, "%s: the first anomalies:\n%s", topic, rep.text);
	}
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

/* finish_and_check_into a history that holds only the workload's sends */
static void finish_and_check(workload_t *w, const char *topic, int partitions, int64_t min_acked)
{
	finish_and_check_into(history_new(), w, topic, partitions, min_acked);
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

/* Wait for pred(arg) on topic/p as broker via (0: any live one) sees it. */
static tcluster_partition_t wait_part_arg(const char *topic, int32_t p, int via,
                                          tcluster_partition_pred pred, void *arg,
                                          const char *what)
{
	tcluster_partition_t st;
	int rc = tcluster_wait_partition(cl, via, topic, p, pred, arg, FAILOVER_MS, &st, errbuf,
	                                 sizeof errbuf);

	ck_assert_msg(rc == 0, "%s: %s", what, errbuf);
	return st;
}

/* Wait for pred(&arg) on topic/p as broker via (0: any live one) sees it. */
static tcluster_partition_t wait_part(const char *topic, int32_t p, int via,
                                      tcluster_partition_pred pred, int arg, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof msg, "%s (%d)", what, arg);
	return wait_part_arg(topic, p, via, pred, &arg, msg);
}

/* Wait until broker id is back in topic/p's ISR in a state etcd wrote after
 * id's current registration (tcluster_wait_rejoined: a state from before
 * its restart or lost lease, still in etcd or in a broker's cache, does
 * not count). */
static void wait_rejoined(const char *topic, int32_t p, int id, const char *what)
{
	int rc = tcluster_wait_rejoined(cl, topic, p, id, FAILOVER_MS, errbuf, sizeof errbuf);

	ck_assert_msg(rc == 0, "%s (broker %d): %s", what, id, errbuf);
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

/* ---- replication: RF 3, min ISR 2, producers running throughout --------- */

/* replica_lag_time_max_ms 2 s: a paused follower leaves the ISR quickly */
#define RF3_CONFIGS "{\"min_insync_replicas\":\"2\",\"replica_lag_time_max_ms\":\"2000\"}"
#define RF3_SLOW_CONFIGS "{\"min_insync_replicas\":\"2\",\"replica_lag_time_max_ms\":\"30000\"}"
#define STEP_ACKS   200        /* acknowledgements that show progress */
/* a lag limit no scenario waits out: only the controller drops a dead follower */
#define SLOW_LAG_MS 60000
#define SLOW_LAG_CONFIGS "{\"min_insync_replicas\":\"2\",\"replica_lag_time_max_ms\":\"60000\"}"

static int pred_leader_not(const tcluster_partition_t *p, void *arg)
{
	return p->leader >= 1 && p->leader != *(const int *)arg;
}

static int pred_in_isr(const tcluster_partition_t *p, void *arg)
{
	return p->leader >= 1 && tcluster_in_isr(p, *(const int *)arg);
}

static int pred_out_of_isr(const tcluster_partition_t *p, void *arg)
{
	return p->leader >= 1 && !tcluster_in_isr(p, *(const int *)arg);
}

static int pred_isr_size(const tcluster_partition_t *p, void *arg)
{
	return p->leader >= 1 && p->nisr == *(const int *)arg;
}

/* A broker, and the leader epoch of the state from before its fault. */
typedef struct since_epoch {
	int id;
	int epoch;
} since_epoch_t;

/*
 * id in the ISR of a state with a leader epoch above the one before the
 * fault. Plain "in the ISR" holds at once on a view that still has the
 * state from before: the old leader's own cache right after its resume or
 * after its cut heals, another broker's cache that has not caught up, or
 * etcd itself before the controller has reacted to a restart within the
 * lease. The failover that took id out wrote a new epoch; id in the ISR of
 * that epoch or a later one came back.
 */
static int pred_in_isr_since(const tcluster_partition_t *p, void *arg)
{
	const since_epoch_t *s = arg;

	return p->leader >= 1 && p->leader_epoch > s->epoch && tcluster_in_isr(p, s->id);
}

/* Three brokers, topic with `partitions` partitions, RF 3, every ISR full,
 * the workload running and acknowledging. *leader: partition 0's leader;
 * *epoch (may be NULL): its leader epoch then. */
static workload_t *rf3_start(const char *topic, int partitions, int relays, const char *configs,
                             int *leader, int *epoch)
{
	tcluster_options_t o = { .brokers = 3, .relays = relays };
	tcluster_partition_t st;
	workload_t *w;
	int p;

	start_cluster(&o);
	create_topic(topic, partitions, 3, configs);
	for (p = 0; p < partitions; p++)
		st = wait_part(topic, p, 0, pred_full, 0, "every replica in sync at start");
	st = wait_part(topic, 0, 0, pred_full, 0, "partition 0's leader");
	*leader = st.leader;
	if (epoch != NULL)
		*epoch = st.leader_epoch;
	w = start_workload(topic, partitions, 3);
	wait_acked(w, STEP_ACKS, "at start");
	return w;
}

/* A follower of partition 0 (not its leader), the n-th of two. */
static int follower_of(int leader, int n)
{
	int id, seen = 0;

	for (id = 1; id <= 3; id++)
		if (id != leader && seen++ == n)
			return id;
	return -1;
}

static void restart(int id)
{
	int rc = tcluster_restart(cl, id, errbuf, sizeof errbuf);

	ck_assert_msg(rc == 0, "restart broker %d: %s", id, errbuf);
}

/* A produce of value straight to broker id, partition 0: the status, the
 * code of a problem, the offset of a 200 (else -1). */
static long produce_direct_value(int id, const char *topic, int64_t value, char *code,
                                 size_t codelen, int64_t *offset)
{
	static const char *const direct[] = { "Strand-Route: direct", NULL };
	char path[256], body[96];
	cJSON *doc = NULL, *o;
	long status;

	snprintf(path, sizeof path, "/v1/topics/%s/partitions/0/records?acks=all&timeout_ms=2000",
	         topic);
	snprintf(body, sizeof body, "{\"records\":[{\"value\":%" PRId64 "}]}", value);
	status = tcluster_http(cl, id, "POST", path, body, direct, 10000, &doc);
	snprintf(code, codelen, "%s",
	         cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "code"))
	         ? cJSON_GetObjectItemCaseSensitive(doc, "code")->valuestring : "");
	o = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
	        cJSON_GetObjectItemCaseSensitive(doc, "offsets"), 0), "offset");
	*offset = status == 200 && cJSON_IsNumber(o) ? (int64_t)o->valuedouble : -1;
	cJSON_Delete(doc);
	return status;
}

/* A produce straight to broker id, partition 0 (value -7): the status and code. */
static long produce_direct(int id, const char *topic, char *code, size_t codelen)
{
	int64_t offset;

	return produce_direct_value(id, topic, -7, code, codelen, &offset);
}

/*
 * kill -9 of the leader and a restart at once, while its old lease still
 * holds its registration in etcd: the new process listens, then waits in
 * its join for that registration to expire. Meanwhile it must take no
 * write — not as a single node either: the random run lost hundreds of
 * acknowledged records so (it acknowledged them at once in epoch 0, the
 * leader elected meanwhile never had them, and it truncated them when it
 * followed). Every produce sent straight to it before it is ready is
 * refused, and the history checks clean.
 */
START_TEST(test_leader_restarted_at_once_takes_no_write_before_it_joins)
{
	int leader, answered = 0;
	since_epoch_t back;
	workload_t *w = rf3_start("rejoin", 1, 0, RF3_CONFIGS, &leader, &back.epoch);
	history_t *h = history_new();
	int64_t end, offset, value = 900000000;   /* below every workload value (workload.c) */
	char code[64];
	long status;
	int rc;

	ck_assert_ptr_nonnull(h);

	ck_assert_int_eq(tcluster_kill(cl, leader), 0);
	rc = tcluster_spawn(cl, leader, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "restart: %s", errbuf);
	end = clock_now_ms() + FAILOVER_MS;
	while (tcluster_http(cl, leader, "GET", "/readyz", NULL, NULL, 1000, NULL) != 200) {
		ck_assert_msg(clock_now_ms() < end, "broker %d not ready again", leader);
		/* each send its own positive value (the replica reader takes only
		 * those), in the history as a producer of its own (proc 1000): a
		 * 200 taken once joined is a committed record */
		status = produce_direct_value(leader, "rejoin", ++value, code, sizeof code, &offset);
		ck_assert_int_eq(history_send(h, 1000, 0, value, status == 200 ? HISTORY_ACKED :
		                              status >= 400 && status < 500 ? HISTORY_FAILED :
		                              HISTORY_UNKNOWN, offset), 0);
		if (status != 0)
			answered++;
		/* a 200 is right only if the broker had joined by then (the
		 * /readyz above may have timed out, or it joined in between):
		 * ready means its metadata came from etcd, which a broker still
		 * waiting in its join does not have */
		if (status == 200) {
			ck_assert_msg(tcluster_http(cl, leader, "GET", "/readyz", NULL, NULL, 10000,
			                            NULL) == 200,
			              "broker %d acknowledged a write while it was joining the cluster "
			              "again (%d answered before)", leader, answered);
			break;
		}
	}
	fprintf(stderr, "rejoin: %d produces sent to broker %d while it joined, none accepted\n",
	        answered, leader);
	ck_assert_msg(answered > 0, "broker %d was ready before it answered a produce: the test "
	              "missed its join", leader);
	rc = tcluster_wait_ready(cl, leader, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "%s", errbuf);
	/* restarted within its lease: etcd may still hold the state from before
	 * the kill (leader, ISR whole) until the controller reacts */
	back.id = leader;
	wait_part_arg("rejoin", 0, 0, pred_in_isr_since, &back, "the old leader back in the ISR");
	wait_acked(w, STEP_ACKS, "after it rejoined");
	finish_and_check_into(h, w, "rejoin", 1, 2 * STEP_ACKS);
}
END_TEST

/* A leader with a leader epoch above arg. */
static int pred_epoch_above(const tcluster_partition_t *p, void *arg)
{
	return p->leader >= 1 && p->leader_epoch > *(const int *)arg;
}

/*
 * kill -9 of the broker that is both the controller and a partition's
 * leader, restarted at once: its old lease expires, and the controller
 * elected meanwhile either sees it gone (another leader, epoch + 1) or,
 * when its first scan comes after the restarted broker registered again,
 * sees the same leader with a registration newer than the partition's
 * state — a new incarnation: same leader, epoch + 1, so the followers
 * truncate against its log again (KIP-101). Either way the epoch grows and
 * no acknowledged record is lost.
 */
START_TEST(test_controller_leader_restarted_at_once_gets_a_new_epoch)
{
	tcluster_options_t o = { .brokers = 3 };
	tcluster_partition_t st, before;
	int32_t ctl = -1;
	uint32_t alive;
	workload_t *w;
	int p, mine = -1, epoch, rc, led_before;
	char led_old[128];

	start_cluster(&o);
	create_topic("reinc", 3, 3, RF3_CONFIGS);
	ck_assert_int_eq(tcluster_members(cl, 1, &alive, &ctl), 0);
	ck_assert_int_ge(ctl, 1);
	for (p = 0; p < 3 && mine < 0; p++) {
		/* as the controller sees it (its watch may have the topic a moment
		 * after broker 1, which created it) */
		before = wait_part("reinc", p, ctl, pred_full, 0, "every replica in sync at start");
		if (before.leader == ctl)
			mine = p;   /* placement gives each of the 3 brokers one partition to lead */
	}
	ck_assert_msg(mine >= 0, "the controller %d leads no partition of reinc", ctl);
	epoch = before.leader_epoch;
	w = start_workload("reinc", 3, 3);
	wait_acked(w, STEP_ACKS, "at start");

	/* its log says each time it takes up leadership in the old epoch */
	snprintf(led_old, sizeof led_old, "replica: reinc/%d: leader, leader %d epoch %d ", mine,
	         (int)ctl, epoch);
	led_before = tcluster_log_count(cl, ctl, led_old);
	ck_assert_int_ge(led_before, 1);
	ck_assert_int_eq(tcluster_kill(cl, ctl), 0);
	rc = tcluster_spawn(cl, ctl, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "restart: %s", errbuf);
	rc = tcluster_wait_ready(cl, ctl, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "%s", errbuf);
	st = wait_part("reinc", mine, 0, pred_epoch_above, epoch, "a new leader epoch");
	fprintf(stderr, "reinc: controller and leader %d of reinc/%d killed and restarted at once: "
	        "leader %d epoch %d (was %d): %s\n", (int)ctl, mine, (int)st.leader,
	        (int)st.leader_epoch, epoch, st.leader == ctl ? "the same leader, a new incarnation"
	        : "another leader");
	/* restarted at once: where it only followed, nothing shows the drop
	 * that comes first (same epoch), so in the ISR alone may be the state
	 * from before the kill; a state newer than its new registration is not */
	for (p = 0; p < 3; p++)
		wait_rejoined("reinc", p, ctl, "the restarted broker back in the ISR");
	/* the restarted process never led in its previous incarnation's epoch
	 * (KIP-380, meta_state_for_self), whatever state it found in etcd */
	ck_assert_msg(tcluster_log_count(cl, ctl, led_old) == led_before, "broker %d led reinc/%d "
	              "in epoch %d again after its restart", (int)ctl, mine, epoch);
	wait_acked(w, STEP_ACKS, "after the restart");
	finish_and_check(w, "reinc", 3, 2 * STEP_ACKS);
}
END_TEST

/* kill -9 of the leader: a new leader from the ISR takes writes; the old
 * one comes back, catches up and rejoins the ISR. */
START_TEST(test_leader_killed_and_restarted)
{
	int leader;
	since_epoch_t back;
	workload_t *w = rf3_start("kill", 1, 0, RF3_CONFIGS, &leader, &back.epoch);
	int64_t took;

	workload_mark(w);
	ck_assert_int_eq(tcluster_kill(cl, leader), 0);
	wait_part("kill", 0, 0, pred_leader_not, leader, "a new leader after kill -9");
	took = workload_wait_mark_acked(w, PROGRESS_MS);
	ck_assert_msg(took >= 0, "no acks=all write accepted %d ms after the leader died",
	              PROGRESS_MS);
	fprintf(stderr, "kill: leader %d killed; first acks=all write accepted %" PRId64
	        " ms later\n", leader, took);
	wait_acked(w, STEP_ACKS, "after the failover");
	restart(leader);
	/* a broker whose cache still has the state from before the kill says so
	 * at once */
	back.id = leader;
	wait_part_arg("kill", 0, 0, pred_in_isr_since, &back, "the old leader back in the ISR");
	wait_acked(w, STEP_ACKS, "after the restart");
	finish_and_check(w, "kill", 1, 3 * STEP_ACKS);
}
END_TEST

/* The leader stopped (SIGSTOP) past its lease: another leader is elected;
 * once resumed, the old one must not acknowledge anything as leader (its
 * writes are fenced by the epoch) and rejoins as a follower. */
START_TEST(test_leader_paused_past_its_lease)
{
	int leader;
	since_epoch_t back;
	workload_t *w = rf3_start("pause", 1, 0, RF3_CONFIGS, &leader, &back.epoch);
	char code[64];
	long status;

	ck_assert_int_eq(tcluster_pause(cl, leader), 0);
	wait_part("pause", 0, 0, pred_leader_not, leader, "a new leader while the old one sleeps");
	wait_acked(w, STEP_ACKS, "with the old leader paused");
	ck_assert_int_eq(tcluster_resume(cl, leader), 0);
	/* at once, before it can have heard of the new leader: refused */
	status = produce_direct(leader, "pause", code, sizeof code);
	ck_assert_msg(status != 200, "the deposed leader acknowledged a write");
	/* the resumed leader's own cache still says it leads with the whole
	 * ISR until its watch catches up: not "back" */
	back.id = leader;
	wait_part_arg("pause", 0, 0, pred_in_isr_since, &back, "the paused leader back in the ISR");
	wait_acked(w, STEP_ACKS, "after the resume");
	finish_and_check(w, "pause", 1, 3 * STEP_ACKS);
}
END_TEST

/* A follower stopped past replica_lag_time_max_ms leaves the ISR (writes
 * go on: 2 in sync >= min ISR 2) and comes back into it once resumed. */
START_TEST(test_follower_paused_leaves_and_rejoins_the_isr)
{
	int leader, f;
	workload_t *w = rf3_start("lag", 1, 0, RF3_CONFIGS, &leader, NULL);

	f = follower_of(leader, 0);
	ck_assert_int_eq(tcluster_pause(cl, f), 0);
	wait_part("lag", 0, leader, pred_out_of_isr, f, "the paused follower out of the ISR");
	wait_acked(w, STEP_ACKS, "with a follower out of the ISR");
	ck_assert_int_eq(tcluster_resume(cl, f), 0);
	wait_part("lag", 0, leader, pred_in_isr, f, "the follower back in the ISR");
	wait_acked(w, STEP_ACKS, "after the follower came back");
	finish_and_check(w, "lag", 1, 3 * STEP_ACKS);
}
END_TEST

/*
 * kill -9 of a follower with replica_lag_time_max_ms at 60 s: the
 * controller drops it from the ISR when its lease expires (2 s), so
 * acks=all goes on with the two left (min ISR 2) instead of waiting for the
 * leader's lag limit; restarted, it catches up and its leader takes it
 * back into the ISR by itself.
 */
START_TEST(test_follower_killed_leaves_the_isr_by_the_controller)
{
	int leader, f;
	workload_t *w = rf3_start("fdead", 1, 0, SLOW_LAG_CONFIGS, &leader, NULL);
	int64_t killed, gone, took;

	f = follower_of(leader, 0);
	killed = clock_now_ms();
	ck_assert_int_eq(tcluster_kill(cl, f), 0);
	workload_mark(w);   /* reaped: no send after this can reach it */
	wait_part("fdead", 0, leader, pred_out_of_isr, f, "the dead follower out of the ISR");
	gone = clock_now_ms() - killed;
	took = workload_wait_mark_acked(w, PROGRESS_MS);
	fprintf(stderr, "fdead: follower %d killed; out of the ISR %" PRId64 " ms later, first "
	        "acks=all write accepted after %" PRId64 " ms (lag limit 60000 ms)\n", f, gone, took);
	ck_assert_msg(took >= 0 && took < SLOW_LAG_MS / 2, "no acks=all write accepted within %d ms "
	              "of the kill (%" PRId64 ")", SLOW_LAG_MS / 2, took);
	ck_assert_msg(gone < SLOW_LAG_MS / 2, "out of the ISR only after %" PRId64 " ms", gone);
	wait_acked(w, STEP_ACKS, "with the dead follower out of the ISR");
	restart(f);
	wait_part("fdead", 0, leader, pred_in_isr, f, "the restarted follower back in the ISR");
	wait_acked(w, STEP_ACKS, "after the follower came back");
	finish_and_check(w, "fdead", 1, 3 * STEP_ACKS);
}
END_TEST

/* ---- KIP-966's unclean shutdown --------------------------------------------- */

#define UNCLEAN_RECORDS 40

typedef struct lead_watch {
	int id;           /* the broker that must not lead */
	int led;          /* set when it was seen leading */
} lead_watch_t;

/* Offline (no leader), id out of the ISR; notes any state where id leads. */
static int pred_offline_without(const tcluster_partition_t *p, void *arg)
{
	lead_watch_t *lw = arg;

	if (p->leader == lw->id)
		lw->led = 1;
	return p->leader == -1 && !tcluster_in_isr(p, lw->id);
}

static int pred_leader_is(const tcluster_partition_t *p, void *arg)
{
	return p->leader == *(const int *)arg;
}

/* id leads in an epoch above s->epoch */
static int pred_leader_since(const tcluster_partition_t *p, void *arg)
{
	const since_epoch_t *s = arg;

	return p->leader == s->id && p->leader_epoch > s->epoch;
}

static int marker_exists(int id)
{
	char path[1024];

	snprintf(path, sizeof path, "%s/meta/.strand_cleanshutdown", tcluster_data_dir(cl, id));
	return access(path, F_OK) == 0;
}

/* The recovery point of broker id's unclean/0 (its flushed prefix). */
static int64_t recovery_point(int id)
{
	char path[1024];
	long long v0 = -1, rp = -1;
	FILE *f;

	snprintf(path, sizeof path, "%s/unclean-0/recovery-point-offset-checkpoint",
	         tcluster_data_dir(cl, id));
	f = fopen(path, "r");
	if (f == NULL)
		return 0;   /* none written: nothing flushed */
	if (fscanf(f, "%lld %lld", &v0, &rp) != 2)
		rp = -1;
	fclose(f);
	return rp;
}

/*
 * A machine crash loses the unflushed tail of a broker's logs (the page
 * cache), and with acks=all committed on the ISR's copies that tail holds
 * committed records. A broker back from it while still in an ISR must not
 * be elected before it caught up (KIP-966). Three brokers, RF 3, min ISR
 * 2 (so a dead member of a two-member ISR stays in it), lag limit 60 s:
 *   - G stopped cleanly: ISR [X, Y]; 40 acks=all records through X;
 *   - the clean case: Y stopped with SIGTERM (its marker written, it stays
 *     in the ISR), X paused (SIGSTOP), Y started: Y leads once X's lease
 *     runs out, holding every record; X resumed, it follows and rejoins;
 *   - the crash: X (now a follower in the ISR [Y, X]) killed -9, the tail of
 *     its segment cut as a lost page cache would, Y paused, X started: X
 *     registers unclean and leaves the ISR, so when Y's lease runs out
 *     nobody leads (X must not: it lacks acknowledged records);
 *   - Y resumed leads again, X catches up, G returns; every acknowledged
 *     record is on every replica (the history checker).
 * Without the controller's rule X is elected with its cut log and the
 * records past the cut are lost on every replica.
 */
START_TEST(test_unclean_shutdown_is_not_elected)
{
	tcluster_options_t o = { .brokers = 3 };
	tcluster_partition_t st;
	since_epoch_t back;
	lead_watch_t lw;
	history_t *h = history_new();
	int32_t ids[TCLUSTER_MAX_BROKERS];
	int x, y, g, i, n, rc, acked;
	int64_t offset, hw, rp, end, last_acked = -1;
	history_report_t rep;
	char code[64], seg[1024];
	struct stat sb;
	long status;

	ck_assert_ptr_nonnull(h);
	uh = h;   /* freed by the teardown if the test fails */
	start_cluster(&o);
	create_topic("unclean", 1, 3, SLOW_LAG_CONFIGS);
	st = wait_part("unclean", 0, 0, pred_full, 0, "every replica in sync at start");
	x = st.leader;
	y = follower_of(x, 0);
	g = follower_of(x, 1);
	ck_assert_int_eq(tcluster_shutdown(cl, g), 0);
	ck_assert_msg(marker_exists(g), "no clean-shutdown marker after SIGTERM");
	wait_part("unclean", 0, x, pred_isr_size, 2, "the stopped broker out of the ISR");
	/* a 503 (a follower slow to fetch on a loaded machine) is an unknown
	 * outcome, sent again with a new value */
	end = clock_now_ms() + PROGRESS_MS;
	for (i = 0, acked = 0; acked < UNCLEAN_RECORDS; i++) {
		status = produce_direct_value(x, "unclean", 1000 + i, code, sizeof code, &offset);
		ck_assert_msg(status == 200 || (status == 503 && clock_now_ms() < end),
		              "acks=all record %d: %ld %s", i, status, code);
		ck_assert_int_eq(history_send(h, 0, 0, 1000 + i, status == 200 ? HISTORY_ACKED
		                              : HISTORY_UNKNOWN, offset), 0);
		if (status == 200) {
			acked++;
			last_acked = offset;
		}
	}

	/* the clean case: Y stopped cleanly stays in the ISR and may lead */
	ck_assert_int_eq(tcluster_shutdown(cl, y), 0);
	ck_assert_msg(marker_exists(y), "no clean-shutdown marker after SIGTERM");
	ck_assert_int_eq(tcluster_pause(cl, x), 0);
	restart(y);
	ck_assert_msg(!marker_exists(y), "the marker is still there after the open");
	wait_part("unclean", 0, y, pred_leader_is, y, "the cleanly stopped broker elected");
	ck_assert_int_eq(tcluster_resume(cl, x), 0);
	wait_part("unclean", 0, y, pred_in_isr, x, "the old leader back in the ISR");

	/* the crash: X, a follower in the ISR [Y, X], loses its log's tail */
	ck_assert_int_eq(tcluster_kill(cl, x), 0);
	ck_assert_msg(!marker_exists(x), "a marker in a running broker's directory");
	snprintf(seg, sizeof seg, "%s/unclean-0/00000000000000000000.log", tcluster_data_dir(cl, x));
	ck_assert_int_eq(stat(seg, &sb), 0);
	ck_assert_int_eq(truncate(seg, sb.st_size / 2), 0);   /* recovery cuts the torn batch */
	ck_assert_int_eq(tcluster_pause(cl, y), 0);
	restart(x);
	/* x's own log end (a plain describe would ask the leader x knows of) */
	ck_assert_int_eq(tcluster_partition_own(cl, x, "unclean", 0, &st), 0);
	rp = recovery_point(x);
	ck_assert_msg(st.log_end_offset >= 0 && st.log_end_offset <= last_acked,
	              "the cut log should lack acknowledged records: leo %" PRId64 ", last "
	              "acknowledged offset %" PRId64, st.log_end_offset, last_acked);
	ck_assert_msg(rp <= st.log_end_offset, "the cut went below the flushed prefix (%" PRId64
	              "): not a lost page cache", rp);
	lw.id = x;
	lw.led = 0;
	rc = tcluster_wait_partition(cl, x, "unclean", 0, pred_offline_without, &lw, FAILOVER_MS,
	                             &st, errbuf, sizeof errbuf);
	ck_assert_msg(!lw.led, "broker %d led with its log cut to %" PRId64 " (acknowledged up to "
	              "%" PRId64 ")", x, st.log_end_offset, last_acked);
	ck_assert_msg(rc == 0, "the partition offline without the unclean broker: %s", errbuf);
	fprintf(stderr, "unclean: broker %d back from a crash with leo %" PRId64 " (acknowledged up "
	        "to %" PRId64 "): out of the ISR, the partition offline until broker %d returns\n",
	        x, st.log_end_offset, last_acked, y);

	ck_assert_int_eq(tcluster_resume(cl, y), 0);
	/* y's own cache, paused while it led, still says it leads: elected
	 * again means in an epoch above the offline state's */
	back.id = y;
	back.epoch = st.leader_epoch;
	wait_part_arg("unclean", 0, 0, pred_leader_since, &back,
	              "the caught-up broker leading again");
	restart(g);
	hw = wait_settled("unclean", 0, ids, &n);
	ck_assert_int_ge(hw, UNCLEAN_RECORDS);
	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(tcluster_shutdown(cl, i), 0);
	for (i = 0; i < n; i++) {
		rc = workload_read_replica(cl, ids[i], "unclean", 0, hw, h, errbuf, sizeof errbuf);
		ck_assert_msg(rc == 0, "read broker %d: %s", ids[i], errbuf);
	}
	rc = (int)history_check(h, &rep);
	ck_assert_msg(rc == 0, "%d anomalies (lost %" PRId64 "):\n%s", rc, rep.lost, rep.text);
	ck_assert_int_eq(rep.acked, UNCLEAN_RECORDS);
	uh = NULL;
	history_free(h);
}
END_TEST

/* Two of three down: the ISR shrinks to the leader alone, and acks=all is
 * refused with 503 NOT_ENOUGH_REPLICAS; nothing refused may appear later. */
START_TEST(test_two_of_three_down_refuses_writes)
{
	int leader, f1, f2, i;
	workload_t *w = rf3_start("two", 1, 0, RF3_CONFIGS, &leader, NULL);
	char code[64];
	long status;

	f1 = follower_of(leader, 0);
	f2 = follower_of(leader, 1);
	ck_assert_int_eq(tcluster_kill(cl, f1), 0);
	ck_assert_int_eq(tcluster_kill(cl, f2), 0);
	wait_part("two", 0, leader, pred_isr_size, 1, "the ISR down to the leader");
	for (i = 0; i < 3; i++) {
		status = produce_direct(leader, "two", code, sizeof code);
		ck_assert_msg(status == 503 && strcmp(code, "NOT_ENOUGH_REPLICAS") == 0,
		              "acks=all with one in-sync replica of min 2: %ld %s", status, code);
	}
	restart(f1);
	restart(f2);
	wait_part("two", 0, leader, pred_isr_size, 3, "both followers back in the ISR");
	wait_acked(w, STEP_ACKS, "after both came back");
	finish_and_check(w, "two", 1, 2 * STEP_ACKS);
}
END_TEST

static int pred_leo_above_hw(const tcluster_partition_t *p, void *arg)
{
	(void)arg;
	return p->log_end_offset > p->high_watermark;
}

/* A leader whose followers cannot reach it appends records it cannot
 * commit, and dies; a follower takes over and writes other records at
 * those offsets; the old leader comes back, truncates what was never
 * committed, and all logs are identical below the high watermark. */
START_TEST(test_leader_with_uncommitted_records_returns)
{
	int leader;
	since_epoch_t back;
	workload_t *w = rf3_start("trunc", 1, 1, RF3_SLOW_CONFIGS, &leader, &back.epoch);
	tcluster_partition_t st;

	ck_assert_int_eq(tcluster_net_inbound(cl, leader, TCLUSTER_NET_BLACKHOLE), 0);
	st = wait_part("trunc", 0, leader, pred_leo_above_hw, 0,
	               "records appended on the leader and not committed");
	ck_assert_int_eq(tcluster_kill(cl, leader), 0);
	ck_assert_int_eq(tcluster_net_inbound(cl, leader, TCLUSTER_NET_PASS), 0);
	fprintf(stderr, "trunc: leader %d died with log end %" PRId64 " above its high watermark %"
	        PRId64 "\n", leader, st.log_end_offset, st.high_watermark);
	wait_part("trunc", 0, 0, pred_leader_not, leader, "a new leader");
	wait_acked(w, STEP_ACKS, "under the new leader");
	restart(leader);
	/* not a cache that still holds the state from before the kill */
	back.id = leader;
	wait_part_arg("trunc", 0, 0, pred_in_isr_since, &back, "the old leader back in the ISR");
	wait_acked(w, STEP_ACKS, "after the old leader came back");
	finish_and_check(w, "trunc", 1, 3 * STEP_ACKS);
}
END_TEST

/* etcd killed: leaders stop taking writes once their lease may have
 * expired (503) but still serve reads below the high watermark; etcd
 * restarted on the same data: writes resume without restarting brokers. */
START_TEST(test_etcd_killed_and_restarted)
{
	int leader;
	workload_t *w = rf3_start("etcd", 1, 0, RF3_CONFIGS, &leader, NULL);
	char code[64];
	long status;
	cJSON *doc = NULL;
	int rc;

	ck_assert_int_eq(tcluster_etcd_kill(cl), 0);
	ck_assert_msg(wait_lease(leader, 0, 10000), "the leader's lease still valid without etcd");
	status = produce_direct(leader, "etcd", code, sizeof code);
	ck_assert_msg(status == 503, "a write without etcd: %ld %s", status, code);
	status = tcluster_http(cl, leader, "GET", "/v1/topics/etcd/partitions/0/records?offset=0"
	                       "&max_records=10", NULL, (const char *const[]){ "Strand-Route: direct",
	                       NULL }, 5000, &doc);
	ck_assert_msg(status == 200 && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc,
	              "records")) > 0, "a read below the high watermark without etcd: %ld", status);
	cJSON_Delete(doc);
	rc = tcluster_etcd_restart(cl, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "etcd restart: %s", errbuf);
	wait_acked(w, STEP_ACKS, "after etcd came back");
	finish_and_check(w, "etcd", 1, 2 * STEP_ACKS);
}
END_TEST

/* kill -9 of the controller: another broker is elected controller, and if
 * the dead one led partitions they move; it comes back as a plain broker. */
START_TEST(test_controller_killed)
{
	int leader, id;
	workload_t *w = rf3_start("ctl", 3, 0, RF3_CONFIGS, &leader, NULL);
	uint32_t alive;
	int32_t ctl, newctl;
	int p;

	ck_assert_int_eq(tcluster_members(cl, 1, &alive, &ctl), 0);
	ck_assert_int_ge(ctl, 1);
	ck_assert_int_eq(tcluster_kill(cl, ctl), 0);
	id = ctl == 1 ? 2 : 1;
	ck_assert_msg(tcluster_wait_members(cl, id, 0xeu & ~(1u << ctl), FAILOVER_MS, &newctl,
	                                    errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_int_ne(newctl, ctl);
	for (p = 0; p < 3; p++)
		wait_part("ctl", p, 0, pred_leader_not, ctl, "no partition led by the dead controller");
	wait_acked(w, STEP_ACKS, "after the controller died");
	restart(ctl);
	/* where it only followed, its drop kept the epoch: a cache (or etcd)
	 * that has not caught up shows the ISR from before the kill */
	for (p = 0; p < 3; p++)
		wait_rejoined("ctl", p, ctl, "the old controller back in every ISR");
	wait_acked(w, STEP_ACKS, "after the old controller came back");
	finish_and_check(w, "ctl", 3, 3 * STEP_ACKS);
}
END_TEST

/* The leader cut off from the other brokers and from etcd (its relays
 * hang): the others elect a new leader and go on; the old leader, still
 * running, must stop acknowledging; after the cut heals it rejoins. */
START_TEST(test_network_cut_isolates_the_leader)
{
	int leader;
	since_epoch_t back;
	workload_t *w = rf3_start("cut", 1, 1, RF3_CONFIGS, &leader, &back.epoch);
	char code[64];
	long status;

	ck_assert_int_eq(tcluster_net_inbound(cl, leader, TCLUSTER_NET_BLACKHOLE), 0);
	ck_assert_int_eq(tcluster_net_etcd(cl, leader, TCLUSTER_NET_BLACKHOLE), 0);
	wait_part("cut", 0, follower_of(leader, 0), pred_leader_not, leader,
	          "a new leader on the majority side");
	wait_acked(w, STEP_ACKS, "with the old leader cut off");
	status = produce_direct(leader, "cut", code, sizeof code);
	ck_assert_msg(status != 200, "the cut-off old leader acknowledged a write");
	ck_assert_int_eq(tcluster_net_inbound(cl, leader, TCLUSTER_NET_PASS), 0);
	ck_assert_int_eq(tcluster_net_etcd(cl, leader, TCLUSTER_NET_PASS), 0);
	/* the healed leader's own cache, cut from etcd, still says it leads
	 * with the whole ISR: not "back" */
	back.id = leader;
	wait_part_arg("cut", 0, 0, pred_in_isr_since, &back, "the old leader back in the ISR");
	wait_acked(w, STEP_ACKS, "after the cut healed");
	finish_and_check(w, "cut", 1, 3 * STEP_ACKS);
}
END_TEST

/* Only the followers' way to the leader cut: the ISR shrinks to the
 * leader, writes are refused, and once the way is back the ISR expands. */
START_TEST(test_network_cut_between_leader_and_followers)
{
	int leader;
	workload_t *w = rf3_start("split", 1, 1, RF3_CONFIGS, &leader, NULL);

	ck_assert_int_eq(tcluster_net_inbound(cl, leader, TCLUSTER_NET_RESET), 0);
	wait_part("split", 0, leader, pred_isr_size, 1, "the ISR down to the leader");
	ck_assert_int_eq(tcluster_net_inbound(cl, leader, TCLUSTER_NET_PASS), 0);
	wait_part("split", 0, leader, pred_isr_size, 3, "the ISR whole again");
	wait_acked(w, STEP_ACKS, "after the cut healed");
	finish_and_check(w, "split", 1, 2 * STEP_ACKS);
}
END_TEST

/* ---- a seeded randomized run ----------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int rng_below(int n)
{
	return (int)(rng_next() % (uint64_t)n);
}

static int64_t env_int(const char *name, int64_t dflt)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtoll(v, NULL, 10) : dflt;
}

#define RANDOM_PARTITIONS 3
static const char *const fault_names[] = {
	"kill -9 a leader", "pause a leader", "pause a follower", "isolate a leader",
	"cut a leader from its followers", "kill -9 the controller", "kill -9 etcd",
	"kill -9 a follower",
};

/*
 * Wait until etcd itself holds random/p whole (a leader, every replica in
 * the ISR), every broker registered, in a state written after each
 * registration made since the fault (before[id]: broker id's registration
 * revision before it; NULL: none). Brokers' views are not asked: a broker
 * just resumed or healed answers from its cache of before the fault (a
 * whole ISR), and etcd itself keeps that state after a restart within the
 * lease, or a lease lost in a pause or a cut, until the controller takes
 * the broker out (its registration says unclean_shutdown); a state newer
 * than the registration that holds it is the rejoin.
 */
static tcluster_partition_t random_wait_whole(int32_t p, const int64_t *before)
{
	int64_t end = clock_now_ms() + FAILOVER_MS, version = 0, newest, reg;
	tcluster_partition_t st;
	int id, ok, late;

	for (;;) {
		newest = 0;
		ok = 1;
		for (id = 1; id <= 3; id++) {
			reg = tcluster_etcd_registered(cl, id);
			ok = ok && reg > 0;
			if (before != NULL && reg != before[id] && reg > newest)
				newest = reg;
		}
		ok = ok && tcluster_etcd_partition(cl, "random", p, &st, &version) == 0 &&
		     pred_full(&st, NULL) && version > newest;
		if (ok)
			return st;
		if ((late = clock_now_ms() >= end)) {
			char needle[64];

			snprintf(needle, sizeof needle, " random/%d", (int)p);
			for (id = 1; id <= 3; id++)
				tcluster_log_print(cl, id, needle, 12);
		}
		ck_assert_msg(!late, "random/%d not whole in etcd in %d ms: leader %d "
		              "isr %d of %d, state revision %" PRId64 ", newest registration %" PRId64,
		              (int)p, FAILOVER_MS, st.leader, st.nisr, st.nreplicas, version, newest);
		clock_sleep_ms(20);
	}
}

/* One fault, held until some records are acknowledged or a while passes
 * (whichever first: a fault that stops writes is held for the while),
 * then healed, and the cluster waited for until every ISR is whole. */
static void random_fault(workload_t *w, int kind)
{
	tcluster_partition_t st;
	int p = rng_below(RANDOM_PARTITIONS), victim, i;
	int64_t regs[4];
	uint32_t alive;
	int32_t ctl;

	st = random_wait_whole(p, NULL);
	for (i = 1; i <= 3; i++)
		regs[i] = tcluster_etcd_registered(cl, i);
	victim = kind == 2 || kind == 7 ? (st.leader % 3) + 1 : st.leader;
	switch (kind) {
	case 0: case 7:
		ck_assert_int_eq(tcluster_kill(cl, victim), 0);
		break;
	case 1: case 2:
		ck_assert_int_eq(tcluster_pause(cl, victim), 0);
		break;
	case 3:
		tcluster_net_etcd(cl, victim, TCLUSTER_NET_BLACKHOLE);
		/* fall through */
	case 4:
		tcluster_net_inbound(cl, victim, kind == 3 ? TCLUSTER_NET_BLACKHOLE : TCLUSTER_NET_RESET);
		break;
	case 5:
		ck_assert_int_eq(tcluster_members(cl, st.leader, &alive, &ctl), 0);
		victim = ctl >= 1 ? ctl : st.leader;
		ck_assert_int_eq(tcluster_kill(cl, victim), 0);
		break;
	case 6:
		ck_assert_int_eq(tcluster_etcd_kill(cl), 0);
		break;
	}
	fprintf(stderr, "random: [%" PRId64 "] victim broker %d (partition %d led by %d)\n",
	        clock_now_ms(), kind == 6 ? 0 : victim, p, st.leader);
	workload_wait_acked(w, 50 + rng_below(250), 1000 + rng_below(3000));
	fprintf(stderr, "random: [%" PRId64 "] healing\n", clock_now_ms());
	switch (kind) {
	case 0: case 5: case 7:
		restart(victim);
		break;
	case 1: case 2:
		ck_assert_int_eq(tcluster_resume(cl, victim), 0);
		break;
	case 3: case 4:
		tcluster_net_etcd(cl, victim, TCLUSTER_NET_PASS);
		tcluster_net_inbound(cl, victim, TCLUSTER_NET_PASS);
		break;
	case 6:
		ck_assert_msg(tcluster_etcd_restart(cl, errbuf, sizeof errbuf) == 0, "%s", errbuf);
		break;
	}
	for (i = 0; i < RANDOM_PARTITIONS; i++)
		random_wait_whole(i, regs);
}

/*
 * Faults chosen by a seeded generator, one after another, for FAULT_SECONDS
 * and until FAULT_MIN_ACKED records were acknowledged: in make check (and
 * CI) 60 s and 1000, a new seed each run; `make test-faults` 300 s and
 * 20000. FAULT_SEED repeats a run's faults (not its timing); the seed and
 * the command that repeats the run are printed.
 */
START_TEST(test_random_faults)
{
	int64_t seconds = env_int("FAULT_SECONDS", 60), min_acked = env_int("FAULT_MIN_ACKED", 1000);
	uint64_t seed = (uint64_t)env_int("FAULT_SEED", (int64_t)clock_now_ms());
	int64_t start, end, faults = 0, counts[8] = { 0 };
	int leader, kind;
	workload_t *w;
	workload_stats_t ws;

	rng_state = seed ? seed : 1;
	fprintf(stderr, "random: FAULT_SEED=%" PRIu64 " FAULT_SECONDS=%" PRId64
	        " FAULT_MIN_ACKED=%" PRId64 "\n", seed, seconds, min_acked);
	w = rf3_start("random", RANDOM_PARTITIONS, 1, RF3_CONFIGS, &leader, NULL);
	start = clock_now_ms();
	end = start + seconds * 1000;
	for (;;) {
		workload_stats(w, &ws);
		if (clock_now_ms() >= end && ws.acked >= min_acked)
			break;
		kind = rng_below(8);
		fprintf(stderr, "random: %.1f s [%" PRId64 "]: fault %" PRId64 ": %s\n",
		        (double)(clock_now_ms() - start) / 1000.0, clock_now_ms(), faults + 1,
		        fault_names[kind]);
		random_fault(w, kind);
		faults++;
		counts[kind]++;
	}
	fprintf(stderr, "random: %" PRId64 " faults (", faults);
	for (kind = 0; kind < 8; kind++)
		fprintf(stderr, "%s%s %" PRId64, kind ? ", " : "", fault_names[kind], counts[kind]);
	fprintf(stderr, ")\n");
	fprintf(stderr, "random: to repeat: make test-faults FAULT_SEED=%" PRIu64 " FAULT_SECONDS=%"
	        PRId64 " FAULT_MIN_ACKED=%" PRId64 "\n", seed, seconds, min_acked);
	finish_and_check(w, "random", RANDOM_PARTITIONS, min_acked);
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
	add_scenario(s, "kill", test_leader_killed_and_restarted);
	add_scenario(s, "pause", test_leader_paused_past_its_lease);
	add_scenario(s, "lag", test_follower_paused_leaves_and_rejoins_the_isr);
	add_scenario(s, "rejoin", test_leader_restarted_at_once_takes_no_write_before_it_joins);
	add_scenario(s, "reincarnate", test_controller_leader_restarted_at_once_gets_a_new_epoch);
	add_scenario(s, "two_down", test_two_of_three_down_refuses_writes);
	add_scenario(s, "follower_kill", test_follower_killed_leaves_the_isr_by_the_controller);
	add_scenario(s, "unclean", test_unclean_shutdown_is_not_elected);
	add_scenario(s, "truncate", test_leader_with_uncommitted_records_returns);
	add_scenario(s, "etcd", test_etcd_killed_and_restarted);
	add_scenario(s, "controller", test_controller_killed);
	add_scenario(s, "isolate", test_network_cut_isolates_the_leader);
	add_scenario(s, "split", test_network_cut_between_leader_and_followers);
	/* bounded in make check (60 s, a new seed each run, printed); longer
	 * under make test-faults */
	add_scenario(s, "random", test_random_faults);
	return s;
}

int main(void)
{
	return tcluster_run_suite(faults_suite());
}
