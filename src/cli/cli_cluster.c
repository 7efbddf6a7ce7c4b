/*
 * cli_cluster.c — `strand cluster up|down`: a whole cluster on this machine
 * for trying cluster mode (like `rpk container start`): a private etcd and
 * N brokers on loopback ports chosen at run time, every process detached
 * and recorded in a pid file under DIR, so that `down` (another process)
 * can stop them.
 *
 * `start --broker I` starts broker I again after it was killed or stopped,
 * on the port it had (so its URL, printed by `up`, stays right) with the
 * same etcd, data directory and lease; a restarted broker finds its ISR
 * place again by itself (docs/REPLICATION.md).
 *
 * `up --secure` brings the cluster up as docs/SECURITY.md describes a real
 * one: a private CA and a certificate for 127.0.0.1 made with the openssl
 * command; etcd and every broker serve HTTPS with it and verify each other
 * against the CA (--tls-ca-file); one token file and ACL file for all,
 * a token per broker (principal broker-<i>, cluster_action on the
 * cluster) and an administrator's token (principal admin, admin on
 * everything) for the person trying it; all secrets mode 0600.
 *
 * DIR layout:
 *   etcd.pid  etcd.url  etcd.log  etcd.data/  lease-ttl-s
 *   broker-<i>.pid  broker-<i>.url  broker-<i>/port  broker-<i>/data
 *   broker-<i>/strand.log (appended to across restarts)
 *   with --secure: pki/ (ca.pem, server.pem, server.key, ...)  tokens  acls
 *   admin.token  broker-<i>/token
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "cluster/etcd_local.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/proc.h"

#define CLUSTER_UP_MAX_BROKERS 32
#define CLUSTER_UP_DEADLINE_MS 20000   /* each process: listening and healthy */
#define CLUSTER_STOP_GRACE_MS  10000   /* SIGTERM, then SIGKILL */
#define CLUSTER_TOKEN_BYTES    24      /* random bytes per token (48 hex characters) */

/* --secure: where DIR keeps the CA, the certificate and the shared files. */
typedef struct cluster_sec {
	int  on;
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], tokens[PATH_MAX], acls[PATH_MAX];
} cluster_sec_t;

static void cluster_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand cluster up --brokers N --dir DIR [--lease-ttl-s S] [--secure]\n"
	        "       strand cluster start --broker I --dir DIR\n"
	        "       strand cluster down --dir DIR\n"
	        "\n"
	        "up:    start a private etcd and N brokers (1..%d) on 127.0.0.1, ports chosen\n"
	        "       at run time; print each broker's URL; pid files and logs go to DIR\n"
	        "       --secure: HTTPS from a private CA (DIR/pki/ca.pem), bearer tokens and\n"
	        "       ACLs, brokers authenticating to each other; the admin token is in\n"
	        "       DIR/admin.token (needs the openssl command)\n"
	        "start: start broker I of DIR again (after kill -9 $(cat DIR/broker-I.pid),\n"
	        "       say) on the same port, etcd, data directory and lease\n"
	        "down:  stop the brokers and etcd recorded in DIR (SIGTERM, SIGKILL after %d s)\n",
	        CLUSTER_UP_MAX_BROKERS, CLUSTER_STOP_GRACE_MS / 1000);
}

static int cluster_path(char *out, size_t cap, const char *dir, const char *name, int i)
{
	int n = i > 0 ? snprintf(out, cap, "%s/broker-%d%s", dir, i, name)
	              : snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int cluster_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "%s\n", text);
	return fclose(f);
}

/* Read the port a broker wrote with --port-file; 0 until there. */
static unsigned cluster_read_port(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned port = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%u", &port) != 1 || port > 65535)
		port = 0;
	fclose(f);
	return port;
}

static size_t cluster_discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p; (void)arg;
	return size * n;
}

/* GET url + /healthz (verified against ca, NULL: plain): 1 when it answers 200. */
static int cluster_healthy(const char *base, const char *ca)
{
	char url[128];
	CURL *c = curl_easy_init();
	long status = 0;

	if (c == NULL)
		return 0;
	snprintf(url, sizeof url, "%s/healthz", base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cluster_discard);
	if (ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status == 200;
}

/* ---- --secure: a private CA, tokens and ACLs ------------------------------- */

static void cluster_sec_paths(const char *dir, cluster_sec_t *s)
{
	snprintf(s->ca, sizeof s->ca, "%s/pki/ca.pem", dir);
	snprintf(s->cert, sizeof s->cert, "%s/pki/server.pem", dir);
	snprintf(s->key, sizeof s->key, "%s/pki/server.key", dir);
	snprintf(s->tokens, sizeof s->tokens, "%s/tokens", dir);
	snprintf(s->acls, sizeof s->acls, "%s/acls", dir);
}

/* Write a secret (mode 0600, replacing any file there). 0 or -1 (printed). */
static int cluster_write_secret(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	int ok;

	if (fd < 0) {
		fprintf(stderr, "strand: cluster: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len;
	if (close(fd) != 0 || !ok) {
		fprintf(stderr, "strand: cluster: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/* A token: CLUSTER_TOKEN_BYTES from the kernel's generator, in hex. */
static int cluster_new_token(char *out, size_t cap)
{
	unsigned char raw[CLUSTER_TOKEN_BYTES];
	size_t i;

	if (cap < 2 * sizeof raw + 1 || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return -1;
	for (i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof raw);
	return 0;
}

/* The CA and the certificate of 127.0.0.1 (and localhost), with openssl. */
static int cluster_make_pki(const char *dir)
{
	char cmd[3 * PATH_MAX];

	if (strchr(dir, '\'') != NULL) {
		fprintf(stderr, "strand: cluster: --secure needs a --dir without a ' in it\n");
		return -1;
	}
	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "strand: cluster: --secure makes its CA with the openssl command, "
		        "which is not installed\n");
		return -1;
	}
	snprintf(cmd, sizeof cmd,
	         "mkdir -p '%s/pki' && cd '%s/pki' && umask 077 && ( "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "  -keyout ca.key -out ca.pem -days 30 -subj /CN=strand-cluster-up-ca && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "  -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
	         "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
	         "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "  -out server.pem -days 30 -extfile san.ext && chmod 644 ca.pem server.pem "
	         ") >openssl.log 2>&1", dir, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "strand: cluster: openssl could not make the CA (see %s/pki/openssl.log)\n",
		        dir);
		return -1;
	}
	return 0;
}

/* The shared token and ACL files, each broker's token file, admin.token. */
static int cluster_make_tokens(const char *dir, long brokers, const cluster_sec_t *sec)
{
	char tokens[(CLUSTER_UP_MAX_BROKERS + 1) * 96], acls[(CLUSTER_UP_MAX_BROKERS + 4) * 64];
	char token[2 * CLUSTER_TOKEN_BYTES + 2], path[PATH_MAX], line[128];
	size_t tl = 0, al = 0;
	long i;
	int rc = -1;

	token[0] = line[0] = '\0';
	if (cluster_new_token(token, sizeof token) != 0)
		goto no_random;
	tl += (size_t)snprintf(tokens + tl, sizeof tokens - tl, "%s admin\n", token);
	al += (size_t)snprintf(acls + al, sizeof acls - al, "admin admin cluster *\n"
	                       "admin admin topic *\nadmin admin group *\n");
	strcat(token, "\n");
	cluster_path(path, sizeof path, dir, "admin.token", 0);
	if (cluster_write_secret(path, token) != 0)
		goto out;
	for (i = 1; i <= brokers; i++) {
		if (cluster_new_token(token, sizeof token) != 0)
			goto no_random;
		tl += (size_t)snprintf(tokens + tl, sizeof tokens - tl, "%s broker-%ld\n", token, i);
		al += (size_t)snprintf(acls + al, sizeof acls - al, "broker-%ld cluster_action "
		                       "cluster *\n", i);
		cluster_path(path, sizeof path, dir, "", (int)i);
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "strand: cluster: mkdir %s: %s\n", path, strerror(errno));
			goto out;
		}
		snprintf(line, sizeof line, "%s\n", token);
		cluster_path(path, sizeof path, dir, "/token", (int)i);
		if (cluster_write_secret(path, line) != 0)
			goto out;
	}
	if (cluster_write_secret(sec->tokens, tokens) == 0 &&
	    cluster_write_secret(sec->acls, acls) == 0)
		rc = 0;
	goto out;
no_random:
	fprintf(stderr, "strand: cluster: no random bytes for tokens: %s\n", strerror(errno));
out:
	explicit_bzero(tokens, sizeof tokens);
	explicit_bzero(token, sizeof token);
	explicit_bzero(line, sizeof line);
	return rc;
}

/* Start broker i, wait until it listens and answers; its URL into url. */
static int cluster_start_broker(const char *self, const char *dir, int i, const char *etcd_url,
                                const char *lease_ttl, unsigned want_port,
                                const cluster_sec_t *sec, int detach, pid_t *pid_out,
                                char *url, size_t urlcap)
{
	char bdir[PATH_MAX], data[PATH_MAX], portf[PATH_MAX], logp[PATH_MAX], pidf[PATH_MAX];
	char tokenf[PATH_MAX];
	char idtext[16], listen[32], err[256];
	int64_t deadline = clock_now_ms() + CLUSTER_UP_DEADLINE_MS;
	unsigned port = 0;
	pid_t pid;

	snprintf(idtext, sizeof idtext, "%d", i);
	snprintf(listen, sizeof listen, "127.0.0.1:%u", want_port);
	if (cluster_path(bdir, sizeof bdir, dir, "", i) || cluster_path(pidf, sizeof pidf, dir,
	    ".pid", i) || snprintf(data, sizeof data, "%s/data", bdir) >= (int)sizeof data ||
	    snprintf(portf, sizeof portf, "%s/port", bdir) >= (int)sizeof portf ||
	    snprintf(logp, sizeof logp, "%s/strand.log", bdir) >= (int)sizeof logp) {
		fprintf(stderr, "strand: cluster: path under %s too long\n", dir);
		return -1;
	}
	if (mkdir(bdir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "strand: cluster: mkdir %s: %s\n", bdir, strerror(errno));
		return -1;
	}
	unlink(portf);
	if (cluster_path(tokenf, sizeof tokenf, dir, "/token", i) != 0)
		return -1;
	{
		char *argv[] = {
			(char *)self, "serve", "--broker-id", idtext, "--etcd", (char *)etcd_url,
			"--listen", listen, "--port-file", portf, "--data-dir", data,
			"--lease-ttl-s", (char *)lease_ttl,
			"--auth-file", (char *)sec->tokens, "--acl-file", (char *)sec->acls,
			"--broker-token-file", tokenf, "--tls-cert", (char *)sec->cert,
			"--tls-key", (char *)sec->key, "--tls-ca-file", (char *)sec->ca, NULL
		};

		if (!sec->on)
			argv[14] = NULL;    /* plain: no security arguments */
		if (lease_ttl == NULL)      /* the broker's default lease */
			memmove(argv + 12, argv + 14, sizeof argv - 14 * sizeof argv[0]);

		if (proc_spawn(argv, logp, detach, &pid, err, sizeof err) != 0) {
			fprintf(stderr, "strand: cluster: broker %d: %s\n", i, err);
			return -1;
		}
	}
	*pid_out = pid;
	if (proc_write_pid_file(pidf, pid) != 0) {
		fprintf(stderr, "strand: cluster: cannot write %s\n", pidf);
		proc_stop(pid, SIGKILL, 1000);
		return -1;
	}
	while (clock_now_ms() < deadline) {
		if (!proc_alive(pid)) {
			fprintf(stderr, "strand: cluster: broker %d exited while starting (see %s)\n",
			        i, logp);
			return -1;
		}
		if (port == 0)
			port = cluster_read_port(portf);
		if (port != 0) {
			snprintf(url, urlcap, "%s://127.0.0.1:%u", sec->on ? "https" : "http", port);
			if (cluster_healthy(url, sec->on ? sec->ca : NULL))
				break;
		}
		clock_sleep_ms(20);
	}
	if (port == 0 || !cluster_healthy(url, sec->on ? sec->ca : NULL)) {
		fprintf(stderr, "strand: cluster: broker %d not up within %d s (see %s)\n", i,
		        CLUSTER_UP_DEADLINE_MS / 1000, logp);
		return -1;
	}
	if (cluster_path(pidf, sizeof pidf, dir, ".url", i) == 0)
		(void)cluster_write_text(pidf, url);
	return 0;
}

int cli_cluster_start_broker(const char *self, const char *dir, int i, const char *etcd_url,
                             const char *lease_ttl, unsigned want_port, int detach,
                             pid_t *pid_out, char *url, size_t urlcap)
{
	cluster_sec_t plain;

	memset(&plain, 0, sizeof plain);
	return cluster_start_broker(self, dir, i, etcd_url, lease_ttl, want_port, &plain, detach,
	                            pid_out, url, urlcap);
}

/* Stop what DIR records: brokers first (they leave etcd cleanly), then etcd.
 * Returns how many processes were running. */
static int cluster_stop_all(const char *dir)
{
	char path[PATH_MAX];
	pid_t pid;
	int i, running = 0;

	for (i = 1; i <= CLUSTER_UP_MAX_BROKERS; i++) {
		if (cluster_path(path, sizeof path, dir, ".pid", i) != 0)
			break;
		pid = proc_read_pid_file(path);
		if (pid > 0 && proc_alive(pid)) {
			running++;
			proc_stop(pid, SIGTERM, CLUSTER_STOP_GRACE_MS);
		}
		unlink(path);
	}
	cluster_path(path, sizeof path, dir, "etcd.pid", 0);
	pid = proc_read_pid_file(path);
	if (pid > 0 && proc_alive(pid)) {
		running++;
		proc_stop(pid, SIGTERM, CLUSTER_STOP_GRACE_MS);
	}
	unlink(path);
	return running;
}

/* The path of this very binary, which the brokers run. */
static int cluster_self(char *self, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", self, cap - 1);

	if (n <= 0) {
		fprintf(stderr, "strand: cluster: cannot find my own binary: %s\n", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	return 0;
}

/* The first line of a text file cluster_write_text wrote; -1 if absent. */
static int cluster_read_text(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t len;

	if (f == NULL)
		return -1;
	if (fgets(out, (int)cap, f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	return len > 0 ? 0 : -1;
}

static int cluster_up(const char *dir, long brokers, const char *lease_ttl, int secure)
{
	char self[PATH_MAX], path[PATH_MAX], url[64], err[512];
	etcd_local_t etcd;
	cluster_sec_t sec;
	long i;
	int rc;

	if (cluster_self(self, sizeof self) != 0)
		return 1;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "strand: cluster: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	cluster_path(path, sizeof path, dir, "etcd.pid", 0);
	if (proc_alive(proc_read_pid_file(path))) {
		fprintf(stderr, "strand: cluster: %s already runs a cluster (strand cluster down "
		        "--dir %s)\n", dir, dir);
		return 1;
	}
	memset(&sec, 0, sizeof sec);
	cluster_sec_paths(dir, &sec);
	sec.on = secure;
	if (secure && (cluster_make_pki(dir) != 0 || cluster_make_tokens(dir, brokers, &sec) != 0))
		return 1;
	if (secure) {
		etcd_local_tls_t tls = { sec.cert, sec.key, sec.ca };

		rc = etcd_local_start_tls(dir, 1, CLUSTER_UP_DEADLINE_MS, &tls, &etcd, err, sizeof err);
	} else {
		rc = etcd_local_start(dir, 1, CLUSTER_UP_DEADLINE_MS, &etcd, err, sizeof err);
	}
	if (rc != 0) {
		fprintf(stderr, "strand: cluster: %s\n", err);
		return 1;
	}
	if (proc_write_pid_file(path, etcd.pid) != 0) {
		fprintf(stderr, "strand: cluster: cannot write %s\n", path);
		proc_stop(etcd.pid, SIGTERM, CLUSTER_STOP_GRACE_MS);
		return 1;
	}
	cluster_path(path, sizeof path, dir, "etcd.url", 0);
	(void)cluster_write_text(path, etcd.client_url);
	printf("etcd %s\n", etcd.client_url);
	if (secure) {
		cluster_path(path, sizeof path, dir, "admin.token", 0);
		printf("ca %s\nadmin-token %s\n", sec.ca, path);
	}
	fflush(stdout);
	cluster_path(path, sizeof path, dir, "lease-ttl-s", 0);
	(void)cluster_write_text(path, lease_ttl);
	for (i = 1; i <= brokers; i++) {
		pid_t pid;

		if (cluster_start_broker(self, dir, (int)i, etcd.client_url, lease_ttl, 0, &sec, 1,
		                         &pid, url, sizeof url) != 0) {
			cluster_stop_all(dir);
			return 1;
		}
		printf("broker %ld %s\n", i, url);
		fflush(stdout);
	}
	return 0;
}

/* Broker i of DIR again, on the port it had, with DIR's etcd and lease. */
static int cluster_start(const char *dir, long i)
{
	char self[PATH_MAX], path[PATH_MAX], etcd_url[256], lease_ttl[16], url[64];
	cluster_sec_t sec;
	unsigned port;
	pid_t pid;

	if (cluster_self(self, sizeof self) != 0)
		return 1;
	cluster_path(path, sizeof path, dir, "etcd.pid", 0);
	if (!proc_alive(proc_read_pid_file(path))) {
		fprintf(stderr, "strand: cluster: no cluster runs in %s (strand cluster up)\n", dir);
		return 1;
	}
	cluster_path(path, sizeof path, dir, "etcd.url", 0);
	if (cluster_read_text(path, etcd_url, sizeof etcd_url) != 0) {
		fprintf(stderr, "strand: cluster: cannot read %s\n", path);
		return 1;
	}
	cluster_path(path, sizeof path, dir, "lease-ttl-s", 0);
	if (cluster_read_text(path, lease_ttl, sizeof lease_ttl) != 0)
		snprintf(lease_ttl, sizeof lease_ttl, "4");   /* a DIR from before this file */
	cluster_path(path, sizeof path, dir, ".pid", (int)i);
	if (proc_alive(proc_read_pid_file(path))) {
		fprintf(stderr, "strand: cluster: broker %ld already runs (pid file %s)\n", i, path);
		return 1;
	}
	cluster_path(path, sizeof path, dir, "/port", (int)i);
	port = cluster_read_port(path);
	if (port == 0) {
		fprintf(stderr, "strand: cluster: broker %ld was never started in %s\n", i, dir);
		return 1;
	}
	memset(&sec, 0, sizeof sec);
	cluster_sec_paths(dir, &sec);
	sec.on = access(sec.ca, R_OK) == 0;    /* brought up with --secure */
	if (cluster_start_broker(self, dir, (int)i, etcd_url, lease_ttl, port, &sec, 1, &pid,
	                         url, sizeof url) != 0)
		return 1;
	printf("broker %ld %s\n", i, url);
	return 0;
}

int cli_cluster(int argc, char **argv)
{
	const char *dir = NULL, *lease_ttl = "4", *verb;
	long brokers = 3, broker = 0;
	char *end;
	int a, rc, secure = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cluster_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	verb = argv[1];
	for (a = 2; a < argc; a++) {
		if (a + 1 < argc && strcmp(argv[a], "--dir") == 0) {
			dir = argv[++a];
		} else if (a + 1 < argc && strcmp(argv[a], "--brokers") == 0) {
			errno = 0;
			brokers = strtol(argv[++a], &end, 10);
			if (errno != 0 || *end != '\0' || brokers < 1 || brokers > CLUSTER_UP_MAX_BROKERS) {
				fprintf(stderr, "strand: cluster: --brokers must be 1..%d\n",
				        CLUSTER_UP_MAX_BROKERS);
				return 2;
			}
		} else if (a + 1 < argc && strcmp(argv[a], "--broker") == 0) {
			errno = 0;
			broker = strtol(argv[++a], &end, 10);
			if (errno != 0 || *end != '\0' || broker < 1 || broker > CLUSTER_UP_MAX_BROKERS) {
				fprintf(stderr, "strand: cluster: --broker must be 1..%d\n",
				        CLUSTER_UP_MAX_BROKERS);
				return 2;
			}
		} else if (a + 1 < argc && strcmp(argv[a], "--lease-ttl-s") == 0) {
			lease_ttl = argv[++a];
		} else if (strcmp(argv[a], "--secure") == 0) {
			secure = 1;
		} else {
			fprintf(stderr, "strand: cluster: unknown argument %s\n", argv[a]);
			cluster_usage(stderr);
			return 2;
		}
	}
	if (dir == NULL) {
		fprintf(stderr, "strand: cluster: --dir DIR is required\n");
		return 2;
	}
	if (strcmp(verb, "up") == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = cluster_up(dir, brokers, lease_ttl, secure);
		curl_global_cleanup();
		return rc;
	}
	if (strcmp(verb, "start") == 0) {
		if (broker == 0) {
			fprintf(stderr, "strand: cluster: start needs --broker I\n");
			return 2;
		}
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = cluster_start(dir, broker);
		curl_global_cleanup();
		return rc;
	}
	if (strcmp(verb, "down") == 0) {
		rc = cluster_stop_all(dir);
		printf("stopped %d processes\n", rc);
		return 0;
	}
	fprintf(stderr, "strand: cluster: unknown command %s (up, start or down)\n", verb);
	return 2;
}
