/*
 * limits.c — per-client bookkeeping behind the connection and stream
 * limits (issue 11; docs/SECURITY.md "Limits"): how many connections and
 * SSE streams each client address holds, and how many connections there
 * are in all.
 *
 * libmicrohttpd tells us when a connection opens and closes
 * (MHD_OPTION_NOTIFY_CONNECTION); each connection keeps a pointer to its
 * client's entry as its socket context, so a request finds its client
 * without a lookup. Over a limit, the next request on the connection is
 * answered 429 THROTTLED with Retry-After and the connection closed — an
 * answer a client can act on, where refusing the TCP accept (MHD's own
 * limits, kept as a hard backstop above ours) looks like a network fault.
 *
 * Entries live in a hash table of client addresses under one mutex: it is
 * taken per connection open/close and per SSE stream, never per record.
 */
#include "api/http_internal.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define LIMITS_BUCKETS 1024

struct api_client {
	unsigned char       addr[16];   /* IPv4 mapped into 16 bytes */
	int                 connections;
	int                 sse_streams;
	struct api_client  *next;
};

struct api_limits {
	pthread_mutex_t     lock;
	api_client_t       *buckets[LIMITS_BUCKETS];
	int                 connections;   /* in all */
};

int api_limits_new(api_limits_t **out)
{
	api_limits_t *l = calloc(1, sizeof *l);

	*out = NULL;
	if (l == NULL)
		return STRAND_ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

void api_limits_free(api_limits_t *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < LIMITS_BUCKETS; i++)
		while (l->buckets[i] != NULL) {
			api_client_t *c = l->buckets[i];

			l->buckets[i] = c->next;
			free(c);
		}
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* The client address as 16 bytes (IPv4 as ::ffff:a.b.c.d); 0 when unknown. */
static int client_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 1;
	}
	return 0;
}

static size_t key_bucket(const unsigned char key[16])
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % LIMITS_BUCKETS;
}

/* Drop c if nothing holds it. Caller holds the lock. */
static void client_maybe_free(api_limits_t *l, api_client_t *c)
{
	api_client_t **pp;

	if (c->connections > 0 || c->sse_streams > 0)
		return;
	for (pp = &l->buckets[key_bucket(c->addr)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			free(c);
			return;
		}
}

api_client_t *api_limits_connection_opened(api_limits_t *l, const struct sockaddr *sa)
{
	unsigned char key[16];
	api_client_t *c;
	size_t b;

	client_key(sa, key);
	b = key_bucket(key);
	pthread_mutex_lock(&l->lock);
	l->connections++;
	for (c = l->buckets[b]; c != NULL; c = c->next)
		if (memcmp(c->addr, key, 16) == 0)
			break;
	if (c == NULL) {
		c = calloc(1, sizeof *c);
		if (c != NULL) {
			memcpy(c->addr, key, 16);
			c->next = l->buckets[b];
			l->buckets[b] = c;
		}
	}
	if (c != NULL)
		c->connections++;
	pthread_mutex_unlock(&l->lock);
	return c;   /* NULL (out of memory): this connection goes uncounted per client */
}

void api_limits_connection_closed(api_limits_t *l, api_client_t *c)
{
	pthread_mutex_lock(&l->lock);
	l->connections--;
	if (c != NULL) {
		c->connections--;
		client_maybe_free(l, c);
	}
	pthread_mutex_unlock(&l->lock);
}

int api_limits_check_connection(api_limits_t *l, const api_client_t *c, int max_total,
                                int max_per_client, char *why, size_t whylen)
{
	int total, mine;

	pthread_mutex_lock(&l->lock);
	total = l->connections;
	mine = c != NULL ? c->connections : 0;
	pthread_mutex_unlock(&l->lock);
	if (max_total > 0 && total > max_total) {
		snprintf(why, whylen, "the broker holds %d connections (limit %d): retry later",
		         total, max_total);
		return STRAND_EAGAIN;
	}
	if (max_per_client > 0 && mine > max_per_client) {
		snprintf(why, whylen, "this client address holds %d connections (limit %d per address)",
		         mine, max_per_client);
		return STRAND_EAGAIN;
	}
	return 0;
}

int api_limits_sse_acquire(api_limits_t *l, api_client_t *c, int max_per_client)
{
	int rc = 0;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&l->lock);
	if (max_per_client > 0 && c->sse_streams >= max_per_client)
		rc = STRAND_EAGAIN;
	else
		c->sse_streams++;
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void api_limits_sse_release(api_limits_t *l, api_client_t *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	c->sse_streams--;
	client_maybe_free(l, c);
	pthread_mutex_unlock(&l->lock);
}

int api_limits_connections(api_limits_t *l)
{
	int n;

	pthread_mutex_lock(&l->lock);
	n = l->connections;
	pthread_mutex_unlock(&l->lock);
	return n;
}
