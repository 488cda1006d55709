/* usm trace: Memorizer for user programs. Runs a program with the trace
 * runtime (libusm-trace.so) so that every object's allocation, free and,
 * for programs built by usm cc, every load and store is recorded into a
 * CAPMAP; 'usm trace ctl', 'usm trace report' and 'usm trace diff' are its helpers.
 *
 * The program is exec'd in place of usm, so its pid is the one usm trace
 * started with: what 'usm trace ctl PID' needs, and what a shell's $!
 * gives. Settings reach the runtime through the environment. */
#include "builtin.h"
#include "runtime_path.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <usm/usm.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: usm trace [options] [--] COMMAND [ARGS...]\n"
	             "       usm trace ctl PID COMMAND [VALUE]\n"
	             "       usm trace report [--json] [--top N] [--html OUT] FILE\n"
	             "       usm trace diff [--json] A B\n"
	             "\n"
	             "Runs COMMAND with the usm trace runtime: every object it allocates\n"
	             "(malloc family, anonymous mmap, globals of code built by 'usm cc') is\n"
	             "recorded with its allocation and free; code built by 'usm cc' also\n"
	             "counts every load and store per object, access IP and thread. At exit\n"
	             "the process writes a CAPMAP (docs/capmap.md), and FILE.maps beside it.\n"
	             "\n"
	             "  -o, --output FILE          the CAPMAP (default usm.capmap); other\n"
	             "                             processes it starts write FILE.PID\n"
	             "      --json                 write the CAPMAP as JSON\n"
	             "      --enabled on|off       record anything at all (default on)\n"
	             "      --log-access on|off    count loads and stores (default on)\n"
	             "      --print-live-obj on|off  write live objects too (default on)\n"
	             "  -h, --help                 show this help\n"
	             "\n"
	             "'usm trace ctl --help', 'usm trace report --help' and\n"
	             "'usm trace diff --help' tell the rest.\n");
}

static int parse_onoff(const char *opt, const char *v, const char **out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1"))
		*out = "1";
	else if (!strcmp(v, "off") || !strcmp(v, "0"))
		*out = "0";
	else
		return cli_usage_error("trace", "%s takes on or off, not '%s'", opt, v);
	return 0;
}

static int set_preload(const char *rt)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;
	int err;

	if (!old || !*old)
		return setenv("LD_PRELOAD", rt, 1);
	if (asprintf(&v, "%s:%s", rt, old) < 0)
		return -1;
	err = setenv("LD_PRELOAD", v, 1);
	free(v);
	return err;
}

int cmd_trace(int argc, char **argv)
{
	static const struct option options[] = {
	        {"output", required_argument, NULL, 'o'},
	        {"json", no_argument, NULL, 'j'},
	        {"enabled", required_argument, NULL, 'E'},
	        {"log-access", required_argument, NULL, 'L'},
	        {"print-live-obj", required_argument, NULL, 'P'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *output = "usm.capmap", *enabled = "1", *log_access = "1", *print_live = "1";
	char rt[PATH_MAX], abs_out[PATH_MAX * 2], pid[16];
	bool json = false;
	int c;

	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return cmd_trace_ctl(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "report"))
		return cmd_trace_report(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "diff"))
		return cmd_trace_diff(argc - 1, argv + 1);

	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:o:h", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'E':
			if (parse_onoff("--enabled", optarg, &enabled))
				return 2;
			break;
		case 'L':
			if (parse_onoff("--log-access", optarg, &log_access))
				return 2;
			break;
		case 'P':
			if (parse_onoff("--print-live-obj", optarg, &print_live))
				return 2;
			break;
		default:
			return cli_option_end(argv[0], argv, c, usage);
		}
	}
	if (optind >= argc)
		return cli_usage_error(argv[0], "no command to run");
	if (!*output)
		return cli_usage_error(argv[0], "--output needs a file name");
	if (!runtime_path(RUNTIME_TRACE, rt, sizeof(rt))) {
		usm_error("trace: cannot find libusm-trace.so (set USM_TRACE_LIB)");
		return 1;
	}
	/* The program may change directory: give it an absolute path. */
	if (output[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd))) {
			usm_error_errno(-errno, "trace: current directory");
			return 1;
		}
		snprintf(abs_out, sizeof(abs_out), "%s/%s", cwd, output);
		output = abs_out;
	}
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (set_preload(rt) || setenv("USM_TRACE_ACTIVE", "1", 1) ||
	    setenv("USM_TRACE_OUTPUT", output, 1) || setenv("USM_TRACE_ROOT_PID", pid, 1) ||
	    setenv("USM_TRACE_JSON", json ? "1" : "0", 1) ||
	    setenv("USM_TRACE_ENABLED", enabled, 1) ||
	    setenv("USM_TRACE_LOG_ACCESS", log_access, 1) ||
	    setenv("USM_TRACE_PRINT_LIVE", print_live, 1)) {
		usm_error_errno(-errno, "trace: environment");
		return 1;
	}
	fflush(NULL);
	execvp(argv[optind], argv + optind);
	usm_error("trace: cannot run '%s': %s", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
