/*
 * message.c — accessors of strand_message (strand.h) and the consumer's
 * message blocks.
 */
#include <stdlib.h>
#include <string.h>

#include "client/message.h"

int strand_message_err(const strand_message *m) { return m->err; }
const char *strand_message_errstr(const strand_message *m) { return m->errstr ? m->errstr : ""; }
const char *strand_message_topic(const strand_message *m) { return m->topic; }
int32_t strand_message_partition(const strand_message *m) { return m->partition; }
int64_t strand_message_offset(const strand_message *m) { return m->offset; }
int64_t strand_message_timestamp(const strand_message *m) { return m->timestamp; }

const void *strand_message_key(const strand_message *m, size_t *len)
{
	if (len)
		*len = m->key ? m->key_len : 0;
	return m->key;
}

const void *strand_message_value(const strand_message *m, size_t *len)
{
	if (len)
		*len = m->value ? m->value_len : 0;
	return m->value;
}

size_t strand_message_header_count(const strand_message *m)
{
	return m->nheaders;
}

int strand_message_headers(const strand_message *m, size_t idx, const char **name,
                           const void **value, size_t *value_len)
{
	const message_header_t *h;

	if (idx >= m->nheaders)
		return STRAND_ERR_INVALID_ARG;
	h = &m->headers[idx];
	if (name)
		*name = h->name;
	if (value)
		*value = h->value;
	if (value_len)
		*value_len = h->value ? h->value_len : 0;
	return 0;
}

/* ---- consumer message blocks ------------------------------------------------ */

message_block_t *message_block_new(size_t n, size_t nh, size_t len)
{
	size_t head = sizeof(message_block_t), msgs = n * sizeof(strand_message),
	       hdrs = nh * sizeof(message_header_t);
	message_block_t *b = malloc(head + msgs + hdrs + len + 1);

	if (!b)
		return NULL;
	atomic_init(&b->refs, n + 1);
	b->nmsgs = n;
	b->nhdrs = nh;
	b->len = len;
	b->used = 0;
	b->msgs = (strand_message *)(void *)((char *)b + head);
	b->hdrs = (message_header_t *)(void *)((char *)b + head + msgs);
	b->bytes = (char *)b + head + msgs + hdrs;
	memset(b->msgs, 0, msgs);
	return b;
}

void message_block_release(message_block_t *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

strand_message *message_error_new(int err, const char *errstr)
{
	size_t len = strlen(errstr ? errstr : "");
	message_block_t *b = message_block_new(1, 0, len);
	strand_message *m;

	if (!b)
		return NULL;
	atomic_store(&b->refs, 1);     /* the consumer keeps no hold on it */
	memcpy(b->bytes, errstr ? errstr : "", len + 1);
	m = &b->msgs[0];
	m->err = err;
	m->errstr = b->bytes;
	m->topic = "";
	m->partition = -1;
	m->offset = -1;
	m->timestamp = -1;
	m->block = b;
	return m;
}

void strand_message_destroy(strand_message *m)
{
	if (m && m->block)
		message_block_release(m->block);
}
