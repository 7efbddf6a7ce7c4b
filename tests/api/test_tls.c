/*
 * test_tls.c — `strand serve --tls-cert/--tls-key` (issue 11: "TLS works
 * with curl --cacert"; "fetch without sendfile over TLS is tested").
 *
 * The test makes its own CA and a server certificate for 127.0.0.1 with
 * the openssl command, starts a broker with them and drives it over HTTPS
 * verifying the peer against that CA: produce, JSON fetch, binary fetch
 * (a file response, which libmicrohttpd must encrypt in user space instead
 * of sendfile) byte-compared with the same range over a second, plain
 * broker on the same data; a client that does not trust the CA and a
 * plain-HTTP client are refused; bad TLS options stop the start with a
 * clear message.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static harness_t srv;
static char pki[256];        /* temp dir with ca.pem, server.pem, server.key */
static char ca_path[300], cert_path[300], key_path[300];

static int make_pki(void)
{
	char cmd[2048];

	snprintf(pki, sizeof pki, "%s/strand-test-pki-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(pki) == NULL)
		return -1;
	snprintf(ca_path, sizeof ca_path, "%s/ca.pem", pki);
	snprintf(cert_path, sizeof cert_path, "%s/server.pem", pki);
	snprintf(key_path, sizeof key_path, "%s/server.key", pki);
	snprintf(cmd, sizeof cmd,
	         "cd '%s' && ( "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "  -keyout ca.key -out ca.pem -days 2 -subj /CN=strand-test-ca && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "  -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
	         "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
	         "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "  -out server.pem -days 2 -extfile san.ext ) >openssl.log 2>&1",
	         pki);
	return system(cmd) == 0 ? 0 : -1;
}

static void remove_pki(void)
{
	char cmd[400];

	if (pki[0] != '\0' && strstr(pki, "strand-test-pki-") != NULL) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki);
		if (system(cmd) != 0)
			fprintf(stderr, "test_tls: could not remove %s\n", pki);
	}
}

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * n;
}

/* GET url with curl verifying against ca (NULL: the system's CAs). Status, 0 on failure. */
static long get_with(const char *url, const char *ca, CURLcode *cc_out)
{
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode cc;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cc_out != NULL)
		*cc_out = cc;
	return status;
}

static void setup(void)
{
	ck_assert_msg(make_pki() == 0, "openssl could not make the test CA (see %s/openssl.log)", pki);
	memset(&srv, 0, sizeof srv);
	srv.extra_args[0] = "--tls-cert";
	srv.extra_args[1] = cert_path;
	srv.extra_args[2] = "--tls-key";
	srv.extra_args[3] = key_path;
	srv.tls_ca = ca_path;
	ck_assert_msg(harness_start(&srv) == 0, "broker did not start with TLS: %s",
	              harness_log_tail(&srv));
}

static void teardown(void)
{
	harness_teardown(&srv);
	remove_pki();
}

START_TEST(test_https_produce_fetch_json_and_binary)
{
	static char body[200 * 1024];
	http_response_t r, plain_r;
	harness_t plain;
	size_t len = 0;
	char len_hdr[32];
	cJSON *doc;
	double secs;
	struct timespec t0, t1;

	ck_assert_int_eq(strncmp(srv.base_url, "https://", 8), 0);
	ck_assert_int_eq(http_json(&srv, "POST", "/v1/topics", "{\"name\":\"tls\",\"partitions\":1}",
	                           &r), 201);
	http_response_free(&r);

	/* ~150 KiB of records in 10 requests */
	for (int req = 0; req < 10; req++) {
		len = (size_t)snprintf(body, sizeof body, "{\"records\":[");
		for (int i = 0; i < 100; i++)
			len += (size_t)snprintf(body + len, sizeof body - len,
			                        "%s{\"key\":\"k%d\",\"value\":\"%0150d\"}", i ? "," : "",
			                        i, req * 100 + i);
		len += (size_t)snprintf(body + len, sizeof body - len, "]}");
		ck_assert_int_eq(http_request(&srv, "POST", "/v1/topics/tls/partitions/0/records?acks=all",
		                              "application/json", body, len, NULL, &r), 200);
		http_response_free(&r);
	}

	/* JSON fetch over TLS */
	ck_assert_int_eq(http_get(&srv, "/v1/topics/tls/partitions/0/records?offset=999&max_records=5",
	                          &r), 200);
	doc = http_body_json(&r);
	ck_assert_int_eq((int)cJSON_GetObjectItem(doc, "next_offset")->valuedouble, 1000);
	cJSON_Delete(doc);
	http_response_free(&r);

	/* binary fetch: a file response, encrypted without sendfile */
	{
		const char *accept[] = { "Accept: application/vnd.strand.batch", NULL };

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ck_assert_int_eq(http_request(&srv, "GET",
		                              "/v1/topics/tls/partitions/0/records?offset=0&max_bytes=1048576",
		                              NULL, NULL, 0, accept, &r), 200);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ck_assert_ptr_nonnull(http_header(&r, "Content-Length", len_hdr, sizeof len_hdr));
		ck_assert_int_eq(strtoull(len_hdr, NULL, 10), r.body.len);
		ck_assert_int_gt(r.body.len, 100000);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("binary fetch over TLS: %zu bytes in %.2f ms\n", r.body.len, secs * 1e3);

		/* the same range from a plain-HTTP broker on the same data: same bytes */
		ck_assert_int_eq(harness_stop(&srv, SIGTERM), 0);
		memset(&plain, 0, sizeof plain);
		plain = srv;
		memset(plain.extra_args, 0, sizeof plain.extra_args);
		plain.tls_ca = NULL;
		ck_assert_int_eq(harness_restart(&plain), 0);
		ck_assert_int_eq(http_request(&plain, "GET",
		                              "/v1/topics/tls/partitions/0/records?offset=0&max_bytes=1048576",
		                              NULL, NULL, 0, accept, &plain_r), 200);
		ck_assert_uint_eq(plain_r.body.len, r.body.len);
		ck_assert_int_eq(memcmp(plain_r.body.data, r.body.data, r.body.len), 0);
		http_response_free(&plain_r);
		ck_assert_int_eq(harness_stop(&plain, SIGTERM), 0);
		srv.pid = 0;
		ck_assert_int_eq(harness_restart(&srv), 0);
	}
	http_response_free(&r);
}
END_TEST

START_TEST(test_untrusted_and_plain_clients_are_refused)
{
	char url[128];
	CURLcode cc;

	/* verification against the system's CAs (which do not include ours) fails */
	snprintf(url, sizeof url, "%s/healthz", srv.base_url);
	ck_assert_int_eq(get_with(url, NULL, &cc), 0);
	ck_assert_msg(cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
	              cc == CURLE_SSL_CONNECT_ERROR,
	              "untrusted client: %s", curl_easy_strerror(cc));
	/* with our CA it works */
	ck_assert_int_eq(get_with(url, ca_path, &cc), 200);
	/* plain HTTP to the TLS port gets no HTTP answer */
	snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", (unsigned)srv.port);
	ck_assert_int_ne(get_with(url, NULL, &cc), 200);
}
END_TEST

/* A certificate without its key, or a file that is not PEM: no start, a clear message. */
START_TEST(test_bad_tls_options_stop_the_start)
{
	const char *bin = getenv("STRAND_BIN") ? getenv("STRAND_BIN") : "./strand";
	char cmd[2400], out[300], *text;
	FILE *f;
	size_t n;

	snprintf(out, sizeof out, "%s/bad-start.log", pki);
	snprintf(cmd, sizeof cmd,
	         "\"%s\" serve --listen 127.0.0.1:0 --data-dir '%s/d1' --tls-cert '%s' 2>'%s'",
	         bin, pki, cert_path, out);
	ck_assert_int_ne(system(cmd), 0);
	snprintf(cmd, sizeof cmd,
	         "\"%s\" serve --listen 127.0.0.1:0 --data-dir '%s/d2' --tls-cert '%s' "
	         "--tls-key '%s/openssl.log' 2>>'%s'",
	         bin, pki, cert_path, pki, out);
	ck_assert_int_ne(system(cmd), 0);
	f = fopen(out, "r");
	ck_assert_ptr_nonnull(f);
	text = calloc(1, 4096);
	n = fread(text, 1, 4095, f);
	fclose(f);
	ck_assert_int_gt(n, 0);
	ck_assert_msg(strstr(text, "TLS needs both a certificate and a key") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "is not a PEM file") != NULL, "%s", text);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("https");
	SRunner *sr;
	int failed;

	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_tls: no openssl command to make a test CA: skipped\n");
		return 77;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_https_produce_fetch_json_and_binary);
	tcase_add_test(tc, test_untrusted_and_plain_clients_are_refused);
	tcase_add_test(tc, test_bad_tls_options_stop_the_start);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
