/*
 * cluster_harness.c — etcd, brokers and relays for the fault tests
 * (cluster_harness.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>

#include "cluster/cluster.h"
#include "cluster/etcd.h"
#include "cluster/etcd_local.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/proc.h"
#include "tests/cluster/cluster_harness.h"

#define TC_START_DEADLINE_MS  30000
#define TC_STOP_DEADLINE_MS   10000
#define TC_POLL_MS            20      /* between two looks at a condition */
#define TC_CONTROL_TIMEOUT_MS 3000    /* one control-plane request */
#define RELAY_MAX_PAIRS       128
#define RELAY_BUF             65536

/* ---- relays: a TCP byte pipe that a test can cut ------------------------- */

typedef struct relay_dir {
	char   buf[RELAY_BUF];
	size_t len, off;
	int    eof;                  /* the source sent FIN; forwarded once drained */
} relay_dir_t;

typedef struct relay_pair {
	int         down, up;        /* client side, upstream side (-1: not connected yet) */
	relay_dir_t to_up, to_down;
} relay_pair_t;

typedef struct relay {
	pthread_t       thread;
	pthread_mutex_t lock;
	pthread_cond_t  applied_cv;      /* the thread took the latest change */
	uint64_t        gen, applied;    /* changes made, changes the thread took */
	int             listen_fd, wake[2];
	int             upstream_port;   /* 0: not known yet (connections refused) */
	tcluster_net_t  mode;
	int             stopping;
	char            url[64];
	relay_pair_t   *pairs[RELAY_MAX_PAIRS];
} relay_t;

static void relay_pair_close(relay_t *r, int i)
{
	relay_pair_t *p = r->pairs[i];
	struct linger lg = { 1, 0 };

	if (p == NULL)
		return;
	/* an abortive close: the peer sees a reset, as when a host goes away */
	setsockopt(p->down, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(p->down);
	if (p->up >= 0) {
		setsockopt(p->up, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(p->up);
	}
	free(p);
	r->pairs[i] = NULL;
}

static int relay_connect_up(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Move bytes src -> d -> dst as far as possible without blocking.
 * 0, or -1 when the pair is finished or broken. */
static int relay_move(int src, relay_dir_t *d, int dst, short src_ev, short dst_ev)
{
	ssize_t n;

	if ((src_ev & (POLLIN | POLLHUP | POLLERR)) && d->len == 0 && !d->eof) {
		n = recv(src, d->buf, sizeof d->buf, 0);
		if (n > 0) {
			d->len = (size_t)n;
			d->off = 0;
		} else if (n == 0) {
			d->eof = 1;
			shutdown(dst, SHUT_WR);
		} else if (errno != EAGAIN && errno != EINTR) {
			return -1;
		}
	}
	if (d->len > d->off && (dst_ev & POLLOUT || d->off == 0)) {
		n = send(dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
		if (n > 0) {
			d->off += (size_t)n;
			if (d->off == d->len)
				d->len = d->off = 0;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

static void relay_accept(relay_t *r, tcluster_net_t mode, int port)
{
	int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), i, one = 1;
	relay_pair_t *p;
	struct linger lg = { 1, 0 };

	if (fd < 0)
		return;
	if (mode == TCLUSTER_NET_RESET || (mode == TCLUSTER_NET_PASS && port == 0)) {
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(fd);
		return;
	}
	for (i = 0; i < RELAY_MAX_PAIRS && r->pairs[i] != NULL; i++)
		;
	p = i < RELAY_MAX_PAIRS ? calloc(1, sizeof *p) : NULL;
	if (p == NULL) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	p->down = fd;
	p->up = -1;
	r->pairs[i] = p;
}

static void *relay_main(void *arg)
{
	relay_t *r = arg;
	struct pollfd pfd[2 + 2 * RELAY_MAX_PAIRS];
	int idx[2 + 2 * RELAY_MAX_PAIRS];

	for (;;) {
		tcluster_net_t mode;
		int port, n = 0, i;
		char drain[64];

		pthread_mutex_lock(&r->lock);
		mode = r->mode;
		port = r->upstream_port;
		r->applied = r->gen;
		pthread_cond_broadcast(&r->applied_cv);
		if (r->stopping) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		pthread_mutex_unlock(&r->lock);
		if (mode == TCLUSTER_NET_RESET)
			for (i = 0; i < RELAY_MAX_PAIRS; i++)
				relay_pair_close(r, i);
		pfd[n].fd = r->wake[0];
		pfd[n].events = POLLIN;
		idx[n++] = -1;
		pfd[n].fd = r->listen_fd;
		pfd[n].events = POLLIN;
		idx[n++] = -1;
		for (i = 0; i < RELAY_MAX_PAIRS && mode == TCLUSTER_NET_PASS; i++) {
			relay_pair_t *p = r->pairs[i];

			if (p == NULL)
				continue;
			if (p->up < 0 && (p->up = relay_connect_up(port)) < 0) {
				relay_pair_close(r, i);   /* nobody listens there: refused */
				continue;
			}
			pfd[n].fd = p->down;
			pfd[n].events = (short)((p->to_up.len == 0 && !p->to_up.eof ? POLLIN : 0) |
			                        (p->to_down.len > 0 ? POLLOUT : 0));
			idx[n++] = i;
			pfd[n].fd = p->up;
			pfd[n].events = (short)((p->to_down.len == 0 && !p->to_down.eof ? POLLIN : 0) |
			                        (p->to_up.len > 0 ? POLLOUT : 0));
			idx[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			while (read(r->wake[0], drain, sizeof drain) > 0)
				;
		if (pfd[1].revents & POLLIN)
			relay_accept(r, mode, port);
		for (i = 2; i + 1 < n; i += 2) {
			relay_pair_t *p = r->pairs[idx[i]];

			if (p == NULL)
				continue;
			if (relay_move(p->down, &p->to_up, p->up, pfd[i].revents, pfd[i + 1].revents) ||
			    relay_move(p->up, &p->to_down, p->down, pfd[i + 1].revents, pfd[i].revents) ||
			    (p->to_up.eof && p->to_down.eof && p->to_up.len == 0 && p->to_down.len == 0))
				relay_pair_close(r, idx[i]);
		}
	}
	for (int i = 0; i < RELAY_MAX_PAIRS; i++)
		relay_pair_close(r, i);
	return NULL;
}

static void relay_wake(relay_t *r)
{
	char c = 1;

	if (write(r->wake[1], &c, 1) < 0 && errno != EAGAIN)
		fprintf(stderr, "relay: wake: %s\n", strerror(errno));
}

/* A relay to upstream_port; its url says https when what it carries is TLS. */
static int relay_start(int upstream_port, int tls, relay_t **out)
{
	relay_t *r = calloc(1, sizeof *r);
	struct sockaddr_in a;
	socklen_t alen = sizeof a;

	if (r == NULL)
		return STRAND_ENOMEM;
	r->wake[0] = r->wake[1] = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->applied_cv, NULL);
	r->upstream_port = upstream_port;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(r->listen_fd, 128) != 0 ||
	    getsockname(r->listen_fd, (struct sockaddr *)&a, &alen) != 0 ||
	    pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		goto fail;
	snprintf(r->url, sizeof r->url, "%s://127.0.0.1:%u", tls ? "https" : "http",
	         (unsigned)ntohs(a.sin_port));
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0)
		goto fail;
	*out = r;
	return 0;
fail:
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	if (r->wake[0] >= 0) {
		close(r->wake[0]);
		close(r->wake[1]);
	}
	free(r);
	return STRAND_EIO;
}

/* Change the relay and return once its thread works by the change: a
 * connection made after this call meets the new mode. */
static void relay_change(relay_t *r, int upstream_port, int mode)
{
	uint64_t gen;

	pthread_mutex_lock(&r->lock);
	if (upstream_port > 0)
		r->upstream_port = upstream_port;
	if (mode >= 0)
		r->mode = (tcluster_net_t)mode;
	gen = ++r->gen;
	pthread_mutex_unlock(&r->lock);
	relay_wake(r);
	pthread_mutex_lock(&r->lock);
	while (r->applied < gen && !r->stopping)
		pthread_cond_wait(&r->applied_cv, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

static void relay_set_mode(relay_t *r, tcluster_net_t mode)
{
	relay_change(r, 0, (int)mode);
}

static void relay_set_upstream(relay_t *r, int upstream_port)
{
	relay_change(r, upstream_port, -1);
}

static void relay_stop(relay_t *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_mutex_unlock(&r->lock);
	relay_wake(r);
	pthread_join(r->thread, NULL);
	close(r->listen_fd);
	close(r->wake[0]);
	close(r->wake[1]);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->applied_cv);
	free(r);
}

/* ---- processes ----------------------------------------------------------- */

typedef struct tc_broker {
	pid_t    pid;              /* 0: not running */
	int      paused;
	unsigned port;             /* kept across restarts */
	char     dir[PATH_MAX], data[PATH_MAX], port_file[PATH_MAX], log[PATH_MAX];
	char     token_file[PATH_MAX];   /* options.auth: its --broker-token-file */
	char     url[64];
	relay_t *inbound, *to_etcd;
} tc_broker_t;

struct tcluster {
	tcluster_options_t opts;
	char          dir[PATH_MAX];
	etcd_local_t  etcd;
	int           etcd_paused;
	/* options.tls: the private CA, another that signed nothing, the brokers'
	 * certificate and key; options.auth: the shared files, the admin token */
	char          ca[PATH_MAX], other_ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	char          tokens[PATH_MAX], acls[PATH_MAX], admin_auth[128];
	unsigned long salt;           /* in every token, so none is guessable from the code */
	tc_broker_t   b[TCLUSTER_MAX_BROKERS + 1];   /* 1-based */
	etcd_t       *reader;         /* tcluster_etcd_*: opened at first use */
	char          tail[4096];
};

static const char *tc_strand_bin(void)
{
	const char *b = getenv("STRAND_BIN");

	return b != NULL && *b != '\0' ? b : "./strand";
}

static unsigned tc_read_port(const char *path)
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

/* After SIGCONT: wait until the kernel reports pid running again. */
static int tc_wait_running(pid_t pid, int deadline_ms)
{
	int64_t end = clock_now_ms() + deadline_ms;

	for (;;) {
		char st = proc_state(pid);

		if (st == '?' || st == 'Z')
			return STRAND_ENOENT;
		if (st != 'T' && st != 't')
			return 0;
		if (clock_now_ms() >= end)
			return STRAND_ETIMEDOUT;
		clock_sleep_ms(2);
	}
}

static const char *tc_tail_of(tcluster_t *c, const char *path)
{
	FILE *f = fopen(path, "r");
	long size;
	size_t n;

	c->tail[0] = '\0';
	if (f == NULL)
		return c->tail;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)sizeof c->tail - 1 ? size - (long)sizeof c->tail + 1 : 0, SEEK_SET);
	n = fread(c->tail, 1, sizeof c->tail - 1, f);
	c->tail[n] = '\0';
	fclose(f);
	return c->tail;
}

const char *tcluster_log_tail(tcluster_t *c, int id)
{
	char path[PATH_MAX];

	if (id == 0) {
		snprintf(path, sizeof path, "%s/etcd.log", c->dir);
		return tc_tail_of(c, path);
	}
	return tc_tail_of(c, c->b[id].log);
}

int tcluster_log_count(tcluster_t *c, int id, const char *needle)
{
	FILE *f = fopen(c->b[id].log, "r");
	char line[4096];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

void tcluster_log_print(tcluster_t *c, int id, const char *needle, int max_lines)
{
	enum { LINE = 512, MAX = 64 };
	char (*ring)[LINE] = NULL, line[4096];
	FILE *f = NULL;
	int n = 0;

	if (max_lines > MAX)
		max_lines = MAX;
	if (id < 1 || id > c->opts.brokers || max_lines < 1 ||
	    (f = fopen(c->b[id].log, "r")) == NULL || (ring = calloc(MAX, LINE)) == NULL)
		goto out;
	while (fgets(line, sizeof line, f) != NULL)
		if (needle == NULL || strstr(line, needle) != NULL)
			snprintf(ring[n++ % max_lines], LINE, "%s", line);
	fprintf(stderr, "---- broker %d: the last %d of %d lines%s%s%s ----\n", id,
	        n < max_lines ? n : max_lines, n, needle ? " with \"" : "", needle ? needle : "",
	        needle ? "\"" : "");
	for (int i = n > max_lines ? n - max_lines : 0; i < n; i++)
		fputs(ring[i % max_lines], stderr);
out:
	free(ring);
	if (f != NULL)
		fclose(f);
}

const char *tcluster_auth_file(const tcluster_t *c)
{
	return c->opts.auth ? c->tokens : NULL;
}

const char *tcluster_token_file(const tcluster_t *c, int id)
{
	return c->opts.auth ? c->b[id].token_file : NULL;
}

int tcluster_signal(tcluster_t *c, int id, int sig)
{
	return c->b[id].pid > 0 && kill(c->b[id].pid, sig) == 0 ? 0 : STRAND_ENOENT;
}

/* ---- HTTP ---------------------------------------------------------------- */

static size_t tc_on_body(char *p, size_t size, size_t n, void *ud)
{
	return buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

long tcluster_http(const tcluster_t *c, int id, const char *method, const char *path,
                   const char *json_body, const char *const *headers, int timeout_ms,
                   cJSON **json)
{
	char url[1024];
	struct curl_slist *hl = NULL;
	buf_t body = BUF_INIT;
	long status = 0;
	CURL *h = curl_easy_init();
	size_t i;
	int own_auth = 0;

	if (json != NULL)
		*json = NULL;
	if (h == NULL)
		return 0;
	snprintf(url, sizeof url, "%s%s", c->b[id].url, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tc_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (json_body != NULL) {
		hl = curl_slist_append(hl, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json_body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json_body));
	}
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		hl = curl_slist_append(hl, headers[i]);
		if (strncasecmp(headers[i], "Authorization:", 14) == 0)
			own_auth = 1;
	}
	if (c->admin_auth[0] != '\0' && !own_auth)
		hl = curl_slist_append(hl, c->admin_auth);
	if (c->ca[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	if (hl != NULL)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (json != NULL && status != 0 && body.len > 0)
		*json = cJSON_ParseWithLength(body.data, body.len);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	buf_free(&body);
	return status;
}

/* ---- brokers ------------------------------------------------------------- */

/*
 * proc_spawn, plus: the broker is killed when this thread dies. A test
 * process that crashes or fails an assertion must not leave brokers
 * running (they would hold ports, disk and CPU for the rest of the suite).
 */
static int tc_spawn(char *const argv[], const char *log_path, pid_t *pid,
                    char *err, size_t errlen)
{
	pid_t parent = getpid(), child = fork();
	int fd;

	if (child < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "fork: %s", strerror(errno));
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);   /* the parent died before prctl */
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		fprintf(stderr, "cluster_harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	*pid = child;
	return 0;
}

static int tc_spawn_broker(tcluster_t *c, int id, char *err, size_t errlen)
{
	tc_broker_t *b = &c->b[id];
	char idtext[16], ttl[16], listen[64];
	const char *etcd_url = b->to_etcd != NULL ? b->to_etcd->url : c->etcd.client_url;
	char *argv[48];
	int argc = 0, i;

	snprintf(idtext, sizeof idtext, "%d", id);
	snprintf(ttl, sizeof ttl, "%d", c->opts.lease_ttl_s);
	snprintf(listen, sizeof listen, "127.0.0.1:%u", b->port);
	unlink(b->port_file);
	argv[argc++] = (char *)tc_strand_bin();
	argv[argc++] = "serve";
	argv[argc++] = "--broker-id";
	argv[argc++] = idtext;
	argv[argc++] = "--etcd";
	argv[argc++] = (char *)etcd_url;
	argv[argc++] = "--listen";
	argv[argc++] = listen;
	argv[argc++] = "--port-file";
	argv[argc++] = b->port_file;
	argv[argc++] = "--data-dir";
	argv[argc++] = b->data;
	argv[argc++] = "--lease-ttl-s";
	argv[argc++] = ttl;
	if (b->inbound != NULL) {
		argv[argc++] = "--advertise";
		argv[argc++] = b->inbound->url;
	}
	if (c->opts.auth) {
		argv[argc++] = "--auth-file";
		argv[argc++] = c->tokens;
		argv[argc++] = "--acl-file";
		argv[argc++] = c->acls;
		argv[argc++] = "--broker-token-file";
		argv[argc++] = b->token_file;
	}
	if (c->opts.tls & TCLUSTER_TLS_BROKERS) {
		argv[argc++] = "--tls-cert";
		argv[argc++] = c->cert;
		argv[argc++] = "--tls-key";
		argv[argc++] = c->key;
	}
	if (c->opts.tls) {
		argv[argc++] = "--tls-ca-file";
		argv[argc++] = c->opts.wrong_ca & (1u << id) ? c->other_ca : c->ca;
	}
	for (i = 0; i < 8 && c->opts.extra_args[i] != NULL; i++)
		argv[argc++] = (char *)c->opts.extra_args[i];
	argv[argc] = NULL;
	b->paused = 0;
	return tc_spawn(argv, b->log, &b->pid, err, errlen);
}

/* Wait until broker id wrote its port and answers /readyz 200. */
static int tc_wait_ready(tcluster_t *c, int id, char *err, size_t errlen)
{
	tc_broker_t *b = &c->b[id];
	int64_t end = clock_now_ms() + TC_START_DEADLINE_MS;
	long status = 0;

	while (clock_now_ms() < end) {
		if (!proc_alive(b->pid)) {
			b->pid = 0;
			return strand_err_set(err, errlen, STRAND_EIO, "broker %d exited while starting; "
			                      "log:\n%s", id, tcluster_log_tail(c, id));
		}
		if (b->port == 0) {
			b->port = tc_read_port(b->port_file);
			if (b->port != 0 && b->inbound != NULL)
				relay_set_upstream(b->inbound, (int)b->port);
		}
		if (b->port != 0) {
			snprintf(b->url, sizeof b->url, "%s://127.0.0.1:%u",
			         c->opts.tls & TCLUSTER_TLS_BROKERS ? "https" : "http", b->port);
			status = tcluster_http(c, id, "GET", "/readyz", NULL, NULL, 1000, NULL);
			if (status == 200)
				return 0;
		}
		clock_sleep_ms(TC_POLL_MS);
	}
	return strand_err_set(err, errlen, STRAND_ETIMEDOUT, "broker %d not ready in %d ms "
	                      "(last /readyz: %ld); log:\n%s", id, TC_START_DEADLINE_MS, status,
	                      tcluster_log_tail(c, id));
}

/* ---- security: a private CA, tokens and ACLs ------------------------------ */

/* With openssl: a CA, a certificate for 127.0.0.1 it signs, and a second
 * CA that signs nothing (what a wrongly configured broker trusts). */
static int tc_make_pki(tcluster_t *c, char *err, size_t errlen)
{
	char cmd[2048];

	snprintf(c->ca, sizeof c->ca, "%s/pki/ca.pem", c->dir);
	snprintf(c->other_ca, sizeof c->other_ca, "%s/pki/other-ca.pem", c->dir);
	snprintf(c->cert, sizeof c->cert, "%s/pki/server.pem", c->dir);
	snprintf(c->key, sizeof c->key, "%s/pki/server.key", c->dir);
	snprintf(cmd, sizeof cmd,
	         "mkdir -p '%s/pki' && cd '%s/pki' && ( "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "  -keyout ca.key -out ca.pem -days 2 -subj /CN=strand-cluster-test-ca && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "  -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=strand-other-ca && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "  -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
	         "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
	         "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "  -out server.pem -days 2 -extfile san.ext ) >openssl.log 2>&1",
	         c->dir, c->dir);
	if (system(cmd) != 0)
		return strand_err_set(err, errlen, STRAND_EIO, "openssl could not make the test CA "
		                      "(see %s/pki/openssl.log)", c->dir);
	return 0;
}

static int tc_write(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);
	int ok;

	if (fd < 0)
		return STRAND_EIO;
	ok = write(fd, text, len) == (ssize_t)len;
	return close(fd) == 0 && ok ? 0 : STRAND_EIO;
}

/* The shared token and ACL files: a token per broker and the harness's
 * admin token, each unguessable enough for a test (pid and time). */
static int tc_write_auth(tcluster_t *c, char *err, size_t errlen)
{
	buf_t tokens = BUF_INIT, acls = BUF_INIT;
	unsigned long salt = (unsigned long)getpid() * 2654435761ul ^ (unsigned long)clock_now_ms();
	int id, rc = 0;

	c->salt = salt;
	snprintf(c->tokens, sizeof c->tokens, "%s/tokens", c->dir);
	snprintf(c->acls, sizeof c->acls, "%s/acls", c->dir);
	snprintf(c->admin_auth, sizeof c->admin_auth, "Authorization: Bearer tc-admin-%lx", salt);
	rc = buf_appendf(&tokens, "tc-admin-%lx admin\n", salt);
	rc = rc ? rc : buf_append_str(&acls, "admin admin cluster *\nadmin admin topic *\n"
	                                     "admin admin group *\n");
	for (id = 1; rc == 0 && id <= c->opts.brokers; id++) {
		rc = buf_appendf(&tokens, "tc-broker-%d-%lx broker-%d\n", id, salt, id);
		rc = rc ? rc : buf_appendf(&acls, "broker-%d cluster_action cluster *\n", id);
	}
	rc = rc ? rc : buf_append_str(&tokens, c->opts.auth_tokens ? c->opts.auth_tokens : "");
	rc = rc ? rc : buf_append_str(&acls, c->opts.acl_rules ? c->opts.acl_rules : "");
	rc = rc ? rc : tc_write(c->tokens, 0600, tokens.data);
	rc = rc ? rc : tc_write(c->acls, 0600, acls.data);
	buf_free(&tokens);
	buf_free(&acls);
	if (rc)
		return strand_err_set(err, errlen, rc, "cannot write %s or %s", c->tokens, c->acls);
	return 0;
}

/* Broker id's --broker-token-file (0600: serve refuses a looser one). */
static int tc_write_broker_token(tcluster_t *c, int id, char *err, size_t errlen)
{
	char text[96], path[PATH_MAX];

	snprintf(path, sizeof path, "%s/token", c->b[id].dir);
	memcpy(c->b[id].token_file, path, sizeof path);
	snprintf(text, sizeof text, "# broker %d\ntc-broker-%d-%lx\n", id, id, c->salt);
	if (tc_write(c->b[id].token_file, 0600, text) != 0)
		return strand_err_set(err, errlen, STRAND_EIO, "cannot write %s",
		                      c->b[id].token_file);
	return 0;
}

const char *tcluster_ca_file(const tcluster_t *c)
{
	return c->ca[0] != '\0' ? c->ca : NULL;
}

static int tc_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(path);
}

int tcluster_start(const tcluster_options_t *o, tcluster_t **out, char *err, size_t errlen)
{
	tcluster_t *c;
	int id, rc;
	uint32_t all = 0;

	*out = NULL;
	if (o->brokers < 1 || o->brokers > TCLUSTER_MAX_BROKERS)
		return strand_err_set(err, errlen, STRAND_EINVAL, "1..%d brokers", TCLUSTER_MAX_BROKERS);
	if (!etcd_local_available()) {
		snprintf(err, errlen, "etcd not installed (scripts/deps.sh)");
		return 77;
	}
	if (access(tc_strand_bin(), X_OK) != 0) {
		snprintf(err, errlen, "no strand binary at %s (set STRAND_BIN)", tc_strand_bin());
		return 77;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return STRAND_ENOMEM;
	c->opts = *o;
	if (c->opts.lease_ttl_s <= 0)
		c->opts.lease_ttl_s = 2;
	snprintf(c->dir, sizeof c->dir, "%s/strand-cluster-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(c->dir) == NULL) {
		rc = strand_err_set(err, errlen, STRAND_EIO, "mkdtemp: %s", strerror(errno));
		c->dir[0] = '\0';
		goto fail;
	}
	if ((o->tls & TCLUSTER_TLS_ETCD) && o->relays) {
		rc = strand_err_set(err, errlen, STRAND_EINVAL, "relays carry plain etcd only");
		goto fail;
	}
	if (o->tls && (rc = tc_make_pki(c, err, errlen)) != 0)
		goto fail;
	if (o->auth && (rc = tc_write_auth(c, err, errlen)) != 0)
		goto fail;
	if (o->tls & TCLUSTER_TLS_ETCD) {
		etcd_local_tls_t et = { c->cert, c->key, c->ca };

		rc = etcd_local_start_tls(c->dir, 0, TC_START_DEADLINE_MS, &et, &c->etcd, err, errlen);
	} else {
		rc = etcd_local_start(c->dir, 0, TC_START_DEADLINE_MS, &c->etcd, err, errlen);
	}
	if (rc)
		goto fail;
	for (id = 1; id <= o->brokers; id++) {
		tc_broker_t *b = &c->b[id];

		char base[PATH_MAX];

		snprintf(base, sizeof base, "%s/broker-%d", c->dir, id);
		snprintf(b->dir, sizeof b->dir, "%s", base);
		snprintf(b->data, sizeof b->data, "%s/data", base);
		snprintf(b->port_file, sizeof b->port_file, "%s/port", base);
		snprintf(b->log, sizeof b->log, "%s/strand.log", base);
		if (mkdir(b->dir, 0755) != 0) {
			rc = strand_err_set(err, errlen, STRAND_EIO, "mkdir %s: %s", b->dir, strerror(errno));
			goto fail;
		}
		if (o->relays) {
			int eport = atoi(strrchr(c->etcd.client_url, ':') + 1);

			if ((rc = relay_start(0, o->tls & TCLUSTER_TLS_BROKERS, &b->inbound)) ||
			    (rc = relay_start(eport, 0, &b->to_etcd))) {
				strand_err_set(err, errlen, rc, "cannot start a relay");
				goto fail;
			}
		}
		if (o->auth && (rc = tc_write_broker_token(c, id, err, errlen)))
			goto fail;
		if ((rc = tc_spawn_broker(c, id, err, errlen)))
			goto fail;
		all |= 1u << id;
	}
	for (id = 1; id <= o->brokers; id++)
		if ((rc = tc_wait_ready(c, id, err, errlen)))
			goto fail;
	rc = tcluster_wait_members(c, 1, all, TC_START_DEADLINE_MS, NULL, err, errlen);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	tcluster_stop(c);
	return rc;
}

void tcluster_stop(tcluster_t *c)
{
	int id;

	if (c == NULL)
		return;
	for (id = 1; id <= TCLUSTER_MAX_BROKERS; id++) {
		tc_broker_t *b = &c->b[id];

		if (b->pid > 0)
			proc_stop(b->pid, SIGKILL, TC_STOP_DEADLINE_MS);
		b->pid = 0;
		relay_stop(b->inbound);
		relay_stop(b->to_etcd);
		b->inbound = b->to_etcd = NULL;
	}
	if (c->etcd.pid > 0)
		proc_stop(c->etcd.pid, SIGKILL, TC_STOP_DEADLINE_MS);
	if (c->reader != NULL)
		etcd_close(c->reader);
	if (c->dir[0] != '\0') {
		if (getenv("STRAND_KEEP_CLUSTER") != NULL)
			fprintf(stderr, "cluster_harness: kept %s\n", c->dir);
		else
			nftw(c->dir, tc_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(c);
}

int tcluster_shutdown(tcluster_t *c, int id)
{
	tc_broker_t *b = &c->b[id];
	int rc;

	if (b->pid <= 0)
		return 0;
	rc = proc_stop(b->pid, SIGTERM, TC_STOP_DEADLINE_MS);
	b->pid = 0;
	b->paused = 0;
	return rc;
}

int tcluster_brokers(const tcluster_t *c)
{
	return c->opts.brokers;
}

const char *tcluster_url(const tcluster_t *c, int id)
{
	return c->b[id].url;
}

int tcluster_running(const tcluster_t *c, int id)
{
	return id >= 1 && id <= c->opts.brokers && c->b[id].pid > 0;
}

int tcluster_paused(const tcluster_t *c, int id)
{
	return tcluster_running(c, id) && c->b[id].paused;
}

int tcluster_advertises(const tcluster_t *c, int id, const char *url)
{
	size_t n;

	if (id < 1 || id > c->opts.brokers)
		return 0;
	n = strlen(c->b[id].url);
	if (n > 0 && strncmp(url, c->b[id].url, n) == 0 && (url[n] == '\0' || url[n] == '/'))
		return 1;
	if (c->b[id].inbound == NULL)
		return 0;
	n = strlen(c->b[id].inbound->url);
	return strncmp(url, c->b[id].inbound->url, n) == 0 && (url[n] == '\0' || url[n] == '/');
}

const char *tcluster_data_dir(const tcluster_t *c, int id)
{
	return c->b[id].data;
}

const char *tcluster_dir(const tcluster_t *c)
{
	return c->dir;
}

int tcluster_kill(tcluster_t *c, int id)
{
	tc_broker_t *b = &c->b[id];
	int rc;

	if (b->pid <= 0)
		return STRAND_ENOENT;
	rc = proc_stop(b->pid, SIGKILL, TC_STOP_DEADLINE_MS);
	b->pid = 0;
	b->paused = 0;
	return rc;
}

int tcluster_pause(tcluster_t *c, int id)
{
	tc_broker_t *b = &c->b[id];

	if (b->pid <= 0 || kill(b->pid, SIGSTOP) != 0)
		return STRAND_ENOENT;
	b->paused = 1;
	return proc_wait_stopped(b->pid, TC_STOP_DEADLINE_MS) ? 0 : STRAND_ETIMEDOUT;
}

int tcluster_resume(tcluster_t *c, int id)
{
	tc_broker_t *b = &c->b[id];

	if (b->pid <= 0 || kill(b->pid, SIGCONT) != 0)
		return STRAND_ENOENT;
	b->paused = 0;
	return tc_wait_running(b->pid, TC_STOP_DEADLINE_MS);
}

int tcluster_spawn(tcluster_t *c, int id, char *err, size_t errlen)
{
	if (c->b[id].pid > 0)
		return strand_err_set(err, errlen, STRAND_EEXIST, "broker %d still runs", id);
	return tc_spawn_broker(c, id, err, errlen);
}

int tcluster_wait_ready(tcluster_t *c, int id, char *err, size_t errlen)
{
	return tc_wait_ready(c, id, err, errlen);
}

int tcluster_restart(tcluster_t *c, int id, char *err, size_t errlen)
{
	int rc = tcluster_spawn(c, id, err, errlen);

	return rc ? rc : tc_wait_ready(c, id, err, errlen);
}

int tcluster_etcd_kill(tcluster_t *c)
{
	int rc = proc_stop(c->etcd.pid, SIGKILL, TC_STOP_DEADLINE_MS);

	c->etcd_paused = 0;
	return rc;
}

int tcluster_etcd_restart(tcluster_t *c, char *err, size_t errlen)
{
	return etcd_local_restart(c->dir, 0, TC_START_DEADLINE_MS, &c->etcd, err, errlen);
}

int tcluster_etcd_pause(tcluster_t *c)
{
	if (kill(c->etcd.pid, SIGSTOP) != 0)
		return STRAND_ENOENT;
	c->etcd_paused = 1;
	return proc_wait_stopped(c->etcd.pid, TC_STOP_DEADLINE_MS) ? 0 : STRAND_ETIMEDOUT;
}

int tcluster_etcd_resume(tcluster_t *c)
{
	if (kill(c->etcd.pid, SIGCONT) != 0)
		return STRAND_ENOENT;
	c->etcd_paused = 0;
	return tc_wait_running(c->etcd.pid, TC_STOP_DEADLINE_MS);
}

const char *tcluster_etcd_url(const tcluster_t *c)
{
	return c->etcd.client_url;
}

int tcluster_net_inbound(tcluster_t *c, int id, tcluster_net_t mode)
{
	if (c->b[id].inbound == NULL)
		return STRAND_EINVAL;
	relay_set_mode(c->b[id].inbound, mode);
	return 0;
}

int tcluster_net_etcd(tcluster_t *c, int id, tcluster_net_t mode)
{
	if (c->b[id].to_etcd == NULL)
		return STRAND_EINVAL;
	relay_set_mode(c->b[id].to_etcd, mode);
	return 0;
}

/* ---- what the cluster says ---------------------------------------------- */

static int32_t tc_ids(const cJSON *arr, int32_t *out)
{
	const cJSON *x;
	int32_t n = 0;

	cJSON_ArrayForEach(x, arr)
		if (cJSON_IsNumber(x) && n < TCLUSTER_MAX_BROKERS)
			out[n++] = (int32_t)x->valuedouble;
	return n;
}

static int64_t tc_num(const cJSON *o, const char *name, int64_t dflt)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(x) ? (int64_t)x->valuedouble : dflt;
}

static int tc_partition(tcluster_t *c, int via, const char *topic, int32_t p, int own,
                        tcluster_partition_t *out)
{
	static const char *const direct[] = { "Strand-Route: direct", NULL };
	char path[512];
	cJSON *doc = NULL, *parts, *x;
	long status;
	int rc = STRAND_ENOENT;

	memset(out, 0, sizeof *out);
	out->leader = -1;
	out->leader_epoch = -1;
	snprintf(path, sizeof path, "/v1/topics/%s", topic);
	status = tcluster_http(c, via, "GET", path, NULL, own ? direct : NULL,
	                       TC_CONTROL_TIMEOUT_MS, &doc);
	if (status != 200 || doc == NULL) {
		cJSON_Delete(doc);
		return status == 404 ? STRAND_ENOENT : STRAND_EIO;
	}
	parts = cJSON_GetObjectItemCaseSensitive(doc, "partitions");
	cJSON_ArrayForEach(x, parts) {
		if (tc_num(x, "partition", -1) != p)
			continue;
		out->leader = (int32_t)tc_num(x, "leader", -1);
		out->leader_epoch = (int32_t)tc_num(x, "leader_epoch", -1);
		out->nreplicas = tc_ids(cJSON_GetObjectItemCaseSensitive(x, "replicas"), out->replicas);
		out->nisr = tc_ids(cJSON_GetObjectItemCaseSensitive(x, "isr"), out->isr);
		out->high_watermark = tc_num(x, "high_watermark", -1);
		out->log_end_offset = tc_num(x, "log_end_offset", -1);
		rc = 0;
	}
	cJSON_Delete(doc);
	return rc;
}

int tcluster_partition(tcluster_t *c, int via, const char *topic, int32_t p,
                       tcluster_partition_t *out)
{
	return tc_partition(c, via, topic, p, 0, out);
}

int tcluster_partition_own(tcluster_t *c, int via, const char *topic, int32_t p,
                           tcluster_partition_t *out)
{
	return tc_partition(c, via, topic, p, 1, out);
}

/* The harness's own etcd client (not through any relay); NULL on failure. */
static etcd_t *tc_reader(tcluster_t *c)
{
	etcd_options_t o;
	char err[256];

	if (c->reader != NULL)
		return c->reader;
	memset(&o, 0, sizeof o);
	o.endpoints = c->etcd.client_url;
	o.timeout_ms = TC_CONTROL_TIMEOUT_MS;
	o.ca_file = (c->opts.tls & TCLUSTER_TLS_ETCD) ? c->ca : NULL;
	if (etcd_open(&o, &c->reader, err, sizeof err) != 0) {
		fprintf(stderr, "cluster_harness: etcd_open: %s\n", err);
		c->reader = NULL;
	}
	return c->reader;
}

int tcluster_etcd_partition(tcluster_t *c, const char *topic, int32_t p,
                            tcluster_partition_t *out, int64_t *version)
{
	char key[512], err[256];
	etcd_t *e = tc_reader(c);
	etcd_kvs_t kvs;
	cJSON *doc;
	int rc;

	memset(out, 0, sizeof *out);
	out->leader = -1;
	out->leader_epoch = -1;
	out->high_watermark = out->log_end_offset = -1;
	*version = 0;
	if (e == NULL)
		return STRAND_EIO;
	snprintf(key, sizeof key, CLUSTER_ETCD_PREFIX "partitions/%s/%" PRId32, topic, p);
	if ((rc = etcd_range(e, key, 0, &kvs, err, sizeof err)) != 0)
		return STRAND_EIO;
	if (kvs.n != 1) {
		etcd_kvs_free(&kvs);
		return STRAND_ENOENT;
	}
	doc = cJSON_ParseWithLength(kvs.kvs[0].value, kvs.kvs[0].value_len);
	*version = kvs.kvs[0].mod_revision;
	etcd_kvs_free(&kvs);
	if (doc == NULL)
		return STRAND_EIO;
	out->leader = (int32_t)tc_num(doc, "leader", -1);
	out->leader_epoch = (int32_t)tc_num(doc, "leader_epoch", -1);
	out->nreplicas = tc_ids(cJSON_GetObjectItemCaseSensitive(doc, "replicas"), out->replicas);
	out->nisr = tc_ids(cJSON_GetObjectItemCaseSensitive(doc, "isr"), out->isr);
	cJSON_Delete(doc);
	return 0;
}

int64_t tcluster_etcd_registered(tcluster_t *c, int id)
{
	char key[128], err[256];
	etcd_t *e = tc_reader(c);
	etcd_kvs_t kvs;
	int64_t rev;

	if (e == NULL)
		return -1;
	snprintf(key, sizeof key, CLUSTER_ETCD_PREFIX "brokers/%d", id);
	if (etcd_range(e, key, 0, &kvs, err, sizeof err) != 0)
		return -1;
	rev = kvs.n == 1 ? kvs.kvs[0].create_revision : 0;
	etcd_kvs_free(&kvs);
	return rev;
}

int tcluster_wait_rejoined(tcluster_t *c, const char *topic, int32_t p, int id,
                           int deadline_ms, char *err, size_t errlen)
{
	int64_t end = clock_now_ms() + deadline_ms, reg = -1, version = 0;
	tcluster_partition_t st;

	memset(&st, 0, sizeof st);
	st.leader = -1;
	do {
		reg = tcluster_etcd_registered(c, id);
		if (reg > 0 && tcluster_etcd_partition(c, topic, p, &st, &version) == 0 &&
		    version > reg && st.leader >= 1 && tcluster_in_isr(&st, id))
			return 0;
		clock_sleep_ms(TC_POLL_MS);
	} while (clock_now_ms() < end);
	{
		char needle[300];

		snprintf(needle, sizeof needle, " %s/%d", topic, (int)p);
		for (int b = 1; b <= c->opts.brokers; b++)
			tcluster_log_print(c, b, needle, 12);
	}
	return strand_err_set(err, errlen, STRAND_ETIMEDOUT, "%s/%d after %d ms: broker %d "
	                      "registered at revision %" PRId64 ", the state in etcd (revision %"
	                      PRId64 "): leader %d epoch %d, broker %d %s the ISR (size %d)", topic,
	                      p, deadline_ms, id, reg, version, st.leader, st.leader_epoch, id,
	                      tcluster_in_isr(&st, id) ? "in" : "not in", st.nisr);
}

int tcluster_in_isr(const tcluster_partition_t *p, int32_t id)
{
	int32_t i;

	for (i = 0; i < p->nisr; i++)
		if (p->isr[i] == id)
			return 1;
	return 0;
}

int tcluster_members(tcluster_t *c, int via, uint32_t *alive, int32_t *controller)
{
	cJSON *doc = NULL, *x;
	long status = tcluster_http(c, via, "GET", "/v1/cluster", NULL, NULL,
	                            TC_CONTROL_TIMEOUT_MS, &doc);

	*alive = 0;
	*controller = -1;
	if (status != 200 || doc == NULL) {
		cJSON_Delete(doc);
		return STRAND_EIO;
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc, "brokers")) {
		int64_t id = tc_num(x, "id", -1);

		if (id >= 0 && id < 32 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "alive")))
			*alive |= 1u << id;
	}
	*controller = (int32_t)tc_num(doc, "controller", -1);
	cJSON_Delete(doc);
	return 0;
}

int tcluster_wait_members(tcluster_t *c, int via, uint32_t alive, int deadline_ms,
                          int32_t *controller, char *err, size_t errlen)
{
	int64_t end = clock_now_ms() + deadline_ms;
	uint32_t seen = 0;
	int32_t ctl = -1;

	do {
		if (tcluster_members(c, via, &seen, &ctl) == 0 && seen == alive && ctl >= 0 &&
		    ctl < 32 && (alive & (1u << ctl))) {
			if (controller != NULL)
				*controller = ctl;
			return 0;
		}
		clock_sleep_ms(TC_POLL_MS);
	} while (clock_now_ms() < end);
	return strand_err_set(err, errlen, STRAND_ETIMEDOUT, "broker %d: live brokers 0x%x "
	                      "controller %d after %d ms, expected 0x%x and a controller among them",
	                      via, seen, ctl, deadline_ms, alive);
}

int tcluster_wait_partition(tcluster_t *c, int via, const char *topic, int32_t p,
                            tcluster_partition_pred pred, void *arg, int deadline_ms,
                            tcluster_partition_t *last, char *err, size_t errlen)
{
	int64_t end = clock_now_ms() + deadline_ms;
	tcluster_partition_t st;
	int id, got = 0;

	memset(&st, 0, sizeof st);
	do {
		for (id = via ? via : 1; id <= (via ? via : c->opts.brokers); id++) {
			if (!tcluster_running(c, id) || c->b[id].paused)
				continue;
			if (tcluster_partition(c, id, topic, p, &st) != 0)
				continue;
			got = 1;
			if (last != NULL)
				*last = st;
			if (pred(&st, arg))
				return 0;
		}
		clock_sleep_ms(TC_POLL_MS);
	} while (clock_now_ms() < end);
	{
		char needle[300];

		snprintf(needle, sizeof needle, " %s/%d", topic, (int)p);
		for (id = 1; id <= c->opts.brokers; id++)
			tcluster_log_print(c, id, needle, 12);
	}
	return strand_err_set(err, errlen, STRAND_ETIMEDOUT, "%s/%d after %d ms: %s leader %d epoch "
	                      "%d isr size %d hw %" PRId64 " leo %" PRId64, topic, p, deadline_ms,
	                      got ? "last seen" : "never read;", st.leader, st.leader_epoch, st.nisr,
	                      st.high_watermark, st.log_end_offset);
}

int tcluster_create_topic(tcluster_t *c, int via, const char *topic, int partitions,
                          int replication_factor, const char *configs_json,
                          char *err, size_t errlen)
{
	char body[2048];
	cJSON *doc = NULL;
	long status;

	snprintf(body, sizeof body, "{\"name\":\"%s\",\"partitions\":%d,\"replication_factor\":%d"
	         "%s%s}", topic, partitions, replication_factor,
	         configs_json ? ",\"configs\":" : "", configs_json ? configs_json : "");
	status = tcluster_http(c, via, "POST", "/v1/topics", body, NULL, TC_CONTROL_TIMEOUT_MS * 3,
	                       &doc);
	if (status == 201) {
		cJSON_Delete(doc);
		return 0;
	}
	{
		char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;

		snprintf(err, errlen, "create %s: status %ld: %s", topic, status,
		         text ? text : "(no JSON)");
		free(text);
	}
	cJSON_Delete(doc);
	return status > 0 ? (int)status : STRAND_EIO;
}

int tcluster_run_suite(Suite *s)
{
	SRunner *sr;
	int failed;

	if (!etcd_local_available()) {
		fprintf(stderr, "etcd not installed (scripts/deps.sh): skipping\n");
		return 77;
	}
	if (access(tc_strand_bin(), X_OK) != 0) {
		fprintf(stderr, "no strand binary at %s (set STRAND_BIN): skipping\n", tc_strand_bin());
		return 77;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
