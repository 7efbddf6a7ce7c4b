/*
 * test_acl.c — token and ACL files (src/broker/acl.h): parsing with line
 * numbers in errors, authentication, Kafka-style implied operations,
 * prefixes and wildcards, default deny once rules exist.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/acl.h"
#include "common/err.h"

static char dir[] = "/tmp/strand-test-acl-XXXXXX";
static char tokens_path[128], rules_path[128];
static char err[512];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static acl_t *load(const char *tokens, const char *rules)
{
	acl_t *acl = NULL;

	write_file(tokens_path, tokens);
	if (rules != NULL)
		write_file(rules_path, rules);
	err[0] = '\0';
	ck_assert_msg(acl_load(tokens_path, rules ? rules_path : NULL, &acl, err, sizeof err) == 0,
	              "load: %s", err);
	return acl;
}

static int load_fails(const char *tokens, const char *rules, const char *want)
{
	acl_t *acl = NULL;
	int rc;

	write_file(tokens_path, tokens);
	if (rules != NULL)
		write_file(rules_path, rules);
	err[0] = '\0';
	rc = acl_load(tokens_path, rules ? rules_path : NULL, &acl, err, sizeof err);
	ck_assert_ptr_null(acl);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
	return rc;
}

#define TOKENS "alice-token-0123456789 alice\n" \
               "\n# operators\n" \
               "bob-token-0123456789ab\tbob\n"

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(tokens_path, sizeof tokens_path, "%s/tokens", dir);
	snprintf(rules_path, sizeof rules_path, "%s/acls", dir);
}

static void teardown(void)
{
	unlink(tokens_path);
	unlink(rules_path);
	rmdir(dir);
	strcpy(dir, "/tmp/strand-test-acl-XXXXXX");
}

START_TEST(test_tokens_authenticate_exactly)
{
	acl_t *acl = load(TOKENS, NULL);
	const char *t = "alice-token-0123456789";

	ck_assert_uint_eq(acl_token_count(acl), 2);
	ck_assert_str_eq(acl_authenticate(acl, t, strlen(t)), "alice");
	ck_assert_str_eq(acl_authenticate(acl, "bob-token-0123456789ab", 22), "bob");
	ck_assert_ptr_null(acl_authenticate(acl, t, strlen(t) - 1));          /* a prefix */
	ck_assert_ptr_null(acl_authenticate(acl, "alice-token-01234567890", 23)); /* longer */
	ck_assert_ptr_null(acl_authenticate(acl, "Alice-token-0123456789", 22));
	ck_assert_ptr_null(acl_authenticate(acl, "", 0));
	/* no ACL file: authenticated principals may do everything, others nothing */
	ck_assert_int_eq(acl_enforced(acl), 0);
	ck_assert_int_eq(acl_allows(acl, "bob", ACL_ADMIN, ACL_CLUSTER, NULL), 1);
	ck_assert_int_eq(acl_allows(acl, NULL, ACL_DESCRIBE, ACL_TOPIC, "t"), 0);
	acl_free(acl);
}
END_TEST

START_TEST(test_rules_imply_prefix_and_default_deny)
{
	acl_t *acl = load(TOKENS,
	                  "# who may do what\n"
	                  "alice write topic orders*\n"
	                  "alice admin group ops\n"
	                  "bob   read  topic orders\n"
	                  "*     describe cluster *\n"
	                  "bob   admin topic *\n");

	ck_assert_uint_eq(acl_rule_count(acl), 5);
	ck_assert_int_eq(acl_enforced(acl), 1);
	/* write on a prefix, implying describe, not read */
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_WRITE, ACL_TOPIC, "orders"), 1);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_WRITE, ACL_TOPIC, "orders-eu"), 1);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_DESCRIBE, ACL_TOPIC, "orders-eu"), 1);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_READ, ACL_TOPIC, "orders"), 0);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_WRITE, ACL_TOPIC, "order"), 0);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_WRITE, ACL_TOPIC, "payments"), 0);
	/* admin implies everything on its resource, nothing elsewhere */
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_READ, ACL_GROUP, "ops"), 1);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_ADMIN, ACL_GROUP, "ops"), 1);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_READ, ACL_GROUP, "ops2"), 0);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_ADMIN, ACL_TOPIC, "orders"), 0);
	/* exact name: no prefix match */
	ck_assert_int_eq(acl_allows(acl, "bob", ACL_READ, ACL_TOPIC, "orders"), 1);
	ck_assert_int_eq(acl_allows(acl, "bob", ACL_WRITE, ACL_TOPIC, "orders"), 1); /* admin topic * */
	ck_assert_int_eq(acl_allows(acl, "bob", ACL_READ, ACL_GROUP, "ops"), 0);
	/* wildcard principal, cluster resource */
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_DESCRIBE, ACL_CLUSTER, NULL), 1);
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_ADMIN, ACL_CLUSTER, NULL), 0);
	/* unauthenticated: nothing */
	ck_assert_int_eq(acl_allows(acl, NULL, ACL_DESCRIBE, ACL_CLUSTER, NULL), 0);
	acl_free(acl);
}
END_TEST

/* Kafka's ClusterAction: brokers' right, given by its own rule only */
START_TEST(test_cluster_action_is_granted_only_by_its_own_rule)
{
	acl_t *acl = load(TOKENS "broker-token-0123456789 broker-1\n",
	                  "broker-1 cluster_action cluster *\n"
	                  "alice admin cluster *\n"
	                  "alice admin topic *\n");

	ck_assert_int_eq(acl_allows(acl, "broker-1", ACL_CLUSTER_ACTION, ACL_CLUSTER, NULL), 1);
	/* admin (Kafka's All would) does not imply it */
	ck_assert_int_eq(acl_allows(acl, "alice", ACL_CLUSTER_ACTION, ACL_CLUSTER, NULL), 0);
	ck_assert_int_eq(acl_allows(acl, "bob", ACL_CLUSTER_ACTION, ACL_CLUSTER, NULL), 0);
	/* and it implies nothing: a broker's token reads no topic by itself */
	ck_assert_int_eq(acl_allows(acl, "broker-1", ACL_DESCRIBE, ACL_CLUSTER, NULL), 0);
	ck_assert_int_eq(acl_allows(acl, "broker-1", ACL_READ, ACL_TOPIC, "orders"), 0);
	ck_assert_int_eq(acl_knows_principal(acl, "broker-1"), 1);
	ck_assert_int_eq(acl_knows_principal(acl, "alice"), 1);
	ck_assert_int_eq(acl_knows_principal(acl, "mallory"), 0);
	acl_free(acl);
}
END_TEST

START_TEST(test_bad_files_are_refused_with_file_and_line)
{
	ck_assert_int_eq(load_fails("short alice\n", NULL, "tokens:1: a token must have"),
	                 STRAND_EINVAL);
	load_fails("alice-token-0123456789\n", NULL, "tokens:1: want `TOKEN PRINCIPAL`");
	load_fails("alice-token-0123456789 alice extra\n", NULL, "tokens:1:");
	load_fails(TOKENS "alice-token-0123456789 carol\n", NULL, "tokens:5: the same token twice");
	load_fails("alice-token-0123456789 *\n", NULL, "bad principal");
	load_fails("# nothing\n", NULL, "holds no token");
	load_fails(TOKENS, "alice write topic\n", "acls:1: want `PRINCIPAL");
	load_fails(TOKENS, "\nalice delete topic x\n", "acls:2: operation must be");
	load_fails(TOKENS, "alice read queue x\n", "acls:1: resource type must be");
	load_fails(TOKENS, "alice read topic a*b\n", "acls:1: a pattern is a name");
	load_fails(TOKENS, "alice read topic **\n", "acls:1: a pattern is a name");
	load_fails(TOKENS, "alice cluster_action topic x\n", "acls:1: cluster_action is an "
	           "operation on the cluster only");
	ck_assert_int_eq(acl_load("/nonexistent/tokens", NULL, &(acl_t *){ NULL }, err, sizeof err),
	                 STRAND_EIO);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/tokens"));
}
END_TEST

START_TEST(test_overlong_line_is_refused)
{
	char *text = malloc(ACL_MAX_LINE + 64);

	memset(text, 'a', ACL_MAX_LINE + 40);
	memcpy(text + ACL_MAX_LINE + 40, " alice\n", 8);
	load_fails(text, NULL, "longer than");
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("files");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tokens_authenticate_exactly);
	tcase_add_test(tc, test_rules_imply_prefix_and_default_deny);
	tcase_add_test(tc, test_bad_files_are_refused_with_file_and_line);
	tcase_add_test(tc, test_cluster_action_is_granted_only_by_its_own_rule);
	tcase_add_test(tc, test_overlong_line_is_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
