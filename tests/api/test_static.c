/*
 * test_static.c — the files a broker serves outside /v1 (api/static.c):
 * the dashboard directory at / (--www-dir) and extra mounts (--mounts), on
 * a real broker. Content types, the directory index and its redirect,
 * ETag / If-None-Match and Last-Modified / If-Modified-Since (304), HEAD,
 * 404 problem+json for missing files and for every /v1 path, and no way
 * out of a mount: `..` raw or percent-encoded, dot files, symlinks that
 * point outside, a file mount's neighbours.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static harness_t srv;
static char root[256], www[300], docs[300], mounts[700];

#define ASSERT_STATUS(r, want) \
	ck_assert_msg((r).status == (want), "%s:%d: status %ld, expected %d; body: %.300s%s%s", \
	              __FILE__, __LINE__, (r).status, (want), \
	              (r).body.data ? (r).body.data : "", (r).error[0] ? "; curl: " : "", (r).error)

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/*
 * root/www/        index.html app.js style.css data.json logo.svg blob.bin
 *                  .secret  sub/index.html  out -> ../outside
 * root/outside/    secret.txt   (never served)
 * root/docs.html   mounted alone at /docs
 * root/assets/     mounted at /docs/assets (longer prefix than /docs)
 */
static void setup(void)
{
	char path[600];

	snprintf(root, sizeof root, "%s/strand-test-static-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(www, sizeof www, "%s/www", root);
	ck_assert_int_eq(mkdir(www, 0755), 0);
	write_file(www, "index.html", "<!doctype html><title>dash</title>");
	write_file(www, "app.js", "console.log('strand');\n");
	write_file(www, "style.css", "body{}\n");
	write_file(www, "data.json", "{}\n");
	write_file(www, "logo.svg", "<svg/>\n");
	write_file(www, "blob.bin", "\x01\x02");
	write_file(www, ".secret", "dot file\n");
	snprintf(path, sizeof path, "%s/sub", www);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	write_file(path, "index.html", "<p>sub index</p>");
	snprintf(path, sizeof path, "%s/outside", root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	write_file(path, "secret.txt", "TOP SECRET\n");
	snprintf(path, sizeof path, "%s/out", www);
	ck_assert_int_eq(symlink("../outside", path), 0);
	snprintf(path, sizeof path, "%s/escape.txt", www);
	ck_assert_int_eq(symlink("../outside/secret.txt", path), 0);
	write_file(root, "docs.html", "<h1>API reference</h1>");
	snprintf(path, sizeof path, "%s/assets", root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	write_file(path, "docs.css", "h1{}\n");
	snprintf(docs, sizeof docs, "%s/docs.html", root);
	snprintf(mounts, sizeof mounts, "/docs=%s,/docs/assets=%s/assets", docs, root);

	memset(&srv, 0, sizeof srv);
	srv.extra_args[0] = "--www-dir";
	srv.extra_args[1] = www;
	srv.extra_args[2] = "--mounts";
	srv.extra_args[3] = mounts;
	ck_assert_msg(harness_start(&srv) == 0, "start: %s", harness_log_tail(&srv));
}

static void teardown(void)
{
	char cmd[400];

	harness_teardown(&srv);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

/* GET path: expect 200 with this content type and body. */
static void expect_file(const char *path, const char *type, const char *body)
{
	http_response_t r;
	char ct[128];

	http_get(&srv, path, &r);
	ASSERT_STATUS(r, 200);
	ck_assert_msg(http_header(&r, "Content-Type", ct, sizeof ct) != NULL, "%s: no type", path);
	ck_assert_msg(strcmp(ct, type) == 0, "%s: Content-Type %s, expected %s", path, ct, type);
	ck_assert_msg(r.body.len == strlen(body) && memcmp(r.body.data, body, r.body.len) == 0,
	              "%s: body %.*s, expected %s", path, (int)r.body.len, r.body.data, body);
	http_response_free(&r);
}

static void expect_not_found(const char *method, const char *path)
{
	http_response_t r;
	char why[600];

	http_request(&srv, method, path, NULL, NULL, 0, NULL, &r);
	if (strcmp(method, "HEAD") == 0) {   /* no body to read the problem from */
		ck_assert_msg(r.status == 404, "HEAD %s: %ld", path, r.status);
		http_response_free(&r);
		return;
	}
	ck_assert_msg(http_is_problem(&r, 404, "NOT_FOUND", why, sizeof why),
	              "%s %s: %s; body %.200s", method, path, why, r.body.data ? r.body.data : "");
	ck_assert_msg(r.body.data == NULL || strstr(r.body.data, "SECRET") == NULL,
	              "%s leaked the secret", path);
	http_response_free(&r);
}

START_TEST(test_files_get_their_content_types)
{
	expect_file("/", "text/html; charset=utf-8", "<!doctype html><title>dash</title>");
	expect_file("/index.html", "text/html; charset=utf-8", "<!doctype html><title>dash</title>");
	expect_file("/app.js", "text/javascript; charset=utf-8", "console.log('strand');\n");
	expect_file("/style.css", "text/css; charset=utf-8", "body{}\n");
	expect_file("/data.json", "application/json", "{}\n");
	expect_file("/logo.svg", "image/svg+xml", "<svg/>\n");
	expect_file("/blob.bin", "application/octet-stream", "\x01\x02");
	expect_file("/sub/", "text/html; charset=utf-8", "<p>sub index</p>");
}
END_TEST

START_TEST(test_html_carries_security_headers)
{
	http_response_t r;
	char v[512];

	http_get(&srv, "/", &r);
	ASSERT_STATUS(r, 200);
	ck_assert_ptr_nonnull(http_header(&r, "Content-Security-Policy", v, sizeof v));
	ck_assert_msg(strstr(v, "default-src 'self'") != NULL, "CSP: %s", v);
	ck_assert_str_eq(http_header(&r, "X-Content-Type-Options", v, sizeof v), "nosniff");
	ck_assert_str_eq(http_header(&r, "Cache-Control", v, sizeof v), "no-cache");
	http_response_free(&r);
}
END_TEST

START_TEST(test_directory_without_slash_redirects)
{
	http_response_t r;
	char loc[256];

	http_get(&srv, "/sub", &r);
	ASSERT_STATUS(r, 301);
	ck_assert_str_eq(http_header(&r, "Location", loc, sizeof loc), "/sub/");
	http_response_free(&r);
}
END_TEST

START_TEST(test_etag_and_last_modified_give_304)
{
	http_response_t r;
	char etag[128], lm[128], inm[200], ims[200];
	const char *h1[] = { inm, NULL }, *h2[] = { ims, NULL };
	const char *stale[] = { "If-None-Match: \"0-0\"", NULL };
	const char *old[] = { "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT", NULL };

	http_get(&srv, "/app.js", &r);
	ASSERT_STATUS(r, 200);
	ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof etag));
	ck_assert_ptr_nonnull(http_header(&r, "Last-Modified", lm, sizeof lm));
	ck_assert_msg(etag[0] == '"' && etag[strlen(etag) - 1] == '"', "ETag %s", etag);
	http_response_free(&r);

	snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
	http_request(&srv, "GET", "/app.js", NULL, NULL, 0, h1, &r);
	ASSERT_STATUS(r, 304);
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);

	snprintf(inm, sizeof inm, "If-None-Match: \"other\", W/%s", etag);
	http_request(&srv, "GET", "/app.js", NULL, NULL, 0, h1, &r);
	ASSERT_STATUS(r, 304);
	http_response_free(&r);

	http_request(&srv, "GET", "/app.js", NULL, NULL, 0, stale, &r);
	ASSERT_STATUS(r, 200);
	ck_assert_uint_eq(r.body.len, strlen("console.log('strand');\n"));
	http_response_free(&r);

	snprintf(ims, sizeof ims, "If-Modified-Since: %s", lm);
	http_request(&srv, "GET", "/app.js", NULL, NULL, 0, h2, &r);
	ASSERT_STATUS(r, 304);
	http_response_free(&r);

	http_request(&srv, "GET", "/app.js", NULL, NULL, 0, old, &r);
	ASSERT_STATUS(r, 200);
	http_response_free(&r);
}
END_TEST

START_TEST(test_head_has_length_and_no_body)
{
	http_response_t r;
	char len[32], ct[64];

	http_request(&srv, "HEAD", "/style.css", NULL, NULL, 0, NULL, &r);
	ASSERT_STATUS(r, 200);
	ck_assert_str_eq(http_header(&r, "Content-Length", len, sizeof len), "7");
	ck_assert_str_eq(http_header(&r, "Content-Type", ct, sizeof ct), "text/css; charset=utf-8");
	ck_assert_uint_eq(r.body.len, 0);
	http_response_free(&r);
}
END_TEST

START_TEST(test_missing_files_and_api_paths_are_404_problems)
{
	expect_not_found("GET", "/nothing.js");
	expect_not_found("GET", "/sub/nothing");
	expect_not_found("HEAD", "/nothing.js");
	expect_not_found("GET", "/v1/nothing");
	expect_not_found("GET", "/v1");
	expect_not_found("GET", "/v1/topics/");
	expect_not_found("POST", "/index.html");   /* files take GET and HEAD only */
}
END_TEST

START_TEST(test_no_path_leaves_the_mount)
{
	expect_not_found("GET", "/../outside/secret.txt");
	expect_not_found("GET", "/sub/../../outside/secret.txt");
	expect_not_found("GET", "/%2e%2e/outside/secret.txt");
	expect_not_found("GET", "/sub/..%2f..%2foutside%2fsecret.txt");
	expect_not_found("GET", "/%2E%2E%2Foutside%2Fsecret.txt");
	expect_not_found("GET", "/..%5coutside%5csecret.txt");
	expect_not_found("GET", "/./index.html");
	expect_not_found("GET", "/.secret");
	expect_not_found("GET", "/out/secret.txt");      /* symlinked directory */
	expect_not_found("GET", "/escape.txt");          /* symlinked file */
	expect_not_found("GET", "/docs/../outside/secret.txt");
	expect_not_found("GET", "/docs/x");              /* a file mount is one file */
	expect_not_found("GET", "/docsx");               /* prefixes end at a segment */
}
END_TEST

START_TEST(test_more_mounts_serve_files_and_directories)
{
	expect_file("/docs", "text/html; charset=utf-8", "<h1>API reference</h1>");
	expect_file("/docs/", "text/html; charset=utf-8", "<h1>API reference</h1>");
	expect_file("/docs/assets/docs.css", "text/css; charset=utf-8", "h1{}\n");
	/* the API is untouched by the mounts */
	{
		http_response_t r;

		http_get(&srv, "/v1/topics", &r);
		ASSERT_STATUS(r, 200);
		http_response_free(&r);
	}
}
END_TEST

START_TEST(test_bad_mounts_fail_to_start)
{
	harness_t h;
	char missing[400];

	snprintf(missing, sizeof missing, "%s/no-such-dir", root);
	memset(&h, 0, sizeof h);
	h.extra_args[0] = "--www-dir";
	h.extra_args[1] = missing;
	ck_assert_int_ne(harness_start(&h), 0);
	ck_assert_msg(strstr(harness_log_tail(&h), "no-such-dir") != NULL, "log: %s",
	              harness_log_tail(&h));
	harness_teardown(&h);

	memset(&h, 0, sizeof h);
	h.extra_args[0] = "--mounts";
	h.extra_args[1] = "/v1/x=/tmp";
	ck_assert_int_ne(harness_start(&h), 0);
	ck_assert_msg(strstr(harness_log_tail(&h), "/v1") != NULL, "log: %s", harness_log_tail(&h));
	harness_teardown(&h);
}
END_TEST

START_TEST(test_without_a_dashboard_root_is_a_page_of_links)
{
	harness_t h;
	http_response_t r;
	char ct[64];

	memset(&h, 0, sizeof h);
	h.extra_args[0] = "--www-dir";
	h.extra_args[1] = "";
	ck_assert_msg(harness_start(&h) == 0, "start: %s", harness_log_tail(&h));
	http_get(&h, "/", &r);
	ASSERT_STATUS(r, 200);
	ck_assert(strncmp(http_header(&r, "Content-Type", ct, sizeof ct), "text/html", 9) == 0);
	ck_assert(strstr(r.body.data, "/v1/topics") != NULL);
	http_response_free(&r);
	http_get(&h, "/app.js", &r);
	ck_assert_int_eq(r.status, 404);
	http_response_free(&r);
	harness_teardown(&h);
}
END_TEST

static Suite *static_suite(void)
{
	Suite *s = suite_create("static");
	TCase *tc = tcase_create("mounted_files");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_files_get_their_content_types);
	tcase_add_test(tc, test_html_carries_security_headers);
	tcase_add_test(tc, test_directory_without_slash_redirects);
	tcase_add_test(tc, test_etag_and_last_modified_give_304);
	tcase_add_test(tc, test_head_has_length_and_no_body);
	tcase_add_test(tc, test_missing_files_and_api_paths_are_404_problems);
	tcase_add_test(tc, test_no_path_leaves_the_mount);
	tcase_add_test(tc, test_more_mounts_serve_files_and_directories);
	tcase_add_test(tc, test_bad_mounts_fail_to_start);
	tcase_add_test(tc, test_without_a_dashboard_root_is_a_page_of_links);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(static_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
