/* usm syscalls: the hot syscall sites of a running program or of a command,
 * by Userspace Bypass's rule, as a table, JSON, or the reference's targets[]. */
#include "builtin.h"
#include "table.h"
#include "tracing_error.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		"      --duty PCT        observe PCT%% of the time, whole windows at a time,\n"
		"                        default %d (100: all of it; see docs/syscalls.md)\n"
		"      --stack-period N  unwind a user stack every Nth syscall, default 499\n"
		"      --stack-size B    bytes of user stack per sample, default 2048\n"
		"      --json            one JSON object instead of the table\n"
		"      --targets         the hot sites as addresses for the reference's targets[]\n"
		"  -h, --help            show this help\n",
		USM_SYSCALLS_SHORT_GAP_NS, USM_SYSCALLS_HOT_COUNT, USM_SYSCALLS_WINDOW,
		USM_SYSCALLS_DUTY);
}

enum { OPT_SHORT = 256, OPT_HOT, OPT_WINDOW, OPT_JSON, OPT_TARGETS, OPT_PERIOD, OPT_STACK,
       OPT_DUTY };

static struct usm_syscalls *session;

static void on_signal(int sig)
{
	(void)sig;
	if (session)
		usm_syscalls_stop(session);
}

/* A site's syscall names, its number where the table has no name. */
static size_t syscall_names(const struct usm_syscalls_site *s, char names[][16],
			    const char **v)
{
	size_t n = 0;

	for (unsigned i = 0; i < s->nnrs; i++, n++) {
		const char *name = usm_syscall_name(s->nrs[i]);

		if (name)
			snprintf(names[n], sizeof(names[n]), "%s", name);
		else
			snprintf(names[n], sizeof(names[n]), "%d", s->nrs[i]);
		v[n] = names[n];
	}
	if (s->more_nrs)
		v[n++] = "...";
	return n;
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

/* A site's callers, nested in its JSON row. */
static const struct table_col caller_cols[] = {
	{ .key = "addr", .type = TABLE_HEX },
	{ .key = "samples", .type = TABLE_UINT },
	{ .key = "function", .type = TABLE_STR },
	{ .key = "function_offset", .type = TABLE_UINT },
	{ .key = "module", .type = TABLE_STR },
	{ .key = "module_offset", .type = TABLE_UINT },
	{ .key = "file", .type = TABLE_STR },
	{ .key = "line", .type = TABLE_INT },
};

/* The sites: JSON in this order, the text in site_text's. */
enum { S_HOT, S_PID, S_SYSCALLS, S_MORE, S_ADDR, S_RETURN, S_MODULE, S_MODULE_OFF,
       S_FUNCTION, S_FUNCTION_OFF, S_COUNT, S_RATE, S_KERN_N, S_KERN_MEAN, S_KERN_P50,
       S_KERN_P99, S_GAP_N, S_GAP_MEAN, S_GAP_P50, S_GAP_P90, S_GAP_P99, S_SHORT,
       S_HOT_WINDOWS, S_STACKS, S_STACKS_FAILED, S_CALLERS, S_SITE, S_CALLER };
static const struct table_col site_cols[] = {
	[S_HOT] = { .key = "hot", .head = "hot", .type = TABLE_BOOL, .width = -4 },
	[S_PID] = { .key = "pid", .head = "pid", .type = TABLE_INT, .width = 7 },
	[S_SYSCALLS] = { .key = "syscalls", .head = "syscall", .type = TABLE_STR_LIST,
			 .width = -14 },
	[S_MORE] = { .key = "more_syscalls", .type = TABLE_BOOL, .flags = TABLE_JSON_ONLY },
	[S_ADDR] = { .key = "addr", .type = TABLE_HEX, .flags = TABLE_JSON_ONLY },
	[S_RETURN] = { .key = "return_addr", .type = TABLE_HEX, .flags = TABLE_JSON_ONLY },
	[S_MODULE] = { .key = "module", .type = TABLE_STR, .flags = TABLE_JSON_ONLY },
	[S_MODULE_OFF] = { .key = "module_offset", .type = TABLE_UINT, .flags = TABLE_JSON_ONLY },
	[S_FUNCTION] = { .key = "function", .type = TABLE_STR, .flags = TABLE_JSON_ONLY },
	[S_FUNCTION_OFF] = { .key = "function_offset", .type = TABLE_UINT,
			     .flags = TABLE_JSON_ONLY },
	[S_COUNT] = { .key = "count", .head = "calls", .type = TABLE_UINT, .width = 10 },
	[S_RATE] = { .key = "rate", .head = "rate/s", .type = TABLE_DOUBLE, .width = 9 },
	[S_KERN_N] = { .key = "kernel_n", .type = TABLE_UINT, .flags = TABLE_JSON_ONLY },
	[S_KERN_MEAN] = { .key = "kernel_ns_mean", .head = "kernel", .type = TABLE_NS,
			  .width = 8, .decimals = 2 },
	[S_KERN_P50] = { .key = "kernel_ns_p50", .type = TABLE_NS, .flags = TABLE_JSON_ONLY },
	[S_KERN_P99] = { .key = "kernel_ns_p99", .head = "kern_p99", .type = TABLE_NS,
			 .width = 8, .decimals = 2 },
	[S_GAP_N] = { .key = "gap_n", .type = TABLE_UINT, .flags = TABLE_JSON_ONLY },
	[S_GAP_MEAN] = { .key = "gap_ns_mean", .type = TABLE_NS, .flags = TABLE_JSON_ONLY },
	[S_GAP_P50] = { .key = "gap_ns_p50", .head = "gap_p50", .type = TABLE_NS, .width = 8,
			.decimals = 2 },
	[S_GAP_P90] = { .key = "gap_ns_p90", .type = TABLE_NS, .flags = TABLE_JSON_ONLY },
	[S_GAP_P99] = { .key = "gap_ns_p99", .head = "gap_p99", .type = TABLE_NS, .width = 8,
			.decimals = 2 },
	[S_SHORT] = { .key = "short", .head = "short", .type = TABLE_UINT, .width = 9 },
	[S_HOT_WINDOWS] = { .key = "hot_windows", .type = TABLE_UINT, .flags = TABLE_JSON_ONLY },
	[S_STACKS] = { .key = "stack_samples", .type = TABLE_UINT, .flags = TABLE_JSON_ONLY },
	[S_STACKS_FAILED] = { .key = "stack_failed", .type = TABLE_UINT,
			      .flags = TABLE_JSON_ONLY },
	[S_CALLERS] = { .key = "callers", .type = TABLE_JSON, .flags = TABLE_JSON_ONLY },
	[S_SITE] = { .head = "site", .type = TABLE_STR, .width = -40, .flags = TABLE_TEXT_ONLY },
	[S_CALLER] = { .head = "caller", .type = TABLE_STR, .zero = "-",
		       .flags = TABLE_TEXT_ONLY },
};

static const size_t site_text[] = { S_HOT, S_PID, S_COUNT, S_RATE, S_SYSCALLS, S_KERN_MEAN,
				    S_KERN_P99, S_GAP_P50, S_GAP_P99, S_SHORT, S_SITE, S_CALLER };

static json_object *callers_json(const struct usm_syscalls_site *s)
{
	struct table t;
	json_object *rows;

	table_init(&t, TABLE_COLS(caller_cols));
	for (size_t k = 0; k < s->ncallers; k++) {
		const struct usm_syscalls_caller *c = &s->callers[k];

		table_row(&t);
		table_add_uint(&t, c->addr);
		table_add_uint(&t, c->samples);
		table_add_str(&t, c->function);
		table_add_uint(&t, c->function_offset);
		table_add_str(&t, c->module);
		table_add_uint(&t, c->module_offset);
		table_add_str(&t, c->file);
		table_add_int(&t, c->line);
	}
	rows = table_json_rows(&t);
	table_free(&t);
	return rows;
}

/* The most sampled caller as the text shows it, "" when none. */
static void caller_text(const struct usm_syscalls_site *s, char *buf, size_t len)
{
	const struct usm_syscalls_caller *c = &s->callers[0];
	char where[96] = "";

	buf[0] = 0;
	if (!s->ncallers)
		return;
	if (c->file)
		snprintf(where, sizeof(where), " %s:%d", base_name(c->file), c->line);
	place(buf, len - sizeof(where), c->addr, c->function, c->function_offset, c->module,
	      c->module_offset);
	strcat(buf, where);
}

static uint64_t mean(uint64_t sum, uint64_t n)
{
	return n ? sum / n : 0;
}

static void add_site(struct table *t, const struct usm_syscalls_site *s, double seconds)
{
	char names[USM_SYSCALLS_MAX_NRS][16], text[200];
	const char *v[USM_SYSCALLS_MAX_NRS + 1];
	size_t n = syscall_names(s, names, v);

	table_row(t);
	table_add_uint(t, s->hot);
	table_add_int(t, s->pid);
	table_add_strs(t, v, n);
	table_add_uint(t, s->more_nrs);
	table_add_uint(t, s->addr);
	table_add_uint(t, s->addr + 2);
	table_add_str(t, s->module);
	table_add_uint(t, s->module_offset);
	table_add_str(t, s->function);
	table_add_uint(t, s->function_offset);
	table_add_uint(t, s->count);
	table_add_double(t, seconds > 0 ? (double)s->count / seconds : 0);
	table_add_uint(t, s->kernel_n);
	table_add_uint(t, mean(s->kernel_ns_sum, s->kernel_n));
	table_add_uint(t, s->kernel_ns_p50);
	table_add_uint(t, s->kernel_ns_p99);
	table_add_uint(t, s->gap_n);
	table_add_uint(t, mean(s->gap_ns_sum, s->gap_n));
	table_add_uint(t, s->gap_ns_p50);
	table_add_uint(t, s->gap_ns_p90);
	table_add_uint(t, s->gap_ns_p99);
	table_add_uint(t, s->short_count);
	table_add_uint(t, s->hot_windows);
	table_add_uint(t, s->stack_samples);
	table_add_uint(t, s->stack_failed);
	table_add_json(t, callers_json(s));
	place(text, sizeof(text), s->addr, s->function, s->function_offset, s->module,
	      s->module_offset);
	table_add_str(t, text);
	caller_text(s, text, sizeof(text));
	table_add_str(t, text);
}

static int print_json(const struct usm_syscalls_result *res, const struct usm_syscalls_config *cfg,
		      const struct table *sites)
{
	json_object *root = json_object_new_object(), *rule = json_object_new_object();

	if (!root || !rule) {
		json_object_put(root);
		json_object_put(rule);
		return -ENOMEM;
	}
	json_object_object_add(root, "seconds", json_object_new_double(res->seconds));
	json_object_object_add(root, "observed_seconds",
			       json_object_new_double(res->observed_seconds));
	json_object_object_add(root, "phases", json_object_new_uint64(res->phases));
	json_object_object_add(root, "syscalls", json_object_new_uint64(res->syscalls));
	json_object_object_add(root, "lost", json_object_new_uint64(res->lost));
	json_object_object_add(root, "windows", json_object_new_uint64(res->windows));
	json_object_object_add(root, "entry_exit_ns", json_object_new_uint64(res->entry_exit_ns));
	json_object_object_add(rule, "short_gap_ns", json_object_new_uint64(cfg->short_gap_ns));
	json_object_object_add(rule, "hot_count", json_object_new_uint64(cfg->hot_count));
	json_object_object_add(rule, "window", json_object_new_uint64(cfg->window));
	json_object_object_add(rule, "duty_percent", json_object_new_uint64(cfg->duty));
	json_object_object_add(root, "rule", rule);
	json_object_object_add(root, "sites", table_json_rows(sites));
	return table_json_print(root, stdout, false);
}

static int print_text(const struct usm_syscalls_result *res, const struct usm_syscalls_config *cfg,
		      const struct table *sites)
{
	printf("%.2f s", res->seconds);
	if (cfg->duty < 100)
		printf(" (%.2f s observed in %" PRIu64 " phases, --duty %u: calls and short "
		       "gaps are the observed ones, rates per observed second)",
		       res->observed_seconds, res->phases, cfg->duty);
	printf(", %" PRIu64 " syscalls, %" PRIu64 " windows, %" PRIu64
	       " lost; an empty syscall costs %" PRIu64 " ns here\n",
	       res->syscalls, res->windows, res->lost, res->entry_exit_ns);
	return table_print_text(sites, stdout, true);
}

/* The reference's daemon matches the user return address of a syscall
 * (what strace -i prints): the instruction after the syscall. */
static void print_targets(const struct usm_syscalls_result *res)
{
	printf("/* hot syscall sites: return address in this run, object+offset */\n");
	for (size_t i = 0; i < res->nsites; i++) {
		const struct usm_syscalls_site *s = &res->sites[i];
		char names[USM_SYSCALLS_MAX_NRS][16], list[96] = "";
		const char *v[USM_SYSCALLS_MAX_NRS + 1];
		size_t n;

		if (!s->hot)
			continue;
		n = syscall_names(s, names, v);
		for (size_t k = 0; k < n; k++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 k ? "," : "", v[k]);
		printf("0x%" PRIx64 ", /* pid %d %s %s+0x%" PRIx64 " */\n", s->addr + 2, (int)s->pid,
		       list, s->module ? s->module : "?", s->module_offset + 2);
	}
}

static int report_open_error(int err, enum usm_syscalls_stage stage,
			     const struct usm_syscalls_config *cfg)
{
	switch (stage) {
	case USM_SYSCALLS_STAGE_PID:
		usm_error("syscalls: no process %d", (int)cfg->pid);
		break;
	case USM_SYSCALLS_STAGE_EXEC:
		usm_error_errno(err, "syscalls: cannot run '%s'", cfg->argv[0]);
		break;
	case USM_SYSCALLS_STAGE_TRACEFS:
		return tracing_error("syscalls", TRACING_TRACEFS, err, "raw_syscalls", NULL, NULL);
	case USM_SYSCALLS_STAGE_TRACEPOINT:
		return tracing_error("syscalls", TRACING_TRACEPOINT, err, "raw_syscalls",
				     "CONFIG_FTRACE_SYSCALLS", NULL);
	case USM_SYSCALLS_STAGE_PERF:
		return tracing_error("syscalls", TRACING_PERF, err, "raw_syscalls", NULL, "3");
	default:
		usm_error_errno(err, "syscalls");
	}
	return 1;
}

/* The options with values; 0 on success, else the usage error's status. */
static int parse_option(int c, const char *cmd, struct usm_syscalls_config *cfg)
{
	uint64_t v;
	int rc;

	switch (c) {
	case 'p':
		return cli_parse_pid(cmd, "-p", optarg, &cfg->pid);
	case 'd':
		return cli_parse_seconds(cmd, "--duration", optarg, 1e6, &cfg->duration_s);
	case OPT_SHORT:
		return cli_parse_range(cmd, "--short-gap", optarg, 1, 1000000000000ull,
				       &cfg->short_gap_ns);
	case OPT_HOT:
		return cli_parse_count(cmd, "--hot-count", optarg, UINT32_MAX, &cfg->hot_count);
	case OPT_WINDOW:
		return cli_parse_range(cmd, "--window", optarg, 1, UINT32_MAX, &cfg->window);
	case OPT_DUTY:
		rc = cli_parse_range(cmd, "--duty", optarg, 1, 100, &v);
		cfg->duty = (unsigned)v;
		return rc;
	case OPT_PERIOD:
		rc = cli_parse_range(cmd, "--stack-period", optarg, 1, UINT32_MAX, &v);
		cfg->stack_period = (unsigned)v;
		return rc;
	case OPT_STACK:
		/* the kernel takes a multiple of 8 below 64 KiB */
		if ((rc = cli_parse_size(cmd, "--stack-size", optarg, &v)))
			return rc;
		if (v < 8 || v > 65528 || v % 8)
			return cli_usage_error(cmd, "--stack-size: '%s' is not a multiple of 8 "
					       "from 8 to 65528", optarg);
		cfg->stack_bytes = (unsigned)v;
		return 0;
	}
	return 2;
}

int cmd_syscalls(int argc, char **argv)
{
	static const struct option options[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "short-gap", required_argument, NULL, OPT_SHORT },
		{ "hot-count", required_argument, NULL, OPT_HOT },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "duty", required_argument, NULL, OPT_DUTY },
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
	struct table sites;
	int c, err;

	usm_syscalls_config_init(&cfg);
	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:hp:d:", options, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'd':
		case OPT_SHORT:
		case OPT_HOT:
		case OPT_WINDOW:
		case OPT_DUTY:
		case OPT_PERIOD:
		case OPT_STACK:
			if ((err = parse_option(c, argv[0], &cfg)))
				return err;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_TARGETS:
			targets = true;
			break;
		default:
			return cli_option_end(argv[0], argv, c, usage);
		}
	}
	/* what is left is the command to run (no cli_no_arguments_left) */
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
	if (targets) {
		print_targets(&res);
		usm_syscalls_result_free(&res);
		return 0;
	}
	table_init(&sites, TABLE_COLS(site_cols));
	table_text_order(&sites, TABLE_COLS(site_text));
	for (size_t i = 0; i < res.nsites; i++)
		add_site(&sites, &res.sites[i], res.observed_seconds);
	err = json ? print_json(&res, &cfg, &sites) : print_text(&res, &cfg, &sites);
	table_free(&sites);
	usm_syscalls_result_free(&res);
	if (err) {
		usm_error_errno(err, "syscalls");
		return 1;
	}
	return 0;
}
