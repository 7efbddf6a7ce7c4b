/*
 * deadletter.c — the dead-letter file (see deadletter.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client/deadletter.h"
#include "client/strand.h"
#include "common/base64.h"

#define DEADLETTER_MAX_LINE (64u << 20)   /* a record's base64 and its words */

struct deadletter {
	FILE *f;
	buf_t line;                           /* reused for every record */
};

int deadletter_open(const char *path, deadletter_t **out, char *errbuf, size_t errlen)
{
	deadletter_t *dl;
	int fd;

	*out = NULL;
	if (!(dl = calloc(1, sizeof *dl)))
		return STRAND_ERR_NO_MEMORY;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || !(dl->f = fdopen(fd, "a"))) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "dead.letter.path %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(dl);
		return STRAND_ERR_IO;
	}
	*out = dl;
	return 0;
}

void deadletter_close(deadletter_t *dl)
{
	if (!dl)
		return;
	fclose(dl->f);
	buf_free(&dl->line);
	free(dl);
}

static int deadletter_bytes(buf_t *b, const void *p, size_t len)
{
	if (!p)
		return buf_append_str(b, "null");
	if (buf_append_str(b, "\"") || base64_encode_append(b, p, len))
		return -1;
	return buf_append_str(b, "\"");
}

int deadletter_write(deadletter_t *dl, const char *topic, int32_t partition, int64_t timestamp,
                     const void *key, size_t key_len, const void *value, size_t value_len,
                     int err, const char *detail)
{
	buf_t *b = &dl->line;

	buf_reset(b);
	if (buf_append_str(b, "{\"topic\":") || buf_append_json_string(b, topic, strlen(topic)) ||
	    buf_appendf(b, ",\"partition\":%d,\"timestamp\":%lld,\"key\":", (int)partition,
	                (long long)timestamp) ||
	    deadletter_bytes(b, key, key_len) || buf_append_str(b, ",\"value\":") ||
	    deadletter_bytes(b, value, value_len) || buf_append_str(b, ",\"error\":") ||
	    buf_append_json_string(b, strand_err_name(err), strlen(strand_err_name(err))) ||
	    buf_append_str(b, ",\"detail\":") ||
	    buf_append_json_string(b, detail ? detail : "", detail ? strlen(detail) : 0) ||
	    buf_append_str(b, "}\n"))
		return STRAND_ERR_NO_MEMORY;
	return fwrite(b->data, 1, b->len, dl->f) == b->len ? 0 : STRAND_ERR_IO;
}

int deadletter_flush(deadletter_t *dl)
{
	return fflush(dl->f) == 0 ? 0 : STRAND_ERR_IO;
}

/* Decode a base64 member (or null) into storage; sets *ptr_off (-1: null). */
static int deadletter_decode(cJSON *v, buf_t *storage, long *off, size_t *len)
{
	size_t n, max;

	if (cJSON_IsNull(v)) {
		*off = -1;
		*len = 0;
		return 0;
	}
	if (!cJSON_IsString(v))
		return -1;
	n = strlen(v->valuestring);
	max = base64_decoded_max(n) + 3;
	if (buf_reserve(storage, max))
		return -1;
	*off = (long)storage->len;
	if (base64_decode(v->valuestring, n, (uint8_t *)storage->data + storage->len, len))
		return -1;
	storage->len += *len;
	return 0;
}

int deadletter_read(FILE *f, deadletter_entry_t *e, size_t *lineno, char *errbuf, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	cJSON *doc = NULL, *topic, *part, *ts, *error;
	long koff, voff;
	int rc = STRAND_ERR_BAD_RESPONSE;

	do {
		n = getline(&line, &cap, f);
		(*lineno)++;
	} while (n == 1 && line[0] == '\n');
	if (n < 0) {
		free(line);
		return 0;
	}
	buf_reset(&e->storage);
	if ((size_t)n > DEADLETTER_MAX_LINE || !(doc = cJSON_ParseWithLength(line, (size_t)n)))
		goto bad;
	topic = cJSON_GetObjectItemCaseSensitive(doc, "topic");
	part = cJSON_GetObjectItemCaseSensitive(doc, "partition");
	ts = cJSON_GetObjectItemCaseSensitive(doc, "timestamp");
	error = cJSON_GetObjectItemCaseSensitive(doc, "error");
	if (!cJSON_IsString(topic) || strlen(topic->valuestring) >= sizeof e->topic ||
	    !cJSON_IsNumber(part) || !cJSON_IsNumber(ts) ||
	    deadletter_decode(cJSON_GetObjectItemCaseSensitive(doc, "key"), &e->storage, &koff,
	                      &e->key_len) ||
	    deadletter_decode(cJSON_GetObjectItemCaseSensitive(doc, "value"), &e->storage, &voff,
	                      &e->value_len))
		goto bad;
	snprintf(e->topic, sizeof e->topic, "%s", topic->valuestring);
	snprintf(e->error, sizeof e->error, "%s", cJSON_IsString(error) ? error->valuestring : "");
	e->partition = (int32_t)part->valuedouble;
	e->timestamp = (int64_t)ts->valuedouble;
	/* pointers only now: the storage may have moved while decoding */
	e->key = koff < 0 ? NULL : (uint8_t *)e->storage.data + koff;
	e->value = voff < 0 ? NULL : (uint8_t *)e->storage.data + voff;
	rc = 1;
	goto out;
bad:
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "line %zu: not a dead-letter record "
		         "({\"topic\",\"partition\",\"timestamp\",\"key\",\"value\",...})", *lineno);
out:
	cJSON_Delete(doc);
	free(line);
	return rc;
}
