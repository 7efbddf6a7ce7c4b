/*
 * error.h — libstrand's error table, internal side: the broker's
 * problem+json `code` and HTTP status mapped to strand_errcode.
 */
#ifndef STRAND_CLIENT_ERROR_H
#define STRAND_CLIENT_ERROR_H

#include "client/strand.h"

/* The strand_errcode for a broker `code` string; STRAND_ERR_UNKNOWN_BROKER_ERROR if unknown. */
int client_err_from_code(const char *code);

/* A code for an HTTP status when the answer carried no usable problem body. */
int client_err_from_status(long status);

#endif
