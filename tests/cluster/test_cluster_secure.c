/*
 * test_cluster_secure.c — a cluster with authentication and TLS on
 * (issue 11, deliverables 5 and 6, for replication): etcd and three
 * brokers (cluster_harness.h) sharing one --auth-file and --acl-file, each
 * with its own --broker-token-file, serving HTTPS with a certificate from
 * a private CA made at start (openssl), and verifying each other and etcd
 * against it (--tls-ca-file).
 *
 * Checked: an RF=3 topic takes acks=all produces sent through a broker
 * that does not lead it (relayed with the relay's token and the client's
 * principal), every replica ends in the ISR with equal high watermark and
 * log end offset; a client without write is refused 403 through the
 * relay; a client's token (even one with read) is refused 403 on
 * /v1/internal/replica/fetch and no token 401; and a broker given a CA
 * that did not sign its peers' certificates does not replicate: it drops
 * out of the ISR of every partition it follows, logs why, and its relays
 * answer 503; a broker's token rotated (auth file and token file, SIGHUP)
 * is what its relays and fetcher send from then on, the old one gets 401,
 * and a bad token file keeps the token in force.
 *
 * One process (CK_NOFORK), as test_faults: the teardown stops the cluster.
 * Exit 77 when etcd, openssl or the strand binary is missing.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/cluster/cluster_harness.h"

#define WAIT_MS 20000

#define ALICE "Authorization: Bearer tc-alice-token-0123456789"   /* writes and reads */
#define BOB   "Authorization: Bearer tc-bob-token-0123456789ab"   /* reads only */
#define CLIENT_TOKENS "tc-alice-token-0123456789 alice\ntc-bob-token-0123456789ab bob\n"
#define CLIENT_RULES  "alice write topic secure*\nalice read topic secure*\n" \
                      "bob read topic secure*\n"

static tcluster_t *cl;
static char errbuf[8192];

static void cluster_teardown(void)
{
	tcluster_stop(cl);
	cl = NULL;
}

static void start_cluster(int tls, uint32_t wrong_ca)
{
	tcluster_options_t o;
	int rc;

	memset(&o, 0, sizeof o);
	o.brokers = 3;
	o.auth = 1;
	o.auth_tokens = CLIENT_TOKENS;
	o.acl_rules = CLIENT_RULES;
	o.tls = tls;
	o.wrong_ca = wrong_ca;
	rc = tcluster_start(&o, &cl, errbuf, sizeof errbuf);
	ck_assert_msg(rc == 0, "cluster start: %s", errbuf);
}

/* Create a topic through broker 1 (as the harness's admin), again while
 * broker 1's placement does not know every live broker yet (test_faults). */
static void create_topic(const char *topic, int partitions, const char *configs)
{
	int64_t end = clock_now_ms() + 10000;
	int rc;

	while ((rc = tcluster_create_topic(cl, 1, topic, partitions, 3, configs, errbuf,
	                                   sizeof errbuf)) == 400 &&
	       strstr(errbuf, "live broker") != NULL && clock_now_ms() < end)
		clock_sleep_ms(50);
	ck_assert_msg(rc == 0, "create %s: %s", topic, errbuf);
}

static int has_leader_and_full_isr(const tcluster_partition_t *p, void *arg)
{
	(void)arg;
	return p->leader > 0 && p->nreplicas == 3 && p->nisr == 3;
}

/* POST one record as `auth` through broker via, until a status other than
 * the 421/503 of a leader that has not applied the new topic yet, or the
 * 404 of a broker whose watch has not brought it yet, within a deadline. Returns the status; *served (may be NULL) the serving broker. */
static long produce(int via, const char *auth, const char *topic, int32_t p, int i)
{
	const char *hdrs[] = { auth, NULL };
	char path[128], body[96];
	int64_t end = clock_now_ms() + WAIT_MS;
	cJSON *json = NULL;
	long st;

	snprintf(path, sizeof path, "/v1/topics/%s/partitions/%d/records?acks=all", topic, (int)p);
	snprintf(body, sizeof body, "{\"records\":[{\"value\":%d}]}", i);
	for (;;) {
		st = tcluster_http(cl, via, "POST", path, body, hdrs, 10000, &json);
		cJSON_Delete(json);
		if ((st != 421 && st != 503 && st != 404) || clock_now_ms() >= end)
			return st;
		clock_sleep_ms(20);
	}
}

/* Every broker, asked itself, says partition p is fully in sync at `hw`. */
static void wait_all_in_sync(const char *topic, int32_t p, int64_t hw)
{
	int64_t end = clock_now_ms() + WAIT_MS;
	tcluster_partition_t st;
	char last[256] = "nothing read";

	for (;;) {
		int ok = 1;

		for (int id = 1; id <= 3 && ok; id++) {
			ok = tcluster_partition_own(cl, id, topic, p, &st) == 0 && st.nisr == 3 &&
			     st.high_watermark == hw && st.log_end_offset == hw;
			if (!ok)
				snprintf(last, sizeof last, "broker %d: isr %d of 3, hw %" PRId64 " leo %"
				         PRId64, id, st.nisr, st.high_watermark, st.log_end_offset);
		}
		if (ok)
			return;
		ck_assert_msg(clock_now_ms() < end, "%s/%d not in sync at %" PRId64 " in %d ms: %s",
		              topic, (int)p, hw, WAIT_MS, last);
		clock_sleep_ms(20);
	}
}

START_TEST(test_tls_and_tokens_replicate)
{
	static const char fetch[] = "{\"broker_id\":2,\"max_wait_ms\":0,\"partitions\":"
	                            "[{\"topic\":\"secure\",\"partition\":0,\"fetch_offset\":0,"
	                            "\"leader_epoch\":0}]}";
	const char *alice[] = { ALICE, NULL }, *bob[] = { BOB, NULL };
	const char *none[] = { "Authorization:", NULL };
	tcluster_partition_t st;
	cJSON *json = NULL;
	int other, i;
	long s;

	start_cluster(TCLUSTER_TLS_BROKERS | TCLUSTER_TLS_ETCD, 0);
	ck_assert_msg(strncmp(tcluster_url(cl, 1), "https://", 8) == 0, "%s", tcluster_url(cl, 1));
	ck_assert_msg(strncmp(tcluster_etcd_url(cl), "https://", 8) == 0, "%s",
	              tcluster_etcd_url(cl));
	/* every broker advertises its https URL (what the others fetch from) */
	s = tcluster_http(cl, 2, "GET", "/v1/cluster", NULL, NULL, 5000, &json);
	ck_assert_msg(s == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(json, "brokers")) == 3,
	              "/v1/cluster: %ld", s);
	{
		cJSON *b;

		cJSON_ArrayForEach(b, cJSON_GetObjectItem(json, "brokers")) {
			const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(b, "url"));

			ck_assert_msg(u != NULL && strncmp(u, "https://127.0.0.1:", 18) == 0,
			              "broker advertises %s", u ? u : "nothing");
		}
	}
	cJSON_Delete(json);
	json = NULL;
	create_topic("secure", 1, "{\"min_insync_replicas\":2}");
	ck_assert_msg(tcluster_wait_partition(cl, 1, "secure", 0, has_leader_and_full_isr, NULL,
	                                      WAIT_MS, &st, errbuf, sizeof errbuf) == 0, "%s",
	              errbuf);
	other = st.leader % 3 + 1;       /* a broker that does not lead it */

	/* acks=all through the non-leader: relayed as the relay, for alice */
	for (i = 0; i < 10; i++) {
		s = produce(other, ALICE, "secure", 0, i);
		ck_assert_msg(s == 200, "produce %d via broker %d (leader %d): %ld; log:\n%s", i,
		              other, st.leader, s, tcluster_log_tail(cl, other));
	}
	/* bob may read, not write: refused through the relay too, nothing stored */
	s = produce(other, BOB, "secure", 0, 99);
	ck_assert_msg(s == 403, "bob's produce via broker %d: %ld", other, s);
	wait_all_in_sync("secure", 0, 10);

	/* bob reads through the relay: the leader serves him as bob */
	s = tcluster_http(cl, other, "GET", "/v1/topics/secure/partitions/0/records?offset=0",
	                  NULL, bob, 10000, &json);
	ck_assert_msg(s == 200 && json != NULL &&
	              cJSON_GetObjectItem(json, "next_offset") != NULL &&
	              cJSON_GetObjectItem(json, "next_offset")->valuedouble == 10,
	              "bob's fetch via broker %d: %ld", other, s);
	cJSON_Delete(json);

	/* replica traffic is for brokers only */
	s = tcluster_http(cl, st.leader, "POST", "/v1/internal/replica/fetch", fetch, bob, 5000,
	                  NULL);
	ck_assert_msg(s == 403, "bob on replica/fetch: %ld", s);
	s = tcluster_http(cl, st.leader, "POST", "/v1/internal/replica/fetch", fetch, alice, 5000,
	                  NULL);
	ck_assert_msg(s == 403, "alice on replica/fetch: %ld", s);
	s = tcluster_http(cl, st.leader, "POST", "/v1/internal/replica/fetch", fetch, none, 5000,
	                  NULL);
	ck_assert_msg(s == 401, "no token on replica/fetch: %ld", s);
}
END_TEST

static int has_leader(const tcluster_partition_t *p, void *arg)
{
	(void)arg;
	return p->leader > 0 && p->nreplicas == 3;
}

static int isr_without(const tcluster_partition_t *p, void *arg)
{
	int32_t id = *(int32_t *)arg;

	return p->leader > 0 && p->leader != id && p->nisr == 2 && !tcluster_in_isr(p, id);
}

START_TEST(test_wrong_ca_does_not_replicate)
{
	const char *log;
	tcluster_partition_t st;
	int32_t wrong = 3, p, led_elsewhere = -1;
	long s;

	start_cluster(TCLUSTER_TLS_BROKERS, 1u << 3);
	create_topic("secure-ca", 3, "{\"replica_lag_time_max_ms\":1000}");
	/* a partition broker 3 follows: it cannot verify its leader (the ISR
	 * may already have lost broker 3: only the leader is waited for) */
	for (p = 0; p < 3 && led_elsewhere < 0; p++)
		if (tcluster_wait_partition(cl, 1, "secure-ca", p, has_leader, NULL,
		                            WAIT_MS, &st, errbuf, sizeof errbuf) == 0 &&
		    st.leader != wrong)
			led_elsewhere = p;
	ck_assert_msg(led_elsewhere >= 0, "no partition led by broker 1 or 2: %s", errbuf);
	ck_assert_int_eq(produce(1, ALICE, "secure-ca", led_elsewhere, 1), 200);
	ck_assert_msg(tcluster_wait_partition(cl, 1, "secure-ca", led_elsewhere, isr_without,
	                                      &wrong, WAIT_MS, &st, errbuf, sizeof errbuf) == 0,
	              "broker 3 stayed in the ISR: %s", errbuf);
	ck_assert_int_eq(tcluster_in_isr(&st, 1) + tcluster_in_isr(&st, 2), 2);
	/* why, in its log */
	log = tcluster_log_tail(cl, wrong);
	ck_assert_msg(strstr(log, "strand: fetcher:") != NULL &&
	              (strstr(log, "certificate") != NULL || strstr(log, "SSL") != NULL),
	              "broker 3's log does not say why it cannot fetch:\n%s", log);
	/* and what it relays finds no leader it trusts */
	s = produce(wrong, ALICE, "secure-ca", led_elsewhere, 2);
	ck_assert_msg(s == 503, "produce relayed by broker 3: %ld", s);
}
END_TEST

/* ---- reloading a broker's token ------------------------------------------ */

/* A small file's text into buf (NUL-terminated). */
static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_msg(f != NULL, "cannot read %s", path);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Write text to path, mode 0600 as serve wants of secrets. */
static void write_secret(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
	ck_assert_int_eq(chmod(path, 0600), 0);
}

/* Wait until broker id's log has `want` lines holding needle. */
static void wait_log(int id, const char *needle, int want)
{
	int64_t end = clock_now_ms() + WAIT_MS;

	while (tcluster_log_count(cl, id, needle) < want && clock_now_ms() < end)
		clock_sleep_ms(20);
	ck_assert_msg(tcluster_log_count(cl, id, needle) >= want,
	              "broker %d logged \"%s\" %d times, expected %d:\n%s", id, needle,
	              tcluster_log_count(cl, id, needle), want, tcluster_log_tail(cl, id));
}

/* The status broker id answers a broker's request carrying token (an
 * empty epoch_end: 401 for a token it does not know, 200 or 400 once
 * authenticated and allowed). */
static long internal_status(int id, const char *token)
{
	char auth[200];
	const char *hdrs[] = { auth, NULL };

	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	return tcluster_http(cl, id, "POST", "/v1/internal/replica/epoch_end",
	                     "{\"broker_id\":99,\"partitions\":[]}", hdrs, 5000, NULL);
}

/*
 * SIGHUP re-reads --broker-token-file: the rotated token goes on the
 * broker's relays and replica fetches (the others, their auth file
 * rotated too, refuse the old one); a bad file, or a token the rules do
 * not know, keeps the token in force and the log says why.
 */
START_TEST(test_broker_token_reload)
{
	char file[600], *old, fresh[64], text[4096], *at, *save = NULL;
	tcluster_partition_t st;
	int b, id;
	long s;

	start_cluster(0, 0);
	create_topic("secure-rot", 1, NULL);
	ck_assert_msg(tcluster_wait_partition(cl, 1, "secure-rot", 0, has_leader_and_full_isr, NULL,
	                                      WAIT_MS, &st, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	b = st.leader % 3 + 1;                 /* a follower of it, and a relay to it */
	slurp(tcluster_token_file(cl, b), file, sizeof file);
	for (old = strtok_r(file, "\n", &save); old != NULL && old[0] == '#';
	     old = strtok_r(NULL, "\n", &save))
		;                                  /* the first line that is not a comment */
	ck_assert_ptr_nonnull(old);
	snprintf(fresh, sizeof fresh, "tc-broker-%d-rotated-%ld", b, (long)getpid());

	/* rotate: the shared auth file knows broker b by the new token only */
	slurp(tcluster_auth_file(cl), text, sizeof text);
	ck_assert_ptr_nonnull(at = strstr(text, old));
	memmove(at + strlen(fresh), at + strlen(old), strlen(at + strlen(old)) + 1);
	memcpy(at, fresh, strlen(fresh));
	write_secret(tcluster_auth_file(cl), text);
	write_secret(tcluster_token_file(cl, b), fresh);
	for (id = 1; id <= 3; id++)
		ck_assert_int_eq(tcluster_signal(cl, id, SIGHUP), 0);
	wait_log(b, "broker token reloaded", 1);
	for (id = 1; id <= 3; id++) {
		int64_t end = clock_now_ms() + WAIT_MS;
		while ((internal_status(id, old) != 401 || internal_status(id, fresh) == 401) &&
		       clock_now_ms() < end)
			clock_sleep_ms(20);
		ck_assert_msg((s = internal_status(id, old)) == 401, "broker %d, old token: %ld", id, s);
		s = internal_status(id, fresh);
		ck_assert_msg(s != 401 && s != 403, "broker %d, new token: %ld", id, s);
	}
	/* broker b's relay and fetcher now go up with the new token: a produce
	 * through it lands, and it replicates (in the ISR at the new hw) */
	ck_assert_int_eq(produce(b, ALICE, "secure-rot", 0, 1), 200);
	wait_all_in_sync("secure-rot", 0, 1);

	/* a bad file (too short a token), then a token the rules do not know:
	 * each keeps the token in force */
	write_secret(tcluster_token_file(cl, b), "short\n");
	ck_assert_int_eq(tcluster_signal(cl, b, SIGHUP), 0);
	wait_log(b, "(keeping the previous broker token)", 1);
	write_secret(tcluster_token_file(cl, b), "tc-broker-nobody-knows-0123456789\n");
	ck_assert_int_eq(tcluster_signal(cl, b, SIGHUP), 0);
	wait_log(b, "(keeping the previous broker token)", 2);
	ck_assert_int_eq(tcluster_log_count(cl, b, "not in --auth-file"), 1);
	ck_assert_int_eq(tcluster_log_count(cl, b, "broker token reloaded"), 1);
	ck_assert_int_eq(produce(b, ALICE, "secure-rot", 0, 2), 200);
	wait_all_in_sync("secure-rot", 0, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster_secure");
	TCase *tc = tcase_create("auth_tls");

	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "openssl not installed (scripts/deps.sh): skipping\n");
		return 77;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, cluster_teardown);
	tcase_add_test(tc, test_tls_and_tokens_replicate);
	tcase_add_test(tc, test_wrong_ca_does_not_replicate);
	tcase_add_test(tc, test_broker_token_reload);
	suite_add_tcase(s, tc);
	return tcluster_run_suite(s);
}
