/*
 * connections.c — what many connections and hostile clients cost the
 * broker (issue 11, "Bounded memory"): the broker's resident memory with
 * N idle keep-alive connections and M parked long polls, and a normal
 * client's latency before and while S slow clients misbehave (slowloris
 * headers, large binary fetches never read, SSE tails never read).
 *
 * usage: connections --port P --pid PID --topic T [--idle N] [--parked M]
 *                    [--slow S] [--samples K]
 * Prints one `key value` line per figure (bench/connections.sh tables them).
 * A plain client on raw sockets and poll(2): no library between us and the
 * numbers, and nothing of it allocates per request on the measured path.
 */
#define _GNU_SOURCE   /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, broker_pid;
static const char *topic = "conn";

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", broker_pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Connect; rcvbuf > 0 shrinks the receive buffer first (a reader that stalls early). */
static int dial(int rcvbuf)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_text(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Read one whole response with a Content-Length (headers + body) from fd.
 * Returns the status, or -1.
 */
static int read_response(int fd, char *buf, size_t cap)
{
	size_t len = 0, need = 0;
	char *end = NULL;

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");

			need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (end != NULL && len >= need)
			return atoi(buf + 9);
		if (len + 1 >= cap)
			return -1;
	}
}

/* The broker's CPU time so far, in clock ticks (utime + stime). */
static long long cpu_ticks(void)
{
	char path[64], text[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", broker_pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	p = strrchr(text, ')');   /* the command name may hold spaces */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	                        &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/*
 * Wait (at most 60 s) until the broker is quiet: under 10 % of a core over
 * 200 ms. Slow clients first take what the kernel's socket buffers accept
 * (megabytes each on loopback); what we measure is the stalled state after.
 * Returns the milliseconds it took.
 */
static long wait_quiet(void)
{
	int64_t t0 = now_us(), deadline = t0 + 60 * 1000000LL;
	long long before = cpu_ticks(), after;
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec pause = { 0, 200 * 1000 * 1000 };

	while (now_us() < deadline) {
		nanosleep(&pause, NULL);
		after = cpu_ticks();
		if (after >= 0 && before >= 0 && (after - before) * 1000 / hz <= 20)
			break;
		before = after;
	}
	return (long)((now_us() - t0) / 1000);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* K fetches on one keep-alive connection: p50 and p99 in microseconds. */
static int measure(int samples, int64_t *p50, int64_t *p99)
{
	static char buf[1 << 20];
	char req[256];
	int64_t *lat = calloc((size_t)samples, sizeof *lat);
	int fd = dial(0), i;

	if (fd < 0 || lat == NULL)
		return -1;
	snprintf(req, sizeof req,
	         "GET /v1/topics/%s/partitions/0/records?offset=0&max_records=10 HTTP/1.1\r\n"
	         "Host: bench\r\n\r\n", topic);
	for (i = 0; i < samples; i++) {
		int64_t t0 = now_us();

		if (send_text(fd, req) != 0 || read_response(fd, buf, sizeof buf) != 200) {
			fprintf(stderr, "connections: normal request %d failed\n", i);
			close(fd);
			free(lat);
			return -1;
		}
		lat[i] = now_us() - t0;
	}
	close(fd);
	qsort(lat, (size_t)samples, sizeof *lat, cmp_i64);
	*p50 = lat[samples / 2];
	*p99 = lat[(size_t)samples * 99 / 100];
	free(lat);
	return 0;
}

static int arg_int(int argc, char **argv, const char *name, int def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return atoi(argv[i + 1]);
	return def;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	int idle = arg_int(argc, argv, "--idle", 10000);
	int parked = arg_int(argc, argv, "--parked", 1000);
	int slow = arg_int(argc, argv, "--slow", 500);
	int samples = arg_int(argc, argv, "--samples", 2000);
	int only_kind = arg_int(argc, argv, "--slow-kind", -1);   /* 0 slowloris, 1 fetch, 2 SSE */
	int *fds, nfds = 0, i;
	int64_t p50_empty, p99_empty, p50_base, p99_base, p50_slow, p99_slow, hw;
	long rss0, rss_idle, rss_parked, rss_slow;
	struct rlimit rl;
	char req[512];

	port = arg_int(argc, argv, "--port", 0);
	broker_pid = arg_int(argc, argv, "--pid", 0);
	for (i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--topic") == 0)
			topic = argv[i + 1];
	hw = arg_int(argc, argv, "--hw", 0);
	if (port == 0 || broker_pid == 0) {
		fprintf(stderr, "usage: connections --port P --pid PID --topic T --hw HW [--idle N] "
		        "[--parked M] [--slow S] [--samples K]\n");
		return 2;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	fds = calloc((size_t)(idle + parked + slow), sizeof *fds);

	if (measure(samples, &p50_empty, &p99_empty) != 0)
		return 1;
	rss0 = rss_kib();

	/* idle keep-alive connections: one request each, then silence */
	for (i = 0; i < idle; i++) {
		int fd = dial(0);

		if (fd < 0 || send_text(fd, "GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n") != 0 ||
		    read_response(fd, buf, sizeof buf) != 200) {
			fprintf(stderr, "connections: idle connection %d failed (%s)\n", i, strerror(errno));
			return 1;
		}
		fds[nfds++] = fd;
	}
	rss_idle = rss_kib();

	/* parked long polls past the end of the log */
	snprintf(req, sizeof req,
	         "GET /v1/topics/%s/partitions/0/records?offset=%lld&max_wait_ms=60000 HTTP/1.1\r\n"
	         "Host: b\r\n\r\n", topic, (long long)hw);
	for (i = 0; i < parked; i++) {
		int fd = dial(0);

		if (fd < 0 || send_text(fd, req) != 0) {
			fprintf(stderr, "connections: long poll %d failed\n", i);
			return 1;
		}
		fds[nfds++] = fd;
	}
	/* wait until the broker reports them parked (bounded) */
	{
		int64_t deadline = now_us() + 30 * 1000000LL;
		long parked_now = 0;

		while (parked_now < parked && now_us() < deadline) {
			int fd = dial(0);
			char *m;

			if (fd < 0 || send_text(fd, "GET /metrics HTTP/1.1\r\nHost: b\r\n\r\n") != 0) {
				fprintf(stderr, "connections: /metrics failed\n");
				return 1;
			}
			{
				static char big[1 << 22];

				if (read_response(fd, big, sizeof big) != 200)
					return 1;
				m = strstr(big, "\nstrand_http_parked_requests ");
				parked_now = m ? atol(m + 29) : 0;
			}
			close(fd);
		}
		printf("parked_seen %ld\n", parked_now);
	}
	rss_parked = rss_kib();
	/* the reference for the slow clients: the same broker, just before them */
	wait_quiet();
	if (measure(samples, &p50_base, &p99_base) != 0)
		return 1;

	/* slow clients: a third each */
	for (i = 0; i < slow; i++) {
		int kind = only_kind >= 0 ? only_kind : i % 3, fd;

		if (kind == 0) {            /* slowloris: headers never finished */
			fd = dial(0);
			if (fd < 0 || send_text(fd, "GET /healthz HTTP/1.1\r\nHost: b\r\nX-Slow: ") != 0)
				return 1;
		} else if (kind == 1) {     /* a large binary fetch, never read */
			fd = dial(4096);
			snprintf(req, sizeof req,
			         "GET /v1/topics/%s/partitions/0/records?offset=0&max_bytes=8388608 HTTP/1.1\r\n"
			         "Host: b\r\nAccept: application/vnd.strand.batch\r\n\r\n", topic);
			if (fd < 0 || send_text(fd, req) != 0)
				return 1;
		} else {                    /* an SSE tail from the start, never read */
			fd = dial(4096);
			snprintf(req, sizeof req,
			         "GET /v1/topics/%s/partitions/0/records?offset=0 HTTP/1.1\r\n"
			         "Host: b\r\nAccept: text/event-stream\r\n\r\n", topic);
			if (fd < 0 || send_text(fd, req) != 0)
				return 1;
		}
		fds[nfds++] = fd;
	}
	printf("slow_clients_settled_ms %ld\n", wait_quiet());
	if (measure(samples, &p50_slow, &p99_slow) != 0)
		return 1;
	rss_slow = rss_kib();

	printf("idle_connections %d\n", idle);
	printf("parked_long_polls %d\n", parked);
	printf("slow_clients %d\n", slow);
	printf("rss_kib_start %ld\n", rss0);
	printf("rss_kib_idle %ld\n", rss_idle);
	printf("rss_kib_parked %ld\n", rss_parked);
	printf("rss_kib_slow %ld\n", rss_slow);
	printf("bytes_per_idle_connection %.0f\n", (double)(rss_idle - rss0) * 1024 / (idle ? idle : 1));
	printf("bytes_per_parked_poll %.0f\n",
	       (double)(rss_parked - rss_idle) * 1024 / (parked ? parked : 1));
	printf("p50_us_empty %lld\np99_us_empty %lld\n", (long long)p50_empty, (long long)p99_empty);
	printf("p50_us_base %lld\np99_us_base %lld\n", (long long)p50_base, (long long)p99_base);
	printf("p50_us_slow %lld\np99_us_slow %lld\n", (long long)p50_slow, (long long)p99_slow);
	printf("p99_ratio %.2f\n", (double)p99_slow / (double)(p99_base ? p99_base : 1));
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	free(fds);
	return 0;
}
