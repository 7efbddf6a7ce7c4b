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
 * DIR layout:
 *   etcd.pid  etcd.url  etcd.log  etcd.data/  lease-ttl-s
 *   broker-<i>.pid  broker-<i>.url  broker-<i>/port  broker-<i>/data
 *   broker-<i>/strand.log (appended to across restarts)
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void cluster_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand cluster up --brokers N --dir DIR [--lease-ttl-s S]\n"
	        "       strand cluster start --broker I --dir DIR\n"
	        "       strand cluster down --dir DIR\n"
	        "\n"
	        "up:    start a private etcd and N brokers (1..%d) on 127.0.0.1, ports chosen\n"
	        "       at run time; print each broker's URL; pid files and logs go to DIR\n"
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

/* GET url + /healthz: 1 when it answers 200. */
static int cluster_healthy(const char *base)
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
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status == 200;
}

/* Start broker i, wait until it listens and answers; its URL into url. */
static int cluster_start_broker(const char *self, const char *dir, int i, const char *etcd_url,
                                const char *lease_ttl, unsigned want_port, char *url,
                                size_t urlcap)
{
	char bdir[PATH_MAX], data[PATH_MAX], portf[PATH_MAX], logp[PATH_MAX], pidf[PATH_MAX];
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
	{
		char *argv[] = {
			(char *)self, "serve", "--broker-id", idtext, "--etcd", (char *)etcd_url,
			"--listen", listen, "--port-file", portf, "--data-dir", data,
			"--lease-ttl-s", (char *)lease_ttl, NULL
		};

		if (proc_spawn(argv, logp, 1, &pid, err, sizeof err) != 0) {
			fprintf(stderr, "strand: cluster: broker %d: %s\n", i, err);
			return -1;
		}
	}
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
			snprintf(url, urlcap, "http://127.0.0.1:%u", port);
			if (cluster_healthy(url))
				break;
		}
		clock_sleep_ms(20);
	}
	if (port == 0 || !cluster_healthy(url)) {
		fprintf(stderr, "strand: cluster: broker %d not up within %d s (see %s)\n", i,
		        CLUSTER_UP_DEADLINE_MS / 1000, logp);
		return -1;
	}
	if (cluster_path(pidf, sizeof pidf, dir, ".url", i) == 0)
		(void)cluster_write_text(pidf, url);
	return 0;
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

static int cluster_up(const char *dir, long brokers, const char *lease_ttl)
{
	char self[PATH_MAX], path[PATH_MAX], url[64], err[512];
	etcd_local_t etcd;
	long i;

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
	if (etcd_local_start(dir, 1, CLUSTER_UP_DEADLINE_MS, &etcd, err, sizeof err) != 0) {
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
	fflush(stdout);
	cluster_path(path, sizeof path, dir, "lease-ttl-s", 0);
	(void)cluster_write_text(path, lease_ttl);
	for (i = 1; i <= brokers; i++) {
		if (cluster_start_broker(self, dir, (int)i, etcd.client_url, lease_ttl, 0, url,
		                         sizeof url) != 0) {
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
	unsigned port;

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
	if (cluster_start_broker(self, dir, (int)i, etcd_url, lease_ttl, port, url,
	                         sizeof url) != 0)
		return 1;
	printf("broker %ld %s\n", i, url);
	return 0;
}

int cli_cluster(int argc, char **argv)
{
	const char *dir = NULL, *lease_ttl = "4", *verb;
	long brokers = 3, broker = 0;
	char *end;
	int a, rc;

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
		rc = cluster_up(dir, brokers, lease_ttl);
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
