/*
 * test_mismatch.c — the contract check fails when the server and
 * openapi.yaml disagree, in either direction (issue #7: "CI fails if the
 * spec and the server disagree in either direction"). It runs a real
 * broker behind the same Prism proxy as tests/contract/test_prism.sh, first
 * with openapi.yaml as it is (no violation), then with copies of it changed
 * on purpose, one disagreement per request:
 *   - the spec requires a member the server does not send;
 *   - the server answers a status the spec does not list (/healthz 200);
 *   - the spec refuses a request that the server accepts;
 *   - the spec documents an operation the server does not have;
 *   - the server sends a member of another type than the spec says.
 * The edits are small and textual; when openapi.yaml changes under one,
 * the test says which text it no longer finds.
 * Each must count exactly one violation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/api/harness.h"

#ifndef STRAND_SRCDIR
#error "STRAND_SRCDIR: the source tree (openapi.yaml, tests/contract/node_modules)"
#endif

static char tmp[256];

/* openapi.yaml with each (from, to) replaced once; the path in out. */
static void write_spec(const char *name, const char *const *edits, char *out, size_t cap)
{
	FILE *f = fopen(STRAND_SRCDIR "/openapi.yaml", "r");
	buf_t text = BUF_INIT, res = BUF_INIT;
	char chunk[65536];
	size_t n, i;

	ck_assert_ptr_nonnull(f);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ck_assert_int_eq(buf_append(&text, chunk, n), 0);
	fclose(f);
	ck_assert_int_eq(buf_append(&text, "", 1), 0);   /* NUL */
	for (i = 0; edits != NULL && edits[i] != NULL; i += 2) {
		const char *at = strstr(text.data, edits[i]);

		ck_assert_msg(at != NULL, "openapi.yaml no longer has: %s", edits[i]);
		ck_assert_msg(strstr(at + 1, edits[i]) == NULL, "not unique: %s", edits[i]);
		buf_reset(&res);
		buf_append(&res, text.data, (size_t)(at - text.data));
		buf_append(&res, edits[i + 1], strlen(edits[i + 1]));
		buf_append(&res, at + strlen(edits[i]), strlen(at + strlen(edits[i])) + 1);
		buf_reset(&text);
		buf_append(&text, res.data, res.len);
	}
	snprintf(out, cap, "%s/%s.yaml", tmp, name);
	f = fopen(out, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text.data, f);
	fclose(f);
	buf_free(&text);
	buf_free(&res);
}

static void setup(void)
{
	snprintf(tmp, sizeof tmp, "%s/strand-test-contract-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	ck_assert_int_eq(system(STRAND_SRCDIR "/tests/contract/npm-deps.sh"), 0);
	setenv("STRAND_CONTRACT_PRISM", STRAND_SRCDIR "/tests/contract/node_modules/.bin/prism", 1);
	unsetenv("STRAND_CONTRACT_LOG");   /* the violations here are meant */
}

static void teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
}

/* The violations one request adds. */
static int violations_of(harness_t *h, const char *method, const char *path, const char *json,
                         long *status)
{
	int before = harness_contract_violations(h);
	http_response_t r;

	*status = json ? http_json(h, method, path, json, &r) : http_get(h, path, &r);
	http_response_free(&r);
	return harness_contract_violations(h) - before;
}

/* The requests of the test; against the true spec each is in agreement. */
static void run_requests(harness_t *h, int expect_violation)
{
	long st;
	int want = expect_violation ? 1 : 0;

	ck_assert_int_eq(violations_of(h, "POST", "/v1/topics", "{\"name\":\"orders\",\"partitions\":2}", &st), 0);
	ck_assert_int_eq(st, 201);
	/* 1. spec requires a member the server does not send */
	ck_assert_int_eq(violations_of(h, "GET", "/v1/topics", NULL, &st), want);
	ck_assert_int_eq(st, expect_violation ? 500 : 200);
	/* 2. the server answers a status the spec does not list */
	ck_assert_int_eq(violations_of(h, "GET", "/healthz", NULL, &st), want);
	ck_assert_int_eq(st, expect_violation ? 500 : 200);
	/* 3. the spec refuses a request the server accepts */
	ck_assert_int_eq(violations_of(h, "POST", "/v1/topics", "{\"name\":\"wide\",\"partitions\":8}", &st), want);
	ck_assert_int_eq(st, 201);   /* the server's own answer comes back */
	/* 4. the spec documents an operation the server does not have */
	ck_assert_int_eq(violations_of(h, "GET", "/v1/brokers", NULL, &st), want);
	ck_assert_int_eq(st, 404);
	/* 5. a member of another type than the spec says */
	ck_assert_int_eq(violations_of(h, "GET", "/v1/cluster", NULL, &st), want);
	/* a body against the schema: Prism answers 500 VIOLATIONS in its place */
	ck_assert_int_eq(st, expect_violation ? 500 : 200);
}

static void start_with(harness_t *h, const char *spec)
{
	memset(h, 0, sizeof *h);
	setenv("STRAND_CONTRACT_SPEC", spec, 1);
	ck_assert_msg(harness_start(h) == 0, "start: %s", harness_log_tail(h));
	ck_assert_msg(h->proxy_url[0] != '\0', "no proxy in front of the server");
}

START_TEST(test_true_spec_agrees)
{
	harness_t h;

	start_with(&h, STRAND_SRCDIR "/openapi.yaml");
	run_requests(&h, 0);
	ck_assert_int_eq(harness_contract_violations(&h), 0);
	harness_teardown(&h);
}
END_TEST

START_TEST(test_each_disagreement_is_a_violation)
{
	static const char *const edits[] = {
		/* 1: TopicSummary requires a member the server does not send */
		"    TopicSummary:\n      type: object\n      required: [name, partitions, replication_factor, internal]",
		"    TopicSummary:\n      type: object\n      required: [name, partitions, replication_factor, internal, leader_epoch]",
		/* 2: /healthz documents 201 instead of its 200 */
		"        \"200\":\n          description: Up.\n",
		"        \"201\":\n          description: Up.\n",
		/* 3: at most 4 partitions at creation */
		"        partitions: { type: integer, minimum: 1, maximum: 10000, default: 1 }",
		"        partitions: { type: integer, minimum: 1, maximum: 4, default: 1 }",
		/* 4: an operation the server does not have */
		"  /v1/cluster:\n",
		"  /v1/brokers:\n"
		"    get:\n"
		"      tags: [cluster]\n"
		"      operationId: listBrokers\n"
		"      summary: Brokers\n"
		"      responses:\n"
		"        \"200\":\n"
		"          description: The brokers.\n"
		"          content:\n"
		"            application/json:\n"
		"              schema: { type: array }\n"
		"  /v1/cluster:\n",
		/* 5: the cluster id as an integer */
		"        cluster_id: { type: string }",
		"        cluster_id: { type: integer }",
		NULL
	};
	char spec[400];
	harness_t h;

	write_spec("mismatched", edits, spec, sizeof spec);
	start_with(&h, spec);
	run_requests(&h, 1);
	ck_assert_int_eq(harness_contract_violations(&h), 5);
	harness_teardown(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("contract_mismatch");
	TCase *tc = tcase_create("prism");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_true_spec_agrees);
	tcase_add_test(tc, test_each_disagreement_is_a_violation);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
