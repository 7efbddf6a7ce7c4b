/*
 * main.c — the `strand` binary: find the subcommand in argv[1] and hand it
 * the rest. The broker and every operator tool are subcommands of this one
 * binary; adding one is a line in cli_commands below and a cli_<name>
 * function declared in cli.h.
 *
 * Exit status: the subcommand's; 2 for a missing or unknown subcommand
 * (usage on stderr); 0 for `strand help` / `strand --help` (usage on stdout).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct cli_command {
	const char *name;
	int       (*run)(int argc, char **argv);   /* argv[0] is name */
	const char *summary;
} cli_command_t;

static const cli_command_t cli_commands[] = {
	{ "serve", cli_serve, "run a broker: the HTTP API over a data directory" },
	{ "log",   cli_log,   "partition log tools: dump, check, bench" },
	{ "bench", cli_bench, "load a broker over HTTP: produce, consume, e2e latency" },
	{ "cluster", cli_cluster, "a local cluster for trying cluster mode: up, down" },
	{ "produce", cli_produce, "send stdin lines as records (libstrand producer)" },
	{ "replay",  cli_replay,  "send again the records of a dead-letter file" },
	{ "topic",   cli_topic,   "topics: create, list, describe, delete" },
	{ "consume", cli_consume, "print records, alone or in a group (libstrand consumer)" },
	{ "group",   cli_group,   "consumer groups: list, describe" },
};

#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

static void cli_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: strand COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < CLI_NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(f, "\n`strand help COMMAND` or `strand COMMAND --help` describes one.\n");
}

static const cli_command_t *cli_find(const char *name)
{
	size_t i;

	for (i = 0; i < CLI_NCOMMANDS; i++)
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	return NULL;
}

static int cli_is_help(const char *arg)
{
	return strcmp(arg, "help") == 0 || strcmp(arg, "--help") == 0 ||
	       strcmp(arg, "-h") == 0;
}

int main(int argc, char **argv)
{
	const cli_command_t *cmd;

	if (argc < 2) {
		cli_usage(stderr);
		return 2;
	}
	if (cli_is_help(argv[1])) {
		if (argc > 2 && (cmd = cli_find(argv[2])) != NULL) {
			/* `strand help log` is `strand log --help` */
			char help[] = "--help";
			char *sub_argv[] = { argv[2], help, NULL };

			return cmd->run(2, sub_argv);
		}
		if (argc > 2) {
			fprintf(stderr, "strand: unknown command \"%s\"\n\n", argv[2]);
			cli_usage(stderr);
			return 2;
		}
		cli_usage(stdout);
		return 0;
	}
	cmd = cli_find(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "strand: unknown command \"%s\"\n\n", argv[1]);
		cli_usage(stderr);
		return 2;
	}
	return cmd->run(argc - 1, argv + 1);
}
