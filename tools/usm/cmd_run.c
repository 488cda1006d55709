/* usm run: runs a program with its anonymous memory paged by usm under a
 * budget. It checks that the program can be tagged, prepares the tagger's
 * settings in the environment, runs the program as its child, and reports
 * the pager's figures when it ends. CMD's exit status is usm run's. */
#include "builtin.h"
#include "run_summary.h"
#include "runtime_path.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <usm/pager.h>
#include <usm/usm.h>

#include "base/clock.h"
#include "base/page.h"
#include "policy/policy.h"
#include "proto/proto.h"
#include "store/store.h"

struct run_options {
	struct usm_pager_config pager;
	const char *stats_path;
	const char *socket;       /* --socket, else the default */
	bool no_daemon;
	uint32_t set_by_user;     /* USM_SET_*: options usmd's config must not override */
	bool quiet;
	unsigned replicas;        /* --replicas: folded into a memcached store's spec */
	bool replicas_given;
	char store_spec[4096];    /* the spec with replicas= added */
	char run_id[40];          /* USM_RUN_ID: names the run's keys in a shared store */
	const char *without;      /* --without, as given */
	char **cmd;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usm run [options] -- CMD [ARGS...]\n"
		"\n"
		"Runs CMD with its private anonymous memory (heap, mmap, thread stacks) faulted\n"
		"in, placed and evicted by usm under a budget, through userfaultfd. Each process\n"
		"of CMD's tree gets its own budget. When usmd runs, each process joins its pool\n"
		"and its budget is the share usmd grants (--limit then caps that share; usmd's\n"
		"config may choose policy and store, unless given here). At the end a summary\n"
		"goes to stderr.\n"
		"\n"
		"  -l, --limit SIZE        memory per process (e.g. 64M): its resident managed\n"
		"                          pages plus what usm keeps in memory for it (the mem\n"
		"                          store, usm's metadata); the default, none, pages\n"
		"                          without evicting\n"
		"  -p, --page-size SIZE    the largest block a fault fills, a multiple of 4K\n"
		"                          (default 64K); each region adapts its block between\n"
		"                          4K and SIZE to its faults\n"
		"      --fixed-page-size   every fault fills SIZE: no adapting\n"
		"      --prefetch N        blocks filled ahead on a sequential run (default 4, 0 = off)\n"
		"      --policy NAME       eviction policy: %s (default refault)\n"
		"      --store SPEC        where evicted pages go: %s (default mem: compressed in\n"
		"                          memory, past its share in a temporary file)\n"
		"      --store-max SIZE    cap on what the store holds (default none)\n"
		"      --store-share PCT   of the limit, the most a mem store keeps in memory\n"
		"                          before it writes to its file (default 25)\n"
		"      --replicas N        memcached store: keep each page on N more servers\n"
		"      --low-watermark PCT eviction, once started, goes down to PCT%% of the limit\n"
		"                          (default 90)\n"
		"      --batch N           pages evicted per round at most (default 256)\n"
		"      --spin US           after an event the pager polls for the next one up to\n"
		"                          US microseconds before it sleeps, adapting below that\n"
		"                          (default 50, 0 = never; never on one CPU)\n"
		"      --without LIST      kernel features to leave unused, as on an older kernel\n"
		"                          (to compare, or to test the fallbacks): %s\n"
		"      --stats FILE        write the summary as JSON to FILE\n"
		"      --socket PATH       the usmd to join (default: $USM_SOCKET, else\n"
		"                          /run/usm/usmd.sock for root, else\n"
		"                          $XDG_RUNTIME_DIR/usm/usmd.sock)\n"
		"      --no-daemon         page on this run's own budget even when usmd runs\n"
		"  -q, --quiet             no summary\n"
		"  -h, --help              show this help\n"
		"\n"
		"CMD must be dynamically linked and not set-uid. The exit status is CMD's, or\n"
		"128+N when signal N ended it.\n",
		usm_policy_kinds(), usm_store_kinds(), usm_pager_without_names());
}

/* --prefetch, --low-watermark, --batch and --spin are unsigned in the config. */
static int parse_count_option(const char *opt, const char *text, unsigned max, unsigned *out)
{
	uint64_t v;
	int rc = cli_parse_count("run", opt, text, max, &v);

	if (!rc)
		*out = (unsigned)v;
	return rc;
}

static int check_choices(struct run_options *o)
{
	struct usm_policy *policy;

	if (usm_policy_create(o->pager.policy, NULL, NULL, &policy) < 0)
		return cli_usage_error("run", "--policy: unknown policy '%s' (one of: %s)",
				       o->pager.policy, usm_policy_kinds());
	usm_policy_destroy(policy);
	if (o->replicas_given) {
		int n = snprintf(o->store_spec, sizeof(o->store_spec), "%s,replicas=%u",
				 o->pager.store, o->replicas);
		if (strncmp(o->pager.store, "memcached:", 10) || n < 0 ||
		    (size_t)n >= sizeof(o->store_spec))
			return cli_usage_error("run", "--replicas: only for a memcached: store");
		o->pager.store = o->store_spec;
	}
	if (!usm_store_spec_valid(o->pager.store))
		return cli_usage_error("run", "--store: %s", usm_store_spec_problem(o->pager.store));
	if (o->pager.fault_size < USM_PAGE_SIZE || o->pager.fault_size % USM_PAGE_SIZE ||
	    o->pager.fault_size > (64 << 20))
		return cli_usage_error("run", "--page-size: must be a multiple of 4K, at most 64M");
	if (o->pager.batch == 0)
		return cli_usage_error("run", "--batch: must be at least 1");
	if (o->pager.limit && o->pager.limit < o->pager.fault_size * (1 + o->pager.prefetch))
		return cli_usage_error("run", "--limit: must hold at least one fault's fill "
					      "(page size x (1 + prefetch))");
	return 0;
}

static int parse_options(int argc, char **argv, struct run_options *o)
{
	enum { OPT_PREFETCH = 256, OPT_POLICY, OPT_STORE, OPT_STORE_MAX, OPT_STORE_SHARE, OPT_LOW,
	       OPT_BATCH, OPT_STATS, OPT_SOCKET, OPT_NO_DAEMON, OPT_FIXED_PAGE_SIZE, OPT_REPLICAS,
	       OPT_WITHOUT, OPT_SPIN };
	static const struct option options[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "fixed-page-size", no_argument, NULL, OPT_FIXED_PAGE_SIZE },
		{ "prefetch", required_argument, NULL, OPT_PREFETCH },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "store-max", required_argument, NULL, OPT_STORE_MAX },
		{ "store-share", required_argument, NULL, OPT_STORE_SHARE },
		{ "replicas", required_argument, NULL, OPT_REPLICAS },
		{ "low-watermark", required_argument, NULL, OPT_LOW },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "spin", required_argument, NULL, OPT_SPIN },
		{ "stats", required_argument, NULL, OPT_STATS },
		{ "without", required_argument, NULL, OPT_WITHOUT },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "no-daemon", no_argument, NULL, OPT_NO_DAEMON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size;
	int c, rc = 0;

	usm_pager_config_defaults(&o->pager);
	cli_getopt_start();
	while (rc == 0 && (c = getopt_long(argc, argv, "+:l:p:qh", options, NULL)) != -1) {
		switch (c) {
		case 'l':
			rc = cli_parse_size("run", "--limit", optarg, &o->pager.limit);
			o->set_by_user |= USM_SET_LIMIT;
			break;
		case 'p':
			rc = cli_parse_size("run", "--page-size", optarg, &size);
			o->pager.fault_size = (size_t)size;
			break;
		case OPT_FIXED_PAGE_SIZE:
			o->pager.fixed_fault_size = true;
			break;
		case OPT_PREFETCH:
			rc = parse_count_option("--prefetch", optarg, 256, &o->pager.prefetch);
			break;
		case OPT_POLICY:
			o->pager.policy = optarg;
			o->set_by_user |= USM_SET_POLICY;
			break;
		case OPT_STORE:
			o->pager.store = optarg;
			o->set_by_user |= USM_SET_STORE;
			break;
		case OPT_STORE_MAX:
			rc = cli_parse_size("run", "--store-max", optarg, &o->pager.store_max);
			break;
		case OPT_STORE_SHARE:
			rc = parse_count_option("--store-share", optarg, 100, &o->pager.store_share_pct);
			if (!rc && o->pager.store_share_pct == 0)
				rc = cli_usage_error("run", "--store-share: must be 1 to 100 (%% of the limit)");
			break;
		case OPT_REPLICAS:
			rc = parse_count_option("--replicas", optarg, 63, &o->replicas);
			o->replicas_given = true;
			break;
		case OPT_LOW:
			rc = parse_count_option("--low-watermark", optarg, 100, &o->pager.low_pct);
			break;
		case OPT_BATCH:
			rc = parse_count_option("--batch", optarg, 65536, &o->pager.batch);
			break;
		case OPT_SPIN:
			rc = parse_count_option("--spin", optarg, 100000, &o->pager.spin_max_us);
			break;
		case OPT_STATS:
			o->stats_path = optarg;
			break;
		case OPT_WITHOUT:
			o->without = optarg;
			if (usm_pager_without_parse(optarg, &o->pager.without) < 0)
				rc = cli_usage_error("run", "--without: '%s' is not a list of: %s",
						     optarg, usm_pager_without_names());
			break;
		case OPT_SOCKET:
			o->socket = optarg;
			break;
		case OPT_NO_DAEMON:
			o->no_daemon = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			return cli_bad_option("run", argv, c);
		}
	}
	if (rc)
		return rc;
	if (optind >= argc)
		return cli_usage_error("run", "no command given (usm run [options] -- CMD [ARGS])");
	o->cmd = argv + optind;
	return check_choices(o);
}

/* A file execvp would run: executable and not a directory (PATH may hold
 * directories with a command's name, as /usr/lib/x86_64-linux-gnu/perl). */
static bool runnable(const char *path)
{
	struct stat st;

	return access(path, X_OK) == 0 && stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* CMD as execvp would find it. */
static int resolve(const char *cmd, char *out, size_t len)
{
	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) == 0 ? 0 : -errno;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		snprintf(out, len, "%.*s/%s", (int)n, n ? p : ".", cmd);
		if (runnable(out))
			return 0;
		p += n + (colon != NULL);
	}
	return -ENOENT;
}

/* A static binary has no dynamic loader to preload the tagger; a set-uid
 * one runs without LD_PRELOAD. Say so before starting it. */
static int check_taggable(const char *cmd, const char *path)
{
	struct stat st;
	Elf64_Ehdr eh;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool interp = false;

	if (fd < 0 || fstat(fd, &st) < 0) {
		usm_error_errno(-errno, "run: %s", cmd);
		return 1;
	}
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		usm_error("run: %s is set-%cid: it runs without LD_PRELOAD, so usm cannot manage it", cmd,
			  st.st_mode & S_ISUID ? 'u' : 'g');
		close(fd);
		return 1;
	}
	ssize_t n = pread(fd, &eh, sizeof(eh), 0);
	if (n >= 2 && !memcmp(&eh, "#!", 2)) {
		close(fd); /* a script: its interpreter is what gets tagged */
		return 0;
	}
	if (n != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64) {
		usm_error("run: %s is not a 64-bit ELF program or a script", cmd);
		close(fd);
		return 1;
	}
	for (unsigned i = 0; i < eh.e_phnum && !interp; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    sizeof(ph))
			break;
		interp = ph.p_type == PT_INTERP;
	}
	close(fd);
	if (!interp) {
		usm_error("run: %s is statically linked: the tagger can only be preloaded into "
			  "dynamically linked programs", cmd);
		return 1;
	}
	return 0;
}

static void set_env(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_env(const char *name, const char *fmt, ...)
{
	char value[PATH_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	setenv(name, value, 1);
}

/* The usmd socket this run joins, or "" for none: the default one when
 * something listens there, the one named by --socket always (a missing one
 * is an error). */
static int find_daemon(const struct run_options *o, char *out, size_t len)
{
	struct stat st;

	out[0] = '\0';
	if (o->no_daemon)
		return 0;
	if (o->socket) {
		if (stat(o->socket, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			usm_error("run: --socket: no usmd at %s", o->socket);
			return -1;
		}
		snprintf(out, len, "%s", o->socket);
		return 0;
	}
	if (usm_daemon_socket_path(out, len) < 0 || stat(out, &st) < 0 || !S_ISSOCK(st.st_mode))
		out[0] = '\0';
	return 0;
}

static void prepare_child_env(const struct run_options *o, const char *tagger, const char *dir,
			      const char *daemon)
{
	const char *preload = getenv("LD_PRELOAD");

	if (preload && *preload)
		set_env("LD_PRELOAD", "%s:%s", tagger, preload);
	else
		set_env("LD_PRELOAD", "%s", tagger);
	set_env("USM_LIMIT", "%" PRIu64, o->pager.limit);
	set_env("USM_FAULT_SIZE", "%zu", o->pager.fault_size);
	set_env("USM_FIXED_FAULT_SIZE", "%d", o->pager.fixed_fault_size);
	set_env("USM_PREFETCH", "%u", o->pager.prefetch);
	set_env("USM_LOW_PCT", "%u", o->pager.low_pct);
	set_env("USM_BATCH", "%u", o->pager.batch);
	set_env("USM_SPIN_US", "%u", o->pager.spin_max_us);
	set_env("USM_POLICY", "%s", o->pager.policy);
	set_env("USM_STORE", "%s", o->pager.store);
	set_env("USM_STORE_MAX", "%" PRIu64, o->pager.store_max);
	set_env("USM_STORE_SHARE", "%u", o->pager.store_share_pct);
	set_env("USM_STATS_DIR", "%s", dir);
	set_env("USM_RUN_ID", "%s", o->run_id);
	set_env("USM_WITHOUT", "%s", o->without ? o->without : "");
	if (*daemon) {
		set_env("USM_DAEMON", "%s", daemon);
		set_env("USM_SET", "%u", o->set_by_user);
	} else {
		unsetenv("USM_DAEMON");
	}
}

static void remove_dir(const char *dir)
{
	char path[PATH_MAX + 16];
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static int wait_child(pid_t pid, int *status)
{
	/* like system(3): the terminal's ^C and ^\ are for CMD */
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_int, old_quit;

	sigaction(SIGINT, &ignore, &old_int);
	sigaction(SIGQUIT, &ignore, &old_quit);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return 0;
}

/* The settings as usm run --stats writes them; json-c quotes the strings
 * (a store path may hold any byte). */
static json_object *settings_json(const struct run_options *o, const char *daemon)
{
	json_object *j = json_object_new_object();

#define PUT(k, v) json_object_object_add(j, k, v)
	PUT("limit", json_object_new_int64((int64_t)o->pager.limit));
	PUT("page_size", json_object_new_int64((int64_t)o->pager.fault_size));
	PUT("fixed_page_size", json_object_new_boolean(o->pager.fixed_fault_size));
	PUT("prefetch", json_object_new_int64(o->pager.prefetch));
	PUT("policy", json_object_new_string(o->pager.policy));
	PUT("store", json_object_new_string(o->pager.store));
	PUT("store_share_pct", json_object_new_int64(o->pager.store_share_pct));
	PUT("low_watermark_pct", json_object_new_int64(o->pager.low_pct));
	PUT("batch", json_object_new_int64(o->pager.batch));
	PUT("spin_us", json_object_new_int64(o->pager.spin_max_us));
	PUT("without", json_object_new_string(o->without ? o->without : ""));
	PUT("daemon", *daemon ? json_object_new_string(daemon) : NULL);
#undef PUT
	return j;
}

/* The processes that put pages in a store that outlives them and ended
 * without deleting them: the tagger's PID.START.store files left in dir. */
static unsigned count_store_markers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		n += len > 6 && !strcmp(e->d_name + len - 6, ".store");
	}
	if (d)
		closedir(d);
	return n;
}

/* A shared store outlives the run's processes: each deletes its own pages
 * at _exit (a stop by usm too), and what those that ended otherwise (a
 * kill, a crash, an exec with pages out) left there goes now. (usmd's own
 * store choice is the daemon's.) */
static void purge_store(const struct run_options *o, const char *dir)
{
	char why[512];
	unsigned left = count_store_markers(dir);
	long n;

	if (left == 0)
		return;
	n = usm_store_purge_run(o->pager.store, o->run_id, why, sizeof(why));
	if (n == -ENOTSUP)
		usm_error("run: %u process%s ended without deleting %s pages from the store "
			  "(killed, crashed or replaced by an exec), and they cannot be found: %s; "
			  "they stay on the servers until those restart",
			  left, left == 1 ? "" : "es", left == 1 ? "its" : "their", why);
	else if (n < 0)
		usm_error("run: cannot delete the run's pages from the store: %s", why);
}

int cmd_run(int argc, char **argv)
{
	struct run_options o = { 0 };
	struct usm_features f;
	struct run_summary summary;
	char path[PATH_MAX], tagger[PATH_MAX], dir[] = "/tmp/usm-run.XXXXXX";
	char daemon[PATH_MAX], why[512];
	int rc, status = 0, exit_status, sig = 0;
	pid_t pid;

	rc = parse_options(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (resolve(o.cmd[0], path, sizeof(path)) < 0) {
		usm_error("run: %s: command not found", o.cmd[0]);
		return 127;
	}
	if (check_taggable(o.cmd[0], path))
		return 1;
	if (!runtime_path(RUNTIME_TAGGER, tagger, sizeof(tagger))) {
		usm_error("run: libusm-tagger.so not found next to usm (set USM_TAGGER=PATH)");
		return 1;
	}
	usm_features_probe(&f);
	if (!f.uffd_kernel_faults) {
		usm_error("run: this user cannot have faults inside system calls delivered to "
			  "userfaultfd: run as root, or give it access to /dev/userfaultfd "
			  "(see 'usm features')");
		return 1;
	}
	if (usm_store_check_access(o.pager.store, why, sizeof(why)) < 0) {
		/* before CMD starts: its processes would each stop on it */
		usm_error("run: --store: %s", why);
		return 1;
	}
	if (find_daemon(&o, daemon, sizeof(daemon)) < 0)
		return 1;
	if (!mkdtemp(dir)) {
		usm_error_errno(-errno, "run: cannot make a directory for the figures");
		return 1;
	}

	snprintf(o.run_id, sizeof(o.run_id), "%x-%" PRIx64, (unsigned)getpid(), usm_now_ns());
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		usm_error_errno(-errno, "run: fork");
		remove_dir(dir);
		return 1;
	}
	if (pid == 0) {
		prepare_child_env(&o, tagger, dir, daemon);
		execv(path, o.cmd);
		usm_error_errno(-errno, "run: %s", o.cmd[0]);
		_exit(127);
	}
	if (wait_child(pid, &status) < 0) {
		usm_error_errno(-errno, "run: waiting for %s", o.cmd[0]);
		return 1;
	}
	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		exit_status = 128 + sig;
		usm_error("run: %s: %s%s", o.cmd[0], strsignal(sig),
			  WCOREDUMP(status) ? " (core dumped)" : "");
	} else {
		exit_status = WEXITSTATUS(status);
	}

	purge_store(&o, dir);
	run_summary_read(dir, pid, &summary);
	if (!o.quiet)
		run_summary_print(stderr, &summary);
	if (o.stats_path) {
		if (run_summary_write_json(o.stats_path, &summary, settings_json(&o, daemon),
					   exit_status, sig) < 0) {
			usm_error("run: cannot write %s", o.stats_path);
			if (!exit_status)
				exit_status = 1;
		}
	}
	remove_dir(dir);
	return exit_status;
}
