/*
 * test_auth.c — bearer tokens and ACLs on a real broker (issue 11: "a
 * token without write access is refused"): 401 without or with a wrong
 * token, 403 outside the ACLs, open health/readiness/contract endpoints,
 * the access_token query parameter, SIGHUP re-reading the files (a broken
 * file keeps the old rules), and /metrics behind auth when configured.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ALICE "alice-token-0123456789"
#define BOB   "bob-token-0123456789ab"
#define BROKER "broker-token-0123456789"

static harness_t srv;
static char files[256], tokens_path[300], acl_path[300];

static void write_file(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(files, sizeof files, "%s/strand-test-auth-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(files));
	snprintf(tokens_path, sizeof tokens_path, "%s/tokens", files);
	snprintf(acl_path, sizeof acl_path, "%s/acls", files);
	write_file(tokens_path, ALICE " alice\n" BOB " bob\n" BROKER " broker-1\n", "w");
	write_file(acl_path,
	           "broker-1 cluster_action cluster *\n"
	           "alice admin cluster *\n"
	           "alice write topic orders*\n"
	           "bob read topic orders\n"
	           "bob read group billing\n", "w");
	memset(&srv, 0, sizeof srv);
	srv.extra_args[0] = "--auth-file";
	srv.extra_args[1] = tokens_path;
	srv.extra_args[2] = "--acl-file";
	srv.extra_args[3] = acl_path;
	ck_assert_msg(harness_start(&srv) == 0, "start: %s", harness_log_tail(&srv));
}

static void teardown(void)
{
	char cmd[400];

	harness_teardown(&srv);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", files);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", files);
}

/* A request as token (NULL: none) on behalf of `client` (Strand-Principal,
 * as a relaying broker sends it; NULL: none); returns the status, body in *r. */
static long as_for(const char *token, const char *client, const char *method, const char *path,
                   const char *json, http_response_t *r)
{
	char auth[128], on_behalf[128];
	const char *headers[3] = { NULL, NULL, NULL };
	int n = 0;

	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
	snprintf(on_behalf, sizeof on_behalf, "Strand-Principal: %s", client ? client : "");
	if (token != NULL)
		headers[n++] = auth;
	if (client != NULL)
		headers[n++] = on_behalf;
	return http_request(&srv, method, path, json ? "application/json" : NULL, json,
	                    json ? strlen(json) : 0, n ? headers : NULL, r);
}

static long as(const char *token, const char *method, const char *path, const char *json,
               http_response_t *r)
{
	return as_for(token, NULL, method, path, json, r);
}

static void expect_for(const char *token, const char *client, const char *method,
                       const char *path, const char *json, long status, const char *code)
{
	http_response_t r;
	char why[256] = "";
	long got = as_for(token, client, method, path, json, &r);

	if (code != NULL)
		ck_assert_msg(http_is_problem(&r, status, code, why, sizeof why),
		              "%s %s as %s: want %ld %s: %s (%s)", method, path, token ? token : "-",
		              status, code, why, r.body.data ? r.body.data : "");
	else
		ck_assert_msg(got == status, "%s %s as %s: want %ld, got %ld: %s", method, path,
		              token ? token : "-", status, got, r.body.data ? r.body.data : "");
	http_response_free(&r);
}

static void expect(const char *token, const char *method, const char *path, const char *json,
                   long status, const char *code)
{
	expect_for(token, NULL, method, path, json, status, code);
}

#define PRODUCE "{\"records\":[{\"value\":1}]}"

START_TEST(test_tokens_and_acls_decide)
{
	http_response_t r;
	char hdr[128];

	/* no token, a wrong token */
	ck_assert_int_eq(as(NULL, "GET", "/v1/topics", NULL, &r), 401);
	ck_assert_ptr_nonnull(http_header(&r, "WWW-Authenticate", hdr, sizeof hdr));
	ck_assert_str_eq(hdr, "Bearer realm=\"strand\"");
	http_response_free(&r);
	expect(NULL, "GET", "/v1/topics", NULL, 401, "UNAUTHORIZED");
	expect("not-a-real-token-at-all", "GET", "/v1/topics", NULL, 401, "UNAUTHORIZED");
	/* open without a token */
	expect(NULL, "GET", "/healthz", NULL, 200, NULL);
	expect(NULL, "GET", "/readyz", NULL, 200, NULL);
	expect(NULL, "GET", "/openapi.yaml", NULL, 200, NULL);
	expect(NULL, "GET", "/metrics", NULL, 200, NULL);

	/* alice: admin on the cluster, write on orders* */
	expect(ALICE, "POST", "/v1/topics", "{\"name\":\"orders\",\"partitions\":1}", 201, NULL);
	expect(ALICE, "POST", "/v1/topics", "{\"name\":\"payments\",\"partitions\":1}", 201, NULL);
	expect(ALICE, "POST", "/v1/topics/orders/records", PRODUCE, 200, NULL);
	expect(ALICE, "POST", "/v1/topics/payments/records", PRODUCE, 403, "FORBIDDEN");
	expect(ALICE, "GET", "/v1/topics/orders/partitions/0/records?offset=0", NULL, 403,
	       "FORBIDDEN");                                   /* write is not read */
	expect(ALICE, "GET", "/v1/topics", NULL, 200, NULL);   /* describe cluster via admin */

	/* bob: read on orders, read on group billing */
	as(BOB, "POST", "/v1/topics/orders/records", PRODUCE, &r);
	ck_assert_msg(strstr(r.body.data, "bob may not write topic orders") != NULL, "%s",
	              r.body.data);
	http_response_free(&r);
	expect(BOB, "POST", "/v1/topics/orders/records", PRODUCE, 403, "FORBIDDEN");
	expect(BOB, "GET", "/v1/topics/orders/partitions/0/records?offset=0", NULL, 200, NULL);
	expect(BOB, "GET", "/v1/topics/orders", NULL, 200, NULL);   /* read implies describe */
	expect(BOB, "GET", "/v1/topics/payments", NULL, 403, "FORBIDDEN");
	expect(BOB, "DELETE", "/v1/topics/orders", NULL, 403, "FORBIDDEN");
	expect(BOB, "POST", "/v1/topics", "{\"name\":\"mine\",\"partitions\":1}", 403, "FORBIDDEN");
	expect(BOB, "GET", "/v1/topics", NULL, 403, "FORBIDDEN");   /* lists: describe cluster */
	expect(BOB, "POST", "/v1/groups/billing/offsets",
	       "{\"offsets\":[{\"topic\":\"orders\",\"partition\":0,\"offset\":1}]}", 204, NULL);
	expect(BOB, "POST", "/v1/groups/other/offsets",
	       "{\"offsets\":[{\"topic\":\"orders\",\"partition\":0,\"offset\":1}]}", 403, "FORBIDDEN");
	expect(BOB, "DELETE", "/v1/groups/billing", NULL, 403, "FORBIDDEN");

	/* the token as a query parameter (EventSource cannot set headers) */
	expect(NULL, "GET", "/v1/topics/orders/partitions/0/records?offset=0&access_token=" BOB, NULL,
	       200, NULL);
	expect(NULL, "GET", "/v1/topics/orders/partitions/0/records?offset=0&access_token=nope", NULL,
	       401, "UNAUTHORIZED");
	/* nothing was stored by the refused produce requests */
	ck_assert_int_eq(as(ALICE, "GET", "/v1/topics/orders", NULL, &r), 200);
	ck_assert_ptr_nonnull(strstr(r.body.data, "\"high_watermark\":1"));
	http_response_free(&r);
}
END_TEST

/* Poll until `token method path` answers want (deadline 10 s). */
static int eventually(const char *token, const char *method, const char *path, const char *json,
                      long want)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	time_t deadline = time(NULL) + 10;
	http_response_t r;
	long got;

	do {
		got = as(token, method, path, json, &r);
		http_response_free(&r);
		if (got == want)
			return 1;
		nanosleep(&pause, NULL);
	} while (time(NULL) < deadline);
	return 0;
}

START_TEST(test_sighup_rereads_and_keeps_rules_when_broken)
{
	expect(ALICE, "POST", "/v1/topics", "{\"name\":\"orders\",\"partitions\":1}", 201, NULL);
	expect(BOB, "POST", "/v1/topics/orders/records", PRODUCE, 403, "FORBIDDEN");

	write_file(acl_path, "bob write topic orders\n", "a");
	ck_assert_int_eq(kill(srv.pid, SIGHUP), 0);
	ck_assert_msg(eventually(BOB, "POST", "/v1/topics/orders/records", PRODUCE, 200),
	              "bob still cannot write after SIGHUP: %s", harness_log_tail(&srv));

	/* a new token works after SIGHUP too */
	write_file(tokens_path, "carol-token-0123456789 carol\n", "a");
	write_file(acl_path, "carol describe topic orders\n", "a");
	ck_assert_int_eq(kill(srv.pid, SIGHUP), 0);
	ck_assert(eventually("carol-token-0123456789", "GET", "/v1/topics/orders", NULL, 200));

	/* a broken file: refused, the previous rules stay */
	write_file(acl_path, "this line is wrong\n", "a");
	ck_assert_int_eq(kill(srv.pid, SIGHUP), 0);
	ck_assert_msg(eventually(NULL, "GET", "/healthz", NULL, 200), "broker died on a bad file");
	{
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		time_t deadline = time(NULL) + 10;

		while (strstr(harness_log_tail(&srv), "keeping the previous rules") == NULL &&
		       time(NULL) < deadline)
			nanosleep(&pause, NULL);
	}
	ck_assert_msg(strstr(harness_log_tail(&srv), "acls:") != NULL, "%s", harness_log_tail(&srv));
	expect(BOB, "POST", "/v1/topics/orders/records", PRODUCE, 200, NULL);
	expect("carol-token-0123456789", "GET", "/v1/topics/orders", NULL, 200, NULL);
}
END_TEST

/*
 * A group member reads and commits topics, so (as in Kafka's Fetch and
 * OffsetCommit) read on the group is not enough: each topic needs read
 * too, at join, at every member fetch (a SIGHUP may take it away), and at
 * every commit.
 */
START_TEST(test_group_members_need_read_on_their_topics)
{
	http_response_t r;
	char member[128], path[300], commit[400];
	const char *p, *q;

	expect(ALICE, "POST", "/v1/topics", "{\"name\":\"orders\",\"partitions\":1}", 201, NULL);
	expect(ALICE, "POST", "/v1/topics", "{\"name\":\"payments\",\"partitions\":1}", 201, NULL);
	expect(ALICE, "POST", "/v1/topics/payments/records", PRODUCE, 403, "FORBIDDEN");

	/* bob may read group billing and topic orders, not topic payments */
	as(BOB, "POST", "/v1/groups/billing/members", "{\"topics\":[\"orders\",\"payments\"]}", &r);
	ck_assert_msg(http_is_problem(&r, 403, "FORBIDDEN", NULL, 0) &&
	              strstr(r.body.data, "bob may not read topic payments") != NULL,
	              "join with an unreadable topic: %s", r.body.data);
	http_response_free(&r);

	ck_assert_int_eq(as(BOB, "POST", "/v1/groups/billing/members",
	                    "{\"topics\":[\"orders\"],\"auto_offset_reset\":\"earliest\"}", &r), 200);
	p = strstr(r.body.data, "\"member_id\":\"");
	ck_assert_ptr_nonnull(p);
	p += strlen("\"member_id\":\"");
	q = strchr(p, '"');
	ck_assert(q != NULL && (size_t)(q - p) < sizeof member);
	memcpy(member, p, (size_t)(q - p));
	member[q - p] = '\0';
	http_response_free(&r);
	snprintf(path, sizeof path, "/v1/groups/billing/members/%s/records", member);
	expect(BOB, "GET", path, NULL, 200, NULL);

	/* commits name their topics: payments is refused, orders is not */
	snprintf(commit, sizeof commit, "{\"member_id\":\"%s\",\"generation\":1,"
	         "\"offsets\":[{\"topic\":\"payments\",\"partition\":0,\"offset\":0}]}", member);
	expect(BOB, "POST", "/v1/groups/billing/offsets", commit, 403, "FORBIDDEN");
	snprintf(commit, sizeof commit, "{\"member_id\":\"%s\",\"generation\":1,"
	         "\"offsets\":[{\"topic\":\"orders\",\"partition\":0,\"offset\":0}]}", member);
	expect(BOB, "POST", "/v1/groups/billing/offsets", commit, 204, NULL);

	/* read on orders taken away: the member's next fetch is refused */
	write_file(acl_path, "alice admin cluster *\nbob read group billing\n", "w");
	ck_assert_int_eq(kill(srv.pid, SIGHUP), 0);
	ck_assert_msg(eventually(BOB, "GET", path, NULL, 403),
	              "member fetch still allowed after the ACL lost the topic: %s",
	              harness_log_tail(&srv));
	expect(BOB, "GET", path, NULL, 403, "FORBIDDEN");
}
END_TEST

/*
 * Broker to broker: /v1/internal/ needs cluster_action on the cluster
 * (Kafka's ClusterAction for follower fetches), so a client's token reads
 * no replica traffic, not even an administrator's; and a relayed request
 * (KIP-590) is checked for the client named in Strand-Principal, which
 * only a broker's token may name.
 */
START_TEST(test_internal_needs_cluster_action_and_relays_keep_the_client)
{
	const char *fetch = "{\"broker_id\":2,\"max_wait_ms\":0,\"partitions\":[]}";
	const char *epochs = "{\"broker_id\":2,\"partitions\":[]}";
	http_response_t r;
	long got;

	expect(NULL, "POST", "/v1/internal/replica/fetch", fetch, 401, "UNAUTHORIZED");
	expect("not-a-real-token-at-all", "POST", "/v1/internal/replica/fetch", fetch, 401,
	       "UNAUTHORIZED");
	expect(BOB, "POST", "/v1/internal/replica/fetch", fetch, 403, "FORBIDDEN");
	expect(ALICE, "POST", "/v1/internal/replica/fetch", fetch, 403, "FORBIDDEN");
	expect(ALICE, "POST", "/v1/internal/replica/epoch_end", epochs, 403, "FORBIDDEN");
	as(ALICE, "POST", "/v1/internal/replica/fetch", fetch, &r);
	ck_assert_msg(strstr(r.body.data, "alice may not cluster_action cluster") != NULL, "%s",
	              r.body.data);
	http_response_free(&r);
	/* the broker's token gets past authorization to the endpoint itself */
	got = as(BROKER, "POST", "/v1/internal/replica/fetch", fetch, &r);
	ck_assert_msg(got != 401 && got != 403, "broker token on fetch: %ld %s", got, r.body.data);
	http_response_free(&r);
	got = as(BROKER, "POST", "/v1/internal/replica/epoch_end", epochs, &r);
	ck_assert_msg(got != 401 && got != 403, "broker token on epoch_end: %ld %s", got,
	              r.body.data);
	http_response_free(&r);

	/* relayed: the client's rights, never the relay's */
	expect(ALICE, "POST", "/v1/topics", "{\"name\":\"orders\",\"partitions\":1}", 201, NULL);
	expect(BROKER, "POST", "/v1/topics/orders/records", PRODUCE, 403, "FORBIDDEN");
	expect_for(BROKER, "alice", "POST", "/v1/topics/orders/records", PRODUCE, 200, NULL);
	expect_for(BROKER, "bob", "POST", "/v1/topics/orders/records", PRODUCE, 403, "FORBIDDEN");
	as_for(BROKER, "bob", "POST", "/v1/topics/orders/records", PRODUCE, &r);
	ck_assert_msg(strstr(r.body.data, "bob may not write topic orders") != NULL, "%s",
	              r.body.data);
	http_response_free(&r);
	expect_for(BROKER, "bob", "GET", "/v1/topics/orders/partitions/0/records?offset=0", NULL,
	           200, NULL);
	/* a principal with no token here, and a client naming another */
	expect_for(BROKER, "mallory", "POST", "/v1/topics/orders/records", PRODUCE, 401,
	           "UNAUTHORIZED");
	expect_for(BOB, "alice", "POST", "/v1/topics/orders/records", PRODUCE, 403, "FORBIDDEN");
	expect_for(ALICE, "alice", "POST", "/v1/topics/orders/records", PRODUCE, 403, "FORBIDDEN");
	expect_for(NULL, "alice", "POST", "/v1/topics/orders/records", PRODUCE, 401,
	           "UNAUTHORIZED");
}
END_TEST

START_TEST(test_metrics_behind_auth_when_configured)
{
	ck_assert_int_eq(harness_stop(&srv, SIGTERM), 0);
	srv.extra_args[4] = "--metrics-require-auth";
	srv.extra_args[5] = "1";
	ck_assert_int_eq(harness_restart(&srv), 0);
	expect(NULL, "GET", "/metrics", NULL, 401, "UNAUTHORIZED");
	expect(BOB, "GET", "/metrics", NULL, 403, "FORBIDDEN");
	expect(ALICE, "GET", "/metrics", NULL, 200, NULL);
	expect(NULL, "GET", "/healthz", NULL, 200, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("tokens_acls");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_tokens_and_acls_decide);
	tcase_add_test(tc, test_sighup_rereads_and_keeps_rules_when_broken);
	tcase_add_test(tc, test_metrics_behind_auth_when_configured);
	tcase_add_test(tc, test_group_members_need_read_on_their_topics);
	tcase_add_test(tc, test_internal_needs_cluster_action_and_relays_keep_the_client);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
