/*
 * idempotency.c — the Idempotency-Key window (idempotency.h): a hash map of
 * (scope, key) entries, a list of done entries oldest first (the window
 * evicts from its head), and the journal that makes the window survive a
 * restart.
 *
 * Journal record (big-endian): u32 payload length, u32 CRC32C of the
 * payload, payload = u8 version (1), i64 stored_ms, u16 status, u8 flags,
 * 32 bytes fingerprint, u16 scope length, u16 key length, u16 content type
 * length, u32 body length, then scope, key, content type, body.
 */
#include "broker/idempotency.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker_internal.h"
#include "common/err.h"
#include "log/crc32c.h"

#define RECORD_HEAD      8                        /* length + CRC */
#define PAYLOAD_FIXED    (1 + 8 + 2 + 1 + SHA256_DIGEST_SIZE + 2 + 2 + 2 + 4)
#define RECORD_VERSION   1
#define MAX_BODY_BYTES   ((size_t)1 << 30)        /* a record's sanity bound at replay */
#define COMPACT_SLACK    (1 << 20)                /* journal bytes tolerated beyond 2x live */

struct idem_entry {
	idem_entry_t *hnext;          /* hash chain */
	idem_entry_t *prev, *next;    /* done list, oldest first */
	uint64_t      hash;
	char         *scope, *key;
	int           done;
	int64_t       stored_ms;
	size_t        bytes;          /* counted against max_bytes */
	size_t        record_bytes;   /* its journal record's size */
	idem_answer_t answer;
};

struct idem_store {
	pthread_mutex_t lock;          /* everything below but the journal's fields */
	idem_limits_t   lim;
	idem_entry_t  **buckets;
	size_t          nbuckets, nentries;
	idem_entry_t   *head, *tail;   /* done entries */
	size_t          ndone;
	int64_t         live_bytes, live_record_bytes;

	pthread_mutex_t journal_lock;  /* fd and journal_bytes; held across journal I/O */
	char           *path;
	int             fd;
	int64_t         journal_bytes;
};

/* ---- answers and entries ------------------------------------------------- */

void idem_answer_free(idem_answer_t *a)
{
	if (a == NULL)
		return;
	free(a->content_type);
	free(a->body);
	a->content_type = NULL;
	a->body = NULL;
	a->len = 0;
}

static int answer_copy(idem_answer_t *dst, const idem_answer_t *src)
{
	*dst = *src;
	dst->content_type = strdup(src->content_type ? src->content_type : "");
	dst->body = malloc(src->len + 1);
	if (dst->content_type == NULL || dst->body == NULL) {
		idem_answer_free(dst);
		return STRAND_ENOMEM;
	}
	if (src->len > 0)
		memcpy(dst->body, src->body, src->len);
	dst->body[src->len] = '\0';
	return 0;
}

static uint64_t key_hash(const char *scope, const char *key)
{
	uint64_t h = UINT64_C(1469598103934665603);   /* FNV-1a */

	for (const char *p = scope; *p; p++)
		h = (h ^ (uint8_t)*p) * UINT64_C(1099511628211);
	h = (h ^ 0xff) * UINT64_C(1099511628211);
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * UINT64_C(1099511628211);
	return h;
}

static void entry_free(idem_entry_t *e)
{
	if (e == NULL)
		return;
	idem_answer_free(&e->answer);
	free(e->scope);
	free(e->key);
	free(e);
}

static idem_entry_t *entry_new(const char *scope, const char *key)
{
	idem_entry_t *e = calloc(1, sizeof *e);

	if (e == NULL)
		return NULL;
	e->scope = strdup(scope);
	e->key = strdup(key);
	if (e->scope == NULL || e->key == NULL) {
		entry_free(e);
		return NULL;
	}
	e->hash = key_hash(scope, key);
	return e;
}

/* ---- the map and the done list (s->lock held) ----------------------------- */

static idem_entry_t *map_find(idem_store_t *s, const char *scope, const char *key)
{
	uint64_t h = key_hash(scope, key);

	for (idem_entry_t *e = s->buckets[h & (s->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && strcmp(e->key, key) == 0 && strcmp(e->scope, scope) == 0)
			return e;
	return NULL;
}

static int map_insert(idem_store_t *s, idem_entry_t *e)
{
	if (s->nentries + 1 > s->nbuckets * 2) {
		size_t n = s->nbuckets * 2;
		idem_entry_t **b = calloc(n, sizeof *b);

		if (b == NULL)
			return STRAND_ENOMEM;
		for (size_t i = 0; i < s->nbuckets; i++) {
			for (idem_entry_t *x = s->buckets[i], *next; x != NULL; x = next) {
				next = x->hnext;
				x->hnext = b[x->hash & (n - 1)];
				b[x->hash & (n - 1)] = x;
			}
		}
		free(s->buckets);
		s->buckets = b;
		s->nbuckets = n;
	}
	e->hnext = s->buckets[e->hash & (s->nbuckets - 1)];
	s->buckets[e->hash & (s->nbuckets - 1)] = e;
	s->nentries++;
	return 0;
}

static void map_remove(idem_store_t *s, idem_entry_t *e)
{
	for (idem_entry_t **pp = &s->buckets[e->hash & (s->nbuckets - 1)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			s->nentries--;
			return;
		}
	}
}

static void list_append(idem_store_t *s, idem_entry_t *e)
{
	e->prev = s->tail;
	e->next = NULL;
	if (s->tail != NULL)
		s->tail->next = e;
	else
		s->head = e;
	s->tail = e;
	s->ndone++;
	s->live_bytes += (int64_t)e->bytes;
	s->live_record_bytes += (int64_t)e->record_bytes;
}

static void list_unlink(idem_store_t *s, idem_entry_t *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	s->ndone--;
	s->live_bytes -= (int64_t)e->bytes;
	s->live_record_bytes -= (int64_t)e->record_bytes;
}

/* Drop a done entry altogether. */
static void done_drop(idem_store_t *s, idem_entry_t *e)
{
	list_unlink(s, e);
	map_remove(s, e);
	entry_free(e);
}

/* The window: the oldest done entries go while over a limit. */
static void window_apply(idem_store_t *s, int64_t now_ms)
{
	while (s->head != NULL &&
	       ((int64_t)s->ndone > s->lim.max_keys || s->live_bytes > s->lim.max_bytes ||
	        s->head->stored_ms < now_ms - s->lim.max_age_ms))
		done_drop(s, s->head);
}

/* ---- journal records -------------------------------------------------------- */

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static uint32_t get16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static size_t record_size(const idem_entry_t *e)
{
	return RECORD_HEAD + PAYLOAD_FIXED + strlen(e->scope) + strlen(e->key) +
	       strlen(e->answer.content_type) + e->answer.len;
}

/* Encode e's record at out (record_size(e) bytes). */
static void record_encode(const idem_entry_t *e, uint8_t *out)
{
	size_t sl = strlen(e->scope), kl = strlen(e->key), cl = strlen(e->answer.content_type);
	size_t plen = PAYLOAD_FIXED + sl + kl + cl + e->answer.len;
	uint8_t *p = out + RECORD_HEAD;

	p[0] = RECORD_VERSION;
	put64(p + 1, (uint64_t)e->stored_ms);
	put16(p + 9, e->answer.status);
	p[11] = (uint8_t)e->answer.flush;
	memcpy(p + 12, e->answer.fingerprint, SHA256_DIGEST_SIZE);
	p += 12 + SHA256_DIGEST_SIZE;
	put16(p, (uint32_t)sl);
	put16(p + 2, (uint32_t)kl);
	put16(p + 4, (uint32_t)cl);
	put32(p + 6, (uint32_t)e->answer.len);
	p += 10;
	memcpy(p, e->scope, sl);
	memcpy(p + sl, e->key, kl);
	memcpy(p + sl + kl, e->answer.content_type, cl);
	memcpy(p + sl + kl + cl, e->answer.body, e->answer.len);
	put32(out, (uint32_t)plen);
	put32(out + 4, crc32c(out + RECORD_HEAD, plen));
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/*
 * Decode the record at buf (len bytes left) into a new done entry.
 * Returns the record's size, 0 at a torn or corrupt record, -1 on ENOMEM.
 */
static long record_decode(const uint8_t *buf, size_t len, idem_entry_t **out)
{
	const uint8_t *p = buf + RECORD_HEAD;
	size_t plen, sl, kl, cl, bl;
	idem_entry_t *e;

	if (len < RECORD_HEAD)
		return 0;
	plen = get32(buf);
	if (plen < PAYLOAD_FIXED || plen > len - RECORD_HEAD || plen > MAX_BODY_BYTES ||
	    crc32c(p, plen) != get32(buf + 4) || p[0] != RECORD_VERSION)
		return 0;
	sl = get16(p + 12 + SHA256_DIGEST_SIZE);
	kl = get16(p + 14 + SHA256_DIGEST_SIZE);
	cl = get16(p + 16 + SHA256_DIGEST_SIZE);
	bl = get32(p + 18 + SHA256_DIGEST_SIZE);
	if (PAYLOAD_FIXED + sl + kl + cl + bl != plen || sl == 0 || kl == 0 ||
	    kl > IDEM_MAX_KEY_BYTES || sl > IDEM_MAX_SCOPE_BYTES)
		return 0;
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return -1;
	p += PAYLOAD_FIXED;
	e->scope = dup_bytes(p, sl);
	e->key = dup_bytes(p + sl, kl);
	e->answer.content_type = dup_bytes(p + sl + kl, cl);
	e->answer.body = dup_bytes(p + sl + kl + cl, bl);
	if (e->scope == NULL || e->key == NULL || e->answer.content_type == NULL ||
	    e->answer.body == NULL) {
		entry_free(e);
		return -1;
	}
	p = buf + RECORD_HEAD;
	e->stored_ms = (int64_t)get64(p + 1);
	e->answer.status = get16(p + 9);
	e->answer.flush = p[11];
	memcpy(e->answer.fingerprint, p + 12, SHA256_DIGEST_SIZE);
	e->answer.len = bl;
	e->hash = key_hash(e->scope, e->key);
	e->done = 1;
	e->bytes = sl + kl + cl + bl;
	e->record_bytes = RECORD_HEAD + plen;
	*out = e;
	return (long)(RECORD_HEAD + plen);
}

/* Write all of buf at the journal's end (journal_lock held). */
static int journal_write(idem_store_t *s, const uint8_t *buf, size_t len, int sync,
                         char *err, size_t errlen)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = write(s->fd, buf + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;

			/* keep the file whole: cut what part of the record got in */
			if (ftruncate(s->fd, (off_t)s->journal_bytes) == 0)
				lseek(s->fd, 0, SEEK_END);
			return strand_err_set(err, errlen, e == ENOSPC ? STRAND_ENOSPC : STRAND_EIO,
			                      "write %s: %s", s->path, strerror(e));
		}
		done += (size_t)w;
	}
	s->journal_bytes += (int64_t)len;
	if (sync && fdatasync(s->fd) < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "fdatasync %s: %s", s->path,
		                      strerror(errno));
	return 0;
}

/* ---- open / close ------------------------------------------------------------ */

/* Replay the journal's records into s; cut a torn or corrupt tail. */
static int journal_replay(idem_store_t *s, int64_t now_ms, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0, pos = 0;
	int rc = broker_file_read(s->path, &data, &len, err, errlen);

	if (rc == STRAND_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	while (pos < len) {
		idem_entry_t *e, *old;
		long n = record_decode((const uint8_t *)data + pos, len - pos, &e);

		if (n < 0) {
			free(data);
			return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory reading %s",
			                      s->path);
		}
		if (n == 0)
			break;
		pos += (size_t)n;
		old = map_find(s, e->scope, e->key);
		if (old != NULL)
			done_drop(s, old);       /* a later answer for a key that had expired */
		if (map_insert(s, e) != 0) {
			entry_free(e);
			free(data);
			return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
		}
		list_append(s, e);
		window_apply(s, now_ms);
	}
	free(data);
	if (pos < len) {
		fprintf(stderr, "strand: %s: cutting a torn or corrupt tail at byte %zu of %zu\n",
		        s->path, pos, len);
		if (truncate(s->path, (off_t)pos) < 0)
			return strand_err_set(err, errlen, STRAND_EIO, "truncate %s: %s", s->path,
			                      strerror(errno));
	}
	s->journal_bytes = (int64_t)pos;
	return 0;
}

int idem_store_open(const char *path, const idem_limits_t *limits, int64_t now_ms,
                    idem_store_t **out, char *err, size_t errlen)
{
	idem_store_t *s;
	int rc;

	if (limits->max_keys < 0 || limits->max_age_ms < 0 || limits->max_bytes < 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "idempotency limits must be >= 0");
	s = calloc(1, sizeof *s);
	if (s == NULL || (s->path = strdup(path)) == NULL ||
	    (s->buckets = calloc(1024, sizeof *s->buckets)) == NULL) {
		if (s != NULL)
			free(s->path);
		free(s);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	s->nbuckets = 1024;
	s->fd = -1;
	s->lim.max_keys = limits->max_keys ? limits->max_keys : IDEM_DEFAULT_MAX_KEYS;
	s->lim.max_age_ms = limits->max_age_ms ? limits->max_age_ms : IDEM_DEFAULT_MAX_AGE_MS;
	s->lim.max_bytes = limits->max_bytes ? limits->max_bytes : IDEM_DEFAULT_MAX_BYTES;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->journal_lock, NULL);
	rc = journal_replay(s, now_ms, err, errlen);
	if (rc == 0) {
		s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (s->fd < 0)
			rc = strand_err_set(err, errlen, STRAND_EIO, "open %s: %s", path,
			                    strerror(errno));
	}
	if (rc != 0) {
		idem_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void idem_store_close(idem_store_t *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (idem_entry_t *e = s->buckets[i], *next; e != NULL; e = next) {
			next = e->hnext;
			entry_free(e);
		}
	}
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->journal_lock);
	free(s->buckets);
	free(s->path);
	free(s);
}

/* ---- requests ---------------------------------------------------------------- */

int idem_store_begin(idem_store_t *s, const char *scope, const char *key, int64_t now_ms,
                     idem_entry_t **ticket, idem_answer_t *answer)
{
	idem_entry_t *e, *fresh = entry_new(scope, key);
	int rc = 0;

	if (fresh == NULL)
		return STRAND_ENOMEM;
	pthread_mutex_lock(&s->lock);
	window_apply(s, now_ms);       /* an expired entry counts as absent */
	e = map_find(s, scope, key);
	if (e != NULL && !e->done) {
		rc = STRAND_EAGAIN;
	} else if (e != NULL) {
		rc = answer_copy(answer, &e->answer) == 0 ? 1 : STRAND_ENOMEM;
	} else if (map_insert(s, fresh) != 0) {
		rc = STRAND_ENOMEM;
	} else {
		*ticket = fresh;
		fresh = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	entry_free(fresh);
	return rc;
}

void idem_store_release(idem_store_t *s, idem_entry_t *ticket)
{
	if (ticket == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	map_remove(s, ticket);
	pthread_mutex_unlock(&s->lock);
	entry_free(ticket);
}

int idem_store_complete(idem_store_t *s, idem_entry_t *e, const idem_answer_t *answer,
                        int sync, int64_t now_ms, char *err, size_t errlen)
{
	uint8_t *rec;
	size_t size;
	int rc;

	if (answer_copy(&e->answer, answer) != 0) {
		idem_store_release(s, e);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	e->stored_ms = now_ms;
	e->bytes = strlen(e->scope) + strlen(e->key) + strlen(e->answer.content_type) +
	           e->answer.len;
	e->record_bytes = size = record_size(e);
	rec = malloc(size);
	if (rec == NULL) {
		idem_store_release(s, e);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	record_encode(e, rec);    /* before it is shared: the window may free it */
	pthread_mutex_lock(&s->journal_lock);
	pthread_mutex_lock(&s->lock);
	e->done = 1;
	list_append(s, e);
	window_apply(s, now_ms);
	pthread_mutex_unlock(&s->lock);
	rc = journal_write(s, rec, size, sync, err, errlen);
	pthread_mutex_unlock(&s->journal_lock);
	free(rec);
	return rc;
}

size_t idem_store_count(idem_store_t *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->ndone;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Rewrite the journal with the live entries only (journal_lock held). */
static int journal_compact(idem_store_t *s, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, rc;

	pthread_mutex_lock(&s->lock);
	buf = malloc((size_t)s->live_record_bytes + 1);
	if (buf != NULL) {
		for (idem_entry_t *e = s->head; e != NULL; e = e->next) {
			record_encode(e, buf + len);
			len += e->record_bytes;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (buf == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	rc = broker_file_write_atomic(s->path, (const char *)buf, len, err, errlen);
	free(buf);
	if (rc != 0)
		return rc;
	fd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "open %s: %s", s->path,
		                      strerror(errno));
	close(s->fd);
	s->fd = fd;
	s->journal_bytes = (int64_t)len;
	return 0;
}

int idem_store_tick(idem_store_t *s, int64_t now_ms, char *err, size_t errlen)
{
	int64_t live;
	int rc = 0;

	pthread_mutex_lock(&s->journal_lock);
	pthread_mutex_lock(&s->lock);
	window_apply(s, now_ms);
	live = s->live_record_bytes;
	pthread_mutex_unlock(&s->lock);
	if (s->journal_bytes > 2 * live + COMPACT_SLACK)
		rc = journal_compact(s, err, errlen);
	pthread_mutex_unlock(&s->journal_lock);
	return rc;
}

/* ---- keys --------------------------------------------------------------------- */

int idem_key_parse(const char *value, char *out, size_t cap, char *err, size_t errlen)
{
	size_t n = 0;
	const char *p = value;

	if (value == NULL)
		return strand_err_set(err, errlen, STRAND_EINVAL, "no Idempotency-Key");
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {                       /* sf-string */
		for (p++; *p != '"'; p++) {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			else if (*p < 0x20 || *p > 0x7e || *p == '\\')
				return strand_err_set(err, errlen, STRAND_EINVAL,
				                      "Idempotency-Key: a string of printable ASCII "
				                      "in double quotes, or a bare token");
			if (n + 1 >= cap || n >= IDEM_MAX_KEY_BYTES)
				return strand_err_set(err, errlen, STRAND_EINVAL,
				                      "Idempotency-Key is longer than %d bytes",
				                      IDEM_MAX_KEY_BYTES);
			out[n++] = *p;
		}
		p++;
	} else {
		for (; *p > 0x20 && *p <= 0x7e; p++) {
			if (n + 1 >= cap || n >= IDEM_MAX_KEY_BYTES)
				return strand_err_set(err, errlen, STRAND_EINVAL,
				                      "Idempotency-Key is longer than %d bytes",
				                      IDEM_MAX_KEY_BYTES);
			out[n++] = *p;
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "Idempotency-Key: a string of printable ASCII in double "
		                      "quotes, or a bare token of visible ASCII");
	if (n == 0)
		return strand_err_set(err, errlen, STRAND_EINVAL, "Idempotency-Key is empty");
	out[n] = '\0';
	return 0;
}
