/* Helpers every subcommand shares for its argument errors. */
#include "builtin.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

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
