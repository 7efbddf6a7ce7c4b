/*
 * cluster_harness.h — a whole strand cluster for fault tests: a private
 * etcd (etcd_local) and N `strand serve --etcd ... --broker-id i` processes
 * on loopback ports chosen at run time, data in a temporary directory,
 * every process a child of the test and stopped by tcluster_stop.
 *
 * The faults it injects:
 *   - a process: kill -9 (tcluster_kill), SIGSTOP / SIGCONT
 *     (tcluster_pause / tcluster_resume), restart on the same data and the
 *     same port (tcluster_restart); etcd likewise (tcluster_etcd_*);
 *   - the network, through relays: with `relays` on, each broker is
 *     advertised (--advertise) at a TCP relay in front of it, so every
 *     request another broker sends it (follower fetches, forwarded
 *     requests) crosses that relay, and it reaches etcd through a relay of
 *     its own. A relay passes bytes untouched (long polls, chunked streams,
 *     etcd watches all work) until a test cuts it: RESET closes every
 *     connection and refuses new ones at once (a crashed peer), BLACKHOLE
 *     stops moving bytes and leaves connections hanging (a partition:
 *     requests time out). Clients of the test talk to brokers directly.
 *
 * Security (options.auth, options.tls): with auth the harness writes a
 * token file with a token for each broker (principal broker-N), one for
 * itself (principal admin, admin on everything) and the test's own lines,
 * an ACL file granting each broker cluster_action on the cluster plus the
 * test's rules, and each broker's --broker-token-file (mode 0600);
 * tcluster_http sends the admin token unless the caller gives an
 * Authorization header ("Authorization:" alone: none at all). With tls it
 * makes a private CA and a certificate for 127.0.0.1 with openssl at
 * start; brokers serve HTTPS with it and verify each other against the CA
 * (--tls-ca-file), except those in wrong_ca, which get a second CA that
 * signed nothing; with TCLUSTER_TLS_ETCD etcd serves https too.
 *
 * Waiting: every wait polls a condition until a deadline (no fixed sleeps);
 * a wait that times out returns STRAND_ETIMEDOUT and says what it last saw.
 *
 * Brokers are numbered 1..N (their broker ids). Not thread-safe except
 * tcluster_url, tcluster_running and the http helpers, which the workload's
 * threads call.
 */
#ifndef STRAND_TESTS_CLUSTER_HARNESS_H
#define STRAND_TESTS_CLUSTER_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define TCLUSTER_MAX_BROKERS 8

typedef struct tcluster tcluster_t;

typedef struct tcluster_options {
	int         brokers;        /* 1..TCLUSTER_MAX_BROKERS */
	int         lease_ttl_s;    /* --lease-ttl-s; 0: 2 (short: failover tests) */
	int         relays;         /* 1: relays in front of brokers and etcd (see above) */
	const char *extra_args[8];  /* more `strand serve` arguments for every broker */
	int         auth;           /* 1: tokens, ACLs, broker tokens (see above) */
	const char *auth_tokens;    /* more `TOKEN PRINCIPAL` lines (the test's clients) */
	const char *acl_rules;      /* more ACL lines */
	int         tls;            /* TCLUSTER_TLS_* bits (see above); 0: plain HTTP */
	uint32_t    wrong_ca;       /* brokers (bit id) that verify peers against a wrong CA */
} tcluster_options_t;

#define TCLUSTER_TLS_BROKERS 1     /* brokers serve and verify HTTPS */
#define TCLUSTER_TLS_ETCD    2     /* etcd's client port is https too */

typedef enum tcluster_net {
	TCLUSTER_NET_PASS = 0,      /* bytes flow */
	TCLUSTER_NET_RESET,         /* connections closed, new ones refused */
	TCLUSTER_NET_BLACKHOLE,     /* nothing moves; connections hang */
} tcluster_net_t;

/*
 * Start etcd and the brokers, wait until each answers /readyz and /v1/cluster
 * on broker 1 lists all N with a controller. 0, 77 (etcd or the strand
 * binary missing: skip), or an error code with err filled. On error nothing
 * is left running.
 */
int  tcluster_start(const tcluster_options_t *o, tcluster_t **out, char *err, size_t errlen);

/* Stop every process (SIGKILL: a test never needs their goodbye, and a
 * paused one would not give it), the relays, and remove the directory
 * unless STRAND_KEEP_CLUSTER is set (then its path is printed). NULL ok. */
void tcluster_stop(tcluster_t *c);

/* Stop broker id with SIGTERM and wait for its exit (a clean shutdown, to
 * read its data directory afterwards). 0 or STRAND_ETIMEDOUT. */
int  tcluster_shutdown(tcluster_t *c, int id);

int         tcluster_brokers(const tcluster_t *c);
/* The private CA's PEM file (options.tls), else NULL. Borrowed. */
const char *tcluster_ca_file(const tcluster_t *c);
/* "http://127.0.0.1:PORT" (https with tls) of broker id, direct (not its relay). Borrowed. */
const char *tcluster_url(const tcluster_t *c, int id);
/* Is broker id running (started, not killed; a paused one counts)? */
int         tcluster_running(const tcluster_t *c, int id);
int         tcluster_paused(const tcluster_t *c, int id);
/* Is url broker id's direct URL or the URL it advertises (its relay)? */
int         tcluster_advertises(const tcluster_t *c, int id, const char *url);
const char *tcluster_data_dir(const tcluster_t *c, int id);
const char *tcluster_dir(const tcluster_t *c);
/* The last lines of broker id's log (id 0: etcd's), for failure messages. */
const char *tcluster_log_tail(tcluster_t *c, int id);

/* How many lines of broker id's log hold needle. */
int  tcluster_log_count(tcluster_t *c, int id, const char *needle);

/* For a failure's diagnosis: print to stderr the last max_lines (<= 64)
 * lines of broker id's log that hold needle (NULL: any), under a heading. */
void tcluster_log_print(tcluster_t *c, int id, const char *needle, int max_lines);
/* options.auth: the shared --auth-file, and broker id's --broker-token-file
 * (a test may rewrite them, then tcluster_signal SIGHUP); else NULL. Borrowed. */
const char *tcluster_auth_file(const tcluster_t *c);
const char *tcluster_token_file(const tcluster_t *c, int id);
/* Send sig to broker id. 0 or STRAND_ENOENT (not running). */
int  tcluster_signal(tcluster_t *c, int id, int sig);
/* kill -9 broker id and reap it. */
int  tcluster_kill(tcluster_t *c, int id);
/* SIGSTOP, and wait until the kernel reports it stopped. */
int  tcluster_pause(tcluster_t *c, int id);
/* SIGCONT, and wait until it runs again. */
int  tcluster_resume(tcluster_t *c, int id);
/* Start a killed or shut down broker again: same id, data and port; waits
 * for /readyz. */
int  tcluster_restart(tcluster_t *c, int id, char *err, size_t errlen);
/* tcluster_restart in two steps: start the process (returns at once; it
 * answers HTTP on its old port as soon as it listens) ... */
int  tcluster_spawn(tcluster_t *c, int id, char *err, size_t errlen);
/* ... and wait until it answers /readyz 200. */
int  tcluster_wait_ready(tcluster_t *c, int id, char *err, size_t errlen);

int  tcluster_etcd_kill(tcluster_t *c);
int  tcluster_etcd_restart(tcluster_t *c, char *err, size_t errlen);
int  tcluster_etcd_pause(tcluster_t *c);
int  tcluster_etcd_resume(tcluster_t *c);
const char *tcluster_etcd_url(const tcluster_t *c);

/* Relays (options.relays): what other brokers see of broker id, and what
 * broker id sees of etcd. STRAND_EINVAL without relays. */
int  tcluster_net_inbound(tcluster_t *c, int id, tcluster_net_t mode);
int  tcluster_net_etcd(tcluster_t *c, int id, tcluster_net_t mode);

/*
 * One request to broker id (direct). body may be NULL. headers: NULL-terminated
 * "Name: value" list or NULL. Returns the status (0: no answer), *json gets
 * the parsed body (caller deletes; NULL when not JSON). Any thread.
 */
long tcluster_http(const tcluster_t *c, int id, const char *method, const char *path,
                   const char *json_body, const char *const *headers, int timeout_ms,
                   cJSON **json);

/* ---- what the cluster says ---------------------------------------------- */

typedef struct tcluster_partition {
	int32_t leader;                 /* -1: none */
	int32_t leader_epoch;           /* -1 when the API does not say */
	int32_t replicas[TCLUSTER_MAX_BROKERS], nreplicas;
	int32_t isr[TCLUSTER_MAX_BROKERS], nisr;
	int64_t high_watermark, log_end_offset;
} tcluster_partition_t;

/* GET /v1/topics/{topic} on broker `via`, partition p. 0, or STRAND_ENOENT,
 * STRAND_EIO (no answer / unexpected). NOT simply via's view: for a
 * partition via's metadata says another broker leads, via asks that leader
 * and answers with the leader's own entry (leader, epoch, ISR, high
 * watermark, log end offset: docs/REPLICATION.md "Describe through any
 * broker"); only when the leader does not answer or does not think it
 * leads is it via's own (possibly stale) entry. */
int  tcluster_partition(tcluster_t *c, int via, const char *topic, int32_t p,
                        tcluster_partition_t *out);
/* The same with Strand-Route: direct: via's own entry only — its metadata
 * cache's leader, epoch and ISR, and its own replica's high watermark and
 * log end offset (what a test reading that replica's log needs). */
int  tcluster_partition_own(tcluster_t *c, int via, const char *topic, int32_t p,
                            tcluster_partition_t *out);

/* GET /v1/cluster on `via`: a bitmask of the live broker ids (bit id) and
 * the controller (-1 none). 0 or STRAND_EIO. */
int  tcluster_members(tcluster_t *c, int via, uint32_t *alive, int32_t *controller);

/* Wait until pred(partition, arg) holds for topic/p as seen from broker via
 * (via 0: any running broker that answers), up to deadline_ms. 0 or
 * STRAND_ETIMEDOUT (err says what was last seen). *last (may be NULL) gets
 * the last state read.
 * Every answer is some broker's cache (tcluster_partition), and via 0
 * passes on the first one that satisfies pred, a stale one included (a
 * broker just resumed still has the state from before its pause). So a
 * pred that the state from before the awaited event satisfies too ("in
 * the ISR" after a restart) passes at once: wait for the intermediate
 * state first while it is stable, or compare with a value recorded before
 * the event (a leader epoch; tcluster_wait_rejoined's registration). */
typedef int (*tcluster_partition_pred)(const tcluster_partition_t *p, void *arg);
int  tcluster_wait_partition(tcluster_t *c, int via, const char *topic, int32_t p,
                             tcluster_partition_pred pred, void *arg, int deadline_ms,
                             tcluster_partition_t *last, char *err, size_t errlen);

/* Wait until broker via lists exactly the brokers of `alive` (bitmask) and a
 * controller among them. *controller gets it. */
int  tcluster_wait_members(tcluster_t *c, int via, uint32_t alive, int deadline_ms,
                           int32_t *controller, char *err, size_t errlen);

/* ---- what etcd itself holds (no broker's cache, no leader asked) ---------- */

/* Partition p's state as etcd holds it now (leader, epoch, replicas, ISR;
 * -1 for the offsets, which etcd does not hold) and *version, the revision
 * of its last change. 0, STRAND_ENOENT, STRAND_EIO. */
int  tcluster_etcd_partition(tcluster_t *c, const char *topic, int32_t p,
                             tcluster_partition_t *out, int64_t *version);

/* The revision that created broker id's current registration (its broker
 * epoch): 0 when it is not registered, -1 when etcd did not answer. */
int64_t tcluster_etcd_registered(tcluster_t *c, int id);

/*
 * Wait until broker id is back in partition p's ISR in a state etcd wrote
 * after id's current registration. For a broker that came back with a new
 * registration (restarted, or its lease lost while paused or cut off)
 * "in the ISR" alone can be the state from before the fault, which the
 * controller has not yet rewritten: it takes a broker registered
 * "unclean_shutdown" out of every ISR whose state predates its
 * registration, and a leader adds it back only once it caught up, so a
 * state newer than the registration that holds it is the rejoin. Not for a
 * broker that never left (a clean restart kept in the ISR by the min-ISR
 * floor: no state after its registration needs writing). 0 or
 * STRAND_ETIMEDOUT (err says what etcd last held).
 */
int  tcluster_wait_rejoined(tcluster_t *c, const char *topic, int32_t p, int id,
                            int deadline_ms, char *err, size_t errlen);

/* Create topic through broker via with partitions, replication factor and
 * configs (a JSON object text, or NULL). 0, or the HTTP status on refusal. */
int  tcluster_create_topic(tcluster_t *c, int via, const char *topic, int partitions,
                           int replication_factor, const char *configs_json,
                           char *err, size_t errlen);

/*
 * A test program's main: 77 (skip, saying why) without etcd or the strand
 * binary; else run suite s in this process (CK_NOFORK: a failing test's
 * cluster is stopped by its teardown fixture) between curl_global_init and
 * curl_global_cleanup, and return 0 when every test passed, else 1.
 * Takes s.
 */
struct Suite;
int  tcluster_run_suite(struct Suite *s);

/* Is id in the partition's ISR? */
int  tcluster_in_isr(const tcluster_partition_t *p, int32_t id);

#endif
