/* Helpers every subcommand shares for its argument errors and for the
 * values of its options. */
#include "builtin.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <usm/size.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "usm: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'usm help %s')\n", cmd);
	return 2;
}

int cli_bad_option(const char *cmd, char **argv, int c)
{
	/* With opterr = 0 getopt_long prints nothing itself, so the message
	 * stays on one line; it leaves optind just past the bad element. */
	const char *arg = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, 0 };

	if (optopt && arg[0] == '-' && arg[1] != '-')
		arg = shortopt;
	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value", arg);
	return cli_usage_error(cmd, "unknown option '%s'", arg);
}

void cli_getopt_start(void)
{
	opterr = 0;
	optind = 1;
}

int cli_option_end(const char *cmd, char **argv, int c, void (*usage)(FILE *))
{
	if (c == 'h') {
		usage(stdout);
		return 0;
	}
	return cli_bad_option(cmd, argv, c);
}

int cli_no_arguments_left(const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int cli_parse_size(const char *cmd, const char *opt, const char *text, uint64_t *out)
{
	if (usm_parse_size(text, out) < 0)
		return cli_usage_error(cmd, "%s: '%s' is not a size (like 4096, 64K, 2G)", opt,
				       text);
	return 0;
}

int cli_parse_count(const char *cmd, const char *opt, const char *text, uint64_t max,
		    uint64_t *out)
{
	if (usm_parse_count(text, max, out) == 0)
		return 0;
	if (max == UINT64_MAX)
		return cli_usage_error(cmd, "%s: '%s' is not a whole number", opt, text);
	return cli_usage_error(cmd, "%s: '%s' is not a whole number from 0 to %" PRIu64, opt, text,
			       max);
}

int cli_parse_range(const char *cmd, const char *opt, const char *text, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	if (usm_parse_count(text, max, out) == 0 && *out >= min)
		return 0;
	return cli_usage_error(cmd, "%s: '%s' is not a whole number from %" PRIu64 " to %" PRIu64,
			       opt, text, min, max);
}

int cli_parse_pid(const char *cmd, const char *opt, const char *text, pid_t *out)
{
	if (usm_parse_pid(text, out) < 0)
		return cli_usage_error(cmd, "%s: '%s' is not a process id", opt, text);
	return 0;
}

int cli_parse_seconds(const char *cmd, const char *opt, const char *text, double max,
		      double *out)
{
	if (usm_parse_seconds(text, max, out) < 0)
		return cli_usage_error(cmd, "%s: '%s' is not a number of seconds (more than 0, at "
					    "most %g)", opt, text, max);
	return 0;
}

int cli_parse_addr_range(const char *cmd, const char *opt, const char *text, uint64_t *start,
			 uint64_t *end)
{
	if (usm_parse_addr_range(text, start, end) == 0)
		return 0;
	return cli_usage_error(cmd, "%s: '%s' is not an address range START-END (hexadecimal, start < end)",
			       opt, text);
}
