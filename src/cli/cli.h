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

/* `strand serve`: run the broker and its HTTP API (cli_serve.c). */
int cli_serve(int argc, char **argv);

/* `strand log dump|check|bench`: operator tools for partition logs (cli_log.c). */
int cli_log(int argc, char **argv);

/* `strand bench produce|consume|e2e`: HTTP load and latency (cli_bench.c). */
int cli_bench(int argc, char **argv);

/* `strand cluster up|down`: etcd and N brokers on this machine (cli_cluster.c). */
int cli_cluster(int argc, char **argv);
/* libstrand clients (cli_client.c): `strand produce`, `strand replay`,
 * `strand topic create|list|describe|delete`. */
int cli_produce(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_topic(int argc, char **argv);

#endif
