/* The usm subcommands: one source file each, exporting cmd_NAME(argc, argv)
 * as perf and git do. argv[0] is the subcommand's name. Each returns the
 * process exit status: 0, 1 for a failure, 2 for a usage error. */
#ifndef USM_BUILTIN_H
#define USM_BUILTIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

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
/* usm trace report's code, for usm ktrace report too: cmd names it in
 * usage errors ("ktrace report"), label starts its other errors. */
int trace_report_main(const char *cmd, const char *label, int argc, char **argv);
int cmd_ktrace(int argc, char **argv);
int cmd_trace_diff(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_syscalls(int argc, char **argv);
int cmd_pages(int argc, char **argv);
int cmd_dirty(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_store(int argc, char **argv);

/* Shared by subcommands: report an option error in the one-line form and
 * return the usage-error exit status (2). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports the option getopt_long just rejected; c is what it returned
 * ('?' unknown, ':' missing value, with ":" leading the optstring).
 * Returns 2. */
int cli_bad_option(const char *cmd, char **argv, int c);

/* The frame of every command's getopt_long loop:
 *   cli_getopt_start();
 *   while ((c = getopt_long(argc, argv, "+:...h", options, NULL)) != -1)
 *           switch (c) { case ...: ...; default: return cli_option_end(...); }
 *   if (cli_no_arguments_left(argv[0], argc, argv)) return 2;
 * cli_getopt_start: getopt prints nothing itself (errors are one line, from
 * cli_bad_option) and parses from argv[1]. cli_option_end: 'h' prints the
 * usage on stdout and returns 0, anything else is cli_bad_option's 2.
 * cli_no_arguments_left: 0, or the usage error for the first extra one. */
void cli_getopt_start(void);
int cli_option_end(const char *cmd, char **argv, int c, void (*usage)(FILE *));
int cli_no_arguments_left(const char *cmd, int argc, char **argv);

/* An option's value through libusm's parsers (include/usm/size.h): 0, or
 * the one-line usage error naming opt and the text, and 2. Every command
 * parses its sizes, counts, pids and seconds with these. */
int cli_parse_size(const char *cmd, const char *opt, const char *text, uint64_t *out);
int cli_parse_count(const char *cmd, const char *opt, const char *text, uint64_t max,
		    uint64_t *out);
/* A whole number from min to max (cli_parse_count's with a lower bound). */
int cli_parse_range(const char *cmd, const char *opt, const char *text, uint64_t min,
		    uint64_t max, uint64_t *out);
/* START-END in hexadecimal, as /proc/PID/maps writes it (opt names the
 * option or argument). */
int cli_parse_addr_range(const char *cmd, const char *opt, const char *text, uint64_t *start,
			 uint64_t *end);
int cli_parse_pid(const char *cmd, const char *opt, const char *text, pid_t *out);
int cli_parse_seconds(const char *cmd, const char *opt, const char *text, double max,
		      double *out);

#endif
