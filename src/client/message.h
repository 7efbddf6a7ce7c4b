/*
 * message.h — struct strand_message (internal): what a delivery callback
 * (producer) or strand_consumer_poll (consumer) hands back. Pointers are
 * borrowed from whoever built the message; the public accessors are in
 * message.c.
 */
#ifndef STRAND_CLIENT_MESSAGE_H
#define STRAND_CLIENT_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "client/strand.h"

struct strand_message {
	int         err;          /* strand_errcode */
	const char *errstr;       /* never NULL ("" when none) */
	const char *topic;
	int32_t     partition;
	int64_t     offset;       /* -1: unknown */
	int64_t     timestamp;
	const void *key;          /* NULL: null key */
	size_t      key_len;
	const void *value;        /* NULL: null value */
	size_t      value_len;
};

#endif
