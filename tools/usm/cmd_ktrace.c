/* usm ktrace: the kernel objects a program causes, on a stock kernel. The
 * kmem tracepoints (kmalloc, kfree, kmem_cache_alloc/free, mm_page_alloc/
 * free) of a command, a running process or every task of a name become a
 * CAPMAP with no access lines (docs/ktrace.md) and FILE.kallsyms, the
 * kernel symbols its sites are in; 'usm ktrace report' is usm trace
 * report's code. lib/ktrace/ does the recording. */
#include "builtin.h"
#include "tracing_error.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <usm/usm.h>

#include "ktrace/ktrace.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usm ktrace [options] [--] COMMAND [ARGS...]\n"
		"       usm ktrace [options] -p PID\n"
		"       usm ktrace [options] --comm NAME\n"
		"       usm ktrace report [--json] [--top N] [--html OUT] FILE\n"
		"\n"
		"Records the kernel objects COMMAND (and the processes it starts), the\n"
		"process PID (every thread), or every task named NAME allocates and frees,\n"
		"from the kmem tracepoints of a stock kernel: kmalloc, kmem_cache and the\n"
		"page allocator. Writes a CAPMAP without access lines (docs/ktrace.md) and\n"
		"FILE.kallsyms, the kernel symbols of its call sites. Needs root (or\n"
		"CAP_PERFMON, and tracefs mounted: usm mounts it when it may).\n"
		"\n"
		"  -o, --output FILE       the CAPMAP (default ktrace.capmap)\n"
		"  -p, --pid PID           record this running process\n"
		"      --comm NAME         only tasks of this name (alone: on the whole system,\n"
		"                          until --duration or Ctrl-C)\n"
		"  -d, --duration SECONDS  stop after this long\n"
		"      --buffer-pages N    ring buffer pages per CPU, a power of two\n"
		"                          (default 2048); the events a full one drops are\n"
		"                          counted (lost_events)\n"
		"  -h, --help              show this help\n"
		"\n"
		"'usm ktrace report --help' tells the rest.\n");
}

static struct usm_ktrace *session;

static void on_signal(int sig)
{
	(void)sig;
	if (session)
		usm_ktrace_stop(session);
}

static int open_error(int err, enum usm_ktrace_stage stage, const struct usm_ktrace_config *cfg)
{
	switch (stage) {
	case USM_KTRACE_STAGE_PID:
		usm_error("ktrace: no process %d", (int)cfg->pid);
		return 1;
	case USM_KTRACE_STAGE_EXEC:
		usm_error_errno(err, "ktrace: cannot run '%s'", cfg->argv[0]);
		return err == -ENOENT ? 127 : 126;
	case USM_KTRACE_STAGE_TRACEFS:
		return tracing_error("ktrace", TRACING_TRACEFS, err, "kmem", NULL, NULL);
	case USM_KTRACE_STAGE_TRACEPOINT:
		return tracing_error("ktrace", TRACING_TRACEPOINT, err, "kmem", "CONFIG_TRACEPOINTS",
				     NULL);
	case USM_KTRACE_STAGE_PERF:
		return tracing_error("ktrace", TRACING_PERF, err, "kmem", NULL, "6 to 9");
	default:
		usm_error_errno(err, "ktrace");
		return 1;
	}
}

static void print_summary(const char *path, const struct usm_ktrace_result *r, bool syms)
{
	uint64_t allocs = 0, frees = 0;

	for (int a = 0; a < USM_KTRACE_NALLOCATORS; a++) {
		allocs += r->allocs[a];
		frees += r->frees[a];
	}
	if (r->mounted_tracefs)
		fprintf(stderr, "usm: ktrace: mounted tracefs on /sys/kernel/tracing\n");
	fprintf(stderr, "usm: ktrace: %s: %" PRIu64 " objects, %" PRIu64 " allocated and %" PRIu64
			" freed in %.2f s (",
		path, r->objects, allocs, frees, r->seconds);
	for (int a = 0; a < USM_KTRACE_NALLOCATORS; a++)
		fprintf(stderr, "%s%s %" PRIu64 "/%" PRIu64, a ? ", " : "",
			usm_ktrace_allocator_name((enum usm_ktrace_allocator)a), r->allocs[a],
			r->frees[a]);
	fprintf(stderr, "), %" PRIu64 " live at the end\n", r->live);
	fprintf(stderr, "usm: ktrace: lost_events=%" PRIu64 " throttled=%" PRIu64
			" freed_before_trace=%" PRIu64 " reallocated_unfreed=%" PRIu64 "\n",
		r->lost, r->throttled, r->freed_unseen, r->reused_unfreed);
	if (r->lost)
		fprintf(stderr, "usm: ktrace: the kernel dropped %" PRIu64 " events (its ring "
				"buffers were full: raise --buffer-pages): counts are low\n",
			r->lost);
	if (r->freed_unseen)
		fprintf(stderr, "usm: ktrace: %" PRIu64 " frees were of objects allocated before "
				"the trace: not in the CAPMAP\n",
			r->freed_unseen);
	if (!syms)
		return;
	if (r->symbols_hidden)
		fprintf(stderr, "usm: ktrace: /proc/kallsyms shows no addresses (kptr_restrict): "
				"sites stay addresses\n");
	else
		fprintf(stderr, "usm: ktrace: %s.kallsyms names %" PRIu64 " of %" PRIu64
				" call sites\n",
			path, r->sites_named, r->sites);
}

enum { OPT_COMM = 256, OPT_PAGES };

static int parse_args(int argc, char **argv, struct usm_ktrace_config *cfg, const char **output)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "duration", required_argument, NULL, 'd' },
		{ "buffer-pages", required_argument, NULL, OPT_PAGES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, rc;

	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:o:p:d:h", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			*output = optarg;
			break;
		case 'p':
			if ((rc = cli_parse_pid(argv[0], "-p", optarg, &cfg->pid)))
				return rc;
			break;
		case OPT_COMM:
			if (!*optarg || strlen(optarg) > 15)
				return cli_usage_error(argv[0], "--comm: '%s' is not a task name "
						       "(1 to 15 bytes)", optarg);
			cfg->comm = optarg;
			break;
		case 'd':
			if ((rc = cli_parse_seconds(argv[0], "--duration", optarg, 1e6,
						    &cfg->duration_s)))
				return rc;
			break;
		case OPT_PAGES:
			if ((rc = cli_parse_range(argv[0], "--buffer-pages", optarg, 1, 1u << 20, &v)))
				return rc;
			if (v & (v - 1))
				return cli_usage_error(argv[0], "--buffer-pages: '%s' is not a power "
						       "of two", optarg);
			cfg->ring_pages = (unsigned)v;
			break;
		default:
			return cli_option_end(argv[0], argv, c, usage) ? 2 : 1;
		}
	}
	if (optind < argc)
		cfg->argv = &argv[optind];
	if (cfg->pid && cfg->argv)
		return cli_usage_error(argv[0], "give -p PID or a command, not both");
	if (!cfg->pid && !cfg->argv && !cfg->comm)
		return cli_usage_error(argv[0], "give a command, -p PID or --comm NAME");
	if (!**output)
		return cli_usage_error(argv[0], "--output needs a file name");
	return 0;
}

int cmd_ktrace(int argc, char **argv)
{
	struct usm_ktrace_config cfg;
	struct usm_ktrace_result res;
	enum usm_ktrace_stage stage;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *output = "ktrace.capmap";
	char syms_path[4200], maps_path[4200];
	FILE *out, *syms;
	int err;

	if (argc > 1 && !strcmp(argv[1], "report"))
		return trace_report_main("ktrace report", "ktrace: report", argc - 1, argv + 1);
	usm_ktrace_config_init(&cfg);
	err = parse_args(argc, argv, &cfg, &output);
	if (err)
		return err == 1 ? 0 : err;
	out = fopen(output, "we");
	if (!out) {
		usm_error_errno(-errno, "ktrace: %s", output);
		return 1;
	}
	snprintf(syms_path, sizeof(syms_path), "%s.kallsyms", output);
	syms = fopen(syms_path, "we");
	if (!syms) {
		usm_error_errno(-errno, "ktrace: %s", syms_path);
		fclose(out);
		return 1;
	}
	/* a usm trace CAPMAP of this name had one; report would read it */
	snprintf(maps_path, sizeof(maps_path), "%s.maps", output);
	unlink(maps_path);
	cfg.out = out;
	cfg.syms = syms;
	err = usm_ktrace_open(&cfg, &session, &stage);
	if (err) {
		fclose(out);
		fclose(syms);
		unlink(output);
		unlink(syms_path);
		return open_error(err, stage, &cfg);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* the events are on from here: what a caller that starts the work waits for */
	if (cfg.pid)
		fprintf(stderr, "usm: ktrace: recording process %d\n", (int)cfg.pid);
	else if (!cfg.argv)
		fprintf(stderr, "usm: ktrace: recording tasks named %s\n", cfg.comm);
	err = usm_ktrace_run(session, &res);
	usm_ktrace_close(session);
	session = NULL;
	if (fclose(syms) != 0 && !err)
		err = -errno;
	if (fclose(out) != 0 && !err)
		err = -errno;
	if (err) {
		usm_error_errno(err, "ktrace: %s", output);
		return 1;
	}
	if (!res.sites_named)
		unlink(syms_path); /* nothing to name a site with */
	print_summary(output, &res, res.sites_named > 0 || res.symbols_hidden);
	if (cfg.argv && res.exit_status >= 0 && WIFEXITED(res.exit_status) &&
	    WEXITSTATUS(res.exit_status))
		fprintf(stderr, "usm: ktrace: %s exited with status %d\n", cfg.argv[0],
			WEXITSTATUS(res.exit_status));
	return 0;
}
