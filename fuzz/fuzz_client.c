/*
 * fuzz_client.c — libFuzzer target for libstrand's parsers of broker
 * answers (src/client/): the problem+json of a refused request
 * (transport_parse_problem) and the offsets of a produce answer
 * (producer_parse_offsets). A client must survive any bytes a broker,
 * a proxy or a man in the middle sends it.
 *
 * Input: mode byte (bit 0: which parser), a second byte (the status
 * 400 + n, or the record count n), then the body.
 *
 * What must hold, else the target aborts (a finding):
 *   - a refusal always maps to an error code with a text, and the message
 *     fits its buffer, terminated;
 *   - a produce answer is accepted only with one offset per record and a
 *     first offset that is an exact integer in [0, 2^53].
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/producer_internal.h"
#include "client/strand.h"
#include "client/transport.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body, errbuf[64];
	size_t len;
	int64_t off = -7;
	int rc;

	if (size < 2)
		return 0;
	len = size - 2;
	body = malloc(len ? len : 1);   /* exact size: ASan sees every overread */
	FUZZ_CHECK(body != NULL);
	memcpy(body, data + 2, len);
	if ((data[0] & 1) == 0) {
		memset(errbuf, 'x', sizeof errbuf);
		rc = transport_parse_problem(400 + data[1], body, len, errbuf, sizeof errbuf);
		FUZZ_CHECK(rc < 0 && strand_err2str(rc) != NULL && strand_err_name(rc) != NULL);
		FUZZ_CHECK(memchr(errbuf, '\0', sizeof errbuf) != NULL);
		FUZZ_CHECK(transport_parse_problem(400 + data[1], body, len, NULL, 0) == rc);
	} else {
		rc = producer_parse_offsets(body, len, data[1], &off);
		FUZZ_CHECK(rc == 0 || rc == STRAND_ERR_BAD_RESPONSE);
		FUZZ_CHECK(rc != 0 || (off >= 0 && off <= ((int64_t)1 << 53)));
		FUZZ_CHECK(rc == 0 || off == -7);
	}
	free(body);
	return 0;
}
