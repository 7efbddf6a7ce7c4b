/*
 * message.c — accessors of strand_message (strand.h) and the consumer's
 * message blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/message.h"
#include "common/base64.h"

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

/* ---- records of a fetch answer ------------------------------------------------ */

/* base64 text s into the block's bytes; *out points there, NULL for null. */
static int take_b64(message_block_t *b, const cJSON *v, const void **out, size_t *len)
{
	size_t n;

	*out = NULL;
	*len = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return -1;
	n = strlen(v->valuestring);
	if (base64_decode(v->valuestring, n, (uint8_t *)b->bytes + b->used, len))
		return -1;
	*out = b->bytes + b->used;
	b->used += *len;
	return 0;
}

/* A JSON string (or, b64, base64 text) into the block, NUL-terminated. */
static int take_text(message_block_t *b, const cJSON *v, int b64, const void **out, size_t *len)
{
	int rc;

	if (b64) {
		rc = take_b64(b, v, out, len);
	} else if (!v || cJSON_IsNull(v)) {
		*out = NULL;
		*len = 0;
		rc = 0;
	} else if (!cJSON_IsString(v)) {
		rc = -1;
	} else {
		*len = strlen(v->valuestring);
		memcpy(b->bytes + b->used, v->valuestring, *len);
		*out = b->bytes + b->used;
		b->used += *len;
		rc = 0;
	}
	if (rc == 0 && *out)
		b->bytes[b->used++] = '\0';
	return rc;
}

/* Bytes a string member may need in the block (decoded size <= text size). */
static size_t text_room(const cJSON *v)
{
	return cJSON_IsString(v) ? strlen(v->valuestring) + 1 : 0;
}

int message_block_from_records(const cJSON *recs, const char *topic, int32_t partition_default,
                               message_block_t **out, char *errbuf, size_t errlen)
{
	const cJSON *r, *h;
	size_t n = 0, nh = 0, len = 0, k = 0, hk = 0;
	message_block_t *b;

	if (!cJSON_IsArray(recs))
		goto bad;
	cJSON_ArrayForEach(r, recs) {
		n++;
		len += text_room(cJSON_GetObjectItemCaseSensitive(r, "topic")) +
		       text_room(cJSON_GetObjectItemCaseSensitive(r, "key")) +
		       text_room(cJSON_GetObjectItemCaseSensitive(r, "value"));
		cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(r, "headers")) {
			nh++;
			len += strlen(h->string) + 1 + text_room(h);
		}
	}
	*out = NULL;
	if (n == 0)
		return 0;
	if (topic)
		len += strlen(topic) + 1;
	if (!(b = message_block_new(n, nh, len)))
		return STRAND_ERR_NO_MEMORY;
	if (topic) {                    /* one copy shared by every record */
		size_t tl = strlen(topic);
		memcpy(b->bytes, topic, tl + 1);
		b->used = tl + 1;
	}
	cJSON_ArrayForEach(r, recs) {
		strand_message *m = &b->msgs[k++];
		cJSON *partition = cJSON_GetObjectItemCaseSensitive(r, "partition");
		cJSON *offset = cJSON_GetObjectItemCaseSensitive(r, "offset");
		cJSON *ts = cJSON_GetObjectItemCaseSensitive(r, "timestamp");
		cJSON *henc = cJSON_GetObjectItemCaseSensitive(r, "headers_encoding");
		int hb64 = cJSON_IsString(henc) && strcmp(henc->valuestring, "base64") == 0;
		const void *rtopic = topic ? b->bytes : NULL;
		size_t tlen;

		m->block = b;
		m->errstr = "";
		if ((!cJSON_IsNumber(partition) && !topic) || !cJSON_IsNumber(offset) ||
		    !cJSON_IsNumber(ts) ||
		    (!topic && take_text(b, cJSON_GetObjectItemCaseSensitive(r, "topic"), 0, &rtopic,
		                         &tlen)) ||
		    !rtopic ||
		    take_b64(b, cJSON_GetObjectItemCaseSensitive(r, "key"), &m->key, &m->key_len) ||
		    take_b64(b, cJSON_GetObjectItemCaseSensitive(r, "value"), &m->value, &m->value_len))
			goto bad_block;
		m->topic = rtopic;
		m->partition = topic ? partition_default : (int32_t)partition->valueint;
		m->offset = (int64_t)offset->valuedouble;
		m->timestamp = (int64_t)ts->valuedouble;
		m->headers = &b->hdrs[hk];
		cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(r, "headers")) {
			message_header_t *mh = &b->hdrs[hk++];
			const void *name;
			size_t nlen;
			cJSON namev = { .type = cJSON_String, .valuestring = h->string };

			if (take_text(b, &namev, hb64, &name, &nlen) || !name ||
			    take_text(b, h, hb64, &mh->value, &mh->value_len))
				goto bad_block;
			mh->name = name;
			m->nheaders++;
		}
	}
	*out = b;
	return 0;
bad_block:
	atomic_store(&b->refs, 1);
	message_block_release(b);
bad:
	snprintf(errbuf, errlen, "fetch: a record in the broker's answer is malformed");
	return STRAND_ERR_BAD_RESPONSE;
}

