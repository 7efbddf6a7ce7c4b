/* docs/CLIENT.md: ./million http://127.0.0.1:8080 events 1000000 — produce N records
 * with callbacks, then consume them in a group and count every one. */
#include <stdio.h>
#include <stdlib.h>
#include <strand.h>

static long delivered;   /* callbacks run on the sender thread, one at a time */

static void on_delivery(const strand_message *m, void *opaque)
{
	(void)opaque;
	delivered += strand_message_err(m) == 0;
}

int main(int argc, char **argv)
{
	char err[256], value[32];
	long n = argc > 3 ? atol(argv[3]) : 10, consumed = 0, idle = 0;
	strand_conf *conf = strand_conf_new();
	if (argc < 3 || strand_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) ||
	    strand_conf_set(conf, "linger.ms", "5", err, sizeof err) ||
	    strand_conf_set(conf, "group.id", "million", err, sizeof err) ||
	    strand_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err))
		return fprintf(stderr, "usage: million URL TOPIC [N]\n"), 2;
	strand_producer *p = strand_producer_new(conf, err, sizeof err);
	strand_consumer *c = strand_consumer_new(conf, err, sizeof err);
	strand_conf_destroy(conf);
	if (!p || !c)
		return fprintf(stderr, "%s\n", err), 1;
	for (long i = 0; i < n; i++) {
		int len = snprintf(value, sizeof value, "%ld", i);
		if (strand_produce(p, argv[2], STRAND_PARTITION_ANY, NULL, 0, value, len, on_delivery, NULL))
			return fprintf(stderr, "produce failed\n"), 1;
	}
	strand_producer_destroy(p);   /* flushes: every callback has run after this */
	strand_subscribe(c, (const char *[]){ argv[2] }, 1);
	while (consumed < n && idle < 20) {   /* stop after 20 s without a record */
		strand_message *m = strand_consumer_poll(c, 1000);
		idle = m ? 0 : idle + 1;
		consumed += m && strand_message_err(m) == 0;
		strand_message_destroy(m);
	}
	strand_consumer_close(c);     /* commits, leaves the group */
	printf("%ld delivered, %ld consumed\n", delivered, consumed);
	return delivered != n || consumed != n;
}
