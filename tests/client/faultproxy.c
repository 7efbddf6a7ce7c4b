/*
 * faultproxy.c — see faultproxy.h. One thread accepts; one thread per
 * client connection reads a request (headers + Content-Length body),
 * applies the rules, forwards it with libcurl and writes the answer back
 * with a Content-Length, keeping the connection open for the next one.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/client/faultproxy.h"

#define FP_MAX_CONNS   256
#define FP_MAX_HEADERS 65536
#define FP_MAX_BODY    (64u << 20)

typedef struct fp_conn {
	struct faultproxy *fp;
	int       fd;
	pthread_t thread;
	int       used;
	int       finished;    /* thread returned: join, then reuse the slot */
} fp_conn_t;

struct faultproxy {
	char            upstream[128];
	char            url[64];
	int             listen_fd;
	pthread_t       acceptor;
	pthread_mutex_t lock;
	pthread_cond_t  rules_cv;        /* rules changed, or stopping */
	int             stopping;
	faultproxy_rules_t rules;
	faultproxy_stats_t stats;
	uint32_t        rand_state;
	fp_conn_t       conns[FP_MAX_CONNS];
};

typedef struct fp_buf {
	char  *data;
	size_t len, cap;
} fp_buf_t;

static int fp_buf_add(fp_buf_t *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, d, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static size_t fp_on_body(char *d, size_t s, size_t n, void *arg)
{
	return fp_buf_add(arg, d, s * n) == 0 ? s * n : 0;
}

typedef struct fp_answer {
	fp_buf_t body;
	char     content_type[128];
	char     retry_after[32];
} fp_answer_t;

static size_t fp_on_header(char *d, size_t s, size_t n, void *arg)
{
	fp_answer_t *a = arg;
	size_t len = s * n;

	if (len > 13 && strncasecmp(d, "Content-Type:", 13) == 0)
		snprintf(a->content_type, sizeof a->content_type, "%.*s", (int)(len - 13), d + 13);
	if (len > 12 && strncasecmp(d, "Retry-After:", 12) == 0)
		snprintf(a->retry_after, sizeof a->retry_after, "%.*s", (int)(len - 12), d + 12);
	/* trim the value */
	for (char *v = a->content_type; *v; v++)
		if (*v == '\r' || *v == '\n')
			*v = '\0';
	for (char *v = a->retry_after; *v; v++)
		if (*v == '\r' || *v == '\n')
			*v = '\0';
	return len;
}

static int fp_write_all(int fd, const char *d, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		d += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fp_answer_write(int fd, long status, const char *ctype, const char *retry_after,
                           const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof head,
	                 "HTTP/1.1 %ld X\r\nContent-Length: %zu\r\n%s%s%s%s%s%s\r\n", status, len,
	                 ctype[0] ? "Content-Type: " : "", ctype, ctype[0] ? "\r\n" : "",
	                 retry_after[0] ? "Retry-After: " : "", retry_after,
	                 retry_after[0] ? "\r\n" : "");
	if (fp_write_all(fd, head, (size_t)n))
		return -1;
	return len ? fp_write_all(fd, body, len) : 0;
}

/* Read one request into req (headers then body). 0, or -1 at EOF/error. */
static int fp_read_request(int fd, fp_buf_t *in, size_t *head_len, size_t *body_len)
{
	char chunk[65536];
	char *end;

	while (!(end = in->data ? strstr(in->data, "\r\n\r\n") : NULL)) {
		if (in->len > FP_MAX_HEADERS)
			return -1;
		ssize_t r = recv(fd, chunk, sizeof chunk, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (fp_buf_add(in, chunk, (size_t)r))
			return -1;
	}
	*head_len = (size_t)(end - in->data) + 4;
	*body_len = 0;
	for (char *h = strstr(in->data, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			*body_len = strtoul(h + 17, NULL, 10);
	if (*body_len > FP_MAX_BODY)
		return -1;
	while (in->len < *head_len + *body_len) {
		ssize_t r = recv(fd, chunk, sizeof chunk, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (fp_buf_add(in, chunk, (size_t)r))
			return -1;
	}
	return 0;
}

/* Copy request header `name` ("Content-Type") into a curl list entry. */
static struct curl_slist *fp_copy_header(struct curl_slist *l, const char *head, size_t hlen,
                                         const char *name)
{
	size_t nl = strlen(name);
	for (const char *h = strstr(head, "\r\n"); h && (size_t)(h - head) < hlen;
	     h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, name, nl) == 0 && h[2 + nl] == ':') {
			const char *e = strstr(h + 2, "\r\n");
			char line[1024];
			snprintf(line, sizeof line, "%.*s", (int)(e - (h + 2)), h + 2);
			return curl_slist_append(l, line);
		}
	return l;
}

static void *fp_conn_main(void *arg)
{
	fp_conn_t *c = arg;
	struct faultproxy *fp = c->fp;
	CURL *up = curl_easy_init();
	fp_buf_t in = { 0 };

	for (;;) {
		size_t hlen, blen;
		char method[16], path[2048];
		fp_answer_t ans;
		int drop = 0, fail = 0, odd = 0, delay = 0;

		if (fp_read_request(c->fd, &in, &hlen, &blen))
			break;
		if (sscanf(in.data, "%15s %2047s", method, path) != 2)
			break;
		if (strcmp(method, "POST") == 0 && strstr(path, "/records")) {
			pthread_mutex_lock(&fp->lock);
			uint64_t n = ++fp->stats.produce_requests;
			if (fp->rules.fail_503_every && n % (uint64_t)fp->rules.fail_503_every == 0) {
				fail = 1;
				odd = (++fp->stats.failed_503 & 1) != 0;
			} else if (fp->rules.drop_answer_every &&
			           n % (uint64_t)fp->rules.drop_answer_every == 0) {
				drop = 1;
				fp->stats.dropped++;
			}
			if (fp->rules.stall) {
				fp->stats.stalled++;
				while (fp->rules.stall && !fp->stopping)
					pthread_cond_wait(&fp->rules_cv, &fp->lock);
				fp->stats.stalled--;
			}
			if (fp->rules.delay_max_ms > 0) {
				fp->rand_state = fp->rand_state * 1103515245u + 12345u;
				delay = (int)((fp->rand_state >> 8) % (uint32_t)(fp->rules.delay_max_ms + 1));
				fp->stats.delayed++;
			}
			pthread_mutex_unlock(&fp->lock);
		}
		if (fail) {
			/* the two codes a broker answers 503 with, in turn */
			static const char nenough[] =
				"{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,"
				"\"detail\":\"injected by the test proxy\",\"code\":\"NOT_ENOUGH_REPLICAS\","
				"\"retriable\":true}";
			static const char unavail[] =
				"{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,"
				"\"detail\":\"injected by the test proxy\",\"code\":\"UNAVAILABLE\","
				"\"retriable\":true}";
			if (fp_answer_write(c->fd, 503, "application/problem+json", "0",
			                    odd ? nenough : unavail,
			                    odd ? sizeof nenough - 1 : sizeof unavail - 1))
				break;
			goto next;
		}
		if (delay) {
			/* the fault being injected: this request reaches the broker late */
			struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
		{
			char url[2300];
			struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
			long status = 0;

			memset(&ans, 0, sizeof ans);
			hdrs = fp_copy_header(hdrs, in.data, hlen, "Content-Type");
			hdrs = fp_copy_header(hdrs, in.data, hlen, "Authorization");
			hdrs = fp_copy_header(hdrs, in.data, hlen, "Accept");
			snprintf(url, sizeof url, "%s%s", fp->upstream, path);
			curl_easy_setopt(up, CURLOPT_URL, url);
			curl_easy_setopt(up, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(up, CURLOPT_HTTPHEADER, hdrs);
			curl_easy_setopt(up, CURLOPT_WRITEFUNCTION, fp_on_body);
			curl_easy_setopt(up, CURLOPT_WRITEDATA, &ans.body);
			curl_easy_setopt(up, CURLOPT_HEADERFUNCTION, fp_on_header);
			curl_easy_setopt(up, CURLOPT_HEADERDATA, &ans);
			curl_easy_setopt(up, CURLOPT_TIMEOUT_MS, 120000L);
			if (strcmp(method, "GET") == 0) {
				curl_easy_setopt(up, CURLOPT_HTTPGET, 1L);
				curl_easy_setopt(up, CURLOPT_CUSTOMREQUEST, NULL);
			} else {
				curl_easy_setopt(up, CURLOPT_POST, 1L);
				curl_easy_setopt(up, CURLOPT_POSTFIELDS, in.data + hlen);
				curl_easy_setopt(up, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
				curl_easy_setopt(up, CURLOPT_CUSTOMREQUEST,
				                 strcmp(method, "POST") == 0 ? NULL : method);
			}
			CURLcode cc = curl_easy_perform(up);
			curl_slist_free_all(hdrs);
			if (cc == CURLE_OK)
				curl_easy_getinfo(up, CURLINFO_RESPONSE_CODE, &status);
			if (cc != CURLE_OK || drop) {
				free(ans.body.data);
				break;                       /* close without an answer */
			}
			int w = fp_answer_write(c->fd, status, ans.content_type, ans.retry_after,
			                        ans.body.data ? ans.body.data : "", ans.body.len);
			free(ans.body.data);
			if (w)
				break;
		}
next:
		/* keep what came after this request (pipelined bytes) */
		memmove(in.data, in.data + hlen + blen, in.len - hlen - blen);
		in.len -= hlen + blen;
		in.data[in.len] = '\0';
	}
	free(in.data);
	curl_easy_cleanup(up);
	pthread_mutex_lock(&fp->lock);
	close(c->fd);
	c->fd = -1;
	c->finished = 1;
	pthread_mutex_unlock(&fp->lock);
	return NULL;
}

static void *fp_accept_main(void *arg)
{
	struct faultproxy *fp = arg;

	for (;;) {
		struct pollfd pfd = { fp->listen_fd, POLLIN, 0 };
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&fp->lock);
		int stop = fp->stopping;
		pthread_mutex_unlock(&fp->lock);
		if (stop)
			break;
		if (!(pfd.revents & POLLIN))
			continue;
		int fd = accept(fp->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&fp->lock);
		fp_conn_t *c = NULL;
		for (int i = 0; i < FP_MAX_CONNS && !c; i++) {
			if (fp->conns[i].used && fp->conns[i].finished) {
				pthread_join(fp->conns[i].thread, NULL);
				fp->conns[i].used = 0;
			}
			if (!fp->conns[i].used)
				c = &fp->conns[i];
		}
		if (c) {
			c->used = 1;
			c->finished = 0;
			c->fd = fd;
			c->fp = fp;
			if (pthread_create(&c->thread, NULL, fp_conn_main, c)) {
				c->used = 0;
				close(fd);
			}
		} else {
			close(fd);
		}
		pthread_mutex_unlock(&fp->lock);
	}
	return NULL;
}

int faultproxy_start(const char *upstream, faultproxy_t **out)
{
	struct faultproxy *fp = calloc(1, sizeof *fp);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t alen = sizeof a;

	if (!fp)
		return -1;
	snprintf(fp->upstream, sizeof fp->upstream, "%s", upstream);
	pthread_mutex_init(&fp->lock, NULL);
	pthread_cond_init(&fp->rules_cv, NULL);
	fp->rand_state = 12345;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fp->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fp->listen_fd < 0 || bind(fp->listen_fd, (struct sockaddr *)&a, sizeof a) ||
	    listen(fp->listen_fd, 64) || getsockname(fp->listen_fd, (struct sockaddr *)&a, &alen))
		goto fail;
	snprintf(fp->url, sizeof fp->url, "http://127.0.0.1:%u", ntohs(a.sin_port));
	if (pthread_create(&fp->acceptor, NULL, fp_accept_main, fp))
		goto fail;
	*out = fp;
	return 0;
fail:
	if (fp->listen_fd >= 0)
		close(fp->listen_fd);
	free(fp);
	return -1;
}

const char *faultproxy_url(faultproxy_t *fp)
{
	return fp->url;
}

void faultproxy_set_rules(faultproxy_t *fp, const faultproxy_rules_t *rules)
{
	pthread_mutex_lock(&fp->lock);
	fp->rules = *rules;
	pthread_cond_broadcast(&fp->rules_cv);
	pthread_mutex_unlock(&fp->lock);
}

void faultproxy_get_stats(faultproxy_t *fp, faultproxy_stats_t *out)
{
	pthread_mutex_lock(&fp->lock);
	*out = fp->stats;
	pthread_mutex_unlock(&fp->lock);
}

void faultproxy_stop(faultproxy_t *fp)
{
	if (!fp)
		return;
	pthread_mutex_lock(&fp->lock);
	fp->stopping = 1;
	pthread_cond_broadcast(&fp->rules_cv);
	pthread_mutex_unlock(&fp->lock);
	pthread_join(fp->acceptor, NULL);
	close(fp->listen_fd);
	pthread_mutex_lock(&fp->lock);
	for (int i = 0; i < FP_MAX_CONNS; i++)
		if (fp->conns[i].used && fp->conns[i].fd >= 0)
			shutdown(fp->conns[i].fd, SHUT_RDWR);   /* wakes its recv */
	pthread_mutex_unlock(&fp->lock);
	for (int i = 0; i < FP_MAX_CONNS; i++)
		if (fp->conns[i].used)
			pthread_join(fp->conns[i].thread, NULL);
	pthread_mutex_destroy(&fp->lock);
	pthread_cond_destroy(&fp->rules_cv);
	free(fp);
}
