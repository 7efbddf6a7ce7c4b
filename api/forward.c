/*
 * forward.c — relaying requests to the broker that serves them (forward.h,
 * docs/REPLICATION.md "Forwarding"): the forwarder thread driving one
 * libcurl multi handle (the shared keep-alive pool), the per-request
 * transfer objects shared between that thread and the MHD worker, the
 * streamed answer, and the decisions (relay, 421 NOT_LEADER, 503).
 *
 * Ownership: a transfer (struct fwd_xfer) is reference counted: one
 * reference for its set (the request side), one for the forwarder thread
 * from submission until it is done, one while it sits in the command
 * queue, one for the MHD response reading it. The per-request lock (the
 * set's mu) guards what both sides touch: the answer so far, the parked
 * flag, and the request pointer, which on_cleanup clears under it — so the
 * thread never resumes a request that is gone.
 */
#include "api/forward.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "broker/group.h"
#include "cluster/meta.h"
#include "common/clock.h"
#include "common/err.h"

typedef struct forwarder forwarder_t;

enum fwd_phase { FWD_RUNNING = 0, FWD_HEADERS, FWD_DONE };
enum fwd_mode { FWD_STREAM = 0, FWD_COLLECT };

struct forward_set;

typedef struct fwd_xfer {
	forwarder_t        *fw;
	struct forward_set *set;        /* reference held */
	int                 mode;
	int32_t             target_id;
	int64_t             timeout_ms; /* whole transfer; 0: none (SSE) */
	CURL               *easy;       /* the thread's from submission until done */
	struct curl_slist  *hdrs;
	char               *url;
	buf_t               body;       /* request body, sent as is */
	char                curl_err[CURL_ERROR_SIZE];

	/* guarded by set->mu */
	int                 phase;
	long                status;
	CURLcode            result;
	int                 connected;  /* the request reached the target */
	buf_t               resp_hdrs;  /* "Name\0value\0" pairs to relay */
	char                content_type[128];
	int64_t             content_length;  /* -1: not given */
	buf_t               data;       /* answer bytes not yet handed on */
	size_t              data_pos;
	int                 truncated;  /* collect mode: more than kept */
	int                 paused;     /* the write callback paused the transfer */
	int                 refused;    /* never started: FORWARD_MAX_TRANSFERS reached */
	int                 lookup;     /* forward_set_get: a question this broker asks,
	                                   not a relay (not in the relay counters) */

	/* guarded by fw->mu: commands for the thread */
	int                 cmd_add, cmd_unpause, cmd_abort, queued;
	struct fwd_xfer    *cmd_next;

	int                 in_multi;   /* thread only (and after the join) */
	struct fwd_xfer    *live_prev, *live_next;  /* in the multi: fw->live */
	atomic_int          refs;
} fwd_xfer_t;

struct forward_set {
	forwarder_t    *fw;
	pthread_mutex_t mu;
	api_request_t  *req;            /* NULL once the request is gone */
	int             parked;         /* suspended by us: the next event resumes it */
	fwd_xfer_t    **xfers;
	size_t          n, cap;
	atomic_int      refs;           /* the request side + each transfer */
};

struct forwarder {
	api_t          *api;
	CURLM          *multi;
	pthread_t       thread;
	int             started;
	pthread_mutex_t mu;             /* guards the command queue, stop, locator */
	fwd_xfer_t     *cmd_head, *cmd_tail;
	fwd_xfer_t     *live;           /* transfers in the multi (thread only) */
	int             stop;
	atomic_int      transfers;      /* in flight (FORWARD_MAX_TRANSFERS) */
	atomic_uint_fast64_t relayed, failed, retried;   /* forward_stats_t */
	atomic_int      self_id;        /* the locator's, -1: none */
	api_locator_t   locator;
	int             has_locator;
};

/* ---- references ---------------------------------------------------------- */

static void set_unref(forward_set_t *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->xfers);
	free(s);
}

static void xfer_unref(fwd_xfer_t *x)
{
	if (x == NULL || atomic_fetch_sub(&x->refs, 1) != 1)
		return;
	/* the thread cleaned the easy handle up when it finished (or never had it) */
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	free(x->url);
	buf_free(&x->body);
	buf_free(&x->resp_hdrs);
	buf_free(&x->data);
	set_unref(x->set);
	free(x);
}

/* With set->mu held: resume the request if we parked it. */
static void set_wake_locked(forward_set_t *s)
{
	if (s->parked && s->req != NULL) {
		s->parked = 0;
		api_resume(s->req);
	}
}

/* ---- commands to the thread ----------------------------------------------- */

/* Queue x for the thread with the flags set by `set` (under fw->mu). */
static void fwd_command(fwd_xfer_t *x, int add, int unpause, int abort_)
{
	forwarder_t *fw = x->fw;

	pthread_mutex_lock(&fw->mu);
	x->cmd_add |= add;
	x->cmd_unpause |= unpause;
	x->cmd_abort |= abort_;
	if (!x->queued) {
		x->queued = 1;
		atomic_fetch_add(&x->refs, 1);   /* the queue's */
		x->cmd_next = NULL;
		if (fw->cmd_tail)
			fw->cmd_tail->cmd_next = x;
		else
			fw->cmd_head = x;
		fw->cmd_tail = x;
	}
	pthread_mutex_unlock(&fw->mu);
	curl_multi_wakeup(fw->multi);
}

/* ---- libcurl callbacks (forwarder thread) --------------------------------- */

static int header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* Response headers not relayed: hop-by-hop ones, and those MHD writes itself. */
static int resp_header_skipped(const char *line, size_t len)
{
	static const char *const skip[] = { "Connection", "Keep-Alive", "Transfer-Encoding",
		"Content-Length", "Content-Type", "Date", "Proxy-Connection", "Trailer",
		"Upgrade", NULL };
	size_t i;

	for (i = 0; skip[i]; i++)
		if (header_is(line, len, skip[i]))
			return 1;
	return 0;
}

static size_t fwd_on_header(char *line, size_t size, size_t nitems, void *arg)
{
	fwd_xfer_t *x = arg;
	forward_set_t *s = x->set;
	size_t len = size * nitems, n = len, name_len;
	const char *colon, *v;
	int ok = 1;

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	pthread_mutex_lock(&s->mu);
	if (n >= 12 && strncmp(line, "HTTP/", 5) == 0) {
		/* a status line: a new answer (after a 1xx, forget the first) */
		const char *sp = memchr(line, ' ', n);

		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		buf_reset(&x->resp_hdrs);
		x->content_type[0] = '\0';
		x->content_length = -1;
		x->connected = 1;
	} else if (n == 0) {
		/* end of the header block */
		if (x->status >= 200 && x->phase == FWD_RUNNING) {
			x->phase = FWD_HEADERS;
			if (x->mode == FWD_STREAM)
				set_wake_locked(s);
		}
	} else if ((colon = memchr(line, ':', n)) != NULL) {
		name_len = (size_t)(colon - line);
		v = colon + 1;
		while (v < line + n && (*v == ' ' || *v == '\t'))
			v++;
		if (header_is(line, n, "Content-Type")) {
			size_t vl = (size_t)(line + n - v);

			if (vl >= sizeof x->content_type)
				vl = sizeof x->content_type - 1;
			memcpy(x->content_type, v, vl);
			x->content_type[vl] = '\0';
		} else if (header_is(line, n, "Content-Length")) {
			x->content_length = strtoll(v, NULL, 10);
		}
		if (!resp_header_skipped(line, n))
			ok = buf_append(&x->resp_hdrs, line, name_len) == 0 &&
			     buf_append(&x->resp_hdrs, "", 1) == 0 &&
			     buf_append(&x->resp_hdrs, v, (size_t)(line + n - v)) == 0 &&
			     buf_append(&x->resp_hdrs, "", 1) == 0;
	}
	pthread_mutex_unlock(&s->mu);
	return ok ? len : 0;
}

static size_t fwd_on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	fwd_xfer_t *x = arg;
	forward_set_t *s = x->set;
	size_t len = size * nmemb, held;

	pthread_mutex_lock(&s->mu);
	if (s->req == NULL) {
		pthread_mutex_unlock(&s->mu);
		return 0;   /* the request is gone: abort the transfer */
	}
	if (x->mode == FWD_COLLECT) {
		size_t room = x->data.len < FORWARD_STREAM_BUF ? FORWARD_STREAM_BUF - x->data.len : 0;

		if (len > room)
			x->truncated = 1;
		if (buf_append(&x->data, data, len < room ? len : room) != 0) {
			pthread_mutex_unlock(&s->mu);
			return 0;
		}
		pthread_mutex_unlock(&s->mu);
		return len;
	}
	/* stream: keep at most FORWARD_STREAM_BUF bytes the client has not read */
	if (x->data_pos > 0 && x->data_pos == x->data.len) {
		buf_reset(&x->data);
		x->data_pos = 0;
	}
	held = x->data.len - x->data_pos;
	if (held > 0 && held + len > FORWARD_STREAM_BUF) {
		if (x->data_pos > 0) {
			memmove(x->data.data, x->data.data + x->data_pos, held);
			x->data.len = held;
			x->data_pos = 0;
		}
		x->paused = 1;
		pthread_mutex_unlock(&s->mu);
		return CURL_WRITEFUNC_PAUSE;   /* curl keeps the bytes and offers them again */
	}
	if (buf_append(&x->data, data, len) != 0) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	set_wake_locked(s);
	pthread_mutex_unlock(&s->mu);
	return len;
}

/* Done (or abandoned): record the outcome, wake the request, drop the handle. */
static void fwd_finish(forwarder_t *fw, fwd_xfer_t *x, CURLcode result)
{
	forward_set_t *s = x->set;
	curl_off_t connect_us = 0;

	if (x->easy != NULL)
		curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	pthread_mutex_lock(&s->mu);
	if (connect_us > 0)
		x->connected = 1;   /* the request went out: it may have been carried out */
	x->phase = FWD_DONE;
	x->result = result;
	if (result != CURLE_OK && x->status < 200)
		x->status = 0;
	if (result != CURLE_OK && s->req != NULL && !x->lookup) /* not a relay its client dropped */
		atomic_fetch_add_explicit(&fw->failed, 1, memory_order_relaxed);
	set_wake_locked(s);
	pthread_mutex_unlock(&s->mu);
	if (x->in_multi) {
		curl_multi_remove_handle(fw->multi, x->easy);
		x->in_multi = 0;
		if (x->live_prev)
			x->live_prev->live_next = x->live_next;
		else
			fw->live = x->live_next;
		if (x->live_next)
			x->live_next->live_prev = x->live_prev;
		x->live_prev = x->live_next = NULL;
		atomic_fetch_sub(&fw->transfers, 1);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		xfer_unref(x);   /* the thread's */
	}
}

static void fwd_run_commands(forwarder_t *fw)
{
	fwd_xfer_t *x, *next;
	int add, unpause, abort_;

	pthread_mutex_lock(&fw->mu);
	x = fw->cmd_head;
	fw->cmd_head = fw->cmd_tail = NULL;
	pthread_mutex_unlock(&fw->mu);
	for (; x != NULL; x = next) {
		pthread_mutex_lock(&fw->mu);
		next = x->cmd_next;
		add = x->cmd_add;
		unpause = x->cmd_unpause;
		abort_ = x->cmd_abort;
		x->cmd_add = x->cmd_unpause = x->cmd_abort = 0;
		x->queued = 0;
		pthread_mutex_unlock(&fw->mu);
		if (add && x->easy != NULL && !x->in_multi) {
			/* in the live list even when refused, so fwd_finish drops the
			 * thread's reference and the transfer count alike */
			x->in_multi = 1;
			x->live_prev = NULL;
			x->live_next = fw->live;
			if (fw->live)
				fw->live->live_prev = x;
			fw->live = x;
			if (curl_multi_add_handle(fw->multi, x->easy) != CURLM_OK)
				fwd_finish(fw, x, CURLE_FAILED_INIT);
		}
		if (abort_ && x->in_multi)
			fwd_finish(fw, x, CURLE_ABORTED_BY_CALLBACK);
		else if (unpause && x->in_multi)
			curl_easy_pause(x->easy, CURLPAUSE_CONT);
		xfer_unref(x);   /* the queue's */
	}
}

static void *fwd_thread_main(void *arg)
{
	forwarder_t *fw = arg;
	CURLMsg *msg;
	int running, left, stop;

	for (;;) {
		fwd_run_commands(fw);
		pthread_mutex_lock(&fw->mu);
		stop = fw->stop;
		pthread_mutex_unlock(&fw->mu);
		if (stop)
			break;
		curl_multi_perform(fw->multi, &running);
		while ((msg = curl_multi_info_read(fw->multi, &left)) != NULL) {
			fwd_xfer_t *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (x != NULL)
				fwd_finish(fw, x, msg->data.result);
		}
		curl_multi_poll(fw->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

/* ---- the forwarder's life -------------------------------------------------- */

int api_forward_init(api_t *api, char *err, size_t errlen)
{
	forwarder_t *fw = calloc(1, sizeof *fw);

	if (fw == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	fw->api = api;
	pthread_mutex_init(&fw->mu, NULL);
	atomic_init(&fw->transfers, 0);
	atomic_init(&fw->self_id, -1);
	curl_global_init(CURL_GLOBAL_DEFAULT);   /* idempotent; thread-safe since 7.84 */
	fw->multi = curl_multi_init();
	if (fw->multi == NULL) {
		pthread_mutex_destroy(&fw->mu);
		free(fw);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory (curl multi)");
	}
	/* the pool: idle keep-alive connections kept for reuse; no per-host cap,
	 * since a long poll holds its connection (the bound is the transfer count) */
	curl_multi_setopt(fw->multi, CURLMOPT_MAXCONNECTS, (long)FORWARD_MAX_IDLE_CONNS);
	if (pthread_create(&fw->thread, NULL, fwd_thread_main, fw) != 0) {
		curl_multi_cleanup(fw->multi);
		pthread_mutex_destroy(&fw->mu);
		free(fw);
		return strand_err_set(err, errlen, STRAND_EIO, "cannot start the forwarder thread");
	}
	fw->started = 1;
	api_set_forward_state(api, fw);
	return 0;
}

void api_forward_free(api_t *api)
{
	forwarder_t *fw = api_forward_state(api);

	if (fw == NULL)
		return;
	pthread_mutex_lock(&fw->mu);
	fw->stop = 1;
	pthread_mutex_unlock(&fw->mu);
	curl_multi_wakeup(fw->multi);
	pthread_join(fw->thread, NULL);
	fwd_run_commands(fw);
	/* no request is alive any more: finish what is left */
	while (fw->live != NULL)
		fwd_finish(fw, fw->live, CURLE_ABORTED_BY_CALLBACK);
	curl_multi_cleanup(fw->multi);
	pthread_mutex_destroy(&fw->mu);
	api_set_forward_state(api, NULL);
	free(fw);
}

/* ---- the locator ------------------------------------------------------------ */

void api_set_locator(api_t *api, const api_locator_t *loc)
{
	forwarder_t *fw = api_forward_state(api);

	if (fw == NULL)
		return;
	pthread_mutex_lock(&fw->mu);
	fw->has_locator = loc != NULL;
	if (loc != NULL)
		fw->locator = *loc;
	atomic_store(&fw->self_id, loc != NULL ? loc->self_id : -1);
	pthread_mutex_unlock(&fw->mu);
}

void api_forward_stats(api_t *api, forward_stats_t *out)
{
	forwarder_t *fw = api_forward_state(api);

	memset(out, 0, sizeof *out);
	if (fw == NULL)
		return;
	out->relayed = atomic_load_explicit(&fw->relayed, memory_order_relaxed);
	out->failed = atomic_load_explicit(&fw->failed, memory_order_relaxed);
	out->retried = atomic_load_explicit(&fw->retried, memory_order_relaxed);
	out->inflight = atomic_load(&fw->transfers);
}

int32_t api_self_id(api_t *api)
{
	forwarder_t *fw = api_forward_state(api);
	cluster_t *c = api_cluster(api);

	if (c != NULL)
		return cluster_broker_id(c);
	return fw != NULL ? atomic_load(&fw->self_id) : -1;
}

/* ---- the cluster's locator (strand serve --etcd) ------------------------------ */

/* Partition leaders from the metadata watcher's cache (no etcd call). */
static int fwd_cluster_leader(void *ctx, const char *topic, int32_t p, int32_t *id,
                              char *url, size_t urllen)
{
	forwarder_t *fw = ctx;
	meta_t *m = api_meta(fw->api);

	return m != NULL ? meta_partition_leader(m, topic, p, id, url, urllen) : STRAND_ENOENT;
}

/*
 * Kafka's FindCoordinator: the leader of the group's partition of
 * __consumer_offsets, from the metadata watcher's cache; the first group
 * request of a cluster creates that topic (meta_group_coordinator: one etcd
 * transaction, then this broker's watcher applies it). The group list
 * (group NULL) is served where it is asked: it asks every coordinator
 * (api/offsets.c).
 */
static int fwd_cluster_coordinator(void *ctx, const char *group, int32_t *id, char *url,
                                   size_t urllen)
{
	forwarder_t *fw = ctx;
	meta_t *m = api_meta(fw->api);
	char err[256];

	if (group == NULL || m == NULL)
		return STRAND_ENOENT;
	return meta_group_coordinator(m, group, NULL, id, url, urllen, err, sizeof err);
}

/* The test's locator if one is set, else the cluster's (meta and cluster
 * set by strand serve --etcd), else none (single node). */
static int fwd_locator(forwarder_t *fw, api_locator_t *out)
{
	int has;

	if (fw == NULL)
		return 0;
	pthread_mutex_lock(&fw->mu);
	has = fw->has_locator;
	if (has)
		*out = fw->locator;
	pthread_mutex_unlock(&fw->mu);
	if (has)
		return 1;
	if (api_meta(fw->api) == NULL || api_cluster(fw->api) == NULL)
		return 0;
	out->self_id = cluster_broker_id(api_cluster(fw->api));
	out->partition_leader = fwd_cluster_leader;
	out->group_coordinator = fwd_cluster_coordinator;
	out->ctx = fw;
	return 1;
}

/* ---- building the upstream request ---------------------------------------- */

/* Percent-encode every byte outside RFC 3986's unreserved set and '/'. */
static int fwd_append_escaped(buf_t *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && rc == 0; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~' || (keep_slash && ch == '/')) {
			rc = buf_append(b, (const char *)&ch, 1);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };

			rc = buf_append(b, e, 3);
		}
	}
	return rc;
}

typedef struct fwd_build {
	buf_t              *url;
	struct curl_slist  *hdrs;
	int                 first;
	int                 failed;
	int                 as_broker;  /* the relay's own token replaces the client's */
} fwd_build_t;

static int fwd_add_query(void *ctx, const char *name, const char *value)
{
	fwd_build_t *b = ctx;

	if (b->as_broker && strcmp(name, "access_token") == 0)
		return 0;                   /* the client's credential stays here */
	if (buf_append(b->url, b->first ? "?" : "&", 1) || fwd_append_escaped(b->url, name, 0) ||
	    (value != NULL && (buf_append(b->url, "=", 1) ||
	                       fwd_append_escaped(b->url, value, 0)))) {
		b->failed = 1;
		return 1;
	}
	b->first = 0;
	return 0;
}

/* Request headers not relayed: hop-by-hop ones, those curl writes, ours. */
static int req_header_skipped(const char *name)
{
	static const char *const skip[] = { "Host", "Connection", "Keep-Alive", "Content-Length",
		"Transfer-Encoding", "Expect", "TE", "Trailer", "Upgrade", "Proxy-Connection",
		"Proxy-Authorization", "Strand-Route", "Strand-Forwarded-By", "Strand-Principal",
		NULL };
	size_t i;

	for (i = 0; skip[i]; i++)
		if (strcasecmp(name, skip[i]) == 0)
			return 1;
	return 0;
}

static int fwd_add_header(void *ctx, const char *name, const char *value)
{
	fwd_build_t *b = ctx;
	struct curl_slist *n;
	buf_t line = BUF_INIT;

	if (req_header_skipped(name) || (b->as_broker && strcasecmp(name, "Authorization") == 0))
		return 0;
	if (buf_appendf(&line, "%s: %s", name, value ? value : "") != 0) {
		b->failed = 1;
		return 1;
	}
	n = curl_slist_append(b->hdrs, line.data);
	buf_free(&line);
	if (n == NULL) {
		b->failed = 1;
		return 1;
	}
	b->hdrs = n;
	return 0;
}

/* One more header line (b->failed on ENOMEM). */
static void fwd_add_line(fwd_build_t *b, const char *line)
{
	struct curl_slist *n = b->failed ? NULL : curl_slist_append(b->hdrs, line);

	if (n == NULL)
		b->failed = 1;
	else
		b->hdrs = n;
}

/*
 * How a relayed request authenticates (docs/SECURITY.md "Between
 * brokers"): when this broker checked its client's token (req->principal
 * set) and has a token of its own, the request goes up with this broker's
 * token and the client's principal in Strand-Principal (KIP-590), and the
 * client's token (header or access_token) stays here. Otherwise (this
 * broker has authentication off) the client's credentials go up as they
 * came and the leader checks them itself.
 */
static int fwd_relays_as_broker(api_request_t *req)
{
	return req->principal[0] != '\0' && api_has_peer_token(req->api);
}

/* Our own headers: the relay marks (never relayed again), no
 * "Expect: 100-continue" round trip before a large body, and with
 * as_broker this broker's token and its client's principal. */
static int fwd_add_marks(fwd_build_t *b, api_request_t *req)
{
	char line[64];
	buf_t auth = BUF_INIT;

	snprintf(line, sizeof line, "Strand-Forwarded-By: %" PRId32, api_self_id(req->api));
	fwd_add_line(b, "Expect:");
	fwd_add_line(b, "Strand-Route: direct");
	fwd_add_line(b, line);
	if (b->as_broker) {
		/* the token as it is now, copied: a reload (SIGHUP) changes the
		 * requests built after it, never one in flight */
		if (api_peer_token_header(req->api, &auth) != 1)
			b->failed = 1;   /* no memory (a broker's token is never removed) */
		else
			fwd_add_line(b, auth.data);
		if (auth.data != NULL)
			explicit_bzero(auth.data, auth.len);
		buf_reset(&auth);
		if (buf_appendf(&auth, "Strand-Principal: %s", req->principal) != 0)
			b->failed = 1;
		else
			fwd_add_line(b, auth.data);
		buf_free(&auth);
	}
	return b->failed ? STRAND_ENOMEM : 0;
}

/* A new transfer of set s (not yet submitted). */
static fwd_xfer_t *xfer_new(forward_set_t *s, int mode, int32_t id, int64_t timeout_ms)
{
	fwd_xfer_t *x = calloc(1, sizeof *x);

	if (x == NULL)
		return NULL;
	x->fw = s->fw;
	x->set = s;
	atomic_fetch_add(&s->refs, 1);
	x->mode = mode;
	x->target_id = id;
	x->timeout_ms = timeout_ms;
	x->content_length = -1;
	atomic_init(&x->refs, 1);   /* the set's */
	buf_init(&x->body);
	buf_init(&x->resp_hdrs);
	buf_init(&x->data);
	return x;
}

/* Set up the easy handle of x for method to x->url with x->hdrs and x->body. */
static int xfer_setup(fwd_xfer_t *x, const char *method)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return STRAND_ENOMEM;
	x->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, fwd_on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fwd_on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)FORWARD_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (api_options(x->fw->api)->peer_ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, api_options(x->fw->api)->peer_ca_file);
	if (x->timeout_ms > 0) {
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
	} else {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)FORWARD_SSE_IDLE_S);
	}
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
		/* HEAD goes up as GET: MHD drops the body towards the client */
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body.data ? x->body.data : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	return 0;
}

/* Take one of the FORWARD_MAX_TRANSFERS slots: 0, or STRAND_EAGAIN. The
 * thread gives it back when the transfer finishes (fwd_finish). */
static int fwd_reserve(forwarder_t *fw)
{
	if (atomic_fetch_add(&fw->transfers, 1) >= FORWARD_MAX_TRANSFERS) {
		atomic_fetch_sub(&fw->transfers, 1);
		return STRAND_EAGAIN;
	}
	return 0;
}

/* Hand x (with a reserved slot) to the thread. */
static void xfer_submit(fwd_xfer_t *x)
{
	atomic_fetch_add(&x->refs, 1);   /* the thread's, dropped by fwd_finish */
	if (!x->lookup)
		atomic_fetch_add_explicit(&x->fw->relayed, 1, memory_order_relaxed);
	fwd_command(x, 1, 0, 0);
}

/* ---- sets ------------------------------------------------------------------ */

int forward_set_new(api_request_t *req, forward_set_t **out)
{
	forward_set_t *s = calloc(1, sizeof *s);

	*out = NULL;
	if (s == NULL)
		return STRAND_ENOMEM;
	s->fw = api_forward_state(req->api);
	s->req = req;
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->refs, 1);   /* the request's */
	*out = s;
	return 0;
}

static int set_push(forward_set_t *s, fwd_xfer_t *x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		fwd_xfer_t **n = realloc(s->xfers, cap * sizeof *n);

		if (n == NULL)
			return STRAND_ENOMEM;
		s->xfers = n;
		s->cap = cap;
	}
	s->xfers[s->n++] = x;
	return 0;
}

void forward_set_free(forward_set_t *s)
{
	size_t i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->req = NULL;      /* from now on nothing resumes the request */
	s->parked = 0;
	pthread_mutex_unlock(&s->mu);
	for (i = 0; i < s->n; i++) {
		fwd_xfer_t *x = s->xfers[i];
		int running;

		pthread_mutex_lock(&s->mu);
		running = x->phase != FWD_DONE;
		pthread_mutex_unlock(&s->mu);
		if (running && s->fw != NULL)
			fwd_command(x, 0, 0, 1);
		xfer_unref(x);
	}
	s->n = 0;
	set_unref(s);
}

/* Calls made on the request's behalf: its credentials as the relay
 * carries them (fwd_add_marks), and the content type. */
static int fwd_call_headers(forward_set_t *s, fwd_build_t *b, const char *content_type)
{
	const char *auth = api_header(s->req, "Authorization");
	buf_t line = BUF_INIT;

	b->as_broker = fwd_relays_as_broker(s->req);
	if (auth != NULL)
		fwd_add_header(b, "Authorization", auth);
	if (content_type != NULL && buf_appendf(&line, "Content-Type: %s", content_type) != 0)
		b->failed = 1;
	else if (content_type != NULL)
		fwd_add_line(b, line.data);
	buf_free(&line);
	return fwd_add_marks(b, s->req);
}

/* One call of the set: POST with body, or GET (body NULL), bounded by
 * timeout_ms in all; lookup: a question of this broker's, not a relay. */
static int set_call(forward_set_t *s, int32_t id, const char *base_url, const char *path_query,
                    const char *content_type, const void *body, size_t len,
                    int64_t timeout_ms, int lookup, size_t *index)
{
	fwd_xfer_t *x;
	buf_t url = BUF_INIT;
	fwd_build_t b = { &url, NULL, 1, 0, 0 };
	int rc;

	if (s->fw == NULL || s->req == NULL)
		return STRAND_EINVAL;
	x = xfer_new(s, FWD_COLLECT, id, timeout_ms);
	if (x == NULL)
		return STRAND_ENOMEM;
	x->lookup = lookup;
	rc = buf_append_str(&url, base_url);
	rc = rc ? rc : buf_append_str(&url, path_query);
	rc = rc ? rc : fwd_call_headers(s, &b, content_type);
	rc = rc ? rc : buf_append(&x->body, body, len);
	x->hdrs = b.hdrs;
	x->url = url.data;
	rc = rc ? rc : (x->url == NULL ? STRAND_ENOMEM : 0);
	rc = rc ? rc : xfer_setup(x, body != NULL ? "POST" : "GET");
	rc = rc ? rc : set_push(s, x);
	if (rc) {
		xfer_unref(x);
		return rc;
	}
	*index = s->n - 1;
	if (fwd_reserve(s->fw) != 0) {
		/* kept in the set as finished without an answer */
		x->phase = FWD_DONE;
		x->result = CURLE_FAILED_INIT;
		x->refused = 1;
		snprintf(x->curl_err, sizeof x->curl_err,
		         "this broker relays %d requests already", FORWARD_MAX_TRANSFERS);
		return STRAND_EAGAIN;
	}
	xfer_submit(x);
	return 0;
}

int forward_set_call(forward_set_t *s, int32_t id, const char *base_url,
                     const char *path_query, const char *content_type,
                     const void *body, size_t len, int64_t timeout_ms, size_t *index)
{
	return set_call(s, id, base_url, path_query, content_type, body, len,
	                timeout_ms + FORWARD_SLACK_MS, 0, index);
}

int forward_set_get(forward_set_t *s, int32_t id, const char *base_url,
                    const char *path_query, int64_t timeout_ms, size_t *index)
{
	return set_call(s, id, base_url, path_query, NULL, NULL, 0, timeout_ms, 1, index);
}

int forward_set_wait(forward_set_t *s)
{
	size_t i;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->n; i++)
		if (s->xfers[i]->phase != FWD_DONE)
			break;
	if (i == s->n) {
		pthread_mutex_unlock(&s->mu);
		return 1;
	}
	rc = api_suspend(s->req);
	s->parked = rc == 0;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* What a transfer that got no answer stands for. */
static void fwd_failure(const fwd_xfer_t *x, api_problem_t *problem, char *detail, size_t len)
{
	const char *why = x->curl_err[0] ? x->curl_err : curl_easy_strerror(x->result);

	if (x->refused) {
		*problem = API_PROBLEM_UNAVAILABLE;   /* never started (forward_set_call) */
		snprintf(detail, len, "%.160s; retry shortly", why);
	} else if (x->result == CURLE_OPERATION_TIMEDOUT && x->connected) {
		*problem = API_PROBLEM_REQUEST_TIMED_OUT;
		snprintf(detail, len, "broker %" PRId32 " (which serves this) did not answer in time; "
		         "the request may have been carried out: %.160s", x->target_id, why);
	} else {
		*problem = API_PROBLEM_UNAVAILABLE;
		snprintf(detail, len, "broker %" PRId32 " (which serves this) cannot be reached: %.160s",
		         x->target_id, why);
	}
}

void forward_set_answer(forward_set_t *s, size_t index, forward_answer_t *a)
{
	fwd_xfer_t *x = s->xfers[index];

	memset(a, 0, sizeof *a);
	pthread_mutex_lock(&s->mu);
	a->status = x->result == CURLE_OK ? x->status : 0;
	a->content_type = x->content_type;
	if (x->data.data == NULL || buf_append(&x->data, "", 0) != 0)
		a->body = "";
	else
		a->body = x->data.data;
	a->len = x->data.len;
	a->truncated = x->truncated;
	if (a->status == 0)
		fwd_failure(x, &a->problem, a->detail, sizeof a->detail);
	pthread_mutex_unlock(&s->mu);
}

/* Relay the response headers kept in x (under no lock: x is done). */
static int fwd_add_resp_headers(api_request_t *req, const fwd_xfer_t *x)
{
	const char *p = x->resp_hdrs.data, *end = p ? p + x->resp_hdrs.len : NULL;
	const char *name, *value;
	int rc = 0;

	while (rc == 0 && p != NULL && p < end) {
		name = p;
		p += strlen(p) + 1;
		value = p;
		p += strlen(p) + 1;
		rc = api_add_header(req, name, value);
	}
	return rc;
}

int forward_set_relay(forward_set_t *s, size_t index)
{
	fwd_xfer_t *x = s->xfers[index];
	forward_answer_t a;
	buf_t body = BUF_INIT;
	int rc;

	forward_set_answer(s, index, &a);
	if (a.status == 0)
		return api_respond_problem(s->req, 503, a.problem, a.detail, NULL);
	rc = fwd_add_resp_headers(s->req, x);
	if (rc == 0 && (a.status == 204 || a.status == 304))
		return api_respond_empty(s->req, (unsigned)a.status);
	rc = rc ? rc : buf_append(&body, a.body, a.len);
	rc = rc ? rc : api_respond_buf(s->req, (unsigned)a.status,
	                               a.content_type[0] ? a.content_type : "application/json",
	                               &body);
	buf_free(&body);
	return rc;
}

/* ---- relaying a whole request ---------------------------------------------- */

typedef struct fwd_req {
	forward_set_t *set;
	fwd_xfer_t    *x;              /* the current transfer (the last one after a retry) */
	const char    *method;
	char          *base_url;       /* where x goes (owned) */
	int            retried;        /* sent on once after a 421 already */
} fwd_req_t;

static void fwd_req_cleanup(api_request_t *req)
{
	fwd_req_t *f = req->ctx;

	if (f == NULL)
		return;
	forward_set_free(f->set);
	free(f->base_url);
	free(f);
	req->ctx = NULL;
}

static ssize_t fwd_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	fwd_xfer_t *x = cls;
	forward_set_t *s = x->set;
	size_t avail, n;
	int unpause = 0, rc;

	(void)pos;
	pthread_mutex_lock(&s->mu);
	avail = x->data.len - x->data_pos;
	if (avail > 0) {
		n = avail < max ? avail : max;
		memcpy(buf, x->data.data + x->data_pos, n);
		x->data_pos += n;
		if (x->paused && x->data.len - x->data_pos < FORWARD_STREAM_BUF / 2) {
			x->paused = 0;
			unpause = 1;
		}
		pthread_mutex_unlock(&s->mu);
		if (unpause)
			fwd_command(x, 0, 1, 0);
		return (ssize_t)n;
	}
	if (x->phase == FWD_DONE) {
		pthread_mutex_unlock(&s->mu);
		/* a transfer cut short: close the connection so the client sees it */
		return x->result == CURLE_OK ? -1 : -2;
	}
	if (s->req == NULL) {
		pthread_mutex_unlock(&s->mu);
		return -2;
	}
	rc = api_suspend(s->req);
	s->parked = rc == 0;
	pthread_mutex_unlock(&s->mu);
	return rc == 0 ? 0 : -2;
}

static void fwd_read_free(void *cls)
{
	xfer_unref(cls);
}

/* The target answered (headers): relay status, headers and a streamed body. */
static int fwd_respond(api_request_t *req, fwd_xfer_t *x)
{
	uint64_t size;
	int rc;

	/* x->resp_hdrs, status, content type and length are final once the
	 * phase is past FWD_RUNNING: the thread writes them before */
	rc = fwd_add_resp_headers(req, x);
	if (rc)
		return rc;
	if (x->status == 204 || x->status == 304)
		return api_respond_empty(req, (unsigned)x->status);   /* never a body */
	size = x->content_length >= 0 ? (uint64_t)x->content_length : (uint64_t)-1;
	atomic_fetch_add(&x->refs, 1);   /* the reader's */
	return api_respond_callback(req, (unsigned)x->status,
	                            x->content_type[0] ? x->content_type : NULL, size,
	                            fwd_read, x, fwd_read_free);
}

static int fwd_launch(api_request_t *req, fwd_req_t *f, fwd_xfer_t *x);

/*
 * The broker this was relayed to answered 421: its view (newer than ours,
 * during a leadership change) names another leader. Send the request on
 * there once — still marked relayed, so that broker serves it or answers
 * 421 itself: two hops at most, never a loop. Returns 0 (sent on, or
 * answered), 1 (nothing better to try: relay the 421), or < 0.
 */
static int fwd_retry(api_request_t *req, fwd_req_t *f)
{
	fwd_xfer_t *x = f->x, *nx;
	fwd_build_t b = { NULL, NULL, 1, 0, 0 };
	buf_t url = BUF_INIT;
	const cJSON *lu, *li;
	struct curl_slist *h;
	cJSON *doc;
	int32_t id;
	int rc;

	f->retried = 1;
	doc = x->data.len > 0 ? cJSON_ParseWithLength(x->data.data, x->data.len) : NULL;
	lu = cJSON_GetObjectItemCaseSensitive(doc, "leader_url");
	li = cJSON_GetObjectItemCaseSensitive(doc, "leader");
	if (!cJSON_IsString(lu) || !cJSON_IsNumber(li) || strcmp(lu->valuestring, f->base_url) == 0 ||
	    (int32_t)li->valuedouble == api_self_id(req->api) ||
	    strncmp(x->url, f->base_url, strlen(f->base_url)) != 0) {
		cJSON_Delete(doc);
		return 1;
	}
	id = (int32_t)li->valuedouble;
	/* the same path, query, headers and body, to the other broker */
	rc = buf_append_str(&url, lu->valuestring);
	rc = rc ? rc : buf_append_str(&url, x->url + strlen(f->base_url));
	free(f->base_url);
	f->base_url = strdup(lu->valuestring);
	cJSON_Delete(doc);
	nx = xfer_new(f->set, FWD_STREAM, id, x->timeout_ms);
	if (rc || f->base_url == NULL || nx == NULL) {
		buf_free(&url);
		xfer_unref(nx);
		return STRAND_ENOMEM;
	}
	nx->url = url.data;
	for (h = x->hdrs; h != NULL; h = h->next)   /* x is done: read only */
		fwd_add_line(&b, h->data);
	nx->hdrs = b.hdrs;
	rc = b.failed ? STRAND_ENOMEM : buf_append(&nx->body, x->body.data, x->body.len);
	rc = rc ? rc : xfer_setup(nx, f->method);
	rc = rc ? rc : set_push(f->set, nx);
	if (rc) {
		xfer_unref(nx);
		return rc;
	}
	f->x = nx;
	atomic_fetch_add_explicit(&nx->fw->retried, 1, memory_order_relaxed);
	return fwd_launch(req, f, nx);
}

static int fwd_on_resume(api_request_t *req)
{
	fwd_req_t *f = req->ctx;
	fwd_xfer_t *x = f->x;
	forward_set_t *s = f->set;
	api_problem_t problem;
	char detail[300];
	int rc, phase;

	pthread_mutex_lock(&s->mu);
	phase = x->phase;
	/* a 421 that may name a better leader: wait for its whole body */
	if ((phase == FWD_RUNNING || (phase == FWD_HEADERS && x->status == 421 && !f->retried)) &&
	    !api_is_stopping(req->api)) {
		/* nothing to answer with yet (or woken by shutdown's resume-all): wait on */
		rc = api_suspend(req);
		s->parked = rc == 0;
		pthread_mutex_unlock(&s->mu);
		if (rc == 0)
			return 0;
		if (phase == FWD_HEADERS)
			return fwd_respond(req, x);
	} else {
		pthread_mutex_unlock(&s->mu);
	}
	if (phase == FWD_DONE && x->status == 421 && x->result == CURLE_OK && !f->retried) {
		rc = fwd_retry(req, f);
		if (rc <= 0)
			return rc;
	}
	if (phase == FWD_RUNNING)
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE,
		                           "shutting down while the broker serving this answered",
		                           NULL);
	if (x->status >= 200)
		return fwd_respond(req, x);
	fwd_failure(x, &problem, detail, sizeof detail);
	return api_respond_problem(req, 503, problem, detail, NULL);
}

/* The request's own wait, which bounds the relayed transfer. 0: none (SSE). */
static int64_t fwd_budget_ms(api_request_t *req)
{
	const char *name = req->route->name, *v;
	int64_t ms = 0;

	if (strcmp(name, "produce") == 0 || strcmp(name, "produce_partition") == 0) {
		v = api_query(req, "timeout_ms");
		ms = v ? strtoll(v, NULL, 10) : 30000;
		if (ms < 0 || ms > 300000)
			ms = 300000;
	} else if (strcmp(name, "fetch") == 0 || strcmp(name, "group_fetch") == 0) {
		if (strcmp(name, "fetch") == 0 && api_accepts(req, "text/event-stream"))
			return 0;
		v = api_query(req, "max_wait_ms");
		ms = v ? strtoll(v, NULL, 10) : 0;
		if (ms < 0 || ms > 60000)
			ms = 60000;
	} else if (strcmp(name, "group_join") == 0) {
		cJSON *doc = req->body.data ? cJSON_ParseWithLength(req->body.data, req->body.len)
		                            : NULL;
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "rebalance_timeout_ms");

		ms = cJSON_IsNumber(t) ? (int64_t)t->valuedouble : GROUP_REBALANCE_DEFAULT_MS;
		if (ms < 0 || ms > GROUP_SESSION_MAX_MS)
			ms = GROUP_SESSION_MAX_MS;
		cJSON_Delete(doc);
	}
	return ms + FORWARD_SLACK_MS;
}

/* Hand x (set up) to the thread and park the request until it answers. */
static int fwd_launch(api_request_t *req, fwd_req_t *f, fwd_xfer_t *x)
{
	int rc;

	if (fwd_reserve(x->fw) != 0) {
		snprintf(req->err, sizeof req->err, "this broker relays %d requests already; "
		         "retry shortly, or send it to broker %" PRId32 " directly",
		         FORWARD_MAX_TRANSFERS, x->target_id);
		return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, req->err, NULL);
	}
	/* parked before the thread has it, so no event can come first */
	pthread_mutex_lock(&f->set->mu);
	rc = api_suspend(req);
	f->set->parked = rc == 0;
	pthread_mutex_unlock(&f->set->mu);
	if (rc) {
		atomic_fetch_sub(&x->fw->transfers, 1);
		if (rc == STRAND_ECLOSED)
			return api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, "shutting down",
			                           NULL);
		return rc;
	}
	xfer_submit(x);
	return 0;
}

/* Start the relay of the whole request (its body is complete). */
static int fwd_start(api_request_t *req, const void *body, size_t len)
{
	fwd_req_t *f = req->ctx;
	int rc;

	rc = buf_append(&f->x->body, body, len);
	rc = rc ? rc : xfer_setup(f->x, f->method);
	return rc ? rc : fwd_launch(req, f, f->x);
}

static int fwd_on_body(api_request_t *req, const char *data, size_t len)
{
	fwd_req_t *f = req->ctx;

	return buf_append(&f->x->body, data, len);
}

static int fwd_on_complete(api_request_t *req)
{
	return fwd_start(req, NULL, 0);
}

int api_forward_to(api_request_t *req, int32_t id, const char *base_url)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
	forwarder_t *fw = api_forward_state(req->api);
	fwd_build_t b = { NULL, NULL, 1, 0, 0 };
	buf_t url = BUF_INIT;
	fwd_req_t *f;
	int rc, i;

	if (fw == NULL)
		return STRAND_EINVAL;
	if (req->ctx != NULL)
		return strand_err_set(req->err, sizeof req->err, STRAND_EINVAL,
		                      "bug: relay of a request that has state already");
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return STRAND_ENOMEM;
	req->ctx = f;
	req->on_cleanup = fwd_req_cleanup;
	req->on_resume = fwd_on_resume;
	f->method = "GET";
	for (i = 0; i < 5; i++)
		if (req->method == (api_method_t)(1 << i))
			f->method = methods[i];
	rc = forward_set_new(req, &f->set);
	if (rc)
		return rc;
	f->base_url = strdup(base_url);
	f->x = xfer_new(f->set, FWD_STREAM, id, fwd_budget_ms(req));
	if (f->base_url == NULL || f->x == NULL || set_push(f->set, f->x) != 0) {
		xfer_unref(f->x);
		f->x = NULL;
		return STRAND_ENOMEM;
	}
	/* URL: base + path (escaped again) + query (escaped again) */
	b.url = &url;
	b.as_broker = fwd_relays_as_broker(req);
	rc = buf_append_str(&url, base_url);
	rc = rc ? rc : fwd_append_escaped(&url, req->path, 1);
	if (rc == 0)
		api_each_query(req, fwd_add_query, &b);
	if (rc == 0 && !b.failed)
		api_each_header(req, fwd_add_header, &b);
	f->x->hdrs = b.hdrs;
	f->x->url = url.data;
	if (rc || b.failed || url.data == NULL)
		return STRAND_ENOMEM;
	rc = fwd_add_marks(&b, req);
	f->x->hdrs = b.hdrs;
	if (rc)
		return rc;
	if (req->route->flags & API_ROUTE_STREAM) {
		req->on_body = fwd_on_body;
		req->on_complete = fwd_on_complete;
		return 0;
	}
	return fwd_start(req, req->body.data, req->body.len);
}

/* ---- decisions -------------------------------------------------------------- */

/* Asked not to be relayed, or relayed already. */
int api_forward_is_direct(api_request_t *req)
{
	const char *route = api_header(req, "Strand-Route");

	return api_header(req, "Strand-Forwarded-By") != NULL ||
	       (route != NULL && strcasecmp(route, "direct") == 0);
}

int api_forward_not_leader(api_request_t *req, int32_t id, const char *url, const char *what)
{
	cJSON *extra = cJSON_CreateObject();

	snprintf(req->err, sizeof req->err, "broker %" PRId32 " serves %s, not this broker "
	         "(%" PRId32 "); send it there, or leave out Strand-Route: direct",
	         id, what, api_self_id(req->api));
	if (extra != NULL) {
		cJSON_AddStringToObject(extra, "leader_url", url);
		cJSON_AddNumberToObject(extra, "leader", id);
	}
	return api_respond_problem(req, 421, API_PROBLEM_NOT_LEADER, req->err, extra);
}

/* After a locator call: serve here (0), or answered/relayed (1), or < 0. */
static int fwd_decide(api_request_t *req, int rc, int32_t id, const char *url, const char *what)
{
	if (rc == STRAND_ENOENT)
		return 0;
	if (rc != 0) {
		snprintf(req->err, sizeof req->err, "%s has no leader right now (%s); retry shortly",
		         what, strand_strerror(rc));
		rc = api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, req->err, NULL);
		return rc ? rc : 1;
	}
	if (id == api_self_id(req->api))
		return 0;
	if (api_forward_is_direct(req)) {
		rc = api_forward_not_leader(req, id, url, what);
		return rc ? rc : 1;
	}
	rc = api_forward_to(req, id, url);
	return rc ? rc : 1;
}

static int fwd_partition(api_request_t *req)
{
	api_locator_t loc;
	char url[512], what[300];
	int32_t id = -1;
	int rc;

	if (!fwd_locator(api_forward_state(req->api), &loc) || loc.partition_leader == NULL ||
	    req->topic == NULL || req->partition < 0)
		return 0;
	rc = loc.partition_leader(loc.ctx, req->topic, req->partition, &id, url, sizeof url);
	snprintf(what, sizeof what, "partition %d of topic %s", (int)req->partition, req->topic);
	return fwd_decide(req, rc, id, url, what);
}

static int fwd_group(api_request_t *req)
{
	api_locator_t loc;
	char url[512], what[300];
	int32_t id = -1;
	int rc;

	if (!fwd_locator(api_forward_state(req->api), &loc) || loc.group_coordinator == NULL)
		return 0;
	rc = loc.group_coordinator(loc.ctx, req->group, &id, url, sizeof url);
	if (req->group != NULL)
		snprintf(what, sizeof what, "group %s", req->group);
	else
		snprintf(what, sizeof what, "the group list");
	rc = fwd_decide(req, rc, id, url, what);
	if (rc != 0 || req->group == NULL)
		return rc;
	/* served here: as its coordinator, with its groups loaded from
	 * __consumer_offsets (the first request after a leadership change
	 * loads them; others meanwhile get 503, as Kafka's
	 * COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR are retried) */
	rc = broker_group_ready(req->broker, req->group, req->err, sizeof req->err);
	if (rc == STRAND_ENOTLEADER || rc == STRAND_EUNAVAILABLE) {
		rc = api_respond_problem(req, 503, API_PROBLEM_UNAVAILABLE, req->err, NULL);
		return rc ? rc : 1;
	}
	return rc;
}

int api_forward_route(api_request_t *req)
{
	unsigned flags = req->route->flags;

	if ((flags & API_ROUTE_LEADER) && req->partition >= 0)
		return fwd_partition(req);
	if (flags & API_ROUTE_COORDINATOR)
		return fwd_group(req);
	return 0;
}

int api_forward_locate(api_request_t *req, const char *topic, int32_t p,
                       int32_t *id, char *url, size_t urllen)
{
	api_locator_t loc;
	int rc;

	if (!fwd_locator(api_forward_state(req->api), &loc) || loc.partition_leader == NULL)
		return 0;
	rc = loc.partition_leader(loc.ctx, topic, p, id, url, urllen);
	if (rc == STRAND_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	return *id == loc.self_id ? 0 : 1;
}
