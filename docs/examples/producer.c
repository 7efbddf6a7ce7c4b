/* docs/CLIENT.md: ./producer http://127.0.0.1:8080 events 1000000 */
#include <stdio.h>
#include <stdlib.h>
#include <strand.h>

static long delivered, failed;   /* callbacks run on the sender thread, one at a time */

static void on_delivery(const strand_message *m, void *opaque)
{
	if (strand_message_err(m) && failed++ == 0)
		fprintf(stderr, "%s\n", strand_message_errstr(m));
	else if (!strand_message_err(m))
		delivered++;
}

int main(int argc, char **argv)
{
	char err[256], value[64];
	long n = argc > 3 ? atol(argv[3]) : 10;
	strand_conf *conf = strand_conf_new();
	if (argc < 3 || strand_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) ||
	    strand_conf_set(conf, "linger.ms", "5", err, sizeof err))
		return fprintf(stderr, "usage: producer URL TOPIC [N]\n"), 2;
	strand_producer *p = strand_producer_new(conf, err, sizeof err);
	strand_conf_destroy(conf);
	if (!p)
		return fprintf(stderr, "%s\n", err), 1;
	for (long i = 0; i < n; i++) {
		int len = snprintf(value, sizeof value, "{\"n\":%ld}", i);
		int rc = strand_produce(p, argv[2], STRAND_PARTITION_ANY, NULL, 0, value, len, on_delivery, NULL);
		if (rc)
			return fprintf(stderr, "produce: %s\n", strand_err2str(rc)), 1;
	}
	strand_producer_destroy(p);   /* flushes: every callback has run after this */
	printf("%ld delivered, %ld failed\n", delivered, failed);
	return failed != 0;
}
