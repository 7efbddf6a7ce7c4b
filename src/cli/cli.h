/*
 * cli.h — the subcommands of the `strand` binary.
 *
 * Each entry point takes the arguments from the subcommand's name on
 * (argv[0] is "serve", "log", ...), prints its own usage for --help, and
 * returns the process exit status: 0 success, 1 failure (the reason on
 * stderr), 2 bad usage. main.c dispatches to them through one table.
 */
#ifndef STRAND_CLI_H
#define STRAND_CLI_H

#include <stddef.h>
#include <sys/types.h>

/* `strand serve`: run the broker and its HTTP API (cli_serve.c). */
int cli_serve(int argc, char **argv);

/* `strand log dump|check|bench`: operator tools for partition logs (cli_log.c). */
int cli_log(int argc, char **argv);

/* `strand bench produce|consume|e2e`: HTTP load and latency (cli_bench.c). */
int cli_bench(int argc, char **argv);

/* `strand cluster up|down`: etcd and N brokers on this machine (cli_cluster.c). */
int cli_cluster(int argc, char **argv);
/* Start broker i of a local cluster under dir (broker-<i>/data, its log,
 * port and pid files) with `self serve --etcd etcd_url` on 127.0.0.1:want_port
 * (0: a port chosen at run time), --lease-ttl-s lease_ttl (the broker's
 * default when NULL), detached (own session) or not; wait until it answers
 * /healthz. *pid_out gets its pid, url its base URL. 0, or -1 said on stderr
 * (a process that started but did not come up is left to the caller, its
 * pid in *pid_out). */
int cli_cluster_start_broker(const char *self, const char *dir, int i, const char *etcd_url,
                             const char *lease_ttl, unsigned want_port, int detach,
                             pid_t *pid_out, char *url, size_t urlcap);
/* One blocking JSON request for a tool's setup, not its measurement
 * (cli_bench.c): method, Content-Type: application/json, body (NULL:
 * none), the answer appended to out, at most timeout_ms. The HTTP status,
 * or -1 when no answer came. */
struct buf;
long cli_http_simple(const char *url, const char *method, const char *body, long timeout_ms,
                     struct buf *out);
/* `strand bench failover` (cli_failover.c), reached through cli_bench. */
int cli_bench_failover(int argc, char **argv);
/* libstrand clients (cli_client.c): `strand produce`, `strand replay`,
 * `strand topic create|list|describe|delete`. */
int cli_produce(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_topic(int argc, char **argv);
/* ... and (cli_consume.c) `strand consume`, `strand group list|describe`. */
int cli_consume(int argc, char **argv);
int cli_group(int argc, char **argv);

/* ---- shared by the client subcommands (cli_client.c) ---- */
struct strand_conf;
struct transport;
typedef struct cJSON cJSON;

#define CLI_MAX_X 32

typedef struct client_opts {
	const char *broker;
	const char *x[CLI_MAX_X];      /* "name=value" from -X */
	int         nx;
} client_opts_t;

/* getopt's 'b' (--broker) and 'X' into o: 1 taken, 0 not ours, -1 too many -X. */
int client_parse_common(int c, const char *arg, client_opts_t *o);
/* Apply --broker and every -X to conf. Returns 0 or 2 (bad usage, said on
 * stderr as "strand CMD: ..."). */
int client_conf(struct strand_conf *conf, const client_opts_t *o, const char *cmd);
/* One admin call through the library's transport (TLS, token, problem+json);
 * prints "strand CMD: METHOD PATH: CODE: words" on failure. *json (may be
 * NULL) gets the answer (caller deletes). Returns 0 or 1. */
int client_call(struct transport *t, const char *cmd, const char *method, const char *path,
                const char *body, cJSON **json);

#endif
