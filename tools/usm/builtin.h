/* The usm subcommands: one source file each, exporting cmd_NAME(argc, argv)
 * as perf and git do. argv[0] is the subcommand's name. Each returns the
 * process exit status: 0, 1 for a failure, 2 for a usage error. */
#ifndef USM_BUILTIN_H
#define USM_BUILTIN_H

#include <stdbool.h>

struct usm_cmd {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv);
};

int cmd_features(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_cc(int argc, char **argv); /* also usm c++ */
int cmd_trace(int argc, char **argv);
int cmd_trace_ctl(int argc, char **argv);
int cmd_trace_report(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_syscalls(int argc, char **argv);

/* Shared by subcommands: report an option error in the one-line form and
 * return the usage-error exit status (2). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports the option getopt_long just rejected; c is what it returned
 * ('?' unknown, ':' missing value, with ":" leading the optstring).
 * Returns 2. */
int cli_bad_option(const char *cmd, char **argv, int c);

#endif
