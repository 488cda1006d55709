/* usm syscalls: the hot syscall sites of a running program or of a command,
 * by Userspace Bypass's rule, as a table, JSON, or the reference's targets[]. */
#include "builtin.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <usm/usm.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usm syscalls [options] -p PID\n"
		"       usm syscalls [options] [--] CMD [ARGS...]\n"
		"\n"
		"Finds the hot syscall sites of a process (every thread) or of a command\n"
		"(and its children) by the rule of Userspace Bypass: a syscall that comes\n"
		"less than --short-gap ns after the previous one's return is short and\n"
		"counts for the previous one's site; a site with more than --hot-count\n"
		"short syscalls in a window of --window syscalls on a CPU (a window\n"
		"faster than 1 s) is hot. Uses the raw_syscalls tracepoints (root).\n"
		"\n"
		"  -p, --pid PID         observe this running process\n"
		"  -d, --duration SECS   stop after SECS (default: when the target ends, or ^C)\n"
		"      --short-gap NS    short user gap, default %d\n"
		"      --hot-count N     short syscalls in a window to be hot, default %d\n"
		"      --window N        syscalls per CPU in a window, default %d\n"
		"      --stack-period N  unwind a user stack every Nth syscall, default 499\n"
		"      --stack-size B    bytes of user stack per sample, default 2048\n"
		"      --json            one JSON object instead of the table\n"
		"      --targets         the hot sites as addresses for the reference's targets[]\n"
		"  -h, --help            show this help\n",
		USM_SYSCALLS_SHORT_GAP_NS, USM_SYSCALLS_HOT_COUNT, USM_SYSCALLS_WINDOW);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static struct usm_syscalls *session;

static void on_signal(int sig)
{
	(void)sig;
	if (session)
		usm_syscalls_stop(session);
}

static void syscall_names(const struct usm_syscalls_site *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < s->nnrs && n < len; i++) {
		const char *name = usm_syscall_name(s->nrs[i]);

		if (name)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", name);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s%d", i ? "," : "", s->nrs[i]);
	}
	if (s->more_nrs && n < len)
		snprintf(buf + n, len - n, ",...");
}

static const char *base_name(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;

	return b ? b + 1 : path ? path : "?";
}

/* "function+0xoff (object+0xoff)" or the bare address when nothing is known. */
static void place(char *buf, size_t len, uint64_t addr, const char *function, uint64_t foff,
		  const char *module, uint64_t moff)
{
	if (function)
		snprintf(buf, len, "%s+0x%" PRIx64 " (%s+0x%" PRIx64 ")", function, foff,
			 base_name(module), moff);
	else if (module)
		snprintf(buf, len, "%s+0x%" PRIx64, base_name(module), moff);
	else
		snprintf(buf, len, "0x%" PRIx64, addr);
}

struct row {
	bool hot;
	pid_t pid;
	uint64_t calls, rate, kmean, kp99, gp50, gp99, shorts;
	char syscall[64];
	char site[160];
	char caller[200];
};

static void fill_row(struct row *r, const struct usm_syscalls_site *s, double seconds)
{
	r->hot = s->hot;
	r->pid = s->pid;
	r->calls = s->count;
	r->rate = seconds > 0 ? (uint64_t)((double)s->count / seconds) : 0;
	r->kmean = s->kernel_n ? s->kernel_ns_sum / s->kernel_n : 0;
	r->kp99 = s->kernel_ns_p99;
	r->gp50 = s->gap_ns_p50;
	r->gp99 = s->gap_ns_p99;
	r->shorts = s->short_count;
	syscall_names(s, r->syscall, sizeof(r->syscall));
	place(r->site, sizeof(r->site), s->addr, s->function, s->function_offset, s->module,
	      s->module_offset);
	if (s->ncallers) {
		const struct usm_syscalls_caller *c = &s->callers[0];
		char where[96] = "";

		if (c->file)
			snprintf(where, sizeof(where), " %s:%d", base_name(c->file), c->line);
		place(r->caller, sizeof(r->caller) - sizeof(where), c->addr, c->function,
		      c->function_offset, c->module, c->module_offset);
		strcat(r->caller, where);
	} else {
		snprintf(r->caller, sizeof(r->caller), "-");
	}
}

static void print_table(const struct row *rows, size_t n)
{
	printf("%-4s %7s %10s %9s %-14s %8s %8s %8s %8s %9s  %-40s %s\n", "hot", "pid", "calls",
	       "rate/s", "syscall", "kern_ns", "kern_p99", "gap_p50", "gap_p99", "short", "site",
	       "caller");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		printf("%-4s %7d %10" PRIu64 " %9" PRIu64 " %-14s %8" PRIu64 " %8" PRIu64 " %8" PRIu64
		       " %8" PRIu64 " %9" PRIu64 "  %-40s %s\n",
		       r->hot ? "yes" : "no", (int)r->pid, r->calls, r->rate, r->syscall, r->kmean,
		       r->kp99, r->gp50, r->gp99, r->shorts, r->site, r->caller);
	}
}

static json_object *json_u64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static json_object *json_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void print_json(const struct usm_syscalls_result *res, const struct usm_syscalls_config *cfg)
{
	json_object *root = json_object_new_object(), *sites = json_object_new_array();
	json_object *rule = json_object_new_object();

	json_object_object_add(root, "seconds", json_object_new_double(res->seconds));
	json_object_object_add(root, "syscalls", json_u64(res->syscalls));
	json_object_object_add(root, "lost", json_u64(res->lost));
	json_object_object_add(root, "windows", json_u64(res->windows));
	json_object_object_add(root, "entry_exit_ns", json_u64(res->entry_exit_ns));
	json_object_object_add(rule, "short_gap_ns", json_u64(cfg->short_gap_ns));
	json_object_object_add(rule, "hot_count", json_u64(cfg->hot_count));
	json_object_object_add(rule, "window", json_u64(cfg->window));
	json_object_object_add(root, "rule", rule);
	for (size_t i = 0; i < res->nsites; i++) {
		const struct usm_syscalls_site *s = &res->sites[i];
		json_object *o = json_object_new_object(), *names = json_object_new_array();
		json_object *callers = json_object_new_array();

		for (unsigned k = 0; k < s->nnrs; k++) {
			const char *name = usm_syscall_name(s->nrs[k]);

			json_object_array_add(names, name ? json_object_new_string(name)
							  : json_object_new_int(s->nrs[k]));
		}
		json_object_object_add(o, "hot", json_object_new_boolean(s->hot));
		json_object_object_add(o, "pid", json_object_new_int(s->pid));
		json_object_object_add(o, "syscalls", names);
		json_object_object_add(o, "more_syscalls", json_object_new_boolean(s->more_nrs));
		json_object_object_add(o, "addr", json_u64(s->addr));
		json_object_object_add(o, "return_addr", json_u64(s->addr + 2));
		json_object_object_add(o, "module", json_str(s->module));
		json_object_object_add(o, "module_offset", json_u64(s->module_offset));
		json_object_object_add(o, "function", json_str(s->function));
		json_object_object_add(o, "function_offset", json_u64(s->function_offset));
		json_object_object_add(o, "count", json_u64(s->count));
		json_object_object_add(o, "rate", json_object_new_double(
			res->seconds > 0 ? (double)s->count / res->seconds : 0));
		json_object_object_add(o, "kernel_n", json_u64(s->kernel_n));
		json_object_object_add(o, "kernel_ns_mean",
				       json_u64(s->kernel_n ? s->kernel_ns_sum / s->kernel_n : 0));
		json_object_object_add(o, "kernel_ns_p50", json_u64(s->kernel_ns_p50));
		json_object_object_add(o, "kernel_ns_p99", json_u64(s->kernel_ns_p99));
		json_object_object_add(o, "gap_n", json_u64(s->gap_n));
		json_object_object_add(o, "gap_ns_mean",
				       json_u64(s->gap_n ? s->gap_ns_sum / s->gap_n : 0));
		json_object_object_add(o, "gap_ns_p50", json_u64(s->gap_ns_p50));
		json_object_object_add(o, "gap_ns_p90", json_u64(s->gap_ns_p90));
		json_object_object_add(o, "gap_ns_p99", json_u64(s->gap_ns_p99));
		json_object_object_add(o, "short", json_u64(s->short_count));
		json_object_object_add(o, "hot_windows", json_u64(s->hot_windows));
		json_object_object_add(o, "stack_samples", json_u64(s->stack_samples));
		json_object_object_add(o, "stack_failed", json_u64(s->stack_failed));
		for (size_t k = 0; k < s->ncallers; k++) {
			const struct usm_syscalls_caller *c = &s->callers[k];
			json_object *co = json_object_new_object();

			json_object_object_add(co, "addr", json_u64(c->addr));
			json_object_object_add(co, "samples", json_u64(c->samples));
			json_object_object_add(co, "function", json_str(c->function));
			json_object_object_add(co, "function_offset", json_u64(c->function_offset));
			json_object_object_add(co, "module", json_str(c->module));
			json_object_object_add(co, "module_offset", json_u64(c->module_offset));
			json_object_object_add(co, "file", json_str(c->file));
			json_object_object_add(co, "line", json_object_new_int(c->line));
			json_object_array_add(callers, co);
		}
		json_object_object_add(o, "callers", callers);
		json_object_array_add(sites, o);
	}
	json_object_object_add(root, "sites", sites);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/* The reference's daemon matches the user return address of a syscall
 * (what strace -i prints): the instruction after the syscall. */
static void print_targets(const struct usm_syscalls_result *res)
{
	printf("/* hot syscall sites: return address in this run, object+offset */\n");
	for (size_t i = 0; i < res->nsites; i++) {
		const struct usm_syscalls_site *s = &res->sites[i];
		char names[64];

		if (!s->hot)
			continue;
		syscall_names(s, names, sizeof(names));
		printf("0x%" PRIx64 ", /* pid %d %s %s+0x%" PRIx64 " */\n", s->addr + 2, (int)s->pid,
		       names, s->module ? s->module : "?", s->module_offset + 2);
	}
}

static int report_open_error(int err, enum usm_syscalls_stage stage,
			     const struct usm_syscalls_config *cfg)
{
	struct usm_features f;

	switch (stage) {
	case USM_SYSCALLS_STAGE_PID:
		usm_error("syscalls: no process %d", (int)cfg->pid);
		break;
	case USM_SYSCALLS_STAGE_EXEC:
		usm_error_errno(err, "syscalls: cannot run '%s'", cfg->argv[0]);
		break;
	case USM_SYSCALLS_STAGE_TRACEFS:
		if (err == -EACCES)
			usm_error("syscalls: tracefs on /sys/kernel/tracing is root's alone (mode "
				  "0700): run as root, or remount it with gid= and mode= for this user");
		else if (err == -EPERM)
			usm_error("syscalls: tracefs is not mounted and mounting it needs "
				  "CAP_SYS_ADMIN (mount -t tracefs nodev /sys/kernel/tracing)");
		else if (err == -ENODEV)
			usm_error("syscalls: this kernel has no tracefs (CONFIG_TRACING)");
		else
			usm_error_errno(err, "syscalls: mounting tracefs on /sys/kernel/tracing");
		break;
	case USM_SYSCALLS_STAGE_TRACEPOINT:
		if (err == -ENOENT)
			usm_error("syscalls: this kernel has no raw_syscalls tracepoints "
				  "(CONFIG_FTRACE_SYSCALLS)");
		else if (err == -EACCES || err == -EPERM)
			usm_error("syscalls: cannot read the tracepoint ids in tracefs: needs root "
				  "(or tracefs mounted with a mode/gid that lets this user read)");
		else
			usm_error_errno(err, "syscalls: reading raw_syscalls in tracefs");
		break;
	case USM_SYSCALLS_STAGE_PERF:
		if (usm_features_probe(&f) < 0)
			f.perf_event_paranoid = -99;
		if (err == -EACCES || err == -EPERM)
			usm_error("syscalls: perf_event_open refused: tracepoint samples need "
				  "CAP_PERFMON or kernel.perf_event_paranoid <= -1 (it is %d), and "
				  "another user's process CAP_SYS_PTRACE",
				  f.perf_event_paranoid);
		else if (err == -ENOSYS)
			usm_error("syscalls: this kernel has no perf_event_open (CONFIG_PERF_EVENTS)");
		else if (err == -EMFILE)
			usm_error("syscalls: out of file descriptors (3 per thread and CPU): raise "
				  "ulimit -n");
		else
			usm_error_errno(err, "syscalls: perf_event_open on raw_syscalls");
		break;
	default:
		usm_error_errno(err, "syscalls");
	}
	return 1;
}

int cmd_syscalls(int argc, char **argv)
{
	enum { OPT_SHORT = 256, OPT_HOT, OPT_WINDOW, OPT_JSON, OPT_TARGETS, OPT_PERIOD, OPT_STACK };
	static const struct option options[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "short-gap", required_argument, NULL, OPT_SHORT },
		{ "hot-count", required_argument, NULL, OPT_HOT },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "stack-period", required_argument, NULL, OPT_PERIOD },
		{ "stack-size", required_argument, NULL, OPT_STACK },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "targets", no_argument, NULL, OPT_TARGETS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct usm_syscalls_config cfg;
	struct usm_syscalls_result res;
	enum usm_syscalls_stage stage;
	struct sigaction sa = { .sa_handler = on_signal };
	bool json = false, targets = false;
	struct row *rows;
	uint64_t v;
	int c, err;
	char *end;

	usm_syscalls_config_init(&cfg);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:hp:d:", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!parse_u64(optarg, 1, INT_MAX, &v))
				return cli_usage_error(argv[0], "invalid pid '%s'", optarg);
			cfg.pid = (pid_t)v;
			break;
		case 'd':
			errno = 0;
			cfg.duration_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(cfg.duration_s > 0) ||
			    cfg.duration_s > 1e6)
				return cli_usage_error(argv[0], "invalid duration '%s' (seconds > 0)",
						       optarg);
			break;
		case OPT_SHORT:
			if (!parse_u64(optarg, 1, 1000000000000ull, &cfg.short_gap_ns))
				return cli_usage_error(argv[0], "invalid --short-gap '%s' (ns > 0)",
						       optarg);
			break;
		case OPT_HOT:
			if (!parse_u64(optarg, 0, UINT32_MAX, &cfg.hot_count))
				return cli_usage_error(argv[0], "invalid --hot-count '%s'", optarg);
			break;
		case OPT_WINDOW:
			if (!parse_u64(optarg, 1, UINT32_MAX, &cfg.window))
				return cli_usage_error(argv[0], "invalid --window '%s' (> 0)", optarg);
			break;
		case OPT_PERIOD:
			if (!parse_u64(optarg, 1, UINT32_MAX, &v))
				return cli_usage_error(argv[0], "invalid --stack-period '%s' (> 0)",
						       optarg);
			cfg.stack_period = (unsigned)v;
			break;
		case OPT_STACK:
			/* the kernel takes a multiple of 8 below 64 KiB */
			if (!parse_u64(optarg, 8, 65528, &v) || v % 8)
				return cli_usage_error(argv[0],
						       "invalid --stack-size '%s' (8 to 65528, "
						       "a multiple of 8)", optarg);
			cfg.stack_bytes = (unsigned)v;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_TARGETS:
			targets = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_bad_option(argv[0], argv, c);
		}
	}
	if (optind < argc)
		cfg.argv = &argv[optind];
	if (cfg.pid && cfg.argv)
		return cli_usage_error(argv[0], "give -p PID or a command, not both");
	if (!cfg.pid && !cfg.argv)
		return cli_usage_error(argv[0], "give -p PID or a command to run");
	if (json && targets)
		return cli_usage_error(argv[0], "give --json or --targets, not both");

	err = usm_syscalls_open(&cfg, &session, &stage);
	if (err)
		return report_open_error(err, stage, &cfg);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	err = usm_syscalls_run(session, &res);
	usm_syscalls_close(session);
	session = NULL;
	if (err) {
		usm_error_errno(err, "syscalls: observing");
		return 1;
	}
	if (res.mounted_tracefs)
		fprintf(stderr, "usm: syscalls: mounted tracefs on /sys/kernel/tracing\n");
	if (res.lost)
		fprintf(stderr, "usm: syscalls: the kernel dropped %" PRIu64 " records (a busy "
				"CPU outran the reader): counts are low\n", res.lost);
	if (json) {
		print_json(&res, &cfg);
	} else if (targets) {
		print_targets(&res);
	} else {
		rows = calloc(res.nsites ? res.nsites : 1, sizeof(*rows));
		if (!rows) {
			usm_syscalls_result_free(&res);
			usm_error_errno(-ENOMEM, "syscalls");
			return 1;
		}
		printf("%.2f s, %" PRIu64 " syscalls, %" PRIu64 " windows, %" PRIu64
		       " lost; an empty syscall costs %" PRIu64 " ns here\n",
		       res.seconds, res.syscalls, res.windows, res.lost, res.entry_exit_ns);
		for (size_t i = 0; i < res.nsites; i++)
			fill_row(&rows[i], &res.sites[i], res.seconds);
		print_table(rows, res.nsites);
		free(rows);
	}
	usm_syscalls_result_free(&res);
	return 0;
}
