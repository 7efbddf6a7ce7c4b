/*
 * etcd_local.c — start a private single-member etcd on loopback
 * (etcd_local.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/etcd.h"
#include "cluster/etcd_local.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/proc.h"

#define ETCD_LOCAL_ATTEMPTS 3

static const char *etcd_local_bin(void)
{
	const char *b = getenv("STRAND_ETCD_BIN");

	return b != NULL && *b != '\0' ? b : "etcd";
}

int etcd_local_available(void)
{
	const char *bin = etcd_local_bin(), *path;
	char full[PATH_MAX], *copy, *dir, *save = NULL;
	int found = 0;

	if (strchr(bin, '/') != NULL)
		return access(bin, X_OK) == 0;
	path = getenv("PATH");
	copy = strdup(path != NULL ? path : "/usr/bin:/bin");
	for (dir = copy ? strtok_r(copy, ":", &save) : NULL; dir != NULL && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(full, sizeof full, "%s/%s", dir, bin);
		found = access(full, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* A loopback port free right now (the kernel's choice for port 0). etcd
 * cannot report a port it chose itself, so it is told one; if another
 * process takes it first, etcd exits and the caller picks again. */
static int etcd_local_free_port(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Poll /health until deadline; 0 healthy, ETIMEDOUT, or EIO when etcd exited. */
static int etcd_local_wait(const etcd_local_t *l, int64_t deadline, char *err, size_t errlen)
{
	etcd_options_t o = { l->client_url, 500, 200, l->ca_file[0] ? l->ca_file : NULL };
	etcd_t *e = NULL;
	int rc = etcd_open(&o, &e, err, errlen);

	while (rc == 0) {
		if (etcd_health(e, err, errlen) == 0)
			break;
		if (!proc_alive(l->pid)) {
			rc = strand_err_set(err, errlen, STRAND_EIO, "etcd exited while starting");
			break;
		}
		if (clock_now_ms() >= deadline) {
			rc = strand_err_set(err, errlen, STRAND_ETIMEDOUT,
			                    "etcd at %s not healthy in time", l->client_url);
			break;
		}
		clock_sleep_ms(20);
	}
	etcd_close(e);
	return rc;
}

/* Spawn etcd as l describes (URLs, data dir) with its output in DIR/etcd.log. */
static int etcd_local_spawn(const char *dir, int detach, etcd_local_t *l,
                            char *err, size_t errlen)
{
	char logp[PATH_MAX], cluster[160];
	char *argv[] = {
		(char *)etcd_local_bin(), "--name", "strand", "--data-dir", l->data_dir,
		"--listen-client-urls", l->client_url,
		"--advertise-client-urls", l->client_url,
		"--listen-peer-urls", l->peer_url,
		"--initial-advertise-peer-urls", l->peer_url,
		"--initial-cluster", cluster,
		"--logger", "zap", "--log-level", "warn",
		NULL, NULL, NULL, NULL, NULL
	};
	size_t n = sizeof argv / sizeof argv[0] - 5;

	if (l->cert_file[0] != '\0') {
		argv[n++] = "--cert-file";
		argv[n++] = l->cert_file;
		argv[n++] = "--key-file";
		argv[n++] = l->key_file;
	}

	snprintf(logp, sizeof logp, "%s/etcd.log", dir);
	snprintf(cluster, sizeof cluster, "strand=%s", l->peer_url);
	return proc_spawn(argv, logp, detach, &l->pid, err, errlen);
}

int etcd_local_start(const char *dir, int detach, int deadline_ms, etcd_local_t *out,
                     char *err, size_t errlen)
{
	return etcd_local_start_tls(dir, detach, deadline_ms, NULL, out, err, errlen);
}

int etcd_local_start_tls(const char *dir, int detach, int deadline_ms,
                         const etcd_local_tls_t *tls, etcd_local_t *out,
                         char *err, size_t errlen)
{
	int64_t deadline = clock_now_ms() + deadline_ms;
	int attempt, rc = STRAND_EIO, cport, pport;

	memset(out, 0, sizeof *out);
	if (tls != NULL) {
		snprintf(out->cert_file, sizeof out->cert_file, "%s", tls->cert_file);
		snprintf(out->key_file, sizeof out->key_file, "%s", tls->key_file);
		snprintf(out->ca_file, sizeof out->ca_file, "%s", tls->ca_file);
	}
	if (!etcd_local_available())
		return strand_err_set(err, errlen, STRAND_ENOENT, "no %s binary (install etcd-server: "
		                      "scripts/deps.sh)", etcd_local_bin());
	for (attempt = 0; attempt < ETCD_LOCAL_ATTEMPTS; attempt++) {
		/* a fresh data dir per attempt: a failed one may have recorded its peer URL */
		if (attempt == 0)
			snprintf(out->data_dir, sizeof out->data_dir, "%s/etcd.data", dir);
		else
			snprintf(out->data_dir, sizeof out->data_dir, "%s/etcd.data.%d", dir, attempt);
		cport = etcd_local_free_port();
		pport = etcd_local_free_port();
		if (cport <= 0 || pport <= 0 || cport == pport)
			continue;
		snprintf(out->client_url, sizeof out->client_url, "%s://127.0.0.1:%d",
		         tls != NULL ? "https" : "http", cport);
		snprintf(out->peer_url, sizeof out->peer_url, "http://127.0.0.1:%d", pport);
		rc = etcd_local_spawn(dir, detach, out, err, errlen);
		if (rc)
			return rc;
		rc = etcd_local_wait(out, deadline, err, errlen);
		if (rc == 0)
			return 0;
		proc_stop(out->pid, SIGKILL, 1000);
		out->pid = 0;
		if (rc == STRAND_ETIMEDOUT)
			return rc;
	}
	return strand_err_set(err, errlen, rc ? rc : STRAND_EIO,
	                      "etcd did not start (see %s/etcd.log)", dir);
}

int etcd_local_restart(const char *dir, int detach, int deadline_ms, etcd_local_t *l,
                       char *err, size_t errlen)
{
	int rc;

	if (proc_alive(l->pid))
		return strand_err_set(err, errlen, STRAND_EEXIST, "etcd %ld still runs",
		                      (long)l->pid);
	rc = etcd_local_spawn(dir, detach, l, err, errlen);
	if (rc == 0)
		rc = etcd_local_wait(l, clock_now_ms() + deadline_ms, err, errlen);
	if (rc != 0 && l->pid > 0) {
		proc_stop(l->pid, SIGKILL, 1000);
		l->pid = 0;
	}
	return rc;
}
