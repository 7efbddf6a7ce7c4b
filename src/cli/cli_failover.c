/*
 * cli_failover.c — `strand bench failover`: how long acks=all writes stop
 * when a partition's leader dies (issue 10: "leader death -> first acks=all
 * write accepted again", median and max, default settings).
 *
 * It starts a private etcd and N brokers on loopback (cli_cluster's broker
 * start, ports chosen at run time, data in a temp dir, every broker with
 * its default settings: no shortened lease), creates a topic of one
 * partition with replication factor N and min_insync_replicas 2, and runs a
 * producer that writes to that partition with acks=all, one record after
 * another, for the whole run: libstrand's producer with its defaults,
 * bootstrapped with every broker, as an application would use it. Then,
 * trial after trial:
 *
 *   1. wait until the partition is steady: its preferred replica leads, all
 *      N replicas are in the ISR and the producer has had a write
 *      acknowledged since;
 *   2. kill -9 the leader (t_kill), reap it;
 *   3. failover = the completion time of the first write acknowledged after
 *      the leader was dead, minus t_kill. Meanwhile a surviving broker's
 *      view is polled, to say when the new leader became visible;
 *   4. restart the killed broker on its port and data directory, and wait
 *      until it is back in the ISR.
 *
 * Every wait is on a condition with a deadline. Output: one line per
 * trial, then the median, minimum and maximum (`--kv`: that last line as
 * key=value pairs).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cli/cli.h"
#include "client/strand.h"
#include "cluster/etcd_local.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/proc.h"

#define FO_MAX_BROKERS     9
#define FO_MAX_TRIALS      1000
#define FO_TOPIC           "failover"
#define FO_START_MS        20000    /* etcd or a broker: up and healthy */
#define FO_STEADY_MS       120000   /* preferred leader, full ISR, a write acknowledged */
#define FO_RECOVER_MS      60000    /* kill -> a write acknowledged: past this, a failed trial */
#define FO_REJOIN_MS       120000   /* restart -> back in the ISR */
#define FO_POLL_MS         5        /* how often the acknowledgements are looked at */
#define FO_VIEW_EVERY_MS   25       /* how often a survivor's view is read */
#define FO_PRODUCE_WAIT_MS 30000    /* one strand_produce_sync, at most */
#define FO_STOP_GRACE_MS   10000

typedef struct fo_probe {
	strand_producer  *prod;
	pthread_t         thread;
	atomic_int        stop;
	_Atomic int64_t   last_ok_ms;     /* when the latest acknowledgement arrived */
	_Atomic int64_t   acked, failed;
	char              first_error[256];   /* the probe thread's; read after join */
} fo_probe_t;

/* A broker's view of the partition and of the cluster. */
typedef struct fo_view {
	int leader, epoch, preferred, nisr, controller;
	int isr[FO_MAX_BROKERS];
} fo_view_t;

typedef struct fo_run {
	char       self[PATH_MAX], dir[PATH_MAX];
	int        nbrokers, trials, kv, keep;
	etcd_local_t etcd;
	int        etcd_up;
	pid_t      pids[FO_MAX_BROKERS + 1];
	char       urls[FO_MAX_BROKERS + 1][64];
	fo_probe_t probe;
	int        probe_started;
} fo_run_t;

static volatile sig_atomic_t fo_interrupted;

static void fo_on_signal(int sig)
{
	(void)sig;
	fo_interrupted = 1;
}

static void fo_usage(FILE *f)
{
	fprintf(f,
	        "usage: strand bench failover [--brokers N] [--trials T] [--dir DIR] [--keep] [--kv]\n"
	        "\n"
	        "Start a private etcd and N brokers (default 3, 2..%d) with their default\n"
	        "settings on 127.0.0.1, a topic of one partition with replication factor N and\n"
	        "min_insync_replicas 2, and an acks=all producer (libstrand, defaults) writing\n"
	        "to it throughout; then T times (default 10): kill -9 the partition's leader,\n"
	        "time until the next acks=all write is acknowledged, restart the broker and\n"
	        "wait until it is back in the ISR. Prints every trial, the median and the max.\n"
	        "  --dir DIR   where etcd and the brokers keep their data (default: a new\n"
	        "              temp dir, removed at the end unless --keep)\n"
	        "  --kv        the summary (last line) as key=value pairs\n", FO_MAX_BROKERS);
}

/* ---- HTTP views ------------------------------------------------------------ */

/* One request (body NULL: GET) of at most 2 s; its JSON answer into *doc.
 * The HTTP status or -1. */
static long fo_call(const char *base, const char *path, const char *body, cJSON **doc)
{
	char url[256];
	buf_t out = BUF_INIT;
	long status;

	snprintf(url, sizeof url, "%s%s", base, path);
	status = cli_http_simple(url, body != NULL ? "POST" : "GET", body, 2000L, &out);
	*doc = out.len > 0 ? cJSON_ParseWithLength(out.data, out.len) : NULL;
	buf_free(&out);
	return status;
}

static int fo_int(const cJSON *o, const char *name, int dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valueint : dflt;
}

/* Broker at base's view of partition 0 and of the controller. 0 or -1. */
static int fo_view(const char *base, fo_view_t *v)
{
	cJSON *doc, *p, *it;
	int rc = -1;

	memset(v, 0, sizeof *v);
	v->leader = v->preferred = v->controller = -1;
	if (fo_call(base, "/v1/topics/" FO_TOPIC, NULL, &doc) == 200) {
		p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "partitions"), 0);
		if (p != NULL) {
			v->leader = fo_int(p, "leader", -1);
			v->epoch = fo_int(p, "leader_epoch", -1);
			it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "replicas"), 0);
			v->preferred = cJSON_IsNumber(it) ? it->valueint : -1;
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(p, "isr"))
				if (cJSON_IsNumber(it) && v->nisr < FO_MAX_BROKERS)
					v->isr[v->nisr++] = it->valueint;
			rc = 0;
		}
	}
	cJSON_Delete(doc);
	if (rc == 0 && fo_call(base, "/v1/cluster", NULL, &doc) == 200)
		v->controller = fo_int(doc, "controller", -1);
	cJSON_Delete(doc);
	return rc;
}

static int fo_in_isr(const fo_view_t *v, int id)
{
	for (int i = 0; i < v->nisr; i++)
		if (v->isr[i] == id)
			return 1;
	return 0;
}

/* ---- the producer under test ------------------------------------------------- */

static void *fo_probe_run(void *arg)
{
	fo_probe_t *pr = arg;
	const char value[] = "\"failover probe\"";
	int rc;

	while (!atomic_load(&pr->stop)) {
		rc = strand_produce_sync(pr->prod, FO_TOPIC, 0, NULL, 0, value, sizeof value - 1,
		                         NULL, NULL, FO_PRODUCE_WAIT_MS);
		if (rc == 0) {
			atomic_store(&pr->last_ok_ms, clock_now_ms());
			atomic_fetch_add(&pr->acked, 1);
		} else if (atomic_fetch_add(&pr->failed, 1) == 0) {
			snprintf(pr->first_error, sizeof pr->first_error, "%s", strand_err2str(rc));
		}
	}
	return NULL;
}

static int fo_probe_start(fo_run_t *r)
{
	char servers[(FO_MAX_BROKERS + 1) * 64] = "", err[512];
	strand_conf *conf = strand_conf_new();
	int i, rc = -1;

	for (i = 1; i <= r->nbrokers; i++) {
		if (i > 1)
			strcat(servers, ",");
		strcat(servers, r->urls[i]);
	}
	/* libstrand's defaults but for the servers; acks=all spelled out, as
	 * it is what is measured */
	if (conf == NULL ||
	    strand_conf_set(conf, "bootstrap.servers", servers, err, sizeof err) != 0 ||
	    strand_conf_set(conf, "acks", "all", err, sizeof err) != 0 ||
	    (r->probe.prod = strand_producer_new(conf, err, sizeof err)) == NULL) {
		fprintf(stderr, "strand: bench failover: producer: %s\n", err);
		goto out;
	}
	if (pthread_create(&r->probe.thread, NULL, fo_probe_run, &r->probe) != 0) {
		fprintf(stderr, "strand: bench failover: cannot start the producer thread\n");
		goto out;
	}
	r->probe_started = 1;
	rc = 0;
out:
	strand_conf_destroy(conf);
	return rc;
}

/* ---- processes ---------------------------------------------------------------- */

/* Broker id with its default settings, on port (0: chosen at run time). */
static int fo_start_broker(fo_run_t *r, int id, unsigned port)
{
	r->pids[id] = 0;
	return cli_cluster_start_broker(r->self, r->dir, id, r->etcd.client_url, NULL, port, 0,
	                                &r->pids[id], r->urls[id], sizeof r->urls[id]);
}

static void fo_teardown(fo_run_t *r)
{
	int i;

	if (r->probe_started) {
		atomic_store(&r->probe.stop, 1);
		pthread_join(r->probe.thread, NULL);
	}
	if (r->probe.prod != NULL)
		strand_producer_destroy(r->probe.prod);
	for (i = 1; i <= r->nbrokers; i++)
		if (r->pids[i] > 0)
			proc_stop(r->pids[i], SIGTERM, FO_STOP_GRACE_MS);
	if (r->etcd_up)
		proc_stop(r->etcd.pid, SIGTERM, FO_STOP_GRACE_MS);
	if (!r->keep && r->dir[0] != '\0') {
		char *argv[] = { "rm", "-rf", r->dir, NULL };
		pid_t pid;

		if (proc_spawn(argv, "/dev/null", 0, &pid, NULL, 0) == 0)
			waitpid(pid, NULL, 0);
	}
}

/* ---- one trial ------------------------------------------------------------------ */

typedef struct fo_trial {
	int     victim;
	int     was_controller;
	int64_t failover_ms;     /* kill -> first acknowledged write; -1 none */
	int64_t visible_ms;      /* kill -> a survivor shows another leader; -1 not seen */
	int64_t rejoin_ms;       /* restart -> back in the ISR */
	int     new_leader, new_epoch;
} fo_trial_t;

/* Any broker's view that answers (alive ones first: skip); 0 or -1. */
static int fo_any_view(fo_run_t *r, int skip, fo_view_t *v)
{
	for (int i = 1; i <= r->nbrokers; i++)
		if (i != skip && r->pids[i] > 0 && fo_view(r->urls[i], v) == 0)
			return 0;
	return -1;
}

/* Until the preferred replica leads with all N in the ISR and a write was
 * acknowledged after that was seen. 0 or -1. */
static int fo_wait_steady(fo_run_t *r, fo_view_t *v)
{
	int64_t end = clock_now_ms() + FO_STEADY_MS, seen = 0;

	while (!fo_interrupted && clock_now_ms() < end) {
		if (fo_any_view(r, 0, v) == 0 && v->leader > 0 && v->leader == v->preferred &&
		    v->nisr == r->nbrokers) {
			if (seen == 0)
				seen = clock_now_ms();
			else if (atomic_load(&r->probe.last_ok_ms) > seen)
				return 0;
		} else {
			seen = 0;
		}
		clock_sleep_ms(20);
	}
	fprintf(stderr, "strand: bench failover: the partition was not steady within %d s "
	        "(leader %d, preferred %d, ISR of %d, %" PRId64 " writes acknowledged)\n",
	        FO_STEADY_MS / 1000, v->leader, v->preferred, v->nisr,
	        atomic_load(&r->probe.acked));
	return -1;
}

static int fo_trial(fo_run_t *r, fo_trial_t *t)
{
	fo_view_t v;
	const char *colon;
	int64_t t_kill, t_dead, end, next_view, ok;
	unsigned port;
	int victim;

	memset(t, 0, sizeof *t);
	t->failover_ms = t->visible_ms = -1;
	if (fo_wait_steady(r, &v) != 0)
		return -1;
	victim = t->victim = v.leader;
	t->was_controller = v.controller == victim;
	/* the broker's own port again: a client's bootstrap list stays true */
	colon = strrchr(r->urls[victim], ':');
	port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;

	t_kill = clock_now_ms();
	kill(r->pids[victim], SIGKILL);
	waitpid(r->pids[victim], NULL, 0);
	t_dead = clock_now_ms();
	r->pids[victim] = 0;

	end = t_kill + FO_RECOVER_MS;
	next_view = t_dead;
	while (!fo_interrupted && clock_now_ms() < end) {
		ok = atomic_load(&r->probe.last_ok_ms);
		if (ok > t_dead) {
			t->failover_ms = ok - t_kill;
			break;
		}
		if (t->visible_ms < 0 && clock_now_ms() >= next_view) {
			next_view = clock_now_ms() + FO_VIEW_EVERY_MS;
			if (fo_any_view(r, victim, &v) == 0 && v.leader > 0 && v.leader != victim) {
				t->visible_ms = clock_now_ms() - t_kill;
				t->new_leader = v.leader;
				t->new_epoch = v.epoch;
			}
		}
		clock_sleep_ms(FO_POLL_MS);
	}
	if (t->failover_ms < 0) {
		fprintf(stderr, "strand: bench failover: no acks=all write acknowledged within %d s "
		        "of killing broker %d\n", FO_RECOVER_MS / 1000, victim);
		return -1;
	}
	if (t->visible_ms < 0 && fo_any_view(r, victim, &v) == 0) {
		t->new_leader = v.leader;   /* the write came first: seen after it */
		t->new_epoch = v.epoch;
	}

	t_kill = clock_now_ms();
	if (fo_start_broker(r, victim, port) != 0)
		return -1;
	end = t_kill + FO_REJOIN_MS;
	while (!fo_interrupted && clock_now_ms() < end) {
		if (fo_any_view(r, 0, &v) == 0 && fo_in_isr(&v, victim)) {
			t->rejoin_ms = clock_now_ms() - t_kill;
			return 0;
		}
		clock_sleep_ms(20);
	}
	fprintf(stderr, "strand: bench failover: broker %d not back in the ISR within %d s\n",
	        victim, FO_REJOIN_MS / 1000);
	return -1;
}

/* ---- the run -------------------------------------------------------------------- */

static int fo_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int fo_args(int argc, char **argv, fo_run_t *r)
{
	char *end;
	long v;
	int a;

	r->nbrokers = 3;
	r->trials = 10;
	for (a = 2; a < argc; a++) {
		if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
			fo_usage(stdout);
			return 1;
		} else if (strcmp(argv[a], "--kv") == 0) {
			r->kv = 1;
		} else if (strcmp(argv[a], "--keep") == 0) {
			r->keep = 1;
		} else if (a + 1 < argc && strcmp(argv[a], "--dir") == 0) {
			snprintf(r->dir, sizeof r->dir, "%s", argv[++a]);
		} else if (a + 1 < argc && (strcmp(argv[a], "--brokers") == 0 ||
		                            strcmp(argv[a], "--trials") == 0)) {
			int brokers = strcmp(argv[a], "--brokers") == 0;

			errno = 0;
			v = strtol(argv[++a], &end, 10);
			if (errno != 0 || *end != '\0' || v < (brokers ? 2 : 1) ||
			    v > (brokers ? FO_MAX_BROKERS : FO_MAX_TRIALS)) {
				fprintf(stderr, "strand: bench failover: %s must be %d..%d\n", argv[a - 1],
				        brokers ? 2 : 1, brokers ? FO_MAX_BROKERS : FO_MAX_TRIALS);
				return 2;
			}
			if (brokers)
				r->nbrokers = (int)v;
			else
				r->trials = (int)v;
		} else {
			fprintf(stderr, "strand: bench failover: unknown argument %s\n", argv[a]);
			fo_usage(stderr);
			return 2;
		}
	}
	return 0;
}

static int fo_setup(fo_run_t *r)
{
	char err[512], body[256];
	cJSON *doc;
	ssize_t n;
	int64_t end;
	long st;
	int i;

	n = readlink("/proc/self/exe", r->self, sizeof r->self - 1);
	if (n <= 0) {
		fprintf(stderr, "strand: bench failover: cannot find my own binary\n");
		return -1;
	}
	r->self[n] = '\0';
	if (r->dir[0] == '\0') {
		snprintf(r->dir, sizeof r->dir, "%s/strand-failover.XXXXXX",
		         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (mkdtemp(r->dir) == NULL) {
			fprintf(stderr, "strand: bench failover: mkdtemp: %s\n", strerror(errno));
			r->dir[0] = '\0';
			return -1;
		}
	}
	if (etcd_local_start(r->dir, 0, FO_START_MS, &r->etcd, err, sizeof err) != 0) {
		fprintf(stderr, "strand: bench failover: %s\n", err);
		return -1;
	}
	r->etcd_up = 1;
	for (i = 1; i <= r->nbrokers; i++)
		if (fo_start_broker(r, i, 0) != 0)
			return -1;
	/* broker 1 places the replicas: it must see all N alive first */
	for (end = clock_now_ms() + FO_START_MS;; clock_sleep_ms(20)) {
		const cJSON *b;
		int alive = 0;

		if (fo_call(r->urls[1], "/v1/cluster", NULL, &doc) == 200)
			cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(doc, "brokers"))
				alive += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "alive"));
		cJSON_Delete(doc);
		if (alive == r->nbrokers)
			break;
		if (clock_now_ms() >= end || fo_interrupted) {
			fprintf(stderr, "strand: bench failover: broker 1 sees %d of %d brokers alive "
			        "after %d s\n", alive, r->nbrokers, FO_START_MS / 1000);
			return -1;
		}
	}
	snprintf(body, sizeof body, "{\"name\":\"" FO_TOPIC "\",\"partitions\":1,"
	         "\"replication_factor\":%d,\"configs\":{\"min_insync_replicas\":2}}", r->nbrokers);
	st = fo_call(r->urls[1], "/v1/topics", body, &doc);
	cJSON_Delete(doc);
	if (st != 201) {
		fprintf(stderr, "strand: bench failover: creating the topic: HTTP %ld\n", st);
		return -1;
	}
	return fo_probe_start(r);
}

static void fo_print_trial(int n, const fo_trial_t *t)
{
	printf("trial %2d: killed broker %d (leader%s): first acks=all write acknowledged after "
	       "%5" PRId64 " ms", n, t->victim, t->was_controller ? " and controller" : "",
	       t->failover_ms);
	if (t->visible_ms >= 0)
		printf(" (broker %d leads, epoch %d, seen at %" PRId64 " ms)", t->new_leader,
		       t->new_epoch, t->visible_ms);
	printf("; restarted, back in the ISR in %" PRId64 " ms\n", t->rejoin_ms);
	fflush(stdout);
}

static void fo_load(char *out, size_t cap)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double a = 0, b = 0, c = 0;

	if (f != NULL && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(out, cap, "%.2f %.2f %.2f", a, b, c);
	else
		snprintf(out, cap, "?");
	if (f != NULL)
		fclose(f);
}

int cli_bench_failover(int argc, char **argv)
{
	fo_run_t *r = calloc(1, sizeof *r);
	fo_trial_t t;
	int64_t *ms = NULL;
	char load0[64], load1[64];
	int rc, done = 0, i;

	if (r == NULL)
		return 1;
	rc = fo_args(argc, argv, r);
	if (rc != 0) {
		free(r);
		return rc == 1 ? 0 : rc;
	}
	if ((ms = calloc((size_t)r->trials, sizeof *ms)) == NULL) {
		free(r);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGINT, fo_on_signal);
	signal(SIGTERM, fo_on_signal);
	signal(SIGPIPE, SIG_IGN);
	fo_load(load0, sizeof load0);
	rc = fo_setup(r) == 0 ? 0 : 1;
	for (i = 0; rc == 0 && i < r->trials && !fo_interrupted; i++) {
		if (fo_trial(r, &t) != 0) {
			rc = 1;
			break;
		}
		ms[done++] = t.failover_ms;
		fo_print_trial(i + 1, &t);
	}
	fo_load(load1, sizeof load1);
	if (done > 0) {
		int64_t med;

		qsort(ms, (size_t)done, sizeof *ms, fo_cmp);
		med = done % 2 ? ms[done / 2] : (ms[done / 2 - 1] + ms[done / 2]) / 2;
		if (r->kv)
			printf("trials=%d failover_median_ms=%" PRId64 " failover_min_ms=%" PRId64
			       " failover_max_ms=%" PRId64 " acked=%" PRId64 " failed=%" PRId64 "\n",
			       done, med, ms[0], ms[done - 1], atomic_load(&r->probe.acked),
			       atomic_load(&r->probe.failed));
		else
			printf("failover (kill -9 of the leader -> first acks=all write acknowledged), "
			       "%d brokers, default settings, %d trials: median %" PRId64 " ms, min %"
			       PRId64 " ms, max %" PRId64 " ms; load %s at start, %s at end; the producer "
			       "had %" PRId64 " writes acknowledged, %" PRId64 " failed\n",
			       r->nbrokers, done, med, ms[0], ms[done - 1], load0, load1,
			       atomic_load(&r->probe.acked), atomic_load(&r->probe.failed));
	}
	fo_teardown(r);
	if (atomic_load(&r->probe.failed) > 0)
		fprintf(stderr, "strand: bench failover: %" PRId64 " writes failed for good (first: "
		        "%s)\n", atomic_load(&r->probe.failed), r->probe.first_error);
	if (rc == 0 && (fo_interrupted || done < r->trials))
		rc = 1;
	if (rc != 0 && r->keep)
		fprintf(stderr, "strand: bench failover: logs kept in %s\n", r->dir);
	curl_global_cleanup();
	free(ms);
	free(r);
	return rc;
}
