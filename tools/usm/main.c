/* usm: one binary, one subcommand per source file (see builtin.h). This
 * file only dispatches and prints the top-level help. */
#include "builtin.h"

#include <stdio.h>
#include <string.h>

#include <usm/usm.h>

static const struct usm_cmd commands[] = {
	{ "bench", "what memory primitives cost here, usm's way against the classic", cmd_bench },
	{ "cc", "compile C so that usm trace sees every load and store (clang)", cmd_cc },
	{ "c++", "the same for C++ (clang++)", cmd_cc },
	{ "dirty", "how many pages a running process writes per interval, and where", cmd_dirty },
	{ "features", "show what this kernel offers usm (userfaultfd, pagemap, perf)", cmd_features },
	{ "info", "memory figures per process name, as /proc/memory_info shows them", cmd_info },
	{ "ktrace", "kernel objects' allocation and free from kmem tracepoints (a CAPMAP)", cmd_ktrace },
	{ "pages", "what the page table says about a process's pages, per mapping", cmd_pages },
	{ "run", "run a program with its memory paged by usm under a budget", cmd_run },
	{ "status", "the pool usmd shares and a row per process in it", cmd_status },
	{ "store", "check that a memcached cluster is fit to hold pages (usm store check)", cmd_store },
	{ "syscalls", "the hot syscall sites of a program (Userspace Bypass's rule)", cmd_syscalls },
	{ "trace", "record every object's allocation, free and accesses (a CAPMAP)", cmd_trace },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct usm_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_help(FILE *out)
{
	fprintf(out,
		"usage: usm [--version] [--help] <command> [<args>]\n"
		"\n"
		"usm moves memory management and memory observation into userspace,\n"
		"on a stock Linux kernel.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"  %-10s %s\n"
		"\n"
		"'usm help <command>' or 'usm <command> --help' shows a command's options.\n",
		"help", "show this list, or a command's help");
}

static int cmd_help(int argc, char **argv)
{
	const struct usm_cmd *cmd;
	char help_opt[] = "--help";

	if (argc < 2) {
		print_help(stdout);
		return 0;
	}
	if (argc > 2) {
		fprintf(stderr, "usm: help: takes one command name\n");
		return 2;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "usm: help: no such command '%s' (see 'usm --help')\n", argv[1]);
		return 2;
	}
	char *sub_argv[] = { argv[1], help_opt, NULL };
	return cmd->fn(2, sub_argv);
}

int main(int argc, char **argv)
{
	const struct usm_cmd *cmd;

	usm_log_set_prog("usm");
	if (argc < 2) {
		print_help(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("usm %s (libusm %s)\n", USM_VERSION, usm_version());
		return 0;
	}
	if (!strcmp(argv[1], "help"))
		return cmd_help(argc - 1, argv + 1);
	if (argv[1][0] == '-') {
		fprintf(stderr, "usm: unknown option '%s' (see 'usm --help')\n", argv[1]);
		return 2;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "usm: '%s' is not a usm command (see 'usm --help')\n", argv[1]);
		return 2;
	}
	return cmd->fn(argc - 1, argv + 1);
}
