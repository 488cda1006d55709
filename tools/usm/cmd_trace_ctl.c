/* usm trace ctl: Memorizer's debugfs controls, sent to a running traced
 * process over its control socket (include/usm/trace.h). The process
 * checks the command and answers; this prints the answer. */
#include "builtin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usm/usm.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: usm trace ctl PID COMMAND [VALUE]\n"
	             "\n"
	             "Sends a command to process PID, running under 'usm trace':\n"
	             "\n"
	             "  enabled on|off          record objects and accesses (memorizer_enabled)\n"
	             "  log_access on|off       count loads and stores (memorizer_log_access)\n"
	             "  print_live_obj on|off   whether dumps include live objects\n"
	             "  clear_dead_objs         forget every freed object\n"
	             "  clear_printed_list      forget freed objects a dump already wrote\n"
	             "  dump [FILE]             write the CAPMAP now (default: the --output file)\n"
	             "  status                  show the settings\n"
	             "\n"
	             "  -h, --help              show this help\n");
}

int cmd_trace_ctl(int argc, char **argv)
{
	char cmd[4200], reply[4200];
	size_t len = 0;
	pid_t pid;
	int err;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3)
		return cli_usage_error("trace ctl", "needs a PID and a command");
	if (cli_parse_pid("trace ctl", "PID", argv[1], &pid))
		return 2;
	cmd[0] = 0;
	for (int i = 2; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (len + l + 2 > sizeof(cmd) || strchr(argv[i], '\n'))
			return cli_usage_error("trace ctl", "command too long or not one line");
		if (i > 2)
			cmd[len++] = ' ';
		memcpy(cmd + len, argv[i], l + 1);
		len += l;
	}
	err = usm_trace_ctl(pid, cmd, reply, sizeof(reply));
	if (err == -ECONNREFUSED || err == -ENOENT) {
		usm_error("trace: ctl: process %d is not running under usm trace", (int)pid);
		return 1;
	}
	if (err < 0) {
		usm_error_errno(err, "trace: ctl: process %d", (int)pid);
		return 1;
	}
	if (!strncmp(reply, "error: ", 7)) {
		usm_error("trace: ctl: %s", reply + 7);
		return 1;
	}
	if (!strncmp(reply, "ok", 2)) {
		if (reply[2] == ' ')
			printf("%s\n", reply + 3);
		return 0;
	}
	usm_error("trace: ctl: process %d gave an answer usm does not know: '%.80s'", (int)pid,
	          reply);
	return 1;
}
