/* usm info: the lines of /proc/memory_info computed from userspace, as
 * text or JSON. Both forms are printed from one list of entries, the JSON
 * by the shared table (table.h). */
#include "builtin.h"
#include "table.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <usm/usm.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usm info [NAME] [--pid PID]... [--json] [--no-pagemap-scan]\n"
		"\n"
		"For each process name, the memory figures /proc/memory_info shows, computed\n"
		"from /proc without any kernel module: total (VmSize), valid (present pages),\n"
		"invalid, may_be_shared (readable present pages whose contents occur at least\n"
		"twice among the processes of that name), nb_group (how many such contents)\n"
		"and the pids. Figures are 4 KiB pages; nothing is faulted in. Reading other\n"
		"users' processes needs root. See docs/memory_info.md.\n"
		"\n"
		"  NAME           only the processes whose name (comm) is exactly NAME\n"
		"  -p, --pid PID  only this process (repeatable)\n"
		"  --json         print a JSON array instead of lines\n"
		"  --no-pagemap-scan\n"
		"                 read pagemap entries one by one, as on kernels before 6.7,\n"
		"                 instead of asking PAGEMAP_SCAN for the present pages\n"
		"  -h, --help     show this help\n");
}

static int print_lines(const struct usm_meminfo *mi)
{
	for (size_t i = 0; i < mi->count; i++) {
		char *line;
		int err = usm_meminfo_format_line(&mi->entries[i], &line);

		if (err < 0) {
			usm_error_errno(err, "info");
			return 1;
		}
		puts(line);
		free(line);
	}
	return 0;
}

/* The JSON of an entry; its text is the /proc/memory_info line, whose
 * format libusm keeps (usm_meminfo_format_line). */
static const struct table_col columns[] = {
	{ .key = "name", .type = TABLE_STR },
	{ .key = "total", .type = TABLE_UINT },
	{ .key = "valid", .type = TABLE_UINT },
	{ .key = "invalid", .type = TABLE_UINT },
	{ .key = "may_be_shared", .type = TABLE_UINT },
	{ .key = "nb_group", .type = TABLE_UINT },
	{ .key = "pids", .type = TABLE_INT_LIST },
};

static int print_json(const struct usm_meminfo *mi)
{
	struct table t;
	int err;

	table_init(&t, TABLE_COLS(columns));
	for (size_t i = 0; i < mi->count; i++) {
		const struct usm_meminfo_entry *e = &mi->entries[i];

		table_row(&t);
		table_add_str(&t, e->name);
		table_add_uint(&t, e->total);
		table_add_uint(&t, e->valid);
		table_add_uint(&t, e->invalid);
		table_add_uint(&t, e->may_be_shared);
		table_add_uint(&t, e->nb_group);
		table_add_ints(&t, e->pids, e->npids);
	}
	err = table_json_print(table_json_rows(&t), stdout, false);
	table_free(&t);
	if (err < 0) {
		usm_error_errno(err, "info");
		return 1;
	}
	return 0;
}

/* The scan keeps /proc/PID/mem open for every process of one name. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int report_scan_error(int err, const struct usm_meminfo *mi)
{
	if (err == -EACCES)
		usm_error("info: %d (%s): permission denied: run as root to read other users' "
			  "processes",
			  (int)mi->denied_pid, mi->denied_name);
	else
		usm_error_errno(err, "info: reading /proc");
	return 1;
}

int cmd_info(int argc, char **argv)
{
	static const struct option options[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-pagemap-scan", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct usm_meminfo_opts opts = { 0 };
	struct usm_meminfo mi;
	pid_t *pids = NULL;
	bool json = false;
	int c, err, rc;

	opterr = 0;
	optind = 1;
	/* NAME may come before or after the options: a leading "+" stops
	 * getopt at it (glibc honours "+" only as the first character, then
	 * ":"), and the loop takes it and goes on from the next argument. */
	for (;;) {
		c = getopt_long(argc, argv, "+:hp:", options, NULL);
		if (c == -1) {
			/* After "--" getopt has nothing more to say. */
			bool last = optind > 1 && !strcmp(argv[optind - 1], "--");

			if (optind >= argc)
				break;
			if (opts.name) {
				rc = cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
				goto out;
			}
			opts.name = argv[optind++];
			if (last && optind < argc) {
				rc = cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
				goto out;
			}
			if (last)
				break;
			continue;
		}
		switch (c) {
		case 'p': {
			pid_t *grown = realloc(pids, (opts.npids + 1) * sizeof(*pids));

			if (!grown) {
				usm_error_errno(-ENOMEM, "info");
				rc = 1;
				goto out;
			}
			pids = grown;
			rc = cli_parse_pid(argv[0], "--pid", optarg, &pids[opts.npids]);
			if (rc)
				goto out;
			opts.npids++;
			break;
		}
		case 'j':
			json = true;
			break;
		case 'S':
			opts.no_pagemap_scan = true;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			rc = cli_bad_option(argv[0], argv, c);
			goto out;
		}
	}
	/* As the module: a comm is 1 to 15 bytes, anything else is malformed. */
	if (opts.name && (!opts.name[0] || strlen(opts.name) > USM_MEMINFO_NAME_MAX)) {
		rc = cli_usage_error(argv[0], "a process name is 1 to %d bytes: '%s'",
				     USM_MEMINFO_NAME_MAX, opts.name);
		goto out;
	}
	opts.pids = pids;

	raise_fd_limit();
	err = usm_meminfo_scan(&opts, &mi);
	if (err) {
		rc = report_scan_error(err, &mi);
		goto out;
	}
	if (mi.count == 0 && opts.name) {
		usm_error("info: no process named '%s'", opts.name);
		rc = 1;
	} else if (mi.count == 0 && opts.pids) {
		usm_error("info: no process among the given pids");
		rc = 1;
	} else {
		rc = json ? print_json(&mi) : print_lines(&mi);
	}
	usm_meminfo_free(&mi);
out:
	free(pids);
	return rc;
}
