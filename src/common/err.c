/* err.c — strand's error codes and their messages (see err.h). */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *strand_strerror(int code)
{
	switch (code) {
	case STRAND_OK:        return "success";
	case STRAND_EAGAIN:    return "not done yet";
	case STRAND_EINVAL:    return "invalid argument";
	case STRAND_ENOENT:    return "not found";
	case STRAND_EEXIST:    return "already exists";
	case STRAND_EIO:       return "I/O error";
	case STRAND_ENOMEM:    return "out of memory";
	case STRAND_ECORRUPT:  return "corrupt data";
	case STRAND_ERANGE:    return "offset out of range";
	case STRAND_ETOOBIG:   return "too large";
	case STRAND_ENOSPC:    return "storage full";
	case STRAND_ETIMEDOUT: return "timed out";
	case STRAND_ECLOSED:   return "closed";
	case STRAND_ENOMEMBER: return "unknown group member";
	case STRAND_EGENERATION: return "illegal generation";
	case STRAND_EREBALANCE: return "rebalance in progress";
	case STRAND_ENOTEMPTY: return "group not empty";
	case STRAND_ESEQUENCE: return "out of order sequence";
	case STRAND_EFENCED:   return "producer fenced";
	case STRAND_EDEPOSED:  return "deposed by a newer controller or leader";
	case STRAND_ENOTLEADER: return "not the partition's leader";
	case STRAND_ENOTENOUGH: return "not enough in-sync replicas";
	case STRAND_EEPOCH_FENCED: return "fenced by a newer leader epoch";
	case STRAND_EEPOCH_UNKNOWN: return "unknown (newer) leader epoch";
	case STRAND_EUNAVAILABLE: return "cluster coordination unavailable";
	}
	return "unknown error";
}

int strand_err_set(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return code;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}
