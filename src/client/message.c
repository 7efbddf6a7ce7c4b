/*
 * message.c — accessors of strand_message (strand.h).
 */
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
